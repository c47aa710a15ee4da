"""The ``hotspots`` command.

``hotspots detect INPUT...`` finds, ranks and exports hot spots (``--map map.html`` also writes a
standalone map that opens offline); ``hotspots plan INPUT... --out-dir DIR`` also writes patrol
areas, a patrol plan (CSV and iCalendar) and a printable briefing;
``hotspots classify INPUT...`` classes places over time as ArcGIS's Emerging Hot Spot Analysis (new,
consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical);
``hotspots evaluate INPUT...`` scores every method, the patrol areas and naive baselines on
later months (hit rate, PAI and PEI at equal coverage and equal numbers of discs, rolling
origins); ``hotspots track PLAN_DIR LOGS... --out-dir DIR`` sets GPS patrol logs against a
plan (delivered, short, missed and unplanned visits, contamination); ``hotspots assess PLAN_DIR
INCIDENTS... [--logs LOGS...] --out-dir DIR`` estimates what the patrols did (randomised
crossover, before/after, dose-response, displacement); ``hotspots profile INPUT... --out-dir DIR``
writes the problem profile of violence (force by force, HTML and PDF); ``hotspots change
INPUT...`` finds the places that rose or fell between two periods more than the area as a whole;
``hotspots simulate logs|operation PLAN_DIR -o OUT`` writes synthetic patrol logs or later
incidents for a plan; ``hotspots demo`` writes the synthetic demo CSV (or, with ``--national``,
synthetic police.uk files for every force); ``hotspots app`` starts the app.

The commands only parse arguments, print and format errors: every step they run is a function of
:mod:`hotspots.workflows`, the same the app calls.

Exit codes: 0 success; 2 bad input or parameters (one readable message on stderr, no traceback);
1 internal error (a bug: the message says so; set ``HOTSPOTS_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hotspots import __version__, constants, workflows
from hotspots._errors import HotspotsError, InputError, ParameterError
from hotspots.progress import PROFILING, READING, WRITING, Progress
from hotspots.record import choices_of

__all__ = ["main"]

KDE_OPTIONS = (
    "bandwidth",
    "bandwidth_rule",
    "cell_size",
    "kernel",
    "threshold",
    "coverage",
    "volume",
    "density",
)
DBSCAN_OPTIONS = ("eps", "min_samples")
HDBSCAN_OPTIONS = ("min_cluster_size", "min_samples")
GISTAR_OPTIONS = ("cell_size", "neighbour_distance", "null", "fdr")
METHOD_OPTIONS = {
    "kde": KDE_OPTIONS,
    "dbscan": DBSCAN_OPTIONS,
    "hdbscan": HDBSCAN_OPTIONS,
    "gistar": GISTAR_OPTIONS,
}


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="incident files (CSV, also gzip-compressed; Parquet; .xlsx, .xls, .ods workbooks; "
        "GIS point layers: .gpkg, .shp, .geojson, .fgb, .gdb), police.uk's zip download, or "
        "folders of them",
    )
    g.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ROLE=NAME",
        help="map a column explicitly (roles: lon, lat, easting, northing, date, time, hour, "
        "datetime, month, crime_type, weight, id, location; a time window's end: date_end, "
        "time_end, datetime_end; ROLE= leaves a role out); repeatable",
    )
    g.add_argument(
        "--coordinate-crs",
        metavar="CRS",
        help="the CRS of easting/northing (x/y) columns when not British National Grid, e.g. "
        "EPSG:3435 (a US State Plane zone, feet) or EPSG:28992; the analysis CRS is then chosen "
        "as for longitude/latitude",
    )
    g.add_argument(
        "--crs",
        metavar="CRS",
        help="the analysis CRS: a projected CRS in metres, e.g. EPSG:5070 for a whole-US file "
        "or EPSG:27700; a geographic CRS or one in feet is refused, one whose area of use "
        "leaves out incidents is warned about (default: British National Grid in Great "
        "Britain, the data's UTM zone elsewhere)",
    )
    g.add_argument(
        "--date-order",
        choices=("auto", "day-first", "month-first"),
        default="auto",
        help="the order of day and month in dates such as 03/04/2022 (default auto: from the "
        "values, else day first outside the Americas); a date that reads only in the other "
        "order is an unreadable date, listed with the rejected rows",
    )
    g.add_argument(
        "--unreadable-dates",
        choices=("auto", "keep", "reject"),
        default="auto",
        help="rows whose date cannot be read (or cannot be true): 'keep' them without a date (on "
        "maps and in hot spots, not in time profiles or date ranges), 'reject' them (listed with "
        "the reason), or 'auto' (default): kept when most of a file's dates cannot be read, "
        "rejected when a few cannot",
    )
    g.add_argument(
        "--crime-types",
        default="default",
        metavar="LIST",
        help="'default' (violence-related police.uk types), 'all', or a comma-separated list of "
        "types",
    )
    g.add_argument(
        "--harm-weights",
        metavar="FILE",
        help="CSV (crime_type,weight) or JSON object of harm weights",
    )
    g.add_argument(
        "--study-area",
        metavar="FILE",
        help="study-area polygon (GeoJSON, GeoPackage or zipped shapefile); incidents outside are "
        "rejected",
    )
    g.add_argument("--from", dest="date_from", metavar="YYYY-MM[-DD]", help="first date to keep")
    g.add_argument("--to", dest="date_to", metavar="YYYY-MM[-DD]", help="last date to keep")
    g.add_argument(
        "--outlier-km", type=float, metavar="KM", help="far-outlier distance in km (0 disables)"
    )
    g.add_argument("--report", metavar="JSON", help="write the ingest report (JSON) here")
    g.add_argument("--rejected", metavar="CSV", help="write the rejected rows (CSV) here")


def _add_method_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("detection")
    g.add_argument(
        "--leave-out-proactive",
        action="store_true",
        help="leave out offences found mostly by proactive policing (police.uk 'Possession of "
        "weapons', 'Drugs'); the notes say how many hot spots change either way",
    )
    g.add_argument("--method", choices=("kde", "dbscan", "hdbscan", "gistar"), default="kde")
    g.add_argument(
        "--order",
        choices=("intensity", "count", "harm", "peak"),
        default="intensity",
        help="ranking rule",
    )
    g.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="significance level of the ranking's micro-place test (default 0.05)",
    )
    g.add_argument(
        "--all",
        dest="include_all",
        action="store_true",
        help="keep hot spots that are not significant",
    )
    k = p.add_argument_group("kernel density (--method kde)")
    k.add_argument(
        "--bandwidth",
        type=float,
        metavar="M",
        help="kernel bandwidth in metres (default: 150 m rule)",
    )
    k.add_argument(
        "--bandwidth-rule", choices=("micro-place", "arcgis"), help="automatic bandwidth rule"
    )
    k.add_argument(
        "--cell-size", type=float, metavar="M", help="grid cell size in metres (kde and gistar)"
    )
    k.add_argument("--kernel", choices=("quartic", "gaussian"))
    k.add_argument("--threshold", choices=("coverage", "volume", "density"))
    k.add_argument(
        "--coverage",
        type=float,
        metavar="SHARE",
        help=f"share of the study area (default {constants.HOTSPOT_COVERAGE:g})",
    )
    k.add_argument(
        "--volume",
        type=float,
        metavar="SHARE",
        help="share of incidents for a percent-volume contour",
    )
    k.add_argument(
        "--density",
        type=float,
        metavar="PER_KM2",
        help="absolute density threshold, incidents per km2",
    )
    c = p.add_argument_group("clustering (--method dbscan / hdbscan)")
    c.add_argument("--eps", type=float, metavar="M", help="DBSCAN neighbourhood radius in metres")
    c.add_argument(
        "--min-samples", type=int, metavar="N", help="incidents needed to make a core point"
    )
    c.add_argument("--min-cluster-size", type=int, metavar="N", help="HDBSCAN minimum cluster size")
    gi = p.add_argument_group("Getis-Ord Gi* (--method gistar)")
    gi.add_argument(
        "--neighbour-distance", type=float, metavar="M", help="neighbour distance in metres"
    )
    gi.add_argument(
        "--null",
        choices=("local", "poisson", "negative-binomial", "normal"),
        help="null distribution (default local: each place against its surroundings)",
    )
    gi.add_argument(
        "--fdr", type=float, metavar="RATE", help="false discovery rate of hot cells (default 0.05)"
    )
    _add_engine_options(p)


def _add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="where to run: this process (default) or a Dask cluster (pip install "
        "'hotspots[dask]'; docs/scale-out.md)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --engine dask: the scheduler, e.g. tcp://10.0.0.5:8786 (default: a local "
        "cluster on this machine's cores)",
    )


def _add_map_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("map")
    g.add_argument(
        "--map", metavar="HTML", help="also write a standalone map page that opens offline"
    )
    g.add_argument(
        "--tiles",
        default="none",
        metavar="TILES",
        help="map background: 'none' (default: the page makes no network request at all), "
        "'openstreetmap' where policy allows (opening the page then tells that server which area "
        "is viewed) or an XYZ tile URL such as https://tiles.example/{z}/{x}/{y}.png",
    )
    g.add_argument("--tiles-attribution", metavar="TEXT", help="attribution for a tile URL")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotspots", description="Patrol-sized violence hot spots from incident CSVs."
    )
    p.add_argument("--version", action="version", version=f"hotspots {__version__}")
    quiet_help = (
        "do not print the automatic choices or show progress bars (shown on stderr only when it "
        "is a terminal)"
    )
    p.add_argument("--quiet", action="store_true", help=quiet_help)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="find, rank and export hot spots")
    _add_input_options(d)
    _add_method_options(d)
    d.add_argument(
        "-o", "--out", default="patrol_areas.geojson", help="output: .geojson, .gpkg or .csv"
    )
    d.add_argument("--top", type=int, default=20, help="rows of the summary table to print")
    _add_map_options(d)

    pl = sub.add_parser("plan", help="hot spots, patrol areas, patrol plan, calendar and briefing")
    _add_input_options(pl)
    _add_method_options(pl)
    pl.add_argument("--out-dir", required=True, help="folder for the outputs")
    pl.add_argument(
        "--days", type=int, default=constants.PLAN_DAYS, help="days to plan (default %(default)s)"
    )
    pl.add_argument(
        "--officer-hours",
        type=float,
        default=constants.OFFICER_HOURS,
        help="officer-hours per day (default %(default)g)",
    )
    pl.add_argument(
        "--officers-per-patrol",
        type=int,
        default=constants.OFFICERS_PER_PATROL,
        help="officers per patrol (default %(default)s)",
    )
    pl.add_argument(
        "--control-share",
        type=float,
        default=constants.CONTROL_SHARE,
        help="daily share of areas held as controls",
    )
    pl.add_argument(
        "--dose",
        choices=("uniform", "recommended"),
        default="uniform",
        help="uniform: the same visits a day everywhere, as many areas as capacity funds, areas "
        "whose tactic asks for more named; recommended: each area's tactic dose (visits a day "
        "on its peak days), fewer areas (default %(default)s)",
    )
    pl.add_argument("--start-date", help="first day of the plan, YYYY-MM-DD (default: tomorrow)")
    pl.add_argument("--seed", type=int, help="random seed (recorded in the outputs)")
    pl.add_argument(
        "--radius",
        type=float,
        default=constants.MICRO_PLACE_RADIUS_M,
        metavar="M",
        help="patrol area radius in metres "
        f"(default %(default)g: {constants.MICRO_PLACE_M:g} m across)",
    )
    pl.add_argument(
        "--min-incidents",
        type=int,
        default=constants.MIN_AREA_INCIDENTS,
        help="fewest incidents a patrol area must hold (default %(default)s)",
    )
    pl.add_argument(
        "--min-separation",
        type=float,
        metavar="M",
        help="least distance between area centres (default 2 x radius)",
    )
    pl.add_argument("--max-areas", type=int, help="most patrol areas to make")
    pl.add_argument(
        "--visit-minutes",
        type=int,
        default=constants.VISIT_MINUTES,
        help=f"minutes per visit (default %(default)s; never below {constants.MIN_VISIT_MINUTES})",
    )
    _add_map_options(pl)
    pl.add_argument(
        "--exclude",
        metavar="FILE",
        help="places to leave out (hospitals, prisons); points and lines are buffered",
    )
    pl.add_argument(
        "--pdf", action="store_true", help="also print briefing.pdf with a local Chromium (offline)"
    )
    pl.add_argument(
        "--briefing-tiles",
        default="none",
        metavar="TILES",
        help="streets under the briefing's maps: 'none' (default: the briefing makes no request), "
        "a force's XYZ tile URL, or 'openstreetmap' where policy allows (opening the briefing "
        "then tells that server where the areas are)",
    )
    pl.add_argument(
        "--exclude-buffer",
        type=float,
        default=50.0,
        metavar="M",
        help="buffer for excluded points and lines (default 50 m)",
    )
    _add_safeguard_options(pl)
    _add_team_options(pl)

    ev = sub.add_parser(
        "evaluate",
        help="score every method, the patrol areas and naive baselines on later months "
        "(hit rate, PAI, PEI at equal coverage and equal numbers of discs)",
    )
    _add_input_options(ev)
    ev.add_argument(
        "--origins",
        type=int,
        metavar="N",
        help="test each of the last N months in turn, forecast from the months before it "
        "(default: min(6, months // 2))",
    )
    ev.add_argument(
        "--test-from",
        metavar="YYYY-MM",
        help="instead: one split, forecast from the months before this one and tested on it and "
        "every later month",
    )
    ev.add_argument(
        "--methods",
        default="kde,dbscan,hdbscan,gistar",
        help="comma-separated methods to compare (default %(default)s)",
    )
    ev.add_argument("-o", "--out", metavar="CSV", help="also write the table as CSV here")
    ev.add_argument(
        "--plot", metavar="PNG", help="also write the hit rate and PAI curves as PNG here"
    )

    cl = sub.add_parser(
        "classify",
        help="new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating and "
        "historical hot spots over time (at least 10 periods)",
    )
    _add_input_options(cl)
    _add_cell_size(cl)
    cl.add_argument(
        "--period-months",
        type=int,
        help="months per period (default: the longest of years, quarters and months giving at "
        "least 10 periods)",
    )
    cl.add_argument(
        "--alpha", type=float, default=0.05, help="false discovery rate per period (default 0.05)"
    )
    cl.add_argument(
        "-o", "--out", default="emerging.geojson", help="output GeoJSON of the classified areas"
    )

    _add_change_parser(sub)
    _add_track_parser(sub)
    _add_assess_parser(sub)
    _add_simulate_parser(sub)
    _add_profile_parser(sub)

    _add_demo_and_app_parsers(sub)
    for command in sub.choices.values():  # also after the command: `hotspots detect ... --quiet`
        command.add_argument(
            "--quiet", action="store_true", default=argparse.SUPPRESS, help=quiet_help
        )
    return p


def _parse_columns(items: Sequence[str]) -> dict[str, str] | None:
    mapping = {}
    for item in items:
        if "=" not in item:
            msg = f"--column expects ROLE=NAME, got {item!r}."
            raise ParameterError(msg)
        role, name = item.split("=", 1)
        mapping[role.strip()] = name.strip()
    return mapping or None


def _add_safeguard_options(pl: argparse.ArgumentParser) -> None:
    """``hotspots plan``'s safeguards options (staffing, institutions, own places, stop and
    search)."""
    sg = pl.add_argument_group("safeguards")
    sg.add_argument(
        "--staffing",
        choices=("dedicated_pairs", "response_between_calls", "pcso"),
        default="dedicated_pairs",
        help="who patrols: each area gets the primary tactic of this staffing model "
        "(default %(default)s)",
    )
    sg.add_argument(
        "--include-institutions",
        action="store_true",
        help="plan places a street patrol cannot address (prisons, police stations, hospitals...), "
        "which are left out by default",
    )
    sg.add_argument(
        "--exclude-places",
        metavar="FILE",
        help="your own places to leave out: a .txt/.csv of location names (one a line; * and ? "
        "as wildcards) or a GeoJSON/GeoPackage/zipped shapefile of polygons, points or lines",
    )
    sg.add_argument(
        "--stop-search",
        nargs="+",
        metavar="FILE",
        help="police.uk stop and search CSVs (files or folders): the briefing compares stops in "
        "the patrol areas with the rest of the force",
    )
    sg.add_argument(
        "--operation-start",
        metavar="YYYY-MM-DD",
        help="first day of the operation: stop and search is reported before and during it",
    )


def _add_team_options(pl: argparse.ArgumentParser) -> None:
    """``hotspots plan``'s team tasking options (``--teams`` and what it uses)."""
    tk = pl.add_argument_group("team tasking")
    tk.add_argument(
        "--teams",
        metavar="FILE",
        help="teams and shifts (CSV: team,officers,days,start,end, e.g. Alpha,2,Fri-Sat,18:00,"
        "02:00; or JSON): also write routes per team and shift (team_plan.csv, team_*.ics, "
        "team_*_sheets.html)",
    )
    tk.add_argument(
        "--time-zone",
        default=None,
        help="IANA time zone of the shifts (default: the zone where the incidents are, said "
        f"and recorded; {constants.TIME_ZONE} when none is found)",
    )
    tk.add_argument(
        "--walking-speed",
        type=float,
        default=constants.WALKING_SPEED_KMH,
        metavar="KMH",
        help="walking speed between areas, km/h (default %(default)g)",
    )
    tk.add_argument(
        "--any-day",
        action="store_true",
        help="visit on any day in each area's peak hours, not only its peak days",
    )


