"""Tests for hotspots.tactics: the knowledge base file, its validator and the matching rules."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from hotspots import HotspotsError
from hotspots.tactics import (
    DEFAULT_TACTICS_PATH,
    TacticsError,
    evaluate_condition,
    load_knowledge_base,
    load_tactics,
    match_table,
    match_tactics,
    patrol_window,
    profile_features,
)


def _profile(**kw):
    base = {
        "hotspot_id": "H001",
        "rank": 5,
        "incidents": 24,
        "share": 0.02,
        "harm": float("nan"),
        "area_m2": 17000.0,
        "pai": 12.0,
        "max_extent_m": 150.0,
        "months_active": 6,
        "n_months": 12,
        "monthly_counts": [2, 0, 3, 0, 2, 0, 5, 0, 4, 0, 8, 0],
        "trend": "stable",
        "temporal_class": "intermittent",
        "has_time": False,
        "hour_counts": None,
        "weekday_counts": None,
        "peak_window": "",
        "peak_start_hour": None,
        "peak_end_hour": None,
        "peak_days": None,
        "night_share": float("nan"),
    }
    base.update(kw)
    return base


def _ids(matches):
    return [m.tactic.id for m in matches]


# ------------------------------------------------------------------ shipped file


def test_every_shipped_tactic_loads_and_cites_a_web_source():
    tactics = load_tactics()
    assert len(tactics) >= 15
    for t in tactics:
        assert t.sources, t.id
        assert all(s.url.startswith(("https://", "http://")) for s in t.sources), t.id
        assert t.what_officers_do and t.dosage["text"]
        assert t.evidence["strength"] in {"A", "B", "C", "X", "U"}


def test_shipped_file_has_the_required_tactics_and_flags():
    kb = load_knowledge_base()
    ids = {t.id for t in kb.tactics}
    assert {
        "T01",
        "T02",
        "T03",
        "T04",
        "T07",
        "T09",
        "T10",
        "T12",
        "T13",
        "T15",
        "T16",
        "T18",
        "T22",
        "T23",
    } <= ids
    assert kb.get("T12").legitimacy_review
    assert {t.id for t in kb.tactics if t.caution} == {"T09", "T22", "T23"}
    assert kb.get("T09").evidence["strength"] == "X"
    assert kb.get("T01").dosage["min_minutes"] == 10
    assert kb.constant("nte_start_hour") == 18 and kb.constant("nte_end_hour") == 6
    assert kb.constant("micro_place_m") == 150


def test_default_path_is_the_package_data_file():
    assert DEFAULT_TACTICS_PATH.name == "tactics.json"
    assert DEFAULT_TACTICS_PATH == resources.files("hotspots").joinpath("data", "tactics.json")


# ------------------------------------------------------------------ broken copies


def _raw():
    return json.loads(DEFAULT_TACTICS_PATH.read_text(encoding="utf-8"))


def _tactic(raw, tid):
    return next(t for t in raw["tactics"] if t["id"] == tid)


def _break_unknown_field(raw):
    _tactic(raw, "T13")["colour"] = "red"


def _break_unknown_op(raw):
    _tactic(raw, "T13")["applies_when"] = {
        "field": "temporal_class",
        "op": "like",
        "value": "chronic",
    }


def _break_unknown_cond_field(raw):
    _tactic(raw, "T13")["applies_when"] = {"field": "weather", "op": "eq", "value": "rain"}


def _break_bad_value_type(raw):
    _tactic(raw, "T13")["applies_when"] = {"field": "temporal_class", "op": "eq", "value": "hot"}


def _break_between(raw):
    _tactic(raw, "T13")["applies_when"] = {"field": "pai", "op": "between", "value": [1]}


def _break_empty_sources(raw):
    _tactic(raw, "T13")["sources"] = []


def _break_missing_sources(raw):
    del _tactic(raw, "T13")["sources"]


def _break_bad_url(raw):
    _tactic(raw, "T13")["sources"][0]["url"] = "ftp://example.org/file"


def _break_not_url(raw):
    _tactic(raw, "T13")["sources"][0]["url"] = "see the guide"


def _break_duplicate_id(raw):
    dup = copy.deepcopy(_tactic(raw, "T13"))
    raw["tactics"].append(dup)


def _break_missing_dosage(raw):
    del _tactic(raw, "T13")["dosage"]


def _break_dosage_text(raw):
    _tactic(raw, "T13")["dosage"] = {"review_days": 90}


def _break_dosage_negative(raw):
    _tactic(raw, "T13")["dosage"]["review_days"] = -1


def _break_strength(raw):
    _tactic(raw, "T13")["evidence"]["strength"] = "Z"


def _break_template(raw):
    _tactic(raw, "T13")["reason_template"] = "Chronic in {months_active} of {months_total}"


def _break_nested_condition(raw):
    _tactic(raw, "T13")["applies_when"] = {
        "all": [{"field": "pai", "op": "ge", "value": 1}, {"nor": []}]
    }


BREAKS = [
    (_break_unknown_field, "unknown fields"),
    (_break_unknown_op, "unknown operator 'like'"),
    (_break_unknown_cond_field, "unknown field 'weather'"),
    (_break_bad_value_type, "cannot be compared"),
    (_break_between, "two numbers"),
    (_break_empty_sources, "sources"),
    (_break_missing_sources, "missing fields"),
    (_break_bad_url, "bad URL"),
    (_break_not_url, "bad URL"),
    (_break_duplicate_id, "duplicate id"),
    (_break_missing_dosage, "missing fields"),
    (_break_dosage_text, "'dosage'"),
    (_break_dosage_negative, "positive number"),
    (_break_strength, "'evidence'"),
    (_break_template, "months_total"),
    (_break_nested_condition, "condition"),
]


@pytest.mark.parametrize(("breaker", "expected"), BREAKS, ids=[b.__name__ for b, _ in BREAKS])
def test_broken_copies_are_rejected_naming_the_tactic(tmp_path: Path, breaker, expected):
    raw = _raw()
    breaker(raw)
    path = tmp_path / "tactics.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError) as info:
        load_tactics(path)
    assert isinstance(info.value, HotspotsError)
    assert info.value.tactic_id == "T13"
    assert "T13" in str(info.value)
    assert expected in str(info.value)


def test_invalid_json_and_unknown_top_level(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(TacticsError, match="not valid JSON"):
        load_tactics(bad)
    raw = _raw()
    raw["extra"] = 1
    bad.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError, match="unknown top-level"):
        load_tactics(bad)
    with pytest.raises(TacticsError, match="does not exist"):
        load_tactics(tmp_path / "missing.json")


def test_same_key_with_two_urls_is_rejected(tmp_path: Path):
    raw = _raw()
    _tactic(raw, "T13")["sources"].append({"key": "KOP", "url": "https://example.org/other"})
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError, match="two different URLs"):
        load_tactics(path)


# ------------------------------------------------------------------ conditions


def test_condition_operators_and_missing_values():
    f = {"pai": 12.0, "temporal_class": "chronic", "has_time": True, "harm_ratio": float("nan")}
    assert evaluate_condition({"field": "pai", "op": "between", "value": [10, 12]}, f)
    assert not evaluate_condition({"field": "pai", "op": "lt", "value": 12}, f)
    assert evaluate_condition(
        {"field": "temporal_class", "op": "in", "value": ["chronic", "emerging"]}, f
    )
    assert evaluate_condition({"not": {"field": "has_time", "op": "eq", "value": False}}, f)
    assert evaluate_condition({"any": [{"field": "pai", "op": "gt", "value": 100}, "always"]}, f)
    # a comparison with a missing value is false, whatever the operator
    assert not evaluate_condition({"field": "harm_ratio", "op": "ge", "value": 0}, f)
    assert not evaluate_condition({"field": "harm_ratio", "op": "lt", "value": 0}, f)
    assert not evaluate_condition({"field": "rank_fraction", "op": "le", "value": 1}, f)


# ------------------------------------------------------------------ matching rules


def test_night_time_peak_gets_the_night_time_economy_tactic():
    p = _profile(
        has_time=True,
        peak_start_hour=22,
        peak_end_hour=3,
        peak_days=[4, 5],
        peak_window="Fri\u2013Sat 22:00\u201303:00",
        night_share=0.8,
    )
    matches = match_tactics(p)
    ids = _ids(matches)
    assert "T10" in ids and "T18" in ids
    t10 = next(m for m in matches if m.tactic.id == "T10")
    assert t10.reason.startswith(
        "Peak Fri\u2013Sat 22:00\u201303:00 lies in the night-time-economy window 18:00\u201306:00 (Cardiff model)"
    )
    assert "80%" in t10.reason
    assert all(m.caveat is None for m in matches)
    assert "T21" not in ids


def test_afternoon_peak_gets_op_savvy_not_nte():
    p = _profile(
        has_time=True, peak_start_hour=15, peak_end_hour=22, peak_days=[2, 3, 4, 5], night_share=0.3
    )
    ids = _ids(match_tactics(p))
    assert "T21" in ids
    assert "T10" not in ids


def test_chronic_spot_gets_problem_oriented_work_with_the_month_count():
    p = _profile(
        temporal_class="chronic", months_active=11, n_months=12, monthly_counts=[3] * 11 + [0]
    )
    matches = match_tactics(p)
    t13 = next(m for m in matches if m.tactic.id == "T13")
    assert t13.reason == "Chronic: violence recorded in 11 of 12 months."
    assert "T07" in _ids(matches) and "T02" in _ids(matches)


def test_month_only_data_yields_the_caveat_everywhere():
    matches = match_tactics(_profile(has_time=False))
    assert matches
    for m in matches:
        assert m.caveat is not None
        assert (
            "No time of day" in m.caveat
            and "15:00\u201302:00" in m.caveat
            and "18:00\u201306:00" in m.caveat
        )
    ids = _ids(matches)
    assert "T10" not in ids and "T21" not in ids
    t18 = next(m for m in matches if m.tactic.id == "T18")
    assert "no time of day" in t18.reason


def test_large_area_gets_splitting_advice():
    matches = match_tactics(_profile(max_extent_m=900.0))
    t03 = next(m for m in matches if m.tactic.id == "T03")
    assert t03.reason.startswith("900 m across, 6.0 times the 150 m micro place")
    assert "T02" not in _ids(matches)  # not a micro place
    assert "T03" not in _ids(match_tactics(_profile(max_extent_m=150.0)))


def test_emerging_spot_gets_short_campaign():
    p = _profile(
        temporal_class="emerging",
        months_active=3,
        monthly_counts=[0] * 9 + [4, 6, 8],
        trend="rising",
    )
    matches = match_tactics(p)
    ids = _ids(matches)
    assert "T15" in ids and "T16" in ids and "T13" not in ids
    t15 = next(m for m in matches if m.tactic.id == "T15")
    assert t15.reason == "Emerging: 100% of its incidents fell in the last 4 of 12 months."


def test_harm_spot_reason_uses_harm_concentration():
    p = _profile(harm=300.0, share=0.02, temporal_class="intermittent")
    matches = match_tactics(p, total_harm=5000.0)  # harm share 6 % vs count share 2 %: ratio 3
    t02 = next(m for m in matches if m.tactic.id == "T02")
    assert "Harm spot: 6.0% of all recorded harm against 2.0% of incidents (3.0 times" in t02.reason
    f = profile_features(p, total_harm=5000.0)
    assert math.isclose(f["harm_ratio"], 3.0)
    # without weights the ratio is missing and the harm reason is not used
    f2 = profile_features(_profile())
    assert math.isnan(f2["harm_ratio"])


def test_offender_focused_work_is_flagged_for_review():
    p = _profile(temporal_class="chronic", months_active=12, rank=1, monthly_counts=[2] * 12)
    matches = match_tactics(p, n_hotspots=20)
    t12 = next(m for m in matches if m.tactic.id == "T12")
    assert t12.tactic.legitimacy_review
    assert "legitimacy" in t12.reason


def test_matches_are_sorted_and_cautions_always_present():
    matches = match_tactics(_profile())
    keys = [(m.priority, m.tactic.id) for m in matches]
    assert keys == sorted(keys)
    assert {"T01", "T09", "T22", "T23"} <= set(_ids(matches))
    assert _ids(matches)[0] == "T01"


def test_pandas_row_and_match_table():
    frame = pd.DataFrame(
        [
            _profile(hotspot_id="H001", temporal_class="chronic"),
            _profile(hotspot_id="H002", max_extent_m=800.0, rank=2),
        ]
    )
    table = match_table(frame)
    assert set(table) == {"H001", "H002"}
    assert "T13" in _ids(table["H001"]) and "T03" in _ids(table["H002"])
    assert _ids(match_tactics(frame.iloc[0])) == _ids(table["H001"])


def test_patrol_window_profile_and_fallback():
    w = patrol_window(
        _profile(
            has_time=True, peak_start_hour=21, peak_end_hour=3, peak_days=[4, 5], peak_window=""
        )
    )
    assert (w.start_hour, w.end_hour, w.days, w.basis, w.caveat) == (21, 3, (4, 5), "profile", None)
    assert w.label == "Fri\u2013Sat 21:00\u201303:00"
    assert w.minutes == 6 * 60
    g = patrol_window(_profile(has_time=False))
    assert g.basis == "general" and g.caveat and (g.start_hour, g.end_hour) == (15, 2)
