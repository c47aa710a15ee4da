"""Workbooks (Excel, OpenDocument) read as one incident file per sheet (hotspots.spreadsheets).

Each workbook is written here with openpyxl from rows whose CSV reading is known, so a sheet's
reading is checked against the same rows read as CSV text.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError
from hotspots.ingest import read_incidents
from hotspots.spreadsheets import EMPTY_SHEET, HIDDEN_SHEET, cell_text, sheet_csv

openpyxl = pytest.importorskip("openpyxl")

HEADER = ["Crime ID", "Month", "Falls within", "Longitude", "Latitude", "Location", "Crime type"]


def police_rows(n: int, seed: int = 1) -> list[list]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        lon = round(-2.98 + rng.random() * 0.02, 6)
        lat = round(53.40 + rng.random() * 0.02, 6)
        kind = "Violence and sexual offences" if i % 3 else "Robbery"
        rows.append(
            [f"id{seed}-{i}", "2024-01", "Merseyside Police", lon, lat, "On or near X", kind]
        )
    return rows


def workbook(sheets: dict[str, list[list]], *, at: str = "A1", hidden=(), chart=False) -> bytes:
    """An .xlsx whose sheets hold ``rows`` from cell ``at``; ``hidden`` sheets hidden."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    col0 = ord(at[0]) - ord("A")
    row0 = int(at[1:]) - 1
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    ws.cell(row=row0 + r + 1, column=col0 + c + 1, value=value)
        if name in hidden:
            ws.sheet_state = "hidden"
    if chart:
        from openpyxl.chart import BarChart

        cs = wb.create_chartsheet("Chart")
        cs.add_chart(BarChart())
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list]) -> bytes:
    return pd.DataFrame(rows[1:], columns=rows[0]).to_csv(index=False).encode()


def frame_of(inc) -> pd.DataFrame:
    return inc.frame.drop(columns=["source_file"], errors="ignore").reset_index(drop=True)


