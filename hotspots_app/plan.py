"""Patrol plan: patrol areas where violence is expected, a dated and seeded plan, its files.

The settings are a form inside a fragment (:func:`section`): applying them reruns this tab only,
never detection. They are kept across tabs (:func:`hotspots_app.common.remember`), so the map's
patrol layer and the hot spot details show the plan a user last applied (:func:`current`).
Patrol areas are cached on the detection run's fingerprint and the area settings, the plan on
those and the plan settings.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from hotspots import HotspotsError, ParameterError, constants, mapping, workflows
from hotspots.detect import HotspotResult
from hotspots_app import cards
from hotspots_app.common import (
    Outcome,
    cache_data,
    cache_resource,
    capture,
    keep,
    md,
    plain,
    recall,
    remember,
    restore,
    show_warnings,
    stop_search_notice,
)
from hotspots_app.data import near_misses_of
from hotspots_app.status import StatusProgress

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
    "plan_staffing": "dedicated_pairs",
    "plan_include_institutions": False,
    "plan_dose": "uniform",
}
#: The dose choices of :func:`hotspots.patrol.plan_patrols` (``dose``), as the form shows them.
DOSE_LABELS = {
    "uniform": "Same visits everywhere (more areas)",
    "recommended": "Each area's recommended dose (fewer areas)",
}
#: Kept uploads and dates of the plan form (not widgets: their values are kept by :func:`_apply`).
_PLACES, _STOPS, _OP_START = "plan_places_file", "plan_stop_search_files", "plan_operation_start"
PLAN_FILES = {
    "geojson": ("Patrol areas (GeoJSON)", "patrol_areas.geojson", "application/geo+json"),
    "csv": ("Patrol plan (CSV)", "patrol_plan.csv", "text/csv"),
    "ics": ("Patrol plan (calendar, .ics)", "patrol_plan.ics", "text/calendar"),
    "briefing": ("Briefing (HTML, printable)", "briefing.html", "text/html"),
}


# --------------------------------------------------------------------------------- cached
# cache_resource: patrol areas and plans are read-only here and shared between sessions.
@cache_resource(max_entries=4)
def user_places(source: tuple[str, bytes]) -> Any:
    """The user's places (:func:`hotspots.places.read_user_places`) from an uploaded file."""
    from hotspots.places import read_user_places

    return read_user_places(source)


@cache_resource(max_entries=4)
def stop_searches(sources: tuple[tuple[str, bytes], ...]) -> Any:
    """police.uk stop and search files (:func:`hotspots.safeguards.read_stop_search`)."""
    from hotspots.safeguards import read_stop_search

    return read_stop_search(list(sources))


@cache_resource(max_entries=16)
def patrol_areas_for(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    places: tuple[str, bytes] | None = None,
    _progress: Any = None,
) -> Outcome:
    """Patrol-sized discs inside the ranked hot spots (all, or the significant ones), or None.

    :func:`hotspots.workflows.patrol_areas`, flagged where a street patrol cannot address them
    (with the user's ``places``, an uploaded file). Keyed on the detection run and the area
    settings only, so a change to the plan (days, capacity, seed ...) reuses them.
    ``_progress`` (not part of the key) is told the step (:mod:`hotspots_app.status`).
    """
    return capture(
        workflows.patrol_areas,
        result.incidents,
        result.hotspots,
        significant_only=significant_only,
        radius_m=radius_m,
        places=user_places(places) if places else None,
        others=near_misses_of(result.incidents),
        progress=_progress,
    )


