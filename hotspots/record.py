"""One way to record what was chosen: parameters plus sentences, read-only once made.

Every step of the pipeline chooses things, some given and some automatic: the ingest report
(analysis CRS, crime types kept, outlier rule), each detector (``params_``, ``notes_``), the patrol
areas (``attrs["params"]``, ``attrs["notes"]``), the patrol plan (``params``, ``summary["notes"]``)
and the change-over-time classification (``params``, ``notes``). :func:`choices_of` reads any of
them into one :class:`Choices`: a read-only, JSON-serialisable parameter mapping and a tuple of
sentences. The command line prints :meth:`Choices.lines`; the app shows the notes and
:meth:`Choices.to_dict`; exports write the parameters.

:func:`freeze` makes a parameter record read-only (nested dicts and lists included) while it stays
a ``dict`` that :func:`json.dumps` writes as before. Results that the app shares between sessions
hold frozen records, so one session cannot change what another sees. :func:`provenance` is the
run's data provenance (input files with SHA-256, period, CRS, version), written into every export.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hotspots.jsonutil import to_jsonable

__all__ = ["Choices", "FrozenDict", "FrozenList", "choices_of", "freeze", "provenance", "thaw"]


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    msg = (
        f"this {type(self).__name__} is a shared, read-only record; make a copy first "
        "(dict(record) or hotspots.record.thaw(record))."
    )
    raise TypeError(msg)


class FrozenDict(dict):
    """A ``dict`` that refuses every change (``TypeError``); ``dict(d)`` is a mutable copy.

    Examples
    --------
    >>> d = freeze({"bandwidth_m": 150, "rule": ["micro-place"]})
    >>> d["bandwidth_m"] = 100
    Traceback (most recent call last):
    ...
    TypeError: this FrozenDict is a shared, read-only record; make a copy first ...
    >>> json.dumps(d)
    '{"bandwidth_m": 150, "rule": ["micro-place"]}'
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    # dict declares __hash__ = None (mutable); a read-only mapping can be hashed.
    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(thaw(self), sort_keys=True, default=str))


class FrozenList(list):
    """A ``list`` that refuses every change (``TypeError``); ``list(x)`` is a mutable copy."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenList:
        return self

    # list declares __hash__ = None (mutable); a read-only list can be hashed.
    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(thaw(self), default=str))


def freeze(value: Any) -> Any:
    """A read-only copy of a parameter record: dicts become :class:`FrozenDict`, lists, tuples and
    sets :class:`FrozenList`; values are made JSON-safe by :func:`hotspots.jsonutil.to_jsonable`
    (numpy scalars as Python, NaN as None, timestamps as ISO 8601). Already frozen values are
    returned as they are (no copy).
    """
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, set | frozenset):
        return FrozenList(freeze(v) for v in sorted(value, key=str))
    if isinstance(value, list | tuple | np.ndarray):
        return FrozenList(
            freeze(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)
        )
    return to_jsonable(value)


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a (frozen) record: dicts and lists all the way down."""
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Choices:
    """What one step chose: its parameters and the same choices as sentences.

    Parameters
    ----------
    params : mapping
        Every parameter, given or automatic, JSON-serialisable; frozen on construction.
    notes : iterable of str
        The automatic choices and caveats as sentences for people, in the order they were made.

    Examples
    --------
    >>> c = Choices({"bandwidth_m": 150.0}, ["Bandwidth 150 m (micro-place rule)."])
    >>> c.lines()
    ['- Bandwidth 150 m (micro-place rule).']
    >>> c.to_json()
    '{"parameters": {"bandwidth_m": 150.0}, "notes": ["Bandwidth 150 m (micro-place rule)."]}'
    """

    params: Mapping[str, Any] = field(default_factory=FrozenDict)
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(dict(self.params)))
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    def lines(self, bullet: str = "- ") -> list[str]:
        """The notes as printable lines (what ``hotspots`` prints unless ``--quiet``)."""
        return [f"{bullet}{note}" for note in self.notes]

    def to_dict(self) -> dict[str, Any]:
        """``{"parameters": {...}, "notes": [...]}`` as plain, mutable JSON types."""
        return {"parameters": thaw(self.params), "notes": list(self.notes)}

    def to_json(self, **kwargs: Any) -> str:
        """:meth:`to_dict` as JSON text (NaN is never written: it was recorded as null)."""
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Choices:
        """The inverse of :meth:`to_dict`."""
        return cls(data.get("parameters", {}), data.get("notes", ()))

    def merged(self, *others: Choices, **sections: Choices) -> Choices:
        """This record with others appended: parameters of ``others`` update these, ``sections``
        go under their own key; notes are concatenated in order."""
        params = thaw(self.params)
        notes = list(self.notes)
        for other in others:
            params.update(thaw(other.params))
            notes.extend(other.notes)
        for key, other in sections.items():
            params[key] = thaw(other.params)
            notes.extend(other.notes)
        return Choices(params, notes)


