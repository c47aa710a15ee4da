"""Density-based hot spots: weighted (de-duplicated) DBSCAN and HDBSCAN, and the hull rule.

police.uk snaps every crime to one of a fixed set of anonymous map points, so thousands of
incidents share a location (Merseyside, Jan-Jun 2022: 94,340 rows on 14,066 points). Clustering
the raw points repeats every stacked location in every neighbourhood it belongs to; clustering the
*unique locations* weighted by how many incidents sit on them gives exactly the same DBSCAN result
(:func:`weighted_dbscan`, proved in its Notes and tested against scikit-learn) at a fraction of the
time and memory.

Public API
----------
:func:`weighted_dbscan`
    DBSCAN labels for points with multiplicities / sample weights, one label per input point.
:func:`csr_min_samples`
    The smallest ``min_samples`` that pure noise (complete spatial randomness) would reach
    anywhere with probability at most ``alpha``.
:class:`DBSCANHotspots`, :class:`HDBSCANHotspots`
    Estimators (scikit-learn conventions) whose ``hotspots_`` is a GeoDataFrame of cluster
    polygons in the analysis CRS.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.stats import poisson

from hotspots._errors import ParameterError
from hotspots.base import Boolean, HotspotEstimator, Interval, Options
from hotspots.constants import MICRO_PLACE_RADIUS_M
from hotspots.incidents import Incidents, unique_points
from hotspots.stats import SurroundingsTest, csr_lambda, csr_p_value, start_surroundings_test

__all__ = [
    "CONCAVE_RATIO",
    "DEFAULT_EPS_M",
    "HDBSCAN_MAX_INCIDENTS",
    "HOTSPOT_COLUMNS",
    "MIN_SAMPLES_FLOOR",
    "DBSCANHotspots",
    "HDBSCANHotspots",
    "csr_min_samples",
    "weighted_dbscan",
]

#: Default DBSCAN radius in metres: half the ~150 m micro hot spot of the UK trials (Southend,
#: Birmingham, Peterborough, Operation Savvy: :data:`hotspots.constants.MICRO_PLACE_M`), so every
#: core neighbourhood (a disc of radius eps) fits inside a patrol-sized 150 m circle.
DEFAULT_EPS_M = MICRO_PLACE_RADIUS_M

#: The CSR rule never goes below this ``min_samples``: 5, the default of scikit-learn's
#: ``DBSCAN`` and of QGIS's DBSCAN clustering tool.
MIN_SAMPLES_FLOOR = 5

#: ``ratio`` passed to :func:`shapely.concave_hull` (0 = most concave, 1 = convex hull). 0.3 follows
#: L- and T-shaped street clusters without cutting slivers; the eps/2 buffer smooths the rest.
CONCAVE_RATIO = 0.3

#: Above this many incidents :class:`HDBSCANHotspots` refuses to run: scikit-learn's HDBSCAN
#: builds its minimum spanning tree with Prim's algorithm, O(n^2) time on the raw points, so
#: 100,000 incidents take about seven times as long as a force's six months (38,000).
HDBSCAN_MAX_INCIDENTS = 100_000

#: Columns of ``hotspots_`` (after ``geometry``), in order.
HOTSPOT_COLUMNS = (
    "method",
    "cluster",
    "n_members",
    "n_locations",
    "peak_count",
    "peak_x",
    "peak_y",
    "peak_density",
    "significant",
    "p_value",
    "disc_incidents",
    "disc_expected",
)

#: Distinct locations per strip in the neighbour-pair passes (bounds memory: one strip's pairs).
_CHUNK = 8192

#: Points per block when merging duplicate locations (the hash table holds one block and the
#: distinct locations found before it).
_DEDUP_BLOCK = 8192

_HULLS = ("concave", "convex")


# --------------------------------------------------------------------------------------------
# The CSR rule for min_samples
# --------------------------------------------------------------------------------------------


def csr_min_samples(n: int, area_m2: float, eps: float, alpha: float = 0.05) -> int:
    """Smallest DBSCAN ``min_samples`` that pure noise reaches anywhere with probability <= alpha.

    Parameters
    ----------
    n : int
        Number of incidents (N).
    area_m2 : float
        Study area in square metres (A, in the analysis CRS).
    eps : float
        Neighbourhood radius in metres.
    alpha : float, default 0.05
        Family-wise error rate: the chance that complete spatial randomness produces a cluster.

    Returns
    -------
    int
        The smallest ``k >= 5`` with ``N * P(1 + Poisson(lam) >= k) <= alpha``, where
        ``lam = (N - 1) * pi * eps**2 / A`` is the expected number of *other* incidents in an
        eps-disc and the ``1 +`` counts the centre incident (DBSCAN's neighbourhood includes the
        point itself).

    Notes
    -----
    A DBSCAN cluster exists only if some incident is a core point, i.e. its eps-disc holds at
    least ``min_samples`` incidents. Under complete spatial randomness (CSR) with N incidents in
    area A, the number of *other* incidents in one incident's disc is Binomial(N - 1, p) with
    ``p = pi eps^2 / A`` (less near the edge of the study area, which only makes the rule
    conservative). Its upper tail beyond the mean is bounded by the Poisson tail of the same mean
    (Anderson & Samuels 1967), and the union (Bonferroni) bound over the N incidents then gives
    ``P(any cluster | CSR) <= N * P(1 + Poisson(lam) >= k) <= alpha``. So pure noise yields no
    cluster with probability at least ``1 - alpha``. The floor of 5 is scikit-learn's and QGIS's
    DBSCAN default, so sparse data never get clusters of two or three incidents.

    References: T. W. Anderson and S. M. Samuels (1967), "Some inequalities among binomial and
    Poisson probabilities", Proc. Fifth Berkeley Symp. 1, 1-12.

    Examples
    --------
    2,000 incidents over a 12 km x 12 km town, eps = 75 m: lam = 0.245 and
    2000 * P(Poisson(0.245) >= 5) = 0.012 <= 0.05 while 2000 * P(Poisson(0.245) >= 4) = 0.25.

    >>> csr_min_samples(2000, 12_000.0**2, 75.0)
    6
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        msg = f"csr_min_samples: n must be a positive integer (number of incidents), got {n!r}."
        raise ParameterError(msg)
    if not (np.isfinite(area_m2) and area_m2 > 0):
        msg = (
            "csr_min_samples: area_m2 must be a positive number of square metres, got "
            f"{area_m2!r}. Fix: give a study area with a non-zero area, or set min_samples "
            "yourself."
        )
        raise ParameterError(msg)
    _check_eps(eps)
    _check_alpha(alpha)
    lam = csr_lambda(int(n), float(area_m2), float(eps))
    q = alpha / n
    # isf(q) is the smallest x with P(X > x) <= q; P(X >= k - 1) = P(X > k - 2), so k = x + 2.
    x = poisson.isf(q, lam)
    k = max(MIN_SAMPLES_FLOOR, int(x) + 2) if np.isfinite(x) else MIN_SAMPLES_FLOOR
    # Guard against off-by-one rounding in isf: walk to the exact smallest k.
    while n * poisson.sf(k - 2, lam) > alpha:
        k += 1
    while k > MIN_SAMPLES_FLOOR and n * poisson.sf(k - 3, lam) <= alpha:
        k -= 1
    return int(k)


