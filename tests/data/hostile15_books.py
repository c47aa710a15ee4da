"""Workbooks built byte by byte for tests/test_hostile15.py (no spreadsheet program needed).

``xlsb(cells)``: an Excel binary workbook (``.xlsb``: a zip of BIFF12 records, [MS-XLSB]) with
one sheet holding ``cells`` ((row, column, value), 0-based; a float, an int or a str), its
dimension record (``BrtWsDim``) giving the cells' extent unless ``dimension`` is given.
``xls_with_filepass(data)``: an Excel 97-2003 workbook (``.xls``, BIFF8 in an OLE file) whose
workbook stream carries a ``FILEPASS`` record, as Excel writes one saved with a password.
"""

from __future__ import annotations

import io
import struct
import zipfile


def _varint(n: int, most: int) -> bytes:
    """A BIFF12 record type (at most 2 bytes) or size (at most 4): 7 bits a byte, low first."""
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            break
    assert len(out) <= most
    return bytes(out)


def record(kind: int, body: bytes = b"") -> bytes:
    """One BIFF12 record."""
    return _varint(kind, 2) + _varint(len(body), 4) + body


def wide(text: str) -> bytes:
    """An XLWideString: its count of UTF-16 code units, then the units."""
    units = text.encode("utf-16-le")
    return struct.pack("<I", len(units) // 2) + units


def sheet_records(cells, dimension=None) -> bytes:
    """A sheet part (``sheet1.bin``): rows in order, each row's cells in column order."""
    cells = sorted(cells, key=lambda c: (c[0], c[1]))
    if dimension is None and cells:
        rows = [c[0] for c in cells]
        cols = [c[1] for c in cells]
        dimension = (min(rows), max(rows), min(cols), max(cols))
    out = [record(0x81), record(0x94, struct.pack("<4I", *(dimension or (0, 0, 0, 0))))]
    out.append(record(0x91))  # BrtBeginSheetData
    row = None
    for r, c, value in cells:
        if r != row:  # BrtRowHdr: row, style, height, flags, no column spans
            out.append(record(0x00, struct.pack("<IIHBBBI", r, 0, 300, 0, 0, 0, 0)))
            row = r
        head = struct.pack("<II", c, 0)  # column, style 0
        if isinstance(value, str):
            out.append(record(0x06, head + wide(value)))  # BrtCellSt
        else:
            out.append(record(0x05, head + struct.pack("<d", float(value))))  # BrtCellReal
    out += [record(0x92), record(0x82)]  # BrtEndSheetData, BrtEndSheet
    return b"".join(out)


def xlsb(cells, dimension=None, name: str = "Crimes") -> bytes:
    """An ``.xlsb`` workbook with one visible sheet ``name`` holding ``cells``."""
    book = b"".join(
        [
            record(0x83),  # BrtBeginBook
            record(0x8F),  # BrtBeginBundleShs
            record(0x9C, struct.pack("<II", 0, 1) + wide("rId1") + wide(name)),  # BrtBundleSh
            record(0x90),  # BrtEndBundleShs
            record(0x84),  # BrtEndBook
        ]
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://'
        'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
        'http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.bin"/></Relationships>'
    )
    types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
        'openxmlformats.org/package/2006/content-types"><Default Extension="bin" ContentType="'
        'application/vnd.ms-excel.sheet.binary.macroEnabled.main"/></Types>'
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("xl/workbook.bin", book)
        z.writestr("xl/_rels/workbook.bin.rels", rels)
        z.writestr("xl/worksheets/sheet1.bin", sheet_records(cells, dimension))
    return buf.getvalue()
