"""Assess: did the operation work? The guide's testing step, from the plan and later incidents.

The plan is the current one (tab *Patrol plan*) or a plan folder's two files uploaded
(``patrol_plan.csv``, ``patrol_areas.geojson``); the incidents recorded during and before the
operation are uploaded or, on the synthetic demo, simulated with a known true effect
(:func:`hotspots.workflows.simulate_later_incidents`, always labelled synthetic); patrol logs
(none, the Tracking tab's, or uploaded here) give the delivered minutes. The estimates, findings
and files are :mod:`hotspots.assess`'s through :func:`hotspots.workflows.assess_plan` and
:func:`hotspots.workflows.assess_uploaded_plan`. The controls are a form inside a fragment
(:func:`section`): applying them reruns this tab only. The assessment is cached on the plan's key
and the sources.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from hotspots import HotspotsError, workflows
from hotspots.detect import HotspotResult
from hotspots_app import plan as plan_section
from hotspots_app import tracking as tracking_section
from hotspots_app.common import (
    Outcome,
    cache_data,
    cache_resource,
    capture,
    keep,
    md,
    plain,
    recall,
    show_warnings,
)

#: The simulated operation's defaults (demo only): true rate ratio, incidents per area per day
#: without patrol, seed.
DEFAULT_EFFECT = 0.8
DEFAULT_RATE = 1.0
DEFAULT_SEED = 11
ASSESS_FILES = {
    "effect": ("Estimates (effect.csv)", "text/csv"),
    "area_days": ("Area-days (area_days.csv)", "text/csv"),
    "report": ("Assessment report (HTML, printable)", "text/html"),
}
PLAN_CHOICES = {
    "current": "The current plan (tab Patrol plan)",
    "upload": "A plan folder's files (uploaded below)",
}
INCIDENT_CHOICES = {
    "simulated": "Simulated incidents with a known effect (demo)",
    "upload": "Incident files (uploaded below)",
}
LOG_CHOICES = {
    "none": "No patrol logs (planned minutes)",
    "tracking": "The Tracking tab's logs",
    "synthetic": "Synthetic logs from the plan (demo)",
    "upload": "Patrol logs (uploaded below)",
}
FINDING_HEADINGS = {
    "can": "What can be concluded",
    "cannot": "What cannot be concluded",
    "caution": "Cautions",
}
_SOURCE = "_assess_source"


# --------------------------------------------------------------------------------- cached
def _later_incidents(made: Any, incidents_source: tuple[Any, ...]) -> Any:
    if incidents_source[0] == "simulated":
        _, effect, rate, seed = incidents_source
        return workflows.simulate_later_incidents(
            made, effect=float(effect), baseline_rate=float(rate), seed=int(seed)
        )
    return workflows.read_inputs(list(incidents_source[1]))


def _assess(
    result: HotspotResult,
    key: tuple[Any, ...],
    plan_source: tuple[Any, ...],
    incidents_source: tuple[Any, ...],
    logs_source: tuple[Any, ...],
) -> Any:
    if plan_source[0] == "upload":
        incidents = _later_incidents(None, incidents_source)
        logs = logs_source[1] if logs_source[0] == "upload" else ()
        return workflows.assess_uploaded_plan(
            plan_source[1], plan_source[2], incidents, logs=tuple(logs)
        )
    made = plan_section.patrol_plan_for(result, *key).value
    incidents = _later_incidents(made, incidents_source)
    compliance = None
    if logs_source[0] != "none":
        tracked = tracking_section.tracked_for(result, *key, logs_source[1]).value
        compliance = tracked.compliance
    return workflows.assess_plan(made, incidents, compliance=compliance)


# cache_resource: an Assessment is read-only here and shared between sessions.
@cache_resource(max_entries=4)
def assessed(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    plan_source: tuple[Any, ...],
    incidents_source: tuple[Any, ...],
    logs_source: tuple[Any, ...],
) -> Outcome:
    """The :class:`hotspots.assess.Assessment` for these sources, with the warnings raised.

    ``plan_source`` is ``("current",)`` or ``("upload", plan_csv, areas_geojson)``;
    ``incidents_source`` ``("simulated", effect, rate, seed)`` or ``("upload", files)``;
    ``logs_source`` ``("none",)``, or ``("tracking", source)`` / ``("upload", files)`` where
    ``source`` is a :func:`hotspots_app.tracking.tracked_for` source.
    """
    key = (significant_only, radius_m, settings)
    return capture(_assess, result, key, plan_source, incidents_source, logs_source)


@cache_data(max_entries=8)
def assessment_file(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    plan_source: tuple[Any, ...],
    incidents_source: tuple[Any, ...],
    logs_source: tuple[Any, ...],
    kind: str,
) -> bytes:
    """One of :data:`hotspots.workflows.ASSESSMENT_FILES`, built when clicked."""
    a = assessed(
        result, significant_only, radius_m, settings, plan_source, incidents_source, logs_source
    ).value
    return workflows.assessment_bytes(a, kind)


# ----------------------------------------------------------------------------- the form
def _files(key: str) -> tuple[tuple[str, bytes], ...]:
    files = st.session_state.get(key) or []
    if not isinstance(files, list):
        files = [files]
    return tuple((f.name, f.getvalue()) for f in files)


def _apply() -> None:
    """Turn the form's choices and uploads into the kept sources (:data:`_SOURCE`)."""
    ss = st.session_state
    keep("assess_error", "")
    plan_kind = ss.get("assess_plan", "current")
    if plan_kind == "upload":
        plan_csv, areas = _files("assess_plan_csv"), _files("assess_plan_areas")
        if not plan_csv or not areas:
            keep("assess_error", "Upload the plan folder's patrol_plan.csv and its patrol areas.")
            return
        plan_source: tuple[Any, ...] = ("upload", plan_csv[0][1], areas[0][1])
    else:
        plan_source = ("current",)
    if ss.get("assess_incidents", "upload") == "simulated":
        incidents_source: tuple[Any, ...] = (
            "simulated",
            float(ss.get("assess_effect", DEFAULT_EFFECT)),
            float(ss.get("assess_rate", DEFAULT_RATE)),
            int(ss.get("assess_seed", DEFAULT_SEED)),
        )
    else:
        files = _files("assess_incident_files")
        if not files:
            keep("assess_error", "Upload the incident files of the operation's period.")
            return
        incidents_source = ("upload", files)
    logs_kind = ss.get("assess_logs", "none")
    logs_source: tuple[Any, ...] = ("none",)
    if logs_kind == "upload":
        logs = _files("assess_log_files")
        if not logs:
            keep("assess_error", "Upload the patrol logs, or choose no patrol logs.")
            return
        logs_source = ("upload", logs) if plan_kind == "upload" else ("tracking", ("upload", logs))
    elif logs_kind == "tracking":
        source = tracking_section.current_source()
        if source is None:
            keep("assess_error", "The Tracking tab has no logs yet: track some there first.")
            return
        logs_source = ("tracking", source)
    elif logs_kind == "synthetic":
        logs_source = ("tracking", ("synthetic", tracking_section.DEFAULT_SEED))
    if plan_kind == "upload" and logs_source[0] == "tracking":
        keep("assess_error", "With an uploaded plan, upload its patrol logs here too.")
        return
    if plan_kind == "upload" and incidents_source[0] == "simulated":
        keep("assess_error", "Simulated incidents need the current plan: upload incident files.")
        return
    keep(_SOURCE, (plan_source, incidents_source, logs_source))


