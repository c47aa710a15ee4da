"""The map tab: basemap choice, the full-width map, the ranked table and the selection.

Offline: the map's JavaScript and CSS are served from ``static/vendor/`` (see
:mod:`hotspots.offline`), and by default the map has no basemap, so the page makes no outside
request. The ``HOTSPOTS_TILES`` environment variable sets another default (``none``,
``openstreetmap`` or an internal tile server's XYZ URL template; ``HOTSPOTS_TILES_ATTRIBUTION``
sets the attribution of a custom server), and the sidebar lets the user opt in per session.

Layers that change with the selection, the plan or the change-over-time toggle are drawn beside
the map (``feature_group_to_add``): a change to the map itself remounts the component and loses
the user's pan and zoom.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from textwrap import dedent
from typing import Any

import pandas as pd
import streamlit as st

from hotspots import HotspotsError, ParameterError, mapping, offline
from hotspots.detect import HotspotResult
from hotspots_app import detail, detection
from hotspots_app.common import (
    LOG,
    cache_resource,
    guide_step,
    keep_selection_valid,
    md,
    recall,
    refresh_table,
    remember,
    restore,
    select,
    selected,
    selection_box,
    stop_search_notice,
)
from hotspots_app.plan import Bundle

TILES_CHOICES = {
    "none": "None (no basemap, no outside requests)",
    "openstreetmap": "OpenStreetMap (asks tile.openstreetmap.org for the area viewed)",
    "custom": "Internal tile server",
}
TABLE_COLUMNS = {
    "rank": "Rank",
    "hotspot_id": "Hot spot",
    "incidents": "Incidents",
    "share": "Share",
    "harm": "Harm",
    "area_ha": "Area (ha)",
    "intensity": "Per km²",
    "pai": "PAI",
    "significant": "Significant",
    "temporal_class": "Pattern",
    "trend": "Trend",
    "peak_window": "Peak window",
}
MAP_HEIGHT = 600
#: The layer toggles' defaults (kept across tabs, see hotspots_app.common.remember).
LAYER_DEFAULTS = {"show_patrol_areas": True, "show_emerging": False, "show_change": False}


# ------------------------------------------------------------------------------ sidebar
def tiles_from_env() -> tuple[str, str]:
    """The basemap setting from ``HOTSPOTS_TILES``: (choice, custom URL)."""
    raw = os.environ.get("HOTSPOTS_TILES", "none")
    try:
        value = mapping.resolve_tiles(raw)
    except HotspotsError:
        LOG.warning("Ignoring HOTSPOTS_TILES=%r: not 'none', 'openstreetmap' or a tile URL.", raw)
        return "none", ""
    if value in ("openstreetmap", "none"):
        return value, ""
    return "custom", value


def sidebar_basemap() -> tuple[str, str | None]:
    """The basemap radio: (tiles for :func:`hotspots.mapping.build_map`, attribution)."""
    st.sidebar.header("5. Basemap")
    env_choice, env_url = tiles_from_env()
    choice = st.sidebar.radio(
        "Basemap",
        list(TILES_CHOICES),
        index=list(TILES_CHOICES).index(env_choice),
        format_func=TILES_CHOICES.get,
        key="tiles_choice",
    )
    attribution = os.environ.get("HOTSPOTS_TILES_ATTRIBUTION") or None
    if choice == "openstreetmap":
        st.sidebar.caption(
            "Map tiles come from tile.openstreetmap.org: each tile request tells OpenStreetMap "
            "which area you are viewing. Choose *None* or an internal tile server to avoid this."
        )
        return "openstreetmap", None
    if choice == "none":
        st.sidebar.caption(
            "No basemap: the page makes no outside request. Choose OpenStreetMap or your force's "
            "internal tile server to see streets."
        )
        return "none", None
    url = st.sidebar.text_input(
        "Tile URL template",
        value=env_url,
        key="tiles_url",
        placeholder="https://tiles.force.internal/{z}/{x}/{y}.png",
    )
    if not url:
        st.sidebar.caption("Enter a URL template with {z}, {x} and {y}; no basemap until then.")
        return "none", None
    return mapping.resolve_tiles(url), attribution


def patrol_areas_on() -> bool:
    """Whether the map's patrol areas layer is switched on (kept across tabs)."""
    key = "show_patrol_areas"
    return bool(st.session_state.get(key, recall(key, LAYER_DEFAULTS[key])))


