"""Session 9's faster Gi* grid and place flags against the computations they replaced.

Each fast path is pinned to a reference written here the way the code did it before (a search
per offset, the outer band tested on every cell, every row of a table looked at one by one), on
random and hand-made data: empty, one point, duplicates, far from the origin, tiles.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import gistar, places
from hotspots.grid import cell_ij, cell_keys, neighbour_offsets
from hotspots.incidents import Incidents
from hotspots.patrol import make_patrol_areas

# --------------------------------------------------------------------------------------------
# the grid


def _reference_overlay(area: gistar.StudyAreaCells, ij: np.ndarray) -> np.ndarray:
    """:meth:`StudyAreaCells._overlay` as it was: GEOS asked of every (piece, box) pair whether
    the piece holds the box, the other boxes' overlaps added."""
    if len(ij) == 0:
        return np.zeros(0)
    c, t = area.cell_size, gistar.OVERLAY_TILE_CELLS
    tile_keys, tile_of = np.unique(cell_keys(ij // t), return_inverse=True)
    tij = cell_ij(tile_keys)
    tiles = shapely.box(tij[:, 0] * t * c, tij[:, 1] * t * c,
                        (tij[:, 0] + 1) * t * c, (tij[:, 1] + 1) * t * c)  # fmt: skip
    _, parts, tree = area._prepared()
    ti, pj = tree.query(tiles, predicate="intersects")
    pieces = shapely.intersection(parts[pj], tiles[ti])
    boxes = shapely.box(ij[:, 0] * c, ij[:, 1] * c, (ij[:, 0] + 1) * c, (ij[:, 1] + 1) * c)
    bi, qk = shapely.STRtree(pieces).query(boxes, predicate="intersects")
    own = ti[qk] == tile_of.ravel()[bi]
    bi, qk = bi[own], qk[own]
    order = np.lexsort((pj[qk], bi))
    bi, qk = bi[order], qk[order]
    out = np.zeros(len(ij))
    out[bi[shapely.contains(pieces[qk], boxes[bi])]] = 1.0
    cut = out[bi] < 1.0
    if cut.any():
        b = bi[cut]
        i, j = ij[b, 0], ij[b, 1]
        areas = gistar.box_overlaps(pieces, qk[cut], (i * c, j * c, (i + 1) * c, (j + 1) * c))
        out += np.bincount(b, weights=areas, minlength=len(ij)) / c**2
    return np.clip(out, 0.0, 1.0)


def _reference_fractions(area: gistar.StudyAreaCells, ij: np.ndarray) -> np.ndarray:
    """:meth:`StudyAreaCells.fractions` as it was: both bands tested on every cell."""
    if area.whole:
        return np.ones(len(ij))
    c = area.cell_size
    core, outer = area._bands()
    inside = gistar.centres_within(core, ij, c) if core is not None else np.zeros(len(ij), bool)
    reach = gistar.centres_within(outer, ij, c) if outer is not None else ~inside
    near = np.flatnonzero(~inside & reach)
    out = inside.astype(float)
    out[near] = _reference_overlay(area, ij[near])
    return out


def _reference_part(occupied_keys, area, neighbour_distance, box=None):
    """:func:`grid_part` as it was: one search of the sorted keys per offset."""
    nbr = neighbour_offsets(area.cell_size, neighbour_distance).astype(np.int64)
    win = gistar._square_offsets(area.radius)
    occ_keys = np.unique(np.asarray(occupied_keys, dtype=np.int64))
    cand = gistar._dilate_square(cell_ij(occ_keys), area.radius)
    if box is not None:
        i0, j0, i1, j1 = box
        i, j = cand[:, 0], cand[:, 1]
        cand = cand[(i >= i0) & (i < i1) & (j >= j0) & (j < j1)]
    cand_keys = cell_keys(cand)
    frac = np.ones(len(cand))
    n_nb = np.full(len(cand), float(len(nbr)))
    n_win = np.full(len(cand), float(len(win)))
    edge = np.flatnonzero(~area.interior(cand))
    if len(edge):
        ring = gistar._dilate_square(cand[edge], area.radius)
        ring_keys = cell_keys(ring)
        ring_frac = _reference_fractions(area, ring)
        hit = gistar._lookup(ring_keys, occ_keys)
        hit = hit[hit >= 0]
        ring_frac[hit] = np.maximum(ring_frac[hit], gistar.MIN_CELL_FRACTION)
        edge_keys = cand_keys[edge]
        frac[edge] = ring_frac[gistar._lookup(ring_keys, edge_keys)]
        for offs, out in ((nbr, n_nb), (win, n_win)):
            acc = np.zeros(len(edge))
            for shift in cell_keys(offs):
                pos = gistar._lookup(ring_keys, edge_keys + shift)
                acc += np.where(pos >= 0, ring_frac[pos], 0.0)
            out[edge] = acc
    in_area = frac > 0
    keys = cand_keys[in_area]
    targets = [
        np.stack([gistar._lookup(keys, occ_keys + shift) for shift in cell_keys(offs)])
        if len(occ_keys)
        else np.full((len(offs), 0), -1, dtype=np.intp)
        for offs in (nbr, win)
    ]
    return (keys, frac[in_area], n_nb[in_area], n_win[in_area], occ_keys, *targets)


def _assert_parts_equal(got: gistar.GridPart, ref: tuple) -> None:
    for name, a, b in zip(got._fields, got, ref, strict=True):
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)


def _ragged_area(x0: float = 0.0, y0: float = 0.0):
    """A ragged polygon with a hole, an island and a sliver 10 m wide, around (x0, y0)."""
    rng = np.random.default_rng(3)
    angle = np.sort(rng.uniform(0, 2 * np.pi, 80))
    radius = 2_000 + rng.uniform(-600, 600, 80)
    ragged = shapely.Polygon(
        np.column_stack([x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)])
    )
    return shapely.MultiPolygon(
        [
            ragged.difference(shapely.Point(x0 + 300, y0 - 200).buffer(450)),
            shapely.Point(x0 + 4_000, y0 + 900).buffer(380),
            shapely.box(x0 - 3_500, y0 - 3_000, x0 - 1_200, y0 - 2_990),
        ]
    )


