from __future__ import annotations

import numpy as np
import pytest
import shapely

from hotspots._errors import ParameterError
from hotspots.grid import DensitySurface, cell_keys, default_cell_size, nice_floor, unique_keys


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30.0, 25.0),
        (150.0, 100.0),
        (19.9, 10.0),
        (2.5, 2.5),
        (0.7, 0.5),
        (1000.0, 1000.0),
        (49.0, 25.0),
    ],
)
def test_nice_floor(value, expected):
    assert nice_floor(value) == expected


def test_nice_floor_rejects_nonpositive():
    with pytest.raises(ParameterError):
        nice_floor(0.0)


def test_default_cell_size_spans_ten_cells():
    for bw in (37.0, 150.0, 600.0, 902.5, 2000.0):
        c = default_cell_size(bw)
        assert 2 * bw / c >= 10
        assert c >= bw / 5 / 2.5 - 1e-9  # never more than one nice step too fine
    assert default_cell_size(150.0) == 25.0


def _surface_from_cells(i, j, v, *, cell=10.0, tile=4, origin=(1000.0, 2000.0)):
    s = DensitySurface(cell_size=cell, crs=None, origin=origin, tile_size=tile)
    for a, b, val in zip(i, j, v, strict=True):
        key = (b // tile, a // tile)
        arr = s.tiles.setdefault(key, np.zeros((tile, tile)))
        arr[b % tile, a % tile] += val
    return s


def test_values_at_cells_and_dense_across_tiles():
    i = np.array([0, 3, 4, 9, 9])
    j = np.array([0, 3, 4, 1, 8])
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    s = _surface_from_cells(i, j, v)
    assert s.n_tiles == 4
    assert s.max() == 5.0
    x, y, vals = s.cells()
    assert sorted(vals) == sorted(v)
    # centres map back to their own values; a point anywhere inside a cell gets that cell
    np.testing.assert_allclose(s.values_at(x, y), vals)
    np.testing.assert_allclose(s.values_at(x + 4.9, y - 4.9), vals)
    assert s.values_at([0.0], [0.0])[0] == 0.0  # far away
    dense, xc, yc = s.to_dense()
    assert dense.shape == (12, 12)  # 3 x 3 tiles of 4 cells, only 4 stored
    np.testing.assert_allclose(dense.sum(), v.sum())
    assert dense[8, 9] == 5.0 and xc[9] == 1000.0 + 95.0 and yc[8] == 2000.0 + 85.0
    sub, sxc, syc = s.to_dense((1030.0, 2030.0, 1050.0, 2050.0))  # cells 3..4 x 3..4
    assert sub.shape == (2, 2)
    np.testing.assert_allclose(sub, [[2.0, 0.0], [0.0, 3.0]])
    np.testing.assert_allclose(sxc, [1035.0, 1045.0])
    assert s.total() == pytest.approx(v.sum() * 100 / 1e6)


def test_to_dense_refuses_huge_arrays():
    s = _surface_from_cells([0], [0], [1.0], cell=1.0)
    with pytest.raises(ParameterError, match="exceeds the limit"):
        s.to_dense((0.0, 0.0, 1e5, 1e5))


def test_empty_surface():
    s = DensitySurface(cell_size=10.0, crs=None, origin=(0.0, 0.0))
    assert s.is_empty and s.max() == 0.0 and s.total() == 0.0
    assert s.contour_polygons(1.0) == []
    assert s.cells()[0].size == 0
    assert s.to_dense()[0].shape == (0, 0)
    assert s.values_inside(shapely.box(0, 0, 1, 1)).size == 0


def _doughnut_surface():
    # a ring of hot cells (value 10) around a cold centre, across a tile boundary (tile = 4)
    i, j = np.meshgrid(np.arange(2, 9), np.arange(2, 9))
    ring = (np.maximum(abs(i - 5), abs(j - 5)) >= 2) & (np.maximum(abs(i - 5), abs(j - 5)) <= 3)
    return _surface_from_cells(i[ring], j[ring], np.full(ring.sum(), 10.0)), int(ring.sum())


@pytest.mark.parametrize("method", ["contour", "cells"])
def test_contour_keeps_holes_and_is_one_polygon(method):
    s, n_hot = _doughnut_surface()
    polys = s.contour_polygons(10.0, method=method)  # level exactly equal to the values: included
    assert len(polys) == 1
    p = polys[0]
    assert p.is_valid and len(p.interiors) == 1
    x, y, v = s.cells()
    assert shapely.covers(p, shapely.points(x, y)).all()
    centre = shapely.Point(*s.cell_centre(5, 5))
    assert not p.contains(centre)
    if method == "cells":
        assert p.area == pytest.approx(n_hot * 100.0)
    else:
        # contours run between centres: smaller than the cell union by about half a cell's rim
        assert 0.5 * n_hot * 100.0 < p.area < n_hot * 100.0


def test_separate_components_stay_separate_rows():
    s = _surface_from_cells([0, 1, 6, 7], [0, 0, 6, 6], [5.0, 6.0, 7.0, 8.0])
    polys = s.contour_polygons(5.0)
    assert len(polys) == 2
    assert all(p.is_valid for p in polys)
    assert s.contour_polygons(100.0) == []
    assert s.contour_polygons(np.inf) == []


def test_values_inside_uses_centres():
    s = _surface_from_cells([0, 1, 2], [0, 0, 0], [1.0, 2.0, 3.0], tile=2)
    area = shapely.box(1000.0, 2000.0, 1016.0, 2010.0)  # holds the centres of cells 0 and 1
    assert sorted(s.values_inside(area)) == [1.0, 2.0]
    assert sorted(s.values_inside(None)) == [1.0, 2.0, 3.0]
    with pytest.raises(ParameterError):
        s.contour_polygons(1.0, method="hexagons")


def test_values_inside_tiles_inside_outside_and_on_the_edge():
    """Tiles wholly inside, wholly outside and across the boundary (cells of 10 m, tiles of 2):
    the values of the cells whose centres the area holds, in the tiles' order."""
    i = [0, 1, 2, 3, 6, 7, 20]
    j = [0, 1, 0, 1, 0, 0, 20]
    s = _surface_from_cells(i, j, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], tile=2)
    # centres at x = 1005 + 10 i: tiles (0, 0) and (0, 1) inside; tile (0, 3) across the edge,
    # its centres 1065 (on the boundary: not inside) and 1075; tile (10, 10) outside
    area = shapely.box(1000.0, 2000.0, 1065.0, 2020.0)
    assert s.values_inside(area).tolist() == [1.0, 2.0, 3.0, 4.0]
    wider = shapely.box(1000.0, 2000.0, 1066.0, 2020.0)  # the centre of cell 6 at 1065: inside
    assert s.values_inside(wider).tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    with_hole = shapely.Polygon(
        [(990, 1990), (1090, 1990), (1090, 2030), (990, 2030)],
        [[(1010, 2010), (1040, 2010), (1040, 2019), (1010, 2019)]],
    )  # holds every centre but those of cells (1, 1) and (3, 1)
    assert s.values_inside(with_hole).tolist() == [1.0, 3.0, 5.0, 6.0]
    assert s.values_inside(shapely.Polygon()).size == 0


