"""Tests for hotspots.tracking: reading patrol logs, rebuilding visits, comparing with the plan.

The central test makes GPS traces from a plan with a known delivery (some visits complete, some
short, some missed, some in control areas, with noise, jitter, a GPS gap, an excursion, a pair of
trackers and a day without data) and checks that every number comes back exactly.
"""

from __future__ import annotations

import csv
import io
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import cli
from hotspots import crs as crs_mod
from hotspots._errors import InputError, ParameterError
from hotspots.constants import GPS_GAP_S, GPS_TOLERANCE_M, MIN_VISIT_MINUTES, TIME_ZONE
from hotspots.export import json_text, patrol_areas_geojson
from hotspots.patrol import make_patrol_plan
from hotspots.tracking import (
    LOG_REASONS,
    compare_with_plan,
    read_patrol_areas,
    read_patrol_logs,
    read_plan,
    rebuild_visits,
    render_tracking_report,
    simulate_patrol_logs,
    write_patrol_log,
    write_tracking_outputs,
)

X0, Y0 = 530_000.0, 180_000.0  # central London, EPSG:27700
SUMMARY_KEYS = (
    "planned_visits", "delivered", "short", "missed", "no_data", "delivery_rate", "unit_visits",
    "presence_visits", "unplanned_visits", "extra_visits", "control_visits", "off_plan_visits",
    "unplanned_dose_visits", "planned_minutes", "minutes_on_patrol_days",
    "dose_minutes_on_patrol_days", "control_area_days", "contaminated_area_days",
    "contamination_minutes", "plan_days", "plan_days_with_data", "first_day", "last_day",
)  # fmt: skip