def _form(demo: bool) -> None:
    ss = st.session_state
    for key, default in (
        ("assess_plan", "current"),
        ("assess_incidents", "simulated" if demo else "upload"),
        ("assess_logs", "synthetic" if demo else "none"),
    ):
        if key not in ss:
            ss[key] = default
    with st.form("assess_form"):
        c = st.columns(3)
        c[0].radio("Plan", list(PLAN_CHOICES), format_func=PLAN_CHOICES.get, key="assess_plan")
        c[0].file_uploader("patrol_plan.csv", type=["csv"], key="assess_plan_csv")
        c[0].file_uploader(
            "patrol_areas.geojson", type=["geojson", "json"], key="assess_plan_areas"
        )
        incident_choices = [k for k in INCIDENT_CHOICES if demo or k != "simulated"]
        c[1].radio(
            "Incidents during and before the operation",
            incident_choices,
            format_func=INCIDENT_CHOICES.get,
            key="assess_incidents",
        )
        c[1].file_uploader(
            "Incident CSV files (the operation's months and as many before)",
            type=["csv"],
            accept_multiple_files=True,
            key="assess_incident_files",
        )
        if demo:
            d = c[1].columns(3)
            d[0].number_input(
                "True rate ratio",
                min_value=0.1,
                max_value=3.0,
                value=DEFAULT_EFFECT,
                step=0.05,
                key="assess_effect",
                help="0.8 = patrol days have 20 % fewer incidents than they would without.",
            )
            d[1].number_input(
                "Incidents / area / day",
                min_value=0.05,
                max_value=20.0,
                value=DEFAULT_RATE,
                step=0.05,
                key="assess_rate",
            )
            d[2].number_input(
                "Seed", min_value=0, max_value=2**32 - 1, value=DEFAULT_SEED, key="assess_seed"
            )
        log_choices = [k for k in LOG_CHOICES if demo or k != "synthetic"]
        c[2].radio(
            "Patrol logs (minutes delivered)",
            log_choices,
            format_func=LOG_CHOICES.get,
            key="assess_logs",
        )
        c[2].file_uploader(
            "GPS / AVL logs (CSV, GPX, GeoJSON)",
            type=["csv", "gpx", "geojson", "json"],
            accept_multiple_files=True,
            key="assess_log_files",
        )
        st.form_submit_button(
            "Assess the operation", key="assess_submit", type="primary", on_click=_apply
        )