def test_cells_at_or_above():
    s = _surface_from_cells([0, 1, 5, 9], [0, 0, 6, 9], [1.0, 2.0, 3.0, 2.0])
    i, j, v = s.cells_at_or_above(2.0)
    got = sorted(zip(i.tolist(), j.tolist(), v.tolist(), strict=True))
    assert got == [(1, 0, 2.0), (5, 6, 3.0), (9, 9, 2.0)]
    assert len(s.cells_at_or_above(0.0)[0]) == 4  # positive cells only
    assert s.cells_at_or_above(3.5)[0].size == 0


def _bumpy_surface(seed):
    """Gaussian bumps of many widths on a 300 x 300 grid (tiles of 64): hundreds of separate
    hot areas at a level, some touching diagonally, some with holes."""
    rng = np.random.default_rng(seed)
    jj, ii = np.mgrid[0:300, 0:300]
    z = np.zeros((300, 300))
    for cx, cy, sd, h in zip(
        rng.uniform(0, 300, 400),
        rng.uniform(0, 300, 400),
        rng.uniform(0.6, 6, 400),
        rng.uniform(1, 10, 400),
        strict=True,
    ):
        z += h * np.exp(-((ii - cx) ** 2 + (jj - cy) ** 2) / (2 * sd * sd))
    # a ring of hot cells round a separate hot cell (a component inside another's hole)
    ring = (np.maximum(abs(ii - 150), abs(jj - 150)) == 3) | ((ii == 150) & (jj == 150))
    z[np.maximum(abs(ii - 150), abs(jj - 150)) <= 5] = 0.0
    z[ring] = 20.0
    keep = z > 1e-3
    return _surface_from_cells(ii[keep], jj[keep], z[keep], cell=25.0, tile=64), z


