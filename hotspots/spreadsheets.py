"""Spreadsheet workbooks (Excel, OpenDocument) as CSV text, one file per sheet.

Force systems and analysts' own work often hand incidents over as a workbook rather than a
CSV. Each visible, non-empty sheet of a workbook is read as one incident file named
``book.xlsx [Sheet name]``, written as CSV text that the reader then validates exactly as a
CSV file, so every rule of :func:`hotspots.ingest.read_incidents` (columns, dates, rejected
rows with their reasons) applies unchanged. The workbook is parsed by ``python-calamine``
(the Rust ``calamine`` crate; pandas' ``engine="calamine"``), which reads ``.xlsx``,
``.xlsm``, ``.xlsb``, ``.xls`` and ``.ods`` alike.

How cells become text (so a sheet's rows read as a CSV export of it would):

* the sheet's row ``n`` is the CSV text's line ``n``, so the line numbers of rejected rows are
  the sheet's row numbers (a line break inside a cell becomes a space to keep that true);
* whole numbers are written without a decimal point (``12``), other numbers in the shortest
  form that reads back to the same value (``-2.98317``);
* cells formatted as dates or times are written ``YYYY-MM-DD HH:MM:SS`` (``YYYY-MM-DD`` for a
  date at midnight shown as a date, ``HH:MM:SS`` for a time), the workbook's own date system
  (1900 or 1904) already applied by the parser;
* booleans are ``TRUE`` / ``FALSE``; a formula is its value as last calculated and saved by
  the spreadsheet program; empty cells and error cells (``#N/A``, ``#DIV/0!``) are empty, so a
  coordinate holding an error is rejected as missing;
* merged cells down a column below the first row (a crime type written once for a block of
  rows) are read on every row of the range, as the sheet shows them, and said
  (:func:`fill_merged`); a CSV export keeps the value on the first row only.

Hidden sheets (often lookup tables) and empty sheets are not read; each is named with the
reason (:class:`hotspots.sources.Skipped`). A workbook protected by a password cannot be
read: the error says so. Tables with the same column names set side by side on one sheet
are read as one file each, labelled by their columns (``book.xlsx [Sheet] A:D``). A sheet the
parser would lay out as a huge, mostly blank grid (a stray cell at ``XFD1048576``) and a sheet
whose formulas were never calculated are refused, each with its fix.

Examples
--------
>>> cell_text(12.0), cell_text(-2.983170), cell_text(True), cell_text(None)
('12', '-2.98317', 'TRUE', '')
>>> import datetime as dt
>>> cell_text(dt.datetime(2024, 3, 1, 22, 5)), cell_text(dt.date(2024, 3, 1))
('2024-03-01 22:05:00', '2024-03-01')
>>> rows = [[None, "Longitude", "Latitude"], [None, -2.98, 53.4], [], [None, "a\\nb", 1]]
>>> sheet_csv(rows).decode()
'Longitude,Latitude\\n-2.98,53.4\\n\\na b,1\\n'
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import html
import io
import math
import posixpath
import re
import struct
import tempfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import olefile

from hotspots._errors import InputError

__all__ = [
    "HIDDEN_SHEET",
    "NOT_A_TABLE",
    "SPREADSHEET_SUFFIXES",
    "EMPTY_SHEET",
    "SPARSE_CELL_BOUND",
    "cell_text",
    "fill_merged",
    "is_spreadsheet_name",
    "column_letters",
    "sheet_csv",
    "sheet_tables",
    "workbook_sheets",
]

#: File suffixes read as workbooks (one incident file per visible, non-empty sheet).
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")

#: Why a hidden sheet is not read (named in the report).
HIDDEN_SHEET = "a hidden sheet (unhide it in the workbook to read it)"

#: Why a chart, dialog or macro sheet is not read (named in the report).
NOT_A_TABLE = "a chart, dialog or macro sheet, not a table of rows"

#: Why an empty sheet is not read (named in the report).
EMPTY_SHEET = "an empty sheet, so it holds no rows"

#: The first bytes of an OLE2 compound file (Excel 97-2003 ``.xls``).
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_HINT = "open it in its spreadsheet program and save the incident sheet as CSV (UTF-8)."

_PASSWORD = "The workbook is protected by a password, so it cannot be read."
_PASSWORD_HINT = "save an unprotected copy, or a CSV."

#: Cells of a sheet's used range (rows x columns, from its first row and column to the last
#: cell) above which a sheet storing far fewer cells is refused: the parser lays every sheet
#: out as a full grid, so one stray cell at ``XFD1048576`` asks for 17 billion cells and ends
#: the process. Heuristic of this tool: 2**24 grid cells (about 0.5 to 1 GB while read, 15
#: seconds); a sheet storing at least a quarter of its grid is read whatever its size.
SPARSE_CELL_BOUND = 2**24

_CHUNK = 1 << 24
_PREFIX = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheetData\b")


@functools.lru_cache(maxsize=256)
def _past(cols: int, digits: int) -> re.Pattern[bytes]:
    """A reference (``r="..."``) in a column after the ``cols``-th, or with a row number of
    ``digits`` digits or more (a cell or row past the rows seen): one search, starting with a
    literal, finds either."""
    name = column_letters(cols - 1) if cols else ""
    later = [
        name[:i] + f"[{chr(ord(ch) + 1)}-Z]" + "[A-Z]" * (len(name) - i - 1)
        for i, ch in enumerate(name)
        if ch != "Z"
    ]  # as long as the last column's letters, greater
    if len(name) < 3:
        later.append(f"[A-Z]{{{len(name) + 1},3}}")  # longer
    pattern = (
        f'r="(?:({"|".join(later) or "(?!)"})([0-9]{{1,9}})|([A-Z]{{0,3}})([0-9]{{{digits},9}}))"'
    )
    return re.compile(pattern.encode())


_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _column_number(letters: bytes) -> int:
    n = 0
    for b in letters:
        n = n * 26 + b - 64
    return n


class _Grid(NamedTuple):
    """What an Office Open XML sheet's text says of its cells (:func:`_sheet_grid`)."""

    rows: int  # the last row a cell or row element names
    cols: int  # the last column (26 for a sheet within A to Z)
    cells: int  # cells stored
    uncalculated: int = 0  # formula cells holding no value (never calculated)
    first_uncalculated: str = ""  # the first one's reference (``A2``)


