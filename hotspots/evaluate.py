"""Evaluation: hit rate, PAI, PEI and concentration curves.

Definitions (``n`` incidents of the test period inside the hot spots, ``N`` all test-period
incidents, ``a`` hot spot area, ``A`` study area), as in the guide's section 5:

* hit rate ``H = n / N``;
* Predictive Accuracy Index ``PAI = (n / N) / (a / A)`` (Chainey, Tompson & Uhlig 2008);
* Predictive Efficiency Index ``PEI = PAI / PAI*``, where ``PAI*`` is the best PAI any set of
  grid cells of the same total area could have reached on the test data (Hunt 2016; as in the
  R package ptools, citing Wheeler & Steenbeek 2019). We compute ``PAI*`` on square cells of
  ``cell_size`` metres, so PEI is bounded by 1 up to the cell approximation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.constants import MICRO_PLACE_M
from hotspots.incidents import Incidents
from hotspots.profile import assign_incidents

__all__ = [
    "Displacement",
    "Evaluation",
    "concentration_curve",
    "displacement",
    "evaluate",
    "grid_concentration_curve",
    "holdout",
    "split_by_month",
]


@dataclass(frozen=True)
class Evaluation:
    """Hit rate, PAI and PEI of a set of areas on a set of (test) incidents."""

    n_inside: int
    n_total: int
    area_m2: float
    study_area_m2: float
    hit_rate: float
    coverage: float
    pai: float
    best_pai: float
    pei: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def _union_area(geoms: np.ndarray) -> float:
    return float(shapely.union_all(geoms).area) if len(geoms) else 0.0


def evaluate(
    areas: gpd.GeoDataFrame | gpd.GeoSeries,
    incidents: Incidents,
    *,
    study_area_m2: float | None = None,
    cell_size: float = 25.0,
) -> Evaluation:
    """Hit rate, PAI and PEI of ``areas`` (analysis CRS) on ``incidents``.

    Parameters
    ----------
    areas : GeoDataFrame or GeoSeries
        Hot spots or patrol areas, in the incidents' CRS. Overlaps are counted once.
    incidents : Incidents
        Usually a later (hold-out) period than the one the areas were built from.
    study_area_m2 : float, optional
        Defaults to ``incidents.study_area`` area.
    cell_size : float, default 25
        Cell size in metres for the best-possible PAI in the PEI denominator.
    """
    geoms = np.asarray(getattr(areas, "geometry", areas).values, dtype=object)
    union = shapely.union_all(geoms) if len(geoms) else shapely.Polygon()
    study = float(study_area_m2 if study_area_m2 is not None else incidents.study_area_m2)
    n_total = len(incidents)
    inc_idx, _ = (
        assign_incidents(np.array([union], dtype=object), incidents)
        if not union.is_empty
        else (np.empty(0), None)
    )
    n_inside = len(np.unique(inc_idx))
    area = float(union.area)
    hit = n_inside / n_total if n_total else float("nan")
    coverage = area / study if study > 0 else float("nan")
    pai = hit / coverage if coverage and coverage > 0 and n_total else float("nan")
    best = _best_pai(incidents, area, study, cell_size)
    pei = pai / best if best and best > 0 and np.isfinite(pai) else float("nan")
    return Evaluation(n_inside, n_total, area, study, hit, coverage, pai, best, pei)


def _best_pai(incidents: Incidents, area: float, study: float, cell_size: float) -> float:
    """The PAI of the densest cells whose total area equals ``area`` (the PEI denominator)."""
    if len(incidents) == 0 or area <= 0 or study <= 0:
        return float("nan")
    ij = np.floor(incidents.xy / cell_size).astype(np.int64)
    _, counts = np.unique(ij, axis=0, return_counts=True)
    counts = np.sort(counts)[::-1]
    k = area / cell_size**2
    whole = int(np.floor(k))
    captured = counts[:whole].sum() + (k - whole) * (counts[whole] if whole < len(counts) else 0)
    return float((captured / len(incidents)) / (area / study))


def concentration_curve(hotspots: gpd.GeoDataFrame, study_area_m2: float) -> pd.DataFrame:
    """Cumulative share of incidents against cumulative share of area, down the ranked list.

    Returns a DataFrame with ``rank``, ``area_share`` and ``incident_share`` (both cumulative,
    0-1), starting at (0, 0).
    """
    h = hotspots.sort_values("rank")
    area = (
        np.cumsum(h["area_m2"].to_numpy(dtype=float)) / study_area_m2
        if study_area_m2 > 0
        else np.zeros(len(h))
    )
    share = np.cumsum(h["share"].to_numpy(dtype=float))
    return pd.DataFrame(
        {
            "rank": np.r_[0, h["rank"].to_numpy()],
            "area_share": np.r_[0.0, area],
            "incident_share": np.r_[0.0, share],
        }
    )


def grid_concentration_curve(
    incidents: Incidents, cell_size: float = MICRO_PLACE_M
) -> pd.DataFrame:
    """Share of incidents against share of the study area for cells ranked by count.

    The law of crime concentration curve (guide R20): ``area_share`` is the cumulative area of
    the densest cells as a share of the study area, ``incident_share`` the incidents they hold.
    Only occupied cells are listed, so no dense grid is built.
    """
    if len(incidents) == 0:
        return pd.DataFrame({"area_share": [0.0], "incident_share": [0.0]})
    ij = np.floor(incidents.xy / cell_size).astype(np.int64)
    _, counts = np.unique(ij, axis=0, return_counts=True)
    counts = np.sort(counts)[::-1]
    study = incidents.study_area_m2
    area = (
        np.arange(1, len(counts) + 1) * cell_size**2 / study if study > 0 else np.zeros(len(counts))
    )
    return pd.DataFrame(
        {
            "area_share": np.r_[0.0, area],
            "incident_share": np.r_[0.0, np.cumsum(counts) / len(incidents)],
        }
    )


def split_by_month(incidents: Incidents, first_test_month: str) -> tuple[Incidents, Incidents]:
    """Split incidents into a training period (before ``first_test_month``, "YYYY-MM") and a test
    period (from it on). Both keep the same CRS and study area, so PAI is comparable; incidents
    without a month belong to neither (a note says how many)."""
    start = pd.Timestamp(first_test_month)
    month = incidents.frame["month"]
    train = (month < start).to_numpy()
    test = (month >= start).to_numpy()
    if not train.any() or not test.any():
        from hotspots._errors import ParameterError

        first = month.min()
        last = month.max()
        msg = (
            f"Splitting at {first_test_month} leaves an empty training or test period "
            f"(the data run from {first:%Y-%m} to {last:%Y-%m})."
        )
        raise ParameterError(msg)
    undated = int(month.isna().sum())
    left_out = (
        f" {undated} incident(s) without a month were left out of both periods." if undated else ""
    )
    return (
        incidents.subset(train, note=f"Training period: before {first_test_month}.{left_out}"),
        incidents.subset(test, note=f"Test period: {first_test_month} on.{left_out}"),
    )


def holdout(
    incidents: Incidents,
    first_test_month: str,
    *,
    methods: tuple[str, ...] = ("kde", "dbscan", "gistar"),
    significant_only: bool = True,
    cell_size: float = 25.0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Hold-out evaluation: build hot spots on the training period, score them on the test period.

    Returns one row per method with the hot spots' coverage, hit rate, PAI and PEI on the test
    period (the PEI denominator uses ``cell_size`` metre cells), so methods and parameters can be
    compared on what matters for patrols: future violence caught per unit of area. ``params``
    maps a method to its detector parameters (e.g. ``{"kde": {"bandwidth": 100}}``); methods
    not in it use their automatic defaults. The parameters used are in the ``parameters`` column.
    """
    from hotspots.detect import detect

    train, test = split_by_month(incidents, first_test_month)
    rows = []
    for method in methods:
        kwargs = dict((params or {}).get(method, {}))
        result = detect(train, method, **kwargs)
        hs = result.hotspots
        if significant_only:
            hs = hs[hs["significant"]]
        ev = evaluate(hs, test, cell_size=cell_size)
        rows.append({"method": method, "hotspots": len(hs), **ev.to_dict(), "parameters": kwargs})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Displacement:
    """Counts and the Bowers & Johnson (2003) measures for one operation.

    ``R`` response area, ``D`` displacement buffer, ``C`` control area; ``b`` before, ``a`` after.
    """

    Rb: int
    Ra: int
    Db: int
    Da: int
    Cb: int
    Ca: int
    gross_effect: float
    net_effect: float
    wdq: float
    total_net_effect: float
    interpretation: str

    def to_dict(self) -> dict[str, float | int | str]:
        return dict(self.__dict__)


