"""Tests for hotspots.workflows: the steps both front ends run, their outputs and their records."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import hotspots
from hotspots import ParameterError, workflows
from hotspots.incidents import Incidents
from hotspots.record import Choices, FrozenDict, choices_of

X0, Y0 = 530_000.0, 180_000.0  # central London, EPSG:27700
PACKAGE = Path(hotspots.__file__).resolve().parent


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


@pytest.fixture(scope="module")
def demo_incidents(demo_csv):
    return workflows.read_inputs([str(demo_csv)])


@pytest.fixture(scope="module")
def demo_result(demo_incidents):
    return workflows.detect_hotspots(demo_incidents, "kde")


# ------------------------------------------------------------------ plan outputs (from patrol)


def test_write_plan_outputs(tmp_path: Path):
    inc = _stacks([(0, 0, 30), (500, 0, 12), (1500, 0, 9)], location="On or near <b>Main</b> St")
    hot = _hotspots([_box(-100, -100, 600, 100), _box(1400, -100, 1600, 100)])
    paths = workflows.write_plan_outputs(
        inc,
        hot,
        tmp_path / "out",
        seed=7,
        start_date="2025-02-01",
        days=14,
        params={"synthetic": True},
        control_share=0.5,
    )
    assert set(paths) == {"patrol_areas", "patrol_plan_csv", "patrol_plan_ics", "briefing"}
    assert [p.name for p in paths.values()] == [
        "patrol_areas.geojson",
        "patrol_plan.csv",
        "patrol_plan.ics",
        "briefing.html",
    ]
    doc = json.loads(paths["patrol_areas"].read_text(encoding="utf-8"))
    assert len(doc["features"]) == 3
    assert doc["hotspots_parameters"]["run"]["synthetic"] is True
    assert doc["hotspots_parameters"]["plan"]["control_share"] == 0.5
    assert paths["patrol_plan_ics"].read_bytes().count(b"BEGIN:VEVENT") > 0
    assert "SYNTHETIC" in paths["briefing"].read_text(encoding="utf-8")
    again = workflows.write_plan_outputs(
        inc, hot, tmp_path / "again", seed=7, start_date="2025-02-01", days=14, control_share=0.5
    )
    assert again["patrol_plan_csv"].read_text() == paths["patrol_plan_csv"].read_text()


def test_plan_files_are_the_bytes_written(tmp_path: Path):
    """The app's downloads (plan_bytes) and the CLI's files (write_plan) are the same bytes."""
    inc = _stacks([(0, 0, 30), (500, 0, 12)])
    hot = _hotspots([_box(-100, -100, 600, 100)])
    areas = workflows.patrol_areas(inc, hot)
    assert list(areas["incidents"]) == [30, 12]
    plan = workflows.plan_patrols(
        inc, hot, areas, params={"method": "kde"}, seed=3, start_date="2025-03-01", days=5
    )
    paths = workflows.write_plan(plan, tmp_path)
    for kind, name in workflows.PLAN_FILES.items():
        assert (tmp_path / name).read_bytes() == workflows.plan_bytes(plan, kind)
    assert set(paths) == {"patrol_areas", "patrol_plan_csv", "patrol_plan_ics", "briefing"}
    # the record: areas and plan under their own keys, their notes in order
    c = plan.choices
    assert c.params["patrol_areas"]["radius_m"] == 75.0
    assert c.params["plan"]["seed"] == 3 and c.params["plan"]["days"] == 5
    assert list(c.notes[: len(areas.attrs["notes"])]) == list(areas.attrs["notes"])
    with pytest.raises(ParameterError, match="'pdf'"):
        workflows.plan_bytes(plan, "pdf")


def test_plan_result_is_read_only():
    inc = _stacks([(0, 0, 30)])
    hot = _hotspots([_box(-100, -100, 100, 100)])
    plan = workflows.plan_patrols(
        inc, hot, workflows.patrol_areas(inc, hot), params={"synthetic": True}, seed=1
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.params = {}
    with pytest.raises(TypeError, match="read-only"):
        plan.params["synthetic"] = False
    with pytest.raises(TypeError, match="read-only"):
        plan.matches["H001-P1"] = ()
    assert plan.params["synthetic"] is True


def test_patrol_areas_none_when_nothing_to_plan():
    inc = _stacks([(0, 0, 30)])
    hot = _hotspots([_box(-100, -100, 100, 100)], significant=[False])
    assert workflows.patrol_areas(inc, hot, significant_only=True) is None
    assert len(workflows.patrol_areas(inc, hot, significant_only=False)) == 1
    with pytest.raises(ParameterError, match="no hot spots"):
        workflows.write_plan_outputs(inc, hot.iloc[:0], "unused")


# ------------------------------------------------------------------ detect and outputs


def test_detect_significant_only_records_it(demo_incidents, demo_result):
    kept = workflows.only_significant(demo_result)
    n_sig = int(demo_result.hotspots["significant"].sum())
    assert len(kept.hotspots) == n_sig < len(demo_result.hotspots)
    assert kept.hotspots["significant"].all()
    assert list(kept.hotspots["rank"]) == sorted(kept.hotspots["rank"])
    assert kept.params["exported"].startswith("significant hot spots only")
    assert "exported" not in demo_result.params  # the shared result is unchanged
    direct = workflows.detect_hotspots(demo_incidents, "kde", significant_only=True)
    assert list(direct.hotspots["hotspot_id"]) == list(kept.hotspots["hotspot_id"])


def test_shared_detection_result_cannot_be_changed(demo_result):
    """What the app shares between sessions: a change raises instead of leaking."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo_result.hotspots = demo_result.hotspots.iloc[:1]
    with pytest.raises(TypeError, match="read-only"):
        demo_result.params["method"] = "dbscan"
    with pytest.raises(TypeError, match="read-only"):
        demo_result.params["method_parameters"]["bandwidth"] = 1.0
    with pytest.raises(TypeError, match="read-only"):
        demo_result.params["input_files"].append({})
    with pytest.raises(TypeError, match="read-only"):
        demo_result.notes.append("changed")
    assert demo_result.params["method"] == "kde"
    # a copy is the way to change it, and leaves the shared one as it was
    mine = dict(demo_result.params)
    mine["method"] = "dbscan"
    assert demo_result.params["method"] == "kde"
    # and it is still written as JSON like a plain dict
    assert json.loads(json.dumps(demo_result.params))["method"] == "kde"


