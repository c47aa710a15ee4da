"""KDE surface: our exact sparse quartic scatter vs scikit-learn, scipy and KDEpy.

Every competitor is evaluated on the same cells as ours (the centres of the positive cells of our
surface: 25 m cells, 150 m bandwidth), except KDEpy's FFTKDE, which can only fill its own regular
grid; it gets a grid with as many points as our bounding box. Competitors whose estimated time is
above :data:`BUDGET_S` are skipped; the estimate extrapolates a timed run on a sample of cells.

Usage: ``python -m benchmarks --only kde`` or ``python benchmarks/bench_kde.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hotspots import Incidents
from hotspots.kde import KDEHotspots, brute_force_density, density_surface

BANDWIDTH = 150.0
CELL = 25.0
BUDGET_S = 60.0
SAMPLE_CELLS = 2_000
EXTENT = 20_000.0  # metres: a 20 km x 20 km town
X0, Y0 = 430_000.0, 380_000.0


def synthetic(n: int, *, stacked: bool, seed: int = 0) -> np.ndarray:
    """Clustered incidents: 60 % in 80 hot spots (sd 30-150 m), 40 % spread uniformly.

    With ``stacked``, incidents are snapped to 4,000 "map points" drawn from the same pattern,
    as police.uk does (thousands of crimes share one anonymised location).
    """
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, EXTENT, (80, 2))

    def draw(m: int) -> np.ndarray:
        k = int(0.6 * m)
        which = rng.integers(0, len(centres), k)
        sd = rng.uniform(30, 150, len(centres))[which, None]
        clustered = centres[which] + rng.normal(0, 1, (k, 2)) * sd
        return np.concatenate([clustered, rng.uniform(0, EXTENT, (m - k, 2))])

    if stacked:
        points = draw(4_000)
        pts = points[rng.integers(0, len(points), n)]
    else:
        pts = draw(n)
    return pts + [X0, Y0]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _competitors(pts: np.ndarray, grid_shape: tuple[int, int]) -> dict:
    """name -> function(cells) evaluating the competitor on ``cells`` (or its own grid)."""
    from scipy.stats import gaussian_kde
    from sklearn.neighbors import KernelDensity

    out: dict[str, Callable[[np.ndarray], Any]] = {}

    def sklearn_epa(cells: np.ndarray) -> Any:
        kde = KernelDensity(kernel="epanechnikov", bandwidth=BANDWIDTH).fit(pts)
        return np.exp(kde.score_samples(cells))

    def sklearn_gauss(cells: np.ndarray) -> Any:
        kde = KernelDensity(kernel="gaussian", bandwidth=BANDWIDTH / 2).fit(pts)
        return np.exp(kde.score_samples(cells))

    def scipy_gkde(cells: np.ndarray) -> Any:
        return gaussian_kde(pts.T)(cells.T)

    out["sklearn_epanechnikov"] = sklearn_epa
    out["sklearn_gaussian"] = sklearn_gauss
    out["scipy_gaussian_kde"] = scipy_gkde
    try:
        from KDEpy import FFTKDE
    except ImportError:  # pragma: no cover - optional
        return out

    def kdepy_fft(cells: np.ndarray) -> Any:
        # FFTKDE fills its own grid; bw is the kernel's standard deviation (biweight sd = h/3)
        return FFTKDE(kernel="biweight", bw=BANDWIDTH / 3).fit(pts).evaluate(grid_shape)

    out["kdepy_fftkde"] = kdepy_fft
    return out


def run(quick: bool = False) -> list[dict]:
    """Time our surface against the competitors; one dict per data set."""
    cases = [("10k", 10_000, False)]
    if not quick:
        cases += [("100k", 100_000, False), ("100k stacked", 100_000, True)]
    rows: list[dict] = []
    rng = np.random.default_rng(1)
    for name, n, stacked in cases:
        pts = synthetic(n, stacked=stacked)
        # warm-up (imports, allocations) so that the first case is not penalised
        density_surface(pts[:100, 0], pts[:100, 1], bandwidth=BANDWIDTH, cell_size=CELL)
        t_surface, surface = _timed(
            lambda pts=pts: density_surface(
                pts[:, 0], pts[:, 1], bandwidth=BANDWIDTH, cell_size=CELL
            )
        )
        inc = Incidents.from_xy(pts[:, 0], pts[:, 1])
        t_fit, _ = _timed(lambda inc=inc: KDEHotspots().fit(inc))
        cx, cy, _ = surface.cells()
        at = np.column_stack([cx, cy])
        sample = at[rng.choice(len(at), min(SAMPLE_CELLS, len(at)), replace=False)]
        ref = brute_force_density(pts[:, 0], pts[:, 1], None, sample[:, 0], sample[:, 1], BANDWIDTH)
        err = float(np.abs(surface.values_at(sample[:, 0], sample[:, 1]) - ref).max() / ref.max())
        dense_shape = surface.to_dense()[0].shape
        row: dict[str, Any] = {
            "case": name,
            "n": n,
            "locations": int(np.unique(pts, axis=0).shape[0]),
            "cells": len(at),
            "ours_s": t_surface,
            "ours_fit_s": t_fit,
            "max_err_vs_brute": err,
        }
        for cname, fn in _competitors(pts, dense_shape[::-1]).items():
            if cname == "kdepy_fftkde":
                t, _ = _timed(lambda fn=fn, at=at: fn(at))
            else:
                t_sample, _ = _timed(lambda fn=fn, sample=sample: fn(sample))
                estimate = t_sample * len(at) / len(sample)
                if estimate > BUDGET_S:
                    row[f"{cname}_s"] = f"skipped (est. {estimate:.0f}s)"
                    row[f"ratio_{cname}"] = f"~{estimate / t_surface:.0f}"
                    continue
                t, _ = _timed(lambda fn=fn, at=at: fn(at))
            row[f"{cname}_s"] = t
            row[f"ratio_{cname}"] = t / t_surface
        rows.append(row)
    return rows


def _print(rows: list[dict]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    print(" | ".join(cols))
    for r in rows:
        print(
            " | ".join(
                f"{r.get(c, ''):.3g}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                for c in cols
            )
        )


if __name__ == "__main__":
    _print(run(quick="--quick" in sys.argv[1:]))
