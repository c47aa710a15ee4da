"""Patrol-sized areas inside hot spots and seeded patrol plans.

Three steps, each a plain function:

1. :func:`make_patrol_areas` cuts ranked hot spots into patrol-sized discs centred on the densest
   recurring places (police.uk snaps incidents to a fixed set of map points, so violence piles up on
   a few points; discs on those stacks catch more next-month violence per unit of area than a
   smooth surface does).
2. :func:`make_patrol_plan` turns patrol areas and capacity into a dated, seeded plan with defaults
   suggested by the guide's evidence (the guide itself states no plan defaults): 15-minute visits,
   at least one a day, random times inside each area's peak window, gaps of at most 3 days,
   optional daily patrol/control split.
3. :func:`hotspots.workflows.write_plan_outputs` writes areas, plan and briefing into one
   folder (used by ``hotspots plan``). The file formats belong to :mod:`hotspots.export`:
   :meth:`PatrolPlan.to_csv` and :meth:`PatrolPlan.to_ical` call
   :func:`~hotspots.export.plan_to_csv` and :func:`~hotspots.export.plan_to_ical`, and
   :func:`~hotspots.export.patrol_areas_geojson` writes the areas (RFC 7946) with their tactics
   and plan.

Notes
-----
Sources (study ids of ``hotspots/data/tactics.json``, which gives authors, titles and DOIs or
stable links): the 150 m micro place of the UK trials (Basford2021, Williams2017, Ariel2016,
OpSavvy); visits of about 15 minutes, never under 10 (Koper1995); one randomly timed patrol a
day in a random selection of places, the rest controls (Basford2021, Bland2021,
ThamesValleyRCT); gaps of at most 3-4 days (Barnes2020, Bland2021); two officers on foot, with
time in transit not counted (Basford2021, ArielPartridge2017); review by day 90, since
campaigns decay (Sorg2013, Sherman1990). The 18:00-06:00 night-time window and the 15:00-02:00
window for data without times of day are this product's heuristics. Third-party mirrors and
slide hosts are not cited as sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from hotspots._errors import ParameterError
from hotspots.constants import (
    CONTROL_SHARE,
    MAX_GAP_DAYS,
    MAX_PATROL_AREAS,
    MAX_VISIT_MINUTES,
    MICRO_PLACE_RADIUS_M,
    MIN_AREA_INCIDENTS,
    OFFICER_HOURS,
    OFFICERS_PER_PATROL,
    PLAN_DAYS,
    TRAVEL_MINUTES,
    VISIT_MINUTES,
    VISITS_PER_DAY,
)
from hotspots.crs import to_wgs84
from hotspots.export import plan_to_csv, plan_to_ical
from hotspots.forecast import PlaceForecast
from hotspots.incidents import Incidents
from hotspots.jsonutil import to_jsonable
from hotspots.tactics import (
    Dose,
    KnowledgeBase,
    TacticMatch,
    load_knowledge_base,
    match_tactics,
    patrol_window,
)

__all__ = [
    "PatrolPlan",
    "make_patrol_areas",
    "make_patrol_plan",
    "plan_start_date",
]

_MINUTES_PER_DAY = 24 * 60
_START_GRID_MINUTES = 5


# --------------------------------------------------------------------------------------------
# Patrol areas


def make_patrol_areas(
    incidents: Incidents,
    ranked_hotspots: gpd.GeoDataFrame,
    *,
    radius_m: float = MICRO_PLACE_RADIUS_M,
    min_incidents: int = MIN_AREA_INCIDENTS,
    min_separation_m: float | None = None,
    exclude: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
    max_areas: int | None = None,
    weight: str | None = None,
    rank_by: str = "forecast",
    others: Incidents | None = None,
    forecast: PlaceForecast | None = None,
) -> gpd.GeoDataFrame:
    """Patrol-sized discs where the most violence is expected next period, ranked by it.

    Parameters
    ----------
    incidents : Incidents
        The incidents the hot spots were found from (analysis CRS, metres).
    ranked_hotspots : geopandas.GeoDataFrame
        Ranked hot spots (docs/architecture.md): at least ``hotspot_id``, ``rank`` and ``geometry``;
        profile columns (``has_time``, ``peak_start_hour`` ...) are copied to each area.
    radius_m : float, default 75.0
        Disc radius in metres: 150 m across, the micro place of the UK trials (Basford2021,
        Williams2017, Ariel2016).
    min_incidents : int, default 3
        Every patrol area must hold at least this many (not yet captured) incidents, a hot spot's
        first area included (a targeting rule: Op Savvy and Peterborough set minimum counts,
        OpSavvy, Ariel2016). Hot spots whose best disc holds fewer get no area, and a note names
        them.
    min_separation_m : float, optional
        Least distance in metres between two area centres, in any hot spots. Default
        ``2 * radius_m``, so discs never overlap and no incident is counted twice. (Patrol areas
        inside one hot spot may be adjacent.)
    exclude : GeoDataFrame, GeoSeries or shapely geometry, optional
        Places not to patrol (hospitals, prisons: ``hotspots/data/places.json`` gives the
        reasoning; :mod:`hotspots.places` recognises them from location text). Shapely
        geometries are taken to be
        in the analysis CRS. Incidents inside them are ignored, no centre lies inside them and they
        are cut out of the discs.
    max_areas : int, optional
        Stop after this many areas (all hot spots together). Default: no limit with
        ``rank_by="hotspots"``; :data:`~hotspots.constants.MAX_PATROL_AREAS` (100) with
        ``rank_by="forecast"``, whose areas are not bounded by the hot spots.
    weight : {"count", "harm"}, optional
        What "densest" means: incident count, or the sum of harm weights. Default ``"harm"`` when
        the incidents carry harm weights, else ``"count"``.
    rank_by : {"forecast", "hotspots"}, default "forecast"
        ``"forecast"``: discs anywhere in the study area, placed and ranked by the violence
        expected there next period (:class:`hotspots.forecast.PlaceForecast`, its weights chosen
        from the earlier months by rolling-origin validation); each keeps the hot spot that
        contains its centre (``hotspot_id``), or none. ``"hotspots"``: the earlier rule, discs on
        the densest recurring locations inside the hot spots only (see Notes).
    others : Incidents, optional
        With ``rank_by="forecast"``: every other recorded crime and anti-social behaviour of the
        same months (the near misses the forecast may weigh).
    forecast : PlaceForecast, optional
        With ``rank_by="forecast"``: a forecast already fitted on these incidents (and
        ``others``), reused instead of fitting one.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per patrol area in the analysis CRS, sorted by ``rank`` (1 = chosen first =
        most violence expected, or densest), with ``patrol_area_id`` (``"H001-P1"`` inside hot
        spot H001, ``"A001"`` outside every hot spot), ``hotspot_id`` (``""`` outside),
        ``hotspot_rank``, ``forecast`` (expected incidents next period within ``radius_m``; NaN
        with ``rank_by="hotspots"``),
        ``rank``, ``centre_x``, ``centre_y`` (metres), ``centre_lon``, ``centre_lat``, ``radius_m``,
        ``incidents`` (within ``radius_m`` of the centre), ``share``, ``harm`` (NaN without
        weights), ``area_m2``, ``pai`` (retrospective: share of incidents / share of the study
        area), ``max_extent_m``, ``location`` (the commonest location text inside), the area's own
        ``monthly_counts``, ``months_active``, ``n_months``, ``temporal_class`` and ``trend``, and
        the parent's time profile (``has_time``, ``peak_window``, ``peak_start_hour``,
        ``peak_end_hour``, ``peak_days``, ``peak_basis``, ``night_share``,
        ``hotspot_temporal_class``).
        ``attrs["params"]`` holds every parameter and ``attrs["notes"]`` the choices made.

    Notes
    -----
    ``rank_by="forecast"`` (the default) takes the forecast's candidate centres (a 25 m lattice
    round every map point) best first, skipping centres closer than ``min_separation_m`` to an
    area taken or inside an excluded place, and stops at the first disc holding fewer than
    ``min_incidents`` incidents of the data, or at ``max_areas``. An area outside every hot spot
    takes its time profile from its own incidents. Measured on the shared police.uk and US data
    (README, "How well patrol areas predict"), these discs catch more next-month violence than
    the same number of discs on the busiest points or on 150 m KDE peaks.

    The rule of ``rank_by="hotspots"`` (greedy maximum coverage on recurring points):

    1. Incidents are pooled by location (coordinates rounded to 1 cm): police.uk snaps crimes to
       fixed map points, so most locations hold several incidents.
    2. Every distinct location inside a hot spot is a candidate centre. Its score is the count
       (or harm) of incidents within ``radius_m`` of it, found with a k-d tree.
    3. Repeatedly take the best-scoring candidate over all hot spots, make a disc there, remove
       the incidents it captures from every other candidate's score, and rule out candidates
       closer than ``min_separation_m``; stop when the best disc holds fewer than
       ``min_incidents`` incidents or ``max_areas`` is reached.
    4. A hot spot left without an area gets one disc at its best remaining candidate if that disc
       holds at least ``min_incidents``, so a hot spot smaller than a patrol area gets exactly one
       area: a disc, not its own polygon, so that all patrol areas have the same size (the
       guide's targeting step compares equal units, guide page G3).

    Discs are 64-sided polygons (``area_m2`` is their true polygon area, 0.3 % under
    pi r^2). Temporal classes and trends of the areas use the hot spots' own rules
    (:func:`hotspots.profile.classify_counts`), so an area and its hot spot are described alike.
    Sources: Basford2021 and OpSavvy (150 m places), Thames Valley's hand checks of candidate
    spots (https://www.tvvru.co.uk/sna/hotspots/), and this product's own measurement on
    Merseyside 2022 (a heuristic).
    """
    sep = _check_area_params(radius_m, min_incidents, min_separation_m, max_areas)
    if rank_by not in ("forecast", "hotspots"):
        msg = f"rank_by must be 'forecast' or 'hotspots', got {rank_by!r}."
        raise ParameterError(msg)
    if weight is None:
        weight = "harm" if incidents.has_weights else "count"
    if weight not in ("count", "harm"):
        msg = f"weight must be 'count' or 'harm', got {weight!r}."
        raise ParameterError(msg)
    for col in ("hotspot_id", "geometry"):
        if col not in ranked_hotspots.columns:
            msg = f"ranked_hotspots lacks the column '{col}' (see docs/architecture.md)."
            raise ParameterError(msg)

    hot = ranked_hotspots
    if "rank" in hot.columns:
        hot = hot.sort_values("rank", kind="stable")
    hot = hot.reset_index(drop=True)
    if hot.crs is not None and not pyproj.CRS.from_user_input(hot.crs).equals(incidents.crs):
        hot = hot.to_crs(incidents.crs)
    excl = _exclusion_geometry(exclude, incidents.crs)

    xy = incidents.xy
    w = incidents.weights if weight == "harm" else np.ones(len(xy))
    keep = np.ones(len(xy), dtype=bool)
    if excl is not None and len(xy):
        keep = ~shapely.intersects_xy(excl, xy[:, 0], xy[:, 1])
    notes: list[str] = []
    if excl is not None:
        notes.append(f"{int((~keep).sum())} incidents inside excluded places were ignored.")

    if rank_by == "forecast":
        max_areas = MAX_PATROL_AREAS if max_areas is None else max_areas
        fc = forecast or _fit_forecast(
            incidents, others, keep, excl, w if weight == "harm" else None, radius_m, sep
        )
        uxy, centres, forecasts = _forecast_centres(fc, hot, min_incidents, excl, max_areas, notes)
        fc_params: dict[str, Any] = {"forecast": fc.params_}
    else:
        uxy, centres = _hotspot_centres(
            hot, xy, w, keep, (radius_m, sep, min_incidents, max_areas), notes
        )
        forecasts, fc_params = None, {}

    rows = _area_rows(incidents, hot, uxy, centres, radius_m, excl, keep, incidents.frame)
    if forecasts is not None:
        for row, f in zip(rows, forecasts, strict=True):
            row["forecast"] = float(f)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=incidents.crs)
    if gdf.empty:
        gdf = gpd.GeoDataFrame(
            {c: [] for c in _AREA_COLUMNS},
            geometry=gpd.GeoSeries([], crs=incidents.crs),
            crs=incidents.crs,
        )
    gdf.attrs["params"] = {
        "patrol_area_rule": "greedy discs on the violence expected next period"
        if rank_by == "forecast"
        else "greedy discs on densest recurring locations inside hot spots",
        "rank_by": rank_by,
        **fc_params,
        "radius_m": float(radius_m),
        "min_incidents": int(min_incidents),
        "min_separation_m": float(sep),
        "max_areas": max_areas,
        "weight": weight,
        "excluded_places": excl is not None,
        "n_hotspots": len(hot),
        "n_patrol_areas": len(gdf),
    }
    where = (
        "where the most violence is expected next period (anywhere in the study area)"
        if rank_by == "forecast"
        else f"on the densest recurring locations inside {len(hot)} hot spots"
    )
    notes.insert(
        0,
        f"{len(gdf)} patrol areas of {2 * radius_m:.0f} m across, centred {where}; centres at "
        f"least {sep:.0f} m apart; every area holds {min_incidents} or more incidents.",
    )
    gdf.attrs["notes"] = notes
    return gdf


def _forecast_centres(
    fc: PlaceForecast,
    hot: gpd.GeoDataFrame,
    min_incidents: int,
    excl: BaseGeometry | None,
    max_areas: int | None,
    notes: list[str],
) -> tuple[np.ndarray, list[tuple[int, int]], np.ndarray]:
    """Centres, (centre index, hot spot index or -1) and forecasts of the forecast's discs."""
    chosen = fc.discs(max_areas, min_incidents=min_incidents, exclude=excl)
    uxy = chosen[["centre_x", "centre_y"]].to_numpy(dtype=float).reshape(-1, 2)
    owner = _hotspot_owner(hot, uxy)
    centres = [(i, int(owner[i])) for i in range(len(uxy))]
    inside = {h for _, h in centres if h >= 0}
    notes += list(fc.notes_)
    notes.append(
        f"{sum(h >= 0 for _, h in centres)} of the {len(centres)} areas lie in {len(inside)} "
        f"of the {len(hot)} hot spots; the others are outside every hot spot (ids A001...)."
    )
    return uxy, centres, chosen["forecast"].to_numpy(dtype=float)


def _hotspot_centres(
    hot: gpd.GeoDataFrame,
    xy: np.ndarray,
    w: np.ndarray,
    keep: np.ndarray,
    rule: tuple[float, float, int, int | None],
    notes: list[str],
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The earlier rule's centres: greedy discs on the densest locations inside hot spots."""
    radius_m, sep, min_incidents, max_areas = rule
    uxy, ucount, uweight = _distinct_locations(xy, w, keep)
    owner = _hotspot_owner(hot, uxy)
    centres: list[tuple[int, int]] = []  # (candidate location index, hot spot index)
    if (owner >= 0).any():
        discs = _GreedyDiscs(uxy, ucount, uweight, owner, radius_m, sep, min_incidents)
        centres = discs.choose(len(hot), max_areas)
        notes += [
            f"Hot spot {hot.loc[h, 'hotspot_id']} got no patrol area: {why}"
            for h, why in discs.unserved
        ]
    return uxy, centres


def _fit_forecast(
    incidents: Incidents,
    others: Incidents | None,
    keep: np.ndarray,
    excl: BaseGeometry | None,
    harm: np.ndarray | None,
    radius_m: float,
    sep: float,
) -> PlaceForecast:
    """The forecast on the incidents outside excluded places (and the other records there)."""
    inc = incidents.subset(keep) if not keep.all() else incidents
    oth = others
    if oth is not None and excl is not None and len(oth):
        oxy = oth.xy
        oth = oth.subset(~shapely.intersects_xy(excl, oxy[:, 0], oxy[:, 1]))
    return PlaceForecast(radius_m=radius_m, separation_m=sep).fit(
        inc, others=oth, sample_weight=None if harm is None else harm[keep]
    )


def _check_area_params(
    radius_m: float, min_incidents: int, min_separation_m: float | None, max_areas: int | None
) -> float:
    """Check the disc parameters; the least distance between centres in metres."""
    if radius_m <= 0:
        msg = f"radius_m must be positive (metres), got {radius_m!r}."
        raise ParameterError(msg)
    if min_incidents < 1:
        msg = f"min_incidents must be at least 1, got {min_incidents!r}."
        raise ParameterError(msg)
    if max_areas is not None and max_areas < 1:
        msg = f"max_areas must be at least 1 or None, got {max_areas!r}."
        raise ParameterError(msg)
    sep = 2.0 * radius_m if min_separation_m is None else float(min_separation_m)
    if sep < 0:
        msg = f"min_separation_m must be >= 0 metres, got {min_separation_m!r}."
        raise ParameterError(msg)
    return sep


def _distinct_locations(
    xy: np.ndarray, w: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept incidents pooled by location rounded to 1 cm: points, counts and summed weights."""
    kept_idx = np.flatnonzero(keep)
    rounded = np.round(xy[kept_idx], 2)
    if len(rounded):
        uxy, inverse = np.unique(rounded, axis=0, return_inverse=True)
        inverse = inverse.ravel()
    else:
        uxy, inverse = np.empty((0, 2)), np.empty(0, dtype=int)
    ucount = np.bincount(inverse, minlength=len(uxy)).astype(float)
    uweight = np.bincount(inverse, weights=w[kept_idx], minlength=len(uxy))
    return uxy, ucount, uweight


def _hotspot_owner(hot: gpd.GeoDataFrame, uxy: np.ndarray) -> np.ndarray:
    """Index of the hot spot holding each location, -1 for none (first by rank wins overlaps)."""
    owner = np.full(len(uxy), -1)
    for h, geom in enumerate(hot.geometry):
        if geom is None or geom.is_empty or not len(uxy):
            continue
        inside = shapely.intersects_xy(geom, uxy[:, 0], uxy[:, 1]) & (owner < 0)
        owner[inside] = h
    return owner


class _GreedyDiscs:
    """Greedy maximum coverage by discs centred on the candidate locations (inside a hot spot).

    A candidate's score is the count (``score_n``) and weight (``score_w``) of the incidents
    within ``radius_m`` not yet captured by a chosen disc.
    """

    def __init__(
        self,
        uxy: np.ndarray,
        ucount: np.ndarray,
        uweight: np.ndarray,
        owner: np.ndarray,
        radius_m: float,
        sep: float,
        min_incidents: int,
    ) -> None:
        self.uxy, self.owner = uxy, owner
        self.radius_m, self.sep, self.min_incidents = radius_m, sep, min_incidents
        self.cand = np.flatnonzero(owner >= 0)
        self.ctree = cKDTree(uxy[self.cand])
        self.nbrs = cKDTree(uxy).query_ball_point(uxy[self.cand], r=radius_m)
        self.remaining_n = ucount.copy()
        self.remaining_w = uweight.copy()
        self.score_n = np.array([self.remaining_n[nb].sum() for nb in self.nbrs])
        self.score_w = np.array([self.remaining_w[nb].sum() for nb in self.nbrs])
        self.eligible = np.ones(len(self.cand), dtype=bool)
        self.centres: list[tuple[int, int]] = []
        self.unserved: list[tuple[int, str]] = []  # (hot spot index, why it has no area)

    def choose(self, n_hotspots: int, max_areas: int | None) -> list[tuple[int, int]]:
        """Centres as (location index, hot spot index), in the order chosen."""
        while max_areas is None or len(self.centres) < max_areas:
            if not self.eligible.any():
                break
            ci = int(np.argmax(np.where(self.eligible, self.score_w, -np.inf)))
            if self.score_n[ci] < self.min_incidents - 1e-9:
                break
            self._take(ci)
        self._one_per_hotspot(n_hotspots, max_areas)
        return self.centres

    def _one_per_hotspot(self, n_hotspots: int, max_areas: int | None) -> None:
        """One area for every hot spot left without one, if its best disc holds enough."""
        served = {h for _, h in self.centres}
        for h in range(n_hotspots):
            if h in served or (max_areas is not None and len(self.centres) >= max_areas):
                continue
            mine = self.eligible & (self.owner[self.cand] == h) & (self.score_n > 0)
            if not mine.any():
                self.unserved.append(
                    (
                        h,
                        "its incidents are already covered by other areas, excluded, or closer "
                        "than min_separation_m.",
                    )
                )
                continue
            best = int(np.argmax(np.where(mine, self.score_w, -np.inf)))
            if self.score_n[best] < self.min_incidents - 1e-9:
                self.unserved.append(
                    (
                        h,
                        f"its best {2 * self.radius_m:.0f} m disc holds "
                        f"{int(self.score_n[best])} incident(s), fewer than "
                        f"min_incidents={self.min_incidents}.",
                    )
                )
                continue
            self._take(best)

    def _take(self, ci: int) -> None:
        """Make a disc at candidate ``ci``: its incidents leave every other candidate's score."""
        cand, uxy = self.cand, self.uxy
        self.centres.append((int(cand[ci]), int(self.owner[cand[ci]])))
        captured = [j for j in self.nbrs[ci] if self.remaining_n[j] > 0]
        if captured:
            hit = self.ctree.query_ball_point(uxy[captured], r=self.radius_m)
            for j, cands_of_j in zip(captured, hit, strict=True):
                self.score_n[cands_of_j] -= self.remaining_n[j]
                self.score_w[cands_of_j] -= self.remaining_w[j]
            self.remaining_n[captured] = 0.0
            self.remaining_w[captured] = 0.0
        self.eligible[self.ctree.query_ball_point(uxy[cand[ci]], r=self.sep)] = False
        self.eligible[ci] = False


_AREA_COLUMNS = (
    "patrol_area_id",
    "hotspot_id",
    "hotspot_rank",
    "rank",
    "forecast",
    "centre_x",
    "centre_y",
    "centre_lon",
    "centre_lat",
    "radius_m",
    "incidents",
    "share",
    "harm",
    "area_m2",
    "pai",
    "max_extent_m",
    "location",
    "monthly_counts",
    "months_active",
    "n_months",
    "temporal_class",
    "trend",
    "hotspot_temporal_class",
    "has_time",
    "peak_window",
    "peak_start_hour",
    "peak_end_hour",
    "peak_days",
    "peak_basis",
    "night_share",
    "geometry",
)
_INHERITED = (
    "has_time",
    "peak_window",
    "peak_start_hour",
    "peak_end_hour",
    "peak_days",
    "peak_basis",
    "night_share",
)


def _exclusion_geometry(exclude: Any, crs: pyproj.CRS) -> BaseGeometry | None:
    if exclude is None:
        return None
    if isinstance(exclude, gpd.GeoDataFrame | gpd.GeoSeries):
        series = exclude.geometry if isinstance(exclude, gpd.GeoDataFrame) else exclude
        if series.crs is not None and not pyproj.CRS.from_user_input(series.crs).equals(crs):
            series = series.to_crs(crs)
        geom = shapely.union_all(series.to_numpy())
    elif isinstance(exclude, BaseGeometry):
        geom = exclude
    else:
        msg = (
            "exclude must be a GeoDataFrame, GeoSeries or shapely geometry of places to leave out."
        )
        raise ParameterError(msg)
    if geom is None or geom.is_empty:
        return None
    shapely.prepare(geom)
    return geom


def _temporal_class(counts: Sequence[int]) -> tuple[str, str]:
    """(temporal class, trend) by the hot spots' rules (:func:`profile.classify_counts`)."""
    from hotspots.profile import classify_counts

    if len(counts) == 0 or sum(counts) == 0:
        return "intermittent", "stable"
    return classify_counts(counts)


def _own_profile(sub: pd.DataFrame, prior: Any = None) -> dict[str, Any]:
    """The time profile of an area outside every hot spot, from its own incidents (the columns
    an area otherwise inherits from its hot spot); its peak hours from its counts shrunk toward
    the force-wide profile (``prior``, :class:`hotspots.profile.TimingPrior`) as a hot spot's."""
    from hotspots.constants import NIGHT_WINDOW
    from hotspots.profile import peak_window
    from hotspots.tactics import format_window

    timed = sub.loc[sub["has_time"].astype(bool), "datetime"].dropna()
    out: dict[str, Any] = {"hotspot_id": "", "temporal_class": None}
    if len(timed) == 0 or len(timed) < 0.5 * len(sub):
        out.update(has_time=False, peak_window="", peak_start_hour=None, peak_end_hour=None,
                   peak_days=None, peak_basis="", night_share=None)  # fmt: skip
        return out
    hours = np.bincount(timed.dt.hour.to_numpy(), minlength=24)
    if prior is not None:
        peak = prior.windows(hours[None], np.zeros((1, 7)))[0][0]
    else:
        peak = peak_window(hours)
    basis = "own" if prior is None or hours.sum() >= prior.hour_strength else "force"
    lo, hi = NIGHT_WINDOW
    night = hours[lo:].sum() + hours[:hi].sum()
    out.update(
        has_time=True,
        peak_window=format_window(peak[0], peak[1]) if peak is not None else "",
        peak_start_hour=peak[0] if peak is not None else None,
        peak_end_hour=peak[1] if peak is not None else None,
        peak_days=None,
        peak_basis=basis,
        night_share=float(night / hours.sum()),
    )
    return out


def _area_rows(
    incidents: Incidents,
    hot: gpd.GeoDataFrame,
    uxy: np.ndarray,
    centres: list[tuple[int, int]],
    radius_m: float,
    excl: BaseGeometry | None,
    keep: np.ndarray,
    frame: pd.DataFrame,
) -> list[dict[str, Any]]:
    if not centres:
        return []
    xy = incidents.xy
    kept = np.flatnonzero(keep)
    tree = cKDTree(xy[kept]) if len(kept) else None
    n_total = len(incidents)
    study = incidents.study_area_m2
    months = incidents.months
    # every centre at once, in a projection thread (hotspots.crs.projected)
    lons, lats = to_wgs84(
        np.array([uxy[loc][0] for loc, _ in centres], dtype=float),
        np.array([uxy[loc][1] for loc, _ in centres], dtype=float),
        incidents.crs,
    )
    weights_given = incidents.has_weights
    # The columns each area reads, once (a row take of the whole frame per area costs more
    # than the rest of the area's row): its month's position among the observed months (-1:
    # none), its location text and its weight.
    month_pos = np.asarray(
        pd.DatetimeIndex(months).get_indexer(pd.DatetimeIndex(frame["month"])), dtype=np.int64
    )
    location_text = frame["location"].astype(str).to_numpy(dtype=object)
    weight = frame["weight"].to_numpy(dtype=float) if weights_given else None
    per_hotspot: Counter[int] = Counter()
    parents: dict[int, Any] = {}
    rows = []
    prior: Any = None  # the force-wide timing, made for the first area outside every hot spot
    for rank, (loc, h) in enumerate(centres, start=1):
        cx, cy = (float(v) for v in uxy[loc])
        lon, lat = lons[rank - 1], lats[rank - 1]
        disc = shapely.Point(cx, cy).buffer(radius_m, quad_segs=16)
        if excl is not None:
            disc = disc.difference(excl)
        members = (
            kept[tree.query_ball_point((cx, cy), r=radius_m)]
            if tree is not None
            else np.array([], int)
        )
        n_in = len(members)
        pos = month_pos[members]
        counts = np.bincount(pos[pos >= 0], minlength=len(months)).tolist()
        temporal, trend = _temporal_class(counts)
        locs = [s for s in location_text[members] if s.strip()]
        per_hotspot[h] += 1
        if h < 0:
            if prior is None:
                from hotspots.profile import timing_prior

                prior = timing_prior(incidents) or False
            parent = _own_profile(frame.iloc[members], prior or None)
        elif h in parents:
            parent = parents[h]
        else:
            parent = parents[h] = hot.loc[h]  # a hot spot's row, read once for all its areas
        area = float(disc.area)
        share = n_in / n_total if n_total else float("nan")
        row: dict[str, Any] = {
            "patrol_area_id": f"{parent['hotspot_id']}-P{per_hotspot[h]}"
            if h >= 0
            else f"A{per_hotspot[h]:03d}",
            "hotspot_id": str(parent["hotspot_id"]),
            "hotspot_rank": (int(parent["rank"]) if "rank" in hot.columns else h + 1)
            if h >= 0
            else None,
            "rank": rank,
            "forecast": float("nan"),
            "centre_x": cx,
            "centre_y": cy,
            "centre_lon": float(lon),
            "centre_lat": float(lat),
            "radius_m": float(radius_m),
            "incidents": int(n_in),
            "share": share,
            "harm": float(np.nansum(weight[members])) if weight is not None else float("nan"),
            "area_m2": area,
            "pai": share / (area / study) if study > 0 and area > 0 else float("nan"),
            "max_extent_m": 2.0 * float(radius_m),
            "location": Counter(locs).most_common(1)[0][0] if locs else "",
            "monthly_counts": counts,
            "months_active": sum(1 for c in counts if c > 0),
            "n_months": len(counts),
            "temporal_class": temporal,
            "trend": trend,
            "hotspot_temporal_class": parent.get("temporal_class", None),
        }
        for col in _INHERITED:
            row[col] = parent.get(col, None)
        if row["has_time"] is None or (
            isinstance(row["has_time"], float) and math.isnan(row["has_time"])
        ):
            row["has_time"] = bool(incidents.has_time)
        row["geometry"] = disc
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Patrol plan


@dataclass
class PatrolPlan:
    """A dated, seeded patrol plan.

    Attributes
    ----------
    visits : pandas.DataFrame
        One row per planned visit (``arm == "patrol"``) and one per control area-day
        (``arm == "control"``, no visit: ``start``/``end`` NaT, 0 officers). Columns: ``date``
        (the plan day, which runs 06:00-05:59), ``weekday``, ``start``, ``end`` (local clock time,
        no time zone), ``minutes``, ``patrol_area_id``, ``hotspot_id``, ``arm``, ``assignment``
        (``"random"``, or ``"forced"`` when the gap rule made it a patrol day), ``visit``
        (1..visits_per_day), ``officers``, ``travel_minutes``, ``window``, ``window_basis``
        (``"profile"``: the place's own peak; ``"force"``: mostly the force-wide peak it is
        shrunk toward; ``"general"``: this tool's fallback without times of day),
        ``tactic_ids`` (``"T01;T13"``), ``location``, ``lat``, ``lon``.
    params : dict
        Every parameter, the seed and the start date (JSON-serialisable).
    summary : dict
        Areas planned and left out, visits, capacity use, control share, largest gap, caveats.
    areas : pandas.DataFrame
        One row per patrol area given: window, tactics, whether it is in the plan.
    """

    visits: pd.DataFrame
    params: dict[str, Any]
    summary: dict[str, Any]
    areas: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def plan_id(self) -> str:
        """A short stable id from the parameters (seed included), used in calendar UIDs."""
        blob = json.dumps(to_jsonable(self.params), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def area_summary(self) -> pd.DataFrame:
        """Per patrol area: patrol visits, control and forced days, first visit, largest gap (days).

        Computed once per plan (grouped, not one scan of the visits per area) and reused: the
        app asks for it several times per page.
        """
        cached = self.__dict__.get("_area_summary")
        if cached is not None:
            return cached.copy()
        v = self.visits
        ids = self.areas["patrol_area_id"]
        patrol = v[v["arm"] == "patrol"]
        by_area = patrol.groupby("patrol_area_id")
        days = (
            patrol[["patrol_area_id", "date"]]
            .drop_duplicates()
            .sort_values(["patrol_area_id", "date"])
        )
        gap = (
            pd.to_datetime(days["date"])
            .diff()
            .dt.days.where(days["patrol_area_id"].eq(days["patrol_area_id"].shift()))
        )
        forced = (
            patrol.loc[patrol["assignment"] == "forced", ["patrol_area_id", "date"]]
            .drop_duplicates()
            .groupby("patrol_area_id")
            .size()
        )
        controls = v[v["arm"] == "control"].groupby("patrol_area_id").size()
        summary_cols = {
            "patrol_area_id": ids.to_numpy(),
            "in_plan": self.areas["in_plan"].astype(bool).to_numpy(),
            "visits": by_area.size().reindex(ids, fill_value=0).astype(int).to_numpy(),
            "patrol_days": days.groupby("patrol_area_id")
            .size()
            .reindex(ids, fill_value=0)
            .astype(int)
            .to_numpy(),
            "control_days": controls.reindex(ids, fill_value=0).astype(int).to_numpy(),
            "forced_days": forced.reindex(ids, fill_value=0).astype(int).to_numpy(),
            "first_visit": by_area["start"].min().reindex(ids).to_numpy(),
            "max_gap_days": gap.groupby(days["patrol_area_id"])
            .max()
            .reindex(ids)
            .fillna(0)
            .astype(int)
            .to_numpy(),
            "window": self.areas["window"].to_numpy(),
            "tactic_ids": self.areas["tactic_ids"].to_numpy(),
        }
        out = summary_cols
        summary = pd.DataFrame(out)
        self.__dict__["_area_summary"] = summary
        return summary.copy()

    def to_csv(self, path: str | Path | None = None) -> str:
        """The visits as spreadsheet-safe CSV text (and written to ``path`` if given).

        See :func:`hotspots.export.plan_to_csv`, which writes it.
        """
        return plan_to_csv(self, path)

    def to_ical(self, path: str | Path | None = None, *, calendar_name: str | None = None) -> str:
        """The patrol visits as an RFC 5545 calendar (controls are not events).

        See :func:`hotspots.export.plan_to_ical`, which writes it.
        """
        return plan_to_ical(self, path, calendar_name=calendar_name)


def make_patrol_plan(
    patrol_areas: pd.DataFrame,
    *,
    days: int = PLAN_DAYS,
    start_date: dt.date | str | None = None,
    officer_hours: float = OFFICER_HOURS,
    officers_per_patrol: int = OFFICERS_PER_PATROL,
    visit_minutes: int = VISIT_MINUTES,
    visits_per_day: int = VISITS_PER_DAY,
    control_share: float = CONTROL_SHARE,
    max_gap_days: int = MAX_GAP_DAYS,
    travel_minutes: float = TRAVEL_MINUTES,
    seed: int | None = None,
    matches: Mapping[str, Sequence[TacticMatch]] | None = None,
    created: dt.datetime | None = None,
    kb: KnowledgeBase | None = None,
    doses: Mapping[str, Dose] | None = None,
    dose: str = "uniform",
) -> PatrolPlan:
    """A seeded patrol plan for ``days`` days, with defaults suggested by the guide's evidence.

    Parameters
    ----------
    patrol_areas : pandas.DataFrame or GeoDataFrame
        From :func:`make_patrol_areas` (needs ``patrol_area_id``; uses ``rank``, ``hotspot_id``,
        ``centre_lat``, ``centre_lon``, ``location`` and the peak window columns when present).
    days : int, default 28
        Length of the plan in days.
    start_date : date or "YYYY-MM-DD", optional
        First plan day; default tomorrow (recorded in ``params``).
    officer_hours : float, default 8.0
        Officer-hours available per day for hot spot patrol, all officers together.
    officers_per_patrol : int, default 2
        Officers in each patrol (two on foot, as in Basford2021 and Bland2021).
    visit_minutes : int, default 15
        Minutes on foot inside the area per visit (Koper1995); below 10 is refused.
    visits_per_day : int, default 1
        Visits per treated area per patrol day, spread over the window.
    control_share : float, default 0.0
        Share of planned areas drawn as same-day controls each day for crossover testing
        (ThamesValleyRCT: 0.5; Southend 0.6, Basford2021; Bedfordshire 0.67, Bland2021). At most
        ``(max_gap_days - 1) / max_gap_days``.
    max_gap_days : int, default 3
        Most days from one patrol visit to the next for every planned area (Barnes2020).
    travel_minutes : float, default 10.0
        Allowance per visit for reaching the area (counted against capacity, never as dose).
    seed : int, optional
        For ``numpy.random.default_rng``; drawn and recorded when not given.
    matches : mapping, optional
        patrol_area_id -> tactic matches; default :func:`~hotspots.tactics.match_tactics` on each
        row.
    created : datetime, optional
        Creation time recorded as ``params["created_utc"]`` (default now).
    doses : mapping, optional
        patrol_area_id -> :class:`~hotspots.tactics.Dose` of the area's recommendation
        (:func:`hotspots.tactics.recommend_table`): its visits a day, peak days and window.
    dose : {"uniform", "recommended"}, default "uniform"
        ``"uniform"``: every patrolled area gets ``visits_per_day`` visits, so capacity covers as
        many areas as it can; each area whose recommended dose this falls short of is named in
        the notes with the dose it would need. ``"recommended"``: each area gets its
        recommendation's visits a day on its peak days (one visit on the other days) inside the
        recommendation's window, so capacity covers fewer areas; a dose that the window or the
        capacity cannot hold is cut to what fits and said.

    Returns
    -------
    PatrolPlan

    Notes
    -----
    Algorithm:

    * Capacity: ``officer_hours * 60 / officers_per_patrol`` team-minutes a day; each visit costs
      ``visit_minutes + travel_minutes``. ``K`` = whole visits that fit; treated areas a day =
      ``K // visits_per_day``. Capacity is never exceeded.
    * Areas are taken in ``rank`` order. The plan keeps the most areas ``E`` for which the daily
      treated count ``E - round(E * control_share)`` fits capacity; lower-ranked areas are left out
      and listed in ``summary["left_out"]``.
    * Each day, ``round(E * control_share)`` areas are controls (no visit) and the rest are
      patrolled. The draw is random (numpy Generator) but restricted by the gap rule: an area may be
      a control on at most ``max_gap_days - 1`` consecutive days, so no planned area waits more than
      ``max_gap_days`` days between visits. Areas whose deadline requires a patrol today (also
      looking ahead, earliest deadline first, so the rule can always be met) are assigned to patrol
      and marked ``assignment="forced"``; the others are drawn at random. For a clean crossover
      analysis compare patrol and control area-days by the recorded assignment (and check the result
      without forced days). Without controls every planned area is patrolled every day.
    * Start times are drawn uniformly on a 5-minute grid inside the area's window (its own peak
      hours from the profile, or this tool's general window with the no-time caveat), every day,
      so the order of visits changes daily (Southend varied its times, Basford2021). A plan day
      runs 06:00-05:59 (ThamesValleyRCT), so a 22:00-03:00 window belongs to one plan day. Peak
      days are reported but not used to skip days, because the evidence asks for regular visits
      with short gaps.
    * With ``dose="recommended"`` each area's visits on a patrol day follow its recommended dose
      (``doses``): its visits a day on its peak days, one on the others, inside the
      recommendation's window; capacity is checked against the largest doses that could be drawn
      together on one day, so it is never exceeded. With ``"uniform"`` every area gets
      ``visits_per_day`` and the notes name each planned area whose dose asks for more.
    """
    kb = kb or load_knowledge_base()
    _check_plan_params(
        days,
        officer_hours,
        officers_per_patrol,
        visit_minutes,
        visits_per_day,
        control_share,
        max_gap_days,
        travel_minutes,
        kb,
    )
    if "patrol_area_id" not in patrol_areas.columns:
        msg = "patrol_areas lacks the column 'patrol_area_id' (use make_patrol_areas)."
        raise ParameterError(msg)
    if len(patrol_areas) == 0:
        msg = "There are no patrol areas to plan; lower min_incidents or check the hot spots."
        raise ParameterError(msg)
    if seed is None:
        seed = secrets.randbits(32)
    seed = int(seed)
    rng = np.random.default_rng(seed)
    start = plan_start_date(start_date)
    created = created or dt.datetime.now(dt.UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)

    areas = patrol_areas.copy()
    if "rank" in areas.columns:
        areas = areas.sort_values("rank", kind="stable")
    areas = pd.DataFrame(areas.drop(columns="geometry", errors="ignore")).reset_index(drop=True)
    n_total = len(areas)
    visit = _VisitRule(
        minutes=visit_minutes,
        per_day=visits_per_day,
        travel_minutes=travel_minutes,
        officers=officers_per_patrol,
        day_start_h=int(kb.constant("plan_day_start_hour")),
    )

    team_minutes, k_visits = _capacity(officer_hours, visit)
    run_limit = max_gap_days - 1  # consecutive control days allowed
    area_doses = [(doses or {}).get(str(pid)) for pid in areas["patrol_area_id"]]
    windows = _area_windows(areas, area_doses, dose, visit, kb)
    per_day, peak_days, dose_notes = _dose_visits(
        areas["patrol_area_id"], area_doses, windows, visit, k_visits, dose
    )
    n_plan, n_ctrl, split_note = _plan_size(n_total, per_day, k_visits, control_share, run_limit)
    n_treat = n_plan - n_ctrl
    tactic_ids = [
        _tactic_ids(row, matches, kb, n_total, "tactic_ids" in areas.columns)
        for _, row in areas.iterrows()
    ]
    areas["window"] = [w.label for w in windows]
    areas["window_basis"] = [w.basis for w in windows]
    areas["tactic_ids"] = tactic_ids
    areas["in_plan"] = np.arange(n_total) < n_plan

    areas["visits_per_peak_day"] = per_day
    visits, forced_total = _assign_days(
        areas.iloc[:n_plan],
        _AreaDoses(windows, tactic_ids, per_day, peak_days),
        visit,
        days,
        start,
        n_treat,
        run_limit,
        rng,
    )

    params = {
        "days": int(days),
        "start_date": start.isoformat(),
        "officer_hours": float(officer_hours),
        "officers_per_patrol": int(officers_per_patrol),
        "visit_minutes": int(visit_minutes),
        "visits_per_day": int(visits_per_day),
        "dose": dose,
        "control_share": float(control_share),
        "max_gap_days": int(max_gap_days),
        "travel_minutes": float(travel_minutes),
        "seed": seed,
        "plan_day_starts": f"{visit.day_start_h:02d}:00",
        "start_time_grid_minutes": _START_GRID_MINUTES,
        "created_utc": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "knowledge_base_version": kb.schema_version,
    }
    patrol = visits[visits["arm"] == "patrol"]
    used = patrol.groupby("date")["minutes"].sum() + patrol.groupby("date")["travel_minutes"].sum()
    gaps = [
        _max_gap(sorted(set(patrol.loc[patrol["patrol_area_id"] == pid, "date"])))
        for pid in areas["patrol_area_id"][:n_plan]
    ]
    caveats = sorted({w.caveat for w in windows[:n_plan] if w.caveat})
    left_out = [str(x) for x in areas["patrol_area_id"][n_plan:]]
    area_days = n_plan * days
    summary = {
        "areas_given": n_total,
        "areas_planned": n_plan,
        "areas_left_out": len(left_out),
        "left_out": left_out,
        "treated_per_day": n_treat,
        "controls_per_day": n_ctrl,
        "patrol_visits": len(patrol),
        "control_area_days": int((visits["arm"] == "control").sum()),
        "control_share_observed": int((visits["arm"] == "control").sum()) / area_days
        if area_days
        else 0.0,
        "forced_area_days": forced_total,
        "team_minutes_per_day": team_minutes,
        "max_team_minutes_used": float(used.max()) if len(used) else 0.0,
        "visits_fundable_per_day": k_visits,
        "max_gap_days_observed": max(gaps) if gaps else 0,
        "officer_hours_planned": float(len(patrol) * visit_minutes * officers_per_patrol / 60.0),
        "windows_from_profile": int(sum(w.basis == "profile" for w in windows[:n_plan])),
        "windows_force_wide": int(sum(w.basis == "force" for w in windows[:n_plan])),
        "windows_general": int(sum(w.basis == "general" for w in windows[:n_plan])),
        "caveats": caveats,
        "review_by": (
            start + dt.timedelta(days=int(kb.constant("campaign_review_days")))
        ).isoformat(),
    }
    notes = [
        f"{n_plan} of {n_total} patrol areas planned for {days} days from {start.isoformat()} "
        f"(seed {seed}); {n_treat} patrolled and {n_ctrl} left as controls each day.",
        f"Capacity: {team_minutes:.0f} team-minutes a day fund {k_visits} visits of "
        f"{visit_minutes} min plus {travel_minutes:g} min travel.",
    ]
    if left_out:
        more = " ..." if len(left_out) > 10 else ""
        notes.append(
            f"{len(left_out)} lower-ranked areas are left out for lack of capacity: "
            f"{', '.join(left_out[:10])}{more}."
        )
    if split_note:
        notes.append(split_note)
    if dose == "recommended" and left_out:
        notes.append(
            _recommended_capacity_note(
                areas["patrol_area_id"].astype(str).tolist(),
                per_day,
                n_plan,
                k_visits,
                control_share,
                run_limit,
                visit.per_day,
            )  # fmt: skip
        )
    planned_ids = set(areas["patrol_area_id"][:n_plan].astype(str))
    dose_lines = [line for pid, line in dose_notes if pid in planned_ids]
    summary["dose_notes"] = dose_lines
    summary["notes"] = notes + dose_lines + caveats
    return PatrolPlan(visits=visits, params=params, summary=summary, areas=areas)


@dataclass(frozen=True)
class _AreaDoses:
    """Per planned area: window, tactic ids, visits on a peak day and the peak weekdays."""

    windows: Sequence[Any]
    tactic_ids: Sequence[str]
    per_day: Sequence[int]
    peak_days: Sequence[tuple[int, ...]]

    def visits_on(self, i: int, day: dt.date) -> int:
        """Visits area ``i`` gets on a patrol ``day``: its dose on peak days, else one."""
        return int(self.per_day[i]) if day.weekday() in self.peak_days[i] else 1


def _assign_days(
    areas: pd.DataFrame,
    plan: _AreaDoses,
    visit: _VisitRule,
    days: int,
    start: dt.date,
    n_treat: int,
    run_limit: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, int]:
    """The plan's rows for the planned ``areas`` and how many area-days were forced patrols.

    Each day ``n_treat`` areas are patrolled under the gap rule (restricted randomisation,
    earliest deadline first, :func:`_draw_treated`) and the others are controls.
    """
    n_plan = len(areas)
    run = np.zeros(n_plan, dtype=int)  # consecutive control days so far
    records: list[dict[str, Any]] = []
    forced_total = 0
    fields = [_area_fields(areas.iloc[i]) for i in range(n_plan)]  # read once, not each day
    for d in range(days):
        day = start + dt.timedelta(days=d)
        treated, forced = _draw_treated(run, n_treat, run_limit, rng)
        forced_total += len(forced)
        is_treated = np.zeros(n_plan, dtype=bool)
        is_treated[treated] = True
        run = np.where(is_treated, 0, run + 1)
        for i in range(n_plan):
            rule = replace(visit, per_day=plan.visits_on(i, day))
            records += _area_day_records(
                fields[i], day, plan.windows[i], plan.tactic_ids[i], rule, rng,
                arm="patrol" if is_treated[i] else "control",
                assignment="forced" if int(i) in forced else "random",
            )  # fmt: skip
    visits = pd.DataFrame.from_records(records)
    visits["start"] = pd.to_datetime(visits["start"])
    visits["end"] = pd.to_datetime(visits["end"])
    visits["_arm"] = (visits["arm"] != "patrol").astype(int)
    visits = (
        visits.sort_values(["date", "_arm", "start", "patrol_area_id"], kind="stable")
        .drop(columns="_arm")
        .reset_index(drop=True)
    )
    return visits, forced_total


def _area_windows(
    areas: pd.DataFrame,
    area_doses: Sequence[Dose | None],
    dose: str,
    visit: _VisitRule,
    kb: KnowledgeBase,
) -> list[Any]:
    """Each area's patrol window: its recommendation's with ``dose="recommended"``, else its
    own peak (:func:`~hotspots.tactics.patrol_window`); each must hold the day's visits."""
    if dose not in ("uniform", "recommended"):
        msg = f"dose must be 'uniform' or 'recommended', got {dose!r}."
        raise ParameterError(msg)
    windows = [
        d.window if d is not None and dose == "recommended" else patrol_window(row, kb)
        for d, (_, row) in zip(area_doses, areas.iterrows(), strict=True)
    ]
    for win, pid in zip(windows, areas["patrol_area_id"], strict=True):
        if win.minutes < visit.per_day * visit.minutes:
            msg = (
                f"Patrol area {pid}: window {win.label} is shorter than {visit.per_day} "
                f"visit(s) of {visit.minutes} minutes."
            )
            raise ParameterError(msg)
    return windows


def _dose_visits(
    ids: pd.Series,
    area_doses: Sequence[Dose | None],
    windows: Sequence[Any],
    visit: _VisitRule,
    k_visits: int,
    mode: str,
) -> tuple[list[int], list[tuple[int, ...]], list[tuple[str, str]]]:
    """Visits on a peak day and peak weekdays per area, and a note per area whose dose is cut.

    ``"uniform"`` keeps ``visit.per_day`` everywhere and names the areas whose recommendation
    asks for more; ``"recommended"`` gives each area its recommendation's visits on its peak
    days, cut to what its window holds (visits of ``visit.minutes`` end to end) and to the
    visits a day's capacity funds.
    """
    per_day: list[int] = []
    peak: list[tuple[int, ...]] = []
    notes: list[tuple[str, str]] = []
    for pid, d, win in zip(ids.astype(str), area_doses, windows, strict=True):
        wanted = d.visits_per_day if d is not None and d.visits_per_day else visit.per_day
        if d is None or mode == "uniform":
            per_day.append(visit.per_day)
            peak.append(tuple(range(7)))
            if d is not None and wanted > visit.per_day:
                notes.append((pid, _short_dose_note(pid, d, wanted, visit.per_day, "uniform")))
            continue
        fits = min(int(win.minutes // visit.minutes), k_visits)
        got = max(1, min(wanted, fits))
        per_day.append(got)
        peak.append(tuple(d.days) or tuple(range(7)))
        if got < wanted:
            why = "window" if fits == int(win.minutes // visit.minutes) else "capacity"
            notes.append((pid, _short_dose_note(pid, d, wanted, got, why)))
    return per_day, peak, notes


def _short_dose_note(pid: str, d: Dose, wanted: int, got: int, why: str) -> str:
    """One sentence: the area's recommended dose, what the plan gives and why."""
    days = d.window.label
    if why == "uniform":
        return (
            f"{pid}: its recommendation asks for {wanted} visits a day ({days}); the plan gives "
            f"{got} so that capacity covers more areas (dose='recommended', --dose recommended, "
            "carries the dose out for fewer areas)."
        )
    reason = (
        f"its window {d.window.label} holds only {got} visits"
        if why == "window"
        else f"a day's capacity funds only {got} visits"
    )
    return f"{pid}: its recommendation asks for {wanted} visits a day; {reason}, so it gets {got}."


@dataclass(frozen=True)
class _VisitRule:
    """What one visit is: minutes on foot, visits a day, travel, officers, plan-day start hour."""

    minutes: int
    per_day: int
    travel_minutes: float
    officers: int
    day_start_h: int


def plan_start_date(start_date: dt.date | str | None) -> dt.date:
    """The first day of a plan: the given date, or tomorrow (local date).

    Parameters
    ----------
    start_date : datetime.date, datetime.datetime, str or None
        A date, a datetime (its date is taken), ``YYYY-MM-DD`` text, or None for tomorrow.

    Returns
    -------
    datetime.date

    Raises
    ------
    ParameterError
        Text that is not ``YYYY-MM-DD``.
    """
    if start_date is None:
        return dt.date.today() + dt.timedelta(days=1)
    if isinstance(start_date, str):
        try:
            return dt.date.fromisoformat(start_date)
        except ValueError as exc:
            msg = f"start_date must be YYYY-MM-DD, got {start_date!r}."
            raise ParameterError(msg) from exc
    if isinstance(start_date, dt.datetime):
        return start_date.date()
    return start_date


def _capacity(officer_hours: float, visit: _VisitRule) -> tuple[float, int]:
    """Team-minutes a day and the whole visits (with travel) they fund; at least one day's."""
    team_minutes = officer_hours * 60.0 / visit.officers
    cost = visit.minutes + visit.travel_minutes
    k_visits = int(math.floor(team_minutes / cost + 1e-9))
    if k_visits // visit.per_day < 1:
        msg = (
            f"Capacity of {officer_hours:g} officer-hours a day with {visit.officers} officers "
            f"per patrol ({team_minutes:.0f} team-minutes) cannot fund one day's visits of "
            f"{visit.per_day} x {visit.minutes} min plus {visit.travel_minutes:g} min travel. "
            "Raise officer_hours."
        )
        raise ParameterError(msg)
    return team_minutes, k_visits


def _plan_size(
    n_total: int, per_day: Sequence[int], k_visits: int, control_share: float, run_limit: int
) -> tuple[int, int, str | None]:
    """Areas planned, controls a day and a note when no split is possible.

    The most areas ``E`` (in rank order) whose daily treated count ``T = E - round(E *
    control_share)`` fits capacity whichever ``T`` of them are drawn: the ``T`` largest visits
    a day among the first ``E`` areas sum to at most ``k_visits``. With one visit rule for all
    areas this is ``T <= k_visits // visits_per_day``. Controls must be few enough for the gap
    rule to rotate them.
    """

    def n_controls(e: int) -> int:
        return int(math.floor(e * control_share + 0.5))

    v = np.asarray(per_day, dtype=int)
    n_plan = 0
    for e in range(1, n_total + 1):
        c = n_controls(e)
        t = e - c
        worst = int(np.sort(v[:e])[::-1][:t].sum()) if t >= 1 else 0
        if 1 <= t and worst <= k_visits and c <= run_limit * t:
            n_plan = e
    if n_plan == 0:  # too few areas (or too little capacity) to split: patrol the top area daily
        note = (
            "Too few patrol areas for a patrol/control split at this capacity: the top area is "
            "patrolled every day and there are no controls."
        )
        return 1, 0, note
    return n_plan, n_controls(n_plan), None


def _recommended_capacity_note(
    ids: Sequence[str],
    per_day: Sequence[int],
    n_plan: int,
    k_visits: int,
    control_share: float,
    run_limit: int,
    uniform_per_day: int,
) -> str:
    """Why recommended doses plan so few areas: the next area's dose, the day it would need,
    and how many areas one visit rule (``dose="uniform"``) would plan at the same capacity."""
    nxt = ids[n_plan]
    treat = n_plan + 1 - int(math.floor((n_plan + 1) * control_share + 0.5))
    need = int(np.sort(np.asarray(per_day[: n_plan + 1], dtype=int))[::-1][: max(treat, 1)].sum())
    n_uniform, _, _ = _plan_size(
        len(ids), [uniform_per_day] * len(ids), k_visits, control_share, run_limit
    )
    return (
        f"With each area's recommended dose the {k_visits} visits a day that capacity funds "
        f"cover {n_plan} area(s): the next area, {nxt}, asks for {int(per_day[n_plan])} visit(s) "
        f"on its peak days, and with it a peak day could need {need}. At "
        f"{uniform_per_day} visit(s) a day per area (dose='uniform', --dose uniform) the same "
        f"capacity plans {n_uniform} areas, whatever dose each one's recommendation asks for."
    )


def _tactic_ids(
    row: pd.Series,
    matches: Mapping[str, Sequence[TacticMatch]] | None,
    kb: KnowledgeBase,
    n_total: int,
    has_column: bool,
) -> str:
    """The area's tactic ids joined by ';': given matches, its own column, or matched here."""
    ms = matches.get(str(row["patrol_area_id"])) if matches is not None else None
    if ms is None:
        given = row["tactic_ids"] if has_column else None
        if isinstance(given, list | tuple | str) and len(given):
            return ";".join(given if not isinstance(given, str) else given.split(";"))
        ms = match_tactics(row, kb, n_hotspots=n_total)
    return ";".join(m.tactic.id for m in ms)


def _area_fields(row: pd.Series) -> dict[str, Any]:
    """The columns of a patrol area that each of its plan rows repeats."""
    return {
        "patrol_area_id": str(row["patrol_area_id"]),
        "hotspot_id": str(row.get("hotspot_id", "")),
        "location": str(row.get("location", "") or ""),
        "lat": float(row.get("centre_lat", float("nan"))),
        "lon": float(row.get("centre_lon", float("nan"))),
    }


def _area_day_records(
    area: dict[str, Any],
    day: dt.date,
    window: Any,
    tactic_ids: str,
    visit: _VisitRule,
    rng: np.random.Generator,
    *,
    arm: str,
    assignment: str,
) -> list[dict[str, Any]]:
    """One area's plan rows for one day: its visits (patrol), or one row without a visit.
    ``area`` holds its columns (:func:`_area_fields`)."""
    base = {
        "date": pd.Timestamp(day),
        "weekday": day.strftime("%a"),
        "patrol_area_id": area["patrol_area_id"],
        "hotspot_id": area["hotspot_id"],
        "window": window.label,
        "window_basis": window.basis,
        "tactic_ids": tactic_ids,
        "location": area["location"],
        "lat": area["lat"],
        "lon": area["lon"],
        "travel_minutes": float(visit.travel_minutes),
    }
    if arm == "control":
        no_visit = {"start": pd.NaT, "end": pd.NaT, "minutes": 0, "arm": "control"}
        return [base | no_visit | {"assignment": "random", "visit": 0, "officers": 0}]
    out = []
    starts = _draw_starts(window, visit.per_day, visit.minutes, visit.day_start_h, rng)
    for k, s in enumerate(starts, start=1):
        t0 = pd.Timestamp(day) + pd.Timedelta(hours=visit.day_start_h) + pd.Timedelta(minutes=s)
        out.append(
            base
            | {
                "start": t0,
                "end": t0 + pd.Timedelta(minutes=visit.minutes),
                "minutes": int(visit.minutes),
                "arm": "patrol",
                "assignment": assignment,
                "visit": k,
                "officers": int(visit.officers),
            }
        )
    return out


def _check_plan_params(
    days: Any,
    officer_hours: Any,
    officers_per_patrol: Any,
    visit_minutes: Any,
    visits_per_day: Any,
    control_share: Any,
    max_gap_days: Any,
    travel_minutes: Any,
    kb: KnowledgeBase,
) -> None:
    min_visit = kb.constant("min_visit_minutes")
    checks = [
        (
            isinstance(days, int | np.integer) and days >= 1,
            f"days must be a whole number >= 1, got {days!r}.",
        ),
        (officer_hours > 0, f"officer_hours must be positive, got {officer_hours!r}."),
        (
            isinstance(officers_per_patrol, int | np.integer) and officers_per_patrol >= 1,
            f"officers_per_patrol must be a whole number >= 1, got {officers_per_patrol!r}.",
        ),
        (
            visit_minutes >= min_visit,
            f"visit_minutes must be at least {min_visit} (visits under {min_visit} minutes do "
            f"not count as a dose), got {visit_minutes!r}.",
        ),
        (
            visit_minutes <= MAX_VISIT_MINUTES,
            f"visit_minutes must be at most {MAX_VISIT_MINUTES}, got {visit_minutes!r}.",
        ),
        (
            isinstance(visits_per_day, int | np.integer) and visits_per_day >= 1,
            f"visits_per_day must be a whole number >= 1, got {visits_per_day!r}.",
        ),
        (
            isinstance(max_gap_days, int | np.integer) and max_gap_days >= 1,
            f"max_gap_days must be a whole number >= 1, got {max_gap_days!r}.",
        ),
        (travel_minutes >= 0, f"travel_minutes must be >= 0, got {travel_minutes!r}."),
        (0.0 <= control_share < 1.0, f"control_share must be in [0, 1), got {control_share!r}."),
    ]
    for ok, msg in checks:
        if not ok:
            raise ParameterError(msg)
    limit = (max_gap_days - 1) / max_gap_days
    if control_share > limit + 1e-9:
        msg = (
            f"control_share {control_share:g} would leave areas without patrol for more than "
            f"max_gap_days={max_gap_days} days; at most {limit:.2f} is possible."
        )
        raise ParameterError(msg)


def _draw_treated(
    run: np.ndarray, n_treat: int, run_limit: int, rng: np.random.Generator
) -> tuple[np.ndarray, set[int]]:
    """Pick today's treated areas: deadline-driven ones first (forced), the rest at random.

    ``run[i]`` is area i's consecutive control days so far. After today a control's run is
    ``run + 1``, which must stay <= ``run_limit``; areas with ``run >= run_limit - h + 1`` must be
    treated within the next ``h`` days, so for every horizon at most ``h * n_treat`` of them may be
    controls today (earliest deadline first keeps this feasible every day).
    """
    n = len(run)
    if n_treat >= n:
        return np.arange(n), set()
    chosen: list[int] = []
    chosen_set: set[int] = set()
    forced: set[int] = set()
    order = rng.permutation(n)
    for h in range(0, run_limit + 1):
        # areas that must be treated within h days after today ... controls among them
        # <= h * n_treat
        group = [i for i in order if run[i] >= run_limit - h]
        need = len(group) - h * n_treat
        have = sum(1 for i in group if i in chosen_set)
        for i in group:
            if need - have <= 0:
                break
            if i not in chosen_set:
                chosen.append(i)
                chosen_set.add(i)
                forced.add(int(i))
                have += 1
    for i in order:
        if len(chosen) >= n_treat:
            break
        if i not in chosen_set:
            chosen.append(i)
            chosen_set.add(i)
    return np.array(chosen[:n_treat] if len(chosen) > n_treat else chosen, dtype=int), forced


def _draw_starts(
    window: Any, n: int, visit_minutes: int, day_start_h: int, rng: np.random.Generator
) -> list[int]:
    """Start minutes after the plan-day start (06:00), stratified over ``n`` window slices."""
    lo = ((window.start_hour - day_start_h) % 24) * 60
    hi = min(lo + window.minutes, _MINUTES_PER_DAY) - visit_minutes  # latest start
    if window.minutes >= _MINUTES_PER_DAY:
        lo, hi = 0, _MINUTES_PER_DAY - visit_minutes
    span = hi - lo
    starts = []
    for k in range(n):
        a = lo + span * k / n
        b = lo + span * (k + 1) / n - (visit_minutes if k < n - 1 else 0)
        b = max(a, b)
        g_lo = math.ceil(a / _START_GRID_MINUTES)
        g_hi = math.floor(b / _START_GRID_MINUTES)
        if g_hi < g_lo:
            starts.append(int(round(a)))
        else:
            starts.append(int(rng.integers(g_lo, g_hi + 1)) * _START_GRID_MINUTES)
    return starts


def _max_gap(dates: Sequence[Any]) -> int:
    if len(dates) < 2:
        return 0
    ds = [pd.Timestamp(d) for d in dates]
    return max(int((b - a).days) for a, b in zip(ds[:-1], ds[1:], strict=True))


# --------------------------------------------------------------------------------------------
# The whole set of outputs


def match_areas(
    incidents: Incidents, areas: gpd.GeoDataFrame, kb: Any = None
) -> dict[str, list[Any]]:
    """The tactics that apply to each patrol area, keyed by ``patrol_area_id``.

    Uses :func:`hotspots.tactics.match_tactics` on each area's profile, with the number of areas
    (for "among the most violent" rules) and the total harm when harm weights were given.
    """
    kb = load_knowledge_base() if kb is None else kb
    total_harm = float(incidents.weights.sum()) if incidents.has_weights else None
    return {
        str(row["patrol_area_id"]): match_tactics(
            row, kb, n_hotspots=len(areas), total_harm=total_harm
        )
        for _, row in areas.iterrows()
    }
