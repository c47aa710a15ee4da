"""Tests for hotspots.safeguards and the safeguards the plan and briefing carry.

The stop and search notice on every briefing page, the legitimacy and community-impact cautions
of every recommended tactic, places a street patrol cannot address left out of the plan,
offences found mostly by proactive policing, and stop and search monitoring (synthetic police.uk
stop and search files: no sample is in shared/data).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from hotspots import InputError, ParameterError, cli, workflows
from hotspots.incidents import Incidents
from hotspots.offline import escape_text
from hotspots.safeguards import (
    PROACTIVE_TYPES,
    compare_hotspots,
    load_safeguards,
    proactive_mask,
    read_stop_search,
    stop_search_notice,
    summarise_stop_search,
    tactic_safeguards,
)
from hotspots.tactics import STEPS, load_knowledge_base

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700
TO_WGS = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
SS_HEADER = (
    "Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
    "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
    "Outcome,Outcome linked to object of search,Removal of more than just outer clothing"
)
WHITE = "White - English/Welsh/Scottish/Northern Irish/British"
BLACK = "Black/African/Caribbean/Black British - African"
ASIAN = "Asian/Asian British - Pakistani"
NFA = "A no further action disposal"


def _lonlat(dx: float, dy: float) -> tuple[float, float]:
    lon, lat = TO_WGS.transform(X0 + dx, Y0 + dy)
    return round(float(lon), 6), round(float(lat), 6)


def write_street_csv(path: Path, seed: int = 0) -> Path:
    """A police.uk street-level file: stacks at a prison, streets, a hospital, a weapons find."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(dx, dy, n, loc, ctype="Violence and sexual offences"):
        lon, lat = _lonlat(dx, dy)
        rows.extend([(lon, lat, loc, ctype)] * n)

    add(0, 0, 40, "On or near Prison")
    add(30, 0, 10, "On or near High Street")
    add(600, 0, 30, "On or near Main Street")
    add(1200, 0, 20, "On or near Hospital")
    add(1230, 0, 25, "On or near Market Street")
    add(2000, 0, 60, "On or near Bishopsgate")
    add(2800, 0, 30, "On or near Station Approach", "Possession of weapons")
    for x, y in zip(rng.uniform(-2000, 5000, 300), rng.uniform(-3000, 3000, 300), strict=True):
        add(x, y, 1, "On or near Some Road")
    months = rng.choice([f"2024-{m:02d}" for m in range(1, 7)], len(rows))
    lines = [STREET_HEADER]
    for i, ((lon, lat, loc, ctype), month) in enumerate(zip(rows, months, strict=True)):
        lines.append(
            f"id{i},{month},Merseyside Police,Merseyside Police,{lon},{lat},{loc},E01000001,"
            f"Liverpool 001A,{ctype},,"
        )
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


#: (dx, dy or None for no location, date, self-defined, officer-defined, outcome, linked)
STOPS = [
    (0, 0, "2024-03-10T12:00:00+00:00", WHITE, "White", NFA, ""),
    (1000, 0, "2024-03-11T12:00:00+00:00", BLACK, "Black", "Arrest", "True"),
    (500, 500, "2024-03-12T12:00:00+00:00", WHITE, "White", NFA, ""),
    (500, 600, "2024-03-13T12:00:00+00:00", WHITE, "White", "Community resolution", "True"),
    (500, 700, "2024-03-14T12:00:00+00:00", ASIAN, "Asian", NFA, ""),
    # 23:30 UTC on 31 March is 00:30 on 1 April in London (BST): during the operation
    (10, 0, "2024-03-31T23:30:00+00:00", BLACK, "Black", NFA, "False"),
    (20, 0, "2024-04-05T12:00:00+00:00", BLACK, "Black", "Arrest", "True"),
    (1010, 0, "2024-04-06T12:00:00+00:00", BLACK, "Black", NFA, ""),
    (1020, 0, "2024-04-07T12:00:00+00:00", WHITE, "White", "Khat or Cannabis warning", "True"),
    (500, 800, "2024-04-08T12:00:00+00:00", BLACK, "Black", NFA, ""),
    (500, 900, "2024-04-09T12:00:00+00:00", WHITE, "White", NFA, ""),
    (None, None, "2024-04-10T12:00:00+00:00", "Other ethnic group - Not stated", "", NFA, ""),
    (0, 0, "", WHITE, "White", NFA, ""),  # no date: rejected
    ("abc", 0, "2024-03-20T12:00:00+00:00", WHITE, "White", NFA, ""),  # kept, no location
]


