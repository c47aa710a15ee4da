"""Weighted (de-duplicated) DBSCAN vs scikit-learn's DBSCAN on the raw points.

Both give the same labels (tests/test_clusters.py checks it); this measures what the
de-duplication buys on police.uk-like data, where thousands of incidents share a map point.

Each measurement runs in its own subprocess so the peak memory is its own: the best wall and
CPU time of three runs, then the ``tracemalloc`` peak of one more (Python, numpy and pandas
allocations during the clustering; tracemalloc is off while timing), and the growth of the
process's peak resident set size during the timed runs (``*_rss_delta_mb``: ``ru_maxrss``
after minus before, so the interpreter, imports and the input are not counted).

Usage: ``python -m benchmarks.bench_clusters [--quick]`` or ``python -m benchmarks --only
clusters``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

EPS_M = 75.0
TIME_LIMIT_S = 60.0
MEM_LIMIT_BYTES = 8e9
#: Bytes scikit-learn holds per neighbour pair (int64 index in the neighbourhood arrays).
_SKLEARN_BYTES_PER_PAIR = 8.0
#: Neighbour pairs scikit-learn's DBSCAN gets through per second on this machine class (measured
#: ~3e7/s on 2 cores), used only to skip runs that would exceed TIME_LIMIT_S.
_SKLEARN_PAIRS_PER_S = 3e7

VIOLENCE = "Violence and sexual offences"
_ROOT = Path(__file__).resolve().parents[1]
_MERSEYSIDE_CANDIDATES = (
    Path("/work/shared/data/police_uk/merseyside_2022-01_to_2022-06"),
    _ROOT.parent / "shared" / "data" / "police_uk" / "merseyside_2022-01_to_2022-06",
)


# ----------------------------------------------------------------------------- data


def stacked_points(n: int, seed: int = 0) -> np.ndarray:
    """police.uk-like incidents in metres: n rows on about n / 6.7 map points.

    Merseyside Jan-Jun 2022 has 94,340 rows on 14,066 points (6.7 per point), busiest 336
    (SOURCES.md). Map points: 60 % around 20 town centres (sd 800 m), 40 % uniform over
    30 km x 30 km; rows per point follow p ~ rank^-0.5 (busiest ~0.4 % of rows).
    """
    rng = np.random.default_rng(seed)
    m = max(1, round(n / 6.7))
    n_town = int(0.6 * m)
    towns = rng.uniform(3000, 27000, (20, 2))
    pts = np.r_[
        towns[rng.integers(0, 20, n_town)] + rng.normal(0, 800, (n_town, 2)),
        rng.uniform(0, 30_000, (m - n_town, 2)),
    ]
    pts = np.round(pts, 1) + [330_000.0, 380_000.0]
    p = 1.0 / np.sqrt(np.arange(1, m + 1))
    rng.shuffle(p)
    idx = rng.choice(m, size=n, p=p / p.sum())
    return pts[idx]


def merseyside_dir() -> Path | None:
    for d in _MERSEYSIDE_CANDIDATES:
        if d.is_dir() and any(d.glob("*.csv")):
            return d
    return None


def merseyside_violence() -> np.ndarray:
    """Violence and sexual offences, Merseyside Jan-Jun 2022, projected to EPSG:27700 (metres)."""
    import pyproj

    d = merseyside_dir()
    if d is None:
        msg = "Merseyside data not found"
        raise FileNotFoundError(msg)
    lon, lat = [], []
    for path in sorted(d.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["Crime type"] == VIOLENCE and row["Longitude"] and row["Latitude"]:
                    lon.append(float(row["Longitude"]))
                    lat.append(float(row["Latitude"]))
    tr = pyproj.Transformer.from_crs(4326, 27700, always_xy=True)
    x, y = tr.transform(np.array(lon), np.array(lat))
    return np.column_stack([x, y])


def load(dataset: str) -> np.ndarray:
    if dataset == "merseyside":
        return merseyside_violence()
    kind, n = dataset.split(":")
    assert kind == "stacked"
    return stacked_points(int(n))


def min_samples_for(xy: np.ndarray) -> int:
    """The CSR default over the bounding box, as DBSCANHotspots would choose it."""
    from hotspots.clusters import csr_min_samples

    area = float(np.ptp(xy[:, 0]) * np.ptp(xy[:, 1]))
    return csr_min_samples(len(xy), area, EPS_M)


def sklearn_pairs(xy: np.ndarray) -> int:
    """Neighbour pairs scikit-learn's DBSCAN would hold: sum over rows of their eps-disc count."""
    from hotspots.clusters import _neighbourhood_weights, _unique_locations

    uniq, _, counts = _unique_locations(xy)
    nb = _neighbourhood_weights(uniq, counts.astype(float), EPS_M)
    return int(np.dot(counts, nb))


