"""Tests for hotspots.ingest.read_headers and read_text: the app reads headers as ingest does."""

from __future__ import annotations

import pytest

from hotspots import InputError
from hotspots.ingest import read_headers, read_incidents, read_text

HEADER = ["Crime ID", "Month", "Longitude", "Latitude", "Location", "Crime type"]
ROW = ["x1", "2024-01", "-3.0", "53.4", "On or near Rue de l'Église", "Robbery"]


def _csv(delimiter=",", n=3):
    lines = [delimiter.join(HEADER)] + [delimiter.join(ROW)] * n
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ","),
        ("utf-8-sig", ";"),
        ("utf-16", "\t"),  # Excel's "Unicode text"
        ("utf-16-le", ","),  # with the byte-order mark added below
        ("utf-16-be", ","),
        ("cp1252", "|"),
    ],
)
def test_headers_in_every_encoding(encoding, delimiter):
    text = _csv(delimiter)
    data = text.encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be"):
        data = (b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff") + data
    assert read_headers(data, name="x.csv") == HEADER
    decoded, enc, delim = read_text(data, name="x.csv")
    assert delim == delimiter and decoded.splitlines()[1].endswith("Robbery")
    assert ROW[4] in decoded  # the É of Église read as written in every encoding
    assert enc.replace("-sig", "").replace("-le", "").replace("-be", "") in (
        "utf-8",
        "utf-16",
        "cp1252",
    )


def test_headers_agree_with_ingest_on_a_large_utf16_file(tmp_path):
    """Only the first 64 KiB are read, cut on a line end (an odd cut would break UTF-16)."""
    text = _csv(",", n=3000)  # ~190 kB in UTF-16
    path = tmp_path / "big.csv"
    path.write_bytes(text.encode("utf-16"))
    assert len(path.read_bytes()) > 65536
    assert read_headers(path) == HEADER
    inc = read_incidents(path, crime_types="all")
    assert inc.report.files[0].encoding == "utf-16"
    assert set(inc.report.files[0].columns.values()) <= set(HEADER)


def test_blank_lines_and_blank_header_cells():
    data = b"\n\n Month ,,Longitude,Latitude,\n2024-01,,1,2,\n"
    assert read_headers(data) == ["Month", "Longitude", "Latitude"]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (b"PK\x03\x04xxxx", "zip"),
        (b"\x00\x01\x02\x03\x04" * 50, "binary"),
    ],
)
def test_hostile_files_are_refused_like_ingest(data, match):
    with pytest.raises(InputError, match=match) as info:
        read_headers(data, name="upload.csv")
    assert info.value.file == "upload.csv"
