"""Tests of hotspots.clusters: weighted DBSCAN == scikit-learn, the CSR rule, planted hot spots,
pure noise, the hull rule, degenerate input and scale."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from sklearn.cluster import DBSCAN

from hotspots import clusters as cl
from hotspots._errors import ParameterError
from hotspots.clusters import (
    HOTSPOT_COLUMNS,
    DBSCANHotspots,
    HDBSCANHotspots,
    csr_min_samples,
    weighted_dbscan,
)
from hotspots.incidents import Incidents

X0, Y0 = 400_000.0, 380_000.0  # a British National Grid origin (EPSG:27700), metres


# ----------------------------------------------------------------------------- helpers


def stacked_points(seed: int, m: int = 400, side: float = 2000.0) -> np.ndarray:
    """police.uk-like data: m map points, heavy-tailed stacks (zipf), shuffled order."""
    rng = np.random.default_rng(seed)
    half = m // 2
    pts = np.r_[
        rng.uniform(0, side, (half, 2)),
        rng.normal(side / 2, side / 12, (m - half, 2)),  # a dense centre, like a town centre
    ]
    mult = np.minimum(rng.zipf(1.8, m), 300)
    idx = np.repeat(np.arange(m), mult)
    rng.shuffle(idx)
    return pts[idx]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Same grouping up to a permutation of labels, with noise (-1) matched to noise."""
    if a.shape != b.shape or not np.array_equal(a == -1, b == -1):
        return False
    pairs = np.unique(np.c_[a, b][a >= 0], axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs) == len(np.unique(pairs[:, 1]))


def contested_borders(xy: np.ndarray, labels: np.ndarray, core: np.ndarray, eps: float) -> int:
    """Non-core points with core neighbours in two or more clusters (the order-dependent case)."""
    from sklearn.neighbors import KDTree

    cidx = np.flatnonzero(core)
    if not len(cidx):
        return 0
    tree = KDTree(xy[cidx])
    n = 0
    for i, nb in zip(np.flatnonzero(~core), tree.query_radius(xy[~core], eps), strict=True):
        del i
        if len(np.unique(labels[cidx[nb]])) >= 2:
            n += 1
    return n


def poisson_tail(k: int, lam: float) -> float:
    """P(Poisson(lam) >= k) by the series, independent of scipy."""
    return 1.0 - sum(math.exp(-lam) * lam**j / math.factorial(j) for j in range(k))


def planted_town(seed: int = 7):
    """12 km x 12 km town: 8 planted ~100 m clusters (30-80 incidents) + 2,000 background."""
    rng = np.random.default_rng(seed)
    side = 12_000.0
    gx, gy = np.meshgrid([2000.0, 5000.0, 8000.0, 10500.0], [3000.0, 9000.0])
    centres = np.c_[gx.ravel(), gy.ravel()] + rng.uniform(-400, 400, (8, 2))
    xs, ys, planted = [], [], []
    for i, (cx, cy) in enumerate(centres):
        k = int(rng.integers(30, 81))
        r = 50.0 * np.sqrt(rng.uniform(0, 1, k))  # uniform in a disc of diameter 100 m
        t = rng.uniform(0, 2 * np.pi, k)
        xs.append(cx + r * np.cos(t))
        ys.append(cy + r * np.sin(t))
        planted.append(np.full(k, i))
    xs.append(rng.uniform(0, side, 2000))
    ys.append(rng.uniform(0, side, 2000))
    planted.append(np.full(2000, -1))
    x, y = np.concatenate(xs) + X0, np.concatenate(ys) + Y0
    area = shapely.box(X0, Y0, X0 + side, Y0 + side)
    inc = Incidents.from_xy(x, y, study_area=area)
    return inc, centres + [X0, Y0], np.concatenate(planted)


def check_planted(est, inc, centres, truth, member_precision: float = 0.9) -> None:
    hs = est.hotspots_
    assert len(hs) >= 8
    top = hs.iloc[:8]
    # each of the top 8 clusters (by n_members) contains exactly one planted centre, all distinct
    hit = np.array([[g.contains(shapely.Point(c)) for c in centres] for g in top.geometry])
    assert (hit.sum(axis=1) == 1).all()
    assert (hit.sum(axis=0) == 1).all()
    # member precision and recall of the top 8 clusters against the planted incidents
    in_top = np.isin(est.labels_, top["cluster"].to_numpy())
    precision = (truth[in_top] >= 0).mean()
    recall = in_top[truth >= 0].mean()
    assert precision >= member_precision, precision
    assert recall >= 0.9, recall