def _existing(path: str, option: str) -> Path:
    """``path`` as a Path, or an InputError naming the option it was given to."""
    p = Path(path)
    if not p.exists():
        msg = "no such file or folder."
        raise InputError(msg, file=str(p), hint=f"check the path given to {option}.")
    return p


def _crime_types(value: str) -> Any:
    if value in ("default", "all"):
        return value
    return [t.strip() for t in value.split(",") if t.strip()]


def _method_params(args: argparse.Namespace) -> dict[str, Any]:
    allowed = METHOD_OPTIONS[args.method]
    params = {}
    every = set(KDE_OPTIONS) | set(DBSCAN_OPTIONS) | set(HDBSCAN_OPTIONS) | set(GISTAR_OPTIONS)
    for name in sorted(every):
        value = getattr(args, name, None)
        if value is None:
            continue
        if name not in allowed:
            msg = f"--{name.replace('_', '-')} does not apply to --method {args.method}."
            raise ParameterError(msg)
        params[name] = value
    return params


#: What a progress bar counts, by step (default "step").
_UNITS = {READING: "file", WRITING: "file", PROFILING: "force"}


class _ProgressBars:
    """A :data:`hotspots.progress.Progress` callback that draws one tqdm bar per step on stderr.

    A bar closes (and is cleared) when its step is done or the next step starts.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._step: str | None = None

    def __call__(self, step: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if step != self._step or self._bar is None:
            self.close()
            self._step = step
            try:
                width = os.get_terminal_size(sys.stderr.fileno()).columns
            except (OSError, ValueError):
                width = 0
            # a terminal that reports no width (some pseudo-terminals) still gets an 80-column bar
            size: dict[str, Any] = {"dynamic_ncols": True} if width else {"ncols": 80}
            self._bar = tqdm(
                total=total,
                desc=step,
                unit=_UNITS.get(step, "step"),
                file=sys.stderr,
                leave=False,
                **size,
            )
        self._bar.n = done
        self._bar.refresh()
        if total is not None and done >= total:
            self.close()

    def close(self) -> None:
        """Close the open bar, if any."""
        if self._bar is not None:
            self._bar.close()
        self._bar = None
        self._step = None


def _progress(args: argparse.Namespace) -> Progress | None:
    """The progress callback for this run: bars when stderr is a terminal and not ``--quiet``."""
    return getattr(args, "progress", None)


def _load(
    args: argparse.Namespace, *, with_others: bool = False, reader: Any = workflows.read_inputs
) -> Any:
    """The incidents of ``args``, with the ingest outputs written; with ``with_others``
    (incidents, others): the files are read once with every crime type, the incidents filtered
    from them and the rest kept as the forecast's near misses (:func:`workflows.near_misses`).
    ``reader`` reads them (:func:`workflows.read_inputs`' arguments)."""
    harm = _existing(args.harm_weights, "--harm-weights") if args.harm_weights else None
    area = _existing(args.study_area, "--study-area") if args.study_area else None
    for item in args.inputs:
        _existing(item, "INPUT")
    read = functools.partial(
        reader,
        args.inputs,
        columns=_parse_columns(args.column),
        coordinate_crs=args.coordinate_crs,
        crs=args.crs,
        date_order=args.date_order,
        unreadable_dates=args.unreadable_dates,
        study_area=area,
        date_from=args.date_from,
        date_to=args.date_to,
        outlier_km=args.outlier_km,
        progress=_progress(args),
    )
    others = None
    if with_others:
        every = read(crime_types="all")
        incidents = workflows.filter_inputs(
            every, crime_types=_crime_types(args.crime_types), harm_weights=harm
        )
        others = workflows.near_misses(every, incidents)
    else:
        incidents = read(crime_types=_crime_types(args.crime_types), harm_weights=harm)
    workflows.write_ingest_outputs(
        incidents.report,
        report_path=args.report,
        rejected_path=args.rejected,
        progress=_progress(args),
    )
    return (incidents, others) if with_others else incidents


def _load_reported(args: argparse.Namespace, out: Any) -> Any:
    """:func:`_load`, then the rows read and the ingest choices printed (unless ``--quiet``)."""
    incidents = _load(args)
    if not args.quiet:
        _print_report(incidents, out)
    _print_notes(incidents, args, out)
    return incidents


def _print_report(incidents: Any, out: Any) -> None:
    rep = incidents.report
    print(
        f"Read {rep.n_read:,} rows from {len(rep.files)} file(s): {rep.n_used:,} used, "
        f"{rep.n_filtered:,} filtered out, {rep.n_invalid:,} rejected as invalid.",
        file=out,
    )
    from hotspots.incidents import FILTER_REASONS

    for reason, n in rep.reason_counts().items():
        kind = "filtered out" if reason in FILTER_REASONS else "rejected"
        print(f"  {kind}: {n:,} {reason}", file=out)


def _print_table(ranked: Any, top: int, out: Any) -> None:
    """The ranked hot spots as an aligned text table."""
    cols = [
        ("rank", "rank", "{:d}", ">"),
        ("hotspot_id", "id", "{}", "<"),
        ("incidents", "incidents", "{:,d}", ">"),
        ("harm", "harm", "{:,.1f}", ">"),
        ("area_ha", "area ha", "{:.2f}", ">"),
        ("intensity", "per km2", "{:,.0f}", ">"),
        ("pai", "PAI", "{:.1f}", ">"),
        ("significant", "sig", "{}", "<"),
        ("temporal_class", "class", "{}", "<"),
        ("peak_window", "peak", "{}", "<"),
        ("top_location", "location", "{}", "<"),
    ]
    cols = [c for c in cols if c[0] in ranked.columns]
    if "harm" in ranked.columns and ranked["harm"].isna().all():
        cols = [c for c in cols if c[0] != "harm"]
    body = []
    for _, row in ranked.head(top).iterrows():
        cells = []
        for c, _label, fmt, _align in cols:
            v = row[c]
            try:
                text = fmt.format(int(v) if fmt.endswith("d}") else v)
            except (ValueError, TypeError):
                text = str(v)
            cells.append(text if text not in ("", "nan", "None") else "-")
        body.append(cells)
    widths = [
        max([len(label)] + [len(r[i]) for r in body]) for i, (_c, label, _f, _a) in enumerate(cols)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(
            f"{t:{a}{w}}" for t, w, (_c, _l, _f, a) in zip(cells, widths, cols, strict=True)
        ).rstrip()

    print(line([label for _c, label, _f, _a in cols]), file=out)
    for cells in body:
        print(line(cells), file=out)
    if len(ranked) > top:
        print(f"... {len(ranked) - top} more (see the output file)", file=out)


def _print_notes(obj: Any, args: argparse.Namespace, out: Any) -> None:
    if not args.quiet:
        for line in choices_of(obj).lines():
            print(line, file=out)


def _detect(
    args: argparse.Namespace, out: Any, places: Any = None, *, with_others: bool = False
) -> Any:
    """The detection of ``args``; with ``with_others`` (result, others) as :func:`_load`."""
    params = _method_params(args)  # parameter mistakes are reported before any file is read
    if args.map:
        _map_tiles(args)
    incidents, others = _load(args, with_others=True) if with_others else (_load(args), None)
    if not args.quiet:
        _print_report(incidents, out)
    result = workflows.detect_hotspots(
        incidents,
        args.method,
        order=args.order,
        alpha=args.alpha,
        significant_only=not args.include_all,
        progress=_progress(args),
        places=places,
        leave_out_proactive=args.leave_out_proactive,
        compare_proactive=True,
        **params,
    )
    _print_notes(result, args, out)
    return (result, others) if with_others else result


def _map_tiles(args: argparse.Namespace) -> str:
    from hotspots.mapping import resolve_tiles

    if not str(args.map).lower().endswith((".html", ".htm")):
        msg = f"--map must end in .html, got {Path(args.map).name!r}."
        raise ParameterError(msg)
    return resolve_tiles(args.tiles)


def _write_map(args: argparse.Namespace, result: Any, out: Any, plan: Any = None) -> None:
    if not args.map:
        return
    path = workflows.write_map(
        result,
        args.map,
        tiles=_map_tiles(args),
        attribution=args.tiles_attribution,
        plan=plan,
        progress=_progress(args),
    )
    print(f"Wrote the map (opens offline) to {path}", file=out)


def _hot_spots(n: int) -> str:
    """``"1 hot spot"``, ``"3 hot spots"``."""
    return f"{n:,} hot spot" + ("" if n == 1 else "s")


def _nothing_to_write(
    result: Any, args: argparse.Namespace, outcome: str = "nothing was written"
) -> str:
    """One line: why no hot spot is left, and the way forward."""
    found = int(result.params.get("n_hotspots", 0))
    one = result.one_place()
    if one:
        return f"{one}, so {outcome}."
    if not found:
        return (
            f"no hot spot was found with --method {args.method}, so {outcome}; try another "
            "--method, or more months of data."
        )
    return (
        f"none of the {_hot_spots(found)} found passed the significance test, so {outcome}; give "
        "the area's boundary with --study-area FILE, or keep every hot spot with --all."
    )


def _cmd_detect(args: argparse.Namespace, out: Any) -> int:
    if Path(args.out).suffix.lower() not in workflows.HOTSPOT_FORMATS:
        msg = f"--out must end in .geojson, .gpkg or .csv, got {Path(args.out).name!r}."
        raise ParameterError(msg)
    with workflows.compute_engine(args.engine, args.scheduler):
        result = _detect(args, out)
    if not len(result.hotspots):
        raise ParameterError(_nothing_to_write(result, args))
    path = workflows.write_hotspots(result, args.out, progress=_progress(args))
    _print_table(result.hotspots, args.top, out)
    print(f"Wrote {_hot_spots(len(result.hotspots))} to {path}", file=out)
    if workflows.HOTSPOT_FORMATS[path.suffix.lower()] == "csv":
        print(f"Wrote the run record to {workflows.run_record_path(path)}", file=out)
    _write_map(args, result, out)
    return 0


def _cmd_plan(args: argparse.Namespace, out: Any) -> int:
    from hotspots.boundaries import exclusion_zones, read_boundary
    from hotspots.places import read_user_places
    from hotspots.safeguards import read_stop_search

    places = (
        read_boundary(_existing(args.exclude, "--exclude"), polygons_only=False)
        if args.exclude
        else None
    )
    own = (
        read_user_places(_existing(args.exclude_places, "--exclude-places"))
        if args.exclude_places
        else None
    )
    stops = None
    if args.stop_search:
        stops = read_stop_search([_existing(f, "--stop-search") for f in args.stop_search])
    with workflows.compute_engine(args.engine, args.scheduler):
        result, others = _detect(args, out, places=own, with_others=True)
    areas = workflows.patrol_areas(
        result.incidents,
        result.hotspots,
        radius_m=args.radius,
        min_incidents=args.min_incidents,
        min_separation_m=args.min_separation,
        exclude=exclusion_zones(places, result.incidents.crs, buffer_m=args.exclude_buffer),
        max_areas=args.max_areas,
        places=own,
        others=others,
        progress=_progress(args),
    )
    if areas is None:
        raise ParameterError(_nothing_to_write(result, args, "there is nothing to plan"))
    plan = workflows.plan_patrols(
        result.incidents,
        result.hotspots,
        areas,
        params=result.params,
        days=args.days,
        officer_hours=args.officer_hours,
        officers_per_patrol=args.officers_per_patrol,
        visit_minutes=args.visit_minutes,
        control_share=args.control_share,
        dose=args.dose,
        seed=args.seed,
        start_date=args.start_date,
        progress=_progress(args),
        staffing=args.staffing,
        include_institutions=args.include_institutions,
        stop_search=stops,
        operation_start=args.operation_start,
    )
    _print_notes(plan.choices, args, out)
    written = workflows.write_plan(
        plan,
        args.out_dir,
        pdf=args.pdf,
        progress=_progress(args),
        tiles=args.briefing_tiles,
        tiles_attribution=args.tiles_attribution,
    )
    if args.teams:
        from hotspots.tasking import read_teams

        teams = read_teams(_existing(args.teams, "--teams"))
        zone = {} if args.time_zone is None else {"time_zone": args.time_zone}
        tasked = workflows.task_teams(
            plan,
            teams,
            **zone,
            walking_speed_kmh=args.walking_speed,
            use_peak_days=not args.any_day,
            progress=_progress(args),
        )
        _print_notes(tasked, args, out)
        written |= workflows.write_team_plan(tasked, args.out_dir, pdf=args.pdf)
    _print_table(result.hotspots, 10, out)
    for name, p in written.items():
        print(f"Wrote {name}: {p}", file=out)
    _write_map(args, result, out, plan=plan)
    return 0


def _cell(row: Any, n_origins: int) -> str:
    """Hit rate and PAI of one reading, 14 characters: "-" when the forecast does not reach it,
    a "*" when it reaches it at only some origins."""
    if row is None or not bool(row["n_origins"]) or not np.isfinite(row["hit_rate"]):
        return f"{'-':>13} "
    mark = "*" if int(row["n_origins"]) < n_origins else " "
    return f"{row['hit_rate']:>6.1%} {row['pai']:>6.1f}{mark}"


def _print_evaluation(res: Any, out: Any) -> None:
    """The means over the origins: every forecast at equal coverage, the discs at equal counts."""
    names_of = res.params["labels"]
    s = res.summary
    n = len(res.origins)
    how = (
        f"{n} rolling origin(s) ({', '.join(res.origins)}): each month forecast from every month "
        "before it"
        if not res.origins[0].endswith(" on")
        else f"one split: forecast from the months before {res.origins[0][:7]}, tested from it on"
    )
    area = res.table.groupby("origin")["study_area_km2"].first().mean()
    print(f"Scored on later months, {how}; figures are means over the origins.", file=out)
    print(
        f"Study area {area:,.1f} km², {res.params['study_area']}. Hit rate = share of the test "
        "month's violence caught; PAI = hit rate / share of the study area.",
        file=out,
    )

    def block(at: str, names: list[str], title: str) -> None:
        part = s[s["at"] == at]
        labels = list(dict.fromkeys(part["label"]))
        if not labels:
            return
        heads = []
        for lab in labels:
            if lab == "all":
                k = part.loc[part["label"] == "all", "target"].mean()
                lab = f"all ({k:.0f})"
            heads.append(f"{lab:>13} ")
        print(f"\n{title}", file=out)
        print((f"{'':<24} " + " ".join(heads)).rstrip(), file=out)
        print((f"{'':<24} " + " ".join(f"{'hit    PAI':>13} " for _ in labels)).rstrip(), file=out)
        for name in names:
            rows = part[part["forecast"] == name]
            if rows.empty:
                continue
            cells = []
            for lab in labels:
                r = rows[rows["label"] == lab]
                cells.append(_cell(r.iloc[0] if len(r) else None, n))
            line = f"{names_of.get(name, name):<24} " + " ".join(cells)
            print(line.rstrip(), file=out)

    forecasts = list(dict.fromkeys(s["forecast"]))
    block("coverage", forecasts, "At equal coverage (share of the study area):")
    radius = res.params["disc_radius_m"]
    block(
        "discs",
        list(res.params["disc_forecasts"]),
        f"At equal numbers of {2 * radius:g} m discs (patrol areas beside the baselines):",
    )
    if (s["n_origins"].between(1, n - 1)).any():
        print("* reached at only some origins: the mean over those.", file=out)
    # one line each: the best forecast at 1 % and at the top 20 discs
    for at, label in (("coverage", "1%"), ("discs", "top 20")):
        r = s[(s["at"] == at) & (s["label"] == label) & (s["n_origins"] == n)]
        if len(r):
            b = r.loc[r["hit_rate"].idxmax()]
            print(
                f"Best at {label}: {names_of.get(b['forecast'], b['forecast'])} "
                f"(hit rate {b['hit_rate']:.1%}, PAI {b['pai']:.1f}, PEI {b['pei']:.2f}).",
                file=out,
            )


def _cmd_evaluate(args: argparse.Namespace, out: Any) -> int:
    methods = workflows.check_methods(m.strip() for m in args.methods.split(",") if m.strip())
    for option, suffix in (("out", ".csv"), ("plot", ".png")):
        value = getattr(args, option)
        if value and Path(value).suffix.lower() != suffix:
            msg = f"--{option} must end in {suffix}, got {Path(value).name!r}."
            raise ParameterError(msg)
    if args.origins is not None and args.test_from:
        msg = "--origins and --test-from are alternatives; give one."
        raise ParameterError(msg)
    incidents, others = _load(args, with_others=True)
    if not args.quiet:
        _print_report(incidents, out)
    _print_notes(incidents, args, out)
    res = workflows.evaluate_forecasts(
        incidents,
        methods=methods,
        origins=args.origins,
        first_test_month=args.test_from,
        progress=_progress(args),
        others=others,
    )
    _print_evaluation(res, out)
    if not args.quiet:
        last = f"Origin {res.origins[-1]}: "
        for note in res.notes:
            if not note.startswith("Origin ") or note.startswith(last):
                print(note, file=out)
    if args.out:
        path = workflows.write_evaluation_table(res, args.out)
        print(f"Wrote the table (every origin, then the means; with PEI) to {path}", file=out)
    if args.plot:
        path = workflows.write_evaluation_plot(res, args.plot)
        print(f"Wrote the curves to {path}", file=out)
    return 0


def _cmd_classify(args: argparse.Namespace, out: Any) -> int:
    incidents = _load_reported(args, out)
    res = workflows.classify_over_time(
        incidents,
        cell_size=args.cell_size,
        period_months=args.period_months,
        alpha=args.alpha,
        progress=_progress(args),
    )
    _print_notes(res, args, out)
    Path(args.out).write_text(workflows.classification_geojson(res, incidents), encoding="utf-8")
    counts = res.params["category_counts"]  # every class but "no pattern", with its cells
    print(f"{'category':<28} {'cells':>6}", file=out)
    for cat in sorted(counts, key=lambda c: -counts[c]):  # most cells first
        print(f"{cat:<28} {int(counts[cat]):>6}", file=out)
    print(f"Wrote {len(res.areas)} areas to {args.out}", file=out)
    return 0


def _cmd_change(args: argparse.Namespace, out: Any) -> int:
    if Path(args.out).suffix.lower() != ".geojson":
        msg = f"--out must end in .geojson, got {Path(args.out).name!r}."
        raise ParameterError(msg)
    incidents = _load_reported(args, out)
    res = workflows.change_between_periods(
        incidents,
        split=args.split,
        cell_size=args.cell_size,
        fdr=args.fdr,
        progress=_progress(args),
    )
    _print_notes(res, args, out)
    text = workflows.period_change_geojson(res, incidents, all_cells=args.all_cells)
    Path(args.out).write_text(text, encoding="utf-8")
    cells = res.cells
    for label in ("rose", "fell"):
        rows = cells[cells["change_class"] == label].head(max(0, args.top))
        if not len(rows):
            continue
        print(f"{label:<5} {'cell':<7} {'before':>6} {'after':>6} {'q':>7}  location", file=out)
        for r in rows.itertuples():
            print(
                f"{'':<5} {r.cell_id:<7} {r.before:>6,} {r.after:>6,} {r.q_value:>7.4f}  "
                f"{r.top_location}",
                file=out,
            )
    print(_change_summary(res.counts(), int(cells["tested"].sum()), len(cells), args), file=out)
    return 0


def _change_summary(counts: dict[str, int], tested: int, cells: int, args: Any) -> str:
    """What ``hotspots change`` wrote, in a sergeant's words: the cells tested (those that hold
    enough incidents to show a change) split into rose, fell and no clear change, and the cells
    too small to test said apart, not counted as showing no change."""
    steady = tested - counts["rose"] - counts["fell"]
    untested = cells - tested
    said = f"{counts['rose']:,} rose, {counts['fell']:,} fell, {steady:,} showed no clear change"
    if args.all_cells:
        return (
            f"Wrote all {cells:,} cells with an incident to {args.out}. Of the {tested:,} that "
            f"hold enough incidents to show a change, {said}; the other {untested:,} hold too few "
            "to tell."
        )
    return (
        f"Wrote the {tested:,} cells that hold enough incidents to show a change to {args.out} "
        f"(of {cells:,} cells with an incident): {said}. The other {untested:,} hold too few "
        "incidents to tell (--all-cells writes them too)."
    )


def _cmd_track(args: argparse.Namespace, out: Any) -> int:
    from hotspots.tracking import write_tracking_outputs

    plan_dir = _existing(args.plan_dir, "PLAN_DIR")
    logs = [_existing(p, "LOGS") for p in args.logs]
    res = write_tracking_outputs(
        plan_dir,
        logs,
        args.out_dir,
        tz=args.tz,
        max_gap_s=args.max_gap,
        tolerance_m=args.tolerance,
        columns=_parse_columns(args.column),
        pdf=args.pdf,
    )
    if not args.quiet:
        said = [res.zone_choice.note + " Give --tz for another."] if res.zone_choice else []
        for note in [*said, *res.logs.notes, *res.compliance.notes]:
            print(f"- {note}", file=out)
    for name, p in res.paths.items():
        print(f"Wrote {name}: {p}", file=out)
    if res.logs.report.n_used == 0:
        msg = "none of the patrol log rows could be used; see rejected_rows.csv for why."
        raise InputError(msg, file=str(res.paths["rejected_rows"]))
    return 0


def _add_track_parser(sub: Any) -> None:
    """The ``track`` command's arguments: a plan folder, patrol logs and how to read them."""
    tr = sub.add_parser(
        "track", help="patrol logs (GPS/AVL) against a plan: delivered, short, missed, unplanned"
    )
    tr.add_argument("plan_dir", metavar="PLAN_DIR", help="the folder `hotspots plan` wrote")
    tr.add_argument(
        "logs", nargs="+", metavar="LOGS", help="CSV, GPX or GeoJSON patrol logs, or folders"
    )
    tr.add_argument("--out-dir", required=True, help="folder for the outputs")
    tr.add_argument(
        "--tz",
        default=None,
        help="time zone of log times without a UTC offset and of the plan's clock times "
        "(default: the zone where the patrol areas are, e.g. Europe/London)",
    )
    tr.add_argument(
        "--max-gap",
        type=float,
        default=constants.GPS_GAP_S,
        metavar="S",
        help="seconds of GPS gap or excursion that do not split a visit (default %(default)g)",
    )
    tr.add_argument(
        "--tolerance",
        type=float,
        default=constants.GPS_TOLERANCE_M,
        metavar="M",
        help="metres outside an area that still count as presence (default %(default)g)",
    )
    tr.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ROLE=NAME",
        help="map a log column (roles: unit, datetime, date, lat, lon, easting, northing)",
    )
    tr.add_argument(
        "--pdf", action="store_true", help="also print tracking_report.pdf with a local Chromium"
    )


def _add_demo_and_app_parsers(sub: Any) -> None:
    """``hotspots demo`` (the demo CSV, or ``--national`` files) and ``hotspots app``."""
    de = sub.add_parser(
        "demo", help="write the synthetic demo CSV, or synthetic national police.uk files"
    )
    de.add_argument(
        "-o",
        "--out",
        default=None,
        help="where to write (default geodata/demo_incidents.csv in a source checkout, "
        "hotspots_demo_incidents.csv in the temporary folder for an installed package)",
    )
    de.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default: a fixed one, printed with the output)",
    )
    de.add_argument("--if-missing", action="store_true", help="only write it if it does not exist")
    de.add_argument(
        "--national",
        metavar="DIR",
        default=None,
        help="write SYNTHETIC police.uk street files for all 43 forces, 12 months, into DIR",
    )
    de.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in all --national files (default 1M)"
    )

    ap = sub.add_parser("app", help="start the Streamlit app (needs the [app] extra)")
    ap.add_argument("--port", type=int, default=None, help="TCP port (default 8501)")
    ap.add_argument("--script", default=None, help="the app's main script (default: app.py)")
    ap.add_argument(
        "--data",
        default=None,
        help="a folder of CSV files or a Parquet dataset on this server for the app to open "
        "(sets HOTSPOTS_DATA; national data does not go through a browser upload)",
    )


