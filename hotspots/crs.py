"""Choose one metric analysis CRS per dataset, and move coordinates in and out of it.

Every distance, cell size and bandwidth in hotspots is in metres in one projected CRS, chosen once
from the bulk of the data (methods reference, "CRS and units pain": sfhotspot put data and grid in
different UTM zones when each layer chose its own). The rule:

* **British National Grid** (EPSG:27700) when the median point lies in Great Britain. Police.uk
  data are published for England and Wales, and every British analyst measures in BNG.
* Otherwise the **WGS84 UTM zone** of the median point (EPSG:326zz north, 327zz south), with the
  Norway (zone 32V) and Svalbard (31X/33X/35X/37X) exceptions applied.

Great Britain is tested with a lon/lat envelope (-8.7..1.8 E, 49.8..60.9 N) minus two rough
polygons: the island of **Ireland** (Northern Ireland is part of the UK but not of Great Britain,
and the Irish Grid / UTM 29N suits it better than BNG, whose distortion grows west of 6 W) and the
**north coast of France** (Boulogne, Calais and Dieppe fall inside the envelope). The Isle of Man
and the Isles of Scilly count as Great Britain (BNG covers them well); the Channel Islands do not.

The median is taken per axis (robust to a few mis-located points). Longitudes are unwrapped first
when the data straddle the antimeridian. Polar data (beyond 84 N or 80 S, where UPS would be
proper) still get the nearest UTM zone; no police data lie there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import pyproj
import shapely

from hotspots._errors import InputError

__all__ = [
    "BNG",
    "WGS84",
    "ProjectedTransformer",
    "choose_crs",
    "cut_at_antimeridian",
    "in_great_britain",
    "map_geometries_across",
    "map_longitudes",
    "map_side",
    "projected",
    "scale_error",
    "to_analysis",
    "to_crs",
    "to_lonlat",
    "to_wgs84",
    "transformer",
    "utm_crs",
]

#: British National Grid (OSGB36 / British National Grid), metres.
BNG = pyproj.CRS.from_epsg(27700)
#: Longitude/latitude on WGS84, degrees.
WGS84 = pyproj.CRS.from_epsg(4326)

#: lon/lat envelope of Great Britain with its islands (Scilly, Hebrides, Shetland), degrees.
GB_ENVELOPE = (-8.7, 49.8, 1.8, 60.9)

# The island of Ireland (rough outline, lon/lat). Its east edge runs between Ireland and Wales /
# Galloway / Kintyre: Carnsore Point (-6.36, 52.17), Dublin (-6.05), Ards (-5.43, 54.5),
# Fair Head (-6.15, 55.22), Malin Head (-7.37, 55.38); Anglesey, St David's Head, the Mull of
# Galloway, Kintyre and Islay stay outside.
_IRELAND = shapely.Polygon(
    [
        (-11.0, 51.2),
        (-6.2, 51.9),
        (-5.9, 53.0),
        (-5.35, 54.2),
        (-5.35, 54.75),
        (-6.0, 55.3),
        (-6.5, 55.45),
        (-11.0, 55.5),
    ]
)
# The French coast inside the GB envelope (Dieppe, Boulogne, Calais); Dungeness, Dover and
# North Foreland stay outside.
_NORTH_FRANCE = shapely.Polygon(
    [
        (0.2, 49.0),
        (0.2, 49.85),
        (1.3, 50.1),
        (1.45, 50.9),
        (1.75, 51.02),
        (2.5, 51.15),
        (3.0, 51.3),
        (3.0, 49.0),
    ]
)
shapely.prepare(_IRELAND)
shapely.prepare(_NORTH_FRANCE)


def in_great_britain(lon: float, lat: float) -> bool:
    """True when a lon/lat point (degrees, WGS84) lies in Great Britain (approximate outline).

    See the module docstring for the outline; Northern Ireland is not Great Britain.
    """
    w, s, e, n = GB_ENVELOPE
    if not (w <= lon <= e and s <= lat <= n):
        return False
    return not (
        shapely.intersects_xy(_IRELAND, lon, lat) or shapely.intersects_xy(_NORTH_FRANCE, lon, lat)
    )


def utm_zone(lon: float, lat: float) -> int:
    """The UTM zone number (1-60) of a point, with the Norway and Svalbard exceptions."""
    lon = ((lon + 180.0) % 360.0) - 180.0
    zone = int(np.floor((lon + 180.0) / 6.0)) + 1
    zone = min(max(zone, 1), 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32  # south-west Norway is in 32V
    if 72.0 <= lat < 84.0 and 0.0 <= lon < 42.0:  # Svalbard: 31X, 33X, 35X, 37X only
        if lon < 9.0:
            zone = 31
        elif lon < 21.0:
            zone = 33
        elif lon < 33.0:
            zone = 35
        else:
            zone = 37
    return zone


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 / UTM CRS of the zone holding a lon/lat point (north or south)."""
    zone = utm_zone(lon, lat)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _median_lonlat(lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    if not ok.any():
        msg = "No valid longitude/latitude to choose an analysis CRS from."
        raise InputError(msg, hint="check the coordinate columns hold WGS84 degrees.")
    lon, lat = lon[ok], lat[ok]
    if lon.max() - lon.min() > 180.0:  # straddles the antimeridian: unwrap west longitudes
        lon = np.where(lon < 0, lon + 360.0, lon)
    mlon = float(np.median(lon))
    mlon = ((mlon + 180.0) % 360.0) - 180.0
    return mlon, float(np.median(lat))


def choose_crs(lon: np.ndarray, lat: np.ndarray) -> tuple[pyproj.CRS, str]:
    """Choose the metric analysis CRS for a dataset from the bulk of its points.

    Parameters
    ----------
    lon, lat : array-like of float
        WGS84 longitudes and latitudes in degrees. Non-finite and out-of-range values are ignored.

    Returns
    -------
    crs : pyproj.CRS
        EPSG:27700 when the median point lies in Great Britain, else the WGS84 UTM zone of the
        median point (units: metres).
    reason : str
        One readable sentence saying what was chosen and why.

    Raises
    ------
    InputError
        When no valid point is given.

    Notes
    -----
    The median is per axis, so a few far-away mis-located points cannot move it. Great Britain is
    an envelope minus rough outlines of Ireland and the French coast (module docstring). When the
    median point is outside Great Britain but would be inside with longitude and latitude
    exchanged (Liverpool's swapped columns land in the Indian Ocean), the reason says so; the
    choice itself is not changed.

    Examples
    --------
    >>> crs, reason = choose_crs([-2.98], [53.41])
    >>> crs.to_epsg(), reason
    (27700, 'British National Grid (EPSG:27700): data in Great Britain')
    >>> choose_crs([-87.63], [41.88])[0].to_epsg()
    32616
    >>> "not swapped" in choose_crs([53.41], [-2.98])[1]  # Liverpool with the columns swapped
    True
    """
    mlon, mlat = _median_lonlat(lon, lat)
    if in_great_britain(mlon, mlat):
        return BNG, "British National Grid (EPSG:27700): data in Great Britain"
    crs = utm_crs(mlon, mlat)
    zone = utm_zone(mlon, mlat)
    hemi = "N" if mlat >= 0 else "S"
    reason = (
        f"WGS 84 / UTM zone {zone}{hemi} (EPSG:{crs.to_epsg()}): the UTM zone of the data's "
        f"median point ({mlon:.3f}, {mlat:.3f})"
    )
    if abs(mlon) <= 90 and in_great_britain(mlat, mlon):
        reason += (
            f". With longitude and latitude exchanged the median point ({mlat:.3f}, {mlon:.3f}) "
            "lies in Great Britain: check the two columns are not swapped (name them "
            "explicitly with columns={'lon': ..., 'lat': ...})"
        )
    return crs, reason


#: Largest scale error (distances off by this share) over the bulk of the data before the
#: analysis CRS is said to be unsound for them. Heuristic of this product: a 1 % error in
#: distances (2 % in areas and densities) is well inside the differences between bandwidth rules;
#: a UTM zone stays within it up to about 8 degrees of longitude from its central meridian.
MAX_SCALE_ERROR = 0.01


def scale_error(crs: object, lon: Any, lat: Any) -> float:
    """The largest scale error of a projected CRS at the given points (degrees, WGS84): how far
    a distance measured there in the CRS's metres is from the distance on the ground (0.085: 8.5 %
    too long; the share for areas is about twice that).

    Examples
    --------
    >>> round(scale_error("EPSG:32613", [-105.0], [40.0]), 4)  # on zone 13's central meridian
    0.0004
    >>> scale_error("EPSG:32613", [-73.9], [40.7]) > 0.08  # New York in zone 13
    True
    """
    proj = pyproj.Proj(pyproj.CRS.from_user_input(crs))
    factors = proj.get_factors(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    k = np.r_[np.atleast_1d(factors.meridional_scale), np.atleast_1d(factors.parallel_scale)]
    k = k[np.isfinite(k)]
    return float(np.max(np.abs(k - 1.0))) if k.size else 0.0


class ProjectedTransformer:
    """A :class:`pyproj.Transformer` (:attr:`pyproj_transformer`) whose :meth:`transform` runs
    in a projection thread (:func:`projected`), so its PROJ transformer is built once per
    projection thread rather than once per calling thread. Every other attribute is the pyproj
    transformer's own.
    """

    def __init__(self, pyproj_transformer: pyproj.Transformer) -> None:
        self.pyproj_transformer = pyproj_transformer

    def transform(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`pyproj.Transformer.transform`, run in a projection thread."""
        return projected(self.pyproj_transformer.transform, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name == "pyproj_transformer":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.pyproj_transformer, name)


@lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> ProjectedTransformer:
    return ProjectedTransformer(
        pyproj.Transformer.from_crs(
            pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst), always_xy=True
        )
    )


def _key(crs: object) -> str:
    return pyproj.CRS.from_user_input(crs).to_wkt()


def transformer(src: object, dst: object) -> ProjectedTransformer:
    """The transformer from ``src`` to ``dst`` (x = easting / longitude first), made once.

    Building one costs 30-140 ms (PROJ's database is searched for the operations between the
    two CRSs); the last 32 pairs are kept, keyed by their WKT, so a step that projects a few
    points many times (a hot spot's label point, a patrol area's centre) pays it once. Its
    transforms run in the projection threads (:func:`projected`), each building its PROJ
    transformer once per process.

    Parameters
    ----------
    src, dst : pyproj CRS input
        A ``pyproj.CRS``, an EPSG code, an authority string or WKT.

    Returns
    -------
    ProjectedTransformer
        A :class:`pyproj.Transformer` with ``always_xy=True`` (longitude or easting first)
        whose transforms run in a projection thread. The same object for the same pair of CRSs.

    Examples
    --------
    >>> t = transformer(BNG, WGS84)
    >>> lon, lat = t.transform(530000.0, 180000.0)
    >>> round(lon, 4), round(lat, 4)
    (-0.1284, 51.504)
    >>> transformer("EPSG:27700", 4326) is t
    True
    """
    return _transformer(_key(src), _key(dst))


#: Long-lived threads that run the coordinate transformations (:func:`projected`). pyproj gives
#: each thread its own PROJ transformer per :class:`pyproj.Transformer` (its thread safety), built
#: on the thread's first transform in 40-50 ms; the app runs every script run in a new thread, so
#: transforms made there built their transformers again on every run (three per upload). Four
#: threads: more transforms at once than the machine has cores to run them, each thread's
#: transformers built once per process.
PROJECTION_THREADS = 4
_PROJECTION_PREFIX = "hotspots-projection"
# threads are started as transforms need them (a pool's submit is thread-safe)
_POOL = ThreadPoolExecutor(PROJECTION_THREADS, thread_name_prefix=_PROJECTION_PREFIX)


def _new_pool_after_fork() -> None:
    """A fresh pool in a forked child: the parent's threads do not exist there, and the parent's
    pool, counting them as idle, would queue every transform for a thread that never runs it
    (``multiprocessing`` forks by default on Linux before Python 3.14)."""
    global _POOL
    _POOL = ThreadPoolExecutor(PROJECTION_THREADS, thread_name_prefix=_PROJECTION_PREFIX)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_pool_after_fork)
_T = TypeVar("_T")


def projected(fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """``fn(*args, **kwargs)`` run in one of the :data:`PROJECTION_THREADS` long-lived projection
    threads, for a coordinate transformation (its PROJ transformers are built once per thread).

    The caller waits for the result; an exception ``fn`` raises is raised here. Called from a
    projection thread, ``fn`` runs at once in it. Warnings ``fn`` issues are issued in the
    projection thread (a transformation issues none).

    Examples
    --------
    >>> projected(max, 2, 3)
    3
    """
    if threading.current_thread().name.startswith(_PROJECTION_PREFIX):
        return fn(*args, **kwargs)
    return _POOL.submit(fn, *args, **kwargs).result()


def transform(
    x: np.ndarray, y: np.ndarray, src: object, dst: object
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinates between two CRSs (x = easting / longitude first), cached; run in a
    projection thread (:func:`projected`)."""
    t = transformer(src, dst)
    xo, yo = t.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(xo, dtype=float), np.asarray(yo, dtype=float)


def to_analysis(lon: np.ndarray, lat: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 lon/lat (degrees) to x, y in the analysis CRS (metres)."""
    return transform(lon, lat, WGS84, crs)


def to_wgs84(x: np.ndarray, y: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """x, y in the analysis CRS (metres) to WGS84 lon, lat (degrees)."""
    return transform(x, y, crs, WGS84)


_Geo = TypeVar("_Geo")


def to_crs(geo: _Geo, crs: object) -> _Geo:
    """``geo.to_crs(crs)`` (a GeoSeries or GeoDataFrame, reprojected by geopandas) run in a
    projection thread (:func:`projected`): the same result, without building geopandas'
    transformer again in the caller's thread.

    Examples
    --------
    >>> import geopandas as gpd
    >>> pt = gpd.GeoSeries.from_xy([529_980.0], [180_430.0], crs=BNG)
    >>> [round(v, 3) for v in to_crs(pt, 4326).iloc[0].coords[0]]
    [-0.128, 51.508]
    """
    out: _Geo = projected(geo.to_crs, crs)  # type: ignore[attr-defined]
    return out


#: Type ids of shapely's polygons and multipolygons.
_POLYGONAL = (3, 6)


def cut_at_antimeridian(geoms: Any) -> tuple[np.ndarray, bool]:
    """Polygons in longitude/latitude with every part that crosses the antimeridian cut in two
    there (RFC 7946 3.1.9), and whether any was.

    A hot spot east of Fiji reprojected from its UTM zone has vertices at 179.99 and -179.99
    degrees; drawn as it is, the ring runs the whole way round the world. A part (a polygon of
    a multipolygon) spanning more than 180 degrees of longitude can only be such a crossing at
    the scale of a study area, so it is unwrapped (negative longitudes + 360), cut at 180 and the
    eastern piece moved back by -360. Other geometries are returned as they are.

    Parameters
    ----------
    geoms : array-like of shapely geometries
        In EPSG:4326 (longitude first).

    Returns
    -------
    (ndarray of geometries, bool)

    Examples
    --------
    >>> ring = shapely.Polygon([(179.9, 0), (-179.9, 0), (-179.9, 1), (179.9, 1)])
    >>> out, cut = cut_at_antimeridian([ring])
    >>> cut, out[0].geom_type, [tuple(round(v, 1) for v in p.bounds) for p in out[0].geoms]
    (True, 'MultiPolygon', [(179.9, 0.0, 180.0, 1.0), (-180.0, 0.0, -179.9, 1.0)])
    """
    arr = np.asarray(geoms, dtype=object).reshape(-1)
    if not len(arr):
        return arr, False
    poly = np.isin(shapely.get_type_id(arr), _POLYGONAL)
    bounds = shapely.bounds(arr)
    wide = np.flatnonzero(poly & ((bounds[:, 2] - bounds[:, 0]) > 180.0))
    if not len(wide):
        return arr, False
    out = arr.copy()
    changed = False
    for i in wide.tolist():
        pieces: list[Any] = []
        parts = shapely.get_parts(arr[i])
        spans = np.diff(shapely.bounds(parts)[:, ::2], axis=1).ravel()
        if not (spans > 180.0).any():
            continue  # parts on both sides (the Aleutians), none crossing
        changed = True
        for part, span in zip(parts.tolist(), spans.tolist(), strict=True):
            if span <= 180.0:
                pieces.append(part)
                continue
            unwrapped = shapely.transform(
                part, lambda c: np.where(c[:, :1] < 0, c + np.array([360.0, 0.0]), c)
            )
            west = shapely.clip_by_rect(unwrapped, 0.0, -90.0, 180.0, 90.0)
            east = shapely.clip_by_rect(unwrapped, 180.0, -90.0, 360.0, 90.0)
            east = shapely.transform(east, lambda c: c - np.array([360.0, 0.0]))
            pieces += [
                g
                for g in shapely.get_parts([west, east]).tolist()
                if shapely.get_type_id(g) == 3 and not g.is_empty
            ]
        out[i] = pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(pieces)
    return out, changed


def to_lonlat(geo: _Geo) -> _Geo:
    """:func:`to_crs` to EPSG:4326, with polygons crossing the antimeridian cut in two there
    (:func:`cut_at_antimeridian`): what a map or a GeoJSON file should draw.

    Examples
    --------
    >>> import geopandas as gpd
    >>> sq = shapely.box(818_000, 8_138_000, 822_000, 8_142_000)  # UTM 60S, on 180 degrees
    >>> out = to_lonlat(gpd.GeoSeries([sq], crs="EPSG:32760"))
    >>> out.iloc[0].geom_type, [round(float(v), 3) for v in out.total_bounds[::2]]
    ('MultiPolygon', [-180.0, 180.0])
    """
    import geopandas as gpd

    out: Any = to_crs(geo, 4326)
    frame = isinstance(out, gpd.GeoDataFrame)
    series = out.geometry if frame else out
    cut, changed = cut_at_antimeridian(series.values)
    if not changed:
        return out
    fixed = gpd.GeoSeries(cut, index=series.index, crs=series.crs, name=series.name)
    if frame:
        out = out.copy()
        out[series.name] = fixed
        return out
    return fixed


#: Central meridians (degrees) this close to 180 belong to CRSs whose zone borders the
#: antimeridian (UTM zones 1 and 60, central meridians -177 and 177).
ANTIMERIDIAN_ZONE = 6.0


@lru_cache(maxsize=64)
def _map_side(key: str) -> int:
    """+1 (draw west longitudes + 360), -1 (east longitudes - 360) or 0 for a CRS (by key)."""
    try:
        op = pyproj.CRS.from_user_input(key).coordinate_operation
    except pyproj.exceptions.CRSError:
        return 0
    for param in getattr(op, "params", None) or []:
        name = param.name.lower()
        if "longitude of natural origin" in name or "longitude of origin" in name:
            lon0 = ((float(param.value) + 180.0) % 360.0) - 180.0
            if lon0 >= 180.0 - ANTIMERIDIAN_ZONE:
                return 1
            if lon0 <= -180.0 + ANTIMERIDIAN_ZONE:
                return -1
    return 0


def map_side(crs: object) -> int:
    """How a map of data analysed in ``crs`` keeps longitudes continuous across 180 degrees.

    Returns +1 when the CRS's zone borders the antimeridian from the west (UTM zone 60: Fiji,
    New Zealand's east), -1 from the east (UTM zone 1: Tonga, the Chatham Islands), else 0.
    Data in such a zone cross 180 degrees if any longitude has the other sign; drawn as they are,
    a map fits the whole world round them. Leaflet draws longitudes beyond 180 (or -180), so
    the map writes the other side's longitudes + 360 (or - 360); GeoJSON files stay cut at 180
    (RFC 7946, :func:`to_lonlat`). Data that do not cross are unchanged.
    """
    if crs is None:
        return 0
    return _map_side(_key(crs))


def map_longitudes(lon: Any, crs: object) -> np.ndarray:
    """Longitudes (degrees) as a map of data analysed in ``crs`` draws them (:func:`map_side`)."""
    lon = np.asarray(lon, dtype=float)
    side = map_side(crs)
    if side > 0:
        return np.where(lon < 0, lon + 360.0, lon)
    if side < 0:
        return np.where(lon > 0, lon - 360.0, lon)
    return lon


def map_geometries_across(geoms: Any, crs: object) -> Any:
    """Geometries in longitude/latitude as a map of data analysed in ``crs`` draws them: parts
    on the other side of 180 degrees moved by 360 (:func:`map_side`); the same array when the
    CRS does not border the antimeridian."""
    if not map_side(crs):
        return geoms

    def shift(c: np.ndarray) -> np.ndarray:
        c = c.copy()
        c[:, 0] = map_longitudes(c[:, 0], crs)
        return c

    return shapely.transform(np.asarray(geoms), shift)
