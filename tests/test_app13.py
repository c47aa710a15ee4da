"""The app as its users use it (session 13): what a walk through every tab on real data found.

AppTest (no browser), as tests/test_app.py: a test opens a tab with :func:`_open` and clicks a
form's submit button. Each test fails on the tree before its fix:

- the page names the app's controls, not the library's Python and command-line switches
  (``leave_out_proactive``, ``study_area=``, ``DBSCANHotspots``, ``columns={...}``);
- the line under the map offers density contours only where the map has them (KDE);
- the plan's caption does not call this tool's general patrol window the guide's;
- two teams whose names differ only in punctuation no longer crash the Patrol plan tab;
- the check against a later period leaves out HDBSCAN above its size limit instead of failing
  the whole comparison, and fits nothing until *Run the check* is clicked for the data shown;
- patrol logs with nothing usable say why on the page.
"""

from __future__ import annotations

import ast
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import hotspots
from hotspots_app import common, holdout, tasking
from hotspots_app import map as map_section

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LIBRARY = Path(hotspots.__file__).resolve().parent


def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    """Every text the page shows (text, captions, markdown, alerts), as given to Streamlit."""
    out: list[str] = []
    for kind in ("text", "caption", "markdown", "warning", "error", "info"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def _unescaped(text: str) -> str:
    return text.replace("\\", "")


def _police_uk_csv(n: int = 600, seed: int = 3) -> bytes:
    """police.uk's shape: months only, no time of day (so plans use the general window)."""
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(53.4046, 0.0004, k), rng.uniform(53.38, 53.43, n - k)]
    lon = np.r_[rng.normal(-2.9800, 0.0006, k), rng.uniform(-3.01, -2.93, n - k)]
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{i:064x}" for i in range(1, n + 1)],
            "Month": rng.choice([f"2024-{m:02d}" for m in range(1, 13)], n),
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": lon.round(6),
            "Latitude": lat.round(6),
            "Location": "On or near Bold Street",
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": rng.choice(["Violence and sexual offences", "Possession of weapons"], n),
            "Last outcome category": "",
            "Context": "",
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------------------ the wording
def _library_strings() -> list[str]:
    """Every string constant of the package's modules (adjacent literals joined, as Python
    joins them), and the constant parts of its f-strings."""
    out: list[str] = []
    for path in LIBRARY.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(node.value)
    return out


def test_every_phrase_the_app_rewords_is_still_written_by_the_library():
    strings = _library_strings()
    for said, meant in common.PLAIN_WORDING:
        assert any(said in s for s in strings), said
        assert "=" not in meant and "--" not in meant and "Hotspots" not in meant, meant


def test_plain_names_the_apps_controls():
    from hotspots.safeguards import proactive_note

    note = proactive_note({"Possession of weapons": 5}, 100, None, left_out=False)
    assert "leave_out_proactive" in note and "compare_proactive=True" in note  # the library's
    said = common.plain(note)
    assert "leave_out_proactive" not in said and "compare_proactive" not in said
    assert "'Leave out proactive offences' under 4. Parameters" in said
    assert common.plain("nothing to change") == "nothing to change"
    left = common.plain(proactive_note({"Drugs": 5}, 100, None, left_out=True))
    assert "(leave_out_proactive)" not in left and "is ticked" in left


def test_the_page_names_no_python_or_cli_switch(app):
    """The demo's notes under the map and the ingest report (both shown on every upload)."""
    texts = [_unescaped(t) for t in _texts(app)]
    proactive = [t for t in texts if t.startswith("Offences found mostly by proactive")]
    assert proactive, texts
    assert "leave_out_proactive" not in proactive[0]
    assert "'Leave out proactive offences' under 4. Parameters" in proactive[0]
    _open(app, "Data and report")
    notes = [t for t in _texts(app) if t.startswith("• Study area")]
    assert notes and "study_area=" not in notes[0]
    assert "under 2. Filters (Study area)" in notes[0]
    for t in _texts(_open(app, "Map")):
        assert "--leave-out-proactive" not in t and "compare_proactive=" not in t


