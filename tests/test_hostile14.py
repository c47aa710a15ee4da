"""Files built to break the workbook reader and the title rule (session 14's hostile tests).

Each test names what happened before its fix and asserts what happens now: a sheet laid out
as a huge, nearly empty grid (one stray cell at XFD1048576 ended the process), formulas never
calculated (read as empty coordinates), an OpenDocument file over the parser's cell limit (said
"Cannot detect file format"), rows above a table's column names passed over as a title unsaid,
a title above a semicolon table, Excel's lock file, an Apple Numbers document and a cut-short
workbook. The sheet scan (:func:`hotspots.spreadsheets._sheet_grid`, by literal searches over
chunks) is checked against an XML parse of the same sheets.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hotspots import InputError
from hotspots import spreadsheets as sp
from hotspots.ingest import read_incidents

openpyxl = pytest.importorskip("openpyxl")

HEADER = ["Longitude", "Latitude", "Crime type", "Date"]


def rows(n: int = 10) -> list[list]:
    return [
        [
            round(-2.98 + i * 0.001, 6),
            round(53.4 + i * 0.001, 6),
            "Burglary",
            f"2024-01-{1 + i % 9:02d}",
        ]
        for i in range(n)
    ]


def csv_text(records: list[list], sep: str = ",") -> str:
    return "".join(sep.join(str(v) for v in r) + "\n" for r in records)


def xlsx(fill) -> bytes:
    wb = openpyxl.Workbook()
    fill(wb.active)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table(ws, n: int = 10) -> None:
    ws.append(HEADER)
    for r in rows(n):
        ws.append(r)


def read(name: str, data: bytes):
    return read_incidents([(name, data)], crime_types="all")


def ods(body: str) -> bytes:
    """A minimal OpenDocument spreadsheet with one table "Crimes" holding ``body`` (rows)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Crimes">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
        'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
        'spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" '
        'manifest:media-type="text/xml"/></manifest:manifest>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def ods_cell(v) -> str:
    if isinstance(v, float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{v}">'
            f"<text:p>{v}</text:p></table:table-cell>"
        )
    return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'


def ods_rows(records) -> str:
    return "".join(
        "<table:table-row>" + "".join(ods_cell(v) for v in r) + "</table:table-row>"
        for r in records
    )


# --- the title rule ---------------------------------------------------------------------------


def test_rows_above_the_names_are_never_passed_over_as_a_title():
    # before: "Report" then 10 data rows then the column names: the 10 rows were read as a
    # title (lines 1-11) and lost unsaid; now no title is taken, so nothing is passed over
    body = csv_text(rows())
    names = ",".join(HEADER) + "\n"
    for text in ("Report\n" + body + names + body, "Report,,,\n" + body + names + body):
        with pytest.raises(InputError, match="coordinate columns"):
            read("t.csv", text.encode())


def test_a_data_row_of_words_is_not_taken_for_the_names():
    # every row has two fields more than a two-name header; a row of words among them
    # (no coordinate) looked like column names: the rows above it were a "title", unsaid
    records = rows(6)
    records.insert(3, ["Burglary", "On or near High Street", "Liverpool", "Merseyside"])
    text = "Longitude,Latitude\n" + csv_text(records)
    with pytest.raises(InputError) as err:
        read("t.csv", text.encode())
    assert "title" not in str(err.value)


def test_titles_are_still_read():
    body = csv_text(rows())
    names = ",".join(HEADER) + "\n"
    for text, lines in (
        ("Crimes January 2024\n" + names + body, 1),
        ("Crimes January 2024,,,\nGenerated 2024-02-01,,,\n" + names + body, 2),
        ("Longitude Latitude report\n" + names + body, 1),
    ):
        inc = read("t.csv", text.encode())
        assert len(inc.frame) == 10 and len(inc.report.rejected) == 0
        assert inc.report.choices["title_lines"] == {"t.csv": lines}


def test_a_title_above_a_semicolon_table():
    # before: the title line has no delimiter, so "," was taken and the table was one column
    body = csv_text(rows(), ";").replace(".", ",")  # decimal commas, as such files write
    text = "Crimes January 2024\n" + ";".join(HEADER) + "\n" + body
    inc = read("t.csv", text.encode())
    assert len(inc.frame) == 10 and len(inc.report.rejected) == 0
    assert inc.report.choices["title_lines"] == {"t.csv": 1}
    assert any("read as a title" in n for n in inc.report.notes)
    utf16 = read("t.csv", text.encode("utf-16"))
    assert len(utf16.frame) == 10


