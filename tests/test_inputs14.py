"""The reading options of session 14 (helper inputs14), through every layer.

- ``date_order`` (``--date-order``, the app's *Day and month order in dates*): dates that read
  only in the other order are unreadable dates, listed with the option and the fix;
- the analysis CRS (``crs=``, ``--crs``, the app's *Analysis CRS*): refused when not projected
  in metres, warned about when its area of use leaves out incidents;
- dates that cannot be true (before 1900-01-01, after the read plus a day) are unreadable dates;
  two-digit years and Excel serials stay on the right side of the line;
- control characters (ANSI colour codes) in a text file are removed, not a reason to refuse it.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from hotspots import HotspotsWarning, InputError, ParameterError, cli, ingest, workflows
from hotspots.incidents import SYNTHETIC_FORCE
from hotspots.ingest import combine_files, list_sources, read_file, read_files, read_incidents
from hotspots.problem import read_by_force

APP = str(Path(__file__).resolve().parent.parent / "app.py")
LATEST = np.datetime64("2026-12-02T00:00:00", "ns")


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    """The read's date fixed, so the bounds of dates that cannot be true are known."""
    monkeypatch.setattr(ingest, "latest_date", lambda: LATEST)


def _csv(dates, *, lat0=53.40, lon0=-2.98, extra=None) -> bytes:
    rows = ["id,date,lat,lon,offence"]
    for i, d in enumerate(dates):
        rows.append(f"{i},{d},{lat0 + (i % 10) * 1e-3:.4f},{lon0 + (i % 7) * 1e-3:.4f},Assault")
    return ("\n".join(rows) + "\n").encode()


def _clustered(dates, lat0=51.51, lon0=-0.10, seed=3) -> bytes:
    """A tight cluster (half the rows) in a wider scatter: a hot spot is found."""
    rng = np.random.default_rng(seed)
    n = len(dates)
    k = n // 2
    lat = np.r_[rng.normal(lat0, 0.0004, k), rng.uniform(lat0 - 0.03, lat0 + 0.03, n - k)]
    lon = np.r_[rng.normal(lon0, 0.0006, k), rng.uniform(lon0 - 0.05, lon0 + 0.05, n - k)]
    frame = pd.DataFrame(
        {"id": range(n), "date": dates, "lat": lat.round(6), "lon": lon.round(6),
         "offence": "Assault"}
    )  # fmt: skip
    return frame.to_csv(index=False).encode()


def _read(data: bytes, name: str = "a.csv", **kw):
    return read_incidents((name, data), crime_types="all", outlier_km=0, **kw)


AMBIGUOUS = ["03/04/2022"] * 30 + ["25/04/2022", "26/04/2022"]


# ------------------------------------------------------------------------------ date order
def test_date_order_auto_and_given():
    auto = _read(_csv(AMBIGUOUS))
    assert auto.report.n_used == 32
    assert auto.report.choices["date_order"]["a.csv"].startswith("day-first (a first field")
    day = _read(_csv(AMBIGUOUS), date_order="day-first")
    assert day.report.n_used == 32
    assert day.report.choices["date_order"] == {"a.csv": "day-first (set by the user)"}
    assert (day.frame["datetime"].dt.month == 4).all()
    month = _read(_csv(AMBIGUOUS), date_order="month-first")
    r = month.report
    assert r.choices["date_order"] == {"a.csv": "month-first (set by the user)"}
    assert r.n_used == 30 and r.reason_counts() == {"unparseable date": 2}
    assert list(r.rejected["source_row"]) == [32, 33]
    assert (r.rejected["column"] == "date").all()
    detail = r.rejected["detail"].iloc[0]
    assert "date_order='month-first'" in detail and "--date-order month-first" in detail
    assert "fix:" in detail and "day first" in detail
    assert (month.frame["datetime"].dt.month == 3).all()  # 03/04 is 4 March
    note = next(n for n in r.notes if "reads only" in n or "read only" in n)
    assert "2 value(s)" in note and "line 32" in note and "line 33" in note


def test_a_date_order_the_data_contradict_most_of_the_time_keeps_the_rows_for_location():
    dates = ["13/01/2022"] * 20 + ["01/02/2022"] * 5
    inc = _read(_csv(dates), date_order="month-first")
    r = inc.report
    assert r.n_used == 25 and r.n_read == 25  # kept: most of the column is unreadable
    assert r.choices["unreadable_dates_kept"] == 20
    assert inc.frame["datetime"].isna().sum() == 20
    rejected = _read(_csv(dates), date_order="month-first", unreadable_dates="reject").report
    assert rejected.reason_counts() == {"unparseable date": 20}


