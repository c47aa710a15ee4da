"""Patrol plan: patrol areas in the hot spots, a dated and seeded plan, and its files.

The settings are a form inside a fragment (:func:`section`): applying them reruns this tab only,
never detection. They are kept across tabs (:func:`hotspots_app.common.remember`), so the map's
patrol layer and the hot spot details show the plan a user last applied (:func:`current`).
Patrol areas are cached on the detection run's fingerprint and the area settings, the plan on
those and the plan settings.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from hotspots import ParameterError, constants, mapping, workflows
from hotspots.detect import HotspotResult
from hotspots_app.common import (
    Outcome,
    cache_data,
    cache_resource,
    capture,
    md,
    recall,
    remember,
    restore,
    show_warnings,
)

#: Default patrol plan seed: a fixed number, so the same data give the same plan until changed.
DEFAULT_SEED = 2718
#: The plan form's widgets and their defaults (the guide's; see hotspots.constants).
DEFAULTS: dict[str, Any] = {
    "plan_days": constants.PLAN_DAYS,
    "plan_hours": constants.OFFICER_HOURS,
    "plan_officers": constants.OFFICERS_PER_PATROL,
    "plan_minutes": constants.VISIT_MINUTES,
    "plan_control_share": constants.CONTROL_SHARE,
    "plan_radius": constants.MICRO_PLACE_RADIUS_M,
    "plan_seed": DEFAULT_SEED,
    "plan_significant_only": True,
}
PLAN_FILES = {
    "geojson": ("Patrol areas (GeoJSON)", "patrol_areas.geojson", "application/geo+json"),
    "csv": ("Patrol plan (CSV)", "patrol_plan.csv", "text/csv"),
    "ics": ("Patrol plan (calendar, .ics)", "patrol_plan.ics", "text/calendar"),
    "briefing": ("Briefing (HTML, printable)", "briefing.html", "text/html"),
}


# --------------------------------------------------------------------------------- cached
# cache_resource: patrol areas and plans are read-only here and shared between sessions.
@cache_resource(max_entries=16)
def patrol_areas_for(result: HotspotResult, significant_only: bool, radius_m: float) -> Outcome:
    """Patrol-sized discs inside the ranked hot spots (all, or the significant ones), or None.

    :func:`hotspots.workflows.patrol_areas`. Keyed on the detection run and the area settings
    only, so a change to the plan (days, capacity, seed ...) reuses them.
    """
    return capture(
        workflows.patrol_areas,
        result.incidents,
        result.hotspots,
        significant_only=significant_only,
        radius_m=radius_m,
    )


@cache_resource(max_entries=16)
def patrol_plan_for(
    result: HotspotResult, significant_only: bool, radius_m: float, settings: dict[str, Any]
) -> Outcome:
    """The :class:`hotspots.workflows.PlanResult` for these settings, as ``hotspots plan`` does."""
    areas = patrol_areas_for(result, significant_only, radius_m).value
    return capture(
        workflows.plan_patrols,
        result.incidents,
        result.hotspots,
        areas,
        params=result.params,
        **settings,
    )


@cache_data(max_entries=8)
def plan_file(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    kind: str,
) -> bytes:
    """A patrol plan download (:func:`hotspots.workflows.plan_bytes`), built when clicked."""
    plan = patrol_plan_for(result, significant_only, radius_m, settings).value
    return workflows.plan_bytes(plan, kind)


def _control_share_limit() -> tuple[int, float]:
    """(max days between visits, largest daily control share it allows), from the knowledge base."""
    from hotspots.tactics import load_knowledge_base

    gap = int(load_knowledge_base().constant("max_gap_days"))
    return gap, (gap - 1) / gap


# ----------------------------------------------------------------------------- settings
def settings() -> dict[str, Any]:
    """The plan settings last applied (kept across tabs), as the library takes them."""
    gap, limit = _control_share_limit()
    v = {k: recall(k, d) for k, d in DEFAULTS.items()}
    share = float(v["plan_control_share"])
    if abs(share - limit) < 0.005:
        share = limit  # "0.67" means two-thirds, the most the gap rule allows
    start = recall("plan_start", date.today() + timedelta(days=1))
    return {
        "significant_only": bool(v["plan_significant_only"]),
        "radius_m": float(v["plan_radius"]),
        "plan": {
            "days": int(v["plan_days"]),
            "officer_hours": float(v["plan_hours"]),
            "officers_per_patrol": int(v["plan_officers"]),
            "visit_minutes": int(v["plan_minutes"]),
            "control_share": share,
            "max_gap_days": gap,
            "seed": int(v["plan_seed"]),
            "start_date": (start if isinstance(start, date) else date.today()).isoformat(),
        },
    }


_KEYS = (*DEFAULTS, "plan_start")


def _apply() -> None:
    remember(*_KEYS)


def _new_seed() -> None:
    seed = secrets.randbelow(1_000_000)
    st.session_state["plan_seed"] = seed
    remember(*_KEYS)


def _settings_form() -> None:
    """The patrol plan controls (a form: the plan is made again when they are applied)."""
    gap, limit = _control_share_limit()
    restore({**DEFAULTS, "plan_start": date.today() + timedelta(days=1)})
    with st.form("plan_form"):
        c = st.columns(4)
        c[0].number_input(
            "Days",
            min_value=1,
            max_value=365,
            step=1,
            key="plan_days",
            help="Length of the plan (default 28 days).",
        )
        c[1].number_input(
            "Officer-hours per day",
            min_value=0.5,
            max_value=500.0,
            step=0.5,
            key="plan_hours",
            help="Officer time available each day for hot spot patrol, all officers together.",
        )
        c[2].number_input(
            "Officers per patrol",
            min_value=1,
            max_value=10,
            step=1,
            key="plan_officers",
            help="Two officers on foot, as in the Southend and Bedfordshire trials.",
        )
        c[3].number_input(
            "Visit minutes",
            min_value=constants.MIN_VISIT_MINUTES,
            max_value=constants.MAX_VISIT_MINUTES,
            step=1,
            key="plan_minutes",
            help="Minutes on foot inside the area per visit: 15 by default (the Koper curve). "
            "Visits under 10 minutes do not count as a dose, so 10 is the least.",
        )
        c = st.columns(4)
        c[0].number_input(
            "Daily control share",
            min_value=0.0,
            max_value=0.95,
            step=0.05,
            format="%.2f",
            key="plan_control_share",
            help="Share of the planned areas left unpatrolled each day as controls, drawn at "
            "random daily, to test whether the patrols work (crossover test-as-you-go; Thames "
            f"Valley 0.5, Bedfordshire 0.67). At most {limit:.2f}, so that no area waits more "
            f"than {gap} days between visits. 0 = every planned area is patrolled every day.",
        )
        c[1].number_input(
            "Patrol area radius (m)",
            min_value=25.0,
            max_value=500.0,
            step=5.0,
            key="plan_radius",
            help="Patrol areas are discs of this radius on the densest places inside each hot "
            "spot: 75 m gives the 150 m micro place of the UK trials.",
        )
        c[2].number_input(
            "Seed",
            min_value=0,
            max_value=2**32 - 1,
            step=1,
            key="plan_seed",
            help="The same seed and settings give the same plan. Change it for another random "
            "draw.",
        )
        c[3].date_input("First plan day", key="plan_start", format="YYYY-MM-DD")
        st.checkbox(
            "Plan significant hot spots only",
            key="plan_significant_only",
            help="Hot spots that are not significantly denser than chance are left out by default.",
        )
        b = st.columns([1, 1, 4])
        b[0].form_submit_button("Make the plan", key="plan_submit", type="primary", on_click=_apply)
        b[1].form_submit_button("New random seed", key="plan_new_seed", on_click=_new_seed)


# ------------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class Bundle:
    """A plan made for the app: the workflow's result and the settings it was made with."""

    made: workflows.PlanResult
    result: HotspotResult
    significant_only: bool
    radius_m: float
    settings: dict[str, Any]

    @property
    def plan(self) -> Any:
        """The :class:`hotspots.patrol.PatrolPlan`."""
        return self.made.plan

    @property
    def areas(self) -> Any:
        """The patrol areas (GeoDataFrame, analysis CRS)."""
        return self.made.areas

    def file(self, kind: str) -> bytes:
        """One of :data:`PLAN_FILES` (cached once built)."""
        return plan_file(self.result, self.significant_only, self.radius_m, self.settings, kind)


