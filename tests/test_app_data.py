"""The app's data source: each upload read once, server folders, progress (AppTest, no browser)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hotspots import workflows
from hotspots.progress import STEPS
from hotspots_app.status import STEP_LABELS, StatusProgress, step_label

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _police_uk(n: int, seed: int, months: tuple[int, ...] = (1, 2, 3, 4, 5, 6)) -> bytes:
    """police.uk rows around a Liverpool street, violence and burglary, over ``months``."""
    rng = np.random.default_rng(seed)
    k = n // 2
    lat = np.r_[rng.normal(53.4046, 0.0004, k), rng.uniform(53.38, 53.43, n - k)]
    lon = np.r_[rng.normal(-2.9800, 0.0006, k), rng.uniform(-3.01, -2.93, n - k)]
    frame = pd.DataFrame(
        {
            "Crime ID": [f"{seed:08x}{i:056x}" for i in range(1, n + 1)],
            "Month": [f"2024-{months[i % len(months)]:02d}" for i in range(n)],
            "Reported by": "Merseyside Police",
            "Falls within": "Merseyside Police",
            "Longitude": lon.round(6),
            "Latitude": lat.round(6),
            "Location": "On or near Bold Street",
            "LSOA code": "E01006512",
            "LSOA name": "Liverpool 060A",
            "Crime type": np.where(
                np.arange(n) % 4 == 3, "Burglary", "Violence and sexual offences"
            ),
            "Last outcome category": "",
            "Context": "",
        }
    )
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def _metric(at: AppTest, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def _open(at: AppTest, tab: str) -> AppTest:
    at.session_state["tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def counted(monkeypatch):
    """Count ``read_inputs`` calls per first source name (the app imports it at call time)."""
    calls: list[str] = []
    real = workflows.read_inputs

    def counting(sources, **kwargs):
        first = sources if isinstance(sources, str) else sources[0][0]
        calls.append(str(first))
        return real(sources, **kwargs)

    monkeypatch.setattr(workflows, "read_inputs", counting)
    return calls


def test_an_upload_is_read_once_and_filtered_from_memory(counted):
    at = AppTest.from_file(APP, default_timeout=120).run()
    name = "read_once_7c1.csv"  # a name (and bytes) no other test uploads: caches are shared
    at.sidebar.file_uploader(key="uploads").set_value((name, _police_uk(800, 71), "text/csv"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _open(at, "Data and report")
    assert _metric(at, "Rows read") == 800
    assert _metric(at, "Rows used") == 600  # the default keeps violence: 3 rows in 4
    assert counted.count(name) == 1
    # Filters: crime types, then dates. Each changes the rows used, none reads the file again.
    at.sidebar.multiselect(key="crime_types").set_value(["Burglary"])
    at.button(key="filters_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _metric(at, "Rows used") == 200
    at.sidebar.multiselect(key="crime_types").set_value(
        ["Burglary", "Violence and sexual offences"]
    )
    dates = next(w for w in at.sidebar.date_input if w.label == "Date range")
    dates.set_value((pd.Timestamp("2024-01-01").date(),
                                                  pd.Timestamp("2024-03-31").date()))  # fmt: skip
    at.button(key="filters_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # row i is in month 1 + i % 6: months 1-3 hold 133 x 3 rows of the first 798, and rows
    # 798 and 799 (months 1 and 2): 401; every crime type is kept
    assert _metric(at, "Rows used") == 401
    assert _metric(at, "Rows read") == 800
    assert counted.count(name) == 1
    # Another tab and back: still one read.
    _open(at, "Map")
    _open(at, "Data and report")
    assert counted.count(name) == 1


def test_police_uk_download_zip_uploads_as_its_street_files():
    # police.uk's download as it comes: month folders with street and outcomes files
    import zipfile

    street = {1: _police_uk(300, 91, (1,)), 2: _police_uk(500, 92, (2,))}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for m, data in street.items():
            z.writestr(f"2024-0{m}/2024-0{m}-merseyside-street.csv", data)
            z.writestr(f"2024-0{m}/2024-0{m}-merseyside-outcomes.csv", data)  # not incidents
    at = AppTest.from_file(APP, default_timeout=120).run()
    name = "download_4e2.zip"  # a name no other test uploads: caches are shared
    at.sidebar.file_uploader(key="uploads").set_value((name, buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _open(at, "Data and report")
    assert _metric(at, "Rows read") == 800  # the street files only: 300 + 500
    assert _metric(at, "Rows used") == 600
    notes = [str(t.value) for t in at.text]
    assert f"• {name}/2024-01/2024-01-merseyside-outcomes.csv was not read" in " ".join(notes)


def test_server_folder_is_opened_and_said(tmp_path, monkeypatch, counted):
    folder = tmp_path / "national"
    folder.mkdir()
    (folder / "2024-01-merseyside-street.csv").write_bytes(_police_uk(300, 81, (1,)))
    (folder / "2024-02-merseyside-street.csv").write_bytes(_police_uk(500, 82, (2,)))
    (folder / "notes.txt").write_text("not data")
    monkeypatch.setenv("HOTSPOTS_DATA", str(folder))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not any("synthetic demo data" in w.value for w in at.warning)
    opened = [s.value for s in at.sidebar.success]
    assert len(opened) == 1
    text = opened[0].replace("\\", "")
    assert str(folder.resolve()) in text
    assert "2 file(s), 800 rows read, 800 usable" in text  # valid rows, before the filters
    assert counted.count(str(folder.resolve())) == 1
    _open(at, "Data and report")
    assert _metric(at, "Rows read") == 800
    assert _metric(at, "Rows used") == 600  # the default filter keeps violence: 225 + 375
    assert counted.count(str(folder.resolve())) == 1


def test_server_parquet_dataset_is_opened_with_its_row_accounting(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "dataset"
    for month, seed in ((1, 91), (2, 92)):
        frame = pd.read_csv(io.BytesIO(_police_uk(400, seed, (month,))), dtype=str)
        frame.loc[:4, ["Longitude", "Latitude"]] = None  # 5 rows without coordinates a month
        (root / f"month={month:02d}").mkdir(parents=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False),
            root / f"month={month:02d}" / "part-0.parquet",
        )
    monkeypatch.setenv("HOTSPOTS_DATA", str(root))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    text = at.sidebar.success[0].value.replace("\\", "")
    assert "2 file(s), 800 rows read, 790 usable" in text
    _open(at, "Data and report")
    assert _metric(at, "Rows read") == 800
    assert _metric(at, "Rejected (invalid rows)") == 10


def test_a_missing_server_folder_is_one_readable_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTSPOTS_DATA", str(tmp_path / "nowhere"))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "HOTSPOTS_DATA" in at.error[0].value.replace("\\", "")


# ---------------------------------------------------------------------------- progress
def test_step_labels_count_files_from_one():
    assert step_label("reading files", 0, 444) == "Reading file 1 of 444"
    assert step_label("reading files", 36, 444) == "Reading file 37 of 444"
    assert step_label("reading files", 444, 444) == "Reading file 444 of 444"
    assert step_label("reading files", 3, None) == "Reading file 4"
    assert step_label("detecting", 0, 1) == "Finding hot spots"
    assert step_label("profiling forces", 11, 43) == "Profiling force 12 of 43"
    assert set(STEP_LABELS) == set(STEPS)  # every step the library reports has its words


def test_status_progress_records_the_library_steps_without_drawing_outside_a_page(demo_csv):
    # Outside a running page Streamlit calls do nothing; the callback still sees every step.
    progress = StatusProgress("Reading")
    workflows.read_inputs([str(demo_csv), str(demo_csv)], crime_types="all", progress=progress)
    steps = [s for s, _, _ in progress.steps]
    assert steps[0] == "reading files"
    assert ("reading files", 2, 2) in progress.steps
    assert steps[-1] == "validating"


# ---------------------------------------------------------------------------- launching
def test_hotspots_app_data_sets_the_environment_for_the_app(tmp_path, monkeypatch):
    from hotspots import InputError, cli, launch

    monkeypatch.delenv("HOTSPOTS_DATA", raising=False)
    env = launch.data_environment(tmp_path)
    assert env["HOTSPOTS_DATA"] == str(tmp_path.resolve())
    assert "HOTSPOTS_DATA" not in launch.data_environment(None)
    with pytest.raises(InputError, match="does not exist"):
        launch.data_environment(tmp_path / "missing")
    seen = {}

    def fake_run_app(script=None, port=None, data=None):
        seen.update(script=script, port=port, data=data)
        return 0

    monkeypatch.setattr(launch, "run_app", fake_run_app)
    assert cli.main(["app", "--data", str(tmp_path), "--port", "8765"]) == 0
    assert seen == {"script": None, "port": 8765, "data": str(tmp_path)}
