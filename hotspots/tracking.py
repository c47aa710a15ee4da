"""Tracking: what patrols delivered, rebuilt from GPS / AVL logs and compared with the plan.

The guide's sixth step (tracking) asks whether the planned dose reached each hot spot. Three
plain functions, in the order data flow:

1. :func:`read_patrol_logs` reads GPS or AVL fixes (CSV with unit, time, latitude and longitude;
   GPX; GeoJSON points or lines) into a :class:`PatrolLogs`, accounting for every row the way
   incident files are accounted for: each row is used or appears in ``report.rejected`` with the
   file, line, reason and offending text (an :class:`~hotspots.incidents.IngestReport`).
2. :func:`rebuild_visits` turns each unit's fixes into visits to the plan's patrol areas:
   continuous presence inside an area, tolerating short GPS gaps and jitter.
3. :func:`compare_with_plan` sets the visits against the plan: each planned visit delivered,
   short (under :data:`~hotspots.constants.MIN_VISIT_MINUTES`), missed or without data;
   unplanned visits; minutes per area per day against planned; minutes in control areas on their
   control days (contamination). It returns a :class:`Compliance`.

:func:`write_tracking_outputs` runs the three on a plan folder (written by ``hotspots plan``) and
writes the compliance tables, the delivered visits (GeoJSON) and a printable report (``hotspots
track``). :func:`simulate_patrol_logs` makes synthetic logs from a plan with a known delivery,
for tests and the walk-through.

Rejection reasons, in the order they are tested (a row gets the first that applies):

=============================  ===============================================================
reason                         meaning
=============================  ===============================================================
``unreadable file``            the file is empty, binary or not CSV / GPX / GeoJSON (line 0)
``malformed row``              more or fewer fields than the header; broken XML; not a feature
``missing columns``            the file has no latitude/longitude (or easting/northing) or time
``missing coordinates``        a coordinate is blank or a missing-value token (NA, null, -, ...)
``non-numeric coordinates``    a coordinate is not a number
``coordinates out of range``   \\|lat\\| > 90, \\|lon\\| > 180, or outside the BNG range
``null island (0, 0)``         both coordinates are exactly 0
``missing time``               the time is blank
``unparseable time``           the time is not ISO 8601, day-first UK or Unix epoch seconds
``nonexistent local time``     a time without offset that the clocks skipped (spring forward)
``missing unit``               the file has a unit column and this row's is blank
``duplicate fix``              same unit, time and position as an earlier row
=============================  ===============================================================

Notes
-----
Times. A time with a UTC offset (``2025-03-03T21:05:00+00:00``, ``...Z``) is exact. A time
without one is local clock time in ``tz`` (default :data:`~hotspots.constants.TIME_ZONE`), as the
plan's times are; in the hour repeated when clocks go back, a unit's fixes are read as summer
time until its clock runs backwards, then as winter time. Unix epoch seconds are UTC.

Visits. Fixes of one unit in an area, or within ``tolerance_m`` of it, belong to one visit while
no more than ``max_gap_s`` passes from one such fix to the next, whatever happened between (no
fixes: a GPS gap; fixes outside: a brief excursion). A visit runs from its first to its last fix
and needs at least one fix strictly inside the area. With fixes every ``p`` seconds a visit may
have lasted up to ``p`` seconds longer than measured, so the ping interval is reported with every
figure (GPS1, GPS2 in the guide digest: the refresh rate changes measured patrol minutes).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import json
import math
import os
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from xml.parsers import expat

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.optimize import linear_sum_assignment

import hotspots
from hotspots import crs as crs_mod
from hotspots._errors import InputError, ParameterError
from hotspots.constants import GPS_GAP_S, GPS_TOLERANCE_M, MIN_VISIT_MINUTES, TIME_ZONE
from hotspots.export import features_geojson, json_text, table_to_csv
from hotspots.incidents import REJECTED_COLUMNS, FileInfo, IngestReport
from hotspots.ingest import MISSING_TOKENS
from hotspots.jsonutil import to_jsonable
from hotspots.offline import report_environment
from hotspots.record import FrozenDict, FrozenList, freeze

if TYPE_CHECKING:
    from hotspots.patrol import PatrolPlan

__all__ = [
    "LOG_REASONS",
    "Compliance",
    "PatrolLogs",
    "SimulatedPatrol",
    "TrackingOutputs",
    "compare_with_plan",
    "read_patrol_areas",
    "read_patrol_logs",
    "read_plan",
    "rebuild_visits",
    "render_tracking_report",
    "simulate_patrol_logs",
    "visits_geojson",
    "write_patrol_log",
    "write_tracking_outputs",
]

R_UNREADABLE = "unreadable file"
R_MALFORMED = "malformed row"
R_COLUMNS = "missing columns"
R_MISSING = "missing coordinates"
R_NONNUMERIC = "non-numeric coordinates"
R_RANGE = "coordinates out of range"
R_NULL = "null island (0, 0)"
R_NO_TIME = "missing time"
R_TIME = "unparseable time"
R_NONEXISTENT = "nonexistent local time"
R_UNIT = "missing unit"
R_DUPLICATE = "duplicate fix"
#: Every rejection reason for patrol log rows, in the order they are tested.
LOG_REASONS = (
    R_UNREADABLE, R_MALFORMED, R_COLUMNS, R_MISSING, R_NONNUMERIC, R_RANGE, R_NULL, R_NO_TIME,
    R_TIME, R_NONEXISTENT, R_UNIT, R_DUPLICATE,
)  # fmt: skip

#: Columns of the rejected-rows table: ingest's columns, then the offending text.
LOG_REJECTED_COLUMNS = (*REJECTED_COLUMNS, "text")

FORMAT_CSV = "CSV"
FORMAT_GPX = "GPX"
FORMAT_GEOJSON = "GeoJSON"

#: British National Grid range accepted for easting / northing, metres.
_BNG_RANGE = (0.0, 0.0, 700_000.0, 1_300_000.0)
_TEXT_LIMIT = 300  # characters of offending text kept per rejected row

# Header names (normalised: lower case, runs of other characters -> "_") by role, best first.
_LOG_NAMES: dict[str, tuple[str, ...]] = {
    "unit": ("unit", "unit_id", "unit_name", "callsign", "call_sign", "unit_callsign",
             "resource", "resource_id", "resource_name", "vehicle", "vehicle_id", "vehicle_reg",
             "registration", "device", "device_id", "device_name", "tracker", "tracker_id",
             "radio", "radio_id", "issi", "tei", "imei", "officer", "officer_id", "collar",
             "collar_number", "shoulder_number", "asset", "asset_id", "team", "patrol", "name",
             "id"),
    "datetime": ("time", "timestamp", "datetime", "date_time", "time_utc", "utc_time",
                 "timestamp_utc", "datetime_utc", "gps_time", "gps_timestamp", "fix_time",
                 "fix_timestamp", "recorded_at", "recorded", "logged_at", "log_time",
                 "event_time", "position_time", "location_time", "received_at", "created_at",
                 "time_stamp", "ts", "when", "date"),
    "date": ("date", "gps_date", "fix_date", "log_date", "event_date"),
    "lat": ("latitude", "lat", "gps_latitude", "gps_lat", "latitude_deg", "lat_deg",
            "position_latitude", "wgs84_latitude", "latitude_wgs84", "lat_wgs84", "y_lat",
            "lat_y", "latitud", "y"),
    "lon": ("longitude", "lon", "lng", "long", "gps_longitude", "gps_lon", "gps_lng",
            "longitude_deg", "lon_deg", "position_longitude", "wgs84_longitude",
            "longitude_wgs84", "lon_wgs84", "x_lon", "lon_x", "longitud", "x"),
    "easting": ("easting", "eastings", "os_x", "osgb_x", "bng_x", "x_bng", "bng_easting",
                "grid_easting"),
    "northing": ("northing", "northings", "os_y", "osgb_y", "bng_y", "y_bng", "bng_northing",
                 "grid_northing"),
}  # fmt: skip
#: Roles a log column can play (keys of ``columns=``).
LOG_ROLES = tuple(_LOG_NAMES)

_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*"
    r"(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")
_EPOCH = re.compile(r"^\d{9,10}(?:\.\d+)?$|^\d{12,13}$")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}")


# --------------------------------------------------------------------------------------------
# Reading files


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).strip().lower()).strip("_")


def _gather(sources: Any) -> list[tuple[str, bytes]]:
    """Paths, folders, file objects (with ``name`` and ``getvalue``/``read``) or (name, bytes)."""
    if isinstance(sources, str | os.PathLike) or hasattr(sources, "read"):
        items: list[Any] = [sources]
    elif isinstance(sources, tuple) and len(sources) == 2 and isinstance(sources[0], str):
        items = [sources]
    elif isinstance(sources, Iterable):
        items = list(sources)
    else:
        msg = (
            "Patrol logs must be paths, folders, file objects or (name, bytes) pairs, not "
            f"{type(sources).__name__}."
        )
        raise ParameterError(msg)
    out = [pair for item in items for pair in _gather_item(item)]
    if not out:
        msg = "No patrol log files were given."
        raise InputError(msg, hint="pass CSV, GPX or GeoJSON files of GPS fixes.")
    return out


def _gather_item(item: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of one path (every log file of a folder), file object or pair."""
    if isinstance(item, str | os.PathLike):
        return _gather_path(Path(item))
    if isinstance(item, tuple) and len(item) == 2:
        name, data = item
        if isinstance(data, str):
            data = data.encode("utf-8")
        return [(str(name), bytes(data))]
    if hasattr(item, "getvalue") or hasattr(item, "read"):
        name = Path(str(getattr(item, "name", "upload.csv"))).name
        data = item.getvalue() if hasattr(item, "getvalue") else item.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return [(name, bytes(data))]
    msg = (
        f"Cannot read a patrol log of type {type(item).__name__}: give a path, a file object or "
        "(name, bytes)."
    )
    raise ParameterError(msg)


def _gather_path(path: Path) -> list[tuple[str, bytes]]:
    if path.is_dir():
        suffixes = (".csv", ".txt", ".tsv", ".gpx", ".geojson", ".json")
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if not files:
            msg = "The folder holds no .csv, .gpx, .geojson or .json files."
            raise InputError(msg, file=str(path), hint="point to patrol log files.")
        return [(p.name, p.read_bytes()) for p in files]
    if not path.exists():
        msg = "No such file or folder."
        raise InputError(msg, file=str(path), hint="check the path.")
    try:
        return [(path.name, path.read_bytes())]
    except OSError as exc:
        msg = f"Could not read the file ({exc.strerror or exc})."
        raise InputError(msg, file=str(path)) from exc


