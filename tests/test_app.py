"""The Streamlit app's logic with streamlit.testing.v1.AppTest (no browser).

AppTest does not run custom components, so the st_folium map is an UnknownElement here; the map
itself is tested in tests/test_browser.py. Only the open tab runs (``st.tabs(on_change="rerun")``),
so a test opens a tab with :func:`_open` before reading what it shows; parameter panels are forms,
so a test clicks their submit button (:func:`_submit`).
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


def _open(at: AppTest, tab: str) -> AppTest:
    """Switch to a tab (what a click on it does) and rerun."""
    assert tab in [t.label for t in at.tabs], tab
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _submit(at: AppTest, key: str) -> AppTest:
    """Click a form's submit button and rerun."""
    at.button(key=key).click()
    at.run()
    return at


def _police_uk_csv(n: int = 600, seed: int = 3, location: str = "On or near Bold Street") -> bytes:
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(53.4046, 0.0004, k), rng.uniform(53.38, 53.43, n - k)]
    lon = np.r_[rng.normal(-2.9800, 0.0006, k), rng.uniform(-3.01, -2.93, n - k)]
    frame = pd.DataFrame(
        {
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
        }
    )
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
    assert [t.label for t in app.tabs][0] == "Map"  # the first screen is the map
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1
    assert not app.error
    # The map component is there (AppTest cannot run it).
    assert any(
        getattr(el, "type", "") == "component_instance" or "Unknown" in type(el).__name__
        for el in app.main
    )
    assert app.selectbox(key="selected_id").value == "H001"
    _open(app, "Data and report")
    assert int(_metric(app, "Rows read").replace(",", "")) > 1000
    assert not app.error
    _open(app, "Downloads")
    labels = {b.label for b in app.get("download_button")}
    assert {
        "Hot spots (GeoJSON)",
        "Hot spots (GeoPackage)",
        "Ranked table (CSV)",
        "Map (HTML, opens offline)",
        "Run record (JSON)",
    } <= labels


def test_upload_changes_the_result(app):
    before = _metric(_open(app, "Data and report"), "Rows read")
    app.sidebar.file_uploader(key="uploads").set_value(
        ("liverpool.csv", _police_uk_csv(), "text/csv")
    )
    app.run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert _metric(app, "Rows read") == "600" != before
    assert not any("synthetic demo data" in w.value for w in app.warning)
    assert int(_metric(_open(app, "Map"), "Hot spots").replace(",", "")) >= 1


def test_bad_file_shows_one_readable_error(app):
    app.sidebar.file_uploader(key="uploads").set_value(
        ("broken.csv", b"\x00\x01\x02garbage\xff", "text/csv")
    )
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert "broken.csv" in app.error[0].value.replace("\\", "")  # shown as escaped markdown
    assert "Traceback" not in app.error[0].value


def test_undetected_columns_offer_a_mapping_form(app):
    data = b"a,b,kind\n-2.98,53.40,Violence\n-2.97,53.41,Violence\n-2.981,53.401,Violence\n"
    app.sidebar.file_uploader(key="uploads").set_value(("odd.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert app.selectbox(key="colmap_lon").options[2:] == ["a", "b", "kind"]
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
    _submit(app, "params_submit")
    assert not app.exception and not app.error
    # The automatic value stays on show next to the control.
    assert any("150 m" in c.value for c in app.sidebar.caption)
    assert (
        _metric(app, "Hot spots") != n_default
        or app.sidebar.number_input(key="kde_bandwidth").value == 400.0
    )


def test_selecting_a_hotspot_updates_details(app):
    app.selectbox(key="selected_id").select("H002")
    app.run()
    assert not app.exception
    assert any("Hot spot H002" in s.value for s in app.subheader)


def test_selection_starts_over_when_the_hot_spots_change(app):
    """Hot spot ids are ranks: H002 of KDE is another place than H002 of DBSCAN, so a new
    detection run selects its first hot spot; a rerun of the same run keeps the selection."""
    app.selectbox(key="selected_id").select("H002")
    app.run()
    app.run()  # the same run again
    assert any("Hot spot H002" in s.value for s in app.subheader)
    app.sidebar.selectbox(key="method").select("dbscan")
    app.run()
    assert not app.exception and not app.error
    assert any("Hot spot H001" in s.value for s in app.subheader)
    assert not any("Hot spot H002" in s.value for s in app.subheader)


def test_tiles_env_var(monkeypatch):
    monkeypatch.delenv("HOTSPOTS_TILES", raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="tiles_choice").value == "none"  # offline unless asked
    monkeypatch.setenv("HOTSPOTS_TILES", "openstreetmap")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="tiles_choice").value == "openstreetmap"
    monkeypatch.setenv("HOTSPOTS_TILES", "https://tiles.example.police.uk/{z}/{x}/{y}.png")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="tiles_choice").value == "custom"
    assert at.sidebar.text_input(key="tiles_url").value.startswith("https://tiles.example")


