"""Every file format hotspots writes: GeoJSON, GeoPackage, CSV, iCalendar and JSON.

* GeoJSON (RFC 7946): :func:`features_geojson` is the one writer, for hot spots
  (:func:`to_geojson`), patrol areas (:func:`patrol_areas_geojson`) and emerging hot spot areas;
  coordinates are WGS84 longitude, latitude rounded to :data:`COORD_PRECISION` decimals.
* GeoPackage: :func:`to_geopackage`.
* CSV: :func:`to_csv` (ranked hot spots), :func:`plan_to_csv` (a patrol plan's visits) and
  :func:`table_to_csv` (any table, e.g. the rows ingest left out), all through the one
  formula-injection guard :func:`safe_csv_cell`.
* iCalendar (RFC 5545): :func:`plan_to_ical` (floating local times), :func:`team_plan_to_ical`
  (one team's routes with a real time zone, :func:`vtimezone_lines`), with :func:`ical_escape`
  and :func:`ical_fold`. :func:`team_plan_to_csv` writes a team plan's visits.
* JSON: :func:`to_jsonable` (the package's one sanitiser, defined in :mod:`hotspots.jsonutil`) and
  :func:`json_text`.

Every export carries the run's parameters (method, every automatic choice, CRS, data period,
input files with SHA-256, package version): GeoJSON in a top-level ``hotspots_parameters`` member
*and* in each hot spot feature's properties (patrol apps and geofence tools often keep only
properties), GeoPackage in a ``parameters`` column and the dataset metadata, CSV in a ``parameters``
column (``plan_parameters`` for a plan).

Nothing here imports :mod:`hotspots.patrol`: the plan writers read a
:class:`~hotspots.patrol.PatrolPlan` by its attributes (``visits``, ``params``, ``summary``,
``plan_id``, ``area_summary()``).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

import hotspots
from hotspots.constants import MIN_VISIT_MINUTES
from hotspots.crs import to_crs, to_lonlat
from hotspots.jsonutil import to_jsonable

if TYPE_CHECKING:
    from hotspots.patrol import PatrolPlan
    from hotspots.tactics import TacticMatch
    from hotspots.tasking import TeamPlan

__all__ = [
    "COORD_PRECISION",
    "FEATURE_FILES_MAX",
    "PARAMETERS_MEMBER",
    "RUN_RECORD_SUFFIX",
    "compact_record",
    "features_geojson",
    "geojson_text",
    "ical_escape",
    "ical_fold",
    "json_text",
    "patrol_areas_geojson",
    "plan_to_csv",
    "plan_to_ical",
    "run_record_json",
    "safe_csv_cell",
    "table_to_csv",
    "team_plan_to_csv",
    "team_plan_to_ical",
    "to_csv",
    "to_geojson",
    "to_geopackage",
    "to_jsonable",
    "vtimezone_lines",
]

PARAMETERS_MEMBER = "hotspots_parameters"
#: Decimal places for WGS84 coordinates in every GeoJSON export: 7 places is about 1 cm, far
#: below any patrol scale.
COORD_PRECISION = 7
#: Input files listed in full in each GeoJSON feature's copy of the run record (a year of one
#: force's monthly files); with more, each feature names them by a digest and the collection's
#: ``hotspots_parameters`` member keeps the full list (heuristic: a national run's 473 files
#: repeated in each of 3,312 features made a 243 MB file, 98 % of it the same list).
FEATURE_FILES_MAX = 12
#: Suffix of the run record written beside a CSV export (``hotspots.csv`` ->
#: ``hotspots.run.json``): a table has no place of its own for a record's full input-file list.
RUN_RECORD_SUFFIX = ".run.json"
#: Cell starts a spreadsheet runs as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------------------------
# JSON


def json_text(obj: Any, *, indent: int | None = None) -> str:
    """JSON text as every export writes it: sanitised, non-ASCII kept, NaN refused.

    Parameters
    ----------
    obj : object
        Passed through :func:`to_jsonable` first.
    indent : int, optional
        As :func:`json.dumps`.

    Returns
    -------
    str
    """
    return json.dumps(to_jsonable(obj), indent=indent, ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------------------------
# GeoJSON


def _rfc7946_geometries(geoms: np.ndarray) -> list[dict[str, Any] | None]:
    """GeoJSON geometries (None for a missing or empty one): exterior rings counter-clockwise,
    holes clockwise (RFC 7946 3.1.6), coordinates rounded to :data:`COORD_PRECISION` decimals
    by Python's correctly rounded :func:`round`, all geometries in one pass of each step."""
    geoms = np.asarray(geoms, dtype=object)
    out: list[dict[str, Any] | None] = [None] * len(geoms)
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    if not len(present):
        return out
    oriented = shapely.orient_polygons(geoms[present], exterior_cw=False)
    with_z = shapely.has_z(oriented)

    def rounded(coords: np.ndarray) -> np.ndarray:
        flat = [round(v, COORD_PRECISION) for v in coords.ravel().tolist()]
        return np.array(flat, dtype=float).reshape(coords.shape)

    for z in (False, True):  # 2D and 3D geometries apart: a 2D one must not gain a NaN z
        part = np.flatnonzero(with_z == z)
        if not len(part):
            continue
        # rounded coordinates have at most 10 significant digits: GEOS writes them exactly
        texts = shapely.to_geojson(shapely.transform(oriented[part], rounded, include_z=z))
        for i, text in zip(present[part].tolist(), texts.tolist(), strict=True):
            out[i] = json.loads(text)
    return out


