"""The base class of every hot spot detector, and the constraints its parameters are checked
against.

A detector follows scikit-learn's estimator contract (:class:`sklearn.base.BaseEstimator`):
``__init__`` only stores its keyword parameters under their own names, so ``get_params``,
``set_params``, :func:`sklearn.base.clone` and the repr work; ``fit(incidents, y=None)`` validates
the parameters, computes, and returns ``self``; what it learned or chose ends in an underscore.

Parameters are validated *declaratively*. Each detector lists, in the class attribute
``parameter_constraints``, the values every parameter may take, as a list of constraints of which
at least one must hold:

* :class:`Interval` -- finite real or whole numbers between two bounds (either may be open or
  absent);
* :class:`Options` -- one of a fixed set of values (strings);
* :class:`Boolean` -- ``True`` or ``False``;
* ``None`` -- the parameter may be left unset (the detector then chooses, and says so).

:meth:`HotspotEstimator.validate` (the first thing every ``fit`` does) checks them and raises
:class:`~hotspots.ParameterError` naming the parameter, the value given and what is allowed, with
the hint from ``parameter_hints`` when there is one. Rules that tie parameters together
("``threshold='density'`` needs ``density``") stay in ``fit``, after the declarative check.

Examples
--------
>>> from numbers import Real
>>> class Smoother(HotspotEstimator):
...     parameter_constraints = {"radius": [None, Interval(Real, 0, None, closed="neither")]}
...
...     def __init__(self, *, radius=None):
...         self.radius = radius
>>> Smoother(radius=-1.0).validate()
Traceback (most recent call last):
...
hotspots._errors.ParameterError: radius must be None or a number > 0, got -1.0.
"""

from __future__ import annotations

import inspect
import math
from numbers import Integral, Real
from typing import Any, ClassVar, Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from hotspots._errors import ParameterError
from hotspots.incidents import Incidents

__all__ = ["Boolean", "HotspotEstimator", "Interval", "NotFittedError", "Options"]