def _add_assess_parser(sub: Any) -> None:
    asp = sub.add_parser(
        "assess",
        help="did it work? patrol against control days, before/after, dose, displacement",
    )
    asp.add_argument("plan_dir", metavar="PLAN_DIR", help="the folder `hotspots plan` wrote")
    _add_input_options(asp)
    asp.add_argument("--out-dir", required=True, help="folder for the outputs")
    asp.add_argument(
        "--logs",
        nargs="+",
        metavar="LOGS",
        help="GPS/AVL patrol logs (CSV, GPX, GeoJSON) or folders: delivered minutes, contamination",
    )
    asp.add_argument(
        "--tz",
        default=None,
        help="time zone of log times without a UTC offset and of the plan's clock times "
        "(default: the zone where the patrol areas are, e.g. Europe/London)",
    )
    asp.add_argument(
        "--buffer",
        type=float,
        action="append",
        metavar="M",
        help="displacement buffer around the patrol areas in metres (repeatable; default 100)",
    )
    asp.add_argument(
        "--before",
        nargs=2,
        metavar=("FIRST", "LAST"),
        help="first and last day (YYYY-MM-DD) of the period before the operation (default: as "
        "many days as the operation, just before it)",
    )


def _cmd_assess(args: argparse.Namespace, out: Any) -> int:
    from hotspots.assess import assess_plan_folder, write_assessment

    plan_dir = _existing(args.plan_dir, "PLAN_DIR")
    logs = [_existing(p, "--logs") for p in args.logs] if args.logs else None
    incidents = _load(args)
    if not args.quiet:
        _print_report(incidents, out)
    if logs and args.tz is None and not args.quiet:
        from hotspots.tasking import time_zone_of_areas
        from hotspots.tracking import read_patrol_areas

        chosen = time_zone_of_areas(read_patrol_areas(plan_dir))
        print(f"- {chosen.note} Give --tz for another.", file=out)
    result = assess_plan_folder(
        plan_dir,
        incidents,
        log_paths=logs,
        tz=args.tz,
        buffers_m=tuple(args.buffer) if args.buffer else (100.0,),
        before=tuple(args.before) if args.before else None,
    )
    if not args.quiet:
        for note in result.notes:
            print(f"- {note}", file=out)
    for e in result.estimates:
        print(
            f"{e.label}: rate ratio {e.rate_ratio:.2f} ({e.ci_low:.2f} to {e.ci_high:.2f}), "
            f"{e.change_text()}; n = {e.n_units}, {e.incidents} incidents",
            file=out,
        )
    for f in result.findings:
        print(f"[{f.kind}] {f.text}", file=out)
    for name, p in write_assessment(result, args.out_dir).items():
        print(f"Wrote {name}: {p}", file=out)
    return 0


