"""The app's server time to the first map, with Streamlit's ``AppTest`` (no browser).

Cases (issue 9's app rows), each in a fresh Python process so nothing is cached, timed after
the imports:

* ``1M rows, 12 files -> first map``: the ingest benchmark's 12 monthly police.uk-shaped files
  (:func:`benchmarks.bench_ingest.write_police_uk_months`: 40 town centres around London)
  opened from the server (``HOTSPOTS_DATA``), from the first run of the page to the drawn Map
  tab: read once, filter, detect (KDE), rank, contours, the map built and handed to
  streamlit-folium.
* ``100k-row upload -> drawn map``: 12 monthly files of one force (Merseyside's area, 100,000
  rows) uploaded together after the demo page has been drawn; the rerun that reads, detects and
  draws them is timed.
* ``national 1M rows, 516 files -> first map``: the same from all 43 forces (skipped by
  ``--quick``).

``ours_s`` / ``ours_cpu_s`` end when the Map tab's map is handed to streamlit-folium's component
(its message goes to the browser while the script runs on); ``at_rest_s`` when the run is over, the
patrol plan made after the map and the page drawn again with its patrol areas layer. Then, with
detection cached, one parameter at a time is changed and the rerun timed (:data:`CHANGES`:
the basemap, the patrol areas layer switched off, another hot spot selected, the patrol
plan's days in its tab: the plan is made again, its patrol areas kept).

``pandas_read`` is ``pandas.read_csv`` of the same files and one ``concat`` in its own process,
the yardstick the ingest benchmark uses. AppTest runs the script on the server side only: the
browser's own drawing of the map (a few seconds for a 1-2 MB map) is not in these times; the
payload's size is bounded by ``tests/test_map_payload.py``.

Usage: ``python -m benchmarks --only app [--quick]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, os, resource, sys, time
from pathlib import Path
case, folder, app = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
if case == "pandas_read":
    import pandas as pd
    files = sorted(Path(folder).glob("*.csv"))
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(pd.concat([pd.read_csv(f) for f in files], ignore_index=True))
    out.update({"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0})
else:
    from streamlit.testing.v1 import AppTest
    import hotspots.clusters, hotspots.kde, hotspots.mapping, hotspots.profile  # noqa: F401
    import hotspots_app.page  # noqa: F401
    from hotspots_app import map as map_tab
    drawn = []  # (wall, CPU) when the map was handed to streamlit-folium's component
    _show_drawn = map_tab.show_drawn
    def show_drawn(*args, **kwargs):
        value = _show_drawn(*args, **kwargs)
        drawn.append((time.perf_counter(), time.process_time()))
        return value
    map_tab.show_drawn = show_drawn
    if case == "server":
        os.environ["HOTSPOTS_DATA"] = folder
        at = AppTest.from_file(app, default_timeout=1800)
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
    else:  # upload: the demo page first, then the files
        files = sorted(Path(folder).glob("*.csv"))
        at = AppTest.from_file(app, default_timeout=1800)
        at.run()
        at.sidebar.file_uploader(key="uploads").set_value(
            [(f.name, f.read_bytes(), "text/csv") for f in files]
        )
        drawn.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
    out.update({"s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0})
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    n = int(next(m.value for m in at.metric if m.label == "Hot spots").replace(",", ""))
    out["first_map_s"], out["first_map_cpu_s"] = drawn[0][0] - t0, drawn[0][1] - c0
    # One parameter changed after the first map, detection cached: each a rerun of the page.
    changes = {
        "basemap": lambda: at.sidebar.radio(key="tiles_choice").set_value("none"),
        "patrol_layer": lambda: at.toggle(key="show_patrol_areas").set_value(False),
        "selection": lambda: at.selectbox(key="selected_id").select(
            at.selectbox(key="selected_id").options[1]
        ),
    }
    def plan_days():
        at.session_state["tab"] = "Patrol plan"
        at.run()  # the plan tab, drawn with the plan already made
        at.number_input(key="plan_days").set_value(14)
        at.button(key="plan_submit").click()
    changes["plan_days"] = plan_days
    for name, change in changes.items():
        change()
        t2, c2 = time.perf_counter(), time.process_time()
        at.run()
        out[f"change_{name}_s"] = time.perf_counter() - t2
        out[f"change_{name}_cpu_s"] = time.process_time() - c2
        assert not at.exception, at.exception
out.update({"n": n, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
print(json.dumps(out))
"""


#: The parameter changes timed after the first map (the child's ``changes``).
CHANGES = {
    "basemap": "basemap changed",
    "patrol_layer": "patrol areas layer switched off",
    "selection": "another hot spot selected",
    "plan_days": "patrol plan's days changed (the Patrol plan tab)",
}


def _measure(case: str, folder: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
    env.pop("HOTSPOTS_DATA", None)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, case, str(folder), str(_ROOT / "app.py")],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows(label: str, case: str, folder: Path) -> list[dict]:
    load = os.getloadavg()[0]
    ours = _measure(case, folder)
    base = _measure("pandas_read", folder)
    rows = [
        {
            "case": label,
            "ours_s": ours["first_map_s"],
            "ours_cpu_s": ours["first_map_cpu_s"],
            "at_rest_s": ours["s"],
            "at_rest_cpu_s": ours["cpu_s"],
            "hotspots": ours["n"],
            "ours_rss_mb": ours["rss_mb"],
            "pandas_read_s": base["s"],
            "ratio_pandas_read": base["s"] / ours["first_map_s"],
            "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}",
        }
    ]
    for name, what in CHANGES.items():
        rows.append(
            {
                "case": f"{label.split(' ->')[0]}: {what} (detection cached)",
                "ours_s": ours[f"change_{name}_s"],
                "ours_cpu_s": ours[f"change_{name}_cpu_s"],
            }
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    from benchmarks.bench_ingest import write_police_uk_months
    from hotspots.synthetic import write_national

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = 100_000 if quick else 1_000_000
        towns = Path(tmp) / "towns"
        write_police_uk_months(towns, rows=big, months=12)
        rows += _rows(f"app: {big:,} rows, 12 files -> first map", "server", towns)
        upload = Path(tmp) / "merseyside"
        n_up = 20_000 if quick else 100_000
        write_national(upload, rows=n_up, forces=["merseyside"])
        rows += _rows(f"app: {n_up:,}-row upload (12 files) -> drawn map", "upload", upload)
        if not quick:
            national = Path(tmp) / "national"
            write_national(national, rows=1_000_000)
            label = "app: national 1,000,000 rows, 516 files -> first map"
            rows += _rows(label, "server", national)
    return rows


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
