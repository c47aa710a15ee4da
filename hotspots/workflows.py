"""The multi-step jobs both front ends run, in one place.

The command line (:mod:`hotspots.cli`) and the app call these functions; neither re-implements
them. Each step takes the previous step's result and returns its own, so the app can cache each
step on its own key and the command line can run them end to end:

=========================  =====================================================================
step                       functions
=========================  =====================================================================
read                       :func:`read_inputs` (incident CSVs with harm weights and a study
                           area given as files or values), :func:`filter_inputs` (the same
                           filters on incidents already read: read once, filter often),
                           :func:`rejected_csv`, :func:`write_ingest_outputs`
detect and rank            :func:`detect_hotspots` (``significant_only`` keeps the tested hot
                           spots), :func:`surface_contours`
hot spot outputs           :func:`hotspot_bytes`, :func:`write_hotspots` (GeoJSON, GeoPackage,
                           CSV by file suffix), :func:`standalone_map`, :func:`write_map`
patrol areas and plan      :func:`patrol_areas`, :func:`plan_patrols` -> :class:`PlanResult`,
                           :func:`plan_bytes`, :func:`write_plan`, :func:`write_plan_outputs`
change over time           :func:`classify_over_time`, :func:`classification_params`,
                           :func:`classification_geojson`
check on a later period    :func:`evaluate_forecasts` (every method at equal coverage, patrol
                           areas beside baselines, rolling origins), :func:`evaluation_table`,
                           :func:`write_evaluation_table`, :func:`write_evaluation_plot`;
                           :func:`evaluate_holdout` (each method's delivered hot spots)
problem profile            :func:`read_forces` (each force's files read on their own),
                           :func:`profile_problem` (:mod:`hotspots.problem`),
                           :func:`problem_report_bytes` (HTML, PDF, CSV),
                           :func:`write_problem_profile`
testing an operation       :func:`assess_plan` (a plan made here), :func:`assess_uploaded_plan`
                           (a plan folder's files), :func:`simulate_later_incidents` (a known
                           effect, for demonstrations), :func:`assessment_bytes`
=========================  =====================================================================

Every long step takes ``progress=None``, a callback ``progress(step, done, total)``
(:mod:`hotspots.progress`): reading file by file, validating, detecting, ranking, planning,
evaluating, classifying and writing file by file. Nothing here prints.

Every output carries the run's parameters: the detection record (``HotspotResult.params``, which
starts with :func:`hotspots.record.provenance`) for hot spots and plans, and the same provenance
with the classification's parameters for change over time. Results are read-only
(:mod:`hotspots.record`): the app shares them between sessions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotspots import constants
from hotspots._errors import ParameterError
from hotspots.progress import (
    AREAS,
    CLASSIFYING,
    COMPARING,
    EVALUATING,
    PLANNING,
    WRITING,
    Progress,
    progress_step,
)
from hotspots.record import Choices, FrozenDict, choices_of, freeze, provenance, thaw

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from hotspots.assess import Assessment
    from hotspots.change import PeriodChange
    from hotspots.detect import HotspotResult
    from hotspots.emerging import EmergingResult
    from hotspots.evaluate import RollingEvaluation
    from hotspots.incidents import Incidents, IngestReport
    from hotspots.patrol import PatrolPlan
    from hotspots.places import UserPlaces
    from hotspots.problem import ProblemProfile
    from hotspots.safeguards import StopSearches, StopSearchSummary
    from hotspots.tactics import Recommendation
    from hotspots.tasking import Team, TeamPlan

__all__ = [
    "HOTSPOT_FORMATS",
    "PLAN_FILES",
    "ASSESSMENT_FILES",
    "PROBLEM_FILES",
    "PlanResult",
    "assess_plan",
    "assess_uploaded_plan",
    "assessment_bytes",
    "check_methods",
    "classification_geojson",
    "classification_params",
    "classify_over_time",
    "change_between_periods",
    "period_change_geojson",
    "compute_engine",
    "detect_hotspots",
    "evaluate_forecasts",
    "evaluate_holdout",
    "evaluation_table",
    "filter_inputs",
    "hotspot_bytes",
    "only_significant",
    "patrol_areas",
    "plan_bytes",
    "plan_patrols",
    "problem_report_bytes",
    "profile_problem",
    "read_forces",
    "near_misses",
    "read_inputs",
    "read_others",
    "rejected_csv",
    "run_record_bytes",
    "run_record_path",
    "simulate_later_incidents",
    "standalone_map",
    "surface_contours",
    "task_teams",
    "write_evaluation_plot",
    "write_evaluation_table",
    "write_hotspots",
    "write_ingest_outputs",
    "write_map",
    "write_plan",
    "write_plan_outputs",
    "write_problem_profile",
    "write_team_plan",
]

#: Hot spot output formats by file suffix.
HOTSPOT_FORMATS = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".csv": "csv"}
#: Patrol plan outputs: kind -> file name written by :func:`write_plan`.
PLAN_FILES = {
    "geojson": "patrol_areas.geojson",
    "csv": "patrol_plan.csv",
    "ics": "patrol_plan.ics",
    "briefing": "briefing.html",
}
#: An assessment's outputs: kind -> file name (:func:`hotspots.assess.write_assessment`).
ASSESSMENT_FILES = {
    "effect": "effect.csv",
    "area_days": "area_days.csv",
    "report": "assessment.html",
}
#: The names :func:`write_plan` returns the written paths under (``hotspots plan`` prints them).
_PLAN_KEYS = {
    "geojson": "patrol_areas",
    "csv": "patrol_plan_csv",
    "ics": "patrol_plan_ics",
    "briefing": "briefing",
}


# --------------------------------------------------------------------------------------------
# Read


def read_inputs(
    sources: Any,
    *,
    columns: Mapping[str, str | None] | None = None,
    crime_types: Any = "default",
    harm_weights: Mapping[str, float] | str | Path | bytes | None = None,
    study_area: Any = None,
    date_from: Any = None,
    date_to: Any = None,
    outlier_km: float | None = None,
    progress: Progress | None = None,
    coordinate_crs: Any = None,
    crs: Any = None,
    date_order: str = "auto",
    unreadable_dates: str = "auto",
) -> Incidents:
    """Read incident files, with harm weights and a study area given as files or as values.

    Parameters
    ----------
    sources
        As :func:`hotspots.ingest.read_incidents`: paths, folders, file objects or (name, bytes).
    columns, crime_types, date_from, date_to, coordinate_crs, crs, date_order, unreadable_dates
        As :func:`hotspots.ingest.read_incidents` (``crs``: the analysis CRS, projected in
        metres; ``date_order``: "auto", "day-first" or "month-first"; ``unreadable_dates``:
        "auto", "keep" or "reject").
    harm_weights : mapping, path or bytes, optional
        Weights per crime type, or a CSV/JSON table read by :func:`hotspots.harm.read_harm_weights`.
    study_area : path, bytes, shapely geometry or GeoDataFrame, optional
        A path or bytes is read by :func:`hotspots.boundaries.read_boundary` (EPSG:4326); a
        geometry is taken to be in EPSG:4326.
    outlier_km : float, optional
        Far-outlier distance in km (0 disables); default: :func:`~hotspots.ingest.read_incidents`'s.
    progress : callable, optional
        Told ``"reading files"`` (file i of n), then ``"validating"``.

    Returns
    -------
    Incidents
    """
    from hotspots.boundaries import read_boundary
    from hotspots.engine import read_incidents  # on the engine of compute_engine(), if any
    from hotspots.harm import read_harm_weights

    if isinstance(harm_weights, str | Path | bytes | bytearray):
        harm_weights = read_harm_weights(harm_weights)
    if isinstance(study_area, str | Path | bytes | bytearray):
        study_area = read_boundary(study_area)
    kwargs: dict[str, Any] = {
        "columns": dict(columns) if columns else None,
        "crime_types": crime_types,
        "harm_weights": harm_weights,
        "study_area": study_area,
        "date_from": date_from,
        "date_to": date_to,
        "progress": progress,
    }
    if outlier_km is not None:
        kwargs["outlier_km"] = outlier_km
    if coordinate_crs is not None:
        kwargs["coordinate_crs"] = coordinate_crs
    if crs is not None:
        kwargs["crs"] = crs
    if date_order != "auto":
        kwargs["date_order"] = date_order
    if unreadable_dates != "auto":
        kwargs["unreadable_dates"] = unreadable_dates
    if (
        isinstance(sources, list | tuple)
        and len(sources) == 1
        and isinstance(sources[0], str | Path)
    ):
        sources = sources[0]
    return read_incidents(sources, **kwargs)


def filter_inputs(
    incidents: Incidents,
    *,
    crime_types: Any = "all",
    harm_weights: Mapping[str, float] | str | Path | bytes | None = None,
    study_area: Any = None,
    date_from: Any = None,
    date_to: Any = None,
) -> Incidents:
    """The user's filters on incidents already read: no file is read again.

    Read the files once with ``read_inputs(sources, crime_types="all")`` and call this for every
    choice of crime types, dates, study area and harm weights (the app does, on each apply).

    Parameters
    ----------
    incidents : Incidents
        From :func:`read_inputs` with ``crime_types="all"``.
    crime_types, date_from, date_to
        As :func:`hotspots.ingest.filter_incidents`.
    harm_weights : mapping, path or bytes, optional
        Weights per crime type, or a CSV/JSON table read by :func:`hotspots.harm.read_harm_weights`.
    study_area : path, bytes, shapely geometry or GeoDataFrame, optional
        A path or bytes is read by :func:`hotspots.boundaries.read_boundary` (EPSG:4326); a
        geometry is taken to be in EPSG:4326. Spatial outliers stay as the read set them aside.

    Returns
    -------
    Incidents
        The kept incidents; the report counts the rows each filter left out.
    """
    from hotspots.boundaries import read_boundary
    from hotspots.harm import read_harm_weights
    from hotspots.ingest import filter_incidents

    if isinstance(harm_weights, str | Path | bytes | bytearray):
        harm_weights = read_harm_weights(harm_weights)
    if isinstance(study_area, str | Path | bytes | bytearray):
        study_area = read_boundary(study_area)
    return filter_incidents(
        incidents,
        crime_types=crime_types,
        harm_weights=harm_weights,
        study_area=study_area,
        date_from=date_from,
        date_to=date_to,
    )


def read_others(
    sources: Any,
    incidents: Incidents,
    *,
    columns: Mapping[str, str | None] | None = None,
    study_area: Any = None,
    date_from: Any = None,
    date_to: Any = None,
    outlier_km: float | None = None,
) -> Incidents | None:
    """The other recorded crime and anti-social behaviour in the same files: the near misses the
    patrol-area forecast may weigh (:class:`hotspots.forecast.PlaceForecast`).

    The files are read again with every crime type (the other arguments as for ``incidents``);
    rows already in ``incidents`` (same file and line) and offences found mostly by proactive
    policing (:func:`hotspots.safeguards.proactive_mask`: where police look, not where violence
    comes) are left out. None when nothing is left or the rows fall in another analysis CRS.
    """
    every = read_inputs(
        sources,
        columns=columns,
        crime_types="all",
        study_area=study_area,
        date_from=date_from,
        date_to=date_to,
        outlier_km=outlier_km,
    )
    return near_misses(every, incidents)


def near_misses(every: Incidents, incidents: Incidents) -> Incidents | None:
    """The rows of ``every`` that are other recorded crime and anti-social behaviour beside
    ``incidents``: what :func:`read_others` keeps, from files already read.

    Parameters
    ----------
    every : Incidents
        The same files read with every crime type and the same date and study-area filters
        (:func:`read_inputs` or :func:`filter_inputs` with ``crime_types="all"``).
    incidents : Incidents
        The target incidents (a subset of ``every``'s rows).

    Returns
    -------
    Incidents or None
        ``every`` without the rows in ``incidents`` (same file and line) and without the
        offences found mostly by proactive policing; None when nothing is left or the rows fall
        in another analysis CRS.
    """
    import numpy as np
    import pandas as pd

    from hotspots.safeguards import proactive_mask

    if not every.crs.equals(incidents.crs):
        return None

    # a row is (file, line): the file's code among every's files in the high 32 bits, the line in
    # the low ones (text keys of 4 million rows took half a minute)
    codes, files = pd.factorize(every.frame["source_file"])
    theirs = pd.Index(files).get_indexer(incidents.frame["source_file"])

    def key(code: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        return (code.astype(np.int64) << 32) | frame["source_row"].to_numpy(dtype=np.int64)

    seen = np.isin(key(codes, every.frame), key(theirs, incidents.frame))
    other = ~seen & ~proactive_mask(every)
    return every.subset(other) if other.any() else None


def rejected_csv(report: IngestReport) -> str:
    """The rows left out, with their reasons, as spreadsheet-safe CSV text."""
    from hotspots.export import table_to_csv

    return table_to_csv(report.rejected)


def write_ingest_outputs(
    report: IngestReport,
    *,
    report_path: str | Path | None = None,
    rejected_path: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write the ingest report (JSON) and the rejected rows (CSV); returns the paths written.

    ``progress`` is told ``"writing outputs"`` file by file when there is anything to write.
    """
    written: dict[str, Path] = {}
    n = bool(report_path) + bool(rejected_path)
    if not n:
        return written
    with progress_step(progress, WRITING, n) as file_written:
        if report_path:
            written["report"] = Path(report_path)
            written["report"].write_text(report.to_json(indent=2), encoding="utf-8")
            file_written()
        if rejected_path:
            written["rejected"] = Path(rejected_path)
            written["rejected"].write_text(rejected_csv(report), encoding="utf-8")
            file_written()
    return written


# --------------------------------------------------------------------------------------------
# Detect and rank


def compute_engine(engine: str = "local", scheduler: Any = None) -> Any:
    """A context manager: the steps inside it run on ``engine`` (:func:`hotspots.engine.use`).

    Parameters
    ----------
    engine : {"local", "dask"}, default "local"
        ``"dask"``: :func:`read_inputs` reads files on the cluster's workers, and kernel density
        and DBSCAN run by spatial tiles there; results equal the local engine's.
    scheduler : str, optional
        The Dask scheduler's address (``tcp://HOST:8786``); None starts a local cluster.

    Returns
    -------
    contextlib.AbstractContextManager
        Yields the :class:`hotspots.engine.DaskEngine`, or None for the local engine.
    """
    from hotspots.engine import use

    return use(engine, scheduler)


def detect_hotspots(
    incidents: Incidents,
    method: str = "kde",
    *,
    order: str = "intensity",
    alpha: float = 0.05,
    significant_only: bool = False,
    progress: Progress | None = None,
    places: UserPlaces | None = None,
    leave_out_proactive: bool = False,
    compare_proactive: bool = False,
    **params: Any,
) -> HotspotResult:
    """Find, profile and rank hot spots (:func:`hotspots.detect.detect`), flag places patrol
    cannot address, and weigh offences found mostly by proactive policing.

    Parameters
    ----------
    incidents : Incidents
    method, order, alpha, **params
        As :func:`hotspots.detect.detect`.
    significant_only : bool, default False
        Keep only the hot spots that passed the significance test; the record says so
        (``params["exported"]``).
    progress : callable, optional
        Told ``"detecting"``, then ``"ranking"`` (and ``"comparing proactive offences"`` for
        ``compare_proactive``).
    places : UserPlaces, optional
        Places the user leaves out (:func:`hotspots.places.read_user_places`), flagged like the
        knowledge base's institutions.
    leave_out_proactive : bool, default False
        Leave out :data:`hotspots.safeguards.PROACTIVE_TYPES` (police.uk "Possession of weapons"
        and "Drugs"), which measure police activity as much as violence.
    compare_proactive : bool, default False
        When the data hold such offences, also detect with them left out (or counted, when
        ``leave_out_proactive``) and say in the notes how many significant hot spots change. It
        costs a second detection run, so it is off by default; ``hotspots detect`` and
        ``hotspots plan`` turn it on.

    Returns
    -------
    HotspotResult
        Read-only: its ``params`` is a :class:`~hotspots.record.FrozenDict`. The hot spots carry
        :data:`hotspots.places.PLACE_COLUMNS` (``unpatrollable_reason`` ...), so every export
        does; ``params["proactive_offences"]`` records the proactive offences in the data, whether
        they were left out and the comparison.
    """
    import hotspots.detect
    from hotspots import safeguards
    from hotspots.places import flag_places, start_place_marks

    proactive = safeguards.proactive_mask(incidents)
    left_out = bool(leave_out_proactive and proactive.any())
    other = None
    if compare_proactive and proactive.any():
        # the other run first, keeping only its significant hot spots: the two runs' working
        # memory is never held at once (national: 3.3 -> 2.4 GB peak)
        with progress_step(progress, COMPARING):
            other = _other_significant(incidents, proactive, left_out, method, order, alpha, params)
    used = incidents
    if left_out:
        used = incidents.subset(
            ~proactive, note="Offences found mostly by proactive policing were left out."
        )
    # the place kinds of the incidents do not depend on the hot spots: made meanwhile, so the
    # flags after the ranking, on one core, are quicker
    marking = start_place_marks(used, places)
    result = hotspots.detect.detect(
        used, method, order=order, alpha=alpha, progress=progress, **params
    )
    extra: dict[str, Any] = {}
    notes = list(result.notes)
    if proactive.any():
        counts = {
            str(k): int(v)
            for k, v in incidents.frame.loc[proactive, "crime_type"].value_counts().items()
        }
        comparison = None
        if other is not None:
            ours = _significant(result.hotspots)
            comparison = safeguards.compare_hotspots(
                *((other, ours) if left_out else (ours, other))
            )
        note = safeguards.proactive_note(
            counts, len(incidents), comparison, left_out=leave_out_proactive, method=method
        )
        notes.append(note)
        extra["proactive_offences"] = {
            "counts": counts,
            "left_out": bool(leave_out_proactive),
            "hotspots_with": comparison.n_with if comparison else None,
            "hotspots_without": comparison.n_without if comparison else None,
            "only_with": list(comparison.only_with) if comparison else None,
            "only_without": list(comparison.only_without) if comparison else None,
            "note": note,
        }
    hot = result.hotspots
    flagged = flag_places(
        hot, result.incidents, user_places=places, members=result.members, marks=marking.result()
    )
    notes += list(flagged.attrs["notes"])[len(hot.attrs.get("notes", [])) :]
    if places:
        extra["user_places"] = places.source or "given"
    result = dataclasses.replace(
        result, hotspots=flagged, notes=notes, params=freeze({**thaw(result.params), **extra})
    )
    return only_significant(result) if significant_only else result


def _other_significant(
    incidents: Incidents,
    proactive: Any,
    left_out: bool,
    method: str,
    order: str,
    alpha: float,
    params: Mapping[str, Any],
) -> gpd.GeoDataFrame | None:
    """The significant hot spots of the run the user did not ask for: without the proactive
    offences, or with them when ``left_out`` (None when nothing is left or that run fails)."""
    import hotspots.detect
    from hotspots._errors import HotspotsError

    other_incidents = incidents if left_out else incidents.subset(~proactive)
    if not len(other_incidents):
        return None
    try:
        other = hotspots.detect.detect(other_incidents, method, order=order, alpha=alpha, **params)
    except HotspotsError:
        return None
    return _significant(other.hotspots)


def _significant(hot: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The significant rows, when the method tests significance (else every row)."""
    return hot[hot["significant"].astype(bool)] if "significant" in hot.columns else hot


def only_significant(result: HotspotResult) -> HotspotResult:
    """The same result with only its significant hot spots (ranks and ids kept)."""
    hot = result.hotspots
    kept = hot[hot["significant"].astype(bool)].reset_index(drop=True)
    params = {
        **thaw(result.params),
        "exported": "significant hot spots only (use --all for every hot spot)",
    }
    return dataclasses.replace(result, hotspots=kept, params=freeze(params), members=None)


def surface_contours(result: HotspotResult, fractions: Sequence[float] = (0.25, 0.5)) -> list[Any]:
    """Outlines of the density surface at fractions of the hot spot level (KDE only, else [])."""
    import numpy as np

    surface = result.surface
    level = getattr(result.estimator, "level_", None)
    if surface is None or level is None or not np.isfinite(level) or level <= 0:
        return []
    polys: list[Any] = []
    for frac in fractions:
        polys.extend(surface.contour_polygons(level * frac))
    return polys


# --------------------------------------------------------------------------------------------
# Hot spot outputs


def hotspot_bytes(result: HotspotResult, kind: str) -> bytes:
    """The ranked hot spots as ``"geojson"`` (RFC 7946), ``"gpkg"`` or ``"csv"`` bytes."""
    from hotspots import export

    if kind == "geojson":
        return export.to_geojson(result).encode("utf-8")
    if kind == "gpkg":
        return export.to_geopackage(result)
    if kind == "csv":
        return export.to_csv(result).encode("utf-8")
    msg = f"the hot spot output must be one of 'geojson', 'gpkg', 'csv', not {kind!r}."
    raise ParameterError(msg)


def write_hotspots(
    result: HotspotResult, path: str | Path, *, progress: Progress | None = None
) -> Path:
    """Write the ranked hot spots in the format the suffix names (.geojson/.json, .gpkg, .csv).

    A CSV table gets its run record beside it (:func:`run_record_path`), since its rows name
    more than :data:`hotspots.export.FEATURE_FILES_MAX` input files only by a digest.
    ``progress`` is told ``"writing outputs"`` (one step).
    """
    path = Path(path)
    kind = HOTSPOT_FORMATS.get(path.suffix.lower())
    if kind is None:
        msg = f"--out must end in .geojson, .gpkg or .csv, got {path.name!r}."
        raise ParameterError(msg)
    with progress_step(progress, WRITING):
        path.write_bytes(hotspot_bytes(result, kind))
        if kind == "csv":
            run_record_path(path).write_bytes(run_record_bytes(result))
    return path


def run_record_path(path: str | Path) -> Path:
    """Where :func:`write_hotspots` puts a CSV table's run record: ``hotspots.csv`` ->
    ``hotspots.run.json``."""
    from hotspots.export import RUN_RECORD_SUFFIX

    path = Path(path)
    return path.with_name(path.stem + RUN_RECORD_SUFFIX)


def run_record_bytes(result: HotspotResult) -> bytes:
    """The run's whole record (parameters, automatic choices, every input file with its
    SHA-256) as indented JSON: :func:`hotspots.export.run_record_json`."""
    from hotspots.export import run_record_json

    return run_record_json(result).encode("utf-8")


def standalone_map(
    result: HotspotResult,
    *,
    tiles: str | None = "none",
    attribution: str | None = None,
    plan: PlanResult | None = None,
) -> str:
    """The hot spots (and the patrol areas of ``plan``) as one HTML page that opens offline.

    Parameters
    ----------
    result : HotspotResult
    tiles : str, default "none"
        ``"none"`` (the page makes no network request at all), ``"openstreetmap"`` (opt-in) or
        an XYZ URL template (:func:`hotspots.mapping.resolve_tiles`).
    attribution : str, optional
        Attribution for a custom tile server.
    plan : PlanResult, optional
        Adds the patrol areas as a layer.

    Returns
    -------
    str
        A complete HTML document with every script inlined and the run's parameters embedded
        (:func:`hotspots.offline.standalone_html`), with the stop and search notice at its top
        (:func:`hotspots.safeguards.stop_search_notice`): a map of hot spots printed or shared on
        its own carries it as the briefing does.
    """
    from hotspots import mapping, offline
    from hotspots.safeguards import stop_search_notice

    layers = []
    if plan is not None:
        layer = mapping.patrol_layer(plan.areas, plan.plan)
        if layer is not None:
            layer.control = True  # the page's layer switcher lists it (the app has its own)
            layers.append(layer)
    m = mapping.build_map(
        result.hotspots,
        result.incidents,
        tiles=tiles,
        tile_attribution=attribution,
        layers=layers,
    )
    return offline.standalone_html(
        m, params=thaw(result.params), notice=stop_search_notice(short=True)
    )


def write_map(
    result: HotspotResult, path: str | Path, *, progress: Progress | None = None, **kwargs: Any
) -> Path:
    """Write :func:`standalone_map` to ``path`` (UTF-8); keywords as for :func:`standalone_map`.

    ``progress`` is told ``"writing outputs"`` (one file).
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        msg = f"--map must end in .html, got {path.name!r}."
        raise ParameterError(msg)
    with progress_step(progress, WRITING):
        path.write_text(standalone_map(result, **kwargs), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Patrol areas and plan


@dataclass(frozen=True, eq=False)
class PlanResult:
    """Patrol areas and their plan, with what they were made from.

    Attributes
    ----------
    incidents : Incidents
    hotspots : geopandas.GeoDataFrame
        The ranked hot spots the areas were cut from (analysis CRS).
    areas : geopandas.GeoDataFrame
        Every patrol area (analysis CRS), flagged by :func:`hotspots.places.flag_places`; those
        a street patrol cannot address are not in the plan.
    plan : PatrolPlan
        Made from the patrollable areas only.
    matches : mapping
        ``patrol_area_id`` -> tuple of tactic matches: each planned area's one recommendation
        (primary tactic first, then companions, cautions and the programme items).
    params : FrozenDict
        The detection run's record (provenance first), written into every plan output.
    recommendations : mapping
        ``patrol_area_id`` -> :class:`~hotspots.tactics.Recommendation` for each planned area.
    staffing : str
        The staffing model (:data:`hotspots.tactics.STAFFING_MODELS`).
    stop_search : StopSearchSummary or None
        Stop and search inside the planned areas against the rest of the force, when stop and
        search records were given.
    """

    incidents: Incidents
    hotspots: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    plan: PatrolPlan
    matches: Mapping[str, Sequence[Any]]
    params: Mapping[str, Any]
    recommendations: Mapping[str, Recommendation] = dataclasses.field(default_factory=dict)
    staffing: str = "dedicated_pairs"
    stop_search: StopSearchSummary | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))
        object.__setattr__(
            self, "matches", FrozenDict({k: tuple(v) for k, v in self.matches.items()})
        )
        object.__setattr__(self, "recommendations", FrozenDict(dict(self.recommendations)))

    @property
    def choices(self) -> Choices:
        """The patrol areas' and the plan's parameters and notes (``patrol_areas``, ``plan``)."""
        return Choices().merged(patrol_areas=choices_of(self.areas), plan=choices_of(self.plan))


