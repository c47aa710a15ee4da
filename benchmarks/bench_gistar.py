"""Our sparse Gi* vs PySAL esda's ``G_Local(star=True)`` on the same grid counts.

Both compute the same z-scores (tests/test_gistar.py checks it to 1e-9). esda needs a dense
weights object over every cell of the grid; ours touches only cells near incidents.

Usage: ``python -m benchmarks.bench_gistar [--quick]`` or ``python -m benchmarks --only gistar``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from hotspots import Incidents
from hotspots.gistar import GiStarHotspots

CELL = 150.0


def _data(n: int, side_m: float, seed: int = 0) -> Incidents:
    rng = np.random.default_rng(seed)
    m = n // 2
    centres = rng.uniform(0, side_m, (40, 2))
    pts = np.r_[
        rng.uniform(0, side_m, (n - m, 2)),
        centres[rng.integers(0, 40, m)] + rng.normal(0, 200, (m, 2)),
    ]
    pts = np.clip(pts, 0, side_m - 1e-6) + [400000.0, 300000.0]
    return Incidents.from_xy(
        pts[:, 0],
        pts[:, 1],
        study_area=shapely.box(400000, 300000, 400000 + side_m, 300000 + side_m),
    )


def _esda(inc: Incidents, side_m: float) -> float:
    import esda
    import libpysal

    nside = int(side_m // CELL)
    ij = np.floor((inc.xy - [400000.0, 300000.0]) / CELL).astype(int)
    counts = np.zeros((nside, nside))
    np.add.at(counts, (ij[:, 1], ij[:, 0]), 1)
    t = time.perf_counter()
    w = libpysal.weights.lat2W(nside, nside, rook=False)
    esda.G_Local(counts.ravel(), w, transform="B", star=True, permutations=0)
    return time.perf_counter() - t


def run(quick: bool = False) -> list[dict]:
    try:
        import esda  # noqa: F401
    except ImportError:
        esda_ok = False
    else:
        esda_ok = True
    cases = [(20_000, 15_000.0)] if quick else [(20_000, 15_000.0), (200_000, 45_000.0)]
    rows = []
    for n, side in cases:
        inc = _data(n, side)
        t = time.perf_counter()
        GiStarHotspots(cell_size=CELL).fit(inc)
        ours = time.perf_counter() - t
        row = {
            "case": (
                f"{n:,} incidents, {side / 1000:.0f} km square, {int(side // CELL) ** 2:,} cells"
            ),
            "ours_s": ours,
        }
        if esda_ok:
            theirs = _esda(inc, side)
            row["esda_s"] = theirs
            row["ratio_esda"] = theirs / ours
        else:
            row["esda_s"] = "skipped (esda not installed)"
        rows.append(row)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
