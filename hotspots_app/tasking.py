"""Tasking: routes for real teams and shifts over the current plan (the guide's tasking step).

Under the patrol plan: the teams (officers each) and their shifts (days and hours), typed into a
table or uploaded as the CSV or JSON :func:`hotspots.tasking.read_teams` reads; each team and
shift gets an ordered route of visits (:func:`hotspots.workflows.task_teams`), the dose rules'
shortfalls said, and per team a calendar and printable shift sheets. Beside the routed visits: how
many the plan above counts and why they differ (an area is routed only on the days its peak window
meets a shift), per area. The teams are a form inside the plan's fragment: applying them reruns
that tab only. Cached on the plan's key and the teams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from hotspots import HotspotsError, workflows
from hotspots.constants import TIME_ZONE
from hotspots.detect import HotspotResult
from hotspots_app import plan as plan_section
from hotspots_app.common import (
    Outcome,
    cache_data,
    cache_resource,
    capture,
    keep,
    md,
    recall,
    show_warnings,
)

if TYPE_CHECKING:
    from hotspots.tasking import TimeZoneChoice

#: The teams table's first content: one pair on the evening shift every day.
DEFAULT_TEAMS = pd.DataFrame(
    {"team": ["Alpha"], "officers": [2], "days": ["daily"], "start": ["18:00"], "end": ["02:00"]}
)
_TEAMS = "task_teams_file"
_ZONE = "task_time_zone_applied"
#: The incidents (fingerprint) the time zone box was last filled for: other data, their zone.
_ZONE_FOR = "task_time_zone_for"


def teams_csv(table: pd.DataFrame) -> bytes:
    """The teams table as the CSV :func:`hotspots.tasking.read_teams` reads (blank rows out)."""
    t = table.dropna(how="all").fillna("")
    t = t[t.astype(str).apply(lambda r: "".join(r).strip() != "", axis=1)]
    return t[list(DEFAULT_TEAMS.columns)].to_csv(index=False).encode("utf-8")


def _route(
    made: Any, source: tuple[str, bytes], time_zone: str, zone_from: TimeZoneChoice | None
) -> Any:
    from hotspots.tasking import read_teams

    name, data = source
    return workflows.task_teams(
        made, read_teams(data, name=name), time_zone=time_zone, time_zone_from=zone_from
    )


# cache_resource: the choice is read-only; the median of a national file's points takes a while.
@cache_resource(max_entries=4)
def zone_choice(incidents: Any) -> TimeZoneChoice:
    """The time zone where the incidents are (:func:`hotspots.tasking.time_zone_of`)."""
    from hotspots.tasking import time_zone_of

    return time_zone_of(incidents)


# cache_resource: a team plan is read-only here and shared between sessions.
@cache_resource(max_entries=4)
def team_plan_for(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    source: tuple[str, bytes],
    time_zone: str = TIME_ZONE,
    zone_from: TimeZoneChoice | None = None,
) -> Outcome:
    """The :class:`hotspots.tasking.TeamPlan` of the current plan for these teams, their shifts
    read in ``time_zone`` (an IANA name; ``zone_from``: the zone the incidents' location gave,
    recorded with it)."""
    made = plan_section.patrol_plan_for(result, significant_only, radius_m, settings).value
    return capture(_route, made, source, time_zone, zone_from)


@cache_data(max_entries=8)
def team_file(
    result: HotspotResult,
    significant_only: bool,
    radius_m: float,
    settings: dict[str, Any],
    source: tuple[str, bytes],
    time_zone: str,
    zone_from: TimeZoneChoice | None,
    kind: str,
    team: str = "",
) -> bytes:
    """``"csv"`` (every visit and control), or one team's ``"ics"`` calendar or ``"sheets"``."""
    from hotspots.tasking import render_team_sheets

    tp = team_plan_for(
        result, significant_only, radius_m, settings, source, time_zone, zone_from
    ).value
    if kind == "csv":
        return tp.to_csv().encode("utf-8")
    if kind == "ics":
        return tp.to_ical(team).encode("utf-8")
    return render_team_sheets(tp, team).encode("utf-8")


