"""Ingest's fast paths pinned to its general ones: a rejected row's raw fields from its line
against a new parse of the file, repeated keys by buckets against pandas, the study area drawn
while the rows are filtered against waiting for it first."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely

import hotspots.ingest as ingest
from hotspots import HotspotsWarning
from hotspots.ingest import (
    R_DUPLICATE,
    R_OUTLIER,
    R_RANGE,
    _arrow_read,
    _coded_columns,
    _default_study_area,
    _distinct_points,
    _hull_candidates,
    _line_fields,
    _line_starts,
    _outliers,
    _parse_file,
    _repeated,
    _sniff_delimiter,
    _sorted_distinct,
    _text_of,
    _to_float,
    _validate,
    _validate_file,
    read_incidents,
)

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
TYPES = ("Violence and sexual offences", "Robbery", "Burglary", "Anti-social behaviour")


def month_file(month, n, *, seed, copies=(), far=False, delim=",", decimal=".", bom=False):
    """n police.uk rows of one month; ``copies``: rows repeating (with their id) a row of
    ``seed``'s other month; ``far``: one point 300 km away (an outlier)."""
    rng = np.random.default_rng(seed)
    lines = [HEADER.replace(",", delim)]

    def row(i, m, s):
        r = np.random.default_rng([s, i])
        t = TYPES[r.integers(0, len(TYPES))]
        cid = "" if t == "Anti-social behaviour" else f"{s:04d}{i:060x}"
        lon = f"{-2.98 + r.normal(0, 0.01):.6f}".replace(".", decimal)
        lat = f"{53.41 + r.normal(0, 0.006):.6f}".replace(".", decimal)
        fields = [cid, m, "Merseyside", "Merseyside", lon, lat, f"On or near X{i % 7}", "E01"]
        return delim.join([*fields, "A", t, "", ""])

    for i in range(n):
        lines.append(row(i, month, seed))
        if rng.random() < 0.05:
            lines.append(delim.join([""] * 4 + ["", ""] + ["No Location"] + [""] * 5))
    for i, m in copies:
        lines.append(row(i, m, seed))
    if far:
        lines.append(
            delim.join(["", month, "M", "M", "-1.5", "51.5", "Far", "", "", TYPES[3], "", ""])
        )
    data = ("\n".join(lines) + "\n").encode()
    return b"\xef\xbb\xbf" + data if bom else data


def whole(inc):
    """Everything read_incidents says: frame, rejected rows, counts, notes, choices, area."""
    rep = inc.report
    return (
        inc.frame,
        rep.rejected,
        (rep.n_read, rep.n_used, rep.reason_counts()),
        list(rep.notes),
        list(rep.choices.items()),
        inc.crs.to_wkt(),
        shapely.to_wkb(inc.study_area),
    )


def assert_same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    pd.testing.assert_frame_equal(a[1], b[1], check_exact=True)
    assert a[2:] == b[2:]


def hostile_set():
    """Two months whose rows repeat one another (with ids: duplicates), an outlier, and files
    the general path must read: a quoted field, a blank line, a malformed row, a BOM,
    semicolons with decimal commas."""
    jan = month_file("2024-01", 300, seed=1)
    feb = month_file("2024-02", 300, seed=1, copies=[(5, "2024-01"), (9, "2024-01")], far=True)
    quoted = month_file("2024-03", 200, seed=3).replace(b"On or near X3", b'"On or near X3, Y"')
    blank = month_file("2024-04", 200, seed=4).replace(b"\n", b"\n\n", 1)
    lines = month_file("2024-05", 200, seed=5, copies=[(4, "2024-05")]).split(b"\n")
    lines[7] += b",extra"
    malformed = b"\n".join(lines)
    bom = month_file("2024-06", 200, seed=6, copies=[(4, "2024-06")], bom=True)
    commas = month_file("2024-07", 200, seed=7, delim=";", decimal=",", copies=[(2, "2024-07")])
    return [
        ("jan.csv", jan), ("feb.csv", feb), ("quoted.csv", quoted), ("blank.csv", blank),
        ("malformed.csv", malformed), ("bom.csv", bom), ("commas.csv", commas),
    ]  # fmt: skip


