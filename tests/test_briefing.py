"""Tests for hotspots.briefing: a page per patrol area, offline, escaped, labelled if synthetic."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.briefing import render_briefing, sparkline_svg
from hotspots.incidents import Incidents
from hotspots.offline import escape_text
from hotspots.patrol import make_patrol_areas, make_patrol_plan
from hotspots.tactics import match_tactics

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700
SCRIPT = "<script>alert(1)</script>"
TEMPLATE = 'Back`${x}`Lane & "Co"'


@pytest.fixture(scope="module")
def crafted():
    spec = [(0, 0, 30, SCRIPT), (600, 0, 15, TEMPLATE), (1500, 300, 8, "On or near Park")]
    xs, ys, locs = [], [], []
    for x, y, n, loc in spec:
        xs += [X0 + x] * n
        ys += [Y0 + y] * n
        locs += [loc] * n
    rng = np.random.default_rng(0)
    months = pd.to_datetime(rng.choice(pd.date_range("2022-01-01", periods=6, freq="MS"), len(xs)))
    inc = Incidents.from_xy(
        np.array(xs), np.array(ys), month=months, location=np.array(locs, dtype=object)
    )
    hot = gpd.GeoDataFrame(
        {
            "hotspot_id": ["H001", "H002"],
            "rank": [1, 2],
            "incidents": [45, 8],
            "temporal_class": ["chronic", "emerging"],
            "has_time": [False, False],
        },
        geometry=[
            shapely.box(X0 - 100, Y0 - 100, X0 + 700, Y0 + 100),
            shapely.Point(X0 + 1500, Y0 + 300).buffer(80),
        ],
        crs="EPSG:27700",
    )
    areas = make_patrol_areas(inc, hot)
    matches = {
        r["patrol_area_id"]: match_tactics(r, n_hotspots=len(areas)) for _, r in areas.iterrows()
    }
    plan = make_patrol_plan(
        areas, seed=11, start_date="2025-01-06", days=14, control_share=0.5, matches=matches
    )
    return inc, hot, areas, matches, plan


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.sections: list[str] = []
        self.tags: set[str] = set()
        self.srcs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "section" and a.get("class") == "area":
            self.sections.append(a["id"])
        self.srcs += [v for k, v in attrs if k in ("src", "data-src") and v]

    def handle_data(self, data):
        self.text.append(data)


def test_a_page_per_area_with_map_why_when_what_dosage(crafted):
    inc, hot, areas, matches, plan = crafted
    html = render_briefing(areas, hot, plan, matches, params={"method": "kde"}, incidents=inc)
    p = _Collector()
    p.feed(html)
    assert p.sections == [f"area-{pid}" for pid in areas["patrol_area_id"]]
    assert len(areas) == 3
    for pid in areas["patrol_area_id"]:
        page = html.split(f'id="area-{pid}"', 1)[1].split("</section>", 1)[0]
        for heading in ("Why this place", "When", "What to do", "Dosage", "Cautions"):
            assert f"<h3>{heading}</h3>" in page, (pid, heading)
        assert page.count("<svg") == 2  # map + sparkline
        assert "<circle" in page  # incidents drawn
        assert "T01 Koper-curve visible stop" in page
        assert 'href="https://nij.ojp.gov/' in page  # source links
        assert "No time of day in these data" in page
        assert re.search(r"\d+ visits of 15 minutes", page)
    # print layout and offline: no scripts, no external resources
    assert "@media print" in html and "break-before: page" in html
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert not p.srcs
    assert "SYNTHETIC" not in html


def test_location_strings_are_escaped(crafted):
    inc, hot, areas, matches, plan = crafted
    html = render_briefing(areas, hot, plan, matches, params={"note": SCRIPT}, incidents=inc)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "`" not in html
    assert "Back&#96;&#36;{x}&#96;Lane &amp; &quot;Co&quot;" in html  # one escaper: $ too
    p = _Collector()
    p.feed(html)
    assert SCRIPT in "".join(p.text)  # shown to people as text


def test_synthetic_data_are_labelled_on_every_page(crafted):
    inc, hot, areas, matches, plan = crafted
    html = render_briefing(areas, hot, plan, matches, params={"synthetic": True}, incidents=inc)
    assert html.count('class="synthetic"') == 1 + len(areas)
    assert "SYNTHETIC DEMO DATA" in html


def test_without_plan_or_incidents_and_with_timed_profile(crafted):
    _, hot, areas, _, _ = crafted
    timed = areas.copy()
    timed["has_time"] = True
    timed["peak_start_hour"] = 22
    timed["peak_end_hour"] = 3
    timed["peak_days"] = [[4, 5]] * len(timed)
    timed["peak_window"] = "Fri\u2013Sat 22:00\u201303:00"
    timed["night_share"] = 0.8
    matches = {r["patrol_area_id"]: match_tactics(r) for _, r in timed.iterrows()}
    html = render_briefing(timed, None, None, matches, params={}, title="T <1>")
    assert "<title>T &lt;1&gt;</title>" in html
    assert "No time of day" not in html
    assert "Fri\u2013Sat 22:00\u201303:00 (this place's own peak)" in html
    assert "T10 Night-time economy dosage floor" in html
    assert html.count('<section class="area"') == len(timed)


def test_helpers():
    # the briefing prints every value through the package's one HTML escaper
    assert escape_text("<a href='x'>`") == "&lt;a href=&#x27;x&#x27;&gt;&#96;"
    assert escape_text(None) == "" and escape_text(float("nan")) == "n/a"
    svg = sparkline_svg([0, 3, 1], ["2022-01", "2022-02", "<b>"])
    assert svg.count("<rect") == 3 and "&lt;b&gt;" in svg and "max 3" in svg
    assert "no monthly data" in sparkline_svg([])


IMG = "<img src=x onerror=alert(1)>"
JINJA = "{{7*7}} {% for i in range(3) %}loop{% endfor %}"


def test_hostile_text_is_escaped_and_never_run_as_template(crafted):
    _, hot, areas, _, plan = crafted
    hostile = areas.copy()
    hostile["location"] = [IMG, JINJA, "{{ config }}"]
    matches = {
        r["patrol_area_id"]: match_tactics(r, n_hotspots=len(hostile))
        for _, r in hostile.iterrows()
    }
    html = render_briefing(
        hostile,
        hot,
        plan,
        matches,
        params={IMG: JINJA, "crime_types": [SCRIPT, "{{7*7}}"]},
        title="{{7*7}} <b>bold</b>",
    )
    p = _Collector()
    p.feed(html)
    # nothing hostile became markup: the only tags are the briefing's own
    assert not {"img", "script", "b"} & p.tags
    assert "<img" not in html and "<script" not in html.lower() and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    text = "".join(p.text)
    assert IMG in text and JINJA in text and SCRIPT in text  # shown to people as written
    # template syntax in data is printed, not evaluated
    assert "<h2>H001-P2: {{7*7}} {% for i in range(3) %}loop{% endfor %}</h2>" in html
    assert "<h2>H002-P1: {{ config }}</h2>" in html
    assert "<title>{{7*7}} &lt;b&gt;bold&lt;/b&gt;</title>" in html
    assert "looplooploop" not in html and ": 49" not in html
    assert "<tr><th>&lt;img src=x onerror=alert(1)&gt;</th><td>{{7*7}}" in html
    # the markings stay, on every page (the cover and each area)
    assert html.count("OFFICIAL-SENSITIVE") == 1 + 3 and '<p class="marking">' in html
    assert html.count('<section class="area"') == 3


def test_templates_ship_inside_the_package():
    from importlib.resources import files

    folder = files("hotspots") / "templates"
    names = {f.name for f in folder.iterdir()}
    assert {"briefing.html", "briefing_parts.html", "briefing.css"} <= names


def test_briefing_prints_to_pdf_offline(tmp_path):
    from hotspots.briefing import find_pdf_browser, html_to_pdf

    if find_pdf_browser() is None:
        pytest.skip("no Chromium-family browser installed")
    html = tmp_path / "b.html"
    html.write_text(
        "<html><body><h1>Patrol briefing</h1><p>page one</p></body></html>", encoding="utf-8"
    )
    pdf = html_to_pdf(html, tmp_path / "b.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 500


def test_pdf_without_a_browser_says_how_to_fix(tmp_path, monkeypatch):
    from hotspots import HotspotsError, briefing

    monkeypatch.setattr(briefing, "find_pdf_browser", lambda: None)
    with pytest.raises(HotspotsError, match="Install the 'chromium' package"):
        briefing.html_to_pdf(tmp_path / "x.html", tmp_path / "x.pdf")
