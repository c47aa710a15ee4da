"""Files built to break the reader (session 13): each case once failed, crashed or misread."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError
from hotspots import ingest as ingest_mod
from hotspots.ingest import read_incidents, read_text
from hotspots.sources import EMPTY_FILE

POLICE_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


def police_lines(n: int, prefix: str = "id") -> list[str]:
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        lon, lat = -2.98 + rng.random() * 0.02, 53.40 + rng.random() * 0.02
        force = "Merseyside Police"
        out.append(
            f"{prefix}{i},2024-01,{force},{force},{lon:.6f},{lat:.6f},On or near Foo Street,"
            "E01,Liverpool 001A,Burglary,Under investigation,"
        )
    return out


def police_bytes(n: int = 30, prefix: str = "id") -> bytes:
    return ("\n".join([POLICE_HEADER, *police_lines(n, prefix)]) + "\n").encode()


def latlon_lines(n: int, date: str = "2024-01-02") -> list[str]:
    return [f"{date},53.{4000 + i},-2.{9800 + i},Burglary" for i in range(n)]


def accounted(inc):
    """Every data row used, filtered or rejected, each rejection with its file and line."""
    r = inc.report
    assert r.n_read == r.n_used + r.n_rejected  # the filtered rows are among the rejected
    assert r.n_filtered <= r.n_rejected
    assert r.n_used == len(inc.frame)
    rej = r.rejected
    if len(rej):
        assert (rej["source_file"] != "").all()
        assert (rej["source_row"] >= 2).all()
        assert (rej["detail"] != "").all()
    return r


# ----------------------------------------------------------------------------------- NUL bytes


def test_a_few_nul_bytes_reject_only_their_rows():
    lines = police_bytes(40).split(b"\n")
    lines[5] = lines[5].replace(b"Foo", b"F\x00oo")  # line 6: Location
    lines[20] = lines[20].replace(b"-2.9", b"-2\x00.9", 1)  # line 21: Longitude
    inc = read_incidents(("damaged.csv", b"\n".join(lines)), crime_types="all")
    r = accounted(inc)
    assert r.n_read == 40 and r.n_used == 38
    rej = r.rejected.set_index("source_row")
    assert list(rej.index) == [6, 21]
    assert list(rej["column"]) == ["Location", "Longitude"]
    assert (rej["reason"] == "malformed row").all()
    assert rej["detail"].str.contains("NUL bytes").all()
    assert any("hold NUL bytes" in n for n in r.notes)


def test_nul_bytes_everywhere_or_in_the_header_still_refuse_the_file():
    good = police_bytes(40)
    every_line = good.replace(b"\n", b"\x00\n")
    with pytest.raises(InputError, match="binary data"):
        read_incidents(("every.csv", every_line))
    header = good.replace(b"Crime ID", b"Crime\x00ID", 1)
    with pytest.raises(InputError, match="binary data"):
        read_incidents(("header.csv", header))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    with pytest.raises(InputError, match="binary data"):
        read_incidents(("image.csv", png))


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_names_the_fix(codec):
    data = police_bytes(10).decode().encode(codec)
    with pytest.raises(InputError, match="UTF-16 text without a byte-order mark") as err:
        read_incidents(("export.csv", data))
    assert err.value.file == "export.csv" and "UTF-8" in (err.value.hint or "")


# --------------------------------------------------------------------------------------- dates


def test_dates_outside_the_nanosecond_range_are_unreadable_not_wrapped():
    rows = latlon_lines(20)
    rows[2] = "0001-01-01" + rows[2][10:]
    rows[3] = "9999-12-31" + rows[3][10:]
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    inc = read_incidents(data, crime_types="all")
    r = accounted(inc)
    dates = pd.to_datetime(inc.frame["datetime"]).dropna()
    assert dates.min() >= pd.Timestamp("2024-01-01")  # year 1 once became 1754
    assert set(r.rejected["source_row"]) == {4, 5}
    assert (r.rejected["reason"] == "unparseable date").all()


def test_to_ns_matches_plain_cast_inside_the_range_and_nat_outside():
    us = np.array(["0001-01-01", "1677-09-22", "2024-02-29T13:45", "2262-04-10", "9999-12-31",
                   "NaT"], dtype="datetime64[us]")  # fmt: skip
    got = ingest_mod._to_ns(us)
    assert got.dtype == np.dtype("datetime64[ns]")
    assert np.isnat(got).tolist() == [True, False, False, False, True, True]
    assert (got[1:4] == us[1:4].astype("datetime64[ns]")).all()
    assert len(ingest_mod._to_ns(np.array([], dtype="datetime64[s]"))) == 0


@pytest.mark.parametrize(
    ("text", "expected", "timed"),
    [
        ("2024-03-05 1:15 PM", "2024-03-05 13:15", True),
        ("2024-03-05 12:15:30 AM", "2024-03-05 00:15:30", True),
        ("5 March 2024", "2024-03-05", False),
        ("05-Mar-2024", "2024-03-05", False),
        ("March 5, 2024", "2024-03-05", False),
    ],
)
def test_twelve_hour_times_after_iso_dates_and_month_names(text, expected, timed):
    data = ("Date,Latitude,Longitude,Type\n" + f'"{text}",53.4,-2.98,Burglary\n').encode()
    inc = read_incidents(data, crime_types="all")
    accounted(inc)
    assert pd.Timestamp(inc.frame["datetime"].iloc[0]) == pd.Timestamp(expected)
    assert bool(inc.frame["has_time"].iloc[0]) is timed


# ------------------------------------------------------------------------------------- layout


def test_every_row_ending_with_a_delimiter_is_read_and_said():
    rows = [r + "," for r in latlon_lines(2000)]
    rows.append(rows[5])  # a duplicate with an id column: rejected, raw fields from the file
    data = "\n".join(["ID,Date,Latitude,Longitude,Type"] + [f"{i},{r}" for i, r in enumerate(rows)])
    data = data.replace("2000,2024", "5,2024")  # the last row repeats row 5 with its id
    inc = read_incidents(("trailing.csv", (data + "\n").encode()), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 2000 and r.reason_counts() == {"duplicate row": 1}
    assert r.rejected["Type"].tolist() == ["Burglary"]
    assert r.choices["trailing_field_dropped"] == ["trailing.csv"]
    assert any("ends with a delimiter" in n for n in r.notes)


def test_an_extra_field_with_text_or_on_some_rows_only_stays_malformed():
    rows = latlon_lines(10)
    some = [r + ("," if i % 2 else "") for i, r in enumerate(rows)]
    inc = read_incidents(("\n".join(["Date,Latitude,Longitude,Type", *some]) + "\n").encode())
    r = accounted(inc)
    assert r.reason_counts() == {"malformed row": 5}
    texts = [r + ",x" for r in rows]
    with pytest.raises(InputError, match="malformed row: 10") as err:
        read_incidents(("\n".join(["Date,Latitude,Longitude,Type", *texts]) + "\n").encode())
    assert "delimiter" in (err.value.hint or "")  # the hint follows the reason


def test_a_field_of_ten_megabytes_does_not_fail_the_file():
    rows = [r + ",n" for r in latlon_lines(5)]
    rows[2] = rows[2][:-1] + "x" * 10_000_000
    inc = read_incidents(("\n".join(["Date,Latitude,Longitude,Type,Note", *rows]) + "\n").encode())
    assert accounted(inc).n_used == 5


def test_an_empty_file_among_others_is_skipped_and_named(tmp_path):
    (tmp_path / "a.csv").write_bytes(police_bytes(10, "a"))
    (tmp_path / "b.csv").write_bytes(b"")
    (tmp_path / "c.csv").write_bytes(police_bytes(10, "c"))
    inc = read_incidents(tmp_path, crime_types="all")
    r = accounted(inc)
    assert r.n_used == 20 and [f.name for f in r.files] == ["a.csv", "c.csv"]
    assert r.choices["skipped_files"] == [{"name": "b.csv", "reason": EMPTY_FILE}]
    with pytest.raises(InputError, match="empty"):
        read_incidents([("x.csv", b""), ("y.csv", b"")])
    with pytest.raises(InputError, match="empty"):
        read_incidents(tmp_path / "b.csv")


# ------------------------------------------------------------------------------------ points


@pytest.mark.parametrize(
    ("cell", "lon", "lat"),
    [
        ('"(41.881, -87.632)"', -87.632, 41.881),
        ("POINT (-87.632 41.881)", -87.632, 41.881),
        ('"POINT Z (-87.632 41.881 12.5)"', -87.632, 41.881),
    ],
)
def test_one_location_column_of_points_is_read(cell, lon, lat):
    rows = ["Date,Primary Type,Location"]
    rows += [f"01/02/2024 10:00:00 PM,THEFT,{cell}"] * 3
    rows += ["01/02/2024 10:00:00 PM,THEFT,", "01/02/2024 10:00:00 PM,THEFT,UNKNOWN"]
    inc = read_incidents(("points.csv", ("\n".join(rows) + "\n").encode()), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 3
    assert np.allclose(inc.frame["lon"], lon) and np.allclose(inc.frame["lat"], lat)
    assert r.files[0].columns["lon"] == "Location (longitude)"
    assert r.reason_counts() == {"missing coordinates": 1, "non-numeric coordinates": 1}
    unknown = r.rejected[r.rejected["reason"] == "non-numeric coordinates"].iloc[0]
    assert unknown["source_row"] == 6 and "'UNKNOWN'" in unknown["detail"]
    assert unknown["Location"] == "UNKNOWN"  # the raw field as written
    assert any("the column 'Location' holds each row's point" in n for n in r.notes)


def test_a_location_column_of_text_or_beside_coordinates_is_left_alone():
    text = "Date,Type,Location\n2024-01-02,Burglary,On or near Foo Street\n"
    with pytest.raises(InputError, match="Cannot find the coordinate columns"):
        read_incidents(text.encode())
    both = 'Date,Latitude,Longitude,Location\n2024-01-02,53.4,-2.98,"(1.0, 2.0)"\n'
    inc = read_incidents(both.encode(), crime_types="all")
    assert inc.report.files[0].columns["lat"] == "Latitude"
    assert np.allclose(inc.frame["lat"], 53.4)


# ----------------------------------------------------------------------------------- encodings


def test_utf8_with_some_cp1252_lines_keeps_each_character():
    lines = [POLICE_HEADER.encode()]
    for i, line in enumerate(police_lines(10)):
        line = line.replace("Foo Street", "Café £1")
        lines.append(line.encode("utf-8" if i % 2 else "cp1252"))
    data = b"\n".join(lines) + b"\n"
    inc = read_incidents(("joined.csv", data), crime_types="all")
    r = accounted(inc)
    assert set(inc.frame["location"].astype(str)) == {"On or near Café £1"}
    assert r.files[0].encoding == ingest_mod.MIXED_ENCODING
    assert any("Windows-1252" in n for n in r.notes)
    # a file in Windows-1252 alone is still read as before
    text, encoding, _ = read_text("Location\nCafé “x” £\n".encode("cp1252"))
    assert encoding == "cp1252" and "Café “x” £" in text


# ------------------------------------------------------------------------------ internal errors


def test_a_bug_while_reading_is_not_disguised_as_bad_input(monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(ingest_mod, "_validate_file", broken)
    with pytest.raises(ZeroDivisionError):
        read_incidents(police_bytes(5))


def test_nul_bytes_in_the_rejected_rows_are_written_escaped():
    lines = police_bytes(20).split(b"\n")
    lines[3] = lines[3].replace(b"Foo", b"F\x00oo")
    inc = read_incidents(("damaged.csv", b"\n".join(lines)), crime_types="all")
    rej = accounted(inc).rejected
    assert rej["Location"].tolist() == ["On or near F\\x00oo Street"]
    assert not rej.astype(str).apply(lambda c: c.str.contains("\x00", regex=False)).any().any()


# ----------------------------------------------------------------------------- joined files


def test_a_header_repeated_inside_the_file_is_named_as_such():
    rows = police_bytes(10).decode() + POLICE_HEADER + "\n" + "\n".join(police_lines(5, "z"))
    inc = read_incidents(("joined.csv", rows.encode()), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 15 and r.reason_counts() == {"malformed row": 1}
    row = r.rejected.iloc[0]
    assert row["source_row"] == 12 and "the header row again" in row["detail"]
    assert any("header row is repeated 1 time" in n for n in r.notes)


# -------------------------------------------------------------------------------- archives


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_damaged_spreadsheet_in_a_zip_says_to_save_it_as_csv():
    # workbooks in a zip are read (tests/test_spreadsheets.py); one that is no workbook is named
    data = _zip({"crimes.xlsx": b"PK\x03\x04not really"})
    with pytest.raises(InputError, match="Excel workbook, not a CSV") as err:
        read_incidents(("upload.zip", data))
    assert err.value.file == "upload.zip/crimes.xlsx"
    assert "save it as CSV" in (err.value.hint or "")


def test_hidden_and_escaping_members_are_named_and_macos_metadata_is_not(tmp_path):
    data = _zip(
        {
            "a.csv": police_bytes(5, "a"),
            "../b.csv": police_bytes(5, "b"),
            ".c.csv": police_bytes(5, "c"),
            "__MACOSX/._a.csv": b"\x00\x05\x16\x07",
        }
    )
    inc = read_incidents(("up.zip", data), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 5
    names = [k["name"] for k in r.choices["skipped_files"]]
    assert names == ["up.zip/../b.csv", "up.zip/.c.csv"]
    assert all("hidden" in k["reason"] for k in r.choices["skipped_files"])
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "d.csv").write_bytes(police_bytes(5, "d"))
    (tmp_path / "e.csv").write_bytes(police_bytes(5, "e"))
    inc = read_incidents(tmp_path, crime_types="all")
    assert [k["name"] for k in inc.report.choices["skipped_files"]] == [".cache/d.csv"]


# ------------------------------------------------------------------------------ crime types


def test_a_crime_type_written_several_ways_is_one_type_under_its_most_used_spelling():
    types = ["Burglary"] * 3 + ["BURGLARY", "burglary ", "Violence \u2013 assault"] + [
        "Violence - assault", "Violence - assault", "Violence  -  assault", "", "Drugs"
    ]  # fmt: skip
    rows = [f"2024-01-02,53.{4000 + i},-2.{9800 + i},{t}" for i, t in enumerate(types)]
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    inc = read_incidents(("types.csv", data), crime_types="all")
    r = accounted(inc)
    counts = inc.frame["crime_type"].astype(str).value_counts().to_dict()
    assert counts == {"Burglary": 5, "Violence - assault": 4, "": 1, "Drugs": 1}
    assert r.choices["crime_type_spellings"] == {
        "BURGLARY": "Burglary",
        "burglary": "Burglary",  # the trailing space is cleaned when read
        "Violence \u2013 assault": "Violence - assault",
        "Violence  -  assault": "Violence - assault",
    }
    assert any("written more than one way" in n for n in r.notes)
    only = read_incidents(("types.csv", data), crime_types=["violence - assault"])
    assert len(only.frame) == 4 and accounted(only).n_filtered == 7


def test_type_key_and_spellings_of_files_with_one_spelling_each():
    assert ingest_mod._type_key(" Anti\u2011social  BEHAVIOUR ") == "anti-social behaviour"
    assert ingest_mod._type_key("\uff21") == "a"  # a full-width letter
    inc = read_incidents(police_bytes(10), crime_types="all")
    assert "crime_type_spellings" not in inc.report.choices


# -------------------------------------------------------------------------------- degrees


def test_degrees_with_signs_minutes_seconds_and_hemisphere_letters():
    text = ["53.4°N", "2.98°W", "53°24'12\" N", "2°58'30\"W", "N 53 24.5", "-2° 58.5'", "S33.9",
            "151.2E", "53.4", "abc", "53°61'", "N53.4S", "5E3", "53.5°30'", ""]  # fmt: skip
    got = ingest_mod._sexagesimal(pd.Series(text))
    want = [53.4, -2.98, 53.403333, -2.975, 53.408333, -2.975, -33.9, 151.2] + [np.nan] * 7
    assert np.allclose(got, want, atol=1e-6, equal_nan=True)
    rows = [f'2024-01-02,"53°24\'{i}"" N","2°58\'{i}"" W",Burglary' for i in range(10)]
    rows.append("2024-01-02,53.4°N,bad°W,Burglary")
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    inc = read_incidents(("dms.csv", data), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 10 and r.reason_counts() == {"non-numeric coordinates": 1}
    assert np.allclose(inc.frame["lat"], 53.4 + np.arange(10) / 3600)
    assert np.allclose(inc.frame["lon"], -(2 + 58 / 60 + np.arange(10) / 3600))


# ------------------------------------------------------------------------ batch two: crashes


def test_parquet_list_binary_and_shared_name_columns_are_read_as_text():
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "lat": [53.4, 53.5, None],
            "lon": [-2.98, -2.97, -2.96],
            "tags": [[1, 2], [], None],
            "blob": [b"\x00\x01", b"\xff", None],
            "type": ["A", None, "B"],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    inc = read_incidents(("nested.parquet", buf.getvalue()), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 2 and r.reason_counts() == {"missing coordinates": 1}
    assert r.rejected["tags"].tolist() == [""] and r.rejected["blob"].tolist() == [""]
    named = table.select(["lat", "lon", "lat"]).rename_columns(
        ["latitude", "longitude", "latitude"]
    )
    buf = io.BytesIO()
    pq.write_table(named, buf)
    inc = read_incidents(("shared.parquet", buf.getvalue()), crime_types="all")
    assert accounted(inc).files[0].columns["lat"] == "latitude"


def test_a_damaged_gzip_member_of_a_zip_is_input_error_naming_it():
    data = _zip({"b.csv.gz": b"\x1f\x8bnot gzip at all"})
    with pytest.raises(InputError, match="Could not read the file from its zip") as err:
        read_incidents(("up.zip", data))
    assert err.value.file == "up.zip/b.csv.gz"


def test_an_empty_zip_member_among_others_is_skipped_and_an_inner_zip_is_named():
    data = _zip({"a.csv": b"", "b.csv": police_bytes(5, "b")})
    inc = read_incidents(("up.zip", data), crime_types="all")
    assert accounted(inc).n_used == 5
    assert inc.report.choices["skipped_files"] == [{"name": "up.zip/a.csv", "reason": EMPTY_FILE}]
    nested = _zip({"inner.zip": data})
    with pytest.raises(InputError, match=r"other zip archives \(inner\.zip\)"):
        read_incidents(("outer.zip", nested))


# ------------------------------------------------------------------------ batch two: headers


def test_a_header_of_delimiters_only_says_so():
    data = ("\n\n,,,\nDate,Latitude,Longitude,Type\n" + "\n".join(latlon_lines(3))).encode()
    with pytest.raises(InputError, match="The header row names no column") as err:
        read_incidents(("blank.csv", data))
    assert err.value.file == "blank.csv"


def test_other_languages_names_with_accents_are_found():
    rows = [f"02.01.2024;53,{4000 + i};-2,{9800 + i};Diebstahl" for i in range(5)]
    data = ("\n".join(["Datum;Breitengrad;Längengrad;Delikt", *rows]) + "\n").encode()
    inc = read_incidents(("de.csv", data), crime_types="all")
    cols = accounted(inc).files[0].columns
    assert (cols["lat"], cols["lon"], cols["date"], cols["crime_type"]) == (
        "Breitengrad", "Längengrad", "Datum", "Delikt"
    )  # fmt: skip
    assert np.allclose(inc.frame["lat"], 53.4 + np.arange(5) / 1e4)
    assert ingest_mod._normalise("Längengrad") == "langengrad"


def test_x_y_columns_with_thousands_separators_are_british_national_grid():
    rows = [f'"{530000 + i:,}","{180000 + i:,}",2024-01-02' for i in range(5)]
    inc = read_incidents(("xy.csv", ("\n".join(["X,Y,Date", *rows]) + "\n").encode()))
    r = accounted(inc)
    assert r.files[0].format == ingest_mod.FORMAT_BNG and r.n_used == 5


def test_a_repeated_header_is_found_in_a_file_read_from_its_point_column():
    rows = ["ID,Date,Primary Type,Location"]
    rows += [f"{i},01/02/2024 10:00:00 PM,THEFT,POINT (-87.6{i} 41.8{i})" for i in range(5)]
    rows.insert(3, rows[0])
    inc = read_incidents(("joined.csv", ("\n".join(rows) + "\n").encode()), crime_types="all")
    r = accounted(inc)
    assert r.n_used == 5 and r.reason_counts() == {"malformed row": 1}
    row = r.rejected.iloc[0]
    assert (row["source_row"], row["column"]) == (4, "Location")
    assert "the header row again" in row["detail"]


def test_an_ambiguous_day_month_order_is_said_not_only_recorded():
    data = b"Date,Latitude,Longitude,Type\n03/04/2024,53.4,-2.98,B\n05/06/2024,53.41,-2.97,B\n"
    inc = read_incidents(("dm.csv", data), crime_types="all")
    r = accounted(inc)
    assert r.choices["date_order"] == {"dm.csv": "day-first (ambiguous; regional default)"}
    assert any("could be 3 April or 4 March; read day first" in n for n in r.notes)
    assert pd.Timestamp(inc.frame["datetime"].iloc[0]) == pd.Timestamp("2024-04-03")
    clear = data.replace(b"05/06", b"25/06")
    assert not any("could be 3 April" in n for n in read_incidents(clear).report.notes)


def test_an_outlier_with_latitude_and_longitude_swapped_is_said_to_look_swapped():
    rng = np.random.default_rng(8)
    lats, lons = 53.40 + rng.random(40) * 0.02, -2.98 + rng.random(40) * 0.02
    rows = [f"2024-01-02,{la:.5f},{lo:.5f},B" for la, lo in zip(lats, lons, strict=True)]
    rows[7] = f"2024-01-02,{lons[7]:.5f},{lats[7]:.5f},B"  # swapped
    rows.append("2024-01-02,51.5,-0.12,B")  # far (London), not swapped
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    r = accounted(read_incidents(("swap.csv", data), crime_types="all"))
    out = r.rejected.set_index("source_row")["detail"]
    assert list(out.index) == [9, 42]
    assert "look swapped" in out[9] and "look swapped" not in out[42]
    assert out[42].startswith("isolated point more than")


def test_the_per_file_path_equals_read_incidents_on_hostile_files(tmp_path):
    from hotspots.ingest import combine_files, list_sources, read_file

    damaged = police_bytes(20, "n").split(b"\n")
    damaged[4] = damaged[4].replace(b"Foo", b"F\x00oo")
    (tmp_path / "a_nul.csv").write_bytes(b"\n".join(damaged))
    rows = [r + "," for r in latlon_lines(10)]
    (tmp_path / "b_trailing.csv").write_text("\n".join(["Date,Latitude,Longitude,Type", *rows]))
    wkt = [f"2024-01-02,BURGLARY,POINT (-2.9{i} 53.4{i})" for i in range(5)]
    (tmp_path / "c_wkt.csv").write_text("\n".join(["Date,Type,Location", *wkt]) + "\n")
    (tmp_path / "d_empty.csv").write_bytes(b"")
    whole = read_incidents(tmp_path, crime_types="all")
    accounted(whole)
    assert "crime_type_spellings" in whole.report.choices
    sources = list_sources(tmp_path)
    for keep in (True, False):
        files = [read_file(n, load, keep_text=keep) for n, load in sources]
        parts = combine_files(files, crime_types="all", skipped=sources.skipped)
        pd.testing.assert_frame_equal(whole.frame, parts.frame)
        pd.testing.assert_frame_equal(whole.report.rejected, parts.report.rejected)
        assert list(whole.report.notes) == list(parts.report.notes)


def test_a_short_row_names_the_first_column_it_has_no_field_for():
    rows = latlon_lines(6)
    rows[2] = rows[2].rsplit(",", 1)[0]  # no Type
    rows[3] = rows[3] + ",extra"  # one field too many: no column to name
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    r = accounted(read_incidents(("short.csv", data), crime_types="all"))
    rej = r.rejected.set_index("source_row")
    assert (
        rej.loc[4, "column"] == "Type" and rej.loc[4, "detail"] == "3 fields where the header has 4"
    )
    assert rej.loc[5, "column"] == "" and rej.loc[5, "_extra"] == "extra"


def test_excel_serial_day_numbers_are_read_and_said_only_when_every_value_is_one():
    rows = [f"{v},53.4{i},-2.98,B" for i, v in enumerate(["45292", "45292.75", "", "45658"])]
    data = ("\n".join(["Date,Latitude,Longitude,Type", *rows]) + "\n").encode()
    inc = read_incidents(("xl.csv", data), crime_types="all")
    r = accounted(inc)
    got = pd.to_datetime(inc.frame["datetime"]).tolist()
    assert got[0] == pd.Timestamp("2024-01-01") and got[1] == pd.Timestamp("2024-01-01 18:00")
    assert pd.isna(got[2]) and got[3] == pd.Timestamp("2025-01-01")
    assert inc.frame["has_time"].tolist() == [False, True, False, False]
    assert r.choices["date_order"]["xl.csv"].startswith("Excel serial")
    assert any("Excel's serial day numbers" in n for n in r.notes)
    mixed = data.replace(b"45658", b"2024-02-01")  # one real date: the numbers are not dates
    other = read_incidents(("xl.csv", mixed), crime_types="all")
    assert "Excel" not in str(other.report.choices.get("date_order"))
    assert ingest_mod._excel_serials(pd.Series(["20240102", "45292"])) is None
    assert ingest_mod._excel_serials(pd.Series(["", ""])) is None