@pytest.mark.parametrize("crime_types", ["default", "all"])
def test_rows_rejected_late_get_their_fields_from_their_lines_as_from_a_new_parse(
    crime_types, monkeypatch
):
    files = hostile_set()
    calls = []
    real = ingest._line_fields

    def spy(data, p, lines, delim):
        out = real(data, p, lines, delim)
        calls.append((p.name, out is not None))
        return out

    monkeypatch.setattr(ingest, "_line_fields", spy)
    fast = read_incidents(files, crime_types=crime_types)
    fast_all = whole(fast)
    used = {name for name, ok in calls if ok}
    # the duplicates of feb, malformed.csv's copy, the BOM's and the semicolons'; the outlier
    assert {"feb.csv", "malformed.csv", "bom.csv", "commas.csv"} <= used
    assert "quoted.csv" not in {name for name, _ in calls}  # a quote: the file is parsed again
    counts = fast.report.reason_counts()
    assert counts[R_DUPLICATE] == 4 and counts[R_OUTLIER] == 1
    rej = fast.report.rejected
    far = rej[rej["reason"] == R_OUTLIER]
    assert far[["Location", "Longitude", "Latitude", "Crime ID"]].values.tolist() == [
        ["Far", "-1.5", "51.5", ""]
    ]
    dup = rej[(rej["reason"] == R_DUPLICATE) & (rej["source_file"] == "commas.csv")]
    assert dup["Longitude"].str.contains(",").all()  # the raw text, decimal comma and all

    monkeypatch.setattr(ingest, "_line_fields", lambda *a: None)  # always parse again
    assert_same(fast_all, whole(read_incidents(files, crime_types=crime_types)))


def test_line_fields_refuse_lines_that_do_not_split_into_the_header():
    data = month_file("2024-01", 20, seed=2)
    p = _parse_file("a.csv", data)
    assert p.line_text is not None
    t = _line_fields(data, p, p.lines[[0, 3]], ",")
    assert t.column_names == p.header
    assert t.to_pylist() == p.table.take([0, 3]).to_pylist()
    changed = data.replace(b"On or near X3", b"On or near X3,more")
    assert _line_fields(changed, p, p.lines[:10], ",") is None
    assert _line_fields(data[:200], p, p.lines[-1:], ",") is None  # fewer lines than the row's


@pytest.mark.parametrize("n", [10, 70_000, 300_000])
def test_repeated_keys_by_buckets_equal_pandas_duplicated(n):
    rng = np.random.default_rng(n)
    keys = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    keys[rng.integers(0, n, n // 50)] = keys[rng.integers(0, n, n // 50)]
    keys[:5] = 0  # "no key" repeats
    keys[5:9] = np.uint64(2**63) + np.arange(4, dtype=np.uint64)  # one bucket, all distinct
    want = pd.Series(keys).duplicated(keep=False).to_numpy()
    got = _repeated(keys)
    np.testing.assert_array_equal(got, want)
    assert want[:5].all() and not want[5:9].any()


def test_study_area_drawn_while_filtering_says_the_same_in_the_same_order():
    files = hostile_set()[:2]
    inc = read_incidents(files)
    parsed = [_validate_file(_parse_file(name, data), {}, "auto") for name, data in files]
    v = _validate(parsed, None, None, False)  # waits for the study area before returning
    assert v.settle is None and v.study_area is not None
    assert shapely.to_wkb(inc.study_area) == shapely.to_wkb(v.study_area)
    keys = [k for k in inc.report.choices if k in v.choices]
    assert keys == list(v.choices)
    assert [n for n in inc.report.notes if n in v.notes] == v.notes
    assert inc.report.choices["study_area_km2"] == v.choices["study_area_km2"] > 0


def test_outliers_of_distinct_points_equal_those_of_the_incidents_one_by_one():
    """Distinct points with their incident counts (no np.unique: they are distinct) flag the
    same points as the incidents one by one (each place found once by np.unique)."""
    rng = np.random.default_rng(3)
    dense = rng.normal(0, 2000, (400, 2)).round(0)
    lone = np.array([[60_000.0, 0.0], [0.0, -45_000.0], [9000.0, 9000.0], [60_000.0, 800.0]])
    pts = np.concatenate([dense, lone])
    pts = pts[np.unique(pts, axis=0, return_index=True)[1]]
    count = rng.integers(1, 4, len(pts))
    rows = np.repeat(pts, count, axis=0)
    for km in (None, 5.0, 20.0, 100.0):
        flag, params, why = _outliers(pts[:, 0], pts[:, 1], km, count)
        one, params1, why1 = _outliers(rows[:, 0], rows[:, 1], km)
        np.testing.assert_array_equal(np.repeat(flag, count), one)
        assert (params, why) == (params1, why1)
    flag, params, _ = _outliers(pts[:, 0], pts[:, 1], 20.0, count)
    far = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
    assert flag.sum() == 3  # the three points more than 20 km from any dense point
    assert (far[flag][:, ~flag].min(axis=1) > 20_000).all()


def sniff_by_sample(text):
    """The delimiter chosen by sampling the first 60 lines (every candidate tried): what
    _sniff_delimiter does when the header holds more than one candidate."""
    lines = [ln for ln in text[:200_000].splitlines() if ln.strip()][:60]
    found = [d for d in (",", ";", "\t", "|") if lines and lines[0].count(d)]
    best, score = (found or [","])[0], (-1.0, -1)
    for d in found:
        rows = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=d) if r]
        body = rows[1:-1] or rows[1:]
        s = (float(np.mean([len(r) == len(rows[0]) for r in body])) if body else 1.0, len(rows[0]))
        if s > score:
            best, score = d, s
    return best


