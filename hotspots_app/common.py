"""Shared widgets and caching for the app's sections.

- :func:`md` escapes user text for ``st.markdown``.
- :func:`cache_data` and :func:`cache_resource` are Streamlit's caches keyed on the fingerprints
  the library computes (:attr:`hotspots.incidents.Incidents.fingerprint`,
  :attr:`hotspots.detect.HotspotResult.fingerprint`, see :data:`HASH_FUNCS`), so no section
  builds its own digest. They are made on first call, so importing a section runs nothing.
- :func:`capture` runs a library call and keeps the warnings it raised (:class:`Outcome`);
  :func:`show_warnings` shows them as ``st.warning``. Cached functions return the ``Outcome``, so
  the warnings are shown again on every rerun that uses the cached value.
- :func:`restore` / :func:`remember` / :func:`recall` keep settings whose widgets are not drawn in
  every run (only the open tab is drawn).
- :func:`selected` / :func:`select` hold the selected hot spot.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

import hotspots
from hotspots import HotspotsWarning
from hotspots.detect import HotspotResult
from hotspots.incidents import Incidents

LOG = logging.getLogger("hotspots.app")

METHOD_LABELS = {
    "kde": "Kernel density (KDE)",
    "dbscan": "DBSCAN clusters",
    "hdbscan": "HDBSCAN clusters",
    "gistar": "Getis-Ord Gi* (grid cells)",
}
ORDER_LABELS = {
    "intensity": "Intensity (incidents per km²)",
    "count": "Incident count",
    "harm": "Harm (weighted)",
}

#: Cache keys for the library's objects: their fingerprints, not their (large) contents.
HASH_FUNCS: dict[Any, Callable[[Any], Any]] = {
    Incidents: lambda inc: inc.fingerprint,
    HotspotResult: lambda res: res.fingerprint,
}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=])")
_LIBRARY_DIR = Path(hotspots.__file__).resolve().parent
# Warnings are process-wide state (filters, showwarning), and sessions run side by side in threads:
# while any capture runs, one recorder (_show) is installed and hands each warning to the capture
# of the thread that raised it, so sessions' cache misses run at once, none sees another's
# warnings. _ROUTES: thread id -> its captures' lists (innermost last); _OUTER: the installed one.
_ROUTE_LOCK = threading.Lock()
_ROUTES: dict[int, list[list[warnings.WarningMessage]]] = {}
_OUTER: list[Any] = []
_KEPT = "_kept"
_SELECTED = "_selected_hotspot"
#: The detection run the selection's id belongs to (its fingerprint).
_SELECTED_IN = "_selected_in_run"


def _lazy(make: Callable[..., Any], options: dict[str, Any]) -> Callable[[Callable], Callable]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        cached: list[Callable[..., Any]] = []

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not cached:  # two threads may both make it: the same cache either way
                cached.append(make(hash_funcs=HASH_FUNCS, show_spinner=False, **options)(fn))
            return cached[0](*args, **kwargs)

        def clear() -> None:
            if cached:
                cached[0].clear()

        wrapper.clear = clear  # type: ignore[attr-defined]
        return wrapper

    return decorate


def cache_data(**options: Any) -> Callable[[Callable], Callable]:
    """``st.cache_data(hash_funcs=HASH_FUNCS, show_spinner=False, **options)``, made on first call.

    For values that are cheap to copy (bytes, small tables): each session gets its own copy.
    """
    return _lazy(st.cache_data, options)


def cache_resource(**options: Any) -> Callable[[Callable], Callable]:
    """``st.cache_resource(hash_funcs=HASH_FUNCS, show_spinner=False, **options)``, made on first
    call.

    For large read-only objects (incidents, detection runs): sessions share one object.
    """
    return _lazy(st.cache_resource, options)


def md(text: Any) -> str:
    """Escape text (from a CSV, a file name, a library note) for ``st.markdown``.

    Markdown would otherwise turn ``![x](http://host/x.png)`` in a file name into an outside
    request, and ``$...$`` into LaTeX.
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


#: The library's notes and errors name its Python and command-line switches ("pass
#: study_area=", "--leave-out-proactive"), which is right in its exports; on the page a user
#: has only the app's controls, so :func:`plain` names those instead. Each left-hand side is a
#: phrase the library writes (tests/test_app13.py checks that it still does).
PLAIN_WORDING: tuple[tuple[str, str], ...] = (
    (
        "leave them out with leave_out_proactive (--leave-out-proactive). ",
        "leave them out by ticking 'Leave out proactive offences' under 4. Parameters. ",
    ),
    (
        "They were left out of the hot spots (leave_out_proactive). ",
        "They were left out of the hot spots ('Leave out proactive offences' is ticked). ",
    ),
    (
        "How many hot spots they change was not computed (compare_proactive=True does).",
        "Ticking it also says how many hot spots they change.",
    ),
    (
        "pass study_area= for an exact boundary",
        "give the area's boundary under 2. Filters (Study area) for an exact one",
    ),
    (
        "(give a boundary with --study-area / study_area= to use your own)",
        "(give a boundary under 2. Filters, Study area, to use your own)",
    ),
    (
        "(give a boundary with study_area= to use your own)",
        "(give a boundary under 2. Filters, Study area, to use your own)",
    ),
    ("Override with bandwidth=.", "Override it with Bandwidth (m) under 4. Parameters."),
    ("Override with cell_size=.", "Override it with Cell size (m) under 4. Parameters."),
    (
        "Override with coverage= or threshold=.",
        "Override it with Hot spot coverage under 4. Parameters.",
    ),
    (
        "Large inputs are binned instead (surface='binned'); keep surface='exact' to "
        "always sum every kernel.",
        "Large inputs are binned instead.",
    ),
    (" Set surface='exact' for the exact sum.", ""),
    (
        "(include them with include_institutions=True, --include-institutions)",
        "(tick Include institutions under Patrol plan to plan them)",
    ),
    (
        "pass include_institutions=True (--include-institutions) to plan them anyway.",
        "tick Include institutions under Patrol plan to plan them anyway.",
    ),
    (
        "so every row was kept; pass crime_types= to choose.",
        "so every row was kept; choose under 2. Filters (Crime types).",
    ),
    (
        "Pass crime_types='all' or a list to choose.",
        "Choose others under 2. Filters (Crime types).",
    ),
    (
        "(dose='recommended', --dose recommended, carries the dose out for fewer areas)",
        "('Each area's recommended dose' under Visits per area carries the dose out for fewer "
        "areas)",
    ),
    ("(dose='uniform', --dose uniform)", "('Same visits everywhere' under Visits per area)"),
    (
        "(crime_types='all' or a list; --crime-types on the command line, the Crime types filter "
        "in the app).",
        "under 2. Filters (Crime types) and apply the filters.",
    ),
    (
        "pass columns= with names exactly as in the header.",
        "choose the columns again in the 'Map the columns' form.",
    ),
    (
        "Fix: use DBSCANHotspots, which handles any size,",
        "Fix: choose DBSCAN clusters under 3. Method, which handles any size,",
    ),
    (
        "Name the columns with columns={'lat': ..., 'lon': ..., 'datetime': ..., 'unit': ...} "
        "(CLI --column ROLE=NAME).",
        "Name the file's columns unit, time, latitude and longitude (or easting and northing) "
        "and upload it again.",
    ),
    (
        ". Name others with columns= (--column ROLE=NAME).",
        ". Name others, or leave one out, in the sidebar's 'Columns and coordinates' form.",
    ),
    (
        "(if they are in another CRS, give it: --coordinate-crs, coordinate_crs=)",
        "(if they are in another coordinate system, the numbers cannot show it: give the file "
        "longitude and latitude columns instead)",
    ),
    ("or name them explicitly (columns=).", "or name them in the 'Map the columns' form."),
    (
        "or name the columns explicitly (columns=).",
        "or name them in the 'Map the columns' form.",
    ),
    ("(--crs on the command line, crs= in Python)", "(Analysis CRS under 2. Filters)"),
    ("(--crs on the command line, crs= in Python; ", "(Analysis CRS under 2. Filters; "),
    (
        "date_order='day-first' (--date-order day-first)",
        "'Day first' under 2. Filters (Day and month order in dates)",
    ),
    (
        "date_order='month-first' (--date-order month-first)",
        "'Month first' under 2. Filters (Day and month order in dates)",
    ),
    (
        "; they are unreadable dates (unreadable_dates=, --unreadable-dates).",
        "; they are unreadable dates.",
    ),
    (
        "; pass columns={'datetime_end': None} (--column datetime_end=) to read the start alone.",
        "; choose '(none: leave it out)' for the time window's end in the sidebar's 'Columns and "
        "coordinates' form to read the start alone.",
    ),
    (
        "name the date column (columns=) or pass unreadable_dates='keep' (--unreadable-dates "
        "keep) to use the rows without dates.",
        "name the date column in the 'Map the columns' form.",
    ),
)


def plain(text: Any) -> str:
    """A library note or error as the page says it: its programming switches named as the app's
    controls (:data:`PLAIN_WORDING`); other text unchanged."""
    out = str(text)
    for said, meant in PLAIN_WORDING:
        if said in out:
            out = out.replace(said, meant)
    return out


# ------------------------------------------------------------------------ library warnings
@dataclass(frozen=True)
class Outcome:
    """A library call's return value and the warnings it raised (for the user)."""

    value: Any
    warnings: tuple[str, ...] = ()


def _for_user(w: warnings.WarningMessage) -> bool:
    if issubclass(w.category, HotspotsWarning):
        return True
    if not issubclass(w.category, UserWarning):
        return False
    try:
        return Path(w.filename).resolve().is_relative_to(_LIBRARY_DIR)
    except (OSError, ValueError):
        return False


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` while captures run: to the raising thread's innermost capture.

    A warning from a helper thread (ingest reads files in a thread pool) goes to the capture
    when only one runs; with several, which session it belongs to is unknown, so it goes to the
    server log only, never to another session.
    """
    thread = threading.current_thread()
    with _ROUTE_LOCK:
        stack = _ROUTES.get(thread.ident or 0)
        if stack is None and len(_ROUTES) == 1 and not thread.name.startswith("ScriptRunner"):
            stack = next(iter(_ROUTES.values()))
        if stack:
            stack[-1].append(
                warnings.WarningMessage(message, category, filename, lineno, file, line)
            )
            return
    LOG.warning("%s: %s", category.__name__, message)


@contextmanager
def _recorded() -> Iterator[list[warnings.WarningMessage]]:
    """Record the warnings this thread raises inside the block (every one: filter "always")."""
    ident = threading.get_ident()
    caught: list[warnings.WarningMessage] = []
    with _ROUTE_LOCK:
        if not _ROUTES:  # the first capture running installs the recorder
            outer = warnings.catch_warnings()
            outer.__enter__()
            warnings.simplefilter("always")
            warnings.showwarning = _show
            _OUTER.append(outer)
        _ROUTES.setdefault(ident, []).append(caught)
    try:
        yield caught
    finally:
        with _ROUTE_LOCK:
            stack = _ROUTES[ident]
            stack.pop()
            if not stack:
                del _ROUTES[ident]
            if not _ROUTES:  # the last one restores what was there before
                _OUTER.pop().__exit__(None, None, None)


def capture(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Outcome:
    """Call ``fn(*args, **kwargs)`` and keep the warnings it raised.

    The library's own warnings (:class:`hotspots.HotspotsWarning`, or a ``UserWarning`` from a
    module of :mod:`hotspots`) are kept for :func:`show_warnings`, each message once; others
    (a library's deprecation, a numpy runtime warning) go to the server log. Exceptions pass.
    """
    with _recorded() as caught:
        value = fn(*args, **kwargs)
    messages: list[str] = []
    for w in caught:
        if _for_user(w):
            text = str(w.message)
            if text not in messages:
                messages.append(text)
        elif not issubclass(w.category, DeprecationWarning | PendingDeprecationWarning):
            LOG.warning("%s: %s", w.category.__name__, w.message)
    return Outcome(value, tuple(messages))


def show_warnings(*sources: Outcome | Iterable[str] | None) -> None:
    """Show the warnings of outcomes (or plain lists of messages) as ``st.warning``, each once."""
    seen: list[str] = []
    for source in sources:
        if source is None:
            continue
        messages = source.warnings if isinstance(source, Outcome) else source
        for text in messages:
            if str(text) not in seen:
                seen.append(str(text))
                st.warning(md(plain(text)), icon="⚠️")


# ------------------------------------------------------------------ settings kept across tabs
def recall(key: str, default: Any = None) -> Any:
    """A setting's kept value (see :func:`remember`), or ``default``."""
    return st.session_state.get(_KEPT, {}).get(key, default)


def remember(*keys: str) -> None:
    """Keep the current values of these widgets (a form's ``on_click``, a widget's ``on_change``).

    Only the open tab is drawn, and Streamlit forgets the state of a widget that a run does not
    draw; the kept copy survives, so other tabs (the map's patrol layer, the hot spot details)
    read the settings a user last applied.
    """
    kept = st.session_state.setdefault(_KEPT, {})
    for key in keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]


def keep(key: str, value: Any) -> None:
    """Keep a value under ``key`` as :func:`remember` keeps a widget's (an upload's bytes, say)."""
    st.session_state.setdefault(_KEPT, {})[key] = value


def restore(defaults: dict[str, Any]) -> None:
    """Before widgets are drawn: give each its kept value (or default) through session state.

    The widgets are then created without a ``value``, so Streamlit takes it from session state.
    """
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = recall(key, default)


# ------------------------------------------------------------------------- the selection
def selected() -> str | None:
    """The selected hot spot's id (kept across tabs), or None."""
    value = st.session_state.get(_SELECTED)
    return None if value is None else str(value)


def select(hotspot_id: str | None) -> None:
    st.session_state[_SELECTED] = hotspot_id


def keep_selection_valid(ids: list[str], run: str | None = None) -> str | None:
    """The selection, reset to the first hot spot when it is not one of ``ids``, or when the
    hot spots come from another detection run (``run``: its fingerprint): ids are ranks, so
    H005 of one method or upload is another place than H005 of the next."""
    ss = st.session_state
    if run is not None and ss.get(_SELECTED_IN) != run:
        changed = _SELECTED_IN in ss
        ss[_SELECTED_IN] = run
        if changed and ids and selected() != ids[0]:
            select(ids[0])
            refresh_table(ids)
    if selected() not in ids:
        select(ids[0] if ids else None)
    return selected()


def refresh_table(ids: list[str]) -> None:
    """Recreate the ranked table (a new key) with the selected row selected.

    A table's selection cannot be set once it exists, so a selection made elsewhere (the map,
    a selectbox) gives the table a new key (``table_nonce``).
    """
    ss = st.session_state
    ss["table_nonce"] = ss.get("table_nonce", 0) + 1
    ss["_seen_rows"] = [ids.index(selected())] if selected() in ids else []


def selection_box(ids: list[str], key: str) -> None:
    """A selectbox of hot spot ids bound to the selection."""

    def picked() -> None:
        select(st.session_state[key])
        refresh_table(ids)

    st.session_state[key] = selected()
    st.selectbox("Selected hot spot", ids, key=key, on_change=picked)


# ------------------------------------------------------------------ the guide and safeguards
#: The guide step(s) each tab serves, named as the College of Policing's guide names its seven
#: steps (:data:`hotspots.tactics.STEPS`).
TAB_STEPS: dict[str, tuple[str, ...]] = {
    "Map": ("Targeting",),
    "Hot spot details": ("Targeting", "Training"),
    "Patrol plan": ("Tasking", "Training"),
    "Tracking": ("Tracking",),
    "Assess": ("Testing",),
    "Change over time": ("Targeting",),
    "Check against a later period": ("Targeting", "Testing"),
    "Data and report": ("Enabling technologies", "Thinking"),
    "Downloads": ("Tasking", "Training"),
}


def guide_step(tab: str) -> None:
    """One line naming the guide step(s) a tab serves (:data:`TAB_STEPS`)."""
    steps = TAB_STEPS[tab]
    word = "steps" if len(steps) > 1 else "step"
    st.caption(f"Guide {word}: {', '.join(steps)} (College of Policing hot spots policing guide).")


def stop_search_notice(*, full: bool = False) -> None:
    """The stop and search notice (PACE Code A, paragraph 2.2), on every tab that shows hot spots
    or plans (:func:`hotspots.safeguards.stop_search_notice`)."""
    from hotspots.safeguards import stop_search_notice as notice

    st.warning(md(notice(short=not full)), icon="⚖️")
