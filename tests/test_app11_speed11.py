"""Session 11 (app11): the app's server CPU per upload, each fast path against a plain reference.

- :func:`hotspots.forecast.spaced` and ``_top_spaced`` with the neighbours of one k-d tree of
  all the centres kept across calls (``_Near``) take what a greedy computing every distance
  takes, and what a tree of each head takes; :func:`hotspots.forecast.validate_weights` chooses
  the same with and without the shared tree.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pandas as pd
import pytest

from hotspots import forecast as fc_mod
from hotspots.forecast import spaced


# ------------------------------------------------------------------------ forecast greedy
def _plain_greedy(xy: np.ndarray, k: int | None, sep: float) -> list[int]:
    """Greedy spaced picks in the given order, every distance computed (no k-d tree)."""
    taken: list[int] = []
    for i in range(len(xy)):
        if k is not None and len(taken) >= k:
            break
        if sep <= 0 or not taken:
            taken.append(i)
            continue
        d2 = ((xy[taken] - xy[i]) ** 2).sum(axis=1)
        if d2.min() > (sep * (1 - 1e-12)) ** 2:
            taken.append(i)
    return taken


def _lattice_and_points(seed: int, n_points: int = 300) -> np.ndarray:
    """25 m lattice centres (exact distances of 150 m between many) and scattered points, some
    repeated (distance 0)."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
    lattice = (np.column_stack([i.ravel(), j.ravel()]) + 0.5) * 25.0
    pts = rng.uniform(0, 1000, (n_points, 2))
    return np.vstack([lattice, pts, pts[:20]])


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [None, 1, 7, 100])
@pytest.mark.parametrize("sep", [0.0, 25.0, 150.0])
def test_spaced_matches_the_plain_greedy(seed, k, sep):
    xy = _lattice_and_points(seed)
    order = np.random.default_rng(seed + 10).permutation(len(xy))
    got = spaced(xy[order], k, sep)
    assert got.dtype == np.int64
    assert got.tolist() == _plain_greedy(xy[order], k, sep)


def test_spaced_edge_cases():
    assert spaced(np.empty((0, 2)), 5, 150.0).tolist() == []
    assert spaced(np.array([[1.0, 2.0]]), None, 150.0).tolist() == [0]
    assert spaced(np.array([[1.0, 2.0]]), 0, 150.0).tolist() == []
    same = np.zeros((4, 2))
    assert spaced(same, None, 150.0).tolist() == [0]
    assert spaced(same, None, 0.0).tolist() == [0, 1, 2, 3]
    # exactly the separation apart: kept (closer than it is what is skipped)
    line = np.array([[0.0, 0.0], [150.0, 0.0], [299.0, 0.0], [450.0, 0.0]])
    assert spaced(line, None, 150.0).tolist() == [0, 1, 3]


