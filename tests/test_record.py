"""Tests for hotspots.record: the one record of what was chosen, read-only once made."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest

from hotspots.record import Choices, FrozenDict, FrozenList, choices_of, freeze, thaw


def test_freeze_makes_plain_json_values_read_only():
    rec = freeze(
        {
            "n": np.int64(3),
            "share": np.float64(0.25),
            "missing": float("nan"),
            "flag": np.bool_(True),
            "when": pd.Timestamp("2025-01-31"),
            "crs": pyproj.CRS.from_epsg(27700),
            "types": {"Robbery", "Burglary"},
            "period": ("2025-01", "2025-12"),
            "grid": np.array([1, 2]),
            "nested": {"files": [{"name": "a.csv"}]},
        }
    )
    assert json.loads(json.dumps(rec)) == {
        "n": 3,
        "share": 0.25,
        "missing": None,
        "flag": True,
        "when": "2025-01-31T00:00:00",
        "crs": "EPSG:27700",
        "types": ["Burglary", "Robbery"],
        "period": ["2025-01", "2025-12"],
        "grid": [1, 2],
        "nested": {"files": [{"name": "a.csv"}]},
    }
    assert type(rec["n"]) is int and type(rec["share"]) is float
    assert rec["period"] == ["2025-01", "2025-12"]  # compares equal to a plain list
    for change in (
        lambda: rec.__setitem__("n", 4),
        lambda: rec.update(n=4),
        lambda: rec.pop("n"),
        lambda: rec.setdefault("x", 1),
        lambda: rec.clear(),
        lambda: rec["nested"]["files"].append({}),
        lambda: rec["nested"]["files"][0].__setitem__("name", "b.csv"),
        lambda: rec["period"].sort(),
        lambda: rec["period"].__setitem__(0, "2024-01"),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    with pytest.raises(TypeError):
        rec |= {"n": 4}
    assert rec["n"] == 3 and rec["nested"]["files"][0]["name"] == "a.csv"


def test_copies_pickles_and_thaw():
    rec = freeze({"a": [1, {"b": 2}]})
    assert freeze(rec) is rec and copy.deepcopy(rec) is rec
    back = pickle.loads(pickle.dumps(rec))  # streamlit's cache_data pickles what it returns
    assert back == rec and isinstance(back, FrozenDict) and isinstance(back["a"], FrozenList)
    mine = thaw(rec)
    mine["a"][1]["b"] = 3
    assert type(mine) is dict and type(mine["a"]) is list
    assert rec["a"][1]["b"] == 2


def test_choices_is_frozen_and_round_trips():
    c = Choices({"bandwidth_m": np.float64(150.0), "rule": "micro-place"}, ["Bandwidth 150 m."])
    assert c.params == {"bandwidth_m": 150.0, "rule": "micro-place"}
    assert c.notes == ("Bandwidth 150 m.",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.notes = ()
    with pytest.raises(TypeError, match="read-only"):
        c.params["rule"] = "arcgis"
    assert Choices.from_dict(json.loads(c.to_json())) == c
    assert c.lines() == ["- Bandwidth 150 m."]
    assert hash(c) == hash(Choices({"rule": "micro-place", "bandwidth_m": 150.0}, c.notes))


def test_merged_keeps_order_and_sections():
    a = Choices({"x": 1}, ["first"])
    b = Choices({"y": 2}, ["second"])
    c = Choices({"z": 3}, ["third"])
    m = a.merged(b, plan=c)
    assert m.params == {"x": 1, "y": 2, "plan": {"z": 3}}
    assert m.notes == ("first", "second", "third")
    assert a.params == {"x": 1}  # unchanged


def test_choices_of_reads_each_kind_of_result():
    class Estimator:
        params_ = {"eps_m": 50.0}
        notes_ = ["eps 50 m"]

    class Plan:
        params = {"seed": 1}
        summary = {"notes": ["seeded"], "areas_planned": 3}

    class Classification:
        params = {"cell_size_m": 150.0}
        notes = ["monthly periods"]

    areas = pd.DataFrame({"a": [1]})
    areas.attrs["params"] = {"radius_m": 75.0}
    areas.attrs["notes"] = ["75 m discs"]
    assert choices_of(Estimator()) == Choices({"eps_m": 50.0}, ["eps 50 m"])
    assert choices_of(Plan()) == Choices({"seed": 1}, ["seeded"])
    assert choices_of(Classification()) == Choices({"cell_size_m": 150.0}, ["monthly periods"])
    assert choices_of(areas) == Choices({"radius_m": 75.0}, ["75 m discs"])
    c = Choices({"k": 1})
    assert choices_of(c) is c
    with pytest.raises(TypeError, match="records no choices"):
        choices_of(object())


def test_provenance_of_real_incidents(demo_csv):
    from hotspots.ingest import read_incidents
    from hotspots.record import provenance

    inc = read_incidents(demo_csv)
    p = provenance(inc)
    assert isinstance(p, FrozenDict)
    assert p["synthetic"] is True and p["data_period"] == ["2025-01", "2025-12"]
    assert p["n_incidents"] == len(inc)
    assert p["input_files"][0]["sha256"] == inc.report.files[0].sha256
    assert choices_of(inc).params["crs"] == p["crs"] == inc.crs.to_string()
    assert p["engine"] == {"engine": "local"}


@pytest.fixture(scope="module")
def demo_incidents(demo_csv):
    from hotspots.ingest import read_incidents

    return read_incidents(demo_csv)


def test_provenance_names_the_engine_it_is_given(demo_incidents):
    from hotspots.record import provenance

    ran = {"engine": "dask", "scheduler": "tcp://10.0.0.5", "n_workers": 3}
    assert provenance(demo_incidents, engine=ran)["engine"] == ran
    assert provenance(demo_incidents)["engine"] == {"engine": "local"}


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("tcp://10.0.0.5:8786", "tcp://10.0.0.5"),
        ("tls://alice:s3cret@scheduler.example.org:8786/path", "tls://scheduler.example.org"),
        ("scheduler.internal:8786", "tcp://scheduler.internal"),
        ("tcp://[2001:db8::5]:8786", "tcp://[2001:db8::5]"),
        ("inproc://192.0.2.2/7986/1", "inproc://192.0.2.2"),
    ],
)
def test_scheduler_address_is_kept_to_scheme_and_host(address, kept):
    from hotspots.engine import redact_address

    assert redact_address(address) == kept


def test_every_export_records_the_engine(demo_incidents, tmp_path):
    """Hot spots (GeoJSON, CSV) and change-over-time classes carry the engine in their record."""
    from hotspots import workflows
    from hotspots.detect import detect

    result = detect(demo_incidents, "gistar")
    assert result.params["engine"] == {"engine": "local"}
    doc = json.loads(workflows.hotspot_bytes(result, "geojson"))
    assert doc["features"][0]["properties"]["hotspots_parameters"]["engine"] == {"engine": "local"}
    table = pd.read_csv(io.BytesIO(workflows.hotspot_bytes(result, "csv")))
    assert json.loads(table["parameters"].iloc[0])["engine"] == {"engine": "local"}
    (tmp_path / "h.gpkg").write_bytes(workflows.hotspot_bytes(result, "gpkg"))
    layer = gpd.read_file(tmp_path / "h.gpkg")
    assert json.loads(layer["parameters"].iloc[0])["engine"] == {"engine": "local"}
    res = workflows.classify_over_time(demo_incidents)
    record = workflows.classification_params(res, demo_incidents)
    assert record["engine"] == res.params["engine"] == {"engine": "local"}
    assert json.loads(workflows.classification_geojson(res, demo_incidents))["features"]
