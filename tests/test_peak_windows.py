"""Peak windows shrunk toward the force-wide timing (hotspots.profile.TimingPrior): the
strength's estimator on known Dirichlet-multinomial draws, the label's false "own timing" rate
when every place shares one timing, and planted places with a timing of their own found."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.incidents import Incidents
from hotspots.profile import dirichlet_strength, rank_hotspots, timing_prior
from hotspots.tactics import patrol_window

#: An evening-peaked force-wide hour profile (shares of 24 hours).
EVENING = np.array([3, 2, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 5, 6, 7, 8, 9, 9, 8, 6, 5.0])
EVENING /= EVENING.sum()
#: A morning profile (a school gate): most of it 07:00-10:00.
MORNING = np.full(24, 0.5)
MORNING[7:10] = 20.0
MORNING /= MORNING.sum()


def test_strength_by_hand():
    # identical rows: no spread beyond the multinomial -> every place shares the profile
    assert dirichlet_strength(np.array([[5, 5], [5, 5]])) == math.inf
    # C = 20 (each row 10 from 5 expected: 25/5 + 25/5 = 10), D = 2, N = 20 -> a = 0
    assert dirichlet_strength(np.array([[10, 0], [0, 10]])) == 0.0
    # rows of one incident say nothing
    assert math.isnan(dirichlet_strength(np.array([[1, 0], [0, 1]])))


@pytest.mark.parametrize("alpha0", [5.0, 20.0, 80.0])
def test_strength_recovers_a_known_dirichlet_precision(alpha0):
    """2,000 places of 40 incidents each, drawn Dirichlet-multinomial around EVENING with
    precision alpha0: the estimate is within 20 % of it."""
    rng = np.random.default_rng(7)
    theta = rng.dirichlet(alpha0 * EVENING, size=2000)
    counts = np.array([rng.multinomial(40, t) for t in theta])
    assert dirichlet_strength(counts) == pytest.approx(alpha0, rel=0.2)


def _places(rng, n_places, per_place, profile, offset=0.0):
    """Incidents at ``n_places`` map points 400 m apart, ``per_place`` each, hours drawn from
    ``profile`` and weekdays uniformly (2024)."""
    centres = np.c_[np.arange(n_places) % 25 * 400.0 + offset, np.arange(n_places) // 25 * 400.0]
    xy = np.repeat(centres, per_place, axis=0) + [400000.0, 300000.0]
    n = len(xy)
    hours = rng.choice(24, n, p=profile)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 364, n), unit="D")
    when = days + pd.to_timedelta(hours, unit="h") + pd.to_timedelta(rng.integers(0, 60, n), "m")
    return xy, when, centres + [400000.0, 300000.0]


def _ranked(xy, when, centres):
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], datetime=when)
    polys = gpd.GeoDataFrame(geometry=[shapely.Point(c).buffer(60.0) for c in centres], crs=inc.crs)
    return inc, rank_hotspots(polys, inc)


def test_shared_timing_gives_the_force_wide_window():
    """Every place's times come from one evening profile, weekdays evenly. Unshrunk, the
    shortest run holding half of 20 incidents names a place-specific timing for nearly every
    place (measured here: 146 of 150 hour windows differ from the force-wide one, and 149 of
    150 name three weekdays or fewer, all of it chance); shrunk, at most 5 % are called their
    own (measured 0 of 150: both strengths come out infinite), and with no weekday pattern in
    the force every window is every day."""
    rng = np.random.default_rng(11)
    xy, when, centres = _places(rng, 150, 20, EVENING)
    inc, ranked = _ranked(xy, when, centres)
    prior = timing_prior(inc)
    assert prior is not None
    hours, days = prior.force_window()
    assert (ranked["peak_basis"] == "force").mean() >= 0.95
    force = ranked[ranked["peak_basis"] == "force"]
    assert set(force["peak_start_hour"]) == {hours[0]}
    assert all(list(d) == days for d in force["peak_days"])
    assert days == list(range(7))  # weekdays even: no peak days named
    assert force["peak_window"].str.startswith("every day ").all()
    window = patrol_window(force.iloc[0])
    assert window.basis == "force"
    # the rule without shrinkage names a window of its own for almost every place
    from hotspots.profile import peak_window

    counts = ranked["hour_counts"].apply(np.asarray)
    own = [peak_window(c) for c in counts]
    assert np.mean([w != hours for w in own]) >= 0.8


def test_planted_morning_places_keep_their_own_window():
    """140 evening places of 20 incidents and 10 school-gate places of 60 incidents peaking
    07:00-10:00 (the hour strength comes out 41 incidents): every school gate's window lies
    within 06:00-11:00 and is its own."""
    rng = np.random.default_rng(5)
    xy_e, when_e, c_e = _places(rng, 140, 20, EVENING)
    xy_m, when_m, c_m = _places(rng, 10, 60, MORNING, offset=200.0)
    xy = np.vstack([xy_e, xy_m])
    when = when_e.append(when_m)
    inc, ranked = _ranked(xy, when, np.vstack([c_e, c_m]))
    morning = ranked[ranked["incidents"] == 60]
    assert len(morning) == 10
    assert (morning["peak_basis"] == "own").all()
    assert morning["peak_start_hour"].between(6, 8).all()
    assert morning["peak_end_hour"].between(9, 11).all()
    # the evening places are fewer than the strength: mostly the force-wide timing, which the
    # school gates pull toward the morning, yet each window still lies in the evening
    evening = ranked[ranked["incidents"] == 20]
    assert (evening["peak_basis"] == "force").all()
    for start, end in zip(evening["peak_start_hour"], evening["peak_end_hour"], strict=True):
        hours = {(start + h) % 24 for h in range((end - start) % 24 or 24)}
        assert {18, 19, 20} <= hours
        assert not {7, 8, 9} & hours


def test_no_times_no_prior():
    inc = Incidents.from_xy(np.arange(5.0), np.arange(5.0), month=["2024-01-01"] * 5)
    assert timing_prior(inc) is None
