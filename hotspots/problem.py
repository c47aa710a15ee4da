"""The analyst's problem profile of violence: scale, trend, concentration, places, tactics.

A problem profile (the College of Policing's hot spots guide, step "Targeting", page G3; the
Homicide Prevention Framework it sits in asks forces for one) answers, for each force:

* **scale and trend**: violence per month over the observed months (a month with no input row of
  any kind is missing data, :attr:`hotspots.incidents.Incidents.missing_months`, shown as missing
  and never counted as zero), the mean per month in the first and second halves, and the
  Mann-Kendall test of the monthly series (:func:`hotspots.stats.mann_kendall`);
* **concentration**: the share of violence on the top 1, 2 and 5 % of places
  (:func:`concentration`), for two kinds of place: the distinct *map points* incidents are
  recorded at (police.uk snaps every crime to one of a fixed set of anonymous points; a point
  where only other crime was recorded counts as a place with no violence), and the *150 m grid
  cells* (2.25 ha, the guide's patrol unit) that make up the study area;
* **the ranked places** (:func:`hotspots.workflows.detect_hotspots`) with their months, trend,
  temporal class and, where times of day exist, their peak hours and days;
* **persistent and emerging places** (:func:`hotspots.workflows.classify_over_time`; under
  :data:`hotspots.emerging.MIN_PERIODS` periods the profile says so instead);
* **other crime and anti-social behaviour** recorded inside the top places, against the force as
  a whole (when the input holds other crime types);
* **hold-out evidence** for the chosen method (:func:`hotspots.workflows.evaluate_forecasts`);
* **recommended tactics** for the top places (:func:`hotspots.tactics.recommend`), each with its
  legitimacy and community-impact cautions (:func:`hotspots.safeguards.tactic_safeguards`);
* every automatic choice (:class:`hotspots.record.Choices`).

Given several forces' files (police.uk's "Falls within" column, read into each file's
:attr:`hotspots.incidents.FileInfo.forces`), :func:`split_by_force` separates them, each force gets
its own study area and observed months, and the profile compares them side by side.

:func:`render_problem_profile` writes the report as one self-contained HTML page (autoescaped
Jinja2 template ``hotspots/templates/problem_profile.html``; inline SVG charts, no outside request),
marked OFFICIAL-SENSITIVE with the stop and search notice on every section;
:func:`problem_profile_pdf` prints it with the briefing's local Chromium
(:func:`hotspots.briefing.html_to_pdf`).

Notes
-----
police.uk's "Violence and sexual offences" holds street violence (assaults, wounding, homicide)
but also domestic abuse, harassment, stalking and sexual offences, which police.uk does not
separate: much of it happens in homes, where a street patrol cannot act. The report says so next
to every count.

References
----------
D. Weisburd (2015), "The law of crime concentration and the criminology of place", Criminology
53(2), 133-157 (half of crime on 2.1-6.0 % of street segments in eight cities).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd
import shapely

import hotspots
from hotspots import constants
from hotspots._errors import HotspotsError, ParameterError, TooFewPeriodsError
from hotspots.incidents import REJECTED_COLUMNS, Incidents, IngestReport, unique_points
from hotspots.offline import format_value, report_environment
from hotspots.progress import PROFILING, Progress, progress_step
from hotspots.record import Choices, FrozenDict, choices_of, freeze

if TYPE_CHECKING:
    from hotspots.detect import HotspotResult
    from hotspots.tactics import Recommendation

__all__ = [
    "ASB_TYPE",
    "CONCENTRATION_SHARES",
    "PLACE_UNITS",
    "VIOLENCE_CATEGORY",
    "VIOLENCE_CAVEAT",
    "ForceProfile",
    "ForceFiles",
    "ProblemProfile",
    "concentration",
    "force_labels",
    "monthly_counts",
    "problem_profile",
    "problem_profile_pdf",
    "read_by_force",
    "render_problem_profile",
    "split_by_force",
    "violence_trend",
]

#: police.uk's violence category; it includes domestic abuse, harassment and stalking.
VIOLENCE_CATEGORY = "Violence and sexual offences"
#: police.uk's anti-social behaviour category.
ASB_TYPE = "Anti-social behaviour"
#: The top shares of places the concentration is read at (1, 2 and 5 %).
CONCENTRATION_SHARES = (0.01, 0.02, 0.05)
#: The two kinds of place concentration is measured on.
PLACE_UNITS = ("map points", "150 m cells")
#: Sentence said wherever violence is counted from police.uk categories.
VIOLENCE_CAVEAT = (
    f'police.uk\'s "{VIOLENCE_CATEGORY}" includes domestic abuse, harassment and stalking and '
    "sexual offences as well as street violence; police.uk does not separate them, and much of "
    "it happens in homes, where a street patrol cannot act."
)
#: Hot spot categories of the change-over-time classification shown, in this order.
_EMERGING_SHOWN = (
    "persistent hot spot",
    "intensifying hot spot",
    "consecutive hot spot",
    "new hot spot",
    "sporadic hot spot",
    "oscillating hot spot",
    "diminishing hot spot",
    "historical hot spot",
)
#: The readings of the hold-out evaluation shown: the method at these coverages ...
_EVAL_COVERAGES = ("1%", "2%", "5%")
#: ... and the patrol areas and baselines at this number of discs.
_EVAL_DISCS = "top 20"


# --------------------------------------------------------------------------------------------
# Forces


def force_labels(incidents: Incidents) -> np.ndarray:
    """The force of every incident: its file's police.uk "Falls within" value(s).

    A file naming several forces is labelled with all of them joined by " / " (its rows cannot be
    told apart); a file naming none (not police.uk) gets "".

    Returns
    -------
    numpy.ndarray of str
        One label per incident.
    """
    by_file = {f.name: " / ".join(f.forces) for f in incidents.report.files}
    files = incidents.frame["source_file"].astype(str)
    return files.map(lambda name: by_file.get(name, "")).to_numpy(dtype=object).astype(str)


def split_by_force(incidents: Incidents) -> dict[str, Incidents]:
    """The incidents of each force, each with its own study area and observed months.

    One force (or none named) returns ``{name: incidents}`` unchanged (name "" when the files
    name no force). With several, each force's incidents get the study area the ingest rule
    draws round them (:func:`hotspots.ingest.default_study_area`; a boundary the user gave is
    kept), and its observed months are the months in which that force's files held a usable
    row of any type, so one force's months never fill another's gaps. The spatial outlier rule
    ran on the forces together, so a force's far-flung rows may remain:
    :func:`hotspots.workflows.read_forces` reads each force's files on their own instead.

    Parameters
    ----------
    incidents : Incidents
        Read with every crime type (``crime_types="all"``) so months and study areas rest on all
        of a force's rows.

    Returns
    -------
    dict
        Force name -> Incidents, in name order.
    """
    labels = force_labels(incidents)
    names = sorted(set(labels.tolist()))
    if len(names) <= 1:
        return {names[0] if names else "": incidents}
    return {name: _force_subset(incidents, labels == name, name) for name in names}


@dataclass(frozen=True, eq=False)
class ForceFiles:
    """One force's files, read and validated once, made into its incidents where it is profiled.

    :func:`problem_profile` takes one in place of a force's :class:`Incidents`: a worker
    process is sent its force's files only (never the other forces'), and
    :meth:`incidents` applies the rules over files (:func:`hotspots.ingest.combine_files`:
    duplicates, spatial outliers, the study area, observed months) to them alone, so the force's
    incidents are those reading its files on their own gives (:func:`read_by_force`).

    Attributes
    ----------
    files : tuple of hotspots.ingest.ValidatedFile
        The force's files (:func:`hotspots.ingest.read_file`), in reading order.
    options : mapping
        :func:`hotspots.ingest.combine_files`'s keywords (every crime type is kept).
    """

    files: tuple[Any, ...]
    options: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """Rows in the force's files (how large a force is, for sharing out the work)."""
        return sum(f.info.n_rows for f in self.files)

    def incidents(self) -> Incidents:
        """The force's incidents: its files combined by the ingest rules."""
        from hotspots.ingest import combine_files

        return combine_files(self.files, **{**self.options, "crime_types": "all"})


