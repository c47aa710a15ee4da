"""Session 12 (det12): the disc sums' sure runs found by counting a few keys from the ends of
their candidate ranges (:func:`hotspots.stats._search_after`, :func:`_search_before`), the same
indices as a binary search of every key and so the same bits; DBSCAN's and HDBSCAN's tests
computing their members' discs ahead, and the other discs of a test's places on the tables of
those computed ahead."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

import hotspots.clusters as cl
import hotspots.stats as stats
from hotspots.clusters import DBSCANHotspots, HDBSCANHotspots
from hotspots.incidents import Incidents
from hotspots.stats import SurroundingsTest, _disc_fields, _search_after, _search_before


def _keys(rng: np.random.Generator, n: int) -> np.ndarray:
    """Sorted keys with runs of equal values (stacked map points share a key)."""
    return np.sort(np.round(rng.uniform(0, 50, n), 0 if n > 20 else 1))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 40, 2000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_searches_from_the_ends_equal_searchsorted(n, seed):
    rng = np.random.default_rng(seed)
    key = _keys(rng, n)
    # targets on keys, between them, below and above all of them
    target = np.r_[key, key + 0.5, key - 0.5, rng.uniform(-5, 55, 500), -1.0, 99.0, np.inf]
    left = np.searchsorted(key, target, "left")
    right = np.searchsorted(key, target, "right")
    # any start at or below the answer (at the answer, just below, far below, zero)
    for start in (left, np.maximum(left - 1, 0), np.maximum(left - 7, 0), np.zeros_like(left)):
        np.testing.assert_array_equal(_search_after(key, start, target), left)
    for stop in (right, np.minimum(right + 1, n), np.minimum(right + 7, n), np.full_like(right, n)):
        np.testing.assert_array_equal(_search_before(key, stop, target), right)
    empty = np.empty(0, dtype=np.intp)
    assert len(_search_after(key, empty, np.empty(0))) == 0
    assert len(_search_before(key, empty, np.empty(0))) == 0


def test_searches_far_from_the_start_fall_back_to_binary_search(monkeypatch):
    """A run longer than the window (a dense strip) is searched for, with the same answer."""
    key = np.arange(100.0)
    target = np.array([50.5, 0.0, 99.0, 100.0])
    start = np.zeros(4, dtype=np.intp)
    seen = []
    real = np.searchsorted

    def spy(a, v, side="left"):
        seen.append(len(v))
        return real(a, v, side)

    monkeypatch.setattr(stats.np, "searchsorted", spy)
    got = _search_after(key, start, target)
    monkeypatch.undo()
    np.testing.assert_array_equal(got, real(key, target, "left"))
    assert seen == [3]  # 0.0 is found in the window; the others are searched for


def _town(seed: int) -> tuple[np.ndarray, shapely.Polygon]:
    rng = np.random.default_rng(seed)
    town = np.round(rng.normal(2000, 300, (1200, 2)), 1)
    xy = np.r_[town, rng.uniform(-2000, 6000, (300, 2)), [[2000.0, 2000.0]] * 30]
    xy = np.r_[xy, xy[rng.integers(0, len(xy), 1500)]] + [400_000, 300_000]
    return xy, shapely.box(398_000, 298_000, 406_000, 306_000)


def _with_binary_searches(monkeypatch):
    """The disc sums as before this change: every end of a sure run found by np.searchsorted."""
    monkeypatch.setattr(
        stats, "_search_after", lambda key, start, target: np.searchsorted(key, target, "left")
    )
    monkeypatch.setattr(
        stats, "_search_before", lambda key, stop, target: np.searchsorted(key, target, "right")
    )


@pytest.mark.parametrize("seed", [3, 4])
def test_ring_sums_are_the_bits_of_binary_searches_and_of_every_pair(seed, monkeypatch):
    xy, area = _town(seed)
    test = SurroundingsTest(xy, area)
    loc = test.locations
    values = np.column_stack([test.counts, test.catchment])
    centres = np.r_[np.arange(len(loc)), 0, len(loc) - 1]
    calls = []
    after = stats._search_after

    def counted(key, start, target):
        calls.append(len(start))
        return after(key, start, target)

    monkeypatch.setattr(stats, "_search_after", counted)
    got = test._ring_sums(centres, values)
    assert sum(calls) > 0  # the new path is taken
    _with_binary_searches(monkeypatch)
    ref = test._ring_sums(centres, values)
    monkeypatch.undo()
    np.testing.assert_array_equal(got.view(np.uint64), ref.view(np.uint64))
    d = np.hypot(*(loc[None, :, a] - loc[centres][:, None, a] for a in (0, 1)))
    masks = (d <= 75.0, (d > 150.0) & (d <= 450.0), (d > 450.0) & (d <= 750.0))
    direct = np.stack([m.astype(float) @ values for m in masks], axis=1)
    np.testing.assert_array_equal(got[:, :, 0], direct[:, :, 0])
    np.testing.assert_allclose(got[:, :, 1], direct[:, :, 1], rtol=1e-12)


@pytest.mark.parametrize(
    "xy",
    [
        np.array([[500.0, 500.0]]),
        np.array([[500.0, 500.0]] * 4),
        np.array([[100.0, 100.0], [160.0, 100.0], [900.0, 100.0]]),
        np.c_[np.arange(0.0, 3000.0, 37.5), np.full(80, 1000.0)],  # collinear, on ring edges
    ],
)
def test_discs_of_few_stacked_or_collinear_points_equal_binary_searches(xy, monkeypatch):
    area = shapely.box(-1000, -1000, 4000, 4000)
    got = SurroundingsTest(xy, area).discs()
    _with_binary_searches(monkeypatch)
    ref = SurroundingsTest(xy, area).discs()
    for a, b in zip(_disc_fields(got), _disc_fields(ref), strict=True):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(got.p_value).all()


# --------------------------------------------------------------------------------------------
# DBSCAN and HDBSCAN: the members' discs computed in the test's thread while the polygons are
# drawn, and the other discs of the places on the same ring tables
# --------------------------------------------------------------------------------------------


def _clustered(seed: int, x0: float = 530_000.0, y0: float = 180_000.0) -> Incidents:
    rng = np.random.default_rng(seed)
    spots = [rng.normal(c, 30, (n, 2)) for c, n in (((1500, 1500), 400), ((3000, 2200), 250))]
    xy = np.round(np.concatenate([rng.uniform(0, 5000, (3000, 2)), *spots]), 0)
    xy = np.r_[xy, xy[rng.integers(0, len(xy), 800)]]
    months = np.array(["2024-01", "2024-02", "2024-03"], dtype="datetime64[M]")
    return Incidents.from_xy(
        xy[:, 0] + x0,
        xy[:, 1] + y0,
        study_area=shapely.box(x0 - 100, y0 - 100, x0 + 5100, y0 + 5100),
        month=months[rng.integers(0, 3, len(xy))],
    )


@pytest.mark.parametrize("method", [DBSCANHotspots, HDBSCANHotspots])
def test_cluster_tests_take_the_members_discs_ahead_with_the_same_bits(method, monkeypatch):
    inc = _clustered(5)
    built = []
    rings = SurroundingsTest._rings

    def counted(self, values):
        built.append(values.shape)
        return rings(self, values)

    monkeypatch.setattr(SurroundingsTest, "_rings", counted)
    est = method().fit(inc)
    monkeypatch.undo()
    test = est.surroundings_
    assert len(est.hotspots_) >= 2 and test is not None
    ahead = test._ahead
    assert ahead is not None  # the new path: the members' discs were computed ahead
    members = np.flatnonzero(est.labels_ >= 0)
    np.testing.assert_array_equal(ahead.centres, np.unique(test.inverse[members]))
    # the dispersion's sample and the discs: one table each, the places' other discs included
    assert built == [(test.n_tests, 2), (test.n_tests, 2)]
    # the same p-values, counts and expected values as a test of its own, with no discs ahead
    fresh = SurroundingsTest(inc.xy, inc.study_area, months=inc.frame["month"])
    assert fresh._ahead is None
    place = fresh.places(est.hotspots_.geometry)
    np.testing.assert_array_equal(est.hotspots_["p_value"].to_numpy(), place.p_value)
    np.testing.assert_array_equal(est.hotspots_["disc_incidents"].to_numpy(), place.count)
    np.testing.assert_array_equal(est.hotspots_["disc_expected"].to_numpy(), place.expected)
    assert est.hotspots_["significant"].any()


def test_a_cluster_fit_that_fails_still_tells_its_test(monkeypatch):
    """The test's thread waits to be told the members: told None when the clustering fails,
    and when there is no cluster."""
    pending = []
    start = cl._start_test

    def kept(incidents, xy):
        out = start(incidents, xy)
        pending.append(out[0])
        return out

    def broken(*args, **kwargs):
        raise RuntimeError("clustering failed")

    monkeypatch.setattr(cl, "_start_test", kept)
    monkeypatch.setattr(cl, "_dbscan_locations", broken)
    with pytest.raises(RuntimeError, match="clustering failed"):
        DBSCANHotspots().fit(_clustered(6))
    assert pending[-1].members.done() and pending[-1].members.result() is None
    assert pending[-1].test.result(timeout=60).defined
    monkeypatch.undo()
    monkeypatch.setattr(cl, "_start_test", kept)
    rng = np.random.default_rng(7)
    sparse = rng.uniform(0, 5000, (60, 2)) + [530_000, 180_000]
    est = DBSCANHotspots().fit(Incidents.from_xy(sparse[:, 0], sparse[:, 1]))
    assert len(est.hotspots_) == 0
    assert pending[-1].members.result() is None
    assert pending[-1].test.result(timeout=60)._ahead is None


def test_discs_beside_those_ahead_use_the_same_tables_and_bits():
    xy, area = _town(8)
    test = SurroundingsTest(xy, area)
    m = test.n_tests
    test.prepare_discs(np.arange(0, m, 3))
    ahead = test._ahead
    assert ahead is not None
    before = ahead.rings()
    every = test.discs()  # two in three beside those ahead
    assert ahead.rings() is before
    plain = SurroundingsTest(xy, area).discs()
    for a, b in zip(_disc_fields(every), _disc_fields(plain), strict=True):
        np.testing.assert_array_equal(a, b)


def test_locations_in_the_last_places_polygons_equal_testing_them_again(monkeypatch):
    xy, area = _town(9)
    test = SurroundingsTest(xy, area)
    rng = np.random.default_rng(9)
    centres = test.locations[rng.choice(test.n_tests, 40, replace=False)]
    polys = np.array(
        [shapely.Point(c).buffer(r) for c, r in zip(centres, rng.uniform(20, 400, 40), strict=True)]
        + [None, shapely.box(0, 0, 1, 1)],  # a missing polygon, one holding no location
        dtype=object,
    )
    place = test.places(polys)
    calls = []
    real = stats.points_in_polygons

    def counted(points, geoms):
        calls.append(len(geoms))
        return real(points, geoms)

    monkeypatch.setattr(stats, "points_in_polygons", counted)
    order = rng.permutation(40)
    for sub in (polys[order], polys[order[:7]], polys[[41, 3]]):
        got = test.locations_in(sub)
        ref = real(test.locations, sub)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype == np.int64
    assert calls == []  # the new path: the pairs of the last places, remapped
    # polygons places was not asked for, a repeated polygon, a missing one: tested again
    other = np.array([shapely.Point(centres[0]).buffer(300)], dtype=object)
    for sub in (other, polys[[2, 2]], polys[[40, 1]], polys[:0]):
        got = test.locations_in(sub)
        for a, b in zip(got, real(test.locations, sub), strict=True):
            np.testing.assert_array_equal(a, b)
    assert calls == [1, 2, 2, 0]
    again = test.places(polys[order], inside=test.locations_in(polys[order]))
    for a, b in zip(
        (again.p_value, again.count, again.expected, again.centre),
        (place.p_value[order], place.count[order], place.expected[order], place.centre[order]),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert "_last_inside" in vars(test) and test.__getstate__()["_last_inside"] is None


def test_ranking_a_clusters_hot_spots_takes_their_locations_from_the_test(monkeypatch):
    import hotspots.profile as profile

    inc = _clustered(10)
    est = DBSCANHotspots().fit(inc)
    calls = []
    real = profile.points_in_polygons

    def counted(points, geoms):
        calls.append(len(geoms))
        return real(points, geoms)

    monkeypatch.setattr(profile, "points_in_polygons", counted)
    monkeypatch.setattr(stats, "points_in_polygons", counted)
    ranked, members = profile.rank_hotspots_with_members(
        est.hotspots_, inc, surroundings=est.surroundings_
    )
    assert calls == []
    monkeypatch.undo()
    plain, plain_members = profile.rank_hotspots_with_members(est.hotspots_, inc)
    assert ranked.drop(columns="geometry").equals(plain.drop(columns="geometry"))
    for a, b in zip(members, plain_members, strict=True):
        np.testing.assert_array_equal(a, b)