def patrol_areas(
    incidents: Incidents,
    hotspots: gpd.GeoDataFrame,
    *,
    significant_only: bool = False,
    radius_m: float = constants.MICRO_PLACE_RADIUS_M,
    min_incidents: int = constants.MIN_AREA_INCIDENTS,
    min_separation_m: float | None = None,
    exclude: Any = None,
    max_areas: int | None = None,
    places: UserPlaces | None = None,
    others: Incidents | None = None,
    progress: Progress | None = None,
) -> gpd.GeoDataFrame | None:
    """Patrol-sized discs where the most violence is expected next period
    (:func:`hotspots.patrol.make_patrol_areas`), flagged where a street patrol cannot address them.

    ``exclude`` is a shapely geometry in the analysis CRS
    (:func:`hotspots.boundaries.exclusion_zones`) or a GeoDataFrame/GeoSeries in any CRS.
    ``places`` (:func:`hotspots.places.read_user_places`) adds the user's own places to the
    knowledge base's institutions; ``others`` (:func:`read_others`) are the near misses the
    areas' forecast may weigh. Returns None when no hot
    spot is left to plan (none at all, or none significant with ``significant_only``); otherwise
    as :func:`hotspots.patrol.make_patrol_areas` with the columns of
    :func:`hotspots.places.flag_places`. ``progress`` is told ``"choosing patrol areas"`` (one
    step: nationally a minute of forecasting).
    """
    from hotspots.patrol import make_patrol_areas
    from hotspots.places import flag_places

    if significant_only:
        hotspots = hotspots[hotspots["significant"].astype(bool)]
    if not len(hotspots):
        return None
    with progress_step(progress, AREAS):
        areas = make_patrol_areas(
            incidents,
            hotspots,
            radius_m=radius_m,
            min_incidents=min_incidents,
            min_separation_m=min_separation_m,
            exclude=exclude,
            max_areas=max_areas,
            others=others,
        )
        flagged = flag_places(areas, incidents, user_places=places)
    if places:
        flagged.attrs["params"] = {
            **areas.attrs.get("params", {}),
            "user_places": places.source or "given",
        }
    return flagged


