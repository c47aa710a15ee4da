"""Rank hot spots and profile each one: counts, harm, area, PAI, significance, and timing.

:func:`rank_hotspots` takes the polygons a detector found (:mod:`hotspots.kde`,
:mod:`hotspots.clusters`) and the incidents, and returns one row per hot spot with the columns
listed in ``docs/architecture.md``.

Ranking rule (``order="intensity"``, the default)
    ``intensity`` = incidents (or harm, when weights were given) per km\\ :sup:`2`, with the area
    floored at one patrol unit (150 m x 150 m = 2.25 ha). The College of Policing guide ranks
    *equal-sized* units (guide page G3, "Targeting: step three", in
    ``hotspots/data/tactics.json``; the UK trials used ~150 m units,
    :data:`hotspots.constants.MICRO_PLACE_M`), so a large diffuse area is judged by its average
    over its whole area and cannot outrank a small intense place just by holding more
    incidents, while anything smaller than a patrol unit is judged as if it were a whole unit
    (so a tiny sliver with two incidents cannot top the list either). ``order="count"``,
    ``"harm"`` and ``"peak"`` (the density surface's peak) are the alternatives.

Significance
    A hot spot is significant when it holds a micro place that stands out from its own
    surroundings beyond what police.uk's snapping of incidents to map points and the town's
    uneven density would produce: some 75 m disc centred on a location inside it holds more
    incidents than the rings 150-750 m around it predict, once each map point's catchment (the
    ground it collects crimes from) and the clumping of incidents are allowed for, by a margin
    that chance reaches in no disc of the study area with probability ``alpha`` (Bonferroni over
    every disc). :class:`hotspots.stats.SurroundingsTest` explains the test and its
    measurements. DBSCAN and HDBSCAN clusters carry the same test from their detector
    (:mod:`hotspots.clusters`); Gi* keeps its own FDR-controlled test against each cell's ring.
    The test is at the patrol scale on purpose: a large area that is busier than the town
    around it everywhere, with no micro place that stands out from its own streets, is a
    district, not a place to send a patrol to. ``disc_incidents`` and ``disc_expected`` give the
    most outstanding disc's count and what its surroundings predict.
"""

from __future__ import annotations

import math
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import stats

from hotspots._errors import ParameterError
from hotspots.constants import MICRO_PLACE_M, MICRO_PLACE_RADIUS_M, NIGHT_WINDOW, PATROL_UNIT_M2
from hotspots.crs import WGS84, transformer
from hotspots.grid import cell_keys
from hotspots.incidents import Incidents, unique_points
from hotspots.stats import (
    PlaceTest,
    SurroundingsTest,
    benjamini_hochberg,
    in_background,
    points_in_polygons,
    tarone_family,
)

__all__ = [
    "NIGHT_WINDOW",
    "PATROL_UNIT_M2",
    "RANK_ORDERS",
    "TimingPrior",
    "assign_incidents",
    "classify_counts",
    "count_and_name",
    "dirichlet_strength",
    "holding_incidents",
    "peak_window",
    "rank_hotspots",
    "rank_hotspots_with_members",
    "surroundings_p_values",
    "timing_prior",
    "top_locations",
]

RANK_ORDERS = ("intensity", "count", "harm", "peak")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

PROFILE_COLUMNS = [
    "hotspot_id",
    "rank",
    "incidents",
    "share",
    "harm",
    "area_m2",
    "area_ha",
    "density_per_km2",
    "intensity",
    "pai",
    "peak_density",
    "significant",
    "p_value",
    "disc_incidents",
    "disc_expected",
    "centroid_lon",
    "centroid_lat",
    "max_extent_m",
    "top_location",
    "first_month",
    "last_month",
    "months_active",
    "n_months",
    "monthly_counts",
    "trend",
    "temporal_class",
    "has_time",
    "hour_counts",
    "weekday_counts",
    "peak_window",
    "peak_start_hour",
    "peak_end_hour",
    "peak_days",
    "peak_basis",
    "night_share",
]


