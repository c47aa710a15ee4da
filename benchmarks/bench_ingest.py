"""Reading police.uk CSVs: ``read_incidents`` and ``detect`` against a plain ``pandas.read_csv``.

Two baselines, measured in the same run on the same files:

* ``pandas_read``: ``pandas.read_csv`` of every file and one ``concat``, nothing else (the
  national-scale target of issue 9: ``detect`` within 3x of this, peak memory within 1.5 GB for
  1 million rows in 12 monthly files);
* ``pandas_geopandas``: the usual notebook recipe (read, concatenate, drop rows without
  coordinates, filter the crime type, ``geopandas.points_from_xy`` and ``to_crs``). It validates
  nothing else; ``read_incidents`` also detects the format, checks every row, keeps the rejected
  rows with reasons, removes far outliers and builds the study area. ``detect`` is
  :func:`hotspots.workflows.detect_hotspots`, what ``hotspots detect`` and the app run (detect
  and rank, flag places a patrol cannot address, weigh proactive offences).

Every timed step runs in a fresh Python process (after its imports), so each has its own peak
resident memory (``*_rss_mb``); the best of ``REPEATS`` runs is kept. ``ratio_<name>`` is the
baseline's time over ours (below 1: ours is slower); ``x_pandas_read`` is ours over the pandas
read (the issue's target is at most 3); ``load_1min`` is the machine's load average when our run
started (wall times mean little on a loaded machine: compare the CPU seconds). The synthetic
files are written to a temporary folder and deleted afterwards.

Usage: ``python -m benchmarks.bench_ingest [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
MERSEYSIDE = _ROOT.parent / "shared" / "data" / "police_uk" / "merseyside_2022-01_to_2022-06"
VIOLENCE = ("Violence and sexual offences", "Robbery", "Possession of weapons")
REPEATS = 2

#: Shares of police.uk's 14 crime types, roughly as in England and Wales street-level data.
CRIME_TYPE_SHARES = {
    "Anti-social behaviour": 0.20, "Violence and sexual offences": 0.33, "Other theft": 0.08,
    "Shoplifting": 0.07, "Criminal damage and arson": 0.08, "Vehicle crime": 0.06,
    "Public order": 0.07, "Burglary": 0.045, "Drugs": 0.03, "Other crime": 0.015,
    "Robbery": 0.012, "Theft from the person": 0.015, "Bicycle theft": 0.013,
    "Possession of weapons": 0.01,
}  # fmt: skip
_OUTCOMES = (
    "Investigation complete; no suspect identified", "Unable to prosecute suspect",
    "Under investigation", "Awaiting court outcome", "Offender given a caution",
    "Status update unavailable",
)  # fmt: skip


def write_police_uk_months(
    folder: Path, rows: int = 1_000_000, months: int = 12, seed: int = 0
) -> list[Path]:
    """Write synthetic police.uk street-level files, one per month, shaped like a large force's.

    Incidents are snapped to 60,000 anonymous map points spread over 40 town centres around
    London (heavy-tailed: a few points take many incidents), with police.uk's columns, crime
    type mix, 64-hex Crime IDs (blank for anti-social behaviour, as police.uk has them) and
    1.2 % of rows without a location ("No Location", blank coordinates). Nothing here is real.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_points = 60_000
    centres = np.column_stack([rng.uniform(-0.45, 0.2, 40), rng.uniform(51.35, 51.65, 40)])
    c = rng.integers(0, 40, n_points)
    r = rng.exponential(0.02, n_points)
    theta = rng.uniform(0, 2 * np.pi, n_points)
    lon = np.char.mod("%.6f", centres[c, 0] + 1.6 * r * np.cos(theta)).astype(object)
    lat = np.char.mod("%.6f", centres[c, 1] + r * np.sin(theta)).astype(object)
    streets = np.array(
        [
            f"On or near Street{i:05d} {k}"
            for k in ("Road", "Street", "Lane", "Close")
            for i in range(4000)
        ],
        dtype=object,
    )  # fmt: skip
    place = streets[rng.integers(0, len(streets), n_points)]
    lsoa = rng.integers(0, 5000, n_points)
    lsoa_code = np.array([f"E0100{i:04d}" for i in range(5000)], dtype=object)
    lsoa_name = np.array(
        [f"Borough {i // 150:02d} {i % 150:03d}A" for i in range(5000)], dtype=object
    )
    weight = rng.pareto(1.2, n_points) + 1
    weight /= weight.sum()
    types = np.array(list(CRIME_TYPE_SHARES), dtype=object)
    share = np.array(list(CRIME_TYPE_SHARES.values()))
    share /= share.sum()
    outcomes = np.array(_OUTCOMES, dtype=object)
    per = np.full(months, rows // months)
    per[: rows % months] += 1
    paths = []
    for m in range(months):
        n = int(per[m])
        pt = rng.choice(n_points, n, p=weight)
        ctype = types[rng.choice(len(types), n, p=share)]
        asb = ctype == "Anti-social behaviour"
        words = rng.integers(0, 2**63, (n, 4))
        ids = np.array([f"{a:016x}{b:016x}{c:016x}{d:016x}" for a, b, c, d in words], dtype=object)
        ids[asb] = ""
        x, y, loc = lon[pt].copy(), lat[pt].copy(), place[pt].copy()
        code, name = lsoa_code[lsoa[pt]].copy(), lsoa_name[lsoa[pt]].copy()
        lost = rng.random(n) < 0.012
        x[lost], y[lost], loc[lost], code[lost], name[lost] = "", "", "No Location", "", ""
        outcome = outcomes[rng.integers(0, len(outcomes), n)]
        outcome[asb] = ""
        month = f"2024-{m + 1:02d}"
        force = "Metropolitan Police Service"
        lines = ["Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
                 "LSOA name,Crime type,Last outcome category,Context"]  # fmt: skip
        lines += [
            f"{i},{month},{force},{force},{a},{b},{lo},{lc},{ln},{t},{o},"
            for i, a, b, lo, lc, ln, t, o in zip(
                ids, x, y, loc, code, name, ctype, outcome, strict=True
            )
        ]  # fmt: skip
        path = folder / f"{month}-metropolitan-street.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


# What each child process does, after its imports; FILES is a JSON list of paths.
_CHILD = """
import json, resource, sys, time
files = json.loads(sys.argv[1])
step = sys.argv[2]
VIOLENCE = json.loads(sys.argv[3])
if step == "pandas_read":
    import pandas as pd
elif step == "pandas_geopandas":
    import geopandas as gpd
    import pandas as pd
else:  # the detectors' modules too: imports are not timed, for pandas either
    import hotspots.clusters, hotspots.kde, hotspots.places, hotspots.profile  # noqa: F401
    from hotspots.ingest import read_incidents
    from hotspots.workflows import detect_hotspots  # what `hotspots detect` and the app run
t0, c0 = time.perf_counter(), time.process_time()
if step == "pandas_read":
    n = len(pd.concat([pd.read_csv(f) for f in files], ignore_index=True))
elif step == "pandas_geopandas":
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    df = df.dropna(subset=["Longitude", "Latitude"])
    df = df[df["Crime type"].isin(VIOLENCE)]
    n = len(gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]), crs=4326
    ).to_crs(27700))
else:
    inc = read_incidents(files)
    n = len(inc)
    if step != "read":
        n = len(detect_hotspots(inc, step).hotspots)
print(json.dumps({"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "n": n,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "pandas": pd.__version__ if step.startswith("pandas") else None}))
"""


def versus_pandas_read(ours: dict, base: dict) -> dict:
    """A step's figures beside the pandas read of the same files (``s``, ``cpu_s``, ``rss_mb``)."""
    return {
        "ours_s": ours["s"],
        "ours_cpu_s": ours["cpu_s"],
        "pandas_read_s": base["s"],
        "pandas_read_cpu_s": base["cpu_s"],
        "ratio_pandas_read": base["s"] / ours["s"],
        "x_pandas_read": ours["s"] / base["s"],
        "x_pandas_read_cpu": ours["cpu_s"] / base["cpu_s"],
        "ours_rss_mb": ours["rss_mb"],
        "pandas_read_rss_mb": base["rss_mb"],
    }


def other_pandas() -> list[str]:
    """Python interpreters named in ``HOTSPOTS_BENCH_PANDAS_PYTHON`` (``os.pathsep``-separated).

    Each holds another pandas version for a second yardstick (only ``pandas_read`` runs there):
    pandas 3 reads police.uk files several times faster than pandas 2 (its strings are Arrow
    arrays), so a ratio to "the pandas read" depends on which pandas. For example, a venv with
    ``pip install pandas==2.2.3`` and ``HOTSPOTS_BENCH_PANDAS_PYTHON=/tmp/pd2/bin/python``.
    """
    return [p for p in os.environ.get("HOTSPOTS_BENCH_PANDAS_PYTHON", "").split(os.pathsep) if p]


def _measure(
    step: str, files: list[Path], repeats: int = REPEATS, python: str = sys.executable
) -> dict:
    """Best wall time of ``repeats`` fresh processes of ``python`` running ``step`` on ``files``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
    runs = []
    for _ in range(repeats):
        load = os.getloadavg()[0]
        out = subprocess.run(
            [python, "-c", _CHILD, json.dumps([str(f) for f in files]), step,
             json.dumps(VIOLENCE)],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        runs.append({**json.loads(out.stdout.strip().splitlines()[-1]), "load": load})
    best = min(runs, key=lambda r: r["s"])
    best["rss_mb"] = max(r["rss_mb"] for r in runs)
    return best


def run(quick: bool = False) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        n = 100_000 if quick else 1_000_000
        synthetic = write_police_uk_months(Path(tmp), rows=n, months=12)
        base = _measure("pandas_read", synthetic)
        others = [_measure("pandas_read", synthetic, python=py) for py in other_pandas()]
        label = f"{n:,} police.uk-shaped rows in 12 files"
        for step in ("read", "kde", "dbscan"):
            ours = _measure(step, synthetic)
            for yardstick in [base, *others]:
                rows.append(
                    {
                        "case": f"{label}: "
                        + ("read_incidents" if step == "read" else f"read + detect {step}")
                        + f" (pandas {yardstick['pandas']})",
                        **versus_pandas_read(ours, yardstick),
                        "load_1min": ours["load"],
                    }
                )  # fmt: skip
        cases = [(label, synthetic)]
        if MERSEYSIDE.is_dir() and not quick:
            cases.append(
                ("Merseyside 6 monthly files (94,340 rows)", sorted(MERSEYSIDE.glob("*.csv")))
            )
        for name, files in cases:
            ours = _measure("read", files)
            geo = _measure("pandas_geopandas", files)
            rows.append(
                {
                    "case": f"{name}: read_incidents vs the notebook recipe",
                    "ours_s": ours["s"],
                    "ours_cpu_s": ours["cpu_s"],
                    "pandas_geopandas_s": geo["s"],
                    "ratio_pandas_geopandas": geo["s"] / ours["s"],
                    "ours_rss_mb": ours["rss_mb"],
                    "ours_rows": ours["n"],
                    "baseline_rows": geo["n"],
                }
            )
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
