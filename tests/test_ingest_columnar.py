"""The columnar reader: Arrow and the csv module agree, filter_incidents on validated incidents,
and the real-world layouts (ISO timestamps in ``time``, hour columns, crime type names, unreadable
dates) that used to fail."""

from __future__ import annotations

import csv
import io
import pickle

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots import HotspotsWarning, InputError, ParameterError, TooFewPeriodsError
from hotspots.detect import detect
from hotspots.emerging import classify_hotspots
from hotspots.evaluate import split_by_month
from hotspots.incidents import DeferredRejected, Incidents, deferred_or_table, unique_points
from hotspots.ingest import (
    R_DATE,
    R_DUPLICATE,
    R_TYPE,
    _choose_crs,
    _distinct_points,
    _is_utf8,
    _Located,
    _merged_points,
    _parse_careful,
    _parse_fast,
    _parse_file,
    _text_keys,
    filter_incidents,
    read_file,
    read_incidents,
)

POLICE_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
TYPES = ("Violence and sexual offences", "Robbery", "Burglary", "Anti-social behaviour", "Drugs")


def police_file(n, *, seed=0, month="2024-01", lost=0.05):
    """n police.uk rows around Liverpool, fixed seed; some without a location."""
    rng = np.random.default_rng(seed)
    lines = [POLICE_HEADER]
    for i in range(n):
        t = TYPES[rng.integers(0, len(TYPES))]
        cid = "" if t == "Anti-social behaviour" else f"{seed:04d}{i:060x}"
        if rng.random() < lost:
            lon = lat = ""
        else:
            lon = f"{-2.98 + rng.normal(0, 0.01):.6f}"
            lat = f"{53.41 + rng.normal(0, 0.006):.6f}"
        lines.append(
            f"{cid},{month},Merseyside,Merseyside,{lon},{lat},On or near X{i % 7},E01,A,{t},,"
        )
    return ("\n".join(lines) + "\n").encode()


def rows_of(inc):
    rej = inc.report.rejected
    return sorted(
        zip(rej["source_file"], rej["source_row"].astype(int), rej["reason"], strict=True)
    )


# ------------------------------------------------------------------- Arrow and the csv module


_CELL = st.one_of(
    st.sampled_from(["", "a", "53.41", '"', '""', " ", "x y", "é", "a,b", "1\n2", "q\r\nr"]),
    st.text(alphabet='ab ,;"\n\r1', max_size=5),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(_CELL, min_size=1, max_size=4), max_size=8),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE]),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    tail=st.sampled_from(["", "\n", "\n\n", "\r\n"]),
)
def test_arrow_splits_fields_and_numbers_lines_as_the_csv_module(rows, quoting, eol, tail):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=eol, quoting=quoting, escapechar="\\")
    try:
        writer.writerow(["h1", "h2", "h3"])
        for r in rows:
            writer.writerow(r)
    except csv.Error:
        return
    text = buf.getvalue() + tail
    fast = _parse_fast(text.encode(), ",", ["h1", "h2", "h3"])
    if fast is None:  # the csv module reads this one
        return
    header, table, lines, malformed = _parse_careful(text, ",", "t.csv")
    f_table, f_lines, f_malformed, f_text = fast
    assert header == ["h1", "h2", "h3"]
    assert f_table.to_pydict() == table.rename_columns(["f0", "f1", "f2"]).to_pydict()
    assert f_lines.tolist() == lines.tolist()
    assert f_malformed == malformed
    if f_text is not None:  # each row's line (break dropped) is its fields joined by commas
        records, record_of = f_text
        said = [t.rstrip(b"\n").decode() for t in records.take(record_of).to_pylist()]
        cols = table.columns
        assert said == [",".join(c[i].as_py() for c in cols) for i in range(table.num_rows)]