# --------------------------------------------------------------------------------------------
# Weighted DBSCAN on unique locations
# --------------------------------------------------------------------------------------------


def _factorize_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct locations in order of first occurrence, the inverse map and the multiplicities.

    Hash passes (``pandas.factorize`` on ``x + iy``), no sort, one block of points at a time:
    each block is factorized behind the distinct locations found so far, which keep their codes,
    so new locations are numbered in order of first occurrence. The hash table and the keys
    stay of the size of a block (at least :data:`_DEDUP_BLOCK` points, at least half the
    locations found so far, so no point is hashed more than about three times); the codes are
    4-byte integers.
    """
    n = len(x)
    if n == 0:
        return np.empty((0, 2)), np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int64)
    codes = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
    uniq = np.empty(0, dtype=complex)
    counts = np.zeros(0, dtype=np.int64)
    s = 0
    while s < n:
        e = min(n, s + max(_DEDUP_BLOCK, len(uniq) // 2))
        key = np.empty(len(uniq) + e - s, dtype=complex)
        key[: len(uniq)] = uniq
        key.real[len(uniq) :] = x[s:e]
        key.imag[len(uniq) :] = y[s:e]
        local, found = pd.factorize(key)
        local = local[len(uniq) :]
        codes[s:e] = local
        uniq = np.asarray(found, dtype=complex)
        counts = np.bincount(local, minlength=len(uniq)) + np.pad(
            counts, (0, len(uniq) - len(counts))
        )
        s = e
    return np.column_stack([uniq.real, uniq.imag]), codes, counts.astype(np.int64)


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` block by block (no full-length copy of a 4-byte ``index`` as intp)."""
    out = np.empty(len(index), dtype=values.dtype)
    for s in range(0, len(index), _DEDUP_BLOCK):
        out[s : s + _DEDUP_BLOCK] = values[index[s : s + _DEDUP_BLOCK]]
    return out


