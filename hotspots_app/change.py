"""Change over time: new, consecutive, intensifying, persistent... cells (ArcGIS's classes).

The settings are a form inside a fragment (:func:`section`): applying them reruns this tab only.
They are kept across tabs, so the map's "Persistent / emerging cells" layer shows the
classification a user last applied (:func:`current`). The classification is cached on the
incidents' fingerprint and the settings.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from hotspots import ParameterError, TooFewPeriodsError, constants, workflows
from hotspots.emerging import CLASSES
from hotspots.incidents import Incidents
from hotspots_app.common import (
    Outcome,
    cache_data,
    cache_resource,
    capture,
    md,
    plain,
    recall,
    remember,
    restore,
    show_warnings,
)

#: The hot classes of hotspots.emerging.CATEGORIES, one metric each (cold ones are summed).
EMERGING_HOT = tuple(f"{c} hot spot" for c in CLASSES)
#: The form's widgets and their defaults (None = automatic).
DEFAULTS: dict[str, Any] = {
    "emg_cell_size": constants.MICRO_PLACE_M,
    "emg_period_months": None,
}


@cache_resource(max_entries=8)
def run_classify(incidents: Incidents, settings: dict[str, Any]) -> Outcome:
    """Persistent / emerging classification (:func:`hotspots.workflows.classify_over_time`)."""
    return capture(workflows.classify_over_time, incidents, **settings)


@cache_data(max_entries=8)
def emerging_geojson(incidents: Incidents, settings: dict[str, Any]) -> bytes:
    """The classified areas as RFC 7946 GeoJSON with the run's provenance and parameters."""
    res = run_classify(incidents, settings).value
    return workflows.classification_geojson(res, incidents).encode("utf-8")


def settings() -> dict[str, Any]:
    """The settings last applied (kept across tabs), as the library takes them."""
    s: dict[str, Any] = {"cell_size": float(recall("emg_cell_size", DEFAULTS["emg_cell_size"]))}
    period = recall("emg_period_months")
    if period is not None:
        s["period_months"] = int(period)
    return s


def current(incidents: Incidents) -> tuple[Any, str | None]:
    """(classified areas or None, why there are none) for the kept settings: the map's layer."""
    try:
        res = run_classify(incidents, settings()).value
    except TooFewPeriodsError as exc:
        return None, f"No change over time to show: {exc}"
    except ParameterError as exc:
        return None, f"The change over time cannot be classified with these settings: {exc}"
    return res.areas, None


def _settings_form() -> list[Any]:
    """The "Change over time" controls; returns their columns (for captions)."""
    restore(DEFAULTS)
    with st.form("change_form"):
        c = st.columns(2)
        c[0].number_input(
            "Cell size (m)",
            min_value=25.0,
            max_value=1000.0,
            step=25.0,
            key="emg_cell_size",
            help="Side of the grid cells classified over time. 150 m is the micro place of the "
            "UK trials.",
        )
        c[1].number_input(
            "Months per period",
            min_value=1,
            max_value=60,
            value=None,
            step=1,
            key="emg_period_months",
            placeholder="automatic",
            help="Empty = automatic: the longest of years, quarters and months that gives at "
            "least 10 periods.",
        )
        st.form_submit_button(
            "Classify", key="emg_submit", type="primary", on_click=remember, args=tuple(DEFAULTS)
        )
    return c


@st.fragment
def section(incidents: Incidents) -> None:
    """The "Change over time" tab (reruns on its own when its settings are applied): the
    classes over ten or more periods, then what rose or fell between two periods."""
    _classes(incidents)
    st.divider()
    two_periods(incidents)