def test_shared_incidents_and_classification_cannot_be_changed(demo_incidents):
    """The app's cache_resource shares these too: every record in them is read-only."""
    inc = demo_incidents
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.study_area = inc.study_area.buffer(1000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inc.report.n_used = 0
    with pytest.raises(TypeError, match="read-only"):
        inc.report.choices["crs"] = "EPSG:4326"
    with pytest.raises(TypeError, match="read-only"):
        inc.report.notes.append("changed")
    with pytest.raises(TypeError, match="read-only"):
        inc.report.files.clear()
    assert inc.report.choices["crs"] == inc.crs.to_string()
    # a subset is a new object; the shared one keeps its notes
    n_notes = len(inc.report.notes)
    sub = inc.subset(np.arange(len(inc)) < 10, note="first ten")
    assert len(sub) == 10 and sub.report.notes[-1] == "first ten"
    assert len(inc.report.notes) == n_notes
    res = workflows.classify_over_time(inc)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.areas = res.areas.iloc[:0]
    with pytest.raises(TypeError, match="read-only"):
        res.params["cell_size_m"] = 10.0
    with pytest.raises(TypeError, match="read-only"):
        res.notes.append("changed")


def test_hotspot_outputs_by_suffix(demo_result, tmp_path):
    for suffix, kind in workflows.HOTSPOT_FORMATS.items():
        path = workflows.write_hotspots(demo_result, tmp_path / f"h{suffix}")
        assert path.read_bytes()[:4] == workflows.hotspot_bytes(demo_result, kind)[:4]
    doc = json.loads((tmp_path / "h.geojson").read_text(encoding="utf-8"))
    assert len(doc["features"]) == len(demo_result.hotspots)
    assert doc["hotspots_parameters"]["method"] == "kde"
    assert len(gpd.read_file(tmp_path / "h.gpkg")) == len(demo_result.hotspots)
    with pytest.raises(ParameterError, match="must end in .geojson"):
        workflows.write_hotspots(demo_result, tmp_path / "h.shp")


def test_standalone_map_carries_the_record(demo_result, tmp_path):
    page = workflows.standalone_map(demo_result, tiles="none")
    assert page.lstrip().lower().startswith("<!doctype html>")
    embedded = page.split('id="hotspots-parameters">', 1)[1].split("</script>", 1)[0]
    assert (
        json.loads(embedded)["input_files"]
        == json.loads(json.dumps(demo_result.params))["input_files"]
    )
    assert "SYNTHETIC DEMO DATA" in page
    # the notice a shared map must carry, visible above the map (as on the briefing)
    from hotspots.offline import escape_text
    from hotspots.safeguards import stop_search_notice

    assert '<div role="note"' in page
    assert escape_text(stop_search_notice(short=True)) in page.split('<div role="note"', 1)[1]
    # tiles="none": the page asks no server for anything
    assert "tile.openstreetmap.org" not in page
    assert "https://cdn" not in page and "http://cdn" not in page
    path = workflows.write_map(demo_result, tmp_path / "m.html", tiles="none")
    assert embedded in path.read_text(encoding="utf-8")
    with pytest.raises(ParameterError, match=r"\.html"):
        workflows.write_map(demo_result, tmp_path / "m.png")


def test_surface_contours_only_for_kde(demo_incidents, demo_result):
    polys = workflows.surface_contours(demo_result)
    assert polys and all(p.is_valid and p.area > 0 for p in polys)
    # the quarter-level outlines enclose at least the area of the half-level ones
    quarter = workflows.surface_contours(demo_result, fractions=(0.25,))
    half = workflows.surface_contours(demo_result, fractions=(0.5,))
    assert shapely.union_all(quarter).area >= shapely.union_all(half).area > 0
    dbscan = workflows.detect_hotspots(demo_incidents, "dbscan")
    assert workflows.surface_contours(dbscan) == []


# ------------------------------------------------------------------ read


def test_read_inputs_takes_files_or_values_alike(demo_csv, tmp_path):
    harm = {"Violence and sexual offences": 10, "Robbery": 100, "Possession of weapons": 30}
    table = tmp_path / "harm.csv"
    table.write_text("crime_type,weight\n" + "".join(f"{k},{v}\n" for k, v in harm.items()))
    from_file = workflows.read_inputs([str(demo_csv)], harm_weights=table)
    from_bytes = workflows.read_inputs([str(demo_csv)], harm_weights=table.read_bytes())
    from_dict = workflows.read_inputs([str(demo_csv)], harm_weights=harm)
    np.testing.assert_array_equal(from_file.weights, from_dict.weights)
    np.testing.assert_array_equal(from_bytes.weights, from_dict.weights)
    assert set(np.unique(from_dict.weights)) <= {10.0, 30.0, 100.0}
    # a study area file gives the same incidents as the same polygon given as a value
    box = shapely.box(-1.42, 52.635, -1.40, 52.645)  # around the synthetic town centre
    area = tmp_path / "area.geojson"
    gpd.GeoDataFrame(geometry=[box], crs=4326).to_file(area, driver="GeoJSON")
    by_file = workflows.read_inputs([str(demo_csv)], study_area=area)
    by_value = workflows.read_inputs([str(demo_csv)], study_area=box)
    assert 0 < len(by_file) == len(by_value)
    np.testing.assert_allclose(by_file.frame["x"].to_numpy(), by_value.frame["x"].to_numpy())


def test_rejected_csv_is_spreadsheet_safe(tmp_path):
    csv_text = (
        "Longitude,Latitude,Month,Crime type\n=cmd(),53.4,2024-01,Robbery\n"
        "-3.0,53.4,2024-01,Robbery\n-3.0,53.41,2024-01,Robbery\n-3.01,53.4,2024-01,Robbery\n"
    )
    inc = workflows.read_inputs(("x.csv", csv_text.encode()), crime_types="all")
    text = workflows.rejected_csv(inc.report)
    assert "'=cmd()" in text and "\n=cmd()" not in text and ",=cmd()" not in text
    paths = workflows.write_ingest_outputs(
        inc.report, report_path=tmp_path / "r.json", rejected_path=tmp_path / "rej.csv"
    )
    assert json.loads(paths["report"].read_text())["rows_rejected"] == 1
    assert paths["rejected"].read_text(encoding="utf-8") == text


# ------------------------------------------------------------------ change over time, hold-out


def test_classification_record(demo_incidents):
    res = workflows.classify_over_time(demo_incidents, cell_size=150.0)
    params = workflows.classification_params(res, demo_incidents)
    assert isinstance(params, FrozenDict)
    assert params["method"] == "emerging" and params["synthetic"] is True
    assert params["method_parameters"]["cell_size_m"] == res.params["cell_size_m"]
    doc = json.loads(workflows.classification_geojson(res, demo_incidents))
    assert len(doc["features"]) == len(res.areas)
    assert doc["hotspots_parameters"]["input_files"][0]["name"] == "demo_incidents.csv"


def test_evaluate_holdout_checks_method_names(demo_incidents):
    with pytest.raises(ParameterError, match="kmeans"):
        workflows.evaluate_holdout(demo_incidents, "2025-10", ["kmeans"])
    table = workflows.evaluate_holdout(demo_incidents, "2025-10", ["dbscan"])
    assert list(table["method"]) == ["dbscan"]
    assert 0 <= float(table["hit_rate"].iloc[0]) <= 1


# ------------------------------------------------------------------ structure


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_patrol_does_not_import_briefing():
    """The patrol <-> briefing cycle is gone: the workflow joins them."""
    assert "hotspots.briefing" not in _imports("patrol")
    assert not hasattr(hotspots.patrol, "write_plan_outputs")


def test_cli_runs_no_pipeline_step_itself():
    """The CLI imports the workflows, not the modules that do the work."""
    steps = {
        "hotspots.ingest",
        "hotspots.detect",
        "hotspots.patrol",
        "hotspots.briefing",
        "hotspots.export",
        "hotspots.emerging",
        "hotspots.evaluate",
        "hotspots.harm",
        "hotspots.offline",
    }
    assert not (_imports("cli") & steps)


def test_choices_of_every_step(demo_incidents, demo_result):
    report = choices_of(demo_incidents)
    assert report.params["crs"] == demo_incidents.report.choices["crs"]
    assert report.notes == tuple(demo_incidents.report.notes)
    est = choices_of(demo_result.estimator)
    assert est.params["bandwidth_m"] == demo_result.params["method_parameters"]["bandwidth_m"]
    assert isinstance(choices_of(demo_result), Choices)
