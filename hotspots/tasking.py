"""Tasking: routes that real teams can deliver, with crossover controls randomised by block.

:func:`make_team_plan` turns patrol areas (:func:`hotspots.patrol.make_patrol_areas`) and the
teams that will walk them (:class:`Team`, :class:`Shift`; :func:`read_teams` reads them from
CSV or JSON) into a :class:`TeamPlan`: for every team and shift an ordered route of visits, each
inside its area's peak window and on its peak days, never two places at once for one team, with
the walking time between areas counted, and for every area whether the dose rules were kept
(15-minute visits, never under 10, no area left more than 3 days) or by how much they were not.

Each plan day runs in four steps:

1. Which areas can be patrolled today: the area's peak window falls on today (its peak days,
   read as plan days, the day a night begins) and some shift overlaps the window by a whole
   visit.
2. Crossover controls, randomised by block: areas of one hot spot, or closer than a separation
   distance, form one block (:func:`control_blocks`), patrolled or held back together. A block
   whose area would otherwise wait longer than the gap rule allows is patrolled without a draw
   and its visits are marked ``assignment="forced"`` (:func:`hotspots.assess.assess_operation`
   leaves those days out of the randomised estimate).
3. Routing: the day's visits go to the day's team-shifts with Google OR-Tools' vehicle routing
   solver with time windows (vehicle = one team's shift, node = one visit), reproducibly (a
   fixed first-solution strategy and a greedy descent to a local optimum).
4. Visits no shift can fit are said, per area, day and visit, in :attr:`TeamPlan.shortfall`.

With ``doses`` (:class:`VisitDose`, the recommended dose of each area: what
:func:`hotspots.workflows.task_teams` passes for a plan made with ``dose="recommended"``) an
area gets its dose's visits on each patrol day instead of one, each a node of step 3, spaced
through its window.

Notes
-----
Sources (study ids of ``hotspots/data/tactics.json``): 15-minute visits, never under 10
(Koper1995); one visit a day, gaps of at most 3-4 days (Basford2021, Barnes2020, Bland2021);
two officers on foot (Basford2021, Bland2021); multi-area hot spots randomised as one block and
plan days that run 06:00-05:59 (ThamesValleyRCT); visits restricted to each place's own peak
(the guide's tasking step). The walking speed, street detour and control separation are in
:mod:`hotspots.constants` with their reasons.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import math
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
import numpy as np
import pandas as pd
import shapely

from hotspots._errors import InputError, ParameterError
from hotspots.constants import (
    CONTROL_SEPARATION_BUFFER_M,
    CONTROL_SHARE,
    MAX_GAP_DAYS,
    MAX_VISIT_MINUTES,
    MICRO_PLACE_RADIUS_M,
    MIN_VISIT_MINUTES,
    OFFICERS_PER_PATROL,
    PLAN_DAYS,
    ROUTING_TIME_LIMIT_S,
    STREET_DETOUR,
    TIME_ZONE,
    VISIT_MINUTES,
    WALKING_SPEED_KMH,
)
from hotspots.export import team_plan_to_csv, team_plan_to_ical
from hotspots.jsonutil import to_jsonable
from hotspots.offline import report_environment
from hotspots.patrol import plan_start_date
from hotspots.record import Choices
from hotspots.tactics import (
    Dose,
    KnowledgeBase,
    PatrolWindow,
    format_window,
    load_knowledge_base,
    patrol_window,
)

__all__ = [
    "WEEKDAYS",
    "Shift",
    "Team",
    "TeamPlan",
    "VisitDose",
    "control_blocks",
    "make_team_plan",
    "parse_days",
    "TimeZoneChoice",
    "read_teams",
    "render_team_sheets",
    "time_zone_of",
    "time_zone_of_areas",
    "travel_matrix",
]

#: Weekday names, Mon=0, as the profile and the teams file write them.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: Grid of drawn start times, minutes after the plan day's start (06:00): 5, as the patrol plan's
#: (:mod:`hotspots.patrol`), so a sheet reads 18:35 rather than 18:37.
_TIME_GRID = 5

#: Penalty (in the solver's cost unit, minutes of walking) of leaving one visit out; far above any
#: day's walking, so the solver leaves a visit out only when no shift can fit it.
_DROP_PENALTY = 1_000_000

#: Least spacing between two visits of one area on one plan day when its dose gives no revisit
#: interval, in visit lengths: a heuristic of this product (not the guide's), so that two visits
#: are never back to back (they would be one long visit, not two). The spacing is otherwise the
#: window's length divided by the day's visits (visits spread through the window).
SPACING_VISITS = 2


# --------------------------------------------------------------------------------------------
# Teams and shifts


@dataclass(frozen=True)
class Shift:
    """One recurring shift of a team, in local clock time.

    Attributes
    ----------
    days : tuple of int
        Weekdays (Mon=0) on which the shift *starts*.
    start, end : datetime.time
        Local clock times; an ``end`` at or before ``start`` ends the next day (18:00-02:00).
    """

    days: tuple[int, ...]
    start: dt.time
    end: dt.time

    @property
    def label(self) -> str:
        """For people: ``"Fri-Sat 18:00-02:00"``."""
        return f"{format_days(self.days)} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def minutes(self) -> int:
        """Length on the clock, minutes (a shift across a clock change is an hour off)."""
        a = self.start.hour * 60 + self.start.minute
        b = self.end.hour * 60 + self.end.minute
        return (b - a) % (24 * 60) or 24 * 60


@dataclass(frozen=True)
class Team:
    """A team that patrols together: its name, its officers and its shifts.

    Attributes
    ----------
    name : str
    officers : int, default 2
        Officers walking together (two on foot, Basford2021, Bland2021).
    shifts : tuple of Shift
    """

    name: str
    officers: int = OFFICERS_PER_PATROL
    shifts: tuple[Shift, ...] = ()


def format_days(days: Iterable[int]) -> str:
    """``"Mon-Fri"``, ``"Fri-Sat"``, ``"Mon, Wed"`` or ``"every day"``."""
    ds = sorted({int(d) for d in days})
    if len(ds) == 7:
        return "every day"
    if len(ds) > 1 and ds == list(range(ds[0], ds[-1] + 1)):
        return f"{WEEKDAYS[ds[0]]}-{WEEKDAYS[ds[-1]]}"
    return ", ".join(WEEKDAYS[d] for d in ds)


def parse_days(text: str | Iterable[Any]) -> tuple[int, ...]:
    """Weekdays from ``"Mon-Fri"``, ``"Fri;Sat"``, ``"Mon,Wed,Fri"``, ``"daily"`` or a list.

    Ranges may wrap (``"Fri-Mon"`` is Fri, Sat, Sun, Mon); names are English, three letters or
    whole, any case; numbers are Mon=0.

    Raises
    ------
    ParameterError
        A name that is not a weekday.
    """
    if not isinstance(text, str):
        out: set[int] = set()
        for item in text:
            out.update(parse_days(str(item)))
        return tuple(sorted(out))
    t = text.strip().lower()
    if t in ("daily", "every day", "all", "*"):
        return tuple(range(7))
    out = set()
    for part in re.split(r"[;,/\s]+", t):
        if not part:
            continue
        ends = part.split("-")
        if len(ends) > 2:
            msg = f"{part!r} is not a weekday or a range of weekdays (e.g. Mon-Fri)."
            raise ParameterError(msg)
        a = _weekday(ends[0])
        b = _weekday(ends[-1])
        k = a
        out.add(k)
        while k != b:
            k = (k + 1) % 7
            out.add(k)
    if not out:
        msg = f"no weekdays in {text!r} (write e.g. Mon-Fri, Fri;Sat or daily)."
        raise ParameterError(msg)
    return tuple(sorted(out))


def _weekday(name: str) -> int:
    n = name.strip().lower()
    if n.isdigit() and int(n) < 7:
        return int(n)
    for i, w in enumerate(WEEKDAYS):
        if n[:3] == w.lower() and (
            len(n) == 3 or dt.date(2024, 1, 1 + i).strftime("%A").lower() == n
        ):
            return i
    msg = f"{name!r} is not a weekday (Mon, Tue, ... Sun, or 0-6 with Mon=0)."
    raise ParameterError(msg)


def _clock(text: Any, what: str) -> dt.time:
    t = str(text).strip()
    m = re.fullmatch(r"(\d{1,2}):?(\d{2})", t)
    if not m or int(m.group(1)) > 24 or int(m.group(2)) > 59:
        msg = f"{what} must be a clock time HH:MM, got {t!r}."
        raise ParameterError(msg)
    h, mi = int(m.group(1)), int(m.group(2))
    return dt.time(0, mi) if h == 24 else dt.time(h, mi)


def _shift(days: Any, start: Any, end: Any) -> Shift:
    return Shift(parse_days(days), _clock(start, "a shift's start"), _clock(end, "a shift's end"))


@dataclass(frozen=True)
class TimeZoneChoice:
    """The time zone of the shifts chosen from the incidents (:func:`time_zone_of`).

    Attributes
    ----------
    zone : str
        IANA name (``America/Chicago``; ``Etc/GMT+2`` for a centre at sea).
    lon, lat : float or None
        The incidents' centre it was looked up at; None when there were no incidents.
    how : str
        ``"location"`` (looked up at the centre) or ``"default"``
        (:data:`hotspots.constants.TIME_ZONE`, with :attr:`reason`).
    reason : str
        Why the default was used; empty for a zone looked up.
    of : str
        Whose location it is, for the note (``"the incidents'"``, ``"the patrol areas'"``).
    """

    zone: str
    lon: float | None = None
    lat: float | None = None
    how: str = "default"
    reason: str = ""
    of: str = "the incidents'"

    @property
    def note(self) -> str:
        """The choice in words, for the page, the command line and the exports."""
        if self.how == "location":
            return (
                f"Time zone from {self.of} location: {self.zone} (their centre, "
                f"{self.lon:.4f}, {self.lat:.4f})."
            )
        return f"Time zone {self.zone}, the default: {self.reason}."

    @property
    def record(self) -> dict[str, Any]:
        """What a team plan records (``params["time_zone_from"]``)."""
        if self.how == "location":
            return {
                "how": f"{self.of} location",
                "lon": round(float(self.lon or 0.0), 6),
                "lat": round(float(self.lat or 0.0), 6),
                "zone": self.zone,
            }
        return {"how": "the default", "reason": self.reason, "zone": self.zone}


def time_zone_of(incidents: Any) -> TimeZoneChoice:
    """The time zone where the incidents are: the zone at their centre.

    The centre is the median of the incidents' coordinates in their metric analysis CRS, taken
    back to longitude/latitude (one point on land among them, never a mean pulled out to sea by
    outliers, and continuous across the antimeridian); the zone there is looked up offline in
    the time zone boundaries ``tzfpy`` ships (timezone-boundary-builder's, from OpenStreetMap).
    Data spread over several zones (a whole country) get the zone of their centre: the caller
    says it, so teams elsewhere can give theirs.

    Parameters
    ----------
    incidents : Incidents
        With ``x``, ``y`` in ``incidents.crs``.

    Returns
    -------
    TimeZoneChoice
        :data:`hotspots.constants.TIME_ZONE` with the reason when there are no incidents or no
        zone is found there.
    """
    from hotspots.crs import to_wgs84

    xy = incidents.xy
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return TimeZoneChoice(TIME_ZONE, reason="no incidents to place")
    x, y = np.median(xy[ok], axis=0)
    lon, lat = (float(v[0]) for v in to_wgs84(np.array([x]), np.array([y]), incidents.crs))
    return _zone_at(lon, lat)


def time_zone_of_areas(areas: Any) -> TimeZoneChoice:
    """The time zone where a plan's patrol areas are: the zone at their centre.

    What :func:`hotspots.tracking.write_tracking_outputs` and
    :func:`hotspots.assess.assess_plan_folder` read log and plan clock times in when no zone is
    given: a plan folder's ``patrol_plan.csv`` writes local clock times without their zone.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        The patrol areas (:func:`hotspots.tracking.read_patrol_areas`), any CRS.

    Returns
    -------
    TimeZoneChoice
        The zone at the median of the areas' representative points (longitude, latitude);
        :data:`hotspots.constants.TIME_ZONE` with the reason when there are no areas.
    """
    geoms = areas.geometry
    if areas.crs is not None and not areas.crs.equals("EPSG:4326"):
        geoms = geoms.to_crs(4326)
    points = shapely.get_coordinates(geoms[~geoms.is_empty].representative_point())
    if not len(points):
        return TimeZoneChoice(TIME_ZONE, reason="no patrol areas to place", of="the patrol areas'")
    lon, lat = np.median(points, axis=0)
    return dataclasses.replace(_zone_at(float(lon), float(lat)), of="the patrol areas'")


def _zone_said(rec: Mapping[str, Any]) -> str:
    """A team plan's ``params["time_zone_from"]`` in words."""
    if rec["how"] == "given":
        return (
            f"Time zone {rec['zone']} as given (the incidents' location suggested "
            f"{rec['suggested']})."
        )
    if rec["how"] == "the default":
        return f"Time zone {rec['zone']}, the default: {rec['reason']}."
    return TimeZoneChoice(rec["zone"], rec["lon"], rec["lat"], how="location").note


def _zone_at(lon: float, lat: float) -> TimeZoneChoice:
    try:
        import tzfpy
    except ImportError:  # a dependency: only a broken install lacks it
        return TimeZoneChoice(TIME_ZONE, lon, lat, reason="tzfpy is not installed")
    zone = tzfpy.get_tz(lon, lat) if math.isfinite(lon) and math.isfinite(lat) else ""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):  # none there, or not in this tz database
        return TimeZoneChoice(TIME_ZONE, lon, lat, reason=f"no time zone found at {lon}, {lat}")
    return TimeZoneChoice(zone, lon, lat, how="location")


