"""Tests for hotspots.tactics: the knowledge base file, its validator and the matching rules."""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hotspots import HotspotsError, ParameterError
from hotspots.tactics import (
    DEFAULT_TACTICS_PATH,
    STAFFING_MODELS,
    STEPS,
    TacticsError,
    dose_conflicts,
    evaluate_condition,
    load_knowledge_base,
    load_tactics,
    match_table,
    match_tactics,
    patrol_window,
    profile_features,
    recommend,
    recommend_table,
    recommendation_matches,
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
    assert {t.id for t in kb.tactics if t.caution} == {
        "T06",
        "T08",
        "T09",
        "T19",
        "T20",
        "T22",
        "T23",
    }
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
    _tactic(raw, "T13")["primary_study"] = ""


def _break_missing_sources(raw):
    del _tactic(raw, "T13")["primary_study"]


def _break_unknown_study(raw):
    _tactic(raw, "T13")["supporting_studies"] = ["Nobody2020"]


def _break_grade_above_design(raw):
    _tactic(raw, "T13")["primary_study"] = "Koper1995"  # observational: at most C


def _break_step(raw):
    _tactic(raw, "T13")["step"] = "Planning"


def _break_guide_page(raw):
    _tactic(raw, "T13")["guide"] = {"page": "G9", "section": "Somewhere"}


def _break_companion_sets_frequency(raw):
    _tactic(raw, "T13")["dosage"]["visits_per_day"] = 2


def _break_unknown_constant(raw):
    _tactic(raw, "T13")["applies_when"] = {"field": "pai", "op": "ge", "constant": "guessed"}


def _break_duration(raw):
    _tactic(raw, "T13")["dosage"]["duration"] = "forever"


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
    (_break_empty_sources, "primary_study"),
    (_break_missing_sources, "missing fields"),
    (_break_unknown_study, "not in 'studies'"),
    (_break_grade_above_design, "does not follow the design"),
    (_break_step, "guide's steps"),
    (_break_guide_page, "'guide'"),
    (_break_companion_sets_frequency, "only a primary tactic"),
    (_break_unknown_constant, "constant 'guessed'"),
    (_break_duration, "'duration'"),
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


def _study(raw, sid):
    return raw["studies"][sid]


STUDY_BREAKS = [
    (lambda s: s.update(url="ftp://example.org/file"), "bad URL"),
    (lambda s: s.update(url="see the guide"), "bad URL"),
    (lambda s: s.update(url="https://studylib.net/doc/1/notes"), "not a source"),
    (lambda s: s.update(url="https://knowt.com/note/abc"), "not a source"),
    (lambda s: s.update(url="https://phlr.org/search?page=13"), "search results page"),
    (lambda s: s.update(doi="10.1002/cl2.1089"), "marked 'verified'"),
    (lambda s: s.update(year=None), "year_note"),
    (lambda s: s.update(design="anecdote"), "'design'"),
    (lambda s: s.pop("url"), "stable link"),
]


@pytest.mark.parametrize(("breaker", "expected"), STUDY_BREAKS)
def test_broken_studies_are_rejected_naming_the_study(tmp_path: Path, breaker, expected):
    raw = _raw()
    breaker(_study(raw, "Hinkle2020"))  # T13's primary study: no verified DOI, a stable link
    path = tmp_path / "tactics.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError) as info:
        load_tactics(path)
    assert info.value.study_id == "Hinkle2020" and "study Hinkle2020" in str(info.value)
    assert expected in str(info.value)


CONSTANT_BREAKS = [
    (lambda c: c.pop("reasoning"), "harm_concentration_ratio", "give its 'reasoning'"),
    (
        lambda c: c.pop("heuristic"),
        "harm_concentration_ratio",
        "whether it is this product's heuristic",
    ),
    (lambda c: c.update(studies=[]), "micro_place_m", "cites no 'studies'"),
    (
        lambda c: c.update(basis="The guide says 15 minutes."),
        "visit_minutes",
        "Suggested by the guide's evidence",
    ),
]


@pytest.mark.parametrize(("breaker", "name", "expected"), CONSTANT_BREAKS)
def test_unmarked_thresholds_are_rejected(tmp_path: Path, breaker, name, expected):
    raw = _raw()
    breaker(raw["constants"][name])
    path = tmp_path / "tactics.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError, match=re.escape(expected)) as info:
        load_tactics(path)
    assert name in str(info.value)


def test_primary_tactic_without_staffing_model_or_reason_is_rejected(tmp_path: Path):
    raw = _raw()
    raw["left_out"] = [e for e in raw["left_out"] if e.get("id") != "T21"]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError, match="left_out") as info:
        load_tactics(path)
    assert info.value.tactic_id == "T21"
    raw = _raw()
    raw["staffing_models"]["pcso"]["candidates"] = ["T02"]  # a dedicated-pairs tactic
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(TacticsError, match="must be a primary tactic for 'pcso'"):
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
        "Peak Fri\u2013Sat 22:00\u201303:00 lies in the night-time-economy window "
        "18:00\u201306:00 (this tool's definition)"
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


