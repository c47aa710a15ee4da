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
  coordinate holding an error is rejected as missing.

Hidden sheets (often lookup tables) and empty sheets are not read; each is named with the
reason (:class:`hotspots.sources.Skipped`). A workbook protected by a password cannot be
read: the error says so.

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
import io
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any

from hotspots._errors import InputError

__all__ = [
    "HIDDEN_SHEET",
    "NOT_A_TABLE",
    "SPREADSHEET_SUFFIXES",
    "EMPTY_SHEET",
    "cell_text",
    "is_spreadsheet_name",
    "sheet_csv",
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


def sheet_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    """A sheet's rows as UTF-8 CSV text, one line per row (empty rows as empty lines)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    table = []
    for row in rows:
        cells = [cell_text(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        table.append(cells)
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


def _open(name: str, data: bytes) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types, one per format's failure
        what = type(exc).__name__
        if "Password" in what or "password" in str(exc).lower():
            msg = "The workbook is protected by a password, so it cannot be read."
            raise InputError(msg, file=name, hint="save an unprotected copy, or a CSV.") from exc
        msg = f"The workbook cannot be read ({what}: {exc})."
        raise InputError(msg, file=name, hint=_HINT) from exc


def workbook_sheets(
    name: str, data: bytes
) -> tuple[list[tuple[str, Callable[[], bytes]]], list[tuple[str, str]]]:
    """A workbook's sheets as incident files: ``(label, loader of CSV bytes)`` for each visible
    sheet that holds a cell, and ``(label, reason)`` for each sheet not read.

    Parameters
    ----------
    name : str
        The workbook's name, for labels (``"book.xlsx [Sheet1]"``) and errors.
    data : bytes
        The workbook file's bytes.

    Returns
    -------
    files : list of (str, callable)
    skipped : list of (str, str)

    Raises
    ------
    InputError
        When the workbook cannot be parsed (damaged, password-protected), or has no sheet.
    """
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
            try:
                rows = book.get_sheet_by_name(info.name).to_python(skip_empty_area=False)
            except Exception as exc:  # a damaged sheet: the workbook's error, named
                msg = f"The sheet {info.name!r} cannot be read ({type(exc).__name__}: {exc})."
                raise InputError(msg, file=name, hint=_HINT) from exc
            text = sheet_csv(rows)
            if not text.strip():
                skipped.append((label, EMPTY_SHEET))
                continue
            files.append((label, functools.partial(bytes, text)))
    finally:
        book.close()
    if not files:
        why = "; ".join(f"{label}: {reason}" for label, reason in skipped) or "it has no sheet"
        msg = f"The workbook holds no visible sheet with cells ({why})."
        raise InputError(msg, file=name, hint=_HINT)
    return files, skipped
