"""The problem profile (hotspots.problem, workflows.profile_problem, ``hotspots profile``)."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots import workflows
from hotspots._errors import ParameterError
from hotspots.cli import main
from hotspots.incidents import Incidents, IngestReport
from hotspots.offline import escape_text
from hotspots.problem import (
    VIOLENCE_CATEGORY,
    VIOLENCE_CAVEAT,
    concentration,
    force_labels,
    monthly_counts,
    problem_profile,
    render_problem_profile,
    split_by_force,
    violence_trend,
)
from hotspots.safeguards import load_safeguards, stop_search_notice

POLICE_UK_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


# --------------------------------------------------------------------------------------------
# Helpers


def _grid_places(n_side: int = 10) -> np.ndarray:
    """Centres of a n_side x n_side block of 150 m cells, one map point per cell."""
    i = np.arange(n_side * n_side)
    return np.c_[(i % n_side) * 150.0 + 75.0, (i // n_side) * 150.0 + 75.0] + [400000, 300000]


def _stacked(places: np.ndarray, counts: list[int]) -> np.ndarray:
    return np.repeat(places[: len(counts)], counts, axis=0)


def _police_uk_rows(force: str, months: list[str], spots: list[tuple], seed: int) -> dict[str, str]:
    """One police.uk CSV text per month: ``spots`` = (lon, lat, rows per month, crime type[,
    spread in degrees, default 0.0002])."""
    rng = np.random.default_rng(seed)
    files = {}
    for month in months:
        lines = [POLICE_UK_HEADER]
        for lon, lat, n, kind, *spread in spots:
            for _ in range(n):
                jitter_lon, jitter_lat = rng.normal(0, spread[0] if spread else 0.0002, 2)
                lines.append(
                    f",{month},{force},{force},{lon + jitter_lon:.6f},{lat + jitter_lat:.6f},"
                    f"On or near Spot {lon:.3f},E01,A,{kind},,"
                )
        files[month] = "\n".join(lines) + "\n"
    return files


def _write(folder: Path, prefix: str, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for month, text in files.items():
        p = folder / f"{month}-{prefix}-street.csv"
        p.write_text(text, encoding="utf-8")
        out.append(p)
    return out


def _read(paths: list[Path] | list[str]) -> Incidents:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return workflows.read_inputs([str(p) for p in paths], crime_types="all")


def _profile(incidents: Incidents, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return problem_profile(incidents, **kwargs)


def _sections(html: str) -> list[str]:
    return re.findall(r"<section\b.*?</section>", html, flags=re.DOTALL)


def _assert_every_section_marked(html: str, synthetic: bool = False) -> None:
    sections = _sections(html)
    assert len(sections) >= 3
    notice = escape_text(stop_search_notice())
    for s in sections:
        assert "OFFICIAL-SENSITIVE" in s
        assert notice in s
        assert ("SYNTHETIC DEMO DATA" in s) == synthetic


def _assert_offline(html: str) -> None:
    """No script, style sheet, image or frame fetched; the one link is the PACE codes' page."""
    assert "<script" not in html
    assert "<link" not in html
    assert not re.search(r"""\bsrc\s*=""", html)
    links = set(re.findall(r'href="(https?://[^"]+)"', html))
    assert links <= {load_safeguards()["stop_search_notice"]["source"]["url"]}


# --------------------------------------------------------------------------------------------
# Concentration, worked by hand


def test_concentration_on_map_points_and_cells_by_hand():
    places = _grid_places()  # 100 places, one in each of 100 cells of a 1.5 km square
    xy = _stacked(places, [30, 10, 5, 5, 5, 5, 5, 5, 5, 5])  # 80 incidents on 10 places
    area = shapely.box(400000, 300000, 401500, 301500)  # 2.25 km² = 100 cells of 150 m
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], study_area=area)
    table = concentration(inc, places_xy=places).set_index(["unit", "top"])
    # map points: 100 places (the 90 without violence count with none)
    pts = table.loc["map points"]
    assert pts["places"].tolist() == [100, 100, 100]
    # top 1 % = 1 place: 30 of 80; 2 % = 2 places: 40; 5 % = 5 places: 30 + 10 + 3 x 5 = 55
    np.testing.assert_allclose(pts["incidents"], [30, 40, 55])
    np.testing.assert_allclose(pts["share"], [30 / 80, 40 / 80, 55 / 80])
    cells = table.loc["150 m cells"]
    np.testing.assert_allclose(cells["places"], 100)
    np.testing.assert_allclose(cells["share"], [30 / 80, 40 / 80, 55 / 80])


