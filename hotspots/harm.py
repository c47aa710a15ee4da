"""Harm weights by crime type, read from the table a user gives (CSV or JSON).

A harm weight turns a count of incidents into a sum of harm: for example the Cambridge Crime Harm
Index gives each offence type the days of imprisonment its starting-point sentence carries
(Sherman, Neyroud & Neyroud 2016, *Policing* 10(3), 171-183). :func:`read_harm_weights` is the one
reader both the command line (``--harm-weights FILE``) and the app's upload use; the weights it
returns go to :func:`hotspots.ingest.read_incidents` as ``harm_weights``.

Accepted tables
---------------
CSV (comma, semicolon, tab or pipe; UTF-8, UTF-8 with BOM, UTF-16 or Windows-1252, as for incident
files)::

    crime_type,weight
    Violence and sexual offences,10
    Robbery,100

The header line is optional. With a header, the crime-type column is found by name (a name holding
``crime type``, ``offence``, ``category`` or ``type``) and the weight column too (``weight``,
``harm``, ``days``, ``chi``, ``score``); without recognised names a two-column table is read as
crime type, weight. A decimal comma (``0,5``) is accepted when the delimiter is not a comma.

JSON: one object, ``{"Violence and sexual offences": 10, "Robbery": 100}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from hotspots._errors import InputError

__all__ = ["read_harm_weights"]

_TYPE_NAMES = ("crime_type", "crime type", "crimetype", "offence", "offense", "category", "type")
_WEIGHT_NAMES = ("weight", "harm", "harm_weight", "harm weight", "days", "chi", "score")
_FORMAT_HINT = (
    "write one 'crime type,weight' pair per line (a 'crime_type,weight' header is optional)."
)
_NUMBER_HINT = "use numbers like 365 or 0.5."


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().casefold())


def _number(text: Any, *, decimal_comma: bool) -> float | None:
    """``text`` as a float, or None when it is not a number (booleans are not numbers)."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    s = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma and s.count(",") == 1 and "." not in s:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def _source(source: Any, name: str | None) -> tuple[str, bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        return name or "harm weights", bytes(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            msg = "no such file." if not path.exists() else "is a folder, not a file."
            raise InputError(msg, file=str(path), hint="check the path of the harm weights table.")
        try:
            return label, path.read_bytes()
        except OSError as exc:
            msg = f"could not be read ({exc.strerror or exc})."
            raise InputError(msg, file=str(path)) from exc
    msg = f"harm weights must be read from a path or bytes, not {type(source).__name__}."
    raise InputError(msg, file=name)


def _check(weight: float | None, raw: Any, crime_type: str, where: dict[str, Any]) -> float:
    if weight is None:
        msg = f"the weight {raw!r} for {crime_type!r} is not a number."
        raise InputError(msg, hint=_NUMBER_HINT, **where)
    if not math.isfinite(weight) or weight < 0:
        msg = f"the weight {raw!r} for {crime_type!r} must be a finite number >= 0."
        raise InputError(msg, hint="weights are harm per incident: 0 or more.", **where)
    return weight


def _add(weights: dict[str, float], seen: dict[str, str], crime_type: str, w: float,
         where: dict[str, Any]) -> None:  # fmt: skip
    """Add one weight; the same crime type twice (ignoring case) must carry the same weight."""
    key = crime_type.casefold()
    if key in seen and weights[seen[key]] != w:
        msg = (
            f"{crime_type!r} is given twice, with weights {weights[seen[key]]:g} and {w:g} "
            "(crime types are matched ignoring case)."
        )
        raise InputError(msg, hint="keep one weight per crime type.", **where)
    seen.setdefault(key, crime_type)
    weights.setdefault(seen[key], w)


def _from_json(text: str, label: str) -> dict[str, float]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON ({exc.msg})."
        raise InputError(
            msg, file=label, row=exc.lineno, hint='write {"Crime type": weight, ...}.'
        ) from None
    if not isinstance(data, dict):
        msg = f"expected a JSON object of crime type -> weight, found a JSON {type(data).__name__}."
        raise InputError(msg, file=label, hint='write {"Crime type": weight, ...}.')
    weights: dict[str, float] = {}
    seen: dict[str, str] = {}
    for key, raw in data.items():
        crime_type = str(key).strip()
        where: dict[str, Any] = {"file": label, "column": crime_type or "(blank)"}
        if not crime_type:
            msg = "a weight is given for a blank crime type."
            raise InputError(msg, hint="name the crime type as the data name it.", **where)
        w = _check(_number(raw, decimal_comma=False), raw, crime_type, where)
        _add(weights, seen, crime_type, w, where)
    return weights


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    """The first column whose name is, or holds as whole words, one of ``names`` (in order)."""
    norm = [f" {_norm(h)} " for h in header]
    for name in names:
        for i, cell in enumerate(norm):
            if f" {_norm(name)} " in cell:
                return i
    return None