@cache_resource(max_entries=16)
def patrol_plan_for(
    result: HotspotResult, significant_only: bool, radius_m: float, settings: dict[str, Any]
) -> Outcome:
    """The :class:`hotspots.workflows.PlanResult` for these settings, as ``hotspots plan`` does.

    ``settings`` holds :func:`hotspots.workflows.plan_patrols`'s keywords, with ``places`` (an
    uploaded file of the user's places) and ``stop_search`` (uploaded police.uk files) as bytes.
    """
    rest = dict(settings)
    places = rest.pop("places", None)
    stops = rest.pop("stop_search", None)
    areas = patrol_areas_for(result, significant_only, radius_m, places).value
    return capture(
        workflows.plan_patrols,
        result.incidents,
        result.hotspots,
        areas,
        params=result.params,
        stop_search=stop_searches(stops) if stops else None,
        **rest,
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
    op_start = recall(_OP_START)
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
            "staffing": str(v["plan_staffing"]),
            "include_institutions": bool(v["plan_include_institutions"]),
            "dose": str(v["plan_dose"]),
            "places": recall(_PLACES),
            "stop_search": recall(_STOPS),
            "operation_start": op_start.isoformat() if isinstance(op_start, date) else None,
        },
    }


_KEYS = (*DEFAULTS, "plan_start")


def _apply() -> None:
    remember(*_KEYS)
    ss = st.session_state
    places = ss.get("plan_places_upload")
    keep(_PLACES, (places.name, places.getvalue()) if places is not None else None)
    stops = ss.get("plan_stop_search_upload") or []
    keep(_STOPS, tuple((f.name, f.getvalue()) for f in stops) or None)
    keep(_OP_START, ss.get("plan_operation_start_input"))


