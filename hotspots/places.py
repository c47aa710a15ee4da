"""Places a street patrol cannot address: prisons, police stations, hospitals, courts ...

police.uk moves every crime to the nearest of a fixed set of anonymous map points, and crimes
recorded inside an institution land on a point named after it ("On or near Prison", "On or near
Police Station", "On or near Hospital"). Such a point can top a force's hot spot list although
no patrol in the street outside can touch what happens inside. The evidence behind the College
of Policing's guide leaves these places out: Sacramento's trial left hospitals and the
courthouse out (Telep2014 in ``hotspots/data/tactics.json``), the UK trials counted
street-visible violence only (Basford2021), and Thames Valley dropped candidate spots centred on
a prison and left prisons and hospitals out of its trial (ThamesValleyRCT).

The list lives in the knowledge base ``hotspots/data/places.json``: each kind of place with the
names police.uk uses, patterns for the free text of other data sources, the guide rules it rests
on, its reasoning, and whether it is this product's heuristic. The functions here

* recognise places from location text (:func:`classify_location`, :func:`location_kinds`);
* read places a user adds, as a list of names or as polygons, points or lines
  (:func:`read_user_places`);
* flag patrol areas and hot spots (:func:`flag_places`): ``unpatrollable_reason``,
  ``unpatrollable_kind``, ``unpatrollable_share`` and ``place_check`` columns, which every export
  carries; :func:`unpatrollable` says which rows a plan leaves out.

The plan (:func:`hotspots.workflows.plan_patrols`) leaves flagged areas out by default with a note
naming each; ``include_institutions=True`` keeps the knowledge base's places (never the user's own).
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.spatial import cKDTree

from hotspots._errors import HotspotsError, InputError, ParameterError

if TYPE_CHECKING:
    from concurrent.futures import Future

    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

    from hotspots.incidents import Incidents

__all__ = [
    "DEFAULT_PLACES_PATH",
    "PLACE_COLUMNS",
    "PlaceMarks",
    "USER_PLACE",
    "PlaceKind",
    "PlaceRules",
    "UserPlaces",
    "classify_location",
    "flag_places",
    "load_places",
    "location_kinds",
    "start_place_marks",
    "read_user_places",
    "unpatrollable",
]

#: The shipped list, package data read through :mod:`importlib.resources`.
DEFAULT_PLACES_PATH: Traversable = resources.files("hotspots").joinpath("data", "places.json")

#: The kind given to incidents in places the user added (:func:`read_user_places`).
USER_PLACE = "user_place"

#: Columns :func:`flag_places` adds.
PLACE_COLUMNS = (
    "unpatrollable_reason",
    "unpatrollable_kind",
    "unpatrollable_share",
    "place_check",
)

_PREFIX = re.compile(r"^\s*on or near\s+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9&']+")
_NAME_SUFFIXES = (".txt", ".csv", ".tsv", ".lst")


@dataclass(frozen=True)
class PlaceKind:
    """One kind of place a street patrol cannot address.

    Attributes
    ----------
    id : str
        ``"prison"``, ``"police_station"`` ...
    label : str
        For people: "prison".
    names : tuple of str
        Whole place names (casefolded) as police.uk writes them after "On or near ".
    patterns : tuple of re.Pattern
        Searched in free text that does not end with a street word.
    heuristic : bool
        True when the entry is this product's choice rather than a rule of the guide.
    guide_rules : tuple of str
        Keys of ``guide_rules`` in the knowledge base (``"indoor_places"``, ``"sacramento"`` ...).
    basis : str
        The first rule's label, for people ("Sacramento's trial left hospitals and the
        courthouse out of its hot spots").
    reasoning : str
    """

    id: str
    label: str
    names: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    heuristic: bool
    guide_rules: tuple[str, ...]
    reasoning: str
    basis: str = ""

    @property
    def citation(self) -> str:
        """Where the exclusion comes from, for people: the guide's evidence, or this product's
        heuristic after it."""
        if self.heuristic:
            return f"this product's heuristic, after the guide's evidence: {self.basis}"
        return f"as in the guide's evidence: {self.basis}"


@dataclass(frozen=True)
class PlaceRules:
    """The validated contents of ``hotspots/data/places.json``."""

    kinds: tuple[PlaceKind, ...]
    guide_rules: Mapping[str, Mapping[str, Any]]
    kept: tuple[Mapping[str, str], ...]
    street_words: frozenset[str]
    rules: Mapping[str, Mapping[str, Any]]
    path: str = ""

    def rule(self, name: str) -> float:
        """The value of a rule (``"min_share"``, ``"busy_point_share"``, ...)."""
        return float(self.rules[name]["value"])

    def kind(self, kind_id: str) -> PlaceKind:
        for k in self.kinds:
            if k.id == kind_id:
                return k
        msg = f"No kind of place {kind_id!r} in {self.path or 'the places list'}."
        raise KeyError(msg)


@dataclass(frozen=True)
class UserPlaces:
    """Places a user leaves out of patrol plans, by name or by shape.

    Attributes
    ----------
    names : tuple of str
        Place names matched against the location text, case-insensitively, with or without
        police.uk's "On or near " prefix; ``*`` and ``?`` are wildcards.
    geometry : shapely geometry or None
        Polygons, points or lines in EPSG:4326 (points and lines are buffered by ``buffer_m``).
    buffer_m : float
        Metres drawn around points and lines.
    source : str
        The file they came from, for notes.
    """

    names: tuple[str, ...] = ()
    geometry: BaseGeometry | None = None
    buffer_m: float = 50.0
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.names) or (self.geometry is not None and not self.geometry.is_empty)


class PlacesError(HotspotsError):
    """The places list (``places.json``) is malformed."""


# --------------------------------------------------------------------------------------------
# Loading


def load_places(path: str | Path | None = None) -> PlaceRules:
    """Load and validate the list of places a street patrol cannot address.

    Parameters
    ----------
    path : str or Path, optional
        Default: the shipped ``hotspots/data/places.json`` (cached).

    Returns
    -------
    PlaceRules

    Raises
    ------
    PlacesError
        A place lacks its reasoning or guide rules, cites a rule the file does not define, or a
        pattern is not a valid regular expression; a rule lacks its value or its reasoning.
    """
    if path is None:
        return _load_default()
    return _load(Path(path))


@functools.cache
def _load_default() -> PlaceRules:
    return _load(DEFAULT_PLACES_PATH)


def _load(path: Path | Traversable) -> PlaceRules:
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        msg = f"{where}: cannot read the places list ({exc})."
        raise PlacesError(msg) from exc
    rules_of_guide = data.get("guide_rules")
    if not isinstance(rules_of_guide, dict) or not rules_of_guide:
        msg = f"{where}: 'guide_rules' must map rule keys to their text and sources."
        raise PlacesError(msg)
    for key, rule in rules_of_guide.items():
        if not rule.get("label") or not rule.get("text") or not rule.get("sources"):
            msg = f"{where}: guide rule {key} needs 'label', 'text' and 'sources'."
            raise PlacesError(msg)
    kinds = []
    seen: set[str] = set()
    for entry in data.get("places", []):
        pid = entry.get("id", "")
        if not pid or pid in seen or pid == USER_PLACE:
            msg = f"{where}: every place needs a unique id other than {USER_PLACE!r} (got {pid!r})."
            raise PlacesError(msg)
        seen.add(pid)
        for key in ("label", "reasoning"):
            if not str(entry.get(key, "")).strip():
                msg = f"{where}: place {pid} lacks its {key}."
                raise PlacesError(msg)
        if not isinstance(entry.get("heuristic"), bool):
            msg = f"{where}: place {pid} must say whether it is a heuristic (true or false)."
            raise PlacesError(msg)
        cited = tuple(entry.get("guide_rules", ()))
        unknown = [r for r in cited if r not in rules_of_guide]
        if not cited or unknown:
            msg = (
                f"{where}: place {pid} must cite guide rules defined in 'guide_rules' "
                f"(unknown: {unknown})."
            )
            raise PlacesError(msg)
        try:
            patterns = tuple(re.compile(p, re.IGNORECASE) for p in entry.get("patterns", ()))
        except re.error as exc:
            msg = f"{where}: place {pid} has an invalid pattern ({exc})."
            raise PlacesError(msg) from exc
        kinds.append(
            PlaceKind(
                id=pid,
                label=str(entry["label"]),
                names=tuple(_normalise(n) for n in entry.get("names", ())),
                patterns=patterns,
                heuristic=bool(entry["heuristic"]),
                guide_rules=cited,
                reasoning=str(entry["reasoning"]),
                basis=str(rules_of_guide[cited[0]]["label"]),
            )
        )
    if not kinds:
        msg = f"{where}: the list holds no places."
        raise PlacesError(msg)
    rules = data.get("rules", {})
    for name in ("min_share", "busy_point_share", "busy_point_min_incidents"):
        r = rules.get(name)
        if not isinstance(r, dict) or "value" not in r or not r.get("reasoning"):
            msg = f"{where}: rule {name!r} needs a value and its reasoning."
            raise PlacesError(msg)
    return PlaceRules(
        kinds=tuple(kinds),
        guide_rules=rules_of_guide,
        kept=tuple(data.get("kept", ())),
        street_words=frozenset(w.casefold() for w in data.get("street_words", ())),
        rules=rules,
        path=where,
    )


# --------------------------------------------------------------------------------------------
# Recognising places from text


def _normalise(text: Any) -> str:
    """Casefolded text without police.uk's "On or near " prefix and with single spaces."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return _SPACE.sub(" ", _PREFIX.sub("", str(text))).strip().casefold()


