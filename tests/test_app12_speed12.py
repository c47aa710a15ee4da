"""Session 12 (app12): the app's server CPU per upload, each fast path against a plain reference.

- :func:`hotspots.mapping.render_without_scripts` (the map drawn once per run, ``drawn_map``, and
  each layer's script, ``feature_group_string``) gives what streamlit-folium's full renders give:
  the same header, body, scripts and asset links (folium's random ids normalised), on random and
  edge-case maps; every template is put back, also after an error.
- The selection layer is made once per (run, hot spot) and forgotten with the run.
"""

from __future__ import annotations

import copy
import gc
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import mapping, offline
from hotspots.incidents import Incidents

HEX = re.compile(r"[0-9a-f]{32}")


def _normalised(*texts: str) -> list[str]:
    """folium's random ids replaced by their order of first appearance across ``texts``."""
    seen: dict[str, str] = {}
    return [HEX.sub(lambda m: seen.setdefault(m.group(), f"ID{len(seen)}"), t) for t in texts]


def _ranked(seed: int, n: int) -> gpd.GeoDataFrame:
    """n ranked hot spots in British National Grid: discs, squares, a ring with a hole, one
    multipolygon, duplicates; user text with HTML and Jinja-looking braces; NaN harm."""
    rng = np.random.default_rng(seed)
    x = 530_000 + rng.uniform(0, 5000, n)
    y = 180_000 + rng.uniform(0, 5000, n)
    geoms = []
    for i in range(n):
        r = float(rng.uniform(20, 300))
        kind = i % 4
        if kind == 0:
            geoms.append(shapely.Point(x[i], y[i]).buffer(r, quad_segs=int(rng.integers(2, 64))))
        elif kind == 1:
            geoms.append(shapely.box(x[i] - r, y[i] - r, x[i] + r, y[i] + r))
        elif kind == 2:
            outer = shapely.Point(x[i], y[i]).buffer(r)
            geoms.append(outer.difference(shapely.Point(x[i], y[i]).buffer(r / 3)))
        else:
            geoms.append(
                shapely.MultiPolygon(
                    [
                        shapely.box(x[i], y[i], x[i] + r, y[i] + r),
                        shapely.box(x[i] + 2 * r, y[i], x[i] + 3 * r, y[i] + r),
                    ]
                )
            )
    if n > 2:
        geoms[-1] = geoms[0]  # a duplicate
    harm = rng.uniform(0, 10, n)
    harm[::3] = np.nan
    return gpd.GeoDataFrame(
        {
            "hotspot_id": [f"H{i + 1:03d}" for i in range(n)],
            "rank": np.arange(1, n + 1),
            "incidents": rng.integers(1, 500, n),
            "harm": harm,
            "peak_window": (["Fri-Sat 21:00-03:00", "", None, "Mon 08:00-10:00"] * n)[:n],
            "top_location": [f"On or near <b>{{{{ x }}}}</b> {i} & 'Street'" for i in range(n)],
        },
        geometry=geoms,
        crs="EPSG:27700",
    )


def _incidents(seed: int, n: int) -> Incidents | None:
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    x = 530_000 + np.round(rng.uniform(0, 5000, n), -1)
    y = 180_000 + np.round(rng.uniform(0, 5000, n), -1)
    return Incidents.from_xy(x, y, crs="EPSG:27700")


def _full_render(m: folium.Map) -> tuple[str, str, str, list[str], list[str]]:
    """What st_folium sends for a map: its two full renders, then header, body and script."""
    import streamlit_folium as sf

    m.get_root().render()
    m.render()
    html, header = sf._get_html(m), sf._get_header(m)
    script = sf._get_map_string(m)
    css = list(
        dict.fromkeys(h for el in offline.walk(m) for _, h in getattr(el, "default_css", []))
    )
    js = list(dict.fromkeys(s for el in offline.walk(m) for _, s in getattr(el, "default_js", [])))
    return script, header, html, css, js


