"""Read police incident CSVs into :class:`~hotspots.incidents.Incidents`, accounting for every row.

:func:`read_incidents` takes one or many CSV files (police.uk street-level monthly files, generic
latitude/longitude tables, British National Grid easting/northing tables), detects each file's
format, cleans and validates every row, picks one metric analysis CRS
(:func:`hotspots.crs.choose_crs`), sets aside far-away mis-located points, and builds the study
area. Every data row ends up either as an incident or as one row of ``report.rejected`` with a
reason, so ``report.n_read == report.n_used + report.n_rejected`` always holds.

Rejection reasons, in the order they are tested (a row gets the first that applies):

=============================  ===============================================================
reason                         meaning
=============================  ===============================================================
``malformed row``              more or fewer fields than the header
``missing coordinates``        a coordinate is blank or a missing-value token (NA, null, -, ...)
``non-numeric coordinates``    a coordinate is not a number
``coordinates out of range``   \\|lat\\| > 90, \\|lon\\| > 180, or outside the BNG range
``null island (0, 0)``         both coordinates are exactly 0
``unparseable date``           the file has a date/time column and this value cannot be read
``invalid weight``             the weight column holds a negative or non-numeric value
``duplicate row``              an exact copy of an earlier row that carries an id
``spatial outlier``            an isolated point far from the dense body of the data
``outside study area polygon`` outside the ``study_area`` given
``crime type not selected``    its crime type is not among ``crime_types``
``outside date range``         before ``date_from`` or after ``date_to``
=============================  ===============================================================
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from hotspots import crs as crs_mod
from hotspots._errors import HotspotsWarning, InputError, ParameterError
from hotspots.incidents import REJECTED_COLUMNS, FileInfo, Incidents, IngestReport

__all__ = [
    "FORMAT_BNG",
    "FORMAT_LATLON",
    "FORMAT_POLICE_UK",
    "MISSING_TOKENS",
    "REASONS",
    "ROLES",
    "VIOLENCE_TYPES_POLICE_UK",
    "read_headers",
    "read_incidents",
    "read_text",
]

#: police.uk crime types kept by ``crime_types="default"``.
#:
#: police.uk files every crime in one of 14 broad categories. "Violence and sexual offences" holds
#: street violence (assaults, wounding, homicide) but also domestic abuse, harassment, stalking and
#: sexual offences, which police.uk does not separate; personal robbery is in "Robbery";
#: and knife and weapon carrying, the precursor that hot spot patrols aim to deter, is in
#: "Possession of weapons". These are the street-visible, deterrable violent offences the hot
#: spots guide says to count (R11 in ``shared/reference/hot-spots-guide.md``: "serious assault,
#: robbery, drug dealing"). Drugs, ASB, criminal damage and theft, which R11 also lists for
#: general hot spot policing, are left out because this tool targets serious violence; pass
#: ``crime_types="all"`` or a list to count them.
VIOLENCE_TYPES_POLICE_UK = frozenset(
    {"Violence and sexual offences", "Robbery", "Possession of weapons"}
)

#: Word stems that mark a crime type as violence-related in files whose taxonomy is not police.uk
#: (US NIBRS/UCR offence names, force-specific categories...). Matched case-insensitively inside
#: the crime type text: assaults and batteries, robbery, homicide, weapons and shootings, sexual
#: violence, kidnapping and threats - the street-visible, deterrable violence of guide rule R11.
VIOLENCE_KEYWORDS = (
    "assault", "battery", "robbery", "homicide", "murder", "manslaughter", "violen", "wound",
    "gbh", "abh", "weapon", "firearm", "shooting", "stab", "knife", "rape", "sexual", "kidnap",
    "abduct", "strangul", "threat", "affray", "riot", "carjack", "mugging",
)  # fmt: skip

FORMAT_POLICE_UK = "police.uk street-level"
FORMAT_LATLON = "latitude/longitude"
FORMAT_BNG = "British National Grid easting/northing"

#: Cell values read as missing (case-insensitive, after stripping whitespace).
MISSING_TOKENS = frozenset({"", "NA", "N/A", "NULL", "-", "--", "NAN", "NONE", "#N/A", "NIL"})

#: Roles a file column can play (keys of ``columns=``).
ROLES = (
    "lon", "lat", "easting", "northing", "date", "time", "datetime", "month", "crime_type",
    "weight", "id", "location",
)  # fmt: skip

R_MALFORMED = "malformed row"
R_MISSING = "missing coordinates"
R_NONNUMERIC = "non-numeric coordinates"
R_RANGE = "coordinates out of range"
R_NULL = "null island (0, 0)"
R_DATE = "unparseable date"
R_WEIGHT = "invalid weight"
R_DUPLICATE = "duplicate row"
R_OUTLIER = "spatial outlier"
R_POLYGON = "outside study area polygon"
R_TYPE = "crime type not selected"
R_DATE_RANGE = "outside date range"
#: Every rejection reason, in the order they are tested.
REASONS = (
    R_MALFORMED, R_MISSING, R_NONNUMERIC, R_RANGE, R_NULL, R_DATE, R_WEIGHT, R_DUPLICATE,
    R_OUTLIER, R_POLYGON, R_TYPE, R_DATE_RANGE,
)  # fmt: skip

#: British National Grid range accepted for easting / northing, metres.
BNG_RANGE = (0.0, 0.0, 700_000.0, 1_300_000.0)

# Outlier rule defaults (see _outliers).
OUTLIER_CELL_M = 1000.0
OUTLIER_MIN_INCIDENTS = 5
OUTLIER_FLOOR_KM = 10.0
OUTLIER_SPREAD_FACTOR = 2.0
# Study area rule defaults (see _default_study_area).
STUDY_CELL_M = 250.0
STUDY_MAX_CELLS = 60_000

# Header names (normalised: lower case, runs of other characters -> "_") by role, best first.
_NAMES: dict[str, tuple[str, ...]] = {
    "lat": ("latitude", "lat", "y_lat", "lat_y", "latitude_y", "y_latitude", "lat_wgs84",
            "wgs84_latitude", "latitude_wgs84", "geo_lat", "point_latitude", "incident_latitude",
            "lat_dd", "latitud"),
    "lon": ("longitude", "lon", "lng", "long", "x_lon", "lon_x", "longitude_x", "x_longitude",
            "x_lng", "x_long", "lon_wgs84", "wgs84_longitude", "longitude_wgs84", "geo_lon",
            "geo_lng", "point_longitude", "incident_longitude", "lon_dd", "longitud"),
    "easting": ("easting", "eastings", "os_x", "osgb_x", "bng_x", "x_bng", "bng_easting",
                "os_easting", "grid_easting", "easting_bng", "x_easting"),
    "northing": ("northing", "northings", "os_y", "osgb_y", "bng_y", "y_bng", "bng_northing",
                 "os_northing", "grid_northing", "northing_bng", "y_northing"),
    "datetime": ("datetime", "date_time", "timestamp", "occurred_at", "incident_datetime",
                 "occurrence_datetime", "offence_datetime", "offense_datetime", "date_and_time",
                 "datetime_occurred", "reported_datetime"),
    "date": ("date", "incident_date", "occurrence_date", "offence_date", "offense_date",
             "date_occurred", "occurred_date", "occurred_on", "crime_date", "event_date",
             "date_of_offence", "date_of_offense", "occ_date", "report_date", "reported_date",
             "date_reported", "date_occ", "cmplnt_fr_dt", "occ_dt", "dateoccurred",
             "date_of_occurrence", "first_occurrence_date"),
    "time": ("time", "incident_time", "occurrence_time", "offence_time", "offense_time",
             "time_occurred", "occurred_time", "occ_time", "time_of_day", "time_occ",
             "cmplnt_fr_tm", "occ_tm", "timeoccurred", "time_of_occurrence"),
    "month": ("month", "year_month", "yearmonth", "month_year"),
    "crime_type": ("crime_type", "offense_type", "offence_type", "crime_category",
                   "offense_category", "offence_category", "category", "primary_type",
                   "offense", "offence", "crime", "incident_type", "type", "offense_description",
                   "offence_description", "crime_description", "crm_cd_desc", "ofns_desc",
                   "offense_desc", "offence_desc", "crime_desc", "incident_category",
                   "nibrs_offense", "offense_name", "offence_name"),
    "weight": ("weight", "harm", "harm_weight", "harm_score", "harm_index", "crime_harm",
               "harm_days", "chi", "cchi"),
    "id": ("crime_id", "id", "uid", "incident_id", "incident_number", "case_number", "case_id",
           "crime_ref", "crime_reference", "crime_number", "report_number", "event_id",
           "offence_id", "offense_id", "record_id", "objectid"),
    "location": ("location", "address", "street", "block", "street_name"),
}  # fmt: skip
# Plain x/y pairs whose meaning (lon/lat or BNG) is decided from their values.
_XY_PAIRS = (("x", "y"), ("x_coordinate", "y_coordinate"), ("point_x", "point_y"),
             ("xcoord", "ycoord"), ("x_coord", "y_coord"), ("coord_x", "coord_y"))  # fmt: skip
_POLICE_UK_REQUIRED = {"crime_id", "month", "longitude", "latitude", "crime_type"}
_DELIMITERS = (",", ";", "\t", "|")
_DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

# Date formats. "{D}" / "{M}" are swapped to resolve day-first / month-first.
_DATE_FORMATS_ISO = (
    ("%Y-%m-%d %H:%M:%S", True), ("%Y-%m-%d %H:%M", True), ("%Y-%m-%dT%H:%M:%S", True),
    ("%Y-%m-%dT%H:%M", True), ("%Y-%m-%d %H:%M:%S.%f", True), ("%Y-%m-%dT%H:%M:%S.%f", True),
    ("%Y-%m-%d", False), ("%Y/%m/%d %H:%M:%S", True), ("%Y/%m/%d %H:%M", True), ("%Y/%m/%d", False),
)  # fmt: skip
_DATE_FORMATS_DM = (
    ("{A}/{B}/%Y %H:%M:%S", True), ("{A}/{B}/%Y %H:%M", True), ("{A}/{B}/%Y %I:%M:%S %p", True),
    ("{A}/{B}/%Y %I:%M %p", True), ("{A}/{B}/%Y", False), ("{A}-{B}-%Y %H:%M:%S", True),
    ("{A}-{B}-%Y %H:%M", True), ("{A}-{B}-%Y", False), ("{A}.{B}.%Y %H:%M:%S", True),
    ("{A}.{B}.%Y %H:%M", True), ("{A}.{B}.%Y", False), ("{A}/{B}/%y %H:%M", True),
    ("{A}/{B}/%y", False),
)  # fmt: skip
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%m/%Y", "%Y-%m-%d", "%b %Y", "%B %Y", "%Y%m")
_TZ_SUFFIX = r"(?<=\d\d:\d\d)(:\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)$"


# --------------------------------------------------------------------------------------------
# Reading bytes
# --------------------------------------------------------------------------------------------


def _gather(sources: Any) -> list[tuple[str, bytes]]:
    """Turn ``sources`` into a list of (name, bytes)."""
    if isinstance(sources, str | os.PathLike) or hasattr(sources, "read"):
        items: list[Any] = [sources]
    elif isinstance(sources, bytes | bytearray | memoryview):
        items = [("data.csv", bytes(sources))]
    elif (
        isinstance(sources, tuple)
        and len(sources) == 2
        and isinstance(sources[0], str)
        and isinstance(sources[1], bytes | bytearray | memoryview)
    ):
        items = [sources]
    elif isinstance(sources, Iterable):
        items = list(sources)
    else:
        msg = f"sources must be a path, a folder, file objects or (name, bytes) pairs, not {type(sources).__name__}."
        raise ParameterError(msg)
    out: list[tuple[str, bytes]] = []
    for item in items:
        if isinstance(item, str | os.PathLike):
            out.extend(_read_path(Path(item)))
        elif isinstance(item, tuple) and len(item) == 2:
            name, data = item
            if isinstance(data, str):
                data = data.encode("utf-8")
            if not isinstance(data, bytes | bytearray | memoryview):
                msg = f"The second item of the source pair for {name!r} must be bytes."
                raise ParameterError(msg)
            out.append((str(name), bytes(data)))
        elif hasattr(item, "read") or hasattr(item, "getvalue"):
            name = Path(str(getattr(item, "name", "upload.csv"))).name
            try:
                if hasattr(item, "getvalue"):
                    data = item.getvalue()
                else:
                    if hasattr(item, "seek"):
                        item.seek(0)
                    data = item.read()
            except (OSError, ValueError) as exc:
                msg = f"Could not read the uploaded file ({exc})."
                raise InputError(msg, file=name) from exc
            if isinstance(data, str):
                data = data.encode("utf-8")
            out.append((name, bytes(data)))
        else:
            msg = f"Cannot read a source of type {type(item).__name__}: give a path, a file object or (name, bytes)."
            raise ParameterError(msg)
    if not out:
        msg = "No input files were given."
        raise InputError(msg, hint="pass a CSV file, a folder of CSV files or a list of files.")
    return out


def _read_path(path: Path) -> list[tuple[str, bytes]]:
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
            if not files:
                msg = "The folder holds no .csv files."
                raise InputError(
                    msg, file=str(path), hint="point to a folder of CSV files or to a file."
                )
            return [(p.name, p.read_bytes()) for p in files]
        if not path.exists():
            msg = "No such file or folder."
            raise InputError(msg, file=str(path), hint="check the path.")
        return [(path.name, path.read_bytes())]
    except OSError as exc:
        msg = f"Could not read the file ({exc.strerror or exc})."
        raise InputError(msg, file=str(path)) from exc


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """Bytes to text: UTF-16 (with BOM), UTF-8 (with or without BOM), cp1252, then latin-1."""
    hint = "give a comma-, semicolon- or tab-separated text file (CSV) with a header row."
    if not data.strip():
        msg = "The file is empty."
        raise InputError(msg, file=name, hint=hint)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            msg = "The file starts with a UTF-16 byte-order mark but is not valid UTF-16."
            raise InputError(msg, file=name, hint=hint) from exc
    for magic, what in ((b"PK\x03\x04", "a zip archive or an Excel workbook"),
                        (b"\x1f\x8b", "a gzip-compressed file"), (b"%PDF", "a PDF")):  # fmt: skip
        if data.startswith(magic):
            msg = f"The file is {what}, not a CSV text file."
            raise InputError(msg, file=name, hint="unpack it or save it as CSV first.")
    head = data[:65536]
    controls = sum(head.count(bytes([c])) for c in (*range(0, 9), 11, 12, *range(14, 32)))
    if b"\x00" in head or controls > max(8, len(head) // 100):
        msg = "The file holds binary data, not CSV text."
        raise InputError(msg, file=name, hint=hint)
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _one_source(source: Any, name: str | None) -> tuple[str, bytes]:
    """(name, bytes) of one file given as a path or as bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        return name or "data.csv", bytes(source)
    found = _gather(source)
    if len(found) != 1:
        msg = "Expected one file, got a folder or several files."
        raise InputError(msg, file=name or str(source), hint="give one CSV file.")
    return (name or found[0][0]), found[0][1]


