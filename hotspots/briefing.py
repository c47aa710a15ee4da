"""A printable HTML briefing: one page per patrol area (map, why, when, what to do, dosage).

The page is self-contained and works offline: no scripts, no web fonts, no map tiles. Maps and
sparklines are inline SVG drawn from the analysis-CRS geometry. Every string that comes from data
(locations, ids, parameters) is HTML-escaped, so a location named ``<script>alert(1)</script>`` is
shown as text.

Notes
-----
"Why this place" cards follow the guide's advice to explain to officers why each spot was chosen
(CAPP https://www.college.police.uk/support-forces/practices/crime-hot-spots-mobile-phone-app); hot
spot lists are sensitive and should not be published (R22, ECHO).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

import hotspots
from hotspots.tactics import KnowledgeBase, TacticMatch, load_knowledge_base, patrol_window

if TYPE_CHECKING:
    import geopandas as gpd

    from hotspots.incidents import Incidents
    from hotspots.patrol import PatrolPlan

__all__ = ["esc", "find_pdf_browser", "html_to_pdf", "render_briefing", "sparkline_svg"]

_CSS = """
* { box-sizing: border-box; }
body { font-family: "Helvetica Neue", Arial, sans-serif; font-size: 10.5pt; color: #111; margin: 0 auto;
       max-width: 190mm; padding: 8mm; line-height: 1.35; }
