"""National scale (issue 9): ``detect`` KDE and Gi* and ``classify`` against the pandas read.

The issue's national workload is real police.uk data: 42 forces over 11 months (444 files,
4.0 million rows, 1.5 million violence). Those files are not in the repository, so this writes
the synthetic stand-in, :func:`hotspots.synthetic.write_national` with 4,000,000 rows over 11
months (all 43 forces' areas, police.uk's columns, snapping to map points and crime-type
shares: 43 x 11 = 473 files), to a temporary folder, and measures on it, each step in a fresh
Python process timed after its imports, against the pandas read of the same files in the same
run:

* ``pandas_read``: ``pd.concat([pd.read_csv(f) for f in files])``, the yardstick, measured
  first and again last, in fresh processes, and the faster of the two kept (the harder bar for
  us): measured once, straight after the files were written, it took 4.0-4.5 s where later fresh
  processes took 2.7-3.3 s (session 10), which flattered every ratio;
* ``read``: :func:`hotspots.ingest.read_incidents` (default crime types: violence, robbery,
  weapons), for the split of the steps below;
* ``kde``: ``read_incidents`` + ``workflows.detect_hotspots(incidents, "kde")``, what
  ``hotspots detect`` and the app run (detect and rank, then flag places a patrol cannot address
  and weigh proactive offences; target: <= 3x the pandas read, <= 3 GB peak resident memory);
  After the timed step it also writes every hot spot as GeoJSON (``workflows.hotspot_bytes``:
  WGS84, RFC 7946 orientation, the run record per feature) against geopandas'
  ``to_file(driver="GeoJSON")`` of the same table (GDAL's writer, no record):
  ``ratio_gpd_geojson`` is geopandas' CPU time over ours;
* ``cli_detect``: ``hotspots detect FILES -o h.geojson`` in the process, all a user waits for:
  the ``kde`` row's work, plus the second detection without proactive offences that the command
  line runs to say how many hot spots they change, and the output written (no target of its own);
* ``gistar``: the same with ``"gistar"`` (target <= 5x, <= 4 GB);
* ``classify``: ``read_incidents`` + :func:`hotspots.workflows.classify_over_time` (emerging
  hot spots over the 11 months; target <= 5x, <= 4 GB);
* ``profile``: ``hotspots profile FILES --no-pdf`` (the national problem profile, force by force:
  read, each force read on its own, detection, change over time, the hold-out evaluation, the
  HTML report) on :data:`PROFILE_FORCES`' files with police.uk's "Falls within" set to each
  force (the synthetic files name one force, "Synthetic Constabulary", for all; police.uk's name
  each file's own). A subset, so the row stays within the bench's time: the whole country takes
  several minutes (benchmarks/README.md, session 7). CPU includes the worker processes
  (``--jobs``: one per CPU).

Each row gives wall and CPU seconds (user + system of all threads, ``time.process_time``), peak
resident memory (``ru_maxrss``) and the load average around the step: on a shared machine wall
times grow with the load, CPU times much less. ``--quick`` runs the same steps on 200,000 rows.

Usage: ``python -m benchmarks --only national [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_ingest import other_pandas

_ROOT = Path(__file__).resolve().parents[1]
ROWS, QUICK_ROWS, MONTHS = 4_000_000, 200_000, 11

#: Forces of the problem profile row: a big, two middling and a small force (about 18 % of the
#: rows, 43 % of the violence of these four in the largest).
PROFILE_FORCES = ("west-midlands", "merseyside", "dorset", "city-of-london")

#: Issue 9's targets: (x the pandas read, peak resident memory in MB).
TARGETS = {"kde": (3.0, 3072.0), "gistar": (5.0, 4096.0), "classify": (5.0, 4096.0)}
STEPS = ("read", "kde", "cli_detect", "gistar", "classify")
LABELS = {
    "read": "read_incidents",
    "kde": "read + detect kde",
    "cli_detect": "hotspots detect FILES (CLI: + the proactive comparison, GeoJSON written)",
    "gistar": "read + detect gistar",
    "classify": "read + classify (emerging)",
    "profile": "hotspots profile",
}

# What each child process does, after its imports; argv: the JSON list of files, the step.
_CHILD = """
import json, os, resource, sys, time
files = json.loads(sys.argv[1])
step = sys.argv[2]
if step == "pandas_read":
    import pandas as pd