# ----------------------------------------------------------------------------- csr rule


def test_csr_min_samples_hand_computed() -> None:
    # 2,000 incidents, 12 km x 12 km, eps 75 m:
    # lam = 1999 * pi * 75^2 / 1.44e8 = 35,325,246 / 1.44e8 = 0.245314
    lam = 1999 * math.pi * 75**2 / 144e6
    assert lam == pytest.approx(0.245314, abs=1e-6)
    # leading terms: e^-lam lam^4 / 4! = 1.1807e-4, e^-lam lam^5 / 5! = 5.793e-6; the tails are
    # about 5 % larger (next terms lam/5, lam/6 ...):
    # k = 5: 2000 * P(Poisson >= 4) = 2000 * 1.2411e-4 = 0.248 > 0.05
    # k = 6: 2000 * P(Poisson >= 5) = 2000 * 6.038e-6 = 0.0121 <= 0.05
    assert 2000 * poisson_tail(4, lam) == pytest.approx(0.24822, rel=1e-3)
    assert 2000 * poisson_tail(5, lam) == pytest.approx(0.012077, rel=1e-3)
    assert csr_min_samples(2000, 144e6, 75.0) == 6
    # alpha = 0.3 accepts k = 5 (0.248 <= 0.3)
    assert csr_min_samples(2000, 144e6, 75.0, alpha=0.3) == 5


def test_csr_min_samples_dense_matches_series() -> None:
    # 20,000 incidents on 3 km x 3 km: lam = 39.27, far above the floor of 5
    n, area, eps, alpha = 20_000, 9e6, 75.0, 0.05
    lam = (n - 1) * math.pi * eps**2 / area
    k = csr_min_samples(n, area, eps, alpha)
    assert n * poisson_tail(k - 1, lam) <= alpha < n * poisson_tail(k - 2, lam)
    assert k == 73


def test_csr_min_samples_floor_and_errors() -> None:
    assert csr_min_samples(1, 1e6, 75.0) == 5
    assert csr_min_samples(10, 1e9, 75.0) == 5
    for bad in [
        dict(n=0, area_m2=1e6, eps=75.0),
        dict(n=10, area_m2=0.0, eps=75.0),
        dict(n=10, area_m2=1e6, eps=-1.0),
        dict(n=10, area_m2=1e6, eps=75.0, alpha=1.0),
    ]:
        with pytest.raises(ParameterError):
            csr_min_samples(**bad)


# ----------------------------------------------------------------------------- weighted == sklearn


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(("eps", "min_samples"), [(50.0, 5), (75.0, 12), (120.0, 40)])
def test_weighted_dbscan_equals_sklearn_raw(seed: int, eps: float, min_samples: int) -> None:
    xy = stacked_points(seed)
    assert len(np.unique(xy, axis=0)) < len(xy) / 3  # heavy duplication, like police.uk
    ref = DBSCAN(eps=eps, min_samples=min_samples, algorithm="kd_tree").fit(xy)
    ours = weighted_dbscan(xy[:, 0], xy[:, 1], eps=eps, min_samples=min_samples)
    assert same_partition(ours, ref.labels_)
    np.testing.assert_array_equal(ours, ref.labels_)  # even the numbering agrees
    # core points identical
    uniq, inv, counts = cl._unique_locations(xy)
    _, core, _ = cl._dbscan_locations(uniq, counts.astype(float), eps, min_samples)
    ref_core = np.zeros(len(xy), dtype=bool)
    ref_core[ref.core_sample_indices_] = True
    np.testing.assert_array_equal(core[inv], ref_core)


