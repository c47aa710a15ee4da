"""Local map assets (no CDN), HTML escaping and the standalone map page."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlparse

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pytest
import shapely
from branca.colormap import LinearColormap

from hotspots.incidents import Incidents
from hotspots.mapping import build_map
from hotspots.offline import (
    CDN_TO_LOCAL,
    DEFAULT_PREFIX,
    VENDOR_DIR,
    UnmappedAssetError,
    asset_links,
    escape_text,
    localize,
    standalone_html,
    walk,
)

PAYLOADS = ("<img src=x onerror=alert(1)>", "O`Brien St", "${alert(1)}")
# The iframe streamlit-folium renders the map in; DEFAULT_PREFIX is relative to it.
IFRAME_URL = "http://localhost:8501/component/streamlit_folium.st_folium/index.html"


def _full_map(tiles: str = "none") -> folium.Map:
    """A map with every layer hotspots draws, plus the plugins CDN_TO_LOCAL promises to cover."""
    cx, cy = 334000.0, 390000.0
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(cx, 50, 200), rng.uniform(cx - 2000, cx + 2000, 200)]
    y = np.r_[rng.normal(cy, 50, 200), rng.uniform(cy - 2000, cy + 2000, 200)]
    inc = Incidents.from_xy(x, y, crs="EPSG:27700")
    hot = gpd.GeoDataFrame(
        {
            "hotspot_id": ["H001"],
            "rank": [1],
            "incidents": [200],
            "harm": [np.nan],
            "peak_window": ["Fri-Sat 21:00-03:00"],
        },
        geometry=[shapely.Point(cx, cy).buffer(120)],
        crs="EPSG:27700",
    )
    m = build_map(hot, inc, surface_polygons=[shapely.Point(cx, cy).buffer(300)], tiles=tiles)
    folium.plugins.MarkerCluster().add_to(m)
    folium.plugins.FastMarkerCluster([[53.4, -2.98]]).add_to(m)
    return m


def test_every_asset_of_a_full_map_is_vendored():
    m = localize(_full_map())
    links = asset_links(m)
    assert len(links) >= 14
    for link in links:
        assert not link.startswith(("http:", "https:", "//")), link
        assert link.startswith(DEFAULT_PREFIX)
        path = VENDOR_DIR / link[len(DEFAULT_PREFIX) :]
        assert path.is_file(), f"{link} has no file at {path}"
        # Resolved from the streamlit-folium iframe, the link lands in Streamlit's static route.
        assert urlparse(urljoin(IFRAME_URL, link)).path.startswith("/app/static/vendor/")


def test_every_mapping_target_exists_and_css_references_resolve():
    for url, rel in CDN_TO_LOCAL.items():
        assert url.startswith("https://")
        assert (VENDOR_DIR / rel).is_file(), rel
    for css in VENDOR_DIR.rglob("*.css"):
        for ref in re.findall(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""", css.read_text("utf-8")):
            if ref.startswith(("data:", "#")):
                continue
            assert not ref.startswith(("http:", "https:", "//")), (css, ref)
            target = (css.parent / ref.split("?")[0].split("#")[0]).resolve()
            assert target.is_file(), f"{css.relative_to(VENDOR_DIR)} refers to missing {ref}"


def test_vendor_dir_is_small_and_licensed():
    total = sum(p.stat().st_size for p in VENDOR_DIR.rglob("*") if p.is_file())
    assert total < 2.5e6
    readme = (VENDOR_DIR / "README.md").read_text("utf-8")
    for lib in (
        "leaflet",
        "jquery",
        "bootstrap",
        "fontawesome",
        "awesome-markers",
        "markercluster",
    ):
        assert lib in readme
    assert not list(VENDOR_DIR.rglob("node_modules")) and not list(
        VENDOR_DIR.rglob("package-lock.json")
    )


def test_localize_is_idempotent_and_sets_icon_path():
    m = localize(localize(_full_map()))
    assert all(link.startswith(DEFAULT_PREFIX) for link in asset_links(m))
    first = next(iter(m._children.values()))
    assert first.path == DEFAULT_PREFIX + "leaflet/images/"
    script = m.get_root().render()
    assert 'L.Icon.Default.imagePath = "../../app/static/vendor/leaflet/images/";' in script