def write_stop_search_csv(path: Path) -> Path:
    lines = [SS_HEADER]
    for dx, dy, date, own, officer, outcome, linked in STOPS:
        if dx is None:
            lat = lon = ""
        elif dx == "abc":
            lat, lon = "abc", "-2.98"
        else:
            lon, lat = _lonlat(dx, dy)
        lines.append(
            f"Person search,{date},False,,{lat},{lon},Male,18-24,{own},{officer},"
            f"Misuse of Drugs Act 1971 (section 23),Controlled drugs,{outcome},{linked},False"
        )
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def _areas_gdf():
    return gpd.GeoDataFrame(
        {"patrol_area_id": ["A", "B"]},
        geometry=[
            shapely.Point(X0, Y0).buffer(75),
            shapely.Point(X0 + 1000, Y0).buffer(75),
        ],
        crs=27700,
    )


# ------------------------------------------------------------------------------ knowledge base


def test_every_tactic_has_legitimacy_and_community_cautions():
    kb = load_knowledge_base()
    data = load_safeguards()
    assert {t.id for t in kb.tactics} == set(data["tactic_safeguards"])
    for t in kb.tactics:
        s = tactic_safeguards(t.id)
        assert len(s["legitimacy"]) > 40 and len(s["community_impact"]) > 40, t.id
    # an id the file does not know gets the common cautions
    assert tactic_safeguards("T99") == dict(data["common_safeguards"])


def test_stop_search_notice_cites_pace_code_a():
    text = stop_search_notice()
    assert text.startswith(
        "Being in or near a mapped hot spot is not grounds for a stop and search."
    )
    assert "PACE Code A, paragraph 2.2" in text and "section 60" in text
    assert "PACE Code A" in stop_search_notice(short=True)
    source = load_safeguards()["stop_search_notice"]["source"]
    assert source["url"].startswith("https://www.gov.uk/")
    assert source["verification"]


def test_proactive_offences_are_named_and_marked_as_a_heuristic():
    pro = load_safeguards()["proactive_offences"]
    assert tuple(pro["types"]) == PROACTIVE_TYPES == ("Possession of weapons", "Drugs")
    assert pro["heuristic"] is True
    # the default targeting's treatment is stated and matches ingest's default
    from hotspots.ingest import VIOLENCE_TYPES_POLICE_UK

    assert "Possession of weapons" in VIOLENCE_TYPES_POLICE_UK
    assert "Drugs" not in VIOLENCE_TYPES_POLICE_UK
    assert "'Possession of weapons' is counted by default" in pro["reasoning"]
    assert "'Drugs' is not counted by default" in pro["reasoning"]


# ---------------------------------------------------------------------------- stop and search


@pytest.fixture(scope="module")
def stops(tmp_path_factory):
    path = write_stop_search_csv(tmp_path_factory.mktemp("ss") / "2024-04-x-stop-and-search.csv")
    return read_stop_search(path)


