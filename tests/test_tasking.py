"""Tests for hotspots.tasking: routes teams can deliver, block-randomised controls, calendars."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import constants as c
from hotspots._errors import InputError, ParameterError
from hotspots.assess import area_day_counts
from hotspots.export import team_plan_to_csv, vtimezone_lines
from hotspots.incidents import Incidents
from hotspots.tasking import (
    SPACING_VISITS,
    Shift,
    Team,
    VisitDose,
    control_blocks,
    make_team_plan,
    parse_days,
    read_teams,
    render_team_sheets,
    travel_matrix,
)

LONDON = ZoneInfo("Europe/London")
EVERY_DAY = tuple(range(7))


def _areas(rows):
    """Patrol areas from (id, hotspot, x, y, start_hour, end_hour, peak_days) tuples."""
    return pd.DataFrame(
        {
            "patrol_area_id": [r[0] for r in rows],
            "hotspot_id": [r[1] for r in rows],
            "rank": np.arange(1, len(rows) + 1),
            "centre_x": [float(r[2]) for r in rows],
            "centre_y": [float(r[3]) for r in rows],
            "radius_m": 75.0,
            "has_time": True,
            "peak_start_hour": [r[4] for r in rows],
            "peak_end_hour": [r[5] for r in rows],
            "peak_days": [r[6] for r in rows],
        }
    )


def _team(name="Alpha", days=EVERY_DAY, start=18, end=22, officers=2):
    return Team(name, officers, (Shift(tuple(days), dt.time(start), dt.time(end)),))


def _t(s):
    return pd.Timestamp(s, tz="Europe/London")


# ------------------------------------------------------------------------------- hand-checked


def test_two_areas_one_team_exact_route_and_times():
    # B's window closes first (18:00-19:00: latest start 18:45), A's opens at 20:00: the only
    # order is B then A; B starts with the shift, A when its window opens (walk 13 min < wait).
    areas = _areas([("A", "H1", 0, 0, 20, 22, None), ("B", "H2", 800, 0, 18, 19, None)])
    travel = pd.DataFrame([[0, 13], [13, 0]], index=["A", "B"], columns=["A", "B"])
    plan = make_team_plan(
        areas,
        [_team()],
        start_date="2026-03-02",
        days=1,
        travel_minutes=travel,
        seed=1,
        vary_times=False,
    )
    r = plan.route("Alpha")
    assert r["patrol_area_id"].tolist() == ["B", "A"]
    assert r["order"].tolist() == [1, 2]
    assert r["start"].tolist() == [_t("2026-03-02 18:00"), _t("2026-03-02 20:00")]
    assert r["end"].tolist() == [_t("2026-03-02 18:15"), _t("2026-03-02 20:15")]
    assert r["travel_minutes"].tolist() == [0, 13]
    row = plan.shifts.iloc[0]
    assert (row["visits"], row["patrol_minutes"], row["travel_minutes"]) == (2, 30, 13)


def test_travel_time_is_counted_between_visits():
    # A must start by 18:45; B is open all evening; a 40-minute walk. A first at 18:00, B at
    # 18:15 + 40 = 18:55 (B first would bring A to 18:55, after its latest start).
    areas = _areas([("A", "H1", 0, 0, 18, 19, None), ("B", "H2", 3000, 0, 18, 23, None)])
    travel = pd.DataFrame([[0, 40], [40, 0]], index=["A", "B"], columns=["A", "B"])
    plan = make_team_plan(
        areas,
        [_team()],
        start_date="2026-03-02",
        days=1,
        travel_minutes=travel,
        seed=1,
        vary_times=False,
    )
    r = plan.route("Alpha")
    assert r["patrol_area_id"].tolist() == ["A", "B"]
    assert r["start"].tolist() == [_t("2026-03-02 18:00"), _t("2026-03-02 18:55")]
    assert r["travel_minutes"].tolist() == [0, 40]


def test_walking_rule_minutes():
    # 800 m straight x 4/pi = 1018.6 m of street at 4.8 km/h (80 m/min) = 12.73 -> 13 minutes
    areas = _areas([("A", "H1", 0, 0, 18, 22, None), ("B", "H2", 800, 0, 18, 22, None)])
    m = travel_matrix(areas)
    assert m.loc["A", "B"] == 13 and m.loc["B", "A"] == 13 and m.loc["A", "A"] == 0
    assert c.WALKING_SPEED_KMH == 4.8
    assert c.STREET_DETOUR == pytest.approx(4 / math.pi)
    slow = travel_matrix(areas, walking_speed_kmh=2.4)
    assert slow.loc["A", "B"] == 26  # 25.46 -> 26


def test_travel_callable_is_used():
    areas = _areas([("A", "H1", 0, 0, 18, 19, None), ("B", "H2", 0, 0, 18, 23, None)])
    plan = make_team_plan(
        areas,
        [_team()],
        start_date="2026-03-02",
        days=1,
        travel_minutes=lambda a, b: 7.2,
        seed=1,
        vary_times=False,
    )
    assert plan.route("Alpha")["travel_minutes"].tolist() == [0, 8]  # rounded up
    assert plan.params["travel_rule"] == "table"


def test_full_shift_keeps_the_higher_ranked_visits_and_states_the_rest():
    # a 30-minute shift holds one 15-minute visit: a second would need 15 + 20 + 15 minutes
    areas = _areas([("A", "H1", 0, 0, 18, 19, None), ("B", "H2", 0, 2000, 18, 19, None)])
    travel = pd.DataFrame([[0, 20], [20, 0]], index=["A", "B"], columns=["A", "B"])
    plan = make_team_plan(
        areas,
        [Team("Alpha", 2, (Shift(EVERY_DAY, dt.time(18), dt.time(18, 30)),))],
        start_date="2026-03-02",
        days=4,
        travel_minutes=travel,
        seed=1,
    )
    assert plan.visits["patrol_area_id"].tolist() == ["A"] * 4  # rank 1 kept
    assert plan.shortfall["patrol_area_id"].tolist() == ["B"] * 4
    b = plan.areas.set_index("patrol_area_id").loc["B"]
    assert b["unrouted_days"] == 4 and b["patrol_days"] == 0 and b["max_gap_days"] == 5
    assert not b["gap_kept"] and "no room" in b["shortfall"]
    assert any(n.startswith("B: ") for n in plan.notes)


# ------------------------------------------------------------------------------- properties


def _random_case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 14))
    rows = []
    for k in range(n):
        start = int(rng.integers(12, 24))
        length = int(rng.integers(2, 8))
        days = None if rng.random() < 0.5 else sorted(rng.choice(7, size=3, replace=False))
        rows.append(
            (f"P{k}", f"H{k // 2}", *rng.uniform(0, 3000, 2), start, (start + length) % 24, days)
        )
    teams = [
        Team("Alpha", 2, (Shift((0, 1, 2, 3), dt.time(16), dt.time(0)),)),
        Team(
            "Bravo",
            3,
            (
                Shift((4, 5), dt.time(19), dt.time(3)),
                Shift((6,), dt.time(12), dt.time(20)),
            ),
        ),
    ]
    return _areas(rows), teams


def _minutes(a, b):
    return (b - a).total_seconds() / 60


@pytest.mark.parametrize("seed", range(6))
def test_no_team_is_ever_in_two_places_and_every_visit_is_in_its_window(seed):
    areas, teams = _random_case(seed)
    plan = make_team_plan(
        areas, teams, start_date="2026-10-19", days=14, control_share=0.5, seed=seed
    )
    travel = travel_matrix(areas)
    v = plan.visits[plan.visits["arm"] == "patrol"]
    assert len(v) > 0
    for _team_name, mine in v.groupby("team"):
        mine = mine.sort_values("start")
        for (_, a), (_, b) in zip(mine.iloc[:-1].iterrows(), mine.iloc[1:].iterrows(), strict=True):
            # never two places at once, and the walk fits between visits of one shift
            assert b["start"] >= a["end"]
            if a["shift_start"] == b["shift_start"]:
                walk = travel.loc[a["patrol_area_id"], b["patrol_area_id"]]
                assert _minutes(a["end"], b["start"]) >= walk
                assert b["travel_minutes"] == walk
    assert (v["start"] >= v["window_start"]).all() and (v["end"] <= v["window_end"]).all()
    assert (v["start"] >= v["shift_start"]).all() and (v["end"] <= v["shift_end"]).all()
    assert ((v["end"] - v["start"]) == pd.Timedelta(minutes=c.VISIT_MINUTES)).all()
    # peak days are plan days: the visit's plan day is one of the area's peak days
    peak = areas.set_index("patrol_area_id")["peak_days"]
    for _, r in v.iterrows():
        days = peak[r["patrol_area_id"]]
        if days is not None:
            assert r["date"].weekday() in days
    # the same inputs give the same plan
    again = make_team_plan(
        areas, teams, start_date="2026-10-19", days=14, control_share=0.5, seed=seed
    )
    pd.testing.assert_frame_equal(plan.visits, again.visits)


@pytest.mark.parametrize("seed", range(4))
def test_gap_rule_kept_or_shortfall_stated(seed):
    areas, teams = _random_case(seed)
    plan = make_team_plan(areas, teams, start_date="2026-03-02", days=21, seed=seed)
    a = plan.areas
    assert ((a["gap_kept"]) | (a["shortfall"] != "")).all()
    # the gap is what the visits show: from the day before the plan to the day after it
    v = plan.visits[plan.visits["arm"] == "patrol"]
    for _, r in a.iterrows():
        idx = sorted(
            (d - pd.Timestamp("2026-03-02")).days
            for d in v.loc[v["patrol_area_id"] == r["patrol_area_id"], "date"]
        )
        assert r["max_gap_days"] == int(np.diff([-1, *idx, 21]).max())
        assert r["gap_kept"] == (r["max_gap_days"] <= c.MAX_GAP_DAYS)


def test_peak_days_that_break_the_gap_rule_are_said():
    areas = _areas([("A", "H1", 0, 0, 20, 22, [4, 5]), ("B", "H2", 500, 0, 20, 22, None)])
    plan = make_team_plan(areas, [_team()], start_date="2026-03-02", days=14, seed=3)
    a = plan.areas.set_index("patrol_area_id")
    assert a.loc["A", "patrol_days"] == 4  # Fri 6, Sat 7, Fri 13, Sat 14
    assert a.loc["A", "max_gap_days"] == 6 and not a.loc["A", "gap_kept"]
    assert "peak days" in a.loc["A", "shortfall"]
    assert a.loc["B", "gap_kept"] and a.loc["B", "shortfall"] == ""
    off = make_team_plan(
        areas, [_team()], start_date="2026-03-02", days=14, seed=3, use_peak_days=False
    )
    assert off.areas.set_index("patrol_area_id").loc["A", "patrol_days"] == 14


def test_window_no_shift_meets_is_never_visited_and_said():
    areas = _areas([("A", "H1", 0, 0, 8, 10, None), ("B", "H2", 500, 0, 20, 22, None)])
    plan = make_team_plan(areas, [_team()], start_date="2026-03-02", days=3, seed=3)
    a = plan.areas.set_index("patrol_area_id")
    assert a.loc["A", "eligible_days"] == 0 and a.loc["A", "patrol_days"] == 0
    assert "no shift meets its window" in a.loc["A", "shortfall"]


# ------------------------------------------------------------------------------- blocks


def _block_areas():
    return _areas(
        [
            ("H1-P1", "H1", 0, 0, 18, 22, None),
            ("H1-P2", "H1", 1000, 0, 18, 22, None),  # same hot spot, far: same block
            ("H2-P1", "H2", 0, 240, 18, 22, None),  # 240 m from H1-P1 (< 250): same block
            ("H3-P1", "H3", 3000, 0, 18, 22, None),
            ("H4-P1", "H4", 0, 3000, 18, 22, None),
            ("H5-P1", "H5", 3000, 3000, 18, 22, None),
            ("H6-P1", "H6", 3000, 260, 18, 22, None),  # 260 m from H3-P1: apart
        ]
    )


def test_control_blocks_by_hot_spot_and_separation():
    blocks, sep = control_blocks(_block_areas())
    assert sep == 2 * 75 + c.CONTROL_SEPARATION_BUFFER_M == 250
    assert blocks.tolist() == [1, 1, 1, 2, 3, 4, 5]
    wide, _ = control_blocks(_block_areas(), separation_m=300)
    assert wide["H6-P1"] == wide["H3-P1"]


@pytest.mark.parametrize("seed", range(5))
def test_blocks_are_patrolled_or_held_back_together(seed):
    teams = [_team("Alpha"), _team("Bravo", start=17, end=23)]
    plan = make_team_plan(
        _block_areas(), teams, start_date="2026-03-02", days=21, control_share=0.5, seed=seed
    )
    v = plan.visits
    assert (v["arm"] == "control").any()
    arms = v.pivot_table(index="date", columns="block", values="arm", aggfunc=set)
    for cell in arms.to_numpy().ravel():
        assert len(cell) == 1  # one arm per block and day
    # a control never waits past the gap rule: runs of control days are at most max_gap - 1
    for _pid, mine in v.sort_values("date").groupby("patrol_area_id"):
        run = 0
        for arm in mine["arm"]:
            run = run + 1 if arm == "control" else 0
            assert run <= c.MAX_GAP_DAYS - 1
    assert plan.areas["gap_kept"].all()
    assert plan.params["seed"] == seed
    # half the 5 blocks (2 or 3: round(2.5) = 2) are controls on days without forcing
    per_day = v[v["arm"] == "control"].groupby("date")["block"].nunique()
    assert per_day.max() <= 2


def test_forced_days_are_marked_and_assess_leaves_them_out():
    plan = make_team_plan(
        _block_areas(), [_team()], start_date="2026-03-02", days=21, control_share=0.5, seed=7
    )
    v = plan.visits
    forced = v[v["forced"]]
    assert len(forced) > 0
    assert (forced["assignment"] == "forced").all() and (forced["arm"] == "patrol").all()
    assert (v.loc[~v["forced"], "assignment"] == "random").all()
    # every forced patrol followed max_gap - 1 control days or had no later chance
    polys = gpd.GeoDataFrame(
        {"patrol_area_id": _block_areas()["patrol_area_id"]},
        geometry=[
            shapely.Point(x, y).buffer(75)
            for x, y in _block_areas()[["centre_x", "centre_y"]].to_numpy()
        ],
        crs=27700,
    )
    days = pd.date_range("2026-03-02", periods=21)
    inc = Incidents.from_xy(
        np.zeros(21) + 1.0,
        np.zeros(21) + 1.0,
        crs=27700,
        datetime=[d + pd.Timedelta(hours=20) for d in days],
    )
    table = area_day_counts(plan, polys, inc)
    merged = table.merge(
        v.groupby(["date", "patrol_area_id"])["forced"].max().reset_index(),
        on=["date", "patrol_area_id"],
    )
    assert len(merged) == len(table) == len(v)
    assert (merged["assignment"] == np.where(merged["forced"], "forced", "random")).all()
    assert (merged["in_effect"] == ~merged["forced"]).all()


# ------------------------------------------------------------------------------- calendars


def _parse_ical(text):
    """Events' (DTSTART, DTEND) as aware datetimes, by hand: TZID forms through zoneinfo."""
    unfolded = text.replace("\r\n ", "")
    assert "\r\n" in text and all(len(x.encode()) <= 75 for x in text.split("\r\n"))
    out = []
    for ev in re.findall(r"BEGIN:VEVENT\r\n(.*?)END:VEVENT", unfolded, flags=re.S):
        times = []
        for key in ("DTSTART", "DTEND"):
            m = re.search(rf"^{key}(;TZID=([^:]+))?:(\d{{8}}T\d{{6}})(Z?)\r?$", ev, flags=re.M)
            assert m, ev
            naive = dt.datetime.strptime(m.group(3), "%Y%m%dT%H%M%S")
            if m.group(4) == "Z":
                times.append(naive.replace(tzinfo=dt.UTC))
            else:
                assert m.group(2) == "Europe/London"  # never a floating time
                times.append(naive.replace(tzinfo=ZoneInfo(m.group(2))))
        out.append(tuple(times))
    return out