def plan_patrols(
    incidents: Incidents,
    hotspots: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    *,
    params: Mapping[str, Any] | None = None,
    kb: Any = None,
    progress: Progress | None = None,
    staffing: str = "dedicated_pairs",
    include_institutions: bool = False,
    stop_search: StopSearches | None = None,
    operation_start: Any = None,
    **settings: Any,
) -> PlanResult:
    """One coherent recommendation per patrol area and the seeded patrol plan.

    Parameters
    ----------
    incidents : Incidents
    hotspots : geopandas.GeoDataFrame
        The ranked hot spots the areas came from (drawn in the briefing; tactics judged on a
        whole hot spot are judged on them).
    areas : geopandas.GeoDataFrame
        From :func:`patrol_areas` (flagged there; areas made otherwise are flagged here).
    params : mapping, optional
        The detection run's record (``HotspotResult.params``), carried into every output.
    kb : KnowledgeBase, optional
        Default: :func:`hotspots.tactics.load_knowledge_base`.
    staffing : {"dedicated_pairs", "response_between_calls", "pcso"}, default "dedicated_pairs"
        Who patrols; each area gets the primary tactic of that staffing model that fits it, with
        its companions, cautions and dose (:func:`hotspots.tactics.recommend_table`).
    include_institutions : bool, default False
        Plan areas at places a street patrol cannot address (prisons, police stations,
        hospitals ...: :func:`hotspots.places.flag_places`); by default they are left out of the
        plan and the notes name each. The user's own places are always left out.
    stop_search : StopSearches, optional
        Stop and search records (:func:`hotspots.safeguards.read_stop_search`), summarised for
        the planned areas against the rest of the force.
    operation_start : date or "YYYY-MM-DD", optional
        First day of the operation, splitting stop and search into before and during.
    **settings
        As :func:`hotspots.patrol.make_patrol_plan` (``days``, ``start_date``, ``officer_hours``,
        ``officers_per_patrol``, ``visit_minutes``, ``visits_per_day``, ``control_share``,
        ``max_gap_days``, ``travel_minutes``, ``seed``, ``created``, ``dose``); each area's
        recommended dose is passed as ``doses``.
    progress : callable, optional
        Told ``"planning patrols"``.

    Returns
    -------
    PlanResult

    Raises
    ------
    ParameterError
        Every area is a place a street patrol cannot address, the staffing model is unknown, or a
        plan setting is out of range.
    """
    from hotspots.patrol import make_patrol_plan
    from hotspots.places import flag_places, unpatrollable
    from hotspots.tactics import load_knowledge_base, recommend_table

    with progress_step(progress, PLANNING):
        kb = load_knowledge_base() if kb is None else kb
        if "unpatrollable_kind" not in areas.columns:
            areas = flag_places(areas, incidents)
        drop = unpatrollable(areas, include_institutions=include_institutions)
        planned = areas[~drop]
        if planned.empty:
            names = "; ".join(_place_lines(areas[drop]))
            msg = (
                f"every patrol area is a place a street patrol cannot address ({names}); pass "
                "include_institutions=True (--include-institutions) to plan them anyway."
            )
            raise ParameterError(msg)
        total_harm = float(incidents.weights.sum()) if incidents.has_weights else None
        recs = recommend_table(planned, staffing, hotspots=hotspots, total_harm=total_harm, kb=kb)
        matches = {k: r.matches() for k, r in recs.items()}
        doses = {k: r.dose for k, r in recs.items()}
        plan = make_patrol_plan(planned, matches=matches, kb=kb, doses=doses, **settings)
    plan.params["staffing"] = staffing
    plan.params["include_institutions"] = bool(include_institutions)
    left = [str(v) for v in areas.loc[drop, "patrol_area_id"]]
    plan.summary["unpatrollable_left_out"] = left
    extra = []
    if left:
        extra.append(
            f"{len(left)} patrol areas are left out as places a street patrol cannot address "
            "(include them with include_institutions=True, --include-institutions): "
            + "; ".join(_place_lines(areas[drop]))
            + "."
        )
    kept = areas[~drop & areas["unpatrollable_kind"].fillna("").astype(str).ne("").to_numpy()]
    if len(kept):
        extra.append(
            f"Planned at the user's request although a street patrol cannot address them "
            f"(include_institutions): {'; '.join(_place_lines(kept))}."
        )
    checks = planned[planned["place_check"].fillna("").astype(str).ne("")]
    for _, r in checks.iterrows():
        extra.append(f"{r['patrol_area_id']}: {r['place_check']}")
    plan.summary["notes"] = list(plan.summary["notes"]) + extra
    summary = None
    if stop_search is not None:
        from hotspots.safeguards import summarise_stop_search

        in_plan = set(plan.areas.loc[plan.areas["in_plan"].astype(bool), "patrol_area_id"])
        mine = planned[planned["patrol_area_id"].isin(in_plan)]
        summary = summarise_stop_search(mine, stop_search, split_date=operation_start)
        plan.summary["notes"] = list(plan.summary["notes"]) + list(summary.notes)
    return PlanResult(
        incidents,
        hotspots,
        areas,
        plan,
        matches,
        params or {},
        recommendations=recs,
        staffing=staffing,
        stop_search=summary,
    )


