"""The method and parameter panel, detection (cached), and how the hot spots were found.

The parameter panel is a form: one rerun when it is applied. Detection is cached process-wide on
:attr:`hotspots.incidents.Incidents.fingerprint` and the parameters; what follows it (contours,
membership, patrol plans, files) keys on :attr:`hotspots.detect.HotspotResult.fingerprint`.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import numpy as np
import streamlit as st

from hotspots import constants
from hotspots.detect import HotspotResult
from hotspots.incidents import Incidents
from hotspots_app.common import (
    METHOD_LABELS,
    ORDER_LABELS,
    Outcome,
    cache_resource,
    capture,
    md,
    plain,
)
from hotspots_app.status import StatusProgress

#: The KDE coverage slider's default, in percent of the study area (the estimator's default).
DEFAULT_COVERAGE_PCT = constants.HOTSPOT_COVERAGE * 100


# --------------------------------------------------------------------------------- cached
@cache_resource(max_entries=8)
def run_detect(
    incidents: Incidents,
    method: str,
    order: str,
    params: dict[str, Any],
    leave_out_proactive: bool = False,
    _progress: Any = None,
) -> Outcome:
    """:func:`hotspots.workflows.detect_hotspots`: an :class:`Outcome` holding the result.

    With ``leave_out_proactive`` the offences found mostly by proactive policing are left out,
    and a second run with them counted says how many hot spots change. ``_progress`` (not part
    of the cache key) is told each step (:mod:`hotspots_app.status`).
    """
    from hotspots.workflows import detect_hotspots

    return capture(
        detect_hotspots,
        incidents,
        method,
        order=order,
        progress=_progress,
        leave_out_proactive=leave_out_proactive,
        compare_proactive=leave_out_proactive,
        **params,
    )


@cache_resource(max_entries=8)
def contours(result: HotspotResult) -> list[Any]:
    """Density-surface outlines at half and a quarter of the hot spot level (KDE only)."""
    from hotspots.workflows import surface_contours

    return surface_contours(result, (0.25, 0.5))


@cache_resource(max_entries=8)
def membership(result: HotspotResult) -> tuple[np.ndarray, np.ndarray]:
    """(incident index, hot spot position) pairs: which incidents fall in which hot spot."""
    from hotspots.profile import assign_incidents

    return assign_incidents(result.hotspots.geometry, result.incidents)


def base_params(method: str, harm: bool) -> dict[str, Any]:
    """The parameters of the automatic run (whose choices the panel shows)."""
    return {"use_weights": bool(harm)} if method == "kde" else {}


def find(
    incidents: Incidents,
    method: str,
    order: str,
    params: dict[str, Any],
    leave_out_proactive: bool = False,
) -> Outcome:
    """The hot spots for the panel's settings (cached), with a status box while they are found."""
    progress = StatusProgress(f"Finding hot spots ({METHOD_LABELS[method]})")
    found = run_detect(incidents, method, order, params, leave_out_proactive, progress)
    progress.finish()
    return found


# ------------------------------------------------------------------------------ sidebar
def sidebar_method() -> str:
    """The method (outside the form: the form's parameters depend on it)."""
    st.sidebar.header("3. Method")
    return st.sidebar.selectbox(
        "Method", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="method"
    )


def _auto(defaults: dict[str, Any], key: str, unit: str = "", rule_key: str | None = None) -> str:
    value = defaults.get(key)
    if value is None:
        return "automatic"
    text = f"{value:,.4g}{unit}" if isinstance(value, int | float) else str(value)
    rule = defaults.get(rule_key) if rule_key else None
    return f"{text}, chosen by the {rule} rule" if rule and rule not in ("user", "given") else text


def sidebar_params(
    method: str, defaults: dict[str, Any], harm: bool
) -> tuple[str, dict[str, Any], bool]:
    """The ranking rule and parameter widgets, automatic values shown next to them (a form).

    Returns ``(order, params, leave_out_proactive)``: only the parameters set by the user, so an
    untouched panel reuses the automatic run.
    """
    st.sidebar.header("4. Parameters")
    with st.sidebar.form("params_form", border=False):
        order = st.selectbox(
            "Rank hot spots by", list(ORDER_LABELS), format_func=ORDER_LABELS.get, key="order"
        )
        st.caption("Leave a box empty to use the automatic value computed from the data.")
        params = _method_params(method, defaults, harm)
        proactive = st.checkbox(
            "Leave out proactive offences",
            key="leave_out_proactive",
            help="Possession of weapons and drugs offences are recorded mostly when police find "
            "them, so they measure police activity as much as violence. Ticked: they are left "
            "out, and the notes under the map say how many hot spots change.",
        )
        st.form_submit_button("Find hot spots", key="params_submit", type="primary")
    return order, params, bool(proactive)