def read_text(source: Any, *, name: str | None = None) -> tuple[str, str, str]:
    """Decode one delimited text file exactly as :func:`read_incidents` does.

    Parameters
    ----------
    source : path or bytes
        The file, or its bytes (an upload).
    name : str, optional
        The file name used in error messages (default: the path's name, or ``"data.csv"``).

    Returns
    -------
    tuple of str
        ``(text, encoding, delimiter)``: UTF-16 (with a BOM), UTF-8 (BOM stripped), cp1252 or
        latin-1, and the delimiter among comma, semicolon, tab and pipe.

    Raises
    ------
    InputError
        The file is missing, empty, binary, a zip/gzip/PDF, or not valid UTF-16 after a BOM.
    """
    label, data = _one_source(source, name)
    text, encoding = _decode(data, label)
    return text, encoding, _sniff_delimiter(text)


def read_headers(source: Any, *, name: str | None = None) -> list[str]:
    """The column names in a CSV file's header row, decoded as :func:`read_incidents` decodes it.

    Only the first 64 KiB are read (cut at a line end, so no character is split).

    Parameters
    ----------
    source : path or bytes
    name : str, optional
        The file name used in error messages.

    Returns
    -------
    list of str
        The header cells, stripped, blanks left out, in file order.

    Examples
    --------
    >>> read_headers("Month;Longitude;Latitude\\n2024-01;-3.0;53.4\\n".encode("utf-16"))
    ['Month', 'Longitude', 'Latitude']
    """
    label, data = _one_source(source, name)
    head = data[:65536]
    if len(data) > len(head):
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            unit = b"\n\x00" if head[:2] == b"\xff\xfe" else b"\x00\n"
            cut = max(head.rfind(unit), 0)
            cut -= cut % 2
            head = head[: cut + 2] if cut else head[: len(head) - len(head) % 2]
        else:
            head = head[: head.rfind(b"\n") + 1] or head
    text, _encoding = _decode(head, label)
    delim = _sniff_delimiter(text)
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim):
        cells = [c.strip() for c in row]
        if any(cells):
            return [c for c in cells if c]
    return []


