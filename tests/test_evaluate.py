"""Tests for hotspots.evaluate: hit rate, PAI and PEI worked by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
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
    ev = evaluate(area, inc)
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