def _place_lines(table: pd.DataFrame) -> list[str]:
    """``"H002-P1 (hospital, 'On or near Hospital', 84 incidents)"`` for each flagged area."""
    return [
        f"{r['patrol_area_id']} ({str(r['unpatrollable_kind']).replace('_', ' ')}, "
        f"'{r.get('location', '')}', {int(r['incidents'])} incidents)"
        for _, r in table.iterrows()
    ]


def plan_bytes(
    plan: PlanResult,
    kind: str,
    *,
    title: str | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
) -> bytes:
    """One plan output: ``"geojson"`` (patrol areas, RFC 7946), ``"csv"``, ``"ics"`` (RFC 5545)
    or ``"briefing"`` (printable HTML; ``title`` replaces the default title; ``tiles`` puts
    streets under its maps, see :func:`hotspots.briefing.render_briefing`)."""
    from hotspots.export import json_text, patrol_areas_geojson

    run = thaw(plan.params)
    if kind == "geojson":
        table = plan.areas
        if "in_plan" not in table.columns:
            table = table.assign(in_plan=False)  # areas not in the plan (unpatrollable) say so
        doc = patrol_areas_geojson(table, plan=plan.plan, matches=plan.matches, params=run)
        return json_text(doc).encode("utf-8")
    if kind == "csv":
        return plan.plan.to_csv().encode("utf-8")
    if kind == "ics":
        return plan.plan.to_ical().encode("utf-8")
    if kind == "briefing":
        from hotspots.briefing import render_briefing

        extra: dict[str, Any] = {"title": title} if title else {}
        pro = run.get("proactive_offences") or {}
        html = render_briefing(
            plan.areas,
            plan.hotspots,
            plan.plan,
            plan.matches,
            params=run,
            incidents=plan.incidents,
            recommendations=plan.recommendations,
            stop_search=plan.stop_search,
            notes=[pro["note"]] if pro.get("note") else [],
            tiles=tiles,
            tiles_attribution=tiles_attribution,
            **extra,
        )
        return html.encode("utf-8")
    msg = f"the plan output must be one of {', '.join(map(repr, PLAN_FILES))}, not {kind!r}."
    raise ParameterError(msg)


