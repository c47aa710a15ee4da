"""Write hostile14_password.xlsx: a two-row workbook saved with the password "secret".

OOXML encryption wraps the workbook in an OLE file (an ``EncryptedPackage`` stream). Run with
a throw-away venv holding openpyxl and msoffcrypto-tool (not dependencies of hotspots)::

    python -m venv /tmp/enc && /tmp/enc/bin/pip install openpyxl msoffcrypto-tool
    /tmp/enc/bin/python tests/data/make_hostile14_password.py
"""

import io
from pathlib import Path


def main() -> None:
    """Write the fixture beside this script (imports here: pytest imports this module)."""
    import openpyxl
    from msoffcrypto.format.ooxml import OOXMLFile

    wb = openpyxl.Workbook()
    wb.active.append(["Longitude", "Latitude", "Crime type"])
    wb.active.append([-2.98, 53.4, "Burglary"])
    plain = io.BytesIO()
    wb.save(plain)
    plain.seek(0)
    with (Path(__file__).parent / "hostile14_password.xlsx").open("wb") as out:
        OOXMLFile(plain).encrypt("secret", out)


if __name__ == "__main__":
    main()
