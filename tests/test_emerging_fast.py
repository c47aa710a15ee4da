"""The fast paths of hotspots.emerging pinned against the computations they replaced.

Each reference below is the earlier (slower) computation, kept here: the trimmed ring rate cell
by cell, the final-run evidence of every cell, Mann-Kendall by the signs of the differences and
the catchments by overlaying every Voronoi cell. The classification with all of them swapped in
must give the same classes and the same numbers (to the last bit where the arithmetic is the
same; the trimmed ring rate and catchments within 1e-12 relative of their references).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from test_emerging import _town
from test_stats import catchment_areas_reference, mann_kendall_reference

from hotspots import emerging
from hotspots.emerging import classify_hotspots, period_tests
from hotspots.gistar import gistar_grid
from hotspots.stats import benjamini_hochberg, nbinom_tail


def _ring_trimmed_rate_reference(grid, totals, exposure):
    """Cell by cell: the ring's cells (absent ones count as empty, as before), the ``k`` busiest
    left out (the earlier offset first among equals), the rest's incidents over its exposure."""
    where = {tuple(c): i for i, c in enumerate(grid.cells.tolist())}
    nbr = {tuple(o) for o in grid.nbr_offsets.tolist()}
    ring = [tuple(o) for o in grid.window_offsets.tolist() if tuple(o) not in nbr]
    out = np.zeros(len(grid))
    for i, (a, b) in enumerate(grid.cells.tolist()):
        at = [where.get((a + da, b + db)) for da, db in ring]
        vals = [0.0 if p is None else float(totals[p]) for p in at]
        wts = [0.0 if p is None else float(exposure[p]) for p in at]
        k = max(sum(p is not None for p in at) // 4, 1)
        left_out = set(sorted(range(len(ring)), key=lambda j: (-vals[j], j))[:k])
        rest_w = sum(w for j, w in enumerate(wts) if j not in left_out)
        rest_v = sum(v for j, v in enumerate(vals) if j not in left_out)
        out[i] = rest_v / rest_w if rest_w > 0 else 0.0
    return out


class _ReferenceRingTrim:
    """``emerging._RingTrim`` by :func:`_ring_trimmed_rate_reference`."""

    def __init__(self, grid, totals, **_):
        self.grid, self.totals = grid, totals

    def rate(self, exposure):
        return _ring_trimmed_rate_reference(self.grid, self.totals, exposure)


def _final_run_evidence_reference(res, hot, cold, alpha, n_cells):
    """The evidence of every cell (the fast path computes it for the final-period ones only)."""
    out = []
    n = hot.shape[1]
    for flags, upper in ((hot, True), (cold, False)):
        exp, var = (res.expected, res.variance) if upper else (res.expected_cold, res.variance_cold)
        start = emerging._final_run_start(flags)
        before = np.arange(n)[None, :] < start[:, None]
        k = (res.local * before).sum(axis=1)
        e = (exp * before).sum(axis=1)
        v = (var * before).sum(axis=1)
        p = nbinom_tail(k, e, np.maximum(v, e), upper=upper)
        out.append((p < alpha) & (before.sum(axis=1) > 0) & (k > e if upper else k < e))
        k, e, v = ((a * ~before).sum(axis=1) for a in (res.local, exp, var))
        p = nbinom_tail(k, e, np.maximum(v, e), upper=upper)
        out.append(flags[:, -1] & (p < alpha / max(n_cells, 1)))
    return tuple(out)


def _grid_and_totals(inc):
    xy = inc.xy
    grid = gistar_grid(
        xy, inc.study_area, cell_size=150.0, neighbour_distance=150 * 2**0.5, baseline_distance=300
    )
    totals = np.zeros(len(grid))
    totals[grid.occupied] = np.bincount(grid.point_occupied, minlength=len(grid.occupied))
    return grid, totals


@pytest.mark.parametrize(("n", "seed"), [(3000, 1), (24_000, 3)])
def test_ring_trimmed_rate_equals_cell_by_cell(n, seed):
    """Exposure on the occupied cells only (the catchments), and on every cell (shares): ties
    between equal totals, absent ring cells and rings with fewer than four cells all occur."""
    inc, _ = _town(n, seed, snap=True)
    grid, totals = _grid_and_totals(inc)
    rng = np.random.default_rng(seed)
    exposure = np.zeros(len(grid))
    exposure[grid.occupied] = rng.uniform(0.1, 3.0, len(grid.occupied))
    for weights in (exposure, grid.fraction.astype(float)):
        got = emerging._ring_trimmed_rate(grid, totals, weights)
        ref = _ring_trimmed_rate_reference(grid, totals, weights)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
        assert (got > 0).sum() > len(grid) // 4 and (got == 0).any()
    # ties among the ring's busiest cells: equal totals everywhere
    flat = np.where(totals > 0, 2.0, 0.0)
    got = emerging._ring_trimmed_rate(grid, flat, exposure)
    np.testing.assert_allclose(
        got, _ring_trimmed_rate_reference(grid, flat, exposure), rtol=1e-12, atol=0
    )


@pytest.mark.parametrize(("n", "seed"), [(3000, 1), (24_000, 3)])
def test_ring_trimmed_rate_of_rings_with_two_busy_cells_equals_every_row(n, seed):
    """Exposure on the busy cells only: laying out only the rings that hold two busy cells or
    more gives every row's numbers, to the bit (a ring with one busy cell leaves it out and
    keeps 0); ties between equal totals included."""
    inc, _ = _town(n, seed, snap=True)
    grid, totals = _grid_and_totals(inc)
    rng = np.random.default_rng(seed)
    exposure = np.zeros(len(grid))
    exposure[grid.occupied] = rng.uniform(0.1, 3.0, len(grid.occupied))
    nbr = {tuple(o) for o in grid.nbr_offsets.tolist()}
    ring = np.array([o for o in grid.window_offsets.tolist() if tuple(o) not in nbr])
    every = np.arange(len(grid))
    for tot in (totals, np.where(totals > 0, 2.0, 0.0)):
        got = emerging._ring_trimmed_rate(grid, tot, exposure)
        ref = emerging._ring_trimmed_rate_dense(grid, tot, exposure, ring, every)
        np.testing.assert_array_equal(got, ref)
        assert (got > 0).sum() > len(grid) // 4 and (got == 0).any()


def _monthly_grid():
    """A town with a new hot spot in its last month: its grid and each occupied cell's
    incidents per month."""
    inc, _ = _town(24_000, 3, patterns=(("new", [0] * 11 + [30]),), stable=4)
    grid, _ = _grid_and_totals(inc)
    month = pd.DatetimeIndex(inc.frame["month"]).month.to_numpy() - 1
    counts = np.zeros((len(grid.occupied), 12))
    np.add.at(counts, (grid.point_occupied, month), 1)
    return grid, counts


def test_final_run_evidence_of_final_period_cells_equals_every_cell():
    grid, counts = _monthly_grid()
    res = period_tests(grid, counts, alpha=0.05)
    assert res.hot[:, -1].sum() > 5
    # the flags only shape the runs: add random ones, so every kind of run occurs in both
    rng = np.random.default_rng(5)
    hot = res.hot | (rng.random(res.hot.shape) < 0.3)
    cold = res.cold | (rng.random(res.cold.shape) < 0.3)
    got = emerging._final_run_evidence(res, hot, cold, 0.05, grid.n_cells)
    ref = _final_run_evidence_reference(res, hot, cold, 0.05, grid.n_cells)
    for g, r, flags in zip(got, ref, (hot, hot, cold, cold), strict=True):
        final = flags[:, -1]
        np.testing.assert_array_equal(g[final], r[final])
        assert not g[~final].any()
    for r in ref[:2]:  # hot before, and a sure final run, both occur (cold ones are rare)
        assert r[hot[:, -1]].any() and not r[hot[:, -1]].all()


@pytest.mark.parametrize(("n", "seed"), [(6000, 11), (24_000, 3)])
def test_classification_equals_the_earlier_computation(monkeypatch, n, seed):
    """The whole classification with the earlier computations swapped in: the same classes,
    counts and areas, the same per-period numbers to the last bit, the trends within 1e-12."""
    patterns = (
        ("new", [0] * 11 + [30]),
        ("persistent", [40] * 12),
        ("historical", [50] * 11 + [0]),
    )
    inc, _ = _town(n, seed, patterns=patterns, stable=4)
    fast = classify_hotspots(inc)
    monkeypatch.setattr(emerging, "_RingTrim", _ReferenceRingTrim)
    monkeypatch.setattr(emerging, "_final_run_evidence", _final_run_evidence_reference)
    monkeypatch.setattr(emerging, "mann_kendall", mann_kendall_reference)
    monkeypatch.setattr(emerging, "catchment_areas", catchment_areas_reference)
    slow = classify_hotspots(inc)
    a, b = fast.cells, slow.cells
    assert len(a) == len(b) > 1000
    np.testing.assert_array_equal(a["category"].to_numpy(), b["category"].to_numpy())
    assert (a["category"] != "no pattern").sum() >= 5
    for column in ("final", "trend", "n_hot_periods", "n_cold_periods", "total"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy())
    for column in ("expected", "z_scores", "gi_z_scores"):
        np.testing.assert_allclose(np.stack(a[column]), np.stack(b[column]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.stack(a["counts"]), np.stack(b["counts"]))
    for column in ("mk_tau", "mk_z", "mk_p", "mk_q"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-12, atol=1e-12)
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()
    assert dict(fast.params["category_counts"]) == dict(slow.params["category_counts"])
    np.testing.assert_array_equal(fast.areas["incidents"], slow.areas["incidents"])


def _local_families_reference(local, expected, variance, expected_low, variance_low, alpha, n):
    """Period after period in one thread (the computation before the two threads)."""
    m, n_t = local.shape
    hot, cold = np.zeros((m, n_t), bool), np.zeros((m, n_t), bool)
    p_hot, p_cold = np.ones((m, n_t)), np.ones((m, n_t))
    n_rest = max(n - m, 0)
    for t in range(n_t):
        up = np.round(local[:, t] - expected[:, t], 9) > 0
        down = np.round(local[:, t] - expected_low[:, t], 9) < 0
        p_up = nbinom_tail(local[up, t], expected[up, t], variance[up, t], upper=True)
        p_down = nbinom_tail(
            local[down, t], expected_low[down, t], variance_low[down, t], upper=False
        )
        q_up = benjamini_hochberg(p_up, 1.0, n_rest + int((~up).sum()))
        q_down = benjamini_hochberg(p_down, 1.0, n_rest + int((~down).sum()))
        hot[np.flatnonzero(up)[q_up < alpha], t] = True
        cold[np.flatnonzero(down)[q_down < alpha], t] = True
        p_hot[up, t] = p_up
        p_cold[down, t] = p_down
    return hot, cold, p_hot, p_cold


def test_period_families_on_two_threads_equal_one_after_another():
    grid, counts = _monthly_grid()
    res = period_tests(grid, counts, alpha=0.05, dispersion=1.3)
    args = (res.local, res.expected, res.variance, res.expected_cold, res.variance_cold)
    got = emerging._local_families(*args, 0.4, grid.n_cells)
    ref = _local_families_reference(*args, 0.4, grid.n_cells)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert got[0].sum() > 20 and (got[3] < 1).sum() > 1000 and (got[3] < 0.1).any()


def test_period_tests_ask_for_the_exposure_once_when_needed():
    # classify draws the catchments in a thread: the period tests take a function giving the
    # exposure, call it once, after the work that does not need it, and give the same numbers
    grid, counts = _monthly_grid()
    exposure = np.random.default_rng(8).uniform(0.2, 2.0, len(grid.occupied))
    asked = []

    def later():
        asked.append(1)
        return exposure

    now = period_tests(grid, counts, alpha=0.05, exposure=exposure)
    deferred = period_tests(grid, counts, alpha=0.05, exposure=later)
    assert asked == [1]
    for a, b in zip(now, deferred, strict=True):
        np.testing.assert_array_equal(a, b)
    assert now.hot.any() and now.cold.any()
    # the shares (no exposure) through a function returning None: every row laid out
    shares = period_tests(grid, counts, alpha=0.05)
    later_none = period_tests(grid, counts, alpha=0.05, exposure=lambda: None)
    for a, b in zip(shares, later_none, strict=True):
        np.testing.assert_array_equal(a, b)
