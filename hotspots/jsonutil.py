"""The package's one JSON sanitiser: any parameter record or table value -> plain JSON types.

Every parameter record (ingest choices, estimator ``params_``, plan parameters) and every JSON
export goes through :func:`to_jsonable`. It lives in this small module, which imports nothing from
the rest of the package, so that :mod:`hotspots.incidents` (the data model, at the bottom of the
pipeline) can use it without importing the writers; :mod:`hotspots.export` re-exports it as
``hotspots.export.to_jsonable``, the name users should know.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyproj

__all__ = ["to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """Convert a value, recursively, to types :func:`json.dumps` writes as standard JSON.

    Parameters
    ----------
    value : object
        A scalar, mapping or sequence, possibly holding numpy or pandas values.

    Returns
    -------
    object
        Mappings become dicts with string keys; lists, tuples, sets and numpy arrays become lists;
        numpy integers, floats and booleans become Python ones; NaN, infinity, ``None``, ``NaT``
        and ``pd.NA`` become ``None`` (JSON has no NaN); timestamps, datetimes and dates become
        ISO 8601 strings; a :class:`pyproj.CRS` becomes its ``"EPSG:27700"``-style string. Any
        other value is returned unchanged.

    Examples
    --------
    >>> to_jsonable(
    ...     {"n": np.int64(3), "x": float("nan"), 1: (np.float32(0.5), pd.Timestamp("2024-01-01"))}
    ... )
    {'n': 3, 'x': None, '1': [0.5, '2024-01-01T00:00:00']}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dt.date):  # pd.Timestamp and dt.datetime are dates too
        return value.isoformat()
    if isinstance(value, np.datetime64):
        stamp = pd.Timestamp(value)
        return None if stamp is pd.NaT else stamp.isoformat()
    if isinstance(value, pyproj.CRS):
        return value.to_string()
    return value