def _classes(incidents: Incidents) -> None:
    """Persistent and emerging classes over ten or more periods."""
    st.subheader("Change over time")
    st.caption(
        "Which places stay hot, which are new, which have cooled and which come and go: each "
        "place against its surroundings in every period, then ArcGIS's Emerging Hot Spot classes "
        "(new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, "
        "historical); at least 10 periods are needed. Persistent and intensifying (chronic) "
        "places need constant programmes such as problem-solving and place management; new, "
        "consecutive and sporadic (temporary) ones need patrols that are moved as they move "
        "(tactic T16). Review the classes on a fixed cycle."
    )
    cols = _settings_form()
    s = settings()
    try:
        with st.spinner("Classifying places over time..."):
            out = run_classify(incidents, s)
    except TooFewPeriodsError as exc:
        st.info(f"No change over time to show: {md(exc)}")
        return
    except ParameterError as exc:
        st.error(f"The change over time cannot be classified with these settings: {md(exc)}")
        return
    show_warnings(out)
    res = out.value
    p = res.params
    if "period_months" in s:
        cols[1].caption(
            f"Set: {p.get('period_months')} month(s) per period, {p.get('n_periods')} periods."
        )
    elif p.get("period_months"):
        cols[1].caption(
            f"Automatic: {p['period_months']} month(s) per period, {p.get('n_periods')} periods."
        )

    counts = dict(p.get("category_counts") or {})
    for row in (EMERGING_HOT[:4], EMERGING_HOT[4:]):
        for col, cat in zip(st.columns(4), row, strict=True):
            col.metric(
                f"{cat.capitalize()} cells",
                f"{int(counts.get(cat, 0)):,}",
                help=str((p.get("rules") or {}).get(cat.split()[0], "")) or None,
            )
    other = sum(int(v) for k, v in counts.items() if k not in EMERGING_HOT)
    st.caption(f"Cold spot cells (significantly quiet places, rare at this scale): {other:,}.")
    for note in res.notes:
        st.text("• " + plain(note))
    with st.expander("Rules and parameters"):
        st.json(json.loads(json.dumps(p, default=str)), expanded=False)

    areas = res.areas  # with incidents and top location, sorted by category (hotspots.emerging)
    if not len(areas):
        st.caption("No place has an emerging hot spot pattern with these settings.")
        return
    table = pd.DataFrame(
        {
            "Pattern": areas["category"].astype(str),
            "Cells": areas["n_cells"].astype(int),
            "Incidents": areas["incidents"].astype(int),
            "Top location": areas["top_location"].astype(str),
        }
    )
    st.markdown(f"**{len(areas)} classified areas** (touching cells of one pattern, merged)")
    st.dataframe(
        table, hide_index=True, height=min(360, 38 + 35 * len(table)), key="emerging_table"
    )
    st.caption("Show them on the map with *Persistent / emerging cells* in tab *Map*.")
    download_button(incidents)


def download_button(incidents: Incidents, key: str = "dl_emerging") -> None:
    """The classified areas as GeoJSON (built when clicked, then cached)."""
    s = settings()
    st.download_button(
        "Classified areas (GeoJSON)",
        data=lambda: emerging_geojson(incidents, s),
        file_name="persistent_emerging.geojson",
        mime="application/geo+json",
        key=key,
        on_click="ignore",
    )


# ------------------------------------------------------------------ between two periods
#: The two-period form's widgets and their defaults (None = automatic).
TWO_DEFAULTS: dict[str, Any] = {"chg_split": None}


@cache_resource(max_entries=8)
def run_two_periods(incidents: Incidents, split: str | None) -> Outcome:
    """:func:`hotspots.workflows.change_between_periods` at ``split`` (None: automatic)."""
    return capture(workflows.change_between_periods, incidents, split=split)


@cache_data(max_entries=8)
def two_periods_geojson(incidents: Incidents, split: str | None) -> bytes:
    """Every cell of the comparison as GeoJSON with the run's record."""
    res = run_two_periods(incidents, split).value
    return workflows.period_change_geojson(res, incidents).encode("utf-8")