def test_read_stop_search_accounts_for_every_row(stops):
    rep = stops.report
    assert (rep.n_read, rep.n_used, rep.n_rejected, rep.n_located) == (14, 13, 1, 11)
    assert rep.n_read == rep.n_used + rep.n_rejected
    assert rep.reason_counts() == {"date missing or unreadable": 1}
    assert int(rep.rejected["source_row"].iloc[0]) == 14  # line 14: header is line 1
    f = stops.frame
    # dates are London wall-clock time: 23:30 UTC on 31 March 2024 is 00:30 BST on 1 April
    assert f["date"].iloc[5] == pd.Timestamp("2024-04-01 00:30")
    assert f["date"].iloc[0] == pd.Timestamp("2024-03-10 12:00")  # GMT in March
    assert list(f["ethnicity"][:6]) == ["White", "Black", "White", "White", "Asian", "Black"]
    assert f["ethnicity"].iloc[11] == "Not stated"
    assert f["officer_ethnicity"].iloc[11] == "Not recorded"
    assert list(f["outcome_group"][:4]) == [
        "No further action",
        "Arrest",
        "No further action",
        "Other outcome",
    ]
    assert f["outcome_linked"].iloc[1] is True or bool(f["outcome_linked"].iloc[1])
    assert pd.isna(f["outcome_linked"].iloc[0]) and not bool(f["outcome_linked"].iloc[5])
    assert "1 rows had coordinates unreadable" in rep.notes[1]


def test_read_stop_search_refuses_other_files(tmp_path):
    street = write_street_csv(tmp_path / "street.csv")
    with pytest.raises(InputError, match="not a police.uk stop and search file"):
        read_stop_search(street)
    with pytest.raises(InputError, match="(?i)no such file"):
        read_stop_search(tmp_path / "absent.csv")
    # bytes and folders are read too
    data = write_stop_search_csv(tmp_path / "ss.csv").read_bytes()
    assert read_stop_search(data, name="up.csv").report.files == ("up.csv",)
    folder = tmp_path / "ssdir"
    folder.mkdir()
    write_stop_search_csv(folder / "a.csv")
    write_stop_search_csv(folder / "b.csv")
    assert read_stop_search(folder).report.n_read == 28


def test_summarise_stop_search_before_and_during(stops):
    s = summarise_stop_search(_areas_gdf(), stops, split_date="2024-04-01")
    ov = s.overview.set_index(["period", "zone"])
    inside, rest, none = "patrol areas", "rest of force", "location not recorded"
    # before: inside #1, #2; rest #3, #4, #5; no location #14 (bad coordinates)
    assert ov.loc[("before", inside), "stops"] == 2
    assert ov.loc[("before", rest), "stops"] == 3
    assert ov.loc[("before", none), "stops"] == 1
    assert ov.loc[("before", inside), "share_of_stops"] == pytest.approx(2 / 6)
    assert ov.loc[("before", inside), "find_rate"] == pytest.approx(1 / 2)
    assert ov.loc[("before", rest), "find_rate"] == pytest.approx(1 / 3)
    assert ov.loc[("before", rest), "nfa_rate"] == pytest.approx(2 / 3)
    assert ov.loc[("before", inside), "arrest_rate"] == pytest.approx(1 / 2)
    # during: inside #6 (BST), #7, #8, #9; rest #10, #11; no location #12
    assert ov.loc[("during", inside), "stops"] == 4
    assert ov.loc[("during", inside), "share_of_stops"] == pytest.approx(4 / 7)
    assert ov.loc[("during", inside), "find_rate"] == pytest.approx(2 / 4)
    assert ov.loc[("during", inside), "arrest_rate"] == pytest.approx(1 / 4)
    assert ov.loc[("during", rest), "nfa_rate"] == pytest.approx(1.0)
    assert ov.loc[("during", none), "stops"] == 1
    assert int(s.overview["stops"].sum()) == 13
    eth = s.ethnicity.set_index(["period", "zone", "group"])["share"]
    assert eth[("during", inside, "Black")] == pytest.approx(3 / 4)
    assert eth[("before", rest, "White")] == pytest.approx(2 / 3)
    ratio = s.ethnicity_ratio.set_index(["period", "group"])["ratio"]
    assert ratio[("during", "Black")] == pytest.approx((3 / 4) / (1 / 2))
    assert ratio[("during", "White")] == pytest.approx((1 / 4) / (1 / 2))
    assert ratio[("before", "White")] == pytest.approx((1 / 2) / (2 / 3))
    assert ratio[("before", "Asian")] == 0.0
    assert np.isnan(ratio[("before", "Black")])  # none elsewhere before
    off = s.officer_ethnicity.set_index(["period", "zone", "group"])["stops"]
    assert off[("during", none, "Not recorded")] == 1
    assert s.split_date == "2024-04-01"
    assert "4 of 7 stops (57%) were inside the 2 patrol areas" in s.notes[-2]
    # the tables for people
    shown = s.display()
    assert shown[0]["header"] == [
        "",
        "patrol areas (before)",
        "rest of force (before)",
        "patrol areas (during)",
        "rest of force (during)",
    ]
    assert shown[0]["rows"][1] == [
        "Found what was searched for",
        "1 (50%)",
        "1 (33%)",
        "2 (50%)",
        "0 (0%)",
    ]
    assert ["Black (during)", "75%", "50%", "1.50"] in shown[2]["rows"]