def _add_change_parser(sub: Any) -> None:
    """``hotspots change``: places that rose or fell between two periods."""
    ch = sub.add_parser(
        "change",
        help="places that rose or fell between two periods more than the area as a whole "
        "(two periods are enough)",
        description="Split the incidents at one date into before and after and test every "
        "150 m cell's share after the split against the whole area's (a conditional binomial "
        "test, scaled for over-dispersion, false discovery rate over the cells that can be "
        "significant). Writes the cells that hold enough incidents to show a change as GeoJSON "
        "(--all-cells: every cell with an incident).",
    )
    _add_input_options(ch)
    ch.add_argument(
        "--split",
        metavar="YYYY-MM[-DD]",
        help="first day of the later period (default: the later half of the months with data)",
    )
    _add_cell_size(ch)
    ch.add_argument(
        "--fdr", type=float, default=0.05, help="false discovery rate of the labels (default 0.05)"
    )
    ch.add_argument("--top", type=int, default=10, help="cells of each kind to print")
    ch.add_argument(
        "--all-cells",
        action="store_true",
        help="write every cell with an incident, not only those that hold enough incidents to "
        "show a change",
    )
    ch.add_argument(
        "-o",
        "--out",
        default="change.geojson",
        help="output GeoJSON of the cells (every cell "
        "with an incident, labelled rose, fell or no clear change)",
    )