def test_weighted_dbscan_border_ties_are_exercised() -> None:
    """The order-dependent border case happens in this data, and we still match sklearn."""
    n_contested = 0
    for seed in range(4):
        xy = stacked_points(seed)
        ref = DBSCAN(eps=120.0, min_samples=40, algorithm="ball_tree").fit(xy)
        core = np.zeros(len(xy), dtype=bool)
        core[ref.core_sample_indices_] = True
        n_contested += contested_borders(xy, ref.labels_, core, 120.0)
        ours = weighted_dbscan(xy[:, 0], xy[:, 1], eps=120.0, min_samples=40)
        np.testing.assert_array_equal(ours, ref.labels_)
    assert n_contested > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_dbscan_sample_weights_equal_sklearn(seed: int) -> None:
    xy = stacked_points(seed)
    w = np.random.default_rng(seed).uniform(0.2, 3.0, len(xy))
    ref = DBSCAN(eps=75.0, min_samples=20).fit(xy, sample_weight=w).labels_
    ours = weighted_dbscan(xy[:, 0], xy[:, 1], eps=75.0, min_samples=20.0, weights=w)
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_dbscan_small_blocks_equal_sklearn(seed: int, monkeypatch) -> None:
    """Tiny strips and hash blocks: pairs across strip edges, locations first seen late."""
    monkeypatch.setattr(cl, "_CHUNK", 37)
    monkeypatch.setattr(cl, "_DEDUP_BLOCK", 50)
    xy = stacked_points(seed, m=600, side=1500.0)
    for eps, ms in [(60.0, 8), (120.0, 40)]:
        ref = DBSCAN(eps=eps, min_samples=ms, algorithm="kd_tree").fit(xy).labels_
        ours = weighted_dbscan(xy[:, 0], xy[:, 1], eps=eps, min_samples=ms)
        np.testing.assert_array_equal(ours, ref)


def test_pair_blocks_are_every_pair_once(monkeypatch) -> None:
    monkeypatch.setattr(cl, "_CHUNK", 16)
    rng = np.random.default_rng(4)
    pts = np.r_[rng.uniform(0, 300, (150, 2)), [[10.0, 10.0], [10.0, 40.0], [10.0, 10.0 + 1e-9]]]
    got = np.concatenate([np.c_[i, j] for i, j in cl._pair_blocks(pts, 30.0)])
    assert (got[:, 0] != got[:, 1]).all()
    got = np.sort(got, axis=1)
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    want = np.argwhere(np.triu(d <= 30.0, k=1))
    assert len(got) == len(np.unique(got, axis=0))  # no pair twice
    np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], want)


def test_unique_locations_first_occurrence_order(monkeypatch) -> None:
    monkeypatch.setattr(cl, "_DEDUP_BLOCK", 2)
    xy = np.array([[5.0, 1.0], [2.0, 2.0], [5.0, 1.0], [0.0, 0.0], [2.0, 2.0], [7.0, 3.0]])
    uniq, inv, counts = cl._unique_locations(xy)
    np.testing.assert_array_equal(uniq, [[5.0, 1.0], [2.0, 2.0], [0.0, 0.0], [7.0, 3.0]])
    np.testing.assert_array_equal(inv, [0, 1, 0, 2, 1, 3])
    np.testing.assert_array_equal(counts, [2, 2, 1, 1])


def police_uk_shaped(n: int, seed: int) -> np.ndarray:
    """benchmarks/bench_clusters.py's data: n incidents on n / 6.7 map points, 20 towns."""
    rng = np.random.default_rng(seed)
    m = max(1, round(n / 6.7))
    n_town = int(0.6 * m)
    towns = rng.uniform(3000, 27000, (20, 2))
    pts = np.r_[
        towns[rng.integers(0, 20, n_town)] + rng.normal(0, 800, (n_town, 2)),
        rng.uniform(0, 30_000, (m - n_town, 2)),
    ]
    pts = np.round(pts, 1) + [330_000.0, 380_000.0]
    p = 1.0 / np.sqrt(np.arange(1, m + 1))
    rng.shuffle(p)
    return pts[rng.choice(m, size=n, p=p / p.sum())]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_dbscan_100k_stacked_equals_sklearn(seed: int) -> None:
    """The benchmark's police.uk-shaped data: 100,000 incidents on ~15,000 map points."""
    xy = police_uk_shaped(100_000, seed)
    ref = DBSCAN(eps=75.0, min_samples=14, algorithm="kd_tree").fit(xy).labels_
    ours = weighted_dbscan(xy[:, 0], xy[:, 1], eps=75.0, min_samples=14)
    assert ref.max() > 10  # clusters and noise both present
    assert (ref == -1).any()
    np.testing.assert_array_equal(ours, ref)


