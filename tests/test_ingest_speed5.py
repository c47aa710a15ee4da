"""Session 8's ingest shortcuts, each against what it replaces: keys of many lengths in one
pass, text encoded once Arrow has read it, one force named without hashing every row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import hotspots.ingest as ingest
from hotspots.ingest import _first_seen, _forces, _id_keys, _parse_file, _to_float, _word_keys

MIX = 0x9E3779B97F4A7C15
LENGTH_MIX = 0xC2B2AE3D27D4EB4F


def reference_key(s: str) -> int:
    """The key of one string, by hand: its UTF-8 bytes padded with zero bytes to whole 8-byte
    little-endian words w_0..w_{n-1}, sum of w_j * MIX**(n-1-j) mod 2**64, XOR its length in
    bytes times LENGTH_MIX (mod 2**64); 0 for the empty string."""
    b = s.encode()
    if not b:
        return 0
    b += b"\0" * (-len(b) % 8)
    words = [int.from_bytes(b[i : i + 8], "little") for i in range(0, len(b), 8)]
    key = 0
    for w in words:
        key = (key * MIX + w) % 2**64
    return key ^ (len(s.encode()) * LENGTH_MIX % 2**64)


def test_reference_key_by_hand():
    # "ab": one word, 0x6261 = 25185; its length 2
    assert reference_key("ab") == 25185 ^ (2 * LENGTH_MIX % 2**64)
    # nine bytes: the words "abcdefgh" and "i" (0x69 = 105)
    first = int.from_bytes(b"abcdefgh", "little")
    assert reference_key("abcdefghi") == ((first * MIX + 105) % 2**64) ^ (9 * LENGTH_MIX % 2**64)


def test_word_keys_are_the_keys_of_each_length():
    """One pass over every word gives each string the key the pass per length gives it (and the
    hand-made one), whatever the lengths, bytes, empty strings and the array's offset."""
    rng = np.random.default_rng(5)
    for trial in range(60):
        n = int(rng.integers(1, 200))
        strings = [
            "".join(chr(int(c)) for c in rng.integers(32, 127, int(rng.integers(0, 45))))
            for _ in range(n)
        ]
        if trial % 3 == 0:
            strings = [s + "é\x00" for s in strings]  # multi-byte characters and NULs
        arr = pa.array(strings, type=pa.string())
        if trial % 4 == 0:
            arr = arr.slice(int(rng.integers(0, n)))
        got = _word_keys(arr)
        assert got.tolist() == [reference_key(s) for s in arr.to_pylist()]
        assert got.tolist() == _id_keys(arr).tolist()
    assert _word_keys(pa.array(["", ""])).tolist() == [0, 0]


def test_id_keys_of_many_lengths_take_the_one_pass(monkeypatch):
    """_id_keys of many lengths with few strings each (whole rows without an id) takes the
    one-pass path, with the hand-made keys; equal strings get equal keys."""
    calls = []
    monkeypatch.setattr(ingest, "_word_keys", lambda a: calls.append(len(a)) or _word_keys(a))
    strings = ["x" * k + "," * (k % 3) for k in range(1, 40)] * 2
    keys = _id_keys(pa.array(strings)).tolist()
    assert calls == [78]
    assert keys == [reference_key(s) for s in strings]
    assert keys[:39] == keys[39:]
    assert len(set(keys[:39])) == 39


def test_first_seen_is_dictionary_encode_of_the_rows():
    """A chunked column without its header line: one dictionary array, values in order of first
    appearance over the chunks; plain text where a row holds the header's value."""
    column = pa.chunked_array([["b", "a"], [], ["b", "c", "a"]], type=pa.string())
    got = _first_seen(column, "head")
    assert pa.types.is_dictionary(got.type)
    assert got.dictionary.to_pylist() == ["b", "a", "c"]
    assert got.indices.to_pylist() == [0, 1, 0, 2, 1]
    ref = pc.dictionary_encode(column.combine_chunks())
    assert got.dictionary.equals(ref.dictionary) and got.indices.equals(ref.indices)
    plain = _first_seen(column, "c")
    assert plain.type == pa.string() and plain.to_pylist() == ["b", "a", "b", "c", "a"]
    empty = _first_seen(pa.chunked_array([[]], type=pa.string()), "h")
    assert len(empty) == 0


@pytest.mark.parametrize(
    ("values", "want"),
    [
        (["Kent Police", "Kent Police", "Kent Police"], ["Kent Police"]),
        (["Kent Police", " Essex Police", "Kent Police", ""], ["Essex Police", "Kent Police"]),
    ],
)
def test_forces_of_one_or_several_values(values, want):
    lines = ["Falls within,Longitude,Latitude"] + [f"{v},-0.1,51.5" for v in values]
    p = _parse_file("a.csv", ("\n".join(lines) + "\n").encode())
    assert _forces(p) == want


def test_to_float_of_plain_numbers_and_blanks_is_one_cast(monkeypatch):
    """A column of plain numbers and blanks (coordinates) is read by one cast; the values are
    pandas.to_numeric's, blanks NaN, as the general path reads them when one value is not
    plain."""
    values = ["-2.9871", "", "53.40", ".5", "1e3", "-0", "7"]
    want = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
    filtered = []
    real_filter = ingest.pc.filter
    monkeypatch.setattr(
        ingest.pc, "filter", lambda *a, **k: filtered.append(1) or real_filter(*a, **k)
    )
    got = _to_float(pa.array(values), degrees=True)
    assert not filtered  # the one-cast path
    np.testing.assert_array_equal(got, want)
    assert got.flags.writeable
    general = _to_float(pa.array([*values, "53,4"]), degrees=True)
    assert filtered  # a decimal comma takes the general path
    np.testing.assert_array_equal(general, [*want, 53.4])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(general[:-1]))  # "-0" is -0.0