def _add_cell_size(parser: Any) -> None:
    """``--cell-size M`` (the micro place by default), as ``classify`` and ``change`` take it."""
    parser.add_argument(
        "--cell-size",
        type=float,
        default=constants.MICRO_PLACE_M,
        metavar="M",
        help="grid cell size in metres (default %(default)g)",
    )


def _add_simulate_parser(sub: Any) -> None:
    si = sub.add_parser(
        "simulate",
        help="synthetic patrol logs or later incidents for a plan (walk-throughs and training)",
        description="Synthetic data for a plan folder written by `hotspots plan`: GPS patrol logs "
        "with a known delivery (70 % delivered, 15 % short, 15 % missed, a few control "
        "visits), or incidents before and during the operation with a known true effect. "
        "Never real data: every file says so in its name and this command's output.",
    )
    si.add_argument("what", choices=("logs", "operation"), help="what to simulate")
    si.add_argument("plan_dir", metavar="PLAN_DIR", help="the folder `hotspots plan` wrote")
    si.add_argument("-o", "--out", required=True, help="CSV to write")
    si.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    si.add_argument(
        "--effect",
        type=float,
        default=0.8,
        help="operation: true rate ratio on patrol area-days (default %(default)g: 20 %% fewer)",
    )
    si.add_argument(
        "--rate",
        type=float,
        default=0.5,
        help="operation: incidents per area per day without patrol (default %(default)g)",
    )


