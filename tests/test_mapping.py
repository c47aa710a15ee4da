"""The folium map builder: layers, colours, escaping, view and basemap settings."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import ParameterError
from hotspots.incidents import Incidents
from hotspots.mapping import (
    PALETTE,
    SELECTED_COLOUR,
    aggregate_heat_points,
    build_map,
    hotspot_at,
    rank_colours,
    resolve_tiles,
)
from hotspots.offline import asset_links, localize, standalone_html, walk

# Liverpool city centre in British National Grid metres.
CX, CY = 334_500.0, 390_300.0
PAYLOADS = ("<img src=x onerror=alert(1)>", "O`Brien St", "${alert(1)}")


def _incidents(n_outliers: int = 0) -> Incidents:
    rng = np.random.default_rng(7)
    x = np.r_[
        rng.normal(CX, 40, 150),
        rng.normal(CX + 900, 40, 100),
        rng.uniform(CX - 1500, CX + 1500, 150),
    ]
    y = np.r_[
        rng.normal(CY, 40, 150),
        rng.normal(CY + 400, 40, 100),
        rng.uniform(CY - 1500, CY + 1500, 150),
    ]
    # A geocoding error ~200 km away (London).
    x = np.r_[x, np.full(n_outliers, 530_000.0)]
    y = np.r_[y, np.full(n_outliers, 180_000.0)]
    return Incidents.from_xy(x, y, crs="EPSG:27700", location="On or near High St")


def _ranked(**extra) -> gpd.GeoDataFrame:
    data = {
        "hotspot_id": ["H001", "H002", "H003"],
        "rank": [1, 2, 3],
        "incidents": [150, 100, 12],
        "harm": [np.nan, np.nan, np.nan],
        "peak_window": ["Fri-Sat 21:00-03:00", "", "Mon 08:00-10:00"],
    }
    data.update(extra)
    return gpd.GeoDataFrame(
        data,
        geometry=[
            shapely.Point(CX, CY).buffer(120),
            shapely.Point(CX + 900, CY + 400).buffer(110),
            shapely.box(CX - 1000, CY - 1000, CX - 900, CY - 900),
        ],
        crs="EPSG:27700",
    )


def _geojson_layers(m):
    return [el for el in walk(m) if isinstance(el, folium.GeoJson)]


def _hotspot_layer(m):
    return next(el for el in _geojson_layers(m) if el.layer_name.startswith("Hot spots"))


def test_rank_colours_sequential_top_darkest():
    cols = rank_colours(5)
    assert cols[0] == PALETTE[-1]
    idx = [PALETTE.index(c) for c in cols]
    assert idx == sorted(idx, reverse=True)
    assert rank_colours(1) == [PALETTE[-1]]
    assert rank_colours(0) == []


def test_build_map_layers_and_geometry_in_wgs84():
    m = build_map(
        _ranked(), _incidents(), surface_polygons=[shapely.Point(CX, CY).buffer(400)], tiles="none"
    )
    names = [type(el).__name__ for el in walk(m)]
    assert names.count("HeatMap") == 1
    assert names.count("LayerControl") == 1
    assert "Marker" not in names and "CircleMarker" not in names
    assert m.control_scale is True
    layer = _hotspot_layer(m)
    feats = layer.data["features"]
    assert len(feats) == 3
    lon, lat = shapely.geometry.shape(feats[0]["geometry"]).centroid.coords[0]
    assert 53.3 < lat < 53.5 and -3.1 < lon < -2.8
    assert {f["properties"]["rank_label"] for f in feats} == {"1 of 3", "2 of 3", "3 of 3"}
    # Colour by rank, top darkest.
    fills = {f["properties"]["hotspot_id"]: f["properties"]["_fill"] for f in feats}
    assert fills["H001"] == PALETTE[-1]
    assert PALETTE.index(fills["H003"]) < PALETTE.index(fills["H001"])
    tooltip = next(el for el in walk(m) if type(el).__name__ == "GeoJsonTooltip")
    assert tooltip.fields[:2] == ["rank_label", "hotspot_id"]
    assert "peak_window" in tooltip.fields and "harm" in tooltip.fields
    surface = next(el for el in _geojson_layers(m) if el.layer_name.startswith("Density"))
    assert len(surface.data["features"]) == 1


def test_missing_times_and_harm_are_shown_as_such():
    m = build_map(_ranked(), tiles="none")
    props = {
        f["properties"]["hotspot_id"]: f["properties"] for f in _hotspot_layer(m).data["features"]
    }
    assert props["H002"]["peak_window"] == "times not known"
    assert props["H001"]["harm"] == "—"


def test_selected_hotspot_is_highlighted_and_drawn_last():
    m = build_map(_ranked(), tiles="none", selected="H002")
    layer = _hotspot_layer(m)
    feats = layer.data["features"]
    assert feats[-1]["properties"]["hotspot_id"] == "H002"
    styles = {f["properties"]["hotspot_id"]: layer.style_function(f) for f in feats}
    assert (
        styles["H002"]["color"] == SELECTED_COLOUR
        and styles["H002"]["weight"] > styles["H001"]["weight"]
    )
    # A rank works too.
    m = build_map(_ranked(), tiles="none", selected=3)
    assert _hotspot_layer(m).data["features"][-1]["properties"]["_selected"] is True


@pytest.mark.parametrize("payload", PAYLOADS)
def test_csv_strings_are_escaped_in_the_rendered_html(payload):
    ranked = _ranked(
        peak_window=[payload, payload, payload],
        hotspot_id=[payload + "1", "H002", "H003"],
        location=[payload, "x", "y"],
    )
    m = localize(build_map(ranked, _incidents(), tiles="none"))
    page = m.get_root().render()
    assert payload not in page
    props = _hotspot_layer(m).data["features"]
    shown = [p["properties"]["location"] for p in props] + [
        p["properties"]["peak_window"] for p in props
    ]
    for value in shown:
        assert "<" not in value and "`" not in value and "$" not in value
    assert "&lt;img" in page or "\\u0026lt;img" in page or payload != PAYLOADS[0]
    # Same for the standalone page (it embeds the same script).
    assert payload not in standalone_html(build_map(ranked, tiles="none"))


def test_custom_tile_attribution_is_escaped():
    m = build_map(
        _ranked(),
        tiles="https://tiles.example.police.uk/{z}/{x}/{y}.png",
        tile_attribution="<b>Force</b> `x`",
    )
    layer = next(el for el in walk(m) if isinstance(el, folium.TileLayer))
    assert layer.options["attribution"] == "&lt;b&gt;Force&lt;/b&gt; &#96;x&#96;"
    assert layer.tiles == "https://tiles.example.police.uk/{z}/{x}/{y}.png"


def test_fit_bounds_follow_hotspots_and_ignore_far_outlier():
    m = build_map(_ranked(), _incidents(n_outliers=3), tiles="none")
    (s, w), (n, e) = _fit_bounds(m)
    assert 53.3 < s < n < 53.5 and -3.1 < w < e < -2.8
    # No hot spots: the incidents' 1st-99th percentile box, still not London.
    m = build_map(None, _incidents(n_outliers=3), tiles="none")
    (s, w), (n, e) = _fit_bounds(m)
    assert 53.3 < s < n < 53.5 and -3.1 < w < e < -2.8
    # Nothing at all: Great Britain.
    (s, w), (n, e) = _fit_bounds(build_map(None, None, tiles="none"))
    assert s < 51 < n


def _fit_bounds(m):
    fb = next(el for el in walk(m) if type(el).__name__ == "FitBounds")
    return fb.bounds


def test_tiles_none_sets_max_zoom_and_no_tile_layer():
    m = build_map(_ranked(), _incidents(), tiles="none")
    assert not any(isinstance(el, folium.TileLayer) for el in walk(m))
    # folium drops max_zoom=19 when tiles=None; Leaflet needs maxZoom on the map itself.
    assert m.options["maxZoom"] == 19
    assert '"maxZoom": 19' in m.get_root().render()


def test_default_map_has_no_tiles_and_makes_no_request():
    page = build_map(_ranked()).get_root().render()
    assert not any(isinstance(el, folium.TileLayer) for el in walk(build_map(_ranked())))
    assert "tile.openstreetmap.org" not in page


def test_openstreetmap_tiles_are_opt_in_with_attribution():
    m = build_map(_ranked(), tiles="openstreetmap")
    layer = next(el for el in walk(m) if isinstance(el, folium.TileLayer))
    assert "tile.openstreetmap.org" in layer.tiles
    assert "OpenStreetMap" in layer.options["attribution"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "none"),
        ("", "none"),
        ("None", "none"),
        ("OSM", "openstreetmap"),
        ("openstreetmap", "openstreetmap"),
        ("https://t.example/{z}/{x}/{y}.png", "https://t.example/{z}/{x}/{y}.png"),
    ],
)
def test_resolve_tiles(value, expected):
    assert resolve_tiles(value) == expected


@pytest.mark.parametrize(
    "bad", ["https://t.example/tiles.png", "satellite", "file:///x/{z}/{x}/{y}"]
)
def test_resolve_tiles_rejects(bad):
    with pytest.raises(ParameterError):
        resolve_tiles(bad)


def test_heat_points_aggregate_by_location_and_cap():
    frame = pd.DataFrame({"lon": [-2.98] * 50 + [-2.97] * 5, "lat": [53.4] * 50 + [53.41] * 5})
    pts = aggregate_heat_points(frame)
    assert len(pts) == 2
    assert max(p[2] for p in pts) == 1.0
    rng = np.random.default_rng(3)
    big = pd.DataFrame(
        {
            "lon": rng.uniform(-3.1, -2.8, 50_000),
            "lat": rng.uniform(53.3, 53.5, 50_000),
            "weight": rng.uniform(0.5, 2, 50_000),
        }
    )
    pts = aggregate_heat_points(big, max_points=5_000)
    assert 0 < len(pts) <= 5_000
    assert all(0 < p[2] <= 1 for p in pts)
    assert aggregate_heat_points(big.iloc[:0]) == []


def test_heat_payload_stays_small_for_large_data():
    rng = np.random.default_rng(4)
    n = 100_000
    frame = pd.DataFrame(
        {"lon": rng.normal(-2.98, 0.05, n).round(4), "lat": rng.normal(53.4, 0.03, n).round(4)}
    )
    m = build_map(None, frame, tiles="none", max_heat_points=20_000)
    heat = next(el for el in walk(m) if type(el).__name__ == "HeatMap")
    assert len(heat.data) <= 20_000
    assert len(json.dumps(heat.data)) < 0.6e6


def test_hotspot_at_matches_click_to_polygon():
    ranked = _ranked()
    wgs = ranked.to_crs(4326)
    c = wgs.geometry.iloc[1].centroid
    assert hotspot_at(ranked, c.y, c.x) == "H002"
    assert hotspot_at(wgs, c.y, c.x) == "H002"
    assert hotspot_at(ranked, 53.0, -2.0) is None
    assert hotspot_at(ranked, None, None) is None


def test_localized_full_map_has_only_local_assets():
    m = localize(
        build_map(_ranked(), _incidents(), surface_polygons=[shapely.Point(CX, CY).buffer(400)])
    )
    assert all(not re.match(r"(https?:)?//", u) for u in asset_links(m))


def test_patrol_layer_escapes_and_marks_left_out_areas():
    import geopandas as gpd
    import shapely

    from hotspots.mapping import patrol_layer

    areas = gpd.GeoDataFrame(
        {
            "patrol_area_id": ["H001-P1", "H002-P1"],
            "incidents": [30, 12],
            "location": ["<img src=x onerror=alert(1)>", "O`Brien St ${alert(1)}"],
        },
        geometry=[
            shapely.Point(400000, 300000).buffer(75),
            shapely.Point(400500, 300000).buffer(75),
        ],
        crs=27700,
    )

    class Plan:
        def area_summary(self):
            import pandas as pd

            return pd.DataFrame(
                {
                    "patrol_area_id": ["H001-P1", "H002-P1"],
                    "in_plan": [True, False],
                    "visits": [28, 0],
                }
            )

    fg = patrol_layer(areas, Plan())
    gj = next(iter(fg._children.values()))
    feats = gj.data["features"]
    assert feats[0]["properties"]["plan"] == "28 visits" and feats[0]["properties"]["_in_plan"]
    assert (
        feats[1]["properties"]["plan"] == "left out (capacity)"
        and not feats[1]["properties"]["_in_plan"]
    )
    assert (
        "<img" not in json.dumps(gj.data)
        and "`" not in json.dumps(gj.data)
        and "${" not in json.dumps(gj.data)
    )
    assert "&lt;img" in feats[0]["properties"]["location"]
    assert patrol_layer(areas.iloc[:0]) is None


def test_emerging_layer_escapes_and_colours_categories():
    from hotspots.mapping import EMERGING_COLOURS, emerging_layer

    cells = [shapely.box(CX + i * 150, CY, CX + (i + 1) * 150, CY + 150) for i in range(4)]
    areas = gpd.GeoDataFrame(
        {
            "category": [
                "persistent hot spot",
                "new hot spot",
                "historical hot spot",
                "<b>odd</b>",
            ],
            "n_cells": [3, 1, 2, 1],
            "incidents": [120, 9, 14, 2],
            "top_location": [PAYLOADS[0], PAYLOADS[1], PAYLOADS[2], None],
        },
        geometry=cells,
        crs="EPSG:27700",
    )
    fg = emerging_layer(areas)
    gj = next(iter(fg._children.values()))
    feats = gj.data["features"]
    text = json.dumps(gj.data)
    assert "<img" not in text and "`" not in text and "${" not in text and "<b>" not in text
    assert feats[0]["properties"]["location"].startswith("&lt;img")
    assert feats[3]["properties"]["location"] == ""
    assert feats[0]["properties"]["cells"] == "3" and feats[0]["properties"]["incidents"] == "120"
    assert feats[0]["geometry"]["coordinates"][0][0][0] < 0  # reprojected to lon/lat (Liverpool)
    styles = [gj.style_function(f) for f in feats]
    assert [s["fillColor"] for s in styles[:3]] == [
        EMERGING_COLOURS[c][0]
        for c in ("persistent hot spot", "new hot spot", "historical hot spot")
    ]
    assert len({s["fillColor"] for s in styles[:3]}) == 3  # one colour per category
    assert styles[3]["fillColor"] not in {s["fillColor"] for s in styles[:3]}  # unknown: grey
    assert len({c for c, _ in EMERGING_COLOURS.values()}) == len(EMERGING_COLOURS)
    assert not {c for c, _ in EMERGING_COLOURS.values()} & set(
        PALETTE
    )  # never mistaken for a hot spot rank
    # The tooltip names the fields; a rendered map with the layer holds only the escaped text.
    m = build_map(_ranked(), None, tiles="none")
    fg.add_to(m)
    html = m.get_root().render()
    assert "<img src=x" not in html and "O`Brien" not in html
    assert emerging_layer(areas.iloc[:0]) is None
    assert emerging_layer(None) is None
    # Without the optional columns only category and cells are shown.
    plain = emerging_layer(areas[["category", "n_cells", "geometry"]])
    props = next(iter(plain._children.values())).data["features"][0]["properties"]
    assert set(props) == {"category", "cells", "_colour"}


def test_click_on_a_patrol_disc_selects_its_hot_spot():
    import geopandas as gpd
    import shapely

    from hotspots.mapping import hotspot_at

    ranked = gpd.GeoDataFrame(
        {"hotspot_id": ["H001"], "rank": [1]},
        geometry=[shapely.box(400000, 300000, 400050, 300050)],
        crs=27700,
    )
    areas = gpd.GeoDataFrame(
        {"hotspot_id": ["H001"], "patrol_area_id": ["H001-P1"], "rank": [1]},
        geometry=[shapely.Point(400040, 300040).buffer(75)],
        crs=27700,
    )
    lon, lat = (
        gpd.GeoSeries([shapely.Point(400100, 300040)], crs=27700).to_crs(4326).iloc[0].coords[0]
    )
    assert hotspot_at(ranked, lat, lon) is None  # 50 m outside the hot spot
    assert hotspot_at(ranked, lat, lon, patrol_areas=areas) == "H001"  # but inside its patrol disc
