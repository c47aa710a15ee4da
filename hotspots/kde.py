"""Kernel density hot spots: bandwidth rules, an exact sparse density surface, thresholds, polygons.

:class:`KDEHotspots` follows scikit-learn's estimator contract: ``__init__`` only stores the
parameters, :meth:`KDEHotspots.fit` validates them, computes the surface and cuts hot spot polygons
from it, and what it learned or chose ends in an underscore.

The surface is computed at cell centres, either *exactly* (stacked points are merged first, as
police.uk snaps thousands of crimes to one map point, then each distinct location adds its kernel
footprint to the cells it touches) or, for large inputs, *binned*: kernel moments binned per cell
and convolved with their stencils block by block (by FFT where the block is dense, cell by
cell where it is sparse), within 10⁻³ of the peak of the exact surface
(:func:`density_surface`). Cells live in tiles of a :class:`~hotspots.grid.DensitySurface`, present
only where the surface is non-zero, so a national data set never needs a dense national grid.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from numbers import Real
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import fft as sp_fft

from hotspots._errors import HotspotsError, HotspotsWarning, ParameterError
from hotspots.base import Boolean, HotspotEstimator, Interval, Options
from hotspots.constants import HOTSPOT_COVERAGE, MICRO_PLACE_M
from hotspots.grid import (
    DEFAULT_TILE_SIZE,
    M2_PER_KM2,
    DensitySurface,
    default_cell_size,
    polygon_parts,
)
from hotspots.incidents import Incidents, unique_points

__all__ = [
    "BANDWIDTH_RULES",
    "BINNED_BLOCK_CELLS",
    "BINNED_TOLERANCE",
    "EXACT_MAX_EVALUATIONS",
    "GAUSSIAN_TRUNCATED_MASS",
    "GAUSSIAN_TRUNCATION",
    "HOTSPOT_COLUMNS",
    "KERNELS",
    "MAX_RIM_ERROR",
    "MICRO_PLACE_BANDWIDTH_M",
    "SURFACE_METHODS",
    "THRESHOLDS",
    "KDEHotspots",
    "arcgis_bandwidth",
    "brute_force_density",
    "coverage_level",
    "deduplicate",
    "density_surface",
    "kernel_density",
    "kernel_support",
    "rim_error",
    "surface_method",
    "threshold_level",
]

#: Kernels: ``quartic`` (biweight; bandwidth = support radius) and ``gaussian`` (bandwidth = s.d.).
KERNELS = ("quartic", "gaussian")

#: Bandwidth rules understood by :class:`KDEHotspots`.
BANDWIDTH_RULES = ("micro-place", "arcgis")

#: Threshold rules understood by :class:`KDEHotspots`.
THRESHOLDS = ("coverage", "volume", "density")

#: The micro hot spot scale of the UK randomised trials the guide draws on, metres: Southend's
#: 150 m × 150 m spots, Birmingham's 150 m grid cells, Peterborough's and Operation Savvy's 150 m
#: radii (``Basford2021``, ``Williams2017``, ``Ariel2016``, ``OpSavvy`` in
#: ``hotspots/data/tactics.json``).
MICRO_PLACE_BANDWIDTH_M = MICRO_PLACE_M

#: The gaussian kernel is cut off at this many standard deviations.
GAUSSIAN_TRUNCATION = 4.0

#: Share of a 2-D gaussian kernel's mass beyond the cut-off: ``exp(-4²/2) = exp(-8) ≈ 3.4e-4``.
GAUSSIAN_TRUNCATED_MASS = math.exp(-(GAUSSIAN_TRUNCATION**2) / 2)

#: Columns of ``KDEHotspots.hotspots_`` (besides the geometry).
HOTSPOT_COLUMNS = ("method", "peak_density", "peak_x", "peak_y", "mass", "area_m2")

#: Kernel-value elements evaluated per chunk (bounds memory at ~100 MB of temporaries).
_CHUNK_ELEMENTS = 2_000_000

#: Cells of the padded tile windows one batch of :func:`_scatter` sums into (2 MB: in cache).
_WINDOW_ELEMENTS = 262_144

#: How the surface is computed (:func:`density_surface`): exact at cell centres, binned moments
#: with FFT convolution, or chosen by size (:func:`surface_method`).
SURFACE_METHODS = ("auto", "exact", "binned")

#: ``method="auto"`` stays exact up to this many kernel evaluations (points × footprint cells):
#: about a second of work, where binning's FFTs start to pay (benchmarks/bench_kde.py).
EXACT_MAX_EVALUATIONS = 10_000_000

#: Binned surfaces: a location whose weight could move a cell by more than this share of the
#: peak through the rim of its kernel (:func:`rim_error`) gets its exact kernel instead.
BINNED_TOLERANCE = 1e-4

#: ``method="auto"`` bins only when one point's binned kernel is within this share of its peak
#: (:func:`rim_error`): 0.033 for the quartic at six cells per bandwidth (150 m, 25 m), 0.09 at
#: five, 0.0005 for the gaussian; coarser cells stay exact.
MAX_RIM_ERROR = 0.1

#: Binned surfaces are convolved in blocks of at most this many cells a side (plus a halo of one
#: kernel radius), so memory follows the occupied area, not a national bounding box.
BINNED_BLOCK_CELLS = 1024

#: Binned surfaces: cost of adding one stencil cell of one occupied cell into the tiles, in units
#: of a block's FFT convolution cost ``F·log2 F`` (an FFT of ``F`` cells; six forward transforms
#: and one inverse in single precision, binning included). Measured on one 1000-cell block of
#: random cells: 10-16 ns per stencil cell against 5-12 ns per unit of ``F·log2 F``, so a block is
#: scattered up to about 8 % of its cells occupied at 150 m / 25 m (113 stencil cells), 0.5 % for
#: the gaussian at 150 m / 25 m (1,793 stencil cells).
SCATTER_COST = 2.0

#: Stencil spectra kept for reuse between blocks of the same FFT shape.
_SPECTRA_CACHED = 4

#: FFT round-off (single precision, ~1e-7): binned values below this share of the peak are zero.
_FFT_ZERO = 1e-6


# ---------------------------------------------------------------------------------------- kernels
def kernel_support(bandwidth: float, kernel: str = "quartic") -> float:
    """Radius (metres) beyond which the kernel is zero: ``h`` (quartic) or ``4h`` (gaussian)."""
    _check_kernel(kernel)
    return float(bandwidth) * (1.0 if kernel == "quartic" else GAUSSIAN_TRUNCATION)


def kernel_density(d2: np.ndarray, bandwidth: float, kernel: str = "quartic") -> np.ndarray:
    """Kernel value for squared distances, in *per km²* (one incident of weight 1).

    Parameters
    ----------
    d2 : ndarray
        Squared distances in m².
    bandwidth : float
        ``h`` in metres.
    kernel : {"quartic", "gaussian"}

    Returns
    -------
    ndarray
        ``K(d)·10⁶`` where, with ``h`` in metres,

        * quartic: ``K(d) = 3/(π h²) · (1 − d²/h²)²`` for ``d < h``, else 0;
        * gaussian: ``K(d) = 1/(2π h²) · exp(−d²/(2h²))`` for ``d < 4h``, else 0.

    Notes
    -----
    The quartic normaliser ``3/(πh²)`` is ArcGIS Pro's Kernel Density (Silverman 1986, eq. 4.5) and
    the corrected QGIS Heatmap (QGIS issue #60616 / PR #60631 fixed a ``116/(5πh²)·15/16`` typo); it
    integrates to 1 over the disc of radius ``h``. The gaussian is cut at ``4h``, losing
    :data:`GAUSSIAN_TRUNCATED_MASS` (``e⁻⁸ ≈ 3.4·10⁻⁴``) of each kernel's mass; it is not
    renormalised, so it agrees with the untruncated formula to that fraction.
    """
    _check_kernel(kernel)
    h2 = float(bandwidth) ** 2
    d2 = np.asarray(d2, dtype=float)
    if kernel == "quartic":
        u = 1.0 - d2 / h2
        return np.where(u > 0, (3.0 * M2_PER_KM2 / (math.pi * h2)) * u * u, 0.0)
    cut = (GAUSSIAN_TRUNCATION**2) * h2
    val = (M2_PER_KM2 / (2.0 * math.pi * h2)) * np.exp(-d2 / (2.0 * h2))
    return np.where(d2 < cut, val, 0.0)


def _check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        msg = f"kernel must be one of {list(KERNELS)}, got {kernel!r}."
        raise ParameterError(msg)


# --------------------------------------------------------------------------------- bandwidth rule
def arcgis_bandwidth(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """ArcGIS Pro's default Kernel Density search radius (spatial Silverman rule), metres.

    Parameters
    ----------
    x, y : array-like
        Coordinates in metres (a projected CRS).
    weights : array-like, optional
        Non-negative weights (ArcGIS's population field).

    Returns
    -------
    float
        ``0.9 · min(SD, sqrt(1/ln 2) · Dm) · n^(-0.2)``, where ``SD`` is the (weighted) standard
        distance about the (weighted) mean centre, ``Dm`` the (weighted) median distance to that
        centre, and ``n`` the number of points or, with weights, their sum. ``nan`` when there are
        no points or no weight.

    Notes
    -----
    Esri, "How Kernel Density works" (ArcGIS Pro documentation; the rule since 10.2.1): the mean
    centre, the (weighted) median distance ``Dm`` to it and the standard distance ``SD`` give
    ``0.9 · min(SD, √(1/ln 2) · Dm) · n^-0.2``. The weighted median is the smallest distance whose
    cumulative weight reaches half the total. As in ArcGIS, with weights ``n = Σw``, so large harm
    weights shrink the radius: the rule was designed for population counts.

    Examples
    --------
    >>> round(arcgis_bandwidth([0, 100, 0, -100, 0], [0, 0, 100, 0, -100]), 3)
    58.344
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    total = float(w.sum())
    if x.size == 0 or total <= 0:
        return math.nan
    mx = float(np.sum(w * x) / total)
    my = float(np.sum(w * y) / total)
    dx, dy = x - mx, y - my
    sd = math.sqrt(float(np.sum(w * dx * dx) / total + np.sum(w * dy * dy) / total))
    dist = np.hypot(dx, dy)
    if weights is None:
        dm = float(np.median(dist))
    else:
        order = np.argsort(dist, kind="stable")
        cum = np.cumsum(w[order])
        dm = float(dist[order][np.searchsorted(cum, 0.5 * total)])
    n = float(x.size if weights is None else total)
    return 0.9 * min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) * n**-0.2


# ---------------------------------------------------------------------------------- the surface
def deduplicate(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge points at identical coordinates, summing their weights; zero-weight points dropped.

    Returns
    -------
    x, y, weights : ndarray
        One entry per distinct location.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.size == 0:
        return x, y, w
    xy = np.column_stack([x, y])
    uniq, inverse = unique_points(xy, return_inverse=True)
    wsum = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))
    keep = wsum != 0
    return uniq[keep, 0], uniq[keep, 1], wsum[keep]