def test_summarise_without_split_and_errors(stops):
    s = summarise_stop_search(_areas_gdf(), stops)
    ov = s.overview.set_index(["period", "zone"])
    assert ov.loc[("all", "patrol areas"), "stops"] == 6
    assert ov.loc[("all", "rest of force"), "stops"] == 5
    assert s.split_date is None and set(s.tables) >= {"overview", "ethnicity", "outcomes"}
    with pytest.raises(ParameterError, match="split_date"):
        summarise_stop_search(_areas_gdf(), stops, split_date="not a date")
    with pytest.raises(ParameterError, match="CRS"):
        summarise_stop_search(_areas_gdf().set_crs(None, allow_override=True), stops)


# ------------------------------------------------------------------ proactive offences


def test_compare_hotspots_by_overlap():
    a = gpd.GeoDataFrame(
        {"hotspot_id": ["H001", "H002", "H003"], "rank": [1, 2, 3]},
        geometry=[
            shapely.box(0, 0, 10, 10),
            shapely.box(20, 0, 30, 10),
            shapely.box(50, 0, 60, 10),
        ],
        crs=27700,
    )
    b = gpd.GeoDataFrame(
        {"hotspot_id": ["H001", "H002"], "rank": [1, 2]},
        geometry=[shapely.box(5, 5, 15, 15), shapely.box(100, 0, 110, 10)],
        crs=27700,
    )
    c = compare_hotspots(a, b, top=2)
    assert (c.n_with, c.n_without) == (3, 2)
    assert c.only_with == ("H002", "H003") and c.only_without == ("H002",)
    assert c.changed == 3 and (c.top_changed, c.top) == (1, 2)


@pytest.mark.parametrize("dtype", [object, "category", "string"])
def test_proactive_mask_matches_types_case_and_space_insensitively(dtype):
    types = [" drugs", "Possession of weapons", "Robbery", None, "DRUGS ", "Drugs", "Robbery"]
    inc = Incidents.from_xy(
        np.arange(7.0) + X0,
        np.full(7, Y0),
        crime_type=pd.Series(types, dtype=dtype).to_numpy(),
    )
    assert inc.frame["crime_type"].isna().sum() == 1
    assert proactive_mask(inc).tolist() == [True, True, False, False, True, True, False]


@pytest.fixture(scope="module")
def street_csv(tmp_path_factory):
    return write_street_csv(tmp_path_factory.mktemp("street") / "2024-01-x-street.csv")


@pytest.fixture(scope="module")
def incidents(street_csv):
    return workflows.read_inputs(street_csv)


