"""Tests for hotspots.places: places a street patrol cannot address, from police.uk-style text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import InputError
from hotspots.incidents import Incidents
from hotspots.patrol import make_patrol_areas
from hotspots.places import (
    PLACE_COLUMNS,
    USER_PLACE,
    PlacesError,
    UserPlaces,
    classify_location,
    flag_places,
    load_places,
    location_kinds,
    read_user_places,
    unpatrollable,
)

X0, Y0 = 340_000.0, 390_000.0  # Liverpool, EPSG:27700
GUIDE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "hot-spots-guide.md"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("On or near Prison", "prison"),
        ("ON OR NEAR PRISON", "prison"),
        ("On or near Police Station", "police_station"),
        ("On or near Hospital", "hospital"),
        ("On or near Further/Higher Educational Building", "education"),
        ("HMP Liverpool", "prison"),
        ("Royal Liverpool University Hospital", "hospital"),
        ("Aintree A&E", "hospital"),
        ("Liverpool Crown Court", "court"),
        ("Custody Suite, Wavertree", "custody_suite"),
        ("St Mary's Primary School", "education"),
        # streets and ordinary places stay patrollable
        ("On or near Hospital Street", None),
        ("On or near Prison Road", None),
        ("On or near Brunswick Court", None),
        ("On or near School Lane", None),
        ("On or near Shopping Area", None),
        ("On or near Nightclub", None),
        ("On or near Supermarket", None),
        ("No Location", None),
        ("", None),
        (None, None),
    ],
)
def test_police_uk_location_strings(text, kind):
    found = classify_location(text)
    assert (found.id if found else None) == kind


def test_knowledge_base_entries_carry_reasoning_and_the_guides_rules():
    rules = load_places()
    ids = [k.id for k in rules.kinds]
    assert ids == ["prison", "police_station", "custody_suite", "hospital", "court", "education"]
    for k in rules.kinds:
        assert len(k.reasoning) > 80 and k.guide_rules
        assert set(k.guide_rules) <= set(rules.guide_rules)
    # the entries not named by the guide say so
    heuristic = {k.id for k in rules.kinds if k.heuristic}
    assert heuristic == {"police_station", "custody_suite", "education"}
    assert rules.kind("police_station").citation == (
        "this product's heuristic, after the guide's evidence: the UK trials counted "
        "street-visible violence, leaving out indoor crime, schools, hospitals and prisons"
    )
    assert rules.kind("prison").citation == (
        "as in the guide's evidence: Thames Valley's analysts dropped candidate spots centred "
        "on a prison"
    )
    assert [k.guide_rules for k in rules.kinds][0] == (
        "centred_on_prison",
        "indoor_places",
        "thames_valley_trial",
    )
    for name in ("min_share", "busy_point_share", "busy_point_min_incidents"):
        assert rules.rules[name]["heuristic"] is True and rules.rules[name]["reasoning"]
    assert (rules.rule("min_share"), rules.rule("busy_point_share")) == (0.5, 0.03)
    # every rule is in the project's notes on the guide, saying what the file says it says
    assert {r["digest"] for r in rules.guide_rules.values()} == {"R8", "R11", "R12", "section 1.7"}
    for rule in rules.guide_rules.values():
        assert rule["label"] and rule["text"] and rule["sources"]
        assert all(u.startswith("https://") for u in rule["sources"].values())
    if GUIDE.exists():
        digest = GUIDE.read_text(encoding="utf-8")
        for key in ("R8", "R11", "R12"):
            assert re.search(rf"^- {key} ", digest, re.M), key
        for said in (
            "exclude hospitals and the courthouse",
            "drop spots centred on a prison",
            "prisons and hospitals excluded",
            "schools, hospitals, prisons",
        ):
            assert re.search(said.replace(" ", r"\s+"), digest), said
    # places kept in plans are documented too
    kept = {k["name"] for k in rules.kept}
    assert {"Shopping Area", "Nightclub", "Sports/Recreation Area"} <= kept


def test_location_kinds_classifies_each_text_once_and_lets_users_add_names():
    locs = pd.Series(["On or near Prison", "On or near Main St", None, "On or near Prison", "x"])
    assert list(location_kinds(locs)) == ["prison", "", "", "prison", ""]
    own = location_kinds(locs, user_names=["main st", "X"])
    assert list(own) == ["prison", USER_PLACE, "", "prison", USER_PLACE]
    wild = location_kinds(locs, user_names=["On or near Ma*"])
    assert list(wild) == ["prison", USER_PLACE, "", "prison", ""]


def _incidents():
    spec = [
        (0, 0, 40, "On or near Prison"),
        (30, 0, 10, "On or near High Street"),
        (600, 0, 30, "On or near Main Street"),
        (1200, 0, 20, "On or near Hospital"),
        (1230, 0, 25, "On or near Market Street"),
        (2000, 0, 60, "On or near Bishopsgate"),
    ]
    xs, ys, locs = [], [], []
    for x, y, n, loc in spec:
        xs += [X0 + x] * n
        ys += [Y0 + y] * n
        locs += [loc] * n
    # 1,000 scattered street incidents, so the busy-point check sees a force-sized total
    rng = np.random.default_rng(4)
    xs += list(X0 + rng.uniform(-3000, -500, 1000))
    ys += list(Y0 + rng.uniform(-3000, 3000, 1000))
    locs += ["On or near Some Road"] * 1000
    months = pd.to_datetime(["2024-01-01"] * len(xs))
    return Incidents.from_xy(
        np.array(xs), np.array(ys), month=months, location=np.array(locs, dtype=object)
    )


@pytest.fixture(scope="module")
def crafted():
    inc = _incidents()
    hot = gpd.GeoDataFrame(
        {"hotspot_id": ["H001", "H002", "H003", "H004"], "rank": [1, 2, 3, 4]},
        geometry=[
            shapely.box(X0 - 80, Y0 - 80, X0 + 80, Y0 + 80),
            shapely.box(X0 + 520, Y0 - 80, X0 + 680, Y0 + 80),
            shapely.box(X0 + 1120, Y0 - 80, X0 + 1300, Y0 + 80),
            shapely.box(X0 + 1920, Y0 - 80, X0 + 2080, Y0 + 80),
        ],
        crs="EPSG:27700",
    )
    areas = make_patrol_areas(inc, hot)
    return inc, hot, areas


def test_flag_patrol_areas(crafted):
    inc, _, areas = crafted
    flagged = flag_places(areas, inc)
    assert set(PLACE_COLUMNS) <= set(flagged.columns)
    assert "unpatrollable_reason" not in areas.columns  # a copy
    by = flagged.set_index("patrol_area_id")
    # centred on the prison's map point: 40 of its 50 incidents are there (R12)
    assert by.loc["H001-P1", "unpatrollable_kind"] == "prison"
    assert by.loc["H001-P1", "unpatrollable_share"] == pytest.approx(40 / 50)
    reason = by.loc["H001-P1", "unpatrollable_reason"]
    assert reason.startswith(
        "centred on a prison ('On or near Prison') (as in the guide's evidence: Thames Valley's"
    )
    assert "40 of 50 incidents (80%)" in reason
    # Market Street (25) outweighs the hospital (20) 30 m away: 20 of 45 is under half, kept
    assert by.loc["H003-P1", "location"] == "On or near Market Street"
    assert by.loc["H003-P1", "unpatrollable_kind"] == ""
    assert by.loc["H003-P1", "unpatrollable_share"] == pytest.approx(20 / 45)
    assert by.loc["H002-P1", "unpatrollable_share"] == 0.0
    # one map point with 60 of 1,185 incidents (5.1%, >= 3% and >= 50): a check, not a removal
    check = by.loc["H004-P1", "place_check"]
    assert check.startswith(
        "check: one map point ('On or near Bishopsgate') holds 60 incidents, 5.1%"
    )
    assert by.loc["H004-P1", "unpatrollable_kind"] == ""
    assert (flagged["place_check"] != "").sum() == 1
    assert flagged.attrs["notes"][-2] == (
        "Places a street patrol cannot address: 1 patrol areas flagged (H001-P1 (prison)); "
        "see unpatrollable_reason."
    )
    assert list(unpatrollable(flagged)) == [pid == "H001-P1" for pid in flagged["patrol_area_id"]]
    assert not unpatrollable(flagged, include_institutions=True).any()


def test_flag_hotspots_by_share(crafted):
    inc, hot, _ = crafted
    flagged = flag_places(hot, inc).set_index("hotspot_id")
    assert flagged.loc["H001", "unpatrollable_kind"] == "prison"
    assert flagged.loc["H001", "unpatrollable_reason"].startswith("mostly at a prison")
    assert flagged.loc["H003", "unpatrollable_share"] == pytest.approx(20 / 45)
    assert flagged.loc["H003", "unpatrollable_kind"] == ""
    assert flagged.loc["H004", "place_check"] != ""


def test_flag_hotspots_counts_points_on_edges_overlaps_and_empty_polygons(crafted):
    inc, hot, _ = crafted
    extra = gpd.GeoDataFrame(
        {"hotspot_id": ["E1", "E2", "E3"], "rank": [5, 6, 7]},
        geometry=[
            # the prison's map point (40 incidents) lies on this box's left edge: counted
            shapely.box(X0, Y0 - 10, X0 + 20, Y0 + 10),
            # overlaps H001: the prison (40) and High Street (10) points inside, both counted
            shapely.box(X0 - 5, Y0 - 5, X0 + 35, Y0 + 5),
            # holds no incident
            shapely.box(X0 + 5000, Y0 + 5000, X0 + 5100, Y0 + 5100),
        ],
        crs="EPSG:27700",
    )
    table = pd.concat([hot, extra], ignore_index=True)
    flagged = flag_places(table, inc).set_index("hotspot_id")
    assert flagged.loc["E1", "unpatrollable_share"] == 1.0
    assert flagged.loc["E1", "unpatrollable_kind"] == "prison"
    assert flagged.loc["E2", "unpatrollable_share"] == pytest.approx(40 / 50)
    assert np.isnan(flagged.loc["E3", "unpatrollable_share"])
    assert flagged.loc["E3", "unpatrollable_kind"] == ""
    # the earlier rows are unchanged by the new ones
    assert flagged.loc["H001", "unpatrollable_share"] == pytest.approx(40 / 50)
    assert flagged.loc["H003", "unpatrollable_share"] == pytest.approx(20 / 45)
    empty = flag_places(hot.iloc[:0], inc)
    assert len(empty) == 0 and set(PLACE_COLUMNS) <= set(empty.columns)


def test_user_places_from_names_and_shapes(tmp_path, crafted):
    inc, _, areas = crafted
    names = tmp_path / "places.txt"
    names.write_text("# our own\nOn or near Main Street\n\n", encoding="utf-8")
    own = read_user_places(names)
    assert own.names == ("On or near Main Street",) and own.source == "places.txt"
    flagged = flag_places(areas, inc, user_places=own).set_index("patrol_area_id")
    assert flagged.loc["H002-P1", "unpatrollable_kind"] == USER_PLACE
    assert (
        "a place listed by places.txt ('On or near Main Street')"
        in (flagged.loc["H002-P1", "unpatrollable_reason"])
    )
    # including institutions keeps the prison but never the user's own places
    keep = unpatrollable(flagged.reset_index(), include_institutions=True)
    assert list(flagged.index[keep]) == ["H002-P1"]
    # a CSV with a name column
    csv = tmp_path / "places.csv"
    csv.write_text("id,name\n1,On or near Bishopsgate\n2,\n", encoding="utf-8")
    assert read_user_places(csv).names == ("On or near Bishopsgate",)
    # a polygon (GeoJSON, WGS84) around the Main Street stack
    ring = gpd.GeoSeries([shapely.Point(X0 + 600, Y0).buffer(20)], crs=27700).to_crs(4326)
    gj = tmp_path / "zone.geojson"
    gj.write_text(ring.to_json(), encoding="utf-8")
    zone = read_user_places(gj)
    assert zone.names == () and zone.geometry is not None and bool(zone)
    by_zone = flag_places(areas, inc, user_places=zone).set_index("patrol_area_id")
    assert by_zone.loc["H002-P1", "unpatrollable_kind"] == USER_PLACE
    assert by_zone.loc["H002-P1", "unpatrollable_share"] == 1.0
    # a point is buffered (50 m by default)
    pt = tmp_path / "pt.geojson"
    pt.write_text(
        gpd.GeoSeries([shapely.Point(X0 + 1200, Y0)], crs=27700).to_crs(4326).to_json(),
        encoding="utf-8",
    )
    by_pt = flag_places(areas, inc, user_places=read_user_places(pt)).set_index("patrol_area_id")
    assert by_pt.loc["H003-P1", "unpatrollable_share"] == 1.0  # both stacks within 50 m
    assert not UserPlaces()


def test_user_place_file_errors(tmp_path):
    empty = tmp_path / "none.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="names no place"):
        read_user_places(empty)
    with pytest.raises(InputError, match="(?i)no such file"):
        read_user_places(tmp_path / "absent.txt")


def test_malformed_places_file_is_refused(tmp_path):
    from hotspots.places import DEFAULT_PLACES_PATH

    data = json.loads(DEFAULT_PLACES_PATH.read_text(encoding="utf-8"))
    bad = json.loads(json.dumps(data))
    bad["places"][0]["reasoning"] = ""
    p = tmp_path / "p.json"
    p.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(PlacesError, match="lacks its reasoning"):
        load_places(p)
    bad = json.loads(json.dumps(data))
    bad["places"][0]["guide_rules"] = ["no_such_rule"]
    p.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(PlacesError, match="no_such_rule"):
        load_places(p)
    bad = json.loads(json.dumps(data))
    del bad["rules"]["min_share"]["reasoning"]
    p.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(PlacesError, match="min_share"):
        load_places(p)
