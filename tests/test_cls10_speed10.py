"""Session 10's main-thread shortcuts of hotspots.emerging, and the classic Gi* z of every
period at once (hotspots.gistar), pinned against the computations they replaced.

The pattern codes are worked out only for the rows that can have a class; the trend's rows, and
the signs of the hot and cold families, are split between two threads; the cold family's
expectation and variance are computed in a thread of their own; the classic z of all periods
by blocks of rows; the shifted cells read from a raster; the period tests' large arrays touched
before the exposure is asked for. Each must give, to the last bit, what the computation kept
here as the reference gives, on edge cases (no row, one row, rows that do not split evenly,
ties, NaN).
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from test_emerging_fast import _local_families_reference, _monthly_grid

from hotspots import emerging, gistar
from hotspots.emerging import CLASSES, period_tests
from hotspots.gistar import GiStarGrid
from hotspots.stats import mann_kendall


def _pattern_codes_reference(flags, other, trend_q, trend_z, *, hot_before, sure_now, share,
                             alpha):  # fmt: skip
    """Every row through the rules of ``classify_hotspots``'s Notes, one cell at a time."""
    m, n = flags.shape
    out = np.full(m, -1, dtype=np.int64)
    for r in range(m):
        f, o = flags[r].tolist(), other[r].tolist()
        pooled = False if hot_before is None else bool(hot_before[r])
        sure = True if sure_now is None else bool(sure_now[r])
        final = f[-1]
        start = n
        while final and start > 0 and f[start - 1]:
            start -= 1
        most = sum(f) >= emerging._at_least(share, n)
        q = 1.0 if np.isnan(trend_q[r]) else trend_q[r]
        trend, z = q < alpha, trend_z[r]
        ever, run_before, other_before = any(f[:-1]), any(f[:start]), any(o[:-1])
        rules = (  # in CLASSES order; the first that holds
            final and not (ever or other_before or pooled) and sure,
            final and n - start >= 2 and not (run_before or other_before or most or pooled)
            and sure,
            final and most and trend and z > 0,
            final and most and not trend,
            final and most and trend and z < 0,
            final and not most and not other_before and (ever or pooled),
            final and not most and other_before,
            not final and most,
        )  # fmt: skip
        out[r] = next((k for k, holds in enumerate(rules) if holds), -1)
    return out


