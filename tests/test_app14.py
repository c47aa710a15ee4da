"""The app as its users use it (session 14): the change map, the column form, the tasking counts.

- the cells that rose and fell between two periods are a layer of the main map (its toggle
  *Cells that rose / fell*): coloured by the test's label, the other tested cells faint, a tooltip
  per cell, within the map's size budget (:func:`hotspots.mapping.period_change_layer`);
- *Columns and coordinates* in the sidebar after a read that worked, filled with what the read
  found, so a file whose latitude and longitude are swapped, and still reads, can be mapped again;
- the tasking section says beside its numbers why the routes hold fewer visits than the plan.

AppTest (no browser) as tests/test_app13.py; the map's layer is read from what the page hands to
the map component (:func:`hotspots_app.map.show_drawn`, recorded).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from hotspots import mapping, workflows
from hotspots.demo import ensure_demo_csv
from hotspots_app import map as map_section
from hotspots_app import tasking

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


def _plain(text: str) -> str:
    """A caption as the page shows it (the markdown escapes dropped)."""
    return text.replace("\\", "")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.run()
    assert not at.exception, at.exception
    return at


# ------------------------------------------------------------------- the change layer (library)
def _cells(classes: list[str], tested: list[bool], x0: float = 530_000.0) -> gpd.GeoDataFrame:
    n = len(classes)
    xs = x0 + 150.0 * np.arange(n)
    q = [0.001 * (i + 1) if t else np.nan for i, t in enumerate(tested)]
    return gpd.GeoDataFrame(
        {
            "cell_id": [f"C{i}" for i in range(n)],
            "before": np.arange(n) + 3,
            "after": np.arange(n) + 1,
            "expected_after": np.linspace(1.5, 9.5, n) if n else [],
            "q_value": q,
            "tested": tested,
            "change_class": classes,
            "top_location": ["On or near <b>`Bold` ${x}</b>"] * n,
        },
        geometry=[shapely.box(x, 180_000.0, x + 150.0, 180_150.0) for x in xs],
        crs="EPSG:27700",
    )


def _features(layer: folium.FeatureGroup) -> list[dict]:
    gj = next(c for c in layer._children.values() if isinstance(c, folium.GeoJson))
    return gj.data["features"]


def test_layer_draws_the_tested_cells_labelled_first_with_their_colours():
    classes = ["no clear change", "rose", "no clear change", "fell", "no clear change", "rose"]
    tested = [True, True, True, True, False, True]
    layer, drawn = mapping.period_change_layer(_cells(classes, tested))
    assert layer is not None and drawn == 5  # the untested cell is not drawn
    feats = _features(layer)
    assert [f["properties"]["change"] for f in feats] == [
        "rose",
        "fell",
        "rose",
        "no clear change",
        "no clear change",
    ]
    colours = [f["properties"]["_colour"] for f in feats]
    assert colours[:3] == [
        mapping.CHANGE_COLOURS["rose"][0],
        mapping.CHANGE_COLOURS["fell"][0],
        mapping.CHANGE_COLOURS["rose"][0],
    ]
    assert len(set(colours[3:])) == 1 and colours[3] not in colours[:3]
    first = feats[0]["properties"]
    assert (first["before"], first["after"], first["expected"], first["q"]) == (
        "4",
        "2",
        "3.1",
        "0.0020",
    )
    # every value from a file is escaped: no markup, backtick or template literal reaches Leaflet
    assert "<" not in first["location"] and "`" not in first["location"]
    assert "${" not in first["location"]
    legend = [c for c in layer._children.values() if type(c).__name__ == "_ChangeLegend"]
    assert len(legend) == 1 and "rose more than the area" in legend[0].html
    # the faint cells' style, the labelled cells' style
    styles = [mapping._change_style(f) for f in feats]
    assert styles[0]["fillOpacity"] > 0.3 and styles[-1]["fillOpacity"] < 0.1


@pytest.mark.parametrize(
    "cells",
    [
        None,
        _cells([], []),
        _cells(["no clear change"], [False]),  # nothing tested
    ],
)
def test_layer_is_none_without_a_tested_cell(cells):
    assert mapping.period_change_layer(cells) == (None, 0)


def test_one_cell_and_duplicates():
    layer, drawn = mapping.period_change_layer(_cells(["fell"], [True]))
    assert drawn == 1 and len(_features(layer)) == 1
    twice = pd.concat([_cells(["rose"], [True])] * 2)  # the same cell twice: both drawn
    layer, drawn = mapping.period_change_layer(twice)
    assert drawn == 2


def test_many_cells_keep_every_labelled_one_within_the_budget():
    n = 6000
    classes = ["no clear change"] * n
    for i in (17, 4000, 5999):
        classes[i] = "rose"
    classes[3000] = "fell"
    layer, drawn = mapping.period_change_layer(_cells(classes, [True] * n))
    feats = _features(layer)
    assert 4 < drawn < n and len(feats) == drawn
    assert [f["properties"]["change"] for f in feats[:4]] == ["rose", "fell", "rose", "rose"]
    size = len(map_section.layer_script(layer, 0))
    assert size < 1.3 * mapping.LAYER_BUDGET_BYTES["other"], size
    legend = next(c for c in layer._children.values() if type(c).__name__ == "_ChangeLegend")
    assert f"Showing {drawn - 4:,} of {n - 4:,} cells with no clear change" in legend.html
    caption = map_section.change_caption(_cells(classes, [True] * n), drawn)
    assert "rose (3 cells)" in caption and "fell (1 cell)" in caption
    assert f"the map draws {drawn:,} of the {n:,} tested cells" in caption


def test_labelled_cells_beyond_the_budget_take_it_all_and_say_so():
    n = 6000
    classes = ["rose" if i % 2 else "fell" for i in range(n)] + ["no clear change"] * 10
    layer, drawn = mapping.period_change_layer(_cells(classes, [True] * (n + 10)))
    feats = _features(layer)
    assert 0 < drawn < n and len(feats) == drawn
    assert {f["properties"]["change"] for f in feats} == {"rose", "fell"}  # no faint cell
    legend = next(c for c in layer._children.values() if type(c).__name__ == "_ChangeLegend")
    assert f"Showing {drawn:,} of {n:,} cells that rose or fell" in legend.html
    assert len(map_section.layer_script(layer, 0)) < 1.3 * mapping.LAYER_BUDGET_BYTES["other"]


def test_faint_cells_take_at_most_half_the_budget():
    n = 6000
    layer, drawn = mapping.period_change_layer(_cells(["no clear change"] * n, [True] * n))
    size = len(json.dumps(_features(layer)))
    assert 0 < drawn < n and size <= 1.05 * mapping.LAYER_BUDGET_BYTES["other"] / 2


# ------------------------------------------------------------------- the change layer (app)
def _record_layers(monkeypatch) -> list[list]:
    seen: list[list] = []
    real = map_section.show_drawn

    def recording(drawn, **kwargs):
        seen.append(list(kwargs.get("feature_group_to_add") or []))
        return real(drawn, **kwargs)

    monkeypatch.setattr(map_section, "show_drawn", recording)
    return seen


def test_map_draws_the_cells_that_rose_and_fell(app, monkeypatch):
    seen = _record_layers(monkeypatch)
    assert not app.toggle(key="show_change").value  # off by default
    app.toggle(key="show_change").set_value(True)
    app.run()
    assert not app.exception, app.exception
    named = [g for g in seen[-1] if getattr(g, "layer_name", "") == "Cells that rose / fell"]
    assert len(named) == 1
    inc = workflows.filter_inputs(
        workflows.read_inputs([str(ensure_demo_csv())], crime_types="all"),
        crime_types="default",
    )
    res = workflows.change_between_periods(inc)
    counts = res.counts()
    tested = int(res.cells["tested"].sum())
    feats = _features(named[0])
    drawn = [f["properties"]["change"] for f in feats]
    assert drawn.count("rose") == counts["rose"] and drawn.count("fell") == counts["fell"]
    assert len(drawn) == tested  # the demo's cells all fit
    caption = next(
        _plain(c.value) for c in app.caption if "Between two periods:" in _plain(c.value)
    )
    assert f"rose ({counts['rose']:,} cell" in caption
    assert f"fell ({counts['fell']:,} cell" in caption
    # the change tab points to the layer
    _open(app, "Change over time")
    assert any("Cells that rose / fell" in _plain(c.value) for c in app.caption)
    # switched off again: no such layer
    _open(app, "Map")
    app.toggle(key="show_change").set_value(False)
    app.run()
    assert not any(getattr(g, "layer_name", "") == "Cells that rose / fell" for g in seen[-1])


def test_the_layer_follows_the_split_applied(app, monkeypatch):
    _open(app, "Change over time")
    box = app.selectbox(key="chg_split")
    split = box.options[1]
    box.select(split)
    app.button(key="chg_submit").click()
    app.run()
    assert not app.exception, app.exception
    seen = _record_layers(monkeypatch)
    _open(app, "Map")
    app.toggle(key="show_change").set_value(True)
    app.run()
    layer = next(g for g in seen[-1] if getattr(g, "layer_name", "") == "Cells that rose / fell")
    inc = workflows.filter_inputs(
        workflows.read_inputs([str(ensure_demo_csv())], crime_types="all"),
        crime_types="default",
    )
    res = workflows.change_between_periods(inc, split=split)
    labels = [f["properties"]["change"] for f in _features(layer)]
    assert labels.count("rose") == res.counts()["rose"]
    assert len(labels) == int(res.cells["tested"].sum())


# ------------------------------------------------------------------------- the column form
def _swapped_csv(n: int = 400, seed: int = 5) -> bytes:
    """Latitude and longitude exchanged: still readable (a place off the coast of Somalia)."""
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(53.4046, 0.0004, k), rng.uniform(53.38, 53.43, n - k)]
    lon = np.r_[rng.normal(-2.9800, 0.0006, k), rng.uniform(-3.01, -2.93, n - k)]
    frame = pd.DataFrame(
        {
            "date": [f"2024-{1 + i % 12:02d}-{1 + i % 27:02d} 2{i % 4}:00" for i in range(n)],
            "offence": "Violence and sexual offences",
            "latitude": lon.round(6),
            "longitude": lat.round(6),
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def test_column_form_is_there_after_a_good_read_filled_and_applied(app):
    app.sidebar.file_uploader(key="uploads").set_value(("swapped.csv", _swapped_csv(), "text/csv"))
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    # reachable after a read that worked, in the sidebar, filled with what was found
    assert app.sidebar.selectbox(key="colmap_lat").value == "latitude"
    assert app.sidebar.selectbox(key="colmap_lon").value == "longitude"
    assert app.sidebar.selectbox(key="colmap_crime_type").value == "offence"
    assert app.sidebar.text_input(key="colmap_coordinate_crs").value == ""
    assert "column_map" not in app.session_state  # nothing applied until asked
    before = app.session_state["column_form_for"]
    # the analyst sees the points off Africa and exchanges them
    app.sidebar.selectbox(key="colmap_lat").select("longitude")
    app.sidebar.selectbox(key="colmap_lon").select("latitude")
    next(b for b in app.sidebar.button if b.label == "Use these columns").click()
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.session_state["column_map"]["lat"] == "longitude"
    assert app.session_state["column_map"]["lon"] == "latitude"
    assert app.session_state["column_map_for"] == before
    # read again with them: in Great Britain now (British National Grid), the form keeps them
    _open(app, "Data and report")
    assert any('"crs": "EPSG:27700"' in str(j.value) for j in app.json)
    assert app.sidebar.selectbox(key="colmap_lat").value == "longitude"


def test_column_form_refills_for_other_files(app):
    app.sidebar.file_uploader(key="uploads").set_value(("swapped.csv", _swapped_csv(), "text/csv"))
    app.run()
    app.sidebar.selectbox(key="colmap_lat").select("longitude")
    app.sidebar.selectbox(key="colmap_lon").select("latitude")
    next(b for b in app.sidebar.button if b.label == "Use these columns").click()
    app.run()
    other = _swapped_csv(seed=9).replace(b"offence", b"offense_type")
    app.sidebar.file_uploader(key="uploads").set_value(("other.csv", other, "text/csv"))
    app.run()
    assert not app.exception and not app.error
    # the other file's own columns, not the mapping made for swapped.csv
    assert app.sidebar.selectbox(key="colmap_lat").value == "latitude"
    assert app.sidebar.selectbox(key="colmap_crime_type").value == "offense_type"


def test_the_demo_has_no_column_form(app):
    assert not [s for s in app.selectbox if (s.key or "").startswith("colmap_")]


# ------------------------------------------------------------------------------ the tasking
def test_tasking_says_routed_of_planned_beside_the_numbers(app):
    _open(app, "Patrol plan")
    app.button(key="task_submit").click()
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    planned = int(metrics["Patrol visits"].replace(",", ""))
    routed_text = metrics["Routed visits"]
    routed, of = (int(v.replace(",", "")) for v in routed_text.split(" of "))
    assert of == planned
    table = next(d.value for d in app.dataframe if "Visits planned" in d.value.columns)
    assert int(table["Visits planned"].sum()) == planned
    assert int(table["Visits routed"].sum()) == routed
    if routed < planned:
        line = next(_plain(c.value) for c in app.caption if "The routes hold" in c.value)
        assert f"{planned:,}" in line and f"{routed:,}" in line
        assert (table["Why fewer"][table["Visits routed"] < table["Visits planned"]] != "").all()


def test_visits_line_and_table():
    assert tasking.visits_line(5, 5, 1) == "The routes hold every one of the plan's 5 visits."
    assert "counts 252 visits" in tasking.visits_line(96, 252, 9)
    areas = pd.DataFrame(
        {
            "patrol_area_id": ["A", "B"],
            "window": ["Fri 20:00-02:00", "daily 18:00-22:00"],
            "visits": [4, 0],
            "eligible_days": [4, 0],
            "shortfall": ["left up to 6 days without a visit", None],
        }
    )
    table = tasking.visits_table(areas, {"A": 28, "B": 28})
    assert table["Visits planned"].tolist() == [28, 28]
    assert table["Visits routed"].tolist() == [4, 0]
    assert table["Why fewer"].tolist() == ["left up to 6 days without a visit", ""]
