"""Tests for hotspots.profile: hand-computed counts, PAI, significance, ranking and timing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from hotspots import Incidents, ParameterError
from hotspots.profile import PATROL_UNIT_M2, assign_incidents, peak_window, rank_hotspots


def _square(x0, y0, side):
    return shapely.box(x0, y0, x0 + side, y0 + side)


@pytest.fixture
def two_spots():
    """Study area 1 km x 1 km. Spot A: 100 m square with 20 incidents stacked on 2 points.
    Spot B: 400 m square with 40 spread incidents. 40 background incidents elsewhere."""
    rng = np.random.default_rng(1)
    ax = np.r_[np.full(12, 50.0), np.full(8, 60.0)]
    ay = np.r_[np.full(12, 50.0), np.full(8, 70.0)]
    bx = rng.uniform(510, 890, 40)
    by = rng.uniform(510, 890, 40)
    cx = rng.uniform(150, 450, 40)
    cy = rng.uniform(600, 950, 40)
    x = np.r_[ax, bx, cx] + 400000
    y = np.r_[ay, by, cy] + 300000
    months = np.r_[
        ["2024-01-01"] * 10, ["2024-06-01"] * 10, [f"2024-{i % 6 + 1:02d}-01" for i in range(80)]
    ]
    inc = Incidents.from_xy(x, y, month=months, study_area=_square(400000, 300000, 1000))
    hot = gpd.GeoDataFrame(
        {"method": ["test", "test"], "peak_density": [np.nan, np.nan]},
        geometry=[_square(400500, 300500, 400), _square(400000, 300000, 100)],
        crs=27700,
    )
    return inc, hot


def test_counts_share_area_pai_by_hand(two_spots):
    inc, hot = two_spots
    ranked = rank_hotspots(hot, inc)
    a = ranked.set_index("area_m2").loc[100 * 100]
    b = ranked.set_index("area_m2").loc[400 * 400]
    assert a["incidents"] == 20 and b["incidents"] == 40
    assert a["share"] == pytest.approx(20 / 100)
    # PAI = share of incidents / share of area
    assert a["pai"] == pytest.approx((20 / 100) / (10_000 / 1_000_000))
    assert b["pai"] == pytest.approx((40 / 100) / (160_000 / 1_000_000))
    assert a["density_per_km2"] == pytest.approx(20 / 0.01)
    # intensity floors the area at one patrol unit (150 m x 150 m)
    assert a["intensity"] == pytest.approx(20 / (PATROL_UNIT_M2 / 1e6))
    assert b["intensity"] == pytest.approx(40 / 0.16)


def test_small_intense_outranks_large_diffuse(two_spots):
    inc, hot = two_spots
    ranked = rank_hotspots(hot, inc)
    assert list(ranked["area_m2"]) == [10_000, 160_000]
    assert list(ranked["hotspot_id"]) == ["H001", "H002"]
    by_count = rank_hotspots(hot, inc, order="count")
    assert list(by_count["incidents"]) == [40, 20]


def test_significance_micro_place_disc_by_hand(two_spots):
    from scipy import stats

    inc, hot = two_spots
    ranked = rank_hotspots(hot, inc).set_index("area_m2")
    # spot A: all 20 incidents lie within 75 m of each other; N = 100 over 1 km2
    lam = 99 * np.pi * 75**2 / 1e6
    expected = min(1.0, 100 * stats.poisson.sf(20 - 2, lam))  # N * P(1 + Poisson(lam) >= 20)
    assert ranked.loc[10_000, "p_value"] == pytest.approx(expected, rel=1e-9)
    assert bool(ranked.loc[10_000, "significant"])
    # spot B: 40 incidents spread over 400 m x 400 m is far less extreme
    assert ranked.loc[160_000, "p_value"] > 1e6 * ranked.loc[10_000, "p_value"]


def test_monthly_counts_and_classes(two_spots):
    inc, hot = two_spots
    ranked = rank_hotspots(hot, inc).set_index("area_m2")
    a = ranked.loc[10_000]
    assert a["monthly_counts"] == [10, 0, 0, 0, 0, 10]
    assert a["first_month"] == "2024-01" and a["last_month"] == "2024-06"
    assert a["months_active"] == 2 and a["n_months"] == 6
    assert a["temporal_class"] == "intermittent"
    assert a["hour_counts"] is None and a["peak_window"] == "" and not a["has_time"]


def test_harm_order_needs_weights(two_spots):
    inc, hot = two_spots
    with pytest.raises(ParameterError, match="weights"):
        rank_hotspots(hot, inc, order="harm")


def test_harm_sums_weights():
    x = np.array([0.0, 1.0, 500.0]) + 400000
    y = np.array([0.0, 1.0, 500.0]) + 300000
    inc = Incidents.from_xy(x, y, weight=[10.0, 5.0, 1.0], study_area=_square(400000, 300000, 1000))
    hot = gpd.GeoDataFrame(geometry=[_square(399990, 299990, 20)], crs=27700)
    ranked = rank_hotspots(hot, inc, order="harm")
    assert ranked.loc[0, "harm"] == pytest.approx(15.0)


def test_peak_window_wraps_midnight():
    h = np.zeros(24)
    h[[22, 23, 0, 1]] = [10, 10, 10, 10]
    h[12] = 2
    assert peak_window(h) == (22, 1)  # 3 hours hold 30 of 42 >= half; earliest start wins
    start, end = peak_window(h, share=0.9)
    assert (start, end) == (22, 2)
    assert peak_window(np.zeros(24)) is None


def test_hour_and_weekday_profile():
    # 30 incidents Friday/Saturday 22:00-01:59, 5 on Monday noon
    dts = (
        ["2024-03-01 22:30"] * 10  # Fri
        + ["2024-03-02 23:10"] * 10  # Sat
        + ["2024-03-03 00:40"] * 10  # Sun early hours
        + ["2024-03-04 12:00"] * 5  # Mon
    )
    n = len(dts)
    inc = Incidents.from_xy(
        np.full(n, 400050.0),
        np.full(n, 300050.0),
        datetime=dts,
        study_area=_square(400000, 300000, 1000),
    )
    hot = gpd.GeoDataFrame(geometry=[_square(400000, 300000, 100)], crs=27700)
    row = rank_hotspots(hot, inc).iloc[0]
    assert row["has_time"]
    assert (
        row["hour_counts"][22] == 10 and row["hour_counts"][0] == 10 and row["hour_counts"][12] == 5
    )
    assert row["weekday_counts"] == [5, 0, 0, 0, 10, 10, 10]
    assert row["night_share"] == pytest.approx(30 / 35)
    # the shortest window holding half (17.5 of 35): two hours, 22:00-00:00, hold 20
    assert (row["peak_start_hour"], row["peak_end_hour"]) == (22, 0)
    assert row["peak_days"] == [4, 5]
    assert row["peak_window"] == "Fri-Sat 22:00-00:00"


def test_assign_incidents_handles_stacks_and_boundaries():
    x = np.r_[np.full(1000, 5.0), 10.0, 50.0] + 400000
    y = np.r_[np.full(1000, 5.0), 10.0, 50.0] + 300000
    inc = Incidents.from_xy(x, y)
    polys = np.array([_square(400000, 300000, 10)], dtype=object)
    inc_idx, poly_idx = assign_incidents(polys, inc)
    # the 1000 stacked points and the one on the boundary are inside, the far one is not
    assert len(inc_idx) == 1001 and set(poly_idx) == {0}
    assert 1001 not in set(inc_idx)


def test_empty_inputs():
    inc = Incidents.from_xy(np.array([400000.0]), np.array([300000.0]))
    hot = gpd.GeoDataFrame(geometry=[], crs=27700)
    ranked = rank_hotspots(hot, inc)
    assert len(ranked) == 0 and "rank" in ranked.columns


def test_top_location_is_the_most_frequent_name():
    x = np.full(6, 400050.0)
    y = np.full(6, 300050.0)
    names = [
        "On or near Nightclub",
        "On or near Nightclub",
        "On or near High Street",
        "",
        "On or near Nightclub",
        "On or near High Street",
    ]
    inc = Incidents.from_xy(x, y, location=names, study_area=_square(400000, 300000, 1000))
    hot = gpd.GeoDataFrame(
        geometry=[_square(400000, 300000, 100), _square(400500, 300500, 100)], crs=27700
    )
    ranked = rank_hotspots(hot, inc).set_index("incidents")
    assert ranked.loc[6, "top_location"] == "On or near Nightclub"
    assert ranked.loc[0, "top_location"] == ""


def test_chronic_uses_quarters_for_long_periods():
    from hotspots.profile import period_months

    assert (period_months(12), period_months(36), period_months(240)) == (1, 3, 12)
    # one incident every other month for 10 years: active in half the months, every quarter
    months = [f"{2010 + i // 12}-{i % 12 + 1:02d}-01" for i in range(0, 120, 2)]
    months += ["2010-01-01", "2019-12-01"]  # the data period spans all 120 months
    n = len(months)
    inc = Incidents.from_xy(
        np.full(n, 400050.0),
        np.full(n, 300050.0),
        month=months,
        study_area=_square(400000, 300000, 1000),
    )
    hot = gpd.GeoDataFrame(geometry=[_square(400000, 300000, 100)], crs=27700)
    row = rank_hotspots(hot, inc).iloc[0]
    assert row["n_months"] == 120 and row["months_active"] == 61
    assert row["temporal_class"] == "chronic"
