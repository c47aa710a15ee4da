"""Text from the data is never run as a template when a map is printed.

branca compiles each element's rendered output (GeoJSON properties, tooltips with location
text) as a Jinja template and renders it again when the page is printed; a police.uk location
``{{ cycler.__init__.__globals__.os.getpid() }}`` ran on the server in the standalone map
(``hotspots detect --map``, the app's map download). :mod:`hotspots.offline` makes branca print
that output as it is (:class:`~hotspots.offline.RenderedText`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import branca.element
import jinja2
import numpy as np
import pandas as pd
import pytest

from hotspots import cli
from hotspots.ingest import read_incidents
from hotspots.offline import RenderedText, element_template
from hotspots.workflows import detect_hotspots, standalone_map

PAYLOAD = "{{ cycler.__init__.__globals__.os.getpid() }}"


def _csv(location: str, n: int = 400, seed: int = 7) -> bytes:
    """A small incident file whose dense half is on a street named ``location``."""
    rng = np.random.default_rng(seed)
    k = n // 2
    lon = np.r_[rng.normal(-2.98, 0.0004, k), rng.normal(-2.98, 0.01, n - k)].round(6)
    lat = np.r_[rng.normal(53.40, 0.0003, k), rng.normal(53.40, 0.01, n - k)].round(6)
    where = [f"On or near {location} Street"] * k + ["On or near Main Street"] * (n - k)
    frame = pd.DataFrame({"Month": [f"2024-{1 + i % 12:02d}" for i in range(n)], "Longitude": lon})
    frame = frame.assign(Latitude=lat, Location=where, Offence="Assault")
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


@pytest.mark.parametrize("text", [PAYLOAD, '{{ "', "{% if %}", "{# x", "{{7*7}}"])
def test_standalone_map_prints_location_text_as_it_is(text: str) -> None:
    inc = read_incidents(("t.csv", _csv(text)), crime_types="all")
    res = detect_hotspots(inc, "kde")
    assert res.hotspots["top_location"].iloc[0] == f"On or near {text} Street"
    page = standalone_map(res)
    assert f"On or near {str(os.getpid())} Street" not in page
    assert "On or near 49 Street" not in page
    # the text is in the page as the escaper wrote it (quotes become entities), braces intact
    assert "On or near {" in page


def test_cli_map_does_not_run_location_text(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes(_csv(PAYLOAD))
    out, page = tmp_path / "h.geojson", tmp_path / "m.html"
    assert (
        cli.main(["--quiet", "detect", str(src), "-o", str(out), "--map", str(page), "--all"]) == 0
    )
    html = page.read_text()
    assert "cycler.__init__.__globals__.os.getpid()" in html
    assert f"On or near {os.getpid()} Street" not in html


@pytest.mark.parametrize(
    "text",
    ["", "\n", "a\r\nb\rc\n", "var x = 1;\n\n", "<div>\n  plain\n</div>\n\n", "tail  \n"],
)
def test_rendered_text_prints_plain_text_as_jinja_did(text: str) -> None:
    assert RenderedText(text).render(this=None, kwargs={}) == jinja2.Template(text).render()


def test_branca_elements_take_rendered_text_and_div_keeps_its_template() -> None:
    assert branca.element.Template is element_template
    el = branca.element.Element("{{ 6 * 7 }}")
    assert el.render() == "{{ 6 * 7 }}"
    div = branca.element.Div()
    assert isinstance(div.html._template, jinja2.Template)  # branca's own template, still one
    div.html.add_child(branca.element.Element("<p>child</p>"))
    assert "<p>child</p>" in div.html.render()
