from __future__ import annotations

import numpy as np
import pytest
import shapely

from hotspots._errors import ParameterError
from hotspots.grid import DensitySurface, default_cell_size, nice_floor


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