def surface_method(
    n: int, *, bandwidth: float, cell_size: float, kernel: str = "quartic", method: str = "auto"
) -> str:
    """The surface method ``density_surface`` uses: ``"exact"`` or ``"binned"``.

    Parameters
    ----------
    n : int
        Number of points (before merging duplicates).
    bandwidth, cell_size : float
        Metres.
    kernel : {"quartic", "gaussian"}
    method : {"auto", "exact", "binned"}, default "auto"
        ``"auto"`` is ``"binned"`` when the exact method could evaluate the kernel more than
        :data:`EXACT_MAX_EVALUATIONS` times (``n`` × the ``(2r+1)²`` cells of a footprint) and
        the cells are fine enough for binning (:func:`rim_error` at most
        :data:`MAX_RIM_ERROR`: about five or more cells per bandwidth), else ``"exact"``.

    Returns
    -------
    str
    """
    _check_kernel(kernel)
    if method not in SURFACE_METHODS:
        msg = f"method must be one of {list(SURFACE_METHODS)}, got {method!r}."
        raise ParameterError(msg)
    if method != "auto":
        return method
    r = max(1, math.ceil(kernel_support(bandwidth, kernel) / float(cell_size)))
    if n * (2 * r + 1) ** 2 <= EXACT_MAX_EVALUATIONS:
        return "exact"
    return "binned" if rim_error(bandwidth, cell_size, kernel) <= MAX_RIM_ERROR else "exact"


def density_surface(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    bandwidth: float,
    cell_size: float,
    kernel: str = "quartic",
    crs: Any = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    method: str = "auto",
) -> DensitySurface:
    """Kernel density at every cell centre within the kernel's reach of a point, stored sparsely.

    Parameters
    ----------
    x, y : array-like
        Coordinates in metres (analysis CRS).
    weights : array-like, optional
        Non-negative weights (harm); default 1 per point.
    bandwidth : float
        ``h`` in metres (quartic radius / gaussian standard deviation).
    cell_size : float
        Cell side in metres.
    kernel : {"quartic", "gaussian"}, default "quartic"
    crs : pyproj.CRS, optional
        Stored on the surface.
    tile_size : int, default 64
        Cells per tile side (raised to the kernel's footprint radius in cells if that is larger).
    method : {"auto", "exact", "binned"}, default "auto"
        ``"exact"`` sums every distinct location's kernel at every cell centre it reaches;
        ``"binned"`` bins kernel moments onto the grid and convolves them with their stencils
        block by block (by FFT where the block is dense, cell by cell where it is sparse),
        within :data:`BINNED_TOLERANCE` of the peak (Notes). ``"auto"``: see
        :func:`surface_method`.

    Returns
    -------
    DensitySurface
        Values in incidents (or weight) per km²; the surface integrates to ``Σ weights`` (minus
        the gaussian's truncated tail).

    Notes
    -----
    *Exact.* Every distinct location's kernel is evaluated at each cell centre within its
    support (a ``(2r+1)²`` footprint, ``r = ceil(support / cell_size)``) and summed with
    ``numpy.bincount`` into a padded tile around the location's home tile; the padding is then
    added to the neighbouring tiles. Cost is ``O(distinct locations × r²)`` and memory is
    proportional to the area the kernels touch, not to the bounding box.

    *Binned.* Plain binning (every point moved to its cell centre, as FFT methods do) misses the
    exact surface by several per cent of the peak at five cells per bandwidth, and so does
    linear binning (the error of linear interpolation, ``c²/(8)·|∇²K|``, is about
    ``(c/h)² ≈ 3 %`` of a single kernel's peak). Instead each point's offset ``f`` from its cell
    centre is kept in *moments*: the quartic kernel is a polynomial of degree 4 in ``f``,

    ``K(D − f) = Σ_k m_k(f) · S_k(D)``,  ``m_k ∈ {1, fx, fy, fx², fx·fy, fy², fx·|f|², fy·|f|²,
    |f|⁴}``,

    with ``D`` the offset between cell centres, so binning the nine moments ``Σ w·m_k(f)`` per
    cell and convolving each with its stencil ``S_k`` (by FFT; scipy.fft) is exact wherever the
    kernel's support does not cut between a point and its cell centre. The gaussian uses the
    same scheme with its separable Taylor expansion to second order in each axis (error below
    ``2·10⁻⁴`` of a kernel's peak at ``c ≤ h/6``). What remains is the *rim*: a stencil keeps
    cells with ``|D| ≤ support``, while the exact kernel keeps ``|D − f| < support``; where they
    differ a point's kernel is small (at most :func:`rim_error` of its peak: 6 % for the quartic
    at ``c = h/6``) and errors of opposite sign from neighbouring points cancel, so spread points
    stay within about ``4·10⁻⁴`` of the peak. Stacked points (police.uk's map points) do not
    cancel, so every location whose weight could move a cell by more than
    :data:`BINNED_TOLERANCE` of the peak through its rim is corrected afterwards by adding its
    exact kernel minus its binned one (non-zero only on its rim). Occupied cells are processed
    in blocks of at most :data:`BINNED_BLOCK_CELLS` cells a side, so memory follows the occupied
    area, not the bounding box. A dense block is convolved by FFT (single precision, with a halo
    of ``r`` cells; its round-off, below :data:`_FFT_ZERO` of the block's peak, is set to zero);
    a sparse block, where the occupied cells times the stencil's cells cost less than the FFT
    (:data:`SCATTER_COST`), adds each occupied cell's moments times the stencils straight into
    the tiles in double precision: the same sums without round-off. At 150 m and 25 m cells
    police.uk data are sparse everywhere, national data included.
    """
    _check_kernel(kernel)
    c = float(cell_size)
    support = kernel_support(bandwidth, kernel)
    r = max(1, math.ceil(support / c))
    t = int(tile_size)
    while t < r:
        t *= 2
    xa = np.asarray(x, dtype=float).reshape(-1)
    ya = np.asarray(y, dtype=float).reshape(-1)
    used = surface_method(xa.size, bandwidth=bandwidth, cell_size=c, kernel=kernel, method=method)
    if used == "binned":
        wa = np.ones_like(xa) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
        keep = wa != 0
        if not keep.all():
            xa, ya, wa = xa[keep], ya[keep], wa[keep]
        surface = _empty_surface(xa, ya, support, c, crs, t)
        if xa.size:
            _binned(surface, xa, ya, wa, float(bandwidth), kernel, r)
        return surface
    xd, yd, wd = deduplicate(xa, ya, weights)
    surface = _empty_surface(xd, yd, support, c, crs, t)
    if xd.size:
        ci, cj, fx, fy = _cell_offsets(xd, yd, surface)
        foot = _footprint(r, c, math.inf)  # the whole square, as the work counts in the tests
        kern = _exact_kernel(float(bandwidth), kernel, c, foot, fx, fy)
        _scatter(surface, ci, cj, foot, lambda sel: kern(sel) * wd[sel, None])
    return surface


