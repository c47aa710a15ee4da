"""Progress of long library work in the page: a progress callback drawn as a status box.

:class:`StatusProgress` is a ``progress(step, done, total)`` callback (the one the command line
draws with tqdm) that shows ``st.status`` with the current step ("Reading file 37 of 444",
"Validating", "Finding hot spots", "Ranking") and an ``st.progress`` bar for steps counted in
units. It is made before a cached call and passed to it as an argument Streamlit does not hash
(``_progress``):

* nothing is drawn until the library reports, so a cache hit shows no box at all, and
  :meth:`StatusProgress.finish` removes the box (it sits in an ``st.empty`` placeholder), so the
  page below it does not move once the work is done;
* its Streamlit calls run in the script context captured when it was made, outside the cached
  function, so Streamlit does not record them for replay on later cache hits (a replayed call on
  a box from an earlier run would fail).

Importing this module runs nothing.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from hotspots.progress import (
    AREAS,
    CLASSIFYING,
    COMPARING,
    DETECTING,
    EVALUATING,
    PLANNING,
    PROFILING,
    RANKING,
    READING,
    VALIDATING,
    WRITING,
)

#: What the box says for each library step (``{done}`` and ``{total}`` are filled in).
STEP_LABELS = {
    READING: "Reading file {next} of {total}",
    VALIDATING: "Validating the rows (coordinates, dates, duplicates, outliers)",
    DETECTING: "Finding hot spots",
    RANKING: "Ranking the hot spots (counts, significance, profiles)",
    COMPARING: "Finding hot spots again to weigh proactive offences",
    AREAS: "Choosing patrol areas (forecasting where violence comes next)",
    PLANNING: "Making the patrol plan",
    EVALUATING: "Checking against the later period",
    CLASSIFYING: "Classifying places over time",
    PROFILING: "Profiling force {next} of {total}",
    WRITING: "Writing file {next} of {total}",
}


def step_label(step: str, done: int, total: int | None) -> str:
    """The words for a progress report, e.g. ``"Reading file 3 of 12"``.

    Examples
    --------
    >>> step_label("reading files", 2, 12)
    'Reading file 3 of 12'
    >>> step_label("reading files", 12, 12)
    'Reading file 12 of 12'
    >>> step_label("ranking", 0, 1)
    'Ranking the hot spots (counts, significance, profiles)'
    """
    template = STEP_LABELS.get(step, step[:1].upper() + step[1:])
    if total is None:
        return template.replace(" of {total}", "").format(next=done + 1)
    return template.format(next=min(done + 1, max(total, 1)), total=total)


#: The shortest time between two drawings of one box's step, in seconds. Each drawing is two
#: messages to the browser, and the reader reports every file: 516 national files drawn one by
#: one held the first map back 16 s (an AppTest run, 28 -> 12 s of reading). A label changing more
#: often than a few times a second cannot be read anyway; a new step and a step's end are always
#: drawn.
DRAW_INTERVAL_S = 0.2


# The place the status boxes of the work under way are drawn in (boxes_here), if any.
_AREA: contextvars.ContextVar[_Area | None] = contextvars.ContextVar("status_area", default=None)


class _Area:
    """An ``st.empty`` made where :func:`boxes_here` is entered, holding the boxes drawn later."""

    def __init__(self) -> None:
        self._slot = st.empty()
        self._inside: Any = None
        self._lock = threading.Lock()

    def empty(self) -> Any:
        """A placeholder for one box, inside the area (made once the first box is drawn)."""
        with self._lock:
            if self._inside is None:
                self._inside = self._slot.container()
            return self._inside.empty()


@contextmanager
def boxes_here() -> Iterator[None]:
    """Draw the status boxes of the work inside in one place, made here in every run.

    A box is drawn only when the library reports (not on a cache hit), so boxes drawn in the
    page itself would move what follows them in that run only: the next run (a rerun once the
    patrol plan is made, say) finds every element below at another place, and Streamlit remounts
    them, the map's frame too (which loads and runs the map again). One placeholder made in
    every run keeps the elements below where they were.
    """
    token = _AREA.set(_Area())
    try:
        yield
    finally:
        _AREA.reset(token)


class StatusProgress:
    """A :data:`hotspots.progress.Progress` callback drawing a status box and a progress bar.

    Parameters
    ----------
    title : str
        What the whole job is ("Reading the incident files"); the box's label while it runs.
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.steps: list[tuple[str, int, int | None]] = []
        self._context = contextvars.copy_context()
        self._area = _AREA.get()
        self._slot: Any = None
        self._box: Any = None
        self._bar: Any = None
        self._lock = threading.Lock()
        self._drawn: tuple[str, float] | None = None  # the step last drawn and when
        self.draws = 0  # how many reports were drawn (the others came too soon after one)

    def __call__(self, step: str, done: int, total: int | None) -> None:
        """Report ``done`` of ``total`` units of ``step`` (see :mod:`hotspots.progress`).

        Every report is kept in :attr:`steps`; it is drawn when it starts a step, ends one
        (``done == total``) or comes :data:`DRAW_INTERVAL_S` or more after the last drawing.
        """
        self.steps.append((step, done, total))
        now = time.monotonic()
        with self._lock:
            last = self._drawn
            ends = total is not None and done >= total
            if (
                last is not None
                and last[0] == step
                and not ends
                and now - last[1] < DRAW_INTERVAL_S
            ):
                return
            self._drawn = (step, now)
            self.draws += 1
            self._context.copy().run(self._draw, step, done, total)

    def _draw(self, step: str, done: int, total: int | None) -> None:
        label = step_label(step, done, total)
        if self._box is None:
            self._slot = st.empty() if self._area is None else self._area.empty()
            self._box = self._slot.container().status(f"{self.title}: {label}...", expanded=True)
            self._bar = self._box.progress(0.0)
        else:
            self._box.update(label=f"{self.title}: {label}...")
        fraction = done / total if total else 0.0
        self._bar.progress(min(max(fraction, 0.0), 1.0), text=label)

    def finish(self) -> None:
        """Remove the box (nothing if it was never drawn): the work it reported is done."""
        if self._slot is not None:
            self._context.copy().run(self._slot.empty)
        self._slot = self._box = self._bar = None