# ----------------------------------------------------------------------------- one measurement


def _child(method: str, dataset: str, repeat: int) -> dict:
    """Time ``repeat`` runs (best kept), then one more under tracemalloc for its peak."""
    import resource
    import tracemalloc

    from sklearn.cluster import DBSCAN

    from hotspots.clusters import weighted_dbscan

    xy = load(dataset)
    ms = min_samples_for(xy)

    def once() -> np.ndarray:
        if method == "ours":
            return weighted_dbscan(xy[:, 0], xy[:, 1], eps=EPS_M, min_samples=ms)
        return DBSCAN(eps=EPS_M, min_samples=ms, algorithm="kd_tree").fit(xy).labels_

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        labels = once()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "seconds": min(walls),
        "cpu_seconds": min(cpus),
        "tracemalloc_mb": peak / 1e6,
        "rss_mb": rss / 1e6,
        "rss_before_mb": rss0 / 1e6,
        "n": len(xy),
        "min_samples": ms,
        "n_clusters": int(labels.max()) + 1,
        "labels": labels.tolist(),
    }


def _measure(method: str, dataset: str, repeat: int) -> dict | None:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_clusters",
        "--child",
        method,
        dataset,
        str(repeat),
    ]
    env = dict(os.environ, PYTHONPATH=str(_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        out = subprocess.run(
            cmd,
            cwd=_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT_S * 2,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- run


def run(quick: bool = False) -> list[dict]:
    """One row per dataset: our time/memory, scikit-learn's, and ratios (theirs / ours).

    The issue's row is ``stacked n=100000`` (police.uk-shaped, 100,000 incidents): targets
    ``ratio_sklearn >= 10`` and a peak-memory ratio ``>= 5``, with ``same_labels``.
    """
    datasets = ["stacked:20000"] if quick else ["stacked:100000", "stacked:200000"]
    if not quick and merseyside_dir() is not None:
        datasets.append("merseyside")
    repeat = 1 if quick else 3
    rows = []
    for ds in datasets:
        xy = load(ds)
        pairs = sklearn_pairs(xy)
        n_loc = len(np.unique(xy, axis=0))
        ours = _measure("ours", ds, repeat)
        if ours is None:
            rows.append({"case": ds, "ours_s": "timed out"})
            continue
        row: dict = {
            "case": ds.replace("stacked:", "stacked n="),
            "n": len(xy),
            "locations": n_loc,
            "min_samples": ours["min_samples"],
            "sklearn_pairs_M": pairs / 1e6,
            "ours_s": ours["seconds"],
            "ours_cpu_s": ours["cpu_seconds"],
            "ours_tracemalloc_mb": ours["tracemalloc_mb"],
            "ours_rss_delta_mb": ours["rss_mb"] - ours["rss_before_mb"],
        }
        est_mem = pairs * _SKLEARN_BYTES_PER_PAIR
        est_s = pairs / _SKLEARN_PAIRS_PER_S
        theirs = None
        if est_mem <= MEM_LIMIT_BYTES and est_s <= TIME_LIMIT_S:
            theirs = _measure("sklearn", ds, repeat)
        if theirs is None:
            row.update(sklearn_s="skipped", ratio_sklearn="skipped")
        else:
            row.update(
                sklearn_s=theirs["seconds"],
                sklearn_cpu_s=theirs["cpu_seconds"],
                sklearn_tracemalloc_mb=theirs["tracemalloc_mb"],
                sklearn_rss_delta_mb=theirs["rss_mb"] - theirs["rss_before_mb"],
                ratio_sklearn=theirs["seconds"] / ours["seconds"],
                ratio_cpu_sklearn=theirs["cpu_seconds"] / ours["cpu_seconds"],
                ratio_tracemalloc_sklearn=theirs["tracemalloc_mb"] / ours["tracemalloc_mb"],
                ratio_rss_delta_sklearn=(theirs["rss_mb"] - theirs["rss_before_mb"])
                / max(ours["rss_mb"] - ours["rss_before_mb"], 0.1),
                same_labels=theirs["labels"] == ours["labels"],
            )
        rows.append(row)
    return rows


def _print_table(rows: list[dict]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    print(" | ".join(cols))
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        print(" | ".join(cells))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--child", nargs=3, metavar=("METHOD", "DATASET", "REPEAT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        method, dataset, repeat = args.child
        print(json.dumps(_child(method, dataset, int(repeat))))
    else:
        _print_table(run(quick=args.quick))
