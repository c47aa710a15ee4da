"""Write hostile15_plain.xls, hostile15_filepass.xls and hostile15_far.xls (Excel 97-2003
workbooks, BIFF8).

Both start from a 10-row incident sheet written by xlwt (not a dependency of hotspots), then
patched in place (same length, so the OLE file's tables stay true):

* ``hostile15_plain.xls``: as written (the 10 rows and a number in F4);
* ``hostile15_filepass.xls``: the records after the globals' BOF (INTERFACEHDR, MMS,
  INTERFACEEND: 16 bytes) become a FILEPASS record (XOR obfuscation, 10 bytes) and an MMS
  record (6 bytes), as Excel writes a workbook saved with a password (the cells are left
  plain: a reader that does not look for FILEPASS reads them as if nothing were wrong);
* ``hostile15_far.xls``: one NUMBER cell moved to row 65536, column 65536 (a stray cell the
  parser would lay out as a 4-billion-cell grid).

Run with a throw-away venv::

    python -m venv /tmp/xlwt && /tmp/xlwt/bin/pip install xlwt
    /tmp/xlwt/bin/python tests/data/make_hostile15_xls.py
"""

import io
import struct
from pathlib import Path


def main() -> None:
    """Write the fixtures beside this script (imports here: pytest imports this module)."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Crimes")
    for j, h in enumerate(["Longitude", "Latitude", "Crime type", "Date"]):
        ws.write(0, j, h)
    for i in range(10):
        ws.write(i + 1, 0, -2.98 + i * 0.001)
        ws.write(i + 1, 1, 53.4 + i * 0.001)
        ws.write(i + 1, 2, "Burglary")
        ws.write(i + 1, 3, f"2024-01-0{1 + i % 9}")
    ws.write(3, 5, 1234.5678)  # the cell to move
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    here = Path(__file__).parent
    (here / "hostile15_plain.xls").write_bytes(data)

    bof = data.find(bytes.fromhex("0908100000060500"))  # the globals' BOF
    after = bof + 20
    assert data[after : after + 16] == bytes.fromhex("e1000200b004c10002000000e2000000")
    filepass = bytes.fromhex("2f00060000003412abcdc10002000000")
    (here / "hostile15_filepass.xls").write_bytes(data[:after] + filepass + data[after + 16 :])

    at = data.find(struct.pack("<HHHHH", 0x0203, 14, 3, 5, 17))  # NUMBER at F4
    assert at > 0
    far = bytearray(data)
    far[at + 4 : at + 8] = struct.pack("<HH", 0xFFFF, 0xFFFF)
    (here / "hostile15_far.xls").write_bytes(bytes(far))


if __name__ == "__main__":
    main()