def test_proactive_offences_in_and_out(incidents):
    assert int(proactive_mask(incidents).sum()) == 30
    with_ = workflows.detect_hotspots(incidents, "dbscan", compare_proactive=True)
    pro = with_.params["proactive_offences"]
    assert pro["counts"] == {"Possession of weapons": 30} and pro["left_out"] is False
    # the weapons stack is a hot spot only when weapons are counted
    assert (pro["hotspots_with"], pro["hotspots_without"]) == (5, 4)
    assert len(pro["only_with"]) == 1 and pro["only_without"] == []
    weapons = with_.hotspots.set_index("hotspot_id").loc[pro["only_with"][0]]
    assert weapons["top_location"] == "On or near Station Approach"
    note = pro["note"]
    assert "these data hold 30 (Possession of weapons 30; 5.8% of 515 incidents)" in note
    assert "They were counted" in note
    assert "DBSCAN finds 5 significant hot spots with them and 4 without" in note
    assert note in with_.notes
    without = workflows.detect_hotspots(
        incidents, "dbscan", leave_out_proactive=True, compare_proactive=True
    )
    assert len(without.incidents) == 485 and len(without.hotspots) == 4
    pro = without.params["proactive_offences"]
    assert pro["left_out"] is True and (pro["hotspots_with"], pro["hotspots_without"]) == (5, 4)
    assert "They were left out of the hot spots" in pro["note"]
    seen = []
    workflows.detect_hotspots(
        incidents, "dbscan", compare_proactive=True, progress=lambda *a: seen.append(a)
    )  # the other run is its own step (first: the two runs never hold memory at once)
    step = "comparing proactive offences"
    assert seen[:2] == [(step, 0, 1), (step, 1, 1)]
    assert ("detecting", 0, 1) in seen[2:]
    quick = workflows.detect_hotspots(incidents, "dbscan")  # one detection run by default
    assert quick.params["proactive_offences"]["hotspots_with"] is None
    assert (
        "was not computed (compare_proactive=True does)"
        in quick.params["proactive_offences"]["note"]
    )
    # data without them record nothing
    none = workflows.detect_hotspots(incidents.subset(~proactive_mask(incidents)), "dbscan")
    assert "proactive_offences" not in none.params


def test_hotspots_are_flagged_in_exports(incidents, tmp_path):
    result = workflows.detect_hotspots(incidents, "dbscan")
    hot = result.hotspots.set_index("hotspot_id")
    prison = hot[hot["top_location"] == "On or near Prison"].iloc[0]
    assert prison["unpatrollable_kind"] == "prison"
    assert prison["unpatrollable_share"] == pytest.approx(40 / 50)
    doc = json.loads(workflows.hotspot_bytes(result, "geojson"))
    props = [f["properties"] for f in doc["features"]]
    assert sum(p["unpatrollable_kind"] == "prison" for p in props) == 1
    assert sum(bool(p["place_check"]) for p in props) == 1  # Bishopsgate, 60 of 515
    csv = workflows.hotspot_bytes(result, "csv").decode()
    assert "unpatrollable_reason" in csv.splitlines()[0]


# ------------------------------------------------------------------ plan and briefing


@pytest.fixture(scope="module")
def planned(incidents, stops):
    result = workflows.detect_hotspots(incidents, "dbscan")
    areas = workflows.patrol_areas(incidents, result.hotspots)
    plan = workflows.plan_patrols(
        incidents,
        result.hotspots,
        areas,
        params=result.params,
        seed=5,
        start_date="2025-01-06",
        days=14,
        control_share=0.25,
        stop_search=stops,
        operation_start="2024-04-01",
    )
    return result, areas, plan


def test_plan_leaves_out_places_patrol_cannot_address(planned, incidents):
    result, areas, plan = planned
    by = areas.set_index("patrol_area_id")
    prison = by.index[by["unpatrollable_kind"] == "prison"]
    assert len(prison) == 1
    pid = prison[0]
    assert pid not in set(plan.plan.areas["patrol_area_id"])
    assert plan.plan.summary["unpatrollable_left_out"] == [pid]
    assert len(plan.plan.areas) == len(areas) - 1
    note = next(n for n in plan.plan.summary["notes"] if "cannot address" in n)
    assert f"{pid} (prison, 'On or near Prison', 50 incidents)" in note
    assert plan.plan.params["include_institutions"] is False
    # the GeoJSON keeps it, flagged and out of the plan
    doc = json.loads(workflows.plan_bytes(plan, "geojson"))
    feat = next(f for f in doc["features"] if f["properties"]["patrol_area_id"] == pid)
    assert feat["properties"]["in_plan"] is False
    assert feat["properties"]["unpatrollable_kind"] == "prison"
    # included at the user's request
    inc_plan = workflows.plan_patrols(
        incidents, result.hotspots, areas, seed=5, start_date="2025-01-06", days=14,
        include_institutions=True,
    )  # fmt: skip
    assert pid in set(inc_plan.plan.areas["patrol_area_id"])
    assert any("Planned at the user's request" in n for n in inc_plan.plan.summary["notes"])
    html = workflows.plan_bytes(inc_plan, "briefing").decode()
    page = html.split(f'id="area-{pid}"', 1)[1].split("</section>", 1)[0]
    assert "Planned at the user's request, although centred on a prison" in page
    # nothing left to plan
    only = areas[areas["patrol_area_id"] == pid]
    with pytest.raises(ParameterError, match="include_institutions=True"):
        workflows.plan_patrols(incidents, result.hotspots, only, seed=1)


