"""The guide's patrol tactics, loaded from ``hotspots/data/tactics.json``, matched and recommended
per place.

The knowledge base is data, not code. ``hotspots/data/tactics.json`` (schema 2) holds

* ``guide``: the College of Policing guide's pages the project read (about, targeting, testing,
  references) and its seven steps, named as the guide names them (:data:`STEPS`);
* ``studies``: every study cited, with authors, year, title, venue, design, and a DOI (only where
  it was verified) or a stable link; third-party mirrors and student notes are refused;
* ``designs``: which evidence grades each study design allows (an observational survival analysis
  is graded C, never A);
* ``constants`` and ``general_windows``: every threshold, each either evidence-based (``basis`` and
  ``studies``) or marked as this product's heuristic (``"heuristic": true`` and ``reasoning``);
* ``staffing_models``: the ordered candidate tactics for each of :data:`STAFFING_MODELS`;
* ``tactics``: each with an id (``T01`` ...), a role (``primary`` patrol tactic, ``companion``
  work alongside it, ``caution``), the guide step it serves, its scope (a patrol ``area``, a whole
  ``hotspot``, or the whole ``programme``), what officers do, a structured dosage, the evidence
  grade, its primary study and the guide page and section it rests on, and a declarative
  condition ``applies_when`` over a place's profile.

:func:`load_knowledge_base` validates the file strictly. :func:`match_tactics` lists every tactic
whose condition holds on one place (the hot spot card). :func:`recommend` gives one coherent
:class:`Recommendation` per place for a chosen staffing model: one primary tactic, the companions
and cautions that apply, and one :class:`Dose` with no conflicting parts
(:meth:`Recommendation.conflicts`).

Condition language
------------------
``applies_when`` is either the string ``"always"`` or a JSON object that is one of

* a comparison ``{"field": NAME, "op": OP, "value": V}`` with ``OP`` one of ``eq ne lt le gt ge``,
  ``in`` (``V`` a list) or ``between`` (``V`` a two-item list, both ends included);
* a comparison with a named threshold, ``{"field": NAME, "op": OP, "constant": C}``, where ``C`` is
  one of ``constants`` (so every numeric threshold is a documented constant);
* ``{"all": [cond, ...]}``, ``{"any": [cond, ...]}`` or ``{"not": cond}``;
* ``{"always": true}``.

``NAME`` must be one of :data:`FIELDS` (profile columns from :mod:`hotspots.profile` plus the
derived features computed by :func:`profile_features`). A comparison with a missing value (``None``
or NaN: for example ``harm_ratio`` when no harm weights were given, ``peak_in_nte`` when the data
have no time of day) is false, whatever the operator.

Notes
-----
The guide: https://www.college.police.uk/guidance/serious-violence-hot-spots-policing-guide/about-guide.
Its pages have no page numbers; a tactic cites the page and the section or step it serves. The
studies and their DOIs are listed in ``hotspots/data/tactics.json``; for example the Koper curve is
Koper (1995), Justice Quarterly 12(4), an observational survival analysis, and the Southend model is
Basford et al. (2021), https://doi.org/10.1007/s41887-021-00067-2, a randomised crossover trial.
"""

from __future__ import annotations

import functools
import json
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from hotspots._errors import HotspotsError, ParameterError

__all__ = [
    "DEFAULT_TACTICS_PATH",
    "FIELDS",
    "STAFFING_MODELS",
    "STEPS",
    "Dose",
    "GuidePage",
    "KnowledgeBase",
    "PatrolWindow",
    "Recommendation",
    "Source",
    "Study",
    "Tactic",
    "TacticMatch",
    "TacticsError",
    "dose_conflicts",
    "evaluate_condition",
    "format_window",
    "load_knowledge_base",
    "load_tactics",
    "match_table",
    "match_tactics",
    "patrol_window",
    "profile_features",
    "recommend",
    "recommend_table",
    "recommendation_matches",
]

#: The shipped knowledge base, package data read through :mod:`importlib.resources` (so it is found
#: in an installed wheel as in a source checkout).
DEFAULT_TACTICS_PATH: Traversable = resources.files("hotspots").joinpath("data", "tactics.json")

#: The guide's seven steps, in order, named as the guide names them.
STEPS = (
    "Thinking",
    "Enabling technologies",
    "Targeting",
    "Training",
    "Tasking",
    "Tracking",
    "Testing",
)

#: Who patrols: two dedicated officers on foot, response officers between calls, or PCSOs.
STAFFING_MODELS = ("dedicated_pairs", "response_between_calls", "pcso")

_ROLES = ("primary", "companion", "caution")
_SCOPES = ("area", "hotspot", "programme")
_TEMPORAL_CLASSES = ("chronic", "emerging", "intermittent")
_TRENDS = ("rising", "falling", "stable")
_SIZE_CLASSES = ("micro", "street", "large")

#: Fields a condition may test, with their kind ("number", "bool") or allowed strings.
FIELDS: dict[str, Any] = {
    "incidents": "number",
    "share": "number",
    "harm": "number",
    "harm_share": "number",
    "harm_ratio": "number",
    "pai": "number",
    "rank": "number",
    "n_hotspots": "number",
    "rank_fraction": "number",
    "area_m2": "number",
    "max_extent_m": "number",
    "size_vs_micro": "number",
    "size_class": _SIZE_CLASSES,
    "months_active": "number",
    "n_months": "number",
    "months_active_share": "number",
    "incidents_per_month": "number",
    "recent_share": "number",
    "temporal_class": _TEMPORAL_CLASSES,
    "trend": _TRENDS,
    "has_time": "bool",
    "night_share": "number",
    "peak_in_nte": "bool",
    "peak_is_night": "bool",
    "peak_in_afternoon_evening": "bool",
    "peak_weekend": "bool",
}

#: Extra names a reason template may use (text made for people, not for conditions).
TEMPLATE_FIELDS = (
    "peak_window",
    "nte_window",
    "general_window",
    "temporal_class_text",
    "share_pct",
    "harm_share_pct",
    "night_share_pct",
    "recent_share_pct",
    "recent_months",
)

_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "between")
_STRENGTHS = ("A", "B", "C", "X", "U")
_TOP_KEYS = {
    "schema_version",
    "title",
    "guide",
    "evidence_scale",
    "designs",
    "studies",
    "constants",
    "general_windows",
    "staffing_models",
    "recommendation",
    "left_out",
    "tactics",
}
_TACTIC_REQUIRED = {
    "id",
    "name",
    "summary",
    "role",
    "step",
    "scope",
    "applies_when",
    "what_officers_do",
    "dosage",
    "evidence",
    "primary_study",
    "guide",
    "priority",
    "reason_template",
}
_TACTIC_OPTIONAL = {"legitimacy_review", "staffing", "supporting_studies"}
_DOSAGE_NUMBERS = {
    "visit_minutes",
    "min_minutes",
    "max_minutes",
    "visits_per_day",
    "revisit_hours",
    "max_gap_days",
    "campaign_days",
    "review_days",
    "consecutive_days",
    "minutes_per_hour",
}
#: Dosage fields that fix how often and how long a place is visited: only a primary tactic sets
#: them.
_FREQUENCY_FIELDS = (
    "visit_minutes",
    "visits_per_day",
    "revisit_hours",
    "minutes_per_hour",
    "consecutive_days",
)
_DURATIONS = ("programme", "campaign")
_REQUIRED_CONSTANTS = {
    "micro_place_m",
    "micro_place_max_extent_m",
    "large_area_min_extent_m",
    "nte_start_hour",
    "nte_end_hour",
    "nte_night_share_min",
    "night_peak_min_share",
    "afternoon_evening_start_hour",
    "afternoon_evening_end_hour",
    "visit_minutes",
    "min_visit_minutes",
    "max_gap_days",
    "campaign_review_days",
    "plan_day_start_hour",
    "harm_concentration_ratio",
}
_PLAN_DEFAULT_PREFIX = "Suggested by the guide's evidence"
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ID_RE = re.compile(r"^T\d{2}$")
_STUDY_RE = re.compile(r"^[A-Z][A-Za-z]+(\d{4})?[A-Za-z0-9]*$")
_PAGE_RE = re.compile(r"^G[0-9R]$")
_DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
#: Hosts of third-party copies, slide hosts, student notes and aggregators: not sources.
_MIRROR_HOSTS = (
    "studylib.",
    "slideserve.",
    "slideplayer.",
    "paperexplained.",
    "knowt.",
    "assignmentexpert.",
    "pdfslide.",
    "docslib.",
    "globalauthorid.",
    "yumpu.",
    "deno.dev",
    "researcher.life",
    "dntb.gov.ua",
    "vdocuments.",
    "fdocuments.",
    "scribd.",
    "1library.",
    "123dok.",
    "5dok.",
    "academia.edu",
    "semanticscholar.",
    "docplayer.",
    "healthdocbox.",
    "coek.info",
    "cupdf.",
    "mafiadoc.",
    "bartleby.",
    "sambuz.",
)


class TacticsError(HotspotsError):
    """A problem in the tactics knowledge base file.

    Parameters
    ----------
    problem : str
        What is wrong, as one sentence.
    tactic_id : str, optional
        The tactic's id (``"T01"``), when the problem is inside one tactic.
    path : str, optional
        The knowledge base file.
    study_id : str, optional
        The study's id (``"Koper1995"``), when the problem is inside one study.
    """

    def __init__(
        self,
        problem: str,
        *,
        tactic_id: str | None = None,
        path: str | None = None,
        study_id: str | None = None,
    ):
        self.problem = problem
        self.tactic_id = tactic_id
        self.study_id = study_id
        self.path = path
        where = [
            p
            for p in (
                path,
                f"tactic {tactic_id}" if tactic_id else None,
                f"study {study_id}" if study_id else None,
            )
            if p
        ]
        super().__init__((": ".join(where) + ": " if where else "") + problem)


@dataclass(frozen=True)
class Source:
    """One cited source as a link: the study id, its DOI link or stable URL, and its citation."""

    key: str
    url: str
    label: str = ""


@dataclass(frozen=True)
class Study:
    """One study in the knowledge base's ``studies`` registry.

    Attributes
    ----------
    id : str
        ``"Koper1995"`` style key.
    authors, title, venue, design : str
        ``design`` is one of the file's ``designs`` (it bounds the evidence grade).
    year : int or None
        None only with ``year_note`` saying why.
    doi : str or None
        Only DOIs that were verified; None otherwise.
    doi_status : str
        ``"verified"``, ``"not verified"`` (then ``url`` is a stable link) or ``"not applicable"``
        (reports and web pages).
    url : str or None
        A stable link (publisher, repository, library record or the issuing body's own page).
    guide_reference : str or None
        The entry in the guide's reference list this study is, e.g. ``"Koper 1995"``.
    """

    id: str
    authors: str
    year: int | None
    title: str
    venue: str
    design: str
    doi: str | None = None
    doi_status: str = "not verified"
    url: str | None = None
    guide_reference: str | None = None
    note: str = ""
    year_note: str = ""

    @property
    def link(self) -> str:
        """``https://doi.org/...`` when the DOI is known, else the stable link."""
        return f"https://doi.org/{self.doi}" if self.doi else str(self.url)

    @property
    def citation(self) -> str:
        """Authors (year). Title. Venue."""
        year = self.year if self.year is not None else "n.d."
        return f"{self.authors} ({year}). {self.title}. {self.venue}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "authors": self.authors,
            "year": self.year,
            "title": self.title,
            "venue": self.venue,
            "design": self.design,
            "doi": self.doi,
            "doi_status": self.doi_status,
            "link": self.link,
            "guide_reference": self.guide_reference,
        }


