"""Ten people using the app at once, each uploading a different file (issue 9's sessions row).

The real server (``hotspots app``, :mod:`hotspots.launch`, ``HOTSPOTS_TILES=none``) and
headless Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright's async API; never
``playwright install``). Each session opens the page, waits for the demo map, uploads its own
police.uk-style file (:func:`hotspots.synthetic.national_frames` of one force: 1,000 to 30,000
rows, a different force each) and waits for its map:

* ``map_s``: from the upload to a drawn map of its own data (the sidebar says its rows, a new map
  frame with Leaflet's hot spot paths, nothing stale around it);
* ``total_s``: from opening the page (the demo computed, once for all sessions of a server)
  to a drawn map of its own upload;
* ``idle_s``: from the upload to the page at rest (the patrol areas layer, placed after the first
  map, drawn too; it includes 0.5-1.5 s of waiting to be sure the page stays at rest);
* the ``Hot spots`` metric at rest, against the same file's count in a session of its own
  (``AppTest`` in another process): a session that showed another's data would differ.

First one session alone on a fresh server (the median file), then the ten at once on another
fresh server; p50 / p95 of the ten against the one alone. Wall seconds (the machine's load
average is printed beside them) and the server's CPU seconds.

Usage: ``python -m benchmarks.bench_sessions [--sessions 10] [--max-rows 30000]`` or
``python -m benchmarks --only sessions [--quick]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Headless, no sandbox (a container), no GPU, no background requests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]
FORCES = (
    "merseyside",
    "west-midlands",
    "greater-manchester",
    "west-yorkshire",
    "avon-and-somerset",
    "kent",
    "northumbria",
    "south-yorkshire",
    "thames-valley",
    "hampshire",
    "lancashire",
    "essex",
)
# The page at rest with one map frame (tests/test_browser.py's IDLE_JS).
IDLE_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  return a && a.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]')
    && document.querySelectorAll('iframe[title="streamlit_folium.st_folium"]').length === 1; }"""
# The map of this upload is drawn: the sidebar (not stale) says its rows, and a map frame other
# than the demo's (window.__demoFrame), not stale, holds Leaflet's paths.
DRAWN_JS = """(rows) => {
  const fresh = (e) => !e.closest('[data-stale="true"]');
  const sb = document.querySelector('[data-testid="stSidebar"]');
  if (!sb || ![...sb.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .some((e) => fresh(e) && e.innerText.includes(rows + ' rows read'))) return false;
  return [...document.querySelectorAll('iframe[title="streamlit_folium.st_folium"]')]
    .some((f) => { if (f === window.__demoFrame || !fresh(f)) return false;
      try { return f.contentDocument.querySelectorAll('path.leaflet-interactive').length > 0; }
      catch (e) { return false; } }); }"""
# The demo map is drawn (a person would upload now, the patrol areas may still be on their way).
DEMO_JS = """() => [...document.querySelectorAll('iframe[title="streamlit_folium.st_folium"]')]
  .some((f) => { if (f.closest('[data-stale="true"]')) return false;
    try { return f.contentDocument.querySelectorAll('path.leaflet-interactive').length > 0; }
    catch (e) { return false; } })
  && !!document.querySelector('[data-testid="stSidebar"] input[type="file"]')"""
MARK_DEMO_JS = """() => { window.__demoFrame =
  document.querySelector('iframe[title="streamlit_folium.st_folium"]'); }"""
HOTSPOTS_JS = """() => { const m = [...document.querySelectorAll('[data-testid="stMetric"]')]
  .find((e) => e.innerText.includes('Hot spots'));
  return m ? m.querySelector('[data-testid="stMetricValue"]').innerText.trim() : null; }"""

# The command line ``hotspots`` (an installed script) run by this interpreter.
_MAIN = "import sys; from hotspots.cli import main; sys.exit(main())"
_EXPECTED = """
import json, sys
from pathlib import Path
from streamlit.testing.v1 import AppTest
out = {}
for name in sys.argv[2:]:
    f = Path(name)
    at = AppTest.from_file(sys.argv[1], default_timeout=600)
    at.run()
    at.sidebar.file_uploader(key="uploads").set_value((f.name, f.read_bytes(), "text/csv"))
    at.run()
    assert not at.exception, at.exception
    out[f.name] = next(m.value for m in at.metric if m.label == "Hot spots")
print(json.dumps(out))
"""


def write_files(folder: Path, sessions: int, max_rows: int) -> list[tuple[Path, int]]:
    """One police.uk-style CSV per session, a different force and size each (1,000-max_rows)."""
    import numpy as np
    import pandas as pd

    from hotspots.synthetic import national_frames

    sizes = np.linspace(1_000, max_rows, sessions).round(-2).astype(int)
    out = []
    for i, n in enumerate(sizes):
        force = FORCES[i % len(FORCES)]
        frame = pd.concat(
            [t for _, t in national_frames(int(n), forces=[force], seed=100 + i)],
            ignore_index=True,
        )
        path = folder / f"{i:02d}-{force}.csv"
        frame.to_csv(path, index=False)
        out.append((path, len(frame)))
    return out