def _cmd_simulate(args: argparse.Namespace, out: Any) -> int:
    from hotspots import assess, tracking

    plan = tracking.read_plan(args.plan_dir)
    areas = tracking.read_patrol_areas(args.plan_dir)
    if args.what == "logs":
        from hotspots.tasking import time_zone_of_areas

        # the plan's clock times are where its areas are, as `hotspots track` reads them
        zone = time_zone_of_areas(areas).zone
        sim = tracking.simulate_patrol_logs(plan, areas, seed=args.seed, tz=zone)
        path = tracking.write_patrol_log(sim.points, args.out)
        t = sim.truth
        print(
            f"Wrote SYNTHETIC patrol logs ({len(sim.points)} fixes, seed {args.seed}) to {path}: "
            f"{t['delivered']} of {t['planned_visits']} planned visits delivered, {t['short']} "
            f"short, {t['missed']} missed.",
            file=out,
        )
        return 0
    inc = assess.simulate_operation(
        plan, areas, effect=args.effect, baseline_rate=args.rate, seed=args.seed
    )
    path = assess.write_simulated_incidents(inc, args.out)
    print(
        f"Wrote {len(inc.frame)} SYNTHETIC incidents (true rate ratio {args.effect:g} on patrol "
        f"area-days, seed {args.seed}) to {path}.",
        file=out,
    )
    return 0