def read_by_force(
    sources: Any,
    *,
    columns: Mapping[str, str | None] | None = None,
    harm_weights: Any = None,
    study_area: Any = None,
    date_from: Any = None,
    date_to: Any = None,
    outlier_km: float | None = None,
    progress: Progress | None = None,
    coordinate_crs: Any = None,
    crs: Any = None,
    date_order: str = "auto",
    unreadable_dates: str = "auto",
) -> tuple[Incidents, dict[str, Incidents | ForceFiles]]:
    """Every file read once: all of them as one :class:`Incidents`, and each force's files.

    The same as ``read_inputs(sources, crime_types="all", ...)`` then
    :func:`hotspots.workflows.read_forces` with those incidents, which reads each force's files
    again: here each file is parsed and validated once (:func:`hotspots.ingest.read_file`), the
    files are combined for the whole input (:func:`hotspots.ingest.combine_files`), and each
    force's files are kept for :func:`problem_profile` to combine on their own
    (:class:`ForceFiles`).

    Parameters
    ----------
    sources, columns, harm_weights, study_area, date_from, date_to, outlier_km, coordinate_crs
        As :func:`hotspots.workflows.read_inputs` (``crime_types`` is ``"all"``).
    crs, date_order, unreadable_dates
        As :func:`hotspots.workflows.read_inputs`: the analysis CRS (every force's too), the
        order of day and month in dates and what becomes of rows whose date cannot be read.
    progress : callable, optional
        Told ``"reading files"`` (file i of n), then ``"validating"``.

    Returns
    -------
    incidents : Incidents
        Every file's incidents, as ``read_inputs`` reads them.
    forces : dict
        Force name -> :class:`ForceFiles`, in name order; one force (or none named) maps to
        ``incidents`` itself. Sources that are not plain files and folders whose files keep
        their names when read on their own (uploads, archives, files in subfolders) get
        :func:`hotspots.workflows.read_forces`'s forces instead.
    """
    from hotspots.boundaries import read_boundary
    from hotspots.harm import read_harm_weights
    from hotspots.ingest import combine_files, list_sources, read_files
    from hotspots.workflows import read_forces

    if isinstance(harm_weights, str | Path | bytes | bytearray):
        harm_weights = read_harm_weights(harm_weights)
    if isinstance(study_area, str | Path | bytes | bytearray):
        study_area = read_boundary(study_area)
    options: dict[str, Any] = {
        "harm_weights": harm_weights,
        "study_area": study_area,
        "date_from": date_from,
        "date_to": date_to,
        "outlier_km": outlier_km,
    }
    if crs is not None:  # each force's files combined in it too
        options["crs"] = crs
    items = list_sources(sources)
    # each file's text dropped once checked: the few rows rejected when combining (here, then
    # each force's files in a worker) get their raw fields from the file again
    files = read_files(
        items, columns=columns, progress=progress, keep_text=False, coordinate_crs=coordinate_crs,
        date_order=date_order, unreadable_dates=unreadable_dates,
    )  # fmt: skip
    pooled = combine_files(
        files, crime_types="all", progress=progress, skipped=items.skipped, **options
    )
    groups: dict[str, list[Any]] = {}
    for f in files:  # a file of column names only names no force: nothing of it to profile
        if f.info.n_rows:  # (said in the pooled read's notes)
            groups.setdefault(" / ".join(f.info.forces), []).append(f)
    if len(groups) <= 1:
        return pooled, {next(iter(groups), ""): pooled}
    if not _own_names(sources, [f.info.name for f in files]):
        forces = read_forces(
            sources, pooled=pooled, columns=columns, progress=progress,
            coordinate_crs=coordinate_crs, date_order=date_order,
            unreadable_dates=unreadable_dates, **options,
        )  # fmt: skip
        return pooled, dict(forces)
    return pooled, {name: ForceFiles(tuple(groups[name]), options) for name in sorted(groups)}


def _own_names(sources: Any, names: Sequence[str]) -> bool:
    """Whether ``sources`` are files and folders of plain files named ``names`` when read, each
    file keeping its name when read on its own (no subfolder, archive or upload)."""
    items = [sources] if isinstance(sources, str | Path) else sources
    if not isinstance(items, list | tuple) or not all(isinstance(i, str | Path) for i in items):
        return False
    plain = [Path(i).name for i in items if not Path(i).is_dir()]
    return (
        len(set(names)) == len(names)
        and all("/" not in n for n in names)
        and set(plain) <= set(names)
    )


def _force_subset(incidents: Incidents, mask: np.ndarray, name: str) -> Incidents:
    from hotspots.ingest import default_study_area

    sub = incidents.subset(mask)
    choices = dict(sub.report.choices)
    months = sub.frame["month"].dropna()
    seen = set(choices.get("months_in_input") or [])
    mine = sorted({f"{m:%Y-%m}" for m in months} & seen) if seen else None
    choices["months_in_input"] = mine
    choices["forces"] = [name] if name else []
    files = [f for f in sub.report.files if " / ".join(f.forces) == name]
    area = sub.study_area
    note = f"Force {name or 'not named'}: {len(sub)} incidents."
    if choices.get("study_area_rule") != "given" and len(sub):
        area = default_study_area(sub.frame["x"].to_numpy(), sub.frame["y"].to_numpy())
        choices["study_area_km2"] = round(area.area / 1e6, 6)
        note += (
            f" Its study area ({area.area / 1e6:.2f} km²) is drawn round its own incidents "
            "by the ingest rule."
        )
    report = IngestReport(
        files=files,
        n_read=sum(f.n_rows for f in files),
        n_used=len(sub),
        rejected=pd.DataFrame(columns=list(REJECTED_COLUMNS)),  # no need to build a lazy listing
        choices=choices,
        notes=[*sub.report.notes, note],
    )
    return Incidents(sub.frame, sub.crs, area, report)


# --------------------------------------------------------------------------------------------
# Scale and trend