@dataclass(frozen=True)
class GuidePage:
    """A page of the College of Policing guide: key (``"G3"``), URL and title."""

    key: str
    url: str
    title: str


@dataclass(frozen=True)
class Tactic:
    """One tactic, companion or caution of the knowledge base (see ``hotspots/data/tactics.json``).

    Attributes
    ----------
    id, name, summary : str
    applies_when : str or dict
        The condition with named thresholds resolved to their values (see the module docstring).
    what_officers_do : tuple of str
    dosage : dict
        Numbers (``visit_minutes``, ``min_minutes`` ... in minutes, hours or days as named),
        optional ``duration`` (``"programme"`` or ``"campaign"``) and ``on_days`` (``"peak"``),
        and ``text``.
    evidence : dict
        ``strength`` (A, B, C, X or U), ``summary``, ``design`` (of the primary study) and
        optionally ``grade_note``.
    sources : tuple of Source
        The primary study first, then the supporting studies.
    caution : bool
        True for "do not" entries (role ``caution``).
    priority : int
        1 = show first.
    reason_template : str or list of dict
        A template, or ``[{"when": condition, "text": template}, ...]`` where the first entry whose
        condition holds is used.
    legitimacy_review : bool
        True when the tactic must pass a legitimacy and proportionality review before use.
    role : str
        ``"primary"`` (a patrol tactic that sets the dose), ``"companion"`` or ``"caution"``.
    step : str
        The guide step it serves (one of :data:`STEPS`).
    scope : str
        ``"area"`` (judged on any place), ``"hotspot"`` (judged on a whole hot spot's size or rank,
        never on a 150 m patrol area) or ``"programme"`` (the whole operation).
    staffing : tuple of str
        Staffing models it is for (empty: all).
    primary_study : Study or None
    supporting_studies : tuple of Study
    guide_page : GuidePage or None
    guide_section : str
    """

    id: str
    name: str
    summary: str
    applies_when: Any
    what_officers_do: tuple[str, ...]
    dosage: Mapping[str, Any]
    evidence: Mapping[str, str]
    sources: tuple[Source, ...]
    caution: bool
    priority: int
    reason_template: Any
    legitimacy_review: bool = False
    role: str = "companion"
    step: str = ""
    scope: str = "area"
    staffing: tuple[str, ...] = ()
    primary_study: Study | None = None
    supporting_studies: tuple[Study, ...] = ()
    guide_page: GuidePage | None = None
    guide_section: str = ""

    def applies(self, features: Mapping[str, Any]) -> bool:
        """True when ``applies_when`` holds for these features (see :func:`profile_features`)."""
        return evaluate_condition(self.applies_when, features)

    def reason(self, features: Mapping[str, Any]) -> str:
        """The reason sentence filled from the features."""
        template = self.reason_template
        if isinstance(template, list):
            for entry in template:
                if evaluate_condition(entry["when"], features):
                    template = entry["text"]
                    break
            else:
                template = template[-1]["text"]
        return _fill(template, features)

    def for_staffing(self, staffing: str) -> bool:
        """True when the tactic is for this staffing model (or for all)."""
        return not self.staffing or staffing in self.staffing

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "summary": self.summary,
            "role": self.role,
            "step": self.step,
            "scope": self.scope,
            "staffing": list(self.staffing),
            "what_officers_do": list(self.what_officers_do),
            "dosage": dict(self.dosage),
            "evidence": dict(self.evidence),
            "primary_study": self.primary_study.to_dict() if self.primary_study else None,
            "supporting_studies": [s.to_dict() for s in self.supporting_studies],
            "guide": {
                "page": self.guide_page.key if self.guide_page else None,
                "url": self.guide_page.url if self.guide_page else None,
                "section": self.guide_section,
            },
            "sources": [{"key": s.key, "url": s.url} for s in self.sources],
            "caution": self.caution,
            "legitimacy_review": self.legitimacy_review,
        }


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated contents of ``hotspots/data/tactics.json``."""

    tactics: tuple[Tactic, ...]
    constants: Mapping[str, Any]
    general_windows: Mapping[str, Mapping[str, Any]]
    evidence_scale: Mapping[str, str]
    path: str = ""
    schema_version: int = 2
    studies: Mapping[str, Study] = field(default_factory=dict)
    guide_pages: Mapping[str, GuidePage] = field(default_factory=dict)
    steps: tuple[Mapping[str, Any], ...] = ()
    designs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    staffing_models: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    duration_order: tuple[str, ...] = ()
    left_out: tuple[Mapping[str, Any], ...] = ()

    def constant(self, name: str) -> Any:
        """The value of a constant (``micro_place_m`` ...)."""
        return self.constants[name]["value"]

    def heuristics(self) -> dict[str, Mapping[str, Any]]:
        """The constants and windows that are this product's heuristics, with their reasoning."""
        out = {k: c for k, c in self.constants.items() if c.get("heuristic")}
        out.update(
            {f"window:{k}": w for k, w in self.general_windows.items() if w.get("heuristic")}
        )
        return out

    def get(self, tactic_id: str) -> Tactic:
        for t in self.tactics:
            if t.id == tactic_id:
                return t
        msg = f"No tactic with id {tactic_id!r} in {self.path or 'the knowledge base'}."
        raise KeyError(msg)

    def study(self, study_id: str) -> Study:
        """The study with this id (``"Koper1995"``)."""
        return self.studies[study_id]


@dataclass(frozen=True)
class PatrolWindow:
    """When to patrol a place: hours of day (local time) and weekdays.

    Attributes
    ----------
    start_hour, end_hour : int
        0-23; ``end_hour`` is exclusive and may wrap past midnight (``start_hour=22, end_hour=3``
        runs 22:00-03:00). Equal values mean the whole day.
    days : tuple of int
        Peak weekdays (Mon=0). All seven when the peak has no particular days.
    basis : str
        ``"profile"`` (the place's own peak), ``"force"`` (the force-wide peak: the place's
        own incidents are too few to show a timing of their own, see
        :class:`hotspots.profile.TimingPrior`) or ``"general"`` (this tool's fallback window
        when the data have no time of day).
    label : str
        For people, e.g. ``"Fri-Sat 22:00-03:00"``.
    caveat : str or None
        Set when the window is a fallback because the data have no time of day.
    """

    start_hour: int
    end_hour: int
    days: tuple[int, ...]
    basis: str
    label: str
    caveat: str | None = None

    @property
    def minutes(self) -> int:
        """Length of the window in minutes."""
        span = (self.end_hour - self.start_hour) % 24
        return 24 * 60 if span == 0 else span * 60


@dataclass(frozen=True)
class TacticMatch:
    """A tactic that applies to a place, with why.

    Attributes
    ----------
    tactic : Tactic
    reason : str
        A sentence filled from the place's profile.
    priority : int
        1 = first; matches are sorted by priority, then id.
    caveat : str or None
        The no-time-of-day caveat when the data carry months only.
    """

    tactic: Tactic
    reason: str
    priority: int
    caveat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        study = self.tactic.primary_study
        return {
            "id": self.tactic.id,
            "name": self.tactic.name,
            "reason": self.reason,
            "priority": self.priority,
            "evidence": self.tactic.evidence["strength"],
            "role": self.tactic.role,
            "step": self.tactic.step,
            "primary_study": study.citation if study else None,
            "source": study.link if study else None,
            "caution": self.tactic.caution,
            "legitimacy_review": self.tactic.legitimacy_review,
            "caveat": self.caveat,
        }


# --------------------------------------------------------------------------------------------
# Loading and validation


