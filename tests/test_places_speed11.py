"""The kinds of many location texts at once (:func:`hotspots.places.location_kinds`): ASCII texts
normalised, looked up and searched by Arrow, the rest in Python; every answer that of
:func:`hotspots.places.classify_location` on the text alone."""

from __future__ import annotations

import json
import random
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import hotspots.places as places_mod
from hotspots.places import USER_PLACE, classify_location, load_places, location_kinds

SPACES = [" ", "  ", "\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\xa0", "\u2003", ""]
PREFIXES = [
    "On or near ",
    "on or near ",
    "ON OR NEAR ",
    " On or near\t",
    "On or near",
    "On or  near ",
    "On or near\xa0",
    "",
    "\x1cOn or near ",
    "On or near \x1f",
]
OTHERS = [
    "HMP Liverpool",
    "hmp_x",
    "hmp-liverpool",
    "Accident & Emergency",
    "accident and emergency unit",
    "Crown Court",
    "magistrates' courts",
    "Youth Court Lane",
    "Prison Lane",
    "Hospital Street",
    "police station road",
    "custody suite",
    "young offenders institution",
    "Royal Liverpool University Hospital",
    "Shopping Area",
    "Petrol Station",
    "St. Mary's Hospital",
    "Café Nero",
    "Straße",
    "ÀCCIDENT & EMERGENCY",
    "Hospitál",
    "ＨＭＰ Leeds",  # full-width letters: not ASCII
    "primary school",
    "x",
    "",
    " ",
    "&",
    "'",
    "policehq",
    "the prisoner",
]


def _texts(rules, n_each: int = 3, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    base = [name for kind in rules.kinds for name in kind.names] + OTHERS
    out = set()
    for b in base:
        for p in PREFIXES:
            for w in rng.sample(SPACES, n_each):
                out.update(
                    (
                        p + b + w,
                        w + p + b.upper(),
                        p + b.replace(" ", w + w),
                        p + "Near " + b + " Road",
                        p + b + " " + b,
                    )
                )
    return sorted(out)


def _one_by_one(values, rules) -> np.ndarray:
    kinds = [classify_location("" if v is None else str(v), rules) for v in values]
    return np.array([k.id if k else "" for k in kinds], dtype=object)


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]", "string[python]"])
def test_every_text_gets_the_kind_classify_location_gives(dtype):
    rules = load_places()
    texts = pd.Series(_texts(rules), dtype=dtype)
    got = location_kinds(texts, rules)
    assert np.array_equal(got, _one_by_one(texts.astype(object), rules))
    # every kind and the ordinary text are among them, so each path is exercised
    assert set(got) == {"", *(k.id for k in rules.kinds)}


def test_repeats_missing_values_and_non_text():
    rules = load_places()
    texts = _texts(rules, n_each=1)[:300]
    values = pd.Series([*texts, *texts[:50], None, np.nan, 7, "On or near Prison"], dtype=object)
    got = location_kinds(values, rules)
    want = _one_by_one([None if v is np.nan else v for v in values], rules)
    assert np.array_equal(got, want)
    assert location_kinds(pd.Series([], dtype=object), rules).shape == (0,)


def test_user_names_still_win():
    rules = load_places()
    got = location_kinds(
        ["On or near Prison", "On or near Smith Street"], rules, user_names=["Smith Street"]
    )
    assert got.tolist() == ["prison", USER_PLACE]


def _rules_with_patterns(tmp_path, patterns):
    data = json.loads(resources.files("hotspots").joinpath("data/places.json").read_text("utf-8"))
    data["places"][0]["patterns"] = patterns
    path = tmp_path / "places.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_places(path)


@pytest.mark.parametrize(
    "patterns",
    [
        [r"(?=pris)prison\b", r"\bhmp\b"],  # a lookahead: RE2 cannot read it
        [r"\bhmp\s+\w+"],  # \s and \w: not among the forms RE2 is trusted with
        [r"(?:prison)"],  # a special group
    ],
)
def test_patterns_outside_the_safe_forms_are_searched_by_python(tmp_path, patterns):
    rules = _rules_with_patterns(tmp_path, patterns)
    assert places_mod._ascii_patterns(rules) is None
    texts = pd.Series(_texts(rules, n_each=1))
    assert np.array_equal(location_kinds(texts, rules), _one_by_one(texts, rules))


def test_shipped_patterns_are_searched_by_arrow():
    searched = places_mod._ascii_patterns(load_places())
    assert searched is not None and any(p for _, p in searched)