def monthly_counts(incidents: Incidents, data_months: Sequence[Any] | None = None) -> pd.DataFrame:
    """Incidents per month over the data period, missing months marked.

    Parameters
    ----------
    incidents : Incidents
        The incidents counted (violence).
    data_months : sequence of month starts, optional
        The months the input holds rows of any type in (for instance every month of the files
        read with every crime type). The period then runs from the first to the last of these
        or of the incidents' months, and a month among them without an incident counts 0;
        a month in neither is missing. Default: the incidents' own months
        (:attr:`~hotspots.incidents.Incidents.months` and ``missing_months``).

    Returns
    -------
    pandas.DataFrame
        ``month`` ("YYYY-MM"), ``incidents`` (float; NaN for a month missing from the input)
        and ``missing`` (bool).

    Examples
    --------
    >>> inc = Incidents.from_xy(
    ...     [0.0, 1, 2], [0.0, 1, 2], month=["2024-01-01", "2024-01-01", "2024-03-01"]
    ... )
    >>> monthly_counts(inc)["incidents"].tolist()
    [2.0, 0.0, 1.0]
    >>> monthly_counts(inc, ["2024-01-01", "2024-03-01", "2024-04-01"])["incidents"].tolist()
    [2.0, nan, 1.0, 0.0]
    """
    observed = incidents.months
    missing = incidents.missing_months
    span = observed.union(missing).sort_values()
    if data_months is not None and len(data_months):
        with_rows = pd.DatetimeIndex(incidents.frame["month"].dropna().unique())
        known = pd.DatetimeIndex(pd.to_datetime(list(data_months))).union(with_rows)
        first = min(span.min(), known.min()) if len(span) else known.min()
        last = max(span.max(), known.max()) if len(span) else known.max()
        span = pd.date_range(first, last, freq="MS")
        missing = span[~span.isin(known)]
    counts = incidents.frame["month"].dropna().value_counts()
    values = [math.nan if m in missing else float(counts.get(m, 0)) for m in span]
    return pd.DataFrame(
        {
            "month": [f"{m:%Y-%m}" for m in span],
            "incidents": np.asarray(values, dtype=float),
            "missing": np.asarray(span.isin(missing), dtype=bool),
        }
    )


def _data_months(incidents: Incidents) -> list[pd.Timestamp]:
    """Months in which ``incidents`` (every type) hold a row and the input recorded rows."""
    months = set(incidents.frame["month"].dropna().unique())
    seen = incidents.report.choices.get("months_in_input")
    if seen is not None:
        months &= set(pd.to_datetime(list(seen), format="%Y-%m"))
    return sorted(pd.Timestamp(m) for m in months)


def _missing_note(monthly: pd.DataFrame) -> str:
    """One sentence naming the months missing from the data ("" when none)."""
    missing = monthly.loc[monthly["missing"], "month"].tolist()
    if not missing:
        return ""
    shown = ", ".join(missing[:12]) + (", ..." if len(missing) > 12 else "")
    return (
        f"{len(missing)} month(s) between the first and last month of the data have no row of "
        f"any kind in the input ({shown}): they are missing data, shown as missing and left out "
        "of the trend, not counted as months without violence."
    )


def violence_trend(monthly: pd.DataFrame, *, alpha: float = 0.05) -> dict[str, Any]:
    """Mean per observed month in the first and second halves, and the Mann-Kendall trend.

    Parameters
    ----------
    monthly : pandas.DataFrame
        From :func:`monthly_counts`; missing months are left out.
    alpha : float, default 0.05
        Significance level of the Mann-Kendall test.

    Returns
    -------
    dict
        ``n_months`` (observed), ``first_half_mean`` and ``second_half_mean`` (incidents per
        month over the first and last ``n // 2`` observed months; an odd middle month is in
        neither), ``change`` (second over first, minus 1; NaN when the first is 0 or fewer than
        two months), ``mk_tau``, ``mk_p`` and ``direction`` ("rising", "falling" or "no
        significant trend" at ``alpha``; "too few months" under 4).

    Examples
    --------
    >>> m = pd.DataFrame({"incidents": [10.0, 10, np.nan, 12, 14], "missing": [0, 0, 1, 0, 0]})
    >>> t = violence_trend(m)
    >>> t["first_half_mean"], t["second_half_mean"], round(t["change"], 2)
    (10.0, 13.0, 0.3)
    """
    from hotspots.stats import mann_kendall

    c = monthly.loc[~monthly["missing"].astype(bool), "incidents"].to_numpy(dtype=float)
    n = len(c)
    half = n // 2
    first = float(c[:half].mean()) if half else math.nan
    second = float(c[n - half :].mean()) if half else math.nan
    change = second / first - 1 if half and first > 0 else math.nan
    out: dict[str, Any] = {
        "n_months": n,
        "first_half_mean": first,
        "second_half_mean": second,
        "change": change,
        "mk_tau": math.nan,
        "mk_p": math.nan,
        "direction": "too few months",
    }
    if n >= 4:
        mk = mann_kendall(c)
        out["mk_tau"] = float(mk.tau)
        out["mk_p"] = float(mk.p_value)
        if mk.p_value < alpha:
            out["direction"] = "rising" if mk.tau > 0 else "falling"
        else:
            out["direction"] = "no significant trend"
    return out


# --------------------------------------------------------------------------------------------
# Concentration


def _top_share(counts: np.ndarray, n_places: float, shares: Sequence[float]) -> list[float]:
    """Incidents on the top ``share`` of ``n_places`` places, ``counts`` sorted descending; a
    fractional last place is credited that fraction of its incidents."""
    cum = np.r_[0.0, np.cumsum(counts, dtype=float)]
    return [float(np.interp(s * n_places, np.arange(len(cum)), cum)) for s in shares]


