"""Shared fixtures: the real data folder (../shared/data, optional) and the demo data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real incident data, or skip when it is absent (e.g. outside this project)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_csv(tmp_path_factory) -> Path:
    """The synthetic demo CSV, generated afresh into a temporary folder."""
    from hotspots.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo") / "demo_incidents.csv")
