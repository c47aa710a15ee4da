"""The hot spots' "emerging" class and "rising"/"falling" trend as calibrated claims
(hotspots.profile): false labels on stationary places, planted emerging places found, the
one-sided test against the area's own recent share by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hotspots.profile import _temporal_classes, _trends, classify_counts


def _stationary(rng, months, n=300):
    lam = rng.lognormal(0.5, 1.0, n)  # 0.3 to 10 incidents a month, most near 2
    return rng.poisson(lam[:, None], (n, months))


@pytest.mark.parametrize("months", [6, 12, 24])
def test_stationary_places_are_rarely_emerging_or_trending(months):
    """300 places whose rates never change. The two-thirds rule alone called 5.8 % of such
    places emerging over 6 months and 2.6 % over 12 (one test per place at 0.05 called 1.6-4.2 %
    rising or falling); with the test against the area's share and the false discovery rate
    over the hot spots, at most 1 % (measured 0-1 of 300 and 0 trends)."""
    rng = np.random.default_rng(months)
    counts = _stationary(rng, months)
    classes = np.array(_temporal_classes(counts, 0.05, None, family=True))
    trends = np.array(_trends(counts, 0.05, family=True))
    assert (classes == "emerging").mean() <= 0.01
    assert (trends != "stable").mean() <= 0.01
    old_rule = np.array(_temporal_classes(counts, 1.0))  # alpha 1: the share rule alone
    assert (old_rule == "emerging").sum() > (classes == "emerging").sum()


def test_planted_emerging_places_are_found():
    """20 places at 1 incident a month that jump to 6 a month in the last third of 12 months,
    beside 300 stationary ones: those not active in 75 % of months (chronic first) are all
    emerging, and at least 15 of the 20 are called rising."""
    rng = np.random.default_rng(1)
    base = _stationary(rng, 12)
    jump = np.c_[rng.poisson(1.0, (20, 8)), rng.poisson(6.0, (20, 4))]
    classes = np.array(_temporal_classes(np.vstack([base, jump]), 0.05, None, family=True))
    trends = np.array(_trends(np.vstack([base, jump]), 0.05, family=True))
    planted = classes[300:]
    assert set(planted) <= {"emerging", "chronic"}
    active = (jump > 0).mean(axis=1)
    assert (planted[active < 0.75] == "emerging").all()
    assert (trends[300:] == "rising").sum() >= 15


def test_emerging_is_tested_against_the_areas_own_share():
    # 6 of 8 incidents in the last third of 6 months: P(X >= 6 | 8, 1/3) = 0.0197 -> emerging;
    # when the whole area had 60 % of its incidents then, P(X >= 6 | 8, 0.6) = 0.315 -> not.
    counts = np.array([[1, 0, 1, 0, 3, 3]])
    assert stats.binom.sf(5, 8, 1 / 3) == pytest.approx(0.01966, abs=1e-5)
    assert _temporal_classes(counts, 0.05) == ["emerging"]
    assert _temporal_classes(counts, 0.05, recent_share=0.6) == ["intermittent"]
    # two of three in the last third is the share rule, but 3 incidents cannot show it
    assert classify_counts([0, 1, 0, 0, 1, 1])[0] == "intermittent"