def _json_column(column: pd.Series) -> list[Any]:
    """A column's values as :func:`to_jsonable` makes them, converted a column at a time where
    the dtype says how (NumPy booleans, integers and floats; non-finite floats -> None)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return column.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.tolist()
        for i in np.flatnonzero(~np.isfinite(column.to_numpy())).tolist():
            values[i] = None
        return values
    return [to_jsonable(v) for v in column.tolist()]


def features_geojson(
    gdf: gpd.GeoDataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    member: str = PARAMETERS_MEMBER,
    per_feature: bool = True,
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection (as a dict) from any GeoDataFrame.

    The package's one GeoJSON writer. Geometries are reprojected to EPSG:4326 (longitude first)
    and rounded to :data:`COORD_PRECISION` decimal places; exterior rings are counter-clockwise
    and holes clockwise; no ``crs`` member is written; ``bbox`` is the layer's bounds. Property
    values go through :func:`to_jsonable` (a column at a time), so the result is ready for
    :func:`json.dumps` (:func:`geojson_text` writes it). ``params`` goes in a top-level member
    and, when ``per_feature``, into each feature's properties under the same name (so a
    feature copied out of the file keeps its record), there with more than
    :data:`FEATURE_FILES_MAX` input files named by ``input_files_digest`` instead of listed.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any CRS; every non-geometry column becomes a property.
    params : mapping, optional
        The run's parameter record.
    member : str, default ``"hotspots_parameters"``
    per_feature : bool, default True

    Returns
    -------
    dict
    """
    wgs = to_lonlat(gdf) if gdf.crs is not None and not gdf.crs.equals("EPSG:4326") else gdf
    params_clean = to_jsonable(dict(params)) if params is not None else None
    feature_params = (
        compact_record(params_clean, listed_in=f"the FeatureCollection's {member} member")
        if params_clean is not None
        else None
    )
    geom_col = wgs.geometry.name
    at = [i for i, k in enumerate(wgs.columns) if k != geom_col]  # by position: names may repeat
    columns = [_json_column(wgs.iloc[:, i]) for i in at] if len(wgs) else [[] for _ in at]
    keys = [str(wgs.columns[i]) for i in at]
    geometries = _rfc7946_geometries(wgs.geometry.to_numpy())
    features = []
    for i, geometry in enumerate(geometries):
        props = {k: col[i] for k, col in zip(keys, columns, strict=True)}
        if feature_params is not None and per_feature:
            props[member] = feature_params
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if params_clean is not None:
        collection[member] = params_clean
    if len(wgs):
        b = _lonlat_bounds(wgs.geometry.to_numpy())
        if np.all(np.isfinite(b)):
            collection["bbox"] = [round(float(v), COORD_PRECISION) for v in b]
    return collection


def _lonlat_bounds(geoms: np.ndarray) -> np.ndarray:
    """(west, south, east, north) of longitude/latitude geometries; across the antimeridian
    (when that box is narrower) west > east, as RFC 7946 5.2 says."""
    b = shapely.bounds(shapely.get_parts(np.asarray(geoms, dtype=object)))  # part by part
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return np.full(4, np.nan)
    box = np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])
    if box[2] - box[0] <= 180.0:
        return box
    # each geometry's west and east edges unwrapped (negative longitudes + 360)
    west, east = b[:, 0] % 360.0, b[:, 2] % 360.0
    east = np.where(east < west, east + 360.0, east)
    if east.max() - west.min() >= box[2] - box[0]:
        return box
    e = east.max()
    return np.array(
        [
            west.min() - (360.0 if west.min() > 180 else 0.0),
            box[1],
            e - 360.0 if e > 180 else e,
            box[3],
        ]
    )