def test_a_title_and_a_header_repeated_mid_file():
    names = ",".join(HEADER) + "\n"
    body = csv_text(rows())
    inc = read("t.csv", ("Crimes\n" + names + body + names + body).encode())
    assert len(inc.frame) == 20
    rej = inc.report.rejected
    assert list(rej["source_row"]) == [13] and "header row again" in rej["detail"].iloc[0]


# --- sheets laid out as huge grids --------------------------------------------------------------


def test_a_stray_cell_at_xfd1048576_is_refused_before_the_parser_lays_it_out():
    # before: the parser asked for 17 billion cells and the process ended (SIGABRT)
    def fill(ws):
        table(ws)
        ws.cell(row=1048576, column=16384, value="x")

    with pytest.raises(InputError, match="row 1,048,576 and column 16,384") as err:
        read("b.xlsx", xlsx(fill))
    assert err.value.file == "b.xlsx [Sheet]" and "delete the rows" in err.value.hint


def test_the_bound_refuses_only_a_mostly_blank_grid(monkeypatch):
    monkeypatch.setattr(sp, "SPARSE_CELL_BOUND", 100)
    dense = read("b.xlsx", xlsx(lambda ws: table(ws, 40)))  # 41 x 4 grid, all cells: read
    assert len(dense.frame) == 40

    def stray(ws):
        table(ws)
        ws.cell(row=200, column=30, value="x")

    with pytest.raises(InputError, match="holds only 45 cells"):
        read("b.xlsx", xlsx(stray))


def test_an_opendocument_grid_is_checked_once_laid_out(monkeypatch):
    monkeypatch.setattr(sp, "SPARSE_CELL_BOUND", 1000)
    good = ods_rows([HEADER[:3], *[r[:3] for r in rows(3)]])
    assert len(read("b.ods", ods(good)).frame) == 3
    stray = (
        good + '<table:table-row table:number-rows-repeated="500"><table:table-cell '
        'table:number-columns-repeated="40"/></table:table-row><table:table-row>'
        '<table:table-cell table:number-columns-repeated="39"/>'
        + ods_cell("x")
        + "</table:table-row>"
    )
    with pytest.raises(InputError, match="reach row 505 and column 40") as err:
        read("b.ods", ods(stray))
    assert err.value.file == "b.ods [Crimes]"


def test_the_parsers_own_error_for_an_opendocument_file_over_its_cell_limit():
    # before: "Cannot detect file format" (opened from bytes, the parser tries every format)
    body = (
        ods_rows([HEADER[:3], *[r[:3] for r in rows(3)]])
        + '<table:table-row table:number-rows-repeated="500000"><table:table-cell '
        'table:number-columns-repeated="300"/></table:table-row><table:table-row>'
        '<table:table-cell table:number-columns-repeated="299"/>'
        + ods_cell("x")
        + "</table:table-row>"
    )
    with pytest.raises(InputError, match="Cell limit exceeded"):
        read("b.ods", ods(body))


# --- formulas ------------------------------------------------------------------------------------


def uncalculated(ws):
    ws.append(HEADER)
    for i, r in enumerate(rows(5)):
        ws.append([f"=-2.98+{i}*0.001", *r[1:]])


def test_formulas_never_calculated_are_refused_with_their_cell():
    # before: every coordinate read as empty: "all 5 rows rejected (missing coordinates)"
    with pytest.raises(InputError, match="5 cell.s. of the sheet hold a formula") as err:
        read("b.xlsx", xlsx(uncalculated))
    assert "cell A2" in str(err.value) and "save it" in err.value.hint


