"""Session 12's fast paths of hotspots.ingest pinned against the computations they replaced.

The weighted order statistics (medians, percentiles) that select round the ranks asked before
sorting, the outlier test that skips the KD-tree where a grid cell or a few distances settle
it, and the "median below" test by counting: each must give the same result, to the last bit,
as the general computation kept here as the reference, and each fast path must be taken.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial import cKDTree

from hotspots import ingest
from hotspots.ingest import (
    OUTLIER_CELL_M,
    OUTLIER_FLOOR_KM,
    OUTLIER_MIN_INCIDENTS,
    OUTLIER_SPREAD_FACTOR,
    _median_below,
    _outliers,
    _ranks_around,
    _weighted_median,
    _weighted_order_stat,
    _weighted_percentile,
)


def _sorted_reference(v: np.ndarray, w: np.ndarray):
    """The order statistic as it was: every value sorted."""
    order = np.argsort(v)
    sv, cw = v[order], np.cumsum(w[order])
    return lambda k: sv[np.searchsorted(cw, k, side="right")]


def _bits(x) -> bytes:
    return np.asarray(x, dtype=float).tobytes()


def _cases(rng: np.random.Generator):
    """(values, integer weights): large and small, ties, signed zeros, uneven weights."""
    for n in (1, 2, 3, 7, 9000, 20_001, 60_000):
        yield rng.normal(size=n), rng.integers(1, 40, n)
        yield np.round(rng.normal(size=n), 1), np.ones(n, dtype=np.int64)
        yield rng.integers(-3, 4, n).astype(float), rng.integers(1, 5, n)
        zeros = rng.normal(size=n)
        zeros[rng.random(n) < 0.3] = 0.0
        zeros[rng.random(n) < 0.3] = -0.0
        yield zeros, rng.integers(1, 9, n)
        yield rng.normal(size=n), (rng.pareto(0.8, n) * 5 + 1).astype(np.int64)  # uneven


def test_order_statistics_equal_the_full_sort():
    rng = np.random.default_rng(12)
    for v, w in _cases(rng):
        total = int(w.sum())
        ref = _sorted_reference(v, w)
        for q in (0.0, 1.0, 25.0, 50.0, 95.0, 99.9, 100.0):
            k = int(np.floor((total - 1) * q / 100))
            at = _weighted_order_stat(v, w, k)
            for rank in sorted({k, min(k + 1, total - 1), 0, total - 1}):
                assert _bits(at(rank)) == _bits(ref(rank)), (len(v), q, rank)


def test_weighted_median_and_percentile_equal_numpy_of_the_values_repeated():
    rng = np.random.default_rng(21)
    for v, w in _cases(rng):
        rows = np.repeat(v, w)
        same = _bits if (v != 0).all() else float  # the sign of a zero is each sort's own
        assert same(_weighted_median(v, w)) == same(np.median(rows))
        for q in (5.0, 50.0, 95.0, 100.0):
            assert same(_weighted_percentile(v, w, q)) == same(np.percentile(rows, q))


def test_ranks_around_selects_only_where_it_can():
    rng = np.random.default_rng(5)
    v, w = rng.normal(size=50_000), rng.integers(1, 20, 50_000)
    total = int(w.sum())
    part = _ranks_around(v, w, total // 2)
    assert part is not None  # the fast path: a few values sorted, not all
    sub_v, sub_w, below = part
    assert len(sub_v) < len(v) // 4
    assert below <= total // 2 < total // 2 + 1 < below + int(sub_w.sum())
    assert int(w[v < sub_v.min()].sum()) == below
    assert _ranks_around(v[:100], w[:100], 50) is None  # few values: sorted at once
    assert _ranks_around(v, w.astype(float), total // 2) is None  # weights not integers
    assert _ranks_around(v, w, total - 1) is None  # the last rank has no rank after it
    nan = v.copy()
    nan[7] = np.nan
    assert _ranks_around(nan, w, total // 2) is None
    lop = np.ones(50_000, dtype=np.int64)
    lop[:10] = 10_000_000  # nearly every row at the ten lowest values (unsorted below)
    order = np.argsort(v)
    assert _ranks_around(v[order], lop, int(lop.sum()) // 2) is None


def _outliers_reference(x, y, fixed_km, weight=None):
    """:func:`ingest._outliers` as it was: numpy's medians of the rows, a KD-tree of every
    dense point for the isolated ones."""
    n = len(x)
    w = np.ones(n, dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    params = {
        "cell_m": OUTLIER_CELL_M,
        "min_incidents_3x3_cells": OUTLIER_MIN_INCIDENTS,
        "floor_km": OUTLIER_FLOOR_KM,
        "spread_factor": OUTLIER_SPREAD_FACTOR,
        "distance_km": None,
    }
    flag = np.zeros(n, dtype=bool)
    ix = np.floor(x / OUTLIER_CELL_M).astype(np.int64)
    iy = np.floor(y / OUTLIER_CELL_M).astype(np.int64)
    counts: dict[tuple[int, int], int] = {}
    for a, b, k in zip(ix.tolist(), iy.tolist(), w.tolist(), strict=True):
        counts[(a, b)] = counts.get((a, b), 0) + k
    total = np.array(
        [sum(counts.get((a + i, b + j), 0) for i in (-1, 0, 1) for j in (-1, 0, 1))
         for a, b in zip(ix.tolist(), iy.tolist(), strict=True)]
    )  # fmt: skip
    dense = total >= OUTLIER_MIN_INCIDENTS
    if not dense.any():
        return flag, params
    dx, dy, dw = x[dense], y[dense], w[dense]
    if fixed_km is not None:
        dist_m = fixed_km * 1000.0
    else:
        mx, my = np.median(np.repeat(dx, dw)), np.median(np.repeat(dy, dw))
        p95 = np.percentile(np.repeat(np.hypot(dx - mx, dy - my), dw), 95)
        dist_m = max(OUTLIER_FLOOR_KM * 1000.0, OUTLIER_SPREAD_FACTOR * p95)
    params["distance_km"] = round(dist_m / 1000.0, 3)
    iso = ~dense
    if iso.any():
        d, _ = cKDTree(np.column_stack([dx, dy])).query(np.column_stack([x[iso], y[iso]]), k=1)
        flag[iso] = d > dist_m
    # stacks (world13): a dense point alone in its 3 km square (its weight is the square's
    # total) is an outlier when farther than D from every other dense point
    stack = dense & (total == w)
    rest = dense & ~stack
    if stack.any() and rest.any():
        d, _ = cKDTree(np.column_stack([x[rest], y[rest]])).query(
            np.column_stack([x[stack], y[stack]]), k=1
        )
        flag[stack] = d > dist_m
    return flag, params


def _scene(rng: np.random.Generator, spread: float, lone: int, reach: float):
    """Distinct points: a dense body, ``lone`` isolated points up to ``reach`` m away."""
    body = rng.normal(0, spread, (3000, 2)).round(0)
    far = rng.uniform(-reach, reach, (lone, 2)).round(0)
    pts = np.unique(np.concatenate([body, far]), axis=0)
    return pts[:, 0].copy(), pts[:, 1].copy(), rng.integers(1, 6, len(pts))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("km", [None, 0.5, 3.0, 20.0, 1000.0])
@pytest.mark.parametrize("tree", [False, True])
def test_outliers_equal_the_kd_tree_of_every_dense_point(seed, km, tree, monkeypatch):
    if tree:  # the points no cell settles measured by the KD-tree, not one by one
        monkeypatch.setattr(ingest, "_BRUTE_PAIRS", 0)
    rng = np.random.default_rng(seed)
    scenes = [(2000, 5, 60_000), (20_000, 40, 400_000), (300, 1, 5_000),
              (5000, 300, 100_000), (800, 0, 1), (50_000, 12, 2_000_000)]  # fmt: skip
    spread, lone, reach = scenes[seed]
    x, y, w = _scene(rng, spread, lone, reach)
    flag, params, _ = _outliers(x, y, km, w)
    ref, ref_params = _outliers_reference(x, y, km, w)
    np.testing.assert_array_equal(flag, ref)
    assert params == ref_params
    one, params1, _ = _outliers(np.repeat(x, w), np.repeat(y, w), km)  # incidents one by one
    np.testing.assert_array_equal(one, np.repeat(flag, w))
    assert params1 == params


def test_outliers_edge_cases():
    for x, y in ([], []), ([5.0], [5.0]), ([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]):
        x, y = np.array(x, dtype=float), np.array(y, dtype=float)
        flag, params, _ = _outliers(x, y, None)
        ref, ref_params = _outliers_reference(x, y, None)
        np.testing.assert_array_equal(flag, ref)
        assert params == ref_params
    x = np.array([0.0] * 6 + [10_000.0, 500_000.0])  # a point at exactly D, one beyond
    y = np.zeros(8)
    flag, _, _ = _outliers(x, y, 10.0)
    ref, _ = _outliers_reference(x, y, 10.0)
    np.testing.assert_array_equal(flag, ref)
    assert flag.tolist() == [False] * 7 + [True]


def test_outliers_skip_the_kd_tree_when_cells_and_distances_settle_it(monkeypatch):
    """National data: every isolated point shares a cell of D / sqrt(2) with a dense one, or
    is one of a few measured against every dense point: no KD-tree is built."""
    rng = np.random.default_rng(9)
    x, y, w = _scene(rng, 2000, 30, 500_000)
    ref, _ = _outliers_reference(x, y, None, w)

    def no_tree(*args, **kwargs):
        raise AssertionError("a KD-tree was built")

    monkeypatch.setattr(ingest, "cKDTree", no_tree)
    flag, params, _ = _outliers(x, y, None, w)
    np.testing.assert_array_equal(flag, ref)
    far, _ = _outliers(x, y, 0.2, w)[:2]
    assert far.any()  # isolated points 200 m from the body: measured one by one


def test_beyond_leaves_distances_at_the_threshold_to_the_kd_tree(monkeypatch):
    core = np.array([[0.0, 0.0], [3.0, 4.0]])
    pts = np.array([[6.0, 8.0], [0.0, 20.0], [0.0, 1.0]])
    built = []
    real = ingest.cKDTree

    def tree(data):
        built.append(len(data))
        return real(data)

    monkeypatch.setattr(ingest, "cKDTree", tree)
    out = ingest._beyond(pts, core, 5.0)  # the first point is exactly 5 m from (3, 4)
    assert out.tolist() == [False, True, False]
    assert built == [2]  # only for the point at the threshold
    built.clear()
    many = np.zeros((ingest._BRUTE_PAIRS // len(core) + 1, 2))
    assert not ingest._beyond(many, core, 5.0).any()
    assert built == [2]  # many points: the KD-tree at once
    for odd in ([np.nan, 0.0], [np.inf, 0.0]):  # not numbers: the KD-tree's answer (an error)
        with pytest.raises(ValueError, match="must be finite"):
            real(core).query(np.array([odd]), k=1)
        with pytest.raises(ValueError, match="must be finite"):
            ingest._beyond(np.array([odd]), core, 5.0)


@pytest.mark.parametrize("seed", range(5))
def test_median_below_equals_numpy(seed):
    rng = np.random.default_rng(seed)
    for n in (1, 2, 3, 4, 10, 11, 1000, 1001):
        for values in (
            rng.normal(-30, 40, n),
            np.where(rng.random(n) < 0.5, -31.0, 2.0),
            np.full(n, -30.0),
            np.where(np.arange(n) < n // 2, -30.5, -29.5),  # half and half: the mean decides
            np.where(np.arange(n) < n // 2, -45.0, -10.0),
            np.where(np.arange(n) < n // 2, -30.0, -30.0 - 1e-13),
        ):
            assert _median_below(values, -30.0) == bool(np.median(values) < -30), (n, values[:4])
    nan = np.array([-50.0, np.nan, -40.0])
    assert _median_below(nan, -30.0) == bool(np.median(nan) < -30)


def test_median_below_counts_without_the_median(monkeypatch):
    def no_median(*args, **kwargs):
        raise AssertionError("the median was computed")

    monkeypatch.setattr(np, "median", no_median)
    assert _median_below(np.array([-100.0, -90.0, 5.0]), -30.0)
    assert not _median_below(np.array([-100.0, 4.0, 5.0, 6.0]), -30.0)


# ---- whole-row keys from lines: the delimiter read as the key's separator, no copy ----


def _fields_reference_keys(rows: list[list[str]]) -> np.ndarray:
    """The key of each row as defined: :func:`ingest._id_keys` of its fields joined by
    ``_KEY_SEP``, a line break after."""
    text = [ingest._KEY_SEP.join(r) + "\n" for r in rows]
    return ingest._id_keys(pa.array(text, type=pa.string()))


def _random_rows(rng: np.random.Generator, n: int, ncol: int) -> list[list[str]]:
    words = ["", "a", "On or near Park Road", "-2.98", "53.41", "é", "x" * 17, "2024-01"]
    rows = [[words[int(k)] for k in rng.integers(0, len(words), ncol)] for _ in range(n)]
    return rows + rows[: n // 3]  # copies


def _lines(rows: list[list[str]], delim: str, last: int) -> pa.Array:
    """The rows as lines (binary), a line break ending each but the ``last``."""
    return pa.array(
        [(delim.join(r) + ("" if i == last else "\n")).encode() for i, r in enumerate(rows)],
        type=pa.large_binary(),
    )


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_line_keys_are_the_keys_of_the_fields(delim):
    rng = np.random.default_rng(ord(delim))
    for ncol in (2, 3, 12):
        rows = _random_rows(rng, 200, ncol)
        ref = _fields_reference_keys(rows)
        for last in (len(rows) - 1, 0, 57, -1):  # the line without a break anywhere, or none
            keys = ingest._line_keys(_lines(rows, delim, last), delim)
            np.testing.assert_array_equal(keys, ref)
            table = pa.table({f"f{i}": [r[i] for r in rows] for i in range(ncol)})
            np.testing.assert_array_equal(ingest._joined_keys(ingest._joined(table)), ref)


def test_line_keys_of_a_slice_and_past_the_string_limit(monkeypatch):
    rng = np.random.default_rng(4)
    rows = _random_rows(rng, 50, 5)
    lines = _lines([["pad", "pad"], *rows], ",", len(rows)).slice(1)
    ref = _fields_reference_keys(rows)
    np.testing.assert_array_equal(ingest._line_keys(lines, ","), ref)
    monkeypatch.setattr(ingest, "_STRING_BYTES", 0)  # every length at once (_byte_keys)
    np.testing.assert_array_equal(ingest._line_keys(lines, ","), ref)
    np.testing.assert_array_equal(ingest._line_keys(_lines(rows, "|", 3), "|"), ref)


def test_joined_keys_of_fields_with_nuls_and_separators():
    rows = [["x\x00", "y"], ["x", "\x00y"], ["x\x00\x02", ""], ["a,b", "c"], ["a", "b,c"], ["", ""]]
    table = pa.table({"a": [r[0] for r in rows], "b": [r[1] for r in rows]})
    keys = ingest._joined_keys(ingest._joined(table))
    np.testing.assert_array_equal(keys, _fields_reference_keys(rows))
    assert keys[3] == keys[4]  # a comma in a field: the same key, compared field by field after


def test_byte_keys_equal_id_keys():
    rng = np.random.default_rng(8)
    values = ["".join(rng.choice(list("ab,é\x00"), int(k))) for k in rng.integers(0, 40, 500)]
    arr = pa.array(values, type=pa.string())
    np.testing.assert_array_equal(ingest._word_keys(arr), ingest._id_keys(arr))
    np.testing.assert_array_equal(ingest._word_keys(arr.slice(7, 300)), ingest._id_keys(arr)[7:307])
    assert ingest._word_keys(pa.array([], type=pa.string())).tolist() == []
    assert ingest._word_keys(pa.array(["", ""], type=pa.string())).tolist() == [0, 0]


def test_row_keys_read_lines_without_replacing_the_delimiter(monkeypatch):
    """A comma-separated police.uk file: its rows without an id are keyed from their lines
    as they are (no text replaced), and equal rows of a semicolon file get the same keys."""
    header = "Crime ID,Month,Longitude,Latitude,Location,Crime type"
    rows = [",2024-01,-2.98,53.41,On or near A,Anti-social behaviour",
            "ab12,2024-01,-2.97,53.40,On or near B,Robbery",
            ",2024-01,-2.98,53.41,On or near A,Anti-social behaviour",
            ",2024-01,-2.96,53.42,On or near C,Anti-social behaviour"]  # fmt: skip
    comma = ("\n".join([header, *rows])).encode()
    semi = comma.replace(b",", b";")
    replaced = []
    real = ingest.pc.replace_substring

    def spy(*args, **kwargs):
        replaced.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.pc, "replace_substring", spy)
    keys = []
    for name, data in (("a.csv", comma), ("b.csv", semi)):
        p = ingest._parse_file(name, data)
        assert p.line_text is not None
        f = ingest._validate_file(p, {}, "auto")
        keys.append(f.keys.bare_keys[np.unique(f.keys.bare[f.keys.bare >= 0])])
        assert f.keys.bare.tolist() == [0, -1, 0, 1]
    assert not replaced
    np.testing.assert_array_equal(keys[0], keys[1])
    inc = ingest.read_incidents([("a.csv", comma), ("b.csv", semi)], crime_types="all")
    note = next(n for n in inc.report.notes if "without an id are identical" in n)
    assert note.startswith("4 row(s)")  # one copy in a.csv, three in b.csv