def concentration(
    incidents: Incidents,
    *,
    places_xy: np.ndarray | None = None,
    shares: Sequence[float] = CONCENTRATION_SHARES,
    cell_size: float = constants.MICRO_PLACE_M,
) -> pd.DataFrame:
    """The share of incidents on the top 1, 2 and 5 % of places.

    Parameters
    ----------
    incidents : Incidents
        The incidents counted (violence).
    places_xy : array of shape (n, 2), optional
        Coordinates of every incident of any type (metres, analysis CRS): their distinct points
        are the map points counted as places, those without an incident in ``incidents``
        counting with none. Default: the points of ``incidents`` only.
    shares : sequence of float, default (0.01, 0.02, 0.05)
        Top shares of places.
    cell_size : float, default 150
        Side of the grid cells, metres (the guide's 150 m patrol unit); the cells are squares
        of the analysis CRS with corners at multiples of ``cell_size``.

    Returns
    -------
    pandas.DataFrame
        One row per unit and share: ``unit`` ("map points" or "150 m cells"), ``places`` (map
        points: distinct points; cells: the study area over one cell's area, so the top 1 % of
        cells cover 1 % of the study area), ``top`` (the share), ``top_places`` (``top *
        places``, may be fractional), ``incidents`` (on them), ``share`` (of all incidents).

    Notes
    -----
    Places are sorted by their incidents, most first; the top ``k`` places hold the sum of the
    first ``k``, and a fractional ``k`` is credited that fraction of the next place (the
    expectation for a place drawn at random among equals). Ties therefore never matter.

    Examples
    --------
    >>> x = np.r_[np.zeros(3), 1000.0, 2000.0]
    >>> inc = Incidents.from_xy(x, np.zeros(5))
    >>> t = concentration(inc, shares=[0.5])  # 3 map points; 1.5 places hold 3 + 0.5 x 1
    >>> t.loc[t["unit"] == "map points", "share"].tolist()
    [0.7]
    """
    n = len(incidents)
    xy = incidents.xy
    rows = []
    _, point_counts = unique_points(xy, return_counts=True) if n else (None, np.empty(0, int))
    n_points = float(len(point_counts))
    if places_xy is not None and len(places_xy):
        n_points = float(len(unique_points(np.vstack([places_xy, xy]))))
    cells = np.floor(xy / cell_size).astype(np.int64) if n else np.empty((0, 2), np.int64)
    _, cell_counts = np.unique(cells, axis=0, return_counts=True)
    n_cells = incidents.study_area_m2 / cell_size**2
    for unit, counts, places in (
        (PLACE_UNITS[0], point_counts, n_points),
        (f"{cell_size:g} m cells", cell_counts, n_cells),
    ):
        ordered = np.sort(np.asarray(counts, dtype=float))[::-1]
        for s, hits in zip(shares, _top_share(ordered, places, shares), strict=True):
            rows.append(
                {
                    "unit": unit,
                    "places": places,
                    "top": float(s),
                    "top_places": float(s) * places,
                    "incidents": hits,
                    "share": hits / n if n else math.nan,
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# The profile


@dataclass(frozen=True, eq=False)
class ForceProfile:
    """One force's (or one data set's) problem profile; built by :func:`problem_profile`.

    Attributes
    ----------
    name : str
        The force ("" when the files name none).
    violence : Incidents
        The violent incidents profiled.
    types : mapping
        Crime type -> incidents counted as violence.
    monthly : pandas.DataFrame
        :func:`monthly_counts`.
    trend : mapping
        :func:`violence_trend`.
    concentration : pandas.DataFrame
        :func:`concentration`.
    result : HotspotResult or None
        The ranked hot spots (None when detection failed: see ``notes``).
    places : pandas.DataFrame
        The top places shown: ranked hot spots (significant ones, or all when none is), without
        geometry.
    other_crime : pandas.DataFrame or None
        Per top place: ``hotspot_id``, ``violence``, ``asb``, ``other_crime``, ``other_types``
        (most frequent other types), and a last row ``hotspot_id="whole force"``; None when the
        input holds no other crime type.
    emerging : pandas.DataFrame or None
        Hot spot categories of the change-over-time classification with ``cells``; None when it
        could not run (``emerging_note`` says why).
    emerging_areas : pandas.DataFrame or None
        Its areas in the categories shown: ``category``, ``incidents``, ``top_location``,
        ``n_cells``.
    emerging_note : str
    change : pandas.DataFrame or None
        The cells that rose or fell between the earlier and later half of the months
        (:func:`hotspots.change.compare_periods`; at most 10 of each, most significant first):
        ``cell_id``, ``change_class``, ``before``, ``after``, ``q_value``, ``top_location``;
        None when there are no two periods (``change_note`` says why).
    change_note : str
    evaluation : pandas.DataFrame or None
        The hold-out readings shown (``forecast``, ``label``, ``n_origins``, ``hit_rate``,
        ``pai``, ``pei``); None when it could not run (``evaluation_note``).
    evaluation_note : str
    recommendations : mapping
        ``hotspot_id`` -> :class:`~hotspots.tactics.Recommendation` for the top places.
    choices : Choices
        Every choice, by section (``ingest``, ``detection``, ``classification``,
        ``evaluation``, ``profile``), and the notes.
    """

    name: str
    violence: Incidents
    types: Mapping[str, int]
    monthly: pd.DataFrame
    trend: Mapping[str, Any]
    concentration: pd.DataFrame
    result: HotspotResult | None
    places: pd.DataFrame
    other_crime: pd.DataFrame | None
    emerging: pd.DataFrame | None
    emerging_areas: pd.DataFrame | None
    emerging_note: str
    evaluation: pd.DataFrame | None
    evaluation_note: str
    recommendations: Mapping[str, Recommendation]
    choices: Choices
    change: pd.DataFrame | None = None
    change_note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", freeze(dict(self.types)))
        object.__setattr__(self, "trend", freeze(dict(self.trend)))
        object.__setattr__(self, "recommendations", FrozenDict(dict(self.recommendations)))

    @property
    def n_hotspots(self) -> int:
        """Hot spots that passed the significance test (0 without a detection)."""
        if self.result is None or not len(self.result.hotspots):
            return 0
        return int(self.result.hotspots["significant"].astype(bool).sum())

    def summary(self) -> dict[str, Any]:
        """One row of the national table: ``force``, ``incidents``, ``first_month``,
        ``last_month``, ``months_observed``, ``months_missing``, ``per_month`` (mean per observed
        month), ``change`` (second half over first, minus 1), ``direction``, the share on the top
        1/2/5 % of map points and of 150 m cells (``points_1pct`` ... ``cells_5pct``) and
        ``hotspots`` (significant)."""
        m = self.monthly
        observed = m.loc[~m["missing"], "incidents"]
        row: dict[str, Any] = {
            "force": self.name or "All data",
            "incidents": len(self.violence),
            "first_month": m["month"].iloc[0] if len(m) else "",
            "last_month": m["month"].iloc[-1] if len(m) else "",
            "months_observed": len(observed),
            "months_missing": int(m["missing"].sum()),
            "per_month": float(observed.mean()) if len(observed) else math.nan,
            "change": self.trend["change"],
            "direction": self.trend["direction"],
        }
        for r in self.concentration.itertuples(index=False):
            kind = "points" if r.unit == PLACE_UNITS[0] else "cells"
            row[f"{kind}_{round(100 * r.top)}pct"] = r.share
        row["hotspots"] = self.n_hotspots
        return row


@dataclass(frozen=True, eq=False)
class ProblemProfile:
    """What :func:`problem_profile` returns: one :class:`ForceProfile` per force, side by side.

    Attributes
    ----------
    forces : tuple of ForceProfile
    choices : Choices
        The profile's own settings (violence types, place units, method, staffing ...).
    synthetic : bool
        The data are the bundled synthetic demo.
    """

    forces: tuple[ForceProfile, ...]
    choices: Choices = field(default_factory=Choices)
    synthetic: bool = False

    @property
    def national(self) -> pd.DataFrame:
        """One row per force (:meth:`ForceProfile.summary`)."""
        return pd.DataFrame([f.summary() for f in self.forces])


def problem_profile(
    incidents: Incidents | Mapping[str, Incidents | ForceFiles],
    *,
    crime_types: Any = "default",
    method: str = "kde",
    top: int = 10,
    staffing: str = "dedicated_pairs",
    evaluate: bool = True,
    classify: bool = True,
    by_force: bool = True,
    jobs: int | None = 1,
    progress: Progress | None = None,
) -> ProblemProfile:
    """Build the problem profile of violence, one section per force.

    Parameters
    ----------
    incidents : Incidents or mapping
        Read with every crime type (``crime_types="all"``), so that other crime and anti-social
        behaviour around the top places can be counted; incidents read with violence only give
        a profile without that section. A mapping force name -> Incidents (each force read on
        its own, :func:`hotspots.workflows.read_forces`) or :class:`ForceFiles`
        (:func:`read_by_force`: made into the force's incidents where it is profiled) is
        profiled as given.
    crime_types : "default", "all" or list of str, default "default"
        What counts as violence (:func:`hotspots.ingest.filter_incidents`); "default" is police.uk
        "Violence and sexual offences", "Robbery" and "Possession of weapons" (or the violence
        keywords of other taxonomies).
    method : str, default "kde"
        The detector (:data:`hotspots.detect.METHODS`) whose hot spots are ranked and whose
        hold-out evidence is shown.
    top : int, default 10
        Places listed per force.
    staffing : str, default "dedicated_pairs"
        Staffing model of the recommended tactics (:data:`hotspots.tactics.STAFFING_MODELS`).
    evaluate, classify : bool, default True
        Run the hold-out evaluation and the change-over-time classification (each costs a few
        detector fits per force).
    by_force : bool, default True
        Split several forces' files (:func:`split_by_force`) when ``incidents`` is one set.
    jobs : int or None, default 1
        Processes profiling several forces side by side (None: one per CPU this process may
        use); each force's profile is the same as made alone, and the forces stay in name order.
    progress : callable, optional
        With one force, told ``"detecting"``, ``"ranking"``, ``"classifying"`` and
        ``"evaluating"``; with several, ``"profiling forces"`` (force i of n).

    Returns
    -------
    ProblemProfile

    Raises
    ------
    ParameterError
        ``top`` under 1, an unknown method or staffing model, or no violence in the data.
    """
    from hotspots.tactics import STAFFING_MODELS
    from hotspots.workflows import check_methods

    check_methods([method])
    if staffing not in STAFFING_MODELS:
        msg = f"staffing must be one of {', '.join(STAFFING_MODELS)}, got {staffing!r}."
        raise ParameterError(msg)
    if not isinstance(top, int | np.integer) or top < 1:
        msg = f"top must be a whole number of at least 1, got {top!r}."
        raise ParameterError(msg)
    if jobs is not None and (not isinstance(jobs, int | np.integer) or jobs < 1):
        msg = f"jobs must be a whole number of at least 1 (or None: one per CPU), got {jobs!r}."
        raise ParameterError(msg)
    groups: dict[str, Incidents | ForceFiles] = (
        dict(incidents)
        if isinstance(incidents, Mapping)
        else dict(split_by_force(incidents) if by_force else {"": incidents})
    )
    settings = {
        "crime_types": crime_types,
        "method": method,
        "top": int(top),
        "staffing": staffing,
        "evaluate": evaluate,
        "classify": classify,
    }
    forces = _force_profiles(groups, settings, _cpus() if jobs is None else int(jobs), progress)
    if not any(len(f.violence) for f in forces):
        msg = "the data hold no violence of the chosen crime types; nothing to profile."
        raise ParameterError(msg)
    params = {
        **settings,
        "forces": [f.name for f in forces],
        "violence_types": sorted({t for f in forces for t in f.types}),
        "concentration_shares": list(CONCENTRATION_SHARES),
        "place_units": {
            "map points": "distinct points incidents of any type were recorded at (police.uk "
            "snaps each crime to one of a fixed set of anonymous map points); a point with only "
            "other crime counts as a place with no violence",
            "150 m cells": "squares of 150 m (2.25 ha, the guide's patrol unit) on the analysis "
            "CRS's grid; as many cells as make up the study area",
        },
        "trend": "mean per observed month, last half against first half; Mann-Kendall test of "
        "the monthly counts at 0.05 (missing months left out)",
    }
    notes = [VIOLENCE_CAVEAT] if VIOLENCE_CATEGORY in params["violence_types"] else []
    notes.append(
        "Concentration is measured on map points and on 150 m cells; the top 1 % of cells "
        "cover 1 % of the study area."
    )
    synthetic = any(f.violence.report.synthetic for f in forces)
    return ProblemProfile(forces, Choices(params, notes), synthetic=synthetic)


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def _force_profiles(
    groups: Mapping[str, Incidents | ForceFiles],
    settings: Mapping[str, Any],
    jobs: int,
    progress: Progress | None,
) -> tuple[ForceProfile, ...]:
    """Every force's profile, in the order of ``groups``: one force reports its own steps;
    several report ``"profiling forces"`` and run in ``jobs`` processes when more than one."""
    names = list(groups)
    if len(names) == 1:
        return (_force_profile(names[0], groups[names[0]], settings, progress),)
    done: dict[str, ForceProfile] = {}
    with progress_step(progress, PROFILING, len(names)) as advance:
        if jobs <= 1:
            for name in names:
                done[name] = _force_profile(name, groups[name], settings, None)
                advance()
        else:
            _in_processes(groups, settings, min(jobs, len(names)), done, advance)
    return tuple(done[name] for name in names)


def _in_processes(
    groups: Mapping[str, Incidents | ForceFiles],
    settings: Mapping[str, Any],
    jobs: int,
    done: dict[str, ForceProfile],
    advance: Any,
) -> None:
    """Profile the forces in ``jobs`` worker processes, the largest first (the last to finish
    is then a small one); their warnings are given again here, force by force, in name order.

    joblib's loky workers are fresh interpreters that do not run the caller's main script again
    (a script need not guard itself with ``if __name__ == "__main__"``), and arrays are copied to
    them (``max_nbytes=None``), never shared read-only.
    """
    from joblib import Parallel, delayed

    largest_first = sorted(groups, key=lambda name: -len(groups[name]))
    caught: dict[str, list[warnings.WarningMessage]] = {}
    run = Parallel(n_jobs=jobs, backend="loky", max_nbytes=None, return_as="generator_unordered")
    for name, profile, warned in run(
        delayed(_force_profile_caught)(name, groups[name], settings) for name in largest_first
    ):
        done[name], caught[name] = profile, warned
        advance()
    for name in groups:
        for w in caught[name]:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _force_profile_caught(
    name: str, incidents: Incidents | ForceFiles, settings: Mapping[str, Any]
) -> tuple[str, ForceProfile, list[warnings.WarningMessage]]:
    """:func:`_force_profile` in a worker process, with the warnings it gave (the force's files
    made into its incidents there)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile = _force_profile(name, incidents, settings, None)
    return name, profile, [_picklable(w) for w in caught]


def _picklable(w: warnings.WarningMessage) -> warnings.WarningMessage:
    """``w`` without its source object and line text (not always picklable)."""
    return warnings.WarningMessage(w.message, w.category, w.filename, w.lineno)


def _violence(incidents: Incidents, crime_types: Any) -> Incidents:
    """The incidents of the types counted as violence (none, rather than an error, for a force
    whose files hold no such type)."""
    from hotspots.ingest import filter_incidents

    try:
        return filter_incidents(incidents, crime_types=crime_types)
    except HotspotsError:
        none = np.zeros(len(incidents), dtype=bool)
        return incidents.subset(none, note="No incident of the crime types counted as violence.")


def _force_profile(
    name: str,
    incidents: Incidents | ForceFiles,
    settings: Mapping[str, Any],
    progress: Progress | None,
) -> ForceProfile:
    """One force's profile; sections that cannot run say why in their notes."""
    if isinstance(incidents, ForceFiles):
        incidents = incidents.incidents()
    violence = _violence(incidents, settings["crime_types"])
    monthly = monthly_counts(violence, _data_months(incidents))
    others = _others(incidents, violence)
    conc = concentration(violence, places_xy=incidents.xy if len(others) else None)
    result, detection_note = _detect(violence, settings["method"], progress)
    places = _top_places(result, int(settings["top"]))
    recs = _recommend(places, result, violence, settings["staffing"])
    emerging, areas, em_note, em_choices = _emerging(violence, settings["classify"], progress)
    change, change_note, change_choices = _two_periods(violence, settings["classify"])
    evaluation, ev_note, ev_choices = _evaluation(
        violence, settings["method"], settings["evaluate"], progress
    )
    own = Choices(
        {"force": name, "violence_rows": len(violence), "other_rows": len(others)},
        [detection_note] if detection_note else [],
    )
    sections = {"ingest": choices_of(violence), "profile": own}
    if result is not None:
        sections["detection"] = choices_of(result)
    if em_choices is not None:
        sections["classification"] = em_choices
    if change_choices is not None:
        sections["change"] = change_choices
    if ev_choices is not None:
        sections["evaluation"] = ev_choices
    types = violence.frame["crime_type"].value_counts()
    return ForceProfile(
        name=name,
        violence=violence,
        types={str(k): int(v) for k, v in types.items()},
        monthly=monthly,
        trend=violence_trend(monthly),
        concentration=conc,
        result=result,
        places=places,
        other_crime=_other_crime(places, result, violence, others) if len(others) else None,
        emerging=emerging,
        emerging_areas=areas,
        emerging_note=em_note,
        evaluation=evaluation,
        evaluation_note=ev_note,
        recommendations=recs,
        choices=Choices().merged(**sections),
        change=change,
        change_note=change_note,
    )


def _others(incidents: Incidents, violence: Incidents) -> Incidents:
    """The incidents of every type not counted as violence."""
    kinds = set(violence.frame["crime_type"].astype(str))
    return incidents.subset(~incidents.frame["crime_type"].astype(str).isin(kinds).to_numpy())


def _detect(
    violence: Incidents, method: str, progress: Progress | None
) -> tuple[HotspotResult | None, str]:
    from hotspots.workflows import detect_hotspots

    if not len(violence):
        return None, "No violence: no hot spot detection."
    try:
        return detect_hotspots(violence, method, progress=progress), ""
    except HotspotsError as exc:
        return None, f"Hot spot detection did not run: {exc}"


def _top_places(result: HotspotResult | None, top: int) -> pd.DataFrame:
    if result is None or not len(result.hotspots):
        return pd.DataFrame()
    hot = result.hotspots
    sig = hot[hot["significant"].astype(bool)]
    chosen = sig if len(sig) else hot
    return pd.DataFrame(chosen.drop(columns="geometry")).head(top).reset_index(drop=True)


def _recommend(
    places: pd.DataFrame,
    result: HotspotResult | None,
    violence: Incidents,
    staffing: str,
) -> dict[str, Recommendation]:
    from hotspots.tactics import recommend

    if result is None or places.empty:
        return {}
    total_harm = float(violence.weights.sum()) if violence.has_weights else None
    n = len(result.hotspots)
    return {
        str(r["hotspot_id"]): recommend(
            r, staffing, level="hotspot", n_hotspots=n, total_harm=total_harm
        )
        for _, r in places.iterrows()
    }


def _other_crime(
    places: pd.DataFrame, result: HotspotResult | None, violence: Incidents, others: Incidents
) -> pd.DataFrame | None:
    """Other crime and anti-social behaviour inside each top place, and in the whole force."""
    from hotspots.profile import assign_incidents

    if result is None or places.empty:
        return None
    hot = result.hotspots.set_index("hotspot_id")
    geoms = hot.loc[places["hotspot_id"], "geometry"].to_numpy()
    inc_idx, poly_idx = assign_incidents(geoms, others)
    kinds = others.frame["crime_type"].astype(str).to_numpy()
    rows = []
    for i, r in places.iterrows():
        mine = pd.Series(kinds[inc_idx[poly_idx == i]])
        rows.append(_other_row(str(r["hotspot_id"]), int(r["incidents"]), mine))
    rows.append(_other_row("whole force", len(violence), pd.Series(kinds)))
    return pd.DataFrame(rows)


def _other_row(place: str, violence: int, kinds: pd.Series) -> dict[str, Any]:
    asb = int((kinds == ASB_TYPE).sum())
    other = kinds[kinds != ASB_TYPE]
    top = other.value_counts().head(3)
    return {
        "hotspot_id": place,
        "violence": violence,
        "asb": asb,
        "other_crime": len(other),
        "per_violence": (asb + len(other)) / violence if violence else math.nan,
        "other_types": "; ".join(f"{k} ({int(v)})" for k, v in top.items()),
    }


def _emerging(
    violence: Incidents, run: bool, progress: Progress | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str, Choices | None]:
    from hotspots.workflows import classify_over_time

    if not run:
        return None, None, "Change over time was not run (classify=False).", None
    try:
        res = classify_over_time(violence, progress=progress)
    except TooFewPeriodsError as exc:
        return None, None, f"Persistent and emerging places cannot be classed: {exc}", None
    except HotspotsError as exc:
        return None, None, f"Change over time did not run: {exc}", None
    counts = res.params["category_counts"]  # cells of each class but "no pattern"
    table = pd.DataFrame(
        {
            "category": list(_EMERGING_SHOWN),
            "cells": [int(counts.get(c, 0)) for c in _EMERGING_SHOWN],
        }
    )
    areas = pd.DataFrame(res.areas.drop(columns="geometry"))
    if len(areas):
        areas = areas[areas["category"].isin(_EMERGING_SHOWN)]
        order = {c: i for i, c in enumerate(_EMERGING_SHOWN)}
        areas = areas.assign(_o=areas["category"].map(order)).sort_values(
            ["_o", "incidents"], ascending=[True, False]
        )
        areas = areas.drop(columns="_o").groupby("category", sort=False).head(5)
    n_periods = res.params.get("n_periods")
    note = f"Classified over {n_periods} periods." if n_periods else ""
    return table, areas.reset_index(drop=True), note, choices_of(res)


def _two_periods(violence: Incidents, run: bool) -> tuple[pd.DataFrame | None, str, Any]:
    """(cells that rose or fell, note, choices) between the halves of the months with data."""
    from hotspots.change import compare_periods

    if not run:
        return None, "Change between two periods was not run (classify=False).", None
    try:
        res = compare_periods(violence)
    except HotspotsError as exc:
        return None, f"No change between two periods to show: {exc}", None
    cells = pd.DataFrame(res.cells.drop(columns="geometry"))
    cells = cells[cells["change_class"] != "no clear change"]
    cells = cells.groupby("change_class", sort=False).head(10)
    columns = ["cell_id", "change_class", "before", "after", "q_value", "top_location"]
    return cells[columns].reset_index(drop=True), " ".join(res.notes), choices_of(res)


def _evaluation(
    violence: Incidents, method: str, run: bool, progress: Progress | None
) -> tuple[pd.DataFrame | None, str, Choices | None]:
    from hotspots.evaluate import BASELINES, FORECAST_LABELS, PATROL
    from hotspots.workflows import evaluate_forecasts

    if not run:
        return None, "The hold-out evaluation was not run (evaluate=False).", None
    try:
        res = evaluate_forecasts(violence, methods=(method,), progress=progress)
    except HotspotsError as exc:
        return None, f"The hold-out evaluation did not run: {exc}", None
    s = res.summary
    mine = s[(s["forecast"] == method) & s["label"].isin(_EVAL_COVERAGES)]
    patrol = s[(s["forecast"] == PATROL) & s["label"].eq(_EVAL_DISCS)]
    # patrol areas fewer than 20 at every origin: all of them, and the baselines at as many discs
    label = _EVAL_DISCS if len(patrol) and patrol["n_origins"].iloc[0] > 0 else "all"
    discs = s[s["forecast"].isin([PATROL, *BASELINES]) & s["label"].eq(label)]
    table = pd.concat([mine, discs], ignore_index=True)
    table.insert(1, "name", table["forecast"].map(lambda f: FORECAST_LABELS.get(f, f)))
    cols = ["forecast", "name", "unit", "label", "n_origins", "hit_rate", "pai", "pei"]
    note = (
        f"Tested on {len(res.origins)} month(s) ({', '.join(res.origins)}), each forecast from "
        "every month before it."
    )
    return table[cols].reset_index(drop=True), note, Choices(res.params, res.notes)


# --------------------------------------------------------------------------------------------
# The report


def _pct(v: Any, digits: int = 1) -> str:
    """A share (0-1) as a percentage with a space before the sign ("12.5 %")."""
    return format_value(None if v is None else 100 * float(v), f".{digits}f") + (
        " %" if v is not None and not (isinstance(v, float) and math.isnan(v)) else ""
    )


def _signed_pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * float(v):+.0f} %"


@functools.cache
def _environment() -> jinja2.Environment:
    """The profile's templates (:func:`hotspots.offline.report_environment`)."""
    return report_environment({"pct": _pct, "signed_pct": _signed_pct})


def _month_chart(monthly: pd.DataFrame, width: int = 640, height: int = 130) -> dict[str, Any]:
    """Bars for observed months, a grey marker for missing ones, labels every few months."""
    n = len(monthly)
    if not n:
        return {"bars": []}
    values = monthly["incidents"].to_numpy(dtype=float)
    top = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)
    plot_h = height - 24
    bw = width / n
    step = max(1, math.ceil(n / 12))
    bars = []
    for i, (month, v, missing) in enumerate(monthly.itertuples(index=False)):
        h = 0.0 if missing else plot_h * float(v) / top
        bars.append(
            {
                "x": i * bw + 0.5,
                "y": 10 + plot_h - h,
                "w": max(bw - 1, 0.5),
                "h": h,
                "missing": bool(missing),
                "title": f"{month}: {'missing from the data' if missing else int(v)}",
                "label": month if i % step == 0 else "",
            }
        )
    return {"bars": bars, "width": width, "height": height, "top": int(top), "base": 10 + plot_h}


