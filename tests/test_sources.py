"""police.uk's download as it comes: a folder per month, a zip archive, gzip-compressed files,
and the outcomes and stop and search files beside the street files (not incidents)."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from hotspots import InputError
from hotspots.ingest import combine_files, list_sources, read_file, read_incidents
from hotspots.sources import folder_files, folder_listing, police_uk_kind

STREET_COLUMNS = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]  # fmt: skip


def _street(month: str, n: int, seed: int) -> pd.DataFrame:
    """A police.uk street file: n rows around Liverpool; row 3 has no coordinates."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{seed:08x}{i:056x}" for i in range(n)],
            "Month": month,
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": rng.normal(-2.98, 0.01, n).round(6),
            "Latitude": rng.normal(53.40, 0.01, n).round(6),
            "Location": "On or near Bold Street",
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": np.where(
                np.arange(n) % 2 == 0, "Violence and sexual offences", "Robbery"
            ),
            "Last outcome category": "Under investigation",
            "Context": "",
        }
    )[STREET_COLUMNS]
    frame.loc[3, ["Longitude", "Latitude"]] = np.nan
    return frame


def _outcomes(street: pd.DataFrame) -> pd.DataFrame:
    """police.uk's outcomes file for a street file: the same crimes, their outcome."""
    out = street.iloc[:, :9].copy()
    out["Outcome type"] = "Investigation complete; no suspect identified"
    return out


STOP_AND_SEARCH = (
    "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
    "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
    "Outcome,Outcome linked to object of search,Removal of more than just outer clothing\n"
    "Person search,2024-01-05T22:10:00+00:00,False,,53.40,-2.98,Male,18-24,,White,"
    "Misuse of Drugs Act 1971 (section 23),Controlled drugs,A no further action disposal,,\n"
)


@pytest.fixture()
def download(tmp_path):
    """police.uk's download unpacked: 2024-01/ and 2024-02/, each with the street, outcomes and
    stop and search files, plus a hidden file and a macOS resource folder (not data)."""
    root = tmp_path / "download"
    files = {}
    for i, month in enumerate(("2024-01", "2024-02")):
        street = _street(month, 40 + 10 * i, seed=i + 1)
        (root / month).mkdir(parents=True)
        files[f"{month}/{month}-merseyside-street.csv"] = street.to_csv(index=False)
        files[f"{month}/{month}-merseyside-outcomes.csv"] = _outcomes(street).to_csv(index=False)
        files[f"{month}/{month}-merseyside-stop-and-search.csv"] = STOP_AND_SEARCH
    files[".DS_Store.csv"] = "not,data\n1,2\n"
    files["__MACOSX/2024-01/._2024-01-merseyside-street.csv"] = "\x00\x05\x16\x07"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _zip_bytes(root) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(root).as_posix())
    return buf.getvalue()


STREET_FILES = ["2024-01/2024-01-merseyside-street.csv", "2024-02/2024-02-merseyside-street.csv"]
POLICE_SKIPPED = [
    "2024-01/2024-01-merseyside-outcomes.csv",
    "2024-01/2024-01-merseyside-stop-and-search.csv",
    "2024-02/2024-02-merseyside-outcomes.csv",
    "2024-02/2024-02-merseyside-stop-and-search.csv",
]
# a hidden file that ends in .csv is named as not read (session 13: it was left out unsaid);
# macOS's ._ metadata files in __MACOSX are left out unsaid
SKIPPED = [".DS_Store.csv", *POLICE_SKIPPED]


def test_police_uk_kind_by_name():
    assert police_uk_kind("2024-01-city-of-london-outcomes.csv") == "outcomes"
    assert police_uk_kind("a/b/2024-01-met-stop-and-search.CSV") == "stop-and-search"
    assert police_uk_kind("2024-01-met-street.csv") is None
    assert police_uk_kind("outcomes.csv") is None  # not police.uk's "-outcomes.csv"


def test_folder_listing_walks_month_folders_and_sets_aside_other_police_uk_files(download):
    files, skipped = folder_listing(download)
    assert [p.relative_to(download).as_posix() for p in files] == STREET_FILES
    assert [k.name for k in skipped] == SKIPPED
    assert "hidden" in skipped[0].reason
    assert "outcomes" in skipped[1].reason and "stop and search" in skipped[2].reason
    assert folder_files(download) == files


def test_download_folder_reads_the_street_files_only_and_says_so(download):
    direct = read_incidents([download / f for f in STREET_FILES], crime_types="all")
    inc = read_incidents(download, crime_types="all")
    assert inc.report.n_read == 40 + 50 == direct.report.n_read
    assert inc.report.n_used == 88  # row 3 of each file has no coordinates
    cols = ["x", "y", "month", "crime_type", "source_row"]
    pd.testing.assert_frame_equal(inc.frame[cols], direct.frame[cols])
    assert list(inc.frame["source_file"].astype(str).unique()) == STREET_FILES
    notes = [n for n in inc.report.notes if "was not read" in n]
    assert [n.split(" was not read")[0] for n in notes] == SKIPPED
    assert [k["name"] for k in inc.report.choices["skipped_files"]] == SKIPPED