# ---------------------------------------------------------------------------- selection
def sync_selection(ranked: Any, patrol_areas: Any = None) -> None:
    """A map click or a table row -> the selected hot spot (:func:`hotspots_app.common.select`).

    The table cannot be told its selection after it exists, so a map click gives the table a new
    key (``table_nonce``) and it is recreated with the clicked row selected.
    """
    ss = st.session_state
    ids = [str(i) for i in ranked["hotspot_id"]] if len(ranked) else []
    table_state = ss.get(f"table_{ss.get('table_nonce', 0)}")
    if table_state is not None:
        rows = list(table_state["selection"]["rows"])
        if rows != ss.get("_seen_rows") and rows and rows[0] < len(ids):
            select(ids[rows[0]])
        ss["_seen_rows"] = rows
    map_state = ss.get("map") or {}
    click = map_state.get("last_object_clicked") if isinstance(map_state, dict) else None
    if click and click != ss.get("_seen_click"):
        ss["_seen_click"] = click
        hit = mapping.hotspot_at(
            ranked, click.get("lat"), click.get("lng"), patrol_areas=patrol_areas
        )
        if hit and hit in ids and hit != selected():
            select(hit)
            refresh_table(ids)
    if selected() not in ids:
        keep_selection_valid(ids)
        ss["_seen_rows"] = [0] if ids else []


# ------------------------------------------------------------------------------ the map
def map_caption(has_contours: bool) -> str:
    """The line under the map; the density contours named only when the map has them (a kernel
    density run: the other methods draw no surface, so their layer box has no such layer)."""
    text = (
        "Darker = higher rank; blue outline = selected. Click a hot spot to select it. Blue heat: "
        "all incidents."
    )
    if has_contours:
        text += " Density contours (KDE) can be switched on in the layer box."
    return text


def show_map(
    result: HotspotResult,
    tiles: str,
    attribution: str | None,
    plan_layer: Any = None,
    emerging: Callable[[], tuple[Any, str | None]] | None = None,
    plan_pending: bool = False,
    change: Callable[[], tuple[Any, str | None]] | None = None,
) -> None:
    """The map at the width of the page, with its layer toggles and legend.

    ``emerging`` gives the classified cells and a note (called only when their layer is on);
    ``change`` the cells of the comparison of two periods and a note (likewise);
    ``plan_pending``: the plan is not made yet, its patrol areas are drawn once it is.
    """
    restore(LAYER_DEFAULTS)
    left, right, third = st.columns(3)
    show_areas = (plan_layer is not None or plan_pending) and left.toggle(
        "Show patrol areas",
        key="show_patrol_areas",
        on_change=remember,
        args=("show_patrol_areas",),
        help="The patrol areas of the plan (tab *Patrol plan*): blue = planned, grey dashed = "
        "left out for capacity.",
    )
    show_emerging = emerging is not None and right.toggle(
        "Persistent / emerging cells",
        key="show_emerging",
        on_change=remember,
        args=("show_emerging",),
        help="The grid cells classified under *Change over time*, coloured by pattern.",
    )
    show_change = change is not None and third.toggle(
        "Cells that rose / fell",
        key="show_change",
        on_change=remember,
        args=("show_change",),
        help="The 150 m cells that rose or fell more than the area as a whole between two "
        "periods (*Change over time*, *Between two periods*); the other cells tested faint.",
    )
    with st.spinner("Drawing the map..."):
        drawn = drawn_map(result)
        cells, note = emerging() if show_emerging and emerging is not None else (None, None)
        changed, change_note = change() if show_change and change is not None else (None, None)
        change_drawn = change_layer(changed) if changed is not None else (None, 0)
        layers = [
            layer
            for layer in (
                mapping.basemap_layer(tiles, attribution),
                plan_layer if show_areas else None,
                emerging_layer(cells) if cells is not None and len(cells) else None,
                change_drawn[0],
                selection_layer(result, selected()),
            )
            if layer is not None
        ]
    show_drawn(
        drawn,
        key="map",
        height=MAP_HEIGHT,
        width="stretch",
        returned_objects=["last_object_clicked"],
        feature_group_to_add=layers or None,
    )
    st.caption(map_caption(bool(detection.contours(result))))
    if show_areas and plan_pending:
        st.caption("Placing the patrol areas: they are drawn on the map in a moment.")
    if show_emerging:
        if cells is not None and len(cells):
            present = [c for c in mapping.EMERGING_COLOURS if c in set(cells["category"])]
            legend = ", ".join(f"{mapping.EMERGING_COLOURS[c][1]} = {c}" for c in present)
            st.caption(f"Persistent / emerging cells: {md(legend)}.")
        else:
            st.caption(md(note or "No persistent or emerging cells with these settings."))
    if show_change:
        st.caption(md(change_caption(changed, change_drawn[1], change_note)))


