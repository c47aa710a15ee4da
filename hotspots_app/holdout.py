"""Check against a later period: would these hot spots have caught the violence that came next?

Two readings, both fitted on earlier months and scored on later ones:

- every detector, the patrol areas and the baselines (the busiest map points, the peaks of a
  150 m KDE, and the peaks of a KDE with ArcGIS's default bandwidth) ranked by their own score and
  read at *equal coverage* of the study area (hit rate and PAI curves, and at 0.5, 1, 2 and 5 %)
  and at *equal numbers of patrol-sized discs*, as ``hotspots evaluate`` prints them
  (:func:`hotspots.workflows.evaluate_forecasts`): one split at the first test month, or rolling
  origins;
- the hot spots each chosen method delivers, with hit rate, PAI and PEI
  (:func:`hotspots.workflows.evaluate_holdout`).

A form inside a fragment (:func:`section`): choosing another month or method reruns this tab
only. Nothing is fitted until *Run the check* is clicked for the data shown (opening the tab
costs nothing). Cached on the incidents' fingerprint and the settings.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from hotspots import HotspotsError
from hotspots.incidents import Incidents
from hotspots_app.common import (
    METHOD_LABELS,
    Outcome,
    cache_data,
    capture,
    keep,
    md,
    plain,
    recall,
    remember,
    show_warnings,
)
from hotspots_app.data import near_misses_of

HOLDOUT_EXPLAINED = (
    "- **Coverage**: share of the study area inside the hot spots.\n"
    "- **Hit rate**: share of the test incidents that fell inside the hot spots.\n"
    "- **PAI** (Predictive Accuracy Index, Chainey, Tompson & Uhlig 2008) = hit rate ÷ coverage; "
    "above 1 beats picking places at random.\n"
    "- **PEI** (Predictive Efficiency Index) = PAI ÷ the best PAI any set of 25 m cells of the "
    "same area could have reached on the test incidents; 1 = as good as possible."
)


@cache_data(max_entries=8)
def holdout_for(
    incidents: Incidents,
    first_test_month: str,
    methods: tuple[str, ...],
    params: dict[str, dict[str, Any]],
) -> Outcome:
    """Hold-out evaluation: fit on the months before, score on the rest (a table).

    :func:`hotspots.workflows.evaluate_holdout`.
    """
    from hotspots.workflows import evaluate_holdout

    return capture(evaluate_holdout, incidents, first_test_month, methods, params=params)


#: How the forecasts are compared: one split at the first test month, or rolling origins.
ORIGIN_CHOICES = {
    "split": "One split at the first test month",
    "rolling": "Rolling origins: each of the last months forecast from all the months before "
    "(as hotspots evaluate; slower)",
}
#: The baselines every forecast is read beside (hotspots.evaluate's names).
BASELINES = ("naive_points", "naive_kde_150m", "arcgis_kde")
#: Coverage shown on the curves (share of the study area).
MAX_COVERAGE = 0.10


def training_size(incidents: Incidents, first_test_month: str | None) -> int:
    """The incidents of the largest training period: the months before ``first_test_month``, or
    before the last month with rolling origins (its last origin trains on every month before)."""
    month = incidents.frame["month"]
    if not month.notna().any():
        return 0
    end = pd.Timestamp(first_test_month) if first_test_month else month.max()
    return int((month < end).sum())


def left_out_methods(incidents: Incidents, first_test_month: str | None) -> dict[str, str]:
    """The detectors that cannot run on these training months, with the reason said on the page.

    HDBSCAN refuses more than :data:`hotspots.clusters.HDBSCAN_MAX_INCIDENTS` incidents (its
    cost grows with the square of their number); left in, it would stop the whole comparison.
    """
    from hotspots.clusters import HDBSCAN_MAX_INCIDENTS

    n = training_size(incidents, first_test_month)
    if n <= HDBSCAN_MAX_INCIDENTS:
        return {}
    return {
        "hdbscan": f"{METHOD_LABELS['hdbscan']} is left out: its training months hold {n:,} "
        f"incidents, more than the {HDBSCAN_MAX_INCIDENTS:,} it can cluster in reasonable time "
        "(its cost grows with the square of the number of incidents)."
    }


@cache_data(max_entries=8)
def forecasts_for(
    incidents: Incidents,
    first_test_month: str | None,
    params: dict[str, dict[str, Any]],
) -> Outcome:
    """Every detector that can run on the training months (:func:`left_out_methods`), the patrol
    areas and the baselines at equal coverage and equal numbers of discs:
    :func:`hotspots.workflows.evaluate_forecasts` (rolling origins when ``first_test_month`` is
    None)."""
    from hotspots.evaluate import METHODS
    from hotspots.workflows import evaluate_forecasts

    others = near_misses_of(incidents)
    skip = left_out_methods(incidents, first_test_month)
    return capture(
        evaluate_forecasts,
        incidents,
        methods=[m for m in METHODS if m not in skip] if skip else None,
        first_test_month=first_test_month,
        params=params,
        others=others,
    )


def _kind(forecast: str) -> str:
    if forecast in BASELINES:
        return "baseline"
    return "patrol areas" if forecast in ("patrol_areas", "forecast_discs") else "method"


def curves_frame(res: Any) -> pd.DataFrame:
    """The mean curves with labels for people (``forecast``, ``kind``, ``axis``, ``x``,
    ``hit_rate``, ``pai``), coverage cut at :data:`MAX_COVERAGE`."""
    labels = res.params["labels"]
    cur = res.curves.dropna(subset=["hit_rate"]).copy()
    cur = cur[(cur["axis"] != "coverage") | (cur["x"] <= MAX_COVERAGE + 1e-12)]
    cur["kind"] = cur["forecast"].map(_kind)
    cur["forecast"] = cur["forecast"].map(lambda f: labels.get(f, f))
    return cur


def reading_table(res: Any, at: str) -> pd.DataFrame:
    """Means over the origins at equal coverage (``at="coverage"``) or equal numbers of discs
    (``"discs"``): one row per forecast, one column per reading, "hit rate · PAI" as text; "-"
    where a forecast does not reach that far."""
    labels = res.params["labels"]
    s = res.summary[res.summary["at"] == at]
    readings = list(dict.fromkeys(s["label"]))
    rows = []
    for name in dict.fromkeys(s["forecast"]):
        part = s[s["forecast"] == name].set_index("label")
        row: dict[str, Any] = {"Forecast": labels.get(name, name)}
        for lab in readings:
            r = part.loc[lab] if lab in part.index else None
            if r is None or int(r["n_origins"]) == 0 or pd.isna(r["hit_rate"]):
                row[lab] = "-"
            else:
                row[lab] = f"{r['hit_rate']:.0%} · {r['pai']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows)


#: Height of each hold-out chart's plot, in pixels (the legend below it adds its own lines).
CHART_HEIGHT = 240


def _chart(data: pd.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str) -> Any:
    y_scale = alt.Scale(type="log") if y == "pai" else alt.Scale()
    if y == "pai":  # a PAI of 0 has no place on a log scale: one such point blanked the chart
        data = data[data["pai"] > 0]
    # The legend one entry a line (two columns were cut in a third of a 1500 px page), under a
    # plot of its own height: Streamlit's default autosize ("fit") squeezed the plot to make
    # room for the legend's lines; fit-x fits the width only.
    return (
        alt.Chart(data, title=title)
        .properties(
            height=CHART_HEIGHT, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
        )
        .mark_line()
        .encode(
            x=alt.X(f"{x}:Q", title=x_title),
            y=alt.Y(f"{y}:Q", title=y_title, scale=y_scale),
            color=alt.Color(
                "forecast:N",
                title=None,
                legend=alt.Legend(orient="bottom", columns=1, labelLimit=300, symbolLimit=0),
            ),
            strokeDash=alt.StrokeDash(
                "kind:N",
                legend=None,
                scale=alt.Scale(
                    domain=["method", "baseline", "patrol areas"], range=[[1, 0], [6, 3], [2, 2]]
                ),
            ),
            tooltip=[
                "forecast",
                alt.Tooltip(f"{x}:Q", format=".3g"),
                alt.Tooltip(f"{y}:Q", format=".3g"),
            ],
        )
    )


def show_forecasts(res: Any) -> None:
    """The curves and the two tables of :func:`forecasts_for`."""
    radius = float(res.params["disc_radius_m"])
    n = len(res.origins)
    how = (
        f"{n} rolling origin(s) ({', '.join(res.origins)}): each month forecast from every "
        "month before it; figures are means over the origins"
        if not res.origins[0].endswith(" on")
        else f"one split: forecast from the months before {res.origins[0][:7]}, tested from it on"
    )
    area = plain(res.params["study_area"])
    st.caption(
        f"Scored on later months, {md(how)}. Study area: {md(area)}. Every "
        "method is ranked by its own score, without a significance filter, and read at the same "
        "share of the study area; the patrol areas beside three baselines at the same number of "
        f"{2 * radius:g} m discs. Solid: the methods; dashed: the baselines; dotted: the patrol "
        "areas and the forecast's discs."
    )
    cur = curves_frame(res)
    cov = cur[cur["axis"] == "coverage"].assign(coverage=lambda d: 100 * d["x"])
    disc = cur[cur["axis"] == "discs"]
    c = st.columns(3)
    c[0].altair_chart(
        _chart(
            cov,
            "coverage",
            "hit_rate",
            "Hit rate over coverage",
            "coverage (% of study area)",
            "hit rate",
        ),
        width="stretch",
    )
    c[1].altair_chart(
        _chart(
            cov, "coverage", "pai", "PAI over coverage", "coverage (% of study area)", "PAI (log)"
        ),
        width="stretch",
    )
    if (cov["pai"] <= 0).any():
        c[1].caption(
            "A PAI of 0 (no incident of the test months caught) cannot be drawn on the log "
            "scale: those points are left out here; the tables below hold every reading."
        )
    c[2].altair_chart(
        _chart(
            disc,
            "x",
            "hit_rate",
            f"Hit rate at equal numbers of {2 * radius:g} m discs",
            "number of discs",
            "hit rate",
        ),
        width="stretch",
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**At equal coverage** (hit rate · PAI)")
        st.dataframe(reading_table(res, "coverage"), hide_index=True, key="holdout_coverage")
    with right:
        st.markdown(f"**At equal numbers of {2 * radius:g} m discs** (hit rate · PAI)")
        st.dataframe(reading_table(res, "discs"), hide_index=True, key="holdout_discs")
    with st.expander("How the comparison was made"):
        for note in res.notes:
            st.text("• " + plain(note))


#: What the check was last run on in this session: the incidents' fingerprint (new data or
#: filters: the check waits for *Run the check* again).
_RAN = "holdout_ran_on"


def _run(fingerprint: str) -> None:
    """*Run the check*: keep the form's values and say the check was asked for on these data."""
    remember("holdout_month", "holdout_methods", "holdout_origins")
    keep(_RAN, fingerprint)


