"""The README's figures and command lines against the code as it is (session 15's docs check).

Each figure the README states without a test of its own is pinned here: the Merseyside
significance counts and change between periods, the peak-window calibration, a row of the
evaluation table. Tests on ../shared/data skip cleanly when it is absent. The command line
section must name every option of every subcommand, and name no option that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hotspots import cli, constants

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHARED = ROOT.parent / "shared" / "data"
MERSEYSIDE = SHARED / "police_uk" / "merseyside_2022-01_to_2022-06"
CITY = SHARED / "police_uk" / "city-of-london_2024-01_to_2025-12"


def _section(title: str) -> str:
    """The README's text from the heading ``## title`` to the next ``## `` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else len(README)]


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``hotspots ARGV --help`` prints."""
    with pytest.raises(SystemExit) as stop:
        cli.main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _options(help_text: str) -> set[str]:
    """The long options a help text names, ``--help`` left out."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", help_text)) - {"--help"}


def _subcommands(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Every subcommand's help text (``simulate`` once: its two kinds share one parser)."""
    top = _help([], capsys)
    names = re.search(r"\{([a-z,]+)\}", top)
    assert names is not None
    return {name: _help([name], capsys) for name in names.group(1).split(",")}


def test_every_option_of_every_subcommand_is_named_in_the_command_line_section(capsys):
    text = _section("Command line")
    subs = _subcommands(capsys)
    assert set(subs) >= {"detect", "plan", "evaluate", "classify", "change", "profile", "demo"}
    missing = {
        name: sorted(o for o in _options(h) if f"`{o}`" not in text and f"/{o}`" not in text)
        for name, h in subs.items()
    }
    assert not any(missing.values()), missing
    for name in subs:  # every subcommand is shown or named there
        assert f"hotspots {name}" in text or f"**{name}" in text, name


def test_every_option_the_docs_name_exists(capsys):
    known = _options(_help([], capsys)).union(*map(_options, _subcommands(capsys).values()))
    # options of other programs the docs show (pip, python -m benchmarks, dask)
    others = {"--no-deps", "--quick", "--only", "--nworkers", "--nthreads", "--memory-limit"}
    for doc in ("README.md", "docs/scale-out.md", "docs/architecture.md"):
        named = _options((ROOT / doc).read_text(encoding="utf-8"))
        assert named - known - others == set(), doc


def test_the_stated_method_defaults_are_the_constants():
    from hotspots.clusters import DEFAULT_EPS_M, MIN_SAMPLES_FLOOR
    from hotspots.gistar import DEFAULT_CELL_M
    from hotspots.kde import MICRO_PLACE_BANDWIDTH_M

    assert MICRO_PLACE_BANDWIDTH_M == DEFAULT_CELL_M == constants.MICRO_PLACE_M == 150
    assert "Default bandwidth **150 m**" in README
    assert constants.HOTSPOT_COVERAGE == 0.02 and "the densest 2 % of the study area" in README
    assert DEFAULT_EPS_M == constants.MICRO_PLACE_RADIUS_M == 75 and "`eps` 75 m" in README
    assert MIN_SAMPLES_FLOOR == 5 and "never below 5" in README


def test_change_on_the_demo_runs_as_the_readme_writes_it(demo_csv, tmp_path, capsys):
    line = next(x for x in _section("Command line").splitlines() if "hotspots change" in x)
    args = line.split("#")[0].split()[1:]
    assert args[:2] == ["change", "demo.csv"]
    args[1] = str(demo_csv)
    args[args.index("--out") + 1] = str(tmp_path / "change.geojson")
    assert cli.main(["--quiet", *args]) == 0
    assert "1 rose, 0 fell" in capsys.readouterr().out
    assert (tmp_path / "change.geojson").is_file()


def test_peak_window_calibration_figures():
    """README, "Peak windows": the plain rule names a timing of its own for 146 of 150 places
    and three weekdays or fewer for 149; shrunk, none."""
    from test_peak_windows import EVENING, _places, _ranked

    from hotspots.profile import peak_window, timing_prior

    rng = np.random.default_rng(11)
    xy, when, centres = _places(rng, 150, 20, EVENING)
    inc, ranked = _ranked(xy, when, centres)
    prior = timing_prior(inc)
    assert prior is not None
    hours, _ = prior.force_window()
    own = [peak_window(np.asarray(c)) for c in ranked["hour_counts"]]
    assert sum(w != hours for w in own) == 146
    days = [peak_window_days(np.asarray(c)) for c in ranked["weekday_counts"]]
    assert sum(len(d) <= 3 for d in days) == 149
    assert int((ranked["peak_basis"] == "own").sum()) == 0
    assert "for 146 of 150 places and three weekdays or fewer for 149; shrunk, none" in (
        " ".join(README.split())
    )


def peak_window_days(counts: np.ndarray) -> list[int]:
    """The plain rule on weekdays: the shortest circular run of weekdays holding half of the
    incidents (the reference the README's figure was measured with)."""
    total = counts.sum()
    doubled = np.r_[counts, counts]
    for length in range(1, 8):
        sums = [doubled[s : s + length].sum() for s in range(7)]
        best = int(np.argmax(sums))
        if sums[best] >= 0.5 * total - 1e-9:
            return [(best + d) % 7 for d in range(length)]
    return list(range(7))


@pytest.mark.shared_data
def test_merseyside_january_to_may_significance_counts():
    """README, "Significance": KDE 92 of 287 and DBSCAN 106 of 527 significant."""
    if not MERSEYSIDE.is_dir():
        pytest.skip("../shared/data is not present")
    from hotspots.detect import detect
    from hotspots.ingest import read_incidents

    inc = read_incidents(sorted(MERSEYSIDE.glob("*.csv"))[:5])
    kde = detect(inc, "kde")
    assert (kde.params["n_significant"], kde.params["n_hotspots"]) == (92, 287)
    assert kde.params["n_left_out_empty"] == 33
    dbscan = detect(inc, "dbscan")
    assert (dbscan.params["n_significant"], dbscan.params["n_hotspots"]) == (106, 527)
    assert "KDE 92 of 287 and DBSCAN 106 of 527" in " ".join(README.split())


@pytest.mark.shared_data
def test_merseyside_change_between_periods():
    """README, "Change between two periods": 1 of 6,829 cells rose (Severn Road, 1 -> 28)."""
    if not MERSEYSIDE.is_dir():
        pytest.skip("../shared/data is not present")
    from hotspots.change import compare_periods
    from hotspots.ingest import read_incidents

    cells = compare_periods(read_incidents(MERSEYSIDE), "2022-04").cells
    assert len(cells) == 6829
    assert cells["change_class"].value_counts().to_dict() == {"no clear change": 6828, "rose": 1}
    rose = cells[cells["change_class"] == "rose"].iloc[0]
    assert (rose["before"], rose["after"]) == (1, 28)
    assert "Severn Road" in rose["top_location"]
    assert "1 of 6,829 cells rose (Severn Road, 1 -> 28), none fell" in " ".join(README.split())


@pytest.mark.shared_data
def test_city_of_london_rows_of_the_evaluation_table():
    """README, "How well patrol areas predict": the City of London rows (patrol areas, the
    better naive baseline, the ArcGIS rule), read as ``hotspots evaluate`` reads the files."""
    if not CITY.is_dir():
        pytest.skip("../shared/data is not present")
    from test_forecast import _disc_means, _read_shared

    from hotspots.evaluate import rolling_evaluation

    inc, others = _read_shared(SHARED, CITY.relative_to(SHARED), "Violence and sexual offences")
    means = _disc_means(rolling_evaluation(inc, methods=(), others=others))
    for label in ("top 10", "top 20", "top 50", "all"):
        r = means.loc[label] * 100
        naive = max(r["naive_points"], r["naive_kde_150m"])
        row = (
            f"| City of London | {label} | {r['patrol_areas']:.2f} | {naive:.2f} (150 m KDE) | "
            f"{r['arcgis_kde']:.2f} |"
        )
        assert row in README, row


def test_scale_out_tile_sizes_are_the_engines():
    """docs/scale-out.md's table of what is partitioned, against the engine's constants."""
    from hotspots import engine, grid

    text = " ".join((ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8").split())
    kde_cells = engine.KDE_BLOCK_TILES * grid.DEFAULT_TILE_SIZE
    assert (
        f"{engine.KDE_BLOCK_TILES} x {engine.KDE_BLOCK_TILES} surface tiles of "
        f"{grid.DEFAULT_TILE_SIZE} cells, {kde_cells} cells a side" in text
    )
    assert f"({engine.DBSCAN_TILE_EPS} eps a side" in text
    assert f"({engine.GISTAR_TILE_CELLS} cells a side" in text


def test_arcgis_bandwidth_figures(demo_csv):
    """README, "Kernel density": ArcGIS's rule gives 314 m on the demo town, 889 m on
    Merseyside's violence (January-June 2022) and 1.7 km on Memphis's 2019 robberies."""
    from hotspots.ingest import read_incidents
    from hotspots.kde import KDEHotspots

    text = " ".join(README.split())
    cases = [(demo_csv, {}, "314 m on the demo town")]
    memphis = SHARED / "us" / "memphis_robberies_2019.csv"
    if MERSEYSIDE.is_dir() and memphis.is_file():
        cases += [
            (MERSEYSIDE, {}, "889 m on Merseyside's violence (January-June 2022)"),
            (memphis, {"crime_types": "all"}, "1.7 km on Memphis's 2019 robberies"),
        ]
    for source, kwargs, words in cases:
        est = KDEHotspots(bandwidth_rule="arcgis").fit(read_incidents(source, **kwargs))
        m = est.bandwidth_
        said = f"{m / 1000:.1f} km" if m >= 1000 else f"{m:.0f} m"
        assert words.startswith(said) and words in text, (words, m)


def test_column_help_names_every_role(capsys):
    """``--column``'s help lists the roles ``read_incidents`` maps (``hour`` was missing)."""
    from hotspots.ingest import ROLES

    text = " ".join(_help(["detect"], capsys).split())
    roles = re.search(r"--column ROLE=NAME map a column explicitly \(roles: ([^)]*)\)", text)
    assert roles is not None
    named = set(re.findall(r"[a-z_]+", roles.group(1)))
    assert set(ROLES) <= named, set(ROLES) - named
