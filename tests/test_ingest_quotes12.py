"""A quote left open: the lines it swallows are never lost silently.

A quoted field may hold line breaks (legal CSV, free text over several lines). A quote left
open instead takes every line up to the next quote into one field; when that row still has the
header's number of fields, the lines inside used to vanish from the counts without a word.
"""

from __future__ import annotations

import numpy as np
import pytest

from hotspots.ingest import R_MALFORMED, read_incidents

HEADER = "Crime ID,Month,Longitude,Latitude,Location,Crime type"


def _rows(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    lon = -2.98 + rng.normal(0, 0.01, n)
    lat = 53.40 + rng.normal(0, 0.01, n)
    return [
        f"id{i},2024-{1 + i % 12:02d},{lon[i]:.6f},{lat[i]:.6f},On or near Main Street,"
        "Violence and sexual offences"
        for i in range(n)
    ]


def _file(rows: list[str], newline: str = "\n") -> bytes:
    return (newline.join([HEADER, *rows]) + newline).encode()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_open_quote_with_the_right_field_count_is_rejected_with_its_lines(newline: str) -> None:
    rows = _rows(60)
    rows[10] = rows[10].replace("On or near Main", '"On or near Main')  # line 12 opens
    rows[14] = rows[14].replace("Main Street", 'Bold Street"')  # line 16 closes
    inc = read_incidents(("runaway.csv", _file(rows, newline)), crime_types="all")
    rep = inc.report
    # 60 lines of data: 56 rows read as such, one of them holding lines 12-16
    assert (rep.n_read, rep.n_used) == (56, 55)
    rej = rep.rejected
    assert len(rej) == 1
    row = rej.iloc[0]
    assert (row["source_file"], row["source_row"], row["reason"]) == (
        "runaway.csv",
        12,
        R_MALFORMED,
    )
    assert row["column"] == "Location"
    assert "line 12 closes only on line 16" in row["detail"]
    # the lost lines are in the rejected row's raw field, for the user to see
    assert "id11,2024-12" in row["Location"] and "id14,2024-03" in row["Location"]
    assert any("quote left open" in n for n in rep.notes)


def test_free_text_over_several_lines_is_kept() -> None:
    rows = _rows(40)
    rows[5] = rows[5].replace(
        "On or near Main Street", '"On or near Main Street\nnear the bus stop, by the shop"'
    )
    inc = read_incidents(("text.csv", _file(rows)), crime_types="all")
    assert (inc.report.n_read, inc.report.n_used, len(inc.report.rejected)) == (40, 40, 0)


def test_a_line_with_enough_commas_but_no_coordinates_is_free_text() -> None:
    rows = _rows(40)
    rows[5] = rows[5].replace(
        "On or near Main Street", '"On or near Main Street\na, b, c, d, e, f"'
    )  # six fields, like a row, but no numbers where the coordinates are
    inc = read_incidents(("text.csv", _file(rows)), crime_types="all")
    assert (inc.report.n_used, len(inc.report.rejected)) == (40, 0)


def test_malformed_row_says_which_lines_an_open_quote_took() -> None:
    rows = _rows(30)
    rows[0] = rows[0].replace("On or near", '"On or near', 1)  # line 2 opens in Location
    rows[7] = rows[7].replace(",2024-08,", ',"2024-08,', 1)  # line 9 closes it
    inc = read_incidents(("ragged.csv", _file(rows)), crime_types="all")
    rej = inc.report.rejected
    first = rej[rej["source_row"] == 2].iloc[0]
    assert first["reason"] == R_MALFORMED
    assert first["detail"].startswith(
        "9 fields where the header has 6; it runs from line 2 to line 9: a quote left open"
    )
    # every one of the 30 data lines is accounted for: used, or inside a rejected row
    used = inc.report.n_used
    assert used + len(rej) == inc.report.n_read
    assert inc.report.choices is not None


def test_rejection_counts_add_malformed_of_both_kinds() -> None:
    rows = _rows(50)
    rows[3] = rows[3] + ",extra"  # wrong field count (line 5)
    rows[10] = rows[10].replace("On or near Main", '"On or near Main')
    rows[13] = rows[13].replace("Main Street", 'Bold Street"')
    inc = read_incidents(("both.csv", _file(rows)), crime_types="all")
    rej = inc.report.rejected
    assert sorted(rej["source_row"].tolist()) == [5, 12]
    assert (rej["reason"] == R_MALFORMED).all()
    assert inc.report.n_used == inc.report.n_read - 2


def test_identical_rows_note_names_police_uk_snapping_only_for_police_uk_files(tmp_path):
    """Identical rows without an id are kept; the reason names police.uk's snapping only where
    the files are police.uk's (a city export's note said police.uk snaps its incidents)."""
    from hotspots.ingest import read_incidents

    rows = "date,latitude,longitude,offense\n" + "2024-01-05,41.88,-87.63,assault\n" * 3
    rows += "".join(f"2024-01-0{d},41.8{d},-87.6{d},assault\n" for d in range(1, 8))
    path = tmp_path / "city.csv"
    path.write_text(rows, encoding="utf-8")
    note = next(n for n in read_incidents(path).report.notes if "identical to an" in n)
    assert note.startswith("2 row(s) without an id are identical to an earlier row")
    assert "police.uk" not in note
