"""hotspots: patrol-sized serious violence hot spots from police incident data.

The pipeline reads top to bottom: :mod:`hotspots.ingest` (CSV ->
:class:`~hotspots.incidents.Incidents`), :mod:`hotspots.kde` and :mod:`hotspots.clusters` (hot spot
polygons), :mod:`hotspots.profile` (ranking and temporal profiles), :mod:`hotspots.tactics` (patrol
tactics and plans), :mod:`hotspots.export` (GeoJSON, GeoPackage, CSV) and :mod:`hotspots.mapping`
(folium maps).
"""

from __future__ import annotations

__version__ = "0.1.0"

from hotspots._errors import (
    HotspotsError,
    HotspotsWarning,
    InputError,
    ParameterError,
    TooFewPeriodsError,
)
from hotspots.incidents import Incidents, IngestReport
from hotspots.ingest import filter_incidents, read_incidents

# ``hotspots.detect`` stays the module (``from hotspots.detect import detect``): exporting the
# function under the same name would shadow it.

__all__ = [
    "HotspotsError",
    "HotspotsWarning",
    "Incidents",
    "IngestReport",
    "InputError",
    "ParameterError",
    "TooFewPeriodsError",
    "__version__",
    "filter_incidents",
    "read_incidents",
]
