"""Tests for hotspots.emerging: planted persistent/emerging/former/intermittent spots, noise,
Mann-Kendall by hand, the period rule and degenerate inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import Incidents, ParameterError
from hotspots.emerging import CATEGORIES, classify_hotspots
from hotspots.gistar import GiStarHotspots

X0, Y0 = 400050.0, 300000.0  # multiples of 150 m, so cell (i, j) has centre X0 + 150 (i + 0.5)
SIDE = 8000.0
AREA = shapely.box(X0, Y0, X0 + SIDE, Y0 + SIDE)
MONTHS = pd.date_range("2022-01-01", periods=24, freq="MS")

# planted spots: cell offsets from (X0, Y0) and the months (0-23) in which each is active
ACTIVE = {
    "persistent hot spot": ((10, 10), list(range(24))),
    "emerging hot spot": ((40, 12), list(range(19, 24))),
    "former hot spot": ((12, 40), list(range(8))),
    "intermittent hot spot": ((40, 40), [m for m in range(24) if (m // 3) % 2 == 0]),
}


def _centre(i, j):
    return X0 + 150 * (i + 0.5), Y0 + 150 * (j + 0.5)


def _town(seed, planted=True, n_background=1500, months=MONTHS):
    rng = np.random.default_rng(seed)
    x = list(rng.uniform(X0, X0 + SIDE, n_background))
    y = list(rng.uniform(Y0, Y0 + SIDE, n_background))
    month = list(months[rng.integers(0, len(months), n_background)])
    if planted:
        for (i, j), active in ACTIVE.values():
            cx, cy = _centre(i, j)
            for m in active:
                x += list(rng.normal(cx, 25, 7))
                y += list(rng.normal(cy, 25, 7))
                month += [months[m]] * 7
    return Incidents.from_xy(np.array(x), np.array(y), month=month, study_area=AREA)


def _cell_at(cells, x, y):
    hit = cells.loc[cells.contains(shapely.Point(x, y))]
    assert len(hit) == 1
    return hit.iloc[0]


@pytest.fixture(scope="module")
def planted():
    return classify_hotspots(_town(11))


def test_planted_centres_get_their_category(planted):
    cells = planted.cells
    for category, ((i, j), active) in ACTIVE.items():
        row = _cell_at(cells, *_centre(i, j))
        assert row["category"] == category, (
            category,
            row["n_hot_periods"],
            row["n_hot_recent"],
            row["n_hot_earlier"],
        )
        assert row["n_hot_periods"] >= len(active) - 1
    emerging = _cell_at(cells, *_centre(*ACTIVE["emerging hot spot"][0]))
    former = _cell_at(cells, *_centre(*ACTIVE["former hot spot"][0]))
    # a step up in only the last 5 of 24 periods is a weak monotone trend (p ~ 0.09 here): sign only
    assert emerging["mk_tau"] > 0 and emerging["mk_z"] > 0
    assert former["trend"] == "decreasing" and former["mk_tau"] < 0


def test_background_has_no_pattern(planted):
    cells = planted.cells
    c = cells.geometry.centroid
    ci = np.floor((c.x.to_numpy() - X0) / 150).astype(int)
    cj = np.floor((c.y.to_numpy() - Y0) / 150).astype(int)
    near = np.zeros(len(cells), bool)
    for (i, j), _ in ACTIVE.values():
        near |= (np.abs(ci - i) <= 2) & (np.abs(cj - j) <= 2)
    background = cells.loc[~near, "category"]
    assert (background != "no pattern").sum() <= 2
    assert set(cells["category"]) <= set(CATEGORIES)


def test_areas_params_and_notes(planted):
    areas = planted.areas
    assert set(areas["category"]) >= set(ACTIVE)
    assert (areas["n_cells"] >= 1).all()
    n_by_cat = planted.cells["category"].value_counts()
    for cat, n in areas.groupby("category")["n_cells"].sum().items():
        assert n == n_by_cat[cat]
    assert areas.crs == planted.cells.crs
    p = planted.params
    json.dumps(p)
    assert p["period_months"] == 1 and p["n_periods"] == 24 and p["recent_periods"] == 5
    assert p["rules"]["persistent"] == "hot in >= 20 of 24 periods"
    assert (
        p["rules"]["emerging"]
        == "hot in >= 3 of the last 5 periods and in < 2 of the 19 earlier periods"
    )
    assert any("months" in n and "automatically" in n for n in planted.notes)
    row = planted.cells.iloc[0]
    assert len(row["counts"]) == len(row["z_scores"]) == 24


def test_per_period_gi_star_matches_gistar():
    """One period's z and significance equal GiStarHotspots on that period's incidents alone."""
    inc = _town(11)
    res = classify_hotspots(inc)
    t = 20
    one = GiStarHotspots().fit(inc.subset(inc.frame["month"] == MONTHS[t]))
    ref = one.cells_
    z_ref = dict(zip(ref.geometry.centroid.to_wkt(), ref["gi_z"], strict=True))
    z_ours = dict(
        zip(
            res.cells.geometry.centroid.to_wkt(), (z[t] for z in res.cells["z_scores"]), strict=True
        )
    )
    common = sorted(set(z_ref) & set(z_ours))
    assert len(common) == len(ref)
    np.testing.assert_allclose([z_ours[k] for k in common], [z_ref[k] for k in common], rtol=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_pure_noise_has_no_persistent_or_emerging(seed):
    res = classify_hotspots(_town(seed, planted=False))
    cats = res.cells["category"]
    assert not cats.isin(["persistent hot spot", "emerging hot spot"]).any()
    assert (cats != "no pattern").sum() <= 2


def test_36_months_gives_quarters():
    months = pd.date_range("2020-01-01", periods=36, freq="MS")
    res = classify_hotspots(_town(3, planted=False, n_background=400, months=months))
    assert res.params["period_months"] == 3
    assert res.params["n_periods"] == 12
    assert res.params["recent_periods"] == 2
    assert len(res.cells["counts"].iloc[0]) == 12
    assert any("quarters" in n for n in res.notes)


def test_fewer_than_three_periods_is_a_parameter_error():
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    inc = _town(3, planted=False, n_background=200, months=months)
    with pytest.raises(
        ParameterError, match=r"Only 2 period\(s\) of 12 month\(s\).*period_months=8"
    ):
        classify_hotspots(inc, period_months=12)
    with pytest.raises(ParameterError, match="recent_periods"):
        classify_hotspots(inc, recent_periods=24)


def test_empty_and_missing_months():
    empty = Incidents.from_xy(np.array([]), np.array([]), study_area=AREA)
    res = classify_hotspots(empty)
    assert len(res.cells) == 0 and len(res.areas) == 0
    json.dumps(res.params)
    inc = _town(4, planted=False, n_background=300)
    inc.frame.loc[:9, "month"] = pd.NaT
    res = classify_hotspots(inc)
    assert res.params["n_excluded_no_month"] == 10
    assert any("10 incident(s) without a month" in n for n in res.notes)
    assert sum(sum(c) for c in res.cells["counts"]) == 290


def test_bad_parameters():
    inc = _town(4, planted=False, n_background=50)
    for kw in (
        {"alpha": 0},
        {"cell_size": -1},
        {"persistent_share": 1.5},
        {"null": "x"},
        {"period_months": 0},
    ):
        with pytest.raises(ParameterError):
            classify_hotspots(inc, **kw)


def test_areas_carry_incidents_and_place_names_and_short_data_says_so():
    from hotspots import TooFewPeriodsError

    rng = np.random.default_rng(8)
    n = 400
    x = np.r_[rng.uniform(0, 4000, n), np.full(120, 2000.0)] + 400000
    y = np.r_[rng.uniform(0, 4000, n), np.full(120, 2000.0)] + 300000
    months = [f"2024-{1 + i % 12:02d}-01" for i in range(n + 120)]
    names = [""] * n + ["On or near Market Square"] * 120
    inc = Incidents.from_xy(
        x, y, month=months, location=names, study_area=shapely.box(400000, 300000, 404000, 304000)
    )
    res = classify_hotspots(inc)
    top = res.areas.iloc[0]
    assert top["category"] == "persistent hot spot"
    assert top["incidents"] >= 120 and top["top_location"] == "On or near Market Square"
    short = Incidents.from_xy(x[:50], y[:50], month=["2024-01-01"] * 50, study_area=inc.study_area)
    with pytest.raises(TooFewPeriodsError, match="at least 3"):
        classify_hotspots(short)
