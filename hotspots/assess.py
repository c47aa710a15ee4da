"""Testing: did the patrols work? The effect of an operation, estimated the way its design allows.

The guide's seventh step, testing (guide page ``G7`` in hotspots/data/tactics.json), asks what
the patrols did to violence. A plan made with controls
(``make_patrol_plan(control_share=...)``) is a randomised crossover: each day, some
patrol areas are patrolled and the others held back at random, so the incidents on patrol
area-days and on control area-days of the *same* areas can be compared fairly. This module
makes that comparison, and the weaker ones that remain when there were no controls:

1. :func:`assess_operation` estimates, from the incidents recorded during and before the
   operation:

   * the **crossover effect**: the rate ratio of incidents on patrol against control area-days,
     from a Poisson model with area effects (and day or week effects), the randomised evidence;
     days the plan's gap rule forced to be patrol days are left out and counted;
   * a **before/after comparison** against comparison areas (difference in differences of
     counts, as a rate ratio): weaker evidence, the only kind when the plan had no controls;
   * **dose-response**: incidents per area-day against patrol minutes, delivered (from
     :mod:`hotspots.tracking`'s compliance table) or planned (labelled);
   * **displacement or diffusion of benefit** in buffers around the patrol areas, the weighted
     displacement quotient of :func:`hotspots.evaluate.displacement`;

   and says plainly what can and cannot be concluded (too few weeks, too few incidents,
   contamination of controls, under-delivery).
2. :func:`write_assessment` writes ``effect.csv`` (every estimate with its interval and ``n``),
   ``area_days.csv`` and the report ``assessment.html`` (OFFICIAL-SENSITIVE, opens offline).
3. :func:`simulate_operation` makes incidents for an operation with a known true rate ratio, so
   the estimates can be checked: with a true 20 % reduction the 95 % interval covers 0.8 in at
   least 90 % of simulated operations, and with no effect a "significant" result is rare
   (``tests/test_assess.py`` measures both).

Models (statsmodels, ``statsmodels.api.GLM`` with a Poisson family and a log link):

``log E[incidents] = log(days) + area effect + period effect + beta * patrol``

The rate ratio is ``exp(beta)``. Area effects compare each area with itself, so areas that are
always busier do not weigh on the comparison; period effects (each plan day, or each plan week
when daily counts are too sparse, see :data:`DAILY_MIN_INCIDENTS`) take out what all areas share
that day or week (weather, events, paydays). The interval is Wald on the log scale (t quantiles),
the wider of two: quasi-Poisson (the Poisson variance times the Pearson dispersion, never below
1), which allows for over-dispersion, and, when at least :data:`MIN_CLUSTERS` areas hold
incidents, a variance clustered by area (CR1, t with areas - 1 degrees of freedom), which also
allows for correlation between the days of one area. In simulations with 16 areas over 8 weeks
the clustered interval alone said "significant" in 5.5-6 % of operations without effect and the
quasi-Poisson one in 4.5-5 %; the wider keeps both failure modes out.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import stats

import hotspots
from hotspots._errors import ParameterError
from hotspots.evaluate import displacement
from hotspots.export import table_to_csv
from hotspots.incidents import SYNTHETIC_FORCE, Incidents, IngestReport
from hotspots.jsonutil import to_jsonable
from hotspots.offline import report_environment

__all__ = [
    "CONTAMINATION_LIMIT",
    "DAILY_MIN_INCIDENTS",
    "DELIVERY_LIMIT",
    "ESTIMATES",
    "MIN_CLUSTERS",
    "MIN_WEEKS",
    "REVIEW_WEEKS",
    "TARGET_REDUCTION",
    "Assessment",
    "Estimate",
    "Finding",
    "area_day_counts",
    "assess_operation",
    "assess_plan_folder",
    "fit_rate_ratio",
    "render_assessment",
    "simulate_operation",
    "write_assessment",
]

# ------------------------------------------------------------------------------- thresholds
#: Fewest incidents a typical plan day must hold, over all analysed patrol areas together, for
#: the crossover to keep a separate effect for every plan day. Heuristic of this product: below
#: one incident a day most days hold none anywhere, so a day effect is estimated from nothing;
#: the days of each plan week are then pooled into area-week cells (each area's patrol days and
#: its control days in that week, with the number of days as exposure) with week effects. For a
#: Poisson model with area effects the patrol/control estimate depends only on each area's
#: totals by arm (and period), so pooling loses nothing but the day effects.
DAILY_MIN_INCIDENTS = 1.0

#: Fewest areas holding incidents for a variance clustered by area. Heuristic of this product
#: (clustered variances are biased downwards with few clusters, Cameron & Miller 2015); with
#: fewer, the quasi-Poisson variance (Pearson dispersion) is used and the report says so.
MIN_CLUSTERS = 10

#: Fewest weeks of operation for any conclusion about the effect. Heuristic of this product:
#: a month or less mixes the effect with one-off weeks (events, paydays, weather).
MIN_WEEKS = 4

#: Weeks after which a campaign is reviewed (``campaign_review_days`` in
#: hotspots/data/tactics.json: 90 days, 12.9 weeks, so that a 90-day operation is not called
#: shorter than it; this product's review point, after the 90-day Southend and Bedfordshire
#: trials, marked a heuristic there); a shorter operation says nothing about whether the effect
#: lasts or decays.
REVIEW_WEEKS = 90 / 7

#: The reduction the report asks the operation to be able to detect: 20 %, the true effect the
#: product's tests simulate, of the order of the mean effect of hot spot policing trials (Braga
#: et al. 2019, ``Braga2019`` in hotspots/data/tactics.json). Heuristic of this product. Below
#: 80 % power for it, the report says "too few incidents".
TARGET_REDUCTION = 0.20

#: Share of control area-days with any patrol presence (from tracking) above which the controls
#: count as contaminated. Heuristic of this product.
CONTAMINATION_LIMIT = 0.10

#: Share of planned visits delivered below which the plan counts as under-delivered. Heuristic
#: of this product; trials have found patrols staying far shorter than planned (Williams & Coupe
#: 2017, ``Williams2017`` in hotspots/data/tactics.json).
DELIVERY_LIMIT = 0.80

#: Minutes of patrol per unit of the dose-response covariate: one visit of the guide's length
#: (``visit_minutes`` in hotspots/data/tactics.json).
DOSE_UNIT_MINUTES = 15.0

#: The estimates :func:`assess_operation` can make.
ESTIMATES = ("crossover", "before_after", "dose", "displacement")

_Z_POWER = float(stats.norm.ppf(0.975) + stats.norm.ppf(0.80))


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Estimate:
    """One estimated rate ratio with its interval, model and assumptions.

    Attributes
    ----------
    name : str
        ``"crossover"``, ``"crossover_all_days"``, ``"before_after"`` or ``"dose_response"``.
    label : str
        What it compares, in words.
    rate_ratio, ci_low, ci_high : float
        The estimate and its interval (``level``, default 95 %); NaN when not estimable.
    p_value : float
        Two-sided, for "no effect" (rate ratio 1).
    se_log : float
        Standard error of the log rate ratio.
    n_units : int
        Rows the model used (area-days, area-week cells, area-weeks or area-months).
    n_areas : int
        Areas the model used (areas without any incident carry no information and are left out).
    incidents : int
        Incidents in the rows the model used.
    unit, model, variance, evidence : str
        The row unit, the model, the variance, the strength of the design.
    assumptions : tuple of str
        What must hold for the estimate to mean what it says, in plain words.
    counts : dict
        Totals behind the estimate (incidents and days by arm, or by group and period).
    level : float
        Confidence level of the interval.
    """

    name: str
    label: str
    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    se_log: float
    n_units: int
    n_areas: int
    incidents: int
    unit: str
    model: str
    variance: str
    evidence: str
    assumptions: tuple[str, ...] = ()
    counts: Mapping[str, Any] = field(default_factory=dict)
    level: float = 0.95

    @property
    def estimable(self) -> bool:
        """True when the rate ratio and its interval are finite."""
        return bool(np.isfinite(self.rate_ratio) and np.isfinite(self.ci_low))

    @property
    def significant(self) -> bool:
        """True when the interval excludes 1 (no effect)."""
        return self.estimable and (self.ci_high < 1.0 or self.ci_low > 1.0)

    def change_text(self) -> str:
        """The estimate as a percentage change with its interval, in words."""
        if not self.estimable:
            return "not estimable"
        return (
            f"{_pct_change(self.rate_ratio)} (95 % interval {_pct_change(self.ci_low)} to "
            f"{_pct_change(self.ci_high)})"
            if self.level == 0.95
            else f"{_pct_change(self.rate_ratio)} ({self.level:.0%} interval "
            f"{_pct_change(self.ci_low)} to {_pct_change(self.ci_high)})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "rate_ratio": self.rate_ratio,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "se_log": self.se_log,
            "n_units": self.n_units,
            "n_areas": self.n_areas,
            "incidents": self.incidents,
            "unit": self.unit,
            "model": self.model,
            "variance": self.variance,
            "evidence": self.evidence,
            "assumptions": list(self.assumptions),
            "counts": dict(self.counts),
            "level": self.level,
        }


@dataclass(frozen=True)
class Finding:
    """One plain statement of what can (``kind="can"``) or cannot (``"cannot"``) be concluded,
    or a caution (``"caution"``)."""

    kind: str
    topic: str
    text: str


@dataclass(frozen=True, eq=False)
class Assessment:
    """What an operation did, as far as its design and data allow.

    Attributes
    ----------
    effect : Estimate or None
        The randomised crossover: patrol against control area-days, forced days left out. None
        when the plan had no controls or the incidents carry no dates.
    effect_all_days : Estimate or None
        The same with the forced days kept (a check: not randomised).
    before_after : Estimate or None
        Planned areas against comparison areas, during against before (difference in
        differences). Weaker evidence.
    dose : Estimate or None
        Rate ratio per :data:`DOSE_UNIT_MINUTES` minutes of patrol on an area-day.
    displacement : pandas.DataFrame
        One row per buffer width: ``buffer_m`` and the fields of
        :class:`hotspots.evaluate.Displacement` (counts, gross and net effect, WDQ, reading).
    area_days : pandas.DataFrame
        One row per planned area and plan day: ``date``, ``week``, ``patrol_area_id``, ``arm``,
        ``assignment``, ``planned_visits``, ``planned_minutes``, ``incidents``, ``covered``
        (inside the incident data's dates), ``minutes``, ``dose_minutes``,
        ``contamination_minutes`` (NaN without patrol logs), ``logged`` (the day has log data),
        ``in_effect`` (used by the crossover estimate).
    findings : tuple of Finding
    params : dict
        Every choice (unit rule, variance, periods, buffers, thresholds), JSON-serialisable.
    notes : tuple of str
        The choices and data facts as sentences.
    tracking : dict
        Delivery and contamination figures from the compliance table (empty without logs).
    """

    effect: Estimate | None
    effect_all_days: Estimate | None
    before_after: Estimate | None
    dose: Estimate | None
    displacement: pd.DataFrame
    area_days: pd.DataFrame
    findings: tuple[Finding, ...]
    params: Mapping[str, Any]
    notes: tuple[str, ...]
    tracking: Mapping[str, Any] = field(default_factory=dict)
    synthetic: bool = False

    @property
    def estimates(self) -> list[Estimate]:
        """Every estimate made, strongest design first."""
        return [
            e
            for e in (self.effect, self.effect_all_days, self.before_after, self.dose)
            if e is not None
        ]

    def per_area(self) -> pd.DataFrame:
        """Per planned area, over the analysed plan days: patrol, control and forced area-days,
        incidents on each, and minutes present (NaN without patrol logs)."""
        d = self.area_days[self.area_days["covered"]]
        pat = d["arm"] == "patrol"
        forced = d["assignment"] == "forced"
        g = d.assign(
            patrol_days=(pat & ~forced).astype(int),
            forced_days=(pat & forced).astype(int),
            control_days=(~pat).astype(int),
            incidents_patrol=d["incidents"].where(pat & ~forced, 0),
            incidents_forced=d["incidents"].where(pat & forced, 0),
            incidents_control=d["incidents"].where(~pat, 0),
            minutes_patrol_days=d["minutes"].where(pat),
            minutes_control_days=d["minutes"].where(~pat),
        ).groupby("patrol_area_id", sort=True)
        out = g[
            [
                "patrol_days",
                "forced_days",
                "control_days",
                "incidents_patrol",
                "incidents_forced",
                "incidents_control",
            ]
        ].sum()
        out["minutes_patrol_days"] = g["minutes_patrol_days"].sum(min_count=1)
        out["minutes_control_days"] = g["minutes_control_days"].sum(min_count=1)
        return out.reset_index()

    def table(self) -> pd.DataFrame:
        """Every estimate with its interval and ``n``, one row each (what ``effect.csv`` holds).

        Rate ratios come with their interval; the WDQ rows (one per buffer) have none (it is a
        ratio of count changes, Bowers & Johnson 2003) and their ``n`` is the incidents counted.
        """
        rows = []
        for e in self.estimates:
            rows.append(
                {
                    "estimate": e.name,
                    "label": e.label,
                    "measure": "rate ratio per 15 minutes"
                    if e.name == "dose_response"
                    else "rate ratio",
                    "value": e.rate_ratio,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "level": e.level,
                    "p_value": e.p_value,
                    "n": e.n_units,
                    "n_unit": e.unit,
                    "areas": e.n_areas,
                    "incidents": e.incidents,
                    "model": e.model,
                    "variance": e.variance,
                    "evidence": e.evidence,
                }
            )
        for _, d in self.displacement.iterrows():
            n = int(sum(int(d[k]) for k in ("Rb", "Ra", "Db", "Da", "Cb", "Ca")))
            rows.append(
                {
                    "estimate": f"displacement_{int(d['buffer_m'])}m",
                    "label": f"weighted displacement quotient, {int(d['buffer_m'])} m buffer",
                    "measure": "WDQ",
                    "value": float(d["wdq"]),
                    "ci_low": float("nan"),
                    "ci_high": float("nan"),
                    "level": float("nan"),
                    "p_value": float("nan"),
                    "n": n,
                    "n_unit": "incidents counted (response, buffer, control; before and after)",
                    "areas": int(self.params.get("areas_planned", 0)),
                    "incidents": n,
                    "model": "Bowers & Johnson (2003) WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)",
                    "variance": "none (no interval)",
                    "evidence": str(d["interpretation"]),
                }
            )
        return pd.DataFrame(rows)

    def to_csv(self, path: str | Path | None = None) -> str:
        """:meth:`table` as spreadsheet-safe CSV (and written to ``path``), parameters last."""
        import json

        t = self.table()
        t["assessment_parameters"] = json.dumps(to_jsonable(dict(self.params)), sort_keys=True)
        text = table_to_csv(t)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8", newline="")
        return text


def _pct_change(rr: float) -> str:
    if not np.isfinite(rr):
        return "n/a"
    pct = (rr - 1.0) * 100.0
    if abs(pct) < 0.5:
        return "no change"
    return f"{abs(pct):.0f} % {'fewer' if pct < 0 else 'more'}"


# ------------------------------------------------------------------------------- model
def fit_rate_ratio(
    frame: pd.DataFrame,
    *,
    covariate: str,
    count: str = "incidents",
    area: str = "patrol_area_id",
    period: str | None = None,
    exposure: str | None = None,
    variance: str = "auto",
    covariate_scale: float = 1.0,
    level: float = 0.95,
) -> dict[str, Any]:
    """A Poisson rate ratio with area (and period) fixed effects, fitted by statsmodels.

    ``log E[count] = log(exposure) + area effect [+ period effect] + beta * covariate``, and the
    rate ratio is ``exp(beta * covariate_scale)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit (area-day, area-week cell ...).
    covariate : str
        Column of the effect: 0/1 for patrol against control, minutes for a dose.
    count : str, default "incidents"
    area : str, default "patrol_area_id"
        Fixed effect for each value; areas with no incident at all are dropped first (they carry
        no information about ``beta`` and would have an effect of minus infinity).
    period : str, optional
        Second fixed effect (plan day or plan week); periods with no incident are dropped.
    exposure : str, optional
        Column of days (offset ``log(days)``); default one per row.
    variance : {"auto", "cluster", "quasi", "model"}, default "auto"
        ``"cluster"``: robust, clustered by area (CR1 small-sample correction, t with
        ``areas - 1`` degrees of freedom). ``"quasi"``: quasi-Poisson, the model variance times
        the Pearson dispersion (floored at 1; t with residual degrees of freedom). ``"model"``:
        the Poisson variance (normal). ``"auto"``: the wider of the quasi-Poisson and the
        clustered interval (clustered only when at least :data:`MIN_CLUSTERS` areas hold
        incidents): the quasi-Poisson variance is right when an area's days are independent given
        the area and period effects, the clustered one also when they are not (a feud, a closure)
        but is itself too small and noisy with few areas; the wider guards against both.
    covariate_scale : float, default 1
        Units of the covariate the rate ratio is given per (15 for "per 15 minutes").
    level : float, default 0.95

    Returns
    -------
    dict
        ``rate_ratio``, ``ci_low``, ``ci_high``, ``p_value``, ``beta``, ``se`` (of ``beta`` per
        covariate unit), ``se_log`` (of the log rate ratio), ``df`` (None for normal),
        ``variance`` (the one used, in words), ``variance_kind``, ``n_units``, ``n_areas``,
        ``n_periods``, ``incidents``, ``dropped_areas``, ``dropped_periods``, ``dispersion``
        (Pearson chi2 / df), ``converged``, ``warnings`` and ``reason`` (why not estimable, or "").
    """
    if variance not in ("auto", "cluster", "quasi", "model"):
        msg = f"variance must be 'auto', 'cluster', 'quasi' or 'model', got {variance!r}."
        raise ParameterError(msg)
    if not 0 < level < 1:
        msg = f"level must be between 0 and 1, got {level!r}."
        raise ParameterError(msg)
    f, y, out = _informative_rows(frame, count=count, area=area, period=period)
    x = pd.to_numeric(f[covariate], errors="coerce").to_numpy(dtype=float)
    if len(f) == 0 or y.sum() == 0:
        out["reason"] = "no incidents in the rows compared"
        return out
    if not np.all(np.isfinite(x)):
        msg = f"Column {covariate!r} has missing or non-numeric values."
        raise ParameterError(msg)
    if np.ptp(x) == 0:
        out["reason"] = f"the {covariate} does not vary between the rows compared"
        return out
    if set(np.unique(x)) <= {0.0, 1.0} and (y[x == 1].sum() == 0 or y[x == 0].sum() == 0):
        out["reason"] = (
            "every incident fell on one side of the comparison, so the rate ratio is 0 or infinite"
        )
        return out
    area_codes, n_areas = _codes(f[area])
    design, n_periods = _design(x, area_codes, n_areas, f[period] if period else None)
    offset = None
    if exposure is not None:
        days = pd.to_numeric(f[exposure], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(days) & (days > 0)):
            msg = f"Column {exposure!r} must hold positive numbers of days."
            raise ParameterError(msg)
        offset = np.log(days)
    if variance == "cluster" and n_areas < 2:
        msg = "A variance clustered by area needs at least 2 areas with incidents."
        raise ParameterError(msg)
    fitted = _poisson_fit(
        y,
        design,
        offset,
        area_codes,
        cluster=variance == "cluster" or (variance == "auto" and n_areas >= MIN_CLUSTERS),
    )
    q = 1 - (1 - level) / 2
    kind, se, df, label = _pick_variance(fitted, variance, n_areas, q)
    beta = fitted["beta"]
    crit = float(stats.t.ppf(q, df)) if df else float(stats.norm.ppf(q))
    z = beta / se if se > 0 else float("nan")
    p = float("nan")
    if np.isfinite(z):
        p = float(2 * stats.t.sf(abs(z), df)) if df else float(2 * stats.norm.sf(abs(z)))
    s = float(covariate_scale)
    out.update(
        {
            "rate_ratio": math.exp(beta * s),
            "ci_low": math.exp((beta - crit * se) * s),
            "ci_high": math.exp((beta + crit * se) * s),
            "p_value": p,
            "beta": beta,
            "se": se,
            "se_log": se * s,
            "df": df,
            "variance": label,
            "variance_kind": kind,
            "n_periods": n_periods,
            "dispersion": fitted["dispersion"],
            "converged": fitted["converged"],
            "warnings": fitted["warnings"],
        }
    )
    return out


def _informative_rows(
    frame: pd.DataFrame, *, count: str, area: str, period: str | None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Rows with a count, in areas (and periods) holding at least one incident; the result dict
    with the counts filled in and the estimates NaN."""
    y_all = pd.to_numeric(frame[count], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(y_all)
    f = frame.loc[keep].reset_index(drop=True)
    y = y_all[keep]
    area_tot = pd.Series(y).groupby(f[area].astype(str).to_numpy()).sum()
    rows = f[area].astype(str).isin(set(area_tot.index[area_tot > 0])).to_numpy()
    dropped_periods = 0
    if period is not None:
        per_tot = pd.Series(y).groupby(f[period].astype(str).to_numpy()).sum()
        dropped_periods = int((per_tot <= 0).sum())
        rows = rows & f[period].astype(str).isin(set(per_tot.index[per_tot > 0])).to_numpy()
    nan = float("nan")
    out: dict[str, Any] = {
        "rate_ratio": nan,
        "ci_low": nan,
        "ci_high": nan,
        "p_value": nan,
        "beta": nan,
        "se": nan,
        "se_log": nan,
        "df": None,
        "variance": "",
        "variance_kind": "",
        "n_units": int(rows.sum()),
        "n_areas": int((area_tot > 0).sum()),
        "n_periods": 0,
        "incidents": int(y[rows].sum()),
        "dropped_areas": int((area_tot <= 0).sum()),
        "dropped_periods": dropped_periods,
        "dispersion": nan,
        "converged": False,
        "warnings": [],
        "reason": "",
    }
    return f.loc[rows].reset_index(drop=True), y[rows], out


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    codes, levels = pd.factorize(values.astype(str), sort=True)
    return np.asarray(codes), len(levels)


def _design(
    x: np.ndarray, area_codes: np.ndarray, n_areas: int, period: pd.Series | None
) -> tuple[np.ndarray, int]:
    """The covariate, one dummy per area (no intercept) and one per period but the first."""
    cols = [x[:, None], (area_codes[:, None] == np.arange(n_areas)).astype(float)]
    n_periods = 0
    if period is not None:
        per_codes, n_periods = _codes(period)
        if n_periods > 1:
            cols.append((per_codes[:, None] == np.arange(1, n_periods)).astype(float))
    return np.hstack(cols), n_periods


def _poisson_fit(
    y: np.ndarray,
    design: np.ndarray,
    offset: np.ndarray | None,
    groups: np.ndarray,
    *,
    cluster: bool,
) -> dict[str, Any]:
    """statsmodels' Poisson GLM (IRLS), its Pearson dispersion and, if asked, the CR1 clustered
    variance of the first coefficient; BLAS kept to one thread (the matrices are small, and
    several BLAS threads on a busy machine made each fit many times slower)."""
    import statsmodels.api as sm
    from statsmodels.stats.sandwich_covariance import cov_cluster
    from threadpoolctl import threadpool_limits

    model = sm.GLM(y, design, family=sm.families.Poisson(), offset=offset)
    with warnings.catch_warnings(record=True) as rec, threadpool_limits(limits=1):
        warnings.simplefilter("always")
        res = model.fit(tol=1e-12, maxiter=200)
        cov = cov_cluster(res, groups, use_correction=True) if cluster else None
    df_resid = float(res.df_resid)
    return {
        "beta": float(res.params[0]),
        "se_model": float(res.bse[0]),
        "se_cluster": math.sqrt(max(float(cov[0, 0]), 0.0)) if cov is not None else None,
        "df_resid": df_resid,
        "dispersion": float(res.pearson_chi2 / df_resid) if df_resid > 0 else float("nan"),
        "converged": bool(getattr(res, "converged", True)),
        "warnings": [str(w.message) for w in rec],
    }


def _pick_variance(
    fitted: Mapping[str, Any], variance: str, n_areas: int, q: float
) -> tuple[str, float, float | None, str]:
    """(kind, se, degrees of freedom or None for normal, label) of the variance used."""
    options: list[tuple[str, float, float | None, str]] = []
    if fitted["se_cluster"] is not None:
        options.append(
            (
                "cluster",
                fitted["se_cluster"],
                float(n_areas - 1),
                f"robust, clustered by area ({n_areas} areas; CR1 correction, t with "
                f"{n_areas - 1} degrees of freedom)",
            )
        )
    if variance in ("quasi", "auto"):
        disp = fitted["dispersion"]
        scale = max(1.0, disp) if np.isfinite(disp) else 1.0
        options.append(
            (
                "quasi",
                fitted["se_model"] * math.sqrt(scale),
                fitted["df_resid"] if fitted["df_resid"] > 0 else None,
                f"quasi-Poisson: the Poisson variance times the Pearson dispersion {scale:.2f} "
                "(never below 1)",
            )
        )
    if variance == "model":
        options.append(
            ("model", fitted["se_model"], None, "Poisson, model-based (no over-dispersion)")
        )

    def half_width(o: tuple[str, float, float | None, str]) -> float:
        crit = float(stats.t.ppf(q, o[2])) if o[2] else float(stats.norm.ppf(q))
        return crit * o[1]

    kind, se, df, label = max(options, key=half_width)
    if variance == "auto" and len(options) > 1:
        other = next(o[3] for o in options if o[0] != kind)
        label = f"the wider of two intervals, here {label}; the other: {other}"
    elif variance == "auto":
        label = (
            f"{label}; {n_areas} areas are too few for a variance clustered by area "
            f"(fewer than {MIN_CLUSTERS})"
        )
    return kind, se, df, label


# ------------------------------------------------------------------------------- inputs
def _plan_table(plan: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The plan as one row per planned visit or control area-day, typed."""
    if hasattr(plan, "visits") and hasattr(plan, "params"):
        table, params = plan.visits.copy(), dict(plan.params)
    elif isinstance(plan, pd.DataFrame):
        table, params = plan.copy(), dict(plan.attrs.get("params", {}))
    else:
        msg = (
            "plan must be a PatrolPlan or the table of its visits (patrol_plan.csv as read by "
            f"hotspots.tracking.read_plan), not {type(plan).__name__}."
        )
        raise ParameterError(msg)
    for col in ("date", "patrol_area_id", "arm"):
        if col not in table.columns:
            msg = f"The plan lacks the column {col!r} (use the patrol_plan.csv of `hotspots plan`)."
            raise ParameterError(msg)
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(
                table["date"].astype(str).str[:10], errors="coerce", format="%Y-%m-%d"
            ).to_numpy(),
            "patrol_area_id": table["patrol_area_id"].astype(str).to_numpy(),
            "arm": table["arm"].astype(str).str.strip().str.lower().to_numpy(),
        }
    )
    if out["date"].isna().any():
        n_bad = int(out["date"].isna().sum())
        msg = f"The plan has {n_bad} row(s) without a readable date (YYYY-MM-DD)."
        raise ParameterError(msg)
    bad = sorted(set(out["arm"]) - {"patrol", "control"})
    if bad:
        msg = f"The plan's arm column holds {bad!r}; expected 'patrol' or 'control'."
        raise ParameterError(msg)
    out["assignment"] = (
        table["assignment"].astype(str).str.strip().str.lower().to_numpy()
        if "assignment" in table.columns
        else ""
    )
    minutes = (
        pd.to_numeric(table["minutes"], errors="coerce").to_numpy(dtype=float)
        if "minutes" in table.columns
        else np.where(out["arm"] == "patrol", float(params.get("visit_minutes", 15)), 0.0)
    )
    out["minutes"] = np.where(out["arm"] == "patrol", np.nan_to_num(minutes), 0.0)
    return out, params


def _day_start_hour(params: Mapping[str, Any]) -> int:
    text = str(params.get("plan_day_starts", ""))
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        return int(text.split(":")[0])
    from hotspots.tactics import load_knowledge_base

    return int(load_knowledge_base().constant("plan_day_start_hour"))


def _derive_forced(days: pd.DataFrame, max_gap: int) -> np.ndarray:
    """Patrol days that followed ``max_gap - 1`` control days in a row (the gap rule's deadline)."""
    forced = np.zeros(len(days), dtype=bool)
    for _, idx in days.groupby("patrol_area_id", sort=False).groups.items():
        sub = days.loc[idx].sort_values("date")
        run = 0
        for i, arm in zip(sub.index, sub["arm"], strict=True):
            if arm == "control":
                run += 1
            else:
                forced[days.index.get_loc(i)] = run >= max_gap - 1
                run = 0
    return forced


def _area_geometries(areas: Any, ids: Iterable[str], crs: pyproj.CRS) -> gpd.GeoDataFrame:
    if not isinstance(areas, gpd.GeoDataFrame) or "patrol_area_id" not in areas.columns:
        msg = (
            "areas must be a GeoDataFrame of patrol areas with a 'patrol_area_id' column "
            "(patrol_areas.geojson)."
        )
        raise ParameterError(msg)
    if areas.crs is None:
        msg = (
            "The patrol areas have no CRS; give them with one (patrol_areas.geojson is EPSG:4326)."
        )
        raise ParameterError(msg)
    g = areas[["patrol_area_id", areas.geometry.name]].copy()
    g["patrol_area_id"] = g["patrol_area_id"].astype(str)
    g = g.to_crs(crs)
    ids = list(ids)
    missing = sorted(set(ids) - set(g["patrol_area_id"]))
    if missing:
        msg = (
            f"{len(missing)} planned area(s) have no geometry among the patrol areas given: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}."
        )
        raise ParameterError(msg)
    return g[g["patrol_area_id"].isin(ids)].reset_index(drop=True)


def _incident_days(incidents: Incidents, day_start_h: int) -> tuple[pd.Series, np.ndarray]:
    """Each incident's plan day (NaT without a date) and whether it came from a time of day."""
    frame = incidents.frame
    t = pd.to_datetime(frame["datetime"])
    timed = frame["has_time"].to_numpy(dtype=bool) & t.notna().to_numpy()
    shifted = (t - pd.Timedelta(hours=day_start_h)).dt.normalize()
    day = shifted.where(timed, t.dt.normalize())
    return day.reset_index(drop=True), timed


def _in_areas(incidents: Incidents, geoms: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(incident index, area index) pairs for incidents inside each area (boundary excluded)."""
    if len(incidents) == 0 or len(geoms) == 0:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    tree = shapely.STRtree(np.asarray(geoms.geometry.values, dtype=object))
    pts = shapely.points(incidents.frame["x"].to_numpy(), incidents.frame["y"].to_numpy())
    pairs = tree.query(pts, predicate="within")
    return pairs[0], pairs[1]


def area_day_counts(
    plan: Any,
    areas: gpd.GeoDataFrame,
    incidents: Incidents,
    *,
    compliance: Any = None,
) -> pd.DataFrame:
    """Incidents per planned area and plan day, with the plan's arm, assignment and minutes.

    Parameters
    ----------
    plan : PatrolPlan or pandas.DataFrame
        The plan, or its visits table (``patrol_plan.csv`` read by
        :func:`hotspots.tracking.read_plan`): needs ``date``, ``patrol_area_id`` and ``arm``;
        uses ``assignment`` and ``minutes``. Plan days run from the plan's ``plan_day_starts``
        (06:00) to the same time the next morning.
    areas : geopandas.GeoDataFrame
        The patrol areas (``patrol_area_id`` and polygons, any CRS).
    incidents : Incidents
        Incidents of the operation period (and before). An incident with a time of day counts on
        its plan day; one with a date only on that date (the hours after midnight then count on
        the wrong day); one with a month only on none.
    compliance : hotspots.tracking.Compliance or pandas.DataFrame, optional
        Tracking's per area-day table (``Compliance.area_days``): ``date``, ``patrol_area_id``,
        ``minutes``, ``dose_minutes``, ``contamination_minutes``, ``no_data``.

    Returns
    -------
    pandas.DataFrame
        See :attr:`Assessment.area_days`.
    """
    table, _ = _plan_table(plan)
    days, _info = _area_days(table, _plan_params(plan), areas, incidents, compliance)
    return days


def _plan_params(plan: Any) -> dict[str, Any]:
    if hasattr(plan, "params"):
        return dict(plan.params)
    return dict(getattr(plan, "attrs", {}).get("params", {}))


def _area_days(
    table: pd.DataFrame,
    params: Mapping[str, Any],
    areas: gpd.GeoDataFrame,
    incidents: Incidents,
    compliance: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    day_h = _day_start_hour(params)
    key = ["date", "patrol_area_id"]
    flags = table.assign(
        _patrol=(table["arm"] == "patrol").astype(int),
        _forced=(table["assignment"] == "forced").astype(int),
    )
    days = (
        flags.groupby(key, sort=True)
        .agg(
            planned_visits=("_patrol", "sum"),
            planned_minutes=("minutes", "sum"),
            _forced=("_forced", "max"),
        )
        .reset_index()
    )
    days["arm"] = np.where(days["planned_visits"] > 0, "patrol", "control")
    days["assignment"] = np.where(days["_forced"] > 0, "forced", "random")
    days = days.drop(columns="_forced")
    forced_source = "plan"
    if (table["assignment"] == "").all():
        max_gap = int(params.get("max_gap_days", 3))
        days["assignment"] = np.where(
            _derive_forced(days, max_gap) & (days["arm"] == "patrol"), "forced", "random"
        )
        forced_source = "derived"
    start = days["date"].min()
    days["week"] = ((days["date"] - start).dt.days // 7 + 1).astype(int)

    ids = sorted(days["patrol_area_id"].unique())
    geoms = _area_geometries(areas, ids, incidents.crs)
    inc_day, timed = _incident_days(incidents, day_h)
    inc_idx, area_idx = _in_areas(incidents, geoms)
    hit = pd.DataFrame(
        {
            "date": inc_day.to_numpy()[inc_idx] if len(inc_idx) else pd.Series([], dtype="M8[ns]"),
            "patrol_area_id": geoms["patrol_area_id"].to_numpy()[area_idx]
            if len(area_idx)
            else np.empty(0, dtype=object),
        }
    ).dropna()
    counts = hit.groupby(key).size().rename("incidents")
    days = days.merge(counts, left_on=key, right_index=True, how="left")
    days["incidents"] = days["incidents"].fillna(0).astype(int)
    dated = inc_day.dropna()
    first = dated.min() if len(dated) else pd.NaT
    last = dated.max() if len(dated) else pd.NaT
    days["covered"] = (
        (days["date"] >= first) & (days["date"] <= last)
        if len(dated)
        else np.zeros(len(days), dtype=bool)
    )
    for col in ("minutes", "dose_minutes", "contamination_minutes"):
        days[col] = np.nan
    days["logged"] = True
    if compliance is not None:
        ad = getattr(compliance, "area_days", compliance)
        if not isinstance(ad, pd.DataFrame) or not {"date", "patrol_area_id", "minutes"} <= set(
            ad.columns
        ):
            msg = (
                "compliance must be a tracking Compliance or its area_days table (date, "
                "patrol_area_id, minutes)."
            )
            raise ParameterError(msg)
        ad = ad.copy()
        ad["date"] = pd.to_datetime(ad["date"].astype(str).str[:10], format="%Y-%m-%d")
        ad["patrol_area_id"] = ad["patrol_area_id"].astype(str)
        agg = {"minutes": "sum"}
        for col in ("dose_minutes", "contamination_minutes", "no_data"):
            if col in ad.columns:
                agg[col] = "sum"
        got = ad.groupby(key).agg(agg)
        merged = days[key].merge(got, left_on=key, right_index=True, how="left")
        for col in ("minutes", "dose_minutes", "contamination_minutes"):
            if col in merged.columns:
                days[col] = merged[col].fillna(0.0).to_numpy(dtype=float)
        days.loc[days["arm"] == "patrol", "contamination_minutes"] = 0.0
        if "no_data" in ad.columns:
            no_data_days = set(ad.loc[ad["no_data"].astype(float) > 0, "date"])
            days["logged"] = ~days["date"].isin(no_data_days)
    days["in_effect"] = days["covered"] & (days["assignment"] != "forced")
    cols = [
        "date",
        "week",
        "patrol_area_id",
        "arm",
        "assignment",
        "planned_visits",
        "planned_minutes",
        "incidents",
        "covered",
        "minutes",
        "dose_minutes",
        "contamination_minutes",
        "logged",
        "in_effect",
    ]
    info = {
        "day_start_hour": day_h,
        "forced_source": forced_source,
        "first_incident_day": first,
        "last_incident_day": last,
        "incidents_total": len(incidents),
        "incidents_timed": int(timed.sum()),
        "incidents_dated": len(dated),
        "incidents_in_areas": int(len(np.unique(inc_idx))),
        "geoms": geoms,
        "incident_days": inc_day,
    }
    return days[cols].sort_values(key, kind="stable", ignore_index=True), info


# ------------------------------------------------------------------------------- estimates
_CROSSOVER_ASSUMPTIONS = (
    "Patrol and control days were assigned at random (the plan's seeded draw), so nothing "
    "else differs between them on average; days the gap rule forced to be patrol days are left "
    "out because they were not drawn at random.",
    "No carry-over: a patrol does not change incidents on the area's next days. Residual "
    "deterrence would lower the control days too and pull the rate ratio towards 1.",
    "No spill-over between areas: patrol in one area does not change incidents in another "
    "area that is a control that day.",
    "One rate ratio for all areas and days (the model reports an average); incidents follow a "
    "Poisson-type count whose extra variation the robust variance allows for.",
    "Incidents are counted by assignment (intention to treat): patrol days count as patrol "
    "whether or not the visit was delivered, so under-delivery and contamination pull the "
    "rate ratio towards 1.",
)


def _estimate(
    name: str,
    label: str,
    fit: Mapping[str, Any],
    *,
    unit: str,
    model: str,
    evidence: str,
    assumptions: Sequence[str],
    counts: Mapping[str, Any],
    level: float,
) -> Estimate:
    return Estimate(
        name=name,
        label=label,
        rate_ratio=float(fit["rate_ratio"]),
        ci_low=float(fit["ci_low"]),
        ci_high=float(fit["ci_high"]),
        p_value=float(fit["p_value"]),
        se_log=float(fit["se_log"]),
        n_units=int(fit["n_units"]),
        n_areas=int(fit["n_areas"]),
        incidents=int(fit["incidents"]),
        unit=unit,
        model=model,
        variance=str(fit["variance"]) or f"not estimable: {fit['reason']}",
        evidence=evidence,
        assumptions=tuple(assumptions),
        counts=dict(counts),
        level=level,
    )


def _crossover(
    days: pd.DataFrame, *, name: str, label: str, variance: str, level: float, forced_kept: bool
) -> tuple[Estimate, dict[str, Any]]:
    rows = days[days["covered"] & (forced_kept | (days["assignment"] != "forced"))].copy()
    rows["patrol"] = (rows["arm"] == "patrol").astype(float)
    n_days = int(rows["date"].nunique())
    per_day = float(rows["incidents"].sum() / n_days) if n_days else 0.0
    daily = per_day >= DAILY_MIN_INCIDENTS
    if daily:
        data = rows.assign(days=1.0, period=rows["date"].dt.strftime("%Y-%m-%d"))
        unit = "area-day"
        model = (
            "Poisson GLM (log link): incidents per area-day ~ patrol + area effects + plan-day "
            "effects"
        )
    else:
        data = (
            rows.groupby(["patrol_area_id", "week", "arm"], as_index=False)
            .agg(incidents=("incidents", "sum"), days=("date", "size"))
            .assign(patrol=lambda d: (d["arm"] == "patrol").astype(float))
        )
        data["period"] = data["week"].astype(str)
        unit = "area-week cell (an area's patrol days, or its control days, in one plan week)"
        model = (
            "Poisson GLM (log link): incidents per area-week cell ~ patrol + area effects + "
            "plan-week effects, offset log(days in the cell)"
        )
    fit = fit_rate_ratio(
        data,
        covariate="patrol",
        period="period",
        exposure="days",
        variance=variance,
        level=level,
    )
    pat = rows[rows["arm"] == "patrol"]
    ctl = rows[rows["arm"] == "control"]
    counts = {
        "incidents_patrol": int(pat["incidents"].sum()),
        "area_days_patrol": len(pat),
        "incidents_control": int(ctl["incidents"].sum()),
        "area_days_control": len(ctl),
        "forced_area_days_left_out": 0
        if forced_kept
        else int((days["covered"] & (days["assignment"] == "forced")).sum()),
        "incidents_per_plan_day": per_day,
        "plan_days": n_days,
    }
    est = _estimate(
        name,
        label,
        fit,
        unit=unit,
        model=model,
        evidence="randomised (crossover)"
        if not forced_kept
        else "check only: forced days were not drawn at random",
        assumptions=_CROSSOVER_ASSUMPTIONS
        if not forced_kept
        else (
            "As for the randomised estimate, except that the forced days were not drawn at "
            "random: they follow two control days, so anything that runs in such spells (a "
            "quiet spell, a busy one) can bias this check.",
        ),
        counts=counts,
        level=level,
    )
    return est, {
        "unit_rule": "daily" if daily else "weekly",
        "incidents_per_plan_day": per_day,
        "fit": fit,
    }


def _week_blocks(start: pd.Timestamp, n_days: int, *, before: bool) -> list[tuple[int, int]]:
    """(first day offset, days) of consecutive 7-day blocks from ``start`` (backwards if before)."""
    blocks = []
    done = 0
    while done < n_days:
        size = min(7, n_days - done)
        blocks.append((-(done + size) if before else done, size))
        done += size
    return blocks


def _comparison_estimate(
    *,
    areas: gpd.GeoDataFrame,
    planned_ids: Sequence[str],
    comparison: gpd.GeoDataFrame | None,
    incidents: Incidents,
    geoms: gpd.GeoDataFrame,
    info: Mapping[str, Any],
    plan_start: pd.Timestamp,
    plan_end: pd.Timestamp,
    before: tuple[Any, Any] | None,
    variance: str,
    level: float,
    dated: bool,
    notes: list[str],
) -> tuple[Estimate | None, str]:
    """The before/after comparison, its comparison areas chosen (given, left out, the rest)."""
    left_out = areas[~areas["patrol_area_id"].astype(str).isin(planned_ids)]
    if comparison is not None:
        comp = comparison[[comparison.geometry.name]].to_crs(incidents.crs)
        comp_label = f"{len(comp)} comparison area(s) given"
    elif len(left_out):
        comp = left_out[[left_out.geometry.name]].to_crs(incidents.crs)
        comp_label = f"the {len(comp)} patrol area(s) left out of the plan"
    else:
        rest = shapely.difference(
            incidents.study_area,
            shapely.union_all(np.asarray(geoms.geometry.values, dtype=object)).buffer(100.0),
        )
        comp = gpd.GeoDataFrame(geometry=[rest], crs=incidents.crs)
        comp_label = "the rest of the study area (outside the planned areas and 100 m around them)"
    est, ba_notes, _ = _before_after(
        incidents=incidents,
        info=info,
        planned_geoms=geoms,
        comparison=comp,
        comparison_label=comp_label,
        plan_start=plan_start,
        plan_end=plan_end,
        before=before,
        variance=variance,
        level=level,
        dated=dated,
    )
    notes.extend(ba_notes)
    return est, comp_label


def _ba_rows_dated(
    info: Mapping[str, Any],
    inc_idx: np.ndarray,
    unit_idx: np.ndarray,
    n_units: int,
    plan_start: pd.Timestamp,
    plan_end: pd.Timestamp,
    before: tuple[Any, Any] | None,
    notes: list[str],
) -> tuple[list[tuple[int, str, int, float]], str, str] | str:
    """Counts per unit and 7-day block before and during the operation (or why there are none)."""
    day = info["incident_days"].to_numpy()[inc_idx]
    after_start, after_end = plan_start, min(plan_end, info["last_incident_day"])
    n_after = int((after_end - after_start).days) + 1
    if before is not None:
        b0, b1 = pd.Timestamp(before[0]), pd.Timestamp(before[1])
    else:
        b1 = plan_start - pd.Timedelta(days=1)
        b0 = b1 - pd.Timedelta(days=n_after - 1)
    first = info["first_incident_day"]
    if pd.isna(first) or b1 < first:
        return (
            "The incident data start after the period before the operation, so there is no "
            "before/after comparison; give incidents from before the operation."
        )
    if b0 < first:
        notes.append(
            f"The incident data start on {first:%Y-%m-%d}: the period before runs from then, "
            f"not from {b0:%Y-%m-%d}."
        )
        b0 = first
    n_before = int((b1 - b0).days) + 1
    blocks = [
        ("before", b1 + pd.Timedelta(days=o + 1), s)
        for o, s in _week_blocks(b1, n_before, before=True)
    ]
    blocks += [
        ("after", after_start + pd.Timedelta(days=o), s)
        for o, s in _week_blocks(after_start, n_after, before=False)
    ]
    rows = []
    for u in range(n_units):
        sel = day[unit_idx == u]
        for phase, b_start, size in blocks:
            b_end = b_start + pd.Timedelta(days=size - 1)
            rows.append((u, phase, int(((sel >= b_start) & (sel <= b_end)).sum()), float(size)))
    period_text = (
        f"before {b0:%Y-%m-%d} to {b1:%Y-%m-%d} ({n_before} days), during "
        f"{after_start:%Y-%m-%d} to {after_end:%Y-%m-%d} ({n_after} days)"
    )
    return rows, "area-week", period_text


def _ba_rows_monthly(
    incidents: Incidents,
    inc_idx: np.ndarray,
    unit_idx: np.ndarray,
    n_units: int,
    plan_start: pd.Timestamp,
    plan_end: pd.Timestamp,
    before: tuple[Any, Any] | None,
) -> tuple[list[tuple[int, str, int, float]], str, str] | str:
    """Counts per unit and month before and during the operation, for incidents with months
    only (or why there are none)."""
    month = incidents.frame["month"].to_numpy()[inc_idx]
    a0 = plan_start.to_period("M").to_timestamp()
    months_after = pd.date_range(a0, plan_end.to_period("M").to_timestamp(), freq="MS")
    if before is not None:
        months_before = pd.date_range(
            pd.Timestamp(before[0]).to_period("M").to_timestamp(),
            pd.Timestamp(before[1]).to_period("M").to_timestamp(),
            freq="MS",
        )
    else:
        months_before = pd.date_range(
            a0 - pd.DateOffset(months=len(months_after)), periods=len(months_after), freq="MS"
        )
    have = set(pd.to_datetime(incidents.frame["month"].dropna()).unique())
    months_before = pd.DatetimeIndex([m for m in months_before if m in have])
    months_after = pd.DatetimeIndex([m for m in months_after if m in have])
    if len(months_before) == 0 or len(months_after) == 0:
        return (
            "The incident data lack the months before or during the operation: no before/after "
            "comparison."
        )
    rows = []
    for u in range(n_units):
        sel = month[unit_idx == u]
        for phase, ms in (("before", months_before), ("after", months_after)):
            for m in ms:
                rows.append((u, phase, int((sel == m).sum()), float(m.days_in_month)))
    period_text = (
        f"before {months_before[0]:%Y-%m} to {months_before[-1]:%Y-%m}, during "
        f"{months_after[0]:%Y-%m} to {months_after[-1]:%Y-%m} (whole months: the incidents "
        "carry months only)"
    )
    return rows, "area-month", period_text


def _before_after(
    *,
    incidents: Incidents,
    info: Mapping[str, Any],
    planned_geoms: gpd.GeoDataFrame,
    comparison: gpd.GeoDataFrame | None,
    comparison_label: str,
    plan_start: pd.Timestamp,
    plan_end: pd.Timestamp,
    before: tuple[Any, Any] | None,
    variance: str,
    level: float,
    dated: bool,
) -> tuple[Estimate | None, list[str], dict[str, Any]]:
    notes: list[str] = []
    if comparison is None or len(comparison) == 0:
        notes.append("No comparison areas: the before/after comparison is not made.")
        return None, notes, {}
    units = pd.concat(
        [planned_geoms.assign(treated=1.0), comparison.assign(treated=0.0)], ignore_index=True
    )
    tree = shapely.STRtree(np.asarray(units.geometry.values, dtype=object))
    pts = shapely.points(incidents.frame["x"].to_numpy(), incidents.frame["y"].to_numpy())
    inc_idx, unit_idx = tree.query(pts, predicate="within")
    built = (
        _ba_rows_dated(info, inc_idx, unit_idx, len(units), plan_start, plan_end, before, notes)
        if dated
        else _ba_rows_monthly(
            incidents, inc_idx, unit_idx, len(units), plan_start, plan_end, before
        )
    )
    if isinstance(built, str):
        notes.append(built)
        return None, notes, {}
    rows, unit_word, period_text = built
    frame = pd.DataFrame(rows, columns=["unit", "phase", "incidents", "days"])
    frame["treated"] = units["treated"].to_numpy()[frame["unit"]]
    frame["after"] = (frame["phase"] == "after").astype(float)
    frame["did"] = frame["after"] * frame["treated"]
    frame["area"] = frame["unit"].astype(str)
    fit = fit_rate_ratio(
        frame,
        covariate="did",
        area="area",
        period="phase",
        exposure="days",
        variance=variance,
        level=level,
    )
    tot = frame.groupby(["treated", "phase"]).agg(
        incidents=("incidents", "sum"), days=("days", "sum")
    )

    def get(t: float, ph: str, col: str) -> float:
        try:
            return float(tot.loc[(t, ph), col])
        except KeyError:
            return 0.0

    counts = {
        "planned_before": int(get(1.0, "before", "incidents")),
        "planned_during": int(get(1.0, "after", "incidents")),
        "comparison_before": int(get(0.0, "before", "incidents")),
        "comparison_during": int(get(0.0, "after", "incidents")),
        "planned_areas": len(planned_geoms),
        "comparison_areas": len(comparison),
        "comparison": comparison_label,
        "periods": period_text,
    }
    est = _estimate(
        "before_after",
        "planned areas against comparison areas, during the operation against before "
        "(difference in differences)",
        fit,
        unit=unit_word,
        model=(
            f"Poisson GLM (log link): incidents per {unit_word} ~ area effects + during + "
            "during x planned, offset log(days); the rate ratio is exp(during x planned) = "
            "(planned during / planned before) / (comparison during / comparison before)"
        ),
        evidence="before/after with comparison areas (weaker: not randomised)",
        assumptions=(
            "Parallel trends: without the operation, incidents in the planned areas would have "
            "changed by the same proportion as in the comparison areas.",
            "Regression to the mean: the planned areas were chosen for their high counts, which "
            "tend to fall back on their own; comparison areas chosen the same way (the "
            "lower-ranked patrol areas) share some of this, the rest of the study area does not.",
            "Nothing else changed in the planned areas alone (other operations, CCTV, lighting, "
            "closures).",
            "No spill-over: patrols do not change incidents in the comparison areas (see the "
            "displacement quotient).",
        ),
        counts=counts,
        level=level,
    )
    notes.append(f"Before/after periods: {period_text}; comparison: {comparison_label}.")
    return est, notes, {"periods": period_text, "fit": fit}


def _dose(
    days: pd.DataFrame, *, delivered: bool, variance: str, level: float, daily: bool
) -> tuple[Estimate, dict[str, Any]]:
    rows = days[days["covered"] & days["logged"]].copy()
    col = "minutes" if delivered else "planned_minutes"
    rows["dose"] = rows[col].fillna(0.0).astype(float)
    rows["period"] = rows["date"].dt.strftime("%Y-%m-%d") if daily else rows["week"].astype(str)
    fit = fit_rate_ratio(
        rows,
        covariate="dose",
        period="period",
        variance=variance,
        covariate_scale=DOSE_UNIT_MINUTES,
        level=level,
    )
    source = (
        "minutes delivered (patrol presence rebuilt from the logs)"
        if delivered
        else "planned minutes (no patrol logs given: this repeats the patrol/control comparison "
        "per 15 minutes and says nothing about what was delivered)"
    )
    assumptions = [
        "Each 15 minutes of presence multiplies the incident rate by the same factor (a "
        "straight line on the log scale); the Koper curve (Koper 1995) suggests the benefit "
        "levels off after about 15 minutes a visit, which a straight line averages over.",
        "The same area and period effects as the crossover.",
    ]
    if delivered:
        assumptions.append(
            "Delivered minutes were not assigned at random: patrols may stay longer where it is "
            "quiet, or leave early when called away, so this is association, not proof of effect."
        )
    counts = {
        "dose_source": "delivered" if delivered else "planned",
        "area_days": len(rows),
        "minutes_total": float(rows["dose"].sum()),
        "area_days_with_minutes": int((rows["dose"] > 0).sum()),
        "area_days_without_log_data": int((days["covered"] & ~days["logged"]).sum()),
    }
    est = _estimate(
        "dose_response",
        f"incidents per area-day against {source.split(' (')[0]}",
        fit,
        unit="area-day",
        model=(
            "Poisson GLM (log link): incidents per area-day ~ minutes/15 + area effects + "
            + ("plan-day effects" if daily else "plan-week effects")
        ),
        evidence="dose-response: "
        + ("observational (delivered minutes)" if delivered else "planned minutes, labelled"),
        assumptions=assumptions,
        counts=counts,
        level=level,
    )
    return est, {"source": source, "fit": fit}


_DISPLACEMENT_COLUMNS = (
    "buffer_m", "before", "after", "Rb", "Ra", "Db", "Da", "Cb", "Ca", "gross_effect",
    "net_effect", "wdq", "total_net_effect", "interpretation",
)  # fmt: skip


def _month(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m}"


def _displacement_rows(
    incidents: Incidents,
    planned_geoms: gpd.GeoDataFrame,
    plan_start: pd.Timestamp,
    plan_end: pd.Timestamp,
    buffers_m: Sequence[float],
    control: Any,
    before: tuple[Any, Any] | None,
) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    a0 = plan_start.to_period("M").to_timestamp()
    a1 = plan_end.to_period("M").to_timestamp()
    n_months = len(pd.date_range(a0, a1, freq="MS"))
    if before is not None:
        b0 = pd.Timestamp(before[0]).to_period("M").to_timestamp()
        b1 = pd.Timestamp(before[1]).to_period("M").to_timestamp()
    else:
        b1 = a0 - pd.DateOffset(months=1)
        b0 = a0 - pd.DateOffset(months=n_months)
    rows = []
    for b in buffers_m:
        d = displacement(
            incidents,
            planned_geoms,
            before=(_month(b0), _month(b1)),
            after=(_month(a0), _month(a1)),
            buffer_m=float(b),
            control=control,
        )
        rows.append(
            {
                "buffer_m": float(b),
                "before": f"{_month(b0)} to {_month(b1)}",
                "after": f"{_month(a0)} to {_month(a1)}",
                **d.to_dict(),
            }
        )
    table = pd.DataFrame(rows, columns=list(_DISPLACEMENT_COLUMNS))
    if len(table):
        notes.append(
            f"Displacement is counted by whole months ({_month(b0)} to {_month(b1)} before, "
            f"{_month(a0)} to {_month(a1)} during), as evaluate.displacement does; months may run "
            "past the operation's first and last days."
        )
    return table, notes


# ------------------------------------------------------------------------------- assessment
def assess_operation(
    plan: Any,
    areas: gpd.GeoDataFrame,
    incidents: Incidents,
    *,
    compliance: Any = None,
    comparison: gpd.GeoDataFrame | None = None,
    before: tuple[Any, Any] | None = None,
    buffers_m: Sequence[float] = (100.0,),
    variance: str = "auto",
    level: float = 0.95,
    estimates: Collection[str] = ESTIMATES,
) -> Assessment:
    """Did the operation work? Every estimate its design and data allow, and what they mean.

    Parameters
    ----------
    plan : PatrolPlan or pandas.DataFrame
        The plan (:func:`hotspots.patrol.make_patrol_plan`) or its visits table
        (``patrol_plan.csv`` as :func:`hotspots.tracking.read_plan` reads it).
    areas : geopandas.GeoDataFrame
        The patrol areas (``patrol_areas.geojson``: ``patrol_area_id``, polygons, any CRS).
        Areas not in the plan (left out for capacity) are the default comparison areas.
    incidents : Incidents
        Incidents recorded during the operation and, for the before/after comparison and the
        displacement quotient, before it; usually the whole study area.
    compliance : hotspots.tracking.Compliance, optional
        From :func:`hotspots.tracking.compare_with_plan`: delivered minutes for the
        dose-response, contamination and delivery for the findings.
    comparison : geopandas.GeoDataFrame, optional
        Comparison areas for the before/after comparison (polygons; a ``patrol_area_id`` column
        is not needed). Default: the patrol areas left out of the plan; without any, the study
        area outside the planned areas and 100 m around them (one comparison unit).
    before : (date, date), optional
        First and last day of the period before the operation (``"YYYY-MM-DD"``). Default: as
        many days as the operation, just before it (by months when the incidents carry months
        only, and for the displacement quotient).
    buffers_m : sequence of float, default (100,)
        Buffer widths (metres) for the displacement quotient (UK trials counted displacement in
        100 m buffers: Basford et al. 2021, Bland et al. 2021).
    variance : {"auto", "cluster", "quasi", "model"}, default "auto"
        See :func:`fit_rate_ratio`.
    level : float, default 0.95
        Confidence level of the intervals.
    estimates : collection of str, default all of :data:`ESTIMATES`
        Which to make: ``"crossover"``, ``"before_after"``, ``"dose"``, ``"displacement"``
        (leave some out for speed, e.g. in simulations).

    Returns
    -------
    Assessment

    Notes
    -----
    The crossover estimate is the randomised one (see the module docstring for the model). Its
    unit follows :data:`DAILY_MIN_INCIDENTS`: area-days with plan-day effects, or area-week
    cells with plan-week effects when the analysed areas average fewer incidents a day. Days
    outside the incident data's first and last dated incident are not analysed.
    """
    buffers = _check_assess_args(estimates, buffers_m)
    table, pparams = _plan_table(plan)
    params_in = _plan_params(plan) or pparams
    days, info = _area_days(table, params_in, areas, incidents, compliance)
    ctx = _Context.build(days, info)
    notes = _data_notes(ctx)
    findings: list[Finding] = []

    # 1. crossover
    effect, effect_all, crossover_info = _crossover_block(
        ctx, estimates, variance, level, findings, notes
    )
    daily = crossover_info.get("unit_rule", "daily") == "daily"

    # 2. before/after
    before_after = None
    comp_label = ""
    if "before_after" in estimates:
        before_after, comp_label = _comparison_estimate(
            areas=areas,
            planned_ids=ctx.planned_ids,
            comparison=comparison,
            incidents=incidents,
            geoms=ctx.geoms,
            info=info,
            plan_start=ctx.start,
            plan_end=ctx.end,
            before=before,
            variance=variance,
            level=level,
            dated=ctx.dated,
            notes=notes,
        )

    # 3. dose-response
    dose = None
    dose_info: dict[str, Any] = {}
    if "dose" in estimates and ctx.dated and ctx.covered_days:
        dose, dose_info = _dose(
            days, delivered=compliance is not None, variance=variance, level=level, daily=daily
        )

    # 4. displacement
    disp = pd.DataFrame(columns=list(_DISPLACEMENT_COLUMNS))
    if "displacement" in estimates and buffers:
        disp, disp_notes = _displacement_rows(
            incidents, ctx.geoms, ctx.start, ctx.end, buffers, None, before
        )
        notes.extend(disp_notes)

    tracking = _tracking_figures(days, compliance)
    findings.extend(
        _findings(
            effect=effect,
            before_after=before_after,
            dose=dose,
            disp=disp,
            weeks=ctx.weeks,
            tracking=tracking,
            has_controls=ctx.has_controls,
            forced_n=ctx.forced_n,
            effect_all=effect_all,
            compliance_given=compliance is not None,
        )
    )
    params = {
        "plan_start": f"{ctx.start:%Y-%m-%d}",
        "plan_end": f"{ctx.end:%Y-%m-%d}",
        "plan_days": ctx.n_days,
        "areas_planned": len(ctx.planned_ids),
        "plan_seed": params_in.get("seed"),
        "control_share": params_in.get("control_share"),
        "plan_day_starts": f"{info['day_start_hour']:02d}:00",
        "forced_area_days": ctx.forced_n,
        "forced_source": info["forced_source"],
        "unit_rule": crossover_info.get("unit_rule", ""),
        "daily_min_incidents": DAILY_MIN_INCIDENTS,
        "variance": variance,
        "min_clusters": MIN_CLUSTERS,
        "level": level,
        "buffers_m": list(buffers),
        "before": [str(b) for b in before] if before is not None else None,
        "comparison": comp_label,
        "dose_source": dose_info.get("source", ""),
        "dose_unit_minutes": DOSE_UNIT_MINUTES,
        "thresholds": {
            "min_weeks": MIN_WEEKS,
            "review_weeks": REVIEW_WEEKS,
            "target_reduction": TARGET_REDUCTION,
            "contamination_limit": CONTAMINATION_LIMIT,
            "delivery_limit": DELIVERY_LIMIT,
        },
        "statsmodels": _statsmodels_version(),
        "version": hotspots.__version__,
    }
    return Assessment(
        effect=effect,
        effect_all_days=effect_all,
        before_after=before_after,
        dose=dose,
        displacement=disp,
        area_days=days,
        findings=tuple(findings),
        params=params,
        notes=tuple(notes),
        tracking=tracking,
        synthetic=bool(getattr(incidents.report, "synthetic", False)),
    )


def _check_assess_args(
    estimates: Collection[str], buffers_m: Sequence[float] | float
) -> tuple[float, ...]:
    unknown = sorted(set(estimates) - set(ESTIMATES))
    if unknown:
        msg = f"Unknown estimate(s) {unknown!r}; choose from {list(ESTIMATES)!r}."
        raise ParameterError(msg)
    seq = (buffers_m,) if isinstance(buffers_m, int | float) else buffers_m
    buffers = tuple(float(b) for b in seq)
    if any(not np.isfinite(b) or b <= 0 for b in buffers):
        msg = f"buffers_m must be positive distances in metres, got {buffers!r}."
        raise ParameterError(msg)
    return buffers


@dataclass(frozen=True)
class _Context:
    """The facts about an operation every estimate and note needs."""

    days: pd.DataFrame
    info: Mapping[str, Any]
    start: pd.Timestamp
    end: pd.Timestamp
    n_days: int
    weeks: float
    planned_ids: list[str]
    geoms: gpd.GeoDataFrame
    has_controls: bool
    dated: bool
    covered_days: int
    forced_n: int

    @classmethod
    def build(cls, days: pd.DataFrame, info: Mapping[str, Any]) -> _Context:
        n_dated = info["incidents_dated"]
        n_days = int(days["date"].nunique())
        return cls(
            days=days,
            info=info,
            start=pd.Timestamp(days["date"].min()),
            end=pd.Timestamp(days["date"].max()),
            n_days=n_days,
            weeks=n_days / 7.0,
            planned_ids=sorted(days["patrol_area_id"].unique()),
            geoms=info["geoms"],
            has_controls=bool((days["arm"] == "control").any()),
            dated=bool(n_dated > 0 and n_dated >= 0.5 * info["incidents_total"]),
            covered_days=int(days.loc[days["covered"], "date"].nunique()),
            forced_n=int((days["covered"] & (days["assignment"] == "forced")).sum()),
        )


def _data_notes(ctx: _Context) -> list[str]:
    info = ctx.info
    notes = [
        f"Operation: {len(ctx.planned_ids)} planned areas over {ctx.n_days} plan days "
        f"({ctx.start:%Y-%m-%d} to {ctx.end:%Y-%m-%d}, {ctx.weeks:.1f} weeks); plan days "
        f"start at {info['day_start_hour']:02d}:00."
    ]
    if ctx.dated:
        notes.append(
            f"Incidents: {info['incidents_total']:,} given, {info['incidents_dated']:,} with a "
            f"date ({info['incidents_timed']:,} with a time of day); dated incidents run from "
            f"{info['first_incident_day']:%Y-%m-%d} to {info['last_incident_day']:%Y-%m-%d}."
        )
        if ctx.covered_days < ctx.n_days:
            notes.append(
                f"{ctx.n_days - ctx.covered_days} plan day(s) fall outside the incident data's "
                "dates and are not analysed."
            )
    return notes


_NO_CONTROLS = (
    "The plan had no control area-days (control share 0), so the randomised comparison cannot "
    "be made; only the weaker before/after comparison is available."
)
_MONTHS_ONLY = (
    "The incidents carry months only (as police.uk data do), so patrol days and control days "
    "cannot be told apart and the randomised comparison cannot be made. Use the force's own "
    "records, with dates and times."
)
_NOT_COVERED = (
    "No incident data cover the operation's days; give the incidents recorded during the operation."
)


def _crossover_block(
    ctx: _Context,
    estimates: Collection[str],
    variance: str,
    level: float,
    findings: list[Finding],
    notes: list[str],
) -> tuple[Estimate | None, Estimate | None, dict[str, Any]]:
    """The randomised estimate and its forced-days check, or the finding that says why not."""
    if not ctx.has_controls:
        findings.append(Finding("cannot", "design", _NO_CONTROLS))
        return None, None, {}
    if not ctx.dated:
        findings.append(Finding("cannot", "data", _MONTHS_ONLY))
        return None, None, {}
    if "crossover" not in estimates:
        return None, None, {}
    if ctx.covered_days == 0:
        findings.append(Finding("cannot", "data", _NOT_COVERED))
        return None, None, {}
    effect, info = _crossover(
        ctx.days,
        name="crossover",
        label="patrol against control area-days (randomised crossover, forced days left out)",
        variance=variance,
        level=level,
        forced_kept=False,
    )
    effect_all = None
    if ctx.forced_n:
        effect_all, _ = _crossover(
            ctx.days,
            name="crossover_all_days",
            label="patrol against control area-days, forced days kept (check only)",
            variance=variance,
            level=level,
            forced_kept=True,
        )
    unit = (
        "area-days with plan-day effects"
        if info["unit_rule"] == "daily"
        else "area-week cells with plan-week effects"
    )
    source = (
        "marked in the plan"
        if ctx.info["forced_source"] == "plan"
        else "derived from the gap rule: the plan has no assignment column"
    )
    notes.append(
        f"Crossover unit: {unit} (the analysed areas average "
        f"{info['incidents_per_plan_day']:.2f} incidents a plan day; the rule is plan-day "
        f"effects from {DAILY_MIN_INCIDENTS:g} a day)."
    )
    notes.append(
        f"{ctx.forced_n} patrol area-day(s) forced by the gap rule ({source}) are left out of "
        "the effect estimate."
    )
    date_only = ctx.info["incidents_dated"] - ctx.info["incidents_timed"]
    if date_only:
        notes.append(
            f"{date_only:,} incident(s) have a date but no time: they count on their calendar "
            "date, so those after midnight fall on the wrong plan day."
        )
    return effect, effect_all, info


def _tracking_figures(days: pd.DataFrame, compliance: Any) -> dict[str, Any]:
    """Delivery (tracking's summary) and contamination (presence on control area-days)."""
    if compliance is None:
        return {}
    summ = dict(getattr(compliance, "summary", {}) or {})
    ctl = days[days["arm"] == "control"]
    contaminated = int((ctl["minutes"].fillna(0) > 0).sum())
    return {
        "planned_visits": summ.get("planned_visits"),
        "delivered": summ.get("delivered"),
        "short": summ.get("short"),
        "missed": summ.get("missed"),
        "no_data": summ.get("no_data"),
        "delivery_rate": summ.get("delivery_rate"),
        "control_area_days": len(ctl),
        "contaminated_area_days": contaminated,
        "contamination_share": contaminated / len(ctl) if len(ctl) else float("nan"),
        "contamination_minutes": float(ctl["minutes"].fillna(0).sum()),
        "planned_minutes": float(days["planned_minutes"].sum()),
        "minutes_on_patrol_days": float(
            days.loc[days["arm"] == "patrol", "minutes"].fillna(0).sum()
        ),
    }


def assess_plan_folder(
    plan_dir: str | Path,
    incidents: Incidents,
    *,
    log_paths: Any = None,
    tz: str | None = None,
    log_columns: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Assessment:
    """:func:`assess_operation` on a folder written by ``hotspots plan --out-dir``.

    Reads ``patrol_plan.csv`` and ``patrol_areas.geojson`` with :mod:`hotspots.tracking`
    (:func:`~hotspots.tracking.read_plan`, :func:`~hotspots.tracking.read_patrol_areas`) and,
    when ``log_paths`` are given, rebuilds the delivered visits from the GPS/AVL logs
    (:func:`~hotspots.tracking.read_patrol_logs`, :func:`~hotspots.tracking.rebuild_visits`,
    :func:`~hotspots.tracking.compare_with_plan`) for the dose-response, delivery and
    contamination.

    Parameters
    ----------
    plan_dir : str or Path
    incidents : Incidents
        Incidents during (and before) the operation.
    log_paths : path, folder or list of them, optional
        Patrol logs (CSV, GPX, GeoJSON).
    tz : str, optional
        Time zone of log times without an offset and of the plan's clock times; by default the
        zone where the patrol areas are (:func:`hotspots.tasking.time_zone_of_areas`).
    log_columns : mapping, optional
        Explicit log column roles (see :func:`~hotspots.tracking.read_patrol_logs`).
    **kwargs
        Passed to :func:`assess_operation` (``before``, ``buffers_m``, ``comparison`` ...).

    Returns
    -------
    Assessment
    """
    from hotspots import tracking
    from hotspots.tasking import time_zone_of_areas

    plan = tracking.read_plan(plan_dir)
    areas = tracking.read_patrol_areas(plan_dir)
    compliance = None
    if log_paths:
        zone = tz or time_zone_of_areas(areas).zone
        logs = tracking.read_patrol_logs(log_paths, columns=log_columns, tz=zone)
        visits = tracking.rebuild_visits(logs, areas, tz=zone)
        compliance = tracking.compare_with_plan(visits, plan, logs=logs, tz=zone)
    return assess_operation(plan, areas, incidents, compliance=compliance, **kwargs)


def _statsmodels_version() -> str:
    import statsmodels

    return str(statsmodels.__version__)


def _detectable(est: Estimate) -> float:
    """Smallest reduction detectable with 80 % power at 5 % two-sided, from the estimate's SE."""
    if not np.isfinite(est.se_log):
        return float("nan")
    return 1.0 - math.exp(-_Z_POWER * est.se_log)


def _findings(
    *,
    effect: Estimate | None,
    before_after: Estimate | None,
    dose: Estimate | None,
    disp: pd.DataFrame,
    weeks: float,
    tracking: Mapping[str, Any],
    has_controls: bool,
    forced_n: int,
    effect_all: Estimate | None,
    compliance_given: bool,
) -> list[Finding]:
    """What can and cannot be concluded, in the order the report lists them."""
    short = weeks < MIN_WEEKS
    out = _effect_findings(effect, effect_all, forced_n, short)
    if short:
        out.append(
            Finding(
                "cannot",
                "too few weeks",
                f"Too few weeks: {weeks:.1f} weeks of operation (fewer than {MIN_WEEKS}) can be "
                "swayed by one unusual week; treat any estimate as provisional.",
            )
        )
    if weeks < REVIEW_WEEKS:
        out.append(
            Finding(
                "cannot",
                "duration",
                f"Whether the effect lasts: {weeks * 7:.0f} days ({weeks:.1f} weeks) is shorter "
                "than the 90-day review (this tool's review point, after the 90-day UK trials); "
                "effects of continuous campaigns are known to decay.",
            )
        )
    direct = effect if effect is not None and effect.estimable else before_after
    shown = direct is not None and direct.estimable and direct.significant
    out += _weaker_findings(before_after, has_controls, dose, disp, direct_shown=shown)
    out += _delivery_findings(tracking, compliance_given)
    return out


def _effect_findings(
    effect: Estimate | None, effect_all: Estimate | None, forced_n: int, short: bool
) -> list[Finding]:
    if effect is None:
        return []
    if not effect.estimable:
        why = effect.variance.removeprefix("not estimable: ")
        return [
            Finding(
                "cannot", "effect", f"The patrol/control rate ratio cannot be estimated: {why}."
            )
        ]
    c = effect.counts
    base = (
        f"On patrol days the planned areas had {effect.change_text()} incidents than on control "
        f"days ({c['incidents_patrol']} incidents on {c['area_days_patrol']} patrol area-days, "
        f"{c['incidents_control']} on {c['area_days_control']} control area-days)."
    )
    if effect.significant and not short:
        kind, tail = (
            "can",
            " The interval leaves out 'no change', so chance alone is an unlikely explanation; "
            "this is randomised evidence of the patrols' effect on the days they were assigned.",
        )
    elif effect.significant:
        kind, tail = (
            "caution",
            " The interval leaves out 'no change', but the operation is too short to rely on it.",
        )
    else:
        kind, tail = (
            "cannot",
            " The interval includes 'no change', so these data cannot tell an effect from "
            "chance. This is not evidence that patrol does nothing.",
        )
    out = [Finding(kind, "effect", base + tail)]
    mde = _detectable(effect)
    if np.isfinite(mde) and mde > TARGET_REDUCTION:
        out.append(
            Finding(
                "cannot",
                "too few incidents",
                f"Too few incidents: with {effect.incidents} incidents in the compared area-days "
                f"the operation could reliably detect (80 % power) only a reduction of "
                f"{mde * 100:.0f} % or more, not the {TARGET_REDUCTION * 100:.0f} % typical of hot "
                "spot patrol. Run the operation longer or over more areas.",
            )
        )
    if effect_all is not None and effect_all.estimable:
        out.append(
            Finding(
                "caution",
                "forced days",
                f"{forced_n} patrol area-days forced by the gap rule are left out; with them kept "
                f"(not randomised) the estimate is {effect_all.change_text()}.",
            )
        )
    return out


def _weaker_findings(
    before_after: Estimate | None,
    has_controls: bool,
    dose: Estimate | None,
    disp: pd.DataFrame,
    *,
    direct_shown: bool = True,
) -> list[Finding]:
    out: list[Finding] = []
    if before_after is not None and before_after.estimable:
        kind = "caution" if has_controls else ("can" if before_after.significant else "cannot")
        word = (
            "a change beyond chance, but not proof that patrol caused it"
            if before_after.significant
            else "no change that chance cannot explain"
        )
        out.append(
            Finding(
                kind,
                "before/after",
                "Before/after against comparison areas (weaker evidence, not randomised): during "
                f"the operation the planned areas had {before_after.change_text()} incidents than "
                f"the comparison areas' change predicts: {word}. Regression to the mean and "
                "other local changes can produce such differences.",
            )
        )
    if dose is not None and dose.estimable:
        text = (
            "Dose-response: each 15 minutes of patrol presence on an area-day went with "
            f"{dose.change_text()} incidents"
            if dose.counts.get("dose_source") == "delivered"
            else "Dose-response from planned minutes only: each 15 planned minutes went with "
            f"{dose.change_text()} incidents; give patrol logs to measure what was delivered"
        )
        out.append(
            Finding(
                "caution",
                "dose",
                text + ". Minutes were not randomised, so this supports but does not prove an "
                "effect.",
            )
        )
    for _, d in disp.iterrows():
        label = f"Displacement, {int(d['buffer_m'])} m buffer"
        if np.isfinite(d["wdq"]):
            text = (
                f"{label}: WDQ {d['wdq']:.2f}. {d['interpretation']} (by months {d['before']} "
                f"against {d['after']}; no interval)."
            )
            if not direct_shown:
                # Bowers & Johnson (2003): the quotient measures displacement relative to a
                # direct effect; with none shown beyond chance its ratio is noise over noise.
                text += (
                    " The direct effect is not distinguishable from chance, so this quotient "
                    "is not evidence of displacement or of diffusion of benefit."
                )
            out.append(Finding("caution", "displacement", text))
        else:
            out.append(Finding("cannot", "displacement", f"{label}: {d['interpretation']}"))
    return out


def _delivery_findings(tracking: Mapping[str, Any], compliance_given: bool) -> list[Finding]:
    if not compliance_given:
        return [
            Finding(
                "cannot",
                "delivery",
                "Whether the patrols were delivered as planned, or kept out of the control "
                "areas: no patrol logs were given (add GPS/AVL logs to measure delivery and "
                "contamination).",
            )
        ]
    out = []
    share = float(tracking.get("contamination_share", float("nan")))
    if np.isfinite(share):
        seen = (
            f"patrols were present in {share * 100:.0f} % of control area-days "
            f"({tracking['contaminated_area_days']} of {tracking['control_area_days']}, "
            f"{tracking['contamination_minutes']:.0f} minutes)"
        )
        out.append(
            Finding(
                "caution",
                "contamination",
                f"Contamination: {seen}. Controls that were patrolled make the comparison "
                "understate the effect.",
            )
            if share > CONTAMINATION_LIMIT
            else Finding(
                "can",
                "controls kept",
                f"The controls were kept: {seen}, within the {CONTAMINATION_LIMIT * 100:.0f} % "
                "this report accepts.",
            )
        )
    rate = tracking.get("delivery_rate")
    if rate is not None and np.isfinite(float(rate)):
        delivered = (
            f"{float(rate) * 100:.0f} % of planned visits with log data were delivered (at least "
            "10 minutes)"
        )
        out.append(
            Finding(
                "caution",
                "under-delivery",
                f"Under-delivery: {delivered}. The estimate is of the plan as delivered, not of "
                "the full dose.",
            )
            if float(rate) < DELIVERY_LIMIT
            else Finding("can", "delivery", f"The plan was delivered: {delivered}.")
        )
    return out


# ------------------------------------------------------------------------------- simulation
def simulate_operation(
    plan: Any,
    areas: gpd.GeoDataFrame,
    *,
    effect: float = 0.8,
    baseline_rate: float | Sequence[float] | Mapping[str, float] = 0.2,
    area_spread: float = 0.5,
    dispersion: float = 0.0,
    before_days: int | None = None,
    background_rate: float = 0.0,
    margin_m: float = 500.0,
    seed: int | None = None,
) -> Incidents:
    """Incidents of a simulated operation with a known true rate ratio (for tests and demos).

    Every area in ``areas`` gets incidents on every day from ``before_days`` before the plan's
    first day to its last: Poisson counts with mean ``rate_a * g_ad * effect^patrol``, where
    ``rate_a`` is the area's baseline rate, ``g_ad`` a gamma day factor with mean 1 and variance
    ``dispersion`` (0: none) and ``patrol`` 1 on the area's patrol days in the plan (forced ones
    included) and 0 otherwise (control days, days before, areas left out). Each incident lies
    uniformly inside its area at a uniform time within its plan day.

    Parameters
    ----------
    plan : PatrolPlan or pandas.DataFrame
    areas : geopandas.GeoDataFrame
        Patrol areas (``patrol_area_id``, polygons). A geographic CRS is projected to UTM.
    effect : float, default 0.8
        True rate ratio on patrol area-days (0.8 = 20 % fewer incidents).
    baseline_rate : float, sequence or mapping, default 0.2
        Incidents per area per day without patrol: one mean for all areas (spread by
        ``area_spread``), or one rate per area (in ``areas`` order, or by ``patrol_area_id``).
    area_spread : float, default 0.5
        Coefficient of variation of the areas' rates around a single ``baseline_rate`` (gamma).
    dispersion : float, default 0
        Extra-Poisson variance of the daily rate (negative binomial counts).
    before_days : int, optional
        Days simulated before the plan (no patrol); default as many as the plan has.
    background_rate : float, default 0
        Incidents per km² per day outside the patrol areas, within ``margin_m`` of them (for the
        displacement quotient's buffer and control area); never affected by patrol.
    margin_m : float, default 500
        Margin around the areas' bounding box that makes the study area, metres.
    seed : int, optional

    Returns
    -------
    Incidents
        In the areas' metric CRS, with ``datetime`` (a time of day), the study area, and in the
        report's ``choices["simulation"]`` every parameter and the true rate ratio.
    """
    if not (np.isfinite(effect) and effect > 0):
        msg = f"effect must be a positive rate ratio, got {effect!r}."
        raise ParameterError(msg)
    if area_spread < 0 or dispersion < 0 or background_rate < 0:
        msg = "area_spread, dispersion and background_rate must be >= 0."
        raise ParameterError(msg)
    table, pparams = _plan_table(plan)
    day_h = _day_start_hour(_plan_params(plan) or pparams)
    g = _metric_areas(areas)
    rng = np.random.default_rng(seed)
    ids = g["patrol_area_id"].to_numpy()
    rates = _area_rates(baseline_rate, ids, area_spread, rng)
    start = table["date"].min()
    n_plan = int((table["date"].max() - start).days) + 1
    n_before = n_plan if before_days is None else int(before_days)
    all_days = pd.date_range(start - pd.Timedelta(days=n_before), table["date"].max(), freq="D")
    patrol = table[table["arm"] == "patrol"][["date", "patrol_area_id"]].drop_duplicates()
    pos = {a: i for i, a in enumerate(ids)}
    day_pos = {d: j for j, d in enumerate(all_days)}
    pmask = np.zeros((len(ids), len(all_days)), dtype=bool)
    for d, a in zip(patrol["date"], patrol["patrol_area_id"], strict=True):
        if a in pos:
            pmask[pos[a], day_pos[pd.Timestamp(d)]] = True
    mean = rates[:, None] * np.where(pmask, effect, 1.0)
    if dispersion > 0:
        mean = mean * rng.gamma(1.0 / dispersion, dispersion, size=mean.shape)
    counts = rng.poisson(mean)
    geoms = np.asarray(g.geometry.values, dtype=object)
    minx, miny, maxx, maxy = shapely.union_all(geoms).bounds
    study = shapely.box(minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m)
    x, y, t, loc = _simulated_points(
        geoms, ids, counts, all_days.values.astype("datetime64[ns]"), study, background_rate, rng
    )
    seconds = rng.integers(0, 86400, size=len(x))
    times = pd.to_datetime(t) + pd.Timedelta(hours=day_h) + pd.to_timedelta(seconds, unit="s")
    order = np.argsort(times.to_numpy(), kind="stable")
    inc = Incidents.from_xy(
        x[order],
        y[order],
        crs=g.crs,
        study_area=study,
        datetime=times[order],
        crime_type="Violence and sexual offences",
        location=loc[order],
    )
    sim = {
        "effect": float(effect),
        "baseline_rate": float(np.mean(rates)),
        "area_rates": {str(a): float(r) for a, r in zip(ids, rates, strict=True)},
        "area_spread": float(area_spread),
        "dispersion": float(dispersion),
        "before_days": n_before,
        "background_rate": float(background_rate),
        "seed": seed,
    }
    report = IngestReport(
        files=inc.report.files,
        n_read=inc.report.n_read,
        n_used=inc.report.n_used,
        choices={**dict(inc.report.choices), "simulation": sim},
        notes=[
            f"Simulated operation: true rate ratio {effect:g} on patrol area-days, seed {seed}."
        ],
    )
    return Incidents(inc.frame, inc.crs, inc.study_area, report)


def _metric_areas(areas: Any) -> gpd.GeoDataFrame:
    """``patrol_area_id`` and geometry in a metric CRS (UTM for a geographic one)."""
    if not isinstance(areas, gpd.GeoDataFrame) or "patrol_area_id" not in areas.columns:
        msg = "areas must be a GeoDataFrame with a 'patrol_area_id' column."
        raise ParameterError(msg)
    if areas.crs is None:
        msg = "The patrol areas have no CRS."
        raise ParameterError(msg)
    g = areas[["patrol_area_id", areas.geometry.name]].copy()
    g["patrol_area_id"] = g["patrol_area_id"].astype(str)
    return g.to_crs(g.estimate_utm_crs()) if g.crs.is_geographic else g


def _area_rates(
    baseline_rate: Any, ids: np.ndarray, area_spread: float, rng: np.random.Generator
) -> np.ndarray:
    """Each area's incidents per day without patrol."""
    n = len(ids)
    if isinstance(baseline_rate, Mapping):
        rates = np.array([float(baseline_rate[i]) for i in ids])
    elif np.ndim(baseline_rate) == 0:
        base = float(baseline_rate)
        if area_spread > 0:
            k = 1.0 / area_spread**2
            rates = base * rng.gamma(k, 1.0 / k, size=n)
        else:
            rates = np.full(n, base)
    else:
        rates = np.asarray(baseline_rate, dtype=float)
        if len(rates) != n:
            msg = f"baseline_rate has {len(rates)} values for {n} areas."
            raise ParameterError(msg)
    if np.any(~np.isfinite(rates)) or np.any(rates < 0):
        msg = "baseline rates must be >= 0."
        raise ParameterError(msg)
    return rates


def _simulated_points(
    geoms: np.ndarray,
    ids: np.ndarray,
    counts: np.ndarray,
    day_ns: np.ndarray,
    study: Any,
    background_rate: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y, day and location text of every simulated incident: uniform in its area (counts
    per area and day), then the background uniform in the study area outside every area."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    when: list[np.ndarray] = []
    where: list[np.ndarray] = []
    for i in range(len(ids)):
        total = int(counts[i].sum())
        if total == 0:
            continue
        px, py = _uniform_in(geoms[i], total, rng)
        xs.append(px)
        ys.append(py)
        when.append(np.repeat(day_ns, counts[i]))
        where.append(np.full(total, f"Simulated {ids[i]}", dtype=object))
    if background_rate > 0:
        nb = int(rng.poisson(background_rate * study.area / 1e6 * len(day_ns)))
        bx, by = _uniform_outside(study, shapely.union_all(geoms), nb, rng)
        xs.append(bx)
        ys.append(by)
        when.append(day_ns[rng.integers(0, len(day_ns), size=nb)])
        where.append(np.full(nb, "Simulated background", dtype=object))
    if not xs:
        return (
            np.empty(0),
            np.empty(0),
            np.empty(0, dtype="datetime64[ns]"),
            np.empty(0, dtype=object),
        )
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(when), np.concatenate(where)


def _uniform_in(geom: Any, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``k`` points uniformly inside a polygon (rejection from its bounding box)."""
    minx, miny, maxx, maxy = geom.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    shapely.prepare(geom)
    while got < k:
        m = max(16, 2 * (k - got))
        px = rng.uniform(minx, maxx, m)
        py = rng.uniform(miny, maxy, m)
        ok = shapely.contains_xy(geom, px, py)
        xs.append(px[ok])
        ys.append(py[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:k], np.concatenate(ys)[:k]


def _uniform_outside(
    box: Any, hole: Any, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = box.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    while got < k:
        m = max(16, 2 * (k - got))
        px = rng.uniform(minx, maxx, m)
        py = rng.uniform(miny, maxy, m)
        ok = ~shapely.intersects_xy(hole, px, py)
        xs.append(px[ok])
        ys.append(py[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:k], np.concatenate(ys)[:k]


def write_simulated_incidents(incidents: Incidents, path: str | Path) -> Path:
    """Write simulated incidents as a CSV that :func:`hotspots.ingest.read_incidents` reads back.

    Columns ``Longitude``, ``Latitude`` (WGS84, 6 decimals: about 0.1 m), ``Date``
    (``YYYY-MM-DD``), ``Time`` (``HH:MM``), ``Crime type`` (police.uk's violence category) and
    ``Falls within`` (:data:`~hotspots.incidents.SYNTHETIC_FORCE`, so every output says
    synthetic, and the dates of a plan that starts next week are read although ahead), so the
    walk-through's later data go through the same ingest as a force's file.

    Parameters
    ----------
    incidents : Incidents
        From :func:`simulate_operation` (needs ``datetime``).
    path : str or Path

    Returns
    -------
    Path
    """
    frame = incidents.frame
    if "datetime" not in frame:
        msg = "write_simulated_incidents needs incidents with a datetime column."
        raise ParameterError(msg)
    table = pd.DataFrame(
        {
            "Longitude": frame["lon"].round(6),
            "Latitude": frame["lat"].round(6),
            "Date": frame["datetime"].dt.strftime("%Y-%m-%d"),
            "Time": frame["datetime"].dt.strftime("%H:%M"),
            "Crime type": "Violence and sexual offences",
            "Falls within": SYNTHETIC_FORCE,
        }
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return out


# ------------------------------------------------------------------------------- report
@functools.cache
def _environment() -> jinja2.Environment:
    """The report's templates (:func:`hotspots.offline.report_environment`)."""
    return report_environment({"capitalize_first": lambda t: str(t)[:1].upper() + str(t)[1:]})


def render_assessment(
    assessment: Assessment, *, title: str = "Operation assessment", generated: str | None = None
) -> str:
    """The assessment as one self-contained HTML page (no external requests; OFFICIAL-SENSITIVE).

    Parameters
    ----------
    assessment : Assessment
    title : str, default "Operation assessment"
    generated : str, optional
        Time stamp printed on the page (default now, UTC).

    Returns
    -------
    str
    """
    generated = generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    a = assessment
    by_kind: dict[str, list[Finding]] = {"can": [], "cannot": [], "caution": []}
    for f in a.findings:
        by_kind.setdefault(f.kind, []).append(f)
    headline = a.effect or a.before_after
    page = _environment().get_template("assessment.html")
    return page.render(
        title=title,
        generated=generated,
        version=hotspots.__version__,
        synthetic=a.synthetic,
        headline=headline,
        estimates=a.estimates,
        can=by_kind["can"],
        cannot=by_kind["cannot"],
        caution=by_kind["caution"],
        displacement=[r for _, r in a.displacement.iterrows()],
        areas=[r for _, r in a.per_area().iterrows()],
        tracking=dict(a.tracking),
        notes=list(a.notes),
        params=sorted((k, _param_text(v)) for k, v in a.params.items()),
    )


def _param_text(v: Any) -> str:
    import json

    if isinstance(v, str):
        return v
    return json.dumps(to_jsonable(v), ensure_ascii=False, sort_keys=True)


def write_assessment(
    assessment: Assessment, out_dir: str | Path, *, title: str = "Operation assessment"
) -> dict[str, Path]:
    """Write ``effect.csv``, ``area_days.csv`` and ``assessment.html`` to ``out_dir``.

    Returns
    -------
    dict
        Name -> path of each file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "effect_csv": out / "effect.csv",
        "area_days_csv": out / "area_days.csv",
        "report_html": out / "assessment.html",
    }
    assessment.to_csv(paths["effect_csv"])
    ad = assessment.area_days.copy()
    ad["date"] = ad["date"].dt.strftime("%Y-%m-%d")
    paths["area_days_csv"].write_text(table_to_csv(ad), encoding="utf-8", newline="")
    paths["report_html"].write_text(
        render_assessment(assessment, title=title), encoding="utf-8", newline=""
    )
    return paths