else:  # every module the step uses, so no import is timed
    import hotspots.emerging, hotspots.gistar, hotspots.kde, hotspots.places  # noqa: F401
    import hotspots.evaluate, hotspots.forecast, hotspots.problem, hotspots.profile  # noqa: F401
    from hotspots import workflows
    from hotspots.cli import main
    from hotspots.ingest import read_incidents
load0 = os.getloadavg()[0]
t0, c0 = time.perf_counter(), time.process_time()
extra = {}
if step == "pandas_read":
    n = len(pd.concat([pd.read_csv(f) for f in files], ignore_index=True))
elif step == "cli_detect":  # what a user types: read, detect, compare, write GeoJSON
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        assert main(["--quiet", "detect", *files, "-o", os.path.join(out, "h.geojson")]) == 0
    n = -1
elif step == "profile":  # the command line, in this process; its workers' CPU added below
    import tempfile
    from joblib.externals.loky import get_reusable_executor
    with tempfile.TemporaryDirectory() as out:
        assert main(["--quiet", "profile", *files, "--out-dir", out, "--no-pdf"]) == 0
        table = open(os.path.join(out, "problem_profile_forces.csv")).read().splitlines()
    get_reusable_executor().shutdown(wait=True)  # the workers end: their CPU is counted
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    extra["workers_cpu_s"] = kids.ru_utime + kids.ru_stime
    extra["worker_rss_mb"] = kids.ru_maxrss / 1024
    extra["forces"] = len(table) - 1
    n = -1
else:
    inc = read_incidents(files)
    n = len(inc)
    extra["read_s"] = time.perf_counter() - t0
    extra["read_cpu_s"] = time.process_time() - c0
    if step == "classify":
        res = workflows.classify_over_time(inc)
        extra["classified_cells"] = sum(res.params["category_counts"].values())
        extra["periods"] = res.params["n_periods"]
    elif step != "read":
        # what `hotspots detect` and the app run: detect, rank, flag places, proactive note
        result = workflows.detect_hotspots(inc, step)
        extra["hotspots"] = len(result.hotspots)
cpu = time.process_time() - c0 + extra.get("workers_cpu_s", 0.0)
wall = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
load1 = os.getloadavg()[0]
if step == "kde":  # after the timed step: every hot spot as GeoJSON, ours against geopandas'
    import io
    t1, c1 = time.perf_counter(), time.process_time()
    extra["geojson_mb"] = len(workflows.hotspot_bytes(result, "geojson")) / 1e6
    extra["geojson_s"] = time.perf_counter() - t1
    extra["geojson_cpu_s"] = time.process_time() - c1
    # geopandas' own writer (pyogrio, GDAL's GeoJSON driver) on the same table, no record
    table = result.hotspots.drop(columns=["monthly_counts"], errors="ignore")
    t1, c1 = time.perf_counter(), time.process_time()
    table.to_crs(4326).to_file(io.BytesIO(), driver="GeoJSON", engine="pyogrio")
    extra["gpd_geojson_s"] = time.perf_counter() - t1
    extra["gpd_geojson_cpu_s"] = time.process_time() - c1
if step == "pandas_read":
    extra["pandas"] = pd.__version__
print(json.dumps({"s": wall, "cpu_s": cpu, "n": n, "rss_mb": rss,
                  "load": [load0, load1], **extra}))
