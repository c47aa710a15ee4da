"""The app's section modules, and the library fingerprints its caches key on.

- Importing a section module (``hotspots_app.*``) runs nothing: no Streamlit call, no output.
- ``hotspots`` never imports Streamlit.
- ``Incidents.fingerprint`` and ``HotspotResult.fingerprint`` are stable content hashes: equal for
  equal content (in another process too), different when a row, the study area or a parameter
  differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import shapely

from hotspots import Incidents
from hotspots.detect import detect

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = sorted(
    f"hotspots_app.{p.stem}"
    for p in (ROOT / "hotspots_app").glob("*.py")
    if not p.stem.startswith("__")  # __main__ is a main script: running it is its job
)

_IMPORT_ALL = """
import importlib, json, sys
import streamlit.delta_generator as dg
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

calls = []
original = dg.DeltaGenerator._enqueue
def spy(self, *args, **kwargs):
    calls.append(repr(args)[:80])
    return original(self, *args, **kwargs)
dg.DeltaGenerator._enqueue = spy

assert get_script_run_ctx(suppress_warning=True) is None  # no script run: bare Python
names = json.loads(sys.argv[1])
for name in names:
    importlib.import_module(name)
assert "hotspots_app.app" not in sys.modules
sys.stderr.flush()
sys.__stdout__.write("RESULT " + json.dumps({"calls": calls, "modules": names}))
"""


def test_section_modules_are_the_ones_documented():
    assert SECTIONS == [
        "hotspots_app.assess",
        "hotspots_app.cards",
        "hotspots_app.change",
        "hotspots_app.common",
        "hotspots_app.data",
        "hotspots_app.detail",
        "hotspots_app.detection",
        "hotspots_app.downloads",
        "hotspots_app.holdout",
        "hotspots_app.map",
        "hotspots_app.page",
        "hotspots_app.plan",
        "hotspots_app.status",
        "hotspots_app.tasking",
        "hotspots_app.tracking",
    ]
    doc = (ROOT / "hotspots_app" / "__init__.py").read_text("utf-8")
    for name in SECTIONS:
        assert f"``{name.split('.')[1]}``" in doc, name


def test_importing_the_sections_runs_nothing():
    """A fresh interpreter, no script run: importing every section makes no Streamlit call."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, json.dumps(SECTIONS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    # No Streamlit call (each would log "missing ScriptRunContext" in bare Python), no output.
    assert r.stderr == ""
    assert r.stdout.startswith("RESULT ")
    out = json.loads(r.stdout.removeprefix("RESULT "))
    assert out == {"calls": [], "modules": SECTIONS}


def test_the_library_never_imports_streamlit():
    code = (
        "import importlib, pkgutil, sys, hotspots\n"
        "for m in pkgutil.iter_modules(hotspots.__path__):\n"
        "    importlib.import_module('hotspots.' + m.name)\n"
        "print(sorted(n for n in sys.modules\n"
        "             if n.split('.')[0] in ('streamlit', 'streamlit_folium')))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert r.stdout.strip() == "[]"


# ------------------------------------------------------------------------- fingerprints
def _incidents(shift: float = 0.0, study_area=None) -> Incidents:
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 60)] + 400000
    y = np.r_[rng.uniform(0, 5000, 300), rng.normal(2500, 20, 60)] + 300000
    x[0] += shift
    return Incidents.from_xy(x, y, study_area=study_area, month="2024-01-01")


def test_incidents_fingerprint_follows_the_content():
    a, b = _incidents(), _incidents()
    assert a is not b
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 32 and int(a.fingerprint, 16) >= 0
    assert _incidents(shift=0.001).fingerprint != a.fingerprint  # one coordinate, 1 mm
    box = shapely.box(399000, 299000, 406000, 306000)
    assert _incidents(study_area=box).fingerprint != a.fingerprint
    # All rows again are the same incidents; one row fewer are not.
    keep = np.ones(len(a), dtype=bool)
    assert a.subset(keep).fingerprint == a.fingerprint
    keep[5] = False
    assert a.subset(keep).fingerprint != a.fingerprint


def test_incidents_fingerprint_is_the_same_in_another_process():
    code = (
        "import sys; sys.path.insert(0, 'tests'); from test_app_modules import _incidents; "
        "print(_incidents().fingerprint)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert r.stdout.strip() == _incidents().fingerprint


def test_result_fingerprint_follows_incidents_and_parameters():
    inc = _incidents()
    r1 = detect(inc, "dbscan")
    r2 = detect(_incidents(), "dbscan")
    assert r1.params["generated_at"] is not None  # the creation time is recorded ...
    assert r1.fingerprint == r2.fingerprint  # ... but is not part of the fingerprint
    assert detect(inc, "dbscan", eps=30.0).fingerprint != r1.fingerprint
    assert detect(inc, "dbscan", order="count").fingerprint != r1.fingerprint
    assert detect(inc, "kde").fingerprint != r1.fingerprint
    assert detect(_incidents(shift=0.001), "dbscan").fingerprint != r1.fingerprint