def test_hdbscan_too_large_error_names_the_apps_method_box(app, monkeypatch):
    import hotspots.clusters

    monkeypatch.setattr(hotspots.clusters, "HDBSCAN_MAX_INCIDENTS", 100)
    app.sidebar.selectbox(key="method").set_value("hdbscan")
    app.run()
    assert not app.exception
    errors = [_unescaped(e.value) for e in app.error]
    assert len(errors) == 1 and "would take too long" in errors[0], errors
    assert "DBSCANHotspots" not in errors[0]
    assert "choose DBSCAN clusters under 3. Method" in errors[0]


# ------------------------------------------------------------------------- the map's caption
def test_map_caption_offers_contours_only_when_the_map_has_them(app):
    def caption(at: AppTest) -> str:
        return next(c.value for c in at.caption if c.value.startswith("Darker = higher rank"))

    assert "Density contours (KDE)" in caption(app)  # the demo runs KDE: it has contours
    for method in ("dbscan", "gistar"):
        app.sidebar.selectbox(key="method").set_value(method)
        app.run()
        assert not app.exception
        assert "contours" not in caption(app), method
    assert map_section.map_caption(False).endswith("Blue heat: all incidents.")


# --------------------------------------------------------------------------------- the plan
def test_plan_caption_does_not_call_the_general_window_the_guides(app):
    app.sidebar.file_uploader(key="uploads").set_value(
        ("liverpool.csv", _police_uk_csv(), "text/csv")
    )
    app.run()
    assert not app.exception
    _open(app, "Patrol plan")
    captions = [_unescaped(c.value) for c in app.caption if "general patrol window" in c.value]
    assert captions, [c.value for c in app.caption]
    assert "a product heuristic, not the guide's" in captions[0]
    assert not any("the guide's general patrol windows" in _unescaped(t) for t in _texts(app))
    # ... as the caveat above it says.
    assert any("(a product heuristic, not the guide's)" in _unescaped(w.value) for w in app.warning)


# ------------------------------------------------------------------------------ the tasking
def test_team_names_that_differ_in_punctuation_each_get_their_files(app):
    _open(app, "Patrol plan")
    assert not any("outside Great Britain" in c.value for c in app.caption)  # the demo: GB
    teams = b"team,officers,days,start,end\nA 1,2,daily,18:00,02:00\nA-1,2,daily,18:00,02:00\n"
    app.file_uploader(key="task_upload").set_value(("teams.csv", teams, "text/csv"))
    app.button(key="task_submit").click()
    app.run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    labels = [b.label for b in app.get("download_button")]
    for name in ("A 1", "A-1"):
        assert f"{name}: calendar (.ics)" in labels
        assert f"{name}: shift sheets (HTML, printable)" in labels


def test_team_slugs_are_unique_and_readable():
    class T:
        def __init__(self, name: str) -> None:
            self.name = name

    names = ["A 1", "A-1", "a_1", "Night/Late", "", "!!"]
    slugs = tasking.team_slugs([T(n) for n in names])
    assert slugs == ["A_1", "A_1_2", "a_1_3", "Night_Late", "team", "__"]
    assert len({s.lower() for s in slugs}) == len(slugs)
    assert tasking.team_slugs([]) == []
    assert tasking.team_slugs([T("Alpha")]) == ["Alpha"]