def test_fast_path_numbers_lines_around_quoted_line_breaks_and_bad_rows():
    data = (
        "lat,lon,location\n"
        '53.41,-2.98,"a location\nover two lines"\n'  # lines 2-3
        "53.42,-2.97,ok\n"  # 4
        "53.43,-2.96,too,many\n"  # 5
    )
    p = _parse_file("m.csv", data.encode())
    assert p.parser == "arrow"
    assert p.lines.tolist() == [2, 4]
    assert p.malformed == [(5, ["53.43", "-2.96", "too", "many"])]
    data = "lat,lon\n53.41,-2.98\n53.42\n53.43,-2.96\n"
    p = _parse_file("b.csv", data.encode())
    assert (p.parser, p.lines.tolist(), p.malformed) == ("arrow", [2, 4], [(3, ["53.42"])])
    # a blank line inside the file: Arrow cannot say where, so the csv module reads the file
    p = _parse_file("c.csv", b"lat,lon\n53.41,-2.98\n\n53.43,-2.96\n")
    assert (p.parser, p.lines.tolist()) == ("csv", [2, 4])


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("\ufefflat,lon,place\n53.41,-2.98,Café\n".encode(), "utf-8-sig"),
        ("lat,lon,place\n53.41,-2.98,Café\n".encode("cp1252"), "cp1252"),
        ("lat\tlon\tplace\n53.41\t-2.98\tCafé\n".encode("utf-16"), "utf-16"),
    ],
)
def test_every_encoding_goes_through_arrow(data, encoding):
    p = _parse_file("e.csv", data)
    assert (p.parser, p.encoding, p.header) == ("arrow", encoding, ["lat", "lon", "place"])
    assert p.table.column("place").to_pylist() == ["Café"]


def test_a_police_uk_month_reads_like_the_csv_module_row_by_row():
    data = police_file(500, seed=3)
    inc = read_incidents(("2024-01.csv", data), crime_types="all", outlier_km=False)
    reader = list(csv.reader(io.StringIO(data.decode())))[1:]
    located = [i for i, r in enumerate(reader) if r[4]]
    assert inc.report.n_read == 500
    assert list(inc.frame["source_row"]) == [i + 2 for i in located]
    np.testing.assert_array_equal(inc.frame["lon"], [float(reader[i][4]) for i in located])
    assert list(inc.frame["crime_type"]) == [reader[i][9] for i in located]
    assert list(inc.frame["location"]) == [reader[i][6] for i in located]
    missing = inc.report.rejected
    assert set(missing["reason"]) == {"missing coordinates"}
    assert list(missing["Crime ID"]) == [r[0] for r in reader if not r[4]]


def test_unique_points_is_numpys_unique_rows():
    rng = np.random.default_rng(5)
    xy = np.round(rng.normal(400_000, 50, (5000, 2)))
    got = unique_points(xy, return_index=True, return_inverse=True, return_counts=True)
    want = np.unique(xy, axis=0, return_index=True, return_inverse=True, return_counts=True)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, np.ravel(b) if b.ndim == 2 and b.shape[1] == 1 else b)


# ---------------------------------------------------------------- validate once, filter often


def test_filter_incidents_on_validated_incidents_equals_one_read():
    files = [
        ("2024-01.csv", police_file(400, seed=1)),
        ("2024-02.csv", police_file(300, seed=2, month="2024-02")),
    ]
    once = read_incidents(files, crime_types="all")
    assert once.report.choices["filters"]["crime type not selected"] == 0
    for kwargs in (
        {"crime_types": "default"},
        {"crime_types": ["robbery", "drugs"]},
        {"crime_types": "all", "date_from": "2024-02-01"},
        {"crime_types": "default", "date_to": "2024-01-31"},
    ):
        direct = read_incidents(files, **kwargs)
        filtered = filter_incidents(once, **kwargs)
        pd.testing.assert_frame_equal(filtered.frame, direct.frame)
        assert rows_of(filtered) == rows_of(direct)
        assert filtered.report.reason_counts() == direct.report.reason_counts()
        assert filtered.report.n_read == direct.report.n_read == 700
        assert filtered.report.choices["filters"] == direct.report.choices["filters"]
        assert (
            filtered.report.choices["crime_types_kept"] == direct.report.choices["crime_types_kept"]
        )
        pd.testing.assert_frame_equal(filtered.report.rejected, direct.report.rejected)
        assert filtered.report.notes == direct.report.notes  # no note of the "all" read left
    # rows filtered out say where they are and what was not wanted; their raw fields stay blank
    # (only invalid rows carry them: the filter works on validated columns, not on the files)
    rej = read_incidents(files, date_from="2024-02-01").report.rejected
    by_type = rej[rej["reason"] == R_TYPE]
    assert by_type["detail"].str.fullmatch(r"crime type '.+' was not selected").all()
    assert (by_type["column"] == "Crime type").all() and (by_type["Crime ID"] == "").all()
    by_date = rej[rej["reason"] == "outside date range"]
    assert set(by_date["detail"]) == {"'2024-01' is outside 2024-02-01T00:00:00.."}
    assert (by_date["column"] == "Month").all()
    missing = rej[rej["reason"] == "missing coordinates"]
    assert (missing["Crime type"] != "").all()


