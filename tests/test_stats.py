"""Tests for hotspots.stats: the surroundings test, the CSR tail test, Benjamini-Hochberg and
Mann-Kendall, by hand and against reference implementations."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats
from scipy.spatial import cKDTree

from hotspots import stats as stats_module
from hotspots.clusters import csr_min_samples
from hotspots.stats import (
    MannKendall,
    SurroundingsTest,
    benjamini_hochberg,
    catchment_areas,
    csr_lambda,
    csr_p_value,
    mann_kendall,
    points_in_polygons,
    split_dispersion,
)


# ------------------------------------------------------------------------------------ CSR test
def test_csr_lambda_by_hand():
    # 2,000 incidents over 12 km x 12 km, 75 m discs: 1999 * pi * 75^2 / 144e6
    assert csr_lambda(2000, 144e6, 75.0) == pytest.approx(1999 * math.pi * 5625 / 144e6)
    assert csr_lambda(2000, 144e6, 75.0) == pytest.approx(0.245314, abs=1e-6)
    assert csr_lambda(1, 144e6, 75.0) == 0.0


def test_csr_p_value_by_hand():
    lam = 0.5
    # a disc holding 3 incidents: the centre plus >= 2 others, P(Poisson(0.5) >= 2)
    tail = 1 - math.exp(-lam) * (1 + lam)
    assert csr_p_value(3, 10, lam) == pytest.approx(10 * tail)
    # non-integer counts (harm-weighted) round up: 2.2 -> 3
    assert csr_p_value(2.2, 10, lam) == pytest.approx(10 * tail)
    # one incident alone always happens; the Bonferroni bound is capped at 1
    assert csr_p_value(1, 10, lam) == 1.0
    assert csr_p_value(3, 1000, lam) == 1.0
    assert math.isnan(csr_p_value(3, 0, lam))
    assert math.isnan(csr_p_value(3, 10, float("nan")))
    assert math.isnan(csr_p_value(float("inf"), 10, lam))


def test_csr_p_value_is_the_rule_behind_min_samples():
    """csr_min_samples is the smallest k >= 5 whose CSR p-value is at most alpha."""
    for n, area, eps, alpha in [
        (2000, 144e6, 75.0, 0.05),
        (40_000, 300e6, 75.0, 0.01),
        (500, 4e6, 50.0, 0.05),
    ]:
        lam = csr_lambda(n, area, eps)
        k = csr_min_samples(n, area, eps, alpha)
        assert csr_p_value(k, n, lam) <= alpha
        if k > 5:
            assert csr_p_value(k - 1, n, lam) > alpha


# ---------------------------------------------------------------------------- Benjamini-Hochberg
def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.06, 0.0533, 0.2 -> monotone: 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(
        benjamini_hochberg(p), [0.04, 0.053333333, 0.053333333, 0.2], rtol=1e-6
    )


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(1)
    for m in (1, 2, 17, 500):
        p = np.r_[rng.uniform(0, 1, m), rng.uniform(0, 1e-3, m // 3)]
        np.testing.assert_allclose(
            benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12
        )
    assert benjamini_hochberg(np.array([])).shape == (0,)


def test_block_fdr_equals_dense_fdr():
    """The zero-cell block enters Benjamini-Hochberg exactly as if every cell were listed."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        pr = float(rng.choice([0.0, 0.3, 1.0, rng.uniform()]))
        nb = int(rng.integers(0, 50))
        p = np.r_[
            rng.uniform(0, 1, rng.integers(0, 30)), np.full(rng.integers(0, 4), pr), [1e-6, 1.0]
        ]
        dense = benjamini_hochberg(np.r_[p, np.full(nb, pr)])[: len(p)]
        np.testing.assert_array_equal(benjamini_hochberg(p, pr, nb), dense)


