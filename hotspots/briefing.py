"""A printable HTML briefing: one page per patrol area (map, why, when, what to do, dosage).

The page is rendered from the Jinja2 templates ``hotspots/templates/briefing.html`` (the page),
``briefing_parts.html`` (maps, sparklines, tactic cards) and ``briefing.css``, with autoescaping
on. Every value the templates print passes through :func:`hotspots.offline.escape_text`, the
package's one HTML escaper, so a location named ``<script>alert(1)</script>`` is shown as text, and
text that looks like template syntax (``{{7*7}}``) is shown as written: data are never compiled as
templates.

The page is self-contained and works offline: no scripts, no web fonts, no map tiles. Maps and
sparklines are inline SVG drawn from the analysis-CRS geometry.

Notes
-----
"Why this place" cards follow the guide's advice to explain to officers why each spot was chosen
(CAPP https://www.college.police.uk/support-forces/practices/crime-hot-spots-mobile-phone-app); hot
spot lists are sensitive and should not be published (Essex Police declined to publish its
locations: Echo, 2021, https://www.echo-news.co.uk/news/19586285.southend-police-new-patrols-sees-big-drop-crime/).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import jinja2
import numpy as np
import pandas as pd

import hotspots
from hotspots.offline import report_environment
from hotspots.safeguards import load_safeguards, stop_search_notice, tactic_safeguards
from hotspots.tactics import (
    KnowledgeBase,
    Recommendation,
    TacticMatch,
    load_knowledge_base,
    patrol_window,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from hotspots.incidents import Incidents
    from hotspots.patrol import PatrolPlan
    from hotspots.safeguards import StopSearchSummary

__all__ = [
    "area_place_names",
    "find_pdf_browser",
    "html_to_pdf",
    "render_briefing",
    "sparkline_svg",
    "tile_images",
]


@functools.cache
def _environment() -> jinja2.Environment:
    """The briefing's templates (:func:`hotspots.offline.report_environment`)."""
    return report_environment()


def _safe_url(url: str) -> str | None:
    p = urlparse(str(url))
    return url if p.scheme in ("http", "https") and p.netloc else None


def _as_list(v: Any) -> list:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return list(v)


def _sparkline_data(
    counts: Sequence[int], months: Sequence[str] | None, width: int, height: int
) -> dict[str, Any]:
    counts = [int(c) for c in counts]
    if not counts:
        return {"bars": []}
    top = max(max(counts), 1)
    n = len(counts)
    bw = width / n
    bars = []
    for i, c in enumerate(counts):
        h = (height - 12) * c / top
        bars.append(
            {
                "x": i * bw + 0.5,
                "y": height - 12 - h,
                "w": max(bw - 1, 0.5),
                "h": h,
                "label": months[i] if months else i + 1,
                "count": c,
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": height,
        "top": top,
        "label_left": months[0] if months else "1",
        "label_right": months[-1] if months else str(n),
    }


def sparkline_svg(
    counts: Sequence[int],
    months: Sequence[str] | None = None,
    *,
    width: int = 180,
    height: int = 36,
) -> str:
    """A monthly sparkline as inline SVG (bars), with the first and last month labelled.

    Parameters
    ----------
    counts : sequence of int
        Incidents per month.
    months : sequence of str, optional
        One label per month (escaped); default numbers them from 1.
    width, height : int
        Pixels.

    Returns
    -------
    str
        One ``<svg>`` element.
    """
    # The template's macros are attributes of its module, made at run time.
    parts: Any = _environment().get_template("briefing_parts.html").module
    return str(parts.sparkline(_sparkline_data(counts, months, width, height)))


def _ring_path(coords: Any, tx: Any) -> str:
    pts = [tx(x, y) for x, y in list(coords)]
    if not pts:
        return ""
    return "M" + " L".join(f"{a:.1f},{b:.1f}" for a, b in pts) + " Z"


def _geom_path(geom: Any, tx: Any) -> str:
    if geom is None or geom.is_empty:
        return ""
    polys = [geom] if geom.geom_type == "Polygon" else list(getattr(geom, "geoms", []))
    parts = []
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        parts.append(_ring_path(p.exterior.coords, tx))
        parts += [_ring_path(r.coords, tx) for r in p.interiors]
    return " ".join(parts)


def _map_data(
    area: Any,
    hotspot_geom: Any,
    points: np.ndarray,
    *,
    size: int = 230,
    margin_m: float = 60.0,
    tiles: tuple[str, Any] | None = None,
) -> dict[str, Any]:
    """Small map: patrol area (filled), hot spot outline (dashed), incidents (dots), 50 m bar;
    streets underneath when ``tiles`` (URL template, analysis CRS) is given."""
    minx, miny, maxx, maxy = area.geometry.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = max(maxx - minx, maxy - miny) / 2 + margin_m
    x0, y0 = cx - half, cy - half
    s = size / (2 * half)

    def tx(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * s, (y0 + 2 * half - y) * s

    dots = []
    if len(points):
        inside = (
            (points[:, 0] >= x0)
            & (points[:, 0] <= x0 + 2 * half)
            & (points[:, 1] >= y0)
            & (points[:, 1] <= y0 + 2 * half)
        )
        pts = points[inside]
        if len(pts):
            uniq, counts = np.unique(np.round(pts, 1), axis=0, return_counts=True)
            for (px, py), c in zip(uniq, counts, strict=True):
                sx, sy = tx(px, py)
                dots.append({"x": sx, "y": sy, "r": 1.6 + 1.2 * math.sqrt(c), "count": int(c)})
    has_parent = hotspot_geom is not None and not hotspot_geom.is_empty
    return {
        "size": size,
        "patrol_area_id": area.get("patrol_area_id", ""),
        "hotspot_path": _geom_path(hotspot_geom, tx) if has_parent else "",
        "area_path": _geom_path(area.geometry, tx),
        "dots": dots,
        "bar": 50 * s,
        "tiles": tile_images((x0, y0, x0 + 2 * half, y0 + 2 * half), tiles[1], tiles[0], s)
        if tiles is not None
        else [],
    }


_EARTH_M = 40_075_016.686  # Web Mercator's circumference at the equator, metres
_TILE_PX = 256


def _tile_corner(x: int, y: int, z: int) -> tuple[float, float]:
    """Longitude and latitude of a slippy-map tile's top-left corner (OpenStreetMap's scheme)."""
    n = 2.0**z
    return x / n * 360.0 - 180.0, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))