def test_filter_counts_chaining_and_errors():
    inc = read_incidents(("a.csv", police_file(300, seed=4)), crime_types="all", outlier_km=False)
    n = len(inc)
    types = inc.frame["crime_type"]
    robbery = int((types == "Robbery").sum())
    violent = int(types.isin(["Robbery", "Violence and sexual offences"]).sum())
    step = filter_incidents(inc, crime_types=["Robbery", "Violence and sexual offences"])
    assert len(step) == violent
    assert step.report.choices["filters"] == {
        "rows_in": n, "rows_kept": violent, "outside study area polygon": 0,
        "crime type not selected": n - violent, "outside date range": 0,
    }  # fmt: skip
    again = filter_incidents(step, crime_types=["robbery"])
    assert len(again) == robbery
    assert again.report.reason_counts()["crime type not selected"] == n - robbery
    assert again.report.n_read == inc.report.n_read
    assert again.report.n_read == again.report.n_used + again.report.n_rejected
    assert sum(note.startswith("Filters:") for note in again.report.notes) == 1
    with pytest.warns(HotspotsWarning, match="murder"):
        kept = filter_incidents(inc, crime_types=["murder", "drugs"])
    assert set(kept.frame["crime_type"]) == {"Drugs"}
    with pytest.raises(InputError, match=r"outside date range: \d+") as err:
        filter_incidents(step, date_from="2030-01-01")
    assert "widen it" in str(err.value)
    with pytest.raises(ParameterError, match="date_from"):
        filter_incidents(inc, date_from="soon")
    with pytest.raises(InputError, match="Drugs"):
        filter_incidents(inc, harm_weights={"Robbery": 1.0})


