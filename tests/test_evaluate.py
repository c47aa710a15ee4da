"""Tests for hotspots.evaluate: hit rate, PAI and PEI worked by hand."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import Incidents
from hotspots.evaluate import concentration_curve, evaluate, grid_concentration_curve


def test_pai_and_pei_by_hand():
    # study area 1 km2; 100 test incidents: 30 in cell A (25 m), 10 in cell B, 60 spread out.
    rng = np.random.default_rng(3)
    x = np.r_[np.full(30, 12.0), np.full(10, 512.0), rng.uniform(100, 900, 60)] + 400000
    y = np.r_[np.full(30, 12.0), np.full(10, 512.0), rng.uniform(100, 450, 60)] + 300000
    # keep the spread incidents out of the two 25 m cells
    inc = Incidents.from_xy(x, y, study_area=shapely.box(400000, 300000, 401000, 301000))
    area = gpd.GeoSeries([shapely.box(400500, 300500, 400525, 300525)], crs=27700)  # cell B only
    ev = evaluate(area, inc, cell_size=25)  # the forecast's own unit: 25 m cells
    assert ev.n_inside == 10 and ev.n_total == 100
    assert ev.hit_rate == pytest.approx(0.10)
    assert ev.coverage == pytest.approx(625 / 1e6)
    assert ev.pai == pytest.approx(0.10 / (625 / 1e6))
    # the best single 25 m cell holds 30 incidents -> PEI = 10/30
    assert ev.best_pai == pytest.approx(0.30 / (625 / 1e6))
    assert ev.pei == pytest.approx(1 / 3)


def test_overlaps_counted_once():
    inc = Incidents.from_xy(
        np.full(4, 400010.0),
        np.full(4, 300010.0),
        study_area=shapely.box(400000, 300000, 400100, 300100),
    )
    a = gpd.GeoSeries(
        [shapely.box(400000, 300000, 400020, 300020), shapely.box(400005, 300005, 400020, 300020)],
        crs=27700,
    )
    ev = evaluate(a, inc)
    assert ev.n_inside == 4 and ev.area_m2 == pytest.approx(400)


def test_concentration_curves():
    inc = Incidents.from_xy(
        np.r_[np.full(9, 400010.0), 400600.0],
        np.r_[np.full(9, 300010.0), 300600.0],
        study_area=shapely.box(400000, 300000, 401000, 301000),
    )
    g = grid_concentration_curve(inc, cell_size=100)
    np.testing.assert_allclose(g["incident_share"], [0, 0.9, 1.0])
    np.testing.assert_allclose(g["area_share"], [0, 0.01, 0.02])
    hot = gpd.GeoDataFrame(
        {"rank": [2, 1], "area_m2": [300.0, 100.0], "share": [0.2, 0.5]}, geometry=[None, None]
    )
    c = concentration_curve(hot, 1000.0)
    np.testing.assert_allclose(c["area_share"], [0, 0.1, 0.4])
    np.testing.assert_allclose(c["incident_share"], [0, 0.5, 0.7])


def test_holdout_on_demo(demo_csv):
    from hotspots.evaluate import holdout
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    table = holdout(inc, "2025-10", methods=("kde", "dbscan"))
    assert list(table["method"]) == ["kde", "dbscan"]
    # planted chronic hot spots persist, so hot spots from Jan-Sep catch far more than their area
    assert (table["pai"] > 5).all()
    assert ((table["pei"] > 0) & (table["pei"] <= 1.0 + 1e-9)).all()
    assert (table["n_total"] == (inc.frame["month"] >= "2025-10-01").sum()).all()


def test_split_needs_both_periods(demo_csv):
    from hotspots import ParameterError
    from hotspots.evaluate import split_by_month
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    with pytest.raises(ParameterError, match="2025-01 to 2025-12"):
        split_by_month(inc, "2030-01")


def test_displacement_wdq_by_hand():
    from hotspots.evaluate import displacement

    # response: 100 m square at the origin; buffer 100 m around it; control: the rest
    def pts(x, y, n, month):
        return [x] * n, [y] * n, [month] * n

    parts = [
        pts(50, 50, 20, "2024-01-01"),  # Rb = 20
        pts(50, 50, 8, "2024-04-01"),  # Ra = 8
        pts(150, 50, 10, "2024-01-01"),  # Db = 10 (inside the 100 m buffer)
        pts(150, 50, 12, "2024-04-01"),  # Da = 12
        pts(800, 800, 100, "2024-01-01"),  # Cb = 100
        pts(800, 800, 100, "2024-04-01"),  # Ca = 100
    ]
    x = np.concatenate([p[0] for p in parts]) + 400000.0
    y = np.concatenate([p[1] for p in parts]) + 300000.0
    m = np.concatenate([p[2] for p in parts])
    inc = Incidents.from_xy(
        x, y, month=m, study_area=shapely.box(400000 - 500, 300000 - 500, 401500, 301500)
    )
    r = shapely.box(400000, 300000, 400100, 300100)
    d = displacement(inc, r, before=("2024-01", "2024-02"), after=("2024-04", "2024-05"))
    assert (d.Rb, d.Ra, d.Db, d.Da, d.Cb, d.Ca) == (20, 8, 10, 12, 100, 100)
    assert d.gross_effect == 12
    assert d.net_effect == pytest.approx(0.20 - 0.08)
    # WDQ = (0.12 - 0.10) / (0.08 - 0.20) = -0.1667: some displacement, net benefit remains
    assert d.wdq == pytest.approx((0.12 - 0.10) / (0.08 - 0.20))
    assert d.total_net_effect == pytest.approx((20 - 8) + (10 - 12))
    assert "net benefit remains" in d.interpretation


def test_holdout_uses_given_parameters(demo_csv):
    from hotspots.evaluate import holdout
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    auto = holdout(inc, "2025-10", methods=("kde",))
    wide = holdout(inc, "2025-10", methods=("kde",), params={"kde": {"coverage": 0.05}})
    assert wide.loc[0, "parameters"] == {"coverage": 0.05} and auto.loc[0, "parameters"] == {}
    assert wide.loc[0, "coverage"] > auto.loc[0, "coverage"]


# --------------------------------------------------------------------------------------------
# Fault 4: PEI on the forecast's own unit


def _at(points, x0=400000.0, y0=300000.0):
    """Incident coordinates from ((x, y, n), ...) offsets in metres: n incidents stacked at x, y."""
    x = np.concatenate([np.full(n, x0 + px) for px, _py, n in points])
    y = np.concatenate([np.full(n, y0 + py) for _px, py, n in points])
    return x, y


def test_pei_on_the_forecast_cells_by_hand():
    # 100 m cells; test incidents 10 in cell A, 8 in B, 5 in C, 2 in D (25 in all), 1 km2 study area
    x, y = _at([(50, 50, 10), (250, 50, 8), (450, 50, 5), (650, 50, 2)])
    inc = Incidents.from_xy(x, y, study_area=shapely.box(400000, 300000, 401000, 301000))
    cells = gpd.GeoSeries(
        [shapely.box(400400, 300000, 400500, 300100), shapely.box(400600, 300000, 400700, 300100)],
        crs=27700,
    )  # the forecast: cells C and D
    ev = evaluate(cells, inc, cell_size=100)
    assert (ev.n_inside, ev.n_total) == (7, 25)
    assert ev.coverage == pytest.approx(0.02)
    assert ev.hit_rate == pytest.approx(7 / 25)
    assert ev.pai == pytest.approx((7 / 25) / 0.02)  # 14
    # the best two 100 m cells are A and B: 18 incidents, PAI* = 0.72 / 0.02 = 36
    assert ev.best_hit_rate == pytest.approx(18 / 25)
    assert ev.best_pai == pytest.approx(36.0)
    assert ev.pei == pytest.approx(7 / 18)
    assert ev.pei == pytest.approx(ev.pai / ev.best_pai)
    assert ev.unit == "100 m cells"
    # on 25 m cells (the old fixed unit) the best 32 cells hold every incident, so PEI is the
    # hit rate exactly: the fault this replaces
    fine = evaluate(cells, inc, cell_size=25)
    assert fine.best_hit_rate == 1.0 and fine.pei == pytest.approx(fine.hit_rate)
    assert ev.pei != pytest.approx(ev.hit_rate)


def test_pei_of_patrol_discs_by_hand():
    from hotspots.evaluate import best_disc_hits

    # four stacked map points 1 km apart: 12, 6, 3 and 1 test incidents
    x, y = _at([(0, 0, 12), (1000, 0, 6), (2000, 0, 3), (3000, 0, 1)])
    inc = Incidents.from_xy(x, y, study_area=shapely.box(399000, 299000, 404000, 301000))
    np.testing.assert_allclose(best_disc_hits(inc.xy, 3, radius_m=75), [12, 6, 3])
    # two 150 m patrol discs on the two quietest points
    discs = gpd.GeoDataFrame(
        {"rank": [1, 2], "radius_m": [75.0, 75.0]},
        geometry=[
            shapely.Point(402000, 300000).buffer(75),
            shapely.Point(403000, 300000).buffer(75),
        ],
        crs=27700,
    )
    ev = evaluate(discs, inc)  # the radius_m column makes PEI's unit a 150 m disc
    assert ev.unit == "150 m discs"
    assert (ev.n_inside, ev.n_total) == (4, 22)
    area = 2 * discs.geometry.iloc[0].area
    assert ev.coverage == pytest.approx(area / 10e6)
    assert ev.pai == pytest.approx((4 / 22) / (area / 10e6))
    # the best two discs (same area) catch 12 + 6 = 18: PEI = 4 / 18, not the hit rate 4 / 22
    assert ev.best_hit_rate == pytest.approx(18 / 22, rel=1e-3)
    assert ev.pei == pytest.approx(4 / 18, rel=1e-3)


def test_best_discs_catch_each_incident_once():
    from hotspots.evaluate import best_disc_hits

    # a row of points 50 m apart, 5 incidents each: one 150 m disc catches 3 points (15), the
    # next the 2 points left on one side, then 1, then nothing is left
    x, y = _at([(50 * i, 0, 5) for i in range(6)])
    got = best_disc_hits(np.column_stack([x, y]), 5, radius_m=75)
    assert got.sum() == 30
    np.testing.assert_allclose(got, [15, 15, 0, 0, 0])


# --------------------------------------------------------------------------------------------
# Fault 5: curves over coverage, equal coverage


def test_coverage_curve_ties_and_partial_units_by_hand():
    from hotspots.evaluate import cell_ranking, coverage_curve, read_coverage

    # four 100 m cells scored 5, 3, 3, 1 (two tied); a 1 km2 study area, so each cell is 1 %
    study = shapely.box(0, 0, 1000, 1000)
    rk = cell_ranking(
        "test",
        np.array([[0, 0], [1, 0], [2, 0], [3, 0]]),
        np.array([5.0, 3.0, 3.0, 1.0]),
        100,
        study,
    )
    # 10 test incidents: 4 in the first cell, 2 in the second, none in the third, 1 in the fourth,
    # 3 in a cell of no unit
    x, y = _at([(50, 50, 4), (150, 50, 2), (350, 50, 1), (950, 950, 3)], 0.0, 0.0)
    xy = np.column_stack([x, y])
    curve = coverage_curve(rk, xy, study.area)
    # the tied cells are one block
    np.testing.assert_allclose(curve["coverage"], [0, 0.01, 0.03, 0.04])
    np.testing.assert_allclose(curve["hits"], [0, 4, 6, 7])
    np.testing.assert_allclose(curve["pai"].iloc[1:], [40, 20, 17.5])
    got = read_coverage(rk, curve, xy, study.area, (0.005, 0.02, 0.05))
    # 0.5 %: half the first cell, credited half its incidents
    assert got.loc[0, "hit_rate"] == pytest.approx(0.2) and got.loc[0, "pai"] == pytest.approx(40)
    # 2 %: the first cell and half of the tied block (2 incidents in 2 cells): 4 + 1 = 5
    assert got.loc[1, "hits"] == pytest.approx(5) and got.loc[1, "units"] == pytest.approx(2)
    assert got.loc[1, "hit_rate"] == pytest.approx(0.5) and got.loc[1, "pai"] == pytest.approx(25)
    # the best two 100 m cells hold 4 + 3: PEI = 5 / 7
    assert got.loc[1, "best_hit_rate"] == pytest.approx(0.7)
    assert got.loc[1, "pei"] == pytest.approx(5 / 7)
    # 5 %: the four cells cover 4 %; not read
    assert not got.loc[2, "reached"] and np.isnan(got.loc[2, "hit_rate"])
    assert got.loc[0, "reached"] and got.loc[1, "reached"]


def test_polygon_ranking_counts_overlaps_once():
    from hotspots.evaluate import coverage_curve, polygon_ranking

    study = shapely.box(0, 0, 1000, 1000)
    big = shapely.box(0, 0, 200, 100)  # scored higher
    small = shapely.box(100, 0, 300, 100)  # half under the big one
    rk = polygon_ranking("t", [small, big], np.array([1.0, 2.0]), study)
    np.testing.assert_allclose(rk.area_m2, [20000, 10000])  # big first, then small's own half
    x, y = _at([(150, 50, 3), (250, 50, 2)], 0.0, 0.0)  # 3 in the overlap, 2 in small only
    curve = coverage_curve(rk, np.column_stack([x, y]), study.area)
    np.testing.assert_allclose(curve["hits"], [0, 3, 5])


def test_baselines_by_hand():
    from hotspots.evaluate import kde_peak_discs, point_count_discs
    from hotspots.kde import arcgis_bandwidth

    # map points: 9 incidents at A, 7 at B (100 m from A), 5 at C (1 km away), 2 at D
    x, y = _at([(0, 0, 9), (100, 0, 7), (1000, 0, 5), (0, 1000, 2)])
    inc = Incidents.from_xy(x, y, study_area=shapely.box(399500, 299500, 401500, 301500))
    d = point_count_discs(inc, 3)
    # B is closer than 150 m to A, so the discs go to A, C and D
    np.testing.assert_allclose(d["centre_x"] - 400000, [0, 1000, 0])
    np.testing.assert_allclose(d["centre_y"] - 300000, [0, 0, 1000])
    np.testing.assert_allclose(d["score"], [9, 5, 2])
    assert list(d["rank"]) == [1, 2, 3] and (d["radius_m"] == 75).all()
    # the 150 m KDE's highest cell lies between A and B, nearer A (weights 9 and 7)
    k = kde_peak_discs(inc, 2)
    assert k.attrs["params"]["bandwidth_m"] == 150 and k.attrs["params"]["cell_size_m"] == 25
    assert 400000 <= k["centre_x"].iloc[0] <= 400050 and abs(k["centre_y"].iloc[0] - 300000) <= 25
    assert k["centre_x"].iloc[1] == pytest.approx(401000, abs=12.5)  # a cell next to C
    a = kde_peak_discs(inc, 1, bandwidth_rule="arcgis")
    assert a.attrs["params"]["bandwidth_m"] == pytest.approx(arcgis_bandwidth(x, y))
    assert a.attrs["params"]["cell_size_m"] == pytest.approx(1000 / 250)  # shorter side / 250


def test_every_method_read_at_equal_coverage(demo_csv):
    from hotspots.evaluate import compare_forecasts, split_by_month, training_study_area
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    train, test = split_by_month(inc, "2025-10")
    train = training_study_area(train)
    table, curves, _notes = compare_forecasts(train, test, coverages=(0.005, 0.01))
    at = table[table["at"] == "coverage"]
    assert set(at["forecast"]) >= {"kde", "dbscan", "hdbscan", "gistar", "patrol_areas"}
    assert at["reached"].all()
    # every forecast is read at the same share of the same study area
    np.testing.assert_allclose(at["coverage"], at["target"], rtol=1e-9)
    assert (at["n_test"] == len(test)).all()
    # a reference computation for KDE at 1 %: its densest 25 m cells, counted directly
    from hotspots.detect import detect

    est = detect(train, "kde").estimator
    cx, cy, v = est.surface_.cells()
    inside = shapely.intersects_xy(train.study_area, cx, cy)
    cx, cy, v = cx[inside], cy[inside], v[inside]
    k = 0.01 * train.study_area_m2 / 625
    top = np.argsort(-v, kind="stable")[: int(np.ceil(k))]
    keys = {
        (round((a - 12.5) / 25), round((b - 12.5) / 25))
        for a, b in zip(cx[top], cy[top], strict=True)
    }
    tij = np.floor(test.xy / 25).astype(int)
    caught = sum((i, j) in keys for i, j in tij)
    row = at[(at["forecast"] == "kde") & (at["label"] == "1%")].iloc[0]
    assert row["units"] == pytest.approx(k)
    # the reading credits the last, partly used cell pro rata: between the whole cells' counts
    last = top[-1]
    in_last = sum(
        (i, j) == (round((cx[last] - 12.5) / 25), round((cy[last] - 12.5) / 25)) for i, j in tij
    )
    assert caught - in_last <= row["hits"] <= caught
    # patrol discs and the baselines are read at equal numbers of discs
    discs = table[table["at"] == "discs"]
    assert set(discs["forecast"]) == {
        "patrol_areas",
        "forecast_discs",
        "naive_points",
        "naive_kde_150m",
        "arcgis_kde",
    }
    top20 = discs[discs["label"] == "top 20"]
    assert (top20["units"] == 20).all() and top20["reached"].all()
    assert ((top20["pei"] > 0) & (top20["pei"] <= 1.0 + 1e-9)).all()
    # curves go up with coverage
    kde = curves[(curves["forecast"] == "kde") & (curves["axis"] == "coverage")]
    assert np.all(np.diff(kde["hit_rate"].to_numpy()) >= -1e-12)


def test_study_area_from_training_months_only():
    from hotspots.evaluate import rolling_evaluation
    from hotspots.ingest import default_study_area

    rng = np.random.default_rng(5)
    # Jan-Mar: incidents in a 1 km square; April (the test month): some there, some 5 km east
    n = 300
    x = np.r_[rng.uniform(0, 1000, n), rng.uniform(0, 1000, 40), rng.uniform(5000, 5500, 60)]
    y = np.r_[rng.uniform(0, 1000, n), rng.uniform(0, 1000, 40), rng.uniform(0, 500, 60)]
    month = np.r_[rng.choice(["2024-01-01", "2024-02-01", "2024-03-01"], n), ["2024-04-01"] * 100]
    inc = Incidents.from_xy(x + 400000, y + 300000, month=month)
    res = rolling_evaluation(inc, origins=1, methods=("kde",), coverages=(0.01,), disc_counts=(5,))
    assert res.origins == ("2024-04",)
    expected = default_study_area(x[:n] + 400000, y[:n] + 300000)
    assert res.table["study_area_km2"].iloc[0] == pytest.approx(expected.area / 1e6)
    assert expected.area < 1.2e6  # drawn round the training square, not round the test month
    assert (res.table["n_test"] == 100).all()  # the 60 far incidents are misses, not dropped
    out = int((~shapely.intersects_xy(expected, x[n:] + 400000, y[n:] + 300000)).sum())
    assert out >= 60  # every far incident, and any near one beyond the training area's edge
    assert any(f"{out} of 100 test incidents lie outside the study area" in t for t in res.notes)
    # a boundary the user gave is kept
    given = dataclasses.replace(
        inc.report, choices={**inc.report.choices, "study_area_rule": "given"}
    )
    inc = dataclasses.replace(
        inc, study_area=shapely.box(400000, 300000, 406000, 301000), report=given
    )
    res = rolling_evaluation(inc, origins=1, methods=("kde",), coverages=(0.01,), disc_counts=(5,))
    assert res.table["study_area_km2"].iloc[0] == pytest.approx(6.0)


# --------------------------------------------------------------------------------------------
# Fault 6: months missing from the data are not months without violence


def _police_uk_month(path, month, n_violence, n_other, seed):
    rng = np.random.default_rng(seed)
    header = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context"
    )
    lines = [header]
    kinds = ["Violence and sexual offences"] * n_violence + ["Burglary"] * n_other
    for i, kind in enumerate(kinds):
        # half the violence on one map point, the rest spread over a 3 km square
        if kind.startswith("Violence") and i % 2 == 0:
            lon, lat = -2.9800, 53.4000
        else:
            lon, lat = -3.00 + rng.uniform(0, 0.045), 53.39 + rng.uniform(0, 0.027)
        lines.append(
            f"id{month}{i},{month},Test Police,Test Police,{lon:.6f},{lat:.6f},On or near X,"
            f"E01000001,Test 001A,{kind},,"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_two_julys_a_year_apart_are_two_periods(tmp_path):
    from hotspots import TooFewPeriodsError
    from hotspots.detect import detect
    from hotspots.emerging import classify_hotspots
    from hotspots.evaluate import rolling_evaluation
    from hotspots.ingest import read_incidents

    _police_uk_month(tmp_path / "2023-07-test-street.csv", "2023-07", 60, 20, 1)
    _police_uk_month(tmp_path / "2024-07-test-street.csv", "2024-07", 60, 20, 2)
    inc = read_incidents(tmp_path)
    assert [f"{m:%Y-%m}" for m in inc.months] == ["2023-07", "2024-07"]
    assert len(inc.missing_months) == 11 and f"{inc.missing_months[0]:%Y-%m}" == "2023-08"
    assert "11 month(s)" in inc.missing_months_note
    # monthly profiles: two months, so too few periods to class (not "intermittent", 2 of 13)
    res = detect(inc, "kde")
    top = res.hotspots.iloc[0]
    assert top["n_months"] == 2 and len(top["monthly_counts"]) == 2
    assert top["months_active"] == 2 and top["temporal_class"] == "unknown"
    assert any("missing data" in n for n in res.notes)
    # change over time: 2 periods, not 13
    with pytest.raises(TooFewPeriodsError, match=r"Only 2 period\(s\) of 1 month\(s\) in 2 month"):
        classify_hotspots(inc)
    # hold-out: the one test month is 2024-07, trained on 2023-07
    ev = rolling_evaluation(inc, methods=("kde",), coverages=(0.01,), disc_counts=(5,))
    assert ev.origins == ("2024-07",)
    assert any("missing data" in n for n in ev.notes)


def test_a_month_without_violence_is_not_missing(tmp_path):
    from hotspots.detect import detect
    from hotspots.ingest import read_incidents

    _police_uk_month(tmp_path / "2023-07-test-street.csv", "2023-07", 60, 20, 1)
    _police_uk_month(tmp_path / "2023-08-test-street.csv", "2023-08", 0, 30, 3)  # burglary only
    _police_uk_month(tmp_path / "2023-10-test-street.csv", "2023-10", 60, 20, 2)
    inc = read_incidents(tmp_path)
    assert [f"{m:%Y-%m}" for m in inc.months] == ["2023-07", "2023-08", "2023-10"]
    assert [f"{m:%Y-%m}" for m in inc.missing_months] == ["2023-09"]
    top = detect(inc, "kde").hotspots.iloc[0]
    assert top["monthly_counts"][1] == 0 and top["n_months"] == 3 and top["months_active"] == 2
    # hold-out periods are observed months: 2023-09 (missing) is never a test month, and 2023-08
    # (observed, no violence) has nothing to score
    from hotspots.evaluate import rolling_evaluation

    ev = rolling_evaluation(inc, origins=2, methods=("kde",), coverages=(0.01,), disc_counts=(5,))
    assert ev.origins == ("2023-10",)
    assert any("Origin 2023-08: no test incident" in n for n in ev.notes)


# --------------------------------------------------------------------------------------------
# The user sees the evidence (command line)


def test_cli_evaluate_writes_table_and_curves(demo_csv, tmp_path, capsys):
    from hotspots import cli

    out, png = tmp_path / "eval.csv", tmp_path / "curves.png"
    args = ["evaluate", str(demo_csv), "--origins", "2", "--methods", "kde,dbscan"]
    assert cli.main([*args, "--out", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "2 rolling origin(s) (2025-11, 2025-12)" in text
    assert "At equal coverage" in text and "At equal numbers of 150 m discs" in text
    for label in ("KDE (150 m)", "DBSCAN", "patrol areas", "naive: busiest points"):
        assert label in text
    assert "naive: 150 m KDE peaks" in text and "ArcGIS-rule KDE peaks" in text
    table = pd.read_csv(out)
    assert set(table["origin"]) == {"2025-11", "2025-12", "mean"}
    mean = table[(table["origin"] == "mean") & (table["label"] == "1%")]
    assert set(mean["forecast"]) >= {"kde", "dbscan", "patrol_areas", "arcgis_kde"}
    # the means are the means of the two origins
    kde = table[(table["forecast"] == "kde") & (table["label"] == "1%")]
    per = kde[kde["origin"] != "mean"]["hit_rate"]
    assert kde[kde["origin"] == "mean"]["hit_rate"].iloc[0] == pytest.approx(per.mean())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # bad suffixes are refused before any work
    assert cli.main([*args, "--plot", str(tmp_path / "c.jpg")]) == 2
    assert "--plot must end in .png" in capsys.readouterr().err


def test_cli_detect_says_when_nothing_is_significant(tmp_path, capsys):
    from hotspots import cli

    # 60 incidents at random over a 5 km square: no place stands out
    rng = np.random.default_rng(11)
    lon = -3.0 + rng.uniform(0, 0.075, 60)
    lat = 53.4 + rng.uniform(0, 0.045, 60)
    csv = tmp_path / "random.csv"
    csv.write_text(
        "longitude,latitude,date\n"
        + "".join(
            f"{a:.6f},{b:.6f},2024-0{1 + i % 6}-15\n"
            for i, (a, b) in enumerate(zip(lon, lat, strict=True))
        ),
        encoding="utf-8",
    )
    out = tmp_path / "hot.geojson"
    assert cli.main(["--quiet", "detect", str(csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "passed the significance test" in err and "--study-area" in err and "--all" in err
    assert not out.exists()
    # with --all every hot spot is written
    assert cli.main(["--quiet", "detect", str(csv), "--out", str(out), "--all"]) == 0
    assert out.exists()


@pytest.mark.shared_data
def test_cli_evaluate_runs_without_flags_on_police_uk(shared_data, capsys):
    from hotspots import cli

    folder = shared_data / "police_uk" / "city-of-london_2024-01_to_2025-12"
    assert cli.main(["evaluate", str(folder)]) == 0
    text = capsys.readouterr().out
    # 24 months: six rolling origins, the last six months
    assert "6 rolling origin(s) (2025-07, 2025-08, 2025-09, 2025-10, 2025-11, 2025-12)" in text
    for label in ("KDE (150 m)", "DBSCAN", "HDBSCAN", "Gi*", "patrol areas"):
        assert label in text
    assert "ArcGIS-rule KDE peaks" in text and "Best at 1%" in text


# --------------------------------------------------------------------------------------------
# The evaluation's faster steps give the answers of the plain ones


def _spaced_one_by_one(xy: np.ndarray, k: int, separation: float) -> list[int]:
    """The rule of ``evaluate._spaced`` read literally: every earlier point taken is checked."""
    taken: list[int] = []
    for i, (x, y) in enumerate(xy):
        if len(taken) == k:
            break
        if all((xy[t, 0] - x) ** 2 + (xy[t, 1] - y) ** 2 >= separation**2 for t in taken):
            taken.append(i)
    return taken


def test_spaced_discs_are_the_one_by_one_choice():
    from hotspots.evaluate import _spaced

    rng = np.random.default_rng(5)
    # a 25 m lattice (distances of exactly 150 m are not "closer") and scattered points, long
    # enough for several blocks of the k-d tree's first pass
    i, j = np.meshgrid(np.arange(120), np.arange(120))
    lattice = np.column_stack([i.ravel(), j.ravel()]) * 25.0 + 12.5 + 400000
    scattered = rng.uniform(0, 3000, (9000, 2)) + 400000
    for xy in (lattice[rng.permutation(len(lattice))], scattered):
        for k in (1, 50, 10_000):
            got = _spaced(xy, k, 150.0).tolist()
            assert got == _spaced_one_by_one(xy, k, 150.0)
    assert _spaced(lattice, 3, 0.0).tolist() == [0, 1, 2]
    assert _spaced(lattice[:0], 3, 150.0).tolist() == []


def test_cells_in_the_study_area_are_the_point_tests():
    from hotspots.evaluate import _centres_meeting

    # a concave area with a hole, and a lattice of 25 m cell centres over and around it
    area = shapely.Polygon(
        [(0, 0), (3000, 0), (3000, 3000), (1500, 1200), (0, 3000)],
        holes=[[(600, 300), (900, 300), (900, 600), (600, 600)]],
    )
    i, j = np.meshgrid(np.arange(-20, 140), np.arange(-20, 140))
    x, y = (i.ravel() + 0.5) * 25.0, (j.ravel() + 0.5) * 25.0
    got = _centres_meeting(area, x, y, 25.0)
    np.testing.assert_array_equal(got, shapely.intersects_xy(area, x, y))
    # centres on the boundary meet it: the hole's edge at x = 612.5 lies on no centre, but a
    # lattice shifted by half a cell puts centres on the outer edge y = 0
    xs, ys = i.ravel() * 25.0, j.ravel() * 25.0
    on_edge = _centres_meeting(area, xs, ys, 25.0)
    np.testing.assert_array_equal(on_edge, shapely.intersects_xy(area, xs, ys))
    assert on_edge[(ys == 0) & (xs >= 0) & (xs <= 3000)].all()


def test_naive_kde_uses_the_detectors_surface_only_when_it_is_the_same():
    from hotspots.detect import detect
    from hotspots.evaluate import _detector_surface, kde_peak_discs

    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 300, 400), np.full(40, 200.0)] + 400000
    y = np.r_[rng.normal(0, 300, 400), np.full(40, -100.0)] + 300000
    inc = Incidents.from_xy(x, y)
    result = detect(inc, "kde")
    surface = _detector_surface(result, len(inc))
    assert surface is result.estimator.surface_
    made = kde_peak_discs(inc, 30)
    reused = kde_peak_discs(inc, 30, surface=surface)
    pd.testing.assert_frame_equal(
        made.drop(columns="geometry"), reused.drop(columns="geometry"), check_exact=True
    )
    # another bandwidth, or another set of incidents: not the baseline's surface
    assert _detector_surface(detect(inc, "kde", bandwidth=200.0), len(inc)) is None
    assert _detector_surface(result, len(inc) - 1) is None


def test_training_study_area_leaves_the_rejected_rows_unbuilt(tmp_path):
    from hotspots.evaluate import training_study_area
    from hotspots.incidents import DeferredRejected, deferred_or_table
    from hotspots.ingest import filter_incidents, read_incidents

    rows = ["Month,Longitude,Latitude,Crime type"]
    rows += [f"2024-0{1 + i % 3},-2.98{i % 10},53.40{i % 7},Robbery" for i in range(60)]
    rows += [f"2024-0{1 + i % 3},-2.97{i % 10},53.41{i % 7},Burglary" for i in range(30)]
    path = tmp_path / "x.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    robbery = filter_incidents(read_incidents(path, crime_types="all"), crime_types=["Robbery"])
    assert isinstance(deferred_or_table(robbery.report), DeferredRejected)
    trained = training_study_area(robbery)
    assert isinstance(deferred_or_table(trained.report), DeferredRejected)
    # read when asked: the 30 burglaries filtered out
    assert trained.report.reason_counts() == {"crime type not selected": 30}
