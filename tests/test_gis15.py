"""GIS point layers read as incident files (:mod:`hotspots.layers`): GeoPackage, shapefile
(also zipped), GeoJSON, FlatGeobuf; the same incidents as a CSV, row accounting by feature,
the CRS said and recorded, the app's upload and the CLI."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import pytest
import shapely

from hotspots import cli, layers
from hotspots._errors import InputError
from hotspots.crs import transformer
from hotspots.ingest import read_incidents

APP = str(Path(__file__).resolve().parents[1] / "app.py")
N = 300


def _rows(n: int = N, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    k = n // 2
    lon = np.r_[rng.normal(-2.98, 0.001, k), rng.normal(-2.98, 0.02, n - k)].round(6)
    lat = np.r_[rng.normal(53.40, 0.001, k), rng.normal(53.40, 0.015, n - k)].round(6)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 1440, n), "min")
    return pd.DataFrame({
        "Crime ID": [f"c{i}" for i in range(n)],
        "Date": when.strftime("%Y-%m-%d %H:%M:%S"),
        "Crime type": rng.choice(["Burglary", "Robbery", "Shoplifting"], n),
        "Longitude": lon, "Latitude": lat,
    })  # fmt: skip


def _csv(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def _write(frame: pd.DataFrame, path: Path, driver: str, crs: str | None = "EPSG:4326",
           geoms: np.ndarray | None = None, layer: str | None = None, gtype: str = "Point",
           **kw) -> Path:  # fmt: skip
    """A layer of the rows' points (in ``crs``, projected from lon/lat) written by pyogrio."""
    if geoms is None:
        x, y = frame["Longitude"].to_numpy(), frame["Latitude"].to_numpy()
        if crs not in (None, "EPSG:4326"):
            x, y = transformer("EPSG:4326", crs).transform(x, y)
        geoms = shapely.points(x, y)
    table = pa.table({
        "Crime ID": pa.array(frame["Crime ID"].tolist(), pa.string()),
        "Date": pd.to_datetime(frame["Date"]).to_numpy(),
        "Crime type": pa.array(frame["Crime type"].tolist(), pa.string()),
        "geometry": pa.array(shapely.to_wkb(geoms), pa.binary()),
    })  # fmt: skip
    with warnings.catch_warnings():  # a File Geodatabase launders "Crime ID" to "Crime_ID"
        warnings.simplefilter("ignore", RuntimeWarning)
        pyogrio.write_arrow(
            table, str(path), driver=driver, layer=layer, geometry_name="geometry",
            geometry_type=gtype, crs=crs, **kw,
        )  # fmt: skip
    return path