def _columns(cells: list[str], label: str, line: int) -> tuple[int, int]:
    """(crime type column, weight column) from a header line."""
    found_t, found_w = _find(cells, _TYPE_NAMES), _find(cells, _WEIGHT_NAMES)
    if found_t is not None and found_w is not None and found_t != found_w:
        return found_t, found_w
    if len(cells) == 2:
        return (1, 0) if found_w == 0 or found_t == 1 else (0, 1)
    if found_w is not None and found_t is None:
        return (1 if found_w == 0 else 0), found_w
    msg = (
        "cannot tell which columns hold the crime type and the weight (header: "
        f"{', '.join(repr(c) for c in cells)})."
    )
    raise InputError(
        msg,
        file=label,
        row=line,
        hint="name the columns 'crime_type' and 'weight', or give just those two columns.",
    )


def _from_csv(text: str, delimiter: str, label: str) -> dict[str, float]:
    decimal_comma = delimiter != ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    prev = 0
    try:
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if any(c.strip() for c in rec):
                rows.append((start, rec))
    except csv.Error as exc:
        msg = f"cannot be parsed as CSV near line {reader.line_num} ({exc})."
        raise InputError(msg, file=label, row=reader.line_num, hint=_FORMAT_HINT) from None
    if not rows:
        msg = "the table holds no weights."
        raise InputError(msg, file=label, hint=_FORMAT_HINT)
    first_line, first = rows[0]
    if len(first) < 2:
        msg = f"expected two columns (crime type, weight), found {len(first)}."
        raise InputError(msg, file=label, row=first_line, hint=_FORMAT_HINT)
    it, iw = 0, 1
    type_name, weight_name = "crime type", "weight"
    if _number(first[1], decimal_comma=decimal_comma) is None:  # a header line
        cells = [c.strip() for c in first]
        it, iw = _columns(cells, label, first_line)
        type_name, weight_name = cells[it] or type_name, cells[iw] or weight_name
        rows = rows[1:]
        if not rows:
            msg = "the table has a header but no weights."
            raise InputError(msg, file=label, hint=_FORMAT_HINT)
    weights: dict[str, float] = {}
    seen: dict[str, str] = {}
    for line, rec in rows:
        if len(rec) <= max(it, iw):
            msg = (
                f"expected at least {max(it, iw) + 1} columns (crime type, weight), "
                f"found {len(rec)}."
            )
            raise InputError(msg, file=label, row=line, hint=_FORMAT_HINT)
        crime_type = rec[it].strip()
        where: dict[str, Any] = {"file": label, "row": line, "column": weight_name}
        if not crime_type:
            msg = "the crime type is blank."
            raise InputError(
                msg,
                hint="name the crime type as the data name it.",
                **{**where, "column": type_name},
            )
        raw = rec[iw].strip()
        w = _check(_number(raw, decimal_comma=decimal_comma), raw, crime_type, where)
        _add(weights, seen, crime_type, w, where)
    return weights


def read_harm_weights(source: Any, *, name: str | None = None) -> dict[str, float]:
    """Harm weights per crime type from a CSV or JSON table.

    Parameters
    ----------
    source : path or bytes
        The table (a path), or its bytes (an upload). JSON is recognised by a ``.json`` name or
        by text starting with ``{`` or ``[``; anything else is read as CSV.
    name : str, optional
        The file name used in error messages (default: the path's name, or ``"harm weights"``).

    Returns
    -------
    dict of str to float
        Crime type (as written, stripped) -> weight (finite, >= 0), in file order. Crime types are
        matched to the data ignoring case by :func:`hotspots.ingest.read_incidents`.

    Raises
    ------
    InputError
        Naming the file, the line and the column, with a fix: a missing or unreadable file, a
        binary file, unparseable JSON, a row with one column, a weight that is not a number, is
        negative or not finite, a blank crime type, a crime type given twice with different
        weights, no weights at all, or a header whose columns cannot be told apart.

    Examples
    --------
    >>> read_harm_weights(b"crime_type;weight\\nRobbery;100\\nViolence and sexual offences;0,5\\n")
    {'Robbery': 100.0, 'Violence and sexual offences': 0.5}
    """
    from hotspots.ingest import read_text

    label, data = _source(source, name)
    text, _encoding, delimiter = read_text(data, name=label)
    if label.lower().endswith(".json") or text.lstrip().startswith(("{", "[")):
        return _from_json(text, label)
    return _from_csv(text, delimiter, label)
