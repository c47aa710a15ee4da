"""One call from incidents to ranked, reproducible hot spots.

:func:`detect` fits a detector (:class:`~hotspots.kde.KDEHotspots`,
:class:`~hotspots.clusters.DBSCANHotspots`, :class:`~hotspots.clusters.HDBSCANHotspots` or
:class:`~hotspots.gistar.GiStarHotspots`),
profiles and ranks its polygons (:func:`hotspots.profile.rank_hotspots`), and records every
parameter and automatic choice in ``HotspotResult.params`` so that the run can be reproduced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd

from hotspots._errors import ParameterError
from hotspots.incidents import Incidents
from hotspots.jsonutil import to_jsonable
from hotspots.profile import RANK_ORDERS, rank_hotspots
from hotspots.record import FrozenList, freeze
from hotspots.record import provenance as run_provenance  # the app's name until it moves

__all__ = ["METHODS", "HotspotResult", "default_parameters", "detect", "make_estimator"]

METHODS = ("kde", "dbscan", "hdbscan", "gistar")


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
    """

    hotspots: gpd.GeoDataFrame
    params: Mapping[str, Any]
    notes: list[str]
    incidents: Incidents
    estimator: Any = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", freeze(self.params))
        object.__setattr__(self, "notes", FrozenList(str(n) for n in self.notes))
        object.__setattr__(self, "warnings", FrozenList(str(w) for w in self.warnings))

    @property
    def surface(self) -> Any:
        """The KDE density surface, or None for clustering methods."""
        return getattr(self.estimator, "surface_", None)

    @property
    def significant(self) -> gpd.GeoDataFrame:
        """Only the hot spots that passed the significance test."""
        return self.hotspots[self.hotspots["significant"]]


def make_estimator(method: str, **params: Any) -> Any:
    """The (unfitted) detector for ``method`` with ``params``."""
    if method == "kde":
        from hotspots.kde import KDEHotspots

        cls = KDEHotspots
    elif method == "dbscan":
        from hotspots.clusters import DBSCANHotspots

        cls = DBSCANHotspots
    elif method == "hdbscan":
        from hotspots.clusters import HDBSCANHotspots

        cls = HDBSCANHotspots
    elif method == "gistar":
        from hotspots.gistar import GiStarHotspots

        cls = GiStarHotspots
    else:
        msg = f"method must be one of {METHODS}, got {method!r}."
        raise ParameterError(msg)
    try:
        return cls(**params)
    except TypeError as exc:
        msg = f"Unknown parameter for method {method!r}: {exc}."
        raise ParameterError(msg) from None


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
    **params: Any,
) -> HotspotResult:
    """Find, profile and rank hot spots.

    Parameters
    ----------
    incidents : Incidents
        From :func:`hotspots.ingest.read_incidents` (or ``Incidents.from_xy``).
    method : {"kde", "dbscan", "hdbscan", "gistar"}, default "kde"
    order : {"intensity", "count", "harm", "peak"}, default "intensity"
        Ranking rule; see :mod:`hotspots.profile`.
    alpha : float, default 0.05
        Significance level for the CSR test of each hot spot.
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
    est = make_estimator(method, **params).fit(incidents)
    ranked = rank_hotspots(est.hotspots_, incidents, order=order, alpha=alpha)
    record = dict(run_provenance(incidents))
    record.update(
        {
            "method": method,
            "method_parameters": to_jsonable(dict(est.params_)),
            "ranking": {
                "order": order,
                "rule": "incidents (or harm) per km2 over max(area, 150 m x 150 m)"
                if order == "intensity"
                else order,
            },
            "significance": {
                "test": "Poisson count vs complete spatial randomness, Bonferroni over study_area/area windows",
                "alpha": alpha,
            },
            "n_hotspots": len(ranked),
            "hotspot_area_share": round(float(ranked["area_m2"].sum()) / incidents.study_area_m2, 6)
            if len(ranked) and incidents.study_area_m2 > 0
            else 0.0,
            "n_significant": int(ranked["significant"].sum()) if len(ranked) else 0,
        }
    )
    notes = list(incidents.report.notes) + list(getattr(est, "notes_", []))
    n_sig = record["n_significant"]
    notes.append(
        f"{len(ranked)} hot spots found, {n_sig} significant against complete spatial randomness "
        f"(alpha {alpha}); ranked by {record['ranking']['rule']}."
    )
    return HotspotResult(ranked, record, notes, incidents, est)