def test_ical_has_a_real_time_zone_and_round_trips_across_the_clock_change():
    # Sat 24 Oct 2026 to Mon 26 Oct: clocks go back at 02:00 BST on Sunday 25 October.
    areas = _areas([("A", "H1", 0, 0, 22, 3, None), ("B", "H2", 400, 0, 1, 3, None)])
    team = Team("Night", 2, (Shift(EVERY_DAY, dt.time(21), dt.time(4)),))
    plan = make_team_plan(areas, [team], start_date="2026-10-24", days=3, seed=2, vary_times=False)
    shift = plan.shifts.set_index("date").loc[pd.Timestamp("2026-10-24")]
    assert shift["shift_end"] - shift["shift_start"] == pd.Timedelta(hours=8)  # 21:00-04:00 +1 h
    text = plan.to_ical("Night")
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/London" in text
    assert "DTSTART:20261025T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000" in text
    assert "DTSTART:20260329T010000\r\nTZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100" in text
    events = _parse_ical(text)
    v = plan.route("Night")
    assert len(events) == len(v) == 6
    got = sorted((a.astimezone(dt.UTC), b.astimezone(dt.UTC)) for a, b in events)
    want = sorted(
        (s.to_pydatetime().astimezone(dt.UTC), e.to_pydatetime().astimezone(dt.UTC))
        for s, e in zip(v["start"], v["end"], strict=True)
    )
    assert got == want
    # B's 01:00 visit on the night the clocks go back falls in the hour shown twice: in UTC
    b = v[(v["patrol_area_id"] == "B") & (v["date"] == pd.Timestamp("2026-10-24"))].iloc[0]
    assert b["start"] == pd.Timestamp("2026-10-25 00:00", tz="UTC")
    assert "DTSTART:20261025T000000Z" in text