def _cells(n: int) -> str:
    return f"{n:,} cell" + ("" if n == 1 else "s")


def change_caption(cells: Any, drawn: int, note: str | None = None) -> str:
    """The line under the map for the cells that rose or fell between two periods: the colours,
    the counts, and how many of the tested cells the map draws."""
    if cells is None:
        return note or "No change between two periods to show."
    labels = cells["change_class"].astype(str)
    tested = int(cells["tested"].sum())
    rose, fell = int((labels == "rose").sum()), int((labels == "fell").sum())
    colours = mapping.CHANGE_COLOURS
    text = (
        f"Between two periods: {colours['rose'][1]} = rose ({_cells(rose)}), "
        f"{colours['fell'][1]} = fell ({_cells(fell)}), faint grey = tested, no clear change "
        f"({_cells(tested - rose - fell)})"
    )
    if drawn < tested:
        text += (
            f"; the map draws {drawn:,} of the {tested:,} tested cells (its size limit: the "
            "cells that rose or fell first, then those closest to a clear change)"
        )
    return text + ". Hover over a cell for its counts; the split is set in *Change over time*."


#: The d3 scripts streamlit-folium puts first for a branca colour map (none of ours has one).
D3_SCRIPTS = (
    "https://d3js.org/d3.v4.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js",
)


@dataclass(frozen=True)
class DrawnMap:
    """What streamlit-folium sends for a map, less its extra layers: read-only text, shared.

    ``script`` (the map's Leaflet code), ``header``, ``html``, ``map_id``, ``css`` and ``js``
    (asset links) are :func:`streamlit_folium.st_folium`'s arguments for its component, computed
    as it computes them (its streamlit-folium version is pinned). Not the map's bounds: the
    component returns them only when asked (:func:`show_drawn` is not), and finding them walks
    every coordinate of the map in Python (0.3 s at 100,000 incidents).
    """

    script: str
    header: str
    html: str
    map_id: str
    css: tuple[str, ...]
    js: tuple[str, ...]


@cache_resource(max_entries=8)
def drawn_map(result: HotspotResult) -> DrawnMap:
    """The map of a detection run (:func:`hotspots.mapping.build_map`, local assets), drawn once.

    Building and rendering the map is most of a rerun's time at a million incidents (about 1.5 s),
    and it changes only with the run: the basemap (:func:`hotspots.mapping.basemap_layer`), the
    selection, the patrol areas and the persistent / emerging cells are layers added beside it
    (:func:`show_drawn`), so changing any of them neither redraws nor remounts the map.
    """
    ranked = result.hotspots
    m = mapping.build_map(
        ranked,
        result.incidents,
        surface_polygons=_series(detection.contours(result), ranked.crs),
        tiles="none",
    )
    offline.localize(m)
    return draw(m)


def draw(m: Any) -> DrawnMap:
    """What :func:`streamlit_folium.st_folium` sends for a map (a built map, assets localised).

    Parameters
    ----------
    m : folium.Map
        Rendered here, and renamed (``map_div``) as streamlit-folium renames it: not for reuse.

    Returns
    -------
    DrawnMap
        For :func:`show_drawn`, with the layers of each run.
    """
    import branca
    import streamlit_folium as sf

    # What st_folium's two full renders (the figure, then the map again) leave for the header,
    # the body and the scripts read below, without building the page's script section it never
    # reads: most of the drawing time (Kent's 17,100 incidents: 0.14 -> 0.01 CPU s).
    mapping.render_without_scripts(m.get_root())
    html, header = sf._get_html(m), sf._get_header(m)  # before the script: it alters the map
    script = sf._get_map_string(m)
    css: dict[str, None] = {}
    js: dict[str, None] = {}
    for element in _walk(m):
        if isinstance(element, branca.colormap.ColorMap):  # streamlit-folium adds d3 first
            js = {D3_SCRIPTS[0]: None, D3_SCRIPTS[1]: None, **js}
        css.update(dict.fromkeys(href for _, href in getattr(element, "default_css", [])))
        js.update(dict.fromkeys(src for _, src in getattr(element, "default_js", [])))
    return DrawnMap(script, header, html, sf.get_full_id(m), tuple(css), tuple(js))


def _walk(element: Any) -> Any:
    """The elements whose assets streamlit-folium collects (its ``walk``)."""
    import branca
    import folium.elements

    if isinstance(element, branca.colormap.ColorMap | folium.elements.JSCSSMixin):
        yield element
    for child in getattr(element, "_children", {}).values():
        yield from _walk(child)


