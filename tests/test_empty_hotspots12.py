"""A hot spot holds at least one incident: detect leaves out polygons that hold none.

Kernel density contours can close round the space between map points (two points 150 m apart
with the default 150 m bandwidth sum higher midway than at either point), so a contour piece
may hold no incident at all: 27 of Merseyside's 309 KDE polygons (January-June 2022) did, 28 of
Memphis's 226. :func:`hotspots.detect.detect` leaves them out and says how many;
:func:`hotspots.profile.rank_hotspots` keeps them unless told otherwise (a user's own polygons
are never dropped silently).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from hotspots import Incidents
from hotspots.detect import detect
from hotspots.ingest import read_incidents
from hotspots.profile import rank_hotspots, rank_hotspots_with_members

MERSEYSIDE = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "police_uk"
    / "merseyside_2022-01_to_2022-06"
)  # fmt: skip


def _lattice(seed: int = 1) -> Incidents:
    """Incidents on a 120 m lattice of map points: density maxima lie between the points."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(0, 3000, 120.0), np.arange(0, 3000, 120.0))
    pts = np.c_[gx.ravel(), gy.ravel()] + 400_000
    xy = pts[rng.integers(0, len(pts), 3000)]
    return Incidents.from_xy(xy[:, 0], xy[:, 1], crs="EPSG:27700")


def test_detect_leaves_out_exactly_the_empty_polygons() -> None:
    inc = _lattice()
    res = detect(inc, method="kde")
    full = rank_hotspots(res.estimator.hotspots_, inc)  # keep_empty: every polygon
    n_empty = int((full["incidents"] == 0).sum())
    assert n_empty > 0
    hot = res.hotspots
    assert len(hot) == len(full) - n_empty == res.params["n_hotspots"]
    assert res.params["n_left_out_empty"] == n_empty
    assert (hot["incidents"] >= 1).all()
    assert hot["rank"].tolist() == list(range(1, len(hot) + 1))
    assert hot["hotspot_id"].tolist() == [f"H{i:03d}" for i in range(1, len(hot) + 1)]
    # the same polygons as the full ranking's non-empty ones, with the same counts
    kept = full[full["incidents"] > 0]
    assert sorted(hot["incidents"].tolist()) == sorted(kept["incidents"].tolist())
    assert np.isclose(hot["area_m2"].sum(), kept["area_m2"].sum())
    assert any(
        f"{n_empty} polygon(s) of the kde detector holding no incident" in n for n in res.notes
    )


def test_members_point_at_the_rows_kept() -> None:
    inc = _lattice(2)
    xy = inc.xy
    x0, y0 = xy.min(axis=0)
    polys = [
        shapely.box(x0 - 50, y0 - 50, x0 + 500, y0 + 500),  # holds incidents
        shapely.box(x0 + 10_000, y0 + 10_000, x0 + 10_100, y0 + 10_100),  # holds none
        shapely.box(x0 + 1000, y0 + 1000, x0 + 1400, y0 + 1400),
    ]
    gdf = gpd.GeoDataFrame(geometry=polys, crs=inc.crs)
    ranked, (inc_idx, row) = rank_hotspots_with_members(gdf, inc, keep_empty=False)
    assert len(ranked) == 2
    for r in range(2):
        inside = shapely.contains_xy(ranked.geometry.iloc[r], xy[:, 0], xy[:, 1])
        inside |= shapely.intersects_xy(ranked.geometry.iloc[r].boundary, xy[:, 0], xy[:, 1])
        assert sorted(inc_idx[row == r].tolist()) == np.flatnonzero(inside).tolist()
        assert ranked["incidents"].iloc[r] == int(inside.sum())
    kept_all = rank_hotspots(gdf, inc)
    assert len(kept_all) == 3 and kept_all["incidents"].iloc[-1] == 0


def test_merseyside_kde_has_no_empty_hot_spot() -> None:
    if not MERSEYSIDE.is_dir():
        pytest.skip("shared data not present")
    inc = read_incidents(sorted(MERSEYSIDE.glob("*.csv")))
    res = detect(inc, method="kde")
    assert (res.hotspots["incidents"] >= 1).all()
    assert res.params["n_left_out_empty"] == 27  # of 309 contour polygons, measured 2026-12-01
    assert int(res.hotspots["significant"].sum()) == 77  # the same significant ones as before