def test_block_fdr_by_hand():
    # family 0.01, 0.5, 0.5, 0.5 (N = 4): q(0.01) = min(0.04, 0.5 * 4/4) = 0.04
    np.testing.assert_allclose(benjamini_hochberg([0.01], p_block=0.5, n_block=3), [0.04])
    # an empty listed part stays empty
    assert benjamini_hochberg(np.array([]), p_block=0.5, n_block=3).shape == (0,)


# -------------------------------------------------------------------------------- Mann-Kendall
def test_mann_kendall_by_hand_with_ties():
    x = [1, 2, 2, 3, 1]
    # pairs i<j: from 1: +,+,+,0 (3); from 2: 0,+,- (0); from 2: +,- (0); from 3: - (-1) -> S = 2
    # ties: {1,1} and {2,2}: t=2 each, t(t-1)(2t+5) = 18 each -> Var = (5*4*15 - 36) / 18 = 44/3
    # Z = (S - 1) / sqrt(Var); tau_b = S / sqrt(n0 (n0 - n1)) = 2 / sqrt(10 * 8)
    mk = mann_kendall(x)
    assert mk.s == 2
    assert mk.var_s == pytest.approx(44 / 3)
    z = 1 / math.sqrt(44 / 3)
    assert mk.z == pytest.approx(z)
    assert mk.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert mk.tau == pytest.approx(2 / math.sqrt(80))
    assert mk.tau == pytest.approx(stats.kendalltau(range(5), x).statistic)


def test_mann_kendall_rows_constant_and_decreasing():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (6, 9)).astype(float)
    a[0] = 3.0
    a[1] = np.arange(9)[::-1]
    mk = mann_kendall(a)
    assert (mk.s[0], mk.z[0], mk.p_value[0], mk.tau[0]) == (0, 0, 1, 0)
    assert mk.s[1] == -36 and mk.tau[1] == pytest.approx(-1) and mk.z[1] < 0
    for r in range(2, 6):
        single = mann_kendall(a[r])
        assert single.z == pytest.approx(mk.z[r])
        assert single.tau == pytest.approx(stats.kendalltau(range(9), a[r]).statistic)


# ------------------------------------------------------------------- the surroundings test
SPACING = 50.0  # a 40 x 40 lattice of map points, 50 m apart, in a 2 km square
LATTICE = np.array(
    [(SPACING * (i + 0.5), SPACING * (j + 0.5)) for i in range(40) for j in range(40)]
)
BOX = shapely.box(0, 0, 40 * SPACING, 40 * SPACING)
CENTRE = np.array([1025.0, 1025.0])  # lattice point (20, 20)


def _stacked(counts):
    """Incidents stacked on the lattice points, ``counts[i]`` on point i."""
    return np.repeat(LATTICE, counts, axis=0)


def _offsets_sq():
    """Squared lattice offsets (in spacings) of every point from the centre."""
    return np.round(((LATTICE - CENTRE) / SPACING) ** 2).sum(axis=1)


def test_catchment_areas_by_hand():
    # every lattice point owns its 50 m x 50 m square; the squares tile the 2 km box
    area = catchment_areas(LATTICE, BOX)
    np.testing.assert_allclose(area, 2500.0, rtol=1e-9)
    # a point outside the study area keeps its own cell; three points split a 300 m strip
    pts = np.array([[50.0, 50.0], [150.0, 50.0], [250.0, 50.0]])
    np.testing.assert_allclose(
        catchment_areas(pts, shapely.box(0, 0, 300, 100)), [10000, 10000, 10000]
    )
    np.testing.assert_allclose(catchment_areas(pts[:1], shapely.box(0, 0, 300, 100)), [30000])
    assert catchment_areas(np.empty((0, 2)), BOX).shape == (0,)