def test_concentration_cells_join_points_and_credit_a_fraction_of_a_place():
    places = _grid_places()
    xy = _stacked(places, [30, 10, 5, 5, 5, 5, 5, 5, 5, 5])
    xy[30:40] = places[0]  # the 10 incidents of place 2 move onto place 1's point
    xy[30:40, 0] += 20.0  # ... 20 m east: another map point in the same cell
    area = shapely.box(400000, 300000, 401500, 301500)
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], study_area=area)
    t = concentration(inc, places_xy=places, shares=[0.01, 0.025]).set_index(["unit", "top"])
    # map points: 101 places (the new point is one more); 1 % = 1.01 places: 30 + 0.01 x 10
    np.testing.assert_allclose(t.loc[("map points", 0.01), "places"], 101)
    np.testing.assert_allclose(t.loc[("map points", 0.01), "incidents"], 30.1)
    # 2.5 % of 101 = 2.525 places: 30 + 10 + 0.525 x 5
    np.testing.assert_allclose(t.loc[("map points", 0.025), "incidents"], 42.625)
    # cells: the first cell holds 40; 1 % of 100 cells = 1 cell: 40 of 80
    np.testing.assert_allclose(t.loc[("150 m cells", 0.01), "share"], 0.5)
    # 2.5 cells: 40 + 5 + 0.5 x 5
    np.testing.assert_allclose(t.loc[("150 m cells", 0.025), "incidents"], 47.5)


def test_concentration_without_other_places_counts_violence_points_only():
    places = _grid_places()
    xy = _stacked(places, [30, 10, 5, 5, 5, 5, 5, 5, 5, 5])
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1])
    t = concentration(inc, shares=[0.1]).set_index("unit")
    # 10 places with violence; 10 % = 1 place
    assert t.loc["map points", "places"] == 10
    np.testing.assert_allclose(t.loc["map points", "share"], 30 / 80)


# --------------------------------------------------------------------------------------------
# Months: missing is missing, not zero


def _with_months_in_input(inc: Incidents, months: list[str]) -> Incidents:
    rep = inc.report
    choices = {**rep.choices, "months_in_input": months}
    report = IngestReport(n_read=rep.n_read, n_used=rep.n_used, choices=choices)
    return Incidents(inc.frame, inc.crs, inc.study_area, report)


def test_missing_months_are_missing_and_empty_months_are_zero():
    month = ["2024-01-01"] * 10 + ["2024-02-01"] * 12 + ["2024-04-01"] * 20 + ["2024-06-01"] * 6
    n = len(month)
    inc = Incidents.from_xy(np.arange(n) * 10.0 + 4e5, np.full(n, 3e5), month=month)
    # the input had rows (of some type) in every month but March; May had no violence
    inc = _with_months_in_input(inc, ["2024-01", "2024-02", "2024-04", "2024-05", "2024-06"])
    m = monthly_counts(inc)
    assert m["month"].tolist() == [f"2024-0{i}" for i in range(1, 7)]
    assert m["missing"].tolist() == [False, False, True, False, False, False]
    np.testing.assert_array_equal(m["incidents"], [10, 12, np.nan, 20, 0, 6])
    t = violence_trend(m)
    # observed months 10, 12, 20, 0, 6: halves of 2 months, the middle one (20) in neither
    assert t["n_months"] == 5
    assert t["first_half_mean"] == 11.0
    assert t["second_half_mean"] == 3.0
    np.testing.assert_allclose(t["change"], 3 / 11 - 1)
    # Mann-Kendall S over 10, 12, 20, 0, 6: +1 +1 -1 -1 +1 -1 -1 -1 -1 +1 = -2
    n_pairs = 10
    np.testing.assert_allclose(t["mk_tau"], -2 / n_pairs)
    assert t["direction"] == "no significant trend"