def test_weighted_dbscan_small_and_errors() -> None:
    assert weighted_dbscan([], [], eps=10, min_samples=5).tolist() == []
    assert weighted_dbscan([0.0], [0.0], eps=10, min_samples=1).tolist() == [0]
    assert weighted_dbscan([0, 0, 0, 10, 500], [0] * 5, eps=20, min_samples=4).tolist() == [
        0,
        0,
        0,
        0,
        -1,
    ]
    with pytest.raises(ParameterError, match="same length"):
        weighted_dbscan([0, 1], [0], eps=1, min_samples=1)
    with pytest.raises(ParameterError, match="finite"):
        weighted_dbscan([0, np.nan], [0, 0], eps=1, min_samples=1)
    with pytest.raises(ParameterError, match="eps"):
        weighted_dbscan([0], [0], eps=0, min_samples=1)
    with pytest.raises(ParameterError, match="min_samples"):
        weighted_dbscan([0], [0], eps=1, min_samples=2.5)


# ----------------------------------------------------------------------------- DBSCANHotspots


def test_dbscan_planted_hotspots_found_with_defaults() -> None:
    inc, centres, truth = planted_town()
    est = DBSCANHotspots().fit(inc)
    assert est.eps_ == 75.0
    assert est.min_samples_ == csr_min_samples(len(inc), 144e6, 75.0) == 6
    check_planted(est, inc, centres, truth)
    # no background clusters: every cluster holds a planted centre
    hit = [any(g.contains(shapely.Point(c)) for c in centres) for g in est.hotspots_.geometry]
    assert np.mean(hit) >= 0.9
    assert est.hotspots_["significant"].all()
    # labels_ are scikit-learn's labels on the raw points
    ref = DBSCAN(eps=75.0, min_samples=6).fit(inc.xy).labels_
    np.testing.assert_array_equal(est.labels_, ref)
    hs = est.hotspots_
    assert list(hs.columns) == ["geometry", *HOTSPOT_COLUMNS]
    assert hs.crs.to_epsg() == 27700
    assert (hs["method"] == "dbscan").all()
    assert hs["n_members"].is_monotonic_decreasing
    counts = np.bincount(est.labels_[est.labels_ >= 0])
    np.testing.assert_array_equal(hs["n_members"], counts[hs["cluster"]])
    json.dumps(est.params_)
    assert est.params_["min_samples_rule"] == "csr"
    assert any("eps set to 75 m" in s for s in est.notes_)
    assert any("min_samples set to 6" in s for s in est.notes_)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_dbscan_pure_noise_gives_no_cluster(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x, y = rng.uniform(0, 12_000, (2, 2000))
    area = shapely.box(0, 0, 12_000, 12_000)
    est = DBSCANHotspots().fit(
        Incidents.from_xy(x + X0, y + Y0, study_area=shapely.affinity.translate(area, X0, Y0))
    )
    assert est.n_clusters_ == 0
    assert (est.labels_ == -1).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_dbscan_dense_pure_noise_gives_no_cluster(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    x, y = rng.uniform(0, 3000, (2, 20_000))
    est = DBSCANHotspots().fit(Incidents.from_xy(x + X0, y + Y0))
    assert est.min_samples_ > 50
    assert est.n_clusters_ == 0


def test_hull_single_location_is_a_disc_and_members_covered() -> None:
    rng = np.random.default_rng(3)
    bx, by = rng.uniform(0, 2000, (2, 400))
    far = np.hypot(bx - 1000, by - 1000) > 300
    x = np.r_[np.full(100, 1000.0), bx[far], 1500.0, 1540.0] + X0
    y = np.r_[np.full(100, 1000.0), by[far], 200.0, 200.0] + Y0
    x = np.r_[x, np.full(30, X0 + 1500.0), np.full(30, X0 + 1540.0)]
    y = np.r_[y, np.full(60, Y0 + 200.0)]
    inc = Incidents.from_xy(x, y)
    est = DBSCANHotspots(min_samples=25).fit(inc)
    hs = est.hotspots_.set_index("cluster")
    stack = est.labels_[0]
    assert stack >= 0
    row = hs.loc[stack]
    assert row["n_locations"] == 1 and row["n_members"] == 100 and row["peak_count"] == 100
    assert (row["peak_x"], row["peak_y"]) == (X0 + 1000.0, Y0 + 1000.0)
    r = est.eps_ / 2
    assert row.geometry.geom_type == "Polygon"
    assert row.geometry.area == pytest.approx(math.pi * r * r, rel=0.02)
    # two locations 40 m apart: a stadium, area pi r^2 + 2 r d
    pair = hs.loc[est.labels_[-1]]
    assert pair["n_locations"] == 2 and pair["n_members"] == 62
    assert pair.geometry.area == pytest.approx(math.pi * r * r + 2 * r * 40.0, rel=0.02)


@pytest.mark.parametrize("hull", ["concave", "convex"])
def test_hull_polygons_valid_and_cover_members(hull: str) -> None:
    inc, _, _ = planted_town(seed=11)
    est = DBSCANHotspots(hull=hull, min_samples=5, eps=150.0).fit(inc)
    hs = est.hotspots_
    assert len(hs) > 0
    assert shapely.is_valid(hs.geometry.values).all()
    assert (hs.geom_type == "Polygon").all()
    pts = shapely.points(inc.xy)
    for c, geom in zip(hs["cluster"], hs.geometry, strict=True):
        assert shapely.contains_properly(geom, pts[est.labels_ == c]).all()
    if hull == "convex":
        concave = DBSCANHotspots(hull="concave", min_samples=5, eps=150.0).fit(inc).hotspots_
        assert (hs.area.to_numpy() >= concave.area.to_numpy() - 1e-6).all()


def test_use_weights_counts_harm() -> None:
    # 3 incidents of weight 10 on one point; 20 far-away incidents of weight 1 on another
    x = np.r_[np.zeros(3), np.full(20, 5000.0), 2500.0] + X0
    y = np.r_[np.zeros(3), np.zeros(20), 3000.0] + Y0
    w = np.r_[np.full(3, 10.0), np.ones(20), 1.0]
    inc = Incidents.from_xy(x, y, weight=w)
    est = DBSCANHotspots(use_weights=True, min_samples=25).fit(inc)
    assert est.labels_[:3].tolist() == [0, 0, 0]
    assert (est.labels_[3:] == -1).all()  # 20 incidents weigh 20 < 25
    ref = DBSCAN(eps=75.0, min_samples=25).fit(inc.xy, sample_weight=w).labels_
    np.testing.assert_array_equal(est.labels_, ref)
    assert est.hotspots_["n_members"].tolist() == [3]  # n_members counts incidents
    with pytest.raises(ParameterError, match="use_weights"):
        DBSCANHotspots(use_weights=True).fit(inc)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(eps=-5.0),
        dict(eps="75"),
        dict(min_samples=0),
        dict(min_samples=2.5),
        dict(alpha=1.5),
        dict(hull="round"),
        dict(use_weights="yes"),
    ],
)
def test_dbscan_bad_parameters(kwargs: dict) -> None:
    inc = Incidents.from_xy([X0, X0 + 10], [Y0, Y0 + 10])
    est = DBSCANHotspots(**kwargs)  # __init__ only stores
    with pytest.raises(ParameterError):
        est.fit(inc)


