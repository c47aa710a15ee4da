"""Reading every file once for the profile (read_by_force) against reading each force again."""

from __future__ import annotations

import pickle
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import shapely
from test_problem import _profile, _without_times, two_forces  # noqa: F401 (a fixture)

from hotspots import workflows
from hotspots.cli import main
from hotspots.incidents import Incidents
from hotspots.problem import ForceFiles, read_by_force, render_problem_profile, split_by_force


@pytest.fixture(scope="module")
def forces_with_straggler(two_forces, tmp_path_factory) -> list[Path]:  # noqa: F811
    """test_problem's two forces (A round Liverpool, B in London, 250 km away, 2024-05
    missing) in one folder, with a straggler of A in 2024-02 50 km east (Manchester): a far
    outlier for A alone, not for A and B together."""
    folder = tmp_path_factory.mktemp("straggler")
    paths = []
    for p in two_forces:
        text = p.read_text(encoding="utf-8")
        if p.name == "2024-02-force-a-street.csv":
            row = text.splitlines()[1].split(",")
            row[4], row[5] = "-2.230000", "53.480000"
            text += ",".join(row) + "\n"
        (folder / p.name).write_text(text, encoding="utf-8")
        paths.append(folder / p.name)
    return paths


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _same_incidents(a: Incidents, b: Incidents) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert a.crs == b.crs
    assert shapely.to_wkb(a.study_area) == shapely.to_wkb(b.study_area)
    assert a.report.files == b.report.files
    assert (a.report.n_read, a.report.n_used) == (b.report.n_read, b.report.n_used)
    assert a.report.choices == b.report.choices
    assert list(a.report.notes) == list(b.report.notes)
    pd.testing.assert_frame_equal(a.report.rejected, b.report.rejected, check_exact=True)


def test_each_force_is_its_files_read_on_their_own(forces_with_straggler):
    paths = [str(p) for p in forces_with_straggler]
    pooled, forces = _quiet(read_by_force, paths)
    _same_incidents(pooled, _quiet(workflows.read_inputs, paths, crime_types="all"))
    again = _quiet(workflows.read_forces, paths)
    assert list(forces) == list(again) == ["Force A Police", "Force B Police"]
    for name, files in forces.items():
        assert isinstance(files, ForceFiles)
        made = _quiet(files.incidents)
        _same_incidents(made, again[name])
        # sent to a worker: the force's files only
        _same_incidents(_quiet(pickle.loads(pickle.dumps(files)).incidents), made)
    a = _quiet(forces["Force A Police"].incidents)
    b = _quiet(forces["Force B Police"].incidents)
    # A alone: 6 months x 18 rows; its straggler is a far outlier (rejected), but not when the
    # rule runs on both forces together (split_by_force keeps it)
    assert len(a) == 6 * 18 and a.report.choices["n_outliers"] == 1
    assert len(split_by_force(pooled)["Force A Police"]) == 6 * 18 + 1
    assert len(b) == 3 * 5 + 2 * 9 and [f"{m:%Y-%m}" for m in b.missing_months] == ["2024-05"]
    assert len(forces["Force A Police"]) == 6 * 18 + 1  # rows in its files
    assert {f.name for f in b.report.files} == {
        p.name for p in forces_with_straggler if "force-b" in p.name
    }


def test_profile_of_files_read_once_is_the_profile_of_forces_read_again(forces_with_straggler):
    paths = [str(p) for p in forces_with_straggler]
    _, forces = _quiet(read_by_force, paths)
    again = _quiet(workflows.read_forces, paths)
    want = _profile(again, top=3, evaluate=False)
    for jobs in (1, 2):  # in this process, and force by force in worker processes
        got = _profile(forces, top=3, evaluate=False, jobs=jobs)
        pd.testing.assert_frame_equal(got.national, want.national, check_exact=True)
        assert got.national["incidents"].tolist() == [6 * 12, 3 * 4 + 2 * 8]
        assert _without_times(render_problem_profile(got)) == _without_times(
            render_problem_profile(want)
        )


def test_sources_named_otherwise_alone_are_read_again(forces_with_straggler, tmp_path):
    """Files in subfolders are named by their path in the folder but by their own name when
    read on their own; uploads cannot be read again: read_forces' forces, as before."""
    for p in forces_with_straggler:
        month = tmp_path / p.name[:7]
        month.mkdir(exist_ok=True)
        shutil.copy(p, month / p.name)
    _, forces = _quiet(read_by_force, [tmp_path])
    again = _quiet(workflows.read_forces, [tmp_path])
    assert list(forces) == list(again)
    for name in forces:
        assert isinstance(forces[name], Incidents)
        _same_incidents(forces[name], again[name])
    assert forces["Force A Police"].report.files[0].name == "2024-01-force-a-street.csv"
    pairs = [(p.name, p.read_bytes()) for p in forces_with_straggler]
    _, split = _quiet(read_by_force, pairs)
    assert len(split["Force A Police"]) == 6 * 18 + 1  # split after one read, as read_forces


def test_one_force_is_the_input_itself(forces_with_straggler):
    only_b = [str(p) for p in forces_with_straggler if "force-b" in p.name]
    pooled, forces = _quiet(read_by_force, only_b)
    assert list(forces) == ["Force B Police"] and forces["Force B Police"] is pooled


def test_cli_profile_reads_each_file_once(forces_with_straggler, tmp_path, monkeypatch):
    from hotspots import engine, ingest

    read: list[str] = []
    read_files = ingest.read_files

    def counted(items, **kw):
        read.extend(name for name, _load in items)
        return read_files(items, **kw)

    def again(*args, **kwargs):
        raise AssertionError("a file was read again")

    monkeypatch.setattr(ingest, "read_files", counted)
    monkeypatch.setattr(engine, "read_incidents", again)  # read_inputs' reader
    out = tmp_path / "out"
    args = ["--quiet", "profile", *map(str, forces_with_straggler), "--out-dir", str(out)]
    assert _quiet(main, [*args, "--no-pdf", "--no-evaluate", "--no-classify", "--jobs", "1"]) == 0
    assert sorted(read) == sorted(p.name for p in forces_with_straggler)
    table = pd.read_csv(out / "problem_profile_forces.csv")
    assert table["force"].tolist() == ["Force A Police", "Force B Police"]
    assert table["incidents"].tolist() == [72, 28]


def test_read_files_is_read_file_of_each_and_combines_twice(forces_with_straggler, tmp_path):
    """ingest.read_files (what read_by_force reads with) gives read_file's files, side by side;
    they combine to read_incidents' incidents, and combine again the same (their text kept)."""
    from hotspots.ingest import combine_files, list_sources, read_file, read_files

    items = list_sources(forces_with_straggler)
    together = _quiet(read_files, items)
    alone = [_quiet(read_file, name, load) for name, load in items]
    assert [f.info.name for f in together] == [f.info.name for f in alone]
    first = _quiet(combine_files, together, crime_types="all")
    _same_incidents(first, _quiet(combine_files, alone, crime_types="all"))
    _same_incidents(first, _quiet(combine_files, together, crime_types="all"))
    read = _quiet(workflows.read_inputs, forces_with_straggler, crime_types="all")
    pd.testing.assert_frame_equal(first.frame, read.frame, check_exact=True)
    # bytes as well as loaders
    name, load = items[0]
    assert _quiet(read_files, [(name, load())])[0].info.sha256 == alone[0].info.sha256
