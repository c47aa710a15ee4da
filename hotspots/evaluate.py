"""Evaluation: hit rate, PAI and PEI; methods compared at equal coverage on rolling origins.

Definitions (``n`` incidents of the test period inside the forecast, ``N`` all test-period
incidents, ``a`` forecast area, ``A`` study area), as in the guide's section 5:

* hit rate ``H = n / N``;
* Predictive Accuracy Index ``PAI = (n / N) / (a / A)`` (Chainey, Tompson & Uhlig 2008);
* Predictive Efficiency Index ``PEI = H / H*`` (Hunt 2016), where ``H*`` is the best
  hit rate a forecast made of the *same units* could have reached on the test data: as many cells
  of the forecast's own cell size (the densest test cells), or as many patrol-sized discs (placed
  greedily on the test incidents by the patrol-area rule). ``PEI = PAI / PAI*`` for the same area.
  On a unit much finer than the forecast (25 m cells against police.uk's snapped map points) the
  best possible catches every test incident and PEI collapses to the hit rate; on the forecast's
  own unit it does not.

Comparing methods. PAI depends on coverage (a smaller area has a higher PAI),
so methods are compared at the *same* coverage of the *same* study area, and before any
significance filter: each forecast is turned into units ranked by the method's own score
(:class:`Ranking`) and read off its curve of hit rate against coverage:

=====================  =========================================================================
forecast               units, ranked by
=====================  =========================================================================
KDE                    the surface's cells (its own cell size), by density
Gi*                    the Gi* grid's cells, by ``z`` (the statistic its significance test uses)
DBSCAN, HDBSCAN        cluster polygons, by intensity (incidents per km² over at least one
                       150 m patrol unit, :mod:`hotspots.profile`)
patrol areas           150 m discs (:func:`hotspots.patrol.make_patrol_areas`: placed and ranked
                       by the violence expected next period, :mod:`hotspots.forecast`), in
                       their rank order; "forecast discs" are the same forecast's discs past
                       the patrol areas' floor of 3 incidents, so they reach every disc count
naive baselines        150 m discs: :func:`point_count_discs` (the busiest map points) and
                       :func:`kde_peak_discs` (peaks of a 150 m KDE; of a KDE with ArcGIS's
                       default bandwidth and cell size)
=====================  =========================================================================

*Ties and partial units.* Units with equal scores form one block; a coverage that ends inside a
block (or inside one unit) takes that share of the block's area and is credited the same share
of its test incidents, the expectation for a part drawn at random. A forecast whose units cover
less than the target coverage is not read there (``reached`` False, values NaN): a method is never
credited with area it did not rank. Cells count in the study area when their centre lies in it;
polygons and discs are clipped to it, and overlaps count once (for the higher-ranked unit).

*Study area.* The evaluation's study area comes from the training months only (the ingest rule,
:func:`hotspots.ingest.default_study_area`, on the training incidents), or is the boundary the
user gave. Test incidents outside it still count in ``N``: they are violence no forecast caught
(a note says how many).

*Rolling origins* (:func:`rolling_evaluation`). Each of the last few observed months is a test
month in turn, forecast from every earlier month; months missing from the input
(:attr:`hotspots.incidents.Incidents.missing_months`) are never test months.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from hotspots._errors import ParameterError, TooFewPeriodsError
from hotspots.constants import (
    MAX_PATROL_AREAS,
    MICRO_PLACE_M,
    MICRO_PLACE_RADIUS_M,
    MIN_AREA_INCIDENTS,
)
from hotspots.grid import cell_keys
from hotspots.incidents import Incidents, deferred_or_table, unique_points
from hotspots.profile import assign_incidents

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hotspots.detect import HotspotResult
    from hotspots.forecast import PlaceForecast
    from hotspots.grid import DensitySurface

__all__ = [
    "BASELINES",
    "COVERAGES",
    "DISC_COUNTS",
    "FORECAST_LABELS",
    "MAX_ORIGINS",
    "METHODS",
    "Displacement",
    "Evaluation",
    "Ranking",
    "RollingEvaluation",
    "best_cell_hits",
    "best_disc_hits",
    "best_hits",
    "cell_ranking",
    "compare_forecasts",
    "concentration_curve",
    "coverage_curve",
    "curves_figure",
    "default_origins",
    "disc_area",
    "disc_ranking",
    "displacement",
    "evaluate",
    "grid_concentration_curve",
    "holdout",
    "kde_peak_discs",
    "point_count_discs",
    "polygon_ranking",
    "read_coverage",
    "read_discs",
    "result_ranking",
    "rolling_evaluation",
    "split_by_month",
    "training_study_area",
]

#: Coverages (shares of the study area) every forecast is read at.
COVERAGES = (0.005, 0.01, 0.02, 0.05)
#: Numbers of patrol-sized discs the patrol areas and the baselines are read at.
DISC_COUNTS = (10, 20, 50, 100)
#: Most rolling origins run by default (see :func:`default_origins`).
MAX_ORIGINS = 6
#: The detectors compared by default.
METHODS = ("kde", "dbscan", "hdbscan", "gistar")
#: Forecast ids of the patrol areas and the three baselines.
PATROL = "patrol_areas"
FORECAST = "forecast_discs"
NAIVE_POINTS = "naive_points"
NAIVE_KDE = "naive_kde_150m"
ARCGIS_KDE = "arcgis_kde"
#: The baselines, in the order they are reported.
BASELINES = (NAIVE_POINTS, NAIVE_KDE, ARCGIS_KDE)
#: What each forecast id means, for people.
FORECAST_LABELS = {
    "kde": "KDE (150 m)",
    "dbscan": "DBSCAN",
    "hdbscan": "HDBSCAN",
    "gistar": "Gi*",
    PATROL: "patrol areas (forecast)",
    FORECAST: "forecast discs",
    NAIVE_POINTS: "naive: busiest points",
    NAIVE_KDE: "naive: 150 m KDE peaks",
    ARCGIS_KDE: "ArcGIS-rule KDE peaks",
}
#: ArcGIS Pro's default Kernel Density cell size: the shorter side of the extent / 250 (Esri, "How
#: Kernel Density works", ArcGIS Pro documentation).
ARCGIS_CELLS_PER_SIDE = 250


# ============================================================================================
# One forecast: hit rate, PAI, PEI


@dataclass(frozen=True)
class Evaluation:
    """Hit rate, PAI and PEI of a set of areas on a set of (test) incidents.

    ``best_hit_rate`` is the best hit rate the same units could have reached (``unit``: the cells
    or discs PEI is computed on), ``best_pai`` the corresponding PAI and ``pei = hit_rate /
    best_hit_rate``.
    """

    n_inside: int
    n_total: int
    area_m2: float
    study_area_m2: float
    hit_rate: float
    coverage: float
    pai: float
    best_pai: float
    pei: float
    best_hit_rate: float = float("nan")
    unit: str = ""

    def to_dict(self) -> dict[str, float | str]:
        return {k: v if isinstance(v, str) else float(v) for k, v in self.__dict__.items()}


def disc_area(radius_m: float) -> float:
    """Area (m²) of a disc as drawn here and in :mod:`hotspots.patrol`: a 64-sided polygon,
    ``32 r² sin(2π/64)``, 0.16 % under ``π r²``."""
    return 32.0 * radius_m * radius_m * math.sin(2.0 * math.pi / 64.0)


def best_cell_hits(xy: np.ndarray, n_cells: float, cell_size: float) -> float:
    """Incidents in the densest ``n_cells`` square cells of ``cell_size`` metres.

    Cells lie on the lattice ``[i c, (i+1) c) x [j c, (j+1) c)`` (the forecast grids' lattice). A
    fractional last cell counts that fraction of its incidents. This is the numerator of the
    best possible hit rate with the same number of cells (PEI's denominator).
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0 or n_cells <= 0:
        return 0.0
    ij = np.floor(xy / float(cell_size)).astype(np.int64)
    _, counts = np.unique(cell_keys(ij), return_counts=True)
    counts = np.sort(counts)[::-1]
    whole = int(math.floor(n_cells + 1e-9))
    frac = n_cells - whole if n_cells - whole > 1e-9 else 0.0
    nxt = counts[whole] if whole < len(counts) else 0
    return float(counts[:whole].sum() + frac * nxt)


def best_disc_hits(
    xy: np.ndarray,
    n_discs: int,
    *,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    separation_m: float = 0.0,
) -> np.ndarray:
    """Incidents caught by each of ``n_discs`` discs placed greedily on the incidents themselves.

    The patrol-area rule (:func:`hotspots.patrol.make_patrol_areas`, step 3) run with hindsight:
    every distinct location is a candidate centre; the disc catching the most not-yet-caught
    incidents is taken and its incidents are removed. Centres closer than ``separation_m`` to a
    disc taken are ruled out; the default 0 lets discs overlap, a freedom a forecast does not have
    (patrol areas are ``2 * radius_m`` apart) but which a best possible should have: with a
    separation, the incidents just outside a disc can only be reached from a candidate that is
    ruled out. Greedy maximum coverage is within ``1 - 1/e`` of the optimum and in practice close
    to it, so a forecast can, rarely, reach a PEI slightly above 1.

    Returns
    -------
    ndarray of float, shape (n_discs,)
        Incidents caught by the 1st, 2nd, ... disc (zeros once nothing is left to catch).
    """
    out = np.zeros(max(int(n_discs), 0))
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0 or len(out) == 0:
        return out
    sep = float(separation_m)
    uxy, count = unique_points(xy, return_counts=True)
    remaining = count.astype(float)
    tree = cKDTree(uxy)
    nbrs = tree.query_ball_point(uxy, r=radius_m)
    score = np.array([remaining[nb].sum() for nb in nbrs])
    eligible = np.ones(len(uxy), dtype=bool)
    for d in range(len(out)):
        masked = np.where(eligible, score, -1.0)
        c = int(np.argmax(masked))
        if masked[c] <= 0:
            break
        out[d] = score[c]
        for j in nbrs[c]:
            if remaining[j] > 0:
                score[nbrs[j]] -= remaining[j]  # the discs holding j (the same radius both ways)
                remaining[j] = 0.0
        if sep > 0:
            eligible[tree.query_ball_point(uxy[c], r=sep)] = False
        eligible[c] = False
    return out


def evaluate(
    areas: gpd.GeoDataFrame | gpd.GeoSeries,
    incidents: Incidents,
    *,
    study_area_m2: float | None = None,
    cell_size: float | None = None,
    radius_m: float | None = None,
) -> Evaluation:
    """Hit rate, PAI and PEI of ``areas`` (analysis CRS) on ``incidents``.

    Parameters
    ----------
    areas : GeoDataFrame or GeoSeries
        Hot spots or patrol areas, in the incidents' CRS. Overlaps are counted once.
    incidents : Incidents
        Usually a later (hold-out) period than the one the areas were built from.
    study_area_m2 : float, optional
        Defaults to ``incidents.study_area`` area.
    cell_size : float, optional
        The forecast's own cell size in metres (a KDE's or Gi*'s grid): PEI's best possible is
        the densest cells of this size with the same total area. Default: the 150 m patrol unit
        (:data:`~hotspots.constants.MICRO_PLACE_M`), for forecasts without a grid of their own.
    radius_m : float, optional
        PEI's best possible is discs of this radius, as many as fill the same area, placed with
        hindsight (:func:`best_disc_hits`): patrol areas (taken from a ``radius_m`` column when
        there is one) or clusters (the buffer their hulls are grown by).

    Returns
    -------
    Evaluation
    """
    geoms = np.asarray(getattr(areas, "geometry", areas).values, dtype=object)
    union = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    study = float(study_area_m2 if study_area_m2 is not None else incidents.study_area_m2)
    n_total = len(incidents)
    inc_idx, _ = (
        assign_incidents(np.array([union], dtype=object), incidents)
        if not union.is_empty
        else (np.empty(0), None)
    )
    n_inside = len(np.unique(inc_idx))
    area = float(union.area)
    hit = n_inside / n_total if n_total else float("nan")
    coverage = area / study if study > 0 else float("nan")
    pai = hit / coverage if coverage and coverage > 0 and n_total else float("nan")
    if radius_m is None and isinstance(areas, gpd.GeoDataFrame) and "radius_m" in areas.columns:
        radii = areas["radius_m"].dropna().unique()
        radius_m = float(radii[0]) if len(radii) == 1 else None
    if radius_m is not None:
        best_unit = ("discs", float(radius_m))
        unit = f"{2 * radius_m:g} m discs"
    else:
        best_unit = ("cells", MICRO_PLACE_M if cell_size is None else float(cell_size))
        unit = f"{best_unit[1]:g} m cells"
    best_n = best_hits(incidents.xy if n_total else np.empty((0, 2)), area, best_unit)
    best_hit = best_n / n_total if n_total else float("nan")
    best = best_hit / coverage if coverage and coverage > 0 and n_total else float("nan")
    pei = n_inside / best_n if best_n > 0 else float("nan")
    return Evaluation(n_inside, n_total, area, study, hit, coverage, pai, best, pei, best_hit, unit)


# ============================================================================================
# Ranked forecasts and their curves


@dataclass(frozen=True, eq=False)
class Ranking:
    """A forecast as disjoint units ranked by the method's own score, highest first.

    Build one with :func:`result_ranking`, :func:`polygon_ranking` or :func:`disc_ranking`.

    Attributes
    ----------
    name : str
        Forecast id (``"kde"``, ``"patrol_areas"``, ...; see :data:`FORECAST_LABELS`).
    unit : str
        What a unit is, for people (``"25 m cells"``, ``"clusters"``, ``"150 m discs"``).
    score : ndarray of float
        Non-increasing; equal scores are ties.
    area_m2 : ndarray of float
        Each unit's area inside the study area (units do not overlap).
    cell_size : float, optional
        Grid units: the cell side in metres; ``cells`` holds their lattice indices.
    cells : ndarray of int, shape (m, 2), optional
    parts : ndarray of shapely geometries, optional
        Polygon and disc units: their disjoint parts inside the study area.
    radius_m : float, optional
        Disc units (patrol areas, baselines): the radius; they are read at numbers of discs.
    best_unit : tuple of (str, float)
        What PEI's best possible is made of: ``("cells", side)`` or ``("discs", radius)``, metres
        (the forecast's own unit: a grid's cells, the discs of a disc forecast, the buffer a
        cluster polygon is grown by; default the 150 m patrol unit's cells).
    notes : tuple of str
    """

    name: str
    unit: str
    score: np.ndarray
    area_m2: np.ndarray
    cell_size: float | None = None
    cells: np.ndarray | None = None
    parts: np.ndarray | None = None
    radius_m: float | None = None
    best_unit: tuple[str, float] = ("cells", MICRO_PLACE_M)
    notes: tuple[str, ...] = field(default_factory=tuple)
    # the last points' hits (key: their bytes' digest): a disc forecast is read three times
    # against the same test incidents (curve, disc counts, disc curve)
    _last_hits: dict[bytes, np.ndarray] = field(default_factory=dict, repr=False, init=False)

    def __len__(self) -> int:
        return len(self.score)

    @property
    def is_discs(self) -> bool:
        return self.radius_m is not None

    def hits(self, xy: np.ndarray) -> np.ndarray:
        """Incidents (points, metres) inside each unit; a point on a shared edge counts once."""
        xy = np.ascontiguousarray(np.asarray(xy, dtype=float).reshape(-1, 2))
        key = hashlib.blake2b(xy.tobytes(), digest_size=16).digest()
        if key not in self._last_hits:
            self._last_hits.clear()
            self._last_hits[key] = self._hits(xy)
        return self._last_hits[key].copy()

    def _hits(self, xy: np.ndarray) -> np.ndarray:
        out = np.zeros(len(self))
        if len(xy) == 0 or len(self) == 0:
            return out
        if self.cells is not None:
            if self.cell_size is None:
                msg = f"{self.name}: grid units need their cell_size."
                raise ParameterError(msg)
            keys = cell_keys(self.cells)
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            pk = cell_keys(np.floor(xy / float(self.cell_size)).astype(np.int64))
            pos = np.clip(np.searchsorted(sk, pk), 0, len(sk) - 1)
            hit = sk[pos] == pk
            np.add.at(out, order[pos[hit]], 1.0)
            return out
        uxy, count = _points_and_counts(xy)
        tree = shapely.STRtree(self.parts)
        pt, unit = tree.query(shapely.points(uxy), predicate="intersects")
        first = np.full(len(uxy), len(self), dtype=np.int64)
        np.minimum.at(first, pt, unit)
        inside = first < len(self)
        np.add.at(out, first[inside], count[inside])
        return out


_POINTS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _points_and_counts(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct points of ``xy`` and the rows at each (:func:`unique_points`), remembered for
    the last set (every forecast of an origin is read against the same test incidents)."""
    key = hash(xy.tobytes())
    held = _POINTS.get(key)
    if held is None or held[0].shape != xy.shape or not np.array_equal(held[0], xy):
        _POINTS.clear()
        uxy, count = unique_points(xy, return_counts=True)
        held = _POINTS[key] = (xy.copy(), uxy, count)
    return held[1], held[2]


def _sorted(score: np.ndarray) -> np.ndarray:
    """Positions of the finite scores, highest first (stable: ties keep their given order)."""
    score = np.asarray(score, dtype=float)
    ok = np.flatnonzero(np.isfinite(score))
    return ok[np.argsort(-score[ok], kind="stable")]


#: Cells a side of the blocks :func:`_centres_meeting` settles at once.
_BLOCK_CELLS = 16
#: Under this many centres every one is tested (settling blocks costs more than it saves).
_FEW_CENTRES = 4096


def _centres_meeting(area: Any, x: np.ndarray, y: np.ndarray, cell_size: float) -> np.ndarray:
    """:func:`shapely.intersects_xy` of ``area`` and the centres ``x``, ``y`` of square cells of
    ``cell_size`` metres, a block of cells at a time (``area`` prepared here).

    The centres are grouped in squares of :data:`_BLOCK_CELLS` cells a side. Every point of a
    square that ``area`` contains meets ``area``, and no point of a square that does not meet
    ``area`` does, so only the centres of the squares on its boundary (and any centre that
    rounding put outside its square) are tested one by one; the answers are
    :func:`shapely.intersects_xy`'s, to the point.

    Examples
    --------
    >>> c = np.arange(0.5, 100) * 25.0
    >>> x, y = np.meshgrid(c, c)
    >>> area = shapely.Point(1250, 1250).buffer(800)
    >>> got = _centres_meeting(area, x.ravel(), y.ravel(), 25.0)
    >>> bool((got == shapely.intersects_xy(area, x.ravel(), y.ravel())).all()), int(got.sum())
    (True, 3212)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    shapely.prepare(area)
    if len(x) < _FEW_CENTRES:
        return shapely.intersects_xy(area, x, y)
    side = _BLOCK_CELLS * float(cell_size)
    bi = np.floor(x / side).astype(np.int64)
    bj = np.floor(y / side).astype(np.int64)
    keys, block_of = np.unique(cell_keys(np.column_stack([bi, bj])), return_inverse=True)
    block_of = block_of.ravel()
    first = np.zeros(len(keys), dtype=np.int64)
    first[block_of[::-1]] = np.arange(len(x))[::-1]  # one member of each square
    x0, y0 = bi[first] * side, bj[first] * side
    x1, y1 = (bi[first] + 1) * side, (bj[first] + 1) * side
    squares = shapely.box(x0, y0, x1, y1)
    full = shapely.contains(area, squares)
    meets = full.copy()
    meets[~full] = shapely.intersects(area, squares[~full])
    out = full[block_of]
    held = (x >= x0[block_of]) & (x <= x1[block_of]) & (y >= y0[block_of]) & (y <= y1[block_of])
    test = np.flatnonzero((meets & ~full)[block_of] | ~held)
    out[test] = shapely.intersects_xy(area, x[test], y[test])
    return out


def cell_ranking(
    name: str,
    cells: np.ndarray,
    score: np.ndarray,
    cell_size: float,
    study_area: Any,
    *,
    unit: str | None = None,
) -> Ranking:
    """Grid cells (lattice indices, ``cell_size`` metres) ranked by ``score``; cells whose centre
    lies outside ``study_area`` are left out."""
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    order = _sorted(score)
    cells, score = cells[order], np.asarray(score, dtype=float)[order]
    c = float(cell_size)
    if study_area is not None and not study_area.is_empty and len(cells):
        keep = _centres_meeting(study_area, (cells[:, 0] + 0.5) * c, (cells[:, 1] + 0.5) * c, c)
        cells, score = cells[keep], score[keep]
    return Ranking(
        name=name,
        unit=unit or f"{c:g} m cells",
        score=score,
        area_m2=np.full(len(cells), c * c),
        cell_size=c,
        cells=cells,
        best_unit=("cells", c),
    )


def polygon_ranking(
    name: str,
    geoms: Sequence[Any],
    score: np.ndarray,
    study_area: Any,
    *,
    unit: str = "polygons",
    radius_m: float | None = None,
    best_unit: tuple[str, float] | None = None,
) -> Ranking:
    """Polygons ranked by ``score``, clipped to ``study_area``; where they overlap, the part
    already held by a higher-ranked polygon is cut out of the lower one.

    ``radius_m`` marks disc units; ``best_unit`` is PEI's unit (default: discs of ``radius_m``,
    else 150 m cells)."""
    if best_unit is None:
        best_unit = ("discs", radius_m) if radius_m is not None else ("cells", MICRO_PLACE_M)
    order = _sorted(score)
    units = np.asarray(list(geoms), dtype=object)[order]
    score = np.asarray(score, dtype=float)[order]
    if len(units) and study_area is not None and not study_area.is_empty:
        shapely.prepare(study_area)
        inside = shapely.contains(study_area, units)
        if not inside.all():
            units = units.copy()
            units[~inside] = shapely.intersection(units[~inside], study_area)
    parts = units.copy()
    if len(units) > 1:
        tree = shapely.STRtree(units)
        left, right = tree.query(units, predicate="intersects")
        earlier = right < left
        for i in np.unique(left[earlier]):
            above = right[earlier & (left == i)]
            parts[i] = shapely.difference(units[i], shapely.union_all(units[above]))
    return Ranking(
        name=name,
        unit=unit,
        score=score,
        area_m2=shapely.area(parts).astype(float) if len(parts) else np.empty(0),
        parts=parts,
        radius_m=radius_m,
        best_unit=(str(best_unit[0]), float(best_unit[1])),
    )


def disc_ranking(name: str, discs: gpd.GeoDataFrame, study_area: Any) -> Ranking:
    """Discs (patrol areas or a baseline, with ``rank`` and ``radius_m`` columns) in rank order."""
    radius = float(discs["radius_m"].iloc[0]) if len(discs) else MICRO_PLACE_RADIUS_M
    score = -discs["rank"].to_numpy(dtype=float) if len(discs) else np.empty(0)
    return polygon_ranking(
        name,
        discs.geometry.to_numpy() if len(discs) else [],
        score,
        study_area,
        unit=f"{2 * radius:g} m discs",
        radius_m=radius,
    )


def result_ranking(result: HotspotResult, study_area: Any = None) -> Ranking:
    """A detection result's forecast as ranked units, before any significance filter.

    KDE: the surface's cells by density; Gi*: the grid's cells by ``z``; DBSCAN and HDBSCAN: the
    cluster polygons by ``intensity``. ``study_area`` defaults to the result's. PEI's unit is
    the grid's cell for KDE and Gi*, and for clusters a disc of the buffer their hulls are grown
    by (``eps / 2``: a cluster polygon is at least such a disc round each member location).
    """
    method = str(result.params.get("method", ""))
    area = result.incidents.study_area if study_area is None else study_area
    return _ranking(method, result.estimator, result.hotspots, area)


def _ranking(method: str, est: Any, hot: gpd.GeoDataFrame, area: Any) -> Ranking:
    """:func:`result_ranking` of a fitted detector ``est`` and its hot spots ``hot`` (read by
    the clusters' rule only)."""
    if method == "kde":
        surf = est.surface_
        c = float(surf.cell_size)
        i, j, v = surf.cell_values()
        oi, oj = round(surf.origin[0] / c), round(surf.origin[1] / c)
        return cell_ranking("kde", np.column_stack([i + oi, j + oj]), v, c, area)
    if method == "gistar":
        cells = est.cells_
        c = float(est.cell_size_)
        if len(cells) == 0:
            return cell_ranking("gistar", np.empty((0, 2)), np.empty(0), c, area)
        b = shapely.bounds(cells.geometry.to_numpy())
        ij = np.column_stack([np.round(b[:, 0] / c), np.round(b[:, 1] / c)]).astype(np.int64)
        return cell_ranking("gistar", ij, cells["z"].to_numpy(dtype=float), c, area)
    if method in ("dbscan", "hdbscan"):
        buffer = float(est.params_["buffer_m"])
        return polygon_ranking(
            method,
            hot.geometry.to_numpy() if len(hot) else [],
            hot["intensity"].to_numpy(dtype=float) if len(hot) else np.empty(0),
            area,
            unit="clusters",
            best_unit=("discs", buffer),
        )
    msg = f"no ranking rule for method {method!r}."
    raise ParameterError(msg)


def coverage_curve(ranking: Ranking, test_xy: np.ndarray, study_area_m2: float) -> pd.DataFrame:
    """Hit rate and PAI against coverage, down the ranked units (ties as one block).

    Parameters
    ----------
    ranking : Ranking
    test_xy : ndarray of shape (N, 2)
        Every test incident (metres); those outside the study area count in ``N`` as misses.
    study_area_m2 : float

    Returns
    -------
    pandas.DataFrame
        One row per block end, after a first row at zero: ``units`` (cumulative), ``area_m2``,
        ``hits``, ``coverage`` (0-1), ``hit_rate`` (0-1) and ``pai``. Between two rows the curve
        is linear (a share of a block is credited that share of its incidents).
    """
    hits = ranking.hits(test_xy)
    n = len(np.asarray(test_xy).reshape(-1, 2))
    s = ranking.score
    ends = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1] if len(s) else np.empty(0, int)
    area = np.r_[0.0, np.cumsum(ranking.area_m2)[ends]]
    got = np.r_[0.0, np.cumsum(hits)[ends]]
    cov = area / study_area_m2 if study_area_m2 > 0 else np.full(len(area), np.nan)
    rate = got / n if n else np.full(len(got), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pai = np.where(cov > 0, rate / cov, np.nan)
    return pd.DataFrame(
        {
            "units": np.r_[0, ends + 1].astype(np.int64),
            "area_m2": area,
            "hits": got,
            "coverage": cov,
            "hit_rate": rate,
            "pai": pai,
        }
    )


def best_hits(xy: np.ndarray, area_m2: float, unit: tuple[str, float]) -> float:
    """Incidents the best possible units of one kind catch in ``area_m2`` (PEI's numerator).

    ``unit`` is ``("cells", side)`` (:func:`best_cell_hits`) or ``("discs", radius)``
    (:func:`best_disc_hits`, as many discs as fill the area), metres; a fractional last unit
    counts that fraction of its incidents.
    """
    kind, size = unit
    if area_m2 <= 0 or len(np.asarray(xy).reshape(-1, 2)) == 0:
        return 0.0
    if kind == "discs":
        r = float(size)
        k = area_m2 / disc_area(r)
        whole = int(math.floor(k + 1e-9))
        per = np.diff(_best_disc_cum(xy, whole + 1, r), prepend=0.0)
        return float(per[:whole].sum() + max(k - whole, 0.0) * per[whole])
    return best_cell_hits(xy, area_m2 / (size * size), size)


_BEST_DISCS: dict[tuple[int, float], np.ndarray] = {}


def _best_disc_cum(xy: np.ndarray, k: int, radius_m: float) -> np.ndarray:
    """Cumulative :func:`best_disc_hits` for at least ``k`` discs, remembered for the last test set
    (every disc forecast of an origin is read against the same best discs)."""
    xy = np.ascontiguousarray(np.asarray(xy, dtype=float).reshape(-1, 2))
    key = (hash(xy.tobytes()), float(radius_m))
    cum = _BEST_DISCS.get(key)
    if cum is None or len(cum) < k:
        _BEST_DISCS.clear()
        cum = np.cumsum(best_disc_hits(xy, max(k, 128), radius_m=radius_m))
        _BEST_DISCS[key] = cum
    return cum


def read_coverage(
    ranking: Ranking,
    curve: pd.DataFrame,
    test_xy: np.ndarray,
    study_area_m2: float,
    coverages: Sequence[float] = COVERAGES,
    *,
    best_xy: np.ndarray | None = None,
) -> pd.DataFrame:
    """A ranking's curve read at ``coverages`` (shares of the study area), with PEI.

    ``test_xy`` are every test incident (``N``); PEI's best possible is placed on ``best_xy``
    (default ``test_xy``; :func:`compare_forecasts` passes those inside the study area, where the
    forecast's units are).

    Returns
    -------
    pandas.DataFrame
        One row per coverage: ``target``, ``reached`` (the units cover at least that much),
        ``coverage``, ``units`` (units used, a fraction for a partly used block), ``hits``,
        ``hit_rate``, ``pai``, ``best_hit_rate`` (the same units placed with hindsight) and
        ``pei``; NaN where not reached.
    """
    n = len(np.asarray(test_xy).reshape(-1, 2))
    rows = []
    top = float(curve["area_m2"].iloc[-1]) if len(curve) else 0.0
    for target in coverages:
        a = float(target) * study_area_m2
        row: dict[str, Any] = {"target": float(target), "reached": bool(a <= top * (1 + 1e-9))}
        if row["reached"] and n:
            hits = float(np.interp(a, curve["area_m2"], curve["hits"]))
            best = best_hits(test_xy if best_xy is None else best_xy, a, ranking.best_unit)
            row.update(
                coverage=float(target),
                units=float(np.interp(a, curve["area_m2"], curve["units"])),
                hits=hits,
                hit_rate=hits / n,
                pai=hits / n / float(target),
                best_hit_rate=best / n,
                pei=hits / best if best > 0 else float("nan"),
            )
        rows.append(row)
    cols = ["target", "reached", "coverage", "units", "hits", "hit_rate", "pai"]
    return pd.DataFrame(rows).reindex(columns=[*cols, "best_hit_rate", "pei"])


def read_discs(
    ranking: Ranking,
    test_xy: np.ndarray,
    study_area_m2: float,
    counts: Sequence[int] = DISC_COUNTS,
    *,
    best_xy: np.ndarray | None = None,
) -> pd.DataFrame:
    """The top ``k`` discs of a disc ranking for each ``k`` in ``counts``: hit rate, PAI, PEI.

    Returns one row per ``k`` with the columns of :func:`read_coverage` (``target`` is ``k``;
    not ``reached`` when the ranking has fewer than ``k`` discs); ``best_xy`` as there.
    """
    if ranking.radius_m is None:
        msg = f"{ranking.name} is not made of discs."
        raise ParameterError(msg)
    n = len(np.asarray(test_xy).reshape(-1, 2))
    hits = np.cumsum(ranking.hits(test_xy))
    area = np.cumsum(ranking.area_m2)
    best = _best_disc_cum(
        test_xy if best_xy is None else best_xy,
        max(counts, default=0),
        float(ranking.radius_m),
    )
    rows = []
    for k in counts:
        k = int(k)
        row: dict[str, Any] = {"target": float(k), "reached": bool(0 < k <= len(ranking))}
        if row["reached"] and n:
            cov = area[k - 1] / study_area_m2
            b = float(best[k - 1])
            row.update(
                coverage=cov,
                units=float(k),
                hits=float(hits[k - 1]),
                hit_rate=hits[k - 1] / n,
                pai=hits[k - 1] / n / cov if cov > 0 else float("nan"),
                best_hit_rate=b / n,
                pei=hits[k - 1] / b if b > 0 else float("nan"),
            )
        rows.append(row)
    cols = ["target", "reached", "coverage", "units", "hits", "hit_rate", "pai"]
    return pd.DataFrame(rows).reindex(columns=[*cols, "best_hit_rate", "pei"])


# ============================================================================================
# Baselines: patrol-sized discs placed without the patrol-area rule


def _spaced(xy: np.ndarray, k: int, separation: float) -> np.ndarray:
    """Indices of the first ``k`` points of ``xy`` (already in preference order) that lie at least
    ``separation`` metres from every point taken before them.

    The points are read in blocks; a k-d tree of the points taken in earlier blocks drops at once
    the points surely nearer to one of them than ``separation`` (by more than rounding), and the
    rest are taken or not one by one, each against the taken points in its 3 x 3 buckets of side
    ``separation``. So only the few points near the frontier are looked at in Python, and the
    choice is the one-by-one rule's.

    Examples
    --------
    >>> _spaced(np.array([[0.0, 0], [100, 0], [150, 0], [0, 149.9], [400, 0]]), 5, 150.0).tolist()
    [0, 2, 4]
    """
    taken: list[int] = []
    if k <= 0 or len(xy) == 0:
        return np.array(taken, dtype=np.int64)
    if separation <= 0:
        return np.arange(min(k, len(xy)), dtype=np.int64)
    xy = np.asarray(xy, dtype=float)
    buckets: dict[tuple[int, int], list[int]] = {}
    s2 = separation * separation
    surely = separation * (1 - 1e-9)  # nearer than this is nearer than separation
    start, block = 0, 4096
    while start < len(xy) and len(taken) < k:
        stop = min(start + block, len(xy))
        todo = np.arange(start, stop)
        if taken:
            d, _ = cKDTree(xy[taken]).query(xy[start:stop], distance_upper_bound=surely)
            todo = todo[~(d < surely)]
        for idx in todo.tolist():
            x, y = xy[idx]
            bx, by = math.floor(x / separation), math.floor(y / separation)
            close = False
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for t in buckets.get((bx + dx, by + dy), ()):
                        if (xy[t, 0] - x) ** 2 + (xy[t, 1] - y) ** 2 < s2:
                            close = True
                            break
                    if close:
                        break
                if close:
                    break
            if close:
                continue
            taken.append(idx)
            buckets.setdefault((bx, by), []).append(idx)
            if len(taken) == k:
                break
        start = stop
        block = max(block, 2 * len(taken))
    return np.array(taken, dtype=np.int64)


def _discs(
    centres: np.ndarray, score: np.ndarray, radius_m: float, crs: Any, rule: str
) -> gpd.GeoDataFrame:
    centres = np.asarray(centres, dtype=float).reshape(-1, 2)
    geoms = shapely.buffer(shapely.points(centres), radius_m, quad_segs=16) if len(centres) else []
    gdf = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(centres) + 1),
            "centre_x": centres[:, 0],
            "centre_y": centres[:, 1],
            "radius_m": float(radius_m),
            "score": np.asarray(score, dtype=float),
        },
        geometry=gpd.GeoSeries(geoms, crs=crs),
        crs=crs,
    )
    gdf.attrs["params"] = {"rule": rule, "radius_m": float(radius_m)}
    return gdf


