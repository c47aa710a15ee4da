"""Every incident at one place: the empty result says why, not "try another method"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hotspots import cli
from hotspots.detect import detect
from hotspots.ingest import read_incidents
from hotspots_app.detection import nothing_significant

ROWS = "id,date,longitude,latitude,offence\n"


def _one_place(n: int = 300) -> bytes:
    return (
        ROWS + "".join(f"{i},2023-{1 + i % 9:02d}-01,-0.1,51.5,assault\n" for i in range(n))
    ).encode()


@pytest.mark.parametrize("method", ["kde", "dbscan", "gistar", "hdbscan"])
def test_one_place_is_named_whatever_the_method(method: str) -> None:
    inc = read_incidents(("one.csv", _one_place()), crime_types="all")
    res = detect(inc, method=method)
    assert len(res.hotspots) == 0
    why = res.one_place()
    assert why is not None and why.startswith(
        "all 300 incidents are at one place (-0.10000, 51.50000)"
    )
    assert nothing_significant(res, method).startswith("All 300 incidents are at one place")


def test_two_places_are_not_one() -> None:
    rng = np.random.default_rng(0)
    lines = [f"{i},2023-01-01,{-0.1 + 0.01 * (i % 2)},51.5,assault" for i in range(200)]
    lines += [
        f"{i},2023-01-01,{-0.1 + rng.normal(0, 0.01):.5f},{51.5 + rng.normal(0, 0.01):.5f},a"
        for i in range(5)
    ]
    inc = read_incidents(("two.csv", (ROWS + "\n".join(lines) + "\n").encode()), crime_types="all")
    assert detect(inc, method="kde").one_place() is None


def test_cli_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes(_one_place(50))
    code = cli.main(
        ["detect", str(path), "--crime-types", "all", "-o", str(tmp_path / "o.geojson")]
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "all 50 incidents are at one place (-0.10000, 51.50000)" in err
    assert "so nothing was written" in err and "try another" not in err


def test_one_incident_is_one_place_not_an_insignificant_hot_spot(tmp_path, capsys) -> None:
    """KDE draws a contour round a single incident, which no test calls significant: the CLI
    says the data hold one place, not "none of the 1 hot spots passed the significance test"."""
    path = tmp_path / "one.csv"
    path.write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Crime type,Last outcome category,Context\nabc,2024-01,Merseyside Police,"
        "Merseyside Police,-2.98,53.40,On or near X,E0,L,Violence and sexual offences,,\n",
        encoding="utf-8",
    )
    res = detect(read_incidents(path), method="kde")
    assert len(res.hotspots) == 1 and not res.hotspots["significant"].any()
    assert res.one_place().startswith("all 1 incidents are at one place")
    code = cli.main(["detect", str(path), "-o", str(tmp_path / "o.geojson")])
    assert code == 2
    err = capsys.readouterr().err
    assert "at one place" in err and "none of the 1 hot spots" not in err