def _hour_chart(counts: Any, width: int = 168, height: int = 34) -> dict[str, Any] | None:
    if counts is None or (isinstance(counts, float) and math.isnan(counts)):
        return None
    c = np.asarray(list(counts), dtype=float)
    if not len(c) or c.sum() == 0:
        return None
    top = c.max()
    bw = width / len(c)
    bars = [
        {"x": i * bw, "y": height - 10 - (height - 12) * v / top, "w": bw - 0.5,
         "h": (height - 12) * v / top, "title": f"{i:02d}:00 {int(v)}"}
        for i, v in enumerate(c)
    ]  # fmt: skip
    return {"bars": bars, "width": width, "height": height}


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _place_data(r: pd.Series) -> dict[str, Any]:
    weekdays = r.get("weekday_counts")
    has_time = bool(r.get("has_time"))
    days = ""
    if has_time and weekdays is not None and not isinstance(weekdays, float):
        days = ", ".join(f"{d} {int(v)}" for d, v in zip(_WEEKDAYS, weekdays, strict=False))
    return {
        "id": r["hotspot_id"],
        "rank": r["rank"],
        "location": r.get("top_location") or "unnamed place",
        "incidents": r["incidents"],
        "share": r.get("share"),
        "area_ha": r.get("area_ha"),
        "pai": r.get("pai"),
        "significant": bool(r.get("significant")),
        "months": f"{r.get('months_active')} of {r.get('n_months')}",
        "trend": r.get("trend", ""),
        "temporal_class": r.get("temporal_class", ""),
        "peak": r.get("peak_window") or "",
        "has_time": has_time,
        "night_share": r.get("night_share") if has_time else None,
        "hours": _hour_chart(r.get("hour_counts")) if has_time else None,
        "days": days,
        "place_flag": str(r.get("unpatrollable_reason", "") or ""),
        "lat": r.get("centroid_lat"),
        "lon": r.get("centroid_lon"),
    }


