"""Getis-Ord Gi* hot spots on a grid of counts, tested against each place's surroundings.

For cell ``i`` with count ``x_i``, binary weights ``w_ij = 1`` for the in-area cells ``j`` within
the neighbour distance *including i itself* (queen contiguity by default, ``cell * sqrt(2)``, as
sfhotspot), ``n`` cells in the study area, mean ``X`` and ``S = sqrt(sum(x^2)/n - X^2)``:

    G*_i = (L_i - X W_i) / (S sqrt((n sum_j w_ij^2 - W_i^2) / (n - 1)))

with the local sum ``L_i = sum_j w_ij x_j`` and ``W_i = sum_j w_ij`` (Getis & Ord 1992; Ord &
Getis 1995), the z-score ArcGIS and spdep report (column ``gi_z``).

Whether ``L_i`` is *significantly* high is a separate question, answered by the ``null`` of
:class:`GiStarHotspots`. The default, ``"local"``, compares ``L_i`` with the incidents of the ring
of cells around the neighbourhood (the same town, a few hundred metres away) under an
over-dispersed (beta-binomial) model, so a busy town centre is not a "hot spot" merely for being
busy, while a compact cluster that stands out from its own streets is. The classic nulls against
the study area's mean (``"poisson"``, ``"negative-binomial"``, ``"normal"``) remain available.
See :class:`GiStarHotspots` Notes for the measurements behind the choice.

Only cells of the study area count: a cell is in the area when it meets the study area polygon or
holds an incident, and it counts by the share of its area inside the polygon. Neighbourhoods and
rings are built from in-area cells only (an edge cell has fewer neighbours, not out-of-area
zeros), and the false discovery rate families hold the ``n`` in-area cells only. Hot and cold are
separate one-sided families, each Benjamini-Hochberg controlled at ``alpha``.

The grid is sparse: only in-area cells within the baseline window of an incident are computed.
Every other in-area cell has a local sum of zero, nothing around it to compare with, and a
p-value of one in both families; they enter the families as one block, so national data need no
dense grid.
"""

from __future__ import annotations

import math
import threading
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from scipy import special, stats
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from hotspots._errors import ParameterError
from hotspots.base import Boolean, HotspotEstimator, Interval, Options
from hotspots.constants import MICRO_PLACE_M
from hotspots.grid import cell_boxes, cell_ij, cell_keys, neighbour_offsets, unique_keys
from hotspots.incidents import Incidents
from hotspots.stats import benjamini_hochberg

__all__ = [
    "DEFAULT_NULL",
    "NULLS",
    "GiStarGrid",
    "GiStarHotspots",
    "GiStarTest",
    "GridPart",
    "StudyAreaCells",
    "box_overlaps",
    "centres_within",
    "estimate_dispersion",
    "gi_star",
    "gistar_grid",
    "grid_part",
    "occupied_cells",
    "window_radius",
]

#: Default cell size in metres: the 150 m patrol unit of the UK trials (Birmingham patrolled 150 m
#: grid cells, ``Williams2017`` in ``hotspots/data/tactics.json``).
DEFAULT_CELL_M = MICRO_PLACE_M

#: Null distributions of a cell's local sum (see :meth:`GiStarGrid.test`).
NULLS = ("local", "poisson", "negative-binomial", "normal")

#: The default null: each place against its own surroundings, over-dispersed.
DEFAULT_NULL = "local"

#: Cells with at least this binomial variance ``T p0 (1 - p0)`` inform the dispersion estimate
#: (below it the count is too discrete for the normal scale the estimate relies on).
DISPERSION_MIN_VARIANCE = 5.0
#: Fewer informative cells than this: no over-dispersion is estimated (plain binomial).
DISPERSION_MIN_CELLS = 30

#: Smallest area share given to a cell that holds an incident (its centre may lie outside).
MIN_CELL_FRACTION = 0.01

#: Median of ``|N(0, 1)|``.
_HALF_NORMAL_MEDIAN = 0.6744897501960817
#: Bits of the integer cell key given to each axis (cell indices must fit in +-2^31).
_KEY_SHIFT = 2**32


def gi_star(
    values: np.ndarray,
    neighbours: list[np.ndarray],
    n: int | None = None,
    sum_x: float | None = None,
    sum_x2: float | None = None,
) -> np.ndarray:
    """Gi* z-scores for cells with binary, self-inclusive neighbour lists.

    Parameters
    ----------
    values : array of shape (m,)
        Counts of the computed cells.
    neighbours : list of int arrays
        For each computed cell, the indices (into ``values``) of its neighbours *including
        itself*; neighbours outside ``values`` count as zero-valued cells and may be given as
        ``-1`` (they still add to ``W_i``).
    n, sum_x, sum_x2 : optional
        Number of cells in the whole study area and the sums of ``x`` and ``x^2`` over it
        (default: over ``values`` only).

    Returns
    -------
    ndarray of shape (m,)
        The z-scores of Ord & Getis (1995), equation 9.
    """
    x = np.asarray(values, dtype=float)
    n = len(x) if n is None else n
    sum_x = float(x.sum()) if sum_x is None else sum_x
    sum_x2 = float((x**2).sum()) if sum_x2 is None else sum_x2
    mean = sum_x / n
    s = math.sqrt(max(sum_x2 / n - mean**2, 0.0))
    z = np.zeros(len(x))
    if s == 0 or n < 2:
        return z
    for i, nb in enumerate(neighbours):
        w = len(nb)
        local = x[nb[nb >= 0]].sum()
        denom = s * math.sqrt((n * w - w**2) / (n - 1))
        z[i] = (local - mean * w) / denom if denom > 0 else 0.0
    return z


def estimate_dispersion(
    local_a: np.ndarray,
    total_a: np.ndarray,
    local_b: np.ndarray,
    total_b: np.ndarray,
    share: np.ndarray,
) -> float:
    """Over-dispersion of local sums from period to period (``phi >= 1``).

    Under the local null a cell's local sum ``L`` is the part of its window's ``T`` incidents that
    fell in its neighbourhood, which holds a share ``p0`` of the window's cells: binomial
    ``(T, p0)`` for a Poisson process. Incidents also arrive in clumps (one fight, several
    victims; repeats at an address within days), which multiplies the variance by ``phi``:
    ``Var(L) = phi T p0 (1 - p0)``. Places also differ *persistently* in their share, but that
    is the signal a hot spot test looks for, not noise, so ``phi`` is measured between two
    halves of the data (odd and even months) where the persistent part cancels:
    ``d = (L_a / T_a - L_b / T_b) / sqrt(p0 (1 - p0) (1 / T_a + 1 / T_b))`` has variance
    ``phi``.

    Parameters
    ----------
    local_a, total_a, local_b, total_b : array of shape (m,)
        ``L`` and ``T`` (incidents) of each cell in each half.
    share : array of shape (m,)
        ``p0``, the neighbourhood's share of the window's in-area cells.

    Returns
    -------
    float
        ``(median |d| / 0.6745)^2`` over the cells with a binomial variance of at least
        :data:`DISPERSION_MIN_VARIANCE` incidents in both halves (0.6745 is the median of a
        standard normal's absolute value; the median ignores places that changed between the
        halves), at least 1; 1 when fewer than :data:`DISPERSION_MIN_CELLS` cells qualify.

    Notes
    -----
    Measured on police.uk violence and sexual offences: Merseyside January-June 2022, ``phi``
    1.39, while the variance of ``L`` around ``T p0`` across places is 5.6 times binomial (the
    persistent part: odd-month and even-month residuals correlate at 0.76). A null that took
    the whole 5.6 as noise would mark 2 cells of the force as hot; the cells marked with
    ``phi = 1`` were above their surroundings again in the next three months in 94 % of cases.
    """
    share = np.asarray(share, dtype=float)
    ta = np.asarray(total_a, dtype=float)
    tb = np.asarray(total_b, dtype=float)
    v = share * (1 - share)
    ok = (ta * v >= DISPERSION_MIN_VARIANCE) & (tb * v >= DISPERSION_MIN_VARIANCE)
    if ok.sum() < DISPERSION_MIN_CELLS:
        return 1.0
    la = np.asarray(local_a, dtype=float)[ok]
    lb = np.asarray(local_b, dtype=float)[ok]
    ta, tb, v = ta[ok], tb[ok], v[ok]
    d = (la / ta - lb / tb) / np.sqrt(v * (1 / ta + 1 / tb))
    return max(1.0, float((np.median(np.abs(d)) / _HALF_NORMAL_MEDIAN) ** 2))