def write_plan(
    plan: PlanResult,
    out_dir: str | Path,
    *,
    pdf: bool = False,
    title: str | None = None,
    progress: Progress | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
) -> dict[str, Path]:
    """Write the plan's outputs into ``out_dir`` (created if missing).

    ``progress`` is told ``"writing outputs"`` file by file (4, or 5 with ``pdf``); ``tiles``
    and ``tiles_attribution`` go to the briefing's maps (:func:`plan_bytes`).

    Returns
    -------
    dict
        ``{"patrol_areas": ..., "patrol_plan_csv": ..., "patrol_plan_ics": ..., "briefing": ...}``
        (paths), and ``"briefing_pdf"`` when ``pdf`` (printed by a local Chromium, offline).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with progress_step(progress, WRITING, len(PLAN_FILES) + pdf) as file_written:
        for kind, file_name in PLAN_FILES.items():
            path = out / file_name
            data = plan_bytes(
                plan, kind, title=title, tiles=tiles, tiles_attribution=tiles_attribution
            )
            path.write_bytes(data)
            paths[_PLAN_KEYS[kind]] = path
            file_written()
        if pdf:
            from hotspots.briefing import html_to_pdf

            paths["briefing_pdf"] = html_to_pdf(paths["briefing"], out / "briefing.pdf")
            file_written()
    return paths


def write_plan_outputs(
    incidents: Incidents,
    ranked_hotspots: gpd.GeoDataFrame,
    out_dir: str | Path,
    *,
    days: int = constants.PLAN_DAYS,
    officer_hours: float = constants.OFFICER_HOURS,
    officers_per_patrol: int = constants.OFFICERS_PER_PATROL,
    seed: int | None = None,
    start_date: dt.date | str | None = None,
    params: Mapping[str, Any] | None = None,
    radius_m: float = constants.MICRO_PLACE_RADIUS_M,
    min_incidents: int = constants.MIN_AREA_INCIDENTS,
    min_separation_m: float | None = None,
    exclude: Any = None,
    max_areas: int | None = None,
    visit_minutes: int = constants.VISIT_MINUTES,
    visits_per_day: int = constants.VISITS_PER_DAY,
    control_share: float = constants.CONTROL_SHARE,
    travel_minutes: float = constants.TRAVEL_MINUTES,
    title: str | None = None,
    created: dt.datetime | None = None,
    pdf: bool = False,
    staffing: str = "dedicated_pairs",
    include_institutions: bool = False,
    places: UserPlaces | None = None,
    stop_search: StopSearches | None = None,
    operation_start: Any = None,
) -> dict[str, Path]:
    """Patrol areas, plan and briefing for ranked hot spots, written into ``out_dir``.

    Writes ``patrol_areas.geojson`` (RFC 7946), ``patrol_plan.csv``, ``patrol_plan.ics``
    (RFC 5545) and ``briefing.html`` (and ``briefing.pdf`` with ``pdf``). Parameters are those of
    :func:`hotspots.patrol.make_patrol_areas` and :func:`hotspots.patrol.make_patrol_plan`,
    and ``staffing``, ``include_institutions``, ``places``, ``stop_search`` and ``operation_start``
    as in :func:`patrol_areas` and :func:`plan_patrols`; ``params`` (the detection run's record,
    e.g. ``{"synthetic": True}`` for demo data) is stored in the GeoJSON's
    ``hotspots_parameters`` and shown in the briefing.

    Returns
    -------
    dict
        ``{"patrol_areas": Path, "patrol_plan_csv": Path, "patrol_plan_ics": Path,
        "briefing": Path}``.

    Raises
    ------
    ParameterError
        No patrol area could be placed (no hot spots given), or a plan setting is out of range.
    """
    areas = patrol_areas(
        incidents,
        ranked_hotspots,
        radius_m=radius_m,
        min_incidents=min_incidents,
        min_separation_m=min_separation_m,
        exclude=exclude,
        max_areas=max_areas,
        places=places,
    )
    if areas is None:
        msg = "there are no hot spots to place patrol areas in (use --all to plan every hot spot)."
        raise ParameterError(msg)
    plan = plan_patrols(
        incidents,
        ranked_hotspots,
        areas,
        params=params,
        days=days,
        start_date=start_date,
        officer_hours=officer_hours,
        officers_per_patrol=officers_per_patrol,
        visit_minutes=visit_minutes,
        visits_per_day=visits_per_day,
        control_share=control_share,
        travel_minutes=travel_minutes,
        seed=seed,
        created=created,
        staffing=staffing,
        include_institutions=include_institutions,
        stop_search=stop_search,
        operation_start=operation_start,
    )
    return write_plan(plan, out_dir, pdf=pdf, title=title)


# --------------------------------------------------------------------------------------------
# Team tasking


def task_teams(
    plan: PlanResult,
    teams: Sequence[Team],
    *,
    progress: Progress | None = None,
    **settings: Any,
) -> TeamPlan:
    """Routes for real teams over a plan's areas and days (:func:`hotspots.tasking.make_team_plan`).

    The plan's planned areas (``in_plan``), start date, days, visit length, gap rule, control
    share and seed are used unless ``settings`` gives them; other settings (``time_zone``,
    ``time_zone_from``, ``walking_speed_kmh``, ``travel_minutes``, ``separation_m``,
    ``use_peak_days``, ``time_limit_s``) are passed on. Without ``time_zone`` the shifts are read
    in the zone where the plan's incidents are (:func:`hotspots.tasking.time_zone_of`), recorded
    as ``params["time_zone_from"]`` and said in the notes. ``progress`` is told ``"planning"``
    (one step).

    A plan made with ``dose="recommended"`` passes each planned area's dose
    (:meth:`hotspots.tasking.VisitDose.from_dose` of its recommendation, with the plan's visits
    on a peak day, ``areas["visits_per_peak_day"]``) as ``doses``, so the teams route that many
    visits on each patrol day; a uniform plan routes one visit per area and patrol day.
    """
    from hotspots.tasking import VisitDose, make_team_plan, time_zone_of

    p = plan.plan.params
    table = plan.plan.areas
    planned_rows = table[table["in_plan"].astype(bool)]
    planned = set(planned_rows["patrol_area_id"])
    areas = plan.areas[plan.areas["patrol_area_id"].isin(planned)]
    defaults: dict[str, Any] = {
        "start_date": p["start_date"],
        "days": int(p["days"]),
        "visit_minutes": int(p["visit_minutes"]),
        "max_gap_days": int(p["max_gap_days"]),
        "control_share": float(p["control_share"]),
        "seed": int(p["seed"]),
    }
    if p.get("dose") == "recommended":
        per_day = dict(
            zip(planned_rows["patrol_area_id"], planned_rows["visits_per_peak_day"], strict=True)
        )
        defaults["doses"] = {
            pid: VisitDose.from_dose(rec.dose, int(per_day[pid]))
            for pid, rec in plan.recommendations.items()
            if pid in per_day
        }
    if "time_zone" not in settings:  # where the incidents are, said and recorded
        chosen = time_zone_of(plan.incidents)
        defaults |= {"time_zone": chosen.zone, "time_zone_from": chosen}
    with progress_step(progress, PLANNING, 1) as done:
        result = make_team_plan(areas, teams, **(defaults | settings))
        done()
    return result


def write_team_plan(plan: TeamPlan, out_dir: str | Path, *, pdf: bool = False) -> dict[str, Path]:
    """Write a team plan into ``out_dir``: ``team_plan.csv`` (every visit and control), and per
    team ``team_<name>.ics`` (RFC 5545, with a VTIMEZONE) and ``team_<name>_sheets.html``
    (one printable page per shift; ``.pdf`` too with ``pdf``, by a local Chromium).

    Returns
    -------
    dict
        ``{"team_plan_csv": Path, "<name>_ics": Path, "<name>_sheets": Path, ...}``.
    """
    from hotspots.tasking import render_team_sheets

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"team_plan_csv": out / "team_plan.csv"}
    plan.to_csv(paths["team_plan_csv"])
    for team in plan.teams:
        slug = "".join(ch if ch.isalnum() else "_" for ch in team.name)
        paths[f"{slug}_ics"] = out / f"team_{slug}.ics"
        plan.to_ical(team.name, paths[f"{slug}_ics"])
        paths[f"{slug}_sheets"] = out / f"team_{slug}_sheets.html"
        paths[f"{slug}_sheets"].write_text(render_team_sheets(plan, team.name), encoding="utf-8")
        if pdf:
            from hotspots.briefing import html_to_pdf

            paths[f"{slug}_sheets_pdf"] = html_to_pdf(
                paths[f"{slug}_sheets"], out / f"team_{slug}_sheets.pdf"
            )
    return paths


# --------------------------------------------------------------------------------------------
# Change over time


def classify_over_time(
    incidents: Incidents, *, progress: Progress | None = None, **settings: Any
) -> EmergingResult:
    """New, consecutive, intensifying, persistent, diminishing, sporadic, oscillating and
    historical places (:func:`hotspots.emerging.classify_hotspots`).

    ``progress`` is told ``"classifying"``.
    """
    from hotspots.emerging import classify_hotspots

    with progress_step(progress, CLASSIFYING):
        return classify_hotspots(incidents, **settings)


def classification_params(res: EmergingResult, incidents: Incidents) -> FrozenDict:
    """The record written with a classification: provenance, ``method="emerging"`` and its
    parameters under ``method_parameters``."""
    return freeze(
        {
            **provenance(incidents, engine=res.params.get("engine")),
            "method": "emerging",
            "method_parameters": thaw(res.params),
        }
    )


def classification_geojson(res: EmergingResult, incidents: Incidents) -> str:
    """The classified areas as RFC 7946 GeoJSON text with :func:`classification_params`."""
    from hotspots.export import features_geojson, geojson_text

    return geojson_text(features_geojson(res.areas, thaw(classification_params(res, incidents))))


def change_between_periods(
    incidents: Incidents, *, progress: Progress | None = None, **settings: Any
) -> PeriodChange:
    """Places that rose or fell between two periods (:func:`hotspots.change.compare_periods`).

    ``progress`` is told ``"classifying"``.
    """
    from hotspots.change import compare_periods

    with progress_step(progress, CLASSIFYING):
        return compare_periods(incidents, **settings)


def period_change_geojson(
    res: PeriodChange, incidents: Incidents, *, all_cells: bool = False
) -> str:
    """The cells of a two-period comparison (:func:`hotspots.change.compare_periods`) as RFC 7946
    GeoJSON text, with provenance, ``method="period_change"`` and its parameters under
    ``method_parameters``.

    Only the cells that hold enough incidents to show a change (``tested``, which includes
    every labelled cell) unless ``all_cells``: a force has thousands of cells of one or two
    incidents (national data 189,085 cells, a 549 MB file), none of which can be labelled.
    """
    from hotspots.export import features_geojson, geojson_text

    cells = res.cells if all_cells else res.cells[res.cells["tested"].to_numpy(dtype=bool)]
    params = {
        **thaw(provenance(incidents)),
        "method": "period_change",
        "method_parameters": thaw(res.params),
        "cells_written": "every cell with an incident"
        if all_cells
        else "the cells that hold enough incidents to show a change (tested)",
    }
    return geojson_text(features_geojson(cells, params))


# --------------------------------------------------------------------------------------------
# Check on a later period


def evaluate_holdout(
    incidents: Incidents,
    first_test_month: str,
    methods: Sequence[str] = ("kde", "dbscan", "gistar"),
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Hold-out evaluation (:func:`hotspots.evaluate.holdout`) after checking the method names.

    ``progress`` is told ``"evaluating"``.
    """
    from hotspots.evaluate import holdout

    methods = check_methods(methods)
    with progress_step(progress, EVALUATING):
        return holdout(incidents, first_test_month, methods=methods, params=params)


