"""Tests for the ``hotspots`` command: outputs, messages and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest

from hotspots import cli


def test_demo_writes_the_seeded_csv(tmp_path, capsys):
    out = tmp_path / "demo.csv"
    assert cli.main(["demo", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"Crime ID,Month,")
    assert "synthetic" in capsys.readouterr().out
    before = out.stat().st_mtime_ns
    assert cli.main(["demo", "--out", str(out), "--if-missing"]) == 0
    assert out.stat().st_mtime_ns == before


def test_detect_geojson_with_report(demo_csv, tmp_path, capsys):
    out = tmp_path / "h.geojson"
    report = tmp_path / "ingest.json"
    rejected = tmp_path / "rejected.csv"
    code = cli.main(
        [
            "detect",
            str(demo_csv),
            "--out",
            str(out),
            "--report",
            str(report),
            "--rejected",
            str(rejected),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Bandwidth 150 m" in text  # the automatic choice is announced
    assert "rank" in text and "H001" in text  # the ranked table
    gdf = gpd.read_file(out)
    assert len(gdf) >= 8 and gdf.crs.to_epsg() == 4326
    doc = json.loads(out.read_text())
    params = doc["hotspots_parameters"]
    assert params["method"] == "kde"
    assert params["input_files"][0]["name"] == "demo_incidents.csv"
    assert len(params["input_files"][0]["sha256"]) == 64
    rep = json.loads(report.read_text())
    assert rep["rows_read"] == rep["rows_used"] + rep["rows_rejected"]
    assert (
        rep["rows_rejected"] - rep["rejected_by_reason"]["crime type not selected"] == 9
    )  # the planted dirty rows
    assert rejected.read_text().count("\n") == rep["rows_rejected"] + 1


@pytest.mark.parametrize(("suffix", "method"), [(".gpkg", "dbscan"), (".csv", "gistar")])
def test_detect_other_formats_and_methods(demo_csv, tmp_path, suffix, method, capsys):
    out = tmp_path / f"h{suffix}"
    assert (
        cli.main(["--quiet", "detect", str(demo_csv), "--method", method, "--out", str(out)]) == 0
    )
    assert out.stat().st_size > 0
    if suffix == ".gpkg":
        assert len(gpd.read_file(out)) >= 8
    else:  # a table's run record is written beside it
        record = json.loads((tmp_path / "h.run.json").read_text(encoding="utf-8"))
        row = json.loads(pd.read_csv(out)["parameters"].iloc[0])
        assert record["method"] == row["method"] == "gistar"
        assert record["input_files"] == row["input_files"]  # one file: listed in full on rows
        assert f"Wrote the run record to {tmp_path / 'h.run.json'}" in capsys.readouterr().out


def test_quiet_is_taken_before_or_after_the_command(demo_csv, tmp_path, capsys):
    out = tmp_path / "h.geojson"
    assert cli.main(["detect", str(demo_csv), "--out", str(out)]) == 0
    loud = capsys.readouterr().out
    assert cli.main(["detect", str(demo_csv), "--out", str(out), "--quiet"]) == 0
    after = capsys.readouterr().out
    assert cli.main(["--quiet", "detect", str(demo_csv), "--out", str(out)]) == 0
    before = capsys.readouterr().out
    assert after == before  # the same run, the same words
    assert len(after) < len(loud)  # the automatic choices are not printed
    short = tmp_path / "short.geojson"  # -o is --out, as in most command-line tools
    assert cli.main(["detect", str(demo_csv), "-o", str(short), "--quiet"]) == 0
    assert capsys.readouterr().out == after.replace(str(out), str(short))
    a, b = (json.loads(p.read_text())["features"] for p in (short, out))
    assert [f["geometry"] for f in a] == [f["geometry"] for f in b]
    assert [f["properties"]["hotspot_id"] for f in a] == [f["properties"]["hotspot_id"] for f in b]


def test_bad_input_exit_2_one_message(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,colour\nalice,red\n", encoding="utf-8")
    assert cli.main(["detect", str(bad), "--out", str(tmp_path / "o.geojson")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hotspots: error: ") and "bad.csv" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file_and_wrong_option_exit_2(tmp_path, capsys, demo_csv):
    assert cli.main(["detect", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err
    assert cli.main(["detect", str(demo_csv), "--eps", "50"]) == 2
    assert "--eps does not apply to --method kde" in capsys.readouterr().err
    assert cli.main(["detect", str(demo_csv), "--out", str(tmp_path / "x.shp")]) == 2


def test_internal_error_exit_1_without_traceback(monkeypatch, demo_csv, capsys):
    import hotspots.detect

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(hotspots.detect, "detect", boom)
    assert cli.main(["detect", str(demo_csv)]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "kaboom" in err and "Traceback" not in err


def test_console_script_exit_codes(tmp_path):
    """The real process: argparse errors and bad input exit 2, with no traceback."""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02garbage")
    r = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", "detect", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bad.csv" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", "detect"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2


def test_harm_weights_and_harm_order(demo_csv, tmp_path):
    weights = tmp_path / "harm.json"
    weights.write_text(
        json.dumps(
            {"Violence and sexual offences": 10, "Robbery": 100, "Possession of weapons": 30}
        )
    )
    out = tmp_path / "h.geojson"
    assert (
        cli.main(
            [
                "--quiet",
                "detect",
                str(demo_csv),
                "--harm-weights",
                str(weights),
                "--order",
                "harm",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    props = [f["properties"] for f in json.loads(out.read_text())["features"]]
    harms = [p["harm"] for p in props]
    assert harms == sorted(harms, reverse=True) and harms[0] > 0
    # harm is a weighted count: at least 10 per incident, at most 100
    assert all(10 * p["incidents"] <= p["harm"] <= 100 * p["incidents"] for p in props)


def test_unmapped_harm_weights_exit_2(demo_csv, tmp_path, capsys):
    weights = tmp_path / "harm.csv"
    weights.write_text("crime_type,weight\nRobbery,100\n")
    assert cli.main(["detect", str(demo_csv), "--harm-weights", str(weights)]) == 2
    assert "Violence and sexual offences" in capsys.readouterr().err


def test_plan_writes_every_output(demo_csv, tmp_path):
    out = tmp_path / "plan"
    assert (
        cli.main(
            [
                "--quiet",
                "plan",
                str(demo_csv),
                "--out-dir",
                str(out),
                "--days",
                "7",
                "--seed",
                "3",
                "--start-date",
                "2026-01-05",
            ]
        )
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["briefing.html", "patrol_areas.geojson", "patrol_plan.csv", "patrol_plan.ics"]
    areas = gpd.read_file(out / "patrol_areas.geojson")
    assert len(areas) >= 8 and areas.crs.to_epsg() == 4326
    ics = (out / "patrol_plan.ics").read_bytes()
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n") and b"DTSTART" in ics
    assert "SYNTHETIC" in (out / "briefing.html").read_text(encoding="utf-8").upper()


def test_evaluate_prints_pai_table(demo_csv, capsys, tmp_path):
    out = tmp_path / "eval.csv"
    assert (
        cli.main(
            [
                "--quiet",
                "evaluate",
                str(demo_csv),
                "--test-from",
                "2025-10",
                "--methods",
                "kde,gistar",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "PAI" in text and "Gi*" in text
    lines = out.read_text().splitlines()
    assert lines[0].startswith("origin,forecast,unit,at,label,n_test,target,reached,coverage")
    assert any(line.startswith("2025-10 on,gistar,150 m cells,coverage,1%") for line in lines)
    assert (
        cli.main(["evaluate", str(demo_csv), "--test-from", "2025-10", "--methods", "kmeans"]) == 2
    )


def test_plan_excludes_marked_places(demo_csv, tmp_path):
    from hotspots.demo import generate_demo

    _, truth = generate_demo()
    club = next(s for s in truth.spots if s.name == "Nightclub strip")
    pt = gpd.GeoSeries(gpd.points_from_xy([club.x], [club.y]), crs=27700).to_crs(4326)
    places = tmp_path / "hospital.geojson"
    gpd.GeoDataFrame({"name": ["A&E"]}, geometry=pt).to_file(places, driver="GeoJSON")
    out = tmp_path / "plan"
    assert (
        cli.main(
            [
                "--quiet",
                "plan",
                str(demo_csv),
                "--out-dir",
                str(out),
                "--seed",
                "1",
                "--exclude",
                str(places),
                "--exclude-buffer",
                "120",
            ]
        )
        == 0
    )
    areas = gpd.read_file(out / "patrol_areas.geojson").to_crs(27700)
    # no patrol area keeps the excluded place
    assert not areas.contains(gpd.points_from_xy([club.x], [club.y])[0]).any()


def test_plan_pdf_briefing(demo_csv, tmp_path):
    from hotspots.briefing import find_pdf_browser

    if find_pdf_browser() is None:
        pytest.skip("no Chromium-family browser installed")
    out = tmp_path / "plan"
    assert (
        cli.main(
            [
                "--quiet",
                "plan",
                str(demo_csv),
                "--out-dir",
                str(out),
                "--days",
                "3",
                "--seed",
                "1",
                "--pdf",
            ]
        )
        == 0
    )
    assert (out / "briefing.pdf").read_bytes().startswith(b"%PDF")


def test_classify_writes_categories(demo_csv, tmp_path, capsys):
    out = tmp_path / "em.geojson"
    assert cli.main(["--quiet", "classify", str(demo_csv), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "persistent hot spot" in text
    doc = json.loads(out.read_text())
    assert doc["hotspots_parameters"]["method"] == "emerging"
    cats = {f["properties"]["category"] for f in doc["features"]}
    assert "persistent hot spot" in cats
    # the table printed: each class's cells, most first, as many as its areas hold
    cells_in: dict[str, int] = {}
    for f in doc["features"]:
        c = f["properties"]["category"]
        cells_in[c] = cells_in.get(c, 0) + f["properties"]["n_cells"]
    lines = text[text.index("category ") :].splitlines()[1 : 1 + len(cells_in)]
    printed = {ln[:28].strip(): int(ln[28:]) for ln in lines}
    assert printed == cells_in
    assert list(printed.values()) == sorted(printed.values(), reverse=True)
    # the planted nightclub strip is hot all year: it lies in a persistent area
    from hotspots.demo import generate_demo

    _, truth = generate_demo()
    club = next(s for s in truth.spots if s.name == "Nightclub strip")
    gdf = gpd.read_file(out).to_crs(27700)
    at = gdf[gdf.contains(gpd.points_from_xy([club.x], [club.y])[0])]
    assert list(at["category"]) == ["persistent hot spot"]


def test_detect_writes_a_standalone_map(demo_csv, tmp_path, capsys):
    out, page = tmp_path / "hs.geojson", tmp_path / "map.html"
    args = ["detect", str(demo_csv), "--out", str(out), "--map", str(page), "--tiles", "none"]
    assert cli.main(args) == 0
    assert f"Wrote the map (opens offline) to {page}" in capsys.readouterr().out
    html = page.read_text(encoding="utf-8")
    embedded = json.loads(html.split('id="hotspots-parameters">', 1)[1].split("</script>", 1)[0])
    doc = json.loads(out.read_text())
    # the map and the GeoJSON carry the same record (the map's creation time aside)
    assert {k: v for k, v in embedded.items() if k != "generated_at"} == {
        k: v for k, v in doc["hotspots_parameters"].items() if k != "generated_at"
    }
    assert "SYNTHETIC DEMO DATA" in html
    assert "<script src=" not in html  # every script inlined: opens without a network
    # a wrong suffix or tile setting is reported before any file is read
    assert (
        cli.main(["detect", str(tmp_path / "missing.csv"), "--map", str(tmp_path / "m.png")]) == 2
    )
    assert "--map must end in .html" in capsys.readouterr().err
    assert cli.main(["detect", str(demo_csv), "--map", str(page), "--tiles", "ftp://x"]) == 2


def test_plan_map_shows_the_patrol_areas(demo_csv, tmp_path):
    out, page = tmp_path / "plan", tmp_path / "plan.html"
    args = ["--quiet", "plan", str(demo_csv), "--out-dir", str(out), "--seed", "1"]
    assert cli.main([*args, "--days", "3", "--map", str(page), "--tiles", "none"]) == 0
    areas = gpd.read_file(out / "patrol_areas.geojson")
    html = page.read_text(encoding="utf-8")
    assert all(pid in html for pid in areas["patrol_area_id"])
    # listed in the page's layer switcher, whose script comes after every layer it names
    control = html.index("L.control.layers(")
    overlays = html[html.rindex("overlays", 0, control) : control]
    assert '"Patrol areas"' in overlays
    layer_var = overlays.split('"Patrol areas" : ')[1].split(",")[0].strip()
    assert html.index(f"var {layer_var} = ") < control


def test_every_command_prints_the_choices_the_same_way(demo_csv, tmp_path, capsys):
    """Ingest's notes, then the step's own, each as one "- " line (hotspots.record.Choices)."""
    from hotspots.ingest import read_incidents
    from hotspots.record import choices_of

    ingest_lines = choices_of(read_incidents(demo_csv)).lines()
    assert ingest_lines and all(line.startswith("- ") for line in ingest_lines)
    out = tmp_path / "em.geojson"
    assert cli.main(["classify", str(demo_csv), "--out", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    first = text.index(ingest_lines[0])
    assert text[first : first + len(ingest_lines)] == ingest_lines
    assert cli.main(["detect", str(demo_csv), "--out", str(tmp_path / "h.geojson")]) == 0
    text = capsys.readouterr().out.splitlines()
    first = text.index(ingest_lines[0])
    assert text[first : first + len(ingest_lines)] == ingest_lines
    assert any(line.startswith("- Bandwidth") for line in text[first + len(ingest_lines) :])
    assert cli.main(["--quiet", "classify", str(demo_csv), "--out", str(out)]) == 0
    assert not any(line.startswith("- ") for line in capsys.readouterr().out.splitlines())


def test_gistar_fdr_is_its_own_option(demo_csv, tmp_path, capsys):
    """--alpha is the ranking's significance level, --fdr the Gi* false discovery rate."""
    runs = {}
    for name, extra in {
        "default": [],
        "fdr": ["--fdr", "1e-6"],
        "alpha": ["--alpha", "0.01"],
    }.items():
        out = tmp_path / f"{name}.geojson"
        argv = [
            "--quiet",
            "detect",
            str(demo_csv),
            "--method",
            "gistar",
            "--all",
            "--out",
            str(out),
        ]
        assert cli.main(argv + extra) == 0
        runs[name] = json.loads(out.read_text())["hotspots_parameters"]
    assert runs["default"]["method_parameters"]["alpha"] == 0.05
    assert runs["fdr"]["method_parameters"]["alpha"] == 1e-6
    assert runs["fdr"]["significance"]["fdr"] == 1e-6
    assert runs["fdr"]["significance"]["alpha"] == 0.05
    hot = {k: v["method_parameters"]["n_hot_cells"] for k, v in runs.items()}
    assert 0 < hot["fdr"] < hot["default"] == hot["alpha"]
    assert runs["alpha"]["significance"]["alpha"] == 0.01
    assert runs["alpha"]["method_parameters"]["alpha"] == 0.05
    capsys.readouterr()
    assert cli.main(["detect", str(demo_csv), "--fdr", "0.01"]) == 2
    assert "--fdr does not apply to --method kde" in capsys.readouterr().err


