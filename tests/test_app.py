"""The Streamlit app's logic with streamlit.testing.v1.AppTest (no browser).

AppTest does not run custom components, so the st_folium map is an UnknownElement here; the map
itself is tested in tests/test_browser.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _police_uk_csv(n: int = 600, seed: int = 3, location: str = "On or near Bold Street") -> bytes:
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(53.4046, 0.0004, k), rng.uniform(53.38, 53.43, n - k)]
    lon = np.r_[rng.normal(-2.9800, 0.0006, k), rng.uniform(-3.01, -2.93, n - k)]
    frame = pd.DataFrame({
        "Crime ID": [f"{i:064x}" for i in range(1, n + 1)],
        "Month": rng.choice([f"2024-{m:02d}" for m in range(1, 13)], n),
        "Reported by": "Merseyside Police",
        "Falls within": "Merseyside Police",
        "Longitude": lon.round(6),
        "Latitude": lat.round(6),
        "Location": location,
        "LSOA code": "E01006512",
        "LSOA name": "Liverpool 060A",
        "Crime type": "Violence and sexual offences",
        "Last outcome category": "",
        "Context": "",
    })
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_starts_on_synthetic_demo_with_hotspots(app):
    assert any("synthetic demo data" in w.value for w in app.warning)
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1
    assert int(_metric(app, "Rows read").replace(",", "")) > 1000
    assert not app.error
    # The map component is there (AppTest cannot run it).
    assert any(getattr(el, "type", "") == "component_instance" or "Unknown" in type(el).__name__
               for el in app.main)
    labels = {b.label for b in app.get("download_button")}
    assert {"Hot spots (GeoJSON)", "Hot spots (GeoPackage)", "Ranked table (CSV)",
            "Map (HTML, opens offline)"} <= labels
    assert app.selectbox(key="selected_id").value == "H001"


def test_upload_changes_the_result(app):
    before = _metric(app, "Rows read")
    app.sidebar.file_uploader(key="uploads").set_value(("liverpool.csv", _police_uk_csv(), "text/csv"))
    app.run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert _metric(app, "Rows read") == "600" != before
    assert not any("synthetic demo data" in w.value for w in app.warning)
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1


def test_bad_file_shows_one_readable_error(app):
    app.sidebar.file_uploader(key="uploads").set_value(("broken.csv", b"\x00\x01\x02garbage\xff", "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert "broken.csv" in app.error[0].value
    assert "Traceback" not in app.error[0].value


def test_undetected_columns_offer_a_mapping_form(app):
    data = b"a,b,kind\n-2.98,53.40,Violence\n-2.97,53.41,Violence\n-2.981,53.401,Violence\n"
    app.sidebar.file_uploader(key="uploads").set_value(("odd.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert app.selectbox(key="colmap_lon").options[1:] == ["a", "b", "kind"]
    app.selectbox(key="colmap_lon").select("a")
    app.selectbox(key="colmap_lat").select("b")
    app.selectbox(key="colmap_crime_type").select("kind")
    app.button[0].click()
    app.run()
    assert not app.exception
    assert app.session_state["column_map"] == {"lon": "a", "lat": "b", "crime_type": "kind"}


@pytest.mark.parametrize(
    ("method", "control"),
    [("dbscan", "min_samples"), ("hdbscan", "min_samples"), ("gistar", "cell_size")],
)
def test_method_switch(app, method, control):
    app.sidebar.selectbox(key="method").select(method)
    app.run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert app.sidebar.number_input(key=f"{method}_{control}") is not None
    captions = " ".join(c.value for c in app.sidebar.caption)
    assert "Automatic:" in captions


def test_parameter_override_recomputes(app):
    n_default = _metric(app, "Hot spots")
    app.sidebar.number_input(key="kde_bandwidth").set_value(400.0)
    app.run()
    assert not app.exception and not app.error
    # The automatic value stays on show next to the control.
    assert any("150 m" in c.value for c in app.sidebar.caption)
    assert _metric(app, "Hot spots") != n_default or app.sidebar.number_input(key="kde_bandwidth").value == 400.0


def test_selecting_a_hotspot_updates_details(app):
    app.selectbox(key="selected_id").select("H002")
    app.run()
    assert not app.exception
    assert any("Hot spot H002" in s.value for s in app.subheader)


def test_tiles_env_var(monkeypatch):
    monkeypatch.setenv("HOTSPOTS_TILES", "none")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="tiles_choice").value == "none"
    monkeypatch.setenv("HOTSPOTS_TILES", "https://tiles.example.police.uk/{z}/{x}/{y}.png")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="tiles_choice").value == "custom"
    assert at.sidebar.text_input(key="tiles_url").value.startswith("https://tiles.example")


def test_markdown_escaping_helper():
    # Only the helper: importing app.py runs the app, so read md() from its source instead.
    src = Path(APP).read_text("utf-8")
    ns: dict = {}
    start = src.index("_MD_SPECIAL =")
    end = src.index("def _digest")
    exec("import re\nfrom typing import Any\n" + src[start:end], ns)
    out = ns["md"]("![x](http://evil.example/x.png) $x$ <b>")
    assert "![" not in out and "](" not in out
    assert "\\$" in out and "\\<" in out
