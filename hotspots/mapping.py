"""Folium maps of ranked hot spots (pure: results in, ``folium.Map`` out).

:func:`build_map` draws the ranked hot spot polygons coloured by rank, the incidents as a heat layer
(aggregated by location, never one marker per incident), optional density-surface contours, a layer
control, a scale bar and a legend, with the view fitted to the hot spots. Every string that came
from a CSV file is escaped with :func:`hotspots.offline.escape_text` before it reaches a tooltip.

The map still points at folium's CDN assets; call :func:`hotspots.offline.localize` before handing
it to streamlit-folium, or :func:`hotspots.offline.standalone_html` to save it. Nothing here imports
Streamlit.
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from hotspots import crs as crs_mod
from hotspots._errors import ParameterError
from hotspots.offline import escape_text

__all__ = [
    "LAYER_BUDGET_BYTES",
    "MAP_DECIMALS",
    "MAP_TOLERANCE_M",
    "MAX_TOLERANCE_M",
    "OSM_ATTRIBUTION",
    "SURFACE_TOLERANCE_M",
    "OSM_URL",
    "PALETTE",
    "aggregate_heat_points",
    "EMERGING_COLOURS",
    "build_map",
    "CHANGE_COLOURS",
    "emerging_layer",
    "period_change_layer",
    "fit_layer",
    "map_geometries",
    "hotspot_at",
    "patrol_layer",
    "rank_colours",
    "render_without_scripts",
    "resolve_tiles",
    "selection_layer",
]

#: Sequential palette, lightest to darkest (ColorBrewer YlOrRd, 9 classes; Brewer, C. A.,
#: www.ColorBrewer.org). The top-ranked hot spot gets the darkest colour.
PALETTE = (
    "#ffffcc",
    "#ffeda0",
    "#fed976",
    "#feb24c",
    "#fd8d3c",
    "#fc4e2a",
    "#e31a1c",
    "#bd0026",
    "#800026",
)
#: Outline of the selected hot spot (a blue that stands out against the red-yellow palette).
SELECTED_COLOUR = "#0050ff"

#: Heat layer colours: a single blue hue (ColorBrewer Blues) so that incident density never reads as
#: a hot spot rank (the polygons use the yellow-red palette).
HEAT_GRADIENT = {0.2: "#c6dbef", 0.45: "#6baed6", 0.7: "#2171b5", 1.0: "#08306b"}

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)

#: Decimals of a degree in map coordinates: 5 decimals are 1.1 m north-south and at most 1.1 m
#: east-west, finer than a screen pixel up to zoom 17 in Great Britain (1.2 m at zoom 17 on the
#: equator, 0.7 m at 53° N). Files keep :data:`hotspots.export.COORD_PRECISION`; the map needs no
#: more than it can show, and every extra decimal is sent to the browser on every rerun.
MAP_DECIMALS = 5
#: Polygons are simplified by this distance (metres, in their metric CRS) before they are drawn:
#: the map's resolution (:data:`MAP_DECIMALS`), so no vertex that a screen could show is lost.
MAP_TOLERANCE_M = 1.0
#: The density surface's contours are outlines of a smoothed grid (cells of 10 m or more): they
#: are drawn at this coarser tolerance (metres), which no one reading them can tell apart.
SURFACE_TOLERANCE_M = 4.0
#: Largest simplification (metres) a layer may need to fit its budget before its least important
#: polygons are left out (hot spots: 8 m, about a house's width; contours: 32 m, about a KDE cell).
MAX_TOLERANCE_M = {"hotspots": 8.0, "surface": 32.0, "other": 8.0}
#: Bytes of GeoJSON text each layer may send (heuristic of this product: the whole map, with the
#: 20,000 heat points of about 0.5 MB and the page's own script, stays under 3 MB, which the
#: browser draws in a few seconds on a modest laptop; the payload is sent on every rerun).
LAYER_BUDGET_BYTES = {"hotspots": 1_000_000, "surface": 600_000, "other": 300_000}

#: Where the map opens when there is nothing to fit to (Great Britain).
_FALLBACK_BOUNDS = ((49.9, -8.2), (58.7, 1.8))
_MAX_ZOOM = 19

_TOOLTIP_FIELDS = (
    ("rank_label", "Rank"),
    ("hotspot_id", "Hot spot"),
    ("incidents", "Incidents"),
    ("harm", "Harm"),
    ("peak_window", "Peak window"),
    ("location", "Location"),
)


def resolve_tiles(tiles: str | None) -> str:
    """Normalise a basemap setting to ``"openstreetmap"``, ``"none"`` or a URL template.

    Parameters
    ----------
    tiles : str or None
        ``"openstreetmap"`` (or ``"osm"``, any case), ``"none"``/``""``/``None`` (no basemap), or
        an XYZ URL template with ``{z}``, ``{x}`` and ``{y}`` (a force's internal tile server).

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        For a URL without the ``{z}``/``{x}``/``{y}`` placeholders or not http(s), or an unknown
        name.
    """
    if tiles is None:
        return "none"
    value = str(tiles).strip()
    if value.lower() in ("", "none", "off", "no", "false"):
        return "none"
    if value.lower() in ("openstreetmap", "osm"):
        return "openstreetmap"
    if re.match(r"^https?://", value, re.IGNORECASE):
        missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
        if missing:
            msg = (
                f"The tile URL {value!r} lacks {', '.join(missing)}. "
                "Give an XYZ template such as https://tiles.example.police.uk/{z}/{x}/{y}.png."
            )
            raise ParameterError(msg)
        return value
    msg = (
        f"Unknown basemap {value!r}: use 'openstreetmap', 'none' or an http(s) tile URL "
        "template with {z}, {x} and {y}."
    )
    raise ParameterError(msg)


def rank_colours(n: int) -> list[str]:
    """Fill colours for ranks 1..n, darkest first (sequential :data:`PALETTE`)."""
    if n <= 0:
        return []
    if n == 1:
        return [PALETTE[-1]]
    # Ranks spread over the darker two-thirds of the palette so that the lowest rank stays visible.
    lo = 3
    out = []
    for i in range(n):
        t = i / (n - 1)
        idx = round((len(PALETTE) - 1) - t * (len(PALETTE) - 1 - lo))
        out.append(PALETTE[idx])
    return out


def aggregate_heat_points(incidents: Any, max_points: int = 20_000) -> list[list[float]]:
    """Incidents as ``[lat, lon, weight]`` heat points, aggregated by location.

    Identical locations (police.uk snaps incidents to a few hundred thousand anonymised points)
    become one point whose weight is the sum of the incidents' weights. If more than ``max_points``
    distinct locations remain, locations are rounded to coarser grids (about 10 m, 100 m, 1 km)
    until they fit. Weights are scaled to 0-1 by their 99th percentile so a single very busy
    location does not wash out the rest. Coordinates are sent with :data:`MAP_DECIMALS` decimals.

    Parameters
    ----------
    incidents : Incidents or pandas.DataFrame
        Anything with ``lon``, ``lat`` (degrees, WGS84) and optionally ``weight`` columns (an
        :class:`~hotspots.incidents.Incidents` is read through its ``frame``).
    max_points : int, default 20000
        Upper bound on the points sent to the browser (about 0.5 MB of JSON at 20,000).

    Returns
    -------
    list of [lat, lon, weight]
    """
    frame = getattr(incidents, "frame", incidents)
    if frame is None or len(frame) == 0:
        return []
    lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
    lon = crs_mod.map_longitudes(lon, getattr(incidents, "crs", None))  # across 180 degrees
    lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
    w = (
        pd.to_numeric(frame["weight"], errors="coerce").to_numpy(dtype=float)
        if "weight" in frame
        else np.ones(len(lon))
    )
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(w) & (w > 0)
    lon, lat, w = lon[ok], lat[ok], w[ok]
    if lon.size == 0:
        return []
    # Distinct locations by hashing (lat, lon) as one complex number: first-seen order, as a
    # pandas groupby(sort=False) gives, in a fraction of its time on a million incidents.
    for decimals in (6, 4, 3, 2):
        codes, found = pd.factorize(lat.round(decimals) + 1j * lon.round(decimals))
        if len(found) <= max_points:
            break
    uniq = np.asarray(found, dtype=complex)
    total = np.bincount(codes, weights=w, minlength=len(uniq))
    if len(uniq) > max_points:
        top = np.argsort(-total, kind="stable")[:max_points]
        uniq, total = uniq[top], total[top]
    scale = float(np.quantile(total, 0.99)) if len(total) > 1 else float(total[0])
    scale = scale if scale > 0 else 1.0
    weights = np.clip(total / scale, 0.05, 1.0)
    return [
        [round(float(a), MAP_DECIMALS), round(float(b), MAP_DECIMALS), round(float(c), 3)]
        for a, b, c in zip(uniq.real, uniq.imag, weights, strict=True)
    ]


def tile_layer(tiles: str | None, attribution: str | None = None) -> folium.TileLayer | None:
    """The basemap as a folium tile layer, or None for ``"none"``.

    Parameters
    ----------
    tiles : str or None
        ``"none"``, ``"openstreetmap"`` or an XYZ URL template (see :func:`resolve_tiles`).
    attribution : str, optional
        Attribution text for a custom tile server (escaped; default "Internal tile server").
    """
    tiles = resolve_tiles(tiles)
    if tiles == "none":
        return None
    if tiles == "openstreetmap":
        return folium.TileLayer(
            tiles=OSM_URL,
            attr=OSM_ATTRIBUTION,
            name="OpenStreetMap",
            max_zoom=_MAX_ZOOM,
            max_native_zoom=19,
        )
    return folium.TileLayer(
        tiles=tiles,
        attr=escape_text(attribution or "Internal tile server"),
        name="Basemap",
        max_zoom=_MAX_ZOOM,
    )


def basemap_layer(tiles: str | None, attribution: str | None = None) -> folium.FeatureGroup | None:
    """The basemap of :func:`tile_layer` in a feature group, to add beside a drawn map.

    streamlit-folium's ``feature_group_to_add`` draws such groups without rebuilding the map, so
    the basemap can change without remounting it (the user keeps the pan and zoom). None for
    ``"none"``.
    """
    layer = tile_layer(tiles, attribution)
    if layer is None:
        return None
    group = folium.FeatureGroup(name="Basemap", control=False)
    layer.add_to(group)
    return group


def build_map(
    ranked_hotspots: gpd.GeoDataFrame | None,
    incidents: Any = None,
    *,
    surface_polygons: gpd.GeoDataFrame | gpd.GeoSeries | Sequence[Any] | None = None,
    tiles: str | None = "none",
    tile_attribution: str | None = None,
    selected: str | int | None = None,
    max_heat_points: int = 20_000,
    show_surface: bool = False,
    height: str | int = "100%",
    layers: Sequence[folium.FeatureGroup] = (),
) -> folium.Map:
    """Draw ranked hot spots, incidents and the density surface on a folium map.

    Parameters
    ----------
    ranked_hotspots : geopandas.GeoDataFrame or None
        The ranked hot spots (columns as in ``docs/architecture.md``) in any CRS; reprojected to
        EPSG:4326. Only ``geometry`` and ``rank`` are required; ``hotspot_id``, ``incidents``,
        ``harm``, ``peak_window`` and ``location``/``top_location`` are shown in the tooltip when
        present.
    incidents : Incidents or pandas.DataFrame, optional
        Drawn as a heat layer (see :func:`aggregate_heat_points`) and used to fit the view when
        there are no hot spots.
    surface_polygons : GeoDataFrame, GeoSeries or sequence of shapely geometries, optional
        Density-surface contour polygons, drawn as dashed outlines. A plain sequence is taken to
        be in the CRS of ``ranked_hotspots``.
    tiles : str or None, default "none"
        ``"none"`` (grey background, no requests at all), ``"openstreetmap"`` (opt-in: each tile
        request tells tile.openstreetmap.org which area is viewed) or an XYZ URL template for an
        internal tile server (see :func:`resolve_tiles`).
    tile_attribution : str, optional
        Attribution text for a custom tile server (escaped; default "Internal tile server").
    selected : str or int, optional
        The ``hotspot_id`` (or rank) of the hot spot to highlight.
    max_heat_points : int, default 20000
        Cap on heat points sent to the browser.
    show_surface : bool, default False
        Whether the contour layer starts switched on (it is always in the layer control).
    height : str or int, default "100%"
        CSS height of the map (standalone pages; streamlit-folium sets its own).
    layers : sequence of folium.FeatureGroup, optional
        More layers drawn on top (such as :func:`patrol_layer`), added before the layer control
        so that those with ``control=True`` are listed in it.

    Returns
    -------
    folium.Map
        With CDN asset links; see :mod:`hotspots.offline`.

    Notes
    -----
    The view is fitted to the hot spots' bounds. With no hot spots it is fitted to the 1st-99th
    percentile box of the incidents, so that a stray geocoding error far away does not zoom the
    map out to a whole country. With ``tiles="none"`` the map is built as
    ``folium.Map(tiles=None, maxZoom=19)``: Leaflet needs a ``maxZoom`` when no tile layer sets one.

    The map's size is bounded whatever the input (every byte is sent to the browser on each
    rerun): incidents are at most ``max_heat_points`` aggregated heat points; coordinates have
    :data:`MAP_DECIMALS` decimals; polygons are simplified by :data:`MAP_TOLERANCE_M` and each
    layer is fitted to its :data:`LAYER_BUDGET_BYTES` by :func:`fit_layer` (coarser
    simplification, then only the highest-ranked hot spots or largest contours; the legend and
    the layer's name say so when some are left out).
    """
    tiles = resolve_tiles(tiles)
    hot = _drawable(ranked_hotspots)
    bounds = _view_bounds(None if hot is None else _to_wgs84(hot.envelope), incidents)
    (s, w), (n, e) = bounds
    m = folium.Map(
        location=[(s + n) / 2, (w + e) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        maxZoom=_MAX_ZOOM,
        height=height,
    )
    layer = tile_layer(tiles, tile_attribution)
    if layer is not None:
        layer.add_to(m)

    if surface_polygons is not None:
        surface = _surface_series(surface_polygons, getattr(ranked_hotspots, "crs", None))
        if surface is not None and len(surface):
            # largest first: if the budget leaves some out, they are the smallest
            surface = surface.iloc[np.argsort(-_metric_areas(surface), kind="stable")]
            data, drawn = fit_layer(surface, [], "surface")
            name = "Density surface (contours)"
            if drawn < len(surface):
                name = f"Density surface (contours; the largest {drawn:,} of {len(surface):,})"
            folium.GeoJson(
                data,
                name=name,
                style_function=_surface_style,
                interactive=False,
                control=True,
                show=show_surface,
            ).add_to(m)

    heat = aggregate_heat_points(incidents, max_heat_points) if incidents is not None else []
    if heat:
        heat_layer = folium.plugins.HeatMap(
            heat,
            name="Incidents (heat)",
            min_opacity=0.35,
            radius=14,
            blur=12,
            max_zoom=17,
            gradient=HEAT_GRADIENT,
        )
        heat_layer.add_to(m)
        _ClickThrough(heat_layer).add_to(m)

    if hot is not None and len(hot):
        data, drawn = _hotspot_features(hot, selected)
        fields = [f for f, _ in _TOOLTIP_FIELDS if f in data["features"][0]["properties"]]
        aliases = [a for f, a in _TOOLTIP_FIELDS if f in fields]
        folium.GeoJson(
            data,
            name="Hot spots (darker = higher rank)",
            style_function=_hotspot_style,
            highlight_function=_hotspot_highlight,
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
            zoom_on_click=False,
        ).add_to(m)
        _Legend(len(hot), drawn).add_to(m)

    for extra in layers:  # before the layer control, whose script names every layer
        extra.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds(bounds, padding=(20, 20), max_zoom=17)
    return m


def selection_layer(
    ranked_hotspots: gpd.GeoDataFrame | None, selected: str | int | None
) -> folium.FeatureGroup | None:
    """A layer outlining the selected hot spot, or None when nothing is selected.

    For streamlit-folium's ``feature_group_to_add``: the highlight changes without rebuilding the
    map, so the map keeps the user's pan and zoom when the selection changes. The outline is not
    interactive, so clicks reach the hot spot polygon underneath.
    """
    hot = _drawable(ranked_hotspots)
    if hot is None or selected is None:
        return None
    sel = str(selected)
    ids = hot["hotspot_id"].astype(str) if "hotspot_id" in hot else pd.Series([""] * len(hot))
    ranks = hot["rank"].astype(str) if "rank" in hot else pd.Series([""] * len(hot))
    mask = ((ids == sel) | (ranks == sel)).to_numpy()
    if not mask.any():
        return None
    fg = folium.FeatureGroup(name="Selected hot spot", control=False)
    folium.GeoJson(
        fit_layer(hot.geometry[mask], [], "other")[0],
        style_function=_selection_style,
        interactive=False,
    ).add_to(fg)
    return fg


def patrol_layer(areas: gpd.GeoDataFrame, plan: Any = None) -> folium.FeatureGroup | None:
    """Patrol areas as a layer for streamlit-folium's ``feature_group_to_add``.

    Planned areas are drawn in blue, areas left out for capacity in grey dashes; tooltips give
    the area, its incidents, its planned visits and its location (escaped). Passed beside the map
    rather than drawn into it, so changing the plan (or switching the layer off) does not rebuild
    the map and lose the user's pan and zoom.

    Parameters
    ----------
    areas : GeoDataFrame
        From :func:`hotspots.patrol.make_patrol_areas`.
    plan : PatrolPlan, optional
        From :func:`hotspots.patrol.make_patrol_plan`; without it every area counts as planned.
    """
    wgs = _drawable(areas)
    if wgs is None or len(wgs) == 0:
        return None
    per_area = plan.area_summary().set_index("patrol_area_id") if plan is not None else None
    summary: dict[str, tuple[Any, Any]] = {}
    if per_area is not None:
        if not per_area.index.is_unique:  # as reading one row by its id would
            msg = "the plan's area summary names a patrol area twice"
            raise ParameterError(msg)
        pairs = zip(per_area["in_plan"], per_area["visits"], strict=True)
        summary = dict(zip(per_area.index, pairs, strict=True))
    n = len(wgs)
    kinds = wgs["unpatrollable_kind"] if "unpatrollable_kind" in wgs.columns else [""] * n
    locations = wgs["location"] if "location" in wgs.columns else [None] * n
    props = []
    for pid_value, n_in, kind_value, location in zip(
        wgs["patrol_area_id"], wgs["incidents"], kinds, locations, strict=True
    ):
        pid = str(pid_value)
        if per_area is None:
            in_plan, status = True, "patrol area"
        else:
            known = pid in summary
            in_plan = bool(summary[pid][0]) if known else False
            visits = int(summary[pid][1]) if known else 0
            status = f"{visits} visits" if in_plan else "left out (capacity)"
        kind = str(kind_value or "")
        if kind and not in_plan:
            status = f"left out: a street patrol cannot address it ({kind.replace('_', ' ')})"
        props.append(
            {
                "patrol_area": escape_text(pid),
                "incidents": escape_text(f"{int(n_in):,}"),
                "plan": escape_text(status),
                "location": escape_text(location or ""),
                "_in_plan": in_plan,
            }
        )
    fg = folium.FeatureGroup(name="Patrol areas", control=False)
    folium.GeoJson(
        fit_layer(wgs.geometry, props, "other")[0],
        style_function=_patrol_style,
        tooltip=folium.GeoJsonTooltip(
            fields=["patrol_area", "incidents", "plan", "location"],
            aliases=["Patrol area", "Incidents", "Plan", "Location"],
            sticky=True,
        ),
        zoom_on_click=False,
    ).add_to(fg)
    return fg


def _patrol_style(feature: dict[str, Any]) -> dict[str, Any]:
    if feature["properties"].get("_in_plan"):
        return {"color": "#08519c", "weight": 2, "fillColor": "#6baed6", "fillOpacity": 0.25}
    return {"color": "#525252", "weight": 1, "dashArray": "4 3", "fillOpacity": 0.05}


#: Colours of the persistent / emerging classes (:data:`hotspots.emerging.CATEGORIES`), with a
#: colour name for a legend in words. Chosen to stand apart from the yellow-red hot spots, the blue
#: patrol areas and the blue selection outline: purple-pink-brown-teal for hot classes (after
#: ColorBrewer Dark2/Purples), greens for the (rare at micro-place scale) cold classes.
EMERGING_COLOURS: dict[str, tuple[str, str]] = {
    "new hot spot": ("#e7298a", "pink"),
    "consecutive hot spot": ("#ce1256", "deep pink"),
    "intensifying hot spot": ("#67001f", "dark red"),
    "persistent hot spot": ("#54278f", "purple"),
    "diminishing hot spot": ("#9e9ac8", "lilac"),
    "sporadic hot spot": ("#1b9e77", "teal"),
    "oscillating hot spot": ("#d95f02", "dark orange"),
    "historical hot spot": ("#a6761d", "brown"),
    "new cold spot": ("#6baed6", "light blue"),
    "consecutive cold spot": ("#4292c6", "blue"),
    "intensifying cold spot": ("#08306b", "navy"),
    "persistent cold spot": ("#006d2c", "dark green"),
    "diminishing cold spot": ("#74c476", "light green"),
    "sporadic cold spot": ("#a1d99b", "pale green"),
    "oscillating cold spot": ("#31a354", "green"),
    "historical cold spot": ("#9ecae1", "pale blue"),
}
_EMERGING_OTHER = ("#636363", "grey")


def emerging_layer(areas: gpd.GeoDataFrame | None) -> folium.FeatureGroup | None:
    """Emerging hot spot areas (new, persistent...) as a layer for ``feature_group_to_add``.

    Parameters
    ----------
    areas : GeoDataFrame or None
        ``EmergingResult.areas`` from :func:`hotspots.emerging.classify_hotspots` (``category``,
        ``n_cells``, geometry; any CRS). Optional columns ``incidents`` and ``top_location`` are
        shown in the tooltip when present. Every tooltip value is escaped.

    Returns
    -------
    folium.FeatureGroup or None
        None when there is no area. Each category gets its colour from :data:`EMERGING_COLOURS`.
    """
    wgs = _drawable(areas)
    if wgs is None or len(wgs) == 0:
        return None
    has_inc = "incidents" in wgs
    has_loc = "top_location" in wgs
    props = []
    for _, a in wgs.iterrows():
        cat = str(a.get("category") or "")
        p: dict[str, Any] = {
            "category": escape_text(cat),
            "cells": escape_text(_fmt_number(a.get("n_cells"))),
            "_colour": EMERGING_COLOURS.get(cat, _EMERGING_OTHER)[0],
        }
        if has_inc:
            p["incidents"] = escape_text(_fmt_number(a.get("incidents")))
        if has_loc:
            loc = a.get("top_location")
            p["location"] = escape_text(loc if isinstance(loc, str) else "")
        props.append(p)
    fields = (
        ["category", "cells"]
        + (["incidents"] if has_inc else [])
        + (["location"] if has_loc else [])
    )
    aliases = {
        "category": "Pattern",
        "cells": "Cells",
        "incidents": "Incidents",
        "location": "Location",
    }
    fg = folium.FeatureGroup(name="Persistent / emerging cells", control=False)
    folium.GeoJson(
        fit_layer(wgs.geometry, props, "other")[0],
        style_function=_emerging_style,
        tooltip=folium.GeoJsonTooltip(
            fields=fields, aliases=[aliases[f] for f in fields], sticky=True
        ),
        zoom_on_click=False,
    ).add_to(fg)
    return fg


def _emerging_style(feature: dict[str, Any]) -> dict[str, Any]:
    c = feature["properties"].get("_colour", _EMERGING_OTHER[0])
    return {"color": c, "weight": 2, "fillColor": c, "fillOpacity": 0.35, "opacity": 0.9}


#: Colours of the cells that rose and fell between two periods (ColorBrewer PiYG's ends: apart
#: from the hot spots' yellow-red, the heat's blues and the selection's blue) and their names.
CHANGE_COLOURS = {"rose": ("#c51b7d", "magenta"), "fell": ("#4d9221", "green")}
#: The cells tested that showed no clear change: a faint grey outline, drawn under the others.
_CHANGE_OTHER = "#737373"


def period_change_layer(cells: gpd.GeoDataFrame | None) -> tuple[folium.FeatureGroup | None, int]:
    """The cells of a two-period comparison as a layer for ``feature_group_to_add``.

    The cells that rose and fell (:data:`CHANGE_COLOURS`) first, then the other tested cells
    (no clear change: a faint grey outline), each with a tooltip: the change, the counts before
    and after, the count expected after had the cell changed as the area did, the q-value and
    the top location (escaped). Cells outside the test (too few incidents to show a change) are
    not drawn. Within the ``"other"`` layer budget (:func:`fit_layer`), the no-change cells in at
    most half of it, those closest to a clear change first: when the cells do not all fit, the
    last no-change cells are left out first; a legend in the map names the colours, and what
    was left out.

    Parameters
    ----------
    cells : GeoDataFrame or None
        ``PeriodChange.cells`` from :func:`hotspots.change.compare_periods` (``change_class``,
        ``tested``, ``before``, ``after``, ``expected_after``, ``q_value``, ``top_location``;
        any CRS), sorted by q-value as it returns them.

    Returns
    -------
    (folium.FeatureGroup or None, int)
        The layer (None when no cell was tested) and how many cells it draws.
    """
    wgs = _drawable(cells)
    if wgs is not None:
        wgs = wgs[wgs["tested"].to_numpy(dtype=bool)]
    if wgs is None or len(wgs) == 0:
        return None, 0
    labelled = wgs["change_class"].isin(list(CHANGE_COLOURS)).to_numpy()
    wgs = pd.concat([wgs[labelled], wgs[~labelled]])  # the labelled cells fit first
    props = []
    for row in wgs.itertuples(index=False):
        cls = str(row.change_class)
        q = float(row.q_value)
        loc = row.top_location
        props.append(
            {
                "change": escape_text(cls),
                "before": escape_text(_fmt_number(row.before)),
                "after": escape_text(_fmt_number(row.after)),
                "expected": escape_text(_fmt_number(row.expected_after, 1)),
                "q": escape_text(
                    "—" if not math.isfinite(q) else (f"{q:.4f}" if q >= 1e-4 else "< 0.0001")
                ),
                "location": escape_text(loc if isinstance(loc, str) else ""),
                "_colour": CHANGE_COLOURS.get(cls, (_CHANGE_OTHER, ""))[0],
                "_faint": cls not in CHANGE_COLOURS,
            }
        )
    n_labelled = int(labelled.sum())
    budget = LAYER_BUDGET_BYTES["other"]
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    drawn = 0
    if n_labelled:
        collection, drawn = fit_layer(wgs.geometry.iloc[:n_labelled], props[:n_labelled], "other")
    # The faint cells take at most half the layer's budget: the map with every layer on stays
    # within its 3 MB at national scale (12,871 such cells: 2.95 MB when they took it all).
    room = min(budget - len(json.dumps(collection)), budget // 2)
    if drawn == n_labelled and len(wgs) > n_labelled and room > 0:
        rest, more = fit_layer(
            wgs.geometry.iloc[n_labelled:], props[n_labelled:], "other", budget=room
        )
        collection = {
            "type": "FeatureCollection",
            "features": collection["features"] + rest["features"],
        }
        drawn += more
    fields = ("change", "before", "after", "expected", "q", "location")
    aliases = ("Change", "Before", "After", "Expected after", "q-value", "Top location")
    fg = folium.FeatureGroup(name="Cells that rose / fell", control=False)
    folium.GeoJson(
        collection,
        style_function=_change_style,
        tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases), sticky=True),
        zoom_on_click=False,
    ).add_to(fg)
    _ChangeLegend(min(drawn, n_labelled), n_labelled, drawn, len(wgs)).add_to(fg)
    return fg, drawn


def _change_style(feature: dict[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    c = p.get("_colour", _CHANGE_OTHER)
    if p.get("_faint"):
        return {"color": c, "weight": 0.6, "fillColor": c, "fillOpacity": 0.04, "opacity": 0.5}
    return {"color": c, "weight": 1.5, "fillColor": c, "fillOpacity": 0.45, "opacity": 0.9}


def hotspot_at(
    ranked_hotspots: gpd.GeoDataFrame,
    lat: float,
    lon: float,
    *,
    tolerance_m: float = 15.0,
    patrol_areas: gpd.GeoDataFrame | None = None,
) -> str | None:
    """The ``hotspot_id`` of the hot spot at a clicked point (lat/lon degrees), or None.

    A click that lands within ``tolerance_m`` metres of a polygon's edge counts (for thin
    polygons); when several match the best-ranked wins. A click on a patrol area (which may
    reach beyond its hot spot's outline) selects the area's parent hot spot.
    """
    if ranked_hotspots is None or not len(ranked_hotspots) or lat is None or lon is None:
        return None
    direct = _hotspot_hit(ranked_hotspots, lat, lon, tolerance_m)
    if direct is not None or patrol_areas is None or not len(patrol_areas):
        return direct
    # patrol areas carry their parent's hotspot_id, so the best-ranked area hit names the hot spot
    return _hotspot_hit(patrol_areas, lat, lon, 0.0) if "hotspot_id" in patrol_areas else None


def _hotspot_hit(
    ranked_hotspots: gpd.GeoDataFrame, lat: float, lon: float, tolerance_m: float
) -> str | None:
    """``hotspot_id`` of the best-ranked polygon within ``tolerance_m`` of the point, or None."""
    lon = ((float(lon) + 180.0) % 360.0) - 180.0  # a map across 180 degrees gives 180.05
    pt = gpd.GeoSeries([shapely.Point(lon, float(lat))], crs="EPSG:4326")
    crs = ranked_hotspots.crs
    if crs is not None and crs.is_projected:
        pt = crs_mod.to_crs(pt, crs)
        dist = ranked_hotspots.geometry.distance(pt.iloc[0])
        hit = dist <= tolerance_m
    else:
        geoms = (
            ranked_hotspots.geometry if crs is None else crs_mod.to_lonlat(ranked_hotspots).geometry
        )
        hit = geoms.intersects(pt.iloc[0])
    if not hit.any():
        return None
    rows = ranked_hotspots.loc[hit.to_numpy()]
    if "rank" in rows:
        rows = rows.sort_values("rank")
    return str(rows["hotspot_id"].iloc[0]) if "hotspot_id" in rows else str(rows.index[0])


# --- rendering for streamlit-folium --------------------------------------------------------


class _NoScript:
    """A template with every macro of ``template`` but ``script`` (all else read from it).

    branca's ``MacroElement.render`` looks each macro up in ``template.module``; an element
    that renders its template itself (folium's tooltips) goes on rendering it whole.
    """

    def __init__(self, template: Any) -> None:
        self._template = template
        macros = {k: v for k, v in template.module.__dict__.items() if k != "script"}
        self.module = types.SimpleNamespace(**macros)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


_MISSING = object()


@contextmanager
def _scripts_skipped(element: Any) -> Iterator[None]:
    """While inside, each macro element under ``element`` (itself too) renders no ``script``."""
    patched: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    todo = [element]
    while todo:
        el = todo.pop()
        if id(el) in seen:  # an element in two places is patched (and put back) once
            continue
        seen.add(id(el))
        todo.extend(getattr(el, "_children", {}).values())
        if isinstance(el, MacroElement) and "script" in el._template.module.__dict__:
            # An instance attribute over the class's template, for this element only; its own
            # template (branca's Element(template=...)) is kept to be put back.
            patched.append((el, el.__dict__.get("_template", _MISSING)))
            el._template = _NoScript(el._template)
    try:
        yield
    finally:
        for el, own in patched:
            if own is _MISSING:
                del el._template
            else:
                el._template = own


def render_without_scripts(element: Any) -> None:
    """Render a folium element's tree for what rendering sets, skipping the page's script.

    folium's rendering of a macro element runs its ``script`` macro (for a GeoJSON layer, the
    whole layer as JSON text) and compiles the output as a Jinja template for the page's script
    section. streamlit-folium renders a map for the rest (the page's header and body, each
    layer's link to its parent, GeoJSON style maps, the layer control's lists), then takes each
    element's script from its template again (``generate_leaflet_string``) and never reads that
    section. This renders with the ``script`` macros left out, then puts the templates back:
    the header, the body and every element's script come out as after a full render, in a
    fraction of its time. Not for a standalone page (:func:`hotspots.offline.standalone_html`),
    which prints that section.

    Parameters
    ----------
    element : branca.element.Element
        Rendered with its tree (itself and its children): a map's figure, or a layer added to
        a map.
    """
    with _scripts_skipped(element):
        element.render()


# --- helpers ---------------------------------------------------------------------------------


def _drawable(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The rows with a geometry to draw (in their own CRS), or None when there are none."""
    if gdf is None or len(gdf) == 0:
        return None
    gdf = gdf[~(gdf.geometry.is_empty | gdf.geometry.isna())]
    return gdf if len(gdf) else None


def _to_wgs84(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """In EPSG:4326 as the map draws it: cut at 180 degrees, then continuous across it for
    data analysed in a zone that borders it (:func:`hotspots.crs.map_side`)."""
    gdf = _drawable(gdf)
    if gdf is not None and gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        source = gdf.crs
        gdf = crs_mod.to_lonlat(gdf)
        if crs_mod.map_side(source):
            shifted = gpd.GeoSeries(
                crs_mod.map_geometries_across(gdf.geometry.values, source),
                index=gdf.index, crs=gdf.crs,
            )  # fmt: skip
            gdf = shifted if isinstance(gdf, gpd.GeoSeries) else gdf.set_geometry(shifted)
    return gdf


def _surface_series(polys: Any, default_crs: Any) -> gpd.GeoSeries | None:
    if isinstance(polys, gpd.GeoDataFrame):
        series = polys.geometry
    elif isinstance(polys, gpd.GeoSeries):
        series = polys
    else:
        series = gpd.GeoSeries(list(polys), crs=default_crs)
    return series[~(series.is_empty | series.isna())]


_DEGREE_M = 111_320.0  # metres in a degree of latitude (and of longitude at the equator)


def _metric_areas(geoms: gpd.GeoSeries) -> np.ndarray:
    """Areas in m² (approximate for geographic coordinates): only their order matters."""
    crs = geoms.crs
    area = np.asarray(geoms.area, dtype=float)
    return area if crs is not None and crs.is_projected else area * _DEGREE_M**2


def map_geometries(geoms: gpd.GeoSeries, tolerance_m: float = MAP_TOLERANCE_M) -> gpd.GeoSeries:
    """Geometries as the map draws them: simplified, in EPSG:4326, rounded to the map's resolution.

    Parameters
    ----------
    geoms : GeoSeries
        In a metric CRS (simplified there) or in degrees (the tolerance is then taken as
        ``tolerance_m / 111,320`` degrees); no CRS means EPSG:4326.
    tolerance_m : float, default :data:`MAP_TOLERANCE_M`
        Douglas-Peucker tolerance in metres; 0 keeps every vertex. A polygon that the quick
        simplification would empty is simplified keeping its topology instead, so none
        disappears (a quick one may cross itself by less than the tolerance, which a map shows
        the same).

    Returns
    -------
    GeoSeries
        In EPSG:4326 with :data:`MAP_DECIMALS` decimals.
    """
    return _rounded_wgs84(_simplified(geoms, tolerance_m))


def _simplified(geoms: gpd.GeoSeries, tolerance_m: float) -> gpd.GeoSeries:
    if tolerance_m <= 0 or not len(geoms):
        return geoms
    crs = geoms.crs
    tol = tolerance_m if crs is not None and crs.is_projected else tolerance_m / _DEGREE_M
    values = np.asarray(geoms.values, dtype=object)
    quick = shapely.simplify(values, tol, preserve_topology=False)
    bad = shapely.is_empty(quick)
    if bad.any():
        quick[bad] = shapely.simplify(values[bad], tol, preserve_topology=True)
    return gpd.GeoSeries(quick, index=geoms.index, crs=crs)


def _rounded_wgs84(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    crs = geoms.crs
    values = np.asarray(geoms.values)
    if crs is not None and not crs.equals("EPSG:4326"):
        geoms = crs_mod.to_lonlat(geoms)
        # continuous across 180 degrees where the data's zone borders it (Leaflet draws > 180)
        values = crs_mod.map_geometries_across(np.asarray(geoms.values), crs)
    rounded = shapely.transform(values, lambda c: np.round(c, MAP_DECIMALS))
    return gpd.GeoSeries(rounded, index=geoms.index, crs="EPSG:4326")


#: Bytes a vertex takes in the map's GeoJSON text, ``[-2.98123, 53.40461], `` (for estimates).
_VERTEX_BYTES = 22


def fit_layer(
    geoms: gpd.GeoSeries, props: Sequence[dict[str, Any]], kind: str, *, budget: int | None = None
) -> tuple[dict[str, Any], int]:
    """A GeoJSON FeatureCollection of ``geoms`` that fits the layer's byte budget.

    Polygons are drawn at :data:`MAP_TOLERANCE_M` (contours at :data:`SURFACE_TOLERANCE_M`);
    when the layer's GeoJSON text would exceed ``LAYER_BUDGET_BYTES[kind]``, at
    ``MAX_TOLERANCE_M[kind]``; when it still would, only the first features that fit are kept
    (so give them most important first: hot spots by rank, contours by size). Sizes are those of
    the text the map sends (``json.dumps``' spacing).

    Parameters
    ----------
    geoms : GeoSeries
        The geometries, most important first (any CRS, see :func:`map_geometries`).
    props : sequence of dict
        Each feature's properties (missing ones are empty).
    kind : {"hotspots", "surface", "other"}
        Which budget (:data:`LAYER_BUDGET_BYTES`) and largest tolerance (:data:`MAX_TOLERANCE_M`).
    budget : int, optional
        Bytes for this call instead of the kind's budget (a layer drawn in parts).

    Returns
    -------
    (dict, int)
        The FeatureCollection and how many features it holds (``len(geoms)`` unless the
        budget left the last ones out).
    """
    budget = LAYER_BUDGET_BYTES[kind] if budget is None else int(budget)
    n = len(geoms)
    prop_text = [json.dumps(props[i] if i < len(props) else {}) for i in range(n)]
    overhead = np.array([len(t) + 60 for t in prop_text], dtype=np.int64)
    simple = _simplified(geoms, SURFACE_TOLERANCE_M if kind == "surface" else MAP_TOLERANCE_M)
    vertices = shapely.get_num_coordinates(np.asarray(simple.values, dtype=object))
    if int((vertices * _VERTEX_BYTES + overhead).sum()) > budget:
        simple = _simplified(geoms, MAX_TOLERANCE_M[kind])
        vertices = shapely.get_num_coordinates(np.asarray(simple.values, dtype=object))
    estimate = np.cumsum(vertices * _VERTEX_BYTES + overhead)
    keep = int(np.searchsorted(estimate, 1.2 * budget, side="right"))  # the exact cut is below
    geo_text = shapely.to_geojson(np.asarray(_rounded_wgs84(simple.iloc[:keep]).values))
    sizes = np.array(
        [len(g) + g.count(",") + len(p) + 40 for g, p in zip(geo_text, prop_text, strict=False)],
        dtype=np.int64,
    )
    keep = int(np.searchsorted(np.cumsum(sizes), budget, side="right"))
    text = ",".join(
        '{"type":"Feature","geometry":' + g + ',"properties":' + p + "}"
        for g, p in zip(geo_text[:keep], prop_text[:keep], strict=False)
    )
    return json.loads('{"type":"FeatureCollection","features":[' + text + "]}"), keep


def _fmt_number(value: Any, digits: int = 0) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(f):
        return "—"
    return f"{f:,.{digits}f}"


def _hotspot_features(
    hot: gpd.GeoDataFrame, selected: str | int | None
) -> tuple[dict[str, Any], int]:
    """The hot spot layer's features (rank order, fitted to its budget; the selection drawn last)
    and how many are drawn."""
    hot = hot.sort_values("rank") if "rank" in hot else hot
    n = len(hot)
    colours = rank_colours(n)
    sel = None if selected is None else str(selected)
    props = []
    loc_col = next((c for c in ("location", "top_location", "label") if c in hot), None)
    ranks = list(hot["rank"]) if "rank" in hot else list(range(1, n + 1))
    ids = list(hot["hotspot_id"]) if "hotspot_id" in hot else [f"H{i:03d}" for i in range(1, n + 1)]
    columns = {c: list(hot[c]) for c in ("incidents", "harm", "peak_window") if c in hot}
    places = list(hot[loc_col]) if loc_col is not None else None
    for i in range(n):
        rank, hid = ranks[i], ids[i]
        is_sel = sel is not None and sel in (str(hid), str(rank))
        p: dict[str, Any] = {
            "rank_label": escape_text(f"{int(rank)} of {n}"),
            "hotspot_id": escape_text(hid),
            "_fill": colours[i],
            "_selected": bool(is_sel),
        }
        if "incidents" in columns:
            p["incidents"] = escape_text(_fmt_number(columns["incidents"][i]))
        if "harm" in columns:
            p["harm"] = escape_text(_fmt_number(columns["harm"][i], 1))
        if "peak_window" in columns:
            pw = columns["peak_window"][i]
            p["peak_window"] = escape_text(pw if isinstance(pw, str) and pw else "times not known")
        if places is not None:
            p["location"] = escape_text(places[i] if isinstance(places[i], str) else "")
        props.append(p)
    data, drawn = fit_layer(hot.geometry, props, "hotspots")
    # Selected last so its outline draws on top.
    data["features"].sort(key=lambda f: bool(f["properties"]["_selected"]))
    return data, drawn


def _hotspot_style(feature: dict[str, Any]) -> dict[str, Any]:
    p = feature["properties"]
    if p.get("_selected"):
        return {
            "fillColor": p["_fill"],
            "color": SELECTED_COLOUR,
            "weight": 4,
            "fillOpacity": 0.75,
            "opacity": 1.0,
        }
    return {
        "fillColor": p["_fill"],
        "color": "#4d0013",
        "weight": 1,
        "fillOpacity": 0.5,
        "opacity": 0.9,
    }


def _hotspot_highlight(feature: dict[str, Any]) -> dict[str, Any]:
    return {"weight": 3, "color": SELECTED_COLOUR, "fillOpacity": 0.8}


def _selection_style(feature: dict[str, Any]) -> dict[str, Any]:
    return {"color": SELECTED_COLOUR, "weight": 4, "fill": False, "opacity": 1.0}


def _surface_style(feature: dict[str, Any]) -> dict[str, Any]:
    return {"color": "#6a3d9a", "weight": 1, "dashArray": "4 3", "fillOpacity": 0.05}


def _view_bounds(hot: gpd.GeoDataFrame | None, incidents: Any) -> list[list[float]]:
    if hot is not None and len(hot):
        w, s, e, n = (float(v) for v in hot.total_bounds)
        return [[s, w], [n, e]]
    frame = getattr(incidents, "frame", incidents)
    if frame is not None and len(frame):
        lon = pd.to_numeric(frame["lon"], errors="coerce").dropna().to_numpy(dtype=float)
        lon = crs_mod.map_longitudes(lon, getattr(incidents, "crs", None))
        lat = pd.to_numeric(frame["lat"], errors="coerce").dropna().to_numpy(dtype=float)
        if lon.size and lat.size:
            w, e = np.quantile(lon, [0.01, 0.99])
            s, n = np.quantile(lat, [0.01, 0.99])
            return [[float(s), float(w)], [float(n), float(e)]]
    (s, w), (n, e) = _FALLBACK_BOUNDS
    return [[s, w], [n, e]]


class _ClickThrough(MacroElement):
    """Let clicks pass through a heat layer's canvas to the hot spot polygons under it.

    Leaflet.heat draws on a canvas in the overlay pane; depending on layer order that canvas can
    sit on top of the polygons' SVG and swallow clicks and tooltips.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
if ({{ this.layer.get_name() }}._canvas) {
  {{ this.layer.get_name() }}._canvas.style.pointerEvents = "none";
}
{% endmacro %}"""
    )

    def __init__(self, layer: Any) -> None:
        super().__init__()
        self._name = "ClickThrough"
        self.layer = layer


class _ChangeLegend(MacroElement):
    """The legend of :func:`period_change_layer`: a Leaflet control shown while its layer is on
    the map (added and removed with it; fixed text and counts, no user strings, no assets)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var layer = {{ this._parent.get_name() }};
  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "hotspots-change-legend");
    div.style.cssText = "background:rgba(255,255,255,0.9);padding:4px 8px;border-radius:4px;" +
      "font:12px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)";
    div.innerHTML = {{ this.html|tojson }};
    return div;
  };
  layer.on("add", function () { legend.addTo(layer._map); });
  layer.on("remove", function () { legend.remove(); });
  if (layer._map) { legend.addTo(layer._map); }
})();
{% endmacro %}"""
    )

    def __init__(self, labelled_drawn: int, labelled: int, drawn: int, tested: int) -> None:
        super().__init__()
        self._name = "ChangeLegend"
        swatch = (
            '<span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
            'vertical-align:middle;border:1px solid {0};background:{1}"></span>'
        )
        rows = [
            swatch.format(colour, colour) + f"{name} more than the area"
            for name, (colour, _) in CHANGE_COLOURS.items()
        ]
        rows.append(swatch.format(_CHANGE_OTHER, "transparent") + "tested, no clear change")
        self.html = "<b>Between two periods</b><br>" + "<br>".join(rows)
        if labelled_drawn < labelled:
            self.html += (
                f"<br>Showing {int(labelled_drawn):,} of {int(labelled):,} cells that rose or "
                "fell<br>(the map's size limit; the table lists all)"
            )
        elif drawn < tested:
            self.html += (
                f"<br>Showing {int(drawn - labelled):,} of {int(tested - labelled):,} cells "
                "with no clear change,<br>the closest to one (the map's size limit)"
            )


class _Legend(MacroElement):
    """A small Leaflet control explaining the colours (fixed text, no user strings, no assets)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var legend = L.control({position: "bottomleft"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "hotspots-legend");
    div.style.cssText = "background:rgba(255,255,255,0.9);padding:4px 8px;border-radius:4px;" +
      "font:12px/1.4 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)";
    div.innerHTML = {{ this.html|tojson }};
    return div;
  };
  legend.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}"""
    )

    def __init__(self, n: int, drawn: int | None = None) -> None:
        super().__init__()
        self._name = "HotspotsLegend"
        colours = rank_colours(n)
        swatch = (
            '<span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
            'vertical-align:middle;border:1px solid #4d0013;background:{}"></span>'
        )
        top = swatch.format(colours[0]) + "rank 1"
        bottom = (swatch.format(colours[-1]) + f"rank {int(n)}") if n > 1 else ""
        self.html = "<b>Hot spots</b><br>" + top + ("<br>" + bottom if bottom else "")
        if drawn is not None and drawn < n:
            self.html += (
                f"<br>Showing ranks 1-{int(drawn):,} of {int(n):,}<br>(the map's size limit;"
                "<br>the table lists all)"
            )
