"""Change between two periods (hotspots.change): the test's arithmetic against SciPy, hand
computations, the label's false-positive rate on towns where nothing changed, its recall on
planted rises, and the CLI's GeoJSON read back."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats
from scipy.spatial import cKDTree

from hotspots import ParameterError, cli, workflows
from hotspots.change import binomial_two_sided, compare_periods, default_split
from hotspots.incidents import Incidents
from hotspots.stats import tarone_family


def test_binomial_two_sided_equals_scipys_doubled_smaller_tail():
    for n in (1, 2, 7, 30, 101):
        for p0 in (0.2, 0.5, 0.63):
            k = np.arange(n + 1, dtype=float)
            lower = stats.binom.cdf(k, n, p0)
            upper = stats.binom.sf(k - 1, n, p0)
            want = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
            got = binomial_two_sided(k, np.full(n + 1, float(n)), p0)
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)


def test_binomial_two_sided_by_hand():
    # 9 of 10 at p0 = 1/2: P(X >= 9) = 11 / 1024, doubled
    assert binomial_two_sided(np.array([9.0]), np.array([10.0]), 0.5)[0] == pytest.approx(22 / 1024)
    # all 3 after at p0 = 0.6: P(X >= 3) = 0.216, doubled 0.432
    assert binomial_two_sided(np.array([3.0]), np.array([3.0]), 0.6)[0] == pytest.approx(0.432)


def test_tarone_family_by_hand():
    # least attainable p-values: K = 1 -> 3 tests <= 0.05 (> 1); K = 2 -> 2 tests <= 0.025
    # (<= 2): the family is those two.
    min_p = np.array([0.001, 0.02, 0.04, 0.3, 1.0])
    assert tarone_family(min_p, 0.05).tolist() == [True, True, False, False, False]
    assert tarone_family(np.array([1.0, 1.0]), 0.05).tolist() == [False, False]
    assert tarone_family(np.zeros(0), 0.05).tolist() == []


def _two_cells() -> Incidents:
    """Cell A (0-150 m): 2 before, 12 after; cell B (300-450 m): 40 before, 30 after."""
    xy = [(50.0, 50.0)] * 14 + [(350.0, 50.0)] * 70
    months = ["2024-01-01"] * 2 + ["2024-02-01"] * 12 + ["2024-01-01"] * 40 + ["2024-02-01"] * 30
    x, y = np.array(xy).T
    return Incidents.from_xy(x, y, month=months, location=["A"] * 14 + ["B"] * 70)


def test_two_cells_by_hand():
    res = compare_periods(_two_cells(), "2024-02")
    p0 = 42 / 84
    n, k = np.array([14.0, 70.0]), np.array([12.0, 30.0])
    pearson = ((k - n * p0) ** 2 / (n * p0 * (1 - p0))).sum() / 1  # m - 1 = 1
    assert res.params["after_share"] == pytest.approx(p0)
    assert res.params["dispersion"] == pytest.approx(pearson)
    phi = max(1.0, pearson)
    cells = res.cells.set_index("top_location")
    assert cells.loc["A", ["before", "after", "change"]].tolist() == [2, 12, 10]
    assert cells.loc["A", "expected_after"] == pytest.approx(7.0)
    want = binomial_two_sided(np.array([12 / phi]), np.array([14 / phi]), p0)[0]
    assert cells.loc["A", "p_value"] == pytest.approx(want)
    assert res.params["split"] == "2024-02-01"
    assert res.params["before"] == ["2024-01", "2024-01"]
    assert shapely.equals(cells.loc["A", "geometry"], shapely.box(0, 0, 150, 150))
    assert shapely.equals(cells.loc["B", "geometry"], shapely.box(300, 0, 450, 150))


def _town(kind: str, rng: np.random.Generator, n: int = 4000) -> np.ndarray:
    """A town of ``n`` incidents: uniform ("csr") or six Gaussian neighbourhoods of different
    sizes and weights ("uneven"), optionally snapped to 600 map points ("snapped")."""
    if kind == "csr":
        return rng.uniform(0, 3000, (n, 2))
    centres = rng.uniform(500, 4500, (6, 2))
    sd = rng.uniform(150, 600, 6)
    c = rng.choice(6, n, p=rng.dirichlet(np.ones(6)))
    xy = centres[c] + rng.normal(0, 1, (n, 2)) * sd[c, None]
    if kind == "snapped":
        points = rng.uniform(0, 5000, (600, 2))
        xy = points[cKDTree(points).query(xy)[1]]
    return xy


def _labelled(xy: np.ndarray, after: np.ndarray) -> gpd.GeoDataFrame:
    months = np.where(after, "2024-04-01", "2024-01-01")
    res = compare_periods(Incidents.from_xy(xy[:, 0], xy[:, 1], month=months), "2024-03")
    return res.cells[res.cells["change_class"] != "no clear change"]


@pytest.mark.parametrize(
    ("kind", "after_share", "bursts"),
    [("csr", 0.5, False), ("uneven", 0.5, False), ("snapped", 0.3, False), ("snapped", 0.5, True)],
)
def test_no_change_anywhere_is_rarely_labelled(kind, after_share, bursts):
    """Nothing changed but the area's own level: a town with any cell labelled is a false
    positive, which the false discovery rate bounds by 0.05 when every cell is null (measured,
    60 towns each: CSR 0, uneven 3, snapped 1, bursts of repeat records 2, area-wide rise to
    65 % after 0). Here 30 towns each; at most 3 may show any label (expected at most 1.5)."""
    towns_with_labels = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        if bursts:  # one event, 1 + Poisson(1.5) records at its place, in one period
            events = _town(kind, rng, 1500)
            reps = 1 + rng.poisson(1.5, len(events))
            xy = np.repeat(events, reps, axis=0)
            after = np.repeat(rng.random(len(events)) < after_share, reps)
        else:
            xy = _town(kind, rng)
            after = rng.random(len(xy)) < after_share
        towns_with_labels += len(_labelled(xy, after)) > 0
    assert towns_with_labels <= 3


def test_planted_rises_are_found():
    """Ten 150 m cells of an uneven town get 25 more incidents after the split: at least 90 %
    of them are labelled "rose" (measured 92.5 % over 20 towns), and nothing is labelled
    "fell" by it."""
    found, planted = 0, 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        xy = _town("uneven", rng)
        after = rng.random(len(xy)) < 0.5
        centres = rng.uniform(1000, 4000, (10, 2)) // 150 * 150 + 75
        extra = np.repeat(centres, 25, axis=0) + rng.uniform(-60, 60, (250, 2))
        labelled = _labelled(np.vstack([xy, extra]), np.r_[after, np.ones(250, bool)])
        rose = labelled[labelled["change_class"] == "rose"]
        found += sum(bool(rose.contains(shapely.Point(c)).any()) for c in centres)
        planted += len(centres)
    assert found / planted >= 0.9


def test_default_split_halves_the_months_with_data():
    x = np.arange(5.0) * 500
    inc = Incidents.from_xy(x, x, month=[f"2024-0{m}-01" for m in (1, 2, 3, 4, 5)])
    assert default_split(inc) == pd.Timestamp("2024-03-01")  # 2 before, 3 after
    days = pd.date_range("2024-01-01", "2024-01-21", freq="D")
    one_month = Incidents.from_xy(np.arange(21.0), np.arange(21.0), datetime=days)
    assert default_split(one_month) == pd.Timestamp("2024-01-11")
    same = Incidents.from_xy(x, x, month=["2024-01-01"] * 5)
    with pytest.raises(ParameterError, match="no two periods"):
        default_split(same)


def test_undated_rows_are_left_out_and_counted():
    inc = _two_cells()
    frame = inc.frame.copy()
    frame.loc[:4, "month"] = pd.NaT
    undated = Incidents(frame, inc.crs, inc.study_area, inc.report)
    res = compare_periods(undated, "2024-02")
    assert res.params["n_undated"] == 5
    assert res.params["n_before"] + res.params["n_after"] == 79
    assert any("5 incident(s) without a date" in n for n in res.notes)


def test_bad_settings_name_the_fix():
    inc = _two_cells()
    with pytest.raises(ParameterError, match="split must be a date"):
        compare_periods(inc, "next spring")
    with pytest.raises(ParameterError, match="no incident falls after the split 2030-01-01"):
        compare_periods(inc, "2030-01")
    with pytest.raises(ParameterError, match="cell_size"):
        compare_periods(inc, cell_size=0)
    with pytest.raises(ParameterError, match="fdr"):
        compare_periods(inc, fdr=1.5)


def test_cli_change_writes_every_cell_with_its_record(demo_csv, tmp_path, capsys):
    out = tmp_path / "change.geojson"
    assert cli.main(["change", str(demo_csv), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Periods split at" in printed
    cells = gpd.read_file(out)
    record = json.loads(out.read_text(encoding="utf-8"))["hotspots_parameters"]
    assert record["method"] == "period_change"
    m = record["method_parameters"]
    assert len(cells) == m["n_tested"] and cells["tested"].all()
    counts = cells["change_class"].value_counts().to_dict()
    labelled = {k: v for k, v in m["class_counts"].items() if v and k != "no clear change"}
    assert {k: v for k, v in counts.items() if k != "no clear change"} == labelled
    assert f"Wrote the {len(cells):,} cells that hold enough incidents" in printed
    every = tmp_path / "every.geojson"
    assert cli.main(["--quiet", "change", str(demo_csv), "-o", str(every), "--all-cells"]) == 0
    cells = gpd.read_file(every)
    assert len(cells) == m["n_cells"]
    assert int(cells["before"].sum()) == m["n_before"]
    assert int(cells["after"].sum()) == m["n_after"]
    assert cli.main(["change", str(demo_csv), "-o", str(tmp_path / "c.csv")]) == 2
    assert "--out must end in .geojson" in capsys.readouterr().err


def test_workflow_geojson_matches_the_library(demo_csv):
    from hotspots.ingest import read_incidents

    inc = read_incidents(demo_csv)
    res = compare_periods(inc)
    data = json.loads(workflows.period_change_geojson(res, inc))
    assert len(data["features"]) == int(res.cells["tested"].sum())
    every = json.loads(workflows.period_change_geojson(res, inc, all_cells=True))
    assert len(every["features"]) == len(res.cells)
    assert data["hotspots_parameters"]["input_files"][0]["sha256"]


def test_problem_profile_shows_what_rose_or_fell():
    """The profile's change section lists the labelled cells of compare_periods on the same
    violence, with its notes."""
    from hotspots.problem import problem_profile, render_problem_profile

    rng = np.random.default_rng(3)
    xy = _town("uneven", rng) + [400000, 300000]
    after = rng.random(len(xy)) < 0.5
    centre = np.array([[400000 + 2475.0, 300000 + 2475.0]])
    xy = np.vstack([xy, np.repeat(centre, 30, axis=0)])  # one cell: 30 more after
    after = np.r_[after, np.ones(30, bool)]
    months = np.where(after, "2024-04-01", "2024-01-01")
    inc = Incidents.from_xy(xy[:, 0], xy[:, 1], month=months, crime_type="Robbery")
    want = compare_periods(inc)
    labelled = want.cells[want.cells["change_class"] != "no clear change"]
    assert "rose" in set(labelled["change_class"])
    profile = problem_profile(inc, evaluate=False)
    f = profile.forces[0]
    assert f.change is not None
    assert f.change["cell_id"].tolist() == labelled["cell_id"].head(10).tolist()
    assert f.change_note == " ".join(want.notes)
    html = render_problem_profile(profile)
    assert "What rose or fell between two periods" in html
    assert html.count("<tr><td>rose</td>") == int((labelled["change_class"] == "rose").sum())


def test_app_change_tab_compares_two_periods():
    """The app's "Change over time" tab: "Between two periods" shows the library's counts on
    the demo data, automatic and at a chosen month, with its GeoJSON download."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from hotspots.demo import ensure_demo_csv

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"))
    at.default_timeout = 300
    at.run()
    at.session_state["tab"] = "Change over time"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Between two periods" in [s.value for s in at.subheader]
    incidents = workflows.read_inputs([str(ensure_demo_csv())])

    def shown(label: str) -> int:
        return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))

    res = compare_periods(incidents)
    want = res.counts()
    tested = int(res.cells["tested"].sum())
    assert shown("Cells that rose") == want["rose"]
    assert shown("Cells that fell") == want["fell"]
    assert shown("Tested, no clear change") == tested - want["rose"] - want["fell"]
    assert shown("Too few incidents to test") == len(res.cells) - tested
    assert any(t.value.startswith("• Periods split at") for t in at.text)
    at.selectbox(key="chg_split").set_value("2025-10")
    at.button(key="chg_submit").click()
    at.run()
    assert not at.exception and not at.error
    want = compare_periods(incidents, "2025-10")
    assert (
        shown("Too few incidents to test") + shown("Tested, no clear change")
        == (want.counts()["no clear change"])
    )
    assert any("Periods split at 2025-10-01 (as given)" in t.value for t in at.text)
    assert "Cells that could show a change, before and after (GeoJSON)" in {
        b.label for b in at.get("download_button")
    }