def point_count_discs(
    incidents: Incidents,
    n_discs: int,
    *,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    separation_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Naive baseline: discs on the map points holding the most incidents.

    The distinct locations are taken in order of the incidents recorded *at* them (ties: in
    coordinate order), skipping any closer than ``separation_m`` (default ``2 * radius_m``, so discs
    never overlap) to one already taken, until ``n_discs`` are placed. No kernel, no capture
    accounting: what an analyst gets by sorting police.uk's snapped points by count.

    Returns
    -------
    geopandas.GeoDataFrame
        ``rank`` (1 first), ``centre_x``, ``centre_y`` (metres), ``radius_m``, ``score`` (incidents
        at the point) and the disc ``geometry`` (analysis CRS).
    """
    sep = 2.0 * radius_m if separation_m is None else float(separation_m)
    xy = incidents.xy if len(incidents) else np.empty((0, 2))
    uxy, count = (
        unique_points(xy, return_counts=True) if len(xy) else (np.empty((0, 2)), np.empty(0))
    )
    order = np.argsort(-count, kind="stable")
    take = order[_spaced(uxy[order], int(n_discs), sep)]
    return _discs(uxy[take], count[take], radius_m, incidents.crs, "busiest map points")


def _arcgis_cell_size(x: np.ndarray, y: np.ndarray) -> float:
    """ArcGIS Pro's default Kernel Density cell size: the points' extent's shorter side / 250."""
    side = min(float(np.ptp(x)), float(np.ptp(y))) if len(x) else 0.0
    return side / ARCGIS_CELLS_PER_SIDE if side > 0 else MICRO_PLACE_M


def kde_peak_discs(
    incidents: Incidents,
    n_discs: int,
    *,
    bandwidth: float | None = None,
    bandwidth_rule: str = "micro-place",
    cell_size: float | None = None,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    separation_m: float | None = None,
    surface: DensitySurface | None = None,
) -> gpd.GeoDataFrame:
    """Baseline: discs on the peaks of a quartic kernel density surface.

    The surface's cells inside the study area are taken from the densest down, skipping any whose
    centre is closer than ``separation_m`` (default ``2 * radius_m``) to a disc already placed,
    until ``n_discs`` discs are centred on the cells taken: the hottest raster cells, as an analyst
    would patrol them.

    Parameters
    ----------
    incidents : Incidents
    n_discs : int
    bandwidth : float, optional
        Metres. Default by ``bandwidth_rule``.
    bandwidth_rule : {"micro-place", "arcgis"}, default "micro-place"
        ``"micro-place"``: 150 m with 25 m cells (:class:`hotspots.kde.KDEHotspots`'s default).
        ``"arcgis"``: ArcGIS Pro's defaults, the spatial Silverman bandwidth
        (:func:`hotspots.kde.arcgis_bandwidth`) and a cell of the shorter side of the points'
        extent / 250 (Esri, "How Kernel Density works").
    cell_size : float, optional
        Metres; overrides the rule's.
    radius_m, separation_m : float
        Disc radius and least distance between centres, metres.
    surface : DensitySurface, optional
        The quartic surface of these incidents at this bandwidth and cell size, already made
        (:func:`_detector_surface`: the KDE detector's); default: made here.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`point_count_discs`; ``score`` is the density (incidents per km²) and
        ``attrs["params"]`` records the bandwidth and cell size.
    """
    from hotspots.grid import default_cell_size
    from hotspots.kde import MICRO_PLACE_BANDWIDTH_M, arcgis_bandwidth, density_surface

    if bandwidth_rule not in ("micro-place", "arcgis"):
        msg = f"bandwidth_rule must be 'micro-place' or 'arcgis', got {bandwidth_rule!r}."
        raise ParameterError(msg)
    x = incidents.frame["x"].to_numpy(dtype=float)
    y = incidents.frame["y"].to_numpy(dtype=float)
    if bandwidth is None:
        bandwidth = arcgis_bandwidth(x, y) if bandwidth_rule == "arcgis" else None
        if bandwidth is None or not (math.isfinite(bandwidth) and bandwidth > 0):
            bandwidth = MICRO_PLACE_BANDWIDTH_M
    if cell_size is None:
        cell_size = (
            _arcgis_cell_size(x, y)
            if bandwidth_rule == "arcgis"
            else default_cell_size(float(bandwidth))
        )
    sep = 2.0 * radius_m if separation_m is None else float(separation_m)
    surf = (
        density_surface(x, y, bandwidth=float(bandwidth), cell_size=float(cell_size))
        if surface is None
        else surface
    )
    cx, cy, v = surf.cells()
    area = incidents.study_area
    if len(cx) and area is not None and not area.is_empty:
        keep = _centres_meeting(area, cx, cy, float(cell_size))
        cx, cy, v = cx[keep], cy[keep], v[keep]
    order = np.argsort(-v, kind="stable")
    xy = np.column_stack([cx[order], cy[order]])
    take = _spaced(xy, int(n_discs), sep)
    rule = "ArcGIS-rule KDE peaks" if bandwidth_rule == "arcgis" else "KDE peaks"
    gdf = _discs(xy[take], v[order][take], radius_m, incidents.crs, rule)
    gdf.attrs["params"].update(
        {
            "bandwidth_m": float(bandwidth),
            "cell_size_m": float(cell_size),
            "rule_name": bandwidth_rule,
        }
    )
    return gdf


# ============================================================================================
# Concentration curves (retrospective)


def concentration_curve(hotspots: gpd.GeoDataFrame, study_area_m2: float) -> pd.DataFrame:
    """Cumulative share of incidents against cumulative share of area, down the ranked list.

    Returns a DataFrame with ``rank``, ``area_share`` and ``incident_share`` (both cumulative,
    0-1), starting at (0, 0).
    """
    h = hotspots.sort_values("rank")
    area = (
        np.cumsum(h["area_m2"].to_numpy(dtype=float)) / study_area_m2
        if study_area_m2 > 0
        else np.zeros(len(h))
    )
    share = np.cumsum(h["share"].to_numpy(dtype=float))
    return pd.DataFrame(
        {
            "rank": np.r_[0, h["rank"].to_numpy()],
            "area_share": np.r_[0.0, area],
            "incident_share": np.r_[0.0, share],
        }
    )


def grid_concentration_curve(
    incidents: Incidents, cell_size: float = MICRO_PLACE_M
) -> pd.DataFrame:
    """Share of incidents against share of the study area for cells ranked by count.

    The law of crime concentration curve (Weisburd 2015, Criminology 53(2)): ``area_share`` is the
    cumulative area of the densest cells as a share of the study area, ``incident_share`` the
    incidents they hold. Only occupied cells are listed, so no dense grid is built.
    """
    if len(incidents) == 0:
        return pd.DataFrame({"area_share": [0.0], "incident_share": [0.0]})
    ij = np.floor(incidents.xy / cell_size).astype(np.int64)
    _, counts = np.unique(ij, axis=0, return_counts=True)
    counts = np.sort(counts)[::-1]
    study = incidents.study_area_m2
    area = (
        np.arange(1, len(counts) + 1) * cell_size**2 / study if study > 0 else np.zeros(len(counts))
    )
    return pd.DataFrame(
        {
            "area_share": np.r_[0.0, area],
            "incident_share": np.r_[0.0, np.cumsum(counts) / len(incidents)],
        }
    )


# ============================================================================================
# Training and test periods


def split_by_month(incidents: Incidents, first_test_month: str) -> tuple[Incidents, Incidents]:
    """Split incidents into a training period (before ``first_test_month``, "YYYY-MM") and a test
    period (from it on). Both keep the same CRS and study area (:func:`training_study_area` gives
    the study area an evaluation should use); incidents without a month belong to neither (a note
    says how many)."""
    start = pd.Timestamp(first_test_month)
    month = incidents.frame["month"]
    train = (month < start).to_numpy()
    test = (month >= start).to_numpy()
    if not train.any() or not test.any():
        first = month.min()
        last = month.max()
        msg = (
            f"Splitting at {first_test_month} leaves an empty training or test period "
            f"(the data run from {first:%Y-%m} to {last:%Y-%m})."
        )
        raise ParameterError(msg)
    undated = int(month.isna().sum())
    left_out = (
        f" {undated} incident(s) without a month were left out of both periods." if undated else ""
    )
    return (
        incidents.subset(train, note=f"Training period: before {first_test_month}.{left_out}"),
        incidents.subset(test, note=f"Test period: {first_test_month} on.{left_out}"),
    )


def _boundary_given(incidents: Incidents) -> bool:
    return incidents.report.choices.get("study_area_rule") == "given"


def training_study_area(train: Incidents) -> Incidents:
    """The training incidents with the study area an evaluation should use.

    The boundary the user gave (``study_area=`` when reading) is kept. Otherwise the study area is
    drawn afresh round the training incidents by the ingest rule
    (:func:`hotspots.ingest.default_study_area`), so no test-period incident shapes it (the area
    read with the data was drawn round every month, test months included).
    """
    if _boundary_given(train) or len(train) == 0:
        return train
    from hotspots.ingest import default_study_area

    area = default_study_area(train.frame["x"].to_numpy(), train.frame["y"].to_numpy())
    note = (
        f"Evaluation study area: {area.area / 1e6:.2f} km², drawn round the training incidents "
        "only (give a boundary with study_area= to use your own)."
    )
    rep = train.report
    report = dataclasses.replace(
        rep,
        notes=[*rep.notes, note],
        choices=dict(rep.choices),
        rejected=deferred_or_table(rep),  # passed on as held: never built here
    )
    return Incidents(train.frame, train.crs, area, report)


# ============================================================================================
# Hold-out of one method's delivered hot spots (the app's table)


def holdout(
    incidents: Incidents,
    first_test_month: str,
    *,
    methods: tuple[str, ...] = ("kde", "dbscan", "gistar"),
    significant_only: bool = True,
    cell_size: float | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Hold-out evaluation of the hot spots each method delivers, at the method's own coverage.

    Hot spots are built on the training period (before ``first_test_month``) within a study area
    drawn from the training period only (:func:`training_study_area`) and scored on the test
    period: coverage, hit rate, PAI and PEI on the method's own unit (KDE's and Gi*'s cells;
    for clusters, discs of the buffer their hulls are grown by; ``cell_size`` cells when given).
    Coverages differ between methods, so PAIs here are not comparable across rows: compare methods
    with :func:`compare_forecasts` or :func:`rolling_evaluation`, which read every method at the
    same coverage. ``params`` maps a method to its detector parameters (e.g. ``{"kde": {"bandwidth":
    100}}``); they are in the ``parameters`` column.
    """
    from hotspots.detect import detect

    train, test = split_by_month(incidents, first_test_month)
    train = training_study_area(train)
    rows = []
    for method in methods:
        kwargs = dict((params or {}).get(method, {}))
        result = detect(train, method, **kwargs)
        hs = result.hotspots
        if significant_only:
            hs = hs[hs["significant"]]
        unit: dict[str, float] = {}
        if cell_size is not None:
            unit["cell_size"] = float(cell_size)
        elif method in ("kde", "gistar"):
            unit["cell_size"] = float(result.estimator.cell_size_)
        elif method in ("dbscan", "hdbscan"):
            unit["radius_m"] = float(result.params["method_parameters"]["buffer_m"])
        ev = evaluate(hs, test, study_area_m2=train.study_area_m2, **unit)
        rows.append({"method": method, "hotspots": len(hs), **ev.to_dict(), "parameters": kwargs})
    return pd.DataFrame(rows)


def _inside_mask(test: Incidents, study_area: Any) -> np.ndarray:
    """Which incidents lie in (or on the edge of) ``study_area``; all when it has no area."""
    if study_area is None or study_area.is_empty or study_area.area <= 0 or not len(test):
        return np.ones(len(test), dtype=bool)
    shapely.prepare(study_area)
    xy = test.xy
    return shapely.intersects_xy(study_area, xy[:, 0], xy[:, 1])


# ============================================================================================
# Every forecast at equal coverage and equal numbers of discs


def _label(at: str, target: float) -> str:
    return f"{100 * target:g}%" if at == "coverage" else f"top {int(target)}"


def compare_forecasts(
    train: Incidents,
    test: Incidents,
    *,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = COVERAGES,
    disc_counts: Sequence[int] = DISC_COUNTS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    curve_points: int = 50,
    others: Incidents | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Every forecast built on ``train``, read on ``test`` at equal coverage and equal disc counts.

    Parameters
    ----------
    train : Incidents
        The training incidents; their study area is the evaluation's (pass them through
        :func:`training_study_area` first so that no test incident shaped it).
    test : Incidents
        The test incidents, all of them ``N``: those outside the study area are misses for every
        forecast (a note says how many).
    methods : sequence of str, default all four detectors
        Each is fitted with its defaults (or ``params[method]``) and ranked by its own score
        (:func:`result_ranking`), without a significance filter.
    coverages : sequence of float, default (0.005, 0.01, 0.02, 0.05)
        Shares of the study area every forecast is read at.
    disc_counts : sequence of int, default (10, 20, 50, 100)
        Numbers of discs the patrol areas and the baselines are read at; they are also read at
        the number of patrol areas made ("all").
    params : mapping, optional
        Detector parameters by method.
    radius_m : float, default 75
        Patrol area and baseline disc radius, metres.
    curve_points : int, default 50
        Points of each coverage curve (up to the largest coverage) in the returned curves.
    others : Incidents, optional
        Other crime and anti-social behaviour of the training months: the near misses the patrol
        areas' forecast may weigh (:class:`hotspots.forecast.PlaceForecast`).

    Returns
    -------
    table : pandas.DataFrame
        One row per forecast and reading: ``forecast`` (id, see :data:`FORECAST_LABELS`),
        ``unit``, ``at`` (``"coverage"`` or ``"discs"``), ``label`` (``"1%"``, ``"top 20"``,
        ``"all"``), ``n_test``, then the columns of :func:`read_coverage`.
    curves : pandas.DataFrame
        ``forecast``, ``axis`` (``"coverage"`` or ``"discs"``), ``x`` (coverage 0-1 or number of
        discs), ``hit_rate``, ``pai``: the curves behind the table (NaN beyond a forecast's reach).
    notes : list of str
    """
    params = params or {}
    study = train.study_area
    study_m2 = float(train.study_area_m2)
    inside = _inside_mask(test, study)
    test_xy = test.xy if len(test) else np.empty((0, 2))
    best_xy = test_xy[inside]
    n_test = len(test_xy)
    notes: list[str] = []
    if (~inside).any():
        notes.append(
            f"{int((~inside).sum())} of {len(test)} test incidents lie outside the study area and "
            "count as misses for every forecast."
        )
    rankings, n_patrol = _forecast_rankings(
        train, methods, params, radius_m, disc_counts, coverages, notes, others
    )
    rows: list[pd.DataFrame] = []
    curve_rows: list[pd.DataFrame] = []
    xs = np.linspace(0.0, max(coverages, default=0.05), curve_points + 1)[1:]
    for rk in rankings:
        curve = coverage_curve(rk, test_xy, study_m2)
        cov = read_coverage(rk, curve, test_xy, study_m2, coverages, best_xy=best_xy)
        cov.insert(0, "label", [_label("coverage", t) for t in cov["target"]])
        cov.insert(0, "at", "coverage")
        parts = [cov]
        reach = float(curve["coverage"].iloc[-1]) if len(curve) else 0.0
        missed = [lab for lab, ok in zip(cov["label"], cov["reached"], strict=True) if not ok]
        if missed:
            notes.append(
                f"{FORECAST_LABELS.get(rk.name, rk.name)}: its {len(rk)} units cover only "
                f"{reach:.2%} of the study area, so it is not read at {', '.join(missed)}."
            )
        hit = np.interp(xs * study_m2, curve["area_m2"], curve["hits"]) / max(n_test, 1)
        hit[xs > reach * (1 + 1e-9)] = np.nan
        curve_rows.append(
            pd.DataFrame(
                {"forecast": rk.name, "axis": "coverage", "x": xs, "hit_rate": hit, "pai": hit / xs}
            )
        )
        if rk.is_discs:
            counts = [*disc_counts, n_patrol] if n_patrol else list(disc_counts)
            dis = read_discs(rk, test_xy, study_m2, counts, best_xy=best_xy)
            labels = [_label("discs", t) for t in dis["target"]]
            if n_patrol:
                labels[-1] = "all"
            dis.insert(0, "label", labels)
            dis.insert(0, "at", "discs")
            parts.append(dis)
            curve_rows.append(_disc_curve(rk, test_xy, study_m2, disc_counts, n_test))
        block = pd.concat(parts, ignore_index=True)
        block.insert(0, "unit", rk.unit)
        block.insert(0, "forecast", rk.name)
        block.insert(4, "n_test", n_test)
        rows.append(block)
    table = pd.concat(rows, ignore_index=True)
    table["reached"] = table["reached"].astype(bool)
    return table, pd.concat(curve_rows, ignore_index=True), notes


def _forecast_rankings(
    train: Incidents,
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]],
    radius_m: float,
    disc_counts: Sequence[int],
    coverages: Sequence[float],
    notes: list[str],
    others: Incidents | None = None,
) -> tuple[list[Ranking], int]:
    """Every forecast's ranked units: the detectors, the patrol areas and the baselines.

    Also the number of patrol areas made (they are read at that count too).
    """
    from hotspots.forecast import PlaceForecast

    study = train.study_area
    study_m2 = float(train.study_area_m2)
    rankings: list[Ranking] = []
    kde_result = None
    for method in methods:
        result = _fitted(train, method, params.get(method, {}))
        if method == "kde":
            kde_result = result
        rankings.append(_ranking(method, result.estimator, result.hotspots, study))
    forecast = PlaceForecast(radius_m=radius_m).fit(train, others=others)
    areas = _patrol_discs(forecast, train.crs)
    n_patrol = len(areas)
    rankings.append(disc_ranking(PATROL, areas, study))
    fc = forecast.params_
    notes.append(
        f"Patrol areas: {n_patrol} discs of {2 * radius_m:g} m placed and ranked by the violence "
        f"expected next month, learned from the training months only (half-life "
        f"{fc.get('half_life')}, other-crime weight {fc.get('other_weight')}, shrinkage "
        f"{fc.get('shrinkage')} over {fc.get('neighbourhood_m')} m cells; "
        f"{fc.get('weights_chosen_by', {}).get('shrinkage', 'given')})."
    )
    k_max = max(
        max(disc_counts, default=0),
        n_patrol,
        # a quarter more than the largest coverage needs: discs at the edge are clipped
        math.ceil(1.25 * max(coverages, default=0) * study_m2 / disc_area(radius_m)) + 1,
    )
    arcgis = kde_peak_discs(train, k_max, bandwidth_rule="arcgis", radius_m=radius_m)
    naive_kde = kde_peak_discs(
        train,
        k_max,
        radius_m=radius_m,
        surface=None if kde_result is None else _detector_surface(kde_result, len(train)),
    )
    rankings.append(disc_ranking(FORECAST, forecast.discs(k_max, crs=train.crs), study))
    for name, discs in (
        (NAIVE_POINTS, point_count_discs(train, k_max, radius_m=radius_m)),
        (NAIVE_KDE, naive_kde),
        (ARCGIS_KDE, arcgis),
    ):
        rankings.append(disc_ranking(name, discs, study))
    notes.append(
        f"ArcGIS-rule KDE: bandwidth {arcgis.attrs['params']['bandwidth_m']:,.0f} m (spatial "
        f"Silverman rule), cell {arcgis.attrs['params']['cell_size_m']:,.0f} m (shorter side of "
        "the extent / 250), ArcGIS Pro's defaults."
    )
    return rankings, n_patrol


