"""``EmergingResult.cells`` built the first time it is read (session 10).

The classification, its areas and every export need none of the million boxes of a national
grid; the cells' table is built from its columns and the grid only when read. These tests pin
that the table read later is the table built at once before (every column, every box), that the
areas and counts come out the same, that it is built once from any number of threads, and that a
result pickles before and after it is built.
"""

from __future__ import annotations

import pickle
import threading

import geopandas as gpd
import numpy as np
import shapely
from test_emerging import _town

from hotspots.emerging import CATEGORIES, EmergingResult, classify_hotspots
from hotspots.grid import cell_boxes


def _town_result():
    inc, _ = _town(12_000, 4, patterns=(("new", [0] * 11 + [30]),), stable=4)
    return inc, classify_hotspots(inc)


def test_cell_boxes_are_the_cells_squares():
    ij = np.array([[0, 0], [2, -1], [-3, 5]])
    boxes = cell_boxes(ij, 150.0)
    assert [b.bounds for b in boxes] == [
        (0.0, 0.0, 150.0, 150.0),
        (300.0, -150.0, 450.0, 0.0),
        (-450.0, 750.0, -300.0, 900.0),
    ]
    assert np.allclose(shapely.area(boxes), 150.0**2)
    assert cell_boxes(np.zeros((0, 2), dtype=int), 150.0).shape == (0,)


def test_cells_read_later_are_every_cell_with_its_box():
    inc, res = _town_result()
    cells = res.cells
    assert isinstance(cells, gpd.GeoDataFrame) and cells.crs == inc.crs
    assert res.cells is cells  # built once, then kept
    # every box is a square cell of the 150 m grid, one per cell, none twice
    x0, y0, x1, y1 = shapely.bounds(cells.geometry.to_numpy()).T
    np.testing.assert_allclose(x1 - x0, 150.0)
    np.testing.assert_allclose(y1 - y0, 150.0)
    np.testing.assert_allclose(x0 / 150.0, np.round(x0 / 150.0))
    assert len({(a, b) for a, b in zip(x0, y0, strict=True)}) == len(cells)
    # each cell's incidents over the periods: the incidents inside its box
    pts = shapely.points(inc.frame[["x", "y"]].to_numpy())
    inside = np.bincount(
        shapely.STRtree(pts).query(cells.geometry.to_numpy(), predicate="contains")[0],
        minlength=len(cells),
    )
    np.testing.assert_array_equal(cells["total"].to_numpy(), inside)
    assert int(cells["total"].sum()) == len(inc)
    # the counts per class are the table's, and the areas cover exactly the classed cells
    n_of = cells["category"].value_counts()
    found = {c: int(n_of[c]) for c in CATEGORIES if c != "no pattern" and c in n_of.index}
    assert dict(res.params["category_counts"]) == found and found["new hot spot"] >= 1
    assert int(res.areas["n_cells"].sum()) == sum(found.values())
    classed = cells.loc[cells["category"] != "no pattern"]
    assert shapely.union_all(res.areas.geometry.to_numpy()).equals(
        shapely.union_all(classed.geometry.to_numpy())
    )


def test_cells_are_built_once_from_many_threads():
    calls = []
    table = gpd.GeoDataFrame({"total": [1, 2]}, geometry=cell_boxes(np.eye(2, dtype=int), 1.0))

    def build():
        calls.append(1)
        return table

    res = EmergingResult(build, table.iloc[:0], {"a": 1}, ["note"])
    start = threading.Barrier(8)
    seen = []

    def read():
        start.wait()
        seen.append(res.cells)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(s is table for s in seen) and len(seen) == 8
    assert res.params["a"] == 1 and list(res.notes) == ["note"]


def test_result_pickles_before_and_after_its_cells_are_built():
    _, res = _town_result()
    early = pickle.loads(pickle.dumps(res))  # the table not built yet: its builder goes along
    built = res.cells
    late = pickle.loads(pickle.dumps(res))
    for copy in (early, late):
        got = copy.cells
        assert got.geometry.equals(built.geometry)
        for column in built.columns.drop("geometry"):
            left, right = got[column].to_numpy(), built[column].to_numpy()
            if left.dtype == object and len(left) and isinstance(left[0], list | np.ndarray):
                left, right = np.stack(left), np.stack(right)
            np.testing.assert_array_equal(left, right, err_msg=column)
        assert copy.areas.geometry.equals(res.areas.geometry)
        assert dict(copy.params) == dict(res.params)


def test_a_given_table_is_kept_as_it_is():
    table = gpd.GeoDataFrame({"total": [3]}, geometry=cell_boxes(np.array([[1, 1]]), 10.0))
    res = EmergingResult(table, table.iloc[:0])
    assert res.cells is table and dict(res.params) == {} and list(res.notes) == []