def load_tactics(path: str | Path | None = None) -> list[Tactic]:
    """Load and validate the tactics knowledge base.

    Parameters
    ----------
    path : str or Path, optional
        A tactics JSON file; default the shipped ``hotspots/data/tactics.json``.

    Returns
    -------
    list of Tactic

    Raises
    ------
    TacticsError
        For unknown fields, unknown operators, fields or constants in conditions, a missing or
        unknown primary study, studies without a verified DOI or stable link, links to third-party
        mirrors, grades the study design does not allow, unmarked thresholds, duplicate ids and
        missing dosage; the message names the tactic or study.
    """
    return list(load_knowledge_base(path).tactics)


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the whole knowledge base (guide, studies, constants, tactics ...).

    Parameters
    ----------
    path : str or Path, optional
        Default the shipped ``hotspots/data/tactics.json`` (read once and cached).

    Returns
    -------
    KnowledgeBase
    """
    if path is None:
        return _load_default()
    return _load(Path(path))


@functools.cache
def _load_default() -> KnowledgeBase:
    return _load(DEFAULT_TACTICS_PATH)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _load(path: Path | Traversable) -> KnowledgeBase:
    where = str(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        msg = "the tactics file does not exist."
        raise TacticsError(msg, path=where) from exc
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        raise TacticsError(msg, path=where) from exc
    if not isinstance(raw, dict):
        msg = "the top level must be a JSON object."
        raise TacticsError(msg, path=where)
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        msg = f"unknown top-level fields {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}."
        raise TacticsError(msg, path=where)
    for key in sorted(_TOP_KEYS - {"schema_version", "title", "left_out"}):
        if key not in raw:
            msg = f"the top-level field '{key}' is missing."
            raise TacticsError(msg, path=where)
    scale = raw["evidence_scale"]
    if not isinstance(scale, dict) or set(scale) != set(_STRENGTHS):
        msg = f"'evidence_scale' must describe exactly the strengths {list(_STRENGTHS)}."
        raise TacticsError(msg, path=where)
    designs = _validate_designs(raw["designs"], where)
    pages, steps = _validate_guide(raw["guide"], where)
    studies = _validate_studies(raw["studies"], designs, where)
    constants = _validate_constants(raw["constants"], studies, where)
    windows = _validate_windows(raw["general_windows"], studies, where)
    if not isinstance(raw["tactics"], list) or not raw["tactics"]:
        msg = "'tactics' must be a non-empty list."
        raise TacticsError(msg, path=where)
    tactics: list[Tactic] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["tactics"]):
        tactic = _validate_tactic(entry, i, where, studies, designs, pages, constants)
        if tactic.id in seen:
            msg = "duplicate id; every tactic needs its own id."
            raise TacticsError(msg, tactic_id=tactic.id, path=where)
        seen.add(tactic.id)
        tactics.append(tactic)
    by_id = {t.id: t for t in tactics}
    left_out = _validate_left_out(raw.get("left_out", []), by_id, studies, where)
    staffing = _validate_staffing(raw["staffing_models"], by_id, left_out, where)
    duration_order = _validate_recommendation(raw["recommendation"], by_id, where)
    return KnowledgeBase(
        tactics=tuple(tactics),
        constants=constants,
        general_windows=windows,
        evidence_scale=dict(scale),
        path=where,
        schema_version=int(raw.get("schema_version", 2)),
        studies=studies,
        guide_pages=pages,
        steps=steps,
        designs=designs,
        staffing_models=staffing,
        duration_order=duration_order,
        left_out=left_out,
    )


def _validate_designs(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    ok = isinstance(value, dict) and bool(value)
    ok = ok and all(isinstance(g, list) and all(x in _STRENGTHS for x in g) for g in value.values())
    if not ok:
        msg = (
            "'designs' must map each study design to the grades it allows "
            f"(a list of {list(_STRENGTHS)})."
        )
        raise TacticsError(msg, path=where)
    return {k: tuple(v) for k, v in value.items()}


def _validate_guide(
    value: Any, where: str
) -> tuple[dict[str, GuidePage], tuple[Mapping[str, Any], ...]]:
    if not isinstance(value, dict) or not isinstance(value.get("pages"), dict):
        msg = "'guide' must be an object with 'pages' (key -> {url, title}) and 'steps'."
        raise TacticsError(msg, path=where)
    pages: dict[str, GuidePage] = {}
    for key, page in value["pages"].items():
        if (
            not _PAGE_RE.match(key)
            or not isinstance(page, dict)
            or set(page) != {"url", "title"}
            or not _text(page["title"])
        ):
            msg = f"guide page {key!r} must be keyed like 'G3' and have exactly 'url' and 'title'."
            raise TacticsError(msg, path=where)
        _check_url(page["url"], where, None, None, f"guide page {key}")
        pages[key] = GuidePage(key, page["url"], page["title"])
    steps = value.get("steps")
    if not isinstance(steps, list) or [s.get("name") for s in steps] != list(STEPS):
        msg = f"'guide.steps' must list the guide's seven steps in order: {list(STEPS)}."
        raise TacticsError(msg, path=where)
    for s in steps:
        if s.get("page") not in pages or not _text(s.get("note")):
            msg = f"guide step {s.get('name')!r} needs a known 'page' and a 'note'."
            raise TacticsError(msg, path=where)
    return pages, tuple(dict(s) for s in steps)


def _check_url(url: Any, where: str, tid: str | None, sid: str | None, what: str) -> None:
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url:
        msg = f"{what} has a bad URL {url!r}; it must start with http:// or https://."
        raise TacticsError(msg, tactic_id=tid, study_id=sid, path=where)
    host = parsed.netloc.lower()
    mirror = next((m for m in _MIRROR_HOSTS if m in host), None)
    if mirror is not None:
        msg = (
            f"{what} links to {host}, a third-party copy, slide host or aggregator: not a source. "
            "Cite the DOI or the publisher's, repository's or issuing body's own page."
        )
        raise TacticsError(msg, tactic_id=tid, study_id=sid, path=where)
    if re.search(r"/search\b", parsed.path):
        msg = f"{what} links to a search results page ({url!r}), not a stable link."
        raise TacticsError(msg, tactic_id=tid, study_id=sid, path=where)


_STUDY_KEYS = {
    "authors",
    "year",
    "title",
    "venue",
    "design",
    "doi",
    "doi_status",
    "url",
    "guide_reference",
    "note",
    "year_note",
}


def _validate_studies(value: Any, designs: Mapping[str, Any], where: str) -> dict[str, Study]:
    if not isinstance(value, dict) or not value:
        msg = "'studies' must be a non-empty object: study id -> {authors, year, title, ...}."
        raise TacticsError(msg, path=where)
    return {sid: _validate_study(sid, s, designs, where) for sid, s in value.items()}


def _validate_study(sid: Any, s: Any, designs: Mapping[str, Any], where: str) -> Study:
    if not isinstance(sid, str) or not _STUDY_RE.match(sid):
        msg = f"study id {sid!r} must look like 'Koper1995'."
        raise TacticsError(msg, path=where)
    if not isinstance(s, dict) or set(s) - _STUDY_KEYS:
        unknown = sorted(set(s) - _STUDY_KEYS) if isinstance(s, dict) else s
        msg = f"unknown study fields {unknown!r}; allowed: {sorted(_STUDY_KEYS)}."
        raise TacticsError(msg, study_id=sid, path=where)
    for key in ("authors", "title", "venue"):
        if not _text(s.get(key)):
            msg = f"'{key}' must be non-empty text."
            raise TacticsError(msg, study_id=sid, path=where)
    _check_study_year(s.get("year"), s.get("year_note"), sid, where)
    if s.get("design") not in designs:
        msg = f"'design' {s.get('design')!r} is not one of the file's designs {sorted(designs)}."
        raise TacticsError(msg, study_id=sid, path=where)
    doi, url = s.get("doi"), s.get("url")
    status = _check_study_link(doi, s.get("doi_status"), url, sid, where)
    return Study(
        id=sid,
        authors=s["authors"],
        year=s.get("year"),
        title=s["title"],
        venue=s["venue"],
        design=s["design"],
        doi=doi,
        doi_status=status,
        url=url,
        guide_reference=s.get("guide_reference"),
        note=s.get("note", ""),
        year_note=s.get("year_note", ""),
    )


def _check_study_year(year: Any, year_note: Any, sid: str, where: str) -> None:
    if year is None:
        if not _text(year_note):
            msg = "'year' is missing; give the year, or null with a 'year_note' saying why."
            raise TacticsError(msg, study_id=sid, path=where)
    elif isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        msg = f"'year' must be a year such as 1995, got {year!r}."
        raise TacticsError(msg, study_id=sid, path=where)


def _check_study_link(doi: Any, status: Any, url: Any, sid: str, where: str) -> str:
    """A verified DOI, or a stable link when the DOI is unknown or unverified; the DOI status."""
    if status not in ("verified", "not verified", "not applicable"):
        msg = "'doi_status' must be 'verified', 'not verified' or 'not applicable'."
        raise TacticsError(msg, study_id=sid, path=where)
    if doi is not None:
        if status != "verified" or not isinstance(doi, str) or not _DOI_RE.match(doi):
            msg = (
                f"DOI {doi!r} must look like '10.1007/...' and be marked 'verified'; an "
                "unverified DOI is left out (null) and the stable link given instead."
            )
            raise TacticsError(msg, study_id=sid, path=where)
    elif status == "verified":
        msg = "'doi_status' is 'verified' but there is no DOI."
        raise TacticsError(msg, study_id=sid, path=where)
    elif url is None:
        msg = "no DOI and no 'url': give a verified DOI or a stable link."
        raise TacticsError(msg, study_id=sid, path=where)
    if url is not None:
        _check_url(url, where, None, sid, f"study {sid}")
    return str(status)


def _study_refs(
    value: Any, studies: Mapping[str, Study], where: str, what: str, tid: str | None = None
) -> tuple[Study, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{what} must be a list of study ids."
        raise TacticsError(msg, tactic_id=tid, path=where)
    for v in value:
        if v not in studies:
            msg = f"{what} cites {v!r}, which is not in 'studies'."
            raise TacticsError(msg, tactic_id=tid, path=where)
    return tuple(studies[v] for v in value)


def _validate_marking(
    name: str, c: Mapping[str, Any], studies: Mapping[str, Study], where: str, what: str
) -> None:
    """A threshold is either this product's heuristic (with reasoning) or evidence-based."""
    if not isinstance(c.get("heuristic"), bool):
        msg = (
            f"{what} '{name}' must say whether it is this product's heuristic "
            "('heuristic': true or false)."
        )
        raise TacticsError(msg, path=where)
    if c["heuristic"]:
        if not _text(c.get("reasoning")) or "basis" in c:
            msg = f"{what} '{name}' is a heuristic: give its 'reasoning' (and no 'basis')."
            raise TacticsError(msg, path=where)
    else:
        if not _text(c.get("basis")) or "reasoning" in c:
            msg = (
                f"{what} '{name}' is not marked as a heuristic: give the 'basis' in the evidence "
                "(and no 'reasoning')."
            )
            raise TacticsError(msg, path=where)
        if not c.get("studies"):
            msg = (
                f"{what} '{name}' is evidence-based but cites no 'studies'; cite them or mark it "
                "as a heuristic."
            )
            raise TacticsError(msg, path=where)
    _study_refs(c.get("studies", []), studies, where, f"{what} '{name}'")


