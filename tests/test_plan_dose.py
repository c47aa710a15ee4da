"""The plan carries out each area's recommended dose, or says where capacity does not allow it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hotspots.patrol import make_patrol_plan
from hotspots.tactics import Dose, PatrolWindow


def _window(start: int, end: int, days: tuple[int, ...]) -> PatrolWindow:
    names = "Mon Tue Wed Thu Fri Sat Sun".split()
    label = f"{names[days[0]]}-{names[days[-1]]} {start:02d}:00-{end:02d}:00"
    return PatrolWindow(start, end, days, "profile", label)


def _dose(per_day: int, window: PatrolWindow) -> Dose:
    return Dose(
        visit_minutes=15, min_minutes=10, max_minutes=None, visits_per_day=per_day,
        revisit_hours=None, minutes_per_hour=None, days=window.days, other_days_visits=1,
        consecutive_days=None, max_gap_days=3, duration=None, campaign_days=None,
        review_days=90, window=window, text="test dose",
    )  # fmt: skip


def _areas(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patrol_area_id": [f"A{i}" for i in range(n)],
            "rank": np.arange(1, n + 1),
            "has_time": True,
            "peak_start_hour": 18,
            "peak_end_hour": 23,
            "peak_days": "",
        }
    )


FRI_SAT = _window(20, 2, (4, 5))
EVERY_DAY = _window(12, 20, tuple(range(7)))
START = "2026-12-07"  # a Monday


def test_recommended_dose_is_carried_out_on_peak_days_only():
    # Capacity: 8 officer-hours / 2 officers = 240 team-minutes; a visit costs 15 + 5 = 20, so
    # 12 visits a day. A0 asks for 4 visits on Fri-Sat, the others 1: all four areas fit
    # (4 + 1 + 1 + 1 = 7 <= 12), no controls.
    areas = _areas(4)
    doses = {"A0": _dose(4, FRI_SAT), **{f"A{i}": _dose(1, EVERY_DAY) for i in (1, 2, 3)}}
    plan = make_patrol_plan(
        areas, days=14, start_date=START, officer_hours=8, travel_minutes=5, seed=3,
        doses=doses, dose="recommended",
    )  # fmt: skip
    v = plan.visits[plan.visits["arm"] == "patrol"]
    a0 = v[v["patrol_area_id"] == "A0"]
    per_day = a0.groupby("date").size()
    weekday = pd.to_datetime(per_day.index).day_of_week
    assert set(per_day[weekday.isin([4, 5])]) == {4}
    assert set(per_day[~weekday.isin([4, 5])]) == {1}
    # Every visit of A0 lies in its 20:00-02:00 window (plan days start 06:00).
    hours = (a0["start"] - pd.to_datetime(a0["date"])).dt.total_seconds() / 3600
    ends = (a0["end"] - pd.to_datetime(a0["date"])).dt.total_seconds() / 3600
    assert ((hours >= 20) & (ends <= 26)).all()
    assert plan.summary["dose_notes"] == []
    assert plan.params["dose"] == "recommended"
    assert plan.areas.loc[0, "visits_per_peak_day"] == 4


def test_capacity_is_never_exceeded_and_fewer_areas_are_planned():
    # 12 visits a day; every area asks 5 on Fri-Sat: at most two areas (10 <= 12 < 15).
    areas = _areas(6)
    doses = {f"A{i}": _dose(5, FRI_SAT) for i in range(6)}
    plan = make_patrol_plan(
        areas, days=14, start_date=START, officer_hours=8, travel_minutes=5, seed=1,
        doses=doses, dose="recommended",
    )  # fmt: skip
    assert plan.summary["areas_planned"] == 2
    v = plan.visits[plan.visits["arm"] == "patrol"]
    used = (v["minutes"] + v["travel_minutes"]).groupby(v["date"]).sum()
    assert used.max() <= 240
    assert used.max() == 10 * 20  # the Fri-Sat days carry both full doses


def test_window_too_short_for_the_dose_is_cut_and_said():
    # A 2-hour window holds 8 visits of 15 minutes; the dose asks for 10.
    short = _window(20, 22, (4, 5))
    areas = _areas(1)
    plan = make_patrol_plan(
        areas, days=7, start_date=START, officer_hours=40, travel_minutes=5, seed=1,
        doses={"A0": _dose(10, short)}, dose="recommended",
    )  # fmt: skip
    v = plan.visits[plan.visits["arm"] == "patrol"]
    assert v.groupby("date").size().max() == 8
    (note,) = plan.summary["dose_notes"]
    assert "asks for 10 visits a day" in note and "holds only 8" in note
    assert note in plan.summary["notes"]


def test_uniform_plan_is_unchanged_by_doses_and_names_the_shortfall():
    areas = _areas(5)
    doses = {"A0": _dose(4, FRI_SAT), **{f"A{i}": _dose(1, EVERY_DAY) for i in range(1, 5)}}
    kw = {"days": 14, "start_date": START, "officer_hours": 8, "seed": 5, "control_share": 0.4}
    created = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    base = make_patrol_plan(areas, created=created, **kw)
    with_doses = make_patrol_plan(areas, created=created, doses=doses, **kw)
    pd.testing.assert_frame_equal(base.visits, with_doses.visits)
    (note,) = with_doses.summary["dose_notes"]
    assert note.startswith("A0: its recommendation asks for 4 visits a day")


@pytest.mark.parametrize(
    ("per_day", "k", "share", "expected"),
    [
        ([3, 1, 1, 1], 4, 0.0, (2, 0)),  # 3 + 1 fits, 3 + 1 + 1 does not
        ([3, 1, 1, 1], 4, 0.5, (4, 2)),  # two treated a day: worst 3 + 1 = 4
        ([1, 1, 1, 1], 2, 0.0, (2, 0)),  # the uniform rule: T <= k // 1
    ],
)
def test_plan_size_by_hand(per_day, k, share, expected):
    areas = _areas(len(per_day))
    doses = {f"A{i}": _dose(p, EVERY_DAY) for i, p in enumerate(per_day)}
    # 25 minutes a visit (15 + 10 travel) at 2 officers: officer_hours buys k visits.
    plan = make_patrol_plan(
        areas, days=6, start_date=START, officer_hours=k * 25 * 2 / 60, seed=2,
        control_share=share, doses=doses, dose="recommended",
    )  # fmt: skip
    s = plan.summary
    assert (s["areas_planned"], s["controls_per_day"]) == expected


def test_unknown_dose_mode_is_refused():
    from hotspots._errors import ParameterError

    with pytest.raises(ParameterError, match="dose must be"):
        make_patrol_plan(_areas(2), days=3, start_date=START, dose="double")


def test_cli_plan_dose_recommended_is_recorded_in_the_outputs(tmp_path, demo_csv):
    import json

    from hotspots import cli

    out = tmp_path / "plan"
    args = ["--quiet", "plan", str(demo_csv), "--out-dir", str(out), "--days", "14"]
    assert cli.main([*args, "--dose", "recommended", "--seed", "1"]) == 0
    rows = pd.read_csv(out / "patrol_plan.csv")
    params = json.loads(rows["plan_parameters"].iloc[0])
    assert params["dose"] == "recommended"
    per_day = rows[rows["arm"] == "patrol"].groupby(["patrol_area_id", "date"]).size()
    assert per_day.max() > 1  # the demo's night-time tactics ask for revisits


def test_recommended_doses_that_leave_areas_out_say_why_and_what_uniform_would_plan():
    # 12 visits a day (as above). A0 asks for 8 visits, A1 for 5, the rest 1: A0 alone fits;
    # with A1 a peak day needs 8 + 5 = 13 > 12. One visit a day per area plans 12 of the 20.
    areas = _areas(20)
    doses = {"A0": _dose(8, FRI_SAT), "A1": _dose(5, FRI_SAT)}
    doses |= {f"A{i}": _dose(1, EVERY_DAY) for i in range(2, 20)}
    plans = {
        dose: make_patrol_plan(
            areas,
            days=14,
            start_date=START,
            officer_hours=8,
            travel_minutes=5,
            seed=3,
            doses=doses,
            dose=dose,
        )  # fmt: skip
        for dose in ("recommended", "uniform")
    }
    assert plans["recommended"].summary["areas_planned"] == 1
    assert plans["uniform"].summary["areas_planned"] == 12
    (note,) = [n for n in plans["recommended"].summary["notes"] if "the next area" in n]
    assert "12 visits a day that capacity funds cover 1 area(s)" in note
    assert "the next area, A1, asks for 5 visit(s)" in note
    assert "a peak day could need 13" in note
    assert "plans 12 areas" in note
    assert not [n for n in plans["uniform"].summary["notes"] if "the next area" in n]