def _areas(n: int = 10) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "patrol_area_id": [f"A{i:02d}" for i in range(n)],
            "rank": list(range(1, n + 1)),
            "hotspot_id": [f"H{i:03d}" for i in range(n)],
        },
        geometry=[
            shapely.Point(X0 + (i % 5) * 400, Y0 + (i // 5) * 400).buffer(75, quad_segs=16)
            for i in range(n)
        ],
        crs="EPSG:27700",
    )


def _plan(start: str = "2025-05-05", days: int = 14, visits_per_day: int = 1, seed: int = 3):
    # 10 areas, capacity for 4 visits a day, half held back as controls: 9 planned, A09 left out
    return make_patrol_plan(
        _areas(),
        days=days,
        start_date=start,
        control_share=0.5,
        officer_hours=4 * visits_per_day,
        visits_per_day=visits_per_day,
        seed=seed,
    )


def _plan_dir(tmp_path, plan, areas=None):
    areas = _areas() if areas is None else areas
    folder = tmp_path / "plan"
    folder.mkdir()
    doc = patrol_areas_geojson(areas, plan=plan, params={"synthetic": True})
    (folder / "patrol_areas.geojson").write_text(json_text(doc), encoding="utf-8")
    plan.to_csv(folder / "patrol_plan.csv")
    return folder


def _lonlat(x, y):
    lon, lat = crs_mod.to_wgs84(np.asarray(x, float), np.asarray(y, float), "EPSG:27700")
    return lon, lat


def _trace(unit, start, seconds, xy):
    """Fixes of one unit at ``start + seconds`` (UTC) and BNG positions ``xy`` (or one place)."""
    seconds = list(seconds)
    if isinstance(xy, tuple):
        xy = [xy] * len(seconds)
    lon, lat = _lonlat([p[0] for p in xy], [p[1] for p in xy])
    t0 = pd.Timestamp(start, tz="UTC")
    return pd.DataFrame(
        {
            "unit": unit,
            "time": [t0 + pd.Timedelta(seconds=s) for s in seconds],
            "lat": lat,
            "lon": lon,
        }
    )


def _check_recovered(sim, compliance):
    assert {k: compliance.summary[k] for k in SUMMARY_KEYS} == {
        k: sim.truth[k] for k in SUMMARY_KEYS
    }
    got = compliance.planned.merge(
        sim.planned, on=["date", "patrol_area_id", "visit"], suffixes=("", "_true")
    )
    assert len(got) == len(sim.planned) == len(compliance.planned)
    assert (got["status"] == got["status_true"]).all()
    done = got["status"].isin(["delivered", "short"])
    np.testing.assert_array_equal(got.loc[done, "minutes"], got.loc[done, "minutes_true"])
    assert got.loc[~done, "minutes"].isna().all()
    ad = compliance.area_days[compliance.area_days["visits"] > 0].reset_index(drop=True)
    exp = sim.area_days.sort_values(["date", "patrol_area_id"]).reset_index(drop=True)
    assert list(ad["patrol_area_id"]) == list(exp["patrol_area_id"])
    assert list(pd.to_datetime(ad["date"])) == list(pd.to_datetime(exp["date"]))
    for col in ("minutes", "dose_minutes", "contamination_minutes"):
        np.testing.assert_array_equal(ad[col].to_numpy(), exp[col].to_numpy())


# ------------------------------------------------------------------ known delivery, recovered


def test_simulated_delivery_is_recovered_exactly_from_mixed_formats(tmp_path):
    plan = _plan()
    areas = _areas()
    sim = simulate_patrol_logs(plan, areas, seed=7, days_without_data=1, control_visits=3)
    t = sim.truth
    # the simulation really holds every case the comparison must tell apart
    assert t["delivered"] > 10 and t["short"] > 0 and t["missed"] > 0 and t["no_data"] > 0
    assert (t["control_visits"], t["extra_visits"], t["off_plan_visits"]) == (3, 1, 1)
    assert t["unit_visits"] == t["presence_visits"] + 1  # one visit logged by a pair
    assert t["planned_visits"] == 14 * 4 and t["control_area_days"] == 14 * 5
    assert t["planned_minutes"] == 15.0 * t["planned_visits"]
    assert t["planned_visits"] == t["delivered"] + t["short"] + t["missed"] + t["no_data"]
    assert t["contamination_minutes"] > 0
    # the same fixes split over a CSV with UTC offsets, a GPX and a GeoJSON, by unit
    pts = sim.points
    units = sorted(pts["unit"].unique())
    paths = [
        write_patrol_log(pts[pts["unit"].isin(units[0::3])], tmp_path / "avl.csv"),
        write_patrol_log(pts[pts["unit"].isin(units[1::3])], tmp_path / "radios.gpx"),
        write_patrol_log(pts[pts["unit"].isin(units[2::3])], tmp_path / "phones.geojson"),
    ]
    logs = read_patrol_logs(paths)
    assert (logs.report.n_read, logs.report.n_used, logs.report.n_rejected) == (
        len(pts),
        len(pts),
        0,
    )
    visits = rebuild_visits(logs, areas)
    compliance = compare_with_plan(visits, plan, logs=logs)
    _check_recovered(sim, compliance)
    # the hours with fixes recorded on the visits give the same days with data
    again = compare_with_plan(visits, plan)
    assert again.summary == compliance.summary


def test_recovered_from_the_plan_folder_with_naive_local_times_across_the_clock_change(tmp_path):
    # 20 Oct - 2 Nov 2025: the clocks go back on 26 October; times written without an offset
    plan = _plan(start="2025-10-20", visits_per_day=2, seed=11)
    folder = _plan_dir(tmp_path, plan)
    areas = read_patrol_areas(folder)
    table = read_plan(folder)
    sim = simulate_patrol_logs(table, areas, seed=5, days_without_data=2, interval_s=15)
    assert sim.truth["planned_visits"] == 14 * 8  # two visits a day per treated area
    log = write_patrol_log(sim.points, tmp_path / "log.csv", time_format="local")
    logs = read_patrol_logs(log, tz=TIME_ZONE)
    assert logs.report.n_rejected == 0
    assert logs.params["times_local"] == len(sim.points)
    compliance = compare_with_plan(rebuild_visits(logs, areas), table, logs=logs)
    _check_recovered(sim, compliance)


def test_all_delivered_and_all_missed():
    plan, areas = _plan(days=5), _areas()
    full = simulate_patrol_logs(plan, areas, delivery={"delivered": 1.0}, seed=1, control_visits=0)
    c = compare_with_plan(rebuild_visits(full.points, areas), plan)
    assert (c.summary["delivered"], c.summary["short"], c.summary["missed"]) == (20, 0, 0)
    assert c.summary["delivery_rate"] == 1.0 and c.summary["contamination_minutes"] == 0.0
    none = simulate_patrol_logs(
        plan, areas, delivery={"missed": 1.0}, seed=1, control_visits=0, extra_visits=0
    )
    c = compare_with_plan(rebuild_visits(none.points, areas), plan)
    assert (c.summary["delivered"], c.summary["missed"], c.summary["no_data"]) == (0, 20, 0)
    assert c.summary["presence_visits"] == c.summary["off_plan_visits"] == 1


# ------------------------------------------------------------------ visits, by hand


def _one_area():
    return gpd.GeoDataFrame(
        {"patrol_area_id": ["P1"]}, geometry=[shapely.Point(X0, Y0).buffer(75)], crs="EPSG:27700"
    )


def test_a_visit_runs_from_first_to_last_fix_and_tolerates_gap_and_jitter():
    inside = (X0 + 10, Y0 - 5)
    near = (X0 + 75 + 10, Y0)  # 10 m outside: jitter
    out = (X0 + 75 + 40, Y0)  # 40 m outside: an excursion
    secs = list(range(0, 12 * 60 + 1, 30))
    xy = [inside] * len(secs)
    xy[0] = near  # the first fix is jitter: still presence, the visit starts there
    xy[5] = xy[6] = out  # a 90 s excursion (fixes 4 and 7 are 90 s apart)
    keep = [i for i in range(len(secs)) if i not in (10, 11, 12)]  # a 120 s GPS gap
    fixes = _trace("U1", "2025-05-05 18:00", [secs[i] for i in keep], [xy[i] for i in keep])
    v = rebuild_visits(fixes, _one_area())
    assert len(v) == 1
    assert v.loc[0, "minutes"] == 12.0
    assert v.loc[0, "start"] == pd.Timestamp("2025-05-05 19:00", tz=TIME_ZONE)  # BST
    assert v.loc[0, "n_fixes"] == len(keep) - 2 and v.loc[0, "n_inside"] == len(keep) - 3
    assert v.attrs["params"]["max_gap_s"] == GPS_GAP_S
    assert v.attrs["params"]["tolerance_m"] == GPS_TOLERANCE_M
    assert v.geometry[0].geom_type == "LineString"
    # one second more than the gap tolerance splits it: 0-4.5 min and 6.5-12 min
    v = rebuild_visits(fixes, _one_area(), max_gap_s=119)
    assert list(v["minutes"]) == [4.5, 5.5]
    # without a jitter tolerance the first fix is outside, so the visit starts 30 s later
    v = rebuild_visits(fixes, _one_area(), tolerance_m=0)
    assert list(v["minutes"]) == [11.5]


def test_passing_near_without_entering_is_not_a_visit_and_a_single_fix_is_zero_minutes():
    near = (X0 + 80, Y0)
    fixes = pd.concat(
        [
            _trace("U1", "2025-05-05 10:00", [0, 30, 60], [near] * 3),
            _trace("U2", "2025-05-05 10:00", [0, 600], [(X0, Y0), (X0 + 500, Y0)]),
        ]
    )
    v = rebuild_visits(fixes, _one_area())
    assert list(v["unit"]) == ["U2"] and list(v["minutes"]) == [0.0]
    assert v.geometry[0].geom_type == "Point"
    assert any("without a fix inside" in n for n in v.attrs["notes"])


def test_units_together_are_one_presence_visit_and_timing_picks_the_match():
    area = _one_area()
    inside = (X0, Y0)
    pair = pd.concat(
        [
            _trace("U1", "2025-05-05 17:00", range(0, 25 * 30, 30), inside),  # 17:00-17:12 UTC
            _trace("U2", "2025-05-05 17:05", range(0, 25 * 30, 30), inside),  # 17:05-17:17
            _trace("U3", "2025-05-05 20:00", range(0, 13 * 60, 60), inside),  # 20:00-20:12
            _trace("U1", "2025-05-05 22:00", range(0, 5 * 60, 60), inside),  # 22:00-22:04
        ]
    )
    visits = rebuild_visits(pair, area)
    assert len(visits) == 4
    plan = pd.DataFrame(
        {
            "date": ["2025-05-05", "2025-05-05", "2025-05-06", "2025-05-07"],
            "patrol_area_id": ["P1", "P1", "P1", "P1"],
            "arm": ["patrol", "patrol", "patrol", "control"],
            "visit": [1, 2, 1, 0],
            "start": ["2025-05-05 21:00", "2025-05-05 23:00", "2025-05-06 21:00", ""],
            "end": ["2025-05-05 21:15", "2025-05-05 23:15", "2025-05-06 21:15", ""],
            "minutes": [15, 15, 15, 0],
        }
    )
    c = compare_with_plan(visits, plan)
    p = c.planned
    # local (BST): 18:00-18:17 merged visit of U1+U2, 21:00-21:12 by U3, 23:00-23:04 by U1;
    # the two dose visits pair with the two planned visits in time order
    assert list(p["status"]) == ["delivered", "delivered", "no data"]  # no fix at all on 6 May
    assert list(p["minutes"][:2]) == [17.0, 12.0]
    assert list(p["units"][:2]) == ["U1;U2", "U3"]
    assert list(p["start_offset_minutes"][:2]) == [-180.0, -120.0]
    d = c.delivered.set_index("visit_id")
    assert sorted(d["kind"]) == ["extra", "planned", "planned"]
    assert d.loc[d["kind"] == "extra", "minutes"].tolist() == [4.0]
    s = c.summary
    assert (s["unit_visits"], s["presence_visits"], s["unplanned_visits"]) == (4, 3, 1)
    assert (s["unplanned_dose_visits"], s["planned_minutes"]) == (0, 45.0)
    assert (s["minutes_on_patrol_days"], s["dose_minutes_on_patrol_days"]) == (33.0, 29.0)
    assert (s["no_data"], s["plan_days"], s["plan_days_with_data"]) == (1, 3, 1)
    assert (s["control_area_days"], s["contaminated_area_days"], s["delivery_rate"]) == (1, 0, 1.0)
    assert any("start at 06:00" in n for n in c.notes)


def test_short_visit_counts_short_and_a_dose_later_the_same_day_wins():
    area = _one_area()
    inside = (X0, Y0)
    fixes = pd.concat(
        [
            _trace("U1", "2025-05-05 17:00", range(0, 6 * 60, 60), inside),  # 6 fixes: 5 min
            _trace("U1", "2025-05-06 17:00", range(0, 6 * 60, 60), inside),  # short only
            _trace("U1", "2025-05-06 19:00", range(0, 11 * 60, 60), inside),  # 10 min: a dose
            _trace("U1", "2025-05-07 17:00", range(0, 10 * 60, 60), inside),  # 9 min
        ]
    )
    plan = pd.DataFrame(
        {
            "date": ["2025-05-05", "2025-05-06", "2025-05-07"],
            "patrol_area_id": ["P1"] * 3,
            "start": ["2025-05-05 18:00", "2025-05-06 18:00", "2025-05-07 18:00"],
        }
    )
    c = compare_with_plan(rebuild_visits(fixes, area), plan)
    assert list(c.planned["status"]) == ["short", "delivered", "short"]
    assert list(c.planned["minutes"]) == [5.0, 10.0, 9.0]
    assert c.summary["extra_visits"] == 1  # the 5-minute visit on 6 May
    assert c.summary["delivery_rate"] == pytest.approx(1 / 3)
    assert MIN_VISIT_MINUTES == 10


def test_days_without_any_fix_are_no_data_not_missed():
    area = _one_area()
    fixes = _trace("U1", "2025-05-05 17:00", range(0, 16 * 60, 60), (X0, Y0))
    plan = pd.DataFrame(
        {
            "date": ["2025-05-05", "2025-05-06"],
            "patrol_area_id": ["P1", "P1"],
            "start": ["2025-05-05 18:00", "2025-05-06 18:00"],
        }
    )
    visits = rebuild_visits(fixes, area)
    c = compare_with_plan(visits, plan)
    assert list(c.planned["status"]) == ["delivered", "no data"]
    assert c.summary["delivery_rate"] == 1.0
    visits.attrs.pop("fix_hours")
    c = compare_with_plan(visits, plan)
    assert list(c.planned["status"]) == ["delivered", "missed"]
    assert any("was not known" in n for n in c.notes)


def test_visit_in_the_small_hours_belongs_to_the_previous_plan_day():
    area = _one_area()
    fixes = _trace("U1", "2025-05-06 01:30", range(0, 15 * 60 + 1, 60), (X0, Y0))
    plan = pd.DataFrame(
        {"date": ["2025-05-05"], "patrol_area_id": ["P1"], "start": ["2025-05-06 02:30"]}
    )
    c = compare_with_plan(rebuild_visits(fixes, area), plan)
    assert list(c.planned["status"]) == ["delivered"]
    assert c.planned.loc[0, "minutes"] == 15.0


# ------------------------------------------------------------------ hostile log files


HOSTILE_CSV = (
    "Unit,Time,Lat,Lon\n"
    "A1,2025-05-05T10:00:00Z,51.5,-0.12\n"  # 2 used
    "A1,not a time,51.5,-0.12\n"  # 3
    "A1,2025-05-05 10:01,95,-0.12\n"  # 4
    "A1,2025-05-05 10:02,,-0.12\n"  # 5
    "A1,2025-05-05 10:03,abc,-0.12\n"  # 6
    "A1,2025-05-05 10:04,0,0\n"  # 7
    "A1,,51.5,-0.12\n"  # 8
    ",2025-05-05 10:05,51.5,-0.12\n"  # 9
    "A1,2025-05-05T10:00:00Z,51.5,-0.12\n"  # 10 duplicate of 2
    "A1,2025-03-30 01:30,51.5,-0.12\n"  # 11 skipped by the clocks
    "A1,2025-05-05 10:06,51.5\n"  # 12
    "\n"
    "A1,05/05/2025 10:07,51.5,-0.12\n"  # 14 used, day first
    "A1,1746439620,51.5,-0.12\n"  # 15 used, epoch
)


def test_hostile_files_never_crash_and_every_row_is_accounted_for():
    files = [
        ("a.csv", HOSTILE_CSV.encode()),
        ("radio.csv",
         "Callsign;GPS Time;Latitude;Longitude\nB2;05/05/2025 10:00;51,5;-0,12\n".encode("utf-16")),
        ("nocols.csv", b"foo,bar\n1,2\n3,4\n"),
        ("quoted.csv", b'unit,time,lat,lon\n"Unit, 1",2025-05-05T10:00:00Z,51.5,-0.12\n'
                       b'"Unit, 1",2025-05-05T10:00:30Z,51.5\n'),
        ("empty.csv", b""),
        ("book.csv", b"PK\x03\x04\x14\x00"),
        ("t.gpx", b'<?xml version="1.0"?><gpx><trk><name>C3</name><trkseg>\n'
                  b'<trkpt lat="51.5" lon="-0.12"><time>2025-05-05T10:00:00Z</time></trkpt>\n'
                  b'<trkpt lat="x" lon="-0.12"><time>2025-05-05T10:00:30Z</time></trkpt>\n'
                  b'<trkpt lat="51.5" lon="-0.12"></trkpt>\n</trkseg></trk></gpx>'),
        ("cut.gpx", b'<gpx><trk><trkseg>\n<trkpt lat="51.5" lon="-0.12"><time>2025-05-05T10:00:00Z'
                    b"</time></trkpt>\n<trkpt lat="),
        ("bomb.gpx", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><gpx>&a;</gpx>'),
        ("p.geojson", json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.12, 51.5]},
             "properties": {"callsign": "D4", "timestamp": "2025-05-05T11:00:00+01:00"}},
            {"type": "Feature",
             "geometry": {"type": "LineString", "coordinates": [[-0.12, 51.5], [-0.13, 51.51]]},
             "properties": {"callsign": "D5",
                            "coordTimes": ["2025-05-05T10:00:00Z", "2025-05-05T10:00:30Z"]}},
            5,
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []},
             "properties": {}},
        ]}).encode()),
        ("bad.geojson", b'{"type": "FeatureCollection",\n "features": [{]}'),
        ("bng.csv", b"vehicle_id,timestamp,easting,northing\n"
                    b"V1,2025-05-05T10:00:00Z,530000,180000\n"
                    b"V1,2025-05-05T10:00:30Z,9530000,180000\n"),
    ]  # fmt: skip
    logs = read_patrol_logs(files)
    rep = logs.report
    assert rep.n_read == rep.n_used + rep.n_rejected
    rej = {(r.source_file, int(r.source_row)): r.reason for r in rep.rejected.itertuples()}
    assert rej == {
        ("a.csv", 3): "unparseable time",
        ("a.csv", 4): "coordinates out of range",
        ("a.csv", 5): "missing coordinates",
        ("a.csv", 6): "non-numeric coordinates",
        ("a.csv", 7): "null island (0, 0)",
        ("a.csv", 8): "missing time",
        ("a.csv", 9): "missing unit",
        ("a.csv", 10): "duplicate fix",
        ("a.csv", 11): "nonexistent local time",
        ("a.csv", 12): "malformed row",
        ("quoted.csv", 3): "malformed row",
        ("nocols.csv", 2): "missing columns",
        ("nocols.csv", 3): "missing columns",
        ("empty.csv", 0): "unreadable file",
        ("book.csv", 0): "unreadable file",
        ("t.gpx", 3): "non-numeric coordinates",
        ("t.gpx", 4): "missing time",
        ("cut.gpx", 3): "malformed row",
        ("bomb.gpx", 1): "malformed row",
        ("p.geojson", 3): "malformed row",
        ("p.geojson", 4): "malformed row",
        ("bad.geojson", 2): "unreadable file",
        ("bng.csv", 3): "coordinates out of range",
    }
    assert set(rej.values()) <= set(LOG_REASONS)
    used = logs.points
    assert sorted(zip(used["source_file"], used["source_row"], strict=True)) == [
        ("a.csv", 2), ("a.csv", 14), ("a.csv", 15), ("bng.csv", 2), ("cut.gpx", 2),
        ("p.geojson", 1), ("p.geojson", 2), ("p.geojson", 2), ("quoted.csv", 2), ("radio.csv", 2),
        ("t.gpx", 2),
    ]  # fmt: skip
    assert rep.n_used == 11 and rep.n_rejected == 23
    by = {(r.source_file, r.source_row): r for r in used.itertuples()}
    assert by[("a.csv", 14)].time == pd.Timestamp("2025-05-05 09:07", tz="UTC")  # BST, day first
    assert by[("a.csv", 15)].time == pd.Timestamp("2025-05-05 10:07", tz="UTC")  # epoch
    assert by[("radio.csv", 2)].unit == "B2" and by[("radio.csv", 2)].lat == 51.5  # UTF-16, 51,5
    assert by[("p.geojson", 1)].time == pd.Timestamp("2025-05-05 10:00", tz="UTC")
    assert by[("t.gpx", 2)].unit == "C3" and by[("cut.gpx", 2)].unit == "cut"
    assert by[("quoted.csv", 2)].unit == "Unit, 1"
    assert abs(by[("bng.csv", 2)].lat - 51.5) < 0.02
    # the offending text is kept, and the table is spreadsheet-safe CSV
    text = rep.rejected.set_index(["source_file", "source_row"])["text"]
    assert text[("a.csv", 3)] == "A1,not a time,51.5,-0.12"
    assert '<trkpt lat="x"' in text[("t.gpx", 3)]
    assert rep.files[1].encoding.startswith("utf-16") and rep.files[1].delimiter == "semicolon"
    assert any("nocols.csv: no latitude/longitude" in n for n in logs.notes)
    assert any("1 times were Unix epoch seconds" in n for n in logs.notes)
    rows = list(csv.DictReader(io.StringIO(logs.rejected_csv())))
    assert len(rows) == 23 and rows[0]["source_file"] == "a.csv"


