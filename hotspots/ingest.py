"""Read police incident CSVs into :class:`~hotspots.incidents.Incidents`, accounting for each row.

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
``malformed row``              more or fewer fields than the header, a quote left open
                               whose field holds lines that read as rows of the file, or NUL
                               bytes (a damaged line in a text file)
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

import codecs
import collections
import contextlib
import csv
import dataclasses
import functools
import hashlib
import io
import os
import re
import threading
import unicodedata
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyproj
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from hotspots import crs as crs_mod
from hotspots._errors import HotspotsWarning, InputError, ParameterError
from hotspots.incidents import (
    REJECTED_COLUMNS,
    REQUIRED_COLUMNS,
    SYNTHETIC_FORCE,
    DeferredRejected,
    FileInfo,
    Incidents,
    IngestReport,
    deferred_or_table,
)
from hotspots.layers import FIRST_LINE_KEY, LAYER_SUFFIXES
from hotspots.progress import READING, VALIDATING, Progress, progress_step, reporter
from hotspots.sources import (
    Filled,
    LayerCrs,
    Skipped,
    SourceList,
    expand_sources,
    folder_files,
    folder_listing,
)
from hotspots.spreadsheets import SPREADSHEET_SUFFIXES

__all__ = [
    "FORMAT_BNG",
    "FORMAT_GRID",
    "FORMAT_LATLON",
    "FORMAT_POLICE_UK",
    "MISSING_TOKENS",
    "REASONS",
    "END_ROLES",
    "ROLES",
    "VIOLENCE_TYPES_POLICE_UK",
    "DATE_ORDERS",
    "ValidatedFile",
    "combine_files",
    "default_study_area",
    "filter_incidents",
    "folder_files",
    "list_sources",
    "read_file",
    "read_files",
    "read_headers",
    "read_incidents",
    "read_text",
    "window_times",
]

#: police.uk crime types kept by ``crime_types="default"``.
#:
#: police.uk files every crime in one of 14 broad categories. "Violence and sexual offences" holds
#: street violence (assaults, wounding, homicide) but also domestic abuse, harassment, stalking and
#: sexual offences, which police.uk does not separate; personal robbery is in "Robbery";
#: and knife and weapon carrying, the precursor that hot spot patrols aim to deter, is in
#: "Possession of weapons". These are the street-visible, deterrable violent offences the UK
#: trials behind the College of Policing's guide counted (Basford2021, OpSavvy and
#: ThamesValleyRCT in ``hotspots/data/tactics.json``; the ``indoor_places`` rule of
#: ``hotspots/data/places.json``). Drugs, ASB, criminal damage and theft, which hot spot policing
#: in general also counts, are left out because this tool targets serious violence; pass
#: ``crime_types="all"`` or a list to count them.
VIOLENCE_TYPES_POLICE_UK = frozenset(
    {"Violence and sexual offences", "Robbery", "Possession of weapons"}
)

#: Word stems that mark a crime type as violence-related in files whose taxonomy is not police.uk
#: (US NIBRS/UCR offence names, force-specific categories...). Matched case-insensitively inside
#: the crime type text: assaults and batteries, robbery, homicide, weapons and shootings, sexual
#: violence, kidnapping and threats - the street-visible, deterrable violence the UK trials
#: counted (see :data:`VIOLENCE_TYPES_POLICE_UK`).
VIOLENCE_KEYWORDS = (
    "assault", "battery", "robbery", "homicide", "murder", "manslaughter", "violen", "wound",
    "gbh", "abh", "weapon", "firearm", "shooting", "stab", "knife", "rape", "sexual", "kidnap",
    "abduct", "strangul", "threat", "affray", "riot", "carjack", "mugging",
)  # fmt: skip

FORMAT_POLICE_UK = "police.uk street-level"
FORMAT_LATLON = "latitude/longitude"
FORMAT_BNG = "British National Grid easting/northing"
FORMAT_GRID = "easting/northing in the given coordinate CRS"
# x/y columns in a projected CRS other than British National Grid, none given (an error)
FORMAT_OTHER_GRID = "x/y in another projected CRS"

#: Cell values read as missing (case-insensitive, after stripping whitespace).
MISSING_TOKENS = frozenset({"", "NA", "N/A", "NULL", "-", "--", "NAN", "NONE", "#N/A", "NIL"})

#: Roles a file column can play (keys of ``columns=``).
ROLES = (
    "lon", "lat", "easting", "northing", "date", "time", "hour", "datetime", "month",
    "crime_type", "weight", "id", "location", "date_end", "time_end", "datetime_end",
)  # fmt: skip
#: Roles of the end of a time window ("Committed To"), each the end's counterpart of the start's
#: ``date``, ``time`` or ``datetime`` (:func:`window_times`).
END_ROLES = {"date_end": "date", "time_end": "time", "datetime_end": "datetime"}

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

#: Files read at the same time (each by Arrow's own threads too); more only costs memory.
READ_WORKERS = 4

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
            "lat_dd", "latitud",
            # other languages' exports (accents dropped): it, de, nl, da/no
            "latitudine", "breitengrad", "breite", "breedtegraad", "breddegrad"),
    "lon": ("longitude", "lon", "lng", "long", "x_lon", "lon_x", "longitude_x", "x_longitude",
            "x_lng", "x_long", "lon_wgs84", "wgs84_longitude", "longitude_wgs84", "geo_lon",
            "geo_lng", "point_longitude", "incident_longitude", "lon_dd", "longitud",
            "long_wgs84", "lng_wgs84", "longitudine", "langengrad", "laengengrad", "lange",
            "laenge", "lengtegraad", "lengdegrad", "laengdegrad"),
    "easting": ("easting", "eastings", "os_x", "osgb_x", "bng_x", "x_bng", "bng_easting",
                "os_easting", "grid_easting", "easting_bng", "x_easting"),
    "northing": ("northing", "northings", "os_y", "osgb_y", "bng_y", "y_bng", "bng_northing",
                 "os_northing", "grid_northing", "northing_bng", "y_northing"),
    "datetime": ("datetime", "date_time", "timestamp", "occurred_at", "incident_datetime",
                 "occurrence_datetime", "offence_datetime", "offense_datetime", "date_and_time",
                 "datetime_occurred", "reported_datetime", "fecha_hora",
                 "date_heure", "datum_tijd", "data_ora"),
    "date": ("date", "incident_date", "occurrence_date", "offence_date", "offense_date",
             "date_occurred", "occurred_date", "occurred_on", "crime_date", "event_date",
             "date_of_offence", "date_of_offense", "occ_date", "report_date", "reported_date",
             "date_reported", "date_occ", "cmplnt_fr_dt", "occ_dt", "dateoccurred",
             "date_of_occurrence", "first_occurrence_date", "occurrencedate", "datum", "tatdatum",
             "fecha", "fecha_hecho", "date_des_faits", "date_faits", "date_infraction"),
    "time": ("time", "incident_time", "occurrence_time", "offence_time", "offense_time",
             "time_occurred", "occurred_time", "occ_time", "time_of_day", "time_occ",
             "cmplnt_fr_tm", "occ_tm", "timeoccurred", "time_of_occurrence", "heure", "hora",
             "uhrzeit", "tatuhrzeit", "tatzeit", "tijd", "tijdstip", "ora"),
    "hour": ("hour", "hour_of_day", "occ_hour", "occurrence_hour", "incident_hour",
             "offence_hour", "offense_hour", "hour_occurred", "crime_hour", "event_hour",
             "occurrencehour"),
    "month": ("month", "year_month", "yearmonth", "month_year"),
    "crime_type": ("crime_type", "offense_type", "offence_type", "crime_category",
                   "offense_category", "offence_category", "category", "primary_type",
                   "offense", "offence", "crime", "incident_type", "type", "offense_description",
                   "offence_description", "crime_description", "crm_cd_desc", "ofns_desc",
                   "offense_desc", "offence_desc", "crime_desc", "incident_category",
                   "nibrs_offense", "offense_name", "offence_name", "mci_category", "mci",
                   "major_crime_indicator", "offence_group", "offense_group", "crime_group",
                   "offence_subgroup", "offense_subgroup", "crime_subgroup", "major_category",
                   "minor_category", "ucr_category", "ucr_description", "category_name",
                   "crime_category_name", "crime_class", "offense_class", "offence_class",
                   "text_general_code", "primary_description", "offense_code_group",
                   "crime_category_description", "offence_category_description",
                   "offense_category_description", "offence_type_description",
                   "offense_type_description", "subcategory", "crime_subcategory", "delikt",
                   "deliktart", "straftat", "categorie", "categoria", "delito", "tipo_delito",
                   "infraction", "type_infraction", "nature_infraction", "misdrijf", "reato",
                   "tipo_reato"),
    "weight": ("weight", "harm", "harm_weight", "harm_score", "harm_index", "crime_harm",
               "harm_days", "chi", "cchi"),
    "id": ("crime_id", "id", "uid", "incident_id", "incident_number", "case_number", "case_id",
           "crime_ref", "crime_reference", "crime_number", "report_number", "event_id",
           "offence_id", "offense_id", "record_id", "objectid"),
    "location": ("location", "address", "street", "block", "street_name", "adresse", "strasse",
                 "direccion", "adres", "indirizzo", "hundred_block", "location_block",
                 "intersection"),
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
    # tried after the rest (a format reading no sampled value keeps its place): 12-hour times
    # after an ISO date, and month names (English) as spreadsheets write them
    ("%Y-%m-%d %I:%M:%S %p", True), ("%Y-%m-%d %I:%M %p", True), ("%d %B %Y", False),
    ("%d %b %Y", False), ("%d %B %Y %H:%M", True), ("%d %b %Y %H:%M", True), ("%B %d, %Y", False),
    ("%b %d, %Y", False), ("%B %d %Y", False), ("%b %d %Y", False), ("%d-%b-%Y", False),
    ("%d-%b-%y", False), ("%d-%b-%Y %H:%M", True),
)  # fmt: skip
_DATE_FORMATS_DM = (
    ("{A}/{B}/%Y %H:%M:%S", True), ("{A}/{B}/%Y %H:%M", True), ("{A}/{B}/%Y %I:%M:%S %p", True),
    ("{A}/{B}/%Y %I:%M %p", True), ("{A}/{B}/%Y", False), ("{A}-{B}-%Y %H:%M:%S", True),
    ("{A}-{B}-%Y %H:%M", True), ("{A}-{B}-%Y", False), ("{A}.{B}.%Y %H:%M:%S", True),
    ("{A}.{B}.%Y %H:%M", True), ("{A}.{B}.%Y", False), ("{A}/{B}/%y %H:%M", True),
    ("{A}/{B}/%y", False),
)  # fmt: skip
# Year-first with a 12-hour clock (San Francisco's "2023/03/13 11:41:00 AM"), tried after the
# others: no value one of those reads reads here too.
_DATE_FORMATS_YMD_12H = (
    ("%Y/%m/%d %I:%M:%S %p", True), ("%Y/%m/%d %I:%M %p", True), ("%Y-%m-%d %I:%M:%S %p", True),
    ("%Y-%m-%d %I:%M %p", True),
)  # fmt: skip
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%m/%Y", "%Y-%m-%d", "%b %Y", "%B %Y", "%Y%m")
# a UTC offset after a time: "Z", "+01:00", "+0100" or PostgreSQL's "+00" (Philadelphia)
_TZ_SUFFIX = r"(?<=\d\d:\d\d)(:\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)$"


# --------------------------------------------------------------------------------------------
# Reading bytes
# --------------------------------------------------------------------------------------------


def _gather(sources: Any) -> list[tuple[str, bytes]]:
    """Turn ``sources`` into a list of (name, bytes)."""
    return [(name, load()) for name, load in _gather_lazy(sources)]


def _gather_lazy(sources: Any) -> SourceList:
    """Turn ``sources`` into (name, loader) pairs: files are read one at a time, when needed.

    Missing paths and empty folders are errors here, before anything is read.
    """
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
        msg = (
            "sources must be a path, a folder, file objects or (name, bytes) pairs, "
            f"not {type(sources).__name__}."
        )
        raise ParameterError(msg)
    triples: list[tuple[str, Callable[[], bytes], Path | bytes | None]] = []
    skipped: list[Skipped] = []
    for item in items:
        found, left = _item_sources(item)
        triples.extend(found)
        skipped.extend(left)
    out = expand_sources(triples)
    out.skipped[:0] = skipped
    if not out:
        if out.skipped:
            msg = "No incident file was given: " + " ".join(k.note for k in out.skipped)
            raise InputError(msg, hint="give police.uk's street files (or other incident CSVs).")
        msg = "No input files were given."
        raise InputError(msg, hint="pass a CSV file, a folder of CSV files or a list of files.")
    return out


def _item_sources(
    item: Any,
) -> tuple[list[tuple[str, Callable[[], bytes], Path | bytes | None]], list[Skipped]]:
    """One source as (name, loader, path or bytes or None) triples, and the police.uk files a
    folder holds that are not incidents."""
    if isinstance(item, str | os.PathLike):
        return _path_sources(Path(item))
    if isinstance(item, tuple) and len(item) == 2:
        name, data = item
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes | bytearray | memoryview):
            msg = f"The second item of the source pair for {name!r} must be bytes."
            raise ParameterError(msg)
        data = bytes(data)
        return [(str(name), functools.partial(bytes, data), data)], []
    if hasattr(item, "read") or hasattr(item, "getvalue"):
        name = Path(str(getattr(item, "name", "upload.csv"))).name
        if name.lower().endswith((".zip", ".gz", *SPREADSHEET_SUFFIXES, *LAYER_SUFFIXES)):
            # listed now: an archive's members, a workbook's sheets, a GIS file's layers
            data = _read_upload(item, name)
            return [(name, functools.partial(bytes, data), data)], []
        return [(name, functools.partial(_read_upload, item, name), None)], []
    msg = (
        f"Cannot read a source of type {type(item).__name__}: give a path, a file object "
        "or (name, bytes)."
    )
    raise ParameterError(msg)


def _read_upload(item: Any, name: str) -> bytes:
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
    return bytes(data)


def _read_path(path: Path) -> list[tuple[str, bytes]]:
    return [(name, load()) for name, load, _ in _path_sources(path)[0]]


@dataclass(frozen=True)
class _PathLoader:
    """A file's bytes, read from its path when called (it pickles: a file validated without its
    text, :class:`_Kept`, can be combined in another process and read there again)."""

    path: Path

    def __call__(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            msg = f"Could not read the file ({exc.strerror or exc})."
            raise InputError(msg, file=str(self.path)) from exc


def _path_sources(
    path: Path,
) -> tuple[list[tuple[str, Callable[[], bytes], Path | bytes | None]], list[Skipped]]:
    """A path's files as (name, loader, path), and the police.uk files in a folder that are not
    incidents (:func:`hotspots.sources.folder_listing`)."""
    loader = _PathLoader
    try:
        if path.is_dir() and not path.name.lower().endswith(".gdb"):  # a .gdb: one source
            files, skipped = folder_listing(path)
            if not files:
                msg = (
                    "The folder holds no .csv files (nor Parquet files nor workbooks) of incidents"
                )
                msg += (": " + " ".join(k.note for k in skipped)) if skipped else "."
                raise InputError(
                    msg, file=str(path), hint="point to a folder of CSV files or to a file."
                )
            return [(p.relative_to(path).as_posix(), loader(p), p) for p in files], skipped
        if not path.exists():
            msg = "No such file or folder."
            raise InputError(msg, file=str(path), hint="check the path.")
        return [(path.name, loader(path), path)], []
    except OSError as exc:
        msg = f"Could not read the file ({exc.strerror or exc})."
        raise InputError(msg, file=str(path)) from exc


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """Bytes to text: UTF-16 (with BOM), UTF-8 (with or without BOM), cp1252, then latin-1."""
    if _check_bytes(data, name) == "utf-16":
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            msg = "The file starts with a UTF-16 byte-order mark but is not valid UTF-16."
            raise InputError(msg, file=name, hint=_TEXT_HINT) from exc
    try:
        text = data.decode("utf-8-sig")
        return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    if _has_utf8_runs(data):
        # UTF-8 text with some lines in Windows-1252 (files joined from two exports): each
        # character as it was written; the whole file as cp1252 would garble the UTF-8 ones
        return data.decode("utf-8-sig", errors=_CP1252_BYTES), MIXED_ENCODING
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


#: The encoding a file is reported in when it is UTF-8 but for some bytes that are not, read
#: as Windows-1252 (:func:`_decode`).
MIXED_ENCODING = "utf-8 (with cp1252 bytes)"


def _cp1252_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: the bytes that are not UTF-8 read as Windows-1252 (the five it
    leaves undefined as Latin-1)."""
    assert isinstance(exc, UnicodeDecodeError)
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


_CP1252_BYTES = "hotspots-cp1252-bytes"
codecs.register_error(_CP1252_BYTES, _cp1252_bytes)


#: Two or more letters of Windows-1252 text that also read as one UTF-8 character (a lead
#: byte, then continuation bytes ending at a byte that is not one): "Ã©" for "é". Such pairs
#: are rare in Windows-1252 text ("Ã" then a symbol) and are every non-ASCII letter of UTF-8.
_UTF8_CHAR = re.compile(
    rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"
    rb"(?![\x80-\xbf])"
)


def _has_utf8_runs(data: bytes) -> bool:
    """Whether ``data`` (not valid UTF-8 as a whole) holds UTF-8 characters of two bytes or
    more (:data:`_UTF8_CHAR`), so its non-ASCII text is not all in one one-byte encoding."""
    return _UTF8_CHAR.search(data) is not None


_TEXT_HINT = "give a comma-, semicolon- or tab-separated text file (CSV) with a header row."

#: Bytes of a UTF-8 file decoded to sniff its delimiter and header (Arrow reads the rest):
#: the 200,000 characters sniffed of plain ASCII text; where they hold fewer characters the
#: whole file is decoded (as for long lines), so the sniff sees the same text either way.
_HEAD_BYTES = 262_144


def _utf8_head(data: bytes, name: str) -> tuple[str, str] | None:
    """(text, encoding) of the first lines of a UTF-8 file, or None where :func:`_decode` must
    decode it (UTF-16, or not UTF-8); raises :func:`_decode`'s errors for empty and binary files.

    The whole file is checked as UTF-8 by Arrow (several times faster than decoding it, and
    without the GIL, so files read side by side check at once); only the lines the delimiter is
    sniffed from are decoded.
    """
    if _check_bytes(data, name) == "utf-16" or not _is_utf8(data):
        return None
    head = data[:_HEAD_BYTES]
    if len(data) > len(head):
        head = head[: head.rfind(b"\n") + 1]
    text = head.decode("utf-8-sig")
    if len(data) > len(head) and len(text) < 200_000:
        text = data.decode("utf-8-sig")  # long lines: the whole file, as _decode does
    return text, "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (as Python's strict decoder decides; checked by Arrow)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    arr = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


#: Control characters that mark a binary file (:func:`_check_bytes`).
_CONTROLS = bytes([*range(0, 9), 11, 12, *range(14, 32)])


