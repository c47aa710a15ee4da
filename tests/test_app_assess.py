"""Testing an operation: the workflows the app calls, and the app's "Assess" tab (AppTest).

- :func:`hotspots.workflows.assess_plan` is :func:`hotspots.assess.assess_operation` on the plan's
  own areas; :func:`~hotspots.workflows.assess_uploaded_plan` on the plan folder's two files gives
  the same estimate; :func:`~hotspots.workflows.assessment_bytes` gives the files
  :func:`hotspots.assess.write_assessment` writes.
- The tab on the demo, with simulated incidents (a known effect) and synthetic patrol logs, shows
  the library's rate ratio and interval and every finding, and offers the three files.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from hotspots import workflows
from hotspots.assess import assess_operation, simulate_operation
from hotspots.incidents import Incidents
from hotspots.patrol import make_patrol_plan
from hotspots_app.common import md

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CRS = "EPSG:27700"


def _areas(n: int = 12) -> gpd.GeoDataFrame:
    i = np.arange(n)
    x = 450_000.0 + (i % 4) * 400.0
    y = 300_000.0 + (i // 4) * 400.0
    return gpd.GeoDataFrame(
        {
            "patrol_area_id": [f"A{k:02d}" for k in i],
            "hotspot_id": [f"H{k:03d}" for k in i],
            "rank": i + 1,
            "incidents": 10,
        },
        geometry=shapely.buffer(shapely.points(x, y), 75.0),
        crs=CRS,
    )


@pytest.fixture(scope="module")
def made():
    """A plan of 12 areas with half of them controls each day, as a PlanResult."""
    areas = _areas()
    plan = make_patrol_plan(
        areas, days=28, control_share=0.5, officer_hours=40, seed=4, start_date="2025-03-03"
    )
    empty = Incidents.from_xy(np.array([450_000.0]), np.array([300_000.0]), crs=CRS)
    return workflows.PlanResult(empty, areas.iloc[:0], areas, plan, {}, {})


@pytest.fixture(scope="module")
def later(made):
    return workflows.simulate_later_incidents(made, effect=0.6, baseline_rate=1.5, seed=3)


def test_simulated_later_incidents_are_the_library_simulation(made, later):
    direct = simulate_operation(
        made.plan, made.areas, effect=0.6, baseline_rate=1.5, background_rate=2.0, seed=3
    )
    np.testing.assert_array_equal(later.frame["x"], direct.frame["x"])
    assert later.report.choices["simulation"]["effect"] == 0.6


def test_assess_plan_is_assess_operation_on_the_planned_areas(made, later):
    # An area a street patrol cannot address is in PlanResult.areas but not in the plan: the
    # assessment leaves it out (it is no comparison area either).
    extra = made.areas.iloc[:1].assign(patrol_area_id="X99", unpatrollable_kind="prison")
    with_extra = workflows.PlanResult(
        made.incidents,
        made.hotspots,
        pd.concat([made.areas, extra], ignore_index=True),
        made.plan,
        {},
        {},
    )
    a = workflows.assess_plan(with_extra, later, estimates=("crossover",))
    b = assess_operation(made.plan, made.areas, later, estimates=("crossover",))
    assert a.effect.rate_ratio == pytest.approx(b.effect.rate_ratio, rel=1e-12)
    assert (a.effect.ci_low, a.effect.ci_high) == pytest.approx((b.effect.ci_low, b.effect.ci_high))
    assert "X99" not in set(a.area_days["patrol_area_id"])
    # A true 40 % reduction on ~1,000 area-days with controls: found, and the interval holds it.
    assert a.effect.ci_low < 0.6 < a.effect.ci_high
    assert a.effect.significant


def test_an_uploaded_plan_folder_gives_the_same_estimate(made, later, tmp_path):
    plan_csv = made.plan.to_csv().encode("utf-8")
    areas = made.areas.to_crs(4326)[["patrol_area_id", "geometry"]].to_json().encode("utf-8")
    up = workflows.assess_uploaded_plan(plan_csv, areas, later, estimates=("crossover",))
    direct = workflows.assess_plan(made, later, estimates=("crossover",))
    assert up.effect.rate_ratio == pytest.approx(direct.effect.rate_ratio, rel=1e-6)
    assert up.effect.n_units == direct.effect.n_units


def test_assessment_files_are_those_write_assessment_writes(made, later, tmp_path):
    from hotspots.assess import write_assessment

    a = workflows.assess_plan(made, later, estimates=("crossover", "before_after"))
    paths = write_assessment(a, tmp_path)
    assert workflows.assessment_bytes(a, "effect") == paths["effect_csv"].read_bytes()
    assert workflows.assessment_bytes(a, "area_days") == paths["area_days_csv"].read_bytes()
    effect = pd.read_csv(io.BytesIO(workflows.assessment_bytes(a, "effect")))
    assert list(effect["estimate"][:2]) == ["crossover", "crossover_all_days"]
    assert effect["value"].iloc[0] == pytest.approx(a.effect.rate_ratio)
    days = pd.read_csv(io.BytesIO(workflows.assessment_bytes(a, "area_days")))
    assert len(days) == len(a.area_days) == 12 * 28
    html = workflows.assessment_bytes(a, "report").decode("utf-8")
    assert "OFFICIAL-SENSITIVE" in html
    with pytest.raises(ValueError, match="assessment output must be one of"):
        workflows.assessment_bytes(a, "pdf")


# ------------------------------------------------------------------------------------- app
def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click()
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def test_assess_tab_on_the_demo_shows_the_library_estimate(app, monkeypatch):
    made_in_app = []
    original = workflows.assess_plan

    def recording(plan, incidents, **kwargs):
        out = original(plan, incidents, **kwargs)
        made_in_app.append((plan, incidents, kwargs, out))
        return out

    monkeypatch.setattr(workflows, "assess_plan", recording)
    labels = [t.label for t in app.tabs]
    assert labels.index("Assess") == labels.index("Tracking") + 1
    _open(app, "Patrol plan")
    app.number_input(key="plan_control_share").set_value(0.5)
    _submit(app, "plan_submit")
    _open(app, "Assess")
    assert app.radio(key="assess_incidents").value == "simulated"
    assert app.radio(key="assess_logs").value == "synthetic"
    _submit(app, "assess_submit")
    assert not app.error, [e.value for e in app.error]
    assert len(made_in_app) == 1
    plan, incidents, kwargs, a = made_in_app[0]
    # The simulated operation: the demo's plan, a true rate ratio of 0.8, labelled synthetic.
    assert incidents.report.choices["simulation"]["effect"] == 0.8
    assert any(w.value.startswith("**Synthetic** incidents") for w in app.warning)
    # The synthetic logs' compliance reached the assessment (dose from delivered minutes).
    assert kwargs["compliance"] is not None
    assert a.area_days["minutes"].notna().any()
    # The headline is the library's randomised estimate, as printed.
    metrics = {m.label: m.value for m in app.metric}
    e = a.effect
    assert "**Patrol against control days \\(randomised\\)**" in [m.value for m in app.markdown]
    assert metrics["Rate ratio"] == f"{e.rate_ratio:.2f}"
    assert metrics["95% interval"] == f"{e.ci_low:.2f} to {e.ci_high:.2f}"
    # Every finding is shown under its heading.
    text = "\n".join(m.value for m in app.markdown)
    for f in a.findings:
        assert md(f.text) in text, f.text
    assert "**What can be concluded**" in text or "**What cannot be concluded**" in text
    table = next(d.value for d in app.dataframe if "Interval low" in d.value.columns)
    assert len(table) == len(a.table())
    assert table["Value"].iloc[0] == pytest.approx(round(e.rate_ratio, 3))
    labels = {b.label for b in app.get("download_button")}
    assert {
        "Estimates (effect.csv)",
        "Area-days (area_days.csv)",
        "Assessment report (HTML, printable)",
    } <= labels
    params = json.loads(json.dumps(dict(a.params), default=str))
    assert params  # the record behind "How the assessment was made"


def test_assess_tab_says_what_is_missing(app):
    _open(app, "Assess")
    assert any("Assess the operation" in i.value for i in app.info)
    app.radio(key="assess_plan").set_value("upload")
    _submit(app, "assess_submit")
    assert [e.value for e in app.error] == [
        md("Upload the plan folder's patrol_plan.csv and its patrol areas.")
    ]
