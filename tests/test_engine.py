"""The Dask engine (hotspots.engine): ingest by file, kernel density and DBSCAN by spatial tiles,
each equal to the local engine; the local engine needs no Dask."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.cluster import DBSCAN

from hotspots import engine, gistar, ingest, kde
from hotspots._errors import InputError, ParameterError
from hotspots.clusters import weighted_dbscan
from hotspots.detect import detect
from hotspots.incidents import unique_points

REPO = Path(__file__).resolve().parents[1]

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
TYPES = ("Violence and sexual offences", "Robbery", "Burglary", "Anti-social behaviour")


def _police_uk_files(folder: Path, n_files: int = 4, rows: int = 400, seed: int = 3) -> Path:
    """Monthly police.uk-shaped files with every kind of row ingest accounts for.

    Map points (stacked incidents), a dense town centre, rows copied into a later file (duplicates
    across files), ASB rows without an id (identical copies kept), a malformed row, blank and
    non-numeric coordinates, an unreadable month, null island, and a far-away outlier.
    """
    rng = np.random.default_rng(seed)
    points = np.column_stack(
        [
            np.r_[rng.normal(-2.98, 0.004, 60), rng.uniform(-3.06, -2.90, 140)],
            np.r_[rng.normal(53.405, 0.003, 60), rng.uniform(53.36, 53.46, 140)],
        ]
    )
    folder.mkdir(parents=True, exist_ok=True)
    kept: list[str] = []
    for k in range(n_files):
        month = f"2023-{k + 1:02d}"
        lines = [HEADER]
        for i in range(rows):
            lon, lat = points[rng.integers(0, len(points))]
            kind = TYPES[rng.integers(0, len(TYPES))]
            cid = "" if kind == "Anti-social behaviour" else f"id{k}-{i:05d}"
            lines.append(
                f"{cid},{month},Merseyside Police,Merseyside Police,{lon:.6f},{lat:.6f},"
                f"On or near Street {i % 17},E01000{i % 9},Liverpool 0{i % 5}A,{kind},"
                "Under investigation,"
            )
        if k == 0:
            kept = lines[1:6]
            lines.append(",2023-01,x,x,-2.98,53.40,On or near A")  # malformed: too few fields
            lines.append("b1,2023-01,x,x,,53.40,On or near B,,,Robbery,,")  # blank longitude
            lines.append("b2,2023-01,x,x,west,53.40,On or near C,,,Robbery,,")  # not a number
            lines.append("b3,2023-01,x,x,0,0,On or near D,,,Robbery,,")  # null island
            lines.append("b4,202X-1,x,x,-2.98,53.40,On or near E,,,Robbery,,")  # unreadable
            lines.append("b5,2023-01,x,x,-1.5,52.0,Far away,,,Robbery,,")  # outlier (Midlands)
        if k == n_files - 1:
            lines.extend(kept)  # copies of earlier rows: duplicates when they carry an id
        (folder / f"2023-{k + 1:02d}-merseyside-street.csv").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    return folder


def _same_incidents(a, b) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.crs == b.crs
    assert a.study_area.equals(b.study_area)
    ra, rb = a.report, b.report
    assert (ra.n_read, ra.n_used) == (rb.n_read, rb.n_used)
    pd.testing.assert_frame_equal(ra.rejected, rb.rejected)
    assert list(ra.notes) == list(rb.notes)
    assert dict(ra.choices) == dict(rb.choices)
    assert list(ra.files) == list(rb.files)
    assert a.fingerprint == b.fingerprint


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    return _police_uk_files(tmp_path_factory.mktemp("engine") / "force")


# ------------------------------------------------------------------------------ no Dask needed
def test_local_engine_and_cli_run_without_dask(files, tmp_path):
    """With dask and distributed unimportable: the package, the CLI and detection work, and
    --engine dask says how to install it in one line."""
    script = textwrap.dedent(
        f"""
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("dask", "distributed"):
                    raise ImportError("blocked: " + name)
                return None

        sys.meta_path.insert(0, Block())
        import hotspots, hotspots.engine, hotspots.detect, hotspots.workflows
        from hotspots.cli import main
        assert main(["--quiet", "detect", {str(files)!r}, "--method", "dbscan",
                     "--out", {str(tmp_path / "o.geojson")!r}]) == 0
        code = main(["--quiet", "detect", {str(files)!r}, "--engine", "dask",
                     "--out", {str(tmp_path / "p.geojson")!r}])
        assert code == 2, code
        assert not [m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")]
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "o.geojson").stat().st_size > 0
    assert not (tmp_path / "p.geojson").exists()
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "pip install 'hotspots[dask]'" in err[0]


