"""Getis-Ord Gi* hot spots on a grid of counts, with false discovery rate control.

For cell ``i`` with count ``x_i``, binary weights ``w_ij = 1`` for the cells ``j`` within the
neighbour distance *including i itself* (queen contiguity by default, ``cell * sqrt(2)``, as
sfhotspot), ``n`` cells in the study area, mean ``X`` and ``S = sqrt(sum(x^2)/n - X^2)``:

    G*_i = (sum_j w_ij x_j - X W_i) / (S sqrt((n sum_j w_ij^2 - W_i^2) / (n - 1)))

with ``W_i = sum_j w_ij`` (Getis & Ord 1992; Ord & Getis 1995), the z-score ArcGIS and spdep
report. Two-sided p-values come by default from the exact Poisson distribution of the local sum
under complete spatial randomness rather than the normal curve (see :func:`_local_p_values`: the
normal approximation finds "hot spots" in pure noise at micro-place cell sizes); the
Benjamini-Hochberg procedure over
*all* ``n`` cells of the study area controls the false discovery rate (ArcGIS's Gi_Bin is also
FDR-corrected). Hot spots are the connected groups of cells with ``G* > 0`` and an adjusted
p-value below ``alpha``.

The grid is sparse: only cells within the neighbour distance of an incident are computed. Every
other cell of the study area has a local sum of zero and one shared z-score, handled as a block,
so national data need no dense grid.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import shapely
from scipy import stats

from hotspots._errors import ParameterError
from hotspots.constants import MICRO_PLACE_M
from hotspots.grid import candidate_cells, cell_keys, neighbour_index, neighbour_offsets
from hotspots.incidents import Incidents
from hotspots.stats import benjamini_hochberg

__all__ = ["GiStarHotspots", "SparseGiStar", "gi_star", "sparse_gi_star"]

#: Default cell size in metres: the guide's 150 m patrol unit (R2: Birmingham's 150 m grid).
DEFAULT_CELL_M = MICRO_PLACE_M


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


NULLS = ("poisson", "negative-binomial", "normal")


def _local_p_values(local: np.ndarray, mu: float, var: float, null: str) -> np.ndarray:
    """Two-sided p-values of local sums under a null with mean ``mu`` (and variance ``var``).

    ``"poisson"``: complete spatial randomness at the data's mean intensity, under which the local
    sum of ``W`` cells is exactly Poisson(``mu``). ``"negative-binomial"``: the discrete
    distribution with the randomisation null's mean and variance (over-dispersed; conservative,
    because strong hot spots inflate the variance they are judged against). ``"normal"``: the
    classic Gi* normal approximation of ArcGIS and spdep, which is anti-conservative for the
    sparse counts of micro-place grids (pure noise then yields "significant" hot spots).
    """
    local = np.asarray(local, dtype=float)
    if mu <= 0 or var <= 0:
        return np.ones(len(local))
    if null == "normal":
        z = (local - mu) / math.sqrt(var)
        return np.minimum(1.0, 2 * stats.norm.sf(np.abs(z)))
    k = np.round(local)
    if null == "negative-binomial" and var > mu * (1 + 1e-9):
        p = mu / var
        r = mu * mu / (var - mu)
        upper = stats.nbinom.sf(k - 1, r, p)
        lower = stats.nbinom.cdf(k, r, p)
    else:
        upper = stats.poisson.sf(k - 1, mu)
        lower = stats.poisson.cdf(k, mu)
    return np.minimum(1.0, 2 * np.minimum(upper, lower))


class SparseGiStar(NamedTuple):
    """Gi* of the computed cells of a sparse grid (one entry per cell, same order)."""

    local: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    q_value: np.ndarray


def sparse_gi_star(
    values: np.ndarray, neighbour_index: np.ndarray, n_cells: int, *, null: str = "poisson"
) -> SparseGiStar:
    """Gi* z-scores, two-sided p-values and FDR q-values for counts on a sparse grid.

    Parameters
    ----------
    values : array of shape (m,)
        Counts (or weights) of the computed cells. Every cell of the study area with a non-zero
        value must be among them; all other cells of the study area count as zero.
    neighbour_index : int array of shape (m, k)
        Positions in ``values`` of each cell's ``k`` neighbours, itself included, ``-1`` where the
        neighbour is not computed (a zero-valued cell), as :func:`hotspots.grid.neighbour_index` returns. Every
        cell has the same ``W_i = k`` binary weights.
    n_cells : int
        Number of cells in the whole study area (``n`` of the Gi* formula and of the FDR family).
    null : {"poisson", "negative-binomial", "normal"}, default "poisson"
        Null distribution of the local sum (see :func:`_local_p_values`).

    Returns
    -------
    SparseGiStar
        ``local`` sums, ``z`` (Gi*), two-sided ``p_value`` and Benjamini-Hochberg ``q_value``
        over all ``n_cells`` cells: the ``n_cells - m`` uncomputed cells have a local sum of zero
        and enter the procedure as one block sharing one p-value.
    """
    vals = np.asarray(values, dtype=float)
    m, wi = neighbour_index.shape
    padded = np.r_[vals, 0.0]  # position -1 reads the trailing zero
    local = np.zeros(m)
    for c in range(wi):
        local += padded[neighbour_index[:, c]]
    sum_x = float(vals.sum())
    sum_x2 = float((vals**2).sum())
    mean = sum_x / n_cells
    s = math.sqrt(max(sum_x2 / n_cells - mean**2, 0.0))
    denom = s * math.sqrt((n_cells * wi - wi**2) / (n_cells - 1)) if n_cells > 1 else 0.0
    z = (local - mean * wi) / denom if denom > 0 else np.zeros(m)
    var_local = denom**2
    p_two = _local_p_values(local, mean * wi, var_local, null)
    # every other study-area cell has local sum 0: one shared p-value, as a block
    n_rest = max(n_cells - m, 0)
    p_rest = float(_local_p_values(np.zeros(1), mean * wi, var_local, null)[0])
    return SparseGiStar(local, z, p_two, benjamini_hochberg(p_two, p_rest, n_rest))


class GiStarHotspots:
    """Getis-Ord Gi* hot spots on a square grid, FDR-controlled.

    Parameters
    ----------
    cell_size : float, optional
        Cell side in metres (default 150 m, the guide's patrol unit).
    neighbour_distance : float, optional
        Cells whose centres are within this distance (metres) are neighbours; default
        ``cell_size * sqrt(2)`` (queen contiguity, 8 neighbours plus the cell itself).
    alpha : float, default 0.05
        False discovery rate.
    null : {"poisson", "negative-binomial", "normal"}, default "poisson"
        Null distribution of a cell's local sum (see :func:`_local_p_values`). The default tests
        against complete spatial randomness, like every other significance test in hotspots.
    use_weights : bool, default False
        Sum harm weights instead of counting incidents (p-values then use the normal null).

    Attributes
    ----------
    cell_size_, neighbour_distance_, n_cells_ : numbers
    cells_ : geopandas.GeoDataFrame
        The computed cells with ``count``, ``gi_z``, ``p_value``, ``q_value``, ``gi_bin``.
    hotspots_ : geopandas.GeoDataFrame
        Connected groups of significant hot cells (``method="gistar"``, ``peak_density``,
        ``p_value`` = the smallest q-value inside, ``max_z``).
    params_, notes_
    """

    def __init__(
        self,
        *,
        cell_size: float | None = None,
        neighbour_distance: float | None = None,
        alpha: float = 0.05,
        null: str = "poisson",
        use_weights: bool = False,
    ) -> None:
        self.cell_size = cell_size
        self.neighbour_distance = neighbour_distance
        self.alpha = alpha
        self.null = null
        self.use_weights = use_weights

    def fit(self, incidents: Incidents) -> GiStarHotspots:
        cell = DEFAULT_CELL_M if self.cell_size is None else float(self.cell_size)
        if not cell > 0:
            msg = f"cell_size must be a positive number of metres, got {self.cell_size!r}."
            raise ParameterError(msg)
        dist = (
            cell * math.sqrt(2)
            if self.neighbour_distance is None
            else float(self.neighbour_distance)
        )
        if not dist >= 0:
            msg = f"neighbour_distance must be >= 0 metres, got {self.neighbour_distance!r}."
            raise ParameterError(msg)
        if not 0 < self.alpha < 1:
            msg = f"alpha must be between 0 and 1, got {self.alpha!r}."
            raise ParameterError(msg)
        if self.null not in NULLS:
            msg = f"null must be one of {NULLS}, got {self.null!r}."
            raise ParameterError(msg)
        self.cell_size_ = cell
        self.neighbour_distance_ = dist
        notes = [
            f"Gi* grid: {cell:g} m cells ({'default: the guide' + chr(39) + 's 150 m patrol unit' if self.cell_size is None else 'set by the user'}); "
            f"neighbours within {dist:.0f} m ({'queen contiguity' if self.neighbour_distance is None else 'set by the user'}), binary weights, cell included.",
            f"Significance: two-sided, Benjamini-Hochberg false discovery rate {self.alpha} over every cell of the study area.",
        ]
        crs = incidents.crs
        empty = gpd.GeoDataFrame(
            {"method": [], "peak_density": [], "p_value": [], "max_z": []}, geometry=[], crs=crs
        )
        self.cells_ = gpd.GeoDataFrame({"count": []}, geometry=[], crs=crs)
        study = incidents.study_area
        n_cells = max(int(round(incidents.study_area_m2 / cell**2)), 1)
        self.n_cells_ = n_cells
        self.params_: dict[str, Any] = {
            "method": "gistar",
            "cell_size_m": cell,
            "cell_size_rule": "default 150 m patrol unit" if self.cell_size is None else "user",
            "neighbour_distance_m": dist,
            "weights": "binary, self-included",
            "alpha": self.alpha,
            "multiple_testing": "Benjamini-Hochberg FDR over all study-area cells",
            "null": self.null if not self.use_weights else "normal",
            "n_cells": n_cells,
            "use_weights": bool(self.use_weights),
        }
        self.notes_ = notes
        if len(incidents) == 0:
            self.hotspots_ = empty
            return self
        xy = incidents.xy
        w = incidents.weights if self.use_weights else np.ones(len(xy))
        ij = np.floor(xy / cell).astype(np.int64)
        occ, inv = np.unique(ij, axis=0, return_inverse=True)
        counts = np.bincount(inv.ravel(), weights=w)
        offs = neighbour_offsets(cell, dist)
        # candidate cells: occupied cells and their neighbours
        cand = candidate_cells(occ, offs)
        pos = np.searchsorted(cell_keys(cand), cell_keys(occ))
        vals = np.zeros(len(cand))
        vals[pos] = counts
        null = self.null if not self.use_weights else "normal"
        _, z, p_two, q = sparse_gi_star(vals, neighbour_index(cand, offs), n_cells, null=null)
        gi_bin = np.where(q < 0.01, 3, np.where(q < 0.05, 2, np.where(q < 0.10, 1, 0))) * np.sign(
            z
        ).astype(int)
        boxes = shapely.box(
            cand[:, 0] * cell, cand[:, 1] * cell, (cand[:, 0] + 1) * cell, (cand[:, 1] + 1) * cell
        )
        self.cells_ = gpd.GeoDataFrame(
            {"count": vals, "gi_z": z, "p_value": p_two, "q_value": q, "gi_bin": gi_bin},
            geometry=boxes,
            crs=crs,
        )
        hot = (z > 0) & (q < self.alpha)
        centres_in = (
            shapely.contains_xy(study, (cand[:, 0] + 0.5) * cell, (cand[:, 1] + 0.5) * cell)
            if not study.is_empty
            else np.ones(len(cand), bool)
        )
        hot &= centres_in
        self.params_["n_hot_cells"] = int(hot.sum())
        if not hot.any():
            self.hotspots_ = empty
            self.notes_.append(
                "No cell is a significant Gi* hot spot at this false discovery rate."
            )
            return self
        merged = shapely.union_all(boxes[hot])
        parts = list(getattr(merged, "geoms", [merged]))
        hot_idx = np.flatnonzero(hot)
        cx = (cand[hot_idx, 0] + 0.5) * cell
        cy = (cand[hot_idx, 1] + 0.5) * cell
        # which part holds each hot cell's centre (one spatial-index query, not parts x cells)
        cell_i, part_i = shapely.STRtree(parts).query(
            shapely.points(cx, cy), predicate="intersects"
        )
        owner = np.full(len(hot_idx), -1)
        owner[cell_i] = part_i
        order = np.argsort(owner, kind="stable")
        starts = np.searchsorted(owner[order], np.arange(len(parts)))
        ends = np.searchsorted(owner[order], np.arange(len(parts)), side="right")
        rows = []
        for j, part in enumerate(parts):
            members = hot_idx[order[starts[j] : ends[j]]]
            rows.append(
                {
                    "method": "gistar",
                    "peak_density": float(vals[members].max() / (cell**2 / 1e6)),
                    "p_value": float(q[members].min()),
                    "max_z": float(z[members].max()),
                    "geometry": part,
                }
            )
        self.hotspots_ = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
        return self