def _apply(default_zone: str = TIME_ZONE) -> None:
    ss = st.session_state
    keep(_ZONE, str(ss.get("task_time_zone") or "").strip() or default_zone)
    upload = ss.get("task_upload")
    if upload is not None:
        keep(_TEAMS, (upload.name, upload.getvalue()))
        return
    edited = ss.get("task_table_value")
    table = edited if isinstance(edited, pd.DataFrame) else DEFAULT_TEAMS
    keep(_TEAMS, ("teams.csv", teams_csv(table)))


def section(bundle: Any) -> None:
    """Teams in, routes out (inside the Patrol plan tab's fragment)."""
    st.markdown("#### Tasking: routes for your teams")
    st.caption(
        "Each team and shift gets an ordered route of visits inside each area's window, never "
        "two places at once, walking time between areas counted, the dose rules kept or the "
        "shortfall said. Days: Mon-Fri, Fri;Sat or daily (the day a shift starts); an end at or "
        "before the start is the next morning."
    )
    incidents = bundle.result.incidents
    chosen = zone_choice(incidents)
    ss = st.session_state
    if ss.get(_ZONE_FOR) != incidents.fingerprint:  # other data: the zone where they are
        ss[_ZONE_FOR] = incidents.fingerprint
        ss["task_time_zone"] = chosen.zone
        keep(_ZONE, chosen.zone)
    with st.form("task_form"):
        left, right = st.columns([3, 2])
        edited = left.data_editor(
            DEFAULT_TEAMS, num_rows="dynamic", key="task_table", hide_index=True
        )
        st.session_state["task_table_value"] = edited
        right.file_uploader(
            "Or a teams file (CSV: team,officers,days,start,end; or JSON)",
            type=["csv", "json"],
            key="task_upload",
        )
        if "task_time_zone" not in ss:
            ss["task_time_zone"] = recall(_ZONE, chosen.zone)
        right.text_input(
            "Time zone of the shifts",
            key="task_time_zone",
            help="An IANA time zone name such as Europe/London or America/Chicago: the shifts' "
            "hours and the calendars' times are in it.",
        )
        right.caption(md(zone_caption(chosen)))
        st.form_submit_button(
            "Route the teams", key="task_submit", on_click=_apply, args=(chosen.zone,)
        )
    source = recall(_TEAMS)
    if source is None:
        st.caption("Enter the teams and their shifts, then *Route the teams*.")
        return
    zone = str(recall(_ZONE, chosen.zone))
    key = (
        bundle.result, bundle.significant_only, bundle.radius_m, bundle.settings, source, zone,
        chosen,
    )  # fmt: skip
    try:
        with st.spinner("Routing the teams..."):
            out = team_plan_for(*key)
    except HotspotsError as exc:
        st.error(f"The teams cannot be routed: {md(exc)}")
        return
    show_warnings(out)
    tp = out.value
    s = tp.summary
    planned = planned_visits(bundle.plan)
    n_planned = sum(planned.values())
    c = st.columns(4)
    c[0].metric(
        "Routed visits",
        f"{s['patrol_visits']:,} of {n_planned:,}",
        help="Visits the teams' routes hold, of the visits the plan above counts.",
    )
    c[1].metric("Control area-days", f"{s['control_area_days']:,}")
    c[2].metric("Area-days no shift could fit", f"{s['unrouted_area_days']:,}")
    c[3].metric("Areas within the gap rule", f"{s['areas_gap_kept']} of {s['areas']}")
    st.caption(md(visits_line(s["patrol_visits"], n_planned, len(planned))))
    st.dataframe(
        visits_table(tp.areas, planned),
        hide_index=True,
        key="task_area_visits",
        height=min(360, 38 + 35 * len(tp.areas)),
    )
    for note in s.get("notes", []):
        st.caption(md(note))
    st.dataframe(tp.shifts, hide_index=True, key="task_shifts")
    if len(tp.shortfall):
        with st.expander(f"{len(tp.shortfall)} visit(s) no shift could fit"):
            st.dataframe(tp.shortfall, hide_index=True, key="task_shortfall")
    st.download_button(
        "Team plan (CSV)",
        data=lambda: team_file(*key, "csv"),
        file_name="team_plan.csv",
        mime="text/csv",
        key="task_dl_csv",
        on_click="ignore",
    )
    for i, (team, slug) in enumerate(zip(tp.teams, team_slugs(tp.teams), strict=True)):
        cols = st.columns(2)
        # Keyed by position: two teams' names may differ only in characters a file name drops.
        cols[0].download_button(
            f"{team.name}: calendar (.ics)",
            data=lambda t=team.name: team_file(*key, "ics", t),
            file_name=f"team_{slug}.ics",
            mime="text/calendar",
            key=f"task_dl_ics_{i}",
            on_click="ignore",
        )
        cols[1].download_button(
            f"{team.name}: shift sheets (HTML, printable)",
            data=lambda t=team.name: team_file(*key, "sheets", t),
            file_name=f"team_{slug}_sheets.html",
            mime="text/html",
            key=f"task_dl_sheets_{i}",
            on_click="ignore",
        )