class Interval:
    """Finite real (or whole) numbers between two bounds.

    Parameters
    ----------
    kind : numbers.Real or numbers.Integral
        ``Real`` accepts any finite number; ``Integral`` only whole numbers (``5`` or ``5.0``).
        Booleans are never numbers here.
    left, right : float or None
        The bounds; None means unbounded on that side.
    closed : {"both", "left", "right", "neither"}, default "both"
        Which bounds belong to the interval.

    Examples
    --------
    >>> from numbers import Integral, Real
    >>> str(Interval(Real, 0, 1, closed="right")), Interval(Real, 0, 1, closed="right")(0.0)
    ('a number in (0, 1]', False)
    >>> str(Interval(Integral, 1, None)), Interval(Integral, 1, None)(5.0)
    ('a whole number >= 1', True)
    """

    def __init__(
        self,
        kind: type,
        left: float | None,
        right: float | None,
        *,
        closed: Literal["both", "left", "right", "neither"] = "both",
    ) -> None:
        if kind not in (Real, Integral):
            msg = f"Interval kind must be numbers.Real or numbers.Integral, got {kind!r}."
            raise TypeError(msg)
        if closed not in ("both", "left", "right", "neither"):
            msg = f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}."
            raise ValueError(msg)
        self.kind = kind
        self.left = left
        self.right = right
        self.closed = closed

    def __call__(self, value: Any) -> bool:
        """Whether ``value`` lies in the interval."""
        if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
            return False
        v = float(value)
        if not math.isfinite(v):
            return False
        if self.kind is Integral and not v.is_integer():
            return False
        if self.left is not None:
            if v < self.left or (v == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if v > self.right or (v == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        noun = "a whole number" if self.kind is Integral else "a number"
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.left is None and self.right is None:
            return noun
        if self.right is None:
            return f"{noun} {'>=' if lo_in else '>'} {self.left:g}"
        if self.left is None:
            return f"{noun} {'<=' if hi_in else '<'} {self.right:g}"
        return (
            f"{noun} in {'[' if lo_in else '('}{self.left:g}, {self.right:g}{']' if hi_in else ')'}"
        )

    def __repr__(self) -> str:
        kind = "Integral" if self.kind is Integral else "Real"
        return f"Interval({kind}, {self.left!r}, {self.right!r}, closed={self.closed!r})"


class Options:
    """One of a fixed set of values.

    Examples
    --------
    >>> str(Options("quartic", "gaussian")), Options("quartic", "gaussian")("cubic")
    ("one of 'quartic', 'gaussian'", False)
    """

    def __init__(self, *values: Any) -> None:
        self.values = tuple(values)

    def __call__(self, value: Any) -> bool:
        """Whether ``value`` is one of the options (of the option's type and equal to it)."""
        return any(isinstance(value, type(o)) and value == o for o in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def __repr__(self) -> str:
        return f"Options({', '.join(repr(v) for v in self.values)})"


class Boolean:
    """``True`` or ``False`` (Python or NumPy booleans; not 0 or 1)."""

    def __call__(self, value: Any) -> bool:
        """Whether ``value`` is a boolean."""
        return isinstance(value, bool | np.bool_)

    def __str__(self) -> str:
        return "True or False"

    def __repr__(self) -> str:
        return "Boolean()"


def _describe(constraint: Any) -> str:
    return "None" if constraint is None else str(constraint)


def _satisfies(value: Any, constraint: Any) -> bool:
    return value is None if constraint is None else bool(constraint(value))


class HotspotEstimator(BaseEstimator):
    """Base class of the hot spot detectors (scikit-learn's estimator contract).

    Subclasses set ``parameter_constraints`` (one entry per ``__init__`` parameter), optionally
    ``parameter_hints`` (how to fix a bad value, per parameter) and ``hotspot_columns`` (the
    columns of ``hotspots_`` after ``geometry``), and start ``fit`` with :meth:`validate`.

    Attributes
    ----------
    parameter_constraints : dict of str to list
        Parameter name -> the constraints of which its value must satisfy at least one
        (:class:`Interval`, :class:`Options`, :class:`Boolean` or ``None``).
    parameter_hints : dict of str to str
        Parameter name -> a sentence saying how to fix a bad value.
    hotspot_columns : tuple of str
        Columns of the fitted ``hotspots_`` GeoDataFrame after ``geometry``; every detector has at
        least ``method`` and ``peak_density`` (incidents per km²).

    Notes
    -----
    Reading a fitted attribute (a public name ending in an underscore, such as ``hotspots_``)
    before :meth:`fit` raises :class:`sklearn.exceptions.NotFittedError`, which is both a
    ``ValueError`` and an ``AttributeError``, so ``hasattr(est, "hotspots_")`` stays False and
    :func:`sklearn.utils.validation.check_is_fitted` works.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    parameter_hints: ClassVar[dict[str, str]] = {}
    hotspot_columns: ClassVar[tuple[str, ...]] = ("method", "peak_density")

    def validate(self, incidents: Any = None) -> None:
        """Check every parameter against ``parameter_constraints`` (and ``incidents``' type).

        Parameters
        ----------
        incidents : Incidents, optional
            When given, it must be an :class:`~hotspots.incidents.Incidents`.

        Raises
        ------
        ParameterError
            For the first parameter whose value satisfies none of its constraints: names the
            parameter, the value and what is allowed; or when ``incidents`` is not Incidents.
        """
        params = self.get_params(deep=False)
        for name, constraints in self.parameter_constraints.items():
            value = params[name]
            if any(_satisfies(value, c) for c in constraints):
                continue
            allowed = " or ".join(_describe(c) for c in constraints)
            msg = f"{name} must be {allowed}, got {value!r}."
            hint = self.parameter_hints.get(name)
            if hint:
                msg += f" Fix: {hint}"
            raise ParameterError(msg)
        if incidents is not None and not isinstance(incidents, Incidents):
            msg = (
                f"{type(self).__name__}.fit needs a hotspots.Incidents, got "
                f"{type(incidents).__name__}. Fix: read the CSV with "
                "hotspots.ingest.read_incidents or use Incidents.from_xy."
            )
            raise ParameterError(msg)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: an unfitted estimator's learned attribute.
        if name.endswith("_") and not name.startswith("_"):
            msg = (
                f"This {type(self).__name__} is not fitted yet: call fit(incidents) before "
                f"reading {name}."
            )
            raise NotFittedError(msg)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")  # noqa: EM102

    def param_record(self) -> dict[str, Any]:
        """The constructor's parameters in ``__init__``'s order (for ``params_``)."""
        params = self.get_params(deep=False)
        return {name: params[name] for name in self._init_order()}

    @classmethod
    def _init_order(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