@st.fragment
def section(incidents: Incidents, method: str, params: dict[str, Any]) -> None:
    """The "Check against a later period" tab; ``method`` uses ``params``, the others automatic."""
    st.subheader("Check against a later period")
    st.caption(
        "Would these hot spots have caught the violence that came next? The methods are re-fitted "
        "on the months before the test month only, then scored on the test months."
    )
    months = [m.strftime("%Y-%m") for m in incidents.months]
    if len(months) < 3:
        st.info(
            f"The data span {len(months)} month(s): a check against a later period needs at "
            "least 3 (some to find the hot spots on, at least one to test them on). Upload a "
            "longer period."
        )
        return
    ss = st.session_state
    if ss.get("holdout_month") not in months[1:]:
        kept = recall("holdout_month")
        ss["holdout_month"] = kept if kept in months[1:] else months[-1]
    if ss.get("holdout_origins") not in ORIGIN_CHOICES:
        ss["holdout_origins"] = recall("holdout_origins", "split")
    if recall("holdout_methods") is None:  # never applied: follow the sidebar's method
        ss["holdout_methods"] = [method]
    elif "holdout_methods" not in ss:
        ss["holdout_methods"] = recall("holdout_methods")
    with st.form("holdout_form"):
        c = st.columns([1, 2])
        c[0].selectbox(
            "First test month",
            months[1:],
            key="holdout_month",
            help="Hot spots are found on the months before this one and tested on it and the "
            "months after.",
        )
        c[1].multiselect(
            "Methods (their delivered hot spots, below)",
            list(METHOD_LABELS),
            format_func=METHOD_LABELS.get,
            key="holdout_methods",
        )
        st.radio(
            "Comparison at equal coverage",
            list(ORIGIN_CHOICES),
            format_func=ORIGIN_CHOICES.get,
            key="holdout_origins",
            horizontal=True,
        )
        st.form_submit_button(
            "Run the check",
            key="holdout_submit",
            type="primary",
            on_click=_run,
            args=(incidents.fingerprint,),
        )
    if recall(_RAN) != incidents.fingerprint:
        # Re-fitting every method on the earlier months is a detection per method and origin
        # (Merseyside's half year: 6.7 CPU s; national data: minutes): only when asked, never
        # because the tab was opened.
        st.info(
            "Choose the first test month and the methods, then *Run the check*. Every method is "
            "re-fitted on the months before the test month: a few seconds for a force's months, "
            "longer for more."
        )
        return
    first = ss["holdout_month"]
    picked = ss["holdout_methods"]
    st.markdown("#### Every method at equal coverage, beside the baselines")
    split = first if ss["holdout_origins"] == "split" else None
    for reason in left_out_methods(incidents, split).values():
        st.caption(md(reason))
    try:
        with st.spinner("Forecasting every later month from the months before it..."):
            ev = forecasts_for(incidents, split, {method: params})
    except HotspotsError as exc:
        st.error(f"The comparison cannot be made: {md(plain(exc))}")
    else:
        show_warnings(ev)
        show_forecasts(ev.value)
    st.markdown("#### The hot spots each method delivers")
    if not picked:
        st.caption("Pick at least one method.")
        return
    skip = left_out_methods(incidents, first)
    for m in picked:
        if m in skip:
            st.caption(md(skip[m]))
    methods = tuple(m for m in METHOD_LABELS if m in picked and m not in skip)
    if not methods:
        return
    try:
        with st.spinner("Re-fitting on the training months and scoring the test months..."):
            out = holdout_for(incidents, first, methods, {method: params})
    except HotspotsError as exc:
        st.error(f"The check cannot be made: {md(plain(exc))}")
        return
    show_warnings(out)
    table = out.value
    i = months.index(first)
    train = months[0] if i == 1 else f"{months[0]} to {months[i - 1]}"
    test = first if first == months[-1] else f"{first} to {months[-1]}"
    st.caption(
        f"Found on {md(train)} (training), tested on {md(test)}. The current method uses the "
        "sidebar's parameters, the others their automatic ones; the filters apply to all, and only "
        "significant hot spots count."
    )
    view = pd.DataFrame(
        {
            "Method": table["method"].map(METHOD_LABELS).fillna(table["method"]),
            "Hot spots": table["hotspots"].astype(int),
            "Test incidents inside": table["n_inside"].astype(int),
            "Test incidents": table["n_total"].astype(int),
            "Coverage": table["coverage"].astype(float),
            "Hit rate": table["hit_rate"].astype(float),
            "PAI": table["pai"].astype(float),
            "PEI": table["pei"].astype(float),
        }
    )
    st.dataframe(
        view,
        hide_index=True,
        key="holdout_table",
        column_config={
            "Coverage": st.column_config.NumberColumn("Coverage", format="percent"),
            "Hit rate": st.column_config.NumberColumn("Hit rate", format="percent"),
            "PAI": st.column_config.NumberColumn("PAI", format="%.1f"),
            "PEI": st.column_config.NumberColumn("PEI", format="%.2f"),
        },
    )
    st.markdown(HOLDOUT_EXPLAINED)