def _keys(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores with many ties (rounded), some zero, and a tie-break key."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.gamma(0.5, 1.0, n), 1)
    scores[rng.random(n) < 0.2] = 0.0
    return scores, np.round(rng.random(n), 1)


@pytest.mark.parametrize("k", [None, 1, 10, 100, 10_000])
def test_top_spaced_with_shared_neighbours_matches_a_tree_per_head(k):
    xy = _lattice_and_points(3, n_points=2000)
    near = fc_mod._Near(xy, 150.0)
    for seed in range(6):  # one _Near across calls, as the validation's folds and settings
        keys = _keys(seed, len(xy))
        want = fc_mod._top_spaced(xy, keys, k, 150.0)
        got = fc_mod._top_spaced(xy, keys, k, 150.0, near=near)
        assert got.tolist() == want.tolist()
        # and both are the plain greedy on the whole order of the positive centres
        pos = np.flatnonzero(keys[0] > 0)
        order = pos[np.lexsort((-keys[1][pos], -keys[0][pos]))]
        assert got.tolist() == order[_plain_greedy(xy[order], k, 150.0)].tolist()
    assert near.found  # kept for the next call


def test_top_spaced_with_shared_neighbours_eligible_and_admit():
    xy = _lattice_and_points(4, n_points=500)
    near = fc_mod._Near(xy, 150.0)
    keys = _keys(4, len(xy))
    ok = np.random.default_rng(5).random(len(xy)) < 0.7

    def admit(idx: np.ndarray) -> np.ndarray:
        return xy[idx, 0] > 200.0

    for k in (None, 3, 50):
        want = fc_mod._top_spaced(xy, keys, k, 150.0, ok, admit)
        got = fc_mod._top_spaced(xy, keys, k, 150.0, ok, admit, near=near)
        assert got.tolist() == want.tolist()
    none = np.zeros(len(xy), dtype=bool)
    assert fc_mod._top_spaced(xy, keys, 5, 150.0, none, near=near).tolist() == []


def test_near_without_separation_or_centres():
    near = fc_mod._Near(np.zeros((3, 2)), 0.0)
    assert list(near.of(1)) == []
    assert fc_mod._greedy(near, np.arange(3), None).tolist() == [0, 1, 2]
    empty = fc_mod._Near(np.empty((0, 2)), 150.0)
    assert len(empty) == 0
    assert fc_mod._greedy(empty, np.empty(0, dtype=np.int64), 5).tolist() == []


def _town(seed: int) -> tuple[fc_mod._Counts, int]:
    """A town of map points with a busy quarter, 12 months of violence and near misses."""
    from hotspots.incidents import Incidents

    rng = np.random.default_rng(seed)
    months = [f"{m:%Y-%m}" for m in pd.date_range("2024-01", periods=12, freq="MS")]
    pts = np.r_[rng.uniform(0, 4000, (600, 2)), rng.uniform(1500, 1900, (200, 2))]
    rate = np.r_[np.full(600, 0.05), np.full(200, 0.5)]
    x, y, month = [], [], []
    for m in months:
        n = rng.poisson(rate)
        x.append(np.repeat(pts[:, 0], n))
        y.append(np.repeat(pts[:, 1], n))
        month.append(np.full(int(n.sum()), m, dtype=object))
    inc = Incidents.from_xy(
        530_000 + np.concatenate(x), 180_000 + np.concatenate(y), month=np.concatenate(month)
    )
    oth = Incidents.from_xy(
        530_000 + rng.uniform(0, 4000, 3000),
        180_000 + rng.uniform(0, 4000, 3000),
        month=rng.choice(months, 3000),
    )
    return fc_mod._counts(inc, oth)


def test_validate_weights_same_with_and_without_the_shared_tree(monkeypatch):
    counts, _ = _town(7)
    given = {"_has_others": True}
    kw = {"given": given, "radius_m": 75.0, "separation_m": 150.0}
    shared = fc_mod.validate_weights(counts, **kw)
    monkeypatch.setattr(fc_mod, "SHARED_TREE_MAX_CENTRES", 0)  # a tree of each head, as before
    counts2, _ = _town(7)
    per_head = fc_mod.validate_weights(counts2, **kw)
    assert shared[0] == per_head[0]
    pd.testing.assert_frame_equal(shared[1], per_head[1])
    assert shared[2] == per_head[2]
    assert len(shared[1]) > 1  # the validation ran


# ------------------------------------------------------------------ projection threads (crs)
def test_projected_runs_in_a_projection_thread_and_raises_there():
    import threading

    from hotspots import crs

    def name() -> str:
        return threading.current_thread().name

    assert crs.projected(name).startswith("hotspots-projection")
    assert crs.projected(crs.projected, name).startswith("hotspots-projection")  # nested: inline
    with pytest.raises(ZeroDivisionError):
        crs.projected(lambda: 1 / 0)


@pytest.mark.parametrize("n", [0, 1, 500])
def test_transform_in_projection_threads_equals_pyproj_in_this_thread(n):
    import pyproj

    from hotspots import crs

    rng = np.random.default_rng(n)
    x, y = rng.uniform(300_000, 600_000, n), rng.uniform(100_000, 600_000, n)
    for src in (crs.BNG, crs.utm_crs(-87.6, 41.8)):
        ref = pyproj.Transformer.from_crs(src, 4326, always_xy=True)
        want = ref.transform(x, y)
        got = crs.to_wgs84(x, y, src)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        back = crs.to_analysis(got[0], got[1], src)
        want_back = pyproj.Transformer.from_crs(4326, src, always_xy=True).transform(*want)
        np.testing.assert_array_equal(back[0], want_back[0])
        np.testing.assert_array_equal(back[1], want_back[1])


def test_to_crs_in_projection_threads_equals_geopandas():
    import geopandas as gpd
    import shapely

    from hotspots import crs

    rng = np.random.default_rng(1)
    pts = shapely.points(rng.uniform(500_000, 540_000, (40, 2)))
    geoms = list(shapely.buffer(pts, 75.0)) + [shapely.Point(), None, shapely.Point(1, 2, 3)]
    series = gpd.GeoSeries(geoms, crs=27700, index=np.arange(len(geoms))[::-1])
    frame = gpd.GeoDataFrame({"a": np.arange(len(geoms))}, geometry=series, crs=27700)
    for geo in (series, frame, series.iloc[:0]):
        got, want = crs.to_crs(geo, 4326), geo.to_crs(4326)
        assert type(got) is type(want)
        assert got.crs == want.crs
        assert got.index.equals(want.index)
        g, w = np.asarray(got.geometry.values), np.asarray(want.geometry.values)
        assert shapely.to_wkb(g).tolist() == shapely.to_wkb(w).tolist()
    assert_frame = pd.testing.assert_frame_equal
    assert_frame(pd.DataFrame(crs.to_crs(frame, 4326)[["a"]]), pd.DataFrame(frame[["a"]]))


def test_patrol_area_centres_in_lon_lat_as_one_point_at_a_time():
    import geopandas as gpd
    import shapely

    from hotspots import crs
    from hotspots.incidents import Incidents
    from hotspots.patrol import make_patrol_areas

    rng = np.random.default_rng(2)
    centres = rng.uniform(0, 3000, (12, 2))
    xy = np.repeat(centres, 6, axis=0) + rng.normal(0, 10, (72, 2))
    months = rng.choice(pd.date_range("2024-01-01", periods=6, freq="MS"), len(xy))
    inc = Incidents.from_xy(530_000 + xy[:, 0], 180_000 + xy[:, 1], month=months)
    hot = gpd.GeoDataFrame(
        {"hotspot_id": ["H001"], "rank": [1], "temporal_class": ["chronic"], "has_time": [False]},
        geometry=[shapely.box(529_900, 179_900, 533_100, 183_100)],
        crs="EPSG:27700",
    )
    areas = make_patrol_areas(inc, hot, radius_m=75.0, min_incidents=2, rank_by="hotspots")
    assert len(areas) > 1
    one = crs.transformer(inc.crs, crs.WGS84)
    for _, row in areas.iterrows():
        lon, lat = one.transform(float(row["centre_x"]), float(row["centre_y"]))
        assert row["centre_lon"] == float(lon)
        assert row["centre_lat"] == float(lat)


def test_transformer_transforms_in_a_projection_thread_as_pyproj_does(monkeypatch):
    import copy
    import threading

    import pyproj

    from hotspots import crs

    t = crs.transformer(crs.BNG, crs.WGS84)
    assert isinstance(t, crs.ProjectedTransformer)
    assert isinstance(t.pyproj_transformer, pyproj.Transformer)
    ref = pyproj.Transformer.from_crs(crs.BNG, crs.WGS84, always_xy=True)
    assert t.name == ref.name and t.definition == ref.definition  # its own attributes
    assert t.transform(529_980.0, 180_430.0) == ref.transform(529_980.0, 180_430.0)
    seen: list[str] = []
    inner = t.pyproj_transformer

    class Spy:
        def transform(self, *args, **kwargs):
            seen.append(threading.current_thread().name)
            return inner.transform(*args, **kwargs)

    monkeypatch.setattr(t, "pyproj_transformer", Spy())
    t.transform(529_980.0, 180_430.0)
    assert seen and seen[0].startswith("hotspots-projection")
    monkeypatch.undo()
    assert copy.copy(t).transform(1.0, 2.0) == t.transform(1.0, 2.0)


# ------------------------------------------------------------------ plan: rows read once
def _planned_town():
    """A small town's incidents, ranked hot spots and patrol areas (with times and harm)."""
    from hotspots import workflows
    from hotspots.incidents import Incidents

    rng = np.random.default_rng(11)
    centres = rng.uniform(0, 2500, (8, 2))
    xy = np.repeat(centres, 40, axis=0) + rng.normal(0, 25, (320, 2))
    xy = np.r_[xy, rng.uniform(0, 2500, (200, 2))]
    n = len(xy)
    months = rng.choice(pd.date_range("2024-01-01", periods=12, freq="MS"), n)
    when = months + pd.to_timedelta(rng.integers(0, 27 * 24, n), unit="h")
    inc = Incidents.from_xy(
        530_000 + xy[:, 0],
        180_000 + xy[:, 1],
        month=months,
        datetime=when,
        location=rng.choice(["On or near High Street", "On or near Park Road", ""], n),
    )
    res = workflows.detect_hotspots(inc, "kde")
    areas = workflows.patrol_areas(inc, res.hotspots)
    assert len(areas) > 2
    return inc, res, areas


def test_recommend_table_reads_rows_as_recommend_reads_each_series():
    from hotspots.tactics import recommend, recommend_table

    inc, res, areas = _planned_town()
    got = recommend_table(areas, hotspots=res.hotspots)
    hot = res.hotspots.set_index(res.hotspots["hotspot_id"].astype(str), drop=False)
    for _, row in areas.iterrows():
        pid = str(row["hotspot_id"])
        parent = hot.loc[pid] if pid in hot.index else None
        want = recommend(
            row, parent=parent, level="area", n_places=len(areas), n_hotspots=len(res.hotspots)
        )
        assert repr(got[str(row["patrol_area_id"])]) == repr(want)
    # hot spots (no parents), and a table whose labels repeat (read as a Series)
    ranked = recommend_table(res.hotspots)
    for _, row in res.hotspots.iterrows():
        want = recommend(row, level="hotspot", n_places=len(res.hotspots))
        assert repr(ranked[str(row["hotspot_id"])]) == repr(want)
    from hotspots.tactics import _as_mapping

    row = pd.Series([1, 2, 3], index=["a", "b", "a"])
    assert _as_mapping(row) is row  # labels repeat: read as the Series, as before
    assert _as_mapping(pd.Series([1.5, "x"], index=["a", "b"])) == {"a": 1.5, "b": "x"}


def test_plan_rows_carry_each_areas_columns():
    from hotspots import workflows

    inc, res, areas = _planned_town()
    plan = workflows.plan_patrols(
        inc, res.hotspots, areas, params=res.params, days=14, seed=5, start_date="2026-12-02"
    ).plan
    visits = plan.visits
    assert len(visits) > len(areas)
    ref = areas.set_index(areas["patrol_area_id"].astype(str))
    for pid, sub in visits.groupby("patrol_area_id"):
        row = ref.loc[pid]
        assert (sub["hotspot_id"] == str(row["hotspot_id"])).all()
        assert (sub["location"] == str(row.get("location", "") or "")).all()
        assert (sub["lat"] == float(row["centre_lat"])).all()
        assert (sub["lon"] == float(row["centre_lon"])).all()
    assert list(visits.columns[:11]) == [
        "date", "weekday", "patrol_area_id", "hotspot_id", "window", "window_basis",
        "tactic_ids", "location", "lat", "lon", "travel_minutes",
    ]  # fmt: skip


# ------------------------------------------------------------------ map: patrol layer
def _old_patrol_props(wgs, plan):
    """The patrol layer's tooltips as they were made, one row at a time (the reference)."""
    from hotspots.offline import escape_text

    per_area = plan.area_summary().set_index("patrol_area_id") if plan is not None else None
    props = []
    for _, a in wgs.iterrows():
        pid = str(a["patrol_area_id"])
        if per_area is None:
            in_plan, status = True, "patrol area"
        else:
            known = pid in per_area.index
            in_plan = bool(per_area.loc[pid, "in_plan"]) if known else False
            visits = int(per_area.loc[pid, "visits"]) if known else 0
            status = f"{visits} visits" if in_plan else "left out (capacity)"
        kind = str(a.get("unpatrollable_kind", "") or "")
        if kind and not in_plan:
            status = f"left out: a street patrol cannot address it ({kind.replace('_', ' ')})"
        props.append(
            {
                "patrol_area": escape_text(pid),
                "incidents": escape_text(f"{int(a['incidents']):,}"),
                "plan": escape_text(status),
                "location": escape_text(a.get("location") or ""),
                "_in_plan": in_plan,
            }
        )
    return props


def test_patrol_layer_tooltips_as_one_row_at_a_time(monkeypatch):
    from hotspots import mapping, workflows

    inc, res, areas = _planned_town()
    plan = workflows.plan_patrols(
        inc, res.hotspots, areas, params=res.params, days=14, seed=5, start_date="2026-12-02"
    ).plan
    seen = []
    real_fit = mapping.fit_layer

    def spy(geoms, props, kind):
        seen.append(list(props))
        return real_fit(geoms, props, kind)

    monkeypatch.setattr(mapping, "fit_layer", spy)
    odd = areas.copy()
    odd["unpatrollable_kind"] = ["school" if i % 3 == 0 else "" for i in range(len(odd))]
    odd.loc[odd.index[0], "location"] = "A <b>bold</b> & odd place"
    bare = odd.drop(columns=["location", "unpatrollable_kind"])
    cases = [(areas, plan), (areas, None), (odd, plan), (odd, None), (bare, plan), (bare, None)]
    for frame, p in cases:
        seen.clear()
        assert mapping.patrol_layer(frame, p) is not None
        assert seen[0] == _old_patrol_props(frame, p)
    # an area the plan does not know: left out (capacity)
    seen.clear()
    extra = areas.copy()
    extra.loc[extra.index[-1], "patrol_area_id"] = "Z999"
    mapping.patrol_layer(extra, plan)
    assert seen[0] == _old_patrol_props(extra, plan)
    assert seen[0][-1]["plan"] == "left out (capacity)"
    assert mapping.patrol_layer(areas.iloc[:0], plan) is None


def test_patrol_areas_inherit_their_hot_spots_row():
    from hotspots import workflows
    from hotspots.patrol import _INHERITED

    inc, res, _ = _planned_town()
    areas = workflows.patrol_areas(inc, res.hotspots, radius_m=25.0, min_incidents=2)
    hot = res.hotspots.set_index(res.hotspots["hotspot_id"].astype(str))
    inside = areas[areas["hotspot_id"].astype(str) != ""]
    assert inside["hotspot_id"].duplicated().any()  # hot spots with several areas
    for _, area in inside.iterrows():
        parent = hot.loc[str(area["hotspot_id"])]
        assert area["hotspot_temporal_class"] == parent.get("temporal_class")
        for col in _INHERITED:
            got, want = area[col], parent.get(col, None)
            if isinstance(want, list | tuple | np.ndarray):
                assert list(got) == list(want), col
            elif want is None or (isinstance(want, float) and np.isnan(want)):
                assert (
                    got is None or (isinstance(got, float) and np.isnan(got)) or col == "has_time"
                )
            else:
                assert got == want, col


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_projection_works_in_a_forked_child():
    # the parent's projection threads are gone in a forked child: without a fresh pool a
    # transform there would wait for ever
    from hotspots import crs

    x, y = crs.to_wgs84(np.array([529_980.0]), np.array([180_430.0]), crs.BNG)  # threads up
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_wgs84_in_child, ((529_980.0,), (180_430.0,))).get(timeout=60)
    assert got == (x.tolist(), y.tolist())


def _wgs84_in_child(x, y):
    from hotspots import crs

    lon, lat = crs.to_wgs84(np.array(x), np.array(y), crs.BNG)
    return lon.tolist(), lat.tolist()