def _tactic_data(m: Any) -> dict[str, Any]:
    from hotspots.safeguards import tactic_safeguards

    t = m.tactic
    return {
        "id": t.id,
        "name": t.name,
        "strength": t.evidence["strength"],
        "step": t.step,
        "reason": m.reason,
        "evidence": t.evidence["summary"],
        "legitimacy_review": t.legitimacy_review,
        "sources": [s.key for s in t.sources],
        **tactic_safeguards(t.id),
    }


def _recommendation_data(hid: str, rec: Recommendation) -> dict[str, Any]:
    return {
        "place": hid,
        "primary": _tactic_data(rec.primary),
        "companions": [_tactic_data(m) for m in rec.companions],
        "cautions": [f"{m.tactic.id} {m.tactic.name}" for m in rec.cautions],
        "dose": rec.dose.text,
    }


def _choice_rows(choices: Choices) -> list[dict[str, Any]]:
    """Each section's parameters as (section, key, value-as-text) rows."""
    import json

    rows = []
    for key, value in choices.params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append({"key": key, "value": text})
    return rows


def _svg_path(geom: Any, tx: Any) -> str:
    """An SVG path of a polygon or multipolygon (holes kept), through ``tx(x, y)``."""
    import shapely

    parts = []
    for poly in shapely.get_parts(geom):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            pts = [tx(x, y) for x, y in ring.coords]
            parts.append("M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in pts) + " Z")
    return " ".join(parts)


def _scale_bar(span_m: float) -> float:
    """A round length (metres) about a quarter of ``span_m``: 1, 2 or 5 times a power of 10.

    Examples
    --------
    >>> _scale_bar(10_000), _scale_bar(3_000), _scale_bar(900)
    (2000.0, 500.0, 200.0)
    """
    target = max(span_m / 4, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def _overview_map(f: ForceProfile, size: int = 440) -> dict[str, Any] | None:
    """The study area's outline with every significant hot spot, the top places numbered by rank
    (framed on those hot spots)."""
    area = f.violence.study_area
    if f.result is None or f.places.empty or area.is_empty:
        return None
    hot = f.result.hotspots
    top = set(f.places["hotspot_id"].astype(str))
    shown = hot[hot["significant"].astype(bool) | hot["hotspot_id"].astype(str).isin(top)]
    # framed on the hot spots shown (a quarter of their extent around them, at least 2 km
    # across), within the study area's extent: far-flung parts of a force's data stay off
    minx, miny, maxx, maxy = shown.total_bounds
    span = max(maxx - minx, maxy - miny) * 1.5
    span = min(max(span, 2000.0), max(np.ptp(np.reshape(area.bounds, (2, 2)), axis=0)))
    span = max(span, 1.0)
    x0 = (minx + maxx - span) / 2
    y0 = (miny + maxy - span) / 2
    s = (size - 20) / span

    def tx(x: float, y: float) -> tuple[float, float]:
        return 10 + (x - x0) * s, 10 + (y0 + span - y) * s

    spots = []
    for _, r in shown.iterrows():
        point = r.geometry.representative_point()
        lx, ly = tx(point.x, point.y)
        is_top = str(r["hotspot_id"]) in top
        spots.append(
            {
                "path": _svg_path(r.geometry, tx),
                "top": is_top,
                "label": str(r["rank"]) if is_top else "",
                "x": lx,
                "y": ly,
                "title": f"{r['hotspot_id']} (rank {r['rank']}): {r['incidents']} incidents",
            }
        )
    bar = _scale_bar(span)
    return {
        "size": size,
        "outline": _svg_path(
            shapely.clip_by_rect(area, x0, y0, x0 + span, y0 + span).simplify(span / 500), tx
        ),
        "spots": spots,
        "bar_px": bar * s,
        "bar_label": f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m",
    }


def _concentration_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per kind of place, the top shares side by side."""
    rows = []
    for unit, part in table.groupby("unit", sort=False):
        rows.append(
            {
                "unit": unit,
                "places": float(part["places"].iloc[0]),
                "cells": [
                    {"share": r.share, "top_places": r.top_places, "incidents": r.incidents}
                    for r in part.itertuples(index=False)
                ],
            }
        )
    return rows


def _force_data(f: ForceProfile, index: int) -> dict[str, Any]:
    from hotspots.tactics import load_knowledge_base

    kb = load_knowledge_base()
    staffing = {r.staffing for r in f.recommendations.values()}
    programme: dict[str, Any] = {}
    for rec in f.recommendations.values():
        for m in rec.programme:
            programme.setdefault(m.tactic.id, f"{m.tactic.id} {m.tactic.name}")
    return {
        "anchor": f"force-{index}",
        "name": f.name or "All data",
        "summary": f.summary(),
        "types": list(f.types.items()),
        "vso": VIOLENCE_CATEGORY in f.types,
        "monthly": f.monthly.to_dict("records"),
        "chart": _month_chart(f.monthly),
        "trend": dict(f.trend),
        "missing_note": _missing_note(f.monthly),
        "concentration": _concentration_rows(f.concentration),
        "shares": sorted(set(f.concentration["top"])),
        "map": _overview_map(f),
        "places": [_place_data(r) for _, r in f.places.iterrows()],
        "has_time": f.violence.has_time,
        "other_crime": None if f.other_crime is None else f.other_crime.to_dict("records"),
        "emerging": None if f.emerging is None else f.emerging.to_dict("records"),
        "emerging_areas": [] if f.emerging_areas is None else f.emerging_areas.to_dict("records"),
        "emerging_note": f.emerging_note,
        "change": None if f.change is None else f.change.to_dict("records"),
        "change_note": f.change_note,
        "evaluation": None if f.evaluation is None else f.evaluation.to_dict("records"),
        "evaluation_note": f.evaluation_note,
        "recommendations": [_recommendation_data(k, r) for k, r in f.recommendations.items()],
        "staffing": ", ".join(
            str(kb.staffing_models.get(s, {}).get("label", s)) for s in sorted(staffing)
        ),
        "programme": list(programme.values()),
        "choices": {
            key: _choice_rows(Choices(value if isinstance(value, Mapping) else {key: value}))
            for key, value in f.choices.params.items()
        },
        "notes": list(f.choices.notes),
        "n_hotspots": f.n_hotspots,
        "n_found": 0 if f.result is None else len(f.result.hotspots),
    }


def render_problem_profile(
    profile: ProblemProfile, *, title: str = "Serious violence: problem profile"
) -> str:
    """The problem profile as one self-contained, printable HTML document.

    Parameters
    ----------
    profile : ProblemProfile
    title : str

    Returns
    -------
    str
        A cover with the national table (several forces) and how to read the report, one
        section per force (scale and trend, concentration, places, persistent and emerging
        places, other crime and anti-social behaviour, hold-out evidence, tactics), and an
        appendix of every automatic choice. Every section (``<section>``) is marked
        OFFICIAL-SENSITIVE and carries the stop and search notice; synthetic data are labelled
        on each. No script, font, image or tile is fetched: charts are inline SVG.
    """
    from hotspots.safeguards import load_safeguards, stop_search_notice

    notice = load_safeguards()["stop_search_notice"]
    forces = [_force_data(f, i) for i, f in enumerate(profile.forces, start=1)]
    return (
        _environment()
        .get_template("problem_profile.html")
        .render(
            title=title,
            synthetic=profile.synthetic,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=hotspots.__version__,
            forces=forces,
            several=len(forces) > 1,
            national=profile.national.to_dict("records"),
            settings=_choice_rows(profile.choices),
            profile_notes=list(profile.choices.notes),
            violence_caveat=VIOLENCE_CAVEAT
            if VIOLENCE_CATEGORY in profile.choices.params["violence_types"]
            else "",
            notice={
                "text": stop_search_notice(),
                "short": stop_search_notice(short=True),
                "url": notice["source"]["url"],
                "step": notice.get("guide_step", "Training"),
            },
        )
    )


def problem_profile_pdf(html: str, *, browser: str | None = None) -> bytes:
    """Print the report's HTML to PDF bytes with a local headless Chromium (offline).

    Raises
    ------
    HotspotsError
        No Chromium-family browser is installed, or printing failed
        (:func:`hotspots.briefing.html_to_pdf`).
    """
    import tempfile

    from hotspots.briefing import html_to_pdf

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "problem_profile.html"
        src.write_text(html, encoding="utf-8")
        return html_to_pdf(src, Path(tmp) / "problem_profile.pdf", browser=browser).read_bytes()