def _add_profile_parser(sub: Any) -> None:
    pr = sub.add_parser(
        "profile",
        help="problem profile of violence: scale, trend, concentration, places, change over "
        "time, other crime, hold-out evidence, tactics; several forces side by side",
    )
    _add_input_options(pr)
    pr.add_argument("--out-dir", required=True, help="folder for the outputs")
    pr.add_argument("--method", choices=("kde", "dbscan", "hdbscan", "gistar"), default="kde")
    pr.add_argument("--top", type=int, default=10, help="places listed per force (default 10)")
    pr.add_argument(
        "--staffing",
        choices=("dedicated_pairs", "response_between_calls", "pcso"),
        default="dedicated_pairs",
        help="who patrols, for the recommended tactics (default %(default)s)",
    )
    pr.add_argument("--no-pdf", action="store_true", help="write the HTML only")
    pr.add_argument(
        "--no-evaluate", action="store_true", help="leave out the hold-out evaluation (faster)"
    )
    pr.add_argument(
        "--no-classify", action="store_true", help="leave out the change-over-time classes"
    )
    pr.add_argument("--one-area", action="store_true", help="profile all files as one area")
    pr.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes profiling forces side by side (default: one per CPU)",
    )


def _cmd_profile(args: argparse.Namespace, out: Any) -> int:
    from hotspots.problem import read_by_force

    if args.top < 1:
        msg = f"--top must be at least 1, got {args.top}."
        raise ParameterError(msg)
    if args.jobs is not None and args.jobs < 1:
        msg = f"--jobs must be at least 1, got {args.jobs}."
        raise ParameterError(msg)
    violence = _crime_types(args.crime_types)
    args.crime_types = "all"  # every type is read: other crime and ASB around the places
    forces: dict[str, Any] = {}

    def by_force(sources: Any, *, crime_types: Any, **options: Any) -> Any:
        # every file read once; each force's files are made into its incidents on their own
        # (its outliers, area, months) where it is profiled
        pooled, found = read_by_force(sources, **options)
        forces.update(found)
        return pooled

    incidents = _load(args, reader=workflows.read_inputs if args.one_area else by_force)
    if not args.quiet:
        _print_report(incidents, out)
    if forces:  # each force is made from its own files: the whole input is not kept
        incidents = forces
    profile = workflows.profile_problem(
        incidents,
        crime_types=violence,
        method=args.method,
        top=args.top,
        staffing=args.staffing,
        evaluate=not args.no_evaluate,
        classify=not args.no_classify,
        by_force=not args.one_area,
        jobs=args.jobs,
        progress=_progress(args),
    )
    _print_notes(profile.choices, args, out)
    written = workflows.write_problem_profile(
        profile, args.out_dir, pdf=False if args.no_pdf else "auto", progress=_progress(args)
    )
    if not args.no_pdf and "pdf" not in written:
        print("No Chromium found: the PDF was not written (print the HTML instead).", file=out)
    for f in profile.forces:
        s = f.summary()
        print(
            f"{s['force']}: {s['incidents']:,} violent incidents, {s['first_month']} to "
            f"{s['last_month']}; {s['hotspots']} hot spots; top 1 % of 150 m cells hold "
            f"{100 * s['cells_1pct']:.1f} % of violence.",
            file=out,
        )
    for name, p in written.items():
        print(f"Wrote {name}: {p}", file=out)
    return 0