def test_date_order_is_checked_and_threaded_through_each_reader(tmp_path):
    with pytest.raises(ParameterError, match="date_order must be one of"):
        _read(_csv(AMBIGUOUS), date_order="ymd")
    data = _csv(AMBIGUOUS)
    whole = _read(data, date_order="month-first")
    one = read_file("a.csv", data, date_order="month-first")
    assert one.date_order == "month-first (set by the user)"
    combined = combine_files([one], crime_types="all", outlier_km=0)
    pd.testing.assert_frame_equal(combined.frame, whole.frame)
    assert combined.report.reason_counts() == whole.report.reason_counts()
    items = list_sources([("a.csv", data)])
    files = read_files(items, date_order="month-first")
    assert files[0].rejects.counts() == one.rejects.counts()
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    via = workflows.read_inputs([str(path)], crime_types="all", date_order="month-first")
    assert via.report.reason_counts() == {"unparseable date": 2}
    pooled, forces = read_by_force(str(path), date_order="month-first", crs="EPSG:32630")
    assert pooled.report.reason_counts() == {"unparseable date": 2}
    assert pooled.crs.to_epsg() == 32630 and len(forces) == 1


# ----------------------------------------------------------------- dates that cannot be true
def test_dates_that_cannot_be_true_are_unreadable_dates():
    dates = ["2022-01-05"] * 30 + ["2099-01-01", "1850-02-03"]
    r = _read(_csv(dates)).report
    assert r.n_used == 30 and r.reason_counts() == {"unparseable date": 2}
    assert list(r.rejected["source_row"]) == [32, 33]
    assert r.rejected["detail"].str.contains("cannot be true").all()
    note = next(n for n in r.notes if "cannot be true" in n)
    assert "2 value(s)" in note and "'2099-01-01' on line 32" in note
    assert "'1850-02-03' on line 33" in note and "2026-12-02" in note
    assert r.choices["dates_that_cannot_be_true"] == {
        "rows": 2, "earliest": "1900-01-01", "latest": "2026-12-02",
    }  # fmt: skip
    kept = _read(_csv(dates), unreadable_dates="keep")
    assert kept.report.n_used == 32 and kept.frame["datetime"].isna().sum() == 2


def test_a_column_of_future_dates_keeps_its_rows_for_location():
    inc = _read(_csv(["2099-03-01"] * 30 + ["2022-01-01"]))
    r = inc.report
    assert r.n_used == 31 and r.choices["unreadable_dates_kept"] == 30
    assert inc.frame["month"].dropna().astype(str).str[:7].tolist() == ["2022-01"]


def test_synthetic_data_may_lie_ahead():
    """A simulated operation of a plan that starts next week (``Falls within`` the synthetic
    force, as :func:`hotspots.assess.write_simulated_incidents` writes): its dates are read."""
    rows = ["Date,Latitude,Longitude,Falls within"]
    rows += [
        f"2027-0{1 + i % 3}-1{i % 9},53.40{i % 9},-2.98{i % 7},{SYNTHETIC_FORCE}" for i in range(20)
    ]
    r = _read(("\n".join(rows) + "\n").encode()).report
    assert r.n_used == 20 and not r.reason_counts() and r.synthetic
    assert "dates_that_cannot_be_true" not in r.choices


def test_dates_on_the_bounds_are_true():
    dates = ["1900-01-01", "2026-12-02", "2026-12-01 23:59", "2022-06-30"]
    r = _read(_csv(dates)).report
    assert r.n_used == 4 and "dates_that_cannot_be_true" not in r.choices
    late = ["1899-12-31", "2026-12-02 00:01", "2022-06-30"]
    r = _read(_csv(late), unreadable_dates="reject").report
    assert r.reason_counts() == {"unparseable date": 2}


def test_two_digit_years_are_never_read_into_the_future():
    dates = ["01/02/50", "01/02/26", "01/02/27", "15/03/99", "31/12/68"]
    inc = _read(_csv(dates))
    got = inc.frame.sort_values("source_row")["datetime"].dt.strftime("%Y-%m-%d").tolist()
    assert got == ["1950-02-01", "2026-02-01", "1927-02-01", "1999-03-15", "1968-12-31"]
    assert "dates_that_cannot_be_true" not in inc.report.choices


