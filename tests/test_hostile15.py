"""Files built to break the readers (session 15's hostile tests).

Each test names what happened before its fix and asserts what happens now: an ``.xlsb`` or
``.xls`` sheet with one stray cell far from its table (the parser laid out a grid of billions
of cells and the process ended with SIGABRT), an ``.xls`` saved with a password (its FILEPASS
record was not looked for: the workbook was read as if plain), an OpenDocument
``content.xml`` read whole to count its cells. The record scans are checked against the
parser's own layout of the same sheets.
"""

from __future__ import annotations

import importlib.util
import io
import random
import zipfile
from pathlib import Path

import pytest

from hotspots import InputError
from hotspots import spreadsheets as sp
from hotspots.ingest import read_incidents

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("hostile15_books", DATA / "hostile15_books.py")
assert _spec is not None and _spec.loader is not None
books = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(books)

HEADER = ["Longitude", "Latitude", "Crime type", "Date"]


def table_cells(n: int = 10) -> list[tuple[int, int, object]]:
    cells: list[tuple[int, int, object]] = [(0, j, h) for j, h in enumerate(HEADER)]
    for i in range(n):
        row = [-2.98 + i * 0.001, 53.4 + i * 0.001, "Burglary", f"2024-01-0{1 + i % 9}"]
        cells += [(i + 1, j, v) for j, v in enumerate(row)]
    return cells


def read(name: str, data: bytes):
    return read_incidents([(name, data)], crime_types="all")


