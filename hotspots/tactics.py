"""The guide's patrol tactics, loaded from ``hotspots/data/tactics.json`` and matched to hot spots.

The knowledge base is data, not code: every tactic in ``hotspots/data/tactics.json`` carries an id
(``T01`` ...), what officers do, a structured dosage, the evidence strength on the guide digest's
scale (A, B, C, X, plus U for "trial found, outcome not found"), the sources it rests on (keys and
URLs from section 0.2 of the guide digest), and a declarative condition ``applies_when`` over a hot
spot's profile. :func:`load_knowledge_base` validates the file strictly; :func:`match_tactics`
evaluates the conditions on one hot spot (or patrol area) and explains each match in a sentence.

Condition language
------------------
``applies_when`` is either the string ``"always"`` or a JSON object that is one of

* a comparison ``{"field": NAME, "op": OP, "value": V}`` with ``OP`` one of ``eq ne lt le gt ge``,
  ``in`` (``V`` a list) or ``between`` (``V`` a two-item list, both ends included);
* ``{"all": [cond, ...]}``, ``{"any": [cond, ...]}`` or ``{"not": cond}``;
* ``{"always": true}``.

``NAME`` must be one of :data:`FIELDS` (profile columns from :mod:`hotspots.profile` plus the derived
features computed by :func:`profile_features`). A comparison with a missing value (``None`` or
NaN: for example ``harm_ratio`` when no harm weights were given, ``peak_in_nte`` when the data have
no time of day) is false, whatever the operator.

Notes
-----
Source keys are those of the guide digest (section 0.2), for example G3
https://www.college.police.uk/guidance/serious-violence-hot-spots-policing-guide/targeting-step-three
and KOP https://nij.ojp.gov/library/publications/just-enough-police-presence-reducing-crime-and-disorderly-behavior-optimizing.
"""

from __future__ import annotations

import functools
import json
import math
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from hotspots._errors import HotspotsError

__all__ = [
    "DEFAULT_TACTICS_PATH",
    "FIELDS",
    "KnowledgeBase",
    "PatrolWindow",
    "Source",
    "Tactic",
    "TacticMatch",
    "TacticsError",
    "evaluate_condition",
    "format_window",
    "load_knowledge_base",
    "load_tactics",
    "match_table",
    "match_tactics",
    "patrol_window",
    "profile_features",
]

#: The shipped knowledge base, package data read through :mod:`importlib.resources` (so it is found
#: in an installed wheel as in a source checkout).
DEFAULT_TACTICS_PATH: Traversable = resources.files("hotspots").joinpath("data", "tactics.json")

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
    "source_document",
    "evidence_scale",
    "constants",
    "general_windows",
    "tactics",
}
_TACTIC_REQUIRED = {
    "id",
    "name",
    "summary",
    "applies_when",
    "what_officers_do",
    "dosage",
    "evidence",
    "sources",
    "caution",
    "priority",
    "reason_template",
}
_TACTIC_OPTIONAL = {"legitimacy_review"}
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
_REQUIRED_CONSTANTS = {
    "micro_place_m",
    "micro_place_max_extent_m",
    "large_area_min_extent_m",
    "nte_start_hour",
    "nte_end_hour",
    "visit_minutes",
    "min_visit_minutes",
    "max_gap_days",
    "campaign_review_days",
    "plan_day_start_hour",
    "harm_concentration_ratio",
}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ID_RE = re.compile(r"^T\d{2}$")
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9]*[a-z]?$")


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
    """

    def __init__(self, problem: str, *, tactic_id: str | None = None, path: str | None = None):
        self.problem = problem
        self.tactic_id = tactic_id
        self.path = path
        where = [p for p in (path, f"tactic {tactic_id}" if tactic_id else None) if p]
        super().__init__((": ".join(where) + ": " if where else "") + problem)


@dataclass(frozen=True)
class Source:
    """One cited source: its key in the guide digest's table (section 0.2) and its URL."""

    key: str
    url: str