def _random_flags(rng, m, n, p):
    flags = rng.random((m, n)) < p
    flags[: m // 4] = True  # every period
    flags[m // 4 : m // 3, :-1] = True  # all but the final one
    flags[m // 3 : m // 2, -3:] = True  # a final run
    return flags


@pytest.mark.parametrize("m", [0, 1, 2, 7, 400])
@pytest.mark.parametrize("n", [1, 2, 10, 13])
@pytest.mark.parametrize("given", [False, True])
def test_pattern_codes_of_candidate_rows_equal_every_row(m, n, given):
    rng = np.random.default_rng(m * 100 + n)
    flags = _random_flags(rng, m, n, 0.4)
    other = rng.random((m, n)) < 0.15
    q = np.where(rng.random(m) < 0.3, np.nan, rng.random(m) * 0.1)
    z = rng.normal(size=m)
    z[rng.random(m) < 0.2] = 0.0  # ties at zero
    extra = {
        "hot_before": rng.random(m) < 0.3 if given else None,
        "sure_now": rng.random(m) < 0.7 if given else None,
    }
    for share in (0.5 + 1e-9, 0.9, 1.0):
        kw = {"share": share, "alpha": 0.05, **extra}
        got = emerging._pattern_codes(flags, other, q, z, **kw)
        ref = _pattern_codes_reference(flags, other, q, z, **kw)
        np.testing.assert_array_equal(got, ref)
        assert got.shape == (m,)


def test_pattern_codes_find_every_class():
    """The random flags above reach every class, so the shortcut is tested on each."""
    rng = np.random.default_rng(1)
    m, n = 3000, 12
    flags = _random_flags(rng, m, n, 0.3)
    other = rng.random((m, n)) < 0.05
    q, z = rng.random(m) * 0.1, rng.normal(size=m)
    got = emerging._pattern_codes(
        flags, other, q, z, hot_before=rng.random(m) < 0.2, sure_now=None, share=0.9, alpha=0.05
    )
    assert set(got.tolist()) == set(range(-1, len(CLASSES)))


@pytest.mark.parametrize("share", [0.0, 0.5, 0.75, 1.0])
@pytest.mark.parametrize("m", [0, 1, 2, 3, 8, 501])
def test_trend_in_two_parts_equals_one_call(monkeypatch, m, share):
    monkeypatch.setattr(emerging, "_TREND_BACKGROUND_SHARE", share)
    rng = np.random.default_rng(m)
    z = rng.normal(size=(m, 12))
    z[rng.random(z.shape) < 0.3] = 0.0  # ties
    z[: m // 3] = np.round(z[: m // 3], 1) + 1e-12  # equal once rounded to 1e-9
    if m > 4:
        z[2, 5] = np.nan  # a row with NaN, one with infinity
        z[3, 0] = np.inf
    ref = mann_kendall(np.round(z, 9))
    got = emerging._start_trend(z)()
    for g, r in zip(got, ref, strict=True):
        assert g.shape == (m,)
        np.testing.assert_array_equal(g, r)


def test_period_tests_with_the_cold_family_in_a_thread_equal_one_thread(monkeypatch):
    """``_local_null`` with the cold family's expectation and variance in a thread, against
    the same computed one after the other on the calling thread."""
    grid, counts = _monthly_grid()
    exposure = np.random.default_rng(2).gamma(2.0, 0.5, len(grid.occupied))
    got = period_tests(grid, counts, alpha=0.05, exposure=exposure)

    class Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    monkeypatch.setattr(emerging, "in_background", lambda fn, *a, **k: Done(fn(*a, **k)))
    ref = period_tests(grid, counts, alpha=0.05, exposure=exposure)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert got.hot.any() and got.expected_cold.any()


def test_expected_variance_equals_the_earlier_formula():
    rng = np.random.default_rng(4)
    for m in (0, 1, 5, 300):
        cell_rate = rng.gamma(0.5, 4.0, m)
        cell_rate[: m // 4] = 0.0
        share_t = rng.dirichlet(np.ones(11))
        rel_var = np.where(rng.random(m) < 0.3, 0.0, 1.0 / (rng.integers(0, 40, m) + 0.5))
        expected, variance = emerging._expected_variance(cell_rate, share_t, 1.7, rel_var)
        ref = cell_rate[:, None] * share_t[None, :]
        np.testing.assert_array_equal(expected, ref)
        np.testing.assert_array_equal(variance, 1.7 * ref + (ref**2 * 1.7) * rel_var[:, None])


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 13])
@pytest.mark.parametrize("rows", [0, 1, 2, 5, 40])
def test_local_families_with_signs_in_two_threads_equal_one_thread(monkeypatch, block, rows):
    """The cells above and below their expectations found by blocks of rows, half of the blocks
    in a thread (an odd number of blocks, one block, none), against period after period."""
    monkeypatch.setattr(emerging, "_ROW_BLOCK", block)
    rng = np.random.default_rng(rows + block)
    expected = rng.gamma(1.0, 2.0, (rows, 11))
    expected_low = expected * rng.uniform(0.5, 1.0, expected.shape)
    local = rng.poisson(expected * rng.uniform(0.5, 3.0, (rows, 1))).astype(float)
    local[: rows // 4] = np.round(expected[: rows // 4], 9)  # ties with the expectation
    variance, variance_low = expected * 1.5, expected_low * 1.5
    args = (local, expected, variance, expected_low, variance_low, 0.05, 3 * rows)
    got = emerging._local_families(*args)
    ref = _local_families_reference(*args)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)


def _small_grid(seed, n=300):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, (n, 2))
    xy[: n // 3] = rng.normal(1500, 100, (n // 3, 2))  # a busy spot
    return GiStarGrid(
        xy, shapely.box(-100, -100, 3100, 3100),
        cell_size=150.0, neighbour_distance=150.0 * np.sqrt(2), baseline_distance=300.0,
    )  # fmt: skip


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 13])
@pytest.mark.parametrize("k", [0, 1, 2, 11])
def test_gi_z_columns_equal_gi_z_column_by_column(monkeypatch, block, k):
    monkeypatch.setattr(gistar, "GI_Z_ROW_BLOCK", block)
    grid = _small_grid(k)
    rng = np.random.default_rng(k + 7)
    values = rng.poisson(0.8, (len(grid.occupied), k)).astype(float)
    if k > 1:
        values[:, 1] = 0.0  # a column without incidents: no variance, every z 0
    local = grid.local_sums(values)
    got = grid.gi_z_columns(values, local)
    assert got.shape == (len(grid), k)
    for t in range(k):
        np.testing.assert_array_equal(got[:, t], grid.gi_z(values[:, t], local[:, t]))
    if k > 1:
        assert not got[:, 1].any() and got[:, 0].any()


def test_gi_z_columns_of_a_single_cell_study_area_are_zero():
    grid = _small_grid(1)
    grid.n_cells = 1  # n <= 1: no randomisation variance
    values = np.ones((len(grid.occupied), 3))
    local = grid.local_sums(values)
    got = grid.gi_z_columns(values, local)
    for t in range(3):
        np.testing.assert_array_equal(got[:, t], grid.gi_z(values[:, t], local[:, t]))


def _shifted_reference(grid, offsets, cells=None):
    """Each cell shifted by each offset, found cell by cell in a dict of the computed cells."""
    where = {tuple(c): k for k, c in enumerate(grid.cells.tolist())}
    sel = range(len(grid)) if cells is None else cells
    return np.array(
        [[where.get((grid.cells[c][0] + di, grid.cells[c][1] + dj), -1) for c in sel]
         for di, dj in np.asarray(offsets).reshape(-1, 2).tolist()],
        dtype=np.intp,
    ).reshape(len(np.asarray(offsets).reshape(-1, 2)), len(sel))  # fmt: skip


@pytest.mark.parametrize("ratio", [0, 32, 10**9])  # always searched, the default, always raster
@pytest.mark.parametrize("seed", [0, 1])
def test_shifted_positions_by_raster_equal_every_cell_looked_up(monkeypatch, ratio, seed):
    monkeypatch.setattr(gistar, "POSITION_RASTER_RATIO", ratio)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-2000, 2000, (200, 2))  # negative cell indices too
    xy[:5] = [[-2000, -2000], [1999, 1999], [-2000, 1999], [1999, -2000], [0, 0]]  # box corners
    grid = GiStarGrid(
        xy, shapely.box(-2100, -2100, 2100, 2100),
        cell_size=100.0, neighbour_distance=100.0 * np.sqrt(2), baseline_distance=200.0,
    )  # fmt: skip
    d = np.arange(-3, 4)
    offsets = np.stack(np.meshgrid(d, d, indexing="ij"), axis=-1).reshape(-1, 2)
    offsets = np.vstack([offsets, [[45, 0], [0, -45], [45, 45]]])  # beyond the box
    cells = rng.choice(len(grid), 50, replace=False)
    for sel in (None, cells, cells[:1], cells[:0]):
        got = grid.shifted_positions(offsets, sel)
        np.testing.assert_array_equal(got, _shifted_reference(grid, offsets, sel))
        assert got.dtype == np.intp
    assert grid.shifted_positions(np.zeros((0, 2), np.int64), cells).shape == (0, 50)


