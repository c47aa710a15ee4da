"""A seeded, realistic *synthetic* violence data set for the demo, the docs and the tests.

Nothing here is real. The town ("Synthetic Town", reported by "Synthetic Constabulary") is a
made-up layout placed in English Midlands countryside so that British National Grid applies. The
generator mimics what real police.uk files look like:

* the 12 police.uk street-level columns, plus ``Date`` and ``Time`` columns (police.uk itself
  publishes the month only; the demo adds times so that temporal profiles can be shown);
* incidents snapped to a fixed set of anonymous map points ("On or near ..."), so many rows
  share one point;
* planted hot spots with known centres: strong and weak ones, night-time-economy timing
  (Fri-Sat nights), a daytime shopping-street spot and one emerging spot (last four months only);
* background violence over the whole town, and non-violent crime types that the default filter
  drops;
* a few dirty rows: no location, (0, 0), a point 150 km away, an exact duplicate row and an
  impossible date.

:func:`generate_demo` returns the table and the planted truth; ``hotspots demo`` writes the CSV.
:data:`DEMO_CSV` is written by :func:`ensure_demo_csv` on first use (``make run`` and the app call
it) from ``generate_demo()`` with the default seed; it is not committed. In a source checkout it is
``geodata/demo_incidents.csv``; an installed package never writes next to itself, so there it is
``hotspots_demo_incidents.csv`` in the temporary directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from hotspots.incidents import SYNTHETIC_FORCE

__all__ = [
    "DEMO_CSV",
    "DEMO_FORCE",
    "DEMO_SEED",
    "DemoTruth",
    "ensure_demo_csv",
    "generate_demo",
    "write_demo",
]

DEMO_SEED = 20240601
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
#: Where the app and ``hotspots demo`` put the demo CSV: ``geodata/`` in a source checkout (the
#: folder holding ``pyproject.toml``), the temporary directory for an installed package.
DEMO_CSV = (
    _SOURCE_ROOT / "geodata" / "demo_incidents.csv"
    if (_SOURCE_ROOT / "pyproject.toml").is_file()
    else Path(tempfile.gettempdir()) / "hotspots_demo_incidents.csv"
)
#: Centre of the synthetic town in British National Grid metres (open countryside near 52.6N, 1.6W).
TOWN_CENTRE = (440000.0, 305000.0)
YEAR = 2025
#: The demo's force name; any data set reporting it is labelled synthetic in every output
#: (:attr:`hotspots.incidents.IngestReport.synthetic`).
DEMO_FORCE = SYNTHETIC_FORCE

POLICE_UK_COLUMNS = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
]

_STREETS = [
    "High Street",
    "Market Square",
    "Station Road",
    "Church Lane",
    "Mill Road",
    "Queen Street",
    "King Street",
    "Bridge Street",
    "Victoria Road",
    "Albert Road",
    "Park Road",
    "London Road",
    "Canal Walk",
    "Foundry Lane",
    "Chapel Street",
    "Union Street",
    "Castle Hill",
    "North Parade",
    "Riverside",
    "Wharf Street",
    "Abbey Road",
    "Orchard Way",
    "Meadow Close",
    "Forge Lane",
]
_PLACES = [
    "Nightclub",
    "Parking Area",
    "Supermarket",
    "Shopping Area",
    "Petrol Station",
    "Further/Higher Educational Building",
    "Sports/Recreation Area",
    "Pedestrian Subway",
    "Bus/Coach Station",
    "Theatre/Concert Hall",
]
_OUTCOMES = [
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Under investigation",
    "Awaiting court outcome",
    "Offender given a caution",
]
# background time-of-day profile for violence (share per hour, evening peak)
_HOURLY = np.array(
    [5, 4, 3, 2, 1.5, 1, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7, 6.5, 6],
    dtype=float,
)


@dataclass(frozen=True)
class PlantedSpot:
    """One planted hot spot (coordinates in British National Grid metres)."""

    name: str
    x: float
    y: float
    n_per_month: float
    profile: str  # "night", "day" or "any"
    months: tuple[int, ...] = tuple(range(1, 13))


@dataclass(frozen=True)
class DemoTruth:
    """What was planted: the hot spots, and the dirty rows by kind."""

    spots: tuple[PlantedSpot, ...]
    dirty_rows: dict[str, int]

    @property
    def centres(self) -> np.ndarray:
        return np.array([[s.x, s.y] for s in self.spots])


def _spots() -> tuple[PlantedSpot, ...]:
    cx, cy = TOWN_CENTRE
    return (
        PlantedSpot("Nightclub strip", cx + 150, cy + 80, 14, "night"),
        PlantedSpot("Market Square", cx - 420, cy - 260, 11, "night"),
        PlantedSpot("Station forecourt", cx + 1300, cy + 900, 9, "any"),
        PlantedSpot("Shopping street", cx - 1500, cy + 400, 8, "day"),
        PlantedSpot("Canal subway", cx + 2600, cy - 1800, 6, "night"),
        PlantedSpot("Estate parade", cx - 3200, cy - 2600, 4, "any"),
        PlantedSpot("Retail park", cx + 3900, cy + 2900, 3.5, "day"),
        PlantedSpot("New bar quarter", cx - 2300, cy + 3300, 12, "night", months=(9, 10, 11, 12)),
    )


def _hours(rng: np.random.Generator, n: int, profile: str) -> np.ndarray:
    if profile == "night":
        p = np.zeros(24)
        p[[21, 22, 23, 0, 1, 2, 3]] = [3, 6, 8, 8, 6, 4, 2]
        p += 0.2
    elif profile == "day":
        p = np.zeros(24)
        p[10:19] = [2, 4, 6, 6, 5, 5, 6, 5, 3]
        p += 0.1
    else:
        p = _HOURLY.copy()
    return rng.choice(24, size=n, p=p / p.sum())


def _days(rng: np.random.Generator, month: int, n: int, profile: str) -> np.ndarray:
    first = pd.Timestamp(YEAR, month, 1)
    ndays = first.days_in_month
    dates = first + pd.to_timedelta(np.arange(ndays), unit="D")
    w = np.ones(ndays)
    if profile == "night":  # Fri and Sat nights
        w[dates.day_of_week >= 4] = 4.0
        w[dates.day_of_week == 6] = 1.5
    elif profile == "day":
        w[dates.day_of_week == 6] = 0.3
    return rng.choice(ndays, size=n, p=w / w.sum()) + 1


def generate_demo(seed: int = DEMO_SEED) -> tuple[pd.DataFrame, DemoTruth]:
    """Generate the synthetic demo data set.

    Parameters
    ----------
    seed : int, default DEMO_SEED

    Returns
    -------
    table : pandas.DataFrame
        police.uk columns plus ``Date`` (YYYY-MM-DD) and ``Time`` (HH:MM), all as text.
    truth : DemoTruth
        The planted hot spots and the number of dirty rows of each kind.
    """
    rng = np.random.default_rng(seed)
    cx, cy = TOWN_CENTRE
    spots = _spots()

    px, py, names_arr, lsoa_arr, spot_points = _map_points(rng, spots)
    n_points = _N_MAP_POINTS
    centre_w = np.exp(-np.hypot(px[:n_points] - cx, py[:n_points] - cy) / 2500)
    centre_w /= centre_w.sum()

    rows = []
    types_p = {
        "Violence and sexual offences": 0.62,
        "Robbery": 0.06,
        "Possession of weapons": 0.04,
        "Anti-social behaviour": 0.14,
        "Shoplifting": 0.08,
        "Burglary": 0.06,
    }
    tnames = list(types_p)
    tp = np.array(list(types_p.values()))
    for month in range(1, 13):
        # background: ~330 incidents a month over the town
        n_bg = int(rng.poisson(330))
        pts = rng.choice(n_points, size=n_bg, p=centre_w)
        rows.append(
            (
                pts,
                month,
                _hours(rng, n_bg, "any"),
                _days(rng, month, n_bg, "any"),
                rng.choice(len(tnames), n_bg, p=tp),
            )
        )
        for s, sp in zip(spots, spot_points, strict=True):
            if month not in s.months:
                continue
            n = int(rng.poisson(s.n_per_month))
            pts = rng.choice(sp, size=n, p=np.r_[0.5, np.full(len(sp) - 1, 0.5 / (len(sp) - 1))])
            vt = rng.choice(3, n, p=[0.8, 0.14, 0.06])  # violence types only at planted spots
            rows.append(
                (pts, month, _hours(rng, n, s.profile), _days(rng, month, n, s.profile), vt)
            )

    pts = np.concatenate([r[0] for r in rows])
    months = np.concatenate([np.full(len(r[0]), r[1]) for r in rows])
    hours = np.concatenate([r[2] for r in rows])
    days = np.concatenate([r[3] for r in rows])
    tidx = np.concatenate([r[4] for r in rows])
    minutes = rng.integers(0, 60, len(pts))
    order = np.lexsort((minutes, hours, days, months))
    pts, months, hours, days, tidx, minutes = (
        a[order] for a in (pts, months, hours, days, tidx, minutes)
    )
    n = len(pts)

    to_wgs = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
    lon, lat = to_wgs.transform(px[pts], py[pts])
    crime_type = np.array(tnames, dtype=object)[tidx]
    is_asb = crime_type == "Anti-social behaviour"
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    ids = np.array([bytes(b).hex() for b in raw], dtype=object)
    ids[is_asb] = ""
    outcomes = np.array(_OUTCOMES, dtype=object)[rng.integers(0, len(_OUTCOMES), n)]
    outcomes[is_asb] = ""
    table = pd.DataFrame(
        {
            "Crime ID": ids,
            "Month": [f"{YEAR}-{m:02d}" for m in months],
            "Reported by": DEMO_FORCE,
            "Falls within": DEMO_FORCE,
            "Longitude": [f"{v:.6f}" for v in lon],
            "Latitude": [f"{v:.6f}" for v in lat],
            "Location": names_arr[pts],
            "LSOA code": lsoa_arr[pts],
            "LSOA name": [f"Synthetic Town {int(c[-3:]) % 97:03d}A" for c in lsoa_arr[pts]],
            "Crime type": crime_type,
            "Last outcome category": outcomes,
            "Context": "",
            "Date": [f"{YEAR}-{m:02d}-{d:02d}" for m, d in zip(months, days, strict=True)],
            "Time": [f"{h:02d}:{mi:02d}" for h, mi in zip(hours, minutes, strict=True)],
        }
    )

    table, dirty = _add_dirty_rows(table)
    return table, DemoTruth(spots, dirty)


#: Map points of the background (the planted spots add 3-5 points each).
_N_MAP_POINTS = 1600


def _map_points(
    rng: np.random.Generator, spots: Sequence[PlantedSpot]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Map points (x, y in metres), their location texts and LSOA codes, and each spot's points.

    Denser towards the centre, on a loose street grid (police.uk snaps incidents to such points).
    """
    cx, cy = TOWN_CENTRE
    n_points = _N_MAP_POINTS
    r = np.abs(rng.normal(0, 2200, n_points)) + rng.uniform(0, 2500, n_points) * (
        rng.random(n_points) < 0.5
    )
    theta = rng.uniform(0, 2 * np.pi, n_points)
    px = np.round((cx + r * np.cos(theta)) / 20) * 20
    py = np.round((cy + r * np.sin(theta)) / 20) * 20
    names = [
        f"On or near {_PLACES[i % len(_PLACES)]}"
        if rng.random() < 0.25
        else f"On or near {_STREETS[i % len(_STREETS)]}"
        for i in range(n_points)
    ]
    lsoa = [f"E0109{9000 + int(i // 40):04d}" for i in range(n_points)]
    # each planted spot gets 3-5 nearby map points (within ~60 m)
    spot_points: list[np.ndarray] = []
    for s in spots:
        k = int(rng.integers(3, 6))
        ox = np.r_[0.0, rng.uniform(-60, 60, k - 1)]
        oy = np.r_[0.0, rng.uniform(-60, 60, k - 1)]
        idx = np.arange(len(px), len(px) + k)
        px = np.r_[px, s.x + ox]
        py = np.r_[py, s.y + oy]
        names += [f"On or near {s.name}"] * k
        lsoa += [f"E0109{8000 + len(spot_points):04d}"] * k
        spot_points.append(idx)
    return px, py, np.array(names, dtype=object), np.array(lsoa, dtype=object), spot_points