@pytest.fixture
def contour_calls(monkeypatch):
    """A list that grows by one at each contourpy.contour_generator call."""
    import hotspots.grid as grid

    calls = []
    real = grid.contourpy.contour_generator

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(grid.contourpy, "contour_generator", counting)
    return calls


@pytest.mark.parametrize("seed", [0, 1])
def test_contours_in_batches_equal_contours_one_component_at_a_time(
    seed, monkeypatch, contour_calls
):
    """Contouring many small components in one contourpy call gives, vertex for vertex and in
    the same order, the polygons contouring each component alone gives."""
    import hotspots.grid as grid

    s, z = _bumpy_surface(seed)
    level = float(np.quantile(z[z > 1e-3], 0.9))
    batched = s.contour_polygons(level)
    n_batched = len(contour_calls)
    monkeypatch.setattr(grid, "CONTOUR_BATCH_CELLS", 0)  # no batch: one call per component
    contour_calls.clear()
    alone = s.contour_polygons(level)
    assert n_batched < len(contour_calls) / 5 and len(alone) > 50
    assert [p.wkb for p in batched] == [p.wkb for p in alone]
    # the ring's hole holds the lone hot cell's own polygon
    centre = shapely.Point(*s.cell_centre(150, 150))
    assert sum(p.contains(centre) for p in alone) == 1
    assert any(len(p.interiors) for p in alone)


def test_contour_batch_with_a_cell_just_below_the_level_is_contoured_alone(
    monkeypatch, contour_calls
):
    """A cell between the contour's lower bound and the level would belong to no component in
    a batch: that batch falls back to one call per component, with the same polygons."""
    import hotspots.grid as grid

    hot = ([0, 1, 0, 1, 7, 8, 7, 8], [0, 0, 1, 1, 7, 7, 8, 8], [5.0, 6.0, 7.0, 8.0] * 2)
    s = _surface_from_cells(*(np.array(v) for v in hot))
    batched = s.contour_polygons(5.0)
    assert len(contour_calls) == 1 and len(batched) == 2  # two 2 x 2 squares in one call
    just_below = [2], [1], [5 * (1 - 1e-12)]  # beside the first square, not hot
    s = _surface_from_cells(*(np.array(v + w) for v, w in zip(hot, just_below, strict=True)))
    contour_calls.clear()
    batched = s.contour_polygons(5.0)
    assert len(contour_calls) == 2 and len(batched) == 2
    monkeypatch.setattr(grid, "CONTOUR_BATCH_CELLS", 0)
    assert [p.wkb for p in batched] == [p.wkb for p in s.contour_polygons(5.0)]


