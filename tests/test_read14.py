"""Session 14's read: a location column holding points told from one of place names by the
first character of each distinct value before the regular expression runs (`_mostly_points`).

The shortcut must decide as the regular expression over every value did, on random and edge
inputs (Unicode digits and spaces, exactly half, street names starting with a digit), take the
short way for street names, and leave `read_incidents` unchanged on whole files: empty, one row,
every row rejected, duplicates, files of both kinds mixed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hotspots import ingest
from hotspots._errors import InputError
from hotspots.ingest import read_incidents
from hotspots.jsonutil import to_jsonable


def _reference(values: pa.Array) -> bool:
    """The test as it was: the regular expression over every non-empty value."""
    text = values.to_pandas().astype(str)
    text = text[text != ""]
    return bool(len(text)) and float(text.str.contains(ingest._POINT_TEXT).mean()) >= 0.5


_KINDS = [
    "On or near High Street",
    "12 High Street",
    "100XX W MADISON ST",
    "(41.878, -87.629)",
    "(41.878,-87.629",
    "-0.5, 51.5",
    " (1, 2)",
    "POINT (-122.41 37.78)",
    "POINT(1 2)",
    "Point (1 2)",
    "Pothole Lane",
    "\u0663\u0661.5, 2.5",  # Arabic-Indic digits: Python's \d
    "\u00a0(1.0, 2.0)",  # a no-break space: Python's \s
    "(",
    "-",
    "P",
    "é",
    "",
]


def _series(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


@pytest.mark.parametrize("seed", range(40))
def test_mostly_points_equals_the_regular_expression_on_every_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    weights = rng.dirichlet(np.ones(len(_KINDS)) * 0.3)
    picks = rng.choice(len(_KINDS), size=n, p=weights)
    text = [_KINDS[i] + ("" if rng.random() < 0.5 or not _KINDS[i] else f" {i}") for i in picks]
    for kind in (pa.string(), pa.large_string()):
        values = pa.array(text, kind)
        assert ingest._mostly_points(values) == _reference(values)


@pytest.mark.parametrize(
    "values",
    [
        ["(1, 2)"],
        ["High Street"],
        ["(1, 2)", "High Street"],  # exactly half: points
        ["(1, 2)", "12 High Street"],  # half could match, one does
        ["(1, 2)", "12 High Street", "13 High Street"],
        ["POINT (1 2)", "Pothole Lane", "Park Road"],
        ["\u0663.5, 2.5", "Main Street"],
        ["(1, 2)", "(1, 2)", "Main Street"],  # duplicates count as values do
        [],
        [""],
        ["", "", "(1, 2)"],  # empty values do not count
        ["", "Main Street", "(1, 2)"],
    ],
)
def test_mostly_points_equals_the_regular_expression_on_edge_inputs(values: list[str]) -> None:
    s = _series(values)
    assert ingest._mostly_points(s) == _reference(s)


def test_street_names_are_settled_without_the_regular_expression(monkeypatch) -> None:
    # an invalid pattern raises wherever it runs: street names never reach it
    monkeypatch.setattr(ingest, "_POINT_TEXT", "(")
    names = _series([f"On or near Street {i}" for i in range(500)] + ["(1.0, 2.0)"] * 10)
    assert ingest._mostly_points(names) is False
    with pytest.raises(Exception, match="missing"):
        ingest._mostly_points(_series(["(1.0, 2.0)"] * 3 + ["Main Street"]))


_HEADER = "Crime ID,Month,Longitude,Latitude,Location,Crime type"


def _police(n: int, seed: int = 0, location: str = "On or near Main Street") -> bytes:
    rng = np.random.default_rng(seed)
    lon = -2.98 + rng.normal(0, 0.01, n)
    lat = 53.40 + rng.normal(0, 0.01, n)
    end = '"' if location.startswith('"') else ""  # a quoted location holds a comma
    location = location if end else location + " "
    rows = [
        f"id{seed}-{i},2024-{1 + i % 12:02d},{lon[i]:.6f},{lat[i]:.6f},{location}{i % 7}{end},"
        "Violence and sexual offences"
        for i in range(n)
    ]
    return ("\n".join([_HEADER, *rows]) + "\n").encode()


def _chicago(n: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    lat = 41.88 + rng.normal(0, 0.01, n)
    lon = -87.63 + rng.normal(0, 0.01, n)
    head = "ID,Date,Block,Primary Type,Latitude,Longitude,Location"
    rows = [
        f"{i},01/0{1 + i % 9}/2024 10:00:00 AM,0{i % 9}XX W MADISON ST,BATTERY,"
        f'{lat[i]:.6f},{lon[i]:.6f},"({lat[i]:.6f}, {lon[i]:.6f})"'
        for i in range(n)
    ]
    return ("\n".join([head, *rows]) + "\n").encode()


def _outcome(sources) -> tuple:
    """What read_incidents makes of the sources: the frame, the report's parts, or the error."""
    try:
        inc = read_incidents(sources, crime_types="all")
    except InputError as exc:
        return ("error", str(exc))
    rep = inc.report
    return (
        inc.frame.reset_index(drop=True),
        rep.n_read,
        rep.n_used,
        list(rep.notes),
        to_jsonable(dict(rep.choices)),
        rep.rejected.reset_index(drop=True),
        [f.columns for f in rep.files],
    )


def _same(a: tuple, b: tuple) -> None:
    if isinstance(a[0], str) or isinstance(b[0], str):  # an error: the same one
        assert a == b
        return
    pd.testing.assert_frame_equal(a[0], b[0])
    assert a[1:5] == b[1:5]
    pd.testing.assert_frame_equal(a[5], b[5])
    assert a[6] == b[6]


_DUPLICATED = _police(30, 3)
_DUPLICATED += b"\n".join(_DUPLICATED.split(b"\n")[1:6]) + b"\n"

_CASES = {
    "empty": [("empty.csv", (_HEADER + "\n").encode())],
    "one row": [("one.csv", _police(1))],
    "all rejected": [("bad.csv", _police(5).replace(b"-2.9", b"abc"))],
    "duplicates": [("dup.csv", _DUPLICATED)],
    "points column": [("chicago.csv", _chicago(40))],
    "mixed": [("a.csv", _police(50, 4)), ("b.csv", _police(20, 5)), ("c.csv", _chicago(30))],
    "points in a police.uk file": [("p.csv", _police(25, 6, location='"(53.4, -2.98)'))],
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_read_incidents_as_with_the_regular_expression_on_every_value(case, monkeypatch) -> None:
    new = _outcome(_CASES[case])
    monkeypatch.setattr(ingest, "_mostly_points", _reference)
    old = _outcome(_CASES[case])
    _same(new, old)


def test_a_location_column_of_points_is_still_passed_over() -> None:
    inc = read_incidents(("chicago.csv", _chicago(40)), crime_types="all")
    assert inc.report.files[0].columns["location"] == "Block"
    assert inc.frame["location"].str.endswith("W MADISON ST").all()
    inc = read_incidents(("p.csv", _police(25, 6)), crime_types="all")
    assert inc.report.files[0].columns["location"] == "Location"
