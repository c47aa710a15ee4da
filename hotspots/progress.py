"""Progress of long work, reported to a callback: no user interface here.

A function that can take more than a second accepts ``progress=None`` and calls
``progress(step, done, total)`` as it goes; the front end decides how to show it (the command
line draws a bar on stderr, the app a status box). The library never prints.

``step`` is one of the names below, ``done`` the units finished so far and ``total`` the units
in the step (``None`` when unknown). Each step starts with ``done == 0`` and ends with
``done == total``:

==========================  ==================================================================
step                        units
==========================  ==================================================================
:data:`READING`             files read (``reading files``: file 37 of 444)
:data:`VALIDATING`          1 (coordinates, dates, duplicates, outliers and filters)
:data:`DETECTING`           1 (the detector's fit)
:data:`RANKING`             1 (profiles, significance and ranks)
:data:`COMPARING`           1 (hot spots again without, or with, proactive offences)
:data:`AREAS`               1 (the forecast that places patrol areas, and their flags)
:data:`PLANNING`            1 (tactics matched and the patrol plan made)
:data:`EVALUATING`          1 (the hold-out evaluation)
:data:`CLASSIFYING`         1 (change over time)
:data:`PROFILING`           forces profiled (``profiling forces``: force 12 of 43)
:data:`WRITING`             files written
==========================  ==================================================================

Examples
--------
>>> seen = []
>>> with progress_step(lambda *a: seen.append(a), READING, 2) as advance:
...     advance()
...     advance()
>>> seen
[('reading files', 0, 2), ('reading files', 1, 2), ('reading files', 2, 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = [
    "AREAS",
    "CLASSIFYING",
    "COMPARING",
    "DETECTING",
    "EVALUATING",
    "PLANNING",
    "PROFILING",
    "RANKING",
    "READING",
    "STEPS",
    "VALIDATING",
    "WRITING",
    "Progress",
    "no_progress",
    "progress_step",
    "reporter",
]

#: A progress callback: ``progress(step, done, total)``; ``total`` is None when unknown.
Progress = Callable[[str, int, "int | None"], None]

READING = "reading files"
VALIDATING = "validating"
DETECTING = "detecting"
RANKING = "ranking"
COMPARING = "comparing proactive offences"
AREAS = "choosing patrol areas"
PLANNING = "planning patrols"
EVALUATING = "evaluating"
CLASSIFYING = "classifying"
PROFILING = "profiling forces"
WRITING = "writing outputs"
#: Every step name, in the order a full run reports them.
STEPS = (
    READING,
    VALIDATING,
    DETECTING,
    RANKING,
    COMPARING,
    AREAS,
    PLANNING,
    EVALUATING,
    CLASSIFYING,
    PROFILING,
    WRITING,
)


def no_progress(step: str, done: int, total: int | None) -> None:
    """The default callback: ignore the report."""


def reporter(progress: Progress | None) -> Progress:
    """``progress``, or :func:`no_progress` when it is None."""
    return no_progress if progress is None else progress


@contextmanager
def progress_step(
    progress: Progress | None, step: str, total: int | None = 1
) -> Iterator[Callable[..., None]]:
    """Report one step: ``(step, 0, total)`` on entry, then one report per ``advance(n=1)``.

    Parameters
    ----------
    progress : Progress, optional
        The callback; None reports nothing.
    step : str
        The step's name (one of :data:`STEPS`).
    total : int, optional
        Units in the step; default 1 (a step that is done or not).

    Yields
    ------
    callable
        ``advance(n=1)``: ``n`` more units done. On a normal exit the step is reported done
        (``done == total``) if ``advance`` did not get there; on an error nothing more is reported.
    """
    report = reporter(progress)
    done = 0

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        report(step, done, total)

    report(step, 0, total)
    yield advance
    if total is not None and done < total:
        report(step, total, total)