def _validate_constants(value: Any, studies: Mapping[str, Study], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        msg = "'constants' must be an object."
        raise TacticsError(msg, path=where)
    missing = _REQUIRED_CONSTANTS - set(value)
    if missing:
        msg = f"constants {sorted(missing)} are missing."
        raise TacticsError(msg, path=where)
    allowed = {"value", "unit", "heuristic", "reasoning", "basis", "studies", "plan_default"}
    for name, c in value.items():
        if not isinstance(c, dict) or not {"value", "unit"} <= set(c) or set(c) - allowed:
            msg = (
                f"constant '{name}' must have 'value', 'unit', 'heuristic', 'reasoning' or "
                "'basis', and 'studies'."
            )
            raise TacticsError(msg, path=where)
        if not isinstance(c["value"], int | float) or isinstance(c["value"], bool):
            msg = f"constant '{name}' must be a number."
            raise TacticsError(msg, path=where)
        _validate_marking(name, c, studies, where, "constant")
        if c.get("plan_default") and not c["heuristic"]:
            if not c["basis"].startswith(_PLAN_DEFAULT_PREFIX):
                msg = (
                    f"constant '{name}' is a plan default: its basis must start "
                    f"'{_PLAN_DEFAULT_PREFIX}' (the guide does not state it)."
                )
                raise TacticsError(msg, path=where)
    return value


def _validate_windows(value: Any, studies: Mapping[str, Study], where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or "default" not in value:
        msg = "'general_windows' must be an object with at least a 'default' window."
        raise TacticsError(msg, path=where)
    for name, w in value.items():
        ok = isinstance(w, dict) and {"start_hour", "end_hour", "days"} <= set(w)
        ok = ok and all(
            isinstance(w[k], int) and 0 <= w[k] <= 23 for k in ("start_hour", "end_hour")
        )
        ok = ok and isinstance(w["days"], list) and bool(w["days"])
        ok = ok and all(isinstance(d, int) and 0 <= d <= 6 for d in w["days"])
        if not ok:
            msg = (
                f"general window '{name}' needs start_hour and end_hour (0-23), days (0-6), "
                "heuristic, reasoning or basis, and studies."
            )
            raise TacticsError(msg, path=where)
        _validate_marking(name, w, studies, where, "general window")
    return value


def _validate_tactic(
    entry: Any,
    index: int,
    where: str,
    studies: Mapping[str, Study],
    designs: Mapping[str, tuple[str, ...]],
    pages: Mapping[str, GuidePage],
    constants: Mapping[str, Any],
) -> Tactic:
    if not isinstance(entry, dict):
        msg = f"tactic number {index + 1} is not a JSON object."
        raise TacticsError(msg, path=where)
    tid = entry.get("id")
    if not isinstance(tid, str) or not _ID_RE.match(tid):
        msg = f"tactic number {index + 1} has a bad or missing id {tid!r}; ids look like 'T01'."
        raise TacticsError(msg, path=where)

    def fail(msg: str) -> TacticsError:
        return TacticsError(msg, tactic_id=tid, path=where)

    _check_tactic_fields(entry, fail)
    _check_dosage(entry["dosage"], entry["role"], fail)
    primary, supporting = _tactic_studies(entry, studies, where, tid, fail)
    evidence = entry["evidence"]
    _check_evidence(evidence, primary, designs, fail)
    guide = entry["guide"]
    _check_guide_ref(guide, pages, fail)
    _check_review_and_priority(entry, fail)
    try:
        _validate_condition(entry["applies_when"], constants)
        _validate_reason(entry["reason_template"], constants)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    sources = tuple(Source(s.id, s.link, s.citation) for s in (primary, *supporting))
    return Tactic(
        id=tid,
        name=entry["name"],
        summary=entry["summary"],
        applies_when=_resolve(entry["applies_when"], constants),
        what_officers_do=tuple(entry["what_officers_do"]),
        dosage=dict(entry["dosage"]),
        evidence={**evidence, "design": primary.design},
        sources=sources,
        caution=entry["role"] == "caution",
        priority=entry["priority"],
        reason_template=_resolve_reason(entry["reason_template"], constants),
        legitimacy_review=entry.get("legitimacy_review", False),
        role=entry["role"],
        step=entry["step"],
        scope=entry["scope"],
        staffing=tuple(entry.get("staffing", [])),
        primary_study=primary,
        supporting_studies=supporting,
        guide_page=pages[guide["page"]],
        guide_section=guide["section"],
    )


def _check_tactic_fields(entry: Mapping[str, Any], fail: Callable[[str], TacticsError]) -> None:
    """The tactic's keys, texts, role, step, scope, staffing and steps for officers."""
    unknown = set(entry) - _TACTIC_REQUIRED - _TACTIC_OPTIONAL
    if unknown:
        allowed = sorted(_TACTIC_REQUIRED | _TACTIC_OPTIONAL)
        msg = f"unknown fields {sorted(unknown)}; allowed: {allowed}."
        raise fail(msg)
    missing = _TACTIC_REQUIRED - set(entry)
    if missing:
        msg = f"missing fields {sorted(missing)}."
        raise fail(msg)
    for key in ("name", "summary"):
        if not _text(entry[key]):
            msg = f"'{key}' must be non-empty text."
            raise fail(msg)
    for key, value, allowed_values in (
        ("role", entry["role"], _ROLES),
        ("step", entry["step"], STEPS),
        ("scope", entry["scope"], _SCOPES),
    ):
        if value not in allowed_values:
            what = "the guide's steps " if key == "step" else ""
            msg = f"'{key}' must be one of {what}{list(allowed_values)}, got {value!r}."
            raise fail(msg)
    staffing = entry.get("staffing", [])
    if not isinstance(staffing, list) or not set(staffing) <= set(STAFFING_MODELS):
        msg = f"'staffing' must be a list of {list(STAFFING_MODELS)}."
        raise fail(msg)
    if entry["role"] == "primary" and not staffing:
        msg = "a primary tactic must name the staffing models it is for."
        raise fail(msg)
    steps = entry["what_officers_do"]
    if not isinstance(steps, list) or not steps or not all(_text(s) for s in steps):
        msg = "'what_officers_do' must be a non-empty list of sentences."
        raise fail(msg)


def _check_review_and_priority(
    entry: Mapping[str, Any], fail: Callable[[str], TacticsError]
) -> None:
    if "legitimacy_review" in entry and not isinstance(entry["legitimacy_review"], bool):
        msg = "'legitimacy_review' must be true or false."
        raise fail(msg)
    priority = entry["priority"]
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        msg = "'priority' must be a whole number >= 1 (1 = first)."
        raise fail(msg)


def _check_dosage(dosage: Any, role: str, fail: Callable[[str], TacticsError]) -> None:
    """The dose in words, its duration and days, positive numbers, and who may set frequency."""
    if not isinstance(dosage, dict) or not _text(dosage.get("text")):
        msg = (
            "'dosage' is missing or has no 'text'; give the dose in words (and numbers where "
            "known)."
        )
        raise fail(msg)
    for k, v in dosage.items():
        _check_dosage_field(k, v, fail)
    if role != "primary":
        fixed = [k for k in (*_FREQUENCY_FIELDS, "on_days") if k in dosage]
        if fixed:
            msg = (
                "only a primary tactic sets how often and how long places are visited; remove "
                f"{fixed} (a {role} may carry bounds, reviews and a duration)."
            )
            raise fail(msg)
    if "campaign_days" in dosage and dosage.get("duration") != "campaign":
        msg = "dosage 'campaign_days' needs 'duration': 'campaign'."
        raise fail(msg)


def _check_dosage_field(k: str, v: Any, fail: Callable[[str], TacticsError]) -> None:
    if k == "text":
        return
    if k == "duration":
        if v not in _DURATIONS:
            msg = f"dosage 'duration' must be one of {list(_DURATIONS)}, got {v!r}."
            raise fail(msg)
        return
    if k == "on_days":
        if v not in ("peak", "all"):
            msg = f"dosage 'on_days' must be 'peak' or 'all', got {v!r}."
            raise fail(msg)
        return
    if k not in _DOSAGE_NUMBERS:
        allowed = sorted(_DOSAGE_NUMBERS | {"text", "duration", "on_days"})
        msg = f"unknown dosage field '{k}'; allowed: {allowed}."
        raise fail(msg)
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        msg = f"dosage '{k}' must be a positive number, got {v!r}."
        raise fail(msg)


def _tactic_studies(
    entry: Mapping[str, Any],
    studies: Mapping[str, Study],
    where: str,
    tid: str,
    fail: Callable[[str], TacticsError],
) -> tuple[Study, tuple[Study, ...]]:
    """The tactic's primary study and its supporting studies, all from ``studies``."""
    primary_id = entry["primary_study"]
    if not _text(primary_id):
        msg = "'primary_study' is empty; cite the primary study (an id from 'studies')."
        raise fail(msg)
    (primary,) = _study_refs([primary_id], studies, where, "'primary_study'", tid)
    supporting = _study_refs(
        entry.get("supporting_studies", []), studies, where, "'supporting_studies'", tid
    )
    return primary, supporting


def _check_evidence(
    evidence: Any,
    primary: Study,
    designs: Mapping[str, tuple[str, ...]],
    fail: Callable[[str], TacticsError],
) -> None:
    """An evidence grade and summary, the grade one that the primary study's design allows."""
    if (
        not isinstance(evidence, dict)
        or not {"strength", "summary"} <= set(evidence)
        or set(evidence) - {"strength", "summary", "grade_note"}
        or evidence["strength"] not in _STRENGTHS
        or not _text(evidence["summary"])
    ):
        msg = (
            f"'evidence' must be {{'strength': one of {list(_STRENGTHS)}, 'summary': text, "
            "optional 'grade_note'}."
        )
        raise fail(msg)
    allowed = designs[primary.design]
    if evidence["strength"] not in allowed:
        grades = list(allowed) or "none, it cannot be a primary study"
        msg = (
            f"evidence grade {evidence['strength']} does not follow the design of its primary "
            f"study {primary.id} ({primary.design}: allows {grades})."
        )
        raise fail(msg)


def _check_guide_ref(
    guide: Any, pages: Mapping[str, GuidePage], fail: Callable[[str], TacticsError]
) -> None:
    if (
        not isinstance(guide, dict)
        or set(guide) != {"page", "section"}
        or guide["page"] not in pages
        or not _text(guide["section"])
    ):
        msg = (
            f"'guide' must be {{'page': one of {sorted(pages)}, 'section': text}}: the guide "
            "page and section the tactic rests on."
        )
        raise fail(msg)


def _validate_left_out(
    value: Any, tactics: Mapping[str, Tactic], studies: Mapping[str, Study], where: str
) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, list):
        msg = "'left_out' must be a list of {id or name, reason, studies}."
        raise TacticsError(msg, path=where)
    for e in value:
        ok = isinstance(e, dict) and _text(e.get("reason")) and ("id" in e or _text(e.get("name")))
        if not ok or set(e) - {"id", "name", "reason", "studies"}:
            msg = f"left-out entry {e!r} needs an 'id' (a tactic) or a 'name', and a 'reason'."
            raise TacticsError(msg, path=where)
        if "id" in e and e["id"] not in tactics:
            msg = f"left-out entry names tactic {e['id']!r}, which does not exist."
            raise TacticsError(msg, path=where)
        _study_refs(e.get("studies", []), studies, where, "a left-out entry")
    return tuple(dict(e) for e in value)


def _validate_staffing(
    value: Any,
    tactics: Mapping[str, Tactic],
    left_out: Sequence[Mapping[str, Any]],
    where: str,
) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, dict) or set(value) != set(STAFFING_MODELS):
        msg = f"'staffing_models' must describe exactly {list(STAFFING_MODELS)}."
        raise TacticsError(msg, path=where)
    used: set[str] = set()
    for name, m in value.items():
        cands = m.get("candidates") if isinstance(m, dict) else None
        if not _text(m.get("label")) or not _text(m.get("description")) or not cands:
            msg = (
                f"staffing model '{name}' needs a label, a description and a non-empty list of "
                "candidate tactics."
            )
            raise TacticsError(msg, path=where)
        for tid in cands:
            t = tactics.get(tid)
            if t is None or t.role != "primary" or name not in t.staffing:
                msg = (
                    f"staffing model '{name}' lists {tid!r}, which must be a primary tactic for "
                    f"'{name}'."
                )
                raise TacticsError(msg, path=where)
        if tactics[cands[-1]].scope != "area":
            msg = (
                f"staffing model '{name}': the last candidate (the default) must be judged on any "
                "place (scope 'area')."
            )
            raise TacticsError(msg, path=where)
        used.update(cands)
    explained = {e["id"] for e in left_out if "id" in e}
    for t in tactics.values():
        if t.role == "primary" and t.id not in used and t.id not in explained:
            msg = (
                "a primary tactic that no staffing model uses needs a 'left_out' entry saying why."
            )
            raise TacticsError(msg, tactic_id=t.id, path=where)
    return {k: dict(v) for k, v in value.items()}


def _validate_recommendation(
    value: Any, tactics: Mapping[str, Tactic], where: str
) -> tuple[str, ...]:
    order = value.get("duration_order") if isinstance(value, dict) else None
    if not isinstance(order, list) or not order:
        msg = (
            "'recommendation' must have a non-empty 'duration_order' (tactic ids, first that "
            "applies wins)."
        )
        raise TacticsError(msg, path=where)
    for tid in order:
        t = tactics.get(tid)
        if t is None or t.role != "companion" or "duration" not in t.dosage:
            msg = (
                f"duration_order lists {tid!r}, which must be a companion whose dosage has a "
                "'duration'."
            )
            raise TacticsError(msg, path=where)
    for t in tactics.values():
        if "duration" in t.dosage and t.id not in order:
            msg = (
                "a tactic with a dosage 'duration' must be listed in "
                "recommendation.duration_order, so only one duration applies to a place."
            )
            raise TacticsError(msg, tactic_id=t.id, path=where)
    return tuple(order)


def _validate_condition(cond: Any, constants: Mapping[str, Any] | None = None) -> None:
    """Raise ValueError (with what is wrong) unless ``cond`` is a valid condition."""
    if cond == "always":
        return
    if not isinstance(cond, dict) or not cond:
        msg = f'condition {cond!r} must be "always" or an object.'
        raise ValueError(msg)
    keys = set(cond)
    if keys == {"always"}:
        if cond["always"] is not True:
            msg = '{"always": ...} must be {"always": true}.'
            raise ValueError(msg)
        return
    if keys in ({"all"}, {"any"}):
        items = next(iter(cond.values()))
        if not isinstance(items, list) or not items:
            msg = f"'{next(iter(keys))}' needs a non-empty list of conditions."
            raise ValueError(msg)
        for c in items:
            _validate_condition(c, constants)
        return
    if keys == {"not"}:
        _validate_condition(cond["not"], constants)
        return
    if keys == {"field", "op", "constant"}:
        cond = _named_threshold(cond, constants)
    if set(cond) != {"field", "op", "value"}:
        msg = (
            f"condition {cond!r} must be a comparison {{field, op, value or constant}} or "
            "all/any/not/always."
        )
        raise ValueError(msg)
    _validate_comparison(cond["field"], cond["op"], cond["value"])