@dataclass(frozen=True)
class PlanState:
    """The plan for the kept settings (``bundle``), or why there is none.

    ``problem`` says why there is no plan (markdown, user text escaped), ``is_error`` whether
    the settings are at fault.
    """

    bundle: Bundle | None = None
    problem: str = ""
    is_error: bool = False
    warnings: tuple[str, ...] = ()


def current(result: HotspotResult) -> PlanState:
    """The patrol areas and plan for the settings last applied (cached)."""
    if not len(result.hotspots):
        return PlanState(problem="No hot spots, so no patrol areas.")
    s = settings()
    areas_out = patrol_areas_for(result, s["significant_only"], s["radius_m"])
    areas = areas_out.value
    if areas is None or not len(areas):
        return PlanState(
            problem="No patrol areas: no hot spot is significant. Untick *Plan significant hot "
            "spots only* to plan all of them."
            if s["significant_only"]
            else "No patrol areas could be placed in these hot spots.",
            warnings=areas_out.warnings,
        )
    gap, limit = _control_share_limit()
    share = s["plan"]["control_share"]
    if share > limit + 1e-9:
        return PlanState(
            problem=f"A daily control share of {share:.2f} is too high: with at most {gap} days "
            f"between visits to a planned area, no more than {limit:.2f} (two-thirds) of the "
            f"areas can be controls on any day. Lower it to {limit:.2f} or less.",
            is_error=True,
        )
    try:
        out = patrol_plan_for(result, s["significant_only"], s["radius_m"], s["plan"])
    except ParameterError as exc:
        return PlanState(
            problem=f"The patrol plan cannot be made with these settings: {md(exc)}",
            is_error=True,
        )
    bundle = Bundle(out.value, result, s["significant_only"], s["radius_m"], s["plan"])
    return PlanState(bundle, warnings=areas_out.warnings + out.warnings)