def _sheet_grid(z: zipfile.ZipFile, member: str) -> _Grid:
    """(last row, last column, cells stored, formulas never calculated and the first one's
    cell) of an Office Open XML sheet, read in chunks
    (never the whole sheet's text at once) by searches that start with a literal, so a sheet
    of a million rows costs a fraction of its parse: the last row element of each chunk (the
    format keeps rows in order), and one search (:func:`_past`) for a reference past the last
    column seen or with more digits than the last row (a cell placed far below its row, rows
    out of order by a factor of ten or more)."""
    rows = cols = cells = uncalculated = 0
    first = ""
    prefix: bytes | None = None
    tail = b""
    with z.open(member) as f:
        while True:
            chunk = f.read(_CHUNK)
            text = tail + chunk
            if prefix is None:
                found = _PREFIX.search(text)
                if found is None:
                    if not chunk:
                        break
                    tail = text[-64:]  # no table yet (the sheet's header parts)
                    continue
                prefix = found.group(1) or b""
                row_ref = re.compile(b"<" + prefix + rb'row\s[^>]*?\br="([0-9]{1,9})"')
                # rows in order, as the format asks: the last one names the last row
                cell_tags = (b"<" + prefix + b"c ", b"<" + prefix + b"c>")
                # a formula then the cell's end, no value or an empty one between: never
                # calculated, unless the cell says its value is text (an empty text result)
                bare = re.compile(
                    b"<" + prefix + rb"f\b[^>]*?(?:/>|>[^<]*</" + prefix + rb"f>)\s*(?:<"
                    + prefix + rb"v\s*/>|<" + prefix + rb"v>\s*</" + prefix + rb"v>)?\s*</"
                    + prefix + b"c>"
                )  # fmt: skip
                cell_end = b"</" + prefix + b"c>"
            if chunk:  # whole cells only (a formula read with its value): the rest waits
                end = text.rfind(cell_end)
                cut = end + len(cell_end) if end >= 0 else text.rfind(b">") + 1
                text, tail = text[:cut], text[cut:]
            last = text.rfind(b"<" + prefix + b"row")  # rows come in order: the last one
            at = row_ref.match(text, last) if last >= 0 else None
            rows = max(rows, int(at.group(1))) if at else rows
            pos = 0
            while True:  # a reference past the last row and column seen, from where it was
                past = _past(cols, len(str(rows)) + 1).search(text, pos)
                if past is None:
                    break
                letters, number = past.group(1) or past.group(3), past.group(2) or past.group(4)
                cols = max(cols, _column_number(letters)) if letters else cols
                rows, pos = max(rows, int(number)), past.end()
            cells += sum(text.count(t) for t in cell_tags)
            for found in bare.finditer(text):
                start = text.rfind(b"<" + prefix + b"c", 0, found.start())
                tag = text[start : text.find(b">", start) + 1] if start >= 0 else b""
                if b't="str"' in tag:
                    continue
                if not uncalculated:
                    ref = re.search(rb'\br="([A-Z]{1,3}[0-9]{1,9})"', tag)
                    first = ref.group(1).decode() if ref else ""
                uncalculated += 1
            if not chunk:
                break
    return _Grid(rows, cols, cells, uncalculated, first)


