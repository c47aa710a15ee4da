"""The app server's options that save CPU per session (session 11, helper srv11)."""

from __future__ import annotations

from hotspots import launch


def test_server_watches_no_source_files_and_runs_no_full_gc_after_each_run(tmp_path):
    assert launch.SERVER_OPTIONS["server.fileWatcherType"] == "none"
    assert launch.SERVER_OPTIONS["runner.postScriptGC"] is False
    cmd = launch.app_command(tmp_path / "main.py")
    assert "--server.fileWatcherType=none" in cmd
    assert "--runner.postScriptGC=false" in cmd


def test_every_server_option_is_a_streamlit_option_of_the_right_type():
    from streamlit import config

    options = config.get_config_options()
    for name, value in launch.SERVER_OPTIONS.items():
        assert name in options, name
        default = options[name].default_val
        if isinstance(default, bool):
            assert isinstance(value, bool), name
        elif name == "server.fileWatcherType":
            assert value in ("auto", "watchdog", "poll", "none")


# ------------------------------------------------------------------ layers rendered once
def _groups(demo_csv):
    from hotspots import mapping
    from hotspots.workflows import detect_hotspots, read_inputs

    result = detect_hotspots(read_inputs([demo_csv]), "kde")
    ranked = result.hotspots
    return [
        mapping.basemap_layer("openstreetmap"),
        mapping.selection_layer(ranked, str(ranked["hotspot_id"].iloc[0])),
        mapping.selection_layer(ranked, str(ranked["hotspot_id"].iloc[-1])),
    ]


def _reference(groups) -> str:
    """What show_drawn sent before: every layer rendered in this run, on one stub map."""
    import folium
    import streamlit_folium as sf

    stub = folium.Map(tiles=None)
    return "".join(
        sf._get_feature_group_string(group, map=stub, idx=i) for i, group in enumerate(groups)
    )


def test_layer_scripts_are_what_streamlit_folium_renders(demo_csv):
    import copy

    from hotspots_app import map as map_section

    groups = _groups(demo_csv)
    pristine = [copy.deepcopy(g) for g in groups]  # the same random ids, never rendered
    ours = "".join(map_section.layer_script(g, i) for i, g in enumerate(groups))
    assert ours == _reference(copy.deepcopy(pristine))
    assert "feature_group_feature_group_2" in ours and "map_div" in ours
    # Again: the same text. At another place among the layers: what a fresh layer gives there
    # (rendering a layer twice would name parts it no longer has).
    again = "".join(map_section.layer_script(g, i) for i, g in enumerate(groups))
    assert again == ours
    moved = "".join(map_section.layer_script(g, i) for i, g in enumerate(groups[::-1]))
    assert moved == _reference(copy.deepcopy(pristine[::-1]))
    assert map_section.layer_script(groups[1], 0) == _reference(copy.deepcopy(pristine[1:2]))


def test_a_layer_is_rendered_once_per_place_and_forgotten_with_it(demo_csv, monkeypatch):
    import gc

    from hotspots_app import map as map_section

    groups = _groups(demo_csv)
    # each render of a layer (streamlit-folium's _get_feature_group_string, as app12 does it)
    real = map_section.feature_group_string
    seen: list[int] = []
    monkeypatch.setattr(
        map_section, "feature_group_string", lambda g, m, idx: seen.append(idx) or real(g, m, idx)
    )
    first = map_section.layer_script(groups[1], 1)
    assert map_section.layer_script(groups[1], 1) is first
    assert seen == [1]
    map_section.layer_script(groups[1], 0)
    assert seen == [1, 0]
    gc.collect()  # layers of earlier tests
    before = len(map_section._SCRIPTS)
    del groups[1]
    gc.collect()  # a layer and its parts refer to one another
    assert len(map_section._SCRIPTS) == before - 1


def test_threads_drawing_one_layer_at_once_render_it_once(demo_csv, monkeypatch):
    import threading

    from hotspots_app import map as map_section

    group = _groups(demo_csv)[1]
    real = map_section.feature_group_string
    seen: list[int] = []
    monkeypatch.setattr(
        map_section, "feature_group_string", lambda g, m, idx: seen.append(idx) or real(g, m, idx)
    )
    start = threading.Barrier(4)
    out: list[str] = []

    def draw() -> None:
        start.wait()
        out.append(map_section.layer_script(group, 2))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [2]
    assert len(set(out)) == 1 and len(out) == 4


class _Made:
    """A stand-in for workflows.PlanResult (weak references, identity)."""

    def __init__(self, tag: str) -> None:
        self.areas, self.plan = f"areas {tag}", f"plan {tag}"


def test_the_patrol_layer_is_made_once_per_plan(monkeypatch):
    from hotspots_app import plan

    made: list[tuple] = []
    monkeypatch.setattr(
        plan.mapping, "patrol_layer", lambda areas, p: made.append((areas, p)) or object()
    )
    a, b = _Made("a"), _Made("b")
    bundle_a = plan.Bundle(a, None, True, 150.0, {})  # type: ignore[arg-type]
    again_a = plan.Bundle(a, None, True, 150.0, {})  # type: ignore[arg-type]
    bundle_b = plan.Bundle(b, None, True, 150.0, {})  # type: ignore[arg-type]
    assert plan.layer(None) is None
    first = plan.layer(bundle_a)
    assert plan.layer(again_a) is first  # another run, the same plan: the same layer
    assert made == [("areas a", "plan a")]
    other = plan.layer(bundle_b)
    assert other is not first and made[-1] == ("areas b", "plan b")
    n = len(plan._LAYERS)
    del bundle_a, again_a, a
    assert len(plan._LAYERS) == n - 1  # the plan dropped: its layer too
