"""Tests for hotspots.ingest.read_incidents: formats, hostile input, accounting, real data."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots import HotspotsWarning, InputError, ParameterError
from hotspots import crs as crs_mod
from hotspots import ingest as ingest_mod
from hotspots.incidents import FILTER_REASONS
from hotspots.ingest import (
    FORMAT_BNG,
    FORMAT_LATLON,
    FORMAT_POLICE_UK,
    VIOLENCE_TYPES_POLICE_UK,
    read_incidents,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
POLICE_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
# Trafalgar Square: OS grid reference TQ 30009 80453
TRAFALGAR_LONLAT = (-0.12806, 51.50806)
TRAFALGAR_EN = (530009.0, 180453.0)


def police_row(
    cid, lon, lat, ctype="Violence and sexual offences", month="2024-01", loc="On or near X"
):
    return (
        f"{cid},{month},Met,Met,{lon},{lat},{loc},E01,Westminster 018A,{ctype},Under investigation,"
    )


def police_csv(rows, *, eol="\r\n"):
    return (eol.join([POLICE_HEADER, *rows]) + eol).encode()


def town(n, lon0=-2.98, lat0=53.41, spread=0.01, seed=0):
    """n points around a town centre (lon/lat), fixed seed."""
    rng = np.random.default_rng(seed)
    return lon0 + rng.normal(0, spread, n), lat0 + rng.normal(0, spread * 0.6, n)


def latlon_csv(lons, lats, extra=None):
    lines = ["latitude,longitude" + ("," + ",".join(extra) if extra else "")]
    for i, (lo, la) in enumerate(zip(lons, lats, strict=True)):
        lines.append(
            f"{la:.6f},{lo:.6f}" + ("," + ",".join(e[i] for e in extra.values()) if extra else "")
        )
    return ("\n".join(lines) + "\n").encode()


def accounted(inc):
    r = inc.report
    assert r.n_read == r.n_used + r.n_rejected
    assert r.n_used == len(inc.frame)
    return r


def reasons_by_row(inc):
    rej = inc.report.rejected
    return dict(zip(rej["source_row"].astype(int), rej["reason"], strict=True))


# ------------------------------------------------------------------------------------ formats


def test_police_uk_format_and_known_coordinates():
    rows = [
        police_row("a1", *TRAFALGAR_LONLAT),
        police_row("a2", -0.1281, 51.5081, ctype="Robbery"),
        police_row("a3", -0.1282, 51.5082, ctype="Possession of weapons"),
        police_row("a4", -0.1283, 51.5083, ctype="Burglary"),
        police_row("", -0.1284, 51.5084, ctype="Anti-social behaviour"),
    ]
    inc = read_incidents(("2024-01-met-street.csv", police_csv(rows)))
    r = accounted(inc)
    assert r.files[0].format == FORMAT_POLICE_UK
    assert r.files[0].delimiter == "comma"
    assert r.files[0].columns["lon"] == "Longitude"
    assert inc.crs.to_epsg() == 27700
    assert r.choices["crs"] == "EPSG:27700"
    assert r.n_used == 3
    assert r.reason_counts() == {"crime type not selected": 2}
    assert set(inc.frame["crime_type"]) == VIOLENCE_TYPES_POLICE_UK
    first = inc.frame.iloc[0]
    assert first["x"] == pytest.approx(TRAFALGAR_EN[0], abs=1.0)
    assert first["y"] == pytest.approx(TRAFALGAR_EN[1], abs=1.0)
    assert first["lon"] == TRAFALGAR_LONLAT[0]
    assert first["month"] == pd.Timestamp("2024-01-01")
    assert pd.isna(first["datetime"])
    assert not first["has_time"]
    assert first["source_row"] == 2
    assert first["weight"] == 1.0
    assert first["location"] == "On or near X"
    assert r.choices["weights_given"] is False
    assert r.choices["crime_types_kept"] == sorted(VIOLENCE_TYPES_POLICE_UK)
    assert r.choices["date_range"] == {"first_month": "2024-01", "last_month": "2024-01"}
    assert r.choices["time_of_day_known"] == 0.0
    assert any(n.startswith("Analysis CRS: British National Grid") for n in r.notes)
    for key in ("crs", "crs_reason", "formats", "crime_types_kept", "outlier_rule", "n_outliers",
                "study_area_rule", "study_area_km2", "weights_given", "date_range",
                "time_of_day_known"):  # fmt: skip
        assert key in r.choices
    assert r.to_json()  # JSON-serialisable
    assert list(inc.frame.columns) == [
        "x", "y", "lon", "lat", "month", "datetime", "has_time", "crime_type", "weight",
        "location", "source_file", "source_row",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("lat_name", "lon_name"),
    [("latitude", "longitude"), ("Lat", "Lng"), ("LAT", "LONG"), ("y_lat", "x_lon"),
     (" Latitude ", "Longitude"), ("lat", "lon"), ("Y", "X"), ("POINT_Y", "POINT_X")],
)  # fmt: skip
def test_latlon_header_variants(lat_name, lon_name):
    data = (
        f"{lat_name},{lon_name},offense_type\n41.8781,-87.6298,robbery\n41.8800,-87.6300,assault\n"
    )
    inc = read_incidents(("chicago.csv", data.encode()))
    r = accounted(inc)
    assert r.files[0].format == FORMAT_LATLON
    assert inc.crs.to_epsg() == 32616
    np.testing.assert_allclose(inc.frame["lat"], [41.8781, 41.88])
    np.testing.assert_allclose(inc.frame["lon"], [-87.6298, -87.63])
    assert list(inc.frame["crime_type"]) == ["robbery", "assault"]  # both name violence
    assert any("violence-related type(s) by name" in n for n in r.notes)


def test_bng_easting_northing_kept_exactly():
    data = "Easting,Northing,Offence\n530009,180453,Assault\n530100,180500,Robbery\n"
    inc = read_incidents(("met.csv", data.encode()))
    r = accounted(inc)
    assert r.files[0].format == FORMAT_BNG
    assert inc.crs.to_epsg() == 27700
    np.testing.assert_array_equal(inc.frame["x"], [530009.0, 530100.0])
    np.testing.assert_array_equal(inc.frame["y"], [180453.0, 180500.0])
    assert inc.frame["lon"].iloc[0] == pytest.approx(TRAFALGAR_LONLAT[0], abs=2e-5)
    assert inc.frame["lat"].iloc[0] == pytest.approx(TRAFALGAR_LONLAT[1], abs=2e-5)


@pytest.mark.parametrize("header", ["x,y", "OS_X,OS_Y", "eastings,northings"])
def test_bng_header_variants(header):
    inc = read_incidents(("f.csv", f"{header}\n530009,180453\n".encode()))
    assert inc.report.files[0].format == FORMAT_BNG
    assert inc.frame["x"].iloc[0] == 530009.0


def test_bng_thousands_separator_when_quoted():
    inc = read_incidents(("f.csv", b'easting,northing\n"530,009","180,453"\n'))
    assert (inc.frame["x"].iloc[0], inc.frame["y"].iloc[0]) == TRAFALGAR_EN


def test_bng_out_of_range_rejected():
    inc = read_incidents(("f.csv", b"easting,northing\n530009,180453\n800000,180453\n530009,-5\n"))
    assert reasons_by_row(inc) == {3: "coordinates out of range", 4: "coordinates out of range"}


def test_explicit_column_mapping():
    data = "when;where_e;where_n;what\n2024-03-01 21:30;530009;180453;ABH\n"
    inc = read_incidents(
        ("custom.csv", data.encode()),
        columns={
            "easting": "where_e",
            "northing": "where_n",
            "datetime": "when",
            "crime_type": "what",
        },
    )
    r = accounted(inc)
    assert r.files[0].columns == {
        "easting": "where_e", "northing": "where_n", "datetime": "when", "crime_type": "what",
    }  # fmt: skip
    assert r.files[0].delimiter == "semicolon"
    assert inc.frame["x"].iloc[0] == 530009.0
    assert inc.frame["datetime"].iloc[0] == pd.Timestamp("2024-03-01 21:30")
    assert bool(inc.frame["has_time"].iloc[0])


def test_explicit_mapping_unknown_column_names_file_and_header():
    with pytest.raises(InputError, match=r"custom\.csv.*'nope'.*a, b"):
        read_incidents(("custom.csv", b"a,b\n1,2\n"), columns={"lon": "nope", "lat": "b"})


def test_mixed_formats_across_files():
    a = ("bng.csv", b"easting,northing\n530009,180453\n")
    b = ("ll.csv", b"lat,lon\n51.50806,-0.12806\n")
    inc = read_incidents([a, b])
    r = accounted(inc)
    assert [f.format for f in r.files] == [FORMAT_BNG, FORMAT_LATLON]
    assert r.choices["formats"] == sorted([FORMAT_BNG, FORMAT_LATLON])
    # the same place, read two ways, lands within a metre
    assert abs(inc.frame["x"].iloc[0] - inc.frame["x"].iloc[1]) < 1.0
    assert abs(inc.frame["y"].iloc[0] - inc.frame["y"].iloc[1]) < 1.0


# ------------------------------------------------------------------------------- hostile bytes


def test_utf8_bom_header():
    data = "\ufeffLatitude,Longitude\n53.41,-2.98\n".encode()
    inc = read_incidents(("bom.csv", data))
    assert inc.report.files[0].encoding == "utf-8-sig"
    assert inc.report.files[0].columns["lat"] == "Latitude"


def test_cp1252_fallback():
    data = b"lat,lon,location\n53.41,-2.98,Caf\xe9 Royal\n"
    inc = read_incidents(("cafe.csv", data))
    assert inc.report.files[0].encoding == "cp1252"
    assert inc.frame["location"].iloc[0] == "Caf\u00e9 Royal"


def test_utf16_with_bom_tab_separated():
    data = "lat\tlon\n53.41\t-2.98\n".encode("utf-16")
    inc = read_incidents(("excel.txt", data))
    assert inc.report.files[0].encoding == "utf-16"
    assert inc.report.files[0].delimiter == "tab"
    assert inc.report.n_used == 1


def test_crlf_and_line_numbers():
    data = b"lat,lon\r\n53.41,-2.98\r\nNA,-2.98\r\n53.42,-2.97\r\n"
    inc = read_incidents(("crlf.csv", data))
    r = accounted(inc)
    assert list(inc.frame["source_row"]) == [2, 4]
    assert reasons_by_row(inc) == {3: "missing coordinates"}
    assert r.rejected["column"].iloc[0] == "lat"


def test_semicolon_with_decimal_commas_and_weights():
    data = b"Latitude;Longitude;Weight\n53,41;-2,98;1,5\n53,42;-2,97;2\n"
    inc = read_incidents(("eu.csv", data))
    r = accounted(inc)
    assert r.files[0].delimiter == "semicolon"
    np.testing.assert_allclose(inc.frame["lat"], [53.41, 53.42])
    np.testing.assert_allclose(inc.frame["lon"], [-2.98, -2.97])
    np.testing.assert_allclose(inc.frame["weight"], [1.5, 2.0])
    assert r.choices["weights_given"] is True


def test_quoted_decimal_commas_in_a_comma_file():
    inc = read_incidents(("q.csv", b'lat,lon\n"53,41","-2,98"\n'))
    assert inc.frame["lat"].iloc[0] == 53.41


def test_tab_and_pipe_delimiters():
    for delim, name in (("\t", "tab"), ("|", "pipe")):
        data = f"lat{delim}lon{delim}location\n53.41{delim}-2.98{delim}A, B street\n".encode()
        inc = read_incidents(("d.csv", data))
        assert inc.report.files[0].delimiter == name
        assert inc.frame["location"].iloc[0] == "A, B street"


def test_every_bad_coordinate_kind_with_rows_and_counts():
    data = (
        "lat,lon,location\n"
        "53.41,-2.98,good\n"  # 2
        "NA,-2.98,na\n"  # 3
        ",-2.98,blank\n"  # 4
        "null,N/A,null\n"  # 5
        "-,-2.98,dash\n"  # 6
        "abc,-2.98,text\n"  # 7
        "95.0,-2.98,lat out of range\n"  # 8
        "53.41,-200,lon out of range\n"  # 9
        "0,0,null island\n"  # 10
        "0.0,0.000,null island again\n"  # 11
        "53.40,-2.99,good\n"  # 12
    )
    inc = read_incidents(("bad.csv", data.encode()), outlier_km=False)
    r = accounted(inc)
    assert r.n_read == 11
    assert r.n_used == 2
    assert reasons_by_row(inc) == {
        3: "missing coordinates", 4: "missing coordinates", 5: "missing coordinates",
        6: "missing coordinates", 7: "non-numeric coordinates", 8: "coordinates out of range",
        9: "coordinates out of range", 10: "null island (0, 0)", 11: "null island (0, 0)",
    }  # fmt: skip
    rej = r.rejected.set_index("source_row")
    assert rej.loc[7, "column"] == "lat"
    assert "'abc' is not a number" in rej.loc[7, "detail"]
    assert rej.loc[9, "column"] == "lon"
    # raw fields are kept as text
    assert rej.loc[7, "location"] == "text"
    assert rej.loc[3, "lat"] == "NA"
    assert (rej["source_file"] == "bad.csv").all()


def test_ragged_rows_rejected_with_line_numbers_after_multiline_field():
    data = (
        "lat,lon,location\n"
        '53.41,-2.98,"a location\nover two lines"\n'  # lines 2-3
        "53.42,-2.97,too,many\n"  # line 4
        "53.43\n"  # line 5
        "\n"  # blank line 6: skipped, not a row
        "53.44,-2.96,ok\n"  # line 7
    )
    inc = read_incidents(("ragged.csv", data.encode()), outlier_km=False)
    r = accounted(inc)
    assert r.n_read == 4
    assert list(inc.frame["source_row"]) == [2, 7]
    assert reasons_by_row(inc) == {4: "malformed row", 5: "malformed row"}
    rej = r.rejected.set_index("source_row")
    assert rej.loc[4, "detail"] == "4 fields where the header has 3"
    assert rej.loc[4, "_extra"] == "many"
    assert rej.loc[5, "lat"] == "53.43"
    assert inc.frame["location"].iloc[0] == "a location\nover two lines"


def test_empty_file_is_input_error():
    with pytest.raises(InputError, match=r"empty\.csv: The file is empty"):
        read_incidents(("empty.csv", b""))
    with pytest.raises(InputError, match="empty"):
        read_incidents(("blank.csv", b"\r\n  \n"))


def test_header_only_file_is_fine_next_to_data_but_alone_is_an_error():
    header_only = ("2024-02.csv", (POLICE_HEADER + "\r\n").encode())
    data = ("2024-01.csv", police_csv([police_row("a", -2.98, 53.41)]))
    inc = read_incidents([data, header_only])
    r = accounted(inc)
    assert [f.n_rows for f in r.files] == [1, 0]
    with pytest.raises(InputError, match="No data rows"):
        read_incidents([header_only])


@pytest.mark.parametrize(
    "junk",
    [
        bytes(range(256)) * 4,
        b"\x00\x01\x02binary\x00" * 50,
        b"PK\x03\x04rest-of-a-zip",
        b"\x1f\x8b\x08gzip",
    ],
)
def test_binary_junk_is_input_error(junk):
    with pytest.raises(InputError, match=r"junk\.csv"):
        read_incidents(("junk.csv", junk))


def test_no_coordinate_columns_names_file_and_lists_header():
    data = b"Crime ID,Month,Street,Crime type\nx,2024-01,High St,Robbery\n"
    with pytest.raises(InputError) as err:
        read_incidents(("nocoords.csv", data))
    text = str(err.value)
    assert err.value.file == "nocoords.csv"
    assert "'Crime ID', 'Month', 'Street', 'Crime type'" in text
    assert "columns=" in text


def test_zero_usable_rows_gives_top_reasons():
    with pytest.raises(InputError, match=r"missing coordinates: 2"):
        read_incidents(("allbad.csv", b"lat,lon\nNA,NA\n,\n"))


# ------------------------------------------------------------------------------ duplicates


def test_exact_duplicates_with_id_rejected_without_id_kept():
    rows = [
        police_row("abc", -2.98, 53.41),  # 2
        police_row("abc", -2.98, 53.41),  # 3 exact copy with an id -> rejected
        police_row("", -2.98, 53.41, ctype="Anti-social behaviour"),  # 4
        police_row("", -2.98, 53.41, ctype="Anti-social behaviour"),  # 5 same, no id -> kept
        police_row("abc", -2.98, 53.41, loc="On or near Y"),  # 6 same id, other field -> kept
    ]
    inc = read_incidents(("d.csv", police_csv(rows)), crime_types="all")
    r = accounted(inc)
    assert reasons_by_row(inc) == {3: "duplicate row"}
    assert list(inc.frame["source_row"]) == [2, 4, 5, 6]
    assert any("1 row(s) without an id are identical" in n for n in r.notes)


def test_duplicates_across_files():
    row = police_row("abc", -2.98, 53.41)
    a = ("2024-01.csv", police_csv([row]))
    b = ("2024-02.csv", police_csv([police_row("def", -2.97, 53.42), row]))
    inc = read_incidents([a, b])
    rej = accounted(inc).rejected
    assert list(zip(rej["source_file"], rej["source_row"], rej["reason"], strict=True)) == [
        ("2024-02.csv", 3, "duplicate row")
    ]


# ------------------------------------------------------------------------------------ dates


def test_datetime_formats_and_has_time():
    data = (
        "lat,lon,date\n"
        "53.41,-2.98,2024-01-05 21:30\n"
        "53.41,-2.98,2024-01-06 22:15:10\n"
        "53.41,-2.98,2024-01-07\n"
        "53.41,-2.98,2024-01-08T23:00:00Z\n"
        "53.41,-2.98,not a date\n"
        "53.41,-2.98,2024-02-30\n"
        "53.41,-2.98,\n"
    )
    inc = read_incidents(("d.csv", data.encode()))
    r = accounted(inc)
    assert reasons_by_row(inc) == {6: "unparseable date", 7: "unparseable date"}
    f = inc.frame
    assert list(f["datetime"].iloc[:4]) == [
        pd.Timestamp("2024-01-05 21:30"), pd.Timestamp("2024-01-06 22:15:10"),
        pd.Timestamp("2024-01-07"), pd.Timestamp("2024-01-08 23:00"),
    ]  # fmt: skip
    assert list(f["has_time"]) == [True, True, False, True, False]
    assert pd.isna(f["month"].iloc[4])  # blank date kept, unknown
    assert f["month"].iloc[0] == pd.Timestamp("2024-01-01")
    assert f["datetime"].dtype == "datetime64[ns]"
    assert f["month"].dtype == "datetime64[ns]"
    assert r.rejected.set_index("source_row").loc[6, "column"] == "date"


def test_day_first_detected_from_values():
    data = "lat,lon,date\n41.88,-87.63,05/01/2024 10:00\n41.88,-87.63,13/01/2024 22:10\n"
    inc = read_incidents(("us_but_dmy.csv", data.encode()))
    assert list(inc.frame["datetime"]) == [
        pd.Timestamp("2024-01-05 10:00"),
        pd.Timestamp("2024-01-13 22:10"),
    ]


def test_ambiguous_day_month_uses_regional_default():
    data_gb = "lat,lon,date\n53.41,-2.98,05/01/2024 10:00\n"
    data_us = "lat,lon,date\n41.88,-87.63,05/01/2024 10:00\n"
    gb = read_incidents(("gb.csv", data_gb.encode()))
    us = read_incidents(("us.csv", data_us.encode()))
    assert gb.frame["datetime"].iloc[0] == pd.Timestamp("2024-01-05 10:00")
    assert us.frame["datetime"].iloc[0] == pd.Timestamp("2024-05-01 10:00")
    assert "ambiguous" in gb.report.choices["date_order"]["gb.csv"]


def test_us_portal_am_pm_format():
    data = "latitude,longitude,date\n41.88,-87.63,01/15/2019 09:05:00 PM\n"
    inc = read_incidents(("portal.csv", data.encode()))
    assert inc.frame["datetime"].iloc[0] == pd.Timestamp("2019-01-15 21:05")


def test_separate_date_and_time_columns():
    data = (
        "lat,lon,incident_date,incident_time\n"
        "53.41,-2.98,2024-03-01,21:45\n"
        "53.41,-2.98,2024-03-02,0930\n"
        "53.41,-2.98,2024-03-03,\n"
        "53.41,-2.98,2024-03-04,25:00\n"
    )
    inc = read_incidents(("dt.csv", data.encode()))
    assert reasons_by_row(inc) == {5: "unparseable date"}
    assert list(inc.frame["datetime"]) == [
        pd.Timestamp("2024-03-01 21:45"),
        pd.Timestamp("2024-03-02 09:30"),
        pd.Timestamp("2024-03-03"),
    ]
    assert list(inc.frame["has_time"]) == [True, True, False]


def test_month_only_and_date_range_filter():
    rows = [police_row(f"id{m}", -2.98, 53.41, month=f"2024-0{m}") for m in range(1, 7)]
    rows.append(police_row("bad", -2.98, 53.41, month="2024-13"))
    inc = read_incidents(("m.csv", police_csv(rows)), date_from="2024-02-15", date_to="2024-04-01")
    r = accounted(inc)
    assert list(inc.frame["month"].dt.month) == [2, 3, 4]
    got = reasons_by_row(inc)
    assert got == {2: "outside date range", 6: "outside date range", 7: "outside date range",
                   8: "unparseable date"}  # fmt: skip
    assert r.choices["date_range"] == {"first_month": "2024-02", "last_month": "2024-04"}


def test_date_to_without_time_includes_the_whole_day():
    data = "lat,lon,date\n53.41,-2.98,2024-03-01 23:59\n53.41,-2.98,2024-03-02 00:00\n"
    inc = read_incidents(("d.csv", data.encode()), date_to="2024-03-01")
    assert len(inc) == 1
    assert reasons_by_row(inc) == {3: "outside date range"}


# ------------------------------------------------------------------------ crime types / harm


def test_crime_type_list_is_case_insensitive_and_warns_on_unknown():
    rows = [
        police_row("a", -2.98, 53.41, ctype="Robbery"),
        police_row("b", -2.98, 53.41, ctype="Burglary"),
    ]
    with pytest.warns(HotspotsWarning, match="murder"):
        inc = read_incidents(("c.csv", police_csv(rows)), crime_types=["ROBBERY", "murder"])
    r = accounted(inc)
    assert list(inc.frame["crime_type"]) == ["Robbery"]
    assert reasons_by_row(inc) == {3: "crime type not selected"}
    assert r.choices["crime_types_kept"] == ["Robbery"]


def test_crime_types_all():
    rows = [
        police_row("a", -2.98, 53.41, ctype="Robbery"),
        police_row("b", -2.98, 53.41, ctype="Burglary"),
    ]
    inc = read_incidents(("c.csv", police_csv(rows)), crime_types="all")
    assert len(inc) == 2
    assert inc.report.choices["crime_types_kept"] == "all"


def test_harm_weights_mapping_and_unmapped_types():
    rows = [police_row("a", -2.98, 53.41, ctype="Robbery"),
            police_row("b", -2.98, 53.41, ctype="Violence and sexual offences")]  # fmt: skip
    inc = read_incidents(
        ("h.csv", police_csv(rows)),
        harm_weights={"robbery": 365, "Violence and sexual offences": 30},
    )
    assert list(inc.frame["weight"]) == [365.0, 30.0]
    assert inc.report.choices["weights_given"] is True
    assert inc.has_weights
    with pytest.raises(InputError, match="Violence and sexual offences") as err:
        read_incidents(("h.csv", police_csv(rows)), harm_weights={"Robbery": 365})
    assert "robbery" not in err.value.message.lower().split(":")[1]


def test_weight_column_rejects_bad_values():
    data = "lat,lon,harm\n53.41,-2.98,2\n53.41,-2.98,-1\n53.41,-2.98,lots\n53.41,-2.98,\n"
    inc = read_incidents(("w.csv", data.encode()))
    assert reasons_by_row(inc) == {3: "invalid weight", 4: "invalid weight", 5: "invalid weight"}
    assert list(inc.frame["weight"]) == [2.0]


# ------------------------------------------------------------------ outliers and study area


def test_outliers_far_isolated_points_dropped_town_kept():
    lon, lat = town(300)
    lon = np.r_[lon, -1.5, -4.0]  # ~100 km and ~70 km away
    lat = np.r_[lat, 53.0, 53.0]
    inc = read_incidents(("o.csv", latlon_csv(lon, lat)))
    r = accounted(inc)
    assert reasons_by_row(inc) == {302: "spatial outlier", 303: "spatial outlier"}
    assert r.choices["n_outliers"] == 2
    assert r.choices["outlier_rule"]["distance_km"] == 10.0
    assert any("spatial outliers" in n for n in r.notes)
    # disabled
    inc = read_incidents(("o.csv", latlon_csv(lon, lat)), outlier_km=0)
    assert len(inc) == 302
    assert inc.report.choices["outlier_rule"] == "disabled"


def test_outliers_keep_two_distant_dense_cities_and_small_data():
    lon1, lat1 = town(200, -2.98, 53.41, seed=1)  # Liverpool
    lon2, lat2 = town(30, -1.55, 53.80, seed=2)  # Leeds, 110 km away, 13 % of the data
    inc = read_incidents(("two.csv", latlon_csv(np.r_[lon1, lon2], np.r_[lat1, lat2])))
    assert len(inc) == 230
    # three scattered points, no dense area at all: nothing can be called an outlier
    inc = read_incidents(("few.csv", latlon_csv([-2.98, -1.5, 0.1], [53.41, 53.0, 52.0])))
    assert len(inc) == 3


def test_outliers_national_spread_loses_nothing():
    # 40 "forces" spread across England, each a dense blob
    rng = np.random.default_rng(3)
    centres = np.column_stack([rng.uniform(-3.0, 0.5, 40), rng.uniform(50.8, 54.5, 40)])
    lon = np.concatenate(
        [town(25, c[0], c[1], spread=0.03, seed=i)[0] for i, c in enumerate(centres)]
    )
    lat = np.concatenate(
        [town(25, c[0], c[1], spread=0.03, seed=i)[1] for i, c in enumerate(centres)]
    )
    inc = read_incidents(("national.csv", latlon_csv(lon, lat)))
    assert inc.report.choices["n_outliers"] == 0
    assert len(inc) == 1000


def _record_sizes(monkeypatch, module, name):
    """Wrap ``module.name`` so that each call appends the length of its first argument."""
    sizes: list[int] = []
    original = getattr(module, name)

    def counted(x, *args, **kwargs):
        sizes.append(len(x))
        return original(x, *args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return sizes


def test_stacked_duplicates_do_not_slow_outlier_rule(monkeypatch):
    # The work is counted, not timed: 200,001 rows on 2 map points are projected once per point
    # and the outlier rule sees the 2 points (with their counts), not 200,001 rows.
    projected = _record_sizes(monkeypatch, crs_mod, "transform")
    tested = _record_sizes(monkeypatch, ingest_mod, "_outliers")
    body = "lat,lon\n" + "53.410000,-2.980000\n" * 200_000 + "53.0,-1.5\n"
    inc = read_incidents(("stack.csv", body.encode()))
    assert inc.report.reason_counts() == {"spatial outlier": 1}
    assert projected == [2]
    assert tested == [2]


def test_default_study_area_contains_points_one_point_and_collinear():
    inc = read_incidents(("one.csv", b"lat,lon\n53.41,-2.98\n"))
    # one point: its 250 m cell clipped to the 25 m margin around the point
    assert inc.study_area.area == pytest.approx(np.pi * 25.0**2, rel=0.01)
    assert shapely.intersects_xy(inc.study_area, inc.frame["x"], inc.frame["y"]).all()
    assert inc.report.choices["study_area_km2"] == pytest.approx(
        np.pi * 25.0**2 / 1e6, abs=1e-4
    )  # rounded
    lon = -2.98 + np.arange(50) * 0.001
    inc = read_incidents(("line.csv", latlon_csv(lon, np.full(50, 53.41))))
    assert shapely.intersects_xy(inc.study_area, inc.frame["x"], inc.frame["y"]).all()
    assert 0 < inc.report.choices["study_area_km2"] < 2.0


def test_default_study_area_leaves_out_the_gap_between_two_towns():
    lon1, lat1 = town(300, -2.98, 53.41, spread=0.005, seed=1)
    lon2, lat2 = town(300, -2.80, 53.41, spread=0.005, seed=2)  # 12 km east
    inc = read_incidents(("two.csv", latlon_csv(np.r_[lon1, lon2], np.r_[lat1, lat2])))
    area = inc.study_area
    assert shapely.intersects_xy(area, inc.frame["x"], inc.frame["y"]).all()
    hull = shapely.convex_hull(shapely.multipoints(inc.xy))
    assert area.area < 0.5 * hull.buffer(250).area
    assert area.geom_type == "MultiPolygon"


def test_given_study_area_polygon_in_wgs84():
    poly = shapely.box(-3.0, 53.40, -2.96, 53.42)
    data = "lat,lon\n53.41,-2.98\n53.41,-2.90\n53.415,-2.99\n"
    inc = read_incidents(("p.csv", data.encode()), study_area=poly)
    r = accounted(inc)
    assert reasons_by_row(inc) == {3: "outside study area polygon"}
    assert r.choices["study_area_rule"] == "given"
    assert r.choices["outlier_rule"] == "replaced by the given study area"
    assert inc.study_area.area / 1e6 == pytest.approx(r.choices["study_area_km2"], rel=1e-3)
    assert 5 < r.choices["study_area_km2"] < 7  # 0.04 deg x 0.02 deg at 53.4 N ~ 2.65 km x 2.22 km


def test_given_study_area_geojson_file(tmp_path):
    gj = tmp_path / "area.geojson"
    gj.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
        '"geometry":{"type":"Polygon","coordinates":[[[-3.0,53.4],[-2.96,53.4],[-2.96,53.42],'
        "[-3.0,53.42],[-3.0,53.4]]]}}]}"
    )
    inc = read_incidents(("p.csv", b"lat,lon\n53.41,-2.98\n53.41,-2.90\n"), study_area=gj)
    assert len(inc) == 1


# ------------------------------------------------------------------------------ parameters


def test_given_crs_and_bad_parameters():
    data = b"lat,lon\n53.41,-2.98\n"
    inc = read_incidents(("c.csv", data), crs="EPSG:32630")
    assert inc.crs.to_epsg() == 32630
    assert "given by the caller" in inc.report.choices["crs_reason"]
    with pytest.raises(ParameterError, match="projected CRS in metres"):
        read_incidents(("c.csv", data), crs="EPSG:4326")
    with pytest.raises(ParameterError, match="Unknown role"):
        read_incidents(("c.csv", data), columns={"latitude": "lat"})
    with pytest.raises(ParameterError, match="outlier_km"):
        read_incidents(("c.csv", data), outlier_km=-1)
    with pytest.raises(ParameterError, match="date_from"):
        read_incidents(("c.csv", data), date_from="not a date")
    with pytest.raises(ParameterError, match="harm_weights"):
        read_incidents(("c.csv", data), harm_weights={"Robbery": -1})


def test_column_role_can_be_switched_off():
    data = b"lat,lon,crime_type\n53.41,-2.98,Robbery\n"
    inc = read_incidents(("c.csv", data), columns={"crime_type": None})
    assert "crime_type" not in inc.report.files[0].columns
    assert inc.frame["crime_type"].iloc[0] == ""


# --------------------------------------------------------------------------------- sources


def test_folder_file_objects_and_paths(tmp_path):
    (tmp_path / "2024-02.csv").write_bytes(police_csv([police_row("b", -2.97, 53.42)]))
    (tmp_path / "2024-01.csv").write_bytes(police_csv([police_row("a", -2.98, 53.41)]))
    (tmp_path / "notes.txt").write_text("not a csv")
    inc = read_incidents(tmp_path)
    r = accounted(inc)
    assert [f.name for f in r.files] == ["2024-01.csv", "2024-02.csv"]
    assert len(r.files[0].sha256) == 64
    assert list(inc.frame["source_file"]) == ["2024-01.csv", "2024-02.csv"]

    class Upload(io.BytesIO):
        name = "upload.csv"

    up = Upload(police_csv([police_row("c", -2.96, 53.43)]))
    up.read()  # pointer at the end, as after a previous read
    inc = read_incidents([up, tmp_path / "2024-01.csv"])
    assert [f.name for f in inc.report.files] == ["upload.csv", "2024-01.csv"]
    assert len(inc) == 2


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="No such file"):
        read_incidents(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no .csv files"):
        read_incidents(tmp_path)


# ------------------------------------------------------------------------------ properties

_JUNK = st.one_of(
    st.sampled_from(["", "NA", "N/A", "null", "-", "53.41", "-2.98", "53,41", "0", "1e400", "nan",
                     "inf", "-inf", "2024-01-05 21:30", "13/13/2024", "2024-02-30", "Robbery",
                     '"', "a,b", "x\ny", "\ufeff", "\x00", "999999999", "-0"]),
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(_JUNK, min_size=3, max_size=6), min_size=0, max_size=12),
    delim=st.sampled_from([",", ";", "\t"]),
    header=st.sampled_from(["lat,lon,date,crime_type,weight", "Easting,Northing,Date,x,y"]),
)
def test_junk_cells_only_input_error_and_rows_accounted(rows, delim, header):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim)
    w.writerow(header.split(","))
    w.writerow(["53.41", "-2.98", "2024-01-05", "Robbery", "1"] if header.startswith("lat")
               else ["530009", "180453", "2024-01-05", "1", "2"])  # fmt: skip
    for r in rows:
        w.writerow(r)
    try:
        inc = read_incidents(("junk.csv", buf.getvalue().encode("utf-8", "surrogatepass")))
    except InputError:
        return
    r = inc.report
    assert r.n_read == r.n_used + r.n_rejected
    assert r.n_used == len(inc.frame)
    assert inc.frame["x"].notna().all()
    # A row whose date cannot be read keeps its location (issue 9), so a junk row can now reach the
    # default crime-type filter and be filtered out rather than rejected as invalid.
    assert set(r.rejected["reason"]) <= {
        "malformed row", "missing coordinates", "non-numeric coordinates",
        "coordinates out of range", "null island (0, 0)", "unparseable date", "invalid weight",
        "duplicate row", "spatial outlier", *FILTER_REASONS,
    }  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_bytes_only_input_error(data):
    try:
        inc = read_incidents(("bytes.csv", data))
    except InputError:
        return
    assert inc.report.n_read == inc.report.n_used + inc.report.n_rejected


# ------------------------------------------------------------------------------- real data


def _shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@pytest.mark.shared_data
def test_merseyside_default_violence_types(monkeypatch):
    folder = _shared("police_uk", "merseyside_2022-01_to_2022-06")
    expected = 0
    total = 0
    points = set()
    for f in sorted(folder.glob("*.csv")):
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                total += 1
                if row["Longitude"]:
                    points.add((float(row["Longitude"]), float(row["Latitude"])))
                if row["Longitude"] and row["Crime type"] in VIOLENCE_TYPES_POLICE_UK:
                    expected += 1
    # Speed is measured in benchmarks/bench_ingest.py; here the work is counted: each distinct
    # map point is projected once and tested for outliers once, whatever its number of rows.
    projected = _record_sizes(monkeypatch, crs_mod, "transform")
    tested = _record_sizes(monkeypatch, ingest_mod, "_outliers")
    inc = read_incidents(folder)
    r = accounted(inc)
    assert r.n_read == total == 94_340
    assert r.n_used == expected == 37_760 + 637 + 676
    assert inc.crs.to_epsg() == 27700
    assert r.choices["n_outliers"] == 0
    assert r.reason_counts() == {"crime type not selected": total - expected}
    assert r.choices["date_range"] == {"first_month": "2022-01", "last_month": "2022-06"}
    assert len(r.files) == 6
    assert len(points) == 14_066
    assert projected == [len(points)]
    assert tested == [len(points)]


@pytest.mark.shared_data
def test_city_of_london_outliers_and_missing_locations():
    folder = _shared("police_uk", "city-of-london_2024-01_to_2025-12")
    inc = read_incidents(folder, crime_types="all")
    r = accounted(inc)
    assert r.n_read == 18_867
    rej = r.rejected
    assert (rej["reason"] == "missing coordinates").sum() == 1_589
    # far-away points: > 20 km from the City (Bank junction)
    lon0, lat0 = -0.0886, 51.5133
    out = rej[rej["reason"] == "spatial outlier"]
    lon = out["Longitude"].astype(float)
    lat = out["Latitude"].astype(float)
    km = np.hypot((lon - lon0) * 111.32 * math.cos(math.radians(51.5)), (lat - lat0) * 110.57)
    assert (km > 10).all()
    located = rej[rej["Longitude"] != ""]
    lonr = located["Longitude"].astype(float)
    latr = located["Latitude"].astype(float)
    kmr = np.hypot((lonr - lon0) * 111.32 * math.cos(math.radians(51.5)), (latr - lat0) * 110.57)
    far = kmr > 20
    assert far.sum() == 32
    assert (located.loc[far, "reason"] == "spatial outlier").all()
    kept_km = np.hypot((inc.frame["lon"] - lon0) * 111.32 * math.cos(math.radians(51.5)),
                       (inc.frame["lat"] - lat0) * 110.57)  # fmt: skip
    assert kept_km.max() < 20
    assert (kept_km < 1.5).sum() > 15_000  # the City's own points are kept
    assert inc.crs.to_epsg() == 27700


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "rows"),
    [("chicago_aggravated_assaults_2010-2019.csv", 148_636), ("memphis_robberies_2019.csv", 2_245)],
)
def test_us_files_utm16_with_evening_peak(name, rows):
    inc = read_incidents(_shared("us", name))
    r = accounted(inc)
    assert r.n_read == rows
    assert inc.crs.to_epsg() == 32616
    assert inc.has_time
    assert r.choices["time_of_day_known"] == 1.0
    hours = inc.frame["datetime"].dt.hour.value_counts()
    assert hours.idxmax() in range(18, 24)
    assert hours.get(5, 0) < hours.max() / 3


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "la.csv",
            "DR_NO,DATE OCC,TIME OCC,Crm Cd Desc,LOCATION,LAT,LON\n"
            "1,03/01/2020 12:00:00 AM,2130,ROBBERY,1900 S LONGWOOD AV,34.0375,-118.3506\n"
            "2,02/08/2020 12:00:00 AM,0815,ROBBERY,1000 S FLOWER ST,34.0444,-118.2628\n",
            ["2020-03-01 21:30", "2020-02-08 08:15"],
        ),
        (
            "nyc.csv",
            "CMPLNT_NUM,CMPLNT_FR_DT,CMPLNT_FR_TM,OFNS_DESC,Latitude,Longitude\n"
            "1,12/31/2019,17:30:00,FELONY ASSAULT,40.70,-73.99\n"
            "2,12/30/2019,01:00:00,ROBBERY,40.71,-73.98\n",
            ["2019-12-31 17:30", "2019-12-30 01:00"],
        ),
    ],
)
def test_us_open_data_layouts(name, text, expected):
    """Los Angeles and New York open-data headers: date, time and offence columns are found."""
    inc = read_incidents((name, text.encode()))
    assert inc.frame["has_time"].all()
    assert list(inc.frame["datetime"].dt.strftime("%Y-%m-%d %H:%M")) == expected
    assert (inc.frame["crime_type"] != "").all()
    assert inc.crs.to_epsg() in (32611, 32618)


def test_default_keeps_violence_by_name_in_other_taxonomies():
    text = (
        "lat,lon,Primary Type\n"
        "41.80,-87.60,BATTERY\n41.80,-87.61,THEFT\n41.81,-87.60,ROBBERY\n"
        "41.81,-87.61,CRIMINAL DAMAGE\n41.82,-87.60,WEAPONS VIOLATION\n"
        "41.82,-87.61,AGGRAVATED ASSAULT\n"
    )
    inc = read_incidents(("chicago.csv", text.encode()))
    assert sorted(inc.frame["crime_type"]) == [
        "AGGRAVATED ASSAULT",
        "BATTERY",
        "ROBBERY",
        "WEAPONS VIOLATION",
    ]
    rej = inc.report.rejected
    assert sorted(rej["source_row"]) == [3, 5] and set(rej["reason"]) == {"crime type not selected"}
    assert any("2 other type(s) were filtered out" in n for n in inc.report.notes)
    # with no violent type at all, nothing is filtered (and a note says why)
    only = read_incidents(
        ("burglary.csv", b"lat,lon,Crime type\n41.80,-87.60,BURGLARY\n41.81,-87.61,THEFT\n")
    )
    assert len(only) == 2 and any("no type that names violence" in n for n in only.report.notes)
    assert len(read_incidents(("chicago.csv", text.encode()), crime_types="all")) == 6


def test_nothing_usable_hint_follows_the_main_reason():
    asb = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
        "Crime type,Last outcome category,Context\n"
        ",2024-01,X,X,-2.98,53.4,On or near A,E1,A,Anti-social behaviour,,\n"
    )
    with pytest.raises(InputError, match="crime type not selected: 1") as info:
        read_incidents(("asb.csv", asb.encode()))
    assert "choose the types to keep" in str(info.value)
    with pytest.raises(InputError, match="out of range") as info:
        read_incidents(("swapped.csv", b"lat,lon\n-2.98,253.4\n-2.97,253.5\n"))
    assert "not swapped" in str(info.value)
