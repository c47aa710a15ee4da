"""The user sees the evidence (streamlit.testing.v1.AppTest, no browser).

- "Check against a later period" shows every method, the patrol areas and the baselines (busiest
  points, 150 m KDE peaks, ArcGIS-rule KDE peaks) at equal coverage and at equal numbers of
  discs, the numbers :func:`hotspots.workflows.evaluate_forecasts` gives (what ``hotspots
  evaluate`` prints);
- when no hot spot passes the significance test the page says so in one line with the way
  forward, instead of an empty map.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hotspots import workflows
from hotspots.demo import ensure_demo_csv
from hotspots_app.detection import nothing_significant
from hotspots_app.holdout import reading_table

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def _run_check(at: AppTest) -> AppTest:
    """Click *Run the check* (the tab fits nothing until asked)."""
    at.button(key="holdout_submit").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_holdout_shows_every_method_beside_the_baselines(app):
    _run_check(_open(app, "Check against a later period"))
    assert not app.error, [e.value for e in app.error]
    coverage = next(d.value for d in app.dataframe if "2%" in d.value.columns)
    discs = next(d.value for d in app.dataframe if "top 10" in d.value.columns)
    # The library's comparison on the same data and split (the demo's last month).
    incidents = workflows.read_inputs([str(ensure_demo_csv())])
    res = workflows.evaluate_forecasts(
        incidents,
        first_test_month="2025-12",
        params={"kde": {"use_weights": False}},
        others=workflows.read_others([str(ensure_demo_csv())], incidents),
    )
    labels = res.params["labels"]
    expected = [labels[f] for f in dict.fromkeys(res.summary["forecast"])]
    assert list(coverage["Forecast"]) == expected
    assert {"naive: busiest points", "naive: 150 m KDE peaks", "ArcGIS-rule KDE peaks"} <= set(
        discs["Forecast"]
    )
    pd.testing.assert_frame_equal(coverage, reading_table(res, "coverage"))
    pd.testing.assert_frame_equal(discs, reading_table(res, "discs"))
    # A cell is the hit rate and PAI of the library's summary.
    s = res.summary.set_index(["forecast", "at", "label"])
    r = s.loc[("patrol_areas", "discs", "top 10")]
    row = discs[discs["Forecast"] == labels["patrol_areas"]].iloc[0]
    assert row["top 10"] == f"{r['hit_rate']:.0%} · {r['pai']:.1f}"
    assert 0 < r["hit_rate"] <= 1 and r["pai"] > 1
    # The curves are drawn: three charts (hit rate, PAI, hit rate at equal discs).
    titles = [c.proto.spec for c in app.get("vega_lite_chart")]
    assert sum("Hit rate over coverage" in t for t in titles) == 1
    assert sum("PAI over coverage" in t for t in titles) == 1
    assert sum("equal numbers of 150 m discs" in t for t in titles) == 1


def test_patrol_areas_and_holdout_weigh_the_near_misses_as_the_cli_does(app, monkeypatch):
    import streamlit as st

    import hotspots.patrol

    given: dict[str, object] = {}

    def spy(name, fn):
        def wrapper(*args, **kwargs):
            # the first call: the hold-out's origins call make_patrol_areas with a fitted forecast
            given.setdefault(name, kwargs.get("others"))
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        hotspots.patrol, "make_patrol_areas", spy("areas", hotspots.patrol.make_patrol_areas)
    )
    monkeypatch.setattr(
        workflows, "evaluate_forecasts", spy("holdout", workflows.evaluate_forecasts)
    )
    st.cache_resource.clear()
    st.cache_data.clear()
    _open(app, "Patrol plan")
    _run_check(_open(app, "Check against a later period"))
    assert not app.error, [e.value for e in app.error]
    # what `hotspots plan` and `hotspots evaluate` pass: the files' other crime types
    incidents = workflows.read_inputs([str(ensure_demo_csv())])
    cli = workflows.read_others([str(ensure_demo_csv())], incidents)
    assert cli is not None and len(cli) > 100
    for name in ("areas", "holdout"):
        others = given[name]
        assert others is not None, name
        assert sorted(others.frame["source_row"]) == sorted(cli.frame["source_row"]), name
        assert others.crs.equals(incidents.crs)


def _uniform_csv(n: int = 500, seed: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{i:064x}" for i in range(1, n + 1)],
            "Month": rng.choice([f"2024-{m:02d}" for m in range(1, 13)], n),
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": rng.uniform(-3.01, -2.93, n).round(6),
            "Latitude": rng.uniform(53.38, 53.43, n).round(6),
            "Location": "On or near Bold Street",
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": "Violence and sexual offences",
            "Last outcome category": "",
            "Context": "",
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def test_nothing_significant_says_so_in_one_line():
    incidents = workflows.read_inputs([str(ensure_demo_csv())])
    res = workflows.detect_hotspots(incidents, "kde")
    assert nothing_significant(res, "kde") is None
    hot = res.hotspots.assign(significant=False)
    none_sig = dataclasses.replace(res, hotspots=hot)
    line = nothing_significant(none_sig, "kde")
    assert line.startswith(f"None of the {len(hot)} hot spots found passed the significance test")
    assert "Study area" in line and "Plan significant hot spots only" in line
    empty = dataclasses.replace(res, hotspots=hot.iloc[:0])
    assert nothing_significant(empty, "gistar").startswith(
        "No hot spot was found with Getis-Ord Gi* (grid cells): try another method"
    )


def test_random_incidents_show_the_way_forward_not_an_empty_map(app):
    app.sidebar.file_uploader(key="uploads").set_value(("uniform.csv", _uniform_csv(), "text/csv"))
    app.run()
    assert not app.exception
    app.sidebar.selectbox(key="method").set_value("gistar")
    app.run()
    assert not app.exception
    infos = [i.value for i in app.info]
    hot = int(next(m.value for m in app.metric if m.label == "Hot spots").replace(",", ""))
    significant = int(next(m.value for m in app.metric if m.label == "Significant"))
    assert significant == 0
    expected = (
        "No hot spot was found with Getis-Ord Gi* (grid cells)"
        if hot == 0
        else f"None of the {hot} hot spots found passed the significance test"
    )
    assert sum(i.startswith(expected) for i in infos) == 1, infos
