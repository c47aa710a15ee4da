"""Change between two periods: which places rose or fell more than the area as a whole.

The question an analyst asks of a few months of data ("what has got worse since last quarter?")
before there are the ten periods that :mod:`hotspots.emerging` needs. The incidents are split at
one date into *before* and *after*; every 150 m cell (the guide's micro place) holding an incident
in either period is tested on its own counts: given the cell's total ``n``, is the share that fell
after the split different from the share of the whole area? Under "nothing changed here that did
not change everywhere" that share is binomial with the area's share ``p0``, whatever the periods'
lengths, the area's overall trend or how unevenly crime is spread, since each cell is tested on
its own total (the conditional test of two Poisson rates: Przyborowski and Wilenski 1940,
Biometrika 31, 313-323, doi:10.1093/biomet/31.3-4.313).

sfhotspot's ``hotspot_change`` gives the counts before and after only; ArcGIS's crime analysis
tools give percent change. Neither says which changes chance cannot explain. Here, two things
keep the label "rose" or "fell" calibrated (the false-positive rates measured are in
``tests/test_change.py``):

* **Over-dispersion.** One event can be recorded as several crimes at one place and time, and
  places change for reasons of their own, so counts vary more than binomially. The Pearson
  dispersion ``phi`` over all the cells (McCullagh and Nelder 1989, *Generalized Linear Models*,
  2nd ed., section 4.5) scales each cell's counts down by ``phi`` when above 1 (a quasi-binomial
  test by effective sample size), so clumped data give fewer, not more, claims.
* **Many cells.** Benjamini-Hochberg false discovery rate control (1995) over the cells that could
  be significant at all: a cell of 2 incidents can never reach the level, and counting it in the
  family only weakens the others (Tarone 1990, Biometrics 46, 515-522, doi:10.2307/2531456; for
  the false discovery rate: Gilbert 2005, JRSS C 54, 143-158, doi:10.1111/j.1467-9876.2005.00475.x).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import special

from hotspots._errors import ParameterError
from hotspots.constants import MICRO_PLACE_M
from hotspots.grid import cell_boxes, cell_ij, cell_keys, unique_keys
from hotspots.incidents import Incidents
from hotspots.profile import top_locations
from hotspots.record import FrozenList, freeze
from hotspots.stats import benjamini_hochberg, tarone_family

__all__ = [
    "CHANGE_CLASSES",
    "PeriodChange",
    "binomial_two_sided",
    "compare_periods",
    "default_split",
]

#: The label of each cell: rose or fell beyond chance, or neither.
CHANGE_CLASSES = ("rose", "fell", "no clear change")


@dataclass(frozen=True)
class PeriodChange:
    """What :func:`compare_periods` returns (read-only: ``params`` is frozen).

    Attributes
    ----------
    cells : geopandas.GeoDataFrame
        One row per cell holding an incident in either period, in the analysis CRS, sorted by
        q-value then by the size of the change: ``cell_id``, ``geometry`` (the square cell),
        ``before``, ``after`` (incidents), ``change`` (after - before), ``expected_after`` (the
        cell's total times the area's after-share ``p0``: what the cell would have had after
        had it changed as the area did), ``ratio`` (after / expected_after), ``p_value``
        (two-sided, dispersion-scaled), ``tested`` (in the false discovery rate family: could
        reach the level at all), ``q_value`` (Benjamini-Hochberg within the family; NaN
        outside it), ``change_class`` (one of :data:`CHANGE_CLASSES`) and ``top_location``.
    params : FrozenDict
        Every parameter and automatic choice (split, periods, p0, dispersion, family size).
    notes : list of str
        Sentences announcing each choice and caveat.
    """

    cells: gpd.GeoDataFrame
    params: Any = field(default_factory=dict)
    notes: Any = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Cells per class, every class listed."""
        got = self.cells["change_class"].value_counts()
        return {c: int(got.get(c, 0)) for c in CHANGE_CLASSES}