def _wdq_reading(wdq: float, net_effect: float) -> str:
    if not np.isfinite(wdq):
        return "WDQ undefined: the response area's share of the control trend did not change."
    if net_effect <= 0:
        return "No reduction in the response area relative to the control area, so displacement is not assessed."
    if wdq > 1:
        return "Diffusion of benefit greater than the direct effect (WDQ > 1)."
    if wdq > 0:
        return "Diffusion of benefit to the buffer (0 < WDQ <= 1)."
    if wdq == 0:
        return "No displacement and no diffusion (WDQ = 0)."
    if wdq >= -1:
        return "Some displacement to the buffer, but a net benefit remains (-1 <= WDQ < 0)."
    return "Displacement to the buffer outweighs the direct effect (WDQ < -1)."


def displacement(
    incidents: Incidents,
    response: Any,
    *,
    before: tuple[str, str],
    after: tuple[str, str],
    buffer_m: float = 100.0,
    control: Any = None,
) -> Displacement:
    """Did an operation's effect displace crime or diffuse benefit? (Bowers & Johnson 2003)

    Parameters
    ----------
    incidents : Incidents
    response : shapely geometry or GeoDataFrame
        The treated area(s) in the analysis CRS (e.g. the patrol areas).
    before, after : (str, str)
        First and last month ("YYYY-MM") of the periods before and after (or during) the operation.
    buffer_m : float, default 100
        Width of the displacement buffer around the response area, metres (UK trials used 100 m,
        guide section 5).
    control : shapely geometry or GeoDataFrame, optional
        A comparable untreated area; default the rest of the study area outside the response
        area and its buffer.

    Returns
    -------
    Displacement
        ``GE = Rb - Ra``; ``NE = Rb/Cb - Ra/Ca``; ``WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)``;
        ``TNE = [Rb (Ca/Cb) - Ra] + [Db (Ca/Cb) - Da]``, with a plain-language reading of the WDQ
        (guide section 5, citing Bowers & Johnson 2003 and Ratcliffe's WDQ calculator).
    """

    def geom(g: Any) -> Any:
        return (
            shapely.union_all(np.asarray(g.geometry.values, dtype=object))
            if hasattr(g, "geometry")
            else g
        )

    r = geom(response)
    d = shapely.difference(r.buffer(buffer_m), r)
    c = (
        geom(control)
        if control is not None
        else shapely.difference(incidents.study_area, r.buffer(buffer_m))
    )
    month = incidents.frame["month"]

    def count(area: Any, period: tuple[str, str]) -> int:
        lo, hi = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        inside = shapely.contains_xy(
            area, incidents.frame["x"].to_numpy(), incidents.frame["y"].to_numpy()
        )
        return int((inside & (month >= lo).to_numpy() & (month <= hi).to_numpy()).sum())

    rb, ra = count(r, before), count(r, after)
    db, da = count(d, before), count(d, after)
    cb, ca = count(c, before), count(c, after)
    ge = float(rb - ra)
    ne = rb / cb - ra / ca if cb and ca else float("nan")
    denom = ra / ca - rb / cb if cb and ca else float("nan")
    wdq = (da / ca - db / cb) / denom if cb and ca and denom != 0 else float("nan")
    tne = (rb * (ca / cb) - ra) + (db * (ca / cb) - da) if cb else float("nan")
    return Displacement(
        rb,
        ra,
        db,
        da,
        cb,
        ca,
        ge,
        float(ne),
        float(wdq),
        float(tne),
        _wdq_reading(float(wdq), float(ne)),
    )