def _patrol_discs(forecast: PlaceForecast, crs: Any = None) -> gpd.GeoDataFrame:
    """The patrol areas' discs, in rank order: what :func:`hotspots.patrol.make_patrol_areas`
    places with ``forecast`` and its defaults (the forecast's discs holding at least
    :data:`~hotspots.constants.MIN_AREA_INCIDENTS` training incidents, at most
    :data:`~hotspots.constants.MAX_PATROL_AREAS`; the same 64-sided polygons), without the
    columns that describe each area (months, trend, place, time profile), which the evaluation
    does not read."""
    return forecast.discs(MAX_PATROL_AREAS, min_incidents=MIN_AREA_INCIDENTS, crs=crs)


#: Detectors whose forecast is read from the fitted estimator alone (the KDE surface's cells, the
#: Gi* grid's cells): the evaluation fits them without :func:`hotspots.detect.detect`'s ranking
#: and its significance test, which change nothing the evaluation reads.
_FIT_ONLY = ("kde", "gistar")
#: Keywords of :func:`hotspots.detect.detect` that are not detector parameters.
_DETECT_KEYWORDS = frozenset({"order", "alpha", "fdr", "progress", "engine", "scheduler"})


@dataclass(frozen=True)
class _Fit:
    """A detector fitted on the training incidents, as the evaluation reads it."""

    estimator: Any
    hotspots: gpd.GeoDataFrame  # ranked by detect, or as the detector found them


