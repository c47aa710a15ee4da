"""Hot spot details: the selected hot spot's profile, tactics, patrol areas and visits.

:func:`card` is the short version under the map; :func:`section` is the "Hot spot details" tab.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from hotspots.detect import HotspotResult
from hotspots_app import cards, detection
from hotspots_app.common import (
    md,
    recall,
    selected,
    selection_box,
    stop_search_notice,
)
from hotspots_app.plan import DEFAULTS, Bundle, area_table

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _selected_row(result: HotspotResult) -> tuple[Any, int] | None:
    """(row, position in the ranked table) of the selected hot spot, or None."""
    ranked = result.hotspots
    sel = selected()
    hits = np.flatnonzero(ranked["hotspot_id"].astype(str).to_numpy() == str(sel))
    if not len(hits):
        return None
    pos = int(hits[0])
    return ranked.iloc[pos], pos


def _header(row: Any, n: int, *, narrow: bool = False) -> None:
    st.subheader(f"Hot spot {md(row['hotspot_id'])}: rank {int(row['rank'])} of {n}")
    c = [*st.columns(2), *st.columns(2)] if narrow else st.columns(4)
    c[0].metric("Incidents", f"{int(row['incidents']):,}")
    c[1].metric("Share of all incidents", f"{float(row['share']):.1%}")
    c[2].metric("Area", f"{float(row['area_ha']):.2f} ha")
    c[3].metric("Longest side", f"{float(row.get('max_extent_m', float('nan'))):,.0f} m")
    basis = {
        "own": " (this place's own timing)",
        "force": " (mostly the force-wide timing: too few incidents here to show its own)",
    }.get(str(row.get("peak_basis") or ""), "")
    st.text(
        f"Pattern: {row.get('temporal_class', '')}, trend {row.get('trend', '')}. "
        f"Peak window: {row.get('peak_window') or 'times of day not in the data'}{basis}."
    )
    said = significance_line(row)
    if said:
        st.text(said)


def significance_line(row: Any) -> str | None:
    """Whether the hot spot passed its significance test, with its p-value: the card under the
    map showed a hot spot's figures without saying that most hot spots of a run may not have
    passed (Merseyside's KDE: 77 of 282). None when the row carries no test."""
    sig = row.get("significant")
    if sig is None or (isinstance(sig, float) and np.isnan(sig)):
        return None
    p = row.get("p_value")
    if p is None or not np.isfinite(float(p)):
        p_text = ""
    else:  # "8.9e-88" reads as noise to most readers: below 0.001 the size adds nothing
        p_text = " (p < 0.001)" if float(p) < 0.001 else f" (p = {float(p):.2g})"
    if bool(sig):
        return f"Significant: yes{p_text}: it stands out from its surroundings."
    return (
        f"Significant: no{p_text}: it did not stand out from its surroundings in the test, so "
        "check it against local knowledge before acting on it."
    )


def card(result: HotspotResult) -> None:
    """The selected hot spot in brief (under the map)."""
    found = _selected_row(result)
    if found is None:
        return
    _header(found[0], len(result.hotspots), narrow=True)
    st.caption("Its monthly trend, hours, tactics and patrol visits: tab *Hot spot details*.")


def section(result: HotspotResult, plan_bundle: Bundle | None) -> None:
    """The "Hot spot details" tab."""
    ranked = result.hotspots
    stop_search_notice()
    if not len(ranked):
        st.info("No hot spots with these settings.")
        return
    selection_box([str(i) for i in ranked["hotspot_id"]], key="detail_selected_id")
    found = _selected_row(result)
    if found is None:
        return
    row, pos = found
    _header(row, len(ranked))
    left, right = st.columns(2)
    months = result.incidents.months
    counts = list(row.get("monthly_counts") or [])
    if len(months) and len(counts) == len(months):
        trend = pd.DataFrame({"month": months.strftime("%Y-%m"), "incidents": counts})
        left.altair_chart(
            alt.Chart(trend, title="Incidents per month")
            .mark_bar(color="#bd0026")
            .encode(
                x=alt.X("month:O", title=None),
                y=alt.Y("incidents:Q", title="incidents"),
                tooltip=["month", "incidents"],
            ),
            width="stretch",
        )
    if bool(row.get("has_time")):
        _hour_by_weekday(result, pos, right)
    else:
        right.info("The data carry no time of day, so there is no hour-by-weekday profile.")
    show_place_flag(row)
    show_tactics(row, len(ranked), result)
    show_hotspot_plan(plan_bundle, row)


def _hour_by_weekday(result: HotspotResult, pos: int, box: Any) -> None:
    inc_idx, poly_idx = detection.membership(result)
    frame = result.incidents.frame.iloc[inc_idx[poly_idx == pos]]
    frame = frame[frame["has_time"]]
    if not len(frame):
        return
    dt = pd.to_datetime(frame["datetime"])
    full = pd.MultiIndex.from_product([range(7), range(24)], names=["weekday", "hour"])
    grid = (
        pd.DataFrame({"weekday": dt.dt.day_of_week, "hour": dt.dt.hour})
        .value_counts()
        .reindex(full, fill_value=0)
        .rename("incidents")
        .reset_index()
    )
    grid["day"] = grid["weekday"].map(dict(enumerate(WEEKDAYS)))
    box.altair_chart(
        alt.Chart(grid, title="Hour of day by weekday")
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="hour"),
            y=alt.Y("day:O", sort=list(WEEKDAYS), title=None),
            color=alt.Color("incidents:Q", scale=alt.Scale(scheme="orangered")),
            tooltip=["day", "hour", "incidents"],
        ),
        width="stretch",
    )


