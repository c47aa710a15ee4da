"""Property-based tests of the whole pipeline: any point pattern that ingests must detect,
rank and export without crashing, with valid polygons and consistent numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotspots import Incidents
from hotspots.detect import detect
from hotspots.export import to_geojson
from hotspots.stats import catchment_areas

_coord = st.floats(min_value=0, max_value=3000, allow_nan=False, allow_infinity=False)


@st.composite
def patterns(draw):
    """Awkward point patterns: stacks, lines, tiny clusters, one or two points, mixed."""
    n_free = draw(st.integers(0, 40))
    pts = [(draw(_coord), draw(_coord)) for _ in range(n_free)]
    for _ in range(draw(st.integers(0, 3))):  # stacks on one location
        x, y = draw(_coord), draw(_coord)
        pts += [(x, y)] * draw(st.integers(1, 60))
    if draw(st.booleans()):  # a straight line of points
        x0, y0 = draw(_coord), draw(_coord)
        k = draw(st.integers(2, 30))
        pts += [(x0 + 5 * i, y0) for i in range(k)]
    if not pts:
        pts = [(draw(_coord), draw(_coord))]
    xy = np.array(pts) + [400000.0, 300000.0]
    months = draw(
        st.lists(
            st.sampled_from(["2024-01-01", "2024-02-01", "2024-03-01", "2024-07-01"]),
            min_size=len(xy),
            max_size=len(xy),
        )
    )
    return xy, months


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=patterns(), method=st.sampled_from(["kde", "dbscan", "gistar"]))
def test_pipeline_never_crashes_and_stays_consistent(data, method):
    xy, months = data
    bounds = shapely.box(
        xy[:, 0].min() - 100, xy[:, 1].min() - 100, xy[:, 0].max() + 100, xy[:, 1].max() + 100
    )
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], month=months, study_area=bounds)
    result = detect(inc, method)  # any error, a HotspotsError too, fails the property
    hs = result.hotspots
    assert list(hs["rank"]) == list(range(1, len(hs) + 1))
    assert hs.geometry.is_valid.all() and (hs.geometry.area > 0).all()
    assert (hs["incidents"] >= 0).all() and (hs["incidents"] <= len(inc)).all()
    assert ((hs["p_value"] >= 0) & (hs["p_value"] <= 1)).all()
    assert (hs["monthly_counts"].map(sum) == hs["incidents"]).all()
    doc = json.loads(to_geojson(result))
    assert len(doc["features"]) == len(hs)


# Near-coincident map points at national grid coordinates: GEOS's Voronoi diagram cannot split
# distinct points about 1e-10 m apart (session 6's failure, now stats.CATCHMENT_SNAP_M); each
# case runs through every detector on every CI run.
_X, _Y = 530000.0, 180000.0
_NX, _NY = np.nextafter(_X, np.inf), np.nextafter(_Y, np.inf)
_NEAR_COINCIDENT = {
    "pair one ulp apart in x": [(_X, _Y), (_NX, _Y)],
    "pair one ulp apart in y": [(_X, _Y), (_X, _NY)],
    "three within one ulp": [(_X, _Y), (_NX, _Y), (_X, _NY)],
    "three collinear ulps": [(_X, _Y), (_NX, _Y), (np.nextafter(_NX, np.inf), _Y)],
    "pair 1e-10 m apart and a far point": [(_X, _Y), (_X + 1e-10, _Y), (_X + 50, _Y + 50)],
    "diagonal 1e-9 m steps": [(_X, _Y), (_X + 1e-9, _Y + 1e-9), (_X + 2e-9, _Y + 2e-9)],
    "stacks one ulp apart": [(_X, _Y)] * 5 + [(_NX, _Y)] * 3 + [(_X + 5, _Y)],
    "a line with one point doubled by an ulp": [(_X + 5 * i, _Y) for i in range(10)] + [(_NX, _Y)],
    "stacked pair among a cluster": [(_X + i % 4, _Y + i // 4) for i in range(16)] * 4
    + [(_NX, _Y), (_X, _NY)] * 10,
}


def _near_coincident_data(name):
    xy = np.array(_NEAR_COINCIDENT[name])
    months = [["2024-01-01", "2024-02-01", "2024-03-01"][i % 3] for i in range(len(xy))]
    return xy, months


def _pinned(test):
    for name in _NEAR_COINCIDENT:
        for method in ("kde", "dbscan", "gistar"):
            test = example(data=_near_coincident_data(name), method=method)(test)
    return test


test_pipeline_never_crashes_and_stays_consistent = _pinned(
    test_pipeline_never_crashes_and_stays_consistent
)


@st.composite
def near_coincident(draw):
    """A few map points at national grid coordinates, each with neighbours a few ulps to a few
    millimetres away (single, collinear or scattered), plus some ordinary points."""
    base = np.array([draw(st.floats(100000.0, 650000.0)), draw(st.floats(10000.0, 1200000.0))])
    pts = [base]
    for _ in range(draw(st.integers(1, 4))):
        step = draw(st.sampled_from([0.0, 1e-10, 1e-9, 1e-6, 4e-4, 1e-3, 2e-3]))
        ulps = draw(st.integers(0, 3))
        d = np.array([draw(st.integers(-2, 2)), draw(st.integers(-2, 2))], dtype=float)
        p = base + d * step
        for _ in range(ulps):
            p = np.nextafter(p, np.inf)
        pts.append(p)
    for _ in range(draw(st.integers(0, 6))):
        pts.append(base + [draw(st.floats(-300, 300)), draw(st.floats(-300, 300))])
    return np.unique(np.array(pts), axis=0)


@settings(max_examples=200, deadline=None)
@given(pts=near_coincident())
@example(pts=np.array([[_X, _Y], [_NX, _Y]]))
@example(pts=np.array([[_X, _Y], [_NX, _Y], [_X, _NY]]))
@example(pts=np.array([[_X, _Y], [_X + 1e-10, _Y], [_X + 2e-10, _Y], [_X + 100, _Y]]))
@example(pts=np.array([[_X, _Y], [_X + 1e-3, _Y], [_X + 1.5e-3, _Y], [_X, _Y + 5e-4]]))
# found by this test: four points a millimetre apart, nearly on one circle, for which GEOS drew
# overlapping cells (their areas summed to 1.125 times the study area's)
@example(
    pts=np.array(
        [
            [100000.0, 100000.0],
            [100000.00000000004, 99999.99800000005],
            [100000.00000000004, 99999.99900000004],
            [100000.001, 100000.0],
        ]
    )
)
@example(
    pts=np.array(
        [
            [241196.29422971472, 137453.46437473776],
            [241196.29622959552, 137453.46437473776],
            [241196.29622971473, 137453.46437473776],
            [241196.29622971473, 137513.63899627604],
            [241196.29622971482, 137453.46837473783],
            [241196.30022971478, 137453.46837473780],
        ]
    )
)
def test_catchments_of_near_coincident_points_tile_the_study_area(pts):
    area = shapely.box(*(pts.min(axis=0) - 200), *(pts.max(axis=0) + 200))
    got = catchment_areas(pts, area)
    assert got.shape == (len(pts),)
    assert np.isfinite(got).all() and (got >= 0).all()
    # the cells tile the area; GEOS's overlay of a sliver cell (a few ulps to millimetres wide)
    # may lose a little of it: about 2e-4 m2 at most seen over thousands of cases
    assert got.sum() == pytest.approx(area.area, rel=1e-12, abs=1e-2)