def _fitted(train: Incidents, method: str, params: Mapping[str, Any]) -> _Fit:
    """``method`` fitted on ``train``: by :func:`hotspots.detect.detect` for the clusters (their
    ranking reads the ranked intensity), else the estimator alone (:data:`_FIT_ONLY`), its
    polygons that hold no training incident left out as detect leaves them out."""
    from hotspots.detect import detect, make_estimator
    from hotspots.profile import holding_incidents

    if method not in _FIT_ONLY or _DETECT_KEYWORDS & set(params):
        result = detect(train, method, **dict(params))
        return _Fit(result.estimator, result.hotspots)
    est = make_estimator(method, **dict(params)).fit(train)
    return _Fit(est, holding_incidents(est.hotspots_, train))


def _detector_surface(result: HotspotResult | _Fit, n: int) -> DensitySurface | None:
    """The KDE detector's surface when it is the one :func:`kde_peak_discs` makes by default (the
    micro-place bandwidth and its cell size, quartic, unweighted, by the same method, on the same
    ``n`` incidents), else None."""
    from hotspots.grid import default_cell_size
    from hotspots.kde import MICRO_PLACE_BANDWIDTH_M, surface_method

    est = result.estimator
    p = getattr(est, "params_", None) or {}
    bandwidth = MICRO_PLACE_BANDWIDTH_M
    cell = default_cell_size(bandwidth)
    same = (
        p.get("method") == "kde"
        and p.get("kernel_support_m") is not None
        and getattr(est, "kernel_", None) == "quartic"
        and p.get("bandwidth_m") == bandwidth
        and p.get("cell_size_m") == cell
        and p.get("weighted") is False
        and p.get("n_incidents") == n
        and p.get("surface_method_used")
        == surface_method(n, bandwidth=bandwidth, cell_size=cell, kernel="quartic")
    )
    return est.surface_ if same else None


