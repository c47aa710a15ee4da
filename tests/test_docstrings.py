"""Docstrings, comments and messages cite only what a reader of the package can follow.

A reader has the installed package: a paper (authors, year, title), a page of the College of
Policing guide, a key that ``hotspots/data/tactics.json`` defines (a study id such as
``Basford2021``, a guide page such as ``G3``, a constant such as ``max_gap_days``) or a public
address. Not the project's working notes (``methods.md``, ``hot-spots-guide.md``), not the
numbering of that digest (rules ``R1``-``R27``, defaults ``D1``-``D7``, source keys such as
``[BAS1]``), and no timings of the machine the code was written on (they belong in
``benchmarks/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p
    for folder in ("hotspots", "hotspots_app")
    for p in (ROOT / folder).rglob("*.py")
    if "static" not in p.parts
) + [ROOT / "app.py"]

#: Text a reader of the package cannot follow.
UNFOLLOWABLE = {
    "working notes": re.compile(
        r"methods\.md|hot-spots-guide\.md|stack-notes\.md|shared/reference"
    ),
    # the project's own issue tracker; a public one is cited as "QGIS issue #60616"
    "project issue number": re.compile(r"\b[Ii]ssues? \d"),
    "digest rule or default": re.compile(r"\b(?:R(?:[1-9]|1[0-9]|2[0-7])|D[1-7])\b"),
    "digest source key": re.compile(r"\[[A-Z][A-Z0-9]{1,5}b?\]"),
    "machine timing": re.compile(
        r"\b\d+(?:\.\d+)?\s?(?:s|ms|seconds|minutes)\b[^\n]{0,60}\b(?:cores?|dev machine)\b"
        r"|\b\d-core\b|shared cores|on the dev machine",
        re.IGNORECASE,
    ),
}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_sources_are_followable(path):
    rel = str(path.relative_to(ROOT))
    found = [
        f"{rel}:{n}: {what}: {line.strip()[:90]}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for what, pattern in UNFOLLOWABLE.items()
        if pattern.search(line)
    ]
    assert found == [], "\n".join(found)


def test_patterns_catch_what_they_name():
    bad = [
        "see methods.md b3",
        "the guide's rule R26",
        "plan defaults D1-D7",
        "Southend [BAS1]",
        "(issue 8, fault 4)",
        "4.6-13 s on 2 shared cores",
        "about 1.5 s on the dev machine",
    ]
    good = [
        "Basford2021 in hotspots/data/tactics.json",
        "RFC 7946",
        "QGIS issue #60616 / PR #60631",
        "Weisburd (2015), Criminology 53(2)",
        "so Streamlit never asks an outside service for this machine's IP",
        "Gi* z-score, [lat, lon] order",
    ]
    assert all(any(p.search(t) for p in UNFOLLOWABLE.values()) for t in bad)
    assert not [t for t in good if any(p.search(t) for p in UNFOLLOWABLE.values())]