def _components_8_by_cells(i, j):
    """The previous ``grid._components_8``: a graph of cells and their 8 neighbours."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n = i.size
    i0, j0 = i.min() - 1, j.min() - 1
    width = int(i.max() - i0 + 2)
    key = (j - j0) * width + (i - i0)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    rows, cols = [], []
    for step in (1, width - 1, width, width + 1):
        nb = sorted_key + step
        pos = np.minimum(np.searchsorted(sorted_key, nb), n - 1)
        found = sorted_key[pos] == nb
        rows.append(np.flatnonzero(found))
        cols.append(pos[found])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_array((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n, n))
    _, in_order = connected_components(graph, directed=False)
    labels = np.empty(n, dtype=np.int64)
    labels[order] = in_order
    first = np.full(int(labels.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n))
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[labels]


@pytest.mark.parametrize(("seed", "share"), [(0, 0.2), (1, 0.45), (2, 0.6), (3, 0.05)])
def test_components_by_runs_equal_components_by_cells(seed, share):
    """Components found on runs of cells are those of the cell graph, numbered alike (first
    cell first), whatever the density of cells and the order they come in."""
    from hotspots.grid import _components_8

    rng = np.random.default_rng(seed)
    grid = rng.random((120, 90)) < share
    j, i = np.nonzero(grid)
    perm = rng.permutation(i.size)
    i, j = i[perm] - 40, j[perm] + 7
    got = _components_8(i, j)
    np.testing.assert_array_equal(got, _components_8_by_cells(i, j))
    assert got.max() > 10
    # by hand: diagonal neighbours join, cells two apart do not
    a = _components_8(np.array([0, 1, 3, 5, 5]), np.array([0, 1, 1, 1, 3]))
    assert a.tolist() == [0, 0, 1, 2, 3]


@pytest.mark.parametrize("side", [12, 24, 48])
def test_contours_on_small_canvases_equal_contours_one_component_at_a_time(
    side, monkeypatch, contour_calls
):
    """With canvases too small for the largest components (those are contoured alone) and many
    canvases, every polygon is still the one contouring each component alone gives."""
    import hotspots.grid as grid

    s, z = _bumpy_surface(2)
    level = float(np.quantile(z[z > 1e-3], 0.85))
    monkeypatch.setattr(grid, "CONTOUR_BATCH_CELLS", side)
    packed = s.contour_polygons(level)
    n_packed = len(contour_calls)
    monkeypatch.setattr(grid, "CONTOUR_BATCH_CELLS", 0)
    contour_calls.clear()
    alone = s.contour_polygons(level)
    assert 1 < n_packed < len(contour_calls) and len(alone) > 50
    assert [p.wkb for p in packed] == [p.wkb for p in alone]


def _values_inside_tile_by_tile(s, area):
    """The previous ``values_inside``: whole tiles' positive cells, then the positive cells of
    edge tiles whose centres the area contains, tile by tile."""
    t = s.tile_size
    out = []
    for (tr, tc), arr in s.tiles.items():
        side = t * s.cell_size
        x0, y0 = s.origin[0] + tc * side, s.origin[1] + tr * side
        box = shapely.box(x0, y0, x0 + side, y0 + side)
        if area.contains(box):
            out.append(arr[arr > 0])
        elif area.intersects(box):
            r, k = np.nonzero(arr > 0)
            cx, cy = s.cell_centre(k + tc * t, r + tr * t)
            out.append(arr[r, k][shapely.contains_xy(area, cx, cy)])
    return np.concatenate(out)


@pytest.mark.parametrize("stack", [2_000_000, 4096 * 3, 1])
def test_stacked_passes_equal_tile_by_tile(stack, monkeypatch):
    """values_inside and cells_at_or_above stack hundreds of tiles per NumPy call: the same
    values in the same order (tile by tile, row by row) as one tile at a time, whatever the
    number of tiles stacked, with tiles inside, outside and on the edge of a study area with a
    hole and two parts."""
    import hotspots.grid as grid

    monkeypatch.setattr(grid, "STACK_CELLS", stack)
    s, z = _bumpy_surface(3)
    x0, y0 = s.origin
    area = shapely.MultiPolygon(
        [
            shapely.Point(x0 + 4000, y0 + 4000)
            .buffer(2600)
            .difference(shapely.box(x0 + 3500, y0 + 3500, x0 + 4400, y0 + 4600)),
            shapely.box(x0 + 6000, y0 + 100, x0 + 7400, y0 + 7400),
        ]
    )
    got = s.values_inside(area)
    ref = _values_inside_tile_by_tile(s, area)
    np.testing.assert_array_equal(got, ref)
    assert 0 < got.size < (z > 1e-3).sum()
    level = float(np.quantile(z[z > 1e-3], 0.7))
    i, j, v = s.cells_at_or_above(level)
    ref_cells = []
    for (tr, tc), arr in s.tiles.items():
        r, k = np.nonzero(arr >= level)
        ref_cells.append(np.stack([k + tc * s.tile_size, r + tr * s.tile_size, arr[r, k]]))
    ref_cells = np.concatenate(ref_cells, axis=1)
    np.testing.assert_array_equal(np.stack([i, j, v]), ref_cells)
    np.testing.assert_array_equal(v, z[j, i])  # the bumpy surface's own values, by position


def test_contours_from_the_callers_cells_equal_contours_from_the_surface():
    """``contour_polygons(level, cells=...)`` with the cells of a lower level (as the KDE
    estimator passes them, shared with the peaks and masses) keeps only those at or above the
    level: the same polygons as finding the cells itself."""
    s, z = _bumpy_surface(4)
    level = float(np.quantile(z[z > 1e-3], 0.9))
    own = s.contour_polygons(level)
    given = s.contour_polygons(level, cells=s.cells_at_or_above(level * (1 - 1e-6)))
    assert len(own) > 20
    assert [p.wkb for p in given] == [p.wkb for p in own]
    lower = s.cells_at_or_above(level / 2)
    assert [p.wkb for p in s.contour_polygons(level, cells=lower)] == [p.wkb for p in own]


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_unique_keys_is_numpy_unique(n):
    # the hashed unique of cell keys gives numpy's arrays exactly: negative cells, repeats,
    # keys shifted by window offsets as the Gi* grid makes them
    rng = np.random.default_rng(n)
    ij = rng.integers(-40, 40, size=(n, 2))
    keys = cell_keys(ij)
    shifted = (keys[:, None] + np.arange(-3, 4)[None, :]).ravel()
    for k in (keys, shifted):
        want, want_inv = np.unique(k, return_inverse=True)
        got, got_inv = unique_keys(k, return_inverse=True)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_inv, want_inv.ravel())
        assert got.dtype == np.int64 and got_inv.dtype == np.intp
        np.testing.assert_array_equal(unique_keys(k), want)


def test_cells_at_or_above_reading_only_the_tiles_that_reach_the_level():
    # the tiles' maxima skip the tiles below the level: the same cells in the same order
    rng = np.random.default_rng(2)
    tiles = {
        (r, c): rng.gamma(0.5, 1.0, (8, 8)) * rng.uniform(0.1, 3.0)
        for r in range(-3, 4)
        for c in range(5)
        if rng.random() < 0.8
    }
    surface = DensitySurface(cell_size=10.0, crs=None, origin=(0.0, 0.0), tile_size=8, tiles=tiles)
    peaks = surface.tile_maxima()
    assert peaks.max() == surface.max()
    for level in (0.0, 0.5, 2.0, float(np.median(peaks)), float(peaks.max()), 1e9):
        want = surface.cells_at_or_above(level)
        got = surface.cells_at_or_above(level, tile_max=peaks)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert len(surface.cells_at_or_above(float(np.median(peaks)), tile_max=peaks)[0]) > 0
