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
from collections.abc import Sequence
from dataclasses import dataclass
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
    w = float(effective_periods)
    raw = s / w
    k = float(strength)
    if k <= 0 or len(s) == 0:
        return raw
    ij = np.floor(xy / float(cell_m)).astype(np.int64)
    keys = _block_keys(ij)
    ukeys, inv = np.unique(keys, return_inverse=True)
    inv = inv.ravel()
    cell_sum = np.bincount(inv, weights=raw, minlength=len(ukeys))
    cell_n = np.bincount(inv, minlength=len(ukeys)).astype(float)
    uij = ij[np.unique(inv, return_index=True)[1]]
    tot = np.zeros(len(ukeys))
    cnt = np.zeros(len(ukeys))
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            nk = _block_keys(uij + np.array([di, dj]))
            pos = np.clip(np.searchsorted(ukeys, nk), 0, len(ukeys) - 1)
            hit = ukeys[pos] == nk
            tot[hit] += cell_sum[pos[hit]]
            cnt[hit] += cell_n[pos[hit]]
    mu = (tot / cnt)[inv]
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
    base = np.floor(xy / c).astype(np.int64)
    rows: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    chunk = max(1, 2_000_000 // len(stencil))
    for lo in range(0, len(xy), chunk):
        b = base[lo : lo + chunk]
        cand = (b[:, None, :] + stencil[None, :, :]).reshape(-1, 2)
        pts = np.repeat(np.arange(lo, lo + len(b)), len(stencil))
        d2 = (((cand + 0.5) * c - xy[pts]) ** 2).sum(axis=1)
        ok = d2 <= r * r + 1e-9
        rows.append(pts[ok])
        cells.append(cand[ok])
    pt = np.concatenate(rows)
    cell = np.concatenate(cells)
    keys = _block_keys(cell)
    ukeys, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    lattice = (cell[first] + 0.5) * c
    on_lattice = sparse.csr_matrix(
        (np.ones(len(pt)), (inv.ravel(), pt)), shape=(len(ukeys), len(xy))
    )
    near = cKDTree(xy).query_ball_point(xy, r=r + 1e-9)
    rows_p = np.repeat(np.arange(len(xy)), [len(h) for h in near])
    cols_p = np.concatenate([np.asarray(h, dtype=np.int64) for h in near])
    on_points = sparse.csr_matrix(
        (np.ones(len(rows_p)), (rows_p, cols_p)), shape=(len(xy), len(xy))
    )
    return np.vstack([lattice, xy]), sparse.vstack([on_lattice, on_points], format="csr")


def closeness(
    centres: np.ndarray, xy: np.ndarray, members: sparse.csr_matrix, radius_m: float
) -> sparse.csr_matrix:
    """``members`` with each entry ``1 - d² / r²`` (``d`` the centre-to-point distance): among
    discs holding the same points, the one centred on them scores highest (the tie-break)."""
    m = members.tocoo()
    d2 = ((centres[m.row] - xy[m.col]) ** 2).sum(axis=1) / float(radius_m) ** 2
    return sparse.csr_matrix((np.clip(1.0 - d2, 0.0, 1.0), (m.row, m.col)), shape=m.shape)


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
    if len(xy) == 0 or len(centres) == 0:
        return np.zeros(len(centres))
    hits = cKDTree(xy).query_ball_point(centres, r=float(radius_m) + 1e-9)
    return np.array([values[h].sum() for h in hits], dtype=float)


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
    return _greedy(xy, cKDTree(xy), np.arange(len(xy)), k, separation_m)


def _greedy(
    centres: np.ndarray, tree: cKDTree, order: np.ndarray, k: int | None, separation_m: float
) -> np.ndarray:
    """Indices of ``centres`` taken in ``order``, skipping any closer than ``separation_m`` to one
    taken (``tree`` is a k-d tree of ``centres``); at most ``k``."""
    limit = len(order) if k is None else int(k)
    eligible = np.zeros(len(centres), dtype=bool)
    eligible[order] = True
    sep = float(separation_m)
    taken: list[int] = []
    i = 0
    while i < len(order) and len(taken) < limit:
        if not eligible[order[i]]:  # jump to the next eligible centre in one scan
            rest = eligible[order[i:]]
            if not rest.any():
                break
            i += int(np.argmax(rest))
        c = int(order[i])
        taken.append(c)
        if sep > 0:
            eligible[tree.query_ball_point(centres[c], r=sep * (1 - 1e-12))] = False
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

    def upto(self, t: int) -> _Counts:
        """The points seen in periods before ``t`` and their counts there (nothing later)."""
        seen = (self.target[:, :t].sum(axis=1) + self.other[:, :t].sum(axis=1)) > 0
        return _Counts(self.xy[seen], self.target[seen, :t], self.other[seen, :t], self.periods[:t])


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
        n_t = counts.target.shape[1]
        w = recency_weights(n_t, self.half_life)
        s = counts.target @ w
        if self.other_weight:
            s = s + self.other_weight * (counts.other @ w)
        return shrink_rates(counts.xy, s, float(w.sum()), self.shrinkage, self.neighbourhood_m)

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


def _top_catch(
    centres: np.ndarray,
    tree: cKDTree,
    scores: np.ndarray,
    tiebreak: np.ndarray,
    test_xy: np.ndarray,
    test_n: np.ndarray,
    radius_m: float,
    separation_m: float,
    counts: Sequence[int],
) -> np.ndarray:
    """Test incidents caught by the top ``k`` spaced discs, for each ``k`` in ``counts``."""
    pos = np.flatnonzero(scores > 0)
    order = pos[np.lexsort((-tiebreak[pos], -scores[pos]))]
    take = _greedy(centres, tree, order, max(counts), separation_m)
    got = np.cumsum(disc_sums(centres[take], test_xy, test_n, radius_m))
    return np.array([got[min(k, len(got)) - 1] if len(got) else 0.0 for k in counts])


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
) -> tuple[Weights, pd.DataFrame, list[str]]:
    """Choose the weights left as None by rolling-origin validation on the training periods.

    Each of the last ``origins`` periods (default ``min(6, T // 2)``) is forecast from the periods
    before it only (points, candidate centres and neighbourhoods included); a setting's score is
    its catch in the top :data:`VALIDATION_DISC_COUNTS` discs of those periods, each count's catch
    relative to the plain forecast's, averaged. Weights are chosen one at a time (half-life, near
    misses, shrinkage), each kept only if it beats the setting so far by :data:`MIN_GAIN`.

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
    folds = []
    for t in range(n_t - r, n_t):
        past = counts.upto(t)
        if len(past.xy) == 0:
            continue
        centres, members = candidate_centres(past.xy, radius_m, cell_size)
        test = counts.target[:, t] > 0
        folds.append(
            (past, centres, cKDTree(centres), members, members @ past.target.sum(axis=1),
             counts.xy[test], counts.target[test, t])
        )  # fmt: skip

    def catch(wt: Weights) -> np.ndarray:
        total = np.zeros(len(VALIDATION_DISC_COUNTS))
        for past, centres, tree, members, tie, txy, tn in folds:
            scores = members @ wt.rates(past)
            total += _top_catch(
                centres, tree, scores, tie, txy, tn, radius_m, separation_m, VALIDATION_DISC_COUNTS
            )
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
        weights, table, vnotes = validate_weights(
            counts,
            given=given,
            radius_m=radius,
            separation_m=sep,
            cell_size=float(self.cell_size),
            origins=self.origins,
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
        centres, members = candidate_centres(counts.xy, radius, float(self.cell_size))
        forecast = members @ rates if len(centres) else np.empty(0)
        held = members @ total if len(centres) else np.empty(0)
        near = (
            closeness(centres, counts.xy, members, radius) @ rates if len(centres) else np.empty(0)
        )
        keep = forecast > 0
        order = np.flatnonzero(keep)[
            np.lexsort((-held[keep], -np.round(near[keep], 9), -np.round(forecast[keep], 9)))
        ]
        self.centres_ = pd.DataFrame(
            {
                "x": centres[order, 0] if len(order) else np.empty(0),
                "y": centres[order, 1] if len(order) else np.empty(0),
                "forecast": forecast[order],
                "incidents": held[order],
            }
        )
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
        c = self.centres_
        ok = c["incidents"].to_numpy() >= float(min_incidents) - 1e-9
        xy = c[["x", "y"]].to_numpy(dtype=float)
        if exclude is not None and not exclude.is_empty and len(xy):
            ok &= ~shapely.intersects_xy(exclude, xy[:, 0], xy[:, 1])
        idx = np.flatnonzero(ok)
        take = idx[spaced(xy[idx], n, self.separation_m_)]
        radius = float(self.radius_m)
        pts = shapely.points(xy[take]) if len(take) else np.empty(0, dtype=object)
        geoms = shapely.buffer(pts, radius, quad_segs=16) if len(take) else []
        fc = c["forecast"].to_numpy()[take]
        gdf = gpd.GeoDataFrame(
            {
                "rank": np.arange(1, len(take) + 1),
                "centre_x": xy[take, 0] if len(take) else np.empty(0),
                "centre_y": xy[take, 1] if len(take) else np.empty(0),
                "radius_m": radius,
                "score": fc,
                "forecast": fc,
                "incidents": c["incidents"].to_numpy()[take],
            },
            geometry=gpd.GeoSeries(geoms, crs=crs),
            crs=crs,
        )
        gdf.attrs["params"] = {"rule": "forecast discs", "radius_m": radius, **self.params_}
        gdf.attrs["notes"] = list(self.notes_)
        return gdf