def test_cell_text_is_what_a_csv_export_holds():
    assert cell_text(53.401234) == "53.401234"
    assert cell_text(-0.1) == "-0.1"
    assert cell_text(7.0) == "7" and cell_text(7) == "7"
    assert cell_text(1e300) == "1e+300"
    assert cell_text(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert cell_text(dt.time(22, 30)) == "22:30:00"
    assert cell_text(dt.timedelta(hours=26, minutes=5)) == "26:05:00"
    assert cell_text("Line one\r\nline two") == "Line one line two"
    assert cell_text(False) == "FALSE" and cell_text(None) == ""
    # a table from column C: the two empty columns go, every row as wide as the widest
    text = sheet_csv([[None, None, "a", "b", "c"], [None, None, 1], [], [None, None, 2, None, 3]])
    assert text.decode() == "a,b,c\n1,,\n\n2,,3\n"


def test_a_sheet_reads_as_the_same_rows_in_a_csv():
    rows = [HEADER, *police_rows(60)]
    xlsx = read_incidents(("book.xlsx", workbook({"Jan": rows})), crime_types="all")
    csv = read_incidents(("book.csv", csv_bytes(rows)), crime_types="all")
    a, b = frame_of(xlsx), frame_of(csv)
    assert len(a) == 60
    pd.testing.assert_frame_equal(
        a.drop(columns=["source_row"], errors="ignore"),
        b.drop(columns=["source_row"], errors="ignore"),
    )
    assert xlsx.crs == csv.crs
    assert [f.name for f in xlsx.report.files] == ["book.xlsx [Jan]"]
    assert xlsx.report.n_used == csv.report.n_used == 60


def test_rejected_rows_name_the_sheet_and_its_row_numbers():
    rows = [HEADER, *police_rows(30)]
    rows[5][4] = "#N/A"  # data row 5: sheet row 3 + 5 = 8 (header on row 3)
    rows[9][3] = "not a number"  # sheet row 12
    data = workbook({"Incidents": rows}, at="C3")
    inc = read_incidents(("f.xlsx", data), crime_types="all")
    r = inc.report
    assert r.n_read == 30 and r.n_used == 28
    rej = r.rejected.sort_values("source_row")
    assert rej["source_file"].tolist() == ["f.xlsx [Incidents]"] * 2
    assert rej["source_row"].tolist() == [8, 12]
    assert rej["Latitude"].tolist() == ["", rows[9][4].__str__()]  # an error cell is empty
    assert rej["Longitude"].tolist()[1] == "not a number"
    assert rej["reason"].tolist() == ["missing coordinates", "non-numeric coordinates"]


def test_every_visible_sheet_is_read_and_the_others_named():
    jan, feb = [HEADER, *police_rows(20, 1)], [HEADER, *police_rows(25, 2)]
    data = workbook(
        {"Jan": jan, "Feb": feb, "Lookup": [["code", "name"], [1, "x"]], "Blank": []},
        hidden=("Lookup",),
        chart=True,
    )
    inc = read_incidents(("y.xlsx", data), crime_types="all")
    assert inc.report.n_used == 45
    assert sorted(set(inc.frame["source_file"])) == ["y.xlsx [Feb]", "y.xlsx [Jan]"]
    skipped = {k["name"]: k["reason"] for k in inc.report.choices["skipped_files"]}
    assert skipped["y.xlsx [Lookup]"] == HIDDEN_SHEET
    assert skipped["y.xlsx [Blank]"] == EMPTY_SHEET
    assert "chart" in skipped["y.xlsx [Chart]"]
    notes = " ".join(inc.report.notes)
    assert "y.xlsx [Lookup] was not read" in notes


def test_date_cells_keep_their_times():
    header = ["Date", "Longitude", "Latitude", "Offence"]
    when = [dt.datetime(2024, 3, 1, 22, 5) + dt.timedelta(hours=7 * i) for i in range(40)]
    rows = [header] + [
        [w, -2.98 + i * 1e-4, 53.40 + i * 1e-4, "Assault"] for i, w in enumerate(when)
    ]
    inc = read_incidents(("t.xlsx", workbook({"S": rows})), crime_types="all")
    got = pd.to_datetime(inc.frame["datetime"]).sort_values().tolist()
    assert got == [pd.Timestamp(w) for w in when]
    assert inc.has_time


def test_workbooks_in_folders_zips_and_uploads(tmp_path):
    rows = [HEADER, *police_rows(12)]
    data = workbook({"Jan": rows})
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "book.xlsx").write_bytes(data)
    (tmp_path / "d" / "~$book.xlsx").write_bytes(b"\x00lock")  # Excel's lock file: not data
    (tmp_path / "d" / "more.csv").write_bytes(csv_bytes([HEADER, *police_rows(5, 9)]))
    inc = read_incidents(tmp_path / "d", crime_types="all")
    assert inc.report.n_used == 17
    assert sorted(f.name for f in inc.report.files) == ["book.xlsx [Jan]", "more.csv"]

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("2024-01/book.xlsx", data)
    inc = read_incidents(("up.zip", buf.getvalue()), crime_types="all")
    assert [f.name for f in inc.report.files] == ["up.zip/2024-01/book.xlsx [Jan]"]

    upload = io.BytesIO(data)
    upload.name = "upload.xlsx"
    assert read_incidents(upload, crime_types="all").report.n_used == 12
    # a workbook by its content whatever its name; a CSV named .xlsx is read as CSV
    assert read_incidents(("export.csv", data), crime_types="all").report.n_used == 12
    plain = read_incidents(("misnamed.xlsx", csv_bytes(rows)), crime_types="all")
    assert plain.report.n_used == 12 and plain.report.files[0].name == "misnamed.xlsx"