def _add_dirty_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The table with dirty rows appended, as real files have them, and how many of each kind."""
    dirty = {}
    extra = []
    base = table.iloc[0].to_dict()
    no_loc = dict(
        base,
        **{
            "Crime ID": f"{1:064x}",
            "Longitude": "",
            "Latitude": "",
            "Location": "No Location",
            "LSOA code": "",
            "LSOA name": "",
        },
    )
    extra += [no_loc] * 5
    dirty["missing coordinates"] = 5
    extra.append(
        dict(base, **{"Crime ID": f"{2:064x}", "Longitude": "0.000000", "Latitude": "0.000000"})
    )
    dirty["null island"] = 1
    extra.append(
        dict(
            base,
            **{
                "Crime ID": f"{3:064x}",
                "Longitude": "-4.120000",
                "Latitude": "52.410000",
                "Location": "On or near Far Away Lane",
            },
        )
    )
    dirty["far outlier"] = 1
    dup = table[table["Crime type"] == "Violence and sexual offences"].iloc[10].to_dict()
    extra.append(dup)
    dirty["exact duplicate"] = 1
    extra.append(dict(base, **{"Crime ID": f"{4:064x}", "Date": "2025-13-45"}))
    dirty["unparseable date"] = 1
    return pd.concat([table, pd.DataFrame(extra)], ignore_index=True), dirty


def write_demo(path: str | Path = DEMO_CSV, seed: int = DEMO_SEED) -> Path:
    """Write the demo CSV (UTF-8, CRLF line endings like police.uk files) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table, _ = generate_demo(seed)
    table.to_csv(path, index=False, lineterminator="\r\n")
    return path


def ensure_demo_csv(path: str | Path = DEMO_CSV, seed: int = DEMO_SEED) -> Path:
    """The demo CSV's path, generating it first if it is missing.

    The file is generated, not committed, so the repository holds no police.uk-shaped data;
    generation is seeded, so every machine gets the same bytes. Falls back to the temporary
    directory when the folder of ``path`` is not writable.
    """
    path = Path(path)
    if path.exists():
        return path
    try:
        return write_demo(path, seed)
    except OSError:
        return write_demo(Path(tempfile.gettempdir()) / "hotspots_demo_incidents.csv", seed)