def assign_incidents(
    polygons: gpd.GeoSeries | np.ndarray, incidents: Incidents
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (incident index, polygon index) for every incident inside (or on) a polygon.

    Stacked incidents are tested once per distinct location
    (:func:`hotspots.stats.points_in_polygons`), so this stays fast when thousands of incidents
    share one anonymised map point. Pairs come by location (in the order of
    :func:`~hotspots.incidents.unique_points`), then polygon, then incident.
    """
    geoms = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    if len(incidents) == 0 or len(geoms) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    uniq, inverse = unique_points(incidents.xy, return_inverse=True)
    loc_idx, poly_idx = points_in_polygons(uniq, geoms)
    return _incidents_at(loc_idx, poly_idx, inverse.ravel(), len(uniq))


def _incidents_at(
    loc_idx: np.ndarray, poly_idx: np.ndarray, inverse: np.ndarray, n_locations: int
) -> tuple[np.ndarray, np.ndarray]:
    """(location, polygon) pairs expanded to (incident, polygon) pairs: each pair's location
    becomes its incidents (``inverse``: each incident's location), in incident order."""
    if len(loc_idx) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    hit = np.zeros(n_locations, dtype=bool)
    hit[loc_idx] = True
    # the incidents on a hit location, grouped by location (stable: incident order inside)
    mine = np.flatnonzero(hit[inverse])
    of = inverse[mine]
    order = mine[np.argsort(of, kind="stable")]
    counts = np.bincount(of, minlength=n_locations)
    starts = np.cumsum(counts) - counts
    n_at = counts[loc_idx]
    # the runs order[starts[i]:starts[i] + n_at[i]] of every pair's location, end to end
    first = np.cumsum(n_at) - n_at
    run = np.arange(int(n_at.sum())) + np.repeat(starts[loc_idx] - first, n_at)
    return order[run].astype(np.int64), np.repeat(poly_idx, n_at).astype(np.int64)


def peak_window(hour_counts: np.ndarray, share: float = 0.5) -> tuple[int, int] | None:
    """The shortest circular run of hours holding at least ``share`` of the incidents.

    Returns ``(start_hour, end_hour)`` with ``end_hour`` exclusive (it may wrap past midnight:
    ``(21, 3)`` is 21:00-03:00), or None when there are no incidents. Ties go to the window with
    the most incidents, then the earliest start.
    """
    h = np.asarray(hour_counts, dtype=float)
    total = h.sum()
    if total <= 0:
        return None
    doubled = np.concatenate([h, h])
    csum = np.concatenate([[0.0], np.cumsum(doubled)])
    for length in range(1, 25):
        sums = csum[length : length + 24] - csum[:24]
        best = int(np.argmax(sums))
        if sums[best] >= share * total - 1e-9:
            return best, (best + length) % 24
    return 0, 0  # pragma: no cover - length 24 always holds everything


def dirichlet_strength(counts: np.ndarray) -> float:
    """How many incidents' worth of the shared profile a place's own counts are shrunk with.

    Each row of ``counts`` (places x categories: hours of the day, weekdays) is taken as a
    Dirichlet-multinomial draw around the shared profile ``pi`` (the column shares); the
    Dirichlet precision ``a`` is estimated by the method of moments from Pearson's statistic,
    whose expectation per place is ``(J - 1)(n + a) / (1 + a)``: the sum over places ``C`` against
    ``D = (J - 1) m`` and ``N = (J - 1) sum(n)`` gives ``a = (N - C) / (C - D)`` (Mosimann 1962,
    Biometrika 49, 65-82, doi:10.1093/biomet/49.1-2.65, for the moments). Places with fewer than
    two incidents say nothing of it and are skipped.

    Parameters
    ----------
    counts : numpy.ndarray, shape (m, J)

    Returns
    -------
    float
        ``inf`` when places vary no more than multinomially around ``pi`` (every place shares
        the profile: its own counts are noise), 0 when they vary as much as they can, NaN with
        no place of two or more incidents.

    Examples
    --------
    >>> dirichlet_strength(np.array([[5, 5], [5, 5], [5, 5]]))
    inf
    >>> float(dirichlet_strength(np.array([[10, 0], [0, 10]])))
    0.0
    """
    c = np.asarray(counts, dtype=float)
    c = c[c.sum(axis=1) >= 2]
    if not len(c):
        return math.nan
    total = c.sum(axis=0)
    seen = total > 0
    c = c[:, seen]
    j = c.shape[1]
    if j < 2:
        return math.inf
    pi = total[seen] / total.sum()
    n = c.sum(axis=1)
    big_c = float((((c - n[:, None] * pi) ** 2) / (n[:, None] * pi)).sum())
    d = (j - 1) * len(c)
    big_n = (j - 1) * float(n.sum())
    if big_c <= d:
        return math.inf
    return max(0.0, (big_n - big_c) / (big_c - d))


@dataclass(frozen=True)
class TimingPrior:
    """The force-wide hour and weekday profiles that each place's peak window is shrunk toward.

    A place's own peak from a handful of incidents is mostly chance: 8 of 15 incidents on two
    weekdays happens often when every day is alike. Each place's counts are combined with
    ``strength`` incidents' worth of the force-wide profile (the posterior mean of a
    Dirichlet-multinomial, empirical Bayes), the strength estimated from how much the force's
    150 m cells' own profiles vary (:func:`dirichlet_strength`). Where places do not differ,
    every place gets the force-wide window; a place with many incidents and a timing of its own
    keeps it.

    A place's window is called its own (``peak_basis="own"``) when its timed incidents
    outnumber the hour profile's strength, so that they weigh more than the force-wide profile
    in it; otherwise ``"force"``: mostly the force-wide timing.

    Attributes
    ----------
    hours : numpy.ndarray, shape (24,)
        Shares of the timed incidents by hour of the day.
    days : numpy.ndarray, shape (7,)
        Shares of the dated incidents by weekday (Mon=0).
    hour_strength, day_strength : float
        Pseudo-incidents of the shared profile (``inf``: every place shares it).
    n_cells : int
        150 m cells with two or more timed incidents the strengths were estimated from.
    """

    hours: np.ndarray
    days: np.ndarray
    hour_strength: float
    day_strength: float
    n_cells: int
    hour_p: float = 0.0
    day_p: float = 0.0

    @property
    def hour_pattern(self) -> bool:
        """Whether the force's incidents favour some hours at all (chi-square against even
        hours at 0.05); without it every window is the whole day."""
        return self.hour_p < 0.05

    @property
    def day_pattern(self) -> bool:
        """Whether the force's incidents favour some weekdays at all (chi-square against even
        weekdays at 0.05); without it every place's peak days are all seven (the shortest run
        of weekdays holding half of evenly spread incidents is any four of them)."""
        return self.day_p < 0.05

    def windows(
        self, hour_counts: np.ndarray, day_counts: np.ndarray
    ) -> tuple[list[tuple[int, int] | None], list[list[int] | None]]:
        """Peak hours and weekdays of each row of place counts (``None`` for a row without
        incidents), from the counts shrunk toward the force-wide profiles."""
        h = self.shrink(hour_counts, "hours")
        d = self.shrink(day_counts, "days")
        hours = _peak_windows(h)
        days = _peak_days_all(d)
        if not self.hour_pattern:
            hours = [(0, 0) if w is not None else None for w in hours]
        if not self.day_pattern:
            days = [list(range(7)) if w is not None else None for w in days]
        return hours, days

    def shrink(self, counts: np.ndarray, kind: str) -> np.ndarray:
        """Rows of hour (``kind="hours"``) or weekday (``"days"``) counts, combined with the
        force-wide profile (proportional to the posterior mean)."""
        shared, strength = (
            (self.hours, self.hour_strength) if kind == "hours" else (self.days, self.day_strength)
        )
        c = np.asarray(counts, dtype=float)
        if not math.isfinite(strength):
            return np.broadcast_to(shared, c.shape) * (c.sum(axis=1, keepdims=True) > 0)
        return c + strength * shared

    def force_window(self) -> tuple[tuple[int, int] | None, list[int] | None]:
        """The force-wide peak hours and weekdays."""
        hours, days = self.windows(self.hours[None], self.days[None])
        return hours[0], days[0]

    def describe(self) -> dict[str, Any]:
        """The record of the choice (JSON-ready)."""
        hours, days = self.force_window()
        return {
            "shrunk_toward": "the force-wide hour and weekday profiles (empirical Bayes)",
            "hour_strength": self.hour_strength if math.isfinite(self.hour_strength) else "inf",
            "day_strength": self.day_strength if math.isfinite(self.day_strength) else "inf",
            "force_peak_window": _format_window(days, hours),
            "hour_pattern_p": self.hour_p,
            "weekday_pattern_p": self.day_p,
            "n_cells": self.n_cells,
        }


def timing_prior(incidents: Incidents, cell_size: float = MICRO_PLACE_M) -> TimingPrior | None:
    """The :class:`TimingPrior` of ``incidents`` from their ``cell_size`` cells; None when fewer
    than half the incidents carry a time of day."""
    if not incidents.has_time:
        return None
    frame = incidents.frame
    dt = frame["datetime"]
    timed = frame["has_time"].to_numpy(dtype=bool) & dt.notna().to_numpy()
    xy = incidents.xy[timed]
    cell = pd.factorize(cell_keys(np.floor(xy / cell_size).astype(np.int64)))[0]
    m = int(cell.max()) + 1 if len(cell) else 0
    when = dt[timed].dt
    hour = when.hour.to_numpy(dtype=np.int64)
    day = when.day_of_week.to_numpy(dtype=np.int64)
    hours = np.bincount(cell * 24 + hour, minlength=m * 24).reshape(m, 24).astype(float)
    days = np.bincount(cell * 7 + day, minlength=m * 7).reshape(m, 7).astype(float)
    h_total, d_total = hours.sum(axis=0), days.sum(axis=0)
    strengths = [dirichlet_strength(hours), dirichlet_strength(days)]
    strengths = [math.inf if math.isnan(a) else a for a in strengths]
    return TimingPrior(
        h_total / max(h_total.sum(), 1.0),
        d_total / max(d_total.sum(), 1.0),
        strengths[0],
        strengths[1],
        int((hours.sum(axis=1) >= 2).sum()),
        float(stats.chisquare(h_total).pvalue) if h_total.sum() else 1.0,
        float(stats.chisquare(d_total).pvalue) if d_total.sum() else 1.0,
    )


def _format_window(days: list[int] | None, hours: tuple[int, int] | None) -> str:
    parts = []
    if days is not None and len(days) < 7:
        parts.append(
            WEEKDAYS[days[0]] if len(days) == 1 else f"{WEEKDAYS[days[0]]}-{WEEKDAYS[days[-1]]}"
        )
    elif days is not None:
        parts.append("every day")
    if hours is not None:
        start, end = hours
        parts.append("all day" if start == end else f"{start:02d}:00-{end:02d}:00")
    return " ".join(parts)


def top_locations(location: Any, inc_idx: np.ndarray, poly_idx: np.ndarray, k: int) -> list[str]:
    """The most frequent non-empty location text per polygon ("" where none); ties: the first in
    alphabetical order. Counted on the codes of the distinct texts, not on the texts.

    Parameters
    ----------
    location : array-like of str
        Every incident's location text.
    inc_idx, poly_idx : numpy.ndarray of int
        Pairs (incident, polygon): the incidents each polygon (or cell) holds.
    k : int
        Number of polygons.
    """
    top = [""] * k
    if len(inc_idx) == 0:
        return top
    # the texts of the incidents inside only (their alphabetical order is that of all texts)
    c, uniq = pd.factorize(pd.Series(location).take(inc_idx))
    texts = np.array([v if isinstance(v, str) else "" for v in uniq], dtype=object)
    named = np.array([t.strip() != "" for t in texts], dtype=bool)
    alpha = np.argsort(texts, kind="stable")
    rank = np.empty(len(texts), dtype=np.int64)
    rank[alpha] = np.arange(len(texts))
    keep = (c >= 0) & named[np.maximum(c, 0)]
    if not keep.any():
        return top
    r = np.int64(len(texts))
    key, n = np.unique(poly_idx[keep].astype(np.int64) * r + rank[c[keep]], return_counts=True)
    poly, loc_rank = key // r, key % r
    order = np.lexsort((loc_rank, -n, poly))
    first = np.ones(len(order), dtype=bool)
    first[1:] = poly[order][1:] != poly[order][:-1]
    for pi, lr in zip(poly[order][first], loc_rank[order][first], strict=True):
        top[int(pi)] = str(texts[alpha[lr]])
    return top


def count_and_name(polygons: Any, incidents: Incidents) -> tuple[np.ndarray, list[str]]:
    """Incidents inside each polygon and the most frequent location text among them.

    Parameters
    ----------
    polygons : GeoSeries or array of shapely geometries
        In the incidents' analysis CRS.
    incidents : Incidents

    Returns
    -------
    counts : numpy.ndarray of int
    names : list of str
        "" where a polygon holds no named incident.
    """
    geoms = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    inc_idx, poly_idx = assign_incidents(geoms, incidents)
    counts = np.bincount(poly_idx, minlength=len(geoms)).astype(np.int64)
    names = top_locations(incidents.frame["location"], inc_idx, poly_idx, len(geoms))
    return counts, names


def surroundings_p_values(
    geoms: Any,
    incidents: Incidents,
    *,
    radius: float = MICRO_PLACE_RADIUS_M,
    inside: tuple[np.ndarray, np.ndarray] | None = None,
) -> PlaceTest:
    """Per polygon: its most outstanding 75 m disc against its surroundings (see "Significance").

    Parameters
    ----------
    geoms : array or GeoSeries of shapely geometries
        Hot spot polygons in the incidents' analysis CRS.
    incidents : Incidents
        All incidents (their months measure the clumping, odd against even months).
    radius : float, default 75
        Disc radius in metres; the gap and the rings scale with it (2, 6 and 10 radii:
        :data:`hotspots.stats.SURROUNDINGS_RADII` at the default).
    inside : (location index, polygon index) arrays, optional
        :func:`hotspots.stats.points_in_polygons` of the incidents' distinct locations
        (:func:`~hotspots.incidents.unique_points`) and ``geoms``, when the caller has it.

    Returns
    -------
    hotspots.stats.PlaceTest
        ``count`` and ``expected`` of the disc, and its Bonferroni p-value over every disc of the
        study area (1 for a polygon with no incident, NaN when the study area has no area).
    """
    test = SurroundingsTest(
        incidents.xy if len(incidents) else np.empty((0, 2)),
        incidents.study_area,
        months=incidents.frame["month"] if len(incidents) else None,
        radii=(radius, 2 * radius, 6 * radius, 10 * radius),
    )
    return test.places(geoms, inside=inside)


def _trend(counts: np.ndarray, alpha: float) -> str:
    """'rising' / 'falling' / 'stable' from an exact binomial test of second vs first half."""
    return _trends(np.asarray(counts, dtype=np.int64).reshape(1, -1), alpha)[0]


def _trends(monthly: np.ndarray, alpha: float, *, family: bool = False) -> list[str]:
    """:func:`_trend` of every row of ``monthly`` (places x months) at once.

    The two-sided p-value is ``scipy.stats.binomtest(second, n, 0.5).pvalue``, computed as scipy
    computes it (for p = 0.5 the outcomes at least as unlikely are the two tails,
    ``P(X <= min) + P(X >= max)``) for all places in one call; a p-value within 1e-9 of
    ``alpha`` is recomputed by ``binomtest`` itself. With ``family`` (the hot spots of one
    ranking) "rising" and "falling" need a Benjamini-Hochberg q-value at most ``alpha`` among
    the places that can reach it (:func:`hotspots.stats.tarone_family`): one test per hot spot
    at ``alpha`` called about one in 40 stationary places of 24 months rising or falling.
    """
    k, m = monthly.shape
    if m < 2:
        return ["unknown"] * k
    half = m // 2
    first = monthly[:, :half].sum(axis=1).astype(np.int64)
    second = monthly[:, m - half :].sum(axis=1).astype(np.int64)
    n = first + second
    p = np.ones(k)
    lo = (second < first) & (n > 0)
    hi = (second > first) & (n > 0)
    p[lo] = stats.binom.cdf(second[lo], n[lo], 0.5) + stats.binom.sf(first[lo] - 1, n[lo], 0.5)
    p[hi] = stats.binom.cdf(first[hi], n[hi], 0.5) + stats.binom.sf(second[hi] - 1, n[hi], 0.5)
    p = np.minimum(p, 1.0)
    for i in np.flatnonzero((n > 0) & (np.abs(p - alpha) <= 1e-9)):
        p[i] = stats.binomtest(int(second[i]), int(n[i]), 0.5).pvalue
    if family:
        p = _family_q(p, np.minimum(1.0, 0.5 ** np.maximum(n - 1, 0)), alpha)
    out = np.where(p >= alpha, "stable", np.where(second > first, "rising", "falling"))
    return [str(t) for t in out]


def _family_q(p: np.ndarray, least_p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p`` within Tarone's family (1 outside it)."""
    q = np.ones(len(p))
    tested = tarone_family(least_p, alpha)
    if tested.any():
        q[tested] = benjamini_hochberg(p[tested])
    return q


def _classes_and_trends(
    monthly: np.ndarray, month: pd.Series, months: pd.DatetimeIndex, alpha: float
) -> tuple[list[str], list[str]]:
    """Temporal classes and trends of the hot spots of one ranking (``monthly``: places x
    observed months), each place's recent share tested against the whole area's (``month``:
    every incident's) and false discovery rates over the places."""
    per = period_months(len(months))
    counts = pd.DatetimeIndex(month).value_counts().reindex(months, fill_value=0)
    area = _periods(np.asarray(counts, dtype=np.int64), per)
    total = area.sum()
    recent_share = area[-max(1, len(area) // 3) :].sum() / total if total else None
    classes = _temporal_classes(_periods(monthly, per), alpha, recent_share, family=True)
    return classes, _trends(monthly, alpha, family=True)


def period_months(n_months: int) -> int:
    """Months per period for the chronic/emerging classification, from the data's span.

    Months for up to two years of data, quarters up to ten years, years beyond (the R package
    sfhotspot's ``hotspot_classify``, https://github.com/mpjashby/sfhotspot, uses the same kind
    of rule): "present in most periods" only means something when a period is long enough to
    expect an incident in a real hot spot.
    """
    if n_months <= 24:
        return 1
    if n_months <= 120:
        return 3
    return 12


def _periods(counts: np.ndarray, months_per_period: int) -> np.ndarray:
    """Monthly counts (along the last axis) summed into periods (a trailing partial period is
    kept)."""
    if months_per_period == 1:
        return counts
    m = counts.shape[-1]
    edges = np.arange(0, m, months_per_period)
    return np.add.reduceat(counts, edges, axis=-1) if m else counts


def _temporal_class(counts: np.ndarray) -> str:
    """chronic / emerging / intermittent (see docs/architecture.md), 'unknown' under 3 periods.

    ``counts`` are per period (see :func:`period_months`).
    """
    return _temporal_classes(np.asarray(counts).reshape(1, -1))[0]


def _temporal_classes(
    counts: np.ndarray,
    alpha: float = 0.05,
    recent_share: float | None = None,
    *,
    family: bool = False,
) -> list[str]:
    """:func:`_temporal_class` of every row of ``counts`` (places x periods) at once.

    "emerging" needs two thirds of a place's incidents in the last third of the periods AND a
    one-sided binomial test of that count against ``recent_share`` (the area's own share in
    them; default the last third's share of the periods) at ``alpha``; with ``family``
    (the hot spots of one ranking) a Benjamini-Hochberg q-value within Tarone's family. The
    two-thirds rule alone called 5.8 % of stationary places emerging over 6 months (2.6 % over
    12), mostly places of 3-6 incidents, and every busy place in an area whose violence rose.
    """
    k, m = counts.shape
    if m < 3:
        return ["unknown"] * k
    active = np.count_nonzero(counts, axis=1) / m
    n_recent = max(1, m // 3)
    recent = counts[:, m - n_recent :].sum(axis=1)
    total = counts.sum(axis=1)
    share = n_recent / m if recent_share is None else float(recent_share)
    share = min(max(share, 1e-12), 1.0 - 1e-12)
    p = np.where(total > 0, stats.binom.sf(recent - 1, total, share), 1.0)
    if family:
        p = _family_q(p, share ** total.astype(float), alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        emerging = (total > 0) & (recent / total >= 2.0 / 3.0) & (p <= alpha)
    out = np.where(active >= 0.75, "chronic", np.where(emerging, "emerging", "intermittent"))
    return [str(c) for c in out]


def classify_counts(monthly_counts: Any, *, alpha: float = 0.05) -> tuple[str, str]:
    """(temporal class, trend) of a place from its counts per observed month of the data period.

    ``monthly_counts`` has one count per observed month (:attr:`Incidents.months
    <hotspots.incidents.Incidents.months>`: months missing from the input are left out, not
    counted as zero), so periods and halves are runs of observed months.

    The same rules as :func:`rank_hotspots` (classes on months, quarters or years by the span,
    see :func:`period_months`; trend by an exact binomial test of the second half against the
    first), so hot spots and the patrol areas inside them are described alike.
    """
    counts = np.asarray(monthly_counts, dtype=np.int64)
    periods = _periods(counts, period_months(len(counts)))
    return _temporal_classes(periods.reshape(1, -1), alpha)[0], _trend(counts, alpha)


def rank_hotspots(
    hotspots: gpd.GeoDataFrame,
    incidents: Incidents,
    *,
    order: str = "intensity",
    alpha: float = 0.05,
    unit_area_m2: float = PATROL_UNIT_M2,
    surroundings: SurroundingsTest | None = None,
    keep_empty: bool = True,
) -> gpd.GeoDataFrame:
    """Profile and rank hot spot polygons.

    Parameters
    ----------
    hotspots : geopandas.GeoDataFrame
        Polygons in the incidents' analysis CRS, as a detector's ``hotspots_`` (optional columns
        ``peak_density``, ``significant``, ``p_value`` are kept if present).
    incidents : Incidents
    order : {"intensity", "count", "harm", "peak"}, default "intensity"
        The ranking rule (see the module docstring). "harm" needs weights.
    alpha : float, default 0.05
        Significance level of the surroundings test (family-wise, over every disc of the study
        area) and of the trend test.
    unit_area_m2 : float, default 22500
        The patrol unit the intensity's area is floored at, in square metres.
    surroundings : hotspots.stats.SurroundingsTest, optional
        The significance test of these incidents, when the caller has built it already
        (default: built here when a hot spot has no p-value from its detector).
    keep_empty : bool, default True
        Keep the polygons that hold no incident (ranked last, with zero counts). False leaves
        them out (:func:`hotspots.detect.detect` does, and says how many): a kernel density
        contour can close round the density between map points, where no incident is.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hot spot, sorted by ``rank``, with the columns in ``docs/architecture.md``.
    """
    return rank_hotspots_with_members(
        hotspots,
        incidents,
        order=order,
        alpha=alpha,
        unit_area_m2=unit_area_m2,
        surroundings=surroundings,
        keep_empty=keep_empty,
    )[0]


def rank_hotspots_with_members(
    hotspots: gpd.GeoDataFrame,
    incidents: Incidents,
    *,
    order: str = "intensity",
    alpha: float = 0.05,
    unit_area_m2: float = PATROL_UNIT_M2,
    surroundings: SurroundingsTest | Future[SurroundingsTest] | None = None,
    keep_empty: bool = True,
) -> tuple[gpd.GeoDataFrame, tuple[np.ndarray, np.ndarray]]:
    """:func:`rank_hotspots`, and which incidents each ranked hot spot holds.

    The profiles count the incidents inside each polygon; this hands that assignment on, so a
    later step that needs it (:func:`hotspots.places.flag_places`, ``members=``) does not test
    every incident against the polygons again.

    Parameters
    ----------
    hotspots, incidents, order, alpha, unit_area_m2, keep_empty
        As :func:`rank_hotspots`.
    surroundings : SurroundingsTest or Future of one, optional
        As :func:`rank_hotspots`; or a test still being built
        (:func:`hotspots.stats.start_surroundings_test`), waited for only once the profiles are
        made.

    Returns
    -------
    ranked : geopandas.GeoDataFrame
        As :func:`rank_hotspots`.
    members : (ndarray, ndarray)
        (incident index, row of ``ranked``) int64 pairs for every incident inside (or on) a
        ranked polygon, in no particular order: the pairs of :func:`assign_incidents` on
        ``ranked.geometry``.
    """
    _check_order(order, incidents)
    crs = pyproj.CRS.from_user_input(incidents.crs)
    geoms = (
        np.asarray(hotspots.geometry.values, dtype=object)
        if len(hotspots)
        else np.empty(0, dtype=object)
    )
    k = len(geoms)
    frame = incidents.frame
    months = incidents.months
    own_p = (
        hotspots["p_value"].to_numpy(dtype=float)
        if "p_value" in hotspots and k
        else np.full(k, np.nan)
    )
    # a test still being built: the profiles are made meanwhile, from locations found here
    building = surroundings if isinstance(surroundings, Future) else None
    if building is not None and building.done():
        surroundings, building = building.result(), None
    test = None if isinstance(surroundings, Future) else surroundings
    # the distinct locations inside each hot spot, once for the test and the profiles
    given = test is not None and test.n_incidents == len(frame)
    if test is not None and given:
        locations, inverse = test.locations, test.inverse
    elif len(frame):
        locations, inverse = unique_points(incidents.xy, return_inverse=True)
    else:
        locations, inverse = np.empty((0, 2)), np.empty(0, dtype=np.intp)
    inside = (
        test.locations_in(geoms)  # a detector's own test may have them (DBSCAN, HDBSCAN)
        if test is not None and given
        else points_in_polygons(locations, geoms)
    )
    if not keep_empty:  # the polygons that hold no incident location are left out
        keep, inside = _holding(inside, k)
        if len(keep) < k:
            hotspots, geoms, own_p, k = hotspots.iloc[keep], geoms[keep], own_p[keep], len(keep)
    # the significance test, on the other core while the incidents are counted and profiled
    testing = None
    if np.isnan(own_p).any():
        if building is not None:
            testing = in_background(_places_when_built, building, geoms, locations, inside)
        elif test is not None:
            testing = in_background(test.places, geoms, inside=inside if given else None)
        else:
            testing = in_background(surroundings_p_values, geoms, incidents, inside=inside)
    inc_idx, poly_idx = _incidents_at(*inside, np.ravel(inverse), len(locations))
    size = _size_columns(geoms, incidents, inc_idx, poly_idx, unit_area_m2)
    label_points = _label_points(geoms, crs)
    monthly = _monthly_counts(frame["month"].to_numpy(), months, inc_idx, poly_idx, k)
    hour_counts, day_counts = _hour_and_day_counts(frame, inc_idx, poly_idx, k)
    top_location = top_locations(frame["location"], inc_idx, poly_idx, k)
    classes, trends = _classes_and_trends(monthly, frame["month"], months, alpha)
    extents = _max_extents(geoms)
    timing = _timings(
        monthly, hour_counts, day_counts, months, incidents.has_time, timing_prior(incidents)
    )
    # the test's result only now: every profile above was made while it ran
    if testing is not None:
        place = testing.result()
        size.update(p_value=place.p_value, disc_incidents=place.count, disc_expected=place.expected)
    else:  # the detector tested every hot spot itself
        size.update(p_value=own_p, disc_incidents=np.full(k, np.nan))
        size["disc_expected"] = np.full(k, np.nan)
    size["centroid_lon"], size["centroid_lat"] = label_points
    columns = {name: values.astype(float).tolist() for name, values in size.items()}
    counts = size["incidents"].astype(np.int64).tolist()
    rows: list[dict[str, Any]] = []
    for i in range(k):
        rows.append(
            {
                **{name: values[i] for name, values in columns.items()},
                "incidents": counts[i],
                "max_extent_m": extents[i],
                "top_location": top_location[i],
                **timing[i],
                "trend": trends[i],
                "temporal_class": classes[i],
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            c
            for c in PROFILE_COLUMNS
            if c not in ("hotspot_id", "rank", "peak_density", "significant")
        ],
    )
    out = _with_detector_columns(out, hotspots, own_p, alpha)
    ranked, sort = _ranked(out, geoms, order, crs)
    row_of = np.empty(k, dtype=np.int64)
    row_of[sort] = np.arange(k)
    return ranked, (inc_idx, row_of[poly_idx])


def holding_incidents(hotspots: gpd.GeoDataFrame, incidents: Incidents) -> gpd.GeoDataFrame:
    """The hot spot polygons that hold at least one of ``incidents`` (inside or on the edge), in
    their order: what :func:`rank_hotspots` keeps with ``keep_empty=False``, unranked.

    Parameters
    ----------
    hotspots : geopandas.GeoDataFrame
        Polygons in the incidents' analysis CRS (a detector's ``hotspots_``).
    incidents : Incidents

    Returns
    -------
    geopandas.GeoDataFrame
        ``hotspots`` itself when every polygon holds an incident, else its rows that do.
    """
    k = len(hotspots)
    if not k:
        return hotspots
    locations = unique_points(incidents.xy) if len(incidents.xy) else np.empty((0, 2))
    geoms = np.asarray(hotspots.geometry.values, dtype=object)
    keep, _ = _holding(points_in_polygons(locations, geoms), k)
    return hotspots if len(keep) == k else hotspots.iloc[keep]


def _holding(
    inside: tuple[np.ndarray, np.ndarray], k: int
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The polygons (of ``k``) that hold a location of ``inside`` (location, polygon) pairs, and
    the pairs with the polygons renumbered among them."""
    held = np.zeros(k, dtype=bool)
    held[inside[1]] = True
    keep = np.flatnonzero(held)
    if len(keep) == k:
        return keep, inside
    new_row = np.full(k, -1, dtype=np.intp)
    new_row[keep] = np.arange(len(keep))
    return keep, (inside[0], new_row[inside[1]])


def _places_when_built(
    building: Future[SurroundingsTest],
    geoms: np.ndarray,
    locations: np.ndarray,
    inside: tuple[np.ndarray, np.ndarray],
) -> PlaceTest:
    """``test.places(geoms)`` of the test ``building`` will hold, with ``inside`` (the pairs of
    ``locations`` and ``geoms``) when those are the test's own locations."""
    test = building.result()
    same = test.locations.shape == locations.shape and np.array_equal(test.locations, locations)
    return test.places(geoms, inside=inside if same else None)


def _check_order(order: str, incidents: Incidents) -> None:
    """Refuse an unknown ranking rule, and ranking by harm without weights (ParameterError)."""
    if order not in RANK_ORDERS:
        msg = f"order must be one of {RANK_ORDERS}, got {order!r}."
        raise ParameterError(msg)
    if order == "harm" and not incidents.has_weights:
        msg = (
            "order='harm' needs harm weights: give a weight column or a crime type -> weight table."
        )
        raise ParameterError(msg)


def _size_columns(
    geoms: np.ndarray,
    incidents: Incidents,
    inc_idx: np.ndarray,
    poly_idx: np.ndarray,
    unit_area_m2: float,
) -> dict[str, np.ndarray]:
    """Per hot spot: incidents, share, harm, area (m², ha), density (per km²), intensity, PAI.

    ``intensity`` is incidents (or harm, with weights) per km² of the area floored at
    ``unit_area_m2``; PAI is the share of incidents over the share of the study area.
    """
    k = len(geoms)
    n_total = len(incidents.frame)
    study_area = incidents.study_area_m2
    counts = np.bincount(poly_idx, minlength=k).astype(np.int64)
    weights = incidents.frame["weight"].to_numpy(dtype=float)
    harm = (
        np.bincount(poly_idx, weights=weights[inc_idx], minlength=k)
        if incidents.has_weights
        else np.full(k, np.nan)
    )
    areas = shapely.area(geoms).astype(float) if k else np.empty(0)
    density = np.divide(counts, areas / 1e6, out=np.zeros(k), where=areas > 0)
    score_counts = harm if incidents.has_weights else counts.astype(float)
    intensity = score_counts / (np.maximum(areas, unit_area_m2) / 1e6)
    share = counts / n_total if n_total else np.zeros(k)
    area_share = areas / study_area if study_area > 0 else np.full(k, np.nan)
    pai = np.divide(share, area_share, out=np.full(k, np.nan), where=area_share > 0)
    return {
        "incidents": counts,
        "share": share,
        "harm": harm,
        "area_m2": areas,
        "area_ha": areas / 1e4,
        "density_per_km2": density,
        "intensity": intensity,
        "pai": pai,
    }


def _label_points(geoms: np.ndarray, crs: pyproj.CRS) -> tuple[np.ndarray, np.ndarray]:
    """(longitude, latitude) in WGS84 of a point on the surface of each polygon."""
    if not len(geoms):
        return np.empty(0), np.empty(0)
    rep = shapely.point_on_surface(geoms)
    lon, lat = transformer(crs, WGS84).transform(shapely.get_x(rep), shapely.get_y(rep))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _monthly_counts(
    month_of: np.ndarray,
    months: pd.DatetimeIndex,
    inc_idx: np.ndarray,
    poly_idx: np.ndarray,
    k: int,
) -> np.ndarray:
    """Incidents per hot spot in each observed month of the data period, shape (k, months).

    A month missing from the input is left out rather than counted as a month without
    violence; ``month_of`` is each incident's month.
    """
    monthly = np.zeros((k, len(months)), dtype=np.int64)
    if len(months) and len(inc_idx):
        mpos = months.get_indexer(pd.DatetimeIndex(month_of[inc_idx]))
        ok = mpos >= 0
        np.add.at(monthly, (poly_idx[ok], mpos[ok]), 1)
    return monthly


def _hour_and_day_counts(
    frame: pd.DataFrame, inc_idx: np.ndarray, poly_idx: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Incidents per hot spot by hour of the day (timed ones, (k, 24)) and weekday ((k, 7))."""
    dt = frame["datetime"]
    timed = frame["has_time"].to_numpy(dtype=bool)
    hours = dt.dt.hour.to_numpy()
    wdays = dt.dt.day_of_week.to_numpy()
    has_day = dt.notna().to_numpy()
    hour_counts = np.zeros((k, 24), dtype=np.int64)
    day_counts = np.zeros((k, 7), dtype=np.int64)
    if len(inc_idx):
        sel = timed[inc_idx]
        np.add.at(hour_counts, (poly_idx[sel], hours[inc_idx][sel].astype(int)), 1)
        sel = has_day[inc_idx]
        np.add.at(day_counts, (poly_idx[sel], wdays[inc_idx][sel].astype(int)), 1)
    return hour_counts, day_counts


def _max_extents(geoms: np.ndarray) -> list[float]:
    """Longest side of each polygon's minimum rotated rectangle, metres (its patrol size)."""
    if not len(geoms):
        return []
    rects = shapely.minimum_rotated_rectangle(geoms)
    out = shapely.length(rects).astype(float)
    poly = shapely.get_type_id(rects) == shapely.GeometryType.POLYGON
    if poly.any():
        ext = shapely.get_exterior_ring(rects[poly])
        xy, which = shapely.get_coordinates(ext, return_index=True)
        side = np.hypot(*(xy[1:] - xy[:-1]).T)
        same = which[1:] == which[:-1]  # consecutive vertices of one ring
        longest = np.full(int(poly.sum()), -np.inf)
        np.maximum.at(longest, which[1:][same], side[same])
        out[poly] = longest
    return out.tolist()


def _peak_windows(hour_counts: np.ndarray, share: float = 0.5) -> list[tuple[int, int] | None]:
    """:func:`peak_window` of every row of ``hour_counts`` (places x 24) at once."""
    h = np.asarray(hour_counts, dtype=float)
    total = h.sum(axis=1)
    csum = np.concatenate([np.zeros((len(h), 1)), np.cumsum(np.concatenate([h, h], 1), 1)], 1)
    start = np.full(len(h), -1)
    end = np.full(len(h), -1)
    todo = total > 0
    rows = np.arange(len(h))
    for length in range(1, 25):
        if not todo.any():
            break
        sums = csum[:, length : length + 24] - csum[:, :24]
        best = np.argmax(sums, axis=1)
        hit = todo & (sums[rows, best] >= share * total - 1e-9)
        start[hit], end[hit] = best[hit], (best[hit] + length) % 24
        todo &= ~hit
    return [(int(s), int(e)) if s >= 0 else None for s, e in zip(start, end, strict=True)]


def _peak_days_all(weekday_counts: np.ndarray, share: float = 0.5) -> list[list[int] | None]:
    """Per row of ``weekday_counts`` (places x 7, Mon=0): the shortest circular run of weekdays
    holding at least ``share`` of the incidents (ties: the most incidents, then the earliest
    start), None for a row without incidents."""
    w = np.asarray(weekday_counts, dtype=float)
    total = w.sum(axis=1)
    doubled = np.concatenate([w, w], 1)
    out: list[list[int] | None] = [None] * len(w)
    todo = total > 0
    rows = np.arange(len(w))
    for length in range(1, 8):
        if not todo.any():
            break
        sums = np.stack([doubled[:, s : s + length].sum(axis=1) for s in range(7)], axis=1)
        best = np.argmax(sums, axis=1)
        hit = todo & (sums[rows, best] >= share * total - 1e-9)
        for i in np.flatnonzero(hit):
            out[i] = [(int(best[i]) + d) % 7 for d in range(length)]
        todo &= ~hit
    return out


def _timings(
    monthly: np.ndarray,
    hour_counts: np.ndarray,
    day_counts: np.ndarray,
    months: pd.DatetimeIndex,
    data_has_time: bool,
    prior: TimingPrior | None = None,
) -> list[dict[str, Any]]:
    """Each hot spot's timing columns from its counts per observed month, hour and weekday
    (rows of the three arrays), the windows and shares computed for all at once; the peak
    windows from the counts shrunk toward ``prior`` (:class:`TimingPrior`) when given."""
    k = len(monthly)
    hour_total = hour_counts.sum(axis=1)
    timed = (hour_total > 0) & data_has_time
    if prior is not None:
        windows, days = prior.windows(
            np.where(timed[:, None], hour_counts, 0), np.where(timed[:, None], day_counts, 0)
        )
    else:
        windows = _peak_windows(np.where(timed[:, None], hour_counts, 0))
        days = _peak_days_all(np.where(timed[:, None], day_counts, 0))
    # "own" where the place's timed incidents outweigh the force-wide profile in its window
    own = hour_total >= (prior.hour_strength if prior is not None else 0.0)
    start, stop = NIGHT_WINDOW
    with np.errstate(divide="ignore", invalid="ignore"):
        night = (
            hour_counts[:, start:].sum(axis=1) + hour_counts[:, :stop].sum(axis=1)
        ) / hour_total
    night = np.where(timed, night, np.nan).tolist()
    labels = [m.strftime("%Y-%m") for m in months]
    active = monthly > 0
    n_active = active.sum(axis=1).tolist()
    first = np.argmax(active, axis=1).tolist() if len(months) else [0] * k
    last = (
        (len(months) - 1 - np.argmax(active[:, ::-1], axis=1)).tolist() if len(months) else [0] * k
    )
    out = []
    for i in range(k):
        spot_timed = bool(timed[i])
        hc, dc = hour_counts[i], day_counts[i]
        hours_win = windows[i] if spot_timed else None
        days_win = days[i] if spot_timed else None
        out.append(
            {
                "first_month": labels[first[i]] if n_active[i] else "",
                "last_month": labels[last[i]] if n_active[i] else "",
                "months_active": n_active[i],
                "n_months": len(months),
                "monthly_counts": monthly[i].tolist(),
                "has_time": spot_timed,
                "hour_counts": hc.tolist() if spot_timed else None,
                "weekday_counts": dc.tolist() if dc.sum() > 0 else None,
                "peak_window": _format_window(days_win, hours_win) if spot_timed else "",
                "peak_start_hour": hours_win[0] if hours_win else None,
                "peak_end_hour": hours_win[1] if hours_win else None,
                "peak_days": days_win,
                "peak_basis": ("own" if own[i] else "force") if spot_timed else "",
                "night_share": night[i],
            }
        )
    return out


def _with_detector_columns(
    out: pd.DataFrame, hotspots: gpd.GeoDataFrame, own_p: np.ndarray, alpha: float
) -> pd.DataFrame:
    """Add what the detector gave: its peak density, its own test where it ran one (Gi*,
    DBSCAN, HDBSCAN: it takes precedence), its name and any extra columns; then
    ``significant`` at ``alpha``."""
    k = len(out)
    out["peak_density"] = (
        hotspots["peak_density"].to_numpy(dtype=float)
        if "peak_density" in hotspots and k
        else np.full(k, np.nan)
    )
    if k and not np.isnan(own_p).all():
        out["p_value"] = np.where(np.isnan(own_p), out["p_value"], own_p)
        for col in ("disc_incidents", "disc_expected"):
            if col in hotspots:
                given = hotspots[col].to_numpy(dtype=float)
                out[col] = np.where(np.isnan(own_p), out[col], given)
    out["significant"] = out["p_value"] < alpha
    out["method"] = hotspots["method"].to_numpy() if "method" in hotspots and k else ""
    extra = [c for c in hotspots.columns if c not in out.columns and c != "geometry"]
    for c in extra:
        out[c] = hotspots[c].to_numpy()
    return out


def _ranked(
    out: pd.DataFrame, geoms: np.ndarray, order: str, crs: pyproj.CRS
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Sort by the ranking rule (ties: more incidents first, then position), number the rows
    ``H001``... and put the columns in :data:`PROFILE_COLUMNS` order; also the sort (row ``r``
    is ``out``'s row ``sort[r]``)."""
    k = len(out)
    key = {
        "intensity": out["intensity"],
        "count": out["incidents"].astype(float),
        "harm": out["harm"],
        "peak": out["peak_density"].fillna(out["density_per_km2"]),
    }[order]
    # ties broken by incidents then by position, so ranks are deterministic
    sort = np.lexsort(
        (np.arange(k), -out["incidents"].to_numpy(dtype=float), -key.to_numpy(dtype=float))
    )
    out = out.iloc[sort].reset_index(drop=True)
    ordered_geoms = geoms[sort] if k else geoms
    out.insert(0, "rank", np.arange(1, k + 1))
    width = max(3, len(str(k)))
    out.insert(0, "hotspot_id", [f"H{r:0{width}d}" for r in range(1, k + 1)])
    out = out[
        [c for c in PROFILE_COLUMNS if c in out.columns]
        + [c for c in out.columns if c not in PROFILE_COLUMNS]
    ]
    ranked = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(ordered_geoms, crs=crs), crs=crs)
    return ranked, sort