def _empty_surface(
    x: np.ndarray, y: np.ndarray, support: float, c: float, crs: Any, t: int
) -> DensitySurface:
    if x.size:
        origin = (math.floor((x.min() - support) / c) * c, math.floor((y.min() - support) / c) * c)
    else:
        origin = (0.0, 0.0)
    return DensitySurface(cell_size=c, crs=crs, origin=origin, tile_size=t)


def _cell_offsets(x: np.ndarray, y: np.ndarray, surface: DensitySurface) -> tuple[np.ndarray, ...]:
    """Cells ``(i, j)`` of points and their offsets ``(fx, fy)`` from the cell centres, metres."""
    c, origin = surface.cell_size, surface.origin
    ci = np.floor((x - origin[0]) / c).astype(np.int64)
    cj = np.floor((y - origin[1]) / c).astype(np.int64)
    # offset of each point from its cell centre, metres (small numbers: no cancellation)
    fx = x - (origin[0] + (ci + 0.5) * c)
    fy = y - (origin[1] + (cj + 0.5) * c)
    return ci, cj, fx, fy


def _footprint(r: int, c: float, reach: float) -> np.ndarray:
    """Offsets ``(di, dj)`` of the cells of a ``(2r+1)²`` square whose centres lie within
    ``reach`` metres of the centre, shape (k, 2), rows ``dj`` then columns ``di`` in order."""
    offs = np.arange(-r, r + 1)
    dj, di = (a.ravel() for a in np.meshgrid(offs, offs, indexing="ij"))
    keep = (di * c) ** 2 + (dj * c) ** 2 <= reach * reach
    return np.column_stack([di[keep], dj[keep]])


def _point_reach(support: float, c: float) -> float:
    """Metres from a cell centre within which a point of that cell reaches cell centres: the
    support plus half the cell's diagonal (rounded up, so no reached cell is left out)."""
    return support + c * (0.5 * math.sqrt(2.0) + 1e-9)


def _exact_kernel(
    h: float, kernel: str, c: float, foot: np.ndarray, fx: np.ndarray, fy: np.ndarray
) -> Any:
    """``fn(sel)``: kernel values (per km², weight 1) at the footprint cells of points ``sel``,
    shape ``(len(sel), len(foot))``."""

    def values(sel: np.ndarray) -> np.ndarray:
        dx = foot[None, :, 0] * c - fx[sel, None]  # cell centre − point, metres
        dy = foot[None, :, 1] * c - fy[sel, None]
        return kernel_density(dy**2 + dx**2, h, kernel)

    return values


