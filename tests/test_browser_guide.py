"""End to end in headless Chromium: the guide's safeguards and steps as a person sees them.

The stop and search notice on the Map, Hot spot details and Patrol plan tabs and in the briefing
download; the staffing selector changing each area's recommendation; the Assess tab on the demo
with simulated later incidents and synthetic patrol logs. The app, browser and helpers are those
of tests/test_browser.py (one ``streamlit run app.py`` per session, no outside request);
screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import test_browser as tb
from test_browser import ARTIFACTS, map_paths, open_tab, wait_idle

from hotspots.safeguards import stop_search_notice

pytestmark = tb.pytestmark
# The fixtures of tests/test_browser.py: one app server and one browser per module.
app_url, browser, page = tb.app_url, tb.browser, tb.page
NOTICE = stop_search_notice(short=True)


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _pick(pg, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    box = pg.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.click()
    pg.get_by_role("option", name=option, exact=True).click()


def _primary(pg) -> str:
    return pg.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
             .map(e => e.innerText.trim()).find(t => t.startsWith('Primary tactic (')) || ''"""
    )


def test_notice_on_every_tab_with_hot_spots_and_in_the_briefing(page, tmp_path):
    wait_idle(page)
    map_paths(page)
    assert page.get_by_text(NOTICE, exact=True).count() == 1
    assert page.get_by_text("Guide step: Targeting").count() == 1
    for tab in ("Hot spot details", "Patrol plan"):
        open_tab(page, tab)
        notice = page.get_by_text(NOTICE, exact=True).first
        notice.wait_for()
        assert notice.is_visible(), tab
        # The tactic card carries it too.
        assert page.get_by_text("Stop and search:").count() >= 1, tab
    _shot(page, "10_patrol_plan_cards")
    with page.expect_download() as info:
        page.get_by_role("button", name="Briefing (HTML, printable)").click()
    path = tmp_path / "briefing.html"
    info.value.save_as(path)
    html = path.read_text("utf-8")
    full = stop_search_notice()
    assert html.count(full.split(".")[0]) >= 2  # on the cover and on every area page
    assert page.recorder.outside() == [], page.recorder.outside()
    assert page.recorder.dialogs == []


def test_staffing_selector_changes_the_recommendation(page):
    wait_idle(page)
    open_tab(page, "Patrol plan")
    page.get_by_text("Primary tactic (").first.wait_for()
    before = _primary(page)
    assert before.startswith("Primary tactic (Dedicated pairs on foot):"), before
    _pick(page, "Who patrols (staffing)", "PCSOs")
    page.get_by_role("button", name="Make the plan").click()
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
             .some(e => e.innerText.startsWith('Primary tactic (PCSOs):'))""",
        timeout=90_000,
    )
    after = _primary(page)
    assert after.startswith("Primary tactic (PCSOs): T05 "), after
    assert after != before
    page.get_by_role("heading", name="Tactics for each area").first.evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "11_staffing_pcso.png"))


def _idle(pg, timeout: float = 180_000) -> None:
    pg.wait_for_timeout(300)
    pg.wait_for_function(tb.IDLE_ANY_JS, timeout=timeout)


def test_assess_tab_runs_on_the_demo_with_simulated_logs(page, tmp_path):
    import csv
    import io

    wait_idle(page)
    open_tab(page, "Patrol plan")
    page.get_by_label("Daily control share").fill("0.50")
    page.get_by_role("button", name="Make the plan").click()
    _idle(page)
    open_tab(page, "Assess")
    assert page.get_by_text(NOTICE, exact=True).count() == 1
    assert page.get_by_text("Guide step: Testing").count() == 1
    page.get_by_role("button", name="Assess the operation").click()
    page.get_by_text("Patrol against control days (randomised)").wait_for(timeout=240_000)
    _idle(page)
    rr = float(tb.metric(page, "Rate ratio"))
    low, high = (float(v) for v in tb.metric(page, "95% interval").split(" to "))
    assert 0 < low < rr < high
    assert page.get_by_text("Synthetic", exact=True).count() >= 1
    assert (
        page.get_by_text("What can be concluded").count()
        + page.get_by_text("What cannot be concluded").count()
        >= 1
    )
    with page.expect_download() as info:
        page.get_by_role("button", name="Estimates (effect.csv)").click()
    path = tmp_path / "effect.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    assert rows[0]["estimate"] == "crossover"
    assert f"{float(rows[0]['value']):.2f}" == f"{rr:.2f}"
    assert any(r["estimate"].startswith("displacement_") for r in rows)
    page.get_by_role("heading", name="Assess the operation").evaluate(
        "e => e.scrollIntoView({block: 'start'})"
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "12_assess.png"))
    assert page.recorder.outside() == [], page.recorder.outside()
    assert page.recorder.dialogs == []