def _named_threshold(cond: Mapping[str, Any], constants: Mapping[str, Any] | None) -> dict:
    """``{field, op, constant}`` as ``{field, op, value}`` with the constant's value."""
    name = cond["constant"]
    if constants is None or name not in constants:
        msg = f"condition names the constant {name!r}, which is not in 'constants'."
        raise ValueError(msg)
    if FIELDS.get(cond["field"]) != "number" or cond["op"] in ("in", "between"):
        msg = (
            "a named threshold needs a numeric field and a comparison, not "
            f"{cond['field']!r} {cond['op']!r}."
        )
        raise ValueError(msg)
    return {"field": cond["field"], "op": cond["op"], "value": constants[name]["value"]}


def _validate_comparison(name: Any, op: Any, value: Any) -> None:
    """One ``{field, op, value}`` comparison: a known field, operator and comparable values."""
    if name not in FIELDS:
        msg = f"unknown field '{name}' in a condition; known fields: {sorted(FIELDS)}."
        raise ValueError(msg)
    if op not in _OPS:
        msg = f"unknown operator '{op}' in a condition; known operators: {list(_OPS)}."
        raise ValueError(msg)
    values = value if op in ("in", "between") else [value]
    if op in ("in", "between") and (not isinstance(value, list) or not value):
        msg = f"operator '{op}' on '{name}' needs a non-empty list."
        raise ValueError(msg)
    if op == "between" and len(value) != 2:
        msg = f"operator 'between' on '{name}' needs a list of two numbers [low, high]."
        raise ValueError(msg)
    for v in values:
        if not _comparable(FIELDS[name], op, v):
            msg = f"field '{name}' cannot be compared with {op} {v!r}."
            raise ValueError(msg)


def _comparable(kind: Any, op: str, v: Any) -> bool:
    """Whether a field of ``kind`` ("number", "bool" or its allowed values) takes ``op v``."""
    if kind == "number":
        return isinstance(v, int | float) and not isinstance(v, bool)
    if kind == "bool":
        return isinstance(v, bool) and op in ("eq", "ne")
    return v in kind and op in ("eq", "ne", "in")


def _resolve(cond: Any, constants: Mapping[str, Any]) -> Any:
    """The condition with every named threshold replaced by its value."""
    if not isinstance(cond, dict):
        return cond
    if "constant" in cond:
        return {
            "field": cond["field"],
            "op": cond["op"],
            "value": constants[cond["constant"]]["value"],
        }
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        return {key: [_resolve(c, constants) for c in cond[key]]}
    if "not" in cond:
        return {"not": _resolve(cond["not"], constants)}
    return dict(cond)


def _resolve_reason(template: Any, constants: Mapping[str, Any]) -> Any:
    if isinstance(template, list):
        return [{"when": _resolve(e["when"], constants), "text": e["text"]} for e in template]
    return template


def _validate_reason(template: Any, constants: Mapping[str, Any] | None = None) -> None:
    if isinstance(template, str):
        _check_template(template)
        return
    if not isinstance(template, list) or not template:
        msg = "'reason_template' must be text or a non-empty list of {when, text}."
        raise ValueError(msg)
    for entry in template:
        if not isinstance(entry, dict) or set(entry) != {"when", "text"}:
            msg = "each reason_template entry must be an object with exactly 'when' and 'text'."
            raise ValueError(msg)
        _validate_condition(entry["when"], constants)
        _check_template(entry["text"])


def _check_template(text: Any) -> None:
    if not isinstance(text, str) or not text.strip():
        msg = "a reason template must be non-empty text."
        raise ValueError(msg)
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        msg = f"reason template {text!r} is not a valid template ({exc})."
        raise ValueError(msg) from exc
    allowed = set(FIELDS) | set(TEMPLATE_FIELDS)
    for _, name, _, _ in parsed:
        if name is not None and name not in allowed:
            msg = f"reason template uses unknown field '{{{name}}}'; known: {sorted(allowed)}."
            raise ValueError(msg)


# --------------------------------------------------------------------------------------------
# Conditions and features


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(isinstance(v, float | np.floating) and math.isnan(v))
    except TypeError:
        return False


def evaluate_condition(cond: Any, features: Mapping[str, Any]) -> bool:
    """Evaluate a (validated) condition on a feature mapping; missing values compare false."""
    if cond == "always" or (isinstance(cond, dict) and set(cond) == {"always"}):
        return True
    if "all" in cond:
        return all(evaluate_condition(c, features) for c in cond["all"])
    if "any" in cond:
        return any(evaluate_condition(c, features) for c in cond["any"])
    if "not" in cond:
        return not evaluate_condition(cond["not"], features)
    v = features.get(cond["field"])
    if _missing(v):
        return False
    op, target = cond["op"], cond["value"]
    if op == "eq":
        return bool(v == target)
    if op == "ne":
        return bool(v != target)
    if op == "lt":
        return bool(v < target)
    if op == "le":
        return bool(v <= target)
    if op == "gt":
        return bool(v > target)
    if op == "ge":
        return bool(v >= target)
    if op == "in":
        return v in target
    return bool(target[0] <= v <= target[1])


def _as_mapping(row: pd.Series) -> Mapping[str, Any] | pd.Series:
    """A table row as a dict of its values (:func:`_get` reads a dict many times faster than a
    Series, and finds the same values); the row itself when its labels repeat."""
    return dict(zip(row.index, row.to_numpy(), strict=True)) if row.index.is_unique else row


def _get(profile: Mapping[str, Any] | pd.Series, name: str, default: Any = None) -> Any:
    try:
        v = profile[name]
    except (KeyError, IndexError):
        return default
    if isinstance(v, np.generic):
        v = v.item()
    return v


def _as_list(v: Any) -> list | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            return None
    return [x.item() if isinstance(x, np.generic) else x for x in list(v)]


def _hours(start: int, end: int) -> set[int]:
    span = (end - start) % 24 or 24
    return {(start + i) % 24 for i in range(span)}


def format_window(start_hour: int, end_hour: int, days: Sequence[int] | None = None) -> str:
    """``"Fri-Sat 22:00-03:00"`` style label (days omitted when all seven or none)."""
    hours = f"{int(start_hour):02d}:00\u2013{int(end_hour):02d}:00"
    if not days or len(set(days)) == 7:
        return hours
    days = sorted(set(int(d) for d in days))
    runs: list[list[int]] = []
    for d in days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = [
        _DAY_NAMES[r[0]] if len(r) == 1 else f"{_DAY_NAMES[r[0]]}\u2013{_DAY_NAMES[r[-1]]}"
        for r in runs
    ]
    return f"{', '.join(parts)} {hours}"


def _no_time_caveat(kb: KnowledgeBase) -> str:
    w = kb.general_windows["default"]
    nte = kb.general_windows.get("night_time_economy", w)
    return (
        "No time of day in these data (police.uk gives the month only), so this place's own peak "
        "is unknown: visits use this tool's general window "
        f"{format_window(w['start_hour'], w['end_hour'])} (a product heuristic, not the guide's) "
        "with start times varied daily. Check local knowledge or command-and-control data; for a "
        "night-time-economy place use "
        f"{format_window(nte['start_hour'], nte['end_hour'])} instead."
    )


#: How a patrol window's basis is said in a tactic's dose.
_BASIS_TEXT = {
    "profile": "this place's peak",
    "force": "the force-wide peak: too few incidents here to show this place's own",
    "general": "this tool's general window",
}


def patrol_window(
    profile: Mapping[str, Any] | pd.Series, kb: KnowledgeBase | None = None
) -> PatrolWindow:
    """When to patrol a place: its own peak window, or this tool's general window with a caveat.

    Parameters
    ----------
    profile : mapping or pandas.Series
        A ranked hot spot row (or patrol area row) with ``has_time``, ``peak_start_hour``,
        ``peak_end_hour`` and ``peak_days`` (see docs/architecture.md).
    kb : KnowledgeBase, optional
        Default the shipped knowledge base.

    Returns
    -------
    PatrolWindow

    Notes
    -----
    Visits are restricted to each place's own temporal peak with start times varied daily, as the
    UK trials did (Thames Valley ranked day and night hot spots separately; Southend varied its
    patrol times). Without times of day the general window in ``hotspots/data/tactics.json``
    (``general_windows.default``, 15:00-02:00) is used and the caveat says so: that window is this
    product's heuristic, marked as such in the file with its reasoning.
    """
    kb = kb or load_knowledge_base()
    has_time = (
        bool(_get(profile, "has_time", False)) if not _missing(_get(profile, "has_time")) else False
    )
    start, end = _get(profile, "peak_start_hour"), _get(profile, "peak_end_hour")
    if has_time and not _missing(start) and not _missing(end):
        given = _as_list(_get(profile, "peak_days")) or range(7)
        peak_days = tuple(sorted({int(d) for d in given}))
        label = _get(profile, "peak_window") or format_window(int(start), int(end), peak_days)
        basis = "force" if _get(profile, "peak_basis") == "force" else "profile"
        return PatrolWindow(int(start), int(end), peak_days, basis, str(label))
    w = kb.general_windows["default"]
    general_days = tuple(w["days"])
    return PatrolWindow(
        w["start_hour"],
        w["end_hour"],
        general_days,
        "general",
        format_window(w["start_hour"], w["end_hour"], general_days) + " (general window)",
        _no_time_caveat(kb),
    )


def profile_features(
    profile: Mapping[str, Any] | pd.Series,
    *,
    n_hotspots: int | None = None,
    total_harm: float | None = None,
    kb: KnowledgeBase | None = None,
) -> dict[str, Any]:
    """The fields conditions and reason templates use, from one hot spot's profile.

    Parameters
    ----------
    profile : mapping or pandas.Series
        A row of the ranked hot spots table (docs/architecture.md) or of the patrol areas table.
        Missing columns become missing features (conditions on them are false).
    n_hotspots : int, optional
        Number of ranked places, for ``rank_fraction`` (rank / n_hotspots).
    total_harm : float, optional
        Sum of harm weights over all incidents, for ``harm_share`` and ``harm_ratio``
        (harm share / incident share). Also read from a ``total_harm`` key of the profile.
    kb : KnowledgeBase, optional

    Returns
    -------
    dict
        Every key of :data:`FIELDS` and ``TEMPLATE_FIELDS``; missing values are ``None`` or NaN.

    Notes
    -----
    ``size_class`` compares ``max_extent_m`` (metres) with the micro-place scale: ``micro`` up to
    ``micro_place_max_extent_m`` (200 m, a heuristic around the ~150 m micro place of the UK
    trials), ``large`` from ``large_area_min_extent_m`` (500 m, a heuristic), ``street`` between.
    ``peak_in_nte`` is true when every hour of the peak window lies in this tool's
    night-time-economy window 18:00-06:00 (a heuristic); ``peak_is_night`` when more than
    ``night_peak_min_share`` of them do; ``peak_in_afternoon_evening`` when all lie in Operation
    Savvy's 15:00-22:00 window; ``peak_weekend`` when the peak days are within Fri-Sun.
    ``recent_share`` is the share of incidents in the last third of the months (the emerging rule of
    :mod:`hotspots.profile`).
    """
    kb = kb or load_knowledge_base()
    f: dict[str, Any] = {name: _get(profile, name) for name in FIELDS}
    _number_features(f)
    _share_features(f, profile, n_hotspots, total_harm)
    _size_features(f, kb)
    _month_features(f, profile)
    _time_features(f, profile, kb)
    _text_features(f, kb)
    return f


