"""Check against a later period: would these hot spots have caught the violence that came next?

Hit rate, PAI and PEI of each method fitted on the months before a test month and scored on the
rest (:func:`hotspots.evaluate.holdout`). A form inside a fragment (:func:`section`): choosing
another month or method reruns this tab only. Cached on the incidents' fingerprint and the
settings.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from hotspots import HotspotsError
from hotspots.incidents import Incidents
from hotspots_app.common import (
    METHOD_LABELS,
    Outcome,
    cache_data,
    capture,
    md,
    recall,
    remember,
    show_warnings,
)

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
            "Methods", list(METHOD_LABELS), format_func=METHOD_LABELS.get, key="holdout_methods"
        )
        st.form_submit_button(
            "Run the check",
            key="holdout_submit",
            type="primary",
            on_click=remember,
            args=("holdout_month", "holdout_methods"),
        )
    first = ss["holdout_month"]
    picked = ss["holdout_methods"]
    if not picked:
        st.caption("Pick at least one method.")
        return
    methods = tuple(m for m in METHOD_LABELS if m in picked)
    try:
        with st.spinner("Re-fitting on the training months and scoring the test months..."):
            out = holdout_for(incidents, first, methods, {method: params})
    except HotspotsError as exc:
        st.error(f"The check cannot be made: {md(exc)}")
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
