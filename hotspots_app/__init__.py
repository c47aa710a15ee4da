"""The Streamlit app's sections; ``app.py`` lays them out on the page.

One module per section of the page. Importing any of them runs nothing and draws nothing: each
exposes functions that ``app.py`` calls inside a script run.

==================  ================================================================================
module              owns
==================  ================================================================================
``common``          shared widgets and caching: markdown escaping, labels, cache hash functions
                    (the library's fingerprints), library warnings -> ``st.warning``, settings kept
                    across tabs, the selected hot spot
``data``            "Data and report": uploads, filters, column mapping, reading incidents, the
                    ingest report and rows left out
``detection``       the method and parameter panel, detection (cached), how the hot spots were found
``map``             the map tab: basemap choice, the full-width map, the ranked table, the selection
``detail``          "Hot spot details": the selected hot spot's profile, tactics, patrol visits
``plan``            "Patrol plan": patrol areas, the dated plan and its files (a fragment)
``change``          "Change over time": persistent / emerging cells (a fragment)
``holdout``         "Check against a later period": hit rate, PAI, PEI (a fragment)
``downloads``       "Downloads": every file the app makes, in one place
==================  ================================================================================

Nothing in :mod:`hotspots` imports Streamlit; everything here is user interface only.
"""

from __future__ import annotations