# ------------------------------------------------------------------- check against a later period
def test_holdout_leaves_out_hdbscan_above_its_limit_instead_of_failing(app, monkeypatch):
    import hotspots.clusters

    monkeypatch.setattr(hotspots.clusters, "HDBSCAN_MAX_INCIDENTS", 1000)
    holdout.forecasts_for.clear()  # a run of another test with HDBSCAN in it
    _open(app, "Check against a later period")
    app.multiselect(key="holdout_methods").set_value(["kde", "hdbscan"])
    _run_check(app)
    assert not app.error, [e.value for e in app.error]
    left = [_unescaped(c.value) for c in app.caption if "is left out" in c.value]
    assert left and left[0].startswith("HDBSCAN clusters is left out: its training months hold")
    assert "more than the 1,000 it can cluster" in left[0]
    coverage = next(d.value for d in app.dataframe if "Forecast" in d.value.columns)
    assert "KDE (150 m)" in set(coverage["Forecast"]) or len(coverage) > 3
    assert not any("HDBSCAN" in str(f) for f in coverage["Forecast"])
    delivered = next(d.value for d in app.dataframe if "PEI" in d.value.columns)
    assert list(delivered["Method"]) == ["Kernel density (KDE)"]  # HDBSCAN picked, left out
    assert sum("is left out" in c.value for c in app.caption) == 2  # said in both sections
    holdout.forecasts_for.clear()


def _run_check(at: AppTest) -> AppTest:
    at.button(key="holdout_submit").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_holdout_fits_nothing_until_asked_for_the_data_shown(app, monkeypatch):
    from hotspots import workflows

    calls: list[str] = []
    for name in ("evaluate_forecasts", "evaluate_holdout"):
        real = getattr(workflows, name)
        monkeypatch.setattr(
            workflows, name, lambda *a, _n=name, _f=real, **k: (calls.append(_n), _f(*a, **k))[1]
        )
    holdout.forecasts_for.clear()
    holdout.holdout_for.clear()
    _open(app, "Check against a later period")
    assert calls == []  # opening the tab fits nothing
    assert any("Run the check" in i.value for i in app.info)
    assert not [d for d in app.dataframe if "PEI" in d.value.columns]
    _run_check(app)
    assert sorted(calls) == ["evaluate_forecasts", "evaluate_holdout"]
    assert not app.info and not app.error
    assert [d for d in app.dataframe if "PEI" in d.value.columns]
    _open(app, "Map")
    _open(app, "Check against a later period")  # asked for on these data: shown again, cached
    assert [d for d in app.dataframe if "PEI" in d.value.columns]
    assert len(calls) == 2
    # New data: the check waits to be asked again.
    app.sidebar.file_uploader(key="uploads").set_value(
        ("liverpool.csv", _police_uk_csv(), "text/csv")
    )
    app.run()
    assert not app.exception
    assert any("Run the check" in i.value for i in app.info)
    assert len(calls) == 2
    holdout.forecasts_for.clear()
    holdout.holdout_for.clear()


def test_training_size_counts_the_months_before_the_test():
    from hotspots.incidents import Incidents

    months = pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 2 + ["2024-03-01"])
    inc = Incidents.from_xy(np.arange(6.0), np.arange(6.0), crs="EPSG:27700", month=months)
    assert holdout.training_size(inc, "2024-02") == 3
    assert holdout.training_size(inc, "2024-03") == 5
    assert holdout.training_size(inc, None) == 5  # rolling: the last origin trains on all before
    assert holdout.left_out_methods(inc, None) == {}
    empty = Incidents.from_xy(np.array([1.0]), np.array([1.0]), crs="EPSG:27700")
    assert holdout.training_size(empty, None) == 0


# ------------------------------------------------------------------------------- tracking
@pytest.mark.parametrize(
    ("name", "data", "said", "not_said"),
    [
        (
            "logs.csv",
            b"a,b,c\n1,2,3\n",
            "Name the file's columns unit, time, latitude and longitude",
            "columns={",
        ),
        ("logs.csv", b"unit,time,lat,lon\n", "hold no fixes (no data rows)", "rejected rows"),
    ],
)
def test_patrol_logs_with_nothing_usable_say_why(app, name, data, said, not_said):
    _open(app, "Tracking")
    app.file_uploader(key="trk_uploads").set_value((name, data, "text/csv"))
    app.button(key="trk_submit").click()
    app.run()
    assert not app.exception
    errors = [_unescaped(e.value) for e in app.error]
    assert len(errors) == 1, errors
    assert said in errors[0] and not_said not in errors[0], errors[0]


