"""Tests for hotspots.boundaries: study areas and excluded places from user files."""

from __future__ import annotations

import io
import json
import math
import zipfile

import geopandas as gpd
import pytest
import shapely

from hotspots import HotspotsWarning, InputError, cli
from hotspots.boundaries import exclusion_zones, read_boundary

BOX = shapely.box(-1.62, 53.68, -1.58, 53.72)  # lon/lat, Yorkshire


def _geojson(*geoms, crs=None) -> bytes:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)}
            for g in geoms
        ],
    }
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(doc).encode()


def _files(tmp_path, gdf):
    gdf.to_file(tmp_path / "a.gpkg", driver="GPKG")
    gdf.to_file(tmp_path / "a.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in tmp_path.glob("a.*"):
            if p.suffix != ".gpkg":
                zf.write(p, p.name)
    (tmp_path / "a.zip").write_bytes(buf.getvalue())
    return tmp_path / "a.gpkg", tmp_path / "a.zip"


def test_geojson_geopackage_and_zipped_shapefile_agree(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["area"]}, geometry=[BOX], crs=4326)
    gpkg, zipped = _files(tmp_path, gdf.to_crs(27700))  # stored in British National Grid
    for source in (_geojson(BOX), gpkg, zipped, gpkg.read_bytes(), zipped.read_bytes()):
        geom = read_boundary(source, name="area")
        # back in longitude/latitude; reprojection moves corners by far less than 1e-6 degrees
        assert geom.geom_type == "Polygon"
        assert shapely.hausdorff_distance(geom, BOX) < 1e-6


def test_invalid_polygon_is_repaired_with_a_warning():
    bowtie = shapely.Polygon([(-1.6, 53.7), (-1.58, 53.72), (-1.58, 53.7), (-1.6, 53.72)])
    assert not bowtie.is_valid
    with pytest.warns(HotspotsWarning, match="bowtie.geojson: 1 invalid geometry") as rec:
        geom = read_boundary(_geojson(bowtie), name="bowtie.geojson")
    assert "Self-intersection" in str(rec[0].message)
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    # two triangles meeting at the crossing point (-1.59, 53.71): each 0.01 x 0.02 / 2 deg²
    assert math.isclose(geom.area, 2 * 0.01 * 0.01, rel_tol=1e-9)


def test_points_and_lines_are_left_out_of_a_study_area():
    line = shapely.LineString([(-1.7, 53.6), (-1.65, 53.65)])
    with pytest.warns(HotspotsWarning, match="1 points or lines"):
        geom = read_boundary(_geojson(BOX, line), name="mixed.geojson")
    assert geom.equals(BOX)
    with pytest.raises(InputError, match="no polygon") as info:
        read_boundary(_geojson(line, shapely.Point(-1.6, 53.7)), name="pts.geojson")
    assert info.value.file == "pts.geojson" and "polygon" in info.value.hint
    # places to exclude keep them
    kept = read_boundary(_geojson(BOX, line), name="places.geojson", polygons_only=False)
    assert kept.geom_type == "GeometryCollection" and kept.covers(line)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"not a geojson at all", "could not be read"),
        (b'{"type": "FeatureCollection", "features": []}', "no features"),
        (b"PK\x03\x04garbage", "could not be read"),
    ],
)
def test_unreadable_files_name_the_file_and_the_fix(data, match):
    with pytest.raises(InputError, match=match) as info:
        read_boundary(data, name="area.geojson")
    assert info.value.file == "area.geojson" and info.value.hint


def test_projected_coordinates_without_a_crs_are_refused():
    bng = shapely.box(420000, 430000, 421000, 431000)
    with pytest.raises(InputError, match="not longitudes") as info:
        read_boundary(_geojson(bng), name="bng.geojson")
    assert "EPSG:4326" in info.value.hint
    # with its CRS named, the same polygon is read and converted
    geom = read_boundary(_geojson(bng, crs="urn:ogc:def:crs:EPSG::27700"), name="bng.geojson")
    lon, lat = geom.centroid.x, geom.centroid.y
    assert -1.8 < lon < -1.6 and 53.7 < lat < 53.8


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_boundary(tmp_path / "none.geojson")


def test_exclusion_zones_buffer_points_and_lines_in_metres():
    pt = shapely.Point(-1.6, 53.7)
    line = shapely.LineString([(-1.61, 53.69), (-1.61, 53.695)])
    zone = exclusion_zones(shapely.GeometryCollection([pt, BOX]), "EPSG:27700", buffer_m=50)
    # the point lies inside the box, so the zone is the box in BNG
    box_bng = gpd.GeoSeries([BOX], crs=4326).to_crs(27700).iloc[0]
    assert math.isclose(zone.area, box_bng.area, rel_tol=1e-9)
    line_zone = exclusion_zones(line, "EPSG:27700", buffer_m=20)
    line_bng = gpd.GeoSeries([line], crs=4326).to_crs(27700).iloc[0]
    # a 20 m buffer around a line: length x 40 m plus a 20 m disc (32-gon) at the ends
    expected = line_bng.length * 40 + 16 * 20**2 * math.sin(math.pi / 16)
    assert math.isclose(line_zone.area, expected, rel_tol=1e-3)
    assert exclusion_zones(None, "EPSG:27700") is None


def test_cli_reads_a_zipped_shapefile_study_area(demo_csv, tmp_path):
    # 2 km x 2 km around the synthetic town centre (BNG 440000, 305000)
    town = shapely.box(439000, 304000, 441000, 306000)
    gdf = gpd.GeoDataFrame({"name": ["area"]}, geometry=[town], crs=27700)
    _gpkg, zipped = _files(tmp_path, gdf)
    report = tmp_path / "report.json"
    out = tmp_path / "h.geojson"
    args = ["--quiet", "detect", str(demo_csv), "--study-area", str(zipped), "--all"]
    assert cli.main([*args, "--out", str(out), "--report", str(report)]) == 0
    rep = json.loads(report.read_text())
    assert rep["choices"]["study_area_rule"] == "given"
    assert math.isclose(rep["choices"]["study_area_km2"], 4.0, rel_tol=1e-3)
    assert rep["rejected_by_reason"]["outside study area polygon"] > 0
