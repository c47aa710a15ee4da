"""Violence expected next period at every place, and patrol discs placed and ranked by it.

A patrol area is worth what it will catch *next* month, not what it held. :class:`PlaceForecast`
turns the months a user has into an expected count of next-period violence at every map point,
and scores every candidate disc centre by the violence expected inside it:

1. **Points.** police.uk snaps every crime to one of a fixed set of anonymous map points, so
   violence recurs on the same points; each distinct location is a place. Its monthly counts of
   the target offences (``incidents``) and, optionally, of every other recorded crime and
   anti-social behaviour (``others``) are kept.
2. **Recency** (``half_life``, in periods). Period ``t`` of ``T`` weighs ``0.5 ** ((T - 1 - t) /
   half_life)`` (the last period 1), or every period alike (``"equal"``). ``S_p`` is a point's
   weighted count and ``W`` the sum of the weights (the effective number of periods).
3. **Near misses** (``other_weight``). Other crime and anti-social behaviour at a point add
   ``other_weight`` times their weighted count to ``S_p``: a weak signal of violence to come
   (the national homicide prevention work calls such precursors near misses).
4. **Shrinkage** (``shrinkage``, ``neighbourhood_m``). A point's rate is shrunk toward the mean
   rate of the map points around it (those in the 3 x 3 block of ``neighbourhood_m`` cells round
   its own cell), as an empirical-Bayes (gamma-Poisson) posterior mean with a prior worth
   ``shrinkage`` periods of data: ``rate_p = (S_p + k mu_p) / (W + k)``, ``mu_p`` the
   neighbours' mean of ``S_q / W``. A point seen once in a busy street keeps some of its
   street's rate; a point seen once in a quiet one loses most of its count.
5. **Discs.** Every centre of a ``cell_size`` lattice cell within ``radius_m`` of a map point is a
   candidate (a disc between two busy points catches both, which a disc on either point may
   not); its forecast is the sum of ``rate_p`` over the points within ``radius_m``.
   :meth:`PlaceForecast.discs` takes them greedily, best first, skipping centres closer than
   ``separation_m`` to one taken (default ``2 * radius_m``: discs never overlap).

Every weight left as None is chosen from the user's own earlier periods by rolling-origin
validation (:func:`validate_weights`): each of the last periods of the training data is forecast
from the periods before it only, and the setting that catches the most of that period's target
incidents in the top 10, 20, 50 and 100 discs wins, one weight at a time from the plain forecast
(equal weights, no near misses, no shrinkage), each kept only when it catches at least
:data:`MIN_GAIN` more. With fewer than :data:`MIN_VALIDATION_ORIGINS` validation periods or
fewer than :data:`MIN_VALIDATION_INCIDENTS` target incidents in them, the weights fall back to
the plain forecast (violence alone, plain counts), and the notes say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from hotspots._errors import ParameterError
from hotspots.base import HotspotEstimator, Interval, Options
from hotspots.constants import MICRO_PLACE_M, MICRO_PLACE_RADIUS_M
from hotspots.incidents import Incidents, unique_points

__all__ = [
    "CELL_SIZE_M",
    "HALF_LIFE_GRID",
    "MIN_GAIN",
    "MIN_VALIDATION_INCIDENTS",
    "MIN_VALIDATION_ORIGINS",
    "NEIGHBOURHOOD_GRID",
    "OTHER_WEIGHT_GRID",
    "SHRINKAGE_GRID",
    "VALIDATION_DISC_COUNTS",
    "PlaceForecast",
    "Weights",
    "candidate_centres",
    "closeness",
    "disc_sums",
    "recency_weights",
    "shrink_rates",
    "spaced",
    "validate_weights",
]

#: Candidate disc centres lie on a lattice of this side, metres: the 150 m KDE's cell
#: (:func:`hotspots.grid.default_cell_size` of 150 m), a sixth of a disc's width, so a centre
#: is never more than 18 m from the best position.
CELL_SIZE_M = 25.0
#: Recency half-lives tried, in periods ("equal": every period alike): a year, half a year and a
#: quarter of months; shorter would rest on one or two months' counts.
HALF_LIFE_GRID: tuple[str | float, ...] = ("equal", 12.0, 6.0, 3.0)
#: Weights of one other crime or anti-social behaviour record against one target incident: none,
#: a twentieth, a tenth, a fifth. Other records are several times as many as violence in
#: police.uk files, so a fifth already lets them outweigh the violence itself at many places.
OTHER_WEIGHT_GRID = (0.0, 0.05, 0.1, 0.2)
#: Prior strengths tried, in periods of data: none, one and three periods.
SHRINKAGE_GRID = (0.0, 1.0, 3.0)
#: Neighbourhood cell sides tried, metres: one and two micro places (:data:`MICRO_PLACE_M`); the
#: 3 x 3 block round a point is then about 450 m or 900 m across, a few streets.
NEIGHBOURHOOD_GRID = (MICRO_PLACE_M, 2 * MICRO_PLACE_M)
#: Numbers of discs whose catch the validation adds up (the evaluation's disc counts).
VALIDATION_DISC_COUNTS = (10, 20, 50, 100)
#: Most candidate centres for which the validation builds one k-d tree of them all to find the
#: centres near each one its greedies take (:class:`_Near`): 300,000 points build in about
#: 0.1 s, what the seventy-odd trees of the heads (5,000 centres each) and their queries cost.
SHARED_TREE_MAX_CENTRES = 300_000
#: Fewest validation periods: one period's catch is too noisy to choose by.
MIN_VALIDATION_ORIGINS = 2
#: Fewest target incidents in the validation periods together: with fewer, the top discs catch
#: a handful and no setting can be told from another.
MIN_VALIDATION_INCIDENTS = 100
#: Least relative gain in catch for a weight to be kept over the simpler forecast.
MIN_GAIN = 0.01
#: Most validation periods (as many as the evaluation's rolling origins).
MAX_VALIDATION_ORIGINS = 6


def recency_weights(n_periods: int, half_life: str | float) -> np.ndarray:
    """Weights of periods ``0 .. n_periods - 1`` (oldest first), the last period weighing 1.

    Parameters
    ----------
    n_periods : int
    half_life : float or "equal"
        Periods after which a period's weight halves; ``"equal"`` weighs every period 1.

    Returns
    -------
    ndarray of float, shape (n_periods,)

    Examples
    --------
    >>> recency_weights(3, 1.0).tolist()
    [0.25, 0.5, 1.0]
    >>> recency_weights(2, "equal").tolist()
    [1.0, 1.0]
    """
    n = max(int(n_periods), 0)
    if half_life == "equal":
        return np.ones(n)
    age = np.arange(n - 1, -1, -1, dtype=float)
    return 0.5 ** (age / float(half_life))


def _block_keys(ij: np.ndarray) -> np.ndarray:
    return ij[:, 0].astype(np.int64) * 4_294_967_296 + ij[:, 1].astype(np.int64)


def shrink_rates(
    xy: np.ndarray,
    weighted: np.ndarray,
    effective_periods: float,
    strength: float,
    cell_m: float,
) -> np.ndarray:
    """Per-period rates shrunk toward the neighbourhood's mean rate (gamma-Poisson posterior mean).

    ``rate_p = (S_p + k mu_p) / (W + k)`` where ``S_p`` is the point's weighted count, ``W`` the
    effective number of periods, ``k`` the prior's strength in periods and ``mu_p`` the mean of
    ``S_q / W`` over the points ``q`` in the 3 x 3 block of ``cell_m`` cells round ``p``'s cell
    (``p`` included).

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Distinct map points, metres.
    weighted : ndarray, shape (n,)
        ``S_p``.
    effective_periods : float
        ``W`` (> 0).
    strength : float
        ``k`` (>= 0); 0 gives the raw rates ``S_p / W``.
    cell_m : float
        Neighbourhood cell side, metres.

    Returns
    -------
    ndarray of float, shape (n,)
        Expected incidents per period at each point.

    Examples
    --------
    Two points 10 m apart and one far away; with ``k = W`` each near point moves halfway to
    their mean:

    >>> xy = np.array([[10.0, 10.0], [20.0, 10.0], [5000.0, 5000.0]])
    >>> shrink_rates(xy, np.array([4.0, 0.0, 2.0]), 2.0, 2.0, 150.0).tolist()
    [1.5, 0.5, 1.0]
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    s = np.asarray(weighted, dtype=float)
    if float(strength) <= 0 or len(s) == 0:
        return s / float(effective_periods)
    return _shrink(_blocks(xy, cell_m), s, effective_periods, strength)


