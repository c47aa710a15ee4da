"""hotspots: the Streamlit app. Run with ``make run``, ``hotspots app`` or ``streamlit run app.py``.

The page is laid out by :func:`hotspots_app.page.main` (sidebar, then one tab at a time); each
section lives in its own module of :mod:`hotspots_app`. The map's scripts are served from
``static/`` next to this file; ``.streamlit/config.toml`` keeps the app offline and private.
"""

from __future__ import annotations

from hotspots_app.page import run

run()