# ------------------------------------------------------------ issue 11: sources a reader can check

GUIDE = "https://www.college.police.uk/guidance/serious-violence-hot-spots-policing-guide/"
#: Hosts of the third-party copies, slide hosts and student notes the first knowledge base cited.
MIRRORS = (
    "studylib",
    "slideserve",
    "slideplayer",
    "paperexplained",
    "knowt",
    "assignmentexpert",
    "pdfslide",
    "docslib",
    "globalauthorid",
    "yumpu",
    "deno.dev",
    "researcher.life",
    "dntb.gov.ua",
    "semanticscholar",
)


def _walk_conditions(cond):
    if isinstance(cond, dict):
        if "field" in cond:
            yield cond
        for key in ("all", "any"):
            for c in cond.get(key, []):
                yield from _walk_conditions(c)
        if "not" in cond:
            yield from _walk_conditions(cond["not"])


def test_every_tactic_cites_a_primary_study_and_a_guide_page_and_section():
    kb = load_knowledge_base()
    for t in kb.tactics:
        s = t.primary_study
        assert s is not None and s.authors and s.title and s.venue, t.id
        assert s.year is not None or s.year_note, t.id
        # a verified DOI, or a stable link
        assert (s.doi and s.doi_status == "verified") or (s.url and s.url.startswith("http")), t.id
        assert t.sources[0].key == s.id and t.sources[0].url == s.link
        assert t.guide_page is not None and t.guide_page.url.startswith(GUIDE), t.id
        assert len(t.guide_section) > 20, t.id
        assert t.step in STEPS, t.id
    # spot checks against the studies themselves
    assert kb.study("Basford2021").link == "https://doi.org/10.1007/s41887-021-00067-2"
    assert kb.study("Bland2021").link == "https://doi.org/10.1007/s41887-021-00066-3"
    assert kb.study("Koper1995").doi is None  # not verified: the NIJ library record instead
    assert kb.study("Koper1995").link.startswith("https://nij.ojp.gov/")
    assert kb.get("T02").primary_study.id == "Basford2021"
    assert kb.get("T02").guide_page.key == "GR"
    assert kb.study("Basford2021").guide_reference == "Basford 2021"


def test_no_source_is_a_mirror_or_student_note():
    kb = load_knowledge_base()
    links = [s.link for s in kb.studies.values()] + [p.url for p in kb.guide_pages.values()]
    for link in links:
        assert not any(m in link for m in MIRRORS), link
        assert "/search" not in link, link
    raw = json.loads(DEFAULT_TACTICS_PATH.read_text(encoding="utf-8"))
    text = json.dumps(raw)
    assert not any(m in text for m in MIRRORS)


def test_evidence_grades_follow_the_study_design():
    kb = load_knowledge_base()
    for t in kb.tactics:
        assert t.evidence["strength"] in kb.designs[t.primary_study.design], t.id
        assert t.evidence["design"] == t.primary_study.design
    # the Koper curve is an observational survival analysis, not a randomised trial
    assert kb.study("Koper1995").design == "observational"
    assert kb.get("T01").evidence["strength"] == "C"
    assert kb.get("T22").evidence["strength"] == "C"
    assert kb.designs["observational"] == ("C",)
    assert kb.get("T02").evidence["strength"] == "A"  # randomised crossover, significant
    assert kb.get("T09").evidence["strength"] == "X"  # randomised, backfired
    assert kb.get("T10").evidence["strength"] == "B"  # matched pairs (quasi-experimental)


