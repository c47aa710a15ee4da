"""Tests for hotspots.gistar: hand-computed Gi*, esda cross-check, FDR, planted spots and noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from hotspots import Incidents
from hotspots.gistar import GiStarHotspots, gi_star


def _queen(nrow, ncol):
    nbs = []
    for r in range(nrow):
        for c in range(ncol):
            nb = [
                rr * ncol + cc
                for rr in range(r - 1, r + 2)
                for cc in range(c - 1, c + 2)
                if 0 <= rr < nrow and 0 <= cc < ncol
            ]
            nbs.append(np.array(nb))
    return nbs


def test_gi_star_3x3_by_hand():
    x = np.array([1, 2, 3, 4, 10, 4, 3, 2, 1], dtype=float)
    z = gi_star(x, _queen(3, 3))
    # centre cell: all 9 cells are neighbours, so its local sum equals the total: z = 0 exactly
    assert z[4] == pytest.approx(0.0, abs=1e-12)
    # corner cell 0: neighbours {0,1,3,4}, W=4, local = 1+2+4+10 = 17
    n, mean = 9, x.mean()
    s = math.sqrt((x**2).mean() - mean**2)
    expected = (17 - mean * 4) / (s * math.sqrt((n * 4 - 16) / (n - 1)))
    assert z[0] == pytest.approx(expected, rel=1e-12)


def test_matches_esda_g_local_star():
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    rng = np.random.default_rng(4)
    x = rng.poisson(3, 36).astype(float)
    x[14] = 25
    w = libpysal.weights.lat2W(6, 6, rook=False)
    g = esda.G_Local(x, w, transform="B", star=True, permutations=0)
    z = gi_star(x, _queen(6, 6))
    np.testing.assert_allclose(z, g.Zs, rtol=1e-9, atol=1e-12)


def _town(seed, planted=True):
    rng = np.random.default_rng(seed)
    x = list(rng.uniform(0, 12000, 2000))
    y = list(rng.uniform(0, 12000, 2000))
    centres = rng.uniform(1000, 11000, (8, 2))
    if planted:
        for cx, cy in centres:
            k = rng.integers(30, 80)
            x += list(rng.normal(cx, 30, k))
            y += list(rng.normal(cy, 30, k))
    x = np.array(x) + 400000
    y = np.array(y) + 300000
    area = shapely.box(400000, 300000, 412000, 312000)
    return Incidents.from_xy(x, y, study_area=area), centres + [400000, 300000]


def test_planted_spots_found():
    inc, centres = _town(5)
    est = GiStarHotspots().fit(inc)
    hot = est.hotspots_
    found = [bool(hot.buffer(75).contains(shapely.Point(c)).any()) for c in centres]
    assert all(found)
    top = hot.sort_values("max_z", ascending=False).head(8)
    hits = sum(
        any(top.geometry.iloc[i].buffer(75).contains(shapely.Point(c)) for c in centres)
        for i in range(len(top))
    )
    assert hits / len(top) >= 0.9


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pure_noise_has_no_hot_spot(seed):
    inc, _ = _town(seed, planted=False)
    est = GiStarHotspots().fit(inc)
    assert len(est.hotspots_) == 0


def test_empty_and_single():
    inc = Incidents.from_xy(
        np.array([400000.0]),
        np.array([300000.0]),
        study_area=shapely.box(399000, 299000, 401000, 301000),
    )
    assert len(GiStarHotspots().fit(inc).hotspots_) == 0


def test_normal_null_is_anticonservative_on_sparse_noise():
    """Why the default null is Poisson: the classic normal approximation finds hot spots in noise."""
    false_normal = sum(
        len(GiStarHotspots(null="normal").fit(_town(s, planted=False)[0]).hotspots_)
        for s in (1, 2, 3)
    )
    false_poisson = sum(
        len(GiStarHotspots().fit(_town(s, planted=False)[0]).hotspots_) for s in (1, 2, 3)
    )
    assert false_poisson == 0
    assert false_normal > 0


def test_negative_binomial_null_is_more_conservative():
    inc, _ = _town(5)
    n_pois = GiStarHotspots().fit(inc).params_["n_hot_cells"]
    n_nb = GiStarHotspots(null="negative-binomial").fit(inc).params_["n_hot_cells"]
    assert 0 < n_nb <= n_pois