def classify_location(text: Any, rules: PlaceRules | None = None) -> PlaceKind | None:
    """The kind of place a location text names, or None for a street or an ordinary place.

    Parameters
    ----------
    text : str
        Location text, e.g. police.uk's ``"On or near Prison"``.
    rules : PlaceRules, optional
        Default :func:`load_places`.

    Returns
    -------
    PlaceKind or None

    Examples
    --------
    >>> classify_location("On or near Prison").id
    'prison'
    >>> classify_location("On or near Hospital Street") is None  # a street
    True
    >>> classify_location("Royal Liverpool University Hospital").id
    'hospital'
    """
    rules = rules or load_places()
    norm = _normalise(text)
    if not norm:
        return None
    for kind in rules.kinds:
        if norm in kind.names:
            return kind
    words = _WORD.findall(norm)
    if words and words[-1] in rules.street_words:
        return None
    for kind in rules.kinds:
        if any(p.search(norm) for p in kind.patterns):
            return kind
    return None


def _user_match(norm: str, raw: str, names: Sequence[str]) -> bool:
    low = raw.strip().casefold()
    return any(fnmatch.fnmatchcase(norm, n) or fnmatch.fnmatchcase(low, n) for n in names)


def location_kinds(
    locations: Iterable[Any],
    rules: PlaceRules | None = None,
    *,
    user_names: Sequence[str] = (),
) -> np.ndarray:
    """The kind id for each location text: a :class:`PlaceKind` id, ``"user_place"`` or ``""``.

    Each distinct text is classified once. A user's names win over the shipped list.
    """
    rules = rules or load_places()
    values = locations if isinstance(locations, pd.Series) else pd.Series(list(locations))
    codes, uniques = pd.factorize(values)
    names = tuple(_normalise(n) for n in user_names if _normalise(n))
    text = None if names else _text_array(uniques)
    if text is not None:  # plain text: the kinds of all texts at once (Arrow, no GIL held)
        out = _kinds_at_once(text, rules)
    else:
        out = []
        for value in uniques:
            raw = "" if value is None else str(value)
            norm = _normalise(raw)
            if names and _user_match(norm, raw, names):
                out.append(USER_PLACE)
                continue
            kind = classify_location(raw, rules)
            out.append(kind.id if kind else "")
    kinds = np.array(out + [""], dtype=object)
    return kinds[np.where(codes < 0, len(out), codes)] if len(values) else np.empty(0, object)