def test_missing_months_from_real_files(tmp_path):
    spot = (-2.98, 53.40, 6, VIOLENCE_CATEGORY)
    asb = (-2.97, 53.41, 3, "Anti-social behaviour")
    files = _police_uk_rows("Test Police", ["2024-01", "2024-02", "2024-04"], [spot, asb], 1)
    files |= _police_uk_rows("Test Police", ["2024-05"], [asb], 2)  # no violence in May
    inc = _read(_write(tmp_path, "test", files))
    p = _profile(inc, evaluate=False, classify=False)
    m = p.forces[0].monthly
    assert m["month"].tolist() == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    np.testing.assert_array_equal(m["incidents"], [6, 6, np.nan, 6, 0])
    html = render_problem_profile(p)
    assert "2024-03: missing from the data" in html
    assert "1 month(s) missing from the data" in html


# --------------------------------------------------------------------------------------------
# Several forces


@pytest.fixture(scope="module")
def two_forces(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("forces")
    # force A: 6 months, 10 a month on one spot + 2 spread, ASB and theft nearby
    a_months = [f"2024-0{i}" for i in range(1, 7)]
    a_spots = [
        (-2.980, 53.400, 10, VIOLENCE_CATEGORY),
        (-2.950, 53.420, 1, VIOLENCE_CATEGORY),
        (-2.940, 53.380, 1, "Robbery"),
        (-2.980, 53.400, 4, "Anti-social behaviour", 0.0),
        (-2.960, 53.390, 2, "Shoplifting"),
    ]
    # force B, 250 km away: 2024-05 missing, 4 a month rising to 8
    b_spots_low = [(-0.100, 51.515, 4, VIOLENCE_CATEGORY), (-0.09, 51.51, 1, "Burglary")]
    b_spots_high = [(-0.100, 51.515, 8, VIOLENCE_CATEGORY), (-0.09, 51.51, 1, "Burglary")]
    paths = _write(folder / "a", "force-a", _police_uk_rows("Force A Police", a_months, a_spots, 3))
    b_files = _police_uk_rows("Force B Police", ["2024-01", "2024-02", "2024-03"], b_spots_low, 4)
    b_files |= _police_uk_rows("Force B Police", ["2024-04", "2024-06"], b_spots_high, 5)
    paths += _write(folder / "b", "force-b", b_files)
    return paths


def test_forces_are_split_with_their_own_months_and_study_areas(two_forces):
    inc = _read(two_forces)
    labels = force_labels(inc)
    assert sorted(set(labels)) == ["Force A Police", "Force B Police"]
    groups = split_by_force(inc)
    assert list(groups) == ["Force A Police", "Force B Police"]
    a, b = groups["Force A Police"], groups["Force B Police"]
    assert len(a) == 6 * 18 and len(b) == 3 * 5 + 2 * 9
    assert [f"{m:%Y-%m}" for m in b.missing_months] == ["2024-05"]
    assert len(a.missing_months) == 0
    # each study area is drawn round its own force, far smaller than the pair's
    assert a.study_area_m2 + b.study_area_m2 <= inc.study_area_m2 + 1
    assert a.study_area.intersection(b.study_area).area == 0


def test_national_table_compares_forces(two_forces):
    p = _profile(_read(two_forces), evaluate=False, classify=False)
    nat = p.national.set_index("force")
    assert nat.index.tolist() == ["Force A Police", "Force B Police"]
    assert nat.loc["Force A Police", "incidents"] == 6 * 12  # violence and robbery
    assert nat.loc["Force B Police", "incidents"] == 3 * 4 + 2 * 8
    assert nat.loc["Force B Police", "months_missing"] == 1
    assert nat.loc["Force B Police", "months_observed"] == 5
    # B: observed 4, 4, 4, 8, 8; halves of two months: 4 and 8
    np.testing.assert_allclose(nat.loc["Force B Police", "change"], 8 / 4 - 1)
    np.testing.assert_allclose(nat.loc["Force A Police", "change"], 0.0)
    # types counted as violence, per force
    assert dict(p.forces[0].types) == {VIOLENCE_CATEGORY: 66, "Robbery": 6}
    # other crime at force A's top place: the ASB there, against the whole force
    other = p.forces[0].other_crime.set_index("hotspot_id")
    assert other.loc["whole force", "asb"] == 6 * 4
    assert other.loc["whole force", "other_crime"] == 6 * 2
    top = p.forces[0].places.iloc[0]
    assert other.loc[top["hotspot_id"], "asb"] == 6 * 4
    html = render_problem_profile(p)
    assert "Forces side by side" in html
    assert html.count('id="force-') == 2 * 4  # four sections per force
    assert html.count('aria-label="map of the study area and its hot spots"') == 2
    # concentration side by side: top 1, 2 and 5 % for map points and for cells, per force
    assert html.count("Top 1 % of places") == 2
    _assert_every_section_marked(html)
    _assert_offline(html)


def _without_times(text: str) -> str:
    """``text`` with the generation times (report footer, provenance) blanked."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "TIME", text)
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "TIME", text)


def test_forces_profiled_in_processes_are_the_profiles_made_one_by_one(two_forces):
    forces = workflows.read_forces([str(p) for p in two_forces])
    seen: list[tuple] = []
    one = _profile(forces, top=3, jobs=1)
    two = _profile(forces, top=3, jobs=2, progress=lambda *a: seen.append(a))
    # several forces report one step, force by force
    assert seen == [("profiling forces", k, 2) for k in range(3)]
    pd.testing.assert_frame_equal(one.national, two.national, check_exact=True)
    assert [f.name for f in two.forces] == ["Force A Police", "Force B Police"]
    for a, b in zip(one.forces, two.forces, strict=True):
        for name in ("monthly", "concentration", "places", "other_crime", "emerging"):
            left, right = getattr(a, name), getattr(b, name)
            if left is None:
                assert right is None
            else:
                pd.testing.assert_frame_equal(left, right, check_exact=True)
        pd.testing.assert_frame_equal(
            a.result.hotspots, b.result.hotspots, check_exact=True, check_like=False
        )
        assert a.evaluation_note == b.evaluation_note
        assert _without_times(repr(a.choices)) == _without_times(repr(b.choices))
        assert dict(a.recommendations).keys() == dict(b.recommendations).keys()
    assert one.forces[0].evaluation is not None  # the hold-out ran in the workers too
    pd.testing.assert_frame_equal(one.forces[0].evaluation, two.forces[0].evaluation)
    html = render_problem_profile(two)
    assert _without_times(html) == _without_times(render_problem_profile(one))
    with pytest.raises(ParameterError, match="jobs"):
        problem_profile(forces, jobs=0)


# --------------------------------------------------------------------------------------------
# Reports


def test_demo_report_renders_and_reads_well(demo_csv):
    inc = _read([demo_csv])
    p = _profile(inc, evaluate=False)
    f = p.forces[0]
    assert p.synthetic
    assert len(p.forces) == 1
    assert f.n_hotspots > 0
    assert f.emerging is not None  # 12 months: classed by month
    assert f.recommendations
    html = render_problem_profile(p)
    _assert_every_section_marked(html, synthetic=True)
    _assert_offline(html)
    assert escape_text(VIOLENCE_CAVEAT) in html
    assert "includes domestic abuse, harassment and stalking: much" in html
    assert "Appendix: every automatic choice" in html
    assert "The hold-out evaluation was not run" in html
    # times exist in the demo: the places show their peak windows
    assert f.places["peak_window"].iloc[0] in html


def test_hostile_location_is_escaped(tmp_path):
    files = _police_uk_rows(
        "Test Police", [f"2024-0{i}" for i in range(1, 4)], [(-2.98, 53.40, 12, "Robbery")], 7
    )
    for k, text in files.items():
        files[k] = text.replace("On or near Spot -2.980", "<script>alert(1)</script>{{7*7}}")
    p = _profile(_read(_write(tmp_path, "x", files)), evaluate=False, classify=False)
    html = render_problem_profile(p)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{7*7}}" in html or "&#123;&#123;7*7&#125;&#125;" in html
    assert ">49<" not in html


def test_too_few_periods_are_said(tmp_path):
    files = _police_uk_rows(
        "Test Police", [f"2024-0{i}" for i in range(1, 5)], [(-2.98, 53.40, 8, "Robbery")], 8
    )
    p = _profile(_read(_write(tmp_path, "x", files)), evaluate=False)
    assert p.forces[0].emerging is None
    assert "cannot be classed" in p.forces[0].emerging_note
    assert "at least 10 periods" in p.forces[0].emerging_note
    html = render_problem_profile(p)
    assert "cannot be classed" in html
    # robbery only: the report adds no caveat about police.uk's violence category
    assert escape_text(VIOLENCE_CAVEAT) not in html
    assert "includes domestic abuse, harassment and stalking: much" not in html


def test_a_force_without_violence_is_profiled_with_none(tmp_path):
    a = _police_uk_rows("Force A Police", ["2024-01", "2024-02"], [(-2.98, 53.4, 9, "Robbery")], 1)
    b = _police_uk_rows(
        "Force B Police", ["2024-01", "2024-02"], [(-0.1, 51.5, 5, "Anti-social behaviour")], 2
    )
    paths = _write(tmp_path / "a", "a", a) + _write(tmp_path / "b", "b", b)
    p = _profile(_read(paths), evaluate=False, classify=False)
    nat = p.national.set_index("force")
    assert nat.loc["Force A Police", "incidents"] == 18
    assert nat.loc["Force B Police", "incidents"] == 0
    assert nat.loc["Force B Police", "hotspots"] == 0
    np.testing.assert_array_equal(p.forces[1].monthly["incidents"], [0, 0])
    _assert_every_section_marked(render_problem_profile(p))


def test_bad_settings_are_refused():
    inc = Incidents.from_xy([4e5, 4e5 + 1], [3e5, 3e5], month=["2024-01-01"] * 2)

    with pytest.raises(ParameterError, match="top"):
        problem_profile(inc, top=0)
    with pytest.raises(ParameterError, match="staffing"):
        problem_profile(inc, staffing="army")
    with pytest.raises(ParameterError, match="methods"):
        problem_profile(inc, method="magic")
    with pytest.raises(ParameterError, match="problem profile output"):
        workflows.problem_report_bytes(inc, "docx")


@pytest.mark.shared_data
@pytest.mark.slow
def test_shared_city_of_london_full_profile(shared_data):
    inc = _read([shared_data / "police_uk" / "city-of-london_2024-01_to_2025-12"])
    p = _profile(inc)
    f = p.forces[0]
    assert f.name == "City of London Police"
    assert f.trend["n_months"] == 24
    assert f.emerging is not None  # 24 months: classed
    assert f.evaluation is not None
    assert set(f.evaluation["forecast"]) >= {"kde", "patrol_areas", "naive_points"}
    assert f.other_crime is not None
    html = render_problem_profile(p)
    _assert_every_section_marked(html)
    _assert_offline(html)


@pytest.mark.shared_data
def test_shared_multi_force_folder(shared_data, tmp_path):
    folder = tmp_path / "national"
    folder.mkdir()
    alone = {}
    for name in ("merseyside_2022-01_to_2022-06", "city-of-london_2024-01_to_2025-12"):
        for f in sorted((shared_data / "police_uk" / name).glob("*.csv")):
            shutil.copy(f, folder / f.name)
        alone[name] = _read([shared_data / "police_uk" / name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forces = workflows.read_forces([folder])
    assert list(forces) == ["City of London Police", "Merseyside Police"]
    # each force read on its own: the same rows, outliers and study area as its folder alone
    for force, name in (
        ("City of London Police", "city-of-london_2024-01_to_2025-12"),
        ("Merseyside Police", "merseyside_2022-01_to_2022-06"),
    ):
        assert len(forces[force]) == len(alone[name])
        assert (
            forces[force].report.choices["n_outliers"] == alone[name].report.choices["n_outliers"]
        )
        np.testing.assert_allclose(forces[force].study_area_m2, alone[name].study_area_m2)
    p = _profile(forces, evaluate=False)
    nat = p.national.set_index("force")
    assert nat.index.tolist() == ["City of London Police", "Merseyside Police"]
    assert nat.loc["Merseyside Police", "first_month"] == "2022-01"
    assert nat.loc["Merseyside Police", "last_month"] == "2022-06"
    assert nat.loc["Merseyside Police", "months_missing"] == 0
    assert nat.loc["City of London Police", "months_observed"] == 24
    mersey = p.forces[1]
    assert mersey.emerging is None and "cannot be classed" in mersey.emerging_note
    assert p.forces[0].emerging is not None
    # violence: the rows of the three default types in each force's own read
    kinds = {VIOLENCE_CATEGORY, "Robbery", "Possession of weapons"}
    for force, name in (
        ("Merseyside Police", "merseyside_2022-01_to_2022-06"),
        ("City of London Police", "city-of-london_2024-01_to_2025-12"),
    ):
        frame = alone[name].frame
        assert nat.loc[force, "incidents"] == int(frame["crime_type"].isin(kinds).sum())
    html = render_problem_profile(p)
    _assert_every_section_marked(html)
    _assert_offline(html)
    assert "Forces side by side" in html


def test_read_forces_reads_each_force_on_its_own(two_forces):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_path = workflows.read_forces([str(p) for p in two_forces])
        pairs = [(p.name, p.read_bytes()) for p in two_forces]
        by_bytes = workflows.read_forces(pairs)  # not paths: split after one read
    for forces in (by_path, by_bytes):
        assert list(forces) == ["Force A Police", "Force B Police"]
        assert len(forces["Force A Police"]) == 6 * 18
        assert len(forces["Force B Police"]) == 3 * 5 + 2 * 9
        assert [f"{m:%Y-%m}" for m in forces["Force B Police"].missing_months] == ["2024-05"]
    assert {f.name for f in by_path["Force B Police"].report.files} == {
        p.name for p in two_forces if "force-b" in p.name
    }


# --------------------------------------------------------------------------------------------
# Command line and bytes


def test_cli_profile_end_to_end(two_forces, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--quiet", "profile", *map(str, two_forces), "--out-dir", str(out)]
    code = main([*args, "--no-pdf", "--no-evaluate", "--top", "3"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "Force A Police: 72 violent incidents" in printed.out
    html = (out / "problem_profile.html").read_text(encoding="utf-8")
    _assert_every_section_marked(html)
    table = pd.read_csv(out / "problem_profile_forces.csv")
    assert table["force"].tolist() == ["Force A Police", "Force B Police"]
    assert table["incidents"].tolist() == [72, 28]
    assert not (out / "problem_profile.pdf").exists()


def test_cli_profile_refuses_bad_top(two_forces, tmp_path, capsys):
    code = main(["profile", str(two_forces[0]), "--out-dir", str(tmp_path), "--top", "0"])
    assert code == 2
    assert "--top must be at least 1" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no Chromium to print the PDF")
def test_pdf_bytes(two_forces):
    p = _profile(_read(two_forces), evaluate=False, classify=False)
    pdf = workflows.problem_report_bytes(p, "pdf")
    assert pdf[:4] == b"%PDF"
    html = workflows.problem_report_bytes(p, "html")
    assert html.startswith(b"<!DOCTYPE html>")
