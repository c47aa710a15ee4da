"""The app's main script in an installed package.

``hotspots app`` runs this file with Streamlit (next to a ``static`` folder serving the map's
scripts, see :mod:`hotspots.launch`); ``python -m hotspots_app`` starts it the same way.
"""

from __future__ import annotations

import sys

import streamlit.runtime

if streamlit.runtime.exists():  # run by Streamlit: draw the page
    from hotspots_app.page import run

    run()
else:  # python -m hotspots_app: start Streamlit on the app
    from hotspots.launch import run_app

    sys.exit(run_app())