def test_vtimezone_matches_the_zone_database():
    lines = vtimezone_lines(
        "America/New_York",
        dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    text = "\n".join(lines)
    assert "DTSTART:20260308T020000\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\nTZNAME:EDT" in text
    assert "DTSTART:20261101T020000\nTZOFFSETFROM:-0400\nTZOFFSETTO:-0500\nTZNAME:EST" in text


def test_csv_and_sheets():
    areas = _areas([("A", "H1", 0, 0, 20, 22, None), ("B", "H2", 800, 0, 18, 19, None)])
    plan = make_team_plan(
        areas, [_team()], start_date="2026-03-02", days=2, seed=1, vary_times=False
    )
    text = team_plan_to_csv(plan)
    head, first = text.splitlines()[:2]
    assert head.startswith("date,weekday,team,shift,shift_start,shift_end,order,start,end,minutes")
    assert "2026-03-02T18:00:00+00:00" in first
    params = json.loads(pd.read_csv(pd.io.common.StringIO(text))["plan_parameters"][0])
    assert params["seed"] == 1 and params["time_zone"] == "Europe/London"
    html = render_team_sheets(plan, "Alpha")
    assert html.count('class="sheet"') == 2  # one per shift
    assert "18:00" in html and "20:00" in html and "PACE" in html
    with pytest.raises(ParameterError, match="not in the plan"):
        render_team_sheets(plan, "Zulu")


# ------------------------------------------------------------------------------- inputs


def test_read_teams_csv_and_json(tmp_path):
    p = tmp_path / "teams.csv"
    p.write_text(
        "team,officers,days,start,end\nAlpha,2,Fri-Sat,18:00,02:00\nAlpha,,Sun,14:00,22:00\n"
        "Bravo,3,Mon-Thu,16:00,00:00\n"
    )
    teams = read_teams(p)
    assert [t.name for t in teams] == ["Alpha", "Bravo"]
    assert teams[0].officers == 2 and teams[1].officers == 3
    assert teams[0].shifts[0] == Shift((4, 5), dt.time(18), dt.time(2))
    assert teams[0].shifts[1].days == (6,) and teams[1].shifts[0].days == (0, 1, 2, 3)
    assert teams[0].shifts[0].label == "Fri-Sat 18:00-02:00"
    doc = {
        "teams": [
            {"name": "Alpha", "shifts": [{"days": ["Fri", "Sat"], "start": "1800", "end": "02:00"}]}
        ]
    }
    j = read_teams(json.dumps(doc).encode(), name="teams.json")
    assert j[0].shifts[0] == teams[0].shifts[0] and j[0].officers == 2
    # a spreadsheet's semicolon export, and UTF-16, read as incident files are
    semi = "team;officers;days;start;end\nAlpha;2;Fri-Sat;18:00;02:00\nAlpha;;Sun;14:00;22:00\n"
    semi += "Bravo;3;Mon-Thu;16:00;00:00\n"
    assert read_teams(semi.encode("cp1252"), name="teams.csv") == teams
    assert read_teams(semi.encode("utf-16"), name="teams.csv") == teams
    bad = tmp_path / "bad.csv"
    bad.write_text("team,days,start,end\nAlpha,Fri,25:00,02:00\n")
    with pytest.raises(InputError) as e:
        read_teams(bad)
    assert e.value.row == 2


def test_parse_days():
    assert parse_days("Mon-Fri") == (0, 1, 2, 3, 4)
    assert parse_days("Fri-Mon") == (0, 4, 5, 6)
    assert parse_days("fri;saturday") == (4, 5)
    assert parse_days("daily") == EVERY_DAY
    with pytest.raises(ParameterError):
        parse_days("Funday")


def test_refusals():
    areas = _areas([("A", "H1", 0, 0, 20, 22, None)])
    overlapping = Team(
        "Alpha", 2, (Shift((4,), dt.time(18), dt.time(2)), Shift((5,), dt.time(1), dt.time(8)))
    )
    with pytest.raises(ParameterError, match="overlap"):
        make_team_plan(areas, [overlapping], start_date="2026-03-02", days=7)
    with pytest.raises(ParameterError, match="time_zone"):
        make_team_plan(areas, [_team()], time_zone="Mars/Olympus", days=1)
    with pytest.raises(ParameterError, match="visit_minutes"):
        make_team_plan(areas, [_team()], visit_minutes=5, days=1)
    with pytest.raises(ParameterError, match="control_share"):
        make_team_plan(areas, [_team()], control_share=0.9, days=1)


def test_plan_is_read_only_and_records_its_choices():
    from hotspots.record import choices_of

    areas = _areas([("A", "H1", 0, 0, 20, 22, None)])
    plan = make_team_plan(areas, [_team()], start_date="2026-03-02", days=1, seed=4)
    with pytest.raises(TypeError):
        plan.params["seed"] = 5
    with pytest.raises(AttributeError):
        plan.visits = None
    ch = choices_of(plan)
    assert ch.params["seed"] == 4 and ch.params["solver"]["local_search"] == "GREEDY_DESCENT"
    assert ch.params["solver"]["days_not_at_local_optimum"] == 0


# ------------------------------------------------------------------------------- end to end


def test_cli_plan_with_teams_end_to_end(demo_csv, tmp_path, capsys):
    from hotspots import cli

    teams = tmp_path / "teams.csv"
    teams.write_text(
        "team,officers,days,start,end\nAlpha,2,Thu-Sat,18:00,02:00\nBravo,2,daily,14:00,22:00\n"
    )
    out = tmp_path / "plan"
    args = ["plan", str(demo_csv), "--out-dir", str(out), "--days", "14", "--seed", "3"]
    args += ["--start-date", "2026-10-19", "--control-share", "0.5", "--teams", str(teams)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "Travel between areas: walking at 4.8 km/h" in printed
    names = {p.name for p in out.iterdir()}
    assert {"team_plan.csv", "team_Alpha.ics", "team_Bravo.ics"} <= names
    assert {"team_Alpha_sheets.html", "team_Bravo_sheets.html", "patrol_plan.csv"} <= names
    table = pd.read_csv(out / "team_plan.csv")
    patrol = table[table["arm"] == "patrol"]
    assert len(patrol) > 0 and set(patrol["team"]) <= {"Alpha", "Bravo"}
    assert (table["arm"] == "control").any()
    params = json.loads(table["plan_parameters"].iloc[0])
    assert params["seed"] == 3 and params["start_date"] == "2026-10-19"
    # the calendars hold the CSV's visits, at the same instants, across the 25 October change
    for team in ("Alpha", "Bravo"):
        events = _parse_ical((out / f"team_{team}.ics").read_bytes().decode("utf-8"))
        mine = patrol[patrol["team"] == team]
        want = sorted(pd.Timestamp(s).tz_convert("UTC").to_pydatetime() for s in mine["start"])
        assert sorted(a.astimezone(dt.UTC) for a, _ in events) == want
    # tracking and assess read the folder's team plan: the routes given, forced days as marked
    from hotspots.tracking import read_plan

    read = read_plan(out)
    assert len(read) == len(table) and set(read["team"]) == set(table["team"].fillna(""))
    assert (read["assignment"] == "forced").sum() == (table["assignment"] == "forced").sum()
    sheets = (out / "team_Alpha_sheets.html").read_text(encoding="utf-8")
    alpha_shifts = len({s for s in patrol.loc[patrol["team"] == "Alpha", "shift_start"]})
    assert sheets.count('class="sheet"') >= alpha_shifts > 0


def test_a_failed_route_search_is_said_not_hidden():
    rng = np.random.default_rng(0)
    rows = [(f"P{k}", f"H{k}", *rng.uniform(0, 4000, 2), 16, 23, None) for k in range(40)]
    plan = make_team_plan(
        _areas(rows), [_team(start=16, end=0)], start_date="2026-03-02", days=1, seed=1,
        time_limit_s=0.001,
    )  # fmt: skip
    # whatever the solver managed, every drawn visit is either routed or in the shortfall
    assert plan.summary["patrol_visits"] + len(plan.shortfall) == 40
    if plan.params["solver"]["days_not_at_local_optimum"] == 0:  # a machine fast enough
        assert len(plan.shortfall) == 0
        return
    assert any("did not end at a local optimum" in n for n in plan.notes)
    failed = plan.shortfall["reason"].str.startswith("the route search failed")
    assert failed.all()
    lost = plan.areas[plan.areas["unrouted_days"] > 0]
    assert lost["shortfall"].str.contains("the route search failed").all()


def test_start_times_vary_from_day_to_day_inside_the_route_slack():
    areas = _areas([("A", "H1", 0, 0, 18, 23, None), ("B", "H2", 800, 0, 18, 23, None)])
    plan = make_team_plan(areas, [_team(end=23)], start_date="2026-03-02", days=14, seed=5)
    v = plan.visits
    minutes = v["start"].dt.hour * 60 + v["start"].dt.minute
    assert (minutes % 5 == 0).all()  # on the 5-minute grid
    assert v.groupby("patrol_area_id")["start"].apply(lambda t: t.dt.time.nunique()).min() > 3
    assert (v["start"] >= v["window_start"]).all() and (v["end"] <= v["window_end"]).all()
    for _, day in v.groupby("date"):
        a, b = day.sort_values("order").iloc[0], day.sort_values("order").iloc[1]
        assert _minutes(a["end"], b["start"]) >= 13  # the walk fits
    earliest = make_team_plan(
        areas, [_team(end=23)], start_date="2026-03-02", days=14, seed=5, vary_times=False
    )
    assert earliest.visits.groupby("order")["start"].apply(lambda t: t.dt.time.nunique()).max() == 1
    # the draw of times does not change the draw of controls or the routes
    pd.testing.assert_series_equal(plan.visits["patrol_area_id"], earliest.visits["patrol_area_id"])


# ------------------------------------------------------------------------------- doses

FRI_SAT = (4, 5)


def _dose_case():
    # A: peak 18:00-00:00 on Fri-Sat, dose 3 visits there 2 h apart and one on other days;
    # B: no dose, one visit a day 18:00-22:00; 400 m apart (7 minutes' walk).
    areas = _areas([("A", "H1", 0, 0, 18, 0, list(FRI_SAT)), ("B", "H2", 400, 0, 18, 22, None)])
    doses = {"A": VisitDose(3, FRI_SAT, other_days=1, revisit_minutes=120)}
    return areas, doses


def _per_day(v, pid):
    mine = v[(v["arm"] == "patrol") & (v["patrol_area_id"] == pid)]
    return {d.strftime("%a"): n for d, n in mine.groupby("date").size().items()}


def _check_inside(v):
    p = v[v["arm"] == "patrol"]
    assert (p["start"] >= p["window_start"]).all() and (p["end"] <= p["window_end"]).all()
    assert (p["start"] >= p["shift_start"]).all() and (p["end"] <= p["shift_end"]).all()
    for _team, mine in p.groupby("team"):  # one team is never in two places
        mine = mine.sort_values("start")
        assert (mine["start"].iloc[1:].to_numpy() >= mine["end"].iloc[:-1].to_numpy()).all()


def test_a_recommended_dose_is_routed_visit_by_visit_across_teams():
    # Alpha walks 18:00-21:00 every day, Bravo 21:00-00:00 on Fri-Sat only. A's third visit on a
    # Friday or Saturday starts at least 4 h after its first (>= 22:00): only Bravo can make it.
    areas, doses = _dose_case()
    teams = [
        _team("Alpha", start=18, end=21),
        Team("Bravo", 2, (Shift(FRI_SAT, dt.time(21), dt.time(0)),)),
    ]
    plan = make_team_plan(
        areas, teams, start_date="2026-03-02", days=7, seed=4, doses=doses
    )  # Mon 2 to Sun 8 March
    v = plan.visits
    assert _per_day(v, "A") == {
        "Mon": 1,
        "Tue": 1,
        "Wed": 1,
        "Thu": 1,
        "Fri": 3,
        "Sat": 3,
        "Sun": 1,
    }
    assert _per_day(v, "B") == dict.fromkeys(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], 1)
    assert len(plan.shortfall) == 0 and plan.summary["unrouted_visits"] == 0
    _check_inside(v)
    a = v[(v["patrol_area_id"] == "A") & (v["arm"] == "patrol")]
    for day, mine in a.groupby("date"):
        mine = mine.sort_values("start")
        n = 3 if day.weekday() in FRI_SAT else 1
        assert mine["visit"].tolist() == list(range(1, n + 1))
        assert (mine["visits_in_day"] == n).all()
        gaps = mine["start"].diff().dropna()
        assert (gaps >= pd.Timedelta(hours=2)).all()  # the dose's revisit interval
        if n == 3:
            assert mine["team"].iloc[-1] == "Bravo" and mine["team"].iloc[0] == "Alpha"
    assert (v.loc[v["patrol_area_id"] == "B", "visit"] == 1).all()
    # recorded: parameters, the area table, the notes
    assert plan.params["visits_per_day"] == "recommended"
    rec = plan.params["doses"]["A"]
    assert (rec["visits_on_peak_days"], rec["visits_on_other_days"]) == (3, 1)
    assert rec["revisit_minutes"] == 120 and rec["peak_days"] == "Fri-Sat"
    assert "B" not in plan.params["doses"]
    t = plan.areas.set_index("patrol_area_id")
    assert t.loc["A", "visits_per_day"] == "3 on Fri-Sat, 1 on other days"
    assert (t.loc["A", "visits"], t.loc["A", "patrol_days"], t.loc["A", "unrouted_visits"]) == (
        11,
        7,
        0,
    )
    assert t.loc["B", "visits_per_day"] == "1" and t.loc["B", "visits"] == 7
    assert any("recommended dose" in n for n in plan.notes)
    # calendars: one event per visit, each with its own UID and its number within the day
    text = plan.to_ical("Bravo")
    uids = re.findall(r"^UID:(.*)$", text.replace("\r\n ", ""), flags=re.M)
    assert len(uids) == len(set(uids)) == len(plan.route("Bravo")) >= 2
    assert "visit 3 of 3" in text
    sheets = render_team_sheets(plan, "Alpha")
    assert "Visit of the day" in sheets and "1 of 3" in sheets and "1 of 1" in sheets
    assert "3 of 3" in render_team_sheets(plan, "Bravo")
    table = pd.read_csv(pd.io.common.StringIO(plan.to_csv()))
    fri = table[(table["date"] == "2026-03-06") & (table["patrol_area_id"] == "A")]
    assert sorted(fri["visit"]) == [1, 2, 3] and set(fri["visits_in_day"]) == {3}


def test_visits_no_shift_can_fit_are_the_shortfall_exactly():
    # One team 18:00-20:30: on Fri and Sat it can start A's visits at 18:00 and 20:00-20:15, so
    # visit 3 (>= 22:00) finds no room; B still gets its one visit in between.
    areas, doses = _dose_case()
    team = Team("Alpha", 2, (Shift(EVERY_DAY, dt.time(18), dt.time(20, 30)),))
    plan = make_team_plan(areas, [team], start_date="2026-03-02", days=7, seed=1, doses=doses)
    s = plan.shortfall
    assert s[["patrol_area_id", "visit", "visits_in_day"]].values.tolist() == [
        ["A", 3, 3],
        ["A", 3, 3],
    ]
    assert [d.strftime("%a") for d in s["date"]] == ["Fri", "Sat"]
    assert s["reason"].str.startswith("no shift had room").all()
    v = plan.visits
    assert _per_day(v, "A") == {
        "Mon": 1,
        "Tue": 1,
        "Wed": 1,
        "Thu": 1,
        "Fri": 2,
        "Sat": 2,
        "Sun": 1,
    }
    assert _per_day(v, "B") == dict.fromkeys(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], 1)
    _check_inside(v)
    t = plan.areas.set_index("patrol_area_id")
    assert (t.loc["A", "unrouted_visits"], t.loc["A", "unrouted_days"]) == (2, 0)
    assert t.loc["A", "shortfall"] == "2 visit(s) found no room in a shift (gap rule still kept)"
    assert plan.summary["unrouted_area_days"] == 0 and plan.summary["unrouted_visits"] == 2
    assert any(
        n.startswith("2 visit(s) drawn for patrol (0 whole area-day(s))") for n in plan.notes
    )
    # a spacing the window cannot hold: 3 visits 3 h apart need 6 h 15 min of a 6 h window
    wide = {"A": VisitDose(3, FRI_SAT, other_days=0, revisit_minutes=180)}
    team = _team(start=17, end=1)
    plan = make_team_plan(areas, [team], start_date="2026-03-02", days=7, seed=1, doses=wide)
    s = plan.shortfall
    assert s[["patrol_area_id", "visit", "visits_in_day"]].values.tolist() == [
        ["A", 3, 3],
        ["A", 3, 3],
    ]
    assert s["reason"].str.startswith("the window that day holds only 2 visit(s) 180 minutes").all()
    assert _per_day(plan.visits, "A") == {"Fri": 2, "Sat": 2}  # peak days only: no other-day visit
    assert (
        "more than its window holds" in plan.areas.set_index("patrol_area_id").loc["A", "shortfall"]
    )