# -------------------------------------------------------------------------------- results
def headline(a: Any) -> tuple[str, dict[str, str]]:
    """The headline estimate (randomised crossover, else before/after): what it compares, and
    its figures as shown."""
    e = a.effect if a.effect is not None and a.effect.estimable else a.before_after
    if e is None:
        return "", {}
    if not e.estimable:
        return e.label, {"Rate ratio": "not estimable"}
    what = (
        "Patrol against control days (randomised)"
        if e is a.effect
        else "Before/after against comparison areas (not randomised)"
    )
    return what, {
        "Rate ratio": f"{e.rate_ratio:.2f}",
        f"{e.level:.0%} interval": f"{e.ci_low:.2f} to {e.ci_high:.2f}",
        "Change": e.change_text().split(" (")[0],
    }


def estimates_table(a: Any) -> pd.DataFrame:
    """Every estimate with its interval and n (``effect.csv``'s rows), for display."""
    t = a.table()
    return pd.DataFrame(
        {
            "Estimate": t["label"],
            "Measure": t["measure"],
            "Value": t["value"].astype(float).round(3),
            "Interval low": t["ci_low"].astype(float).round(3),
            "Interval high": t["ci_high"].astype(float).round(3),
            "p": t["p_value"].astype(float).round(4),
            "n": t["n"].astype(int),
            "Unit": t["n_unit"],
            "Evidence": t["evidence"],
        }
    )


def dose_chart(a: Any) -> alt.Chart | None:
    """Incidents per area-day against minutes of patrol that day (delivered, or planned)."""
    d = a.area_days[a.area_days["covered"]]
    if not len(d) or "dose_minutes" not in d:
        return None
    minutes = d["dose_minutes"].astype(float).fillna(0.0)
    edges = [-0.5, 0.5, 10, 20, 30, 60, np.inf]
    labels = ["0", "1-10", "10-20", "20-30", "30-60", "60+"]
    band = pd.cut(minutes, edges, labels=labels, right=False)
    g = (
        pd.DataFrame({"minutes": band, "incidents": d["incidents"].astype(float)})
        .groupby("minutes", observed=True)["incidents"]
        .agg(["mean", "size"])
        .reset_index()
        .rename(columns={"mean": "incidents per area-day", "size": "area-days"})
    )
    return (
        alt.Chart(g, title="Incidents per area-day by minutes of patrol that day")
        .mark_bar(color="#2c7fb8")
        .encode(
            x=alt.X("minutes:O", sort=labels, title="minutes of patrol on the area-day"),
            y=alt.Y("incidents per area-day:Q"),
            tooltip=["minutes", "area-days", alt.Tooltip("incidents per area-day:Q", format=".2f")],
        )
    )