# ------------------------------------------------------------------------------ harm, dates
def _upload_police_uk(at: AppTest) -> AppTest:
    at.sidebar.file_uploader(key="uploads").set_value(
        ("liverpool.csv", _police_uk_csv(), "text/csv")
    )
    at.run()
    assert not at.exception, at.exception
    return at


def test_ranking_by_harm_without_weights_keeps_the_page_and_says_why(app):
    _upload_police_uk(app)
    shown = [(m.label, m.value) for m in app.metric]
    app.sidebar.selectbox(key="order").set_value("harm")
    app.button(key="params_submit").click()
    app.run()
    assert not app.exception
    # Before: the page was one error, "order='harm' needs harm weights", and nothing else.
    assert not app.error, [e.value for e in app.error]
    assert [(m.label, m.value) for m in app.metric] == shown  # ranked by intensity
    lines = [_unescaped(i.value) for i in app.info]
    assert any("Ranking by harm needs harm weights: switch on *Harm weights*" in x for x in lines)
    assert any("ranked by intensity until then" in x for x in lines)
    # Harm weights on, but no weight column and no table: said, not silent.
    app.sidebar.toggle(key="harm").set_value(True)
    app.button(key="filters_submit").click()
    app.run()
    assert not app.exception and not app.error
    lines = [_unescaped(i.value) for i in app.info]
    assert any("no weight column and no table of weights was given" in x for x in lines), lines
    assert any("Ranking by harm needs harm weights." in x for x in lines), lines


def test_harm_lines():
    from hotspots_app.page import harm_lines

    assert harm_lines(False, False, "intensity") == []
    assert harm_lines(True, True, "harm") == []
    assert harm_lines(False, True, "harm") == []  # weights from a file column, toggle aside
    assert len(harm_lines(True, False, "harm")) == 2
    assert len(harm_lines(True, False, "count")) == 1


def test_a_date_range_inside_a_month_of_month_only_data_says_the_month_is_kept(app):
    import datetime as dt

    _upload_police_uk(app)
    box = app.sidebar.date_input[0]
    box.set_value((dt.date(2024, 3, 10), dt.date(2024, 3, 20)))
    app.button(key="filters_submit").click()
    app.run()
    assert not app.exception and not app.error
    captions = [_unescaped(c.value) for c in app.sidebar.caption]
    assert "These files give months only: the whole of 2024-03 is kept." in captions, captions
    _open(app, "Data and report")
    assert any(t.value.startswith("• Dates: 2024-03 to 2024-03") for t in app.text)
    box = app.sidebar.date_input[0]
    box.set_value((dt.date(2024, 3, 1), dt.date(2024, 4, 30)))  # whole months: nothing to say
    app.button(key="filters_submit").click()
    app.run()
    assert not any("months only" in c.value for c in app.sidebar.caption)


def test_whole_months_line():
    import datetime as dt

    from hotspots_app.data import whole_months_line

    d = dt.date
    assert whole_months_line(d(2022, 1, 15), d(2022, 2, 3), True) == (
        "These files give months only: the whole of 2022-01 to 2022-02 is kept."
    )
    assert whole_months_line(d(2022, 1, 1), d(2022, 2, 28), True) is None
    assert whole_months_line(d(2024, 2, 1), d(2024, 2, 29), True) is None  # leap year
    assert whole_months_line(d(2022, 1, 15), d(2022, 1, 20), False) is None
    assert whole_months_line(None, d(2022, 1, 20), True) is None


