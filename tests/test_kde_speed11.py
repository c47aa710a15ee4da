"""The binned surface's search for heavy locations (:func:`hotspots.kde._heavy_x`): a sort of the
candidates' ``x`` drops the points that cannot belong to a heavy location before they are hashed.
Checked against a plain per-location sum, and the surface against the unfiltered search."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

import hotspots.kde as kde_mod
from hotspots.kde import density_surface


def _heavy_points(x, y, w, cand, heavy_w):
    """Reference: the candidates at a location whose candidates weigh more than ``heavy_w``."""
    total: dict[tuple[float, float], float] = defaultdict(float)
    for i in cand:
        total[(x[i], y[i])] += w[i]
    return {int(i) for i in cand if total[(x[i], y[i])] > heavy_w}


def _x_runs(x, w, cand, heavy_w):
    """Reference: the candidates whose ``x``, summed over the candidates, weighs more."""
    total: dict[float, float] = defaultdict(float)
    for i in cand:
        total[x[i]] += w[i]
    return [int(i) for i in cand if total[x[i]] > heavy_w * (1 - 1e-9)]


@pytest.mark.parametrize("unit", [True, False])
def test_spread_points_keep_exactly_the_heavy_x_runs(unit):
    rng = np.random.default_rng(3)
    n = 20_000
    x, y = rng.uniform(0, 5_000, n), rng.uniform(0, 5_000, n)
    # three heavy locations, one light repeated one, and a column sharing x with a heavy one
    x[:40], y[:40] = 100.0, 200.0
    x[40:52], y[40:52] = 300.0, 300.0
    x[52:70], y[52:70] = 500.0, 700.0
    x[70:73], y[70:73] = 900.0, 900.0
    x[73:80], y[73:80] = 100.0, rng.uniform(0, 5_000, 7)
    w = np.ones(n) if unit else rng.uniform(0.5, 1.5, n)
    cand = np.flatnonzero(rng.random(n) < 0.7)
    cand = np.union1d(cand, np.arange(80))
    heavy_w = 10.0
    kept = kde_mod._heavy_x(x, w, cand, heavy_w)
    assert kept.tolist() == _x_runs(x, w, cand, heavy_w)
    assert _heavy_points(x, y, w, cand, heavy_w) <= set(kept.tolist())
    assert {0, 40, 52, 73}.issubset(set(kept.tolist()))  # the column sharing x 100 stays too
    assert 70 not in set(kept.tolist())  # three points: light
    assert np.all(np.diff(kept) > 0)


def test_nothing_heavy_among_spread_points_keeps_nothing():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1e4, 5_000)
    kept = kde_mod._heavy_x(x, np.ones(5_000), np.arange(0, 5_000, 2), 1.5)
    assert kept.size == 0 and kept.dtype == np.intp


def test_shared_locations_skip_the_filter():
    # map points: most candidates repeat one another's x, so all are handed on unfiltered
    rng = np.random.default_rng(5)
    points = rng.uniform(0, 1e4, 300)
    x = points[rng.integers(0, 300, 50_000)]
    cand = np.arange(50_000)
    assert np.array_equal(kde_mod._heavy_x(x, np.ones(50_000), cand, 1e9), cand)


@pytest.mark.parametrize(
    ("x", "w"),
    [
        (np.array([1.0, np.nan, 2.0]), np.ones(3)),  # not finite: no shortcut
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0, 1.0])),  # a negative weight
    ],
)
def test_unusual_input_is_handed_on_whole(x, w):
    cand = np.arange(3)
    assert np.array_equal(kde_mod._heavy_x(x, w, cand, 0.5), cand)


def test_empty_candidates_and_signed_zero():
    assert kde_mod._heavy_x(np.zeros(3), np.ones(3), np.arange(0), 1.0).size == 0
    # -0.0 and 0.0 are one x: two points of weight 1 make 2 > 1.5
    x = np.r_[0.0, -0.0, np.linspace(1, 2, 5_000)]
    assert kde_mod._heavy_x(x, np.ones(5_002), np.arange(5_002), 1.5).tolist() == [0, 1]


@pytest.mark.parametrize("weighted", [False, True])
def test_surface_is_that_of_the_unfiltered_search(monkeypatch, weighted):
    rng = np.random.default_rng(6)
    n = 60_000
    x, y = rng.uniform(0, 8_000, n) + 4e5, rng.uniform(0, 8_000, n) + 3e5
    x[:600], y[:600] = 4e5 + 4_000.0, 3e5 + 4_000.0  # a heavy location: corrected
    x[600:650], y[600:650] = 4e5 + 1_000.0, 3e5 + 6_000.0
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    ours = density_surface(x, y, w, bandwidth=150.0, cell_size=25.0, method="binned")
    monkeypatch.setattr(kde_mod, "_heavy_x", lambda x, w, cand, heavy_w: cand)
    plain = density_surface(x, y, w, bandwidth=150.0, cell_size=25.0, method="binned")
    assert sorted(ours.tiles) == sorted(plain.tiles)
    for key, tile in plain.tiles.items():
        assert np.array_equal(ours.tiles[key], tile)
    # the heavy location was corrected: its cell holds its exact kernel's peak share
    exact = density_surface(x, y, w, bandwidth=150.0, cell_size=25.0, method="exact")
    got, _, _ = ours.to_dense()
    ref, _, _ = exact.to_dense()
    assert np.abs(got - ref).max() <= 1e-3 * ref.max()