def test_unreadable_workbooks_are_input_errors():
    with pytest.raises(InputError, match="no visible sheet with cells") as err:
        read_incidents(("empty.xlsx", workbook({"A": [], "B": []})))
    assert "empty.xlsx" in str(err.value)
    data = workbook({"Jan": [HEADER, *police_rows(5)]})
    with pytest.raises(InputError, match="empty.xlsx|cannot be read|zip"):
        read_incidents(("empty.xlsx", data[: len(data) // 2]))  # cut short in a copy


def test_the_cli_reads_a_workbook(tmp_path, capsys):
    from hotspots.cli import main

    path = tmp_path / "book.xlsx"
    path.write_bytes(workbook({"Jan": [HEADER, *police_rows(200)]}))
    out = tmp_path / "h.geojson"
    assert main(["--quiet", "detect", str(path), "--out", str(out), "--all"]) == 0
    import json

    run = json.loads(out.read_text())["hotspots_parameters"]
    assert "book.xlsx [Jan]" in json.dumps(run)


# ------------------------------------------------------------------ a title above the names


def police_csv_lines(rows: list[list]) -> list[str]:
    return [",".join(str(v) for v in r) for r in rows]


def test_a_title_above_the_column_names_is_not_read_as_rows():
    rows = [HEADER, *police_rows(30)]
    rows[7][3] = "x"  # a bad longitude: data row 7
    rows.append(list(rows[5]))  # a copy of data row 5 with its Crime ID: a duplicate
    body = police_csv_lines(rows)
    plain = read_incidents(("p.csv", ("\n".join(body) + "\n").encode()), crime_types="all")
    text = "\n".join(["Violent crime report, January 2024", "", *body]) + "\n"
    inc = read_incidents(("t.csv", text.encode()), crime_types="all")
    r = inc.report
    assert r.n_read == plain.report.n_read == 31
    assert r.n_used == plain.report.n_used == 29
    # the same rows rejected, two lines further down
    got = sorted(zip(r.rejected["reason"], r.rejected["source_row"], strict=True))
    want = sorted(
        zip(plain.report.rejected["reason"], plain.report.rejected["source_row"] + 2, strict=True)
    )
    assert got == want and len(got) == 2
    assert r.choices["title_lines"] == {"t.csv": 2}
    assert any(
        "lines 1-2 were read as a title above the column names (line 3)" in n for n in r.notes
    )
    np.testing.assert_array_equal(inc.frame["x"].to_numpy(), plain.frame["x"].to_numpy())


def test_a_title_padded_to_the_table_width_as_a_spreadsheet_saves_it():
    body = police_csv_lines([HEADER, *police_rows(20)])
    text = "\n".join(["Crimes in January" + "," * (len(HEADER) - 1), *body]) + "\n"
    inc = read_incidents(("s.csv", text.encode()), crime_types="all")
    assert inc.report.n_used == 20 and inc.report.choices["title_lines"] == {"s.csv": 1}
    # in a workbook: a title in A1, the table from row 3
    data = workbook({"Report": [["Crimes in January"], [], HEADER, *police_rows(20)]})
    book = read_incidents(("b.xlsx", data), crime_types="all")
    assert book.report.n_used == 20
    assert book.report.choices["title_lines"] == {"b.xlsx [Report]": 2}


def test_rows_of_the_wrong_width_are_not_taken_for_a_title():
    # every row one field wider than the header, and numbers in it: malformed, as before
    text = "lon,lat\n" + "".join(f"-2.9{i},53.4{i},9\n" for i in range(10))
    with pytest.raises(InputError, match="malformed"):
        read_incidents(("w.csv", text.encode()), crime_types="all")
    # a first line that is the column names stays the header, however short its names
    ok = read_incidents(("n.csv", police_csv_lines([HEADER, *police_rows(8)])[0].encode()
                         + b"\n" + "\n".join(police_csv_lines(police_rows(8))).encode()),
                        crime_types="all")  # fmt: skip
    assert "title_lines" not in ok.report.choices and ok.report.n_used == 8