def test_filtered_rows_listed_lazily_equal_the_eager_listing():
    """The rows a filter leaves out are listed only when ``report.rejected`` is read; counts come
    without the table; the table equals one built row by row from the validated incidents."""
    bad = (
        POLICE_HEADER
        + "\n"
        + ",2024-01,M,M,,,On or near Y,E01,A,Robbery,,\n"  # no location
        + "x1,2024-01,M,M,abc,53.41,On or near Y,E01,A,Drugs,,\n"  # not a number
        + "x2,2024-01,M,M,-2.98,53.41\n"  # too few fields
        + "x3,2024-13,M,M,-2.98,53.41,On or near Y,E01,A,Drugs,,\n"  # bad month
    ).encode()
    files = [
        ("2024-01.csv", police_file(500, seed=11)),
        ("2024-02.csv", police_file(400, seed=12, month="2024-02")),
        ("bad.csv", bad),
    ]
    once = read_incidents(files, crime_types="all", outlier_km=False, unreadable_dates="keep")
    box = shapely.box(-2.99, 53.40, -2.975, 53.42)
    args = {"crime_types": ["robbery", "drugs"], "date_from": "2024-02-01", "study_area": box}
    step = filter_incidents(once, **args)
    rep = step.report
    held = deferred_or_table(rep)
    assert isinstance(held, DeferredRejected)
    counts, n_rejected, summary = rep.reason_counts(), rep.n_rejected, rep.to_dict()
    assert isinstance(deferred_or_table(rep), DeferredRejected)  # still not built
    # the reference: every validated row not kept, first reason in the filters' order
    v = once.frame
    inside = shapely.intersects_xy(step.study_area, v["x"].to_numpy(), v["y"].to_numpy())
    chosen = v["crime_type"].isin(["Robbery", "Drugs"]).to_numpy()
    month = v["month"].to_numpy()
    dated = month >= np.datetime64("2024-02-01")
    expected = []
    for i in np.flatnonzero(~(inside & chosen & dated)):
        if not inside[i]:
            reason, column = "outside study area polygon", ""
            detail = f"the point ({v['lon'][i]}, {v['lat'][i]}) lies outside the study area given"
        elif not chosen[i]:
            reason, column = R_TYPE, "Crime type"
            detail = f"crime type '{v['crime_type'][i]}' was not selected"
        else:
            reason, column = "outside date range", "Month"
            when = "unknown" if np.isnat(month[i]) else pd.Timestamp(month[i]).strftime("%Y-%m")
            detail = (
                "the date is unknown, so outside 2024-02-01T00:00:00.."
                if np.isnat(month[i])
                else f"'{when}' is outside 2024-02-01T00:00:00.."
            )
        expected.append((v["source_file"][i], int(v["source_row"][i]), reason, column, detail))
    assert len(expected) > 500
    assert {e[2] for e in expected} == {"outside study area polygon", R_TYPE, "outside date range"}
    invalid = once.report.rejected
    table = rep.rejected  # built here
    assert not isinstance(deferred_or_table(rep), DeferredRejected)
    head = table.iloc[: len(invalid)].reset_index(drop=True)
    pd.testing.assert_frame_equal(head, invalid.reset_index(drop=True), check_dtype=False)
    tail = table.iloc[len(invalid) :]
    got = list(
        zip(tail["source_file"], tail["source_row"].astype(int), tail["reason"], tail["column"],
            tail["detail"], strict=True)
    )  # fmt: skip
    assert got == expected
    assert (tail[[c for c in invalid.columns if c not in tail.columns[:5]]] == "").all().all()
    # counts and summary as the built table says, most frequent first
    assert n_rejected == len(table) == len(invalid) + len(expected)
    assert counts == {str(k): int(c) for k, c in table["reason"].value_counts().items()}
    assert summary["rows_rejected"] == len(table)
    assert rep.n_read == rep.n_used + rep.n_rejected
    # a report that pickles (the app's cache) or a subset keeps the same listing
    again = pickle.loads(pickle.dumps(filter_incidents(once, **args)))
    assert isinstance(deferred_or_table(again.report), DeferredRejected)
    pd.testing.assert_frame_equal(again.report.rejected, table)
    part = filter_incidents(once, **args).subset(np.arange(len(step)) % 2 == 0)
    assert isinstance(deferred_or_table(part.report), DeferredRejected)
    pd.testing.assert_frame_equal(part.report.rejected, table)
    # a second filter lists the first's rows, then its own
    twice = filter_incidents(filter_incidents(once, **args), crime_types=["robbery"])
    both = twice.report.rejected
    pd.testing.assert_frame_equal(both.iloc[: len(table)], table)
    assert (both.iloc[len(table) :]["detail"] == "crime type 'Drugs' was not selected").all()
    assert twice.report.reason_counts() == {
        str(k): int(c) for k, c in both["reason"].value_counts().items()
    }


def rows_with_copies(width):
    """A police.uk file whose ids are ``width`` characters wide (or of many widths, for 0), with
    exact copies, rows sharing an id but not a field, and copies without an id."""
    base = police_file(300, seed=21).decode().splitlines()
    lines = [base[0]]
    for i, line in enumerate(base[1:]):
        cells = line.split(",")
        if cells[0]:
            cells[0] = f"{i:0{width}d}" if width else "9" * (1 + i % 5)
        lines.append(",".join(cells))
    lines += [lines[5], lines[5], lines[9]]  # exact copies (or copies without an id)
    other = lines[12].split(",")
    other[6] = "On or near Z"  # same id, another location: not a copy
    lines.append(",".join(other))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("width", [64, 7, 0])