@dataclass(frozen=True)
class Tactic:
    """One tactic of the knowledge base (see ``hotspots/data/tactics.json``).

    Attributes
    ----------
    id, name, summary : str
    applies_when : str or dict
        The condition (see the module docstring).
    what_officers_do : tuple of str
    dosage : dict
        Numbers (``visit_minutes``, ``min_minutes`` ... in minutes, hours or days as named) and ``text``.
    evidence : dict
        ``strength`` (A, B, C, X or U) and ``summary``.
    sources : tuple of Source
    caution : bool
        True for "do not" entries (transit time is not patrol, visits under 10 minutes ...).
    priority : int
        1 = show first.
    reason_template : str or list of dict
        A template, or ``[{"when": condition, "text": template}, ...]`` where the first entry whose
        condition holds is used.
    legitimacy_review : bool
        True when the tactic must pass a legitimacy and proportionality review before use.
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "summary": self.summary,
            "what_officers_do": list(self.what_officers_do),
            "dosage": dict(self.dosage),
            "evidence": dict(self.evidence),
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
    schema_version: int = 1

    def constant(self, name: str) -> Any:
        """The value of a constant (``micro_place_m`` ...)."""
        return self.constants[name]["value"]

    def get(self, tactic_id: str) -> Tactic:
        for t in self.tactics:
            if t.id == tactic_id:
                return t
        msg = f"No tactic with id {tactic_id!r} in {self.path or 'the knowledge base'}."
        raise KeyError(msg)


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
        ``"profile"`` (the place's own peak) or ``"general"`` (the guide's fallback window).
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
        return {
            "id": self.tactic.id,
            "name": self.tactic.name,
            "reason": self.reason,
            "priority": self.priority,
            "evidence": self.tactic.evidence["strength"],
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
        For unknown fields, unknown operators or fields in conditions, missing or empty sources,
        URLs that are not http(s), duplicate ids and missing dosage; the message names the tactic.
    """
    return list(load_knowledge_base(path).tactics)


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate the whole knowledge base (tactics, constants, fallback windows).

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
    for key in ("tactics", "constants", "general_windows", "evidence_scale"):
        if key not in raw:
            msg = f"the top-level field '{key}' is missing."
            raise TacticsError(msg, path=where)
    known_urls: dict[str, str] = {}
    constants = _validate_constants(raw["constants"], where, known_urls)
    windows = _validate_windows(raw["general_windows"], where, known_urls)
    scale = raw["evidence_scale"]
    if not isinstance(scale, dict) or set(scale) != set(_STRENGTHS):
        msg = f"'evidence_scale' must describe exactly the strengths {list(_STRENGTHS)}."
        raise TacticsError(msg, path=where)
    if not isinstance(raw["tactics"], list) or not raw["tactics"]:
        msg = "'tactics' must be a non-empty list."
        raise TacticsError(msg, path=where)
    tactics: list[Tactic] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw["tactics"]):
        tactic = _validate_tactic(entry, i, where, known_urls)
        if tactic.id in seen:
            msg = "duplicate id; every tactic needs its own id."
            raise TacticsError(msg, tactic_id=tactic.id, path=where)
        seen.add(tactic.id)
        tactics.append(tactic)
    return KnowledgeBase(
        tactics=tuple(tactics),
        constants=constants,
        general_windows=windows,
        evidence_scale=dict(scale),
        path=where,
        schema_version=int(raw.get("schema_version", 1)),
    )


def _validate_sources(
    value: Any, where: str, tid: str | None, known: dict[str, str]
) -> tuple[Source, ...]:
    if not isinstance(value, list) or not value:
        msg = "'sources' is missing or empty; cite at least one source (key and URL from the guide digest, section 0.2)."
        raise TacticsError(msg, tactic_id=tid, path=where)
    out = []
    for s in value:
        if not isinstance(s, dict) or set(s) != {"key", "url"}:
            msg = f"each source must be an object with exactly 'key' and 'url', got {s!r}."
            raise TacticsError(msg, tactic_id=tid, path=where)
        key, url = s["key"], s["url"]
        if not isinstance(key, str) or not _KEY_RE.match(key):
            msg = f"source key {key!r} is not a guide digest key such as 'KOP' or 'BAS1'."
            raise TacticsError(msg, tactic_id=tid, path=where)
        parsed = urlparse(url) if isinstance(url, str) else None
        if (
            parsed is None
            or parsed.scheme not in ("http", "https")
            or not parsed.netloc
            or " " in url
        ):
            msg = f"source {key} has a bad URL {url!r}; it must start with http:// or https://."
            raise TacticsError(msg, tactic_id=tid, path=where)
        if known.setdefault(key, url) != url:
            msg = f"source {key} is cited with two different URLs ({known[key]!r} and {url!r})."
            raise TacticsError(msg, tactic_id=tid, path=where)
        out.append(Source(key, url))
    return tuple(out)