def test_plan_recommended_dose_with_teams_routes_each_visit(demo_csv, tmp_path, capsys):
    # --dose recommended --teams: the team sheets carry each area's visits a day, not one.
    import pandas as pd

    teams = tmp_path / "teams.csv"
    teams.write_text(
        "team,officers,days,start,end\nAlpha,2,Thu-Sat,18:00,02:00\nBravo,2,daily,14:00,22:00\n"
    )
    out = tmp_path / "plan"
    args = ["plan", str(demo_csv), "--out-dir", str(out), "--days", "14", "--seed", "3"]
    args += ["--start-date", "2026-10-19", "--control-share", "0.5", "--dose", "recommended"]
    assert cli.main([*args, "--teams", str(teams)]) == 0
    assert "Visits a day follow each area's recommended dose" in capsys.readouterr().out
    table = pd.read_csv(out / "team_plan.csv")
    plan = pd.read_csv(out / "patrol_plan.csv")
    params = json.loads(table["plan_parameters"].iloc[0])
    assert params["visits_per_day"] == "recommended"
    assert set(params["doses"]) == set(plan["patrol_area_id"])
    patrol = table[table["arm"] == "patrol"].copy()
    assert (patrol["visits_in_day"] > 1).any()
    for _key, day in patrol.groupby(["date", "patrol_area_id"]):
        n = int(day["visits_in_day"].iloc[0])
        assert (day["visits_in_day"] == n).all()
        assert sorted(day["visit"]) == sorted(set(day["visit"])) and set(day["visit"]) <= set(
            range(1, n + 1)
        )
        starts = pd.to_datetime(day.sort_values("visit")["start"], utc=True)
        assert (starts.diff().dropna() >= pd.Timedelta(minutes=30)).all()  # never back to back
    # the visits a day are the patrol plan's, weekday by weekday
    want = plan[plan["arm"] == "patrol"].groupby(["patrol_area_id", "weekday"])["visit"].max()
    got = patrol.groupby(["patrol_area_id", "weekday"])["visits_in_day"].max()
    both = want.index.intersection(got.index)
    assert len(both) > 0 and (want[both] == got[both]).all()
    # every visit is its own calendar event and sheet line, numbered within its day
    for team in ("Alpha", "Bravo"):
        text = (out / f"team_{team}.ics").read_bytes().decode("utf-8")
        uids = [ln for ln in text.replace("\r\n ", "").split("\r\n") if ln.startswith("UID:")]
        assert len(uids) == len(set(uids)) == int((patrol["team"] == team).sum())
    several = patrol[patrol["visits_in_day"] > 1].iloc[0]
    sheets = (out / f"team_{several['team']}_sheets.html").read_text(encoding="utf-8")
    assert "Visit of the day" in sheets
    assert f"{several['visit']} of {several['visits_in_day']}" in sheets


