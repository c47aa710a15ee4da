"""read_incidents drops each file's text once checked: the rows listed later (duplicates,
outliers) come from the file parsed again, and every result equals reading with the text kept
(:func:`hotspots.ingest.read_file` + :func:`hotspots.ingest.combine_files`)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import hotspots.ingest as ingest
from hotspots import InputError
from hotspots.ingest import (
    R_DUPLICATE,
    R_MISSING,
    R_OUTLIER,
    _id_keys,
    _joined,
    _parse_file,
    combine_files,
    list_sources,
    read_file,
    read_files,
    read_incidents,
)

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


def month_file(month, *, seed=0, quoted=False):
    """60 police.uk rows round Liverpool: ids on most, copies with and without an id, one row
    without coordinates and one 300 km away (an outlier)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(60):
        asb = i % 4 == 0
        cid = "" if asb else f"{seed:02d}{i:062x}"
        lon, lat = -2.98 + rng.normal(0, 0.004), 53.41 + rng.normal(0, 0.003)
        place = f'"On or near X{i % 5}, Y"' if quoted else f"On or near X{i % 5}"
        kind = "Anti-social behaviour" if asb else "Violence and sexual offences"
        rows.append(
            f"{cid},{month},Merseyside,Merseyside,{lon:.6f},{lat:.6f},{place},E01,A,{kind},,"
        )
    rows += [rows[1], rows[1], rows[4], rows[4], rows[8]]  # copies with and without an id
    rows.append(f"ffff,{month},Merseyside,Merseyside,,,No Location,,,Robbery,,")
    rows.append(f"eeee,{month},Merseyside,Merseyside,0.5,51.0,On or near Far,E01,A,Robbery,,")
    return ("\n".join([HEADER, *rows]) + "\n").encode()


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "2024-01.csv").write_bytes(month_file("2024-01", seed=1))
    (tmp_path / "2024-02.csv").write_bytes(month_file("2024-02", seed=2, quoted=True))
    (tmp_path / "2024-03.csv").write_bytes(month_file("2024-01", seed=1))  # a copy of the first
    return tmp_path


@pytest.mark.parametrize("crime_types", ["all", "default"])
def test_lean_read_equals_the_read_keeping_every_file_text(folder, crime_types):
    lean = read_incidents(folder, crime_types=crime_types)
    parts = [read_file(name, load) for name, load in list_sources(folder)]
    assert all(p.kept is None and p.parsed.table.num_rows for p in parts)  # the text kept
    full = combine_files(parts, crime_types=crime_types)
    pd.testing.assert_frame_equal(lean.frame, full.frame)
    pd.testing.assert_frame_equal(lean.report.rejected, full.report.rejected)
    assert lean.report.to_dict() == full.report.to_dict()
    rej = lean.report.rejected
    counts = rej["reason"].value_counts().to_dict()
    # per file: 2 copies of row 1 (with an id); the copy of the first file repeats its 45 rows
    # with an id, the 2 copies and eeee (its ffff has no coordinates: that reason comes first),
    # and its 18 rows without an id (15 and 3 copies: a byte-identical file's rows are copies)
    assert counts[R_DUPLICATE] == 2 + 2 + (45 + 2 + 1) + 18
    assert counts[R_MISSING] == 3
    assert counts[R_OUTLIER] == 2  # eeee in the first two files, 300 km from the rest
    far = rej[rej["reason"] == R_OUTLIER]
    # the outlier's raw fields, from the file parsed again
    assert far["Location"].tolist() == ["On or near Far"] * 2
    assert far["Crime ID"].tolist() == ["eeee"] * 2
    quoted = rej[(rej["source_file"] == "2024-02.csv") & (rej["reason"] == R_DUPLICATE)]
    assert set(quoted["Location"]) == {"On or near X1, Y"}


def test_copies_without_an_id_counted_across_files_whatever_their_quoting(tmp_path):
    """Rows without an id equal field by field are counted alike from a file's lines (no
    quotes) and from its parsed fields (quotes): the same count as comparing fields."""
    plain = month_file("2024-01", seed=1)
    quoted = plain.replace(b"On or near X0", b'"On or near X0"')
    (tmp_path / "a.csv").write_bytes(plain)
    (tmp_path / "b.csv").write_bytes(quoted)
    inc = read_incidents(tmp_path, crime_types="all", outlier_km=False)
    note = next(n for n in inc.report.notes if "without an id are identical" in n)
    # a.csv: 15 rows without an id, then row 4 twice and row 8 once more (3 copies); b.csv:
    # the same 18 rows, with quotes round some of their locations
    assert note.startswith("21 row(s)")