def evaluate_forecasts(
    incidents: Incidents,
    *,
    methods: Sequence[str] | None = None,
    origins: int | None = None,
    first_test_month: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Progress | None = None,
    others: Incidents | None = None,
) -> RollingEvaluation:
    """Every detector, the patrol areas and the baselines at equal coverage and equal numbers of
    discs, on rolling origins (:func:`hotspots.evaluate.rolling_evaluation`), after checking the
    method names (default: every detector). ``progress`` is told ``"evaluating"``; ``others``
    (:func:`read_others`) are the near misses the patrol areas' forecast may weigh."""
    from hotspots.evaluate import METHODS, rolling_evaluation

    checked = check_methods(METHODS if methods is None else methods)
    with progress_step(progress, EVALUATING):
        return rolling_evaluation(
            incidents,
            origins=origins,
            first_test_month=first_test_month,
            methods=checked,
            params=params,
            others=others,
        )


def evaluation_table(result: RollingEvaluation) -> pd.DataFrame:
    """The evaluation as one table: a row per origin, forecast and reading, then the means over
    the origins (``origin`` = ``"mean"``, with ``n_origins``)."""
    import pandas as pd

    mean = result.summary.copy()
    mean.insert(0, "origin", "mean")
    mean["reached"] = mean["n_origins"] > 0
    table = result.table.copy()
    table["n_origins"] = table["reached"].astype(int)
    cols = [c for c in result.table.columns if c != "study_area_km2"]
    cols += ["n_origins", "study_area_km2"]
    return pd.concat([table[cols], mean.reindex(columns=cols)], ignore_index=True)