def test_excel_serials_stay_inside_and_a_future_serial_is_flagged():
    inc = _read(_csv(["45000", "45001.5", "44000"]))
    assert inc.report.n_used == 3
    assert inc.frame["datetime"].min() == pd.Timestamp("2020-06-18")
    late = _read(_csv(["45000"] * 10 + ["50000"])).report  # 2036-11-21
    assert late.reason_counts() == {"unparseable date": 1}
    assert late.choices["date_order"]["a.csv"].startswith("Excel serial")


def test_months_and_year_columns_that_cannot_be_true():
    rows = ["Crime ID,Month,Longitude,Latitude,Location,Crime type"]
    for i in range(20):
        rows.append(f"c{i},2024-0{1 + i % 3},-2.98{i % 7},53.40{i % 9},On or near X,Robbery")
    rows.append("c99,2099-01,-2.981,53.401,On or near X,Robbery")
    r = _read(("\n".join(rows) + "\n").encode(), "police.csv").report
    assert r.reason_counts() == {"unparseable date": 1}
    assert r.rejected["source_row"].tolist() == [22]
    parts = ["year,month,day,lat,lon"] + [
        f"2021,5,{d},53.40{d % 9},-2.98{d % 7}" for d in range(1, 21)
    ]
    parts.append("2099,5,1,53.401,-2.981")
    r = _read(("\n".join(parts) + "\n").encode(), "parts.csv").report
    assert r.reason_counts() == {"unparseable date": 1}
    assert "cannot be true" in r.rejected["detail"].iloc[0]


def test_cannot_be_true_equals_the_simple_rule():
    rng = np.random.default_rng(1)
    dt = (np.datetime64("1850-01-01", "ns") + rng.integers(0, 250 * 365, 500).astype(
        "timedelta64[D]"
    )).astype("datetime64[ns]")  # fmt: skip
    dt[::7] = np.datetime64("NaT")
    got = ingest._cannot_be_true(dt, LATEST)
    want = np.array(
        [
            not pd.isna(d) and (d < pd.Timestamp("1900-01-01") or d > pd.Timestamp(LATEST))
            for d in dt
        ]
    )
    assert (got == want).all()
    assert not ingest._cannot_be_true(np.array([], dtype="datetime64[ns]"), LATEST).any()


# ---------------------------------------------------------------------- control characters
def _ansi_police(n: int = 40) -> bytes:
    rows = ["Crime ID,Month,Longitude,Latitude,Location,Crime type"]
    for i in range(n):
        rows.append(
            f"id{i},2024-01,\x1b[32m-2.98{i % 10}\x1b[0m,53.40{i % 7},"
            f"\x1b[31mOn or near Foo\x1b[0m,\x1b[1mBurglary\x1b[0m\x07"
        )
    return ("\n".join(rows) + "\n").encode()


def test_a_file_with_ansi_codes_on_every_row_is_read_and_said():
    inc = _read(_ansi_police())
    r = inc.report
    assert r.n_used == 40 and not r.reason_counts()
    assert inc.frame["crime_type"].astype(str).unique().tolist() == ["Burglary"]
    assert inc.frame["location"].astype(str).unique().tolist() == ["On or near Foo"]
    note = next(n for n in r.notes if "control characters" in n)
    assert "40 row(s)" in note and "first on line 2" in note
    assert "'Crime type'" in note and "'Location'" in note and "'Longitude'" in note


def test_a_file_without_control_characters_has_no_such_note():
    r = _read(_csv(["2022-01-01"] * 5)).report
    assert not any("control characters" in n for n in r.notes)


