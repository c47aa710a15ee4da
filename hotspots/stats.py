"""Statistical tests shared by the detectors, the ranking and change over time.

Four tests, each used by more than one module:

:class:`SurroundingsTest`
    Does a place stand out from its surroundings? The densest 75 m disc of a hot spot against
    the rings around it (150-750 m), with police.uk's snapping of incidents to map points and the
    town's uneven density taken into account. The significance of every KDE, DBSCAN and HDBSCAN
    hot spot (:mod:`hotspots.profile`, :mod:`hotspots.clusters`).
:func:`csr_lambda`, :func:`csr_p_value`
    The complete-spatial-randomness (CSR) tail test of a disc centred on an incident: how
    improbable is it that some disc of radius ``r`` around one of ``n`` incidents holds ``count``
    incidents, if the incidents were scattered uniformly over the study area? Only a density
    threshold now: DBSCAN's default ``min_samples`` and HDBSCAN's noise filter
    (:mod:`hotspots.clusters`). It is not a hot spot test: a town is not uniform.
:func:`benjamini_hochberg`
    Benjamini-Hochberg adjusted p-values (false discovery rate), with an optional block of tied
    p-values that is never built (the empty cells of a sparse grid). Used by Gi*
    (:mod:`hotspots.gistar`) and change over time (:mod:`hotspots.emerging`).
:func:`mann_kendall`
    The Mann-Kendall trend test with the tie correction, for one or many series
    (:mod:`hotspots.emerging`).
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd
import shapely
from scipy import stats
from shapely.geometry.base import BaseGeometry

from hotspots._errors import HotspotsError
from hotspots.constants import MICRO_PLACE_M, MICRO_PLACE_RADIUS_M
from hotspots.incidents import unique_points

__all__ = [
    "SURROUNDINGS_RADII",
    "DiscTest",
    "MannKendall",
    "PlaceTest",
    "SurroundingsTest",
    "benjamini_hochberg",
    "catchment_areas",
    "csr_lambda",
    "csr_p_value",
    "in_background",
    "mann_kendall",
    "nbinom_tail",
    "points_in_polygons",
    "split_dispersion",
    "start_surroundings_test",
    "tarone_family",
]

_T = TypeVar("_T")

#: Radii of the surroundings test, metres: the disc (75 m, one patrol unit across), the gap left
#: out around it (150 m), and the middle and outer edges of its two rings (450 m and 750 m: the
#: inner ring 150-450 m, the outer ring 450-750 m). See :class:`SurroundingsTest` Notes.
SURROUNDINGS_RADII = (MICRO_PLACE_RADIUS_M, MICRO_PLACE_M, 3 * MICRO_PLACE_M, 5 * MICRO_PLACE_M)

#: Discs whose split between the two halves of the data has at least this binomial variance
#: inform the dispersion estimate (below it the count is too discrete for the normal scale the
#: robust estimate relies on); the same threshold as Gi*'s.
DISPERSION_MIN_VARIANCE = 5.0
#: Fewer informative discs than this: no over-dispersion is estimated (``phi = 1``).
DISPERSION_MIN_UNITS = 30
#: At most this many discs (evenly spread over the sorted locations) estimate the dispersion.
DISPERSION_SAMPLE = 20_000

#: Median of ``|N(0, 1)|``.
_HALF_NORMAL_MEDIAN = 0.6744897501960817
#: (strip, centre) pairs per block of the disc sums (bounds memory: a few arrays this long, and
#: their candidates; national KDE hot spots, 238,133 centres: 1 << 16 takes 145 MB and 5.6 s
#: for the four radii, 1 << 21 takes 870 MB and 9.5 s, the arrays no longer in cache).
_DISC_BLOCK = 1 << 16
#: (strip, centre) pairs per block of :class:`_DiscSums` (national KDE hot spots, 238,133 discs
#: at four radii: 1 << 14 takes 4.4-5.1 CPU s, 1 << 16 4.7-5.4, least of three each, load 1.2;
#: each centre's sums are added in the same order whatever the block, so the same bits).
_DISC_SUM_BLOCK = 1 << 14
#: Metres: a location this close to the edge of a strip's sure range is tested exactly instead.
_STRIP_MARGIN = 0.01
#: The ends of a strip's sure run are first looked for among this many locations inside the
#: ends of its candidate range (:func:`_search_after`, :func:`_search_before`), and searched
#: for only beyond them: the strip height leaves a few candidates per end (national KDE hot
#: spots, 238,133 discs at four radii: 3.32 -> 3.03 CPU s, mean of three, the same bits; a
#: window of 2 gave 3.13).
_SEARCH_WINDOW = 3


# --------------------------------------------------------------------------------------------
# Does a place stand out from its surroundings?
# --------------------------------------------------------------------------------------------


def catchment_areas(locations: np.ndarray, study_area: BaseGeometry) -> np.ndarray:
    """Area of the study area nearer to each location than to any other, in square metres.

    Parameters
    ----------
    locations : array of shape (m, 2)
        Distinct locations (metres, analysis CRS).
    study_area : shapely geometry
        The study area polygon(s).

    Returns
    -------
    numpy.ndarray of float, shape (m,)
        The area of each location's Voronoi cell inside the study area. police.uk moves every
        crime to the nearest of its anonymous map points, so this is the ground whose crimes a
        map point receives: its *catchment*. The cells tile the study area, so the areas sum to
        its area. A location outside the study area keeps its whole (unclipped) cell.

    Notes
    -----
    One GEOS Voronoi diagram of all the locations. A cell whose generator lies in the study area
    shrunk by the reach of nine cells in ten, and whose bounding box is within that reach,
    lies wholly inside the study area and keeps its whole area; only the other cells are
    overlaid on the study area's polygons (on 410,302 national map points, 5 % of them; the
    areas are those of overlaying every cell, to the last bit). Where GEOS cannot draw the
    cells of distinct points that lie nearer together than its precision (it fails, or returns
    cells that do not tile the plane: :data:`_TILING_TOLERANCE`), points within
    :data:`CATCHMENT_SNAP_M` of each other (then 10, 100, 1,000 times that) are one place and
    share its cell equally.

    Examples
    --------
    Two points 100 m apart in a 200 m x 100 m box split it in half:

    >>> catchment_areas(np.array([[50.0, 50.0], [150.0, 50.0]]), shapely.box(0, 0, 200, 100))
    array([10000., 10000.])
    """
    pts = np.ascontiguousarray(locations, dtype=float).reshape(-1, 2)
    key = hashlib.blake2b(pts.tobytes(), digest_size=20)
    key.update(shapely.to_wkb(study_area) if study_area is not None else b"")
    with _CATCHMENT_LOCK:
        known = _CATCHMENT_CACHE.get(key.digest())
    if known is not None:
        return known.copy()
    area = _catchment_areas(pts, study_area)
    with _CATCHMENT_LOCK:
        _CATCHMENT_CACHE[key.digest()] = area.copy()
        while len(_CATCHMENT_CACHE) > _CATCHMENT_CACHE_SIZE:
            _CATCHMENT_CACHE.popitem(last=False)
    return area


#: The last few :func:`catchment_areas` results, by a digest of the locations and the study
#: area: a run that detects hot spots and then classifies change over time on the same
#: incidents (the app, a notebook) draws the Voronoi diagram once (national: 4-5 s).
_CATCHMENT_CACHE: OrderedDict[bytes, np.ndarray] = OrderedDict()
_CATCHMENT_CACHE_SIZE = 2
_CATCHMENT_LOCK = threading.Lock()


def _catchment_areas(pts: np.ndarray, study_area: BaseGeometry) -> np.ndarray:
    """:func:`catchment_areas`, not cached."""
    try:
        return _catchments(pts, study_area)
    except (shapely.errors.GEOSException, _BrokenDiagramError):
        pass
    # GEOS's Voronoi diagram fails on distinct points nearer together than its precision (about
    # 1e-10 m at national grid coordinates: "Points of LinearRing do not form a closed
    # linestring"), and may return cells that overlap for a few points millimetres apart and
    # nearly on one circle. Such points are one place: snapped to CATCHMENT_SNAP_M (then ten,
    # a hundred, a thousand times coarser while GEOS still fails), each group of points that
    # meet shares its cell equally, so the areas still tile the study area.
    for step in CATCHMENT_SNAP_M * 10.0 ** np.arange(4):
        snapped = np.round(pts / step) * step
        places, inverse = np.unique(snapped, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        shared = np.bincount(inverse, minlength=len(places))
        try:
            return _catchments(places, study_area)[inverse] / shared[inverse]
        except (shapely.errors.GEOSException, _BrokenDiagramError):
            continue
    msg = (
        f"catchment_areas: GEOS could not draw the Voronoi cells of {len(pts)} locations, "
        f"even with points within {step:g} m taken as one."
    )
    raise HotspotsError(msg)


#: Distinct locations nearer together than this (metres) are one place when GEOS cannot draw
#: their Voronoi cells apart (:func:`catchment_areas`). Heuristic of this product: a millimetre
#: is far below any recorded location's precision and far above floating-point noise.
CATCHMENT_SNAP_M = 1e-3


#: :func:`catchment_areas` takes GEOS's Voronoi diagram as broken when its cells' areas (summed
#: exactly) miss the frame's area by more than this share of it (they tile it to the last bit
#: on the 410,302 national map points; a broken diagram's overlapping cells miss by the size
#: of a cell).
_TILING_TOLERANCE = 1e-13


class _BrokenDiagramError(RuntimeError):
    """GEOS returned another number of Voronoi cells than distinct locations, or cells that do
    not tile the frame."""


def _catchments(pts: np.ndarray, study_area: BaseGeometry) -> np.ndarray:
    m = len(pts)
    if m == 0:
        return np.zeros(0)
    if m == 1:
        return np.array([float(study_area.area)])
    lo = np.minimum(pts.min(axis=0), study_area.bounds[:2])
    hi = np.maximum(pts.max(axis=0), study_area.bounds[2:])
    pad = float(max(hi - lo)) + 1.0
    frame = shapely.box(lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad)
    cells = np.asarray(
        shapely.get_parts(shapely.voronoi_polygons(_multipoint(pts), extend_to=frame, ordered=True))
    )
    if len(cells) != m:  # GEOS returns one cell per distinct input point, unless too near
        msg = f"catchment_areas: {len(cells)} Voronoi cells for {m} distinct locations."
        raise _BrokenDiagramError(msg)
    whole = shapely.area(cells)
    if abs(math.fsum(whole) - frame.area) > _TILING_TOLERANCE * frame.area:
        msg = f"catchment_areas: the Voronoi cells of {m} locations overlap."
        raise _BrokenDiagramError(msg)
    area = whole.copy()
    # most cells lie well inside the study area: they keep their whole area without meeting
    # its polygons; only the others are clipped
    rest = np.flatnonzero(~_surely_inside(cells, pts, study_area))
    if len(rest):
        area[rest] = _clipped_areas(cells[rest], pts[rest], whole[rest], study_area)
    return area


def _multipoint(pts: np.ndarray) -> shapely.MultiPoint:
    """``shapely.multipoints(pts)``, the same coordinates, parsed by GEOS from one WKB record
    built in NumPy (410,302 national map points: 0.09 s instead of 0.45 s, no point geometry
    made and freed one by one)."""
    n = len(pts)
    record = np.zeros(n, dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    record["order"], record["kind"] = 1, 1  # little-endian, Point
    record["x"], record["y"] = pts[:, 0], pts[:, 1]
    head = np.array([(1, 4, n)], dtype=[("order", "u1"), ("kind", "<u4"), ("n", "<u4")])
    return shapely.from_wkb(head.tobytes() + record.tobytes())


#: :func:`catchment_areas` takes a Voronoi cell as inside the study area without an overlay when
#: its generator lies in the study area shrunk by ``r`` and its bounding box within this share
#: of ``r`` of the generator (GEOS draws a buffer's arcs with chords at most 0.5 % inside the
#: true circle at its 8 segments a quarter circle, so the shrunk area may reach 0.5 % closer to
#: the edge than ``r``).
_CATCHMENT_CORE_SHARE = 0.99
#: ... and ``r`` is this quantile of the cells' reach (the farthest corner of a cell's bounding
#: box from its generator): nine cells in ten can take the shortcut where the study area is wide
#: enough for them.
_CATCHMENT_CORE_QUANTILE = 0.9


def _surely_inside(cells: np.ndarray, pts: np.ndarray, study_area: BaseGeometry) -> np.ndarray:
    """Which Voronoi ``cells`` (of the generators ``pts``) lie wholly inside the study area:
    a cell lies in its bounding box, the box in the disc around the generator reaching its
    farthest corner, and that disc inside the study area when the generator lies in the study
    area shrunk by more than its radius (then the disc is inside one polygon of a valid
    multipolygon, and the cell keeps its whole area, as its overlay would give)."""
    inside = np.zeros(len(cells), dtype=bool)
    if len(cells) == 0 or study_area.is_empty:
        return inside
    box = shapely.bounds(cells)
    x, y = pts[:, 0], pts[:, 1]
    reach = np.hypot(
        np.maximum(np.abs(box[:, 0] - x), np.abs(box[:, 2] - x)),
        np.maximum(np.abs(box[:, 1] - y), np.abs(box[:, 3] - y)),
    )
    finite = np.isfinite(reach)
    if not finite.any():
        return inside
    radius = float(np.quantile(reach[finite], _CATCHMENT_CORE_QUANTILE))
    if not radius > 0:
        return inside
    core = shapely.buffer(study_area, -radius)  # a new geometry: preparing it is ours to do
    if core.is_empty:
        return inside
    shapely.prepare(core)
    near = np.flatnonzero(finite & (reach <= _CATCHMENT_CORE_SHARE * radius))
    inside[near] = shapely.contains_xy(core, x[near], y[near])
    return inside


def _clipped_areas(
    cells: np.ndarray, pts: np.ndarray, whole: np.ndarray, study_area: BaseGeometry
) -> np.ndarray:
    """:func:`catchment_areas` of the Voronoi ``cells`` (generators ``pts``, unclipped areas
    ``whole``) by overlaying them on the study area's polygons."""
    m = len(cells)
    # each part of the study area against the cells near it (a national study area has
    # thousands of parts; the parts of a valid multipolygon do not overlap, so a cell inside
    # the area is inside one part, and its area in the study area is the sum over the parts)
    parts = np.asarray(shapely.get_parts(study_area))
    shapely.prepare(parts)
    tree = shapely.STRtree(cells)
    inside = np.zeros(m, dtype=bool)
    inside[tree.query(parts, predicate="contains")[1]] = True
    area = whole.copy()
    part_i, cell_i = tree.query(parts, predicate="intersects")
    cross = ~inside[cell_i]
    part_i, cell_i = part_i[cross], cell_i[cross]
    area[~inside] = 0.0
    if len(cell_i):
        shares = shapely.area(shapely.intersection(cells[cell_i], parts[part_i]))
        area += np.bincount(cell_i, weights=shares, minlength=m)
    empty = np.flatnonzero(area <= 0)
    # inside the study area is inside one of its parts (the caller's geometry is only read,
    # never prepared in place, so another thread may use it meanwhile)
    held = shapely.STRtree(parts).query(shapely.points(pts[empty]), predicate="within")[0]
    outside = np.setdiff1d(empty, empty[held])
    area[outside] = whole[outside]
    return area