def show_place_flag(row: Any) -> None:
    """Say so when the hot spot is a place a street patrol cannot address."""
    reason = str(row.get("unpatrollable_reason") or "")
    if reason:
        st.warning(md(reason), icon="🚫")
    check = str(row.get("place_check") or "")
    if check:
        st.caption(md(check))


def show_tactics(row: Any, n: int, result: HotspotResult | None = None) -> None:
    """The hot spot's one recommendation for the staffing model of the patrol plan."""
    from hotspots.tactics import recommend

    staffing = str(recall("plan_staffing", DEFAULTS["plan_staffing"]))
    total_harm = None
    if result is not None and result.incidents.has_weights:
        total_harm = float(result.incidents.weights.sum())
    rec = recommend(row, staffing, level="hotspot", n_places=n, total_harm=total_harm)
    st.markdown("#### Patrol tactics for this hot spot")
    st.caption(
        f"Staffing: {md(cards.staffing_label(staffing))} (change it under *Patrol plan*). Each "
        "patrol area of the plan gets its own recommendation there."
    )
    cards.recommendation_card(rec, title=f"Hot spot {row['hotspot_id']}")


def show_hotspot_plan(bundle: Bundle | None, row: Any) -> None:
    """The selected hot spot's patrol areas and planned visits."""
    st.markdown("#### Patrol areas and planned visits")
    hid = str(row["hotspot_id"])
    if bundle is None:
        st.caption("No patrol plan with the current settings (see tab *Patrol plan*).")
        return
    table = area_table(bundle, hid)
    if table.empty:
        if bundle.significant_only and not bool(row.get("significant", True)):
            st.caption(
                f"{md(hid)} is not significant, so it has no patrol area. Untick *Plan significant "
                "hot spots only* under Patrol plan to include it."
            )
        else:
            st.caption(f"{md(hid)} has no patrol area (its incidents are covered by other areas).")
        return
    st.dataframe(table, hide_index=True)
    planned = table.loc[table["In plan"].astype(bool), "Patrol area"].tolist()
    if not planned:
        st.caption(
            f"The patrol areas of {md(hid)} are left out of the plan for lack of capacity: raise "
            "the officer-hours per day to include them."
        )
        return
    v = bundle.plan.visits
    v = v[v["patrol_area_id"].isin(planned)]
    visits = pd.DataFrame(
        {
            "Date": pd.to_datetime(v["date"]).dt.strftime("%Y-%m-%d"),
            "Day": v["weekday"],
            "Start": pd.to_datetime(v["start"]).dt.strftime("%H:%M"),
            "End": pd.to_datetime(v["end"]).dt.strftime("%H:%M"),
            "Patrol area": v["patrol_area_id"],
            "Arm": v["arm"],
            "Minutes": v["minutes"],
            "Officers": v["officers"],
        }
    ).fillna("")
    n_patrol = int((v["arm"] == "patrol").sum())
    st.caption(
        f"{n_patrol} planned visits in {len(planned)} patrol area(s); control days show no times."
    )
    st.dataframe(visits, hide_index=True, height=min(360, 38 + 35 * len(visits)))