def test_formula_text_is_guarded_in_the_rejected_rows_csv():
    logs = read_patrol_logs([("x.csv", b"unit,time,lat,lon\n=HYPERLINK(1),nope,1,1\n")])
    assert "'=HYPERLINK(1)" in logs.rejected_csv()


def test_repeated_hour_when_the_clocks_go_back():
    text = (
        "unit,time,lat,lon\n"
        "Z,2025-10-26 00:59:00,51.5,-0.12\n"
        "Z,2025-10-26 01:30:00,51.5,-0.12\n"
        "Z,2025-10-26 01:59:00,51.5,-0.12\n"
        "Z,2025-10-26 01:00:00,51.5,-0.12\n"
        "Z,2025-10-26 01:30:00,51.5,-0.12\n"
        "Z,2025-10-26 02:00:00,51.5,-0.12\n"
    )
    logs = read_patrol_logs([("dst.csv", text.encode())])
    got = [t.strftime("%H:%M") for t in logs.points["time"]]
    assert got == ["23:59", "00:30", "00:59", "01:00", "01:30", "02:00"]  # UTC
    assert logs.params["times_in_repeated_hour"] == 4
    assert logs.params["tz"] == "Europe/London"
    other = read_patrol_logs([("dst.csv", text.encode())], tz="UTC")
    assert other.points["time"].iloc[0] == pd.Timestamp("2025-10-26 00:59", tz="UTC")


