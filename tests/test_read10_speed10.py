"""Session 10's fast paths of hotspots.ingest pinned against the computations they replaced.

Each fast path must give the same result, to the last bit, as the general computation kept
here as the reference: on the values it takes (coordinates, blanks, long text) and on the ones
it must leave to the general path (missing-value tokens, whitespace, exponents, long numbers).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from hotspots import ingest
from hotspots.ingest import REASONS, _clean_arrow, _Located, _Rejects, _to_float


def _clean_reference(arr: pa.Array) -> pa.Array:
    """The four Arrow passes :func:`ingest._clean_arrow` makes of every array."""
    t = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.is_in(pc.utf8_upper(t), value_set=ingest._MISSING_ARROW), "", t)


CLEAN_CASES = [
    [],
    [""],
    ["", "", ""],
    ["-2.771630", "51.290969", ""],
    ["2024-01"],
    ["Criminal damage and arson", "On or near Park Road"],
    ["NA", "-2.771630"],
    ["n/a  ", "abcdef"],
    ["-", "--", "#N/A", "NIL", "none", "Null", "nan"],
    ["abcd", "abcde"],  # one byte either side of the longest token
    [" padded value", "value"],
    ["value ", "value"],
    ["\tvalue", "value\n"],
    ["\u00a0nbsp before", "after nbsp\u00a0"],
    ["\u3000ideographic", "ideographic\u3000"],
    ["caf\u00e9 au lait", "\u00e9cole primaire"],
    ["\x1cseparator", "separator\x1f"],
    ["12345", "  NULL  "],
]


@pytest.mark.parametrize("values", CLEAN_CASES)
def test_clean_arrow_matches_the_four_passes(values):
    arr = pa.array(values, type=pa.string())
    assert _clean_arrow(arr).to_pylist() == _clean_reference(arr).to_pylist()


@pytest.mark.parametrize("values", CLEAN_CASES)
def test_clean_arrow_on_a_slice(values):
    arr = pa.array(["  NA  ", *values, "\tx"], type=pa.string()).slice(1, len(values))
    assert _clean_arrow(arr).to_pylist() == _clean_reference(arr).to_pylist()


def test_clean_arrow_on_random_text():
    rng = np.random.default_rng(10)
    alphabet = list("aN/-#A 0.5\t") + ["\u00a0", "\u00e9"]
    for _ in range(200):
        values = [
            "".join(rng.choice(alphabet, size=int(rng.integers(0, 9))))
            for _ in range(int(rng.integers(1, 6)))
        ]
        arr = pa.array(values, type=pa.string())
        assert _clean_arrow(arr).to_pylist() == _clean_reference(arr).to_pylist(), values


def test_clean_arrow_keeps_nulls_to_the_general_path():
    arr = pa.array(["abcdef", None], type=pa.string())
    assert _clean_arrow(arr).to_pylist() == _clean_reference(arr).to_pylist()


def _float_reference(values: list[str], degrees: bool = True) -> np.ndarray:
    """:func:`_to_float` by its general path: text given as pandas strings never takes the
    short-decimals shortcut."""
    import pandas as pd

    return _to_float(pd.Series(values, dtype=object), degrees=degrees)


FLOAT_CASES = [
    ["-2.771630", "51.290969"],
    ["-2.771630", "", "51.290969", ""],
    [""],
    ["", ""],
    ["0", "-0", "0.0", "-0.0"],
    ["5.", ".5", "-.5", "-5"],
    ["123456789012345", "-12345678901234"],  # 15 bytes: read here
    ["1234567890123456"],  # 16 digits before the point: not a plain number
    ["12345678901234.5", "1.23456789012345678"],  # longer than 15 bytes: general path
    ["1e5", "-2.5E-3"],
    ["1.2.3", "-2.0"],
    ["-", "2.0"],
    ["--1", "1-2", "2-"],
    ["1/2", "3.0"],
    [".", "4.0"],
    ["12,5", "53.4"],
    ["+1.5", "2.5"],
    [" 1.5", "2.5"],
    ["nan", "inf", "-inf"],
    ["NaN", "1.0"],
    ["0x10", "16"],
]


@pytest.mark.parametrize("degrees", [True, False])
@pytest.mark.parametrize("values", FLOAT_CASES)
def test_to_float_matches_the_general_path_bit_for_bit(values, degrees):
    got = _to_float(pa.array(values, type=pa.string()), degrees=degrees)
    want = _float_reference(values, degrees)
    assert got.dtype == want.dtype == np.float64
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("values", FLOAT_CASES)
def test_to_float_on_a_slice(values):
    arr = pa.array(["x", *values, "9"], type=pa.string()).slice(1, len(values))
    got = _to_float(arr, degrees=True)
    assert got.tobytes() == _float_reference(values).tobytes()


def test_to_float_on_random_decimals():
    rng = np.random.default_rng(11)
    alphabet = list("0123456789.-") + ["e", "/", ""]
    for _ in range(300):
        values = [
            "".join(rng.choice(alphabet, size=int(rng.integers(0, 18))))
            for _ in range(int(rng.integers(1, 6)))
        ]
        got = _to_float(pa.array(values, type=pa.string()), degrees=True)
        assert got.tobytes() == _float_reference(values).tobytes(), values


def test_short_decimals_takes_only_plain_numbers():
    assert ingest._short_decimals(pa.array(["-2.77", ""], type=pa.string())) is not None
    for values in (["1e5"], ["1.2.3"], ["1234567890123456"], ["+1"], [" 1"], ["-"]):
        assert ingest._short_decimals(pa.array(values, type=pa.string())) is None, values
    assert ingest._short_decimals(pa.array([], type=pa.string())) is None
    assert ingest._short_decimals(pa.array(["1.5", None], type=pa.string())) is None


def _counts_reference(code: np.ndarray) -> dict[str, int]:
    vals, cnt = np.unique(code[code > 0], return_counts=True)
    return {REASONS[v - 1]: int(c) for v, c in zip(vals, cnt, strict=True)}


@pytest.mark.parametrize("n", [0, 1, 2, 17, 1000])
def test_reject_counts_match_a_sort(n):
    rng = np.random.default_rng(n)
    for high in (1, 2, len(REASONS) + 1):
        rej = _Rejects(n)
        rej.code = rng.integers(0, high, size=n).astype(np.int8)
        got = rej.counts()
        want = _counts_reference(rej.code)
        assert got == want
        assert list(got) == list(want)  # in the order of REASONS


def test_reject_counts_every_reason():
    rej = _Rejects(len(REASONS) + 1)
    rej.code = np.arange(len(REASONS) + 1, dtype=np.int8)[::-1].copy()
    assert rej.counts() == {r: 1 for r in REASONS}
    assert list(rej.counts()) == list(REASONS)


def _located(bng: np.ndarray) -> _Located:
    rng = np.random.default_rng(3)
    n = len(bng)
    vx, vy = rng.normal(size=n), rng.normal(size=n)
    pid = rng.integers(0, 4, size=n)
    plon, plat = rng.normal(size=4), rng.normal(size=4)
    return _Located(vx, vy, bng, plon, plat, plon, plat, pid, None, "")


@pytest.mark.parametrize(
    "bng", [np.zeros(0, bool), np.zeros(1, bool), np.zeros(9, bool), np.ones(9, bool),
            np.arange(9) % 2 == 0, np.arange(9) == 8],
)  # fmt: skip
def test_lonlat_matches_the_choice_per_row(bng):
    loc = _located(bng)
    for rows in (np.arange(len(bng)), np.arange(len(bng))[::-2], np.zeros(0, np.int64)):
        at = loc.pid[rows]
        want_lon = np.where(loc.bng[rows], loc.plon[at], loc.vx[rows])
        want_lat = np.where(loc.bng[rows], loc.plat[at], loc.vy[rows])
        lon, lat = loc.lonlat(rows)
        assert lon.dtype == want_lon.dtype and lon.tobytes() == want_lon.tobytes()
        assert lat.dtype == want_lat.dtype and lat.tobytes() == want_lat.tobytes()


def _cat_rows_reference(files, attr, masks, dtype):
    return np.concatenate(
        [np.asarray(getattr(f, attr))[m] for f, m in zip(files, masks, strict=True)]
    ).astype(dtype, copy=False)


def _files(arrays):
    from types import SimpleNamespace

    return [SimpleNamespace(value=a) for a in arrays]


CAT_CASES = [
    ([np.broadcast_to(1.0, 5)], float),
    ([np.broadcast_to(1.0, 5), np.broadcast_to(2.5, 3), np.broadcast_to(np.nan, 4)], float),
    ([np.broadcast_to(True, 2), np.broadcast_to(False, 7)], bool),
    (
        [
            np.broadcast_to(np.datetime64("2024-01", "ns"), 4),
            np.broadcast_to(np.datetime64("NaT"), 3),
        ],
        "datetime64[ns]",
    ),
    ([np.broadcast_to(np.datetime64("2024-01-02", "D"), 4)], "datetime64[ns]"),
    ([np.broadcast_to(1.0, 5), np.arange(4, dtype=float)], float),  # a value per row
    ([np.broadcast_to(1.0, 5), np.zeros(0)], float),  # a file without rows
    ([np.broadcast_to(np.int32(3), 5), np.broadcast_to(np.float64(0.5), 2)], float),
    ([np.broadcast_to(np.int32(3), 5), np.broadcast_to(np.int64(7), 2)], None),  # dtypes mixed
]


@pytest.mark.parametrize(("arrays", "dtype"), CAT_CASES)
def test_cat_rows_matches_the_masks(arrays, dtype):
    files = _files(arrays)
    rng = np.random.default_rng(len(arrays))
    for masks in (
        [rng.random(len(a)) < 0.5 for a in arrays],
        [np.zeros(len(a), bool) for a in arrays],
        [np.ones(len(a), bool) for a in arrays],
    ):
        want = _cat_rows_reference(files, "value", masks, dtype)
        got = ingest._cat_rows(files, "value", masks, dtype)
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()


def _first_seen_reference(column: pa.ChunkedArray, head: str) -> pa.Array:
    """:func:`ingest._first_seen` by hashing every value, as before the one-value shortcut."""
    if not column.length():
        return column.combine_chunks()
    enc = pc.dictionary_encode(column.combine_chunks())
    if pc.any(pc.equal(enc.dictionary, head)).as_py():
        return column.combine_chunks()
    return enc


SEEN_CASES = [
    ["2024-01"],
    ["2024-01"] * 5,
    ["2024-01"] * 4 + ["2024-02"],  # the same length, one value differs at the end
    ["2024-02"] + ["2024-01"] * 4,
    ["2024-01", "2024-1", "2024-01"],  # lengths differ
    ["ab", "ba", "ab"],
    ["aa", "aaaa"],  # the same bytes, not the same values
    ["aaaa", "aa", "aa"],
    [""] * 3,
    ["", "x"],
    ["Month"] * 3,  # the header's value is a row's
    ["Month", "2024-01"],
    ["caf\u00e9"] * 3,
]


@pytest.mark.parametrize("values", SEEN_CASES)
def test_first_seen_matches_dictionary_encode(values):
    for column in (
        pa.chunked_array([pa.array(values, pa.string())]),
        pa.chunked_array([pa.array(["Month", *values, "zz"], pa.string()).slice(1, len(values))]),
        pa.chunked_array([pa.array(values[:1], pa.string()), pa.array(values[1:], pa.string())]),
    ):
        got = ingest._first_seen(column, "Month")
        want = _first_seen_reference(column, "Month")
        assert got.type == want.type
        assert got.equals(want), (values, got, want)
        if pa.types.is_dictionary(got.type):
            assert got.dictionary.to_pylist() == want.dictionary.to_pylist()


def test_first_seen_of_no_rows():
    column = pa.chunked_array([pa.array([], pa.string())])
    assert ingest._first_seen(column, "Month").equals(_first_seen_reference(column, "Month"))


def test_one_value():
    def one(values):
        return ingest._one_value(pa.array(values, pa.string()))

    assert one(["a"]) and one(["ab"] * 9) and one([""] * 2)
    assert not one(["ab", "ac"]) and not one(["a", "aa"]) and not one(["aa", "a", "a"])
    assert not one([]) and not one(["a", None])


def _period_left_reference(frame, infos, used, choices, notes):
    """:func:`ingest._period_left` as it was: the kept rows copied out, np.mean of has_time."""
    import pandas as pd

    month = frame["month"].to_numpy(dtype="datetime64[ns]")
    blank_dates = int((used & np.isnat(month)).sum())
    if blank_dates and any(r in f.columns for f in infos for r in ("date", "datetime", "month")):
        notes.append(
            f"{blank_dates} used row(s) have no date; they count in maps but not in time profiles."
        )
    m = month[used]
    m = m[~np.isnat(m)]
    first = pd.Timestamp(m.min()).strftime("%Y-%m") if len(m) else None
    last = pd.Timestamp(m.max()).strftime("%Y-%m") if len(m) else None
    choices["date_range"] = {"first_month": first, "last_month": last}
    choices["time_of_day_known"] = round(float(frame["has_time"].to_numpy()[used].mean()), 4)
    if len(m):
        notes.append(
            f"Dates: {first} to {last}; time of day known for "
            f"{100 * choices['time_of_day_known']:.1f}% of incidents."
        )


MONTHS = np.array(
    ["1969-12", "1970-01", "2019-02", "2024-01", "2262-04", "NaT"], dtype="datetime64[ns]"
)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100])
def test_period_left_matches_the_rows_copied_out(n):
    import pandas as pd

    from hotspots.incidents import FileInfo

    rng = np.random.default_rng(n)
    infos = [FileInfo(name="a.csv", sha256="", n_rows=n, columns={"month": "Month"})]
    for _ in range(20):
        month = MONTHS[rng.integers(0, len(MONTHS), size=n)]
        has_time = rng.random(n) < rng.random()
        for kind in (bool, object):
            frame = pd.DataFrame({"month": month, "has_time": has_time.astype(kind)})
            used = rng.random(n) < 0.6
            used[rng.integers(0, n)] = True  # read_incidents asks only when a row is kept
            got: tuple[dict, list] = ({}, [])
            want: tuple[dict, list] = ({}, [])
            ingest._period_left(frame, infos, used, *got)
            _period_left_reference(frame, infos, used, *want)
            assert got == want
            assert type(got[0]["time_of_day_known"]) is type(want[0]["time_of_day_known"])


def test_period_left_all_undated():
    import pandas as pd

    frame = pd.DataFrame({"month": MONTHS[-1:].repeat(3), "has_time": [True, False, True]})
    used = np.array([True, True, False])
    got: tuple[dict, list] = ({}, [])
    want: tuple[dict, list] = ({}, [])
    ingest._period_left(frame, [], used, *got)
    _period_left_reference(frame, [], used, *want)
    assert got == want
    assert got[0]["date_range"] == {"first_month": None, "last_month": None}