def test_markdown_escaping_helper():
    from hotspots_app.common import md  # importing a section module runs nothing

    out = md("![x](http://evil.example/x.png) $x$ <b>")
    assert "![" not in out and "](" not in out
    assert "\\$" in out and "\\<" in out


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def _detection_notes(at: AppTest) -> list[str]:
    """The notes of "How these hot spots were found" (they end with the "hot spots found" one)."""
    texts = _texts(at)
    end = next(i for i, t in enumerate(texts) if "hot spots found" in t)
    return [t for t in texts[: end + 1] if t.startswith("• ")]


def _seed_line(at: AppTest) -> str:
    return next(t for t in _texts(at) if t.startswith("Seed used:"))


def test_rows_filtered_out_are_not_counted_as_rejected(app):
    _open(app, "Data and report")
    read = int(_metric(app, "Rows read").replace(",", ""))
    used = int(_metric(app, "Rows used").replace(",", ""))
    filtered = int(_metric(app, "Filtered out (crime type / dates)").replace(",", ""))
    rejected = int(_metric(app, "Rejected (invalid rows)").replace(",", ""))
    assert filtered > 0 and rejected > 0  # the demo holds other crime types and a few bad rows
    assert read == used + filtered + rejected
    reasons = app.dataframe[0].value
    assert "crime type not selected" in set(reasons["reason"])
    assert set(reasons["kind"]) == {"filtered out", "rejected"}
    assert int(reasons["rows"].sum()) == filtered + rejected


def test_patrol_plan_renders_on_the_demo(app):
    _open(app, "Patrol plan")
    assert "Patrol plan" in [s.value for s in app.subheader]
    planned, given = _metric(app, "Patrol areas planned").split(" of ")
    assert 1 <= int(planned) <= int(given)
    assert int(_metric(app, "Patrol visits").replace(",", "")) >= 28
    assert _seed_line(app).startswith("Seed used: 2718.")
    labels = {b.label for b in app.get("download_button")}
    assert {
        "Patrol areas (GeoJSON)",
        "Patrol plan (CSV)",
        "Patrol plan (calendar, .ics)",
        "Briefing (HTML, printable)",
    } <= labels
    assert not app.error
    # The selected hot spot shows its tactic card and its patrol areas and visits.
    _open(app, "Hot spot details")
    md_values = [m.value for m in app.markdown]
    # the peak window says whether it is the place's own timing or mostly the force-wide one
    pattern = next(t.value for t in app.text if t.value.startswith("Pattern: "))
    assert "Peak window: " in pattern and "timing" in pattern, pattern
    assert "#### Patrol tactics for this hot spot" in md_values
    assert "#### Patrol areas and planned visits" in md_values
    tables = [d.value for d in app.dataframe]
    areas = next(
        t
        for t in tables
        if "Patrol area" in t.columns and "Visits" in t.columns and "Hot spot" not in t.columns
    )
    assert all(str(a).startswith("H001-") for a in areas["Patrol area"])
    visits = next(t for t in tables if "Arm" in t.columns)
    assert (visits["Arm"] == "patrol").sum() >= 28
    assert not app.error


