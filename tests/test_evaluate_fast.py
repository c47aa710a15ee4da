"""The evaluation's shortcuts against the code they replace: the same tables, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from hotspots import evaluate


def test_detectors_fitted_without_ranking_give_the_same_evaluation(demo_csv, monkeypatch):
    """KDE and Gi* are fitted alone (no ranking, no significance test); every reading, curve
    and note equals the evaluation that ran detect() for every method."""
    import hotspots.detect
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    train, test = evaluate.split_by_month(inc, "2025-10")
    train = evaluate.training_study_area(train)
    methods = ("kde", "gistar", "dbscan")
    calls: list[str] = []
    detect = hotspots.detect.detect

    def counted(incidents, method="kde", **kw):
        calls.append(method)
        return detect(incidents, method, **kw)

    monkeypatch.setattr(hotspots.detect, "detect", counted)
    fast = evaluate.compare_forecasts(train, test, methods=methods, coverages=(0.01, 0.02))
    assert calls == ["dbscan"]  # the clusters' ranking reads the ranked intensity
    monkeypatch.setattr(evaluate, "_FIT_ONLY", ())
    slow = evaluate.compare_forecasts(train, test, methods=methods, coverages=(0.01, 0.02))
    assert calls == ["dbscan", "kde", "gistar", "dbscan"]
    pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
    pd.testing.assert_frame_equal(fast[1], slow[1], check_exact=True)
    assert fast[2] == slow[2]
    table = fast[0]
    assert set(table["forecast"]) >= {"kde", "gistar", "dbscan", "patrol_areas", "arcgis_kde"}
    assert table.loc[table["forecast"] == "kde", "hits"].gt(0).all()


def test_a_detect_keyword_takes_the_detect_path(demo_csv):
    """A parameter only detect() takes (here ``order``) is not given to the estimator."""
    from hotspots.detect import detect
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    got = evaluate._fitted(inc, "kde", {"order": "count"})
    want = detect(inc, "kde", order="count")
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.hotspots.drop(columns="geometry")),
        pd.DataFrame(want.hotspots.drop(columns="geometry")),
    )
    alone = evaluate._fitted(inc, "kde", {})
    assert "hotspot_id" not in alone.hotspots  # not ranked
    assert len(alone.hotspots) == len(want.hotspots)
    assert evaluate._detector_surface(alone, len(inc)) is alone.estimator.surface_


def test_patrol_discs_are_the_patrol_areas(demo_csv):
    """The evaluation's patrol discs are make_patrol_areas' areas: same polygons, same order."""
    import shapely

    from hotspots.detect import detect
    from hotspots.forecast import PlaceForecast
    from hotspots.ingest import read_incidents
    from hotspots.patrol import make_patrol_areas

    inc = read_incidents(demo_csv)
    forecast = PlaceForecast().fit(inc)
    areas = make_patrol_areas(inc, detect(inc, "kde").hotspots, forecast=forecast)
    discs = evaluate._patrol_discs(forecast, inc.crs)
    assert 10 < len(discs) == len(areas) <= 100
    assert (areas["hotspot_id"] != "").any()  # some lie in hot spots, some not: both kinds
    assert (areas["hotspot_id"] == "").any()
    assert discs["rank"].tolist() == areas["rank"].tolist() == list(range(1, len(areas) + 1))
    assert (
        shapely.to_wkb(discs.geometry.to_numpy()).tolist()
        == shapely.to_wkb(areas.geometry.to_numpy()).tolist()
    )
    assert (areas["incidents"] >= 3).all()
    a = evaluate.disc_ranking("patrol_areas", areas, inc.study_area)
    b = evaluate.disc_ranking("patrol_areas", discs, inc.study_area)
    np.testing.assert_array_equal(a.score, b.score)
    np.testing.assert_array_equal(a.area_m2, b.area_m2)


def test_hits_are_remembered_for_the_same_points_only():
    """A ranking read again on the same points gives the same hits, on other points theirs."""
    xy = np.array([[10.0, 10.0], [10.0, 10.0], [300.0, 0.0], [1000.0, 1000.0]])
    discs = shapely.buffer(shapely.points([[0.0, 0.0], [300.0, 0.0]]), 75.0)
    rk = evaluate.polygon_ranking(
        "d", discs, np.array([2.0, 1.0]), shapely.box(-500, -500, 2000, 2000), radius_m=75.0
    )
    first = rk.hits(xy)
    np.testing.assert_array_equal(first, [2.0, 1.0])
    first[:] = 0  # a caller changing its copy changes nothing remembered
    np.testing.assert_array_equal(rk.hits(xy.copy()), [2.0, 1.0])
    np.testing.assert_array_equal(rk.hits(xy[2:]), [0.0, 1.0])
    np.testing.assert_array_equal(rk.hits(np.empty((0, 2))), [0.0, 0.0])
