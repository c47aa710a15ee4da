"""A seeded *synthetic* national data set: police.uk street-level files for all 43 forces.

Nothing here is real. It is made for benchmarks and tests at national scale (``hotspots demo
--national DIR --rows N``): the 43 territorial police forces of England and Wales, each a disc
around an approximate centroid of its area (:data:`FORCES`: centroids and radii read off a map to
the nearest few kilometres, and shares of national recorded crime rounded from the published
force totals; approximate, and good only for making data of the right shape), with towns inside
it. Like police.uk's own files:

* police.uk's 12 street-level columns in their order (:data:`hotspots.demo.POLICE_UK_COLUMNS`),
  one file per force and month, named ``YYYY-MM-<force>-street.csv``;
* every incident snapped to one of a finite set of anonymous map points ("On or near ..."), a
  few of which take many incidents (police.uk snaps to about 750,000 points nationally);
* police.uk's 14 crime types in their usual shares (:data:`CRIME_TYPE_SHARES`), 64-hex Crime IDs
  (blank for anti-social behaviour, as police.uk has them), an outcome for crimes, none for
  anti-social behaviour;
* about 1.2 % of rows without a location (blank coordinates, "No Location").

Every file says it is synthetic: "Falls within" is :data:`hotspots.incidents.SYNTHETIC_FORCE`
(so every output of the package is labelled synthetic) and "Reported by" is the force's name with
"(synthetic)".

Examples
--------
>>> from hotspots.synthetic import FORCES, national_frames
>>> len(FORCES), round(sum(f.share for f in FORCES), 6)
(43, 1.0)
>>> name, frame = next(national_frames(rows=2000, months=1, seed=1))
>>> name
'2024-01-avon-and-somerset-street.csv'
>>> list(frame.columns)[:4]
['Crime ID', 'Month', 'Reported by', 'Falls within']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.demo import POLICE_UK_COLUMNS
from hotspots.incidents import SYNTHETIC_FORCE

__all__ = [
    "CRIME_TYPE_SHARES",
    "FORCES",
    "NATIONAL_SEED",
    "Force",
    "national_frames",
    "write_national",
]

NATIONAL_SEED = 20250101
YEAR = 2024

#: Shares of police.uk's 14 crime types, roughly as in England and Wales street-level data
#: (approximate, rounded from a year of police.uk's national files; they sum to 1).
CRIME_TYPE_SHARES = {
    "Anti-social behaviour": 0.200,
    "Violence and sexual offences": 0.330,
    "Other theft": 0.080,
    "Shoplifting": 0.070,
    "Criminal damage and arson": 0.080,
    "Vehicle crime": 0.060,
    "Public order": 0.070,
    "Burglary": 0.045,
    "Drugs": 0.030,
    "Other crime": 0.015,
    "Robbery": 0.012,
    "Theft from the person": 0.015,
    "Bicycle theft": 0.013,
    "Possession of weapons": 0.010,
}
_ASB = "Anti-social behaviour"
_OUTCOMES = (
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Under investigation",
    "Awaiting court outcome",
    "Offender given a caution",
    "Status update unavailable",
    "Local resolution",
)
_STREETS = (
    "High Street", "Station Road", "Church Street", "Market Place", "London Road",
    "Victoria Road", "Park Road", "Queen Street", "King Street", "Mill Lane", "New Road",
    "The Crescent", "Bridge Street", "North Street", "School Lane", "Green Lane", "Albert Road",
    "Castle Street", "West Street", "Springfield Road",
)  # fmt: skip
_PLACES = (
    "Supermarket", "Parking Area", "Shopping Area", "Petrol Station", "Nightclub",
    "Sports/Recreation Area", "Further/Higher Educational Building", "Hospital",
    "Police Station", "Bus/Coach Station", "Conference/Exhibition Centre", "Theatre/Concert Hall",
)  # fmt: skip
#: Share of rows without a location ("No Location"), as in police.uk files.
NO_LOCATION_SHARE = 0.012


@dataclass(frozen=True)
class Force:
    """One police force's area, approximately: a disc around its centroid.

    ``share`` is its approximate share of national recorded crime; ``wales`` gives its LSOA codes
    the Welsh prefix (W01).
    """

    name: str
    slug: str
    lon: float
    lat: float
    radius_km: float
    share: float
    wales: bool = False


def _forces() -> tuple[Force, ...]:
    # name, police.uk file slug, centroid lon, lat (degrees), radius (km), share (%); approximate
    rows = (
        ("Avon and Somerset Constabulary", "avon-and-somerset", -2.75, 51.30, 45, 3.0),
        ("Bedfordshire Police", "bedfordshire", -0.45, 52.05, 20, 1.1),
        ("Cambridgeshire Constabulary", "cambridgeshire", 0.05, 52.40, 35, 1.5),
        ("Cheshire Constabulary", "cheshire", -2.55, 53.20, 30, 1.7),
        ("City of London Police", "city-of-london", -0.092, 51.515, 1.2, 0.15),
        ("Cleveland Police", "cleveland", -1.20, 54.57, 15, 1.3),
        ("Cumbria Constabulary", "cumbria", -2.90, 54.55, 55, 0.8),
        ("Derbyshire Constabulary", "derbyshire", -1.60, 53.10, 35, 1.7),
        ("Devon & Cornwall Police", "devon-and-cornwall", -4.30, 50.55, 80, 2.5),
        ("Dorset Police", "dorset", -2.30, 50.75, 30, 1.0),
        ("Durham Constabulary", "durham", -1.75, 54.70, 25, 1.1),
        ("Dyfed-Powys Police", "dyfed-powys", -3.90, 52.10, 70, 0.8),
        ("Essex Police", "essex", 0.55, 51.80, 40, 3.0),
        ("Gloucestershire Constabulary", "gloucestershire", -2.20, 51.85, 30, 0.9),
        ("Greater Manchester Police", "greater-manchester", -2.25, 53.50, 22, 6.0),
        ("Gwent Police", "gwent", -3.00, 51.70, 20, 1.0),
        ("Hampshire Constabulary", "hampshire", -1.30, 50.95, 45, 3.2),
        ("Hertfordshire Constabulary", "hertfordshire", -0.25, 51.80, 25, 1.8),
        ("Humberside Police", "humberside", -0.50, 53.75, 40, 1.7),
        ("Kent Police", "kent", 0.75, 51.20, 45, 3.2),
        ("Lancashire Constabulary", "lancashire", -2.60, 53.85, 40, 2.6),
        ("Leicestershire Police", "leicestershire", -1.10, 52.70, 30, 1.8),
        ("Lincolnshire Police", "lincolnshire", -0.30, 53.10, 50, 1.1),
        ("Merseyside Police", "merseyside", -2.95, 53.42, 15, 2.5),
        ("Metropolitan Police Service", "metropolitan", -0.12, 51.50, 25, 15.0),
        ("Norfolk Constabulary", "norfolk", 1.00, 52.65, 45, 1.3),
        ("North Wales Police", "north-wales", -3.70, 53.05, 45, 1.1),
        ("North Yorkshire Police", "north-yorkshire", -1.40, 54.15, 60, 1.1),
        ("Northamptonshire Police", "northamptonshire", -0.90, 52.30, 30, 1.2),
        ("Northumbria Police", "northumbria", -1.65, 55.05, 35, 2.6),
        ("Nottinghamshire Police", "nottinghamshire", -1.05, 53.10, 30, 2.0),
        ("South Wales Police", "south-wales", -3.45, 51.55, 35, 2.4),
        ("South Yorkshire Police", "south-yorkshire", -1.35, 53.50, 30, 2.6),
        ("Staffordshire Police", "staffordshire", -2.05, 52.85, 35, 1.7),
        ("Suffolk Constabulary", "suffolk", 1.05, 52.20, 40, 1.0),
        ("Surrey Police", "surrey", -0.40, 51.25, 25, 1.3),
        ("Sussex Police", "sussex", -0.30, 50.95, 45, 2.4),
        ("Thames Valley Police", "thames-valley", -1.10, 51.70, 50, 3.6),
        ("Warwickshire Police", "warwickshire", -1.55, 52.30, 25, 0.8),
        ("West Mercia Police", "west-mercia", -2.50, 52.35, 50, 2.0),
        ("West Midlands Police", "west-midlands", -1.90, 52.48, 18, 6.0),
        ("West Yorkshire Police", "west-yorkshire", -1.65, 53.75, 25, 5.0),
        ("Wiltshire Police", "wiltshire", -1.95, 51.30, 30, 0.9),
    )
    total = sum(r[5] for r in rows)
    welsh = {"dyfed-powys", "gwent", "north-wales", "south-wales"}
    return tuple(
        Force(name, slug, lon, lat, float(radius), share / total, slug in welsh)
        for name, slug, lon, lat, radius, share in rows
    )


#: The 43 territorial police forces of England and Wales, in police.uk's alphabetical order.
FORCES = _forces()


def _split(total: int, shares: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``shares`` (largest remainders; sums to ``total``)."""
    raw = total * shares / shares.sum()
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 64-hex-digit ids (police.uk's Crime ID shape)."""
    digits = np.frombuffer(b"0123456789abcdef", dtype="S1")
    raw = rng.integers(0, 16, size=(n, 64), dtype=np.uint8)
    return digits[raw].view("S64").ravel().astype(str)


@dataclass(frozen=True)
class _MapPoints:
    """A force's anonymous map points: where its incidents are snapped to."""

    lon: np.ndarray  # text, 6 decimals
    lat: np.ndarray
    location: np.ndarray
    lsoa_code: np.ndarray
    lsoa_name: np.ndarray
    weight: np.ndarray  # probability of each point (heavy-tailed)


def _map_points(rng: np.random.Generator, force: Force, n_points: int, index: int) -> _MapPoints:
    """Map points in towns inside the force's disc: towns near the centre are larger."""
    n_towns = max(1, min(40, round(force.radius_km / 2)))
    # Town centres uniform in the disc (square root: uniform by area), one at the centroid.
    r = force.radius_km * np.sqrt(rng.uniform(0, 1, n_towns)) * 0.85
    r[0] = 0.0
    theta = rng.uniform(0, 2 * np.pi, n_towns)
    km_lat = 1 / 111.32
    km_lon = km_lat / np.cos(np.radians(force.lat))
    town_lon = force.lon + r * np.cos(theta) * km_lon
    town_lat = force.lat + r * np.sin(theta) * km_lat
    size = rng.pareto(1.1, n_towns) + 1
    size[0] *= 3  # the force's main city
    town = rng.choice(n_towns, n_points, p=size / size.sum())
    spread = np.minimum(0.6 + 0.25 * np.sqrt(size[town]), force.radius_km / 3)  # km
    d = rng.exponential(spread)
    a = rng.uniform(0, 2 * np.pi, n_points)
    lon = town_lon[town] + d * np.cos(a) * km_lon
    lat = town_lat[town] + d * np.sin(a) * km_lat
    weight = rng.pareto(1.3, n_points) + 1
    weight /= weight.sum()
    streets = np.array(_STREETS + _PLACES, dtype=object)
    location = np.char.add("On or near ", streets[rng.integers(0, len(streets), n_points)])
    n_lsoa = max(1, n_points // 8)
    lsoa = rng.integers(0, n_lsoa, n_points)
    prefix = "W01" if force.wales else "E01"
    words = force.slug.replace("-", " ").title()
    return _MapPoints(
        lon=np.char.mod("%.6f", lon).astype(object),
        lat=np.char.mod("%.6f", lat).astype(object),
        location=location.astype(object),
        lsoa_code=np.array([f"{prefix}{index:02d}{i:04d}" for i in lsoa], dtype=object),
        lsoa_name=np.array(
            [f"{words} {i // 4 + 1:03d}{'ABCD'[i % 4]}" for i in lsoa], dtype=object
        ),
        weight=weight,
    )


def _national_columns(
    rows: int,
    year: int,
    months: int,
    seed: int,
    forces: Sequence[str] | None,
) -> Iterator[tuple[str, dict[str, np.ndarray | str]]]:
    """:func:`national_frames`' files as columns of text (arrays, or one value for every row)."""
    if not 1 <= months <= 12:
        msg = f"months must be 1 to 12, not {months}."
        raise ValueError(msg)
    chosen = list(FORCES)
    if forces is not None:
        wanted = {str(f).casefold() for f in forces}
        chosen = [f for f in FORCES if f.name.casefold() in wanted or f.slug in wanted]
        if not chosen:
            msg = f"None of {list(forces)} is one of the 43 forces (names or slugs)."
            raise ValueError(msg)
    rng = np.random.default_rng(seed)
    per_force = _split(int(rows), np.array([f.share for f in chosen]))
    season = 1 + 0.08 * np.sin(2 * np.pi * (np.arange(months) - 2.5) / 12)
    types = np.array(list(CRIME_TYPE_SHARES), dtype=object)
    type_p = np.array(list(CRIME_TYPE_SHARES.values()))
    type_p = type_p / type_p.sum()
    outcomes = np.array(_OUTCOMES, dtype=object)
    for force in chosen:
        index = FORCES.index(force)
        n_force = int(per_force[chosen.index(force)])
        # police.uk snaps a force's incidents to roughly one point per 5-10 incidents a year
        points = _map_points(rng, force, int(np.clip(n_force // 6, 50, 120_000)), index)
        for m, n in enumerate(_split(n_force, season)):
            yield _month_file(rng, force, points, year, m + 1, int(n), types, type_p, outcomes)


def national_frames(
    rows: int = 1_000_000,
    *,
    year: int = YEAR,
    months: int = 12,
    seed: int = NATIONAL_SEED,
    forces: Sequence[str] | None = None,
) -> Iterator[tuple[str, pd.DataFrame]]:
    """Synthetic police.uk street-level files, one (file name, table) per force and month.

    Parameters
    ----------
    rows : int, default 1,000,000
        Rows in all files together, split between forces by their :attr:`Force.share` and
        between months with a mild summer peak (+-8 %).
    year : int, default 2024
        The year of the months (``Month`` is ``YYYY-MM``).
    months : int, default 12
        Months from January (1-12).
    seed : int, default :data:`NATIONAL_SEED`
        Random seed: the same arguments give the same files.
    forces : sequence of str, optional
        Force names or file slugs (``"merseyside"``) to make; default all of :data:`FORCES`.
        Rows are split between the chosen forces by their shares.

    Yields
    ------
    (str, pandas.DataFrame)
        ``YYYY-MM-<slug>-street.csv`` and its rows in police.uk's columns (all text), forces in
        :data:`FORCES` order, months in order within each force.
    """
    for name, columns in _national_columns(rows, year, months, seed, forces):
        n = next((len(v) for v in columns.values() if not isinstance(v, str)), 0)
        yield name, pd.DataFrame(columns, index=pd.RangeIndex(n), columns=POLICE_UK_COLUMNS)


def _month_file(
    rng: np.random.Generator,
    force: Force,
    points: _MapPoints,
    year: int,
    month: int,
    n: int,
    types: np.ndarray,
    type_p: np.ndarray,
    outcomes: np.ndarray,
) -> tuple[str, dict[str, np.ndarray | str]]:
    at = rng.choice(len(points.weight), n, p=points.weight)
    crime = types[rng.choice(len(types), n, p=type_p)]
    asb = crime == _ASB
    ids = _hex_ids(rng, n).astype(object)
    ids[asb] = ""
    outcome = outcomes[rng.integers(0, len(outcomes), n)]
    outcome[asb] = ""
    lon, lat = points.lon[at], points.lat[at]
    location, code, name = points.location[at], points.lsoa_code[at], points.lsoa_name[at]
    lost = rng.random(n) < NO_LOCATION_SHARE
    lon[lost] = lat[lost] = code[lost] = name[lost] = ""
    location[lost] = "No Location"
    stamp = f"{year}-{month:02d}"
    values = (ids, stamp, f"{force.name} (synthetic)", SYNTHETIC_FORCE, lon, lat, location, code,
              name, crime, outcome, "")  # fmt: skip
    return f"{stamp}-{force.slug}-street.csv", dict(zip(POLICE_UK_COLUMNS, values, strict=True))


def write_national(
    folder: str | Path,
    rows: int = 1_000_000,
    *,
    year: int = YEAR,
    months: int = 12,
    seed: int = NATIONAL_SEED,
    forces: Sequence[str] | None = None,
) -> list[Path]:
    """Write :func:`national_frames` as police.uk CSV files into ``folder`` (created if needed).

    Parameters
    ----------
    folder : str or Path
        Where the files go, side by side (``hotspots detect FOLDER`` reads them all).
    rows, year, months, seed, forces
        As :func:`national_frames`.

    Returns
    -------
    list of Path
        The files written, in :func:`national_frames`' order.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, columns in _national_columns(rows, year, months, seed, forces):
        n = next(len(v) for v in columns.values() if not isinstance(v, str))
        cells = [[v] * n if isinstance(v, str) else v.tolist() for v in columns.values()]
        # No value holds a comma, a quote or a line break: police.uk writes such rows unquoted.
        lines = map(",".join, zip(*cells, strict=True))
        path = out / name
        with path.open("w", encoding="utf-8", newline="\n") as f:
            f.write(",".join(POLICE_UK_COLUMNS) + "\n")
            f.writelines(line + "\n" for line in lines)
        written.append(path)
    return written