def test_plan_settings_do_not_rerun_detection(app, monkeypatch):
    import hotspots.detect
    import hotspots.patrol

    calls = {"detect": 0, "areas": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(hotspots.detect, "detect", counting("detect", hotspots.detect.detect))
    monkeypatch.setattr(
        hotspots.patrol, "make_patrol_areas", counting("areas", hotspots.patrol.make_patrol_areas)
    )
    notes = _detection_notes(app)
    hotspots_before = _metric(app, "Hot spots")
    seed_before = _seed_line(_open(app, "Patrol plan"))

    app.number_input(key="plan_days").set_value(14)
    _submit(app, "plan_submit")
    assert not app.exception and not app.error
    assert _seed_line(app) != seed_before  # the plan now ends 14 days later than before
    assert any("planned for 14 days" in t for t in _texts(app))
    app.number_input(key="plan_seed").set_value(99)
    _submit(app, "plan_submit")
    assert _seed_line(app).startswith("Seed used: 99.")
    assert calls == {"detect": 0, "areas": 0}
    _open(app, "Map")  # the map's patrol layer uses the applied plan: still no detection
    assert _detection_notes(app) == notes
    assert _metric(app, "Hot spots") == hotspots_before
    assert calls == {"detect": 0, "areas": 0}

    _open(app, "Patrol plan")
    app.number_input(key="plan_radius").set_value(100.0)
    _submit(app, "plan_submit")
    assert calls == {"detect": 0, "areas": 1}


def test_control_share_above_two_thirds_is_refused(app):
    _open(app, "Patrol plan")
    app.number_input(key="plan_control_share").set_value(0.8)
    _submit(app, "plan_submit")
    assert not app.exception
    assert len(app.error) == 1
    msg = app.error[0].value
    assert "too high" in msg and "0.67" in msg and "3 days" in msg
    assert "Traceback" not in msg
    _open(app, "Map")
    assert not app.exception and not app.error
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1  # the rest of the app still works
    _open(app, "Patrol plan")
    assert app.number_input(key="plan_control_share").value == 0.8  # kept across tabs
    app.number_input(key="plan_control_share").set_value(0.67)  # two-thirds is allowed
    _submit(app, "plan_submit")
    assert not app.error
    treated, controls = (int(x) for x in _metric(app, "Patrolled / controls a day").split(" / "))
    assert controls > 0 and controls <= 2 * treated


def _table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_change_over_time_and_holdout_render_on_the_demo(app):
    assert app.toggle(key="show_emerging").value is False  # the map layer is off by default
    _open(app, "Change over time")
    assert "Change over time" in [s.value for s in app.subheader]
    # 12 months of demo data: monthly periods, chosen automatically.
    assert int(_metric(app, "Persistent hot spot cells").replace(",", "")) > 0
    assert any(t.startswith("• Periods are months") for t in _texts(app))
    captions = [c.value for c in app.caption]
    assert any(c.startswith("Automatic: 1 month(s) per period, 12 periods") for c in captions)
    areas = _table_with(app, "Top location")
    assert {"Pattern", "Cells", "Incidents", "Top location"} <= set(areas.columns)
    assert "persistent hot spot" in set(areas["Pattern"])
    assert any(str(loc).startswith("On or near") for loc in areas["Top location"])
    assert "Classified areas (GeoJSON)" in {b.label for b in app.get("download_button")}
    assert not app.error

    # Hold-out: the last month by default, the current method (KDE); KDE beats a random guess.
    _open(app, "Check against a later period")
    assert "Check against a later period" in [s.value for s in app.subheader]
    assert app.selectbox(key="holdout_month").value == "2025-12"
    assert app.multiselect(key="holdout_methods").value == ["kde"]
    _submit(app, "holdout_submit")  # nothing is fitted until asked
    table = _table_with(app, "PEI")
    kde = table[table["Method"] == "Kernel density (KDE)"].iloc[0]
    assert kde["PAI"] > 1
    assert 0 < kde["Hit rate"] <= 1 and 0 < kde["Coverage"] < 1 and 0 < kde["PEI"] <= 1.0001
    assert any("Chainey" in m.value for m in app.markdown)
    assert not app.error


def test_change_over_time_settings_and_layer_toggle(app):
    _open(app, "Change over time")
    app.number_input(key="emg_period_months").set_value(1)
    _submit(app, "emg_submit")
    assert not app.exception and not app.error
    captions = [c.value for c in app.caption]
    assert any(c.startswith("Set: 1 month(s) per period, 12 periods") for c in captions)
    _open(app, "Map")
    app.toggle(key="show_emerging").set_value(True)
    app.run()
    assert not app.exception and not app.error
    captions = [c.value for c in app.caption]
    assert any(
        c.startswith("Persistent / emerging cells:") and "persistent hot spot" in c
        for c in captions
    )
    # quarters give 4 periods of a year's data, under the 10 the classes need: said, not classed
    _open(app, "Change over time")
    app.number_input(key="emg_period_months").set_value(3)
    _submit(app, "emg_submit")
    assert not app.exception and not app.error
    infos = [i.value for i in app.info]
    assert any("No change over time to show" in i and "at least 10" in i for i in infos), infos
    _open(app, "Check against a later period")
    assert "Check against a later period" in [s.value for s in app.subheader]


def test_short_data_explain_instead_of_failing(app):
    rng = np.random.default_rng(4)
    frame = pd.read_csv(io.BytesIO(_police_uk_csv(n=400)))
    frame["Month"] = rng.choice(["2024-01", "2024-02"], len(frame))
    app.sidebar.file_uploader(key="uploads").set_value(
        ("two_months.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    app.run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1  # the rest of the app still works
    infos = [i.value for i in _open(app, "Change over time").info]
    assert not app.error, [e.value for e in app.error]
    assert any("No change over time to show" in i and "needs at least 10" in i for i in infos), (
        infos
    )
    infos = [i.value for i in _open(app, "Check against a later period").info]
    assert not app.error, [e.value for e in app.error]
    assert any("needs at least 3" in i and "later period" in i for i in infos), infos
    assert "Check against a later period" in [s.value for s in app.subheader]


def test_library_warnings_reach_the_user(app):
    # A bandwidth under twice the cell size: hotspots.kde warns (HotspotsWarning), and the
    # warning is shown on the page, on this run and on every rerun served from the cache.
    app.sidebar.number_input(key="kde_bandwidth").set_value(50.0)
    app.sidebar.number_input(key="kde_cell_size").set_value(30.0)
    _submit(app, "params_submit")
    assert not app.exception and not app.error, [e.value for e in app.error]
    expected = "less than twice the cell size"
    assert sum(expected in w.value for w in app.warning) == 1, [w.value for w in app.warning]
    assert int(_metric(app, "Hot spots").replace(",", "")) >= 1
    _open(app, "Patrol plan")  # a rerun: detection comes from the cache, the warning again
    assert sum(expected in w.value for w in app.warning) == 1
    app.sidebar.number_input(key="kde_cell_size").set_value(None)  # automatic again
    _submit(app, "params_submit")
    assert not any(expected in w.value for w in app.warning)


def test_panels_apply_only_when_submitted(app):
    _open(app, "Patrol plan")
    seed_line = _seed_line(app)
    app.number_input(key="plan_days").set_value(14)
    app.run()  # changed but not applied: the form holds it
    assert _seed_line(app) == seed_line
    assert not any("planned for 14 days" in t for t in _texts(app))
    app.number_input(key="plan_days").set_value(14)  # AppTest drops unsubmitted values: again
    _submit(app, "plan_submit")
    assert _seed_line(app) != seed_line
    assert any("planned for 14 days" in t for t in _texts(app))
    # Applied settings are kept when the tab is left, and the other tabs use them.
    _open(app, "Hot spot details")
    visits = _table_with(app, "Arm")
    days = pd.to_datetime(visits["Date"])
    assert (days.max() - days.min()).days <= 13
    _open(app, "Patrol plan")
    assert app.number_input(key="plan_days").value == 14
    assert any("planned for 14 days" in t for t in _texts(app))


def test_new_random_seed_changes_the_plan(app, monkeypatch):
    import secrets

    monkeypatch.setattr(secrets, "randbelow", lambda n: 4242)
    _open(app, "Patrol plan")
    assert _seed_line(app).startswith("Seed used: 2718.")
    _submit(app, "plan_new_seed")
    assert not app.exception and not app.error
    assert _seed_line(app).startswith("Seed used: 4242.")
    assert app.number_input(key="plan_seed").value == 4242


def test_a_second_session_on_the_same_data_reuses_detection(app, monkeypatch):
    import hotspots.detect

    calls = []

    def counting(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else kwargs.get("method"))
        return real(*args, **kwargs)

    real = hotspots.detect.detect
    monkeypatch.setattr(hotspots.detect, "detect", counting)
    other = AppTest.from_file(APP, default_timeout=120).run()
    assert not other.exception
    assert _metric(other, "Hot spots") == _metric(app, "Hot spots")
    assert calls == []  # keyed on the incidents' fingerprint: the first session's run is reused
    other.sidebar.slider(key="kde_coverage").set_value(3.5)  # a setting no other test uses
    _submit(other, "params_submit")
    assert not other.exception
    assert calls == ["kde"]  # new parameters: one detection


def test_utf16_headers_offer_the_mapping_form(app):
    # The library's header reader decodes as the ingest does (UTF-16 here), not UTF-8 only.
    data = "a;b;kind\n-2.98;53.40;Violence\n-2.97;53.41;Violence\n".encode("utf-16")
    app.sidebar.file_uploader(key="uploads").set_value(("odd16.csv", data, "text/csv"))
    app.run()
    assert not app.exception
    assert len(app.error) == 1
    assert app.selectbox(key="colmap_lon").options[2:] == ["a", "b", "kind"]


def _apply_filters(at: AppTest, **uploads: tuple[str, bytes, str]) -> AppTest:
    for key, value in uploads.items():
        at.sidebar.file_uploader(key=key).set_value(value)
    return _submit(at, "filters_submit")


def test_harm_weights_table_and_its_errors(app):
    app.sidebar.toggle(key="harm").set_value(True)
    table = (
        b"crime_type,weight\nViolence and sexual offences,365\nRobbery,100\n"
        b"Possession of weapons,10\n"
    )
    _apply_filters(app, harm_table=("chi.csv", table, "text/csv"))
    assert not app.exception and not app.error, [e.value for e in app.error]
    ranked = _table_with(app, "harm")  # the ranked table gains a harm column
    # Each incident weighs 10 (weapons) to 365 (violence): the sums lie between those bounds.
    assert ranked["harm"].notna().all()
    assert (ranked["harm"] >= 10 * ranked["incidents"]).all()
    assert (ranked["harm"] <= 365 * ranked["incidents"]).all()
    assert (ranked["harm"] > 100 * ranked["incidents"]).any()
    # A table missing a kept crime type: one readable error naming the file, no traceback.
    app.sidebar.toggle(key="harm").set_value(True)
    bad = b"crime_type,weight\nViolence and sexual offences,365\nRobbery,lots\n"
    _apply_filters(app, harm_table=("bad_weights.csv", bad, "text/csv"))
    assert not app.exception
    assert len(app.error) == 1
    assert "bad_weights" in app.error[0].value.replace("\\", "")
    assert "Traceback" not in app.error[0].value


def test_study_area_polygon_filters_the_incidents(app):
    import json

    rows_before = int(_metric(_open(app, "Data and report"), "Rows used").replace(",", ""))
    square = [[-1.42, 52.63], [-1.40, 52.63], [-1.40, 52.65], [-1.42, 52.65], [-1.42, 52.63]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [square]},
            }
        ],
    }
    area = ("centre.geojson", json.dumps(doc).encode(), "application/geo+json")
    _apply_filters(app, study_area=area)
    assert not app.exception and not app.error, [e.value for e in app.error]
    used = int(_metric(app, "Rows used").replace(",", ""))
    assert 0 < used < rows_before
    assert "Filtered out (crime type / dates / study area)" in {m.label for m in app.metric}
    # Not a GeoJSON: one readable error naming the file.
    _apply_filters(app, study_area=("area.geojson", b"not json at all", "application/geo+json"))
    assert not app.exception
    assert len(app.error) == 1 and "area.geojson" in app.error[0].value.replace("\\", "")


def test_the_package_main_script_draws_the_same_page(tmp_path, app):
    """``hotspots app`` in an installed package runs hotspots_app/__main__.py (via the launcher)."""
    from hotspots import launch

    script = Path(APP).parent / "hotspots_app" / "__main__.py"
    main = launch.prepare_launch_dir(script, tmp_path)
    at = AppTest.from_file(str(main), default_timeout=120).run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs] == [t.label for t in app.tabs]
    assert _metric(at, "Hot spots") == _metric(app, "Hot spots")
