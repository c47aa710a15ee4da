"""One call from incidents to ranked, reproducible hot spots, and the registry of detectors.

:func:`detect` fits a detector (:class:`~hotspots.kde.KDEHotspots`,
:class:`~hotspots.clusters.DBSCANHotspots`, :class:`~hotspots.clusters.HDBSCANHotspots` or
:class:`~hotspots.gistar.GiStarHotspots`),
profiles and ranks its polygons (:func:`hotspots.profile.rank_hotspots`), and records every
parameter and automatic choice in ``HotspotResult.params`` so that the run can be reproduced.

Detectors are found by name in a registry: :data:`METHODS` maps each method name to its
:class:`Method` (the estimator class and a label), and :func:`register_method` adds one, so a new
detector (any :class:`~hotspots.base.HotspotEstimator`) is available to :func:`detect`, the
command line and the app without changing them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots._errors import ParameterError
from hotspots.base import HotspotEstimator
from hotspots.clusters import DBSCANHotspots, HDBSCANHotspots
from hotspots.constants import MICRO_PLACE_M
from hotspots.engine import engine_record, use
from hotspots.gistar import GiStarHotspots
from hotspots.incidents import Incidents
from hotspots.jsonutil import to_jsonable
from hotspots.kde import KDEHotspots
from hotspots.profile import RANK_ORDERS, rank_hotspots_with_members
from hotspots.progress import DETECTING, RANKING, Progress, progress_step
from hotspots.record import FrozenList, freeze
from hotspots.record import provenance as run_provenance  # the app's name until it moves
from hotspots.stats import SurroundingsTest, start_surroundings_test

__all__ = [
    "METHODS",
    "HotspotResult",
    "Method",
    "default_parameters",
    "detect",
    "make_estimator",
    "register_method",
    "unregister_method",
]


@dataclass(frozen=True)
class Method:
    """A registered detector.

    Attributes
    ----------
    name : str
        The method's name, as given to :func:`detect` and ``hotspots detect --method``.
    estimator : type
        A :class:`~hotspots.base.HotspotEstimator` subclass; ``estimator(**params)`` is unfitted.
    label : str
        A few words for people ("kernel density").
    fdr_parameter : str or None
        The estimator parameter that is a false discovery rate, which :func:`detect` sets from its
        ``fdr`` argument; None when the detector controls no false discovery rate.
    """

    name: str
    estimator: type[HotspotEstimator]
    label: str = ""
    fdr_parameter: str | None = None


_REGISTRY: dict[str, Method] = {}

#: The registered detectors, name -> :class:`Method`, in registration order (read-only view).
METHODS: Mapping[str, Method] = MappingProxyType(_REGISTRY)


def register_method(
    name: str,
    estimator: type[HotspotEstimator],
    *,
    label: str = "",
    fdr_parameter: str | None = None,
    replace: bool = False,
) -> Method:
    """Make a detector available to :func:`detect` under ``name``.

    Parameters
    ----------
    name : str
        Lower-case method name (letters, digits, ``-`` and ``_``).
    estimator : type
        A subclass of :class:`~hotspots.base.HotspotEstimator` whose ``parameter_constraints``
        cover every ``__init__`` parameter.
    label : str, optional
        A few words for people.
    fdr_parameter : str, optional
        The estimator parameter that is a false discovery rate (see :class:`Method`).
    replace : bool, default False
        Replace a method already registered under ``name`` instead of refusing.

    Returns
    -------
    Method

    Raises
    ------
    ParameterError
        When the name is taken (and ``replace`` is False), malformed, or the estimator does not
        follow the contract.
    """
    if not (isinstance(name, str) and name and name == name.lower()) or not all(
        ch.isalnum() or ch in "-_" for ch in name
    ):
        msg = f"Method names are lower-case letters, digits, '-' and '_', got {name!r}."
        raise ParameterError(msg)
    if name in _REGISTRY and not replace:
        msg = f"A method named {name!r} is already registered; pass replace=True to replace it."
        raise ParameterError(msg)
    if not (isinstance(estimator, type) and issubclass(estimator, HotspotEstimator)):
        msg = f"{name!r}: the estimator must be a HotspotEstimator subclass, got {estimator!r}."
        raise ParameterError(msg)
    params = set(estimator().get_params(deep=False))
    missing = sorted(params - set(estimator.parameter_constraints))
    if missing:
        msg = f"{estimator.__name__} declares no parameter_constraints for {missing}."
        raise ParameterError(msg)
    if fdr_parameter is not None and fdr_parameter not in params:
        msg = f"{estimator.__name__} has no parameter {fdr_parameter!r} (fdr_parameter)."
        raise ParameterError(msg)
    method = Method(name, estimator, label, fdr_parameter)
    _REGISTRY[name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove the method ``name`` from the registry (a no-op if it is not registered)."""
    _REGISTRY.pop(name, None)


