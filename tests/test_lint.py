"""The code base stays clean under the project's ruff configuration."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


PATHS = ["hotspots", "hotspots_app", "tests", "app.py", "benchmarks"]


def _ruff() -> str:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    return ruff


def test_ruff_format_clean():
    r = subprocess.run(
        [_ruff(), "format", "--check", *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, "run `ruff format`:\n" + r.stdout + r.stderr


def test_ruff_clean():
    r = subprocess.run(
        [_ruff(), "check", *PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