def _new_seed() -> None:
    seed = secrets.randbelow(1_000_000)
    st.session_state["plan_seed"] = seed
    _apply()


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
        c = st.columns(3)
        c[1].selectbox(
            "Visits per area",
            list(DOSE_LABELS),
            format_func=DOSE_LABELS.get,
            key="plan_dose",
            help="Same visits everywhere: one visit a day to every patrolled area, so the "
            "capacity covers as many areas as it can; areas whose tactic asks for more are "
            "named in the notes. Recommended dose: each area gets its tactic's visits a day on "
            "its peak days, inside its time window, so the capacity covers fewer areas.",
        )
        c[0].selectbox(
            "Who patrols (staffing)",
            list(cards.STAFFING_LABELS),
            format_func=cards.staffing_label,
            key="plan_staffing",
            help="Each area gets the one primary tactic that fits this staffing model and the "
            "place (dedicated pairs: Southend's and Bedfordshire's daily foot patrols, "
            "Merseyside's night-time floor; response officers: Sacramento's rotation between "
            "calls; PCSOs: Peterborough's), with the cautions that apply.",
        )
        c[2].checkbox(
            "Plan significant hot spots only",
            key="plan_significant_only",
            help="Only the hot spots that passed the significance test name the patrol areas "
            "inside them; with none, there is no plan. The areas themselves are placed where the "
            "forecast expects the most violence, inside or outside hot spots.",
        )
        c[2].checkbox(
            "Include institutions",
            key="plan_include_institutions",
            help="Prisons, police stations, custody suites, hospitals, courts and schools: "
            "police.uk places incidents recorded inside them on such points, and a street "
            "patrol cannot address them, so they are left out of the plan by default. Tick to "
            "plan them anyway (your own places below are always left out).",
        )
        c = st.columns([2, 2, 1])
        c[0].file_uploader(
            "Your own places to leave out (optional)",
            type=["txt", "csv", "tsv", "lst", "geojson", "json", "gpkg", "zip"],
            key="plan_places_upload",
            help="Names matched against the location text (one a line, or a CSV with a name "
            "column; * and ? are wildcards), or shapes (GeoJSON, GeoPackage, zipped shapefile; "
            "points and lines get 50 m around them).",
        )
        c[1].file_uploader(
            "police.uk stop and search files (optional)",
            type=["csv"],
            accept_multiple_files=True,
            key="plan_stop_search_upload",
            help="YYYY-MM-force-stop-and-search.csv files: stops, outcomes and the recorded "
            "ethnicity of people stopped inside the planned areas against the rest of the "
            "force, before and during the operation.",
        )
        c[2].date_input(
            "Operation start",
            value=recall(_OP_START),
            key="plan_operation_start_input",
            format="YYYY-MM-DD",
            help="First day of the operation: stop and search is counted before and during it.",
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
    #: Not made yet (``current(..., wait=False)``): :func:`current` makes it.
    pending: bool = False


# The (run, settings) keys whose plan state has been made in this process: the map asks without
# waiting and draws its patrol layer once the plan is made (hotspots_app.page). A key whose cached
# plan has been evicted since is made again on the next call, as any cache miss.
_MADE: OrderedDict[str, None] = OrderedDict()
_MADE_LOCK = threading.Lock()
_MADE_MAX = 256


def plan_key(result: HotspotResult, s: dict[str, Any] | None = None) -> str:
    """A key of the detection run and the plan settings (:func:`settings`) of :func:`current`."""
    text = repr((result.fingerprint, _digested(settings() if s is None else s)))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _digested(value: Any) -> Any:
    """``value`` with every bytes (an uploaded file) replaced by its digest, for a short key."""
    if isinstance(value, bytes):
        return hashlib.blake2b(value, digest_size=16).hexdigest()
    if isinstance(value, dict):
        return tuple((k, _digested(v)) for k, v in value.items())
    if isinstance(value, tuple | list):
        return tuple(_digested(v) for v in value)
    return value


def current(result: HotspotResult, *, wait: bool = True) -> PlanState:
    """The patrol areas and plan for the settings last applied (cached).

    With ``wait=False`` a plan not made yet for this run and these settings is not made: the
    state is ``pending`` (the map draws without its patrol layer, then makes it).
    """
    if not len(result.hotspots):
        return PlanState(problem="No hot spots, so no patrol areas.")
    s = settings()
    key = plan_key(result, s)
    if not wait:
        with _MADE_LOCK:
            made = key in _MADE
        if not made:
            return PlanState(pending=True)
    state = _current(result, s)
    with _MADE_LOCK:
        _MADE[key] = None
        _MADE.move_to_end(key)
        while len(_MADE) > _MADE_MAX:
            _MADE.popitem(last=False)
    return state


def _current(result: HotspotResult, s: dict[str, Any]) -> PlanState:
    progress = StatusProgress("Patrol areas")  # drawn only when they are not cached
    try:
        areas_out = patrol_areas_for(
            result, s["significant_only"], s["radius_m"], s["plan"]["places"], progress
        )
    except HotspotsError as exc:
        return PlanState(problem=f"The places file cannot be used: {md(exc)}", is_error=True)
    finally:
        progress.finish()
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
    from hotspots.places import unpatrollable

    if unpatrollable(areas, include_institutions=s["plan"]["include_institutions"]).all():
        kinds = sorted(set(areas["unpatrollable_kind"].astype(str).str.replace("_", " ")))
        return PlanState(
            problem=f"Every patrol area is a place a street patrol cannot address "
            f"({md(', '.join(kinds))}: see *All patrol areas* on the map's tooltips). Tick "
            "*Include institutions* to plan them anyway, or widen the hot spots.",
            is_error=True,
            warnings=areas_out.warnings,
        )
    try:
        out = patrol_plan_for(result, s["significant_only"], s["radius_m"], s["plan"])
    except ParameterError as exc:
        return PlanState(
            problem=f"The patrol plan cannot be made with these settings: {md(exc)}",
            is_error=True,
        )
    except HotspotsError as exc:
        return PlanState(problem=f"The plan's files cannot be used: {md(exc)}", is_error=True)
    bundle = Bundle(out.value, result, s["significant_only"], s["radius_m"], s["plan"])
    return PlanState(bundle, warnings=areas_out.warnings + out.warnings)


# The patrol areas layer of each plan, made once: the map draws the same layer object in every
# run, so its script is rendered once too (hotspots_app.map.layer_script). Weak keys: a plan
# dropped by its cache (patrol_plan_for) drops its layer. Only the plan's own data is in its layer.
_LAYERS: weakref.WeakKeyDictionary[workflows.PlanResult, Any] = weakref.WeakKeyDictionary()
_LAYERS_LOCK = threading.Lock()


def layer(bundle: Bundle | None) -> Any:
    """The plan's patrol areas as a map layer (see :func:`hotspots.mapping.patrol_layer`).

    The same object for the same plan (made once, shared read-only by the sessions that have that
    plan): do not add it to a map, hand it to :func:`hotspots_app.map.show_drawn`.
    """
    if bundle is None:
        return None
    with _LAYERS_LOCK:
        if bundle.made not in _LAYERS:
            _LAYERS[bundle.made] = mapping.patrol_layer(bundle.areas, bundle.plan)
        return _LAYERS[bundle.made]


# The tables each plan shows (all areas, one hot spot's, the places flagged), made once per plan
# and shared read-only: every rerun of the plan and details tabs shows the same frames. Weak
# keys: a plan dropped by its cache (patrol_plan_for) drops its tables.
_TABLES: weakref.WeakKeyDictionary[workflows.PlanResult, dict[Any, pd.DataFrame]] = (
    weakref.WeakKeyDictionary()
)
_TABLES_LOCK = threading.Lock()


def _table(bundle: Bundle, key: Any, make: Any) -> pd.DataFrame:
    with _TABLES_LOCK:
        made = _TABLES.setdefault(bundle.made, {})
        if key not in made:
            made[key] = make(bundle)
        return made[key]


def area_table(bundle: Bundle, hotspot_id: str | None = None) -> pd.DataFrame:
    """Patrol areas with their plan figures (optionally of one hot spot), for display.

    Made once per plan and hot spot (shared: do not change it).
    """
    return _table(bundle, ("areas", hotspot_id), lambda b: _area_table(b, hotspot_id))


def _area_table(bundle: Bundle, hotspot_id: str | None) -> pd.DataFrame:
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
        "Patrol-sized areas where the most violence is expected next, anywhere in the study "
        "area (those inside a hot spot are named after it, H001-P1; the others A001; the notes "
        "say how many lie in hot spots), and a dated, seeded plan "
        "with doses suggested by the guide's evidence: 15-minute visits on foot, at least one a "
        "day, random start times inside each area's peak window, no area left more than 3 days. "
        "Each area gets one recommendation for the staffing model chosen."
    )
    stop_search_notice()
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
    places_out = list(sm.get("unpatrollable_left_out", []))
    c = st.columns(6)
    c[0].metric("Patrol areas planned", f"{sm['areas_planned']} of {sm['areas_given']}")
    c[1].metric("Left out (capacity)", f"{sm['areas_left_out']}")
    c[2].metric("Left out (patrol cannot address)", f"{len(places_out)}")
    c[3].metric("Patrol visits", f"{sm['patrol_visits']:,}")
    c[4].metric("Patrolled / controls a day", f"{sm['treated_per_day']} / {sm['controls_per_day']}")
    c[5].metric("Officer-hours on foot", f"{sm['officer_hours_planned']:,.0f}")
    end = date.fromisoformat(p["start_date"]) + timedelta(days=int(p["days"]) - 1)
    st.text(
        f"Seed used: {p['seed']}. Plan from {p['start_date']} to {end.isoformat()}; "
        f"review by {sm['review_by']}."
    )
    for caveat in sm.get("caveats", []):
        st.warning(md(caveat))
    if sm["windows_general"]:
        st.caption(
            f"No time of day for these places: {sm['windows_general']} of {sm['areas_planned']} "
            "planned areas use this tool's general patrol window (a product heuristic, not the "
            "guide's) instead of their own peak."
        )
    with st.expander("How the plan was made"):
        for note in [*areas.attrs.get("notes", []), *sm.get("notes", [])]:
            st.text("• " + plain(note))
        st.json(
            json.loads(
                json.dumps({"patrol_areas": areas.attrs.get("params", {}), "plan": p}, default=str)
            ),
            expanded=False,
        )
    show_places(bundle)
    show_cards(bundle)
    show_stop_search(bundle)
    with st.expander(f"All {len(areas)} patrol areas"):
        st.dataframe(area_table(bundle), hide_index=True)
    download_buttons(bundle)
    from hotspots_app import tasking  # imports this module: imported here, not at the top

    tasking.section(bundle)


