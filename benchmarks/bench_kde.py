"""KDE surface at 1M incidents on a 25 m grid: ours against plain binning + FFT convolution.

The issue's row: our surface (``density_surface``, ``method="auto"``, which bins at this size)
within 1.5x the time of what a user would otherwise write on the same grid, a plain histogram of
the points convolved with the kernel sampled on the grid (``numpy.histogram2d`` +
``scipy.signal.fftconvolve``), and within ``1e-3`` of the peak of the exact surface
(``method="exact"``, every kernel summed at every cell centre), compared on every cell.

Quartic kernel, 150 m bandwidth, 25 m cells, over a 20 km x 20 km town. The baseline's grid is
the bounding box plus one bandwidth, with cell centres on ours. A second baseline bins with
``numpy.bincount`` on precomputed cell indices (faster than ``histogram2d``) and is shown beside
it. Times are the best of three runs, wall and CPU; peak memory is tracemalloc's (Python, numpy
and scipy allocations; off while timing).

Usage: ``python -m benchmarks --only kde`` or ``python benchmarks/bench_kde.py [--quick]``.
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.signal import fftconvolve

from hotspots.kde import density_surface, kernel_density, surface_method

BANDWIDTH = 150.0
CELL = 25.0
EXTENT = 20_000.0  # metres: a 20 km x 20 km town
X0, Y0 = 430_000.0, 380_000.0
REPEAT = 3


def synthetic(n: int, *, stacked: bool, seed: int = 0, map_points: int = 4_000) -> np.ndarray:
    """Clustered incidents: 60 % in 80 hot spots (sd 30-150 m), 40 % spread uniformly.

    With ``stacked``, incidents are snapped to ``map_points`` "map points" drawn from the same
    pattern, as police.uk does (thousands of crimes share one anonymised location).
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
        points = draw(map_points)
        pts = points[rng.integers(0, len(points), n)]
    else:
        pts = draw(n)
    return pts + [X0, Y0]


def _grid(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int, int, int]:
    """Origin, shape and kernel radius (cells) of the baseline's grid: bbox + one bandwidth."""
    r = math.ceil(BANDWIDTH / CELL)
    ox = math.floor((x.min() - BANDWIDTH) / CELL) * CELL
    oy = math.floor((y.min() - BANDWIDTH) / CELL) * CELL
    nx = math.ceil((x.max() + BANDWIDTH - ox) / CELL) + 1
    ny = math.ceil((y.max() + BANDWIDTH - oy) / CELL) + 1
    return ox, oy, nx, ny, r


def _kernel_grid(r: int) -> np.ndarray:
    offs = np.arange(-r, r + 1) * CELL
    return kernel_density(offs[None, :] ** 2 + offs[:, None] ** 2, BANDWIDTH)


def baseline_histogram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``numpy.histogram2d`` of the points, ``fftconvolve`` with the sampled kernel."""
    ox, oy, nx, ny, r = _grid(x, y)
    counts, _, _ = np.histogram2d(
        y, x, bins=[ny, nx], range=[[oy, oy + ny * CELL], [ox, ox + nx * CELL]]
    )
    return fftconvolve(counts, _kernel_grid(r), mode="same")


def baseline_bincount(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The same with ``numpy.bincount`` on cell indices instead of ``histogram2d``."""
    ox, oy, nx, ny, r = _grid(x, y)
    i = ((x - ox) // CELL).astype(np.intp)
    j = ((y - oy) // CELL).astype(np.intp)
    counts = np.bincount(j * nx + i, minlength=nx * ny).reshape(ny, nx).astype(float)
    return fftconvolve(counts, _kernel_grid(r), mode="same")


def _best(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall and CPU seconds of :data:`REPEAT` runs, and the last result."""
    walls, cpus = [], []
    out = None
    for _ in range(REPEAT):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def _peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def _max_error(ours: Any, exact: Any) -> tuple[float, float]:
    """Max |ours - exact| over every cell of the exact surface's extent, and the peak."""
    ref, xc, yc = exact.to_dense()
    half = CELL / 2
    got, _, _ = ours.to_dense((xc[0] - half, yc[0] - half, xc[-1] + half, yc[-1] + half))
    peak = float(ref.max())
    return float(np.abs(got - ref).max()), peak


def run(quick: bool = False) -> list[dict]:
    """One row per data set: ours, the two baselines, ratios, error against the exact surface."""
    cases = [("100k spread", 100_000, False, 0)]
    if not quick:
        cases = [
            ("1M spread", 1_000_000, False, 0),
            ("1M police.uk-shaped (60k map points)", 1_000_000, True, 60_000),
            ("1M stacked (4k map points)", 1_000_000, True, 4_000),
        ]
    rows: list[dict] = []
    for name, n, stacked, m in cases:
        pts = synthetic(n, stacked=stacked, map_points=m or 4_000)
        x, y = pts[:, 0].copy(), pts[:, 1].copy()

        def ours(x: np.ndarray = x, y: np.ndarray = y) -> Any:
            return density_surface(x, y, bandwidth=BANDWIDTH, cell_size=CELL)

        ours(x[:1000], y[:1000])  # warm-up (imports, FFT plans)
        wall, cpu, surface = _best(ours)
        h_wall, h_cpu, _ = _best(lambda x=x, y=y: baseline_histogram(x, y))
        b_wall, b_cpu, _ = _best(lambda x=x, y=y: baseline_bincount(x, y))
        t = time.perf_counter()
        exact = density_surface(x, y, bandwidth=BANDWIDTH, cell_size=CELL, method="exact")
        exact_s = time.perf_counter() - t
        err, peak = _max_error(surface, exact)
        ox, oy, nx, ny, _ = _grid(x, y)
        assert (ox, oy) == exact.origin  # the baseline's cell (0, 0) is the surface's
        base_err = float(np.abs(baseline_histogram(x, y) - exact.block(0, 0, nx, ny)).max())
        rows.append(
            {
                "case": name,
                "n": n,
                "method": surface_method(n, bandwidth=BANDWIDTH, cell_size=CELL),
                "ours_s": wall,
                "ours_cpu_s": cpu,
                "hist2d_fft_s": h_wall,
                "hist2d_fft_cpu_s": h_cpu,
                "bincount_fft_s": b_wall,
                "bincount_fft_cpu_s": b_cpu,
                "ratio_hist2d_fft": h_wall / wall,
                "x_hist2d_fft_cpu": cpu / h_cpu,
                "x_bincount_fft_cpu": cpu / b_cpu,
                "exact_s": exact_s,
                "max_err_over_peak": err / peak,
                "hist2d_fft_err_over_peak": base_err / peak,
                "ours_peak_mb": _peak_mb(ours),
                "hist2d_fft_peak_mb": _peak_mb(lambda x=x, y=y: baseline_histogram(x, y)),
            }
        )
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
