"""The map tab's drawn map: built once per detection run (``map.drawn_map``) and handed to
streamlit-folium's component with exactly the arguments ``st_folium`` would give it; the basemap
is a layer beside it."""

from __future__ import annotations

import re

import pytest

streamlit_folium = pytest.importorskip("streamlit_folium")

# folium names every element with a random hex id; the component's key is computed without them.
_IDS = re.compile(r"_[0-9a-f]{32}")


def _sent(call) -> dict:
    sent: dict = {}
    real = streamlit_folium._component_func
    streamlit_folium._component_func = lambda **kw: sent.update(kw) or {}
    try:
        call()
    finally:
        streamlit_folium._component_func = real
    return sent


def _plain(args: dict) -> dict:
    return {k: _IDS.sub("", v) if isinstance(v, str) else v for k, v in args.items()}


def test_drawn_map_sends_what_st_folium_sends(demo_csv):
    from hotspots import mapping, offline
    from hotspots.workflows import detect_hotspots, read_inputs, surface_contours
    from hotspots_app import map as map_section

    result = detect_hotspots(read_inputs([demo_csv]), "kde")
    ranked = result.hotspots
    first = str(ranked["hotspot_id"].iloc[0])
    drawn = map_section.drawn_map.__wrapped__(result)

    def ours() -> None:
        map_section.show_drawn(
            drawn,
            key="map",
            height=600,
            width="stretch",
            returned_objects=["last_object_clicked"],
            feature_group_to_add=[mapping.selection_layer(ranked, first)],
        )

    def theirs() -> None:
        import geopandas as gpd

        m = mapping.build_map(
            ranked,
            result.incidents,
            surface_polygons=gpd.GeoSeries(surface_contours(result, (0.25, 0.5)), crs=ranked.crs),
            tiles="none",
        )
        offline.localize(m)
        streamlit_folium.st_folium(
            m,
            key="map",
            height=600,
            width="stretch",
            returned_objects=["last_object_clicked"],
            feature_group_to_add=[mapping.selection_layer(ranked, first)],
        )

    a, b = _sent(ours), _sent(theirs)
    assert set(a) == set(b)
    a.pop("on_change"), b.pop("on_change")
    assert _plain(a) == _plain(b)
    assert a["key"] == b["key"]  # the same component: no remount between the two
    assert len(a["script"]) > 10_000 and a["feature_group"]  # a real map, a real layer


def test_the_basemap_is_a_layer_beside_the_drawn_map(demo_csv):
    """Choosing a basemap adds a layer and keeps the component (no remount: pan and zoom stay)."""
    from hotspots import mapping
    from hotspots.workflows import detect_hotspots, read_inputs
    from hotspots_app import map as map_section

    result = detect_hotspots(read_inputs([demo_csv]), "kde")
    drawn = map_section.drawn_map.__wrapped__(result)
    assert "tileLayer" not in drawn.script  # offline unless a basemap is chosen

    def shown(tiles: str) -> dict:
        group = mapping.basemap_layer(tiles, "Force tiles")
        return _sent(
            lambda: map_section.show_drawn(
                drawn,
                key="map",
                height=600,
                width="stretch",
                returned_objects=["last_object_clicked"],
                feature_group_to_add=[group] if group is not None else None,
            )
        )

    plain = shown("none")
    osm = shown("openstreetmap")
    own = shown("https://tiles.example.police.uk/{z}/{x}/{y}.png")
    assert mapping.basemap_layer("none") is None and plain["feature_group"] is None
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in osm["feature_group"]
    assert "OpenStreetMap" in osm["feature_group"]  # its attribution
    assert "https://tiles.example.police.uk/{z}/{x}/{y}.png" in own["feature_group"]
    assert "Force tiles" in own["feature_group"]
    assert plain["key"] == osm["key"] == own["key"]
    assert plain["script"] == osm["script"] == own["script"]
