"""Downloads: every file the app makes, in one place.

The hot spots (GeoJSON, GeoPackage, ranked CSV, a standalone map that opens offline), the patrol
plan's files and the change-over-time areas. Files are built when their button is clicked (the
GeoJSON and CSV, small, at once) and cached on the detection run's fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from hotspots import workflows
from hotspots.detect import HotspotResult
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
def standalone_map(result: HotspotResult, tiles: str, attribution: str | None) -> bytes:
    """The map as one HTML file that opens offline (:func:`hotspots.workflows.standalone_map`)."""
    return workflows.standalone_map(result, tiles=tiles, attribution=attribution).encode("utf-8")


def section(
    result: HotspotResult,
    tiles: str,
    attribution: str | None,
    *,
    plan_buttons: Callable[[], Any] | None = None,
    change_button: Callable[[], Any] | None = None,
) -> None:
    """The "Downloads" tab. ``plan_buttons`` and ``change_button`` draw those sections' files."""
    st.subheader("Hot spots")
    c = st.columns(4)
    for col, (kind, (label, file_name, mime)) in zip(c, HOTSPOT_FILES.items(), strict=False):
        col.download_button(
            label,
            # GeoJSON and CSV are small: built now; the GeoPackage when clicked
            data=export_bytes(result, kind)
            if kind != "gpkg"
            else lambda kind=kind: export_bytes(result, kind),
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
    st.caption(
        "The hot spot files carry the run's parameters and the input files' SHA-256, so a run "
        "can be reproduced and compared."
    )
    if plan_buttons is not None:
        st.subheader("Patrol plan")
        plan_buttons()
    if change_button is not None:
        st.subheader("Change over time")
        change_button()