def _sheet_parts(z: zipfile.ZipFile, names: set[str], kind: str) -> dict[str, str] | None:
    """The package member each relationship id of ``xl/workbook.{kind}`` points at (``xml``:
    an ``.xlsx``/``.xlsm`` workbook, ``bin``: an ``.xlsb``), or None when the package has no
    such workbook part or relationships."""
    book, rels = f"xl/workbook.{kind}", f"xl/_rels/workbook.{kind}.rels"
    if book not in names or rels not in names:
        return None
    members = {}
    for r in ET.fromstring(z.read(rels)):
        target = r.get("Target", "").lstrip("/")  # relative to xl/, or absolute from the root
        member = target if target.startswith("xl/") else posixpath.join("xl", target)
        members[r.get("Id", "")] = posixpath.normpath(member)
    return members


def _ooxml_grids(data: bytes) -> dict[str, _Grid]:
    """Each sheet's (last row, last column, cells stored) by its name in an ``.xlsx`` or
    ``.xlsm`` workbook; empty for any other file (or when its parts cannot be found: the
    parser then reports the workbook)."""
    if data[:4] != b"PK\x03\x04":
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            rels = _sheet_parts(z, names, "xml")
            if rels is None:
                return {}
            grids = {}
            for sheet in ET.fromstring(z.read("xl/workbook.xml")).iter():
                if not sheet.tag.endswith("}sheet"):
                    continue
                member = rels.get(sheet.get(_REL, ""), "")
                if member in names and member.endswith(".xml"):
                    grids[sheet.get("name", "")] = _sheet_grid(z, member)
            return grids
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ET.ParseError, zlib.error):
        return {}  # a damaged workbook: the parser says so, with its own words


#: Record types of a binary workbook's sheet (``.xlsb``, [MS-XLSB] 2.4) the parser places as
#: cells (a number, text, a boolean, an error, a formula's value; blank cells are not placed).
_XLSB_CELLS = frozenset(range(0x02, 0x0B))
_U32 = struct.Struct("<I")


def _xlsb_record(buf: bytes, i: int) -> tuple[int, int, int] | None:
    """The record at ``buf[i:]`` of a binary workbook part as (type, body start, body size),
    or None when its header runs past ``buf`` (type and size are 7 bits a byte, low first:
    at most 2 bytes and 4 bytes)."""
    n = len(buf)
    if i + 2 > n:
        return None
    typ, i = buf[i], i + 1
    if typ & 0x80:
        typ, i = (typ & 0x7F) | ((buf[i] & 0x7F) << 7), i + 1
    size = shift = 0
    for shift in (0, 7, 14, 21):
        if i >= n:
            return None
        b, i = buf[i], i + 1
        size |= (b & 0x7F) << shift
        if not b & 0x80:
            break
    return typ, i, size