def write_evaluation_table(result: RollingEvaluation, path: str | Path) -> Path:
    """Write :func:`evaluation_table` as spreadsheet-safe CSV (``.csv``)."""
    from hotspots.export import table_to_csv

    path = Path(path)
    if path.suffix.lower() != ".csv":
        msg = f"--out must end in .csv, got {path.name!r}."
        raise ParameterError(msg)
    path.write_text(table_to_csv(evaluation_table(result)), encoding="utf-8")
    return path


def write_evaluation_plot(result: RollingEvaluation, path: str | Path) -> Path:
    """Write the hit rate and PAI curves (:func:`hotspots.evaluate.curves_figure`) as PNG."""
    from hotspots.evaluate import curves_figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        msg = f"--plot must end in .png, got {path.name!r}."
        raise ParameterError(msg)
    curves_figure(result).savefig(path, dpi=120)
    return path


def check_methods(methods: Iterable[str]) -> tuple[str, ...]:
    """``methods`` as a tuple, or a ParameterError naming the detectors there are."""
    from hotspots.detect import METHODS

    methods = tuple(methods)
    if not methods or any(m not in METHODS for m in methods):
        msg = (
            f"methods must be a comma-separated list of {', '.join(METHODS)}; "
            f"got {', '.join(methods) or 'none'}."
        )
        raise ParameterError(msg)
    return methods


# --------------------------------------------------------------------------------------------
# Problem profile

#: Problem profile outputs: kind -> file name written by :func:`write_problem_profile`.
PROBLEM_FILES = {
    "html": "problem_profile.html",
    "csv": "problem_profile_forces.csv",
    "pdf": "problem_profile.pdf",
}