def test_catchment_areas_of_a_many_part_study_area_equal_whole_area_clipping():
    """Clipping each Voronoi cell by the parts near it gives what clipping by the whole study
    area gives: many parts, a hole, cells across two parts, locations outside every part."""
    rng = np.random.default_rng(4)
    centres, radii = rng.uniform(0, 4000, (40, 2)), rng.uniform(100, 500, 40)
    parts = [shapely.Point(x, y).buffer(r, 6) for (x, y), r in zip(centres, radii, strict=True)]
    area = shapely.union_all(parts).difference(shapely.box(1900, 1900, 2100, 2100))
    assert area.geom_type == "MultiPolygon" and len(area.geoms) > 5
    pts = np.unique(rng.uniform(-500, 4500, (3000, 2)).round(0), axis=0)
    got = catchment_areas(pts, area)
    lo = np.minimum(pts.min(axis=0), area.bounds[:2])
    hi = np.maximum(pts.max(axis=0), area.bounds[2:])
    pad = float(max(hi - lo)) + 1.0  # the frame catchment_areas extends the cells to
    frame = shapely.box(*(lo - pad), *(hi + pad))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
    )
    clipped = shapely.area(shapely.intersection(cells, area))
    outside = (clipped <= 0) & ~shapely.contains_xy(area, pts[:, 0], pts[:, 1])
    ref = np.where(outside, shapely.area(cells), clipped)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert (clipped == 0).sum() > 10 and ((clipped > 0) & (clipped < shapely.area(cells))).any()


