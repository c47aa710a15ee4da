"""Progress of long work: the library's reports and the command line's bars on stderr."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from hotspots import cli, workflows
from hotspots.progress import (
    AREAS,
    DETECTING,
    PLANNING,
    RANKING,
    READING,
    VALIDATING,
    WRITING,
    no_progress,
    progress_step,
)

REPO = Path(__file__).resolve().parents[1]


class Recorder:
    """A progress callback that keeps every report."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, step: str, done: int, total: int | None) -> None:
        self.calls.append((step, done, total))

    def take(self) -> list[tuple[str, int, int | None]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture(scope="module")
def three_files(demo_csv, tmp_path_factory) -> list[Path]:
    """The demo rows split into three files (header repeated), 1/3 of the rows in each."""
    header, *rows = demo_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    folder = tmp_path_factory.mktemp("three")
    n = len(rows)
    cuts = [0, n // 3, 2 * n // 3, n]
    paths = []
    for i in range(3):
        path = folder / f"part{i + 1}.csv"
        path.write_text(header + "".join(rows[cuts[i] : cuts[i + 1]]), encoding="utf-8")
        paths.append(path)
    return paths


def test_progress_step_reports_start_each_unit_and_end():
    rec = Recorder()
    with progress_step(rec, READING, 3) as advance:
        advance()
        advance(2)
    assert rec.take() == [(READING, 0, 3), (READING, 1, 3), (READING, 3, 3)]
    with progress_step(rec, DETECTING):  # a one-unit step not advanced is reported done on exit
        pass
    assert rec.take() == [(DETECTING, 0, 1), (DETECTING, 1, 1)]
    with progress_step(rec, WRITING, None) as advance:  # unknown total: no made-up end
        advance()
    assert rec.take() == [(WRITING, 0, None), (WRITING, 1, None)]
    with pytest.raises(ValueError, match="boom"), progress_step(rec, RANKING):
        raise ValueError("boom")
    assert rec.take() == [(RANKING, 0, 1)]  # a failed step is not reported done
    with progress_step(None, RANKING) as advance:  # None: nothing to call, no error
        advance()
    assert no_progress("x", 1, 2) is None


def test_library_reports_every_step_in_order(three_files, tmp_path):
    rec = Recorder()
    incidents = workflows.read_inputs(three_files, crime_types="all", progress=rec)
    assert len(incidents.report.files) == 3
    assert rec.take() == [
        (READING, 0, 3),
        (READING, 1, 3),
        (READING, 2, 3),
        (READING, 3, 3),
        (VALIDATING, 0, 1),
        (VALIDATING, 1, 1),
    ]
    written = workflows.write_ingest_outputs(
        incidents.report,
        report_path=tmp_path / "r.json",
        rejected_path=tmp_path / "x.csv",
        progress=rec,
    )
    assert len(written) == 2
    assert rec.take() == [(WRITING, 0, 2), (WRITING, 1, 2), (WRITING, 2, 2)]
    assert workflows.write_ingest_outputs(incidents.report, progress=rec) == {}
    assert rec.take() == []  # nothing written, nothing reported

    result = workflows.detect_hotspots(incidents, "kde", significant_only=False, progress=rec)
    assert len(result.hotspots) > 0
    assert rec.take() == [(DETECTING, 0, 1), (DETECTING, 1, 1), (RANKING, 0, 1), (RANKING, 1, 1)]
    workflows.write_hotspots(result, tmp_path / "h.geojson", progress=rec)
    assert rec.take() == [(WRITING, 0, 1), (WRITING, 1, 1)]

    areas = workflows.patrol_areas(incidents, result.hotspots, progress=rec)
    assert rec.take() == [(AREAS, 0, 1), (AREAS, 1, 1)]
    plan = workflows.plan_patrols(incidents, result.hotspots, areas, seed=1, progress=rec)
    assert rec.take() == [(PLANNING, 0, 1), (PLANNING, 1, 1)]
    paths = workflows.write_plan(plan, tmp_path / "plan", progress=rec)
    assert len(paths) == 4
    assert rec.take() == [(WRITING, i, 4) for i in range(5)]


def test_cli_is_silent_on_stderr_when_not_a_terminal_or_quiet(
    three_files, tmp_path, capsys, monkeypatch
):
    args = ["detect", *map(str, three_files), "--out", str(tmp_path / "h.geojson")]
    assert cli.main(args) == 0  # capsys's stderr is not a terminal
    plain = capsys.readouterr()
    assert plain.err == ""
    assert "Wrote" in plain.out

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["--quiet", *args]) == 0  # a terminal, but --quiet
    assert capsys.readouterr().err == ""


def _run_with_tty_stderr(args: list[str], columns: int = 100) -> tuple[int, bytes, bytes]:
    """Run ``python -m hotspots.cli ARGS`` with stderr on a pseudo-terminal, stdout on a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotspots.cli", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = proc.communicate(timeout=600)
    reader.join(timeout=60)
    os.close(master)
    return proc.returncode, out, b"".join(chunks)


def test_cli_draws_progress_on_a_terminal_and_leaves_stdout_alone(three_files, tmp_path):
    args = ["detect", *map(str, three_files), "--out", str(tmp_path / "h.geojson")]
    code, out_tty, err_tty = _run_with_tty_stderr(args)
    assert code == 0
    for step in (READING, VALIDATING, DETECTING, RANKING, WRITING):
        assert step.encode() in err_tty
    assert b"3/3" in err_tty  # file 3 of 3
    plain = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", *args],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert plain.returncode == 0
    assert plain.stderr == b""
    assert out_tty == plain.stdout
    assert b"Wrote" in plain.stdout

    code, _, err_quiet = _run_with_tty_stderr(["--quiet", *args])
    assert code == 0 and err_quiet == b""

    # a pseudo-terminal that reports no width (tqdm would draw nothing) gets an 80-column bar
    code, out_narrow, err_narrow = _run_with_tty_stderr(args, columns=0)
    assert code == 0 and out_narrow == plain.stdout
    assert READING.encode() in err_narrow and DETECTING.encode() in err_narrow
