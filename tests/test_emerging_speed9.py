"""Session 9's fast paths of hotspots.emerging pinned against the computations they replaced.

The elementwise work on (cells, periods) arrays runs by blocks of rows (``_ROW_BLOCK``): each
element gets the same operations in the same order, so every result equals, to the last bit,
the whole-array computation kept here as the reference, at any block size (one row, a few
rows, blocks that do not divide the rows, one block).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_emerging_fast import _local_families_reference, _monthly_grid

from hotspots import emerging
from hotspots.emerging import classify_hotspots, period_tests

BLOCKS = (1, 3, 7, 1 << 13)


def _nb_variance_reference(expected, phi, rel_var):
    """The whole-array variance, as before the blocks."""
    out = expected**2
    out *= phi
    out *= rel_var[:, None]
    out += phi * expected
    return out


def _z_reference(local, expected, variance):
    """``(local - expected) / sqrt(variance)``, 0 where no variance, on whole arrays."""
    z = local - expected
    with np.errstate(divide="ignore", invalid="ignore"):
        z /= np.sqrt(variance)
    z[~(variance > 0)] = 0.0
    return z


def _own_share_reference(hot, cold, counts, expected, expected_cold, per_cell):
    """The cell-itself rule of ``_significant_periods`` on whole arrays."""
    hot, cold = hot.copy(), cold.copy()
    own_hot = (hot * expected).sum(axis=1) * per_cell
    own_cold = (cold * expected_cold).sum(axis=1) * per_cell
    hot &= ((hot * counts).sum(axis=1) > own_hot)[:, None]
    cold &= ((cold * counts).sum(axis=1) < own_cold)[:, None]
    return hot, cold


@pytest.mark.parametrize("block", BLOCKS)
@pytest.mark.parametrize("rows", [0, 1, 2, 8, 29])
def test_nb_variance_by_blocks_equals_whole_arrays(monkeypatch, block, rows):
    monkeypatch.setattr(emerging, "_ROW_BLOCK", block)
    rng = np.random.default_rng(rows)
    expected = rng.gamma(0.7, 3.0, (rows, 11))
    expected[rng.random(expected.shape) < 0.2] = 0.0  # empty cells
    expected[: rows // 3] *= 1e6  # busy cells, far larger numbers
    rel_var = np.where(rng.random(rows) < 0.2, 0.0, 1.0 / (rng.integers(0, 50, rows) + 0.5))
    got = emerging._nb_variance(expected, 1.3, rel_var)
    np.testing.assert_array_equal(got, _nb_variance_reference(expected, 1.3, rel_var))
    assert got.shape == (rows, 11)
    if rows:  # by hand: phi E + phi E^2 / (R + 1/2)
        e, r = expected[-1, 0], rel_var[-1]
        assert got[-1, 0] == pytest.approx(1.3 * e + 1.3 * e * e * r, rel=1e-15)


@pytest.mark.parametrize("block", BLOCKS)
def test_period_tests_by_blocks_equal_whole_arrays(monkeypatch, block):
    grid, counts = _monthly_grid()
    exposure = np.random.default_rng(2).uniform(0.2, 3.0, len(counts))
    whole = period_tests(grid, counts, alpha=0.05, dispersion=1.3, exposure=exposure)
    monkeypatch.setattr(emerging, "_ROW_BLOCK", block)
    got = period_tests(grid, counts, alpha=0.05, dispersion=1.3, exposure=exposure)
    for name in got._fields:
        np.testing.assert_array_equal(getattr(got, name), getattr(whole, name), err_msg=name)
    ref_z = _z_reference(got.local, got.expected, got.variance)
    np.testing.assert_array_equal(got.z, ref_z)
    args = (got.local, got.expected, got.variance, got.expected_cold, got.variance_cold)
    ref = _local_families_reference(*args, 0.05, grid.n_cells)
    for g, r in zip((got.hot, got.cold, got.p_hot, got.p_cold), ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert got.hot[:, -1].sum() > 5  # the planted new hot spot is found


def test_blocks_of_rows_cover_every_row_once(monkeypatch):
    monkeypatch.setattr(emerging, "_ROW_BLOCK", 4)
    assert emerging._blocks(0) == []
    assert emerging._blocks(1) == [slice(0, 1)]
    assert emerging._blocks(9) == [slice(0, 4), slice(4, 8), slice(8, 9)]


@pytest.mark.parametrize("block", (1, 5, 1 << 13))
def test_own_share_rule_by_blocks_equals_whole_arrays(monkeypatch, block):
    monkeypatch.setattr(emerging, "_ROW_BLOCK", block)
    rng = np.random.default_rng(block)
    m, n_t = 23, 12
    hot, cold = rng.random((m, n_t)) < 0.4, rng.random((m, n_t)) < 0.3
    counts = rng.integers(0, 6, (m, n_t)).astype(float)
    expected, expected_cold = rng.gamma(1.0, 2.0, (m, n_t)), rng.gamma(1.0, 1.0, (m, n_t))
    per_cell = rng.random(m)
    ref = _own_share_reference(hot, cold, counts, expected, expected_cold, per_cell)
    h, c = hot.copy(), cold.copy()
    emerging._own_share(h, c, counts, expected, expected_cold, per_cell)
    np.testing.assert_array_equal(h, ref[0])
    np.testing.assert_array_equal(c, ref[1])
    assert ref[0].sum() < hot.sum() and ref[0].any()  # the rule removes some, keeps some


def test_classification_by_small_blocks_equals_one_block(monkeypatch):
    from test_emerging import _town

    inc, _ = _town(12_000, 4, patterns=(("new", [0] * 11 + [30]),), stable=4)
    whole = classify_hotspots(inc)
    monkeypatch.setattr(emerging, "_ROW_BLOCK", 7)
    got = classify_hotspots(inc)
    a, b = got.cells, whole.cells
    for column in a.columns.drop("geometry"):
        left, right = a[column].to_numpy(), b[column].to_numpy()
        if left.dtype == object and len(left) and isinstance(left[0], list | np.ndarray):
            left, right = np.stack(left), np.stack(right)
        np.testing.assert_array_equal(left, right, err_msg=column)
    assert dict(got.params["category_counts"]) == dict(whole.params["category_counts"])
    assert got.params["category_counts"]["new hot spot"] >= 1


def _ring_layout_reference(grid, totals, ring_offsets, rows):
    """The trimmed ring laid out on whole arrays (before the blocks): (at, found, keep, kept)."""
    m = len(rows)
    pos = grid.shifted_positions(ring_offsets, rows)
    found = pos >= 0
    at = np.where(found, pos, 0)
    values = np.ascontiguousarray(np.where(found, totals[at], 0.0).T)
    k = np.maximum(found.sum(axis=0) // 4, 1)
    keep = np.ones(values.shape, dtype=bool)
    left = values.copy()
    index = np.arange(m)
    for step in range(int(k.max()) if m else 0):
        busiest = np.argmax(left, axis=1)
        more = k > step
        keep[index[more], busiest[more]] = False
        left[index[more], busiest[more]] = -np.inf
    return at, found, keep, (values * keep).sum(axis=1)


def _ring_rate_reference(at, found, keep, kept, exposure):
    weight = np.ascontiguousarray(np.where(found, exposure[at], 0.0).T)
    rest_w = (weight * keep).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(rest_w > 0, kept / rest_w, 0.0)


@pytest.mark.parametrize("block", BLOCKS)
def test_ring_layout_and_rate_by_blocks_equal_whole_arrays(monkeypatch, block):
    monkeypatch.setattr(emerging, "_ROW_BLOCK", block)
    grid, _ = _monthly_grid()
    rng = np.random.default_rng(block)
    m = len(grid)
    # small whole totals: many ties among a ring's cells (the earlier offset goes first)
    totals = np.where(rng.random(m) < 0.5, 0.0, rng.integers(1, 4, m).astype(float))
    exposure = np.where(totals > 0, rng.uniform(0.1, 2.0, m), 0.0)
    offsets = emerging._RingTrim(grid, totals, expect_busy_only=False).offsets
    assert len(offsets) == 16
    for rows in (np.arange(m), np.flatnonzero(rng.random(m) < 0.3), np.arange(1), np.arange(0)):
        got = emerging._ring_layout(grid, totals, offsets, rows)
        ref = _ring_layout_reference(grid, totals, offsets, rows)
        for g, r in zip((got.at, got.found, got.keep, got.kept), ref, strict=True):
            np.testing.assert_array_equal(g, r)
        rate = emerging._ring_rate(got, exposure)
        np.testing.assert_array_equal(rate, _ring_rate_reference(*ref, exposure))
        assert rate.shape == (len(rows),)
    # by hand: a complete ring (16 cells) keeps 12, its 4 busiest left out
    got = emerging._ring_layout(grid, totals, offsets, np.arange(m))
    complete = np.flatnonzero(got.found.all(axis=0))
    assert len(complete) > 100
    np.testing.assert_array_equal(got.keep[complete].sum(axis=1), 12)
    row = complete[0]
    ring = np.sort(totals[got.at[:, row]])
    assert got.kept[row] == ring[:12].sum()