register_method("kde", KDEHotspots, label="kernel density")
register_method("dbscan", DBSCANHotspots, label="DBSCAN clusters")
register_method("hdbscan", HDBSCANHotspots, label="HDBSCAN clusters")
register_method("gistar", GiStarHotspots, label="Getis-Ord Gi*", fdr_parameter="alpha")


@dataclass(frozen=True, eq=False)
class HotspotResult:
    """What :func:`detect` returns; read-only, since the app shares it between sessions.

    Attributes
    ----------
    hotspots : geopandas.GeoDataFrame
        Ranked hot spots in the analysis CRS (columns in ``docs/architecture.md``). Do not change
        it in place: take ``result.hotspots.copy()`` (cheap: pandas copies on write).
    params : FrozenDict
        Every parameter and automatic choice, JSON-serialisable and read-only (written into every
        export); ``dict(result.params)`` is a mutable copy.
    notes : list of str
        The automatic choices and caveats as sentences (read-only).
    incidents : Incidents
    estimator : object
        The fitted detector.
    warnings : list of str
    members : (ndarray, ndarray) or None
        (incident index, row of ``hotspots``) pairs of the incidents inside each hot spot, as
        :func:`hotspots.profile.rank_hotspots_with_members` found them (for
        :func:`hotspots.places.flag_places`); None when not known, e.g. once rows were dropped.
    """

    hotspots: gpd.GeoDataFrame
    params: Mapping[str, Any]
    notes: list[str]
    incidents: Incidents
    estimator: Any = None
    warnings: list[str] = field(default_factory=list)
    members: tuple[Any, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))
        object.__setattr__(self, "notes", FrozenList(str(n) for n in self.notes))
        object.__setattr__(self, "warnings", FrozenList(str(w) for w in self.warnings))

    def one_place(self) -> str | None:
        """Why no significant hot spot can be drawn when every incident is at one place; None
        otherwise.

        A hot spot is a place that stands out from the places around it: with a single
        distinct location there is nothing to compare it with, whatever the method, so the
        advice for an empty result (another method, more months) would mislead.

        Returns
        -------
        str or None
            One sentence naming the place (longitude, latitude) and the incidents on it.
        """
        from hotspots.crs import to_wgs84
        from hotspots.incidents import unique_points

        xy = self.incidents.xy
        hot = self.hotspots
        if not len(xy) or (len(hot) and hot.get("significant", pd.Series(True)).astype(bool).any()):
            return None  # a hot spot that stands out (a kernel around one point does not)
        if len(unique_points(xy)) != 1:
            return None
        lon, lat = to_wgs84(xy[:1, 0], xy[:1, 1], self.incidents.crs)
        return (
            f"all {len(xy):,} incidents are at one place ({float(lon[0]):.5f}, "
            f"{float(lat[0]):.5f}): with no other place to compare it with, no place can stand "
            "out as a hot spot; that place holds every incident in the data"
        )

    @property
    def surface(self) -> Any:
        """The KDE density surface, or None for clustering methods."""
        return getattr(self.estimator, "surface_", None)

    @property
    def fingerprint(self) -> str:
        """A stable hash of the run: the incidents' fingerprint and every parameter and choice.

        ``params`` records everything that decides the hot spots (method, its parameters and
        automatic choices, ranking, significance level), so equal fingerprints mean equal hot
        spots; the creation time is left out.

        Returns
        -------
        str
            32 hexadecimal digits.
        """
        record = {k: v for k, v in self.params.items() if k != "generated_at"}
        h = hashlib.blake2b(digest_size=16)
        h.update(self.incidents.fingerprint.encode())
        h.update(json.dumps(record, sort_keys=True, default=str).encode())
        return h.hexdigest()

    @property
    def significant(self) -> gpd.GeoDataFrame:
        """Only the hot spots that passed the significance test."""
        return self.hotspots[self.hotspots["significant"]]


def _method(method: str) -> Method:
    try:
        return _REGISTRY[method]
    except (KeyError, TypeError):
        msg = f"method must be one of {tuple(_REGISTRY)}, got {method!r}."
        raise ParameterError(msg) from None


def make_estimator(method: str, **params: Any) -> HotspotEstimator:
    """The (unfitted) detector registered as ``method``, with ``params``.

    Raises
    ------
    ParameterError
        For an unknown method or a parameter the detector does not take (the message lists the
        ones it does). Values are checked when the detector is fitted.
    """
    spec = _method(method)
    known = spec.estimator().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        msg = (
            f"Unknown parameter(s) {unknown} for method {method!r}; its parameters are "
            f"{sorted(known)}."
        )
        raise ParameterError(msg)
    return spec.estimator(**params)