@dataclass(frozen=True)
class _Blocks:
    """The 3 x 3 neighbourhoods of points on a lattice of cells, computed once per lattice."""

    inv: np.ndarray  # (n,) cell of each point
    n_cells: int
    hits: tuple[tuple[np.ndarray, np.ndarray], ...]  # per offset: (cells with it, its cell)
    count: np.ndarray  # (n_cells,) points in each cell's 3 x 3 block


def _blocks(xy: np.ndarray, cell_m: float) -> _Blocks:
    ij = np.floor(xy / float(cell_m)).astype(np.int64)
    keys = _block_keys(ij)
    ukeys, inv = np.unique(keys, return_inverse=True)
    inv = inv.ravel()
    cell_n = np.bincount(inv, minlength=len(ukeys)).astype(float)
    uij = ij[np.unique(inv, return_index=True)[1]]
    cnt = np.zeros(len(ukeys))
    hits = []
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            nk = _block_keys(uij + np.array([di, dj]))
            pos = np.clip(np.searchsorted(ukeys, nk), 0, len(ukeys) - 1)
            hit = ukeys[pos] == nk
            hits.append((np.flatnonzero(hit), pos[hit]))
            cnt[hit] += cell_n[pos[hit]]
    return _Blocks(inv, len(ukeys), tuple(hits), cnt)


def _shrink(
    blocks: _Blocks, s: np.ndarray, effective_periods: float, strength: float
) -> np.ndarray:
    """:func:`shrink_rates` on neighbourhoods already found."""
    w = float(effective_periods)
    k = float(strength)
    cell_sum = np.bincount(blocks.inv, weights=s / w, minlength=blocks.n_cells)
    tot = np.zeros(blocks.n_cells)
    for hit, pos in blocks.hits:
        tot[hit] += cell_sum[pos]
    mu = (tot / blocks.count)[blocks.inv]
    return (s + k * mu) / (w + k)


