"""The page: the sidebar's panels, then one tab at a time; only the open tab runs.

``app.py`` (``streamlit run app.py``) and, in an installed package, ``hotspots_app/__main__.py``
(``hotspots app``) call :func:`run`. This module only places the sections; each lives in its own
module of :mod:`hotspots_app`. No analysis happens here. Importing it runs nothing.

Offline: the map's JavaScript and CSS are served from the ``static/vendor/`` folder next to the
main script (see :mod:`hotspots.offline` and :mod:`hotspots.launch`), usage statistics are off
(``.streamlit/config.toml``) and the basemap can be switched off or pointed at an internal tile
server with ``HOTSPOTS_TILES`` (see :mod:`hotspots_app.map`).
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from hotspots import HotspotsError, InputError
from hotspots_app import (
    assess,
    change,
    data,
    detail,
    detection,
    downloads,
    holdout,
    plan,
    status,
    tracking,
)
from hotspots_app import map as map_section
from hotspots_app.common import (
    LOG,
    guide_step,
    keep_selection_valid,
    md,
    plain,
    recall,
    show_warnings,
    stop_search_notice,
)

#: The page's side padding (Streamlit's wide layout keeps 5rem a side): the map gets the width.
PAGE_CSS = """<style>
[data-testid="stMainBlockContainer"] {padding: 3rem 1.5rem 2rem 1.5rem;}
</style>"""
TABS = (
    "Map",
    "Hot spot details",
    "Patrol plan",
    "Tracking",
    "Assess",
    "Change over time",
    "Check against a later period",
    "Data and report",
    "Downloads",
)


def main() -> None:
    """Lay out the page: sidebar, the lines above the tabs, the open tab."""
    st.set_page_config(page_title="Violence hot spots", layout="wide")
    st.html(PAGE_CSS)  # style only: takes no space on the page
    st.title("Serious violence hot spots")
    page = _sidebar_and_detection()
    if page is None:
        return
    result = page.found.value

    # Above the tabs: what every tab depends on.
    show_warnings(page.loaded, page.found, result.warnings)
    for said in harm_lines(page.harm, page.incidents.has_weights, page.order_asked):
        st.info(said)
    line = detection.nothing_significant(result, page.method)
    if line:
        st.info(line)
    keep_selection_valid([str(i) for i in result.hotspots["hotspot_id"]], result.fingerprint)
    _open_tab(page)


@dataclass(frozen=True)
class _Page:
    """What the sidebar chose and what it found: the inputs of every tab."""

    loaded: Any
    found: Any
    is_demo: bool
    harm: bool
    method: str
    order: str
    params: dict[str, Any]
    tiles: Any
    attribution: Any
    base: Any = None
    crime_types: Any = "default"
    order_asked: str = ""  # the ranking chosen (``order`` is the one used: see harm_lines)

    @property
    def incidents(self) -> Any:
        return self.loaded.value


def _sidebar_and_detection() -> _Page | None:
    """Sidebar: data -> filters -> method and parameters -> basemap; None when nothing to show."""
    source = data.sidebar_data()
    is_demo = source.is_demo
    if is_demo:
        st.warning(data.DEMO_WARNING)
    # The reading and detection boxes in one place made in every run: the tabs below stay where
    # they were in the run after (the map is not remounted when the patrol layer comes).
    with status.boxes_here():
        return _read_and_detect(source, is_demo)


def _read_and_detect(source: Any, is_demo: bool) -> _Page | None:
    columns = data.column_map(source)
    try:
        base = data.load_base(source, columns)
    except HotspotsError as exc:
        st.error(md(plain(exc)))
        if not is_demo:
            if isinstance(exc, InputError):
                st.info("Name the columns under *Columns and coordinates* in the sidebar.")
            data.column_mapping_form(source)
        data.reading_form()  # the reading options: the filter panel holding them is not drawn
        return None
    data.show_opened(source, base.value)
    data.column_mapping_form(source, base.value)
    filters = data.sidebar_filters(base.value)
    method = detection.sidebar_method()
    loaded = data.load_incidents(source, columns, filters, base)
    incidents = loaded.value
    data.keep_near_misses(base.value, filters, incidents)
    if len(incidents) == 0:
        st.error("No incidents are left after the filters. Widen the date range or crime types.")
        data.show_report(incidents)
        return None
    base_params = detection.base_params(method, filters.harm)
    # The form's checkbox holds its submitted value in session state before it is drawn.
    auto_proactive = bool(st.session_state.get("leave_out_proactive", False))
    auto = detection.find(incidents, method, "intensity", base_params, auto_proactive)
    defaults = dict(auto.value.params.get("method_parameters", {}))
    order, params, proactive = detection.sidebar_params(method, defaults, filters.harm)
    tiles, attribution = map_section.sidebar_basemap()
    asked = order
    if order == "harm" and not incidents.has_weights:
        # The library refuses a harm ranking without weights, and the whole page would be that
        # one error: rank by intensity and say why above the tabs (harm_lines).
        order = "intensity"
    if params == base_params and order == "intensity" and proactive == auto_proactive:
        found = auto
    else:
        found = detection.find(incidents, method, order, params, proactive)
    return _Page(
        loaded,
        found,
        is_demo,
        bool(filters.harm),
        method,
        order,
        params,
        tiles,
        attribution,
        base=base.value,
        crime_types=list(filters.crime_types)
        if isinstance(filters.crime_types, tuple)
        else filters.crime_types,
        order_asked=asked,
    )


def harm_lines(harm_on: bool, weighted: bool, order_asked: str) -> list[str]:
    """What the page says above the tabs when harm was asked for and the incidents carry no
    weights: *Harm weights* on without a weight column or a table (every incident counts 1),
    and a ranking by harm (ranked by intensity instead)."""
    lines = []
    if harm_on and not weighted:
        lines.append(
            "*Harm weights* is on, but these files have no weight column and no table of "
            "weights was given, so every incident counts 1. Upload a table (crime_type,weight) "
            "under *Harm weights per crime type* and apply the filters."
        )
    if order_asked == "harm" and not weighted:
        lines.append(
            "Ranking by harm needs harm weights"
            + ("" if harm_on else ": switch on *Harm weights* under *2. Filters*")
            + ". The hot spots are ranked by intensity until then."
        )
    return lines


def _open_tab(page: _Page) -> None:
    """The tabs; only the open one runs."""
    result, incidents = page.found.value, page.incidents
    tabs = dict(zip(TABS, st.tabs(TABS, key="tab", on_change="rerun"), strict=True))
    _drawing(tabs["Map"].open)  # another tab open: no first map in this run for plans to wait on
    if tabs["Map"].open:
        with tabs["Map"]:
            _map_tab(result, incidents, page)
    if tabs["Hot spot details"].open:
        with tabs["Hot spot details"]:
            guide_step("Hot spot details")
            detail.section(result, plan.current(result).bundle)
    if tabs["Patrol plan"].open:
        with tabs["Patrol plan"]:
            guide_step("Patrol plan")
            if len(result.hotspots):
                plan.section(result)
            else:
                st.info("No hot spots, so no patrol plan.")
    if tabs["Tracking"].open:
        with tabs["Tracking"]:
            guide_step("Tracking")
            stop_search_notice()
            if len(result.hotspots):
                tracking.section(result, page.tiles, page.attribution, demo=page.is_demo)
            else:
                st.info("No hot spots, so no patrol plan to track: load data with hot spots first.")
    if tabs["Assess"].open:
        with tabs["Assess"]:
            guide_step("Assess")
            stop_search_notice()
            if len(result.hotspots):
                assess.section(result, demo=page.is_demo)
            else:
                st.info(
                    "No hot spots, so no patrol plan to assess: load data with hot spots first."
                )
    if tabs["Change over time"].open:
        with tabs["Change over time"]:
            guide_step("Change over time")
            stop_search_notice()
            change.section(incidents)
    if tabs["Check against a later period"].open:
        with tabs["Check against a later period"]:
            guide_step("Check against a later period")
            holdout.section(incidents, page.method, page.params)
    if tabs["Data and report"].open:
        with tabs["Data and report"]:
            guide_step("Data and report")
            data.show_report(incidents)
            detection.show_concentration(result)
    if tabs["Downloads"].open:
        with tabs["Downloads"]:
            guide_step("Downloads")
            stop_search_notice()
            _downloads(result, incidents, page)


def _map_tab(result: Any, incidents: Any, page: _Page) -> None:
    """The Map tab. The patrol areas layer needs the plan (forecast, areas, plan: the longest
    step after detection); a plan not made yet is made after the map is drawn without it, then
    the page is drawn again with the layer (all later runs find it cached)."""
    state = plan.current(result, wait=False)
    map_section.section(
        result,
        page.tiles,
        page.attribution,
        plan_bundle=state.bundle,
        plan_layer=plan.layer(state.bundle),
        plan_pending=state.pending,
        emerging=lambda: change.current(incidents),
        change=lambda: change.two_periods_current(incidents),
    )
    _drawing(False)  # this session's map is drawn: other sessions' plans need not wait for it
    if not state.pending or not map_section.patrol_areas_on():
        return
    key = plan.plan_key(result)
    with st.spinner("Placing the patrol areas for the map..."):
        _after_first_maps()
        plan.current(result)
    if st.session_state.get("_plan_drawn") != key:  # once per plan: never a loop of reruns
        st.session_state["_plan_drawn"] = key
        st.rerun()


# The script runs (threads) that may still draw a first map: every run from its start until its
# map is handed to the browser, or until it finds another tab open. A plan made after a first map
# waits for the other sessions' first maps (at most FIRST_MAPS_WAIT_S): ten people uploading at
# once each see their own map sooner, their patrol areas a little later.
_DRAWING: set[int] = set()
_DRAWING_LOCK = threading.Lock()
#: The longest a plan made after the first map waits for other sessions' first maps, in seconds.
FIRST_MAPS_WAIT_S = 60.0


def _drawing(on: bool) -> None:
    with _DRAWING_LOCK:
        (_DRAWING.add if on else _DRAWING.discard)(threading.get_ident())


def _after_first_maps() -> None:
    """Wait while other sessions draw their first maps (an element redrawn each half second, so
    a click in this session still stops the wait)."""
    _drawing(False)
    deadline = time.monotonic() + FIRST_MAPS_WAIT_S
    slot = st.empty()
    while time.monotonic() < deadline:
        with _DRAWING_LOCK:
            if not _DRAWING:
                break
        slot.empty()
        time.sleep(0.5)


def _downloads(result: Any, incidents: Any, page: _Page) -> None:
    bundle = plan.current(result).bundle
    emerging, _ = change.current(incidents)
    downloads.section(
        result,
        page.tiles,
        page.attribution,
        plan_buttons=(lambda: plan.download_buttons(bundle)) if bundle else None,
        change_button=(lambda: change.download_button(incidents))
        if emerging is not None and len(emerging)
        else None,
        problem=lambda: downloads.problem_button(
            page.base,
            page.crime_types,
            page.method,
            str(recall("plan_staffing", plan.DEFAULTS["plan_staffing"])),
        ),
    )


# Whether the objects of the process's first script run were set aside from the collector.
_FROZEN: list[bool] = []
_FROZEN_LOCK = threading.Lock()


def _freeze_once() -> None:
    """After the first script run, move what lives then out of the collector's sight.

    The modules, the demo's analysis and every cache made so far live as long as the server; each
    full collection of the cyclic garbage collector (one every few tens of thousands of new
    long-lived objects, several per upload) walked all of them again. Collected once first, so
    no garbage is kept; later objects are collected as before (what other sessions' first runs
    hold at that moment is set aside too: cycles among it that die later stay, a one-off).
    """
    with _FROZEN_LOCK:
        if _FROZEN:
            return
        _FROZEN.append(True)
    gc.collect()
    gc.freeze()


def run() -> None:
    """Run the app; turn errors into one readable message, never a traceback."""
    _drawing(True)
    try:
        main()
    except HotspotsError as exc:
        st.error(md(plain(exc)))
    except Exception:
        LOG.exception("Unexpected error in the hotspots app")
        st.error(
            "Something went wrong that the app did not expect. The details are in the server "
            "log; please report them. Your files were not changed."
        )
    finally:
        _drawing(False)
        _freeze_once()