def flagged_places(bundle: Bundle) -> pd.DataFrame:
    """Patrol areas flagged as places a street patrol cannot address, for display.

    Made once per plan (shared: do not change it).
    """
    return _table(bundle, "places", _flagged_places)


def _flagged_places(bundle: Bundle) -> pd.DataFrame:
    areas = bundle.areas
    kind = areas["unpatrollable_kind"].fillna("").astype(str)
    flagged = areas[kind.ne("")]
    left = set(bundle.plan.summary.get("unpatrollable_left_out", []))
    in_plan = bundle.plan.areas
    planned = set(in_plan.loc[in_plan["in_plan"].astype(bool), "patrol_area_id"].astype(str))
    return pd.DataFrame(
        {
            "Patrol area": flagged["patrol_area_id"].astype(str),
            "Place": flagged["unpatrollable_kind"].astype(str).str.replace("_", " "),
            "Location": flagged.get("location", pd.Series("", index=flagged.index)).astype(str),
            "Incidents": flagged["incidents"].astype(int),
            "Why": flagged["unpatrollable_reason"].astype(str),
            # In the plan itself: not left out as a place, nor for lack of capacity.
            "In plan": flagged["patrol_area_id"].astype(str).isin(planned)
            & ~flagged["patrol_area_id"].astype(str).isin(left),
        }
    ).reset_index(drop=True)