def test_output_paths_are_checked_before_any_work(demo_csv, tmp_path, capsys, monkeypatch):
    from hotspots import workflows

    def never(*_a, **_k):
        raise AssertionError("the input was read before the output path was checked")

    monkeypatch.setattr(workflows, "read_inputs", never)
    missing = tmp_path / "no_such_folder" / "h.csv"
    assert cli.main(["detect", str(demo_csv), "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"hotspots: error: -o/--out {str(missing)!r}: the folder "
        f"{str(missing.parent)!r} does not exist; create it first or choose another path.\n"
    )
    assert cli.main(["detect", str(demo_csv), "-o", str(tmp_path)]) == 2
    assert "is a folder; give the name of a file in it." in capsys.readouterr().err
    args = ["detect", str(demo_csv), "--map", str(missing.with_suffix(".html"))]
    assert cli.main(args) == 2
    assert "--map" in capsys.readouterr().err
    made = tmp_path / "new" / "folders" / "demo.csv"  # the demo makes its file's folders
    assert cli.main(["--quiet", "demo", "--out", str(made)]) == 0
    assert made.is_file()


def test_outputs_inside_the_plans_own_new_out_dir_are_written(demo_csv, tmp_path, capsys):
    """`plan --out-dir new --map new/map.html --rejected new/rejected.csv`: the command makes
    its --out-dir, so files named inside it are not refused for a missing folder."""
    out = tmp_path / "new"
    args = ["--quiet", "plan", str(demo_csv), "--out-dir", str(out), "--days", "3"]
    args += ["--map", str(out / "map.html"), "--rejected", str(out / "rejected.csv")]
    assert cli.main(args) == 0, capsys.readouterr().err
    assert (out / "map.html").stat().st_size > 10_000
    assert (out / "patrol_plan.csv").is_file()
    header = (out / "rejected.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "reason" in header
    deeper = tmp_path / "other" / "deeper" / "map.html"  # not the out-dir itself: still refused
    args = ["plan", str(demo_csv), "--out-dir", str(tmp_path / "other"), "--map", str(deeper)]
    assert cli.main(args) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_a_full_disk_is_an_error_not_a_bug(demo_csv, tmp_path, capsys, monkeypatch):
    import errno

    from hotspots import workflows

    target = tmp_path / "h.geojson"

    def full(result, path, **_k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(workflows, "write_hotspots", full)
    assert cli.main(["--quiet", "detect", str(demo_csv), "-o", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"hotspots: error: could not write or read {str(target)!r}: No space left on device. "
        "Check the path, its folder's permissions and the free space.\n"
    )

    def bug(result, path, **_k):
        raise OSError(errno.EBADF, "Bad file descriptor")  # ours: still reported as a bug

    monkeypatch.setattr(workflows, "write_hotspots", bug)
    assert cli.main(["--quiet", "detect", str(demo_csv), "-o", str(target)]) == 1
    assert "internal error (OSError" in capsys.readouterr().err