def _tile_index(lon: float, lat: float, z: int) -> tuple[float, float]:
    n = 2.0**z
    r = math.radians(lat)
    return (lon + 180.0) / 360.0 * n, (1 - math.asinh(math.tan(r)) / math.pi) / 2 * n


def tile_images(
    box: tuple[float, float, float, float], crs: Any, url: str, px_per_m: float
) -> list[dict[str, Any]]:
    """The basemap tiles under a small map, each placed by an affine matrix in map pixels.

    Parameters
    ----------
    box : (x0, y0, x1, y1)
        The map's extent in ``crs`` (metres).
    crs : pyproj.CRS or str
        The analysis CRS of ``box``.
    url : str
        An XYZ template with ``{z}``, ``{x}`` and ``{y}`` (:func:`hotspots.mapping.resolve_tiles`).
    px_per_m : float
        The map's scale, pixels per metre.

    Returns
    -------
    list of dict
        ``href`` and ``matrix`` (SVG ``a b c d e f``) per tile: the tile's top-left, top-right
        and bottom-left corners are projected into the map exactly, so the analysis CRS's grid
        convergence (a few degrees in Great Britain) turns the tile as it should. The zoom is the
        lowest whose tiles are at least as sharp as the map.
    """
    import pyproj

    x0, y0, x1, y1 = box
    to_ll = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    lons, lats = to_ll.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    lat_c = float(np.mean(lats))
    metres_per_px_z0 = _EARTH_M * math.cos(math.radians(lat_c)) / _TILE_PX
    z = int(min(19, max(1, math.ceil(math.log2(metres_per_px_z0 * px_per_m)))))
    tx = [_tile_index(lo, la, z) for lo, la in zip(lons, lats, strict=True)]
    xs = range(int(min(t[0] for t in tx)), int(max(t[0] for t in tx)) + 1)
    ys = range(int(min(t[1] for t in tx)), int(max(t[1] for t in tx)) + 1)
    out = []
    for ix in xs:
        for iy in ys:
            corners = [_tile_corner(ix, iy, z), _tile_corner(ix + 1, iy, z)]
            corners.append(_tile_corner(ix, iy + 1, z))
            cx, cy = to_xy.transform([c[0] for c in corners], [c[1] for c in corners])
            sx = [(x - x0) * px_per_m for x in cx]
            sy = [(y1 - y) * px_per_m for y in cy]
            matrix = (
                (sx[1] - sx[0]) / _TILE_PX, (sy[1] - sy[0]) / _TILE_PX,
                (sx[2] - sx[0]) / _TILE_PX, (sy[2] - sy[0]) / _TILE_PX,
                sx[0], sy[0],
            )  # fmt: skip
            href = url.replace("{z}", str(z)).replace("{x}", str(ix)).replace("{y}", str(iy))
            out.append({"href": href, "matrix": " ".join(f"{v:.4f}" for v in matrix)})
    return out