def test_bad_arguments_are_parameter_errors(tmp_path):
    with pytest.raises(ParameterError, match="tz"):
        read_patrol_logs([("a.csv", b"unit,time,lat,lon\n")], tz="Mars/Olympus")
    with pytest.raises(ParameterError, match="Unknown column roles"):
        read_patrol_logs([("a.csv", b"x")], columns={"speed": "v"})
    with pytest.raises(InputError, match="No such file"):
        read_patrol_logs(tmp_path / "absent.csv")
    with pytest.raises(ParameterError, match="max_gap_s"):
        rebuild_visits(
            pd.DataFrame(columns=["unit", "time", "lat", "lon"]), _one_area(), max_gap_s=0
        )
    with pytest.raises(InputError, match="No patrol plan"):
        read_plan(tmp_path)


def test_explicit_columns_and_no_unit_column():
    data = b"when_seen,northish,eastish\n2025-05-05T10:00:00Z,51.5,-0.12\n"
    logs = read_patrol_logs(
        [("van-7.csv", data)],
        columns={"datetime": "when_seen", "lat": "northish", "lon": "eastish"},
    )
    assert logs.report.n_used == 1 and logs.points["unit"].tolist() == ["van-7"]
    assert any("no unit column" in n for n in logs.notes)


def test_empty_logs_give_an_empty_comparison():
    logs = read_patrol_logs([("empty.csv", b"")])
    plan = _plan(days=2)
    c = compare_with_plan(rebuild_visits(logs, _areas()), plan, logs=logs)
    assert (c.summary["presence_visits"], c.summary["no_data"]) == (0, 8)