def _unique_locations(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct locations in order of first occurrence, the inverse map and the multiplicities."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return _factorize_xy(xy[:, 0], xy[:, 1])


def _pair_blocks(pts: np.ndarray, eps: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield blocks ``(i, j)`` of the pairs of distinct locations within ``eps`` (``i < j``).

    Every pair at distance ``<= eps`` comes exactly once over all blocks. Locations are taken
    in strips of :data:`_CHUNK` along x; a strip is paired with itself and the points up to
    ``eps`` beyond it (scipy's ``cKDTree.query_pairs``), so memory is one strip's pairs.
    """
    m = len(pts)
    if m < 2:
        return
    order = np.argsort(pts[:, 0], kind="stable")
    xs = pts[order, 0]
    for s in range(0, m, _CHUNK):
        e = min(m, s + _CHUNK)
        # a hair wider than eps, so that rounding never drops a pair the tree would keep
        reach = xs[e - 1] + eps + 1e-9 * (abs(xs[e - 1]) + eps)
        stop = int(np.searchsorted(xs, reach, side="right"))
        sub = order[s:stop]
        pairs = cKDTree(pts[sub]).query_pairs(eps, output_type="ndarray")
        pairs = pairs[pairs[:, 0] < e - s]  # pairs wholly in the halo belong to a later strip
        if len(pairs):
            yield sub[pairs[:, 0]], sub[pairs[:, 1]]


def _neighbourhood_weights(pts: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """Sum of ``w`` over each location's closed eps-disc, itself included."""
    out = np.array(w, dtype=float, copy=True)
    m = len(pts)
    for i, j in _pair_blocks(pts, eps):
        out += np.bincount(i, weights=w[j], minlength=m)
        out += np.bincount(j, weights=w[i], minlength=m)
    return out


def _dbscan_locations(
    pts: np.ndarray, w: np.ndarray, eps: float, min_samples: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DBSCAN on distinct locations ``pts`` with weights ``w``.

    Returns ``(labels, is_core, neighbourhood_weight)`` per location. Labels follow
    scikit-learn's numbering (clusters in order of their first core location) and its
    border-point rule (a border location joins the first-numbered cluster among its core
    neighbours), so with ``pts`` in order of first occurrence the labels equal scikit-learn's
    on the raw points.

    Two passes over the eps-pairs of distinct locations (:func:`_pair_blocks`): the first sums
    the neighbourhood weights (core status), the second joins core-core pairs into components
    and gives each border location the smallest cluster number among its core neighbours.
    """
    m = len(pts)
    labels = np.full(m, -1, dtype=np.intp)
    if m == 0:
        return labels, np.zeros(0, dtype=bool), np.zeros(0)
    nbw = _neighbourhood_weights(pts, w, eps)
    is_core = nbw >= min_samples
    if not is_core.any():
        return labels, is_core, nbw
    # Connected components of the core-core eps-graph, merged block by block so that only one
    # block's pairs are held at a time: comp[k] is the current component of location k. Border
    # candidates (a core location, a non-core neighbour) are kept: at most one per pair.
    comp = np.arange(m)
    border_loc: list[np.ndarray] = []
    border_core: list[np.ndarray] = []
    for i, j in _pair_blocks(pts, eps):
        ci, cj = is_core[i], is_core[j]
        both = ci & cj
        a, b = comp[i[both]], comp[j[both]]
        keep = a != b
        if keep.any():
            g = sparse.coo_matrix(
                (np.ones(int(keep.sum()), dtype=np.int8), (a[keep], b[keep])), shape=(m, m)
            )
            _, lab = connected_components(g, directed=False)
            comp = lab[comp]
        bl = np.concatenate([j[ci & ~cj], i[cj & ~ci]])
        if bl.size:  # one (border location, core neighbour) per component it touches
            bc = np.concatenate([i[ci & ~cj], j[cj & ~ci]])
            _, first = np.unique(bl.astype(np.int64) * m + comp[bc], return_index=True)
            border_loc.append(bl[first])
            border_core.append(bc[first])
    # Number clusters by their first core location (scikit-learn's discovery order).
    core_idx = np.flatnonzero(is_core)
    _, first_pos, comp_dense = np.unique(comp[core_idx], return_index=True, return_inverse=True)
    rank = np.empty(len(first_pos), dtype=np.intp)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(len(first_pos))
    labels[core_idx] = rank[comp_dense.reshape(-1)]
    # Border locations: the lowest-numbered cluster among their core neighbours.
    if border_loc:
        big = np.iinfo(np.intp).max
        best = np.full(m, big, dtype=np.intp)
        np.minimum.at(best, np.concatenate(border_loc), labels[np.concatenate(border_core)])
        hit = best != big
        labels[hit] = best[hit]
    return labels, is_core, nbw


def weighted_dbscan(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    eps: float,
    min_samples: float,
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """DBSCAN labels computed on the distinct locations, weighted by what sits on each.

    Parameters
    ----------
    x, y : array-like of float, shape (n,)
        Coordinates in metres (a projected, metric CRS). Exact duplicates are merged.
    eps : float
        Neighbourhood radius in metres (closed disc: distance <= eps).
    min_samples : float
        A point is a core point when the summed weight of its eps-neighbourhood, itself and
        every duplicate included, is at least ``min_samples``.
    weights : array-like of float, shape (n,), optional
        Per-point sample weights (scikit-learn's ``sample_weight``); default 1 (counts).

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Cluster label per input point, ``-1`` for noise. Duplicates always share a label.

    Notes
    -----
    Equal to ``sklearn.cluster.DBSCAN(eps, min_samples=min_samples).fit(np.c_[x, y],
    sample_weight=weights).labels_`` on the raw points, label for label:

    * Duplicates have identical eps-neighbourhoods, so the summed weight of a raw point's
      neighbourhood is the summed weight of its location's neighbourhood over distinct
      locations, and core status is the same for every duplicate and its location.
    * Two core points are directly reachable iff their locations are within eps, so clusters
      (connected components of core points) are the same.
    * Border points: scikit-learn expands clusters one at a time in the order of their first
      core point in the input, and a border point takes the label of the first cluster that
      reaches it. All duplicates of a border location are reached together. Distinct locations
      are kept in order of first occurrence, so the first core point of every cluster comes in
      the same relative order, and the cluster numbering and every border assignment agree.

    The only possible difference is at exact ties: a pair at distance exactly ``eps`` (the tree
    may accept or reject a whole node without computing each distance) or, with non-integer
    weights, a neighbourhood sum exactly equal to ``min_samples`` (float sums in a different
    order). With integer counts the second cannot happen.

    Work and memory: one hash pass over the n points (a 16-byte key each, no sort), then two
    passes over the pairs of *distinct* locations within eps (scipy's ``cKDTree.query_pairs``,
    one strip of 8,192 locations at a time). Memory is O(n) for the inverse map and the labels,
    O(m) for m distinct locations, and one strip's pairs, where scikit-learn holds the
    neighbour lists of every raw point at once (which grow with the square of the stack
    sizes): each pair of distinct locations stands for at least two of its neighbour entries.

    Examples
    --------
    >>> weighted_dbscan([0, 0, 0, 10, 500], [0, 0, 0, 0, 0], eps=20, min_samples=4).tolist()
    [0, 0, 0, 0, -1]
    """
    xa = np.asarray(x, dtype=float).reshape(-1)
    ya = np.asarray(y, dtype=float).reshape(-1)
    if xa.shape != ya.shape:
        msg = f"weighted_dbscan: x and y must have the same length, got {xa.size} and {ya.size}."
        raise ParameterError(msg)
    if not (np.isfinite(xa).all() and np.isfinite(ya).all()):
        msg = "weighted_dbscan: x and y must be finite (no NaN or infinity)."
        raise ParameterError(msg)
    _check_eps(eps)
    _check_min_samples(min_samples, integer=weights is None)
    uniq, inverse, counts = _factorize_xy(xa, ya)
    if weights is None:
        w = counts.astype(float)
    else:
        wa = np.asarray(weights, dtype=float).reshape(-1)
        if wa.shape != xa.shape or not np.isfinite(wa).all():
            msg = "weighted_dbscan: weights must be finite and one per point."
            raise ParameterError(msg)
        w = np.bincount(inverse, weights=wa, minlength=len(uniq))
    labels, _, _ = _dbscan_locations(uniq, w, float(eps), float(min_samples))
    return _gather(labels, inverse)


# --------------------------------------------------------------------------------------------
# Cluster polygons (the hull rule)
# --------------------------------------------------------------------------------------------


def _empty_hotspots(crs: Any) -> gpd.GeoDataFrame:
    data = {
        "method": pd.Series(dtype=object),
        "cluster": pd.Series(dtype=np.int64),
        "n_members": pd.Series(dtype=np.int64),
        "n_locations": pd.Series(dtype=np.int64),
        "peak_count": pd.Series(dtype=np.int64),
        "peak_x": pd.Series(dtype=float),
        "peak_y": pd.Series(dtype=float),
        "peak_density": pd.Series(dtype=float),
        "significant": pd.Series(dtype=bool),
        "p_value": pd.Series(dtype=float),
        "disc_incidents": pd.Series(dtype=float),
        "disc_expected": pd.Series(dtype=float),
    }
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)[
        ["geometry", *HOTSPOT_COLUMNS]
    ]


def _cluster_polygons(
    pts: np.ndarray, labels: np.ndarray, buffer_m: float, hull: str
) -> np.ndarray:
    """One valid polygon per cluster label 0..max (None for an absent label).

    The hull of the cluster's locations, buffered by ``buffer_m`` metres.
    """
    mask = labels >= 0
    present, dense = np.unique(labels[mask], return_inverse=True)
    out = np.full(int(labels.max()) + 1, None, dtype=object)
    dense = dense.reshape(-1)
    order = np.argsort(dense, kind="stable")
    mp = shapely.multipoints(shapely.points(pts[mask][order]), indices=dense[order])
    if hull == "concave":
        h = shapely.concave_hull(mp, ratio=CONCAVE_RATIO)
    else:
        h = shapely.convex_hull(mp)
    polys = shapely.make_valid(shapely.buffer(h, buffer_m, quad_segs=16))
    # A buffered hull of a connected point set is one polygon; make_valid can return a
    # collection only in pathological precision cases, so keep its polygonal part.
    bad = shapely.get_type_id(polys) == 7  # GeometryCollection
    for i in np.flatnonzero(bad):
        parts = [
            g for g in shapely.get_parts(polys[i]) if g.geom_type in ("Polygon", "MultiPolygon")
        ]
        polys[i] = shapely.union_all(parts)
    out[present] = polys
    return out


@dataclass
class _PendingTest:
    """The surroundings test being built (:func:`_start_test`), and how to tell it early which
    discs the clusters' polygons will ask for."""

    #: the test, built in a background thread
    test: Future[SurroundingsTest]
    #: resolved once the clusters are known (:meth:`tell`): the members' locations as a mask
    #: of the test's locations, or None; the test's thread waits for it
    members: Future[Callable[[np.ndarray], np.ndarray] | None]
    #: index among the test's (sorted) locations of each location in order of first
    #: occurrence; None when the test finds its locations itself
    sorted_index: np.ndarray | None

    def tell(self, loc_labels: np.ndarray | None) -> None:
        """Hand the test the locations of the clusters' members (labels >= 0 of the locations
        in order of first occurrence), or nothing (None), once; later calls do nothing."""
        if self.members.done():
            return
        index = self.sorted_index
        if loc_labels is None or index is None or not (loc_labels >= 0).any():
            self.members.set_result(None)
            return
        mask = np.zeros(len(index), dtype=bool)
        mask[index[loc_labels >= 0]] = True
        self.members.set_result(
            lambda locations: (
                mask if len(locations) == len(mask) else np.zeros(len(locations), bool)
            )
        )


def _start_test(
    incidents: Incidents, xy: np.ndarray
) -> tuple[_PendingTest, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The surroundings test of these incidents (coordinates ``xy``), built in a background
    thread while the clustering runs (it does not depend on the clusters); and the distinct
    locations in order of first occurrence with the inverse map and the multiplicities
    (:func:`_unique_locations`), from the same hashing pass where the coordinates allow.

    The caller must :meth:`_PendingTest.tell` the test the clusters (or None), even when it
    fails: then the test computes the members' discs in its thread
    (:meth:`~hotspots.stats.SurroundingsTest.prepare_discs`) while the polygons are drawn, and
    :meth:`~hotspots.stats.SurroundingsTest.places` shares what is left (the same bits).
    """
    sorted_, first_seen, sorted_index = _distinct_locations(xy)
    members: Future[Callable[[np.ndarray], np.ndarray] | None] = Future()
    test = start_surroundings_test(
        xy,
        incidents.study_area,
        months=incidents.frame["month"],
        distinct=sorted_,
        centres=members,
    )
    return _PendingTest(test, members, sorted_index), first_seen


def _distinct_locations(
    xy: np.ndarray,
) -> tuple[
    tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    tuple[np.ndarray, np.ndarray, np.ndarray],
    np.ndarray | None,
]:
    """``unique_points(xy, return_inverse=True, return_counts=True)`` (sorted, for the
    surroundings test; None where it is left to the test) and :func:`_unique_locations` of
    ``xy`` (order of first occurrence), both from one ``unique_points`` where every coordinate
    is finite and non-zero (``unique_points`` hashes ``x + iy`` as :func:`_factorize_xy` does,
    so the locations are the same); and the index among the sorted locations of each location
    in order of first occurrence (None with the first None)."""
    if not len(xy) or not np.isfinite(xy).all() or (xy == 0).any():
        return None, _unique_locations(xy), None
    loc, first, inverse, counts = unique_points(
        xy, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first)  # the sorted locations by first occurrence
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    first_seen = (loc[order], rank[inverse], counts[order].astype(np.int64))
    return (loc, inverse, counts), first_seen, order


def _hotspots_frame(
    *,
    method: str,
    pts: np.ndarray,
    counts: np.ndarray,
    loc_labels: np.ndarray,
    nb_count: np.ndarray,
    eps: float,
    buffer_m: float,
    hull: str,
    test: _PendingTest,
    alpha: float,
    crs: Any,
) -> tuple[gpd.GeoDataFrame, SurroundingsTest | None]:
    """Build ``hotspots_`` from per-location labels (``-1`` noise, clusters ``0..K-1``), and
    return it with the surroundings test (None without a cluster).

    ``p_value`` and ``significant`` come from the surroundings test of each cluster's polygon
    (:class:`hotspots.stats.SurroundingsTest`, started by :func:`_start_test` and waited for
    once the polygons are drawn), the test every hot spot method shares; it is only needed
    when there is a cluster.
    """
    k = int(loc_labels.max()) + 1 if len(loc_labels) else 0
    if k == 0:
        test.tell(None)
        return _empty_hotspots(crs), None
    # the members' discs are computed in the test's thread while the polygons are drawn
    test.tell(loc_labels)
    mask = loc_labels >= 0
    lab = loc_labels[mask]
    cnt = counts[mask]
    n_members = np.bincount(lab, weights=cnt, minlength=k).astype(np.int64)
    n_locations = np.bincount(lab, minlength=k).astype(np.int64)
    # Peak stack per cluster: sort by (label, -count, position) and take each label's first.
    idx = np.flatnonzero(mask)
    order = np.lexsort((idx, -cnt, lab))
    first_of, first = np.unique(lab[order], return_index=True)
    peak_loc = np.zeros(k, dtype=np.intp)
    peak_loc[first_of] = idx[order[first]]
    # Peak eps-disc count among members (peak_density).
    peak_nb = np.full(k, -np.inf)
    np.maximum.at(peak_nb, lab, nb_count[mask])
    geom = _cluster_polygons(pts, loc_labels, buffer_m, hull)
    present = n_locations > 0  # labels need not be contiguous
    surroundings = test.test.result()
    place = surroundings.places(geom)
    p = place.p_value
    frame = pd.DataFrame(
        {
            "method": method,
            "cluster": np.arange(k, dtype=np.int64),
            "n_members": n_members,
            "n_locations": n_locations,
            "peak_count": counts[peak_loc].astype(np.int64),
            "peak_x": pts[peak_loc, 0],
            "peak_y": pts[peak_loc, 1],
            "peak_density": peak_nb / (math.pi * eps * eps) * 1e6,
            "significant": np.nan_to_num(p, nan=1.0) < alpha,
            "p_value": p,
            "disc_incidents": place.count,
            "disc_expected": place.expected,
        }
    )
    frame = frame.loc[present].reset_index(drop=True)
    geom = geom[present]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geom, crs=crs), crs=crs)
    gdf = gdf[["geometry", *HOTSPOT_COLUMNS]]
    gdf = gdf.sort_values(["n_members", "cluster"], ascending=[False, True], kind="stable")
    return gdf.reset_index(drop=True), surroundings


# --------------------------------------------------------------------------------------------
# Parameter checks
# --------------------------------------------------------------------------------------------


def _stack_labels(
    labels: np.ndarray, inverse: np.ndarray, n_locations: int, notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Incident and per-location labels with every stack of identical points in one cluster.

    scikit-learn's HDBSCAN can split a stack of identical points (ties in its single-linkage
    tree): a stack goes to the cluster most of its clustered incidents got (ties: lowest label),
    so every map point is one unit as in DBSCAN.
    """
    loc_labels = np.full(n_locations, -1, dtype=np.intp)
    if len(labels) and labels.max() >= 0:
        inc = labels >= 0
        pairs, votes = np.unique(np.c_[inverse[inc], labels[inc]], axis=0, return_counts=True)
        order = np.lexsort((pairs[:, 1], -votes, pairs[:, 0]))
        loc, first = np.unique(pairs[order, 0], return_index=True)
        loc_labels[loc] = pairs[order[first], 1]
        moved = int((loc_labels[inverse] != labels).sum())
        if moved:
            labels = loc_labels[inverse]
            notes.append(
                f"{moved} incident(s) that HDBSCAN split off a stack of identical locations "
                "were joined to the cluster of the rest of their stack."
            )
    return labels, loc_labels


def _is_real(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _check_eps(eps: Any) -> None:
    if not _is_real(eps) or not (np.isfinite(eps) and eps > 0):
        msg = (
            f"eps must be a positive distance in metres (analysis CRS), got {eps!r}. "
            f"Fix: leave it unset for the {DEFAULT_EPS_M:g} m default."
        )
        raise ParameterError(msg)


def _check_alpha(alpha: Any) -> None:
    if not _is_real(alpha) or not (0 < alpha < 1):
        msg = f"alpha must be a probability strictly between 0 and 1, got {alpha!r}."
        raise ParameterError(msg)


def _check_min_samples(v: Any, *, integer: bool, name: str = "min_samples") -> None:
    ok = _is_real(v) and np.isfinite(v) and v >= 1
    if ok and integer:
        ok = float(v).is_integer()
    if not ok:
        kind = "an integer >= 1 (incidents)" if integer else "a number >= 1"
        msg = f"{name} must be {kind}, got {v!r}. Fix: leave it unset for the CSR rule."
        raise ParameterError(msg)


def _fmt_km2(area_m2: float) -> str:
    return f"{area_m2 / 1e6:,.2f} km²"


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


class DBSCANHotspots(HotspotEstimator):
    """Hot spots as DBSCAN clusters of incidents, computed on distinct locations.

    Parameters
    ----------
    eps : float, optional
        Neighbourhood radius in metres (analysis CRS). Default 75 m (see Notes).
    min_samples : int or float, optional
        Incidents (or, with ``use_weights``, summed harm weight) an eps-disc must hold for its
        centre to be a core point. Default: :func:`csr_min_samples` (see Notes).
    alpha : float, default 0.05
        Family-wise error rate of the default ``min_samples`` (complete spatial randomness) and
        of ``significant`` (the surroundings test).
    hull : {"concave", "convex"}, default "concave"
        Outline of each cluster before the eps/2 buffer.
    use_weights : bool, default False
        Use the incidents' harm weights (``Incidents.frame["weight"]``) instead of counts to
        decide core points. There is no CSR rule for harm units, so ``min_samples`` must then
        be given (in harm units).

    Attributes
    ----------
    labels_ : numpy.ndarray of int, shape (n_incidents,)
        Cluster per incident (row of ``Incidents.frame``), -1 for noise. Cluster numbers follow
        scikit-learn's DBSCAN on the raw points.
    eps_ : float
        Radius used, metres.
    min_samples_ : int, float or None
        Threshold used (None when it could not be derived, see Notes).
    n_clusters_ : int
    surroundings_ : hotspots.stats.SurroundingsTest or None
        The significance test of the clusters (None when there is no cluster).
    hotspots_ : geopandas.GeoDataFrame
        One row per cluster, largest first, in the analysis CRS: ``geometry`` (valid polygon),
        ``method`` ("dbscan"), ``cluster`` (label in ``labels_``), ``n_members`` (incidents),
        ``n_locations`` (distinct locations), ``peak_count`` (incidents on the biggest stack),
        ``peak_x``, ``peak_y`` (that stack's location, metres), ``peak_density`` (largest
        eps-disc count among members, incidents per km²), ``significant``, ``p_value``
        (the surroundings test of the cluster's polygon, see Notes; NaN when the study area has
        no area), ``disc_incidents`` and ``disc_expected`` (its most outstanding 75 m disc's
        count and what the surroundings predict there).
    params_ : dict
        Every parameter and automatic choice, JSON-serialisable.
    notes_ : list of str
        The automatic choices as sentences.

    Notes
    -----
    **eps = 75 m.** UK hot spot trials used ~150 m micro places (Southend, Birmingham,
    Peterborough, West Midlands' Operation Savvy: ``Basford2021``, ``Williams2017``,
    ``Ariel2016``, ``OpSavvy`` in ``hotspots/data/tactics.json``). With eps half of that, every
    core neighbourhood fits in a patrol-sized 150 m circle. Coordinates are metres in the
    projected analysis CRS, which avoids the haversine-in-radians trap of scikit-learn's DBSCAN
    (its ``metric="haversine"`` takes eps in radians).

    **min_samples** defaults to :func:`csr_min_samples` with N incidents and A =
    ``incidents.study_area.area``: pure noise at the data's intensity yields no cluster with
    probability >= 1 - alpha. A police.uk map point with more than min_samples incidents is a
    cluster on its own, which is intended: a stack that big is itself improbable under CSR
    (SOURCES.md: stacked duplicates "can form a DBSCAN core on their own"). When the study area
    has no area (all incidents on one point or one line) the rule is undefined: the result is
    empty and a note says to set ``min_samples``.

    **Significance is a separate question.** ``min_samples`` only sets a density threshold: at
    the force's *average* intensity, pure noise would make no cluster. A town is not uniform, and
    police.uk stacks incidents on map points, so on real data every cluster passes that bar
    (Merseyside January-May 2022: all 527). ``significant`` asks instead whether the cluster
    holds a 75 m disc that stands out from its own surroundings (150-750 m) beyond what snapping
    and uneven density produce (:class:`hotspots.stats.SurroundingsTest`; Merseyside: 106 of
    527).

    **De-duplication.** DBSCAN runs on distinct locations weighted by their incident counts
    (:func:`weighted_dbscan`), which gives scikit-learn's labels on the raw points exactly.

    **Hull rule.** Each cluster's polygon is the concave hull (:func:`shapely.concave_hull`,
    ``ratio=0.3``) or convex hull of its members' distinct locations, buffered by eps/2 and made
    valid. A single-location cluster becomes a disc of radius eps/2, two locations a stadium;
    never a degenerate hull. The polygon contains every member location, and because the hull
    is one connected shape the result is one Polygon.

    Examples
    --------
    >>> import numpy as np
    >>> from hotspots.incidents import Incidents
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 40)]
    >>> y = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 40)]
    >>> est = DBSCANHotspots().fit(Incidents.from_xy(x, y))
    >>> est.n_clusters_, est.min_samples_
    (1, 5)
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "eps": [None, Interval(Real, 0, None, closed="neither")],
        "min_samples": [None, Interval(Real, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "hull": [Options(*_HULLS)],
        "use_weights": [Boolean()],
    }
    parameter_hints: ClassVar[dict[str, str]] = {
        "eps": (
            f"give metres (analysis CRS), or leave it unset for the {DEFAULT_EPS_M:g} m default."
        ),
        "min_samples": "leave it unset for the CSR rule.",
    }
    hotspot_columns: ClassVar[tuple[str, ...]] = HOTSPOT_COLUMNS

    def __init__(
        self,
        *,
        eps: float | None = None,
        min_samples: float | None = None,
        alpha: float = 0.05,
        hull: str = "concave",
        use_weights: bool = False,
    ) -> None:
        self.eps = eps
        self.min_samples = min_samples
        self.alpha = alpha
        self.hull = hull
        self.use_weights = use_weights

    def fit(self, incidents: Incidents, y: Any = None) -> DBSCANHotspots:
        """Cluster ``incidents``; returns ``self``.

        Parameters
        ----------
        incidents : Incidents
        y : ignored
        """
        self.validate(incidents)
        if self.min_samples is not None and not self.use_weights:
            _check_min_samples(self.min_samples, integer=True)
        if self.min_samples is None and self.use_weights:
            msg = (
                "use_weights=True needs min_samples in harm units (the summed harm weight an "
                "eps-disc must hold): the CSR rule counts incidents. "
                "Fix: set min_samples, or use_weights=False."
            )
            raise ParameterError(msg)

        notes: list[str] = []
        xy = incidents.xy
        test, (uniq, inverse, counts) = _start_test(incidents, xy)
        try:
            n = len(xy)
            area = incidents.study_area_m2
            eps = float(self.eps) if self.eps is not None else DEFAULT_EPS_M
            if self.eps is None:
                notes.append(
                    f"eps set to {eps:g} m automatically: half the ~150 m micro hot spot of UK "
                    "trials, so each core neighbourhood fits a patrol-sized 150 m circle."
                )
            lam = csr_lambda(n, area, eps) if n >= 1 and area > 0 else float("nan")
            min_samples: float | None
            if self.min_samples is not None:
                min_samples = self.min_samples
                rule = "given"
            elif n >= 1 and area > 0:
                min_samples = csr_min_samples(n, area, eps, self.alpha)
                rule = "csr"
                notes.append(
                    f"min_samples set to {min_samples} automatically: under complete spatial "
                    f"randomness ({n:,} incidents over {_fmt_km2(area)}, {lam:.3g} expected "
                    f"neighbours within {eps:g} m) the chance that any {eps:g} m disc holds "
                    f"{min_samples} or more incidents is at most {self.alpha:g}."
                )
            else:
                min_samples = None
                rule = "undefined"
                if n:
                    notes.append(
                        "The study area has no area (all incidents on one point or one line), so "
                        "min_samples cannot be set from complete spatial randomness: no clusters. "
                        "Set min_samples to cluster these incidents."
                    )

            if n:
                notes.append(
                    f"{n:,} incidents sit on {len(uniq):,} distinct locations; DBSCAN ran on "
                    "the locations weighted by their incident counts (same result as on every "
                    "incident)."
                )
            if min_samples is not None and n:
                w = (
                    np.bincount(inverse, weights=incidents.weights, minlength=len(uniq))
                    if self.use_weights
                    else counts.astype(float)
                )
                from hotspots.engine import current_engine  # the engine imports this module

                running = current_engine()  # a Dask engine clusters by tiles
                dbscan = running.dbscan_locations if running else _dbscan_locations
                loc_labels, _, nbw = dbscan(uniq, w, eps, float(min_samples))
                nb_count = (
                    _neighbourhood_weights(uniq, counts.astype(float), eps)
                    if self.use_weights
                    else nbw
                )
            else:
                loc_labels = np.full(len(uniq), -1, dtype=np.intp)
                nb_count = np.zeros(len(uniq))

            self.eps_ = eps
            self.min_samples_ = (
                int(min_samples)
                if min_samples is not None and not self.use_weights
                else min_samples
            )
            self.labels_ = loc_labels[inverse] if n else np.empty(0, dtype=np.intp)
            self.hotspots_, self.surroundings_ = _hotspots_frame(
                method="dbscan",
                pts=uniq,
                counts=counts,
                loc_labels=loc_labels,
                nb_count=nb_count,
                eps=eps,
                buffer_m=eps / 2,
                hull=self.hull,
                test=test,
                alpha=self.alpha,
                crs=incidents.crs,
            )
        finally:
            test.tell(None)  # the test's thread waits for it, even when the fit fails
        self.n_clusters_ = len(self.hotspots_)
        n_in = int(self.hotspots_["n_members"].sum())
        notes.append(
            f"Found {self.n_clusters_} cluster(s) holding {n_in:,} of {n:,} incidents"
            + (f" ({100 * n_in / n:.1f} %)." if n else ".")
        )
        self.notes_ = notes
        self.params_ = {
            "method": "dbscan",
            "eps_m": eps,
            "eps_rule": "given" if self.eps is not None else "half of 150 m micro place",
            "min_samples": self.min_samples_,
            "min_samples_rule": rule,
            "alpha": float(self.alpha),
            "csr_lambda": None if not np.isfinite(lam) else float(lam),
            "hull": self.hull,
            "concave_ratio": CONCAVE_RATIO if self.hull == "concave" else None,
            "buffer_m": eps / 2,
            "use_weights": bool(self.use_weights),
            "n_incidents": int(n),
            "n_locations": len(uniq),
            "study_area_m2": float(area),
            "n_clusters": int(self.n_clusters_),
            "significance": self.surroundings_.describe() if self.surroundings_ else None,
        }
        return self


class HDBSCANHotspots(HotspotEstimator):
    """Hot spots as HDBSCAN clusters (scikit-learn's ``HDBSCAN``) of incidents.

    Parameters
    ----------
    min_cluster_size : int, optional
        Smallest cluster, in incidents. Default: :func:`csr_min_samples` at eps = 75 m.
    min_samples : int, optional
        Neighbours (itself included) for the core distance. Default: ``min_cluster_size``
        (scikit-learn's and the hdbscan package's default).
    alpha : float, default 0.05
        Error rate of the default ``min_cluster_size`` rule, of the ``significant_only`` filter
        and of ``significant`` (the surroundings test, as in :class:`DBSCANHotspots`).
    hull : {"concave", "convex"}, default "concave"
        As in :class:`DBSCANHotspots`; the buffer is 37.5 m (half of the 75 m scale).
    significant_only : bool, default True
        Keep only clusters whose busiest 75 m disc is improbable under complete spatial
        randomness (Bonferroni p-value <= alpha, the density threshold behind DBSCAN's default
        ``min_samples``); incidents of the other clusters become noise (-1) in ``labels_``. A
        filter of HDBSCAN's noise clusters, not the significance test: the kept clusters are
        then tested against their surroundings (``significant``).

    Attributes
    ----------
    labels_, min_cluster_size_, min_samples_, n_clusters_, surroundings_, hotspots_, params_, notes_
        As in :class:`DBSCANHotspots`; ``hotspots_["method"]`` is "hdbscan"; ``peak_density``
        uses the largest 75 m disc count among the members, ``p_value`` and ``significant``
        the surroundings test of the cluster's polygon.
        Cluster numbers are scikit-learn's (with gaps where clusters were dropped).

    Notes
    -----
    HDBSCAN (Campello, Moulavi & Sander 2013) finds clusters of varying density without eps.
    scikit-learn's implementation takes no sample weights, so it runs on the raw incidents; with
    police.uk stacks, a map point holding ``min_samples`` or more incidents has core distance 0,
    which is the intended treatment of a stack. Its minimum spanning tree costs O(n^2) time and
    O(n) memory; above :data:`HDBSCAN_MAX_INCIDENTS` incidents :meth:`fit` raises
    :class:`~hotspots.ParameterError` suggesting :class:`DBSCANHotspots`, which handles any size.

    The default ``min_cluster_size`` is the same CSR rule as DBSCAN's ``min_samples``, so a
    cluster holds at least as many incidents as pure noise puts in a 75 m disc with probability
    <= alpha. Unlike DBSCAN, HDBSCAN still splits pure noise into clusters (it has no density
    threshold): on 2,000 uniform incidents over 144 km² it returns some 70 clusters, and the
    sparse ones spanning a kilometre or more outnumber compact hot spots. So by default
    (``significant_only=True``) a cluster is kept only if its busiest 75 m disc holds at least
    the CSR ``min_samples`` incidents, i.e. it contains a DBSCAN core point of
    :class:`DBSCANHotspots` with default parameters. Pure noise then gives no cluster with
    probability >= 1 - alpha, as with DBSCAN; what HDBSCAN adds is the extent of each hot spot
    chosen by cluster stability instead of a fixed eps. ``allow_single_cluster`` is False
    (scikit-learn's default), so incidents all on one location give no cluster.

    Caveats measured on police.uk violence for Merseyside (January-June 2022, 37,760 incidents):
    HDBSCAN clusters keep the sparse halo they were born with, so they are larger than DBSCAN's
    (longest side of the minimum rotated rectangle: median 150 m, largest 1.3 km, against
    DBSCAN's 122 m and 0.7 km) and member precision on planted data is ~0.85 against DBSCAN's
    ~0.99. scikit-learn's HDBSCAN also splits some stacks of identical points (146 of 10,062 map
    points; ties in the single-linkage tree); each stack is given the cluster most of its
    clustered incidents got, so ``labels_`` can differ from scikit-learn's for those incidents
    (0.6 % there).
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "min_cluster_size": [None, Interval(Integral, 2, None, closed="left")],
        "min_samples": [None, Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "hull": [Options(*_HULLS)],
        "significant_only": [Boolean()],
    }
    parameter_hints: ClassVar[dict[str, str]] = {
        "min_cluster_size": "leave it unset for the CSR rule.",
        "min_samples": "leave it unset for min_cluster_size.",
    }
    hotspot_columns: ClassVar[tuple[str, ...]] = HOTSPOT_COLUMNS

    def __init__(
        self,
        *,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        alpha: float = 0.05,
        hull: str = "concave",
        significant_only: bool = True,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.alpha = alpha
        self.hull = hull
        self.significant_only = significant_only

    def _min_cluster_size(
        self, n: int, area: float, eps: float, notes: list[str]
    ) -> tuple[int | None, str]:
        """``min_cluster_size`` (None: no clusters possible) and its rule."""
        if self.min_cluster_size is not None:
            return int(self.min_cluster_size), "given"
        if n >= 1 and area > 0:
            mcs = csr_min_samples(n, area, eps, self.alpha)
            notes.append(
                f"min_cluster_size set to {mcs} automatically: under complete spatial "
                f"randomness ({n:,} incidents over {_fmt_km2(area)}) the chance that any "
                f"{eps:g} m disc holds {mcs} or more incidents is at most {self.alpha:g}."
            )
            return mcs, "csr"
        if n:
            notes.append(
                "The study area has no area (all incidents on one point or one line), so "
                "min_cluster_size cannot be set from complete spatial randomness: no "
                "clusters. Set min_cluster_size to cluster these incidents."
            )
        return None, "undefined"

    def _drop_not_significant(
        self,
        loc_labels: np.ndarray,
        nb_count: np.ndarray,
        n: int,
        lam: float,
        eps: float,
        notes: list[str],
    ) -> int:
        """Label as noise (in place) the clusters with no improbable disc; how many were dropped.

        A cluster is kept only if its busiest 75 m disc is improbable under CSR, i.e. it holds a
        DBSCAN core point at (75 m, CSR min_samples): the Bonferroni p-value <= alpha.
        """
        k = int(loc_labels.max()) + 1
        member = loc_labels >= 0
        peak = np.full(k, -np.inf)
        np.maximum.at(peak, loc_labels[member], nb_count[member])
        keep = np.array([csr_p_value(c, n, lam) <= self.alpha for c in peak])
        n_dropped = int((~keep).sum())
        drop = member & ~keep[np.maximum(loc_labels, 0)]
        loc_labels[drop] = -1
        if n_dropped:
            notes.append(
                f"{n_dropped} HDBSCAN cluster(s) dropped (their incidents are noise): no "
                f"{eps:g} m disc in them is improbable under complete spatial randomness "
                f"at alpha = {self.alpha:g}. Set significant_only=False to keep them."
            )
        return n_dropped

    def fit(self, incidents: Incidents, y: Any = None) -> HDBSCANHotspots:
        """Cluster ``incidents``; returns ``self``.

        Parameters
        ----------
        incidents : Incidents
        y : ignored
        """
        from sklearn.cluster import HDBSCAN

        self.validate(incidents)

        notes: list[str] = []
        xy = incidents.xy
        n = len(xy)
        if n > HDBSCAN_MAX_INCIDENTS:
            msg = (
                f"HDBSCAN on {n:,} incidents would take too long (its cost grows with the square "
                f"of the number of incidents; the limit is {HDBSCAN_MAX_INCIDENTS:,}). "
                "Fix: use DBSCANHotspots, which handles any size, or select fewer months or a "
                "smaller area."
            )
            raise ParameterError(msg)
        test, (uniq, inverse, counts) = _start_test(incidents, xy)
        try:
            area = incidents.study_area_m2
            eps = DEFAULT_EPS_M
            lam = csr_lambda(n, area, eps) if n >= 1 and area > 0 else float("nan")
            mcs, rule = self._min_cluster_size(n, area, eps, notes)
            ms = int(self.min_samples) if self.min_samples is not None else mcs
            if self.min_samples is None and mcs is not None:
                notes.append(
                    f"min_samples set to min_cluster_size ({mcs}), scikit-learn's default."
                )

            labels = np.full(n, -1, dtype=np.intp)
            if mcs is not None and ms is not None and len(uniq) >= 2 and n > max(mcs, ms):
                model = HDBSCAN(
                    min_cluster_size=mcs,
                    min_samples=ms,
                    algorithm="kd_tree",
                    allow_single_cluster=False,
                    copy=True,
                )
                labels = model.fit_predict(xy).astype(np.intp)
            labels, loc_labels = _stack_labels(labels, inverse, len(uniq), notes)
            nb_count = (
                _neighbourhood_weights(uniq, counts.astype(float), eps)
                if len(uniq)
                else np.zeros(0)
            )
            n_dropped = 0
            if self.significant_only and loc_labels.max(initial=-1) >= 0:
                n_dropped = self._drop_not_significant(loc_labels, nb_count, n, lam, eps, notes)
                labels = loc_labels[inverse]
            self.min_cluster_size_ = mcs
            self.min_samples_ = ms
            self.labels_ = labels
            self.hotspots_, self.surroundings_ = _hotspots_frame(
                method="hdbscan",
                pts=uniq,
                counts=counts,
                loc_labels=loc_labels,
                nb_count=nb_count,
                eps=eps,
                buffer_m=eps / 2,
                hull=self.hull,
                test=test,
                alpha=self.alpha,
                crs=incidents.crs,
            )
        finally:
            test.tell(None)  # the test's thread waits for it, even when the fit fails
        self.n_clusters_ = len(self.hotspots_)
        n_in = int(self.hotspots_["n_members"].sum())
        n_sig = int(self.hotspots_["significant"].sum())
        notes.append(
            f"Found {self.n_clusters_} cluster(s) holding {n_in:,} of {n:,} incidents; "
            f"{n_sig} hold a {eps:g} m disc that stands out from its surroundings."
        )
        self.notes_ = notes
        self.params_ = {
            "method": "hdbscan",
            "min_cluster_size": mcs,
            "min_cluster_size_rule": rule,
            "min_samples": ms,
            "min_samples_rule": "given" if self.min_samples is not None else "min_cluster_size",
            "scale_m": eps,
            "alpha": float(self.alpha),
            "csr_lambda": None if not np.isfinite(lam) else float(lam),
            "hull": self.hull,
            "concave_ratio": CONCAVE_RATIO if self.hull == "concave" else None,
            "buffer_m": eps / 2,
            "n_incidents": int(n),
            "n_locations": len(uniq),
            "study_area_m2": float(area),
            "significant_only": bool(self.significant_only),
            "n_dropped_not_significant": n_dropped,
            "n_clusters": int(self.n_clusters_),
            "significance": self.surroundings_.describe() if self.surroundings_ else None,
        }
        return self