def points_in_polygons(points: np.ndarray, geoms: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (point index, polygon index) of every point inside a polygon or on its edge.

    Parameters
    ----------
    points : array of shape (m, 2)
        Coordinates, metres in the analysis CRS.
    geoms : array or GeoSeries of shapely geometries
        Polygons in the same CRS (only read: another thread may use them meanwhile).

    Returns
    -------
    point_idx, poly_idx : numpy.ndarray of int64
        One entry per (point, polygon) pair with ``polygon.intersects(point)``, sorted by point,
        then polygon.

    Notes
    -----
    The points are sorted into square cells about the size of a typical polygon; each polygon
    takes the points of the cells its bounding box covers (one run of the sorted points per row
    of cells), keeps those inside the box, and tests them with
    :func:`shapely.intersects_xy` on a prepared copy of itself (GEOS indexes its edges, so a
    point costs a logarithmic point-in-polygon test). No point geometry is built: on 18,050
    national KDE hot spots and 410,302 map points this takes 0.3 s, an R-tree of the points
    queried with the polygons 0.8 s, and a tree of the polygons queried with the points
    (each tested against an unprepared polygon) 3.7 s; all three give the same pairs.

    Examples
    --------
    >>> square = shapely.box(0, 0, 10, 10)
    >>> pts = np.array([[5.0, 5.0], [20.0, 5.0], [10.0, 0.0]])
    >>> [a.tolist() for a in points_in_polygons(pts, [square, shapely.box(8, -1, 30, 9)])]
    [[0, 1, 2, 2], [0, 1, 0, 1]]
    """
    g = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    some = (
        np.flatnonzero(~shapely.is_missing(g) & ~shapely.is_empty(g))
        if len(g)
        else np.empty(0, int)
    )
    if len(some) == 0 or len(pts) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    box = shapely.bounds(g[some])
    side = max(float(np.median(np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]))), 1.0)
    x0, y0 = float(pts[:, 0].min()), float(pts[:, 1].min())
    n_col = int(np.floor((pts[:, 0].max() - x0) / side)) + 1
    cell = np.floor((pts[:, 1] - y0) / side).astype(np.int64) * n_col + np.floor(
        (pts[:, 0] - x0) / side
    ).astype(np.int64)
    order = np.argsort(cell, kind="stable")
    sorted_cell = cell[order]
    # each polygon's rows of cells, and the run of sorted points its box covers in each row
    c0 = np.clip(np.floor((box[:, 0] - x0) / side), 0, n_col - 1).astype(np.int64)
    c1 = np.clip(np.floor((box[:, 2] - x0) / side), -1, n_col - 1).astype(np.int64)
    r0 = np.maximum(np.floor((box[:, 1] - y0) / side), 0).astype(np.int64)
    r1 = np.floor((box[:, 3] - y0) / side).astype(np.int64)
    rows = np.maximum(r1 - r0 + 1, 0)
    run_poly = np.repeat(np.arange(len(some)), rows)
    run_row = np.arange(int(rows.sum())) - np.repeat(np.cumsum(rows) - rows, rows) + r0[run_poly]
    lo = np.searchsorted(sorted_cell, run_row * n_col + c0[run_poly], "left")
    hi = np.searchsorted(sorted_cell, run_row * n_col + c1[run_poly], "right")
    n = np.maximum(hi - lo, 0)
    prepared = shapely.from_wkb(shapely.to_wkb(g[some]))  # copies: the caller's stay unprepared
    shapely.prepare(prepared)
    point_parts = [np.empty(0, dtype=np.int64)]
    poly_parts = [np.empty(0, dtype=np.int64)]
    ends = np.cumsum(n)
    s = 0
    while s < len(n):  # runs in batches of about _DISC_BLOCK * 64 candidate points
        e = max(s + 1, int(np.searchsorted(ends, ends[s] - n[s] + 64 * _DISC_BLOCK, "right")))
        m = n[s:e]
        poly = np.repeat(run_poly[s:e], m)
        idx = order[np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m - lo[s:e], m)]
        x, y = pts[idx, 0], pts[idx, 1]
        b = box[poly]
        near = (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])
        poly, idx = poly[near], idx[near]
        hit = shapely.intersects_xy(prepared[poly], pts[idx, 0], pts[idx, 1])
        point_parts.append(idx[hit])
        poly_parts.append(some[poly[hit]])
        s = e
    point_idx = np.concatenate(point_parts).astype(np.int64)
    poly_idx = np.concatenate(poly_parts).astype(np.int64)
    by = np.lexsort((poly_idx, point_idx))
    return point_idx[by], poly_idx[by]


def _return_freed_memory() -> None:
    """Hand the heap memory freed so far back to the operating system (glibc's
    ``malloc_trim``; elsewhere nothing). GEOS builds a national Voronoi diagram from some
    450 MB of small allocations; freed, they stay in the process (in the building thread's
    arena, which large NumPy arrays never reuse) unless trimmed."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (
        OSError,
        AttributeError,
        TypeError,
    ):  # pragma: no cover - not glibc (Windows: TypeError)
        pass


