"""Briefing maps an officer can find the place with: streets under the map from a configured tile
server, and the streets and places the incidents name (always, tiles or not)."""

from __future__ import annotations

import re

import numpy as np
import pyproj
import pytest
import shapely

from hotspots.briefing import area_place_names, tile_images

BNG = pyproj.CRS("EPSG:27700")
HALF_WORLD = 20037508.342789244  # Web Mercator's half circumference, metres


def _matrix(t):
    return [float(v) for v in t["matrix"].split()]


def test_tiles_are_the_right_ones_and_sit_where_they_belong():
    # A 300 m box in central Birmingham (BNG). Reference: pyproj's own Web Mercator (EPSG:3857).
    x0, y0 = 406_600.0, 286_800.0
    box = (x0, y0, x0 + 300.0, y0 + 300.0)
    s = 230 / 300.0
    tiles = tile_images(box, BNG, "https://tiles.example/{z}/{x}/{y}.png", s)
    to_merc = pyproj.Transformer.from_crs(BNG, "EPSG:3857", always_xy=True)
    to_bng = pyproj.Transformer.from_crs("EPSG:3857", BNG, always_xy=True)
    zs = {int(re.search(r"/(\d+)/\d+/\d+\.png$", t["href"]).group(1)) for t in tiles}
    (z,) = zs
    tile_m = 2 * HALF_WORLD / 2**z
    # The lowest zoom whose tiles are at least as sharp as the map: 256 px cover tile_m mercator
    # metres, i.e. tile_m * cos(lat) ground metres.
    lat = np.radians(52.48)
    assert 256 / (tile_m * np.cos(lat)) >= s > 256 / (2 * tile_m * np.cos(lat))
    # Every corner of the box lies on one of the tiles, and no tile is superfluous.
    mx, my = to_merc.transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
    want = {
        (int((x + HALF_WORLD) // tile_m), int((HALF_WORLD - y) // tile_m))
        for x, y in zip(mx, my, strict=True)
    }
    got = {tuple(map(int, re.search(r"/(\d+)/(\d+)\.png$", t["href"]).groups())) for t in tiles}
    lo = np.min(list(want), axis=0)
    hi = np.max(list(want), axis=0)
    assert got == {(i, j) for i in range(lo[0], hi[0] + 1) for j in range(lo[1], hi[1] + 1)}
    # The centre pixel of each tile is placed where its mercator centre falls in the map.
    for t in tiles:
        i, j = map(int, re.search(r"/(\d+)/(\d+)\.png$", t["href"]).groups())
        a, b, c, d, e, f = _matrix(t)
        px, py = a * 128 + c * 128 + e, b * 128 + d * 128 + f
        cx = -HALF_WORLD + (i + 0.5) * tile_m
        cy = HALF_WORLD - (j + 0.5) * tile_m
        bx, by = to_bng.transform(cx, cy)
        assert px == pytest.approx((bx - x0) * s, abs=0.05)
        assert py == pytest.approx((box[3] - by) * s, abs=0.05)


def test_place_names_inside_the_area_most_frequent_first():
    area = shapely.Point(0, 0).buffer(75)
    pts = np.array([[0, 0], [10, 5], [20, 0], [-30, 0], [200, 0], [0, 74]], dtype=float)
    loc = np.array(
        ["On or near Canal Walk", "on or near Canal Walk", "Market Square", "", "Far Road", None],
        dtype=object,
    )
    assert area_place_names(area, pts, loc) == [("Canal Walk", 2), ("Market Square", 1)]
    assert area_place_names(area, pts, None) == []


def test_briefing_without_tiles_makes_no_request_and_names_streets(tmp_path, demo_csv):
    from hotspots import cli

    out = tmp_path / "plan"
    assert cli.main(["--quiet", "plan", str(demo_csv), "--out-dir", str(out), "--days", "7"]) == 0
    html = (out / "briefing.html").read_text("utf-8")
    assert "<image" not in html and "Map tiles:" not in html
    assert html.count("Streets and places named in its incidents") == html.count(
        '<section class="area"'
    )
    out2 = tmp_path / "plan2"
    url = "https://tiles.force.example/{z}/{x}/{y}.png"
    args = ["--quiet", "plan", str(demo_csv), "--out-dir", str(out2), "--days", "7"]
    assert cli.main([*args, "--briefing-tiles", url, "--tiles-attribution", "Force GIS"]) == 0
    html2 = (out2 / "briefing.html").read_text("utf-8")
    assert html2.count("<image") >= html2.count('<section class="area"') >= 1
    assert re.search(r'href="https://tiles\.force\.example/1[5-9]/\d+/\d+\.png"', html2)
    assert "Map tiles: Force GIS" in html2