def _xlsb_grid(z: zipfile.ZipFile, member: str) -> _Grid:
    """(last row, last column, cells stored) of a binary workbook's sheet part, read record by
    record in chunks, as the parser places its cells: a cell's row is its row record's
    (``BrtRowHdr``), its column the cell record's first 4 bytes (a 32-bit number the parser
    takes as it is, so the sheet's dimension record, which a file can get wrong, is not
    trusted); the parser stops at a row past the format's last."""
    rows = cols = cells = row = 0
    tail = b""
    u32 = _U32.unpack_from
    with z.open(member) as f:
        while True:
            chunk = f.read(_CHUNK)
            buf = tail + chunk
            i, n = 0, len(buf)
            while i < n:
                b0 = buf[i]
                if b0 < 0x80 and i + 1 < n and buf[i + 1] < 0x80:  # most records: 2 bytes
                    typ, body, size = b0, i + 2, buf[i + 1]
                else:
                    found = _xlsb_record(buf, i)
                    if found is None:
                        break
                    typ, body, size = found
                if body + max(size, 4) > n and chunk:
                    break  # the record's end is in the next chunk
                if typ == 0x00:  # BrtRowHdr
                    (row,) = u32(buf, body) if body + 4 <= n else (0,)
                    if row > 0x10_0000:  # the parser stops there
                        return _Grid(rows, cols, cells)
                elif typ in _XLSB_CELLS and body + 4 <= n:
                    (col,) = u32(buf, body)
                    rows, cols, cells = max(rows, row + 1), max(cols, col + 1), cells + 1
                elif typ == 0x92:  # BrtEndSheetData
                    return _Grid(rows, cols, cells)
                i = body + size
            if not chunk:
                break
            tail = buf[i:]
    return _Grid(rows, cols, cells)


def _xlsb_grids(data: bytes) -> dict[str, _Grid]:
    """Each sheet's (last row, last column, cells stored) by its name in an ``.xlsb``
    workbook (:func:`_xlsb_grid`); empty for any other file (or when its parts cannot be
    found: the parser then reports the workbook)."""
    if data[:4] != b"PK\x03\x04":
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            rels = _sheet_parts(z, names, "bin")
            if rels is None:
                return {}
            book, i, grids = z.read("xl/workbook.bin"), 0, {}
            while (found := _xlsb_record(book, i)) is not None:
                typ, body, size = found
                if typ == 0x9C:  # BrtBundleSh: state, tab id, relationship id, name
                    part = book[body : body + size]
                    (count,) = _U32.unpack_from(part, 8)
                    rel = part[12 : 12 + 2 * count].decode("utf-16-le")
                    (length,) = _U32.unpack_from(part, 12 + 2 * count)
                    at = 16 + 2 * count
                    sheet = part[at : at + 2 * length].decode("utf-16-le")
                    member = rels.get(rel, "")
                    if member in names and member.endswith(".bin"):
                        grids[sheet] = _xlsb_grid(z, member)
                elif typ == 0x90:  # BrtEndBundleShs
                    break
                i = body + size
            return grids
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, ET.ParseError, zlib.error):
        return {}
    except (struct.error, UnicodeDecodeError, IndexError, ValueError):
        return {}  # a damaged workbook: the parser says so, with its own words