def test_use_checks_its_arguments():
    with pytest.raises(ParameterError, match="engine must be one of"):
        with engine.use("spark"):
            pass
    with pytest.raises(ParameterError, match="needs engine='dask'"):
        with engine.use("local", scheduler="tcp://127.0.0.1:1"):
            pass
    assert engine.current_engine() is None
    with engine.use("local") as running:
        assert running is None and engine.current_engine() is None


# ------------------------------------------------------------------------- ingest by file
def test_read_file_then_combine_equals_read_incidents(files):
    kwargs = {"crime_types": "default", "date_from": "2023-02-01"}
    local = ingest.read_incidents(files, **kwargs)
    parts = [ingest.read_file(name, load) for name, load in ingest.list_sources(files)]
    # every part survives a trip to another process (the Dask engine ships them back)
    parts = [pickle.loads(pickle.dumps(p)) for p in parts]
    combined = ingest.combine_files(parts, **kwargs)
    _same_incidents(local, combined)
    rep = combined.report
    reasons = rep.rejected["reason"].value_counts().to_dict()
    assert reasons["duplicate row"] == sum(1 for _ in range(5)) - _asb_in_first_five(files)
    assert {"malformed row", "missing coordinates", "non-numeric coordinates"} <= set(reasons)
    assert {"null island (0, 0)", "spatial outlier", "crime type not selected"} <= set(reasons)
    assert {"outside date range"} <= set(reasons)
    assert rep.n_read == rep.n_used + len(rep.rejected) == 4 * 400 + 6 + 5


def _asb_in_first_five(folder: Path) -> int:
    first = sorted(folder.glob("*.csv"))[0].read_text(encoding="utf-8").splitlines()[1:6]
    return sum(1 for line in first if line.startswith(","))