def test_duplicates_found_by_id_keys_as_by_comparing_ids(width, monkeypatch):
    """Ids of one width are compared by 64-bit keys first; every key colliding (all zero) or ids
    of mixed widths (no keys) give the same rejections."""
    data = ("d.csv", rows_with_copies(width))
    fast = read_incidents(data, crime_types="all", outlier_km=False)
    import hotspots.ingest as ingest

    monkeypatch.setattr(ingest, "_text_keys", lambda arr: np.zeros(len(arr), dtype=np.uint64))
    colliding = read_incidents(data, crime_types="all", outlier_km=False)
    monkeypatch.setattr(ingest, "_text_keys", lambda arr: None)
    exact = read_incidents(data, crime_types="all", outlier_km=False)
    for inc in (fast, colliding):
        pd.testing.assert_frame_equal(inc.report.rejected, exact.report.rejected)
        pd.testing.assert_frame_equal(inc.frame, exact.frame)
        assert inc.report.notes == exact.report.notes
    dup = exact.report.rejected
    dup = dup[dup["reason"] == R_DUPLICATE]
    # ids repeat only in the copies of row 5's line (line 7: 2 copies); row 9's line may be
    # anti-social behaviour (no id: kept) or not (1 copy)
    line9_has_id = rows_with_copies(width).decode().splitlines()[9].split(",")[0] != ""
    assert len(dup) == 2 + line9_has_id
    keys = _text_keys(pa_strings(["ab", "cd", "ab", "ef"]))
    assert keys[0] == keys[2] and len(set(keys.tolist())) == 3
    assert _text_keys(pa_strings(["ab", "c"])) is None
    assert _text_keys(pa_strings(["x" * 13, "x" * 12 + "y"])).tolist()[0] != 0


def pa_strings(values):
    import pyarrow as pa

    return pa.array(values, type=pa.string())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0x41, 0x0A, 0x80, 0xBF, 0xC2, 0xC0, 0xE0, 0xED, 0xEF, 0xF0,
                                 0xF4, 0xF5, 0xA0, 0x9F, 0x90, 0x8F]), max_size=12))  # fmt: skip
def test_utf8_check_is_pythons(codes):
    data = bytes(codes)
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert _is_utf8(data) == valid


def test_a_long_utf8_file_with_one_cp1252_byte_at_the_end_is_cp1252():
    """Only the first lines are decoded before Arrow reads; the whole file is still checked."""
    body = police_file(12_000, seed=3)
    assert len(body) > 800_000
    good = body.replace(b"On or near X1,", "On or near Caf\u00e9,".encode())
    bad = good + b"x9,2024-01,M,M,-2.98,53.41,On or near Caf\xe9,E01,A,Drugs,,\n"
    p_good, p_bad = _parse_file("good.csv", good), _parse_file("bad.csv", bad)
    assert (p_good.encoding, p_good.parser, p_bad.encoding, p_bad.parser) == (
        "utf-8",
        "arrow",
        "utf-8 (with cp1252 bytes)",
        "arrow",
    )
    assert p_good.table.num_rows == 12_000 and p_bad.table.num_rows == 12_001
    # the UTF-8 text read as UTF-8, the one cp1252 byte as cp1252 (session 13: the whole file
    # was read as cp1252, and 'Café' in UTF-8 came out 'CafÃ©')
    assert "On or near Caf\u00e9" in set(p_good.table.column("Location").to_pylist())
    assert "On or near Caf\u00c3\u00a9" not in set(p_bad.table.column("Location").to_pylist())
    assert "On or near Caf\u00e9" in set(p_bad.table.column("Location").to_pylist()[:-1])
    assert p_bad.table.column("Location")[-1].as_py() == "On or near Caf\u00e9"