def _decode(data: bytes) -> tuple[str | None, str, str]:
    """Bytes to text, or (None, "", why not). UTF-16/32 by BOM or by NUL pattern, UTF-8, cp1252."""
    if not data.strip():
        return None, "", "the file is empty"
    for magic, what in ((b"PK\x03\x04", "a zip archive or an Excel workbook"),
                        (b"\x1f\x8b", "a gzip-compressed file"), (b"%PDF", "a PDF")):  # fmt: skip
        if data.startswith(magic):
            return None, "", f"the file is {what}, not text"
    boms = ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
            (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))  # fmt: skip
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), "")
    head = data[:4096]
    if not encoding and len(head) >= 4 and head.count(0) > len(head) // 4:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.4 * len(head[1::2]) and even < 0.1 * len(head[0::2]):
            encoding = "utf-16-le"
        elif even > 0.4 * len(head[0::2]) and odd < 0.1 * len(head[1::2]):
            encoding = "utf-16-be"
        else:
            return None, "", "the file holds binary data, not text"
    if encoding:
        try:
            return data.decode(encoding).lstrip("\ufeff"), encoding, ""
        except UnicodeDecodeError:
            return None, "", f"the file is not valid {encoding.upper()} text"
    controls = sum(head.count(bytes([c])) for c in (*range(0, 9), 11, 12, *range(14, 32)))
    if controls > max(8, len(head) // 100):
        return None, "", "the file holds binary data, not text"
    try:
        return data.decode("utf-8-sig"), "utf-8", ""
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252", ""
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1", ""


@dataclass
class _Records:
    """What one file yielded before validation: one entry per record, every value text or None.

    CSV rows keep their text lazily (``lines`` and the rows' last line), so only rejected rows
    pay for it.
    """

    name: str
    format: str = ""
    encoding: str = ""
    delimiter: str = ""
    coords: str = "lonlat"  # or "bng"
    columns: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    row: list[int] = field(default_factory=list)
    last: list[int] = field(default_factory=list)
    unit: list[Any] = field(default_factory=list)
    time: list[Any] = field(default_factory=list)
    x: list[Any] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    text: list[Any] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    column: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    chunks: list[pd.DataFrame] = field(default_factory=list)

    def add(
        self,
        row: int,
        unit: Any,
        time: Any,
        x: Any,
        y: Any,
        text: str,
        reason: str = "",
        column: str = "",
        detail: str = "",
    ) -> None:
        self.row.append(int(row))
        self.last.append(-1)
        self.unit.append(unit)
        self.time.append(time)
        self.x.append(x)
        self.y.append(y)
        self.text.append(str(text)[:_TEXT_LIMIT])
        self.reason.append(reason)
        self.column.append(column)
        self.detail.append(detail)

    def extend(self, rows: Any, last: Any, unit: Any, time: Any, x: Any, y: Any) -> None:
        """Many usable-looking CSV rows at once (their text is read back from ``lines``)."""
        self.chunks.append(
            pd.DataFrame(
                {
                    "source_row": np.asarray(rows, dtype=np.int64),
                    "last_line": np.asarray(last, dtype=np.int64),
                    "unit": pd.Series(unit, dtype="str").to_numpy(),
                    "time": pd.Series(time, dtype="str").to_numpy(),
                    "x": pd.Series(x, dtype="str").to_numpy(),
                    "y": pd.Series(y, dtype="str").to_numpy(),
                }
            ).astype({"unit": "str", "time": "str", "x": "str", "y": "str"})
        )

    @property
    def n_rows(self) -> int:
        return len(self.row) + sum(len(c) for c in self.chunks)

    def text_of(self, first: int, last: int) -> str:
        return "".join(self.lines[first - 1 : last]).rstrip("\r\n")[:_TEXT_LIMIT]

    def frame(self, index: int) -> pd.DataFrame:
        one = pd.DataFrame(
            {
                "source_row": np.asarray(self.row, dtype=np.int64),
                "last_line": np.asarray(self.last, dtype=np.int64),
                "unit": pd.Series(self.unit, dtype="str"),
                "time": pd.Series(self.time, dtype="str"),
                "x": pd.Series(self.x, dtype="str"),
                "y": pd.Series(self.y, dtype="str"),
                "text": pd.Series(self.text, dtype=object),
                "pre_reason": pd.Series(self.reason, dtype=object),
                "pre_column": pd.Series(self.column, dtype=object),
                "pre_detail": pd.Series(self.detail, dtype=object),
            }
        )
        out = pd.concat([one, *self.chunks], ignore_index=True) if self.chunks else one
        for col in ("text", "pre_reason", "pre_column", "pre_detail"):
            out[col] = out[col].astype(object)
        out.insert(0, "file_index", np.full(len(out), index, dtype=np.int64))
        out.insert(1, "source_file", self.name)
        out["coords"] = self.coords
        return out


def _find_role(norm: Mapping[str, str], role: str, used: set[str]) -> str | None:
    for cand in _LOG_NAMES[role]:
        for original, n in norm.items():
            if n == cand and original not in used:
                return original
    return None


def _roles(header: Sequence[str], columns: Mapping[str, str] | None) -> dict[str, str]:
    """Map roles (unit, datetime, date, lat, lon, easting, northing) to header names."""
    norm = {h: _norm(h) for h in header}
    found: dict[str, str] = {}
    used: set[str] = set()
    given = dict(columns or {})
    for role, name in given.items():
        if name in norm:
            found[role] = name
            used.add(name)
        elif _norm(name) in norm.values():
            match = next(h for h, n in norm.items() if n == _norm(name))
            found[role] = match
            used.add(match)
    for role in ("lat", "lon", "easting", "northing", "datetime", "unit"):
        if role not in found:
            hit = _find_role(norm, role, used)
            if hit is not None:
                found[role] = hit
                used.add(hit)
    if "date" not in found:
        hit = _find_role(norm, "date", used)
        if hit is not None:
            found["date"] = hit
    return found


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(rec: _Records, text: str, columns: Mapping[str, str] | None) -> None:
    physical = list(io.StringIO(text, newline=""))
    start = next((i for i, line in enumerate(physical) if line.strip()), None)
    if start is None:
        rec.add(0, None, None, None, None, "", R_UNREADABLE, "", "The file is empty.")
        return
    delim = _sniff_delimiter(physical[start])
    rec.delimiter = delim
    reader = csv.reader(physical[start:], delimiter=delim)
    try:
        header = next(reader)
    except csv.Error as exc:
        rec.add(
            start + 1,
            None,
            None,
            None,
            None,
            physical[start],
            R_UNREADABLE,
            "",
            f"The header cannot be read ({exc}).",
        )
        return
    header = [h.strip() for h in header]
    cols = _csv_columns(rec, header, columns)
    rec.lines = physical
    if '"' not in text:
        # no quoting: one record per line, split in bulk
        body_from = start + reader.line_num  # index in ``physical`` of the first data line
        good_rows, good_last, column = _csv_rows_bulk(rec, physical[body_from:], body_from, header)
    else:
        good_rows, good_last, column = _csv_rows_careful(rec, reader, start, header)
    if cols.x is None or cols.y is None or cols.time is None:
        for first, last in zip(good_rows, good_last, strict=True):
            rec.add(
                first,
                None,
                None,
                None,
                None,
                rec.text_of(first, last),
                R_COLUMNS,
                "",
                f"The file has no {' or '.join(cols.missing)} column.",
            )
        return
    times = column(cols.time)
    if cols.date is not None:
        filled = times.str.strip()
        filled = filled[filled != ""]
        if len(filled) and _CLOCK.match(filled.iloc[0]):
            times = column(cols.date).str.strip() + " " + times.str.strip()
            rec.columns["time_of_day"] = cols.time
            rec.columns["datetime"] = cols.date
    units = column(cols.unit) if cols.unit is not None else [Path(rec.name).stem] * len(good_rows)
    rec.extend(good_rows, good_last, units, times, column(cols.x), column(cols.y))


class _CsvColumns(NamedTuple):
    """The header's columns for each role (None: absent), and the roles the file lacks."""

    x: str | None
    y: str | None
    time: str | None
    date: str | None
    unit: str | None
    missing: list[str]


def _csv_columns(
    rec: _Records, header: list[str], columns: Mapping[str, str] | None
) -> _CsvColumns:
    """Recognise the coordinate, time and unit columns; notes when some are missing."""
    roles = _roles(header, columns)
    rec.columns = {role: name for role, name in roles.items()}
    has_latlon = "lat" in roles and "lon" in roles
    has_bng = "easting" in roles and "northing" in roles
    xcol: str | None
    ycol: str | None
    if not has_latlon and has_bng:
        rec.coords = "bng"
        xcol, ycol = roles["easting"], roles["northing"]
    elif has_latlon:
        xcol, ycol = roles["lon"], roles["lat"]
    else:
        xcol = ycol = None
    tcol = roles.get("datetime")
    dcol = roles.get("date") if roles.get("date") != tcol else None
    missing = []
    if xcol is None:
        missing.append("latitude/longitude (or easting/northing)")
    if tcol is None:
        missing.append("time")
    if missing:
        rec.notes.append(
            f"{rec.name}: no {' or '.join(missing)} column was recognised in the header "
            f"({', '.join(header[:12])}); every row is rejected. Name the columns with "
            "columns={'lat': ..., 'lon': ..., 'datetime': ..., 'unit': ...} "
            "(CLI --column ROLE=NAME)."
        )
    ucol = roles.get("unit")
    if ucol is None and not missing:
        rec.notes.append(
            f"{rec.name}: no unit column; every fix is taken as unit '{Path(rec.name).stem}'."
        )
    return _CsvColumns(xcol, ycol, tcol, dcol, ucol, missing)


#: Rows kept (their first and last line numbers) and a reader of a column's text by name.
_CsvRows = tuple[Any, Any, Callable[[str], pd.Series]]


def _csv_rows_bulk(rec: _Records, rest: list[str], body_from: int, header: list[str]) -> _CsvRows:
    """Rows of a file without quotes: fields counted and split in bulk (pandas' C parser)."""
    delim, n_fields = rec.delimiter, len(header)
    index = {h: i for i, h in enumerate(header)}
    ser = pd.Series(rest, dtype="str").str.rstrip("\r\n")
    numbers = np.arange(body_from + 1, body_from + 1 + len(rest))
    blank = (ser.str.strip() == "").to_numpy(dtype=bool)
    count = ser.str.count(re.escape(delim)).to_numpy() + 1
    ok = (count == n_fields) & ~blank
    for i in np.flatnonzero(~ok & ~blank):
        rec.add(
            int(numbers[i]),
            None,
            None,
            None,
            None,
            rest[i].rstrip("\r\n"),
            R_MALFORMED,
            "",
            f"The row has {int(count[i])} fields; the header has {n_fields}.",
        )
    good_rows = numbers[ok]
    if ok.any():
        parts = pd.read_csv(
            io.StringIO("\n".join(ser[ok].tolist())),
            sep=delim,
            header=None,
            names=list(range(n_fields)),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
            engine="c",
        )
    else:
        parts = pd.DataFrame(columns=list(range(n_fields)), dtype="str")

    def column(name: str) -> pd.Series:
        return parts[index[name]].astype("str")

    return good_rows, good_rows, column


def _csv_rows_careful(rec: _Records, reader: Any, start: int, header: list[str]) -> _CsvRows:
    """Rows of a file with quotes, record by record (the csv module), malformed ones rejected."""
    n_fields = len(header)
    index = {h: i for i, h in enumerate(header)}
    good_rows, good_last, good = [], [], []
    while True:
        consumed_before = reader.line_num
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = start + reader.line_num
            rec.add(
                line,
                None,
                None,
                None,
                None,
                rec.text_of(line, line),
                R_MALFORMED,
                "",
                f"The row cannot be read as CSV ({exc}).",
            )
            continue
        first = start + consumed_before + 1
        if len(fields) == n_fields:
            good_rows.append(first)
            good_last.append(start + reader.line_num)
            good.append(fields)
        elif fields and any(f.strip() for f in fields):
            rec.add(
                first,
                None,
                None,
                None,
                None,
                rec.text_of(first, start + reader.line_num),
                R_MALFORMED,
                "",
                f"The row has {len(fields)} fields; the header has {n_fields}.",
            )
    cols = list(zip(*good, strict=True)) if good else [()] * n_fields

    def column(name: str) -> pd.Series:
        return pd.Series(list(cols[index[name]]), dtype="str")

    return good_rows, good_last, column


_GPX_POINTS = ("trkpt", "rtept", "wpt")


def _read_gpx(rec: _Records, text: str) -> None:
    data = text.encode("utf-8")
    parser = expat.ParserCreate(encoding="utf-8")
    stack: list[str] = []
    state: dict[str, Any] = {"point": None, "buf": [], "track": None, "meta": None, "root": None}

    def refuse(*_args: Any) -> None:
        msg = "document type declarations and entities are not allowed in GPX"
        raise ValueError(msg)

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        if state["root"] is None:
            state["root"] = local
        stack.append(local)
        state["buf"] = []
        if local in ("trk", "rte"):
            state["track"] = None
        if local in _GPX_POINTS:
            state["point"] = {
                "lat": attrs.get("lat"),
                "lon": attrs.get("lon"),
                "time": None,
                "line": parser.CurrentLineNumber,
                "start": parser.CurrentByteIndex,
                "kind": local,
            }

    def chars(content: str) -> None:
        state["buf"].append(content)

    def end(name: str) -> None:
        local = name.rsplit(":", 1)[-1]
        content = "".join(state["buf"]).strip()
        state["buf"] = []
        parent = stack[-2] if len(stack) > 1 else ""
        point = state["point"]
        if local == "time" and point is not None and parent in _GPX_POINTS:
            point["time"] = content
        elif local == "name" and parent in ("trk", "rte"):
            state["track"] = content or None
        elif local == "name" and parent == "metadata":
            state["meta"] = content or None
        elif local in _GPX_POINTS and point is not None:
            stop = parser.CurrentByteIndex
            raw = data[point["start"] : max(stop, point["start"]) + len(local) + 3]
            unit = (
                state["track"]
                if point["kind"] != "wpt" and state["track"]
                else state["meta"] or Path(rec.name).stem
            )
            rec.add(
                point["line"],
                unit,
                point["time"],
                point["lon"],
                point["lat"],
                raw.decode("utf-8", "replace"),
            )
            state["point"] = None
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(data, True)
    except (expat.ExpatError, ValueError) as exc:
        line = getattr(exc, "lineno", parser.CurrentLineNumber)
        lines = text.splitlines()
        bad = lines[line - 1] if 0 < line <= len(lines) else ""
        rec.add(
            line,
            None,
            None,
            None,
            None,
            bad,
            R_MALFORMED,
            "",
            f"The XML cannot be read from here on ({exc}).",
        )
        rec.notes.append(
            f"{rec.name}: the XML breaks at line {line}; the points before it were read."
        )
    if state["root"] not in (None, "gpx"):
        rec.notes.append(
            f"{rec.name}: the XML root is <{state['root']}>, not <gpx>; only GPX points are read."
        )


_TIME_KEYS = ("coordtimes", "times", "coord_times", "timestamps")


def _feature_times(props: Mapping[str, Any], feature: Mapping[str, Any]) -> Any:
    for key, value in props.items():
        if _norm(key) in _TIME_KEYS and isinstance(value, list):
            return value
    cp = feature.get("coordinateProperties") or props.get("coordinateProperties")
    if isinstance(cp, Mapping):
        for key, value in cp.items():
            if _norm(key) in (*_TIME_KEYS, "time") and isinstance(value, list):
                return value
    return None


def _read_geojson(rec: _Records, text: str, columns: Mapping[str, str] | None) -> None:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        lines = text.splitlines()
        bad = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
        rec.add(
            exc.lineno,
            None,
            None,
            None,
            None,
            bad,
            R_UNREADABLE,
            "",
            f"The file is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}).",
        )
        return
    features = _geojson_features(doc)
    if features is None:
        rec.add(
            0,
            None,
            None,
            None,
            None,
            text[:_TEXT_LIMIT],
            R_UNREADABLE,
            "",
            "The JSON is not a GeoJSON FeatureCollection or Feature.",
        )
        return
    stem = Path(rec.name).stem
    keys: set[str] = set()
    for f in features:
        if isinstance(f, Mapping) and isinstance(f.get("properties"), Mapping):
            keys.update(str(k) for k in f["properties"])
    roles = _roles(sorted(keys), columns)
    rec.columns = {r: n for r, n in roles.items() if r in ("unit", "datetime")}
    if "unit" not in roles:
        rec.notes.append(f"{rec.name}: no unit property; every fix is taken as unit '{stem}'.")
    for i, f in enumerate(features, start=1):
        raw = json.dumps(f, default=str)[:_TEXT_LIMIT]
        geom = f.get("geometry") if isinstance(f, Mapping) else None
        if (
            not isinstance(f, Mapping)
            or f.get("type") != "Feature"
            or not isinstance(geom, Mapping)
        ):
            rec.add(
                i,
                None,
                None,
                None,
                None,
                raw,
                R_MALFORMED,
                "",
                f"Feature {i} is not a GeoJSON Feature with a geometry.",
            )
            continue
        given = f.get("properties")
        props: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        unit = props.get(roles["unit"]) if "unit" in roles else stem
        unit = None if unit is None else str(unit)
        kind = geom.get("type")
        fixes = _feature_vertices(f, geom, props, roles)
        if fixes is None:
            rec.add(
                i,
                unit,
                None,
                None,
                None,
                raw,
                R_MALFORMED,
                "",
                f"Feature {i} is a {kind}; give Point, MultiPoint or LineString features.",
            )
            continue
        verts, times = fixes
        for v, t in zip(verts, times, strict=True):
            ok = isinstance(v, list | tuple) and len(v) >= 2
            x, y = (v[0], v[1]) if ok else (None, None)
            rec.add(
                i,
                unit,
                None if t is None else str(t),
                None if x is None else str(x),
                None if y is None else str(y),
                raw,
            )


def _geojson_features(doc: Any) -> list[Any] | None:
    """The features of a FeatureCollection, a Feature or a list of them; None for anything else."""
    if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    elif isinstance(doc, Mapping) and doc.get("type") == "Feature":
        features = [doc]
    elif isinstance(doc, list):
        features = doc
    else:
        features = None
    return features if isinstance(features, list) else None


def _feature_vertices(
    f: Mapping[str, Any],
    geom: Mapping[str, Any],
    props: Mapping[str, Any],
    roles: Mapping[str, str],
) -> tuple[list[Any], list[Any]] | None:
    """A point feature's or line's vertices and their times (None where unknown); None if
    the geometry is not a point, multipoint or line."""
    kind = geom.get("type")
    coords = geom.get("coordinates")
    if kind == "Point":
        return [coords], [props.get(roles["datetime"]) if "datetime" in roles else None]
    if kind not in ("MultiPoint", "LineString", "MultiLineString") or not isinstance(coords, list):
        return None
    verts = (
        coords
        if kind != "MultiLineString"
        else [c for part in coords if isinstance(part, list) for c in part]
    )
    times = _feature_times(props, f)
    if (
        isinstance(times, list)
        and kind == "MultiLineString"
        and times
        and isinstance(times[0], list)
    ):
        times = [t for part in times for t in part]
    if not isinstance(times, list) or len(times) != len(verts):
        times = [None] * len(verts)
    return verts, times


def _read_one(
    name: str, data: bytes, columns: Mapping[str, str] | None
) -> tuple[_Records, FileInfo]:
    rec = _Records(name=name)
    info = FileInfo(name=name, sha256=hashlib.sha256(data).hexdigest(), n_rows=0)
    text, encoding, problem = _decode(data)
    if text is None:
        rec.add(
            0,
            None,
            None,
            None,
            None,
            data[:80].decode("latin-1"),
            R_UNREADABLE,
            "",
            problem[0].upper() + problem[1:] + ".",
        )
        rec.notes.append(f"{name}: {problem}; nothing was read from it.")
    else:
        rec.encoding = encoding
        head = text.lstrip()[:1]
        suffix = Path(name).suffix.lower()
        if head == "<" or suffix == ".gpx":
            rec.format = FORMAT_GPX
            _read_gpx(rec, text)
        elif head in ("{", "[") or suffix in (".geojson", ".json"):
            rec.format = FORMAT_GEOJSON
            _read_geojson(rec, text, columns)
        else:
            rec.format = FORMAT_CSV
            _read_csv(rec, text, columns)
    info.n_rows = rec.n_rows
    info.format = rec.format
    info.encoding = rec.encoding
    info.delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(
        rec.delimiter, ""
    )
    info.columns = dict(rec.columns)
    return rec, info


# --------------------------------------------------------------------------------------------
# Validation


def _check_tz(tz: Any) -> str:
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"tz must be an IANA time zone name such as 'Europe/London', got {tz!r}."
        raise ParameterError(msg) from exc
    return str(tz)


def _clean(s: pd.Series) -> pd.Series:
    """Text values stripped, missing as ""."""
    return s.astype("str").fillna("").str.strip()


def _numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floats, and masks (missing, non-numeric) for text values."""
    text = _clean(s)
    missing = text.str.upper().isin(MISSING_TOKENS).to_numpy()
    has_comma = text.str.contains(",", regex=False).to_numpy()
    if has_comma.any():
        comma = has_comma & text.str.fullmatch(r"-?\d+,\d+").fillna(False).to_numpy(dtype=bool)
        text = text.where(~comma, text.str.replace(",", ".", regex=False))
    values = pd.to_numeric(text.where(~missing, ""), errors="coerce").to_numpy(dtype=float)
    bad = ~missing & ~np.isfinite(values)
    return values, missing, bad


def _localise(
    naive: pd.Series, units: pd.Series, tz: str, nonexistent_rule: str = "NaT"
) -> tuple[pd.Series, np.ndarray, int]:
    """Local clock times to UTC; (utc, nonexistent mask, count of repeated-hour times)."""
    idx = pd.DatetimeIndex(naive)
    rule = nonexistent_rule
    summer = idx.tz_localize(tz, ambiguous=np.ones(len(idx), dtype=bool), nonexistent=rule)
    winter = idx.tz_localize(tz, ambiguous=np.zeros(len(idx), dtype=bool), nonexistent=rule)
    nonexistent = np.asarray(summer.isna() & idx.notna())
    ambiguous = np.asarray((summer != winter) & summer.notna())
    use_winter = np.zeros(len(idx), dtype=bool)
    if ambiguous.any():
        # per unit, in file order: summer time until the clock runs backwards, then winter time
        amb = pd.DataFrame({"unit": units.to_numpy()[ambiguous], "t": idx[ambiguous]})
        back = amb.groupby("unit", sort=False)["t"].transform(
            lambda t: (t.diff() < pd.Timedelta(0)).cumsum() > 0
        )
        use_winter[np.flatnonzero(ambiguous)] = back.to_numpy(dtype=bool)
    both = summer.where(~use_winter, winter).tz_convert("UTC")
    return pd.Series(both, index=naive.index), nonexistent, int(ambiguous.sum())


def _parse_times_slow(
    text: pd.Series, units: pd.Series, tz: str, nonexistent_rule: str, counts: dict[str, int]
) -> tuple[pd.Series, np.ndarray]:
    """The general reader (regular expressions) for values the fast path did not read."""
    missing = np.zeros(len(text), dtype=bool)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    nonexistent = np.zeros(len(text), dtype=bool)
    iso = text.str.extract(_ISO)
    is_iso = iso[0].notna().to_numpy() & ~missing
    if is_iso.any():
        naive = pd.to_datetime(
            iso.loc[is_iso, 0] + " " + iso.loc[is_iso, 1].str.replace(",", ".", regex=False),
            format="ISO8601",
            errors="coerce",
        )
        off = iso.loc[is_iso, 2]
        has_off = off.notna()
        sign = off.str[0].map({"+": 1, "-": -1})
        digits = off.str.replace(r"[^0-9]", "", regex=True)
        minutes = (
            pd.to_numeric(digits.str[:2], errors="coerce").fillna(0) * 60
            + pd.to_numeric(digits.str[2:4], errors="coerce").fillna(0)
        ) * sign.fillna(1)
        minutes = minutes.where(~off.isin(["Z", "z", "UTC", "GMT"]), 0)
        aware_idx = has_off[has_off].index
        if len(aware_idx):
            utc = naive[aware_idx] - pd.to_timedelta(minutes[aware_idx], unit="min")
            out[aware_idx] = pd.to_datetime(utc).dt.tz_localize("UTC")
            counts["offset"] += int(naive[aware_idx].notna().sum())
        local_idx = has_off[~has_off].index
        if len(local_idx):
            utc, nonex, rep = _localise(naive[local_idx], units[local_idx], tz, nonexistent_rule)
            out[local_idx] = utc
            nonexistent[text.index.get_indexer(local_idx)] = nonex
            counts["local"] += int(naive[local_idx].notna().sum() - nonex.sum())
            counts["repeated_hour"] += rep
    rest = ~is_iso & ~missing
    if rest.any():
        dm = text[rest].str.extract(_DAY_FIRST)
        is_dm = dm[0].notna()
        if is_dm.any():
            iso_text = (
                dm.loc[is_dm, 2]
                + "-"
                + dm.loc[is_dm, 1].str.zfill(2)
                + "-"
                + dm.loc[is_dm, 0].str.zfill(2)
                + " "
                + dm.loc[is_dm, 3].str.zfill(5)
            )
            naive = pd.to_datetime(iso_text, format="ISO8601", errors="coerce")
            utc, nonex, rep = _localise(naive, units[naive.index], tz, nonexistent_rule)
            out[naive.index] = utc
            nonexistent[text.index.get_indexer(naive.index)] = nonex
            counts["day_first_local"] += int(naive.notna().sum() - nonex.sum())
            counts["repeated_hour"] += rep
        is_epoch = text[rest].str.match(_EPOCH)
        if is_epoch.any():
            seconds = pd.to_numeric(text[rest][is_epoch], errors="coerce")
            seconds = seconds.where(seconds < 1e11, seconds / 1000.0)
            out[seconds.index] = pd.to_datetime(seconds, unit="s", utc=True)
            counts["epoch"] += int(seconds.notna().sum())
    return out, nonexistent


def _parse_times(
    values: pd.Series, units: pd.Series, tz: str, nonexistent_rule: str = "NaT"
) -> tuple[pd.Series, np.ndarray, np.ndarray, dict[str, int]]:
    """UTC times; masks (missing, unparseable, nonexistent); counts of each notation.

    Plain ISO 8601 (``YYYY-MM-DD hh:mm...`` with or without an offset) is read by pandas in
    bulk; anything else goes through :func:`_parse_times_slow`.
    """
    text = _clean(values).reset_index(drop=True)
    units = units.reset_index(drop=True)
    missing = text.str.upper().isin(MISSING_TOKENS).to_numpy()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    counts = {"offset": 0, "local": 0, "day_first_local": 0, "epoch": 0, "repeated_hour": 0}
    nonexistent = np.zeros(len(text), dtype=bool)
    shaped = (
        ~missing
        & (text.str.len() >= 16).to_numpy()
        & text.str[10].isin(["T", " "]).to_numpy()
        & (text.str[4] == "-").to_numpy()
        & (text.str[13] == ":").to_numpy()
    )
    if shaped.any():
        tail = text.str.slice(16)
        plain = tail.str.fullmatch(r"(?::\d\d(?:\.\d+)?)?").fillna(False).to_numpy(dtype=bool)
        offset = tail.str.fullmatch(r"(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)")
        offset = offset.fillna(False).to_numpy(dtype=bool)
        aware = shaped & offset
        if aware.any():
            parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            out[aware] = parsed
            counts["offset"] += int(parsed.notna().sum())
        naive = shaped & plain
        if naive.any():
            parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce").dropna()
            utc, nonex, rep = _localise(parsed, units[parsed.index], tz, nonexistent_rule)
            out[parsed.index] = utc
            nonexistent[parsed.index.to_numpy()] = nonex
            counts["local"] += int(len(parsed) - nonex.sum())
            counts["repeated_hour"] += rep
    rest = ~missing & out.isna().to_numpy() & ~nonexistent
    if rest.any():
        slow, nonex = _parse_times_slow(text[rest], units[rest], tz, nonexistent_rule, counts)
        out[rest] = slow
        nonexistent[np.flatnonzero(rest)[nonex]] = True
    bad = ~missing & out.isna().to_numpy() & ~nonexistent
    return out, missing, bad, counts


def _validate(
    raw: pd.DataFrame, tz: str, records: Sequence[_Records]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    n = len(raw)
    reason = np.array(raw["pre_reason"].fillna("").astype(str).tolist(), dtype=object)
    column = np.array(raw["pre_column"].fillna("").astype(str).tolist(), dtype=object)
    detail = np.array(raw["pre_detail"].fillna("").astype(str).tolist(), dtype=object)
    x_text, y_text, t_text = _clean(raw["x"]), _clean(raw["y"]), _clean(raw["time"])

    def mark(mask: np.ndarray, why: str, col: str, text: Any) -> None:
        new = mask & (reason == "")
        if not new.any():
            return
        reason[new] = why
        column[new] = col
        detail[new] = text(new) if callable(text) else text

    def shown(prefix: str) -> Any:
        return lambda m: (prefix + "(" + y_text[m] + ", " + x_text[m] + ")").to_numpy(dtype=object)

    xs, x_missing, x_bad = _numbers(raw["x"])
    ys, y_missing, y_bad = _numbers(raw["y"])
    bng = (raw["coords"] == "bng").to_numpy()
    mark(
        x_missing | y_missing,
        R_MISSING,
        "coordinates",
        "A coordinate is blank or a missing-value token.",
    )
    mark(x_bad | y_bad, R_NONNUMERIC, "coordinates", shown("Coordinates are not numbers: "))
    with np.errstate(invalid="ignore"):
        out_ll = ~bng & ((np.abs(ys) > 90) | (np.abs(xs) > 180))
        x0, y0, x1, y1 = _BNG_RANGE
        out_bng = bng & ((xs < x0) | (xs > x1) | (ys < y0) | (ys > y1))
    mark(
        out_ll,
        R_RANGE,
        "coordinates",
        shown("Latitude must be within ±90 and longitude within ±180: "),
    )
    mark(
        out_bng,
        R_RANGE,
        "coordinates",
        shown("Easting/northing outside the British National Grid: "),
    )
    mark(
        (xs == 0) & (ys == 0), R_NULL, "coordinates", "Both coordinates are 0: a missing position."
    )

    units = _clean(raw["unit"]).reset_index(drop=True)
    times, t_missing, t_bad, counts = _parse_times(raw["time"], units, tz)
    mark(t_missing, R_NO_TIME, "time", "The time is blank.")
    mark(
        t_bad,
        R_TIME,
        "time",
        lambda m: (
            "Not a time in ISO 8601, day-first UK (dd/mm/yyyy hh:mm) or Unix epoch seconds: "
            + t_text[m]
        ).to_numpy(dtype=object),
    )
    nonexistent = times.isna().to_numpy() & ~t_missing & ~t_bad
    mark(
        nonexistent,
        R_NONEXISTENT,
        "time",
        lambda m: (
            f"This clock time did not happen in {tz} (the clocks went forward): " + t_text[m]
        ).to_numpy(dtype=object),
    )
    mark(units.eq("").to_numpy(), R_UNIT, "unit", "The unit is blank.")

    lon, lat = xs.copy(), ys.copy()
    ok_bng = bng & (reason == "")
    if ok_bng.any():
        lon[ok_bng], lat[ok_bng] = crs_mod.to_wgs84(xs[ok_bng], ys[ok_bng], "EPSG:27700")
    ok = reason == ""
    key = pd.DataFrame(
        {"u": units.to_numpy(), "t": _ns(times), "x": np.round(lon, 7), "y": np.round(lat, 7)}
    )
    # duplicates among the rows still usable (the first copy is kept)
    dup_ok = key[ok].duplicated(keep="first")
    dup = np.zeros(n, dtype=bool)
    dup[np.flatnonzero(ok)[dup_ok.to_numpy()]] = True
    mark(dup, R_DUPLICATE, "", "Same unit, time and position as an earlier row.")

    ok = reason == ""
    points = pd.DataFrame(
        {
            "unit": units[ok].to_numpy(),
            "time": times[ok].reset_index(drop=True),
            "lat": lat[ok],
            "lon": lon[ok],
            "source_file": raw["source_file"].to_numpy()[ok],
            "source_row": raw["source_row"].to_numpy()[ok],
        }
    )
    points = points.sort_values(["unit", "time", "source_file", "source_row"], kind="stable")
    points = points.reset_index(drop=True)
    bad = ~ok
    texts = raw["text"].to_numpy(dtype=object)[bad]
    firsts, lasts = raw["source_row"].to_numpy()[bad], raw["last_line"].to_numpy()[bad]
    files = raw["file_index"].to_numpy()[bad]
    texts = [
        t if isinstance(t, str) else records[f].text_of(a, b)
        for t, f, a, b in zip(texts, files, firsts, lasts, strict=True)
    ]
    order = np.lexsort((raw["source_row"].to_numpy()[bad], raw["file_index"].to_numpy()[bad]))
    rejected = pd.DataFrame(
        {
            "source_file": raw["source_file"].to_numpy()[bad],
            "source_row": raw["source_row"].to_numpy()[bad],
            "reason": reason[bad],
            "column": column[bad],
            "detail": detail[bad],
            "text": pd.Series(texts, dtype=object),
        },
        columns=list(LOG_REJECTED_COLUMNS),
    )
    rejected = rejected.iloc[order].reset_index(drop=True)
    return points, rejected, counts


# --------------------------------------------------------------------------------------------
# Patrol logs


@dataclass(frozen=True, eq=False)
class PatrolLogs:
    """GPS / AVL fixes read from patrol logs, with the account of every row.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per usable fix, sorted by unit and time: ``unit`` (text), ``time`` (UTC,
        ``datetime64[ns, UTC]``), ``lat``, ``lon`` (WGS84 degrees), ``source_file``,
        ``source_row`` (1-based line; the header is line 1; for GeoJSON the feature's number).
    report : IngestReport
        ``n_read == n_used + n_rejected``; ``rejected`` has ``source_file``, ``source_row``,
        ``reason``, ``column``, ``detail`` and ``text`` (the offending row as written).
    params : dict
        ``tz`` and the notations found (JSON-serialisable).
    """

    points: pd.DataFrame
    report: IngestReport
    params: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))

    @property
    def notes(self) -> list[str]:
        return list(self.report.notes)

    @property
    def units(self) -> list[str]:
        return sorted(self.points["unit"].unique().tolist())

    @property
    def tz(self) -> str:
        return str(self.params["tz"])

    def rejected_csv(self) -> str:
        """The rejected rows as spreadsheet-safe CSV (see :func:`hotspots.export.table_to_csv`)."""
        return table_to_csv(self.report.rejected)

    def ping_intervals(self) -> pd.Series:
        """Median seconds between consecutive fixes, per unit (NaN for a unit with one fix)."""
        p = self.points
        if p.empty:
            return pd.Series(dtype=float, name="ping_interval_s")
        gaps = p.groupby("unit")["time"].diff().dt.total_seconds()
        return gaps.groupby(p["unit"]).median().rename("ping_interval_s")


def read_patrol_logs(
    paths: Any,
    *,
    tz: str = TIME_ZONE,
    columns: Mapping[str, str] | None = None,
) -> PatrolLogs:
    """Read GPS / AVL patrol logs (CSV, GPX, GeoJSON), accounting for every row.

    Parameters
    ----------
    paths : path, folder, file object, (name, bytes) or a list of them
        Files are told apart by content (``<`` GPX, ``{`` GeoJSON, else CSV) and then by suffix.
        CSV needs a time column and latitude/longitude (or British National Grid easting/northing)
        columns, header spellings as in the module's name lists (``Callsign``, ``GPS Time``,
        ``Lat``...); a unit column is optional (without one, the file name is the unit). GPX
        reads track, route and way points (the unit is the track's ``<name>``, else the file
        name). GeoJSON reads Point features (``time`` and unit properties) and lines with a
        ``coordTimes`` list.
    tz : str, default "Europe/London"
        IANA time zone for times written without a UTC offset (and for the plan's clock times).
    columns : mapping, optional
        Role -> header name for columns the names do not catch; roles ``unit``, ``datetime``,
        ``date``, ``lat``, ``lon``, ``easting``, ``northing``.

    Returns
    -------
    PatrolLogs
        ``report.n_read == report.n_used + report.n_rejected``. A file that cannot be read at all
        (empty, binary, broken JSON) counts as one rejected record at line 0 (or at the line the
        JSON breaks).

    Raises
    ------
    InputError
        When a path does not exist or no files are given (content problems never raise: they
        are rejected rows).
    """
    tz = _check_tz(tz)
    if columns is not None:
        unknown = sorted(set(columns) - set(LOG_ROLES))
        if unknown:
            msg = f"Unknown column roles {unknown}; use {', '.join(LOG_ROLES)}."
            raise ParameterError(msg)
    sources = _gather(paths)
    records, frames, infos, notes = [], [], [], []
    for i, (name, data) in enumerate(sources):
        rec, info = _read_one(name, data, columns)
        records.append(rec)
        frames.append(rec.frame(i))
        infos.append(info)
        notes.extend(rec.notes)
    raw = pd.concat(frames, ignore_index=True)
    points, rejected, counts = _validate(raw, tz, records)
    n_read = len(raw)
    params = {
        "tz": tz,
        "files": [i.name for i in infos],
        "times_with_offset": counts["offset"],
        "times_local": counts["local"] + counts["day_first_local"],
        "times_day_first": counts["day_first_local"],
        "times_epoch": counts["epoch"],
        "times_in_repeated_hour": counts["repeated_hour"],
    }
    head = [
        f"Read {n_read:,} rows from {len(infos)} patrol log file(s): {len(points):,} fixes used, "
        f"{len(rejected):,} rejected."
    ]
    if counts["local"] or counts["day_first_local"]:
        head.append(
            f"{counts['local'] + counts['day_first_local']:,} times had no UTC offset and were "
            f"read as local clock time in {tz}."
        )
    if counts["day_first_local"]:
        head.append(
            f"{counts['day_first_local']:,} times were written dd/mm/yyyy and read day first (UK)."
        )
    if counts["offset"]:
        head.append(f"{counts['offset']:,} times carried a UTC offset and were read exactly.")
    if counts["epoch"]:
        head.append(f"{counts['epoch']:,} times were Unix epoch seconds (UTC).")
    if counts["repeated_hour"]:
        head.append(
            f"{counts['repeated_hour']:,} local times fell in the hour repeated when the clocks "
            "went back; each unit's were read as summer time until its clock ran backwards, then "
            "as winter time."
        )
    if len(points):
        pings = (
            points.groupby("unit")["time"]
            .diff()
            .dt.total_seconds()
            .groupby(points["unit"])
            .median()
        )
        if pings.notna().any():
            head.append(
                f"{points['unit'].nunique()} unit(s); median time between fixes "
                f"{float(pings.median()):.0f} s (from {float(pings.min()):.0f} to "
                f"{float(pings.max()):.0f} s by unit)."
            )
        params["ping_interval_s"] = {
            str(k): (None if pd.isna(v) else float(v)) for k, v in pings.items()
        }
        first, last = points["time"].min(), points["time"].max()
        params["first_fix_utc"] = first.strftime("%Y-%m-%dT%H:%M:%SZ")
        params["last_fix_utc"] = last.strftime("%Y-%m-%dT%H:%M:%SZ")
    counts_by_reason = rejected["reason"].value_counts()
    for why, k in counts_by_reason.items():
        head.append(f"Rejected: {int(k):,} {why}.")
    report = IngestReport(
        files=infos,
        n_read=n_read,
        n_used=len(points),
        rejected=rejected,
        choices=params,
        notes=head + notes,
    )
    return PatrolLogs(points=points, report=report, params=params)


# --------------------------------------------------------------------------------------------
# Patrol areas and the plan


def read_patrol_areas(path: str | Path) -> gpd.GeoDataFrame:
    """The patrol areas of a plan folder (``patrol_areas.geojson`` written by ``hotspots plan``).

    Parameters
    ----------
    path : str or Path
        The plan folder, or the GeoJSON file itself.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per area with ``patrol_area_id`` and the file's other properties;
        ``attrs["params"]`` holds the file's ``hotspots_parameters`` member.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "patrol_areas.geojson"
    if not p.exists():
        msg = "No patrol areas file."
        raise InputError(
            msg,
            file=str(p),
            hint="give the folder `hotspots plan --out-dir` wrote, or its GeoJSON.",
        )
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        features = doc["features"]
        gdf = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        msg = f"The patrol areas file cannot be read as GeoJSON ({type(exc).__name__}: {exc})."
        raise InputError(msg, file=str(p)) from exc
    if "patrol_area_id" not in gdf.columns or len(gdf) == 0:
        msg = "The patrol areas file has no features with a 'patrol_area_id' property."
        raise InputError(msg, file=str(p), hint="use the patrol_areas.geojson of a plan folder.")
    gdf["patrol_area_id"] = gdf["patrol_area_id"].astype(str)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    gdf.attrs["params"] = dict(doc.get("hotspots_parameters") or {})
    return gdf


def _unguard(s: pd.Series) -> pd.Series:
    """Undo :func:`hotspots.export.safe_csv_cell`'s apostrophe before = + - @ tab CR."""
    return s.str.replace(r"^'(?=[=+\-@\t\r])", "", regex=True)


def read_plan(path: str | Path) -> pd.DataFrame:
    """A plan's visits from ``patrol_plan.csv`` (written by :func:`hotspots.export.plan_to_csv`).

    Parameters
    ----------
    path : str or Path
        The plan folder, or the CSV file itself. A folder written with teams (``hotspots plan
        --teams``) is read from its ``team_plan.csv`` (:func:`hotspots.export.team_plan_to_csv`:
        the routes the teams were given, times with their UTC offset), else ``patrol_plan.csv``.

    Returns
    -------
    pandas.DataFrame
        The file's columns as text (``date``, ``start``, ``end``, ``minutes``, ``patrol_area_id``,
        ``arm``, ``visit`` ...), formula guards removed; ``attrs["params"]`` holds the plan's
        parameters (the ``plan_parameters`` column). :func:`compare_with_plan` reads it.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "team_plan.csv" if (p / "team_plan.csv").is_file() else p / "patrol_plan.csv"
    if not p.exists():
        msg = "No patrol plan file."
        raise InputError(
            msg, file=str(p), hint="give the folder `hotspots plan --out-dir` wrote, or its CSV."
        )
    try:
        table = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        msg = f"The patrol plan cannot be read as CSV ({type(exc).__name__}: {exc})."
        raise InputError(msg, file=str(p)) from exc
    missing = [c for c in ("date", "patrol_area_id") if c not in table.columns]
    if missing:
        msg = f"The patrol plan lacks the column(s) {', '.join(missing)}."
        raise InputError(msg, file=str(p), hint="use the patrol_plan.csv of a plan folder.")
    for col in table.columns:
        table[col] = _unguard(table[col].astype(str))
    params: dict[str, Any] = {}
    if "plan_parameters" in table.columns and len(table):
        try:
            params = dict(json.loads(table["plan_parameters"].iloc[0]))
        except (ValueError, TypeError):
            params = {}
        table = table.drop(columns="plan_parameters")
    table.attrs["params"] = params
    return table


def _clock_to_utc(values: pd.Series, keys: pd.Series, tz: str) -> pd.Series:
    """Plan clock times (naive local, aware, or text) to UTC; skipped local times shift forward."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        utc, _, _ = _localise(values, keys, tz, "shift_forward")
        return utc
    utc, _, _, _ = _parse_times(
        values.astype(object).where(values.notna(), ""), keys, tz, "shift_forward"
    )
    return utc


def _day_start_hour(params: Mapping[str, Any]) -> int:
    text = str(params.get("plan_day_starts", ""))
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        return int(text.split(":")[0])
    from hotspots.tactics import load_knowledge_base

    return int(load_knowledge_base().constant("plan_day_start_hour"))


def _plan_frame(
    plan: PatrolPlan | pd.DataFrame | str | Path, tz: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The plan's rows as one table: date, patrol_area_id, arm, visit, planned start/end/minutes."""
    if hasattr(plan, "visits") and hasattr(plan, "params"):
        table, params = plan.visits.copy(), dict(plan.params)
    elif isinstance(plan, pd.DataFrame):
        table, params = plan.copy(), dict(plan.attrs.get("params", {}))
    elif isinstance(plan, str | os.PathLike):
        table = read_plan(Path(plan))
        params = dict(table.attrs.get("params", {}))
    else:
        msg = (
            "plan must be a PatrolPlan, a table of planned visits or a plan folder, not "
            f"{type(plan).__name__}."
        )
        raise ParameterError(msg)
    for col in ("date", "patrol_area_id"):
        if col not in table.columns:
            msg = f"The plan lacks the column '{col}'."
            raise ParameterError(msg)
    n = len(table)
    ids = table["patrol_area_id"].astype(str).reset_index(drop=True)
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(table["date"].astype(str).str[:10], errors="coerce").to_numpy(),
            "patrol_area_id": ids,
            "arm": (
                table["arm"].astype(str).str.strip().str.lower().to_numpy()
                if "arm" in table.columns
                else np.full(n, "patrol", dtype=object)
            ),
        }
    )
    if out["date"].isna().any():
        msg = (
            f"The plan has {int(out['date'].isna().sum())} row(s) without a readable date "
            "(YYYY-MM-DD)."
        )
        raise ParameterError(msg)
    visit = (
        pd.to_numeric(pd.Series(table["visit"]).reset_index(drop=True), errors="coerce")
        if "visit" in table.columns
        else pd.Series(np.ones(n))
    )
    out["visit"] = visit.fillna(1).astype(int).to_numpy()
    for col in ("start", "end"):
        if col in table.columns:
            out[f"planned_{col}"] = _clock_to_utc(
                pd.Series(table[col]).reset_index(drop=True), ids, tz
            ).dt.tz_convert(tz)
        else:
            out[f"planned_{col}"] = pd.Series(
                pd.NaT, index=out.index, dtype=f"datetime64[ns, {tz}]"
            )
    if "minutes" in table.columns:
        minutes = pd.to_numeric(pd.Series(table["minutes"]).reset_index(drop=True), errors="coerce")
    else:
        minutes = (out["planned_end"] - out["planned_start"]).dt.total_seconds() / 60.0
    out["planned_minutes"] = minutes.astype(float).to_numpy()
    for col in ("hotspot_id", "location", "window"):
        if col in table.columns:
            out[col] = table[col].astype(str).reset_index(drop=True).to_numpy()
    out.loc[out["arm"] != "control", "arm"] = "patrol"
    out.loc[out["arm"] == "control", "planned_minutes"] = 0.0
    return out, params


# --------------------------------------------------------------------------------------------
# Visits


def _ns(values: Any) -> np.ndarray:
    """Aware (or UTC) times as float nanoseconds since the epoch; NaN for NaT."""
    t = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None).dt.as_unit("ns")
    out = t.to_numpy().astype(np.int64).astype(float)
    out[t.isna().to_numpy()] = np.nan
    return out


def _metric_crs(areas: gpd.GeoDataFrame) -> pyproj.CRS:
    wgs = (
        areas.to_crs(4326) if areas.crs is not None and not areas.crs.equals("EPSG:4326") else areas
    )
    pts = wgs.geometry.representative_point()
    crs, _ = crs_mod.choose_crs(pts.x.to_numpy(), pts.y.to_numpy())
    return crs


def _check_positive(name: str, value: Any, *, zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        msg = f"{name} must be a number {bound}, got {value!r}."
        raise ParameterError(msg)
    return v


def rebuild_visits(
    logs: PatrolLogs | pd.DataFrame,
    areas: gpd.GeoDataFrame,
    *,
    max_gap_s: float = GPS_GAP_S,
    tolerance_m: float = GPS_TOLERANCE_M,
    tz: str | None = None,
) -> gpd.GeoDataFrame:
    """Each unit's visits to each patrol area: continuous presence, tolerating gaps and jitter.

    Parameters
    ----------
    logs : PatrolLogs or pandas.DataFrame
        From :func:`read_patrol_logs`, or a table with ``unit``, ``time`` (aware, or UTC),
        ``lat``, ``lon``.
    areas : geopandas.GeoDataFrame
        Patrol areas with ``patrol_area_id`` (any CRS; e.g. :func:`read_patrol_areas`).
    max_gap_s : float, default 120
        Seconds: fixes in (or near) an area belong to one visit while no more than this passes
        from one such fix to the next (a GPS gap or a brief excursion does not split a visit).
    tolerance_m : float, default 15.0
        Metres outside the area within which a fix still counts as presence (GPS jitter).
    tz : str, optional
        Time zone of the output times; default the logs' ``tz``.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per visit, sorted by start: ``unit``, ``patrol_area_id``, ``start``,
        ``end`` (aware, in ``tz``), ``minutes`` (first to last fix), ``n_fixes``, ``n_inside``
        (fixes strictly inside), ``ping_interval_s`` (median seconds between its fixes),
        ``geometry`` (the fixes as a line, or a point for a single fix). ``attrs["params"]`` holds
        every choice (``max_gap_s``, ``tolerance_m``, ``tz``, ``crs``); ``attrs["notes"]`` says
        them in sentences; ``attrs["fix_hours"]`` lists the UTC hours (epoch hours) that have any
        fix, so :func:`compare_with_plan` can tell a missed visit from a day without data.
    """
    max_gap_s = _check_positive("max_gap_s", max_gap_s)
    tolerance_m = _check_positive("tolerance_m", tolerance_m, zero=True)
    if isinstance(logs, PatrolLogs):
        points, tz = logs.points, tz or logs.tz
    else:
        points = pd.DataFrame(logs)
        tz = tz or TIME_ZONE
        missing = [c for c in ("unit", "time", "lat", "lon") if c not in points.columns]
        if missing:
            msg = f"The fixes lack the column(s) {', '.join(missing)}."
            raise ParameterError(msg)
    tz = _check_tz(tz)
    if not isinstance(areas, gpd.GeoDataFrame) or "patrol_area_id" not in areas.columns:
        msg = "areas must be a GeoDataFrame with a 'patrol_area_id' column (see read_patrol_areas)."
        raise ParameterError(msg)
    if areas.crs is None:
        msg = "areas has no CRS; set one (e.g. areas.set_crs(4326))."
        raise ParameterError(msg)
    crs = _metric_crs(areas)
    metric = areas.to_crs(crs)
    geoms = np.asarray(metric.geometry.values)
    area_ids = metric["patrol_area_id"].astype(str).to_numpy()
    times = pd.to_datetime(points["time"], utc=True)
    t_ns = _ns(times).astype(np.int64)
    fix_hours = (
        sorted({int(h) for h in np.unique(t_ns // 3_600_000_000_000)}) if len(points) else []
    )
    params = {
        "max_gap_s": max_gap_s,
        "tolerance_m": tolerance_m,
        "tz": tz,
        "crs": crs.to_string(),
        "min_inside_fixes": 1,
    }
    x, y = crs_mod.to_analysis(points["lon"].to_numpy(float), points["lat"].to_numpy(float), crs)
    pts = shapely.points(x, y)
    pairs = _fixes_near_areas(points, pts, t_ns, geoms, area_ids, tolerance_m)
    runs, pairs, near_only = _presence_runs(pairs, int(round(max_gap_s * 1e9)))
    start = pd.to_datetime(runs["t0"].to_numpy(), utc=True).tz_convert(tz)
    end = pd.to_datetime(runs["t1"].to_numpy(), utc=True).tz_convert(tz)
    visits = gpd.GeoDataFrame(
        {
            "unit": runs["unit"].to_numpy(dtype=object),
            "patrol_area_id": runs["patrol_area_id"].to_numpy(dtype=object),
            "start": start,
            "end": end,
            "minutes": (runs["t1"] - runs["t0"]).to_numpy(dtype=float) / 60e9,
            "n_fixes": runs["n_fixes"].to_numpy(dtype=int),
            "n_inside": runs["n_inside"].to_numpy(dtype=int),
            "ping_interval_s": runs["ping_interval_s"].to_numpy(dtype=float),
        },
        geometry=list(_visit_geometry(runs, pairs)),
        crs="EPSG:4326",
    )
    visits = visits.sort_values(
        ["start", "unit", "patrol_area_id"], kind="stable", ignore_index=True
    )
    n_units = points["unit"].nunique() if len(points) else 0
    notes = [
        f"Visits rebuilt from {len(points):,} fixes of {n_units} unit(s) in {len(area_ids)} patrol "
        f"areas: {len(visits):,} visits.",
        f"A fix within {tolerance_m:g} m of an area counts as presence (GPS jitter); fixes in or "
        f"near an area are one visit while no more than {max_gap_s:g} s pass between them (a GPS "
        "gap or a brief excursion does not split a visit); a visit needs one fix strictly inside "
        "and runs from its first to its last fix.",
        f"Distances measured in {crs.name}.",
    ]
    if near_only:
        notes.append(
            f"{near_only:,} pass(es) came within {tolerance_m:g} m of an area without a fix inside "
            "it and are not visits."
        )
    if len(points):
        notes += _log_warnings(points, pts, t_ns, geoms, max_gap_s)
    visits.attrs["params"] = params
    visits.attrs["notes"] = notes
    visits.attrs["fix_hours"] = fix_hours
    return visits


def _fixes_near_areas(
    points: pd.DataFrame,
    pts: np.ndarray,
    t_ns: np.ndarray,
    geoms: np.ndarray,
    area_ids: np.ndarray,
    tolerance_m: float,
) -> pd.DataFrame:
    """Every (fix, area) within ``tolerance_m``, by area, unit and time; ``inside`` or near."""
    tree = shapely.STRtree(geoms)
    if len(pts):
        pi, ai = tree.query(pts, predicate="dwithin", distance=tolerance_m)
    else:
        pi = ai = np.empty(0, dtype=int)
    dist = shapely.distance(pts[pi], geoms[ai]) if len(pi) else np.empty(0)
    return pd.DataFrame(
        {
            "unit": points["unit"].astype(str).to_numpy()[pi],
            "patrol_area_id": area_ids[ai],
            "t": t_ns[pi],
            "inside": dist <= 0.0,
            "lon": points["lon"].to_numpy(float)[pi],
            "lat": points["lat"].to_numpy(float)[pi],
        }
    ).sort_values(["patrol_area_id", "unit", "t"], kind="stable", ignore_index=True)


def _presence_runs(pairs: pd.DataFrame, gap_ns: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Runs of one unit's fixes at one area no more than ``gap_ns`` apart.

    Returns the runs with a fix inside (one row per visit), their fixes, and how many runs had
    fixes only near the area.
    """
    same = (
        pairs["patrol_area_id"].eq(pairs["patrol_area_id"].shift())
        & pairs["unit"].eq(pairs["unit"].shift())
        & (pairs["t"].diff() <= gap_ns)
    )
    pairs["run"] = (~same).cumsum()
    pairs["dt"] = pairs["t"].diff().where(same)
    g = pairs.groupby("run", sort=True)
    runs = pd.DataFrame(
        {
            "unit": g["unit"].first(),
            "patrol_area_id": g["patrol_area_id"].first(),
            "t0": g["t"].min(),
            "t1": g["t"].max(),
            "n_fixes": g.size(),
            "n_inside": g["inside"].sum().astype(int),
            "ping_interval_s": g["dt"].median() / 1e9,
        }
    )
    near_only = int((runs["n_inside"] == 0).sum())
    runs = runs[runs["n_inside"] >= 1]
    return runs, pairs[pairs["run"].isin(runs.index)], near_only


def _visit_geometry(runs: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Each visit's fixes as a line (a point when there is one fix), lon/lat."""
    geometry = np.empty(len(runs), dtype=object)
    if len(runs):
        position = pd.Series(np.arange(len(runs)), index=runs.index)
        single = (runs["n_fixes"] == 1).to_numpy()
        multi = pairs[pairs["run"].map(runs["n_fixes"]) > 1]
        if len(multi):
            codes = pd.factorize(multi["run"], sort=True)[0]
            lines = shapely.linestrings(multi[["lon", "lat"]].to_numpy(float), indices=codes)
            geometry[~single] = lines
        one = pairs[pairs["run"].map(runs["n_fixes"]) == 1]
        if len(one):
            geometry[position[one["run"]].to_numpy()] = shapely.points(
                one[["lon", "lat"]].to_numpy(float)
            )
    return geometry


def _log_warnings(
    points: pd.DataFrame, pts: np.ndarray, t_ns: np.ndarray, geoms: np.ndarray, max_gap_s: float
) -> list[str]:
    """Notes on fixes far from every area and on units whose pings are too far apart."""
    notes = []
    far = _far_share(pts, geoms)
    if far > 0.5:
        notes.append(
            f"{far:.0%} of the fixes lie more than 10 km from every patrol area: check that the "
            "logs are for this plan's district and that latitude and longitude are not swapped."
        )
    by_unit = pd.DataFrame({"u": points["unit"].astype(str).to_numpy(), "t": t_ns})
    by_unit = by_unit.sort_values(["u", "t"], kind="stable")
    step = by_unit["t"].diff().where(by_unit["u"].eq(by_unit["u"].shift())) / 1e9
    pings = step.groupby(by_unit["u"]).median()
    slow = [str(u) for u, v in pings.items() if pd.notna(v) and v > max_gap_s]
    if slow:
        notes.append(
            f"Unit(s) {', '.join(slow[:10])} log fixes further apart than {max_gap_s:g} s, so "
            "their presence breaks into single-fix visits: raise max_gap_s above their ping "
            "interval."
        )
    return notes


def _far_share(pts: np.ndarray, geoms: np.ndarray) -> float:
    """Share of points more than 10 km from the areas' hull (a swapped or wrong-district log)."""
    hull = shapely.convex_hull(shapely.union_all(geoms))
    far = shapely.distance(hull, pts) > 10_000.0
    return float(np.mean(far)) if len(pts) else 0.0


# --------------------------------------------------------------------------------------------
# Comparison with the plan


#: Status of a planned visit, and of a visit nobody planned.
STATUSES = ("delivered", "short", "missed", "no data", "unplanned", "contamination")


@dataclass(frozen=True, eq=False)
class Compliance:
    """Delivered patrol set against the plan.

    Attributes
    ----------
    planned : pandas.DataFrame
        One row per planned visit: ``date`` (plan day), ``weekday``, ``patrol_area_id``,
        ``visit``, ``planned_start``, ``planned_end``, ``planned_minutes``, ``status``
        (``"delivered"``: a visit of at least ``min_visit_minutes`` matched it; ``"short"``: only
        a shorter one; ``"missed"``: none; ``"no data"``: no unit logged a single fix that plan
        day), and the matched visit's ``visit_id``, ``start``, ``end``, ``minutes``, ``units``,
        ``start_offset_minutes`` (actual minus planned start).
    delivered : pandas.DataFrame
        One row per presence visit (the units' visits to one area merged where they overlap or
        follow within ``max_gap_s``, so a pair with two trackers is one visit): ``visit_id``,
        ``patrol_area_id``, ``date``, ``start``, ``end``, ``minutes``, ``units``, ``n_units``,
        ``dose`` (minutes >= ``min_visit_minutes``), ``kind`` (``"planned"``, ``"extra"``: another
        visit on a planned area-day, ``"control"``: in a control area on its control day,
        ``"off-plan"``: an area-day the plan does not cover), ``status`` (for planned: delivered or
        short; else ``"unplanned"`` or ``"contamination"``), ``planned_visit``.
    area_days : pandas.DataFrame
        One row per area and plan day (every plan row's, and any other day with a visit):
        ``date``, ``patrol_area_id``, ``arm`` (``patrol``/``control``/``off-plan``),
        ``planned_visits``, ``planned_minutes``, ``delivered``, ``short``, ``missed``,
        ``no_data``, ``visits``, ``minutes`` (all presence), ``dose_minutes`` (in visits of at
        least ``min_visit_minutes``), ``contamination_minutes`` (presence on a control day).
    summary : dict
        The headline numbers (see :func:`compare_with_plan`).
    params : dict
        Every choice: time zone, gap, tolerance, shortest dose, plan day start, matching rule.
    notes : list of str
        The choices and caveats as sentences.
    """

    planned: pd.DataFrame
    delivered: pd.DataFrame
    area_days: pd.DataFrame
    summary: Mapping[str, Any]
    params: Mapping[str, Any]
    notes: Sequence[str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "summary", FrozenDict(self.summary))
        object.__setattr__(self, "params", freeze(self.params))
        object.__setattr__(self, "notes", FrozenList(str(n) for n in self.notes))

    def table(self) -> pd.DataFrame:
        """The compliance table: every planned visit, then every unplanned one, by date and area."""
        p = self.planned.copy()
        p["kind"] = "planned"
        u = self.delivered[self.delivered["kind"] != "planned"]
        u = pd.DataFrame(
            {
                "date": u["date"],
                "patrol_area_id": u["patrol_area_id"],
                "kind": u["kind"],
                "status": u["status"],
                "visit_id": u["visit_id"],
                "start": u["start"],
                "end": u["end"],
                "minutes": u["minutes"],
                "units": u["units"],
            }
        )
        cols = [
            "date", "weekday", "patrol_area_id", "kind", "visit", "planned_start", "planned_end",
            "planned_minutes", "status", "visit_id", "start", "end", "minutes", "units",
            "start_offset_minutes",
        ]  # fmt: skip
        parts = [t for t in (p, u) if len(t)]
        both = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
        for col in cols:
            if col not in both.columns:
                both[col] = None
        both["weekday"] = pd.to_datetime(both["date"]).dt.strftime("%a")
        both["visit"] = pd.array(both["visit"], dtype="Int64")
        both["_t"] = both["planned_start"].where(both["planned_start"].notna(), both["start"])
        both = both.sort_values(["date", "_t", "patrol_area_id"], kind="stable", ignore_index=True)
        return both[cols]

    def to_csv(self, path: str | Path | None = None) -> str:
        """The compliance table (:meth:`table`) as spreadsheet-safe CSV, with the parameters."""
        return _write_csv(self.table(), self.params, path)

    def area_days_csv(self, path: str | Path | None = None) -> str:
        """Minutes per area per plan day against planned, as spreadsheet-safe CSV."""
        return _write_csv(self.area_days, self.params, path)


def _csv_value(v: Any) -> Any:
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, pd.Timestamp):
        if v.tzinfo is None and v == v.normalize():
            return v.strftime("%Y-%m-%d")
        return v.isoformat(timespec="seconds")
    if isinstance(v, float):
        return round(v, 4)
    return v


def _write_csv(table: pd.DataFrame, params: Mapping[str, Any], path: str | Path | None) -> str:
    out = table.copy()
    for col in out.columns:
        out[col] = pd.Series(
            [_csv_value(v) for v in out[col].astype(object)], index=out.index, dtype=object
        )
    out["tracking_parameters"] = json.dumps(to_jsonable(dict(params)), sort_keys=True)
    text = table_to_csv(out)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8", newline="")
    return text


def _plan_day(t: pd.Series, tz: str, day_start_h: int) -> pd.Series:
    local = pd.to_datetime(t, utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    return (local - pd.Timedelta(hours=day_start_h)).dt.normalize()


def _merge_units(visits: pd.DataFrame, max_gap_s: float) -> pd.DataFrame:
    """One presence visit per area where units' visits overlap or follow within the gap."""
    cols = ["patrol_area_id", "start", "end", "units", "n_units", "unit_visits"]
    if visits.empty:
        return pd.DataFrame(columns=cols)
    v = pd.DataFrame(
        visits.drop(columns=visits.geometry.name, errors="ignore")
        if isinstance(visits, gpd.GeoDataFrame)
        else visits
    )
    v = v.reset_index(drop=True)
    v["_row"] = np.arange(len(v))
    v = v.sort_values(["patrol_area_id", "start", "end"], kind="stable")
    gap = pd.Timedelta(seconds=max_gap_s)
    end_so_far = v.groupby("patrol_area_id")["end"].cummax().shift()
    new = ~v["patrol_area_id"].eq(v["patrol_area_id"].shift()) | (v["start"] > end_so_far + gap)
    v["_group"] = new.cumsum()
    g = v.groupby("_group", sort=False)
    merged = pd.DataFrame(
        {
            "patrol_area_id": g["patrol_area_id"].first(),
            "start": g["start"].min(),
            "end": g["end"].max(),
            "units": g["unit"].agg(lambda u: ";".join(sorted(set(map(str, u))))),
            "n_units": g["unit"].nunique(),
            "unit_visits": g["_row"].agg(list),
        }
    )
    return merged.reset_index(drop=True)


def _assign(planned_t: np.ndarray, actual_t: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (planned, actual) minimising the sum of squared start differences (minutes).

    A strictly convex cost pairs the two lists in time order (first planned with first actual)
    whenever their counts allow, with no ties between crossing pairings.
    """
    if len(planned_t) == 0 or len(actual_t) == 0:
        return []
    cost = ((planned_t[:, None] - actual_t[None, :]) / 60e9) ** 2
    cost = np.where(np.isfinite(cost), cost, 0.0)
    rows, cols = linear_sum_assignment(cost)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def compare_with_plan(
    visits: pd.DataFrame,
    plan: PatrolPlan | pd.DataFrame | str | Path,
    *,
    min_visit_minutes: float = MIN_VISIT_MINUTES,
    tz: str | None = None,
    logs: PatrolLogs | None = None,
) -> Compliance:
    """Set rebuilt visits against the plan: delivered, short, missed, unplanned, contamination.

    Parameters
    ----------
    visits : pandas.DataFrame
        From :func:`rebuild_visits` (its ``attrs`` carry the gap, tolerance, time zone and the
        hours with fixes).
    plan : PatrolPlan, pandas.DataFrame or path
        A :class:`~hotspots.patrol.PatrolPlan`, the table :func:`read_plan` returns, or a plan
        folder. Needs ``date`` and ``patrol_area_id``; uses ``arm`` (``patrol``/``control``),
        ``visit``, ``start``, ``end`` and ``minutes`` when present. Clock times without an offset
        are local time in ``tz``.
    min_visit_minutes : float, default 10
        Shortest visit that counts as a dose: under about 10 minutes a stop deters no more than a
        drive-through (``Koper1995``, ``min_visit_minutes`` in ``hotspots/data/tactics.json``).
    tz : str, optional
        Default: the visits' time zone.
    logs : PatrolLogs, optional
        When given, its fixes (rather than ``visits.attrs["fix_hours"]``) decide which plan days
        have any data.

    Returns
    -------
    Compliance
        ``summary`` holds: ``planned_visits``, ``delivered``, ``short``, ``missed``, ``no_data``,
        ``delivery_rate`` (delivered / planned visits with data), ``unit_visits`` (rebuilt),
        ``presence_visits`` (merged), ``unplanned_visits`` (= ``extra_visits`` +
        ``control_visits`` + ``off_plan_visits``), ``unplanned_dose_visits``, ``planned_minutes``,
        ``minutes_on_patrol_days``, ``dose_minutes_on_patrol_days``, ``control_area_days``,
        ``contaminated_area_days``, ``contamination_minutes``, ``plan_days``,
        ``plan_days_with_data``, ``first_day``, ``last_day``.

    Notes
    -----
    Within one area and plan day, visits of at least ``min_visit_minutes`` are matched to the
    planned visits first, then shorter ones, each time pairing planned and actual visits in time
    order (least sum of squared start-time differences) (a visit at a different time of day still
    delivers the day's dose; ``start_offset_minutes`` shows the timing). A visit belongs to the
    plan day of its start (plan days start at the plan's ``plan_day_starts``, 06:00).
    """
    vparams = dict(getattr(visits, "attrs", {}).get("params", {}))
    tz = _check_tz(tz or vparams.get("tz") or TIME_ZONE)
    min_visit = _check_positive("min_visit_minutes", min_visit_minutes, zero=True)
    max_gap_s = float(vparams.get("max_gap_s", GPS_GAP_S))
    table, pparams = _plan_frame(plan, tz)
    day_h = _day_start_hour(pparams)
    merged = _presence_visits(visits, max_gap_s, tz, day_h, min_visit)
    fix_days = _fix_days(visits, logs, tz, day_h)

    patrol = table[table["arm"] == "patrol"].copy()
    patrol = patrol.sort_values(
        ["date", "patrol_area_id", "planned_start", "visit"], kind="stable", ignore_index=True
    )
    p_visit = _match_planned(merged, patrol, table[table["arm"] == "control"], fix_days)
    planned_out = _planned_outcome(patrol, merged, p_visit, tz)
    delivered_out = merged[
        ["visit_id", "patrol_area_id", "date", "start", "end", "minutes", "units", "n_units",
         "dose", "kind", "status", "planned_visit", "unit_visits"]
    ].copy()  # fmt: skip

    area_days = _area_days(table, planned_out, delivered_out)
    s = _summary(visits, planned_out, delivered_out, area_days, table, fix_days)
    params = {
        "tz": tz,
        "max_gap_s": max_gap_s,
        "tolerance_m": vparams.get("tolerance_m"),
        "min_visit_minutes": min_visit,
        "plan_day_starts": f"{day_h:02d}:00",
        "crs": vparams.get("crs"),
        "matching": (
            "per area and plan day: dose visits first, then short ones, paired in time order "
            "(least sum of squared start-time differences)"
        ),
        "merge_units": (
            "visits of different units to one area merged when they overlap or follow within "
            f"{max_gap_s:g} s"
        ),
        "plan": {k: v for k, v in pparams.items() if k != "created_utc"},
    }
    notes = _notes(s, params, fix_days is not None)
    return Compliance(planned_out, delivered_out, area_days, s, params, notes)


def _presence_visits(
    visits: pd.DataFrame, max_gap_s: float, tz: str, day_h: int, min_visit: float
) -> pd.DataFrame:
    """The units' visits merged per area, numbered in time order, all "off-plan" until matched."""
    merged = _merge_units(visits, max_gap_s)
    merged["start"] = pd.to_datetime(merged["start"], utc=True).dt.tz_convert(tz)
    merged["end"] = pd.to_datetime(merged["end"], utc=True).dt.tz_convert(tz)
    merged["minutes"] = (merged["end"] - merged["start"]).dt.total_seconds() / 60.0
    merged["date"] = _plan_day(merged["start"], tz, day_h)
    merged = merged.sort_values(["start", "patrol_area_id"], kind="stable", ignore_index=True)
    merged["visit_id"] = [f"V{i + 1:05d}" for i in range(len(merged))]
    merged["dose"] = merged["minutes"] >= min_visit
    merged["kind"] = "off-plan"
    merged["status"] = "unplanned"
    merged["planned_visit"] = 0
    return merged


def _fix_days(
    visits: pd.DataFrame, logs: PatrolLogs | None, tz: str, day_h: int
) -> set[Any] | None:
    """Plan days with any fix at all (None: unknown), from the logs or the visits' fix hours."""
    if logs is not None:
        if not len(logs.points):
            return set()
        return set(_plan_day(logs.points["time"], tz, day_h).unique())
    hours = getattr(visits, "attrs", {}).get("fix_hours")
    if hours is None:
        return None
    utc = pd.to_datetime(np.asarray(hours, dtype=np.int64) * 3600, unit="s", utc=True)
    return set(_plan_day(pd.Series(utc), tz, day_h).unique())


def _match_planned(
    merged: pd.DataFrame,
    patrol: pd.DataFrame,
    control: pd.DataFrame,
    fix_days: set[Any] | None,
) -> np.ndarray:
    """Match presence visits to planned visits per area and plan day; mark contamination.

    Sets ``kind``, ``status`` and ``planned_visit`` of ``merged`` and ``status`` of ``patrol``;
    returns, per planned visit, the row of ``merged`` that delivered it (-1: none).
    """
    by_key: dict[tuple[Any, str], list[int]] = {}
    for i, (day, aid) in enumerate(zip(merged["date"], merged["patrol_area_id"], strict=True)):
        by_key.setdefault((day, str(aid)), []).append(i)
    start_ns = _ns(merged["start"])
    planned_ns = _ns(patrol["planned_start"])
    kinds = np.array(merged["kind"].tolist(), dtype=object)
    statuses = np.array(merged["status"].tolist(), dtype=object)
    planned_visit = np.array(merged["planned_visit"].tolist(), dtype=int)
    dose = np.array(merged["dose"].tolist(), dtype=bool)
    p_status = np.array(["missed"] * len(patrol), dtype=object)
    p_visit = np.full(len(patrol), -1)
    for (day, aid), rows in patrol.groupby(["date", "patrol_area_id"], sort=False).groups.items():
        cands = np.asarray(by_key.get((day, str(aid)), []), dtype=int)
        kinds[cands] = "extra"
        statuses[cands] = "unplanned"
        free_p = list(np.asarray(rows))
        for want_dose, label in ((True, "delivered"), (False, "short")):
            acts = [c for c in cands if dose[c] == want_dose and kinds[c] == "extra"]
            pairs = _assign(planned_ns[free_p], start_ns[acts]) if acts and free_p else []
            used_p = []
            for pi_, ai_ in pairs:
                prow, arow = free_p[pi_], acts[ai_]
                p_status[prow] = label
                p_visit[prow] = arow
                kinds[arow] = "planned"
                statuses[arow] = label
                planned_visit[arow] = int(patrol.at[prow, "visit"])
                used_p.append(prow)
            free_p = [r for r in free_p if r not in used_p]
        if fix_days is not None and day not in fix_days:
            for r in free_p:
                p_status[r] = "no data"
    control_keys = set(zip(control["date"], control["patrol_area_id"].astype(str), strict=True))
    for i, key in enumerate(zip(merged["date"], merged["patrol_area_id"].astype(str), strict=True)):
        if key in control_keys:
            kinds[i] = "control"
            statuses[i] = "contamination"
    merged["kind"] = kinds
    merged["status"] = statuses
    merged["planned_visit"] = planned_visit
    patrol["status"] = p_status
    return p_visit


def _planned_outcome(
    patrol: pd.DataFrame, merged: pd.DataFrame, p_visit: np.ndarray, tz: str
) -> pd.DataFrame:
    """One row per planned visit with the presence visit that delivered it (if any)."""
    matched = p_visit >= 0
    take = np.where(matched, p_visit, 0)

    def pick(col: str) -> Any:
        if not len(merged):
            return pd.Series([None] * len(patrol), dtype=object)
        values = merged[col].to_numpy()[take]
        return pd.Series(values, index=patrol.index).where(matched)

    patrol["visit_id"] = pick("visit_id")
    if len(merged):
        for col in ("start", "end"):
            patrol[col] = (
                pd.Series(merged[col].to_numpy()[take], index=patrol.index)
                .dt.tz_convert(tz)
                .where(matched)
            )
    else:
        patrol["start"] = pd.Series(pd.NaT, index=patrol.index, dtype=f"datetime64[ns, {tz}]")
        patrol["end"] = patrol["start"]
    patrol["minutes"] = pd.to_numeric(pick("minutes"), errors="coerce")
    patrol["units"] = pick("units")
    patrol["start_offset_minutes"] = (
        patrol["start"] - patrol["planned_start"]
    ).dt.total_seconds() / 60.0
    patrol["weekday"] = patrol["date"].dt.strftime("%a")
    planned_cols = [
        "date", "weekday", "patrol_area_id", "visit", "planned_start", "planned_end",
        "planned_minutes", "status", "visit_id", "start", "end", "minutes", "units",
        "start_offset_minutes",
    ]  # fmt: skip
    return patrol[planned_cols].reset_index(drop=True)


def _area_days(table: pd.DataFrame, planned: pd.DataFrame, delivered: pd.DataFrame) -> pd.DataFrame:
    key = ["date", "patrol_area_id"]
    plan_rows = table.groupby(key).agg(
        arm=("arm", lambda a: "patrol" if (a == "patrol").any() else "control"),
        planned_visits=("arm", lambda a: int((a == "patrol").sum())),
        planned_minutes=("planned_minutes", "sum"),
    )
    status = planned.groupby(key)["status"].value_counts().unstack(fill_value=0)
    for col in ("delivered", "short", "missed", "no data"):
        if col not in status.columns:
            status[col] = 0
    status = status.rename(columns={"no data": "no_data"})[
        ["delivered", "short", "missed", "no_data"]
    ]
    d = delivered.assign(dose_minutes=delivered["minutes"].where(delivered["dose"], 0.0))
    acts = d.groupby(key).agg(
        visits=("visit_id", "size"),
        minutes=("minutes", "sum"),
        dose_minutes=("dose_minutes", "sum"),
    )
    out = plan_rows.join(status, how="left").join(acts, how="outer").reset_index()
    out["arm"] = out["arm"].fillna("off-plan")
    for col in ("planned_visits", "delivered", "short", "missed", "no_data", "visits"):
        out[col] = out[col].fillna(0).astype(int)
    for col in ("planned_minutes", "minutes", "dose_minutes"):
        out[col] = out[col].fillna(0.0).astype(float)
    out["contamination_minutes"] = out["minutes"].where(out["arm"] == "control", 0.0)
    cols = ["date", "patrol_area_id", "arm", "planned_visits", "planned_minutes", "delivered",
            "short", "missed", "no_data", "visits", "minutes", "dose_minutes",
            "contamination_minutes"]  # fmt: skip
    return out[cols].sort_values(key, kind="stable", ignore_index=True)


def _summary(
    visits: pd.DataFrame,
    planned: pd.DataFrame,
    delivered: pd.DataFrame,
    area_days: pd.DataFrame,
    table: pd.DataFrame,
    fix_days: set | None,
) -> dict[str, Any]:
    counts = planned["status"].value_counts()
    n = {k: int(counts.get(k, 0)) for k in ("delivered", "short", "missed", "no data")}
    kinds = delivered["kind"].value_counts()
    unplanned = delivered[delivered["kind"] != "planned"]
    patrol_days = area_days[area_days["arm"] == "patrol"]
    control_days = area_days[area_days["arm"] == "control"]
    with_data = len(planned) - n["no data"]
    days = sorted(table["date"].unique())
    return {
        "planned_visits": len(planned),
        "delivered": n["delivered"],
        "short": n["short"],
        "missed": n["missed"],
        "no_data": n["no data"],
        "delivery_rate": n["delivered"] / with_data if with_data else float("nan"),
        "unit_visits": len(visits),
        "presence_visits": len(delivered),
        "unplanned_visits": len(unplanned),
        "extra_visits": int(kinds.get("extra", 0)),
        "control_visits": int(kinds.get("control", 0)),
        "off_plan_visits": int(kinds.get("off-plan", 0)),
        "unplanned_dose_visits": int(unplanned["dose"].sum()),
        "planned_minutes": float(patrol_days["planned_minutes"].sum()),
        "minutes_on_patrol_days": float(patrol_days["minutes"].sum()),
        "dose_minutes_on_patrol_days": float(patrol_days["dose_minutes"].sum()),
        "control_area_days": len(control_days),
        "contaminated_area_days": int((control_days["minutes"] > 0).sum()),
        "contamination_minutes": float(control_days["contamination_minutes"].sum()),
        "plan_days": len(days),
        "plan_days_with_data": None if fix_days is None else int(sum(d in fix_days for d in days)),
        "first_day": pd.Timestamp(days[0]).strftime("%Y-%m-%d") if days else None,
        "last_day": pd.Timestamp(days[-1]).strftime("%Y-%m-%d") if days else None,
    }


def _notes(s: Mapping[str, Any], params: Mapping[str, Any], coverage: bool) -> list[str]:
    rate = s["delivery_rate"]
    notes = [
        f"{s['planned_visits']:,} planned visits from {s['first_day']} to {s['last_day']}: "
        f"{s['delivered']:,} delivered, {s['short']:,} short "
        f"(under {params['min_visit_minutes']:g} minutes, not a dose), {s['missed']:,} missed, "
        f"{s['no_data']:,} on days without any GPS data"
        + (
            f"; {rate:.0%} of the planned visits with data were delivered." if rate == rate else "."
        ),
        f"Minutes on planned patrol area-days: {s['minutes_on_patrol_days']:,.1f} present "
        f"({s['dose_minutes_on_patrol_days']:,.1f} in visits of {params['min_visit_minutes']:g}+ "
        f"minutes) against {s['planned_minutes']:,.1f} planned.",
        f"{s['unplanned_visits']:,} unplanned visits: {s['extra_visits']:,} extra on planned "
        f"area-days, {s['control_visits']:,} in control areas on their control days, "
        f"{s['off_plan_visits']:,} elsewhere or on days outside the plan.",
    ]
    if s["control_area_days"]:
        notes.append(
            f"Contamination: {s['contamination_minutes']:,.1f} minutes of patrol in control areas "
            f"on {s['contaminated_area_days']:,} of {s['control_area_days']:,} control area-days; "
            "these weaken a patrol-versus-control comparison."
        )
    notes.append(
        f"Times read in {params['tz']}; plan days start at {params['plan_day_starts']}; "
        f"a visit is a dose from {params['min_visit_minutes']:g} minutes (Koper 1995); "
        f"GPS gap tolerance {params['max_gap_s']:g} s and jitter tolerance "
        f"{params['tolerance_m'] if params['tolerance_m'] is not None else 'n/a'} m; "
        f"{params['merge_units']}."
    )
    if not coverage:
        notes.append(
            "Which plan days had GPS data was not known, so planned visits without a visit count "
            "as missed even where trackers may have been off."
        )
    elif s["no_data"]:
        notes.append(
            f"{s['plan_days'] - (s['plan_days_with_data'] or 0)} plan day(s) have no GPS fix from "
            f"any unit: their {s['no_data']:,} planned visits are 'no data', not 'missed'."
        )
    notes.append(
        "Under-delivery is normal (Birmingham planned 45 minutes a day and delivered 24-26: "
        "Williams and Coupe 2017); feed these figures back to the teams, as Trinidad and "
        "Merseyside did (Sherman et al. 2014; Gibson et al. 2017)."
    )
    return notes


# --------------------------------------------------------------------------------------------
# Synthetic logs with a known delivery


@dataclass
class SimulatedPatrol:
    """Synthetic GPS fixes made from a plan, and what they deliver by construction.

    Attributes
    ----------
    points : pandas.DataFrame
        ``unit``, ``time`` (aware, in ``tz``), ``lat``, ``lon`` (WGS84), sorted by unit and time;
        write them with :func:`write_patrol_log`.
    planned : pandas.DataFrame
        One row per planned visit: ``date``, ``patrol_area_id``, ``visit``, ``status``
        (``delivered``/``short``/``missed``/``no data``) and ``minutes`` (NaN unless delivered
        or short).
    visits : pandas.DataFrame
        Every simulated presence visit: ``patrol_area_id``, ``date``, ``start``, ``end``,
        ``minutes``, ``kind`` (``planned``/``extra``/``control``/``off-plan``), ``units``.
    truth : dict
        The numbers :func:`compare_with_plan` must recover (the keys of its ``summary``).
    area_days : pandas.DataFrame
        Expected ``minutes``, ``dose_minutes`` and ``contamination_minutes`` per ``date`` and
        ``patrol_area_id`` (area-days with presence only).
    params : dict
        Every setting, the seed included.
    """

    points: pd.DataFrame
    planned: pd.DataFrame
    visits: pd.DataFrame
    truth: dict[str, Any]
    area_days: pd.DataFrame
    params: dict[str, Any]


def _sample_inside(geom: Any, margin: float, rng: np.random.Generator) -> tuple[float, float]:
    inner = geom.buffer(-margin)
    if inner.is_empty:
        inner = geom
    x0, y0, x1, y1 = inner.bounds
    for _ in range(1000):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if inner.contains(shapely.Point(x, y)):
            return x, y
    p = inner.representative_point()
    return p.x, p.y


def _point_outside(geom: Any, distance: float, rng: np.random.Generator) -> tuple[float, float]:
    """A point ``distance`` metres outside ``geom``'s boundary, in a random direction."""
    c = geom.centroid
    angle = rng.uniform(0, 2 * np.pi)
    far = shapely.LineString([(c.x, c.y), (c.x + 1e5 * np.cos(angle), c.y + 1e5 * np.sin(angle))])
    hit = far.intersection(geom.boundary)
    pts = list(getattr(hit, "geoms", [hit]))
    edge = max(pts, key=lambda p: c.distance(p)) if pts and not hit.is_empty else c
    r = c.distance(edge) + distance
    return c.x + r * np.cos(angle), c.y + r * np.sin(angle)


def simulate_patrol_logs(
    plan: PatrolPlan | pd.DataFrame | str | Path,
    areas: gpd.GeoDataFrame,
    *,
    delivery: Mapping[str, float] | None = None,
    seed: int = 0,
    tz: str = TIME_ZONE,
    interval_s: int = 30,
    noise_m: float = 3.0,
    control_visits: int = 2,
    extra_visits: int = 1,
    off_plan_visits: int = 1,
    pairs: int = 1,
    gaps: int = 1,
    excursions: int = 1,
    jitter_fixes: int = 3,
    days_without_data: int = 0,
    max_gap_s: float = GPS_GAP_S,
    tolerance_m: float = GPS_TOLERANCE_M,
    min_visit_minutes: float = MIN_VISIT_MINUTES,
) -> SimulatedPatrol:
    """Synthetic GPS fixes from a plan with a known delivery, for tests and the walk-through.

    Parameters
    ----------
    plan : PatrolPlan, pandas.DataFrame or path
        As for :func:`compare_with_plan`.
    areas : geopandas.GeoDataFrame
        The plan's patrol areas (``patrol_area_id``, any CRS).
    delivery : mapping, optional
        Shares of the planned visits (on days with data) that are ``"delivered"`` (10-20 minutes),
        ``"short"`` (2-9 minutes) and ``"missed"``; default ``{"delivered": 0.7, "short": 0.15,
        "missed": 0.15}``. Counts are rounded, and the missed take the remainder.
    seed : int, default 0
    tz : str, default "Europe/London"
        Time zone of the plan's clock times and of the output times.
    interval_s : int, default 30
        Seconds between fixes; must divide 60.
    noise_m : float, default 3.0
        GPS noise, metres (normal, per axis, clipped at three times).
    control_visits, extra_visits, off_plan_visits : int
        Visits nobody planned: in control areas on their control days (contamination), a
        second visit on a delivered area-day, and in an area (or on a day) outside the plan.
    pairs : int, default 1
        Delivered visits also logged by a second unit at the same times (one presence visit).
    gaps, excursions : int, default 1
        Delivered visits with a GPS gap (no fixes), or fixes outside the area, lasting as long as
        ``max_gap_s`` allows without splitting the visit.
    jitter_fixes : int, default 3
        Delivered visits with one fix moved just outside the area (within ``tolerance_m``).
    days_without_data : int, default 0
        Plan days on which no unit logs anything (their planned visits are "no data").
    max_gap_s, tolerance_m, min_visit_minutes : float
        The settings :func:`rebuild_visits` and :func:`compare_with_plan` will use.

    Returns
    -------
    SimulatedPatrol
        A unit ``"Base"`` logs two fixes far from every area on each plan day with data, so a
        day without visits still has data.
    """
    tz = _check_tz(tz)
    if interval_s <= 0 or 60 % int(interval_s):
        msg = f"interval_s must divide 60 (e.g. 10, 15, 30, 60), got {interval_s!r}."
        raise ParameterError(msg)
    shares = dict(delivery or {"delivered": 0.7, "short": 0.15, "missed": 0.15})
    unknown = set(shares) - {"delivered", "short", "missed"}
    if unknown or any(v < 0 for v in shares.values()) or sum(shares.values()) > 1 + 1e-9:
        msg = (
            "delivery must give shares of 'delivered', 'short' and 'missed' summing to at most 1, "
            f"got {delivery!r}."
        )
        raise ParameterError(msg)
    rng = np.random.default_rng(seed)
    table, pparams = _plan_frame(plan, tz)
    sim = _Simulation(areas, tz, _day_start_hour(pparams), rng, tolerance_m, max_gap_s)

    days = sorted(table["date"].unique())
    no_data = (
        set(
            pd.Timestamp(d)
            for d in rng.choice(
                np.array(days, dtype="datetime64[ns]"),
                size=min(days_without_data, len(days)),
                replace=False,
            )
        )
        if days_without_data
        else set()
    )
    patrol = table[table["arm"] == "patrol"].reset_index(drop=True)
    has_data = ~patrol["date"].isin(list(no_data)).to_numpy()
    status, minutes = sim.planned_visits(patrol, has_data, shares, min_visit_minutes)
    delivered_rows = [
        k
        for k, v in enumerate(sim.sims)
        if v["kind"] == "planned" and v["minutes"] >= min_visit_minutes
    ]
    # visits nobody planned
    control = table[(table["arm"] == "control") & ~table["date"].isin(list(no_data))].reset_index(
        drop=True
    )
    sim.control_visits(control, control_visits)
    sim.extra_visits(delivered_rows, extra_visits)
    data_days = [d for d in days if pd.Timestamp(d) not in no_data]
    sim.off_plan_visits(set(table["patrol_area_id"].astype(str)), days, data_days, off_plan_visits)

    order = sim.assign_units()
    special = sim.special_visits(
        order, (("pair", pairs), ("gap", gaps), ("excursion", excursions), ("jitter", jitter_fixes))
    )
    rows = sim.fixes(order, special, interval_s, noise_m)
    bx, by = sim.far_point(sim.all_geoms[0])
    interval = pd.Timedelta(seconds=int(interval_s))
    for d in data_days:
        lo, _ = sim.day_bounds(pd.Timestamp(d))
        for j in range(2):
            rows.append(("Base", lo + pd.Timedelta(hours=6) + j * interval, bx, by))
    points = _simulated_points(rows, sim.crs, tz)

    visits = pd.DataFrame(
        [{k: v.get(k) for k in _SIM_VISIT_COLUMNS} for v in (sim.sims[k] for k in order)],
        columns=list(_SIM_VISIT_COLUMNS),
    )
    planned = pd.DataFrame(
        {
            "date": patrol["date"],
            "patrol_area_id": patrol["patrol_area_id"].astype(str),
            "visit": patrol["visit"],
            "status": status,
            "minutes": minutes,
        }
    )
    truth, area_days = _simulated_truth(
        table, patrol, visits, status, has_data, days, data_days, min_visit_minutes
    )
    params = {
        "seed": int(seed),
        "tz": tz,
        "interval_s": int(interval_s),
        "noise_m": float(noise_m),
        "delivery": shares,
        "control_visits": control_visits,
        "extra_visits": extra_visits,
        "off_plan_visits": off_plan_visits,
        "pairs": pairs,
        "gaps": gaps,
        "excursions": excursions,
        "jitter_fixes": jitter_fixes,
        "days_without_data": days_without_data,
        "max_gap_s": float(max_gap_s),
        "tolerance_m": float(tolerance_m),
        "synthetic": True,
    }
    return SimulatedPatrol(points, planned, visits, truth, area_days, params)


_SIM_VISIT_COLUMNS = (
    "patrol_area_id",
    "date",
    "start",
    "end",
    "minutes",
    "kind",
    "units",
    "n_unit_visits",
)


class _Simulation:
    """The state :func:`simulate_patrol_logs` builds up: areas (metres), visits, their units.

    Every draw comes from one generator, in a fixed order, so a seed gives the same logs.
    """

    def __init__(
        self,
        areas: gpd.GeoDataFrame,
        tz: str,
        day_h: int,
        rng: np.random.Generator,
        tolerance_m: float,
        max_gap_s: float,
    ) -> None:
        self.crs = _metric_crs(areas)
        metric = areas.to_crs(self.crs)
        self.geom = dict(zip(metric["patrol_area_id"].astype(str), metric.geometry, strict=True))
        self.all_geoms = list(self.geom.values())
        self.tz, self.day_h, self.rng = tz, day_h, rng
        self.tolerance_m, self.max_gap_s = tolerance_m, max_gap_s
        self.taken: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] = {}
        self.sims: list[dict[str, Any]] = []
        self._own: dict[tuple[str, float], Any] = {}

    def own(self, aid: str, gap: float) -> Any:
        """Area ``aid`` less what lies within ``gap`` metres of another area (the whole area when
        none is that close), so that fixes drawn there are presence in ``aid`` alone."""
        key = (aid, gap)
        if key not in self._own:
            g = self.geom[aid]
            near = [h for a, h in self.geom.items() if a != aid and h.distance(g) <= gap]
            self._own[key] = g.difference(shapely.union_all(near).buffer(gap)) if near else g
        return self._own[key]

    def outside(self, aid: str, distance: float) -> tuple[float, float]:
        """A point ``distance`` metres outside area ``aid`` and clear of every other area."""
        g = self.geom[aid]
        for _ in range(50):
            x, y = _point_outside(g, distance, self.rng)
            p = shapely.Point(x, y)
            others = (h for a, h in self.geom.items() if a != aid)
            if all(h.distance(p) > self.tolerance_m + 5.0 for h in others):
                break
        return x, y

    def day_bounds(self, day: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
        lo = (day + pd.Timedelta(hours=self.day_h)).tz_localize(
            self.tz, ambiguous=True, nonexistent="shift_forward"
        )
        hi = (day + pd.Timedelta(days=1, hours=self.day_h)).tz_localize(
            self.tz, ambiguous=True, nonexistent="shift_forward"
        )
        return lo, hi

    def _clear_of_areas(self, x: float, y: float) -> bool:
        p = shapely.Point(x, y)
        return all(g.distance(p) > self.tolerance_m + 50.0 for g in self.all_geoms)

    def far_point(self, g: Any) -> tuple[float, float]:
        """A place 250-450 m from ``g`` and clear of every area (travel fixes); where areas are
        packed that close, up to 2.5 km further out."""
        for attempt in range(400):
            wider = 250.0 * (attempt // 40 - 4) if attempt >= 200 else 0.0
            x, y = _point_outside(g, 250.0 + wider + self.rng.uniform(0, 200), self.rng)
            if self._clear_of_areas(x, y):
                return x, y
        msg = "Could not find a place clear of every patrol area for the simulated travel fixes."
        raise ParameterError(msg)

    def _fits(self, aid: str, start: pd.Timestamp, end: pd.Timestamp, day: pd.Timestamp) -> bool:
        lo, hi = self.day_bounds(day)
        if start - pd.Timedelta(minutes=3) < lo or end + pd.Timedelta(minutes=3) >= hi:
            return False
        sep = pd.Timedelta(seconds=self.max_gap_s + 60)
        return all(end + sep < s or e + sep < start for s, e in self.taken.get(aid, []))

    def add(
        self,
        aid: str,
        day: pd.Timestamp,
        start: pd.Timestamp,
        minutes: int,
        kind: str,
        **extra: Any,
    ) -> bool:
        """Add a visit unless it leaves the plan day or comes too close to another one there."""
        end = start + pd.Timedelta(minutes=int(minutes))
        if not self._fits(aid, start, end, day):
            return False
        self.taken.setdefault(aid, []).append((start, end))
        self.sims.append(
            {
                "patrol_area_id": aid,
                "date": day,
                "start": start,
                "end": end,
                "minutes": float(minutes),
                "kind": kind,
                **extra,
            }
        )
        return True

    def planned_visits(
        self,
        patrol: pd.DataFrame,
        has_data: np.ndarray,
        shares: Mapping[str, float],
        min_visit_minutes: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Deliver shares of the planned visits on days with data: status and minutes of each."""
        rng = self.rng
        status = np.array(["missed"] * len(patrol), dtype=object)
        minutes = np.full(len(patrol), np.nan)
        status[~has_data] = "no data"
        idx = rng.permutation(np.flatnonzero(has_data))
        n_del = int(round(shares.get("delivered", 0.0) * len(idx)))
        n_short = min(int(round(shares.get("short", 0.0) * len(idx))), len(idx) - n_del)
        outcome = {int(i): "delivered" for i in idx[:n_del]} | {
            int(i): "short" for i in idx[n_del : n_del + n_short]
        }
        lo_dose = int(math.ceil(min_visit_minutes))
        for i in sorted(outcome):
            row = patrol.iloc[i]
            if pd.isna(row["planned_start"]):
                continue
            dur = (
                int(rng.integers(lo_dose, 21))
                if outcome[i] == "delivered"
                else int(rng.integers(2, lo_dose))
            )
            start = row["planned_start"] + pd.Timedelta(minutes=int(rng.integers(0, 6)))
            if self.add(str(row["patrol_area_id"]), row["date"], start, dur, "planned", plan_row=i):
                status[i] = outcome[i]
                minutes[i] = float(dur)
        return status, minutes

    def _count(self, kind: str) -> int:
        return sum(v["kind"] == kind for v in self.sims)

    def control_visits(self, control: pd.DataFrame, n: int) -> None:
        """Visits in control areas on their control days (contamination)."""
        for i in self.rng.permutation(len(control))[: max(0, n) * 3]:
            if self._count("control") >= n:
                break
            row = control.iloc[int(i)]
            lo, _ = self.day_bounds(row["date"])
            start = lo + pd.Timedelta(minutes=int(self.rng.integers(600, 840)))
            minutes = int(self.rng.integers(5, 21))
            self.add(str(row["patrol_area_id"]), row["date"], start, minutes, "control")

    def extra_visits(self, delivered_rows: Sequence[int], n: int) -> None:
        """A second visit on delivered area-days, a few hours from the first."""
        for k in self.rng.permutation(delivered_rows)[: max(0, n) * 3]:
            if self._count("extra") >= n:
                break
            base = self.sims[int(k)]
            for shift in (3, -3, 6, -6):
                start = base["start"] + pd.Timedelta(hours=shift)
                if self.add(base["patrol_area_id"], base["date"], start, 12, "extra"):
                    break

    def off_plan_visits(
        self, planned_ids: set[str], days: Sequence[Any], data_days: Sequence[Any], n: int
    ) -> None:
        """Visits in an area the plan does not cover, or else on a day before the plan."""
        outside = [a for a in self.geom if a not in planned_ids]
        for j in range(max(0, n)):
            if outside:
                aid, day = outside[j % len(outside)], pd.Timestamp(data_days[j % len(data_days)])
            else:
                aid, day = (
                    sorted(planned_ids)[j % len(planned_ids)],
                    pd.Timestamp(days[0]) - pd.Timedelta(days=1 + j),
                )
            lo, _ = self.day_bounds(day)
            start = lo + pd.Timedelta(minutes=int(self.rng.integers(360, 600)))
            self.add(aid, day, start, int(self.rng.integers(10, 21)), "off-plan")

    def assign_units(self) -> list[int]:
        """Each visit goes to the first unit free 20 minutes before it; visits in time order."""
        sims = self.sims
        order = sorted(range(len(sims)), key=lambda k: sims[k]["start"])
        free_at: list[pd.Timestamp] = []
        for k in order:
            v = sims[k]
            for u, t in enumerate(free_at):
                if t + pd.Timedelta(minutes=20) <= v["start"]:
                    free_at[u] = v["end"]
                    v["unit"] = f"Unit {u + 1}"
                    break
            else:
                free_at.append(v["end"])
                v["unit"] = f"Unit {len(free_at)}"
        return order

    def special_visits(
        self, order: Sequence[int], wanted: Sequence[tuple[str, int]]
    ) -> dict[int, set[str]]:
        """Planned visits of 8 minutes or more given a pair, a gap, an excursion or jitter."""
        planned = [k for k in order if self.sims[k]["kind"] == "planned"]
        picks = list(self.rng.permutation([k for k in planned if self.sims[k]["minutes"] >= 8]))
        special: dict[int, set[str]] = {}
        for what, n in wanted:
            for _ in range(max(0, n)):
                if not picks:
                    break
                special.setdefault(int(picks.pop()), set()).add(what)
        return special

    def fixes(
        self, order: Sequence[int], special: Mapping[int, set[str]], interval_s: int, noise_m: float
    ) -> list[tuple[str, pd.Timestamp, float, float]]:
        """(unit, time, x, y) of every visit's fixes and of the travel fixes around it."""
        rows: list[tuple[str, pd.Timestamp, float, float]] = []
        for k in order:
            v = self.sims[k]
            tags = special.get(k, set())
            units = [v["unit"]] + ([f"Pair {k}"] if "pair" in tags else [])
            v["units"] = ";".join(sorted(units))
            v["n_unit_visits"] = len(units)
            for unit in units:
                rows += self._unit_fixes(v, unit, tags, interval_s, noise_m)
        return rows

    def _unit_fixes(
        self, v: Mapping[str, Any], unit: str, tags: set[str], interval_s: int, noise_m: float
    ) -> list[tuple[str, pd.Timestamp, float, float]]:
        rng = self.rng
        g = self.geom[v["patrol_area_id"]]
        interval = pd.Timedelta(seconds=int(interval_s))
        clip = 3.0 * noise_m
        margin = clip * math.sqrt(2) + 1.0
        m_gap = max(1, int(self.max_gap_s // interval_s) - 1)
        n_fix = int(round(v["minutes"] * 60 / interval_s))
        rows: list[tuple[str, pd.Timestamp, float, float]] = []
        inside = self.own(str(v["patrol_area_id"]), self.tolerance_m + margin)
        cx, cy = _sample_inside(inside, margin + 5.0, rng)
        fx, fy = self.far_point(g)
        for j in range(4, 0, -1):
            rows.append((unit, v["start"] - j * interval, fx, fy))
            rows.append((unit, v["end"] + j * interval, fx, fy))
        a = max(1, n_fix // 3)
        lost = a + m_gap < n_fix  # room for a gap or an excursion inside the visit
        for j in range(n_fix + 1):
            t = v["start"] + j * interval
            if "gap" in tags and a < j <= a + m_gap and lost:
                continue
            if "excursion" in tags and a < j <= a + m_gap and lost:
                x, y = self.outside(str(v["patrol_area_id"]), self.tolerance_m + 30.0)
            elif "jitter" in tags and j == n_fix // 2 and 0 < j < n_fix:
                x, y = self.outside(str(v["patrol_area_id"]), self.tolerance_m / 2.0)
            else:
                wx, wy = _sample_inside(inside, margin, rng) if j % 4 == 0 else (cx, cy)
                cx, cy = wx, wy
                nx, ny = np.clip(rng.normal(0.0, noise_m, 2), -clip, clip)
                x, y = wx + nx, wy + ny
            rows.append((unit, t, x, y))
        return rows


def _simulated_points(
    rows: Sequence[tuple[str, pd.Timestamp, float, float]], crs: pyproj.CRS, tz: str
) -> pd.DataFrame:
    """The fixes as ``unit``, ``time`` (aware, in ``tz``), ``lat``, ``lon``, by unit and time."""
    pts = pd.DataFrame(rows, columns=["unit", "time", "x", "y"])
    lon, lat = crs_mod.to_wgs84(pts["x"].to_numpy(float), pts["y"].to_numpy(float), crs)
    points = pd.DataFrame(
        {
            "unit": pts["unit"].astype(str),
            "time": pd.to_datetime(pts["time"], utc=True).dt.tz_convert(tz),
            "lat": lat,
            "lon": lon,
        }
    )
    return points.sort_values(["unit", "time"], kind="stable", ignore_index=True)


def _simulated_truth(
    table: pd.DataFrame,
    patrol: pd.DataFrame,
    visits: pd.DataFrame,
    status: np.ndarray,
    has_data: np.ndarray,
    days: Sequence[Any],
    data_days: Sequence[Any],
    min_visit_minutes: float,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """What :func:`compare_with_plan` must recover: its summary and the area-day minutes."""
    dose = visits["minutes"] >= min_visit_minutes
    control_keys = set(
        zip(
            table.loc[table["arm"] == "control", "date"],
            table.loc[table["arm"] == "control", "patrol_area_id"].astype(str),
            strict=True,
        )
    )
    patrol_keys = set(zip(patrol["date"], patrol["patrol_area_id"].astype(str), strict=True))
    keys = list(zip(visits["date"], visits["patrol_area_id"], strict=True))
    on_patrol = np.array([k in patrol_keys for k in keys], dtype=bool)
    on_control = np.array([k in control_keys for k in keys], dtype=bool)
    unplanned = visits["kind"] != "planned"
    counts = pd.Series(status).value_counts()
    with_data = int(has_data.sum())
    truth = {
        "planned_visits": len(patrol),
        "delivered": int(counts.get("delivered", 0)),
        "short": int(counts.get("short", 0)),
        "missed": int(counts.get("missed", 0)),
        "no_data": int(counts.get("no data", 0)),
        "delivery_rate": int(counts.get("delivered", 0)) / with_data if with_data else float("nan"),
        "unit_visits": int(visits["n_unit_visits"].sum()),
        "presence_visits": len(visits),
        "unplanned_visits": int(unplanned.sum()),
        "extra_visits": int((visits["kind"] == "extra").sum()),
        "control_visits": int((visits["kind"] == "control").sum()),
        "off_plan_visits": int((visits["kind"] == "off-plan").sum()),
        "unplanned_dose_visits": int((unplanned & dose).sum()),
        "planned_minutes": float(patrol["planned_minutes"].sum()),
        "minutes_on_patrol_days": float(visits.loc[on_patrol, "minutes"].sum()),
        "dose_minutes_on_patrol_days": float(visits.loc[on_patrol & dose, "minutes"].sum()),
        "control_area_days": len(control_keys),
        "contaminated_area_days": len({k for k, c in zip(keys, on_control, strict=True) if c}),
        "contamination_minutes": float(visits.loc[on_control, "minutes"].sum()),
        "plan_days": len(days),
        "plan_days_with_data": len(data_days),
        "first_day": pd.Timestamp(days[0]).strftime("%Y-%m-%d") if days else None,
        "last_day": pd.Timestamp(days[-1]).strftime("%Y-%m-%d") if days else None,
    }
    ad = visits.assign(
        dose_minutes=visits["minutes"].where(dose, 0.0),
        contamination_minutes=visits["minutes"].where(on_control, 0.0),
    )
    area_days = (
        ad.groupby(["date", "patrol_area_id"])[["minutes", "dose_minutes", "contamination_minutes"]]
        .sum()
        .reset_index()
    )
    return truth, area_days


def write_patrol_log(
    points: pd.DataFrame,
    path: str | Path,
    *,
    fmt: str | None = None,
    time_format: str = "offset",
    tz: str | None = None,
    header: Sequence[str] = ("Callsign", "Timestamp", "Latitude", "Longitude"),
) -> Path:
    """Write fixes (``unit``, ``time``, ``lat``, ``lon``) as a CSV, GPX or GeoJSON patrol log.

    Parameters
    ----------
    points : pandas.DataFrame
        E.g. :attr:`SimulatedPatrol.points` or :attr:`PatrolLogs.points`.
    path : str or Path
    fmt : {"csv", "gpx", "geojson"}, optional
        Default from the suffix.
    time_format : {"offset", "local", "utc", "epoch"}, default "offset"
        CSV and GeoJSON times: ISO 8601 with the local UTC offset, local clock time without an
        offset, UTC with ``Z``, or Unix epoch seconds. GPX always uses UTC (its standard).
    tz : str, optional
        Local time zone (default the times' own, else Europe/London).
    header : sequence of 4 str
        CSV header for unit, time, latitude and longitude.

    Returns
    -------
    Path
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    times = pd.to_datetime(points["time"], utc=True)
    zone = tz or (
        str(points["time"].dt.tz)
        if isinstance(points["time"].dtype, pd.DatetimeTZDtype)
        else TIME_ZONE
    )
    local = times.dt.tz_convert(zone)
    if time_format == "offset":
        text = local.map(lambda t: t.isoformat(timespec="seconds"))
    elif time_format == "local":
        text = local.dt.strftime("%Y-%m-%d %H:%M:%S")
    elif time_format == "utc":
        text = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif time_format == "epoch":
        text = (times.astype("int64") // 10**9).astype(str)
    else:
        msg = f"time_format must be 'offset', 'local', 'utc' or 'epoch', got {time_format!r}."
        raise ParameterError(msg)
    lat = points["lat"].map(lambda v: f"{v:.7f}")
    lon = points["lon"].map(lambda v: f"{v:.7f}")
    units = points["unit"].astype(str)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(list(header))
        w.writerows(zip(units, text, lat, lon, strict=True))
        path.write_text(buf.getvalue(), encoding="utf-8")
    elif fmt == "gpx":
        from xml.sax.saxutils import escape, quoteattr

        utc = times.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="hotspots" xmlns="http://www.topografix.com/GPX/1/1">\n'
        ]
        frame = pd.DataFrame({"unit": units, "t": utc, "lat": lat, "lon": lon})
        for unit, grp in frame.groupby("unit", sort=True):
            parts.append(f"<trk><name>{escape(str(unit))}</name><trkseg>\n")
            parts.extend(
                f"<trkpt lat={quoteattr(a)} lon={quoteattr(o)}><time>{t}</time></trkpt>\n"
                for a, o, t in zip(grp["lat"], grp["lon"], grp["t"], strict=True)
            )
            parts.append("</trkseg></trk>\n")
        parts.append("</gpx>\n")
        path.write_text("".join(parts), encoding="utf-8")
    elif fmt in ("geojson", "json"):
        features = [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [float(o), float(a)]},
                "properties": {"unit": u, "time": t},
            }
            for u, t, a, o in zip(units, text, lat, lon, strict=True)
        ]
        path.write_text(
            json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
        )
    else:
        msg = f"fmt must be 'csv', 'gpx' or 'geojson', got {fmt!r}."
        raise ParameterError(msg)
    return path


# --------------------------------------------------------------------------------------------
# Outputs


def visits_geojson(
    visits: gpd.GeoDataFrame,
    compliance: Compliance | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The units' visits as an RFC 7946 FeatureCollection (lines of fixes; points for one fix).

    Each feature carries ``unit``, ``patrol_area_id``, ``start``, ``end`` (ISO 8601 with offset),
    ``minutes``, ``n_fixes``, ``n_inside``, ``ping_interval_s`` and, with ``compliance``, its
    presence visit's ``visit_id``, plan ``date``, ``kind`` and ``status``. Written by
    :func:`hotspots.export.features_geojson`; ``params`` (with the visits' own choices) goes in
    the top-level ``hotspots_parameters`` member.
    """
    gdf = visits.copy()
    for col in ("start", "end"):
        gdf[col] = gdf[col].map(lambda t: None if pd.isna(t) else t.isoformat(timespec="seconds"))
    if compliance is not None and len(gdf):
        d = compliance.delivered
        owner = {int(r): i for i, rows in enumerate(d["unit_visits"]) for r in rows}
        pick = [owner.get(i) for i in range(len(gdf))]
        for col in ("visit_id", "kind", "status"):
            gdf[col] = [None if j is None else d[col].iloc[j] for j in pick]
        gdf["date"] = [None if j is None else d["date"].iloc[j].strftime("%Y-%m-%d") for j in pick]
    meta = dict(visits.attrs.get("params", {}))
    if params:
        meta.update(params)
    gdf.attrs = {}
    return features_geojson(gdf, meta, per_feature=False)


@functools.cache
def _environment() -> jinja2.Environment:
    """The report's templates (:func:`hotspots.offline.report_environment`)."""
    return report_environment()


def _clock(t: Any) -> str:
    if t is None or t is pd.NaT or (isinstance(t, float) and math.isnan(t)):
        return ""
    return pd.Timestamp(t).strftime("%Y-%m-%d %H:%M")


def _overview_svg(
    areas: gpd.GeoDataFrame | None,
    compliance: Compliance,
    visits: gpd.GeoDataFrame | None,
    width: int = 640,
    height: int = 420,
) -> dict[str, Any] | None:
    """Areas shaded by the share of planned visits delivered; visit tracks drawn on top."""
    if areas is None or len(areas) == 0:
        return None
    crs = _metric_crs(areas)
    metric = areas.to_crs(crs)
    x0, y0, x1, y1 = metric.total_bounds
    pad = max(x1 - x0, y1 - y0) * 0.05 + 50
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    scale = min(width / (x1 - x0), height / (y1 - y0))

    def path(geom: Any) -> str:
        out = []
        for part in getattr(geom, "geoms", [geom]):
            rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
            for ring in rings:
                xy = np.asarray(ring.coords)
                if len(xy) == 0:
                    continue
                px = (xy[:, 0] - x0) * scale
                py = (y1 - xy[:, 1]) * scale
                out.append(
                    "M"
                    + " L".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
                    + (" Z" if part.geom_type == "Polygon" else "")
                )
        return " ".join(out)

    ad = compliance.area_days
    per_area = ad.groupby("patrol_area_id").agg(
        planned=("planned_visits", "sum"),
        delivered=("delivered", "sum"),
        no_data=("no_data", "sum"),
    )
    shapes = []
    for aid, g in zip(metric["patrol_area_id"].astype(str), metric.geometry, strict=True):
        if aid in per_area.index and per_area.at[aid, "planned"] - per_area.at[aid, "no_data"] > 0:
            share = per_area.at[aid, "delivered"] / (
                per_area.at[aid, "planned"] - per_area.at[aid, "no_data"]
            )
            colour = "#16a34a" if share >= 0.8 else "#f59e0b" if share >= 0.5 else "#dc2626"
        else:
            share, colour = None, "#9ca3af"
        c = g.centroid
        shapes.append(
            {
                "id": aid,
                "d": path(g),
                "fill": colour,
                "share": share,
                "x": (c.x - x0) * scale,
                "y": (y1 - c.y) * scale,
            }
        )
    tracks = []
    if visits is not None and len(visits):
        for geom in visits.to_crs(crs).geometry:
            if geom is not None and geom.geom_type == "LineString":
                tracks.append(path(geom))
    return {
        "width": width,
        "height": height,
        "areas": shapes,
        "tracks": tracks[:2000],
        "scale_m": 200,
        "scale_px": 200 * scale,
    }


#: Title of the tracking report when none is given.
REPORT_TITLE = "Serious violence hot spots: patrol tracking report"


def render_tracking_report(
    compliance: Compliance,
    *,
    logs: PatrolLogs | None = None,
    visits: gpd.GeoDataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
    title: str = REPORT_TITLE,
    synthetic: bool = False,
    listed: int = 200,
) -> str:
    """The printable tracking report as one HTML document (offline: no scripts, fonts or tiles).

    Parameters
    ----------
    compliance : Compliance
        From :func:`compare_with_plan`.
    logs : PatrolLogs, optional
        Adds the files read and the rejected rows.
    visits : geopandas.GeoDataFrame, optional
        From :func:`rebuild_visits`: tracks on the overview map, and its notes.
    areas : geopandas.GeoDataFrame, optional
        The patrol areas: the overview map (inline SVG).
    title : str
    synthetic : bool, default False
        Label every page as synthetic demo data.
    listed : int, default 200
        Most short, missed and unplanned visits listed (the CSV has them all).

    Returns
    -------
    str
        A complete HTML document marked OFFICIAL-SENSITIVE, rendered from the autoescaped
        template ``hotspots/templates/tracking.html``.
    """
    s = compliance.summary
    p = compliance.planned
    ad = compliance.area_days
    per_area = (
        ad.groupby("patrol_area_id")
        .agg(
            planned=("planned_visits", "sum"), delivered=("delivered", "sum"),
            short=("short", "sum"), missed=("missed", "sum"), no_data=("no_data", "sum"),
            planned_minutes=("planned_minutes", "sum"),
            minutes=("minutes", "sum"), dose_minutes=("dose_minutes", "sum"),
            control_days=("arm", lambda a: int((a == "control").sum())),
            contamination=("contamination_minutes", "sum"),
        )
        .reset_index()
    )  # fmt: skip
    per_day = (
        ad.groupby("date")
        .agg(
            planned=("planned_visits", "sum"), delivered=("delivered", "sum"),
            short=("short", "sum"), missed=("missed", "sum"), no_data=("no_data", "sum"),
            planned_minutes=("planned_minutes", "sum"),
            minutes=("minutes", "sum"), dose_minutes=("dose_minutes", "sum"),
            contamination=("contamination_minutes", "sum"),
        )
        .reset_index()
    )  # fmt: skip
    per_day["date"] = per_day["date"].dt.strftime("%Y-%m-%d %a")
    exceptions = p[p["status"] != "delivered"]
    unplanned = compliance.delivered[compliance.delivered["kind"] != "planned"]
    ex_rows = [
        {
            "date": r.date.strftime("%Y-%m-%d"), "area": r.patrol_area_id, "visit": r.visit,
            "planned": _clock(r.planned_start), "status": r.status, "start": _clock(r.start),
            "minutes": r.minutes, "units": r.units if isinstance(r.units, str) else "",
        }
        for r in exceptions.head(listed).itertuples()
    ]  # fmt: skip
    un_rows = [
        {
            "date": r.date.strftime("%Y-%m-%d"),
            "area": r.patrol_area_id,
            "kind": r.kind,
            "start": _clock(r.start),
            "minutes": r.minutes,
            "units": r.units,
        }
        for r in unplanned.head(listed).itertuples()
    ]
    files, reasons, rejected = [], [], []
    log_notes: list[str] = []
    if logs is not None:
        files = [f.to_dict() for f in logs.report.files]
        reasons = list(logs.report.reason_counts().items())
        rejected = logs.report.rejected.head(20).to_dict("records")
        log_notes = logs.notes
    headline = [
        ("Planned visits", f"{s['planned_visits']:,}"),
        ("Delivered (dose of 10+ minutes)", f"{s['delivered']:,}"),
        ("Short (under the dose)", f"{s['short']:,}"),
        ("Missed", f"{s['missed']:,}"),
        ("No GPS data that day", f"{s['no_data']:,}"),
        (
            "Delivery rate (of planned visits with data)",
            "n/a" if s["delivery_rate"] != s["delivery_rate"] else f"{s['delivery_rate']:.0%}",
        ),
        (
            "Minutes planned / present / in doses (planned patrol days)",
            f"{s['planned_minutes']:,.0f} / {s['minutes_on_patrol_days']:,.0f} / "
            f"{s['dose_minutes_on_patrol_days']:,.0f}",
        ),
        (
            "Unplanned visits (extra / control / elsewhere)",
            f"{s['unplanned_visits']:,} ({s['extra_visits']} / {s['control_visits']} / "
            f"{s['off_plan_visits']})",
        ),
        (
            "Contamination: minutes in control areas on control days",
            f"{s['contamination_minutes']:,.1f} on {s['contaminated_area_days']} of "
            f"{s['control_area_days']} control area-days",
        ),
    ]
    params = [
        (k, json.dumps(to_jsonable(v)) if isinstance(v, dict | list) else v)
        for k, v in compliance.params.items()
    ]
    page = _environment().get_template("tracking.html")
    return page.render(
        title=title,
        synthetic=synthetic,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=hotspots.__version__,
        summary=s,
        headline=headline,
        notes=list(compliance.notes)
        + list(getattr(visits, "attrs", {}).get("notes", []) if visits is not None else []),
        log_notes=log_notes,
        per_area=per_area.to_dict("records"),
        per_day=per_day.to_dict("records"),
        exceptions=ex_rows,
        n_exceptions=len(exceptions),
        unplanned=un_rows,
        n_unplanned=len(unplanned),
        files=files,
        reasons=reasons,
        rejected=rejected,
        n_rejected=0 if logs is None else logs.report.n_rejected,
        params=params,
        overview=_overview_svg(areas, compliance, visits),
    )


@dataclass
class TrackingOutputs:
    """What :func:`write_tracking_outputs` read, computed and wrote."""

    paths: dict[str, Path]
    logs: PatrolLogs
    visits: gpd.GeoDataFrame
    compliance: Compliance
    #: How the zone of clock times without an offset was chosen when none was given
    #: (:func:`hotspots.tasking.time_zone_of_areas`); None when ``tz`` was given.
    zone_choice: Any = None


def write_tracking_outputs(
    plan_dir: str | Path,
    log_paths: Any,
    out_dir: str | Path,
    *,
    tz: str | None = None,
    max_gap_s: float = GPS_GAP_S,
    tolerance_m: float = GPS_TOLERANCE_M,
    min_visit_minutes: float = MIN_VISIT_MINUTES,
    columns: Mapping[str, str] | None = None,
    pdf: bool = False,
    title: str | None = None,
) -> TrackingOutputs:
    """Track a plan folder's patrols from GPS logs and write the results into ``out_dir``.

    Writes ``compliance.csv`` (every planned visit with its status, then every unplanned
    visit), ``area_days.csv`` (minutes per area per plan day against planned),
    ``visits.geojson`` (the units' visits as lines of fixes), ``rejected_rows.csv`` (log rows
    not used, with file, line, reason and text), ``tracking_report.html`` and, with ``pdf``,
    ``tracking_report.pdf`` (local headless Chromium; see :func:`hotspots.briefing.html_to_pdf`).

    Parameters
    ----------
    plan_dir : str or Path
        The folder ``hotspots plan --out-dir`` wrote (``patrol_plan.csv``,
        ``patrol_areas.geojson``).
    log_paths : paths, folders or files
        Patrol logs, as for :func:`read_patrol_logs`.
    out_dir : str or Path
    tz : str, optional
        IANA time zone of log times without a UTC offset and of the plan's clock times; by
        default the zone where the patrol areas are
        (:func:`hotspots.tasking.time_zone_of_areas`, in :attr:`TrackingOutputs.zone_choice`).
    max_gap_s, tolerance_m, min_visit_minutes, columns
        As for :func:`read_patrol_logs`, :func:`rebuild_visits` and :func:`compare_with_plan`.
    pdf : bool, default False
    title : str, optional

    Returns
    -------
    TrackingOutputs
    """
    from hotspots.tasking import time_zone_of_areas

    areas = read_patrol_areas(plan_dir)
    plan = read_plan(plan_dir)
    chosen = time_zone_of_areas(areas) if tz is None else None
    zone = chosen.zone if chosen is not None else str(tz)
    logs = read_patrol_logs(log_paths, tz=zone, columns=columns)
    visits = rebuild_visits(logs, areas, max_gap_s=max_gap_s, tolerance_m=tolerance_m, tz=zone)
    compliance = compare_with_plan(
        visits, plan, min_visit_minutes=min_visit_minutes, logs=logs, tz=zone
    )
    run = areas.attrs.get("params", {}).get("run", {})
    synthetic = bool(run.get("synthetic") or run.get("demo"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "compliance": out / "compliance.csv",
        "area_days": out / "area_days.csv",
        "visits": out / "visits.geojson",
        "rejected_rows": out / "rejected_rows.csv",
        "report": out / "tracking_report.html",
    }
    compliance.to_csv(paths["compliance"])
    compliance.area_days_csv(paths["area_days"])
    meta = {"tracking": compliance.params, "logs": logs.report.to_dict()}
    paths["visits"].write_text(
        json_text(visits_geojson(visits, compliance, meta)), encoding="utf-8"
    )
    paths["rejected_rows"].write_text(logs.rejected_csv(), encoding="utf-8", newline="")
    html = render_tracking_report(
        compliance,
        logs=logs,
        visits=visits,
        areas=areas,
        synthetic=synthetic,
        title=title or REPORT_TITLE,
    )
    paths["report"].write_text(html, encoding="utf-8")
    if pdf:
        from hotspots.briefing import html_to_pdf

        paths["report_pdf"] = html_to_pdf(paths["report"], out / "tracking_report.pdf")
    return TrackingOutputs(paths, logs, visits, compliance, chosen)