def _validate_constants(value: Any, where: str, known: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        msg = "'constants' must be an object."
        raise TacticsError(msg, path=where)
    missing = _REQUIRED_CONSTANTS - set(value)
    if missing:
        msg = f"constants {sorted(missing)} are missing."
        raise TacticsError(msg, path=where)
    for name, c in value.items():
        if (
            not isinstance(c, dict)
            or not {"value", "sources"} <= set(c)
            or set(c) - {"value", "unit", "note", "sources"}
        ):
            msg = f"constant '{name}' must have 'value' and 'sources' (and optionally 'unit', 'note')."
            raise TacticsError(msg, path=where)
        if not isinstance(c["value"], int | float) or isinstance(c["value"], bool):
            msg = f"constant '{name}' must be a number."
            raise TacticsError(msg, path=where)
        _validate_sources(c["sources"], where, None, known)
    return value


def _validate_windows(value: Any, where: str, known: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, dict) or "default" not in value:
        msg = "'general_windows' must be an object with at least a 'default' window."
        raise TacticsError(msg, path=where)
    for name, w in value.items():
        ok = isinstance(w, dict) and set(w) == {"start_hour", "end_hour", "days", "note", "sources"}
        ok = ok and all(
            isinstance(w[k], int) and 0 <= w[k] <= 23 for k in ("start_hour", "end_hour")
        )
        ok = ok and isinstance(w["days"], list) and bool(w["days"])
        ok = ok and all(isinstance(d, int) and 0 <= d <= 6 for d in w["days"])
        if not ok:
            msg = f"general window '{name}' needs start_hour and end_hour (0-23), days (0-6), note and sources."
            raise TacticsError(msg, path=where)
        _validate_sources(w["sources"], where, None, known)
    return value


def _validate_tactic(entry: Any, index: int, where: str, known: dict[str, str]) -> Tactic:
    if not isinstance(entry, dict):
        msg = f"tactic number {index + 1} is not a JSON object."
        raise TacticsError(msg, path=where)
    tid = entry.get("id")
    if not isinstance(tid, str) or not _ID_RE.match(tid):
        msg = f"tactic number {index + 1} has a bad or missing id {tid!r}; ids look like 'T01'."
        raise TacticsError(msg, path=where)
    unknown = set(entry) - _TACTIC_REQUIRED - _TACTIC_OPTIONAL
    if unknown:
        msg = f"unknown fields {sorted(unknown)}; allowed: {sorted(_TACTIC_REQUIRED | _TACTIC_OPTIONAL)}."
        raise TacticsError(msg, tactic_id=tid, path=where)
    missing = _TACTIC_REQUIRED - set(entry)
    if missing:
        msg = f"missing fields {sorted(missing)}."
        raise TacticsError(msg, tactic_id=tid, path=where)
    for key in ("name", "summary"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            msg = f"'{key}' must be non-empty text."
            raise TacticsError(msg, tactic_id=tid, path=where)
    steps = entry["what_officers_do"]
    if (
        not isinstance(steps, list)
        or not steps
        or not all(isinstance(s, str) and s.strip() for s in steps)
    ):
        msg = "'what_officers_do' must be a non-empty list of sentences."
        raise TacticsError(msg, tactic_id=tid, path=where)
    dosage = entry["dosage"]
    if (
        not isinstance(dosage, dict)
        or not isinstance(dosage.get("text"), str)
        or not dosage["text"].strip()
    ):
        msg = "'dosage' is missing or has no 'text'; give the dose in words (and numbers where known)."
        raise TacticsError(msg, tactic_id=tid, path=where)
    for k, v in dosage.items():
        if k == "text":
            continue
        if k not in _DOSAGE_NUMBERS:
            msg = f"unknown dosage field '{k}'; allowed: {sorted(_DOSAGE_NUMBERS | {'text'})}."
            raise TacticsError(msg, tactic_id=tid, path=where)
        if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
            msg = f"dosage '{k}' must be a positive number, got {v!r}."
            raise TacticsError(msg, tactic_id=tid, path=where)
    evidence = entry["evidence"]
    if (
        not isinstance(evidence, dict)
        or set(evidence) != {"strength", "summary"}
        or evidence["strength"] not in _STRENGTHS
        or not isinstance(evidence["summary"], str)
        or not evidence["summary"].strip()
    ):
        msg = f"'evidence' must be {{'strength': one of {list(_STRENGTHS)}, 'summary': text}}."
        raise TacticsError(msg, tactic_id=tid, path=where)
    sources = _validate_sources(entry["sources"], where, tid, known)
    for key in ("caution", "legitimacy_review"):
        if key in entry and not isinstance(entry[key], bool):
            msg = f"'{key}' must be true or false."
            raise TacticsError(msg, tactic_id=tid, path=where)
    if (
        isinstance(entry["priority"], bool)
        or not isinstance(entry["priority"], int)
        or entry["priority"] < 1
    ):
        msg = "'priority' must be a whole number >= 1 (1 = first)."
        raise TacticsError(msg, tactic_id=tid, path=where)
    try:
        _validate_condition(entry["applies_when"])
        _validate_reason(entry["reason_template"])
    except ValueError as exc:
        raise TacticsError(str(exc), tactic_id=tid, path=where) from exc
    return Tactic(
        id=tid,
        name=entry["name"],
        summary=entry["summary"],
        applies_when=entry["applies_when"],
        what_officers_do=tuple(steps),
        dosage=dict(dosage),
        evidence=dict(evidence),
        sources=sources,
        caution=entry["caution"],
        priority=entry["priority"],
        reason_template=entry["reason_template"],
        legitimacy_review=entry.get("legitimacy_review", False),
    )


def _validate_condition(cond: Any) -> None:
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
            _validate_condition(c)
        return
    if keys == {"not"}:
        _validate_condition(cond["not"])
        return
    if keys != {"field", "op", "value"}:
        msg = f"condition {cond!r} must be a comparison {{field, op, value}} or all/any/not/always."
        raise ValueError(msg)
    name, op, value = cond["field"], cond["op"], cond["value"]
    if name not in FIELDS:
        msg = f"unknown field '{name}' in a condition; known fields: {sorted(FIELDS)}."
        raise ValueError(msg)
    if op not in _OPS:
        msg = f"unknown operator '{op}' in a condition; known operators: {list(_OPS)}."
        raise ValueError(msg)
    kind = FIELDS[name]
    values = value if op in ("in", "between") else [value]
    if op in ("in", "between") and (not isinstance(value, list) or not value):
        msg = f"operator '{op}' on '{name}' needs a non-empty list."
        raise ValueError(msg)
    if op == "between" and len(value) != 2:
        msg = f"operator 'between' on '{name}' needs a list of two numbers [low, high]."
        raise ValueError(msg)
    for v in values:
        if kind == "number":
            ok = isinstance(v, int | float) and not isinstance(v, bool)
        elif kind == "bool":
            ok = isinstance(v, bool) and op in ("eq", "ne")
        else:
            ok = v in kind and op in ("eq", "ne", "in")
        if not ok:
            msg = f"field '{name}' cannot be compared with {op} {v!r}."
            raise ValueError(msg)


def _validate_reason(template: Any) -> None:
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
        _validate_condition(entry["when"])
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
        f"is unknown: visits use the guide's general window {format_window(w['start_hour'], w['end_hour'])} "
        "with start times varied daily. Check local knowledge or command-and-control data; for a "
        f"night-time-economy place use {format_window(nte['start_hour'], nte['end_hour'])} instead."
    )


def patrol_window(
    profile: Mapping[str, Any] | pd.Series, kb: KnowledgeBase | None = None
) -> PatrolWindow:
    """When to patrol a place: its own peak window, or the guide's general window with a caveat.

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
    Plan default D4 restricts visits to each place's own temporal peak and varies start times daily
    [TV1 https://www.tvvru.co.uk/sna/hotspots/, CDF4, SAV1, BBC]. Without times of day the
    general window in ``hotspots/data/tactics.json`` (``general_windows.default``) is used and the
    caveat says so.
    """
    kb = kb or load_knowledge_base()
    has_time = (
        bool(_get(profile, "has_time", False)) if not _missing(_get(profile, "has_time")) else False
    )
    start, end = _get(profile, "peak_start_hour"), _get(profile, "peak_end_hour")
    if has_time and not _missing(start) and not _missing(end):
        days = _as_list(_get(profile, "peak_days")) or list(range(7))
        days = tuple(sorted(set(int(d) for d in days)))
        label = _get(profile, "peak_window") or format_window(int(start), int(end), days)
        return PatrolWindow(int(start), int(end), days, "profile", str(label))
    w = kb.general_windows["default"]
    days = tuple(w["days"])
    return PatrolWindow(
        w["start_hour"],
        w["end_hour"],
        days,
        "general",
        format_window(w["start_hour"], w["end_hour"], days) + " (general window)",
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
    ``micro_place_max_extent_m`` (200 m, for the ~150 m micro place of R2/R4), ``large`` from
    ``large_area_min_extent_m`` (500 m), ``street`` between. ``peak_in_nte`` is true when every hour
    of the peak window lies in the night-time-economy window 18:00-06:00 (R14, CDF4);
    ``peak_is_night`` when most of them do; ``peak_in_afternoon_evening`` when all lie in 15:00-22:00
    (R15, SAV1); ``peak_weekend`` when the peak days are within Fri-Sun. ``recent_share`` is the share
    of incidents in the last third of the months (the emerging rule of :mod:`hotspots.profile`).
    """
    kb = kb or load_knowledge_base()
    f: dict[str, Any] = {name: _get(profile, name) for name in FIELDS}
    for name in (
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
    ):
        v = f.get(name)
        f[name] = float("nan") if _missing(v) else float(v)
    for name in ("incidents", "rank", "months_active", "n_months"):
        if not _missing(f[name]):
            f[name] = int(f[name])
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
    f["has_time"] = bool(f["has_time"]) if not _missing(f["has_time"]) else False
    nte = _hours(kb.constant("nte_start_hour"), kb.constant("nte_end_hour"))
    start, end = _get(profile, "peak_start_hour"), _get(profile, "peak_end_hour")
    if f["has_time"] and not _missing(start) and not _missing(end):
        peak = _hours(int(start), int(end))
        f["peak_in_nte"] = peak <= nte
        f["peak_is_night"] = len(peak & nte) > len(peak) / 2
        f["peak_in_afternoon_evening"] = peak <= set(range(15, 22))
        days = _as_list(_get(profile, "peak_days"))
        f["peak_weekend"] = bool(days) and set(days) <= {4, 5, 6}
        window = patrol_window(profile, kb)
        f["peak_window"] = window.label
    else:
        f["peak_in_nte"] = f["peak_is_night"] = f["peak_in_afternoon_evening"] = None
        f["peak_weekend"] = None
        f["peak_window"] = "unknown (no time of day in the data)"
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
    return f


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
    """The tactics that apply to one hot spot or patrol area, each with the reason it applies.

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
    Size is judged against the ~150 m micro place of the UK trials (R2, R4: BAS1
    https://www.repository.cam.ac.uk/handle/1810/332034?show=full, SAV2); chronic against
    :mod:`hotspots.profile`'s ``temporal_class`` (R21, GORR); night-time economy against 18:00-06:00
    (R14, CDF4 https://docslib.org/doc/11104819/south-wales-police-cardiff-city-centre-night-time-economy-policing-overview);
    harm concentration as harm share over count share (WB17).

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