def _maps(seed: int, n_hot: int, n_inc: int) -> tuple[folium.Map, folium.Map]:
    """The same map twice (deep copies: the same random ids), as the app builds it."""
    ranked = _ranked(seed, n_hot) if n_hot else None
    surface = (
        [g.buffer(50) for g in ranked.geometry[: max(1, n_hot // 2)]]
        if ranked is not None
        else None
    )
    m = mapping.build_map(
        ranked,
        _incidents(seed, n_inc),
        surface_polygons=surface,
        tiles="none",
        selected="H001" if n_hot else None,
    )
    offline.localize(m)
    return m, copy.deepcopy(m)


CASES = [(0, 0, 0), (1, 1, 0), (2, 0, 50), (3, 1, 1), (4, 7, 300), (5, 40, 2000), (6, 3, 3)]


@pytest.mark.parametrize(("seed", "n_hot", "n_inc"), CASES)
def test_drawn_map_is_what_streamlit_folium_renders(seed, n_hot, n_inc, monkeypatch):
    import streamlit_folium as sf

    from hotspots_app import map as map_section

    reference, ours = _maps(seed, n_hot, n_inc)
    want = _full_render(reference)
    # drawn_map's body on a map we give it (build_map as the app calls it is tested below)
    monkeypatch.setattr(map_section.mapping, "build_map", lambda *a, **k: ours)
    monkeypatch.setattr(map_section.detection, "contours", lambda result: [])

    class _Result:
        hotspots = _ranked(seed, n_hot) if n_hot else gpd.GeoDataFrame(geometry=[], crs=27700)
        incidents = None

    drawn = map_section.drawn_map.__wrapped__(_Result())
    got = (drawn.script, drawn.header, drawn.html, list(drawn.css), list(drawn.js))
    assert _normalised(*got[:3]) == _normalised(*want[:3])
    assert got[3:] == want[3:]
    assert drawn.map_id == sf.get_full_id(ours)


@pytest.mark.parametrize(("seed", "n_hot", "n_inc"), CASES)
def test_render_without_scripts_leaves_what_a_full_render_leaves(seed, n_hot, n_inc):
    import streamlit_folium as sf

    reference, ours = _maps(seed, n_hot, n_inc)
    templates = {id(el): el.__dict__.get("_template") for el in offline.walk(ours)}
    want = _full_render(reference)
    mapping.render_without_scripts(ours.get_root())
    # every template put back as it was (instance templates too, class ones not shadowed)
    for el in offline.walk(ours):
        if id(el) in templates:
            assert el.__dict__.get("_template") is templates[id(el)]
    # header and body read before the script (it renames the map), as st_folium reads them
    header, html = sf._get_header(ours), sf._get_html(ours)
    got = (sf._get_map_string(ours), header, html)
    assert _normalised(*got) == _normalised(*want[:3])
    # nothing went to the page's script section but the small parts folium adds itself
    script_section = ours.get_root().script.render()
    assert len(script_section) < 5_000 or n_hot == 0


def test_templates_are_put_back_after_an_error():
    m, _ = _maps(7, 3, 10)
    before = {id(el): el.__dict__.get("_template") for el in offline.walk(m)}

    class Boom(folium.MacroElement):
        def render(self, **kwargs):
            raise RuntimeError("boom")

    Boom().add_to(m)
    with pytest.raises(RuntimeError, match="boom"):
        mapping.render_without_scripts(m.get_root())
    for el in offline.walk(m):
        if id(el) in before:
            assert el.__dict__.get("_template") is before[id(el)]
    # a class template is never shadowed by an instance attribute left behind
    assert "_template" not in folium.GeoJson.__dict__ or all(
        "_template" not in el.__dict__ for el in offline.walk(m) if type(el) is folium.GeoJson
    )


def _layers(seed: int) -> list[folium.FeatureGroup]:
    ranked = _ranked(seed, 12)
    areas = ranked.head(5).copy()
    areas["patrol_area_id"] = [f"P{i}" for i in range(5)]
    areas["location"] = ["<i>{{ 7*7 }}</i>", None, "a", "b", "c"]
    return [
        g
        for g in (
            mapping.basemap_layer("openstreetmap"),
            mapping.basemap_layer("https://t.example/{z}/{x}/{y}.png", "Force <b>tiles</b>"),
            mapping.selection_layer(ranked, "H001"),
            mapping.selection_layer(ranked, "12"),
            mapping.patrol_layer(areas),
        )
        if g is not None
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_feature_group_string_is_streamlit_folium_s(seed):
    import streamlit_folium as sf

    from hotspots_app import map as map_section

    for idx, group in enumerate(_layers(seed)):
        for place in (idx, 0, 3):
            want = sf._get_feature_group_string(
                copy.deepcopy(group), map=folium.Map(tiles=None), idx=place
            )
            got = map_section.feature_group_string(
                copy.deepcopy(group), folium.Map(tiles=None), place
            )
            assert got == want
            assert map_section.layer_script(group, place) == want


def test_the_map_is_drawn_without_the_page_script(monkeypatch, demo_csv):
    from hotspots.workflows import detect_hotspots, read_inputs
    from hotspots_app import map as map_section

    calls: list[object] = []
    real = mapping.render_without_scripts
    monkeypatch.setattr(mapping, "render_without_scripts", lambda el: calls.append(el) or real(el))
    result = detect_hotspots(read_inputs([demo_csv]), "kde")
    drawn = map_section.drawn_map.__wrapped__(result)
    assert len(calls) == 1 and isinstance(calls[0], folium.Figure)
    assert "map_div" in drawn.script and "L.geoJson" in drawn.script
    group = mapping.selection_layer(result.hotspots, str(result.hotspots["hotspot_id"].iloc[0]))
    map_section.layer_script(group, 4)
    assert len(calls) == 2 and calls[1]._id == "feature_group_4"


# ------------------------------------------------------------------------ selection layer
class _Run:
    """A stand-in for a HotspotResult (weak references, identity)."""

    def __init__(self, ranked: gpd.GeoDataFrame) -> None:
        self.hotspots = ranked


def test_the_selection_layer_is_made_once_per_run_and_hot_spot(monkeypatch):
    from hotspots_app import map as map_section

    made: list[tuple] = []
    real = mapping.selection_layer
    monkeypatch.setattr(
        map_section.mapping,
        "selection_layer",
        lambda ranked, sel: made.append((id(ranked), sel)) or real(ranked, sel),
    )
    a, b = _Run(_ranked(1, 5)), _Run(_ranked(2, 5))
    first = map_section.selection_layer(a, "H002")  # type: ignore[arg-type]
    assert first is not None
    assert map_section.selection_layer(a, "H002") is first  # type: ignore[arg-type]
    assert map_section.selection_layer(a, None) is None  # type: ignore[arg-type]
    assert map_section.selection_layer(a, None) is None  # type: ignore[arg-type]
    assert map_section.selection_layer(a, "nope") is None  # type: ignore[arg-type]
    other = map_section.selection_layer(b, "H002")  # type: ignore[arg-type]
    assert other is not first
    assert made == [
        (id(a.hotspots), "H002"),
        (id(a.hotspots), None),
        (id(a.hotspots), "nope"),
        (id(b.hotspots), "H002"),
    ]
    # the same outline as a fresh one (the same script once rendered at a place)
    fresh = real(a.hotspots, "H002")
    assert _normalised(map_section.layer_script(first, 1)) == _normalised(
        map_section.feature_group_string(copy.deepcopy(fresh), folium.Map(tiles=None), 1)
    )
    gc.collect()
    n = len(map_section._SELECTIONS)
    del a, first
    gc.collect()
    assert len(map_section._SELECTIONS) == n - 1  # the run dropped: its layers too


def test_selection_layer_on_empty_results():
    from hotspots_app import map as map_section

    empty = _Run(gpd.GeoDataFrame({"hotspot_id": [], "rank": []}, geometry=[], crs=27700))
    assert map_section.selection_layer(empty, "H001") is None  # type: ignore[arg-type]
    nan_geom = _Run(
        gpd.GeoDataFrame(
            {"hotspot_id": ["H001"], "rank": [1]}, geometry=[shapely.Polygon()], crs=27700
        )
    )
    assert map_section.selection_layer(nan_geom, "H001") is None  # type: ignore[arg-type]


# ------------------------------------------------------------------------- tracking tab
def _spy_component(monkeypatch) -> list[dict]:
    import streamlit_folium as sf

    sent: list[dict] = []
    real = sf._component_func

    def spy(**kw):
        sent.append({k: v for k, v in kw.items() if k not in ("on_change", "key")})
        return real(**kw)

    monkeypatch.setattr(sf, "_component_func", spy)
    return sent


def _tracked_demo(demo_csv):
    from hotspots.workflows import detect_hotspots, patrol_areas, plan_patrols, read_inputs
    from hotspots_app import tracking

    inc = read_inputs([demo_csv])
    result = detect_hotspots(inc, "kde")
    areas = patrol_areas(inc, result.hotspots)
    made = plan_patrols(inc, result.hotspots, areas, params=result.params)
    t = tracking._track(made.plan, made.areas, ("synthetic", 7))
    return result, made, t


def test_the_tracking_map_sends_what_st_folium_sent(demo_csv, monkeypatch):
    from streamlit_folium import st_folium

    from hotspots_app import map as map_section
    from hotspots_app import tracking

    result, made, t = _tracked_demo(demo_csv)
    assert t.visits is not None and len(t.visits)
    sent = _spy_component(monkeypatch)
    for tiles, attribution in (
        ("none", None),
        ("openstreetmap", None),
        ("https://x/{z}/{x}/{y}", "A"),
    ):
        m = mapping.build_map(
            result.hotspots, result.incidents, tiles=tiles, tile_attribution=attribution
        )
        offline.localize(m)
        ours = copy.deepcopy(m)
        layers = [
            mapping.patrol_layer(made.areas, made.plan),
            tracking.visits_layer(t.visits, t.compliance),
        ]
        # before app12: st_folium with the layers made in the run
        st_folium(
            m,
            key="trk_map",
            height=tracking.MAP_HEIGHT,
            width="stretch",
            returned_objects=[],
            feature_group_to_add=copy.deepcopy(layers),
        )
        map_section.show_drawn(
            map_section.draw(ours),
            key="trk_map",
            height=tracking.MAP_HEIGHT,
            width="stretch",
            returned_objects=[],
            feature_group_to_add=layers,
        )
        want, got = sent[-2], sent[-1]
        assert set(want) == set(got)
        for k in want:
            if isinstance(want[k], str):
                assert _normalised(got[k]) == _normalised(want[k]), k
            else:
                assert got[k] == want[k], k


def test_the_tracking_tab_draws_its_map_and_layers_once(demo_csv, monkeypatch):
    from hotspots_app import plan as plan_section
    from hotspots_app import tracking

    result, made, t = _tracked_demo(demo_csv)
    bundle = plan_section.Bundle(made, result, True, 75.0, {})
    tracking.tracking_map.clear()  # not drawn by an earlier test
    built: list[str] = []
    real_build, real_visits = mapping.build_map, tracking.visits_layer
    monkeypatch.setattr(
        tracking.mapping, "build_map", lambda *a, **k: built.append("map") or real_build(*a, **k)
    )
    monkeypatch.setattr(
        tracking, "visits_layer", lambda v, c: built.append("visits") or real_visits(v, c)
    )
    sent = _spy_component(monkeypatch)
    for _ in range(3):
        tracking.show_map(result, bundle, t, "none", None)
    assert built == ["map", "visits"]
    assert len(sent) == 3 and sent[0] == sent[1] == sent[2]
    assert "feature_group_feature_group_1" in sent[0]["feature_group"]
    assert tracking.visits_layer_of(t) is tracking.visits_layer_of(t)
    n = len(tracking._VISIT_LAYERS)
    del t
    gc.collect()
    assert len(tracking._VISIT_LAYERS) == n - 1  # the tracking dropped: its layer too


def test_no_visits_no_layer():
    from hotspots_app import tracking

    empty = tracking.Tracked(None, None, None, False)  # type: ignore[arg-type]
    assert tracking.visits_layer_of(empty) is None
    assert tracking.visits_layer_of(empty) is None


# ------------------------------------------------------------------- status boxes' place
def _boxes_script() -> None:
    import streamlit as st

    from hotspots_app.status import StatusProgress, boxes_here

    def work() -> None:
        for title in ("Reading", "Finding"):
            p = StatusProgress(title)
            if st.session_state.get("report", True):  # a cache miss: the library reports
                p("reading files", 0, 2)
                p("reading files", 1, 2)
            p.finish()

    if st.session_state.get("area", True):
        with boxes_here():
            work()
    else:
        work()
    st.markdown("below")


def _place_of_below(at) -> int:
    return [i for i, node in at.main.children.items() if getattr(node, "value", None) == "below"][0]


def test_status_boxes_keep_what_follows_in_its_place():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_boxes_script)
    at.run()  # the work reported: two boxes drawn (and cleared)
    assert not at.exception
    reported = _place_of_below(at)
    at.session_state["report"] = False
    at.run()  # a cache hit: no box
    assert _place_of_below(at) == reported == 1
    # without one place for the boxes, what follows moves between the two runs (a remount)
    at.session_state["area"] = False
    at.session_state["report"] = True
    at.run()
    moved = _place_of_below(at)
    at.session_state["report"] = False
    at.run()
    assert _place_of_below(at) != moved


def test_status_progress_in_an_area_outside_a_page_records_the_steps():
    from hotspots_app.status import StatusProgress, boxes_here

    with boxes_here():
        p = StatusProgress("Reading")
        p("reading files", 0, 1)
        p("validating", 0, None)
        p.finish()
    assert [s for s, _, _ in p.steps] == ["reading files", "validating"]
    q = StatusProgress("Outside")  # no area: drawn in the page as before
    assert q._area is None


def test_the_tabs_keep_their_place_in_the_run_after_an_upload(tmp_path):
    import os

    from streamlit.testing.v1 import AppTest

    from hotspots.synthetic import national_frames

    seed = int.from_bytes(os.urandom(4), "little")  # read afresh: the boxes are drawn
    frame = pd.concat([t for _, t in national_frames(1500, forces=["kent"], seed=seed)])
    path = tmp_path / "upload.csv"
    frame.to_csv(path, index=False)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=600)
    at.run()
    at.session_state["show_patrol_areas"] = False  # no rerun for the patrol layer
    at.sidebar.file_uploader(key="uploads").set_value((path.name, path.read_bytes(), "text/csv"))
    at.run()
    assert not at.exception

    def tabs_at() -> int:
        return [
            i for i, n in at.main.children.items() if getattr(n, "type", "") == "tab_container"
        ][0]

    after_upload = tabs_at()
    at.run()  # everything cached: no box
    assert tabs_at() == after_upload


# ------------------------------------------------------------------ the collector's work
def test_the_first_run_sets_what_lives_aside_once(monkeypatch):
    from hotspots_app import page

    calls: list[str] = []
    monkeypatch.setattr(page, "_FROZEN", [])
    monkeypatch.setattr(page.gc, "collect", lambda: calls.append("collect") or 0)
    monkeypatch.setattr(page.gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(page, "main", lambda: None)
    page.run()
    page.run()
    page._freeze_once()
    assert calls == ["collect", "freeze"]  # collected first: no garbage set aside


def test_the_first_run_sets_aside_even_when_it_fails(monkeypatch):
    from hotspots_app import page

    calls: list[str] = []
    monkeypatch.setattr(page, "_FROZEN", [])
    monkeypatch.setattr(page.gc, "collect", lambda: calls.append("collect") or 0)
    monkeypatch.setattr(page.gc, "freeze", lambda: calls.append("freeze"))

    def boom() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(page, "main", boom)
    page.run()  # the error is shown, not raised
    assert calls == ["collect", "freeze"]


# ------------------------------------------------------------- persistent / emerging cells
def _cells(seed: int, n: int) -> gpd.GeoDataFrame:
    from hotspots.emerging import CATEGORIES

    rng = np.random.default_rng(seed)
    x = 530_000 + 150 * rng.integers(0, 30, n)
    y = 180_000 + 150 * rng.integers(0, 30, n)
    return gpd.GeoDataFrame(
        {
            "category": rng.choice([*CATEGORIES, "something else"], n),
            "n_cells": rng.integers(1, 9, n),
            "incidents": rng.integers(0, 99, n).astype(float),
            "top_location": (["<b>{{ 1 }}</b>", None, "High St"] * n)[:n],
        },
        geometry=[shapely.box(a, b, a + 150, b + 150) for a, b in zip(x, y, strict=True)],
        crs="EPSG:27700",
    )


@pytest.mark.parametrize("n", [1, 5, 60])
def test_the_emerging_layer_is_made_once_per_classification(n, monkeypatch):
    import streamlit_folium as sf

    from hotspots_app import map as map_section

    cells = _cells(n, n)
    made: list[int] = []
    real = mapping.emerging_layer
    monkeypatch.setattr(
        map_section.mapping, "emerging_layer", lambda c: made.append(id(c)) or real(c)
    )
    first = map_section.emerging_layer(cells)
    assert map_section.emerging_layer(cells) is first and made == [id(cells)]
    other = map_section.emerging_layer(cells.copy())
    assert other is not first and len(made) == 2
    fresh = real(cells)
    want = sf._get_feature_group_string(copy.deepcopy(fresh), map=folium.Map(tiles=None), idx=2)
    assert _normalised(map_section.layer_script(first, 2)) == _normalised(want)
    count = len(map_section._EMERGING)
    del cells, first
    gc.collect()
    assert len(map_section._EMERGING) < count  # the classification dropped: its layer too


def test_per_object_values():
    from hotspots_app.map import PerObject

    made = PerObject()
    frame = pd.DataFrame({"a": [1]})  # not hashable
    calls: list[int] = []
    assert made.get(frame, lambda: calls.append(1) or "x") == "x"
    assert made.get(frame, lambda: calls.append(2) or "y") == "x"
    assert made.get(pd.DataFrame(), lambda: None) is None  # dies at once: forgotten
    assert calls == [1] and len(made) == 1
    del frame
    assert len(made) == 0


# ------------------------------------------------------------------------ the plan's tables
def test_the_plan_tables_are_made_once_per_plan(demo_csv):
    from hotspots.workflows import detect_hotspots, patrol_areas, plan_patrols, read_inputs
    from hotspots_app import plan as plan_section

    inc = read_inputs([demo_csv])
    result = detect_hotspots(inc, "kde")
    made = plan_patrols(
        inc, result.hotspots, patrol_areas(inc, result.hotspots), params=result.params
    )
    bundle = plan_section.Bundle(made, result, True, 75.0, {})
    again = plan_section.Bundle(made, result, True, 75.0, {})  # another run, the same plan
    ids = [*map(str, result.hotspots["hotspot_id"]), "none such", None]
    for hid in ids:
        table = plan_section.area_table(bundle, hid)
        pd.testing.assert_frame_equal(table, plan_section._area_table(bundle, hid))
        assert plan_section.area_table(again, hid) is table
    places = plan_section.flagged_places(bundle)
    pd.testing.assert_frame_equal(places, plan_section._flagged_places(bundle))
    assert plan_section.flagged_places(again) is places
    assert plan_section.area_table(bundle, "none such").empty
    n = len(plan_section._TABLES)
    del bundle, again, made
    gc.collect()
    assert len(plan_section._TABLES) == n - 1  # the plan dropped: its tables too


# ------------------------------------------------------------------------------- safety
def test_the_app_map_never_renders_user_text_as_a_template(monkeypatch):
    """folium's full render compiles each script as a Jinja template and renders it: a CSV
    location such as ``{{ ... }}`` ran on the server. The app's map and layers skip that pass."""
    import os

    from hotspots_app import map as map_section

    name = "Cycler"  # set by the payload, written without quotes (JSON escapes them)
    payload = "{{ cycler.__init__.__globals__.os.environ.setdefault(cycler.__name__, '1') }}"
    payload = payload.replace("'1'", "cycler.__name__")
    monkeypatch.delenv(name, raising=False)
    ranked = _ranked(3, 4)
    ranked["top_location"] = [payload, "{{ 7*7 }}", "{% if 1 %}x{% endif %}", "a"]
    monkeypatch.setattr(map_section.detection, "contours", lambda result: [])

    class _Result:
        hotspots = ranked
        incidents = None

    drawn = map_section.drawn_map.__wrapped__(_Result())
    assert name not in os.environ
    assert "{{ 7*7 }}" in drawn.script and "{% if 1 %}" in drawn.script
    areas = ranked.copy()
    areas["patrol_area_id"] = ["P1", "P2", "P3", "P4"]
    areas["location"] = ranked["top_location"]
    script = map_section.feature_group_string(
        mapping.patrol_layer(areas), folium.Map(tiles=None), 0
    )
    assert name not in os.environ and "{{ 7*7 }}" in script