def split_dispersion(count_a: np.ndarray, count_b: np.ndarray, share_a: np.ndarray) -> float:
    """Over-dispersion ``phi >= 1`` of counts from one half of the data to the other.

    Parameters
    ----------
    count_a, count_b : arrays of shape (m,)
        Incidents of each unit (disc) in the two halves of the data (odd and even months).
    share_a : array of shape (m,)
        The share of the unit's incidents expected in half ``a`` if nothing changed (its
        surroundings' share, so a place in a district that grew is judged by that district).

    Returns
    -------
    float
        ``(median |d| / 0.6745)^2`` with ``d = (k_a - K pi) / sqrt(K pi (1 - pi))``, ``K = k_a +
        k_b``, ``pi = share_a``, over the units with ``K pi (1 - pi) >=``
        :data:`DISPERSION_MIN_VARIANCE`; at least 1; 1 when fewer than
        :data:`DISPERSION_MIN_UNITS` units qualify.

    Notes
    -----
    If a place's incidents arrived one by one, independently, ``k_a`` given ``K`` would be
    binomial ``(K, pi)`` and ``d`` standard normal. Incidents come in clumps (one fight, several
    victims; repeats at an address within days), which multiplies the variance of a count by
    ``phi``. Places also differ *persistently*, but that is what a hot spot test looks for, and it
    cancels between two halves of the same period; so ``phi`` is measured between halves, as for
    Gi* (:func:`hotspots.gistar.estimate_dispersion`). The median (0.6745 is the median of
    ``|N(0, 1)|``) ignores the few places that really changed between halves.

    Examples
    --------
    5,000 places, each with about 20 incidents split at random between the halves; then the same
    places with every incident in a clump of three (three victims of one fight):

    >>> rng = np.random.default_rng(0)
    >>> events = rng.poisson(20, 5000)
    >>> a = rng.binomial(events, 0.5)
    >>> split_dispersion(a, events - a, np.full(5000, 0.5))
    1.0
    >>> round(split_dispersion(3 * a, 3 * (events - a), np.full(5000, 0.5)), 1)
    3.1
    """
    ka = np.asarray(count_a, dtype=float)
    big_k = ka + np.asarray(count_b, dtype=float)
    pi = np.asarray(share_a, dtype=float)
    v = big_k * pi * (1 - pi)
    ok = np.isfinite(v) & (v >= DISPERSION_MIN_VARIANCE)
    if ok.sum() < DISPERSION_MIN_UNITS:
        return 1.0
    d = (ka[ok] - big_k[ok] * pi[ok]) / np.sqrt(v[ok])
    return max(1.0, float((np.median(np.abs(d)) / _HALF_NORMAL_MEDIAN) ** 2))


@dataclass(frozen=True)
class DiscTest:
    """The surroundings test of some discs (arrays, one entry per disc)."""

    #: Incidents in the disc.
    count: np.ndarray
    #: Incidents expected there from its surroundings (see :class:`SurroundingsTest`).
    expected: np.ndarray
    #: Variance of the count under the null (clumping and the uncertainty of ``expected``).
    variance: np.ndarray
    #: One-sided p-value of this disc alone, ``P(K >= count)``, not adjusted.
    p_value: np.ndarray


@dataclass(frozen=True)
class PlaceTest:
    """The surroundings test of some places (arrays, one entry per place)."""

    #: Incidents in the place's most outstanding disc (0 when it holds no incident).
    count: np.ndarray
    #: Incidents expected in that disc from its surroundings (NaN when no disc).
    expected: np.ndarray
    #: Bonferroni-adjusted p-value: ``min(1, n_tests p)`` of that disc (1 without a disc, NaN
    #: when the test is undefined).
    p_value: np.ndarray
    #: Index (into :attr:`SurroundingsTest.locations`) of that disc's centre, -1 when none.
    centre: np.ndarray