def test_every_threshold_is_a_marked_constant():
    kb = load_knowledge_base()
    raw = json.loads(DEFAULT_TACTICS_PATH.read_text(encoding="utf-8"))
    for t in raw["tactics"]:
        conds = list(_walk_conditions(t["applies_when"]))
        if isinstance(t["reason_template"], list):
            for e in t["reason_template"]:
                conds += list(_walk_conditions(e["when"]))
        for c in conds:
            if FIELDS_KIND[c["field"]] == "number":
                assert "constant" in c and "value" not in c, (t["id"], c)
    for name, c in kb.constants.items():
        assert isinstance(c["heuristic"], bool), name
        if c["heuristic"]:
            assert "product" in c["reasoning"], name  # says whose threshold it is
        else:
            assert c["basis"] and c["studies"], name
    for name in (
        "micro_place_max_extent_m",
        "large_area_min_extent_m",
        "harm_concentration_ratio",
        "nte_start_hour",
        "campaign_review_days",
    ):
        assert kb.constants[name]["heuristic"] is True, name
        assert "not the guide" in kb.constants[name]["reasoning"] or name.startswith("nte"), name
    assert kb.constant("micro_place_max_extent_m") == 200
    assert kb.constant("harm_concentration_ratio") == 1.5
    window = kb.general_windows["default"]
    assert (window["start_hour"], window["end_hour"], window["heuristic"]) == (15, 2, True)
    assert "not the guide's" in window["reasoning"]
    # plan defaults are "suggested by the guide's evidence", not "the guide's defaults"
    for name in ("visit_minutes", "min_visit_minutes", "max_gap_days"):
        c = kb.constants[name]
        assert c["plan_default"] and c["basis"].startswith("Suggested by the guide's evidence")
    assert "window:default" in kb.heuristics() and "micro_place_m" not in kb.heuristics()


FIELDS_KIND = {**{k: v for k, v in __import__("hotspots.tactics").tactics.FIELDS.items()}}


def test_no_reason_claims_a_peak_inside_the_night_time_economy_window_wrongly():
    kb = load_knowledge_base()
    nte = {(18 + i) % 24 for i in range(12)}
    wrong = _profile(
        has_time=True,
        peak_start_hour=16,
        peak_end_hour=0,
        peak_days=[4, 5],
        peak_window="Fri\u2013Sat 16:00\u201300:00",
        night_share=0.7,
    )
    ms = {m.tactic.id: m for m in match_tactics(wrong, kb)}
    assert "T10" in ms and "T18" in ms
    for tid in ("T10", "T18"):
        assert "lies in" not in ms[tid].reason
        assert "70% of timed incidents" in ms[tid].reason
        assert "not wholly inside it" in ms[tid].reason
    # every start/end pair: "lies in" is said only of peaks wholly inside 18:00-06:00
    said = 0
    for start, end in itertools.product(range(24), range(24)):
        p = _profile(has_time=True, peak_start_hour=start, peak_end_hour=end, night_share=0.7)
        span = (end - start) % 24 or 24
        inside = {(start + i) % 24 for i in range(span)} <= nte
        for m in match_tactics(p, kb):
            if "lies in the night-time-economy window" in m.reason:
                assert inside, (start, end, m.tactic.id)
                said += 1
    assert said > 0  # the phrase is still written, so the check above ran


def test_temporary_hot_spot_tactic_links_the_right_paper():
    kb = load_knowledge_base()
    t16 = kb.get("T16")
    assert t16.primary_study.id == "GorrLee2015"
    assert "temporary crime hot spots" in t16.primary_study.title.lower()
    assert all("Sherman-Weisburd" not in s.url for s in t16.sources)
    assert [s.id for s in t16.supporting_studies] == ["GorrLeeChapter"]
    assert kb.study("GorrLeeChapter").doi == "10.4324/9781315148151-3"


def test_ingest_note_says_what_violence_and_sexual_offences_holds(tmp_path: Path):
    from hotspots.ingest import read_incidents

    csv_text = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
        "Crime type,Last outcome category,Context\n"
        ",2024-01,Test Police,Test Police,-0.1,51.5,On or near High Street,E01,X,"
        "Violence and sexual offences,,\n"
        ",2024-02,Test Police,Test Police,-0.1001,51.5001,On or near High Street,E01,X,Robbery,,\n"
    )
    path = tmp_path / "2024-01-test-street.csv"
    path.write_text(csv_text, encoding="utf-8")
    notes = " ".join(read_incidents(path).report.notes)
    assert "domestic abuse" in notes and "stalking" in notes
    assert "serious street violence, robbery" not in notes