def _cmd_demo(args: argparse.Namespace, out: Any) -> int:
    from hotspots import demo

    if args.national:
        from hotspots import synthetic

        seed = synthetic.NATIONAL_SEED if args.seed is None else args.seed
        files = synthetic.write_national(args.national, rows=args.rows, seed=seed)
        print(
            f"Wrote {len(files)} SYNTHETIC police.uk street files ({args.rows:,} rows, "
            f"{len(synthetic.FORCES)} forces x 12 months, seed {seed}) to {args.national}",
            file=out,
        )
        return 0

    path = Path(args.out) if args.out else demo.DEMO_CSV
    if args.if_missing and path.exists():
        return 0
    seed = demo.DEMO_SEED if args.seed is None else args.seed
    demo.write_demo(path, seed)
    print(f"Wrote the synthetic demo data set (seed {seed}) to {path}", file=out)
    return 0


def _cmd_app(args: argparse.Namespace, out: Any) -> int:
    from hotspots.launch import run_app

    return run_app(args.script, port=args.port, data=args.data)


#: Options naming a file a command writes (its folder must exist: nothing is created for it).
_OUTPUT_OPTIONS = ("out", "map", "plot", "report", "rejected")
#: OSError numbers that describe the user's paths or machine, reported as errors, not bugs.
_USER_OS_ERRORS = frozenset(
    getattr(errno, name)
    for name in ("ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ENOSPC", "EROFS", "EDQUOT")
    + ("ENAMETOOLONG",)
    if hasattr(errno, name)
)


def _check_output_paths(args: argparse.Namespace) -> None:
    """Stop before any work when an output file's folder is missing or not writable, or the
    path names a folder."""
    for name in _OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        if not value:
            continue
        option = "-o/--out" if name == "out" else f"--{name}"
        path = Path(value)
        folder = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            msg = f"{option} {value!r} is a folder; give the name of a file in it."
            raise ParameterError(msg)
        if args.command == "demo" and not folder.exists():
            continue  # `hotspots demo` makes the folders of its file
        out_dir = getattr(args, "out_dir", None)
        if out_dir and not folder.exists() and folder.absolute() == Path(out_dir).absolute():
            folder.mkdir(parents=True, exist_ok=True)  # the command's own --out-dir, made now
        if not folder.is_dir():
            msg = (
                f"{option} {value!r}: the folder {str(folder)!r} does not exist; create it "
                "first or choose another path."
            )
            raise ParameterError(msg)
        if not os.access(folder, os.W_OK):
            msg = f"{option} {value!r}: the folder {str(folder)!r} is not writable."
            raise ParameterError(msg)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    bars = None if args.quiet or not sys.stderr.isatty() else _ProgressBars()
    args.progress = bars
    handlers = {
        "detect": _cmd_detect,
        "plan": _cmd_plan,
        "evaluate": _cmd_evaluate,
        "classify": _cmd_classify,
        "change": _cmd_change,
        "track": _cmd_track,
        "assess": _cmd_assess,
        "simulate": _cmd_simulate,
        "profile": _cmd_profile,
        "demo": _cmd_demo,
        "app": _cmd_app,
    }
    try:
        _check_output_paths(args)  # before any file is read: a wrong path costs no wait
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                code = handlers[args.command](args, out)
            finally:  # a bar left open would share its line with the next message
                if bars is not None:
                    bars.close()
        for w in caught:
            if not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning):
                print(f"warning: {w.message}", file=sys.stderr)
        return code
    except HotspotsError as exc:
        print(f"hotspots: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hotspots: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _USER_OS_ERRORS:
            return _internal_error(exc)
        # the machine's answer about a path the user gave (a full disk, a folder without write
        # permission, a file removed while the command ran): not a bug of ours
        where = f" {exc.filename!r}" if exc.filename else ""
        print(
            f"hotspots: error: could not write or read{where}: {exc.strerror or exc}. Check the "
            "path, its folder's permissions and the free space.",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    """Say an unexpected exception is a bug of ours (exit code 1)."""
    if os.environ.get("HOTSPOTS_DEBUG"):
        traceback.print_exception(exc)
    print(
        f"hotspots: internal error ({type(exc).__name__}: {exc}). This is a bug; please report "
        "it with the command you ran (set HOTSPOTS_DEBUG=1 to see the traceback).",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