def test_fit_needs_incidents() -> None:
    with pytest.raises(ParameterError, match="Incidents"):
        DBSCANHotspots().fit(np.zeros((3, 2)))


@pytest.mark.parametrize("estimator", [DBSCANHotspots, HDBSCANHotspots])
@pytest.mark.parametrize(
    "xy",
    [
        (np.empty(0), np.empty(0)),
        (np.array([X0]), np.array([Y0])),
        (np.array([X0, X0 + 30]), np.array([Y0, Y0 + 30])),
        (np.full(500, X0), np.full(500, Y0)),  # all on one point: study area has no area
        (X0 + np.arange(6) * 1000.0, Y0 + np.arange(6) * 700.0),  # all noise
    ],
    ids=["0", "1", "2", "one-point", "all-noise"],
)
def test_degenerate_input_gives_empty_result(estimator, xy) -> None:
    inc = Incidents.from_xy(*xy)
    est = estimator().fit(inc)
    assert est.n_clusters_ == 0
    assert list(est.hotspots_.columns) == ["geometry", *HOTSPOT_COLUMNS]
    assert len(est.hotspots_) == 0
    assert est.labels_.shape == (len(inc),) and (est.labels_ == -1).all()
    json.dumps(est.params_)


def test_one_point_with_explicit_min_samples_is_one_disc() -> None:
    inc = Incidents.from_xy(np.full(500, X0), np.full(500, Y0))
    est = DBSCANHotspots(min_samples=10).fit(inc)
    assert est.n_clusters_ == 1
    g = est.hotspots_.geometry.iloc[0]
    assert g.area == pytest.approx(math.pi * 37.5**2, rel=0.02)
    assert np.isnan(est.hotspots_["p_value"].iloc[0])  # no area, no CSR test


# ----------------------------------------------------------------------------- HDBSCANHotspots