def test_the_guide_lessons_are_covered_with_their_step():
    kb = load_knowledge_base()
    lessons = {
        "T06": ("Tracking", "planned"),  # under-delivery of planned patrols
        "T08": ("Testing", "control"),  # anti-contamination trial design
        "T17": ("Testing", "community"),  # community feedback at hot spots
        "T20": ("Enabling technologies", "app"),  # self-tasking by app
        "T19": ("Testing", "second year"),  # a programme's second year without a result
        "T14": ("Tracking", "outside the UK"),  # a non-UK replication
    }
    for tid, (step, word) in lessons.items():
        t = kb.get(tid)
        assert t.step == step, tid
        assert word in (t.name + " " + t.summary + " " + t.evidence["summary"]).lower() or (
            word in t.evidence["summary"]
        ), tid
    assert kb.get("T20").staffing == ("response_between_calls",)
    left = {e.get("id") or e["name"]: e["reason"] for e in kb.left_out}
    assert "T21" in left and "outcome was not found" in left["T21"]


def test_steps_are_the_guides_and_every_step_is_served():
    kb = load_knowledge_base()
    assert (
        [s["name"] for s in kb.steps]
        == list(STEPS)
        == [
            "Thinking",
            "Enabling technologies",
            "Targeting",
            "Training",
            "Tasking",
            "Tracking",
            "Testing",
        ]
    )
    assert {t.step for t in kb.tactics} == set(STEPS)
    assert kb.steps[2]["page"] == "G3" and kb.steps[6]["page"] == "G7"
    m = match_tactics(_profile(temporal_class="chronic"))[0]
    assert m.to_dict()["step"] == "Training" and m.to_dict()["role"] == "companion"


# --------------------------------------------------------- issue 11: one coherent recommendation


def _area(**kw):
    return _profile(**{"patrol_area_id": "H001-P1", "max_extent_m": 150.0, **kw})


def test_recommendation_picks_one_primary_per_staffing_model():
    night = dict(
        has_time=True,
        peak_start_hour=22,
        peak_end_hour=3,
        peak_days=[4, 5],
        peak_window="Fri\u2013Sat 22:00\u201303:00",
        night_share=0.8,
        temporal_class="chronic",
    )
    expected = {
        ("dedicated_pairs", False): "T02",
        ("dedicated_pairs", True): "T10",
        ("response_between_calls", False): "T04",
        ("response_between_calls", True): "T04",
        ("pcso", False): "T05",
        ("pcso", True): "T05",
    }
    for (staffing, at_night), tid in expected.items():
        row = _area(**night) if at_night else _area(temporal_class="chronic")
        rec = recommend(row, staffing)
        assert rec.primary.tactic.id == tid, (staffing, at_night)
        assert [m.tactic.role for m in rec.matches()].count("primary") == 1
        assert rec.conflicts() == [], (staffing, at_night, rec.conflicts())
        assert rec.level == "area" and rec.place_id == "H001-P1"
    assert "T20" in [m.tactic.id for m in recommend(_area(), "response_between_calls").cautions]
    assert "T20" not in [m.tactic.id for m in recommend(_area(), "pcso").cautions]
    with pytest.raises(ParameterError, match="staffing"):
        recommend(_area(), "volunteers")


def test_doses_are_hand_computed():
    # Southend: one visit a patrol day, 10-20 minutes, runs of 3, gaps <= 3, review by 90
    d = recommend(_area(temporal_class="chronic"), "dedicated_pairs").dose
    assert (d.visit_minutes, d.min_minutes, d.max_minutes, d.visits_per_day) == (15, 10, 20, 1)
    assert (d.consecutive_days, d.max_gap_days, d.review_days, d.duration) == (
        3,
        3,
        90,
        "programme",
    )
    assert d.window.label.startswith("15:00\u201302:00")
    # Sacramento: revisit every 2 h through 15:00-02:00 (660 min): (660 - 15) // 120 + 1 = 6
    d = recommend(_area(temporal_class="chronic"), "response_between_calls").dose
    assert (d.visits_per_day, d.revisit_hours, d.min_minutes, d.max_minutes) == (6, 2.0, 12, 16)
    # ... and through its own 21:00-03:00 peak (360 min): (360 - 15) // 120 + 1 = 3
    timed = _area(has_time=True, peak_start_hour=21, peak_end_hour=3, peak_days=None)
    assert recommend(timed, "response_between_calls").dose.visits_per_day == 3
    # Merseyside floor on Fri-Sat 22:00-03:00: one visit an hour = 5 a night; Sat -> Fri is 6 days,
    # more than 3, so one visit on each other day
    night = _area(
        has_time=True, peak_start_hour=22, peak_end_hour=3, peak_days=[4, 5], night_share=0.8
    )
    rec = recommend(night, "dedicated_pairs")
    d = rec.dose
    assert (d.visits_per_day, d.minutes_per_hour, d.days, d.other_days_visits) == (
        5,
        12.0,
        (4, 5),
        1,
    )
    assert (d.min_minutes, d.visit_minutes) == (12, 15)
    assert any("one visit on the other days" in r for r in rec.reasons)
    # Peterborough: about two extra 15-minute visits a day
    d = recommend(_area(incidents=40, n_months=12), "pcso").dose
    assert (d.visits_per_day, d.visit_minutes) == (2, 15)