def test_input_error_keeps_its_parts_across_processes(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        ingest.read_file("bad.csv", bad.read_bytes())
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is InputError
    assert (again.file, again.message, again.hint) == (
        caught.value.file,
        caught.value.message,
        caught.value.hint,
    )
    assert str(again) == str(caught.value)


def test_combine_files_refuses_nothing_and_strangers():
    with pytest.raises(InputError, match="No input files"):
        ingest.combine_files([])
    with pytest.raises(ParameterError, match="ValidatedFile"):
        ingest.combine_files(["a.csv"])


# ------------------------------------------------------------------- kernel density by tiles
def _points(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread points, a tight cluster, a stack of 300 on one map point, rounded to metres."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(0, 9000, 3000), rng.normal(4500, 40, 600), np.full(300, 3200.0)]
    y = np.r_[rng.uniform(0, 9000, 3000), rng.normal(4500, 40, 600), np.full(300, 3199.0)]
    w = rng.integers(1, 4, len(x)).astype(float)
    return np.round(x) + 400_000, np.round(y) + 300_000, w


@pytest.mark.parametrize(
    ("kernel", "bandwidth", "cell"), [("quartic", 150, 25), ("gaussian", 60, 30)]
)
def test_tiled_surface_equals_one_run(kernel, bandwidth, cell):
    x, y, w = _points()
    whole = kde.density_surface(x, y, w, bandwidth=bandwidth, cell_size=cell, kernel=kernel)
    tiled = engine.tiled_density_surface(
        x, y, w, bandwidth=bandwidth, cell_size=cell, kernel=kernel, tile_size=16, block_tiles=1
    )  # 16-cell work tiles: most kernels cross a tile edge
    one = kde.density_surface(
        x, y, w, bandwidth=bandwidth, cell_size=cell, kernel=kernel, tile_size=16
    )
    assert (tiled.origin, tiled.tile_size, tiled.cell_size) == (one.origin, 16, float(cell))
    assert set(tiled.tiles) == set(one.tiles)
    for key, arr in one.tiles.items():
        np.testing.assert_allclose(tiled.tiles[key], arr, rtol=0, atol=1e-12 * one.max())
    assert tiled.total() == pytest.approx(whole.total(), rel=1e-12)
    assert tiled.max() == pytest.approx(whole.max(), rel=1e-12)


def test_tiled_binned_surface_is_within_the_binned_tolerance():
    """A binned surface (FFT) is binned per tile: its round-off floors follow each tile's own
    peak, so tiles agree with one binned run within kde's 1e-3 of the peak, not to 1e-12 (2.4e-4
    measured with these 16-cell tiles; 6.5e-6 with the default 512-cell tiles)."""
    x, y, w = _points(seed=6)
    spec = {"bandwidth": 150, "cell_size": 25, "method": "binned"}
    whole = kde.density_surface(x, y, w, tile_size=16, **spec)
    tiled = engine.tiled_density_surface(x, y, w, tile_size=16, block_tiles=1, **spec)
    zero = np.zeros((16, 16))  # a tile of values under a floor may be kept on one side only
    keys = set(tiled.tiles) | set(whole.tiles)
    worst = max(np.abs(tiled.tiles.get(k, zero) - whole.tiles.get(k, zero)).max() for k in keys)
    assert 0 < worst <= 1e-3 * whole.max()
    assert tiled.total() == pytest.approx(whole.total(), rel=1e-3)


def test_tiled_surface_of_nothing_is_empty():
    empty = engine.tiled_density_surface(np.empty(0), np.empty(0), bandwidth=100, cell_size=20)
    assert empty.is_empty and empty.origin == (0.0, 0.0)


# ------------------------------------------------------------------------- DBSCAN by tiles
def _locations(x, y):
    """Distinct locations in order of first occurrence, the inverse map, the counts."""
    uniq, first, inverse, counts = unique_points(
        np.column_stack([x, y]), return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return uniq[order], rank[inverse.reshape(-1)], counts[order].astype(float)


@pytest.mark.parametrize(("tile_m", "min_samples"), [(150, 8), (400, 5), (3000, 12)])
def test_tiled_dbscan_gives_scikit_learns_labels(tile_m, min_samples):
    x, y, _ = _points(seed=4)
    pts, inverse, counts = _locations(x, y)
    labels, core, nbw = engine.tiled_dbscan(pts, counts, 75, min_samples, tile_m=tile_m)
    expected = DBSCAN(eps=75, min_samples=min_samples).fit(np.column_stack([x, y])).labels_
    np.testing.assert_array_equal(labels[inverse], expected)
    assert labels.max() >= 1  # the cluster and the stack, at least
    np.testing.assert_array_equal(core, nbw >= min_samples)
    assert nbw[inverse[-1]] >= 300  # the stack of 300 counts itself


def test_tiled_dbscan_with_weights_equals_weighted_dbscan():
    x, y, w = _points(seed=5)
    pts, inverse, _ = _locations(x, y)
    wl = np.bincount(inverse, weights=w, minlength=len(pts))
    labels, _, _ = engine.tiled_dbscan(pts, wl, 60, 14.0, tile_m=200)
    np.testing.assert_array_equal(
        labels[inverse], weighted_dbscan(x, y, eps=60, min_samples=14.0, weights=w)
    )


def test_tiled_dbscan_refuses_tiles_narrower_than_two_eps():
    with pytest.raises(ParameterError, match="tile_m"):
        engine.tiled_dbscan(np.zeros((1, 2)), np.ones(1), 75, 5, tile_m=100)
    labels, core, nbw = engine.tiled_dbscan(np.empty((0, 2)), np.empty(0), 75, 5)
    assert labels.size == core.size == nbw.size == 0


# ------------------------------------------------------------------------- Gi* by tiles
def _gistar_case(seed: int = 7):
    """Incidents in a town with a dense centre, a stack on one map point, and a study area of
    two parts (a square with a hole, and an island) whose edges cut cells."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.uniform(0, 6000, 2500), rng.normal(3000, 120, 500), np.full(80, 1510.0)]
    y = np.r_[rng.uniform(0, 6000, 2500), rng.normal(3000, 120, 500), np.full(80, 4490.0)]
    x = np.r_[x, rng.uniform(7100, 7900, 150)] + 400_013
    y = np.r_[y, rng.uniform(1100, 1900, 150)] + 300_007
    hole = shapely.box(402_013, 302_007, 402_413, 302_407)
    study = shapely.MultiPolygon(
        [
            shapely.box(400_000, 300_000, 406_020, 306_020).difference(hole),
            shapely.box(407_090, 301_090, 407_930, 301_933),
        ]
    )
    keep = shapely.contains_xy(study, x, y)
    return np.column_stack([x[keep], y[keep]]), study


def _same_grid(a, b) -> None:
    for name in ("cells", "keys", "fraction", "n_neighbours", "n_window", "occupied"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.point_cell, b.point_cell)
    assert (a.n_cells, a.area_cells) == (b.n_cells, b.area_cells)
    counts = np.bincount(a.point_occupied, minlength=len(a.occupied)).astype(float)
    np.testing.assert_array_equal(a.local_sums(counts), b.local_sums(counts))
    np.testing.assert_array_equal(a.window_sums(counts), b.window_sums(counts))


@pytest.mark.parametrize(("tile_cells", "spec"), [
    (5, {"cell_size": 150.0, "neighbour_distance": 150.0 * 2**0.5, "baseline_distance": 300.0}),
    (7, {"cell_size": 100.0, "neighbour_distance": 200.0, "baseline_distance": 400.0}),
    (64, {"cell_size": 150.0, "neighbour_distance": 150.0 * 2**0.5, "baseline_distance": 300.0}),
])  # fmt: skip
def test_tiled_gistar_grid_equals_one_grid(tile_cells, spec):
    """Tiles of 5-7 cells with a 2-4 cell halo: most windows cross a tile edge, and the study
    area's edge, hole and island cut cells; every array is the same to the last bit."""
    xy, study = _gistar_case()
    whole = gistar.GiStarGrid(xy, study, **spec)
    tiled = engine.tiled_gistar_grid(xy, study, tile_cells=tile_cells, **spec)
    _same_grid(whole, tiled)
    assert 0 < whole.fraction.min() < 1  # cells cut by the edge
    assert whole.n_window.min() < len(whole.window_offsets)  # windows cut by the edge
    for null in ("local", "normal"):
        a = whole.test(np.bincount(whole.point_occupied).astype(float), null=null, dispersion=1.3)
        b = tiled.test(np.bincount(tiled.point_occupied).astype(float), null=null, dispersion=1.3)
        for field in a._fields:
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_tiled_gistar_grid_of_nothing_and_a_whole_plane():
    spec = {"cell_size": 150.0, "neighbour_distance": 212.2, "baseline_distance": 300.0}
    empty = engine.tiled_gistar_grid(np.empty((0, 2)), shapely.Polygon(), **spec)
    assert len(empty) == 0 and empty.n_cells == 0
    xy, _ = _gistar_case(seed=8)
    _same_grid(
        gistar.GiStarGrid(xy, shapely.Polygon(), **spec),
        engine.tiled_gistar_grid(xy, shapely.Polygon(), tile_cells=6, **spec),
    )


def test_study_area_cells_shares_and_pickling():
    """A cell's share of the study area, by hand, survives a trip to a worker."""
    study = shapely.MultiPolygon([shapely.box(0, 0, 250, 100), shapely.box(400, 0, 450, 50)])
    area = gistar.StudyAreaCells(study, 100.0, 2)
    cells = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [0, 1], [-1, 0]])
    expected = [1.0, 1.0, 0.5, 0.0, 0.25, 0.0, 0.0]
    np.testing.assert_allclose(area.fractions(cells), expected, rtol=0, atol=1e-15)
    again = pickle.loads(pickle.dumps(area))
    np.testing.assert_array_equal(again.fractions(cells), area.fractions(cells))
    assert not again.interior(cells).any()  # nothing is two cells inside a 100 m strip


# ------------------------------------------------------------------ on a two-worker cluster
@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded workers in this process (see docs/scale-out.md for why threads); the
    dashboard on a free port, so a cluster of another test run on 8787 does not fail this one."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as local:
        yield local


def test_dask_engine_equals_local_engine(cluster, files, tmp_path, capsys):
    """Ingest, KDE and DBSCAN on a two-worker LocalCluster equal the local engine, and the CLI's
    --engine dask --scheduler ADDRESS writes the same hot spots."""
    local = ingest.read_incidents(files)
    with engine.DaskEngine(cluster.scheduler_address, kde_block_tiles=1) as dask_engine:
        assert dask_engine.n_workers() == 2
        with engine.use(dask_engine):
            read = engine.read_incidents(files)
        _same_incidents(local, read)

        for method, params in (("kde", {"cell_size": 10}), ("dbscan", {})):
            expected = detect(local, method, **params)
            got = detect(read, method, engine=dask_engine, **params)
            pd.testing.assert_frame_equal(
                got.hotspots.drop(columns="geometry"),
                expected.hotspots.drop(columns="geometry"),
                check_exact=False,
                rtol=1e-9,
            )
            assert got.hotspots.geometry.geom_equals_exact(expected.hotspots.geometry, 1e-6).all()
            assert len(expected.hotspots) >= 1
        est_local, est_dask = expected.estimator, got.estimator
        np.testing.assert_array_equal(est_dask.labels_, est_local.labels_)
        assert expected.params["engine"] == {"engine": "local"}
        assert got.params["engine"]["engine"] == "dask"
        assert got.params["engine"]["n_workers"] == 2
        where = got.params["engine"]["scheduler"]
        assert where.startswith("inproc://") and where.count("/") == 2  # no port, no path
        assert cluster.scheduler_address.startswith(where + "/")

        # Gi*: the grid by tiles of 6 cells on the workers, the test once here
        dask_engine.gistar_tile_cells = 6
        expected = detect(local, "gistar", cell_size=60)
        got = detect(read, "gistar", cell_size=60, engine=dask_engine)
        pd.testing.assert_frame_equal(
            got.hotspots.drop(columns="geometry"), expected.hotspots.drop(columns="geometry")
        )
        assert got.hotspots.geometry.geom_equals_exact(expected.hotspots.geometry, 0).all()
        assert len(expected.hotspots) >= 1
        cells_local = expected.estimator.cells_
        cells_dask = got.estimator.cells_
        assert len(cells_local) > 400
        assert cells_local.geometry.geom_equals_exact(cells_dask.geometry, 0).all()
        for column in ("count", "local", "expected", "gi_z", "z", "p_value", "q_value", "gi_bin"):
            np.testing.assert_array_equal(cells_dask[column], cells_local[column], err_msg=column)
        assert got.params["method_parameters"] == expected.params["method_parameters"]

        kde_local = kde.KDEHotspots(cell_size=10).fit(local)
        with engine.use(dask_engine):
            kde_dask = kde.KDEHotspots(cell_size=10).fit(read)
        assert kde_local.surface_.tile_size == 64  # 64 cells a side: several work tiles
        assert set(kde_dask.surface_.tiles) == set(kde_local.surface_.tiles)
        assert len(kde_local.surface_.tiles) > 4
        peak = kde_local.surface_.max()
        for key, arr in kde_local.surface_.tiles.items():
            np.testing.assert_allclose(kde_dask.surface_.tiles[key], arr, rtol=0, atol=1e-12 * peak)

    from hotspots.cli import main

    outs, engines = [], []
    for extra in ([], ["--engine", "dask", "--scheduler", cluster.scheduler_address]):
        out = tmp_path / f"hot{len(outs)}.csv"
        argv = ["--quiet", "detect", str(files), "--method", "dbscan", "--out", str(out), *extra]
        assert main(argv) == 0
        text = re.sub(r"\d{4}-\d\d-\d\dT[\d:+]+", "TIME", out.read_text(encoding="utf-8"))
        engines.append(json.loads(pd.read_csv(out)["parameters"].iloc[0])["engine"])
        outs.append(re.sub(r'""engine"": \{""engine"": [^}]*\}', "ENGINE", text))
    assert engines[0] == {"engine": "local"}
    assert engines[1] == {"engine": "dask", "scheduler": where, "n_workers": 2}
    assert outs[0] == outs[1]  # the same file, but for the time of the run and the engine
    assert outs[0].count("\n") >= 2 and outs[0].count("ENGINE") == outs[0].count("\n") - 1


def test_dask_engine_classifies_as_the_local_engine(cluster):
    """Change over time with its grid built by tiles of 6 cells on the workers: the same
    classes, counts, expectations and z-scores as the local engine, to the last bit."""
    from hotspots.emerging import classify_hotspots
    from hotspots.incidents import Incidents

    xy, study = _gistar_case(seed=9)
    rng = np.random.default_rng(9)
    month = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 12, len(xy)) * 31, "D")
    inc = Incidents.from_xy(
        xy[:, 0], xy[:, 1], crs=27700, study_area=study, month=month.to_period("M").to_timestamp()
    )
    local = classify_hotspots(inc, cell_size=100)
    with engine.DaskEngine(cluster.scheduler_address, gistar_tile_cells=6) as dask_engine:
        with engine.use(dask_engine):
            got = classify_hotspots(inc, cell_size=100)
    assert local.params["engine"] == {"engine": "local"}
    assert got.params["engine"]["engine"] == "dask"
    assert {k: v for k, v in got.params.items() if k != "engine"} == {
        k: v for k, v in local.params.items() if k != "engine"
    }
    assert local.params["n_periods"] == 12 and len(local.cells) > 1000
    a, b = got.cells, local.cells
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    for column in ("counts", "expected", "z_scores", "gi_z_scores"):
        np.testing.assert_array_equal(np.stack(a[column]), np.stack(b[column]), err_msg=column)
    for column in ("category", "final", "trend", "mk_z", "mk_p", "n_hot_periods", "total"):
        np.testing.assert_array_equal(a[column].to_numpy(), b[column].to_numpy(), err_msg=column)
    assert (b["category"] != "no pattern").any()