def zone_caption(chosen: TimeZoneChoice) -> str:
    """The time zone's default said under its box: where it came from, and that it can change."""
    if chosen.how == "location":
        return f"Time zone from the incidents' location: {chosen.zone}; change it here."
    return (
        f"Time zone {chosen.zone}, the default ({chosen.reason}): set the zone where the teams "
        "work here."
    )


def planned_visits(plan: Any) -> dict[str, int]:
    """Visits the patrol plan counts per patrol area (its patrol arm), every planned area listed."""
    visits = plan.visits
    patrol = visits[visits["arm"] == "patrol"] if len(visits) else visits
    counts = patrol["patrol_area_id"].astype(str).value_counts() if len(patrol) else {}
    ids = pd.unique(visits["patrol_area_id"].astype(str)) if len(visits) else []
    return {str(a): int(counts.get(a, 0)) for a in ids}


def visits_line(routed: int, planned: int, areas: int) -> str:
    """Where the plan's count of visits and the routes' count part: said beside the numbers."""
    if routed == planned:
        return f"The routes hold every one of the plan's {planned:,} visits."
    return (
        f"The plan above counts {planned:,} visits: its {areas:,} areas inside each area's "
        f"patrol window on every plan day, whoever is on duty. The routes hold {routed:,}: an "
        "area is routed only on the days its peak window meets one of these shifts (its peak "
        "days), and a shift walks to one place at a time. Per area below; to route more, add "
        "shifts that cover the windows."
    )


def visits_table(areas: pd.DataFrame, planned: dict[str, int]) -> pd.DataFrame:
    """Per patrol area: visits planned (the plan above) and routed (the teams), and why fewer."""
    ids = areas["patrol_area_id"].astype(str)
    return pd.DataFrame(
        {
            "Area": ids,
            "Window": areas["window"].astype(str),
            "Visits planned": [planned.get(a, 0) for a in ids],
            "Visits routed": areas["visits"].astype(int),
            "Days a shift meets the window": areas["eligible_days"].astype(int),
            "Why fewer": areas["shortfall"].fillna("").astype(str),
        }
    )


def team_slugs(teams: Any) -> list[str]:
    """Each team's name for its files: letters and digits kept, other characters ``_``, and a
    number added where two names would give the same file (``A 1`` and ``A-1``)."""
    out: list[str] = []
    seen: set[str] = set()
    for team in teams:
        base = "".join(ch if ch.isalnum() else "_" for ch in team.name) or "team"
        slug, n = base, 1
        while slug.lower() in seen:  # file systems that ignore case would merge them too
            n += 1
            slug = f"{base}_{n}"
        seen.add(slug.lower())
        out.append(slug)
    return out
