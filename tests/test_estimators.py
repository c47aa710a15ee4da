"""One contract test over every registered detector: scikit-learn's estimator conventions,
declarative parameter validation, documented output columns and deterministic refits; plus the
registry and the ranking-alpha / Gi* false-discovery-rate split."""

from __future__ import annotations

import copy
import json
import pickle
import re
from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from hotspots import Incidents, ParameterError
from hotspots.base import Boolean, HotspotEstimator, Interval, Options
from hotspots.detect import METHODS, detect, make_estimator, register_method, unregister_method
from hotspots.kde import KDEHotspots

X0, Y0 = 400_000.0, 300_000.0

#: One valid, non-default value per parameter of every built-in detector.
NON_DEFAULT = {
    "kde": {"bandwidth": 120.0, "coverage": 0.03, "kernel": "gaussian"},
    "dbscan": {"eps": 60.0, "min_samples": 6, "hull": "convex"},
    "hdbscan": {"min_cluster_size": 8, "alpha": 0.01, "significant_only": False},
    "gistar": {"cell_size": 100.0, "alpha": 0.01, "null": "normal"},
}


@pytest.fixture(scope="module")
def town() -> Incidents:
    """4 km x 4 km: 400 background incidents and two planted 20 m clusters of 60."""
    rng = np.random.default_rng(11)
    bx, by = rng.uniform(0, 4000, 400), rng.uniform(0, 4000, 400)
    cx = np.r_[rng.normal(1000, 20, 60), rng.normal(3000, 20, 60)]
    cy = np.r_[rng.normal(1200, 20, 60), rng.normal(2800, 20, 60)]
    return Incidents.from_xy(np.r_[bx, cx] + X0, np.r_[by, cy] + Y0)


def _invalid(constraints: list) -> object:
    """A value that satisfies none of ``constraints``."""
    for value in ("not-a-valid-value", -7.5, 2.5, 10**9):
        ok = any(value is None if c is None else c(value) for c in constraints)
        if not ok:
            return value
    raise AssertionError(constraints)  # pragma: no cover


METHOD_NAMES = list(METHODS)


def test_the_four_detectors_are_registered():
    assert METHOD_NAMES[:4] == ["kde", "dbscan", "hdbscan", "gistar"]
    assert set(NON_DEFAULT) <= set(METHODS)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_estimator_contract(name, town):
    cls = METHODS[name].estimator
    assert issubclass(cls, BaseEstimator) and issubclass(cls, HotspotEstimator)

    # __init__ only stores keyword parameters, each declared in parameter_constraints
    defaults = cls().get_params()
    assert set(defaults) == set(cls.parameter_constraints)
    for pname, value in defaults.items():
        constraints = cls.parameter_constraints[pname]
        assert any(value is None if c is None else c(value) for c in constraints), pname

    # get_params / set_params round trip; clone equality
    extra = NON_DEFAULT.get(name, {})
    est = cls(**extra)
    params = est.get_params()
    assert {k: params[k] for k in extra} == extra
    twin = clone(est)
    assert twin is not est and twin.get_params() == params
    other = cls()
    assert other.set_params(**extra) is other
    assert other.get_params() == params

    # repr shows the class and only the parameters that differ from the defaults
    assert repr(cls()) == f"{cls.__name__}()"
    text = repr(est)
    assert text.startswith(f"{cls.__name__}(")
    for k in extra:
        assert f"{k}=" in text

    # unfitted: learned attributes raise NotFittedError (an AttributeError too)
    fresh = cls()
    with pytest.raises(NotFittedError):
        check_is_fitted(fresh)
    with pytest.raises(NotFittedError, match="fit"):
        _ = fresh.hotspots_
    assert not hasattr(fresh, "params_")

    # fit returns self, leaves the parameters alone, and learns underscore attributes
    before = fresh.get_params()
    assert fresh.fit(town) is fresh
    assert fresh.get_params() == before
    check_is_fitted(fresh)

    # hotspots_: the documented columns, in the analysis CRS, this method's name
    hs = fresh.hotspots_
    assert hs.geometry.name == "geometry"
    assert set(cls.hotspot_columns) <= set(hs.columns)
    assert {"method", "peak_density"} <= set(cls.hotspot_columns)
    assert hs.crs == town.crs
    assert len(hs) >= 1
    assert (hs["method"] == name).all()
    assert hs.geometry.is_valid.all()
    json.dumps(fresh.params_, allow_nan=True)  # JSON-serialisable record
    assert isinstance(fresh.notes_, list)

    # refit is deterministic, and a clone fitted on the same data gives the same result
    again = clone(fresh).fit(town)
    assert again.hotspots_.geom_equals_exact(hs.geometry, tolerance=0).all()
    np.testing.assert_array_equal(
        again.hotspots_.drop(columns="geometry").to_numpy(),
        hs.drop(columns="geometry").to_numpy(),
    )
    assert again.params_ == fresh.params_
    assert fresh.fit(town).hotspots_.geom_equals_exact(hs.geometry, tolerance=0).all()

    # a fitted detector survives pickling (the app caches results) and deep copies
    for copy_ in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(fresh)):
        assert copy_.get_params() == fresh.get_params() and copy_.params_ == fresh.params_
        assert copy_.hotspots_.geom_equals_exact(hs.geometry, tolerance=0).all()


