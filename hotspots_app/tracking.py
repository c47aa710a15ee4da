"""Tracking: what the patrols delivered, from GPS / AVL logs, set against the current plan.

The guide's step after tasking. The logs are uploaded (CSV, GPX, GeoJSON; read with the same row
accounting as incident files) or, on the synthetic demo data, generated from the plan with a
known delivery (:func:`hotspots.tracking.simulate_patrol_logs`, always labelled synthetic). The
controls are a form inside a fragment (:func:`section`): applying them reruns this tab only,
never detection. The logs' source is kept across tabs; the tracking is cached on the plan's key
(detection run, area and plan settings) and the logs.
"""

from __future__ import annotations

import html
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from hotspots import mapping, offline
from hotspots.constants import TIME_ZONE
from hotspots.detect import HotspotResult
from hotspots.export import json_text
from hotspots.tracking import (
    Compliance,
    PatrolLogs,
    compare_with_plan,
    read_patrol_logs,
    rebuild_visits,
    render_tracking_report,
    simulate_patrol_logs,
    visits_geojson,
    write_patrol_log,
)
from hotspots_app import map as map_section
from hotspots_app import plan as plan_section
from hotspots_app import tasking as tasking_section
from hotspots_app.common import cache_data, cache_resource, capture, md, plain, show_warnings

#: Seed of the synthetic logs (the same seed and plan give the same logs).
DEFAULT_SEED = 7
#: File name the synthetic logs are read under (and shown in the row accounting).
SYNTHETIC_NAME = "synthetic_patrol_log.csv"
MAP_HEIGHT = 520
#: Visit line colours by the presence visit's status.
STATUS_COLOURS = {
    "delivered": "#1a9850",
    "short": "#fdae61",
    "unplanned": "#7b3294",
    "contamination": "#d73027",
}
TRACKING_FILES = {
    "compliance": ("Compliance (CSV)", "compliance.csv", "text/csv"),
    "area_days": ("Minutes per area per day (CSV)", "area_days.csv", "text/csv"),
    "visits": ("Visits (GeoJSON)", "visits.geojson", "application/geo+json"),
    "report": ("Tracking report (HTML, printable)", "tracking_report.html", "text/html"),
}
_SOURCE = "_tracking_source"
#: The incidents (fingerprint) the time zone box was last filled for (as the tasking's).
_ZONE_FOR = "trk_time_zone_for"