def _check_bytes(data: bytes, name: str) -> str:
    """Refuse empty and binary files, archives and PDFs; "utf-16" after a UTF-16 byte-order
    mark, else ""."""
    hint = _TEXT_HINT
    if not data or data.isspace():
        msg = "The file is empty."
        raise InputError(msg, file=name, hint=hint)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    for magic, what in ((b"PK\x03\x04", "a zip archive or an Excel workbook"),
                        (b"\x1f\x8b", "a gzip-compressed file"), (b"%PDF", "a PDF")):  # fmt: skip
        if data.startswith(magic):
            msg = f"The file is {what}, not a CSV text file."
            raise InputError(msg, file=name, hint="unpack it or save it as CSV first.")
    head = data[:65536]
    nuls = head.count(b"\x00")
    if nuls and _utf16_without_bom(head):
        msg = "The file is UTF-16 text without a byte-order mark (every other byte is 0)."
        raise InputError(
            msg, file=name, hint="save it as CSV UTF-8 (or as Unicode text with a BOM)."
        )
    controls = len(head) - len(head.translate(None, _CONTROLS)) - nuls
    many = controls > max(8, len(head) // 100) and not _text_with_controls(head, nuls)
    if many or (nuls and not _few_nul_lines(head)):
        msg = "The file holds binary data, not CSV text."
        raise InputError(msg, file=name, hint=hint)
    return ""


def _text_with_controls(head: bytes, nuls: int) -> bool:
    """Whether the first bytes of a file holding many control characters are text all the same
    (a log with a terminal's colour codes, ESC [ 31 m, on every row): no NUL byte, valid UTF-8
    (but for a character cut at the end) and lines. Binary data (an image, a compressed file)
    holds NUL bytes and is not UTF-8."""
    if nuls or b"\n" not in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


#: Lines of a text file that may hold NUL bytes: at most one in this many lines of its first
#: 64 KiB (or 8 lines, as many as the binary test's control characters, yet fewer than half
#: the lines), never the header, for the file to be read with the rows on those lines rejected
#: (:func:`_reject_nul_rows`): heuristic of this product. A copy or a crash leaves a few
#: damaged lines (or a run of NULs) in a text file; a binary file holds NULs throughout.
NUL_LINE_SHARE = 100


def _few_nul_lines(head: bytes) -> bool:
    """Whether the NUL bytes of ``head`` sit on few of its lines, none of them the first
    (:data:`NUL_LINE_SHARE`)."""
    lines = head.split(b"\n")
    if b"\x00" in lines[0]:
        return False
    with_nul = sum(1 for line in lines if b"\x00" in line)
    return with_nul <= max(8, len(lines) // NUL_LINE_SHARE) and 2 * with_nul < len(lines)


def _utf16_without_bom(head: bytes) -> bool:
    """Whether ``head`` reads as UTF-16 text without a byte-order mark: NUL bytes at most of
    the even or of the odd positions (the high bytes of ASCII characters)."""
    k = len(head) // 2 * 2
    if k < 8:
        return False
    even, odd = head[0:k:2].count(0), head[1:k:2].count(0)
    return max(even, odd) > 0.4 * (k // 2) and min(even, odd) < 0.05 * (k // 2)


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
    start = text[:4096].splitlines()[:-1]  # whole lines (the last may be cut)
    header = next((ln for ln in start if ln.strip()), None)
    if header is not None:  # one candidate (or none) needs no sample
        found = [d for d in _DELIMITERS if header.count(d) > 0]
        if len(found) == 1:
            return found[0]
    sample_lines = [ln for ln in text[:200_000].splitlines() if ln.strip()]
    sample_lines = sample_lines[: TITLE_SEARCH_RECORDS + 60]
    # a first line without any delimiter (a title above the table, :func:`_below_title`):
    # the table below it decides
    titled = next(
        (
            i
            for i, ln in enumerate(sample_lines[:TITLE_SEARCH_RECORDS])
            if any(d in ln for d in _DELIMITERS)
        ),
        0,
    )
    sample_lines = sample_lines[titled:]
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


_FIELD_LIMIT_LOCK = threading.Lock()


def _split(text: str, delim: str, name: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Parse CSV text into (header, records, start line of each record; header is line 1)."""
    # the csv module refuses fields over 128 KiB (a whole file failed on one long note): no
    # field is longer than the text, so that limit is raised to it (process-wide, so only
    # ever raised, under a lock: files are split side by side in threads)
    with _FIELD_LIMIT_LOCK:
        if len(text) >= csv.field_size_limit():
            csv.field_size_limit(len(text) + 1)
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


@functools.lru_cache(maxsize=4096)  # a few header names, asked for again by every file
def _normalise(name: str) -> str:
    # accents folded first, so "Catégorie" is "categorie" and "Längengrad" "langengrad"
    folded = unicodedata.normalize("NFKD", name.replace("\ufeff", "").replace("ß", "ss"))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", "_", folded.strip().lower()).strip("_")


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


# A plain decimal number (no thousands separator, no decimal comma). Values of this form are
# converted by Arrow's cast, which reads them exactly as pandas.to_numeric does (both round
# correctly); everything else goes through the pandas path below.
_PLAIN_NUMBER = r"^[+-]?(?:\d{1,15}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$"


_NAN_TEXT = pa.scalar("nan", pa.string())

#: The longest value :func:`_short_decimals` reads: with at most 15 bytes a number has at most
#: the 15 digits before its point that :data:`_PLAIN_NUMBER` allows.
_SHORT_NUMBER = 15


def _short_decimals(arr: pa.Array) -> np.ndarray | None:
    """What :func:`_to_float` makes of a string array whose values are all blank or decimals
    Arrow's cast reads, each of at most :data:`_SHORT_NUMBER` bytes of digits, point and minus
    (a coordinate column); None for any other array.

    Such a value is a plain number (:data:`_PLAIN_NUMBER`): Arrow reads a number only whole, its
    digits before the point at most 15, and no exponent without an ``e``. So the cast of the
    values, blanks as NaN, is :func:`_to_float`'s own, without matching each value with the
    pattern first.
    """
    n = len(arr)
    if not n or arr.null_count or not pa.types.is_string(arr.type):
        return None
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offs)
    if int(lengths.max()) > _SHORT_NUMBER:
        return None
    if offs[-1] > offs[0]:
        data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0] : offs[-1]]
        # minus, point, slash, digits are bytes 45-57: any but the slash (45 + 2)
        above = data - np.uint8(45)  # wraps round below 45
        if not (above <= 12).all() or (above == 2).any():
            return None
    blank = lengths == 0
    if blank.any():
        arr = pc.if_else(pa.array(~blank), arr, _NAN_TEXT)
    try:
        values = pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:  # not a number, such as "1.2.3" or "-"
        return None
    return values.to_numpy(zero_copy_only=False, writable=True)


def _to_float(s: pd.Series | pa.Array, *, degrees: bool) -> np.ndarray:
    """Cleaned text (pandas or Arrow strings) to float (NaN where not a number).

    Decimal commas are accepted ("53,4"); for non-degree values (eastings, weights) a comma
    followed by groups of exactly three digits ("530,000") is read as a thousands separator.
    """
    n = len(s)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    if isinstance(s, pa.Array):
        arr = s
        quick = _short_decimals(arr)
        if quick is not None:
            return quick
    else:
        arr = pa.array(s, type=pa.large_string(), from_pandas=True)
    plain = pc.fill_null(pc.match_substring_regex(arr, _PLAIN_NUMBER), False)
    if not arr.null_count and pc.all(pc.or_(plain, pc.equal(arr, ""))).as_py():
        # every value plain or blank (a coordinate column): one cast, blanks read as NaN
        values = pc.cast(pc.if_else(plain, arr, _NAN_TEXT), pa.float64())
        return values.to_numpy(zero_copy_only=False, writable=True)
    plain_np = plain.to_numpy(zero_copy_only=False)
    if plain_np.any():
        out[plain_np] = pc.cast(pc.filter(arr, plain), pa.float64()).to_numpy(zero_copy_only=False)
    # blanks are NaN (as pandas.to_numeric makes them): only the other values go to pandas
    blank = pc.fill_null(pc.equal(arr, ""), False).to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~plain_np & ~blank)
    if len(rest):
        if isinstance(s, pa.Array):
            t = arr.take(pa.array(rest)).to_pandas().astype(str)
        else:
            t = s.iloc[rest]
        if t.str.contains(",", regex=False).any():
            if not degrees:
                thousands = t.str.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
                t = t.mask(thousands, t.str.replace(",", "", regex=False))
            t = t.str.replace(r"^([+-]?\d+),(\d+)$", r"\1.\2", regex=True)
        values = np.asarray(pd.to_numeric(t, errors="coerce"), dtype=float)
        if degrees and np.isnan(values).any():
            values = np.where(np.isnan(values), _sexagesimal(t), values)
        out[rest] = values
    return out


#: Degrees as written by hand or by GPS units: ``53.4°N``, ``2°58'30"W``, ``N 53 24.5``,
#: ``-2° 58.5'`` (degrees, then minutes, then seconds, a hemisphere letter before or after;
#: a decimal comma taken as a point).
_DMS = re.compile(
    r"^\s*(?P<h1>[NSEWnsew])?\s*(?P<sign>[+-])?\s*(?P<d>\d+(?:[.,]\d+)?)\s*(?:°|º|deg|d)?\s*"
    r"(?:(?P<m>\d+(?:[.,]\d+)?)\s*(?:'|′|’|m|min)?\s*)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)\s*(?:\"|″|''|s|sec)?\s*)?(?P<h2>[NSEWnsew])?\s*$"
)


def _sexagesimal(t: pd.Series) -> np.ndarray:
    """Degrees written with a degree sign, minutes, seconds or a hemisphere letter as decimal
    degrees (S and W negative; NaN where the text is none of these, or minutes or seconds
    reach 60). A bare number is not read here (pandas reads it)."""
    out = np.full(len(t), np.nan)
    for i, text in enumerate(t.tolist()):
        m = _DMS.match(str(text))
        if m is None or not re.search(r"[°º'′’\"″NSEWnsewdms]", str(text)):
            continue
        h1, h2 = m["h1"], m["h2"]
        if h1 and h2:
            continue
        parts = [float(x.replace(",", ".")) if x else 0.0 for x in (m["d"], m["m"], m["s"])]
        whole = [x is not None and x.isdigit() for x in (m["d"], m["m"])]
        if parts[1] >= 60 or parts[2] >= 60 or (m["m"] and not whole[0]):
            continue  # minutes after fractional degrees (or seconds after fractional minutes)
        if m["s"] and not whole[1]:
            continue
        value = parts[0] + parts[1] / 60 + parts[2] / 3600
        if m["sign"] == "-" or (h1 or h2 or "").upper() in ("S", "W"):
            value = -value
        out[i] = value
    return out


_MISSING_ARROW = pa.array(sorted(MISSING_TOKENS), type=pa.string())


#: The longest missing-value token (:data:`MISSING_TOKENS`), in bytes: a longer value is none.
_TOKEN_MAX = max(len(t) for t in MISSING_TOKENS)


def _clean_already(arr: pa.Array) -> bool:
    """Whether :func:`_clean_arrow` leaves every value of a string array as it is: each blank,
    or longer than any missing-value token with its first and last bytes printable ASCII other
    than a space (so neither whitespace nor part of a multi-byte character). Coordinates,
    police.uk months, crime types and locations are, and so skip four Arrow passes."""
    n = len(arr)
    if not n or arr.null_count or not pa.types.is_string(arr.type):
        return False
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offs)
    filled = lengths > 0
    if (lengths[filled] <= _TOKEN_MAX).any():
        return False
    if not filled.any():
        return True
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    edges = np.concatenate([data[offs[:-1][filled]], data[offs[1:][filled] - 1]])
    return bool(((edges > 32) & (edges < 127)).all())


def _clean_arrow(arr: pa.Array) -> pa.Array:
    """:func:`_clean` in Arrow (the same kernels pandas' Arrow strings use)."""
    if _clean_already(arr):
        return arr
    t = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.is_in(pc.utf8_upper(t), value_set=_MISSING_ARROW), "", t)


#: What :func:`_without_controls` removes: ANSI escape sequences whole (a terminal's colour
#: codes, ESC [ 31 m) and every other C0 control character but tab, line feed and carriage
#: return (a line break inside a quoted field is the text's own) and NUL (a row holding NUL
#: bytes is rejected as damaged: :func:`_reject_nul_rows`).
_CONTROL_TEXT = r"\x1b\[[0-?]*[ -/]*[@-~]|[\x01-\x08\x0b\x0c\x0e-\x1f]"


def _without_controls(arr: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """``arr`` (text) without ANSI escape sequences and C0 control characters other than tab,
    line feed, carriage return and NUL (:data:`_CONTROL_TEXT`), and which values held some (None
    when none did: the array is returned as it is, after one look at its bytes)."""
    text = pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
    if not len(arr) or not text or arr.buffers()[2] is None:
        return arr, None
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    if not ((data < 32) & (data != 9) & (data != 10) & (data != 13) & (data != 0)).any():
        return arr, None
    out = pc.replace_substring_regex(arr, _CONTROL_TEXT, "")
    changed = pc.fill_null(pc.not_equal(arr, out), False).to_numpy(zero_copy_only=False)
    if not changed.any():  # the bytes were outside the slice the array views
        return arr, None
    return out, np.asarray(changed, dtype=bool)


def _control_notes(p: _Parsed, col: _ColumnCache) -> list[str]:
    """A note on the rows whose fields read held control characters, removed: how many, which
    columns, the first line (:func:`_without_controls`)."""
    rows = np.zeros(p.table.num_rows, dtype=bool)
    names = []
    for name, c in col.cols.items():
        if c.controls is not None:
            rows |= c.controls[c.codes]
            names.append(f"'{name}'")
    if not names:
        return []
    first = int(p.lines[np.flatnonzero(rows)[0]])
    return [
        f"{p.name}: {int(rows.sum())} row(s) held control characters (ANSI escape sequences "
        f"such as colour codes, or other characters below the space but tab and line breaks) "
        f"in {', '.join(names)}, first on line {first}; they were removed from those fields "
        "(the rows listed as rejected keep them as written)."
    ]


class _Col:
    """One text column of a file, dictionary-encoded: every cleaning and parsing step runs once
    per distinct value (a police.uk month column has one; a coordinate column a few thousand
    snapped map points) and is spread back to the rows by the codes."""

    def __init__(self, arr: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        # Arrow's read encodes a column as dictionary_encode does (:func:`_first_seen`)
        enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
        self.codes = enc.indices.to_numpy(zero_copy_only=False)
        # per distinct value: it held control characters, removed (:func:`_without_controls`)
        values, self.controls = _without_controls(enc.dictionary)
        self.clean_arrow = _clean_arrow(values)
        self._clean: pd.Series | None = None
        self._blank: np.ndarray | None = None
        self._floats: dict[bool, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def clean(self) -> pd.Series:
        """The cleaned distinct values (pandas strings)."""
        if self._clean is None:
            self._clean = self.clean_arrow.to_pandas().astype(str)
        return self._clean

    def blank(self) -> np.ndarray:
        """Per row: the cell is blank or a missing-value token."""
        if self._blank is None:
            blank_u = pc.equal(self.clean_arrow, "").to_numpy(zero_copy_only=False)
            self._blank = np.asarray(blank_u, dtype=bool)[self.codes]
        return self._blank

    def floats(self, *, degrees: bool) -> np.ndarray:
        if degrees not in self._floats:
            self._floats[degrees] = _to_float(self.clean_arrow, degrees=degrees)[self.codes]
        return self._floats[degrees]

    def text(self, rows: np.ndarray) -> np.ndarray:
        """The cleaned text of the given rows (object array), for messages."""
        return np.asarray(
            self.clean_arrow.take(pa.array(self.codes[rows])).to_pylist(), dtype=object
        )

    def quoted(self, rows: np.ndarray, tail: str) -> np.ndarray:
        """``'value' <tail>`` for the given rows."""
        return np.array(["'" + v + "' " + tail for v in self.text(rows)], dtype=object)


# --------------------------------------------------------------------------------------------
# Column detection
# --------------------------------------------------------------------------------------------


def _find(norm: dict[str, str], role: str, used: set[str]) -> str | None:
    for cand in _NAMES[role]:
        if cand in norm and norm[cand] not in used:
            return norm[cand]
    return None


# Words that mark a header as a crime type column when none of the known names is present
# ("Offence Subgroup", "MCI", "Crime Category Description", ...), and words that rule it out
# (codes, ids, counts, dates).
_TYPE_WORDS = {
    "offence",
    "offense",
    "offences",
    "offenses",
    "crime",
    "crimes",
    "mci",
    "ucr",
    "nibrs",
}
_TYPE_GROUP_WORDS = {"category", "type", "group", "subgroup", "class", "desc", "description",
                     "name", "indicator"}  # fmt: skip
_NOT_TYPE_WORDS = {"id", "code", "cd", "number", "num", "no", "nbr", "date", "dt", "time", "tm",
                   "datetime", "timestamp",
                   "ref", "reference", "count", "year", "month", "hour", "day", "status",
                   "outcome", "location", "address", "premises", "premise"}  # fmt: skip


def _find_crime_type(norm: dict[str, str], used: set[str]) -> str | None:
    """A crime type column by its words, when no known name matched."""
    for key, col in norm.items():
        if col in used:
            continue
        words = set(key.split("_"))
        if words & _NOT_TYPE_WORDS:
            continue
        if words & _TYPE_WORDS or (words & {"category"} and len(words) <= 2):
            return col
    for key, col in norm.items():
        words = set(key.split("_"))
        if col not in used and words & _TYPE_GROUP_WORDS and words & {"major", "minor"}:
            return col
    return None


# Words that mark a header as a report, update or end time rather than when the incident happened.
_NOT_WHEN_WORDS = {"report", "reported", "rpt", "rptd", "updated", "update", "created",
                   "modified", "entered", "end", "to", "cleared", "closed", "received", "upload",
                   "uploaded", "id", "year", "month", "day", "hour", "minute", "dow", "doy",
                   "week"}  # fmt: skip


def _find_when(norm: dict[str, str], role: str, used: set[str]) -> str | None:
    """A date-time, date or time column by its words, when no known name matched: the first
    header holding "date" and "time" ("dispatch_date_time"), "date" ("dispatch_date") or "time"
    ("dispatch_time"), not a report or update time (:data:`_NOT_WHEN_WORDS`)."""
    for key, col in norm.items():
        words = set(key.split("_"))
        if col in used or words & _NOT_WHEN_WORDS:
            continue
        timed = "time" in words or "datetime" in words or "timestamp" in words
        dated = "date" in words or "datetime" in words or "timestamp" in words
        if (role == "datetime" and dated and timed) or (role == "date" and dated and not timed):
            return col
        if role == "time" and timed and not dated:
            return col
    return None


def _detect(
    header: list[str],
    floats: Callable[..., np.ndarray],
    n: int,
    columns: Mapping[str, str | None],
    name: str,
    grid: bool = False,
) -> tuple[str, dict[str, str]]:
    """Return (format, {role: column}) for one file.

    ``floats(column, degrees=True)`` gives a column's values as numbers (NaN where not a
    number; ``degrees=False`` reads "530,000" as thousands); it is only called for plain x/y
    columns, whose meaning (lon/lat or British National Grid) is decided
    from their values. ``n`` is the number of well-formed rows. With ``grid`` (a coordinate CRS
    given) easting/northing and x/y columns not holding longitude/latitude are in that CRS.
    """
    norm: dict[str, str] = {}
    for h in header:
        norm.setdefault(_normalise(h), h)
    mapping, disabled = _given_columns(header, norm, columns, name)
    fmt = _coordinate_columns(norm, mapping, disabled, floats, n, grid)
    if fmt == FORMAT_OTHER_GRID:
        cx, cy = mapping["easting"], mapping["northing"]
        x, y = floats(cx), floats(cy)
        med = f"median ({np.nanmedian(x):.0f}, {np.nanmedian(y):.0f})"
        msg = (
            f"The columns '{cx}' and '{cy}' hold coordinates in a projected system ({med}) that "
            "is neither longitude/latitude nor British National Grid, and the file has no "
            "longitude/latitude columns."
        )
        raise InputError(msg, file=name, column=cx, hint=_CRS_HINT)
    if not fmt:
        msg = (
            "Cannot find the coordinate columns. The header is: "
            f"{', '.join(repr(h) for h in header)}."
        )
        hint = (
            "name them latitude/longitude (WGS84 degrees) or easting/northing (British National "
            "Grid metres, or another projected CRS given as --coordinate-crs / coordinate_crs="
            "), or say which they are: on the command line --column lon=NAME "
            "--column lat=NAME (or easting=/northing=), in the app the 'Map the columns' "
            "form, in Python columns={'lon': ..., 'lat': ...} or "
            "columns={'easting': ..., 'northing': ...}."
        )
        raise InputError(msg, file=name, hint=hint)
    police = _POLICE_UK_REQUIRED <= set(norm) and ({"falls_within", "reported_by"} & set(norm))
    if police and fmt == FORMAT_LATLON:
        fmt = FORMAT_POLICE_UK
    used = set(mapping.values())
    if not (set(columns) & {"date", "time", "datetime", *END_ROLES}):
        _window_columns(norm, mapping, used)
    for role in (
        "datetime", "date", "time", "hour", "month", "crime_type", "weight", "id", "location",
    ):  # fmt: skip
        if role in mapping or role in disabled:
            continue
        col = _find(norm, role, used)
        if col is None and role == "crime_type":
            col = _find_crime_type(norm, used)
        if col is None and role in ("datetime", "date", "time"):
            col = _find_when(norm, role, used)
        if col is not None:
            mapping[role] = col
            used.add(col)
    if not ({"date", "datetime"} & (set(mapping) | disabled)):
        _window_columns(norm, mapping, used, lone=True)
    return fmt, mapping


# The words that mark the start and the end of a time window in a header ("Committed From" /
# "Committed To", "First Committed" / "Last Committed", "Offence Start Date" / "Offence End
# Date", NYPD's CMPLNT_FR_DT / CMPLNT_TO_DT, German "Tatzeit von" / "bis", French "date début"
# / "fin", Spanish "desde" / "hasta"), start first.
_WINDOW_MARKERS = (
    ("from", "to"), ("from", "until"), ("fr", "to"), ("start", "end"), ("first", "last"),
    ("earliest", "latest"), ("begin", "end"), ("beginning", "end"), ("von", "bis"),
    ("debut", "fin"), ("desde", "hasta"), ("inicio", "fin"), ("van", "tot"), ("inizio", "fine"),
)  # fmt: skip
_WINDOW_DATE_WORDS = {"date", "dt", "datum", "tatdatum", "fecha", "data"}
_WINDOW_TIME_WORDS = {"time", "tm", "zeit", "uhrzeit", "tatzeit", "hora", "heure", "ora", "tijd"}
# Other words a window's column may hold: what happened, in the languages of the date words.
_WINDOW_WORDS = {
    "datetime", "timestamp", "committed", "commit", "occurred", "occurrence", "occur", "occ",
    "offence", "offense", "incident", "crime", "event", "cmplnt", "complaint", "of", "the",
    "and", "tat", "tatzeitraum", "hecho", "hechos", "faits", "fait", "des", "du", "de",
    "reato", "delito", "misdrijf",
}  # fmt: skip


def _window_kind(words: list[str]) -> str | None:
    """The start role (``datetime``, ``date`` or ``time``) a window column's words other than
    its marker make it, None when a word is not about when ("First Name")."""
    rest = set(words)
    if not rest <= _WINDOW_WORDS | _WINDOW_DATE_WORDS | _WINDOW_TIME_WORDS:
        return None
    dated = bool(rest & _WINDOW_DATE_WORDS)
    timed = bool(rest & _WINDOW_TIME_WORDS)
    if rest & {"datetime", "timestamp"} or dated == timed:  # both, or neither: "Committed From"
        return "datetime"
    return "date" if dated else "time"


def _window_columns(
    norm: dict[str, str], mapping: dict[str, str], used: set[str], *, lone: bool = False
) -> None:
    """Find the start and end columns of a time window by their names (added to ``mapping``:
    the start as ``date``/``time``/``datetime``, the end as :data:`END_ROLES`).

    A start is a header with a start word (:data:`_WINDOW_MARKERS`), the end the same header with
    the end word in its place, the other words about when (:data:`_WINDOW_WORDS`): a pair of
    dates or date-times, with a pair of times beside a pair of dates. With ``lone`` (no date
    column found otherwise) a start without its end ("Committed From" alone) is the date column.
    """
    pairs: dict[str, tuple[str, str | None]] = {}
    for key, col in norm.items():
        if col in used:
            continue
        words = key.split("_")
        for i, w in enumerate(words):
            for start, end in _WINDOW_MARKERS:
                if w != start:
                    continue
                kind = _window_kind(words[:i] + words[i + 1 :])
                if kind is None:
                    continue
                end_key = "_".join([*words[:i], end, *words[i + 1 :]])
                end_col = norm.get(end_key)
                if end_col is not None and end_col not in used and not lone:
                    pairs.setdefault(kind, (col, end_col))
                elif lone and len(words) > 1:  # a bare "From" says nothing of what
                    pairs.setdefault(kind, (col, None))
    if "datetime" in pairs:
        pairs.pop("date", None)
        pairs.pop("time", None)
    if "date" not in pairs and "datetime" not in pairs:
        # a time window needs the day: a pair of times ("Time From" / "Time To") is one on
        # the date column found by its name (_settle_date_roles drops it without one)
        if lone or "time" not in pairs or pairs["time"][1] is None:
            return
    for kind, (start_col, end_col) in pairs.items():
        mapping[kind] = start_col
        used.add(start_col)
        if end_col is not None:
            mapping[f"{kind}_end"] = end_col
            used.add(end_col)


def _given_columns(
    header: list[str], norm: dict[str, str], columns: Mapping[str, str | None], name: str
) -> tuple[dict[str, str], set[str]]:
    """The roles the caller mapped (``columns=``): ({role: column}, roles mapped to None).

    A name matches a header cell exactly, else after normalising both (case, punctuation).
    """
    mapping: dict[str, str] = {}
    disabled: set[str] = set()
    for role, col in columns.items():
        if col is None or col == "":
            disabled.add(role)
        elif col in header:
            mapping[role] = col
        elif _normalise(col) in norm:
            mapping[role] = norm[_normalise(col)]
        else:
            msg = (
                f"The column {col!r} given for {role!r} is not in the file. "
                f"Its header is: {', '.join(header)}."
            )
            raise InputError(
                msg, file=name, hint="pass columns= with names exactly as in the header."
            )
    return mapping, disabled


def _coordinate_columns(
    norm: dict[str, str],
    mapping: dict[str, str],
    disabled: set[str],
    floats: Callable[..., np.ndarray],
    n: int,
    grid: bool = False,
) -> str:
    """Find the coordinate columns (added to ``mapping``); return the format, "" if none.

    Columns the caller gave win; then known latitude/longitude names, then easting/northing
    names, then plain x/y pairs read as lon/lat or British National Grid from their values
    (with ``grid``: easting/northing and x/y pairs not holding lon/lat are in the given CRS).
    """
    east_north = FORMAT_GRID if grid else FORMAT_BNG
    if {"lon", "lat"} <= set(mapping):
        return FORMAT_LATLON
    if {"easting", "northing"} <= set(mapping):
        return east_north
    if set(mapping) & {"lon", "lat", "easting", "northing"}:
        msg = "columns= must name both lon and lat, or both easting and northing."
        raise ParameterError(msg)
    used = set(mapping.values())
    lat, lon = _find(norm, "lat", used), _find(norm, "lon", used)
    east, north = _find(norm, "easting", used), _find(norm, "northing", used)
    if lat and lon and not {"lat", "lon"} & disabled:
        mapping.update(lat=lat, lon=lon)
        return FORMAT_LATLON
    if east and north:
        mapping.update(easting=east, northing=north)
        return east_north
    for xn, yn in _XY_PAIRS:
        if xn in norm and yn in norm:
            xc, yc = norm[xn], norm[yn]
            kind = _xy_kind(floats(xc), floats(yc)) if n else None
            if kind is None and n:  # "530,000": a thousands separator, not a decimal comma
                kind = "bng" if _xy_kind(floats(xc, False), floats(yc, False)) == "bng" else None
            if kind == "lonlat":
                mapping.update(lon=xc, lat=yc)
                return FORMAT_LATLON
            if kind == "bng" or grid:
                mapping.update(easting=xc, northing=yc)
                return east_north
            if kind == "grid":
                mapping.update(easting=xc, northing=yc)
                return FORMAT_OTHER_GRID
            return ""
    return ""


def _settle_date_roles(
    mapping: dict[str, str], given: Mapping[str, str | None], col: Callable[[str], _Col]
) -> list[str]:
    """Resolve the date, time and hour columns; return notes on what was decided.

    A column detected as ``time`` that holds whole timestamps (``2010-01-01T06:00:00Z``) is read
    as the date and time. A combined date-time column wins over a separate date; a time-of-day
    column wins over an hour column; time and hour columns need a date.
    """
    notes: list[str] = []
    if "time" in mapping and "time" not in given and "datetime" not in given:
        values = col(mapping["time"]).clean
        values = values[values != ""]
        if len(values):
            dated = values.str.contains(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")
            if float(dated.mean()) >= 0.5:
                notes.append(
                    f"the column '{mapping['time']}' holds dates with times; it is read as the "
                    "date and time of each incident"
                )
                if "date" in mapping and "date" not in given:
                    notes[-1] += f" (the column '{mapping['date']}' is not used)"
                    del mapping["date"]
                mapping["datetime"] = mapping.pop("time")
    if "datetime" in mapping and "date" in mapping:
        del mapping["date"]  # the combined column wins
    if "time" in mapping and "hour" in mapping:
        del mapping["hour"]
    for role in ("time", "hour"):
        if role in mapping and "date" not in mapping and "datetime" not in mapping:
            del mapping[role]
    ends = {start: mapping.pop(end) for end, start in END_ROLES.items() if end in mapping}
    if set(ends) == {"time"}:  # an end time alone: on the start's date (one date column)
        if {"date", "time"} <= set(mapping) and "datetime" not in mapping:
            mapping["time_end"] = ends["time"]
        return notes
    if ends and {"date", "datetime"} & set(mapping):  # the end's columns settled alike
        given_end = {start: given[end] for end, start in END_ROLES.items() if end in given}
        notes += _settle_date_roles(ends, given_end, col)
        mapping.update({f"{role}_end": c for role, c in ends.items()})
    return notes


def _xy_kind(x: np.ndarray, y: np.ndarray) -> str | None:
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
    if np.mean((np.abs(x) > 1000) & (np.abs(y) > 1000)) > 0.9:
        return "grid"  # metres (or feet) in a projected CRS other than British National Grid
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


#: The day/month orders ``date_order=`` takes: "auto" decides from the data and the region
#: (:func:`_day_first`); "day-first" or "month-first" is the user's, and a date that does not
#: read in it (a month above 12) is an unreadable date.
DATE_ORDERS = ("auto", "day-first", "month-first")

#: The earliest date read as true: heuristic of this product. No police record kept in a file
#: goes back further, and the zero date of spreadsheets (Excel and OLE's 1899-12-30) falls
#: before it; a date before it is a placeholder or a typing slip, not when an incident happened.
EARLIEST_DATE = np.datetime64("1900-01-01", "ns")

#: Days after the read a date may fall and still be read as true: heuristic of this product
#: (a date written in a time zone ahead of this machine's may be its tomorrow).
DAYS_AHEAD = 1


def latest_date() -> np.datetime64:
    """The latest date read as true: this machine's clock (UTC) plus :data:`DAYS_AHEAD` days.

    A row dated later (2099, a year typed wrong) did not happen yet; it is an unreadable date.
    """
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    return (now + pd.Timedelta(days=DAYS_AHEAD)).to_datetime64().astype("datetime64[ns]")


def _latest_for(info: FileInfo, latest: np.datetime64 | None) -> np.datetime64:
    """The latest date a file's rows may carry: ``latest`` (default :func:`latest_date`), but
    none for synthetic data (a force reported as :data:`~hotspots.incidents.SYNTHETIC_FORCE`:
    the incidents of an operation simulated for a plan that starts next week lie ahead)."""
    if SYNTHETIC_FORCE in info.forces:
        return _NS_LAST.astype("datetime64[ns]")
    return latest_date() if latest is None else latest


def _cannot_be_true(dt: np.ndarray, latest: np.datetime64) -> np.ndarray:
    """Per value: a date before :data:`EARLIEST_DATE` or after ``latest`` (NaT: False)."""
    return (dt < EARLIEST_DATE) | (dt > latest)  # NaT compares False


#: How a day/month order given is named in messages.
_ORDER_GIVEN = {
    "day-first": "date_order='day-first' (--date-order day-first)",
    "month-first": "date_order='month-first' (--date-order month-first)",
}


def _order_given(values: pd.Series, day_first: bool) -> np.ndarray:
    """Per (cleaned) value: a d/m or m/d date whose month, in the order given, is above 12 (and
    whose other field is not), so it reads only in the other order."""
    m = values.str.extract(r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}")
    a = pd.to_numeric(m[0], errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(m[1], errors="coerce").to_numpy(dtype=float)
    month, day = (b, a) if day_first else (a, b)
    with np.errstate(invalid="ignore"):
        return (month > 12) & (day <= 12)


#: The dates a nanosecond timestamp holds (whole days inside pandas' Timestamp.min..max);
#: pandas and Arrow parse years 1-9999, which a cast to nanoseconds would silently wrap round
#: (year 1 became 1754), so dates outside are unreadable instead.
_NS_FIRST, _NS_LAST = np.datetime64("1677-09-22", "s"), np.datetime64("2262-04-10", "s")


def _to_ns(values: np.ndarray) -> np.ndarray:
    """Datetimes of any unit as datetime64[ns], NaT where outside :data:`_NS_FIRST` ..
    :data:`_NS_LAST` (never wrapped round)."""
    if values.dtype == np.dtype("datetime64[ns]"):
        return values
    inside = (values >= _NS_FIRST) & (values <= _NS_LAST)
    if inside.all():
        return values.astype("datetime64[ns]")
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[inside] = values[inside].astype("datetime64[ns]")
    return out


def _strptime(s: pd.Series, fmt: str) -> np.ndarray:
    """``pandas.to_datetime(s, format=fmt, errors="coerce")`` as datetime64[ns], fast.

    ISO formats go to pandas' own fast parser. Others are parsed by Arrow, and a value is taken
    from Arrow only when printing the result with the same format gives back the text exactly
    (zero-padded, valid day of the month: Arrow would roll 30 February over to March); the rest
    go to pandas, so every value is read exactly as pandas reads it.
    """
    n = len(s)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if n == 0:
        return out
    todo = np.ones(n, dtype=bool)
    if not fmt.startswith("%Y-%m-%d") and "%f" not in fmt:
        arr = pa.array(s, type=pa.large_string(), from_pandas=True)
        try:
            parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
            back = pc.strftime(parsed, format=fmt)
            same = pc.fill_null(pc.equal(back, arr), False).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            same = np.zeros(n, dtype=bool)
        if same.any():
            vals = pc.filter(parsed, pa.array(same)).to_numpy(zero_copy_only=False)
            out[same] = _to_ns(vals)
            todo &= ~same
    if todo.any():
        idx = np.flatnonzero(todo)
        parsed_pd = pd.to_datetime(s.iloc[idx], format=fmt, errors="coerce")
        good = parsed_pd.notna().to_numpy()
        if good.any():
            out[idx[good]] = _to_ns(parsed_pd[good].to_numpy())
    return out


def _parse_datetimes(
    s: pd.Series,
    day_first: bool,
    sample: pd.Series | None = None,
    latest: np.datetime64 | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse cleaned date/datetime text. Returns (datetime64[ns], has_time, ok) arrays.

    Formats are tried in order of how well they fit a sample of the values (``sample``, by
    default the first 300 non-blank values); each value gets the first format that reads it.
    A two-digit year is the latest such year not after ``latest`` (:func:`latest_date`; '50'
    is 1950, not 2050), so no date of the past is read into the future.
    """
    n = len(s)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has_time = np.zeros(n, dtype=bool)
    ok = np.zeros(n, dtype=bool)
    present = (s != "").to_numpy()
    if not present.any():
        return out, has_time, ok
    s = _strip_tz(s)
    order = ("%d", "%m") if day_first else ("%m", "%d")
    formats = (
        list(_DATE_FORMATS_ISO)
        + [(f.format(A=order[0], B=order[1]), t) for f, t in _DATE_FORMATS_DM]
        + list(_DATE_FORMATS_YMD_12H)
    )
    sample = s[present].iloc[:300] if sample is None else _strip_tz(sample[sample != ""])
    hits = [
        int(pd.to_datetime(sample, format=f, errors="coerce").notna().sum()) for f, _ in formats
    ]
    ranked = [formats[i] for i in np.argsort(-np.asarray(hits), kind="stable")]
    todo = present.copy()
    for fmt, timed in ranked:
        if not todo.any():
            break
        idx = np.flatnonzero(todo)
        parsed = _strptime(s.iloc[idx], fmt)
        if latest is not None and "%y" in fmt:
            parsed = _century_back(parsed, latest)
        good = ~np.isnat(parsed)
        if good.any():
            gi = idx[good]
            out[gi] = parsed[good]
            has_time[gi] = timed
            ok[gi] = True
            todo[gi] = False
    return out, has_time, ok


def _century_back(dt: np.ndarray, latest: np.datetime64) -> np.ndarray:
    """Dates read from a two-digit year with those after ``latest`` a century earlier (Python's
    pivot reads '50' as 2050)."""
    ahead = dt > latest
    if not ahead.any():
        return dt
    out = dt.copy()
    out[ahead] = (pd.DatetimeIndex(dt[ahead]) - pd.DateOffset(years=100)).to_numpy()
    return out


def _strip_tz(s: pd.Series) -> pd.Series:
    """Drop a time-zone suffix (``Z``, ``+01:00``) after a time: times are read as written."""
    has = s.str.contains(r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)$")
    if not has.any():
        return s
    return s.mask(has, s.str.replace(_TZ_SUFFIX, r"\1", regex=True))


def _parse_times(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a time-of-day column: HH:MM[:SS][ am/pm], HHMM or French 14h30. Returns
    (timedelta64[ns], ok)."""
    m = s.str.extract(r"^(\d{1,2})[:hH]?(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp]\.?[Mm]\.?)?$")
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


def _parse_hours(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse an hour-of-day column (whole hours 0-23, "21" or "21.0"). Returns (timedelta64, ok)."""
    whole = s.str.fullmatch(r"\d{1,2}(?:\.0*)?").fillna(False).to_numpy(dtype=bool)
    h = pd.to_numeric(s.where(whole, ""), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        ok = whole & np.isfinite(h) & (h >= 0) & (h < 24)
    td = np.where(ok, np.nan_to_num(h) * 3600, 0)
    return (td * 1e9).astype("int64").astype("timedelta64[ns]"), ok


def _parse_day_fractions(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a time column written as fractions of a day ("0.25" is 06:00: a spreadsheet's time
    cells without a time format). Returns (timedelta64 to the nearest second, ok)."""
    frac = pd.to_numeric(s.where(s != "", None), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(frac) & (frac >= 0) & (frac < 1)
    seconds = np.minimum(np.round(np.where(ok, frac, 0) * 86400), 86399)
    return (seconds * 1e9).astype("int64").astype("timedelta64[ns]"), ok


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
        months = _to_ns(parsed.to_numpy().astype("datetime64[M]"))
        good = ~np.isnat(months)
        gi = idx[good]
        out[gi] = months[good]
        ok[gi] = True
        todo[gi] = False
    return out, ok


def _months_of(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_parse_months` of a month column's distinct values, remembered for a few values
    (police.uk files of one month each: the same month in every force's file)."""
    if len(values) > 16:
        return _parse_months(values.to_pandas().astype(str))
    dt, ok = _months_remembered(tuple(values.to_pylist()))
    return dt.copy(), ok.copy()


@functools.lru_cache(maxsize=256)
def _months_remembered(values: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    return _parse_months(pd.Series(values, dtype=str))


def _month_start(dt: np.ndarray) -> np.ndarray:
    return dt.astype("datetime64[M]").astype("datetime64[ns]")


# --------------------------------------------------------------------------------------------
# Parsing one file: Arrow's multi-threaded reader, the csv module only where Arrow cannot say
# on which line a record starts
# --------------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    """One file split into fields: well-formed rows as Arrow text columns, malformed rows aside."""

    name: str
    sha256: str
    encoding: str
    delimiter: str
    header: list[str]  # unique column names
    table: pa.Table  # well-formed rows, one string column per header name
    lines: np.ndarray  # int64: physical line on which each row of ``table`` starts (header = 1)
    malformed: list[tuple[int, list[str]]]  # (line, fields) of rows with the wrong field count
    parser: str = "arrow"
    # (each record's line with its line break, the record of each row of ``table``, the
    # delimiter) when every record is one line without quotes; None otherwise
    line_text: tuple[pa.Array, np.ndarray, str] | None = None
    # every row ended with one empty field more than the header (a delimiter ending each line),
    # read without it (:func:`_without_trailing_field`)
    trailing_field: bool = False
    # (lines above the column names read as a title, not rows; the title's text): see
    # :func:`_below_title`
    title: tuple[int, str] | None = None
    # the file ends mid-row: its last record is short of fields and no line break ends it
    cut_short: bool = False

    @property
    def n_rows(self) -> int:
        return len(self.lines) + len(self.malformed)


def _is_blank(fields: list[str]) -> bool:
    return not fields or (len(fields) == 1 and not fields[0].strip())


def _count_lines(data: bytes, end: int) -> int:
    """Physical lines in ``data[:end]`` (which ends without a line break), as the csv module
    counts them: ``\\n``, ``\\r`` and ``\\r\\n`` each end a line."""
    n = data.count(b"\n", 0, end) + 1
    if data.find(b"\r", 0, end) >= 0:
        n += data.count(b"\r", 0, end) - data.count(b"\r\n", 0, end)
    return n


def _line_records(
    data: bytes, buf: pa.Buffer, end: int, n_records: int, table: pa.Table | None = None
) -> tuple[int, pa.Array | None]:
    """Physical lines in ``data[:end]`` (:func:`_count_lines`), and when there are ``n_records``
    of them without quotes or carriage returns, each line with its line break (``buf`` is
    ``data``): every record is then its line, its fields the line split at the delimiter.

    ``table``: Arrow's read of every record (none malformed), whose field lengths then give
    where each line starts without scanning the bytes (:func:`_line_starts`)."""
    if data.find(b"\r", 0, end) >= 0:
        return _count_lines(data, end), None
    if table is not None and data.find(b'"', 0, end) < 0:
        offsets = _line_starts(table, end)
        if offsets is not None:
            records = pa.LargeBinaryArray.from_buffers(
                pa.large_binary(), n_records, [None, pa.py_buffer(offsets), buf]
            )
            return n_records, records
    breaks_at = np.flatnonzero(np.frombuffer(data, dtype=np.uint8, count=end) == 10)
    lines_total = len(breaks_at) + 1
    if lines_total != n_records or data.find(b'"', 0, end) >= 0:
        return lines_total, None
    offsets = np.concatenate([[0], breaks_at + 1, [end]]).astype(np.int64)
    records = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n_records, [None, pa.py_buffer(offsets), buf]
    )
    return lines_total, records


def _line_starts(table: pa.Table, end: int) -> np.ndarray | None:
    """Where each record of ``table`` (Arrow's read of bytes without quotes or carriage
    returns, the header its first row) starts and the last ends, when every record is one
    line: its fields' bytes, a delimiter between them and a line break after. None where the
    lengths do not add up to ``end`` bytes (then some line is empty, or not one record)."""
    n = table.num_rows
    size = np.full(n, table.num_columns, dtype=np.int64)  # the delimiters and the line break
    for column in table.columns:
        at = 0
        for chunk in column.chunks:
            k = len(chunk)
            if not k:
                continue
            if chunk.null_count:
                return None
            if pa.types.is_dictionary(chunk.type):
                values = chunk.dictionary
                lengths = _value_lengths(values)[chunk.indices.to_numpy(zero_copy_only=False)]
            else:
                lengths = _value_lengths(chunk)
            size[at : at + k] += lengths
            at += k
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    np.cumsum(size, out=offsets[1:])
    if int(offsets[-1]) != end + 1:  # the last line has no line break
        return None
    offsets[-1] = end
    return offsets


def _value_lengths(arr: pa.Array) -> np.ndarray:
    """Bytes of each value of a string array."""
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    return np.diff(offs).astype(np.int64)


_ARROW_THREADS = threading.local()


@contextlib.contextmanager
def _arrow_threads(on: bool) -> Iterator[None]:
    """Whether Arrow may split one file between threads (only when files are not already read
    side by side: more threads than cores only costs time)."""
    before = getattr(_ARROW_THREADS, "on", False)
    _ARROW_THREADS.on = on
    try:
        yield
    finally:
        _ARROW_THREADS.on = before


def _arrow_read(
    data: pa.Buffer, delim: str, ncol: int, *, threads: bool, coded: Collection[int] = ()
) -> tuple[pa.Table, list]:
    """Arrow's read of every field as text; the columns ``coded`` (indices) dictionary-encoded."""
    invalid: list[Any] = []

    def handler(row: Any) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(
            autogenerate_column_names=True, use_threads=threads, block_size=1 << 22
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delim,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
            invalid_row_handler=handler,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f"f{i}": _CODED if i in coded else pa.string() for i in range(ncol)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=False,  # decoded (and so checked) before
        ),
    )
    return table, invalid


_CODED = pa.dictionary(pa.int32(), pa.string())

#: Header names (normalised) of the columns a role may take but an id: dictionary-encoded once
#: Arrow has read them (:func:`_coded_columns`), as every check runs once per distinct value.
_CODED_NAMES = frozenset(
    {name for role, names in _NAMES.items() if role != "id" for name in names}
    | {name for pair in _XY_PAIRS for name in pair}
)


def _coded_columns(header: list[str]) -> list[int]:
    """The columns of ``header`` dictionary-encoded once read: those a role other than the id
    may take, by name (:data:`_CODED_NAMES`, or the words of :func:`_find_crime_type`)."""
    norm = {_normalise(h): h for h in reversed(header)}
    kind = _find_crime_type(norm, set())
    return [i for i, h in enumerate(header) if _normalise(h) in _CODED_NAMES or h == kind]


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with every dictionary-encoded column as plain text."""
    if not any(pa.types.is_dictionary(t) for t in table.schema.types):
        return table
    return pa.table(
        [c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c for c in table.columns],
        names=table.column_names,
    )


def _plain(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as one plain text array (decoded where dictionary-encoded)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column


def _one_value(arr: pa.Array) -> bool:
    """Whether a string array without nulls holds one value throughout (compared byte for
    byte, which is quicker than hashing each value to encode it)."""
    n = len(arr)
    if not n or arr.null_count or not pa.types.is_string(arr.type):
        return False
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    size = int(offs[1] - offs[0])
    if int(offs[-1] - offs[0]) != n * size or (np.diff(offs) != size).any():
        return False
    if not size:
        return True
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0] : offs[-1]]
    return bool((data[size:] == data[:-size]).all())  # each value the one before it


def _first_seen(column: pa.ChunkedArray, head: str) -> pa.Array:
    """A text column of Arrow's read without its header line (whose value is ``head``) as one
    dictionary array whose values come in order of first appearance, each used: what
    ``pyarrow.compute.dictionary_encode`` makes of the text. Plain text where the header's
    value is also a row's."""
    if not column.length():
        return column.combine_chunks()
    if column.num_chunks == 1 and _one_value(column.chunk(0)):  # police.uk's month
        arr = column.chunk(0)
        if arr[0].as_py() == head:  # the header's value is a row's too
            return column.combine_chunks()
        zeros = pa.array(np.zeros(len(arr), dtype=np.int32))
        return pa.DictionaryArray.from_arrays(zeros, arr.slice(0, 1))
    enc = pc.dictionary_encode(column)  # one memo table: the chunks share one dictionary
    chunks = [c for c in enc.chunks if len(c)]
    dictionary = chunks[-1].dictionary
    if any(len(c.dictionary) != len(dictionary) for c in chunks):  # not one dictionary
        enc = pc.dictionary_encode(column.combine_chunks())
        chunks, dictionary = [enc], enc.dictionary
    if pc.any(pc.equal(dictionary, head)).as_py():  # the header's value is a row's too
        return column.combine_chunks()
    if len(chunks) == 1:
        return chunks[0]
    indices = pa.concat_arrays([c.indices for c in chunks])
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _without_header(table: pa.Table, coded: Collection[int], header: list[str]) -> pa.Table:
    """Arrow's read of text (the header line its first row) without the header, the ``coded``
    columns (indices) dictionary-encoded as :func:`_first_seen` makes them."""
    rows = table.slice(1)
    return pa.table(
        [_first_seen(c, header[i]) if i in coded else c for i, c in enumerate(rows.columns)],
        names=rows.column_names,
    )


def _parse_fast(data: bytes, delim: str, header: list[str]) -> tuple | None:
    """Split UTF-8 bytes with Arrow. Returns (table, lines, malformed) or None when the records'
    line numbers cannot be known exactly this way (the caller then uses the csv module).

    Arrow and the csv module split fields alike (excel dialect: doubled quotes, a quote opens a
    quoted field only at its start, text after a closing quote is kept). Arrow skips empty lines
    without saying where; so the line of each record is derived only when the file's line count
    adds up: one line per record plus the line breaks inside quoted fields, and nothing else.
    Rows with the wrong number of fields are numbered by a single-threaded read, which tells
    where each one comes among the records.
    """
    ncol = len(header)
    end = len(data)
    while end and data[end - 1] in b"\r\n":  # trailing line breaks end no record
        end -= 1
    if ncol < 2 or not end or data.find(b"\x00", 0, end) >= 0:
        return None
    buf = pa.py_buffer(data).slice(0, end)
    try:
        threads = getattr(_ARROW_THREADS, "on", False)
        table, invalid = _arrow_read(buf, delim, ncol, threads=threads)
        if invalid:  # where bad rows are is known only to a single-threaded read
            table, invalid = _arrow_read(buf, delim, ncol, threads=False)
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows == 0 or table.num_columns != ncol:
        return None
    if [table.column(i)[0].as_py() for i in range(ncol)] != header:
        return None
    # Records in file order: Arrow numbers the bad ones (1-based, header = 1, empty lines not
    # counted); the good ones fill the other places in order.
    n_good = table.num_rows  # the header is row 0
    n_records = n_good + len(invalid)
    bad_at = np.array([row.number or 0 for row in invalid], dtype=np.int64)
    if len(invalid) and (
        (bad_at < 2).any() or (bad_at > n_records).any() or len(np.unique(bad_at)) != len(bad_at)
    ):
        return None
    is_bad = np.zeros(n_records, dtype=bool)
    is_bad[bad_at - 1] = True
    # Lines each record spans: one, plus the line breaks inside its quoted fields. The file's
    # line count must come out exactly (no empty line anywhere) for the numbering to be known.
    spans = np.ones(n_records, dtype=np.int64)
    lines_total, line_text = _line_records(data, buf, end, n_records, None if invalid else table)
    if line_text is not None:
        line_text = (line_text, np.flatnonzero(~is_bad)[1:])
    if lines_total != n_records:
        breaks = np.zeros(n_good, dtype=np.int64)
        for col in table.columns:
            text = _plain(col)
            for sub, sign in (("\n", 1), ("\r", 1), ("\r\n", -1)):
                k = pc.count_substring(text, sub).to_numpy(zero_copy_only=False)
                breaks += sign * k.astype(np.int64)
        spans[~is_bad] += breaks
        spans[is_bad] += np.array(
            [r.text.count("\n") + r.text.count("\r") - r.text.count("\r\n") for r in invalid],
            dtype=np.int64,
        )
        if int(spans.sum()) != lines_total:
            return None
    starts = np.concatenate([[1], 1 + np.cumsum(spans)[:-1]])
    malformed: list[tuple[int, list[str]]] = []
    for row, at in zip(invalid, bad_at, strict=True):
        fields = next(csv.reader(io.StringIO(row.text, newline=""), delimiter=delim), [])
        if not _is_blank(fields):  # a blank line is not a row, for the csv module either
            malformed.append((int(starts[at - 1]), fields))
    coded = _coded_columns(header)  # encoded once read: Arrow's own encoding costs more
    return _without_header(table, coded, header), starts[~is_bad][1:], malformed, line_text


def _parse_careful(
    text: str, delim: str, name: str
) -> tuple[list[str], pa.Table, np.ndarray, list]:
    """Split text with the csv module, record by record (any file Arrow cannot take)."""
    header, rows, lines = _split(text, delim, name)
    ncol = len(header)
    good = [r for r in rows if len(r) == ncol]
    line_arr = np.asarray(lines, dtype=np.int64)
    lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    ok = lens == ncol
    malformed = [(int(ln), r) for ln, r, g in zip(lines, rows, ok, strict=True) if not g]
    names = [f"f{i}" for i in range(ncol)]
    if good:
        cols = list(zip(*good, strict=True))
        table = pa.table(
            {c: pa.array(v, type=pa.string()) for c, v in zip(names, cols, strict=True)}
        )
    else:
        table = pa.table({c: pa.array([], type=pa.string()) for c in names})
    return header, table, line_arr[ok], malformed


def _parse_parquet(name: str, data: bytes) -> _Parsed:
    """A Parquet file as text columns, so every row goes through the CSV files' checks.

    Numbers print as Arrow casts them (shortest round-trip), timestamps as ``YYYY-MM-DD
    HH:MM:SS``, dates as ``YYYY-MM-DD``, nulls as blanks; a row's number is its position plus
    one, as if a header line came first (the first row is "line 2", like a CSV's).
    """
    import pyarrow.parquet as pq

    try:
        # the file's own reader, not the dataset one: it takes columns sharing a name
        table = pq.ParquetFile(pa.BufferReader(data)).read()
    except (pa.ArrowException, OSError) as exc:
        msg = f"Could not read the Parquet file ({exc})."
        raise InputError(msg, file=name, hint="give a Parquet file or a CSV file.") from exc
    header = _unique_header([str(c) for c in table.column_names])
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_timestamp(kind):
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(kind):
            column = pc.strftime(column, format="%Y-%m-%d")
        else:
            column = _parquet_text(column)
        columns.append(pc.fill_null(column, ""))
    text = pa.table(columns, names=header)
    # a GIS layer's rows are numbered by feature (:data:`hotspots.layers.FIRST_LINE_KEY`)
    first = 1 if (table.schema.metadata or {}).get(FIRST_LINE_KEY) == b"1" else 2
    lines = np.arange(first, text.num_rows + first, dtype=np.int64)
    sha = hashlib.sha256(data).hexdigest()
    return _Parsed(name, sha, "parquet", "", header, text, lines, [], "parquet")


def _parquet_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as text: Arrow's cast where it has one; lists, structs and maps as
    their Python text (``[1, 2]``), bytes as UTF-8 (invalid bytes replaced) -- never a column
    Arrow cannot cast failing the file (they are not coordinates or dates)."""
    try:
        return column.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        pass

    def text(v: Any) -> str | None:
        if v is None:
            return None
        if isinstance(v, bytes):
            return v.decode("utf-8", errors="replace")
        return str(v)

    return pa.chunked_array([pa.array([text(v) for v in column.to_pylist()], pa.string())])


def _parse_file(name: str, data: bytes) -> _Parsed:
    if data[:4] == b"PAR1":  # Parquet's magic bytes
        return _parse_parquet(name, data)
    sha = hashlib.sha256(data).hexdigest()
    head = _utf8_head(data, name)
    if head is not None:  # UTF-8 checked by Arrow, decoded only where the csv module reads it
        text, encoding = head
        fast = _try_fast(data, text, encoding)
    else:
        text, encoding = _decode(data, name)
        fast = _try_fast(data, text, encoding)
    if fast is not None:
        delim, header, (table, lines, malformed, line_text) = fast
        parser = "arrow"
    else:
        if head is not None:
            text = data.decode("utf-8-sig")
        delim = _sniff_delimiter(text)
        header, table, lines, malformed = _parse_careful(text, delim, name)
        parser = "csv"
        line_text = None
    del text
    if not any(h.replace("\ufeff", "").strip() for h in header):
        msg = (
            "The header row names no column: its first non-blank line holds only delimiters "
            f"({len(header)} empty names)."
        )
        raise InputError(
            msg,
            file=name,
            hint="the first line must name the columns; delete the lines above "
            "the header, or write the column names in it.",
        )
    trailing = _without_trailing_field(table, malformed, len(header))
    if trailing is not None:
        table, lines, malformed = trailing
        parser, line_text = "csv", None
    below = None if trailing is not None else _below_title(header, table, lines, malformed)
    title = None
    if below is not None:
        header, table, lines, malformed, title = below
        parser, line_text = "csv", None
    header = _unique_header(header)
    table = table.rename_columns(header)
    # the last record short of fields, after every row, with no line break ending the file:
    # a download that stopped mid-row
    cut_short = bool(
        malformed
        and len(malformed[-1][1]) < len(header)
        and (not len(lines) or malformed[-1][0] > int(lines[-1]))
        and not data.endswith((b"\n", b"\r"))
    )
    return _Parsed(
        name, sha, encoding, _DELIM_NAMES.get(delim, delim), header, table, lines, malformed,
        parser, line_text and (*line_text, delim), trailing is not None, title, cut_short,
    )  # fmt: skip


#: Records searched for the column names below a title (:func:`_below_title`): heuristic of
#: this product (a report's title block is a few lines, a records system's cover page some 25;
#: an export's header is never far down).
TITLE_SEARCH_RECORDS = 50


def _names_like(fields: Sequence[str]) -> bool:
    """Whether a record reads as column names: at least two named fields, at least half its
    fields named, and none of them a number (a data row holds its coordinates)."""
    named = [f.strip() for f in fields if f.strip()]
    if len(named) < 2 or 2 * len(named) < len(fields):
        return False
    for f in named:
        try:
            float(f.replace(",", "."))
        except ValueError:
            continue
        return False
    return True


def _half_named(fields: Sequence[str]) -> bool:
    """Whether at least half of a record's fields hold text (a row of a table, not a title line
    padded with delimiters)."""
    return 2 * sum(1 for f in fields if f.strip()) >= len(fields)


def _below_title(
    header: list[str], table: pa.Table, lines: np.ndarray, malformed: list[tuple[int, list[str]]]
) -> tuple[list[str], pa.Table, np.ndarray, list, tuple[int, str]] | None:
    """A file whose column names sit below a title (a report's heading, an export's "Crimes
    January 2024" line): (header, rows, lines, malformed rows, (title lines, title text)) read
    from the names' line on; None for any other file.

    Only a first line that cannot be the header is passed over: either no row has as many
    fields as it (a one- or two-field title above a wider table: every row is malformed), or
    fewer than half its fields are named (a title padded with delimiters to the table's width,
    as a spreadsheet saved as CSV writes it). The names are then the first record among the
    next :data:`TITLE_SEARCH_RECORDS` that reads as column names (:func:`_names_like`) and,
    in the first case, has the field count most malformed rows have. Lines above it are the
    title: not rows, said in a note; rows after it of another field count stay malformed. A
    line above the names that reads as a row (as wide as the table, at least half its fields
    filled; in the second case any such line) means there is no title: its rows are never
    passed over unsaid.
    """
    named = sum(1 for h in header if h.replace("\ufeff", "").strip())
    # a title of several lines without a delimiter: its lines after the first read as rows
    # of one field, all above the names (every row below them is then malformed)
    block = table.num_rows if len(header) == 1 and table.num_rows < TITLE_SEARCH_RECORDS else 0
    if (table.num_rows == 0 or block) and malformed:
        widths = collections.Counter(len(r) for _, r in malformed)
        width = widths.most_common(1)[0][0]
        if width <= len(header):
            return None
        at = next(
            (
                i
                for i, (_, r) in enumerate(malformed[: TITLE_SEARCH_RECORDS - block])
                if len(r) == width and _names_like(r)
            ),
            None,
        )
        if at is None or any(len(r) == width and _half_named(r) for _, r in malformed[:at]):
            return None  # a row of the table's width above the names: not a title, so no title
        if block and int(lines[block - 1]) > malformed[at][0]:
            return None  # a row of one field below the names: the table's, not the title's
        line, names = malformed[at]
        rows = [(ln, r) for ln, r in malformed[at + 1 :] if len(r) == width]
        bad = [(ln, r) for ln, r in malformed[at + 1 :] if len(r) != width]
        cols = list(zip(*(r for _, r in rows), strict=True)) or [()] * width
        out = pa.table({f"f{i}": pa.array(list(c), type=pa.string()) for i, c in enumerate(cols)})
        kept = np.array([ln for ln, _ in rows], dtype=np.int64)
    elif 2 * named < len(header) and table.num_rows:
        head = table.slice(0, TITLE_SEARCH_RECORDS).to_pylist()
        at = next((i for i, r in enumerate(head) if _names_like(list(r.values()))), None)
        if at is None or any(_half_named(list(r.values())) for r in head[:at]):
            return None  # a filled row above the names: rows, not a padded title
        line, names = int(lines[at]), [str(v) for v in head[at].values()]
        out, kept = table.slice(at + 1), lines[at + 1 :]
        bad = [(ln, r) for ln, r in malformed if ln > line]
    else:
        return None
    title = " ".join(h.strip() for h in header if h.strip())
    return names, out, kept, bad, (line - 1, title)


def _without_trailing_field(
    table: pa.Table, malformed: list[tuple[int, list[str]]], ncol: int
) -> tuple[pa.Table, np.ndarray, list] | None:
    """The rows of a file whose every row has one field more than the header, empty (each
    line ends with a delimiter, as some exports write), as well-formed rows without that field;
    None for any other file (a row without the extra field, or with text in it, keeps every
    row of the wrong length malformed)."""
    if table.num_rows or not malformed:
        return None
    if any(len(r) != ncol + 1 or r[-1].strip() for _, r in malformed):
        return None
    cols = list(zip(*(r[:ncol] for _, r in malformed), strict=True))
    names = table.column_names
    out = pa.table({c: pa.array(v, type=pa.string()) for c, v in zip(names, cols, strict=True)})
    return out, np.array([ln for ln, _ in malformed], dtype=np.int64), []


def _try_fast(data: bytes, text: str, encoding: str) -> tuple | None:
    """(delimiter, header, Arrow's read) of a decoded file (or of its first lines), or None for
    the csv module."""
    delim = _sniff_delimiter(text)
    head = text[:65536]
    first = next((r for r in csv.reader(io.StringIO(head, newline=""), delimiter=delim) if r), [])
    first_line = re.split(r"[\r\n]", head, maxsplit=1)[0]
    if not first or _is_blank(first) or not first_line.strip():
        return None  # blank lines before the header: the csv module numbers them
    if encoding in ("utf-8", "utf-8-sig"):
        payload = data[3:] if encoding == "utf-8-sig" else data
    else:
        payload = text.encode("utf-8")
    fast = _parse_fast(payload, delim, first)
    return None if fast is None else (delim, first, fast)


# --------------------------------------------------------------------------------------------
# Validating one file
# --------------------------------------------------------------------------------------------

_REASON_CODE = {r: i + 1 for i, r in enumerate(REASONS)}

_T = TypeVar("_T")

_Text: TypeAlias = str | np.ndarray | pa.Array | Callable[[np.ndarray], Any]


@dataclass
class _Take:
    """Text not made yet: ``values`` at ``index`` (a filter's column name or sentence per row),
    gathered only when the rows are listed."""

    values: pa.Array
    index: np.ndarray

    def arrow(self) -> pa.Array:
        return self.values.take(pa.array(self.index))


@dataclass
class _DateText:
    """ "'2024-03-05 14:20' is outside 2024-01-01.." per row, made only when the rows are listed
    (:func:`_filter_dates`)."""

    dt: np.ndarray  # datetime64[ns] of the rows
    month: np.ndarray
    timed: np.ndarray  # bool: the row carries a time of day
    span: str

    def arrow(self) -> pa.Array:
        day = pc.strftime(pa.array(self.dt), format="%Y-%m-%d")
        minute = pc.strftime(pa.array(self.dt), format="%Y-%m-%d %H:%M")
        mon = pc.strftime(pa.array(self.month), format="%Y-%m")
        text = pc.if_else(pa.array(self.timed), minute, day)
        text = pc.if_else(pa.array(np.isnat(self.dt)), mon, text)
        said = pc.binary_join_element_wise("'", text, f"' is outside {self.span}", "")
        return pc.fill_null(said, f"the date is unknown, so outside {self.span}")


@dataclass
class _PointText:
    """ "the point (lon, lat) lies outside the study area given" per row, made when listed."""

    lon: np.ndarray
    lat: np.ndarray

    def arrow(self) -> pa.Array:
        lon = pa.array(self.lon).cast(pa.string())
        lat = pa.array(self.lat).cast(pa.string())
        return pc.binary_join_element_wise(
            "the point (", lon, ", ", lat, ") lies outside the study area given", ""
        )


_Later: TypeAlias = _Take | _DateText | _PointText


@dataclass
class _Batch:
    rows: np.ndarray  # int64 row indices (file rows, all rows, or frame rows: see the owner)
    code: int
    column: str | np.ndarray | pa.Array | _Later
    detail: str | np.ndarray | pa.Array | _Later


class _Rejects:
    """First-reason-wins rejection codes per row, with the column and detail of each rejection
    kept only for the rejected rows (built lazily, so valid rows cost nothing)."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int8)
        self.batches: list[_Batch] = []

    @property
    def ok(self) -> np.ndarray:
        return self.code == 0

    def add(self, mask: np.ndarray, reason: str, column: _Text, detail: _Text) -> int:
        """Reject the rows of ``mask`` that have no reason yet; returns how many."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return 0
        idx = np.flatnonzero(mask & (self.code == 0))
        if not len(idx):
            return 0
        self.code[idx] = _REASON_CODE[reason]
        self.batches.append(
            _Batch(idx, _REASON_CODE[reason], _pick(column, idx), _pick(detail, idx))
        )
        return len(idx)

    def counts(self) -> dict[str, int]:
        # one counting pass (codes are 0..len(REASONS)): no sort of every rejected row
        cnt = np.bincount(self.code, minlength=len(REASONS) + 1)
        return {REASONS[v - 1]: int(cnt[v]) for v in np.flatnonzero(cnt[1:]) + 1}


def _pick(text: _Text, idx: np.ndarray) -> str | np.ndarray | pa.Array | _Later:
    if isinstance(text, str | pa.Array):
        return text
    if callable(text):
        return text(idx)
    return np.asarray(text, dtype=object)[idx]


def _as_arrow(text: str | np.ndarray | pa.Array | _Later, n: int) -> pa.Array:
    if isinstance(text, _Take | _DateText | _PointText):
        return text.arrow()
    if isinstance(text, str):
        return pa.repeat(pa.scalar(text, pa.string()), n)
    if isinstance(text, pa.Array):
        return text.cast(pa.string())
    return pa.array(np.asarray(text, dtype=object), type=pa.string())


def _blank_arrow(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row: blank or a missing-value token (as :func:`_clean` decides), without encoding.

    A cell that starts with a letter or digit other than N is neither (every token starts with
    N, - or #), so only the other cells are trimmed and compared: few in an id column.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    maybe = np.ones(len(arr), dtype=bool)
    if pa.types.is_string(arr.type) and not arr.null_count and len(arr):
        offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset : arr.offset + len(arr) + 1
        ]
        data = (
            np.frombuffer(arr.buffers()[2], dtype=np.uint8)
            if arr.buffers()[2]
            else np.zeros(1, np.uint8)
        )
        first = np.where(offs[1:] > offs[:-1], data[np.minimum(offs[:-1], len(data) - 1)], 0)
        word = (first >= 48) & (first <= 57) | (((first | 32) >= 97) & ((first | 32) <= 122))
        maybe = ~(word & ((first | 32) != 110))  # 110: n
    out = np.zeros(len(arr), dtype=bool)
    idx = np.flatnonzero(maybe)
    if len(idx):
        t = pc.utf8_trim_whitespace(arr.take(pa.array(idx)))
        blank = pc.or_(pc.equal(t, ""), pc.is_in(pc.utf8_upper(t), _MISSING_ARROW))
        out[idx] = np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)
    return out


@dataclass
class ValidatedFile:
    """One file, validated: canonical columns per well-formed row, and its own rejections.

    Made by :func:`read_file`, combined by :func:`combine_files`; its fields are the reader's
    working state (the parsed text, coordinates, dates, weights, rejections) and not a stable
    interface. It pickles, so a file can be read in another process or on another machine.
    """

    parsed: _Parsed
    info: FileInfo
    bng: bool
    vx: np.ndarray
    vy: np.ndarray
    dt: np.ndarray
    has_time: np.ndarray
    month: np.ndarray
    weight: np.ndarray
    ctype: tuple[np.ndarray, pa.Array]  # (codes, cleaned distinct values)
    location: tuple[np.ndarray, pa.Array]
    has_id: np.ndarray
    rejects: _Rejects
    notes: list[str]
    date_order: str = ""
    undated: int = 0  # rows kept although their date could not be read
    # the distinct points of the rows valid when read (:func:`_distinct_points`), found in the
    # reading thread so that combining the files only merges them
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    keys: _RowKeys | None = None  # what the duplicate rules compare (:func:`_row_keys`)
    # read_incidents' files keep only the raw fields of their own rejected rows (parsed.table is
    # then empty); None: parsed.table holds every well-formed row
    kept: _Kept | None = None
    # the WKT of the CRS its easting/northing were read in when not British National Grid
    grid_crs: str = ""
    window: _Window | None = None  # its dates read as time windows (:func:`_time_window`)
    implausible: int = 0  # rows whose date cannot be true (:func:`_cannot_be_true`)
    latest: str = ""  # the latest date read as true, YYYY-MM-DD, when some rows were later

    @property
    def n(self) -> int:
        return len(self.parsed.lines)


@dataclass
class _RowKeys:
    """A file's rows as the duplicate rules compare them, without their text."""

    ids: np.ndarray  # uint64 per row: :func:`_id_keys` of the raw id (0 without an id column)
    bare: np.ndarray  # int32 per row: its whole row in ``bare_keys`` (rows valid in the file
    # and without an id), -1 for the other rows
    # uint64 per distinct whole row without an id: :func:`_line_keys` (:func:`_joined_keys`) of
    # its fields; rows of other files with the same key are compared field by field
    bare_keys: np.ndarray


@dataclass
class _Kept:
    """What a file :func:`read_incidents` reads keeps of its text once validated: the raw fields
    of the rows it rejects itself. The rules over all files reject few rows more (duplicates,
    outliers); their fields come from parsing the file again (:func:`_raw_rows`)."""

    rows: np.ndarray  # int64, increasing: the rows whose raw fields are kept
    raw: pa.Table  # their fields, one column per header name
    reload: Callable[[], bytes]  # the file's bytes again
    # the delimiter when every record of the file is its line, without quotes or carriage
    # returns (UTF-8): a row's fields are then its line split at the delimiter
    one_line: str | None = None


def _forces(p: _Parsed) -> list[str]:
    """The police force(s) a police.uk file says it covers ("Falls within"), for provenance."""
    for h in p.header:
        if _normalise(h) == "falls_within":
            column = p.table.column(h)
            if column.num_chunks == 1 and pa.types.is_dictionary(column.type):
                distinct = column.chunk(0).dictionary  # encoded: each used, first seen first
            else:
                text = _plain(column)
                # police.uk's one force: comparing with the first value is quicker than hashing
                same = len(text) > 0 and not text.null_count
                same = same and pc.all(pc.equal(text, text[0])).as_py()
                distinct = text.slice(0, 1) if same else pc.unique(text)
            values = pc.utf8_trim_whitespace(distinct).to_pylist()
            return sorted([v for v in dict.fromkeys(values) if v != ""][:20])
    return []


def _median_below(v: np.ndarray, limit: float) -> bool:
    """``np.median(v) < limit`` for a non-empty float array, mostly by counting: the median is
    below ``limit`` when more than half the values are (its middle value, or both middle values
    and so their mean), and not when fewer than half are (nor when exactly half are, for an odd
    count). Only a tie of half and half (or a NaN) needs the median itself."""
    n = len(v)
    below = int(np.count_nonzero(v < limit))
    if below + int(np.count_nonzero(v >= limit)) == n:  # no NaN
        if 2 * below > n:
            return True
        if 2 * below < n:
            return False
    return bool(np.median(v) < limit)


def _keep_unreadable(bad: np.ndarray, present: np.ndarray, mode: str) -> bool:
    """Whether rows whose date cannot be read are kept (with an unknown date) or rejected."""
    if not bad.any() or mode == "reject":
        return False
    if mode == "keep":
        return True
    return int(bad.sum()) * 2 > int(present.sum())  # "auto": most of the column is unreadable


_NO_TEXT = pa.array([], type=pa.string())


def _layout_notes(p: _Parsed, date_order: str) -> list[str]:
    """What a file's layout made the reader decide, as notes: malformed rows, bytes of another
    encoding, a trailing delimiter dropped, an ambiguous day/month order."""
    out: list[str] = []
    if p.malformed:
        out.append(
            f"{p.name}: {len(p.malformed)} row(s) had more or fewer fields than the header and "
            "were rejected."
        )
    if p.cut_short:
        line, fields = p.malformed[-1]
        out.append(
            f"{p.name}: the file ends in the middle of a row (line {line}: {len(fields)} of "
            f"{len(p.header)} fields, no line break after it), as a download that did not "
            "finish does; rows after it may be missing. Download the file again."
        )
    if p.encoding == MIXED_ENCODING:
        out.append(
            f"{p.name}: the file is UTF-8 but for some bytes that are not (lines saved in "
            "another encoding, as when files are joined); those were read as Windows-1252."
        )
    if p.title is not None:
        n, text = p.title
        where = "line 1 was" if n == 1 else f"lines 1-{n} were"
        out.append(
            f"{p.name}: {where} read as a title above the column names (line {n + 1}), not as "
            f"rows ('{text[:80]}')."
        )
    if p.trailing_field:
        out.append(
            f"{p.name}: every row ends with a delimiter, one empty field more than the header "
            "names; the rows were read without it."
        )
    if "ambiguous" in date_order:  # said, not only recorded (choices["date_order"])
        order = "day first" if date_order.startswith("day") else "month first"
        out.append(
            f"{p.name}: no date has a day above 12, so '03/04' could be 3 April or 4 March; "
            f"read {order}, the regional default (month first where the data lie in the "
            "Americas, day first elsewhere). If that is wrong, write the dates as YYYY-MM-DD."
        )
    return out


def _validate_file(
    p: _Parsed,
    columns: Mapping[str, str | None],
    unreadable_dates: str,
    reload: Callable[[], bytes] | None = None,
    coordinate_crs: pyproj.CRS | None = None,
    date_order: str = "auto",
    latest: np.datetime64 | None = None,
) -> ValidatedFile:
    """Detect one file's columns and check every well-formed row; the first failure rejects.

    With ``reload`` (the file's bytes again, on demand) the file's text is dropped once checked,
    but for the raw fields of the rows it rejects (:class:`_Kept`). ``coordinate_crs``: the CRS
    of easting/northing columns when not British National Grid (:func:`check_coordinate_crs`);
    ``date_order``: :data:`DATE_ORDERS`; ``latest``: the latest date read as true (default
    :func:`latest_date`).
    """
    n = p.table.num_rows
    col = _ColumnCache(p.table)
    found = None if _coordinate_roles(p.header, columns) else _point_column(p.header, col, n)
    header, point_notes = p.header, []
    if found is not None:  # no coordinate columns, one column of points: read from it
        header = [*p.header, *found.names]
        columns = {**columns, "lon": found.names[0], "lat": found.names[1]}
        point_notes.append(found.note(p.name))
    fmt, mapping = _detect(
        header, lambda c, degrees=True: col(c).floats(degrees=degrees), n, columns, p.name,
        coordinate_crs is not None,
    )  # fmt: skip
    notes = [*point_notes, *(f"{p.name}: {t}." for t in _settle_date_roles(mapping, columns, col))]
    parts, grid_crs = _date_and_grid_choices(p, mapping, columns, col, fmt, coordinate_crs, notes)
    found_columns = dict(mapping)
    if parts:  # recorded as the date column, its parts joined
        found_columns["date"] = "+".join(parts.values())
    info = FileInfo(
        name=p.name, sha256=p.sha256, n_rows=p.n_rows, format=fmt, encoding=p.encoding,
        delimiter=p.delimiter, columns=found_columns, forces=_forces(p),
    )  # fmt: skip
    rej = _Rejects(n)
    bng = fmt in (FORMAT_BNG, FORMAT_GRID)  # easting/northing (in BNG or the CRS given)
    _reject_nul_rows(p, rej, notes)
    _reject_open_quotes(p, mapping, bng, rej, notes)
    copies_of = (found.column,) if found is not None else None  # the points' own column
    _reject_header_copies(p.name, mapping, col, bng, rej, notes, copies_of)
    vx, vy = _check_coordinates(mapping, col, bng, rej, bng_range=fmt == FORMAT_BNG)
    if fmt == FORMAT_BNG:
        _refuse_other_grid(p.name, mapping["easting"], mapping["northing"], vx, vy)
    okxy = rej.ok
    americas = bool(not bng and okxy.any() and _median_below(vx[okxy], -30.0))
    if fmt == FORMAT_GRID and coordinate_crs is not None and okxy.any():
        americas = _grid_in_americas(vx[okxy], vy[okxy], coordinate_crs)
    unreadable = _UnreadableDates(
        p.name, unreadable_dates, rej, notes, np.zeros(n, dtype=bool), p.lines,
        _latest_for(info, latest), date_order,
    )  # fmt: skip
    when = (
        _dates_from_parts(parts, col, n, unreadable) if parts
        else _read_dates(mapping, col, n, day_first_default=not americas, unreadable=unreadable)
    )  # fmt: skip
    when, window = _time_window(
        p.name, mapping, col, when, day_first_default=not americas, latest=unreadable.latest
    )
    weight = np.broadcast_to(1.0, n)
    if "weight" in mapping:
        wc = col(mapping["weight"])
        weight = wc.floats(degrees=False).copy()
        badw = ~(np.isfinite(weight) & (weight >= 0))
        rej.add(badw, R_WEIGHT, mapping["weight"], lambda i: wc.quoted(i, "is not a number >= 0"))
    if "id" in mapping:
        has_id = ~_blank_arrow(_plain(p.table.column(mapping["id"]))) if n else np.zeros(0, bool)
    else:
        has_id = np.zeros(n, dtype=bool)
    ctype, location = (_coded_text(col, mapping, r, n) for r in ("crime_type", "location"))
    notes.extend([*_layout_notes(p, when.date_order), *_control_notes(p, col)])
    ok = rej.ok
    keys = _row_keys(p, mapping.get("id"), has_id, ok)
    kept = None
    if reload is not None:
        bad = ~ok
        one_line = None
        if p.line_text is not None and p.encoding in ("utf-8", "utf-8-sig"):
            one_line = p.line_text[2]
        raw = _decoded(p.table.filter(pa.array(bad)))
        kept = _Kept(np.flatnonzero(bad), raw, reload, one_line)
        empty = pa.table([_NO_TEXT] * len(p.header), names=p.header)
        p = dataclasses.replace(p, table=empty, line_text=None)
    elif p.line_text is not None:
        p = dataclasses.replace(p, line_text=None)  # the file's bytes are not kept
    return ValidatedFile(
        p, info, bng, vx, vy, when.dt, when.has_time, when.month, weight, ctype, location,
        has_id, rej, notes, when.date_order, int(unreadable.undated.sum()),
        _distinct_points(vx[ok], vy[ok]), keys, kept, grid_crs, window, unreadable.implausible,
        str(unreadable.latest)[:10] if unreadable.implausible else "",
    )  # fmt: skip


def _date_and_grid_choices(
    p: _Parsed,
    mapping: dict[str, str],
    columns: Mapping[str, str | None],
    col: _ColumnCache,
    fmt: str,
    coordinate_crs: pyproj.CRS | None,
    notes: list[str],
) -> tuple[dict[str, str], str]:
    """(date part columns, WKT of the grid CRS or ""): dates put together from year/month/day
    columns when there is no date column, the location column chosen by its words, each said
    in ``notes``."""
    parts = _date_parts(p.header, mapping, columns)
    _location_words(p.header, mapping, columns, col)
    if parts:
        notes.append(
            f"{p.name}: no date column; each date is put together from the columns "
            + ", ".join(f"'{c}' ({k})" for k, c in parts.items())
            + "."
        )
    grid_crs = ""
    if fmt == FORMAT_GRID and coordinate_crs is not None:
        grid_crs = coordinate_crs.to_wkt()
        notes.append(
            f"{p.name}: the columns '{mapping['easting']}' and '{mapping['northing']}' were read "
            f"as easting and northing in {coordinate_crs.name} ({coordinate_crs.to_string()}), "
            "the coordinate CRS given."
        )
    return parts, grid_crs


#: A point written in one field: ``(41.88, -87.63)`` or ``41.88, -87.63`` (latitude first, as
#: the US open-data portals' Location columns write it) or WKT ``POINT (-87.63 41.88)``
#: (longitude first); :func:`_point_column`.
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_LATLON_POINT = rf"^\(?\s*(?P<lat>{_NUM})\s*,\s*(?P<lon>{_NUM})\s*\)?$"
_WKT_POINT = (
    rf"^(?i:POINT)\s*(?i:ZM|Z|M)?\s*\(\s*(?P<lon>{_NUM})\s+(?P<lat>{_NUM})(?:\s+{_NUM}){{0,2}}"
    r"\s*\)$"
)

#: Words of a column's (normalised) name that may hold points (:func:`_point_column`).
_POINT_WORDS = ("location", "point", "geom", "coord", "wkt", "shape", "position", "latlon",
                "lat_lon", "lat_long", "latlong", "lat_lng", "latlng")  # fmt: skip


def _coordinate_roles(header: list[str], columns: Mapping[str, str | None]) -> bool:
    """Whether the caller named coordinate columns or the header has names that read as
    coordinates (latitude/longitude, easting/northing, x/y): then no point column is read."""
    if set(columns) & {"lon", "lat", "easting", "northing"}:
        return True
    norm = {_normalise(h) for h in header}
    if any(xn in norm and yn in norm for xn, yn in _XY_PAIRS):
        return True
    found = {role for role in ("lat", "lon", "easting", "northing")
             if _find({n: n for n in norm}, role, set()) is not None}  # fmt: skip
    return {"lat", "lon"} <= found or {"easting", "northing"} <= found


@dataclass(frozen=True)
class _PointColumn:
    """A column holding each row's point in one field, split into two virtual columns."""

    column: str
    names: tuple[str, str]  # the virtual columns' names: longitude, latitude
    kinds: tuple[str, ...]  # how the points are written ("(latitude, longitude)", "WKT POINT")

    def note(self, file: str) -> str:
        ways = " and ".join(self.kinds)
        return (
            f"{file}: no latitude/longitude columns; the column '{self.column}' holds each "
            f"row's point as {ways} and was read as longitude ('{self.names[0]}') and "
            f"latitude ('{self.names[1]}') in WGS84 degrees."
        )


def _point_column(header: list[str], col: _ColumnCache, n: int) -> _PointColumn | None:
    """The first column named like a place (:data:`_POINT_WORDS`) whose non-blank distinct
    values are at least half points (:data:`_LATLON_POINT`, :data:`_WKT_POINT`), split into
    longitude and latitude columns added to ``col`` (a value that is not a point is kept
    whole in both, so it is rejected as non-numeric with its text). None when there is none.
    """
    if not n:
        return None
    for name in header:
        norm = _normalise(name)
        if not any(w in norm for w in _POINT_WORDS):
            continue
        c = col(name)
        values = c.clean_arrow
        filled = pc.not_equal(values, "")
        n_filled = pc.sum(filled).as_py() or 0
        if not n_filled:
            continue
        paren = pc.extract_regex(values, _LATLON_POINT)
        wkt = pc.extract_regex(values, _WKT_POINT)
        is_paren = pc.is_valid(paren).to_numpy(zero_copy_only=False)
        is_wkt = pc.is_valid(wkt).to_numpy(zero_copy_only=False) & ~is_paren
        if 2 * int(is_paren.sum() + is_wkt.sum()) < n_filled:
            continue
        whole = values.to_numpy(zero_copy_only=False).astype(object)
        lon, lat = whole.copy(), whole.copy()
        for fields, mask in ((paren, is_paren), (wkt, is_wkt)):
            if mask.any():
                taken = fields.filter(pa.array(mask))
                lon[mask] = np.asarray(pc.struct_field(taken, "lon").to_pylist(), dtype=object)
                lat[mask] = np.asarray(pc.struct_field(taken, "lat").to_pylist(), dtype=object)
        names = (f"{name} (longitude)", f"{name} (latitude)")
        indices = pa.array(c.codes, type=pa.int32())
        for virtual, text in zip(names, (lon, lat), strict=True):
            col.cols[virtual] = _Col(
                pa.DictionaryArray.from_arrays(indices, pa.array(text, type=pa.string()))
            )
        ways = (("(latitude, longitude)", is_paren), ("WKT POINT (longitude latitude)", is_wkt))
        kinds = tuple(k for k, m in ways if m.any())
        return _PointColumn(name, names, kinds)
    return None


#: Between the fields of a row joined into one value (:func:`_joined`); a NUL in a field is
#: written NUL SOH, so no two different rows join into the same value.
_JOIN = "\x00\x02"


def _joined(table: pa.Table) -> pa.Array:
    """Each row of a text table as one value: its fields joined by :data:`_JOIN`."""
    cols = []
    for col in table.columns:
        arr = _plain(col)
        if pc.any(pc.match_substring(arr, "\x00")).as_py():
            arr = pc.replace_substring(arr, "\x00", "\x00\x01")
        cols.append(arr)
    if not cols:
        return pa.array([], type=pa.string())
    return pc.binary_join_element_wise(*cols, _JOIN)


def _row_keys(p: _Parsed, id_col: str | None, has_id: np.ndarray, ok: np.ndarray) -> _RowKeys:
    """What :func:`_find_copies` compares of a file's rows: id keys, and the keys of the distinct
    whole rows of the valid rows without an id (from their lines where a line is a record
    without quotes: :func:`_line_keys`; else from their fields joined: :func:`_joined_keys`)."""
    table = p.table
    n = table.num_rows
    ids = np.zeros(n, dtype=np.uint64)
    if id_col is not None and has_id.any():
        column = _plain(table.column(id_col))
        ids[has_id] = _id_keys(column.filter(pa.array(has_id)))
    bare = np.full(n, -1, dtype=np.int32)
    bare_ok = ok & ~has_id
    keys = np.zeros(0, dtype=np.uint64)
    if bare_ok.any():
        if p.line_text is not None and len(p.line_text[2].encode()) == 1:
            records, record_of, delim = p.line_text
            enc = pc.dictionary_encode(records.take(pa.array(record_of[bare_ok])))
            keys = _line_keys(enc.dictionary, delim)
        else:
            enc = pc.dictionary_encode(_joined(table.filter(pa.array(bare_ok))))
            keys = _joined_keys(enc.dictionary)
        bare[bare_ok] = enc.indices.to_numpy(zero_copy_only=False)
    return _RowKeys(ids, bare, keys)


#: Between the fields of a whole row where its key is made (:func:`_line_keys`,
#: :func:`_joined_keys`): the commonest delimiter, so a comma-separated line is its key's text
#: as it is (no copy). A field holding a comma may share its key with another row: such rows
#: are compared field by field (:func:`_joined`), as are all rows whose keys repeat.
_KEY_SEP = ","


def _line_keys(lines: pa.Array, delim: str) -> np.ndarray:
    """:func:`_id_keys` of whole rows given as their lines (binary, a line break ending all but
    the last; no quotes, so the fields are the line split at the one-byte ``delim``): of the
    fields joined by :data:`_KEY_SEP`, a line break after (the last line's added)."""
    n = len(lines)
    wide = pa.types.is_large_binary(lines.type) or pa.types.is_large_string(lines.type)
    raw = np.frombuffer(lines.buffers()[1], dtype=np.int64 if wide else np.int32)
    lo, hi = int(raw[lines.offset]), int(raw[lines.offset + n])
    if hi == lo:  # every line empty (none is: a line holds its delimiters)
        return np.zeros(n, dtype=np.uint64)
    offs: np.ndarray = raw[lines.offset : lines.offset + n + 1].astype(np.int64) - lo
    data: np.ndarray = np.frombuffer(lines.buffers()[2], dtype=np.uint8)[lo:hi]
    if delim != _KEY_SEP:
        data = data.copy()
        data[data == ord(delim)] = ord(_KEY_SEP)
    if offs[-1] < _STRING_BYTES:  # as one string array: _id_keys takes the quickest way
        keys = _id_keys(_string_array(data, offs))
    else:  # the same keys, every length at once
        keys = _byte_keys(np.append(data, np.zeros(8, np.uint8)), offs[:-1], np.diff(offs))
    ends = offs[1:] - 1
    for i in np.flatnonzero((ends < offs[:-1]) | (data[np.maximum(ends, 0)] != 10)):
        # the file's last line (anywhere among the distinct lines) has no line break: its own
        line = np.append(data[offs[i] : offs[i + 1]], np.uint8(10))
        keys[i] = _id_keys(_string_array(line, np.array([0, len(line)], dtype=np.int64)))[0]
    return keys


#: Bytes a string array (32-bit offsets) holds at most.
_STRING_BYTES = 2**31


def _string_array(data: np.ndarray, offs: np.ndarray) -> pa.Array:
    """The strings ``data[offs[i] : offs[i + 1]]`` (UTF-8 bytes; int64 offsets, the last below
    :data:`_STRING_BYTES`) as one string array, ``data`` not copied."""
    return pa.StringArray.from_buffers(
        len(offs) - 1, pa.py_buffer(offs.astype(np.int32)), pa.py_buffer(data)
    )


def _joined_keys(rows: pa.Array) -> np.ndarray:
    """:func:`_line_keys` of whole rows given as their fields joined (:func:`_joined`): the
    same key for the same fields, from a file of another delimiter or with quotes."""
    text = pc.replace_substring(rows, _JOIN, _KEY_SEP)
    if pc.any(pc.match_substring(text, "\x00")).as_py():  # a NUL in a field, written NUL SOH
        text = pc.replace_substring(text, "\x00\x01", "\x00")
    return _id_keys(pc.binary_join_element_wise(text, "", "\n"))


def _id_keys(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit key per string of any length, equal for equal strings (and rarely for others):
    :func:`_text_keys` of the strings of each length, mixed with the length; 0 where it gives
    none (every such string may then equal any other)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    out = np.zeros(n, dtype=np.uint64)
    if n == 0 or not pa.types.is_string(arr.type):
        return out
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    lengths = np.diff(offs)
    if (lengths == lengths[0]).all():  # one length (police.uk's Crime IDs)
        keys = _text_keys(arr)
        if keys is not None:
            out = keys ^ np.uint64(int(lengths[0]) * _LENGTH_MIX % 2**64)
        return out
    order = np.argsort(lengths, kind="stable")
    sizes = lengths[order]
    cuts = np.flatnonzero(np.diff(sizes)) + 1
    if not arr.null_count and len(cuts) >= 8 and (len(cuts) + 1) * 128 > n:
        return _word_keys(arr)  # many lengths, few strings each: one pass over every word
    ordered = arr.take(pa.array(order))
    for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), n], strict=True):
        keys = _text_keys(ordered.slice(a, b - a))
        if keys is not None:
            out[order[a:b]] = keys ^ np.uint64(int(sizes[a]) * _LENGTH_MIX % 2**64)
    return out


class _ColumnCache:
    """``cache(name)``: a file column as a :class:`_Col`, encoded once however often asked for."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.cols: dict[str, _Col] = {}

    def __call__(self, name: str) -> _Col:
        if name not in self.cols:
            self.cols[name] = _Col(self.table.column(name))
        return self.cols[name]


def _coded_text(
    col: Callable[[str], _Col], mapping: Mapping[str, str], role: str, n: int
) -> tuple[np.ndarray, pa.Array]:
    """(code per row, cleaned distinct values) of a text role; one blank value when absent."""
    if role in mapping:
        c = col(mapping[role])
        return c.codes, c.clean_arrow
    return np.zeros(n, dtype=np.int32), pa.array([""], type=pa.string())


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _reject_nul_rows(p: _Parsed, rej: _Rejects, notes: list[str]) -> None:
    """Reject, as malformed, the rows holding NUL bytes (a damaged line: :func:`_check_bytes`
    reads a text file with a few of them), naming the first column that holds one."""
    if p.parser != "csv" or not p.table.num_rows:
        return  # Arrow reads only files without NUL bytes (Parquet values are not lines)
    where = np.full(p.table.num_rows, -1, dtype=np.int64)
    for j, name in enumerate(p.header):
        has = pc.match_substring(_plain(p.table.column(name)), "\x00")
        hit = pc.fill_null(has, False).to_numpy(zero_copy_only=False) & (where < 0)
        where[hit] = j
    if (where < 0).all():
        return
    names = np.asarray(p.header, dtype=object)
    k = rej.add(
        where >= 0,
        R_MALFORMED,
        lambda i: names[where[i]],
        "the row holds NUL bytes (a damaged line, written \\x00 here); the file's other rows "
        "were read: copy or export the file again to recover it",
    )
    notes.append(
        f"{p.name}: {k} row(s) hold NUL bytes (damaged lines) and were rejected as malformed; "
        "the other rows were read."
    )


def _reject_header_copies(
    name: str,
    mapping: Mapping[str, str],
    col: Callable[[str], _Col],
    bng: bool,
    rej: _Rejects,
    notes: list[str],
    columns: tuple[str, ...] | None = None,
) -> None:
    """Reject, as malformed, the rows that repeat the header (files joined one after another,
    each with its header): the coordinate columns (or ``columns``) hold their own names."""
    if columns is None:
        columns = (
            (mapping["easting"], mapping["northing"]) if bng else (mapping["lon"], mapping["lat"])
        )
    mask = np.ones(len(col(columns[0])), dtype=bool)
    for c in columns:
        cc = col(c)
        at = np.flatnonzero(pc.equal(cc.clean_arrow, c.strip()).to_numpy(zero_copy_only=False))
        if not len(at):
            return
        mask &= cc.codes == at[0]
    k = rej.add(
        mask,
        R_MALFORMED,
        columns[0],
        "the header row again, not data (files joined one after another, each with its "
        "header): nothing is lost by leaving it out",
    )
    if k:
        notes.append(f"{name}: the header row is repeated {k} time(s) inside the file; left out.")


def _reject_open_quotes(
    p: _Parsed, mapping: Mapping[str, str], bng: bool, rej: _Rejects, notes: list[str]
) -> None:
    """Reject, as malformed, the rows whose quoted field holds whole rows of the file.

    A quote left open (``"On or near Main Street`` with no closing quote) makes every line up
    to the next quote one field of one row; when that row then has the header's number of
    fields, nothing else shows that the lines inside were lost. A field holding a line break
    is legal CSV (free text over several lines), so a row is rejected only when a line inside
    one of its fields reads as a row of the file itself: the header's number of fields, with
    numbers where the coordinates are (heuristic of this product: free text seldom does
    both). The rejected row keeps its raw fields, the lost lines among them; the detail says
    where the quote opened and closed.
    """
    delim = next((d for d, name in _DELIM_NAMES.items() if name == p.delimiter), p.delimiter)
    n = p.table.num_rows
    if p.line_text is not None or not n or len(delim) != 1:
        return  # every record one line, no rows, or not a delimited text (Parquet)
    keys = ("easting", "northing") if bng else ("lon", "lat")
    coords = [p.header.index(mapping[k]) for k in keys if mapping.get(k) in p.header]
    ncol = len(p.header)
    # a row spanning lines is followed by a gap in the rows' line numbers (or is the last row):
    # only those rows are read (a blank line or a malformed row makes a gap too, harmlessly)
    lines = np.asarray(p.lines, dtype=np.int64)
    maybe = np.flatnonzero(np.r_[np.diff(lines) > 1, True])
    rows_at = p.table.take(pa.array(maybe))
    found: dict[int, tuple[str, int]] = {}  # row -> (column, line breaks in the row)
    for name in p.header:
        text = _plain(rows_at.column(name))
        broken = pc.match_substring_regex(text, "[\r\n]")
        for j in np.flatnonzero(broken.to_numpy(zero_copy_only=False)).tolist():
            i = int(maybe[j])
            if i in found:
                continue
            inner = _LINE_BREAK.split(text[j].as_py())[1:]
            if any(_reads_as_row(line, delim, ncol, coords) for line in inner):
                breaks = sum(
                    len(_LINE_BREAK.findall(str(rows_at.column(c)[j].as_py() or "")))
                    for c in p.header
                )
                found[i] = (name, breaks)
    if not found:
        return
    idx = np.array(sorted(found), dtype=np.int64)
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    first = p.lines

    def detail(rows: np.ndarray) -> np.ndarray:
        out = []
        for i in rows:
            name, breaks = found[int(i)]
            start = int(first[i])
            out.append(
                f"a quote opened in column {name!r} on line {start} closes only on line "
                f"{start + breaks}: the lines between read as one field, yet hold rows of their "
                'own; close the quote (a quote inside a quoted field is written "") and read the '
                "file again"
            )
        return np.asarray(out, dtype=object)

    k = rej.add(
        mask, R_MALFORMED, lambda i: np.array([found[int(j)][0] for j in i], object), detail
    )
    if k:
        notes.append(
            f"{p.name}: {k} row(s) hold a quote left open, which takes the lines after it into "
            "one field; rejected as malformed rows (their detail says which lines)."
        )


def _reads_as_row(line: str, delim: str, ncol: int, coords: list[int]) -> bool:
    """Whether a line inside a field reads as a row of the file: ``ncol`` fields, numbers in
    the coordinate columns (a decimal comma taken as a point)."""
    fields = next(csv.reader([line], delimiter=delim), [])
    if len(fields) != ncol:
        return False
    for j in coords:
        try:
            float(fields[j].strip().replace(",", "."))
        except ValueError:
            return False
    return True


def _check_coordinates(
    mapping: Mapping[str, str],
    col: Callable[[str], _Col],
    bng: bool,
    rej: _Rejects,
    *,
    bng_range: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The coordinates as numbers (x, y); rejects missing, non-numeric, out-of-range and (0, 0).

    Longitude/latitude in degrees, or easting/northing: in British National Grid metres (its
    range checked) or, without ``bng_range``, in a coordinate CRS given (any finite number
    here; a point that cannot be placed on the earth is rejected when located).
    """
    cx, cy = (mapping["easting"], mapping["northing"]) if bng else (mapping["lon"], mapping["lat"])
    xc, yc = col(cx), col(cy)
    vx = xc.floats(degrees=not bng)
    vy = yc.floats(degrees=not bng)
    miss_x, miss_y = xc.blank(), yc.blank()
    rej.add(
        miss_x | miss_y,
        R_MISSING,
        lambda i: np.where(miss_x[i], cx, cy).astype(object),
        "a coordinate is blank or missing",
    )
    rej.add(np.isnan(vx), R_NONNUMERIC, cx, lambda i: xc.quoted(i, "is not a number"))
    rej.add(np.isnan(vy), R_NONNUMERIC, cy, lambda i: yc.quoted(i, "is not a number"))
    with np.errstate(invalid="ignore"):
        if bng and not bng_range:
            bad_x, bad_y = ~np.isfinite(vx), ~np.isfinite(vy)
            rng = "not a finite number"
        elif bng:
            e0, n0, e1, n1 = BNG_RANGE
            bad_x = ~((vx >= e0) & (vx <= e1))
            bad_y = ~((vy >= n0) & (vy <= n1))
            rng = (
                f"outside the British National Grid (easting {e0:.0f}-{e1:.0f} m, "
                f"northing {n0:.0f}-{n1:.0f} m)"
            )
        else:
            bad_x = ~(np.abs(vx) <= 180)
            bad_y = ~(np.abs(vy) <= 90)
            rng = "outside -180..180 (longitude) or -90..90 (latitude)"
    rej.add(bad_x, R_RANGE, cx, lambda i: xc.quoted(i, "is " + rng))
    rej.add(bad_y, R_RANGE, cy, lambda i: yc.quoted(i, "is " + rng))
    rej.add((vx == 0) & (vy == 0), R_NULL, cx, "both coordinates are 0: a missing location")
    return vx, vy


#: Share of a file's numeric easting/northing pairs outside British National Grid above which
#: the columns are taken to be in another projected CRS (a few bad rows are rejected one by one).
OTHER_GRID_SHARE = 0.9
OTHER_GRID_MIN_ROWS = 10

_CRS_HINT = (
    "give the coordinate reference system of these columns: on the command line "
    "--coordinate-crs EPSG:NNNN, in Python coordinate_crs='EPSG:NNNN', in the app's "
    "'Map the columns' form, the box 'CRS of the easting/northing columns' (for example "
    "EPSG:326zz for WGS 84 / UTM zone zz north, 327zz south; EPSG:2193 New Zealand Transverse "
    "Mercator; EPSG:78zz GDA2020 / MGA zone zz; EPSG:2157 Irish Transverse Mercator; the "
    "file's documentation names it); or, if the file also has longitude/latitude columns, name "
    "them (columns={'lon': ..., 'lat': ...}, --column lon=NAME --column lat=NAME)."
)


def _grid_in_americas(x: np.ndarray, y: np.ndarray, grid: pyproj.CRS) -> bool:
    """Whether the median point of easting/northing in a given CRS lies west of 30 W (the
    Americas: month-first dates by default, as for longitude/latitude files; a US State Plane
    file's "01/02/2019" is 2 January)."""
    mx, my = float(np.median(x)), float(np.median(y))
    lon, _ = crs_mod.to_wgs84(np.array([mx]), np.array([my]), grid)  # inf where it cannot
    return bool(np.isfinite(lon[0]) and lon[0] < -30.0)


def _refuse_other_grid(name: str, cx: str, cy: str, vx: np.ndarray, vy: np.ndarray) -> None:
    """Raise when a file's easting/northing are not British National Grid metres.

    Nearly all the pairs outside the grid (NZTM's northings near 5.9 million, MGA's near 6 to 8
    million, UTM's in the northern hemisphere above 1.3 million) say the columns are in another
    projected CRS; rejecting every row as out of range would hide that. The CRS cannot be told
    from the numbers (every UTM zone has the same ranges), so the user is asked to name it.
    """
    e0, n0, e1, n1 = BNG_RANGE
    with np.errstate(invalid="ignore"):
        numeric = np.isfinite(vx) & np.isfinite(vy) & ~((vx == 0) & (vy == 0))
        out = numeric & ~((vx >= e0) & (vx <= e1) & (vy >= n0) & (vy <= n1))
    k, m = int(out.sum()), int(numeric.sum())
    if not k or k < OTHER_GRID_SHARE * m or (m < OTHER_GRID_MIN_ROWS and k < m):
        return
    i = int(np.flatnonzero(out)[0])
    msg = (
        f"The columns '{cx}' and '{cy}' do not hold British National Grid metres: {k:,} of "
        f"{m:,} pairs lie outside it (easting {e0:.0f}-{e1:.0f} m, northing {n0:.0f}-{n1:.0f} m), "
        f"e.g. ({vx[i]:.0f}, {vy[i]:.0f}). They are in another projected coordinate system."
    )
    raise InputError(msg, file=name, column=cx, hint=_CRS_HINT)


@dataclass
class _UnreadableDates:
    """Where a file's unreadable dates, times and months go (``unreadable_dates=``).

    Calling it with the unreadable rows of one column either keeps them without a date (marked
    in ``undated``, with a note) or rejects them as ``unparseable date``.
    """

    name: str  # the file's name, for notes
    mode: str  # "auto", "reject" or "keep"
    rejects: _Rejects
    notes: list[str]
    undated: np.ndarray  # bool per row: kept although its date could not be read
    lines: np.ndarray | None = None  # int64 per row: its line in the file, for notes
    latest: np.datetime64 | None = None  # dates after it cannot be true (:func:`latest_date`)
    date_order: str = "auto"  # ``date_order=``: "auto", "day-first" or "month-first"
    implausible: int = 0  # rows whose date cannot be true (:func:`_cannot_be_true`)

    def __call__(
        self,
        bad: np.ndarray,
        present: np.ndarray,
        column: str,
        c: _Col,
        tail: str,
        why: Sequence[tuple[np.ndarray, str, str]] = (),
        *,
        time_only: bool = False,
    ) -> None:
        """Keep or reject the rows of ``bad``; ``why``: (rows, tail, sentence) of rows among
        them read but refused (an order given they contradict, a date that cannot be true),
        each said in a note and listed with its own tail. ``time_only``: ``column`` holds the
        time of day beside a date column, so a row kept loses its time, not its date."""
        for rows, _, said in why:
            self._say(rows & bad, column, c, said)
        if _keep_unreadable(bad, present, self.mode):
            example = c.text(np.flatnonzero(bad)[:1])[0]
            said = (
                "kept with their date but no time of day: they count everywhere but in the "
                "hours of the day"
                if time_only
                else "kept without a date: they count in maps and hot spots, not in time "
                "profiles or date filters"
            )
            if not time_only:
                self.undated[bad] = True
            self.notes.append(
                f"{self.name}: {int(bad.sum())} of {int(present.sum())} value(s) in '{column}' "
                f"could not be read (e.g. '{example}'); those rows are {said}."
            )
        elif why:

            def detail(i: np.ndarray) -> np.ndarray:
                out = c.quoted(i, tail)
                for rows, own, _ in why:
                    sel = rows[i]
                    if sel.any():
                        out[sel] = c.quoted(i[sel], own)
                return out

            self.rejects.add(bad, R_DATE, column, detail)
        else:
            self.rejects.add(bad, R_DATE, column, lambda i: c.quoted(i, tail))

    def _say(self, rows: np.ndarray, column: str, c: _Col, said: str) -> None:
        """A note: how many rows ``said`` applies to, two of them with their lines."""
        k = int(np.count_nonzero(rows))
        if not k:
            return
        first = np.flatnonzero(rows)[:2]
        shown = [
            f"'{v}'" + (f" on line {int(self.lines[r])}" if self.lines is not None else "")
            for v, r in zip(c.text(first), first, strict=True)
        ]
        self.notes.append(
            f"{self.name}: {k} value(s) in '{column}' {said} (e.g. {', '.join(shown)})"
            "; they are unreadable dates (unreadable_dates=, --unreadable-dates)."
        )

    def cannot_be_true(self, dt: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Per value of ``dt`` (read where ``ok``): a date that cannot be true."""
        if self.latest is None:
            return np.zeros(len(dt), dtype=bool)
        return ok & _cannot_be_true(dt, self.latest)

    def false_dates(self, rows: np.ndarray) -> tuple[np.ndarray, str, str]:
        """``why`` of :meth:`__call__` for rows whose date cannot be true."""
        self.implausible += int(np.count_nonzero(rows))
        bounds = (
            f"before {str(EARLIEST_DATE)[:10]} or after {str(self.latest)[:10]}, the day of "
            "this read plus one: this tool's bounds"
        )
        return rows, f"cannot be true: it is {bounds}", f"are dates that cannot be true: {bounds}"


@dataclass
class _When:
    """When each row of one file happened, as far as its columns say."""

    dt: np.ndarray  # datetime64[ns]; midnight when only the date is known, NaT when unknown
    has_time: np.ndarray  # bool: a time of day was written
    month: np.ndarray  # datetime64[ns], first of the month; NaT when unknown
    date_order: str = ""  # how day/month order was decided ("" without a date column)


def _read_dates(
    mapping: Mapping[str, str],
    col: Callable[[str], _Col],
    n: int,
    *,
    day_first_default: bool,
    unreadable: _UnreadableDates,
) -> _When:
    """Read the date (or date-time), time or hour, and month columns of one file's rows.

    A time or hour column adds the time of day to the date; the month column fills the months
    of rows without a readable date.
    """
    # a column the file lacks: one value for every row, a read-only view of it (no memory)
    nat = np.broadcast_to(np.datetime64("NaT", "ns"), n)
    when = _When(nat, np.broadcast_to(False, n), nat)
    date_role = "datetime" if "datetime" in mapping else ("date" if "date" in mapping else None)
    if date_role is not None:
        dc = col(mapping[date_role])
        present_u = (dc.clean != "").to_numpy()
        order = unreadable.date_order
        if order == "auto":
            day_first, when.date_order = _day_first(dc.clean[present_u], default=day_first_default)
        else:
            day_first, when.date_order = order == "day-first", f"{order} (set by the user)"
        first_rows = np.flatnonzero(present_u[dc.codes])[:300]
        sample = dc.clean.iloc[dc.codes[first_rows]]
        dt_u, ht_u, ok_u = _parse_datetimes(
            dc.clean, day_first, sample=sample, latest=unreadable.latest
        )
        if present_u.any() and not ok_u[present_u].any():
            serials = _excel_serials(dc.clean)
            if serials is not None:  # no value reads as a date, every one as a day number
                dt_u, ht_u, ok_u = serials
                when.date_order = "Excel serial day numbers (1900 date system)"
                unreadable.notes.append(
                    f"{unreadable.name}: the column '{mapping[date_role]}' holds whole numbers "
                    f"such as '{dc.clean[present_u].iloc[0]}', read as Excel's serial day numbers "
                    "(days since 30 December 1899, a fraction for the time of day), as a "
                    "spreadsheet saved to CSV without date formatting writes them."
                )
        dt_u, ht_u, ok_u, why = _refused_dates(dc, present_u, (dt_u, ht_u, ok_u), unreadable)
        when.dt, when.has_time, ok = dt_u[dc.codes], ht_u[dc.codes], ok_u[dc.codes]
        _placeholder_times(when, mapping[date_role], unreadable)
        present = ~dc.blank()
        unreadable(
            present & ~ok, present, mapping[date_role], dc, "is not a date this reader knows", why
        )
        for role in ("time", "hour"):
            if role in mapping:
                _add_time_of_day(when, ok, role, mapping[role], col(mapping[role]), unreadable)
        when.month = _month_start(when.dt)
    if "month" in mapping:
        mc = col(mapping["month"])
        mon_u, mok_u = _months_of(mc.clean_arrow)
        false_u = unreadable.cannot_be_true(mon_u, mok_u)
        if false_u.any():  # a month that cannot be true (police.uk "2099-01")
            mon_u = np.where(false_u, np.datetime64("NaT", "ns"), mon_u)
            mok_u = mok_u & ~false_u
        if len(mon_u) == 1:  # a police.uk file: one month (a view, no memory)
            mon, mok = np.broadcast_to(mon_u[0], n), np.broadcast_to(mok_u[0], n)
        else:
            mon, mok = mon_u[mc.codes], mok_u[mc.codes]
        if date_role is None:
            present = ~mc.blank()
            why = [unreadable.false_dates(false_u[mc.codes])] if false_u.any() else []
            unreadable(
                present & ~mok, present, mapping["month"], mc, "is not a month (YYYY-MM)", why
            )
            when.month = mon  # no row has a date
        else:
            when.month = np.where(np.isnat(when.month), mon, when.month)
    return when


#: How :func:`window_times` timed each row, by its level code (the index): to the hour (the
#: window's midpoint), the day, the month, the month of the midpoint of a longer window; the
#: start alone for a blank end, an end that cannot be read, an end before the start.
WINDOW_LEVELS = (
    "hour", "day", "month", "longer", "no_end", "end_unreadable", "end_before_start",
)  # fmt: skip
_HOUR_NS = 3_600 * 10**9


def window_times(
    start: np.ndarray, start_timed: np.ndarray, end: np.ndarray, end_timed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """When incidents recorded as time windows ("Committed From" ... "Committed To") happened,
    each level of time used only where the window fixes it.

    A window runs from its start (midnight when only the date is written) to its end (the end
    of that day when only the date is written). This is this tool's heuristic: a window of an
    hour or less gives the time of day (its midpoint); one within a calendar day the date (its
    weekday) but no time; one within a calendar month the month only (as police.uk's
    month-only rows: no date); a longer one the month of its midpoint. A row without an end,
    with an end that cannot be read or that lies before the start is timed by its start, as a
    single date column is. Aoristic analysis (Ratcliffe and McCullagh 1998, "Aoristic crime
    analysis", International Journal of Geographical Information Science 12(7), 751-764;
    Ratcliffe 2002, "Aoristic signatures and the spatio-temporal analysis of high volume
    crime patterns", Journal of Quantitative Criminology 18(1), 23-43) would instead spread
    each incident's weight over the hours its window covers; it is not implemented: every
    profile here counts whole incidents, and a long window then counts in no hour rather than
    smeared over many.

    Parameters
    ----------
    start, end : numpy.ndarray of datetime64[ns]
        Each row's start and end, NaT where blank or unreadable.
    start_timed, end_timed : numpy.ndarray of bool
        Whether a time of day was written with the start, the end.

    Returns
    -------
    dt : numpy.ndarray of datetime64[ns]
        The date and time (midnight when only the date is known), NaT when only the month is.
    has_time : numpy.ndarray of bool
        Whether ``dt`` carries a time of day.
    month : numpy.ndarray of datetime64[ns]
        First day of the month (NaT without a start).
    level : numpy.ndarray of int8
        Index in :data:`WINDOW_LEVELS`, -1 where the start is unknown.

    Examples
    --------
    >>> t = lambda *v: np.array(v, dtype="datetime64[ns]")
    >>> dt, timed, month, level = window_times(
    ...     t("2024-03-01T23:00", "2024-03-01T23:00"), np.array([True, True]),
    ...     t("2024-03-01T23:40", "2024-03-02T07:00"), np.array([True, True]))
    >>> dt.astype(str).tolist(), timed.tolist(), [WINDOW_LEVELS[i] for i in level]
    (['2024-03-01T23:20:00.000000000', 'NaT'], [True, False], ['hour', 'month'])
    """
    s = np.asarray(start, dtype="datetime64[ns]")
    e = np.asarray(end, dtype="datetime64[ns]")
    s_timed = np.asarray(start_timed, dtype=bool)
    e_timed = np.asarray(end_timed, dtype=bool)
    day = np.timedelta64(1, "D")
    known, ended = ~np.isnat(s), ~np.isnat(e)
    # the window's end: the time written, else the midnight ending the day written
    stop = np.where(e_timed, e, e.astype("datetime64[D]").astype("datetime64[ns]") + day)
    span = (stop - s).astype(np.int64)  # ns; meaningless where either is NaT
    last = np.where(span > 0, stop - np.timedelta64(1, "ns"), s)  # the window's last instant
    level = np.full(len(s), -1, dtype=np.int8)
    level[known] = 4  # no end
    both = known & ended
    # before its start: a time written earlier, or a day written before the start's day
    before = both & ((stop < s) | (~e_timed & (stop <= s)))
    window = both & ~before
    hour = window & (span <= _HOUR_NS)
    same_day = window & ~hour & (s.astype("datetime64[D]") == last.astype("datetime64[D]"))
    same_month = window & ~hour & ~same_day
    same_month &= s.astype("datetime64[M]") == last.astype("datetime64[M]")
    longer = window & ~hour & ~same_day & ~same_month
    level[hour], level[same_day], level[same_month], level[longer] = 0, 1, 2, 3
    level[before] = 6
    mid = s + (np.where(window, span, 0) // 2).astype("timedelta64[ns]")
    dt = np.where(hour, mid, s)
    dt = np.where(same_day, s.astype("datetime64[D]").astype("datetime64[ns]"), dt)
    dt[same_month | longer] = np.datetime64("NaT")
    has_time = hour | (known & s_timed & ~(same_day | same_month | longer))
    month = _month_start(np.where(longer, mid, s))
    return dt, has_time, month, level


@dataclass
class _Window:
    """A file whose dates are time windows: the start's and the end's columns and how each row
    was timed (:data:`WINDOW_LEVELS`)."""

    start: str
    end: str
    levels: np.ndarray  # int8 per row
    # one date with a start and an end time: the rows whose end time, earlier than the start
    # time, was read on the next day (None for a window with its own end date)
    next_day: np.ndarray | None = None

    def counts(self, ok: np.ndarray) -> dict[str, int]:
        """The rows ``ok`` (valid in the file) by how they were timed (and, for a window of
        times on one date, ``end_next_day``: how many ended on the next day)."""
        levels = self.levels[ok]
        counts = np.bincount(levels[levels >= 0], minlength=len(WINDOW_LEVELS))
        out = {name: int(c) for name, c in zip(WINDOW_LEVELS, counts, strict=True)}
        if self.next_day is not None:
            out["end_next_day"] = int(np.count_nonzero(self.next_day[ok]))
        return out


def _time_window(
    name: str,
    mapping: Mapping[str, str],
    col: Callable[[str], _Col],
    when: _When,
    *,
    day_first_default: bool,
    latest: np.datetime64 | None = None,
) -> tuple[_When, _Window | None]:
    """``when`` (read from the start's columns) retimed by the window's end (:func:`window_times`);
    unchanged without end columns (None).

    The end is read as the start is (day/month order: the start's; an end after ``latest``
    cannot be true, as a start could not); an end that cannot be read never rejects a row,
    whose start then times it (counted). An end time without an end date ("Date", "Time
    From", "Time To") is on the start's date, or on the next day when it is earlier than the
    start time (a window crossing midnight: 23:30 to 00:20).
    """
    ends = {start: mapping[end] for end, start in END_ROLES.items() if end in mapping}
    if not ends:  # (an end needs a start: _settle_date_roles drops it otherwise)
        return when, None
    one_date = set(ends) == {"time"}
    if one_date:
        ends["date"] = mapping["date"]
    n = len(when.dt)
    order = when.date_order
    day_first = (
        True if order.startswith("day-first") else False
        if order.startswith("month-first") else day_first_default
    )  # fmt: skip
    # read with the start's rules, the end's unreadable values kept aside (not rejected)
    quiet = _UnreadableDates(name, "keep", _Rejects(n), [], np.zeros(n, dtype=bool), latest=latest)
    end = _read_dates(ends, col, n, day_first_default=day_first, unreadable=quiet)
    next_day = None
    if one_date:  # an end time before the start time: past midnight, on the next day
        next_day = end.has_time & when.has_time & (end.dt < when.dt)
        end.dt = np.where(next_day, end.dt + np.timedelta64(1, "D"), end.dt)
        # without its time (blank or unreadable) the end is not known: the date is the start's
        end.dt = np.where(end.has_time, end.dt, np.datetime64("NaT", "ns"))
        del ends["date"]  # (whether an end was written: its time's column only)
    dt, has_time, month, level = window_times(when.dt, when.has_time, end.dt, end.has_time)
    given = np.zeros(n, dtype=bool)
    for c in ends.values():
        given |= ~col(c).blank()
    level[(level == 4) & given] = 5  # an end written but not read
    month = np.where(np.isnat(month), when.month, month)  # a month column's, if any
    start = "+".join(mapping[r] for r in ("datetime", "date", "time") if r in mapping)
    shown_end = "+".join(ends[r] for r in ("datetime", "date", "time") if r in ends)
    if one_date:
        shown_end = f"{mapping['date']}+{shown_end}"
    window = _Window(start, shown_end, level, next_day)
    return _When(dt, has_time, month, when.date_order), window


def _refused_dates(
    dc: _Col,
    present_u: np.ndarray,
    parsed: tuple[np.ndarray, np.ndarray, np.ndarray],
    unreadable: _UnreadableDates,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[np.ndarray, str, str]]]:
    """The distinct values of a date column read (``parsed``: datetime, has_time, ok) with
    those that cannot be true unread, and ``why`` (:class:`_UnreadableDates`) of the rows: a
    date that reads only in the order the user did not give, a date that cannot be true."""
    dt_u, ht_u, ok_u = parsed
    why = []
    order = unreadable.date_order
    if order != "auto":
        day_first = order == "day-first"
        contra_u = present_u & ~ok_u & _order_given(dc.clean, day_first)
        if contra_u.any():
            first, other = ("day", "month") if day_first else ("month", "day")
            said = (
                f"read only with the {other} first, not the {first} first that "
                f"{_ORDER_GIVEN[order]} gives; fix: give the order the file uses, or 'auto'"
            )
            why.append((contra_u[dc.codes], said.replace("read only", "reads only"), said))
    false_u = unreadable.cannot_be_true(dt_u, ok_u)
    if false_u.any():
        dt_u = np.where(false_u, np.datetime64("NaT", "ns"), dt_u)
        ht_u, ok_u = ht_u & ~false_u, ok_u & ~false_u
        why.append(unreadable.false_dates(false_u[dc.codes]))
    return dt_u, ht_u, ok_u, why


# A cell holding a point rather than words: "(41.878, -87.629)" (Chicago's Location, NYPD's
# Lat_Lon) or "POINT (-122.41 37.78)" (San Francisco's Point).
_POINT_TEXT = r"^\(?\s*-?\d+(?:\.\d+)?\s*,\s*-?\d+(?:\.\d+)?\s*\)?$|^POINT\s*\("

#: The first characters a value matching :data:`_POINT_TEXT` may start with (Python's ``\s``
#: and ``\d``: any Unicode space or decimal digit).
_POINT_START = re.compile(r"[(\s\d-]|P")


def _mostly_points(values: pa.Array) -> bool:
    """Whether at least half of the non-empty ``values`` (a column's distinct cleaned values:
    :attr:`_Col.clean_arrow`) match :data:`_POINT_TEXT`; False when none is non-empty.

    The regular expression runs in Python on each value; a street name cannot match, so the
    values are first told apart in Arrow by their first character (a few distinct ones, each
    tested once), and where fewer than half could match the answer is known without it.
    """
    values = values.filter(pc.not_equal(values, ""))
    if not len(values):
        return False
    firsts = pc.utf8_slice_codeunits(values, 0, 1)
    could = [c for c in pc.unique(firsts).to_pylist() if _POINT_START.match(c)]
    maybe = pc.sum(pc.is_in(firsts, value_set=pa.array(could, firsts.type))).as_py() or 0
    if 2 * maybe < len(values):
        return False
    text = values.to_pandas().astype(str)
    return float(text.str.contains(_POINT_TEXT).mean()) >= 0.5


def _location_words(
    header: list[str], mapping: dict[str, str], given: Mapping[str, str | None], col: Any
) -> None:
    """Replace a location column found by name that holds points, not words (Chicago's
    ``Location`` is "(41.878, -87.629)"), by the next location column by name (its ``Block``),
    or drop it: a hot spot's most frequent location is shown to people as a place name."""
    if "location" not in mapping or "location" in given:
        return
    used = set(mapping.values())
    norm: dict[str, str] = {}
    for h in header:
        norm.setdefault(_normalise(h), h)
    while "location" in mapping:
        if not _mostly_points(col(mapping["location"]).clean_arrow):
            return
        del mapping["location"]
        nxt = _find(norm, "location", used)
        if nxt is not None:
            mapping["location"] = nxt
            used.add(nxt)


_PART_NAMES = ("year", "month", "day", "hour", "minute")
_MONTH_NAMES = {m: i + 1 for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"))}  # fmt: skip


def _date_parts(
    header: list[str], mapping: dict[str, str], given: Mapping[str, str | None]
) -> dict[str, str]:
    """The year, month, day (and hour, minute) columns of a file without a date column.

    Vancouver's VPD export writes YEAR, MONTH, DAY, HOUR, MINUTE and no date. Columns named
    exactly so, or with one shared prefix or suffix ("OCC_YEAR", "OCC_MONTH", "OCC_DAY"), are
    used; a month or hour column found by name is taken over (removed from ``mapping``).
    Returns {} when the file has a date column, or lacks the year, month or day.
    """
    if {"date", "datetime"} & set(mapping) or {"date", "datetime", "month"} & set(given):
        return {}
    norm: dict[str, str] = {}
    for h in header:
        norm.setdefault(_normalise(h), h)
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for key, col in norm.items():
        words = key.split("_")
        for i, w in enumerate(words):
            if w in _PART_NAMES:
                affix = ("_".join(words[:i]), "_".join(words[i + 1 :]))
                groups.setdefault(affix, {}).setdefault(w, col)
    for affix in sorted(groups, key=lambda a: (len(a[0]) + len(a[1]), a)):
        found = groups[affix]
        if {"year", "month", "day"} <= set(found):
            parts = {k: found[k] for k in _PART_NAMES if k in found}
            if "hour" not in parts and "hour" in mapping:  # an hour found by another name
                parts["hour"] = mapping["hour"]
            for role in ("month", "hour", "time"):
                mapping.pop(role, None)
            return parts
    return {}


def _dates_from_parts(
    parts: Mapping[str, str], col: Callable[[str], _Col], n: int, unreadable: _UnreadableDates
) -> _When:
    """When each row happened, from its year, month (number or English name), day and, where
    written, hour and minute columns; a row whose year, month or day cannot be read has no date
    (kept or rejected as ``unreadable_dates=`` says)."""

    def number(role: str) -> np.ndarray:
        c = col(parts[role])
        v = c.floats(degrees=False)
        if role == "month":  # "January"
            names = c.clean.str.lower().map(_MONTH_NAMES).to_numpy(dtype=float)
            v = np.where(np.isnan(v), names[c.codes], v)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(v) & (v == np.round(v)), v, np.nan)

    y, mo, d = number("year"), number("month"), number("day")
    frame = pd.DataFrame({"year": y, "month": mo, "day": d})
    with np.errstate(invalid="ignore"):
        sane = (y >= 1000) & (y <= 9999) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
    day = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if sane.any():
        got = pd.to_datetime(frame[sane].astype(int), errors="coerce")  # 31 April -> NaT
        day[sane] = got.to_numpy(dtype="datetime64[ns]")
    false = unreadable.cannot_be_true(day, ~np.isnat(day))
    why = []
    if false.any():
        day[false] = np.datetime64("NaT")
        why.append(unreadable.false_dates(false))
    ok = ~np.isnat(day)
    yc = col(parts["year"])
    present = ~(yc.blank() | col(parts["month"]).blank() | col(parts["day"]).blank())
    unreadable(
        present & ~ok, present, parts["year"], yc, "with its month and day is not a date", why
    )
    dt, has_time = day.copy(), np.zeros(n, dtype=bool)
    if "hour" in parts:
        h = number("hour")
        mi = number("minute") if "minute" in parts else np.zeros(n)
        with np.errstate(invalid="ignore"):
            timed = ok & (h >= 0) & (h <= 23) & (np.nan_to_num(mi, nan=0) >= 0) & (
                np.nan_to_num(mi, nan=0) <= 59)  # fmt: skip
        offset = (np.nan_to_num(h) * 60 + np.nan_to_num(mi)).astype(np.int64)
        dt = np.where(timed, day + offset.astype("timedelta64[m]"), day)
        has_time = timed
    return _When(dt, has_time, _month_start(day), "year, month and day columns")


#: Rows with a time in the date column needed before times taking one or two values are taken
#: for placeholders: in so many real incidents, two times of day only is no chance.
PLACEHOLDER_MIN_ROWS = 24


def _placeholder_times(when: _When, column: str, unreadable: _UnreadableDates) -> None:
    """Drop the times of a date column whose times of day take one or two values only.

    A date exported as a date-time (LAPD's "12:00:00 AM" on every row, Toronto's local midnight
    in UTC: 05:00 in winter, 04:00 in summer) says nothing of the time of day; read as times,
    every incident would fall in one hour. The dates are kept and the rows have no time (a time
    or hour column, if any, then gives it).
    """
    timed = np.flatnonzero(when.has_time)
    if len(timed) < PLACEHOLDER_MIN_ROWS:
        return
    day = when.dt.astype("datetime64[D]").astype("datetime64[ns]")
    tod = np.unique((when.dt[timed] - day[timed]).astype(np.int64))
    if len(tod) > 2:
        return
    when.dt = day
    when.has_time = np.zeros(len(when.dt), dtype=bool)
    minutes = [int(t) // 60_000_000_000 for t in tod]
    shown = " or ".join(f"{m // 60:02d}:{m % 60:02d}" for m in minutes)
    unreadable.notes.append(
        f"{unreadable.name}: the times in '{column}' are all {shown}: a date written as a "
        "date-time, not a time of day; the dates are read without it."
    )


#: Excel serial day numbers read as dates (:func:`_excel_serials`): 1954-10-03 to 2119-01-11,
#: so neither a count nor a YYYYMMDD number (eight digits) nor a Unix time is taken for one.
_EXCEL_SERIALS = (20_000, 80_000)
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")


def _excel_serials(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``values`` (cleaned text) as Excel serial day numbers when every non-blank one is a
    five-digit number in :data:`_EXCEL_SERIALS` (a fraction the time of day): (datetime64[ns],
    has_time, ok) as :func:`_parse_datetimes` gives; None otherwise."""
    present = (values != "").to_numpy()
    text = values[present]
    if not len(text) or not text.str.fullmatch(r"\d{5}(?:\.\d+)?").all():
        return None
    days = text.astype(float).to_numpy()
    lo, hi = _EXCEL_SERIALS
    if not ((days >= lo) & (days < hi)).all():
        return None
    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    seconds = np.round(days * 86_400).astype(np.int64)
    out[present] = _EXCEL_EPOCH + seconds.astype("timedelta64[s]").astype("timedelta64[ns]")
    has_time = np.zeros(n, dtype=bool)
    has_time[present] = days != np.floor(days)
    return out, has_time, present.copy()


def _add_time_of_day(
    when: _When,
    dated: np.ndarray,
    role: str,
    column: str,
    tc: _Col,
    unreadable: _UnreadableDates,
) -> None:
    """Add a time (``HH:MM``...) or hour (0-23) column to the dates read (``dated`` rows).

    A ``time`` column of whole numbers 0-23 only is read as hours; one of whole numbers of up to
    four digits, some above 23, as HHMM written as a number (LAPD's ``TIME OCC``: "45" is
    00:45, "1830" 18:30). A time written in the date column wins over an hour column.
    """
    values = tc.clean[tc.clean != ""]
    digits = len(values) > 0 and bool(values.str.fullmatch(r"\d{1,4}").all())
    hours = role == "hour" or (
        digits and bool(values.str.len().le(2).all()) and int(pd.to_numeric(values).max()) <= 23
    )  # fmt: skip
    hhmm = role == "time" and digits and not hours and bool(values.str.len().le(2).any())
    # every value a decimal fraction below 1: a spreadsheet's times without a time format
    fractions = role == "time" and len(values) > 0 and bool(values.str.fullmatch(r"0?\.\d+").all())
    text = tc.clean.str.zfill(4).where(tc.clean != "", "") if hhmm else tc.clean
    if fractions:
        td_u, tok_u = _parse_day_fractions(tc.clean)
    else:
        td_u, tok_u = _parse_hours(tc.clean) if hours else _parse_times(text)
    td, tok = td_u[tc.codes], tok_u[tc.codes]
    tpresent = ~tc.blank()
    tail = "is not an hour of the day (0-23)" if hours else "is not a time of day"
    unreadable(tpresent & ~tok, tpresent, column, tc, tail, time_only=True)
    use = dated & tpresent & tok
    if role == "hour":
        use &= ~when.has_time  # a time written in the date column wins
    day = when.dt.astype("datetime64[D]").astype("datetime64[ns]")
    when.dt = np.where(use, day + td, when.dt)
    when.has_time = when.has_time | use
    if hours and role == "time":
        unreadable.notes.append(
            f"{unreadable.name}: '{column}' holds whole hours; read as hour of day."
        )
    if fractions:
        example = values.iloc[0]
        sec = int(_parse_day_fractions(pd.Series([example]))[0][0] // np.timedelta64(1, "s"))
        unreadable.notes.append(
            f"{unreadable.name}: '{column}' holds times as fractions of a day (a spreadsheet's "
            f"time cells without a time format); read as such (e.g. '{example}' is "
            f"{sec // 3600:02d}:{sec % 3600 // 60:02d})."
        )
    if hhmm:
        unreadable.notes.append(
            f"{unreadable.name}: '{column}' holds times as HHMM numbers without leading zeros; "
            f"read as such (e.g. '{values[values.str.len() <= 2].iloc[0]}' is "
            f"00:{int(values[values.str.len() <= 2].iloc[0]):02d})."
        )


# --------------------------------------------------------------------------------------------
# Spatial rules
# --------------------------------------------------------------------------------------------


def _cell_codes(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    return (ix.astype(np.int64) << 32) + (iy.astype(np.int64) + (1 << 31))


def _weighted_order_stat(
    v: np.ndarray, w: np.ndarray, near: int | None = None
) -> Callable[[int], float]:
    """``k -> the k-th smallest (0-based)`` of the values ``v`` repeated ``w`` times each.

    ``near``: the first of the (two) ranks that will be asked, for which only the values
    around it are sorted where there are many (:func:`_ranks_around`); other ranks, and a
    zero (whose sign is the whole sort's), take the sort of every value."""

    def sorted_stat(v: np.ndarray, w: np.ndarray) -> Callable[[int], float]:
        order = np.argsort(v)  # (equal values are one value: no need of a stable order)
        sv, cw = v[order], np.cumsum(w[order])
        return lambda k: sv[np.searchsorted(cw, k, side="right")]

    part = None if near is None else _ranks_around(v, w, near)
    if part is None:
        return sorted_stat(v, w)
    sub_v, sub_w, below = part
    some = sorted_stat(sub_v, sub_w)
    held = int(sub_w.sum())
    full: list[Callable[[int], float]] = []

    def at(k: int) -> float:
        if below <= k < below + held:
            value = some(k - below)
            if value != 0:
                return value
        if not full:
            full.append(sorted_stat(v, w))
        return full[0](k)

    return at


#: Values from which :func:`_ranks_around` selects before sorting (fewer are sorted at once).
_SELECT_MIN = 8192


def _ranks_around(
    v: np.ndarray, w: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The values of ``v`` (weights ``w``, integers) whose places among the values repeated
    hold the ranks ``k`` and ``k + 1``: (those values, their weights, the weight of the values
    below them), found by partitioning round where ``k`` would fall were the weights even,
    without sorting every value. None where there are few values, a value is not finite, or
    the weights are too uneven for the ranks to fall there (then sort them all)."""
    n = len(v)
    if n < _SELECT_MIN or w.dtype.kind not in "iu" or not np.isfinite(v).all():
        return None
    total = int(w.sum())
    if not 0 <= k < total - 1:
        return None
    at = int(n * ((k + 0.5) / total))
    half = n // 16
    lo, hi = max(at - half, 0), min(at + half, n - 1)
    part = np.partition(v, [lo, hi])
    low, high = part[lo], part[hi]
    under = v < low
    w_under = int(w[under].sum())
    inside = ~under & (v <= high)
    sub_w = w[inside]
    if not w_under <= k < k + 1 < w_under + int(sub_w.sum()):
        return None
    return v[inside], sub_w, w_under


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    """``np.median`` of ``v`` repeated ``w`` times each, without repeating them."""
    n = int(w.sum())
    at = _weighted_order_stat(v, w, max(n // 2 - 1, 0))
    if n % 2:
        return float(at(n // 2))
    return float(np.mean([at(n // 2 - 1), at(n // 2)]))


def _weighted_percentile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    """``np.percentile(.., q)`` (linear) of ``v`` repeated ``w`` times each, without repeating."""
    n = int(w.sum())
    at = _weighted_order_stat(v, w, int(np.floor((n - 1) * np.true_divide(q, 100))))
    virtual = (n - 1) * np.true_divide(q, 100)
    if virtual >= n - 1:
        return float(at(n - 1))
    prev = int(np.floor(virtual))
    gamma = virtual - prev
    a, b = at(prev), at(prev + 1)
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def _outliers(
    x: np.ndarray,
    y: np.ndarray,
    fixed_km: float | None,
    weight: np.ndarray | None = None,
    stacks: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any], str]:
    """Flag isolated points far from the dense body of the data.

    A point is *isolated* when its 1 km grid cell and the 8 cells around it (a 3 km square) hold
    fewer than 5 incidents. The *dense body* is every non-isolated incident. An isolated point is
    an outlier when it lies more than ``D`` from the nearest dense incident, where ``D`` is
    ``fixed_km`` when given, else ``max(10 km, 2 x the 95th-percentile distance of dense
    incidents from their median point)``: 10 km for a city centre, ~40 km for a whole force,
    hundreds of km for national data (which therefore loses nothing).

    A *stack* (5 or more rows at one exact point with nothing else in its 3 km square: a
    placeholder location many rows share, such as a "no location" coordinate far out at sea) is
    dense by the count, but is an outlier as well when it lies more than ``D`` from every other
    dense incident. ``stacks`` (bool, one per point), when given, is set where such stacks are.

    ``x, y`` may be distinct points with ``weight`` incidents at each (police.uk snaps incidents
    to shared map points); the result is the same as for the incidents one by one.
    """
    n = len(x)
    w = np.ones(n, dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
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
    ucodes, inv = _sorted_distinct(codes)
    cnt = np.bincount(inv, weights=w, minlength=len(ucodes)).astype(np.int64)
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
    dx_, dy_, dw = x[dense], y[dense], w[dense]
    if fixed_km is not None:
        dist_m = fixed_km * 1000.0
    else:
        mx, my = _weighted_median(dx_, dw), _weighted_median(dy_, dw)
        p95 = _weighted_percentile(np.hypot(dx_ - mx, dy_ - my), dw, 95)
        dist_m = max(OUTLIER_FLOOR_KM * 1000.0, OUTLIER_SPREAD_FACTOR * p95)
    params["distance_km"] = round(dist_m / 1000.0, 3)
    iso = ~dense
    if iso.any():
        core = np.column_stack([dx_, dy_])
        ipts = np.column_stack([x[iso], y[iso]])
        iinv = np.arange(len(ipts))
        if weight is None:  # one point per incident: each place once (distinct points are)
            core = np.unique(core, axis=0)
            ipts, iinv = np.unique(ipts, axis=0, return_inverse=True)
        far = ~_near_dense(ipts, core, dist_m)  # the rest are within D of a dense point
        if far.any():  # only these need the nearest dense point's distance
            far[far] = _beyond(ipts[far], core, dist_m)
        flag[np.flatnonzero(iso)] = far[np.ravel(iinv)]
    far_stacks = _far_stacks(x, y, dense, inv, cnt, total, dist_m)
    flag |= far_stacks
    if stacks is not None:
        stacks[:] = far_stacks
    return flag, params, ""


def _far_stacks(
    x: np.ndarray,
    y: np.ndarray,
    dense: np.ndarray,
    inv: np.ndarray,
    cnt: np.ndarray,
    total: np.ndarray,
    dist_m: float,
) -> np.ndarray:
    """The points of :func:`_outliers`' stacks lying more than ``dist_m`` from every other dense
    point (per point of ``x, y``)."""
    out = np.zeros(len(x), dtype=bool)
    # a stack's 3 km square holds incidents in its own cell only, all at one point
    cand = np.flatnonzero(dense & (total == cnt)[inv])
    if not len(cand):
        return out
    # one point per cell: its smallest and largest x and y agree (cells in sorted order)
    order = np.argsort(inv[cand], kind="stable")
    cand = cand[order]
    cells, start = np.unique(inv[cand], return_index=True)
    one = np.ones(len(cells), dtype=bool)
    for v in (x[cand], y[cand]):
        one &= np.minimum.reduceat(v, start) == np.maximum.reduceat(v, start)
    stack = cand[one[np.searchsorted(cells, inv[cand])]]
    if not len(stack):
        return out
    rest = dense.copy()
    rest[stack] = False
    if not rest.any():
        return out
    pts, pinv = np.unique(np.column_stack([x[stack], y[stack]]), axis=0, return_inverse=True)
    core = np.column_stack([x[rest], y[rest]])  # repeated points cost a little, not a sort
    far = ~_near_dense(pts, core, dist_m)
    if far.any():
        far[far] = _beyond(pts[far], core, dist_m)
    out[stack] = far[np.ravel(pinv)]
    return out


#: Points times dense points up to which :func:`_beyond` measures every distance instead of
#: building a KD-tree of the dense points (a few isolated points among 600,000 national ones).
_BRUTE_PAIRS = 1 << 23


def _beyond(pts: np.ndarray, core: np.ndarray, dist_m: float) -> np.ndarray:
    """Per point of ``pts`` (n, 2): whether its nearest point of ``core`` is more than ``dist_m``
    away, as :class:`scipy.spatial.cKDTree` finds it. A few points are measured against every
    core point; a squared distance within a relative 1e-9 of ``dist_m`` squared (far above
    rounding) is left to the KD-tree, so each answer is the tree's."""
    if len(pts) * len(core) > _BRUTE_PAIRS:
        d, _ = cKDTree(core).query(pts, k=1)
        return d > dist_m
    out = np.zeros(len(pts), dtype=bool)
    unsure = np.zeros(len(pts), dtype=bool)
    lo2, hi2 = (dist_m * (1 - 1e-9)) ** 2, (dist_m * (1 + 1e-9)) ** 2
    cx, cy = core[:, 0], core[:, 1]
    for i, (px, py) in enumerate(pts):
        d2 = float(np.min(np.square(cx - px) + np.square(cy - py)))
        out[i] = d2 > hi2
        unsure[i] = not (d2 < lo2 or hi2 < d2 < np.inf)  # (or not a number: the tree's error)
    if unsure.any():
        d, _ = cKDTree(core).query(pts[unsure], k=1)
        out[unsure] = d > dist_m
    return out


def _near_dense(pts: np.ndarray, core: np.ndarray, dist_m: float) -> np.ndarray:
    """Per point of ``pts`` (n, 2): whether some point of ``core`` surely lies within
    ``dist_m`` of it, because both fall in one square cell whose diagonal is shorter than
    ``dist_m`` (by a margin far above rounding, so the nearest core point's distance, as
    :class:`scipy.spatial.cKDTree` computes it, is at most ``dist_m`` too). False means "not
    known": the caller measures the distance. National data, whose outlier distance is hundreds
    of km, so needs no KD-tree of its 600,000 dense map points."""
    near = np.zeros(len(pts), dtype=bool)
    cell = dist_m / np.sqrt(2.0) * (1.0 - 1e-6)
    if not len(pts) or not len(core) or not cell > 0 or not np.isfinite(cell):
        return near
    both = np.concatenate([pts, core])
    grid = np.floor(both / cell)
    if not (np.abs(grid) < 2**30).all():  # the cells must fit _cell_codes' 32 bits each
        return near
    grid = grid.astype(np.int64)
    codes = _cell_codes(grid[:, 0], grid[:, 1])
    return np.isin(codes[: len(pts)], pd.unique(codes[len(pts) :]))


def _sorted_distinct(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` of int64 codes, by hashing: only the distinct
    values are sorted."""
    at, distinct = pd.factorize(codes)
    order = np.argsort(distinct)
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct))
    return distinct[order], rank[at]


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
        codes = _cell_codes(ix, iy)
        distinct = pd.unique(codes)  # counted by hashing, sorted once
        if len(distinct) <= STUDY_MAX_CELLS:
            occ = np.sort(distinct)
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
    edge = _hull_candidates(x, y)
    uniq = np.unique(np.column_stack([x[edge], y[edge]]), axis=0)
    hull = shapely.convex_hull(shapely.multipoints(uniq)).buffer(STUDY_HULL_MARGIN_M)
    return shapely.intersection(shapely.union_all(boxes), hull), cell


def _hull_candidates(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per point: whether it may lie on the convex hull of the points (metres).

    The points strictly inside the octagon of the extreme points in eight directions (the
    reduction GEOS's convex hull makes first, ``ConvexHull::reduce``) cannot: they are dropped
    before the hull is built (600,000 national map points: 1.5 s -> a few ms), the rest in the
    same order. The test is conservative (a point within rounding of an edge is kept), so the
    hull is GEOS's hull of all the points.
    """
    keep = np.ones(len(x), dtype=bool)
    if len(x) < 1000:
        return keep
    d, s = x - y, x + y
    at = [np.argmin(x), np.argmin(d), np.argmax(y), np.argmax(s),
          np.argmax(x), np.argmax(d), np.argmin(y), np.argmin(s)]  # fmt: skip
    ring = [int(i) for k, i in enumerate(at) if k == 0 or i != at[k - 1]]
    if len(ring) > 1 and ring[-1] == ring[0]:
        ring.pop()
    if len(set(ring)) < 3:
        return keep
    inside = np.ones(len(x), dtype=bool)
    for a, b in zip(ring, ring[1:] + ring[:1], strict=True):  # clockwise: inside on the right
        ex, ey = x[b] - x[a], y[b] - y[a]
        px, py = x - x[a], y - y[a]
        t1, t2 = ex * py, ey * px
        inside &= t1 - t2 < -1e-9 * (np.abs(t1) + np.abs(t2))
    keep[inside] = False
    return keep


def default_study_area(x: np.ndarray, y: np.ndarray) -> BaseGeometry:
    """The study area :func:`read_incidents` draws round points (metres) when none is given."""
    return _default_study_area(np.asarray(x, dtype=float), np.asarray(y, dtype=float))[0]


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
            msg = (
                "study_area must be a path, a GeoDataFrame or a shapely geometry, "
                f"not {type(study_area).__name__}."
            )
            raise ParameterError(msg)
    except (ParameterError, InputError):
        raise
    except Exception as exc:
        msg = f"Could not read the study area ({exc})."
        raise InputError(
            msg,
            file=str(study_area) if isinstance(study_area, str | os.PathLike) else None,
            hint="give a GeoJSON polygon in WGS84 or a shapely polygon.",
        ) from exc
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
    unreadable_dates: str = "auto",
    progress: Progress | None = None,
    coordinate_crs: Any = None,
    date_order: str = "auto",
) -> Incidents:
    """Read incident CSV files into validated :class:`~hotspots.incidents.Incidents`.

    Parameters
    ----------
    sources : path, folder, file object, (name, bytes) or a sequence of these
        CSV, Parquet or spreadsheet input (a workbook is one file per visible sheet:
        :mod:`hotspots.spreadsheets`). A folder means every ``*.csv``, ``*.parquet``, ``*.pq``
        and workbook (``*.xlsx``, ``*.xls``, ``*.ods``...) in it
        or its subfolders (police.uk's download holds a folder per month; a partitioned Parquet
        dataset its parts), in the order of their paths. A zip archive (police.uk's download as
        it comes) means the same files inside it, a gzip-compressed file its contents.
        police.uk's outcomes and stop and search files are not incidents: they are not read,
        and the report's notes and ``choices["skipped_files"]`` name each one. File objects need
        a ``name`` (Streamlit uploads).
    columns : dict, optional
        Role -> column name, overriding detection for those roles. Roles: ``lon``, ``lat``
        (WGS84 degrees), ``easting``, ``northing`` (British National Grid metres, or
        ``coordinate_crs``), ``date``,
        ``time``, ``hour`` (whole hour of the day, 0-23), ``datetime``, ``month``,
        ``crime_type``, ``weight``, ``id``, ``location``. Map a role to ``None`` to ignore that
        column.
    crime_types : "default", "all" or list of str, default "default"
        ``"default"`` keeps :data:`VIOLENCE_TYPES_POLICE_UK` in police.uk files; in other files
        with a crime type column it keeps the types whose name contains a
        :data:`VIOLENCE_KEYWORDS` stem (a note lists the types kept and dropped), or every row
        when no type does (e.g. a file of one offence such as "personal robbery" is kept whole
        either way); files without a crime type column are kept whole. ``"all"`` keeps every
        row. A list keeps exactly those types (case-insensitive); names found in no file are
        warned about. Applied by :func:`filter_incidents`.
    harm_weights : dict, optional
        Crime type -> harm weight (>= 0), e.g. Cambridge Crime Harm Index days. Every kept crime
        type must be mapped; weights are never invented. Overrides a weight column.
    study_area : path, GeoDataFrame or shapely geometry, optional
        Polygon(s) of the study area. Files and bare geometries are WGS84 lon/lat (a bare
        geometry is in ``crs`` when ``crs`` is given). Points outside are rejected.
    crs : pyproj CRS input, optional
        The analysis CRS: a projected CRS in metres (distances, bandwidths and areas are
        metres), e.g. ``"EPSG:27700"`` or ``"EPSG:5070"`` for a whole-US file. A geographic
        CRS (degrees) or one in feet is refused (:class:`ParameterError` naming a fix); where
        its area of use leaves out some of the incidents, a warning and a note give their
        share. Default: :func:`hotspots.crs.choose_crs` (British National Grid in Great
        Britain, the local UTM zone elsewhere).
    outlier_km : float, bool or None, default None
        Distance (km) beyond which isolated points are outliers. ``None``: automatic (see Notes);
        ``0`` or ``False``: no outlier test. When ``study_area`` is given the polygon replaces the
        outlier test unless ``outlier_km`` is a number.
    date_from, date_to : date-like, optional
        Keep incidents on or after ``date_from`` and on or before ``date_to`` (a date without a
        time includes the whole day). Month-only rows are kept when their month overlaps the range.
    unreadable_dates : {"auto", "reject", "keep"}, default "auto"
        What happens to a row whose date, time or month cannot be read. ``"reject"``: it is
        rejected as ``unparseable date``. ``"keep"``: it is kept with an unknown date (it counts
        in maps and hot spots, not in time profiles, and falls outside any date range) and a note
        says how many. ``"auto"``: kept when most of that file's column cannot be read (a format
        this reader does not know must not cost every row its location), rejected otherwise (a
        stray bad value marks a bad row). A date that cannot be true is unreadable too: before
        :data:`EARLIEST_DATE` (1900-01-01) or after the day of the read plus
        :data:`DAYS_AHEAD` (this tool's heuristic bounds, see Notes), as is a date that
        contradicts the ``date_order`` given.
    progress : callable, optional
        ``progress(step, done, total)`` (:mod:`hotspots.progress`): ``"reading files"`` file by
        file, then ``"validating"``.

    coordinate_crs : pyproj CRS input, optional
        The CRS of the easting/northing columns (or x/y columns that are not longitude and
        latitude) when they are not British National Grid: any projected CRS, in metres or
        feet (a US State Plane zone such as ``"EPSG:3435"``, the Netherlands'
        ``"EPSG:28992"``). The points are placed on the earth from it, the analysis CRS is then
        chosen as for longitude/latitude, and a point that cannot be placed is rejected as
        ``coordinates out of range``; the report's notes and ``choices["coordinate_crs"]`` say
        so. Default: easting/northing are British National Grid metres (their range checked).
    date_order : {"auto", "day-first", "month-first"}, default "auto"
        The order of day and month in dates such as ``03/04/2022``. ``"auto"``: from the values
        and the region (see Notes). ``"day-first"`` or ``"month-first"``: as given; a date that
        reads only in the other order (its month would be above 12) is an unreadable date
        (``unreadable_dates``), said in a note and listed with the option and the fix. The order
        used, and that it was given, is recorded in ``choices["date_order"]``.

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

    See Also
    --------
    filter_incidents : crime types, dates and study area on incidents already read; read the
        files once with ``crime_types="all"`` and filter as often as needed.

    Notes
    -----
    **Parquet.** A file that starts with Parquet's magic bytes is read by pyarrow and its
    columns turned to text (numbers as Arrow prints them, timestamps ``YYYY-MM-DD HH:MM:SS``,
    nulls blank), so its rows take every check below and are accounted for the same way;
    ``source_row`` is the row's position plus one (the first row is 2, as in a CSV with its
    header on line 1).

    **Reading.** Bytes are decoded as UTF-16 (with a BOM), UTF-8 (BOM stripped), then cp1252,
    then latin-1. The delimiter is sniffed among comma, semicolon, tab and pipe. Fields are split
    by Arrow's multi-threaded CSV reader (excel dialect, as Python's csv module splits them);
    the csv module reads a file itself only when Arrow cannot tell on which line each record
    starts (blank lines inside the file, NUL bytes). Blank lines are skipped and not counted.
    ``source_row`` is the physical line where a record starts (header = line 1), so a quoted
    field spanning lines moves later rows' numbers on correctly. Rows with more or fewer fields
    than the header are rejected as ``malformed row``, and so are rows whose quoted field holds
    lines that read as rows of the file (a quote left open: the detail gives the lines it took,
    the raw fields hold them). A file with a valid header and no rows
    adds nothing; an empty or binary file is an :class:`InputError`. Values ``NA``, ``N/A``,
    ``null``, ``-``, ``NaN``, ``None`` and blanks are missing. Decimal commas are read in
    coordinate and weight columns. Every cleaning and parsing step runs once per distinct value
    of a column, so files stay quick however many rows share a map point or a month.

    **Dates.** ``date``/``datetime`` columns take ISO forms (``2019-01-01 20:00[:00]``,
    ``T`` separator, time-zone suffixes ignored: times are read as written) and
    ``dd/mm/yyyy [HH:MM[:SS]]`` style dates. Day/month order is taken from the values (a first
    field > 12 means day-first, a second field > 12 month-first); when every value is ambiguous,
    day-first is used except for data in the Americas (median longitude < 30 W), which are read
    month-first. A separate ``time`` column (``HH:MM[:SS]``, ``HHMM``, am/pm) is added to the date;
    a ``time`` column of whole numbers 0-23 only, or an ``hour`` column, gives the hour; a
    ``time`` column that holds whole timestamps (``2010-01-01T06:00:00Z``) is the date and time.
    ``has_time`` is True only where a time of day was written. Rows with only a date get
    ``datetime`` at midnight and ``has_time`` False; month-only rows (police.uk) get NaT.
    Blank dates are kept (month NaT) and counted in a note; unreadable ones follow
    ``unreadable_dates``. Two-digit years are the latest such year not after the read
    ('50' is 1950). Dates that cannot be true, before 1900-01-01 (no police record in a file
    goes back further; the zero date of spreadsheets, 1899-12-30, is a placeholder) or after
    the machine's date plus one day (time zones), are unreadable too: counted and said in a
    note with two examples and their lines, and recorded in
    ``choices["dates_that_cannot_be_true"]`` (rows and bounds). These bounds are this tool's
    heuristic. Synthetic data (a "Falls within" of
    :data:`~hotspots.incidents.SYNTHETIC_FORCE`: the demo, a simulated operation) may lie ahead.

    **Control characters.** A text file whose rows hold ANSI escape sequences (a terminal's
    colour codes) or other control characters below the space is read: they are removed from
    the fields read (coordinates, dates, crime type, location...), said in a note (rows, columns,
    first line); tab and line breaks are kept. Binary files (NUL bytes, not UTF-8) are still
    refused.

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

    **Rejection order.** malformed, coordinates, dates, weights, duplicates, outliers (these
    make the validated incidents), then the filters: study area polygon, crime type, date
    range. Each rejected row carries the first reason, with its raw fields.
    """
    opts = _options(
        columns, crime_types, harm_weights, crs, outlier_km, date_from, date_to, unreadable_dates,
        coordinate_crs, date_order,
    )  # fmt: skip

    def run() -> Incidents:
        items = _gather_lazy(sources)
        files = _read_files(
            items, opts.columns, opts.unreadable_dates, progress, grid=opts.coordinate_crs,
            date_order=opts.date_order,
        )  # fmt: skip
        return _combine(files, opts, study_area, progress, items.skipped)

    return _guarded(run)


def list_sources(sources: Any) -> SourceList:
    """Each input file's name and a loader that reads its bytes when called.

    Parameters
    ----------
    sources : path, folder, file object, (name, bytes) or a sequence of these
        As :func:`read_incidents`: a folder means its CSV and Parquet files and its subfolders'
        (:func:`hotspots.sources.folder_files`), a zip archive its members (police.uk's
        download), a gzip-compressed file its contents.

    Returns
    -------
    hotspots.sources.SourceList
        One ``(name, load)`` per file, in the order :func:`read_incidents` reads them. Nothing
        is read yet: ``load()`` returns the file's bytes (a path is read where ``load`` is
        called, so a worker of a cluster reads it from its own file system). Its ``skipped``
        lists police.uk's outcomes and stop and search files, which are not incidents (give
        them to :func:`combine_files`).

    Raises
    ------
    InputError
        A path that does not exist, a folder without CSV files, or no source at all.
    ParameterError
        A source of a type that cannot be read.
    """
    return _gather_lazy(sources)


def read_file(
    name: str,
    data: bytes | Callable[[], bytes],
    *,
    columns: Mapping[str, str | None] | None = None,
    unreadable_dates: str = "auto",
    keep_text: bool = True,
    coordinate_crs: Any = None,
    date_order: str = "auto",
) -> ValidatedFile:
    """Parse and validate one file on its own: the part of :func:`read_incidents` done per file.

    Parameters
    ----------
    name : str
        The file's name, as reports and rejected rows give it.
    data : bytes or callable
        The file's bytes, or a loader returning them (from :func:`list_sources`).
    columns, unreadable_dates, coordinate_crs, date_order
        As :func:`read_incidents`.
    keep_text : bool, default True
        Keep every well-formed row's text (a file read from bytes needs nothing else to be
        combined, here or on another machine). False: drop it once the file is checked, as
        :func:`read_incidents` does, keeping only the raw fields of the rows the file rejects
        itself; the few rows :func:`combine_files` rejects later (duplicates, outliers) get
        their fields by calling ``data`` again (the file's SHA-256 checked), so ``data`` must
        give the same bytes then.

    Returns
    -------
    ValidatedFile
        The file's rows checked one by one (coordinates, dates, weights) with its own
        rejections; the rules over all files (duplicates across files, the analysis CRS,
        outliers, the study area, filters) are :func:`combine_files`'s.

    Raises
    ------
    InputError
        An unreadable, empty or binary file, or one without detectable coordinates.
    ParameterError
        For invalid arguments.

    See Also
    --------
    combine_files : the files read by this function, as one :class:`Incidents`.

    Notes
    -----
    ``combine_files([read_file(n, load) for n, load in list_sources(s)], ...)`` equals
    ``read_incidents(s, ...)``, row for row and rejection for rejection; the files can be read
    in other processes or on other machines (:mod:`hotspots.engine`).
    """
    opts = _options(
        columns, "all", None, None, None, None, None, unreadable_dates, coordinate_crs, date_order
    )
    grid = opts.coordinate_crs

    def run() -> ValidatedFile:
        raw = data() if callable(data) else bytes(data)
        parsed = _parse_file(str(name), raw)
        load = None if keep_text else (data if callable(data) else (lambda: raw))
        return _validate_file(
            parsed, opts.columns, opts.unreadable_dates, reload=load, coordinate_crs=grid,
            date_order=opts.date_order,
        )  # fmt: skip

    return _guarded(run)


def read_files(
    items: Sequence[tuple[str, bytes | Callable[[], bytes]]],
    *,
    columns: Mapping[str, str | None] | None = None,
    unreadable_dates: str = "auto",
    progress: Progress | None = None,
    keep_text: bool = True,
    coordinate_crs: Any = None,
    date_order: str = "auto",
) -> list[ValidatedFile]:
    """:func:`read_file` of each ``(name, data)`` (from :func:`list_sources`), several side by
    side as :func:`read_incidents` reads them; ``progress`` is told ``"reading files"`` (file i
    of n). The files can be combined more than once (all of them, then each force's:
    :func:`hotspots.problem.read_by_force`); with ``keep_text`` False each drops its rows' text
    once checked and calls its loader again for the raw fields of rows rejected when combined
    (:func:`read_file`'s ``keep_text``); ``coordinate_crs`` and ``date_order`` as
    :func:`read_incidents`.
    """
    opts = _options(
        columns, "all", None, None, None, None, None, unreadable_dates, coordinate_crs, date_order
    )
    loaders = [
        (str(name), data if callable(data) else (lambda d=bytes(data): d)) for name, data in items
    ]
    return _guarded(
        lambda: _read_files(
            loaders,
            opts.columns,
            opts.unreadable_dates,
            progress,
            keep_text=bool(keep_text),
            grid=opts.coordinate_crs,
            date_order=opts.date_order,
        )  # fmt: skip
    )


def combine_files(
    files: Sequence[ValidatedFile],
    *,
    crime_types: str | Sequence[str] = "default",
    harm_weights: Mapping[str, float] | None = None,
    study_area: Any = None,
    crs: Any = None,
    outlier_km: float | bool | None = None,
    date_from: Any = None,
    date_to: Any = None,
    progress: Progress | None = None,
    skipped: Sequence[Skipped] = (),
) -> Incidents:
    """Validated files (:func:`read_file`) as one :class:`Incidents`, with the rules over all files.

    Parameters
    ----------
    files : sequence of ValidatedFile
        In the order :func:`read_incidents` would read them (:func:`list_sources`).
    crime_types, harm_weights, study_area, crs, outlier_km, date_from, date_to, progress
        As :func:`read_incidents` (``progress`` is told ``"validating"``).
    skipped : sequence of hotspots.sources.Skipped
        The files the sources held that were not read as incidents (``list_sources(...).skipped``):
        each is named in the report's notes and ``choices["skipped_files"]``.

    Returns
    -------
    Incidents
        What :func:`read_incidents` returns for the same files: one analysis CRS, duplicate rows
        across files, spatial outliers, the study area, then the filters, with one
        :class:`~hotspots.incidents.IngestReport` accounting for every row of every file.

    Raises
    ------
    InputError, ParameterError
        As :func:`read_incidents`.
    """
    if not files:
        msg = "No input files were given."
        raise InputError(msg, hint="pass a CSV file, a folder of CSV files or a list of files.")
    if not all(isinstance(f, ValidatedFile) for f in files):
        msg = "files must be ValidatedFile objects from hotspots.ingest.read_file."
        raise ParameterError(msg)
    opts = _options(None, crime_types, harm_weights, crs, outlier_km, date_from, date_to, "auto")
    return _guarded(lambda: _combine(list(files), opts, study_area, progress, skipped))


@dataclass(frozen=True)
class _Options:
    """read_incidents' arguments, checked."""

    columns: dict[str, str | None]
    type_filter: str | frozenset[str]
    harm_weights: dict[str, float] | None
    crs_given: Any
    analysis_crs: pyproj.CRS | None
    outlier_km: float | bool | None
    when_from: tuple[pd.Timestamp, bool] | None
    when_to: tuple[pd.Timestamp, bool] | None
    unreadable_dates: str
    #: the CRS of easting/northing columns when not British National Grid (None: BNG)
    coordinate_crs: pyproj.CRS | None = None
    date_order: str = "auto"  # :data:`DATE_ORDERS`


def _options(
    columns: Mapping[str, str | None] | None,
    crime_types: Any,
    harm_weights: Mapping[str, float] | None,
    crs: Any,
    outlier_km: Any,
    date_from: Any,
    date_to: Any,
    unreadable_dates: str,
    coordinate_crs: Any = None,
    date_order: str = "auto",
) -> _Options:
    """Check read_incidents' arguments once; a ParameterError names the wrong one."""
    cols = dict(columns or {})
    unknown = sorted(set(cols) - set(ROLES))
    if unknown:
        msg = f"Unknown role(s) in columns=: {unknown}. Roles are: {', '.join(ROLES)}."
        raise ParameterError(msg)
    if unreadable_dates not in ("auto", "reject", "keep"):
        msg = f"unreadable_dates must be 'auto', 'reject' or 'keep', not {unreadable_dates!r}."
        raise ParameterError(msg)
    if date_order not in DATE_ORDERS:
        msg = f"date_order must be one of {', '.join(map(repr, DATE_ORDERS))}, not {date_order!r}."
        raise ParameterError(msg)
    type_filter = _check_crime_types(crime_types)
    weights = _check_harm_weights(harm_weights) if harm_weights is not None else None
    return _Options(
        cols, type_filter, weights, crs, _check_crs(crs), _check_outlier_km(outlier_km),
        _parse_when(date_from, "date_from"), _parse_when(date_to, "date_to"), unreadable_dates,
        check_coordinate_crs(coordinate_crs), date_order,
    )  # fmt: skip


def _check_outlier_km(outlier_km: Any) -> float | bool | None:
    if outlier_km is True:
        return None
    if outlier_km is None or outlier_km is False:
        return outlier_km
    try:
        km = float(outlier_km)
    except (TypeError, ValueError) as exc:
        msg = f"outlier_km must be a number of kilometres, None or False, not {outlier_km!r}."
        raise ParameterError(msg) from exc
    if not np.isfinite(km) or km < 0:
        msg = f"outlier_km must be >= 0, not {outlier_km!r}."
        raise ParameterError(msg)
    return km


def check_coordinate_crs(coordinate_crs: Any) -> pyproj.CRS | None:
    """The CRS of a file's easting/northing (x/y) columns, checked; None for British National
    Grid (the default, read as it always is).

    Parameters
    ----------
    coordinate_crs : pyproj CRS input or None
        A projected CRS in any linear unit (metres or feet: a US State Plane zone such as
        ``"EPSG:3435"``, the Netherlands' ``"EPSG:28992"``, a UTM zone).

    Returns
    -------
    pyproj.CRS or None

    Raises
    ------
    ParameterError
        Not a CRS pyproj knows, or not a projected one (longitude and latitude are the
        ``lon``/``lat`` columns' roles instead).

    Examples
    --------
    >>> check_coordinate_crs("EPSG:3435").name
    'NAD83 / Illinois East (ftUS)'
    >>> check_coordinate_crs("EPSG:27700") is None
    True
    """
    if coordinate_crs is None:
        return None
    try:
        grid = pyproj.CRS.from_user_input(coordinate_crs)
    except pyproj.exceptions.CRSError as exc:
        msg = (
            f"coordinate_crs={coordinate_crs!r} is not a coordinate reference system pyproj knows."
        )
        raise ParameterError(msg) from exc
    if not grid.is_projected:
        msg = (
            f"coordinate_crs={coordinate_crs!r} is not a projected CRS: longitude and latitude "
            "columns need no CRS (name them, or map them with columns={'lon': ..., 'lat': ...}, "
            "--column lon=NAME --column lat=NAME)."
        )
        raise ParameterError(msg)
    return None if grid.equals(crs_mod.BNG) else grid


#: How to give an analysis CRS, for messages: every front end's words.
_CRS_FIX = (
    "give a projected CRS in metres made for the data's area (--crs on the command line, crs= "
    "in Python), e.g. EPSG:27700 for Great Britain, EPSG:5070 for the contiguous United "
    "States, EPSG:3035 for Europe or the data's UTM zone, or leave it out for the automatic "
    "choice"
)


def _check_crs(crs: Any) -> pyproj.CRS | None:
    """The analysis CRS given, checked: projected, in metres (None: chosen from the data)."""
    if crs is None:
        return None
    try:
        analysis_crs = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        msg = f"The analysis CRS {crs!r} is not one pyproj knows; {_CRS_FIX}."
        raise ParameterError(msg) from exc
    units = {a.unit_name for a in analysis_crs.axis_info}
    if not analysis_crs.is_projected:
        msg = (
            f"The analysis CRS {crs!r} ({analysis_crs.name}) is not projected: its coordinates "
            "are degrees, "
            "and the analysis measures distances and areas in metres (bandwidths, 150 m places, "
            f"hectares); {_CRS_FIX}."
        )
        raise ParameterError(msg)
    if not units <= {"metre", "meter"}:
        msg = (
            f"The analysis CRS {crs!r} ({analysis_crs.name}) measures in "
            f"{', '.join(sorted(units))}, and the "
            f"analysis works in metres (bandwidths, 150 m places, hectares); {_CRS_FIX}."
        )
        raise ParameterError(msg)
    return analysis_crs


def _say_outside_use(
    loc: _Located, ok: np.ndarray, choices: dict[str, Any], notes: list[str]
) -> None:
    """Warn (and note) when the analysis CRS given is made for an area that leaves out some of
    the incidents kept (``ok``): the share outside its area of use (west, south, east, north
    in degrees; across the antimeridian when west > east)."""
    area = loc.crs.area_of_use
    if area is None or not ok.any():
        return
    sel, w = loc.points(np.flatnonzero(ok))
    lon, lat, w = loc.plon[sel], loc.plat[sel], w[sel]
    if area.west <= area.east:
        in_lon = (lon >= area.west) & (lon <= area.east)
    else:
        in_lon = (lon >= area.west) | (lon <= area.east)
    outside = ~(in_lon & (lat >= area.south) & (lat <= area.north))
    share = float(w[outside].sum() / w.sum())
    if not share:
        return
    choices["crs_outside_area_share"] = round(share, 4)
    text = (
        f"The analysis CRS {loc.crs.name} ({loc.crs.to_string()}) is made for longitudes "
        f"{area.west:g} to {area.east:g} and latitudes {area.south:g} to {area.north:g} (its "
        f"area of use); {100 * share:.1f} % of the incidents lie outside it, where its distances "
        f"and areas can be far off. Fix: {_CRS_FIX}."
    )
    notes.append(text)
    warnings.warn(text, HotspotsWarning, stacklevel=5)


def _combine(
    files: list[ValidatedFile],
    opts: _Options,
    study_area: Any,
    progress: Progress | None,
    skipped: Sequence[Skipped] = (),
) -> Incidents:
    """The rules over all files, then the filters: read_incidents after reading each file.

    The filters see only the columns they read (:data:`_FILTER_COLUMNS`); the incidents' frame
    is made for the rows they keep.
    """
    needed = set(_FILTER_COLUMNS)
    if opts.when_from is not None or opts.when_to is not None:
        needed.add("datetime")
    if study_area is not None:
        needed.update(("x", "y", "lon", "lat"))
    v = _validate(
        files, opts.analysis_crs, opts.outlier_km, study_area is not None, progress, needed,
        wait=False,
    )  # fmt: skip
    if skipped:  # the files the sources held that are not incidents, named first
        v.notes[:0] = [k.note for k in skipped]
        set_aside = [k for k in skipped if not isinstance(k, Filled | LayerCrs)]
        if set_aside:
            v.choices["skipped_files"] = [{"name": k.name, "reason": k.reason} for k in set_aside]
        filled = [k for k in skipped if isinstance(k, Filled)]
        if filled:  # sheets read with their merged cells filled down
            v.choices["merged_cells_filled"] = {k.name: list(k.ranges) for k in filled}
        layers = [k for k in skipped if isinstance(k, LayerCrs)]
        if layers:  # GIS point layers: the CRS each one's points were taken from
            v.choices["layer_crs"] = {k.name: k.crs for k in layers}
    # the rows rejected so far, listed with their raw fields in a thread while the rows are
    # filtered (settled() waits for it; nothing reads the placeholder before)
    pool = ThreadPoolExecutor(max_workers=1)
    listed = pool.submit(_rejected_table, v)
    pool.shutdown(wait=False)  # the thread ends with its one task
    report = IngestReport(
        files=v.infos, n_read=v.n_read, n_used=len(v.frame), choices=v.choices, notes=v.notes
    )  # the study area's choices and notes, and the rejected rows, come in settled()
    area = None
    if study_area is not None:
        area = _load_study_area(study_area, v.crs, opts.crs_given)

    def frame_of(keep: np.ndarray) -> pd.DataFrame:
        return _valid_frame(v.files, v.offsets, v.located, v.frame_rows[keep], v.frame_file[keep])

    def settled() -> tuple[IngestReport, BaseGeometry]:
        rejected = listed.result()
        if v.settle is not None:
            v.settle()
        drawn = v.study_area if v.study_area is not None else shapely.Polygon()
        final = IngestReport(
            files=report.files, n_read=report.n_read, n_used=report.n_used,
            rejected=rejected, choices=v.choices, notes=v.notes,
        )  # fmt: skip
        return final, drawn

    done = _filter_frame(
        v.frame, report, v.crs, shapely.Polygon(), opts.type_filter, opts.when_from, opts.when_to,
        area, opts.harm_weights, frame_of, settled,
    )  # fmt: skip
    reporter(progress)(VALIDATING, 1, 1)
    return done


#: The columns of the incidents' frame that :func:`_filter_frame` reads with no date range and no
#: study area polygon given.
_FILTER_COLUMNS = ("month", "has_time", "crime_type", "weight", "source_file", "source_row")


def filter_incidents(
    incidents: Incidents,
    *,
    crime_types: str | Sequence[str] = "all",
    date_from: Any = None,
    date_to: Any = None,
    study_area: Any = None,
    harm_weights: Mapping[str, float] | None = None,
) -> Incidents:
    """Keep the incidents of chosen crime types, dates and study area; weigh them by harm.

    Cheap: it works on the validated columns, never on the files. Read the files once (with
    ``crime_types="all"``) and call this for every choice a user makes;
    ``read_incidents(files, crime_types=..., ...)`` is the two steps in one call.

    Parameters
    ----------
    incidents : Incidents
        From :func:`read_incidents` (or :meth:`Incidents.from_xy`).
    crime_types : "default", "all" or list of str, default "all"
        As in :func:`read_incidents` (``"default"``: the violent types, by file format).
    date_from, date_to : date-like, optional
        Keep incidents on or after ``date_from`` and on or before ``date_to`` (a date without a
        time includes the whole day); month-only rows are kept when their month overlaps the
        range; rows without a known date fall outside any range.
    study_area : path, GeoDataFrame or shapely geometry, optional
        Keep the incidents inside; it becomes the study area (PAI denominator). Files and bare
        geometries are WGS84 lon/lat, or the analysis CRS when the incidents were read with
        ``crs=`` given. Spatial outliers were already set aside when reading; read with
        ``outlier_km=False`` to let the polygon alone decide.
    harm_weights : dict, optional
        Crime type -> harm weight (>= 0) for the kept incidents; every kept type must be mapped.

    Returns
    -------
    Incidents
        The kept incidents (same CRS). ``report.rejected`` gains one row per incident left out
        (``source_file``, ``source_row``, ``reason``, ``column``, ``detail``; the raw fields stay
        blank, as the files are not read again), ``report.choices["filters"]`` counts them by
        reason, and the notes say what was kept.

    Raises
    ------
    InputError
        When no incident is left (the message gives the top reasons), or for unmapped harm types.
    ParameterError
        For invalid arguments.

    Examples
    --------
    >>> from hotspots import Incidents
    >>> inc = Incidents.from_xy([0.0, 10.0, 20.0], [0.0, 0.0, 0.0], crs="EPSG:27700",
    ...                         crime_type=["Robbery", "Burglary", "Robbery"])
    >>> kept = filter_incidents(inc, crime_types=["robbery"])
    >>> len(kept), kept.report.choices["filters"]["crime type not selected"]
    (2, 1)
    """
    type_filter = _check_crime_types(crime_types)
    hw = _check_harm_weights(harm_weights) if harm_weights is not None else None
    when_from = _parse_when(date_from, "date_from")
    when_to = _parse_when(date_to, "date_to")
    if not isinstance(incidents, Incidents):
        msg = f"incidents must be an Incidents object, not {type(incidents).__name__}."
        raise ParameterError(msg)

    def run() -> Incidents:
        area = None
        if study_area is not None:
            reason = str(incidents.report.choices.get("crs_reason", ""))
            given = incidents.crs if "given by the caller" in reason else None
            area = _load_study_area(study_area, incidents.crs, given)
        return _filter_frame(
            incidents.frame, incidents.report, incidents.crs, incidents.study_area, type_filter,
            when_from, when_to, area, hw,
        )  # fmt: skip

    return _guarded(run)


def _filter_frame(
    frame: pd.DataFrame,
    rep: IngestReport,
    crs: pyproj.CRS,
    study_area: BaseGeometry,
    type_filter: str | frozenset[str],
    when_from: tuple[pd.Timestamp, bool] | None,
    when_to: tuple[pd.Timestamp, bool] | None,
    area: BaseGeometry | None,
    harm_weights: dict[str, float] | None,
    frame_of: Callable[[np.ndarray], pd.DataFrame] | None = None,
    settled: Callable[[], tuple[IngestReport, BaseGeometry]] | None = None,
) -> Incidents:
    """filter_incidents' work on the incidents ``frame`` (with its ``rep``, ``crs`` and
    ``study_area``), on checked arguments (read_incidents ends with it too).

    ``frame_of(keep)`` makes the frame of the rows kept, where ``frame`` holds only the columns
    the filters read (:func:`_combine`); by default the rows are taken from ``frame``.
    ``settled()``, when given, returns the final ``rep`` and ``study_area`` once the rows kept
    are known (read_incidents: the study area is drawn and the rows rejected so far are listed
    in threads meanwhile); ``rep`` differs from it only in the study area's choices and notes
    and in its rejected rows (not listed yet: read only from the report ``settled()`` gives).
    """
    infos = list(rep.files)
    first: dict[str, int] = {}
    for i, f in enumerate(infos):
        first.setdefault(f.name, i)
    if isinstance(frame["source_file"].dtype, pd.CategoricalDtype):  # read_incidents' frame
        file_codes = frame["source_file"].cat.codes.to_numpy(dtype=np.int64)
        file_names = frame["source_file"].cat.categories
    else:
        file_codes, file_names = pd.factorize(frame["source_file"].astype(str))
    if infos:
        row_file = np.array([first.get(str(u), 0) for u in file_names], dtype=np.int64)
        row_file = row_file[file_codes]
    else:  # Incidents.from_xy: one in-memory "file"
        cols = {"crime_type": "crime_type"} if (frame["crime_type"] != "").any() else {}
        infos = [FileInfo(name="memory", sha256="", n_rows=len(frame), columns=cols)]
        row_file = np.zeros(len(frame), dtype=np.int64)
    done = _filter_core(frame, row_file, infos, type_filter, when_from, when_to, area, harm_weights)
    if not done.keep.any():
        if settled is not None:
            rep, _ = settled()
        counts = dict(rep.reason_counts())
        step = done.rejects.counts()
        for r, k in step.items():
            counts[r] = counts.get(r, 0) + k
        main = max(step, key=lambda r: step[r]) if step else None
        _raise_nothing_usable([i.name for i in infos], counts, rep.n_read, main)
    if frame_of is None:
        kept = frame.loc[done.keep].reset_index(drop=True)
    else:
        kept = frame_of(done.keep)
    kept["weight"] = done.weight[done.keep]
    for c in ("crime_type", "location", "source_file"):
        kept[c] = _text_of(kept[c])
    if settled is not None:
        rep, study_area = settled()
    rejected = _filtered_rows(
        deferred_or_table(rep), file_codes, file_names, frame["source_row"], done.rejects
    )
    notes = [n for n in rep.notes if not n.startswith(_RECOMPUTED_NOTES)]
    if area is not None:
        notes = [n for n in notes if not n.startswith("Study area:")]
    report = IngestReport(
        files=rep.files,
        n_read=rep.n_read,
        n_used=int(done.keep.sum()),
        rejected=rejected,
        choices={**rep.choices, **done.choices},
        notes=list(dict.fromkeys(notes + done.notes)),
    )
    return Incidents(kept, crs, area if area is not None else study_area, report)


def _append_rejected(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` then ``new`` rejected rows; the raw fields ``new`` lacks are blank."""
    if not len(new):
        return old
    if not len(old):
        return new
    table = pa.concat_tables(
        [
            pa.Table.from_pandas(old, preserve_index=False),
            pa.Table.from_pandas(new, preserve_index=False),
        ],
        promote_options="permissive",
    )
    return _blank_nulls(table).to_pandas()


def _blank_nulls(table: pa.Table) -> pa.Table:
    """Missing text cells (a column one file lacks) become ""."""

    def blank(col: pa.ChunkedArray) -> pa.ChunkedArray:
        text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        return pc.fill_null(col, "") if text and col.null_count else col

    return pa.table({n: blank(c) for n, c in zip(table.column_names, table.columns, strict=True)})


def _guarded(run: Callable[[], _T]) -> _T:
    """Run a reading step; running out of memory becomes one readable InputError.

    Any other unexpected exception is a bug of this package, not of the file, and goes up as
    it is, so the front ends report it as an internal error (the command line's exit code 1,
    the app's "did not expect"); it once came back as "The input could not be read ... check
    the file is a CSV", sending the user to look for a fault in a good file.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=pd.errors.DtypeWarning)
            return run()
    except MemoryError as exc:
        msg = "The input is too large to read in this machine's memory."
        raise InputError(
            msg,
            hint="read fewer files at once (a shorter period, fewer forces) or use a "
            "machine with more memory (or the Dask engine, docs/scale-out.md).",
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


# --------------------------------------------------------------------------------------------
# Validation over all files
# --------------------------------------------------------------------------------------------


@dataclass
class _Validated:
    """Every file read and validated: the valid rows as a frame, everything needed to list the
    rejected rows with their raw fields at the end."""

    files: list[ValidatedFile]
    offsets: np.ndarray  # first row (over all files' well-formed rows) of each file
    rejects: _Rejects  # over all well-formed rows
    frame: pd.DataFrame  # the valid rows, REQUIRED_COLUMNS
    frame_rows: np.ndarray  # row (over all files) of each frame row
    frame_file: np.ndarray  # file index of each frame row
    crs: pyproj.CRS
    study_area: BaseGeometry | None
    choices: dict[str, Any]
    notes: list[str]
    located: _Located
    # waits for the study area drawn in a thread and adds its choices and notes (None: done)
    settle: Callable[[], None] | None = None

    @property
    def infos(self) -> list[FileInfo]:
        return [f.info for f in self.files]

    @property
    def n_read(self) -> int:
        return sum(f.info.n_rows for f in self.files)


_ROLE_LABELS = {
    "lon": "longitude", "lat": "latitude", "easting": "easting", "northing": "northing",
    "datetime": "date and time", "date": "date", "time": "time of day", "hour": "hour",
    "month": "month", "crime_type": "crime type", "weight": "weight", "id": "id",
    "location": "location", "datetime_end": "end date and time", "date_end": "end date",
    "time_end": "end time of day",
}  # fmt: skip


def _columns_notes(files: list[ValidatedFile]) -> list[str]:
    """One note per set of files read alike: the columns found for each role, what was not
    found, and how day and month were told apart. police.uk files (one fixed layout) are left
    out."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for f in files:
        if f.info.format == FORMAT_POLICE_UK:
            continue
        key = (f.info.format, tuple(f.info.columns.items()), f.date_order)
        groups.setdefault(key, []).append(f.info.name)
    notes = []
    for (fmt, cols, order), names in groups.items():
        shown = names[0]
        if len(names) > 1:
            shown = f"{len(names)} files ({', '.join(names[:3])}{' ...' if len(names) > 3 else ''})"
        found = ", ".join(f"{_ROLE_LABELS.get(r, r)} '{c}'" for r, c in cols)
        roles = {r for r, _ in cols}
        lacking = [
            label for role, label in (("crime_type", "crime type"), ("date", "date"))
            if role not in roles and not (role == "date" and {"datetime", "month"} & roles)
        ]  # fmt: skip
        note = f"Columns of {shown} ({fmt}): {found}"
        if lacking:
            note += f"; no {' or '.join(lacking)} column found"
        if order and order != "no day/month dates":
            note += f"; dates read {order}"
        if fmt == FORMAT_BNG:  # x/y in British National Grid's range: read so, not guessed
            note += (
                "; easting/northing read as British National Grid metres (if they are in another "
                "CRS, give it: --coordinate-crs, coordinate_crs=)"
            )
        notes.append(note + ". Name others with columns= (--column ROLE=NAME).")
    return notes


def _windows(files: list[ValidatedFile]) -> dict[tuple[str, str], dict[str, Any]]:
    """The files whose dates are time windows, by their (start, end) columns: the files and
    the counts of their rows by :data:`WINDOW_LEVELS` (``choices["time_window"]``)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in files:
        if f.window is None:
            continue
        w = f.window
        group = out.setdefault((w.start, w.end), {"start": w.start, "end": w.end, "files": []})
        group["files"].append(f.info.name)
        for level, k in w.counts(f.rejects.ok).items():  # the rows valid in the file
            group[level] = group.get(level, 0) + k
    return out


def _window_notes(files: list[ValidatedFile]) -> list[str]:
    """One note per set of files whose dates are time windows: how many rows each level of time
    was used for (:func:`window_times`)."""
    notes = []
    for (start, end), g in _windows(files).items():
        names = g["files"]
        shown = names[0] if len(names) == 1 else f"{len(names)} files"
        note = (
            f"{start} / {end} ({shown}) read as a time window: {g['hour']} row(s) timed to "
            f"within an hour (the window's midpoint), {g['day']} to a day (date, no time), "
            f"{g['month']} to a month, {g['longer']} longer (the month of its midpoint)"
        )
        start_only = [
            (g["no_end"], "had no end"), (g["end_unreadable"], "had an end that cannot be read"),
            (g["end_before_start"], "ended before they began"),
        ]  # fmt: skip
        said = [f"{k} {what}" for k, what in start_only if k]
        if said:
            note += "; " + ", ".join(said) + " (start used)"
        if "end_next_day" in g:  # a window of times on one date
            note += (
                f"; the end time is on the date of the start ({g['end_next_day']} row(s) "
                "ending earlier than they began: past midnight, on the next day)"
            )
        notes.append(
            note + ". Each level of time is used only where the window fixes it; pass "
            "columns={'datetime_end': None} (--column datetime_end=) to read the start alone."
        )
    return notes


def _validate(
    files: list[ValidatedFile],
    analysis_crs: pyproj.CRS | None,
    outlier_km: float | bool | None,
    study_area_given: bool,
    progress: Progress | None = None,
    columns: Collection[str] | None = None,
    wait: bool = True,
) -> _Validated:
    """The rules over every file read and validated on its own.

    Across files: one analysis CRS, duplicate rows, spatial outliers and the study area drawn
    from the data (unless one is given, which replaces it when filtering). The study area is
    drawn in a thread; with ``wait`` False it may still be drawing on return, and the result's
    ``settle()`` waits for it (its choices and notes are added then).
    """
    reporter(progress)(VALIDATING, 0, 1)  # ends in read_incidents, once filtered
    notes = _columns_notes(files) + _window_notes(files) + [n for f in files for n in f.notes]
    identical, missing_files = _identical_files(files), _missing_force_months(files)
    notes += _identical_notes(files, identical) + _missing_notes(missing_files)
    sizes = np.array([f.n for f in files], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    rej = _merged_rejects(files, offsets, int(sizes.sum()))
    located = rej.ok
    has_id = _cat(files, "has_id", bool)
    pool = ThreadPoolExecutor(max_workers=1)
    found = pool.submit(_find_copies, files, offsets, has_id, located)  # while points are located
    pool.shutdown(wait=False)
    loc = _locate(files, sizes, offsets, rej, analysis_crs)
    choices: dict[str, Any] = {
        "crs": loc.crs.to_string(),
        "crs_reason": loc.crs_reason,
        **({"coordinate_crs": loc.grid.to_string()} if not loc.grid.equals(crs_mod.BNG) else {}),
        "formats": sorted({f.info.format for f in files}),
        "forces": sorted({force for f in files for force in f.info.forces}),
        **({"missing_force_months": missing_files} if missing_files else {}),
    }
    notes.append(f"Analysis CRS: {loc.crs_reason}.")
    far = _project(loc)
    copies = found.result()
    if far.any() and (bad := located & far[np.maximum(loc.pid, 0)]).any():
        # rejected before the duplicates: the copies without an id are counted again among the
        # rows still valid (a row with an id is rejected once, by its first reason)
        rej.add(bad, R_RANGE, "", "the point cannot be projected to the analysis CRS")
        copies = _Copies(copies.with_id, _find_copies(files, offsets, has_id, rej.ok, False).kept)
    n_dup = sum(
        rej.add(m, R_DUPLICATE, "", "an exact copy of an earlier row with the same id")
        for m in copies.with_id
    )
    n_copied = _reject_copied(files, offsets, has_id, rej, identical)
    police_uk = any(f.info.format == FORMAT_POLICE_UK for f in files)
    notes.extend(_duplicate_notes(n_dup, copies.kept - n_copied, police_uk))
    _set_aside_outliers(loc, rej, outlier_km, study_area_given, choices, notes)
    ok = rej.ok
    if not ok.any():
        _raise_no_valid_rows(files, rej)
    _say_wide_data(loc, ok, analysis_crs is None, choices, notes)
    if analysis_crs is not None:
        _say_outside_use(loc, ok, choices, notes)
    area_choices: dict[str, Any] = {}
    area_notes: list[str] = []
    drawn = None
    if not study_area_given:  # the study area while the frame is built (and filtered)
        pool = ThreadPoolExecutor(max_workers=1)
        drawn = pool.submit(_data_study_area, loc, ok, area_choices, area_notes)
        pool.shutdown(wait=False)  # the thread ends with its one task
    used = np.flatnonzero(ok)
    # each file's rows among the used (increasing): its index repeated as often
    per_file = np.diff(np.searchsorted(used, np.append(offsets, offsets[-1] + sizes[-1])))
    frame_file = np.repeat(np.arange(len(files), dtype=np.int64), per_file)
    frame = _valid_frame(files, offsets, loc, used, frame_file, columns)
    file_choices = _file_choices(files)
    spellings = _type_spellings(files)
    if spellings:  # the frame's crime types use one spelling each (_text_column)
        choices["crime_type_spellings"] = spellings
        shown = "; ".join(f"'{a}' as '{b}'" for a, b in list(spellings.items())[:10])
        more = f" and {len(spellings) - 10} more" if len(spellings) > 10 else ""
        notes.append(
            f"Crime types written more than one way (case, dashes, spaces) were read as one, "
            f"under the spelling most rows use: {shown}{more}."
        )
    v = _Validated(files, offsets, rej, frame, used, frame_file, loc.crs, None, choices, notes, loc)

    def settle() -> None:
        v.study_area = drawn.result() if drawn is not None else None
        choices.update(area_choices)
        notes.extend(area_notes)
        choices.update(file_choices)
        v.settle = None

    v.settle = settle
    if wait:
        settle()
    return v


def _read_files(
    items: list[tuple[str, Callable[[], bytes]]],
    columns: dict[str, str | None],
    unreadable_dates: str,
    progress: Progress | None,
    *,
    keep_text: bool = False,
    grid: pyproj.CRS | None = None,
    date_order: str = "auto",
) -> list[ValidatedFile]:
    """Parse and validate each file, several side by side (Arrow and NumPy release the GIL).

    With ``keep_text`` each file keeps every well-formed row's text, as :func:`read_file`
    does (to be combined more than once); else only what its loader cannot give again.
    ``grid``: the coordinate CRS given (:func:`check_coordinate_crs`); ``date_order``:
    :data:`DATE_ORDERS`. Every file judges its dates by the same :func:`latest_date`.
    """
    latest = latest_date()

    def one(item: tuple[str, Callable[[], bytes]]) -> ValidatedFile:
        name, load = item
        parsed = _parse_file(name, load())
        return _validate_file(
            parsed, columns, unreadable_dates, reload=None if keep_text else load,
            coordinate_crs=grid, date_order=date_order, latest=latest,
        )  # fmt: skip

    workers = min(len(items), READ_WORKERS, os.cpu_count() or 1)
    files: list[ValidatedFile] = []
    with progress_step(progress, READING, len(items)) as file_read:
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for done in pool.map(one, items):
                    files.append(done)
                    file_read()
        else:  # one file at a time: Arrow splits each file between the cores itself
            with _arrow_threads(True):
                for item in items:
                    files.append(one(item))
                    file_read()
    return files


def _identical_files(files: list[ValidatedFile]) -> dict[int, str]:
    """Each file holding rows that is byte for byte a copy of an earlier one (the same download
    twice, two archives with months in common), by its index: the earlier file's name."""
    copies: dict[int, str] = {}
    shas: dict[str, str] = {}
    for i, f in enumerate(files):
        if not f.info.n_rows:
            continue  # a file of column names only copies nothing
        if f.info.sha256 in shas:
            copies[i] = shas[f.info.sha256]
        shas.setdefault(f.info.sha256, f.info.name)
    return copies


def _identical_notes(files: list[ValidatedFile], copies: Mapping[int, str]) -> list[str]:
    """Notes naming each copy of an earlier file (:func:`_identical_files`) and, beside files
    with rows, the files holding their column names only."""
    notes = [
        f"{files[i].info.name} is byte-identical to {first}; its rows are rejected as "
        "duplicates (those without an id too: each is its twin's copy)."
        for i, first in copies.items()
    ]
    empty = [f.info.name for f in files if not f.info.n_rows]
    if empty and len(empty) < len(files):
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        notes.append(f"{len(empty)} file(s) hold their column names only, no rows: {shown}.")
    return notes


def _reject_copied(
    files: list[ValidatedFile],
    offsets: np.ndarray,
    has_id: np.ndarray,
    rej: _Rejects,
    identical: Mapping[int, str],
) -> int:
    """Reject as duplicates the rows without an id of each file byte-identical to an earlier
    one (:func:`_identical_files`; its rows with an id are the id rule's): each is its twin's
    copy, not an incident sharing a place and time. Returns how many."""
    n_copied = 0
    for i, first in identical.items():
        m = np.zeros(len(has_id), dtype=bool)
        m[offsets[i] : offsets[i] + files[i].n] = True
        said = f"a row of a file byte-identical to {first}"
        n_copied += rej.add(m & ~has_id, R_DUPLICATE, "", said)
    return n_copied


def _missing_notes(missing: Mapping[str, list[str]]) -> list[str]:
    """One note per force without a police.uk street file in months others have one
    (:func:`_missing_force_months`)."""
    return [
        f"police.uk files: no street file for {force} in {', '.join(gone)}, though other "
        "forces have one: its incidents those months are missing from the data (not zero); "
        "add the file, or read the months it has."
        for force, gone in missing.items()
    ]


#: A police.uk street file's name: its month and its force (``2024-01-merseyside-street.csv``).
_POLICE_UK_STREET = re.compile(r"^(\d{4}-\d{2})-(.+)-street\.csv$", re.IGNORECASE)


def _missing_force_months(files: list[ValidatedFile]) -> dict[str, list[str]]:
    """The months for which a force has no police.uk street file while other forces of the
    same files have one (police.uk publishes one file per force per month; a force whose file
    is missing has no incidents that month in the data, not none on the streets), by the
    force's name as in the file names; empty unless two forces and two months are named."""
    months: dict[str, set[str]] = {}
    for f in files:
        found = _POLICE_UK_STREET.match(PurePosixPath(f.info.name.replace("\\", "/")).name)
        if found:
            months.setdefault(found.group(2).lower(), set()).add(found.group(1))
    every = set().union(*months.values()) if months else set()
    if len(months) < 2 or len(every) < 2:
        return {}
    return {force: sorted(every - had) for force, had in sorted(months.items()) if every - had}


def _merged_rejects(files: list[ValidatedFile], offsets: np.ndarray, n: int) -> _Rejects:
    """The files' own rejections as one :class:`_Rejects` over all their well-formed rows."""
    rej = _Rejects(n)
    if n:
        rej.code = np.concatenate([f.rejects.code for f in files])
    for f, off in zip(files, offsets, strict=True):
        for b in f.rejects.batches:
            rej.batches.append(_Batch(b.rows + off, b.code, b.column, b.detail))
    return rej


def _cat(files: list[ValidatedFile], attr: str, dtype: Any) -> np.ndarray:
    """A per-row array of every file (``attr`` of :class:`ValidatedFile`), end to end."""
    return np.concatenate([getattr(f, attr) for f in files]).astype(dtype, copy=False)


def _reason_counts(files: list[ValidatedFile], rej: _Rejects) -> dict[str, int]:
    """Rows rejected so far by reason, malformed rows (kept aside when parsing) first."""
    counts = rej.counts()
    n_bad = sum(len(f.parsed.malformed) for f in files)
    if n_bad:  # malformed rows first, with those of a quote left open (rejected in rej)
        counts = {R_MALFORMED: n_bad + counts.pop(R_MALFORMED, 0), **counts}
    return counts


def _raise_no_valid_rows(files: list[ValidatedFile], rej: _Rejects) -> NoReturn:
    """The "no usable incidents" error, once every row of every file is rejected."""
    n_read = sum(f.info.n_rows for f in files)
    _raise_nothing_usable([f.info.name for f in files], _reason_counts(files, rej), n_read)


@dataclass
class _Located:
    """Where every row is: per row and per distinct map point.

    police.uk snaps incidents to shared map points, so each distinct point is projected once;
    ``pid`` numbers them.
    """

    vx: np.ndarray  # per row, as read: longitude or easting (degrees, or the grid's unit)
    vy: np.ndarray
    bng: np.ndarray  # bool per row: read as easting/northing (in :attr:`grid`)
    plon: np.ndarray  # per distinct point, WGS84 degrees
    plat: np.ndarray
    px: np.ndarray  # per distinct point, metres in the analysis CRS
    py: np.ndarray
    pid: np.ndarray  # int64 per row: its distinct point, -1 where not located
    crs: pyproj.CRS
    crs_reason: str
    n_lonlat: int = 0  # the first points were read as longitude/latitude, the rest as BNG
    # the easting/northing points as read
    bng_x: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    bng_y: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    #: the CRS of the easting/northing points: British National Grid unless one was given
    grid: pyproj.CRS = crs_mod.BNG

    def lonlat(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 degrees of the given (located) rows: as read, or from British National Grid."""
        bng = self.bng[rows]
        if not bng.any():  # every row read as longitude/latitude (police.uk, most US data)
            return self.vx[rows], self.vy[rows]
        at = self.pid[rows]
        lon = np.where(bng, self.plon[at], self.vx[rows])
        lat = np.where(bng, self.plat[at], self.vy[rows])
        return lon, lat

    def points(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The distinct points of the given (located) rows, and how many rows are at each."""
        w = np.bincount(self.pid[rows], minlength=len(self.px))
        return np.flatnonzero(w), w


def _locate(
    files: list[ValidatedFile],
    sizes: np.ndarray,
    offsets: np.ndarray,
    rej: _Rejects,
    analysis_crs: pyproj.CRS | None,
) -> _Located:
    """Longitude/latitude of every located row, then the analysis CRS.

    The CRS is :func:`hotspots.crs.choose_crs`'s unless given; the positions in it are
    :func:`_project`'s (a point that cannot be projected to it is rejected as out of range).
    """
    n = int(sizes.sum())
    vx, vy = _cat(files, "vx", float), _cat(files, "vy", float)
    bng = np.repeat(np.array([f.bng for f in files], dtype=bool), sizes)
    located = rej.ok
    ll = np.flatnonzero(located & ~bng)
    bb = np.flatnonzero(located & bng)
    ll_codes, ll_x, ll_y = _merged_points(files, offsets, located, bng=False)
    bb_codes, bb_x, bb_y = _merged_points(files, offsets, located, bng=True)
    pid = np.full(n, -1, dtype=np.int64)
    pid[ll] = ll_codes
    pid[bb] = bb_codes + len(ll_x)
    plon, plat = np.concatenate([ll_x, bb_x]), np.concatenate([ll_y, bb_y])
    grid = _grid_crs(files)
    if len(bb):
        plon[len(ll_x) :], plat[len(ll_x) :] = _grid_lonlat(bb_x, bb_y, grid)
    loc = _Located(vx, vy, bng, plon, plat, plon.copy(), plat.copy(), pid, crs_mod.BNG, "")
    loc.bng_x, loc.bng_y, loc.grid = bb_x, bb_y, grid
    if analysis_crs is None:
        if not located.any():
            _raise_no_valid_rows(files, rej)
        # points of a given grid that do not land on the earth are rejected once projected
        # (_project); the CRS is chosen from the rest
        on_earth = (np.abs(plon) <= 180) & (np.abs(plat) <= 90)  # False where NaN or inf
        placed = located & on_earth[np.maximum(pid, 0)]
        if not placed.any():
            msg = (
                f"None of the easting/northing values can be placed on the earth in "
                f"{grid.name} ({grid.to_string()})."
            )
            raise InputError(
                msg, file=files[0].info.name, hint="check the coordinate CRS given for them."
            )
        analysis_crs, crs_reason = _choose_crs(loc, placed)
    else:
        crs_reason = f"{analysis_crs.name} ({analysis_crs.to_string()}): given by the caller"
    loc.crs, loc.crs_reason = analysis_crs, crs_reason
    loc.n_lonlat = len(ll_x)
    return loc


def _project(loc: _Located) -> np.ndarray:
    """Each distinct point of :func:`_locate` in the analysis CRS (``loc.px``, ``loc.py``, in
    place); returns, per point, whether it cannot be projected there. pyproj works without
    Python's lock, so this runs in a thread while the duplicates are found."""
    k = loc.n_lonlat
    px, py = loc.px, loc.py
    if k:
        px[:k], py[:k] = crs_mod.to_analysis(loc.plon[:k], loc.plat[:k], loc.crs)
    if len(px) > k:
        bb_x, bb_y = loc.bng_x, loc.bng_y
        px[k:], py[k:] = bb_x, bb_y
        if not loc.crs.equals(loc.grid):
            px[k:], py[k:] = crs_mod.transform(bb_x, bb_y, loc.grid, loc.crs)
        if not loc.grid.equals(crs_mod.BNG):  # a given grid's point off the earth: not placed
            far = ~((np.abs(loc.plon[k:]) <= 180) & (np.abs(loc.plat[k:]) <= 90))
            px[k:][far], py[k:][far] = np.nan, np.nan
    return ~(np.isfinite(px) & np.isfinite(py))


def _grid_lonlat(x: np.ndarray, y: np.ndarray, grid: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees of easting/northing in ``grid``; NaN where the point is not on the earth.

    British National Grid as always. In a grid given, PROJ's inverse can return a place for
    numbers far outside the projection's domain (1e15 in RD New lands somewhere), so a point is
    placed only when projecting its place back gives its easting and northing again (to a
    millionth of their size, a millimetre at least).
    """
    lon, lat = crs_mod.to_wgs84(x, y, grid)
    if grid.equals(crs_mod.BNG) or not len(x):
        return lon, lat
    with np.errstate(invalid="ignore"):
        bx, by = crs_mod.transform(lon, lat, crs_mod.WGS84, grid)
        tol = np.maximum(1e-3, 1e-6 * np.maximum(np.abs(x), np.abs(y)))
        back = (np.abs(bx - x) <= tol) & (np.abs(by - y) <= tol)
    lon, lat = np.where(back, lon, np.nan), np.where(back, lat, np.nan)
    return lon, lat


def _grid_crs(files: list[ValidatedFile]) -> pyproj.CRS:
    """The CRS the files' easting/northing were read in: British National Grid unless a
    coordinate CRS was given; one for all files."""
    given = {f.grid_crs for f in files if f.bng}
    if len(given) > 1:
        msg = (
            "The files' easting/northing were read in different coordinate CRSs; read each "
            "set alone."
        )
        raise ParameterError(msg)
    wkt = next(iter(given), "")
    return pyproj.CRS.from_wkt(wkt) if wkt else crs_mod.BNG


def _say_wide_data(
    loc: _Located, ok: np.ndarray, chosen: bool, choices: dict[str, Any], notes: list[str]
) -> None:
    """Add :func:`_wide_data`'s words to the reason for a UTM zone chosen here (``chosen``),
    judged on the rows kept once the spatial outliers are set aside."""
    if not chosen or loc.crs.equals(crs_mod.BNG) or not ok.any():
        return
    text = _wide_data(loc, ok, loc.crs)
    if not text:
        return
    old = f"Analysis CRS: {loc.crs_reason}."
    loc.crs_reason += text
    choices["crs_reason"] = loc.crs_reason
    notes[notes.index(old)] = f"Analysis CRS: {loc.crs_reason}."


def _wide_data(loc: _Located, located: np.ndarray, crs: pyproj.CRS) -> str:
    """What the reason for the analysis CRS adds when the bulk of the data (1st-99th percentile
    box of longitude and latitude) reaches where its scale error passes
    :data:`hotspots.crs.MAX_SCALE_ERROR` (a whole-country US file in the UTM zone of its
    median point): "" when it does not. Warned about as well."""
    sel, w = loc.points(np.flatnonzero(located))
    lon, lat = loc.plon[sel], loc.plat[sel]
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    lon, lat, w = lon[ok], lat[ok], w[sel][ok]
    if not len(lon):
        return ""
    if lon.max() - lon.min() > 180.0:  # across the antimeridian
        lon = np.where(lon < 0, lon + 360.0, lon)
    box_lon = [_weighted_percentile(lon, w, q) for q in (1, 99)]
    box_lat = [_weighted_percentile(lat, w, q) for q in (1, 99)]
    # the error at the points inside that box (an even sample of 10,000 of them at most)
    inside = np.flatnonzero(
        (lon >= box_lon[0]) & (lon <= box_lon[1]) & (lat >= box_lat[0]) & (lat <= box_lat[1])
    )
    inside = inside[np.linspace(0, len(inside) - 1, min(len(inside), 10_000)).astype(int)]
    err = crs_mod.scale_error(crs, lon[inside], lat[inside]) if len(inside) else 0.0
    if err <= crs_mod.MAX_SCALE_ERROR:
        return ""
    text = (
        f"; but the data spread from {box_lon[0]:.1f} to {box_lon[1]:.1f} degrees of longitude "
        f"and {box_lat[0]:.1f} to {box_lat[1]:.1f} of latitude (1st to 99th percentile), where "
        f"distances in this CRS are off by up to {100 * err:.1f} % (areas and densities by about "
        f"{100 * ((1 + err) ** 2 - 1):.0f} %). Hot spots are local: read each city or region on "
        "its own, or give a projected CRS in metres made for the whole area (--crs on the "
        "command line, crs= in Python; e.g. EPSG:5070 for the contiguous United States)"
    )
    warnings.warn(
        f"The analysis CRS {crs.name} measures these data badly:{text[5:]}.",
        HotspotsWarning,
        stacklevel=5,
    )
    return text


def _choose_crs(loc: _Located, located: np.ndarray) -> tuple[pyproj.CRS, str]:
    """:func:`hotspots.crs.choose_crs` of the located rows, from the distinct points and the rows
    at each: the same medians (of the values repeated, :func:`_weighted_median`) for the cost of
    sorting the points, not the rows. Rows across the antimeridian, or medians at exactly 0 (the
    sign of a zero is the rows'), take every row."""
    sel, w = loc.points(np.flatnonzero(located))
    lon, lat = loc.plon[sel], loc.plat[sel]
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if len(sel) and valid.all() and lon.max() - lon.min() <= 180.0:
        mlon, mlat = _weighted_median(lon, w[sel]), _weighted_median(lat, w[sel])
        if mlon != 0 and mlat != 0 and abs(mlon) <= 180 and abs(mlat) <= 90:
            return crs_mod.choose_crs(np.array([mlon]), np.array([mlat]))
    return crs_mod.choose_crs(*loc.lonlat(np.flatnonzero(located)))


def _duplicate_notes(n_dup: int, n_dup_kept: int, police_uk: bool = True) -> list[str]:
    """The duplicates rejected, and the identical rows kept (:func:`_find_copies`); the
    police.uk reason only for police.uk files."""
    notes: list[str] = []
    if n_dup:
        notes.append(f"{n_dup} exact duplicate row(s) with an id were rejected as duplicates.")
    if n_dup_kept:
        why = (
            "distinct incidents can share a place and time, and police.uk snaps incidents to "
            "shared map points"
            if police_uk
            else "distinct incidents can share a place and time"
        )
        notes.append(
            f"{n_dup_kept} row(s) without an id are identical to an earlier row; they were kept "
            f"as separate incidents ({why})."
        )
    return notes


def _set_aside_outliers(
    loc: _Located,
    rej: _Rejects,
    outlier_km: float | bool | None,
    study_area_given: bool,
    choices: dict[str, Any],
    notes: list[str],
) -> None:
    """Reject spatial outliers among the rows still valid (:func:`_outliers`); say the rule.

    Off when ``outlier_km`` is 0 or False, and when a study area is given without a distance.
    """
    ok = rej.ok
    n_outliers = 0
    use_outliers = (
        outlier_km is not False
        and outlier_km != 0
        and (not study_area_given or outlier_km is not None)
    )
    if use_outliers and ok.any():
        fixed_km = outlier_km if isinstance(outlier_km, float) else None
        sel, w = loc.points(ok)
        stacked = np.zeros(len(sel), dtype=bool)
        flag, params, why_not = _outliers(loc.px[sel], loc.py[sel], fixed_km, w[sel], stacked)
        far = np.zeros(len(loc.px), dtype=bool)
        far[sel] = flag
        full = ok & far[np.maximum(loc.pid, 0)]
        dist_km = params["distance_km"]
        isolated = (
            f"isolated point more than {dist_km} km from the dense body of the data"
            if dist_km
            else ""
        )
        detail: _Text = isolated
        n_stacked = 0
        row_stack = None
        stack_text = (
            f"one of many rows at one point with nothing else within 1 km, more than "
            f"{dist_km} km from the dense body of the data (a placeholder location?)"
        )
        if stacked.any():
            at_stack = np.zeros(len(loc.px), dtype=bool)
            at_stack[sel] = stacked
            row_stack = at_stack[np.maximum(loc.pid, 0)]
            n_stacked = int((full & row_stack).sum())
        swapped = _swapped_outliers(loc, full, sel[~flag], dist_km) if dist_km else None
        swap_text = (
            f"{isolated}; with latitude and longitude exchanged it lies among the data: the "
            "two values of this row look swapped"
        )
        if row_stack is not None or (swapped is not None and swapped.any()):

            def by_row(i: np.ndarray) -> np.ndarray:
                out = np.full(len(i), isolated, dtype=object)
                if swapped is not None:
                    out[swapped[i]] = swap_text
                if row_stack is not None:
                    out[row_stack[i]] = stack_text
                return out

            detail = by_row

        n_outliers = rej.add(full, R_OUTLIER, "", detail)
        distance = (
            f"{fixed_km:g} km (given)"
            if fixed_km is not None
            else "max(10 km, 2 x the 95th-percentile distance of non-isolated incidents from "
            "their median)"
        )
        rule = (
            "isolated points (fewer than 5 incidents in their 1 km cell and the 8 around it) more "
            "than D from the nearest non-isolated incident, and stacks (5 or more at one point "
            "with nothing else in those 9 cells) more than D from every other non-isolated "
            "incident; D = " + distance
        )
        choices["outlier_rule"] = {"rule": rule, **params}
        if why_not:
            notes.append(f"Outliers: {why_not}.")
        else:
            notes.append(
                f"Outliers: {n_outliers} row(s) were isolated points more than {dist_km:g} km from "
                "the dense body of the data and were set aside as spatial outliers."
            )
            if n_stacked:
                notes[-1] = (
                    f"Outliers: {n_outliers} row(s) more than {dist_km:g} km from the dense body "
                    f"of the data were set aside as spatial outliers: {n_outliers - n_stacked} "
                    f"isolated point(s) and {n_stacked} row(s) stacked at one point with nothing "
                    "else within 1 km (a placeholder location for rows without one?): check them "
                    "in the rejected rows."
                )
    else:
        choices["outlier_rule"] = (
            "disabled" if not study_area_given else "replaced by the given study area"
        )
    choices["n_outliers"] = n_outliers


def _swapped_outliers(
    loc: _Located, outlier: np.ndarray, body: np.ndarray, dist_km: float
) -> np.ndarray | None:
    """Per row: an outlier read as longitude/latitude that lies within ``dist_km`` of a point
    of the data's body (``body``: distinct points) once its two values are exchanged (a row
    whose columns were swapped; only said, the row stays an outlier). None when no outlier is
    in degrees."""
    rows = np.flatnonzero(outlier & ~loc.bng)
    if not len(rows) or not len(body):
        return None
    lon, lat = loc.vy[rows], loc.vx[rows]
    fits = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    if not fits.any():
        return None
    x, y = crs_mod.transformer(crs_mod.WGS84, loc.crs).transform(lon[fits], lat[fits])
    near, _ = cKDTree(np.column_stack([loc.px[body], loc.py[body]])).query(
        np.column_stack([x, y]), distance_upper_bound=dist_km * 1000.0
    )
    out = np.zeros(len(outlier), dtype=bool)
    out[rows[fits]] = np.isfinite(near)
    return out


def _data_study_area(
    loc: _Located, ok: np.ndarray, choices: dict[str, Any], notes: list[str]
) -> BaseGeometry:
    """The study area drawn round the valid rows (:func:`_default_study_area`); say the rule."""
    sel, _ = loc.points(ok)
    area, cell = _default_study_area(loc.px[sel], loc.py[sel])
    choices["study_area_rule"] = (
        f"{cell:g} m grid cells holding an incident (any crime type, outliers excluded), "
        "closed by one cell (dilate then erode) to fill one-cell gaps and holes, "
        f"clipped to the incidents' convex hull plus {STUDY_HULL_MARGIN_M:g} m"
    )
    choices["study_area_cell_m"] = cell
    choices["study_area_km2"] = round(float(area.area) / 1e6, 4)
    notes.append(
        f"Study area: {area.area / 1e6:.2f} km², the {cell:g} m grid cells holding an "
        "incident, with one-cell gaps filled; pass study_area= for an exact boundary."
    )
    return area


def _file_choices(files: list[ValidatedFile]) -> dict[str, Any]:
    """What the files themselves decided: date order, dates kept unread, weights, months."""
    choices: dict[str, Any] = {}
    orders = {f.info.name: f.date_order for f in files if f.date_order}
    if orders:
        choices["date_order"] = orders
    undated = sum(f.undated for f in files)
    if undated:
        choices["unreadable_dates_kept"] = undated
    implausible = sum(f.implausible for f in files)
    if implausible:  # dates that cannot be true, with the bounds they were judged by
        latest = max(f.latest for f in files if f.implausible)
        choices["dates_that_cannot_be_true"] = {
            "rows": implausible, "earliest": str(EARLIEST_DATE)[:10], "latest": latest,
        }  # fmt: skip
    choices["weights_given"] = any("weight" in f.info.columns for f in files)
    trailing = [f.info.name for f in files if f.parsed.trailing_field]
    if trailing:  # read without the empty field each row ended with (_without_trailing_field)
        choices["trailing_field_dropped"] = trailing
    windows = _windows(files)
    if windows:  # dates read as time windows (window_times)
        choices["time_window"] = list(windows.values())
    titles = {f.info.name: f.parsed.title[0] for f in files if f.parsed.title is not None}
    if titles:  # lines above the column names, not rows (_below_title)
        choices["title_lines"] = titles
    # every month a well-formed row carries (any crime type, valid or not): a month absent here
    # is missing data, not a month without incidents (Incidents.missing_months)
    seen = np.unique(np.concatenate([_distinct_values(f.month) for f in files]))
    choices["months_in_input"] = [str(m)[:7] for m in seen[~np.isnat(seen)]]
    return choices


def _distinct_values(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)``, at once for one value throughout (a view: a column the file lacks, or
    police.uk's one month)."""
    if a.ndim == 1 and a.strides == (0,):
        return np.unique(a[:1])
    return np.unique(a)


def _cat_rows(
    files: list[ValidatedFile], attr: str, masks: list[np.ndarray], dtype: Any
) -> np.ndarray:
    """A per-row array of every file (``attr`` of :class:`ValidatedFile`) at the rows of
    ``masks`` (one per file), end to end."""
    arrays = [np.asarray(getattr(f, attr)) for f in files]
    if all(a.ndim == 1 and len(a) and a.strides == (0,) for a in arrays):
        # one value per file (police.uk's month, a file without times or weights): each value
        # repeated for its rows, no mask read element by element but to count it
        values = np.concatenate([a[:1] for a in arrays])
        counts = np.array([np.count_nonzero(m) for m in masks], dtype=np.int64)
        return np.repeat(values, counts).astype(dtype, copy=False)
    return np.concatenate([a[m] for a, m in zip(arrays, masks, strict=True)]).astype(
        dtype, copy=False
    )


def _valid_frame(
    files: list[ValidatedFile],
    offsets: np.ndarray,
    loc: _Located,
    used: np.ndarray,
    frame_file: np.ndarray,
    columns: Collection[str] | None = None,
) -> pd.DataFrame:
    """The valid rows (``used``, over all files) as the incidents frame (``REQUIRED_COLUMNS``,
    or only ``columns``).

    The text columns are categorical here, so filtering copies codes, not text; the filter step
    turns them into strings (:func:`_text_of`) for the rows it keeps.
    """
    names, name_codes = _merged_codes([pa.array([f.info.name for f in files], pa.string())])
    ok = np.zeros(int(offsets[-1]) + files[-1].n, dtype=bool)
    ok[used] = True
    masks = [ok[off : off + f.n] for f, off in zip(files, offsets, strict=True)]
    lines = [f.parsed.lines for f in files]
    need = set(REQUIRED_COLUMNS if columns is None else columns)
    at = loc.pid[used] if {"x", "y"} & need else used
    lon, lat = loc.lonlat(used) if {"lon", "lat"} & need else (used, used)
    makers: dict[str, Callable[[], Any]] = {
        "x": lambda: loc.px[at],
        "y": lambda: loc.py[at],
        "lon": lambda: lon,
        "lat": lambda: lat,
        "month": lambda: _cat_rows(files, "month", masks, "datetime64[ns]"),
        "datetime": lambda: _cat_rows(files, "dt", masks, "datetime64[ns]"),
        "has_time": lambda: _cat_rows(files, "has_time", masks, bool),
        "crime_type": lambda: _text_column(files, "ctype", masks),
        "weight": lambda: _cat_rows(files, "weight", masks, float),
        "location": lambda: _text_column(files, "location", masks),
        "source_file": lambda: pd.Categorical.from_codes(name_codes[frame_file], names),
        "source_row": lambda: np.concatenate(
            [ln[m] for ln, m in zip(lines, masks, strict=True)]
        ).astype(np.int64),
    }
    return pd.DataFrame(
        {c: make() for c, make in makers.items() if c in need},
        copy=False,  # fresh arrays: one block each, not copied into one block per dtype
    )


def _merged_points(
    files: list[ValidatedFile], offsets: np.ndarray, located: np.ndarray, *, bng: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_distinct_points` of the located rows of the files in British National Grid (or
    not), from each file's own distinct points: the same codes, in the same order."""
    parts = []
    for f, off in zip(files, offsets, strict=True):
        if f.bng != bng:
            continue
        here = located[off : off + f.n]
        pts = f.points
        if pts is None or not np.array_equal(here, f.rejects.ok):
            pts = _distinct_points(f.vx[here], f.vy[here])
        parts.append(pts)
    if not parts:
        return _distinct_points(np.zeros(0), np.zeros(0))
    codes, ux, uy = _distinct_points(
        np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])
    )
    starts = np.cumsum([0] + [len(p[1]) for p in parts[:-1]])
    rows = np.concatenate([codes[s + p[0]] for s, p in zip(starts, parts, strict=True)])
    return rows.astype(np.int64), ux, uy


def _distinct_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code of each point, distinct x, distinct y), in order of first appearance."""
    if not len(x):
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    if np.isfinite(x).all() and np.isfinite(y).all():
        # a 64-bit key of each point's bits (+0.0: -0.0 is 0.0, as for the complex numbers
        # below), checked: every point equal to the first of its code
        key = (x + 0.0).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ (y + 0.0).view(np.uint64)
        codes, _ = pd.factorize(key)
        codes = codes.astype(np.int64)
        new = np.ones(len(codes), dtype=bool)  # codes come in order of first appearance
        new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
        first = np.flatnonzero(new)
        if (x[first][codes] == x).all() and (y[first][codes] == y).all():
            uniq = x[first] + 1j * y[first]  # the signs of zeros as the complex numbers have them
            return codes, uniq.real.copy(), uniq.imag.copy()
    codes, uniq = pd.factorize(x + 1j * y)
    uniq = np.asarray(uniq, dtype=complex)
    return codes.astype(np.int64), uniq.real.copy(), uniq.imag.copy()


#: Dashes and minus signs read as a hyphen when crime types are compared (:func:`_type_key`).
_DASHES = str.maketrans(
    dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")
)


def _type_key(text: str) -> str:
    """What makes two crime types the same type written differently: Unicode compatibility
    forms, dashes, runs of spaces and letter case aside."""
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return " ".join(folded.split()).casefold()


def _type_spellings(files: list[ValidatedFile]) -> dict[str, str]:
    """Crime types written more than one way ("BURGLARY", "burglary", "Violence – assault" and
    "Violence - assault"): each other spelling -> the spelling most rows of all files use (the
    first seen on a tie). Empty for the usual file (one spelling per type)."""
    values, at = _merged_codes([f.ctype[1] for f in files])
    keys = [_type_key(v) for v in values]
    if len(set(keys)) == len(keys):
        return {}
    starts = np.concatenate([[0], np.cumsum([len(f.ctype[1]) for f in files])[:-1]])
    counts = np.zeros(len(values), dtype=np.int64)
    for f, s in zip(files, starts, strict=True):
        counts += np.bincount(at[f.ctype[0].astype(np.int64) + s], minlength=len(values))
    best: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k not in best or counts[i] > counts[best[k]]:
            best[k] = i
    return {
        str(v): str(values[best[k]]) for v, k in zip(values, keys, strict=True)
        if values[best[k]] != v
    }  # fmt: skip


def _text_column(files: list[ValidatedFile], attr: str, masks: list[np.ndarray]) -> pd.Categorical:
    """A text column (crime type, location) at the rows of ``masks`` (one per file), as a
    categorical of the files' distinct values (a crime type written several ways under its
    most used spelling, :func:`_type_spellings`)."""
    values, at = _merged_codes([getattr(f, attr)[1] for f in files])
    spellings = _type_spellings(files) if attr == "ctype" else {}
    if spellings:
        at_merged, merged = pd.factorize(pd.Index([spellings.get(v, v) for v in values]))
        values, at = pd.Index(merged, dtype=str), at_merged.astype(np.int64)[at]
    starts = np.concatenate([[0], np.cumsum([len(getattr(f, attr)[1]) for f in files])[:-1]])
    codes = np.concatenate(
        [at[getattr(f, attr)[0][m].astype(np.int64) + s]
         for f, m, s in zip(files, masks, starts, strict=True)]
    )  # fmt: skip
    return pd.Categorical.from_codes(codes, values)


def _merged_codes(parts: list[pa.Array]) -> tuple[pd.Index, np.ndarray]:
    """(distinct values of all parts as a pandas string index, each part value's place in it)."""
    values = pa.chunked_array([p.cast(pa.string()) for p in parts], type=pa.string())
    at, distinct = pd.factorize(values.combine_chunks().to_pandas().astype(str))
    return pd.Index(distinct, dtype=str), at.astype(np.int64)


def _text_of(column: pd.Series) -> pd.Series:
    """A text column as pandas Arrow-backed strings (categorical ones from their codes)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    if not len(column):
        return pd.Series([], dtype=str)
    cats = column.cat.categories
    if isinstance(cats.dtype, pd.StringDtype) and cats.dtype.storage == "pyarrow":
        values = pa.array(cats)  # its Arrow text, not copied
    else:
        values = pa.array(cats.to_numpy(dtype=object), type=pa.string())
    codes = pa.array(column.cat.codes.to_numpy(dtype=np.int64))
    return values.take(codes).to_pandas().astype(str)


@dataclass(frozen=True)
class _Copies:
    """What the duplicate rules find (:func:`_find_copies`), before any row is rejected."""

    with_id: list[np.ndarray]  # per header: the rows (over all files) that copy an earlier row
    # with an id, whatever their state (only those still valid are rejected as duplicates)
    kept: int  # valid rows without an id equal to an earlier one (kept; a note counts them)


def _find_copies(
    files: list[ValidatedFile],
    offsets: np.ndarray,
    has_id: np.ndarray,
    ok: np.ndarray,
    with_id: bool = True,
) -> _Copies:
    """The exact copies of an earlier row that carry an id, and how many valid rows (``ok``)
    without one copy an earlier row; rejects nothing, so it runs in a thread while the points
    are located and projected (:func:`_validate` rejects the copies with an id after).

    Files are compared only with files of the same header. A row with an id can only copy a row
    with the same id, so whole rows are compared only where an id value repeats; rows without an
    id (police.uk anti-social behaviour) are grouped whole to count their copies.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, f in enumerate(files):
        if f.n:
            groups.setdefault(tuple(f.parsed.header), []).append(i)
    found: list[np.ndarray] = []
    n_kept = 0
    for members in groups.values():
        if with_id and (copies := _copies_with_id(files, offsets, members, has_id)) is not None:
            found.append(copies)
        n_kept += _copies_without_id(files, offsets, members, has_id, ok)
    return _Copies(found, n_kept)


def _span(f: ValidatedFile, off: int, a: np.ndarray) -> np.ndarray:
    return a[off : off + f.n]


def _rows_of(
    files: list[ValidatedFile], offsets: np.ndarray, members: list[int], masks: list[np.ndarray]
) -> pa.Table:
    """The raw rows selected by ``masks`` (one per member file), with their row over all files."""
    parts = []
    for i, mask in zip(members, masks, strict=True):
        if not mask.any():
            continue
        local = np.flatnonzero(mask)
        t = _raw_rows(files[i], local)
        parts.append(t.append_column("__row", pa.array(local + offsets[i])))
    return pa.concat_tables(parts)


def _raw_rows(f: ValidatedFile, local: np.ndarray) -> pa.Table:
    """The raw fields of the given rows of one file (increasing, distinct), one column per header
    name: from the text kept, else from the file parsed again."""
    kept = f.kept
    if kept is None:
        pick = np.zeros(f.n, dtype=bool)
        pick[local] = True  # a filter keeps them in order, without joining each column's blocks
        return _decoded(f.parsed.table.filter(pa.array(pick)))
    at = np.searchsorted(kept.rows, local)
    if len(kept.rows) and (at < len(kept.rows)).all() and (kept.rows[at] == local).all():
        return kept.raw.take(pa.array(at))
    data = kept.reload()
    if hashlib.sha256(data).hexdigest() != f.info.sha256:
        msg = "The file changed while it was being read."
        raise InputError(msg, file=f.info.name, hint="read it again once it is written.")
    if kept.one_line is not None:
        fields = _line_fields(data, f.parsed, f.parsed.lines[local], kept.one_line)
        if fields is not None:
            return fields
    table = _decoded(_parse_file(f.info.name, data).table)
    del data
    pick = np.zeros(f.n, dtype=bool)
    pick[local] = True
    return table.filter(pa.array(pick))


def _line_fields(data: bytes, p: _Parsed, lines: np.ndarray, delim: str) -> pa.Table | None:
    """The raw fields of the records on the given physical ``lines`` (header = 1) of a file
    whose every record is its line without quotes or carriage returns (``p`` its parse): each
    line split at ``delim``, as Arrow splits it. None where a line does not split into the
    header's number of fields (the file is then not the one parsed)."""
    start = 3 if p.encoding == "utf-8-sig" else 0
    body = np.frombuffer(data, dtype=np.uint8)[start:]
    breaks = np.flatnonzero(body == 10)
    begin = np.concatenate([[0], breaks + 1])
    finish = np.concatenate([breaks, [len(body)]])
    if len(lines) and int(lines.max()) > len(begin):
        return None
    ncol = len(p.header)
    rows = []
    for k in lines.tolist():
        a, b = start + int(begin[k - 1]), start + int(finish[k - 1])
        fields = data[a:b].decode("utf-8").split(delim)
        if len(fields) != ncol:
            return None
        rows.append(fields)
    cols = list(zip(*rows, strict=True)) if rows else [()] * ncol
    return pa.table({h: pa.array(c, type=pa.string()) for h, c in zip(p.header, cols, strict=True)})


def _copies_with_id(
    files: list[ValidatedFile], offsets: np.ndarray, members: list[int], has_id: np.ndarray
) -> np.ndarray | None:
    """The rows (mask over all rows) with an id equal in every field to an earlier row, or None
    for none: only rows whose id key (:func:`_id_keys`) repeats can be, and their raw fields are
    compared (:func:`_copies`)."""
    if files[members[0]].info.columns.get("id") is None:
        return None
    with_id = [_span(files[i], offsets[i], has_id) for i in members]
    if not any(w.any() for w in with_id):
        return None
    keys = [_keys_of(files[i]).ids[w] for i, w in zip(members, with_id, strict=True)]
    again = _repeated(np.concatenate(keys))
    if not again.any():
        return None
    cuts = np.cumsum([len(k) for k in keys])[:-1]
    masks = []
    for w, a in zip(with_id, np.split(again, cuts), strict=True):
        m = np.zeros(len(w), dtype=bool)
        m[np.flatnonzero(w)[a]] = True
        masks.append(m)
    return _copies(_rows_of(files, offsets, members, masks), len(has_id))


def _repeated(keys: np.ndarray) -> np.ndarray:
    """Per key (uint64, hash-like: :func:`_id_keys`): whether it occurs more than once.

    Keys are first counted by their top bits (two to four buckets a key, at most 2**23: 64 MB
    of counts); only keys sharing a bucket with another can repeat, and only those are compared
    exactly (half the time of comparing them all for millions of keys).
    """
    n = len(keys)
    if n < 1 << 16:
        return pd.Series(keys).duplicated(keep=False).to_numpy()
    bits = min(23, n.bit_length() + 1)
    bucket = (keys >> np.uint64(64 - bits)).astype(np.intp)
    shared = np.flatnonzero(np.bincount(bucket, minlength=1 << bits)[bucket] > 1)
    out = np.zeros(n, dtype=bool)
    if len(shared):
        out[shared] = pd.Series(keys[shared]).duplicated(keep=False).to_numpy()
    return out


def _keys_of(f: ValidatedFile) -> _RowKeys:
    """A file's :class:`_RowKeys` (made now for a file validated without them)."""
    if f.keys is None:
        f.keys = _row_keys(f.parsed, f.info.columns.get("id"), f.has_id, f.rejects.ok)
    return f.keys


#: The multiplier of :func:`_text_keys`' polynomial hash, and the length's (:func:`_id_keys`).
_KEY_MIX = np.uint64(0x9E3779B97F4A7C15)
_LENGTH_MIX = 0xC2B2AE3D27D4EB4F


def _word_keys(arr: pa.Array) -> np.ndarray:
    """:func:`_id_keys` of a string array without nulls, every length at once: the same keys
    (:func:`_text_keys` of the strings of each length, mixed with the length; 0 for ""), from
    one gather of every 8-byte word of every string instead of one pass per length (quicker
    where lengths are many and strings of each few: whole rows without an id)."""
    n = len(arr)
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    offs = offs.astype(np.int64)
    if not n or offs[-1] == offs[0]:
        return np.zeros(n, dtype=np.uint64)
    lo, hi = int(offs[0]), int(offs[-1])
    data = np.zeros(hi - lo + 8, dtype=np.uint8)
    data[: hi - lo] = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[lo:hi]
    return _byte_keys(data, offs[:-1] - lo, np.diff(offs))


def _byte_keys(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """:func:`_word_keys` of the strings ``data[start : start + length]`` (int64 each; bytes
    ``data``, readable 7 bytes past every string's end)."""
    out = np.zeros(len(starts), dtype=np.uint64)
    words = (lengths + 7) >> 3  # per string; its last word padded with zero bytes
    has = np.flatnonzero(words)
    if not len(has):
        return out
    # the 8 bytes from each byte on, as a (native, unaligned) word: a view, not a copy
    at = np.ndarray(shape=(len(data) - 7,), dtype=np.uint64, buffer=data, strides=(1,))
    w_n = words[has]
    first = np.zeros(len(has), dtype=np.int64)  # each string's first word among them all
    np.cumsum(w_n[:-1], out=first[1:])
    j = np.arange(int(w_n.sum()), dtype=np.int64) - np.repeat(first, w_n)  # word in string
    w = at[np.repeat(starts[has], w_n) + 8 * j]
    tail = (lengths[has] - 8 * (w_n - 1)).astype(np.uint64)  # bytes in the last word: 1-8
    keep = np.where(tail == 8, ~np.uint64(0), (np.uint64(1) << (tail * np.uint64(8))) - 1)
    w[first + w_n - 1] &= keep  # the bytes after a string count as zeros (little-endian)
    powers = np.full(int(w_n.max()), _KEY_MIX, dtype=np.uint64)
    powers[0] = 1
    powers = np.cumprod(powers, dtype=np.uint64)  # _KEY_MIX ** k, wrapping
    w *= powers[np.repeat(w_n - 1, w_n) - j]  # Horner's sum, term by term
    out[has] = np.add.reduceat(w, first) ^ (lengths[has].astype(np.uint64) * np.uint64(_LENGTH_MIX))
    return out


def _text_keys(arr: pa.Array) -> np.ndarray | None:
    """A 64-bit key per string, equal for equal strings (and rarely for others), made from the
    bytes at once when every string has the same length (police.uk's 64-hex Crime IDs); None
    otherwise. Only rows whose key repeats can repeat, so exact comparisons shrink to those."""
    n = len(arr)
    if n == 0 or arr.null_count or not (pa.types.is_string(arr.type)):
        return None
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    width = int(offs[1] - offs[0])
    if width == 0 or int(offs[-1] - offs[0]) != width * n or (np.diff(offs) != width).any():
        return None
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offs[0] : offs[-1]].reshape(n, width)
    pad = -width % 8
    if pad:
        data = np.concatenate([data, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    words = np.ascontiguousarray(data).view(np.uint64)
    key = np.zeros(n, dtype=np.uint64)
    for j in range(words.shape[1]):  # a polynomial hash of the 8-byte words (wrapping)
        key = key * _KEY_MIX + words[:, j]
    return key


def _copies_without_id(
    files: list[ValidatedFile],
    offsets: np.ndarray,
    members: list[int],
    has_id: np.ndarray,
    valid: np.ndarray,
) -> int:
    """The valid rows (``valid``) without an id equal in every field to an earlier one: each
    file's distinct whole rows (:class:`_RowKeys`), those of different files compared field by
    field where their keys are equal."""
    ok = valid & ~has_id
    total = 0
    keys, owners = [], []
    for i in members:
        m = _span(files[i], offsets[i], ok)
        if not m.any():
            continue
        rk = _keys_of(files[i])
        local = np.flatnonzero(m)
        used, first = np.unique(rk.bare[local], return_index=True)
        keys.append(rk.bare_keys[used])
        owners.append((i, local[first]))  # a row of each distinct whole row
        total += len(local)
    if total < 2:
        return 0
    again = _repeated(np.concatenate(keys))
    distinct = int((~again).sum())
    if again.any():
        texts = []
        cuts = np.cumsum([len(k) for k in keys])[:-1]
        for (i, rows), a in zip(owners, np.split(again, cuts), strict=True):
            if a.any():
                texts.append(_joined(_raw_rows(files[i], np.sort(rows[a]))))
        distinct += len(pc.unique(pa.chunked_array(texts, type=pa.string())))
    return total - distinct


def _copies(t: pa.Table, n: int) -> np.ndarray:
    """Mask over all n rows: rows of ``t`` equal in every field to an earlier row of ``t``."""
    keys = [c for c in t.column_names if c != "__row"]
    firsts = t.group_by(keys, use_threads=False).aggregate([("__row", "min")]).column("__row_min")
    rows = t.column("__row").to_numpy()
    is_first = pc.is_in(t.column("__row"), firsts).to_numpy(zero_copy_only=False)
    out = np.zeros(n, dtype=bool)
    out[rows[~is_first]] = True
    return out


# --------------------------------------------------------------------------------------------
# Filters: crime types, dates, study area polygon; harm weights
# --------------------------------------------------------------------------------------------

# Notes that a new filter step recomputes (and so replaces).
_RECOMPUTED_NOTES = ("Crime types: ", "Dates: ", "Filters: ")


#: A checked ``date_from`` / ``date_to``: (the moment, whether it was a date only), or None.
_Bound: TypeAlias = tuple[pd.Timestamp, bool] | None


@dataclass
class _Filtered:
    """What the filters kept (``keep``, per frame row), the weights, and what they said."""

    keep: np.ndarray
    rejects: _Rejects  # over the frame's rows
    weight: np.ndarray
    choices: dict[str, Any]
    notes: list[str]
    area: BaseGeometry | None


def _filter_core(
    frame: pd.DataFrame,
    row_file: np.ndarray,
    infos: list[FileInfo],
    type_filter: str | frozenset[str],
    when_from: _Bound,
    when_to: _Bound,
    area: BaseGeometry | None,
    harm_weights: dict[str, float] | None,
) -> _Filtered:
    """The filters in order (study area polygon, crime type, date range), then harm weights.

    ``row_file`` is each frame row's index in ``infos``; a row gets the first reason that applies.
    """
    n = len(frame)
    rej = _Rejects(n)
    notes: list[str] = []
    choices: dict[str, Any] = {}
    if area is not None:
        _filter_polygon(frame, area, rej, choices, notes)
    types = _TypeCodes.of(frame["crime_type"])
    _filter_types(types, row_file, infos, type_filter, rej, choices, notes)
    if when_from is not None or when_to is not None:
        _filter_dates(frame, row_file, infos, when_from, when_to, rej, choices)
    used = rej.ok
    weight = _weights(frame, infos, types, used, harm_weights, choices, notes)
    if used.any():
        _period_left(frame, infos, used, choices, notes)
    counts = rej.counts()
    choices["filters"] = {
        "rows_in": n,
        "rows_kept": int(used.sum()),
        **{r: counts.get(r, 0) for r in (R_POLYGON, R_TYPE, R_DATE_RANGE)},
    }
    if counts:
        notes.append(
            f"Filters: {int(used.sum()):,} of {n:,} valid incidents kept ("
            + ", ".join(f"{k:,} {r}" for r, k in counts.items())
            + ")."
        )
    return _Filtered(used, rej, weight, choices, notes, area)


def _filter_polygon(
    frame: pd.DataFrame,
    area: BaseGeometry,
    rej: _Rejects,
    choices: dict[str, Any],
    notes: list[str],
) -> None:
    """Reject the incidents outside the study area polygon given (analysis CRS)."""
    n = len(frame)
    inside = np.zeros(n, dtype=bool)
    if n:
        shapely.prepare(area)
        inside = shapely.intersects_xy(
            area, frame["x"].to_numpy(dtype=float), frame["y"].to_numpy(dtype=float)
        )
    lon = frame["lon"].to_numpy(dtype=float)
    lat = frame["lat"].to_numpy(dtype=float)
    n_out = rej.add(~inside, R_POLYGON, "", lambda i: _PointText(lon[i], lat[i]))
    choices["study_area_rule"] = "given"
    choices["study_area_km2"] = round(float(area.area) / 1e6, 4)
    notes.append(f"Study area: the polygon given ({n_out} row(s) outside it were rejected).")


@dataclass
class _TypeCodes:
    """A frame's crime types by distinct value, so each type is decided once."""

    codes: np.ndarray  # int64 per row: its distinct type
    raw: np.ndarray  # object: the distinct types as written
    folded: np.ndarray  # object: the same, stripped and case-folded (how filters compare them)

    @classmethod
    def of(cls, crime_type: pd.Series) -> _TypeCodes:
        if isinstance(crime_type.dtype, pd.CategoricalDtype):  # read_incidents' frame
            codes, uniq = crime_type.cat.codes.to_numpy(), crime_type.cat.categories
        else:
            codes, uniq = pd.factorize(crime_type.astype(str))
        raw = np.asarray(uniq, dtype=object)
        folded = np.array([str(u).strip().casefold() for u in raw], dtype=object)
        return cls(codes.astype(np.int64), raw, folded)

    def kept(self, rows: np.ndarray) -> list[str]:
        """The distinct types (as written) of the given rows, sorted."""
        return sorted({str(self.raw[c]) for c in np.unique(self.codes[rows])})


def _filter_types(
    types: _TypeCodes,
    row_file: np.ndarray,
    infos: list[FileInfo],
    type_filter: str | frozenset[str],
    rej: _Rejects,
    choices: dict[str, Any],
    notes: list[str],
) -> None:
    """Reject the rows whose crime type ``crime_types=`` does not select."""
    n = len(types.codes)
    if isinstance(type_filter, frozenset):
        keep_type = _listed_types(types, row_file, infos, type_filter, choices, notes)
    elif type_filter == "all":
        keep_type = np.ones(n, dtype=bool)
        choices["crime_types_kept"] = "all"
        notes.append("Crime types: all kept.")
    else:
        keep_type = _default_types(types, row_file, infos, choices, notes)
    type_col = pa.array([f.columns.get("crime_type", "") for f in infos], type=pa.string())
    type_text = pa.array(
        ["crime type '" + str(c) + "' was not selected" for c in types.raw], pa.string()
    )
    rej.add(
        ~keep_type,
        R_TYPE,
        lambda i: _Take(type_col, row_file[i]),
        lambda i: _Take(type_text, types.codes[i]),
    )


def _listed_types(
    types: _TypeCodes,
    row_file: np.ndarray,
    infos: list[FileInfo],
    listed: frozenset[str],
    choices: dict[str, Any],
    notes: list[str],
) -> np.ndarray:
    """Rows to keep for a list of crime types (case-folded): those types, and every row of a
    file without a crime type column. Names found in no file are warned about."""
    n = len(types.codes)
    typed_file = np.array(["crime_type" in f.columns for f in infos], dtype=bool)
    has_type_col = typed_file[row_file] if n else np.zeros(0, dtype=bool)
    keep_type = ~has_type_col | np.isin(types.folded, list(listed))[types.codes]
    present_set = set(types.folded[np.unique(types.codes[has_type_col])].tolist())
    missing = sorted(listed - present_set)
    choices["crime_types_kept"] = types.kept(keep_type & has_type_col) or sorted(listed)
    notes.append("Crime types: kept " + ", ".join(choices["crime_types_kept"]) + ".")
    if missing:
        text_ = f"crime_types names not found in any file: {', '.join(missing)}."
        notes.append(text_)
        warnings.warn(text_, HotspotsWarning, stacklevel=6)
    untyped = [f.name for f in infos if "crime_type" not in f.columns]
    if untyped:
        notes.append(
            "Crime types: "
            + ", ".join(untyped)
            + " have no crime type column; all their rows were kept."
        )
    return keep_type


def _default_types(
    types: _TypeCodes,
    row_file: np.ndarray,
    infos: list[FileInfo],
    choices: dict[str, Any],
    notes: list[str],
) -> np.ndarray:
    """Rows to keep for ``crime_types="default"``: :data:`VIOLENCE_TYPES_POLICE_UK` in police.uk
    files, types named by :data:`VIOLENCE_KEYWORDS` in other files with a crime type column."""
    n = len(types.codes)
    fmt_of = np.array([f.format for f in infos], dtype=object)
    police = (fmt_of == FORMAT_POLICE_UK)[row_file] if n else np.zeros(0, dtype=bool)
    vt = {v.casefold() for v in VIOLENCE_TYPES_POLICE_UK}
    keep_type = ~police | np.isin(types.folded, list(vt))[types.codes]
    if police.any():
        choices["crime_types_kept"] = sorted(VIOLENCE_TYPES_POLICE_UK)
        notes.append(
            "Crime types: police.uk files keep "
            + ", ".join(sorted(VIOLENCE_TYPES_POLICE_UK))
            + ". police.uk's 'Violence and sexual offences' is not only street violence: it also "
            "holds domestic abuse, harassment, stalking and sexual offences, which police.uk "
            "does not separate."
        )
    else:
        choices["crime_types_kept"] = "all"
    violent_u = np.array([any(k in c for k in VIOLENCE_KEYWORDS) for c in types.folded], dtype=bool)
    for fi, f in enumerate(infos):
        if f.format == FORMAT_POLICE_UK or "crime_type" not in f.columns:
            continue
        rows = row_file == fi
        if rows.any():
            _violent_by_name(types, f.name, rows, violent_u, keep_type, choices, notes)
    return keep_type


def _violent_by_name(
    types: _TypeCodes,
    name: str,
    rows: np.ndarray,
    violent_u: np.ndarray,
    keep_type: np.ndarray,
    choices: dict[str, Any],
    notes: list[str],
) -> None:
    """Keep (in ``keep_type``) the violence-related types of one file that is not police.uk,
    by :data:`VIOLENCE_KEYWORDS`; a file with no such type is kept whole."""
    codes, folded = types.codes, types.folded
    present = np.unique(codes[rows & (folded != "")[codes]])
    names = np.unique(folded[present])
    violent = [t for t in names if any(k in str(t) for k in VIOLENCE_KEYWORDS)]
    if not violent:
        notes.append(
            f"Crime types: {name} has no type that names violence, so every row was "
            "kept; pass crime_types= to choose."
        )
        return
    keep_type[rows] = violent_u[codes[rows]]
    kept = types.kept(rows & keep_type)
    dropped = len(names) - len(violent)
    shown = ", ".join(kept[:12]) + (f" and {len(kept) - 12} more" if len(kept) > 12 else "")
    notes.append(
        f"Crime types: {name} keeps the {len(kept)} violence-related type(s) by name "
        f"({shown}); {dropped} other type(s) were filtered out. Pass crime_types='all' or a "
        "list to choose."
    )
    prev = choices.get("crime_types_kept")
    choices["crime_types_kept"] = sorted(
        set(kept) | (set(prev) if isinstance(prev, list) else set())
    )
    choices["violence_keywords"] = list(VIOLENCE_KEYWORDS)


def _outside_range(
    dt: np.ndarray, month: np.ndarray, when_from: _Bound, when_to: _Bound
) -> np.ndarray:
    """Per row: before ``when_from`` or after ``when_to``, or with no known date at all.

    Month-only rows are outside when their month does not overlap the range; a ``when_to``
    without a time of day includes that whole day.
    """
    outside = np.zeros(len(dt), dtype=bool)
    with_date = ~np.isnat(dt)
    only_month = np.isnat(dt) & ~np.isnat(month)
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
    return outside | (np.isnat(dt) & np.isnat(month))


def _filter_dates(
    frame: pd.DataFrame,
    row_file: np.ndarray,
    infos: list[FileInfo],
    when_from: _Bound,
    when_to: _Bound,
    rej: _Rejects,
    choices: dict[str, Any],
) -> None:
    """Reject the rows outside the date range (:func:`_outside_range`)."""
    dt = frame["datetime"].to_numpy(dtype="datetime64[ns]")
    month = frame["month"].to_numpy(dtype="datetime64[ns]")
    outside = _outside_range(dt, month, when_from, when_to)
    span = (
        (when_from[0].isoformat() if when_from else "")
        + ".."
        + (when_to[0].isoformat() if when_to else "")
    )
    date_col = pa.array(
        [f.columns.get("datetime") or f.columns.get("date") or f.columns.get("month") or ""
         for f in infos], type=pa.string(),
    )  # fmt: skip

    timed = frame["has_time"].to_numpy(dtype=bool)
    rej.add(
        outside,
        R_DATE_RANGE,
        lambda i: _Take(date_col, row_file[i]),
        lambda i: _DateText(dt[i], month[i], timed[i], span),
    )
    choices["date_filter"] = {
        "from": when_from[0].isoformat() if when_from else None,
        "to": when_to[0].isoformat() if when_to else None,
    }


def _weights(
    frame: pd.DataFrame,
    infos: list[FileInfo],
    types: _TypeCodes,
    used: np.ndarray,
    harm_weights: dict[str, float] | None,
    choices: dict[str, Any],
    notes: list[str],
) -> np.ndarray:
    """Each row's weight: ``harm_weights`` by crime type (every kept type must be mapped), else
    the file's weight column, else 1."""
    weight = frame["weight"].to_numpy(dtype=float).copy()
    has_weight_col = any("weight" in f.columns for f in infos)
    if harm_weights is not None:
        if used.any():
            raw_u, cf_u, codes = types.raw, types.folded, types.codes
            kept_codes = np.unique(codes[used])
            unmapped = sorted({str(raw_u[c]) for c in kept_codes if cf_u[c] not in harm_weights})
            if unmapped:
                shown = ["(blank: the file has no crime type)" if u == "" else u for u in unmapped]
                msg = f"harm_weights gives no weight for the crime type(s): {'; '.join(shown)}."
                raise InputError(
                    msg, hint="add every kept crime type to harm_weights, or narrow crime_types."
                )
            per_type = np.array([harm_weights.get(c, np.nan) for c in cf_u], dtype=float)
            weight = np.ones(len(frame))
            weight[used] = per_type[codes[used]]
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
    return weight


def _period_left(
    frame: pd.DataFrame,
    infos: list[FileInfo],
    used: np.ndarray,
    choices: dict[str, Any],
    notes: list[str],
) -> None:
    """The months the kept rows span, and how many have a time of day or no date at all."""
    month = frame["month"].to_numpy(dtype="datetime64[ns]")
    undated = np.isnat(month)
    blank_dates = int(np.count_nonzero(used & undated))
    if blank_dates and any(r in f.columns for f in infos for r in ("date", "datetime", "month")):
        notes.append(
            f"{blank_dates} used row(s) have no date; they count in maps but not in time profiles."
        )
    dated = used & ~undated
    first = last = None
    if dated.any():  # the earliest and latest in nanoseconds, without copying the rows out
        ns = month.view(np.int64)
        lo = int(np.where(dated, ns, np.iinfo(np.int64).max).min())
        hi = int(np.where(dated, ns, np.iinfo(np.int64).min).max())
        first = pd.Timestamp(np.datetime64(lo, "ns")).strftime("%Y-%m")
        last = pd.Timestamp(np.datetime64(hi, "ns")).strftime("%Y-%m")
    choices["date_range"] = {"first_month": first, "last_month": last}
    has_time = frame["has_time"].to_numpy()
    if has_time.dtype == bool:  # the count over the rows: the same division np.mean makes
        known = int(np.count_nonzero(has_time & used)) / int(np.count_nonzero(used))
    else:
        known = float(has_time[used].mean())
    choices["time_of_day_known"] = round(known, 4)
    if dated.any():
        notes.append(
            f"Dates: {first} to {last}; time of day known for "
            f"{100 * choices['time_of_day_known']:.1f}% of incidents."
        )


# --------------------------------------------------------------------------------------------
# Assembling the result
# --------------------------------------------------------------------------------------------


def _rejected_table(v: _Validated) -> pd.DataFrame:
    """Every rejected row: where, why, and its raw fields as text, in file and line order."""
    batches = v.rejects.batches
    if not batches and not any(f.parsed.malformed for f in v.files):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in REJECTED_COLUMNS})
    if batches:
        rows = np.concatenate([b.rows for b in batches])
        codes = np.concatenate([np.full(len(b.rows), b.code, dtype=np.int64) for b in batches])
        column = pa.concat_arrays([_as_arrow(b.column, len(b.rows)) for b in batches])
        detail = pa.concat_arrays([_as_arrow(b.detail, len(b.rows)) for b in batches])
        order = np.argsort(rows, kind="stable")
        rows, codes = rows[order], codes[order]
        column, detail = column.take(pa.array(order)), detail.take(pa.array(order))
    else:
        rows = codes = np.zeros(0, dtype=np.int64)
        column = detail = pa.array([], type=pa.string())
    reasons = pa.array(REASONS, type=pa.string())
    tables = []
    for f, off in zip(v.files, v.offsets, strict=True):
        a, b = np.searchsorted(rows, [off, off + f.n])
        p = f.parsed
        rename = {h: (f"raw_{h}" if h in REJECTED_COLUMNS else h) for h in p.header}
        parts = []
        if b > a:
            local = rows[a:b] - off
            raw = _raw_rows(f, local)  # rows are sorted and distinct
            meta = {
                "source_file": _as_arrow(p.name, b - a),
                "source_row": pa.array(p.lines[local], type=pa.int64()),
                "reason": reasons.take(pa.array(codes[a:b] - 1)),
                "column": column.slice(a, b - a),
                "detail": detail.slice(a, b - a),
            }
            parts.append(pa.table({**meta, **{rename[h]: raw.column(h) for h in p.header}}))
        if p.malformed:
            k = len(p.header)
            recs = [r for _, r in p.malformed]
            m = len(recs)
            meta = {
                "source_file": _as_arrow(p.name, m),
                "source_row": pa.array([ln for ln, _ in p.malformed], type=pa.int64()),
                "reason": _as_arrow(R_MALFORMED, m),
                # a short row: the first column it has no field for (a long one: none)
                "column": pa.array(
                    [p.header[len(r)] if len(r) < k else "" for r in recs], type=pa.string()
                ),
                "detail": pa.array([_malformed_detail(ln, r, k) for ln, r in p.malformed]),
            }
            body = {
                rename[h]: pa.array([r[j] if j < len(r) else "" for r in recs], type=pa.string())
                for j, h in enumerate(p.header)
            }
            body["_extra"] = pa.array(["|".join(r[k:]) for r in recs], type=pa.string())
            parts.append(pa.table({**meta, **body}))
            parts = [pa.concat_tables(parts, promote_options="default").sort_by("source_row")]
        tables.extend(parts)
    table = _blank_nulls(pa.concat_tables(tables, promote_options="default"))
    if any(f.parsed.parser == "csv" for f in v.files):  # only the csv module reads NUL bytes
        table = _escaped_nuls(table)
    return table.to_pandas()


def _escaped_nuls(table: pa.Table) -> pa.Table:
    """NUL bytes in text cells written ``\\x00`` (the rows :func:`_reject_nul_rows` rejects):
    a NUL in the rejected rows' CSV cuts the line short in many programs."""
    cols = []
    for col in table.columns:
        if pa.types.is_string(col.type) and pc.any(pc.match_substring(col, "\x00")).as_py():
            col = pc.replace_substring(col, "\x00", "\\x00")
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def _malformed_detail(line: int, fields: list[str], k: int) -> str:
    """Why a row with ``len(fields)`` fields (the header has ``k``) starting on ``line`` was
    rejected, with the lines it runs over when its fields hold line breaks."""
    text = f"{len(fields)} fields where the header has {k}"
    breaks = sum(len(_LINE_BREAK.findall(f)) for f in fields)
    if breaks:
        text += (
            f"; it runs from line {line} to line {line + breaks}: a quote left open takes the "
            "lines after it into one field (close it, or write a quote inside a quoted field as "
            '"")'
        )
    return text


def _filtered_rows(
    old: pd.DataFrame | DeferredRejected,
    file_codes: np.ndarray,
    file_names: Any,
    source_row: pd.Series,
    rej: _Rejects,
) -> pd.DataFrame | DeferredRejected:
    """``old`` rejected rows, then the rows a filter left out (``rej``, over the frame's rows,
    listed in frame order without raw fields): deferred, so the listing is made only when read.
    """
    if not rej.batches:
        return old
    rows = np.concatenate([b.rows for b in rej.batches])
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    codes = np.concatenate([np.full(len(b.rows), b.code, dtype=np.int8) for b in rej.batches])
    codes = codes[order]
    listing = _FilteredListing(
        old,
        pa.array(np.asarray(file_names, dtype=object), type=pa.string()),
        file_codes[rows].astype(np.int32),
        source_row.to_numpy(dtype=np.int64)[rows],
        codes,
        [(len(b.rows), b.column, b.detail) for b in rej.batches],
        order,
    )
    counts = DeferredRejected.counts_of(old)
    seen, first = np.unique(codes, return_index=True)
    for c in seen[np.argsort(first)]:  # reasons in order of first appearance
        reason = REASONS[int(c) - 1]
        counts[reason] = counts.get(reason, 0) + int((codes == c).sum())
    return DeferredRejected(counts, listing)


@dataclass
class _FilteredListing:
    """Makes the table of :func:`_filtered_rows` (``DeferredRejected.build``); it pickles."""

    old: pd.DataFrame | DeferredRejected
    files: pa.Array  # distinct source file names
    file_code: np.ndarray  # int32 per listed row: its file in ``files``
    source_row: np.ndarray  # int64 per listed row
    codes: np.ndarray  # int8 per listed row: its reason's code
    batches: list[tuple[int, Any, Any]]  # (rows, column, detail) of each filter, in order
    order: np.ndarray  # listed row -> its place in the batches' rows

    def __call__(self) -> pd.DataFrame:
        column = pa.concat_arrays([_as_arrow(c, n) for n, c, _ in self.batches])
        detail = pa.concat_arrays([_as_arrow(d, n) for n, _, d in self.batches])
        if not (self.order == np.arange(len(self.order))).all():  # (one filter: in order)
            take = pa.array(self.order)
            column, detail = column.take(take), detail.take(take)
        out = pa.table(
            {
                "source_file": self.files.take(pa.array(self.file_code)),
                "source_row": pa.array(self.source_row),
                "reason": pa.array(REASONS, type=pa.string()).take(
                    pa.array(self.codes.astype(np.int64) - 1)
                ),
                "column": column,
                "detail": detail,
            }
        )
        old = self.old.build() if isinstance(self.old, DeferredRejected) else self.old
        return _append_rejected(old, out.to_pandas())


def _raise_nothing_usable(
    names: list[str], counts: Mapping[str, int], n_read: int, main: str | None = None
) -> NoReturn:
    """The "no usable incidents" error: the top reasons, and a hint for ``main`` (by default the
    most frequent reason)."""
    shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
    if n_read == 0:
        msg = f"No data rows were found in {shown}."
        raise InputError(msg, hint="the files hold a header but no rows.")
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    top = "; ".join(f"{k}: {v}" for k, v in ranked[:4])
    msg = f"No usable incidents: all {n_read} rows were rejected ({top})."
    hints = {
        R_TYPE: "no row has a selected crime type; choose the types to keep (crime_types='all' "
        "or a list; --crime-types on the command line, the Crime types filter in the app).",
        R_DATE_RANGE: "no row falls in the date range; widen it.",
        R_POLYGON: "no incident lies inside the study area polygon; check that it covers the data "
        "and is in longitude/latitude (WGS84).",
        R_MISSING: "the coordinate columns are empty; check them, or name them explicitly "
        "(columns=).",
        R_NONNUMERIC: "the coordinate columns do not hold numbers; check which columns hold "
        "coordinates, or name them explicitly (columns=).",
        R_RANGE: "the coordinates are out of range; check that latitude and longitude (or easting "
        "and northing) are not swapped, or name the columns explicitly (columns=).",
        R_MALFORMED: "the rows have more or fewer fields than the header; check the delimiter "
        "and the quotes, and that the header names every column.",
        R_DATE: "the dates cannot be read; name the date column (columns=) or pass "
        "unreadable_dates='keep' (--unreadable-dates keep) to use the rows without dates.",
    }
    first = main or (ranked[0][0] if ranked else "")
    hint = hints.get(
        first, "check the coordinate and date columns, crime_types and the date range."
    )
    raise InputError(msg, file=shown if len(names) == 1 else None, hint=hint)