#: Profile columns read as numbers (NaN when missing), and those of them that count things.
_NUMBER_FEATURES = (
    "incidents",
    "share",
    "harm",
    "pai",
    "rank",
    "area_m2",
    "max_extent_m",
    "months_active",
    "n_months",
    "night_share",
)
_COUNT_FEATURES = ("incidents", "rank", "months_active", "n_months")


def _number_features(f: dict[str, Any]) -> None:
    for name in _NUMBER_FEATURES:
        v: Any = f.get(name)
        f[name] = float("nan") if _missing(v) else float(v)
    for name in _COUNT_FEATURES:
        if not _missing(f[name]):
            f[name] = int(f[name])


def _share_features(
    f: dict[str, Any],
    profile: Mapping[str, Any] | pd.Series,
    n_hotspots: int | None,
    total_harm: float | None,
) -> None:
    """``n_hotspots``, ``rank_fraction``, ``harm_share`` and ``harm_ratio``."""
    n_hotspots = n_hotspots if n_hotspots is not None else _get(profile, "n_hotspots")
    f["n_hotspots"] = n_hotspots if not _missing(n_hotspots) else None
    f["rank_fraction"] = (
        f["rank"] / n_hotspots if n_hotspots and not _missing(f["rank"]) else float("nan")
    )
    total_harm = total_harm if total_harm is not None else _get(profile, "total_harm")
    if not _missing(f["harm"]) and total_harm and not _missing(f["share"]) and f["share"] > 0:
        f["harm_share"] = f["harm"] / float(total_harm)
        f["harm_ratio"] = f["harm_share"] / f["share"]
    else:
        f["harm_share"] = float("nan")
        f["harm_ratio"] = float("nan")


def _size_features(f: dict[str, Any], kb: KnowledgeBase) -> None:
    """``size_vs_micro`` and ``size_class`` from ``max_extent_m``."""
    micro = kb.constant("micro_place_m")
    ext = f["max_extent_m"]
    if _missing(ext):
        f["size_class"], f["size_vs_micro"] = None, float("nan")
    else:
        f["size_vs_micro"] = ext / micro
        f["size_class"] = (
            "micro"
            if ext <= kb.constant("micro_place_max_extent_m")
            else "large"
            if ext > kb.constant("large_area_min_extent_m")
            else "street"
        )


def _month_features(f: dict[str, Any], profile: Mapping[str, Any] | pd.Series) -> None:
    """Months from ``monthly_counts`` when the profile lacks them, recent share, rates."""
    counts = _as_list(_get(profile, "monthly_counts"))
    if counts and _missing(f["n_months"]):
        f["n_months"] = len(counts)
    if counts and _missing(f["months_active"]):
        f["months_active"] = sum(1 for c in counts if c > 0)
    if counts and sum(counts) > 0:
        recent = max(1, round(len(counts) / 3))
        f["recent_share"] = sum(counts[-recent:]) / sum(counts)
        f["recent_months"] = recent
    else:
        f["recent_share"], f["recent_months"] = float("nan"), None
    if not _missing(f["months_active"]) and f["n_months"]:
        f["months_active_share"] = f["months_active"] / f["n_months"]
    else:
        f["months_active_share"] = float("nan")
    if not _missing(f["incidents"]) and f["n_months"]:
        f["incidents_per_month"] = f["incidents"] / f["n_months"]
    else:
        f["incidents_per_month"] = float("nan")


def _time_features(
    f: dict[str, Any], profile: Mapping[str, Any] | pd.Series, kb: KnowledgeBase
) -> None:
    """``has_time`` and the peak window's place in the night-time economy and the week."""
    f["has_time"] = bool(f["has_time"]) if not _missing(f["has_time"]) else False
    nte = _hours(kb.constant("nte_start_hour"), kb.constant("nte_end_hour"))
    start, end = _get(profile, "peak_start_hour"), _get(profile, "peak_end_hour")
    if f["has_time"] and not _missing(start) and not _missing(end):
        peak = _hours(int(start), int(end))
        f["peak_in_nte"] = peak <= nte
        f["peak_is_night"] = len(peak & nte) > len(peak) * kb.constant("night_peak_min_share")
        f["peak_in_afternoon_evening"] = peak <= _hours(
            int(kb.constant("afternoon_evening_start_hour")),
            int(kb.constant("afternoon_evening_end_hour")),
        )
        days = _as_list(_get(profile, "peak_days"))
        f["peak_weekend"] = bool(days and set(days) <= {4, 5, 6})
        window = patrol_window(profile, kb)
        f["peak_window"] = window.label
    else:
        f["peak_in_nte"] = f["peak_is_night"] = f["peak_in_afternoon_evening"] = None
        f["peak_weekend"] = None
        f["peak_window"] = "unknown (no time of day in the data)"


def _text_features(f: dict[str, Any], kb: KnowledgeBase) -> None:
    """Windows in words, the temporal class in words and shares in per cent."""
    nte_w = kb.general_windows.get("night_time_economy")
    f["nte_window"] = format_window(kb.constant("nte_start_hour"), kb.constant("nte_end_hour"))
    if nte_w is None:  # pragma: no cover - shipped file has it
        f["nte_window"] = "18:00\u201306:00"
    g = kb.general_windows["default"]
    f["general_window"] = format_window(g["start_hour"], g["end_hour"])
    tc = f["temporal_class"]
    f["temporal_class_text"] = (
        str(tc).capitalize() if isinstance(tc, str) and tc else "Unclassified"
    )
    for name, src in (
        ("share_pct", "share"),
        ("harm_share_pct", "harm_share"),
        ("night_share_pct", "night_share"),
        ("recent_share_pct", "recent_share"),
    ):
        f[name] = 100.0 * f[src] if not _missing(f[src]) else float("nan")


class _SafeFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if _missing(value):
            return "n/a"
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


def _fill(template: str, features: Mapping[str, Any]) -> str:
    return _SafeFormatter().vformat(template, (), _Defaulting(features))


class _Defaulting(dict):
    def __init__(self, base: Mapping[str, Any]):
        super().__init__(base)

    def __missing__(self, key: str) -> None:
        return None


# --------------------------------------------------------------------------------------------
# Matching


def match_tactics(
    profile: Mapping[str, Any] | pd.Series,
    tactics: Iterable[Tactic] | KnowledgeBase | None = None,
    *,
    n_hotspots: int | None = None,
    total_harm: float | None = None,
) -> list[TacticMatch]:
    """Every tactic whose condition holds on one hot spot or patrol area, each with its reason.

    This is the catalogue view (a hot spot's card): it lists alternatives side by side, so two
    primary tactics or a campaign and a programme can both appear. For one coherent plan per place
    use :func:`recommend`.

    Parameters
    ----------
    profile : mapping or pandas.Series
        One row of the ranked hot spots (or patrol areas) table.
    tactics : iterable of Tactic or KnowledgeBase, optional
        Default the shipped knowledge base.
    n_hotspots, total_harm : optional
        Context for ``rank_fraction`` and ``harm_ratio`` (see :func:`profile_features`).

    Returns
    -------
    list of TacticMatch
        Sorted by priority then id. When the data have no time of day every match carries the
        no-time caveat (see :func:`patrol_window`).

    Notes
    -----
    Size is judged against the ~150 m micro place of the UK trials (Basford et al. 2021,
    https://doi.org/10.1007/s41887-021-00067-2); chronic against :mod:`hotspots.profile`'s
    ``temporal_class``; night-time economy against this tool's 18:00-06:00 window (a heuristic);
    harm concentration as harm share over count share (a heuristic cut-off of 1.5).

    Examples
    --------
    >>> m = match_tactics({"temporal_class": "chronic", "months_active": 11, "n_months": 12,
    ...                    "max_extent_m": 150.0, "has_time": False, "incidents": 40})
    >>> [x.tactic.id for x in m if x.tactic.id == "T13"], m[0].caveat is not None
    (['T13'], True)
    """
    kb = tactics if isinstance(tactics, KnowledgeBase) else load_knowledge_base()
    pool = kb.tactics if tactics is None or isinstance(tactics, KnowledgeBase) else tuple(tactics)
    features = profile_features(profile, n_hotspots=n_hotspots, total_harm=total_harm, kb=kb)
    caveat = None if features["has_time"] else _no_time_caveat(kb)
    matches = [
        TacticMatch(t, t.reason(features), t.priority, caveat) for t in pool if t.applies(features)
    ]
    matches.sort(key=lambda m: (m.priority, m.tactic.id))
    return matches


def match_table(
    frame: pd.DataFrame,
    tactics: Iterable[Tactic] | KnowledgeBase | None = None,
    *,
    id_column: str = "hotspot_id",
    total_harm: float | None = None,
    n_hotspots: int | None = None,
) -> dict[str, list[TacticMatch]]:
    """:func:`match_tactics` for every row of a ranked hot spots or patrol areas table.

    Parameters
    ----------
    frame : pandas.DataFrame
    id_column : str, default "hotspot_id"
        The column whose values key the result (``"patrol_area_id"`` for patrol areas).
    total_harm, n_hotspots : optional
        Default: ``n_hotspots`` = number of rows; ``total_harm`` from a ``total_harm`` column.

    Returns
    -------
    dict
        id -> list of TacticMatch.
    """
    n = n_hotspots if n_hotspots is not None else len(frame)
    out: dict[str, list[TacticMatch]] = {}
    for _, row in frame.iterrows():
        out[str(row[id_column])] = match_tactics(row, tactics, n_hotspots=n, total_harm=total_harm)
    return out


# --------------------------------------------------------------------------------------------
# One coherent recommendation per place


@dataclass(frozen=True)
class Dose:
    """The one dose a place gets under its recommendation.

    Attributes
    ----------
    visit_minutes : int or None
        Minutes on foot inside the place per visit (None for a foot beat covering a whole shift).
    min_minutes, max_minutes : int or None
        The shortest visit that counts and the longest worth planning, across every item of the
        recommendation (minutes).
    visits_per_day : int or None
        Visits on each patrol day (derived from ``revisit_hours`` or ``minutes_per_hour`` and the
        window when the primary tactic gives those instead).
    revisit_hours : float or None
        Come back at least this often (hours) through the window.
    minutes_per_hour : float or None
        A floor of presence in every hour of the window (minutes).
    days : tuple of int
        Weekdays (Mon=0) on which that frequency applies: the peak days, or all seven.
    other_days_visits : int
        Visits on the remaining days so that no gap exceeds ``max_gap_days`` (0 or 1).
    consecutive_days : int or None
        Patrol days come in runs of about this many days where the plan allows.
    max_gap_days : int
        Most days between two visits.
    duration : str or None
        ``"programme"`` (standing, reviewed) or ``"campaign"`` (time-limited).
    campaign_days : int or None
        Length of a campaign (days).
    review_days : int
        Review by this day at the latest.
    window : PatrolWindow
    text : str
        The dose in one paragraph for people.
    """

    visit_minutes: int | None
    min_minutes: int | None
    max_minutes: int | None
    visits_per_day: int | None
    revisit_hours: float | None
    minutes_per_hour: float | None
    days: tuple[int, ...]
    other_days_visits: int
    consecutive_days: int | None
    max_gap_days: int
    duration: str | None
    campaign_days: int | None
    review_days: int
    window: PatrolWindow
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_minutes": self.visit_minutes,
            "min_minutes": self.min_minutes,
            "max_minutes": self.max_minutes,
            "visits_per_day": self.visits_per_day,
            "revisit_hours": self.revisit_hours,
            "minutes_per_hour": self.minutes_per_hour,
            "days": [_DAY_NAMES[d] for d in self.days],
            "other_days_visits": self.other_days_visits,
            "consecutive_days": self.consecutive_days,
            "max_gap_days": self.max_gap_days,
            "duration": self.duration,
            "campaign_days": self.campaign_days,
            "review_days": self.review_days,
            "window": self.window.label,
            "text": self.text,
        }