def test_distinct_points_merged_from_each_files_own_equal_one_pass_over_all_rows():
    """Each file finds its distinct points as it is read; merging them gives the codes and the
    order of first appearance of one factorization of every located row."""
    base = police_file(400, seed=30)
    files = [read_file(f"{m}.csv", base.replace(b"2024-01", f"2024-{m:02d}".encode()))
             for m in (1, 2, 3)]  # fmt: skip
    files[1].points = None  # a file read without them (its own factorization is made)
    offsets = np.cumsum([0] + [f.n for f in files[:-1]])
    located = np.concatenate([f.rejects.ok for f in files])
    vx = np.concatenate([f.vx for f in files])
    vy = np.concatenate([f.vy for f in files])
    codes, ux, uy = _merged_points(files, offsets, located, bng=False)
    want_codes, want_x, want_y = _distinct_points(vx[located], vy[located])
    np.testing.assert_array_equal(codes, want_codes)
    np.testing.assert_array_equal(ux, want_x)
    np.testing.assert_array_equal(uy, want_y)
    assert len(ux) < located.sum()  # points shared between rows and files
    none = _merged_points(files, offsets, located, bng=True)
    assert [len(a) for a in none] == [0, 0, 0]


def test_text_columns_are_strings_after_the_categorical_filter_step():
    """read_incidents filters a categorical frame and gives its text columns as strings, as
    filter_incidents on incidents already read does."""
    files = [("a.csv", police_file(300, seed=41)), ("b.csv", police_file(200, seed=42))]
    direct = read_incidents(files, crime_types=["robbery", "drugs"])
    later = filter_incidents(
        read_incidents(files, crime_types="all"), crime_types=["robbery", "drugs"]
    )
    for col in ("crime_type", "location", "source_file"):
        assert direct.frame[col].dtype == later.frame[col].dtype == pd.StringDtype(na_value=np.nan)
    pd.testing.assert_frame_equal(direct.frame, later.frame)
    assert set(direct.frame["source_file"]) == {"a.csv", "b.csv"}


def test_crs_chosen_from_distinct_points_as_from_every_row():
    """The medians of the distinct points, each repeated by its rows, are choose_crs's medians
    of the rows (same CRS, same sentence): snapped points, near the antimeridian, at 0."""
    from hotspots import crs as crs_mod

    rng = np.random.default_rng(5)
    for _ in range(200):
        k, n = int(rng.integers(1, 40)), int(rng.integers(1, 300))
        lon0 = rng.choice([-2.98, -87.6, 151.2, 179.9, -179.9, 0.0])
        lat0 = rng.choice([53.4, -33.9, 0.0, 51.5])
        plon = np.round(lon0 + rng.normal(0, rng.choice([0.001, 0.1, 2.0]), k), 4)
        plon = np.where(rng.random(k) < 0.9, np.clip(plon, -180, 180), plon)
        plat = np.round(lat0 + rng.normal(0, 0.05, k), 4)
        at = rng.integers(0, k, n)
        vx, vy = plon[at], plat[at]
        codes, ux, uy = _distinct_points(vx, vy)
        loc = _Located(vx, vy, np.zeros(n, bool), ux, uy, ux, uy, codes, crs_mod.BNG, "")
        got = _choose_crs(loc, np.ones(n, dtype=bool))
        want = crs_mod.choose_crs(vx, vy)
        assert got[1] == want[1] and got[0] == want[0]


def test_filter_study_area_and_harm_weights():
    inc = read_incidents(("a.csv", police_file(300, seed=6)), crime_types="all", outlier_km=False)
    box = shapely.box(-2.985, 53.405, -2.97, 53.42)
    kept = filter_incidents(inc, study_area=box, crime_types=["Robbery", "Drugs"],
                            harm_weights={"robbery": 365, "drugs": 2})  # fmt: skip
    inside = (inc.frame["lon"].between(-2.985, -2.97)) & (inc.frame["lat"].between(53.405, 53.42))
    chosen = inc.frame["crime_type"].isin(["Robbery", "Drugs"])
    assert len(kept) == int((inside & chosen).sum())
    assert kept.report.choices["filters"]["outside study area polygon"] == int((~inside).sum())
    assert kept.report.choices["study_area_rule"] == "given"
    assert kept.study_area.area == pytest.approx(
        kept.report.choices["study_area_km2"] * 1e6, rel=1e-3
    )
    assert set(kept.frame["weight"]) <= {365.0, 2.0}
    assert kept.has_weights
    assert sum(note.startswith("Study area:") for note in kept.report.notes) == 1


