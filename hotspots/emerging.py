"""Emerging hot spots: Gi* per time period, then a persistent / emerging / former class per cell.

The incidents are split into consecutive periods by month. Each period gets its own Gi* on the
same sparse grid (the cells where any period has incidents, plus their neighbours) over the same
study area, with the exact Poisson null and Benjamini-Hochberg false discovery rate control of
:mod:`hotspots.gistar`, applied separately in every period. Each cell is then classified from the
sequence of periods in which it was a significant hot (or cold) spot, in the manner of sfhotspot's
``hotspot_classify`` (without its bugs, see :func:`classify_hotspots`), and its per-period Gi*
z-scores get a Mann-Kendall trend test as in ArcGIS's Emerging Hot Spot Analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots._errors import ParameterError, TooFewPeriodsError
from hotspots.gistar import DEFAULT_CELL_M, NULLS, GiStarGrid
from hotspots.incidents import Incidents
from hotspots.jsonutil import to_jsonable
from hotspots.profile import period_months as auto_period_months
from hotspots.record import FrozenList, freeze
from hotspots.stats import mann_kendall

__all__ = [
    "CATEGORIES",
    "EmergingResult",
    "classify_hotspots",
]

#: Share of periods below which a cell "was not hot" and at or above which it "was hot"
#: (sfhotspot ``hotspot_classify_params(hotspot_prop = 0.1)``).
HOTSPOT_SHARE = 0.1
#: Share of the recent periods in which an emerging hot spot must be hot (at least half).
RECENT_HOT_SHARE = 0.5
#: Default share of the periods used as "recent" (sfhotspot ``recent_prop = 0.2``).
RECENT_SHARE = 0.2

CATEGORIES = (
    "persistent hot spot",
    "emerging hot spot",
    "former hot spot",
    "intermittent hot spot",
    "persistent cold spot",
    "emerging cold spot",
    "former cold spot",
    "intermittent cold spot",
    "mixed hot and cold spot",
    "no pattern",
)

_CELL_COLUMNS = (
    "counts",
    "total",
    "z_scores",
    "n_hot_periods",
    "n_hot_recent",
    "n_hot_earlier",
    "n_cold_periods",
    "category",
    "mk_tau",
    "mk_z",
    "mk_p",
    "trend",
)


@dataclass(frozen=True, eq=False)
class EmergingResult:
    """What :func:`classify_hotspots` returns; read-only (``params`` is a
    :class:`hotspots.record.FrozenDict`), since the app shares it between sessions.

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        One row per computed cell (cells with an incident in any period, plus their neighbours), in
        the analysis CRS: ``geometry`` (square cell), ``counts`` (list of int, incidents in the cell
        per period), ``total``, ``z_scores`` (list of float, the cell's Gi* z per period),
        ``n_hot_periods``, ``n_hot_recent``, ``n_hot_earlier``, ``n_cold_periods``, ``category``
        (one of :data:`CATEGORIES`), ``mk_tau``, ``mk_z``, ``mk_p`` (Mann-Kendall of ``z_scores``)
        and ``trend`` (``"increasing"``, ``"decreasing"`` or ``"no trend"`` at ``alpha``).
    areas : geopandas.GeoDataFrame
        One row per connected part of the union of the cells of each category (``"no pattern"``
        excluded): ``geometry``, ``category``, ``n_cells``, ``incidents`` (inside the area, all
        periods) and ``top_location`` (most frequent location text); sorted by category, then
        incidents.
    params : dict
        Every parameter and automatic choice, JSON-serialisable.
    notes : list of str
        Sentences announcing each automatic choice and caveat.
    """

    cells: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))
        object.__setattr__(self, "notes", FrozenList(str(n) for n in self.notes))


def classify_hotspots(
    incidents: Incidents,
    *,
    cell_size: float = DEFAULT_CELL_M,
    period_months: int | None = None,
    recent_periods: int | None = None,
    alpha: float = 0.05,
    persistent_share: float = 0.8,
    hotspot_share: float = HOTSPOT_SHARE,
    null: str = "poisson",
) -> EmergingResult:
    """Classify grid cells as persistent, emerging, former or intermittent hot (or cold) spots.

    Parameters
    ----------
    incidents : Incidents
        Incidents with a ``month``; those without one are left out (and a note says how many).
    cell_size : float, default 150
        Cell side in metres, in the analysis CRS (the guide's 150 m patrol unit). Neighbours are
        the queen contiguity cells (within ``cell_size * sqrt(2)``), the cell itself included.
    period_months : int, optional
        Months per period. Default from the ``n_months`` observed months from the first to the
        last incident's month (:func:`hotspots.profile.period_months`): 1 (months) up to 24
        months, 3 (quarters) up to 120, 12 (years) beyond. Periods are runs of consecutive
        *observed* months, starting at the first; months with no input row at all
        (:attr:`hotspots.incidents.Incidents.missing_months`) are skipped, and a note says so. A
        shorter last period is kept.
    recent_periods : int, optional
        How many of the last periods are "recent"; default ``max(1, round(0.2 * n_periods))``
        (sfhotspot's ``recent_prop = 0.2``). Must leave at least one earlier period.
    alpha : float, default 0.05
        False discovery rate of the per-period Gi* tests, and the level of the trend test.
    persistent_share : float, default 0.8
        Share of all periods in which a persistent hot spot is hot (sfhotspot ``persistent_prop``).
    hotspot_share : float, default 0.1
        The "hot in at least this share of periods" threshold of the emerging, former and
        intermittent rules (sfhotspot ``hotspot_prop``).
    null : {"poisson", "local", "negative-binomial", "normal"}, default "poisson"
        Null distribution of a cell's local sum in each period (see
        :class:`hotspots.gistar.GiStarHotspots`). ``"local"`` tests each neighbourhood against
        its own surroundings in that period (clumping measured between odd and even months
        over the whole data); one month's counts are usually too sparse for it (a cell with 7
        incidents and an empty ring reaches only ``p = (9/25)^7``), so the per-period default
        stays the exact Poisson test against the period's mean.

    Returns
    -------
    EmergingResult

    Raises
    ------
    hotspots.ParameterError
        For invalid parameters; :class:`hotspots.TooFewPeriodsError` (a ParameterError) when the
        data give fewer than 3 periods (the message names the
        count and suggests a longer span or shorter periods).

    Notes
    -----
    With ``n`` periods, the last ``R`` recent and the ``E = n - R`` before them earlier, a cell is
    *hot in a period* when its Gi* z-score is positive, its Benjamini-Hochberg q-value (over every
    cell of the study area, in that period) is below ``alpha``, and its centre lies in the study
    area; *cold* likewise with a negative z-score. "At least a share ``f`` of ``k`` periods" means
    at least ``ceil(f * k)`` periods (computed exactly, so 0.8 of 24 is 20, 0.1 of 19 is 2). In
    order, the first rule that holds gives the hot class:

    1. **persistent**: hot in at least ``persistent_share`` of all ``n`` periods;
    2. **emerging**: hot in at least half of the ``R`` recent periods and in fewer than
       ``hotspot_share`` of the ``E`` earlier ones;
    3. **former**: hot in at least ``hotspot_share`` of the earlier periods and in none of the
       recent ones;
    4. **intermittent**: hot in at least ``hotspot_share`` of all periods.

    The cold classes use the same rules on the cold periods. A cell with both a hot and a cold
    class is a "mixed hot and cold spot"; a cell with neither has "no pattern". At micro-place
    scale cold spots are rare: with under about 0.3 expected incidents in a 3 x 3 neighbourhood
    an empty one is not significantly low.

    This follows sfhotspot's ``hotspot_classify`` (``hotspot_prop = 0.1``,
    ``persistent_prop = 0.8``, ``recent_prop = 0.2``), with three deliberate differences: the
    recent window is exactly the last ``R`` periods (sfhotspot slices ``R + 1`` columns but divides
    by ``R``); "emerging" needs hot in at least half the recent periods (sfhotspot's code uses
    ``recent_prop`` while its documentation says ``hotspot_prop``); and the multiple-testing
    correction is Benjamini-Hochberg over all cells within each period, not none within a period
    followed by a second, non-spatial Holm correction across periods (sfhotspot issue #94).

    The trend is the Mann-Kendall test (Mann 1945; Kendall 1975; :func:`hotspots.stats.mann_kendall`) of the
    cell's Gi* z-scores over the periods (rounded to 9 decimals so equal values tie), as in ArcGIS Pro's Emerging Hot Spot Analysis, which
    also uses Gi* per time step with FDR but sorts cells into 17 classes (new, consecutive,
    intensifying, persistent, diminishing, sporadic, oscillating, historical; hot and cold; no
    pattern). The z-scores are relative to each period's own mean, so the trend says whether a
    place is becoming hotter *relative to the rest of the study area*; for cells that stay empty
    it only mirrors changes in the overall volume. The trend does not enter the classes.

    Counts are incidents (harm weights are not used). Only the cells where some period has an
    incident, and their neighbours, are computed: every other cell of the study area has zero
    local sum in every period and is handled as a block, as in :mod:`hotspots.gistar`.
    """
    cell = float(cell_size)
    _check(
        cell > 0 and math.isfinite(cell),
        f"cell_size must be a positive number of metres, got {cell_size!r}.",
    )
    _check(0 < alpha < 1, f"alpha must be between 0 and 1, got {alpha!r}.")
    _check(
        0 < persistent_share <= 1, f"persistent_share must be in (0, 1], got {persistent_share!r}."
    )
    _check(0 < hotspot_share <= 1, f"hotspot_share must be in (0, 1], got {hotspot_share!r}.")
    _check(null in NULLS, f"null must be one of {NULLS}, got {null!r}.")
    if period_months is not None:
        _check(
            isinstance(period_months, int | np.integer) and period_months >= 1,
            f"period_months must be a whole number of months >= 1, got {period_months!r}.",
        )
    dist = cell * math.sqrt(2)
    crs = incidents.crs
    n_cells = max(int(round(incidents.study_area_m2 / cell**2)), 1)
    params: dict[str, Any] = {
        "method": "emerging-gistar",
        "cell_size_m": cell,
        "neighbour_distance_m": dist,
        "weights": "binary, self-included (queen contiguity)",
        "counts": "incidents (harm weights not used)",
        "alpha": alpha,
        "multiple_testing": "Benjamini-Hochberg FDR over the study-area cells, hot and cold as separate one-sided families, separately in each period",
        "null": null,
        "n_cells": n_cells,
        "persistent_share": persistent_share,
        "hotspot_share": hotspot_share,
        "recent_hot_share": RECENT_HOT_SHARE,
        "trend_test": "Mann-Kendall on per-period Gi* z-scores, normal approximation, tie and continuity corrections, two-sided",
        "categories": list(CATEGORIES),
    }
    notes: list[str] = []

    months = incidents.frame["month"]
    has_month = months.notna().to_numpy()
    n_missing = int((~has_month).sum())
    params["n_excluded_no_month"] = n_missing
    if n_missing:
        notes.append(
            f"{n_missing} incident(s) without a month were left out of the emerging hot spot classification."
        )
    frame = incidents.frame.loc[has_month]
    if frame.empty:
        params.update(
            {
                "n_incidents": 0,
                "n_periods": 0,
                "period_months": period_months,
                "category_counts": {},
            }
        )
        notes.append("No incident with a month: nothing to classify.")
        return EmergingResult(_empty_cells(crs), _empty_areas(crs), to_jsonable(params), notes)

    # periods are runs of observed months: a month missing from the input is skipped, not read
    # as a month without incidents (Incidents.missing_months)
    observed = incidents.months.union(pd.DatetimeIndex(frame["month"].unique()))
    first = observed[0]
    month_idx = observed.get_indexer(pd.DatetimeIndex(frame["month"])).astype(np.int64)
    n_months = len(observed)
    missing = incidents.missing_months
    params["missing_months"] = [f"{m:%Y-%m}" for m in missing]
    if len(missing):
        notes.append(incidents.missing_months_note)
    if period_months is None:
        length = auto_period_months(n_months)
        rule = "auto: months up to 24 months of data, quarters up to 120, years beyond"
        unit = {1: "months", 3: "quarters", 12: "years"}[length]
        notes.append(
            f"Periods are {unit}, chosen automatically for {n_months} months of data (months up to "
            "2 years, quarters up to 10, years beyond)."
        )
    else:
        length = int(period_months)
        rule = "user"
    n_periods = -(-n_months // length)
    starts = [observed[k * length] for k in range(n_periods)]
    params.update(
        {
            "n_incidents": len(frame),
            "first_month": first.strftime("%Y-%m"),
            "last_month": observed[-1].strftime("%Y-%m"),
            "n_months": n_months,
            "period_months": length,
            "period_rule": rule,
            "n_periods": n_periods,
            "period_starts": [s.strftime("%Y-%m") for s in starts],
        }
    )
    if n_periods < 3:
        msg = (
            f"Only {n_periods} period(s) of {length} month(s) in {n_months} month(s) of data; the "
            "emerging hot spot classification needs at least 3. Fix: use data covering a longer "
            f"span, or shorter periods (period_months={max(1, n_months // 3)} or less)."
        )
        raise TooFewPeriodsError(msg)
    if n_months % length:
        notes.append(
            f"The last period is shorter ({n_months % length} of {length} months); each period's Gi* "
            "is judged against that period's own mean, so it is less powerful, not biased."
        )
    if recent_periods is None:
        recent = max(1, round(n_periods * RECENT_SHARE))
        params["recent_rule"] = "auto: max(1, round(0.2 * n_periods))"
        notes.append(
            f"The last {recent} of {n_periods} periods count as recent (20 %, automatically)."
        )
    else:
        recent = recent_periods
        params["recent_rule"] = "user"
        _check(
            isinstance(recent, int | np.integer) and 1 <= recent <= n_periods - 1,
            f"recent_periods must be a whole number from 1 to {n_periods - 1} (n_periods - 1), got {recent_periods!r}.",
        )
    recent = int(recent)
    earlier = n_periods - recent
    min_persistent = _at_least(persistent_share, n_periods)
    min_recent = _at_least(RECENT_HOT_SHARE, recent)
    min_earlier = _at_least(hotspot_share, earlier)
    min_any = _at_least(hotspot_share, n_periods)
    params.update(
        {
            "recent_periods": recent,
            "earlier_periods": earlier,
            "rules": {
                "persistent": f"hot in >= {min_persistent} of {n_periods} periods",
                "emerging": f"hot in >= {min_recent} of the last {recent} periods and in < {min_earlier} of the {earlier} earlier periods",
                "former": f"hot in >= {min_earlier} of the {earlier} earlier periods and in none of the last {recent}",
                "intermittent": f"hot in >= {min_any} of {n_periods} periods, and none of the above",
                "cold": "the same rules on significantly low periods",
                "mixed": "both a hot and a cold class",
            },
        }
    )
    notes.append(
        f"Gi* on {cell:g} m cells in each of {n_periods} periods, Benjamini-Hochberg false discovery "
        f"rate {alpha} over every cell of the study area per period."
    )

    # the sparse grid shared by all periods
    period = month_idx // length
    grid = GiStarGrid(
        frame[["x", "y"]].to_numpy(dtype=float),
        incidents.study_area,
        cell_size=cell,
        neighbour_distance=dist,
        baseline_distance=2 * cell,
    )
    occ_counts = np.zeros((len(grid.occupied), n_periods))
    np.add.at(occ_counts, (grid.point_occupied, period), 1.0)
    counts = np.zeros((len(grid), n_periods))
    counts[grid.occupied] = occ_counts
    cand = grid.cells
    phi = grid.split_dispersion(month_idx % 2) if null == "local" else 1.0
    params["dispersion_phi"] = round(phi, 4)
    params["n_cells"] = grid.n_cells

    z = np.zeros_like(counts)
    hot = np.zeros(counts.shape, dtype=bool)
    cold = np.zeros(counts.shape, dtype=bool)
    for t in range(n_periods):
        g = grid.test(occ_counts[:, t], null=null, dispersion=phi)
        z[:, t] = g.gi_z
        sig = g.q_value < alpha
        hot[:, t] = sig & (g.direction > 0)
        cold[:, t] = sig & (g.direction < 0)

    hot_cat = _classes(hot, recent, min_persistent, min_recent, min_earlier, min_any)
    cold_cat = _classes(cold, recent, min_persistent, min_recent, min_earlier, min_any)
    category = np.where(
        (hot_cat != "") & (cold_cat != ""),
        "mixed hot and cold spot",
        np.where(
            hot_cat != "",
            np.char.add(hot_cat, " hot spot"),
            np.where(cold_cat != "", np.char.add(cold_cat, " cold spot"), "no pattern"),
        ),
    )
    mk = mann_kendall(np.round(z, 9))
    trend = np.where(mk.p_value < alpha, np.where(mk.z > 0, "increasing", "decreasing"), "no trend")
    boxes = shapely.box(
        cand[:, 0] * cell, cand[:, 1] * cell, (cand[:, 0] + 1) * cell, (cand[:, 1] + 1) * cell
    )
    cells = gpd.GeoDataFrame(
        {
            "counts": counts.astype(int).tolist(),
            "total": counts.sum(axis=1).astype(int),
            "z_scores": z.tolist(),
            "n_hot_periods": hot.sum(axis=1),
            "n_hot_recent": hot[:, earlier:].sum(axis=1),
            "n_hot_earlier": hot[:, :earlier].sum(axis=1),
            "n_cold_periods": cold.sum(axis=1),
            "category": category.astype(object),
            "mk_tau": mk.tau,
            "mk_z": mk.z,
            "mk_p": mk.p_value,
            "trend": trend.astype(object),
        },
        geometry=boxes,
        crs=crs,
    )
    areas = _areas(cells, crs)
    areas = _describe(areas, incidents)
    found = {
        c: int((category == c).sum())
        for c in CATEGORIES
        if c != "no pattern" and (category == c).any()
    }
    params["category_counts"] = found
    if not found:
        notes.append(
            "No cell is a persistent, emerging, former or intermittent hot or cold spot at this false discovery rate."
        )
    return EmergingResult(cells, areas, to_jsonable(params), notes)


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ParameterError(msg)


def _at_least(share: float, k: int) -> int:
    """The smallest whole number of periods that is at least ``share`` of ``k`` (exact arithmetic)."""
    return math.ceil(round(share * k, 9))


def _classes(
    flags: np.ndarray,
    recent: int,
    min_persistent: int,
    min_recent: int,
    min_earlier: int,
    min_any: int,
) -> np.ndarray:
    """Class names ("persistent", "emerging", "former", "intermittent" or "") from (cells, periods) flags."""
    earlier = flags.shape[1] - recent
    n_all = flags.sum(axis=1)
    n_recent = flags[:, earlier:].sum(axis=1)
    n_earlier = flags[:, :earlier].sum(axis=1)
    return np.select(
        [
            n_all >= min_persistent,
            (n_recent >= min_recent) & (n_earlier < min_earlier),
            (n_earlier >= min_earlier) & (n_recent == 0),
            n_all >= min_any,
        ],
        ["persistent", "emerging", "former", "intermittent"],
        default="",
    )


def _areas(cells: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Connected parts of the union of each category's cells, with the number of cells inside."""
    rows = []
    for cat in CATEGORIES:
        if cat == "no pattern":
            continue
        sel = cells.loc[cells["category"] == cat]
        if sel.empty:
            continue
        merged = shapely.union_all(sel.geometry.to_numpy())
        parts = list(getattr(merged, "geoms", [merged]))
        centres = shapely.centroid(sel.geometry.to_numpy())
        _, part_i = shapely.STRtree(parts).query(centres, predicate="intersects")
        n_in = np.bincount(part_i, minlength=len(parts))
        rows += [
            {"category": cat, "n_cells": int(k), "geometry": part}
            for part, k in zip(parts, n_in, strict=True)
        ]
    if not rows:
        return _empty_areas(crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _describe(areas: gpd.GeoDataFrame, incidents: Incidents) -> gpd.GeoDataFrame:
    """Add each area's incidents (all periods) and most frequent location text; sort by category
    (in :data:`CATEGORIES` order) then incidents."""
    from hotspots.profile import count_and_name

    areas = areas.reset_index(drop=True)
    counts, names = (
        count_and_name(areas.geometry, incidents) if len(areas) else (np.zeros(0, dtype=int), [])
    )
    areas["incidents"] = counts.astype(int)
    areas["top_location"] = pd.Series(names, dtype=object)
    order = areas["category"].map({c: i for i, c in enumerate(CATEGORIES)}).fillna(len(CATEGORIES))
    areas = areas.assign(_order=order).sort_values(
        ["_order", "incidents", "n_cells"], ascending=[True, False, False], kind="stable"
    )
    return areas.drop(columns="_order").reset_index(drop=True)


def _empty_cells(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in _CELL_COLUMNS}, geometry=[], crs=crs
    )


def _empty_areas(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"category": pd.Series(dtype=object), "n_cells": pd.Series(dtype=int)}, geometry=[], crs=crs
    )
