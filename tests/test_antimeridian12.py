"""Hot spots across the antimeridian (Fiji, Chukotka, the Aleutians): cut in two there.

Reprojected from their UTM zone, such a polygon has vertices at 179.99 and -179.99 degrees;
written as it is, its ring runs round the whole world in a GeoJSON file and on the map. RFC 7946
3.1.9 says to cut it at the antimeridian, and 5.2 to give the collection's bbox west > east.
"""

from __future__ import annotations

import io
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from hotspots.crs import cut_at_antimeridian, to_lonlat
from hotspots.export import features_geojson
from hotspots.ingest import read_incidents
from hotspots.workflows import detect_hotspots, hotspot_bytes

UTM60S = "EPSG:32760"
#: x of the antimeridian at 16.8 degrees south in UTM zone 60S
X180, Y180 = pyproj.Transformer.from_crs(4326, UTM60S, always_xy=True).transform(180.0, -16.8)


def _spans(geom: shapely.Geometry) -> list[float]:
    return [p.bounds[2] - p.bounds[0] for p in shapely.get_parts(geom)]


def test_a_crossing_polygon_is_cut_and_keeps_its_area() -> None:
    ring = shapely.Polygon([(179.8, -17), (-179.7, -17), (-179.7, -16.5), (179.8, -16.5)])
    (out,), cut = cut_at_antimeridian([ring])
    assert cut and out.geom_type == "MultiPolygon"
    assert max(_spans(out)) <= 0.3 + 1e-12
    assert np.isclose(out.area, 0.5 * 0.5)  # the unwrapped ring: 0.5 degrees by 0.5 degrees
    west, east = sorted(shapely.get_parts(out), key=lambda p: -p.bounds[0])
    assert west.bounds == (179.8, -17.0, 180.0, -16.5) and east.bounds == (
        -180.0,
        -17.0,
        -179.7,
        -16.5,
    )


def test_parts_on_both_sides_that_do_not_cross_are_left_alone() -> None:
    aleutians = shapely.MultiPolygon(
        [shapely.box(172, 52, 173, 53), shapely.box(-170, 52, -169, 53)]
    )
    plain = shapely.box(-2.99, 53.39, -2.97, 53.41)
    out, cut = cut_at_antimeridian([aleutians, plain, shapely.Point(179.9, 0), None])
    assert not cut
    assert out[0] is aleutians and out[1] is plain


def test_to_lonlat_cuts_only_what_crosses() -> None:
    crossing = shapely.box(X180 - 2000, Y180 - 1000, X180 + 2000, Y180 + 1000)
    beside = shapely.box(X180 - 9000, Y180 - 1000, X180 - 5000, Y180 + 1000)
    gdf = gpd.GeoDataFrame(
        {"name": ["crossing", "beside"]}, geometry=[crossing, beside], crs=UTM60S
    )
    out = to_lonlat(gdf)
    assert out.crs.equals("EPSG:4326") and list(out["name"]) == ["crossing", "beside"]
    assert out.geometry.iloc[0].geom_type == "MultiPolygon"
    assert max(_spans(out.geometry.iloc[0])) < 0.1
    plain = gdf.to_crs(4326).geometry.iloc[1]
    assert out.geometry.iloc[1].equals_exact(plain, 0)


def test_geojson_cuts_the_feature_and_gives_the_bbox_across() -> None:
    crossing = shapely.box(X180 - 2000, Y180 - 1000, X180 + 2000, Y180 + 1000)
    fc = features_geojson(gpd.GeoDataFrame({"id": [1]}, geometry=[crossing], crs=UTM60S))
    geom = fc["features"][0]["geometry"]
    assert geom["type"] == "MultiPolygon"
    for poly in geom["coordinates"]:
        xs = [x for x, _ in poly[0]]
        assert max(xs) - min(xs) < 0.1
    west, south, east, north = fc["bbox"]
    assert 179.9 < west < 180.0 and -180.0 < east < -179.9 and south < north


def test_a_layer_that_does_not_cross_keeps_its_plain_bbox() -> None:
    box = shapely.box(530_000, 180_000, 531_000, 181_000)
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[box], crs="EPSG:27700")
    fc = features_geojson(gdf)
    assert fc["bbox"] == [round(float(v), 7) for v in gdf.to_crs(4326).total_bounds]


def test_detect_across_the_antimeridian_writes_no_world_spanning_ring() -> None:
    rng = np.random.default_rng(4)
    n = 800
    lon = (
        (180.0 + np.r_[rng.normal(0, 0.0006, n // 2), rng.normal(0, 0.02, n // 2)] + 180) % 360
    ) - 180
    lat = -16.8 + np.r_[rng.normal(0, 0.0005, n // 2), rng.normal(0, 0.01, n // 2)]
    frame = pd.DataFrame(
        {"date": [f"2023-{1 + i % 9:02d}-01" for i in range(n)], "longitude": lon.round(6),
         "latitude": lat.round(6), "offence": "assault"}
    )  # fmt: skip
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    inc = read_incidents(("fiji.csv", buf.getvalue().encode()), crime_types="all")
    res = detect_hotspots(inc, "kde")
    fc = json.loads(hotspot_bytes(res, "geojson"))
    assert len(fc["features"]) == len(res.hotspots) > 0
    for f in fc["features"]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        for poly in polys:
            xs = [x for x, _ in poly[0]]
            assert max(xs) - min(xs) < 1.0
    west, _, east, _ = fc["bbox"]
    assert west > east  # across the antimeridian
