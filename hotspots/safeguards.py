"""Safeguards that go with every patrol plan, and stop and search monitoring.

Three things live here, with their text in the knowledge base ``hotspots/data/safeguards.json``:

* the stop and search notice every briefing page carries (:func:`stop_search_notice`): presence
  in a mapped hot spot is not grounds for a stop and search (PACE Code A, paragraph 2.2);
* the legitimacy and community-impact cautions of every tactic (:func:`tactic_safeguards`);
* offences found mostly by proactive policing (police.uk "Possession of weapons" and "Drugs"),
  which measure police activity as much as violence (:data:`PROACTIVE_TYPES`,
  :func:`proactive_mask`, :func:`compare_hotspots`).

And the monitoring of stop and search, so that patrols do not quietly turn into more searches of
some groups of people: :func:`read_stop_search` reads police.uk stop and search files (with row
accounting like :func:`hotspots.ingest.read_incidents`: every row read is used or rejected with a
reason), and :func:`summarise_stop_search` compares stops, outcomes and the recorded ethnicity of
the people stopped inside patrol areas with the rest of the force, before and during an
operation.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hotspots._errors import HotspotsError, InputError, ParameterError
from hotspots.record import FrozenList, freeze

if TYPE_CHECKING:
    import geopandas as gpd

    from hotspots.incidents import Incidents

__all__ = [
    "DEFAULT_SAFEGUARDS_PATH",
    "PERIODS",
    "PROACTIVE_TYPES",
    "ZONES",
    "HotspotComparison",
    "StopSearchReport",
    "StopSearchSummary",
    "StopSearches",
    "compare_hotspots",
    "load_safeguards",
    "proactive_mask",
    "proactive_note",
    "read_stop_search",
    "stop_search_notice",
    "summarise_stop_search",
    "tactic_safeguards",
]

#: The shipped text, package data read through :mod:`importlib.resources`.
DEFAULT_SAFEGUARDS_PATH: Traversable = resources.files("hotspots").joinpath(
    "data", "safeguards.json"
)

#: Where a stop was: inside a patrol area, elsewhere in the force, or not recorded.
ZONES = ("patrol areas", "rest of force", "location not recorded")
#: Periods of :func:`summarise_stop_search`: ``("all",)`` without a split date.
PERIODS = ("before", "during")


class SafeguardsError(HotspotsError):
    """The safeguards file (``safeguards.json``) is malformed."""


# --------------------------------------------------------------------------------------------
# The knowledge base


@functools.cache
def load_safeguards() -> Mapping[str, Any]:
    """The validated contents of ``hotspots/data/safeguards.json`` (read-only, cached).

    Raises
    ------
    SafeguardsError
        The notice lacks its text or source, a tactic's cautions lack either text, or the
        proactive offences lack their reasoning.
    """
    where = str(DEFAULT_SAFEGUARDS_PATH)
    data = json.loads(DEFAULT_SAFEGUARDS_PATH.read_text(encoding="utf-8"))
    notice = data.get("stop_search_notice", {})
    if not notice.get("text") or not notice.get("short") or not notice.get("source", {}).get("url"):
        msg = f"{where}: stop_search_notice needs text, short and source.url."
        raise SafeguardsError(msg)
    for tid, entry in data.get("tactic_safeguards", {}).items():
        if not entry.get("legitimacy") or not entry.get("community_impact"):
            msg = f"{where}: tactic {tid} needs both legitimacy and community_impact text."
            raise SafeguardsError(msg)
    pro = data.get("proactive_offences", {})
    if not pro.get("types") or not pro.get("reasoning") or pro.get("heuristic") is None:
        msg = f"{where}: proactive_offences needs types, reasoning and heuristic."
        raise SafeguardsError(msg)
    return freeze(data)


def stop_search_notice(*, short: bool = False) -> str:
    """The stop and search notice every briefing page and tactic card carries.

    Examples
    --------
    >>> stop_search_notice(short=True)
    'Presence in a mapped hot spot is not grounds for stop and search (PACE Code A, para. 2.2).'
    """
    notice = load_safeguards()["stop_search_notice"]
    return str(notice["short"] if short else notice["text"])


def tactic_safeguards(tactic_id: str) -> dict[str, str]:
    """``{"legitimacy": ..., "community_impact": ...}`` for a tactic id (``"T02"``).

    A tactic the file does not list gets the common cautions (``common_safeguards``).
    """
    data = load_safeguards()
    entry = data["tactic_safeguards"].get(tactic_id) or data["common_safeguards"]
    return {"legitimacy": entry["legitimacy"], "community_impact": entry["community_impact"]}


# --------------------------------------------------------------------------------------------
# Offences found mostly by proactive policing

#: police.uk crime types recorded mostly when police find them, not when a victim reports them.
PROACTIVE_TYPES: tuple[str, ...] = ("Possession of weapons", "Drugs")


def proactive_mask(incidents: Incidents) -> np.ndarray:
    """True for incidents whose crime type is one of :data:`PROACTIVE_TYPES` (case-insensitive)."""
    types = {t.casefold() for t in load_safeguards()["proactive_offences"]["types"]}
    # each distinct type tested once (a national frame holds millions of rows, a dozen types)
    codes, kinds = pd.factorize(incidents.frame["crime_type"])
    hit = np.array([str(k).strip().casefold() in types for k in kinds], dtype=bool)
    return np.append(hit, False)[codes]  # code -1 (missing) -> the appended False


@dataclass(frozen=True)
class HotspotComparison:
    """How two sets of hot spots differ (with and without some incidents).

    Attributes
    ----------
    n_with, n_without : int
        Hot spots found with and without the incidents.
    only_with : tuple of str
        Ids (of the "with" set) overlapping no hot spot of the "without" set.
    only_without : tuple of str
        Ids (of the "without" set) overlapping no hot spot of the "with" set.
    top_changed : int
        Of the first ``top`` hot spots with them, how many have no counterpart without them.
    top : int
    """

    n_with: int
    n_without: int
    only_with: tuple[str, ...]
    only_without: tuple[str, ...]
    top_changed: int
    top: int

    @property
    def changed(self) -> int:
        """Hot spots that appear in one set only."""
        return len(self.only_with) + len(self.only_without)


def compare_hotspots(
    with_: gpd.GeoDataFrame, without: gpd.GeoDataFrame, *, top: int = 10
) -> HotspotComparison:
    """Match two sets of hot spots by overlap (any shared area counts as the same place).

    Parameters
    ----------
    with_, without : geopandas.GeoDataFrame
        Ranked hot spots (``hotspot_id``, ``rank``, ``geometry``) in the same CRS.
    top : int, default 10
        How many of the highest-ranked hot spots of ``with_`` to check.

    Returns
    -------
    HotspotComparison
    """
    import shapely

    a = with_.sort_values("rank", kind="stable") if "rank" in with_.columns else with_
    b = without.sort_values("rank", kind="stable") if "rank" in without.columns else without
    ga = np.asarray(a.geometry.to_numpy(), dtype=object)
    gb = np.asarray(b.geometry.to_numpy(), dtype=object)
    if len(ga) and len(gb):
        pairs = shapely.STRtree(gb).query(ga, predicate="intersects")
        hit_a = np.zeros(len(ga), dtype=bool)
        hit_b = np.zeros(len(gb), dtype=bool)
        hit_a[pairs[0]] = True
        hit_b[pairs[1]] = True
    else:
        hit_a = np.zeros(len(ga), dtype=bool)
        hit_b = np.zeros(len(gb), dtype=bool)
    ids_a = [str(v) for v in a["hotspot_id"]]
    ids_b = [str(v) for v in b["hotspot_id"]]
    k = min(top, len(ga))
    return HotspotComparison(
        n_with=len(ga),
        n_without=len(gb),
        only_with=tuple(i for i, h in zip(ids_a, hit_a, strict=True) if not h),
        only_without=tuple(i for i, h in zip(ids_b, hit_b, strict=True) if not h),
        top_changed=int((~hit_a[:k]).sum()),
        top=k,
    )


def proactive_note(
    counts: Mapping[str, int],
    n_incidents: int,
    comparison: HotspotComparison | None,
    *,
    left_out: bool,
    method: str = "",
) -> str:
    """One sentence for the notes: the proactive offences in the data, their treatment, the change.

    Parameters
    ----------
    counts : mapping
        Crime type -> incidents of that type in the data used (before any leaving out).
    n_incidents : int
        All incidents in the data (before any leaving out).
    comparison : HotspotComparison, optional
        Hot spots with the proactive offences against without them.
    left_out : bool
        Whether the run left them out.
    method : str
        The detector, for the sentence.
    """
    total = sum(counts.values())
    listing = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    share = 100 * total / n_incidents if n_incidents else 0.0
    text = (
        f"Offences found mostly by proactive policing measure police activity as much as violence: "
        f"these data hold {total:,} ({listing}; {share:.1f}% of {n_incidents:,} incidents). "
    )
    text += (
        "They were left out of the hot spots (leave_out_proactive). "
        if left_out
        else "They were counted (police.uk's default keeps 'Possession of weapons' and leaves out "
        "'Drugs'); leave them out with leave_out_proactive (--leave-out-proactive). "
    )
    if comparison is not None:
        by = f"{method.upper()} " if method else ""

        def n(k: int, one: str, many: str) -> str:
            return f"{k} {one if k == 1 else many}"

        text += (
            f"{by}finds {comparison.n_with} significant hot spots with them and "
            f"{comparison.n_without} without: {n(len(comparison.only_with), 'appears', 'appear')} "
            f"only with them and {len(comparison.only_without)} only without; "
            f"{comparison.top_changed} of the top {comparison.top} change."
        )
    else:
        text += "How many hot spots they change was not computed (compare_proactive=True does)."
    return text.strip()


# --------------------------------------------------------------------------------------------
# Stop and search files

_COLUMNS = {
    "type": "type",
    "date": "date",
    "part of a policing operation": "part_of_operation",
    "policing operation": "policing_operation",
    "latitude": "lat",
    "longitude": "lon",
    "gender": "gender",
    "age range": "age_range",
    "self-defined ethnicity": "self_defined_ethnicity",
    "officer-defined ethnicity": "officer_defined_ethnicity",
    "legislation": "legislation",
    "object of search": "object_of_search",
    "outcome": "outcome",
    "outcome linked to object of search": "outcome_linked",
    "removal of more than just outer clothing": "removal_of_clothing",
}
_MARKERS = (
    "object of search",
    "officer-defined ethnicity",
    "self-defined ethnicity",
    "legislation",
)
R_NO_DATE = "date missing or unreadable"
R_BAD_COORDS = "coordinates unreadable or out of range (kept as location not recorded)"


@dataclass(frozen=True)
class StopSearchReport:
    """What :func:`read_stop_search` did with every row.

    Attributes
    ----------
    files : tuple of str
    n_read : int
        Data rows read (headers not counted).
    n_used : int
        Rows kept: ``n_read - n_rejected``.
    n_located : int
        Kept rows with coordinates.
    rejected : pandas.DataFrame
        One row per row left out: ``source_file``, ``source_row`` (1-based line, header = 1),
        ``reason``, ``detail``.
    notes : tuple of str
    """

    files: tuple[str, ...]
    n_read: int
    n_used: int
    n_located: int
    rejected: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    def reason_counts(self) -> dict[str, int]:
        """Rows left out, by reason."""
        if self.rejected.empty:
            return {}
        return {str(k): int(v) for k, v in self.rejected["reason"].value_counts().items()}


@dataclass(frozen=True)
class StopSearches:
    """Stop and search records.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per stop: ``date`` (local wall-clock time in Europe/London, no time zone),
        ``lon``, ``lat`` (WGS84, NaN when not recorded), ``type``, ``gender``, ``age_range``,
        ``self_defined_ethnicity``, ``officer_defined_ethnicity``, ``ethnicity`` (the
        self-defined value grouped: White, Black, Asian, Mixed, Other, Not stated),
        ``officer_ethnicity`` (grouped likewise, Not recorded when blank), ``legislation``,
        ``object_of_search``, ``outcome``, ``outcome_group`` (No further action, Arrest, Other
        outcome, Not recorded), ``outcome_linked`` (True, False or NA), ``source_file``,
        ``source_row``.
    report : StopSearchReport
    """

    frame: pd.DataFrame
    report: StopSearchReport

    def __len__(self) -> int:
        return len(self.frame)


def _gather(sources: Any) -> list[tuple[str, Any]]:
    if (
        isinstance(sources, tuple)
        and len(sources) == 2
        and isinstance(sources[1], bytes | bytearray)
    ):
        return [(str(sources[0]), bytes(sources[1]))]
    if isinstance(sources, str | Path | bytes | bytearray):
        sources = [sources]
    out: list[tuple[str, Any]] = []
    for s in sources:
        if isinstance(s, tuple):
            out.append((str(s[0]), bytes(s[1])))
        elif isinstance(s, bytes | bytearray):
            out.append(("stop_search.csv", bytes(s)))
        else:
            p = Path(s)
            if p.is_dir():
                files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".csv")
                if not files:
                    msg = "the folder holds no CSV file."
                    raise InputError(msg, file=str(p), hint="give police.uk stop and search CSVs.")
                out.extend((f.name, f) for f in files)
            elif not p.exists():
                msg = "no such file or folder."
                raise InputError(msg, file=str(p), hint="check the stop and search path.")
            else:
                out.append((p.name, p))
    if not out:
        msg = "no stop and search file was given."
        raise ParameterError(msg)
    return out


def _group(values: pd.Series, groups: Mapping[str, Sequence[str]], blank: str) -> pd.Series:
    def one(v: str) -> str:
        low = v.strip().casefold()
        if not low:
            return blank
        if "not stated" in low:
            return "Not stated"
        for name, keys in groups.items():
            if any(low.startswith(k) for k in keys):
                return name
        return "Other"

    codes, uniques = pd.factorize(values.fillna("").astype(str))
    mapped = np.array([one(u) for u in uniques] + [blank], dtype=object)
    return pd.Series(mapped[np.where(codes < 0, len(uniques), codes)], index=values.index)


def _read_one(label: str, source: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    from hotspots.ingest import read_text

    text, _encoding, delimiter = read_text(source, name=label)
    raw = pd.read_csv(
        io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skipinitialspace=True
    )
    header = {str(c).strip().casefold(): c for c in raw.columns}
    missing = [c for c in ("date", "latitude", "longitude") if c not in header]
    if missing or not any(m in header for m in _MARKERS):
        msg = (
            "this is not a police.uk stop and search file (it needs Date, Latitude, Longitude and "
            f"columns such as Object of search; missing: {', '.join(missing) or 'those columns'})."
        )
        raise InputError(
            msg, file=label, hint="download the force's stop and search CSV from data.police.uk."
        )
    frame = pd.DataFrame(index=raw.index)
    for key, col in _COLUMNS.items():
        frame[col] = raw[header[key]].astype(str).str.strip() if key in header else ""
    frame["source_file"] = label
    frame["source_row"] = np.arange(2, len(raw) + 2, dtype=np.int64)
    when = pd.to_datetime(frame["date"], errors="coerce", utc=True, format="ISO8601")
    bad_date = when.isna().to_numpy()
    frame["date"] = when.dt.tz_convert("Europe/London").dt.tz_localize(None)
    lat = pd.to_numeric(frame["lat"].replace("", np.nan), errors="coerce")
    lon = pd.to_numeric(frame["lon"].replace("", np.nan), errors="coerce")
    given = (frame["lat"] != "") | (frame["lon"] != "")
    ok = lat.between(-90, 90) & lon.between(-180, 180)
    frame["lat"] = lat.where(ok)
    frame["lon"] = lon.where(ok)
    bad_coords = (given & ~ok).to_numpy()
    rejected = pd.DataFrame(
        {
            "source_file": label,
            "source_row": frame["source_row"].to_numpy()[bad_date],
            "reason": R_NO_DATE,
            "detail": raw[header["date"]].astype(str).to_numpy()[bad_date],
        }
    )
    frame = frame.loc[~bad_date].reset_index(drop=True)
    frame.attrs["bad_coords"] = int(bad_coords[~bad_date].sum())
    return frame, rejected


def read_stop_search(sources: Any, *, name: str | None = None) -> StopSearches:
    """Read police.uk stop and search CSV files.

    Parameters
    ----------
    sources : path, folder, (name, bytes) or a list of them
        ``YYYY-MM-force-stop-and-search.csv`` files from data.police.uk (the columns Type, Date,
        Latitude, Longitude, Gender, Age range, Self-defined ethnicity, Officer-defined ethnicity,
        Legislation, Object of search, Outcome ...; only Date, Latitude and Longitude are
        required). Decoded as :func:`hotspots.ingest.read_text` decodes incident files.
    name : str, optional
        The file name when ``sources`` is bytes.

    Returns
    -------
    StopSearches
        Every row read is accounted for: ``report.n_read == report.n_used + report.n_rejected``.
        Rows without a readable date are rejected (they cannot be put before or during an
        operation); rows without coordinates are kept as "location not recorded".

    Raises
    ------
    InputError
        A file is missing, unreadable, or not a stop and search file.
    """
    if isinstance(sources, bytes | bytearray):
        sources = [(name or "stop_search.csv", bytes(sources))]
    frames, rejected, files = [], [], []
    bad_coords = 0
    for label, src in _gather(sources):
        f, r = _read_one(label, src)
        frames.append(f)
        rejected.append(r)
        files.append(label)
        bad_coords += f.attrs.get("bad_coords", 0)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rej = pd.concat(rejected, ignore_index=True)
    cfg = load_safeguards()["stop_search"]
    groups = cfg["ethnicity_groups"]
    frame["ethnicity"] = _group(frame["self_defined_ethnicity"], groups, "Not stated")
    frame["officer_ethnicity"] = _group(frame["officer_defined_ethnicity"], groups, "Not recorded")
    outcome = frame["outcome"].str.casefold()
    nfa = {s.casefold() for s in cfg["no_further_action"]}
    arrest = {s.casefold() for s in cfg["arrest"]}
    frame["outcome_group"] = np.select(
        [outcome.eq(""), outcome.isin(nfa), outcome.isin(arrest)],
        ["Not recorded", "No further action", "Arrest"],
        "Other outcome",
    )
    linked = frame["outcome_linked"].str.casefold()
    flags = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    flags[linked.eq("true")] = True
    flags[linked.eq("false")] = False
    frame["outcome_linked"] = flags
    n_read = sum(len(f) for f in frames) + len(rej)
    located = int(frame["lat"].notna().sum())
    notes = [
        f"Stop and search: read {n_read:,} rows from {len(files)} file(s); {len(frame):,} kept "
        f"({located:,} with a location), {len(rej):,} rejected ({R_NO_DATE})."
    ]
    if bad_coords:
        notes.append(f"{bad_coords:,} rows had {R_BAD_COORDS}.")
    report = StopSearchReport(
        files=tuple(files),
        n_read=n_read,
        n_used=len(frame),
        n_located=located,
        rejected=rej,
        notes=tuple(notes),
    )
    return StopSearches(frame=frame, report=report)


# --------------------------------------------------------------------------------------------
# Monitoring


@dataclass(frozen=True)
class StopSearchSummary:
    """Stops inside patrol areas against the rest of the force, before and during an operation.

    Every table has the columns ``period`` (``"all"``, or ``"before"``/``"during"`` with a
    split date) and ``zone`` (:data:`ZONES`).

    Attributes
    ----------
    overview : pandas.DataFrame
        Per period and zone: ``stops``, ``share_of_stops`` (of the period's stops),
        ``linked_known`` (stops whose record says whether the outcome was linked to the object of
        the search), ``found`` (it was), ``find_rate`` (found / stops: the share of searches that
        found what was searched for), ``no_further_action``, ``nfa_rate``, ``arrests``,
        ``arrest_rate`` (each / stops).
    ethnicity : pandas.DataFrame
        Per period, zone and self-defined ethnic group: ``stops`` and ``share`` (of the zone's
        stops in the period).
    officer_ethnicity : pandas.DataFrame
        The same with the officer-defined ethnicity.
    ethnicity_ratio : pandas.DataFrame
        Per period and self-defined group: ``share_patrol_areas``, ``share_rest_of_force`` and
        ``ratio`` (patrol areas / rest of force; NaN when the rest has none).
    outcomes, objects, legislation : pandas.DataFrame
        Per period and zone: ``stops`` by ``outcome``, ``object_of_search`` and ``legislation``.
    split_date : str or None
        ISO date of the first day "during" the operation.
    notes : tuple of str
    """

    overview: pd.DataFrame
    ethnicity: pd.DataFrame
    officer_ethnicity: pd.DataFrame
    ethnicity_ratio: pd.DataFrame
    outcomes: pd.DataFrame
    objects: pd.DataFrame
    legislation: pd.DataFrame
    split_date: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", FrozenList(self.notes))

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name."""
        return {
            "overview": self.overview,
            "ethnicity": self.ethnicity,
            "officer_ethnicity": self.officer_ethnicity,
            "ethnicity_ratio": self.ethnicity_ratio,
            "outcomes": self.outcomes,
            "objects": self.objects,
            "legislation": self.legislation,
        }

    def display(self) -> list[dict[str, Any]]:
        """Tables for people (the briefing): ``[{"title", "header", "rows"}]`` of formatted text."""
        cols = [
            (p, z) for p in _periods(self.split_date) for z in ZONES if z != "location not recorded"
        ]
        head = ["", *[f"{z} ({p})" if p != "all" else z for p, z in cols]]
        ov = self.overview.set_index(["period", "zone"])

        def cell(p: str, z: str, num: str, rate: str | None = None) -> str:
            if (p, z) not in ov.index:
                return "0"
            r = ov.loc[(p, z)]
            n = int(r[num])
            if rate is None:
                return f"{n:,}"
            v = r[rate]
            return f"{n:,} ({100 * v:.0f}%)" if pd.notna(v) else f"{n:,}"

        overview_rows = [
            ["Stops", *[cell(p, z, "stops") for p, z in cols]],
            ["Found what was searched for", *[cell(p, z, "found", "find_rate") for p, z in cols]],
            ["No further action", *[cell(p, z, "no_further_action", "nfa_rate") for p, z in cols]],
            ["Arrests", *[cell(p, z, "arrests", "arrest_rate") for p, z in cols]],
        ]
        eth = self.ethnicity.set_index(["period", "zone", "group"])
        groups = list(dict.fromkeys(self.ethnicity["group"])) if len(self.ethnicity) else []
        eth_rows = []
        for g in groups:
            row = [g]
            for p, z in cols:
                if (p, z, g) in eth.index:
                    r = eth.loc[(p, z, g)]
                    row.append(f"{int(r['stops']):,} ({100 * r['share']:.0f}%)")
                else:
                    row.append("0")
            eth_rows.append(row)
        ratio_rows = [
            [
                str(r["group"]) + ("" if r["period"] == "all" else f" ({r['period']})"),
                f"{100 * r['share_patrol_areas']:.0f}%",
                f"{100 * r['share_rest_of_force']:.0f}%",
                "n/a" if pd.isna(r["ratio"]) else f"{r['ratio']:.2f}",
            ]
            for _, r in self.ethnicity_ratio.iterrows()
        ]
        return [
            {"title": "Stops and outcomes", "header": head, "rows": overview_rows},
            {"title": "Self-defined ethnicity of people stopped", "header": head, "rows": eth_rows},
            {
                "title": (
                    "Share of stops by self-defined ethnicity: patrol areas against the rest of "
                    "the force"
                ),
                "header": ["Group", "Patrol areas", "Rest of force", "Ratio"],
                "rows": ratio_rows,
            },
        ]


def _periods(split_date: str | None) -> tuple[str, ...]:
    return ("all",) if split_date is None else PERIODS


def _rate(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).astype(float)


def _count_by(frame: pd.DataFrame, col: str, name: str) -> pd.DataFrame:
    out = frame.groupby(["period", "zone", col], observed=True).size().rename("stops").reset_index()
    return (
        out.rename(columns={col: name})
        .sort_values(["period", "zone", "stops"], ascending=[True, True, False], kind="stable")
        .reset_index(drop=True)
    )


def summarise_stop_search(
    areas: gpd.GeoDataFrame | gpd.GeoSeries,
    stops: StopSearches,
    *,
    split_date: Any = None,
) -> StopSearchSummary:
    """Stops, outcomes and recorded ethnicity inside patrol areas against the rest of the force.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame or GeoSeries
        The patrol areas (any CRS with a CRS set), e.g. the planned areas of a plan.
    stops : StopSearches
        From :func:`read_stop_search`.
    split_date : date or "YYYY-MM-DD", optional
        First day of the operation: stops before it are "before", stops on or after it "during".
        Without it every stop is in one period, "all".

    Returns
    -------
    StopSearchSummary

    Notes
    -----
    A stop is in the patrol areas when its point lies inside or on the edge of an area. The
    ethnicity ratio divides the share of a group among stops inside the areas by its share
    elsewhere in the force: 1 means the areas' stops look like the force's, 2 that the group
    makes up twice the share of stops in the areas. It compares stops with stops; without the
    population present in each place it is not a rate per person (see ``monitoring_reasoning``
    in ``hotspots/data/safeguards.json``).
    """
    import geopandas as gpd

    series = areas.geometry if isinstance(areas, gpd.GeoDataFrame) else areas
    if series.crs is None:
        msg = "the patrol areas need a CRS to place stops in them."
        raise ParameterError(msg)
    split = None
    if split_date is not None:
        try:
            split = pd.Timestamp(split_date).normalize()
        except (TypeError, ValueError) as exc:
            msg = f"split_date must be a date (YYYY-MM-DD), got {split_date!r}."
            raise ParameterError(msg) from exc
    periods = list(_periods(None if split is None else str(split.date())))
    frame = _placed(stops.frame, series, split, periods)
    ov = _overview(frame)
    eth = _shares(frame, "ethnicity")
    notes = list(stops.report.notes)
    for p in periods:
        notes.append(_period_note(ov, p, len(series)))
    notes.append(str(load_safeguards()["stop_search"]["monitoring_reasoning"]))
    frame["period"] = frame["period"].astype(str)
    frame["zone"] = frame["zone"].astype(str)
    return StopSearchSummary(
        overview=ov,
        ethnicity=eth,
        officer_ethnicity=_shares(frame, "officer_ethnicity"),
        ethnicity_ratio=_ratios(eth, periods),
        outcomes=_count_by(frame, "outcome", "outcome"),
        objects=_count_by(frame, "object_of_search", "object_of_search"),
        legislation=_count_by(frame, "legislation", "legislation"),
        split_date=None if split is None else str(split.date()),
        notes=tuple(notes),
    )


def _placed(
    stops: pd.DataFrame, series: gpd.GeoSeries, split: pd.Timestamp | None, periods: list[str]
) -> pd.DataFrame:
    """The stops with ``zone`` and ``period`` (categoricals, so empty groups still count)."""
    import geopandas as gpd
    import shapely

    frame = stops.copy()
    located = frame["lat"].notna().to_numpy()
    inside = np.zeros(len(frame), dtype=bool)
    if located.any() and len(series):
        pts = gpd.GeoSeries(
            gpd.points_from_xy(frame.loc[located, "lon"], frame.loc[located, "lat"]), crs=4326
        ).to_crs(series.crs)
        zone = shapely.union_all(np.asarray(series.to_numpy(), dtype=object))
        inside[located] = shapely.intersects(zone, np.asarray(pts.to_numpy(), dtype=object))
    frame["zone"] = np.where(inside, ZONES[0], np.where(located, ZONES[1], ZONES[2]))
    if split is None:
        frame["period"] = "all"
    else:
        frame["period"] = np.where(frame["date"] < split, "before", "during")
    frame["period"] = pd.Categorical(frame["period"], categories=periods)
    frame["zone"] = pd.Categorical(frame["zone"], categories=list(ZONES))
    return frame


def _overview(frame: pd.DataFrame) -> pd.DataFrame:
    """Stops, finds, no further action and arrests per period and zone, with their rates."""
    linked = frame["outcome_linked"]
    counts = pd.DataFrame(
        {
            "period": frame["period"],
            "zone": frame["zone"],
            "_known": linked.notna().astype(int),
            "_found": linked.fillna(False).astype(bool).astype(int),
            "_nfa": (frame["outcome_group"] == "No further action").astype(int),
            "_arrest": (frame["outcome_group"] == "Arrest").astype(int),
        }
    )
    g = counts.groupby(["period", "zone"], observed=False)
    ov = pd.DataFrame(
        {
            "stops": g.size(),
            "linked_known": g["_known"].sum(),
            "found": g["_found"].sum(),
            "no_further_action": g["_nfa"].sum(),
            "arrests": g["_arrest"].sum(),
        }
    ).reset_index()
    per_period = ov.groupby("period", observed=False)["stops"].transform("sum")
    ov["share_of_stops"] = _rate(ov["stops"], per_period)
    ov["find_rate"] = _rate(ov["found"], ov["stops"])
    ov["nfa_rate"] = _rate(ov["no_further_action"], ov["stops"])
    ov["arrest_rate"] = _rate(ov["arrests"], ov["stops"])
    for c in ("period", "zone"):
        ov[c] = ov[c].astype(str)
    return ov[
        ["period", "zone", "stops", "share_of_stops", "linked_known", "found", "find_rate",
         "no_further_action", "nfa_rate", "arrests", "arrest_rate"]
    ]  # fmt: skip


def _shares(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    """Stops per period, zone and group of ``col``, with each group's share of the zone's stops."""
    t = frame.groupby(["period", "zone", col], observed=True).size().rename("stops").reset_index()
    total = t.groupby(["period", "zone"], observed=True)["stops"].transform("sum")
    t["share"] = _rate(t["stops"], total)
    t = t.rename(columns={col: "group"})
    for c in ("period", "zone"):
        t[c] = t[c].astype(str)
    return t.sort_values(
        ["period", "zone", "stops", "group"], ascending=[True, True, False, True], kind="stable"
    ).reset_index(drop=True)


def _ratios(eth: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
    """Each group's share of stops in the patrol areas over its share in the rest of the force."""
    rows = []
    for p in periods:
        mine = eth[eth["period"] == p]
        a = mine[mine["zone"] == ZONES[0]].set_index("group")["share"]
        b = mine[mine["zone"] == ZONES[1]].set_index("group")["share"]
        for grp in sorted(set(a.index) | set(b.index)):
            sa = float(a.get(grp, 0.0))
            sb = float(b.get(grp, 0.0))
            rows.append(
                {
                    "period": p,
                    "group": grp,
                    "share_patrol_areas": sa,
                    "share_rest_of_force": sb,
                    "ratio": sa / sb if sb > 0 else float("nan"),
                }
            )
    columns = ["period", "group", "share_patrol_areas", "share_rest_of_force", "ratio"]
    return pd.DataFrame(rows, columns=columns)


def _period_note(ov: pd.DataFrame, period: str, n_areas: int) -> str:
    o = ov[ov["period"] == period].set_index("zone")
    n_in, n_all = int(o.loc[ZONES[0], "stops"]), int(o["stops"].sum())
    when = "" if period == "all" else f" {period} the operation"
    if not n_all:
        return f"Stop and search{when}: no stops."
    return (
        f"Stop and search{when}: {n_in:,} of {n_all:,} stops ({100 * n_in / n_all:.0f}%) were "
        f"inside the {n_areas} patrol areas."
    )
