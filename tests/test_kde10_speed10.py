"""Session 10's faster national KDE detection, pinned against the computations it replaced.

* ``profile.rank_hotspots_with_members``: the ranking of :func:`rank_hotspots` and the
  (incident, ranked row) pairs it counted, the same pairs as :func:`assign_incidents` on the
  ranked polygons;
* ``places.flag_places(members=)``: the same flags from those pairs as from testing the
  incidents against the polygons again; ``places._grouped``: each row's incidents by one sort,
  as the two-key lexsort gave them;
* ``detect.HotspotResult.members``: set by :func:`detect`, used by
  :func:`workflows.detect_hotspots`, dropped by :func:`workflows.only_significant`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import Incidents
from hotspots.detect import detect
from hotspots.places import _grouped, flag_places
from hotspots.profile import assign_incidents, rank_hotspots, rank_hotspots_with_members
from hotspots.workflows import detect_hotspots, only_significant

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700


def _reference_groups(idx, row, n_rows):
    """The old ``places._members`` grouping: lexsort by row, then incident."""
    idx, row = np.asarray(idx, dtype=np.int64), np.asarray(row, dtype=np.int64)
    if not n_rows:
        return []
    order = np.lexsort((idx, row))
    counts = np.bincount(row, minlength=n_rows)
    return np.split(idx[order], np.cumsum(counts)[:-1])


def _same_groups(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype == np.int64
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("n", "n_rows", "n_pairs", "seed"),
    [
        (0, 0, 0, 0),  # nothing
        (0, 3, 0, 1),  # rows without incidents
        (1, 1, 1, 2),  # one incident in one row
        (1, 4, 3, 3),  # one incident in several rows (overlapping polygons)
        (5, 2, 0, 4),  # incidents, none inside
        (50, 7, 120, 5),
        (1000, 1, 1000, 6),  # every incident in the only row
        (3000, 40, 5000, 7),
    ],
)
def test_grouped_matches_the_lexsort(n, n_rows, n_pairs, seed):
    rng = np.random.default_rng(seed)
    if n and n_rows:
        pairs = np.unique(
            np.column_stack([rng.integers(0, n, n_pairs), rng.integers(0, n_rows, n_pairs)]),
            axis=0,
        )
        pairs = pairs[rng.permutation(len(pairs))]  # in no particular order
        idx, row = pairs[:, 0], pairs[:, 1]
    else:
        idx, row = np.empty(0, np.int64), np.empty(0, np.int64)
    _same_groups(_grouped(idx, row, n_rows, n), _reference_groups(idx, row, n_rows))


def test_grouped_last_and_first_incident_at_row_boundaries():
    # incident n - 1 of row r and incident 0 of row r + 1 are neighbours in the combined key
    n = 4
    idx = np.array([3, 0, 3, 0, 1])
    row = np.array([0, 1, 1, 2, 0])
    groups = _grouped(idx, row, 3, n)
    _same_groups(groups, _reference_groups(idx, row, 3))
    assert [g.tolist() for g in groups] == [[1, 3], [0, 3], [0]]


def _town(seed=0, n_background=3000):
    """Incidents on map points with location texts: a prison and a hospital among streets,
    planted clusters, some points shared by many incidents, and edges of hot spots."""
    rng = np.random.default_rng(seed)
    spec = [
        (0, 0, 60, "On or near Prison"),
        (25, 0, 15, "On or near High Street"),
        (600, 0, 40, "On or near Hospital"),
        (640, 10, 45, "On or near Market Street"),
        (1500, 300, 200, "On or near Bishopsgate"),
    ]
    xs, ys, locs = [], [], []
    for x, y, n, loc in spec:
        xs += [X0 + x] * n
        ys += [Y0 + y] * n
        locs += [loc] * n
    pts = rng.uniform(-2000, 2000, (400, 2))
    pick = rng.integers(0, len(pts), n_background)
    xs += list(X0 + pts[pick, 0])
    ys += list(Y0 + pts[pick, 1])
    locs += ["On or near Some Road"] * n_background
    months = pd.to_datetime([f"2024-{m:02d}-01" for m in rng.integers(1, 7, len(xs))])
    return Incidents.from_xy(
        np.array(xs),
        np.array(ys),
        month=months,
        location=np.array(locs, dtype=object),
        study_area=shapely.box(X0 - 2500, Y0 - 2500, X0 + 2500, Y0 + 2500),
    )


def _polygons():
    return gpd.GeoDataFrame(
        {"method": ["test"] * 5},
        geometry=[
            shapely.box(X0 - 80, Y0 - 80, X0 + 80, Y0 + 80),
            # the prison's point on this box's left edge, and overlapping the first
            shapely.box(X0, Y0 - 10, X0 + 30, Y0 + 10),
            shapely.box(X0 + 520, Y0 - 80, X0 + 700, Y0 + 80),
            shapely.box(X0 + 1400, Y0 + 200, X0 + 1600, Y0 + 400),
            # holds no incident
            shapely.box(X0 + 2300, Y0 + 2300, X0 + 2400, Y0 + 2400),
        ],
        crs=27700,
    )


def _pair_set(idx, row):
    return sorted(zip(np.asarray(idx).tolist(), np.asarray(row).tolist(), strict=True))


@pytest.mark.parametrize("order", ["intensity", "count"])
def test_rank_with_members_ranks_alike_and_gives_the_assignment(order):
    inc, hot = _town(), _polygons()
    ranked, (idx, row) = rank_hotspots_with_members(hot, inc, order=order)
    pd.testing.assert_frame_equal(ranked, rank_hotspots(hot, inc, order=order))
    assert idx.dtype == row.dtype == np.int64
    ref = assign_incidents(np.asarray(ranked.geometry.values, dtype=object), inc)
    assert _pair_set(idx, row) == _pair_set(*ref)
    # every ranked row's member count is its incidents column
    counts = np.bincount(row, minlength=len(ranked))
    np.testing.assert_array_equal(counts, ranked["incidents"].to_numpy())


def test_rank_with_members_no_hotspots():
    inc = _town()
    ranked, (idx, row) = rank_hotspots_with_members(_polygons().iloc[:0], inc)
    assert len(ranked) == 0 and len(idx) == 0 and len(row) == 0


def test_flag_places_with_members_flags_alike():
    inc = _town()
    ranked, members = rank_hotspots_with_members(_polygons(), inc)
    given = flag_places(ranked, inc, members=members)
    found = flag_places(ranked, inc)
    pd.testing.assert_frame_equal(given, found)
    assert given.attrs == found.attrs
    assert (given["unpatrollable_kind"] != "").any()  # the test flags something
    # members in any order give the same flags
    idx, row = members
    perm = np.random.default_rng(1).permutation(len(idx))
    pd.testing.assert_frame_equal(flag_places(ranked, inc, members=(idx[perm], row[perm])), found)
    # no rows
    empty = ranked.iloc[:0]
    no_pairs = (np.empty(0, np.int64), np.empty(0, np.int64))
    pd.testing.assert_frame_equal(
        flag_places(empty, inc, members=no_pairs), flag_places(empty, inc)
    )


def test_flag_places_refuses_members_of_another_table():
    from hotspots import ParameterError

    inc = _town()
    ranked, (idx, row) = rank_hotspots_with_members(_polygons(), inc)
    fewer = ranked.iloc[: row.max()]  # rows dropped after the pairs were made
    with pytest.raises(ParameterError, match="another table"):
        flag_places(fewer, inc, members=(idx, row))
    with pytest.raises(ParameterError, match="another table"):
        flag_places(ranked, inc.subset(np.arange(len(inc)) < idx.max()), members=(idx, row))
    with pytest.raises(ParameterError, match="another table"):
        flag_places(ranked, inc, members=(idx, row[:-1]))
    with pytest.raises(ParameterError, match="another table"):
        flag_places(ranked, inc, members=(idx, row - 1 - row.max()))


def test_detect_hands_the_members_on():
    inc = _town(seed=3, n_background=6000)
    result = detect(inc, "kde")
    assert len(result.hotspots)
    ref = assign_incidents(np.asarray(result.hotspots.geometry.values, dtype=object), inc)
    assert result.members is not None
    assert _pair_set(*result.members) == _pair_set(*ref)
    full = detect_hotspots(inc, "kde")
    pd.testing.assert_frame_equal(
        full.hotspots, flag_places(result.hotspots, inc), check_like=False
    )
    assert only_significant(full).members is None


def _same_marks(a, b):
    for name in ("kind", "point", "busy", "point_n"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y)
    assert a.point_text == b.point_text


@pytest.mark.parametrize("n_background", [0, 3000])
def test_start_place_marks_in_background_marks_alike(n_background):
    from hotspots import places
    from hotspots.places import UserPlaces, start_place_marks

    inc = _town(n_background=n_background)
    rules = places.load_places()
    _same_marks(start_place_marks(inc).result(), places._marks(inc, None, rules))
    user = UserPlaces(names=("On or near Market Street",))
    marks = start_place_marks(inc, user, rules).result()
    _same_marks(marks, places._marks(inc, user, rules))
    assert (marks.kind == "user_place").sum() == 45
    ranked, members = rank_hotspots_with_members(_polygons(), inc)
    pd.testing.assert_frame_equal(
        flag_places(ranked, inc, user_places=user, members=members, marks=marks),
        flag_places(ranked, inc, user_places=user),
    )


def test_start_place_marks_no_incidents():
    from hotspots import places
    from hotspots.places import start_place_marks

    inc = _town().subset(np.zeros(len(_town()), dtype=bool))
    _same_marks(start_place_marks(inc).result(), places._marks(inc, None, places.load_places()))
