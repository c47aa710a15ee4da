"""Boundaries a user gives: the study area and places to leave out of patrol plans.

:func:`read_boundary` is the one reader both the command line (``--study-area``, ``--exclude``)
and the app's uploads use. It reads GeoJSON, GeoPackage and zipped shapefiles (from a path or from
bytes), takes a file without a CRS to be in WGS84 (as RFC 7946 GeoJSON is), repairs invalid
polygons with a warning, and returns one shapely geometry in EPSG:4326 (longitude, latitude).
:func:`exclusion_zones` turns excluded places into polygons in the analysis CRS: points and lines
(a hospital entrance, a prison wall) are buffered in metres.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from hotspots._errors import HotspotsWarning, InputError

__all__ = ["exclusion_zones", "read_boundary"]

_FORMATS = "a GeoJSON file, a GeoPackage or a zipped shapefile"


def _read_frame(source: Any, label: str) -> Any:
    import geopandas as gpd

    if isinstance(source, bytes | bytearray | memoryview):
        data: Any = io.BytesIO(bytes(source))
        if not bytes(source[:4096]).strip():
            msg = "the file is empty."
            raise InputError(msg, file=label, hint=f"give {_FORMATS}.")
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            msg = "no such file."
            raise InputError(msg, file=str(path), hint="check the path of the boundary file.")
        data = path
    else:
        msg = f"a boundary must be read from a path or bytes, not {type(source).__name__}."
        raise InputError(msg, file=label)
    try:
        with warnings.catch_warnings():
            # GDAL notes that an uploaded GeoPackage sits in memory without a .gpkg extension
            warnings.simplefilter("ignore", RuntimeWarning)
            return gpd.read_file(data)
    except Exception as exc:  # pyogrio raises several types for a file it cannot read
        msg = f"could not be read as {_FORMATS} ({type(exc).__name__})."
        raise InputError(
            msg, file=label, hint=f"export the boundary as {_FORMATS} (EPSG:4326 for GeoJSON)."
        ) from None


def _to_wgs84(gdf: Any, label: str) -> Any:
    """The frame in EPSG:4326 (set when the file names no CRS), refusing projected coordinates."""
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    else:
        try:
            gdf = gdf.to_crs(4326)
        except Exception as exc:  # pyproj raises several types for an unusable CRS
            msg = f"its coordinate system cannot be converted to WGS84 ({type(exc).__name__})."
            raise InputError(msg, file=label, hint="save it in EPSG:4326 (WGS84).") from None
    x0, y0, x1, y1 = gdf.total_bounds
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        # GeoJSON without a CRS is read as WGS84 (RFC 7946), so metres land here
        msg = (
            f"the coordinates ({x0:.0f}, {y0:.0f}) to ({x1:.0f}, {y1:.0f}) are not longitudes "
            "and latitudes: the file holds projected coordinates (metres?) but names no "
            "coordinate system."
        )
        raise InputError(
            msg,
            file=label,
            hint="save it as GeoJSON in EPSG:4326 (WGS84), or as a GeoPackage or shapefile "
            "that records its coordinate system.",
        )
    return gdf


def _repair(geoms: np.ndarray, label: str) -> np.ndarray:
    """Valid geometries; invalid polygons repaired (:func:`shapely.make_valid`) with a warning."""
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = sorted({str(r) for r in shapely.is_valid_reason(geoms[invalid])})
        warnings.warn(
            f"{label}: {int(invalid.sum())} invalid geometr{'y' if invalid.sum() == 1 else 'ies'} "
            f"({'; '.join(reasons[:3])}) repaired (self-intersections split into valid parts). "
            "Check the boundary on the map.",
            HotspotsWarning,
            stacklevel=3,
        )
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return geoms


def read_boundary(
    source: Any, *, name: str | None = None, polygons_only: bool = True
) -> BaseGeometry:
    """One boundary geometry in EPSG:4326 from a GeoJSON, GeoPackage or zipped shapefile.

    Parameters
    ----------
    source : path or bytes
        The file (a path; a ``.zip`` holding a shapefile is read directly), or its bytes (an
        upload).
    name : str, optional
        The file name used in error messages (default: the path's name, or ``"boundary"``).
    polygons_only : bool, default True
        For a study area: keep only polygons (points and lines are left out with a warning) and
        fail when there are none. ``False`` for places to exclude, where points and lines are
        kept (see :func:`exclusion_zones`).

    Returns
    -------
    shapely geometry
        The union of every feature, valid, in EPSG:4326 (x = longitude, y = latitude). A file
        without a CRS is taken to be in EPSG:4326 already.

    Raises
    ------
    InputError
        Naming the file, with a fix: missing, empty or unreadable; no features; no polygon (when
        ``polygons_only``); coordinates that are not longitudes and latitudes in a file without a
        CRS; a CRS that cannot be converted.

    Warns
    -----
    HotspotsWarning
        An invalid polygon (a self-intersecting ring, a bow tie) was repaired with
        :func:`shapely.make_valid`; points or lines were left out of a study area.
    """
    label = name or (Path(source).name if isinstance(source, str | os.PathLike) else "boundary")
    gdf = _read_frame(source, label)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.empty:
        msg = "the file holds no features with a geometry."
        raise InputError(msg, file=label, hint=f"give {_FORMATS} with at least one polygon.")
    gdf = _to_wgs84(gdf, label)
    geoms = _repair(np.asarray(gdf.geometry.to_numpy(), dtype=object), label)
    if polygons_only:
        parts = shapely.get_parts(geoms)
        polygonal = np.isin(shapely.get_type_id(parts), (3, 6))
        if not polygonal.any():
            msg = "the file holds no polygon (only points or lines)."
            raise InputError(
                msg, file=label, hint="a study area must be a polygon or a multipolygon."
            )
        if not polygonal.all():
            warnings.warn(
                f"{label}: {int((~polygonal).sum())} points or lines are not part of the study "
                "area and were left out.",
                HotspotsWarning,
                stacklevel=2,
            )
        geoms = parts[polygonal]
    geom = shapely.union_all(geoms)
    if polygons_only and geom.area <= 0:
        msg = "the study area has no area."
        raise InputError(msg, file=label, hint="a study area must be a polygon, not a line.")
    return geom


def exclusion_zones(
    geometry: BaseGeometry | None, crs: Any, *, buffer_m: float = 50.0
) -> BaseGeometry | None:
    """Places to leave out, as polygons in the analysis CRS.

    Parameters
    ----------
    geometry : shapely geometry or None
        In EPSG:4326, from :func:`read_boundary` with ``polygons_only=False``.
    crs : pyproj.CRS or str
        The analysis CRS (metres), e.g. ``incidents.crs``.
    buffer_m : float, default 50.0
        Radius in metres drawn around points and lines (polygons are kept as they are).

    Returns
    -------
    shapely geometry or None
        The union of the polygons and the buffered points and lines; None when nothing is given.

    Examples
    --------
    A point becomes a 50 m disc, drawn as a 32-sided polygon of area
    ``16 * 50**2 * sin(pi / 16)`` = 7803.6 m²:

    >>> zone = exclusion_zones(shapely.Point(-0.1276, 51.5072), "EPSG:27700", buffer_m=50)
    >>> round(zone.area, 1)
    7803.6
    """
    if geometry is None or geometry.is_empty:
        return None
    t = pyproj.Transformer.from_crs(4326, pyproj.CRS.from_user_input(crs), always_xy=True)
    moved = shapely.transform(geometry, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))
    parts = shapely.get_parts(moved)
    polygonal = np.isin(shapely.get_type_id(parts), (3, 6))
    parts = np.where(polygonal, parts, shapely.buffer(parts, float(buffer_m)))
    return shapely.union_all(parts)