@pytest.mark.parametrize(
    "text",
    [
        "a,b,c\n1,2,3\n",
        "\n\n  \na;b;c\n1;2;3\n",
        "a\tb\n1\t2",
        "abc\n1\n",
        "a,b;c\n1,2;3\n4,5;6\n",
        "a|b,c\n1|2,3\n",
        "x" * 5000 + ",y\n1,2\n",
        "\r\n a b ;c\r\n1;2\r\n",
        "a,b\u2028c;d\n1,2\n",
    ],
)
def test_delimiter_of_a_one_candidate_header_is_the_sampled_choice(text):
    assert _sniff_delimiter(text) == sniff_by_sample(text)


def test_blank_cells_are_nan_without_pandas_and_other_text_as_before():
    arr = pa.array(["", "53,4", "1e3", "x", "", "-2.5", " 7"])
    got = _to_float(arr, degrees=True)
    np.testing.assert_array_equal(got, [np.nan, 53.4, 1000.0, np.nan, np.nan, -2.5, 7.0])
    assert np.isnan(_to_float(pa.array(["", ""]), degrees=False)).all()


@pytest.mark.parametrize("delim", ["\t", "|"])
def test_a_copy_on_the_last_line_without_a_line_break_gets_its_fields_from_its_line(
    delim, monkeypatch
):
    jan = month_file("2024-01", 120, seed=1, delim=delim)
    feb = month_file("2024-02", 120, seed=1, delim=delim, copies=[(9, "2024-01")])
    files = [("jan.csv", jan), ("feb.csv", feb.rstrip(b"\n"))]  # the copy is the last line
    calls = []
    real = ingest._line_fields

    def spy(*args):
        out = real(*args)
        calls.append((args[1].name, out is not None))
        return out

    monkeypatch.setattr(ingest, "_line_fields", spy)
    fast = whole(read_incidents(files, crime_types="all"))
    assert ("feb.csv", True) in calls
    dup = fast[1][fast[1]["reason"] == R_DUPLICATE]
    assert dup["source_file"].tolist() == ["feb.csv"]
    assert dup["Month"].tolist() == ["2024-01"] and dup["Context"].tolist() == [""]
    assert int(dup["source_row"].iloc[0]) == feb.rstrip(b"\n").count(b"\n") + 1
    monkeypatch.setattr(ingest, "_line_fields", lambda *a: None)
    assert_same(fast, whole(read_incidents(files, crime_types="all")))


def test_line_starts_from_field_lengths_are_the_line_breaks():
    """Each record's first byte, from Arrow's field lengths, is where the bytes' line breaks
    put it (the header's line first); None where an empty line or a record over two lines
    makes the lengths not add up."""
    data = month_file("2024-01", 50, seed=4).rstrip(b"\n")
    header = data.split(b"\n", 1)[0].decode().split(",")
    table, bad = _arrow_read(pa.py_buffer(data), ",", 12, threads=False,
                             coded=_coded_columns(header))  # fmt: skip
    assert not bad
    breaks = [i for i, b in enumerate(data) if b == 10]
    want = [0] + [i + 1 for i in breaks] + [len(data)]
    np.testing.assert_array_equal(_line_starts(table, len(data)), want)
    gap = data.replace(b"\n", b"\n\n", 1)  # one empty line: Arrow skips it
    table, _ = _arrow_read(pa.py_buffer(gap), ",", 12, threads=False)
    assert table.num_rows == len(breaks) + 1
    assert _line_starts(table, len(gap)) is None


