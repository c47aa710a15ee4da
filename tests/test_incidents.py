"""Tests for the Incidents container and the error types."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hotspots import Incidents, InputError
from hotspots.incidents import IngestReport


def test_from_xy_transforms_to_wgs84_and_fills_month():
    # Trafalgar Square: BNG (530009, 180453) is about (-0.12806, 51.50806)
    inc = Incidents.from_xy([530009.0], [180453.0], datetime=["2024-03-15 23:10"])
    row = inc.frame.iloc[0]
    assert row["lon"] == pytest.approx(-0.12806, abs=2e-5)
    assert row["lat"] == pytest.approx(51.50806, abs=2e-5)
    assert row["month"] == pd.Timestamp("2024-03-01")
    assert bool(row["has_time"]) is True
    assert inc.has_time
    assert inc.crs.to_epsg() == 27700


def test_months_and_subset():
    inc = Incidents.from_xy(
        np.arange(4) * 10.0,
        np.zeros(4),
        month=["2024-01-01", "2024-03-01", "2024-03-01", "2024-04-01"],
    )
    assert list(inc.months.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    sub = inc.subset(inc.frame["month"] >= "2024-03-01", note="filtered")
    assert len(sub) == 3
    assert sub.report.notes[-1] == "filtered"
    assert not inc.has_time


def test_missing_columns_rejected():
    with pytest.raises(ValueError, match="lacks the columns"):
        Incidents(pd.DataFrame({"x": [1.0]}), "EPSG:27700", None)


def test_input_error_names_file_row_column_and_fix():
    err = InputError(
        "not a number", file="jan.csv", row=7, column="Latitude", hint="remove the text"
    )
    assert str(err) == "jan.csv, line 7, column 'Latitude': not a number Fix: remove the text"
    assert isinstance(err, ValueError)


def test_report_counts_and_json():
    rej = pd.DataFrame(
        {
            "source_file": ["a.csv"] * 3,
            "source_row": [2, 3, 5],
            "reason": ["missing coordinates", "missing coordinates", "null island (0,0)"],
            "column": ["Longitude"] * 3,
            "detail": [""] * 3,
        }
    )
    rep = IngestReport(n_read=10, n_used=7, rejected=rej, choices={"area": np.float64(2.5)})
    assert rep.reason_counts() == {"missing coordinates": 2, "null island (0,0)": 1}
    d = json.loads(rep.to_json())
    assert d["rows_rejected"] == 3 and d["choices"]["area"] == 2.5


def test_filter_reasons_match_the_ingest_reasons():
    from hotspots.incidents import FILTER_REASONS
    from hotspots.ingest import R_DATE_RANGE, R_POLYGON, R_TYPE

    assert set(FILTER_REASONS) == {R_TYPE, R_DATE_RANGE, R_POLYGON}
    rej = pd.DataFrame(
        {
            "source_file": ["a"] * 3,
            "source_row": [2, 3, 4],
            "reason": [R_TYPE, R_TYPE, "missing coordinates"],
            "column": "",
            "detail": "",
        }
    )
    rep = IngestReport(n_read=10, n_used=7, rejected=rej)
    assert (rep.n_filtered, rep.n_invalid) == (2, 1)
    assert rep.to_dict()["rows_filtered_out"] == 2