def choices_of(obj: Any) -> Choices:
    """The :class:`Choices` of any result hotspots makes.

    Reads, in this order: a :class:`Choices` (returned as is); a fitted detector (``params_``,
    ``notes_``); an ingest report or :class:`~hotspots.incidents.Incidents` (``choices``,
    ``notes``); patrol areas (a GeoDataFrame with ``attrs["params"]`` and ``attrs["notes"]``); a
    patrol plan (``params``, ``summary["notes"]``); and anything with ``params`` and ``notes``
    (a detection result, a change-over-time classification).

    Raises
    ------
    TypeError
        The object records no choices.
    """
    if isinstance(obj, Choices):
        return obj
    if hasattr(obj, "params_"):
        return Choices(obj.params_, getattr(obj, "notes_", ()))
    report = getattr(obj, "report", None)
    if report is not None and hasattr(report, "choices"):
        obj = report
    if hasattr(obj, "choices") and hasattr(obj, "n_read"):
        return Choices(obj.choices, obj.notes)
    attrs = getattr(obj, "attrs", None)
    if isinstance(attrs, Mapping) and "params" in attrs:
        return Choices(attrs["params"], attrs.get("notes", ()))
    if hasattr(obj, "params") and hasattr(obj, "summary"):
        return Choices(obj.params, (obj.summary or {}).get("notes", ()))
    if hasattr(obj, "params") and hasattr(obj, "notes"):
        return Choices(obj.params, obj.notes)
    msg = f"a {type(obj).__name__} records no choices (no params_/notes_, params/notes or attrs)."
    raise TypeError(msg)


def provenance(incidents: Any, *, engine: Mapping[str, Any] | None = None) -> FrozenDict:
    """Where a run's data came from and where it ran, for every export.

    Parameters
    ----------
    incidents : Incidents
    engine : mapping, optional
        Where the analysis ran (:func:`hotspots.engine.engine_record`); default the engine of
        the calling context (:func:`hotspots.engine.use`), else the local engine.

    Returns
    -------
    FrozenDict
        ``synthetic`` (the data are the bundled demo), ``forces``, ``package``, ``version``,
        ``generated_at`` (UTC, ISO 8601, seconds), ``crs``, ``data_period`` (first and last
        month, ``"YYYY-MM"``), ``n_incidents``, ``study_area_km2``, ``input_files`` (name,
        SHA-256, rows), ``ingest`` (the ingest report's choices) and ``engine`` (``{"engine":
        "local"}``, or the Dask scheduler's scheme and host and the number of workers).
    """
    from hotspots import __version__
    from hotspots.engine import engine_record  # the engine imports modules that import this

    if engine is None:
        engine = engine_record()

    months = incidents.months
    forces = list(incidents.report.choices.get("forces", []))
    return freeze(
        {
            "synthetic": bool(incidents.report.synthetic),
            "forces": forces,
            "package": "hotspots",
            "version": __version__,
            "generated_at": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
            "crs": incidents.crs.to_string(),
            "data_period": [months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")]
            if len(months)
            else None,
            "n_incidents": len(incidents),
            "study_area_km2": round(incidents.study_area_m2 / 1e6, 6),
            "input_files": [
                {"name": f.name, "sha256": f.sha256, "rows": f.n_rows}
                for f in incidents.report.files
            ],
            "ingest": incidents.report.choices,
            "engine": dict(engine),
        }
    )