@pytest.mark.parametrize("kind", ["normal", "grid", "circle", "line"])
def test_hull_candidates_keep_every_hull_point_and_the_same_study_area(kind, monkeypatch):
    """The points dropped lie strictly inside the hull (each one's removal leaves GEOS's hull
    as it was), and the study area from the rest is the one from every point."""
    rng = np.random.default_rng(7)
    n = 4000
    if kind == "normal":
        x, y = rng.normal(0, 800, n), rng.normal(0, 500, n)
    elif kind == "grid":  # many points tied on the extremes and on the octagon's edges
        x, y = rng.integers(0, 40, n) * 25.0, rng.integers(0, 30, n) * 25.0
    elif kind == "circle":  # every point on the hull
        a = rng.uniform(0, 2 * np.pi, n)
        x, y = 530_000 + 900 * np.cos(a), 180_000 + 900 * np.sin(a)
    else:
        t = rng.uniform(0, 1, n)
        x, y = 400_000 + 1000 * t, 300_000 + 500 * t
    keep = _hull_candidates(x, y)
    pts = shapely.points(x, y)
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
    if kind == "normal":
        assert keep.sum() < n // 20
    if kind in ("circle", "line"):
        assert keep.all()
    assert shapely.contains(hull, pts[~keep]).all()  # strictly inside, never on the boundary
    kept = shapely.convex_hull(shapely.multipoints(np.column_stack([x[keep], y[keep]])))
    assert shapely.equals(kept, hull)
    area, cell = _default_study_area(x, y)
    monkeypatch.setattr(ingest, "_hull_candidates", lambda x, y: np.ones(len(x), dtype=bool))
    every, cell_every = _default_study_area(x, y)  # the hull of every point
    assert shapely.to_wkb(area) == shapely.to_wkb(every) and cell == cell_every


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distinct_points_by_bit_keys_equal_the_complex_factorization(seed):
    """Codes in order of first appearance and the distinct points, signed zeros as the complex
    numbers make them (x + 1j * y turns -0.0 into 0.0 unless y is negative); NaN takes the
    complex path itself."""
    rng = np.random.default_rng(seed)
    n = 3000
    x, y = rng.normal(0, 1, n).round(1), rng.normal(0, 1, n).round(1)
    x[rng.random(n) < 0.1], y[rng.random(n) < 0.1] = -0.0, -0.0
    x[rng.random(n) < 0.1] = 0.0
    if seed == 2:
        x[7] = np.nan
    codes, ux, uy = _distinct_points(x, y)
    want, uniq = pd.factorize(x + 1j * y)
    uniq = np.asarray(uniq, dtype=complex)
    np.testing.assert_array_equal(codes, want)
    for got, ref in ((ux, uniq.real), (uy, uniq.imag)):
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))
    assert len(ux) == len({(a + 0.0, b + 0.0) for a, b in zip(x, y, strict=True)}) - (seed == 2)


def test_text_of_a_categorical_is_its_values_row_by_row():
    cats = pd.Index(["Robbery", "", "Anti-social behaviour"], dtype=str)
    column = pd.Series(pd.Categorical.from_codes([2, 0, 0, 1, 2], cats))
    got = _text_of(column)
    assert got.dtype == pd.Series(["x"]).astype(str).dtype
    assert got.tolist() == [
        "Anti-social behaviour",
        "Robbery",
        "Robbery",
        "",
        "Anti-social behaviour",
    ]
    plain = pd.Series(pd.Categorical.from_codes([1, 0], pd.Index(["a", "b"], dtype=object)))
    assert _text_of(plain).tolist() == ["b", "a"] and _text_of(plain).dtype == got.dtype


def test_points_projected_while_duplicates_are_found_are_rejected_before_them():
    """A point Lambert-93 cannot hold (latitude -90: infinite) is out of range before the
    duplicates are looked for, as when the projection came first: its copy with the same id is
    out of range too, not a duplicate; the other copy with an id is a duplicate."""
    row = "{id},2024-01,M,M,{lon},{lat},On or near X,E01,A,Robbery,,"
    rows = [row.format(id=f"{i:064x}", lon=-2.9 + i * 1e-3, lat=53.4) for i in range(1, 40)]
    jan = "\n".join([HEADER, *rows, row.format(id="f" * 64, lon="-2.95", lat="-90")])
    feb = "\n".join([HEADER, rows[3], row.format(id="f" * 64, lon="-2.95", lat="-90")])
    with pytest.warns(HotspotsWarning, match="lie outside it"):  # Lambert-93 is France's
        inc = read_incidents(
            [("jan.csv", jan.encode()), ("feb.csv", feb.encode())], crs="EPSG:2154",
            crime_types="all", outlier_km=False,
        )  # fmt: skip
    rep = inc.report
    assert rep.reason_counts() == {R_RANGE: 2, R_DUPLICATE: 1}
    rej = rep.rejected
    far = rej[rej["reason"] == R_RANGE]
    assert far[["source_file", "source_row"]].values.tolist() == [["jan.csv", 41], ["feb.csv", 3]]
    assert far["detail"].unique().tolist() == ["the point cannot be projected to the analysis CRS"]
    dup = rej[rej["reason"] == R_DUPLICATE]
    assert dup[["source_file", "source_row"]].values.tolist() == [["feb.csv", 2]]
    assert len(inc) == 39 and rep.n_read == 42


@pytest.mark.parametrize("n", [1, 7, 5000])
def test_sorted_distinct_codes_by_hashing_equal_numpy_unique(n):
    rng = np.random.default_rng(n)
    codes = (rng.integers(-40, 40, n) << 32) + rng.integers(0, 9, n)
    want, inverse = np.unique(codes, return_inverse=True)
    got, at = _sorted_distinct(codes)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(at, np.ravel(inverse))
    np.testing.assert_array_equal(got[at], codes)