@dataclass(frozen=True)
class Recommendation:
    """One coherent recommendation for one place and one staffing model.

    Attributes
    ----------
    place_id : str
    staffing : str
        One of :data:`STAFFING_MODELS`.
    level : str
        ``"area"`` (a patrol area) or ``"hotspot"``.
    primary : TacticMatch
        The one patrol tactic; it alone sets how often and how long the place is visited.
    companions : tuple of TacticMatch
        Work alongside it (the visit itself, problem solving, data sharing ...); at most one sets
        the duration (a standing programme or a campaign).
    cautions : tuple of TacticMatch
        "Do not" items that apply to this place and staffing model.
    programme : tuple of TacticMatch
        Items for the whole operation (tracking delivery, testing, community feedback), the same
        for every place: show them once.
    dose : Dose
    reasons : tuple of str
        Why this primary, how the dose was put together, and what was left out and why.
    """

    place_id: str
    staffing: str
    level: str
    primary: TacticMatch
    companions: tuple[TacticMatch, ...]
    cautions: tuple[TacticMatch, ...]
    programme: tuple[TacticMatch, ...]
    dose: Dose
    reasons: tuple[str, ...]

    def matches(self, *, include_programme: bool = True) -> list[TacticMatch]:
        """Primary, companions and cautions (and programme items), as ``match_tactics`` gives."""
        out = [self.primary, *self.companions, *self.cautions]
        return out + list(self.programme) if include_programme else out

    def conflicts(self) -> list[str]:
        """Every way the recommendation contradicts itself (empty when it is coherent).

        Checks the items (:func:`dose_conflicts`) and the dose against its window and gap rule:
        the visits fit in the window, a revisit interval or hourly floor fits in it, the visit
        length lies within every item's bounds, the weekly pattern never leaves more than
        ``max_gap_days`` between visits, runs of consecutive days fit the days patrolled, and the
        primary tactic is one for this staffing model.
        """
        problems = dose_conflicts(self.matches())
        d = self.dose
        p = self.primary.tactic
        if not p.for_staffing(self.staffing):
            problems.append(f"{p.id} is not a tactic for {self.staffing}.")
        if d.visit_minutes is not None:
            if d.min_minutes is not None and d.visit_minutes < d.min_minutes:
                problems.append(
                    f"visits of {d.visit_minutes} min are shorter than the {d.min_minutes} min "
                    "that count."
                )
            if d.max_minutes is not None and d.visit_minutes > d.max_minutes:
                problems.append(
                    f"visits of {d.visit_minutes} min exceed the {d.max_minutes} min worth "
                    "planning."
                )
            if d.visits_per_day and d.visits_per_day * d.visit_minutes > d.window.minutes:
                problems.append(
                    f"{d.visits_per_day} visits of {d.visit_minutes} min do not fit in the "
                    f"{d.window.label} window."
                )
        if d.revisit_hours is not None and d.visit_minutes is not None:
            fit = int((d.window.minutes - d.visit_minutes) // (d.revisit_hours * 60)) + 1
            if d.visits_per_day != fit:
                problems.append(
                    f"revisiting every {d.revisit_hours:g} h through {d.window.label} gives {fit} "
                    f"visits a day, not {d.visits_per_day}."
                )
        if d.minutes_per_hour is not None and (
            d.minutes_per_hour > 60 or (d.visit_minutes or 0) < d.minutes_per_hour
        ):
            problems.append(
                f"a floor of {d.minutes_per_hour:g} min an hour is not met by the visits planned."
            )
        patrolled = set(range(7)) if d.other_days_visits else set(d.days)
        gap = _max_weekly_gap(patrolled)
        if gap > d.max_gap_days:
            problems.append(
                f"the weekly pattern leaves {gap} days between visits, more than {d.max_gap_days}."
            )
        if d.consecutive_days is not None and d.consecutive_days > len(patrolled):
            problems.append(
                f"runs of {d.consecutive_days} consecutive days do not fit {len(patrolled)} patrol "
                "days a week."
            )
        if d.campaign_days is not None and d.duration != "campaign":
            problems.append("a campaign length is given for a standing programme.")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "place_id": self.place_id,
            "staffing": self.staffing,
            "level": self.level,
            "primary": self.primary.to_dict(),
            "companions": [m.to_dict() for m in self.companions],
            "cautions": [m.to_dict() for m in self.cautions],
            "programme": [m.to_dict() for m in self.programme],
            "dose": self.dose.to_dict(),
            "reasons": list(self.reasons),
        }


def _max_weekly_gap(days: Iterable[int]) -> int:
    """Most days between patrol days in a repeating week (7 for one day, 99 for none)."""
    ds = sorted(set(int(d) for d in days))
    if not ds:
        return 99
    if len(ds) == 1:
        return 7
    return max((ds[(i + 1) % len(ds)] - ds[i]) % 7 or 7 for i in range(len(ds)))


def dose_conflicts(items: Iterable[TacticMatch | Tactic]) -> list[str]:
    """The ways a set of tactics gives conflicting doses (empty when they agree).

    Parameters
    ----------
    items : iterable of TacticMatch or Tactic
        For example a :class:`Recommendation`'s :meth:`~Recommendation.matches`, or the full list
        :func:`match_tactics` returns (which may well conflict: it lists alternatives).

    Returns
    -------
    list of str
        One sentence per conflict: more than one primary tactic (two visit patterns), both a
        standing programme and a campaign, two campaign lengths, frequency fields set by anything
        but the primary, or visit-length bounds that cannot all be met.

    Examples
    --------
    >>> kb = load_knowledge_base()
    >>> [c.split(":")[0] for c in dose_conflicts([kb.get("T02"), kb.get("T10")])]
    ['two primary tactics set the visit pattern']
    >>> dose_conflicts([kb.get("T02"), kb.get("T01"), kb.get("T13"), kb.get("T23")])
    []
    """
    tactics = [i.tactic if isinstance(i, TacticMatch) else i for i in items]
    out: list[str] = []
    primaries = [t for t in tactics if t.role == "primary"]
    if len(primaries) > 1:
        out.append(
            "two primary tactics set the visit pattern: "
            + "; ".join(f"{t.id} ({t.dosage.get('text', '')})" for t in primaries)
        )
    for t in tactics:
        fixed = [k for k in _FREQUENCY_FIELDS if k in t.dosage]
        if t.role != "primary" and fixed:
            out.append(f"{t.id} is not the primary tactic but sets {fixed}.")
    durations = {t.dosage["duration"]: t.id for t in tactics if "duration" in t.dosage}
    if len(durations) > 1:
        out.append(
            "both a standing programme and a time-limited campaign: "
            + ", ".join(f"{tid} ({d})" for d, tid in sorted(durations.items()))
        )
    campaigns = {t.dosage["campaign_days"] for t in tactics if "campaign_days" in t.dosage}
    if len(campaigns) > 1:
        out.append(f"campaign lengths disagree: {sorted(campaigns)} days.")
    lows = [t.dosage["min_minutes"] for t in tactics if "min_minutes" in t.dosage]
    highs = [t.dosage["max_minutes"] for t in tactics if "max_minutes" in t.dosage]
    if lows and highs and max(lows) > min(highs):
        out.append(
            f"no visit length meets every item: at least {max(lows)} min but at most "
            f"{min(highs)} min."
        )
    for t in primaries:
        v = t.dosage.get("visit_minutes")
        if v is not None and ((lows and v < max(lows)) or (highs and v > min(highs))):
            out.append(f"{t.id}'s {v}-minute visits fall outside the bounds the other items set.")
    return out


def _profile_level(row: Mapping[str, Any] | pd.Series, level: str) -> str:
    if level in ("area", "hotspot"):
        return level
    if level != "auto":
        msg = f"level must be 'auto', 'area' or 'hotspot', got {level!r}."
        raise ParameterError(msg)
    pid = _get(row, "patrol_area_id")
    return "area" if isinstance(pid, str) and pid.strip() else "hotspot"