def with_values(data: bytes, value: bytes, kind: bytes = b"") -> bytes:
    """The workbook with each formula's empty value replaced by ``value`` (as a spreadsheet
    program saves it), its cells typed ``kind``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zi, zipfile.ZipFile(out, "w") as zo:
        for info in zi.infolist():
            part = zi.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                part = re.sub(rb'<c r="(A\d+)"><f>', rb'<c r="\1"' + kind + rb"><f>", part)
                part = part.replace(b"<v />", b"<v>" + value + b"</v>").replace(
                    b"<v/>", b"<v>" + value + b"</v>"
                )
            zo.writestr(info, part)
    return out.getvalue()


def test_calculated_formulas_are_read():
    inc = read("b.xlsx", with_values(xlsx(uncalculated), b"-2.98"))
    assert len(inc.frame) == 5
    # a formula whose calculated value is empty text is not "never calculated"
    grids = sp._ooxml_grids(with_values(xlsx(uncalculated), b"", b' t="str"'))
    assert grids["Sheet"].uncalculated == 0


# --- the sheet scan against an XML parse ------------------------------------------------------


def reference_grid(xml: bytes) -> tuple[int, int, int, int]:
    """(last row, last column, cells, formulas without a value) by ElementTree."""
    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rows_, cols, cells, bare = 0, 0, 0, 0
    for el in ET.fromstring(xml).iter():
        if el.tag == ns + "row" and el.get("r"):
            rows_ = max(rows_, int(el.get("r")))
        elif el.tag == ns + "c":
            cells += 1
            m = re.fullmatch(r"([A-Z]+)([0-9]+)", el.get("r", ""))
            if m:
                cols = max(cols, sp._column_number(m.group(1).encode()))
                rows_ = max(rows_, int(m.group(2)))
            f, v = el.find(ns + "f"), el.find(ns + "v")
            if f is not None and (v is None or not v.text) and el.get("t") != "str":
                bare += 1
    return rows_, cols, cells, bare


@pytest.mark.parametrize("chunk", [sp._CHUNK, 97, 1000])
def test_the_sheet_scan_equals_an_xml_parse(monkeypatch, chunk):
    monkeypatch.setattr(sp, "_CHUNK", chunk)
    rng = np.random.default_rng(14)
    for trial in range(6):

        def fill(ws, trial=trial):
            if trial == 0:
                return  # an empty sheet
            for _ in range(int(rng.integers(1, 60))):
                r, c = int(rng.integers(1, 3000)), int(rng.integers(1, 800 if trial > 2 else 20))
                ws.cell(
                    row=r, column=c, value="=1+1" if rng.random() < 0.1 else float(rng.random())
                )

        data = xlsx(fill)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            xml = z.read("xl/worksheets/sheet1.xml")
            got = sp._sheet_grid(z, "xl/worksheets/sheet1.xml")
        want = reference_grid(xml)
        assert (got.rows, got.cols, got.cells, got.uncalculated) == want
    assert set(sp._ooxml_grids(data)) == {"Sheet"}  # the scan is taken for each sheet


def test_the_sheet_scan_sees_rows_out_of_order_and_cells_below_their_row():
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    for data, want in (
        (
            '<row r="1048576"><c r="A1048576"><v>1</v></c></row>'
            '<row r="1"><c r="B1"><v>1</v></c></row>',
            (1048576, 2),
        ),
        ('<row r="5"><c r="C9000000"><v>1</v></c></row>', (9000000, 3)),
        ('<row r="1"><c r="XFD1"><v>1</v></c><c r="A1"><v>1</v></c></row>', (1, 16384)),
    ):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("s.xml", f"<worksheet {ns}><sheetData>{data}</sheetData></worksheet>")
        with zipfile.ZipFile(buf) as z:
            got = sp._sheet_grid(z, "s.xml")
        assert (got.rows, got.cols) == want


# --- files that are not workbooks -------------------------------------------------------------


def test_excels_lock_file():
    lock = b"\x0bJohn Smith" + b"\x00" * 150
    # before: "The file holds binary data, not CSV text"
    with pytest.raises(InputError, match="lock file") as err:
        read("~$b.xlsx", lock)
    assert "'b.xlsx'" in err.value.hint
    inc = read_incidents([("~$b.xlsx", lock), ("b.xlsx", xlsx(table))], crime_types="all")
    assert len(inc.frame) == 10
    skipped = {k["name"]: k["reason"] for k in inc.report.choices["skipped_files"]}
    assert "lock file" in skipped["~$b.xlsx"]


def test_an_apple_numbers_document():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Index/Document.iwa", b"\x00\x01")
        z.writestr("Metadata/Properties.plist", b"x")
    # before: "The zip archive holds no .csv, Parquet or spreadsheet file"
    with pytest.raises(InputError, match="Apple Numbers") as err:
        read("b.numbers", buf.getvalue())
    assert "Export To" in err.value.hint


def test_a_workbook_cut_short():
    data = xlsx(table)
    with pytest.raises(InputError, match="workbook cannot be read: its zip archive is damaged"):
        read("b.xlsx", data[: len(data) // 2])


def test_a_workbook_saved_with_a_password():
    # before: "Cfb error: Cannot find Workbook stream" (tests/data/make_hostile14_password.py)
    data = (Path(__file__).parent / "data" / "hostile14_password.xlsx").read_bytes()
    with pytest.raises(InputError, match="protected by a password") as err:
        read("b.xlsx", data)
    assert "unprotected copy" in err.value.hint


# --- tables side by side ----------------------------------------------------------------------


def test_tables_side_by_side_are_each_read():
    # before: the right-hand table was read as extra columns of the left one's rows: its
    # incidents were lost unsaid
    left, right = rows(6), rows(4)

    def fill(ws):
        for j, h in enumerate([*HEADER, None, *HEADER]):
            ws.cell(3, j + 2, h)
        for i, r in enumerate(left):
            for j, v in enumerate(r):
                ws.cell(4 + i, j + 2, v)
        for i, r in enumerate(right):
            for j, v in enumerate(r):
                ws.cell(4 + i, j + 7, v)
        ws.cell(12, 8, "notes below the second table")

    inc = read("b.xlsx", xlsx(fill))
    assert len(inc.frame) == 10
    assert sorted(set(inc.frame["source_file"])) == ["b.xlsx [Sheet] B:E", "b.xlsx [Sheet] G:J"]
    rej = inc.report.rejected
    assert list(rej["source_file"]) == ["b.xlsx [Sheet] G:J"] and list(rej["source_row"]) == [12]


def test_a_table_with_an_empty_column_inside_stays_whole():
    records = [
        ["Longitude", "Latitude", None, "Crime type"],
        *[[*r[:2], None, r[2]] for r in rows(3)],
    ]
    assert sp.sheet_tables(records) == [("", sp.sheet_csv(records))]
    whole = [[c for c in r if c is not None] for r in records]
    twice = [[*r, None, *r] for r in whole]
    assert [span for span, _ in sp.sheet_tables(twice)] == ["A:C", "E:G"]
    assert len({text for _, text in sp.sheet_tables(twice)}) == 1
    assert sp.sheet_tables([]) == [("", b"")]
    assert sp.column_letters(0) == "A" and sp.column_letters(26) == "AA"
    assert sp.column_letters(16383) == "XFD"


# --- a folder mixing CSV, Parquet, a workbook, its lock file and Numbers documents ------------


def test_a_folder_mixing_formats(tmp_path):
    pd = pytest.importorskip("pandas")

    def frame(n: int, tag: str):
        return pd.DataFrame(
            {
                "Crime ID": [f"{tag}{i}" for i in range(n)],
                "Longitude": [r[0] for r in rows(n)],
                "Latitude": [r[1] for r in rows(n)],
                "Crime type": "Burglary",
            }
        )

    frame(5, "c").to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "sub").mkdir()
    frame(4, "p").to_parquet(tmp_path / "sub" / "b.parquet")
    wb = openpyxl.Workbook()
    f = frame(3, "x")
    wb.active.append(list(f.columns))
    for r in f.itertuples(index=False):
        wb.active.append(list(r))
    wb.save(tmp_path / "c.xlsx")
    (tmp_path / "~$c.xlsx").write_bytes(b"\x0bJohn Smith" + b"\x00" * 150)
    with zipfile.ZipFile(tmp_path / "d.numbers", "w") as z:
        z.writestr("Index/Document.iwa", b"\x00")
    (tmp_path / "e.numbers" / "Index").mkdir(parents=True)  # a Numbers package folder
    inc = read_incidents(tmp_path, crime_types="all")
    assert len(inc.frame) == 12 and len(inc.report.rejected) == 0
    assert sorted(set(inc.frame["source_file"])) == ["a.csv", "c.xlsx [Sheet]", "sub/b.parquet"]
    skipped = {k["name"]: k["reason"] for k in inc.report.choices["skipped_files"]}
    # before: the Numbers documents were left out unsaid
    assert set(skipped) == {"d.numbers", "e.numbers"}
    assert all("Apple Numbers" in r for r in skipped.values())


# --- the app's upload -----------------------------------------------------------------------------


def test_the_app_says_why_a_hostile_workbook_is_not_read():
    from streamlit.testing.v1 import AppTest

    app_file = str(Path(__file__).resolve().parents[1] / "app.py")
    at = AppTest.from_file(app_file, default_timeout=180)
    at.run()

    def stray(ws):
        table(ws, 200)
        ws.cell(row=1048576, column=16384, value="x")

    xlsx_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at.sidebar.file_uploader(key="uploads").set_value(("stray.xlsx", xlsx(stray), xlsx_type))
    at.run()
    assert not at.exception, at.exception  # before: the server process ended (SIGABRT)
    shown = " ".join(e.value for e in at.error).replace("\\", "")  # markdown escapes
    assert "stray.xlsx [Sheet]" in shown and "row 1,048,576" in shown
