"""Tests for the synthetic demo generator."""

from __future__ import annotations

import hashlib

import numpy as np

from hotspots.demo import DEMO_SEED, generate_demo, write_demo


def test_seeded_and_reproducible(tmp_path):
    a = write_demo(tmp_path / "a.csv")
    b = write_demo(tmp_path / "b.csv")
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()
    c = write_demo(tmp_path / "c.csv", seed=DEMO_SEED + 1)
    assert a.read_bytes() != c.read_bytes()


def test_shape_of_the_demo():
    table, truth = generate_demo()
    assert list(table.columns[:12]) == [
        "Crime ID",
        "Month",
        "Reported by",
        "Falls within",
        "Longitude",
        "Latitude",
        "Location",
        "LSOA code",
        "LSOA name",
        "Crime type",
        "Last outcome category",
        "Context",
    ]
    assert {"Date", "Time"} <= set(table.columns)
    assert (table["Reported by"] == "Synthetic Constabulary").all()
    assert len(truth.spots) == 8 and truth.centres.shape == (8, 2)
    assert sum(truth.dirty_rows.values()) == 9
    # stacked map points, as police.uk: most located rows share their point with another row
    located = table[table["Longitude"] != ""]
    shared = located.duplicated(["Longitude", "Latitude"], keep=False).mean()
    assert shared > 0.6
    # the emerging spot only appears in the last four months
    emerging = table[table["Location"] == "On or near New bar quarter"]
    assert set(emerging["Month"]) == {"2025-09", "2025-10", "2025-11", "2025-12"}
    # time of day peaks at night at the nightclub strip
    night = table[table["Location"] == "On or near Nightclub strip"]["Time"].str[:2].astype(int)
    assert np.isin(night, [21, 22, 23, 0, 1, 2, 3]).mean() > 0.8