def laid_out(data: bytes) -> tuple[int, int, int]:
    """(last row, last column, cells holding a value) of the parser's layout of a one-sheet
    workbook: the simple reference the record scans must equal."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        sheet = book.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
        cells = sum(1 for r in rows for v in r if v is not None and v != "")
        end = sheet.end
        return (end[0] + 1, end[1] + 1, cells) if end is not None else (0, 0, 0)
    finally:
        book.close()


# ---- .xlsb ------------------------------------------------------------------------------------


def test_an_xlsb_table_is_read():
    inc = read("book.xlsb", books.xlsb(table_cells()))
    assert len(inc) == 10
    assert len(inc.report.rejected) == 0


def test_an_xlsb_stray_cell_at_xfd1048576_is_refused_before_the_parser_lays_it_out():
    # before: the parser asked for 17 billion cells and the process ended (SIGABRT)
    data = books.xlsb([*table_cells(), (1048575, 16383, "x")])
    with pytest.raises(InputError) as err:
        read("far.xlsb", data)
    text = str(err.value)
    assert "far.xlsb [Crimes]" in text
    assert "row 1,048,576 and column 16,384" in text
    assert "holds only 45 cells" in text


def test_an_xlsb_dimension_record_is_not_trusted():
    # the parser places a cell by its own record (a 32-bit column), whatever BrtWsDim says
    data = books.xlsb([*table_cells(), (3, 0xFFFF_FFF0, "x")], dimension=(0, 10, 0, 3))
    with pytest.raises(InputError, match="column 4,294,967,281"):
        read("lying.xlsb", data)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("chunk", [5, 64, 1 << 24])
def test_the_xlsb_scan_equals_the_parsers_layout(monkeypatch, seed, chunk):
    monkeypatch.setattr(sp, "_CHUNK", chunk)  # records cut across chunks
    rng = random.Random(seed)
    n = rng.choice([0, 1, 5, 40])
    cells = {}
    for _ in range(n):
        r, c = rng.randrange(0, 300), rng.randrange(0, 60)
        cells[(r, c)] = rng.choice([rng.random(), "t" * rng.randrange(1, 200), float(r)])
    cells[(rng.randrange(0, 5), rng.randrange(0, 5))] = "x"  # at least one
    data = books.xlsb([(r, c, v) for (r, c), v in cells.items()])
    grid = sp._xlsb_grids(data)["Crimes"]
    assert (grid.rows, grid.cols, grid.cells) == laid_out(data)


def test_the_xlsb_scan_is_taken():
    grids = sp._xlsb_grids(books.xlsb(table_cells()))
    assert grids == {"Crimes": sp._Grid(11, 4, 44)}
    assert sp._xlsb_grids(b"not a zip") == {}
    cut = books.xlsb(table_cells())[:200]  # a cut-short workbook: the parser says so
    assert sp._xlsb_grids(cut) == {}


# ---- .xls -------------------------------------------------------------------------------------


def test_an_xls_table_is_read_and_its_scan_equals_the_parsers_layout():
    data = (DATA / "hostile15_plain.xls").read_bytes()
    inc = read("plain.xls", data)
    assert len(inc) == 10
    grid = sp._xls_grids("plain.xls", data)["Crimes"]
    assert (grid.rows, grid.cols, grid.cells) == laid_out(data) == (11, 6, 45)


def test_an_xls_stray_cell_is_refused_before_the_parser_opens_it():
    # before: the parser lays every sheet out as it opens the workbook: a cell at row and
    # column 65536 asked for 4 billion cells and the process ended (SIGABRT)
    data = (DATA / "hostile15_far.xls").read_bytes()
    with pytest.raises(InputError) as err:
        read("far.xls", data)
    assert "far.xls [Crimes]" in str(err.value)
    assert "row 65,536 and column 65,536" in str(err.value)


def test_an_xls_saved_with_a_password_is_said_to_be_one():
    # before: the FILEPASS record was not looked for; the parser read on as if the workbook
    # were plain (Excel's encrypted cells would be read as garbage, or none)
    data = (DATA / "hostile15_filepass.xls").read_bytes()
    with pytest.raises(InputError) as err:
        read("secret.xls", data)
    assert "protected by a password" in str(err.value)
    assert "secret.xls" in str(err.value)


def test_the_ole_reader_follows_both_the_sectors_and_the_mini_stream():
    data = (DATA / "hostile14_password.xlsx").read_bytes()  # an OLE file, msoffcrypto's
    info = sp._ole_stream(data, "EncryptionInfo")  # under 4096 bytes: in the mini stream
    assert info is not None and info[:4] == b"\x04\x00\x04\x00" and b"<encryption" in info
    package = sp._ole_stream(data, "EncryptedPackage")  # 4096 or more: in sectors
    assert package is not None
    assert len(package) >= 8 + int.from_bytes(package[:8], "little")
    assert sp._ole_stream(data, "Workbook") is None
    assert sp._ole_stream(sp.OLE_MAGIC + b"\0" * 10, "Workbook") is None  # cut short


# ---- .ods -------------------------------------------------------------------------------------


def ods(tables: dict[str, str]) -> bytes:
    body = "".join(f'<table:table table:name="{k}">{v}</table:table>' for k, v in tables.items())
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
    return buf.getvalue()


def cell(v: object) -> str:
    kind = "float" if isinstance(v, float) else "string"
    return f'<table:table-cell office:value-type="{kind}"><text:p>{v}</text:p></table:table-cell>'


@pytest.mark.parametrize("chunk", [3, 50, 1 << 24])
def test_the_opendocument_count_is_read_in_chunks(monkeypatch, chunk):
    # before: content.xml was read whole (a 146 MB one took 283 MB more to count its cells;
    # 99 MB now)
    monkeypatch.setattr(sp, "_CHUNK", chunk)
    rows = "".join(f"<table:table-row>{cell(1.5)}{cell('a')}</table:table-row>" for _ in range(7))
    empty = "<table:table-row><table:table-cell/></table:table-row>"
    three = f"<table:table-row>{cell('x')}{cell(2.0)}{cell('y')}</table:table-row>"
    data = ods({"A &amp; B": rows, "Empty": empty, "C": three})
    assert sp._odf_cells(data) == {"A & B": 14, "Empty": 0, "C": 3}


# ---- one date, a time window on it ------------------------------------------------------------

WINDOW_ROWS = [
    ("2024-03-01", "22:00", "23:00"),  # an hour: its midpoint
    ("2024-03-02", "23:30", "00:20"),  # past midnight: ends on the next day, 50 minutes
    ("2024-03-03", "08:00", "17:00"),  # within the day: the date
    ("2024-03-04", "10:15", ""),  # no end: the start
    ("2024-03-05", "10:15", "99:99"),  # an end that cannot be read: the start
    ("2024-03-06", "10:15", "09:00"),  # earlier: the next day, 22 h 45 across two days
]


def window_csv(names: tuple[str, str, str]) -> bytes:
    head = ",".join(names) + ",Latitude,Longitude,Crime type\n"
    body = "".join(
        f"{d},{a},{b},{53.4 + i * 0.001:.3f},{-2.98 + i * 0.001:.3f},Burglary\n"
        for i, (d, a, b) in enumerate(WINDOW_ROWS)
    )
    return (head + body).encode()


@pytest.mark.parametrize(
    "names",
    [
        ("Date", "Time From", "Time To"),
        ("Date", "Time Committed From", "Time Committed To"),
        ("Date", "From Time", "To Time"),
        ("Date Committed", "Time From", "Time To"),
    ],
)
def test_one_date_with_a_time_window_is_read_as_a_window(names):
    # before: the start time was the time of day and the end time was not read (unsaid)
    inc = read("w.csv", window_csv(names))
    assert len(inc) == 6 and len(inc.report.rejected) == 0
    (window,) = inc.report.choices["time_window"]
    assert window["start"] == f"{names[0]}+{names[1]}"
    assert window["end"] == f"{names[0]}+{names[2]}"
    assert window["files"] == ["w.csv"]
    counts = {k: window[k] for k in ("hour", "day", "month", "longer", "no_end")}
    assert counts == {"hour": 2, "day": 1, "month": 1, "longer": 0, "no_end": 1}
    assert window["end_unreadable"] == 1 and window["end_before_start"] == 0
    assert window["end_next_day"] == 2
    frame = inc.frame.sort_values("source_row")
    got = [str(v) for v in frame["datetime"]]
    assert got == [
        "2024-03-01 22:30:00",
        "2024-03-02 23:55:00",
        "2024-03-03 00:00:00",
        "2024-03-04 10:15:00",
        "2024-03-05 10:15:00",
        "NaT",
    ]
    assert frame["has_time"].tolist() == [True, True, False, True, True, False]
    note = next(n for n in inc.report.notes if "read as a time window" in n)
    assert "2 row(s) ending earlier than they began: past midnight, on the next day" in note
    assert "1 had no end, 1 had an end that cannot be read (start used)" in note


def test_a_window_of_times_needs_the_date_and_can_be_left_out():
    text = window_csv(("Day", "Time From", "Time To")).replace(b"Day,", b"Weekday,", 1)
    inc = read("nodate.csv", text)  # no date column: no time either (as before)
    assert "time_window" not in inc.report.choices
    off = read_incidents(
        [("w.csv", window_csv(("Date", "Time From", "Time To")))],
        crime_types="all",
        columns={"time_end": None},
    )
    assert "time_window" not in off.report.choices
    assert sorted(str(v) for v in off.frame["datetime"])[0] == "2024-03-01 22:00:00"


def test_date_windows_are_read_as_before():
    text = (
        b"Date From,Date To,Time From,Time To,Latitude,Longitude,Crime type\n"
        b"2024-03-01,2024-03-02,23:30,00:20,53.4,-2.98,Burglary\n"
    )
    (window,) = read("dd.csv", text).report.choices["time_window"]
    assert window["end"] == "Date To+Time To" and "end_next_day" not in window
    assert window["hour"] == 1


# ---- titles -----------------------------------------------------------------------------------

TITLE_BODY = "Longitude,Latitude,Crime type,Date\n" + "".join(
    f"{-2.98 + i * 0.001:.3f},{53.4 + i * 0.001:.3f},Burglary,2024-01-0{1 + i % 9}\n"
    for i in range(30)
)


@pytest.mark.parametrize("lines", [2, 3, 19, 25, 40])
def test_a_cover_page_of_lines_without_a_delimiter_is_a_title(lines):
    # before: a title of two or more lines without a delimiter was not passed (its lines read
    # as rows of a one-column table: "Cannot find the coordinate columns"), nor a padded
    # title block longer than 20 lines; a records system's cover page runs to some 25
    for cover in (
        "".join(f"Cover page line {i}\n" for i in range(lines)),
        "".join(f"Cover page line {i},,,\n" for i in range(lines)),
    ):
        inc = read("cover.csv", (cover + TITLE_BODY).encode())
        assert len(inc) == 30 and len(inc.report.rejected) == 0
        assert inc.report.choices["title_lines"] == {"cover.csv": lines}


def test_a_title_block_never_eats_a_row():
    # one-field rows below the names are the table's: no title (as before: the names are not
    # found, and the error names the header)
    text = "Report\nPage 1\n" + TITLE_BODY + "stray\n"
    with pytest.raises(InputError, match="Cannot find the coordinate columns"):
        read("t.csv", text.encode())
    # a row of the table's width above the names: rows, not a title
    text = "Report\n-2.9,53.4,Burglary,2024-01-01\n" + TITLE_BODY
    with pytest.raises(InputError, match="Cannot find the coordinate columns"):
        read("t.csv", text.encode())
    # past TITLE_SEARCH_RECORDS lines: not searched
    from hotspots.ingest import TITLE_SEARCH_RECORDS

    cover = "".join(f"line {i}\n" for i in range(TITLE_SEARCH_RECORDS + 1))
    with pytest.raises(InputError, match="Cannot find the coordinate columns"):
        read("t.csv", (cover + TITLE_BODY).encode())


# ---- merged cells -----------------------------------------------------------------------------


def merged_book(merge: list[str], n: int = 12) -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Crimes"
    ws.append(["Force", "Crime type", "Longitude", "Latitude", "Date"])
    for i in range(n):
        first = i % 6 == 0
        ws.append(
            [
                "Merseyside" if first else None,
                ("Burglary" if i < 6 else "Robbery") if first else None,
                -2.98 + i * 0.001,
                53.4 + i * 0.001,
                f"2024-01-{1 + i:02d}",
            ]
        )
    for ref in merge:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_merged_cells_down_a_column_are_read_on_every_row():
    # before: the value stayed on the range's first row (as Excel's CSV export): 10 of 12
    # rows had no crime type, unsaid, and a crime type filter set them aside
    data = merged_book(["A2:A7", "B2:B7", "A8:A13", "B8:B13"])
    inc = read("merged.xlsx", data)
    assert len(inc) == 12 and len(inc.report.rejected) == 0
    assert inc.frame["crime_type"].value_counts().to_dict() == {"Burglary": 6, "Robbery": 6}
    ranges = ["A2:A7", "B2:B7", "A8:A13", "B8:B13"]  # by row
    assert inc.report.choices["merged_cells_filled"] == {"merged.xlsx [Crimes]": ranges}
    assert "skipped_files" not in inc.report.choices
    note = inc.report.notes[0]
    assert note.startswith("merged.xlsx [Crimes]: merged cells down a column (A2:A7, B2:B7")
    robbery = read_incidents([("merged.xlsx", data)], crime_types=["Robbery"])
    assert len(robbery) == 6


def test_merged_cells_across_columns_and_in_the_first_row_are_left():
    across = read("m.xlsx", merged_book(["A2:B2"]))  # B2's value cleared by the merge
    assert "merged_cells_filled" not in across.report.choices
    assert across.frame["crime_type"].value_counts().to_dict() == {"": 11, "Robbery": 1}
    heading = read("m.xlsx", merged_book(["A1:A2"]))  # the names' row: not filled down
    assert "merged_cells_filled" not in heading.report.choices
    assert len(heading) == 12


def test_fill_merged_equals_a_plain_fill():
    rng = random.Random(3)
    for _ in range(50):
        rows = [[rng.choice(["", "v", 1.5]) for _ in range(4)] for _ in range(8)]
        merged = []
        for _ in range(rng.randrange(0, 4)):
            r0, c = rng.randrange(0, 8), rng.randrange(0, 4)
            merged.append(((r0, c), (min(r0 + rng.randrange(0, 4), 7), c)))
        expect = [list(r) for r in rows]
        first = next((i for i, r in enumerate(rows) if any(v != "" for v in r)), 0)
        said = []
        for (r0, c), (r1, _) in sorted(merged):
            if r1 > r0 > first and expect[r0][c] != "":
                for r in range(r0 + 1, r1 + 1):
                    expect[r][c] = expect[r][c] if expect[r][c] != "" else expect[r0][c]
                said.append(f"{sp.column_letters(c)}{r0 + 1}:{sp.column_letters(c)}{r1 + 1}")
        assert sp.fill_merged(rows, merged) == said
        assert rows == expect
    assert sp.fill_merged([], None) == []


# ---- the police.uk archive layout ---------------------------------------------------------------

STREET = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context\n"
)
OUTCOMES = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Outcome type\n"
)
SEARCHES = (
    "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
    "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
    "Outcome,Outcome linked to object of search,Removal of more than just outer clothing\n"
)
FORCES = {"merseyside": (-2.98, 53.40), "cheshire": (-2.60, 53.20)}


def street_file(force: str, month: str, n: int = 20) -> str:
    lon, lat = FORCES[force]
    out = STREET
    for i in range(n):
        ident = f"{force}{month}{i:04d}" if i % 4 else ""  # every 4th an ASB row, no id
        kind = "Anti-social behaviour" if not ident else "Violence and sexual offences"
        out += (
            f"{ident},{month},{force} Police,{force} Police,{lon + i * 0.001:.6f},"
            f"{lat + (i % 5) * 0.001:.6f},On or near X Street,E01,X 001A,{kind},,\n"
        )
    return out


def archive(tmp_path: Path, months: list[str], name: str, skip=(), empty=()) -> Path:
    """A police.uk download: a folder per month holding each force's three files (a zip of
    them when ``name`` ends .zip)."""
    files = {}
    for m in months:
        for force in FORCES:
            if (force, m) in skip:
                continue
            text = STREET if (force, m) in empty else street_file(force, m)
            files[f"{m}/{m}-{force}-street.csv"] = text.encode()
            files[f"{m}/{m}-{force}-outcomes.csv"] = (
                OUTCOMES + f"x,{m},a,a,-2.9,53.4,,,,Y\n"
            ).encode()
            files[f"{m}/{m}-{force}-stop-and-search.csv"] = SEARCHES.encode()
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as z:
            for k, v in files.items():
                z.writestr(k, v)
    else:
        for k, v in files.items():
            (path / k).parent.mkdir(parents=True, exist_ok=True)
            (path / k).write_bytes(v)
    return path


def test_two_archives_overlapping_in_months_count_each_row_once(tmp_path):
    # before: a file byte-identical to an earlier one had its rows with ids rejected, but its
    # rows without an id (police.uk's anti-social behaviour) were kept: counted twice
    one = read_incidents(
        [archive(tmp_path, ["2024-01", "2024-02", "2024-03"], "all")], crime_types="all"
    )
    a = archive(tmp_path, ["2024-01", "2024-02"], "a.zip")
    b = archive(tmp_path, ["2024-02", "2024-03"], "b.zip")
    both = read_incidents([a, b], crime_types="all")
    assert len(one) == 6 * 20 and len(both) == len(one)
    rejected = both.report.rejected
    assert len(rejected) == 2 * 20  # the two copies of 2024-02, every row
    assert set(rejected["reason"]) == {"duplicate row"}
    copies = rejected[rejected["Crime ID"].fillna("") == ""]
    assert len(copies) == 2 * 5
    assert set(copies["detail"]) == {
        f"a row of a file byte-identical to a.zip/2024-02/2024-02-{f}-street.csv" for f in FORCES
    }
    notes = " ".join(both.report.notes)
    assert "b.zip/2024-02/2024-02-cheshire-street.csv is byte-identical to a.zip/2024-02/" in notes
    assert "its rows are rejected as duplicates (those without an id too" in notes
    assert "without an id are identical to an earlier row" not in notes
    skipped = both.report.choices["skipped_files"]
    assert len(skipped) == 2 * 2 * 4  # outcomes and stop and search, 2 forces, 4 months
    assert both.report.choices["filters"]["rows_in"] == len(one)


def test_a_force_missing_a_month_and_an_empty_force_file_are_said(tmp_path):
    months = ["2024-01", "2024-02", "2024-03"]
    path = archive(
        tmp_path, months, "dl", skip={("merseyside", "2024-02")}, empty={("cheshire", "2024-03")}
    )
    inc = read_incidents([path], crime_types="all")
    assert len(inc) == 4 * 20 and len(inc.report.rejected) == 0
    assert inc.report.choices["missing_force_months"] == {"merseyside": ["2024-02"]}
    notes = inc.report.notes
    assert any(
        n.startswith("police.uk files: no street file for merseyside in 2024-02") for n in notes
    )
    assert (
        "1 file(s) hold their column names only, no rows: 2024-03/2024-03-cheshire-street.csv."
        in notes
    )
    assert not any("byte-identical" in n for n in notes)
    full = read_incidents([archive(tmp_path, months, "full")], crime_types="all")
    assert "missing_force_months" not in full.report.choices


def test_windows_line_endings_a_bom_and_a_download_cut_short(tmp_path):
    text = street_file("merseyside", "2024-01")
    plain = read("2024-01-merseyside-street.csv", text.encode())
    crlf = read(
        "2024-01-merseyside-street.csv", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
    )
    assert plain.frame.drop(columns="source_file").equals(crlf.frame.drop(columns="source_file"))
    cut = text.encode()[:-40]  # the last row stops mid-field
    inc = read("cut.csv", cut)
    assert len(inc) == 19
    (row,) = inc.report.rejected.itertuples()
    assert row.source_row == 21 and row.reason == "malformed row"
    assert any(
        n.startswith("cut.csv: the file ends in the middle of a row (line 21: ")
        for n in inc.report.notes
    )
    whole = read("whole.csv", text.encode() + b"a,b\n")  # a short row inside: not cut short
    assert not any("ends in the middle" in n for n in whole.report.notes)


def test_a_force_file_of_column_names_only_does_not_stop_the_profile_by_force(tmp_path):
    # before: the empty file named no force, so it was a force of its own whose files held no
    # row: "No data rows were found", and `hotspots profile` stopped
    from hotspots.problem import read_by_force
    from hotspots.workflows import read_forces

    path = archive(tmp_path, ["2024-01", "2024-02"], "dl", empty={("cheshire", "2024-02")})
    pooled, forces = read_by_force(path)
    assert len(pooled) == 3 * 20
    assert sorted(forces) == ["cheshire Police", "merseyside Police"]
    by_name = read_forces(path)
    assert {k: len(v) for k, v in by_name.items()} == {
        "cheshire Police": 20,
        "merseyside Police": 40,
    }