def show_drawn(
    drawn: DrawnMap,
    *,
    key: str,
    height: int,
    width: str,
    returned_objects: list[str],
    feature_group_to_add: list[Any] | None = None,
) -> Any:
    """:func:`streamlit_folium.st_folium` for a map drawn by :func:`drawn_map`: the same
    component, the same arguments, only the extra layers made in this run."""
    import streamlit_folium as sf

    layers = None
    if feature_group_to_add:
        layers = "".join(layer_script(group, i) for i, group in enumerate(feature_group_to_add))
    if not set(returned_objects) <= {"last_clicked", "last_object_clicked"}:
        msg = f"the drawn map returns only the last click, not {returned_objects}"
        raise ParameterError(msg)
    defaults = {"last_clicked": None, "last_object_clicked": None}
    hash_key = sf.generate_js_hash(drawn.script, key, False)

    def on_change() -> None:
        st.session_state[key] = st.session_state.get(hash_key, {})

    return sf._component_func(
        script=drawn.script,
        header=drawn.header,
        html=drawn.html,
        id=drawn.map_id,
        key=hash_key,
        height=height,
        width=width,
        returned_objects=returned_objects,
        default={k: v for k, v in defaults.items() if k in returned_objects},
        zoom=None,
        center=None,
        feature_group=layers,
        return_on_hover=False,
        layer_control=None,
        pixelated=False,
        css_links=list(drawn.css),
        js_links=list(drawn.js),
        on_change=on_change,
        wrap_longitude=False,
    )


# The selection layer of each (detection run, hot spot), made once: every rerun draws the same
# layer object, so its script is rendered once too (layer_script). Weak keys: a run dropped by
# its cache drops its layers.
_SELECTIONS: weakref.WeakKeyDictionary[HotspotResult, dict[str | None, Any]] = (
    weakref.WeakKeyDictionary()
)
_SELECTIONS_LOCK = threading.Lock()


def selection_layer(result: HotspotResult, hotspot_id: str | None) -> Any:
    """The outline of the selected hot spot (:func:`hotspots.mapping.selection_layer`), or None.

    The same object for the same run and hot spot (made once, shared read-only by the sessions
    that show that run): do not add it to a map, hand it to :func:`show_drawn`.
    """
    with _SELECTIONS_LOCK:
        made = _SELECTIONS.setdefault(result, {})
        if hotspot_id not in made:
            made[hotspot_id] = mapping.selection_layer(result.hotspots, hotspot_id)
        return made[hotspot_id]


class PerObject:
    """Values made once per live object, held by the object's id and dropped when it dies.

    For keys a weak-key dictionary cannot hold: data frames (not hashable) and dataclasses that
    hash by their fields. The value is made under a lock, once.
    """

    def __init__(self) -> None:
        self._made: dict[int, Any] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._made)

    def get(self, obj: Any, make: Callable[[], Any]) -> Any:
        """``make()`` the first time ``obj`` is asked for (while it lives), its value after."""
        key = id(obj)
        with self._lock:
            if key not in self._made:
                self._made[key] = make()
                # Runs when obj dies, before its id can name another object.
                weakref.finalize(obj, self._forget, key)
            return self._made[key]

    def _forget(self, key: int) -> None:
        with self._lock:
            self._made.pop(key, None)


# The persistent / emerging cells' layer of each classification (change.run_classify's areas,
# cached), made once: every rerun with the layer on draws the same object (layer_script).
_EMERGING = PerObject()


def emerging_layer(cells: Any) -> Any:
    """:func:`hotspots.mapping.emerging_layer` of these cells, made once (shared read-only)."""
    return _EMERGING.get(cells, lambda: mapping.emerging_layer(cells))


# The layer of each comparison of two periods (change.run_two_periods' cells, cached), made once.
_CHANGE = PerObject()


def change_layer(cells: Any) -> tuple[Any, int]:
    """:func:`hotspots.mapping.period_change_layer` of these cells, made once (shared
    read-only): (the layer or None, how many cells it draws)."""
    return _CHANGE.get(cells, lambda: mapping.period_change_layer(cells))  # type: ignore[no-any-return]


# The script of each layer object at each place in the layers, rendered once: a layer made once
# (hotspots_app.plan.layer: the patrol areas of a plan) is drawn by every run without being
# rendered again. Weak keys: a layer no longer used is dropped. Rendering alters the layer (its
# name, its parent): each place renders a copy, once, under the lock.
_SCRIPTS: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()
_SCRIPTS_LOCK = threading.Lock()