def test_the_spacing_without_a_revisit_interval_is_stated_and_never_back_to_back():
    d = VisitDose(3, EVERY_DAY)
    assert d.spacing(360, 3, 15) == 120  # window / visits
    assert d.spacing(100, 3, 15) == SPACING_VISITS * 15 == 30  # never back to back
    assert d.spacing(360, 1, 15) == 0
    assert VisitDose(3, EVERY_DAY, revisit_minutes=90.5).spacing(360, 3, 15) == 91
    areas = _areas([("A", "H1", 0, 0, 18, 0, None)])
    plan = make_team_plan(
        areas, [_team(start=17, end=1)], start_date="2026-03-02", days=3, seed=2, doses={"A": d}
    )
    v = plan.visits.sort_values("start")
    assert len(v) == 9 and len(plan.shortfall) == 0
    for _, mine in v.groupby("date"):
        assert (mine["start"].diff().dropna() >= pd.Timedelta(minutes=120)).all()
    assert "heuristic of this product" in plan.params["doses"]["A"]["spacing_rule"]
    with pytest.raises(ParameterError, match="visits must be at least 1"):
        VisitDose(0)
    with pytest.raises(ParameterError, match="revisit_minutes"):
        VisitDose(2, revisit_minutes=0)


def test_a_tactics_dose_becomes_visits_to_route():
    from hotspots.tactics import Dose, PatrolWindow

    w = PatrolWindow(20, 2, FRI_SAT, "profile", "Fri-Sat 20:00-02:00")
    dose = Dose(
        visit_minutes=15, min_minutes=10, max_minutes=None, visits_per_day=3, revisit_hours=2.5,
        minutes_per_hour=None, days=FRI_SAT, other_days_visits=1, consecutive_days=None,
        max_gap_days=3, duration=None, campaign_days=None, review_days=90, window=w, text="",
    )  # fmt: skip
    v = VisitDose.from_dose(dose)
    assert (v.visits, v.days, v.other_days, v.revisit_minutes, v.window) == (3, FRI_SAT, 1, 150, w)
    assert VisitDose.from_dose(dose, 2).visits == 2  # as the plan cut it
    assert [v.visits_on(d) for d in range(7)] == [1, 1, 1, 1, 3, 3, 1]


