"""Reading police.uk CSVs: ``read_incidents`` vs what a user would otherwise write.

The baseline is the usual notebook recipe: ``pandas.read_csv`` on each file, concatenate, drop
rows without coordinates, filter the crime type, ``geopandas.points_from_xy`` and ``to_crs``.
It validates nothing else; ``read_incidents`` also detects the format, checks every row, keeps
the rejected rows with reasons, removes far outliers and builds the study area. The ratio shows
what that costs (baseline time / ours: below 1 means ours is slower).

Usage: ``python -m benchmarks.bench_ingest [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
MERSEYSIDE = _ROOT.parent / "shared" / "data" / "police_uk" / "merseyside_2022-01_to_2022-06"
VIOLENCE = ("Violence and sexual offences", "Robbery", "Possession of weapons")


def _baseline(files: list[Path]) -> int:
    import geopandas as gpd
    import pandas as pd

    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    df = df.dropna(subset=["Longitude", "Latitude"])
    df = df[df["Crime type"].isin(VIOLENCE)]
    gdf = gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["Longitude"], df["Latitude"]), crs=4326
    ).to_crs(27700)
    return len(gdf)


def _ours(files: list[Path]) -> int:
    from hotspots.ingest import read_incidents

    return len(read_incidents(files))


def _synthetic(folder: Path, rows: int) -> list[Path]:
    from hotspots.demo import generate_demo

    table, _ = generate_demo()
    reps = max(1, rows // len(table))
    big = table.loc[np.tile(np.arange(len(table)), reps)].copy()
    # a distinct Crime ID per copy, so the copies are not rejected as duplicate rows
    big["Crime ID"] = [f"{i:064x}" for i in range(len(big))]
    path = folder / "synthetic.csv"
    big.to_csv(path, index=False)
    return [path]


def run(quick: bool = False) -> list[dict]:
    rows = []
    cases: list[tuple[str, list[Path]]] = []
    tmp = tempfile.TemporaryDirectory()
    if MERSEYSIDE.is_dir() and not quick:
        cases.append(("Merseyside 6 monthly files (94,340 rows)", sorted(MERSEYSIDE.glob("*.csv"))))
    n = 20_000 if quick else 200_000
    cases.append((f"synthetic police.uk-like, {n:,} rows", _synthetic(Path(tmp.name), n)))
    for name, files in cases:
        t = time.perf_counter()
        n_ours = _ours(files)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        n_base = _baseline(files)
        base = time.perf_counter() - t
        rows.append(
            {
                "case": name,
                "ours_s": ours,
                "pandas_geopandas_s": base,
                "ratio_pandas_geopandas": base / ours,
                "ours_rows": n_ours,
                "baseline_rows": n_base,
            }
        )
    tmp.cleanup()
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