"""


def _measure(step: str, files: list[Path], python: str = sys.executable) -> dict:
    """One fresh process of ``python`` running ``step`` on ``files``: its figures as a dict."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
    out = subprocess.run(
        [python, "-c", _CHILD, json.dumps([str(f) for f in files]), step],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(label: str, ours: dict, base: dict, target: tuple[float, float] | None) -> dict:
    from benchmarks.bench_ingest import versus_pandas_read

    row = {
        "case": label,
        **versus_pandas_read(ours, base),
        "load": f"{ours['load'][0]:.1f}-{ours['load'][1]:.1f}",
    }
    for key in ("read_s", "read_cpu_s", "hotspots", "classified_cells", "periods", "geojson_mb"):
        if key in ours:
            row[key] = ours[key]
    if "geojson_s" in ours:  # every hot spot exported, against geopandas' to_file (GDAL)
        row["geojson_s"] = f"{ours['geojson_s']:.2f} / {ours['geojson_cpu_s']:.2f} CPU"
        row["gpd_to_file_s"] = f"{ours['gpd_geojson_s']:.2f} / {ours['gpd_geojson_cpu_s']:.2f} CPU"
        row["ratio_gpd_geojson"] = round(ours["gpd_geojson_cpu_s"] / ours["geojson_cpu_s"], 2)
    if target is not None:
        row["target"] = f"<= {target[0]:g}x, <= {target[1] / 1024:g} GB"
        row["met"] = ours["s"] / base["s"] <= target[0] and ours["rss_mb"] <= target[1]
    return row


def run(quick: bool = False) -> list[dict]:
    from hotspots.synthetic import write_national

    rows = QUICK_ROWS if quick else ROWS
    out: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        files = write_national(Path(tmp), rows=rows, months=MONTHS)
        os.sync()  # the files on disk before anything is timed
        base = _measure("pandas_read", files)
        first_base = base
        label = f"national synthetic: {base['n']:,} rows, {len(files)} files, {MONTHS} months"
        out.append(
            {
                "case": f"{label}: pandas read",
                "ours_s": base["s"],
                "ours_cpu_s": base["cpu_s"],
                "ours_rss_mb": base["rss_mb"],
                "load": f"{base['load'][0]:.1f}-{base['load'][1]:.1f}",
                "cpus": os.cpu_count(),
            }
        )
        measured = {step: _measure(step, files) for step in STEPS}
        last_base = _measure("pandas_read", files)
        base = min(first_base, last_base, key=lambda r: r["s"])
        out[0].update(
            ours_s=base["s"],
            ours_cpu_s=base["cpu_s"],
            pandas_read_first_last_s=f"{first_base['s']:.2f} / {last_base['s']:.2f}",
        )
        for step in STEPS:
            ours = measured[step]
            row = _row(f"{label}: {LABELS[step]}", ours, base, TARGETS.get(step))
            if step == "read":
                row["violent_rows"] = ours["n"]
                row["violent_share"] = ours["n"] / base["n"]
            out.append(row)
        for python in other_pandas():  # the same runs against another pandas' read
            other = _measure("pandas_read", files, python=python)
            for step in ("kde", "gistar", "classify"):
                label_step = f"{label}: {LABELS[step]} (pandas {other['pandas']})"
                out.append(_row(label_step, measured[step], other, TARGETS.get(step)))
        forces = _by_force(files, Path(tmp) / "forces")
        ours = _measure("profile", forces)
        out.append(  # a part of the files: no ratio to the whole read
            {
                "case": f"national synthetic, {len(PROFILE_FORCES)} forces "
                f"({', '.join(PROFILE_FORCES)}): {len(forces)} files, {LABELS['profile']} "
                "(--jobs: one per CPU)",
                "ours_s": ours["s"],
                "ours_cpu_s": ours["cpu_s"],
                "workers_cpu_s": ours["workers_cpu_s"],
                "ours_rss_mb": ours["rss_mb"],
                "worker_rss_mb": ours["worker_rss_mb"],
                "forces": ours["forces"],
                "load": f"{ours['load'][0]:.1f}-{ours['load'][1]:.1f}",
            }
        )
    return out


def _by_force(files: list[Path], folder: Path) -> list[Path]:
    """Copies of :data:`PROFILE_FORCES`' files with "Falls within" set to each file's force (its
    "Reported by"), as police.uk writes them, so the profile has one section per force."""
    folder.mkdir()
    written = []
    for f in files:
        if not any(f.name.endswith(f"-{slug}-street.csv") for slug in PROFILE_FORCES):
            continue
        text = f.read_text(encoding="utf-8")
        force = text.split("\n", 2)[1].split(",")[2]  # "Reported by" of the first row
        (folder / f.name).write_text(
            text.replace(",Synthetic Constabulary,", f",{force},"), encoding="utf-8"
        )
        written.append(folder / f.name)
    return written


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    for r in run(p.parse_args().quick):
        print(r)