def _sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the header and the first rows most consistently."""
    sample_lines = [ln for ln in text[:200_000].splitlines() if ln.strip()][:60]
    if not sample_lines:
        return ","
    header = sample_lines[0]
    candidates = [d for d in _DELIMITERS if header.count(d) > 0]
    if not candidates:
        return ","
    sample = "\n".join(sample_lines)
    best, best_score = candidates[0], (-1.0, -1)
    for d in candidates:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=d) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        n = len(rows[0])
        body = rows[1:-1] or rows[1:]  # the last sample line may be cut
        consistent = float(np.mean([len(r) == n for r in body])) if body else 1.0
        score = (consistent, n)
        if score > best_score:
            best, best_score = d, score
    return best


def _split(text: str, delim: str, name: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Parse CSV text into (header, records, start line of each record; header is line 1)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    prev = 0
    try:
        for rec in reader:
            start = prev + 1
            prev = reader.line_num
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # blank line: not a data row
            if header is None:
                header = rec
                continue
            rows.append(rec)
            lines.append(start)
    except csv.Error as exc:
        msg = f"The CSV text cannot be parsed near line {reader.line_num} ({exc})."
        raise InputError(
            msg, file=name, row=reader.line_num, hint="check quotes and the delimiter."
        ) from exc
    if header is None:
        msg = "The file holds no header row."
        raise InputError(msg, file=name, hint="the first line must name the columns.")
    return header, rows, lines


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.replace("\ufeff", "").strip().lower()).strip("_")


def _unique_header(header: list[str]) -> list[str]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        h = h.replace("\ufeff", "").strip() or f"column_{i + 1}"
        if h in seen:
            seen[h] += 1
            h = f"{h}.{seen[h]}"
        else:
            seen[h] = 0
        out.append(h)
    return out


# --------------------------------------------------------------------------------------------
# Cleaning cells
# --------------------------------------------------------------------------------------------


def _clean(s: pd.Series) -> pd.Series:
    """Strip whitespace; missing-value tokens become ""."""
    s = s.astype(str).str.strip()
    return s.mask(s.str.upper().isin(MISSING_TOKENS), "")


def _to_float(s: pd.Series, *, degrees: bool) -> np.ndarray:
    """Cleaned text to float (NaN where not a number).

    Decimal commas are accepted ("53,4"); for non-degree values (eastings, weights) a comma
    followed by groups of exactly three digits ("530,000") is read as a thousands separator.
    """
    if s.str.contains(",", regex=False).any():
        if not degrees:
            thousands = s.str.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
            s = s.mask(thousands, s.str.replace(",", "", regex=False))
        s = s.str.replace(r"^([+-]?\d+),(\d+)$", r"\1.\2", regex=True)
    vals = pd.to_numeric(s, errors="coerce")
    return np.asarray(vals, dtype=float)


# --------------------------------------------------------------------------------------------
# Column detection
# --------------------------------------------------------------------------------------------


def _find(norm: dict[str, str], role: str, used: set[str]) -> str | None:
    for cand in _NAMES[role]:
        if cand in norm and norm[cand] not in used:
            return norm[cand]
    return None


def _detect(
    header: list[str], raw: pd.DataFrame, columns: Mapping[str, str | None], name: str
) -> tuple[str, dict[str, str]]:
    """Return (format, {role: column}) for one file."""
    norm: dict[str, str] = {}
    for h in header:
        norm.setdefault(_normalise(h), h)
    mapping: dict[str, str] = {}
    disabled = set()
    for role, col in columns.items():
        if col is None or col == "":
            disabled.add(role)
            continue
        if col in header:
            mapping[role] = col
        elif _normalise(col) in norm:
            mapping[role] = norm[_normalise(col)]
        else:
            msg = f"The column {col!r} given for {role!r} is not in the file. Its header is: {', '.join(header)}."
            raise InputError(
                msg, file=name, hint="pass columns= with names exactly as in the header."
            )
    used = set(mapping.values())
    police = _POLICE_UK_REQUIRED <= set(norm) and ({"falls_within", "reported_by"} & set(norm))
    fmt = ""
    if {"lon", "lat"} <= set(mapping):
        fmt = FORMAT_LATLON
    elif {"easting", "northing"} <= set(mapping):
        fmt = FORMAT_BNG
    elif set(mapping) & {"lon", "lat", "easting", "northing"}:
        msg = "columns= must name both lon and lat, or both easting and northing."
        raise ParameterError(msg)
    else:
        lat, lon = _find(norm, "lat", used), _find(norm, "lon", used)
        east, north = _find(norm, "easting", used), _find(norm, "northing", used)
        if lat and lon and not {"lat", "lon"} & disabled:
            mapping.update(lat=lat, lon=lon)
            fmt = FORMAT_LATLON
        elif east and north:
            mapping.update(easting=east, northing=north)
            fmt = FORMAT_BNG
        else:
            for xn, yn in _XY_PAIRS:
                if xn in norm and yn in norm:
                    xc, yc = norm[xn], norm[yn]
                    kind = _xy_kind(raw[xc], raw[yc]) if len(raw) else None
                    if kind == "lonlat":
                        mapping.update(lon=xc, lat=yc)
                        fmt = FORMAT_LATLON
                    elif kind == "bng":
                        mapping.update(easting=xc, northing=yc)
                        fmt = FORMAT_BNG
                    break
    if not fmt:
        msg = (
            "Cannot find the coordinate columns. The header is: "
            f"{', '.join(repr(h) for h in header)}."
        )
        hint = (
            "name them latitude/longitude (WGS84 degrees) or easting/northing (British National "
            "Grid metres), or pass columns={'lon': ..., 'lat': ...} or "
            "columns={'easting': ..., 'northing': ...}."
        )
        raise InputError(msg, file=name, hint=hint)
    if police and fmt == FORMAT_LATLON:
        fmt = FORMAT_POLICE_UK
    used = set(mapping.values())
    for role in ("datetime", "date", "time", "month", "crime_type", "weight", "id", "location"):
        if role in mapping or role in disabled:
            continue
        col = _find(norm, role, used)
        if col is not None:
            mapping[role] = col
            used.add(col)
    if "datetime" in mapping and "date" in mapping:
        del mapping["date"]  # the combined column wins
    if "time" in mapping and "date" not in mapping and "datetime" not in mapping:
        del mapping["time"]
    return fmt, mapping


def _xy_kind(xs: pd.Series, ys: pd.Series) -> str | None:
    x = _to_float(_clean(xs), degrees=True)
    y = _to_float(_clean(ys), degrees=True)
    ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
    if not ok.any():
        return None
    x, y = x[ok], y[ok]
    mx, my = np.median(x), np.median(y)
    if abs(mx) <= 180 and abs(my) <= 90 and np.mean((np.abs(x) <= 180) & (np.abs(y) <= 90)) > 0.9:
        return "lonlat"
    e0, n0, e1, n1 = BNG_RANGE
    if 1000 <= mx <= e1 and 1000 <= my <= n1:
        return "bng"
    return None


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


def _day_first(values: pd.Series, default: bool) -> tuple[bool, str]:
    """Resolve d/m vs m/d for slash/dash/dot dates from the values, else the default."""
    m = values.str.extract(r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")
    m = m.dropna()
    if m.empty:
        return default, "no day/month dates"
    a = pd.to_numeric(m[0], errors="coerce")
    b = pd.to_numeric(m[1], errors="coerce")
    if (a > 12).any() and not (b > 12).any():
        return True, "day-first (a first field above 12 was found)"
    if (b > 12).any() and not (a > 12).any():
        return False, "month-first (a second field above 12 was found)"
    return default, ("day-first" if default else "month-first") + " (ambiguous; regional default)"


def _parse_datetimes(s: pd.Series, day_first: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse cleaned date/datetime text. Returns (datetime64[ns], has_time, ok) arrays.

    Formats are tried in order of how well they fit a sample of the values; each value gets
    the first format that reads it.
    """
    n = len(s)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has_time = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    present = (s != "").to_numpy()
    if not present.any():
        return out, has_time, ok
    s = s.str.replace(_TZ_SUFFIX, r"\1", regex=True)
    order = ("%d", "%m") if day_first else ("%m", "%d")
    formats = list(_DATE_FORMATS_ISO) + [
        (f.format(A=order[0], B=order[1]), t) for f, t in _DATE_FORMATS_DM
    ]
    sample = s[present].iloc[:300]
    hits = [
        int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f, _ in formats
    ]
    ranked = [formats[i] for i in np.argsort(-np.asarray(hits), kind="stable")]
    todo = present.copy()
    for fmt, timed in ranked:
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        parsed = pd.to_datetime(s.iloc[idx], format=fmt, errors="coerce")
        good = parsed.notna().to_numpy()
        if good.any():
            gi = idx[good]
            out[gi] = parsed[good].to_numpy().astype("datetime64[ns]")
            has_time[gi] = timed
            ok[gi] = True
            todo[gi] = False
    return out, has_time, ok


