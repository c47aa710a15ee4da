"""Property-based tests of the whole pipeline: any point pattern that ingests must detect,
rank and export without crashing, with valid polygons and consistent numbers."""

from __future__ import annotations

import json

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots import Incidents
from hotspots.detect import detect
from hotspots.export import to_geojson

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
