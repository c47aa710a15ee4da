"""hotspots: the Streamlit app (user interface only).

Widgets -> the hotspots library (ingest, detect, export, tactics) -> hotspots.mapping ->
streamlit-folium. No analysis happens here. Run with ``make run`` or ``streamlit run app.py``.

Offline: the map's JavaScript and CSS are served from ``static/vendor/`` (see hotspots.offline),
usage statistics are off (.streamlit/config.toml) and the basemap can be switched off or pointed
at an internal tile server with the ``HOTSPOTS_TILES`` environment variable
(``openstreetmap``, ``none`` or an XYZ URL template; ``HOTSPOTS_TILES_ATTRIBUTION`` sets the
attribution of a custom server).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import secrets
from datetime import date, timedelta
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from hotspots import (
    HotspotsError,
    InputError,
    ParameterError,
    TooFewPeriodsError,
    constants,
    export,
    mapping,
    offline,
)
from hotspots.detect import detect as detect_hotspots
from hotspots.incidents import FILTER_REASONS as _FILTER_REASONS
from hotspots.ingest import R_POLYGON

LOG = logging.getLogger("hotspots.app")

METHOD_LABELS = {
    "kde": "Kernel density (KDE)",
    "dbscan": "DBSCAN clusters",
    "hdbscan": "HDBSCAN clusters",
    "gistar": "Getis-Ord Gi* (grid cells)",
}
ORDER_LABELS = {
    "intensity": "Intensity (incidents per km²)",
    "count": "Incident count",
    "harm": "Harm (weighted)",
}
#: Column roles the ingest accepts for an explicit mapping (hotspots.ingest / `hotspots --column`).
COLUMN_ROLES = {
    "lon": "Longitude",
    "lat": "Latitude",
    "easting": "Easting (British National Grid)",
    "northing": "Northing (British National Grid)",
    "month": "Month (YYYY-MM)",
    "date": "Date",
    "time": "Time of day",
    "datetime": "Date and time",
    "crime_type": "Crime type",
    "location": "Location text",
}
TILES_CHOICES = {
    "openstreetmap": "OpenStreetMap",
    "none": "None (no basemap, no outside requests)",
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
#: The hot classes of hotspots.emerging.CATEGORIES, one metric each (cold and mixed are summed).
EMERGING_HOT = (
    "persistent hot spot",
    "emerging hot spot",
    "former hot spot",
    "intermittent hot spot",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEMO_LABEL = "demo_incidents.csv (SYNTHETIC demo data)"
#: Ingest "rejection" reasons that are the user's own filters, not invalid rows.
FILTER_REASONS = _FILTER_REASONS
#: Default patrol plan seed: a fixed number, so the same data give the same plan until changed.
DEFAULT_SEED = 2718


# --------------------------------------------------------------------------------- helpers
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=])")


def md(text: Any) -> str:
    """Escape text (from a CSV, a file name, a library note) for ``st.markdown``.

    Markdown would otherwise turn ``![x](http://host/x.png)`` in a file name into an outside
    request, and ``$...$`` into LaTeX.
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _digest(sources: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in sources:
        h.update(name.encode("utf-8", "replace") + b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()[:20]


def _tiles_from_env() -> tuple[str, str]:
    """The basemap setting from ``HOTSPOTS_TILES``: (choice, custom URL)."""
    raw = os.environ.get("HOTSPOTS_TILES", "openstreetmap")
    try:
        value = mapping.resolve_tiles(raw)
    except HotspotsError:
        LOG.warning("Ignoring HOTSPOTS_TILES=%r: not 'openstreetmap', 'none' or a tile URL.", raw)
        return "openstreetmap", ""
    if value in ("openstreetmap", "none"):
        return value, ""
    return "custom", value


def _csv_headers(data: bytes) -> list[str]:
    """The header row of a CSV file (for the column-mapping form)."""
    text = data[:65536].decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",;\t|")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    row = next(csv.reader([first], delimiter=delim), [])
    return [h.strip() for h in row if h.strip()]


def _report_key(rep: Any) -> str:
    """A cache key for an ingest report: its input files' digests and row counts."""
    files = "|".join(f"{f.name}:{f.sha256}" for f in rep.files)
    return hashlib.sha256(
        f"{files}|{rep.n_read}|{rep.n_used}|{rep.n_rejected}".encode()
    ).hexdigest()[:20]


@st.cache_data(max_entries=4, show_spinner=False)
def rejected_csv(report_key: str, _rep: Any) -> bytes:
    """The rows left out with their reasons, spreadsheet-safe, as CSV bytes."""
    return export.table_to_csv(_rep.rejected).encode("utf-8")


# ----------------------------------------------------------------------- cached pipeline
# cache_resource: the objects are read-only here, large (a year of a force's incidents), and
# identical for identical inputs, so they are shared rather than copied on every rerun. The
# leading-underscore arguments are not hashed; the key arguments stand for them.


@st.cache_resource(max_entries=4, show_spinner=False)
def load_incidents(
    sources_key: str,
    _sources: list[tuple[str, bytes]],
    columns_json: str,
    crime_types: Any,
    date_from: str | None,
    date_to: str | None,
    study_area_key: str,
    _study_area: Any,
    harm: bool,
    harm_key: str = "",
    _harm_weights: dict[str, float] | None = None,
) -> Any:
    from hotspots.ingest import read_incidents

    columns = json.loads(columns_json)
    if not harm:
        columns["weight"] = None  # ignore a weight column: every incident counts 1
    kwargs: dict[str, Any] = {
        "columns": columns or None,
        "crime_types": list(crime_types) if isinstance(crime_types, tuple) else crime_types,
        "date_from": date_from,
        "date_to": date_to,
    }
    if _study_area is not None:
        kwargs["study_area"] = _study_area
    if harm and _harm_weights:
        kwargs["harm_weights"] = dict(_harm_weights)
    return read_incidents(list(_sources), **kwargs)


@st.cache_resource(max_entries=8, show_spinner=False)
def run_detect(
    incidents_key: str, _incidents: Any, method: str, order: str, params_json: str
) -> Any:
    return detect_hotspots(_incidents, method, order=order, **json.loads(params_json))


@st.cache_resource(max_entries=8, show_spinner=False)
def contours(result_key: str, _result: Any) -> list[Any]:
    """Density-surface outlines at half and a quarter of the hot spot level (KDE only)."""
    surface = _result.surface
    level = getattr(_result.estimator, "level_", None)
    if surface is None or level is None or not np.isfinite(level) or level <= 0:
        return []
    polys: list[Any] = []
    for frac in (0.25, 0.5):
        polys.extend(surface.contour_polygons(level * frac))
    return polys


@st.cache_resource(max_entries=8, show_spinner=False)
def membership(result_key: str, _result: Any) -> tuple[np.ndarray, np.ndarray]:
    from hotspots.profile import assign_incidents

    return assign_incidents(_result.hotspots.geometry, _result.incidents)


@st.cache_data(max_entries=8, show_spinner=False)
def export_bytes(result_key: str, _result: Any, kind: str) -> bytes:
    if kind == "geojson":
        return export.to_geojson(_result).encode("utf-8")
    if kind == "gpkg":
        return export.to_geopackage(_result)
    if kind == "csv":
        return export.to_csv(_result).encode("utf-8")
    msg = f"unknown export {kind!r}"
    raise ValueError(msg)


@st.cache_data(max_entries=8, show_spinner=False)
def standalone_map(result_key: str, _result: Any, tiles: str, attribution: str | None) -> bytes:
    m = mapping.build_map(
        _result.hotspots, _result.incidents, tiles=tiles, tile_attribution=attribution
    )
    return offline.standalone_html(m, params=_result.params).encode("utf-8")


@st.cache_data(max_entries=16, show_spinner=False)
def patrol_areas_for(result_key: str, _result: Any, significant_only: bool, radius_m: float) -> Any:
    """Patrol-sized discs inside the ranked hot spots (all, or the significant ones).

    Keyed on the detection run and the area settings only, so a change to the plan (days,
    capacity, seed ...) reuses them, and none of it reruns detection.
    """
    from hotspots.patrol import make_patrol_areas

    ranked = _result.hotspots
    if significant_only:
        ranked = ranked[ranked["significant"].astype(bool)]
    if not len(ranked):
        return None
    return make_patrol_areas(_result.incidents, ranked, radius_m=radius_m)


@st.cache_data(max_entries=16, show_spinner=False)
def patrol_plan_for(
    areas_key: str, _areas: Any, _result: Any, settings_json: str
) -> tuple[Any, dict]:
    """(PatrolPlan, tactic matches per patrol area), as ``hotspots plan`` makes them."""
    from hotspots.patrol import make_patrol_plan, match_areas
    from hotspots.tactics import load_knowledge_base

    kb = load_knowledge_base()
    matches = match_areas(_result.incidents, _areas, kb)
    plan = make_patrol_plan(_areas, matches=matches, kb=kb, **json.loads(settings_json))
    return plan, matches


@st.cache_data(max_entries=8, show_spinner=False)
def plan_file(plan_key: str, _bundle: dict[str, Any], kind: str) -> bytes:
    """A patrol plan download, built when its button is clicked (then cached)."""
    plan, areas, matches, result = (_bundle[k] for k in ("plan", "areas", "matches", "result"))
    if kind == "csv":
        return plan.to_csv().encode("utf-8")
    if kind == "ics":
        return plan.to_ical().encode("utf-8")
    if kind == "geojson":
        doc = export.patrol_areas_geojson(areas, plan=plan, matches=matches, params=result.params)
        return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")
    if kind == "briefing":
        from hotspots.briefing import render_briefing

        html = render_briefing(
            areas, result.hotspots, plan, matches, params=result.params, incidents=result.incidents
        )
        return html.encode("utf-8")
    msg = f"unknown plan file {kind!r}"
    raise ValueError(msg)


@st.cache_resource(max_entries=8, show_spinner=False)
def run_classify(incidents_key: str, _incidents: Any, settings_json: str) -> Any:
    """Persistent / emerging classification (hotspots.emerging), cached apart from detection."""
    from hotspots.emerging import classify_hotspots

    return classify_hotspots(_incidents, **json.loads(settings_json))


@st.cache_data(max_entries=8, show_spinner=False)
def emerging_geojson(classify_key: str, _areas: Any, _res: Any, _incidents: Any) -> bytes:
    """The classified areas as RFC 7946 GeoJSON with the run's provenance and parameters."""
    from hotspots.detect import run_provenance

    params = {**run_provenance(_incidents), "method": "emerging", "method_parameters": _res.params}
    doc = export.features_geojson(_areas, params)
    return json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8")


@st.cache_data(max_entries=8, show_spinner=False)
def holdout_for(
    incidents_key: str,
    _incidents: Any,
    first_test_month: str,
    methods: tuple[str, ...],
    params_json: str,
) -> pd.DataFrame:
    """Hold-out evaluation (hotspots.evaluate.holdout): fit on the months before, score on the rest."""
    from hotspots.evaluate import holdout

    return holdout(_incidents, first_test_month, methods=methods, params=json.loads(params_json))


# ------------------------------------------------------------------------------ sidebar
def sidebar_data() -> tuple[list[tuple[str, bytes]], bool]:
    """Upload widget; returns the sources and whether they are the synthetic demo."""
    st.sidebar.header("1. Data")
    files = st.sidebar.file_uploader(
        "Incident CSV files (one or many, e.g. a year of police.uk monthly files)",
        type=["csv"],
        accept_multiple_files=True,
        key="uploads",
        help="police.uk street-level files, or any CSV with longitude/latitude or "
        "easting/northing columns. Files stay on this server.",
    )
    if files:
        return [(f.name, f.getvalue()) for f in files], False
    from hotspots.demo import ensure_demo_csv

    path = ensure_demo_csv()
    st.sidebar.caption("No file uploaded: showing the bundled **synthetic** demo data.")
    return [(DEMO_LABEL, path.read_bytes())], True


def sidebar_filters(base: Any) -> dict[str, Any]:
    st.sidebar.header("2. Filters")
    frame = base.frame if base is not None else pd.DataFrame()
    out: dict[str, Any] = {"crime_types": "default", "date_from": None, "date_to": None}
    types = (
        sorted(t for t in frame["crime_type"].dropna().astype(str).unique() if t)
        if "crime_type" in frame
        else []
    )
    if types:
        chosen = st.sidebar.multiselect(
            "Crime types",
            types,
            default=None,
            key="crime_types",
            placeholder="Violence (default)",
            help="Empty = the default violence-related types.",
        )
        if chosen:
            out["crime_types"] = tuple(sorted(chosen))
    months = frame["month"].dropna() if "month" in frame else pd.Series(dtype="datetime64[ns]")
    if len(months):
        lo = months.min().date()
        hi = (months.max() + pd.offsets.MonthEnd(0)).date()
        picked = st.sidebar.date_input(
            "Date range",
            value=(lo, hi),
            min_value=lo,
            max_value=hi,
            key="dates",
            format="YYYY-MM-DD",
        )
        if isinstance(picked, tuple | list) and len(picked) == 2:
            a, b = picked
            if isinstance(a, date) and a > lo:
                out["date_from"] = a.isoformat()
            if isinstance(b, date) and b < hi:
                out["date_to"] = b.isoformat()
    area = st.sidebar.file_uploader(
        "Study area (GeoJSON polygon, optional)", type=["geojson", "json"], key="study_area"
    )
    out["study_area_key"] = ""
    out["study_area"] = None
    if area is not None:
        data = area.getvalue()
        out["study_area_key"] = hashlib.sha256(data).hexdigest()[:20]
        out["study_area"] = _study_area_geometry(area.name, data)
    out["harm"] = st.sidebar.toggle(
        "Harm weights",
        value=False,
        key="harm",
        help="Weight each incident by harm: from the file's weight column, or from a table of "
        "weights per crime type (e.g. Cambridge Crime Harm Index days). Off: every incident counts 1.",
    )
    out["harm_key"], out["harm_weights"] = "", None
    if out["harm"]:
        table = st.sidebar.file_uploader(
            "Harm weights per crime type (CSV: crime_type,weight)", type=["csv"], key="harm_table"
        )
        if table is not None:
            data = table.getvalue()
            out["harm_key"] = hashlib.sha256(data).hexdigest()[:20]
            out["harm_weights"] = _harm_table(table.name, data)
    return out


def _harm_table(name: str, data: bytes) -> dict[str, float]:
    """A two-column CSV (crime type, weight) as a dict; the library validates the values."""
    text = data.decode("utf-8-sig", errors="replace")
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    weights: dict[str, float] = {}
    for i, row in enumerate(rows, start=1):
        if len(row) < 2:
            msg = "expected two columns: crime type, weight."
            raise InputError(
                msg, file=name, row=i, hint="write one 'crime type,weight' pair per line."
            )
        try:
            weights[row[0].strip()] = float(row[1])
        except ValueError:
            if i == 1:
                continue  # a header line
            msg = f"weight {row[1]!r} is not a number."
            raise InputError(
                msg, file=name, row=i, column="weight", hint="use numbers like 365 or 0.5."
            ) from None
    return weights


def _study_area_geometry(name: str, data: bytes) -> Any:
    """The uploaded GeoJSON as a GeoDataFrame (EPSG:4326 unless it says otherwise)."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(io.BytesIO(data))
    except Exception as exc:  # pyogrio raises several types for a bad file
        msg = "not a readable GeoJSON file."
        raise InputError(
            msg, file=name, hint="export the study area as GeoJSON (EPSG:4326)."
        ) from exc
    if gdf.empty or not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any():
        msg = "the file holds no polygon."
        raise InputError(msg, file=name, hint="the study area must be a polygon or multipolygon.")
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    return gdf


def sidebar_method() -> tuple[str, str]:
    st.sidebar.header("3. Method")
    method = st.sidebar.selectbox(
        "Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="method"
    )
    order = st.sidebar.selectbox(
        "Rank hot spots by", list(ORDER_LABELS), format_func=ORDER_LABELS.get, key="order"
    )
    return method, order


def _auto(defaults: dict[str, Any], key: str, unit: str = "", rule_key: str | None = None) -> str:
    value = defaults.get(key)
    if value is None:
        return "automatic"
    text = f"{value:,.4g}{unit}" if isinstance(value, int | float) else str(value)
    rule = defaults.get(rule_key) if rule_key else None
    return f"{text}, chosen by the {rule} rule" if rule and rule not in ("user", "given") else text


def sidebar_params(method: str, defaults: dict[str, Any], harm: bool) -> dict[str, Any]:
    """Parameter widgets with the automatic values (from the data) shown next to them."""
    st.sidebar.header("4. Parameters")
    st.sidebar.caption("Leave a box empty to use the automatic value computed from the data.")
    p: dict[str, Any] = {}

    def number(
        label: str, key: str, auto_key: str, unit: str, rule_key: str | None, **kw: Any
    ) -> Any:
        auto = _auto(defaults, auto_key, unit, rule_key)
        value = st.sidebar.number_input(
            label, value=None, placeholder=f"auto: {auto}", key=f"{method}_{key}", **kw
        )
        st.sidebar.caption(f"Automatic: {md(auto)}")
        return value

    if method == "kde":
        bw = number(
            "Bandwidth (m)",
            "bandwidth",
            "bandwidth_m",
            " m",
            "bandwidth_rule_used",
            min_value=10.0,
            max_value=5000.0,
            step=10.0,
        )
        cell = number(
            "Cell size (m)",
            "cell_size",
            "cell_size_m",
            " m",
            None,
            min_value=1.0,
            max_value=1000.0,
            step=5.0,
        )
        coverage = st.sidebar.slider(
            "Hot spot coverage (% of study area)",
            0.5,
            10.0,
            constants.HOTSPOT_COVERAGE * 100,
            0.5,
            key="kde_coverage",
            help="The densest share of the study area that counts as hot. Default 2 %: half of "
            "crime falls on about 2-6 % of places (law of crime concentration).",
        )
        kernel = st.sidebar.selectbox("Kernel", ["quartic", "gaussian"], key="kde_kernel")
        if bw is not None:
            p["bandwidth"] = float(bw)
        if cell is not None:
            p["cell_size"] = float(cell)
        if coverage != constants.HOTSPOT_COVERAGE * 100:
            p["coverage"] = round(coverage / 100, 4)
        if kernel != "quartic":
            p["kernel"] = kernel
        p["use_weights"] = bool(harm)
    elif method == "dbscan":
        eps = number(
            "Search radius eps (m)",
            "eps",
            "eps_m",
            " m",
            "eps_rule",
            min_value=5.0,
            max_value=2000.0,
            step=5.0,
        )
        ms = number(
            "Minimum incidents (min_samples)",
            "min_samples",
            "min_samples",
            "",
            "min_samples_rule",
            min_value=2,
            max_value=100_000,
            step=1,
        )
        if eps is not None:
            p["eps"] = float(eps)
        if ms is not None:
            p["min_samples"] = int(ms)
    elif method == "gistar":
        cell = number(
            "Cell size (m)",
            "cell_size",
            "cell_size_m",
            " m",
            "cell_size_rule",
            min_value=10.0,
            max_value=2000.0,
            step=10.0,
        )
        dist = number(
            "Neighbour distance (m)",
            "neighbour_distance",
            "neighbour_distance_m",
            " m",
            None,
            min_value=0.0,
            max_value=5000.0,
            step=10.0,
        )
        if cell is not None:
            p["cell_size"] = float(cell)
        if dist is not None:
            p["neighbour_distance"] = float(dist)
    else:
        mcs = number(
            "Minimum cluster size",
            "min_cluster_size",
            "min_cluster_size",
            "",
            "min_cluster_size_rule",
            min_value=2,
            max_value=100_000,
            step=1,
        )
        ms = number(
            "min_samples",
            "min_samples",
            "min_samples",
            "",
            "min_samples_rule",
            min_value=1,
            max_value=100_000,
            step=1,
        )
        if mcs is not None:
            p["min_cluster_size"] = int(mcs)
        if ms is not None:
            p["min_samples"] = int(ms)
    return p


def sidebar_basemap() -> tuple[str, str | None]:
    st.sidebar.header("5. Basemap")
    env_choice, env_url = _tiles_from_env()
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


# ----------------------------------------------------------------------------- main area
def split_reasons(reasons: dict[str, int]) -> tuple[int, int]:
    """(rows filtered out by the user's filters, rows rejected as invalid) from reason counts.

    The ingest report counts both as "rejected"; for people they are different things: a row
    outside the chosen dates is fine, a row without coordinates is not.
    """
    filtered = sum(n for r, n in reasons.items() if r in FILTER_REASONS)
    return filtered, sum(reasons.values()) - filtered


def show_report(incidents: Any) -> None:
    rep = incidents.report
    reasons = rep.reason_counts()
    n_filtered, n_invalid = split_reasons(reasons)
    by_area = reasons.get(R_POLYGON, 0) > 0
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Rows read", f"{rep.n_read:,}")
    c2.metric("Rows used", f"{rep.n_used:,}")
    c3.metric(
        "Filtered out (crime type / dates" + (" / study area)" if by_area else ")"),
        f"{n_filtered:,}",
        help="Valid rows left out by the filters you chose (crime types, date range, study area).",
    )
    c4.metric(
        "Rejected (invalid rows)",
        f"{n_invalid:,}",
        help="Rows that could not be used: missing or impossible coordinates, unreadable dates, "
        "duplicates, stray points far from the rest. Reasons in the ingest report below.",
    )
    with st.expander("Ingest report: rows left out and automatic choices", expanded=False):
        if reasons:
            st.dataframe(
                pd.DataFrame(
                    {
                        "reason": list(reasons),
                        "kind": [
                            "filtered out" if r in FILTER_REASONS else "rejected" for r in reasons
                        ],
                        "rows": list(reasons.values()),
                    }
                ),
                hide_index=True,
            )
            st.download_button(
                "Download the rows left out, with their reason (CSV)",
                # built only when clicked, then cached: a year of a force holds ~500k such rows
                data=lambda: rejected_csv(_report_key(rep), rep),
                file_name="rejected_rows.csv",
                mime="text/csv",
                key="dl_rejected",
                on_click="ignore",
            )
        else:
            st.write("No rows were left out.")
        if rep.files:
            st.dataframe(
                pd.DataFrame([f.to_dict() for f in rep.files]).drop(
                    columns=["columns"], errors="ignore"
                ),
                hide_index=True,
            )
        for note in rep.notes:
            st.text("• " + str(note))
        if rep.choices:
            st.json(json.loads(json.dumps(rep.choices, default=str)), expanded=False)


def column_mapping_form(sources: list[tuple[str, bytes]], error: InputError) -> None:
    """Offered when the columns could not be detected: pick them from the file's headers."""
    headers = _csv_headers(sources[0][1]) if sources else []
    if not headers:
        return
    st.subheader("Map the columns")
    st.write(
        "Tell the app which column holds what. Give longitude and latitude, or easting and "
        "northing; a date or month column is needed for trends."
    )
    current = st.session_state.get("column_map", {})
    with st.form("column_map_form"):
        picks = {}
        cols = st.columns(2)
        for i, (role, label) in enumerate(COLUMN_ROLES.items()):
            options = ["(none)", *headers]
            default = current.get(role)
            idx = options.index(default) if default in options else 0
            picks[role] = cols[i % 2].selectbox(label, options, index=idx, key=f"colmap_{role}")
        if st.form_submit_button("Use these columns"):
            st.session_state["column_map"] = {r: h for r, h in picks.items() if h != "(none)"}
            st.rerun()


def sync_selection(ranked: Any) -> None:
    """Selection from a map click or a table row -> ``st.session_state["selected_id"]``.

    The table cannot be told its selection after it exists, so a map click gives the table a new
    key (``table_nonce``) and it is recreated with the clicked row selected.
    """
    ss = st.session_state
    ids = [str(i) for i in ranked["hotspot_id"]] if len(ranked) else []
    table_key = f"table_{ss.get('table_nonce', 0)}"
    table_state = ss.get(table_key)
    if table_state is not None:
        rows = list(table_state["selection"]["rows"])
        if rows != ss.get("_seen_rows") and rows and rows[0] < len(ids):
            ss["selected_id"] = ids[rows[0]]
        ss["_seen_rows"] = rows
    map_state = ss.get("map") or {}
    click = map_state.get("last_object_clicked") if isinstance(map_state, dict) else None
    if click and click != ss.get("_seen_click"):
        ss["_seen_click"] = click
        hit = mapping.hotspot_at(
            ranked, click.get("lat"), click.get("lng"), patrol_areas=ss.get("_patrol_areas")
        )
        if hit and hit in ids and hit != ss.get("selected_id"):
            ss["selected_id"] = hit
            ss["table_nonce"] = ss.get("table_nonce", 0) + 1
            ss["_seen_rows"] = [ids.index(hit)]
    if ss.get("selected_id") not in ids:
        ss["selected_id"] = ids[0] if ids else None
        ss["_seen_rows"] = [0] if ids else []


def _picked(ids: list[str]) -> None:
    """The selectbox changed: recreate the table with that row selected."""
    ss = st.session_state
    ss["table_nonce"] = ss.get("table_nonce", 0) + 1
    ss["_seen_rows"] = [ids.index(ss["selected_id"])] if ss.get("selected_id") in ids else []


def show_map(
    result: Any,
    tiles: str,
    attribution: str | None,
    key: str,
    plan: dict[str, Any] | None,
    emerging: Any = None,
) -> None:
    ranked = result.hotspots
    left, right = st.columns(2)
    show_areas = plan is not None and left.toggle(
        "Show patrol areas",
        value=True,
        key="show_patrol_areas",
        help="The patrol areas of the plan below: blue = planned, grey dashed = left out for capacity.",
    )
    show_emerging = (
        emerging is not None
        and len(emerging) > 0
        and right.toggle(
            "Persistent / emerging cells",
            value=False,
            key="show_emerging",
            help="The grid cells classified under *Change over time* below, coloured by pattern.",
        )
    )
    with st.spinner("Drawing the map..."):
        m = mapping.build_map(
            ranked,
            result.incidents,
            surface_polygons=gpd_series(contours(key, result), ranked.crs),
            tiles=tiles,
            tile_attribution=attribution,
        )
        offline.localize(m)
        # Layers that change with the selection or the plan go beside the map (feature_group_to_add):
        # a change to the map itself remounts the component and loses the user's pan and zoom.
        layers = [
            layer
            for layer in (
                patrol_layer(plan) if show_areas else None,
                mapping.emerging_layer(emerging) if show_emerging else None,
                mapping.selection_layer(ranked, st.session_state.get("selected_id")),
            )
            if layer is not None
        ]
    st_folium(
        m,
        key="map",
        height=560,
        width="stretch",
        returned_objects=["last_object_clicked"],
        feature_group_to_add=layers or None,
    )
    st.caption(
        "Darker = higher rank; blue outline = selected. Click a hot spot to select it. Blue heat: "
        "all incidents. Density contours (KDE) can be switched on in the layer box."
    )
    if show_emerging:
        present = [c for c in mapping.EMERGING_COLOURS if c in set(emerging["category"])]
        legend = ", ".join(f"{mapping.EMERGING_COLOURS[c][1]} = {c}" for c in present)
        st.caption(f"Persistent / emerging cells: {md(legend)}.")


def gpd_series(polys: list[Any], crs: Any) -> Any:
    import geopandas as gpd

    return gpd.GeoSeries(polys, crs=crs) if polys else None


def show_table(ranked: Any) -> None:
    cols = [c for c in TABLE_COLUMNS if c in ranked.columns]
    table = pd.DataFrame(ranked[cols]).reset_index(drop=True)
    if "harm" in table and table["harm"].isna().all():
        table = table.drop(columns="harm")
    ids = list(table["hotspot_id"].astype(str))
    sel = st.session_state.get("selected_id")
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


def show_details(result: Any, key: str, plan: dict[str, Any] | None = None) -> None:
    ranked = result.hotspots
    sel = st.session_state.get("selected_id")
    match = ranked[ranked["hotspot_id"].astype(str) == str(sel)]
    if match.empty:
        return
    row = match.iloc[0]
    pos = int(np.flatnonzero(ranked["hotspot_id"].astype(str).to_numpy() == str(sel))[0])
    st.subheader(f"Hot spot {md(row['hotspot_id'])}: rank {int(row['rank'])} of {len(ranked)}")
    c = st.columns(4)
    c[0].metric("Incidents", f"{int(row['incidents']):,}")
    c[1].metric("Share of all incidents", f"{float(row['share']):.1%}")
    c[2].metric("Area", f"{float(row['area_ha']):.2f} ha")
    c[3].metric("Longest side", f"{float(row.get('max_extent_m', float('nan'))):,.0f} m")
    st.text(
        f"Pattern: {row.get('temporal_class', '')}, trend {row.get('trend', '')}. "
        f"Peak window: {row.get('peak_window') or 'times of day not in the data'}."
    )
    left, right = st.columns(2)
    months = result.incidents.months
    counts = list(row.get("monthly_counts") or [])
    if len(months) and len(counts) == len(months):
        trend = pd.DataFrame({"month": months.strftime("%Y-%m"), "incidents": counts})
        left.altair_chart(
            alt.Chart(trend, title="Incidents per month")
            .mark_bar(color="#bd0026")
            .encode(
                x=alt.X("month:O", title=None),
                y=alt.Y("incidents:Q", title="incidents"),
                tooltip=["month", "incidents"],
            ),
            width="stretch",
        )
    if bool(row.get("has_time")):
        inc_idx, poly_idx = membership(key, result)
        frame = result.incidents.frame.iloc[inc_idx[poly_idx == pos]]
        frame = frame[frame["has_time"]]
        if len(frame):
            dt = pd.to_datetime(frame["datetime"])
            full = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
            grid = (
                pd.DataFrame({"weekday": dt.dt.day_of_week, "hour": dt.dt.hour})
                .value_counts()
                .reindex(full, fill_value=0)
                .rename("incidents")
                .reset_index()
            )
            grid["day"] = grid["weekday"].map(dict(enumerate(WEEKDAYS)))
            right.altair_chart(
                alt.Chart(grid, title="Hour of day by weekday")
                .mark_rect()
                .encode(
                    x=alt.X("hour:O", title="hour"),
                    y=alt.Y("day:O", sort=list(WEEKDAYS), title=None),
                    color=alt.Color("incidents:Q", scale=alt.Scale(scheme="orangered")),
                    tooltip=["day", "hour", "incidents"],
                ),
                width="stretch",
            )
    else:
        right.info("The data carry no time of day, so there is no hour-by-weekday profile.")
    show_tactics(row, len(ranked))
    show_hotspot_plan(plan, row)


def show_tactics(row: Any, n: int) -> None:
    try:
        from hotspots.tactics import match_tactics
    except ImportError:
        return
    matches = match_tactics(row, n_hotspots=n)
    if not matches:
        return
    st.markdown("#### Patrol tactics for this hot spot")
    if matches[0].caveat:
        st.caption(md(matches[0].caveat))
    for m in matches[:6]:
        t = m.tactic
        label = f"{'⚠ ' if t.caution else ''}{t.name} (evidence {t.evidence.get('strength', '?')})"
        with st.expander(label, expanded=m is matches[0]):
            st.markdown(md(m.reason))
            for step in t.what_officers_do:
                st.markdown("- " + md(step))
            dosage = t.dosage.get("text") if isinstance(t.dosage, dict) else None
            if dosage:
                st.caption("Dosage: " + md(dosage))
            if t.legitimacy_review:
                st.caption("Needs a legitimacy and proportionality review before use.")


def _new_seed() -> None:
    st.session_state["plan_seed"] = secrets.randbelow(1_000_000)


def _control_share_limit() -> tuple[int, float]:
    """(max days between visits, largest daily control share it allows), from the knowledge base."""
    from hotspots.tactics import load_knowledge_base

    gap = int(load_knowledge_base().constant("max_gap_days"))
    return gap, (gap - 1) / gap


def plan_settings() -> dict[str, Any]:
    """The patrol plan controls; returns their values."""
    gap, limit = _control_share_limit()
    c = st.columns(4)
    days = c[0].number_input(
        "Days",
        1,
        365,
        constants.PLAN_DAYS,
        1,
        key="plan_days",
        help="Length of the plan (default 28 days).",
    )
    hours = c[1].number_input(
        "Officer-hours per day",
        0.5,
        500.0,
        constants.OFFICER_HOURS,
        0.5,
        key="plan_hours",
        help="Officer time available each day for hot spot patrol, all officers together.",
    )
    officers = c[2].number_input(
        "Officers per patrol",
        1,
        10,
        constants.OFFICERS_PER_PATROL,
        1,
        key="plan_officers",
        help="The guide: two officers on foot (D5).",
    )
    minutes = c[3].number_input(
        "Visit minutes",
        constants.MIN_VISIT_MINUTES,
        constants.MAX_VISIT_MINUTES,
        constants.VISIT_MINUTES,
        1,
        key="plan_minutes",
        help="Minutes on foot inside the area per visit: 15 by default (the Koper curve, D1). "
        "Visits under 10 minutes do not count as a dose, so 10 is the least.",
    )
    c = st.columns(4)
    share = c[0].number_input(
        "Daily control share",
        0.0,
        0.95,
        constants.CONTROL_SHARE,
        0.05,
        format="%.2f",
        key="plan_control_share",
        help="Share of the planned areas left unpatrolled each day as controls, drawn at random "
        "daily, to test whether the patrols work (crossover test-as-you-go; Thames Valley 0.5, "
        f"Bedfordshire 0.67). At most {limit:.2f}, so that no area waits more than {gap} days "
        "between visits. 0 = every planned area is patrolled every day.",
    )
    radius = c[1].number_input(
        "Patrol area radius (m)",
        25.0,
        500.0,
        constants.MICRO_PLACE_RADIUS_M,
        5.0,
        key="plan_radius",
        help="Patrol areas are discs of this radius on the densest places inside each hot spot: "
        "75 m gives the 150 m micro place of the UK trials.",
    )
    seed = c[2].number_input(
        "Seed",
        0,
        2**32 - 1,
        DEFAULT_SEED,
        1,
        key="plan_seed",
        help="The same seed and settings give the same plan. Change it for another random draw.",
    )
    c[2].button("New random seed", key="plan_new_seed", on_click=_new_seed)
    start = c[3].date_input(
        "First plan day",
        value=date.today() + timedelta(days=1),
        key="plan_start",
        format="YYYY-MM-DD",
    )
    significant_only = st.checkbox(
        "Plan significant hot spots only",
        value=True,
        key="plan_significant_only",
        help="Hot spots that are not significantly denser than chance are left out by default.",
    )
    if abs(float(share) - limit) < 0.005:
        share = limit  # "0.67" means two-thirds, the most the gap rule allows
    return {
        "significant_only": bool(significant_only),
        "radius_m": float(radius),
        "plan": {
            "days": int(days),
            "officer_hours": float(hours),
            "officers_per_patrol": int(officers),
            "visit_minutes": int(minutes),
            "control_share": float(share),
            "max_gap_days": gap,
            "seed": int(seed),
            "start_date": (start if isinstance(start, date) else date.today()).isoformat(),
        },
    }


def show_plan_section(result: Any, result_key: str) -> dict[str, Any] | None:
    """The "Patrol plan" section: controls, summary, all areas, downloads.

    Returns the plan bundle (areas, plan, matches, result, key) for the map layer and the
    selected hot spot's details, or None when there is no plan.
    """
    st.subheader("Patrol plan")
    st.caption(
        "Patrol-sized areas on the densest places inside the hot spots, and a dated, seeded plan "
        "following the guide's defaults: 15-minute visits by two officers on foot, at least one a "
        "day, random start times inside each area's peak window, no area left more than 3 days."
    )
    with st.container(border=True):
        s = plan_settings()
    areas_key = hashlib.sha256(
        f"{result_key}|{s['significant_only']}|{s['radius_m']}".encode()
    ).hexdigest()[:20]
    with st.spinner("Placing patrol areas..."):
        areas = patrol_areas_for(result_key, result, s["significant_only"], s["radius_m"])
    if areas is None or not len(areas):
        st.info(
            "No patrol areas: no hot spot is significant. Untick *Plan significant hot spots only* "
            "to plan all of them."
            if s["significant_only"]
            else "No patrol areas could be placed in these hot spots."
        )
        return None
    gap, limit = _control_share_limit()
    if s["plan"]["control_share"] > limit + 1e-9:
        st.error(
            f"A daily control share of {s['plan']['control_share']:.2f} is too high: with at most "
            f"{gap} days between visits to a planned area, no more than {limit:.2f} (two-thirds) of "
            f"the areas can be controls on any day. Lower it to {limit:.2f} or less."
        )
        return None
    settings_json = json.dumps(s["plan"], sort_keys=True)
    try:
        with st.spinner("Making the patrol plan..."):
            plan, matches = patrol_plan_for(areas_key, areas, result, settings_json)
    except ParameterError as exc:
        st.error(f"The patrol plan cannot be made with these settings: {md(exc)}")
        return None
    plan_key = hashlib.sha256(f"{areas_key}|{settings_json}".encode()).hexdigest()[:20]
    bundle = {
        "plan": plan,
        "areas": areas,
        "matches": matches,
        "result": result,
        "key": plan_key,
        "significant_only": s["significant_only"],
    }

    sm, p = plan.summary, plan.params
    c = st.columns(5)
    c[0].metric("Patrol areas planned", f"{sm['areas_planned']} of {sm['areas_given']}")
    c[1].metric("Left out (capacity)", f"{sm['areas_left_out']}")
    c[2].metric("Patrol visits", f"{sm['patrol_visits']:,}")
    c[3].metric("Patrolled / controls a day", f"{sm['treated_per_day']} / {sm['controls_per_day']}")
    c[4].metric("Officer-hours on foot", f"{sm['officer_hours_planned']:,.0f}")
    end = date.fromisoformat(p["start_date"]) + timedelta(days=int(p["days"]) - 1)
    st.text(
        f"Seed used: {p['seed']}. Plan from {p['start_date']} to {end.isoformat()}; "
        f"review by {sm['review_by']}."
    )
    for caveat in sm.get("caveats", []):
        st.warning(md(caveat))
    if sm["windows_general"]:
        st.caption(
            f"No time of day in these data: {sm['windows_general']} of {sm['areas_planned']} planned "
            "areas use the guide's general patrol windows."
        )
    with st.expander("How the plan was made"):
        for note in [*areas.attrs.get("notes", []), *sm.get("notes", [])]:
            st.text("• " + str(note))
        st.json(
            json.loads(
                json.dumps({"patrol_areas": areas.attrs.get("params", {}), "plan": p}, default=str)
            ),
            expanded=False,
        )
    with st.expander(f"All {len(areas)} patrol areas"):
        st.dataframe(area_table(bundle), hide_index=True)

    c = st.columns(4)
    c[0].download_button(
        "Patrol areas (GeoJSON)",
        data=lambda: plan_file(plan_key, bundle, "geojson"),
        file_name="patrol_areas.geojson",
        mime="application/geo+json",
        key="dl_patrol_geojson",
        on_click="ignore",
    )
    c[1].download_button(
        "Patrol plan (CSV)",
        data=lambda: plan_file(plan_key, bundle, "csv"),
        file_name="patrol_plan.csv",
        mime="text/csv",
        key="dl_plan_csv",
        on_click="ignore",
    )
    c[2].download_button(
        "Patrol plan (calendar, .ics)",
        data=lambda: plan_file(plan_key, bundle, "ics"),
        file_name="patrol_plan.ics",
        mime="text/calendar",
        key="dl_plan_ics",
        on_click="ignore",
    )
    c[3].download_button(
        "Briefing (HTML, printable)",
        data=lambda: plan_file(plan_key, bundle, "briefing"),
        file_name="briefing.html",
        mime="text/html",
        key="dl_briefing",
        on_click="ignore",
    )
    st.session_state["_patrol_areas"] = bundle[
        "areas"
    ]  # a click on a patrol disc selects its hot spot
    return bundle


def area_table(bundle: dict[str, Any], hotspot_id: str | None = None) -> pd.DataFrame:
    """Patrol areas with their plan figures (optionally of one hot spot), for display."""
    areas, plan = bundle["areas"], bundle["plan"]
    cols = ["patrol_area_id", "hotspot_id", "incidents", "pai", "location", "temporal_class"]
    table = pd.DataFrame(areas[[c for c in cols if c in areas.columns]]).merge(
        plan.area_summary()[
            [
                "patrol_area_id",
                "in_plan",
                "visits",
                "control_days",
                "max_gap_days",
                "window",
                "tactic_ids",
            ]
        ],
        on="patrol_area_id",
        how="left",
    )
    if hotspot_id is not None:
        table = table[table["hotspot_id"].astype(str) == str(hotspot_id)].drop(columns="hotspot_id")
    table["pai"] = table["pai"].round(1)
    return table.rename(
        columns={
            "patrol_area_id": "Patrol area",
            "hotspot_id": "Hot spot",
            "incidents": "Incidents",
            "pai": "PAI",
            "location": "Location",
            "temporal_class": "Pattern",
            "in_plan": "In plan",
            "visits": "Visits",
            "control_days": "Control days",
            "max_gap_days": "Longest gap (days)",
            "window": "Window",
            "tactic_ids": "Tactics",
        }
    ).reset_index(drop=True)


def show_hotspot_plan(bundle: dict[str, Any] | None, row: Any) -> None:
    """The selected hot spot's patrol areas and planned visits."""
    st.markdown("#### Patrol areas and planned visits")
    hid = str(row["hotspot_id"])
    if bundle is None:
        st.caption("No patrol plan with the current settings (see *Patrol plan* below).")
        return
    table = area_table(bundle, hid)
    if table.empty:
        if bundle["significant_only"] and not bool(row.get("significant", True)):
            st.caption(
                f"{md(hid)} is not significant, so it has no patrol area. Untick *Plan significant "
                "hot spots only* under Patrol plan to include it."
            )
        else:
            st.caption(f"{md(hid)} has no patrol area (its incidents are covered by other areas).")
        return
    st.dataframe(table, hide_index=True)
    planned = table.loc[table["In plan"].astype(bool), "Patrol area"].tolist()
    if not planned:
        st.caption(
            f"The patrol areas of {md(hid)} are left out of the plan for lack of capacity: raise "
            "the officer-hours per day to include them."
        )
        return
    v = bundle["plan"].visits
    v = v[v["patrol_area_id"].isin(planned)]
    visits = pd.DataFrame(
        {
            "Date": pd.to_datetime(v["date"]).dt.strftime("%Y-%m-%d"),
            "Day": v["weekday"],
            "Start": pd.to_datetime(v["start"]).dt.strftime("%H:%M"),
            "End": pd.to_datetime(v["end"]).dt.strftime("%H:%M"),
            "Patrol area": v["patrol_area_id"],
            "Arm": v["arm"],
            "Minutes": v["minutes"],
            "Officers": v["officers"],
        }
    ).fillna("")
    n_patrol = int((v["arm"] == "patrol").sum())
    st.caption(
        f"{n_patrol} planned visits in {len(planned)} patrol area(s); control days show no times."
    )
    st.dataframe(visits, hide_index=True, height=min(360, 38 + 35 * len(visits)))


def patrol_layer(bundle: dict[str, Any] | None) -> Any:
    """The plan's patrol areas as a map layer (see :func:`hotspots.mapping.patrol_layer`)."""
    if bundle is None:
        return None
    return mapping.patrol_layer(bundle["areas"], bundle["plan"])


def change_settings() -> tuple[list[Any], dict[str, Any]]:
    """The "Change over time" controls; returns their columns (for captions) and the settings."""
    c = st.columns(3)
    cell = c[0].number_input(
        "Cell size (m)",
        25.0,
        1000.0,
        constants.MICRO_PLACE_M,
        25.0,
        key="emg_cell_size",
        help="Side of the grid cells classified over time. 150 m is the micro place of the UK trials.",
    )
    period = c[1].number_input(
        "Months per period",
        min_value=1,
        max_value=60,
        value=None,
        step=1,
        key="emg_period_months",
        placeholder="automatic",
        help="Empty = automatic: months up to 2 years of data, quarters up to 10 years, years beyond.",
    )
    recent = c[2].number_input(
        "Recent periods",
        min_value=1,
        max_value=120,
        value=None,
        step=1,
        key="emg_recent_periods",
        placeholder="automatic",
        help="How many of the last periods count as recent. Empty = automatic: a fifth of the "
        "periods (at least one).",
    )
    settings: dict[str, Any] = {"cell_size": float(cell)}
    if period is not None:
        settings["period_months"] = int(period)
    if recent is not None:
        settings["recent_periods"] = int(recent)
    return c, settings


def show_change_section(incidents: Any, inc_key: str) -> Any:
    """The "Change over time" section; returns the classified areas (for the map layer) or None."""
    st.subheader("Change over time")
    st.caption(
        "Which places stay hot, which are new, which have cooled and which come and go: Getis-Ord "
        "Gi* in each period on one grid, then a class per cell. Persistent (chronic) places need "
        "constant programmes such as problem-solving and place management; emerging and intermittent "
        "(temporary) ones need patrols that are moved as they move (guide R21, T16). Review the "
        "classes on a fixed cycle."
    )
    with st.container(border=True):
        cols, settings = change_settings()
    settings_json = json.dumps(settings, sort_keys=True)
    try:
        with st.spinner("Classifying places over time..."):
            res = run_classify(inc_key, incidents, settings_json)
    except TooFewPeriodsError as exc:
        st.info(f"No change over time to show: {md(exc)}")
        return None
    except ParameterError as exc:
        st.error(f"The change over time cannot be classified with these settings: {md(exc)}")
        return None
    p = res.params
    if "period_months" in settings:
        cols[1].caption(
            f"Set: {p.get('period_months')} month(s) per period, {p.get('n_periods')} periods."
        )
    elif p.get("period_months"):
        cols[1].caption(
            f"Automatic: {p['period_months']} month(s) per period, {p.get('n_periods')} periods."
        )
    if "recent_periods" in settings:
        cols[2].caption(f"Set: the last {p.get('recent_periods')} period(s).")
    elif p.get("recent_periods"):
        cols[2].caption(
            f"Automatic: the last {p['recent_periods']} of {p.get('n_periods')} periods."
        )

    counts = dict(p.get("category_counts") or {})
    c = st.columns(len(EMERGING_HOT) + 1)
    for col, cat in zip(c, EMERGING_HOT, strict=False):
        col.metric(
            f"{cat.capitalize()} cells",
            f"{int(counts.get(cat, 0)):,}",
            help=str((p.get("rules") or {}).get(cat.split()[0], "")) or None,
        )
    other = sum(int(v) for k, v in counts.items() if k not in EMERGING_HOT)
    c[-1].metric(
        "Cold or mixed cells",
        f"{other:,}",
        help="Significantly low places (rare at this scale) and cells that were both hot and cold.",
    )
    for note in res.notes:
        st.text("• " + str(note))
    with st.expander("Rules and parameters"):
        st.json(json.loads(json.dumps(p, default=str)), expanded=False)

    classify_key = hashlib.sha256(f"{inc_key}|{settings_json}".encode()).hexdigest()[:20]
    areas = res.areas  # with incidents and top location, sorted by category (hotspots.emerging)
    if not len(areas):
        st.caption("No place is persistent, emerging, former or intermittent with these settings.")
        return None
    table = pd.DataFrame(
        {
            "Pattern": areas["category"].astype(str),
            "Cells": areas["n_cells"].astype(int),
            "Incidents": areas["incidents"].astype(int),
            "Top location": areas["top_location"].astype(str),
        }
    )
    st.markdown(f"**{len(areas)} classified areas** (touching cells of one pattern, merged)")
    st.dataframe(
        table, hide_index=True, height=min(360, 38 + 35 * len(table)), key="emerging_table"
    )
    st.download_button(
        "Classified areas (GeoJSON)",
        data=lambda: emerging_geojson(classify_key, areas, res, incidents),
        file_name="persistent_emerging.geojson",
        mime="application/geo+json",
        key="dl_emerging",
        on_click="ignore",
    )
    return areas


HOLDOUT_EXPLAINED = (
    "- **Coverage**: share of the study area inside the hot spots.\n"
    "- **Hit rate**: share of the test incidents that fell inside the hot spots.\n"
    "- **PAI** (Predictive Accuracy Index, Chainey, Tompson & Uhlig 2008) = hit rate ÷ coverage; "
    "above 1 beats picking places at random.\n"
    "- **PEI** (Predictive Efficiency Index) = PAI ÷ the best PAI any set of 25 m cells of the same "
    "area could have reached on the test incidents; 1 = as good as possible."
)


def show_holdout_section(incidents: Any, inc_key: str, method: str, params: dict[str, Any]) -> None:
    """The "Check against a later period" section (hold-out evaluation)."""
    st.subheader("Check against a later period")
    st.caption(
        "Would these hot spots have caught the violence that came next? The methods are re-fitted "
        "on the months before the test month only, then scored on the test months."
    )
    months = [m.strftime("%Y-%m") for m in incidents.months]
    if len(months) < 3:
        st.info(
            f"The data span {len(months)} month(s): a check against a later period needs at least 3 "
            "(some to find the hot spots on, at least one to test them on). Upload a longer period."
        )
        return
    c = st.columns([1, 2])
    first = c[0].selectbox(
        "First test month",
        months[1:],
        index=len(months) - 2,
        key="holdout_month",
        help="Hot spots are found on the months before this one and tested on it and the months after.",
    )
    picked = c[1].multiselect(
        "Methods",
        list(METHOD_LABELS),
        default=[method],
        format_func=METHOD_LABELS.get,
        key="holdout_methods",
    )
    if not picked:
        st.caption("Pick at least one method.")
        return
    methods = tuple(m for m in METHOD_LABELS if m in picked)
    try:
        with st.spinner("Re-fitting on the training months and scoring the test months..."):
            table = holdout_for(
                inc_key, incidents, first, methods, json.dumps({method: params}, sort_keys=True)
            )
    except HotspotsError as exc:
        st.error(f"The check cannot be made: {md(exc)}")
        return
    i = months.index(first)
    train = months[0] if i == 1 else f"{months[0]} to {months[i - 1]}"
    test = first if first == months[-1] else f"{first} to {months[-1]}"
    st.caption(
        f"Found on {md(train)} (training), tested on {md(test)}. The current method uses the "
        "sidebar's parameters, the others their automatic ones; the filters apply to all, and only "
        "significant hot spots count."
    )
    view = pd.DataFrame(
        {
            "Method": table["method"].map(METHOD_LABELS).fillna(table["method"]),
            "Hot spots": table["hotspots"].astype(int),
            "Test incidents inside": table["n_inside"].astype(int),
            "Test incidents": table["n_total"].astype(int),
            "Coverage": table["coverage"].astype(float),
            "Hit rate": table["hit_rate"].astype(float),
            "PAI": table["pai"].astype(float),
            "PEI": table["pei"].astype(float),
        }
    )
    st.dataframe(
        view,
        hide_index=True,
        key="holdout_table",
        column_config={
            "Coverage": st.column_config.NumberColumn("Coverage", format="percent"),
            "Hit rate": st.column_config.NumberColumn("Hit rate", format="percent"),
            "PAI": st.column_config.NumberColumn("PAI", format="%.1f"),
            "PEI": st.column_config.NumberColumn("PEI", format="%.2f"),
        },
    )
    st.markdown(HOLDOUT_EXPLAINED)


def show_concentration(result: Any) -> None:
    from hotspots.evaluate import concentration_curve

    curve = concentration_curve(result.hotspots, result.incidents.study_area_m2)
    if len(curve) < 2:
        return
    chart = (
        alt.Chart(curve, title="Concentration: share of incidents against share of area")
        .mark_line(point=True, color="#800026")
        .encode(
            x=alt.X(
                "area_share:Q", title="cumulative share of study area", axis=alt.Axis(format="%")
            ),
            y=alt.Y(
                "incident_share:Q", title="cumulative share of incidents", axis=alt.Axis(format="%")
            ),
            tooltip=[
                "rank",
                alt.Tooltip("area_share:Q", format=".2%"),
                alt.Tooltip("incident_share:Q", format=".1%"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")


def show_downloads(result: Any, key: str, tiles: str, attribution: str | None) -> None:
    st.subheader("Downloads")
    c = st.columns(4)
    c[0].download_button(
        "Hot spots (GeoJSON)",
        data=export_bytes(key, result, "geojson"),
        file_name="hotspots.geojson",
        mime="application/geo+json",
        key="dl_geojson",
        on_click="ignore",
    )
    c[1].download_button(
        "Hot spots (GeoPackage)",
        data=lambda: export_bytes(key, result, "gpkg"),
        file_name="hotspots.gpkg",
        mime="application/geopackage+sqlite3",
        key="dl_gpkg",
        on_click="ignore",
    )
    c[2].download_button(
        "Ranked table (CSV)",
        data=export_bytes(key, result, "csv"),
        file_name="hotspots_ranked.csv",
        mime="text/csv",
        key="dl_csv",
        on_click="ignore",
    )
    c[3].download_button(
        "Map (HTML, opens offline)",
        data=lambda: standalone_map(key, result, tiles, attribution),
        file_name="hotspots_map.html",
        mime="text/html",
        key="dl_html",
        on_click="ignore",
    )


# ----------------------------------------------------------------------------------- main
def main() -> None:
    st.set_page_config(page_title="Violence hot spots", layout="wide")
    st.title("Serious violence hot spots")

    sources, is_demo = sidebar_data()
    if is_demo:
        st.warning(
            "Showing **synthetic demo data** (a made-up town, not real crime). Upload police.uk "
            "or other incident CSV files in the sidebar to analyse your own data."
        )
    key = _digest(sources)
    columns = st.session_state.get("column_map", {}) if not is_demo else {}
    columns_json = json.dumps(columns, sort_keys=True)

    # All crime types and the full period, for the filter widgets.
    try:
        with st.spinner("Reading the incident files..."):
            base = load_incidents(key, sources, columns_json, "all", None, None, "", None, False)
    except InputError as exc:
        st.error(md(str(exc)))
        if not is_demo:
            column_mapping_form(sources, exc)
        return
    filters = sidebar_filters(base)
    method, order = sidebar_method()

    with st.spinner("Applying the filters..."):
        incidents = load_incidents(
            key,
            sources,
            columns_json,
            filters["crime_types"],
            filters["date_from"],
            filters["date_to"],
            filters["study_area_key"],
            filters["study_area"],
            filters["harm"],
            filters["harm_key"],
            filters["harm_weights"],
        )
    inc_key = hashlib.sha256(
        json.dumps(
            [
                key,
                columns_json,
                filters["crime_types"],
                filters["date_from"],
                filters["date_to"],
                filters["study_area_key"],
                filters["harm"],
                filters["harm_key"],
            ],
            default=str,
        ).encode()
    ).hexdigest()[:20]
    show_report(incidents)
    if len(incidents) == 0:
        st.error("No incidents are left after the filters. Widen the date range or crime types.")
        return
    if order == "harm" and not filters["harm"]:
        st.info("Ranking by harm needs harm weights: switch on *Harm weights* under Filters.")

    base_params = {"use_weights": bool(filters["harm"])} if method == "kde" else {}
    with st.spinner(f"Finding hot spots ({METHOD_LABELS[method]})..."):
        auto = run_detect(
            inc_key, incidents, method, "intensity", json.dumps(base_params, sort_keys=True)
        )
    defaults = dict(auto.params.get("method_parameters", {}))
    params = sidebar_params(method, defaults, filters["harm"])
    tiles, attribution = sidebar_basemap()
    params_json = json.dumps(params, sort_keys=True)
    if params_json == json.dumps(base_params, sort_keys=True) and order == "intensity":
        result = auto
    else:
        with st.spinner(f"Finding hot spots ({METHOD_LABELS[method]})..."):
            result = run_detect(inc_key, incidents, method, order, params_json)
    result_key = hashlib.sha256(f"{inc_key}|{method}|{order}|{params_json}".encode()).hexdigest()[
        :20
    ]

    ranked = result.hotspots
    n_in = int(ranked["incidents"].sum()) if len(ranked) else 0
    c = st.columns(4)
    c[0].metric("Hot spots", f"{len(ranked):,}")
    c[1].metric("Incidents in hot spots", f"{n_in:,} ({n_in / max(len(incidents), 1):.0%})")
    c[2].metric(
        "Area of hot spots", f"{float(ranked['area_ha'].sum()) if len(ranked) else 0:,.1f} ha"
    )
    c[3].metric("Significant", f"{int(ranked['significant'].sum()) if len(ranked) else 0:,}")
    with st.expander("How these hot spots were found (automatic choices)"):
        for note in result.notes:
            st.text("• " + str(note))
        st.json(json.loads(json.dumps(result.params, default=str)), expanded=False)
    for w in getattr(result, "warnings", []) or []:
        st.warning(md(w))

    if len(ranked) == 0:
        st.info(
            "No hot spots with these settings. Try a larger coverage or a smaller minimum size."
        )
    sync_selection(ranked)
    # Laid out top to bottom, but the plan and the change over time are made first: the map shows
    # them as layers, and the details show the plan.
    top, details_box, plan_box, conc_box, change_box, holdout_box = (
        st.container() for _ in range(6)
    )
    plan = None
    if len(ranked):
        with plan_box:
            plan = show_plan_section(result, result_key)
    with change_box:
        emerging = show_change_section(incidents, inc_key)
    with top:
        map_col, table_col = st.columns([3, 2])
        with map_col:
            show_map(result, tiles, attribution, result_key, plan, emerging)
        with table_col:
            if len(ranked):
                st.markdown("**Ranked hot spots** (click a row to select)")
                show_table(ranked)
                ids = [str(i) for i in ranked["hotspot_id"]]
                st.selectbox(
                    "Selected hot spot", ids, key="selected_id", on_change=_picked, args=(ids,)
                )
    if len(ranked):
        with details_box:
            show_details(result, result_key, plan)
        with conc_box:
            show_concentration(result)
    with holdout_box:
        show_holdout_section(incidents, inc_key, method, params)
    show_downloads(result, result_key, tiles, attribution)


def run() -> None:
    """Run the app; turn errors into one readable message, never a traceback."""
    try:
        main()
    except HotspotsError as exc:
        st.error(md(str(exc)))
    except Exception:
        LOG.exception("Unexpected error in the hotspots app")
        st.error(
            "Something went wrong that the app did not expect. The details are in the server "
            "log; please report them. Your files were not changed."
        )


run()
