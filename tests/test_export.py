"""Tests for hotspots.export: RFC 7946 GeoJSON, GeoPackage, safe CSV, iCalendar, JSON."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from hotspots import Incidents, export, jsonutil
from hotspots.export import (
    COORD_PRECISION,
    features_geojson,
    ical_escape,
    ical_fold,
    json_text,
    patrol_areas_geojson,
    plan_to_csv,
    plan_to_ical,
    safe_csv_cell,
    table_to_csv,
    to_csv,
    to_geojson,
    to_geopackage,
    to_jsonable,
)
from hotspots.patrol import make_patrol_areas, make_patrol_plan
from hotspots.profile import rank_hotspots

X0, Y0 = 530_000.0, 180_000.0  # central London, EPSG:27700


@pytest.fixture
def result():
    x = np.r_[np.full(30, 400050.0), np.full(5, 400700.0)]
    y = np.r_[np.full(30, 300050.0), np.full(5, 300700.0)]
    inc = Incidents.from_xy(
        x,
        y,
        month=["2024-01-01"] * 35,
        location='=HYPERLINK("x")',
        study_area=shapely.box(400000, 300000, 401000, 301000),
    )
    ring = shapely.box(400000, 300000, 400100, 300100)
    # a polygon with a hole, written clockwise, to check orientation is fixed
    doughnut = shapely.Polygon(
        list(shapely.box(400600, 300600, 400800, 300800).exterior.coords)[::-1],
        [list(shapely.box(400650, 300650, 400750, 300750).exterior.coords)],
    )
    hot = gpd.GeoDataFrame(
        {"method": ["kde", "kde"], "label": ["=cmd|' /C calc'!A0", "ok"]},
        geometry=[ring, doughnut],
        crs=27700,
    )
    ranked = rank_hotspots(hot, inc)
    params = {
        "method": "kde",
        "bandwidth_m": 150.0,
        "crs": "EPSG:27700",
        "input_files": [{"name": "a.csv", "sha256": "ab" * 32}],
    }
    return SimpleNamespace(hotspots=ranked, params=params)


def _signed_area(ring):
    c = np.asarray(ring)
    return 0.5 * np.sum(c[:-1, 0] * c[1:, 1] - c[1:, 0] * c[:-1, 1])


def test_geojson_is_rfc7946(result):
    doc = json.loads(to_geojson(result))
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc
    assert doc["hotspots_parameters"]["bandwidth_m"] == 150.0
    assert len(doc["features"]) == 2
    for feat in doc["features"]:
        props = feat["properties"]
        assert props["hotspots_parameters"]["input_files"][0]["sha256"] == "ab" * 32
        rings = feat["geometry"]["coordinates"]
        assert _signed_area(rings[0]) > 0  # exterior counter-clockwise
        for hole in rings[1:]:
            assert _signed_area(hole) < 0  # holes clockwise
        lon, lat = rings[0][0]
        assert -2 < lon < -1 and 52 < lat < 53  # longitude first, WGS84
    doughnut = next(f for f in doc["features"] if len(f["geometry"]["coordinates"]) == 2)
    assert doughnut["properties"]["incidents"] == 0  # the 5 points sit in the hole
    assert doc["features"][0]["properties"]["monthly_counts"] == [30]


def test_geojson_features_name_many_input_files_by_digest(result):
    files = [
        {"name": f"2024-{m:02d}-x-street.csv", "sha256": f"{m:064x}", "rows": m}
        for m in range(1, 14)
    ]
    many = SimpleNamespace(hotspots=result.hotspots, params={**result.params, "input_files": files})
    doc = json.loads(to_geojson(many))
    assert doc["hotspots_parameters"]["input_files"] == files  # the collection keeps the list
    compact = json.dumps(files, sort_keys=True, separators=(",", ":"))
    for feat in doc["features"]:
        record = feat["properties"]["hotspots_parameters"]
        assert "input_files" not in record
        assert list(record) == ["method", "bandwidth_m", "crs", "input_files_digest"]  # in place
        assert record["input_files_digest"] == {
            "n_files": 13,
            "rows": 91,  # 1 + 2 + ... + 13
            "sha256": hashlib.sha256(compact.encode()).hexdigest(),
            "listed_in": "the FeatureCollection's hotspots_parameters member",
        }
    twelve = SimpleNamespace(
        hotspots=result.hotspots, params={**result.params, "input_files": files[:12]}
    )
    feat = json.loads(to_geojson(twelve))["features"][0]
    assert feat["properties"]["hotspots_parameters"]["input_files"] == files[:12]


def _reference_feature(row, geom_col):
    """One feature as the writer made it row by row before it went column-wise (the test's
    reference implementation)."""

    def rnd(obj):
        if isinstance(obj, list):
            return [rnd(v) for v in obj]
        return round(obj, COORD_PRECISION) if isinstance(obj, float) else obj

    geom = row[geom_col]
    if geom is None or geom.is_empty:
        geometry = None
    else:
        mapping = json.loads(shapely.to_geojson(shapely.orient_polygons(geom, exterior_cw=False)))
        geometry = {k: (rnd(v) if k == "coordinates" else v) for k, v in mapping.items()}
    props = {str(k): to_jsonable(v) for k, v in row.items() if k != geom_col}
    return {"type": "Feature", "geometry": geometry, "properties": props}


def test_geojson_writer_matches_a_row_by_row_reference():
    clockwise = shapely.Polygon([(0, 0), (0, 1), (1.123456789, 1), (1, 0)])
    holed = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 3, 3))
    multi = shapely.MultiPolygon([shapely.box(20, 0, 21, 1), holed])
    geoms = [
        clockwise,
        multi,
        shapely.Point(-2.987654321987, 53.4),
        shapely.LineString([(0, 0, 7.123456789), (1e-9, 2.5, 8)]),  # 3D beside 2D
        shapely.Polygon(),  # empty: no geometry
        None,
    ]
    n = len(geoms)
    gdf = gpd.GeoDataFrame(
        {
            "i": np.arange(n, dtype=np.int64),
            "f": [0.1, np.nan, np.inf, -0.0, 1e308, 2.5],
            "f32": np.array([0.5, 1.25, np.nan, 3, 4, 5], dtype=np.float32),
            "b": [True, False, True, True, False, True],
            "s": pd.array(["a", None, "=x", "é", "", "z"], dtype="string[pyarrow]"),
            "cat": pd.Categorical(["x", "y", None, "x", "y", "x"]),
            "nullable": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "when": pd.to_datetime(
                ["2024-01-01", None, "2024-02-29 12:30", "2024-03-01"] * 2, format="ISO8601"
            )[:n],
            "counts": [[1, 2], [], [np.int64(3)], None, [0.5], [np.nan]],
            2024: np.arange(n) * 2,  # a column whose name is not text
        },
        geometry=geoms,
        crs=4326,
    )
    gdf.insert(2, "i", np.arange(n) * 10.0, allow_duplicates=True)  # a repeated name: last wins
    doc = features_geojson(gdf, {"method": "kde"}, per_feature=False)
    expected = [_reference_feature(row, "geometry") for _, row in gdf.iterrows()]
    assert doc["features"][1]["properties"]["i"] == 10.0
    assert doc["features"] == expected
    # the same bytes as the old path (json_text walks every value again)
    assert export.geojson_text(doc) == json_text(doc)
    assert doc["features"][0]["geometry"]["coordinates"][0][2] == [1.1234568, 1.0]
    assert doc["features"][2]["properties"]["f"] is None  # inf
    assert doc["features"][3]["geometry"]["coordinates"] == [[0.0, 0.0, 7.1234568], [0.0, 2.5, 8.0]]
    assert doc["features"][2]["geometry"]["coordinates"] == [-2.9876543, 53.4]  # no z added


def test_csv_and_geopackage_rows_name_many_input_files_by_digest(result, tmp_path):
    files = [
        {"name": f"2024-{m:02d}-x-street.csv", "sha256": f"{m:064x}", "rows": 10 * m}
        for m in range(1, 14)
    ]
    many = SimpleNamespace(hotspots=result.hotspots, params={**result.params, "input_files": files})
    sha = hashlib.sha256(json.dumps(files, sort_keys=True, separators=(",", ":")).encode())
    table = pd.read_csv(io.StringIO(to_csv(many)))
    for cell in table["parameters"]:
        record = json.loads(cell)
        assert list(record) == ["method", "bandwidth_m", "crs", "input_files_digest"]
        digest = record["input_files_digest"]
        assert (digest["n_files"], digest["rows"]) == (13, 910)  # 10 * (1 + ... + 13)
        assert digest["sha256"] == sha.hexdigest()
        assert "hotspots.run.json" not in digest["listed_in"]
        assert "<name>.run.json" in digest["listed_in"]
    path = tmp_path / "h.gpkg"
    path.write_bytes(to_geopackage(many))
    layer = gpd.read_file(path)
    row = json.loads(layer.loc[0, "parameters"])
    assert row["input_files_digest"]["sha256"] == sha.hexdigest()
    assert row["input_files_digest"]["listed_in"] == (
        "the GeoPackage's layer metadata hotspots_parameters"
    )
    import pyogrio

    meta = pyogrio.read_info(path)["layer_metadata"]
    assert json.loads(meta["hotspots_parameters"])["input_files"] == files  # the full list
    # the whole record, and the digest rebuilt from it, for the CSV's run record
    record = json.loads(export.run_record_json(many))
    assert record["input_files"] == files
    assert export.compact_record(record, listed_in="x")["input_files_digest"]["sha256"] == (
        sha.hexdigest()
    )


def test_write_hotspots_puts_the_run_record_beside_a_csv(result, tmp_path):
    from hotspots import workflows

    files = [{"name": f"{m}.csv", "sha256": f"{m:064x}", "rows": 1} for m in range(20)]
    many = SimpleNamespace(hotspots=result.hotspots, params={**result.params, "input_files": files})
    out = workflows.write_hotspots(many, tmp_path / "ranked.csv")
    sidecar = tmp_path / "ranked.run.json"
    assert workflows.run_record_path(out) == sidecar
    assert json.loads(sidecar.read_text(encoding="utf-8"))["input_files"] == files
    assert len(pd.read_csv(out)) == 2
    workflows.write_hotspots(many, tmp_path / "h.geojson")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "h.geojson",
        "ranked.csv",
        "ranked.run.json",
    ]


def test_geojson_reads_back_with_geopandas(result):
    gdf = gpd.read_file(io.StringIO(to_geojson(result)))
    assert gdf.crs.to_epsg() == 4326
    assert len(gdf) == 2 and gdf.is_valid.all()
    back = gdf.to_crs(27700)
    np.testing.assert_allclose(
        sorted(back.area), sorted(result.hotspots.area), rtol=1e-4
    )  # 7-decimal rounding


def test_no_nan_in_geojson(result):
    text = to_geojson(result)
    assert "NaN" not in text
    assert json.loads(text)["features"][0]["properties"]["harm"] is None


def test_geopackage_round_trip(result, tmp_path):
    path = tmp_path / "h.gpkg"
    path.write_bytes(to_geopackage(result))
    gdf = gpd.read_file(path)
    assert len(gdf) == 2 and gdf.crs.to_epsg() == 4326
    assert json.loads(gdf.loc[0, "parameters"])["bandwidth_m"] == 150.0
    assert json.loads(gdf.loc[0, "monthly_counts"]) == [30]


def test_csv_is_spreadsheet_safe(result):
    table = pd.read_csv(io.StringIO(to_csv(result)))
    assert len(table) == 2
    assert all(str(v).startswith("'=") for v in table["label"] if str(v).startswith(("'", "=")))
    assert not any(str(v).startswith("=") for v in table["label"])
    assert json.loads(table.loc[0, "parameters"])["method"] == "kde"
    assert "geometry" not in table.columns


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+x", "'+x"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("safe", "safe"),
        (-3.5, -3.5),
    ],
)
def test_safe_csv_cell(value, expected):
    assert safe_csv_cell(value) == expected


def test_table_to_csv_guards_every_text_cell():
    table = pd.DataFrame(
        {"reason": ["=1+1", "ok", "\tx"], "row": [2, 3, 4], "value": ["@A1", None, "-2"]}
    )
    back = pd.read_csv(io.StringIO(table_to_csv(table)), keep_default_na=False)
    assert list(back["reason"]) == ["'=1+1", "ok", "'\tx"]
    assert list(back["value"]) == ["'@A1", "", "'-2"]
    assert list(back["row"]) == [2, 3, 4]  # numbers stay numbers


def test_table_to_csv_equals_the_cell_by_cell_guard_on_every_column_kind():
    rng = np.random.default_rng(5)
    words = np.array(["=SUM(A1)", "-2.98", "ok", "", "+44 1", "@x", "On or near X", "\rx"], object)
    n = 400
    mixed = rng.choice(np.array(["=a", 3, -1.5, None, float("nan"), "b", "-c"], object), n)
    table = pd.DataFrame(
        {
            "object": rng.choice(words, n),
            "arrow": pd.array(rng.choice(words, n), dtype="string[pyarrow]"),
            "string": pd.array(rng.choice(words, n), dtype="string"),
            "category": pd.Categorical(rng.choice(words, n)),
            "mixed": mixed,
            "safe": rng.choice(np.array(["a", "b"], object), n),
            "number": rng.normal(size=n),
        }
    )
    table.loc[::7, "arrow"] = None
    # the reference: every cell through safe_csv_cell, one by one
    reference = table.copy()
    for col in ("object", "arrow", "string", "category", "mixed", "safe"):
        reference[col] = [safe_csv_cell(v) for v in table[col]]
    expected = reference.to_csv(index=False, lineterminator="\n")
    assert table_to_csv(table) == expected
    assert expected.count("'-2.98") > 0 and expected.count("'=SUM(A1)") > 0


def test_to_jsonable_is_the_one_sanitiser():
    assert export.to_jsonable is jsonutil.to_jsonable
    value = {
        1: np.int64(7),
        "f": np.float32(0.25),
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "b": np.bool_(True),
        "arr": np.array([1, 2]),
        "set": {3},
        "t": (pd.Timestamp("2024-03-01 06:30"), dt.date(2024, 3, 2)),
        "nat": pd.NaT,
        "na": pd.NA,
        "dt64": np.datetime64("2024-01-05"),
        "crs": pyproj.CRS.from_epsg(27700),
        "nested": [{"x": np.float64(1.5)}],
    }
    assert to_jsonable(value) == {
        "1": 7,
        "f": 0.25,
        "nan": None,
        "inf": None,
        "b": True,
        "arr": [1, 2],
        "set": [3],
        "t": ["2024-03-01T06:30:00", "2024-03-02"],
        "nat": None,
        "na": None,
        "dt64": "2024-01-05T00:00:00",
        "crs": "EPSG:27700",
        "nested": [{"x": 1.5}],
    }
    assert type(to_jsonable(np.int64(7))) is int and type(to_jsonable(np.bool_(False))) is bool
    text = json_text({"place": "Caf\u00e9", "x": np.float64(np.nan)})
    assert text == '{"place": "Caf\u00e9", "x": null}'


def test_features_geojson_empty():
    gdf = gpd.GeoDataFrame({"a": []}, geometry=[], crs=27700)
    doc = features_geojson(gdf, {"k": 1})
    assert doc["features"] == [] and doc["hotspots_parameters"] == {"k": 1}


# ------------------------------------------------------------------ patrol plans and areas


def _stacks(spec, months=None, rng=None, **kw):
    xs, ys = [], []
    for x, y, n in spec:
        xs += [X0 + x] * n
        ys += [Y0 + y] * n
    n = len(xs)
    if months is None:
        rng = rng or np.random.default_rng(0)
        months = rng.choice(pd.date_range("2024-01-01", periods=6, freq="MS"), n)
    study = shapely.box(X0 - 2000, Y0 - 2000, X0 + 4000, Y0 + 4000)
    return Incidents.from_xy(
        np.array(xs), np.array(ys), month=pd.to_datetime(months), study_area=study, **kw
    )


def _hotspots(geoms, **cols):
    n = len(geoms)
    data = {
        "hotspot_id": [f"H{i + 1:03d}" for i in range(n)],
        "rank": list(range(1, n + 1)),
        "temporal_class": ["chronic"] * n,
        "has_time": [False] * n,
    }
    data.update(cols)
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs="EPSG:27700")


def _box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _areas_frame(n, rng, *, with_time=True):
    rows = []
    for i in range(n):
        timed = with_time and rng.random() < 0.7
        start = int(rng.integers(0, 24))
        length = int(rng.integers(1, 13))
        rows.append(
            {
                "patrol_area_id": f"H{i + 1:03d}-P1",
                "hotspot_id": f"H{i + 1:03d}",
                "rank": i + 1,
                "centre_lat": 51.5 + i * 0.001,
                "centre_lon": -0.12,
                "location": f"On or near Street {i}",
                "has_time": timed,
                "peak_start_hour": start if timed else None,
                "peak_end_hour": (start + length) % 24 if timed else None,
                "peak_days": [4, 5] if timed else None,
                "peak_window": "",
                "temporal_class": "chronic",
                "max_extent_m": 150.0,
                "incidents": 20,
                "months_active": 6,
                "n_months": 6,
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ patrol plan CSV and iCalendar


def test_csv_is_spreadsheet_safe_and_parses_back():
    areas = _areas_frame(3, np.random.default_rng(8))
    areas.loc[0, "location"] = '=HYPERLINK("http://x","y")'
    areas.loc[1, "location"] = "-1+2"
    areas.loc[2, "location"] = "@SUM(A1)"
    plan = make_patrol_plan(areas, seed=1, start_date="2025-01-01", days=3)
    rows = list(csv.DictReader(io.StringIO(plan_to_csv(plan))))
    assert len(rows) == len(plan.visits)
    locs = {r["location"] for r in rows}
    assert locs == {'\'=HYPERLINK("http://x","y")', "'-1+2", "'@SUM(A1)"}
    assert all(not r["location"].startswith(("=", "+", "-", "@")) for r in rows)
    assert rows[0]["date"] == "2025-01-01" and len(rows[0]["start"]) == 16
    assert float(rows[0]["lon"]) < 0  # numbers are left as numbers
    assert (
        safe_csv_cell("+44") == "'+44" and safe_csv_cell("ok") == "ok" and safe_csv_cell("") == ""
    )


def _unfold(text: str) -> list[str]:
    assert "\n" not in text.replace("\r\n", "")  # CRLF only
    assert text.endswith("\r\n")
    physical = text.split("\r\n")[:-1]
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    logical: list[str] = []
    for line in physical:
        if line.startswith(" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    return logical


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def test_ical_structure_folding_and_escaping():
    areas = _areas_frame(4, np.random.default_rng(9))
    tricky = "Caf\u00e9 \u201cK\u00f6nig\u201d, Back; Lane \\ Alley\nline two " + "\u00e9" * 60
    areas.loc[0, "location"] = tricky
    plan = make_patrol_plan(areas, seed=5, start_date="2025-01-01", days=5, control_share=0.5)
    text = plan_to_ical(plan)
    lines = _unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    events, current = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            name, _, value = line.partition(":")
            current[name] = value
    patrol = plan.visits[plan.visits["arm"] == "patrol"]
    assert len(events) == len(patrol)
    assert len({e["UID"] for e in events}) == len(events)
    for e in events:
        assert {
            "UID",
            "DTSTAMP",
            "DTSTART",
            "DTEND",
            "SUMMARY",
            "LOCATION",
            "GEO",
            "DESCRIPTION",
        } <= set(e)
        assert e["DTSTAMP"].endswith("Z") and len(e["DTSTAMP"]) == 16
        start = pd.Timestamp(e["DTSTART"])
        end = pd.Timestamp(e["DTEND"])
        assert end - start == pd.Timedelta(minutes=15)
        lat, lon = (float(v) for v in e["GEO"].split(";"))
        assert 50 < lat < 53 and -1 < lon < 1
        assert "Tactics: T01" in _unescape(e["DESCRIPTION"])
    first = [e for e in events if "H001-P1" in e["SUMMARY"]]
    assert first and _unescape(first[0]["LOCATION"]).startswith(tricky)
    starts = sorted(pd.Timestamp(e["DTSTART"]) for e in events)
    assert starts == sorted(patrol["start"])


def test_ical_fold_and_escape_units():
    assert ical_escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    line = "DESCRIPTION:" + "\U0001f6a8x" * 40  # 4-byte characters must not be split
    folded = ical_fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert "".join([parts[0]] + [p[1:] for p in parts[1:]]) == line
    assert ical_fold("SHORT:1") == "SHORT:1"


# ------------------------------------------------------------------ patrol-area GeoJSON


def test_patrol_areas_geojson_is_rfc7946_with_tactics_and_plan(tmp_path: Path):
    inc = _stacks([(0, 0, 30), (500, 0, 12)])
    hot = _hotspots([_box(-100, -100, 600, 100)])
    areas = make_patrol_areas(inc, hot)
    plan = make_patrol_plan(areas, seed=1, start_date="2025-01-01", days=7)
    doc = patrol_areas_geojson(areas, plan=plan, params={"method": "kde"})
    json.dumps(doc, allow_nan=False)
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    assert doc["hotspots_parameters"]["plan"]["seed"] == 1
    assert doc["hotspots_parameters"]["run"]["method"] == "kde"
    for f in doc["features"]:
        ring = f["geometry"]["coordinates"][0]
        lon, lat = ring[0]
        assert -1 < lon < 1 and 51 < lat < 52  # lon first
        assert shapely.LinearRing(ring).is_ccw
        props = f["properties"]
        assert props["tactic_ids"][0] == "T01"
        assert (
            props["plan_visits"] == 7
            and props["plan_max_gap_days"] == 1
            and props["plan_seed"] == 1
        )


def test_plan_csv_carries_its_parameters():
    import io as _io
    import json as _json

    plan = make_patrol_plan(
        _areas_frame(4, np.random.default_rng(2)), days=5, seed=41, start_date="2026-03-02"
    )
    table = pd.read_csv(_io.StringIO(plan_to_csv(plan)))
    assert len(table) > 0
    params = _json.loads(table["plan_parameters"].iloc[0])
    assert params["seed"] == 41 and params["days"] == 5


def test_plan_csv_is_identical_whenever_it_is_made():
    import datetime as _dt

    areas = _areas_frame(3, np.random.default_rng(5))
    a = make_patrol_plan(
        areas,
        days=4,
        seed=9,
        start_date="2026-03-02",
        created=_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC),
    )
    b = make_patrol_plan(
        areas,
        days=4,
        seed=9,
        start_date="2026-03-02",
        created=_dt.datetime(2026, 2, 1, tzinfo=_dt.UTC),
    )
    assert plan_to_csv(a) == plan_to_csv(b)


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


def test_hot_spots_and_patrol_areas_share_one_coordinate_precision(result):
    inc = _stacks([(0, 0, 30), (500, 0, 12)])
    areas = make_patrol_areas(inc, _hotspots([_box(-100, -100, 600, 100)]))
    for doc in (patrol_areas_geojson(areas), json.loads(to_geojson(result))):
        coords = [c for f in doc["features"] for ring in f["geometry"]["coordinates"] for c in ring]
        assert coords
        # rounded to exactly COORD_PRECISION places (7), with some coordinate using all of them
        assert max(_decimals(v) for c in coords for v in c) == COORD_PRECISION == 7
        assert all(round(v, COORD_PRECISION) == v for c in coords for v in c)
        assert len(doc["bbox"]) == 4
