"""The synthetic national generator: police.uk's layout, 43 forces, 12 months, seeded."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hotspots.synthetic import CRIME_TYPE_SHARES, FORCES, national_frames, write_national

#: police.uk street-level columns, in order (as in every street file police.uk publishes).
POLICE_UK_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("national")
    write_national(out, rows=30_000, seed=7)
    return out


def test_43_forces_with_their_approximate_areas():
    assert len(FORCES) == 43 == len({f.slug for f in FORCES}) == len({f.name for f in FORCES})
    assert sum(f.share for f in FORCES) == pytest.approx(1.0)
    met = next(f for f in FORCES if f.slug == "metropolitan")
    assert met.share == max(f.share for f in FORCES)
    assert {f.slug for f in FORCES if f.wales} == {
        "dyfed-powys",
        "gwent",
        "north-wales",
        "south-wales",
    }
    # every centroid in England and Wales
    for f in FORCES:
        assert -5.8 < f.lon < 1.8 and 49.9 < f.lat < 55.9, f


def test_files_are_police_uk_street_files_per_force_and_month(folder):
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 43 * 12
    expected = {f"2024-{m:02d}-{f.slug}-street.csv" for f in FORCES for m in range(1, 13)}
    assert set(files) == expected
    total = 0
    for path in folder.iterdir():
        text = path.read_text("utf-8")
        header, *lines = text.splitlines()
        assert header == POLICE_UK_HEADER
        month = re.match(r"(\d{4}-\d{2})-", path.name).group(1)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert (frame["Month"] == month).all()
        assert (frame["Falls within"] == "Synthetic Constabulary").all()
        assert frame["Reported by"].str.endswith(" (synthetic)").all()
        total += len(lines)
    assert total == 30_000  # every row asked for, split between forces and months


def test_rows_look_like_police_uk_rows():
    frames = [f for _, f in national_frames(rows=60_000, months=3, seed=3)]
    frame = pd.concat(frames, ignore_index=True)
    assert len(frame) == 60_000
    asb = frame["Crime type"] == "Anti-social behaviour"
    assert (frame.loc[asb, "Crime ID"] == "").all()
    assert (frame.loc[asb, "Last outcome category"] == "").all()
    assert frame.loc[~asb, "Crime ID"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert frame.loc[~asb, "Crime ID"].is_unique
    # every one of police.uk's 14 crime types, in its share (+-1 percentage point at 60k rows)
    shares = frame["Crime type"].value_counts(normalize=True)
    assert set(shares.index) == set(CRIME_TYPE_SHARES)
    for kind, share in CRIME_TYPE_SHARES.items():
        assert abs(shares[kind] - share) < 0.01, kind
    # about 1.2 % without a location, said as police.uk says it
    lost = frame["Longitude"] == ""
    assert 0.008 < lost.mean() < 0.016
    assert (frame.loc[lost, "Location"] == "No Location").all()
    assert (frame.loc[lost, "Latitude"] == "").all()
    assert frame.loc[~lost, "Location"].str.startswith("On or near ").all()
    # snapped: incidents share a finite set of map points (6 decimals, as police.uk writes them)
    points = frame.loc[~lost, ["Longitude", "Latitude"]]
    assert points["Longitude"].str.fullmatch(r"-?\d+\.\d{6}").all()
    assert len(points.drop_duplicates()) < 0.6 * len(points)
    # Welsh forces' LSOAs start W01, English ones E01
    welsh = frame["Reported by"].str.startswith(("Gwent", "South Wales", "North Wales", "Dyfed"))
    codes = frame.loc[~lost, "LSOA code"]
    assert codes[welsh[~lost]].str.startswith("W01").all()
    assert codes[~welsh[~lost]].str.startswith("E01").all()


def test_each_force_keeps_to_its_area():
    for name, frame in national_frames(rows=43_000, months=1, seed=5):
        force = next(f for f in FORCES if f"-{f.slug}-street" in name)
        located = frame[frame["Longitude"] != ""]
        lon = located["Longitude"].astype(float).to_numpy()
        lat = located["Latitude"].astype(float).to_numpy()
        dx = (lon - force.lon) * 111.32 * np.cos(np.radians(force.lat))
        dy = (lat - force.lat) * 111.32
        # towns within 0.85 of the radius, points spread at most a third of it beyond
        far = np.hypot(dx, dy) > force.radius_km * 1.2 + 3
        assert far.mean() < 0.02, (force.name, far.mean())


def test_seeded_and_chosen_forces():
    a = dict(national_frames(rows=5000, months=2, seed=11, forces=["merseyside"]))
    b = dict(national_frames(rows=5000, months=2, seed=11, forces=["Merseyside Police"]))
    c = dict(national_frames(rows=5000, months=2, seed=12, forces=["merseyside"]))
    assert list(a) == ["2024-01-merseyside-street.csv", "2024-02-merseyside-street.csv"]
    assert all(a[k].equals(b[k]) for k in a)
    assert not a["2024-01-merseyside-street.csv"].equals(c["2024-01-merseyside-street.csv"])
    assert sum(len(f) for f in a.values()) == 5000
    with pytest.raises(ValueError, match="43 forces"):
        next(national_frames(rows=10, forces=["Atlantis Police"]))
    with pytest.raises(ValueError, match="months"):
        next(national_frames(rows=10, months=13))


def test_read_back_every_row_accounted_and_labelled_synthetic(folder):
    from hotspots.ingest import read_incidents

    inc = read_incidents(folder, crime_types="all")
    rep = inc.report
    assert rep.n_read == 30_000
    assert rep.n_used + rep.n_rejected == 30_000
    assert set(rep.reason_counts()) <= {"missing coordinates", "spatial outlier"}
    assert rep.synthetic
    assert len(rep.files) == 516
    assert inc.months.size == 12


def test_hotspots_demo_national_writes_the_files(tmp_path, capsys):
    from hotspots import cli

    assert cli.main(["demo", "--national", str(tmp_path / "uk"), "--rows", "2000"]) == 0
    assert len(list((tmp_path / "uk").glob("*-street.csv"))) == 516
    said = capsys.readouterr().out
    assert "516" in said and "43 forces" in said and "2,000 rows" in said
    assert "SYNTHETIC" in said
