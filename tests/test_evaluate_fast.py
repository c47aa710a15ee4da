"""The evaluation's shortcuts against the code they replace: the same tables, bit for bit."""

from __future__ import annotations

import pandas as pd

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
    assert list(alone.hotspots["hotspot_id"][:3]) == ["H001", "H002", "H003"]
    assert len(alone.hotspots) == len(want.hotspots)
    assert evaluate._detector_surface(alone, len(inc)) is alone.estimator.surface_