def show_places(bundle: Bundle) -> None:
    """Areas left out (or kept at the user's request) as places a street patrol cannot address."""
    table = flagged_places(bundle)
    if table.empty:
        st.caption(
            "No patrol area is a place a street patrol cannot address (prisons, police stations, "
            "custody, hospitals, courts, schools, or your own places)."
        )
        return
    left_ids = set(bundle.plan.summary.get("unpatrollable_left_out", []))
    left = int(table["Patrol area"].isin(left_ids).sum())
    st.warning(
        f"{len(table)} patrol area(s) are places a street patrol cannot address: police.uk snaps "
        "incidents recorded inside institutions to such points. "
        + (
            f"{left} are left out of the plan; tick *Include institutions* to plan them."
            if left
            else "They are planned because *Include institutions* is ticked (those the plan's "
            "capacity covers)."
        ),
        icon="🚫",
    )
    st.dataframe(table, hide_index=True, key="plan_places_table")


def show_cards(bundle: Bundle) -> None:
    """Each planned area's recommendation: pick an area, see its card (all steps and cautions)."""
    recs = bundle.made.recommendations
    planned = [
        str(a)
        for a in bundle.plan.areas.loc[bundle.plan.areas["in_plan"].astype(bool), "patrol_area_id"]
    ]
    ids = [a for a in planned if a in recs] or list(recs)
    if not ids:
        return
    st.markdown(f"#### Tactics for each area ({md(cards.staffing_label(bundle.made.staffing))})")
    if st.session_state.get("plan_card_area") not in ids:
        st.session_state["plan_card_area"] = ids[0]
    pick = st.selectbox("Patrol area", ids, key="plan_card_area")
    cards.recommendation_card(
        recs[pick],
        title=f"Patrol area {pick}",
        plan_visits_per_day=int(bundle.plan.params.get("visits_per_day", 1)),
    )
    cards.programme(recs.values())


def show_stop_search(bundle: Bundle) -> None:
    """Stop and search inside the planned areas against the rest of the force, when given."""
    summary = bundle.made.stop_search
    if summary is None:
        return
    st.markdown("#### Stop and search monitoring")
    for note in summary.notes:
        st.caption(md(note))
    for t in summary.display():
        st.markdown(f"**{md(t['title'])}**")
        header = [h or " " for h in t["header"]]
        st.dataframe(
            pd.DataFrame(t["rows"], columns=header), hide_index=True, key=f"ss_{t['title'][:20]}"
        )