def test_binary_files_are_still_refused():
    with pytest.raises(InputError, match="binary data"):
        _read(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(InputError, match="binary data"):
        _read(_ansi_police().replace(b"\n", b"\x00\n"))
    with pytest.raises(InputError, match="zip archive"):
        _read(b"PK\x03\x04" + bytes(range(256)) * 8)
    rng = np.random.default_rng(0)
    noise = bytes(rng.integers(1, 256, 4000, dtype=np.uint8)) + b"\n"  # no NUL, not UTF-8
    with pytest.raises(InputError, match="binary data"):
        _read(noise)


def test_without_controls_equals_the_simple_reference():
    pattern = re.compile(ingest._CONTROL_TEXT)
    rng = np.random.default_rng(7)
    alphabet = [
        "a",
        "B",
        " ",
        "\t",
        "\n",
        "\r",
        "\x1b[31m",
        "\x1b[0m",
        "\x07",
        "\x01",
        "\x00",
        "é",
        "1",
    ]
    values = ["", "x", "x", "\x1b[1m"] + [
        "".join(rng.choice(alphabet, rng.integers(0, 8))) for _ in range(300)
    ]
    arr = pa.array(values, type=pa.string())
    out, changed = ingest._without_controls(arr)
    want = [pattern.sub("", v) for v in values]
    assert out.to_pylist() == want
    assert changed is not None and changed.tolist() == [
        a != b for a, b in zip(values, want, strict=True)
    ]
    clean = pa.array(["a", "b\tc", "d\ne"], type=pa.string())
    same, none = ingest._without_controls(clean)
    assert none is None and same is clean  # the fast path: one look at the bytes
    empty, nothing = ingest._without_controls(pa.array([], type=pa.string()))
    assert nothing is None and len(empty) == 0


# ------------------------------------------------------------------------------- analysis CRS
US = _csv(["2022-01-05"] * 40, lat0=35.10, lon0=-90.00)  # Memphis


def test_an_analysis_crs_not_in_metres_is_refused_with_a_fix():
    for crs, why in (("EPSG:4326", "not projected"), ("EPSG:2263", "US survey foot")):
        with pytest.raises(ParameterError, match=why) as err:
            _read(US, crs=crs)
        assert "--crs" in str(err.value) and "EPSG:5070" in str(err.value)
    with pytest.raises(ParameterError, match="not one pyproj knows"):
        _read(US, crs="EPSG:999999")


def test_an_analysis_crs_made_for_another_area_is_warned_about():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inc = _read(US, crs="EPSG:5070")  # the contiguous US: no warning
    assert inc.crs.to_epsg() == 5070 and "crs_outside_area_share" not in inc.report.choices
    assert "given by the caller" in inc.report.choices["crs_reason"]
    with pytest.warns(HotspotsWarning, match=r"100\.0 % of the incidents lie outside"):
        far = _read(US, crs="EPSG:27700")
    assert far.report.choices["crs_outside_area_share"] == 1.0
    assert any("--crs" in n and "outside it" in n for n in far.report.notes)


def test_the_wide_data_warning_names_the_crs_option():
    rng = np.random.default_rng(2)
    rows = ["date,lat,lon"]
    for city_lat, city_lon in ((40.7, -74.0), (34.05, -118.2), (41.9, -87.6), (29.8, -95.4)):
        for _ in range(60):
            lat = city_lat + rng.normal(0, 0.01)
            lon = city_lon + rng.normal(0, 0.01)
            rows.append(f"2022-01-05,{lat:.5f},{lon:.5f}")
    with pytest.warns(HotspotsWarning, match="measures these data badly") as got:
        _read(("\n".join(rows) + "\n").encode(), "us.csv")
    text = " ".join(str(w.message) for w in got)
    assert "--crs" in text and "EPSG:5070" in text


# ------------------------------------------------------------------------------------- CLI
def test_cli_reading_options(tmp_path):
    src = tmp_path / "a.csv"
    src.write_bytes(_clustered(["03/04/2022"] * 594 + ["25/04/2022"] * 6))
    report, rejected, out = tmp_path / "r.json", tmp_path / "rej.csv", tmp_path / "h.geojson"
    args = ["--quiet", "detect", str(src), "--crime-types", "all", "--out", str(out)]
    args += ["--report", str(report), "--rejected", str(rejected)]
    assert cli.main([*args, "--date-order", "month-first", "--crs", "EPSG:32630"]) == 0
    rep = json.loads(report.read_text())
    choices = rep["choices"]
    assert choices["date_order"] == {"a.csv": "month-first (set by the user)"}
    assert choices["crs"] == "EPSG:32630" and "given by the caller" in choices["crs_reason"]
    rows = pd.read_csv(rejected)
    assert len(rows) == 6 and rows["detail"].str.contains("--date-order month-first").all()
    record = json.loads(out.read_text())["hotspots_parameters"]
    assert "month-first (set by the user)" in json.dumps(record)
    assert cli.main([*args, "--crs", "EPSG:4326"]) != 0


def test_cli_help_lists_the_reading_options(capsys):
    with pytest.raises(SystemExit):
        cli.main(["detect", "--help"])
    text = capsys.readouterr().out
    assert "--date-order {auto,day-first,month-first}" in text and "--crs CRS" in text


# ------------------------------------------------------------------------------------- app
def test_the_app_reads_with_the_reading_options():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    data = _clustered(["03/04/2022"] * 580 + ["25/04/2022"] * 20)
    at.sidebar.file_uploader(key="uploads").set_value(("a.csv", data, "text/csv"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.sidebar.selectbox(key="read_date_order").set_value("month-first")
    at.button(key="filters_submit").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.session_state["tab"] = "Data and report"
    at.run()
    rejected = next(m.value for m in at.metric if m.label == "Rejected (invalid rows)")
    assert rejected == "20"
    texts = [str(t.value) for t in at.text]
    said = [t for t in texts if "read only with the day first" in t]
    assert said and "date_order=" not in said[0] and "'Month first' under 2. Filters" in said[0]
    # an analysis CRS in degrees: one readable error, and the options to change it
    at.sidebar.text_input(key="read_analysis_crs").set_value("EPSG:4326")
    at.button(key="filters_submit").click()
    at.run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and "not projected" in errors[0] and "--crs" not in errors[0]
    at.sidebar.text_input(key="read_analysis_crs").set_value("EPSG:27700")
    at.button(key="reading_submit").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]


def test_unreadable_dates_on_the_command_line_and_through_each_reader(tmp_path, capsys):
    """``--unreadable-dates`` (the notes name it): two stray bad dates among 30 are rejected by
    default, kept without a date with ``keep``; the same through read_inputs and read_by_force."""
    dates = ["2022-01-05"] * 30 + ["2099-01-01", "not a date"]
    path = tmp_path / "a.csv"
    path.write_bytes(_clustered(dates))
    auto = workflows.read_inputs([str(path)], crime_types="all", outlier_km=0)
    assert auto.report.reason_counts() == {"unparseable date": 2}
    kept = workflows.read_inputs(
        [str(path)], crime_types="all", outlier_km=0, unreadable_dates="keep"
    )
    assert kept.report.n_used == 32 and not kept.report.reason_counts()
    assert int(kept.frame["datetime"].isna().sum()) == 2
    pooled, _ = read_by_force(str(path), unreadable_dates="keep", outlier_km=0)
    assert pooled.report.n_used == 32
    report = tmp_path / "r.json"
    args = ["detect", str(path), "--crime-types", "all", "--outlier-km", "0", "--all"]
    out = ["--out", str(tmp_path / "h.geojson"), "--report", str(report)]
    assert cli.main([*args, *out, "--unreadable-dates", "keep"]) == 0
    assert json.loads(report.read_text())["rows_used"] == 32
    assert cli.main([*args, *out]) == 0
    assert json.loads(report.read_text())["rows_used"] == 30
    assert "--unreadable-dates" in capsys.readouterr().out  # the note names the option
    with pytest.raises(SystemExit):
        cli.main([*args, *out, "--unreadable-dates", "sometimes"])


def test_unreadable_times_beside_a_date_keep_the_date():
    """A time column the reader cannot read beside a date column: the rows keep their dates
    and lose only the time of day, and the note says so."""
    rows = ["id,date,time,lat,lon,offence"]
    rows += [f"{i},2022-01-{1 + i % 28:02d},{25 + i % 50}h{i},53.40{i % 9},-2.98{i % 7},Assault"
             for i in range(40)]  # fmt: skip
    inc = _read(("\n".join(rows) + "\n").encode())
    r = inc.report
    assert r.n_used == 40 and not r.reason_counts()
    assert inc.frame["datetime"].notna().all() and not inc.frame["has_time"].any()
    assert inc.frame["datetime"].dt.day.tolist() == [1 + i % 28 for i in range(40)]
    note = next(n for n in r.notes if "could not be read" in n)
    assert "40 of 40 value(s) in 'time'" in note and "kept with their date but no time" in note
    assert "unreadable_dates_kept" not in r.choices


def test_times_written_as_fractions_of_a_day():
    """A spreadsheet's time cells without a time format export as day fractions: read as such."""
    fracs = ["0.25", "0.5", ".75", "0.9993", "0.0416666667", ""]
    rows = ["id,date,time,lat,lon,offence"]
    rows += [f"{i},2022-01-0{1 + i},{f},53.40{i},-2.98{i},Assault" for i, f in enumerate(fracs)]
    inc = _read(("\n".join(rows) + "\n").encode())
    got = inc.frame.sort_values("source_row")
    assert got["datetime"].dt.strftime("%H:%M:%S").tolist()[:5] == [
        "06:00:00", "12:00:00", "18:00:00", "23:59:00", "01:00:00",
    ]  # fmt: skip
    assert got["has_time"].tolist() == [True] * 5 + [False]
    assert any("fractions of a day" in n and "'0.25' is 06:00" in n for n in inc.report.notes)
    # a fraction of 1 or more is no time of day: unreadable as before
    bad = _read(("\n".join([*rows[:-1], "9,2022-01-09,1.5,53.409,-2.989,Assault"]) + "\n").encode())
    assert not any("fractions of a day" in n for n in bad.report.notes)
