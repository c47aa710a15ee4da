"""Statistical tests shared by the detectors, the ranking and change over time.

Three tests, each used by more than one module:

:func:`csr_lambda`, :func:`csr_p_value`
    The complete-spatial-randomness (CSR) tail test of a disc centred on an incident: how
    improbable is it that some disc of radius ``r`` around one of ``n`` incidents holds ``count``
    incidents, if the incidents were scattered uniformly over the study area? Used for DBSCAN's
    default ``min_samples`` and cluster significance (:mod:`hotspots.clusters`) and for the
    micro-place significance of every ranked hot spot (:mod:`hotspots.profile`).
:func:`benjamini_hochberg`
    Benjamini-Hochberg adjusted p-values (false discovery rate), with an optional block of tied
    p-values that is never built (the empty cells of a sparse grid). Used by Gi*
    (:mod:`hotspots.gistar`) and change over time (:mod:`hotspots.emerging`).
:func:`mann_kendall`
    The Mann-Kendall trend test with the tie correction, for one or many series
    (:mod:`hotspots.emerging`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

__all__ = [
    "MannKendall",
    "benjamini_hochberg",
    "csr_lambda",
    "csr_p_value",
    "mann_kendall",
]


# --------------------------------------------------------------------------------------------
# Complete spatial randomness: the tail test of a disc centred on an incident
# --------------------------------------------------------------------------------------------


def csr_lambda(n: int, area_m2: float, radius: float) -> float:
    """Expected number of *other* incidents in a disc centred on an incident, under CSR.

    Parameters
    ----------
    n : int
        Number of incidents (N).
    area_m2 : float
        Study area in square metres (A, analysis CRS).
    radius : float
        Disc radius in metres.

    Returns
    -------
    float
        ``lam = (N - 1) * pi * radius**2 / A``: each of the other ``N - 1`` incidents falls in the
        disc with probability ``pi radius^2 / A`` under complete spatial randomness (less near the
        edge of the study area, which only makes the test conservative).

    Examples
    --------
    >>> round(csr_lambda(2000, 12_000.0**2, 75.0), 4)
    0.2453
    """
    return (n - 1) * math.pi * radius * radius / area_m2


def csr_p_value(count: float, n: int, lam: float) -> float:
    """Bonferroni p-value of a disc centred on an incident that holds ``count`` incidents.

    Parameters
    ----------
    count : float
        Incidents in the disc, its centre incident included (rounded up to a whole number).
    n : int
        Number of incidents: the number of discs tested (one per incident).
    lam : float
        Expected number of *other* incidents in one disc, :func:`csr_lambda`.

    Returns
    -------
    float
        ``min(1, n * P(1 + Poisson(lam) >= count))`` (the ``1 +`` is the centre incident itself);
        NaN when ``lam`` or ``count`` is not finite or ``n < 1``.

    Notes
    -----
    Under CSR the number of other incidents in one incident's disc is Binomial(N - 1, p); its
    upper tail beyond the mean is bounded by the Poisson tail of the same mean (Anderson & Samuels
    1967), and the union (Bonferroni) bound over the N discs makes the result a family-wise
    p-value: the chance that pure noise puts ``count`` or more incidents in *any* disc is at most
    this value.

    References
    ----------
    T. W. Anderson and S. M. Samuels (1967), "Some inequalities among binomial and Poisson
    probabilities", *Proc. Fifth Berkeley Symp. Math. Statist. Prob.* 1, 1-12.

    Examples
    --------
    2,000 incidents over 144 km², 75 m discs (``lam`` = 0.245): a disc with 6 incidents.

    >>> lam = csr_lambda(2000, 12_000.0**2, 75.0)
    >>> f"{csr_p_value(6, 2000, lam):.2e}"
    '1.21e-02'
    """
    if not (np.isfinite(lam) and np.isfinite(count)) or n < 1:
        return float("nan")
    tail = float(stats.poisson.sf(math.ceil(count) - 2, lam))  # P(X >= count - 1)
    return min(1.0, n * tail)


# --------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------------


def benjamini_hochberg(p: np.ndarray, p_block: float | None = None, n_block: int = 0) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order of ``p``.

    Parameters
    ----------
    p : array-like of float, shape (m,)
        p-values.
    p_block : float, optional
        A p-value shared by ``n_block`` further tests of the same family that are not listed (the
        empty cells of a sparse grid, which all have the same local sum).
    n_block : int, default 0
        How many such tests.

    Returns
    -------
    numpy.ndarray of float, shape (m,)
        ``q_(i) = min_{k >= i} min(1, p_(k) N / k)`` over the ``N = m + n_block`` p-values sorted
        ascending, returned for the ``m`` listed tests only. A test is a discovery at false
        discovery rate ``alpha`` when its q-value is at most ``alpha``.

    Notes
    -----
    With a block, the result equals ``benjamini_hochberg(np.r_[p, np.full(n_block, p_block)])[:m]``
    without building the block: a run of tied p-values at ranks ``a+1 .. a+r`` only ever
    contributes its last ``p N / (a + r)`` to the step-up minimum. Listed p-values tied with the
    block are ranked before it.

    References
    ----------
    Y. Benjamini and Y. Hochberg (1995), "Controlling the false discovery rate: a practical and
    powerful approach to multiple testing", *J. R. Statist. Soc. B* 57(1), 289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    >>> benjamini_hochberg([0.01], p_block=0.5, n_block=3).tolist()
    [0.04]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if p_block is None or n_block <= 0:
        if m == 0:
            return p
        order = np.argsort(p)
        ranked = p[order] * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(ranked[::-1])[::-1]
        out = np.empty(m)
        out[order] = np.minimum(q, 1.0)
        return out
    big_n = m + n_block
    order = np.argsort(p)
    ps = p[order]
    a = int(np.searchsorted(ps, p_block, side="right"))  # explicit ties go before the block
    rank = np.arange(1, m + 1)
    rank[a:] += n_block
    vals = np.r_[ps[:a], p_block, ps[a:]]
    ranks = np.r_[rank[:a], a + n_block, rank[a:]]
    ranked = vals * big_n / ranks
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.r_[q[:a], q[a + 1 :]]
    out = np.empty(m)
    out[order] = np.minimum(q, 1.0)
    return out


# --------------------------------------------------------------------------------------------
# Mann-Kendall
# --------------------------------------------------------------------------------------------


class MannKendall(NamedTuple):
    """Mann-Kendall trend test results (arrays, one entry per series; floats for one series)."""

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    tau: np.ndarray


def mann_kendall(x: np.ndarray) -> MannKendall:
    """Mann-Kendall trend test with the normal approximation and the tie correction.

    Parameters
    ----------
    x : array of shape (n,) or (m, n)
        One series, or ``m`` series of equal length ``n`` (rows), in time order.

    Returns
    -------
    MannKendall
        ``s`` = sum over ``i < j`` of ``sign(x_j - x_i)``; ``var_s`` =
        ``(n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18`` over groups of ``t`` tied values;
        ``z`` = ``(s - 1) / sqrt(var_s)`` if ``s > 0``, ``(s + 1) / sqrt(var_s)`` if ``s < 0``,
        else 0 (continuity correction); ``p_value`` two-sided, ``2 (1 - Phi(|z|))``; ``tau`` =
        Kendall's tau-b between time and ``x``, ``s / sqrt(n0 (n0 - n1))`` with
        ``n0 = n(n-1)/2`` and ``n1 = sum_t t(t-1)/2``. A constant series has ``z = 0``,
        ``p = 1`` and ``tau = 0``. Scalars for a 1-D input.

    Notes
    -----
    The normal approximation is the one ArcGIS's Emerging Hot Spot Analysis uses; it is rough
    below about 10 values.

    References
    ----------
    H. B. Mann (1945), "Nonparametric tests against trend", *Econometrica* 13(3), 245-259.
    M. G. Kendall (1975), *Rank Correlation Methods*, 4th ed., Griffin (variance with ties).

    Examples
    --------
    >>> mk = mann_kendall([1, 2, 2, 3, 1])
    >>> mk.s, round(mk.var_s, 4)
    (2.0, 14.6667)
    """
    arr = np.asarray(x, dtype=float)
    one = arr.ndim == 1
    a = np.atleast_2d(arr)
    m, n = a.shape
    s = np.zeros(m)
    tied = np.zeros(m)  # per value, how many values equal it (itself included)
    sq = np.zeros(m)
    for i in range(n):
        s += np.sign(a[:, i + 1 :] - a[:, i : i + 1]).sum(axis=1)
        c = (a == a[:, i : i + 1]).sum(axis=1)
        tied += c
        sq += c.astype(float) ** 2
    # sum over tie groups of t^2 is sum_k c_k, of t^3 is sum_k c_k^2 (c_k: size of k's group)
    ties = 2 * sq + 3 * tied - 5 * n  # = sum_t t(t-1)(2t+5)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    root = np.sqrt(np.maximum(var_s, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / root, np.where(s < 0, (s + 1) / root, 0.0))
        n0 = n * (n - 1) / 2.0
        n1 = (tied - n) / 2.0
        den = np.sqrt(n0 * (n0 - n1))
        tau = np.where(den > 0, s / den, 0.0)
    z = np.where(root > 0, z, 0.0)
    p = np.minimum(1.0, 2 * stats.norm.sf(np.abs(z)))
    out = MannKendall(s, var_s, z, p, tau)
    if one:
        return MannKendall(*(float(v[0]) for v in out))
    return out