def default_parameters(incidents: Incidents, method: str = "kde") -> dict[str, Any]:
    """The automatic parameter values ``detect`` would choose for these incidents.

    Fits the detector with its defaults and returns its ``params_`` record, so the app can show
    "bandwidth 150 m, chosen by the micro-place rule" next to each control.
    """
    est = make_estimator(method).fit(incidents)
    return dict(est.params_)


def detect(
    incidents: Incidents,
    method: str = "kde",
    *,
    order: str = "intensity",
    alpha: float = 0.05,
    fdr: float | None = None,
    progress: Progress | None = None,
    engine: Any = None,
    scheduler: Any = None,
    **params: Any,
) -> HotspotResult:
    """Find, profile and rank hot spots.

    Parameters
    ----------
    incidents : Incidents
        From :func:`hotspots.ingest.read_incidents` (or ``Incidents.from_xy``).
    method : str, default "kde"
        A registered method (:data:`METHODS`): "kde", "dbscan", "hdbscan" or "gistar".
    order : {"intensity", "count", "harm", "peak"}, default "intensity"
        Ranking rule; see :mod:`hotspots.profile`.
    alpha : float, default 0.05
        Significance level of the ranking's test: a ranked hot spot is ``significant`` when the
        Bonferroni p-value of its most outstanding 75 m place against its own surroundings
        (:class:`hotspots.stats.SurroundingsTest`; or, where the detector has its own test, the
        detector's p-value; Gi*: the smallest q-value inside) is below ``alpha``. It does not
        change which hot spots the detector finds.
    fdr : float, optional
        False discovery rate of a detector that controls one (Gi*: the Benjamini-Hochberg level
        at which cells are hot, default 0.05); refused for the other methods.
    progress : callable, optional
        ``progress(step, done, total)`` (:mod:`hotspots.progress`): ``"detecting"``, then
        ``"ranking"``.
    engine : {"local", "dask"} or hotspots.engine.DaskEngine, optional
        Where the detector runs (:mod:`hotspots.engine`): ``"dask"`` computes kernel density and
        DBSCAN by spatial tiles on a Dask cluster, with the local engine's results. Default: the
        engine of the calling context (:func:`hotspots.engine.use`), else local.
    scheduler : str or distributed.Client, optional
        With ``engine="dask"``: the scheduler's address; None starts a local cluster.
    **params
        Passed to the detector (e.g. ``bandwidth=100``, ``coverage=0.01``, ``eps=50``).

    Returns
    -------
    HotspotResult

    Examples
    --------
    >>> import numpy as np
    >>> from hotspots import Incidents
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 60)] + 400000
    >>> y = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 60)] + 300000
    >>> result = detect(Incidents.from_xy(x, y), "dbscan")
    >>> int(result.hotspots["incidents"].iloc[0]) >= 60
    True
    """
    if order not in RANK_ORDERS:
        msg = f"order must be one of {RANK_ORDERS}, got {order!r}."
        raise ParameterError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha must be between 0 and 1, got {alpha!r}."
        raise ParameterError(msg)
    spec = _method(method)
    if fdr is not None:
        target = spec.fdr_parameter
        if target is None:
            with_fdr = [m.name for m in _REGISTRY.values() if m.fdr_parameter]
            msg = (
                "fdr (a false discovery rate) applies to method "
                f"{' or '.join(map(repr, with_fdr))}, not {method!r}."
            )
            raise ParameterError(msg)
        if target in params and params[target] != fdr:
            msg = (
                f"fdr={fdr!r} and {target}={params[target]!r} both set {method!r}'s false "
                "discovery rate."
            )
            raise ParameterError(msg)
        params[target] = fdr
    est = make_estimator(method, **params)
    # the significance test does not depend on the hot spots: built meanwhile on the other core;
    # a kernel density fit tells it early where the hot spots may be, so it tests their discs
    # before the polygons are cut
    centres: Future[Callable[[Any], Any] | None] | None = (
        Future() if isinstance(est, KDEHotspots) else None
    )
    test = (
        None
        if issubclass(spec.estimator, _OWN_TEST)
        else start_surroundings_test(
            incidents.xy, incidents.study_area, months=incidents.frame["month"], centres=centres
        )
    )
    running = use(engine, scheduler) if engine is not None else contextlib.nullcontext()
    try:
        with running, progress_step(progress, DETECTING):
            if centres is not None:
                cast("KDEHotspots", est).fit(incidents, on_level=centres.set_result)
            else:
                est.fit(incidents)
            ran_on = engine_record()  # the run record names the engine the detector ran on
    finally:
        if centres is not None and not centres.done():
            centres.set_result(None)  # the test's thread waits for it
    with progress_step(progress, RANKING):
        testing = _surroundings(est, incidents, test)
        # a test still being built: the ranking profiles the hot spots meanwhile
        # a hot spot holds an incident: a kernel density contour closing round the density
        # between map points, where none is, is left out (and counted below)
        ranked, members = rank_hotspots_with_members(
            est.hotspots_, incidents, order=order, alpha=alpha, surroundings=testing,
            keep_empty=False,
        )  # fmt: skip
        surroundings = testing.result() if isinstance(testing, Future) else testing
    record = dict(run_provenance(incidents, engine=ran_on))
    record.update(
        {
            "method": method,
            "method_parameters": to_jsonable(dict(est.params_)),
            "ranking": {
                "order": order,
                "rule": (
                    "incidents (or harm) per km2 over "
                    f"max(area, {MICRO_PLACE_M:g} m x {MICRO_PLACE_M:g} m)"
                )
                if order == "intensity"
                else order,
            },
            "significance": {
                **(
                    surroundings.describe()
                    if surroundings is not None
                    else {"test": "Gi* (see method_parameters)" if method == "gistar" else "none"}
                ),
                "alpha": alpha,
                **({"fdr": float(getattr(est, spec.fdr_parameter))} if spec.fdr_parameter else {}),
            },
            "n_hotspots": len(ranked),
            "n_left_out_empty": len(est.hotspots_) - len(ranked),
            "hotspot_area_share": round(float(ranked["area_m2"].sum()) / incidents.study_area_m2, 6)
            if len(ranked) and incidents.study_area_m2 > 0
            else 0.0,
            "n_significant": int(ranked["significant"].sum()) if len(ranked) else 0,
        }
    )
    notes = list(incidents.report.notes) + list(getattr(est, "notes_", []))
    if incidents.missing_months_note:
        notes.append(incidents.missing_months_note)
    n_sig = record["n_significant"]
    against = (
        "in Gi*'s test"
        if method == "gistar"
        else "(a 75 m place that stands out from its surroundings)"
    )
    if record["n_left_out_empty"]:
        notes.append(
            f"{record['n_left_out_empty']} polygon(s) of the {method} detector holding no incident "
            "were left out: "
            "the density there comes from incidents around them (a contour can close round the "
            "space between map points); a hot spot holds at least one incident."
        )
    notes.append(
        f"{len(ranked)} hot spots found, {n_sig} significant {against} at alpha {alpha}; "
        f"ranked by {record['ranking']['rule']}."
    )
    timing = _timing_record(incidents, ranked)
    if timing is not None:
        record["timing"], note = timing
        notes.append(note)
    return HotspotResult(ranked, record, notes, incidents, est, members=members)