# ------------------------------------------------------------------------ the hot spot card
def test_the_card_says_whether_the_hot_spot_passed_its_test(app):
    from hotspots_app.detail import significance_line

    def said(at: AppTest) -> list[str]:
        return [t.value for t in at.text if t.value.startswith("Significant:")]

    table = next(d.value for d in app.dataframe if "significant" in d.value.columns)
    first = table.iloc[0]
    line = said(app)
    assert len(line) == 1, line
    assert line[0].startswith("Significant: yes" if first["significant"] else "Significant: no")
    quiet = table.loc[~table["significant"].astype(bool), "hotspot_id"]
    assert len(quiet)  # the demo's KDE: 9 of 26 pass
    app.selectbox(key="selected_id").set_value(str(quiet.iloc[0]))
    app.run()
    assert not app.exception
    assert said(app)[0].startswith("Significant: no (p = ")
    assert "check it against local knowledge" in said(app)[0]
    _open(app, "Hot spot details")  # the tab's header says it too
    assert said(app)[0].startswith("Significant: no (p = ")
    assert significance_line({"significant": True, "p_value": 1.2e-4}) == (
        "Significant: yes (p < 0.001): it stands out from its surroundings."
    )
    assert significance_line({"significant": False, "p_value": 0.0123}).startswith(
        "Significant: no (p = 0.012): "
    )
    assert significance_line({"hotspot_id": "H001"}) is None  # a row without a test
    assert significance_line({"significant": float("nan")}) is None


# ----------------------------------------------------------------------- the column mapping
def _odd_csv(n: int = 300) -> bytes:
    rows = [
        f"{-2.98 + (i % 41) * 1e-4:.5f},{53.40 + (i % 37) * 1e-4:.5f},2024-0{1 + i % 9}-1{i % 9}"
        f" 2{i % 4}:00,Violence"
        for i in range(n)
    ]
    return ("p1,p2,stamp,kind\n" + "\n".join(rows) + "\n").encode()


def test_a_column_mapping_stays_with_the_files_it_was_made_for(app):
    odd = ("odd.csv", _odd_csv(), "text/csv")
    app.sidebar.file_uploader(key="uploads").set_value(odd)
    app.run()
    assert len(app.error) == 1  # the columns are not found: the form is offered
    for role, column in (
        ("lon", "p1"),
        ("lat", "p2"),
        ("datetime", "stamp"),
        ("crime_type", "kind"),
    ):
        app.selectbox(key=f"colmap_{role}").select(column)
    next(b for b in app.button if b.label == "Use these columns").click()
    app.run()
    assert not app.exception and not app.error
    n_odd = next(m.value for m in app.metric if m.label == "Hot spots")
    # Another upload: the mapping of odd.csv ('kind' as the crime type) is not applied to it.
    _upload_police_uk(app)
    assert not app.error, [e.value for e in app.error]  # before: "The column 'kind' given ..."
    assert int(next(m.value for m in app.metric if m.label == "Hot spots").replace(",", "")) >= 1
    # The same file again: its mapping still applies, no form.
    app.sidebar.file_uploader(key="uploads").set_value(odd)
    app.run()
    assert not app.error
    assert next(m.value for m in app.metric if m.label == "Hot spots") == n_odd
    # the form stays in the sidebar (Columns and coordinates), filled with that mapping
    assert app.sidebar.selectbox(key="colmap_crime_type").value == "kind"


def test_no_tab_shows_a_python_keyword_or_a_command_line_switch(app):
    """On the demo and on month-only police.uk data (whose notes differ): no text of the page
    names a keyword argument (``bandwidth=``, ``include_institutions=True``) or a switch
    (``--include-institutions``) the user of the page cannot use."""
    import re

    code = re.compile(r"(?<![\w.])[a-z_]{3,}=|(?<!\w)--[a-z]")
    tabs = ("Map", "Hot spot details", "Patrol plan", "Change over time", "Data and report")
    for upload in (False, True):
        if upload:
            _upload_police_uk(app)
        for tab in tabs:
            _open(app, tab)
            for text in _texts(app):
                assert not code.search(_unescaped(text)), (tab, text)


