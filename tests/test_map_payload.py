"""The map's size: what streamlit-folium sends to the browser stays under 3 MB at any input size."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import mapping, offline

MB = 1_000_000


def _payload_bytes(m, layers=None) -> int:
    """Bytes of the text arguments ``st_folium`` hands its component (the browser's payload)."""
    streamlit_folium = pytest.importorskip("streamlit_folium")
    sent: dict = {}
    real = streamlit_folium._component_func
    streamlit_folium._component_func = lambda **kw: sent.update(kw) or {}
    try:
        streamlit_folium.st_folium(m, key="map", returned_objects=[], feature_group_to_add=layers)
    finally:
        streamlit_folium._component_func = real
    return sum(len(v.encode("utf-8")) for v in sent.values() if isinstance(v, str))


def _wobbly_polygons(rng, n: int, radius_m: float, vertices: int) -> np.ndarray:
    """``n`` ragged polygons (``vertices`` each) around random points in England (BNG metres)."""
    x = rng.uniform(300_000, 560_000, n)
    y = rng.uniform(150_000, 500_000, n)
    angle = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    r = radius_m * (1 + 0.25 * rng.random((n, vertices)))  # every vertex off the circle
    px = x[:, None] + r * np.cos(angle)
    py = y[:, None] + r * np.sin(angle)
    rings = np.stack([px, py], axis=-1)
    return shapely.polygons(np.concatenate([rings, rings[:, :1]], axis=1))


@pytest.fixture(scope="module")
def national():
    """A national-sized result: 1,000,000 incidents, 3,000 hot spots, 8,000 contours, layers."""
    rng = np.random.default_rng(9)
    n_hot = 3000
    hot = gpd.GeoDataFrame(
        {
            "hotspot_id": [f"H{i:04d}" for i in range(1, n_hot + 1)],
            "rank": np.arange(1, n_hot + 1),
            "incidents": rng.integers(20, 900, n_hot),
            "harm": rng.uniform(100, 9000, n_hot),
            "peak_window": "Fri-Sat 21:00-03:00",
            "top_location": [
                f"On or near Some Very Long Street Name {i}, Anytown" for i in range(n_hot)
            ],
        },  # fmt: skip
        geometry=_wobbly_polygons(rng, n_hot, 120.0, 120),
        crs="EPSG:27700",
    )
    contours = gpd.GeoSeries(_wobbly_polygons(rng, 8000, 300.0, 60), crs="EPSG:27700")
    lon = rng.uniform(-5.5, 1.7, 1_000_000)
    lat = rng.uniform(50.0, 55.8, 1_000_000)
    incidents = pd.DataFrame({"lon": lon.round(6), "lat": lat.round(6)})
    areas = gpd.GeoDataFrame(
        {
            "patrol_area_id": [f"P{i:04d}" for i in range(2000)],
            "incidents": rng.integers(5, 100, 2000),
            "location": "On or near High Street",
        },
        geometry=_wobbly_polygons(rng, 2000, 75.0, 64),
        crs="EPSG:27700",
    )
    cells = gpd.GeoDataFrame(
        {"category": ["persistent hot spot"] * 6000, "n_cells": 3, "incidents": 40},
        geometry=_wobbly_polygons(rng, 6000, 60.0, 48),
        crs="EPSG:27700",
    )
    return hot, contours, incidents, areas, cells


def test_a_national_map_stays_under_3_mb(national):
    hot, contours, incidents, areas, cells = national
    raw = sum(len(shapely.to_geojson(g)) for g in hot.to_crs(4326).geometry)
    assert raw > 5 * MB  # drawn as they are, the hot spots alone would be over 5 MB
    m = mapping.build_map(hot, incidents, surface_polygons=contours, tiles="openstreetmap")
    offline.localize(m)
    layers = [
        mapping.patrol_layer(areas),
        mapping.emerging_layer(cells),
        mapping.selection_layer(hot, "H0001"),
    ]
    html = m.get_root().render()
    size = _payload_bytes(m, layers)
    assert size <= 3 * MB, size
    # The best-ranked hot spots are the ones drawn, in rank order; the legend says the rest
    # are left out of the map, not out of the analysis.
    drawn = re.findall(r'"hotspot_id": "(H\d{4})"', html)
    assert drawn[0] == "H0001"
    n = len(drawn)
    assert 100 < n < 3000
    assert drawn == [f"H{i:04d}" for i in range(1, n + 1)]
    assert f"Showing ranks 1-{n:,} of 3,000" in html
    # The largest contours are drawn, and the layer's name says how many of them.
    assert re.search(r"Density surface \(contours; the largest [\d,]+ of 8,000\)", html)
    # 20,000 heat points at most, each with the map's 5 decimals.
    heat = mapping.aggregate_heat_points(incidents)
    assert len(heat) == 20_000
    assert all(round(p[0], 5) == p[0] and round(p[1], 5) == p[1] for p in heat[:1000])


def test_a_town_map_loses_nothing_but_invisible_detail():
    """Small inputs: every polygon drawn, no vertex moved by more than the map's resolution."""
    rng = np.random.default_rng(4)
    geoms = gpd.GeoSeries(_wobbly_polygons(rng, 30, 80.0, 400), crs="EPSG:27700")
    data, drawn = mapping.fit_layer(geoms, [{"i": i} for i in range(30)], "hotspots")
    assert drawn == 30
    assert [f["properties"]["i"] for f in data["features"]] == list(range(30))
    back = gpd.GeoSeries(
        [shapely.geometry.shape(f["geometry"]) for f in data["features"]], crs=4326
    ).to_crs(27700)
    # Hausdorff distance: simplification (1 m) plus rounding to 5 decimals (< 0.8 m in BNG
    # here: 0.5e-5 degree is 0.56 m of latitude and 0.34 m of longitude at 52 N).
    gap = shapely.hausdorff_distance(np.asarray(back.values), np.asarray(geoms.values))
    assert gap.max() <= mapping.MAP_TOLERANCE_M + 0.7
    coords = shapely.get_coordinates(shapely.geometry.shape(data["features"][0]["geometry"]))
    assert np.array_equal(coords, coords.round(mapping.MAP_DECIMALS))
    # Fewer vertices than given (the 400-gon's near-collinear runs go), never fewer than 4.
    n_in = shapely.get_num_coordinates(np.asarray(geoms.values))
    n_out = shapely.get_num_coordinates(np.asarray(back.values))
    assert (n_out < n_in).all() and (n_out >= 4).all()


def test_the_budget_keeps_the_first_features_that_fit():
    rng = np.random.default_rng(5)
    geoms = gpd.GeoSeries(_wobbly_polygons(rng, 400, 200.0, 300), crs="EPSG:27700")
    data, drawn = mapping.fit_layer(geoms, [], "other")
    budget = mapping.LAYER_BUDGET_BYTES["other"]
    import json

    assert len(json.dumps(data)) <= budget
    assert 0 < drawn < 400 == len(geoms)
    assert len(data["features"]) == drawn
    # They are the first ones given (the caller orders them by importance).
    first = shapely.geometry.shape(data["features"][0]["geometry"])
    assert (
        first.centroid.distance(
            gpd.GeoSeries([geoms.iloc[0].centroid], crs=27700).to_crs(4326).iloc[0]
        )
        < 1e-4
    )