@pytest.mark.parametrize("how", ["path", "upload"])
def test_zip_archive_is_read_as_the_folder_it_holds(download, tmp_path, how):
    data = _zip_bytes(download)
    if how == "path":
        (tmp_path / "police.zip").write_bytes(data)
        source = tmp_path / "police.zip"
    else:
        source = [("police.zip", data)]
    inc = read_incidents(source, crime_types="all")
    folder = read_incidents(download, crime_types="all")
    cols = ["x", "y", "month", "crime_type", "source_row"]
    pd.testing.assert_frame_equal(inc.frame[cols], folder.frame[cols])
    assert list(inc.frame["source_file"].astype(str).unique()) == [
        f"police.zip/{f}" for f in STREET_FILES
    ]
    assert [k["name"] for k in inc.report.choices["skipped_files"]] == [
        f"police.zip/{f}" for f in SKIPPED
    ]
    # the rejected rows name the member file and its line (row 3 -> line 5)
    rej = inc.report.rejected
    assert sorted(
        zip(rej["source_file"].astype(str), rej["source_row"].astype(int), strict=True)
    ) == [
        (f"police.zip/{STREET_FILES[0]}", 5),
        (f"police.zip/{STREET_FILES[1]}", 5),
    ]


def test_duplicates_found_later_are_read_back_from_the_archive(tmp_path):
    # the same crime (same id, same fields) in two monthly files: the second is rejected after
    # every file is read, and its raw fields are read again from its zip member
    street = _street("2024-01", 20, seed=7)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/2024-01-x-street.csv", street.to_csv(index=False))
        z.writestr("b/2024-01-x-street.csv", street.iloc[[0, 1]].to_csv(index=False))
    inc = read_incidents([("dup.zip", buf.getvalue())], crime_types="all")
    rej = inc.report.rejected
    dup = rej[rej["reason"].astype(str).str.contains("duplicate")]
    assert sorted(dup["source_row"].astype(int)) == [2, 3]
    assert set(dup["source_file"].astype(str)) == {"dup.zip/b/2024-01-x-street.csv"}
    assert inc.report.n_used == 19


def test_gzip_file_is_read_as_its_contents(download, tmp_path):
    plain = download / STREET_FILES[0]
    gz = tmp_path / "2024-01-merseyside-street.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a = read_incidents(plain, crime_types="all")
    b = read_incidents(gz, crime_types="all")
    pd.testing.assert_frame_equal(
        a.frame.drop(columns="source_file"), b.frame.drop(columns="source_file")
    )
    assert set(b.frame["source_file"].astype(str)) == {"2024-01-merseyside-street.csv"}
    c = read_incidents([("up.csv.gz", gz.read_bytes())], crime_types="all")
    assert c.report.n_used == a.report.n_used == 39


def test_the_cluster_path_carries_the_skipped_files(download):
    items = list_sources(download)
    assert [n for n, _ in items] == STREET_FILES
    assert [k.name for k in items.skipped] == SKIPPED
    files = [read_file(n, load) for n, load in items]
    inc = combine_files(files, crime_types="all", skipped=items.skipped)
    local = read_incidents(download, crime_types="all")
    assert list(inc.report.notes) == list(local.report.notes)


def test_a_damaged_workbook_is_an_input_error_naming_it(tmp_path):
    # workbooks are read (tests/test_spreadsheets.py); one the parser cannot read says so
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    path = tmp_path / "crimes.xlsx"
    path.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="The workbook cannot be read") as err:
        read_incidents(path)
    assert err.value.file == "crimes.xlsx"


def test_an_archive_without_incident_files_names_itself(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(InputError, match="holds no .csv") as err:
        read_incidents([("empty.zip", buf.getvalue())])
    assert err.value.file == "empty.zip"


def test_a_folder_of_outcomes_only_says_why_nothing_was_read(download, tmp_path):
    only = tmp_path / "only"
    only.mkdir()
    src = download / POLICE_SKIPPED[0]
    (only / src.name).write_bytes(src.read_bytes())
    with pytest.raises(InputError, match="outcomes file") as err:
        read_incidents(only)
    assert err.value.file == str(only)


def test_gzip_files_in_a_folder_and_in_an_archive(download, tmp_path):
    folder = tmp_path / "gz"
    folder.mkdir()
    for f in STREET_FILES:
        name = f.split("/")[1] + ".gz"
        (folder / name).write_bytes(gzip.compress((download / f).read_bytes()))
    inc = read_incidents(folder, crime_types="all")
    plain = read_incidents([download / f for f in STREET_FILES], crime_types="all")
    cols = ["x", "y", "month", "crime_type", "source_row"]
    pd.testing.assert_frame_equal(inc.frame[cols], plain.frame[cols])
    assert sorted(set(inc.frame["source_file"].astype(str))) == [
        "2024-01-merseyside-street.csv",
        "2024-02-merseyside-street.csv",
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.iterdir()):
            z.writestr(p.name, p.read_bytes())
    zipped = read_incidents([("gz.zip", buf.getvalue())], crime_types="all")
    pd.testing.assert_frame_equal(zipped.frame[cols], plain.frame[cols])
