"""Write hot spots as GeoJSON (RFC 7946), GeoPackage and a spreadsheet-safe CSV.

Every export carries the run's parameters (method, every automatic choice, CRS, data period,
input files with SHA-256, package version): GeoJSON in a top-level ``hotspots_parameters`` member
*and* in each feature's properties (patrol apps and geofence tools often keep only properties),
GeoPackage in a ``parameters`` column and the dataset metadata, CSV in a ``parameters`` column.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.incidents import _jsonable

__all__ = [
    "PARAMETERS_MEMBER",
    "features_geojson",
    "safe_csv_cell",
    "to_csv",
    "to_geojson",
    "to_geopackage",
]

PARAMETERS_MEMBER = "hotspots_parameters"
#: Decimal places for WGS84 coordinates: 7 places is about 1 cm, far below any patrol scale.
COORD_PRECISION = 7
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _clean(value: Any) -> Any:
    """JSON-safe property value: NaN -> None, numpy -> Python, timestamps -> ISO strings."""
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if value is None or value is pd.NaT:
        return None
    return _jsonable(value)


def _rfc7946_geometry(geom: Any) -> dict[str, Any]:
    """GeoJSON geometry with exterior rings counter-clockwise and holes clockwise (RFC 7946 3.1.6)."""
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    mapping = json.loads(shapely.to_geojson(geom))
    return _round_coords(mapping)


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {
            k: (_round_coords(v) if k == "coordinates" or isinstance(v, dict | list) else v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_round_coords(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, COORD_PRECISION)
    return obj


def features_geojson(
    gdf: gpd.GeoDataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    member: str = PARAMETERS_MEMBER,
    per_feature: bool = True,
) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection (as a dict) from any GeoDataFrame.

    Geometries are reprojected to EPSG:4326 (longitude first), exterior rings are
    counter-clockwise, no ``crs`` member is written. ``params`` goes in a top-level member and,
    when ``per_feature``, into each feature's properties under the same name.
    """
    wgs = gdf.to_crs(4326) if gdf.crs is not None and not gdf.crs.equals("EPSG:4326") else gdf
    params_clean = _clean(dict(params)) if params is not None else None
    features = []
    geom_col = wgs.geometry.name
    for _, row in wgs.iterrows():
        props = {str(k): _clean(v) for k, v in row.items() if k != geom_col}
        if params_clean is not None and per_feature:
            props[member] = params_clean
        geom = row[geom_col]
        features.append(
            {
                "type": "Feature",
                "geometry": None if geom is None or geom.is_empty else _rfc7946_geometry(geom),
                "properties": props,
            }
        )
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if params_clean is not None:
        collection[member] = params_clean
    if len(wgs):
        b = wgs.total_bounds
        if np.all(np.isfinite(b)):
            collection["bbox"] = [round(float(v), COORD_PRECISION) for v in b]
    return collection


def to_geojson(
    result: Any, *, hotspots: gpd.GeoDataFrame | None = None, indent: int | None = None
) -> str:
    """The ranked hot spots of a :class:`~hotspots.detect.HotspotResult` as RFC 7946 GeoJSON text."""
    gdf = result.hotspots if hotspots is None else hotspots
    return json.dumps(
        features_geojson(gdf, result.params), indent=indent, ensure_ascii=False, allow_nan=False
    )


def _flat_table(gdf: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts as JSON text; everything else unchanged."""
    out = pd.DataFrame(gdf).copy()
    for col in out.columns:
        if out[col].dtype == object and col != getattr(gdf, "_geometry_column_name", "geometry"):
            if out[col].map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any():
                out[col] = out[col].map(lambda v: json.dumps(_clean(v)) if v is not None else None)
    return out


def to_geopackage(
    result: Any, *, hotspots: gpd.GeoDataFrame | None = None, layer: str = "hotspots"
) -> bytes:
    """The ranked hot spots as a GeoPackage (EPSG:4326), returned as bytes."""
    gdf = result.hotspots if hotspots is None else hotspots
    flat = gpd.GeoDataFrame(_flat_table(gdf), geometry=gdf.geometry.name, crs=gdf.crs).to_crs(4326)
    params_text = json.dumps(_clean(result.params))
    flat["parameters"] = params_text
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


def safe_csv_cell(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula (= + - @ tab CR) with an apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(result: Any, *, hotspots: gpd.GeoDataFrame | None = None) -> str:
    """The ranked hot spot table as spreadsheet-safe CSV (no geometry; centroid lon/lat kept)."""
    gdf = result.hotspots if hotspots is None else hotspots
    table = _flat_table(gdf.drop(columns=gdf.geometry.name))
    table["parameters"] = json.dumps(_clean(result.params))
    for col in table.columns:
        if table[col].dtype == object or pd.api.types.is_string_dtype(table[col]):
            table[col] = table[col].map(safe_csv_cell)
    return table.to_csv(index=False, lineterminator="\n")