def _betabinom_tail(
    k: np.ndarray, n: np.ndarray, a: np.ndarray, b: np.ndarray, *, upper: bool
) -> np.ndarray:
    """``P(X >= k)`` (``upper``) or ``P(X <= k)`` for ``X ~ BetaBinomial(n, a, b)``, vectorised.

    Sums the probability mass from ``k`` outwards with the ratio of successive terms, stopping
    once the terms no longer matter (1e-14 of the sum); :func:`scipy.stats.betabinom` sums the
    whole support per value and is a hundred times slower on a grid's worth of cells.
    Intended for the tail beyond the mean, where the terms fall monotonically.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    a = np.broadcast_to(np.asarray(a, dtype=float), k.shape)
    b = np.broadcast_to(np.asarray(b, dtype=float), k.shape)
    out = np.zeros(k.shape)
    inside = (k >= 0) & (k <= n)
    out[k <= 0 if upper else k >= n] = 1.0
    act = np.flatnonzero(inside & ~(out == 1.0))
    if act.size == 0:
        return out
    kk, nn, aa, bb = k[act], n[act], a[act], b[act]
    log_pmf = (
        special.gammaln(nn + 1)
        - special.gammaln(kk + 1)
        - special.gammaln(nn - kk + 1)
        + special.betaln(kk + aa, nn - kk + bb)
        - special.betaln(aa, bb)
    )
    term = np.exp(log_pmf)
    total = term.copy()
    idx = act
    for _ in range(int(n.max()) + 1):
        if upper:
            more = kk < nn
            ratio = np.where(more, (nn - kk) * (kk + aa) / ((kk + 1) * (nn - kk - 1 + bb)), 0.0)
            kk = kk + 1
        else:
            more = kk > 0
            ratio = np.where(more, kk * (nn - kk + bb) / ((nn - kk + 1) * (kk - 1 + aa)), 0.0)
            kk = kk - 1
        term = term * ratio
        total = total + term
        live = more & (term > 1e-14 * total)
        if not live.all():
            out[idx[~live]] = total[~live]
            idx, kk, nn, aa, bb, term, total = (v[live] for v in (idx, kk, nn, aa, bb, term, total))
        if idx.size == 0:
            break
    out[idx] = total
    return np.minimum(out, 1.0)


def _square_offsets(r: int) -> np.ndarray:
    """(k, 2) offsets of the ``(2r + 1)^2`` cells of a square window."""
    d = np.arange(-r, r + 1, dtype=np.int64)
    return np.stack(np.meshgrid(d, d, indexing="ij"), axis=-1).reshape(-1, 2)


#: :func:`_dilate_square` rasterises when the cells' bounding box holds at most this many times
#: the keys a row of shifts makes: a raster cell costs about 20 ns, a key made unique 200-300 ns
#: (measured: 1.1 million cells from 189,000 national ones at r = 2, 0.26 s against 1.37 s).
DENSE_DILATION_RATIO = 16.0
#: Most raster cells :func:`_dilate_square` holds at once (16 MB of bytes).
DILATION_BAND_CELLS = 1 << 24


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of ``keys`` in ``sorted_keys``, -1 where absent."""
    if len(sorted_keys) == 0:
        return np.full(len(keys), -1, dtype=np.intp)
    p = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    return np.where(sorted_keys[p] == keys, p, -1)


def _dilate_square(ij: np.ndarray, r: int) -> np.ndarray:
    """Unique cells of ``ij`` shifted by every offset of the square window of half-width
    ``r``, sorted by key.

    Where the cells are dense enough (their bounding box at most :data:`DENSE_DILATION_RATIO`
    times the shifted keys there would be), by a raster of the box, a band of columns at a
    time, dilated by a running maximum along each axis; otherwise by making the shifted keys
    unique, a row of offsets, then a column.
    """
    if len(ij) == 0:
        return np.empty((0, 2), dtype=np.int64)
    keys = unique_keys(cell_keys(ij))
    cells = cell_ij(keys)
    side = 2 * r + 1
    box = float(np.ptp(cells[:, 0]) + side) * float(np.ptp(cells[:, 1]) + side)
    if box <= DENSE_DILATION_RATIO * len(keys) * side:
        return _dilate_raster(cells, r)
    d = np.arange(-r, r + 1, dtype=np.int64)
    for step in (d * _KEY_SHIFT, d):  # i then j; a shift of j stays within its column here
        keys = unique_keys((keys[:, None] + step[None, :]).ravel())
    return cell_ij(keys)