# --------------------------------------------------------------------------------- cached
def synthetic_logs(plan: Any, areas: Any, seed: int) -> PatrolLogs:
    """Synthetic GPS logs from a plan, read back as a CSV patrol log (with its row accounting).

    :func:`hotspots.tracking.simulate_patrol_logs` with ``seed``, written by
    :func:`hotspots.tracking.write_patrol_log` and read by
    :func:`hotspots.tracking.read_patrol_logs` as ``synthetic_patrol_log.csv``.
    """
    sim = simulate_patrol_logs(plan, areas, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_patrol_log(sim.points, Path(tmp) / SYNTHETIC_NAME)
        data = path.read_bytes()
    return read_patrol_logs([(SYNTHETIC_NAME, data)])


@dataclass(frozen=True)
class Tracked:
    """The logs read, the visits rebuilt from them and their comparison with the plan."""

    logs: PatrolLogs
    visits: Any
    compliance: Compliance | None
    synthetic: bool


def _track(plan: Any, areas: Any, source: tuple[Any, ...]) -> Tracked:
    kind = source[0]
    if kind == "synthetic":
        logs = synthetic_logs(plan, areas, int(source[1]))
    else:  # ("upload", files) or ("upload", files, time zone of times without an offset)
        logs = read_patrol_logs(list(source[1]), tz=source[2] if len(source) > 2 else TIME_ZONE)
    if logs.report.n_used == 0:
        return Tracked(logs, None, None, kind == "synthetic")
    visits = rebuild_visits(logs, areas)
    return Tracked(logs, visits, compare_with_plan(visits, plan, logs=logs), kind == "synthetic")


# cache_resource: the results are read-only here and shared between sessions.
@cache_resource(max_entries=8)
def tracked_for(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    source: tuple[Any, ...],
) -> Any:
    """The :class:`Tracked` logs for the plan these settings make, with the warnings raised.

    ``source`` is ``("synthetic", seed)`` or ``("upload", ((name, bytes), ...))``.
    """
    made = plan_section.patrol_plan_for(result, significant_only, radius_m, settings).value
    return capture(_track, made.plan, made.areas, source)


@cache_data(max_entries=8)
def tracking_file(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    source: tuple[Any, ...],
    kind: str,
    demo: bool,
) -> bytes:
    """One of :data:`TRACKING_FILES`, built when clicked."""
    made = plan_section.patrol_plan_for(result, significant_only, radius_m, settings).value
    t = tracked_for(result, significant_only, radius_m, settings, source).value
    c = t.compliance
    if kind == "compliance":
        return c.to_csv().encode("utf-8")
    if kind == "area_days":
        return c.area_days_csv().encode("utf-8")
    if kind == "visits":
        meta = {"tracking": c.params, "logs": t.logs.report.to_dict()}
        return json_text(visits_geojson(t.visits, c, meta)).encode("utf-8")
    report = render_tracking_report(
        c, logs=t.logs, visits=t.visits, areas=made.areas, synthetic=t.synthetic or demo
    )
    return report.encode("utf-8")


# ---------------------------------------------------------------------------------- map
def visits_layer(visits: Any, compliance: Compliance) -> Any:
    """The units' visits as coloured lines (by status) for ``feature_group_to_add``, or None.

    Tooltips give the unit (escaped: it comes from the log file), the area, the minutes and
    the status.
    """
    import folium

    if visits is None or not len(visits):
        return None
    data = visits_geojson(visits, compliance)
    for feature in data["features"]:
        p = feature["properties"]
        feature["properties"] = {
            "unit": html.escape(str(p.get("unit", ""))),
            "area": html.escape(str(p.get("patrol_area_id", ""))),
            "minutes": f"{float(p.get('minutes') or 0):.1f}",
            "status": html.escape(str(p.get("status") or "")),
            "_colour": STATUS_COLOURS.get(str(p.get("status")), "#555555"),
        }
    fg = folium.FeatureGroup(name="Patrol visits", control=False)
    folium.GeoJson(
        data,
        style_function=_visit_style,
        tooltip=folium.GeoJsonTooltip(
            fields=["unit", "area", "minutes", "status"],
            aliases=["Unit", "Patrol area", "Minutes", "Status"],
            sticky=True,
        ),
        zoom_on_click=False,
    ).add_to(fg)
    return fg


def _visit_style(feature: dict[str, Any]) -> dict[str, Any]:
    colour = feature["properties"]["_colour"]
    return {"color": colour, "weight": 3, "opacity": 0.85, "fillColor": colour, "radius": 4}


# The visits layer of each tracking (a Tracked, cached by tracked_for), made once: every rerun
# draws the same layer object, so its script is rendered once (map.layer_script). By the
# object's id (a Tracked hashes by its fields), dropped with it.
_VISIT_LAYERS = map_section.PerObject()


def visits_layer_of(t: Tracked) -> Any:
    """:func:`visits_layer` of a tracking, made once (shared read-only, see
    :func:`hotspots_app.plan.layer`)."""
    return _VISIT_LAYERS.get(t, lambda: visits_layer(t.visits, t.compliance))


@cache_resource(max_entries=8)
def tracking_map(result: HotspotResult, tiles: str, attribution: str | None) -> Any:
    """The tab's map of a detection run and basemap (:func:`hotspots.mapping.build_map`, local
    assets), drawn once (:func:`hotspots_app.map.draw`); the patrol areas and visits are layers
    beside it."""
    m = mapping.build_map(
        result.hotspots, result.incidents, tiles=tiles, tile_attribution=attribution
    )
    offline.localize(m)
    return map_section.draw(m)


def show_map(
    result: HotspotResult,
    bundle: Any,
    t: Tracked,
    tiles: str,
    attribution: str | None,
) -> None:
    """The hot spots with the plan's patrol areas and the units' visits drawn over them.

    What :func:`streamlit_folium.st_folium` sends for the map with both layers, the map drawn
    once per run and basemap and each layer made once (the plan's: :func:`plan_section.layer`).
    """
    with st.spinner("Drawing the map..."):
        drawn = tracking_map(result, tiles, attribution)
        layers = [
            layer for layer in (plan_section.layer(bundle), visits_layer_of(t)) if layer is not None
        ]
    map_section.show_drawn(
        drawn,
        key="trk_map",
        height=MAP_HEIGHT,
        width="stretch",
        returned_objects=[],
        feature_group_to_add=layers or None,
    )
    st.caption(
        "Blue = planned patrol areas. Lines: where each unit went inside (or near) an area, "
        "coloured by status: green delivered, orange short, purple unplanned, red contamination "
        "(in a control area on its control day)."
    )


# ----------------------------------------------------------------------------- the form
def current_source() -> tuple[Any, ...] | None:
    """The logs last tracked in this session: ``("synthetic", seed)``, ``("upload", files)`` or
    None."""
    return st.session_state.get(_SOURCE)


def _use_uploads(default_zone: str = TIME_ZONE) -> None:
    files = st.session_state.get("trk_uploads") or []
    if files:
        zone = str(st.session_state.get("trk_time_zone") or "").strip() or default_zone
        st.session_state[_SOURCE] = (
            "upload",
            tuple((f.name, f.getvalue()) for f in files),
            zone,
        )


def _use_synthetic() -> None:
    st.session_state[_SOURCE] = ("synthetic", int(st.session_state.get("trk_seed", DEFAULT_SEED)))


def _form(demo: bool, incidents: Any) -> None:
    chosen = tasking_section.zone_choice(incidents)
    ss = st.session_state
    if ss.get(_ZONE_FOR) != incidents.fingerprint or "trk_time_zone" not in ss:
        # other data (or the box forgotten with its tab): the zone where the incidents are
        ss[_ZONE_FOR] = incidents.fingerprint
        ss["trk_time_zone"] = chosen.zone
    with st.form("trk_form"):
        st.file_uploader(
            "Patrol logs: GPS / AVL fixes (CSV with unit, time, latitude/longitude; GPX; GeoJSON)",
            type=["csv", "gpx", "geojson", "json"],
            accept_multiple_files=True,
            key="trk_uploads",
            help="Times without a UTC offset are read in the time zone below. Files stay on "
            "this server.",
        )
        st.text_input(
            "Time zone of log times without a UTC offset",
            key="trk_time_zone",
            help="An IANA time zone name such as Europe/London or America/Chicago. Times that "
            "carry an offset (2026-03-07T22:15:00+00:00) are read exactly whatever this says.",
        )
        st.caption(md(tasking_section.zone_caption(chosen)))
        if demo:
            st.number_input(
                "Seed of the synthetic logs",
                min_value=0,
                max_value=2**32 - 1,
                value=DEFAULT_SEED,
                step=1,
                key="trk_seed",
            )
        b = st.columns([1, 1, 3])
        b[0].form_submit_button(
            "Track the uploaded logs",
            key="trk_submit",
            type="primary",
            on_click=_use_uploads,
            args=(chosen.zone,),
        )
        if demo:
            b[1].form_submit_button(
                "Generate synthetic logs", key="trk_synthetic", on_click=_use_synthetic
            )


# -------------------------------------------------------------------------------- the tab
def _metrics(t: Tracked) -> None:
    r = t.logs.report
    c = st.columns(3)
    c[0].metric("Log rows read", f"{r.n_read:,}")
    c[1].metric("Fixes used", f"{r.n_used:,}")
    c[2].metric("Rows rejected", f"{r.n_rejected:,}")
    with st.expander("How the logs were read"):
        for note in t.logs.notes:
            st.text("• " + plain(note))
    if r.n_rejected:
        st.download_button(
            "Rejected rows (CSV)",
            data=t.logs.rejected_csv(),
            file_name="rejected_rows.csv",
            mime="text/csv",
            key="trk_rejected",
            on_click="ignore",
        )


def nothing_usable(logs: Any) -> str:
    """Why no visit could be rebuilt, in one message: the files' own notes said here (not only
    in the collapsed expander), and the rejected rows pointed to only when there are some."""
    r = logs.report
    if not r.n_read:
        head = "The patrol log file(s) hold no fixes (no data rows)."
    elif r.n_rejected:
        head = (
            "None of the patrol log rows could be used: every row was rejected (reasons in "
            "'Rejected rows (CSV)' above)."
        )
    else:
        head = "None of the patrol log rows could be used."
    # The per-file notes (a header without the needed columns, a file that is not readable).
    said = [plain(n) for n in logs.notes if not str(n).startswith(("Read ", "Rejected: "))]
    return " ".join([head, *said])


def summary_values(c: Compliance) -> dict[str, str]:
    """The summary metrics' labels and values as shown."""
    s = c.summary
    return {
        "Planned visits": f"{int(s['planned_visits']):,}",
        "Delivered": f"{int(s['delivered']):,}",
        "Short (< 10 min)": f"{int(s['short']):,}",
        "Missed": f"{int(s['missed']):,}",
        "Unplanned visits": f"{int(s['unplanned_visits']):,}",
        "Contamination minutes": f"{float(s['contamination_minutes']):,.0f}",
    }


@st.fragment
def section(
    result: HotspotResult, tiles: str, attribution: str | None, *, demo: bool = False
) -> None:
    """The "Tracking" tab: logs in, row accounting, compliance, map, downloads (reruns alone)."""
    st.subheader("Tracking")
    st.caption(
        "What the patrols delivered: visits rebuilt from GPS / AVL logs (continuous presence in a "
        "patrol area, tolerating short gaps and jitter) and set against the current plan: "
        "delivered, short (under 10 minutes), missed, unplanned, and time in control areas."
    )
    state = plan_section.current(result)
    bundle = state.bundle
    if bundle is None:
        st.info(
            "There is no patrol plan yet: make one in the Patrol plan tab"
            + (f" ({state.problem})" if state.problem else "")
            + "."
        )
        return
    _form(demo, result.incidents)
    source = st.session_state.get(_SOURCE)
    if source is None or (source[0] == "synthetic" and not demo):
        st.info(
            "Upload patrol logs and click *Track the uploaded logs*"
            + (", or generate synthetic logs from the plan." if demo else ".")
        )
        return
    key = (result, bundle.significant_only, bundle.radius_m, bundle.settings, source)
    with st.spinner("Reading the logs and rebuilding the visits..."):
        out = tracked_for(*key)
    show_warnings(out)
    t: Tracked = out.value
    if t.synthetic:
        st.warning(
            f"**Synthetic** patrol logs (seed {source[1]}), generated from the plan with a known "
            "delivery: a demonstration, not a record of real patrols."
        )
    _metrics(t)
    c = t.compliance
    if c is None:
        st.error(md(nothing_usable(t.logs)))
        return
    c_cols = st.columns(6)
    for col, (label, value) in zip(c_cols, summary_values(c).items(), strict=True):
        col.metric(label, value)
    for note in c.notes:
        st.caption(md(note))
    st.dataframe(c.table(), hide_index=True, key="trk_table")
    show_map(result, bundle, t, tiles, attribution)
    for col, (kind, (label, file_name, mime)) in zip(
        st.columns(len(TRACKING_FILES)), TRACKING_FILES.items(), strict=True
    ):
        col.download_button(
            label,
            data=lambda kind=kind: tracking_file(*key, kind, demo),
            file_name=file_name,
            mime=mime,
            key=f"trk_{kind}",
            on_click="ignore",
        )