# ------------------------------------------------------------------ outputs and the command


def test_report_is_marked_offline_and_escapes_text():
    area = _one_area()
    fixes = _trace(
        "<script>alert(1)</script>{{7*7}}", "2025-05-05 17:00", range(0, 660, 60), (X0, Y0)
    )
    # planned for the next day: the visit is listed as unplanned, with its unit
    plan = pd.DataFrame(
        {"date": ["2025-05-06"], "patrol_area_id": ["P1"], "start": ["2025-05-06 19:00"]}
    )
    visits = rebuild_visits(fixes, area)
    c = compare_with_plan(visits, plan)
    html = render_tracking_report(c, visits=visits, areas=area, synthetic=True)
    assert "OFFICIAL-SENSITIVE" in html and "SYNTHETIC DEMO DATA" in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "{{7*7}}" in html
    assert "http://" not in html and "https://" not in html and "<img" not in html
    assert "Europe/London" in html and "120" in html


def test_track_command_writes_every_output(tmp_path, capsys):
    plan = _plan(days=7)
    folder = _plan_dir(tmp_path, plan)
    sim = simulate_patrol_logs(plan, _areas(), seed=2)
    log = write_patrol_log(sim.points, tmp_path / "avl.csv", time_format="utc")
    junk = tmp_path / "junk.csv"
    junk.write_text("unit,time,lat,lon\nX,soon,1,1\n", encoding="utf-8")
    out = tmp_path / "track"
    code = cli.main(["track", str(folder), str(log), str(junk), "--out-dir", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Wrote report" in printed and "1 rejected" in printed
    table = pd.read_csv(out / "compliance.csv")
    counts = table["status"].value_counts()
    for status in ("delivered", "short", "missed"):
        assert counts.get(status, 0) == sim.truth[status]
    assert counts.get("contamination", 0) == sim.truth["control_visits"]
    params = json.loads(table["tracking_parameters"].iloc[0])
    assert (params["tz"], params["max_gap_s"], params["tolerance_m"]) == (
        "Europe/London",
        120.0,
        15.0,
    )
    days = pd.read_csv(out / "area_days.csv")
    assert days["contamination_minutes"].sum() == sim.truth["contamination_minutes"]
    assert (
        days.loc[days["arm"] == "patrol", "planned_minutes"].sum() == sim.truth["planned_minutes"]
    )
    gj = json.loads((out / "visits.geojson").read_text(encoding="utf-8"))
    assert len(gj["features"]) == sim.truth["unit_visits"]
    assert gj["hotspots_parameters"]["tracking"]["min_visit_minutes"] == 10
    kinds = {f["properties"]["kind"] for f in gj["features"]}
    assert kinds == {"planned", "extra", "control", "off-plan"}
    rejected = pd.read_csv(out / "rejected_rows.csv")
    assert rejected[["source_file", "source_row", "reason"]].values.tolist() == [
        ["junk.csv", 2, "unparseable time"]
    ]
    html = (out / "tracking_report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DEMO DATA" in html and "junk.csv" in html


def test_track_command_errors_exit_2(tmp_path, capsys):
    plan = _plan(days=2)
    folder = _plan_dir(tmp_path, plan)
    bad = tmp_path / "bad.csv"
    bad.write_text("foo\n1\n", encoding="utf-8")
    assert (
        cli.main(["track", str(tmp_path / "nope"), str(bad), "--out-dir", str(tmp_path / "o")]) == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["track", str(folder), str(bad), "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "none of the patrol log rows" in err and "Traceback" not in err
    assert (tmp_path / "o" / "rejected_rows.csv").exists()
    assert (
        cli.main(
            ["track", str(folder), str(bad), "--out-dir", str(tmp_path / "o"), "--tz", "Nowhere"]
        )
        == 2
    )


def test_track_pdf(tmp_path):
    from hotspots.briefing import find_pdf_browser

    if find_pdf_browser() is None:
        pytest.skip("no Chromium-family browser installed")
    plan = _plan(days=2)
    folder = _plan_dir(tmp_path, plan)
    sim = simulate_patrol_logs(plan, _areas(), seed=2)
    log = write_patrol_log(sim.points, tmp_path / "avl.gpx")
    out = tmp_path / "t"
    assert (
        cli.main(["--quiet", "track", str(folder), str(log), "--out-dir", str(out), "--pdf"]) == 0
    )
    assert (out / "tracking_report.pdf").read_bytes().startswith(b"%PDF")


# ------------------------------------------- the zone of clock times: where the areas are
def _chicago_areas(n: int = 10) -> gpd.GeoDataFrame:
    # around the Loop in UTM 16N (EPSG:32616): lon -87.63, lat 41.88
    areas = _areas(n)
    moved = shapely.transform(
        areas.geometry.to_numpy(), lambda xy: xy - [X0, Y0] + [448_000, 4_636_000]
    )
    return gpd.GeoDataFrame(areas.drop(columns="geometry"), geometry=moved, crs="EPSG:32616")


def test_time_zone_of_areas_where_they_are():
    from hotspots.tasking import time_zone_of_areas

    chicago = time_zone_of_areas(_chicago_areas())
    assert chicago.zone == "America/Chicago" and chicago.how == "location"
    assert -87.7 < chicago.lon < -87.5 and 41.8 < chicago.lat < 42.0
    assert chicago.note.startswith("Time zone from the patrol areas' location: America/Chicago")
    assert time_zone_of_areas(_areas()).zone == "Europe/London"
    empty = time_zone_of_areas(_areas().iloc[:0])
    assert empty.zone == TIME_ZONE and empty.how == "default" and "no patrol areas" in empty.reason


def test_tracking_reads_naive_times_in_the_zone_of_the_plans_areas(tmp_path, capsys):
    """A Chicago plan (clock times without their zone, as patrol_plan.csv writes them) and GPS
    logs in UTC: recovered exactly with no zone given (the plan's times were read as London's:
    six hours off, visits missed)."""
    areas = _chicago_areas()
    plan = make_patrol_plan(
        areas, days=7, start_date="2025-05-05", control_share=0.5, officer_hours=4, seed=3
    )
    folder = _plan_dir(tmp_path, plan, areas)
    table, read_areas = read_plan(folder), read_patrol_areas(folder)
    sim = simulate_patrol_logs(table, read_areas, seed=5, tz="America/Chicago", interval_s=15)
    log = write_patrol_log(sim.points, tmp_path / "log.csv", time_format="utc")
    res = write_tracking_outputs(folder, log, tmp_path / "out")
    assert res.zone_choice.zone == "America/Chicago"
    _check_recovered(sim, res.compliance)
    london = write_tracking_outputs(folder, log, tmp_path / "out2", tz=TIME_ZONE)
    assert london.zone_choice is None
    assert london.compliance.summary["delivered"] < sim.truth["delivered"]
    # the command line says the zone it chose
    assert cli.main(["track", str(folder), str(log), "--out-dir", str(tmp_path / "out3")]) == 0
    said = capsys.readouterr().out
    assert "Time zone from the patrol areas' location: America/Chicago" in said


def test_simulated_logs_keep_the_plans_clock_in_the_areas_zone(tmp_path, capsys):
    """`hotspots simulate logs` reads a Chicago plan's clock times in Chicago's zone, as `hotspots
    track` does (it read them as London's: the logs ran six hours early)."""
    areas = _chicago_areas()
    plan = make_patrol_plan(
        areas, days=7, start_date="2025-05-05", control_share=0.5, officer_hours=4, seed=3
    )
    folder = _plan_dir(tmp_path, plan, areas)
    log = tmp_path / "sim.csv"
    assert cli.main(["simulate", "logs", str(folder), "-o", str(log)]) == 0
    simulated = re.search(r"(\d+) of (\d+) planned visits delivered", capsys.readouterr().out)
    stamps = pd.read_csv(log).iloc[:, 1].astype(str)
    assert stamps.str.endswith("-05:00").all()  # May in Chicago: CDT
    first = pd.Timestamp(stamps.iloc[0]).tz_convert("America/Chicago")
    assert 5 <= first.hour <= 23  # on the plan's own clock, not six hours off
    assert cli.main(["track", str(folder), str(log), "--out-dir", str(tmp_path / "t")]) == 0
    tracked = re.search(r"(\d+) planned visits from .*?: (\d+) delivered", capsys.readouterr().out)
    assert simulated and tracked
    assert (tracked[1], tracked[2]) == (simulated[2], simulated[1])  # recovered exactly