def _disc_curve(
    rk: Ranking,
    test_xy: np.ndarray,
    study_m2: float,
    disc_counts: Sequence[int],
    n_test: int,
) -> pd.DataFrame:
    """Hit rate and PAI of the first k discs, k = 1 .. the largest disc count."""
    kx = np.arange(1, max(disc_counts, default=0) + 1)
    got = np.cumsum(rk.hits(test_xy))
    kh = np.full(len(kx), np.nan)
    kh[: min(len(kx), len(got))] = got[: len(kx)] / max(n_test, 1)
    area = np.cumsum(rk.area_m2)
    ka = np.full(len(kx), np.nan)
    ka[: min(len(kx), len(area))] = area[: len(kx)] / study_m2
    return pd.DataFrame(
        {"forecast": rk.name, "axis": "discs", "x": kx, "hit_rate": kh, "pai": kh / ka}
    )


# ============================================================================================
# Rolling origins


@dataclass(frozen=True, eq=False)
class RollingEvaluation:
    """What :func:`rolling_evaluation` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        :func:`compare_forecasts`'s table for every origin, with ``origin`` (the test period,
        ``"YYYY-MM"``, or ``"YYYY-MM on"`` for a single split) first.
    summary : pandas.DataFrame
        Means by ``forecast``, ``unit``, ``at`` and ``label`` over the origins at which the
        forecast reached the reading (``n_origins`` of them).
    curves : pandas.DataFrame
        Mean curves over the origins (``forecast``, ``axis``, ``x``, ``hit_rate``, ``pai``); NaN
        where a forecast does not reach that far at every origin.
    origins : tuple of str
    params : dict
        Every setting and automatic choice, JSON-serialisable.
    notes : tuple of str
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame
    origins: tuple[str, ...]
    params: dict[str, Any]
    notes: tuple[str, ...]


def default_origins(n_periods: int) -> int:
    """Rolling origins run by default for ``n_periods`` observed months.

    ``min(6, n_periods // 2)`` (0 below two months). Each origin tests one month; one month's hit
    rate is noisy (the top 20 discs of a force catch a few dozen incidents, so the Poisson error
    alone is 15-20 %), and averaging up to six months, half a year of seasons, cuts that about
    2.4 times. At most half the months are tested, so even the first origin trains on as many
    months as are tested after it, and every origin trains on all the months before it (an
    expanding window, as a force would use all its history).

    Examples
    --------
    >>> [default_origins(n) for n in (1, 2, 3, 6, 12, 24)]
    [0, 1, 1, 3, 6, 6]
    """
    return min(MAX_ORIGINS, max(int(n_periods), 0) // 2)


def _origin_splits(
    incidents: Incidents, origins: int | None, first_test_month: str | None, notes: list[str]
) -> tuple[list[tuple[str, np.ndarray, np.ndarray]], str]:
    """(label, training rows, test rows) of each origin, and the rule in words."""
    month = incidents.frame["month"]
    months = incidents.months
    splits: list[tuple[str, np.ndarray, np.ndarray]] = []
    if first_test_month is not None:
        start = pd.Timestamp(first_test_month)
        train_m = (month < start).to_numpy()
        test_m = (month >= start).to_numpy()
        if not train_m.any() or not test_m.any():
            msg = (
                f"Splitting at {first_test_month} leaves an empty training or test period "
                f"(the data run from {month.min():%Y-%m} to {month.max():%Y-%m})."
            )
            raise ParameterError(msg)
        splits.append((f"{start:%Y-%m} on", train_m, test_m))
        rule = f"one split: trained before {start:%Y-%m}, tested on {start:%Y-%m} onwards"
    else:
        n = len(months)
        if n < 2:
            msg = (
                f"Evaluation needs at least two months of data (one to train on, one to test); "
                f"these data have {n}."
            )
            raise TooFewPeriodsError(msg)
        r = default_origins(n) if origins is None else origins
        if not (isinstance(r, int | np.integer) and 1 <= r <= n - 1):
            msg = (
                f"origins must be a whole number from 1 to {n - 1} for {n} months, got {origins!r}."
            )
            raise ParameterError(msg)
        for m in months[-int(r) :]:
            splits.append((f"{m:%Y-%m}", (month < m).to_numpy(), (month == m).to_numpy()))
        rule = (
            f"{r} rolling origin(s): each of the last {r} of {n} observed months tested in turn, "
            "forecast from every month before it"
            + (" (default: min(6, months // 2))" if origins is None else "")
        )
        if origins is None:
            notes.append(
                f"Rolling origins: the last {r} of {n} months are tested one at a time, each "
                "forecast from all the months before it; figures are means over the origins (up "
                "to 6, at most half the months: one month's hit rate is noisy, and every origin "
                "keeps at least as many training months as are tested)."
            )
    return splits, rule


def _months_before(others: Incidents, label: str) -> Incidents:
    """Rows of ``others`` dated before the origin ``label`` (``"YYYY-MM"``, ``"YYYY-MM on"``)."""
    start = pd.Timestamp(label.split()[0])
    return others.subset((others.frame["month"] < start).to_numpy())


def rolling_evaluation(
    incidents: Incidents,
    *,
    origins: int | None = None,
    first_test_month: str | None = None,
    methods: Sequence[str] = METHODS,
    coverages: Sequence[float] = COVERAGES,
    disc_counts: Sequence[int] = DISC_COUNTS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    others: Incidents | None = None,
) -> RollingEvaluation:
    """Compare every forecast on the last months, each forecast from all the months before it.

    Parameters
    ----------
    incidents : Incidents
    origins : int, optional
        How many of the last observed months to test, one at a time (default
        :func:`default_origins`). Months missing from the input are never test months, and
        training months are the observed months before the test month.
    first_test_month : str, optional
        ``"YYYY-MM"``: one split instead, training before it and testing on it and every later
        month together.
    methods, coverages, disc_counts, params, radius_m
        As :func:`compare_forecasts`.
    others : Incidents, optional
        Other crime and anti-social behaviour (same CRS); each origin passes the rows of its
        training months to :func:`compare_forecasts`.

    Returns
    -------
    RollingEvaluation

    Raises
    ------
    TooFewPeriodsError
        Fewer than two observed months.
    ParameterError
        ``origins`` out of range, or a split that leaves a period empty.
    """
    frame = incidents.frame
    month = frame["month"]
    notes: list[str] = []
    undated = int(month.isna().sum())
    if undated:
        notes.append(f"{undated} incident(s) without a month are left out of the evaluation.")
    if incidents.missing_months_note:
        notes.append(incidents.missing_months_note)
    splits, rule = _origin_splits(incidents, origins, first_test_month, notes)
    tables, curves = [], []
    used: list[str] = []
    for label, train_m, test_m in splits:
        train = training_study_area(incidents.subset(train_m))
        test = incidents.subset(test_m)
        before = _months_before(others, label) if others is not None else None
        if not _inside_mask(test, train.study_area).any():
            notes.append(f"Origin {label}: no test incident in the study area; skipped.")
            continue
        table, curve, origin_notes = compare_forecasts(
            train,
            test,
            methods=methods,
            coverages=coverages,
            disc_counts=disc_counts,
            params=params,
            radius_m=radius_m,
            others=before,
        )
        table.insert(0, "origin", label)
        table.insert(1, "study_area_km2", train.study_area_m2 / 1e6)
        curve.insert(0, "origin", label)
        tables.append(table)
        curves.append(curve)
        used.append(label)
        notes.extend(f"Origin {label}: {t}" for t in origin_notes)
    if not tables:
        msg = "No test month has incidents in the study area; nothing to evaluate."
        raise ParameterError(msg)
    table = pd.concat(tables, ignore_index=True)
    keys = ["forecast", "unit", "at", "label"]
    values = [
        "target",
        "coverage",
        "units",
        "hits",
        "n_test",
        "hit_rate",
        "pai",
        "best_hit_rate",
        "pei",
    ]
    grouped = table.groupby(keys, sort=False)
    summary = grouped[values].mean()
    summary.insert(0, "n_origins", grouped["reached"].sum().astype(int))
    summary = summary.reset_index()
    # a curve point is the mean over every origin, so a curve stops where any origin's does
    by_point = pd.concat(curves, ignore_index=True).groupby(["forecast", "axis", "x"], sort=False)
    curve = by_point[["hit_rate", "pai"]].mean()
    curve = curve.where(by_point[["hit_rate", "pai"]].count() == len(used)).reset_index()
    record = {
        "evaluation": rule,
        "origins": used,
        "methods": list(methods),
        "coverages": [float(c) for c in coverages],
        "disc_counts": [int(k) for k in disc_counts],
        "disc_radius_m": float(radius_m),
        "labels": dict(FORECAST_LABELS),
        "disc_forecasts": [PATROL, FORECAST, *BASELINES],
        "study_area": "the boundary given"
        if _boundary_given(incidents)
        else "drawn round each origin's training incidents by the ingest rule (give a boundary "
        "with --study-area / study_area= to use your own)",
        "ranking": {
            "kde": "surface cells by density",
            "gistar": "grid cells by z",
            "dbscan": "clusters by intensity",
            "hdbscan": "clusters by intensity",
            PATROL: "patrol-area rank (make_patrol_areas: the violence expected next month)",
            FORECAST: "the same forecast's discs without the patrol areas' 3-incident floor",
            NAIVE_POINTS: "busiest map points, discs 2 x radius apart",
            NAIVE_KDE: "150 m KDE cells by density, discs 2 x radius apart",
            ARCGIS_KDE: "ArcGIS-default KDE cells by density, discs 2 x radius apart",
        },
        "ties_and_partial_units": "a reading inside a block of tied units takes that share of "
        "its area and is credited that share of its test incidents",
        "pei_unit": "the forecast's own cells (KDE, Gi*), 150 m cells (clusters), discs placed "
        "greedily with hindsight (discs)",
    }
    return RollingEvaluation(table, summary, curve, tuple(used), record, tuple(notes))


def curves_figure(result: RollingEvaluation) -> Figure:
    """Hit rate and PAI against coverage, and hit rate against number of discs (means over the
    origins), as a matplotlib Figure (no pyplot state; save it with ``fig.savefig(path)``)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.8), layout="constrained")
    ax_hit, ax_pai, ax_disc = fig.subplots(1, 3)
    cur = result.curves
    styles = {PATROL: "-", FORECAST: "-", NAIVE_POINTS: "--", NAIVE_KDE: ":", ARCGIS_KDE: "-."}
    for name, part in cur[cur["axis"] == "coverage"].groupby("forecast", sort=False):
        kw = {"label": FORECAST_LABELS.get(str(name), str(name)), "ls": styles.get(str(name), "-")}
        ax_hit.plot(100 * part["x"], 100 * part["hit_rate"], **kw)
        ax_pai.plot(100 * part["x"], part["pai"], **kw)
    for name, part in cur[cur["axis"] == "discs"].groupby("forecast", sort=False):
        ax_disc.plot(
            part["x"],
            100 * part["hit_rate"],
            label=FORECAST_LABELS.get(str(name), str(name)),
            ls=styles.get(str(name), "-"),
        )
    origins = ", ".join(result.origins)
    ax_hit.set(xlabel="coverage (% of study area)", ylabel="hit rate (% of test incidents)")
    ax_pai.set(xlabel="coverage (% of study area)", ylabel="PAI", yscale="log")
    ax_disc.set(
        xlabel=f"number of {2 * result.params['disc_radius_m']:g} m discs",
        ylabel="hit rate (% of test incidents)",
    )
    for ax in (ax_hit, ax_pai, ax_disc):
        ax.grid(True, alpha=0.3)
    ax_hit.legend(fontsize="small")
    ax_disc.legend(fontsize="small")
    fig.suptitle(f"Forecasts scored on later months (means over origins {origins})")
    return fig


