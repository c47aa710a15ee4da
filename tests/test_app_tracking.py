"""The app's "Tracking" tab with streamlit.testing.v1.AppTest (no browser).

As in tests/test_app.py: only the open tab runs, so a test opens it by setting the ``tab`` key,
and the controls are a form, so a test clicks its submit button.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from hotspots.tracking import (
    compare_with_plan,
    read_patrol_logs,
    rebuild_visits,
    simulate_patrol_logs,
    write_patrol_log,
)

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _open(at: AppTest, tab: str) -> AppTest:
    assert tab in [t.label for t in at.tabs], tab
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
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_tracking_tab_follows_patrol_plan(app):
    labels = [t.label for t in app.tabs]
    assert labels.index("Tracking") == labels.index("Patrol plan") + 1


def test_synthetic_logs_on_the_demo_match_the_library(app, tmp_path, monkeypatch):
    import hotspots_app.tracking

    made = {}

    def spy(plan, areas, **kwargs):
        made.update(plan=plan, areas=areas, **kwargs)
        return simulate_patrol_logs(plan, areas, **kwargs)

    monkeypatch.setattr(hotspots_app.tracking, "simulate_patrol_logs", spy)
    _open(app, "Patrol plan")
    app.number_input(key="plan_days").set_value(14)
    app.number_input(key="plan_seed").set_value(11)
    _submit(app, "plan_submit")
    _open(app, "Tracking")
    assert "Tracking" in [s.value for s in app.subheader]
    assert not app.metric  # nothing tracked until logs are given
    app.number_input(key="trk_seed").set_value(5)
    _submit(app, "trk_synthetic")
    assert not app.error, [e.value for e in app.error]
    assert any("Synthetic" in w.value and "seed 5" in w.value for w in app.warning)
    assert made["seed"] == 5
    assert made["plan"].params["days"] == 14 and made["plan"].params["seed"] == 11

    # The same plan, areas and seed, tracked directly with the library.
    sim = simulate_patrol_logs(made["plan"], made["areas"], seed=5)
    logs = read_patrol_logs(write_patrol_log(sim.points, tmp_path / "synthetic_patrol_log.csv"))
    c = compare_with_plan(rebuild_visits(logs, made["areas"]), made["plan"], logs=logs)
    s = c.summary
    assert _metric(app, "Log rows read") == f"{logs.report.n_read:,}"
    assert _metric(app, "Fixes used") == f"{logs.report.n_used:,}"
    assert _metric(app, "Planned visits") == f"{s['planned_visits']:,}"
    assert _metric(app, "Delivered") == f"{s['delivered']:,}"
    assert _metric(app, "Short (< 10 min)") == f"{s['short']:,}"
    assert _metric(app, "Missed") == f"{s['missed']:,}"
    assert _metric(app, "Unplanned visits") == f"{s['unplanned_visits']:,}"
    assert _metric(app, "Contamination minutes") == f"{s['contamination_minutes']:,.0f}"
    # ... and they are the simulation's known delivery.
    for key in ("delivered", "short", "missed", "unplanned_visits", "contamination_minutes"):
        assert s[key] == pytest.approx(sim.truth[key]), key
    assert s["delivered"] >= 1 and s["unplanned_visits"] >= 1
    table = next(d.value for d in app.dataframe if "status" in d.value.columns)
    assert (table["status"] == "delivered").sum() == s["delivered"]
    assert len(table) == s["planned_visits"] + s["unplanned_visits"]
    labels = {b.label for b in app.get("download_button")}
    assert {
        "Compliance (CSV)",
        "Minutes per area per day (CSV)",
        "Visits (GeoJSON)",
        "Tracking report (HTML, printable)",
    } <= labels


def test_uploaded_log_with_a_bad_row_is_accounted(app):
    _open(app, "Tracking")
    rows = (
        "Callsign,Timestamp,Latitude,Longitude\n"
        "A1,2030-01-01T10:00:00Z,53.4,-2.98\n"
        "A1,not a time,53.4,-2.98\n"
    )
    app.file_uploader(key="trk_uploads").set_value(("avl.csv", rows.encode(), "text/csv"))
    _submit(app, "trk_submit")
    assert _metric(app, "Log rows read") == "2"
    assert _metric(app, "Fixes used") == "1"
    assert _metric(app, "Rows rejected") == "1"
    assert "Rejected rows (CSV)" in {b.label for b in app.get("download_button")}
    assert not app.error


def test_log_times_without_an_offset_are_read_in_the_time_zone_given(app):
    """A force outside the UK: the tab's time-zone box decides how times without an offset are
    read (it was always Europe/London), and the notes say which zone was used."""
    _open(app, "Tracking")
    rows = "Callsign,Timestamp,Latitude,Longitude\nA1,2030-01-01 10:00:00,53.4,-2.98\n"
    app.file_uploader(key="trk_uploads").set_value(("avl.csv", rows.encode(), "text/csv"))
    app.text_input(key="trk_time_zone").set_value("America/Chicago")
    _submit(app, "trk_submit")
    texts = [t.value for t in app.text]  # the notes under "How the logs were read"
    assert any("local clock time in America/Chicago" in t for t in texts), texts
    assert not any("local clock time in Europe/London" in t for t in texts)
