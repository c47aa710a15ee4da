"""Tests for hotspots.harm.read_harm_weights: one reader for the CLI and the app, hostile tables."""

from __future__ import annotations

import json

import pytest

from hotspots import InputError, cli
from hotspots.harm import read_harm_weights

WEIGHTS = {"Violence and sexual offences": 10.0, "Robbery": 100.0, "Possession of weapons": 30.0}


def _csv(rows, delimiter=",", header=True):
    lines = (["crime_type" + delimiter + "weight"] if header else []) + [
        f"{k}{delimiter}{v:g}" for k, v in rows.items()
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (_csv(WEIGHTS), "utf-8"),
        (_csv(WEIGHTS), "utf-8-sig"),
        (_csv(WEIGHTS), "utf-16"),
        (_csv(WEIGHTS, delimiter=";"), "cp1252"),
        (_csv(WEIGHTS, delimiter="\t"), "utf-16"),
        (_csv(WEIGHTS, header=False), "utf-8"),
        ("\n\n" + _csv(WEIGHTS).replace("\n", "\r\n"), "utf-8"),
        (json.dumps(WEIGHTS), "utf-8"),
        (json.dumps(WEIGHTS), "utf-8-sig"),
    ],
)
def test_every_encoding_and_layout_gives_the_same_weights(text, encoding, tmp_path):
    data = text.encode(encoding)
    assert read_harm_weights(data, name="upload") == WEIGHTS
    suffix = ".json" if text.lstrip().startswith("{") else ".csv"
    path = tmp_path / f"harm{suffix}"
    path.write_bytes(data)
    assert read_harm_weights(path) == WEIGHTS
    assert read_harm_weights(str(path)) == WEIGHTS


def test_columns_found_by_name_and_decimal_comma():
    text = "offence;notes;harm days\nRobbery;street;365,5\nCriminal damage; ;1,5\n"
    assert read_harm_weights(text.encode("cp1252")) == {"Robbery": 365.5, "Criminal damage": 1.5}
    swapped = "weight,crime type\n2,Robbery\n"
    assert read_harm_weights(swapped.encode()) == {"Robbery": 2.0}
    # a Windows-1252 name (é) is read as written, not as mojibake
    assert read_harm_weights("Délit,3\n".encode("cp1252")) == {"Délit": 3.0}


def test_non_numeric_weight_names_file_row_column_and_fix():
    data = b"crime_type,weight\nRobbery,100\nBurglary,lots\n"
    with pytest.raises(InputError) as info:
        read_harm_weights(data, name="harm.csv")
    err = info.value
    assert (err.file, err.row, err.column) == ("harm.csv", 3, "weight")
    assert "'lots'" in str(err) and "Burglary" in str(err) and "Fix:" in str(err)


def test_wrong_columns_are_refused_with_a_fix():
    # an incident file given by mistake: many columns, no weight column
    incidents = b"Crime ID,Month,Longitude,Latitude,Crime type\nabc,2024-01,-3.0,53.4,Robbery\n"
    with pytest.raises(InputError, match="cannot tell which columns") as info:
        read_harm_weights(incidents, name="street.csv")
    assert info.value.row == 1 and "crime_type" in info.value.hint
    # two unrelated columns: the second is taken as the weight, and its text is refused
    with pytest.raises(InputError) as info:
        read_harm_weights(b"name,colour\nalice,red\n", name="people.csv")
    assert (info.value.row, info.value.column) == (2, "colour")
    # one column only
    with pytest.raises(InputError, match="two columns") as info:
        read_harm_weights(b"Robbery\nBurglary\n", name="types.csv")
    assert info.value.row == 1
    # a short row in the middle
    with pytest.raises(InputError, match="at least 2 columns") as info:
        read_harm_weights(b"Robbery,1\nBurglary\n", name="h.csv")
    assert info.value.row == 2


@pytest.mark.parametrize(
    ("data", "match", "row"),
    [
        (b"crime_type,weight\nRobbery,-1\n", "finite number >= 0", 2),
        (b"crime_type,weight\nRobbery,inf\n", "finite number >= 0", 2),
        (b"crime_type,weight\nRobbery,nan\n", "finite number >= 0", 2),
        (b"crime_type,weight\n,4\n", "crime type is blank", 2),
        (b"crime_type,weight\nRobbery,1\nROBBERY,2\n", "given twice", 3),
        (b"crime_type,weight\n", "no weights", None),
        (b"\n \n", "empty", None),
        (b"{not json", "not valid JSON", 1),
        (b"[1, 2]", "JSON object", None),
        (b'{"Robbery": "many"}', "not a number", None),
        (b'{"Robbery": true}', "not a number", None),
        (b"\x00\x01\x02\x03binary", "binary", None),
    ],
)
def test_hostile_tables(data, match, row):
    with pytest.raises(InputError, match=match) as info:
        read_harm_weights(data, name="h.csv")
    assert info.value.file == "h.csv"
    assert info.value.row == row


def test_same_weight_twice_is_accepted_and_case_is_kept():
    assert read_harm_weights(b"Robbery,5\nrobbery,5\n") == {"Robbery": 5.0}


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_harm_weights(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="folder"):
        read_harm_weights(tmp_path)


def test_cli_and_library_read_the_same_table(demo_csv, tmp_path, capsys):
    """The CLI used to skip the first line of every CSV: a table without header lost a row."""
    table = tmp_path / "harm.csv"
    table.write_text(_csv(WEIGHTS, header=False), encoding="utf-16")
    out = tmp_path / "h.geojson"
    args = ["--quiet", "detect", str(demo_csv), "--all", "--out", str(out)]
    assert cli.main([*args, "--harm-weights", str(table)]) == 0
    harms = [f["properties"]["harm"] for f in json.loads(out.read_text())["features"]]
    incidents = [f["properties"]["incidents"] for f in json.loads(out.read_text())["features"]]
    assert all(10 * n <= h <= 100 * n for h, n in zip(harms, incidents, strict=True))
    bad = tmp_path / "bad.csv"
    bad.write_text("crime_type,weight\nRobbery,x\n")
    assert cli.main([*args, "--harm-weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.csv, line 2, column 'weight'" in err
