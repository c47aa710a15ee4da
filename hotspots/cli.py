"""The ``hotspots`` command.

``hotspots detect INPUT...`` finds, ranks and exports hot spots; ``hotspots plan INPUT... --out-dir
DIR`` also writes patrol areas, a patrol plan (CSV and iCalendar) and a printable briefing;
``hotspots classify INPUT...`` finds persistent and emerging hot spots over time;
``hotspots evaluate INPUT... --test-from YYYY-MM`` compares methods on a later period (hit
rate, PAI, PEI); ``hotspots demo`` writes the synthetic demo CSV.

Exit codes: 0 success; 2 bad input or parameters (one readable message on stderr, no traceback);
1 internal error (a bug: the message says so; set ``HOTSPOTS_DEBUG=1`` for the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hotspots import __version__, constants
from hotspots._errors import HotspotsError, InputError, ParameterError

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
GISTAR_OPTIONS = ("cell_size", "neighbour_distance", "null")
METHOD_OPTIONS = {
    "kde": KDE_OPTIONS,
    "dbscan": DBSCAN_OPTIONS,
    "hdbscan": HDBSCAN_OPTIONS,
    "gistar": GISTAR_OPTIONS,
}


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument("inputs", nargs="+", metavar="INPUT", help="CSV files or folders of CSV files")
    g.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ROLE=NAME",
        help="map a column explicitly (roles: lon, lat, easting, northing, date, time, datetime, month, "
        "crime_type, weight, id, location); repeatable",
    )
    g.add_argument(
        "--crime-types",
        default="default",
        metavar="LIST",
        help="'default' (violence-related police.uk types), 'all', or a comma-separated list of types",
    )
    g.add_argument(
        "--harm-weights",
        metavar="FILE",
        help="CSV (crime_type,weight) or JSON object of harm weights",
    )
    g.add_argument(
        "--study-area", metavar="GEOJSON", help="study-area polygon; incidents outside are rejected"
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
    g.add_argument("--method", choices=("kde", "dbscan", "hdbscan", "gistar"), default="kde")
    g.add_argument(
        "--order",
        choices=("intensity", "count", "harm", "peak"),
        default="intensity",
        help="ranking rule",
    )
    g.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
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
        "--null", choices=("poisson", "negative-binomial", "normal"), help="null distribution"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hotspots", description="Patrol-sized violence hot spots from incident CSVs."
    )
    p.add_argument("--version", action="version", version=f"hotspots {__version__}")
    p.add_argument("--quiet", action="store_true", help="do not print the automatic choices")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("detect", help="find, rank and export hot spots")
    _add_input_options(d)
    _add_method_options(d)
    d.add_argument("--out", default="patrol_areas.geojson", help="output: .geojson, .gpkg or .csv")
    d.add_argument("--top", type=int, default=20, help="rows of the summary table to print")

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
    pl.add_argument("--start-date", help="first day of the plan, YYYY-MM-DD (default: tomorrow)")
    pl.add_argument("--seed", type=int, help="random seed (recorded in the outputs)")
    pl.add_argument(
        "--radius",
        type=float,
        default=constants.MICRO_PLACE_RADIUS_M,
        metavar="M",
        help=f"patrol area radius in metres (default %(default)g: {constants.MICRO_PLACE_M:g} m across)",
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
    pl.add_argument(
        "--exclude",
        metavar="GEOJSON",
        help="places to leave out (hospitals, prisons); points and lines are buffered",
    )
    pl.add_argument(
        "--pdf", action="store_true", help="also print briefing.pdf with a local Chromium (offline)"
    )
    pl.add_argument(
        "--exclude-buffer",
        type=float,
        default=50.0,
        metavar="M",
        help="buffer for excluded points and lines (default 50 m)",
    )

    ev = sub.add_parser(
        "evaluate", help="hold-out evaluation: hit rate, PAI and PEI on a later period"
    )
    _add_input_options(ev)
    ev.add_argument(
        "--test-from", required=True, metavar="YYYY-MM", help="first month of the test period"
    )
    ev.add_argument(
        "--methods", default="kde,dbscan,gistar", help="comma-separated methods to compare"
    )
    ev.add_argument("--out", help="also write the table as CSV here")

    cl = sub.add_parser(
        "classify", help="persistent, emerging, former and intermittent hot spots over time"
    )
    _add_input_options(cl)
    cl.add_argument(
        "--cell-size",
        type=float,
        default=constants.MICRO_PLACE_M,
        metavar="M",
        help="grid cell size in metres (default %(default)g)",
    )
    cl.add_argument(
        "--period-months", type=int, help="months per period (default: by the data's span)"
    )
    cl.add_argument(
        "--recent-periods", type=int, help="periods that count as recent (default: the last fifth)"
    )
    cl.add_argument(
        "--alpha", type=float, default=0.05, help="false discovery rate per period (default 0.05)"
    )
    cl.add_argument(
        "--out", default="emerging.geojson", help="output GeoJSON of the classified areas"
    )

    de = sub.add_parser("demo", help="write the synthetic demo CSV")
    de.add_argument(
        "--out", default=None, help="where to write (default geodata/demo_incidents.csv)"
    )
    de.add_argument("--seed", type=int, default=None)
    de.add_argument("--if-missing", action="store_true", help="only write it if it does not exist")

    ap = sub.add_parser("app", help="start the Streamlit app (needs the [app] extra)")
    ap.add_argument("--port", type=int, default=None, help="TCP port (default 8501)")
    ap.add_argument("--script", default=None, help="the app's main script (default: app.py)")
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


def _existing(path: str, option: str) -> Path:
    """``path`` as a Path, or an InputError naming the option it was given to."""
    p = Path(path)
    if not p.exists():
        msg = "no such file or folder."
        raise InputError(msg, file=str(p), hint=f"check the path given to {option}.")
    return p


def _read_harm_weights(path: str | None) -> dict[str, float] | None:
    if not path:
        return None
    p = _existing(path, "--harm-weights")
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"not valid JSON ({exc.msg})."
            raise InputError(
                msg, file=p.name, row=exc.lineno, hint='write {"Crime type": weight, ...}.'
            ) from None
        if not isinstance(data, dict):
            msg = "expected a JSON object of crime type -> weight."
            raise InputError(msg, file=p.name)
        items = list(data.items())
    else:
        import csv

        rows = list(csv.reader(text.splitlines()))
        items = [(r[0], r[1]) for r in rows[1:] if len(r) >= 2]
    weights = {}
    for i, (k, v) in enumerate(items, start=2):
        try:
            w = float(str(v).replace(",", "."))
        except ValueError:
            msg = f"weight {v!r} for {k!r} is not a number."
            raise InputError(
                msg, file=p.name, row=i, column="weight", hint="use numbers like 365 or 0.5."
            ) from None
        if not w >= 0:
            msg = f"weight {v!r} for {k!r} is negative or not a number."
            raise InputError(msg, file=p.name, row=i, column="weight", hint="weights must be >= 0.")
        weights[str(k)] = w
    return weights


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


def _load(args: argparse.Namespace) -> Any:
    from hotspots.ingest import read_incidents

    kwargs: dict[str, Any] = {
        "columns": _parse_columns(args.column),
        "crime_types": _crime_types(args.crime_types),
        "harm_weights": _read_harm_weights(args.harm_weights),
        "study_area": args.study_area,
        "date_from": args.date_from,
        "date_to": args.date_to,
    }
    if args.outlier_km is not None:
        kwargs["outlier_km"] = args.outlier_km
    for item in args.inputs:
        _existing(item, "INPUT")
    incidents = read_incidents(args.inputs if len(args.inputs) > 1 else args.inputs[0], **kwargs)
    rep = incidents.report
    if args.report:
        Path(args.report).write_text(rep.to_json(indent=2), encoding="utf-8")
    if args.rejected:
        from hotspots.export import table_to_csv

        Path(args.rejected).write_text(table_to_csv(rep.rejected), encoding="utf-8")
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


def _detect(args: argparse.Namespace, out: Any) -> Any:
    from hotspots.detect import detect

    params = _method_params(args)  # parameter mistakes are reported before any file is read
    incidents = _load(args)
    if not args.quiet:
        _print_report(incidents, out)
    result = detect(incidents, args.method, order=args.order, alpha=args.alpha, **params)
    if not args.include_all:
        kept = result.hotspots[result.hotspots["significant"]].reset_index(drop=True)
        result.params["exported"] = "significant hot spots only (use --all for every hot spot)"
        result.hotspots = kept
    if not args.quiet:
        for note in result.notes:
            print(f"- {note}", file=out)
    return result


def _cmd_detect(args: argparse.Namespace, out: Any) -> int:
    from hotspots import export

    result = _detect(args, out)
    path = Path(args.out)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        path.write_text(export.to_geojson(result), encoding="utf-8")
    elif suffix == ".gpkg":
        path.write_bytes(export.to_geopackage(result))
    elif suffix == ".csv":
        path.write_text(export.to_csv(result), encoding="utf-8")
    else:
        msg = f"--out must end in .geojson, .gpkg or .csv, got {path.name!r}."
        raise ParameterError(msg)
    _print_table(result.hotspots, args.top, out)
    print(f"Wrote {len(result.hotspots)} hot spots to {path}", file=out)
    return 0


def _read_exclusions(path: str | None, crs: Any, buffer_m: float) -> Any:
    """Places to exclude from patrol areas, in the analysis CRS (points and lines buffered)."""
    if not path:
        return None
    import geopandas as gpd

    p = _existing(path, "--exclude")
    try:
        places = gpd.read_file(p)
    except Exception as exc:
        msg = f"could not be read as GeoJSON ({type(exc).__name__})."
        raise InputError(
            msg, file=p.name, hint="give a GeoJSON FeatureCollection of points or polygons."
        ) from None
    if places.crs is None:
        places = places.set_crs(4326)
    places = places.to_crs(crs)
    geoms = places.geometry
    polygonal = geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    return gpd.GeoSeries(geoms.where(polygonal, geoms.buffer(buffer_m)), crs=crs)


def _cmd_plan(args: argparse.Namespace, out: Any) -> int:
    from hotspots.patrol import write_plan_outputs

    result = _detect(args, out)
    exclude = _read_exclusions(args.exclude, result.incidents.crs, args.exclude_buffer)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = write_plan_outputs(
        result.incidents,
        result.hotspots,
        out_dir,
        days=args.days,
        officer_hours=args.officer_hours,
        officers_per_patrol=args.officers_per_patrol,
        control_share=args.control_share,
        seed=args.seed,
        start_date=args.start_date,
        params=result.params,
        radius_m=args.radius,
        min_incidents=args.min_incidents,
        min_separation_m=args.min_separation,
        max_areas=args.max_areas,
        visit_minutes=args.visit_minutes,
        exclude=exclude,
    )
    if args.pdf:
        from hotspots.briefing import html_to_pdf

        written["briefing_pdf"] = html_to_pdf(written["briefing"], out_dir / "briefing.pdf")
    _print_table(result.hotspots, 10, out)
    for name, p in written.items():
        print(f"Wrote {name}: {p}", file=out)
    return 0


def _cmd_evaluate(args: argparse.Namespace, out: Any) -> int:
    from hotspots.detect import METHODS
    from hotspots.evaluate import holdout

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        msg = f"--methods must be a comma-separated list of {', '.join(METHODS)}; got {args.methods!r}."
        raise ParameterError(msg)
    incidents = _load(args)
    if not args.quiet:
        _print_report(incidents, out)
    table = holdout(incidents, args.test_from, methods=methods)
    print(f"Hot spots built before {args.test_from}, scored on {args.test_from} onwards:", file=out)
    print(
        f"{'method':<8} {'hot spots':>9} {'coverage':>9} {'hit rate':>9} {'PAI':>7} {'PEI':>6}",
        file=out,
    )
    for _, r in table.iterrows():
        print(
            f"{r['method']:<8} {int(r['hotspots']):>9} {r['coverage']:>9.2%} {r['hit_rate']:>9.1%} {r['pai']:>7.1f} {r['pei']:>6.2f}",
            file=out,
        )
    if args.out:
        table.to_csv(args.out, index=False)
    return 0


def _cmd_classify(args: argparse.Namespace, out: Any) -> int:

    from hotspots.detect import run_provenance
    from hotspots.emerging import classify_hotspots
    from hotspots.export import features_geojson, json_text

    incidents = _load(args)
    if not args.quiet:
        _print_report(incidents, out)
    res = classify_hotspots(
        incidents,
        cell_size=args.cell_size,
        period_months=args.period_months,
        recent_periods=args.recent_periods,
        alpha=args.alpha,
    )
    if not args.quiet:
        for note in res.notes:
            print(f"- {note}", file=out)
    params = {**run_provenance(incidents), "method": "emerging", "method_parameters": res.params}
    Path(args.out).write_text(json_text(features_geojson(res.areas, params)), encoding="utf-8")
    counts = res.cells["category"].value_counts() if len(res.cells) else {}
    print(f"{'category':<28} {'cells':>6}", file=out)
    for cat, n in counts.items():
        if cat != "no pattern":
            print(f"{cat:<28} {int(n):>6}", file=out)
    print(f"Wrote {len(res.areas)} areas to {args.out}", file=out)
    return 0


def _cmd_demo(args: argparse.Namespace, out: Any) -> int:
    from hotspots import demo

    path = Path(args.out) if args.out else demo.DEMO_CSV
    if args.if_missing and path.exists():
        return 0
    seed = demo.DEMO_SEED if args.seed is None else args.seed
    demo.write_demo(path, seed)
    print(f"Wrote the synthetic demo data set (seed {seed}) to {path}", file=out)
    return 0


def _cmd_app(args: argparse.Namespace, out: Any) -> int:
    from hotspots.launch import run_app

    return run_app(args.script, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    out = sys.stdout
    handlers = {
        "detect": _cmd_detect,
        "plan": _cmd_plan,
        "evaluate": _cmd_evaluate,
        "classify": _cmd_classify,
        "demo": _cmd_demo,
        "app": _cmd_app,
    }
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = handlers[args.command](args, out)
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
    except Exception as exc:
        if os.environ.get("HOTSPOTS_DEBUG"):
            traceback.print_exc()
        print(
            f"hotspots: internal error ({type(exc).__name__}: {exc}). This is a bug; please report it "
            "with the command you ran (set HOTSPOTS_DEBUG=1 to see the traceback).",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
