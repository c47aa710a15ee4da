"""The app as its users use it (session 15): leaving a found column out, the shifts' time zone
from where the incidents are, the first map before the patrol plan, and small things seen.

- the sidebar's *Columns and coordinates* offers "(none: leave it out)" per role, which maps the
  role to None (``columns={'datetime_end': None}``) for the files of that form; the library's
  advice to pass ``columns=`` reads as the form on the page;
- :func:`hotspots.tasking.time_zone_of` (the zone at the incidents' centre, tzfpy offline) is the
  tasking default in the library, the CLI and the app, said and recorded in the team plan;
- a first load with the patrol areas on draws the map first, then again with its patrol layer once
  the plan is made (a map sent once, after the plan, held it back by the plan's time: reverted);
- the standalone map's foot line leaves Leaflet's scale bar visible; the hold-out charts' legends
  one entry a line; the CLI ``change`` line counts the cells tested apart from the untested.

AppTest (no browser) as tests/test_app14.py; the map's layers are read from what the page hands
to the map component (:func:`hotspots_app.map.show_drawn`, recorded).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hotspots import cli, offline, tasking, workflows
from hotspots.constants import TIME_ZONE
from hotspots.demo import ensure_demo_csv
from hotspots.incidents import Incidents
from hotspots.ingest import read_incidents
from hotspots_app import common, data
from hotspots_app import holdout as holdout_section
from hotspots_app import map as map_section
from hotspots_app import tasking as tasking_section

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _plain(text: str) -> str:
    """A caption as the page shows it (the markdown escapes dropped)."""
    return text.replace("\\", "")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    assert not at.exception, at.exception
    return at


def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _city_csv(lon: float, lat: float, n: int = 500, seed: int = 1, window: bool = False) -> bytes:
    """A city export's shape: id, longitude, latitude, a time (or a window's start and end)."""
    rng = np.random.default_rng(seed)
    k = n // 3
    lons = np.r_[rng.normal(lon, 0.0005, k), rng.normal(lon, 0.01, n - k)]
    lats = np.r_[rng.normal(lat, 0.0004, k), rng.normal(lat, 0.008, n - k)]
    start = pd.Timestamp("2023-01-01 00:00") + pd.to_timedelta(
        rng.integers(0, 365 * 24 * 60, n), unit="min"
    )
    frame = pd.DataFrame({"Incident ID": range(1, n + 1), "Longitude": lons, "Latitude": lats})
    if window:
        frame["Committed From"] = start.strftime("%Y-%m-%d %H:%M")
        frame["Committed To"] = (start + pd.Timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M")
    else:
        frame["Date"] = start.strftime("%Y-%m-%d %H:%M")
    frame["Offense"] = "Robbery"
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


# ------------------------------------------------------------------- 1. leaving a column out
def _window_notes(at: AppTest) -> list[str]:
    return [t.value for t in at.text if "read as a time window" in t.value]


def test_the_column_form_can_leave_a_found_column_out(app):
    app.sidebar.file_uploader(key="uploads").set_value(
        ("rms.csv", _city_csv(-87.65, 41.85, window=True), "text/csv")
    )
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    box = app.sidebar.selectbox(key="colmap_datetime_end")
    assert box.value == "Committed To"  # found by its words
    assert box.options[:2] == [data.AUTOMATIC, data.LEAVE_OUT]
    assert app.sidebar.selectbox(key="colmap_time_end").value == data.AUTOMATIC
    _open(app, "Data and report")
    notes = _window_notes(app)
    assert len(notes) == 1
    # the library's advice reads as the form, not as a Python or command-line switch
    assert "Columns and coordinates" in notes[0] and "columns=" not in notes[0]
    assert "--column" not in notes[0]
    app.sidebar.selectbox(key="colmap_datetime_end").select(data.LEAVE_OUT)
    next(b for b in app.button if b.label == "Use these columns").click()
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.session_state["column_map"]["datetime_end"] is None
    # the columns found are given as shown; roles left automatic are not given at all
    assert app.session_state["column_map"]["datetime"] == "Committed From"
    assert "time_end" not in app.session_state["column_map"]
    assert app.sidebar.selectbox(key="colmap_datetime_end").value == data.LEAVE_OUT
    _open(app, "Data and report")
    assert _window_notes(app) == []  # the start alone times the rows
    assert any("Committed From" in t.value and "Columns of" in t.value for t in app.text)


def test_leave_out_maps_to_none_for_the_reader():
    """What the form hands the reader: the role mapped to None reads the start alone, as
    ``columns={'datetime_end': None}`` does in Python."""
    csv = _city_csv(-87.65, 41.85, window=True)
    both = read_incidents([("rms.csv", csv)], crime_types="all")
    alone = read_incidents([("rms.csv", csv)], crime_types="all", columns={"datetime_end": None})
    assert "time_window" in both.report.choices
    assert "time_window" not in alone.report.choices
    assert len(alone) == len(both)


def test_the_library_phrases_the_page_rewords_are_still_written():
    for said in (
        "; pass columns={'datetime_end': None} (--column datetime_end=) to read the start alone.",
        ". Name others with columns= (--column ROLE=NAME).",
    ):
        meant = common.plain("x" + said)
        assert "columns=" not in meant and "Columns and coordinates" in meant
    source = Path(tasking.__file__).with_name("ingest.py").read_text(encoding="utf-8")
    assert "columns={'datetime_end': None} (--column datetime_end=) to read the start alone." in (
        source.replace('"\n            "', "")
    )


# ------------------------------------------------------------------------ 2. the time zone
def _at(lon: float, lat: float, n: int = 50) -> Incidents:
    rng = np.random.default_rng(0)
    lo = lon + rng.normal(0, 0.01, n)
    la = lat + rng.normal(0, 0.01, n)
    from hotspots.crs import choose_crs, to_analysis

    crs, _ = choose_crs(lo, la)
    x, y = to_analysis(lo, la, crs)
    return Incidents.from_xy(x, y, crs=crs)


@pytest.mark.parametrize(
    ("lon", "lat", "zone"),
    [
        (-87.65, 41.85, "America/Chicago"),  # Chicago
        (-90.05, 35.15, "America/Chicago"),  # Memphis
        (-74.0, 40.71, "America/New_York"),
        (-2.98, 53.40, "Europe/London"),  # Liverpool
        (174.76, -36.85, "Pacific/Auckland"),
        (179.99, -16.5, "Pacific/Fiji"),  # beside the antimeridian
    ],
)
def test_time_zone_of_the_incidents_location(lon, lat, zone):
    chosen = tasking.time_zone_of(_at(lon, lat))
    assert chosen.zone == zone and chosen.how == "location"
    assert chosen.lon is not None and chosen.lat is not None
    assert abs(chosen.lat - lat) < 0.05
    assert chosen.note.startswith(f"Time zone from the incidents' location: {zone}")
    assert chosen.record["how"] == "the incidents' location" and chosen.record["zone"] == zone


def test_time_zone_of_nothing_is_the_default_said():
    empty = _at(-87.65, 41.85).subset(np.zeros(50, dtype=bool))
    chosen = tasking.time_zone_of(empty)
    assert chosen.zone == TIME_ZONE and chosen.how == "default"
    assert "no incidents" in chosen.note
    nowhere = tasking._zone_at(math.nan, math.nan)
    assert nowhere.zone == TIME_ZONE and nowhere.how == "default" and nowhere.reason


def test_the_centre_is_the_median_not_pulled_by_an_outlier():
    inc = _at(-87.65, 41.85, n=101)
    far = Incidents.from_xy(
        np.r_[inc.xy[:, 0], inc.xy[0, 0] + 3_000_000.0],
        np.r_[inc.xy[:, 1], inc.xy[0, 1]],
        crs=inc.crs,
    )
    assert tasking.time_zone_of(far).zone == "America/Chicago"


def test_task_teams_reads_shifts_where_the_incidents_are_and_records_it():
    inc = read_incidents([("chicago.csv", _city_csv(-87.65, 41.85, n=900))], crime_types="all")
    hot = workflows.detect_hotspots(inc).hotspots
    areas = workflows.patrol_areas(inc, hot)
    made = workflows.plan_patrols(inc, hot, areas, seed=3, start_date="2025-03-01", days=7)
    teams = tasking.read_teams(b"team,officers,days,start,end\nA,2,daily,18:00,02:00\n")
    tp = workflows.task_teams(made, teams, seed=1)
    assert tp.params["time_zone"] == "America/Chicago"
    assert tp.params["time_zone_from"]["how"] == "the incidents' location"
    assert any(n.startswith("Time zone from the incidents' location: America/Chicago") for n in
               tp.summary["notes"])  # fmt: skip
    assert '"time_zone_from"' in tp.to_csv()  # recorded in the export
    # a zone given stays, and the zone the location suggested is recorded beside it
    chosen = tasking.time_zone_of(inc)
    given = workflows.task_teams(
        made, teams, seed=1, time_zone="America/Denver", time_zone_from=chosen
    )
    assert given.params["time_zone"] == "America/Denver"
    assert given.params["time_zone_from"] == {
        "how": "given",
        "zone": "America/Denver",
        "suggested": "America/Chicago",
    }
    # given without a choice: as before, nothing more recorded
    plain_given = workflows.task_teams(made, teams, seed=1, time_zone="America/Chicago")
    assert "time_zone_from" not in plain_given.params


def test_cli_plan_with_teams_says_the_zone(tmp_path, capsys):
    csv = tmp_path / "memphis.csv"
    csv.write_bytes(_city_csv(-90.05, 35.15, n=900, seed=4))
    teams = tmp_path / "teams.csv"
    teams.write_text("team,officers,days,start,end\nA,2,daily,18:00,02:00\n", encoding="utf-8")
    code = cli.main(["plan", str(csv), "--out-dir", str(tmp_path / "out"), "--teams", str(teams)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Time zone from the incidents' location: America/Chicago" in printed
    written = (tmp_path / "out" / "team_plan.csv").read_text(encoding="utf-8")
    assert "America/Chicago" in written and "time_zone_from" in written


def test_the_app_defaults_the_zone_to_the_incidents_location(app):
    app.sidebar.file_uploader(key="uploads").set_value(
        ("chicago.csv", _city_csv(-87.65, 41.85, n=900, seed=2), "text/csv")
    )
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    _open(app, "Patrol plan")
    assert app.text_input(key="task_time_zone").value == "America/Chicago"
    said = [_plain(c.value) for c in app.caption]
    assert "Time zone from the incidents' location: America/Chicago; change it here." in said
    assert not any("the default is the UK's" in c for c in said)
    app.button(key="task_submit").click()
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    notes = [_plain(c.value) for c in app.caption]
    assert any(
        n.startswith("Time zone from the incidents' location: America/Chicago") for n in notes
    )
    # another zone typed in is used, and said as given
    app.text_input(key="task_time_zone").set_value("America/Denver")
    app.button(key="task_submit").click()
    app.run()
    notes = [_plain(c.value) for c in app.caption]
    assert any("Time zone America/Denver as given" in n for n in notes), notes
    # the tracking tab reads log times without an offset in the same zone (it was the UK's)
    _open(app, "Tracking")
    assert app.text_input(key="trk_time_zone").value == "America/Chicago"
    assert any("incidents' location: America/Chicago" in _plain(c.value) for c in app.caption)


def test_zone_caption_of_a_default():
    chosen = tasking.TimeZoneChoice(TIME_ZONE, reason="no incidents to place")
    line = tasking_section.zone_caption(chosen)
    assert TIME_ZONE in line and "no incidents to place" in line


# -------------------------------------------------- 3. the first map before the patrol plan
def test_a_first_load_draws_the_map_before_its_patrol_plan(app, monkeypatch):
    """The map comes first, without the patrol areas; the plan is made after it and the map
    drawn again with them. (A map sent once, after the plan, halved the national first load's
    bytes but held the national map back by the plan's minutes, and each session's first map
    behind every other session's plan: reverted.)"""
    seen: list[list] = []
    real = map_section.show_drawn

    def recording(drawn, **kwargs):
        seen.append(
            [getattr(g, "layer_name", "") for g in kwargs.get("feature_group_to_add") or []]
        )
        return real(drawn, **kwargs)

    monkeypatch.setattr(map_section, "show_drawn", recording)
    # data no other test plans, so the plan is not made yet
    app.sidebar.file_uploader(key="uploads").set_value(
        ("once.csv", _city_csv(-2.98, 53.40, n=700, seed=15), "text/csv")
    )
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert len(seen) == 2, seen
    assert "Patrol areas" not in seen[0] and "Patrol areas" in seen[1]
    # the layer switched off and on: the plan is cached, one map per run
    app.toggle(key="show_patrol_areas").set_value(False)
    app.run()
    assert "Patrol areas" not in seen[-1]
    app.toggle(key="show_patrol_areas").set_value(True)
    app.run()
    assert len(seen) == 4 and "Patrol areas" in seen[-1]


# ----------------------------------------------------------------------- 4. small things seen
def test_the_standalone_maps_foot_leaves_the_scale_bar_clear():
    import folium

    m = folium.Map(location=[53.4, -2.98], zoom_start=12, tiles=None, control_scale=True)
    page = offline.standalone_html(m, params={"version": "x", "method": 'kde "<b>"'})
    assert f".leaflet-bottom{{bottom:{offline.FOOTER_PX}px}}" in page
    foot = page[page.index("id hotspots-parameters).") - 400 :]
    assert f"height:{offline.FOOTER_PX}px" in foot and "white-space:nowrap" in foot
    assert "<b>" not in foot  # escaped in the text and in its title


def test_holdout_legends_take_one_entry_a_line():
    frame = pd.DataFrame(
        {"coverage": [1.0, 2.0], "hit_rate": [0.1, 0.2], "forecast": ["a", "b"], "kind": "method"}
    )
    spec = holdout_section._chart(frame, "coverage", "hit_rate", "t", "x", "y").to_dict()
    legend = spec["encoding"]["color"]["legend"]
    assert legend["columns"] == 1 and legend["orient"] == "bottom"
    # the plot keeps its height under the legend's lines (Streamlit's "fit" squeezed it)
    assert spec["height"] == holdout_section.CHART_HEIGHT
    assert spec["autosize"]["type"] == "fit-x"


def test_holdout_pai_chart_leaves_out_a_pai_of_zero():
    """Memphis's check had one reading of PAI 0: the log-scale chart drew no line at all."""
    frame = pd.DataFrame(
        {
            "coverage": [0.5, 1.0, 0.5, 1.0],
            "pai": [0.0, 2.0, 3.0, 4.0],
            "forecast": ["a", "a", "b", "b"],
            "kind": "method",
        }
    )
    spec = holdout_section._chart(frame, "coverage", "pai", "t", "x", "y").to_dict()
    values = next(iter(spec["datasets"].values()))
    assert [v["pai"] for v in values] == [2.0, 3.0, 4.0]
    assert spec["encoding"]["y"]["scale"]["type"] == "log"


def test_cli_change_counts_the_tested_cells_apart(tmp_path, capsys):
    dest = tmp_path / "c.geojson"
    assert cli.main(["change", str(ensure_demo_csv()), "-o", str(dest)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("Wrote"))
    inc = workflows.filter_inputs(
        workflows.read_inputs([str(ensure_demo_csv())], crime_types="all"),
        crime_types="default",
    )
    res = workflows.change_between_periods(inc)
    c = res.counts()
    tested = int(res.cells["tested"].sum())
    cells = len(res.cells)
    assert line == (
        f"Wrote the {tested:,} cells that hold enough incidents to show a change to {dest} "
        f"(of {cells:,} cells with an incident): {c['rose']:,} rose, {c['fell']:,} fell, "
        f"{tested - c['rose'] - c['fell']:,} showed no clear change. The other "
        f"{cells - tested:,} hold too few incidents to tell (--all-cells writes them too)."
    )
    assert cli.main(["change", str(ensure_demo_csv()), "-o", str(dest), "--all-cells"]) == 0
    assert f"Wrote all {cells:,} cells with an incident" in capsys.readouterr().out