def binomial_two_sided(k: np.ndarray, n: np.ndarray, p0: float) -> np.ndarray:
    """Two-sided binomial p-values, ``min(1, 2 min(P(X <= k), P(X >= k)))``, X ~ Bin(n, p0).

    Defined for real ``k`` and ``n`` through the regularised incomplete beta function (so the
    dispersion-scaled counts of :func:`compare_periods` can be used); equal to
    ``scipy.stats.binomtest(k, n, p0).pvalue`` with ``alternative="two-sided"`` doubled-tail
    convention for integers (``tests/test_change.py`` checks it against ``scipy.stats.binom``).

    Parameters
    ----------
    k, n : array-like of float
        Successes and trials, ``0 <= k <= n``.
    p0 : float
        Success probability under the null, in (0, 1).

    Returns
    -------
    numpy.ndarray of float

    Examples
    --------
    >>> float(binomial_two_sided(np.array([9.0]), np.array([10.0]), 0.5)[0]).__round__(5)
    0.02148
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    lower = np.ones_like(k)
    upper = np.ones_like(k)
    lo = k < n
    lower[lo] = special.betainc(n[lo] - k[lo], k[lo] + 1.0, 1.0 - p0)  # P(X <= k)
    up = k > 0
    upper[up] = special.betainc(k[up], n[up] - k[up] + 1.0, p0)  # P(X >= k)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


def default_split(incidents: Incidents) -> pd.Timestamp:
    """The first day of the later half of the observed months (the months with data).

    With an odd number of months the later period holds the extra one; the test conditions on
    each cell's total, so unequal periods do not bias it. Data of one month with dates are split
    at the middle day.

    Raises
    ------
    ParameterError
        When the incidents carry no date, or all fall on one day.
    """
    months = incidents.months
    if len(months) >= 2:
        return pd.Timestamp(months[len(months) // 2])
    days = incidents.frame["datetime"].dropna().dt.normalize()
    if days.nunique() >= 2:
        first, last = days.min(), days.max()
        return first + pd.Timedelta(days=max(1, (last - first).days // 2))
    msg = (
        "the incidents span one month (or carry no date), so there are no two periods to "
        "compare; load more months of data."
    )
    raise ParameterError(msg)


def _periods(incidents: Incidents, split: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """(after, dated) per incident: dated rows fall before or after ``split``."""
    f = incidents.frame
    when = f["datetime"].to_numpy(dtype="datetime64[ns]").copy()
    missing = np.isnat(when)
    when[missing] = f["month"].to_numpy(dtype="datetime64[ns]")[missing]  # month-only rows
    dated = ~np.isnat(when)
    if split.day != 1 or split.hour or split.minute:  # a split inside a month: only dated days
        dated &= ~missing
    after = np.zeros(len(f), dtype=bool)
    after[dated] = when[dated] >= np.datetime64(split.to_datetime64(), "ns")
    return after, dated


def _parse_split(split: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(split)
    except (TypeError, ValueError) as exc:
        msg = f"split must be a date such as '2024-04' or '2024-04-15', got {split!r}."
        raise ParameterError(msg) from exc
    if ts is pd.NaT or pd.isna(ts):
        msg = f"split must be a date such as '2024-04' or '2024-04-15', got {split!r}."
        raise ParameterError(msg)
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def compare_periods(
    incidents: Incidents,
    split: str | pd.Timestamp | None = None,
    *,
    cell_size: float = MICRO_PLACE_M,
    fdr: float = 0.05,
) -> PeriodChange:
    """Which places rose or fell between two periods beyond the area's own change and chance.

    Parameters
    ----------
    incidents : Incidents
    split : str or Timestamp, optional
        The first day of the later period (``"2024-04"`` or ``"2024-04-15"``); default
        :func:`default_split` (the later half of the observed months).
    cell_size : float, default 150
        Side of the square cells in metres (the guide's micro place, ``constants.MICRO_PLACE_M``).
    fdr : float, default 0.05
        False discovery rate of the "rose" and "fell" labels, together.

    Returns
    -------
    PeriodChange

    Raises
    ------
    ParameterError
        For a bad ``split``, ``cell_size`` or ``fdr``, or when a period holds no incident.

    Notes
    -----
    Each cell's after-count ``k`` of its total ``n`` is tested against Bin(n, p0), where ``p0``
    is the share of all dated incidents that fall after the split. Dispersion
    ``phi = max(1, sum((k - n p0)^2 / (n p0 (1 - p0))) / (m - 1))`` over the ``m`` cells; the
    test uses ``k / phi`` of ``n / phi``. A cell is labelled "rose" or "fell" when its q-value
    is at most ``fdr`` within the Tarone family (:func:`tarone_family`).
    """
    if not (np.isfinite(cell_size) and cell_size > 0):
        msg = f"cell_size must be a positive number of metres, got {cell_size!r}."
        raise ParameterError(msg)
    if not (0.0 < fdr < 1.0):
        msg = f"fdr must be between 0 and 1, got {fdr!r}."
        raise ParameterError(msg)
    chosen = split is None
    at = default_split(incidents) if chosen else _parse_split(split)
    after, dated = _periods(incidents, at)
    n_before = int((dated & ~after).sum())
    n_after = int((dated & after).sum())
    if n_before == 0 or n_after == 0:
        empty = "before" if n_before == 0 else "after"
        msg = (
            f"no incident falls {empty} the split {at:%Y-%m-%d}; choose a split inside the data's "
            "dates."
        )
        raise ParameterError(msg)
    p0 = n_after / (n_before + n_after)
    xy = incidents.xy[dated]
    cells, inverse = unique_keys(
        cell_keys(np.floor(xy / cell_size).astype(np.int64)), return_inverse=True
    )
    n = np.bincount(inverse).astype(float)
    k = np.bincount(inverse, weights=after[dated].astype(float))
    m = len(n)
    pearson = (k - n * p0) ** 2 / (n * p0 * (1.0 - p0))
    phi_raw = float(pearson.sum() / (m - 1)) if m > 1 else 1.0
    phi = max(1.0, phi_raw)
    p_value = binomial_two_sided(k / phi, n / phi, p0)
    min_p = np.minimum(1.0, 2.0 * np.minimum(p0, 1.0 - p0) ** (n / phi))
    tested = tarone_family(min_p, fdr)
    q = np.full(m, np.nan)
    if tested.any():
        q[tested] = benjamini_hochberg(p_value[tested])
    significant = tested & (q <= fdr)
    expected = n * p0
    klass = np.where(
        significant & (k > expected), "rose", np.where(significant, "fell", "no clear change")
    )
    top = top_locations(incidents.frame["location"], np.flatnonzero(dated), inverse, m)
    table = gpd.GeoDataFrame(
        {
            "before": (n - k).round().astype(int),
            "after": k.round().astype(int),
            "change": (2 * k - n).round().astype(int),
            "expected_after": expected,
            "ratio": np.divide(k, expected),
            "p_value": p_value,
            "tested": tested,
            "q_value": q,
            "change_class": klass,
            "top_location": np.asarray(top, dtype=object),
        },
        geometry=cell_boxes(cell_ij(cells), cell_size),
        crs=incidents.crs,
    )
    order = np.lexsort((-np.abs(k - expected), np.nan_to_num(q, nan=2.0)))
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "cell_id", [f"C{i + 1:05d}" for i in range(m)])
    counts = {c: int((table["change_class"] == c).sum()) for c in CHANGE_CLASSES}
    n_undated = int((~dated).sum())
    params = {
        "method": "period_change",
        "split": f"{at:%Y-%m-%d}",
        "split_chosen": "automatic" if chosen else "given",
        "before": _span(incidents, dated & ~after),
        "after": _span(incidents, dated & after),
        "n_before": n_before,
        "n_after": n_after,
        "n_undated": n_undated,
        "after_share": p0,
        "cell_size": float(cell_size),
        "fdr": float(fdr),
        "n_cells": m,
        "n_tested": int(tested.sum()),
        "dispersion": phi_raw,
        "dispersion_used": phi,
        "class_counts": counts,
        "test": "conditional binomial test of each cell's after-share against the area's",
    }
    notes = _notes(params, chosen)
    return PeriodChange(table, freeze(params), FrozenList(notes))


def _span(incidents: Incidents, mask: np.ndarray) -> list[str]:
    """First and last date of the rows in ``mask`` (months as YYYY-MM when no row has a day)."""
    f = incidents.frame
    days = f["datetime"][mask]
    if days.notna().any():
        when = days.where(days.notna(), f["month"][mask])
        return [f"{when.min():%Y-%m-%d}", f"{when.max():%Y-%m-%d}"]
    months = f["month"][mask]
    return [f"{months.min():%Y-%m}", f"{months.max():%Y-%m}"]


def _notes(p: dict[str, Any], chosen: bool) -> list[str]:
    how = "the later half of the months with data" if chosen else "as given"
    share = p["after_share"]
    notes = [
        f"Periods split at {p['split']} ({how}): before {p['before'][0]} to {p['before'][1]} "
        f"({p['n_before']:,} incidents), after {p['after'][0]} to {p['after'][1]} "
        f"({p['n_after']:,}). The area as a whole had {share:.1%} of its incidents after the "
        "split; each place is compared with that share, so the area's own rise or fall and "
        "the periods' lengths are allowed for.",
        f"{p['n_cells']:,} cells of {p['cell_size']:g} m hold an incident; {p['n_tested']:,} of "
        "them hold enough to be significant at all and form the false discovery rate family "
        f"({p['fdr']:g}; Tarone's rule).",
    ]
    if p["dispersion"] >= 1.005:
        notes.append(
            f"Counts vary {p['dispersion']:.2f} times as much as chance alone would make them "
            "(repeat incidents at one place and time, and places changing for reasons of their "
            "own): each cell's counts were scaled down by that factor before testing, so fewer "
            "changes are claimed."
        )
    else:
        notes.append(
            f"Counts vary about as much as chance alone would make them (dispersion "
            f"{p['dispersion']:.2f})."
        )
    if p["n_undated"]:
        notes.append(
            f"{p['n_undated']:,} incident(s) without a date (or without a day, for a split inside "
            "a month) are in neither period and were left out of this comparison."
        )
    c = p["class_counts"]
    notes.append(
        f"{c['rose']} cell(s) rose and {c['fell']} fell more than the area as a whole, beyond "
        "what chance explains; the rest show no clear change (which is not evidence of no "
        "change: small counts cannot show one)."
    )
    return notes