def compact_record(record: Mapping[str, Any], *, listed_in: str) -> dict[str, Any]:
    """A run record to repeat on every feature or row of an export.

    ``record`` itself (as a new dict) with at most :data:`FEATURE_FILES_MAX` input files; with
    more, its ``input_files`` list is replaced, in place, by ``input_files_digest``: ``n_files``,
    ``rows``, ``sha256`` (the SHA-256 of the list as compact JSON with sorted keys) and
    ``listed_in`` (where the export keeps the full list). Every other entry, the automatic
    choices included, is kept as it is.

    Parameters
    ----------
    record : mapping
        A JSON-ready run record (:func:`to_jsonable`).
    listed_in : str
        Where the full record is, in words (``"the FeatureCollection's hotspots_parameters
        member"``).

    Returns
    -------
    dict

    Examples
    --------
    >>> files = [{"name": f"2024-{m:02d}.csv", "rows": 10} for m in range(1, 14)]
    >>> short = compact_record({"method": "kde", "input_files": files}, listed_in="x")
    >>> short["method"], short["input_files_digest"]["n_files"], short["input_files_digest"]["rows"]
    ('kde', 13, 130)
    """
    files = record.get("input_files")
    if not isinstance(files, list) or len(files) <= FEATURE_FILES_MAX:
        return dict(record)
    text = json.dumps(files, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = {
        "n_files": len(files),
        "rows": sum(int(f.get("rows") or 0) for f in files if isinstance(f, dict)),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "listed_in": listed_in,
    }
    return {
        ("input_files_digest" if k == "input_files" else k): (digest if k == "input_files" else v)
        for k, v in record.items()
    }


def geojson_text(collection: dict[str, Any], *, indent: int | None = None) -> str:
    """A FeatureCollection from :func:`features_geojson` as JSON text, as :func:`json_text`
    writes it, without walking every coordinate again: the collection is JSON-ready already."""
    try:
        return json.dumps(collection, indent=indent, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):  # a value to_jsonable would still mend (NaN coordinates)
        return json_text(collection, indent=indent)


def to_geojson(
    result: Any, *, hotspots: gpd.GeoDataFrame | None = None, indent: int | None = None
) -> str:
    """The ranked hot spots of a :class:`~hotspots.detect.HotspotResult` as RFC 7946 GeoJSON."""
    gdf = result.hotspots if hotspots is None else hotspots
    return geojson_text(features_geojson(gdf, result.params), indent=indent)


def patrol_areas_geojson(
    patrol_areas: gpd.GeoDataFrame,
    *,
    plan: PatrolPlan | None = None,
    matches: Mapping[str, Sequence[TacticMatch]] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Patrol areas as an RFC 7946 FeatureCollection (dict), with tactics and plan per area.

    Written by :func:`features_geojson` (WGS84, :data:`COORD_PRECISION` decimals, exterior rings
    counter-clockwise). Each feature's properties hold the area's columns, ``tactic_ids`` (from
    ``matches``, else from the plan) and, with a plan, the plan figures (``in_plan``,
    ``plan_visits``, ``plan_patrol_days``, ``plan_control_days``, ``plan_forced_days``,
    ``plan_max_gap_days``, ``plan_first_visit``, ``plan_window``, ``plan_seed``). The top-level
    ``hotspots_parameters`` member holds the patrol-area parameters (``patrol_areas``), the run
    parameters (``run``), the plan parameters (``plan``) and summary (``plan_summary``).

    Parameters
    ----------
    patrol_areas : geopandas.GeoDataFrame
        From :func:`hotspots.patrol.make_patrol_areas` (any CRS).
    plan : PatrolPlan, optional
    matches : mapping, optional
        ``patrol_area_id`` -> list of :class:`~hotspots.tactics.TacticMatch`.
    params : mapping, optional
        The detection run's parameter record.

    Returns
    -------
    dict
    """
    table = patrol_areas.copy()
    per_area = plan.area_summary().set_index("patrol_area_id") if plan is not None else None
    ids = (
        [str(v) for v in table["patrol_area_id"]]
        if "patrol_area_id" in table
        else [""] * len(table)
    )
    overrides: list[dict[str, Any]] = []
    for pid in ids:
        extra: dict[str, Any] = {}
        if matches is not None and pid in matches:
            extra["tactic_ids"] = [m.tactic.id for m in matches[pid]]
        elif per_area is not None and pid in per_area.index:
            extra["tactic_ids"] = [t for t in str(per_area.loc[pid, "tactic_ids"]).split(";") if t]
        if plan is not None and per_area is not None and pid in per_area.index:
            extra.update(_plan_properties(per_area.loc[pid], plan))
        overrides.append(extra)
    for key in dict.fromkeys(k for extra in overrides for k in extra):
        old = list(table[key]) if key in table else [None] * len(table)
        table[key] = pd.Series(
            [extra.get(key, o) for extra, o in zip(overrides, old, strict=True)],
            index=table.index,
            dtype=object,
        )
    meta: dict[str, Any] = {"patrol_areas": dict(patrol_areas.attrs.get("params", {}))}
    if params:
        meta["run"] = dict(params)
    if plan is not None:
        meta["plan"] = dict(plan.params)
        meta["plan_summary"] = {k: v for k, v in plan.summary.items() if k != "notes"}
    return features_geojson(table, meta, per_feature=False)


def _plan_properties(a: pd.Series, plan: PatrolPlan) -> dict[str, Any]:
    """One area's plan figures (a row of ``plan.area_summary()``) as GeoJSON properties."""
    return {
        "in_plan": bool(a["in_plan"]),
        "plan_visits": int(a["visits"]),
        "plan_patrol_days": int(a["patrol_days"]),
        "plan_control_days": int(a["control_days"]),
        "plan_forced_days": int(a["forced_days"]),
        "plan_max_gap_days": int(a["max_gap_days"]),
        "plan_first_visit": None
        if pd.isna(a["first_visit"])
        else pd.Timestamp(a["first_visit"]).strftime("%Y-%m-%dT%H:%M"),
        "plan_window": str(a["window"]),
        "plan_seed": plan.params["seed"],
    }


# --------------------------------------------------------------------------------------------
# GeoPackage


def _flat_table(gdf: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts as JSON text; everything else unchanged."""
    out = pd.DataFrame(gdf).copy()
    for col in out.columns:
        if out[col].dtype == object and col != getattr(gdf, "_geometry_column_name", "geometry"):
            if out[col].map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any():
                out[col] = out[col].map(
                    lambda v: json.dumps(to_jsonable(v)) if v is not None else None
                )
    return out


def to_geopackage(
    result: Any, *, hotspots: gpd.GeoDataFrame | None = None, layer: str = "hotspots"
) -> bytes:
    """The ranked hot spots as a GeoPackage (EPSG:4326), returned as bytes."""
    gdf = result.hotspots if hotspots is None else hotspots
    flat = to_crs(gpd.GeoDataFrame(_flat_table(gdf), geometry=gdf.geometry.name, crs=gdf.crs), 4326)
    record = to_jsonable(dict(result.params))
    params_text = json.dumps(record)
    flat["parameters"] = json.dumps(
        compact_record(record, listed_in=f"the GeoPackage's layer metadata {PARAMETERS_MEMBER}")
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "hotspots.gpkg")
        flat.to_file(
            path,
            layer=layer,
            driver="GPKG",
            engine="pyogrio",
            metadata={"hotspots_parameters": params_text},
        )
        with open(path, "rb") as fh:
            return fh.read()


# --------------------------------------------------------------------------------------------
# CSV


def safe_csv_cell(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (= + - @ tab CR) with an apostrophe.

    The package's one formula-injection guard (OWASP "CSV injection"); anything that is not text
    is returned unchanged.

    Examples
    --------
    >>> safe_csv_cell("=HYPERLINK(1)"), safe_csv_cell("ok"), safe_csv_cell(-3.5)
    ("'=HYPERLINK(1)", 'ok', -3.5)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def table_to_csv(table: pd.DataFrame) -> str:
    """Any table as spreadsheet-safe CSV text (every text cell through :func:`safe_csv_cell`).

    Used for the rows ingest left out (``IngestReport.rejected``) by both front ends.
    """
    out = pd.DataFrame(table).copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].map(safe_csv_cell)  # per category
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = _safe_text_column(out[col])
    return out.to_csv(index=False, lineterminator="\n")


def _safe_text_column(column: pd.Series) -> pd.Series:
    """``column.map(safe_csv_cell)``, each distinct value tested once (ingest's rejected rows
    repeat their file names, reasons and most raw fields: millions of rows nationally)."""
    codes, uniques = pd.factorize(column)
    risky = [
        i for i, v in enumerate(uniques) if isinstance(v, str) and v.startswith(_FORMULA_START)
    ]
    if not risky:
        return column
    at = np.isin(codes, risky)
    values = column.to_numpy(dtype=object, copy=True)
    values[at] = np.add("'", values[at])  # Python's str + on each, in NumPy's loop
    return pd.Series(values, index=column.index, name=column.name, dtype=object)


def to_csv(result: Any, *, hotspots: gpd.GeoDataFrame | None = None) -> str:
    """The ranked hot spot table as spreadsheet-safe CSV (no geometry; centroid lon/lat kept).

    Each row's ``parameters`` cell holds the run record as JSON, with more than
    :data:`FEATURE_FILES_MAX` input files named by a digest (:func:`compact_record`); the full
    record is :func:`run_record_json`, written beside the table by
    :func:`hotspots.workflows.write_hotspots` (``<name>`` :data:`RUN_RECORD_SUFFIX`).
    """
    gdf = result.hotspots if hotspots is None else hotspots
    table = _flat_table(gdf.drop(columns=gdf.geometry.name))
    listed_in = (
        f"the run record beside this table (<name>{RUN_RECORD_SUFFIX}), or the GeoJSON or "
        "GeoPackage export of the same run"
    )
    table["parameters"] = json.dumps(
        compact_record(to_jsonable(dict(result.params)), listed_in=listed_in)
    )
    return table_to_csv(table)


def run_record_json(result: Any) -> str:
    """The whole run record of a result (its ``params``: parameters, automatic choices, input
    files with their SHA-256) as indented JSON text."""
    return json_text(dict(result.params), indent=2) + "\n"


_PLAN_CSV_COLUMNS = (
    "date",
    "weekday",
    "start",
    "end",
    "minutes",
    "patrol_area_id",
    "hotspot_id",
    "arm",
    "assignment",
    "visit",
    "officers",
    "travel_minutes",
    "window",
    "window_basis",
    "tactic_ids",
    "location",
    "lat",
    "lon",
)


def _plan_csv_cell(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, str):
        return safe_csv_cell(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def plan_to_csv(plan: PatrolPlan, path: str | Path | None = None) -> str:
    """A patrol plan's visits as CSV text (and written to ``path`` if given).

    Every text cell goes through :func:`safe_csv_cell`. Times are ``YYYY-MM-DD HH:MM`` local
    clock time. The last column, ``plan_parameters``, holds the plan's parameters (seed included,
    creation time left out) as JSON, so the file alone can be reproduced and the same inputs give
    the same bytes.

    Parameters
    ----------
    plan : PatrolPlan
        From :func:`hotspots.patrol.make_patrol_plan`.
    path : str or Path, optional
        Written as UTF-8 when given.

    Returns
    -------
    str
    """
    return _visits_csv(plan.visits, list(_PLAN_CSV_COLUMNS), plan.params, _plan_csv_cell, path)


def _visits_csv(
    visits: pd.DataFrame,
    cols: list[str],
    params: Mapping[str, Any],
    cell: Callable[[Any], Any],
    path: str | Path | None,
) -> str:
    # A plan's visits as CSV: dates as YYYY-MM-DD, every other cell through ``cell``, and the
    # plan's parameters as JSON in the last column (the creation time is not a parameter:
    # leaving it out keeps the same inputs byte-identical).
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*cols, "plan_parameters"])
    table = visits[cols].copy()
    table["date"] = pd.to_datetime(table["date"]).dt.strftime("%Y-%m-%d")
    params_json = json.dumps(
        to_jsonable({k: v for k, v in params.items() if k != "created_utc"}), sort_keys=True
    )
    for rec in table.itertuples(index=False):
        writer.writerow([*(cell(v) for v in rec), params_json])
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8", newline="")
    return text


# --------------------------------------------------------------------------------------------
# iCalendar


def ical_escape(text: str) -> str:
    """Escape an iCalendar TEXT value (RFC 5545 3.3.11): backslash, ``;``, ``,``, newlines."""
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def ical_fold(line: str, limit: int = 75) -> str:
    """Fold a content line at ``limit`` octets (RFC 5545 section 3.1), never inside a UTF-8
    character.

    Continuation lines start with one space, which counts towards their 75 octets. The result
    joins the pieces with CRLF + space (no trailing CRLF).
    """
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    pieces: list[str] = []
    i = 0
    first = True
    while i < len(data):
        room = limit if first else limit - 1
        j = min(i + room, len(data))
        while j < len(data) and (data[j] & 0xC0) == 0x80:  # don't split a multi-byte character
            j -= 1
        pieces.append(data[i:j].decode("utf-8"))
        i = j
        first = False
    return "\r\n ".join(pieces)


def _ical_utc(value: Any) -> str:
    if not value:
        return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return ts.strftime("%Y%m%dT%H%M%SZ")


def plan_to_ical(
    plan: PatrolPlan, path: str | Path | None = None, *, calendar_name: str | None = None
) -> str:
    """A patrol plan's visits as an RFC 5545 calendar (controls are not events).

    Times are floating local times (no time zone, RFC 5545 section 3.3.5 form 1), so a
    22:00 visit shows at 22:00 on any device; ``DTSTAMP`` is the plan's creation time in UTC.
    Lines end in CRLF and are folded at 75 octets; text values escape backslash, semicolon,
    comma and newlines (section 3.3.11).

    Parameters
    ----------
    plan : PatrolPlan
        From :func:`hotspots.patrol.make_patrol_plan`.
    path : str or Path, optional
        Written as UTF-8 bytes when given.
    calendar_name : str, optional
        ``X-WR-CALNAME``; default names the start date and the number of days.

    Returns
    -------
    str
    """
    stamp = _ical_utc(plan.params.get("created_utc"))
    name = (
        calendar_name
        or f"Hot spot patrol plan {plan.params['start_date']} ({plan.params['days']} days)"
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//hotspots//patrol plan {hotspots.__version__}//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ical_escape(name)}",
    ]
    caveats = plan.summary.get("caveats", [])
    pid = plan.plan_id
    patrol = plan.visits[plan.visits["arm"] == "patrol"]
    for rec in patrol.itertuples(index=False):
        date = pd.Timestamp(rec.date)
        uid = f"{pid}-{rec.patrol_area_id}-{date:%Y%m%d}-{rec.visit}@hotspots"
        summary = (
            f"Hot spot patrol {rec.patrol_area_id} ({rec.minutes} min, {rec.officers} officers "
            "on foot)"
        )
        desc = [
            f"Patrol area {rec.patrol_area_id} in hot spot {rec.hotspot_id}.",
            f"Stay {rec.minutes} minutes on foot inside the area (at least {MIN_VISIT_MINUTES}; "
            "travel does not count).",
            f"Window: {rec.window}.",
            f"Tactics: {rec.tactic_ids.replace(';', ', ') if rec.tactic_ids else 'T01'}.",
            f"Assignment: {rec.assignment} (plan seed {plan.params['seed']}).",
        ]
        if rec.window_basis == "general" and caveats:
            desc.append(caveats[0])
        loc = (
            f"{rec.location} ({rec.lat:.5f}, {rec.lon:.5f})"
            if rec.location
            else f"{rec.lat:.5f}, {rec.lon:.5f}"
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ical_escape(uid)}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{pd.Timestamp(rec.start):%Y%m%dT%H%M%S}",
            f"DTEND:{pd.Timestamp(rec.end):%Y%m%dT%H%M%S}",
            f"SUMMARY:{ical_escape(summary)}",
            f"LOCATION:{ical_escape(loc)}",
            f"GEO:{rec.lat:.6f};{rec.lon:.6f}",
            f"DESCRIPTION:{ical_escape(chr(10).join(desc))}",
            "CATEGORIES:HOT SPOT PATROL",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    text = "".join(ical_fold(line) + "\r\n" for line in lines)
    if path is not None:
        Path(path).write_bytes(text.encode("utf-8"))
    return text


# --------------------------------------------------------------------------------------------
# Team plans (hotspots.tasking)

_TEAM_CSV_COLUMNS = (
    "date", "weekday", "team", "shift", "shift_start", "shift_end", "order", "start", "end",
    "minutes", "travel_minutes",
    "patrol_area_id", "hotspot_id", "block", "arm", "assignment", "forced", "officers",
    "visit", "visits_in_day",
    "window", "window_basis", "location", "lat", "lon",
)  # fmt: skip


def _iso_cell(v: Any) -> Any:
    """Aware times as ISO 8601 with their UTC offset (``2026-10-24T22:00:00+01:00``)."""
    if isinstance(v, pd.Timestamp) and v.tzinfo is not None:
        return v.isoformat()
    return _plan_csv_cell(v)


def team_plan_to_csv(plan: TeamPlan, path: str | Path | None = None) -> str:
    """A team plan's visits and control area-days as CSV text (and written to ``path``).

    Every text cell goes through :func:`safe_csv_cell`. Times are ISO 8601 local times with
    their UTC offset, so a night across a clock change reads without doubt. The last column,
    ``plan_parameters``, holds the plan's parameters (creation time left out) as JSON.

    Parameters
    ----------
    plan : hotspots.tasking.TeamPlan
    path : str or Path, optional

    Returns
    -------
    str
    """
    return _visits_csv(plan.visits, list(_TEAM_CSV_COLUMNS), plan.params, _iso_cell, path)


def _offset(delta: dt.timedelta | None) -> str:
    minutes = int((delta or dt.timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def _transitions(zone: Any, first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """UTC instants (to the minute) at which ``zone``'s offset changes between two instants."""
    out = []
    t = first
    step = dt.timedelta(days=1)
    while t < last:
        u = min(t + step, last)
        if t.astimezone(zone).utcoffset() != u.astimezone(zone).utcoffset():
            lo, hi = t, u  # offset(lo) != offset(hi): bisect to the minute
            while hi - lo > dt.timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(second=0, microsecond=0)
                if mid <= lo:
                    mid = lo + dt.timedelta(minutes=1)
                if mid.astimezone(zone).utcoffset() == lo.astimezone(zone).utcoffset():
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
        t = u
    return out


def vtimezone_lines(zone_name: str, first: dt.datetime, last: dt.datetime) -> list[str]:
    """An RFC 5545 VTIMEZONE for an IANA zone, for the years ``first`` to ``last`` touch.

    Each change of offset in those years is one STANDARD or DAYLIGHT observance with its exact
    onset (local time before the change), ``TZOFFSETFROM``, ``TZOFFSETTO`` and ``TZNAME``, read
    from the zone database (Python's ``zoneinfo``), so no rule is assumed; a first observance
    holds the offset in force on 1 January of the first year.

    Parameters
    ----------
    zone_name : str
        IANA name, e.g. ``"Europe/London"``.
    first, last : datetime
        Aware datetimes of the first and last event.

    Returns
    -------
    list of str
        Unfolded content lines from ``BEGIN:VTIMEZONE`` to ``END:VTIMEZONE``.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(zone_name)
    a = dt.datetime(first.astimezone(dt.UTC).year, 1, 1, tzinfo=dt.UTC)
    b = dt.datetime(last.astimezone(dt.UTC).year + 1, 1, 1, tzinfo=dt.UTC)

    def observance(t: dt.datetime, before: dt.datetime) -> list[str]:
        local = t.astimezone(zone)
        kind = "DAYLIGHT" if local.dst() else "STANDARD"
        frm = before.astimezone(zone).utcoffset()
        onset = (t + (frm or dt.timedelta(0))).replace(tzinfo=None)
        return [
            f"BEGIN:{kind}",
            f"DTSTART:{onset:%Y%m%dT%H%M%S}",
            f"TZOFFSETFROM:{_offset(frm)}",
            f"TZOFFSETTO:{_offset(local.utcoffset())}",
            f"TZNAME:{ical_escape(local.tzname() or zone_name)}",
            f"END:{kind}",
        ]

    lines = ["BEGIN:VTIMEZONE", f"TZID:{zone_name}", *observance(a, a)]
    for t in _transitions(zone, a, b):
        lines += observance(t, t - dt.timedelta(minutes=1))
    lines.append("END:VTIMEZONE")
    return lines


def _ical_time(name: str, t: pd.Timestamp, zone_name: str) -> str:
    """``DTSTART;TZID=Europe/London:20261024T220000``; a local time the clocks show twice (the
    hour after a change back) is written in UTC instead, since RFC 5545 reads such a time as
    its first occurrence."""
    py = t.to_pydatetime()
    naive = py.replace(tzinfo=None)
    zone = py.tzinfo
    again = naive.replace(fold=1, tzinfo=zone)
    if naive.replace(fold=0, tzinfo=zone).utcoffset() != again.utcoffset():
        return f"{name}:{t.tz_convert('UTC'):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone_name}:{naive:%Y%m%dT%H%M%S}"


def team_plan_to_ical(
    plan: TeamPlan,
    team: str,
    path: str | Path | None = None,
    *,
    calendar_name: str | None = None,
) -> str:
    """One team's visits as an RFC 5545 calendar with a real time zone (not floating times).

    Each visit is a ``VEVENT`` whose ``DTSTART`` and ``DTEND`` carry ``TZID`` (the plan's IANA
    zone), defined by a ``VTIMEZONE`` built from the zone database (:func:`vtimezone_lines`),
    so a 22:00 visit on the night the clocks change shows at 22:00 local time on any device and
    its end is the real 15 minutes later. Controls are not events. Lines end in CRLF and are
    folded at 75 octets.

    Parameters
    ----------
    plan : hotspots.tasking.TeamPlan
    team : str
        The team's name (one of ``plan.teams``).
    path : str or Path, optional
        Written as UTF-8 bytes when given.
    calendar_name : str, optional
        ``X-WR-CALNAME``; default names the team and the plan's start date.

    Returns
    -------
    str
    """
    names = [t.name for t in plan.teams]
    if team not in names:
        from hotspots._errors import ParameterError

        msg = f"team {team!r} is not in the plan (teams: {', '.join(names)})."
        raise ParameterError(msg)
    zone_name = str(plan.params["time_zone"])
    stamp = _ical_utc(plan.params.get("created_utc"))
    v = plan.visits
    mine = v[(v["team"] == team) & (v["arm"] == "patrol")]
    name = calendar_name or f"Hot spot patrols: {team} ({plan.params['start_date']})"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//hotspots//team plan {hotspots.__version__}//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{ical_escape(name)}",
        f"X-WR-TIMEZONE:{zone_name}",
    ]
    if len(mine):
        lines += vtimezone_lines(
            zone_name, mine["start"].min().to_pydatetime(), mine["end"].max().to_pydatetime()
        )
    slug = "".join(c if c.isalnum() else "-" for c in team)
    for rec in mine.itertuples(index=False):
        uid = f"{plan.plan_id}-{slug}-{rec.patrol_area_id}-{pd.Timestamp(rec.date):%Y%m%d}"
        # a dose of several visits a day: each its own event, numbered within the area's day
        several = int(getattr(rec, "visits_in_day", 1) or 1) > 1
        uid += f"-{int(rec.visit)}@hotspots" if several else "@hotspots"
        of_day = f"visit {int(rec.visit)} of {int(rec.visits_in_day)}" if several else ""
        desc = [
            f"Patrol area {rec.patrol_area_id} in hot spot {rec.hotspot_id}: visit {rec.order} "
            f"of the shift {rec.shift}.",
            *([f"{of_day.capitalize()} to this area today."] if several else []),
            f"Stay {rec.minutes} minutes on foot inside the area (at least {MIN_VISIT_MINUTES}; "
            "travel does not count).",
            f"Walk from the previous area: {rec.travel_minutes} min.",
            f"Window: {rec.window}.",
            f"Assignment: {rec.assignment} (plan seed {plan.params['seed']}).",
        ]
        has_geo = bool(np.isfinite(rec.lat) and np.isfinite(rec.lon))
        where = f"{rec.lat:.5f}, {rec.lon:.5f}" if has_geo else f"patrol area {rec.patrol_area_id}"
        loc = f"{rec.location} ({where})" if rec.location else where
        summary = (
            f"Hot spot patrol {rec.patrol_area_id} ({rec.minutes} min, {rec.officers} officers "
            "on foot)"
        ) + (f", {of_day}" if several else "")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{ical_escape(uid)}",
            f"DTSTAMP:{stamp}",
            _ical_time("DTSTART", pd.Timestamp(rec.start), zone_name),
            _ical_time("DTEND", pd.Timestamp(rec.end), zone_name),
            f"SUMMARY:{ical_escape(summary)}",
            f"LOCATION:{ical_escape(loc)}",
        ]
        if has_geo:
            lines.append(f"GEO:{rec.lat:.6f};{rec.lon:.6f}")
        lines += [
            f"DESCRIPTION:{ical_escape(chr(10).join(desc))}",
            "CATEGORIES:HOT SPOT PATROL",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    text = "".join(ical_fold(line) + "\r\n" for line in lines)
    if path is not None:
        Path(path).write_bytes(text.encode("utf-8"))
    return text