#: The characters Python's ``str.strip()`` and ``re``'s ``\s`` take as white space among ASCII
#: (they agree there; tab, line feed, vertical tab, form feed, carriage return, the four
#: information separators, space), as an RE2 class for Arrow's regular expressions.
_ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"


def _text_array(uniques: Any) -> pa.Array | None:
    """``uniques`` as an Arrow string array, or None when they are not all text (each is then
    turned into text one by one, as :func:`classify_location` does)."""
    try:
        arr = pa.array(uniques, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_string(arr.type) or arr.null_count:
        return None
    return arr


def _kinds_at_once(text: pa.Array, rules: PlaceRules) -> list[str]:
    """:func:`classify_location`'s kind id (``""`` for none) of every text, the same answers:
    ASCII texts are normalised (:func:`_normalise`) by Arrow with Python's white space, looked
    up among the kinds' names and checked for a street word at once; the others, and the texts
    left for the kinds' patterns (neither a name nor a street), one by one in Python.
    (the 15,285 distinct texts of 1M police.uk-shaped rows: 0.027 s instead of 0.083 s; 150,000
    distinct texts, half not ending in a street word: 0.18 s instead of 1.54 s.)"""
    ascii_ = pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    ws = _ASCII_SPACE
    norm = pc.replace_substring_regex(text, rf"(?i)^{ws}*on or near{ws}+", "")
    norm = pc.replace_substring_regex(norm, rf"{ws}+", " ")
    norm = pc.utf8_lower(pc.utf8_trim(norm, characters="\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "))
    norms = norm.to_numpy(zero_copy_only=False).astype(object)
    for i in np.flatnonzero(~ascii_):
        norms[i] = _normalise(text[i].as_py())
    norm = pa.array(norms, type=pa.string())
    first_kind: dict[str, str] = {}
    for kind in rules.kinds:  # the first kind naming a text wins
        for name in kind.names:
            first_kind.setdefault(name, kind.id)
    out = np.full(len(norms), "", dtype=object)
    named = pc.index_in(norm, value_set=pa.array(list(first_kind), type=pa.string()))
    at = named.to_numpy(zero_copy_only=False)
    hit = ~np.isnan(at.astype(float)) & (norms != "")
    ids = np.array(list(first_kind.values()) or [""], dtype=object)
    out[hit] = ids[at[hit].astype(np.intp)]
    last = pc.struct_field(pc.extract_regex(norm, r"(?P<w>[a-z0-9&']+)[^a-z0-9&']*$"), "w")
    street = pc.is_in(last, value_set=pa.array(sorted(rules.street_words), type=pa.string()))
    street = street.to_numpy(zero_copy_only=False)
    street = np.where(pd.isna(street), False, street).astype(bool)
    left = np.flatnonzero(~hit & ~street & (norms != ""))
    searched = _ascii_patterns(rules)
    if searched is not None and len(left):  # plain text: each kind's patterns in one search
        plain = left[ascii_[left]]
        rest = pc.take(norm, pa.array(plain, type=pa.int64()))
        try:
            found = [
                pc.match_substring_regex(rest, pattern, ignore_case=True)
                .to_numpy(zero_copy_only=False)
                .astype(bool)
                for _, pattern in searched
                if pattern is not None
            ]
        except pa.ArrowInvalid:  # RE2 would not read one: Python searches them all
            found = None
        if found is not None:
            kind_ids = [kind_id for kind_id, pattern in searched if pattern is not None]
            open_ = np.ones(len(plain), dtype=bool)
            for kind_id, hit_k in zip(kind_ids, found, strict=True):
                out[plain[hit_k & open_]] = kind_id
                open_ &= ~hit_k
            left = left[~ascii_[left]]
    for i in left:
        n = norms[i]
        out[i] = next((k.id for k in rules.kinds if any(p.search(n) for p in k.patterns)), "")
    return out.tolist()


def _ascii_patterns(rules: PlaceRules) -> tuple[tuple[str, str | None], ...] | None:
    """Per kind, in order: its id and its patterns as one RE2 alternation for Arrow (None when
    it has none), or None when some pattern is not one RE2 reads alike (then Python searches).

    On ASCII text RE2 and Python's ``re`` agree on the patterns of ``places.json`` (literals,
    groups, alternation, ``?``, ``\\b``): a pattern is used only when it holds nothing else
    (:data:`_RE2_SAFE`)."""
    out: list[tuple[str, str | None]] = []
    for kind in rules.kinds:
        parts = [p.pattern for p in kind.patterns]
        if any(not _RE2_SAFE.fullmatch(p) or "(?" in p for p in parts):
            return None
        out.append((kind.id, "|".join(f"(?:{p})" for p in parts) if parts else None))
    return tuple(out)


#: Patterns made only of these (letters, digits, spaces, ``&'./-``, groups, alternation, ``?``
#: and ``\\b``; no ``(?`` flag or special group) are read alike by RE2 and Python's ``re`` on
#: ASCII text, where both take ``\\b`` between ``[A-Za-z0-9_]`` and the rest.
_RE2_SAFE = re.compile(r"(?:[A-Za-z0-9 &'./|()?-]|\\b)*")


# --------------------------------------------------------------------------------------------
# Places a user adds


def read_user_places(source: Any, *, name: str | None = None, buffer_m: float = 50.0) -> UserPlaces:
    """Places to leave out of patrol plans, from a file of names or of shapes.

    Parameters
    ----------
    source : path or (name, bytes)
        A text or CSV file of place names (``.txt``, ``.csv``, ``.tsv``, ``.lst``: one name a
        line, ``#`` starts a comment; a CSV with a ``name``, ``place`` or ``location`` column uses
        that column), or a GeoJSON, GeoPackage or zipped shapefile of polygons, points or lines
        (read by :func:`hotspots.boundaries.read_boundary`).
    name : str, optional
        The file name (for bytes, and in messages).
    buffer_m : float, default 50.0
        Metres drawn around points and lines.

    Returns
    -------
    UserPlaces

    Raises
    ------
    InputError
        The file is missing, unreadable or names no place.
    """
    if isinstance(source, tuple):
        name, source = source
    label = name or (Path(source).name if isinstance(source, str | Path) else "places")
    if buffer_m < 0:
        msg = f"the buffer around places must be >= 0 metres, got {buffer_m!r}."
        raise ParameterError(msg)
    if label.lower().endswith(_NAME_SUFFIXES):
        names = _read_names(source, label)
        return UserPlaces(names=names, buffer_m=float(buffer_m), source=label)
    from hotspots.boundaries import read_boundary

    geom = read_boundary(source, name=label, polygons_only=False)
    return UserPlaces(geometry=geom, buffer_m=float(buffer_m), source=label)


def _read_names(source: Any, label: str) -> tuple[str, ...]:
    import csv
    import io

    from hotspots.ingest import read_text

    text, _encoding, delimiter = read_text(source, name=label)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    names: list[str] = []
    if lines and label.lower().endswith((".csv", ".tsv")):
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        header = [h.strip().casefold() for h in rows[0]]
        col = next((header.index(c) for c in ("name", "place", "location") if c in header), None)
        body = rows[1:] if col is not None else rows
        names = [r[col or 0].strip() for r in body if len(r) > (col or 0) and r[col or 0].strip()]
    else:
        names = [ln.strip() for ln in lines]
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        msg = "the file names no place."
        raise InputError(
            msg, file=label, hint="write one place name a line, e.g. 'On or near Prison'."
        )
    return tuple(names)


# --------------------------------------------------------------------------------------------
# Flagging patrol areas and hot spots


@dataclass
class PlaceMarks:
    """What :func:`flag_places` needs to know of every incident, whatever the table: made by
    :func:`start_place_marks` (it does not depend on the hot spots, so a caller can make it while
    they are found)."""

    kind: np.ndarray  # per incident: kind id, "user_place" or ""
    point: np.ndarray  # per incident: index of its distinct map point
    busy: np.ndarray  # per distinct point: True when it holds a busy share of all incidents
    point_n: np.ndarray  # per distinct point: incidents
    point_text: list[str] = field(default_factory=list)  # per distinct point: commonest text


def start_place_marks(
    incidents: Incidents, user_places: UserPlaces | None = None, rules: PlaceRules | None = None
) -> Future[PlaceMarks]:
    """The place kind of every incident and the busy map points, for :func:`flag_places`,
    made in a background thread.

    They do not depend on the hot spots, so :func:`hotspots.workflows.detect_hotspots` makes
    them while the hot spots are found. The thread works on its own copies of the incidents'
    locations and coordinates.

    Parameters
    ----------
    incidents : Incidents
    user_places : UserPlaces, optional
    rules : PlaceRules, optional
        As :func:`flag_places` (default :func:`load_places`).

    Returns
    -------
    concurrent.futures.Future
        Its ``.result()`` is the :class:`PlaceMarks` to give :func:`flag_places` (``marks=``)
        with the same incidents, user places and rules.
    """
    from hotspots.stats import in_background

    location = incidents.frame["location"].copy()
    return in_background(
        _marks_of, location, incidents.xy, incidents.crs, user_places, rules or load_places()
    )


def _marks(incidents: Incidents, user: UserPlaces | None, rules: PlaceRules) -> PlaceMarks:
    return _marks_of(incidents.frame["location"], incidents.xy, incidents.crs, user, rules)


def _marks_of(
    location: pd.Series, xy: np.ndarray, crs: Any, user: UserPlaces | None, rules: PlaceRules
) -> PlaceMarks:
    """:class:`PlaceMarks` of incidents with these location texts and coordinates (metres, in
    ``crs``)."""
    kind = location_kinds(location, rules, user_names=user.names if user else ())
    if user is not None and user.geometry is not None and len(xy):
        import shapely

        from hotspots.boundaries import exclusion_zones

        zone = exclusion_zones(user.geometry, crs, buffer_m=user.buffer_m)
        if zone is not None:
            inside = shapely.intersects_xy(zone, xy[:, 0], xy[:, 1])
            kind = np.where(inside, USER_PLACE, kind)
    if len(xy):
        from hotspots.incidents import unique_points

        # the rounded points of the distinct points (the incidents' own are known already)
        uniq, at = unique_points(xy, return_inverse=True)
        spots, rounded = unique_points(np.round(uniq, 2), return_inverse=True)
        point = rounded[at]
        point_n = np.bincount(point, minlength=len(spots)).astype(np.intp)
    else:
        point, point_n = np.empty(0, int), np.empty(0, int)
    n = len(xy)
    floor = max(rules.rule("busy_point_min_incidents"), rules.rule("busy_point_share") * n)
    busy = point_n >= floor
    texts = [""] * len(point_n)
    if busy.any():
        locs = location.astype(str).to_numpy()
        for p in np.flatnonzero(busy):
            texts[p] = Counter(locs[point == p]).most_common(1)[0][0]
    return PlaceMarks(kind=kind, point=point, busy=busy, point_n=point_n, point_text=texts)


def _members(
    table: pd.DataFrame,
    incidents: Incidents,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Indices of the incidents in each row (increasing): within ``radius_m`` of an area's
    centre, else inside its polygon, or as ``pairs`` (incident index, row) say."""
    if pairs is not None:
        idx, row = (np.asarray(a, dtype=np.int64) for a in pairs)
        if idx.shape != row.shape or (
            len(idx)
            and not (
                0 <= idx.min() <= idx.max() < len(incidents)
                and 0 <= row.min() <= row.max() < len(table)
            )
        ):
            msg = (
                f"members must pair incidents 0..{len(incidents) - 1} with rows 0..{len(table) - 1}"
                " of the table: were they made for another table (e.g. before rows were dropped)?"
                " Leave members out to find them again."
            )
            raise ParameterError(msg)
        return _grouped(idx, row, len(table), len(incidents))
    xy = incidents.xy
    if not len(xy):
        return [np.empty(0, int) for _ in range(len(table))]
    if {"centre_x", "centre_y", "radius_m"} <= set(table.columns):
        tree = cKDTree(xy)
        return [
            np.asarray(tree.query_ball_point((float(cx), float(cy)), r=float(r)), dtype=int)
            for cx, cy, r in zip(
                table["centre_x"], table["centre_y"], table["radius_m"], strict=True
            )
        ]
    from hotspots.profile import assign_incidents

    if not len(table):
        return []
    geoms = table.geometry
    if geoms.crs is not None and not geoms.crs.equals(incidents.crs):
        geoms = geoms.to_crs(incidents.crs)
    # each distinct map point tested once (police.uk snaps many incidents to one point)
    idx, row = assign_incidents(np.asarray(geoms.to_numpy(), dtype=object), incidents)
    return _grouped(idx, row, len(table), len(incidents))


def _grouped(idx: np.ndarray, row: np.ndarray, n_rows: int, n: int) -> list[np.ndarray]:
    """The incident indices ``idx`` of each row ``0 .. n_rows - 1`` (increasing), from (incident,
    row) pairs of ``n`` incidents: one sort of ``row * n + idx`` (exact in int64), not a
    two-key lexsort."""
    if not n_rows:
        return []
    idx = np.asarray(idx, dtype=np.int64)
    row = np.asarray(row, dtype=np.int64)
    key = np.sort(row * n + idx)
    counts = np.bincount(row, minlength=n_rows)
    first = np.repeat(np.arange(n_rows, dtype=np.int64) * n, counts)
    return np.split(key - first, np.cumsum(counts)[:-1])


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "n/a"


def flag_places(
    table: gpd.GeoDataFrame,
    incidents: Incidents,
    *,
    user_places: UserPlaces | None = None,
    rules: PlaceRules | None = None,
    members: tuple[np.ndarray, np.ndarray] | None = None,
    marks: PlaceMarks | None = None,
) -> gpd.GeoDataFrame:
    """Flag patrol areas or hot spots that are places a street patrol cannot address.

    Parameters
    ----------
    table : geopandas.GeoDataFrame
        Patrol areas (:func:`hotspots.patrol.make_patrol_areas`: members are the incidents
        within ``radius_m`` of the centre, as counted there) or ranked hot spots (members are
        the incidents inside the polygon).
    incidents : Incidents
        The incidents the table was made from.
    user_places : UserPlaces, optional
        Places the user adds (:func:`read_user_places`); their incidents count as
        ``"user_place"``.
    rules : PlaceRules, optional
        Default :func:`load_places`.
    members : (ndarray, ndarray), optional
        (incident index, row of ``table``) pairs of the incidents each row holds, when the
        caller has them (:func:`hotspots.profile.rank_hotspots_with_members`); default: found
        here as described above.
    marks : PlaceMarks, optional
        :func:`start_place_marks` of these incidents, user places and rules, when the caller made it
        already (e.g. while the hot spots were found); default: made here.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``unpatrollable_reason`` (why, for people; ``""`` when the place is
        patrollable), ``unpatrollable_kind`` (the kind id, ``"user_place"`` or ``""``),
        ``unpatrollable_share`` (share of its incidents recorded at such places, 0-1; NaN with
        no incidents) and ``place_check`` (a busy map point worth a look, ``""`` otherwise).
        ``attrs["notes"]`` gains one sentence naming the flagged rows.

    Notes
    -----
    A row is flagged when at least ``min_share`` (0.5) of its incidents are recorded at such
    places; a patrol area centred on one is then said to be "centred on" it (Thames Valley
    dropped candidate spots centred on a prison). A centre alone does not flag an area: the
    greedy disc may sit on an institution's map point by a tie while most of its incidents are
    in the street. The kind named is the centre's for an area centred on one, else the
    commonest among those incidents. The busy-point check names a map point holding at least
    ``busy_point_share`` (3 %) of every incident in the data and at least
    ``busy_point_min_incidents`` (50); it flags for a person to look, and leaves the place in
    the plan. Every threshold is a heuristic of this product
    with its reasoning in ``hotspots/data/places.json``.
    """
    rules = rules or load_places()
    out = table.copy()
    marks = marks if marks is not None else _marks(incidents, user_places, rules)
    is_area = "patrol_area_id" in out.columns
    centres = _centre_kinds(out, incidents, marks) if is_area else [""] * len(out)
    source = user_places.source if user_places and user_places.source else "the user"
    groups = _members(out, incidents, members)
    sizes = np.array([len(m) for m in groups], dtype=np.int64)
    flat = np.concatenate(groups) if len(groups) else np.empty(0, dtype=np.int64)
    row = np.repeat(np.arange(len(groups)), sizes)
    # the rows that can be flagged or checked, found at once; only they are looked at one by one
    n_bad = np.bincount(row, weights=marks.kind[flat] != "", minlength=len(groups))
    n_busy = np.bincount(row, weights=marks.busy[marks.point[flat]], minlength=len(groups))
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = n_bad / sizes
    worth = (sizes > 0) & ((shares >= rules.rule("min_share") - 1e-12) | (n_busy > 0))
    # the location texts of every marked incident of those rows, taken from the frame at once
    need = flat[np.repeat(worth, sizes)]
    need = np.unique(need[marks.kind[need] != ""])
    texts = (need, incidents.frame["location"].iloc[need].to_numpy())
    rows = [
        _flag_row(idx, centre, marks, rules, texts, source)
        if look
        else ("", "", float(share) if n else float("nan"), "")
        for idx, centre, look, share, n in zip(groups, centres, worth, shares, sizes, strict=True)
    ]
    kinds = [r[1] for r in rows]
    checks = [r[3] for r in rows]
    out["unpatrollable_reason"] = pd.Series([r[0] for r in rows], index=out.index, dtype=object)
    out["unpatrollable_kind"] = pd.Series(kinds, index=out.index, dtype=object)
    out["unpatrollable_share"] = pd.Series([r[2] for r in rows], index=out.index, dtype=float)
    out["place_check"] = pd.Series(checks, index=out.index, dtype=object)
    id_col = "patrol_area_id" if is_area else "hotspot_id"
    ids = out[id_col].astype(str) if id_col in out.columns else pd.Series(map(str, out.index))
    out.attrs = {
        **table.attrs,
        "notes": list(table.attrs.get("notes", []))
        + _flag_notes(list(ids), kinds, checks, "patrol areas" if is_area else "hot spots"),
    }
    return out


def _centre_kinds(areas: pd.DataFrame, incidents: Incidents, marks: PlaceMarks) -> list[str]:
    """The kind of place at each patrol area's centre (the map point it was centred on)."""
    out = [""] * len(areas)
    if not len(marks.kind) or not len(areas):
        return out
    tree = cKDTree(incidents.xy)
    for i, (cx, cy) in enumerate(zip(areas["centre_x"], areas["centre_y"], strict=True)):
        d, j = tree.query((float(cx), float(cy)))
        if d <= 0.01:
            out[i] = str(marks.kind[j])
    return out


def _flag_row(
    idx: np.ndarray,
    centre: str,
    marks: PlaceMarks,
    rules: PlaceRules,
    texts: tuple[np.ndarray, np.ndarray],
    source: str,
) -> tuple[str, str, float, str]:
    """(reason, kind, share, check) for one row whose incidents are ``idx``; ``texts`` holds
    the location text of (at least) each of its marked incidents: (incident indices,
    increasing; their texts)."""
    n = len(idx)
    if not n:
        return "", "", float("nan"), ""
    bad = idx[marks.kind[idx] != ""]
    share = len(bad) / n
    kind = ""
    if share >= rules.rule("min_share") - 1e-12:
        kinds_here = marks.kind[bad]
        kind = centre if centre in set(kinds_here) else Counter(kinds_here).most_common(1)[0][0]
    reason = ""
    if kind:
        # only the marked incidents' texts (a whole national column as Python objects took
        # 0.1 s a row, and a look-up in the frame per row 0.2 ms)
        have, have_text = texts
        locs = have_text[np.searchsorted(have, bad[marks.kind[bad] == kind])]
        text = Counter(str(v) for v in locs).most_common(1)[0][0] if len(locs) else ""
        where = f" ('{text}')" if text.strip() else ""
        if kind == USER_PLACE:
            what = f"a place listed by {source}{where}"
        else:
            k = rules.kind(kind)
            what = f"a {k.label}{where} ({k.citation})"
        lead = "centred on " if centre == kind else "mostly at "
        reason = (
            f"{lead}{what}: {len(bad)} of {n} incidents ({_pct(len(bad), n)}) are recorded at "
            "places a street patrol cannot address."
        )
    return reason, kind, share, _busy_check(idx, marks)


def _busy_check(idx: np.ndarray, marks: PlaceMarks) -> str:
    """The busy-point check for one row: its busiest map point that is not itself excluded."""
    at = marks.point[idx]
    on_busy = marks.busy[at]
    if not on_busy.any():  # busy points are few (>= 3 % of all incidents each)
        return ""
    at, kind = at[on_busy], marks.kind[idx[on_busy]]
    busy = [p for p in np.unique(at) if not (kind[at == p] != "").all()]
    if not busy:
        return ""
    p = max(busy, key=lambda q: marks.point_n[q])
    pct = 100 * marks.point_n[p] / len(marks.kind)
    return (
        f"check: one map point ('{marks.point_text[p]}') holds {int(marks.point_n[p])} "
        f"incidents, {pct:.1f}% of all in the data; a stack that large often marks a building "
        "where crimes are recorded (a police station, custody, a hospital) rather than the "
        "street (heuristic)."
    )


def _flag_notes(ids: list[str], kinds: list[str], checks: list[str], what: str) -> list[str]:
    flagged = [f"{pid} ({k.replace('_', ' ')})" for pid, k in zip(ids, kinds, strict=True) if k]
    notes = []
    if flagged:
        notes.append(
            f"Places a street patrol cannot address: {len(flagged)} {what} flagged "
            f"({', '.join(flagged)}); see unpatrollable_reason."
        )
    n_checks = sum(bool(c) for c in checks)
    if n_checks:
        notes.append(
            f"{n_checks} {what} hold a map point with an unusually large share of all incidents; "
            "see place_check."
        )
    return notes


def unpatrollable(table: pd.DataFrame, *, include_institutions: bool = False) -> np.ndarray:
    """Which rows a patrol plan leaves out (boolean array).

    Rows flagged by :func:`flag_places`; with ``include_institutions`` only the user's own places
    (``unpatrollable_kind == "user_place"``) are left out.
    """
    if "unpatrollable_kind" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    kind = table["unpatrollable_kind"].fillna("").astype(str).to_numpy()
    if include_institutions:
        return kind == USER_PLACE
    return kind != ""
