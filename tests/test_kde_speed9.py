"""Session 9's faster national KDE detection, pinned against the computations it replaced.

* ``DensitySurface.values_inside(area, at_least=, tile_max=)``: the values at or above a level
  only (and only the tiles reaching it), the same values in the same order as filtering every
  positive value inside;
* ``kde.coverage_level``: the coverage threshold from the cells near the top, the same level as
  ``threshold_level`` over every positive cell inside, its fallback included;
* ``DensitySurface._components_cell_polygons``: the squares of many components dissolved at
  once, the same polygons as each component dissolved alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

import hotspots.kde as kde
from hotspots import Incidents
from hotspots.grid import DensitySurface
from hotspots.kde import KDEHotspots, coverage_level, threshold_level


def _surface(i, j, v, *, cell=25.0, tile=8, origin=(500_000.0, 180_000.0)):
    s = DensitySurface(cell_size=cell, crs=None, origin=origin, tile_size=tile)
    cells = (np.ravel(a).tolist() for a in (i, j, v))
    for a, b, val in zip(*cells, strict=True):
        key = (b // tile, a // tile)
        arr = s.tiles.setdefault(key, np.zeros((tile, tile)))
        arr[b % tile, a % tile] += val
    return s


def _bumps(seed, n=60, size=120, tile=8, origin=(500_000.0, 180_000.0)):
    """Gaussian bumps on a size x size grid, stored sparsely (cells above 1e-3)."""
    rng = np.random.default_rng(seed)
    jj, ii = np.mgrid[0:size, 0:size]
    z = np.zeros((size, size))
    for cx, cy, sd, h in zip(
        rng.uniform(0, size, n),
        rng.uniform(0, size, n),
        rng.uniform(0.6, 5, n),
        rng.uniform(1, 10, n),
        strict=True,
    ):
        z += h * np.exp(-((ii - cx) ** 2 + (jj - cy) ** 2) / (2 * sd * sd))
    keep = z > 1e-3
    return _surface(ii[keep], jj[keep], z[keep], tile=tile, origin=origin), z


def _areas(s):
    x0, y0 = s.origin
    side = 120 * s.cell_size
    return [
        None,
        shapely.box(x0, y0, x0 + side, y0 + side),  # every cell
        shapely.Point(x0 + side / 2, y0 + side / 2).buffer(side / 3),  # edge tiles
        shapely.box(x0 + 10, y0 + 10, x0 + side / 2, y0 + side / 2).difference(
            shapely.box(x0 + 400, y0 + 400, x0 + 900, y0 + 900)
        ),  # a hole
        shapely.box(x0 - 5000, y0 - 5000, x0 - 4000, y0 - 4000),  # no cell
        shapely.Polygon(),
    ]


def _reference_values(s, area, at_least):
    """The values at or above ``at_least`` among every positive value inside (same order)."""
    v = s.values_inside(area)
    return v[v >= at_least]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_inside_at_least_equals_filtering_all(seed):
    s, z = _bumps(seed)
    peaks = s.tile_maxima()
    positive = z[z > 1e-3]
    for area in _areas(s):
        for q in (0.0, 0.3, 0.9, 0.999, 1.0):
            level = float(np.quantile(positive, q))
            ref = _reference_values(s, area, level)
            for tile_max in (None, peaks):
                got = s.values_inside(area, at_least=level, tile_max=tile_max)
                np.testing.assert_array_equal(got, ref)
        # above the highest cell: nothing
        assert s.values_inside(area, at_least=2 * s.max(), tile_max=peaks).size == 0
        # no level (or zero): every positive value inside
        for floor in (None, 0.0):
            np.testing.assert_array_equal(
                s.values_inside(area, at_least=floor, tile_max=peaks), s.values_inside(area)
            )


def test_values_inside_at_least_hand_made():
    # four cells in two tiles of 2 x 2 cells, 10 m cells, far from the origin
    s = _surface([0, 1, 2, 3], [0, 0, 0, 1], [1.0, 5.0, 3.0, 4.0], cell=10.0, tile=2)
    x0, y0 = s.origin
    area = shapely.box(x0, y0, x0 + 30, y0 + 25)  # centres of cells 0, 1 and 2
    assert s.values_inside(area).tolist() == [1.0, 5.0, 3.0]
    assert s.values_inside(area, at_least=3.0).tolist() == [5.0, 3.0]
    assert s.values_inside(area, at_least=3.0, tile_max=s.tile_maxima()).tolist() == [5.0, 3.0]
    assert s.values_inside(area, at_least=4.5, tile_max=s.tile_maxima()).tolist() == [5.0]
    assert s.values_inside(None, at_least=3.5, tile_max=s.tile_maxima()).tolist() == [5.0, 4.0]
    empty = DensitySurface(cell_size=10.0, crs=None, origin=(0.0, 0.0), tile_size=2)
    assert empty.values_inside(area, at_least=1.0).size == 0


def _reference_level(s, area, area_m2, coverage):
    return threshold_level(
        s.values_inside(area),
        threshold="coverage",
        cell_area_m2=s.cell_area_m2,
        study_area_m2=area_m2,
        coverage=coverage,
    )


@pytest.mark.parametrize("seed", [0, 3])
def test_coverage_level_equals_threshold_over_every_cell(seed):
    s, _ = _bumps(seed)
    peaks = s.tile_maxima()
    for area in _areas(s)[1:]:
        for area_m2 in (area.area, 9e6, 1e4, 1.0):
            for coverage in (0.001, 0.02, 0.1, 0.5, 1.0):
                ref = _reference_level(s, area, area_m2, coverage)
                for tile_max in (None, peaks):
                    got = coverage_level(s, area, area_m2, coverage, tile_max=tile_max)
                    assert got == ref or (math.isinf(got) and math.isinf(ref))


def test_coverage_level_falls_back_when_the_area_leaves_out_the_top(monkeypatch):
    """The bound leaves about 1.25 k cells above it; when most of them lie outside the study
    area, every positive cell inside is read: the same level."""
    s, z = _bumps(5, n=80)
    x0, y0 = s.origin
    # the study area holds only the lower half; the densest cells are everywhere
    area = shapely.box(x0, y0, x0 + 120 * 25, y0 + 60 * 25)
    calls = []
    real = DensitySurface.values_inside

    def counting(self, area, **kw):
        calls.append(kw.get("at_least"))
        return real(self, area, **kw)

    monkeypatch.setattr(DensitySurface, "values_inside", counting)
    k_all = (z > 1e-3).sum()
    area_m2 = 0.6 * k_all * s.cell_area_m2 / 0.5  # k close to the cells inside
    ref = _reference_level(s, area, area_m2, 0.5)
    calls.clear()
    got = coverage_level(s, area, area_m2, 0.5, tile_max=s.tile_maxima())
    assert got == ref
    assert calls[-1] is None  # the fallback read every cell inside


def test_coverage_level_small_cases():
    one = _surface([3], [4], [7.5], cell=10.0, tile=4)
    x0, y0 = one.origin
    area = shapely.box(x0, y0, x0 + 100, y0 + 100)
    assert coverage_level(one, area, area.area, 0.02) == 7.5
    # duplicates of one value: the tie is the level
    dup = _surface([0, 1, 2, 3], [0, 0, 0, 0], [2.0, 2.0, 2.0, 1.0], cell=10.0, tile=4)
    assert coverage_level(dup, area, 300.0, 0.5) == _reference_level(dup, area, 300.0, 0.5)
    assert coverage_level(dup, area, 300.0, 0.5) == 2.0
    empty = DensitySurface(cell_size=10.0, crs=None, origin=(0.0, 0.0), tile_size=4)
    assert math.isinf(coverage_level(empty, area, area.area, 0.02))
    # a cell outside the area only: nothing is hot
    assert math.isinf(coverage_level(one, shapely.box(0, 0, 1, 1), 1.0, 0.02))


def _reference_fit_level(est, incidents):
    s = est.surface_
    return threshold_level(
        s.values_inside(incidents.study_area),
        threshold="coverage",
        cell_area_m2=s.cell_area_m2,
        study_area_m2=float(incidents.study_area.area),
        coverage=est.coverage,
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_kde_fit_level_equals_threshold_over_every_cell(seed, monkeypatch):
    """KDEHotspots takes its coverage level from coverage_level: the same level as before, with
    the sample bound (many cells) and without it (the fallback)."""
    rng = np.random.default_rng(seed)
    xy = np.r_[rng.uniform(0, 6000, (3000, 2)), rng.normal(3000, 60, (400, 2))] + [4e5, 3e5]
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1])
    for coverage in (0.005, 0.02, 0.2):
        est = KDEHotspots(coverage=coverage).fit(inc)
        assert est.level_ == _reference_fit_level(est, inc)
        monkeypatch.setattr(kde, "_level_bound", lambda surface, k: None)
        again = KDEHotspots(coverage=coverage).fit(inc)
        monkeypatch.undo()
        assert again.level_ == est.level_
        assert [g.wkb for g in again.hotspots_.geometry] == [g.wkb for g in est.hotspots_.geometry]


def test_kde_density_threshold_needs_no_values():
    rng = np.random.default_rng(4)
    xy = rng.normal(0, 200, (500, 2)) + [4e5, 3e5]
    est = KDEHotspots(threshold="density", density=1500.0).fit(Incidents.from_xy(*xy.T))
    assert est.level_ == 1500.0
    assert (est.hotspots_["peak_density"] >= 1500.0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_components_cell_polygons_equal_each_alone(seed):
    """The squares of many 8-connected components (single cells, diagonal chains, rings with
    a cell inside, far from the origin) dissolved at once: each component's polygons are the
    ones it gets alone, vertex for vertex."""
    from hotspots.grid import _components_8

    rng = np.random.default_rng(seed)
    hot = rng.random((60, 60)) < 0.12
    hot[30:35, 30:35] = True
    hot[31:34, 31:34] = False
    hot[32, 32] = True  # a cell inside a ring (its own component)
    for d in range(5):
        hot[5 + d, 50 + d] = True  # a diagonal chain
    j, i = np.nonzero(hot)
    i, j = i + 10_000, j + 7_000
    s = DensitySurface(cell_size=25.0, crs=None, origin=(512_345.0, 170_000.0), tile_size=16)
    labels = _components_8(i, j)
    order = np.argsort(labels, kind="stable")
    components = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    got = s._components_cell_polygons(i, j, components)
    ref = [s._cell_polygons(i[idx], j[idx]) for idx in components]
    assert len(got) == len(ref) == len(components) > 20
    assert [[p.wkb for p in own] for own in got] == [[p.wkb for p in own] for own in ref]
    assert s._components_cell_polygons(i, j, components[:1])[0][0].equals(ref[0][0])


def test_coverage_level_reads_only_the_top_when_it_can(monkeypatch):
    s, _ = _bumps(0)
    area = _areas(s)[1]  # every cell inside
    calls = []
    real = DensitySurface.values_inside

    def counting(self, area, **kw):
        out = real(self, area, **kw)
        calls.append((kw.get("at_least"), out.size))
        return out

    monkeypatch.setattr(DensitySurface, "values_inside", counting)
    level = coverage_level(s, area, area.area, 0.02, tile_max=s.tile_maxima())
    k = round(0.02 * area.area / s.cell_area_m2)
    assert (
        len(calls) == 1 and calls[0][0] > 0 and k <= calls[0][1] < (s.tile_maxima() > 0).size * 64
    )
    monkeypatch.undo()
    assert level == _reference_level(s, area, area.area, 0.02)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 14, 1 << 16])
def test_disc_sums_do_not_depend_on_the_block(block, monkeypatch):
    """_DiscSums adds each centre's runs and candidates in the same order whatever the number of
    (strip, centre) pairs per block: the same bits at any block size, and what testing every
    pair gives (stacked points, a lattice on the rings' edges, far from the origin)."""
    import hotspots.stats as stats
    from hotspots.stats import SurroundingsTest

    rng = np.random.default_rng(11)
    town = np.round(rng.normal(2000, 250, (1500, 2)), 1)
    lattice = np.stack(np.meshgrid(np.arange(11), np.arange(11)), -1).reshape(-1, 2) * 75.0
    xy = np.r_[town, rng.uniform(-3000, 7000, (300, 2)), lattice + 9000.0] + [530_000, 180_000]
    xy = np.r_[xy, xy[rng.integers(0, len(xy), 2000)]]
    test = SurroundingsTest(xy, shapely.box(526_000, 176_000, 542_000, 192_000))
    loc = test.locations
    values = np.column_stack([test.counts, test.catchment])
    centres = rng.choice(len(loc), 300, replace=False)
    monkeypatch.setattr(stats, "_DISC_SUM_BLOCK", 1 << 16)
    ref = test._ring_sums(centres, values)
    monkeypatch.setattr(stats, "_DISC_SUM_BLOCK", block)
    got = test._ring_sums(centres, values)
    np.testing.assert_array_equal(got, ref)
    d = np.hypot(*(loc[None, :, a] - loc[centres][:, None, a] for a in (0, 1)))
    masks = (d <= 75.0, (d > 150.0) & (d <= 450.0), (d > 450.0) & (d <= 750.0))
    direct = np.stack([m.astype(float) @ values for m in masks], axis=1)
    np.testing.assert_array_equal(got[:, :, 0], direct[:, :, 0])  # counts: exactly
    np.testing.assert_allclose(got[:, :, 1], direct[:, :, 1], rtol=1e-12)
    one = test._ring_sums(np.empty(0, dtype=np.intp), values)
    assert one.shape == (0, 3, 2)