def mann_kendall_reference(x):
    """Mann-Kendall by the signs of the differences, one (m, n) temporary per value (the
    computation before the pairwise one)."""
    a = np.atleast_2d(np.asarray(x, dtype=float))
    m, n = a.shape
    s, tied, sq = np.zeros(m), np.zeros(m), np.zeros(m)
    for i in range(n):
        s += np.sign(a[:, i + 1 :] - a[:, i : i + 1]).sum(axis=1)
        c = (a == a[:, i : i + 1]).sum(axis=1)
        tied += c
        sq += c.astype(float) ** 2
    ties = 2 * sq + 3 * tied - 5 * n
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    root = np.sqrt(np.maximum(var_s, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
        n0 = n * (n - 1) / 2.0
        den = np.sqrt(n0 * (n0 - (tied - n) / 2.0))
        tau = np.where(den > 0, s / den, 0.0)
    z = np.where(root > 0, z, 0.0)
    p = np.minimum(1.0, 2 * stats.norm.sf(np.abs(z)))
    return MannKendall(s, var_s, z, p, tau)


def catchment_areas_reference(locations, study_area):
    """Every Voronoi cell overlaid on the study area's polygons near it (the computation before
    the shortcut for the cells well inside: ``stats._clipped_areas`` of every cell)."""
    pts = np.asarray(locations, dtype=float).reshape(-1, 2)
    if len(pts) < 2:
        return np.full(len(pts), float(study_area.area))
    lo = np.minimum(pts.min(axis=0), study_area.bounds[:2])
    hi = np.maximum(pts.max(axis=0), study_area.bounds[2:])
    pad = float(max(hi - lo)) + 1.0
    frame = shapely.box(*(lo - pad), *(hi + pad))
    cells = np.asarray(
        shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
        )
    )
    study_area = shapely.from_wkb(shapely.to_wkb(study_area))  # the overlay prepares its parts
    return stats_module._clipped_areas(cells, pts, shapely.area(cells), study_area)


def test_catchment_areas_equal_overlaying_every_cell(monkeypatch):
    """A dense town in a wide study area with a coast, islands and a lake: most cells take the
    shortcut (never overlaid), and every area is the overlay's, to the last bit."""
    rng = np.random.default_rng(7)
    coast = shapely.Polygon(
        [(0, 0), (20000, 0), (20000, 9000), (14000, 12000), (9000, 9500), (0, 14000)]
    )
    islands = [
        shapely.Point(x, y).buffer(r, 8) for x, y, r in [(17000, 14000, 900), (3000, 17000, 600)]
    ]
    area = shapely.union_all([coast, *islands]).difference(shapely.Point(6000, 5000).buffer(700, 8))
    town = rng.normal([10000, 5000], 1800, (6000, 2))
    spread = rng.uniform(-1000, 21000, (2500, 2))
    pts = np.unique(np.r_[town, spread].round(1), axis=0)
    overlaid = []
    real_intersection = shapely.intersection

    def counting(a, b, **kw):
        overlaid.append(np.size(a))
        return real_intersection(a, b, **kw)

    monkeypatch.setattr(shapely, "intersection", counting)
    got = catchment_areas(pts, area)
    monkeypatch.setattr(shapely, "intersection", real_intersection)
    np.testing.assert_array_equal(got, catchment_areas_reference(pts, area))
    assert sum(overlaid) < len(pts) // 4  # most cells never met the study area's polygons
    # clipped at the coast, the lake and the islands' shores: some cells lose part of their area
    assert (
        (got > 0) & (got < catchment_areas_reference(pts, shapely.box(-1e5, -1e5, 1e5, 1e5)))
    ).any()


def test_mann_kendall_pairwise_equals_signs_of_differences():
    """Ties, constant rows, NaN and infinity: the same s, variance, z, p and tau to the bit."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4, (3000, 11)).astype(float)
    a[:500] = rng.normal(size=(500, 11))
    a[600] = 3.0
    a[700, 4] = np.nan
    a[701, [1, 6]] = np.inf
    a[702, 0] = -np.inf
    with np.errstate(invalid="ignore"):  # infinity minus infinity, in both
        got, ref = mann_kendall(a), mann_kendall_reference(a)
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g, r)
    assert np.isnan(got.s[700]) and got.z[600] == 0 and (np.abs(got.z) > 2).any()
    one = mann_kendall(a[3])
    assert isinstance(one.z, float) and one.s == ref.s[3]


def test_surroundings_flat_by_hand():
    """Four incidents on every point, forty on the centre: the rings give the rate exactly."""
    d2 = _offsets_sq()
    counts = np.full(len(LATTICE), 4)
    counts[d2 == 0] = 40
    test = SurroundingsTest(_stacked(counts), BOX)
    centre = int(np.flatnonzero(d2 == 0)[0])
    res = test.discs([centre])
    # disc (75 m = 1.5 spacings): the centre and its 8 neighbours -> 40 + 8 * 4 = 72 incidents
    # on 9 * 2500 m2; inner ring 150-450 m: 9 < d2 <= 81, 224 points (Gauss circle counts
    # 253 - 29); outer ring 450-750 m: 81 < d2 <= 225, 456 points (709 - 253)
    assert ((d2 > 9) & (d2 <= 81)).sum() == 224 and ((d2 > 81) & (d2 <= 225)).sum() == 456
    a_d, a1, t1 = 9 * 2500.0, 224 * 2500.0, 224 * 4.0
    assert res.count[0] == 72
    # flat surroundings (rho_1 == rho_2 = 4 / 2500): E = 22500 * 4 / 2500 = 36
    assert res.expected[0] == pytest.approx(36.0)
    # no months: phi = 1; V = E + A_d^2 (T_1 + 1) / A_1^2
    v = 36.0 + a_d**2 * (t1 + 1) / a1**2
    assert res.variance[0] == pytest.approx(v)
    size, prob = 36.0**2 / (v - 36.0), 36.0 / v
    assert res.p_value[0] == pytest.approx(stats.nbinom.sf(71, size, prob), rel=1e-9)
    assert test.dispersion == 1.0 and test.dispersion_rule == "not measured: no months"
    # a polygon around the centre: its best disc, Bonferroni over the 1,600 discs
    place = test.places([shapely.Point(CENTRE).buffer(10)])
    assert place.count[0] == 72 and place.centre[0] == centre
    assert place.p_value[0] == pytest.approx(min(1.0, 1600 * res.p_value[0]), rel=1e-9)
    assert place.p_value[0] < 0.05
    json.dumps(test.describe())
    assert test.describe()["n_discs"] == 1600


def test_surroundings_curvature_correction_by_hand():
    """At a local peak the rate is extrapolated to the disc through a quadratic in distance."""
    d2 = _offsets_sq()
    counts = np.where(d2 <= 81, 6, 2)  # disc, gap and inner ring 6 per point, beyond 2
    test = SurroundingsTest(_stacked(counts), BOX)
    res = test.discs([int(np.flatnonzero(d2 == 0)[0])])
    m_d, m_1, m_2 = 75**2 / 2, (150**2 + 450**2) / 2, (450**2 + 750**2) / 2
    c = (m_1 - m_d) / (m_2 - m_1)
    assert test.curvature_factor == pytest.approx(c) and c == pytest.approx(0.40625)
    rho1, rho2 = 6 / 2500, 2 / 2500
    assert res.count[0] == 54
    assert res.expected[0] == pytest.approx(22500 * (rho1 + c * (rho1 - rho2)))
    var_rho = (1 + c) ** 2 * (224 * 6 + 1) / (224 * 2500) ** 2 + c**2 * (456 * 2 + 1) / (
        456 * 2500
    ) ** 2
    assert res.variance[0] == pytest.approx(res.expected[0] + 22500**2 * var_rho)
    # a dip (the inner ring quieter than the outer) keeps the inner ring's rate: never less
    dip = SurroundingsTest(_stacked(np.where(d2 <= 81, 2, 6)), BOX)
    assert dip.discs([int(np.flatnonzero(d2 == 0)[0])]).expected[0] == pytest.approx(18.0)


def _brute_force_discs(xy, area, months):
    """Reference implementation: explicit distances from every location to every other."""
    loc, inv, cnt = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    catch = np.array([shapely.area(cell.intersection(area)) for cell in _voronoi(loc)])
    number = pd.DatetimeIndex(months).year * 12 + pd.DatetimeIndex(months).month
    odd = np.bincount(inv, weights=number % 2, minlength=len(loc))
    halves = np.c_[cnt - odd, odd]
    c = (((150**2 + 450**2) / 2) - 75**2 / 2) / (((450**2 + 750**2) / 2) - ((150**2 + 450**2) / 2))
    d = np.hypot(*(loc[:, None, :] - loc[None, :, :]).transpose(2, 0, 1))
    disc, r1, r2 = d <= 75, (d > 150) & (d <= 450), (d > 450) & (d <= 750)
    win = disc | r1 | r2
    # phi from odd and even months over every disc
    ka, kb = disc @ halves[:, 1], disc @ halves[:, 0]
    pa = (win @ halves[:, 1]) / (win @ cnt)
    v = (ka + kb) * pa * (1 - pa)
    ok = v >= 5
    phi = 1.0
    if ok.sum() >= 30:
        z = (ka[ok] - (ka + kb)[ok] * pa[ok]) / np.sqrt(v[ok])
        phi = max(1.0, (np.median(np.abs(z)) / stats.norm.ppf(0.75)) ** 2)
    out = []
    for i in range(len(loc)):
        k, a_d = cnt[disc[i]].sum(), catch[disc[i]].sum()
        t1, a1 = cnt[r1[i]].sum(), catch[r1[i]].sum()
        t2, a2 = cnt[r2[i]].sum(), catch[r2[i]].sum()
        if a1 >= a_d:
            rho1, rho2 = t1 / a1, (t2 / a2 if a2 > 0 else t1 / a1)
            if rho1 > rho2:
                rho = rho1 + c * (rho1 - rho2)
                vr = (1 + c) ** 2 * (t1 + 1) / a1**2 + (c**2 * (t2 + 1) / a2**2 if a2 else 0)
            else:
                rho, vr = rho1, (t1 + 1) / a1**2
        elif a1 + a2 >= a_d:
            rho, vr = (t1 + t2) / (a1 + a2), (t1 + t2 + 1) / (a1 + a2) ** 2
        else:
            rho, vr = len(xy) / area.area, 0.0
        e = a_d * rho
        var = phi * e + phi * a_d**2 * vr
        p = (
            stats.nbinom.sf(k - 1, e**2 / (var - e), e / var)
            if var > e
            else stats.poisson.sf(k - 1, e)
        )
        out.append((k, e, var, p))
    return loc, np.array(out), phi


def _voronoi(loc):
    from scipy.spatial import Voronoi

    # bounded cells: mirror the points far away so every real cell is finite
    far = 1e6
    extra = np.array([[-far, -far], [-far, far], [far, -far], [far, far]])
    vor = Voronoi(np.r_[loc, extra])
    return [
        shapely.Polygon(vor.vertices[vor.regions[vor.point_region[i]]]).convex_hull
        for i in range(len(loc))
    ]


def test_surroundings_matches_a_brute_force_reference():
    rng = np.random.default_rng(3)
    pts = rng.uniform(0, 3000, (300, 2))  # map points, then snapped incidents with clumps
    raw = np.r_[rng.uniform(0, 3000, (2500, 2)), rng.normal(1500, 400, (3000, 2))]
    raw = raw[(raw >= 0).all(axis=1) & (raw <= 3000).all(axis=1)]
    xy = pts[cKDTree(pts).query(raw)[1]]
    months = pd.date_range("2024-01-01", periods=6, freq="MS")[rng.integers(0, 6, len(xy))]
    # a third of the incidents come in threes (one event, three victims, one month)
    xy = np.r_[xy, np.repeat(xy[:1800], 2, axis=0)]
    months = months.append(months[:1800].repeat(2))
    area = shapely.box(0, 0, 3000, 3000)
    test = SurroundingsTest(xy, area, months=months)
    loc, ref, phi = _brute_force_discs(xy, area, months)
    np.testing.assert_array_equal(test.locations, loc)
    assert test.dispersion == pytest.approx(phi, rel=1e-9) and phi > 1.2  # the clumps show
    res = test.discs()
    np.testing.assert_array_equal(res.count, ref[:, 0])
    np.testing.assert_allclose(res.expected, ref[:, 1], rtol=1e-7)
    np.testing.assert_allclose(res.variance, ref[:, 2], rtol=1e-7)
    np.testing.assert_allclose(res.p_value, ref[:, 3], rtol=1e-6, atol=1e-300)


def _brute_force_ring_sums(loc, values, centres, radii=(75.0, 150.0, 450.0, 750.0)):
    """Reference: every pair's distance, summed ring by ring in one direct float sum."""
    d = np.hypot(
        loc[None, :, 0] - loc[centres][:, None, 0], loc[None, :, 1] - loc[centres][:, None, 1]
    )
    r_d, r_gap, r_mid, r_out = radii
    masks = (d <= r_d, (d > r_gap) & (d <= r_mid), (d > r_mid) & (d <= r_out))
    return np.stack([m.astype(float) @ values for m in masks], axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ring_sums_equal_every_pair_tested(seed):
    """The strip sums (binary searches and prefix sums) give what testing every pair gives:
    counts exactly, catchment-like floats to rounding, empty rings exactly 0; on stacked map
    points of a dense town and a sparse countryside, and on a lattice whose points lie exactly
    on the rings' edges (distances of exactly 75, 150, 450 and 750 m)."""
    rng = np.random.default_rng(seed)
    town = rng.normal(2000, 300, (3000, 2))
    country = rng.uniform(-4000, 9000, (600, 2))
    lattice = np.stack(np.meshgrid(np.arange(21), np.arange(21)), -1).reshape(-1, 2) * 75.0
    xy = np.r_[np.round(town, 1), country, lattice + 20000.0]
    xy = np.r_[xy, xy[rng.integers(0, len(xy), 5000)]]  # stacked incidents
    test = SurroundingsTest(xy, shapely.box(-5000, -5000, 22000, 22000))
    loc = test.locations
    values = np.column_stack([test.counts, test.catchment, rng.integers(0, 3, len(loc))])
    centres = np.r_[rng.choice(len(loc), 400, replace=False), np.arange(len(loc) - 400, len(loc))]
    got = test._ring_sums(centres, values)
    ref = _brute_force_ring_sums(loc, values, centres)
    np.testing.assert_array_equal(got[:, :, [0, 2]], ref[:, :, [0, 2]])
    np.testing.assert_allclose(got[:, :, 1], ref[:, :, 1], rtol=1e-12)
    assert np.array_equal(got[:, :, 1] == 0, ref[:, :, 1] == 0)
    # the lattice's middle point, by hand: the disc holds it and its 4 neighbours at exactly
    # 75 m (the diagonal ones, 106 m, are out); a point at exactly 150 m is in the gap, at
    # exactly 450 m in the inner ring, at exactly 750 m ((10, 0) and (6, 8) steps) in the outer
    middle = np.flatnonzero((loc[:, 0] == 20750) & (loc[:, 1] == 20750))
    one = test._ring_sums(middle, np.ones((len(loc), 1)))[0, :, 0]
    steps = np.arange(-10, 11)
    d2 = (steps[:, None] ** 2 + steps[None, :] ** 2).ravel()  # lattice steps, squared
    assert one.tolist() == [5.0, ((d2 > 4) & (d2 <= 36)).sum(), ((d2 > 36) & (d2 <= 100)).sum()]
    assert one.tolist() == [5.0, 113.0 - 13.0, 317.0 - 113.0]  # Gauss circle counts N(r^2)


def test_points_in_polygons_equals_testing_every_pair():
    """Every (point, polygon) pair with ``polygon.intersects(point)``, sorted by point then
    polygon: overlapping polygons, a hole, points on edges and vertices, a missing geometry."""
    rng = np.random.default_rng(4)
    pts = np.r_[rng.uniform(0, 100, (400, 2)).round(0), [[10, 10], [50, 0], [30, 30]]]
    ring = shapely.Polygon(
        shapely.box(20, 20, 80, 80).exterior, [shapely.box(40, 40, 60, 60).exterior]
    )
    geoms = np.array(
        [
            shapely.box(10, 10, 50, 50),
            ring,
            None,
            shapely.Point(30, 30).buffer(25),
            shapely.box(50, -5, 60, 0),
        ],
        dtype=object,
    )
    point_idx, poly_idx = points_in_polygons(pts, geoms)
    want = [
        (i, j)
        for i in range(len(pts))
        for j, g in enumerate(geoms)
        if g is not None and g.intersects(shapely.Point(pts[i]))
    ]
    assert list(zip(point_idx.tolist(), poly_idx.tolist(), strict=True)) == want
    assert len(want) == 262 and (len(pts) - 2, 4) in want  # (50, 0) is on the last box's edge
    none = points_in_polygons(np.empty((0, 2)), geoms)
    assert none[0].size == 0 and none[1].size == 0
    # every polygon below the points' rows, or beyond them
    away = points_in_polygons(pts, [shapely.box(0, -90, 10, -80), shapely.box(-90, -9, -80, -8)])
    assert away[0].size == 0 and away[1].size == 0
    away = points_in_polygons(
        pts, [shapely.box(500, 500, 600, 600), shapely.box(-90, 200, -80, 300)]
    )
    assert away[0].size == 0 and away[1].size == 0


def test_split_dispersion_sees_clumps_not_persistent_differences():
    rng = np.random.default_rng(5)
    # places 1 to 50 times busier than others, the same in both halves: phi stays 1
    rate = rng.uniform(5, 250, 4000)
    events = rng.poisson(rate)
    a = rng.binomial(events, 0.5)
    assert split_dispersion(a, events - a, np.full(4000, 0.5)) == pytest.approx(1.0, abs=0.08)
    # two victims per incident: twice the variance
    assert split_dispersion(2 * a, 2 * (events - a), np.full(4000, 0.5)) == pytest.approx(
        2.0, rel=0.1
    )
    # too few informative places: 1
    assert split_dispersion(a[:20] * 5, a[:20], np.full(20, 0.5)) == 1.0


def test_surroundings_undefined_and_degenerate():
    # a study area without area: NaN p-values, nothing significant
    one = SurroundingsTest(np.zeros((5, 2)), shapely.Point(0, 0))
    assert not one.defined
    res = one.places([shapely.Point(0, 0).buffer(10)])
    assert np.isnan(res.p_value).all() and np.isnan(one.discs().p_value).all()
    # no incidents
    none = SurroundingsTest(np.empty((0, 2)), BOX)
    assert none.n_tests == 0 and not none.defined and np.isnan(none.places([BOX]).p_value).all()
    # a polygon with no location inside: p = 1, no disc
    test = SurroundingsTest(_stacked(np.full(len(LATTICE), 1)), BOX)
    far = test.places([shapely.box(5000, 5000, 5100, 5100)])
    assert far.p_value[0] == 1.0 and far.centre[0] == -1 and np.isnan(far.expected[0])
    # one month only: clumping not measured
    mono = SurroundingsTest(LATTICE, BOX, months=np.full(len(LATTICE), np.datetime64("2024-01")))
    assert mono.dispersion == 1.0 and "fewer than two months" in mono.dispersion_rule
    with pytest.raises(ValueError, match="radii"):
        SurroundingsTest(LATTICE, BOX, radii=(75, 50, 450, 750))


def test_catchments_of_points_nearer_than_geos_can_split_share_one_cell():
    # found by tests/test_properties.py: two map points 1e-10 m apart at national grid
    # coordinates made GEOS's Voronoi fail ("Points of LinearRing do not form a closed
    # linestring"); they are one place, and its cell is shared between them
    import shapely

    from hotspots.stats import catchment_areas

    area = shapely.box(400000.0, 300000.0, 401000.0, 301000.0)
    base = np.array([400500.0, 300500.0])
    pts = np.array([base, base + [0.0, 1e-10], base + [1.0, 0.0]])
    got = catchment_areas(pts, area)
    # the pair's cell is x < 400500.5 (half a metre short of the middle), the third the rest
    np.testing.assert_allclose(got, [250250.0, 250250.0, 499500.0], rtol=1e-9)
    assert got.sum() == pytest.approx(area.area, rel=1e-12)


def test_catchment_areas_are_drawn_once_for_the_same_locations_and_area(monkeypatch):
    # detection and change over time on the same incidents share one Voronoi diagram; the
    # caller's copy is its own, and other locations or another study area draw again
    import shapely

    from hotspots.stats import catchment_areas

    rng = np.random.default_rng(11)
    pts = np.unique(rng.uniform(0, 1000, (300, 2)).round(2), axis=0)
    area = shapely.box(-10, -10, 1010, 1010)
    drawn = []
    real = shapely.voronoi_polygons

    def counting(*args, **kwargs):
        drawn.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(shapely, "voronoi_polygons", counting)
    first = catchment_areas(pts, area)
    first[:] = -1.0  # the caller's copy
    second = catchment_areas(pts.copy(), shapely.from_wkb(shapely.to_wkb(area)))
    assert len(drawn) == 1 and (second > 0).all()
    assert second.sum() == pytest.approx(area.area, rel=1e-12)
    catchment_areas(pts[1:], area)
    catchment_areas(pts, shapely.box(-10, -10, 1010, 1020))
    assert len(drawn) == 3
