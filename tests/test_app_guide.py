"""The app follows the guide and carries its safeguards (streamlit.testing.v1.AppTest, no browser).

- the stop and search notice (PACE Code A 2.2) on every tab that shows hot spots or plans;
- each tab names the guide step it serves;
- the staffing selector changes each area's one recommendation, and its card shows every step
  of every tactic with each tactic's legitimacy and community-impact cautions;
- places a street patrol cannot address are flagged and left out unless the user includes them;
- offences found mostly by proactive policing can be left out, and the notes say what changed;
- police.uk stop and search files are summarised inside the planned areas, before and during.

As in tests/test_app.py: only the open tab runs (a test sets the ``tab`` key) and the panels are
forms (a test clicks their submit button).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hotspots.safeguards import stop_search_notice, tactic_safeguards
from hotspots.tactics import STEPS, load_knowledge_base
from hotspots_app.common import TAB_STEPS, md
from hotspots_app.page import TABS

APP = str(Path(__file__).resolve().parent.parent / "app.py")
NOTICE = md(stop_search_notice(short=True))
NOTICE_TABS = (
    "Map",
    "Hot spot details",
    "Patrol plan",
    "Tracking",
    "Assess",
    "Change over time",
    "Downloads",
)


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


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _uploader(at: AppTest, key: str):
    return next(u for u in at.get("file_uploader") if u.key == key)


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def test_every_tab_names_its_guide_step_and_shows_the_notice(app):
    assert set(TAB_STEPS) >= set(TABS)
    assert {s for steps in TAB_STEPS.values() for s in steps} <= set(STEPS)
    for tab in TABS:
        _open(app, tab)
        captions = [c.value for c in app.caption]
        steps = TAB_STEPS[tab]
        line = f"Guide step{'s' if len(steps) > 1 else ''}: {', '.join(steps)}"
        assert any(c.startswith(line) for c in captions), (tab, captions)
        notices = [w.value for w in app.warning if w.value == NOTICE]
        assert len(notices) == (1 if tab in NOTICE_TABS else 0), tab


def test_staffing_selector_changes_the_recommendation(app):
    kb = load_knowledge_base()
    _open(app, "Patrol plan")
    area = app.selectbox(key="plan_card_area").value
    primary = next(m for m in _markdown(app) if m.startswith("*Primary tactic"))
    assert "Dedicated pairs on foot" in primary
    assert any(
        f"**{tid} " in primary for tid in kb.staffing_models["dedicated_pairs"]["candidates"]
    )
    app.selectbox(key="plan_staffing").set_value("response_between_calls")
    _submit(app, "plan_submit")
    assert app.selectbox(key="plan_card_area").value == area
    primary = next(m for m in _markdown(app) if m.startswith("*Primary tactic"))
    assert primary.startswith("*Primary tactic \\(Response officers between calls\\):* **T04 ")
    _open(app, "Hot spot details")
    primary = next(m for m in _markdown(app) if m.startswith("*Primary tactic"))
    assert primary.startswith("*Primary tactic \\(Response officers between calls\\):* **T04 ")
    assert not app.error


def test_dose_selector_plans_each_areas_recommended_dose(app):
    """Recommended doses (each area's tactic's visits a day on its peak days) cost more visits
    per area than one a day, so the same capacity plans fewer areas; the plan says which."""
    _open(app, "Patrol plan")
    assert app.selectbox(key="plan_dose").value == "uniform"
    uniform = int(_metric(app, "Patrolled / controls a day").split(" / ")[0])
    app.selectbox(key="plan_dose").set_value("recommended")
    _submit(app, "plan_submit")
    assert not app.exception and not app.error
    recommended = int(_metric(app, "Patrolled / controls a day").split(" / ")[0])
    assert 1 <= recommended < uniform
    _open(app, "Map")
    _open(app, "Patrol plan")
    assert app.selectbox(key="plan_dose").value == "recommended"  # kept across tabs


def test_a_card_shows_every_step_and_every_caution(app):
    kb = load_knowledge_base()
    for tab in ("Hot spot details", "Patrol plan"):
        _open(app, tab)
        text = "\n".join(_markdown(app))
        shown = [t.id for t in kb.tactics if f"**{t.id} " in text]
        assert len(shown) >= 3, (tab, text[:300])
        assert text.count("*Primary tactic") == 1
        for tid in shown:
            for step in kb.get(tid).what_officers_do:
                assert "- " + md(step) in text, (tab, tid, step)
            safe = tactic_safeguards(tid)
            assert "*Legitimacy:* " + md(safe["legitimacy"]) in text, (tab, tid)
            assert "*Community impact:* " + md(safe["community_impact"]) in text, (tab, tid)
        card_notice = "**Stop and search:** " + md(stop_search_notice(short=True))
        assert card_notice in [c.value for c in app.caption], tab


def _police_uk(locations: list[str], n: int = 600, seed: int = 3, types=None) -> bytes:
    """Two planted hot spots (at ``locations[0]`` and ``locations[1]``) and a background at
    ``locations[2]``."""
    rng = np.random.default_rng(seed)
    k = n // 3
    lat = np.r_[
        rng.normal(53.4046, 0.0004, k),
        rng.normal(53.4005, 0.0004, k),
        rng.uniform(53.38, 53.43, n - 2 * k),
    ]
    lon = np.r_[
        rng.normal(-2.9800, 0.0006, k),
        rng.normal(-2.9700, 0.0006, k),
        rng.uniform(-3.01, -2.93, n - 2 * k),
    ]
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{i:064x}" for i in range(1, n + 1)],
            "Month": rng.choice([f"2024-{m:02d}" for m in range(1, 13)], n),
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": lon.round(6),
            "Latitude": lat.round(6),
            "Location": [locations[0]] * k + [locations[1]] * k + [locations[2]] * (n - 2 * k),
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": types or "Violence and sexual offences",
            "Last outcome category": "",
            "Context": "",
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def test_institutions_are_flagged_and_left_out_unless_included(app):
    # Every incident at a prison: patrol areas are placed by the forecast anywhere in the
    # study area, so the background must be recorded at prisons too for every area to be one.
    data = _police_uk(["On or near Prison", "On or near Prison", "On or near Prison"])
    _uploader(app, "uploads").set_value(("x.csv", data, "text/csv"))
    app.run()
    _open(app, "Patrol plan")
    # Every area is at the prison: no plan, and the way forward in one line.
    assert [e.value for e in app.error] == [
        "Every patrol area is a place a street patrol cannot address (prison: see *All patrol "
        "areas* on the map's tooltips). Tick *Include institutions* to plan them anyway, or "
        "widen the hot spots."
    ]
    app.checkbox(key="plan_include_institutions").check()
    _submit(app, "plan_submit")
    table = next(d.value for d in app.dataframe if "Why" in d.value.columns)
    assert set(table["Place"]) == {"prison"}
    assert _metric(app, "Left out (patrol cannot address)") == "0"
    planned, _ = _metric(app, "Patrol areas planned").split(" of ")
    # Every planned area is a prison; any not planned were left out for capacity only.
    assert int(planned) == int(table["In plan"].sum()) >= 1
    assert any("planned because *Include institutions* is ticked" in w.value for w in app.warning)


def test_user_places_by_name_are_always_left_out(app):
    data = _police_uk(
        ["On or near Concert Square", "On or near Seel Street", "On or near Bold Street"]
    )
    _uploader(app, "uploads").set_value(("x.csv", data, "text/csv"))
    app.run()
    _open(app, "Patrol plan")
    before = int(_metric(app, "Left out (patrol cannot address)"))
    assert before == 0
    _uploader(app, "plan_places_upload").set_value(
        ("places.txt", b"Concert Square\n", "text/plain")
    )
    app.checkbox(key="plan_include_institutions").check()
    _submit(app, "plan_submit")
    table = next(d.value for d in app.dataframe if "Why" in d.value.columns)
    assert len(table) >= 1 and set(table["Place"]) == {"user place"}
    assert set(table["Location"]) == {"On or near Concert Square"}
    assert not table["In plan"].any()
    assert _metric(app, "Left out (patrol cannot address)") == str(len(table))
    planned, _ = _metric(app, "Patrol areas planned").split(" of ")
    assert int(planned) >= 1  # the Seel Street hot spot is still planned


def test_leaving_out_proactive_offences_says_what_changed(app):
    from hotspots.safeguards import PROACTIVE_TYPES

    note = [c.value for c in app.caption if "proactive" in c.value.lower()]
    assert note, "the default targeting says how it treats proactive offences"
    hot_before = _metric(app, "Hot spots")
    app.sidebar.checkbox(key="leave_out_proactive").check()
    _submit(app, "params_submit")
    note = [c.value for c in app.caption if "proactive" in c.value.lower()]
    assert any("left out" in c for c in note), note
    assert any("hot spot" in c for c in note), note
    assert hot_before  # the page still shows its hot spots
    assert PROACTIVE_TYPES[0] in " ".join(note).replace("\\", "")


def _stop_search_csv(points: list[tuple[float, float]], dates: list[str]) -> bytes:
    header = (
        "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
        "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
        "Outcome,Outcome linked to object of search,Removal of more than just outer clothing"
    )
    white = "White - English/Welsh/Scottish/Northern Irish/British"
    lines = [header]
    for (lat, lon), d in zip(points, dates, strict=True):
        lines.append(
            f"Person search,{d},,,{lat},{lon},Male,18-24,{white},White,"
            "Misuse of Drugs Act 1971 (section 23),Controlled drugs,"
            "A no further action disposal,false,false"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_stop_search_files_are_summarised_before_and_during(app):
    demo = pd.read_csv(io.BytesIO(app_demo_bytes()))
    pts = list(zip(demo["Latitude"][:30], demo["Longitude"][:30], strict=True))
    dates = ["2024-01-05T12:00:00+00:00"] * 12 + ["2024-03-05T12:00:00+00:00"] * 18
    _open(app, "Patrol plan")
    _uploader(app, "plan_stop_search_upload").set_value(
        ("2024-01-x-stop-and-search.csv", _stop_search_csv(pts, dates), "text/csv")
    )
    app.date_input(key="plan_operation_start_input").set_value(pd.Timestamp("2024-02-01").date())
    _submit(app, "plan_submit")
    assert "#### Stop and search monitoring" in _markdown(app)
    overview = next(d.value for d in app.dataframe if "patrol areas (before)" in d.value.columns)
    stops = overview.set_index(overview.columns[0]).loc["Stops"]
    n = {k: int(str(v).replace(",", "")) for k, v in stops.items()}
    assert n["patrol areas (before)"] + n["rest of force (before)"] == 12
    assert n["patrol areas (during)"] + n["rest of force (during)"] == 18
    assert not app.error


def app_demo_bytes() -> bytes:
    from hotspots.demo import ensure_demo_csv

    return ensure_demo_csv().read_bytes()


def test_problem_profile_download(app, monkeypatch):
    from hotspots import workflows
    from hotspots_app import downloads

    _open(app, "Downloads")
    assert "Problem profile (HTML, printable)" in {b.label for b in app.get("download_button")}
    # The button's bytes: the library's report of the incidents read with every crime type,
    # for the filters' violence types, the sidebar's method and the plan's staffing model.
    calls = []
    monkeypatch.setattr(
        workflows, "problem_report_bytes", lambda *a, **k: calls.append((a, k)) or b"<html>"
    )
    incidents = object()
    out = downloads.problem_profile.__wrapped__(incidents, "default", "kde", "pcso")
    assert out == b"<html>"
    assert calls == [
        (
            (incidents, "html"),
            {"crime_types": "default", "method": "kde", "staffing": "pcso"},
        )
    ]


def test_tasking_routes_the_teams_of_the_plan(app, monkeypatch):
    from hotspots import workflows
    from hotspots.tasking import read_teams
    from hotspots_app.tasking import DEFAULT_TEAMS, teams_csv

    teams = read_teams(teams_csv(DEFAULT_TEAMS), name="teams.csv")
    assert [(t.name, t.officers) for t in teams] == [("Alpha", 2)]
    made = []
    original = workflows.task_teams

    def recording(plan, teams, **kwargs):
        out = original(plan, teams, **kwargs)
        made.append(out)
        return out

    monkeypatch.setattr(workflows, "task_teams", recording)
    _open(app, "Patrol plan")
    assert any("Route the teams" in c.value for c in app.caption)
    _submit(app, "task_submit")
    assert not app.error, [e.value for e in app.error]
    assert len(made) == 1
    s = made[0].summary
    planned = int(_metric(app, "Patrol visits").replace(",", ""))
    assert _metric(app, "Routed visits") == f"{s['patrol_visits']:,} of {planned:,}"
    assert _metric(app, "Area-days no shift could fit") == f"{s['unrouted_area_days']:,}"
    assert s["patrol_visits"] >= 1
    labels = {b.label for b in app.get("download_button")}
    assert {
        "Team plan (CSV)",
        "Alpha: calendar (.ics)",
        "Alpha: shift sheets (HTML, printable)",
    } <= labels