def layer(bundle: Bundle | None) -> Any:
    """The plan's patrol areas as a map layer (see :func:`hotspots.mapping.patrol_layer`)."""
    if bundle is None:
        return None
    return mapping.patrol_layer(bundle.areas, bundle.plan)


def area_table(bundle: Bundle, hotspot_id: str | None = None) -> pd.DataFrame:
    """Patrol areas with their plan figures (optionally of one hot spot), for display."""
    areas, plan = bundle.areas, bundle.plan
    cols = ["patrol_area_id", "hotspot_id", "incidents", "pai", "location", "temporal_class"]
    table = pd.DataFrame(areas[[c for c in cols if c in areas.columns]]).merge(
        plan.area_summary()[
            [
                "patrol_area_id",
                "in_plan",
                "visits",
                "control_days",
                "max_gap_days",
                "window",
                "tactic_ids",
            ]
        ],
        on="patrol_area_id",
        how="left",
    )
    if hotspot_id is not None:
        table = table[table["hotspot_id"].astype(str) == str(hotspot_id)].drop(columns="hotspot_id")
    table["pai"] = table["pai"].round(1)
    return table.rename(
        columns={
            "patrol_area_id": "Patrol area",
            "hotspot_id": "Hot spot",
            "incidents": "Incidents",
            "pai": "PAI",
            "location": "Location",
            "temporal_class": "Pattern",
            "in_plan": "In plan",
            "visits": "Visits",
            "control_days": "Control days",
            "max_gap_days": "Longest gap (days)",
            "window": "Window",
            "tactic_ids": "Tactics",
        }
    ).reset_index(drop=True)


def download_buttons(bundle: Bundle, key_prefix: str = "dl") -> None:
    """The plan's four files (built when clicked, then cached)."""
    names = {"geojson": "patrol_geojson", "csv": "plan_csv", "ics": "plan_ics"}
    for col, (kind, (label, file_name, mime)) in zip(
        st.columns(len(PLAN_FILES)), PLAN_FILES.items(), strict=True
    ):
        col.download_button(
            label,
            data=lambda kind=kind: bundle.file(kind),
            file_name=file_name,
            mime=mime,
            key=f"{key_prefix}_{names.get(kind, kind)}",
            on_click="ignore",
        )


# -------------------------------------------------------------------------------- the tab
@st.fragment
def section(result: HotspotResult) -> None:
    """The "Patrol plan" tab: controls, summary, all areas, downloads (reruns on its own)."""
    st.subheader("Patrol plan")
    st.caption(
        "Patrol-sized areas on the densest places inside the hot spots, and a dated, seeded plan "
        "following the guide's defaults: 15-minute visits by two officers on foot, at least one a "
        "day, random start times inside each area's peak window, no area left more than 3 days."
    )
    _settings_form()
    with st.spinner("Placing patrol areas and making the plan..."):
        state = current(result)
    show_warnings(state.warnings)
    bundle = state.bundle
    if bundle is None:
        (st.error if state.is_error else st.info)(state.problem)
        return
    plan, areas = bundle.plan, bundle.areas
    sm, p = plan.summary, plan.params
    c = st.columns(5)
    c[0].metric("Patrol areas planned", f"{sm['areas_planned']} of {sm['areas_given']}")
    c[1].metric("Left out (capacity)", f"{sm['areas_left_out']}")
    c[2].metric("Patrol visits", f"{sm['patrol_visits']:,}")
    c[3].metric("Patrolled / controls a day", f"{sm['treated_per_day']} / {sm['controls_per_day']}")
    c[4].metric("Officer-hours on foot", f"{sm['officer_hours_planned']:,.0f}")
    end = date.fromisoformat(p["start_date"]) + timedelta(days=int(p["days"]) - 1)
    st.text(
        f"Seed used: {p['seed']}. Plan from {p['start_date']} to {end.isoformat()}; "
        f"review by {sm['review_by']}."
    )
    for caveat in sm.get("caveats", []):
        st.warning(md(caveat))
    if sm["windows_general"]:
        st.caption(
            f"No time of day in these data: {sm['windows_general']} of {sm['areas_planned']} "
            "planned areas use the guide's general patrol windows."
        )
    with st.expander("How the plan was made"):
        for note in [*areas.attrs.get("notes", []), *sm.get("notes", [])]:
            st.text("• " + str(note))
        st.json(
            json.loads(
                json.dumps({"patrol_areas": areas.attrs.get("params", {}), "plan": p}, default=str)
            ),
            expanded=False,
        )
    with st.expander(f"All {len(areas)} patrol areas"):
        st.dataframe(area_table(bundle), hide_index=True)
    download_buttons(bundle)