@pytest.mark.parametrize(
    ("name", "pname"),
    [(name, p) for name in METHOD_NAMES for p in METHODS[name].estimator.parameter_constraints],
)
def test_bad_parameter_is_named(name, pname, town):
    cls = METHODS[name].estimator
    value = _invalid(cls.parameter_constraints[pname])
    est = cls(**{pname: value})  # __init__ only stores
    with pytest.raises(ParameterError, match=rf"^{pname} must be .+, got {re.escape(repr(value))}"):
        est.fit(town)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_fit_needs_incidents(name):
    with pytest.raises(ParameterError, match="Incidents"):
        METHODS[name].estimator().fit(np.zeros((3, 2)))


# ----------------------------------------------------------------------------- constraints
def test_constraint_messages():
    assert str(Interval(Real, 0, 1, closed="neither")) == "a number in (0, 1)"
    assert str(Interval(Real, 0, None, closed="left")) == "a number >= 0"
    assert str(Interval(Integral, 2, None)) == "a whole number >= 2"
    assert str(Interval(Real, None, 5, closed="neither")) == "a number < 5"
    assert str(Options("a", "b")) == "one of 'a', 'b'"
    with pytest.raises(ParameterError) as err:
        KDEHotspots(coverage=1.5).validate()
    assert str(err.value) == "coverage must be a number in (0, 1], got 1.5."
    with pytest.raises(ParameterError) as err:
        KDEHotspots(bandwidth=-3.0).validate()
    assert str(err.value) == (
        "bandwidth must be None or a number > 0, got -3.0. "
        "Fix: give metres, or leave it unset for the bandwidth rule."
    )


@pytest.mark.parametrize(
    ("constraint", "good", "bad"),
    [
        (Interval(Real, 0, 1, closed="right"), [1, 0.5, np.float32(0.25)], [0, 1.01, "0.5"]),
        (Interval(Real, 0, None, closed="left"), [0, 1e12], [-1e-9, float("inf"), float("nan")]),
        (Interval(Integral, 1, None), [1, 5.0, np.int64(3)], [0, 2.5, True]),
        (Options("quartic", "gaussian"), ["quartic", np.str_("gaussian")], ["Quartic", None, 1]),
        (Boolean(), [True, False, np.bool_(True)], [0, 1, "yes", None]),
    ],
)
def test_constraints_accept_and_refuse(constraint, good, bad):
    assert all(constraint(v) for v in good)
    assert not any(constraint(v) for v in bad)


# ------------------------------------------------------------------------------- registry
class _WideKDE(KDEHotspots):
    """A KDE with a wider default bandwidth rule, registered by a test."""


def test_register_a_detector_and_detect_uses_it(town):
    try:
        spec = register_method("kde-test", _WideKDE, label="test KDE")
        assert METHODS["kde-test"] is spec and spec.estimator is _WideKDE
        res = detect(town, "kde-test", bandwidth=200.0)
        assert isinstance(res.estimator, _WideKDE)
        assert res.params["method"] == "kde-test"
        assert res.estimator.bandwidth_ == 200.0
        with pytest.raises(ParameterError, match="already registered"):
            register_method("kde-test", _WideKDE)
    finally:
        unregister_method("kde-test")
    assert "kde-test" not in METHODS
    with pytest.raises(ParameterError, match="method must be one of"):
        detect(town, "kde-test")


def test_register_refuses_what_breaks_the_contract():
    class NoConstraints(HotspotEstimator):
        def __init__(self, *, radius=1.0):
            self.radius = radius

    with pytest.raises(ParameterError, match="parameter_constraints"):
        register_method("broken", NoConstraints)
    with pytest.raises(ParameterError, match="HotspotEstimator"):
        register_method("broken", object)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="lower-case"):
        register_method("Broken", KDEHotspots)
    with pytest.raises(ParameterError, match="fdr_parameter"):
        register_method("broken", KDEHotspots, fdr_parameter="fdr")
    assert "broken" not in METHODS


def test_make_estimator_names_unknown_parameters():
    with pytest.raises(ParameterError, match=r"\['eps'\] for method 'kde'.*'bandwidth'"):
        make_estimator("kde", eps=50)
    assert make_estimator("dbscan", eps=50).get_params()["eps"] == 50


# ------------------------------------------------------------------- alpha versus fdr
def test_ranking_alpha_and_gistar_fdr_are_separate(town):
    loose = detect(town, "gistar")
    assert loose.estimator.alpha == 0.05
    # each Gi* hot spot's p_value is the smallest q-value inside it; a rate between the two
    # planted spots' values keeps one of them
    q = np.sort(loose.estimator.hotspots_["p_value"].to_numpy())
    assert len(q) == 2 and q[0] < q[1] < 0.05
    rate = float(np.sqrt(q[0] * q[1]))
    strict = detect(town, "gistar", fdr=rate)
    assert strict.estimator.alpha == rate
    assert strict.params["method_parameters"]["alpha"] == rate
    assert strict.params["significance"] == {**loose.params["significance"], "fdr": rate}
    kept = strict.estimator.hotspots_["p_value"].to_numpy()
    np.testing.assert_array_equal(kept, q[:1])
    assert strict.estimator.params_["n_hot_cells"] < loose.estimator.params_["n_hot_cells"]
    # the ranking's alpha leaves the Gi* rate alone
    ranked = detect(town, "gistar", alpha=0.01)
    assert ranked.estimator.alpha == 0.05
    assert ranked.estimator.params_["n_hot_cells"] == loose.estimator.params_["n_hot_cells"]
    assert ranked.params["significance"]["alpha"] == 0.01
    with pytest.raises(ParameterError, match="fdr.*'gistar'.*not 'kde'"):
        detect(town, "kde", fdr=0.01)