# ============================================================================================
# Displacement


@dataclass(frozen=True)
class Displacement:
    """Counts and the Bowers & Johnson (2003) measures for one operation.

    ``R`` response area, ``D`` displacement buffer, ``C`` control area; ``b`` before, ``a`` after.
    """

    Rb: int
    Ra: int
    Db: int
    Da: int
    Cb: int
    Ca: int
    gross_effect: float
    net_effect: float
    wdq: float
    total_net_effect: float
    interpretation: str

    def to_dict(self) -> dict[str, float | int | str]:
        return dict(self.__dict__)


def _wdq_reading(wdq: float, net_effect: float) -> str:
    if not np.isfinite(wdq):
        return "WDQ undefined: the response area's share of the control trend did not change."
    if net_effect <= 0:
        return (
            "No reduction in the response area relative to the control area, so displacement is "
            "not assessed."
        )
    if wdq > 1:
        return "Diffusion of benefit greater than the direct effect (WDQ > 1)."
    if wdq > 0:
        return "Diffusion of benefit to the buffer (0 < WDQ <= 1)."
    if wdq == 0:
        return "No displacement and no diffusion (WDQ = 0)."
    if wdq >= -1:
        return "Some displacement to the buffer, but a net benefit remains (-1 <= WDQ < 0)."
    return "Displacement to the buffer outweighs the direct effect (WDQ < -1)."