def area_place_names(
    area_geometry: Any, points: np.ndarray, locations: np.ndarray | None, top: int = 5
) -> list[tuple[str, int]]:
    """Streets and places named in the incidents inside an area, most frequent first.

    police.uk's ``"On or near Canal Walk"`` is shortened to ``"Canal Walk"``; blank names are
    left out. With no location column the list is empty.
    """
    import shapely

    if locations is None or not len(points):
        return []
    inside = shapely.contains_xy(area_geometry, points[:, 0], points[:, 1])
    names = pd.Series(locations[inside], dtype="string").str.strip()
    names = names.str.replace(r"^(?i:on or near)\s+", "", regex=True)
    names = names[names.notna() & names.ne("")]
    counts = names.value_counts()
    return [(str(k), int(v)) for k, v in counts.head(top).items()]


def _tactic_data(m: TacticMatch, kb: KnowledgeBase, *, label: str = "") -> dict[str, Any]:
    """One tactic card: what to do, dose, evidence, and its legitimacy and community cautions."""
    t = m.tactic
    strength = t.evidence["strength"]
    return {
        "id": t.id,
        "name": t.name,
        "label": label,
        "step": t.step,
        "strength": strength,
        "scale": kb.evidence_scale.get(strength, ""),
        "caution": t.caution,
        "legitimacy_review": t.legitimacy_review,
        "reason": m.reason,
        "steps": list(t.what_officers_do),
        "dose": t.dosage.get("text", ""),
        "evidence": t.evidence["summary"],
        "sources": [{"key": s.key, "url": _safe_url(s.url)} for s in t.sources],
        **tactic_safeguards(t.id),
    }