# ----------------------------------------------------------------- layouts that used to fail


def test_iso_timestamps_in_a_column_named_time():
    data = (
        "id,latitude,longitude,time,offence\n"
        "1,47.61,-122.33,2010-01-01T06:00:00Z,ASSAULT\n"
        "2,47.62,-122.34,2010-01-02T23:30:00Z,ROBBERY\n"
        "3,47.60,-122.32,2010-02-03T12:15:00+00:00,ASSAULT\n"
    )
    inc = read_incidents(("seattle.csv", data.encode()))
    assert inc.report.files[0].columns["datetime"] == "time"
    assert list(inc.frame["datetime"]) == [
        pd.Timestamp("2010-01-01 06:00"), pd.Timestamp("2010-01-02 23:30"),
        pd.Timestamp("2010-02-03 12:15"),
    ]  # fmt: skip
    assert inc.frame["has_time"].all()
    assert list(inc.frame["month"].dt.month) == [1, 1, 2]
    assert any("'time' holds dates with times" in n for n in inc.report.notes)
    # beside a date column, the full timestamp wins
    data = "lat,lon,date,time\n53.41,-2.98,2024-03-01,2024-03-01T21:45:00Z\n"
    inc = read_incidents(("both.csv", data.encode()))
    assert inc.frame["datetime"].iloc[0] == pd.Timestamp("2024-03-01 21:45")
    assert inc.report.files[0].columns.get("date") is None


def test_integer_hour_of_day_beside_a_date():
    data = (
        "lat,lon,occ_date,occ_hour,mci_category\n"
        "43.65,-79.38,2024-03-01,21,Assault\n"  # 2
        "43.65,-79.38,2024-03-02,0,Robbery\n"  # 3
        "43.65,-79.38,2024-03-03,,Assault\n"  # 4: no hour: a date only
        "43.65,-79.38,2024-03-04,7.0,Assault\n"  # 5
        "43.65,-79.38,2024-03-05,24,Assault\n"  # 6: not an hour
    )
    inc = read_incidents(("toronto.csv", data.encode()))
    cols = inc.report.files[0].columns
    assert (cols["hour"], cols["crime_type"]) == ("occ_hour", "mci_category")
    assert list(inc.frame["datetime"]) == [
        pd.Timestamp("2024-03-01 21:00"), pd.Timestamp("2024-03-02 00:00"),
        pd.Timestamp("2024-03-03"), pd.Timestamp("2024-03-04 07:00"),
    ]  # fmt: skip
    assert list(inc.frame["has_time"]) == [True, True, False, True]
    rej = inc.report.rejected.set_index("source_row")
    assert rej.loc[6, "reason"] == R_DATE
    assert rej.loc[6, "detail"] == "'24' is not an hour of the day (0-23)"
    # a column named time that holds only whole hours is read as the hour too
    data = "lat,lon,date,time\n53.41,-2.98,2024-03-01,5\n53.41,-2.98,2024-03-02,23\n"
    inc = read_incidents(("hours.csv", data.encode()))
    assert list(inc.frame["datetime"].dt.hour) == [5, 23]


@pytest.mark.parametrize(
    "header",
    ["MCI", "MCI_CATEGORY", "Offence Group", "Major Category", "Offence Subgroup",
     "Crime Category Description", "UCR_CATEGORY", "Text_General_Code", "Offense Class"],
)  # fmt: skip
def test_crime_type_columns_under_other_names(header):
    data = f"lat,lon,{header}\n53.41,-2.98,Assault\n53.42,-2.97,Theft\n"
    inc = read_incidents(("t.csv", data.encode()))
    assert inc.report.files[0].columns["crime_type"] == header
    assert list(inc.frame["crime_type"]) == ["Assault"]  # violence by name, by default


def test_crime_type_codes_and_ids_are_not_taken_for_types():
    data = "lat,lon,offence_code,crime_number\n53.41,-2.98,1A,7\n"
    inc = read_incidents(("t.csv", data.encode()))
    assert "crime_type" not in inc.report.files[0].columns