def two_periods_current(incidents: Incidents) -> tuple[Any, str | None]:
    """(the comparison's cells or None, why there are none) at the split last applied: the map's
    "Cells that rose / fell" layer."""
    split = recall("chg_split")
    split = split if split in _split_choices(incidents) else None
    try:
        res = run_two_periods(incidents, split).value
    except ParameterError as exc:
        return None, f"No change between two periods to show: {exc}"
    return res.cells, None


def _split_choices(incidents: Incidents) -> list[str]:
    """The months a split can start (every observed month but the first)."""
    return [f"{m:%Y-%m}" for m in incidents.months[1:]]


def two_periods(incidents: Incidents) -> None:
    """What rose or fell between two periods (two periods are enough)."""
    st.subheader("Between two periods")
    st.caption(
        "Which places rose or fell more than the area as a whole since a month you choose: "
        "each 150 m cell's share of incidents after it against the whole area's share (so the "
        "area's own rise or fall and the periods' lengths are allowed for), scaled for repeat "
        "incidents, with a 5 % false discovery rate over the cells that hold enough incidents "
        "to show a change."
    )
    restore(TWO_DEFAULTS)
    choices = _split_choices(incidents)
    with st.form("two_periods_form"):
        st.selectbox(
            "Later period starts",
            choices,
            index=None,
            key="chg_split",
            placeholder="automatic: the later half of the months",
            help="The first month of the later period; every incident before it is 'before'.",
        )
        st.form_submit_button(
            "Compare", key="chg_submit", on_click=remember, args=tuple(TWO_DEFAULTS)
        )
    split = recall("chg_split")
    split = split if split in choices else None
    try:
        with st.spinner("Comparing the two periods..."):
            out = run_two_periods(incidents, split)
    except ParameterError as exc:
        st.info(f"No change between two periods to show: {md(exc)}")
        return
    show_warnings(out)
    res = out.value
    counts = res.counts()
    tested = int(res.cells["tested"].sum())
    c = st.columns(4)
    c[0].metric("Cells that rose", f"{counts['rose']:,}")
    c[1].metric("Cells that fell", f"{counts['fell']:,}")
    # The library labels every cell outside the test "no clear change" too: apart here, since
    # "1,720 cells with no clear change" read as 1,720 places checked when 3 could be.
    c[2].metric(
        "Tested, no clear change",
        f"{tested - counts['rose'] - counts['fell']:,}",
        help="Cells holding enough incidents to show a change, which did not.",
    )
    c[3].metric(
        "Too few incidents to test",
        f"{len(res.cells) - tested:,}",
        help="Cells with an incident whose counts could not reach the level whatever happened: "
        "no change can be seen there, which is not evidence of no change.",
    )
    for note in res.notes:
        st.text("• " + str(note))
    cells = res.cells[res.cells["change_class"] != "no clear change"]
    if len(cells):
        table = pd.DataFrame(
            {
                "Cell": cells["cell_id"].astype(str),
                "Change": cells["change_class"].astype(str),
                "Before": cells["before"].astype(int),
                "After": cells["after"].astype(int),
                "q": [f"{q:.4f}" if q >= 1e-4 else "< 0.0001" for q in cells["q_value"]],
                "Top location": cells["top_location"].astype(str),
            }
        )
        st.dataframe(
            table, hide_index=True, height=min(360, 38 + 35 * len(table)), key="two_periods_table"
        )
    if counts["rose"] + counts["fell"] + counts["no clear change"]:
        st.caption(
            "Show the cells on the map with *Cells that rose / fell* in tab *Map* (beside the "
            "hot spots and patrol areas; the tooltip gives each cell's counts)."
        )
    st.download_button(
        "Cells that could show a change, before and after (GeoJSON)",
        data=lambda: two_periods_geojson(incidents, split),
        file_name="change_between_periods.geojson",
        mime="application/geo+json",
        key="dl_two_periods",
        on_click="ignore",
    )
