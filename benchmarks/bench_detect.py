"""``detect`` alone at national scale: 1M rows of one region, of one dense force, of 43 forces.

Three inputs of 1,000,000 police.uk-shaped rows each, written to a temporary folder and read
once by ``read_incidents`` (not timed here: ``bench_ingest`` times the read):

* ``12 files``: ``bench_ingest.write_police_uk_months`` (40 towns, 60,000 map points);
* ``metropolitan``: ``hotspots.synthetic.write_national(forces=["metropolitan"])`` (one disc of
  25 km, 120,000 map points: the densest force, where the surroundings test meets most
  neighbours within 750 m);
* ``national``: ``hotspots.synthetic.write_national`` (43 forces, 516 files).

For each, in a fresh process per step (timed after the imports and the read): ``detect(inc,
"kde")`` and ``detect(inc, "dbscan")``, wall and CPU seconds (all threads), best of
``REPEATS``; and two baselines measured in the same run on the same files:

* ``pandas_read``: ``pandas.read_csv`` of every file and one ``concat`` (issue 9's yardstick:
  read + detect within 3x of it, so detect alone should take about 1.5x);
* ``sklearn_dbscan``: what a user would otherwise run for the DBSCAN labels alone,
  ``sklearn.cluster.DBSCAN(eps=75, min_samples=<ours>, algorithm="kd_tree")`` on the raw
  incident coordinates (no polygons, no ranking, no significance); skipped where its
  neighbour lists would pass ``SKLEARN_MAX_PAIRS`` (memory).

``load`` is the one-minute load average when the step ended: on a shared machine wall times
stretch with it, CPU seconds much less.

Usage: ``python -m benchmarks.bench_detect [--quick]`` or ``python -m benchmarks --only
detect``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
REPEATS = 2
#: Neighbour pairs within 75 m above which scikit-learn's DBSCAN is not run (8 bytes each).
SKLEARN_MAX_PAIRS = 300_000_000

# What each child process does; argv: folder, step. Imports and the read are not timed.
_CHILD = """
import json, os, sys, time
folder, step = sys.argv[1], sys.argv[2]
import numpy as np, pandas as pd
import hotspots.clusters, hotspots.kde, hotspots.profile  # noqa: F401
from hotspots.detect import detect
from hotspots.ingest import read_incidents
files = sorted(str(p) for p in __import__("pathlib").Path(folder).glob("*.csv"))
extra = {}
if step == "pandas_read":
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(pd.concat([pd.read_csv(f) for f in files], ignore_index=True))
else:
    inc = read_incidents(files)
    if step == "sklearn_dbscan":
        from scipy.spatial import cKDTree
        from sklearn.cluster import DBSCAN
        xy = inc.xy
        ms = detect(inc, "dbscan").estimator.min_samples_
        u, c = np.unique(xy, axis=0, return_counts=True)
        pairs = float(cKDTree(u).count_neighbors(cKDTree(u), 75.0, weights=(c, c)))
        extra = {"pairs": pairs}
        if pairs > float(sys.argv[3]):
            print(json.dumps({"skipped": True, **extra}))
            sys.exit(0)
        t0, c0 = time.perf_counter(), time.process_time()
        n = int(DBSCAN(eps=75.0, min_samples=ms, algorithm="kd_tree").fit(xy).labels_.max() + 1)
    else:
        extra = {"incidents": len(inc)}
        t0, c0 = time.perf_counter(), time.process_time()
        n = len(detect(inc, step).hotspots)
print(json.dumps({"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "n": n,
                  "load": os.getloadavg()[0], **extra}))
"""


def _measure(step: str, folder: Path, repeats: int = REPEATS) -> dict:
    """Best wall time of ``repeats`` fresh processes running ``step`` on ``folder``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(folder), step, str(SKLEARN_MAX_PAIRS)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if runs[-1].get("skipped"):
            break
    return min(runs, key=lambda r: r.get("s", float("inf")))


def _write(case: str, folder: Path, rows: int) -> None:
    from benchmarks.bench_ingest import write_police_uk_months
    from hotspots.synthetic import write_national

    if case == "12 files":
        write_police_uk_months(folder, rows)
    elif case == "metropolitan":
        write_national(folder, rows=rows, forces=["metropolitan"])
    else:
        write_national(folder, rows=rows)


def run(quick: bool = False) -> list[dict]:
    rows = []
    n = 100_000 if quick else 1_000_000
    for case in ("12 files", "metropolitan", "national"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _write(case, folder, n)
            base = _measure("pandas_read", folder)
            sk = _measure("sklearn_dbscan", folder, repeats=1)
            for method in ("kde", "dbscan"):
                ours = _measure(method, folder)
                row = {
                    "case": f"{case}, {n:,} rows: detect {method}",
                    "incidents": ours["incidents"],
                    "hotspots": ours["n"],
                    "ours_s": ours["s"],
                    "ours_cpu_s": ours["cpu_s"],
                    "load": ours["load"],
                    "pandas_read_s": base["s"],
                    "pandas_read_cpu_s": base["cpu_s"],
                    "x_pandas_read": ours["s"] / base["s"],
                    "x_pandas_read_cpu": ours["cpu_s"] / base["cpu_s"],
                }
                if method == "dbscan" and not sk.get("skipped"):
                    row.update(
                        sklearn_dbscan_s=sk["s"],
                        sklearn_dbscan_cpu_s=sk["cpu_s"],
                        ratio_sklearn_dbscan=sk["s"] / ours["s"],
                    )
                elif method == "dbscan":
                    row["sklearn_dbscan_s"] = f"skipped ({sk['pairs']:.3g} pairs)"
                rows.append(row)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