def recommend(
    row: Mapping[str, Any] | pd.Series,
    staffing: str = "dedicated_pairs",
    *,
    parent: Mapping[str, Any] | pd.Series | None = None,
    level: str = "auto",
    n_places: int | None = None,
    n_hotspots: int | None = None,
    total_harm: float | None = None,
    kb: KnowledgeBase | None = None,
) -> Recommendation:
    """One coherent recommendation for a place: primary tactic, companions, cautions and dose.

    Parameters
    ----------
    row : mapping or pandas.Series
        A patrol area (from :func:`hotspots.patrol.make_patrol_areas`) or a ranked hot spot.
    staffing : {"dedicated_pairs", "response_between_calls", "pcso"}, default "dedicated_pairs"
        Who patrols: two dedicated officers on foot, response officers between calls, or PCSOs.
    parent : mapping or pandas.Series, optional
        For a patrol area, its hot spot's row. Tactics judged on a whole hot spot (its size or rank:
        scope ``"hotspot"``, such as Philadelphia's foot beats for hot spots over 200 m) can never
        hold on a 150 m patrol area; they are judged on the parent instead and, where they fit,
        named in the reasons as the hot spot's option rather than mixed into the area's dose.
    level : {"auto", "area", "hotspot"}, default "auto"
        ``"auto"``: a row with a ``patrol_area_id`` is an area.
    n_places : int, optional
        Number of places ranked with this one (for ``rank_fraction``).
    n_hotspots : int, optional
        Number of hot spots ranked with the parent.
    total_harm : float, optional
        Sum of harm weights over all incidents (for ``harm_ratio``).
    kb : KnowledgeBase, optional
        Default the shipped knowledge base.

    Returns
    -------
    Recommendation
        Coherent by construction: :meth:`Recommendation.conflicts` is empty.

    Raises
    ------
    ParameterError
        For an unknown staffing model or level.

    Notes
    -----
    The primary tactic is the first of the staffing model's ``candidates`` in
    ``hotspots/data/tactics.json`` whose condition holds (dedicated pairs: Bedfordshire's large
    areas and Philadelphia's beats for whole hot spots, Merseyside's night-time floor, else
    Southend's one patrol a day; response officers: Sacramento's rotation; PCSOs: Peterborough's).
    Only it sets the visit pattern. Companions and cautions add bounds (the shortest visit that
    counts, the most days between visits, the review date); the duration comes from the first of
    ``duration_order`` that applies, so a place gets either a standing programme (chronic) or a
    campaign, never both. Where a pattern limited to peak nights would leave more than
    ``max_gap_days`` between visits, one visit on the other days is added.

    Examples
    --------
    >>> rec = recommend({"patrol_area_id": "H001-P1", "temporal_class": "chronic",
    ...                  "months_active": 12, "n_months": 12, "max_extent_m": 150.0,
    ...                  "has_time": False, "incidents": 40}, "response_between_calls")
    >>> rec.primary.tactic.id, rec.dose.visits_per_day, rec.conflicts()
    ('T04', 6, [])
    """
    kb = kb or load_knowledge_base()
    if staffing not in STAFFING_MODELS:
        msg = f"staffing must be one of {list(STAFFING_MODELS)}, got {staffing!r}."
        raise ParameterError(msg)
    lvl = _profile_level(row, level)
    features = profile_features(row, n_hotspots=n_places, total_harm=total_harm, kb=kb)
    window = patrol_window(row, kb)
    caveat = None if features["has_time"] else _no_time_caveat(kb)
    model = kb.staffing_models[staffing]
    label = model["label"]
    pfeat = (
        profile_features(parent, n_hotspots=n_hotspots, total_harm=total_harm, kb=kb)
        if parent is not None
        else None
    )
    place_id = str(
        _get(row, "patrol_area_id") if lvl == "area" else _get(row, "hotspot_id", "") or ""
    )

    def fits_scope(t: Tactic) -> bool:
        return t.scope != "hotspot" or lvl == "hotspot"

    reasons: list[str] = []
    chosen: Tactic | None = None
    for tid in model["candidates"]:
        t = kb.get(tid)
        if not fits_scope(t):
            if pfeat is not None and t.applies(pfeat):
                hid = _get(parent, "hotspot_id", "its hot spot")
                reasons.append(
                    f"{t.id} {t.name} fits the whole hot spot {hid} "
                    f"({t.reason(pfeat).rstrip('.')}); it is judged on the hot spot, not on this "
                    "patrol area, so it is the hot spot's option and not part of this area's dose."
                )
            continue
        if t.applies(features):
            chosen = t
            break
    if chosen is None:
        chosen = kb.get(model["candidates"][-1])
        reasons.append(
            f"{chosen.id} is the default for {label}: its usual condition does not hold here, "
            "so the dose follows the trial but the place goes beyond the trial's conditions."
        )
    reasons.insert(0, f"Primary tactic ({label}): {chosen.id} {chosen.name}.")
    if (
        lvl == "area"
        and pfeat is None
        and any(kb.get(tid).scope == "hotspot" for tid in model["candidates"])
    ):
        reasons.append(
            "Tactics judged on a whole hot spot (its size or rank) were not considered for this "
            "150 m patrol area; pass its hot spot as 'parent' to name them."
        )
    primary = TacticMatch(chosen, chosen.reason(features), chosen.priority, caveat)

    def take(t: Tactic) -> bool:
        return t.for_staffing(staffing) and fits_scope(t) and t.applies(features)

    companions = [
        t
        for t in kb.tactics
        if t.role == "companion"
        and t.scope != "programme"
        and t.id not in kb.duration_order
        and take(t)
    ]
    duration_item = next((kb.get(tid) for tid in kb.duration_order if take(kb.get(tid))), None)
    if "duration" in chosen.dosage:
        if (
            duration_item is not None
            and duration_item.dosage["duration"] != chosen.dosage["duration"]
        ):
            reasons.append(
                f"{duration_item.id} left out: {chosen.id} sets its own "
                f"{chosen.dosage['duration']}."
            )
        duration_item = None
    if duration_item is not None:
        companions.append(duration_item)
        reasons.append(
            f"Duration: {duration_item.dosage['duration']} "
            f"({duration_item.id} {duration_item.name}); only one duration applies to a place."
        )
    else:
        reasons.append(
            "Duration: no rule applies "
            f"(temporal class {features.get('temporal_class') or 'unknown'}); "
            f"review by day {int(kb.constant('campaign_review_days'))}."
        )
    cautions = [t for t in kb.tactics if t.role == "caution" and t.scope != "programme" and take(t)]
    programme = [
        t
        for t in kb.tactics
        if t.scope == "programme" and t.for_staffing(staffing) and t.applies(features)
    ]

    def matched(ts: list[Tactic]) -> tuple[TacticMatch, ...]:
        ms = [TacticMatch(t, t.reason(features), t.priority, caveat) for t in ts]
        return tuple(sorted(ms, key=lambda m: (m.priority, m.tactic.id)))

    items = [chosen, *companions, *cautions]
    dose = _make_dose(chosen, items, window, kb, reasons)
    return Recommendation(
        place_id=place_id,
        staffing=staffing,
        level=lvl,
        primary=primary,
        companions=matched(companions),
        cautions=matched(cautions),
        programme=matched(programme),
        dose=dose,
        reasons=tuple(reasons),
    )


def _make_dose(
    primary: Tactic,
    items: Sequence[Tactic],
    window: PatrolWindow,
    kb: KnowledgeBase,
    reasons: list[str],
) -> Dose:
    d = primary.dosage
    lows = [int(kb.constant("min_visit_minutes"))] + [
        int(t.dosage["min_minutes"]) for t in items if "min_minutes" in t.dosage
    ]
    highs = [int(t.dosage["max_minutes"]) for t in items if "max_minutes" in t.dosage]
    visit = int(d["visit_minutes"]) if "visit_minutes" in d else None
    min_minutes = max(lows) if visit is not None else None
    max_minutes = min(highs) if highs and visit is not None else None
    revisit = float(d["revisit_hours"]) if "revisit_hours" in d else None
    floor = float(d["minutes_per_hour"]) if "minutes_per_hour" in d else None
    hours = window.minutes / 60.0
    if "visits_per_day" in d:
        per_day: int | None = int(d["visits_per_day"])
    elif revisit is not None and visit is not None:
        per_day = int((window.minutes - visit) // (revisit * 60)) + 1
    elif floor is not None:
        per_day = int(math.ceil(hours))
    else:
        per_day = None
    days = tuple(window.days) if d.get("on_days") == "peak" else tuple(range(7))
    gaps = [int(kb.constant("max_gap_days"))] + [
        int(t.dosage["max_gap_days"]) for t in items if "max_gap_days" in t.dosage
    ]
    max_gap = min(gaps)
    other = 0
    if _max_weekly_gap(days) > max_gap:
        other = 1
        reasons.append(
            f"{primary.id}'s pattern applies on the peak days only ({window.label}); one visit on "
            f"the other days keeps every gap within {max_gap} days."
        )
    reviews = [int(kb.constant("campaign_review_days"))] + [
        int(t.dosage["review_days"]) for t in items if "review_days" in t.dosage
    ]
    duration_from = next((t for t in items if "duration" in t.dosage), None)
    duration = duration_from.dosage["duration"] if duration_from else None
    campaign = (
        int(duration_from.dosage["campaign_days"])
        if duration_from and "campaign_days" in duration_from.dosage
        else None
    )
    consecutive = int(d["consecutive_days"]) if "consecutive_days" in d else None
    text = _dose_text(
        primary, visit, min_minutes, max_minutes, per_day, revisit, floor, days, other,
        consecutive, max_gap, duration, campaign, min(reviews), window,
    )  # fmt: skip
    return Dose(
        visit_minutes=visit,
        min_minutes=min_minutes,
        max_minutes=max_minutes,
        visits_per_day=per_day,
        revisit_hours=revisit,
        minutes_per_hour=floor,
        days=days,
        other_days_visits=other,
        consecutive_days=consecutive,
        max_gap_days=max_gap,
        duration=duration,
        campaign_days=campaign,
        review_days=min(reviews),
        window=window,
        text=text,
    )


def _dose_text(
    primary: Tactic,
    visit: int | None,
    low: int | None,
    high: int | None,
    per_day: int | None,
    revisit: float | None,
    floor: float | None,
    days: tuple[int, ...],
    other: int,
    consecutive: int | None,
    max_gap: int,
    duration: str | None,
    campaign: int | None,
    review: int,
    window: PatrolWindow,
) -> str:
    if visit is None:
        parts = [primary.dosage["text"]]
    else:
        bounds = f"at least {low}" + (f", at most {high}" if high else "")
        length = f"{visit}-minute visits ({bounds} minutes on foot inside the area)"
        hours = format_window(window.start_hour, window.end_hour)
        basis = _BASIS_TEXT.get(window.basis, "this tool's general window")
        on = "every day" if len(days) == 7 else "on " + format_window(0, 0, days).rsplit(" ", 1)[0]
        if floor is not None:
            parts = [
                f"{length}: one in every hour of {hours} {on} ({basis}; at least {floor:g} "
                f"minutes an hour), {per_day} a day."
            ]
        elif revisit is not None:
            parts = [
                f"{length} about every {revisit:g} hours through {hours} ({basis}): about "
                f"{per_day} a day."
            ]
        else:
            parts = [
                f"{per_day} x {length} on each patrol day, at random times within {hours} "
                f"({basis})."
            ]
        if other:
            parts.append("One visit on each other day.")
        if consecutive:
            parts.append(f"Patrol days in runs of about {consecutive} where the plan allows.")
    parts.append(f"No more than {max_gap} days between visits.")
    if duration == "campaign":
        parts.append(
            f"A time-limited campaign ({campaign} days), reviewed by day {review}."
            if campaign
            else f"Time-limited: re-check by day {review} and stop when the place cools."
        )
    elif duration == "programme":
        parts.append(f"A standing programme, reviewed by day {review}.")
    else:
        parts.append(f"Review by day {review}.")
    return " ".join(parts)


def recommend_table(
    frame: pd.DataFrame,
    staffing: str = "dedicated_pairs",
    *,
    hotspots: pd.DataFrame | None = None,
    id_column: str | None = None,
    total_harm: float | None = None,
    kb: KnowledgeBase | None = None,
) -> dict[str, Recommendation]:
    """:func:`recommend` for every row of a patrol areas (or ranked hot spots) table.

    Parameters
    ----------
    frame : pandas.DataFrame
        Patrol areas or ranked hot spots.
    staffing : str, default "dedicated_pairs"
        One of :data:`STAFFING_MODELS`.
    hotspots : pandas.DataFrame, optional
        The ranked hot spots, so tactics judged on a whole hot spot are judged on each area's
        parent.
    id_column : str, optional
        Default ``"patrol_area_id"`` when present, else ``"hotspot_id"``.
    total_harm : float, optional
        Sum of harm weights over all incidents.
    kb : KnowledgeBase, optional

    Returns
    -------
    dict
        id -> Recommendation.
    """
    kb = kb or load_knowledge_base()
    col = id_column or ("patrol_area_id" if "patrol_area_id" in frame.columns else "hotspot_id")
    level = "area" if col == "patrol_area_id" else "hotspot"
    parents: dict[str, Any] = {}
    if level == "area" and hotspots is not None and "hotspot_id" in hotspots.columns:
        # Only the areas' own parents: a national run ranks thousands of hot spots, and a
        # row per hot spot costs more than every recommendation together.
        wanted = set(frame["hotspot_id"].astype(str)) if "hotspot_id" in frame.columns else set()
        hot_ids = hotspots["hotspot_id"].astype(str)
        parents = {
            str(r["hotspot_id"]): _as_mapping(r)
            for _, r in hotspots[hot_ids.isin(wanted)].iterrows()
        }
    out: dict[str, Recommendation] = {}
    for _, series in frame.iterrows():
        row = _as_mapping(series)
        parent = parents.get(str(_get(row, "hotspot_id", ""))) if level == "area" else None
        out[str(row[col])] = recommend(
            row,
            staffing,
            parent=parent,
            level=level,
            n_places=len(frame),
            n_hotspots=len(hotspots) if hotspots is not None else None,
            total_harm=total_harm,
            kb=kb,
        )
    return out


def recommendation_matches(
    frame: pd.DataFrame,
    staffing: str = "dedicated_pairs",
    **kwargs: Any,
) -> dict[str, list[TacticMatch]]:
    """id -> the recommendation's matches (primary first): the plan's and briefing's ``matches=``.

    Parameters are those of :func:`recommend_table`.
    """
    return {k: r.matches() for k, r in recommend_table(frame, staffing, **kwargs).items()}