def _ole_stream(data: bytes, name: str) -> bytes | None:
    """The stream ``name`` of an OLE compound file ([MS-CFB], read by olefile), or None when
    the file has none or is not one that can be followed (the parser then reports the file)."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.get_type(name) != olefile.STGTY_STREAM:
                return None
            return bytes(ole.openstream(name).read())
    except (OSError, ValueError, struct.error, IndexError, OverflowError, MemoryError):
        return None
    return None


#: BIFF8 record types the parser places as cells: NUMBER, RK, LABELSST, LABEL, BOOLERR,
#: FORMULA, RSTRING (one cell each) and MULRK (a run of cells on a row).
_XLS_CELLS = frozenset((0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006, 0x00D6))
_XLS_MULRK = 0x00BD
#: The record saying a workbook stream is encrypted (saved with a password), [MS-XLS] 2.4.117.
_XLS_FILEPASS = 0x002F


def _xls_grids(name: str, data: bytes) -> dict[str, _Grid]:
    """Each worksheet's (last row, last column, cells stored) by its name in an Excel 97-2003
    workbook (``.xls``: the records of its ``Workbook`` stream, sheets found by their
    ``BOUNDSHEET`` records' positions); empty for any other file. A workbook stream carrying
    a ``FILEPASS`` record was saved with a password: refused as such (the parser reads on
    and gives the encrypted cells as values, or none)."""
    if not data.startswith(OLE_MAGIC):
        return {}
    stream = _ole_stream(data, "Workbook") or _ole_stream(data, "Book")
    if stream is None:
        return {}
    sheets: dict[int, str] = {}
    grids: dict[str, _Grid] = {}
    current: list[Any] | None = None
    pos, n, seen_sheet = 0, len(stream), False
    u16 = struct.Struct("<HH").unpack_from
    try:
        while pos + 4 <= n:
            typ, size = u16(stream, pos)
            body = pos + 4
            if typ == 0x0809:  # BOF: a substream, a sheet's when a BOUNDSHEET names it
                if pos in sheets:
                    current, seen_sheet = [sheets[pos], 0, 0, 0], True
            elif typ == _XLS_FILEPASS and not seen_sheet:
                raise InputError(_PASSWORD, file=name, hint=_PASSWORD_HINT)
            elif typ == 0x0085 and not seen_sheet:  # BOUNDSHEET: position, state, kind, name
                (at,) = _U32.unpack_from(stream, body)
                if stream[body + 5] == 0:  # a worksheet
                    count, high = stream[body + 6], stream[body + 7] & 1
                    raw = stream[body + 8 : body + 8 + count * (2 if high else 1)]
                    sheets[at] = raw.decode("utf-16-le" if high else "latin-1")
            elif current is not None and size >= 4 and (typ in _XLS_CELLS or typ == _XLS_MULRK):
                row, col = u16(stream, body)
                last, count = col, 1
                if typ == _XLS_MULRK and size >= 6:
                    (last,) = struct.unpack_from("<H", stream, body + size - 2)
                    count = max(last - col + 1, 0)
                current[1] = max(current[1], row + 1)
                current[2] = max(current[2], last + 1)
                current[3] += count
            elif typ == 0x000A and current is not None:  # EOF of the sheet
                grids[current[0]] = _Grid(current[1], current[2], current[3])
                current = None
            pos = body + size
    except (struct.error, IndexError, UnicodeDecodeError):
        return grids  # a damaged stream: the sheets read so far, the parser says the rest
    return grids


_ODF_TABLE = re.compile(rb'<table:table\s[^>]*?table:name="([^"]*)"')


def _odf_cells(data: bytes) -> dict[str, int]:
    """Each table's count of cells holding a value by its name in an OpenDocument
    spreadsheet (a cell repeated across columns counted once); empty for any other file.
    The tables' text is read in chunks cut after a tag's end, never whole (a 100 MB
    ``content.xml`` costs a chunk, not its size)."""
    if data[:4] != b"PK\x03\x04":
        return {}
    counts: dict[str, int] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if "content.xml" not in z.namelist():
                return {}
            current, tail = None, b""
            with z.open("content.xml") as f:
                while True:
                    chunk = f.read(_CHUNK)
                    text = tail + chunk
                    if chunk:  # whole tags only: the rest waits for the next chunk
                        cut = text.rfind(b">") + 1
                        text, tail = text[:cut], text[cut:]
                    pos = 0
                    for table in _ODF_TABLE.finditer(text):
                        if current is not None:
                            counts[current] += text.count(b"office:value-type=", pos, table.start())
                        current = html.unescape(table.group(1).decode("utf-8", "replace"))
                        counts[current], pos = 0, table.end()
                    if current is not None:
                        counts[current] += text.count(b"office:value-type=", pos)
                    if not chunk:
                        break
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error):
        return {}  # a damaged workbook: the parser says so, with its own words
    return counts


def _check_grid(label: str, grid: _Grid | None) -> None:
    """Refuse a sheet whose grid the parser would lay out is huge and mostly blank
    (:data:`SPARSE_CELL_BOUND`), before the parser is asked for it, or whose formulas were
    never calculated (their cells would read as empty, rows then rejected for the wrong
    reason)."""
    if grid is None:
        return
    rows, cols, cells = grid.rows, grid.cols, grid.cells
    if grid.uncalculated:
        at = f", the first in cell {grid.first_uncalculated}" if grid.first_uncalculated else ""
        msg = (
            f"{grid.uncalculated:,} cell(s) of the sheet hold a formula whose value was never "
            f"calculated{at} (the workbook was written by a program, not saved by a "
            "spreadsheet program), so their values are unknown."
        )
        hint = (
            "open the workbook in its spreadsheet program and save it (that calculates the "
            "formulas), or save the incident sheet as CSV (UTF-8)."
        )
        raise InputError(msg, file=label, hint=hint)
    if rows * cols > SPARSE_CELL_BOUND and rows * cols > 4 * cells:
        msg = (
            f"The sheet's cells reach row {rows:,} and column {cols:,} ({rows * cols:,} cells "
            f"to lay out) but it holds only {cells:,} cells: a stray cell far from the table, "
            f"and reading it would exhaust memory (this tool's bound: {SPARSE_CELL_BOUND:,} "
            "cells for a sheet storing under a quarter of them)."
        )
        hint = (
            "delete the rows and columns beyond the table in the spreadsheet program (or "
            "select the table and copy it to a new sheet), then save again, or save the "
            "incident sheet as CSV (UTF-8)."
        )
        raise InputError(msg, file=label, hint=hint)


def is_spreadsheet_name(name: str) -> bool:
    """Whether a file's name ends with one of :data:`SPREADSHEET_SUFFIXES` (any case)."""
    suffix = PurePosixPath(str(name).replace("\\", "/")).suffix.lower()
    return suffix in SPREADSHEET_SUFFIXES


def cell_text(value: Any) -> str:
    """One cell's value as the text a CSV export of the sheet would hold (see the module)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):  # a duration cell (e.g. [h]:mm): its clock time
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    text = str(value)
    if "\n" in text or "\r" in text:
        text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    return text


def _cells(rows: Iterable[Sequence[Any]]) -> list[list[str]]:
    """A sheet's rows as lists of cell texts without their trailing empty cells."""
    table = []
    for row in rows:
        cells = [cell_text(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        table.append(cells)
    return table


def _csv_text(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # every row as wide as the widest (a sheet's used range pads rows to it; a CSV export
    # writes every field), less the columns empty in every row before the table (a table
    # starting in column C); empty rows stay, as empty lines, to keep row numbers
    lead = min((next(i for i, c in enumerate(r) if c) for r in table if r), default=0)
    width = max((len(r) for r in table), default=0)
    for cells in table:
        if cells:
            writer.writerow(cells[lead:] + [""] * (width - len(cells)))
        else:
            out.write("\n")
    return out.getvalue().encode("utf-8")


def sheet_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """A sheet's rows as UTF-8 CSV text, one line per row (empty rows as empty lines)."""
    return _csv_text(_cells(rows))


def column_letters(index: int) -> str:
    """A 0-based column index as the spreadsheet's letters (0 -> ``A``, 26 -> ``AA``)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _side_by_side(table: list[list[str]]) -> list[tuple[int, int]]:
    """The column spans ``[start, end)`` of tables set side by side on a sheet: runs of
    columns split by columns empty in every row, each run headed by the same column names
    (a table copied beside itself, a month per block); one span, or none, for any other
    sheet (a table with an empty column inside it stays whole)."""
    head = next((r for r in table if r), [])
    start = next((i for i, c in enumerate(head) if c), 0)
    # a column empty in every row is empty in the first row too: only those are looked at
    gaps = [i for i in range(start, len(head)) if not head[i]]
    if not gaps:
        return []
    width = max(len(r) for r in table)
    used = [True] * width
    for i in gaps:
        used[i] = any(len(r) > i and r[i] for r in table)
    for i in range(start):
        used[i] = any(len(r) > i and r[i] for r in table)
    spans: list[tuple[int, int]] = []
    for i, u in enumerate(used):
        if u and (not spans or spans[-1][1] != i):
            spans.append((i, i + 1))
        elif u:
            spans[-1] = (spans[-1][0], i + 1)
    if len(spans) < 2:
        return []

    def names(lo: int, hi: int) -> frozenset[str]:
        head = next((r[lo:hi] for r in table if any(r[lo:hi])), [])
        return frozenset(c.strip().casefold() for c in head if c.strip())

    first = names(*spans[0])
    if len(first) < 2 or any(names(*span) != first for span in spans[1:]):
        return []
    return spans


def sheet_tables(rows: Iterable[Sequence[Any]]) -> list[tuple[str, bytes]]:
    """A sheet's tables as UTF-8 CSV texts, each with the columns it spans (``"A:D"``; empty
    for a sheet read whole): one for most sheets (:func:`sheet_csv`), one per table where
    tables with the same column names are set side by side (:func:`_side_by_side`), so the
    tables to the right are read as incidents, not as extra columns of the first. Each text's
    line n is the sheet's row n."""
    table = _cells(rows)
    spans = _side_by_side(table)
    if not spans:
        return [("", _csv_text(table))]
    out = []
    for lo, hi in spans:
        part = []
        for cells in table:
            piece = cells[lo:hi]
            while piece and piece[-1] == "":
                piece.pop()
            part.append(piece)
        out.append((f"{column_letters(lo)}:{column_letters(hi - 1)}", _csv_text(part)))
    return out


def fill_merged(
    rows: list[list[Any]], merged: Iterable[tuple[tuple[int, int], tuple[int, int]]] | None
) -> list[str]:
    """Fill each range of merged cells that runs down one column below a sheet's first row
    (``A2:A7``: a crime type or force written once for a block of rows, as hand-made reports
    do) with its value, held in its first cell only, in place; return the ranges filled
    (``"A2:A7"``). The sheet shows the value on every row of the range, so every row is read
    with it (a CSV export keeps it on the first row only: the other rows lost their crime
    type). Ranges across columns (a heading over several columns) are left as they are.

    Examples
    --------
    >>> rows = [["Type", "X"], ["Burglary", 1], ["", 2], ["", 3]]
    >>> fill_merged(rows, [((1, 0), (3, 0))]), [r[0] for r in rows]
    (['A2:A4'], ['Type', 'Burglary', 'Burglary', 'Burglary'])
    """
    first = next((i for i, r in enumerate(rows) if any(v not in (None, "") for v in r)), 0)
    filled = []
    for (r0, c0), (r1, c1) in sorted(merged or ()):
        if c0 != c1 or r1 <= r0 or r0 <= first or r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        value = rows[r0][c0]
        if value in (None, ""):
            continue
        for r in range(r0 + 1, min(r1, len(rows) - 1) + 1):
            if c0 < len(rows[r]) and rows[r][c0] in (None, ""):
                rows[r][c0] = value
        filled.append(f"{column_letters(c0)}{r0 + 1}:{column_letters(c1)}{r1 + 1}")
    return filled


#: The name of the stream holding an encrypted workbook in its OLE file (as OLE writes names).
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def _suffix(data: bytes) -> str | None:
    """A workbook's file suffix told by its content (None when it cannot be told)."""
    if data.startswith(OLE_MAGIC):
        return ".xls"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                return ".ods"
            return ".xlsb" if "xl/workbook.bin" in names else ".xlsx"
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error):
        return None


def _format_error(data: bytes, exc: Exception) -> Exception:
    """The parser's own error for a workbook's format: opened from bytes, the parser tries
    every format and says only "Cannot detect file format" when each fails, hiding the reason
    (a cell limit, a damaged part); a copy named by its format's suffix gives it."""
    from python_calamine import CalamineWorkbook

    suffix = _suffix(data)
    if suffix is None or "detect file format" not in str(exc):
        return exc
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"book{suffix}"
        path.write_bytes(data)
        try:
            CalamineWorkbook.from_path(str(path)).close()
        except Exception as real:  # the format's own error
            return real
    return exc


def _open(name: str, data: bytes) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as first:  # calamine raises its own error types, one per format's failure
        exc = _format_error(data, first)
        what = type(exc).__name__
        # a workbook saved with a password is an OLE file holding the encrypted package (the
        # parser says only "Cannot find Workbook stream")
        encrypted = data.startswith(OLE_MAGIC) and _ENCRYPTED in data
        if encrypted or "Password" in what or "password" in str(exc).lower():
            raise InputError(_PASSWORD, file=name, hint=_PASSWORD_HINT) from first
        msg = f"The workbook cannot be read ({what}: {exc})."
        raise InputError(msg, file=name, hint=_HINT) from first


def workbook_sheets(
    name: str, data: bytes, filled: list[tuple[str, list[str]]] | None = None
) -> tuple[list[tuple[str, Callable[[], bytes]]], list[tuple[str, str]]]:
    """A workbook's sheets as incident files: ``(label, loader of CSV bytes)`` for each visible
    sheet that holds a cell, and ``(label, reason)`` for each sheet not read.

    Parameters
    ----------
    name : str
        The workbook's name, for labels (``"book.xlsx [Sheet1]"``) and errors.
    data : bytes
        The workbook file's bytes.
    filled : list, optional
        Where ``(label, ranges)`` is added for each sheet whose merged cells down a column
        were filled with their value (:func:`fill_merged`), for the report.

    Returns
    -------
    files : list of (str, callable)
    skipped : list of (str, str)

    Raises
    ------
    InputError
        When the workbook cannot be parsed (damaged, password-protected), or has no sheet.
    """
    # each sheet's extent, checked before the parser lays the sheet out (an .xls saved with
    # a password is refused here: the parser would read its encrypted records)
    grids = _ooxml_grids(data) or _xlsb_grids(data) or _xls_grids(name, data)
    if data.startswith(OLE_MAGIC):  # the .xls parser lays out every sheet as it opens
        for sheet, grid in grids.items():
            _check_grid(f"{name} [{sheet}]", grid)
    stored = _odf_cells(data)  # checked once laid out (the parser bounds it: 10**8 cells)
    book = _open(name, data)
    try:
        meta = list(book.sheets_metadata)
        files: list[tuple[str, Callable[[], bytes]]] = []
        skipped: list[tuple[str, str]] = []
        for info in meta:
            label = f"{name} [{info.name}]"
            if str(info.typ).lower().rsplit(".", 1)[-1] != "worksheet":
                skipped.append((label, NOT_A_TABLE))
                continue
            if str(info.visible).lower().rsplit(".", 1)[-1] != "visible":
                skipped.append((label, HIDDEN_SHEET))
                continue
            _check_grid(label, grids.get(info.name))
            try:
                sheet = book.get_sheet_by_name(info.name)
            except Exception as exc:  # a damaged sheet: the workbook's error, named
                msg = f"The sheet {info.name!r} cannot be read ({type(exc).__name__}: {exc})."
                raise InputError(msg, file=name, hint=_HINT) from exc
            if info.name in stored and sheet.end is not None:
                _check_grid(label, _Grid(sheet.end[0] + 1, sheet.end[1] + 1, stored[info.name]))
            rows = sheet.to_python(skip_empty_area=False)
            ranges = fill_merged(rows, sheet.merged_cell_ranges)
            if ranges and filled is not None:
                filled.append((label, ranges))
            del sheet
            tables = sheet_tables(rows)
            del rows
            if len(tables) == 1 and not tables[0][1].strip():
                skipped.append((label, EMPTY_SHEET))
                continue
            for span, text in tables:  # tables side by side: one file each, by its columns
                files.append((f"{label} {span}" if span else label, functools.partial(bytes, text)))
    finally:
        book.close()
    if not files:
        why = "; ".join(f"{label}: {reason}" for label, reason in skipped) or "it has no sheet"
        msg = f"The workbook holds no visible sheet with cells ({why})."
        raise InputError(msg, file=name, hint=_HINT)
    return files, skipped