def test_a_file_changed_while_read_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "a.csv"
    path.write_bytes(month_file("2024-01"))
    locate = ingest._locate

    def changed(*args, **kwargs):
        path.write_bytes(month_file("2024-01").replace(b"On or near Far", b"On or near Far!"))
        return locate(*args, **kwargs)

    monkeypatch.setattr(ingest, "_locate", changed)
    with pytest.raises(InputError, match="changed while it was being read"):
        read_incidents(path, crime_types="all")


def test_id_keys_equal_for_equal_strings_of_any_length():
    values = ["ab", "abc", "", "ab", "x" * 64, "abc", "x" * 63 + "y", "x" * 64]
    keys = _id_keys(pa.array(values, type=pa.string())).tolist()
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if a == b:
                assert keys[i] == keys[j]
    assert len({keys[i] for i in (0, 1, 4, 6)}) == 4  # different strings, different keys here
    # a string's key does not depend on the lengths of the others
    assert _id_keys(pa.array(["ab"])).tolist() == keys[:1]


def test_joined_rows_differ_whenever_a_field_does():
    table = pa.table({"a": ["x\x00", "x", "x", "x\x00\x02"], "b": ["y", "\x00y", "\x00\x02y", ""]})
    joined = _joined(table).to_pylist()
    assert len(set(joined)) == 4


def test_columns_arrow_encodes_are_as_dictionary_encode_makes_them():
    """The role columns come from Arrow dictionary-encoded, values in order of first appearance
    (the header line's own value left out), or as text where a row holds the header's value."""
    rows = [HEADER, *month_file("2024-01").decode().splitlines()[1:5]]
    odd = "x1,Month,M,M,Longitude,53.4,Location,E01,A,Crime type,,"
    roles = ["Month", "Longitude", "Latitude", "Location", "Crime type"]
    for lines, coded in ((rows, roles), ([*rows, odd], ["Latitude"])):
        p = _parse_file("a.csv", ("\n".join(lines) + "\n").encode())
        assert [h for h in p.header if pa.types.is_dictionary(p.table.column(h).type)] == coded
        for name in p.header:
            column = p.table.column(name)
            text = column.cast(pa.string()).combine_chunks()
            assert text.to_pylist() == [r.split(",")[p.header.index(name)] for r in lines[1:]]
            if name in coded:
                ref = pc.dictionary_encode(text)
                assert column.chunk(0).dictionary.equals(ref.dictionary)
                assert column.chunk(0).indices.equals(ref.indices)


def _same(a, b):
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    pd.testing.assert_frame_equal(a.report.rejected, b.report.rejected, check_exact=True)
    assert a.report.to_dict() == b.report.to_dict()
    assert a.study_area.equals(b.study_area)


def test_files_read_without_their_text_combine_as_with_it(folder):
    """read_files(..., keep_text=False) (what problem.read_by_force reads with) keeps only the
    raw fields of the rows each file rejects itself, and combines, again and in another
    process, to what the files read with their text give."""
    items = list_sources(folder)
    full = read_files(items)
    lean = read_files(items, keep_text=False)
    assert all(f.kept is None and f.parsed.table.num_rows == 67 for f in full)
    assert all(f.kept is not None and f.parsed.table.num_rows == 0 for f in lean)
    assert [f.kept.rows.tolist() for f in lean] == [[65]] * 3  # the row without coordinates
    first = combine_files(lean, crime_types="all")
    _same(first, combine_files(full, crime_types="all"))
    _same(first, combine_files(lean, crime_types="all"))  # combined again, the same
    # sent to another process: the loaders pickle, and read the files there again
    _same(first, combine_files(pickle.loads(pickle.dumps(lean)), crime_types="all"))
    _same(first, read_incidents(folder, crime_types="all"))
    far = first.report.rejected.query(f"reason == '{R_OUTLIER}'")
    assert far["Location"].tolist() == ["On or near Far"] * 2  # from the files read again
    assert far["source_row"].tolist() == [68, 68]  # header, 60 rows, 5 copies, ffff, eeee
    # one file's rows on their own (a force's files in read_by_force): as reading it alone
    alone = read_incidents(folder / "2024-02.csv", crime_types="all")
    _same(combine_files(lean[1:2], crime_types="all"), alone)


def test_read_file_without_its_text_from_bytes_and_loaders(folder):
    name, load = list_sources(folder)[0]
    want = combine_files([read_file(name, load)], crime_types="all")
    for data in (load(), load):
        lean = read_file(name, data, keep_text=False)
        assert lean.parsed.table.num_rows == 0
        _same(combine_files([lean], crime_types="all"), want)
    assert (want.report.rejected["reason"] == R_OUTLIER).sum() == 1
    path = folder / name
    lean = read_file(name, load, keep_text=False)
    path.write_bytes(month_file("2024-01", seed=7))
    with pytest.raises(InputError, match="changed while it was being read"):
        combine_files([lean], crime_types="all")  # the outlier's fields are read again