def _parse_times(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a time-of-day column: HH:MM[:SS][ am/pm] or HHMM. Returns (timedelta64[ns], ok)."""
    m = s.str.extract(r"^(\d{1,2}):?(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp]\.?[Mm]\.?)?$")
    h = pd.to_numeric(m[0], errors="coerce").to_numpy(dtype=float)
    mi = pd.to_numeric(m[1], errors="coerce").to_numpy(dtype=float)
    sec = pd.to_numeric(m[2], errors="coerce").fillna(0).to_numpy(dtype=float)
    ampm = m[3].fillna("").str.lower().str[0].to_numpy(dtype=object)
    with np.errstate(invalid="ignore"):
        pm = ampm == "p"
        am = ampm == "a"
        h = np.where(pm & (h < 12), h + 12, h)
        h = np.where(am & (h == 12), 0, h)
        ok = np.isfinite(h) & np.isfinite(mi) & (h < 24) & (mi < 60) & (sec < 60)
        ok &= ~((am | pm) & ((h > 23) | (h < 0)))
    td = np.where(ok, (np.nan_to_num(h) * 3600 + np.nan_to_num(mi) * 60 + sec), 0)
    return (td * 1e9).astype("int64").astype("timedelta64[ns]"), ok


def _parse_months(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    n = len(s)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = np.zeros(n, dtype=bool)
    todo = (s != "").to_numpy().copy()
    for fmt in _MONTH_FORMATS:
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        parsed = pd.to_datetime(s.iloc[idx], format=fmt, errors="coerce")
        good = parsed.notna().to_numpy()
        gi = idx[good]
        out[gi] = parsed[good].to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
        ok[gi] = True
        todo[gi] = False
    return out, ok


def _month_start(dt: np.ndarray) -> np.ndarray:
    return dt.astype("datetime64[M]").astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------


@dataclass
class _File:
    info: FileInfo
    header: list[str]
    raw: pd.DataFrame  # well-formed rows, all text
    malformed: list[list[str]]
    table: pd.DataFrame  # canonical columns, one row per data row (well-formed first)
    notes: list[str] = field(default_factory=list)
    date_order: str = ""


def _forces(header: list[str], raw: pd.DataFrame) -> list[str]:
    """The police force(s) a police.uk file says it covers ("Falls within"), for provenance."""
    for h in header:
        if _normalise(h) == "falls_within":
            values = raw[h].str.strip()
            return sorted(v for v in values[values != ""].unique()[:20])
    return []


def _read_file(name: str, data: bytes, columns: Mapping[str, str | None], index: int) -> _File:
    sha = hashlib.sha256(data).hexdigest()
    text, encoding = _decode(data, name)
    delim = _sniff_delimiter(text)
    header, rows, lines = _split(text, delim, name)
    header = _unique_header(header)
    ncol = len(header)
    lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    good = lens == ncol
    # a trailing empty field (line ending in a delimiter) on every row is tolerated below
    line_arr = np.asarray(lines, dtype=np.int64)
    good_rows = [r for r, g in zip(rows, good, strict=True) if g] if not good.all() else rows
    malformed = [r for r, g in zip(rows, good, strict=True) if not g]
    if good_rows:
        cols = list(zip(*good_rows, strict=True))
        raw = pd.DataFrame({h: pd.Series(c, dtype=str) for h, c in zip(header, cols, strict=True)})
    else:
        raw = pd.DataFrame({h: pd.Series([], dtype=str) for h in header})
    fmt, mapping = _detect(header, raw, columns, name)
    n = len(raw)
    info = FileInfo(
        name=name, sha256=sha, n_rows=len(rows), format=fmt, encoding=encoding,
        delimiter=_DELIM_NAMES.get(delim, delim), columns=dict(mapping),
        forces=_forces(header, raw),
    )  # fmt: skip
    notes: list[str] = []
    reason = np.full(n, "", dtype=object)
    column = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray, why: str, col: str | np.ndarray, text_: pd.Series | str) -> None:
        mask = mask & (reason == "")
        if not mask.any():
            return
        reason[mask] = why
        column[mask] = col[mask] if isinstance(col, np.ndarray) else col
        detail[mask] = text_[mask].to_numpy(dtype=object) if isinstance(text_, pd.Series) else text_

    cleaned = {role: _clean(raw[col]) for role, col in mapping.items()}
    bng = fmt == FORMAT_BNG
    if bng:
        cx, cy = mapping["easting"], mapping["northing"]
        sx, sy = cleaned["easting"], cleaned["northing"]
    else:
        cx, cy = mapping["lon"], mapping["lat"]
        sx, sy = cleaned["lon"], cleaned["lat"]
    vx = _to_float(sx, degrees=not bng)
    vy = _to_float(sy, degrees=not bng)
    miss_x, miss_y = (sx == "").to_numpy(), (sy == "").to_numpy()
    reject(
        miss_x | miss_y,
        R_MISSING,
        np.where(miss_x, cx, cy).astype(object),
        "a coordinate is blank or missing",
    )
    reject(np.isnan(vx), R_NONNUMERIC, cx, "'" + sx + "' is not a number")
    reject(np.isnan(vy), R_NONNUMERIC, cy, "'" + sy + "' is not a number")
    with np.errstate(invalid="ignore"):
        if bng:
            e0, n0, e1, n1 = BNG_RANGE
            bad_x = ~((vx >= e0) & (vx <= e1))
            bad_y = ~((vy >= n0) & (vy <= n1))
            rng = f"outside the British National Grid (easting {e0:.0f}-{e1:.0f} m, northing {n0:.0f}-{n1:.0f} m)"
        else:
            bad_x = ~(np.abs(vx) <= 180)
            bad_y = ~(np.abs(vy) <= 90)
            rng = "outside -180..180 (longitude) or -90..90 (latitude)"
    reject(bad_x, R_RANGE, cx, "'" + sx + "' is " + rng)
    reject(bad_y, R_RANGE, cy, "'" + sy + "' is " + rng)
    reject((vx == 0) & (vy == 0), R_NULL, cx, "both coordinates are 0: a missing location")
    # locations for the regional date default
    okxy = reason == ""
    americas = False
    if not bng and okxy.any():
        americas = bool(np.median(vx[okxy]) < -30)

    # dates
    dt = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has_time = np.zeros(n, dtype=bool)
    month = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    date_role = "datetime" if "datetime" in mapping else ("date" if "date" in mapping else None)
    date_order = ""
    if date_role is not None:
        sd = cleaned[date_role]
        day_first, date_order = _day_first(sd[sd != ""], default=not americas)
        dt, has_time, ok = _parse_datetimes(sd, day_first)
        bad = (sd != "").to_numpy() & ~ok
        reject(bad, R_DATE, mapping[date_role], "'" + sd + "' is not a date this reader knows")
        if "time" in mapping:
            st = cleaned["time"]
            td, tok = _parse_times(st)
            tpresent = (st != "").to_numpy()
            reject(tpresent & ~tok, R_DATE, mapping["time"], "'" + st + "' is not a time of day")
            use = ok & tpresent & tok
            dt = np.where(use, dt.astype("datetime64[D]").astype("datetime64[ns]") + td, dt)
            has_time = np.where(use, True, has_time)
        month = _month_start(dt)
    if "month" in mapping:
        sm = cleaned["month"]
        mon, mok = _parse_months(sm)
        fill = np.isnat(month)
        if date_role is None:
            reject(
                (sm != "").to_numpy() & ~mok,
                R_DATE,
                mapping["month"],
                "'" + sm + "' is not a month (YYYY-MM)",
            )
        month = np.where(fill, mon, month)
    # weights
    weight = np.ones(n, dtype=float)
    if "weight" in mapping:
        sw = cleaned["weight"]
        weight = _to_float(sw, degrees=False)
        badw = ~(np.isfinite(weight) & (weight >= 0))
        reject(badw, R_WEIGHT, mapping["weight"], "'" + sw + "' is not a number >= 0")

    crime = cleaned["crime_type"] if "crime_type" in mapping else pd.Series([""] * n, dtype=str)
    loc = cleaned["location"] if "location" in mapping else pd.Series([""] * n, dtype=str)
    has_id = (cleaned["id"] != "").to_numpy() if "id" in mapping else np.zeros(n, dtype=bool)
    if n:
        sig = np.uint64(
            int.from_bytes(hashlib.sha256("\x1f".join(header).encode()).digest()[:8], "little")
        )
        rowhash = pd.util.hash_pandas_object(raw, index=False).to_numpy() ^ sig
    else:
        rowhash = np.zeros(0, dtype=np.uint64)
    table = pd.DataFrame(
        {
            "file": np.full(n, index, dtype=np.int64),
            "source_row": line_arr[good] if n else np.zeros(0, dtype=np.int64),
            "rawpos": np.arange(n, dtype=np.int64),
            "reason": reason,
            "column": column,
            "detail": detail,
            "vx": vx,
            "vy": vy,
            "bng": np.full(n, bng),
            "datetime": dt,
            "has_time": has_time,
            "month": month,
            "crime_type": crime.to_numpy(dtype=object),
            "weight": weight,
            "location": loc.to_numpy(dtype=object),
            "has_id": has_id,
            "hash": rowhash,
        }
    )
    if malformed:
        m = len(malformed)
        extra = pd.DataFrame(
            {
                "file": np.full(m, index, dtype=np.int64),
                "source_row": line_arr[~good],
                "rawpos": -1 - np.arange(m, dtype=np.int64),
                "reason": R_MALFORMED,
                "column": "",
                "detail": [f"{k} fields where the header has {ncol}" for k in lens[~good]],
                "vx": np.nan,
                "vy": np.nan,
                "bng": bng,
                "datetime": np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]"),
                "has_time": False,
                "month": np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]"),
                "crime_type": "",
                "weight": 1.0,
                "location": "",
                "has_id": False,
                "hash": np.arange(m, dtype=np.uint64),
            }
        )
        table = pd.concat([table, extra], ignore_index=True) if n else extra
        notes.append(
            f"{name}: {m} row(s) had more or fewer fields than the header and were rejected."
        )
    return _File(info, header, raw, malformed, table, notes, date_order)


# --------------------------------------------------------------------------------------------
# Spatial rules
# --------------------------------------------------------------------------------------------


def _cell_codes(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    return (ix.astype(np.int64) << 32) + (iy.astype(np.int64) + (1 << 31))


def _outliers(
    x: np.ndarray, y: np.ndarray, fixed_km: float | None
) -> tuple[np.ndarray, dict[str, Any], str]:
    """Flag isolated points far from the dense body of the data.

    A point is *isolated* when its 1 km grid cell and the 8 cells around it (a 3 km square) hold
    fewer than 5 incidents. The *dense body* is every non-isolated incident. An isolated point is
    an outlier when it lies more than ``D`` from the nearest dense incident, where ``D`` is
    ``fixed_km`` when given, else ``max(10 km, 2 x the 95th-percentile distance of dense
    incidents from their median point)``: 10 km for a city centre, ~40 km for a whole force,
    hundreds of km for national data (which therefore loses nothing).
    """
    n = len(x)
    params: dict[str, Any] = {
        "cell_m": OUTLIER_CELL_M,
        "min_incidents_3x3_cells": OUTLIER_MIN_INCIDENTS,
        "floor_km": OUTLIER_FLOOR_KM,
        "spread_factor": OUTLIER_SPREAD_FACTOR,
        "distance_km": None,
    }
    flag = np.zeros(n, dtype=bool)
    if n == 0:
        return flag, params, "no located incidents to test"
    ix = np.floor(x / OUTLIER_CELL_M).astype(np.int64)
    iy = np.floor(y / OUTLIER_CELL_M).astype(np.int64)
    codes = _cell_codes(ix, iy)
    ucodes, inv, cnt = np.unique(codes, return_inverse=True, return_counts=True)
    ux = (ucodes >> 32).astype(np.int64)
    uy = (ucodes & 0xFFFFFFFF).astype(np.int64) - (1 << 31)
    total = np.zeros(len(ucodes), dtype=np.int64)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            c2 = _cell_codes(ux + dx, uy + dy)
            pos = np.searchsorted(ucodes, c2)
            pos = np.minimum(pos, len(ucodes) - 1)
            hit = ucodes[pos] == c2
            total[hit] += cnt[pos[hit]]
    dense = (total >= OUTLIER_MIN_INCIDENTS)[inv]
    if not dense.any():
        return flag, params, "no dense area (no 3 km square holds 5 incidents), so no outlier test"
    dxy = np.column_stack([x[dense], y[dense]])
    if fixed_km is not None:
        dist_m = fixed_km * 1000.0
    else:
        med = np.median(dxy, axis=0)
        p95 = float(np.percentile(np.hypot(*(dxy - med).T), 95))
        dist_m = max(OUTLIER_FLOOR_KM * 1000.0, OUTLIER_SPREAD_FACTOR * p95)
    params["distance_km"] = round(dist_m / 1000.0, 3)
    iso = ~dense
    if iso.any():
        core = np.unique(dxy, axis=0)
        ipts, iinv = np.unique(np.column_stack([x[iso], y[iso]]), axis=0, return_inverse=True)
        d, _ = cKDTree(core).query(ipts, k=1)
        flag[np.flatnonzero(iso)] = (d > dist_m)[np.ravel(iinv)]
    return flag, params, ""


def _decode_cells(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (codes >> 32).astype(np.int64), (codes & 0xFFFFFFFF).astype(np.int64) - (1 << 31)


def _neighbours(codes: np.ndarray) -> list[np.ndarray]:
    cx, cy = _decode_cells(codes)
    return [_cell_codes(cx + dx, cy + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


#: Margin around the incidents' convex hull that clips the default study area, in metres.
STUDY_HULL_MARGIN_M = 25.0


def _default_study_area(x: np.ndarray, y: np.ndarray) -> tuple[BaseGeometry, float]:
    """Closed grid cells around the incidents (see read_incidents Notes). Returns (area, cell m)."""
    cell = STUDY_CELL_M
    while True:
        ix = np.floor(x / cell).astype(np.int64)
        iy = np.floor(y / cell).astype(np.int64)
        occ = np.unique(_cell_codes(ix, iy))
        if len(occ) <= STUDY_MAX_CELLS:
            break
        cell *= 2.0
    # morphological closing on the cell grid: dilate by one cell, then erode by one cell
    dilated = np.unique(np.concatenate(_neighbours(occ)))
    keep = np.ones(len(dilated), dtype=bool)
    for c2 in _neighbours(dilated):
        pos = np.minimum(np.searchsorted(dilated, c2), len(dilated) - 1)
        keep &= dilated[pos] == c2
    cells = np.union1d(dilated[keep], occ)
    cx, cy = _decode_cells(cells)
    # merge runs along each row of cells into one rectangle each
    order = np.lexsort((cx, cy))
    cx, cy = cx[order], cy[order]
    brk = np.ones(len(cx), dtype=bool)
    brk[1:] = (cy[1:] != cy[:-1]) | (cx[1:] != cx[:-1] + 1)
    starts = np.flatnonzero(brk)
    ends = np.append(starts[1:], len(cx)) - 1
    boxes = shapely.box(
        cx[starts] * cell, cy[starts] * cell, (cx[ends] + 1) * cell, (cy[starts] + 1) * cell
    )
    # clip to the incidents' convex hull (plus a 25 m margin): whole cells at the edge of the data
    # would otherwise add up to a cell's width of empty land all round, which for a small area
    # (a town centre, a square of simulated noise) understates the density that significance
    # tests compare against
    uniq = np.unique(np.column_stack([x, y]), axis=0)
    hull = shapely.convex_hull(shapely.multipoints(uniq)).buffer(STUDY_HULL_MARGIN_M)
    return shapely.intersection(shapely.union_all(boxes), hull), cell


def _load_study_area(study_area: Any, analysis_crs: pyproj.CRS, given_crs: Any) -> BaseGeometry:
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a dependency
        gpd = None
    try:
        if isinstance(study_area, str | os.PathLike):
            if gpd is None:  # pragma: no cover
                msg = "Reading a study area file needs geopandas."
                raise ParameterError(msg)
            gdf = gpd.read_file(study_area)
            if gdf.crs is None:
                gdf = gdf.set_crs(4326)
            geom = gdf.to_crs(analysis_crs).geometry.union_all()
        elif gpd is not None and isinstance(study_area, gpd.GeoDataFrame | gpd.GeoSeries):
            gdf = (
                study_area if study_area.crs is not None else study_area.set_crs(given_crs or 4326)
            )
            geom = (
                gdf.to_crs(analysis_crs).geometry.union_all()
                if isinstance(gdf, gpd.GeoDataFrame)
                else gdf.to_crs(analysis_crs).union_all()
            )
        elif isinstance(study_area, BaseGeometry):
            src = pyproj.CRS.from_user_input(given_crs) if given_crs is not None else crs_mod.WGS84
            if src.equals(analysis_crs):
                geom = study_area
            else:
                t = pyproj.Transformer.from_crs(src, analysis_crs, always_xy=True)
                geom = shapely.transform(
                    study_area, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1]))
                )
        else:
            msg = f"study_area must be a path, a GeoDataFrame or a shapely geometry, not {type(study_area).__name__}."
            raise ParameterError(msg)
    except (ParameterError, InputError):
        raise
    except Exception as exc:
        msg = f"Could not read the study area ({exc})."
        raise InputError(msg, file=str(study_area) if isinstance(study_area, str | os.PathLike) else None,
                         hint="give a GeoJSON polygon in WGS84 or a shapely polygon.") from exc  # fmt: skip
    geom = shapely.make_valid(geom)
    if geom.is_empty or geom.area <= 0:
        msg = "The study area has no area."
        raise InputError(msg, hint="give a polygon, not points or lines.")
    return geom


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def _parse_when(value: Any, name: str) -> tuple[pd.Timestamp, bool] | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        msg = f"{name}={value!r} is not a date; give e.g. '2024-01-31'."
        raise ParameterError(msg) from exc
    if ts is pd.NaT:
        msg = f"{name}={value!r} is not a date; give e.g. '2024-01-31'."
        raise ParameterError(msg)
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    date_only = ts == ts.normalize()
    return ts, bool(date_only)


def read_incidents(
    sources: Any,
    *,
    columns: Mapping[str, str | None] | None = None,
    crime_types: str | Sequence[str] = "default",
    harm_weights: Mapping[str, float] | None = None,
    study_area: Any = None,
    crs: Any = None,
    outlier_km: float | bool | None = None,
    date_from: Any = None,
    date_to: Any = None,
) -> Incidents:
    """Read incident CSV files into validated :class:`~hotspots.incidents.Incidents`.

    Parameters
    ----------
    sources : path, folder, file object, (name, bytes) or a sequence of these
        CSV input. A folder means every ``*.csv`` in it, in name order (a folder of police.uk
        monthly files is the common case). File objects need a ``name`` (Streamlit uploads).
    columns : dict, optional
        Role -> column name, overriding detection for those roles. Roles: ``lon``, ``lat``
        (WGS84 degrees), ``easting``, ``northing`` (British National Grid metres), ``date``,
        ``time``, ``datetime``, ``month``, ``crime_type``, ``weight``, ``id``, ``location``.
        Map a role to ``None`` to ignore that column.
    crime_types : "default", "all" or list of str, default "default"
        ``"default"`` keeps :data:`VIOLENCE_TYPES_POLICE_UK` in police.uk files; in other files
        with a crime type column it keeps the types whose name contains a
        :data:`VIOLENCE_KEYWORDS` stem (a note lists the types kept and dropped), or every row
        when no type does (e.g. a file of one offence such as "personal robbery" is kept whole
        either way); files without a crime type column are kept whole. ``"all"`` keeps every
        row. A list keeps exactly those types (case-insensitive); names found in no file are
        warned about.
    harm_weights : dict, optional
        Crime type -> harm weight (>= 0), e.g. Cambridge Crime Harm Index days. Every kept crime
        type must be mapped; weights are never invented. Overrides a weight column.
    study_area : path, GeoDataFrame or shapely geometry, optional
        Polygon(s) of the study area. Files and bare geometries are WGS84 lon/lat (a bare
        geometry is in ``crs`` when ``crs`` is given). Points outside are rejected.
    crs : pyproj CRS input, optional
        Projected metric analysis CRS. Default: :func:`hotspots.crs.choose_crs`.
    outlier_km : float, bool or None, default None
        Distance (km) beyond which isolated points are outliers. ``None``: automatic (see Notes);
        ``0`` or ``False``: no outlier test. When ``study_area`` is given the polygon replaces the
        outlier test unless ``outlier_km`` is a number.
    date_from, date_to : date-like, optional
        Keep incidents on or after ``date_from`` and on or before ``date_to`` (a date without a
        time includes the whole day). Month-only rows are kept when their month overlaps the range.

    Returns
    -------
    Incidents
        ``frame`` in the analysis CRS (x, y in metres), the study area (analysis CRS) and an
        :class:`~hotspots.incidents.IngestReport` accounting for every data row.

    Raises
    ------
    InputError
        For unreadable, empty or binary files, files without detectable coordinates, unmapped
        harm types, or when no row survives validation (the message gives the top reasons).
    ParameterError
        For invalid arguments.

    Notes
    -----
    **Reading.** Bytes are decoded as UTF-16 (with a BOM), UTF-8 (BOM stripped), then cp1252,
    then latin-1. The delimiter is sniffed among comma, semicolon, tab and pipe. Blank lines are
    skipped and not counted. ``source_row`` is the physical line where a record starts (header =
    line 1), so a quoted field spanning lines moves later rows' numbers on correctly. Rows with
    more or fewer fields than the header are rejected as ``malformed row``. A file with a valid
    header and no rows adds nothing; an empty or binary file is an :class:`InputError`.
    Values ``NA``, ``N/A``, ``null``, ``-``, ``NaN``, ``None`` and blanks are missing. Decimal
    commas are read in coordinate and weight columns.

    **Dates.** ``date``/``datetime`` columns take ISO forms (``2019-01-01 20:00[:00]``,
    ``T`` separator, time-zone suffixes ignored: times are read as written) and
    ``dd/mm/yyyy [HH:MM[:SS]]`` style dates. Day/month order is taken from the values (a first
    field > 12 means day-first, a second field > 12 month-first); when every value is ambiguous,
    day-first is used except for data in the Americas (median longitude < 30 W), which are read
    month-first. A separate ``time`` column (``HH:MM[:SS]``, ``HHMM``, am/pm) is added to the date.
    ``has_time`` is True only where a time of day was written. Rows with only a date get
    ``datetime`` at midnight and ``has_time`` False; month-only rows (police.uk) get NaT.
    Blank dates are kept (month NaT) and counted in a note; unreadable ones are rejected.

    **Duplicates.** An exact copy (every field equal, same header) of an earlier row, in the same
    or another file, is rejected as ``duplicate row`` only when it carries a non-blank id: police.uk
    anti-social behaviour rows have no Crime ID and identical rows are separate incidents snapped
    to the same map point in the same month, so they are kept (and counted in a note).

    **Outliers.** Computed on every located row (all crime types) in the analysis CRS. A point
    is *isolated* when its 1 km grid cell and the 8 around it hold fewer than 5 incidents; an
    isolated point more than ``D`` from the nearest non-isolated incident is a ``spatial
    outlier``. ``D = outlier_km`` when given, else ``max(10 km, 2 x P95)`` with ``P95`` the
    95th-percentile distance of non-isolated incidents from their median point. This drops the
    Swindon, Powys and Bolton points in City of London files (``D`` = 10 km), keeps every point
    of a whole force (Merseyside: ``D`` ~ 40 km) and of national data (``D`` hundreds of km),
    and never drops dense groups, however far.

    **Study area.** Unless given, the 250 m grid cells that hold an inlier incident (any crime
    type), closed morphologically (dilated by one cell, then eroded by one cell) so one-cell gaps
    and holes inside built-up areas are filled without adding a margin outside. Unlike a convex
    hull or a buffer it leaves out estuaries, sea and the land between separate towns, and a
    straggler adds only its own cell (0.0625 km²). It works for one point (one 250 m cell) and
    for collinear points. The cell doubles until at most 60,000 cells are occupied (national
    data). Data-driven areas still include the neighbouring streets police.uk snaps boundary
    incidents to (City of London: ~24 km² for a 2.9 km² force); pass ``study_area`` for an
    exact PAI denominator.

    **Rejection order.** malformed, coordinates, dates, weights, duplicates, outliers / study
    area polygon, crime type, date range: each rejected row carries the first reason.
    """
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(ROLES))
    if unknown:
        msg = f"Unknown role(s) in columns=: {unknown}. Roles are: {', '.join(ROLES)}."
        raise ParameterError(msg)
    type_filter = _check_crime_types(crime_types)
    if harm_weights is not None:
        harm_weights = _check_harm_weights(harm_weights)
    if outlier_km is True:
        outlier_km = None
    if outlier_km is not None and outlier_km is not False:
        try:
            outlier_km = float(outlier_km)
        except (TypeError, ValueError) as exc:
            msg = f"outlier_km must be a number of kilometres, None or False, not {outlier_km!r}."
            raise ParameterError(msg) from exc
        if not np.isfinite(outlier_km) or outlier_km < 0:
            msg = f"outlier_km must be >= 0, not {outlier_km!r}."
            raise ParameterError(msg)
    when_from = _parse_when(date_from, "date_from")
    when_to = _parse_when(date_to, "date_to")
    analysis_crs: pyproj.CRS | None = None
    if crs is not None:
        try:
            analysis_crs = pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError as exc:
            msg = f"crs={crs!r} is not a coordinate reference system pyproj knows."
            raise ParameterError(msg) from exc
        units = {a.unit_name for a in analysis_crs.axis_info}
        if not analysis_crs.is_projected or not units <= {"metre", "meter"}:
            msg = (
                f"crs={crs!r} must be a projected CRS in metres (e.g. 'EPSG:27700' or a UTM zone)."
            )
            raise ParameterError(msg)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=pd.errors.DtypeWarning)
            return _read(
                sources, columns, type_filter, harm_weights, study_area, analysis_crs, crs,
                outlier_km, when_from, when_to,
            )  # fmt: skip
    except (InputError, ParameterError):
        raise
    except Exception as exc:  # never show a raw pandas / pyproj traceback (the cause is chained)
        msg = f"The input could not be read ({type(exc).__name__}: {exc})."
        raise InputError(
            msg, hint="check the file is a CSV with a header and coordinate columns."
        ) from exc


def _check_crime_types(crime_types: Any) -> str | frozenset[str]:
    if isinstance(crime_types, str):
        low = crime_types.strip().lower()
        if low in ("default", "all"):
            return low
        return frozenset({crime_types.strip().casefold()})
    try:
        names = [str(t).strip().casefold() for t in crime_types]
    except TypeError as exc:
        msg = f"crime_types must be 'default', 'all' or a list of crime types, not {crime_types!r}."
        raise ParameterError(msg) from exc
    if not names:
        msg = "crime_types is an empty list; give 'all' or at least one crime type."
        raise ParameterError(msg)
    return frozenset(names)


def _check_harm_weights(harm_weights: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        items = list(harm_weights.items())
    except AttributeError as exc:
        msg = "harm_weights must be a mapping of crime type -> weight."
        raise ParameterError(msg) from exc
    for k, v in items:
        try:
            w = float(v)
        except (TypeError, ValueError) as exc:
            msg = f"harm_weights[{k!r}] = {v!r} is not a number."
            raise ParameterError(msg) from exc
        if not np.isfinite(w) or w < 0:
            msg = f"harm_weights[{k!r}] = {v!r} must be a finite number >= 0."
            raise ParameterError(msg)
        out[str(k).strip().casefold()] = w
    return out


def _read(
    sources: Any,
    columns: dict[str, str | None],
    type_filter: str | frozenset[str],
    harm_weights: dict[str, float] | None,
    study_area: Any,
    analysis_crs: pyproj.CRS | None,
    crs_arg: Any,
    outlier_km: float | bool | None,
    when_from: tuple[pd.Timestamp, bool] | None,
    when_to: tuple[pd.Timestamp, bool] | None,
) -> Incidents:
    files = [_read_file(name, data, columns, i) for i, (name, data) in enumerate(_gather(sources))]
    notes: list[str] = []
    choices: dict[str, Any] = {}
    for f in files:
        notes.extend(f.notes)
    shas: dict[str, str] = {}
    for f in files:
        if f.info.sha256 in shas:
            notes.append(
                f"{f.info.name} is byte-identical to {shas[f.info.sha256]}; its rows with ids are rejected as duplicates."
            )
        shas.setdefault(f.info.sha256, f.info.name)
    t = pd.concat([f.table for f in files], ignore_index=True)
    t = t.fillna(
        {
            "has_id": False,
            "has_time": False,
            "bng": False,
            "reason": "",
            "column": "",
            "detail": "",
            "crime_type": "",
            "location": "",
            "weight": 1.0,
        }
    )
    t = t.astype({"has_id": bool, "has_time": bool, "bng": bool})
    n_read = len(t)
    reason = t["reason"].to_numpy(dtype=object, copy=True)
    column = t["column"].to_numpy(dtype=object, copy=True)
    detail = t["detail"].to_numpy(dtype=object, copy=True)

    def reject(mask: np.ndarray, why: str, col: str | np.ndarray, text_: str | np.ndarray) -> int:
        mask = np.asarray(mask, dtype=bool) & (reason == "")
        k = int(mask.sum())
        if k:
            reason[mask] = why
            column[mask] = col[mask] if isinstance(col, np.ndarray) else col
            detail[mask] = text_[mask] if isinstance(text_, np.ndarray) else text_
        return k

    # ---- coordinates: lon/lat for everything, then the analysis CRS
    vx = t["vx"].to_numpy(dtype=float)
    vy = t["vy"].to_numpy(dtype=float)
    bng = t["bng"].to_numpy(dtype=bool)
    located = reason == ""
    lon = np.full(n_read, np.nan)
    lat = np.full(n_read, np.nan)
    ll = located & ~bng
    lon[ll], lat[ll] = vx[ll], vy[ll]
    bb = located & bng
    if bb.any():
        lon[bb], lat[bb] = crs_mod.to_wgs84(vx[bb], vy[bb], crs_mod.BNG)
    if analysis_crs is None:
        if not located.any():
            _raise_nothing_usable(files, reason)
        analysis_crs, crs_reason = crs_mod.choose_crs(lon[located], lat[located])
    else:
        crs_reason = f"{analysis_crs.name} ({analysis_crs.to_string()}): given by the caller"
    x = np.full(n_read, np.nan)
    y = np.full(n_read, np.nan)
    if ll.any():
        x[ll], y[ll] = crs_mod.to_analysis(lon[ll], lat[ll], analysis_crs)
    if bb.any():
        if analysis_crs.equals(crs_mod.BNG):
            x[bb], y[bb] = vx[bb], vy[bb]
        else:
            x[bb], y[bb] = crs_mod.transform(vx[bb], vy[bb], crs_mod.BNG, analysis_crs)
    bad = located & ~(np.isfinite(x) & np.isfinite(y))
    reject(bad, R_RANGE, "", "the point cannot be projected to the analysis CRS")
    choices["crs"] = analysis_crs.to_string()
    choices["crs_reason"] = crs_reason
    choices["formats"] = sorted({f.info.format for f in files})
    choices["forces"] = sorted({force for f in files for force in f.info.forces})
    notes.append(f"Analysis CRS: {crs_reason}.")

    # ---- duplicates
    hashes = t["hash"].to_numpy(dtype=np.uint64)
    is_row = t["rawpos"].to_numpy() >= 0
    dup = pd.Series(hashes).duplicated(keep="first").to_numpy() & is_row
    has_id = t["has_id"].to_numpy(dtype=bool)
    n_dup = reject(
        dup & has_id, R_DUPLICATE, "", "an exact copy of an earlier row with the same id"
    )
    n_dup_kept = int((dup & ~has_id & (reason == "")).sum())
    if n_dup:
        notes.append(f"{n_dup} exact duplicate row(s) with an id were rejected as duplicates.")
    if n_dup_kept:
        notes.append(
            f"{n_dup_kept} row(s) without an id are identical to an earlier row; they were kept "
            "as separate incidents (distinct incidents can share a place and time, and police.uk "
            "snaps incidents to shared map points)."
        )

    # ---- study area polygon / outliers
    ok = reason == ""
    n_outliers = 0
    use_outliers = (
        outlier_km is not False
        and outlier_km != 0
        and (study_area is None or outlier_km is not None)
    )
    if use_outliers and ok.any():
        flag, params, why_not = _outliers(
            x[ok], y[ok], outlier_km if isinstance(outlier_km, float) else None
        )
        full = np.zeros(n_read, dtype=bool)
        full[np.flatnonzero(ok)] = flag
        dist_km = params["distance_km"]
        n_outliers = reject(
            full, R_OUTLIER, "",
            f"isolated point more than {dist_km} km from the dense body of the data" if dist_km else "",
        )  # fmt: skip
        rule = (
            "isolated points (fewer than 5 incidents in their 1 km cell and the 8 around it) more "
            "than D from the nearest non-isolated incident; D = "
            + (f"{outlier_km:g} km (given)" if isinstance(outlier_km, float) else
               "max(10 km, 2 x the 95th-percentile distance of non-isolated incidents from their median)")
        )  # fmt: skip
        choices["outlier_rule"] = {"rule": rule, **params}
        if why_not:
            notes.append(f"Outliers: {why_not}.")
        else:
            notes.append(
                f"Outliers: {n_outliers} row(s) were isolated points more than {dist_km:g} km from "
                "the dense body of the data and were set aside as spatial outliers."
            )
    else:
        choices["outlier_rule"] = (
            "disabled" if study_area is None else "replaced by the given study area"
        )
    choices["n_outliers"] = n_outliers

    if study_area is not None:
        area = _load_study_area(study_area, analysis_crs, crs_arg)
        ok = reason == ""
        inside = np.zeros(n_read, dtype=bool)
        if ok.any():
            shapely.prepare(area)
            inside[ok] = shapely.intersects_xy(area, x[ok], y[ok])
        n_out = reject(ok & ~inside, R_POLYGON, "", "the point lies outside the study area given")
        choices["study_area_rule"] = "given"
        notes.append(f"Study area: the polygon given ({n_out} row(s) outside it were rejected).")
    else:
        ok = reason == ""
        if not ok.any():
            _raise_nothing_usable(files, reason)
        area, cell = _default_study_area(x[ok], y[ok])
        choices["study_area_rule"] = (
            f"{cell:g} m grid cells holding an incident (any crime type, outliers excluded), "
            "closed by one cell (dilate then erode) to fill one-cell gaps and holes, "
            f"clipped to the incidents' convex hull plus {STUDY_HULL_MARGIN_M:g} m"
        )
        choices["study_area_cell_m"] = cell
        notes.append(
            f"Study area: {area.area / 1e6:.2f} km², the {cell:g} m grid cells holding an "
            "incident, with one-cell gaps filled; pass study_area= for an exact boundary."
        )
    choices["study_area_km2"] = round(float(area.area) / 1e6, 4)

    # ---- crime types
    ctype = t["crime_type"].fillna("").to_numpy(dtype=object)
    ctype_cf = (
        pd.Series(ctype, dtype=object).astype(str).str.strip().str.casefold().to_numpy(dtype=object)
    )
    file_idx = t["file"].to_numpy()
    fmt_of = np.array([f.info.format for f in files], dtype=object)[file_idx]
    has_type_col = np.array(["crime_type" in f.info.columns for f in files])[file_idx]
    if type_filter == "all":
        keep_type = np.ones(n_read, dtype=bool)
        choices["crime_types_kept"] = "all"
        notes.append("Crime types: all kept.")
    elif type_filter == "default":
        police = fmt_of == FORMAT_POLICE_UK
        vt = {v.casefold() for v in VIOLENCE_TYPES_POLICE_UK}
        keep_type = ~police | np.isin(ctype_cf, list(vt))
        if police.any():
            choices["crime_types_kept"] = sorted(VIOLENCE_TYPES_POLICE_UK)
            notes.append(
                "Crime types: police.uk files keep "
                + ", ".join(sorted(VIOLENCE_TYPES_POLICE_UK))
                + ". police.uk's 'Violence and sexual offences' is not only street violence: it also holds"
                " domestic abuse, harassment, stalking and sexual offences, which police.uk does not separate."
            )
        else:
            choices["crime_types_kept"] = "all"
        for fi, f in enumerate(files):
            if f.info.format == FORMAT_POLICE_UK or "crime_type" not in f.info.columns:
                continue
            rows = file_idx == fi
            types = pd.unique(ctype_cf[rows & (ctype_cf != "")])
            violent = [t for t in types if any(k in str(t) for k in VIOLENCE_KEYWORDS)]
            if not violent:
                notes.append(
                    f"Crime types: {f.info.name} has no type that names violence, so every row was "
                    "kept; pass crime_types= to choose."
                )
                continue
            keep_type[rows] = np.isin(ctype_cf[rows], violent)
            kept = sorted(
                {str(c) for c, r, k in zip(ctype, rows, keep_type, strict=True) if r and k}
            )
            dropped = len(types) - len(violent)
            shown = ", ".join(kept[:12]) + (f" and {len(kept) - 12} more" if len(kept) > 12 else "")
            notes.append(
                f"Crime types: {f.info.name} keeps the {len(kept)} violence-related type(s) by name "
                f"({shown}); {dropped} other type(s) were filtered out. Pass crime_types='all' or a list "
                "to choose."
            )
            prev = choices.get("crime_types_kept")
            choices["crime_types_kept"] = sorted(
                set(kept) | (set(prev) if isinstance(prev, list) else set())
            )
            choices["violence_keywords"] = list(VIOLENCE_KEYWORDS)
    else:
        keep_type = ~has_type_col | np.isin(ctype_cf, list(type_filter))
        present = set(ctype_cf[has_type_col].tolist())
        missing = sorted(type_filter - present)
        choices["crime_types_kept"] = sorted(
            {c for c, k in zip(ctype, keep_type & has_type_col, strict=True) if k} or type_filter
        )
        notes.append("Crime types: kept " + ", ".join(choices["crime_types_kept"]) + ".")
        if missing:
            text_ = f"crime_types names not found in any file: {', '.join(missing)}."
            notes.append(text_)
            warnings.warn(text_, HotspotsWarning, stacklevel=3)
        untyped = [f.info.name for f in files if "crime_type" not in f.info.columns]
        if untyped:
            notes.append(
                "Crime types: "
                + ", ".join(untyped)
                + " have no crime type column; all their rows were kept."
            )
    reject(~keep_type, R_TYPE, np.array([f.info.columns.get("crime_type", "") for f in files], dtype=object)[file_idx],
           np.array(["crime type '" + str(c) + "' was not selected" for c in ctype], dtype=object) if (~keep_type).any() else "")  # fmt: skip

    # ---- date range
    dt = t["datetime"].to_numpy(dtype="datetime64[ns]")
    month = t["month"].to_numpy(dtype="datetime64[ns]")
    if when_from is not None or when_to is not None:
        outside = np.zeros(n_read, dtype=bool)
        with_date = ~np.isnat(dt)
        only_month = np.isnat(dt) & ~np.isnat(month)
        unknown_when = np.isnat(dt) & np.isnat(month)
        if when_from is not None:
            ts, _ = when_from
            lo = np.datetime64(ts.to_datetime64(), "ns")
            outside |= with_date & (dt < lo)
            outside |= only_month & (
                month < np.datetime64(ts.to_period("M").to_timestamp().to_datetime64(), "ns")
            )
        if when_to is not None:
            ts, date_only = when_to
            hi = ts + pd.Timedelta(days=1) if date_only else ts
            hi64 = np.datetime64(hi.to_datetime64(), "ns")
            outside |= with_date & ((dt >= hi64) if date_only else (dt > hi64))
            outside |= only_month & (
                month > np.datetime64(ts.to_period("M").to_timestamp().to_datetime64(), "ns")
            )
        outside |= unknown_when
        reject(outside, R_DATE_RANGE, "", "the date is outside date_from..date_to or unknown")
        choices["date_filter"] = {
            "from": when_from[0].isoformat() if when_from else None,
            "to": when_to[0].isoformat() if when_to else None,
        }

    # ---- harm weights
    used = reason == ""
    weight = t["weight"].to_numpy(dtype=float).copy()
    has_weight_col = any("weight" in f.info.columns for f in files)
    if harm_weights is not None:
        if used.any():
            kept = pd.DataFrame({"cf": ctype_cf[used], "raw": ctype[used]}).drop_duplicates("cf")
            unmapped = sorted(
                str(raw)
                for cf, raw in zip(kept["cf"], kept["raw"], strict=True)
                if cf not in harm_weights
            )
            if unmapped:
                shown = ["(blank: the file has no crime type)" if u == "" else u for u in unmapped]
                msg = f"harm_weights gives no weight for the crime type(s): {'; '.join(shown)}."
                raise InputError(
                    msg, hint="add every kept crime type to harm_weights, or narrow crime_types."
                )
            weight = np.ones(n_read)
            weight[used] = pd.Series(ctype_cf[used]).map(harm_weights).to_numpy(dtype=float)
        choices["weights_given"] = True
        notes.append(
            "Harm: weights from harm_weights by crime type"
            + (" (the weight column was ignored)." if has_weight_col else ".")
        )
    elif has_weight_col:
        choices["weights_given"] = True
        notes.append("Harm: weights from the file's weight column.")
    else:
        choices["weights_given"] = False

    # ---- assemble
    if not used.any():
        _raise_nothing_usable(files, reason)
    blank_dates = int((used & np.isnat(month)).sum())
    if blank_dates and any(
        r in f.info.columns for f in files for r in ("date", "datetime", "month")
    ):
        notes.append(
            f"{blank_dates} used row(s) have no date; they count in maps but not in time profiles."
        )
    names = np.array([f.info.name for f in files], dtype=object)
    frame = pd.DataFrame(
        {
            "x": x[used],
            "y": y[used],
            "lon": lon[used],
            "lat": lat[used],
            "month": month[used],
            "datetime": dt[used],
            "has_time": t["has_time"].to_numpy(dtype=bool)[used],
            "crime_type": pd.Series(ctype[used], dtype=object).astype(str),
            "weight": weight[used],
            "location": pd.Series(
                t["location"].fillna("").to_numpy(dtype=object)[used], dtype=object
            ).astype(str),
            "source_file": pd.Series(names[file_idx[used]], dtype=object).astype(str),
            "source_row": t["source_row"].to_numpy(dtype=np.int64)[used],
        }
    )
    frame["month"] = frame["month"].astype("datetime64[ns]")
    frame["datetime"] = frame["datetime"].astype("datetime64[ns]")
    m = frame["month"].dropna()
    choices["date_range"] = {
        "first_month": m.min().strftime("%Y-%m") if len(m) else None,
        "last_month": m.max().strftime("%Y-%m") if len(m) else None,
    }
    choices["time_of_day_known"] = round(float(frame["has_time"].mean()), 4)
    orders = {f.info.name: f.date_order for f in files if f.date_order}
    if orders:
        choices["date_order"] = orders
    if len(m):
        notes.append(
            f"Dates: {choices['date_range']['first_month']} to {choices['date_range']['last_month']}; "
            f"time of day known for {100 * choices['time_of_day_known']:.1f}% of incidents."
        )
    rejected = _rejected_table(files, t, ~used, reason, column, detail)
    report = IngestReport(
        files=[f.info for f in files],
        n_read=n_read,
        n_used=int(used.sum()),
        rejected=rejected,
        choices=choices,
        notes=notes,
    )
    return Incidents(frame, analysis_crs, area, report)


def _raise_nothing_usable(files: list[_File], reason: np.ndarray) -> None:
    counts = pd.Series(reason[reason != ""]).value_counts()
    top = "; ".join(f"{k}: {v}" for k, v in counts.head(4).items())
    names = ", ".join(f.info.name for f in files[:5]) + (" ..." if len(files) > 5 else "")
    if len(reason) == 0:
        msg = f"No data rows were found in {names}."
        raise InputError(msg, hint="the files hold a header but no rows.")
    msg = f"No usable incidents: all {len(reason)} rows were rejected ({top})."
    hints = {
        R_TYPE: "no row has a selected crime type; choose the types to keep (crime_types='all' or a "
        "list; --crime-types on the command line, the Crime types filter in the app).",
        R_DATE_RANGE: "no row falls in the date range; widen it.",
        R_POLYGON: "no incident lies inside the study area polygon; check that it covers the data "
        "and is in longitude/latitude (WGS84).",
        R_MISSING: "the coordinate columns are empty; check them, or name them explicitly (columns=).",
        R_NONNUMERIC: "the coordinate columns do not hold numbers; check which columns hold "
        "coordinates, or name them explicitly (columns=).",
        R_RANGE: "the coordinates are out of range; check that latitude and longitude (or easting "
        "and northing) are not swapped, or name the columns explicitly (columns=).",
    }
    first = str(counts.index[0]) if len(counts) else ""
    hint = hints.get(
        first, "check the coordinate and date columns, crime_types and the date range."
    )
    raise InputError(msg, file=names if len(files) == 1 else None, hint=hint)


def _rejected_table(
    files: list[_File],
    t: pd.DataFrame,
    mask: np.ndarray,
    reason: np.ndarray,
    column: np.ndarray,
    detail: np.ndarray,
) -> pd.DataFrame:
    if not mask.any():
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in REJECTED_COLUMNS})
    parts = []
    fidx = t["file"].to_numpy()
    rawpos = t["rawpos"].to_numpy()
    rows = t["source_row"].to_numpy(dtype=np.int64)
    for i, f in enumerate(files):
        sel = mask & (fidx == i)
        if not sel.any():
            continue
        head = pd.DataFrame(
            {
                "source_file": f.info.name,
                "source_row": rows[sel],
                "reason": reason[sel],
                "column": column[sel],
                "detail": detail[sel],
            }
        )
        pos = rawpos[sel]
        rename = {h: (f"raw_{h}" if h in REJECTED_COLUMNS else h) for h in f.header}
        body = pd.DataFrame(
            index=range(len(pos)), columns=[rename[h] for h in f.header], dtype=object
        )
        wf = pos >= 0
        if wf.any():
            body.loc[wf, :] = f.raw.iloc[pos[wf]].rename(columns=rename).to_numpy(dtype=object)
        if (~wf).any():
            k = len(f.header)
            recs = [f.malformed[-1 - p] for p in pos[~wf]]
            fixed = [(r + [""] * k)[:k] for r in recs]
            body.loc[~wf, :] = np.array(fixed, dtype=object).reshape(len(fixed), k)
            body["_extra"] = ""
            body.loc[~wf, "_extra"] = [f.info.delimiter and "|".join(r[k:]) for r in recs]
        parts.append(pd.concat([head, body], axis=1))
    out = pd.concat(parts, ignore_index=True)
    out = out.fillna("")
    return out.astype({c: str for c in out.columns if c != "source_row"})