def test_one_recommendation_per_area_for_the_staffing_model(planned, incidents):
    result, areas, plan = planned
    assert plan.staffing == "dedicated_pairs" and plan.plan.params["staffing"] == "dedicated_pairs"
    assert set(plan.recommendations) == set(plan.matches) == set(plan.plan.areas["patrol_area_id"])
    for pid, rec in plan.recommendations.items():
        assert rec.conflicts() == []
        assert [m.tactic.id for m in plan.matches[pid]] == [m.tactic.id for m in rec.matches()]
        assert rec.primary.tactic.id in {"T02", "T03", "T10", "T11"}
    for model, primary in (("response_between_calls", "T04"), ("pcso", "T05")):
        other = workflows.plan_patrols(
            incidents, result.hotspots, areas, staffing=model, seed=5, start_date="2025-01-06",
            days=7,
        )  # fmt: skip
        assert {ms[0].tactic.id for ms in other.matches.values()} == {primary}
    with pytest.raises(ParameterError, match="staffing"):
        workflows.plan_patrols(incidents, result.hotspots, areas, staffing="horses", seed=1)


def _pages(html: str) -> list[str]:
    """The briefing split into pages: the cover and every section after a page break."""
    parts = html.split("<section ")
    return ["<section " + p for p in parts[1:]]


def test_every_briefing_page_carries_the_notice_and_every_tactics_safeguards(planned):
    _, _, plan = planned
    html = workflows.plan_bytes(plan, "briefing").decode()
    pages = _pages(html)
    planned_ids = list(plan.plan.areas.loc[plan.plan.areas["in_plan"], "patrol_area_id"])
    # cover, stop and search monitoring, one page per planned area: nothing else
    assert len(pages) == 2 + len(planned_ids)
    assert pages[1].startswith('<section class="monitor"')
    notice = escape_text(stop_search_notice())
    for page in pages:
        assert notice in page
        assert "OFFICIAL-SENSITIVE" in page
        assert 'href="https://www.gov.uk/guidance/police-and-criminal-evidence-act' in page
    assert html.count("OFFICIAL-SENSITIVE") == len(pages)
    kb = load_knowledge_base()
    for pid in planned_ids:
        page = next(p for p in pages if f'id="area-{pid}"' in p)
        rec = plan.recommendations[pid]
        ids = [m.tactic.id for m in rec.matches(include_programme=False)]
        assert len(ids) > 4  # more than the four the briefing used to show in full
        for tid in ids:
            s = tactic_safeguards(tid)
            assert escape_text(s["legitimacy"]) in page, (pid, tid)
            assert escape_text(s["community_impact"]) in page, (pid, tid)
            for step in kb.get(tid).what_officers_do:
                assert escape_text(step) in page, (pid, tid)
        assert (
            f"Primary tactic (Dedicated pairs on foot):</em> <strong>{rec.primary.tactic.id}"
            in page
        )
        assert escape_text(rec.dose.text) in page
    # the programme items once, on the cover, with their cautions
    programme = {m.tactic.id for r in plan.recommendations.values() for m in r.programme}
    for tid in programme:
        assert escape_text(tactic_safeguards(tid)["legitimacy"]) in pages[0]
        assert html.count(escape_text(tactic_safeguards(tid)["legitimacy"])) == 1
    # the guide's steps, named as the guide names them, on the sections they serve
    for step in STEPS:
        assert step in html, step
    for step in (
        "Targeting",
        "Tasking",
        "Training",
        "Tracking",
        "Testing",
        "Enabling technologies",
    ):
        assert f"Guide step: {step}" in html or f"Guide steps: Tracking, {step}" in html
    # the places left out are named on the cover
    prison = plan.plan.summary["unpatrollable_left_out"][0]
    assert f"<td>{prison}</td><td>On or near Prison</td>" in pages[0]
    assert f'id="area-{prison}"' not in html
    # stop and search figures on the monitoring page
    assert "<td>Stops</td><td>" in pages[1]
    assert "Self-defined ethnicity of people stopped" in pages[1]