@pytest.mark.parametrize(
    "plugin",
    [
        lambda: folium.plugins.MiniMap(),
        lambda: folium.plugins.Fullscreen(),
    ],
    ids=["MiniMap", "Fullscreen"],
)
def test_unknown_cdn_url_raises(plugin):
    m = folium.Map(tiles=None, maxZoom=19)
    plugin().add_to(m)
    with pytest.raises(UnmappedAssetError, match="no local copy") as info:
        localize(m)
    assert isinstance(info.value, KeyError)


def test_protocol_relative_url_raises():
    m = folium.Map(tiles=None, maxZoom=19)
    m.default_js = [*m.default_js, ("x", "//cdn.example.com/x.js")]
    with pytest.raises(UnmappedAssetError):
        localize(m)


def test_colormap_raises_because_streamlit_folium_adds_d3_from_a_cdn():
    m = folium.Map(tiles=None, maxZoom=19)
    LinearColormap(["#ffffff", "#000000"], vmin=0, vmax=1).add_to(m)
    with pytest.raises(UnmappedAssetError, match="d3"):
        localize(m)


def test_walk_visits_nested_children():
    m = _full_map()
    names = {type(el).__name__ for el in walk(m)}
    assert {"Map", "GeoJson", "GeoJsonTooltip", "HeatMap", "LayerControl"} <= names


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("O`Brien St", "O&#96;Brien St"),
        ("${alert(1)}", "&#36;{alert(1)}"),
        ("a \"b\" & 'c'", "a &quot;b&quot; &amp; &#x27;c&#x27;"),
        (None, ""),
        (12, "12"),
    ],
)
def test_escape_text(raw, escaped):
    assert escape_text(raw) == escaped
    if raw is not None:
        assert html.unescape(escape_text(raw)) == str(raw)


def test_standalone_html_is_self_contained_without_tiles():
    page = standalone_html(_full_map(tiles="none"))
    assert page.lstrip().lower().startswith("<!doctype html>")
    # No fetch of any kind: no src= and no stylesheet href= pointing anywhere, no CSS url() to the
    # web.
    assert not re.search(r"""\bsrc\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"""<link\b[^>]*href\s*=""", page, re.IGNORECASE)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert "hotspots-vendor:" not in page
    assert "sourceMappingURL" not in page
    # The only web address left in an href is Leaflet's own attribution link (an <a>, not a fetch).
    hosts = {urlparse(u).hostname for u in re.findall(r"""href=["'](https?://[^"']+)""", page)}
    assert hosts <= {"leafletjs.com"}
    for lib in ("leaflet/leaflet.js", "folium/leaflet_heat.min.js", "leaflet/leaflet.css"):
        assert f"/* {lib} */" in page
    assert 'url("data:image/png;base64,' in page  # leaflet's layer-control icon, inlined
    assert len(page) < 1.5e6


def test_standalone_html_leaves_the_map_as_it_was():
    m = _full_map()
    before = asset_links(m)
    standalone_html(m)
    assert asset_links(m) == before
    localize(m)
    after_localize = asset_links(m)
    standalone_html(m)
    assert asset_links(m) == after_localize
    assert next(iter(m._children.values())).path == DEFAULT_PREFIX + "leaflet/images/"


def test_standalone_html_with_osm_tiles_only_asks_the_tile_server():
    page = standalone_html(_full_map(tiles="openstreetmap"))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    assert not re.search(r"""<script\b[^>]*\bsrc=""", page, re.IGNORECASE)


def test_standalone_map_embeds_the_parameters_safely():
    import json
    import re

    params = {
        "method": "kde",
        "version": "0.1.0",
        "data_period": ["2025-01", "2025-12"],
        "synthetic": True,
        "note": "</script><script>alert(1)</script>",
    }
    page = standalone_html(_full_map(tiles="none"), params=params)
    m = re.search(
        r'<script type="application/json" id="hotspots-parameters">(.*?)</script>', page, re.S
    )
    assert m is not None
    assert (
        json.loads(m.group(1))["note"] == params["note"]
    )  # round-trips, yet cannot close the script
    assert "<script>alert(1)" not in page
    assert "SYNTHETIC DEMO DATA" in page and "method kde, data 2025-01 to 2025-12" in page
