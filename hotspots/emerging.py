"""Emerging hot spots: each place's significance period by period, then ArcGIS's classes.

The incidents are split into consecutive periods (months, quarters or years). In every period,
each cell's 3 x 3 neighbourhood is tested against what its surroundings predict for that period
(:func:`period_tests`), on one sparse grid over one study area, with Benjamini-Hochberg false
discovery rate control over the study area's cells in each period. Each cell is then classed
from the sequence of periods in which it was a significant hot (or cold) spot and the
Mann-Kendall trend of its per-period z-scores, with the classes and final-period rules of
ArcGIS Pro's Emerging Hot Spot Analysis: new, consecutive, intensifying, persistent,
diminishing, sporadic, oscillating and historical hot and cold spots (see
:func:`classify_hotspots`).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from shapely.geometry.base import BaseGeometry

from hotspots._errors import ParameterError, TooFewPeriodsError
from hotspots.engine import engine_record
from hotspots.gistar import DEFAULT_CELL_M, GiStarGrid, gistar_grid
from hotspots.grid import cell_boxes
from hotspots.incidents import Incidents, unique_points
from hotspots.jsonutil import to_jsonable
from hotspots.record import FrozenList, freeze
from hotspots.stats import (
    MannKendall,
    benjamini_hochberg,
    catchment_areas,
    in_background,
    mann_kendall,
    nbinom_tail,
)

__all__ = [
    "CATEGORIES",
    "CLASSES",
    "DEFAULT_NULL",
    "MIN_PERIODS",
    "NULLS",
    "PERSISTENT_SHARE",
    "EmergingResult",
    "PeriodTests",
    "auto_period_months",
    "classify_hotspots",
    "pattern_classes",
    "period_tests",
]

#: Fewest periods the classification accepts. ArcGIS's space-time cube defaults to at least ten
#: time steps, and the Mann-Kendall test's normal approximation (which ArcGIS uses) is only
#: recommended from about ten values on (Gilbert 1987, section 16.4); ArcGIS's "90 % of the time
#: steps" also means "all" below ten periods. With fewer, :func:`classify_hotspots` says so
#: (:class:`~hotspots.TooFewPeriodsError`) instead of classing.
MIN_PERIODS = 10

#: ArcGIS's share of the periods in which a persistent, intensifying, diminishing or historical
#: hot spot is significant ("90 percent of the time-step intervals").
PERSISTENT_SHARE = 0.9

#: Null distributions of a neighbourhood's count in one period (see :func:`period_tests`).
NULLS = ("local", "poisson", "negative-binomial", "normal")

#: The default null: each neighbourhood against its surroundings' rate over the whole data.
DEFAULT_NULL = "local"

#: The eight patterns, in ArcGIS's order; each is a hot and a cold category.
CLASSES = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)

CATEGORIES = (
    *(f"{c} hot spot" for c in CLASSES),
    *(f"{c} cold spot" for c in CLASSES),
    "no pattern",
)

#: Period lengths tried by the automatic rule, longest first (years, quarters, months).
_PERIOD_LENGTHS = (12, 3, 1)
#: Rows (cells) per block of the elementwise work on (cells, periods) arrays: a block of a few
#: such arrays stays in the cache, and no temporary as large as a whole array is made (on the
#: national grid, 1.1 million cells by 11 periods, a whole temporary is 96 MB of fresh pages;
#: by blocks the variance takes 0.07 s instead of 0.25-0.4 s). Every element gets the same
#: operations in the same order, so the same bits.
_ROW_BLOCK = 1 << 13

#: Share of the rows whose trend :func:`_start_trend` tests in a thread of its own: the calling
#: thread first clears the periods cells are not busy enough in (about half the trend's work on
#: the national grid), then tests the rest; three quarters keep both threads busy about as long.
_TREND_BACKGROUND_SHARE = 0.75

_CELL_COLUMNS = (
    "counts",
    "total",
    "expected",
    "z_scores",
    "gi_z_scores",
    "n_hot_periods",
    "n_cold_periods",
    "final",
    "category",
    "mk_tau",
    "mk_z",
    "mk_p",
    "mk_q",
    "trend",
)


@dataclass(frozen=True, eq=False, init=False)
class EmergingResult:
    """What :func:`classify_hotspots` returns; read-only (``params`` is a
    :class:`hotspots.record.FrozenDict`), since the app shares it between sessions.

    ``cells`` may be given as a GeoDataFrame or as a function of no argument returning one,
    called once, the first time :attr:`cells` is read (from any thread).

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        One row per computed cell (cells with an incident in any period, plus their neighbours), in
        the analysis CRS: ``geometry`` (square cell), ``counts`` (list of int, incidents in the
        cell per period), ``total``, ``expected`` (list of float: the neighbourhood's count
        expected from its surroundings per period), ``z_scores`` (the neighbourhood's
        standardised count against that, per period; the series the trend is tested on),
        ``gi_z_scores`` (the classic Gi* z against each period's study-area mean, as ArcGIS
        reports), ``n_hot_periods``, ``n_cold_periods``, ``final`` (``"hot"``, ``"cold"`` or
        ``""``: the cell in the last period), ``category`` (one of :data:`CATEGORIES`),
        ``mk_tau``, ``mk_z``, ``mk_p`` (Mann-Kendall of ``z_scores``), ``mk_q`` (its
        Benjamini-Hochberg q-value among the cells the trend classes test, NaN for the others)
        and ``trend`` (``"increasing"``, ``"decreasing"`` or ``"no trend"`` at ``alpha`` on
        ``mk_p``, for information; the classes use ``mk_q``). The per-period lists are Arrow
        fixed-size list columns (read-only, one buffer each, no Python object per cell).
        Built the first time it is read (a national grid has a million cells, and the
        classification, the areas and their exports need none of their boxes).
    areas : geopandas.GeoDataFrame
        One row per connected part of the union of the cells of each category (``"no pattern"``
        excluded): ``geometry``, ``category``, ``n_cells``, ``incidents`` (inside the area, all
        periods) and ``top_location`` (most frequent location text); sorted by category, then
        incidents.
    params : dict
        Every parameter and automatic choice, JSON-serialisable.
    notes : list of str
        Sentences announcing each automatic choice and caveat.
    """

    areas: gpd.GeoDataFrame
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: The cells' table, or the function that builds it (see :attr:`cells`).
    _cells: gpd.GeoDataFrame | Callable[[], gpd.GeoDataFrame] = field(init=False, repr=False)
    _cells_lock: threading.Lock = field(init=False, repr=False)

    def __init__(
        self,
        cells: gpd.GeoDataFrame | Callable[[], gpd.GeoDataFrame],
        areas: gpd.GeoDataFrame,
        params: dict[str, Any] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        object.__setattr__(self, "_cells", cells)
        object.__setattr__(self, "_cells_lock", threading.Lock())
        object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "params", freeze(params or {}))
        object.__setattr__(self, "notes", FrozenList(str(n) for n in notes or ()))

    @property
    def cells(self) -> gpd.GeoDataFrame:
        """Every computed cell and its class (see the class's Attributes)."""
        if not isinstance(self._cells, pd.DataFrame):
            with self._cells_lock:
                if not isinstance(self._cells, pd.DataFrame):
                    object.__setattr__(self, "_cells", self._cells())
        return cast(gpd.GeoDataFrame, self._cells)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_cells_lock"]  # a lock is not pickled: each copy has its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cells_lock=threading.Lock())


class PeriodTests(NamedTuple):
    """Per-period tests of every computed cell of a grid (arrays of shape (cells, periods))."""

    #: The neighbourhood's count (local sum) in each period.
    local: np.ndarray
    #: Its expectation under the null.
    expected: np.ndarray
    #: Its variance under the null.
    variance: np.ndarray
    #: ``(local - expected) / sqrt(variance)``.
    z: np.ndarray
    #: The classic Gi* z-score against the period's study-area mean.
    gi_z: np.ndarray
    #: Significantly high (hot family q-value below ``alpha``), per period.
    hot: np.ndarray
    #: Significantly low, per period.
    cold: np.ndarray
    #: The expectation the cold family uses (at most ``expected``: the ring without its busiest
    #: quarter of cells, so a hot spot nearby does not make a quiet place "cold").
    expected_cold: np.ndarray
    #: Its variance.
    variance_cold: np.ndarray
    #: One-sided p-value of a high count (1 where the count is not above its expectation).
    p_hot: np.ndarray
    #: One-sided p-value of a low count (1 where the count is not below its expectation).
    p_cold: np.ndarray


def auto_period_months(n_months: int) -> int:
    """The longest of years, quarters and months that gives at least :data:`MIN_PERIODS` periods.

    Parameters
    ----------
    n_months : int
        Observed months of data.

    Returns
    -------
    int
        12, 3 or 1 (months per period); 1 when even months give fewer than ten periods (the
        classification then says there are too few).

    Notes
    -----
    Longer periods hold more incidents, so each period's test has more power; but the classes
    need :data:`MIN_PERIODS` periods. So: months up to 29 months of data, quarters from 30
    (ten quarters) to 119, years from 120 (ten years). The R package sfhotspot's
    ``hotspot_classify`` (M. P. J. Ashby, https://github.com/mpjashby/sfhotspot) also lengthens
    its periods with the span.

    Examples
    --------
    >>> auto_period_months(12), auto_period_months(36), auto_period_months(240)
    (1, 3, 12)
    """
    for length in _PERIOD_LENGTHS:
        if n_months // length >= MIN_PERIODS:
            return length
    return 1


def period_tests(
    grid: GiStarGrid,
    counts: np.ndarray,
    *,
    null: str = DEFAULT_NULL,
    alpha: float = 0.05,
    dispersion: float = 1.0,
    exposure: np.ndarray | Callable[[], np.ndarray | None] | None = None,
) -> PeriodTests:
    """Test every computed cell's neighbourhood in every period.

    Parameters
    ----------
    grid : hotspots.gistar.GiStarGrid
        The sparse grid (3 x 3 neighbourhoods, a one-cell ring around them).
    counts : array of shape (n_occupied, n_periods)
        Incidents of each occupied cell in each period.
    null : {"local", "poisson", "negative-binomial", "normal"}, default "local"
        ``"local"``: see Notes. The others: :meth:`hotspots.gistar.GiStarGrid.test` on each
        period alone, against that period's study-area mean.
    alpha : float, default 0.05
        False discovery rate of each period's hot and cold families.
    dispersion : float, default 1
        ``phi``, the clumping of incidents (:meth:`hotspots.gistar.GiStarGrid.split_dispersion`).
    exposure : array of shape (n_occupied,), optional
        The ground each occupied cell collects incidents from, in cells (``"local"`` only): the
        summed catchments of its map points (:func:`hotspots.stats.catchment_areas` divided by
        the cell's area). Default: each cell's in-area share. Or a function returning it (or
        None), called once the work that does not need it is done, so that a caller drawing
        the catchments in a thread has that work run meanwhile.

    Returns
    -------
    PeriodTests

    Notes
    -----
    Gi*'s local null (:class:`hotspots.gistar.GiStarHotspots`) compares a neighbourhood with the
    ring of cells around it *in the same data*. One period's counts are too sparse for that: a
    month on Merseyside puts about three violent incidents in a typical 450 m neighbourhood and
    a handful in its ring, so even a neighbourhood of seven incidents with an empty ring reaches
    only ``p = (9/25)^7`` (0.0008, too little after the false discovery rate over thousands of
    cells). The ``"local"`` null therefore takes the ring's *rate* from the whole data, where it
    is well measured, and scales it to the period: with ``R`` the ring's incidents over all
    periods, ``A - W`` its cells, ``W`` the neighbourhood's cells and ``N_t / N`` the period's
    share of all incidents, the neighbourhood's expected count in period ``t`` is
    ``E_t = R W / (A - W) * N_t / N``. The question per period is then the user's: is this place
    busier than its own surroundings usually are, given how busy the whole area was that
    period? The count is negative binomial with mean ``E_t`` and variance
    ``phi E_t + phi E_t^2 / (R + 1)`` (clumping, and the noise of the ring's rate), and each
    period's hot and cold families are Benjamini-Hochberg controlled over the study area's
    ``n`` cells, as in :mod:`hotspots.gistar`.

    *Snapping.* police.uk moves each crime to the nearest of its map points, so a cell holding
    a map point with a large catchment collects many incidents wherever crime is evenly spread.
    With ``exposure`` (what :func:`classify_hotspots` passes), cells are weighed by the
    catchments of their map points instead of their area, as in the hot spot significance
    (:class:`hotspots.stats.SurroundingsTest`): ``E_t = R / X_R * X_W * N_t / N`` with ``X`` the
    summed exposures of the ring and of the neighbourhood. Measured on snapped uneven towns of
    60,000 incidents without change, this cut the cells classed "sporadic" from 60-90 per
    run to about 4.

    *Heuristics.* A cell whose ring has less exposure than its neighbourhood (the edge of the
    study area, or a sparse place where one map point collects a wide area) uses its whole
    window's rate, itself included, which errs on the safe side. The cold family takes the ring
    without its busiest quarter of cells (at most the full ring's rate), so a hot spot in the
    ring does not make its quiet neighbours "cold" (without it, steady hot spots were ringed by
    "persistent cold spots" 250-530 m away). The period share is the whole area's, so a
    district whose volume changes unlike the rest of the area shifts its places' expectations
    a little.
    """
    counts = np.asarray(counts, dtype=float)
    if null != "local" or len(grid) == 0:
        return _gi_star_periods(grid, counts, null, alpha)
    local = grid.local_sums(counts)
    gi_z = grid.gi_z_columns(counts, local)  # the classic z of each period, as GiStarGrid.test's
    # the seven arrays written once the exposure is known, their pages touched now (while a
    # caller's catchments are still being drawn): expected, variance, their cold family's, z,
    # p_hot and p_cold
    out = _touched(7, local.shape)
    expected, variance, expected_low, variance_low = _local_null(
        grid, counts, local, dispersion, exposure, out=out[:4]
    )
    z = out[4]  # (local - expected) / sqrt(variance), 0 where no variance
    for rows in _blocks(len(z)):
        zb, v = z[rows], variance[rows]
        np.subtract(local[rows], expected[rows], out=zb)
        with np.errstate(divide="ignore", invalid="ignore"):
            zb /= np.sqrt(v)
        zb[~(v > 0)] = 0.0
    hot, cold, p_hot, p_cold = _local_families(
        local, expected, variance, expected_low, variance_low, alpha, grid.n_cells,
        p_out=(out[5], out[6]),
    )  # fmt: skip
    return PeriodTests(
        local, expected, variance, z, gi_z, hot, cold, expected_low, variance_low,
        p_hot, p_cold,
    )  # fmt: skip


def _gi_star_periods(grid: GiStarGrid, counts: np.ndarray, null: str, alpha: float) -> PeriodTests:
    """Each period alone through :meth:`hotspots.gistar.GiStarGrid.test` (the classic Gi* z).

    For the ``"local"`` null (on an empty grid only: :func:`period_tests` computes its classic z
    itself) only ``local`` and ``gi_z`` are filled (the rest stays zero, nothing significant);
    for the others every field comes from that test.
    """
    n_t = counts.shape[1]
    m = len(grid)
    local = grid.local_sums(counts) if m else np.zeros((0, n_t))
    gi_z = np.zeros((m, n_t))
    hot = np.zeros((m, n_t), dtype=bool)
    cold = np.zeros((m, n_t), dtype=bool)
    expected = np.zeros((m, n_t))
    variance = np.zeros((m, n_t))
    z = np.zeros((m, n_t))
    p_hot = np.ones((m, n_t))
    p_cold = np.ones((m, n_t))
    for t in range(n_t):
        g = grid.test(counts[:, t], null="poisson" if null == "local" else null, dispersion=1.0)
        gi_z[:, t] = g.gi_z
        if null != "local":
            expected[:, t] = g.expected
            z[:, t] = g.z
            with np.errstate(divide="ignore", invalid="ignore"):
                variance[:, t] = np.where(g.z != 0, ((g.local - g.expected) / g.z) ** 2, 0.0)
            sig = g.q_value < alpha
            hot[:, t] = sig & (g.direction > 0)
            cold[:, t] = sig & (g.direction < 0)
            p_hot[:, t] = np.where(g.direction > 0, g.p_value, 1.0)
            p_cold[:, t] = np.where(g.direction < 0, g.p_value, 1.0)
    return PeriodTests(
        local, expected, variance, z, gi_z, hot, cold, expected, variance, p_hot, p_cold
    )


def _local_null(
    grid: GiStarGrid,
    counts: np.ndarray,
    local: np.ndarray,
    dispersion: float,
    exposure: np.ndarray | Callable[[], np.ndarray | None] | None,
    *,
    out: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ``"local"`` null of :func:`period_tests` (see its Notes), shape (cells, periods).

    Returns the expectation and variance of each neighbourhood's count for the hot family (the
    ring's rate over all periods, scaled to the period), then for the cold family (the ring
    without its busiest quarter of cells); written into the four arrays ``out`` when given.
    """
    m = len(grid)
    n_t = counts.shape[1]
    total = float(counts.sum())
    share_t = counts.sum(axis=0) / total if total > 0 else np.zeros(n_t)
    cell_totals = _cell_totals(grid, counts)
    ring = grid.window_sums(counts.sum(axis=1)) - local.sum(axis=1)
    # the trimmed ring's layout does not need the exposure: laid out before it is asked for
    trim = _RingTrim(grid, cell_totals, expect_busy_only=exposure is not None)
    if callable(exposure):
        exposure = exposure()
    if exposure is None:  # each cell's in-area share, in cells
        exp_cell = grid.fraction.astype(float)
        nb_exp = grid.n_neighbours.astype(float)
        ring_exp = grid.n_window - nb_exp
    else:  # catchments of the map points in each cell, in cells
        exp_cell = np.zeros(m)
        exp_cell[grid.occupied] = exposure
        nb_exp = grid.local_sums(np.asarray(exposure, dtype=float))
        ring_exp = grid.window_sums(np.asarray(exposure, dtype=float)) - nb_exp
    # Jeffreys' half incident keeps an empty ring from predicting exactly nothing
    no_ring = ring_exp <= 1e-9
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(no_ring, total / max(grid.area_cells, 1e-9), (ring + 0.5) / ring_exp)
        rel_var = np.where(no_ring, 0.0, 1.0 / (ring + 0.5))
    # for the cold family, the ring without its busiest quarter of cells (at most the ring's
    # mean): a hot spot in the ring must not make its quiet neighbours "cold"
    rate_low = trim.rate(exp_cell)
    rel_var_low = rel_var
    rate_low = np.minimum(rate_low, rate)
    w = nb_exp
    phi = max(float(dispersion), 1.0)
    # the cold family's in a thread of its own meanwhile (the same operations, so the same bits)
    hot_out, low_out = (None, None) if out is None else (out[:2], out[2:])
    low = in_background(_expected_variance, rate_low * w, share_t, phi, rel_var_low, out=low_out)
    expected, variance = _expected_variance(rate * w, share_t, phi, rel_var, out=hot_out)
    expected_low, variance_low = low.result()
    return expected, variance, expected_low, variance_low


def _expected_variance(
    cell_rate: np.ndarray,
    share_t: np.ndarray,
    phi: float,
    rel_var: np.ndarray,
    *,
    out: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each neighbourhood's expected count per period, ``cell_rate`` (per cell) times the
    period's share ``share_t``, and its variance (:func:`_nb_variance`); written into the two
    arrays ``out`` when given."""
    expected = np.multiply(
        cell_rate[:, None], share_t[None, :], out=None if out is None else out[0]
    )
    return expected, _nb_variance(expected, phi, rel_var, out=None if out is None else out[1])


def _touched(k: int, shape: tuple[int, ...]) -> list[np.ndarray]:
    """``k`` float arrays of ``shape`` (zeros), every page written: a large array's fresh pages
    are faulted in on their first write (on the national grid, 0.08 CPU s for each array of 1.1
    million cells by 11 periods), so a thread that would otherwise wait does it beforehand."""
    out = [np.empty(shape) for _ in range(k)]
    for a in out:
        a.fill(0.0)
    return out


def _nb_variance(
    expected: np.ndarray, phi: float, rel_var: np.ndarray, *, out: np.ndarray | None = None
) -> np.ndarray:
    """``phi E + phi E^2 rel_var`` per cell and period, by blocks of rows (the same products
    and sum, so the same bits); written into ``out`` when given."""
    out = np.empty_like(expected) if out is None else out
    tmp = np.empty((min(_ROW_BLOCK, len(out)), out.shape[1]))
    for rows in _blocks(len(out)):
        o, e, t = out[rows], expected[rows], tmp[: rows.stop - rows.start]
        np.square(e, out=o)
        o *= phi
        o *= rel_var[rows, None]
        np.multiply(e, phi, out=t)
        o += t
    return out


def _blocks(n: int) -> list[slice]:
    """Slices of ``n`` rows, :data:`_ROW_BLOCK` at a time."""
    return [slice(s, min(s + _ROW_BLOCK, n)) for s in range(0, n, _ROW_BLOCK)]


def _local_families(
    local: np.ndarray,
    expected: np.ndarray,
    variance: np.ndarray,
    expected_low: np.ndarray,
    variance_low: np.ndarray,
    alpha: float,
    n_cells: int,
    *,
    p_out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hot, cold, p_hot, p_cold): each period's one-sided hot and cold families, each
    Benjamini-Hochberg controlled over the study area's ``n_cells`` cells (the cells not
    computed have p-value 1). The periods are independent: they run on two threads (NumPy and
    SciPy's special functions release the GIL), each answer written back in period order.
    ``p_out``: the two arrays p_hot and p_cold are written into, when given."""
    m, n_t = local.shape
    hot = np.zeros((m, n_t), dtype=bool)
    cold = np.zeros((m, n_t), dtype=bool)
    if p_out is None:
        p_hot, p_cold = np.ones((m, n_t)), np.ones((m, n_t))
    else:
        p_hot, p_cold = p_out
        p_hot.fill(1.0)
        p_cold.fill(1.0)
    n_rest = max(n_cells - m, 0)
    # which cells are above (below) their expectation, by blocks of rows, one row per period;
    # half of the blocks in a thread of its own meanwhile (each writes its own columns)
    ups = np.empty((n_t, m), dtype=bool)
    downs = np.empty((n_t, m), dtype=bool)

    def signs(blocks: list[slice]) -> None:
        for rows in blocks:
            ups[:, rows] = (np.round(local[rows] - expected[rows], 9) > 0).T
            downs[:, rows] = (np.round(local[rows] - expected_low[rows], 9) < 0).T

    blocks = _blocks(m)
    first = in_background(signs, blocks[: len(blocks) // 2])
    signs(blocks[len(blocks) // 2 :])
    first.result()

    def one(t: int) -> tuple[np.ndarray, ...]:
        up, down = np.flatnonzero(ups[t]), np.flatnonzero(downs[t])
        p_up = nbinom_tail(local[up, t], expected[up, t], variance[up, t], upper=True)
        p_down = nbinom_tail(
            local[down, t], expected_low[down, t], variance_low[down, t], upper=False
        )
        q_up = benjamini_hochberg(p_up, 1.0, n_rest + (m - len(up)))
        q_down = benjamini_hochberg(p_down, 1.0, n_rest + (m - len(down)))
        return up, p_up, q_up, down, p_down, q_down

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hotspots") as pool:
        for t, (up, p_up, q_up, down, p_down, q_down) in enumerate(pool.map(one, range(n_t))):
            hot[up[q_up < alpha], t] = True
            cold[down[q_down < alpha], t] = True
            p_hot[up, t] = p_up
            p_cold[down, t] = p_down
    return hot, cold, p_hot, p_cold


def _catchments(xy: np.ndarray, study_area: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The distinct locations of the incidents ``xy``: one incident at each (its index), and
    the location's catchment in the study area (:func:`hotspots.stats.catchment_areas`, square
    metres)."""
    loc, inv = unique_points(xy, return_inverse=True)
    catch = catchment_areas(loc, study_area)
    any_incident = np.zeros(len(loc), dtype=np.intp)
    any_incident[inv] = np.arange(len(xy))
    return any_incident, catch


def _exposure(grid: GiStarGrid, any_incident: np.ndarray, catch: np.ndarray) -> np.ndarray:
    """Per occupied cell: the summed catchments of its map points (:func:`_catchments`), in
    cells."""
    cell_of = grid.point_occupied[any_incident]
    return np.bincount(cell_of, weights=catch / grid.cell_size**2, minlength=len(grid.occupied))


def _cell_totals(grid: GiStarGrid, counts: np.ndarray) -> np.ndarray:
    """Incidents of every computed cell over all periods (0 for cells without incidents)."""
    out = np.zeros(len(grid))
    out[grid.occupied] = counts.sum(axis=1)
    return out


def _ring_trimmed_rate(grid: GiStarGrid, totals: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """Per computed cell: the rate of its ring without the busiest quarter of its cells
    (``floor(16 / 4) = 4`` of a full ring, by incidents over all periods), per unit of exposure;
    0 when nothing with exposure is left (:class:`_RingTrim`)."""
    return _RingTrim(grid, totals).rate(exposure)


class _RingTrim:
    """:func:`_ring_trimmed_rate` in two steps: the ring cells laid out and the busiest left
    out (from the totals alone), then the rates for an exposure (:meth:`rate`).

    Where exposure sits only on cells with incidents (the catchments), a ring's sums see only
    those cells: a ring holding at most one of them keeps nothing (its busiest cell is left
    out, and the rate is 0), and only the rings holding two or more are laid out and trimmed
    (the same rows as laying out every row, so the same bits; on the national grid 0.5 of 1.1
    million rows, found from the 0.19 million busy cells). With ``expect_busy_only`` False, or
    an exposure on other cells too (the shares), every row is laid out.
    """

    def __init__(self, grid: GiStarGrid, totals: np.ndarray, *, expect_busy_only: bool = True):
        nbr = {tuple(o) for o in grid.nbr_offsets.tolist()}
        self.grid, self.totals = grid, totals
        self.offsets = np.array(
            [o for o in grid.window_offsets.tolist() if tuple(o) not in nbr], dtype=np.int64
        ).reshape(-1, 2)
        self.layout: _RingLayout | None = None
        if not expect_busy_only or (totals < 0).any() or len(self.offsets) == 0:
            return
        m = len(grid)
        busy = np.flatnonzero(totals > 0)
        # the cells whose ring holds a busy cell: that cell shifted back by each ring offset
        back = grid.shifted_positions(-self.offsets, busy).ravel()
        held = np.bincount(back[back >= 0], minlength=m)
        self.layout = _ring_layout(grid, totals, self.offsets, np.flatnonzero(held >= 2))

    def rate(self, exposure: np.ndarray) -> np.ndarray:
        """The rates for ``exposure`` (per computed cell)."""
        grid, totals = self.grid, self.totals
        m = len(grid)
        if self.layout is None or (exposure[totals <= 0] != 0).any():
            every = _ring_layout(grid, totals, self.offsets, np.arange(m))
            return _ring_rate(every, exposure)
        out = np.zeros(m)
        if len(self.layout.rows):
            out[self.layout.rows] = _ring_rate(self.layout, exposure)
        return out


class _RingLayout(NamedTuple):
    """The ring cells of some computed cells (``rows``), with the busiest left out."""

    rows: np.ndarray
    #: (ring offsets, rows): where each ring cell is among the computed cells, 0 where absent
    at: np.ndarray
    found: np.ndarray
    #: (rows, ring offsets): the ring cells kept
    keep: np.ndarray
    #: the kept cells' incidents, per row
    kept: np.ndarray


def _ring_layout(
    grid: GiStarGrid, totals: np.ndarray, ring_offsets: np.ndarray, rows: np.ndarray
) -> _RingLayout:
    """The ring cells of the computed cells ``rows`` laid out as columns of (rows, ring
    offsets) arrays, and the ``k`` busiest of each row (the earlier offset first among equals)
    left out by ``k`` passes of a row-wise argmax (a row whose ``k`` is reached is only read,
    not changed); the sums run along the rows, so the rates are the same bits as cell by cell.
    By blocks of rows (:data:`_ROW_BLOCK`), each block's arrays in the cache."""
    m = len(rows)
    at = grid.shifted_positions(ring_offsets, rows)  # (ring offsets, rows): a row at a time
    found = at >= 0
    at[~found] = 0
    k = np.maximum(found.sum(axis=0) // 4, 1)
    values = np.empty((m, len(ring_offsets)))
    keep = np.ones(values.shape, dtype=bool)
    kept = np.empty(m)
    for block in _blocks(m):
        v, kb, kk = values[block], keep[block], k[block]
        v[...] = np.where(found[:, block], totals[at[:, block]], 0.0).T
        # leave out the k busiest (the earlier offset first among equals): k passes of argmax
        left = v.copy()
        index = np.arange(len(left))
        for step in range(int(kk.max())):
            busiest = np.argmax(left, axis=1)
            more = kk > step
            kb[index[more], busiest[more]] = False
            left[index[more], busiest[more]] = -np.inf
        kept[block] = (v * kb).sum(axis=1)
    return _RingLayout(rows, at, found, keep, kept)


def _ring_rate(layout: _RingLayout, exposure: np.ndarray) -> np.ndarray:
    """The kept ring cells' incidents over their ``exposure``, per row of ``layout`` (by blocks
    of rows, the same row sums)."""
    rest_w = np.empty(len(layout.rows))
    for block in _blocks(len(rest_w)):
        weight = np.ascontiguousarray(
            np.where(layout.found[:, block], exposure[layout.at[:, block]], 0.0).T
        )
        rest_w[block] = (weight * layout.keep[block]).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rest_w > 0, layout.kept / rest_w, 0.0)


def _ring_trimmed_rate_dense(
    grid: GiStarGrid,
    totals: np.ndarray,
    exposure: np.ndarray,
    ring_offsets: np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:
    """:func:`_ring_trimmed_rate` of the computed cells ``rows``, every ring cell laid out."""
    return _ring_rate(_ring_layout(grid, totals, ring_offsets, rows), exposure)


def classify_hotspots(
    incidents: Incidents,
    *,
    cell_size: float = DEFAULT_CELL_M,
    period_months: int | None = None,
    alpha: float = 0.05,
    persistent_share: float = PERSISTENT_SHARE,
    null: str = DEFAULT_NULL,
) -> EmergingResult:
    """Class grid cells as new, consecutive, intensifying, persistent, diminishing, sporadic,
    oscillating or historical hot (or cold) spots, as ArcGIS's Emerging Hot Spot Analysis.

    Parameters
    ----------
    incidents : Incidents
        Incidents with a ``month``; those without one are left out (and a note says how many).
    cell_size : float, default 150
        Cell side in metres, in the analysis CRS (the guide's 150 m patrol unit). Neighbours are
        the queen contiguity cells (within ``cell_size * sqrt(2)``), the cell itself included;
        the ring around them is one cell wide.
    period_months : int, optional
        Months per period. Default :func:`auto_period_months` of the observed months from the
        first to the last incident's month: the longest of years, quarters and months giving at
        least :data:`MIN_PERIODS` periods. Periods are runs of consecutive *observed* months,
        starting at the first; months with no input row at all
        (:attr:`hotspots.incidents.Incidents.missing_months`) are skipped, and a note says so. A
        shorter last period is kept.
    alpha : float, default 0.05
        False discovery rate of the per-period tests, and of the Mann-Kendall trends the
        intensifying and diminishing classes rest on.
    persistent_share : float, default 0.9
        ArcGIS's "90 percent of the time-step intervals".
    null : {"local", "poisson", "negative-binomial", "normal"}, default "local"
        The per-period test (:func:`period_tests`): each neighbourhood against its surroundings'
        usual rate (default), or against each period's study-area mean (ArcGIS's Gi* per time
        step; every busy district is then "hot").

    Returns
    -------
    EmergingResult

    Raises
    ------
    hotspots.ParameterError
        For invalid parameters; :class:`hotspots.TooFewPeriodsError` (a ParameterError) when the
        data give fewer than :data:`MIN_PERIODS` periods (the message names the count and the
        fix).

    Notes
    -----
    **Per period.** A cell is *hot in a period* when its neighbourhood is significantly above
    its expectation (:func:`period_tests`, Benjamini-Hochberg over the study area's cells in
    that period); *cold* likewise below. A cell whose neighbourhood is hot only because of a
    busy neighbour is no hot spot itself: its hot periods count only if the cell itself held
    more incidents in them than its share of the neighbourhood's expectation (the rule of
    :class:`hotspots.gistar.GiStarHotspots`); its cold periods only if it held fewer. A cell with
    no incident in any period is never classed by itself.

    **Classes** (ArcGIS Pro, "How Emerging Hot Spot Analysis works"), with ``n`` periods, the
    last one *final*, "90 %" meaning at least ``ceil(0.9 n)`` periods, and the trend the
    Mann-Kendall test of the cell's per-period z-scores:

    - **new**: hot in the final period and never before (nor cold);
    - **consecutive**: a single run of at least two hot periods at the end, never hot (nor
      cold) before it, hot in under 90 %;
    - **intensifying**: hot in at least 90 %, the final period included, with a significant
      increasing trend;
    - **persistent**: hot in at least 90 %, the final period included, no significant trend;
    - **diminishing**: as persistent, with a significant decreasing trend;
    - **sporadic**: hot in the final period, hot on and off before (in some earlier period, or
      over the earlier periods pooled), in under 90 %, never cold;
    - **oscillating**: hot in the final period, in under 90 %, and cold in some earlier period;
    - **historical**: not hot in the final period, but hot in at least 90 %.

    Cold classes mirror them. A cell with a hot class keeps it; otherwise it may have a cold
    one (so a place hot for 90 % of the periods and cold in the final one is a historical hot
    spot, not an oscillating cold spot).

    **Where this departs from ArcGIS, and why.** (1) "Never hot before" is checked twice for
    new and consecutive hot spots: in each earlier period (ArcGIS's rule), and over the earlier
    periods pooled, which must not be significantly hot even at level ``alpha`` without
    correction. One month is a weak test, so a steady but modest hot spot is often missed
    month by month and then caught in the final month; ArcGIS calls it "new", which sends a
    patrol to a "new" problem that is years old. (2) The trend classes test Mann-Kendall with a
    Benjamini-Hochberg correction over the cells that qualify for them (hot or cold in at
    least 90 % including the final period); uncorrected, a town with a few dozen steady hot
    cells gets "intensifying" ones by chance in most runs. (3) The per-period test compares a
    place with its surroundings, not with the study area's mean (see :func:`period_tests`).
    (4) Cells without incidents are never classed by themselves.

    **Enough periods.** :data:`MIN_PERIODS` (10): see its comment. With fewer the function
    raises :class:`~hotspots.TooFewPeriodsError` naming how many periods the data give and how
    to get more (a longer span, or shorter periods).

    **Measured** (``tests/test_emerging.py``: smooth uneven towns of 12 km x 12 km, 30 % uniform
    background and four broad Gaussian bumps, eight steady compact spots of 5-40 incidents a
    month, every incident snapped to the nearest of 4,000 map points, twelve months, nothing
    changing). No run of 20 had a new, consecutive or intensifying hot spot at 12k, 24k or 60k
    incidents (the steady spots were persistent or sporadic; 2-4 historical cells in 20 runs);
    the classification before this design (sfhotspot's rules, Gi* against each period's mean)
    gave 23-54 "emerging" and hundreds of "former" and "intermittent" cells per run at 24k.
    Planted patterns in such a town (20 seeds; spots of 30-130 incidents a month, snapped) got
    their class with recall: new 0.90, consecutive 0.90, intensifying 0.80, persistent 1.0,
    diminishing 0.95, historical 1.0, sporadic 1.0. Without catchment exposure, 60-90 cells
    per run at 60k were "sporadic" from snapping alone.

    Counts are incidents (harm weights are not used). Only the cells where some period has an
    incident, and their neighbours, are computed: every other cell of the study area has zero
    counts in every period and is handled as a block, as in :mod:`hotspots.gistar`.

    References
    ----------
    Esri, ArcGIS Pro tool reference, "How Emerging Hot Spot Analysis works" (pattern
    definitions) and "How Create Space Time Cube works" (at least ten time steps).
    H. B. Mann (1945), "Nonparametric tests against trend", *Econometrica* 13(3), 245-259.
    M. G. Kendall (1975), *Rank Correlation Methods*, 4th ed., Griffin.
    R. O. Gilbert (1987), *Statistical Methods for Environmental Pollution Monitoring*, Van
    Nostrand Reinhold, chapter 16 (Mann-Kendall: exact tables up to ten values, the normal
    approximation beyond).
    Y. Benjamini and Y. Hochberg (1995), "Controlling the false discovery rate", *J. R. Statist.
    Soc. B* 57(1), 289-300.
    """
    cell = float(cell_size)
    _check_parameters(cell_size, alpha, persistent_share, null, period_months)
    dist = cell * math.sqrt(2)
    crs = incidents.crs
    n_cells = max(int(round(incidents.study_area_m2 / cell**2)), 1)
    params: dict[str, Any] = {
        "method": "emerging-gistar",
        "cell_size_m": cell,
        "neighbour_distance_m": dist,
        "weights": "binary, self-included (queen contiguity)",
        "counts": "incidents (harm weights not used)",
        "alpha": alpha,
        "multiple_testing": (
            "Benjamini-Hochberg FDR over the study-area cells, hot and cold as separate one-sided "
            "families, separately in each period; Mann-Kendall trends Benjamini-Hochberg over "
            "the cells the trend classes test"
        ),
        "null": null,
        "n_cells": n_cells,
        "persistent_share": persistent_share,
        "min_periods": MIN_PERIODS,
        "trend_test": (
            "Mann-Kendall on per-period z-scores, normal approximation, tie and continuity "
            "corrections, two-sided"
        ),
        "categories": list(CATEGORIES),
        "engine": engine_record(),
    }
    notes: list[str] = []
    has_month = incidents.frame["month"].notna().to_numpy()
    n_missing = int((~has_month).sum())
    params["n_excluded_no_month"] = n_missing
    if n_missing:
        notes.append(
            f"{n_missing} incident(s) without a month were left out of the emerging hot spot "
            "classification."
        )
    frame = incidents.frame.loc[has_month]
    if frame.empty:
        params.update(
            {
                "n_incidents": 0,
                "n_periods": 0,
                "period_months": period_months,
                "category_counts": {},
            }
        )
        notes.append("No incident with a month: nothing to classify.")
        return EmergingResult(_empty_cells(crs), _empty_areas(crs), to_jsonable(params), notes)
    periods = _choose_periods(incidents, frame, period_months, n_missing, params, notes)
    final_rule = _at_least(persistent_share, periods.n)
    params["rules"] = _class_rules(final_rule, periods.n)
    xy = frame[["x", "y"]].to_numpy(dtype=float)
    # the map points' catchments (a Voronoi diagram, in GEOS) need only the incidents and the
    # study area, and the cells' boxes only the grid: each is drawn in a thread of its own
    # meanwhile (GEOS releases the GIL, so two cores share the work)
    catchments = (
        in_background(_catchments, xy, shapely.from_wkb(shapely.to_wkb(incidents.study_area)))
        if null == "local" and incidents.study_area_m2 > 0
        else None
    )
    grid, counts = _period_grid(xy, incidents, periods, cell, dist)
    # the exposure is asked for once the period tests' work that does not need it is done
    exposure = functools.cache(
        lambda: None if catchments is None else _exposure(grid, *catchments.result())
    )
    res, hot, cold, trend = _significant_periods(
        grid, counts, exposure, periods, null, alpha, params, notes
    )
    evidence = _final_run_evidence(res, hot, cold, alpha, grid.n_cells)
    # only these go on into the cells' table: the other per-period arrays are let go before it
    # is built (nearly a gigabyte on a national grid)
    kept = {"expected": res.expected, "z": res.z, "gi_z": res.gi_z}
    del res
    cells = _CellTable(
        _cell_columns(
            counts, kept, hot, cold, evidence, trend(), final_rule, alpha, persistent_share
        ),
        grid.cells, grid.cell_size, crs,
    )  # fmt: skip
    category = cells.columns["category"]
    areas = _describe(_areas(category, grid.cells, grid.cell_size, crs), incidents)
    n_of = pd.Series(category).value_counts()  # one pass over a million cells, not 34
    found = {c: int(n_of[c]) for c in CATEGORIES if c != "no pattern" and c in n_of.index}
    params["category_counts"] = found
    if not found:
        notes.append(
            "No cell is a new, consecutive, intensifying, persistent, diminishing, sporadic, "
            "oscillating or historical hot or cold spot at this false discovery rate."
        )
    return EmergingResult(cells, areas, to_jsonable(params), notes)


def _check_parameters(
    cell_size: float,
    alpha: float,
    persistent_share: float,
    null: str,
    period_months: int | None,
) -> None:
    """Refuse parameters of :func:`classify_hotspots` outside their ranges (ParameterError)."""
    cell = float(cell_size)
    _check(
        cell > 0 and math.isfinite(cell),
        f"cell_size must be a positive number of metres, got {cell_size!r}.",
    )
    _check(0 < alpha < 1, f"alpha must be between 0 and 1, got {alpha!r}.")
    _check(
        0.5 < persistent_share <= 1,
        f"persistent_share must be in (0.5, 1], got {persistent_share!r}.",
    )
    _check(null in NULLS, f"null must be one of {NULLS}, got {null!r}.")
    if period_months is not None:
        _check(
            isinstance(period_months, int | np.integer) and period_months >= 1,
            f"period_months must be a whole number of months >= 1, got {period_months!r}.",
        )


@dataclass(frozen=True)
class _Periods:
    """How the observed months are cut into periods."""

    index: np.ndarray  # int64 per incident: its period
    month_index: np.ndarray  # int64 per incident: its observed month (0 = the first)
    length: int  # months per period
    n: int  # periods (a shorter last period included)
    n_months: int  # observed months from the first to the last


def _choose_periods(
    incidents: Incidents,
    frame: pd.DataFrame,
    period_months: int | None,
    n_missing: int,
    params: dict[str, Any],
    notes: list[str],
) -> _Periods:
    """Cut the observed months into periods (:func:`auto_period_months` unless given).

    Periods are runs of observed months: a month missing from the input is skipped, not read as
    a month without incidents (``Incidents.missing_months``). Fewer than :data:`MIN_PERIODS`
    raise :class:`~hotspots.TooFewPeriodsError`.
    """
    observed = incidents.months.union(pd.DatetimeIndex(frame["month"].unique()))
    month_idx = observed.get_indexer(pd.DatetimeIndex(frame["month"])).astype(np.int64)
    n_months = len(observed)
    missing = incidents.missing_months
    params["missing_months"] = [f"{m:%Y-%m}" for m in missing]
    if len(missing):
        notes.append(incidents.missing_months_note)
    if period_months is None:
        length = auto_period_months(n_months)
        rule = (
            f"auto: the longest of years, quarters and months giving at least {MIN_PERIODS} periods"
        )
        unit = {1: "months", 3: "quarters", 12: "years"}[length]
        notes.append(
            f"Periods are {unit}, chosen automatically for {n_months} months of data (the longest "
            f"of years, quarters and months that gives at least {MIN_PERIODS} periods)."
        )
    else:
        length = int(period_months)
        rule = "user"
    n_periods = -(-n_months // length)
    starts = [observed[k * length] for k in range(n_periods)]
    params.update(
        {
            "n_incidents": len(frame),
            "first_month": observed[0].strftime("%Y-%m"),
            "last_month": observed[-1].strftime("%Y-%m"),
            "n_months": n_months,
            "period_months": length,
            "period_rule": rule,
            "n_periods": n_periods,
            "period_starts": [s.strftime("%Y-%m") for s in starts],
        }
    )
    if n_periods < MIN_PERIODS:
        _too_few_periods(n_periods, length, n_months, n_missing)
    if n_months % length:
        notes.append(
            f"The last period is shorter ({n_months % length} of {length} months); its expected "
            "counts are scaled to its own volume, so it is less powerful, not biased."
        )
    return _Periods(month_idx // length, month_idx, length, n_periods, n_months)


def _too_few_periods(n_periods: int, length: int, n_months: int, n_missing: int) -> NoReturn:
    """Raise :class:`~hotspots.TooFewPeriodsError`: how many periods there are, and the fix."""
    fix = (
        f"use data covering at least {MIN_PERIODS * length} months"
        if length == 1
        else f"use shorter periods (period_months={max(1, n_months // MIN_PERIODS)} or less) "
        "or a longer span"
    )
    msg = (
        f"Only {n_periods} period(s) of {length} month(s) in {n_months} month(s) of data; "
        f"change over time needs at least {MIN_PERIODS} periods (ArcGIS's Emerging Hot Spot "
        "Analysis uses ten or more time steps, and its Mann-Kendall trend test is unreliable "
        f"with fewer), so no place is classed. Fix: {fix}."
    )
    if n_missing:
        msg += f" ({n_missing} incident(s) without a month were left out.)"
    raise TooFewPeriodsError(msg)


def _class_rules(final_rule: int, n_periods: int) -> dict[str, str]:
    """Each class's rule in words, with this run's numbers (for ``params["rules"]``)."""
    most = f">= {final_rule} of {n_periods} periods including the final one"
    return {
        "new": (
            "hot in the final period, in no earlier period, and not hot over the earlier "
            "periods pooled"
        ),
        "consecutive": (
            "hot in a final run of >= 2 periods, never before it (each and pooled), "
            f"in < {final_rule} of {n_periods}"
        ),
        "intensifying": f"hot in {most}, significant increasing trend",
        "persistent": f"hot in {most}, no significant trend",
        "diminishing": f"hot in {most}, significant decreasing trend",
        "sporadic": (
            f"hot in the final period, on and off before, in < {final_rule} of {n_periods}, "
            "never cold"
        ),
        "oscillating": (
            f"hot in the final period, in < {final_rule} of {n_periods}, cold in an earlier period"
        ),
        "historical": f"not hot in the final period, hot in >= {final_rule} of {n_periods}",
        "cold": "the same rules on significantly low periods",
    }


def _period_grid(
    xy: np.ndarray, incidents: Incidents, periods: _Periods, cell: float, dist: float
) -> tuple[GiStarGrid, np.ndarray]:
    """The sparse grid shared by all periods, and every computed cell's incidents per period."""
    grid = gistar_grid(
        xy,
        incidents.study_area,
        cell_size=cell,
        neighbour_distance=dist,
        baseline_distance=2 * cell,
    )
    n_occ = len(grid.occupied)
    occ_counts = np.bincount(
        grid.point_occupied * periods.n + periods.index, minlength=n_occ * periods.n
    ).reshape(n_occ, periods.n)
    counts = np.zeros((len(grid), periods.n))
    counts[grid.occupied] = occ_counts
    return grid, counts


def _significant_periods(
    grid: GiStarGrid,
    counts: np.ndarray,
    exposure_of: Callable[[], np.ndarray | None],
    periods: _Periods,
    null: str,
    alpha: float,
    params: dict[str, Any],
    notes: list[str],
) -> tuple[PeriodTests, np.ndarray, np.ndarray, Callable[[], MannKendall]]:
    """The per-period tests (:func:`period_tests`), the periods in which each cell itself is
    hot and cold: in a significant neighbourhood, and busier (quieter) than its own share of
    the neighbourhood's expectation; cells without incidents never; and the trend of each
    cell's z-scores, begun (:func:`_start_trend`). ``exposure_of()`` is :func:`_exposure`'s
    (None: each cell's in-area share), asked for when first needed."""
    n_periods = periods.n
    cell = grid.cell_size
    phi = grid.split_dispersion(periods.month_index % 2) if null == "local" else 1.0
    params["dispersion_phi"] = round(phi, 4)
    params["n_cells"] = grid.n_cells
    notes.append(
        f"Each of {n_periods} periods: every {cell:g} m cell's neighbourhood against "
        + (
            "its surroundings' usual rate scaled to the period"
            if null == "local"
            else "the period's study-area mean"
        )
        + f", Benjamini-Hochberg false discovery rate {alpha} over the study area's cells; "
        "classes as ArcGIS's Emerging Hot Spot Analysis."
    )
    occ_counts = counts[grid.occupied]
    busy = counts.sum(axis=1) > 0  # before the period tests wait for the exposure
    res = period_tests(
        grid, occ_counts, null=null, alpha=alpha, dispersion=phi, exposure=exposure_of
    )
    trend = _start_trend(res.z)  # most of it runs meanwhile
    exposure = exposure_of()
    if exposure is None:
        own, hood = grid.fraction.astype(float), grid.n_neighbours.astype(float)
    else:
        own = np.zeros(len(grid))
        own[grid.occupied] = exposure
        hood = grid.local_sums(exposure)
    per_cell = np.where(hood > 0, own / np.maximum(hood, 1e-12), 0.0)
    hot = res.hot & busy[:, None]
    cold = res.cold & busy[:, None]
    _own_share(hot, cold, counts, res.expected, res.expected_cold, per_cell)
    return res, hot, cold, trend


def _start_trend(z: np.ndarray) -> Callable[[], MannKendall]:
    """Begin :func:`hotspots.stats.mann_kendall` of each row of ``z`` (cells, periods) rounded
    to 1e-9: the first :data:`_TREND_BACKGROUND_SHARE` of the rows at once in a thread of its
    own (:func:`hotspots.stats.in_background`); the returned function does the other rows on
    the calling thread and returns the whole. Each row's test is its own, so the same bits as
    one call on every row."""
    half = int(len(z) * _TREND_BACKGROUND_SHARE)
    first = in_background(_rounded_trend, z[:half])

    def finish() -> MannKendall:
        rest = _rounded_trend(z[half:])
        head = first.result()
        return MannKendall(*(np.concatenate([a, b]) for a, b in zip(head, rest, strict=True)))

    return finish


def _rounded_trend(z: np.ndarray) -> MannKendall:
    """:func:`hotspots.stats.mann_kendall` of the rows of ``z`` rounded to 1e-9 (by blocks of
    rows)."""
    rounded = np.empty_like(z)
    for rows in _blocks(len(rounded)):
        np.round(z[rows], 9, out=rounded[rows])
    return mann_kendall(rounded)


def _own_share(
    hot: np.ndarray,
    cold: np.ndarray,
    counts: np.ndarray,
    expected: np.ndarray,
    expected_cold: np.ndarray,
    per_cell: np.ndarray,
) -> None:
    """Clear, in place, the hot (cold) periods of each cell that was not itself busier
    (quieter) during them than its ``per_cell`` share of the neighbourhood's expectation; by
    blocks of rows (the same row sums, no temporary as large as the grid)."""
    for rows in _blocks(len(hot)):
        h, c, k = hot[rows], cold[rows], counts[rows]
        own_hot = (h * expected[rows]).sum(axis=1) * per_cell[rows]
        own_cold = (c * expected_cold[rows]).sum(axis=1) * per_cell[rows]
        h &= ((h * k).sum(axis=1) > own_hot)[:, None]
        c &= ((c * k).sum(axis=1) < own_cold)[:, None]


def _cell_columns(
    counts: np.ndarray,
    res: dict[str, np.ndarray],
    hot: np.ndarray,
    cold: np.ndarray,
    evidence: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    mk: MannKendall,
    final_rule: int,
    alpha: float,
    persistent_share: float,
) -> dict[str, np.ndarray]:
    """Every computed cell with its class (:func:`pattern_classes`, hot first, then cold) and
    the Mann-Kendall trend of its per-period z-scores (BH over the cells the trend classes
    test); the columns of :attr:`EmergingResult.cells` (per-period ones as (cells, periods)
    arrays), in :data:`_CELL_COLUMNS` order. ``res``
    holds the per-period ``expected``, ``z`` and ``gi_z`` (:class:`PeriodTests`), ``evidence``
    is :func:`_final_run_evidence`'s, ``mk`` the trends (:func:`_start_trend` of ``z``)."""
    mk_z, mk_p = np.asarray(mk.z), np.asarray(mk.p_value)
    n_hot, n_cold = hot.sum(axis=1), cold.sum(axis=1)
    candidate = (hot[:, -1] & (n_hot >= final_rule)) | (cold[:, -1] & (n_cold >= final_rule))
    mk_q = np.full(len(counts), np.nan)
    if candidate.any():
        mk_q[candidate] = benjamini_hochberg(mk_p[candidate])
    before_hot, sure_hot, before_cold, sure_cold = evidence
    kw = {"share": persistent_share, "alpha": alpha}
    hot_cat = _pattern_codes(hot, cold, mk_q, mk_z, hot_before=before_hot, sure_now=sure_hot, **kw)
    cold_cat = _pattern_codes(
        cold, hot, mk_q, -mk_z, hot_before=before_cold, sure_now=sure_cold, **kw
    )
    n = len(CLASSES)  # CATEGORIES: the hot classes, the cold ones, then "no pattern"
    category = np.where(hot_cat >= 0, hot_cat, np.where(cold_cat >= 0, n + cold_cat, 2 * n))
    trend = np.where(mk_p < alpha, np.where(mk_z > 0, 0, 1), 2)
    final = np.where(hot[:, -1], 0, np.where(cold[:, -1], 1, 2))
    return {
        "counts": counts.astype(np.int64),
        "total": counts.sum(axis=1).astype(int),
        "expected": res["expected"],
        "z_scores": res["z"],
        "gi_z_scores": res["gi_z"],
        "n_hot_periods": n_hot,
        "n_cold_periods": n_cold,
        "final": _labels(("hot", "cold", ""), final),
        "category": _labels(CATEGORIES, category),
        "mk_tau": mk.tau,
        "mk_z": mk.z,
        "mk_p": mk.p_value,
        "mk_q": mk_q,
        "trend": _labels(("increasing", "decreasing", "no trend"), trend),
    }


class _CellTable:
    """:attr:`EmergingResult.cells` to be built: its columns (:func:`_cell_columns`), the cells
    ``ij`` of side ``cell_size`` and the CRS; called, the GeoDataFrame (picklable)."""

    def __init__(
        self, columns: dict[str, np.ndarray], ij: np.ndarray, cell_size: float, crs: Any
    ) -> None:
        self.columns, self.ij, self.cell_size, self.crs = columns, ij, cell_size, crs

    def __call__(self) -> gpd.GeoDataFrame:
        columns = {k: _rows(v) if v.ndim == 2 else v for k, v in self.columns.items()}
        boxes = cell_boxes(self.ij, self.cell_size)
        return gpd.GeoDataFrame(columns, geometry=boxes, crs=self.crs)


def _labels(names: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    """``names[codes]`` as an object array holding one string object per label (not one per
    cell: a million cells share a handful of labels)."""
    return np.asarray(names, dtype=object)[codes]


def _rows(table: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """One list per row of ``table`` (cells x periods), held as an Arrow fixed-size list
    column: one buffer, no Python object per cell (a national grid has a million cells), and
    read-only; each row reads back as a list."""
    table = np.ascontiguousarray(table)
    flat = pa.array(table.reshape(-1))
    return pd.arrays.ArrowExtensionArray(
        pa.FixedSizeListArray.from_arrays(flat, max(table.shape[1], 1))
    )


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ParameterError(msg)


def _at_least(share: float, k: int) -> int:
    """The smallest whole number of periods that is at least ``share`` of ``k`` (exact)."""
    return math.ceil(round(share * k, 9))


def _final_run_start(flags: np.ndarray) -> np.ndarray:
    """Per row, the first period of the final run of True flags (``n`` when the last is False)."""
    n = flags.shape[1]
    off = np.where(~flags, np.arange(n)[None, :], -1)
    return np.where(flags[:, -1], off.max(axis=1) + 1, n)


def _final_run_evidence(
    res: PeriodTests, hot: np.ndarray, cold: np.ndarray, alpha: float, n_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cell, for the hot and then the cold family: was it hot (cold) over the periods before
    its final run, pooled; and is the final run itself beyond doubt?

    "Before" is one-sided at level ``alpha`` without correction (the check guards a label, so
    erring towards "it was hot before" is the safe side). "Beyond doubt" pools the final run and
    asks for ``p < alpha / n_cells``: Bonferroni over the study area's cells, so pure noise
    makes a new or consecutive place with probability at most ``alpha`` per run, where the
    per-period false discovery rate would let one in twenty of the final period's discoveries
    be false (and a town has dozens of steady ones).

    Both are computed only for the cells flagged in the final period (False for the others):
    :func:`pattern_classes` reads them nowhere else, and a national grid has a million cells
    against a few thousand flagged in its final period.
    """
    out = []
    n = hot.shape[1]
    for flags, upper in ((hot, True), (cold, False)):
        exp, var = (res.expected, res.variance) if upper else (res.expected_cold, res.variance_cold)
        rows = np.flatnonzero(flags[:, -1])
        before_sig = np.zeros(len(flags), dtype=bool)
        sure = np.zeros(len(flags), dtype=bool)
        local, exp, var = res.local[rows], exp[rows], var[rows]
        before = np.arange(n)[None, :] < _final_run_start(flags[rows])[:, None]
        k = (local * before).sum(axis=1)
        e = (exp * before).sum(axis=1)
        v = (var * before).sum(axis=1)
        p = nbinom_tail(k, e, np.maximum(v, e), upper=upper)
        before_sig[rows] = (p < alpha) & (before.sum(axis=1) > 0) & (k > e if upper else k < e)
        k, e, v = ((a * ~before).sum(axis=1) for a in (local, exp, var))
        p = nbinom_tail(k, e, np.maximum(v, e), upper=upper)
        sure[rows] = p < alpha / max(n_cells, 1)
        out += [before_sig, sure]
    return out[0], out[1], out[2], out[3]


def pattern_classes(
    flags: np.ndarray,
    other: np.ndarray,
    trend_q: np.ndarray,
    trend_z: np.ndarray,
    *,
    hot_before: np.ndarray | None = None,
    sure_now: np.ndarray | None = None,
    share: float = PERSISTENT_SHARE,
    alpha: float = 0.05,
) -> np.ndarray:
    """ArcGIS's pattern names from per-period significance flags of one family (hot or cold).

    Parameters
    ----------
    flags : bool array of shape (cells, periods)
        Significant in the family's direction (hot, for the hot classes), in time order.
    other : bool array of shape (cells, periods)
        Significant in the opposite direction.
    trend_q : array of shape (cells,)
        Adjusted p-value of the Mann-Kendall trend (NaN: not tested, no trend).
    trend_z : array of shape (cells,)
        Its z, signed so that > 0 is the family's own direction (increasing for hot).
    hot_before : bool array of shape (cells,), optional
        Significant over the periods before the final run, pooled (default: never).
    sure_now : bool array of shape (cells,), optional
        The final run is beyond doubt (default: always); new and consecutive need it.
    share : float, default 0.9
        ArcGIS's "90 percent".
    alpha : float, default 0.05
        Level of ``trend_q``.

    Returns
    -------
    numpy.ndarray of str
        One of :data:`CLASSES` per cell, or "" (no pattern in this family). See
        :func:`classify_hotspots` Notes for the rules.

    Examples
    --------
    Twelve periods: hot only in the last; hot in the last three; hot in all with a rising trend;
    hot in all but the last; hot in the last and in period 4, cold in period 2.

    >>> f = np.zeros((5, 12), bool)
    >>> f[0, 11] = f[1, 9:] = f[2, :] = f[3, :11] = f[4, [4, 11]] = True
    >>> o = np.zeros((5, 12), bool)
    >>> o[4, 2] = True
    >>> pattern_classes(f, o, np.array([1, 1, 0.01, 1, 1]), np.array([0, 0, 3.0, 0, 0])).tolist()
    ['new', 'consecutive', 'intensifying', 'historical', 'oscillating']
    """
    codes = _pattern_codes(
        flags, other, trend_q, trend_z, hot_before=hot_before, sure_now=sure_now,
        share=share, alpha=alpha,
    )  # fmt: skip
    return np.asarray([*CLASSES, ""])[codes]


def _pattern_codes(
    flags: np.ndarray,
    other: np.ndarray,
    trend_q: np.ndarray,
    trend_z: np.ndarray,
    *,
    hot_before: np.ndarray | None,
    sure_now: np.ndarray | None,
    share: float,
    alpha: float,
) -> np.ndarray:
    """:func:`pattern_classes` as positions in :data:`CLASSES` (-1: none), no string made.

    Every class needs the final period or ``share`` of the periods flagged: only those
    rows are classed (a few thousand of a national grid's million), the others are -1 at once.
    """
    flags = np.asarray(flags, dtype=bool)
    m, n = flags.shape
    most = flags.sum(axis=1) >= _at_least(share, n)
    rows = np.flatnonzero(flags[:, -1] | most)
    flags, most = flags[rows], most[rows]
    other = np.asarray(other, dtype=bool)[rows]
    pooled_before = (
        np.zeros(len(rows), bool) if hot_before is None else np.asarray(hot_before, bool)[rows]
    )
    sure = np.ones(len(rows), bool) if sure_now is None else np.asarray(sure_now, bool)[rows]
    final = flags[:, -1]
    start = _final_run_start(flags)
    run = n - start
    ever_before = flags[:, :-1].any(axis=1)
    before_run = (flags & (np.arange(n)[None, :] < start[:, None])).any(axis=1)
    other_before = other[:, :-1].any(axis=1)
    trend = np.nan_to_num(np.asarray(trend_q, dtype=float)[rows], nan=1.0) < alpha
    z = np.asarray(trend_z, dtype=float)[rows]
    codes = np.full(m, -1, dtype=np.int64)
    codes[rows] = np.select(
        [
            final & ~ever_before & ~other_before & ~pooled_before & sure,
            final & (run >= 2) & ~before_run & ~other_before & ~most & ~pooled_before & sure,
            final & most & trend & (z > 0),
            final & most & ~trend,
            final & most & trend & (z < 0),
            final & ~most & ~other_before & (ever_before | pooled_before),
            final & ~most & other_before,
            ~final & most,
        ],
        list(range(len(CLASSES))),
        default=-1,
    )
    return codes


def _areas(category: np.ndarray, ij: np.ndarray, cell_size: float, crs: Any) -> gpd.GeoDataFrame:
    """Connected parts of the union of each category's cells (``category`` of the cells ``ij``
    of side ``cell_size``), with the number of cells inside."""
    rows = []
    classed = np.flatnonzero(category != "no pattern")  # a few thousand of a million cells
    boxes = cell_boxes(ij[classed], cell_size)
    for cat in CATEGORIES:
        if cat == "no pattern":
            continue
        sel = boxes[category[classed] == cat]
        if not len(sel):
            continue
        merged = shapely.union_all(sel)
        parts = list(getattr(merged, "geoms", [merged]))
        centres = shapely.centroid(sel)
        _, part_i = shapely.STRtree(parts).query(centres, predicate="intersects")
        n_in = np.bincount(part_i, minlength=len(parts))
        rows += [
            {"category": cat, "n_cells": int(k), "geometry": part}
            for part, k in zip(parts, n_in, strict=True)
        ]
    if not rows:
        return _empty_areas(crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _describe(areas: gpd.GeoDataFrame, incidents: Incidents) -> gpd.GeoDataFrame:
    """Add each area's incidents (all periods) and most frequent location text; sort by category
    (in :data:`CATEGORIES` order) then incidents."""
    from hotspots.profile import count_and_name

    areas = areas.reset_index(drop=True)
    counts, names = (
        count_and_name(areas.geometry, incidents) if len(areas) else (np.zeros(0, dtype=int), [])
    )
    areas["incidents"] = counts.astype(int)
    areas["top_location"] = pd.Series(names, dtype=object)
    order = areas["category"].map({c: i for i, c in enumerate(CATEGORIES)}).fillna(len(CATEGORIES))
    areas = areas.assign(_order=order).sort_values(
        ["_order", "incidents", "n_cells"], ascending=[True, False, False], kind="stable"
    )
    return areas.drop(columns="_order").reset_index(drop=True)


def _empty_cells(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in _CELL_COLUMNS}, geometry=[], crs=crs
    )


def _empty_areas(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"category": pd.Series(dtype=object), "n_cells": pd.Series(dtype=int)}, geometry=[], crs=crs
    )
