"""Session 11's shorter KDE detection, pinned against the computations it rearranged.

* ``grid.DensitySurface.may_be_in_contours``: a superset of the points inside (or on) the
  polygons of ``contour_polygons``, and the same mask as a direct look at the four (or more)
  cell centres round each point;
* ``stats.SurroundingsTest.prepare_discs`` and ``start_surroundings_test(centres=)``: the disc
  tests taken from the discs computed ahead (all, some or none of the asked ones among them,
  several threads asking at once) are the bits of computing them when asked;
  ``SurroundingsTest._ring_sums``: the same sums in one thread or two, whole or by chunks;
* ``kde.KDEHotspots.fit(on_level=)``: called once, with a picker of a superset of the
  locations in the hot spots, and only when there is a level;
* ``detect.detect`` (KDE): the ranking, p-values included, of the plain test built afterwards.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import Incidents
from hotspots.detect import detect
from hotspots.grid import CONTOUR_POINT_MARGIN, DensitySurface
from hotspots.incidents import unique_points
from hotspots.kde import KDEHotspots, density_surface
from hotspots.profile import rank_hotspots, rank_hotspots_with_members
from hotspots.stats import SurroundingsTest, points_in_polygons, start_surroundings_test

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700


def _town(n=4000, seed=0, snap=40.0):
    """A town of uneven crime with a few tight hot spots, snapped to map points, six months."""
    rng = np.random.default_rng(seed)
    k = n // 2
    x = np.r_[rng.uniform(0, 6000, k), rng.normal(3000, 700, n - k - 300)]
    y = np.r_[rng.uniform(0, 6000, k), rng.normal(3000, 700, n - k - 300)]
    for cx, cy in ((1500, 1500), (4500, 2000), (3000, 4700)):
        x = np.r_[x, rng.normal(cx, 25, 100)]
        y = np.r_[y, rng.normal(cy, 25, 100)]
    x, y = np.round(x / snap) * snap + X0, np.round(y / snap) * snap + Y0
    months = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 6, len(x)) * 31, "D")
    months = months.to_period("M").to_timestamp()
    return Incidents.from_xy(x, y, month=months)


def _same_bits(a, b):
    for name in ("count", "expected", "variance", "p_value"):
        u, v = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert u.dtype == v.dtype and u.shape == v.shape, name
        assert u.tobytes() == v.tobytes(), name


def _reference_mask(surface, x, y, level):
    """A point is kept when a cell centre at a corner of a square of centres within the margin
    of it (in cells) is at or above ``level``: each corner looked up one by one."""
    c, (ox, oy) = surface.cell_size, surface.origin
    out = np.zeros(len(x), dtype=bool)
    m = CONTOUR_POINT_MARGIN
    for n, (px, py) in enumerate(zip(x, y, strict=True)):
        u, v = (px - ox) / c - 0.5, (py - oy) / c - 0.5
        cols = range(int(np.floor(u - m)), int(np.floor(u + m)) + 2)
        rows = range(int(np.floor(v - m)), int(np.floor(v + m)) + 2)
        for i in cols:
            for j in rows:
                cx, cy = surface.cell_centre(np.array([i]), np.array([j]))
                if surface.values_at(cx, cy)[0] >= level:
                    out[n] = True
    return out


def _surface(seed=0, n=600):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(0, 3000, n), rng.normal(1500, 60, n // 3)] + X0
    y = np.r_[rng.uniform(0, 3000, n), rng.normal(1200, 60, n // 3)] + Y0
    return density_surface(x, y, bandwidth=150.0, cell_size=30.0), x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_may_be_in_contours_holds_every_point_of_the_polygons(seed):
    surface, x, y = _surface(seed)
    rng = np.random.default_rng(seed + 10)
    level = float(np.quantile(surface.cell_values()[2], 0.9))
    polys = surface.contour_polygons(level)
    assert polys
    # points anywhere, on every polygon's vertices, on its edges' midpoints, and on cell
    # centres and the edges between them
    coords = shapely.get_coordinates(polys)
    mids = (coords[1:] + coords[:-1]) / 2
    c = surface.cell_size
    grid = np.floor(rng.uniform(X0, X0 + 3000, (400, 2)) / c) * c + c * rng.choice(
        [0.0, 0.5], (400, 2)
    )
    pts = np.r_[rng.uniform((X0, Y0), (X0 + 3000, Y0 + 3000), (3000, 2)), coords, mids, grid]
    mask = surface.may_be_in_contours(pts[:, 0], pts[:, 1], level)
    inside = np.unique(points_in_polygons(pts, polys)[0])
    assert mask[inside].all()
    assert mask.sum() < len(pts)  # not everything
    # higher levels' polygons lie in it too
    higher = surface.contour_polygons(level * 1.5)
    assert mask[np.unique(points_in_polygons(pts, higher)[0])].all()


@pytest.mark.parametrize("seed", [0, 3])
def test_may_be_in_contours_matches_a_corner_by_corner_look(seed):
    surface, x, y = _surface(seed, n=300)
    rng = np.random.default_rng(seed)
    c = surface.cell_size
    level = float(np.quantile(surface.cell_values()[2], 0.8))
    # near cell centres' squares' edges and corners too (within and just beyond the margin)
    base = np.floor(rng.uniform(X0 - 500, X0 + 3500, (300, 2)) / c) * c + c / 2
    jitter = rng.choice([0.0, 1e-9, 0.5 * CONTOUR_POINT_MARGIN, 2 * CONTOUR_POINT_MARGIN], (300, 2))
    pts = np.r_[
        rng.uniform((X0 - 500, Y0 - 500), (X0 + 3500, Y0 + 3500), (500, 2)),
        base + jitter * c * rng.choice([-1.0, 1.0], (300, 2)),
    ]
    got = surface.may_be_in_contours(pts[:, 0], pts[:, 1], level)
    want = _reference_mask(surface, pts[:, 0], pts[:, 1], level)
    np.testing.assert_array_equal(got, want)
    peaks = surface.tile_maxima()
    np.testing.assert_array_equal(
        surface.may_be_in_contours(pts[:, 0], pts[:, 1], level, tile_max=peaks), want
    )


def test_may_be_in_contours_edge_cases():
    surface, x, y = _surface(0, n=100)
    top = surface.max()
    assert surface.may_be_in_contours(x[:0], y[:0], top).shape == (0,)
    for level in (np.inf, np.nan, 0.0, -1.0, 2 * top):
        assert not surface.may_be_in_contours(x, y, level).any()
    # the highest cell alone: the points of the four squares round its centre
    i, j, v = surface.cell_values()
    k = int(np.argmax(v))
    cx, cy = surface.cell_centre(i[k : k + 1], j[k : k + 1])
    c = surface.cell_size
    near = surface.may_be_in_contours(
        cx + np.array([0, 0.9 * c, -0.9 * c, 1.1 * c]), cy + np.zeros(4), top
    )
    assert near.tolist() == [True, True, True, False]
    empty = DensitySurface(cell_size=30.0, crs=None, origin=(0.0, 0.0))
    assert not empty.may_be_in_contours(np.array([1.0]), np.array([1.0]), 1.0).any()


@pytest.fixture(scope="module")
def town():
    return _town()


@pytest.fixture(scope="module")
def plain(town):
    return SurroundingsTest(town.xy, town.study_area, months=town.frame["month"])


def _fresh(town):
    return SurroundingsTest(town.xy, town.study_area, months=town.frame["month"])


def test_ring_sums_the_same_in_one_thread_or_two_whole_or_by_chunks(plain):
    values = plain._disc_values()
    centres = np.arange(plain.n_tests)[::3]
    two = plain._ring_sums(centres, values)
    one = plain._ring_sums(centres, values, split=False)
    rings = plain._rings(values)
    chunks = np.concatenate([rings(part) for part in np.array_split(centres[::-1], 7)])[::-1]
    assert two.tobytes() == one.tobytes() == chunks.tobytes()
    assert plain._ring_sums(centres[:0], values).shape == (0, 3, 2)
    assert plain._ring_sums(centres[:1], values).tobytes() == two[:1].tobytes()


@pytest.mark.parametrize(
    "ahead",
    [
        "all",  # every location ahead
        "some",  # a third of them: the others computed when asked
        "none",  # no centre
        "one",
    ],
)
def test_discs_taken_ahead_are_the_bits_of_computing_them(town, plain, ahead):
    m = plain.n_tests
    rng = np.random.default_rng(5)
    centres = {
        "all": np.arange(m),
        "some": np.sort(rng.choice(m, m // 3, replace=False)),
        "none": np.empty(0, dtype=np.intp),
        "one": np.array([m // 2]),
    }[ahead]
    test = _fresh(town)
    test.prepare_discs(centres)
    for asked in (
        np.arange(m),
        centres,
        np.sort(rng.choice(m, 50, replace=False)),
        np.empty(0, dtype=np.intp),
        np.array([0, m - 1]),
        np.array([m // 2, m // 2, 3]),  # repeated and unsorted
    ):
        _same_bits(test.discs(asked), plain.discs(asked))
    geoms = [
        shapely.Point(X0 + 1500, Y0 + 1500).buffer(200),
        shapely.box(X0, Y0, X0 + 3000, Y0 + 800),
    ]
    got, want = test.places(geoms), plain.places(geoms)
    for name in ("count", "expected", "p_value", "centre"):
        assert np.asarray(getattr(got, name)).tobytes() == np.asarray(getattr(want, name)).tobytes()


def test_discs_shared_by_threads_asking_while_they_are_computed(town, plain):
    test = _fresh(town)
    m = test.n_tests
    centres = np.arange(m)
    results = {}
    errors = []

    def ask(name, idx):
        try:
            results[name] = (idx, test.discs(idx))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=test.prepare_discs, args=(centres,))
    worker.start()
    askers = [threading.Thread(target=ask, args=(k, np.arange(k, m, 4))) for k in range(4)]
    for t in askers:
        t.start()
    for t in [worker, *askers]:
        t.join()
    assert not errors
    for idx, got in results.values():
        _same_bits(got, plain.discs(idx))


def test_undefined_test_prepares_nothing():
    test = SurroundingsTest(np.empty((0, 2)), shapely.box(0, 0, 1, 1))
    test.prepare_discs(np.empty(0, dtype=np.intp))
    assert test.discs(np.empty(0, dtype=np.intp)).p_value.shape == (0,)


@pytest.mark.parametrize("pick", ["half", "none", "fails"])
def test_start_surroundings_test_with_centres(town, plain, pick):
    centres: Future = Future()
    future = start_surroundings_test(
        town.xy, town.study_area, months=town.frame["month"], centres=centres
    )
    if pick == "half":
        centres.set_result(lambda xy: xy[:, 0] < X0 + 3000)
    elif pick == "none":
        centres.set_result(None)
    else:
        centres.set_result(lambda xy: 1 / 0)
    if pick == "fails":
        with pytest.raises(ZeroDivisionError):
            future.result(timeout=60)
        return
    test = future.result(timeout=60)
    assert test.dispersion == plain.dispersion
    assert test.catchment.tobytes() == plain.catchment.tobytes()
    every = np.arange(test.n_tests)
    _same_bits(test.discs(every), plain.discs(every))


def test_kde_fit_tells_its_level_once_with_a_superset_of_the_hot_spots(town):
    told = []
    est = KDEHotspots().fit(town, on_level=told.append)
    assert len(told) == 1
    plain = KDEHotspots().fit(town)
    assert est.hotspots_.geometry.equals(plain.hotspots_.geometry)
    locations = unique_points(town.xy)
    mask = told[0](locations)
    inside = np.unique(points_in_polygons(locations, est.hotspots_.geometry)[0])
    assert len(inside) and mask[inside].all()
    # no incident: no level, no call
    none = []
    empty = Incidents.from_xy(np.empty(0), np.empty(0))
    assert len(KDEHotspots().fit(empty, on_level=none.append).hotspots_) == 0
    assert none == []


@pytest.mark.parametrize("seed", [0, 7])
def test_detect_kde_ranks_as_the_test_built_afterwards(seed):
    town = _town(3000, seed=seed)
    result = detect(town, "kde")
    est = KDEHotspots().fit(town)
    test = SurroundingsTest(town.xy, town.study_area, months=town.frame["month"])
    want = rank_hotspots(est.hotspots_, town, surroundings=test)
    got = result.hotspots
    _same_frames(got, want)
    assert got["significant"].any()


def _same_frames(got, want):
    assert list(got.columns) == list(want.columns)
    for col in got.columns:
        if col == "geometry":
            assert list(shapely.to_wkb(got.geometry.values)) == list(
                shapely.to_wkb(want.geometry.values)
            )
        else:
            a, b = got[col].to_numpy(), want[col].to_numpy()
            if a.dtype == object:
                assert list(a) == list(b), col
            else:
                assert a.tobytes() == b.tobytes(), col


@pytest.mark.parametrize("when", ["built", "later", "other incidents"])
def test_ranking_with_a_test_still_being_built(town, plain, when):
    hot = KDEHotspots().fit(town).hotspots_
    test = plain
    if when == "other incidents":  # another test's locations: its own pairs are found
        test = SurroundingsTest(town.xy[::2], town.study_area, months=town.frame["month"][::2])
    want, want_members = rank_hotspots_with_members(hot, town, surroundings=test)
    building: Future = Future()
    if when == "built":
        building.set_result(test)
    else:
        threading.Timer(0.2, building.set_result, args=(test,)).start()
    got, members = rank_hotspots_with_members(hot, town, surroundings=building)
    _same_frames(got, want)
    for a, b in zip(members, want_members, strict=True):
        assert a.tobytes() == b.tobytes()


def test_ranking_waits_for_a_test_that_fails(town):
    hot = KDEHotspots().fit(town).hotspots_
    building: Future = Future()
    building.set_exception(RuntimeError("no test"))
    with pytest.raises(RuntimeError, match="no test"):
        rank_hotspots_with_members(hot, town, surroundings=building)


def test_a_test_with_discs_ahead_pickles_and_copies_without_them(town, plain):
    import copy
    import pickle

    test = _fresh(town)
    test.prepare_discs(np.arange(test.n_tests))
    for other in (pickle.loads(pickle.dumps(test)), copy.deepcopy(test)):
        assert other._ahead is None
        assert test._ahead is not None
        every = np.arange(test.n_tests)
        _same_bits(other.discs(every), plain.discs(every))