def test_chronic_rising_area_gets_a_programme_not_also_a_campaign():
    row = _area(
        temporal_class="chronic",
        trend="rising",
        months_active=12,
        monthly_counts=[1] * 6 + [4] * 6,
    )
    everything = match_tactics(row)
    ids = _ids(everything)
    assert "T13" in ids and "T15" in ids  # the catalogue lists both ...
    assert any("programme" in c and "campaign" in c for c in dose_conflicts(everything))
    rec = recommend(row, "dedicated_pairs")  # ... the recommendation holds one
    rec_ids = [m.tactic.id for m in rec.matches()]
    assert "T13" in rec_ids and "T15" not in rec_ids and "T16" not in rec_ids
    assert rec.dose.duration == "programme" and rec.dose.campaign_days is None
    assert rec.conflicts() == []


def test_night_time_area_gets_the_hourly_floor_not_also_one_visit_a_day():
    row = _area(
        has_time=True,
        peak_start_hour=22,
        peak_end_hour=3,
        peak_days=[4, 5],
        night_share=0.8,
        temporal_class="chronic",
    )
    everything = match_tactics(row)
    assert {"T02", "T10"} <= set(_ids(everything))
    assert any(c.startswith("two primary tactics") for c in dose_conflicts(everything))
    rec = recommend(row, "dedicated_pairs")
    assert rec.primary.tactic.id == "T10"
    assert "T02" not in [m.tactic.id for m in rec.matches()]
    assert rec.conflicts() == []


def test_temporary_places_get_one_campaign():
    emerging = _area(temporal_class="emerging", months_active=3, monthly_counts=[0] * 9 + [4, 6, 8])
    rec = recommend(emerging, "pcso")
    ids = [m.tactic.id for m in rec.matches()]
    assert "T15" in ids and "T16" not in ids and "T13" not in ids
    assert (rec.dose.duration, rec.dose.campaign_days) == ("campaign", 28)
    rec = recommend(_area(temporal_class="intermittent"), "pcso")
    ids = [m.tactic.id for m in rec.matches()]
    assert "T16" in ids and "T15" not in ids
    assert (rec.dose.duration, rec.dose.review_days) == ("campaign", 28)
    assert rec.conflicts() == []


def test_whole_hot_spot_tactics_are_judged_on_the_parent():
    kb = load_knowledge_base()
    # tactics keyed on a hot spot over 200 or 500 m can never hold on a 150 m area
    keyed_on_size = 0
    for t in kb.tactics:
        big = [
            c
            for c in _walk_conditions(t.applies_when)
            if c["field"] == "max_extent_m" and c["op"] == "gt"
        ]
        if big:
            assert t.scope == "hotspot", t.id
            keyed_on_size += 1
    assert keyed_on_size > 0  # the knowledge base still has such tactics, so the check ran
    parent = _profile(hotspot_id="H003", rank=1, max_extent_m=300.0, temporal_class="chronic")
    area = _area(hotspot_id="H003", rank=2, temporal_class="chronic")
    rec = recommend(area, "dedicated_pairs", parent=parent, n_places=10, n_hotspots=10)
    assert rec.primary.tactic.id == "T02"
    assert any(r.startswith("T11 ") and "H003" in r for r in rec.reasons)
    # the same hot spot, judged as a hot spot, gets the foot beat
    rec = recommend(parent, "dedicated_pairs", n_places=10)
    assert rec.level == "hotspot" and rec.primary.tactic.id == "T11"
    assert rec.dose.review_days == 84 and rec.conflicts() == []
    large = recommend(_profile(max_extent_m=900.0), "dedicated_pairs", n_places=10)
    assert large.primary.tactic.id == "T03"
    # no condition holds for a 300 m hot spot outside the top 40%: the default, with a reason
    rec = recommend(_profile(rank=9, max_extent_m=300.0), "dedicated_pairs", n_places=10)
    assert rec.primary.tactic.id == "T02" and any("default" in r for r in rec.reasons)


