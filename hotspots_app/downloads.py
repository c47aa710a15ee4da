"""Downloads: every file the app makes, in one place.

The hot spots (GeoJSON, GeoPackage, ranked CSV, a standalone map that opens offline), the patrol
plan's files, the change-over-time areas and the analyst's problem profile (HTML,
:func:`hotspots.workflows.problem_report_bytes`). Files are built when their button is clicked
and cached on the detection run's fingerprint (the run record, a few kilobytes, at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from hotspots import workflows
from hotspots.detect import HotspotResult
from hotspots.incidents import Incidents
from hotspots_app.common import cache_data

HOTSPOT_FILES = {
    "geojson": ("Hot spots (GeoJSON)", "hotspots.geojson", "application/geo+json"),
    "gpkg": ("Hot spots (GeoPackage)", "hotspots.gpkg", "application/geopackage+sqlite3"),
    "csv": ("Ranked table (CSV)", "hotspots_ranked.csv", "text/csv"),
}


@cache_data(max_entries=8)
def export_bytes(result: HotspotResult, kind: str) -> bytes:
    """The hot spots as GeoJSON, GeoPackage or CSV bytes (``workflows.hotspot_bytes``)."""
    return workflows.hotspot_bytes(result, kind)


@cache_data(max_entries=8)
def run_record(result: HotspotResult) -> bytes:
    """The run's whole record as JSON (``workflows.run_record_bytes``)."""
    return workflows.run_record_bytes(result)


@cache_data(max_entries=8)
def standalone_map(result: HotspotResult, tiles: str, attribution: str | None) -> bytes:
    """The map as one HTML file that opens offline (:func:`hotspots.workflows.standalone_map`)."""
    return workflows.standalone_map(result, tiles=tiles, attribution=attribution).encode("utf-8")


@cache_data(max_entries=4)
def problem_profile(incidents: Incidents, crime_types: Any, method: str, staffing: str) -> bytes:
    """The problem profile report (HTML) of the incidents read with every crime type:
    :func:`hotspots.workflows.problem_report_bytes` with the filters' violence types, the
    sidebar's method and the plan's staffing model."""
    return workflows.problem_report_bytes(
        incidents, "html", crime_types=crime_types, method=method, staffing=staffing
    )


def problem_button(incidents: Incidents, crime_types: Any, method: str, staffing: str) -> None:
    """The problem profile's download (built when clicked: a minute or so on a year of a force)."""
    st.download_button(
        "Problem profile (HTML, printable)",
        data=lambda: problem_profile(incidents, crime_types, method, staffing),
        file_name="problem_profile.html",
        mime="text/html",
        key="dl_problem",
        on_click="ignore",
    )
    st.caption(
        "The analyst's problem profile: scale and trend of violence, its concentration, the "
        "ranked places and their patterns, persistent and emerging places, other crime and "
        "anti-social behaviour around them, the hold-out evidence and the recommended tactics. "
        "Built when clicked; it takes a while."
    )


def section(
    result: HotspotResult,
    tiles: str,
    attribution: str | None,
    *,
    plan_buttons: Callable[[], Any] | None = None,
    change_button: Callable[[], Any] | None = None,
    problem: Callable[[], Any] | None = None,
) -> None:
    """The "Downloads" tab. ``plan_buttons`` and ``change_button`` draw those sections' files."""
    st.subheader("Hot spots")
    c = st.columns(5)
    for col, (kind, (label, file_name, mime)) in zip(c, HOTSPOT_FILES.items(), strict=False):
        col.download_button(
            label,
            # built when clicked (then cached): nationally 18,000 hot spots are a 107 MB
            # GeoJSON, not to be built and sent with every rerun of this tab
            data=lambda kind=kind: export_bytes(result, kind),
            file_name=file_name,
            mime=mime,
            key=f"dl_{kind}",
            on_click="ignore",
        )
    c[3].download_button(
        "Map (HTML, opens offline)",
        data=lambda: standalone_map(result, tiles, attribution),
        file_name="hotspots_map.html",
        mime="text/html",
        key="dl_html",
        on_click="ignore",
    )
    c[4].download_button(
        "Run record (JSON)",
        data=run_record(result),
        file_name="hotspots.run.json",
        mime="application/json",
        key="dl_record",
        on_click="ignore",
    )
    st.caption(
        "The hot spot files carry the run's parameters and the input files' SHA-256, so a run "
        "can be reproduced and compared; the run record holds all of it in one file (the CSV's "
        "rows name more than a dozen input files by a digest)."
    )
    if plan_buttons is not None:
        st.subheader("Patrol plan")
        plan_buttons()
    if change_button is not None:
        st.subheader("Change over time")
        change_button()
    if problem is not None:
        st.subheader("Problem profile")
        problem()