def expected_counts(files: list[Path]) -> dict[str, str]:
    """Each file's ``Hot spots`` metric in a session of its own (AppTest, another process)."""
    env = _env()
    res = subprocess.run(
        [sys.executable, "-c", _EXPECTED, str(_ROOT / "app.py"), *map(str, files)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(res.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    env = dict(os.environ, HOTSPOTS_TILES="none", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH", "")]))
    env.pop("HOTSPOTS_DATA", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m hotspots app`` on a free port, stopped on exit; ``cpu_s()`` its CPU time."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = log

    def __enter__(self) -> Server:
        self._out = open(self.log, "w")  # closed in __exit__
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "app", "--port", str(self.port),
             "--script", str(_ROOT / "app.py")],
            cwd=_ROOT, env=_env(), stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                msg = f"the app did not start; see {self.log}"
                raise RuntimeError(msg)
            time.sleep(0.3)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server and its children (``/proc``)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in _tree(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)  # the app and its streamlit child
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        todo += [int(k) for k in kids]
    return out


async def _session(browser, url: str, path: Path, rows: int, timeout_s: float) -> dict:
    page = await (await browser.new_context()).new_page()
    t0 = time.perf_counter()
    await page.goto(url)
    await page.wait_for_function(DEMO_JS, timeout=timeout_s * 1000, polling=100)
    demo_s = time.perf_counter() - t0
    await page.evaluate(MARK_DEMO_JS)
    t1 = time.perf_counter()
    await page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(
        str(path), timeout=timeout_s * 1000
    )
    await page.wait_for_function(DRAWN_JS, arg=f"{rows:,}", timeout=timeout_s * 1000, polling=100)
    map_s = time.perf_counter() - t1
    total_s = time.perf_counter() - t0
    hot = None
    for _ in range(3):  # at rest twice in a row, 0.5 s apart: not between a run and its rerun
        await page.wait_for_timeout(500)
        await page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000)
        idle_s = time.perf_counter() - t1
        again = await page.evaluate(HOTSPOTS_JS)
        if again is not None and again == hot:
            break
        hot = again
    await page.context.close()
    return {"file": path.name, "rows": rows, "demo_s": demo_s, "map_s": map_s, "idle_s": idle_s,
            "total_s": total_s, "hotspots": hot}  # fmt: skip


async def _served(browser, url: str, path: Path, rows: int, timeout_s: float) -> dict:
    """:func:`_session`, or what went wrong (a session not served is counted, not fatal)."""
    try:
        return await _session(browser, url, path, rows, timeout_s)
    except Exception as exc:  # a timeout, a closed page: this session was not served
        return {"file": path.name, "rows": rows, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def _drive(url: str, files: list[tuple[Path, int]], timeout_s: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            return list(
                await asyncio.gather(*(_served(browser, url, f, n, timeout_s) for f, n in files))
            )
        finally:
            await browser.close()


def _run_server(files: list[tuple[Path, int]], log: Path, timeout_s: float) -> dict:
    load0 = os.getloadavg()[0]
    with Server(log) as server:
        c0 = server.cpu_s()
        t0 = time.perf_counter()
        sessions = asyncio.run(_drive(server.url, files, timeout_s))
        wall = time.perf_counter() - t0
        cpu = server.cpu_s() - c0
    return {"sessions": sessions, "wall_s": wall, "server_cpu_s": cpu,
            "load": (load0, os.getloadavg()[0])}  # fmt: skip


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def run(
    quick: bool = False, sessions: int = 10, max_rows: int = 30_000, timeout_s: float = 900
) -> list[dict]:
    """One session alone, then ``sessions`` at once (3 of at most 5,000 rows with ``quick``)."""
    if quick:
        sessions, max_rows = min(sessions, 3), min(max_rows, 5_000)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_files(folder, sessions, max_rows)
        expected = expected_counts([f for f, _ in files])
        median = files[len(files) // 2]
        logs = Path(tempfile.mkdtemp(prefix="bench_sessions_"))  # kept: the servers' logs
        alone = _run_server([median], logs / "alone.log", timeout_s)
        many = _run_server(files, logs / "many.log", timeout_s)
    one = alone["sessions"][0]
    rows = [
        {
            "case": f"app: one session alone ({one['rows']:,}-row upload)",
            "map_s": one["map_s"],
            "idle_s": one["idle_s"],
            "demo_s": one["demo_s"],
            "total_s": one["total_s"],
            "server_cpu_s": alone["server_cpu_s"],
            "load": alone["load"],
            "isolated": one["hotspots"] == expected[one["file"]],
        }
    ]
    failed = [s for s in many["sessions"] if "error" in s]
    got = [s for s in many["sessions"] if "error" not in s]
    map_s = [s["map_s"] for s in got]
    idle_s = [s["idle_s"] for s in got]
    wrong = [s["file"] for s in got if s["hotspots"] != expected[s["file"]]]
    rows.append(
        {
            "case": f"app: {len(many['sessions'])} sessions at once, each its own upload "
            f"({min(n for _, n in files):,}-{max(n for _, n in files):,} rows)",
            "served": sum(s["hotspots"] is not None for s in got),
            "errors": [s["error"] for s in failed],
            "isolated": not wrong,
            "wrong": wrong,
            "map_p50_s": _pct(map_s, 50),
            "map_p95_s": _pct(map_s, 95),
            "map_p95_x_alone": _pct(map_s, 95) / one["map_s"],
            "idle_p50_s": _pct(idle_s, 50),
            "idle_p95_s": _pct(idle_s, 95),
            "idle_p95_x_alone": _pct(idle_s, 95) / one["idle_s"],
            "demo_p95_s": _pct([s["demo_s"] for s in got], 95),
            "total_p95_s": _pct([s["total_s"] for s in got], 95),
            "total_p95_x_alone": _pct([s["total_s"] for s in got], 95) / one["total_s"],
            "wall_s": many["wall_s"],
            "server_cpu_s": many["server_cpu_s"],
            "load": many["load"],
            "per_session": [
                (s["rows"], round(s["map_s"], 2), round(s["idle_s"], 2), s["hotspots"]) for s in got
            ],
        }
    )
    return rows


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--max-rows", type=int, default=30_000)
    a = p.parse_args()
    for r in run(sessions=a.sessions, max_rows=a.max_rows):
        print(r)
