"""Tests for hotspots.stats: the CSR tail test, Benjamini-Hochberg and Mann-Kendall, by hand and
against reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hotspots.clusters import csr_min_samples
from hotspots.stats import benjamini_hochberg, csr_lambda, csr_p_value, mann_kendall


# ------------------------------------------------------------------------------------ CSR test
def test_csr_lambda_by_hand():
    # 2,000 incidents over 12 km x 12 km, 75 m discs: 1999 * pi * 75^2 / 144e6
    assert csr_lambda(2000, 144e6, 75.0) == pytest.approx(1999 * math.pi * 5625 / 144e6)
    assert csr_lambda(2000, 144e6, 75.0) == pytest.approx(0.245314, abs=1e-6)
    assert csr_lambda(1, 144e6, 75.0) == 0.0


def test_csr_p_value_by_hand():
    lam = 0.5
    # a disc holding 3 incidents: the centre plus >= 2 others, P(Poisson(0.5) >= 2)
    tail = 1 - math.exp(-lam) * (1 + lam)
    assert csr_p_value(3, 10, lam) == pytest.approx(10 * tail)
    # non-integer counts (harm-weighted) round up: 2.2 -> 3
    assert csr_p_value(2.2, 10, lam) == pytest.approx(10 * tail)
    # one incident alone always happens; the Bonferroni bound is capped at 1
    assert csr_p_value(1, 10, lam) == 1.0
    assert csr_p_value(3, 1000, lam) == 1.0
    assert math.isnan(csr_p_value(3, 0, lam))
    assert math.isnan(csr_p_value(3, 10, float("nan")))
    assert math.isnan(csr_p_value(float("inf"), 10, lam))


def test_csr_p_value_is_the_rule_behind_min_samples():
    """csr_min_samples is the smallest k >= 5 whose CSR p-value is at most alpha."""
    for n, area, eps, alpha in [
        (2000, 144e6, 75.0, 0.05),
        (40_000, 300e6, 75.0, 0.01),
        (500, 4e6, 50.0, 0.05),
    ]:
        lam = csr_lambda(n, area, eps)
        k = csr_min_samples(n, area, eps, alpha)
        assert csr_p_value(k, n, lam) <= alpha
        if k > 5:
            assert csr_p_value(k - 1, n, lam) > alpha


# ---------------------------------------------------------------------------- Benjamini-Hochberg
def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.2])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.06, 0.0533, 0.2 -> monotone: 0.04, 0.0533, 0.0533, 0.2
    np.testing.assert_allclose(
        benjamini_hochberg(p), [0.04, 0.053333333, 0.053333333, 0.2], rtol=1e-6
    )


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(1)
    for m in (1, 2, 17, 500):
        p = np.r_[rng.uniform(0, 1, m), rng.uniform(0, 1e-3, m // 3)]
        np.testing.assert_allclose(
            benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12
        )
    assert benjamini_hochberg(np.array([])).shape == (0,)


def test_block_fdr_equals_dense_fdr():
    """The zero-cell block enters Benjamini-Hochberg exactly as if every cell were listed."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        pr = float(rng.choice([0.0, 0.3, 1.0, rng.uniform()]))
        nb = int(rng.integers(0, 50))
        p = np.r_[
            rng.uniform(0, 1, rng.integers(0, 30)), np.full(rng.integers(0, 4), pr), [1e-6, 1.0]
        ]
        dense = benjamini_hochberg(np.r_[p, np.full(nb, pr)])[: len(p)]
        np.testing.assert_array_equal(benjamini_hochberg(p, pr, nb), dense)


def test_block_fdr_by_hand():
    # family 0.01, 0.5, 0.5, 0.5 (N = 4): q(0.01) = min(0.04, 0.5 * 4/4) = 0.04
    np.testing.assert_allclose(benjamini_hochberg([0.01], p_block=0.5, n_block=3), [0.04])
    # an empty listed part stays empty
    assert benjamini_hochberg(np.array([]), p_block=0.5, n_block=3).shape == (0,)


# -------------------------------------------------------------------------------- Mann-Kendall
def test_mann_kendall_by_hand_with_ties():
    x = [1, 2, 2, 3, 1]
    # pairs i<j: from 1: +,+,+,0 (3); from 2: 0,+,- (0); from 2: +,- (0); from 3: - (-1) -> S = 2
    # ties: {1,1} and {2,2}: t=2 each, t(t-1)(2t+5) = 18 each -> Var = (5*4*15 - 36) / 18 = 44/3
    # Z = (S - 1) / sqrt(Var); tau_b = S / sqrt(n0 (n0 - n1)) = 2 / sqrt(10 * 8)
    mk = mann_kendall(x)
    assert mk.s == 2
    assert mk.var_s == pytest.approx(44 / 3)
    z = 1 / math.sqrt(44 / 3)
    assert mk.z == pytest.approx(z)
    assert mk.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert mk.tau == pytest.approx(2 / math.sqrt(80))
    assert mk.tau == pytest.approx(stats.kendalltau(range(5), x).statistic)


def test_mann_kendall_rows_constant_and_decreasing():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (6, 9)).astype(float)
    a[0] = 3.0
    a[1] = np.arange(9)[::-1]
    mk = mann_kendall(a)
    assert (mk.s[0], mk.z[0], mk.p_value[0], mk.tau[0]) == (0, 0, 1, 0)
    assert mk.s[1] == -36 and mk.tau[1] == pytest.approx(-1) and mk.z[1] < 0
    for r in range(2, 6):
        single = mann_kendall(a[r])
        assert single.z == pytest.approx(mk.z[r])
        assert single.tau == pytest.approx(stats.kendalltau(range(9), a[r]).statistic)