# ------------------------------------------------------------------- tasking's time zone
def _chicago_csv(n: int = 600, seed: int = 4) -> bytes:
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(41.8781, 0.0004, k), rng.uniform(41.85, 41.90, n - k)]
    lon = np.r_[rng.normal(-87.6298, 0.0006, k), rng.uniform(-87.66, -87.60, n - k)]
    day = rng.integers(0, 365, n)
    when = (
        pd.Timestamp("2024-01-01")
        + pd.to_timedelta(day, "D")
        + pd.to_timedelta(rng.integers(18 * 60, 23 * 60, n), "min")
    )
    frame = pd.DataFrame(
        {"date": when.strftime("%Y-%m-%d %H:%M"), "longitude": lon.round(6), "latitude": lat}
    )
    return frame.to_csv(index=False).encode("utf-8")


def test_teams_outside_great_britain_get_their_own_time_zone(app):
    app.sidebar.file_uploader(key="uploads").set_value(("chicago.csv", _chicago_csv(), "text/csv"))
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    _open(app, "Patrol plan")
    # the default is where the incidents are (it was the UK's, captioned; app15)
    assert app.text_input(key="task_time_zone").value == "America/Chicago"
    assert any("incidents' location: America/Chicago" in _unescaped(c.value) for c in app.caption)
    app.text_input(key="task_time_zone").set_value("America/Chicago")
    app.button(key="task_submit").click()
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    shifts = next(d.value for d in app.dataframe if "shift_start" in d.value.columns)
    assert str(shifts["shift_start"].iloc[0].tz) == "America/Chicago"
    assert shifts["shift_start"].iloc[0].hour == 18  # the shift's own hour, read in Chicago
    # A name that is not a time zone: one readable error, no traceback.
    app.text_input(key="task_time_zone").set_value("Chicago")
    app.button(key="task_submit").click()
    app.run()
    assert not app.exception
    errors = [_unescaped(e.value) for e in app.error]
    assert len(errors) == 1 and "IANA time zone" in errors[0], errors


def test_a_file_without_the_default_crime_types_says_where_to_choose_them(app):
    """police.uk burglaries only: the default (violence) keeps none; the error names the filter
    box, not crime_types= or --crime-types, and the filter panel stays to choose them."""
    frame = pd.read_csv(io.BytesIO(_police_uk_csv())).assign(**{"Crime type": "Burglary"})
    app.sidebar.file_uploader(key="uploads").set_value(
        ("burglary.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    app.run()
    assert not app.exception
    errors = [_unescaped(e.value) for e in app.error]
    assert len(errors) == 1 and "No usable incidents" in errors[0], errors
    assert "crime_types=" not in errors[0] and "--crime-types" not in errors[0]
    assert "under 2. Filters (Crime types)" in errors[0]
    app.sidebar.multiselect(key="crime_types").set_value(["Burglary"])
    app.button(key="filters_submit").click()
    app.run()
    assert not app.exception and not app.error
    assert int(next(m.value for m in app.metric if m.label == "Hot spots").replace(",", "")) >= 1


def test_plan_caption_says_where_the_patrol_areas_are_placed(app):
    """The areas are placed by the forecast anywhere in the study area (Memphis: 95 of 100
    outside every hot spot); the caption said 'on the densest places inside the hot spots'."""
    app.sidebar.file_uploader(key="uploads").set_value(("chicago.csv", _chicago_csv(), "text/csv"))
    app.run()
    _open(app, "Patrol plan")
    caption = next(c.value for c in app.caption if c.value.startswith("Patrol-sized areas"))
    assert "inside the hot spots" not in caption
    assert "anywhere in the study area" in caption
    areas = next(d.value for d in app.dataframe if "Patrol area" in d.value.columns)
    outside = [a for a in areas["Patrol area"].astype(str) if a.startswith("A")]
    assert outside, list(areas["Patrol area"])  # such areas exist: the old caption was wrong
    assert app.checkbox(key="plan_significant_only").proto.help.startswith(
        "Only the hot spots that passed the significance test name the patrol areas"
    )