def _scatter(
    surface: DensitySurface, ci: np.ndarray, cj: np.ndarray, foot: np.ndarray, values: Any
) -> None:
    """Add ``values(sel)`` (shape ``(len(sel), len(foot))``: the values at cells ``(ci + di,
    cj + dj)`` for each footprint offset) of every item into the surface's tiles.

    Items are grouped by home tile; each home tile's values are summed into a window of the tile
    padded by the footprint's radius (:func:`numpy.bincount`), and the window's nine parts are
    added into the tile and its neighbours (:func:`_add_padded_tiles`). Many home tiles share
    one ``values`` call and one ``bincount`` (a batch of up to :data:`_CHUNK_ELEMENTS` values
    and :data:`_WINDOW_ELEMENTS` window cells), so a national surface of some 18,000 tiles
    takes a few hundred calls instead of one per tile. Every window holds the same sums, in
    the same order, as a tile done alone (``values`` must give each item's row whatever the
    other items of the call), and the parts are added tile by tile in the same order, so the
    result does not depend on the batching.
    """
    t = surface.tile_size
    r = int(np.abs(foot).max()) if foot.size else 0
    tc, tr = ci // t, cj // t
    key = (tr - int(tr.min())) * (int(tc.max() - tc.min()) + 2) + (tc - int(tc.min()))
    order = np.argsort(key, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(key[order])) + 1]
    ends = np.r_[starts[1:], order.size]
    width = t + 2 * r
    area = width * width
    flat = foot[:, 1] * width + foot[:, 0]
    chunk = max(1, _CHUNK_ELEMENTS // max(1, len(foot)))  # items per bincount
    most = max(1, _WINDOW_ELEMENTS // area)  # home tiles per batch
    home_r, home_c = tr[order[starts]], tc[order[starts]]
    a = 0
    while a < starts.size:
        # whole home tiles holding at most ``chunk`` items (a larger tile alone, in chunks)
        b = int(np.searchsorted(ends, starts[a] + chunk, side="right"))
        b = min(max(b, a + 1), a + most)
        idx = order[starts[a] : ends[b - 1]]
        local = np.repeat(np.arange(b - a), ends[a:b] - starts[a:b])
        home = local * area + (cj[idx] - tr[idx] * t + r) * width + (ci[idx] - tc[idx] * t + r)
        windows: np.ndarray = np.zeros(0)
        for s in range(0, idx.size, chunk):
            cell = home[s : s + chunk, None] + flat[None, :]
            vals = values(idx[s : s + chunk])
            part = np.bincount(cell.ravel(), weights=vals.ravel(), minlength=(b - a) * area)
            windows = part if s == 0 else windows + part  # as zeros + part: 0 + x is x
        _add_padded_tiles(
            surface, windows.reshape(b - a, width, width), home_r[a:b], home_c[a:b], r
        )
        a = b


def _add_padded_tiles(
    surface: DensitySurface, windows: np.ndarray, ktr: np.ndarray, ktc: np.ndarray, r: int
) -> None:
    """Add ``windows[n]``, tile ``(ktr[n], ktc[n])`` padded by ``r <= tile_size`` cells on
    every side, into that tile and its eight neighbours, window by window (the same sums as
    :func:`_add_window`, with the parts known; a part that is all zero is skipped, so it
    creates no tile)."""
    t = surface.tile_size
    spans = (
        (-1, slice(0, r), slice(t - r, t)),
        (0, slice(r, r + t), slice(0, t)),
        (1, slice(r + t, 2 * r + t), slice(0, r)),
    )
    parts = [(dr, dc, wr, wc, tr, tc) for dr, wr, tr in spans for dc, wc, tc in spans]
    live = np.stack([windows[:, wr, wc].any(axis=(1, 2)) for _, _, wr, wc, _, _ in parts], 1)
    rows, cols = ktr.tolist(), ktc.tolist()
    tiles = surface.tiles
    for n, p in zip(*(a.tolist() for a in np.nonzero(live)), strict=True):  # window, then part
        dr, dc, wr, wc, tr, tc = parts[p]
        key = (rows[n] + dr, cols[n] + dc)
        tile = tiles.get(key)
        if tile is None:
            tile = tiles[key] = np.zeros((t, t))
        tile[tr, tc] += windows[n, wr, wc]


def _add_window(surface: DensitySurface, window: np.ndarray, i0: int, j0: int) -> None:
    """Add a dense window whose element ``[0, 0]`` is cell ``(i0, j0)`` into the surface's tiles."""
    t = surface.tile_size
    nj, ni = window.shape
    for tr in range(j0 // t, (j0 + nj - 1) // t + 1):
        r0, r1 = max(j0, tr * t), min(j0 + nj, (tr + 1) * t)
        for tc in range(i0 // t, (i0 + ni - 1) // t + 1):
            c0, c1 = max(i0, tc * t), min(i0 + ni, (tc + 1) * t)
            part = window[r0 - j0 : r1 - j0, c0 - i0 : c1 - i0]
            if not part.any():
                continue
            tile = surface.tiles.get((tr, tc))
            if tile is None:
                tile = surface.tiles[(tr, tc)] = np.zeros((t, t))
            tile[r0 - tr * t : r1 - tr * t, c0 - tc * t : c1 - tc * t] += part


# ------------------------------------------------------------------------------ binned surface
def _kernel_terms(h: float, c: float, kernel: str, r: int) -> np.ndarray:
    """Stencils ``S_k`` with ``K(D − f) ≈ Σ_k m_k(f)·S_k(D)`` for ``|D| ≤ support``, per km².

    ``m_k(f)`` are the monomials of :func:`_moments` (1, fx, fy, fx², fx·fy, fy²): the kernel's
    Taylor expansion to second order in the point's offset ``f`` from its cell centre. Shape
    ``(6, 2r+1, 2r+1)``; row: ``Dy``, column: ``Dx`` (cell centre minus the point's cell centre).
    """
    offs = np.arange(-r, r + 1) * c
    dx = np.broadcast_to(offs[None, :], (2 * r + 1, 2 * r + 1))
    dy = np.broadcast_to(offs[:, None], (2 * r + 1, 2 * r + 1))
    d2 = dx * dx + dy * dy
    h2 = h * h
    h4 = h2 * h2
    if kernel == "quartic":
        # K = (A + (2 D·f − |f|²)/h²)² · 3/(π h²), A = 1 − |D|²/h², to second order in f
        a = 1.0 - d2 / h2
        base = 3.0 * M2_PER_KM2 / (math.pi * h2)
        terms = [
            a * a,
            4 * a * dx / h2,
            4 * a * dy / h2,
            4 * dx * dx / h4 - 2 * a / h2,
            8 * dx * dy / h4,
            4 * dy * dy / h4 - 2 * a / h2,
        ]
    else:
        # K(D − f) = K(D) · exp(D·f/h² − |f|²/(2h²)), to second order in f
        a = np.exp(-d2 / (2 * h2))
        base = M2_PER_KM2 / (2 * math.pi * h2)
        terms = [
            a,
            a * dx / h2,
            a * dy / h2,
            a * (dx * dx / (2 * h4) - 1 / (2 * h2)),
            a * dx * dy / h4,
            a * (dy * dy / (2 * h4) - 1 / (2 * h2)),
        ]
    inside = d2 <= kernel_support(h, kernel) ** 2
    return np.where(inside[None], np.stack(terms) * base, 0.0)


def _moments(fx: np.ndarray, fy: np.ndarray) -> Iterator[np.ndarray]:
    """The monomials of :func:`_kernel_terms`, one array at a time (1 is left to the caller)."""
    yield from (fx, fy, fx * fx, fx * fy, fy * fy)


def rim_error(bandwidth: float, cell_size: float, kernel: str = "quartic") -> float:
    """Largest error of one binned point, as a share of its kernel's peak (dimensionless).

    The maximum over points anywhere in a cell and over every cell centre of
    ``|K(D − f) − Σ_k m_k(f)·S_k(D)| / K(0)`` (see :func:`density_surface`), found on a
    17 × 17 lattice of offsets ``f`` across the cell.
    """
    c, h = float(cell_size), float(bandwidth)
    r = max(1, math.ceil(kernel_support(h, kernel) / c))
    stencils = _kernel_terms(h, c, kernel, r)
    g = (np.arange(17) / 16 - 0.5) * c
    fx, fy = (a.ravel() for a in np.meshgrid(g, g))
    offs = np.arange(-r, r + 1) * c
    dx = offs[None, :] - fx[:, None]
    dy = offs[None, :] - fy[:, None]
    exact = kernel_density(dy[:, :, None] ** 2 + dx[:, None, :] ** 2, h, kernel)
    mom = np.stack([np.ones_like(fx), *_moments(fx, fy)])
    approx = np.einsum("kn,kab->nab", mom, stencils)
    return float(np.abs(exact - approx).max() / kernel_density(np.array(0.0), h, kernel))


def _binned(
    surface: DensitySurface,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    h: float,
    kernel: str,
    r: int,
) -> None:
    """Fill ``surface`` by binned moments, convolved by FFT (dense blocks) or scattered cell by
    cell (sparse blocks), then correct heavy locations."""
    c = surface.cell_size
    stencils = _kernel_terms(h, c, kernel, r)
    ci, cj, fx, fy = _cell_offsets(x, y, surface)
    width = int(ci.max()) + 1
    codes, keys = pd.factorize(cj * width + ci)  # one code per occupied cell; one hash pass
    keys = np.asarray(keys)
    n_cells = len(keys)
    unit = bool(np.all(w == 1.0))  # counts: no multiplication by the weights
    moments = np.empty((n_cells, len(stencils)))  # Σ w·m_k(f) per occupied cell
    moments[:, 0] = np.bincount(codes, weights=None if unit else w, minlength=n_cells)
    for k, mom in enumerate(_moments(fx, fy), start=1):
        moments[:, k] = np.bincount(codes, weights=mom if unit else w * mom, minlength=n_cells)
    cell_weight = moments[codes, 0]
    del codes, fx, fy
    cell_i, cell_j = keys % width, keys // width
    foot = _footprint(r, c, kernel_support(h, kernel))  # the stencils' non-zero cells
    flat_stencils = stencils[:, foot[:, 1] + r, foot[:, 0] + r]  # (moments, footprint)
    sparse: list[np.ndarray] = []
    spectra: dict[tuple[int, int], np.ndarray] = {}
    for idx in _blocks(cell_i, cell_j):
        bi, bj = cell_i[idx], cell_j[idx]
        i0, j0 = int(bi.min()), int(bj.min())
        ni, nj = int(bi.max()) - i0 + 1, int(bj.max()) - j0 + 1
        fshape = (
            sp_fft.next_fast_len(nj + 2 * r, real=True),
            sp_fft.next_fast_len(ni + 2 * r, real=True),
        )
        if _scatter_is_cheaper(idx.size, len(foot), fshape):
            sparse.append(idx)
            continue
        spec = spectra.get(fshape)
        if spec is None:
            if len(spectra) >= _SPECTRA_CACHED:  # edge blocks come in many shapes
                spectra.pop(next(iter(spectra)))
            spec = spectra[fshape] = sp_fft.rfft2(stencils.astype(np.float32), fshape)
        grids = np.zeros((len(stencils), nj, ni), dtype=np.float32)
        grids[:, bj - j0, bi - i0] = moments[idx].T
        acc = np.einsum("kab,kab->ab", sp_fft.rfft2(grids, fshape), spec)
        del grids
        window = sp_fft.irfft2(acc, fshape)[: nj + 2 * r, : ni + 2 * r].astype(float)
        # FFT round-off is zero; small negative values at kernel rims stay until the heavy
        # locations are corrected (their binned kernels are subtracted as computed)
        window[np.abs(window) <= _FFT_ZERO * float(np.abs(window).max())] = 0.0
        _add_window(surface, window, i0 - r, j0 - r)
    del spectra
    if sparse:
        cells = np.concatenate(sparse)
        _scatter(
            surface,
            cell_i[cells],
            cell_j[cells],
            foot,
            lambda sel: np.einsum("nk,kf->nf", moments[cells[sel]], flat_stencils),
        )
    _correct_heavy(surface, x, y, w, cell_weight, h, kernel, r, stencils)


def _scatter_is_cheaper(n_cells: int, n_foot: int, fshape: tuple[int, int]) -> bool:
    """Whether scattering ``n_cells`` occupied cells' stencils (``n_foot`` cells each) costs
    less than a block's FFT convolution of shape ``fshape`` (measured costs, in the notes of
    :data:`SCATTER_COST`)."""
    size = fshape[0] * fshape[1]
    return n_cells * n_foot * SCATTER_COST < size * math.log2(size)


def _blocks(ci: np.ndarray, cj: np.ndarray) -> list[np.ndarray]:
    """Indices of the cells ``(ci, cj)`` per block of at most :data:`BINNED_BLOCK_CELLS` cells
    a side."""
    b = BINNED_BLOCK_CELLS
    if np.ptp(ci) < b and np.ptp(cj) < b:
        return [np.arange(ci.size)]
    bi, bj = ci // b, cj // b
    key = (bj - bj.min()) * (int(bi.max() - bi.min()) + 1) + (bi - bi.min())
    codes, _ = pd.factorize(key)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, bounds)


def _correct_heavy(
    surface: DensitySurface,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    cell_weight: np.ndarray,
    h: float,
    kernel: str,
    r: int,
    stencils: np.ndarray,
) -> None:
    """Replace the binned kernel of every heavy location by its exact kernel.

    A location is heavy when ``weight × rim_error × K(0)`` exceeds :data:`BINNED_TOLERANCE` of
    the surface's peak; only cells holding that much weight are searched for them.
    """
    peak = surface.max()
    if peak <= 0:
        _clip(surface, 0.0)
        return
    k0 = float(kernel_density(np.array(0.0), h, kernel))
    heavy_w = BINNED_TOLERANCE * peak / (rim_error(h, surface.cell_size, kernel) * k0)
    cand = _heavy_x(x, w, np.flatnonzero(cell_weight > heavy_w), heavy_w)
    if cand.size == 0:
        _clip(surface, _FFT_ZERO * peak)
        return
    key = np.empty(cand.size, dtype=complex)
    key.real = x[cand]
    key.imag = y[cand]
    codes, locations = pd.factorize(key)  # one hash pass; no sort
    loc_w = np.bincount(codes, weights=w[cand])
    keep = loc_w > heavy_w
    if not keep.any():
        _clip(surface, _FFT_ZERO * peak)
        return
    locations = np.asarray(locations, dtype=complex)[keep]
    hx, hy, hw = locations.real, locations.imag, loc_w[keep]
    c = surface.cell_size
    ci, cj, fx, fy = _cell_offsets(hx, hy, surface)
    foot = _footprint(r, c, _point_reach(kernel_support(h, kernel), c))
    exact = _exact_kernel(h, kernel, c, foot, fx, fy)
    flat_stencils = stencils[:, foot[:, 1] + r, foot[:, 0] + r]

    def correction(sel: np.ndarray) -> np.ndarray:
        mom = np.stack([np.ones_like(fx[sel]), *_moments(fx[sel], fy[sel])], axis=1)
        # einsum: each row the same whatever the other rows (a matrix product is not)
        return (exact(sel) - np.einsum("nk,kf->nf", mom, flat_stencils)) * hw[sel, None]

    _scatter(surface, ci, cj, foot, correction)
    _clip(surface, _FFT_ZERO * peak)


#: :func:`_heavy_x` sorts about this many candidates' ``x`` first, and filters only when at most
#: :data:`_HEAVY_SAMPLE_SHARED` of them repeat one another's (heuristic, speed only: 1M points
#: snapped to 4,000 map points took 0.14 CPU s unfiltered, 0.23 s filtered).
_HEAVY_SAMPLE = 4096
_HEAVY_SAMPLE_SHARED = 0.01


def _heavy_x(x: np.ndarray, w: np.ndarray, cand: np.ndarray, heavy_w: float) -> np.ndarray:
    """The points of ``cand`` (ascending indices) whose ``x`` value, summed over every point of
    ``cand`` that shares it, weighs more than ``heavy_w``, in the same order.

    The points of one location share their ``x``, so this keeps every point of every location
    heavier than ``heavy_w``, and most of the others go: spread points (distinct coordinates)
    share no ``x``, and a sort (SIMD in NumPy 2) is several times quicker than hashing each
    point's ``x + iy`` (1M spread points, 447,264 in heavy cells: 5 ms against 55 ms). Weights
    must be non-negative (else every point is kept).
    """
    if cand.size == 0 or not np.isfinite(x[cand]).all():
        return cand
    xc, wc = x[cand], w[cand]
    if not (wc >= 0).all():
        return cand
    # where points share locations (map points: police.uk, most exports) most would stay and
    # the filter only adds work: a sample of a few thousand tells (speed only; either way the
    # heavy locations are the same)
    sample = np.sort(xc[:: max(1, xc.size // _HEAVY_SAMPLE)])
    if np.count_nonzero(sample[1:] == sample[:-1]) > _HEAVY_SAMPLE_SHARED * sample.size:
        return cand
    unit = bool((wc == 1.0).all())
    order = None if unit else np.argsort(xc)
    xs = np.sort(xc) if order is None else xc[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    if unit:
        run_w = np.diff(np.r_[starts, xs.size]).astype(float)
    else:
        run_w = np.add.reduceat(wc[order], starts)
    # a sum in another order may round the other way: a hair of slack keeps it a superset
    heavy = xs[starts[run_w > heavy_w * (1.0 - 1e-9)]]
    if heavy.size == 0:
        return cand[:0]
    at = np.minimum(np.searchsorted(heavy, xc), heavy.size - 1)
    return cand[heavy[at] == xc]


def _n_distinct(x: np.ndarray, y: np.ndarray) -> int:
    """``len(unique_points(column_stack([x, y])))``: the distinct locations, counted by one hash
    pass over ``x + iy`` where numpy's rules for NaN and -0.0 do not matter (1.35 million
    national incidents: 0.11 s instead of 0.25 s)."""
    if len(x) == 0:
        return 0
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or (x == 0).any() or (y == 0).any():
        return len(unique_points(np.column_stack([x, y])))
    return len(pd.unique(x + 1j * y))


def _clip(surface: DensitySurface, floor: float) -> None:
    """Set values at or below ``floor`` to zero (the exact surface is never negative)."""
    for tile in surface.tiles.values():
        tile[tile <= floor] = 0.0


def brute_force_density(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    at_x: np.ndarray,
    at_y: np.ndarray,
    bandwidth: float,
    kernel: str = "quartic",
) -> np.ndarray:
    """Reference density by direct summation over every point (incidents per km²).

    ``O(n × m)``; for tests and benchmarks only. The gaussian is *not* truncated here, so the
    comparison also bounds the effect of :data:`GAUSSIAN_TRUNCATION`.

    Parameters
    ----------
    x, y : array-like
        Incident coordinates, metres.
    weights : array-like or None
        Weights (1 when None).
    at_x, at_y : array-like
        Where to evaluate, metres.
    bandwidth : float
        ``h``, metres.
    kernel : {"quartic", "gaussian"}

    Returns
    -------
    ndarray
        Density at each evaluation point.
    """
    _check_kernel(kernel)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    at_x = np.asarray(at_x, dtype=float).ravel()
    at_y = np.asarray(at_y, dtype=float).ravel()
    h2 = float(bandwidth) ** 2
    out = np.zeros(at_x.size)
    step = max(1, _CHUNK_ELEMENTS // max(1, x.size))
    for s in range(0, at_x.size, step):
        d2 = (at_x[s : s + step, None] - x[None, :]) ** 2 + (
            at_y[s : s + step, None] - y[None, :]
        ) ** 2
        if kernel == "quartic":
            u = np.clip(1.0 - d2 / h2, 0.0, None)
            k = 3.0 / (math.pi * h2) * u * u
        else:
            k = 1.0 / (2.0 * math.pi * h2) * np.exp(-d2 / (2.0 * h2))
        out[s : s + step] = (k * w[None, :]).sum(axis=1) * M2_PER_KM2
    return out


# ------------------------------------------------------------------------------------ thresholds
def threshold_level(
    values: np.ndarray,
    *,
    threshold: str = "coverage",
    cell_area_m2: float,
    study_area_m2: float | None = None,
    coverage: float = HOTSPOT_COVERAGE,
    volume: float = 0.5,
    density: float | None = None,
) -> float:
    """The density level at which hot spot polygons are cut (same units as ``values``).

    Parameters
    ----------
    values : ndarray
        Positive cell densities inside the study area (zero cells may be omitted).
    threshold : {"coverage", "volume", "density"}
        * ``"coverage"``: the level of the ``k``-th highest cell, ``k = round(coverage ×
          study_area_m2 / cell_area_m2)`` (at least 1); ties at the level are all kept, so the
          area can exceed the target by the tied cells. If fewer than ``k`` cells are positive,
          every positive cell is hot.
        * ``"volume"``: the highest level whose cells hold at least ``volume`` of the surface's
          total mass (percent-volume contour).
        * ``"density"``: ``density`` itself.
    cell_area_m2 : float
    study_area_m2 : float, optional
        Needed for ``"coverage"``.
    coverage, volume, density : float

    Returns
    -------
    float
        ``inf`` when no cell is positive (nothing is hot).
    """
    v = np.asarray(values, dtype=float)
    v = v[v > 0]
    if threshold == "density":
        if density is None:
            msg = "threshold='density' needs density= (incidents per km²), e.g. density=500."
            raise ParameterError(msg)
        return float(density)
    if v.size == 0:
        return math.inf
    if threshold == "coverage":
        area = float(study_area_m2 or 0.0)
        k = min(max(1, round(coverage * area / cell_area_m2)), v.size)
        return _kth_highest(v, k)
    v = np.sort(v)[::-1]
    if threshold == "volume":
        cum = np.cumsum(v)
        k = int(np.searchsorted(cum, volume * cum[-1] * (1 - 1e-12)))
        return float(v[min(k, v.size - 1)])
    msg = f"threshold must be one of {list(THRESHOLDS)}, got {threshold!r}."
    raise ParameterError(msg)


def _kth_highest(v: np.ndarray, k: int) -> float:
    """The ``k``-th highest of ``v`` (1 <= k <= len(v)), with no full sort: among the values at
    or above a bound drawn from an even sample of them (about twice ``k`` values) when at least
    ``k`` are, which makes it the same value; else among all (national KDE: 13 million cells
    inside the study area, 0.3 s -> 0.05 s)."""
    n = v.size
    if n > 8 * _KTH_SAMPLE and 4 * k < n:
        sample = np.sort(v[:: n // _KTH_SAMPLE])
        at = max(0, len(sample) - 1 - int(2 * k * len(sample) / n) - 8)
        top = v[v >= sample[at]]
        if top.size >= k:
            return float(np.partition(top, top.size - k)[top.size - k])
    return float(np.partition(v, n - k)[n - k])


#: Values :func:`_kth_highest` samples to bound the highest ones.
_KTH_SAMPLE = 65_536

#: :func:`coverage_level` reads every ``step``-th row and column of each tile (``tile_size //
#: this``) to bound the level from below.
_LEVEL_SAMPLE_STEPS = 8


def coverage_level(
    surface: DensitySurface,
    area: shapely.Geometry,
    area_m2: float,
    coverage: float = HOTSPOT_COVERAGE,
    *,
    tile_max: np.ndarray | None = None,
) -> float:
    """``threshold_level(surface.values_inside(area), threshold="coverage", ...)``, reading only
    the cells near the top.

    Parameters
    ----------
    surface : DensitySurface
    area : shapely geometry
        The study area (cell centres inside it count).
    area_m2 : float
        The study area in square metres (sets ``k``, the cells that are hot).
    coverage : float, default 0.02
    tile_max : ndarray, optional
        :meth:`~hotspots.grid.DensitySurface.tile_maxima` of the tiles as they are.

    Returns
    -------
    float
        The same level as :func:`threshold_level` (``inf`` when no cell is positive).

    Notes
    -----
    An even sample of every tile's cells (every ``tile_size // 8``-th row and column) gives a
    bound expected to leave about 1.25 ``k`` cells at or above it; if at least ``k`` of those
    lie in the study area, the ``k``-th highest of them is the ``k``-th highest of all (every
    cell above it is at or above the bound), else every positive cell inside is read. National
    KDE (13 million positive cells inside, ``k`` 1.5 million): 0.72 s -> 0.3 s.
    """
    cell_area = surface.cell_area_m2
    k = max(1, round(coverage * float(area_m2 or 0.0) / cell_area))
    bound = _level_bound(surface, k)
    if bound is not None:
        top = surface.values_inside(area, at_least=bound, tile_max=tile_max)
        if top.size >= k:
            return threshold_level(
                top, cell_area_m2=cell_area, study_area_m2=area_m2, coverage=coverage
            )
    return threshold_level(
        surface.values_inside(area),
        cell_area_m2=cell_area,
        study_area_m2=area_m2,
        coverage=coverage,
    )


def _level_bound(surface: DensitySurface, k: int) -> float | None:
    """A positive value with about ``1.25 k`` cells of ``surface`` at or above it, from an even
    sample of its cells (None when the sample has too few positive cells to tell)."""
    if not surface.tiles:
        return None
    t = surface.tile_size
    step = max(1, t // _LEVEL_SAMPLE_STEPS)
    share = len(range(0, t, step)) ** 2 / (t * t)  # of the cells sampled
    sample = np.concatenate([tile[::step, ::step].ravel() for tile in surface.tiles.values()])
    sample = sample[sample > 0]
    want = math.ceil(1.25 * k * share) + 32
    if want >= sample.size:
        return None
    bound = float(np.partition(sample, sample.size - want)[sample.size - want])
    return bound if bound > 0 else None


# ------------------------------------------------------------------------------------- estimator
class KDEHotspots(HotspotEstimator):
    """Hot spots as the densest areas of a kernel density surface.

    Parameters
    ----------
    bandwidth : float, optional
        Kernel bandwidth in metres: the quartic kernel's radius or the gaussian's standard
        deviation. Overrides ``bandwidth_rule``.
    bandwidth_rule : {"micro-place", "arcgis"}, default "micro-place"
        ``"micro-place"``: 150 m (:data:`MICRO_PLACE_BANDWIDTH_M`). ``"arcgis"``: ArcGIS Pro's
        spatial Silverman rule (:func:`arcgis_bandwidth`).
    cell_size : float, optional
        Cell side in metres. Default: ``bandwidth / 5`` rounded down to 1, 2, 2.5 or 5 × 10^k
        (:func:`hotspots.grid.default_cell_size`).
    kernel : {"quartic", "gaussian"}, default "quartic"
    threshold : {"coverage", "volume", "density"}, default "coverage"
        How the level is chosen (:func:`threshold_level`).
    coverage : float, default 0.02
        Share of the study area that is hot, for ``threshold="coverage"`` (0 < coverage ≤ 1).
    volume : float, default 0.5
        Share of the surface's mass inside the hot spots, for ``threshold="volume"``.
    density : float, optional
        Absolute level in incidents (or weight) per km², for ``threshold="density"``.
    use_weights : bool, default True
        Weight incidents by ``Incidents.frame["weight"]`` (harm).
    min_area_m2 : float, optional
        Drop polygons smaller than this (m²). Default: one cell's area.
    surface : {"auto", "exact", "binned"}, default "auto"
        How the density surface is computed (:func:`density_surface`): ``"exact"`` sums every
        kernel at every cell centre; ``"binned"`` convolves binned kernel moments by FFT, within
        ``10⁻³`` of the exact surface's peak; ``"auto"`` bins large inputs
        (:func:`surface_method`). The choice is announced and recorded in ``params_``.

    Attributes
    ----------
    bandwidth_ : float
        Metres.
    bandwidth_rule_ : str
        ``"micro-place"``, ``"arcgis"`` or ``"user"``.
    cell_size_ : float
        Metres.
    kernel_ : str
    surface_ : hotspots.grid.DensitySurface
        Incidents (or weight) per km².
    level_ : float
        The density threshold in incidents per km² (``inf`` when nothing is hot).
    hotspots_ : geopandas.GeoDataFrame
        One row per connected hot spot polygon, in the analysis CRS, sorted by ``peak_density``
        (highest first): ``geometry``, ``method`` ("kde"), ``peak_density`` (per km²), ``peak_x``,
        ``peak_y`` (metres, centre of the highest cell inside), ``mass`` (surface integral inside:
        expected incidents or weight), ``area_m2``.
    params_ : dict
        Every parameter and automatic choice, JSON-serialisable.
    notes_ : list of str
        One sentence per automatic choice.

    Notes
    -----
    *Bandwidth.* The default is the micro-place scale (:data:`MICRO_PLACE_BANDWIDTH_M`): the UK
    randomised trials patrolled places about 150 m across (Southend 150 m × 150 m, Birmingham 150 m
    grids, Peterborough and Op Savvy 150 m radii). ArcGIS's spatial Silverman rule scales with the
    spread of the whole data set, so it gives several hundred metres on a town and kilometres on a
    force area, which blurs separate 100 m hot spots into one district-sized blob.

    *Threshold.* The default coverage of 2 % follows the concentration of crime the guide's evidence
    reports: half of crime falls on about 2-6 % of street segments in eight cities (D. Weisburd,
    "The law of crime concentration and the criminology of place", Criminology 53(2), 2015) and
    2.6 % of Southend's area held 41 % of its harm (``Basford2021`` in
    ``hotspots/data/tactics.json``).

    *Polygons.* Filled contours of the surface at the level (contourpy), dissolved into one valid
    polygon per connected area with holes kept, clipped to the study area; polygons smaller than
    ``min_area_m2`` are dropped as slivers.

    Examples
    --------
    >>> import numpy as np
    >>> from hotspots import Incidents
    >>> rng = np.random.default_rng(0)
    >>> xy = np.r_[rng.uniform(0, 3000, (300, 2)), rng.normal(1500, 40, (60, 2))]
    >>> est = KDEHotspots().fit(Incidents.from_xy(xy[:, 0] + 5e5, xy[:, 1] + 2e5))
    >>> est.bandwidth_, est.cell_size_
    (150.0, 25.0)
    >>> bool(est.hotspots_.geometry.iloc[0].contains(shapely.Point(501500, 201500)))
    True
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "bandwidth": [None, Interval(Real, 0, None, closed="neither")],
        "bandwidth_rule": [Options(*BANDWIDTH_RULES)],
        "cell_size": [None, Interval(Real, 0, None, closed="neither")],
        "kernel": [Options(*KERNELS)],
        "threshold": [Options(*THRESHOLDS)],
        "coverage": [Interval(Real, 0, 1, closed="right")],
        "volume": [Interval(Real, 0, 1, closed="right")],
        "density": [None, Interval(Real, 0, None, closed="neither")],
        "use_weights": [Boolean()],
        "min_area_m2": [None, Interval(Real, 0, None, closed="left")],
        "surface": [Options(*SURFACE_METHODS)],
    }
    parameter_hints: ClassVar[dict[str, str]] = {
        "bandwidth": "give metres, or leave it unset for the bandwidth rule.",
        "cell_size": "give metres, or leave it unset for bandwidth / 5.",
        "density": "give incidents (or weight) per km², e.g. density=500.",
        "min_area_m2": "give square metres, or leave it unset for one cell.",
    }
    hotspot_columns: ClassVar[tuple[str, ...]] = HOTSPOT_COLUMNS

    def __init__(
        self,
        *,
        bandwidth: float | None = None,
        bandwidth_rule: str = "micro-place",
        cell_size: float | None = None,
        kernel: str = "quartic",
        threshold: str = "coverage",
        coverage: float = HOTSPOT_COVERAGE,
        volume: float = 0.5,
        density: float | None = None,
        use_weights: bool = True,
        min_area_m2: float | None = None,
        surface: str = "auto",
    ) -> None:
        self.bandwidth = bandwidth
        self.bandwidth_rule = bandwidth_rule
        self.cell_size = cell_size
        self.kernel = kernel
        self.threshold = threshold
        self.coverage = coverage
        self.volume = volume
        self.density = density
        self.use_weights = use_weights
        self.min_area_m2 = min_area_m2
        self.surface = surface

    # ----------------------------------------------------------------------------------- fit
    def fit(
        self,
        incidents: Incidents,
        y: Any = None,
        *,
        on_level: Callable[[Callable[[np.ndarray], np.ndarray]], None] | None = None,
    ) -> KDEHotspots:
        """Compute the surface and cut the hot spot polygons.

        Parameters
        ----------
        incidents : Incidents
            In a metric CRS; ``study_area`` bounds the threshold and clips the polygons.
        y : ignored
        on_level : callable, optional
            Called once the hot spots' level is known, before their polygons are cut (national
            incidents: some 3 s before the fit ends; not called when there is no level), with a
            function of points (array of shape (n, 2), metres) that tells which of them may lie
            in a hot spot (a boolean mask of a superset:
            :meth:`~hotspots.grid.DensitySurface.may_be_in_contours`), so that the caller can
            start work on them meanwhile (:func:`hotspots.detect.detect`: the discs of the
            surroundings test).

        Returns
        -------
        self
        """
        self.validate(incidents)
        if self.threshold == "density" and self.density is None:
            msg = "threshold='density' needs density= (incidents per km²), e.g. density=500."
            raise ParameterError(msg)
        notes: list[str] = []
        x = incidents.frame["x"].to_numpy(dtype=float)
        yy = incidents.frame["y"].to_numpy(dtype=float)
        w = incidents.weights if self.use_weights else np.ones_like(x)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(yy))):
            msg = "Incidents have non-finite coordinates; read them with hotspots.ingest."
            raise HotspotsError(msg)
        if w.size and (not np.all(np.isfinite(w)) or w.min() < 0):
            msg = "Weights must be finite and non-negative; check the harm weight column."
            raise HotspotsError(msg)
        weighted = bool(self.use_weights and w.size and np.any(w != 1.0))

        bw, rule = self._bandwidth(x, yy, w, weighted, notes)
        cell = self._cell_size(bw, notes)
        method = surface_method(
            len(x), bandwidth=bw, cell_size=cell, kernel=self.kernel, method=self.surface
        )
        notes.append(self._surface_note(method, len(x), bw, cell))
        from hotspots.engine import current_engine  # the engine imports this module

        running = current_engine()  # a Dask engine computes the surface by tiles
        surface = (running.density_surface if running else density_surface)(
            x,
            yy,
            w,
            bandwidth=bw,
            cell_size=cell,
            kernel=self.kernel,
            crs=incidents.crs,
            method=method,
        )
        n_locations = _n_distinct(x, yy)

        clip, area_m2 = _study_area(incidents, surface, notes)
        peaks = surface.tile_maxima()
        if self.threshold == "coverage" and clip is not None:
            level = coverage_level(surface, clip, area_m2, self.coverage, tile_max=peaks)
        else:
            level = threshold_level(
                surface.values_inside(clip) if self.threshold != "density" else np.empty(0),
                threshold=self.threshold,
                cell_area_m2=surface.cell_area_m2,
                study_area_m2=area_m2,
                coverage=self.coverage,
                volume=self.volume,
                density=self.density,
            )
        notes += self._level_notes(level)
        if on_level is not None and math.isfinite(level) and level > 0:
            # the cells _polygons contours and looks up reach down to this level
            at = level * (1 - 1e-6)
            on_level(
                lambda xy: surface.may_be_in_contours(
                    np.asarray(xy)[:, 0], np.asarray(xy)[:, 1], at, tile_max=peaks
                )
            )

        min_area = surface.cell_area_m2 if self.min_area_m2 is None else float(self.min_area_m2)
        if self.min_area_m2 is None:
            notes.append(f"Polygons smaller than one cell ({min_area:,.0f} m²) are dropped.")
        hotspots = self._polygons(surface, level, clip, min_area, incidents.crs, peaks)

        self.bandwidth_ = bw
        self.bandwidth_rule_ = rule
        self.cell_size_ = cell
        self.kernel_ = self.kernel
        self.surface_ = surface
        self.level_ = level
        self.hotspots_ = hotspots
        self.notes_ = notes
        self.params_ = {
            "method": "kde",
            **self.param_record(),
            "bandwidth_m": bw,
            "bandwidth_rule_used": rule,
            "cell_size_m": cell,
            "kernel_support_m": kernel_support(bw, self.kernel),
            "surface_method_used": method,
            "gaussian_truncation_sd": GAUSSIAN_TRUNCATION if self.kernel == "gaussian" else None,
            "weighted": weighted,
            "level_per_km2": level if math.isfinite(level) else None,
            "study_area_m2": area_m2,
            "min_area_m2_used": min_area,
            "n_incidents": len(x),
            "n_locations": n_locations,
            "surface_total": surface.total(),
            "surface_max_per_km2": float(peaks.max()) if len(peaks) else 0.0,
            "n_stored_cells": surface.n_stored_cells,
            "n_hotspots": len(hotspots),
            "crs": incidents.crs.to_string(),
        }
        return self

    def _bandwidth(
        self, x: np.ndarray, y: np.ndarray, w: np.ndarray, weighted: bool, notes: list[str]
    ) -> tuple[float, str]:
        """The bandwidth in metres and the rule that set it ("user", "arcgis", "micro-place")."""
        if self.bandwidth is not None:
            notes.append(f"Bandwidth {_fmt_m(float(self.bandwidth))}: set by the user.")
            return float(self.bandwidth), "user"
        if self.bandwidth_rule == "arcgis":
            bw = arcgis_bandwidth(x, y, w if weighted else None)
            if not (math.isfinite(bw) and bw > 0):
                bw = MICRO_PLACE_BANDWIDTH_M
                msg = (
                    f"The ArcGIS bandwidth rule needs points spread over more than one location "
                    f"({len(x)} incidents here); using the micro-place bandwidth of "
                    f"{_fmt_m(bw)} instead."
                )
                warnings.warn(msg, HotspotsWarning, stacklevel=3)
                notes.append(msg)
                return bw, "micro-place"
            notes.append(
                f"Bandwidth {_fmt_m(bw)}: ArcGIS Pro's spatial Silverman rule "
                f"0.9·min(SD, √(1/ln2)·Dm)·n^-0.2{' (weighted)' if weighted else ''} "
                "(rule 'arcgis'). Override with bandwidth=."
            )
            return bw, "arcgis"
        notes.append(
            f"Bandwidth {_fmt_m(MICRO_PLACE_BANDWIDTH_M)}: the College of Policing guide's "
            "micro-place scale (rule 'micro-place'). Override with bandwidth=."
        )
        return MICRO_PLACE_BANDWIDTH_M, "micro-place"

    def _cell_size(self, bw: float, notes: list[str]) -> float:
        """The cell side in metres, with a warning when it is too coarse for the bandwidth."""
        if self.cell_size is not None:
            cell = float(self.cell_size)
        else:
            cell = default_cell_size(bw)
            notes.append(
                f"Cell size {_fmt_m(cell)}: bandwidth / 5 rounded down to a round number, so the "
                "kernel spans at least 10 cells. Override with cell_size=."
            )
        if bw < 2 * cell:
            msg = (
                f"The bandwidth ({_fmt_m(bw)}) is less than twice the cell size "
                f"({_fmt_m(cell)}): the surface will be blocky and may miss incidents between "
                "cell centres. Use a smaller cell_size."
            )
            warnings.warn(msg, HotspotsWarning, stacklevel=3)
            notes.append(msg)
        if self.kernel == "gaussian":
            notes.append(
                f"Gaussian kernel with standard deviation {_fmt_m(bw)}, cut off at "
                f"{GAUSSIAN_TRUNCATION:g} standard deviations ({GAUSSIAN_TRUNCATED_MASS:.1e} of "
                "each kernel's mass dropped)."
            )
        return cell

    def _surface_note(self, method: str, n: int, bw: float, cell: float) -> str:
        """One sentence saying how the surface was computed and why."""
        who = "set by the user" if self.surface != "auto" else "chosen by size"
        if method == "exact":
            return (
                f"Density surface exact at every cell centre ({who}). "
                "Large inputs are binned instead (surface='binned'); keep surface='exact' to "
                "always sum every kernel."
            )
        r = max(1, math.ceil(kernel_support(bw, self.kernel) / cell))
        why = (
            f"{n:,} incidents × {(2 * r + 1) ** 2} cells per kernel is more than "
            f"{EXACT_MAX_EVALUATIONS:,} kernel evaluations"
            if self.surface == "auto"
            else "set by the user"
        )
        return (
            f"Density surface binned ({why}): each occupied cell's kernel moments spread over "
            "its neighbours (added cell by cell where cells are sparse, convolved by FFT where "
            "dense), within 0.1 % of the exact surface's peak; heavily stacked locations get "
            "their exact kernel. Set surface='exact' for the exact sum."
        )

    def _level_notes(self, level: float) -> list[str]:
        notes = []
        if self.threshold == "coverage":
            notes.append(
                f"Hot spots cover the densest {self.coverage:.1%} of the study area (level "
                f"{level:,.1f} per km²), after the concentration of crime on 2-6 % of places "
                "(Weisburd's law of crime concentration). Override with coverage= or threshold=."
            )
        elif self.threshold == "volume":
            notes.append(
                f"Hot spots are the smallest area holding {self.volume:.0%} of the surface's "
                f"mass (level {level:,.1f} per km²)."
            )
        if not math.isfinite(level):
            notes.append("No incidents with weight: the surface is zero everywhere, no hot spots.")
        return notes

    @staticmethod
    def _polygons(
        surface: DensitySurface,
        level: float,
        clip: shapely.Geometry | None,
        min_area: float,
        crs: Any,
        tile_max: np.ndarray | None = None,
    ) -> gpd.GeoDataFrame:
        # the cells at about the level or above: contoured, and looked up in the polygons
        cells = (
            surface.cells_at_or_above(level * (1 - 1e-6), tile_max=tile_max)
            if math.isfinite(level)
            else None
        )
        polys = surface.contour_polygons(level, cells=cells) if cells is not None else []
        if clip is not None and polys:
            shapely.prepare(clip)
            geoms = np.asarray(polys, dtype=object)
            whole = shapely.contains(clip, geoms)
            cut = iter(shapely.make_valid(shapely.intersection(geoms[~whole], clip)))
            polys = [
                q
                for p, w in zip(polys, whole, strict=True)
                for q in ([p] if w else polygon_parts(next(cut)))
            ]
        geoms = np.asarray(polys, dtype=object)
        areas = shapely.area(geoms) if len(geoms) else np.empty(0)
        keep = (areas >= min_area) & (areas > 0)
        geoms, areas = geoms[keep], areas[keep]
        if not len(geoms):
            frame = pd.DataFrame({col: pd.Series(dtype=_DTYPES[col]) for col in HOTSPOT_COLUMNS})
            frame.insert(0, "geometry", gpd.GeoSeries([], crs=crs))
            return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
        peak, px, py, mass = _cells_inside(surface, geoms, level, cells)
        c = surface.cell_size
        gdf = gpd.GeoDataFrame(
            {
                "geometry": geoms,
                "method": "kde",
                "peak_density": peak,
                "peak_x": px,
                "peak_y": py,
                "mass": mass * c * c / M2_PER_KM2,
                "area_m2": areas,
            },
            geometry="geometry",
            crs=crs,
        )
        gdf = gdf.sort_values("peak_density", ascending=False, kind="stable").reset_index(drop=True)
        return gdf[["geometry", *HOTSPOT_COLUMNS]]


def _cells_inside(
    surface: DensitySurface,
    geoms: np.ndarray,
    level: float,
    cells: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per polygon of the surface's contours at ``level``: the highest cell whose centre it holds
    (value, centre x, y; the first in row order among ties) and the sum of those cells' values.

    A contour at ``level`` holds no cell centre below it (a centre below the level lies outside
    every filled contour, and clipping and dissolving only remove or join areas), so only the
    cells at about the level or above are looked up: those in each polygon's bounding box, row
    by row, tested in one vectorised ``shapely.contains_xy``. A polygon holding no centre (a
    sliver between centres) takes the value at its representative point, and no mass.
    ``cells``: ``surface.cells_at_or_above(level * (1 - 1e-6))`` when the caller has it.
    """
    ci, cj, cv = surface.cells_at_or_above(level * (1 - 1e-6)) if cells is None else cells
    i0 = int(ci.min()) if ci.size else 0
    width = int(ci.max()) - i0 + 2 if ci.size else 1
    key = cj * width + (ci - i0)
    order = np.argsort(key, kind="stable")
    key, ci, cj, cv = key[order], ci[order], cj[order], cv[order]
    bounds = shapely.bounds(geoms)
    bi0, bj0 = surface.cell_index(bounds[:, 0], bounds[:, 1])
    bi1, bj1 = surface.cell_index(bounds[:, 2], bounds[:, 3])
    bi0, bi1 = np.clip(bi0, i0, i0 + width - 1), np.clip(bi1, i0, i0 + width - 1)
    rows = bj1 - bj0 + 1
    poly_of_row = np.repeat(np.arange(len(geoms)), rows)
    row = bj0[poly_of_row] + np.arange(poly_of_row.size) - np.repeat(np.cumsum(rows) - rows, rows)
    lo = np.searchsorted(key, row * width + (bi0[poly_of_row] - i0), side="left")
    hi = np.searchsorted(key, row * width + (bi1[poly_of_row] - i0), side="right")
    counts = hi - lo
    pair_poly = np.repeat(poly_of_row, counts)
    pair_cell = np.arange(counts.sum()) + np.repeat(lo - (np.cumsum(counts) - counts), counts)
    cx, cy = surface.cell_centre(ci[pair_cell], cj[pair_cell])
    shapely.prepare(geoms)
    inside = shapely.contains_xy(geoms[pair_poly], cx, cy)
    shapely.destroy_prepared(geoms)
    pair_poly, pair_cell, cx, cy = pair_poly[inside], pair_cell[inside], cx[inside], cy[inside]
    vals = cv[pair_cell]
    mass = np.bincount(pair_poly, weights=vals, minlength=len(geoms))
    # the pairs run polygon by polygon, cells in row order: the first cell at its polygon's
    # maximum is the peak
    top = np.full(len(geoms), -np.inf)
    np.maximum.at(top, pair_poly, vals)
    at_top = np.flatnonzero(vals == top[pair_poly])
    if at_top.size:
        at_top = at_top[np.r_[True, pair_poly[at_top][1:] != pair_poly[at_top][:-1]]]
    peak = np.full(len(geoms), np.nan)
    px, py = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    held = pair_poly[at_top]
    peak[held], px[held], py[held] = vals[at_top], cx[at_top], cy[at_top]
    for k in np.flatnonzero(np.isnan(peak)):  # a sliver between cell centres
        pt = geoms[k].representative_point()
        px[k], py[k] = pt.x, pt.y
        peak[k] = float(surface.values_at(pt.x, pt.y)[0])
    return peak, px, py, mass


_DTYPES = {
    "method": object,
    "peak_density": float,
    "peak_x": float,
    "peak_y": float,
    "mass": float,
    "area_m2": float,
}


def _study_area(
    incidents: Incidents, surface: DensitySurface, notes: list[str]
) -> tuple[shapely.Geometry | None, float]:
    """The polygon that clips the hot spots (None: no clipping) and the study area in m²."""
    area = incidents.study_area
    if area is None or area.is_empty or area.area <= 0:
        notes.append(
            "The study area has no area (too few or collinear incidents), so the area the "
            "surface covers is used as the study area and polygons are not clipped."
        )
        return None, surface.cell_area_m2 * surface.values_inside(None).size
    return area, float(area.area)


def _fmt_m(value: float) -> str:
    """Metres for people: 150 m, 2.5 m, 1,234 m."""
    return f"{value:,.0f} m" if value >= 10 else f"{value:g} m"
