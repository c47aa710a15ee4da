""":func:`hotspots.incidents.unique_points` asked for the same points by several threads at once
(detection's surroundings test and the place marks do): made once, the same answer for each."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import hotspots.incidents as inc_mod
from hotspots.incidents import unique_points


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.setattr(inc_mod, "_LAST_POINTS", [])
    monkeypatch.setattr(inc_mod, "_POINTS_BUSY", {})


def _points(seed: int, n: int = 20_000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spots = rng.uniform(1, 1e4, (500, 2)).round(1)
    return spots[rng.integers(0, 500, n)]


def _ask_at_once(xy: np.ndarray, threads: int) -> list:
    start = threading.Barrier(threads)
    out: list = [None] * threads

    def ask(i: int) -> None:
        start.wait()
        try:
            out[i] = unique_points(xy, return_index=True, return_inverse=True, return_counts=True)
        except Exception as exc:  # handed to the test
            out[i] = exc

    pool = [threading.Thread(target=ask, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    return out


def test_threads_asking_at_once_share_one_computation(monkeypatch):
    calls = []
    real = inc_mod._distinct_points

    def slow(xy):
        calls.append(1)
        time.sleep(0.2)  # the others ask meanwhile
        return real(xy)

    monkeypatch.setattr(inc_mod, "_distinct_points", slow)
    xy = _points(0)
    got = _ask_at_once(xy, 4)
    assert len(calls) == 1
    u, first, inv, cnt = np.unique(
        xy, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    for answer in got:
        assert not isinstance(answer, Exception), answer
        for a, b in zip(answer, (u, first, np.ravel(inv), cnt), strict=True):
            assert np.array_equal(a, b)
    # each caller owns its arrays
    assert len({id(a[0]) for a in got}) == 4
    got[0][0][:] = -1.0
    assert np.array_equal(unique_points(xy), u)


def test_a_failed_computation_is_made_again_by_a_waiting_thread(monkeypatch):
    calls = []
    real = inc_mod._distinct_points

    def first_fails(xy):
        calls.append(1)
        time.sleep(0.2)
        if len(calls) == 1:
            raise MemoryError("first try")
        return real(xy)

    monkeypatch.setattr(inc_mod, "_distinct_points", first_fails)
    xy = _points(1)
    got = _ask_at_once(xy, 3)
    failed = [g for g in got if isinstance(g, MemoryError)]
    assert len(failed) == 1 and len(calls) == 2
    u = np.unique(xy, axis=0)
    assert all(np.array_equal(g[0], u) for g in got if not isinstance(g, Exception))
    assert not inc_mod._POINTS_BUSY


def test_different_points_at_once_are_each_their_own():
    a, b = _points(2), _points(3)
    out: dict[int, np.ndarray] = {}

    def ask(i: int, xy: np.ndarray) -> None:
        out[i] = unique_points(xy)

    pool = [threading.Thread(target=ask, args=(i, xy)) for i, xy in enumerate((a, b, a, b))]
    for t in pool:
        t.start()
    for t in pool:
        t.join(30)
    assert np.array_equal(out[0], np.unique(a, axis=0))
    assert np.array_equal(out[2], np.unique(a, axis=0))
    assert np.array_equal(out[1], np.unique(b, axis=0))
    assert np.array_equal(out[3], np.unique(b, axis=0))
    assert len(inc_mod._LAST_POINTS) == 2