def _method_params(method: str, defaults: dict[str, Any], harm: bool) -> dict[str, Any]:
    p: dict[str, Any] = {}

    def number(
        label: str, key: str, auto_key: str, unit: str, rule_key: str | None, **kw: Any
    ) -> Any:
        auto = _auto(defaults, auto_key, unit, rule_key)
        value = st.number_input(
            label, value=None, placeholder=f"auto: {auto}", key=f"{method}_{key}", **kw
        )
        st.caption(f"Automatic: {md(auto)}")
        return value

    if method == "kde":
        bw = number(
            "Bandwidth (m)",
            "bandwidth",
            "bandwidth_m",
            " m",
            "bandwidth_rule_used",
            min_value=10.0,
            max_value=5000.0,
            step=10.0,
        )
        cell = number(
            "Cell size (m)",
            "cell_size",
            "cell_size_m",
            " m",
            None,
            min_value=1.0,
            max_value=1000.0,
            step=5.0,
        )
        coverage = st.slider(
            "Hot spot coverage (% of study area)",
            0.5,
            10.0,
            DEFAULT_COVERAGE_PCT,
            0.5,
            key="kde_coverage",
            help="The densest share of the study area that counts as hot. Default 2 %: half of "
            "crime falls on about 2-6 % of places (law of crime concentration).",
        )
        kernel = st.selectbox("Kernel", ["quartic", "gaussian"], key="kde_kernel")
        if bw is not None:
            p["bandwidth"] = float(bw)
        if cell is not None:
            p["cell_size"] = float(cell)
        if coverage != DEFAULT_COVERAGE_PCT:
            p["coverage"] = round(coverage / 100, 4)
        if kernel != "quartic":
            p["kernel"] = kernel
        p["use_weights"] = bool(harm)
    elif method == "dbscan":
        eps = number(
            "Search radius eps (m)",
            "eps",
            "eps_m",
            " m",
            "eps_rule",
            min_value=5.0,
            max_value=2000.0,
            step=5.0,
        )
        ms = number(
            "Minimum incidents (min_samples)",
            "min_samples",
            "min_samples",
            "",
            "min_samples_rule",
            min_value=2,
            max_value=100_000,
            step=1,
        )
        if eps is not None:
            p["eps"] = float(eps)
        if ms is not None:
            p["min_samples"] = int(ms)
    elif method == "gistar":
        cell = number(
            "Cell size (m)",
            "cell_size",
            "cell_size_m",
            " m",
            "cell_size_rule",
            min_value=10.0,
            max_value=2000.0,
            step=10.0,
        )
        dist = number(
            "Neighbour distance (m)",
            "neighbour_distance",
            "neighbour_distance_m",
            " m",
            None,
            min_value=0.0,
            max_value=5000.0,
            step=10.0,
        )
        if cell is not None:
            p["cell_size"] = float(cell)
        if dist is not None:
            p["neighbour_distance"] = float(dist)
    else:
        mcs = number(
            "Minimum cluster size",
            "min_cluster_size",
            "min_cluster_size",
            "",
            "min_cluster_size_rule",
            min_value=2,
            max_value=100_000,
            step=1,
        )
        ms = number(
            "min_samples",
            "min_samples",
            "min_samples",
            "",
            "min_samples_rule",
            min_value=1,
            max_value=100_000,
            step=1,
        )
        if mcs is not None:
            p["min_cluster_size"] = int(mcs)
        if ms is not None:
            p["min_samples"] = int(ms)
    return p


# --------------------------------------------------------------------------- the report
def show_summary(result: HotspotResult) -> None:
    """Hot spot count, share of incidents, area and significance as four metrics."""
    ranked = result.hotspots
    n_in = int(ranked["incidents"].sum()) if len(ranked) else 0
    c = st.columns(4)
    c[0].metric("Hot spots", f"{len(ranked):,}")
    c[1].metric("Incidents in hot spots", f"{n_in:,} ({n_in / max(len(result.incidents), 1):.0%})")
    c[2].metric(
        "Area of hot spots", f"{float(ranked['area_ha'].sum()) if len(ranked) else 0:,.1f} ha"
    )
    c[3].metric("Significant", f"{int(ranked['significant'].sum()) if len(ranked) else 0:,}")


def nothing_significant(result: HotspotResult, method: str) -> str | None:
    """One line when no hot spot is left to act on, with the way forward; None otherwise.

    No hot spot at all: another method, or more months. Hot spots none of which passed the
    significance test: the map shows them all (none marked significant); a study-area boundary
    makes the test compare each place with its surroundings inside the area, and the patrol plan
    takes every hot spot once *Plan significant hot spots only* is unticked.
    """
    hot = result.hotspots
    one = result.one_place()
    if one:
        return one[0].upper() + one[1:] + "."
    if not len(hot):
        return (
            f"No hot spot was found with {METHOD_LABELS.get(method, method)}: try another method "
            "under *3. Method*, a larger coverage, or more months of data."
        )
    if "significant" in hot.columns and not hot["significant"].astype(bool).any():
        return (
            f"None of the {len(hot)} hot spots found passed the significance test, so the map "
            "shows all of them, none marked significant: give the area's boundary under *2. "
            "Filters* (Study area), or untick *Plan significant hot spots only* under Patrol "
            "plan to plan them all."
        )
    return None


def show_proactive(result: HotspotResult) -> None:
    """How the offences found mostly by proactive policing were treated, and what changed."""
    pro = result.params.get("proactive_offences") or {}
    if pro.get("note"):
        st.caption(md(plain(pro["note"])))


def show_how_found(result: HotspotResult) -> None:
    """The detection's notes and parameter record, in an expander."""
    with st.expander("How these hot spots were found (automatic choices)"):
        for note in result.notes:
            st.text("• " + plain(note))
        st.json(json.loads(json.dumps(result.params, default=str)), expanded=False)


def show_concentration(result: HotspotResult) -> None:
    """Cumulative share of incidents against cumulative share of area, hot spot by hot spot."""
    from hotspots.evaluate import concentration_curve

    curve = concentration_curve(result.hotspots, result.incidents.study_area_m2)
    if len(curve) < 2:
        return
    chart = (
        alt.Chart(curve, title="Concentration: share of incidents against share of area")
        .mark_line(point=True, color="#800026")
        .encode(
            x=alt.X(
                "area_share:Q", title="cumulative share of study area", axis=alt.Axis(format="%")
            ),
            y=alt.Y(
                "incident_share:Q", title="cumulative share of incidents", axis=alt.Axis(format="%")
            ),
            tooltip=[
                "rank",
                alt.Tooltip("area_share:Q", format=".2%"),
                alt.Tooltip("incident_share:Q", format=".1%"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")
