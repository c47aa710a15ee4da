"""Easting/northing in a projected CRS other than British National Grid (``coordinate_crs``).

Police forces and cities outside Great Britain publish x/y in their own grids (US State Plane
zones in feet, the Netherlands' RD New, national UTM zones). The points are placed on the earth
from the CRS given and then read exactly as longitude/latitude would be: the same analysis CRS
and, to projection round-off, the same positions.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
from streamlit.testing.v1 import AppTest

from hotspots import InputError, ParameterError, cli
from hotspots.ingest import (
    FORMAT_BNG,
    FORMAT_GRID,
    R_RANGE,
    check_coordinate_crs,
    combine_files,
    read_file,
    read_incidents,
)

CHICAGO = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "us"
    / "chicago_aggravated_assaults_2010-2019.csv"
)  # fmt: skip
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _town(n: int = 3000, lon0: float = 4.90, lat0: float = 52.37, seed: int = 0) -> pd.DataFrame:
    """Incidents round a centre (default Amsterdam), with a dense spot, as lon/lat."""
    rng = np.random.default_rng(seed)
    k = n // 3
    lon = np.r_[rng.normal(lon0, 0.0005, k), rng.normal(lon0, 0.02, n - k)]
    lat = np.r_[rng.normal(lat0, 0.0003, k), rng.normal(lat0, 0.012, n - k)]
    months = rng.integers(1, 13, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "date": [f"2023-{m:02d}-15" for m in months],
            "lon": lon.round(7),
            "lat": lat.round(7),
            "offence": "assault",
        }
    )


def _with_grid(frame: pd.DataFrame, crs: str, x: str = "x", y: str = "y") -> pd.DataFrame:
    t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    gx, gy = t.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    out = frame.drop(columns=["lon", "lat"]).copy()
    out[x], out[y] = np.round(gx, 4), np.round(gy, 4)
    return out


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


@pytest.mark.parametrize(
    ("crs", "x", "y"),
    [("EPSG:28992", "x", "y"), ("EPSG:3435", "X Coordinate", "Y Coordinate")],
)
def test_grid_reads_as_its_longitude_latitude(crs: str, x: str, y: str) -> None:
    town = _town() if crs == "EPSG:28992" else _town(lon0=-87.65, lat0=41.85)
    by_lonlat = read_incidents(("ll.csv", _csv(town)), crime_types="all")
    by_grid = read_incidents(
        ("grid.csv", _csv(_with_grid(town, crs, x, y))), crime_types="all", coordinate_crs=crs
    )
    assert by_grid.crs == by_lonlat.crs
    assert len(by_grid) == len(by_lonlat) == len(town)
    # 1e-4 grid units of rounding in the file, then two projections: well under a millimetre
    assert np.abs(by_grid.xy - by_lonlat.xy).max() < 1e-3
    rep = by_grid.report
    assert rep.files[0].format == FORMAT_GRID
    assert rep.choices["coordinate_crs"] == crs
    assert any(
        f"the columns '{x}' and '{y}' were read as easting and northing" in n for n in rep.notes
    )


def test_chicago_state_plane_feet_matches_its_latitude_longitude() -> None:
    if not CHICAGO.exists():
        pytest.skip("shared data not present")
    real = pd.read_csv(CHICAGO, nrows=20_000)
    frame = real.rename(columns={"longitude": "lon", "latitude": "lat"})
    grid = _with_grid(frame, "EPSG:3435", "X Coordinate", "Y Coordinate")
    a = read_incidents(("chicago.csv", _csv(frame)), crime_types="all")
    b = read_incidents(
        ("chicago_xy.csv", _csv(grid)), crime_types="all", coordinate_crs="EPSG:3435"
    )
    assert b.crs == a.crs and str(b.crs) == "EPSG:32616"
    assert len(a) == len(b)
    assert np.abs(b.xy - a.xy).max() < 1e-3
    assert a.study_area.symmetric_difference(b.study_area).area < 1.0  # m², of ~600 km²


def test_points_off_the_earth_are_rejected_with_a_reason() -> None:
    grid = _with_grid(_town(500), "EPSG:28992")
    grid.loc[[3, 7], "x"] = 1e15  # not a place
    inc = read_incidents(("g.csv", _csv(grid)), crime_types="all", coordinate_crs="EPSG:28992")
    rej = inc.report.rejected
    assert sorted(rej["source_row"].tolist()) == [5, 9]
    assert (rej["reason"] == R_RANGE).all()
    assert inc.report.n_used == 498


def test_no_point_on_the_earth_names_the_crs() -> None:
    grid = _with_grid(_town(50), "EPSG:28992")
    grid["x"] = 1e15
    with pytest.raises(InputError, match="Amersfoort / RD New"):
        read_incidents(("g.csv", _csv(grid)), crime_types="all", coordinate_crs="EPSG:28992")


def test_bad_coordinate_crs_is_a_parameter_error() -> None:
    data = ("g.csv", _csv(_with_grid(_town(50), "EPSG:28992")))
    with pytest.raises(ParameterError, match="not a projected CRS"):
        read_incidents(data, coordinate_crs="EPSG:4326")
    with pytest.raises(ParameterError, match="pyproj knows"):
        read_incidents(data, coordinate_crs="EPSG:999999")


def test_british_national_grid_given_is_the_default() -> None:
    assert check_coordinate_crs("EPSG:27700") is None
    grid = _with_grid(_town(800, lon0=-2.98, lat0=53.40), "EPSG:27700", "easting", "northing")
    a = read_incidents(("b.csv", _csv(grid)), crime_types="all")
    b = read_incidents(("b.csv", _csv(grid)), crime_types="all", coordinate_crs="EPSG:27700")
    assert a.report.files[0].format == b.report.files[0].format == FORMAT_BNG
    assert "coordinate_crs" not in b.report.choices
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert np.array_equal(a.xy, b.xy)


def test_without_the_crs_the_error_says_how_to_give_it() -> None:
    grid = _with_grid(
        _town(100, lon0=-87.65, lat0=41.85), "EPSG:3435", "X Coordinate", "Y Coordinate"
    )
    with pytest.raises(InputError, match="coordinate-crs"):
        read_incidents(("xy.csv", _csv(grid)), crime_types="all")


def test_read_file_then_combine_equals_read_incidents() -> None:
    data = _csv(_with_grid(_town(600), "EPSG:28992"))
    whole = read_incidents(("g.csv", data), crime_types="all", coordinate_crs="EPSG:28992")
    parts = combine_files(
        [read_file("g.csv", data, coordinate_crs="EPSG:28992")], crime_types="all"
    )
    pd.testing.assert_frame_equal(whole.frame, parts.frame)
    assert np.array_equal(whole.xy, parts.xy)
    assert whole.report.notes == parts.report.notes


def test_files_read_in_different_grids_are_refused() -> None:
    a = read_file("a.csv", _csv(_with_grid(_town(100), "EPSG:28992")), coordinate_crs="EPSG:28992")
    b = read_file("b.csv", _csv(_with_grid(_town(100), "EPSG:32631")), coordinate_crs="EPSG:32631")
    with pytest.raises(ParameterError, match="different coordinate CRSs"):
        combine_files([a, b], crime_types="all")


def test_cli_reads_a_grid_and_records_it(tmp_path: Path) -> None:
    path = tmp_path / "rd.csv"
    path.write_bytes(_csv(_with_grid(_town(), "EPSG:28992")))
    out = tmp_path / "hot.geojson"
    code = cli.main(
        ["--quiet", "detect", str(path), "--crime-types", "all", "--coordinate-crs",
         "EPSG:28992", "--all", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    gj = json.loads(out.read_text())
    assert gj["hotspots_parameters"]["ingest"]["coordinate_crs"] == "EPSG:28992"
    # the densest spot, round Amsterdam's centre, is the first hot spot
    ring = np.array(gj["features"][0]["geometry"]["coordinates"][0])
    assert abs(ring[:, 0].mean() - 4.90) < 0.003 and abs(ring[:, 1].mean() - 52.37) < 0.002


def test_app_mapping_form_takes_the_crs() -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    grid = _with_grid(_town(), "EPSG:28992", "east_m", "north_m")
    at.sidebar.file_uploader(key="uploads").set_value(("rd.csv", _csv(grid), "text/csv"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1  # the columns cannot be found: the form is offered
    at.selectbox(key="colmap_easting").select("east_m")
    at.selectbox(key="colmap_northing").select("north_m")
    at.text_input(key="colmap_coordinate_crs").input("EPSG:28992")
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["column_map"] == {
        "easting": "east_m", "northing": "north_m", "coordinate_crs": "EPSG:28992",
    }  # fmt: skip
    hot = next(m.value for m in at.metric if m.label == "Hot spots")
    assert int(hot.replace(",", "")) >= 1
