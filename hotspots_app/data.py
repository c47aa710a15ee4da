"""Data and report: the data source, filters, column mapping, reading incidents, the report.

The sidebar's first two panels (data, filters) and the "Data and report" tab. The source is the
uploaded files, else the folder or Parquet dataset on the server named by ``HOTSPOTS_DATA``
(``hotspots app --data PATH``), else the synthetic demo. Each source is read once, every row and
every crime type (:func:`read_source`, cached process-wide on the uploads' content digests or the
server files' names, sizes and times, never on the bytes themselves); the filter panel's lists
come from that read, and each choice of filters is applied to it in memory
(:func:`filter_source`, :func:`hotspots.workflows.filter_inputs`). Everything after it keys on
:attr:`hotspots.incidents.Incidents.fingerprint`. Reading shows its progress (file i of n,
validating) in a status box (:mod:`hotspots_app.status`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from hotspots import HotspotsError, InputError, launch
from hotspots.incidents import FILTER_REASONS, Incidents
from hotspots.ingest import R_POLYGON
from hotspots_app.common import Outcome, cache_data, cache_resource, capture, md, plain
from hotspots_app.status import StatusProgress

#: Column roles the ingest accepts for an explicit mapping (hotspots.ingest / `hotspots --column`).
COLUMN_ROLES = {
    "lon": "Longitude",
    "lat": "Latitude",
    "easting": "Easting (British National Grid, or the CRS below)",
    "northing": "Northing (British National Grid, or the CRS below)",
    "month": "Month (YYYY-MM)",
    "date": "Date",
    "time": "Time of day",
    "datetime": "Date and time (or a time window's start)",
    "date_end": "Time window's end: date",
    "time_end": "Time window's end: time of day",
    "datetime_end": "Time window's end: date and time",
    "crime_type": "Crime type",
    "location": "Location text",
}
#: The column form's choices beside the file's columns: the reader finds the role's column
#: itself (none given), or the file has no such column, even one the reader would find
#: (``columns={role: None}``; a time window's end column read as the start alone, say).
AUTOMATIC = "(automatic)"
LEAVE_OUT = "(none: leave it out)"
_CHOICE_HELP = (
    f"{AUTOMATIC}: the column is found by its name, if there is one. {LEAVE_OUT}: no column "
    "plays this part, even one whose name would be found."
)
#: The column mapping's entry for the CRS of easting/northing columns when not British National
#: Grid (``coordinate_crs`` of :func:`hotspots.ingest.read_incidents`); not a column role.
COORDINATE_CRS = "coordinate_crs"
#: The reading options (:func:`reading_options`): the order of day and month in dates
#: (``date_order`` of :func:`hotspots.ingest.read_incidents`) in the app's words, and the
#: session-state keys of the two controls.
DATE_ORDERS = {
    "auto": "Automatic (from the dates, else the region)",
    "day-first": "Day first (03/04/2022 is 3 April)",
    "month-first": "Month first (03/04/2022 is March 4)",
}
DATE_ORDER_KEY = "read_date_order"
ANALYSIS_CRS_KEY = "read_analysis_crs"
DEMO_LABEL = "demo_incidents.csv (SYNTHETIC demo data)"
DEMO_WARNING = (
    "Showing **synthetic demo data** (a made-up town, not real crime). Upload police.uk "
    "or other incident CSV files in the sidebar to analyse your own data."
)

Source = tuple[str, bytes]
#: The environment variable naming a folder of CSV files or a Parquet dataset on the server
#: (``hotspots app --data PATH`` sets it): national data does not come through a browser upload.
DATA_ENV = launch.DATA_ENV


@dataclass(frozen=True)
class DataSource:
    """What the app reads: uploaded files, a folder or Parquet dataset on the server, or the demo.

    ``key`` is what the read is cached on: the uploads' names and content digests, or the server
    files' names, sizes and modification times (so a changed file is read again). The bytes
    themselves are never hashed by Streamlit on a rerun.
    """

    kind: str  # "upload", "server" or "demo"
    key: tuple[Any, ...]
    files: tuple[Source, ...] = ()
    path: str | None = None

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    def readable(self) -> Any:
        """What :func:`hotspots.workflows.read_inputs` takes: a path or (name, bytes) pairs."""
        return self.path if self.kind == "server" else list(self.files)

    @property
    def n_files(self) -> int:
        return len(self.key) if self.kind == "server" else len(self.files)


@dataclass(frozen=True)
class Filters:
    """What the filter panel applies (values Streamlit's cache can hash)."""

    crime_types: Any = "default"
    date_from: str | None = None
    date_to: str | None = None
    study_area: Source | None = None
    harm: bool = False
    harm_table: Source | None = None

    @property
    def weight_column(self) -> bool:
        """Whether the files' own weight column is read (harm on and no table of weights)."""
        return bool(self.harm) and self.harm_table is None


# ----------------------------------------------------------------------------- reading
@cache_resource(max_entries=1)
def _demo_source() -> DataSource:
    from hotspots.demo import ensure_demo_csv

    data = ensure_demo_csv().read_bytes()
    return DataSource("demo", ((DEMO_LABEL, _digest(data)),), ((DEMO_LABEL, data),))


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def server_source(path: str | os.PathLike[str]) -> DataSource:
    """A folder of CSV files, a Parquet dataset (folder) or one file on the server.

    Raises
    ------
    InputError
        When the path does not exist or holds no CSV or Parquet file.
    """
    from hotspots.ingest import folder_files

    root = Path(path).expanduser()
    if root.is_file() or (root.is_dir() and root.suffix.lower() == ".gdb"):  # a File
        # Geodatabase folder is one source (hotspots.layers)
        files = [root]
    elif root.is_dir():
        files = folder_files(root)
    else:
        msg = f"The server data folder set by {DATA_ENV} does not exist."
        raise InputError(msg, file=str(root), hint=f"set {DATA_ENV} to a folder of CSV files.")
    if not files:
        msg = "The server data folder holds no CSV or Parquet files."
        raise InputError(msg, file=str(root), hint="point to a folder of police.uk CSV files.")
    key = []
    for f in files:
        st_ = f.stat()
        key.append(
            (str(f.relative_to(root)) if f != root else f.name, st_.st_size, st_.st_mtime_ns)
        )
    return DataSource("server", tuple(key), path=str(root.resolve()))


# cache_resource: an Incidents is read-only (hotspots.record), large (a year of a force's
# incidents) and the same for the same inputs, so sessions share it rather than copy it.
@cache_resource(max_entries=4)
def read_source(
    key: tuple[Any, ...],
    columns: tuple[tuple[str, str | None], ...],
    weight_column: bool,
    _source: DataSource,
    _progress: Any = None,
    options: tuple[tuple[str, str], ...] = (),
) -> Outcome:
    """Read every row of the source once (all crime types, every date): an :class:`Outcome`.

    Cached on ``key`` (:attr:`DataSource.key`, never the bytes), the column mapping, whether
    the files' weight column is read and the reading options (:func:`reading_options`:
    ``date_order``, the analysis ``crs``); :func:`filter_source` applies the user's filters to
    it.
    """
    from hotspots.workflows import read_inputs

    mapping: dict[str, str | None] = dict(columns)
    grid = mapping.pop(COORDINATE_CRS, None)
    if not weight_column:
        mapping["weight"] = None  # ignore a weight column: every incident counts 1
    return capture(
        read_inputs, _source.readable(), columns=mapping, crime_types="all", progress=_progress,
        coordinate_crs=grid or None, **dict(options),
    )  # fmt: skip


@cache_resource(max_entries=8)
def filter_source(base: Incidents, filters: Filters) -> Outcome:
    """The filters on incidents already read (:func:`hotspots.workflows.filter_inputs`).

    The uploaded harm-weight table and study area are read by
    :func:`hotspots.harm.read_harm_weights` and :func:`hotspots.boundaries.read_boundary` (their
    file names in any error).
    """
    return capture(_filter, base, filters)


def _filter(base: Incidents, filters: Filters) -> Incidents:
    from hotspots.boundaries import read_boundary
    from hotspots.harm import read_harm_weights
    from hotspots.workflows import filter_inputs

    harm_weights = None
    if filters.harm and filters.harm_table is not None:
        name, data = filters.harm_table
        harm_weights = read_harm_weights(data, name=name)
    study_area = None
    if filters.study_area is not None:
        name, data = filters.study_area
        study_area = read_boundary(data, name=name)
    crime_types = filters.crime_types
    return filter_inputs(
        base,
        crime_types=list(crime_types) if isinstance(crime_types, tuple) else crime_types,
        harm_weights=harm_weights,
        study_area=study_area,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )


def reading_options() -> tuple[tuple[str, str], ...]:
    """The reading options chosen (``date_order``, ``crs`` of
    :func:`hotspots.workflows.read_inputs`), as submitted with the filter or column form:
    Streamlit keeps a form's values in session state before the form is drawn again, so the
    files are read with them in the run the form is applied. Only those not left automatic."""
    out = []
    order = st.session_state.get(DATE_ORDER_KEY, "auto")
    if order in DATE_ORDERS and order != "auto":
        out.append(("date_order", order))
    crs = str(st.session_state.get(ANALYSIS_CRS_KEY, "") or "").strip()
    if crs:
        out.append(("crs", crs))
    return tuple(out)


def reading_controls() -> None:
    """The reading options' two controls (inside a form): the order of day and month in dates
    and the analysis CRS (blank: automatic)."""
    st.selectbox(
        "Day and month order in dates",
        list(DATE_ORDERS),
        format_func=DATE_ORDERS.__getitem__,
        key=DATE_ORDER_KEY,
        help="For dates such as 03/04/2022. Automatic reads the order from dates whose day is "
        "above 12, else takes month first in the Americas and day first elsewhere. A date that "
        "reads only in the other order is left out as an unreadable date, listed with the "
        "rows left out.",
    )
    st.text_input(
        "Analysis CRS (blank: automatic)",
        key=ANALYSIS_CRS_KEY,
        placeholder="e.g. EPSG:5070 for a whole-US file",
        help="The projected CRS in metres the analysis measures in, as EPSG:code. Blank: "
        "British National Grid in Great Britain, the data's UTM zone elsewhere. A CRS in "
        "degrees or feet is refused; one made for another area is warned about.",
    )


def reading_form() -> None:
    """The reading options alone, in the sidebar: what the page offers when the files could not
    be read (an option refused, or columns not found; the filter panel, which holds them
    otherwise, is not drawn then)."""
    st.sidebar.header("2. Filters")
    with st.sidebar.form("reading_form", border=False):
        reading_controls()
        st.form_submit_button("Read the files again", key="reading_submit", type="primary")


def load_base(
    source: DataSource, columns: tuple[tuple[str, str | None], ...], *, weight_column: bool = False
) -> Outcome:
    """Every row of ``source`` (cached), read with the :func:`reading_options` chosen, with a
    status box while the files are read."""
    progress = StatusProgress(
        "Reading the incident files" if source.kind != "server" else f"Opening {source.path}"
    )
    out = read_source(source.key, columns, weight_column, source, progress, reading_options())
    progress.finish()
    return out


def load_incidents(
    source: DataSource, columns: tuple[tuple[str, str | None], ...], filters: Filters, base: Outcome
) -> Outcome:
    """The filtered incidents: ``base`` (read by :func:`load_base`) through the filters.

    The files are read again only to take a weight column the first read ignored (harm weights
    switched on without a table).
    """
    if filters.weight_column:
        base = load_base(source, columns, weight_column=True)
    with st.spinner("Applying the filters..."):
        kept = filter_source(base.value, filters)
    return Outcome(kept.value, tuple(dict.fromkeys(base.warnings + kept.warnings)))


#: Where the near misses of target incidents come from, by the incidents' fingerprint (which
#: names the files and the filters, so it determines them): the rows read and the filters.
_NEAR_MISSES: dict[str, tuple[Incidents, Filters]] = {}


def keep_near_misses(base: Incidents, filters: Filters, incidents: Incidents) -> None:
    """Remember where :func:`near_misses_of` finds the near misses of ``incidents`` (read only
    when the patrol areas or the hold-out check ask for them)."""
    _NEAR_MISSES[incidents.fingerprint] = (base, filters)
    while len(_NEAR_MISSES) > 8:
        _NEAR_MISSES.pop(next(iter(_NEAR_MISSES)))


def near_misses_of(incidents: Incidents) -> Incidents | None:
    """Other crime and anti-social behaviour under the same dates and study area as
    ``incidents`` (:func:`hotspots.workflows.near_misses`, the rows ``hotspots plan`` and
    ``hotspots evaluate`` read with :func:`hotspots.workflows.read_others`); None when none are
    known (:func:`keep_near_misses` not called) or none are left."""
    found = _NEAR_MISSES.get(incidents.fingerprint)
    return None if found is None else _near_misses(*found, incidents).value


@cache_resource(max_entries=8)
def _near_misses(base: Incidents, filters: Filters, incidents: Incidents) -> Outcome:
    from hotspots.workflows import near_misses

    every = replace(filters, crime_types="all", harm=False, harm_table=None)
    return capture(lambda: near_misses(_filter(base, every), incidents))


#: The source (:attr:`DataSource.key`) the column mapping in session state was made for.
_MAPPED_FOR = "column_map_for"


def column_map(source: DataSource) -> tuple[tuple[str, str | None], ...]:
    """The column mapping chosen in :func:`column_mapping_form` for this source (none for the
    demo). A mapping made for other files is not applied: another upload's columns named in it
    failed the read of a police.uk file ("The column 'kind' given for 'crime_type' is not in the
    file"); the form offers it again, filled in, when the new files need one."""
    if source.is_demo or st.session_state.get(_MAPPED_FOR) != source.key:
        return ()
    return tuple(sorted(st.session_state.get("column_map", {}).items()))


@cache_data(max_entries=4)
def rejected_csv(incidents: Incidents) -> bytes:
    """The rows left out with their reasons, spreadsheet-safe, as CSV bytes."""
    from hotspots.workflows import rejected_csv as rejected_rows

    return rejected_rows(incidents.report).encode("utf-8")


# ------------------------------------------------------------------------------ sidebar
def sidebar_data() -> DataSource:
    """Upload widget and the server data; returns what to read.

    Uploaded files come first; without them, the folder or Parquet dataset named by
    :data:`DATA_ENV` (``hotspots app --data PATH``) when it is set; else the synthetic demo.
    """
    st.sidebar.header("1. Data")
    files = st.sidebar.file_uploader(
        "Incident files: CSV, Excel, Parquet or a GIS point layer (GeoPackage, GeoJSON, "
        "FlatGeobuf, a zipped shapefile) (one or many, e.g. a year of police.uk monthly "
        "files, or police.uk's download as a zip archive)",
        type=[
            "csv",
            "zip",
            "gz",
            "parquet",
            "pq",
            "xlsx",
            "xlsm",
            "xlsb",
            "xls",
            "ods",
            "gpkg",
            "geojson",
            "fgb",
        ],
        accept_multiple_files=True,
        key="uploads",
        help="police.uk street-level files, or any CSV with longitude/latitude or "
        "easting/northing columns; each visible sheet of a workbook is read as one file. "
        "Files stay on this server.",
    )
    if files:
        return DataSource(
            "upload",
            tuple((f.name, _upload_digest(f)) for f in files),
            tuple((f.name, f.getvalue()) for f in files),
        )
    server = os.environ.get(DATA_ENV, "").strip()
    if server:
        source = server_source(server)
        st.sidebar.caption(
            f"No file uploaded: reading the server data **{md(source.path)}** "
            f"({source.n_files:,} file(s)). Upload files to analyse them instead."
        )
        return source
    st.sidebar.caption("No file uploaded: showing the bundled **synthetic** demo data.")
    return _demo_source()


def _upload_digest(upload: Any) -> str:
    """The content digest of an uploaded file, computed once per upload (kept by its file id)."""
    known = st.session_state.setdefault("_upload_digests", {})
    file_id = getattr(upload, "file_id", None)
    if file_id is None or file_id not in known:
        digest = _digest(upload.getvalue())
        if file_id is None:
            return digest
        known[file_id] = digest
    return known[file_id]


def show_opened(source: DataSource, incidents: Incidents) -> None:
    """Say in the sidebar what was read: files and rows (the server data above all)."""
    rep = incidents.report
    if source.kind == "server":
        st.sidebar.success(
            f"Opened {md(source.path)}: {len(rep.files):,} file(s), {rep.n_read:,} rows read, "
            f"{rep.n_used:,} usable."
        )
    elif source.kind == "upload":
        st.sidebar.caption(f"{len(rep.files):,} file(s), {rep.n_read:,} rows read.")


@cache_resource(max_entries=8)
def filter_choices(base: Incidents) -> tuple[tuple[str, ...], date | None, date | None]:
    """The filter panel's choices: the crime types present, the first and last day of the months
    (None without months). Cached: a rerun does not scan a million rows again."""
    frame = base.frame
    types = (
        tuple(sorted(t for t in frame["crime_type"].dropna().astype(str).unique() if t))
        if "crime_type" in frame
        else ()
    )
    months = frame["month"].dropna() if "month" in frame else pd.Series(dtype="datetime64[ns]")
    if not len(months):
        return types, None, None
    return types, months.min().date(), (months.max() + pd.offsets.MonthEnd(0)).date()


@cache_resource(max_entries=8)
def months_only(base: Incidents) -> bool:
    """Whether every dated row gives its month only (police.uk): no day is known."""
    frame = base.frame
    if "datetime" not in frame or "month" not in frame:
        return False
    return bool(frame["month"].notna().any()) and not bool(frame["datetime"].notna().any())


def whole_months_line(a: Any, b: Any, only_months: bool) -> str | None:
    """For month-only data, the months a date range really keeps when it cuts into a month
    (the filter keeps a month whole when the range overlaps it); None otherwise."""
    if not only_months or not isinstance(a, date) or not isinstance(b, date):
        return None
    if a.day == 1 and (b + pd.offsets.MonthEnd(0)).date() == b:
        return None  # the range is whole months already
    first, last = a.strftime("%Y-%m"), b.strftime("%Y-%m")
    span = first if first == last else f"{first} to {last}"
    return f"These files give months only: the whole of {span} is kept."


def sidebar_filters(base: Incidents) -> Filters:
    """The filter panel (a form: one rerun when applied). ``base`` holds every type and month."""
    st.sidebar.header("2. Filters")
    types, first, last = filter_choices(base)
    out: dict[str, Any] = {}
    with st.sidebar.form("filters_form", border=False):
        if types:
            chosen = st.multiselect(
                "Crime types",
                types,
                default=None,
                key="crime_types",
                placeholder="Violence (default)",
                help="Empty = the default violence-related types.",
            )
            if chosen:
                out["crime_types"] = tuple(sorted(chosen))
        if first is not None and last is not None:
            lo, hi = first, last
            picked = st.date_input(
                "Date range",
                value=(lo, hi),
                min_value=lo,
                max_value=hi,
                # a new key for new data: the old range is not carried into bounds it breaks
                # (Streamlit would reset it through session state and log a warning)
                key=f"dates_{lo}_{hi}",
                format="YYYY-MM-DD",
                help="Rows with a month only (police.uk) are kept when their month overlaps the "
                "range.",
            )
            if isinstance(picked, tuple | list) and len(picked) == 2:
                a, b = picked
                if isinstance(a, date) and a > lo:
                    out["date_from"] = a.isoformat()
                if isinstance(b, date) and b < hi:
                    out["date_to"] = b.isoformat()
                line = whole_months_line(a, b, months_only(base))
                if line:
                    st.caption(line)
        area = st.file_uploader(
            "Study area (GeoJSON polygon, optional)", type=["geojson", "json"], key="study_area"
        )
        if area is not None:
            out["study_area"] = (area.name, area.getvalue())
        out["harm"] = st.toggle(
            "Harm weights",
            value=False,
            key="harm",
            help="Weight each incident by harm: from the file's weight column, or from a table "
            "of weights per crime type (e.g. Cambridge Crime Harm Index days). Off: every "
            "incident counts 1.",
        )
        table = st.file_uploader(
            "Harm weights per crime type (CSV: crime_type,weight)",
            type=["csv"],
            key="harm_table",
            help="Used when *Harm weights* is on; without it, the file's weight column is used.",
        )
        if table is not None and out["harm"]:
            out["harm_table"] = (table.name, table.getvalue())
        st.caption("Reading the files (they are read again when these change):")
        reading_controls()
        st.form_submit_button("Apply filters", key="filters_submit", type="primary")
    return Filters(**out)


def detected_columns(source: DataSource, incidents: Incidents | None) -> dict[str, str]:
    """What the read of ``source`` found in its first file: role -> header (the roles of
    :data:`COLUMN_ROLES`), and the CRS of its easting/northing columns when one was given.

    Empty when nothing was read (the read failed) or for the demo."""
    if incidents is None or source.is_demo or not incidents.report.files:
        return {}
    info = incidents.report.files[0]
    found = {r: str(h) for r, h in info.columns.items() if r in COLUMN_ROLES and h}
    grid = incidents.report.choices.get(COORDINATE_CRS)
    if grid and ("easting" in found or "northing" in found):
        found[COORDINATE_CRS] = str(grid)
    return found


@cache_data(max_entries=8)
def first_headers(key: tuple[Any, ...], _source: DataSource) -> tuple[str, ...]:
    """The column names of the source's first incident file (the first member of a zip archive,
    a gzip file's content, a Parquet file's schema): the column form's choices. Cached on the
    source's key (:attr:`DataSource.key`): the form is drawn in every run. Empty when the file
    cannot be read as a table."""
    import pyarrow.parquet as pq

    from hotspots.ingest import read_headers
    from hotspots.sources import expand_bytes, expand_path

    try:
        if _source.kind == "server" and _source.path is not None:
            root = Path(_source.path)
            first = root if root.is_file() else root / str(_source.key[0][0])
            with open(first, "rb") as f:
                head = f.read(1 << 16)
            if head[:4] == b"PAR1":
                return tuple(pq.read_schema(first).names)
            found, _ = expand_path(first, first.name, lambda: head)
        elif _source.files:
            found, _ = expand_bytes(*_source.files[0])
        else:
            return ()
        if not found:
            return ()
        name, load = found[0]
        data = load()
        if data[:4] == b"PAR1":
            return tuple(pq.read_schema(io.BytesIO(data)).names)
        return tuple(read_headers(data[: 1 << 16], name=name))
    except (HotspotsError, OSError, ValueError):
        return ()


#: The source the column form's boxes were last filled for (their values are reset for another).
_FORM_FOR = "column_form_for"


def column_mapping_form(source: DataSource, incidents: Incidents | None = None) -> None:
    """The sidebar's *Columns and coordinates*: which column holds what, and the CRS of
    easting/northing columns, for the files read now (never the demo).

    After a read that failed (``incidents`` None) it is open, its boxes filled with the mapping
    last given for these files; after a read that worked it is closed, filled with what the read
    detected (or the mapping given), so a file read wrongly (latitude and longitude swapped, x/y
    of another national grid read as British National Grid) can be mapped again. Each role's box
    offers the file's columns, :data:`AUTOMATIC` (found by its name; not given) and
    :data:`LEAVE_OUT` (``columns={role: None}``: a column found is not used). The mapping
    applies to these files only (:func:`column_map`).
    """
    if source.is_demo:
        return
    headers = list(first_headers(source.key, source))
    if not headers:
        return  # not a readable file: the read's error says so
    ss = st.session_state
    given = column_map(source)
    current: dict[str, str | None] = {**detected_columns(source, incidents), **dict(given)}
    if ss.get(_FORM_FOR) != source.key:  # other files: their boxes start from these files' own
        for role in (*COLUMN_ROLES, COORDINATE_CRS):
            ss.pop(f"colmap_{role}", None)
        ss[_FORM_FOR] = source.key
    box = st.sidebar.expander("Columns and coordinates", expanded=incidents is None)
    if incidents is None:
        box.markdown("**Map the columns**: the columns could not all be found.")
    else:
        box.caption(
            ("Read with the columns named here" if given else "Found in the first file")
            + ". Change them if the map is wrong: latitude and longitude swapped, say, or "
            "easting/northing of another grid than British National Grid; or leave a column "
            f"out with {LEAVE_OUT} (a time window's end, to time rows by the start alone)."
        )
    with box.form("column_map_form"):
        st.caption(
            "**Map the columns**: give longitude and latitude, or easting and northing (British "
            "National Grid metres, or any projected CRS named below); a date or month column is "
            "needed for trends."
        )
        picks = {}
        for role, label in COLUMN_ROLES.items():
            options = [AUTOMATIC, LEAVE_OUT, *headers]
            default = current.get(role, AUTOMATIC)
            default = LEAVE_OUT if default is None else default
            idx = options.index(default) if default in options else 0
            picks[role] = st.selectbox(
                label, options, index=idx, key=f"colmap_{role}", help=_CHOICE_HELP
            )
        grid = st.text_input(
            "CRS of the easting/northing columns (blank: British National Grid)",
            value=current.get(COORDINATE_CRS) or "",
            placeholder="e.g. EPSG:3435 (a US State Plane zone, feet) or EPSG:28992",
            key="colmap_coordinate_crs",
            help="Any projected CRS pyproj knows, as EPSG:code. The points are placed on the "
            "earth from it and the analysis CRS is then chosen as for longitude/latitude.",
        )
        if st.form_submit_button("Use these columns"):
            chosen: dict[str, str | None] = {
                r: None if h == LEAVE_OUT else h for r, h in picks.items() if h != AUTOMATIC
            }
            if grid.strip():
                chosen[COORDINATE_CRS] = grid.strip()
            ss["column_map"] = chosen
            ss[_MAPPED_FOR] = source.key
            st.rerun()


# --------------------------------------------------------------------------- the report
def split_reasons(reasons: dict[str, int]) -> tuple[int, int]:
    """(rows filtered out by the user's filters, rows rejected as invalid) from reason counts.

    The ingest report counts both as "rejected"; for people they are different things: a row
    outside the chosen dates is fine, a row without coordinates is not.
    """
    filtered = sum(n for r, n in reasons.items() if r in FILTER_REASONS)
    return filtered, sum(reasons.values()) - filtered


def show_report(incidents: Incidents) -> None:
    """Rows read, used, filtered out and rejected, with the reasons and automatic choices."""
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
    with st.expander("Ingest report: rows left out and automatic choices", expanded=True):
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
                data=lambda: rejected_csv(incidents),
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
            st.text("• " + plain(note))
        if rep.choices:
            st.json(json.loads(json.dumps(rep.choices, default=str)), expanded=False)