def read_teams(source: str | Path | bytes, *, name: str | None = None) -> tuple[Team, ...]:
    """Teams and their shifts from a CSV or JSON file (a path, or the file's bytes).

    Parameters
    ----------
    source : str, Path or bytes
    name : str, optional
        The file's name for messages (and to tell CSV from JSON when ``source`` is bytes).

    Returns
    -------
    tuple of Team

    Notes
    -----
    **CSV**: one row per shift, header ``team,officers,days,start,end``: ``days`` as
    ``Mon-Fri``, ``Fri;Sat`` or ``daily`` (the days a shift *starts*), ``start`` and ``end`` as
    ``HH:MM`` local time (an end at or before the start is the next morning). Rows of one team
    repeat its name; ``officers`` may be left blank after its first row (default 2)::

        team,officers,days,start,end
        Alpha,2,Fri-Sat,18:00,02:00
        Alpha,2,Sun,14:00,22:00
        Bravo,3,Mon-Thu,16:00,00:00

    **JSON**: ``{"teams": [{"name": "Alpha", "officers": 2, "shifts": [{"days": "Fri-Sat",
    "start": "18:00", "end": "02:00"}]}]}`` (or the list alone).

    Raises
    ------
    InputError
        The file cannot be read, or a row is wrong (its line and column are named).
    """
    label = name or (str(source) if not isinstance(source, bytes) else "teams")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            msg = f"The teams file cannot be read ({type(exc).__name__})."
            raise InputError(msg, file=label) from exc
    head = data[:4096].decode("utf-8-sig", errors="replace")
    if label.lower().endswith(".json") or head.lstrip().startswith(("{", "[")):
        return _teams_from_json(data.decode("utf-8-sig", errors="replace"), label)
    from hotspots.ingest import read_text

    # decoded and its delimiter found as incident files are (UTF-16, cp1252, ";" or tabs)
    text, _encoding, delimiter = read_text(data, name=label)
    return _teams_from_csv(text, label, delimiter)