def test_hdbscan_planted_hotspots_found_with_defaults() -> None:
    inc, centres, truth = planted_town()
    est = HDBSCANHotspots().fit(inc)
    assert est.min_cluster_size_ == est.min_samples_ == 6
    # HDBSCAN's clusters keep the sparse halo they were born with (background incidents a few
    # hundred metres out), so member precision is ~0.85 here rather than DBSCAN's ~0.99.
    check_planted(est, inc, centres, truth, member_precision=0.8)
    hs = est.hotspots_
    assert len(hs) == 8  # every kept cluster is a planted one
    assert (hs["method"] == "hdbscan").all()
    assert hs["significant"].all()
    assert shapely.is_valid(hs.geometry.values).all()
    json.dumps(est.params_)


@pytest.mark.parametrize("seed", [0, 1])
def test_hdbscan_stacks_stay_whole(seed: int) -> None:
    xy = stacked_points(seed, m=600, side=3000.0) + [X0, Y0]
    est = HDBSCANHotspots().fit(Incidents.from_xy(xy[:, 0], xy[:, 1]))
    assert est.n_clusters_ > 0
    _, inv, _ = cl._unique_locations(xy)
    per_loc = np.full(inv.max() + 1, -2)
    per_loc[inv] = est.labels_
    np.testing.assert_array_equal(per_loc[inv], est.labels_)  # one label per map point
    assert any("split off a stack" in s for s in est.notes_)  # sklearn did split some here
    counts = np.bincount(est.labels_[est.labels_ >= 0])
    np.testing.assert_array_equal(est.hotspots_["n_members"], counts[est.hotspots_["cluster"]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hdbscan_pure_noise(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    x, y = rng.uniform(0, 12_000, (2, 2000))
    inc = Incidents.from_xy(x + X0, y + Y0)
    assert HDBSCANHotspots().fit(inc).n_clusters_ == 0
    # without the CSR filter HDBSCAN splits pure noise into dozens of clusters
    raw = HDBSCANHotspots(significant_only=False).fit(inc)
    assert raw.n_clusters_ > 20
    assert not raw.hotspots_["significant"].any()


def test_hdbscan_refuses_large_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cl, "HDBSCAN_MAX_INCIDENTS", 100)
    inc = Incidents.from_xy(np.arange(101.0) + X0, np.zeros(101) + Y0)
    with pytest.raises(ParameterError, match="DBSCANHotspots"):
        HDBSCANHotspots().fit(inc)


def test_hdbscan_bad_parameters() -> None:
    inc = Incidents.from_xy([X0, X0 + 10], [Y0, Y0 + 10])
    for kw in [
        dict(min_cluster_size=1),
        dict(min_samples=0),
        dict(hull="x"),
        dict(alpha=0),
        dict(significant_only=1),
    ]:
        with pytest.raises(ParameterError):
            HDBSCANHotspots(**kw).fit(inc)


# ----------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_scale_500k_incidents_on_20k_locations(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    m, n = 20_000, 500_000
    loc = np.r_[rng.uniform(0, 30_000, (m // 2, 2)), rng.normal(15_000, 3000, (m - m // 2, 2))]
    p = 1.0 / np.arange(1, m + 1) ** 0.7
    rng.shuffle(p)
    idx = rng.choice(m, size=n, p=p / p.sum())
    inc = Incidents.from_xy(loc[idx, 0] + X0, loc[idx, 1] + Y0)
    # The work is counted, not timed (speed: benchmarks/bench_clusters.py): every KD-tree holds
    # distinct locations only, and each location is queried once for its neighbourhood weight
    # and once more for the clusters and the border locations (two passes over the eps-pairs).
    tree_sizes: list[int] = []
    queried: list[int] = []
    kdtree, blocks = cl.cKDTree, cl._pair_blocks

    def counted_tree(pts, *args, **kwargs):
        tree_sizes.append(len(pts))
        return kdtree(pts, *args, **kwargs)

    def counted_blocks(pts, eps):
        queried.append(len(pts))
        return blocks(pts, eps)

    monkeypatch.setattr(cl, "cKDTree", counted_tree)
    monkeypatch.setattr(cl, "_pair_blocks", counted_blocks)
    est = DBSCANHotspots().fit(inc)
    assert est.labels_.shape == (n,)
    assert est.n_clusters_ > 0
    assert est.params_["n_locations"] <= m
    assert int(est.hotspots_["n_members"].sum()) == int((est.labels_ >= 0).sum())
    n_loc = est.params_["n_locations"]
    assert tree_sizes and max(tree_sizes) <= n_loc
    assert sum(queried) == 2 * n_loc