def _timing_record(incidents: Incidents, ranked: Any) -> tuple[dict[str, Any], str] | None:
    """(record, note) of how the hot spots' peak windows were made; None without times."""
    from hotspots.profile import timing_prior

    prior = timing_prior(incidents)
    if prior is None:
        return None
    record = prior.describe()
    basis = ranked["peak_basis"] if "peak_basis" in ranked else pd.Series([], dtype=object)
    record["n_own_window"] = int((basis == "own").sum())
    record["n_force_window"] = int((basis == "force").sum())
    strengths = [prior.hour_strength, prior.day_strength]
    worth = ", ".join(
        f"{what} {a:.0f} incidents' worth" if np.isfinite(a) else f"{what} all of it"
        for what, a in zip(("hours", "weekdays"), strengths, strict=True)
    )
    note = (
        "Peak windows: each hot spot's hours and weekdays are its own incidents' combined with "
        f"the force-wide profile ({record['force_peak_window']}; {worth}, from how much "
        f"the timings of {prior.n_cells:,} 150 m cells differ beyond chance: empirical Bayes). "
        f"{record['n_own_window']} hot spot(s) have more timed incidents than the hours' "
        f"worth and show a timing of their own; in {record['n_force_window']} the force-wide "
        "timing weighs more (peak_basis 'force'), since a few incidents' peak is mostly chance."
    )
    return record, note


#: Detectors that test their own hot spots (DBSCAN and HDBSCAN build the surroundings test
#: while they cluster; Gi* has its own), so :func:`detect` does not build one for them.
_OWN_TEST = (DBSCANHotspots, HDBSCANHotspots, GiStarHotspots)


def _surroundings(
    est: Any, incidents: Incidents, test: Future[SurroundingsTest] | None
) -> SurroundingsTest | Future[SurroundingsTest] | None:
    """The surroundings test behind ``significant`` (the detector's own when it has one, else
    ``test`` when :func:`detect` started it, maybe still being built); None for Gi*, which has
    its own test, and when there is no hot spot to test."""
    if est.params_.get("method") == "gistar" or len(est.hotspots_) == 0:
        return None
    own = getattr(est, "surroundings_", None)
    if own is not None:
        return own
    if test is not None:
        return test
    return SurroundingsTest(incidents.xy, incidents.study_area, months=incidents.frame["month"])