def _points(n: int, x0: float, y0: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = np.column_stack([x0 + rng.uniform(-4_500, 4_500, n), y0 + rng.uniform(-3_500, 3_500, n)])
    return np.r_[xy, xy[: n // 10]]  # duplicates


@pytest.mark.parametrize(
    ("n", "x0", "y0", "cell", "base_cells"),
    [
        (3_000, 0.0, 0.0, 150.0, 2),
        (800, 0.0, 0.0, 25.0, 3),
        (2_000, 7.0e6, -3.0e6, 150.0, 2),  # far from the origin, negative indices
        (1, 0.0, 0.0, 150.0, 2),
        (0, 0.0, 0.0, 150.0, 2),
    ],
)
def test_grid_part_equals_a_search_per_offset(n, x0, y0, cell, base_cells):
    """Every field of :func:`grid_part` (keys, shares, neighbourhood and window sizes, where
    each occupied cell lands per offset) equals the search per offset, whole or in tiles."""
    area_geom = _ragged_area(x0, y0)
    xy = _points(n, x0, y0, n) if n else np.empty((0, 2))
    dist = cell * math.sqrt(2)
    r = gistar.window_radius(cell, dist, base_cells * cell)
    _, occ, _ = gistar.occupied_cells(xy, cell)
    area = gistar.StudyAreaCells(area_geom, cell, r)
    got = gistar.grid_part(occ, area, neighbour_distance=dist)
    _assert_parts_equal(got, _reference_part(occ, area, dist))
    if n > 1:
        assert (got.fraction < 1).sum() > 10 and (got.nbr_targets == -1).any()
    i0, j0 = int(x0 // cell), int(y0 // cell)
    for box in [(i0 - 10, j0 - 30, i0 + 7, j0 + 5), (i0 + 7, j0 - 40, i0 + 40, j0 + 40)]:
        part = gistar.grid_part(occ, area, neighbour_distance=dist, box=box)
        _assert_parts_equal(part, _reference_part(occ, area, dist, box))
    # the whole plane as the study area
    whole = gistar.StudyAreaCells(None, cell, r)
    _assert_parts_equal(
        gistar.grid_part(occ, whole, neighbour_distance=dist), _reference_part(occ, whole, dist)
    )


def test_window_positions_by_hand():
    """Two cells far apart, r = 1: each shifted cell found ``dj`` places after its column's
    search, the positions a search per offset gives."""
    cells = np.array([[-5, 3], [1_000, -2_000]], dtype=np.int64)
    keys = cell_keys(cells)
    dilated = cell_keys(gistar._dilate_square(cells, 1))
    assert len(dilated) == 18
    offsets = gistar._square_offsets(1)
    got = gistar._window_positions(dilated, keys, offsets)
    # the first cell's window is the first nine keys, in (i, j) order, as the offsets
    np.testing.assert_array_equal(np.stack(got)[:, 0], np.arange(9))
    np.testing.assert_array_equal(np.stack(got)[:, 1], np.arange(9, 18))
    for pos, shift in zip(got, cell_keys(offsets), strict=True):
        np.testing.assert_array_equal(pos, gistar._lookup(dilated, keys + shift))


def test_fractions_equal_both_bands_on_every_cell():
    """The outer band tested only on cells outside the inner one: the same shares."""
    geom = _ragged_area()
    k = np.arange(-40, 41)
    ij = np.column_stack([a.ravel() for a in np.meshgrid(k, k)])
    for cell in (60.0, 150.0):
        area = gistar.StudyAreaCells(geom, cell, 2)
        got = area.fractions(ij)
        np.testing.assert_array_equal(got, _reference_fractions(area, ij))
        # boxes wholly inside a piece, partly, and on pieces of several tiles
        edge = (got > 0) & (got < 1)
        np.testing.assert_array_equal(area._overlay(ij[edge]), got[edge])
        np.testing.assert_array_equal(area._overlay(ij), _reference_overlay(area, ij))
        assert ((got > 0) & (got < 1)).sum() > 20
        assert area.fractions(np.empty((0, 2), np.int64)).shape == (0,)


# --------------------------------------------------------------------------------------------
# the place flags

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700


def _incidents() -> Incidents:
    """Stacked map points (a prison, a hospital, a police station beside a prison, a busy
    street point) among 1,000 scattered incidents of mixed places."""
    dx = np.array([0, 30, 600, 1200, 1230, 2000, 2600, 2610], dtype=float)
    stack = np.array([40, 10, 30, 20, 25, 60, 70, 12])
    names = ["Prison", "High Street", "Main Street", "Hospital", "Market Street",
             "Bishopsgate", "Police Station", "Prison"]  # fmt: skip
    rng = np.random.default_rng(4)
    scattered = rng.choice(["Some Road", "Hospital", "Prison"], 1000, p=[0.8, 0.1, 0.1])
    texts = np.r_[np.repeat(names, stack), scattered]
    x = np.r_[X0 + np.repeat(dx, stack), X0 + rng.uniform(-3000, 3000, 1000)]
    y = np.r_[np.full(stack.sum(), Y0), Y0 + rng.uniform(-3000, 3000, 1000)]
    return Incidents.from_xy(
        x,
        y,
        month=pd.to_datetime(["2024-01-01"] * len(x)),
        location=np.array(["On or near " + t for t in texts], dtype=object),
    )


def _reference_flags(table, incidents, user_places=None):
    """:func:`flag_places`' columns with every row looked at and every text at hand."""
    rules = places.load_places()
    marks = places._marks(incidents, user_places, rules)
    is_area = "patrol_area_id" in table.columns
    centres = places._centre_kinds(table, incidents, marks) if is_area else [""] * len(table)
    source = user_places.source if user_places and user_places.source else "the user"
    texts = (np.arange(len(incidents)), incidents.frame["location"].to_numpy())
    return [
        places._flag_row(idx, centre, marks, rules, texts, source)
        for idx, centre in zip(places._members(table, incidents), centres, strict=True)
    ]


def _assert_flags_equal(flagged, ref) -> None:
    assert list(flagged["unpatrollable_reason"]) == [r[0] for r in ref]
    assert list(flagged["unpatrollable_kind"]) == [r[1] for r in ref]
    np.testing.assert_array_equal(flagged["unpatrollable_share"], [r[2] for r in ref])
    assert list(flagged["place_check"]) == [r[3] for r in ref]


@pytest.fixture(scope="module")
def town():
    inc = _incidents()
    rng = np.random.default_rng(9)
    x, y = X0 + rng.uniform(-3200, 3200, 60), Y0 + rng.uniform(-3200, 3200, 60)
    side = rng.uniform(5, 900, 60)
    boxes = list(shapely.box(x, y, x + side, y + side))
    boxes += [
        shapely.box(X0 - 80, Y0 - 80, X0 + 80, Y0 + 80),  # the prison's point
        shapely.box(X0 + 2550, Y0 - 50, X0 + 2650, Y0 + 50),  # police station and prison
        shapely.box(X0 + 1950, Y0 - 50, X0 + 2050, Y0 + 50),  # the busy point
        shapely.box(X0 + 9000, Y0, X0 + 9100, Y0 + 100),  # holds no incident
        shapely.Point(X0 + 600, Y0).buffer(1.0),  # one map point
    ]
    hot = gpd.GeoDataFrame(
        {"hotspot_id": [f"H{k:03d}" for k in range(len(boxes))], "rank": range(len(boxes))},
        geometry=boxes,
        crs="EPSG:27700",
    )
    return inc, hot


def test_flag_hotspots_equal_every_row_looked_at(town):
    inc, hot = town
    flagged = places.flag_places(hot, inc)
    ref = _reference_flags(hot, inc)
    _assert_flags_equal(flagged, ref)
    kinds = set(flagged["unpatrollable_kind"])
    assert {"prison", ""} <= kinds and len(kinds) >= 3
    assert (flagged["place_check"] != "").sum() >= 1
    share = flagged.set_index("hotspot_id")["unpatrollable_share"]
    assert np.isnan(share["H063"]) and share.notna().sum() > 40
    assert share["H064"] == 0.0 and share["H060"] == pytest.approx(40 / 50)


def test_flag_patrol_areas_and_user_places_equal_every_row_looked_at(town, tmp_path):
    inc, hot = town
    areas = make_patrol_areas(inc, hot.iloc[60:63])
    assert len(areas) >= 3
    _assert_flags_equal(places.flag_places(areas, inc), _reference_flags(areas, inc))
    listed = tmp_path / "places.csv"
    listed.write_text("name\nMarket Street\nSome Road\n", encoding="utf-8")
    user = places.read_user_places(listed)
    flagged = places.flag_places(hot, inc, user_places=user)
    _assert_flags_equal(flagged, _reference_flags(hot, inc, user))
    assert (flagged["unpatrollable_kind"] == places.USER_PLACE).sum() > 5


def test_flag_places_on_an_empty_table_and_no_incidents(town):
    inc, hot = town
    assert len(places.flag_places(hot.iloc[:0], inc)) == 0
    none = inc.subset(np.zeros(len(inc), dtype=bool))
    flagged = places.flag_places(hot, none)
    assert flagged["unpatrollable_share"].isna().all()
    assert (flagged["unpatrollable_kind"] == "").all()


# --------------------------------------------------------------------------------------------
# the cells' table, built when first read


def test_cells_table_built_when_read_equals_the_grid_and_pickles():
    """``cells_`` drawn on first reading: the grid's boxes and counts, the same after a
    pickle taken before it was read, empty after a refit on no incidents, and NotFittedError
    before any fit."""
    import pickle

    from hotspots.base import NotFittedError

    rng = np.random.default_rng(12)
    xy = np.r_[rng.uniform(0, 3_000, (600, 2)), np.full((40, 2), 1_210.0)]
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], month=pd.to_datetime(["2024-01-01"] * len(xy)))
    with pytest.raises(NotFittedError):
        _ = gistar.GiStarHotspots().cells_
    est = gistar.GiStarHotspots(null="poisson").fit(inc)
    thawed = pickle.loads(pickle.dumps(est))
    cells = est.cells_
    assert est.cells_ is cells  # built once
    c = est.cell_size_
    grid = gistar.GiStarGrid(
        inc.xy,
        inc.study_area,
        cell_size=c,
        neighbour_distance=est.neighbour_distance_,
        baseline_distance=est.baseline_distance_,
    )
    assert len(cells) == len(grid) > 100
    assert shapely.equals_exact(cells.geometry.to_numpy(), grid.boxes(), 0).all()
    ij = np.floor(xy / c).astype(np.int64)
    own = np.array([np.all(ij == cell, axis=1).sum() for cell in grid.cells])
    np.testing.assert_array_equal(cells["count"], own)
    assert cells["count"].max() >= 40 and len(est.hotspots_) >= 1
    # the hot spot holds the busy cell's box
    busy = cells.geometry.iloc[int(np.argmax(own))]
    assert est.hotspots_.geometry.covers(busy).any()
    again = thawed.cells_
    assert list(again.columns) == list(cells.columns)
    for column in cells.columns.drop("geometry"):
        np.testing.assert_array_equal(again[column], cells[column], err_msg=column)
    assert shapely.equals_exact(again.geometry.to_numpy(), cells.geometry.to_numpy(), 0).all()
    none = inc.subset(np.zeros(len(inc), dtype=bool))
    assert len(est.fit(none).cells_) == 0


# --------------------------------------------------------------------------------------------
# the distinct map points, kept from one call to the next


def test_unique_points_kept_between_calls_equal_numpy_and_stay_the_callers():
    """The kept answer is np.unique's, for the same points asked again (a new array), never
    for other points of the same shape, and a caller changing what it got changes nothing."""
    from hotspots.incidents import unique_points

    rng = np.random.default_rng(5)
    xy = np.round(rng.uniform(-1e6, 7e6, (5_000, 2)), -4)  # far from the origin, stacked
    xy[:3] = [12345.5, -678.25]  # duplicates
    ref = np.unique(xy, axis=0, return_index=True, return_inverse=True, return_counts=True)
    for _ in range(3):
        got = unique_points(xy.copy(), return_index=True, return_inverse=True, return_counts=True)
        for a, b in zip(got, ref, strict=True):
            np.testing.assert_array_equal(a, np.ravel(b) if b.ndim == 1 else b)
        got[2][:] = -1  # the caller's own arrays
        got[0][:] = 0.0
    other = xy[::-1].copy()
    np.testing.assert_array_equal(
        unique_points(other, return_inverse=True)[1],
        np.unique(other, axis=0, return_inverse=True)[1].ravel(),
    )
    for pts in (xy, other, np.round(xy, -5), xy, other):  # two kept, asked in turn
        np.testing.assert_array_equal(unique_points(pts), np.unique(pts, axis=0))
    one = unique_points(np.array([[3.0, 4.0]]), return_counts=True)
    assert one[0].tolist() == [[3.0, 4.0]] and one[1].tolist() == [1]


def test_place_marks_points_equal_the_rounded_incidents():
    """Each incident's map point (to the centimetre) and the points' counts, found from the
    distinct points, equal ``unique_points`` of the rounded incidents."""
    from hotspots.incidents import unique_points

    rng = np.random.default_rng(6)
    base = X0 + np.round(rng.uniform(0, 500, (300, 2)), 3)
    xy = np.r_[base, base[:100] + 0.001, base[:50] + 0.004, [[X0 + 0.006, Y0 - 0.004]]]
    inc = Incidents.from_xy(
        xy[:, 0],
        xy[:, 1],
        month=pd.to_datetime(["2024-01-01"] * len(xy)),
        location=np.array(["On or near Some Road"] * len(xy), dtype=object),
    )
    marks = places._marks(inc, None, places.load_places())
    _, point, point_n = np.unique(
        np.round(inc.xy, 2), axis=0, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(marks.point, point.ravel())
    np.testing.assert_array_equal(marks.point_n, point_n)
    assert len(point_n) < 360 and point_n.max() >= 2
    _, direct = unique_points(np.round(inc.xy, 2), return_inverse=True)
    np.testing.assert_array_equal(marks.point, direct)


# --------------------------------------------------------------------------------------------
# dilation by shifted copies


@pytest.mark.parametrize("r", [0, 1, 2, 3, 8, 12])
def test_spread_equals_scipys_running_maximum(r):
    """Or-ing shifted copies gives scipy's running maximum with zeros beyond the edge, on a
    random raster, a raster narrower than the window, one cell and an empty raster."""
    from scipy.ndimage import maximum_filter1d

    rng = np.random.default_rng(r)
    rasters = [
        (rng.random((40, 57)) < 0.05).astype(np.uint8),
        (rng.random((3, 5)) < 0.3).astype(np.uint8),
        np.ones((1, 1), np.uint8),
        np.zeros((0, 4), np.uint8),
    ]
    for ras in rasters:
        for axis in (0, 1):
            ref = maximum_filter1d(ras, 2 * r + 1, axis=axis, mode="constant")
            np.testing.assert_array_equal(gistar._spread(ras, r, axis), ref)


@pytest.mark.parametrize("r", [2, gistar.SHIFT_DILATION_CELLS + 1])
def test_dilate_raster_either_way_equals_the_shifted_keys(r):
    """Dilation on rasters (by shifts, or scipy's maximum for a wide window) equals every shift
    made unique, far from the origin and with a duplicate."""
    rng = np.random.default_rng(r)
    ij = rng.integers(-40, 40, (200, 2)).astype(np.int64) + [10**6, -(10**5)]
    ij = np.r_[ij, ij[:1]]
    keys = np.unique(cell_keys(ij))
    for d in np.arange(-r, r + 1) * 2**32, np.arange(-r, r + 1):
        keys = np.unique((keys[:, None] + d[None, :]).ravel())
    cells = cell_ij(np.unique(cell_keys(ij)))
    np.testing.assert_array_equal(gistar._dilate_raster(cells, r), cell_ij(keys))