def layer_script(group: Any, idx: int) -> str:
    """streamlit-folium's script for a layer added beside the map, rendered once per layer object.

    Parameters
    ----------
    group : folium.FeatureGroup
        A layer for ``feature_group_to_add``; not to be added to any other map.
    idx : int
        Its place among the layers (the script names it ``feature_group_{idx}``).

    Returns
    -------
    str
        What :func:`streamlit_folium.st_folium` sends for it (the map named ``map_div``).
    """
    import folium

    with _SCRIPTS_LOCK:
        scripts = _SCRIPTS.setdefault(group, {})
        if idx not in scripts:
            stub = folium.Map(tiles=None)  # the layer's code names the map "map_div" in the end
            # A copy: rendering renames the layer's parts, and a layer rendered again would
            # name parts it no longer has (a script that fails in the browser).
            fresh = copy.deepcopy(group)
            scripts[idx] = feature_group_string(fresh, stub, idx)
        return scripts[idx]


def feature_group_string(group: Any, stub: Any, idx: int) -> str:
    """streamlit-folium's ``_get_feature_group_string`` (its pinned version), the layer rendered
    without the page's script section it never reads (:func:`mapping.render_without_scripts`).

    Parameters
    ----------
    group : folium.FeatureGroup
        The layer; renamed ``feature_group_{idx}`` and added to ``stub``.
    stub : folium.Map
        A map the layer's script names ``map_div``.
    idx : int
        The layer's place among the layers.

    Returns
    -------
    str
        The same text as ``streamlit_folium._get_feature_group_string(group, stub, idx)``.
    """
    import streamlit_folium as sf

    group._id = f"feature_group_{idx}"
    group.add_to(stub)
    mapping.render_without_scripts(group)
    text = sf.generate_leaflet_string(group, base_id=f"feature_group_{idx}")
    text = dedent(text.replace(sf.get_full_id(stub), "map_div"))
    return text + dedent(
        f"""
        map_div.addLayer(feature_group_feature_group_{idx});
        window.feature_group = window.feature_group || [];
        window.feature_group.push(feature_group_feature_group_{idx});
        """
    )


def _series(polys: list[Any], crs: Any) -> Any:
    import geopandas as gpd

    return gpd.GeoSeries(polys, crs=crs) if polys else None


def show_table(ranked: Any) -> None:
    """The ranked hot spots; a click on a row selects it."""
    cols = [c for c in TABLE_COLUMNS if c in ranked.columns]
    table = pd.DataFrame(ranked[cols]).reset_index(drop=True)
    if "harm" in table and table["harm"].isna().all():
        table = table.drop(columns="harm")
    ids = list(table["hotspot_id"].astype(str))
    sel = selected()
    default_rows = [ids.index(sel)] if sel in ids else []
    config = {c: st.column_config.Column(TABLE_COLUMNS[c]) for c in table.columns}
    config["share"] = st.column_config.ProgressColumn(
        "Share", format="percent", min_value=0, max_value=1
    )
    config["area_ha"] = st.column_config.NumberColumn("Area (ha)", format="%.2f")
    config["intensity"] = st.column_config.NumberColumn("Per km²", format="%.0f")
    config["pai"] = st.column_config.NumberColumn("PAI", format="%.1f")
    st.dataframe(
        table,
        key=f"table_{st.session_state.get('table_nonce', 0)}",
        on_select="rerun",
        selection_mode="single-row",
        selection_default={"selection": {"rows": default_rows}},
        hide_index=True,
        column_config=config,
        height=min(420, 38 + 35 * len(table)),
    )


# ------------------------------------------------------------------------------ the tab
def section(
    result: HotspotResult,
    tiles: str,
    attribution: str | None,
    *,
    plan_bundle: Bundle | None = None,
    plan_layer: Any = None,
    plan_pending: bool = False,
    emerging: Callable[[], tuple[Any, str | None]] | None = None,
    change: Callable[[], tuple[Any, str | None]] | None = None,
) -> None:
    """The map tab: summary metrics, the map at full width, the ranked table, the selection.

    ``plan_pending``: the plan is not made yet (the page makes it after this tab and draws it
    again); the patrol areas toggle is shown all the same.
    """
    ranked = result.hotspots
    sync_selection(ranked, plan_bundle.areas if plan_bundle else None)
    detection.show_summary(result)
    show_map(
        result, tiles, attribution, plan_layer, emerging, plan_pending=plan_pending, change=change
    )
    stop_search_notice()
    guide_step("Map")
    detection.show_proactive(result)
    detection.show_how_found(result)
    if not len(ranked):
        return
    table_col, card_col = st.columns([3, 2])
    with table_col:
        st.markdown("**Ranked hot spots** (click a row to select)")
        show_table(ranked)
    with card_col:
        selection_box([str(i) for i in ranked["hotspot_id"]], key="selected_id")
        detail.card(result)