def test_shifted_positions_far_apart_towns_search_the_keys(monkeypatch):
    """Two towns far apart: the box would hold far more cells than the grid, so no raster."""
    rng = np.random.default_rng(3)
    xy = np.vstack([rng.uniform(0, 500, (60, 2)), rng.uniform(0, 500, (60, 2)) + 1e6])
    grid = GiStarGrid(
        xy, shapely.Polygon(), cell_size=100.0, neighbour_distance=100.0 * np.sqrt(2),
        baseline_distance=200.0,
    )  # fmt: skip
    assert grid._position_raster(2) is None
    offsets = np.array([[0, 0], [1, -1], [-2, 2], [2, 0]])
    np.testing.assert_array_equal(
        grid.shifted_positions(offsets), _shifted_reference(grid, offsets)
    )


def test_period_tests_overwrite_every_element_of_the_touched_arrays(monkeypatch):
    """The seven arrays touched before the exposure is asked for: filled with NaN instead of
    zeros, the tests are the same, so every element is written after."""
    grid, counts = _monthly_grid()
    exposure = np.random.default_rng(6).gamma(2.0, 0.5, len(grid.occupied))
    ref = period_tests(grid, counts, alpha=0.05, exposure=lambda: exposure)

    def garbage(k, shape):
        return [np.full(shape, np.nan) for _ in range(k)]

    monkeypatch.setattr(emerging, "_touched", garbage)
    got = period_tests(grid, counts, alpha=0.05, exposure=lambda: exposure)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert not np.isnan(got.p_hot).any() and not np.isnan(got.z).any()


@pytest.mark.parametrize("rows", [0, 1, 9])
def test_touched_arrays_are_zeros_of_the_shape(rows):
    out = emerging._touched(3, (rows, 4))
    assert len(out) == 3 and len({id(a) for a in out}) == 3
    for a in out:
        assert a.shape == (rows, 4) and a.dtype == float and not a.any()


def test_expected_variance_and_families_into_given_arrays_equal_fresh_ones():
    rng = np.random.default_rng(8)
    m = 50
    cell_rate, share_t = rng.gamma(1.0, 2.0, m), rng.dirichlet(np.ones(7))
    rel_var = 1.0 / (rng.integers(0, 9, m) + 0.5)
    into = [np.full((m, 7), np.nan), np.full((m, 7), np.nan)]
    got = emerging._expected_variance(cell_rate, share_t, 1.2, rel_var, out=into)
    ref = emerging._expected_variance(cell_rate, share_t, 1.2, rel_var)
    assert got[0] is into[0] and got[1] is into[1]
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    expected, variance = ref
    local = rng.poisson(expected * 2).astype(float)
    args = (local, expected, variance, expected * 0.7, variance * 0.7, 0.05, 200)
    p_out = (np.full((m, 7), np.nan), np.full((m, 7), np.nan))
    got = emerging._local_families(*args, p_out=p_out)
    assert got[2] is p_out[0] and got[3] is p_out[1]
    for g, r in zip(got, emerging._local_families(*args), strict=True):
        np.testing.assert_array_equal(g, r)
