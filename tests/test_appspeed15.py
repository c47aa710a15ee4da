"""appspeed15: the status box draws a step's reports at most every ``DRAW_INTERVAL_S``.

The reader reports every file; drawing each report of 516 national files held the first map back
16 s. The box still gets every report (``steps``), draws a new step and a step's end, and the page
shows the same numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hotspots_app import status
from hotspots_app.status import StatusProgress

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _clock(monkeypatch: pytest.MonkeyPatch, now: list[float]) -> None:
    monkeypatch.setattr(status.time, "monotonic", lambda: now[0])


def test_reports_in_quick_succession_are_kept_but_drawn_once(monkeypatch):
    now = [100.0]
    _clock(monkeypatch, now)
    p = StatusProgress("Reading")
    for i in range(500):
        p("reading files", i, 500)
    assert p.draws == 1  # the first report only: the others came at once
    p("reading files", 500, 500)  # the step's end is drawn
    assert p.draws == 2
    p("validating", 0, None)  # a new step is drawn
    assert p.draws == 3
    assert len(p.steps) == 502  # every report kept
    assert p.steps[0] == ("reading files", 0, 500) and p.steps[-1] == ("validating", 0, None)


def test_a_report_after_the_interval_is_drawn(monkeypatch):
    now = [5.0]
    _clock(monkeypatch, now)
    p = StatusProgress("Reading")
    p("reading files", 0, 10)
    now[0] += status.DRAW_INTERVAL_S / 2
    p("reading files", 1, 10)
    assert p.draws == 1
    now[0] += status.DRAW_INTERVAL_S
    p("reading files", 2, 10)
    assert p.draws == 2
    now[0] += status.DRAW_INTERVAL_S / 2
    p("reading files", 3, 10)
    assert p.draws == 2


@pytest.mark.parametrize("done,total", [(0, 1), (0, 0), (3, None)])
def test_one_report_is_drawn(done, total):
    p = StatusProgress("Finding")
    p("detecting", done, total)
    assert p.draws == 1 and p.steps == [("detecting", done, total)]


def _page_numbers(folder: Path, monkeypatch: pytest.MonkeyPatch, interval: float):
    from streamlit.testing.v1 import AppTest

    made: list[StatusProgress] = []
    init = StatusProgress.__init__

    def recording_init(self, title):
        init(self, title)
        made.append(self)

    monkeypatch.setattr(StatusProgress, "__init__", recording_init)
    monkeypatch.setattr(status, "DRAW_INTERVAL_S", interval)
    monkeypatch.setenv("HOTSPOTS_DATA", str(folder))
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["show_patrol_areas"] = False  # no plan, no rerun: the first run only
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    metrics = [(m.label, m.value) for m in at.metric]
    reading = next(p for p in made if p.title.startswith("Opening"))
    return metrics, reading


def test_the_page_shows_the_same_numbers_with_fewer_drawings(tmp_path, monkeypatch):
    from hotspots.synthetic import write_national

    seed = int.from_bytes(os.urandom(4), "little")  # files not read before: a cache miss
    forces = ["merseyside", "cheshire", "kent"]
    every, fewer = tmp_path / "every", tmp_path / "fewer"
    files = write_national(every, rows=3000, forces=forces, seed=seed)
    write_national(fewer, rows=3000, forces=forces, seed=seed)
    assert len(files) == 36
    numbers_every, read_every = _page_numbers(every, monkeypatch, 0.0)
    numbers_fewer, read_fewer = _page_numbers(fewer, monkeypatch, 3600.0)
    assert numbers_every == numbers_fewer
    assert any(label == "Hot spots" for label, _ in numbers_every)
    assert read_every.steps == read_fewer.steps  # the same reports, each file's
    assert sum(s == "reading files" for s, _, _ in read_fewer.steps) >= len(files)
    assert read_every.draws == len(read_every.steps)  # no interval: every report drawn
    # with the interval: one drawing per step started, one per step ended
    assert read_fewer.draws <= 2 * len({s for s, _, _ in read_fewer.steps})
