"""The Streamlit app: its page layout and its sections, one module each.

``app.py`` (in a checkout) and ``hotspots_app/__main__.py`` (in an installed package, run by
``hotspots app``) are the main scripts; both call :func:`hotspots_app.page.run`. Importing any
other module runs nothing and draws nothing: each exposes functions that run inside a script run.

==================  ================================================================================
module              owns
==================  ================================================================================
``page``            the page layout: sidebar panels, what shows above the tabs, which section runs
                    in which tab (``app.py`` and ``__main__.py`` call :func:`hotspots_app.page.run`)
``common``          shared widgets and caching: markdown escaping, labels, cache hash functions
                    (the library's fingerprints), library warnings -> ``st.warning``, settings kept
                    across tabs, the selected hot spot
``data``            "Data and report": uploads or the server's data folder, filters, column
                    mapping, reading incidents (once per source), the ingest report and rows left
                    out
``status``          progress of long library work as a status box (file i of n, detecting...)
``detection``       the method and parameter panel, detection (cached), how the hot spots were found
``map``             the map tab: basemap choice, the full-width map, the ranked table, the selection
``detail``          "Hot spot details": the selected hot spot's profile, tactics, patrol visits
``plan``            "Patrol plan": staffing, places left out, stop and search files, patrol areas,
                    the dated plan, each area's tactic card and the plan's files (a fragment)
``tasking``         tasking under the patrol plan: teams and shifts (a table or a file) routed over
                    the plan's areas and days, shortfalls, per-team calendars and shift sheets
``cards``           tactic cards: one recommendation per place with every step, its dose, and
                    each tactic's legitimacy and community-impact cautions
``tracking``        "Tracking": patrol logs (uploaded, or synthetic on the demo) against the plan:
                    row accounting, compliance, a map of the visits, its files (a fragment)
``assess``          "Assess": the operation's effect (patrol against control days, before/after,
                    dose-response, displacement) from the plan, later incidents and patrol logs,
                    the findings in plain words and the assessment's files (a fragment)
``change``          "Change over time": persistent / emerging cells (a fragment)
``holdout``         "Check against a later period": hit rate, PAI, PEI (a fragment)
``downloads``       "Downloads": every file the app makes, in one place
==================  ================================================================================

Nothing in :mod:`hotspots` imports Streamlit; everything here is user interface only.
"""

from __future__ import annotations