def test_a_date_column_this_reader_cannot_read_keeps_every_location():
    data = "lat,lon,date\n" + "".join(
        f"{53.41 + i * 1e-4:.5f},-2.98,Q{1 + i % 4} 2024\n" for i in range(20)
    )
    inc = read_incidents(("quarters.csv", data.encode()), outlier_km=False)
    assert len(inc) == 20
    assert inc.frame["month"].isna().all()
    assert inc.report.choices["unreadable_dates_kept"] == 20
    assert any("20 of 20 value(s) in 'date' could not be read (e.g. 'Q1 2024')" in n
               for n in inc.report.notes)  # fmt: skip
    # what needs no date still works; what needs dates says so
    hs = detect(inc, "kde").hotspots
    assert len(hs) >= 1 and (hs["temporal_class"] == "unknown").all()
    assert (hs["monthly_counts"].map(len) == 0).all()
    with pytest.raises(InputError, match="unparseable date: 20"):
        read_incidents(("quarters.csv", data.encode()), unreadable_dates="reject")
    with pytest.raises(InputError, match="outside date range"):
        read_incidents(("quarters.csv", data.encode()), date_from="2024-01-01")
    with pytest.raises(ParameterError, match="unreadable_dates"):
        read_incidents(("quarters.csv", data.encode()), unreadable_dates="maybe")


def test_stray_unreadable_dates_rejected_by_default_kept_on_request():
    data = "lat,lon,date\n53.41,-2.98,2024-01-05\n53.41,-2.98,not a date\n53.41,-2.98,2024-01-07\n"
    assert read_incidents(("d.csv", data.encode())).report.reason_counts() == {R_DATE: 1}
    kept = read_incidents(("d.csv", data.encode()), unreadable_dates="keep")
    assert len(kept) == 3 and kept.frame["month"].isna().sum() == 1
    assert kept.report.choices["unreadable_dates_kept"] == 1


def test_incidents_without_months_are_skipped_with_a_note_where_dates_matter():
    x = np.r_[np.random.default_rng(0).normal(0, 30, 200), 500.0] + 400_000
    y = np.r_[np.random.default_rng(1).normal(0, 30, 200), 500.0] + 300_000
    months = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", None] * 40 + [None]
    inc = Incidents.from_xy(x, y, month=months)
    train, test = split_by_month(inc, "2024-03")
    assert (len(train), len(test)) == (80, 80)
    assert "41 incident(s) without a month were left out" in train.report.notes[-1]
    assert test.report.notes[-1].startswith("Test period: 2024-03 on. 41 incident(s)")
    # four months are too few to class change over time, and the message says what was left out
    with pytest.raises(TooFewPeriodsError, match=r"41 incident\(s\) without a month were left out"):
        classify_hotspots(inc)


def test_a_windows_1252_byte_anywhere_makes_the_whole_file_windows_1252():
    body = "".join(f"{53.4 + i * 1e-6:.6f},-2.98,Street {i}\n" for i in range(60_000)).encode()
    assert len(body) > (1 << 20)
    header = b"lat,lon,place\n"
    p = _parse_file("utf8.csv", header + body + "53.5,-2.9,Café\n".encode())
    assert (p.parser, p.encoding, p.table.num_rows) == ("arrow", "utf-8", 60_001)
    assert p.table.column("place")[-1].as_py() == "Café"
    # a Windows-1252 byte after the first megabyte: the whole file is Windows-1252, as before
    p = _parse_file("cp1252.csv", header + body + b"53.5,-2.9,Caf\xe9\n")
    assert (p.encoding, p.table.column("place")[-1].as_py()) == ("cp1252", "Café")
    # ... also when it sits in a row Arrow sets aside (wrong number of fields)
    p = _parse_file("bad.csv", header + body + b"53.5,-2.9,Caf\xe9,extra\n")
    assert p.encoding == "cp1252"
    assert p.malformed == [(60_002, ["53.5", "-2.9", "Café", "extra"])]
