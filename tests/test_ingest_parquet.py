"""Parquet input: the same rows, checks and row accounting as the same table in a CSV file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hotspots import InputError
from hotspots.ingest import folder_files, read_incidents


def _table(n: int = 400, seed: int = 2) -> pd.DataFrame:
    """police.uk rows around Liverpool with known faults: 3 without coordinates (rows 5, 6, 7),
    one latitude out of range (row 10), one exact copy of row 0 with its id (row 20)."""
    rng = np.random.default_rng(seed)
    lon = rng.normal(-2.98, 0.01, n).round(6)
    lat = rng.normal(53.40, 0.01, n).round(6)
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{i:064x}" for i in range(1, n + 1)],
            "Month": [f"2024-{1 + i % 12:02d}" for i in range(n)],
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": lon,
            "Latitude": lat,
            "Location": "On or near Bold Street",
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": np.where(np.arange(n) % 3 == 0, "Burglary", "Robbery"),
            "Last outcome category": "Under investigation",
            "Context": None,
        }
    )
    frame.loc[[5, 6, 7], ["Longitude", "Latitude"]] = np.nan
    frame.loc[10, "Latitude"] = 99.5
    frame.loc[20] = frame.loc[0]
    return frame


def _write_parquet(frame: pd.DataFrame, path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def test_parquet_reads_like_the_same_csv(tmp_path):
    frame = _table()
    _write_parquet(frame, tmp_path / "2024.parquet")
    frame.to_csv(tmp_path / "2024.csv", index=False)
    from_pq = read_incidents(tmp_path / "2024.parquet", crime_types="all")
    from_csv = read_incidents(tmp_path / "2024.csv", crime_types="all")
    rep = from_pq.report
    assert rep.n_read == 400
    assert rep.reason_counts() == {
        "missing coordinates": 3,
        "coordinates out of range": 1,
        "duplicate row": 1,
    }
    assert rep.n_used == 395
    assert rep.reason_counts() == from_csv.report.reason_counts()
    # rows numbered as the CSV's lines: row i (from 0) is line i + 2
    rejected = rep.rejected.sort_values("source_row")
    assert rejected["source_row"].tolist() == [7, 8, 9, 12, 22]
    assert rejected["source_row"].tolist() == sorted(
        from_csv.report.rejected["source_row"].tolist()
    )
    out_of_range = rejected[rejected["reason"] == "coordinates out of range"].iloc[0]
    assert "99.5" in str(out_of_range["detail"])
    a, b = from_pq.frame, from_csv.frame
    np.testing.assert_allclose(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy(), atol=1e-6)
    assert a["crime_type"].tolist() == b["crime_type"].tolist()
    assert a["month"].tolist() == b["month"].tolist()
    assert a["source_row"].tolist() == b["source_row"].tolist()
    assert rep.files[0].format == "police.uk street-level"
    assert rep.files[0].encoding == "parquet"


def test_a_partitioned_dataset_folder(tmp_path):
    frame = _table(300, seed=4).drop(index=[5, 6, 7, 10, 20]).reset_index(drop=True)
    root = tmp_path / "national"
    for part, rows in (("month=01", frame.iloc[:120]), ("month=02", frame.iloc[120:])):
        (root / part).mkdir(parents=True)
        _write_parquet(rows, root / part / "part-0.parquet")
    (root / "extra.csv").write_text(_table(30, seed=5).to_csv(index=False))
    (root / "README.txt").write_text("not data")
    names = [str(p.relative_to(root)) for p in folder_files(root)]
    assert names == ["extra.csv", "month=01/part-0.parquet", "month=02/part-0.parquet"]
    inc = read_incidents(root, crime_types="all")
    assert inc.report.n_read == 325
    assert [f.name for f in inc.report.files] == names
    assert [f.n_rows for f in inc.report.files] == [30, 120, 175]


def test_a_broken_parquet_file_is_one_readable_error(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(InputError, match="Parquet") as err:
        read_incidents(bad)
    assert "broken.parquet" in str(err.value)