class SurroundingsTest:
    """Does a place stand out from its surroundings? A micro-place test robust to snapping.

    Every distinct incident location is the centre of a disc of radius ``r`` (75 m). Each disc
    is compared with the incidents of two rings around it (150-450 m and 450-750 m), after
    accounting for how much ground each location collects incidents from. A hot spot is
    significant when one of its discs holds more incidents than its surroundings predict, by a
    margin that chance would reach nowhere in the study area with probability ``alpha``.

    Parameters
    ----------
    xy : array of shape (N, 2)
        Incident coordinates, metres in the analysis CRS.
    study_area : shapely geometry
        The study area polygon(s); an empty or zero-area study area leaves the test undefined
        (every p-value NaN).
    months : array-like of datetime64 of shape (N,), optional
        Each incident's month (NaT when unknown), to measure clumping between odd and even
        months. Without it, or with fewer than two months, clumping is not measured
        (``phi = 1``).
    radii : tuple of 4 floats, default :data:`SURROUNDINGS_RADII`
        ``(r, gap, middle, outer)`` in metres: the disc, the radius within which nothing is
        used as surroundings, and the edges of the inner and outer rings.
    distinct : (locations, inverse, counts), optional
        ``unique_points(xy, return_inverse=True, return_counts=True)``
        (:func:`hotspots.incidents.unique_points`) when the caller has it.

    Attributes
    ----------
    locations : array of shape (m, 2)
        The distinct locations (sorted), each a disc centre.
    counts : array of shape (m,)
        Incidents on each location.
    inverse : array of shape (N,)
        Index into ``locations`` of each incident.
    catchment : array of shape (m,)
        :func:`catchment_areas` of the locations, square metres.
    n_tests : int
        ``m``, the number of discs: the Bonferroni family.
    dispersion : float
        ``phi``, the clumping factor (:func:`split_dispersion` over the discs).
    dispersion_rule : str
        How ``phi`` was found.
    defined : bool
        False when the study area has no area or there is no incident.

    Notes
    -----
    **The question.** Crime in a town is uneven at every scale, and police.uk moves every crime
    to the nearest of a fixed set of anonymous map points, so many incidents share one point
    (Merseyside, January-May 2022: 32,513 violent incidents on 9,464 points). The earlier test
    asked whether a 75 m disc held more incidents than complete spatial randomness over the whole
    force would put in any disc; on real data nearly every hot spot passed (KDE 272 of 320,
    DBSCAN 527 of 527), because a busy district and a stack of incidents on one map point are
    both "improbable under randomness" without being a place that stands out. This test asks
    the user's question instead: is this place busier than its own surroundings, beyond what
    snapping and the town's uneven density would produce?

    **Snapping: catchments.** A map point receives the crimes of the ground nearer to it than to
    any other point (police.uk assigns each crime to the nearest map point), so a point with a
    large catchment collects many incidents even where crime is evenly spread. The exposure of a
    disc is therefore the summed catchment ``A_d`` of the locations in it (their Voronoi cells in
    the study area, :func:`catchment_areas`), not its geometric area; the rings likewise. Under
    the null hypothesis crime has a smooth intensity ``lambda`` at the scale of the rings, and a
    location's count is Poisson with mean ``lambda`` times its catchment. Only locations with an
    incident are seen, so the catchment of a seen map point also holds those of its unseen
    neighbours; where those are many (quiet places) the exposure is overstated and the test
    errs on the safe side. With exact coordinates every incident is its own location and the
    catchments are those of the incidents; the test is then conservative, since a disc's
    catchment grows with its count. Measured on a synthetic town with snapping (below), the same
    test with geometric areas flagged some 200 discs per run; with catchments none.

    **Uneven density: a local, curvature-corrected rate.** The disc's expected rate is taken
    from its own surroundings: ``rho_1 = T_1 / A_1`` over the inner ring (150-450 m) and
    ``rho_2 = T_2 / A_2`` over the outer ring (450-750 m), with ``T`` their incidents and ``A``
    their catchments. The 75-150 m gap keeps a hot spot's own spill-over out of its
    surroundings. A flat rate over a wide ring mistakes the top of a broad bump of crime (a town
    centre) for a hot spot, because the ring reaches down its flanks: at the top of a Gaussian
    bump of 600 m standard deviation a disc is 1.46 times a 150-750 m ring. So, at a local peak
    (``rho_1 > rho_2``), the rate is extrapolated to the disc through a quadratic in the distance
    (``lambda = a + b s^2`` fitted to the rings' mean ``s^2``: ``m_1 = (150^2 + 450^2) / 2``,
    ``m_2 = (450^2 + 750^2) / 2``, the disc's ``m_d = 75^2 / 2``), which is exact for any
    quadratic intensity, since a ring's mean of a linear gradient is zero:
    ``rho = rho_1 + c (rho_1 - rho_2)``, ``c = (m_1 - m_d) / (m_2 - m_1) = 0.406``. In a dip
    (``rho_1 <= rho_2``) the inner ring's rate is used as it is, which errs on the safe side
    (heuristic: never expect less than the nearer ring). ``E = A_d rho``.
    A disc with less catchment in its inner ring than its own (an isolated location) uses both
    rings flat, or the study area's mean rate when they hold less catchment than the disc
    either.

    **Clumping and the estimate's own noise.** The disc's count ``k`` is then compared with a
    negative binomial of mean ``E`` and variance ``V = phi E + A_d^2 Var(rho)``, where ``phi``
    (:func:`split_dispersion`) is measured between odd and even months and ``Var(rho)`` is
    ``phi ((1 + c)^2 (T_1 + 1) / A_1^2 + c^2 (T_2 + 1) / A_2^2)`` (the ``+ 1`` keeps an almost
    empty ring from looking certain). The rings hold 30-100 times the disc's catchment, so their
    noise adds a few percent to ``V``. A gamma-distributed Poisson mean gives exactly a negative
    binomial count (the exact predictive of a flat ring's rate), which is why that family is
    used. The p-value of one disc is ``P(K >= k)``.

    **Many discs.** A hot spot is judged by its most outstanding disc (the smallest p-value
    among the discs centred on locations inside it), and because the detector chose the hot
    spots where the data are densest, that p-value is multiplied by the number of discs in the
    *whole study area* (Bonferroni over every disc that could have been chosen): pure noise
    makes some hot spot significant with probability at most ``alpha``, however the hot spots
    were drawn. This is conservative (neighbouring discs overlap), and deliberately so for a
    label that sends patrols.

    **Measured** (smooth uneven towns as in ``tests/test_profile.py``: 30 % uniform background
    and four broad Gaussian bumps of 600-1500 m over 12 km x 12 km, every incident moved to the
    nearest of 4,000 map points, denser in town; six months; hot spots of
    :class:`~hotspots.kde.KDEHotspots` and :class:`~hotspots.clusters.DBSCANHotspots` with
    default parameters, 20 seeds per size). False positives: 1 run in 20 with a significant hot
    spot at 10k, 40k and 120k incidents each (the same place for KDE and DBSCAN), where the old
    test against complete spatial randomness marked 5-92 KDE and 80-1,118 DBSCAN hot spots in
    every run, and 285 and 721 on uniform crime snapped to 3,000 map points. Planted micro hot
    spots (150-400 extra incidents within 50-100 m, snapped too) were found with recall 1.0,
    0.99 and 0.96-1.0 at 10k, 40k and 120k; spots of 60-150 extra with 0.94-0.96 up to 40k.
    At 120k, KDE's 2 % coverage leaves the weaker ones outside every KDE polygon (recall 0.4),
    which is the detector's choice of area, not the test's. Disc level, 120k incidents: 3.6 %,
    0.74 % and 0.06 % of discs with at least 5 expected incidents fall below p = 0.05, 0.01 and
    0.001; with geometric areas instead of catchments some 200 discs per run were significant
    after Bonferroni, and with a flat 150-750 m ring (no curvature correction) up to 87.
    Merseyside violence January-May 2022 (32,513 incidents on 9,464 map points, ``phi`` 1.08):
    KDE 92 of 320 hot spots significant, DBSCAN 106 of 527 (the old test: 272 and 527).

    References
    ----------
    M. Kulldorff (1997), "A spatial scan statistic", *Communications in Statistics - Theory and
    Methods* 26(6), 1481-1496 (a zone against its surroundings, the maximum over zones).
    A. Okabe, B. Boots, K. Sugihara and S. N. Chiu (2000), *Spatial Tessellations*, 2nd ed.,
    Wiley (Voronoi cells as catchments of the nearest point).
    Police.uk, "About the data: anonymisation" (each crime is mapped to the nearest of a master
    list of anonymous map points).
    A. C. Cameron and P. K. Trivedi (2013), *Regression Analysis of Count Data*, 2nd ed.,
    Cambridge (negative binomial as a gamma mixture of Poisson counts).
    C. E. Bonferroni (1936), "Teoria statistica delle classi e calcolo delle probabilita".
    """

    def __init__(
        self,
        xy: np.ndarray,
        study_area: BaseGeometry,
        *,
        months: Any = None,
        radii: tuple[float, float, float, float] = SURROUNDINGS_RADII,
        distinct: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        r_d, r_gap, r_mid, r_out = (float(v) for v in radii)
        if not 0 < r_d <= r_gap < r_mid < r_out:
            msg = f"radii must satisfy 0 < disc <= gap < middle < outer (metres), got {radii!r}."
            raise ValueError(msg)
        self.radii = (r_d, r_gap, r_mid, r_out)
        #: the discs computed ahead (:meth:`prepare_discs`)
        self._ahead: _DiscsAhead | None = None
        #: the polygons of the last :meth:`places` and its (location, polygon) pairs
        self._last_inside: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]] | None = None
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        n = len(xy)
        if distinct is not None:
            loc, inv, cnt = distinct
        elif n:
            loc, inv, cnt = unique_points(xy, return_inverse=True, return_counts=True)
        else:
            loc, inv, cnt = np.empty((0, 2)), np.empty(0, dtype=np.intp), np.empty(0, np.int64)
        self.locations = loc
        self.inverse = np.asarray(inv).reshape(-1).astype(np.intp)
        self.counts = cnt.astype(float)
        self.n_incidents = n
        self.n_tests = len(loc)
        area = float(study_area.area) if study_area is not None else 0.0
        self.study_area_m2 = area
        self.defined = n > 0 and area > 0
        md, m1, m2 = r_d**2 / 2, (r_gap**2 + r_mid**2) / 2, (r_mid**2 + r_out**2) / 2
        #: the extrapolation factor ``c`` of the curvature correction
        self.curvature_factor = (m1 - md) / (m2 - m1)
        self.dispersion = 1.0
        self.dispersion_rule = "not measured: no months"
        half = _halves(months, n)
        splitting = None
        if half is None:
            if months is not None:
                self.dispersion_rule = "not measured: fewer than two months"
        else:
            ok = half >= 0
            per_half = (
                np.bincount(self.inverse[ok] * 2 + half[ok], minlength=2 * len(loc))
                .reshape(-1, 2)
                .astype(float)
            )
            self._halves = per_half
            if self.defined:
                # the discs' halves do not need the catchments: summed meanwhile
                step = max(1, -(-len(loc) // DISPERSION_SAMPLE))
                sample = np.arange(0, len(loc), step)
                # in one thread: the catchments' thread and the detector's are busy meanwhile
                splitting = in_background(self._ring_sums, sample, per_half, split=False)
        self.catchment = catchment_areas(loc, study_area) if self.defined else np.zeros(len(loc))
        _return_freed_memory()
        if splitting is None:
            return
        sums = splitting.result()
        disc_a, disc_b = sums[:, 0, 0], sums[:, 0, 1]
        win_a, win_b = sums[:, :, 0].sum(axis=1), sums[:, :, 1].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = win_a / (win_a + win_b)
        self.dispersion = split_dispersion(disc_a, disc_b, share)
        self.dispersion_rule = "odd against even months, robust (median), over the discs"

    def __getstate__(self) -> dict[str, Any]:
        """The test without the discs computed ahead (:meth:`prepare_discs`: they hold locks,
        and are computed again when asked) nor the last places' polygons, for pickling and
        copying."""
        state = self.__dict__.copy()
        state["_ahead"] = None
        state["_last_inside"] = None
        return state

    def describe(self) -> dict[str, Any]:
        """The test's parameters and measured values, JSON-serialisable (for a run's record)."""
        r_d, r_gap, r_mid, r_out = self.radii
        return {
            "test": (
                f"the most outstanding {r_d:g} m disc against its surroundings: rings "
                f"{r_gap:g}-{r_mid:g} m and {r_mid:g}-{r_out:g} m, map-point catchments, "
                "curvature-corrected local rate, negative binomial"
            ),
            "multiple_testing": "Bonferroni over every disc of the study area",
            "n_discs": int(self.n_tests),
            "dispersion_phi": round(float(self.dispersion), 4),
            "dispersion_rule": self.dispersion_rule,
        }

    def _ring_sums(
        self,
        centres: np.ndarray,
        values: np.ndarray,
        *,
        split: bool = True,
        rings: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        """(len(centres), 3, k) sums of ``values`` (m, k) over each disc, inner and outer ring.

        A location at distance ``d = hypot(dx, dy)`` from the centre is in the disc when
        ``d <= r``, in the inner ring when ``gap < d <= middle`` and in the outer ring when
        ``middle < d <= outer`` (see :class:`_DiscSums` for how, without listing every pair).
        With ``split``, half of the centres are summed on another thread (every centre's sums
        are its own, whatever the others: :meth:`_rings`). ``rings``: ``self._rings(values)``
        when the caller has it.
        """
        centres = np.asarray(centres, dtype=np.intp)
        values = np.asarray(values, dtype=float)
        if self.n_tests == 0 or len(centres) == 0:
            return np.zeros((len(centres), 3, values.shape[1]))
        if rings is None:
            rings = self._rings(values)
        if not split:
            return rings(centres)
        half = len(centres) // 2
        other = in_background(rings, centres[half:])
        first = rings(centres[:half])
        return np.concatenate([first, other.result()])

    def _rings(self, values: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """``centres -> (len(centres), 3, k)``: :meth:`_ring_sums` of ``values`` (m, k) in the
        calling thread, its tables built once here (safe to call from several threads at once;
        each centre's sums are the same bits whichever centres are summed with it)."""
        values = np.asarray(values, dtype=float)
        k = values.shape[1]
        exact = _exact_columns(values)
        # an empty ring must sum to exactly 0: exact columns do by themselves; for the others,
        # a column of whole numbers >= 1 (else a column of ones) tells an empty ring
        marker = np.flatnonzero(exact & (values >= 1).all(axis=0))
        if exact.all():
            both, mark = values, None
        elif len(marker):
            both, mark = values, int(marker[0])
        else:
            both, mark = np.column_stack([values, np.ones(len(values))]), k
        density = _location_density(self.locations, self.radii[3])
        strips: dict[float, _DiscSums] = {}
        for r in self.radii:  # one sorted table per strip height (the same for most radii)
            h = _strip_height(r, density)
            if h not in strips:
                strips[h] = _DiscSums(self.locations, both, h, self.radii[3])
        tables = [strips[_strip_height(r, density)] for r in self.radii]

        def rings(centres: np.ndarray) -> np.ndarray:
            centres = np.asarray(centres, dtype=np.intp)
            disc, gap, mid, outer = (
                t.sums(centres, r) for t, r in zip(tables, self.radii, strict=True)
            )
            out = np.zeros((len(centres), 3, k))
            out[:, 0] = disc[:, :k]
            for j, (a, b) in enumerate(((gap, mid), (mid, outer)), start=1):
                ring = b[:, :k] - a[:, :k]
                if mark is not None:
                    ring[b[:, mark] == a[:, mark]] = 0.0
                out[:, j] = ring
            return out

        return rings

    def discs(self, centres: np.ndarray | None = None) -> DiscTest:
        """The test of the discs centred on ``centres`` (indices into :attr:`locations`).

        Parameters
        ----------
        centres : int array, optional
            Default: every location.

        Returns
        -------
        DiscTest
            NaN expected values and p-values when the test is undefined (see ``defined``).
            The discs among those of :meth:`prepare_discs` are taken from there (the same
            bits: each disc's test is its own).
        """
        idx = np.arange(self.n_tests) if centres is None else np.asarray(centres, dtype=np.intp)
        k_n = len(idx)
        if not self.defined:
            nan = np.full(k_n, np.nan)
            return DiscTest(np.zeros(k_n), nan, nan.copy(), nan.copy())
        ahead = self._ahead
        if ahead is None or k_n == 0:
            return self._disc_test(self._ring_sums(idx, self._disc_values()))
        known, have = ahead.take(idx)
        if have.all():
            return known
        # the others on the tables built for those (not sorted again)
        rest = self._disc_test(
            self._ring_sums(idx[~have], self._disc_values(), rings=ahead.rings())
        )
        fields = []
        for a, b in zip(_disc_fields(known), _disc_fields(rest), strict=True):
            both = np.empty(k_n)
            both[have], both[~have] = a[have], b
            fields.append(both)
        return DiscTest(*fields)

    def prepare_discs(self, centres: np.ndarray) -> None:
        """Compute the tests of the discs centred on ``centres`` now, in the calling thread, for
        :meth:`discs` and :meth:`places` to take later.

        A call of :meth:`discs` (or :meth:`places`) made meanwhile shares the work that is left,
        chunk by chunk, and waits for the rest; discs not among ``centres`` are computed when
        asked, as without this call. Each disc's test is its own, so the results are the same
        bits either way. A later call replaces the discs kept.

        Parameters
        ----------
        centres : int array
            Indices into :attr:`locations`, e.g. the locations that may lie in the hot spots
            (:meth:`hotspots.grid.DensitySurface.may_be_in_contours`).
        """
        if not self.defined:
            return
        ahead = _DiscsAhead(self, centres)
        self._ahead = ahead
        ahead.work()

    def _disc_values(self) -> np.ndarray:
        """The values summed over the discs and rings: counts and catchments, (m, 2)."""
        return np.column_stack([self.counts, self.catchment])

    def _disc_test(self, sums: np.ndarray) -> DiscTest:
        """:meth:`discs` from the discs' :meth:`_ring_sums` of :meth:`_disc_values`."""
        k, t1, t2 = sums[:, 0, 0], sums[:, 1, 0], sums[:, 2, 0]
        a_d, a1, a2 = sums[:, 0, 1], sums[:, 1, 1], sums[:, 2, 1]
        c = self.curvature_factor
        phi = self.dispersion
        with np.errstate(divide="ignore", invalid="ignore"):
            rho1 = t1 / a1
            rho2 = np.where(a2 > 0, t2 / a2, rho1)
            peak = rho1 > rho2
            rho = np.where(peak, rho1 + c * (rho1 - rho2), rho1)
            var_rho = np.where(
                peak,
                (1 + c) ** 2 * (t1 + 1) / a1**2 + np.where(a2 > 0, c**2 * (t2 + 1) / a2**2, 0.0),
                (t1 + 1) / a1**2,
            )
            # an isolated disc: both rings flat, else the study area's mean rate
            both = a1 + a2
            flat = ~(a1 >= a_d) & (both >= a_d)
            rho = np.where(flat, (t1 + t2) / both, rho)
            var_rho = np.where(flat, (t1 + t2 + 1) / both**2, var_rho)
            alone = ~(a1 >= a_d) & ~(both >= a_d)
            rho = np.where(alone, self.n_incidents / self.study_area_m2, rho)
            var_rho = np.where(alone, 0.0, var_rho)
        expected = a_d * rho
        variance = phi * expected + a_d**2 * phi * var_rho
        return DiscTest(k, expected, variance, nbinom_tail(k, expected, variance))

    def locations_in(self, geoms: Any) -> tuple[np.ndarray, np.ndarray]:
        """``points_in_polygons(self.locations, geoms)``, taken from the last :meth:`places`
        when that was asked for the same polygon objects, in any order (a detector's polygons,
        then its sorted hot spots: DBSCAN's 14,981 national ones, 0.25 s each time).

        Parameters
        ----------
        geoms : array or GeoSeries of shapely geometries

        Returns
        -------
        point_idx, poly_idx : numpy.ndarray of int64
            As :func:`points_in_polygons`: the same pairs, sorted by location, then polygon.
        """
        g = np.asarray(getattr(geoms, "values", geoms), dtype=object)
        last = self._last_inside
        if last is None or not len(g) or any(x is None for x in g):
            return points_in_polygons(self.locations, g)
        known, (loc_i, poly_i) = last
        at = {id(x): i for i, x in enumerate(known) if x is not None}
        old = np.array([at.get(id(x), -1) for x in g], dtype=np.intp)
        if (old < 0).any() or len(np.unique(old)) != len(old):
            return points_in_polygons(self.locations, g)
        new_of = np.full(len(known), -1, dtype=np.int64)
        new_of[old] = np.arange(len(g))
        keep = new_of[poly_i] >= 0
        loc, poly = loc_i[keep], new_of[poly_i[keep]]
        by = np.lexsort((poly, loc))
        return loc[by].astype(np.int64), poly[by]

    def places(
        self, geoms: Any, *, inside: tuple[np.ndarray, np.ndarray] | None = None
    ) -> PlaceTest:
        """The test of each polygon: its most outstanding disc, Bonferroni-adjusted.

        Parameters
        ----------
        geoms : array or GeoSeries of shapely geometries
            Hot spot polygons in the analysis CRS. Each is judged by the discs centred on the
            locations inside it (or on its edge).
        inside : (location index, polygon index) arrays, optional
            ``points_in_polygons(self.locations, geoms)`` when the caller has it already.

        Returns
        -------
        PlaceTest
        """
        g = np.asarray(getattr(geoms, "values", geoms), dtype=object)
        k = len(g)
        count = np.zeros(k)
        expected = np.full(k, np.nan)
        p = np.full(k, np.nan if not self.defined else 1.0)
        centre = np.full(k, -1, dtype=np.intp)
        if k == 0 or self.n_tests == 0:
            return PlaceTest(count, expected, p, centre)
        if inside is None:
            inside = points_in_polygons(self.locations, g)
            self._last_inside = (g.copy(), inside)  # the caller's array may change
        loc_i, poly_i = inside
        if len(loc_i) == 0:
            return PlaceTest(count, expected, p, centre)
        used, pos = np.unique(loc_i, return_inverse=True)
        res = self.discs(used)
        disc_p = res.p_value[pos.ravel()]
        # per polygon, the disc with the smallest p-value (ties: the larger count)
        order = np.lexsort((-res.count[pos.ravel()], disc_p, poly_i))
        first = np.unique(poly_i[order], return_index=True)[1]
        best = order[first]
        polys = poly_i[best]
        which = pos.ravel()[best]
        count[polys] = res.count[which]
        expected[polys] = res.expected[which]
        centre[polys] = used[which]
        if self.defined:
            p[polys] = np.minimum(1.0, self.n_tests * res.p_value[which])
        return PlaceTest(count, expected, p, centre)


def _disc_fields(test: DiscTest) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays of a :class:`DiscTest`, in its field order."""
    return test.count, test.expected, test.variance, test.p_value


#: Discs per chunk of :meth:`SurroundingsTest.prepare_discs` at least (a chunk is what one
#: thread takes at a time; fewer than this and the per-call work of the sums shows).
_AHEAD_MIN_CHUNK = 1024
#: ... and at most this many chunks, so a thread that asks late still finds some to share.
_AHEAD_CHUNKS = 32


class _DiscsAhead:
    """The tests of some discs, computed chunk by chunk by whichever threads ask.

    :meth:`work` takes chunks not yet taken until none is left; :meth:`result` does the same,
    then waits for the chunks other threads took. The ring tables are built once, by the first
    thread to need them.
    """

    def __init__(self, test: SurroundingsTest, centres: np.ndarray) -> None:
        self.test = test
        self.centres = np.unique(np.asarray(centres, dtype=np.intp).reshape(-1))
        n = len(self.centres)
        size = max(_AHEAD_MIN_CHUNK, -(-n // _AHEAD_CHUNKS))
        self._bounds = [*range(0, n, size), n]
        n_chunks = len(self._bounds) - 1
        self._lock = threading.Lock()
        self._tables_lock = threading.Lock()
        self._rings: Callable[[np.ndarray], np.ndarray] | None = None
        self._next = 0
        self._parts: list[DiscTest | None] = [None] * n_chunks
        self._done = [threading.Event() for _ in range(n_chunks)]
        self._failed: BaseException | None = None
        self._whole: DiscTest | None = None

    def rings(self) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`SurroundingsTest._rings` of the discs' values, built once, by the first
        thread to need it (any centres: the same bits as tables of their own)."""
        with self._tables_lock:
            if self._rings is None:
                self._rings = self.test._rings(self.test._disc_values())
            return self._rings

    def work(self) -> None:
        """Compute the chunks no thread has taken yet."""
        while True:
            with self._lock:
                k = self._next
                if k >= len(self._done):
                    return
                self._next += 1
            try:
                part = self.centres[self._bounds[k] : self._bounds[k + 1]]
                self._parts[k] = self.test._disc_test(self.rings()(part))
            except BaseException as exc:  # handed to the threads that wait for the result
                self._failed = exc
            finally:
                self._done[k].set()

    def result(self) -> DiscTest:
        """Every disc's test, in the order of :attr:`centres` (shares the work left)."""
        self.work()
        for done in self._done:
            done.wait()
        if self._failed is not None:
            raise self._failed
        with self._lock:
            if self._whole is None:
                parts = [_disc_fields(p) for p in self._parts if p is not None]
                self._whole = DiscTest(
                    *(
                        np.concatenate([p[f] for p in parts]) if parts else np.empty(0)
                        for f in range(4)
                    )
                )
            return self._whole

    def take(self, centres: np.ndarray) -> tuple[DiscTest, np.ndarray]:
        """The tests of ``centres`` among :attr:`centres` (anything elsewhere) and which are."""
        whole = self.result()
        pos = np.minimum(np.searchsorted(self.centres, centres), max(len(self.centres) - 1, 0))
        have = self.centres[pos] == centres if len(self.centres) else np.zeros(len(centres), bool)
        if not len(self.centres):
            return DiscTest(*(np.zeros(len(centres)) for _ in range(4))), have
        return DiscTest(*(a[pos] for a in _disc_fields(whole))), have


def _compensated_prefix(values: np.ndarray, exact: np.ndarray | None = None) -> np.ndarray:
    """Prefix sums of the columns of ``values`` (n, k), with their rounding errors.

    Row ``i`` holds ``sum(values[:i])`` in float64 (columns ``:k``) and, for each column not
    marked ``exact``, what that float sum lost to rounding (the next columns, in column order;
    each step's error found exactly by Knuth's two-sum), so the sum of any run
    ``values[a:b]`` is ``P[b] - P[a]`` of both parts added, as exact as a direct sum of the run
    however large the total before it. An ``exact`` column (whole numbers whose sum of
    magnitudes is below 2**53, see :func:`_exact_columns`) loses nothing: its float sums are
    exact. Default: no column exact, shape (n + 1, 2k).
    """
    n, k = values.shape
    hi = np.zeros((n + 1, k))
    np.cumsum(values, axis=0, out=hi[1:])
    inexact = np.ones(k, dtype=bool) if exact is None else ~np.asarray(exact, dtype=bool)
    f = np.flatnonzero(inexact)
    before, after = hi[:-1, f], hi[1:, f]
    took = after - before
    error = (before - (after - took)) + (values[:, f] - took)
    lo = np.zeros((n + 1, len(f)))
    np.cumsum(error, axis=0, out=lo[1:])
    return np.concatenate([hi, lo], axis=1)


def _exact_columns(values: np.ndarray) -> np.ndarray:
    """Per column of ``values`` (n, k): whole numbers whose magnitudes sum below 2**53, so
    every float sum of some of them, in any order, is exact."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        whole = (v == np.floor(v)).all(axis=0)
        small = np.abs(v).sum(axis=0) < 2.0**53
    return whole & small


class _DiscSums:
    """Sums of values over the locations within a radius of some of them, without listing pairs.

    The locations are cut into horizontal strips of height ``g`` and sorted by strip, then x,
    with prefix sums of their values in that order (:func:`_compensated_prefix`). For a centre
    and a strip, the locations sure to be within ``radius`` (whatever their height in the strip)
    are one run of that order, found by binary search and summed from the prefix sums; the
    locations that may be within it are two short runs beside it, tested one by one with
    ``hypot(dx, dy) <= radius``, as a direct search would. Both sure ranges are shrunk (and the
    candidate ranges widened) by :data:`_STRIP_MARGIN`, so rounding in the search keys never
    decides a location: the result is that of the direct test of every pair.

    Work per centre is about ``2 radius / g`` binary searches plus the locations in a band of
    area ``4 radius g`` round the circle, instead of every location in the disc; ``g`` is
    ``sqrt(2 / density)`` (a few candidates per strip edge, which balances the two), between
    10 m and ``radius``.

    Parameters
    ----------
    locations : array of shape (m, 2)
        Metres, analysis CRS.
    values : array of shape (m, k)
        Summed per location.
    height : float
        Strip height ``g`` in metres (:func:`_strip_height`).
    max_radius : float
        The largest radius :meth:`sums` will be asked for, metres.
    """

    def __init__(
        self, locations: np.ndarray, values: np.ndarray, height: float, max_radius: float
    ) -> None:
        loc = np.asarray(locations, dtype=float)
        self.locations = loc
        self.height = float(height)
        self.x0, self.y0 = float(loc[:, 0].min()), float(loc[:, 1].min())
        strip = np.floor((loc[:, 1] - self.y0) / self.height)
        order = np.lexsort((loc[:, 0], strip))
        self.xy = loc[order]
        #: the locations as ``x + iy``: ``abs(z - c)`` is ``hypot(dx, dy)``, one gather a pair
        self.z = self.xy[:, 0] + 1j * self.xy[:, 1]
        self.values = np.asarray(values, dtype=float)[order]
        exact = _exact_columns(self.values)
        #: the columns whose prefix sums carry their rounding errors (the rest are exact)
        self.inexact = np.flatnonzero(~exact)
        self.prefix = _compensated_prefix(self.values, exact)
        # one sorted key per location: strip * width + x, each strip clear of the next one's
        # keys even for a query one radius beyond its extreme locations
        self.width = float(loc[:, 0].max() - self.x0) + 2 * float(max_radius) + 1.0
        self.key = strip[order] * self.width + (self.xy[:, 0] - self.x0)

    def sums(self, centres: np.ndarray, radius: float) -> np.ndarray:
        """(len(centres), k) sums over the locations with ``hypot(dx, dy) <= radius`` (metres)."""
        loc, radius = self.locations, float(radius)
        c_xy = loc[centres]
        strip = np.floor((c_xy[:, 1] - self.y0) / self.height)
        # centres in key order, so each strip offset's searches run along the sorted keys
        sort = np.lexsort((c_xy[:, 0], strip))
        reach = int(radius // self.height) + 1
        n_off = 2 * reach + 1
        block = max(1, _DISC_SUM_BLOCK // n_off)
        out = np.empty((len(centres), self.values.shape[1]))
        for s in range(0, len(sort), block):
            part = sort[s : s + block]
            out[part] = self._block(c_xy[part], strip[part], radius, reach)
        return out

    def _block(self, c_xy: np.ndarray, strip: np.ndarray, radius: float, reach: int) -> np.ndarray:
        g, margin, k = self.height, _STRIP_MARGIN, self.values.shape[1]
        n_c = len(c_xy)
        offset = np.arange(-reach, reach + 1, dtype=float)[:, None]
        inside = c_xy[:, 1] - self.y0 - strip * g  # the centre's height in its strip, [0, g)
        below = offset * g - inside[None, :] - margin  # strip's bottom - centre's y (widened)
        above = below + (g + 2 * margin)
        far = np.maximum(np.abs(below), np.abs(above))
        near = np.where((below <= 0) & (above >= 0), 0.0, np.minimum(np.abs(below), np.abs(above)))
        r2 = radius * radius
        w_out = np.sqrt(np.maximum(r2 - near * near, 0.0)) + margin
        w_out[near > radius] = -1.0
        w_in = np.sqrt(np.maximum(r2 - far * far, 0.0)) - margin
        base = ((strip[None, :] + offset) * self.width + (c_xy[None, :, 0] - self.x0)).ravel()
        w_out, w_in = w_out.ravel(), w_in.ravel()
        key = self.key
        # only the strips the circle reaches are searched, and their sure runs only where the
        # circle spans the whole strip
        live = np.flatnonzero(w_out >= 0)
        base, w_out, w_in = base[live], w_out[live], w_in[live]
        lo_out = np.searchsorted(key, base - w_out, "left")
        hi_out = np.searchsorted(key, base + w_out, "right")
        lo_in, hi_in = hi_out.copy(), hi_out.copy()
        sure = np.flatnonzero(w_in > 0)
        # w_in < w_out, so the sure run lies within the candidate range: its ends are counted
        # from the range's ends (a binary search of every key costs more than a few steps)
        lo_in[sure] = _search_after(key, lo_out[sure], base[sure] - w_in[sure])
        hi_in[sure] = _search_before(key, hi_out[sure], base[sure] + w_in[sure])
        lo_in = np.clip(lo_in, lo_out, hi_out)
        hi_in = np.clip(hi_in, lo_in, hi_out)
        run = self.prefix[hi_in] - self.prefix[lo_in]
        run[:, self.inexact] += run[:, k:]  # each run's sum and what its rounding lost
        # summed over the strips, strip by strip (``live`` runs strip-major)
        row = live % n_c
        out = np.empty((n_c, k))
        for j in range(k):
            out[:, j] = np.bincount(row, weights=run[:, j], minlength=n_c)
        # the candidates beside the sure run: [lo_out, lo_in) and [hi_in, hi_out)
        starts = np.r_[lo_out, hi_in]
        lens = np.r_[lo_in - lo_out, hi_out - hi_in]
        keep = np.flatnonzero(lens > 0)
        if len(keep):
            starts, lens = starts[keep], lens[keep]
            row = np.repeat(live[keep % len(live)] % n_c, lens)
            idx = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens - starts, lens)
            centre = c_xy[:, 0] + 1j * c_xy[:, 1]
            hit = np.abs(self.z[idx] - centre[row]) <= radius
            row, idx = row[hit], idx[hit]
            for j in range(k):
                out[:, j] += np.bincount(row, weights=self.values[idx, j], minlength=n_c)
        return out


def _search_after(key: np.ndarray, start: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``np.searchsorted(key, target, "left")`` where it is known to be at least ``start``.

    The keys below each target among the :data:`_SEARCH_WINDOW` from ``start`` on are counted;
    only where they all are is the target searched for in the whole of ``key`` (sorted,
    non-empty). The same indices as the search.
    """
    last = len(key) - 1
    count = np.zeros(len(start), dtype=np.intp)
    for j in range(_SEARCH_WINDOW):
        count += key.take(np.minimum(start + j, last)) < target
    found = start + count
    beyond = np.flatnonzero(count == _SEARCH_WINDOW)
    if len(beyond):
        found[beyond] = np.searchsorted(key, target[beyond], "left")
    return found


def _search_before(key: np.ndarray, stop: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``np.searchsorted(key, target, "right")`` where it is known to be at most ``stop``:
    :func:`_search_after` from the other end (the keys above each target among the
    :data:`_SEARCH_WINDOW` before ``stop``)."""
    count = np.zeros(len(stop), dtype=np.intp)
    for j in range(1, _SEARCH_WINDOW + 1):
        count += key.take(np.maximum(stop - j, 0)) > target
    found = stop - count
    beyond = np.flatnonzero(count == _SEARCH_WINDOW)
    if len(beyond):
        found[beyond] = np.searchsorted(key, target[beyond], "right")
    return found


def _strip_height(radius: float, density: float) -> float:
    """Strip height of :class:`_DiscSums` for a radius (metres) among locations of this density
    (per square metre): ``sqrt(2 / density)``, between 10 m (or the radius) and the radius."""
    root = math.sqrt(2.0 / density) if density > 0 else float(radius)
    return float(np.clip(root, min(10.0, radius), radius))


def _location_density(locations: np.ndarray, side: float) -> float:
    """Locations per square metre round a typical location: in squares of ``side`` metres, the
    mean over locations of their square's count, over its area."""
    cell = np.floor((locations - locations.min(axis=0)) / side).astype(np.int64)
    n = np.unique(cell[:, 0] * (int(cell[:, 1].max()) + 1) + cell[:, 1], return_counts=True)[1]
    return float((n.astype(float) ** 2).sum() / n.sum()) / (side * side)


def in_background(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> Future[_T]:
    """Run ``fn(*args, **kwargs)`` in a thread of its own; its result (or error) comes from
    ``.result()``. For the independent steps of a run that spend their time in NumPy, SciPy
    and GEOS, which release the GIL, so two cores share them."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotspots")
    future = executor.submit(fn, *args, **kwargs)
    executor.shutdown(wait=False)
    return future


def start_surroundings_test(
    xy: np.ndarray,
    study_area: BaseGeometry | None,
    *,
    months: Any = None,
    distinct: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    centres: Future[Callable[[np.ndarray], np.ndarray] | None] | None = None,
) -> Future[SurroundingsTest]:
    """``SurroundingsTest(xy, study_area, months=months, distinct=distinct)`` built in a
    background thread.

    The detector runs meanwhile; ``.result()`` waits for the test. The thread works on its own
    copies of the coordinates, the study area, ``months`` and ``distinct``.

    Parameters
    ----------
    xy, study_area, months, distinct
        As :class:`SurroundingsTest`.
    centres : Future, optional
        Resolved by the caller (it must be, even when it fails: with None) to a function that
        picks, from the test's :attr:`~SurroundingsTest.locations` (m, 2), the ones whose discs
        will be asked for (a boolean mask), or to None. Once built, the test waits for it and
        then computes those discs in its thread (:meth:`SurroundingsTest.prepare_discs`); the
        test is handed over before that, so a caller asking for the discs meanwhile shares the
        work.
    """
    area = None if study_area is None else shapely.from_wkb(shapely.to_wkb(study_area))
    month_values = None if months is None else np.asarray(months).copy()
    own: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    if distinct is not None:
        own = (np.array(distinct[0]), np.array(distinct[1]), np.array(distinct[2]))
    own_xy = np.asarray(xy, dtype=float).copy()
    if centres is None:
        return in_background(SurroundingsTest, own_xy, area, months=month_values, distinct=own)
    built: Future[SurroundingsTest] = Future()

    def build() -> None:
        try:
            test = SurroundingsTest(own_xy, area, months=month_values, distinct=own)
            pick = centres.result()
            ahead = None
            if pick is not None and test.defined:
                ahead = _DiscsAhead(test, np.flatnonzero(pick(test.locations)))
                test._ahead = ahead
        except BaseException as exc:
            built.set_exception(exc)
            return
        built.set_result(test)
        if ahead is not None:
            ahead.work()

    in_background(build)
    return built


def _halves(months: Any, n: int) -> np.ndarray | None:
    """0 (even month) or 1 (odd month) per incident, -1 when unknown; None under two months."""
    if months is None or n == 0:
        return None
    m = pd.DatetimeIndex(pd.to_datetime(np.asarray(months).reshape(-1)))
    if len(m) != n:
        msg = f"months must have one entry per incident ({n}), got {len(m)}."
        raise ValueError(msg)
    ok = ~m.isna()
    if m.tz is not None:
        m = m.tz_localize(None)  # the wall-clock month, as ``m.month`` reads it
    stamps = m.to_numpy()
    seen = stamps[ok]
    if not len(seen) or (seen == seen[0]).all():
        return None
    # months since January 1970: (year * 12 + month) % 2 == (that + 1) % 2, as 12 is even
    number = stamps.astype("datetime64[M]").astype(np.int64)
    return np.where(ok, (number + 1) % 2, -1).astype(np.intp)


def nbinom_tail(k: Any, mean: Any, var: Any, *, upper: bool = True) -> np.ndarray:
    """Tail of a count with this mean and variance: negative binomial, or Poisson if var <= mean.

    Parameters
    ----------
    k : array-like of float
        Observed counts (rounded up).
    mean, var : array-like of float
        Mean and variance of the count under the null.
    upper : bool, default True
        ``P(K >= k)`` when True, ``P(K <= k)`` when False.

    Returns
    -------
    numpy.ndarray of float
        The tail probability; 1 where ``mean`` is 0 (or ``k`` is 0 for the upper tail), NaN
        where ``mean`` is not finite.

    Examples
    --------
    A count of 10 where 4 are expected: Poisson, then twice the Poisson variance.

    >>> nbinom_tail([10], [4.0], [4.0]).round(5).tolist()
    [0.00813]
    >>> nbinom_tail([10], [4.0], [8.0]).round(4).tolist()
    [0.0461]
    """
    k = np.ceil(np.atleast_1d(np.asarray(k, dtype=float)))
    mean = np.broadcast_to(np.asarray(mean, dtype=float), k.shape)
    var = np.broadcast_to(np.asarray(var, dtype=float), k.shape)
    p = np.ones(k.shape)
    live = np.isfinite(mean) & (mean > 0) & ((k > 0) if upper else np.ones(k.shape, bool))
    nb = live & (var > mean * (1 + 1e-9))
    with np.errstate(divide="ignore", invalid="ignore"):
        size = mean**2 / (var - mean)
        prob = mean / var
    po = live & ~nb
    if upper:
        p[nb] = stats.nbinom.sf(k[nb] - 1, size[nb], prob[nb])
        p[po] = stats.poisson.sf(k[po] - 1, mean[po])
    else:
        p[nb] = stats.nbinom.cdf(k[nb], size[nb], prob[nb])
        p[po] = stats.poisson.cdf(k[po], mean[po])
    p[~np.isfinite(mean)] = np.nan
    return np.minimum(p, 1.0)


# --------------------------------------------------------------------------------------------
# Complete spatial randomness: the tail test of a disc centred on an incident
# --------------------------------------------------------------------------------------------


def csr_lambda(n: int, area_m2: float, radius: float) -> float:
    """Expected number of *other* incidents in a disc centred on an incident, under CSR.

    Parameters
    ----------
    n : int
        Number of incidents (N).
    area_m2 : float
        Study area in square metres (A, analysis CRS).
    radius : float
        Disc radius in metres.

    Returns
    -------
    float
        ``lam = (N - 1) * pi * radius**2 / A``: each of the other ``N - 1`` incidents falls in the
        disc with probability ``pi radius^2 / A`` under complete spatial randomness (less near the
        edge of the study area, which only makes the test conservative).

    Examples
    --------
    >>> round(csr_lambda(2000, 12_000.0**2, 75.0), 4)
    0.2453
    """
    return (n - 1) * math.pi * radius * radius / area_m2


def csr_p_value(count: float, n: int, lam: float) -> float:
    """Bonferroni p-value of a disc centred on an incident that holds ``count`` incidents.

    Parameters
    ----------
    count : float
        Incidents in the disc, its centre incident included (rounded up to a whole number).
    n : int
        Number of incidents: the number of discs tested (one per incident).
    lam : float
        Expected number of *other* incidents in one disc, :func:`csr_lambda`.

    Returns
    -------
    float
        ``min(1, n * P(1 + Poisson(lam) >= count))`` (the ``1 +`` is the centre incident itself);
        NaN when ``lam`` or ``count`` is not finite or ``n < 1``.

    Notes
    -----
    Under CSR the number of other incidents in one incident's disc is Binomial(N - 1, p); its
    upper tail beyond the mean is bounded by the Poisson tail of the same mean (Anderson & Samuels
    1967), and the union (Bonferroni) bound over the N discs makes the result a family-wise
    p-value: the chance that pure noise puts ``count`` or more incidents in *any* disc is at most
    this value.

    References
    ----------
    T. W. Anderson and S. M. Samuels (1967), "Some inequalities among binomial and Poisson
    probabilities", *Proc. Fifth Berkeley Symp. Math. Statist. Prob.* 1, 1-12.

    Examples
    --------
    2,000 incidents over 144 km², 75 m discs (``lam`` = 0.245): a disc with 6 incidents.

    >>> lam = csr_lambda(2000, 12_000.0**2, 75.0)
    >>> f"{csr_p_value(6, 2000, lam):.2e}"
    '1.21e-02'
    """
    if not (np.isfinite(lam) and np.isfinite(count)) or n < 1:
        return float("nan")
    tail = float(stats.poisson.sf(math.ceil(count) - 2, lam))  # P(X >= count - 1)
    return min(1.0, n * tail)


# --------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------------


def tarone_family(min_p: np.ndarray, alpha: float) -> np.ndarray:
    """Which tests can be significant at all, by Tarone's rule for the false discovery rate.

    Discrete tests (binomial counts) have a least attainable p-value; one that can never reach
    the level only weakens the others in a Benjamini-Hochberg family (Tarone 1990, Biometrics
    46, 515-522, doi:10.2307/2531456; Gilbert 2005, JRSS C 54, 143-158).

    The smallest ``K`` with at most ``K`` tests whose least attainable p-value is at most
    ``alpha / K``; those tests are the family (Tarone 1990; Gilbert 2005's modified FDR).

    Parameters
    ----------
    min_p : numpy.ndarray of float
        Each test's least attainable p-value.
    alpha : float

    Returns
    -------
    numpy.ndarray of bool
    """
    m = len(min_p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    sorted_p = np.sort(min_p)
    ks = np.arange(1, m + 1)
    # M(K) = #{i : min_p_i <= alpha / K}, non-increasing in K; the first K with M(K) <= K.
    m_of_k = np.searchsorted(sorted_p, alpha / ks, side="right")
    k = int(ks[np.argmax(m_of_k <= ks)]) if np.any(m_of_k <= ks) else m
    return min_p <= alpha / k


def benjamini_hochberg(p: np.ndarray, p_block: float | None = None, n_block: int = 0) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order of ``p``.

    Parameters
    ----------
    p : array-like of float, shape (m,)
        p-values.
    p_block : float, optional
        A p-value shared by ``n_block`` further tests of the same family that are not listed (the
        empty cells of a sparse grid, which all have the same local sum).
    n_block : int, default 0
        How many such tests.

    Returns
    -------
    numpy.ndarray of float, shape (m,)
        ``q_(i) = min_{k >= i} min(1, p_(k) N / k)`` over the ``N = m + n_block`` p-values sorted
        ascending, returned for the ``m`` listed tests only. A test is a discovery at false
        discovery rate ``alpha`` when its q-value is at most ``alpha``.

    Notes
    -----
    With a block, the result equals ``benjamini_hochberg(np.r_[p, np.full(n_block, p_block)])[:m]``
    without building the block: a run of tied p-values at ranks ``a+1 .. a+r`` only ever
    contributes its last ``p N / (a + r)`` to the step-up minimum. Listed p-values tied with the
    block are ranked before it.

    References
    ----------
    Y. Benjamini and Y. Hochberg (1995), "Controlling the false discovery rate: a practical and
    powerful approach to multiple testing", *J. R. Statist. Soc. B* 57(1), 289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    >>> benjamini_hochberg([0.01], p_block=0.5, n_block=3).tolist()
    [0.04]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if p_block is None or n_block <= 0:
        if m == 0:
            return p
        order = np.argsort(p)
        ranked = p[order] * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(q, 1.0)
        return out
    big_n = m + n_block
    order = np.argsort(p)
    ps = p[order]
    a = int(np.searchsorted(ps, p_block, side="right"))  # explicit ties go before the block
    rank = np.arange(1, m + 1)
    rank[a:] += n_block
    vals = np.r_[ps[:a], p_block, ps[a:]]
    ranks = np.r_[rank[:a], a + n_block, rank[a:]]
    ranked = vals * big_n / ranks
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.r_[q[:a], q[a + 1 :]]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


# --------------------------------------------------------------------------------------------
# Mann-Kendall
# --------------------------------------------------------------------------------------------


class MannKendall(NamedTuple):
    """Mann-Kendall trend test results (arrays, one entry per series; floats for one series)."""

    s: np.ndarray | float
    var_s: np.ndarray | float
    z: np.ndarray | float
    p_value: np.ndarray | float
    tau: np.ndarray | float


def mann_kendall(x: np.ndarray) -> MannKendall:
    """Mann-Kendall trend test with the normal approximation and the tie correction.

    Parameters
    ----------
    x : array of shape (n,) or (m, n)
        One series, or ``m`` series of equal length ``n`` (rows), in time order.

    Returns
    -------
    MannKendall
        ``s`` = sum over ``i < j`` of ``sign(x_j - x_i)``; ``var_s`` =
        ``(n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over groups of ``t`` tied values;
        ``z`` = ``(s - 1) / sqrt(var_s)`` if ``s > 0``, ``(s + 1) / sqrt(var_s)`` if ``s < 0``,
        else 0 (continuity correction); ``p_value`` two-sided, ``2 (1 - Phi(|z|))``; ``tau`` =
        Kendall's tau-b between time and ``x``, ``s / sqrt(n0 (n0 - n1))`` with
        ``n0 = n(n-1)/2`` and ``n1 = sum_t t(t-1)/2``. A constant series has ``z = 0``,
        ``p = 1`` and ``tau = 0``. Scalars for a 1-D input.

    Notes
    -----
    The normal approximation is the one ArcGIS's Emerging Hot Spot Analysis uses; it is rough
    below about 10 values.

    References
    ----------
    H. B. Mann (1945), "Nonparametric tests against trend", *Econometrica* 13(3), 245-259.
    M. G. Kendall (1975), *Rank Correlation Methods*, 4th ed., Griffin (variance with ties).

    Examples
    --------
    >>> mk = mann_kendall([1, 2, 2, 3, 1])
    >>> mk.s, round(mk.var_s, 4)
    (2.0, 14.6667)
    """
    arr = np.asarray(x, dtype=float)
    one = arr.ndim == 1
    a = np.atleast_2d(arr)
    m, n = a.shape
    s, tied, sq = _mann_kendall_sums(a)
    # sum over tie groups of t^2 is sum_k c_k, of t^3 is sum_k c_k^2 (c_k: size of k's group)
    ties = 2 * sq + 3 * tied - 5 * n  # = sum_t t(t-1)(2t+5)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    root = np.sqrt(np.maximum(var_s, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
        n0 = n * (n - 1) / 2.0
        n1 = (tied - n) / 2.0
        den = np.sqrt(n0 * (n0 - n1))
        tau = np.where(den > 0, s / den, 0.0)
    z = np.where(root > 0, z, 0.0)
    p = np.minimum(1.0, 2 * stats.norm.sf(np.abs(z)))
    columns = (s, var_s, z, p, tau)
    if one:
        return MannKendall(*(float(v[0]) for v in columns))
    return MannKendall(*columns)


def _mann_kendall_sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``a`` (m, n): Mann-Kendall's ``s``, and over its values the sums of ``c`` and
    ``c^2``, ``c`` being how many values equal each one (itself included).

    Rows of finite values go pair by pair over the columns (``n (n - 1) / 2`` comparisons of
    two columns, counted in integers: the same sums as the signs of the differences, without an
    (m, n) temporary per value); rows holding NaN or infinity take the signs of the differences
    (NaN stays NaN, as before).
    """
    m, n = a.shape
    s = np.zeros(m)
    tied = np.zeros(m)
    sq = np.zeros(m)
    fin = np.isfinite(a).all(axis=1)
    if fin.any():
        cols = np.ascontiguousarray(a[fin].T)
        # small integers: |s| <= n (n - 1) / 2 and c <= n fit 32 bits for any series
        s_int = np.zeros(cols.shape[1], dtype=np.int32)
        count = np.ones(cols.shape, dtype=np.int32)
        for i in range(n):
            for j in range(i + 1, n):
                s_int += cols[j] > cols[i]
                s_int -= cols[j] < cols[i]
                eq = cols[j] == cols[i]
                count[i] += eq
                count[j] += eq
        s[fin] = s_int
        tied[fin] = count.sum(axis=0)
        sq[fin] = (count.astype(float) ** 2).sum(axis=0)
    if not fin.all():
        b = a[~fin]
        for i in range(n):
            s[~fin] += np.sign(b[:, i + 1 :] - b[:, i : i + 1]).sum(axis=1)
            c = (b == b[:, i : i + 1]).sum(axis=1)
            tied[~fin] += c
            sq[~fin] += c.astype(float) ** 2
    return s, tied, sq