def _area_tactics(
    ms: Sequence[TacticMatch], rec: Recommendation | None, kb: KnowledgeBase
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(what to do, cautions) for one area: every recommended tactic, none cut off.

    With a recommendation: its primary tactic first, then its companions; its cautions. Without
    one: every match that is not a caution, then the cautions. Programme items (the same for
    every place) are shown once on the cover, not here.
    """
    if rec is not None:
        label = kb.staffing_models.get(rec.staffing, {}).get("label", rec.staffing)
        main = [_tactic_data(rec.primary, kb, label=f"Primary tactic ({label})")]
        main += [_tactic_data(m, kb, label="Alongside it") for m in rec.companions]
        return main, [_tactic_data(m, kb) for m in rec.cautions]
    main = [_tactic_data(m, kb) for m in ms if not m.tactic.caution]
    return main, [_tactic_data(m, kb) for m in ms if m.tactic.caution]


def _dose_data(rec: Recommendation | None, plan: PatrolPlan | None) -> dict[str, Any] | None:
    """The recommended dose, and whether the plan carries it out."""
    if rec is None:
        return None
    d = rec.dose
    shortfall = None
    if plan is not None:
        planned = int(plan.params.get("visits_per_day", 1))
        if d.visits_per_day is None:
            shortfall = (
                f"{rec.primary.tactic.id} asks for {d.text.split('.')[0].lower()}; this plan "
                f"schedules {planned} visit(s) a day of {plan.params['visit_minutes']} minutes, "
                "so it does not carry that dose out: staff the beat separately or choose "
                "another staffing model."
            )
        elif d.visits_per_day > planned:
            shortfall = (
                f"{rec.primary.tactic.id}'s dose is about {d.visits_per_day} visits a day; this "
                f"plan schedules {planned}. Capacity does not allow the full dose: raise "
                "officer-hours or visits per day, or plan fewer areas."
            )
    return {
        "tactic": f"{rec.primary.tactic.id} {rec.primary.tactic.name}",
        "text": d.text,
        "shortfall": shortfall,
        "reasons": list(rec.reasons),
    }


def _dosage_data(
    pid: str, per_area: pd.DataFrame | None, plan: PatrolPlan | None, visits_listed: int
) -> dict[str, Any] | None:
    """The plan's figures for one area; None when there is no plan for it (defaults are shown)."""
    if plan is None or per_area is None or pid not in per_area.index:
        return None
    r = per_area.loc[pid]
    if not bool(r["in_plan"]):
        return {"in_plan": False}
    v = plan.visits
    mine = v[(v["patrol_area_id"] == pid) & (v["arm"] == "patrol")].head(visits_listed)
    return {
        "in_plan": True,
        "visits": r["visits"],
        "control_days": r["control_days"],
        "max_gap_days": r["max_gap_days"],
        "visit_rows": [
            {
                "date": pd.Timestamp(rec.date).strftime("%a %d %b"),
                "start": pd.Timestamp(rec.start).strftime("%a %H:%M"),
                "end": pd.Timestamp(rec.end).strftime("%H:%M"),
                "assignment": rec.assignment,
            }
            for rec in mine.itertuples(index=False)
        ],
    }


def _plan_data(plan: PatrolPlan) -> dict[str, Any]:
    p, s = plan.params, plan.summary
    return {
        **{
            k: p[k]
            for k in (
                "days",
                "start_date",
                "plan_day_starts",
                "seed",
                "officers_per_patrol",
                "visit_minutes",
                "max_gap_days",
            )
        },
        **{k: s[k] for k in ("areas_planned", "treated_per_day", "controls_per_day", "review_by")},
        "areas_left_out": s.get("areas_left_out"),
        "staffing": p.get("staffing"),
    }


def render_briefing(
    patrol_areas: gpd.GeoDataFrame,
    ranked_hotspots: gpd.GeoDataFrame | None,
    plan: PatrolPlan | None,
    matches: Mapping[str, Sequence[TacticMatch]],
    *,
    params: Mapping[str, Any] | None = None,
    title: str = "Serious violence hot spots: patrol briefing",
    incidents: Incidents | None = None,
    kb: KnowledgeBase | None = None,
    visits_listed: int = 10,
    recommendations: Mapping[str, Recommendation] | None = None,
    stop_search: StopSearchSummary | None = None,
    notes: Sequence[str] = (),
    tiles: str | None = None,
    tiles_attribution: str | None = None,
) -> str:
    """Render the printable briefing as one HTML document.

    Parameters
    ----------
    patrol_areas : geopandas.GeoDataFrame
        From :func:`hotspots.patrol.make_patrol_areas` (analysis CRS, metres), flagged by
        :func:`hotspots.places.flag_places` or not.
    ranked_hotspots : geopandas.GeoDataFrame or None
        The parent hot spots (outline drawn on each map, rank and incidents shown).
    plan : PatrolPlan or None
        The plan (dates, visits, control days). With a plan, only the areas in it get a page;
        the cover names the areas left out as places a street patrol cannot address and counts
        those left out for capacity. Without a plan every area gets a page and the dosage
        section gives the defaults.
    matches : mapping
        patrol_area_id -> list of TacticMatch (:func:`hotspots.tactics.match_tactics`, or a
        recommendation's matches).
    params : mapping, optional
        The run's parameter record; ``synthetic`` (or ``demo``) true labels the whole briefing as
        synthetic demo data. Shown as a table on the cover.
    title : str
    incidents : Incidents, optional
        Drawn as dots on each map (stacked points as larger dots).
    kb : KnowledgeBase, optional
        Default :func:`hotspots.tactics.load_knowledge_base`.
    visits_listed : int, default 10
        How many planned visits to list per area.
    recommendations : mapping, optional
        patrol_area_id -> :class:`~hotspots.tactics.Recommendation`: each page then shows the
        primary tactic, its companions and cautions, the recommended dose against the plan's,
        and the programme items once on the cover.
    stop_search : StopSearchSummary, optional
        Adds a monitoring page (:func:`hotspots.safeguards.summarise_stop_search`).
    notes : sequence of str
        Targeting notes for the cover (e.g. offences found mostly by proactive policing).
    tiles : str, optional
        Streets under each area's map: ``"openstreetmap"`` or a force's own XYZ tile server
        (:func:`hotspots.mapping.resolve_tiles`). Default none: the page then makes no request at
        all. With tiles, opening or printing the briefing asks that server for the tiles around
        every planned area, which tells the server where the areas are: use an internal server
        for real operations. Every page lists the streets and places its incidents name either
        way.
    tiles_attribution : str, optional
        Printed under each map (OpenStreetMap's own attribution by default for its tiles).

    Returns
    -------
    str
        A complete HTML document: a cover page, a stop and search monitoring page when given,
        then one page per patrol area (``<section class="area">``, page break before each in
        print). Every page is marked OFFICIAL-SENSITIVE and carries the stop and search notice
        (presence in a mapped hot spot is not grounds for stop and search, PACE Code A), and
        every recommended tactic shows its legitimacy and community-impact cautions. Each
        section names the guide step it serves.
    """
    kb = kb or load_knowledge_base()
    params = dict(params or {})
    recommendations = recommendations or {}
    synthetic = bool(params.get("synthetic") or params.get("demo"))
    points = incidents.xy if incidents is not None else np.empty((0, 2))
    locations = (
        incidents.frame["location"].to_numpy(dtype=object)
        if incidents is not None and "location" in incidents.frame
        else None
    )
    basemap, attribution = _basemap(tiles, tiles_attribution, patrol_areas)
    months = [f"{m:%Y-%m}" for m in incidents.months] if incidents is not None else None
    hot_geoms: dict[str, Any] = {}
    hot_rows: dict[str, Any] = {}
    if ranked_hotspots is not None and len(ranked_hotspots):
        hs = ranked_hotspots
        if (
            hs.crs is not None
            and patrol_areas.crs is not None
            and not hs.crs.equals(patrol_areas.crs)
        ):
            hs = hs.to_crs(patrol_areas.crs)
        for _, r in hs.iterrows():
            hot_geoms[str(r["hotspot_id"])] = r.geometry
            hot_rows[str(r["hotspot_id"])] = r
    per_area = plan.area_summary().set_index("patrol_area_id") if plan is not None else None
    shown = patrol_areas
    if per_area is not None:
        planned = set(per_area.index[per_area["in_plan"].astype(bool)])
        shown = patrol_areas[patrol_areas["patrol_area_id"].astype(str).isin(planned)]

    areas = []
    for _, a in shown.iterrows():
        pid = str(a["patrol_area_id"])
        hid = str(a.get("hotspot_id", ""))
        ms = list(matches.get(pid, []))
        rec = recommendations.get(pid)
        parent = hot_rows.get(hid)
        tactics, cautions = _area_tactics(ms, rec, kb)
        areas.append(
            {
                "id": pid,
                "hotspot_id": a.get("hotspot_id", ""),
                "location": a.get("location", ""),
                "name": a.get("location") or "unnamed place",
                "incidents": a.get("incidents"),
                "pai": a.get("pai"),
                "window": patrol_window(a, kb),
                "tactic_ids": ", ".join(
                    m.tactic.id for m in (rec.matches(include_programme=False) if rec else ms)
                ),
                "centre_lat": a.get("centre_lat"),
                "centre_lon": a.get("centre_lon"),
                "across_m": 2 * float(a.get("radius_m", float("nan"))),
                "parent": None
                if parent is None
                else {"rank": parent.get("rank"), "incidents": parent.get("incidents")},
                "map": _map_data(a, hot_geoms.get(hid), points, tiles=basemap),
                "map_attribution": attribution,
                "place_names": area_place_names(a.geometry, points, locations),
                "share_pct": 100 * float(a.get("share", float("nan"))),
                "harm": _present(a.get("harm")),
                "temporal_class": str(a.get("temporal_class", "")).capitalize(),
                "months_active": a.get("months_active"),
                "n_months": a.get("n_months"),
                "trend": a.get("trend", "n/a"),
                "sparkline": _sparkline_data(_as_list(a.get("monthly_counts")), months, 180, 36),
                "tactics": tactics,
                "cautions": cautions,
                "dose": _dose_data(rec, plan),
                "place_flag": str(a.get("unpatrollable_reason", "") or ""),
                "place_check": str(a.get("place_check", "") or ""),
                "dosage": _dosage_data(pid, per_area, plan, visits_listed),
            }
        )
    if plan is not None:
        caveats = list(plan.summary.get("caveats", []))
    else:
        caveats = sorted({m.caveat for ms in matches.values() for m in ms if m.caveat})
    programme: dict[str, Any] = {}
    for rec in recommendations.values():
        for m in rec.programme:
            programme.setdefault(m.tactic.id, _tactic_data(m, kb))
    page = _environment().get_template("briefing.html")
    notice = load_safeguards()["stop_search_notice"]
    return page.render(
        title=title,
        synthetic=synthetic,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=hotspots.__version__,
        plan=_plan_data(plan) if plan is not None else None,
        caveats=caveats,
        areas=areas,
        params=list(params.items()),
        defaults={
            "visit_minutes": int(kb.constant("visit_minutes")),
            "min_visit_minutes": int(kb.constant("min_visit_minutes")),
            "max_gap_days": int(kb.constant("max_gap_days")),
        },
        notice={
            "text": stop_search_notice(),
            "short": stop_search_notice(short=True),
            "url": _safe_url(notice["source"]["url"]),
            "step": notice.get("guide_step", "Training"),
        },
        unpatrollable=_unpatrollable_data(patrol_areas, per_area),
        notes=list(notes),
        programme=list(programme.values()),
        staffing=_staffing_label(recommendations, kb),
        stop_search=stop_search.display() if stop_search is not None else None,
        stop_search_notes=list(stop_search.notes) if stop_search is not None else [],
    )


def _basemap(
    tiles: str | None, attribution: str | None, areas: gpd.GeoDataFrame
) -> tuple[tuple[str, Any] | None, str]:
    """The tile template and analysis CRS for the maps (None without tiles) and the credit."""
    from hotspots.mapping import OSM_ATTRIBUTION, OSM_URL, resolve_tiles

    chosen = resolve_tiles(tiles)
    if chosen == "none" or areas.crs is None:
        return None, ""
    if chosen == "openstreetmap":
        return (OSM_URL, areas.crs), attribution or _strip_tags(OSM_ATTRIBUTION)
    return (chosen, areas.crs), attribution or ""


def _strip_tags(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html).replace("&copy;", "\u00a9")


def _staffing_label(recommendations: Mapping[str, Recommendation], kb: KnowledgeBase) -> str:
    models = {r.staffing for r in recommendations.values()}
    if len(models) != 1:
        return ""
    model = next(iter(models))
    return str(kb.staffing_models.get(model, {}).get("label", model))


def _unpatrollable_data(areas: pd.DataFrame, per_area: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The flagged areas the plan left out (all flagged areas when there is no plan)."""
    if "unpatrollable_reason" not in areas.columns:
        return []
    flagged = areas[areas["unpatrollable_reason"].fillna("").astype(str).ne("")]
    if per_area is not None:
        flagged = flagged[~flagged["patrol_area_id"].astype(str).isin(per_area.index)]
    return [
        {
            "id": str(r["patrol_area_id"]),
            "location": r.get("location", ""),
            "incidents": r.get("incidents"),
            "reason": r["unpatrollable_reason"],
        }
        for _, r in flagged.iterrows()
    ]


def _present(value: Any) -> Any:
    """``value``, or None when it is missing (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


#: Browsers that can print a briefing to PDF headlessly, tried in order (Debian's package first).
PDF_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_pdf_browser() -> str | None:
    """Path of an installed Chromium-family browser that can print to PDF, or None."""
    import shutil

    for name in PDF_BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def html_to_pdf(
    html_path: str | Path,
    pdf_path: str | Path,
    *,
    browser: str | None = None,
    timeout_s: float = 120.0,
) -> Path:
    """Print a briefing HTML file to PDF with a local headless Chromium (no download, offline).

    The page needs nothing from the network (maps are inline SVG), and the browser runs with
    networking features off and a throw-away profile.

    Raises
    ------
    HotspotsError
        When no Chromium-family browser is installed (install Debian's ``chromium`` package or
        print the HTML from any browser), or when printing fails.
    """
    import subprocess
    import tempfile

    from hotspots._errors import HotspotsError

    exe = browser or find_pdf_browser()
    if not exe:
        msg = (
            "No Chromium browser found to print the briefing to PDF. Install the 'chromium' "
            "package, or open briefing.html in any browser and print it."
        )
        raise HotspotsError(msg)
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}",
            html_path.as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            msg = f"Printing the briefing to PDF failed ({type(exc).__name__})."
            raise HotspotsError(msg) from None
    if not pdf_path.exists() or pdf_path.read_bytes()[:4] != b"%PDF":
        msg = "Printing the briefing to PDF failed: the browser wrote no PDF."
        raise HotspotsError(msg)
    return pdf_path