def test_a_uniform_plan_is_main_s_plan_before_doses():
    # Visits that main made (f1fba0c, before per-area doses) on the demo data's 19 planned areas;
    # one visit per area and patrol day must route exactly the same, seed for seed.
    ref = json.loads((Path(__file__).parent / "data" / "team_plan_uniform_main.json").read_text())
    teams = [
        Team("Alpha", 2, (Shift((3, 4, 5), dt.time(18), dt.time(2)),)),
        Team("Bravo", 2, (Shift(EVERY_DAY, dt.time(14), dt.time(22)),)),
    ]
    plan = make_team_plan(pd.DataFrame(ref["areas"]), teams, **ref["settings"])
    got = [
        [
            r["date"].strftime("%Y-%m-%d"), r["team"], int(r["order"]), r["patrol_area_id"],
            r["arm"], r["assignment"], None if pd.isna(r["start"]) else r["start"].isoformat(),
            int(r["travel_minutes"]),
        ]
        for _, r in plan.visits.iterrows()
    ]  # fmt: skip
    assert len(got) == len(ref["visits"]) == 108
    assert got == ref["visits"]
    assert plan.params["visits_per_day"] == 1 and "doses" not in plan.params
    patrol = plan.visits[plan.visits["arm"] == "patrol"]
    assert (patrol["visit"] == 1).all() and (patrol["visits_in_day"] == 1).all()