def read_forces(
    sources: Any,
    *,
    pooled: Incidents | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> dict[str, Incidents]:
    """Each force's incidents, every crime type, read on their own.

    Files are grouped by the force their police.uk "Falls within" column names, and each group
    is read by itself (:func:`read_inputs` with ``options``), so each force gets the ingest
    rules of its own data: its spatial outliers, study area and observed months. Sources that
    are not paths (uploads, ``(name, bytes)`` pairs) are split after one read instead
    (:func:`hotspots.problem.split_by_force`: own study area and months, outliers as read
    together).

    Parameters
    ----------
    sources
        As :func:`read_inputs`.
    pooled : Incidents, optional
        The sources already read together with ``crime_types="all"`` (saves a read).
    progress : callable, optional
        Told ``"reading files"`` and ``"validating"`` for each read.
    **options
        As :func:`read_inputs` (``crime_types`` is always ``"all"``).

    Returns
    -------
    dict
        Force name ("" when the files name none) -> Incidents, in name order.
    """
    from hotspots.problem import split_by_force

    options = {**options, "crime_types": "all"}
    if pooled is None:
        pooled = read_inputs(sources, progress=progress, **options)
    names: dict[str, list[str]] = {}
    for f in pooled.report.files:  # a file of column names only: no force, nothing to read
        if f.n_rows:
            names.setdefault(" / ".join(f.forces), []).append(f.name)
    if len(names) <= 1:
        return {next(iter(names), ""): pooled}
    paths = _paths_by_name(sources)
    if paths is None or any(n not in paths for group in names.values() for n in group):
        return split_by_force(pooled)
    return {
        force: read_inputs([paths[n] for n in group], progress=progress, **options)
        for force, group in sorted(names.items())
    }


def _paths_by_name(sources: Any) -> dict[str, Path] | None:
    """File name -> path of every file the path sources hold (:func:`hotspots.ingest.folder_files`
    for a folder; None for other sources, or when two files share a name)."""
    from hotspots.ingest import folder_files

    items = [sources] if isinstance(sources, str | Path) else sources
    if not isinstance(items, list | tuple) or not all(isinstance(i, str | Path) for i in items):
        return None
    found: dict[str, Path] = {}
    for item in map(Path, items):
        named = (
            [(p.relative_to(item).as_posix(), p) for p in folder_files(item)]
            if item.is_dir()
            else [(item.name, item)]
        )
        for name, p in named:
            if name in found:
                return None
            found[name] = p
    return found


def profile_problem(
    incidents: Incidents | Mapping[str, Incidents],
    *,
    progress: Progress | None = None,
    **options: Any,
) -> ProblemProfile:
    """The problem profile of violence, force by force (:func:`hotspots.problem.problem_profile`;
    ``options`` as its keywords). Give the incidents read with ``crime_types="all"`` (so other
    crime and anti-social behaviour can be shown), or :func:`read_forces`'s forces;
    ``crime_types=`` here says what counts as violence.

    ``progress`` is told ``"detecting"``, ``"ranking"``, ``"classifying"`` and ``"evaluating"``
    for each force.
    """
    from hotspots.problem import problem_profile

    return problem_profile(incidents, progress=progress, **options)


def problem_report_bytes(
    source: Incidents | ProblemProfile,
    kind: str = "html",
    *,
    title: str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> bytes:
    """The problem profile report as ``"html"`` (UTF-8), ``"pdf"`` (printed by a local Chromium,
    offline) or ``"csv"`` (one row per force) bytes.

    ``source`` is a profile already made (:func:`profile_problem`) or the incidents, profiled
    first with ``options``; the app calls this for its download.
    """
    from hotspots.problem import ProblemProfile, problem_profile_pdf, render_problem_profile

    if kind not in PROBLEM_FILES:
        msg = (
            "the problem profile output must be one of "
            f"{', '.join(map(repr, PROBLEM_FILES))}, not {kind!r}."
        )
        raise ParameterError(msg)
    profile = (
        source
        if isinstance(source, ProblemProfile)
        else profile_problem(source, progress=progress, **options)
    )
    if kind == "csv":
        from hotspots.export import table_to_csv

        return table_to_csv(profile.national).encode("utf-8")
    html = render_problem_profile(profile, **({"title": title} if title else {}))
    return problem_profile_pdf(html) if kind == "pdf" else html.encode("utf-8")


def write_problem_profile(
    profile: ProblemProfile,
    out_dir: str | Path,
    *,
    pdf: bool | str = "auto",
    title: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Write ``problem_profile.html``, ``problem_profile_forces.csv`` and
    ``problem_profile.pdf`` (printed by a local Chromium, offline) into ``out_dir`` (created if
    missing).

    ``pdf``: True (a missing browser is an error), False, or ``"auto"`` (the PDF when a
    Chromium-family browser is installed: the returned paths then lack ``"pdf"``).
    ``progress`` is told ``"writing outputs"`` file by file. Returns the paths by kind.
    """
    from hotspots.briefing import find_pdf_browser

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if pdf == "auto":
        pdf = find_pdf_browser() is not None
    kinds = ["html", "csv"] + (["pdf"] if pdf else [])
    paths: dict[str, Path] = {}
    with progress_step(progress, WRITING, len(kinds)) as file_written:
        for kind in kinds:
            path = out / PROBLEM_FILES[kind]
            path.write_bytes(problem_report_bytes(profile, kind, title=title))
            paths[kind] = path
            file_written()
    return paths


# --------------------------------------------------------------------------------------------
# Testing an operation


def _planned_areas(plan: PlanResult) -> gpd.GeoDataFrame:
    """The areas the plan was made from (places a patrol cannot address were never in it)."""
    ids = set(plan.plan.areas["patrol_area_id"].astype(str))
    areas = plan.areas
    return areas[areas["patrol_area_id"].astype(str).isin(ids)]


def assess_plan(
    plan: PlanResult,
    incidents: Incidents,
    *,
    compliance: Any = None,
    progress: Progress | None = None,
    **kwargs: Any,
) -> Assessment:
    """Did the operation work? :func:`hotspots.assess.assess_operation` on a plan made here.

    Parameters
    ----------
    plan : PlanResult
        From :func:`plan_patrols`. Its areas left out for capacity are the comparison areas of
        the before/after estimate; areas a street patrol cannot address were never in the plan
        and take no part.
    incidents : Incidents
        Incidents recorded during the operation and before it (the later data).
    compliance : hotspots.tracking.Compliance, optional
        What the patrols delivered (:func:`hotspots.tracking.compare_with_plan`).
    progress : callable, optional
        Told ``"evaluating"``.
    **kwargs
        As :func:`hotspots.assess.assess_operation` (``before``, ``buffers_m``, ``comparison``,
        ``variance``, ``level``, ``estimates``).

    Returns
    -------
    hotspots.assess.Assessment
    """
    from hotspots.assess import assess_operation

    with progress_step(progress, EVALUATING):
        return assess_operation(
            plan.plan, _planned_areas(plan), incidents, compliance=compliance, **kwargs
        )


def assess_uploaded_plan(
    plan_csv: bytes,
    areas_geojson: bytes,
    incidents: Incidents,
    *,
    logs: Sequence[tuple[str, bytes]] = (),
    progress: Progress | None = None,
    **kwargs: Any,
) -> Assessment:
    """:func:`hotspots.assess.assess_plan_folder` on the files of a plan folder given as bytes.

    Parameters
    ----------
    plan_csv, areas_geojson : bytes
        ``patrol_plan.csv`` and ``patrol_areas.geojson`` as ``hotspots plan`` (or the app) wrote
        them.
    incidents : Incidents
        Incidents during (and before) the operation.
    logs : sequence of (name, bytes), optional
        Patrol logs (CSV, GPX, GeoJSON).
    progress : callable, optional
        Told ``"evaluating"``.
    **kwargs
        As :func:`hotspots.assess.assess_operation`.

    Returns
    -------
    hotspots.assess.Assessment
    """
    import tempfile

    from hotspots.assess import assess_plan_folder

    with tempfile.TemporaryDirectory() as tmp, progress_step(progress, EVALUATING):
        folder = Path(tmp)
        (folder / PLAN_FILES["csv"]).write_bytes(plan_csv)
        (folder / PLAN_FILES["geojson"]).write_bytes(areas_geojson)
        paths = []
        for i, (name, data) in enumerate(logs):
            path = folder / "logs" / f"{i:03d}_{Path(name).name}"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            paths.append(path)
        return assess_plan_folder(folder, incidents, log_paths=paths or None, **kwargs)


def simulate_later_incidents(
    plan: PlanResult,
    *,
    effect: float = 0.8,
    seed: int | None = None,
    baseline_rate: float = 0.3,
    background_rate: float = 2.0,
) -> Incidents:
    """Incidents of a simulated operation with a known true rate ratio (demonstrations only).

    :func:`hotspots.assess.simulate_operation` on the plan's areas: ``baseline_rate`` incidents
    per area per day without patrol, ``effect`` times that on patrol days, as many days before
    the plan as it lasts, and ``background_rate`` incidents per km² per day around the areas
    (for the displacement quotient's buffers). The incidents' report records every parameter and
    the true rate ratio (``choices["simulation"]``).
    """
    from hotspots.assess import simulate_operation

    return simulate_operation(
        plan.plan,
        _planned_areas(plan),
        effect=effect,
        baseline_rate=baseline_rate,
        background_rate=background_rate,
        seed=seed,
    )


def assessment_bytes(
    assessment: Assessment, kind: str, *, title: str = "Operation assessment"
) -> bytes:
    """One of :data:`ASSESSMENT_FILES` as :func:`hotspots.assess.write_assessment` writes it."""
    import tempfile

    from hotspots.assess import write_assessment

    if kind not in ASSESSMENT_FILES:
        msg = (
            f"the assessment output must be one of {', '.join(map(repr, ASSESSMENT_FILES))}, "
            f"not {kind!r}."
        )
        raise ParameterError(msg)
    with tempfile.TemporaryDirectory() as tmp:
        write_assessment(assessment, tmp, title=title)
        return (Path(tmp) / ASSESSMENT_FILES[kind]).read_bytes()