def _teams_from_json(text: str, label: str) -> tuple[Team, ...]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        msg = f"The teams file is not valid JSON ({exc})."
        raise InputError(msg, file=label) from exc
    items = doc.get("teams", []) if isinstance(doc, dict) else doc
    if not isinstance(items, list) or not items:
        msg = "The teams file lists no teams."
        raise InputError(msg, file=label, hint='write {"teams": [{"name": ..., "shifts": [...]}]}')
    teams = []
    for k, item in enumerate(items, start=1):
        try:
            shifts = tuple(_shift(s["days"], s["start"], s["end"]) for s in item["shifts"])
            teams.append(
                Team(str(item["name"]), int(item.get("officers", OFFICERS_PER_PATROL)), shifts)
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"Team {k} of the teams file is incomplete or wrong ({exc})."
            raise InputError(
                msg,
                file=label,
                row=k,
                hint="each team needs a name and shifts with days, start, end",
            ) from exc
    return _check_teams(teams)


def _teams_from_csv(text: str, label: str, delimiter: str = ",") -> tuple[Team, ...]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [c for c in ("team", "days", "start", "end") if c not in fields]
    if missing:
        msg = f"The teams file lacks the column(s) {', '.join(missing)}."
        raise InputError(msg, file=label, row=1, hint="header: team,officers,days,start,end")
    order: list[str] = []
    officers: dict[str, int] = {}
    shifts: dict[str, list[Shift]] = {}
    for line, raw in enumerate(reader, start=2):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        team = row["team"]
        for col in ("team", "days", "start", "end"):
            if not row.get(col):
                msg = f"The {col} is blank."
                raise InputError(msg, file=label, row=line, column=col)
        try:
            sh = _shift(row["days"], row["start"], row["end"])
        except ParameterError as exc:
            raise InputError(str(exc), file=label, row=line) from exc
        if row.get("officers"):
            try:
                officers[team] = int(row["officers"])
            except ValueError as exc:
                msg = f"officers must be a whole number, got {row['officers']!r}."
                raise InputError(msg, file=label, row=line, column="officers") from exc
        if team not in shifts:
            order.append(team)
            shifts[team] = []
        shifts[team].append(sh)
    if not order:
        msg = "The teams file lists no shifts."
        raise InputError(msg, file=label, hint="one row per shift: team,officers,days,start,end")
    return _check_teams(
        [Team(t, officers.get(t, OFFICERS_PER_PATROL), tuple(shifts[t])) for t in order]
    )


def _check_teams(teams: Sequence[Team]) -> tuple[Team, ...]:
    names = [t.name for t in teams]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        msg = f"team names must differ; {', '.join(dup)} is given more than once."
        raise ParameterError(msg)
    for t in teams:
        if not t.name.strip():
            msg = "every team needs a name."
            raise ParameterError(msg)
        if int(t.officers) < 1:
            msg = f"team {t.name}: officers must be at least 1, got {t.officers}."
            raise ParameterError(msg)
        if not t.shifts:
            msg = f"team {t.name} has no shifts."
            raise ParameterError(msg)
    return tuple(teams)


# --------------------------------------------------------------------------------------------
# Places, distances, blocks


def _centres(areas: pd.DataFrame) -> np.ndarray:
    """Area centres in metres: ``centre_x``/``centre_y`` (analysis CRS), else the geometry's."""
    if {"centre_x", "centre_y"} <= set(areas.columns):
        return areas[["centre_x", "centre_y"]].to_numpy(dtype=float)
    geom = getattr(areas, "geometry", None)
    if geom is None:
        msg = (
            "patrol areas need centre_x and centre_y (metres) or a geometry (use "
            "make_patrol_areas)."
        )
        raise ParameterError(msg)
    if geom.crs is not None and geom.crs.is_geographic:
        geom = geom.to_crs(geom.estimate_utm_crs())
    c = geom.representative_point()
    return np.column_stack([c.x.to_numpy(), c.y.to_numpy()])


def travel_matrix(
    areas: pd.DataFrame,
    *,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    detour: float = STREET_DETOUR,
) -> pd.DataFrame:
    """Walking minutes between area centres: straight line x detour at a walking speed.

    Parameters
    ----------
    areas : pandas.DataFrame or GeoDataFrame
        Patrol areas with ``patrol_area_id`` and ``centre_x``, ``centre_y`` (metres) or polygons.
    walking_speed_kmh : float, default 4.8
        Walking speed, km/h (Manual for Streets' 800 m in 10 minutes; see
        :data:`hotspots.constants.WALKING_SPEED_KMH`).
    detour : float, default 4/pi
        Street distance over straight-line distance (:data:`hotspots.constants.STREET_DETOUR`).

    Returns
    -------
    pandas.DataFrame
        Square, indexed and labelled by ``patrol_area_id``, minutes rounded up to whole minutes
        (never under-counted).
    """
    if not walking_speed_kmh > 0:
        msg = f"walking_speed_kmh must be positive, got {walking_speed_kmh!r}."
        raise ParameterError(msg)
    if not detour >= 1:
        msg = (
            f"detour must be at least 1 (streets are never shorter than the line), got {detour!r}."
        )
        raise ParameterError(msg)
    xy = _centres(areas)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    minutes = np.ceil(d * detour / (walking_speed_kmh * 1000.0 / 60.0) - 1e-9)
    ids = areas["patrol_area_id"].astype(str).to_numpy()
    return pd.DataFrame(minutes, index=ids, columns=ids)


def control_blocks(
    areas: pd.DataFrame, *, separation_m: float | None = None
) -> tuple[pd.Series, float]:
    """Blocks of patrol areas randomised together: one hot spot's areas, or areas too close.

    Parameters
    ----------
    areas : pandas.DataFrame or GeoDataFrame
        ``patrol_area_id``, ``hotspot_id`` (optional), centres or polygons, ``radius_m``
        (optional, default 75 m).
    separation_m : float, optional
        Centres closer than this are one block. Default: the area's diameter plus
        :data:`hotspots.constants.CONTROL_SEPARATION_BUFFER_M` (100 m), so that no control's
        edge lies within 100 m of a patrolled area's edge, the buffer in which the UK trials
        counted displacement and diffusion (Basford2021, Bland2021).

    Returns
    -------
    (pandas.Series, float)
        Block number (1, 2, ... in order of each block's first area) indexed by
        ``patrol_area_id``, and the separation used, metres.
    """
    ids = areas["patrol_area_id"].astype(str).to_numpy()
    if separation_m is None:
        radius = (
            float(pd.to_numeric(areas["radius_m"], errors="coerce").max())
            if "radius_m" in areas.columns and len(areas)
            else MICRO_PLACE_RADIUS_M
        )
        if not math.isfinite(radius):
            radius = MICRO_PLACE_RADIUS_M
        separation_m = 2 * radius + CONTROL_SEPARATION_BUFFER_M
    if separation_m < 0:
        msg = f"separation_m must be >= 0, got {separation_m!r}."
        raise ParameterError(msg)
    n = len(ids)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    if "hotspot_id" in areas.columns:
        first: dict[str, int] = {}
        for i, h in enumerate(areas["hotspot_id"].astype(str)):
            if h and h != "nan":
                union(i, first.setdefault(h, i))
    if n > 1 and separation_m > 0:
        xy = _centres(areas)
        d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
        for i, j in zip(*np.nonzero(np.triu(d < separation_m, k=1)), strict=True):
            union(int(i), int(j))
    roots = [find(i) for i in range(n)]
    number: dict[int, int] = {}
    for r in roots:
        number.setdefault(r, len(number) + 1)
    return pd.Series([number[r] for r in roots], index=ids, name="block"), float(separation_m)


# --------------------------------------------------------------------------------------------
# Doses


@dataclass(frozen=True)
class VisitDose:
    """How many visits one area gets on each of its patrol days, and how far apart.

    Attributes
    ----------
    visits : int
        Visits on each of its peak days (at least 1).
    days : tuple of int
        The peak days (Mon=0, read as plan days); all seven when the dose has no particular days.
    other_days : int, default 0
        Visits on its other days (0 or 1: one keeps the gap rule between peak days). With 0 the
        area is patrolled on its peak days only.
    revisit_minutes : float, optional
        Least time from the start of one visit of the area to the start of the next on one plan
        day. None: the window's length divided by the day's visits, and at least
        :data:`SPACING_VISITS` visit lengths (a heuristic of this product).
    window : PatrolWindow, optional
        The hours to patrol in; default the area's own (:func:`hotspots.tactics.patrol_window`).
    """

    visits: int
    days: tuple[int, ...] = tuple(range(7))
    other_days: int = 0
    revisit_minutes: float | None = None
    window: PatrolWindow | None = None

    def __post_init__(self) -> None:
        checks = [
            (int(self.visits) >= 1, f"visits must be at least 1, got {self.visits!r}."),
            (int(self.other_days) >= 0, f"other_days must be >= 0, got {self.other_days!r}."),
            (
                self.revisit_minutes is None or self.revisit_minutes > 0,
                f"revisit_minutes must be positive, got {self.revisit_minutes!r}.",
            ),
            (
                all(0 <= int(d) <= 6 for d in self.days),
                f"days must be weekdays 0-6 (Mon=0), got {self.days!r}.",
            ),
        ]
        for ok, msg in checks:
            if not ok:
                msg = f"a visit dose: {msg}"
                raise ParameterError(msg)

    @classmethod
    def from_dose(cls, dose: Dose, visits: int | None = None) -> VisitDose:
        """A recommendation's dose (:class:`hotspots.tactics.Dose`) as visits to route.

        Parameters
        ----------
        dose : hotspots.tactics.Dose
        visits : int, optional
            Visits on a peak day, e.g. as a patrol plan cut them to its window and capacity
            (``PatrolPlan.areas["visits_per_peak_day"]``); default the dose's ``visits_per_day``
            (1 when it gives none).
        """
        per_day = visits if visits is not None else (dose.visits_per_day or 1)
        revisit = None if dose.revisit_hours is None else float(dose.revisit_hours) * 60.0
        return cls(
            int(per_day), tuple(dose.days) or tuple(range(7)), int(dose.other_days_visits),
            revisit, dose.window,
        )  # fmt: skip

    def visits_on(self, weekday: int) -> int:
        """Visits on a plan day of this weekday (Mon=0)."""
        return int(self.visits) if weekday in self.days else int(self.other_days)

    def spacing(self, window_minutes: float, visits: int, visit_minutes: int) -> int:
        """Least minutes from the start of one visit to the start of the next, on a day of
        ``visits`` visits in a window of ``window_minutes`` (0 for one visit)."""
        if visits <= 1:
            return 0
        if self.revisit_minutes is not None:
            return int(math.ceil(self.revisit_minutes - 1e-9))
        even = int(window_minutes // visits) // _TIME_GRID * _TIME_GRID
        return max(even, SPACING_VISITS * int(visit_minutes))

    def describe(self, visit_minutes: int) -> dict[str, Any]:
        """For the plan's parameters: the visits, days, spacing and its rule."""
        rule = (
            "the dose's revisit interval"
            if self.revisit_minutes is not None
            else f"window / visits, at least {SPACING_VISITS} x {visit_minutes} min (heuristic "
            "of this product: never back to back)"
        )
        return {
            "peak_days": format_days(self.days),
            "visits_on_peak_days": int(self.visits),
            "visits_on_other_days": int(self.other_days),
            "revisit_minutes": self.revisit_minutes,
            "spacing_rule": rule,
            "window": self.window.label if self.window is not None else None,
        }


# --------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True, eq=False)
class TeamPlan:
    """Routes for teams and shifts, with crossover controls and the dose rules' shortfalls.

    Attributes
    ----------
    visits : pandas.DataFrame
        One row per routed visit (``arm == "patrol"``) and one per control area-day
        (``arm == "control"``, no team, no times), sorted by date, team, shift and order.
        Columns: ``date`` (the plan day, 06:00-05:59), ``weekday``, ``team``, ``shift``
        (its label), ``shift_start``, ``shift_end``, ``order`` (1.. within the shift),
        ``patrol_area_id``, ``hotspot_id``, ``block``, ``arm``, ``assignment`` (``"random"``,
        or ``"forced"`` when the gap rule made it a patrol day without a draw), ``forced``
        (bool, the same), ``start``, ``end`` (time-zone aware, the plan's zone), ``minutes``,
        ``travel_minutes`` (walking from the previous visit of the shift; 0 for the first),
        ``officers``, ``window`` (label), ``window_start``, ``window_end`` (today's window),
        ``location``, ``lat``, ``lon``, ``visit`` and ``visits_in_day`` (the visit's number
        within its area's day and the visits its dose asks for that day: 1 and 1 without a dose;
        0 and 0 for a control). :func:`hotspots.assess.assess_operation` reads it as a
        plan (``date``, ``patrol_area_id``, ``arm``, ``assignment``, ``minutes``).
    areas : pandas.DataFrame
        One row per area: ``patrol_area_id``, ``hotspot_id``, ``block``, ``window``,
        ``window_basis``, ``eligible_days`` (plan days its window meets a shift),
        ``visits_per_day`` (``"1"``, or the dose, e.g. ``"3 on Fri-Sat, 1 on other days"``),
        ``patrol_days``, ``control_days``, ``forced_days``, ``unrouted_days`` (patrol days no
        shift could fit any visit), ``visits`` (routed), ``unrouted_visits``,
        ``max_gap_days`` (longest wait between visits, counted from the day before the plan),
        ``gap_kept`` and ``shortfall`` (the dose rules not kept, in words; ``""`` when all were
        kept).
    shortfall : pandas.DataFrame
        One row per visit drawn for patrol that no shift (or, for a dose, the window at its
        spacing) could fit: ``date``, ``patrol_area_id``, ``block``, ``assignment``,
        ``reason``, ``visit`` (its number within the area's day), ``visits_in_day``.
    shifts : pandas.DataFrame
        One row per team-shift: ``team``, ``date``, ``shift``, ``shift_start``, ``shift_end``,
        ``visits``, ``patrol_minutes``, ``travel_minutes``.
    teams : tuple of Team
    choices : hotspots.record.Choices
        Every parameter (seed, time zone, speeds, separation, solver settings and status) and
        the notes.
    summary : mapping
        Counts: areas, blocks, patrol visits, control and forced area-days, area-days no shift
        could fit, areas that kept the gap rule; and the notes.
    """

    visits: pd.DataFrame
    areas: pd.DataFrame
    shortfall: pd.DataFrame
    shifts: pd.DataFrame
    teams: tuple[Team, ...]
    choices: Choices
    summary: Mapping[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters (read-only), as :func:`hotspots.assess.assess_operation` reads them."""
        return self.choices.params

    @property
    def notes(self) -> tuple[str, ...]:
        """The choices and shortfalls as sentences."""
        return tuple(self.choices.notes)

    @property
    def plan_id(self) -> str:
        """A short stable id from the parameters (seed included), used in calendar UIDs."""
        blob = json.dumps(to_jsonable(dict(self.params)), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def route(self, team: str, date: Any | None = None) -> pd.DataFrame:
        """The visits of one team (on one plan day when ``date`` is given), in route order."""
        v = self.visits[(self.visits["team"] == team) & (self.visits["arm"] == "patrol")]
        if date is not None:
            v = v[v["date"] == pd.Timestamp(date)]
        return v.reset_index(drop=True)

    def to_csv(self, path: str | Path | None = None) -> str:
        """The visits and controls as spreadsheet-safe CSV
        (:func:`hotspots.export.team_plan_to_csv`)."""
        return team_plan_to_csv(self, path)

    def to_ical(self, team: str, path: str | Path | None = None) -> str:
        """One team's calendar: RFC 5545 with a VTIMEZONE
        (:func:`hotspots.export.team_plan_to_ical`)."""
        return team_plan_to_ical(self, team, path)


@dataclass(frozen=True)
class _Vehicle:
    """One team's shift on one plan day, minutes from the plan day's start (06:00 local)."""

    team: int
    shift: Shift
    start: dt.datetime
    end: dt.datetime
    lo: int
    hi: int


@dataclass(frozen=True)
class _Setting:
    zone: ZoneInfo
    day_start_h: int
    visit_minutes: int
    max_gap_days: int
    time_limit_s: float
    rng: np.random.Generator | None = None


def make_team_plan(
    areas: pd.DataFrame,
    teams: Sequence[Team],
    *,
    start_date: dt.date | str | None = None,
    days: int = PLAN_DAYS,
    time_zone: str = TIME_ZONE,
    walking_speed_kmh: float = WALKING_SPEED_KMH,
    travel_minutes: pd.DataFrame | Callable[[str, str], float] | None = None,
    visit_minutes: int = VISIT_MINUTES,
    max_gap_days: int = MAX_GAP_DAYS,
    control_share: float = CONTROL_SHARE,
    separation_m: float | None = None,
    use_peak_days: bool = True,
    vary_times: bool = True,
    seed: int | None = None,
    time_limit_s: float = ROUTING_TIME_LIMIT_S,
    created: dt.datetime | None = None,
    kb: KnowledgeBase | None = None,
    doses: Mapping[str, VisitDose] | None = None,
    time_zone_from: TimeZoneChoice | None = None,
) -> TeamPlan:
    """Routes for every team and shift over ``days`` plan days, with block-randomised controls.

    Parameters
    ----------
    areas : pandas.DataFrame or GeoDataFrame
        Patrol areas from :func:`hotspots.patrol.make_patrol_areas` (``patrol_area_id``; uses
        ``rank``, ``hotspot_id``, centres, ``radius_m``, ``location``, ``centre_lat``,
        ``centre_lon`` and the peak columns ``has_time``, ``peak_start_hour``,
        ``peak_end_hour``, ``peak_days`` when present). Give only the areas to plan (e.g. a
        plan's ``areas[areas.in_plan]``); ``rank`` decides which visits a full day keeps.
    teams : sequence of Team
        From :func:`read_teams` or built directly. One team's shifts must not overlap.
    start_date : date or "YYYY-MM-DD", optional
        First plan day; default tomorrow.
    days : int, default 28
        Plan days; each runs 06:00-05:59 local time (ThamesValleyRCT).
    time_zone : str, default "Europe/London"
        IANA time zone of the shifts and windows; times are planned in real (elapsed) minutes,
        so a night across a clock change is an hour longer or shorter.
    walking_speed_kmh : float, default 4.8
        Walking speed between areas (:data:`hotspots.constants.WALKING_SPEED_KMH`), with the
        street detour :data:`hotspots.constants.STREET_DETOUR`.
    travel_minutes : DataFrame or callable, optional
        Instead of the walking rule: a square table of minutes indexed and labelled by
        ``patrol_area_id``, or ``f(from_id, to_id) -> minutes``. Rounded up to whole minutes.
    visit_minutes : int, default 15
        Minutes on foot inside the area per visit (Koper1995); below 10 is refused.
    max_gap_days : int, default 3
        Most plan days from one visit of an area to the next (Barnes2020, Bland2021).
    control_share : float, default 0.0
        Share of the day's patrollable blocks held back as same-day controls (ThamesValleyRCT:
        0.5). At most ``(max_gap_days - 1) / max_gap_days``.
    separation_m : float, optional
        Areas whose centres are closer are one block (see :func:`control_blocks`).
    use_peak_days : bool, default True
        Visit only on each area's peak days; False visits on any day (its hours still kept).
    vary_times : bool, default True
        Draw each visit's start at random (seeded, 5-minute grid) within what its route allows,
        so times change from day to day (Basford2021 varied patrol times; a fixed timetable is
        easy to wait out); False starts every visit at the earliest time its route allows.
    seed : int, optional
        For ``numpy.random.default_rng`` (the block draws); drawn and recorded when not given.
    time_limit_s : float, default 30
        Safety limit on one day's route search (:data:`hotspots.constants.ROUTING_TIME_LIMIT_S`).
    created : datetime, optional
        Creation time recorded as ``params["created_utc"]`` (default now).
    kb : KnowledgeBase, optional
    doses : mapping, optional
        ``patrol_area_id`` -> :class:`VisitDose`: the recommended dose of each area, routed as
        that many visits on each of its patrol days (see *Doses*), recorded as
        ``params["visits_per_day"] = "recommended"`` and ``params["doses"]``. Default (and for
        areas not in it): one visit on each patrol day (``params["visits_per_day"] = 1``).
    time_zone_from : TimeZoneChoice, optional
        How the zone was chosen (:func:`time_zone_of`), recorded as
        ``params["time_zone_from"]`` and said in the notes: its record when ``time_zone`` is its
        zone, else ``time_zone`` as given with the zone the incidents' location suggested.

    Returns
    -------
    TeamPlan

    Raises
    ------
    ParameterError
        A setting out of range, an unknown time zone, overlapping shifts of one team, or no
        areas.

    Notes
    -----
    **Windows.** An area's window is its own peak (:func:`hotspots.tactics.patrol_window`), or
    the general window with its caveat when the data have no times of day. Peak days are read
    as plan days: ``"Fri-Sat 22:00-03:00"`` is Friday night and Saturday night; a window that
    starts before 06:00 belongs to the plan day before. A visit starts and ends inside the
    window and inside its team's shift.

    **Routing.** Each plan day is one vehicle routing problem with time windows
    (OR-Tools): vehicles are the team-shifts that start on that plan day, nodes the visits.
    A visit takes ``visit_minutes`` and the walk to the next takes the travel time; a team
    may wait. The first visit of a shift has no walk before it (the plan does not know where a
    team parks). The objective is the least walking, with a penalty for leaving a visit out far
    above any walking (higher for visits the gap rule forces, then by rank), so visits are left
    out only when no shift can fit them. The search starts with the cheapest-arc path and
    improves it by greedy descent to a local optimum, which is reproducible; the time limit only
    stops a long search, and the plan says when it did. Start times are then drawn (or the
    earliest taken, ``vary_times=False``) between the earliest and latest starts that keep
    every visit of the route inside its window and the shift.

    **Crossover.** Each plan day, ``round(control_share * blocks)`` of the blocks that can be
    patrolled that day are drawn as controls, except blocks holding an area whose next chance
    of a visit would come too late for the gap rule (or, where its peak days already broke the
    rule, that was held back on ``max_gap_days - 1`` patrollable days in a row): those are
    patrolled and marked ``"forced"`` (they are not randomised, so the effect estimate leaves
    them out). Area-days
    no shift can serve (not a peak day, no shift in the window) carry no row: they are neither
    patrol nor control. An area drawn for patrol that no shift could fit is left out of the
    visits (so the effect estimate never counts it) and listed in :attr:`TeamPlan.shortfall`.

    **Doses.** An area with a :class:`VisitDose` is patrolled on its peak days (and on every
    other day when the dose asks for visits there), inside the dose's window; on a patrol day it
    gets ``visits`` visits on its peak days and ``other_days`` elsewhere: one node per visit in
    the day's routing problem, each inside the area's window that day, visit ``j + 1`` starting
    at least the dose's spacing after visit ``j`` (:meth:`VisitDose.spacing`: its revisit
    interval, else the window's length over the day's visits and never under
    :data:`SPACING_VISITS` visit lengths, a heuristic of this product), by one team or several
    (OR-Tools node precedences on the time dimension, binding between the visits made).
    The day's first visit of every area comes before any second visit in the penalty for leaving
    one out (only the first carries the gap rule's double penalty), so a full day drops second
    and later visits first. The visits no shift can fit, and those the window cannot hold at
    that spacing, are rows of :attr:`TeamPlan.shortfall` with their number (``visit`` of
    ``visits_in_day``). Every routed visit carries its number within the area's day.
    """
    kb = kb or load_knowledge_base()
    teams = _check_teams(list(teams))
    setting = _check_settings(
        days, time_zone, visit_minutes, max_gap_days, control_share, time_limit_s, kb
    )
    if "patrol_area_id" not in areas.columns:
        msg = "patrol areas lack the column 'patrol_area_id' (use make_patrol_areas)."
        raise ParameterError(msg)
    if len(areas) == 0:
        msg = "there are no patrol areas to task."
        raise ParameterError(msg)
    table = areas.sort_values("rank", kind="stable") if "rank" in areas.columns else areas
    table = table.reset_index(drop=True)
    ids = table["patrol_area_id"].astype(str).tolist()
    travel = _travel(table, travel_minutes, walking_speed_kmh)
    blocks, sep = control_blocks(table, separation_m=separation_m)
    area_doses = [(doses or {}).get(pid) for pid in ids]
    windows = [
        _window(row, kb, use_peak_days, dose)
        for (_, row), dose in zip(table.iterrows(), area_doses, strict=True)
    ]
    start = plan_start_date(start_date)
    if seed is None:
        seed = secrets.randbits(32)
    seed = int(seed)
    rng = np.random.default_rng(seed)
    if vary_times:  # its own stream, so the block draws do not depend on it
        setting = dataclasses.replace(setting, rng=np.random.default_rng([seed, 1]))
    created = created or dt.datetime.now(dt.UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)

    vehicles = _vehicles(teams, start, days, setting)
    occ = [
        [_occurrence(w, start + dt.timedelta(days=d), setting) for w in windows]
        for d in range(days)
    ]
    eligible = np.array(
        [[_fits(o, vehicles[d], setting.visit_minutes) for o in occ[d]] for d in range(days)],
        dtype=bool,
    ).reshape(days, len(ids))
    state = _Run(
        ids=ids,
        table=table,
        blocks=blocks.to_numpy(),
        eligible=eligible,
        last=np.full(len(ids), -1),
        rng=rng,
        visit=setting.visit_minutes,
        held=np.zeros(len(ids), dtype=int),
        doses=area_doses,
    )
    statuses: list[str] = []
    for d in range(days):
        day = start + dt.timedelta(days=d)
        drawn = state.draw(d, control_share, setting.max_gap_days)
        wanted = state.day_visits(drawn[0], day, occ[d])
        top = max((w.routable for w in wanted.values()), default=0)
        nodes = [(i, j) for j in range(1, top + 1) for i in drawn[0] if j <= wanted[i].routable]
        spacing = {i: w.spacing for i, w in wanted.items()}
        routed, status = _route_day(
            day, nodes, drawn[1], occ[d], vehicles[d], travel, setting, spacing
        )
        statuses.append(status)
        reason = _NO_ROOM if status in _SOLVED else f"the route search failed ({status})"
        state.record(d, day, routed, drawn, occ[d], teams, windows, reason, wanted)
    extra: dict[str, Any] = {
        "walking_speed_kmh": float(walking_speed_kmh),
        "street_detour": float(STREET_DETOUR),
        "travel_rule": "table" if travel_minutes is not None else "walking",
        "control_share": float(control_share),
        "use_peak_days": bool(use_peak_days),
        "start_times": "drawn within the route's slack, 5-minute grid"
        if vary_times
        else "earliest the route allows",
    }
    if time_zone_from is not None:
        extra["time_zone_from"] = (
            time_zone_from.record
            if time_zone_from.zone == setting.zone.key
            else {"how": "given", "zone": setting.zone.key, "suggested": time_zone_from.zone}
        )
    if doses:
        extra["visits_per_day"] = "recommended"
        extra["doses"] = {
            pid: d.describe(setting.visit_minutes)
            for pid, d in zip(ids, area_doses, strict=True)
            if d is not None
        }
    return _assemble(
        state, teams, windows, vehicles, sep, statuses, start, days, seed, created, setting, kb,
        extra,
    )  # fmt: skip


def _check_settings(
    days: Any,
    time_zone: str,
    visit_minutes: Any,
    max_gap_days: Any,
    control_share: Any,
    time_limit_s: Any,
    kb: KnowledgeBase,
) -> _Setting:
    checks = [
        (
            isinstance(days, int | np.integer) and days >= 1,
            f"days must be a whole number >= 1, got {days!r}.",
        ),
        (
            MIN_VISIT_MINUTES <= visit_minutes <= MAX_VISIT_MINUTES,
            f"visit_minutes must be {MIN_VISIT_MINUTES}-{MAX_VISIT_MINUTES} (visits under "
            f"{MIN_VISIT_MINUTES} minutes do not count as a dose), got {visit_minutes!r}.",
        ),
        (
            isinstance(max_gap_days, int | np.integer) and max_gap_days >= 1,
            f"max_gap_days must be a whole number >= 1, got {max_gap_days!r}.",
        ),
        (0.0 <= control_share < 1.0, f"control_share must be in [0, 1), got {control_share!r}."),
        (time_limit_s > 0, f"time_limit_s must be positive, got {time_limit_s!r}."),
    ]
    for ok, msg in checks:
        if not ok:
            raise ParameterError(msg)
    limit = (max_gap_days - 1) / max_gap_days
    if control_share > limit + 1e-9:
        msg = (
            f"control_share {control_share:g} would leave areas without patrol for more than "
            f"max_gap_days={max_gap_days} days; at most {limit:.2f} is possible."
        )
        raise ParameterError(msg)
    try:
        zone = ZoneInfo(str(time_zone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"time_zone must be an IANA time zone such as 'Europe/London', got {time_zone!r}."
        raise ParameterError(msg) from exc
    return _Setting(
        zone=zone,
        day_start_h=int(kb.constant("plan_day_start_hour")),
        visit_minutes=int(visit_minutes),
        max_gap_days=int(max_gap_days),
        time_limit_s=float(time_limit_s),
    )


def _travel(
    table: pd.DataFrame, rule: pd.DataFrame | Callable[[str, str], float] | None, speed: float
) -> np.ndarray:
    """Whole walking minutes between the areas, in the table's order."""
    ids = table["patrol_area_id"].astype(str).tolist()
    if rule is None:
        m = travel_matrix(table, walking_speed_kmh=speed).to_numpy()
    elif isinstance(rule, pd.DataFrame):
        t = rule.copy()
        t.index = t.index.astype(str)
        t.columns = t.columns.astype(str)
        missing = sorted(set(ids) - set(t.index) | set(ids) - set(t.columns))
        if missing:
            msg = f"the travel-time table lacks the area(s) {', '.join(missing[:5])}."
            raise ParameterError(msg)
        m = t.loc[ids, ids].to_numpy(dtype=float)
    else:
        m = np.array([[float(rule(a, b)) if a != b else 0.0 for b in ids] for a in ids])
    if not np.all(np.isfinite(m)) or (m < 0).any():
        msg = "travel times must be finite and >= 0 minutes."
        raise ParameterError(msg)
    out = np.ceil(m - 1e-9).astype(np.int64)
    np.fill_diagonal(out, 0)
    return out


def _window(
    row: pd.Series, kb: KnowledgeBase, use_peak_days: bool, dose: VisitDose | None = None
) -> PatrolWindow:
    """The area's window: its own peak, or its dose's window on the dose's patrol days."""
    w = patrol_window(row, kb) if dose is None or dose.window is None else dose.window
    days = set(w.days) if use_peak_days else set(range(7))
    if dose is not None and use_peak_days:
        days = set(dose.days) | (set(range(7)) if dose.other_days else set())
    if days == set(w.days):
        return w
    label = w.label
    if dose is not None and dose.other_days and set(dose.days) != set(range(7)):
        label = (
            f"{w.label}; other days {format_window(w.start_hour, w.end_hour)} "
            f"({dose.other_days} visit)"
        )
    return PatrolWindow(w.start_hour, w.end_hour, tuple(sorted(days)), w.basis, label, w.caveat)


def _local(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    """Local clock time on ``day`` (a time the clocks skip is read with the earlier offset)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def _minutes(t: dt.datetime, origin: dt.datetime) -> float:
    """Real minutes from ``origin`` to ``t`` (through UTC: aware datetimes of one zone subtract
    by the clock)."""
    return (t.astimezone(dt.UTC) - origin.astimezone(dt.UTC)).total_seconds() / 60.0


def _origin(day: dt.date, s: _Setting) -> dt.datetime:
    return _local(day, s.day_start_h, 0, s.zone)


def _vehicles(
    teams: Sequence[Team], start: dt.date, days: int, s: _Setting
) -> list[list[_Vehicle]]:
    """Every team-shift, by the plan day it starts on; one team's shifts must not overlap."""
    out: list[list[_Vehicle]] = [[] for _ in range(days)]
    for ti, team in enumerate(teams):
        spans: list[tuple[dt.datetime, dt.datetime, Shift]] = []
        for k in range(-1, days + 1):
            cal = start + dt.timedelta(days=k)
            for sh in team.shifts:
                if cal.weekday() not in sh.days:
                    continue
                a = _local(cal, sh.start.hour, sh.start.minute, s.zone)
                end_day = cal + dt.timedelta(days=1) if sh.end <= sh.start else cal
                b = _local(end_day, sh.end.hour, sh.end.minute, s.zone)
                spans.append((a, b, sh))
                plan_day = (
                    dt.datetime.combine(cal, sh.start) - dt.timedelta(hours=s.day_start_h)
                ).date()
                d = (plan_day - start).days
                if 0 <= d < days:
                    o = _origin(plan_day, s)
                    out[d].append(
                        _Vehicle(
                            ti, sh, a, b, math.ceil(_minutes(a, o)), math.floor(_minutes(b, o))
                        )
                    )
        spans.sort(key=lambda x: x[0].astimezone(dt.UTC))
        _check_overlaps(team, spans)
    return out


def _check_overlaps(team: Team, spans: list[tuple[dt.datetime, dt.datetime, Shift]]) -> None:
    """Refuse a team whose shift occurrences overlap (it cannot be in two places at once)."""
    spans = sorted(spans, key=lambda x: x[0].astimezone(dt.UTC))
    for k, (a2, _b2, s2) in enumerate(spans):
        for _a1, b1, s1 in spans[:k]:
            if a2.astimezone(dt.UTC) < b1.astimezone(dt.UTC):
                msg = (
                    f"team {team.name}'s shifts {s1.label} and {s2.label} overlap on "
                    f"{a2:%a %Y-%m-%d}: a team cannot be in two places at once (give one of "
                    "them to another team)."
                )
                raise ParameterError(msg)


@dataclass(frozen=True)
class _Occurrence:
    """An area's window on one plan day (None when not a peak day), and in solver minutes."""

    start: dt.datetime
    end: dt.datetime
    lo: int
    hi: int


def _occurrence(w: PatrolWindow, day: dt.date, s: _Setting) -> _Occurrence | None:
    if day.weekday() not in w.days:
        return None
    o = _origin(day, s)
    if w.minutes >= 24 * 60:
        a, b = o, _origin(day + dt.timedelta(days=1), s)
    else:
        first = day if w.start_hour >= s.day_start_h else day + dt.timedelta(days=1)
        a = _local(first, w.start_hour, 0, s.zone)
        naive_end = dt.datetime.combine(first, dt.time(w.start_hour)) + dt.timedelta(
            minutes=w.minutes
        )
        b = naive_end.replace(tzinfo=s.zone)
    return _Occurrence(a, b, math.ceil(_minutes(a, o)), math.floor(_minutes(b, o)))


def _fits(o: _Occurrence | None, vehicles: Sequence[_Vehicle], visit: int) -> bool:
    if o is None:
        return False
    return any(min(o.hi, v.hi) - max(o.lo, v.lo) >= visit for v in vehicles)


@dataclass(frozen=True)
class _Stop:
    """A routed visit: its team-shift, place in the route, start and the walk before it."""

    vehicle: _Vehicle
    order: int
    start: dt.datetime
    walk: int


@dataclass(frozen=True)
class _DayDose:
    """One area's visits on one plan day: asked for, that its window holds at the spacing, and
    the least minutes between the starts of two of them."""

    planned: int
    routable: int
    spacing: int


_ONE_VISIT = _DayDose(1, 1, 0)


@dataclass
class _Run:
    """The plan as it is built day by day: last visits, rows, shortfalls."""

    ids: list[str]
    table: pd.DataFrame
    blocks: np.ndarray
    eligible: np.ndarray
    last: np.ndarray
    rng: np.random.Generator
    visit: int
    held: np.ndarray
    doses: Sequence[VisitDose | None] = ()
    rows: list[dict[str, Any]] = field(default_factory=list)
    short: list[dict[str, Any]] = field(default_factory=list)

    def day_visits(
        self, patrol: Sequence[int], day: dt.date, occ: Sequence[_Occurrence | None]
    ) -> dict[int, _DayDose]:
        """Each patrolled area's visits today (one without a dose; at least one on a patrol
        day), and how many of them its window holds at its spacing."""
        out: dict[int, _DayDose] = {}
        for i in patrol:
            dose = self.doses[i] if self.doses else None
            o = occ[i]
            if dose is None or o is None:
                out[i] = _ONE_VISIT
                continue
            planned = max(1, dose.visits_on(day.weekday()))
            span = o.hi - o.lo
            gap = dose.spacing(span, planned, self.visit)
            fit = planned if gap <= 0 else 1 + max(0, span - self.visit) // gap
            out[i] = _DayDose(planned, max(1, min(planned, fit)), gap)
        return out

    def spacing(self) -> np.ndarray:
        """Per area, the most days between patrollable days (from the day before the plan to
        the day after it): above the gap rule, no draw can keep the rule for that area."""
        n_days = self.eligible.shape[0]
        return np.array(
            [
                int(np.diff([-1, *np.flatnonzero(self.eligible[:, i]), n_days]).max())
                for i in range(len(self.ids))
            ],
            dtype=int,
        )

    def due(self, d: int, max_gap: int) -> np.ndarray:
        """Areas patrollable today that the gap rule makes patrol days.

        Where the peak days and shifts allow the rule, an area is due on its last patrollable
        day before its deadline. Where they do not (or the deadline passed for want of room in
        the shifts), the rule is kept in patrollable days: an area is due once held back on
        ``max_gap - 1`` patrollable days in a row (for an area patrollable every day, the two
        are the same rule).
        """
        n_days = self.eligible.shape[0]
        spacing = self.spacing()
        out = np.zeros(len(self.ids), dtype=bool)
        for i in np.flatnonzero(self.eligible[d]):
            deadline = int(self.last[i]) + max_gap
            if spacing[i] > max_gap or deadline < d:
                out[i] = self.held[i] >= max_gap - 1
            elif deadline < n_days:  # past the plan's end, the next plan keeps the rule
                out[i] = not self.eligible[d + 1 : deadline + 1, i].any()
        return out

    def draw(self, d: int, share: float, max_gap: int) -> tuple[list[int], set[int], list[int]]:
        """Today's patrol areas (in rank order), the forced ones among them, and the controls."""
        elig = [int(i) for i in np.flatnonzero(self.eligible[d])]
        if not elig:
            return [], set(), []
        blocks = sorted({int(self.blocks[i]) for i in elig})
        n_ctrl = int(round(share * len(blocks)))
        if n_ctrl == 0:
            return elig, set(), []
        due = self.due(d, max_gap)
        forced_blocks = {int(self.blocks[i]) for i in elig if due[i]}
        free = [b for b in blocks if b not in forced_blocks]
        order = self.rng.permutation(len(free)) if free else np.empty(0, dtype=int)
        ctrl = {free[int(k)] for k in order[: min(n_ctrl, len(free))]}
        patrol = [i for i in elig if int(self.blocks[i]) not in ctrl]
        forced = {i for i in patrol if int(self.blocks[i]) in forced_blocks}
        controls = [i for i in elig if int(self.blocks[i]) in ctrl]
        return patrol, forced, controls

    def record(
        self,
        d: int,
        day: dt.date,
        routed: Mapping[tuple[int, int], _Stop],
        drawn: tuple[Sequence[int], set[int], Sequence[int]],
        occ: Sequence[_Occurrence | None],
        teams: Sequence[Team],
        windows: Sequence[PatrolWindow],
        reason: str,
        wanted: Mapping[int, _DayDose],
    ) -> None:
        """Keep today's visits, controls and shortfalls; move the areas' last visits on."""
        patrol, forced, controls = drawn
        visited = {i for i, _ in routed}
        for i in (*patrol, *controls):  # patrollable days without a visit in a row
            self.held[i] = 0 if i in visited else self.held[i] + 1
        for i in patrol:
            assignment = "forced" if i in forced else "random"
            want = wanted.get(i, _ONE_VISIT)
            for j in range(1, want.planned + 1):
                stop = routed.get((i, j))
                if stop is None:
                    self.short.append(
                        {
                            "date": pd.Timestamp(day),
                            "patrol_area_id": self.ids[i],
                            "block": int(self.blocks[i]),
                            "assignment": assignment,
                            "reason": reason if j <= want.routable else _no_window(want),
                            "visit": j,
                            "visits_in_day": want.planned,
                        }
                    )
                    continue
                v = stop.vehicle
                self.rows.append(
                    self._base(i, day, occ[i], windows[i])
                    | {
                        "team": teams[v.team].name,
                        "shift": v.shift.label,
                        "shift_start": v.start,
                        "shift_end": v.end,
                        "order": stop.order,
                        "arm": "patrol",
                        "assignment": assignment,
                        "forced": i in forced,
                        "start": stop.start,
                        # in real minutes (through UTC): a visit in the hour the clocks repeat
                        "end": (
                            stop.start.astimezone(dt.UTC) + dt.timedelta(minutes=self.visit)
                        ).astimezone(stop.start.tzinfo),
                        "minutes": self.visit,
                        "travel_minutes": stop.walk,
                        "officers": int(teams[v.team].officers),
                        "visit": j,
                        "visits_in_day": want.planned,
                    }
                )
                self.last[i] = d
        for i in controls:
            self.rows.append(
                self._base(i, day, occ[i], windows[i])
                | {
                    "team": "",
                    "shift": "",
                    "shift_start": None,
                    "shift_end": None,
                    "order": 0,
                    "arm": "control",
                    "assignment": "random",
                    "forced": False,
                    "start": None,
                    "end": None,
                    "minutes": 0,
                    "travel_minutes": 0,
                    "officers": 0,
                    "visit": 0,
                    "visits_in_day": 0,
                }
            )

    def _base(self, i: int, day: dt.date, o: _Occurrence | None, w: PatrolWindow) -> dict[str, Any]:
        row = self.table.iloc[i]
        return {
            "date": pd.Timestamp(day),
            "weekday": WEEKDAYS[day.weekday()],
            "patrol_area_id": self.ids[i],
            "hotspot_id": str(row.get("hotspot_id", "") or ""),
            "block": int(self.blocks[i]),
            "window": w.label,
            "window_basis": w.basis,
            "window_start": o.start if o else None,
            "window_end": o.end if o else None,
            "location": str(row.get("location", "") or ""),
            "lat": float(row.get("centre_lat", float("nan"))),
            "lon": float(row.get("centre_lon", float("nan"))),
        }


_NO_ROOM = (
    "no shift had room for the visit inside its window (add a team or a shift, or plan fewer areas)"
)


def _no_window(want: _DayDose) -> str:
    """Why visits past what the window holds at the dose's spacing are not routed."""
    return (
        f"the window that day holds only {want.routable} visit(s) {want.spacing} minutes apart "
        f"of the {want.planned} the dose asks for"
    )


def _route_day(
    day: dt.date,
    nodes: Sequence[tuple[int, int]],
    forced: set[int],
    occ: Sequence[_Occurrence | None],
    vehicles: Sequence[_Vehicle],
    travel: np.ndarray,
    s: _Setting,
    spacing: Mapping[int, int] | None = None,
) -> tuple[dict[tuple[int, int], _Stop], str]:
    """One plan day's routes (OR-Tools, time windows): ``{(area, visit): stop}`` and the solver
    status. ``nodes`` are the day's visits as (area, visit number), most important first;
    ``spacing`` the least minutes between the starts of two visits of one area."""
    if not nodes or not vehicles:
        return {}, "nothing to route"
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    spacing = spacing or {}
    area = [i for i, _ in nodes]  # node k+1 is a visit of area area[k]; node 0 a place-less depot
    n = len(nodes) + 1
    service = [0] + [s.visit_minutes] * len(nodes)

    def walk(a: int, b: int) -> int:
        if a == 0 or b == 0:
            return 0
        return int(travel[area[a - 1], area[b - 1]])

    manager = pywrapcp.RoutingIndexManager(n, len(vehicles), 0)
    routing = pywrapcp.RoutingModel(manager)
    cost = routing.RegisterTransitCallback(
        lambda i, j: walk(manager.IndexToNode(i), manager.IndexToNode(j))
    )
    routing.SetArcCostEvaluatorOfAllVehicles(cost)
    time_cb = routing.RegisterTransitCallback(
        lambda i, j: (
            service[manager.IndexToNode(i)] + walk(manager.IndexToNode(i), manager.IndexToNode(j))
        )
    )
    horizon = 3 * 24 * 60
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")
    previous: dict[int, list[int]] = {}  # area -> routing indices of its visits so far
    for k, (i, j) in enumerate(nodes, start=1):
        o = occ[i]
        assert o is not None
        idx = manager.NodeToIndex(k)
        time.CumulVar(idx).SetRange(max(o.lo, 0), max(o.hi - s.visit_minutes, 0))
        penalty = _DROP_PENALTY * (2 if i in forced and j == 1 else 1) + (len(nodes) - k) * 1000
        routing.AddDisjunction([idx], penalty)
        able = [
            v
            for v, veh in enumerate(vehicles)
            if min(o.hi, veh.hi) - max(o.lo, veh.lo) >= s.visit_minutes
        ]
        routing.VehicleVar(idx).SetValues([-1, *able])
        for before in previous.get(i, []):  # of two visits made, the later starts >= spacing on
            time.AddNodePrecedence(before, idx, int(spacing.get(i, 0)))
        previous.setdefault(i, []).append(idx)
    for v, veh in enumerate(vehicles):
        time.CumulVar(routing.Start(v)).SetRange(veh.lo, veh.hi)
        time.CumulVar(routing.End(v)).SetRange(veh.lo, veh.hi)
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.Start(v)))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(routing.End(v)))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    params.time_limit.FromMilliseconds(int(s.time_limit_s * 1000))
    solution = routing.SolveWithParameters(params)
    status = _STATUS.get(int(routing.status()), str(routing.status()))
    if solution is None:
        return {}, status
    routes: list[list[int]] = []
    for v in range(len(vehicles)):
        route: list[int] = []
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            route.append(manager.IndexToNode(idx) - 1)
            idx = solution.Value(routing.NextVar(idx))
        routes.append(route)
    starts = _timetable(routes, nodes, occ, vehicles, travel, s, spacing)
    origin = _origin(day, s).astimezone(dt.UTC)
    out: dict[tuple[int, int], _Stop] = {}
    for v, route in enumerate(routes):
        for k, node in enumerate(route):
            when = (origin + dt.timedelta(minutes=starts[node])).astimezone(s.zone)
            walk_before = int(travel[area[route[k - 1]], area[node]]) if k else 0
            out[nodes[node]] = _Stop(vehicles[v], k + 1, when, walk_before)
    return out, status


def _timetable(
    routes: Sequence[Sequence[int]],
    nodes: Sequence[tuple[int, int]],
    occ: Sequence[_Occurrence | None],
    vehicles: Sequence[_Vehicle],
    travel: np.ndarray,
    s: _Setting,
    spacing: Mapping[int, int],
) -> dict[int, int]:
    """Start minutes of the routed visits (by node): the earliest the routes allow, or
    (``s.rng``) drawn at random on a 5-minute grid between the earliest and the latest start
    that still lets every other visit keep its window, its shift, its route's walks and its
    area's spacing.

    The starts are a simple temporal problem (every rule is ``t_b >= t_a + w``): its bounds are
    propagated, then the visits are fixed one by one (vehicle by vehicle, in route order), each
    inside the bounds the fixed ones leave, which always extends to a whole timetable. Without
    spacing rules a route's bounds are its own: the earliest start after the previous visit and
    the walk, and the latest that leaves room for the rest of the route before the shift ends.
    """
    visit = s.visit_minutes
    order = [node for route in routes for node in route]
    lo: dict[int, int] = {}
    hi: dict[int, int] = {}
    edges: list[tuple[int, int, int]] = []  # (a, b, w): t_b >= t_a + w
    for v, route in enumerate(routes):
        veh = vehicles[v]
        for k, node in enumerate(route):
            o = occ[nodes[node][0]]
            assert o is not None
            lo[node] = max(o.lo, veh.lo)
            hi[node] = min(o.hi, veh.hi) - visit
            if k:
                prev = route[k - 1]
                edges.append((prev, node, visit + int(travel[nodes[prev][0], nodes[node][0]])))
    by_area: dict[int, list[int]] = {}
    for node in sorted(order, key=lambda x: nodes[x][1]):
        by_area.setdefault(nodes[node][0], []).append(node)
    for i, mine in by_area.items():
        edges += [(a, b, int(spacing.get(i, 0))) for a, b in itertools.pairwise(mine)]

    def propagate() -> None:
        for _ in range(len(order) + 1):
            changed = False
            for a, b, w in edges:
                if lo[a] + w > lo[b]:
                    lo[b] = lo[a] + w
                    changed = True
                if hi[b] - w < hi[a]:
                    hi[a] = hi[b] - w
                    changed = True
            if not changed:
                return

    propagate()
    for node in order:
        grid = np.arange(math.ceil(lo[node] / _TIME_GRID), math.floor(hi[node] / _TIME_GRID) + 1)
        t = lo[node] if s.rng is None or len(grid) == 0 else int(s.rng.choice(grid)) * _TIME_GRID
        lo[node] = hi[node] = t
        propagate()
    return {node: lo[node] for node in order}


#: Solver statuses whose routes are kept as found.
_SOLVED = ("success", "optimal", "nothing to route")

#: OR-Tools' routing status codes, in words.
_STATUS = {
    0: "not solved",
    1: "success",
    2: "partial success (time limit before a local optimum)",
    3: "no solution found",
    4: "time limit reached",
    5: "invalid model",
    6: "infeasible",
    7: "optimal",
}


def _assemble(
    state: _Run,
    teams: Sequence[Team],
    windows: Sequence[PatrolWindow],
    vehicles: Sequence[Sequence[_Vehicle]],
    sep: float,
    statuses: Sequence[str],
    start: dt.date,
    days: int,
    seed: int,
    created: dt.datetime,
    s: _Setting,
    kb: KnowledgeBase,
    extra: Mapping[str, Any],
) -> TeamPlan:
    visits = _visits_frame(state.rows, s.zone)
    short = pd.DataFrame.from_records(
        state.short,
        columns=[
            "date", "patrol_area_id", "block", "assignment", "reason", "visit", "visits_in_day"
        ],
    )  # fmt: skip
    areas = _area_table(state, windows, visits, short, start, days, s.max_gap_days)
    shifts = _shift_table(vehicles, teams, visits, start)
    bad = [st for st in statuses if st not in _SOLVED]
    params = {
        "start_date": start.isoformat(),
        "days": int(days),
        "time_zone": s.zone.key,
        "plan_day_starts": f"{s.day_start_h:02d}:00",
        "visit_minutes": s.visit_minutes,
        "visits_per_day": 1,
        "max_gap_days": s.max_gap_days,
        "separation_m": sep,
        "seed": seed,
        "teams": [
            {"name": t.name, "officers": t.officers, "shifts": [sh.label for sh in t.shifts]}
            for t in teams
        ],
        "solver": {
            "library": "OR-Tools routing",
            "first_solution": "PATH_CHEAPEST_ARC",
            "local_search": "GREEDY_DESCENT",
            "time_limit_s": s.time_limit_s,
            "days_not_at_local_optimum": len(bad),
        },
        "created_utc": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "knowledge_base_version": kb.schema_version,
    } | dict(extra)
    notes = _notes(state, areas, visits, short, bad, params, windows)
    summary = {
        "areas": len(state.ids),
        "blocks": int(len(set(state.blocks.tolist()))),
        "patrol_visits": int((visits["arm"] == "patrol").sum()),
        "control_area_days": int((visits["arm"] == "control").sum()),
        "forced_area_days": int(
            visits.loc[visits["arm"] == "patrol"]
            .drop_duplicates(["date", "patrol_area_id"])["forced"]
            .sum()
        ),
        "unrouted_area_days": _lost_days(visits, short),
        "unrouted_visits": len(short),
        "areas_gap_kept": int(areas["gap_kept"].sum()),
        "notes": notes,
    }
    return TeamPlan(
        visits=visits,
        areas=areas,
        shortfall=short,
        shifts=shifts,
        teams=tuple(teams),
        choices=Choices(params, notes),
        summary=summary,
    )


_VISIT_COLUMNS = [
    "date", "weekday", "team", "shift", "shift_start", "shift_end", "order", "patrol_area_id",
    "hotspot_id", "block", "arm", "assignment", "forced", "start", "end", "minutes",
    "travel_minutes", "officers", "window", "window_basis", "window_start", "window_end",
    "location", "lat", "lon", "visit", "visits_in_day",
]  # fmt: skip


def _lost_days(visits: pd.DataFrame, short: pd.DataFrame) -> int:
    """Area-days drawn for patrol of which no visit was routed."""
    if not len(short):
        return 0
    key = ["date", "patrol_area_id"]
    done = visits.loc[visits["arm"] == "patrol", key].drop_duplicates()
    lost = short[key].drop_duplicates().merge(done, on=key, how="left", indicator=True)
    return int((lost["_merge"] == "left_only").sum())


def _visits_frame(rows: list[dict[str, Any]], zone: ZoneInfo) -> pd.DataFrame:
    v = pd.DataFrame.from_records(rows, columns=_VISIT_COLUMNS)
    for col in ("shift_start", "shift_end", "start", "end", "window_start", "window_end"):
        v[col] = pd.to_datetime(v[col], utc=True).dt.tz_convert(zone.key)
    v["date"] = pd.to_datetime(v["date"])
    v["_arm"] = (v["arm"] != "patrol").astype(int)
    v = v.sort_values(
        ["date", "_arm", "team", "shift_start", "order", "patrol_area_id"], kind="stable"
    )
    return v.drop(columns="_arm").reset_index(drop=True)


def _area_table(
    state: _Run,
    windows: Sequence[PatrolWindow],
    visits: pd.DataFrame,
    short: pd.DataFrame,
    start: dt.date,
    days: int,
    max_gap: int,
) -> pd.DataFrame:
    rows = []
    patrol = visits[visits["arm"] == "patrol"]
    spacing = state.spacing()
    for i, pid in enumerate(state.ids):
        mine = patrol[patrol["patrol_area_id"] == pid]
        first = mine.drop_duplicates("date")
        idx = sorted(int((d - pd.Timestamp(start)).days) for d in first["date"])
        gap = int(np.diff([-1, *idx, days]).max())
        elig = int(state.eligible[:, i].sum())
        ctrl = int(((visits["patrol_area_id"] == pid) & (visits["arm"] == "control")).sum())
        lost = short[short["patrol_area_id"] == pid] if len(short) else short
        unrouted = len(lost)
        reasons = lost["reason"].astype(str) if unrouted else pd.Series([], dtype=str)
        failed = bool(reasons.str.startswith("the route search failed").any())
        n_window = int(reasons.str.startswith("the window that day").sum())
        w = windows[i]
        row = state.table.iloc[i]
        dose = state.doses[i] if state.doses else None
        rows.append(
            {
                "patrol_area_id": pid,
                "hotspot_id": str(row.get("hotspot_id", "") or ""),
                "block": int(state.blocks[i]),
                "window": w.label,
                "window_basis": w.basis,
                "visits_per_day": _dose_words(dose),
                "eligible_days": elig,
                "patrol_days": len(idx),
                "control_days": ctrl,
                "forced_days": int(first["forced"].sum()),
                "unrouted_days": len(set(lost["date"]) - set(first["date"])) if unrouted else 0,
                "visits": len(mine),
                "unrouted_visits": unrouted,
                "max_gap_days": gap,
                "gap_kept": gap <= max_gap,
                "shortfall": _shortfall_text(
                    w,
                    elig,
                    unrouted,
                    gap,
                    max_gap,
                    days,
                    int(spacing[i]),
                    failed,
                    n_window,
                    bool((lost["visits_in_day"] > 1).any()) if unrouted else False,
                ),
            }
        )
    return pd.DataFrame(rows)


def _dose_words(dose: VisitDose | None) -> str:
    """``"1"``, or ``"3 on Fri-Sat, 1 on other days"``."""
    if dose is None:
        return "1"
    if set(dose.days) == set(range(7)):
        return str(dose.visits)
    other = f", {dose.other_days} on other days" if dose.other_days else ""
    return f"{dose.visits} on {format_days(dose.days)}{other}"


def _shortfall_text(
    w: PatrolWindow,
    elig: int,
    unrouted: int,
    gap: int,
    max_gap: int,
    days: int,
    spacing: int,
    failed: bool = False,
    n_window: int = 0,
    of_dose: bool = False,
) -> str:
    """The dose rules an area did not keep, in words (``of_dose``: some visits lost were
    second or later visits of a day, said even where the peak days already explain the gap)."""
    lost = "not placed: the route search failed" if failed else "found no room in a shift"
    parts = [f"{unrouted - n_window} visit(s) {lost}"] if unrouted > n_window else []
    if n_window:
        parts.append(f"{n_window} visit(s) more than its window holds at the dose's spacing")
    lost_words = "; ".join(parts)
    if elig == 0:
        return (
            f"no shift meets its window ({w.label}) on any of the {days} plan days: never visited"
        )
    if gap > max_gap:
        if spacing > max_gap:
            why = (
                f"its peak days and the shifts ({w.label}) leave up to {spacing} days between "
                "days it can be patrolled"
            ) + (f"; and {lost_words}" if of_dose and unrouted else "")
        elif unrouted:
            why = lost_words
        else:
            why = "the draw of controls"
        return f"left up to {gap} days without a visit (rule: {max_gap}): {why}"
    if unrouted:
        return f"{lost_words} (gap rule still kept)"
    return ""


def _shift_table(
    vehicles: Sequence[Sequence[_Vehicle]],
    teams: Sequence[Team],
    visits: pd.DataFrame,
    start: dt.date,
) -> pd.DataFrame:
    patrol = visits[visits["arm"] == "patrol"]
    rows = []
    for d, vs in enumerate(vehicles):
        for v in vs:
            name = teams[v.team].name
            mine = patrol[
                (patrol["team"] == name) & (patrol["shift_start"] == pd.Timestamp(v.start))
            ]
            rows.append(
                {
                    "team": name,
                    "date": pd.Timestamp(start + dt.timedelta(days=d)),
                    "shift": v.shift.label,
                    "shift_start": pd.Timestamp(v.start),
                    "shift_end": pd.Timestamp(v.end),
                    "visits": len(mine),
                    "patrol_minutes": int(mine["minutes"].sum()),
                    "travel_minutes": int(mine["travel_minutes"].sum()),
                }
            )
    cols = ["team", "date", "shift", "shift_start", "shift_end", "visits", "patrol_minutes",
            "travel_minutes"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _notes(
    state: _Run,
    areas: pd.DataFrame,
    visits: pd.DataFrame,
    short: pd.DataFrame,
    bad: Sequence[str],
    params: Mapping[str, Any],
    windows: Sequence[PatrolWindow],
) -> list[str]:
    n_blocks = len(set(state.blocks.tolist()))
    patrol = int((visits["arm"] == "patrol").sum())
    notes = [
        f"{len(state.ids)} patrol areas in {n_blocks} blocks (one hot spot's areas, or centres "
        f"closer than {params['separation_m']:g} m, are patrolled or held back together), "
        f"{len(params['teams'])} team(s), {params['days']} plan days from "
        f"{params['start_date']} ({params['time_zone']}, seed {params['seed']}).",
        f"{patrol} visits of {params['visit_minutes']} minutes routed; "
        f"{int((visits['arm'] == 'control').sum())} control area-days; "
        f"{int(areas['forced_days'].sum())} patrol area-days forced by the "
        f"{params['max_gap_days']}-day gap rule (left out of the effect estimate).",
        "Travel between areas: "
        + (
            "the travel-time table given."
            if params["travel_rule"] == "table"
            else f"walking at {params['walking_speed_kmh']:g} km/h, straight line x "
            f"{params['street_detour']:.2f} for streets."
        )
        + " The walk to a shift's first area is not planned.",
    ]
    zone_from = params.get("time_zone_from")
    if zone_from:
        notes.insert(1, _zone_said(zone_from))
    if params.get("visits_per_day") == "recommended":
        several = [pid for pid, d in params["doses"].items() if d["visits_on_peak_days"] > 1]
        notes.append(
            f"Visits a day follow each area's recommended dose: {len(several)} area(s) get more "
            "than one visit on their peak days (one visit of an area starts at least the dose's "
            "revisit interval after the last; without one, the window's length over the day's "
            f"visits and never under {SPACING_VISITS} visit lengths, a heuristic of this "
            "product so that visits are never back to back), possibly by different teams."
        )
    if len(short) and (short["visits_in_day"] > 1).any():
        notes.append(
            f"{len(short)} visit(s) drawn for patrol ({_lost_days(visits, short)} whole "
            "area-day(s)) found no room in any shift or window and are not in the plan (see the "
            "shortfall table: each visit's number within its day)."
        )
    elif len(short):
        notes.append(
            f"{len(short)} area-day(s) drawn for patrol found no room in any shift and are not "
            "in the plan (see the shortfall table)."
        )
    broken = areas[areas["shortfall"] != ""]
    for _, r in broken.head(10).iterrows():
        notes.append(f"{r['patrol_area_id']}: {r['shortfall']}.")
    if len(broken) > 10:
        notes.append(f"... and {len(broken) - 10} more areas with a shortfall.")
    if bad:
        notes.append(
            f"On {len(bad)} plan day(s) the route search did not end at a local optimum "
            f"({'; '.join(sorted(set(bad)))}; time limit {params['solver']['time_limit_s']:g} s): "
            "those routes may differ on another machine, and visits it could not place are in "
            "the shortfall table; raise time_limit_s or plan fewer areas."
        )
    caveats = sorted({w.caveat for w in windows if w.caveat})
    return notes + caveats


# --------------------------------------------------------------------------------------------
# Printable sheets


@functools.cache
def _sheet_environment() -> jinja2.Environment:
    return report_environment()


def render_team_sheets(plan: TeamPlan, team: str, *, title: str | None = None) -> str:
    """One team's printable sheets, one page per shift, as HTML (``hotspots/templates``).

    Each sheet names the day, the shift and its officers, lists the visits in route order with
    start and end (local time), area, place, the walk before and the window (and, where a dose
    asks for several visits of an area a day, each visit's number within the area's day, "2 of
    3"), leaves a column
    to note the time in and out, and repeats the dose rule and the stop and search notice
    (:func:`hotspots.safeguards.stop_search_notice`). Print it from a browser, or to PDF with
    :func:`hotspots.briefing.html_to_pdf`.

    Parameters
    ----------
    plan : TeamPlan
    team : str
        The team's name.
    title : str, optional
        The page title; default names the team.

    Returns
    -------
    str
    """
    from hotspots.safeguards import stop_search_notice

    match = [t for t in plan.teams if t.name == team]
    if not match:
        msg = f"team {team!r} is not in the plan (teams: {', '.join(t.name for t in plan.teams)})."
        raise ParameterError(msg)
    v = plan.visits[(plan.visits["team"] == team) & (plan.visits["arm"] == "patrol")]
    sheets = []
    for _, sh in plan.shifts[plan.shifts["team"] == team].iterrows():
        mine = v[v["shift_start"] == sh["shift_start"]].sort_values("order")
        a, b = sh["shift_start"], sh["shift_end"]
        sheets.append(
            {
                "day": f"{a:%A %d %B %Y}",
                "shift": str(sh["shift"]),
                "span": f"{a:%a %H:%M} to {b:%a %H:%M}",
                "walk": int(mine["travel_minutes"].sum()),
                "visits": [
                    {
                        "order": int(r["order"]),
                        "start": f"{r['start']:%H:%M}",
                        "end": f"{r['end']:%H:%M}",
                        "area": str(r["patrol_area_id"]),
                        "forced": bool(r["forced"]),
                        "location": str(r["location"] or ""),
                        "latlon": f"{r['lat']:.5f}, {r['lon']:.5f}"
                        if np.isfinite(r["lat"])
                        else "",
                        "walk": int(r["travel_minutes"]),
                        "window": str(r["window"]),
                        "of_day": f"{int(r['visit'])} of {int(r['visits_in_day'])}",
                    }
                    for _, r in mine.iterrows()
                ],
            }
        )
    return (
        _sheet_environment()
        .get_template("team_sheets.html")
        .render(
            title=title or f"Hot spot patrol sheets: {team}",
            team=team,
            officers=match[0].officers,
            sheets=sheets,
            plan_id=plan.plan_id,
            seed=plan.params["seed"],
            zone=plan.params["time_zone"],
            visit_minutes=plan.params["visit_minutes"],
            min_visit=MIN_VISIT_MINUTES,
            notice=stop_search_notice(),
            several=bool((v["visits_in_day"] > 1).any()),
        )
    )
