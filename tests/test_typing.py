"""The library type-checks: ``hotspots`` ships ``py.typed``, so its annotations are a promise.

mypy runs with the ``[tool.mypy]`` configuration in pyproject.toml (files, strictness, the
third-party packages without types). Its cache (``.mypy_cache``) makes a re-run take a second.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean_on_hotspots():
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, "mypy found errors:\n" + r.stdout + r.stderr
