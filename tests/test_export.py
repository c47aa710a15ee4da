"""Tests for hotspots.export: RFC 7946 GeoJSON, GeoPackage and spreadsheet-safe CSV."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import Incidents
from hotspots.export import features_geojson, safe_csv_cell, to_csv, to_geojson, to_geopackage
from hotspots.profile import rank_hotspots


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


def test_features_geojson_empty():
    gdf = gpd.GeoDataFrame({"a": []}, geometry=[], crs=27700)
    doc = features_geojson(gdf, {"k": 1})
    assert doc["features"] == [] and doc["hotspots_parameters"] == {"k": 1}
