"""The Dask engine on a two-worker LocalCluster against the local engine, same inputs.

Four steps the Dask engine partitions: reading police.uk-shaped files (by file), a kernel
density surface (by spatial tiles with a one-kernel halo), DBSCAN (by tiles with an eps
halo) and the Gi* grid (by tiles with a one-window halo). ``ours_s`` is the Dask engine
(cluster start-up not counted, data shipping counted), ``local_s`` the local engine;
``ratio_local`` = local / dask (above 1: Dask is faster). Results are checked equal before a
time is reported. Skipped when Dask is not installed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


def write_files(folder: Path, n_files: int, rows: int, seed: int = 0) -> Path:
    """``n_files`` monthly police.uk-shaped files of ``rows`` rows on 20,000 map points."""
    rng = np.random.default_rng(seed)
    m = 20_000
    lon = np.round(np.r_[rng.normal(-2.98, 0.03, m // 2), rng.uniform(-3.2, -2.7, m // 2)], 6)
    lat = np.round(np.r_[rng.normal(53.41, 0.02, m // 2), rng.uniform(53.3, 53.6, m // 2)], 6)
    types = np.array(["Violence and sexual offences", "Robbery", "Burglary", "Shoplifting"])
    for k in range(n_files):
        p = rng.integers(0, m, rows)
        t = types[rng.integers(0, len(types), rows)]
        body = "\n".join(
            f"c{k}-{i},2023-{k % 12 + 1:02d},Force,Force,{lon[j]},{lat[j]},On or near X,"
            f"E01,Name,{tt},,"
            for i, (j, tt) in enumerate(zip(p, t, strict=True))
        )
        (folder / f"f{k:03d}.csv").write_text(HEADER + "\n" + body + "\n", encoding="utf-8")
    return folder


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(quick: bool = False) -> list[dict]:
    try:
        import distributed
    except ImportError:
        return []
    from hotspots import engine, ingest, kde
    from hotspots.incidents import unique_points

    n_files, rows = (4, 5_000) if quick else (12, 50_000)
    repeat = 1 if quick else 2
    out: list[dict] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        engine.DaskEngine(cluster.scheduler_address) as dask_engine,
    ):
        folder = write_files(Path(tmp), n_files, rows)
        dask_engine.map(lambda _: None, [0, 1])  # workers import hotspots before timing
        t_local, local = _best(lambda: ingest.read_incidents(folder, crime_types="all"), repeat)
        with engine.use(dask_engine):
            t_dask, read = _best(lambda: engine.read_incidents(folder, crime_types="all"), repeat)
        assert read.fingerprint == local.fingerprint
        n = len(local)
        out.append(_row(f"ingest {n_files} files, {n:,} rows", t_dask, t_local))

        x, y = local.frame["x"].to_numpy(), local.frame["y"].to_numpy()
        spec = {"bandwidth": 150.0, "cell_size": 25.0}
        t_local, whole = _best(lambda: kde.density_surface(x, y, **spec), repeat)
        t_dask, tiled = _best(lambda: dask_engine.density_surface(x, y, **spec), repeat)
        assert set(tiled.tiles) == set(whole.tiles)
        worst = max(float(np.abs(tiled.tiles[k] - a).max()) for k, a in whole.tiles.items())
        assert worst <= 1e-12 * whole.max()
        out.append(_row(f"KDE surface {n:,} points, 150 m / 25 m", t_dask, t_local))

        from hotspots.clusters import weighted_dbscan

        def locations() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            pts, first, inverse, counts = unique_points(
                np.column_stack([x, y]), return_index=True, return_inverse=True, return_counts=True
            )
            order = np.argsort(first, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            return pts[order], counts[order].astype(float), rank[inverse.reshape(-1)]

        def tiled() -> tuple[np.ndarray, int]:
            pts, w, inverse = locations()
            return dask_engine.dbscan_locations(pts, w, 75.0, float(k))[0][inverse], len(pts)

        k = 10 if quick else 40
        t_local, labels = _best(lambda: weighted_dbscan(x, y, eps=75.0, min_samples=k), repeat)
        t_dask, (got, m) = _best(tiled, repeat)
        assert (got == labels).all()
        case = f"DBSCAN {n:,} points ({m:,} locations, {labels.max() + 1} clusters), eps 75 m"
        out.append(_row(case, t_dask, t_local))

        from hotspots.gistar import GiStarGrid

        grid = {
            "cell_size": 150.0,
            "neighbour_distance": 150.0 * 2**0.5,
            "baseline_distance": 300.0,
        }
        xy, area = local.xy, local.study_area
        t_local, one = _best(lambda: GiStarGrid(xy, area, **grid), repeat)
        t_dask, by_tiles = _best(lambda: dask_engine.gistar_grid(xy, area, **grid), repeat)
        assert (by_tiles.keys == one.keys).all() and (by_tiles.fraction == one.fraction).all()
        assert (by_tiles.n_window == one.n_window).all()
        case = f"Gi* grid {n:,} points ({len(one):,} cells of 150 m), 256-cell tiles"
        out.append(_row(case, t_dask, t_local))
    return out


def _row(case: str, dask_s: float, local_s: float) -> dict:
    return {
        "case": case,
        "ours_s": round(dask_s, 3),
        "local_s": round(local_s, 3),
        "ratio_local": round(local_s / dask_s, 2),
    }
