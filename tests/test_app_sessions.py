"""Two people using the app at once: one user's upload never shows up in another's session.

The app caches ingest and detection process-wide (st.cache_resource), keyed by the uploaded bytes
and then by the library's fingerprints, so this checks that the cache key, not the session,
decides what is shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _report(at: AppTest) -> AppTest:
    """Open the "Data and report" tab (only the open tab runs) and rerun."""
    at.session_state["tab"] = "Data and report"
    return at.run()


def _police_uk_csv(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    head = (
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
        "Crime type,Last outcome category,Context"
    )
    lines = [head]
    for i in range(n):
        lon, lat = -2.98 + rng.normal(0, 0.003), 53.40 + rng.normal(0, 0.002)
        lines.append(
            f"{seed:02d}{i:062x},2024-0{1 + i % 9},Merseyside Police,Merseyside Police,"
            f"{lon:.6f},{lat:.6f},On or near A,E01,A,Violence and sexual offences,,"
        )
    return ("\n".join(lines) + "\n").encode()


def test_sessions_do_not_see_each_others_uploads():
    alice = AppTest.from_file(APP, default_timeout=120)
    _report(alice)
    demo_rows = _metric(alice, "Rows read")
    alice.sidebar.file_uploader(key="uploads").set_value(
        ("alice.csv", _police_uk_csv(n=480, seed=9), "text/csv")
    )
    alice.run()
    assert not alice.exception and _metric(alice, "Rows read") == "480"

    bob = AppTest.from_file(APP, default_timeout=120)
    _report(bob)
    assert not bob.exception
    assert _metric(bob, "Rows read") == demo_rows  # Bob sees the demo, not Alice's file
    bob.sidebar.file_uploader(key="uploads").set_value(
        ("bob.csv", _police_uk_csv(n=320, seed=10), "text/csv")
    )
    bob.run()
    assert _metric(bob, "Rows read") == "320"

    alice.run()  # Alice's next rerun still shows her own data
    assert _metric(alice, "Rows read") == "480"


def test_error_messages_escape_file_names():
    """A file name is user text: in an error it must not become a markdown image (a request)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    name = "![x](http://example.invalid/t.png).csv"
    at.sidebar.file_uploader(key="uploads").set_value((name, b"colour,size\nred,1\n", "text/csv"))
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors, "a file without coordinates must give an error"
    assert all("![x](http" not in e for e in errors)
    assert any("example" in e for e in errors)


def test_capture_runs_side_by_side_and_keeps_each_sessions_warnings():
    """Two cache misses at once (no lock between them): each keeps only its own warnings, and the
    process's warning machinery is left as it was."""
    import threading
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from hotspots import HotspotsWarning
    from hotspots_app.common import Outcome, capture

    both_inside = threading.Barrier(2)
    before = (warnings.showwarning, list(warnings.filters))

    def work(name: str) -> Outcome:
        def fn() -> str:
            both_inside.wait(timeout=30)  # both captures are running now
            warnings.warn(f"only for {name}", HotspotsWarning, stacklevel=1)
            both_inside.wait(timeout=30)
            warnings.warn(f"again for {name}", HotspotsWarning, stacklevel=1)
            return name

        return capture(fn)

    with ThreadPoolExecutor(max_workers=2) as pool:
        alice, bob = pool.map(work, ["alice", "bob"])
    assert alice == Outcome("alice", ("only for alice", "again for alice"))
    assert bob == Outcome("bob", ("only for bob", "again for bob"))
    assert (warnings.showwarning, list(warnings.filters)) == before


def test_a_plan_after_the_first_map_waits_for_other_sessions_first_maps_only(monkeypatch):
    import threading

    from hotspots_app import page

    monkeypatch.setattr(page, "FIRST_MAPS_WAIT_S", 30.0)
    events: list[str] = []
    drawing, release = threading.Event(), threading.Event()

    def other_session() -> None:  # a run still drawing its first map
        page._drawing(True)
        drawing.set()
        release.wait(10)
        events.append("other map drawn")
        page._drawing(False)

    t = threading.Thread(target=other_session)
    t.start()
    drawing.wait(10)
    threading.Timer(0.6, release.set).start()
    page._drawing(True)  # this run: its own map drawn, now its plan
    page._after_first_maps()
    events.append("plan made")
    t.join(10)
    assert events == ["other map drawn", "plan made"]
    # nobody drawing: no wait at all (the loop is never entered)
    monkeypatch.setattr(page.time, "sleep", lambda s: events.append("slept"))
    page._after_first_maps()
    assert events[-1] == "plan made"