def test_programme_items_are_shown_once_not_as_area_cautions():
    rec = recommend(_area(temporal_class="chronic"), "dedicated_pairs")
    programme = {m.tactic.id for m in rec.programme}
    assert programme == {"T06", "T08", "T14", "T17", "T19"}
    assert not programme & {m.tactic.id for m in rec.cautions + rec.companions}
    assert {m.tactic.id for m in rec.cautions} == {"T09", "T22", "T23"}
    assert len(rec.matches(include_programme=False)) == len(rec.matches()) - 5
    d = rec.to_dict()
    assert d["primary"]["id"] == "T02" and d["dose"]["visits_per_day"] == 1
    json.dumps(d)


def _synthetic_rows():
    rng = np.random.default_rng(11)
    rows = []
    classes = ["chronic", "emerging", "intermittent", "unknown"]
    for i in range(60):
        has_time = bool(i % 3)
        start = int(rng.integers(0, 24))
        end = int((start + rng.integers(1, 13)) % 24)
        rows.append(
            _area(
                patrol_area_id=f"H{i:03d}-P1",
                rank=i + 1,
                incidents=int(rng.integers(3, 80)),
                harm=float(rng.uniform(10, 500)),
                share=0.01,
                temporal_class=classes[i % 4],
                trend=["rising", "falling", "stable"][i % 3],
                has_time=has_time,
                peak_start_hour=start if has_time else None,
                peak_end_hour=end if has_time else None,
                peak_days=sorted(set(rng.integers(0, 7, size=int(rng.integers(1, 8))).tolist()))
                if has_time
                else None,
                night_share=float(rng.uniform(0, 1)) if has_time else float("nan"),
            )
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("staffing", STAFFING_MODELS)
def test_every_synthetic_area_gets_one_coherent_recommendation(staffing):
    frame = _synthetic_rows()
    recs = recommend_table(frame, staffing, total_harm=5000.0)
    assert len(recs) == 60
    primaries = set()
    for pid, rec in recs.items():
        assert rec.conflicts() == [], (pid, rec.conflicts())
        assert [m.tactic.role for m in rec.matches()].count("primary") == 1
        assert rec.primary.tactic.for_staffing(staffing)
        assert len({m.tactic.dosage.get("duration") for m in rec.matches()} - {None}) <= 1
        primaries.add(rec.primary.tactic.id)
    assert (
        primaries
        == {"dedicated_pairs": {"T02", "T10"}, "response_between_calls": {"T04"}, "pcso": {"T05"}}[
            staffing
        ]
    )
    matches = recommendation_matches(frame, staffing, total_harm=5000.0)
    assert [m.tactic.id for m in matches["H000-P1"]] == [
        m.tactic.id for m in recs["H000-P1"].matches()
    ]


@pytest.fixture(scope="module")
def demo_areas(tmp_path_factory):
    from hotspots.demo import write_demo
    from hotspots.detect import detect
    from hotspots.ingest import read_incidents
    from hotspots.patrol import make_patrol_areas

    path = write_demo(tmp_path_factory.mktemp("kb") / "demo.csv")
    incidents = read_incidents(path)
    hotspots = detect(incidents).hotspots
    return hotspots, make_patrol_areas(incidents, hotspots)


@pytest.mark.parametrize("staffing", STAFFING_MODELS)
def test_every_demo_area_and_hot_spot_gets_one_coherent_recommendation(demo_areas, staffing):
    hotspots, areas = demo_areas
    recs = recommend_table(areas, staffing, hotspots=hotspots)
    assert len(recs) == len(areas) > 20
    for pid, rec in recs.items():
        assert rec.conflicts() == [], (pid, rec.conflicts())
        assert rec.level == "area" and rec.primary.tactic.scope == "area"
    hot = recommend_table(hotspots, staffing)
    assert len(hot) == len(hotspots)
    for hid, rec in hot.items():
        assert rec.conflicts() == [], (hid, rec.conflicts())
    big = hotspots.loc[hotspots["max_extent_m"] > 500, "hotspot_id"]
    if staffing == "dedicated_pairs":
        assert len(big) and all(hot[h].primary.tactic.id == "T03" for h in big)
        # the areas cut from that hot spot name T03 as the hot spot's option
        inside = [r for pid, r in recs.items() if pid.startswith(f"{big.iloc[0]}-")]
        assert inside and all(any(x.startswith("T03 ") for x in r.reasons) for r in inside)
