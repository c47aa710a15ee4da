"""Session 11 (app11): the app's server CPU per upload, each fast path against a plain reference.

- :func:`hotspots.forecast.spaced` and ``_top_spaced`` with the neighbours of one k-d tree of
  all the centres kept across calls (``_Near``) take what a greedy computing every distance
  takes, and what a tree of each head takes; :func:`hotspots.forecast.validate_weights` chooses
  the same with and without the shared tree.
"""

from __future__ import annotations

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