def displacement(
    incidents: Incidents,
    response: Any,
    *,
    before: tuple[str, str],
    after: tuple[str, str],
    buffer_m: float = 100.0,
    control: Any = None,
) -> Displacement:
    """Did an operation's effect displace crime or diffuse benefit? (Bowers & Johnson 2003)

    Parameters
    ----------
    incidents : Incidents
    response : shapely geometry or GeoDataFrame
        The treated area(s) in the analysis CRS (e.g. the patrol areas).
    before, after : (str, str)
        First and last month ("YYYY-MM") of the periods before and after (or during) the operation.
    buffer_m : float, default 100
        Width of the displacement buffer around the response area, metres (UK trials used 100 m,
        guide section 5).
    control : shapely geometry or GeoDataFrame, optional
        A comparable untreated area; default the rest of the study area outside the response
        area and its buffer.

    Returns
    -------
    Displacement
        ``GE = Rb - Ra``; ``NE = Rb/Cb - Ra/Ca``; ``WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)``;
        ``TNE = [Rb (Ca/Cb) - Ra] + [Db (Ca/Cb) - Da]``, with a plain-language reading of the WDQ
        (guide section 5, citing Bowers & Johnson 2003 and Ratcliffe's WDQ calculator).
    """

    def geom(g: Any) -> Any:
        return (
            shapely.union_all(np.asarray(g.geometry.values, dtype=object))
            if hasattr(g, "geometry")
            else g
        )

    r = geom(response)
    d = shapely.difference(r.buffer(buffer_m), r)
    c = (
        geom(control)
        if control is not None
        else shapely.difference(incidents.study_area, r.buffer(buffer_m))
    )
    month = incidents.frame["month"]

    def count(area: Any, period: tuple[str, str]) -> int:
        lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        inside = shapely.contains_xy(
            area, incidents.frame["x"].to_numpy(), incidents.frame["y"].to_numpy()
        )
        return int((inside & (month >= lo).to_numpy() & (month <= hi).to_numpy()).sum())

    rb, ra = count(r, before), count(r, after)
    db, da = count(d, before), count(d, after)
    cb, ca = count(c, before), count(c, after)
    ge = float(rb - ra)
    ne = rb / cb - ra / ca if cb and ca else float("nan")
    denom = ra / ca - rb / cb if cb and ca else float("nan")
    wdq = (da / ca - db / cb) / denom if cb and ca and denom != 0 else float("nan")
    tne = (rb * (ca / cb) - ra) + (db * (ca / cb) - da) if cb else float("nan")
    return Displacement(
        rb,
        ra,
        db,
        da,
        cb,
        ca,
        ge,
        float(ne),
        float(wdq),
        float(tne),
        _wdq_reading(float(wdq), float(ne)),
    )