h1 { font-size: 18pt; margin: 0 0 4pt; } h2 { font-size: 14pt; margin: 0 0 4pt; }
h3 { font-size: 11pt; margin: 8pt 0 3pt; border-bottom: 1px solid #999; }
.synthetic { background: #fde68a; border: 2px solid #b45309; padding: 4pt 8pt; font-weight: bold; }
.caveat { background: #fff7ed; border-left: 4px solid #c2410c; padding: 4pt 8pt; margin: 4pt 0; }
.marking { font-weight: bold; letter-spacing: 0.05em; color: #7f1d1d; }
.grid { display: flex; gap: 10pt; align-items: flex-start; }
.grid > div { flex: 1 1 0; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border: 1px solid #bbb; padding: 2pt 4pt; text-align: left; vertical-align: top; }
.ev { display: inline-block; min-width: 1.6em; text-align: center; font-weight: bold; border: 1px solid #333;
      border-radius: 3px; margin-right: 4pt; }
.ev-A { background: #bbf7d0; } .ev-B { background: #fef08a; } .ev-C { background: #e5e7eb; }
.ev-X { background: #fecaca; } .ev-U { background: #e0e7ff; }
.tactic { margin: 3pt 0 5pt; } .tactic p { margin: 1pt 0; } .src { font-size: 8.5pt; color: #333; }
.src a { color: #1d4ed8; word-break: break-all; }
ul { margin: 2pt 0 2pt 14pt; padding: 0; }
svg { display: block; }
section.area { page-break-before: always; break-before: page; }
section.area, .tactic, table { page-break-inside: avoid; break-inside: avoid; }
@page { size: A4; margin: 12mm; }
@media print {
  body { padding: 0; max-width: none; }
  a { color: #000; }
  .noprint { display: none; }
}
"""


def esc(value: Any) -> str:
    """HTML-escape any value for text or a quoted attribute (also escapes the backtick)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    return html.escape(str(value), quote=True).replace("`", "&#96;")


def _safe_url(url: str) -> str | None:
    p = urlparse(str(url))
    return url if p.scheme in ("http", "https") and p.netloc else None


def _fmt(v: Any, spec: str = "", none: str = "n/a") -> str:
    if v is None or (isinstance(v, float | np.floating) and math.isnan(v)):
        return none
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _as_list(v: Any) -> list:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return []
    return list(v)


def sparkline_svg(
    counts: Sequence[int],
    months: Sequence[str] | None = None,
    *,
    width: int = 180,
    height: int = 36,
) -> str:
    """A monthly sparkline as inline SVG (bars), with the first and last month labelled."""
    counts = [int(c) for c in counts]
    if not counts:
        return '<svg width="1" height="1" role="img" aria-label="no monthly data"></svg>'
    top = max(max(counts), 1)
    n = len(counts)
    bw = width / n
    bars = []
    for i, c in enumerate(counts):
        h = (height - 12) * c / top
        bars.append(
            f'<rect x="{i * bw + 0.5:.1f}" y="{height - 12 - h:.1f}" width="{max(bw - 1, 0.5):.1f}" '
            f'height="{h:.1f}" fill="#b91c1c"><title>{esc(months[i] if months else i + 1)}: {c}</title></rect>'
        )
    label_l = esc(months[0]) if months else "1"
    label_r = esc(months[-1]) if months else str(n)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="incidents per month, most {top}">'
        + "".join(bars)
        + f'<text x="0" y="{height - 1}" font-size="8">{label_l}</text>'
        + f'<text x="{width}" y="{height - 1}" font-size="8" text-anchor="end">{label_r}</text>'
        + f'<text x="{width}" y="8" font-size="8" text-anchor="end">max {top}</text></svg>'
    )


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


def _map_svg(
    area: Any, hotspot_geom: Any, points: np.ndarray, *, size: int = 230, margin_m: float = 60.0
) -> str:
    """Small map: patrol area (filled), parent hot spot outline (dashed), incidents (dots), 50 m bar."""
    minx, miny, maxx, maxy = area.geometry.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = max(maxx - minx, maxy - miny) / 2 + margin_m
    x0, y0 = cx - half, cy - half
    s = size / (2 * half)

    def tx(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * s, (y0 + 2 * half - y) * s

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}" '
        f'role="img" aria-label="map of patrol area {esc(area.get("patrol_area_id", ""))}">',
        f'<rect width="{size}" height="{size}" fill="#f8fafc" stroke="#94a3b8"/>',
    ]
    if hotspot_geom is not None and not hotspot_geom.is_empty:
        parts.append(
            f'<path d="{_geom_path(hotspot_geom, tx)}" fill="none" stroke="#7c3aed" stroke-dasharray="4 3" '
            f'stroke-width="1.2" fill-rule="evenodd"/>'
        )
    parts.append(
        f'<path d="{_geom_path(area.geometry, tx)}" fill="#fca5a5" fill-opacity="0.45" stroke="#b91c1c" stroke-width="1.5" fill-rule="evenodd"/>'
    )
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
                r = 1.6 + 1.2 * math.sqrt(c)
                parts.append(
                    f'<circle cx="{sx:.1f}" cy="{sy:.1f}" r="{r:.1f}" fill="#1e293b" fill-opacity="0.7"><title>{int(c)} incidents</title></circle>'
                )
    bar = 50 * s
    parts.append(
        f'<line x1="8" y1="{size - 10}" x2="{8 + bar:.1f}" y2="{size - 10}" stroke="#000" stroke-width="2"/>'
    )
    parts.append(f'<text x="8" y="{size - 14}" font-size="9">50 m</text>')
    parts.append(f'<text x="{size - 12}" y="14" font-size="11" font-weight="bold">N</text>')
    parts.append(
        f'<line x1="{size - 8}" y1="30" x2="{size - 8}" y2="18" stroke="#000" stroke-width="1.5"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _tactic_html(m: TacticMatch, kb: KnowledgeBase, *, steps: bool) -> str:
    t = m.tactic
    strength = t.evidence["strength"]
    scale = kb.evidence_scale.get(strength, "")
    links = []
    for s in t.sources:
        url = _safe_url(s.url)
        links.append(f'<a href="{esc(url)}">{esc(s.key)}</a>' if url else esc(s.key))
    flags = []
    if t.caution:
        flags.append("<strong>Caution.</strong> ")
    if t.legitimacy_review:
        flags.append("<strong>Legitimacy and proportionality review required before use.</strong> ")
    out = [
        '<div class="tactic">',
        f'<p><span class="ev ev-{esc(strength)}" title="{esc(scale)}">{esc(strength)}</span>'
        f"<strong>{esc(t.id)} {esc(t.name)}</strong></p>",
        f"<p>{''.join(flags)}<em>Why here:</em> {esc(m.reason)}</p>",
    ]
    if steps:
        out.append("<ul>" + "".join(f"<li>{esc(s)}</li>" for s in t.what_officers_do) + "</ul>")
        out.append(f"<p><em>Dose:</em> {esc(t.dosage.get('text', ''))}</p>")
    out.append(
        f'<p class="src"><em>Evidence {esc(strength)}:</em> {esc(t.evidence["summary"])} Sources: {", ".join(links)}</p>'
    )
    out.append("</div>")
    return "".join(out)


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
) -> str:
    """Render the printable briefing as one HTML document.

    Parameters
    ----------
    patrol_areas : geopandas.GeoDataFrame
        From :func:`hotspots.patrol.make_patrol_areas` (analysis CRS, metres).
    ranked_hotspots : geopandas.GeoDataFrame or None
        The parent hot spots (outline drawn on each map, rank and incidents shown).
    plan : PatrolPlan or None
        The plan (dates, visits, control days); without it the dosage section gives the defaults.
    matches : mapping
        patrol_area_id -> list of TacticMatch (from :func:`hotspots.tactics.match_tactics`).
    params : mapping, optional
        The run's parameter record; ``synthetic`` (or ``demo``) true labels the whole briefing as
        synthetic demo data. Shown as a table on the cover.
    title : str
    incidents : Incidents, optional
        Drawn as dots on each map (stacked points as larger dots).
    visits_listed : int, default 10
        How many planned visits to list per area.

    Returns
    -------
    str
        A complete HTML document: a cover page, then one page per patrol area (``<section
        class="area">``, page break before each in print).
    """
    kb = kb or load_knowledge_base()
    params = dict(params or {})
    synthetic = bool(params.get("synthetic") or params.get("demo"))
    points = incidents.xy if incidents is not None else np.empty((0, 2))
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
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    doc = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        '<section class="cover">',
        '<p class="marking">OFFICIAL-SENSITIVE: hot spot locations are not for publication.</p>',
        f"<h1>{esc(title)}</h1>",
    ]
    if synthetic:
        doc.append(
            '<p class="synthetic">SYNTHETIC DEMO DATA: these places and incidents are invented; do not task patrols from this briefing.</p>'
        )
    doc.append(
        f"<p>Generated {esc(generated)} by hotspots {esc(hotspots.__version__)}. {len(patrol_areas)} patrol areas.</p>"
    )
    if plan is not None:
        p, s = plan.params, plan.summary
        doc.append(
            f"<p>Plan: {esc(p['days'])} days from {esc(p['start_date'])} (plan days run {esc(p['plan_day_starts'])} to "
            f"{esc(p['plan_day_starts'])} next morning), seed {esc(p['seed'])}. {esc(s['areas_planned'])} areas planned, "
            f"{esc(s['treated_per_day'])} patrolled and {esc(s['controls_per_day'])} left as controls each day; "
            f"{esc(p['officers_per_patrol'])} officers per patrol, {esc(p['visit_minutes'])}-minute visits. "
            f"Review by {esc(s['review_by'])} (campaigns decay, D7).</p>"
        )
        if s.get("areas_left_out"):
            doc.append(
                f'<p class="caveat">{esc(s["areas_left_out"])} lower-ranked patrol areas are left out for lack of capacity: '
                f"{esc(', '.join(s['left_out']))}.</p>"
            )
        for c in s.get("caveats", []):
            doc.append(f'<p class="caveat">{esc(c)}</p>')
    else:
        caveats = {m.caveat for ms in matches.values() for m in ms if m.caveat}
        for c in sorted(caveats):
            doc.append(f'<p class="caveat">{esc(c)}</p>')
    doc.append(
        "<h3>Patrol areas</h3><table><tr><th>Area</th><th>Hot spot</th><th>Location</th><th>Incidents</th><th>PAI</th><th>When</th><th>Tactics</th></tr>"
    )
    for _, a in patrol_areas.iterrows():
        pid = str(a["patrol_area_id"])
        win = patrol_window(a, kb)
        ids = ", ".join(m.tactic.id for m in matches.get(pid, []))
        doc.append(
            f'<tr><td><a href="#area-{esc(pid)}">{esc(pid)}</a></td><td>{esc(a.get("hotspot_id", ""))}</td>'
            f"<td>{esc(a.get('location', ''))}</td><td>{esc(_fmt(a.get('incidents')))}</td>"
            f"<td>{esc(_fmt(a.get('pai'), '.0f'))}</td><td>{esc(win.label)}</td><td>{esc(ids)}</td></tr>"
        )
    doc.append("</table>")
    if params:
        doc.append("<h3>Run parameters</h3><table>")
        for k, v in params.items():
            doc.append(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>")
        doc.append("</table>")
    doc.append("</section>")

    for _, a in patrol_areas.iterrows():
        pid = str(a["patrol_area_id"])
        hid = str(a.get("hotspot_id", ""))
        ms = list(matches.get(pid, []))
        win = patrol_window(a, kb)
        parent = hot_rows.get(hid)
        doc.append(f'<section class="area" id="area-{esc(pid)}">')
        if synthetic:
            doc.append('<p class="synthetic">SYNTHETIC DEMO DATA</p>')
        doc.append(f"<h2>{esc(pid)}: {esc(a.get('location') or 'unnamed place')}</h2>")
        doc.append(
            f"<p>Centre {esc(_fmt(a.get('centre_lat'), '.5f'))}, {esc(_fmt(a.get('centre_lon'), '.5f'))}; "
            f"{esc(_fmt(2 * float(a.get('radius_m', float('nan'))), '.0f'))} m across; part of hot spot {esc(hid)}"
            + (
                f" (rank {esc(parent.get('rank'))}, {esc(parent.get('incidents'))} incidents)"
                if parent is not None
                else ""
            )
            + ".</p>"
        )
        doc.append('<div class="grid"><div>')
        doc.append(_map_svg(a, hot_geoms.get(hid), points))
        doc.append(
            '<p class="src">Red: patrol area. Dashed: hot spot. Dots: incidents (larger = several at one point).</p>'
        )
        doc.append("</div><div>")
        doc.append("<h3>Why this place</h3><ul>")
        doc.append(
            f"<li>{esc(_fmt(a.get('incidents')))} incidents inside ({esc(_fmt(100 * float(a.get('share', float('nan'))), '.2f'))}% of all).</li>"
        )
        harm = a.get("harm")
        if harm is not None and not (isinstance(harm, float) and math.isnan(harm)):
            doc.append(f"<li>Harm: {esc(_fmt(harm, '.1f'))} (sum of harm weights).</li>")
        doc.append(
            f"<li>PAI {esc(_fmt(a.get('pai'), '.1f'))}: its share of violence over its share of the study area (retrospective).</li>"
        )
        doc.append(
            f"<li>{esc(str(a.get('temporal_class', '')).capitalize())}: violence in {esc(_fmt(a.get('months_active')))} "
            f"of {esc(_fmt(a.get('n_months')))} months; trend {esc(a.get('trend', 'n/a'))}.</li></ul>"
        )
        doc.append(sparkline_svg(_as_list(a.get("monthly_counts")), months))
        doc.append("<h3>When</h3>")
        doc.append(
            f"<p>{esc(win.label)}"
            + (" (this place's own peak)" if win.basis == "profile" else "")
            + ". Vary start times every day.</p>"
        )
        if win.caveat:
            doc.append(f'<p class="caveat">{esc(win.caveat)}</p>')
        doc.append("</div></div>")
        doc.append("<h3>What to do</h3>")
        main = [m for m in ms if not m.tactic.caution]
        cautions = [m for m in ms if m.tactic.caution]
        for i, m in enumerate(main):
            doc.append(_tactic_html(m, kb, steps=i < 4))
        if cautions:
            doc.append("<h3>Cautions</h3>")
            for m in cautions:
                doc.append(_tactic_html(m, kb, steps=False))
        doc.append("<h3>Dosage</h3>")
        if per_area is not None and pid in per_area.index:
            r = per_area.loc[pid]
            p = plan.params
            if bool(r["in_plan"]):
                doc.append(
                    f"<p>{esc(r['visits'])} visits of {esc(p['visit_minutes'])} minutes by {esc(p['officers_per_patrol'])} officers on foot "
                    f"over {esc(p['days'])} days; {esc(r['control_days'])} control days (no patrol); longest gap between visits "
                    f"{esc(r['max_gap_days'])} days (limit {esc(p['max_gap_days'])}). Only time on foot inside the area counts; "
                    "under 10 minutes is not a dose.</p>"
                )
                v = plan.visits
                mine = v[(v["patrol_area_id"] == pid) & (v["arm"] == "patrol")].head(visits_listed)
                if len(mine):
                    doc.append(
                        "<table><tr><th>Date</th><th>Start</th><th>End</th><th>Assignment</th></tr>"
                    )
                    for rec in mine.itertuples(index=False):
                        doc.append(
                            f"<tr><td>{esc(pd.Timestamp(rec.date).strftime('%a %d %b'))}</td><td>{esc(pd.Timestamp(rec.start).strftime('%a %H:%M'))}</td>"
                            f"<td>{esc(pd.Timestamp(rec.end).strftime('%H:%M'))}</td><td>{esc(rec.assignment)}</td></tr>"
                        )
                    doc.append("</table>")
            else:
                doc.append(
                    '<p class="caveat">Not in this plan: capacity ran out before this area. Patrol it if capacity is added.</p>'
                )
        else:
            doc.append(
                f"<p>{esc(int(kb.constant('visit_minutes')))}-minute visits (at least {esc(int(kb.constant('min_visit_minutes')))}), at least one a day, no more than {esc(int(kb.constant('max_gap_days')))} days apart.</p>"
            )
        doc.append("</section>")
    doc.append("</body></html>")
    return "\n".join(doc)


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
            "No Chromium browser found to print the briefing to PDF. Install the 'chromium' package, "
            "or open briefing.html in any browser and print it."
        )
        raise HotspotsError(msg)
    html_path = Path(html_path).resolve()
    pdf_path = Path(pdf_path).resolve()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
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