def _dilate_raster(cells: np.ndarray, r: int) -> np.ndarray:
    """:func:`_dilate_square` of ``cells`` (sorted by key) on rasters of bands of columns ``i``
    (at most :data:`DILATION_BAND_CELLS` cells each); rows ``j`` of a band span its cells."""
    from scipy.ndimage import maximum_filter1d

    side = 2 * r + 1
    i = cells[:, 0]
    i_lo, i_hi = int(i.min()) - r, int(i.max()) + r + 1
    j_span = int(np.ptp(cells[:, 1])) + side
    width = max(1, DILATION_BAND_CELLS // j_span)
    out = []
    for b0 in range(i_lo, i_hi, width):
        b1 = min(b0 + width, i_hi)
        lo, hi = np.searchsorted(i, [b0 - r, b1 + r])  # the cells that reach the band
        if lo == hi:
            continue
        part = cells[lo:hi]
        j0 = int(part[:, 1].min()) - r
        ras = np.zeros((b1 - b0 + 2 * r, int(part[:, 1].max()) + r + 1 - j0), dtype=np.uint8)
        ras[part[:, 0] - (b0 - r), part[:, 1] - j0] = 1
        for axis in (0, 1):
            if r <= SHIFT_DILATION_CELLS:
                ras = _spread(ras, r, axis)
            else:
                ras = maximum_filter1d(ras, side, axis=axis, mode="constant")
        bi, bj = np.nonzero(ras[r : r + b1 - b0])  # row-major: sorted by (i, j), as the keys
        out.append(np.column_stack([bi.astype(np.int64) + b0, bj.astype(np.int64) + j0]))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


#: :meth:`GiStarGrid.shifted_positions` reads positions from a raster of the computed cells'
#: bounding box (4 bytes a cell, one read per cell and offset) when the box holds at most this
#: many cells per computed cell, and otherwise searches the sorted keys (about 20 reads each).
#: National grid: 12.6 million raster cells for 1.1 million computed ones (50 MB); the ring
#: layout's lookups took 0.38 CPU s by search.
POSITION_RASTER_RATIO = 32

#: Rows of (cells, columns) arrays :meth:`GiStarGrid.gi_z_columns` works on at once: a block's
#: temporaries stay in the cache (no temporary as large as the whole array).
GI_Z_ROW_BLOCK = 1 << 13

#: Widest window half-width, in cells, :func:`_dilate_raster` spreads by shifted copies; a wider
#: one goes through scipy's running maximum, whose cost does not grow with the window (a band of
#: 16.7 million cells: 0.02 s by shifts at r = 2 or 3 against 0.3 s).
SHIFT_DILATION_CELLS = 8


def _spread(ras: np.ndarray, r: int, axis: int) -> np.ndarray:
    """``maximum_filter1d(ras, 2 r + 1, axis=axis, mode="constant")`` of a 0/1 raster, by
    or-ing it with its copies shifted 1 to ``r`` cells each way along ``axis``."""
    out = ras.copy()
    for d in range(1, r + 1):
        if axis == 0:
            out[d:] |= ras[:-d]
            out[:-d] |= ras[d:]
        else:
            out[:, d:] |= ras[:, :-d]
            out[:, :-d] |= ras[:, d:]
    return out


def window_radius(cell_size: float, neighbour_distance: float, baseline_distance: float) -> int:
    """Half-width, in cells, of the square baseline window around each cell.

    Parameters
    ----------
    cell_size, neighbour_distance, baseline_distance : float
        Metres, as :class:`GiStarGrid`.

    Returns
    -------
    int
        ``floor(baseline_distance / cell_size)``: the window is ``2 r + 1`` cells a side.

    Raises
    ------
    ParameterError
        The window does not reach at least one cell beyond the neighbourhood.
    """
    cell = float(cell_size)
    reach = int(np.abs(neighbour_offsets(cell, neighbour_distance)).max())
    r_b = int(math.floor(baseline_distance / cell + 1e-9))
    if r_b <= reach:
        msg = (
            f"baseline_distance must reach at least one cell beyond the neighbourhood: "
            f"{(reach + 1) * cell:g} m or more for {cell:g} m cells and a "
            f"{neighbour_distance:g} m neighbour distance, got {baseline_distance:g} m."
        )
        raise ParameterError(msg)
    return r_b


def occupied_cells(xy: np.ndarray, cell_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid cells holding incidents.

    Parameters
    ----------
    xy : array of shape (N, 2)
        Incident coordinates, metres in the analysis CRS.
    cell_size : float
        Cell side in metres; cell ``(i, j)`` covers ``[i c, (i+1) c) x [j c, (j+1) c)``.

    Returns
    -------
    cells : int array of shape (m, 2)
        The occupied cells, sorted by key (:func:`hotspots.grid.cell_keys`).
    keys : int64 array of shape (m,)
        Their keys, increasing.
    inverse : int array of shape (N,)
        Each incident's position in ``cells``.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    ij = np.floor(xy / float(cell_size)).astype(np.int64)
    keys, inverse = unique_keys(cell_keys(ij), return_inverse=True)
    return cell_ij(keys), keys, inverse


#: Side of the blocks of cells :func:`centres_within` settles at once, in cells (a prepared
#: test of a block costs a few point tests: national cells, 16 did best of 8, 16, 32 and two
#: or three levels of them).
CENTRE_BLOCK_CELLS = 16


def centres_within(geom: BaseGeometry, ij: np.ndarray, cell_size: float) -> np.ndarray:
    """Whether each cell's centre lies in the interior of ``geom``, a block of cells at a time.

    Parameters
    ----------
    geom : shapely geometry
        Polygon(s), metres in the analysis CRS; prepared (:func:`shapely.prepare`) by the
        caller, who owns it.
    ij : int array of shape (m, 2)
        Cells; cell ``(i, j)`` has its centre at ``((i + 0.5) c, (j + 0.5) c)``.
    cell_size : float
        Cell side ``c`` in metres.

    Returns
    -------
    bool array of shape (m,)
        :func:`shapely.contains_xy` of the centres.

    Notes
    -----
    The cells are grouped in blocks of :data:`CENTRE_BLOCK_CELLS` cells a side. A block that
    ``geom`` contains holds only centres in its interior (a point inside the block's interior,
    with a neighbourhood in the block, cannot be on the boundary of a geometry covering the
    block), and a block that does not meet ``geom`` holds none; only the centres of the other
    blocks, along the boundary, are tested one by one. The answers are
    :func:`shapely.contains_xy`'s, to the point (1.1 million national cells: about half the
    time of testing each centre).
    """
    ij = np.asarray(ij, dtype=np.int64).reshape(-1, 2)
    if len(ij) == 0:
        return np.zeros(0, dtype=bool)
    b, c = CENTRE_BLOCK_CELLS, float(cell_size)
    keys, block_of = unique_keys(cell_keys(ij // b), return_inverse=True)
    block_of = block_of.ravel()
    bij = cell_ij(keys)
    blocks = shapely.box(bij[:, 0] * b * c, bij[:, 1] * b * c,
                         (bij[:, 0] + 1) * b * c, (bij[:, 1] + 1) * b * c)  # fmt: skip
    full = shapely.contains(geom, blocks)
    edge = np.flatnonzero((shapely.intersects(geom, blocks) & ~full)[block_of])
    out = full[block_of]
    out[edge] = shapely.contains_xy(geom, (ij[edge, 0] + 0.5) * c, (ij[edge, 1] + 0.5) * c)
    return out


#: Half-width of the band along the study area's edge whose cells :class:`StudyAreaCells` overlays
#: on the polygons, in cells: half a cell's diagonal (every point of a cell lies within it of the
#: centre) and 2 % for the buffers' chords (GEOS draws arcs with 8 chords a quarter circle, at
#: most 0.5 % inside the circle). Beyond it a cell is wholly inside or outside, which is what
#: its overlay would say. It was one cell; the narrower band overlays 30 % fewer cells.
BAND_CELLS = math.sqrt(0.5) * 1.02

#: Side of the tiles the study area's polygons are clipped to before boundary cells are
#: overlaid on them, in cells (:meth:`StudyAreaCells.fractions`).
OVERLAY_TILE_CELLS = 32


class StudyAreaCells:
    """The study area as the grid sees it: which cells it covers and by how much.

    Parameters
    ----------
    study_area : shapely geometry or None
        The study area polygon(s), metres in the analysis CRS; None, empty or zero-area means
        "every cell is in the area".
    cell_size : float
        Cell side in metres.
    radius : int
        Half-width of the baseline window in cells (:func:`window_radius`).

    Notes
    -----
    A cell's share of the area is the summed area of its intersections with the study area's
    polygons (one at a time, each found through an STR-tree), which equals its intersection
    with the whole study area without overlaying every box on a national outline of thousands
    of parts. Cells whose whole window lies inside the study area (their centre inside the study
    area shrunk by the window's half-diagonal and a cell) are inside without any overlay. The
    answers depend on the cell and the study area only, so a grid built by tiles
    (:func:`hotspots.engine.tiled_gistar_grid`) has the shares of a grid built at once. The
    prepared geometries and the STR-tree are made per thread, where they are used, and do not
    pickle.
    """

    def __init__(self, study_area: BaseGeometry | None, cell_size: float, radius: int) -> None:
        area: BaseGeometry = shapely.Polygon() if study_area is None else study_area
        self.study_area = area
        self.cell_size = float(cell_size)
        self.radius = int(radius)
        self.whole = area.is_empty or area.area <= 0
        self.inner = (
            None if self.whole else area.buffer(-(self.radius + 1) * self.cell_size * math.sqrt(2))
        )
        self._own = threading.local()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_own"]  # each thread's prepared copies stay where they were made
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._own = threading.local()

    def _prepared(self) -> tuple[BaseGeometry | None, np.ndarray, STRtree]:
        """This thread's prepared copies: the shrunk study area, the study area's polygons and
        their STR-tree (GEOS's prepared geometries must not be shared between threads, and the
        tiles of a worker may run in threads over one object)."""
        own = self._own
        if not hasattr(own, "tree"):
            parts = shapely.get_parts(shapely.from_wkb(shapely.to_wkb(self.study_area)))
            parts = parts[shapely.area(parts) > 0]
            shapely.prepare(parts)
            own.inner, own.parts, own.tree = self._own_copy(self.inner), parts, STRtree(parts)
        return own.inner, own.parts, own.tree

    def _bands(self) -> tuple[BaseGeometry | None, BaseGeometry]:
        """This thread's prepared study area shrunk and grown by :data:`BAND_CELLS` cells: a
        cell whose centre lies in the first is wholly inside the study area, one whose centre
        lies outside the second wholly outside."""
        own = self._own
        if not hasattr(own, "outer"):
            d = BAND_CELLS * self.cell_size
            own.core = self._own_copy(self.study_area.buffer(-d))
            own.outer = self._own_copy(self.study_area.buffer(d))
        return own.core, own.outer

    @staticmethod
    def _own_copy(geom: BaseGeometry | None) -> BaseGeometry | None:
        """A prepared copy of ``geom`` (None when empty)."""
        if geom is None or geom.is_empty:
            return None
        copy = shapely.from_wkb(shapely.to_wkb(geom))
        shapely.prepare(copy)
        return copy

    def interior(self, ij: np.ndarray) -> np.ndarray:
        """Whether each cell's whole baseline window lies inside the study area (bool (m,))."""
        if self.whole:
            return np.ones(len(ij), dtype=bool)
        inner = self._prepared()[0]
        if inner is None:
            return np.zeros(len(ij), dtype=bool)
        return centres_within(inner, ij, self.cell_size)

    def fractions(self, ij: np.ndarray) -> np.ndarray:
        """Share of each cell's area inside the study area (0 to 1).

        Cells well inside or well outside (their centre in the study area shrunk by a cell, or
        outside it grown by a cell) are 1 or 0 at once; only the cells along the boundary are
        overlaid on the polygons, each on the polygons clipped to its tile of
        :data:`OVERLAY_TILE_CELLS` cells a side (a few vertices each, where a national outline's
        coast has thousands).
        """
        if self.whole:
            return np.ones(len(ij))
        c = self.cell_size
        core, outer = self._bands()
        inside = centres_within(core, ij, c) if core is not None else np.zeros(len(ij), bool)
        near = np.flatnonzero(~inside)  # a cell inside is 1 whatever the outer band says
        if outer is not None:
            near = near[centres_within(outer, ij[near], c)]
        out = inside.astype(float)
        out[near] = self._overlay(ij[near])
        return out

    def _overlay(self, ij: np.ndarray) -> np.ndarray:
        """Each cell's share by overlaying its box on the study area's polygons clipped to the
        cell's tile (a box lies in one tile, so its overlap with a clipped polygon is its
        overlap with the polygon)."""
        if len(ij) == 0:
            return np.zeros(0)
        c, t = self.cell_size, OVERLAY_TILE_CELLS
        tile_keys, tile_of = unique_keys(cell_keys(ij // t), return_inverse=True)
        tij = cell_ij(tile_keys)
        tiles = shapely.box(tij[:, 0] * t * c, tij[:, 1] * t * c,
                            (tij[:, 0] + 1) * t * c, (tij[:, 1] + 1) * t * c)  # fmt: skip
        _, parts, tree = self._prepared()
        ti, pj = tree.query(tiles, predicate="intersects")
        pieces = shapely.intersection(parts[pj], tiles[ti])
        boxes = shapely.box(ij[:, 0] * c, ij[:, 1] * c, (ij[:, 0] + 1) * c, (ij[:, 1] + 1) * c)
        bi, qk = STRtree(pieces).query(boxes, predicate="intersects")
        own = ti[qk] == tile_of.ravel()[bi]  # not the pieces of a tile it only touches
        bi, qk = bi[own], qk[own]
        order = np.lexsort((pj[qk], bi))  # a fixed order of the additions below
        bi, qk = bi[order], qk[order]
        out = np.zeros(len(ij))
        i, j = ij[bi, 0], ij[bi, 1]
        areas = box_overlaps(pieces, qk, (i * c, j * c, (i + 1) * c, (j + 1) * c))
        # GEOS is asked whether a piece holds the whole box only where the overlap is the box's
        # area to round-off (each area is exact to 1e-12 of the box's): a quarter of the pairs
        full = np.flatnonzero(areas >= c**2 * (1.0 - 1e-9))
        out[bi[full[shapely.contains(pieces[qk[full]], boxes[bi[full]])]]] = 1.0
        cut = out[bi] < 1.0
        if cut.any():
            out += np.bincount(bi[cut], weights=areas[cut], minlength=len(ij)) / c**2
        return np.clip(out, 0.0, 1.0)


#: Most (pair, edge) combinations :func:`box_overlaps` holds at once.
OVERLAP_BLOCK = 1 << 20


def box_overlaps(
    polygons: np.ndarray,
    which: np.ndarray,
    boxes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """Area of each polygon's overlap with an axis-aligned box, for many (polygon, box) pairs.

    Parameters
    ----------
    polygons : array of shapely geometries
        Polygons or multipolygons (other parts, such as the lines an overlay may leave, add
        nothing), metres.
    which : int array of shape (k,)
        The polygon of each pair.
    boxes : (xmin, ymin, xmax, ymax), arrays of shape (k,)
        The box of each pair, metres.

    Returns
    -------
    ndarray of shape (k,)
        Square metres: the area of ``polygons[which[p]]`` inside box ``p``.

    Notes
    -----
    Green's theorem on the vertical strips of each box: the overlap's area is, over every edge
    of the polygon's rings, minus the integral along the edge of its height above the box's
    floor, clamped to the box's height, over the part of the edge within the box's columns
    (each ring's sign fixed so that shells add and holes subtract, whatever their direction).
    Each term is a closed form over at most three pieces of the edge (below the floor, across
    the box, above its top), so no polygon is built: the same areas as GEOS's overlay to
    round-off (1e-12 of the box's area), about five times faster on the national study area's
    edge cells.
    """
    which = np.asarray(which, dtype=np.intp)
    out = np.zeros(len(which))
    if len(which) == 0:
        return out
    x0, y0, x1, y1 = (np.asarray(v, dtype=float) for v in boxes)
    parts, part_of = shapely.get_parts(polygons, return_index=True)
    inner, inner_of = shapely.get_parts(parts, return_index=True)  # a collection's multipolygons
    parts, part_of = inner, part_of[inner_of]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    if len(xy) == 0:
        return out
    edge = np.flatnonzero(ring_of[1:] == ring_of[:-1])  # edge from vertex e to e + 1
    e_ring = ring_of[edge]
    # each ring's orientation (shoelace about its first vertex), and shell or hole
    first = np.searchsorted(ring_of, np.arange(len(rings)))
    ox, oy = xy[first[e_ring], 0], xy[first[e_ring], 1]
    twice = (xy[edge, 0] - ox) * (xy[edge + 1, 1] - oy) - (xy[edge + 1, 0] - ox) * (
        xy[edge, 1] - oy
    )
    shell = np.r_[True, ring_part[1:] != ring_part[:-1]]
    sign = np.sign(np.bincount(e_ring, weights=twice, minlength=len(rings)))
    sign = np.where(shell, sign, -sign)[e_ring]
    e_poly = part_of[ring_part[e_ring]]  # edges in polygon order
    start = np.searchsorted(e_poly, np.arange(len(polygons)))
    count = np.searchsorted(e_poly, np.arange(len(polygons)), side="right") - start
    per_pair = count[which]
    ends = np.cumsum(per_pair)
    s = 0
    while s < len(which):
        e = max(s + 1, int(np.searchsorted(ends, ends[s] - per_pair[s] + OVERLAP_BLOCK, "right")))
        n = per_pair[s:e]
        pair = np.repeat(np.arange(s, e), n)
        k = start[which[pair]] + np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        xa, ya = xy[edge[k], 0], xy[edge[k], 1]
        xb, yb = xy[edge[k] + 1, 0], xy[edge[k] + 1, 1]
        lo = np.maximum(np.minimum(xa, xb), x0[pair])
        hi = np.minimum(np.maximum(xa, xb), x1[pair])
        live = (hi > lo) & (np.maximum(ya, yb) > y0[pair])
        pair, k, xa, ya, xb, yb, lo, hi = (v[live] for v in (pair, k, xa, ya, xb, yb, lo, hi))
        slope = (yb - ya) / (xb - xa)
        floor, h = y0[pair], y1[pair] - y0[pair]
        g_lo = (ya - floor) + (lo - xa) * slope  # height above the floor at each end
        d = (hi - lo) * slope
        with np.errstate(divide="ignore", invalid="ignore"):
            t0 = np.clip(-g_lo / d, 0.0, 1.0)  # where the edge crosses the floor, and the top
            t1 = np.clip((h - g_lo) / d, 0.0, 1.0)
        ta, tb = np.minimum(t0, t1), np.maximum(t0, t1)
        across = (tb - ta) * 0.5 * (np.clip(g_lo + ta * d, 0.0, h) + np.clip(g_lo + tb * d, 0.0, h))
        above = np.where(d > 0, 1.0 - t1, t1) * h
        mean = np.where(d == 0, np.clip(g_lo, 0.0, h), across + above)
        term = (hi - lo) * mean * np.where(xb > xa, -1.0, 1.0) * sign[k]
        out[s:e] = np.bincount(pair - s, weights=term, minlength=e - s)
        s = e
    return out


def _mean_and_s(values: np.ndarray, n: int) -> tuple[float, float]:
    """Gi*'s mean ``X`` and ``S`` of ``values`` over ``n`` in-area cells (the cells not given
    hold 0), as Python floats."""
    mean = float(values.sum()) / n
    return mean, math.sqrt(max(float((values**2).sum()) / n - mean**2, 0.0))


class GridPart(NamedTuple):
    """The in-area cells one tile of a :class:`GiStarGrid` owns (see :func:`grid_part`)."""

    #: Keys (:func:`hotspots.grid.cell_keys`) of the in-area cells the tile owns, increasing.
    keys: np.ndarray
    #: Share of each cell inside the study area.
    fraction: np.ndarray
    #: In-area cells (by share) of each cell's neighbourhood and of its window.
    n_neighbours: np.ndarray
    n_window: np.ndarray
    #: Keys of the occupied cells the tile was given (its own and its halo's), increasing.
    occupied_keys: np.ndarray
    #: (k, n occupied) position in ``keys`` of each occupied cell shifted by each neighbourhood
    #: (window) offset; -1 where that cell is not the tile's or not in the area.
    nbr_targets: np.ndarray
    win_targets: np.ndarray


def grid_part(
    occupied_keys: np.ndarray,
    area: StudyAreaCells,
    *,
    neighbour_distance: float,
    box: tuple[int, int, int, int] | None = None,
) -> GridPart:
    """The cells of a :class:`GiStarGrid` inside one box of cells.

    Parameters
    ----------
    occupied_keys : int64 array
        Keys of the occupied cells within the window's reach (``area.radius`` cells) of the
        box: every occupied cell that can put a cell of the box in the grid or add to its sums.
    area : StudyAreaCells
        The study area, cell size and window.
    neighbour_distance : float
        Metres, as :class:`GiStarGrid`.
    box : (i0, j0, i1, j1), optional
        The cells ``i0 <= i < i1``, ``j0 <= j < j1`` (default: every cell).

    Returns
    -------
    GridPart
        The computed in-area cells of the box with their shares, neighbourhood and window
        sizes, and where each given occupied cell's value lands among them. Every number is
        what the grid of all incidents has for those cells.
    """
    cell = area.cell_size
    nbr = neighbour_offsets(cell, neighbour_distance).astype(np.int64)
    win = _square_offsets(area.radius)
    occ_keys = unique_keys(np.asarray(occupied_keys, dtype=np.int64))
    every = _dilate_square(cell_ij(occ_keys), area.radius)
    every_keys = cell_keys(every)
    kept = np.arange(len(every))
    if box is not None:
        i0, j0, i1, j1 = box
        i, j = every[:, 0], every[:, 1]
        kept = np.flatnonzero((i >= i0) & (i < i1) & (j >= j0) & (j < j1))
    cand, cand_keys = every[kept], every_keys[kept]
    frac = np.ones(len(cand))
    n_nb = np.full(len(cand), float(len(nbr)))
    n_win = np.full(len(cand), float(len(win)))
    edge = np.flatnonzero(~area.interior(cand))
    if len(edge):
        # the windows of the cells near the edge: every share those cells need, computed once
        ring = _dilate_square(cand[edge], area.radius)
        ring_keys = cell_keys(ring)
        edge_keys = cand_keys[edge]
        ring_frac = area.fractions(ring)
        # a cell holding an incident is in the area, however little of it the polygon covers
        hit = _lookup(ring_keys, occ_keys)
        hit = hit[hit >= 0]
        ring_frac[hit] = np.maximum(ring_frac[hit], MIN_CELL_FRACTION)
        frac[edge] = ring_frac[_lookup(ring_keys, edge_keys)]
        for offs, out in ((nbr, n_nb), (win, n_win)):
            acc = np.zeros(len(edge))
            for pos in _window_positions(ring_keys, edge_keys, offs):
                acc += ring_frac[pos]
            out[edge] = acc
    in_area = frac > 0
    keys = cand_keys[in_area]
    # each cell of the dilation -> its position in keys (-1: outside the box or the area)
    where = np.full(len(every), -1, dtype=np.intp)
    where[kept[in_area]] = np.arange(len(keys))
    targets = [
        np.stack([where[pos] for pos in _window_positions(every_keys, occ_keys, offs)])
        if len(occ_keys)
        else np.full((len(offs), 0), -1, dtype=np.intp)
        for offs in (nbr, win)
    ]
    return GridPart(keys, frac[in_area], n_nb[in_area], n_win[in_area], occ_keys, *targets)


def _window_positions(dilated_keys: np.ndarray, keys: np.ndarray, offsets: np.ndarray) -> list:
    """Positions in ``dilated_keys`` of ``keys`` shifted by each offset, in offset order.

    ``dilated_keys`` are the keys, increasing, of every cell within the square window
    (:func:`_dilate_square`) of the cells ``keys``, a window that holds every offset. Each
    shifted cell is then among them, and so are the ``2 r + 1`` cells of its column around its
    cell: shifted by ``(di, dj)``, a cell lies ``dj`` places after the cell shifted by
    ``(di, 0)``. One search per column of offsets finds them all, where a search per offset
    (:func:`_lookup`) gave the same positions.
    """
    cols = {}
    out = []
    for di, dj in np.asarray(offsets, dtype=np.int64):
        if di not in cols:
            cols[di] = np.searchsorted(dilated_keys, keys + int(di) * _KEY_SHIFT)
        out.append(cols[di] + int(dj))
    return out


def gistar_grid(
    xy: np.ndarray,
    study_area: BaseGeometry,
    *,
    cell_size: float,
    neighbour_distance: float,
    baseline_distance: float,
) -> GiStarGrid:
    """A :class:`GiStarGrid` built on the engine of the calling context.

    The local engine builds it here; a Dask engine (:func:`hotspots.engine.use`) builds it by
    spatial tiles on its workers (:func:`hotspots.engine.tiled_gistar_grid`), with the same
    cells, shares and neighbour lists.

    Parameters
    ----------
    xy, study_area, cell_size, neighbour_distance, baseline_distance
        As :class:`GiStarGrid`.

    Returns
    -------
    GiStarGrid
    """
    from hotspots.engine import current_engine  # the engine imports this module

    running = current_engine()
    spec = {
        "cell_size": cell_size,
        "neighbour_distance": neighbour_distance,
        "baseline_distance": baseline_distance,
    }
    if running is None:
        return GiStarGrid(xy, study_area, **spec)
    return running.gistar_grid(xy, study_area, **spec)


class GiStarTest(NamedTuple):
    """One Gi* test of every computed cell of a :class:`GiStarGrid` (arrays in cell order)."""

    #: Local sum ``L`` of the in-area neighbourhood (incidents, or weights).
    local: np.ndarray
    #: ``L`` expected under the null.
    expected: np.ndarray
    #: ``(L - expected) / sd`` under the null (the classic Gi* z for the global nulls).
    z: np.ndarray
    #: The classic Gi* z-score against the study area's mean (Ord & Getis 1995).
    gi_z: np.ndarray
    #: One-sided p-value in the direction of ``L - expected`` (upper tail when equal).
    p_value: np.ndarray
    #: Benjamini-Hochberg q-value within that direction's family (hot or cold).
    q_value: np.ndarray
    #: +1 above expectation, -1 below, 0 equal.
    direction: np.ndarray
    #: Over-dispersion ``phi`` used by the local null (1 for the others).
    dispersion: float


class GiStarGrid:
    """The in-area cells of a sparse square grid, with their neighbourhoods and baseline windows.

    Parameters
    ----------
    xy : array of shape (N, 2)
        Incident coordinates, metres in the analysis CRS.
    study_area : shapely geometry
        The study area polygon(s); empty or zero-area means "every cell is in the area".
    cell_size : float
        Cell side in metres; cell ``(i, j)`` covers ``[i c, (i+1) c) x [j c, (j+1) c)``.
    neighbour_distance : float
        Cells whose centres are within this distance (metres) of a cell's centre form its
        neighbourhood, itself included.
    baseline_distance : float
        Half-width in metres of the square window around each cell whose cells outside the
        neighbourhood form its baseline ring; must reach at least one cell beyond the
        neighbourhood.

    Attributes
    ----------
    cells : int array of shape (m, 2)
        The computed cells: every in-area cell (one that meets the study area, or holds an
        incident) within the baseline window of an incident's cell, sorted by key. All other
        in-area cells have nothing in their windows.
    n_cells : int
        In-area cells of the whole study area (``n`` of Gi*, size of each FDR family): the
        cells meeting the polygon, counted as ``area / c^2 + perimeter / (2 c)`` (their expected
        number for a grid laid at random), and at least the computed cells.
    fraction : array of shape (m,)
        Share of each cell's area inside the study area (1 away from its edge; at least 0.01
        for a cell holding an incident).
    n_neighbours, n_window : arrays of shape (m,)
        In-area cells in each cell's neighbourhood (``W``) and in its whole window (``A``),
        each counted by its area share, so a window cut by the edge expects fewer incidents.
    occupied : int array
        Positions in ``cells`` of the cells holding incidents, in increasing order.
    point_occupied : int array of shape (N,)
        Index into ``occupied`` of each incident's cell.
    point_cell : int array of shape (N,)
        Position in ``cells`` of each incident's cell (``occupied[point_occupied]``).
    """

    def __init__(
        self,
        xy: np.ndarray,
        study_area: BaseGeometry,
        *,
        cell_size: float,
        neighbour_distance: float,
        baseline_distance: float,
    ) -> None:
        radius = window_radius(cell_size, neighbour_distance, baseline_distance)
        _, occ_keys, inverse = occupied_cells(xy, cell_size)
        area = StudyAreaCells(study_area, cell_size, radius)
        part = grid_part(occ_keys, area, neighbour_distance=neighbour_distance)
        self._assemble([part], occ_keys, inverse, area, neighbour_distance)

    @classmethod
    def from_parts(
        cls,
        parts: list[GridPart],
        occupied_keys: np.ndarray,
        point_occupied: np.ndarray,
        area: StudyAreaCells,
        *,
        neighbour_distance: float,
    ) -> GiStarGrid:
        """The grid of all incidents from tiles that each own a box of cells.

        Parameters
        ----------
        parts : list of GridPart
            :func:`grid_part` of boxes that share no cell and together hold every computed
            cell, each given the occupied cells within the window's reach of its box.
        occupied_keys : int64 array
            Keys of all occupied cells, increasing (:func:`occupied_cells`).
        point_occupied : int array of shape (N,)
            Each incident's position in ``occupied_keys``.
        area : StudyAreaCells
            The study area, cell size and window the parts were built with.
        neighbour_distance : float
            Metres, as the parts.

        Returns
        -------
        GiStarGrid
            The grid :class:`GiStarGrid` builds from the incidents at once: the same cells,
            shares, neighbourhood and window sizes, and neighbour lists, in the same order, so
            every sum and test on it is the same to the last bit.
        """
        grid = cls.__new__(cls)
        grid._assemble(list(parts), occupied_keys, point_occupied, area, neighbour_distance)
        return grid

    def _assemble(
        self,
        parts: list[GridPart],
        occ_keys: np.ndarray,
        inverse: np.ndarray,
        area: StudyAreaCells,
        neighbour_distance: float,
    ) -> None:
        cell = area.cell_size
        self.cell_size = cell
        self.nbr_offsets = neighbour_offsets(cell, neighbour_distance).astype(np.int64)
        self.window_offsets = _square_offsets(area.radius)
        occ_keys = np.asarray(occ_keys, dtype=np.int64)
        one = len(parts) == 1 and np.array_equal(parts[0].occupied_keys, occ_keys)
        if one:
            keys = parts[0].keys
            nbr_t, win_t = parts[0].nbr_targets, parts[0].win_targets
            pos = np.arange(len(keys))
        else:
            keys = np.concatenate([p.keys for p in parts]) if parts else np.zeros(0, np.int64)
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            pos = np.empty(len(keys), dtype=np.intp)  # concatenated -> sorted position
            pos[order] = np.arange(len(keys))
            nbr_t = np.full((len(self.nbr_offsets), len(occ_keys)), -1, dtype=np.intp)
            win_t = np.full((len(self.window_offsets), len(occ_keys)), -1, dtype=np.intp)
            start = 0
            for p in parts:
                here = pos[start : start + len(p.keys)]
                occ = _lookup(occ_keys, p.occupied_keys)
                for glob, loc in ((nbr_t, p.nbr_targets), (win_t, p.win_targets)):
                    rows, cols = np.nonzero(loc >= 0)
                    glob[rows, occ[cols]] = here[loc[rows, cols]]
                start += len(p.keys)

        def joined(name: str) -> np.ndarray:
            if one:
                return getattr(parts[0], name)
            out = np.empty(len(keys))
            if parts:
                out[pos] = np.concatenate([getattr(p, name) for p in parts])
            return out

        self.cells = cell_ij(keys)
        self.keys = keys
        self.fraction = joined("fraction")
        self.n_neighbours = joined("n_neighbours")
        self.n_window = joined("n_window")
        study_area = area.study_area
        #: the study area in cells (area / c^2): the exposure of the study area's mean rate
        self.area_cells = float(len(keys)) if area.whole else study_area.area / cell**2
        if area.whole:
            self.n_cells = len(keys)
        else:
            # cells meeting the polygon: area / c^2 + perimeter / (2 c) for a square grid laid
            # at random over it (exact in expectation for an axis-aligned rectangle)
            meet = study_area.area / cell**2 + study_area.length / (2 * cell)
            self.n_cells = max(int(round(meet)), len(keys))
        self.occupied = _lookup(keys, occ_keys)
        self.point_occupied = np.asarray(inverse, dtype=np.intp).ravel()
        self.point_cell = self.occupied[self.point_occupied]
        # where each occupied cell's value lands, per offset (-1: outside the area)
        self._nbr_targets = nbr_t
        self._win_targets = win_t

    def __len__(self) -> int:
        return len(self.cells)

    def boxes(self) -> np.ndarray:
        """The computed cells as shapely boxes (metres, analysis CRS)."""
        return cell_boxes(self.cells, self.cell_size)

    def centres(self) -> np.ndarray:
        """(m, 2) cell centres in metres."""
        return (self.cells + 0.5) * self.cell_size

    def shifted_positions(self, offsets: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
        """Where each computed cell shifted by each offset lies among the computed cells.

        Parameters
        ----------
        offsets : int array of shape (k, 2)
            Shifts in cells ``(di, dj)``.
        cells : int array of shape (n,), optional
            Positions in :attr:`cells` of the cells to shift (default: every computed cell).

        Returns
        -------
        intp array of shape (k, n)
            Row ``o``: the position in :attr:`cells` of every given cell shifted by
            ``offsets[o]``, -1 where that cell is not a computed cell.
        """
        offs = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        sel = slice(None) if cells is None else np.asarray(cells, dtype=np.intp)
        keys = self.keys[sel]
        out = np.empty((len(offs), len(keys)), dtype=np.intp)
        raster = self._position_raster(int(np.abs(offs).max())) if out.size else None
        if raster is None:  # a binary search of the keys per offset
            for o, shift in enumerate(cell_keys(offs)):
                out[o] = _lookup(self.keys, keys + shift)
            return out
        table, width, flat = raster
        at = flat[sel]
        for o, (di, dj) in enumerate(offs.tolist()):
            out[o] = table[at + (di * width + dj)]
        return out

    def _position_raster(self, pad: int) -> tuple[np.ndarray, int, np.ndarray] | None:
        """Every computed cell's position in a raster of the cells' bounding box grown by
        ``pad`` cells each way (-1 elsewhere), flattened; the raster's width; and each cell's
        index in it (a cell shifted by ``(di, dj)`` is ``di * width + dj`` further on). None
        when the raster would hold more than :data:`POSITION_RASTER_RATIO` cells per computed
        cell."""
        m = len(self.cells)
        if m == 0:
            return None
        i, j = self.cells[:, 0], self.cells[:, 1]
        i0, j0 = int(i.min()) - pad, int(j.min()) - pad
        height, width = int(i.max()) + pad + 1 - i0, int(j.max()) + pad + 1 - j0
        if height * width > POSITION_RASTER_RATIO * m:
            return None
        flat = (i - i0) * width + (j - j0)
        table = np.full(height * width, -1, dtype=np.int32 if m < 2**31 else np.intp)
        table[flat] = np.arange(m)
        return table, width, flat

    def _scatter(self, targets: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(self.cells), *values.shape[1:]))
        for tgt in targets:
            hit = tgt >= 0
            out[tgt[hit]] += values[hit]
        return out

    def split_dispersion(self, half: np.ndarray) -> float:
        """``phi`` of the local null between two halves of the incidents.

        Parameters
        ----------
        half : int array of shape (N,)
            0 or 1 for each incident (e.g. even or odd month), any other value to leave it out.

        Returns
        -------
        float
            :func:`estimate_dispersion` of the two halves' local and window sums.
        """
        half = np.asarray(half)
        n_occ = len(self.occupied)
        a, b = (
            np.bincount(self.point_occupied[half == h], minlength=n_occ).astype(float)
            for h in (0, 1)
        )
        return estimate_dispersion(
            self.local_sums(a),
            self.window_sums(a),
            self.local_sums(b),
            self.window_sums(b),
            self.n_neighbours / self.n_window,
        )

    def local_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (one per occupied cell, in ``occupied`` order; 1-D or 2-D) over each
        computed cell's in-area neighbourhood."""
        return self._scatter(self._nbr_targets, np.asarray(values, dtype=float))

    def window_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over each computed cell's in-area baseline window."""
        return self._scatter(self._win_targets, np.asarray(values, dtype=float))

    def test(
        self,
        values: np.ndarray,
        *,
        null: str = DEFAULT_NULL,
        squares: np.ndarray | None = None,
        dispersion: float = 1.0,
    ) -> GiStarTest:
        """Gi* of every computed cell, with one-sided p-values and hot and cold FDR families.

        Parameters
        ----------
        values : array of shape (n_occupied,)
            Incidents (or summed weights) of each occupied cell, in ``occupied`` order.
        null : {"local", "poisson", "negative-binomial", "normal"}, default "local"
            ``"local"``: ``L`` against the ``T`` incidents of the cell's window, binomial
            ``(T, W / A)``, or with ``dispersion > 1`` the beta-binomial whose variance is
            ``dispersion`` times that (with ``squares``, its normal approximation). ``"poisson"``:
            exact Poisson with mean ``X W`` (complete spatial randomness at the study area's mean
            intensity). ``"negative-binomial"``: the discrete distribution with the randomisation
            mean ``X W`` and variance ``S^2 (n W - W^2) / (n - 1)``. ``"normal"``: the classic Gi*
            z-score on the normal curve (ArcGIS, spdep).
        squares : array of shape (n_occupied,), optional
            Sums of squared weights of each occupied cell, for weighted values (harm): the
            local null then uses ``Var(L) = p0 (1 - p0) sum w^2`` (each incident of the window
            falls in the neighbourhood with probability ``p0``), the global nulls the normal
            curve.
        dispersion : float, default 1
            ``phi >= 1`` of the local null (:func:`estimate_dispersion`); ignored by the others.

        Returns
        -------
        GiStarTest
            Per computed cell. Each family (hot: ``direction > 0``; cold: ``direction < 0``)
            holds all ``n_cells`` in-area cells; cells on the other side and the cells not
            computed enter it with a p-value of one (for the global nulls the cold family gives
            the uncomputed cells, whose local sum is zero, their lower-tail p-value).
        """
        if null not in NULLS:
            msg = f"null must be one of {NULLS}, got {null!r}."
            raise ParameterError(msg)
        vals = np.asarray(values, dtype=float)
        local = self.local_sums(vals)
        w = self.n_neighbours.astype(float)
        n = self.n_cells
        mean, s, gi_var, gi_z = self._classic(vals, local)
        phi = max(float(dispersion), 1.0) if null == "local" else 1.0
        if null == "local":
            lnull = self._local_null(vals, w, phi, squares)
            expected, var = lnull.expected, lnull.var
        else:
            expected = mean * w
            var = gi_var if null != "poisson" or squares is not None else expected
        direction = np.sign(np.round(local - expected, 9)).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(var > 0, (local - expected) / np.sqrt(var), 0.0)
        up = direction >= 0
        p_block_cold = 1.0
        if null == "normal" or squares is not None:
            p = np.where(up, stats.norm.sf(z), stats.norm.cdf(z))
            p[var <= 0] = 1.0
        elif null == "local":
            p = _local_p_values(local, lnull, up, phi)
        else:
            p, p_block_cold = self._global_p_values(local, expected, gi_var, mean, s, null, up)
        p = np.minimum(np.nan_to_num(p, nan=1.0), 1.0)
        if null == "normal" and n > 1 and s > 0:
            w0 = float(len(self.nbr_offsets))
            v0 = (s**2) * (n * w0 - w0**2) / (n - 1)
            p_block_cold = float(stats.norm.cdf(-mean * w0 / math.sqrt(v0)))
        # the uncomputed cells have a zero local sum and, under the global nulls, their own
        # lower-tail p-value
        cold_block = null != "local" and squares is None
        q = _q_values(p, direction, max(n - len(local), 0), p_block_cold if cold_block else None)
        return GiStarTest(local, expected, z, gi_z, p, q, direction, phi)

    def gi_z(self, values: np.ndarray, local: np.ndarray | None = None) -> np.ndarray:
        """The classic Gi* z-score of every computed cell against the study area's mean.

        Parameters
        ----------
        values : array of shape (n_occupied,)
            Incidents (or summed weights) of each occupied cell, in ``occupied`` order.
        local : array of shape (m,), optional
            :meth:`local_sums` of ``values``, when already computed.

        Returns
        -------
        ndarray of shape (m,)
            Ord & Getis (1995)'s z (:attr:`GiStarTest.gi_z`), as :meth:`test` computes it.
        """
        vals = np.asarray(values, dtype=float)
        return self._classic(vals, self.local_sums(vals) if local is None else local)[3]

    def gi_z_columns(self, values: np.ndarray, local: np.ndarray) -> np.ndarray:
        """:meth:`gi_z` of each column of ``values`` (e.g. one per period) at once.

        Parameters
        ----------
        values : array of shape (n_occupied, k)
            Incidents (or summed weights) of each occupied cell, one column per series.
        local : array of shape (m, k)
            :meth:`local_sums` of ``values``.

        Returns
        -------
        ndarray of shape (m, k)
            Column ``t``: ``gi_z(values[:, t], local[:, t])``, to the last bit (each element
            gets the same operations; the part of the variance that depends on the cell alone,
            ``n w - w^2``, is computed once, and the columns by blocks of
            :data:`GI_Z_ROW_BLOCK` rows).
        """
        vals = np.asarray(values, dtype=float)
        m, k = local.shape
        w = self.n_neighbours.astype(float)
        n = self.n_cells
        out = np.zeros((m, k))
        if n <= 1:  # no variance: every z is 0, as gi_z's
            return out
        mean, s2 = np.empty(k), np.empty(k)
        for t in range(k):  # each column's mean and S, as _classic's
            mean[t], s = _mean_and_s(vals[:, t], n)
            s2[t] = s**2
        spread = n * w - w**2
        for start in range(0, m, GI_Z_ROW_BLOCK):
            rows = slice(start, min(start + GI_Z_ROW_BLOCK, m))
            gi_var = s2[None, :] * spread[rows, None] / (n - 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (local[rows] - mean[None, :] * w[rows, None]) / np.sqrt(gi_var)
            out[rows] = np.where(gi_var > 0, z, 0.0)
        return out

    def _classic(
        self, vals: np.ndarray, local: np.ndarray
    ) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Mean ``X``, ``S``, the randomisation variance of ``L`` and the classic Gi* z."""
        w = self.n_neighbours.astype(float)
        n = self.n_cells
        mean, s = _mean_and_s(vals, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            gi_var = (s**2) * (n * w - w**2) / (n - 1) if n > 1 else np.zeros_like(w)
            gi_z = np.where(gi_var > 0, (local - mean * w) / np.sqrt(gi_var), 0.0)
        return mean, s, gi_var, gi_z

    def _local_null(
        self, vals: np.ndarray, w: np.ndarray, phi: float, squares: np.ndarray | None
    ) -> _LocalNull:
        """Expected local sums and variances against each cell's own window."""
        total = self.window_sums(vals)
        share = w / self.n_window
        expected = total * share
        if squares is None:
            var = phi * total * share * (1 - share)
        else:
            sq = self.window_sums(np.asarray(squares, dtype=float))
            var = phi * share * (1 - share) * sq
        # a cell whose ring is mostly outside the study area (less in-area ring than
        # neighbourhood) has no surroundings to compare with: the study area's mean instead
        no_ring = (self.n_window - w) < w
        rate = float(vals.sum()) / max(self.area_cells, 1e-9)
        expected = np.where(no_ring, rate * w, expected)
        var = np.where(no_ring, phi * rate * w, var)
        return _LocalNull(total, share, expected, var, no_ring)

    def _global_p_values(
        self,
        local: np.ndarray,
        mu: np.ndarray,
        gi_var: np.ndarray,
        mean: float,
        s: float,
        null: str,
        up: np.ndarray,
    ) -> tuple[np.ndarray, float]:
        """One-sided p-values under the Poisson or negative binomial null.

        Also the lower-tail p-value of a cell without incidents: the uncomputed cells' block in
        the cold family.
        """
        k = np.round(local)
        n = self.n_cells
        if null == "negative-binomial":
            nb = gi_var > mu * (1 + 1e-9)
            pr = np.where(nb, mu / np.where(nb, gi_var, 1.0), 1.0)
            rr = np.where(nb, mu * mu / np.where(nb, gi_var - mu, 1.0), 1.0)
            p = np.where(
                up,
                np.where(nb, stats.nbinom.sf(k - 1, rr, pr), stats.poisson.sf(k - 1, mu)),
                np.where(nb, stats.nbinom.cdf(k, rr, pr), stats.poisson.cdf(k, mu)),
            )
            w0 = float(len(self.nbr_offsets))
            v0 = (s**2) * (n * w0 - w0**2) / (n - 1) if n > 1 else 0.0
            mu0 = mean * w0
            p_block_cold = (
                float(stats.nbinom.cdf(0, mu0**2 / (v0 - mu0), mu0 / v0))
                if v0 > mu0 * (1 + 1e-9)
                else math.exp(-mu0)
            )
        else:
            p = np.where(up, stats.poisson.sf(k - 1, mu), stats.poisson.cdf(k, mu))
            p_block_cold = math.exp(-mean * len(self.nbr_offsets))
        p[mu <= 0] = 1.0
        return p, p_block_cold


class _LocalNull(NamedTuple):
    """The local null per computed cell.

    Window total ``T``, neighbourhood share ``p0``, mean and variance of the local sum, and
    whether the cell has no in-area ring (then it is tested against the study area's rate).
    """

    total: np.ndarray
    share: np.ndarray
    expected: np.ndarray
    var: np.ndarray
    no_ring: np.ndarray


def _local_p_values(local: np.ndarray, lnull: _LocalNull, up: np.ndarray, phi: float) -> np.ndarray:
    """One-sided p-values of the local null: binomial, or beta-binomial when ``phi > 1``."""
    p = np.ones(len(local))
    k = np.round(local)
    t = np.round(lnull.total)
    share, expected, no_ring = lnull.share, lnull.expected, lnull.no_ring
    live = (t > 0) & (share > 0) & (share < 1) & ~no_ring
    p[no_ring & up] = stats.poisson.sf(k[no_ring & up] - 1, expected[no_ring & up])
    p[no_ring & ~up] = stats.poisson.cdf(k[no_ring & ~up], expected[no_ring & ~up])
    if phi > 1:
        # per cell, the beta-binomial whose variance is phi times the binomial's
        icc = np.clip((phi - 1) / np.maximum(t - 1, 1), 1e-12, 1 - 1e-9)
        sc = (1 - icc) / icc
        for side, sel in ((True, live & up), (False, live & ~up)):
            p[sel] = _betabinom_tail(
                k[sel], t[sel], share[sel] * sc[sel], (1 - share[sel]) * sc[sel], upper=side
            )
    else:
        p[live & up] = stats.binom.sf(k[live & up] - 1, t[live & up], share[live & up])
        p[live & ~up] = stats.binom.cdf(k[live & ~up], t[live & ~up], share[live & ~up])
    return p


def _q_values(
    p: np.ndarray, direction: np.ndarray, n_rest: int, p_block_cold: float | None
) -> np.ndarray:
    """Benjamini-Hochberg q-values in the hot and the cold family of all in-area cells.

    Each family holds every computed cell (the other side's with p = 1) and the ``n_rest``
    uncomputed cells: with p = 1, or in the cold family with ``p_block_cold`` when given.
    """
    hot = direction > 0
    cold = direction < 0
    q = np.ones(len(p))
    q[hot] = benjamini_hochberg(p[hot], 1.0, n_rest + int((~hot).sum()))
    if p_block_cold is None:
        q[cold] = benjamini_hochberg(p[cold], 1.0, n_rest + int((~cold).sum()))
    else:
        pc = np.r_[p[cold], np.ones(int((~cold).sum()))]
        q[cold] = benjamini_hochberg(pc, p_block_cold, n_rest)[: int(cold.sum())]
    return q


def _components(ij: np.ndarray) -> np.ndarray:
    """Labels of the 8-connected components of the cells ``ij`` (sparse)."""
    n = len(ij)
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    keys = cell_keys(ij)
    order = np.argsort(keys)
    rows, cols = [], []
    for off in ((1, 0), (-1, 1), (0, 1), (1, 1)):
        pos = _lookup(keys[order], keys + cell_keys(np.array([off]))[0])
        found = pos >= 0
        rows.append(np.flatnonzero(found))
        cols.append(order[pos[found]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_array((np.ones(r.size, dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


class GiStarHotspots(HotspotEstimator):
    """Getis-Ord Gi* hot spots on a square grid, each place tested against its surroundings.

    Parameters
    ----------
    cell_size : float, optional
        Cell side in metres (default 150 m, the guide's patrol unit).
    neighbour_distance : float, optional
        Cells whose centres are within this distance (metres) are neighbours; default
        ``cell_size * sqrt(2)`` (queen contiguity, 8 neighbours plus the cell itself).
    baseline_distance : float, optional
        Half-width in metres of the square window whose cells beyond the neighbourhood give the
        ``"local"`` null its expected count; default one cell beyond the neighbourhood
        (``2 * cell_size`` = 300 m for queen neighbourhoods: a 750 m square window, its ring of
        16 cells around the 3 x 3 neighbourhood).
    alpha : float, default 0.05
        False discovery rate of the hot family (and, separately, of the cold family).
    null : {"local", "poisson", "negative-binomial", "normal"}, default "local"
        Null distribution of a cell's local sum (see Notes and :meth:`GiStarGrid.test`).
    use_weights : bool, default False
        Sum harm weights instead of counting incidents (p-values then use a normal
        approximation).

    Attributes
    ----------
    cell_size_, neighbour_distance_, baseline_distance_, n_cells_ : numbers
    dispersion_ : float
        Over-dispersion ``phi`` of the local null, measured between odd and even months
        (:func:`estimate_dispersion`; 1 for the other nulls or with fewer than two months).
    cells_ : geopandas.GeoDataFrame
        The computed in-area cells: ``count`` (incidents), ``local`` (local sum), ``expected``,
        ``gi_z`` (classic Gi*), ``z`` (standardised against the null), ``p_value`` (one-sided),
        ``q_value`` (within the hot or cold family), ``gi_bin`` (+-3, 2, 1 for q below 0.01,
        0.05, 0.10, signed by direction, as ArcGIS's Gi_Bin). Built when first read: the
        boxes of a national grid's million cells cost a second that finding hot spots does not
        need.
    hotspots_ : geopandas.GeoDataFrame
        One row per 8-connected group of hot cells (see Notes; a multipolygon where cells meet
        only at a corner): ``method="gistar"``, ``peak_density`` (incidents per km² of its
        busiest cell), ``p_value`` (the smallest q-value inside), ``max_z`` (the largest ``z``).
    params_, notes_

    Notes
    -----
    **Study area and families.** Only in-area cells exist for the test (see
    :class:`GiStarGrid`): an edge cell's neighbourhood and ring hold fewer cells, so the sea
    or the next force's streets never count as observed zeros, and the false discovery rate is
    controlled over the ``n`` in-area cells. Getis & Ord (1992) define ``G*`` with a one-sided
    alternative in mind (a concentration of high values), and a police user asks two separate
    questions (where is it unusually high; where unusually low), so hot and cold are two
    one-sided families, each Benjamini-Hochberg controlled at ``alpha``. In a single two-sided
    family, spurious cold cells along the edge used to loosen the correction for hot ones.

    **The null.** Crime in a town is uneven at every scale: cell counts of a force vary about 30
    times more than a Poisson count would (Merseyside 2022, 250 m cells). Against the study
    area's mean (the classic Gi*: Getis & Ord 1992; Ord & Getis 1995, with either the
    randomisation variance ArcGIS uses or an exact Poisson count) every busy district is "hot":
    on a smooth synthetic town with no micro hot spot (four broad Gaussian bumps over a
    background, variance/mean of 250 m counts 12-50) both mark about a thousand of 6,400
    cells. Conditional permutation (Anselin 1995; esda's ``G_Local``) draws the neighbours from
    the whole area too, so it marks the same districts, and because it holds the cell's own
    value fixed it cannot see a hot spot that fits in one cell (recall 0 on the planted test
    below). The ``"local"`` null asks the user's question instead: is this neighbourhood busier
    than its own surroundings? Given the ``T`` incidents of the cell's window, the
    neighbourhood's share ``L`` is binomial ``(T, W/A)`` when the intensity is flat across the
    window (Kulldorff 1997's scan statistic compares a zone with its complement the same way);
    real data clump more than that, so ``L`` is beta-binomial with an intra-class correlation
    estimated robustly from all cells (:func:`estimate_dispersion`). Measured on the synthetic
    town (12 seeds at each of 10k, 25k, 60k and 120k incidents), the ``"local"`` null with the
    default one-cell ring flagged no cell in any run, and recovered planted 50-100 m clusters of
    60-150 extra incidents with recall 0.94-1.0 up to 60k incidents (0.88 at 120k), and of
    150-400 extra incidents with recall 1.0; a wider ring (two or four cells) mistakes the
    curvature of the town's bumps for hot spots. Under complete spatial randomness the chance of
    any false hot cell is at most ``alpha`` (Benjamini-Hochberg under the global null), 0-5 % of
    runs measured (see ``tests/test_gistar.py``).

    A cell whose ring lies mostly outside the study area (less in-area ring than
    neighbourhood: an isolated patch of a study area drawn tightly round the incidents) has no
    surroundings to compare with; it is tested against the study area's mean (exact Poisson).

    **Which cells form a hot spot.** Gi* tests a cell's neighbourhood, so one busy cell makes its
    eight neighbours significant too, even empty ones (on Merseyside the classic test marked
    26 % empty cells). A cell joins a hot spot only when its neighbourhood is significantly hot
    *and* the cell itself holds more incidents than the neighbourhood's expected rate per cell
    (so never an empty cell, and never a quiet cell beside a busy one); the other significant
    cells are reported in ``cells_`` (``gi_bin``) but left out of the polygons.

    References
    ----------
    Getis, A. & Ord, J. K. (1992). The analysis of spatial association by use of distance
    statistics. *Geographical Analysis* 24(3), 189-206.
    Ord, J. K. & Getis, A. (1995). Local spatial autocorrelation statistics: distributional
    issues and an application. *Geographical Analysis* 27(4), 286-306.
    Anselin, L. (1995). Local indicators of spatial association - LISA. *Geographical
    Analysis* 27(2), 93-115.
    Kulldorff, M. (1997). A spatial scan statistic. *Communications in Statistics - Theory and
    Methods* 26(6), 1481-1496.
    Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate. *Journal of the
    Royal Statistical Society B* 57(1), 289-300.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "cell_size": [None, Interval(Real, 0, None, closed="neither")],
        "neighbour_distance": [None, Interval(Real, 0, None, closed="left")],
        "baseline_distance": [None, Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "null": [Options(*NULLS)],
        "use_weights": [Boolean()],
    }
    parameter_hints: ClassVar[dict[str, str]] = {
        "cell_size": f"give metres, or leave it unset for the {DEFAULT_CELL_M:g} m patrol unit.",
        "neighbour_distance": "give metres, or leave it unset for queen contiguity.",
        "baseline_distance": (
            "give metres, or leave it unset for one cell beyond the neighbourhood."
        ),
    }
    hotspot_columns: ClassVar[tuple[str, ...]] = ("method", "peak_density", "p_value", "max_z")

    def __init__(
        self,
        *,
        cell_size: float | None = None,
        neighbour_distance: float | None = None,
        baseline_distance: float | None = None,
        alpha: float = 0.05,
        null: str = DEFAULT_NULL,
        use_weights: bool = False,
    ) -> None:
        self.cell_size = cell_size
        self.neighbour_distance = neighbour_distance
        self.baseline_distance = baseline_distance
        self.alpha = alpha
        self.null = null
        self.use_weights = use_weights

    def fit(self, incidents: Incidents, y: Any = None) -> GiStarHotspots:
        """Test every in-area cell and build the hot spot polygons.

        Parameters
        ----------
        incidents : Incidents
        y : ignored

        Returns
        -------
        GiStarHotspots
            ``self``, fitted.
        """
        self.validate(incidents)
        self._cells, self._cell_columns = None, None
        cell = DEFAULT_CELL_M if self.cell_size is None else float(self.cell_size)
        dist = (
            cell * math.sqrt(2)
            if self.neighbour_distance is None
            else float(self.neighbour_distance)
        )
        reach = int(math.floor(dist / cell + 1e-9))
        base = (
            (reach + 1) * cell if self.baseline_distance is None else float(self.baseline_distance)
        )
        self.cell_size_ = cell
        self.neighbour_distance_ = dist
        self.baseline_distance_ = base
        crs = incidents.crs
        study = incidents.study_area
        xy = incidents.xy if len(incidents) else np.empty((0, 2))
        grid = gistar_grid(
            xy, study, cell_size=cell, neighbour_distance=dist, baseline_distance=base
        )
        self.n_cells_ = grid.n_cells
        null = self.null
        weighted = bool(self.use_weights)
        self._describe(grid.n_cells, null if not weighted or null == "local" else "normal")
        empty = gpd.GeoDataFrame(
            {"method": [], "peak_density": [], "p_value": [], "max_z": []}, geometry=[], crs=crs
        )
        if len(incidents) == 0:
            self.dispersion_ = 1.0
            self._cells = gpd.GeoDataFrame({"count": []}, geometry=[], crs=crs)
            self.params_["n_hot_cells"] = 0
            self.hotspots_ = empty
            return self
        occ_index = grid.point_occupied
        n_occ = len(grid.occupied)
        counts_occ = np.bincount(occ_index, minlength=n_occ).astype(float)
        phi = 1.0
        if null == "local":
            phi, how = _split_dispersion(grid, incidents)
            self.params_["dispersion_phi"] = round(phi, 4)
            self.params_["dispersion_rule"] = how
            self.notes_.append(_dispersion_note(phi, how))
        if weighted:
            wts = np.asarray(incidents.weights, dtype=float)
            values = np.bincount(occ_index, weights=wts, minlength=n_occ)
            squares = np.bincount(occ_index, weights=wts**2, minlength=n_occ)
            res = grid.test(values, null=null, squares=squares, dispersion=phi)
        else:
            res = grid.test(counts_occ, null=null, dispersion=phi)
        self.dispersion_ = res.dispersion
        counts = np.zeros(len(grid))
        counts[grid.occupied] = counts_occ
        q = res.q_value
        gi_bin = np.where(q < 0.01, 3, np.where(q < 0.05, 2, np.where(q < 0.10, 1, 0)))
        columns = {
            "count": counts,
            "local": res.local,
            "expected": res.expected,
            "gi_z": res.gi_z,
            "z": res.z,
            "p_value": res.p_value,
            "q_value": q,
            "gi_bin": (gi_bin * res.direction).astype(int),
        }
        self._cell_columns = (grid.cells, grid.cell_size, columns, crs)
        significant = (res.direction > 0) & (q < self.alpha)
        own = np.zeros(len(grid))
        own[grid.occupied] = values if weighted else counts_occ
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(grid.n_neighbours > 0, res.expected / grid.n_neighbours, 0.0)
        # a cell joins a hot spot only if it is itself busier than its neighbourhood's
        # expected rate: never an empty cell, never a quiet cell beside a busy one
        hot = significant & (counts > 0) & (own > rate * grid.fraction)
        self.params_["n_hot_cells"] = int(hot.sum())
        self.params_["n_significant_cells_left_out"] = int((significant & ~hot).sum())
        self.params_["n_significant_empty_cells_left_out"] = int(
            (significant & (counts == 0)).sum()
        )
        if not hot.any():
            self.hotspots_ = empty
            self.notes_.append(
                "No cell is a significant Gi* hot spot at this false discovery rate."
            )
            return self
        self.hotspots_ = _merge_hot_cells(grid, hot, counts, res, crs)
        return self

    @property
    def cells_(self) -> gpd.GeoDataFrame:
        """The computed in-area cells and their tests (see the class's Attributes), built from
        the fit's columns and the cells' boxes the first time it is read."""
        own = self.__dict__
        if own.get("_cells") is None:
            if own.get("_cell_columns") is None:
                return self.__getattr__("cells_")  # not fitted: NotFittedError
            cells, cell, columns, crs = own["_cell_columns"]
            self._cells = gpd.GeoDataFrame(columns, geometry=cell_boxes(cells, cell), crs=crs)
            self._cell_columns = None
        return own["_cells"]

    def _describe(self, n_cells: int, null_used: str) -> None:
        """The parameter record and the notes every fit starts with."""
        cell, dist = self.cell_size_, self.neighbour_distance_
        base = self.baseline_distance_
        self.params_: dict[str, Any] = {
            "method": "gistar",
            "cell_size_m": cell,
            "cell_size_rule": "default 150 m patrol unit" if self.cell_size is None else "user",
            "neighbour_distance_m": dist,
            "weights": "binary, self-included, in-area cells only",
            "alpha": self.alpha,
            "null": null_used,
            "multiple_testing": (
                "Benjamini-Hochberg FDR, hot and cold as separate one-sided families over the "
                "in-area cells"
            ),
            "n_cells": n_cells,
            "use_weights": bool(self.use_weights),
            "hot_cell_rule": (
                "significant, holds incidents, and busier than its neighbourhood's expected rate"
            ),
        }
        if self.null == "local":
            self.params_["baseline_distance_m"] = base
            self.params_["baseline_rule"] = (
                "default: one cell beyond the neighbourhood"
                if self.baseline_distance is None
                else "user"
            )
        size_rule = (
            "default: the guide's 150 m patrol unit"
            if self.cell_size is None
            else "set by the user"
        )
        nb_rule = "queen contiguity" if self.neighbour_distance is None else "set by the user"
        self.notes_ = [
            f"Gi* grid: {cell:g} m cells ({size_rule}); neighbours within {dist:.0f} m "
            f"({nb_rule}), binary weights, cell included, study-area cells only.",
            _null_note(null_used, base, cell),
            f"Significance: one-sided, Benjamini-Hochberg false discovery rate {self.alpha} over "
            f"the {n_cells:,} study-area cells, hot and cold as separate families.",
        ]


def _merge_hot_cells(
    grid: GiStarGrid,
    hot: np.ndarray,
    counts: np.ndarray,
    res: GiStarTest,
    crs: Any,
) -> gpd.GeoDataFrame:
    """One hot spot per 8-connected group of hot cells: peak density, least q-value, max z."""
    hot_idx = np.flatnonzero(hot)
    boxes = np.empty(len(grid), dtype=object)  # only the hot cells' boxes are drawn
    boxes[hot_idx] = cell_boxes(grid.cells[hot_idx], grid.cell_size)
    labels = _components(grid.cells[hot_idx])
    # the hot cells grouped by label, each group in cell order (labels == lab, at once)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    rows = []
    for members in np.split(hot_idx[order], bounds) if len(order) else []:
        rows.append(
            {
                "method": "gistar",
                "peak_density": float(counts[members].max() / (grid.cell_size**2 / 1e6)),
                "p_value": float(res.q_value[members].min()),
                "max_z": float(res.z[members].max()),
                "geometry": shapely.union_all(boxes[members]),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _split_dispersion(grid: GiStarGrid, incidents: Incidents) -> tuple[float, str]:
    """``phi`` of the local null from odd against even months, and how it was found."""
    months = incidents.frame["month"]
    ok = months.notna().to_numpy()
    if len(incidents) == 0 or months[ok].nunique() < 2:
        return 1.0, "fewer than two months: binomial (clumping not measurable)"
    idx = (months.dt.year * 12 + months.dt.month).to_numpy(dtype=float)
    half = np.where(ok, np.nan_to_num(idx) % 2, -1).astype(np.int64)
    return grid.split_dispersion(half), "odd against even months, robust (median)"


def _dispersion_note(phi: float, how: str) -> str:
    if how.startswith("fewer"):
        return (
            "Clumping of incidents could not be measured (fewer than two months of data): the "
            "local null is binomial, which may overstate significance when incidents come in "
            "clumps."
        )
    return (
        f"Clumping: local sums vary {phi:.2f} times as much as binomial between odd and even "
        "months; the local null's variance is widened by that factor."
    )


def _null_note(null: str, base: float, cell: float) -> str:
    """One sentence saying what a cell is compared with."""
    if null == "local":
        return (
            f"Null: each neighbourhood against its surroundings (the other cells of a "
            f"{2 * base + cell:.0f} m square around it), so a busy district is not a hot spot "
            "merely for being busy."
        )
    return {
        "poisson": (
            "Null: complete spatial randomness at the study area's mean intensity (exact Poisson)."
        ),
        "negative-binomial": (
            "Null: the study area's mean, negative binomial with the randomisation variance."
        ),
        "normal": (
            "Null: the study area's mean, normal curve with the randomisation variance "
            "(ArcGIS, spdep)."
        ),
    }[null]