def candidate_centres(
    xy: np.ndarray, radius_m: float, cell_size: float = CELL_SIZE_M
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Candidate disc centres (lattice cell centres within ``radius_m`` of a point, then the
    points themselves) and which points each disc holds.

    Parameters
    ----------
    xy : ndarray, shape (n, 2)
        Distinct map points, metres.
    radius_m, cell_size : float
        Disc radius and lattice side, metres; cell ``(i, j)`` is centred at
        ``((i + 0.5) c, (j + 0.5) c)``.

    Returns
    -------
    centres : ndarray, shape (m + n, 2)
        Every lattice centre at most ``radius_m`` from some point (lexicographic order of cells),
        then the ``n`` points.
    members : scipy.sparse.csr_matrix, shape (m + n, n)
        1 where point ``j`` lies within ``radius_m`` of centre ``i``.

    Examples
    --------
    >>> c, a = candidate_centres(np.array([[0.0, 0.0]]), 20.0, 25.0)
    >>> c.tolist()
    [[-12.5, -12.5], [-12.5, 12.5], [12.5, -12.5], [12.5, 12.5], [0.0, 0.0]]
    >>> a.toarray().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    c = float(cell_size)
    r = float(radius_m)
    if len(xy) == 0:
        return np.empty((0, 2)), sparse.csr_matrix((0, 0))
    reach = int(math.ceil(r / c)) + 1
    off = np.arange(-reach, reach + 1)
    oi, oj = np.meshgrid(off, off, indexing="ij")
    stencil = np.column_stack([oi.ravel(), oj.ravel()])
    # a point lies inside its own cell, so cell (o_i, o_j) away has its centre at least
    # max(|o| - 1/2, 0) cells away along each axis: leave out offsets that cannot be in reach
    gap = np.maximum(np.abs(stencil) - 0.5 - 1e-6, 0.0) * c
    stencil = stencil[(gap**2).sum(axis=1) <= r * r + 1e-9]
    base = np.floor(xy / c).astype(np.int64)
    # 32-bit indices where they fit (halve the memory of tens of millions of pairs nationally)
    small = len(xy) < 2**31 and float(np.abs(base).max()) + reach < 2**31 - 1
    if small:
        base, stencil = base.astype(np.int32), stencil.astype(np.int32)
    index = np.int32 if small else np.int64
    rows: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    chunk = max(1, 2_000_000 // len(stencil))
    for lo in range(0, len(xy), chunk):
        b = base[lo : lo + chunk]
        cand = (b[:, None, :] + stencil[None, :, :]).reshape(-1, 2)
        pts = np.repeat(np.arange(lo, lo + len(b), dtype=index), len(stencil))
        d2 = (((cand + 0.5) * c - xy[pts]) ** 2).sum(axis=1)
        ok = d2 <= r * r + 1e-9
        rows.append(pts[ok])
        cells.append(cand[ok])
    pt = np.concatenate(rows)
    cell = np.concatenate(cells)
    del rows, cells
    keys = _block_keys(cell)
    ukeys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    lattice = (cell[first] + 0.5) * c
    n_cells = len(ukeys)
    del keys, ukeys, first, cell  # nationally 15M pairs: freed before the next big arrays
    on_lattice = sparse.csr_matrix((np.ones(len(pt)), (inv.ravel(), pt)), shape=(n_cells, len(xy)))
    del pt, inv
    pairs = cKDTree(xy).query_pairs(r + 1e-9, output_type="ndarray")
    own = np.arange(len(xy))
    rows_p = np.concatenate([pairs[:, 0], pairs[:, 1], own])
    cols_p = np.concatenate([pairs[:, 1], pairs[:, 0], own])
    del pairs
    on_points = sparse.csr_matrix(
        (np.ones(len(rows_p)), (rows_p, cols_p)), shape=(len(xy), len(xy))
    )
    del rows_p, cols_p
    on_points.sort_indices()  # each row's points in order, as the lattice rows hold them
    return np.vstack([lattice, xy]), sparse.vstack([on_lattice, on_points], format="csr")


def closeness(
    centres: np.ndarray, xy: np.ndarray, members: sparse.csr_matrix, radius_m: float
) -> sparse.csr_matrix:
    """``members`` with each entry ``1 - d² / r²`` (``d`` the centre-to-point distance): among
    discs holding the same points, the one centred on them scores highest (the tie-break)."""
    m = sparse.csr_matrix(members)  # only read: its entries keep their order
    r2 = float(radius_m) ** 2
    data = np.empty(m.nnz)
    indptr = m.indptr
    # a block of rows at a time: nationally 19M entries, whose temporaries took 2.5 GB at once
    step = max(1, (m.shape[0] * _CLOSENESS_BLOCK) // max(m.nnz, 1))
    for lo in range(0, m.shape[0], step):
        hi = min(lo + step, m.shape[0])
        a, b = int(indptr[lo]), int(indptr[hi])
        rows = np.repeat(np.arange(lo, hi), np.diff(indptr[lo : hi + 1]))
        cols = m.indices[a:b]
        dx = centres[rows, 0] - xy[cols, 0]
        dy = centres[rows, 1] - xy[cols, 1]
        data[a:b] = np.clip(1.0 - (dx * dx + dy * dy) / r2, 0.0, 1.0)
    return sparse.csr_matrix((data, m.indices.copy(), indptr.copy()), shape=m.shape)


#: Entries of the membership matrix :func:`closeness` converts per block (bounds its memory).
_CLOSENESS_BLOCK = 2_000_000


def disc_sums(
    centres: np.ndarray, xy: np.ndarray, values: np.ndarray, radius_m: float
) -> np.ndarray:
    """Sum of ``values`` over the points ``xy`` within ``radius_m`` of each centre (metres).

    Examples
    --------
    >>> disc_sums(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [9.0, 0.0]]), [2.0, 5.0], 5.0)
    array([2.])
    """
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    values = np.asarray(values, dtype=float)
    return _tree_sums(cKDTree(xy) if len(xy) else None, values, centres, radius_m)


def spaced(xy: np.ndarray, k: int | None, separation_m: float) -> np.ndarray:
    """Positions of the points of ``xy`` (in preference order) kept when each must lie at least
    ``separation_m`` from every point kept before it; at most ``k`` (None: no limit).

    Examples
    --------
    >>> spaced(np.array([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0], [0.0, 300.0]]), 3, 150.0).tolist()
    [0, 2, 3]
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return np.empty(0, dtype=np.int64)
    return _greedy(_Near(xy, separation_m), np.arange(len(xy)), k)


class _Near:
    """The centres closer than a separation to each centre taken by the greedy (:func:`spaced`),
    from one k-d tree of the centres, each centre's found once and kept.

    The validation (:func:`validate_weights`) runs the greedy once per fold and setting tried,
    on heads of one array of candidate centres that share most of their top centres: one tree
    of them all and the neighbours of a centre asked for again read from :attr:`found` (a centre
    is closer than ``separation_m`` to another in any subset exactly when it is in all of them).
    Used by one call at a time (made and dropped inside it): not shared between threads.
    """

    def __init__(self, centres: np.ndarray, separation_m: float) -> None:
        self.centres = centres
        self.sep = float(separation_m)
        self.tree = cKDTree(centres) if self.sep > 0 and len(centres) else None
        self.found: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.centres)

    def of(self, c: int) -> np.ndarray:
        """Indices of the centres closer than the separation to centre ``c`` (itself included;
        none with no separation)."""
        hit = self.found.get(c)
        if hit is None:
            found = (
                []
                if self.tree is None
                else self.tree.query_ball_point(self.centres[c], r=self.sep * (1 - 1e-12))
            )
            hit = np.array(found, dtype=np.intp)  # an array: indexes faster each time again
            self.found[c] = hit
        return hit


def _next_eligible(eligible: np.ndarray, order: np.ndarray, i: int) -> int:
    """The first position from ``i`` on whose centre is eligible (``len(order)``: none), read in
    doubling blocks, so a jump costs what it skips rather than all the order left."""
    block = 256
    while i < len(order):
        ahead = eligible[order[i : i + block]]
        if ahead.any():
            return i + int(np.argmax(ahead))
        i += block
        block *= 2
    return len(order)


def _greedy(near: _Near, order: np.ndarray, k: int | None) -> np.ndarray:
    """Indices of ``near.centres`` taken in ``order``, skipping any closer than the separation
    to one taken (:meth:`_Near.of`); at most ``k``."""
    limit = len(order) if k is None else int(k)
    eligible = np.zeros(len(near), dtype=bool)
    eligible[order] = True
    taken: list[int] = []
    i = 0
    while i < len(order) and len(taken) < limit:
        if not eligible[order[i]]:  # jump to the next eligible centre, scanning in blocks
            i = _next_eligible(eligible, order, i)
            if i == len(order):
                break
        c = int(order[i])
        taken.append(c)
        eligible[near.of(c)] = False
        eligible[c] = False
        i += 1
    return np.array(taken, dtype=np.int64)


# ============================================================================================
# Counts per point and period


@dataclass(frozen=True)
class _Counts:
    """Distinct points and their counts per period (target and other records)."""

    xy: np.ndarray  # (n, 2)
    target: np.ndarray  # (n, T)
    other: np.ndarray  # (n, T)
    periods: pd.DatetimeIndex
    n_target: np.ndarray | None = None  # (n,) unweighted target rows per point
    # what the weights tried share: neighbourhoods by cell side, weighted sums by half-life
    cache: dict[tuple[str, Any], Any] = field(default_factory=dict, compare=False, repr=False)

    def seen_before(self, t: int) -> np.ndarray:
        """Which points hold a record (target or other) in a period before ``t``."""
        return (self.target[:, :t].sum(axis=1) + self.other[:, :t].sum(axis=1)) > 0

    def upto(self, t: int) -> _Counts:
        """The points seen in periods before ``t`` and their counts there (nothing later)."""
        seen = self.seen_before(t)
        return _Counts(self.xy[seen], self.target[seen, :t], self.other[seen, :t], self.periods[:t])

    def neighbourhoods(self, cell_m: float) -> _Blocks:
        """The 3 x 3 neighbourhoods of the points on ``cell_m`` cells (kept for the next call)."""
        key = ("blocks", float(cell_m))
        if key not in self.cache:
            self.cache[key] = _blocks(self.xy, float(cell_m))
        return self.cache[key]

    def weighted(self, half_life: str | float) -> tuple[np.ndarray, np.ndarray, float]:
        """Target and other counts weighted by recency (:func:`recency_weights`) and the sum
        of the weights (kept for the next call)."""
        key = ("weighted", half_life)
        if key not in self.cache:
            w = recency_weights(self.target.shape[1], half_life)
            self.cache[key] = (self.target @ w, self.other @ w, float(w.sum()))
        return self.cache[key]


def _counts(
    incidents: Incidents, others: Incidents | None, sample_weight: np.ndarray | None = None
) -> tuple[_Counts, int]:
    """Counts per distinct point and observed month (target rows weighted by ``sample_weight``);
    also the undated target rows left out."""
    periods = incidents.months
    frames = [(incidents, True)] + ([(others, False)] if others is not None else [])
    xy_parts, month_parts, is_target, w_parts = [], [], [], []
    for inc, of_target in frames:
        if len(inc) == 0:
            continue
        xy_parts.append(inc.xy)
        month_parts.append(inc.frame["month"].to_numpy())
        is_target.append(np.full(len(inc), of_target))
        given = of_target and sample_weight is not None
        w_parts.append(np.asarray(sample_weight, float) if given else np.ones(len(inc)))
    if not xy_parts:
        empty = np.empty((0, max(len(periods), 1)))
        return _Counts(np.empty((0, 2)), empty, empty, periods), 0
    xy = np.concatenate(xy_parts)
    month = np.concatenate(month_parts)
    tgt = np.concatenate(is_target)
    wt = np.concatenate(w_parts)
    if len(periods):
        t = pd.Index(periods).get_indexer(pd.DatetimeIndex(month))
    else:  # no month anywhere: one period
        periods = pd.DatetimeIndex([pd.NaT])
        t = np.zeros(len(xy), dtype=np.int64)
    undated = int(((t < 0) & tgt).sum())
    ok = t >= 0
    uxy, inv = unique_points(xy[ok], return_inverse=True)
    n_t = len(periods)
    target = np.zeros((len(uxy), n_t))
    other = np.zeros((len(uxy), n_t))
    np.add.at(target, (inv[tgt[ok]], t[ok][tgt[ok]]), wt[ok][tgt[ok]])
    np.add.at(other, (inv[~tgt[ok]], t[ok][~tgt[ok]]), 1.0)
    n_target = np.bincount(inv[tgt[ok]], minlength=len(uxy)).astype(float)
    return _Counts(uxy, target, other, periods, n_target), undated


@dataclass(frozen=True)
class Weights:
    """One setting of the forecast's weights.

    Attributes
    ----------
    half_life : float or "equal"
        Recency half-life, periods.
    other_weight : float
        Weight of one other crime or anti-social behaviour record.
    shrinkage : float
        Prior strength, periods.
    neighbourhood_m : float
        Neighbourhood cell side, metres.
    """

    half_life: str | float = "equal"
    other_weight: float = 0.0
    shrinkage: float = 0.0
    neighbourhood_m: float = MICRO_PLACE_M

    def rates(self, counts: _Counts) -> np.ndarray:
        """Expected target incidents next period at each point of ``counts``."""
        s, other, w = counts.weighted(self.half_life)
        if self.other_weight:
            s = s + self.other_weight * other
        if self.shrinkage <= 0 or len(s) == 0:
            return s / w
        return _shrink(counts.neighbourhoods(self.neighbourhood_m), s, w, self.shrinkage)

    def describe(self) -> str:
        hl = (
            "every period weighed alike"
            if self.half_life == "equal"
            else f"recency half-life {float(self.half_life):g} periods"
        )
        other = (
            f"other crime and anti-social behaviour weighed {self.other_weight:g}"
            if self.other_weight
            else "violence alone"
        )
        shrink = (
            f"shrunk toward the 3 x 3 block of {self.neighbourhood_m:g} m cells with a prior "
            f"worth {self.shrinkage:g} period(s)"
            if self.shrinkage
            else "no shrinkage"
        )
        return f"{hl}; {other}; {shrink}"


# ============================================================================================
# Rolling-origin validation


def _top_spaced(
    centres: np.ndarray,
    keys: Sequence[np.ndarray],
    k: int | None,
    separation_m: float,
    eligible: np.ndarray | None = None,
    admit: Callable[[np.ndarray], np.ndarray] | None = None,
    near: _Near | None = None,
) -> np.ndarray:
    """Indices of at most ``k`` centres (None: no limit) taken greedily (:func:`spaced`) in the
    order of ``keys`` (each descending, the first most significant, then the index) among the
    ``eligible`` ones (default: ``keys[0] > 0``) that ``admit`` lets through.

    ``near`` (a :class:`_Near` of ``centres`` and ``separation_m``) finds the neighbours of the
    centres taken among all the centres, keeping them for the next call; without it a k-d tree
    of the head is built for this call. Both take the same centres.

    Only the head of that order is sorted: the centres whose first key is at least a threshold
    come first in it, and the greedy's choices among the first centres of an order do not
    depend on the rest, so when ``k`` are taken from such a head they are the choices on the
    whole order; otherwise a lower threshold makes a longer head. The threshold is read from
    every 16th centre, to hold about ``48 k`` (the greedy takes about one in 30 near the top).
    """
    primary = keys[0]
    if eligible is None:
        eligible = primary > 0
    need = 48 * max(int(k or 0), 1)
    sample = primary[::16]
    while True:
        q = need // 16
        cut = None
        if k is not None and q < len(sample):
            cut = np.partition(sample, len(sample) - q)[len(sample) - q]
        head = np.flatnonzero(eligible if cut is None else eligible & (primary >= cut))
        order = head[np.lexsort(tuple(-key[head] for key in reversed(keys)))]
        if admit is not None and len(order):
            order = order[admit(order)]
        if near is None:
            take = order[spaced(centres[order], k, separation_m)]
        else:
            take = _greedy(near, order, k)
        if k is None or cut is None or len(take) >= k:
            return take
        need *= 4


def _tree_sums(
    tree: cKDTree | None, values: np.ndarray, centres: np.ndarray, radius_m: float
) -> np.ndarray:
    """:func:`disc_sums` with the k-d tree of the points already built (None: no points)."""
    if tree is None or len(centres) == 0:
        return np.zeros(len(centres))
    hits = tree.query_ball_point(centres, r=float(radius_m) + 1e-9)
    return np.array([values[h].sum() for h in hits], dtype=float)


def _grid_steps(fixed: Weights, given: dict[str, Any]) -> list[tuple[str, list[Weights]]]:
    """The forward-selection steps: for each weight left to choose, the settings tried."""
    steps: list[tuple[str, list[Weights]]] = []
    if given.get("half_life") is None:
        steps.append(("half_life", [Weights(half_life=h) for h in HALF_LIFE_GRID]))
    if given.get("other_weight") is None and given.get("_has_others"):
        steps.append(("other_weight", [Weights(other_weight=b) for b in OTHER_WEIGHT_GRID]))
    if given.get("shrinkage") is None or given.get("neighbourhood_m") is None:
        ks = SHRINKAGE_GRID if given.get("shrinkage") is None else (given["shrinkage"],)
        hs = (
            NEIGHBOURHOOD_GRID
            if given.get("neighbourhood_m") is None
            else (given["neighbourhood_m"],)
        )
        steps.append(
            ("shrinkage", [Weights(shrinkage=k, neighbourhood_m=h) for k in ks for h in hs])
        )
    return steps


def validate_weights(
    counts: _Counts,
    *,
    given: dict[str, Any],
    radius_m: float,
    separation_m: float,
    cell_size: float = CELL_SIZE_M,
    origins: int | None = None,
    candidates: tuple[np.ndarray, sparse.csr_matrix] | None = None,
) -> tuple[Weights, pd.DataFrame, list[str]]:
    """Choose the weights left as None by rolling-origin validation on the training periods.

    Each of the last ``origins`` periods (default ``min(6, T // 2)``) is forecast from the periods
    before it only (points, candidate centres and neighbourhoods included); a setting's score is
    its catch in the top :data:`VALIDATION_DISC_COUNTS` discs of those periods, each count's catch
    relative to the plain forecast's, averaged. Weights are chosen one at a time (half-life, near
    misses, shrinkage), each kept only if it beats the setting so far by :data:`MIN_GAIN`.

    Parameters
    ----------
    counts : _Counts
        Counts per distinct point and period.
    given : dict
        The weights given (None: to choose) and ``_has_others``.
    radius_m, separation_m, cell_size : float
        Disc radius, least distance between centres and lattice side, metres.
    origins : int, optional
        Validation periods.
    candidates : (centres, members), optional
        :func:`candidate_centres` of ``counts.xy`` if already made.

    Returns
    -------
    weights : Weights
    table : pandas.DataFrame
        One row per setting tried: ``step``, ``half_life``, ``other_weight``, ``shrinkage``,
        ``neighbourhood_m``, ``score`` (1 = the plain forecast), ``chosen``.
    notes : list of str
    """
    start = Weights(
        half_life="equal" if given.get("half_life") is None else given["half_life"],
        other_weight=0.0 if given.get("other_weight") is None else float(given["other_weight"]),
        shrinkage=0.0 if given.get("shrinkage") is None else float(given["shrinkage"]),
        neighbourhood_m=MICRO_PLACE_M
        if given.get("neighbourhood_m") is None
        else float(given["neighbourhood_m"]),
    )
    steps = _grid_steps(start, given)
    cols = ["step", "half_life", "other_weight", "shrinkage", "neighbourhood_m", "score", "chosen"]
    if not steps:
        return start, pd.DataFrame(columns=cols), []
    n_t = counts.target.shape[1]
    r = min(MAX_VALIDATION_ORIGINS, n_t // 2) if origins is None else int(origins)
    test_total = float(counts.target[:, n_t - r :].sum()) if r > 0 else 0.0
    if r < MIN_VALIDATION_ORIGINS or test_total < MIN_VALIDATION_INCIDENTS:
        why = (
            f"{n_t} period(s) give {max(r, 0)} validation period(s), fewer than "
            f"{MIN_VALIDATION_ORIGINS}"
            if r < MIN_VALIDATION_ORIGINS
            else f"the validation periods hold {test_total:.0f} target incidents, fewer than "
            f"{MIN_VALIDATION_INCIDENTS}"
        )
        note = (
            f"Forecast weights not validated: {why}; the plain forecast is used "
            f"({start.describe()})."
        )
        return start, pd.DataFrame(columns=cols), [note]
    # one set of candidate centres for every fold: a fold's own centres are the lattice
    # centres within reach of the points it has seen, then those points, in the same order,
    # and a disc's score there is its score here with every point not yet seen at zero
    centres, members = (
        candidate_centres(counts.xy, radius_m, cell_size) if candidates is None else candidates
    )
    n_lattice = len(centres) - len(counts.xy)
    k_top = max(VALIDATION_DISC_COUNTS)
    # every fold and setting takes from the same centres: one tree of them all, unless it would
    # cost more to build than a tree of each head (about 1 ms each) and its neighbours save
    near = _Near(centres, separation_m) if len(centres) <= SHARED_TREE_MAX_CENTRES else None
    folds = []
    for t in range(n_t - r, n_t):
        past = counts.upto(t)
        if len(past.xy) == 0:
            continue
        seen = counts.seen_before(t)
        held = np.zeros(len(counts.xy))
        held[seen] = past.target.sum(axis=1)
        test = counts.target[:, t] > 0
        tree = cKDTree(counts.xy[test]) if test.any() else None
        folds.append((past, seen, members @ held, tree, counts.target[test, t]))

    def catch(wt: Weights) -> np.ndarray:
        total = np.zeros(len(VALIDATION_DISC_COUNTS))
        for past, seen, tie, tree, tn in folds:
            rates = np.zeros(len(counts.xy))
            rates[seen] = wt.rates(past)
            scores = members @ rates
            scores[n_lattice:][~seen] = 0.0  # not a centre of this fold
            take = _top_spaced(centres, (scores, tie), k_top, separation_m, near=near)
            got = np.cumsum(_tree_sums(tree, tn, centres[take], radius_m))
            total += [
                got[min(k, len(got)) - 1] if len(got) else 0.0 for k in VALIDATION_DISC_COUNTS
            ]
        return total

    base = catch(start)
    safe = np.where(base > 0, base, 1.0)

    def score(c: np.ndarray) -> float:
        return float(np.mean(np.where(base > 0, c / safe, 1.0)))

    best, best_score = start, 1.0
    rows: list[dict[str, Any]] = []
    for step, grid in steps:
        tried = []
        for g in grid:
            trial = _merge(best, g, step)
            s = best_score if trial == best else score(catch(trial))
            rows.append({"step": step, **_as_row(trial), "score": s, "chosen": False})
            tried.append((s, trial))
        top_score, top = max(tried, key=lambda st: st[0])
        if top_score > best_score * (1 + MIN_GAIN):
            best, best_score = top, top_score
    table = pd.DataFrame(rows, columns=cols)
    if len(table):
        chosen = np.ones(len(table), dtype=bool)
        for name, value in _as_row(best).items():
            chosen &= table[name].astype(str).to_numpy() == str(value)
        table["chosen"] = chosen
    months = ", ".join(f"{p:%Y-%m}" for p in counts.periods[n_t - r :] if not pd.isna(p))
    note = (
        f"Forecast weights chosen by rolling-origin validation on {r} earlier period(s) "
        f"({months}), each forecast from the periods before it only: {best.describe()} "
        f"(catches {100 * (best_score - 1):+.1f} % in the top 10-100 discs against plain counts)."
    )
    return best, table, [note]


def _merge(current: Weights, trial: Weights, step: str) -> Weights:
    if step == "half_life":
        return Weights(trial.half_life, current.other_weight, current.shrinkage,
                       current.neighbourhood_m)  # fmt: skip
    if step == "other_weight":
        return Weights(current.half_life, trial.other_weight, current.shrinkage,
                       current.neighbourhood_m)  # fmt: skip
    return Weights(current.half_life, current.other_weight, trial.shrinkage, trial.neighbourhood_m)


def _as_row(w: Weights) -> dict[str, Any]:
    return {
        "half_life": w.half_life,
        "other_weight": float(w.other_weight),
        "shrinkage": float(w.shrinkage),
        "neighbourhood_m": float(w.neighbourhood_m),
    }


# ============================================================================================
# The estimator


class PlaceForecast(HotspotEstimator):
    """Expected target incidents next period at every map point and in every candidate disc.

    Parameters
    ----------
    radius_m : float, default 75
        Disc radius, metres (:data:`~hotspots.constants.MICRO_PLACE_RADIUS_M`: 150 m across).
    separation_m : float, optional
        Least distance between two disc centres, metres; default ``2 * radius_m``.
    cell_size : float, default 25
        Side of the lattice of candidate centres, metres (:data:`CELL_SIZE_M`).
    half_life : float or "equal", optional
        Recency half-life in periods (months); None: chosen from :data:`HALF_LIFE_GRID`.
    other_weight : float, optional
        Weight of one other crime or anti-social behaviour record (needs ``others`` in
        :meth:`fit`); None: chosen from :data:`OTHER_WEIGHT_GRID` (0 without ``others``).
    shrinkage : float, optional
        Prior strength in periods; None: chosen from :data:`SHRINKAGE_GRID`.
    neighbourhood_m : float, optional
        Neighbourhood cell side, metres; None: chosen from :data:`NEIGHBOURHOOD_GRID`.
    origins : int, optional
        Validation periods; default ``min(6, periods // 2)``.

    Attributes
    ----------
    weights_ : Weights
        The weights used (given or chosen).
    periods_ : pandas.DatetimeIndex
        The observed periods (months) the forecast is built from.
    points_ : pandas.DataFrame
        One row per distinct map point: ``x``, ``y`` (metres), ``incidents`` (target),
        ``others`` and ``rate`` (expected target incidents next period).
    centres_ : pandas.DataFrame
        Candidate centres with a positive forecast, best first: ``x``, ``y``, ``forecast``
        (expected target incidents within ``radius_m`` next period) and ``incidents`` (target
        incidents of the training periods within ``radius_m``).
    validation_ : pandas.DataFrame
        The settings tried (:func:`validate_weights`); empty when nothing was chosen.
    params_ : dict
    notes_ : list of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.uniform(0, 2000, 60), np.full(30, 1000.0)]
    >>> y = np.r_[rng.uniform(0, 2000, 60), np.full(30, 1000.0)]
    >>> month = np.r_[rng.choice(["2024-01", "2024-02", "2024-03"], 60), ["2024-03"] * 30]
    >>> inc = Incidents.from_xy(x, y, month=month)
    >>> fc = PlaceForecast(half_life="equal", shrinkage=0.0).fit(inc)
    >>> fc.discs(1)[["centre_x", "centre_y", "incidents"]].round(1).values.tolist()
    [[1000.0, 1000.0, 30.0]]
    """

    parameter_constraints = {
        "radius_m": [Interval(Real, 0, None, closed="neither")],
        "separation_m": [None, Interval(Real, 0, None)],
        "cell_size": [Interval(Real, 0, None, closed="neither")],
        "half_life": [None, Options("equal"), Interval(Real, 0, None, closed="neither")],
        "other_weight": [None, Interval(Real, 0, 1)],
        "shrinkage": [None, Interval(Real, 0, None)],
        "neighbourhood_m": [None, Interval(Real, 0, None, closed="neither")],
        "origins": [None, Interval(Integral, 1, None)],
    }
    parameter_hints = {
        "half_life": "give a number of periods (months), 'equal', or None to choose it.",
    }

    def __init__(
        self,
        *,
        radius_m: float = MICRO_PLACE_RADIUS_M,
        separation_m: float | None = None,
        cell_size: float = CELL_SIZE_M,
        half_life: str | float | None = None,
        other_weight: float | None = None,
        shrinkage: float | None = None,
        neighbourhood_m: float | None = None,
        origins: int | None = None,
    ) -> None:
        self.radius_m = radius_m
        self.separation_m = separation_m
        self.cell_size = cell_size
        self.half_life = half_life
        self.other_weight = other_weight
        self.shrinkage = shrinkage
        self.neighbourhood_m = neighbourhood_m
        self.origins = origins

    def fit(
        self,
        incidents: Incidents,
        y: None = None,
        *,
        others: Incidents | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> PlaceForecast:
        """Count, choose the weights, and score every candidate centre.

        Parameters
        ----------
        incidents : Incidents
            The target offences (violence), analysis CRS.
        y : None
            Ignored (scikit-learn's signature).
        others : Incidents, optional
            Every other recorded crime and anti-social behaviour of the same periods and CRS
            (read the files once with ``crime_types="all"`` and split with
            :func:`hotspots.ingest.filter_incidents`): the near misses.
        sample_weight : ndarray, optional
            A weight per target incident (harm weights); default 1 each. ``incidents`` in
            :attr:`centres_` stay unweighted counts.

        Returns
        -------
        PlaceForecast
        """
        self.validate(incidents)
        if others is not None:
            self.validate(others)
            if not others.crs.equals(incidents.crs):
                msg = "others must be in the same analysis CRS as incidents (read them together)."
                raise ParameterError(msg)
        if self.other_weight and others is None:
            msg = (
                f"other_weight={self.other_weight!r} needs the other crime records: pass "
                "others= to fit, or leave other_weight unset."
            )
            raise ParameterError(msg)
        radius = float(self.radius_m)
        sep = 2.0 * radius if self.separation_m is None else float(self.separation_m)
        if sample_weight is not None and len(np.asarray(sample_weight)) != len(incidents):
            msg = "sample_weight must hold one weight per incident."
            raise ParameterError(msg)
        counts, undated = _counts(incidents, others, sample_weight)
        notes: list[str] = []
        if undated:
            notes.append(
                f"{undated} target incident(s) without a month are left out of the forecast."
            )
        given = {
            "half_life": self.half_life,
            "other_weight": self.other_weight if others is not None else 0.0,
            "shrinkage": self.shrinkage,
            "neighbourhood_m": self.neighbourhood_m,
            "_has_others": others is not None and len(others) > 0,
        }
        centres, members = candidate_centres(counts.xy, radius, float(self.cell_size))
        weights, table, vnotes = validate_weights(
            counts,
            given=given,
            radius_m=radius,
            separation_m=sep,
            cell_size=float(self.cell_size),
            origins=self.origins,
            candidates=(centres, members),
        )
        notes += vnotes
        rates = weights.rates(counts) if len(counts.xy) else np.empty(0)
        total = counts.n_target if counts.n_target is not None else counts.target.sum(axis=1)
        self.points_ = pd.DataFrame(
            {
                "x": counts.xy[:, 0],
                "y": counts.xy[:, 1],
                "incidents": total,
                "others": counts.other.sum(axis=1),
                "rate": rates,
            }
        )
        forecast = members @ rates if len(centres) else np.empty(0)
        held = members @ total if len(centres) else np.empty(0)
        near = (
            closeness(centres, counts.xy, members, radius) @ rates if len(centres) else np.empty(0)
        )
        self._scored = (centres, forecast, held, near)
        self._centres: pd.DataFrame | None = None
        self.weights_ = weights
        self.periods_ = counts.periods
        self.validation_ = table
        self.separation_m_ = sep
        how = {
            name: "given" if getattr(self, name) is not None else "validated"
            for name in ("half_life", "other_weight", "shrinkage", "neighbourhood_m")
        }
        if others is None:
            how["other_weight"] = "no other crime records given"
        if vnotes and vnotes[0].startswith("Forecast weights not validated"):
            how = {k: v if v == "given" else "fallback: plain forecast" for k, v in how.items()}
        self.params_ = {
            **self.param_record(),
            "separation_m": sep,
            "half_life": weights.half_life,
            "other_weight": float(weights.other_weight),
            "shrinkage": float(weights.shrinkage),
            "neighbourhood_m": float(weights.neighbourhood_m),
            "weights_chosen_by": how,
            "periods": len(counts.periods),
            "near_misses": others is not None,
            "grids": {
                "half_life": list(HALF_LIFE_GRID),
                "other_weight": list(OTHER_WEIGHT_GRID),
                "shrinkage": list(SHRINKAGE_GRID),
                "neighbourhood_m": list(NEIGHBOURHOOD_GRID),
            },
        }
        notes.insert(
            0,
            f"Patrol discs placed and ranked by the violence expected next period within "
            f"{radius:g} m ({weights.describe()}).",
        )
        self.notes_ = notes
        return self

    @property
    def centres_(self) -> pd.DataFrame:
        """Candidate centres with a positive forecast, best first (sorted when first read)."""
        if self._centres is None:
            centres, forecast, held, near = self._scored
            keep = forecast > 0
            keys = (np.round(forecast[keep], 9), np.round(near[keep], 9), held[keep])
            order = np.flatnonzero(keep)[np.lexsort(tuple(-key for key in reversed(keys)))]
            self._centres = pd.DataFrame(
                {
                    "x": centres[order, 0] if len(order) else np.empty(0),
                    "y": centres[order, 1] if len(order) else np.empty(0),
                    "forecast": forecast[order],
                    "incidents": held[order],
                }
            )
        return self._centres

    def discs(
        self,
        n: int | None = None,
        *,
        min_incidents: float = 0,
        exclude: BaseGeometry | None = None,
        crs: Any = None,
    ) -> gpd.GeoDataFrame:
        """Greedy non-overlapping discs, best forecast first.

        Parameters
        ----------
        n : int, optional
            Most discs (default: as many as qualify).
        min_incidents : float, default 0
            A disc must hold at least this many target incidents of the training periods.
        exclude : shapely geometry, optional
            No centre inside it (analysis CRS).
        crs : optional
            CRS of the result (the incidents' analysis CRS).

        Returns
        -------
        geopandas.GeoDataFrame
            ``rank`` (1 first), ``centre_x``, ``centre_y`` (metres), ``radius_m``, ``score`` and
            ``forecast`` (expected target incidents next period), ``incidents`` (training) and
            the disc ``geometry`` (64-sided).
        """
        centres, forecast, held, near = self._scored
        ok = (forecast > 0) & (held >= float(min_incidents) - 1e-9)
        outside: Callable[[np.ndarray], np.ndarray] | None = None
        if exclude is not None and not exclude.is_empty:

            def outside(idx: np.ndarray) -> np.ndarray:
                xy = centres[idx]
                return ~shapely.intersects_xy(exclude, xy[:, 0], xy[:, 1])

        keys = (np.round(forecast, 9), np.round(near, 9), held)
        take = _top_spaced(centres, keys, n, self.separation_m_, ok, outside)
        xy = centres
        radius = float(self.radius_m)
        pts = shapely.points(xy[take]) if len(take) else np.empty(0, dtype=object)
        geoms = shapely.buffer(pts, radius, quad_segs=16) if len(take) else []
        fc = forecast[take]
        gdf = gpd.GeoDataFrame(
            {
                "rank": np.arange(1, len(take) + 1),
                "centre_x": xy[take, 0] if len(take) else np.empty(0),
                "centre_y": xy[take, 1] if len(take) else np.empty(0),
                "radius_m": radius,
                "score": fc,
                "forecast": fc,
                "incidents": held[take],
            },
            geometry=gpd.GeoSeries(geoms, crs=crs),
            crs=crs,
        )
        gdf.attrs["params"] = {"rule": "forecast discs", "radius_m": radius, **self.params_}
        gdf.attrs["notes"] = list(self.notes_)
        return gdf