def _show(a: Any, synthetic: bool) -> None:
    if synthetic or a.synthetic:
        st.warning(
            "**Synthetic** incidents or patrol logs: a demonstration of the method with a known "
            "answer, not a finding about real patrols.",
            icon="🧪",
        )
    what, values = headline(a)
    if values:
        st.markdown(f"**{md(what)}**")
        cols = st.columns(len(values))
        for col, (label, value) in zip(cols, values.items(), strict=True):
            col.metric(label, value)
    by_kind: dict[str, list[str]] = {k: [] for k in FINDING_HEADINGS}
    for f in a.findings:
        by_kind.setdefault(f.kind, []).append(f.text)
    for kind, heading in FINDING_HEADINGS.items():
        if by_kind.get(kind):
            st.markdown(f"**{heading}**\n" + "\n".join("- " + md(t) for t in by_kind[kind]))
    st.markdown("#### Estimates")
    st.dataframe(estimates_table(a), hide_index=True, key="assess_estimates")
    left, right = st.columns(2)
    with left:
        st.markdown("**Before and after** (against comparison areas; weaker evidence)")
        e = a.before_after
        st.caption(md(e.change_text()) if e is not None else "Not estimated with these data.")
        if e is not None and e.counts:
            st.json(json.loads(json.dumps(dict(e.counts), default=str)), expanded=False)
        st.markdown("**Dose-response**")
        st.caption(
            md(a.dose.change_text()) + " per 15 minutes of patrol on an area-day."
            if a.dose is not None
            else "Not estimated with these data."
        )
    with right:
        chart = dose_chart(a)
        if chart is not None:
            st.altair_chart(chart, width="stretch")
    st.markdown("**Displacement or diffusion of benefit** (weighted displacement quotient)")
    disp = a.displacement
    if len(disp):
        cols = ["buffer_m", "Rb", "Ra", "Db", "Da", "Cb", "Ca", "wdq", "interpretation"]
        st.dataframe(
            disp[[c for c in cols if c in disp.columns]].round(3),
            hide_index=True,
            key="assess_displacement",
        )
        st.caption(
            "R = patrol areas, D = the buffer around them, C = the control area; b = before, "
            "a = after. WDQ > 0: diffusion of benefit; < 0: displacement (Bowers & Johnson 2003)."
        )
    else:
        st.caption("Not estimated with these data.")
    with st.expander("Per patrol area"):
        st.dataframe(a.per_area(), hide_index=True, key="assess_per_area")
    with st.expander("How the assessment was made"):
        for note in a.notes:
            st.text("• " + plain(note))
        st.json(json.loads(json.dumps(dict(a.params), default=str)), expanded=False)


# -------------------------------------------------------------------------------- the tab
@st.fragment
def section(result: HotspotResult, *, demo: bool = False) -> None:
    """The "Assess" tab: sources, the effect and its interval, findings, files (reruns alone)."""
    st.subheader("Assess the operation")
    st.caption(
        "Did the patrols reduce violence? With controls in the plan, the randomised comparison "
        "of patrol and control days in the same areas (a Poisson model with area and day or "
        "week effects); without, before and after against comparison areas (weaker); minutes "
        "of patrol against incidents; and displacement to the streets around. The findings say "
        "plainly what can and cannot be concluded."
    )
    state = plan_section.current(result)
    bundle = state.bundle
    _form(demo)
    error = recall("assess_error")
    if error:
        st.error(md(error))
        return
    source = recall(_SOURCE)
    if source is None:
        st.info("Choose the plan, the later incidents and the logs, then *Assess the operation*.")
        return
    plan_source, incidents_source, logs_source = source
    if plan_source[0] == "current" and bundle is None:
        st.info("There is no current patrol plan: make one in the Patrol plan tab, or upload one.")
        return
    if bundle is not None:
        key = (result, bundle.significant_only, bundle.radius_m, bundle.settings)
    else:
        key = (result, True, 75.0, {})
    sources = (plan_source, incidents_source, logs_source)
    try:
        with st.spinner("Estimating the effect of the operation..."):
            out = assessed(*key, *sources)
    except HotspotsError as exc:
        st.error(f"The operation cannot be assessed: {md(exc)}")
        return
    show_warnings(out)
    synthetic = incidents_source[0] == "simulated" or (
        logs_source[0] == "tracking" and logs_source[1][0] == "synthetic"
    )
    _show(out.value, synthetic)
    cols = st.columns(len(ASSESS_FILES))
    for col, (kind, (label, mime)) in zip(cols, ASSESS_FILES.items(), strict=True):
        col.download_button(
            label,
            data=lambda kind=kind: assessment_file(*key, *sources, kind),
            file_name=workflows.ASSESSMENT_FILES[kind],
            mime=mime,
            key=f"assess_dl_{kind}",
            on_click="ignore",
        )