def test_briefing_covers_only_the_areas_in_the_plan(planned, incidents):
    result, areas, _ = planned
    small = workflows.plan_patrols(
        incidents, result.hotspots, areas, seed=5, start_date="2025-01-06", days=7,
        officer_hours=2.0,
    )  # fmt: skip
    in_plan = list(small.plan.areas.loc[small.plan.areas["in_plan"], "patrol_area_id"])
    left = small.plan.summary["left_out"]
    assert len(in_plan) == 2 and len(left) == len(areas) - 1 - 2
    html = workflows.plan_bytes(small, "briefing").decode()
    assert html.count('<section class="area"') == 2
    for pid in left:
        assert f'id="area-{pid}"' not in html and f">{pid}<" not in html
    assert f"{len(left)} lower-ranked patrol areas are left out for lack of capacity" in html


def test_cli_plan_with_safeguards(tmp_path, street_csv):
    ss = write_stop_search_csv(tmp_path / "ss.csv")
    names = tmp_path / "ours.txt"
    names.write_text("On or near Main Street\n", encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(
        [
            "--quiet", "plan", str(street_csv), "--out-dir", str(out), "--method", "dbscan",
            "--seed", "3", "--start-date", "2025-01-06", "--days", "7", "--staffing", "pcso",
            "--exclude-places", str(names), "--stop-search", str(ss),
            "--operation-start", "2024-04-01",
        ]
    )  # fmt: skip
    assert code == 0
    html = (out / "briefing.html").read_text(encoding="utf-8")
    assert '<section class="monitor"' in html and "Primary tactic (PCSOs)" in html
    doc = json.loads((out / "patrol_areas.geojson").read_text(encoding="utf-8"))
    kinds = {f["properties"]["unpatrollable_kind"] for f in doc["features"]}
    assert {"prison", "user_place"} <= kinds
    main_street = [
        f for f in doc["features"] if f["properties"]["location"] == "On or near Main Street"
    ]
    assert main_street and all(not f["properties"]["in_plan"] for f in main_street)
    # the user's places stay out even with --include-institutions; the prison comes back
    out2 = tmp_path / "out2"
    assert (
        cli.main(
            [
                "--quiet",
                "plan",
                str(street_csv),
                "--out-dir",
                str(out2),
                "--method",
                "dbscan",
                "--seed",
                "3",
                "--start-date",
                "2025-01-06",
                "--days",
                "7",
                "--exclude-places",
                str(names),
                "--include-institutions",
                "--leave-out-proactive",
            ]
        )  # fmt: skip
        == 0
    )
    doc2 = json.loads((out2 / "patrol_areas.geojson").read_text(encoding="utf-8"))
    status = {f["properties"]["location"]: f["properties"]["in_plan"] for f in doc2["features"]}
    assert status["On or near Prison"] is True and status["On or near Main Street"] is False
    assert "On or near Station Approach" not in status  # weapons left out


def test_map_layer_says_why_an_area_is_left_out(planned):
    from hotspots.mapping import patrol_layer

    _, areas, plan = planned
    layer = patrol_layer(plan.areas, plan.plan)
    gj = next(iter(layer._children.values()))
    status = {f["properties"]["patrol_area"]: f["properties"]["plan"] for f in gj.data["features"]}
    prison = plan.plan.summary["unpatrollable_left_out"][0]
    assert status[prison] == "left out: a street patrol cannot address it (prison)"
    assert sum(v.endswith("visits") for v in status.values()) == len(areas) - 1