def _frame(inc) -> pd.DataFrame:
    keep = ["x", "y", "lon", "lat", "datetime", "crime_type"]
    # in one order: a FlatGeobuf with a spatial index holds its features in the index's order
    return inc.frame[keep].sort_values(["datetime", "x"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return _rows()


@pytest.fixture(scope="module")
def from_csv(rows):
    return read_incidents([("crimes.csv", _csv(rows))], crime_types="all")


@pytest.mark.parametrize(
    ("driver", "suffix", "crs"),
    [("GPKG", "gpkg", "EPSG:4326"), ("GeoJSON", "geojson", "EPSG:4326"),
     ("FlatGeobuf", "fgb", "EPSG:4326"), ("ESRI Shapefile", "shp", "EPSG:4326"),
     ("GPKG", "gpkg", "EPSG:27700"), ("GPKG", "gpkg", "EPSG:3857"),
     ("GPKG", "gpkg", "EPSG:4258")],
)  # fmt: skip
def test_each_format_gives_the_csv_frame(tmp_path, rows, from_csv, driver, suffix, crs):
    path = _write(rows, tmp_path / f"crimes.{suffix}", driver, crs)
    inc = read_incidents(path, crime_types="all")
    a, b = _frame(inc), _frame(from_csv)
    assert len(a) == len(b) == N
    # British National Grid: PROJ's Helmert step there and back differs by under 1 mm
    tol = 1e-3 if crs == "EPSG:27700" else 1e-6
    np.testing.assert_allclose(a[["x", "y"]], b[["x", "y"]], atol=tol, rtol=0)
    assert (a["datetime"] == b["datetime"]).all()  # typed date-times stay exact
    assert (a["crime_type"] == b["crime_type"]).all()
    assert inc.report.choices["layer_crs"] == {f"crimes.{suffix}": crs}
    assert any("a point layer in " in n and f"({crs})" in n for n in inc.report.notes)
    assert "skipped_files" not in inc.report.choices


def test_row_accounting_by_feature(tmp_path, rows):
    small = rows.iloc[:6].copy()
    pts = [shapely.Point(-2.98, 53.40), None, shapely.Point(),
           shapely.MultiPoint([(-2.97, 53.41)]), shapely.MultiPoint([(-2.9, 53.4), (-2.8, 53.4)]),
           shapely.LineString([(-2.9, 53.4), (-2.8, 53.4)])]  # fmt: skip
    path = _write(small, tmp_path / "mixed.gpkg", "GPKG", geoms=np.array(pts, dtype=object),
                  gtype="Unknown")  # fmt: skip
    inc = read_incidents(path, crime_types="all")
    assert sorted(inc.frame["source_row"]) == [1, 4]  # the feature's position, 1 first
    rej = inc.report.rejected.set_index("source_row")
    assert sorted(rej.index) == [2, 3, 5, 6]
    assert rej.loc[2, "reason"] == rej.loc[3, "reason"] == "missing coordinates"
    assert rej.loc[2, "Crime ID"] == "c1"  # with the row's fields
    assert "a multipoint of 2 points" in rej.loc[5, "Longitude"]
    assert "a line, not a point" in rej.loc[6, "Longitude"]
    assert inc.frame.loc[inc.frame["source_row"] == 4, "lon"].iloc[0] == pytest.approx(-2.97)


def test_layers_named_and_other_geometries_skipped(tmp_path, rows):
    path = _write(rows, tmp_path / "incidents.gpkg", "GPKG", layer="crimes")
    asb = rows.iloc[:40].assign(**{"Crime ID": [f"a{i}" for i in range(40)]})
    _write(asb, path, "GPKG", layer="asb", append=True)
    poly = shapely.buffer(shapely.points(rows["Longitude"][:3], rows["Latitude"][:3]), 0.001)
    _write(rows.iloc[:3], path, "GPKG", layer="beats", geoms=poly, gtype="Polygon",
           append=True)  # fmt: skip
    inc = read_incidents(path, crime_types="all")
    assert set(inc.frame["source_file"]) == {"incidents.gpkg [crimes]", "incidents.gpkg [asb]"}
    assert inc.report.choices["skipped_files"] == [
        {"name": "incidents.gpkg [beats]", "reason": "a polygon layer: not incidents"}
    ]
    assert inc.report.choices["layer_crs"]["incidents.gpkg [asb]"] == "EPSG:4326"


def test_z_dimension_and_empty_layer(tmp_path, rows):
    xyz = shapely.points(rows["Longitude"], rows["Latitude"], np.full(N, 12.0))
    path = _write(rows, tmp_path / "z.gpkg", "GPKG", geoms=xyz, gtype="Point Z")
    assert len(read_incidents(path, crime_types="all").frame) == N
    empty = _write(rows.iloc[:0], tmp_path / "none.gpkg", "GPKG")
    with pytest.raises(InputError):  # no rows: said as for a CSV of column names only
        read_incidents(empty, crime_types="all")


def test_polygons_only_and_corrupt_files(tmp_path, rows):
    poly = shapely.buffer(shapely.points(rows["Longitude"][:3], rows["Latitude"][:3]), 0.001)
    path = _write(rows.iloc[:3], tmp_path / "beats.geojson", "GeoJSON", geoms=poly,
                  gtype="Polygon")  # fmt: skip
    with pytest.raises(InputError, match="polygon layer: not incidents"):
        read_incidents(path, crime_types="all")
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(InputError) as err:
        read_incidents(bad, crime_types="all")
    assert err.value.file == "broken.gpkg"


def test_shapefile_without_prj_dbf_or_shx(tmp_path, rows):
    path = _write(rows, tmp_path / "bng.shp", "ESRI Shapefile", "EPSG:27700")
    path.with_suffix(".prj").unlink()
    inc = read_incidents(path, crime_types="all")
    assert inc.report.choices["layer_crs"] == {"bng.shp": None}
    assert any("names no coordinate system" in n for n in inc.report.notes)
    np.testing.assert_allclose(inc.frame["lon"], rows["Longitude"], atol=1e-6)  # BNG by range
    path.with_suffix(".dbf").unlink()  # GDAL would read the points without their attributes
    with pytest.raises(InputError, match=r"\.dbf file .* is not beside it") as err:
        read_incidents(path, crime_types="all")
    assert err.value.file == "bng.shp"
    path.with_suffix(".shx").unlink()
    with pytest.raises(InputError) as err:
        read_incidents(path, crime_types="all")
    assert err.value.file == "bng.shp"


def test_z_and_m_points_and_a_file_geodatabase(tmp_path, rows):
    wkb = [struct.pack("<BIdddd", 1, 3001, x, y, 5.0, 7.0)
           for x, y in zip(rows["Longitude"], rows["Latitude"], strict=True)]  # fmt: skip
    path = _write(rows, tmp_path / "zm.gpkg", "GPKG", geoms=shapely.from_wkb(wkb),
                  gtype="Unknown")  # fmt: skip
    inc = read_incidents(path, crime_types="all")
    np.testing.assert_allclose(inc.frame["lon"], rows["Longitude"], atol=1e-9)
    (tmp_path / "in").mkdir()
    gdb = _write(rows, tmp_path / "in" / "crimes.gdb", "OpenFileGDB", layer="crimes")
    (tmp_path / "in" / "a.csv").write_bytes(_csv(rows.assign(**{"Crime ID": "x"})))
    for source in (gdb, tmp_path / "in"):  # the folder: its .gdb one source, not its tables
        inc = read_incidents(source, crime_types="all")
        assert inc.report.choices["layer_crs"] == {"crimes.gdb": "EPSG:4326"}
    archive = tmp_path / "gdb.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in gdb.iterdir():
            z.write(p, f"crimes.gdb/{p.name}")
    inc = read_incidents([("gdb.zip", archive.read_bytes())], crime_types="all")
    assert len(inc.frame) == N and set(inc.frame["source_file"]) == {"gdb.zip/crimes.gdb"}


def test_zipped_shapefile_and_upload_bytes(tmp_path, rows, from_csv):
    folder = tmp_path / "shp"
    folder.mkdir()
    _write(rows, folder / "crimes.shp", "ESRI Shapefile", "EPSG:27700")
    archive = tmp_path / "crimes.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in folder.iterdir():
            z.write(p, p.name)
    for source in (archive, [("crimes.zip", archive.read_bytes())]):
        inc = read_incidents(source, crime_types="all")
        np.testing.assert_allclose(_frame(inc)[["x", "y"]], _frame(from_csv)[["x", "y"]],
                                   atol=1e-3, rtol=0)  # fmt: skip
        assert inc.report.choices["layer_crs"] == {"crimes.zip/crimes.shp": "EPSG:27700"}
    gpkg = _write(rows, tmp_path / "up.gpkg", "GPKG")
    inc = read_incidents([("up.gpkg", gpkg.read_bytes())], crime_types="all")
    assert len(inc.frame) == N


def test_stream_in_batches(tmp_path, rows, from_csv, monkeypatch):
    monkeypatch.setattr(layers, "BATCH_FEATURES", 7)  # many batches: same frame
    path = _write(rows, tmp_path / "crimes.geojson", "GeoJSON")
    inc = read_incidents(path, crime_types="all")
    np.testing.assert_allclose(_frame(inc)[["x", "y"]], _frame(from_csv)[["x", "y"]], atol=1e-6)


def test_flatgeobuf_null_geometries(tmp_path, rows):
    pts = shapely.points(rows["Longitude"], rows["Latitude"])
    pts[[3, 50, 51]] = None
    path = _write(rows, tmp_path / "n.fgb", "FlatGeobuf", geoms=pts,
                  layer_options={"SPATIAL_INDEX": "NO"})  # fmt: skip
    inc = read_incidents(path, crime_types="all")
    assert sorted(inc.report.rejected["source_row"]) == [4, 51, 52]
    keep = np.setdiff1d(np.arange(N), [3, 50, 51])
    np.testing.assert_allclose(inc.frame["lon"], rows["Longitude"].to_numpy()[keep], atol=1e-9)


def test_cli_detect_on_a_folder_of_csv_and_gpkg(tmp_path, rows):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_bytes(_csv(rows.iloc[:150]))
    _write(rows.iloc[150:], folder / "b.gpkg", "GPKG")
    out = tmp_path / "hotspots.geojson"
    assert cli.main(["detect", str(folder), "--out", str(out), "--quiet"]) == 0
    assert out.exists()
    inc = read_incidents(folder, crime_types="all")
    assert set(inc.frame["source_file"]) == {"a.csv", "b.gpkg"} and len(inc.frame) == N


def test_app_upload_of_a_gpkg(tmp_path, rows):
    from streamlit.testing.v1 import AppTest

    path = _write(rows, tmp_path / "crimes.gpkg", "GPKG")
    app = AppTest.from_file(APP, default_timeout=240)
    app.run()
    app.sidebar.file_uploader(key="uploads").set_value(
        ("crimes.gpkg", path.read_bytes(), "application/geopackage+sqlite3")
    )
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]


def test_attributes_named_as_the_geometry_columns_are_renamed(tmp_path, rows):
    """A layer exported from a police.uk CSV keeps its Longitude/Latitude fields: the geometry
    is read, the fields kept as ``... (attribute)`` (here zero, and a compound CRS)."""
    x, y = transformer("EPSG:4326", "EPSG:27700").transform(rows["Longitude"], rows["Latitude"])
    table = pa.table({
        "Longitude": pa.array(np.zeros(N)), "Latitude": pa.array(np.zeros(N)),
        "Month": pa.array(["2024-01"] * N, pa.string()),
        "geometry": pa.array(shapely.to_wkb(shapely.points(x, y)), pa.binary()),
    })  # fmt: skip
    path = tmp_path / "uk.gpkg"
    pyogrio.write_arrow(table, str(path), driver="GPKG", geometry_name="geometry",
                        geometry_type="Point", crs="EPSG:27700+5701")  # fmt: skip
    inc = read_incidents(path, crime_types="all")
    assert inc.report.files[0].columns["lon"] == "Longitude"
    np.testing.assert_allclose(inc.frame["lon"], rows["Longitude"], atol=1e-7)
    assert any("British National Grid + ODN height" in n for n in inc.report.notes)


def test_a_layer_is_handed_over_as_parquet(tmp_path, rows):
    """The path taken: the loader gives Parquet bytes numbered from the first feature."""
    import pyarrow.parquet as pq

    from hotspots.sources import LayerCrs, expand_sources

    path = _write(rows, tmp_path / "crimes.fgb", "FlatGeobuf")
    found = expand_sources([("crimes.fgb", lambda: b"", path)])
    assert [name for name, _ in found] == ["crimes.fgb"]
    assert found.skipped == [LayerCrs("crimes.fgb", "read as a point layer", "EPSG:4326")]
    data = found[0][1]()
    assert data[:4] == b"PAR1" and data == found[0][1]()  # the same bytes every time (SHA-256)
    schema = pq.read_schema(pa.BufferReader(data))
    assert schema.metadata[layers.FIRST_LINE_KEY] == b"1"
    assert schema.names[-2:] == ["Longitude", "Latitude"]


def test_the_app_opens_a_file_geodatabase_on_the_server(tmp_path, rows):
    from hotspots_app import data

    gdb = _write(rows, tmp_path / "crimes.gdb", "OpenFileGDB", layer="crimes")
    source = data.server_source(gdb)
    assert source.key[0][0] == "crimes.gdb"
    inc = read_incidents(source.path, crime_types="all")
    assert len(inc.frame) == N
