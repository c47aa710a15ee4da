"""The files a source names: folders and their subfolders, zip archives, gzip-compressed files,
spreadsheet workbooks (one file per sheet, :mod:`hotspots.spreadsheets`).

police.uk's custom download is a zip archive of one folder per month
(``2024-01/2024-01-merseyside-street.csv``), with the force's outcomes and stop and search files
beside the street files when they were asked for. :func:`expand_sources` turns each source into
the incident files it holds, each as a name and a loader of its bytes (nothing is read until a
loader is called), and sets aside the police.uk files that are not incidents, each with the
reason (:class:`Skipped`), so a report can say which files were not read and why.

Examples
--------
>>> police_uk_kind("2024-01/2024-01-merseyside-outcomes.csv")
'outcomes'
>>> police_uk_kind("2024-01-merseyside-street.csv") is None
True
"""

from __future__ import annotations

import functools
import gzip
import io
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hotspots._errors import InputError
from hotspots.layers import crs_words, is_layer_name, layer_files
from hotspots.spreadsheets import OLE_MAGIC, is_spreadsheet_name, workbook_sheets

__all__ = [
    "EMPTY_FILE",
    "HIDDEN_FILE",
    "PARQUET_SUFFIXES",
    "POLICE_UK_OTHER_FILES",
    "SourceList",
    "Filled",
    "LayerCrs",
    "Skipped",
    "expand_sources",
    "folder_files",
    "folder_listing",
    "police_uk_kind",
]

Loader = Callable[[], bytes]

#: File suffixes of Parquet files (a Parquet dataset's parts may sit in subfolders).
PARQUET_SUFFIXES = (".parquet", ".pq")

#: police.uk files that are not incidents, by the end of their name: kind -> (suffix, why).
#: Outcomes files repeat the crimes of the street files (same Crime ID) with their outcome, so
#: reading them as incidents would count each crime again; stop and search files are searches,
#: not crimes (``hotspots plan --stop-search`` reads them to monitor searches in patrol areas).
POLICE_UK_OTHER_FILES = {
    "outcomes": (
        "-outcomes.csv",
        "a police.uk outcomes file: the outcomes of crimes already in the street files (the "
        "same Crime IDs), so its rows are not incidents",
    ),
    "stop-and-search": (
        "-stop-and-search.csv",
        "a police.uk stop and search file: searches, not incidents (give it to hotspots plan "
        "--stop-search or the patrol plan's stop and search upload to monitor searches)",
    ),
}

#: Spreadsheet files that cannot be read (named in the error when an archive holds only these).
_SPREADSHEETS = (".numbers",)

_ZIP_MAGIC = b"PK\x03\x04"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Skipped:
    """A file a source holds that is not read as incidents, and why."""

    name: str
    reason: str

    @property
    def note(self) -> str:
        """One sentence for the ingest report."""
        return f"{self.name} was not read: it is {self.reason}."


@dataclass(frozen=True)
class Filled(Skipped):
    """A sheet read whose merged cells down a column were filled with their value
    (:func:`hotspots.spreadsheets.fill_merged`): not a file set aside, a thing said of one read,
    carried with the skipped files so every reader of a :class:`SourceList` reports it."""

    ranges: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """One sentence for the ingest report."""
        shown = ", ".join(self.ranges[:5])
        more = f" and {len(self.ranges) - 5} more" if len(self.ranges) > 5 else ""
        return (
            f"{self.name}: merged cells down a column ({shown}{more}) hold their value in their "
            "first row only; each was read on every row of its range, as the sheet shows it."
        )


@dataclass(frozen=True)
class LayerCrs(Skipped):
    """A GIS point layer read (:mod:`hotspots.layers`) and the CRS its points were taken from
    (None: it names none): not a file set aside, a thing said of one read, carried with the
    skipped files as :class:`Filled` is."""

    crs: str | None = None

    @property
    def note(self) -> str:
        """One sentence for the ingest report."""
        if self.crs is None:
            return (
                f"{self.name}: a point layer that names no coordinate system (a shapefile "
                "without its .prj?); its x and y were read as any x/y columns are (longitude "
                "and latitude or British National Grid by their values, or the coordinate CRS "
                "given)."
            )
        return (
            f"{self.name}: a point layer in {crs_words(self.crs)}; its points were taken to "
            "longitude and latitude (EPSG:4326) from it. Its rows are numbered by feature (1: "
            "the first)."
        )


class SourceList(list[tuple[str, Loader]]):
    """``(name, loader)`` pairs of the incident files, in reading order, with ``skipped``: the
    :class:`Skipped` files the sources held that are not incidents."""

    def __init__(self, items: Iterable[tuple[str, Loader]] = (), skipped: Iterable[Skipped] = ()):
        super().__init__(items)
        self.skipped: list[Skipped] = list(skipped)


def police_uk_kind(name: str) -> str | None:
    """The kind of police.uk file that is not incidents (a key of
    :data:`POLICE_UK_OTHER_FILES`) that ``name`` is, by police.uk's naming; None otherwise."""
    low = PurePosixPath(str(name).replace("\\", "/")).name.lower()
    for kind, (suffix, _) in POLICE_UK_OTHER_FILES.items():
        if low.endswith(suffix):
            return kind
    return None


def _data_name(name: str) -> bool:
    """A CSV (also ``.csv.gz``), Parquet or spreadsheet workbook file's name."""
    low = PurePosixPath(str(name).replace("\\", "/")).name.lower()
    return (
        low.endswith((".csv", ".csv.gz"))
        or PurePosixPath(low).suffix in PARQUET_SUFFIXES
        or (is_spreadsheet_name(low) and not low.startswith("~$"))  # ~$: Excel's lock file
        or (is_layer_name(low) and not low.endswith(".gdb"))  # a .gdb is a folder
    )


def _in_gdb(rel: str) -> bool:
    """A path inside a File Geodatabase folder (its tables: the folder is the source)."""
    return any(part.lower().endswith(".gdb") for part in PurePosixPath(rel).parts[:-1])


def _layers(
    name: str, where: Path | bytes, inner: str = ""
) -> tuple[list[tuple[str, Loader]], list[Skipped]]:
    """A GIS file's point layers as incident files, its other layers set aside with the reason
    and each point layer's CRS said (:class:`LayerCrs`)."""
    found, skipped, crs = layer_files(name, where, inner)
    said = [LayerCrs(label, "read as a point layer", text) for label, text in crs.items()]
    return found, [Skipped(label, reason) for label, reason in skipped] + said


def _hidden(name: str) -> bool:
    """A hidden file's name (``.name``), or a name in a hidden folder or outside the folder
    (``../``)."""
    parts = PurePosixPath(str(name).replace("\\", "/")).parts
    return not parts or any(p.startswith(".") for p in parts)


def _apple_double(name: str) -> bool:
    """macOS's metadata beside a file (``._name``, or anything in ``__MACOSX``): never data,
    so left out unsaid (a zip made on a Mac holds one for every file)."""
    parts = PurePosixPath(str(name).replace("\\", "/")).parts
    return bool(parts) and (parts[-1].startswith("._") or "__MACOSX" in parts)


#: Why a CSV or Parquet file that is hidden is not read (named in the report, so no file of
#: data is left out unsaid).
HIDDEN_FILE = (
    "hidden (its name or a folder's starts with a dot, or it lies outside the folder): rename "
    "or move it to read it"
)


#: Why an Apple Numbers document in a folder is not read (named in the report).
NUMBERS_FILE = (
    "an Apple Numbers document, which this tool cannot read: in Numbers, choose File > "
    "Export To > CSV (or Excel) and give the exported file"
)


def folder_listing(path: str | Path) -> tuple[list[Path], list[Skipped]]:
    """The incident files of a folder and the police.uk files in it that are not incidents.

    The CSV (also gzip-compressed, ``.csv.gz``) and Parquet files (:data:`PARQUET_SUFFIXES`) in
    the folder and its subfolders (police.uk's download holds one folder per month; a Parquet
    dataset its parts), in the order of their paths relative to the folder; macOS's metadata
    files (``._name``, ``__MACOSX``) are left out. Hidden files and those in hidden folders
    (:data:`HIDDEN_FILE`) and police.uk's outcomes and stop and search
    files (:data:`POLICE_UK_OTHER_FILES`) and Apple Numbers documents (:data:`NUMBERS_FILE`)
    come back as :class:`Skipped`, named by their relative path.
    """
    root = Path(path)
    entries = list(root.rglob("*"))
    found = sorted(
        (
            p
            for p in entries
            if (p.is_file() and _data_name(p.name) and not _in_gdb(p.relative_to(root).as_posix()))
            or (p.is_dir() and p.name.lower().endswith(".gdb"))  # a File Geodatabase: one source
        ),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    files, skipped = [], []
    for p in entries:  # a Numbers document (a file, or a package folder) holds a table too
        rel = p.relative_to(root).as_posix()
        if p.name.lower().endswith(".numbers") and not _apple_double(rel):
            skipped.append(Skipped(rel, NUMBERS_FILE))
    for p in found:
        rel = p.relative_to(root).as_posix()
        if _apple_double(rel):
            continue
        if _hidden(rel):
            skipped.append(Skipped(rel, HIDDEN_FILE))
            continue
        kind = police_uk_kind(rel)
        if kind is None:
            files.append(p)
        else:
            skipped.append(Skipped(rel, POLICE_UK_OTHER_FILES[kind][1]))
    return files, skipped


def folder_files(path: str | Path) -> list[Path]:
    """The files :func:`hotspots.ingest.read_incidents` reads from a folder, in order.

    Its CSV, Parquet and workbook files and those of its subfolders (:func:`folder_listing`),
    without police.uk's outcomes and stop and search files.

    Parameters
    ----------
    path : str or Path
        A folder.

    Returns
    -------
    list of Path
    """
    return folder_listing(path)[0]


def _is_workbook(z: zipfile.ZipFile) -> bool:
    names = set(z.namelist())
    return "[Content_Types].xml" in names and any(n.startswith(("xl/", "word/")) for n in names)


_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def _is_spreadsheet_zip(z: zipfile.ZipFile) -> bool:
    """An Office Open XML workbook (``.xlsx``, ``.xlsm``, ``.xlsb``) or an OpenDocument
    spreadsheet (``.ods``), whatever its name."""
    names = z.namelist()
    if "mimetype" in names and z.read("mimetype").strip() == _ODS_MIME:
        return True
    return _is_workbook(z) and any(n.startswith("xl/") for n in names)


def _sheets(name: str, data: bytes) -> tuple[list[tuple[str, Loader]], list[Skipped]]:
    """A workbook's readable sheets as incident files, and the sheets not read."""
    filled: list[tuple[str, list[str]]] = []
    found, skipped = workbook_sheets(name, data, filled)
    said = [Filled(label, "read, its merged cells filled", tuple(r)) for label, r in filled]
    return found, [Skipped(label, reason) for label, reason in skipped] + said


def _workbook_bytes(data: bytes) -> bool:
    """Whether a file's bytes are a spreadsheet workbook, by its content (a CSV file named
    ``.xlsx`` is still read as CSV): an Excel 97-2003 file's OLE header, or a zip archive that
    is an Office Open XML workbook or an OpenDocument spreadsheet."""
    if data.startswith(OLE_MAGIC):
        return True
    if data[:4] == _ZIP_MAGIC:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return _is_spreadsheet_zip(z)
        except (zipfile.BadZipFile, OSError, KeyError):
            return False
    return False


def _damaged_zip(name: str, exc: Exception) -> InputError:
    """The error for a zip archive that cannot be opened, in a workbook's words when it is
    named as one (an ``.xlsx`` is a zip archive)."""
    if is_spreadsheet_name(name):
        msg = f"The workbook cannot be read: its zip archive is damaged or cut short ({exc})."
        hint = "copy or download the workbook again, or open it and save it again."
        return InputError(msg, file=name, hint=hint)
    msg = f"The zip archive cannot be read ({exc})."
    return InputError(msg, file=name, hint="download or copy the archive again.")


def _not_numbers(name: str, members: list[str]) -> None:
    """Refuse an Apple Numbers document: a zip archive of its own (``Index/*.iwa`` parts)."""
    if any(m.startswith("Index/") and m.endswith(".iwa") for m in members):
        msg = "The file is an Apple Numbers document, which this tool cannot read."
        raise InputError(msg, file=name, hint=NUMBERS_FILE.split(": ", 1)[1] + ".")


def _with_gdbs(members: list[str], every: list[str]) -> list[str]:
    """A zip archive's data members with each File Geodatabase folder in it as one (its
    tables are not files of their own)."""
    gdbs = {
        "/".join(PurePosixPath(m).parts[: i + 1])
        for m in every
        for i, part in enumerate(PurePosixPath(m).parts[:-1])
        if part.lower().endswith(".gdb")
    }
    return sorted([m for m in members if not _in_gdb(m)] + list(gdbs))


def _inner_files(
    label: str, member: str, load: Loader, where: Path | bytes | None
) -> tuple[list[tuple[str, Loader]], list[Skipped]] | None:
    """A zip member that holds files of its own, listed now: a GIS file's point layers (GDAL
    reads it in the archive, ``where``), a workbook's sheets; None for any other member."""
    if is_layer_name(member) and where is not None:
        return _layers(label, where, "/vsizip/{}/" + member)
    if is_spreadsheet_name(member):
        data = load()
        if _workbook_bytes(data):
            return _sheets(label, data)
        return [(label, functools.partial(bytes, data))], []  # not a workbook: as text
    return None


def _zip_members(
    name: str, opener: Callable[[], zipfile.ZipFile], where: Path | bytes | None = None
) -> tuple[list[tuple[str, Loader]], list[Skipped]] | None:
    """The incident files in a zip archive, or None when it is a workbook (the reader then
    says it is not a CSV file). ``where`` (the archive's path or bytes) lets GDAL read the GIS
    layers in it (a zipped shapefile: :mod:`hotspots.layers`)."""
    try:
        with opener() as z:
            if _is_workbook(z) or _is_spreadsheet_zip(z):
                return None
            infos = [i for i in z.infolist() if not i.is_dir()]
            every = [i.filename for i in infos]
            members = sorted(m for m in every if _data_name(m) and not _apple_double(m))
            members = _with_gdbs(members, every)
            empty = {i.filename for i in infos if i.file_size == 0}
    except (zipfile.BadZipFile, OSError) as exc:
        raise _damaged_zip(name, exc) from exc
    _not_numbers(name, every)
    items: list[tuple[str, Loader]] = []
    skipped = []
    if set(members) <= empty:
        empty = set()  # nothing else to read: the reader says they are empty
    for m in members:
        label = f"{name}/{m}"
        if m in empty:
            skipped.append(Skipped(label, EMPTY_FILE))
            continue
        if _hidden(m):
            skipped.append(Skipped(label, HIDDEN_FILE))
            continue
        kind = police_uk_kind(m)
        if kind is not None:
            skipped.append(Skipped(label, POLICE_UK_OTHER_FILES[kind][1]))
            continue

        def load(member: str = m, label: str = label) -> bytes:
            try:
                with opener() as z:
                    return _unzip_member(z, member)
            except (zipfile.BadZipFile, OSError, KeyError, EOFError, zlib.error) as exc:
                msg = f"Could not read the file from its zip archive ({exc})."
                raise InputError(
                    msg, file=label, hint="download or copy the archive again."
                ) from exc

        inside = _inner_files(label, m, load, where)
        if inside is not None:  # a GIS file's layers, a workbook's sheets, read now
            items.extend(inside[0])
            skipped.extend(inside[1])
            continue
        items.append((label, load))
    sheets = [m for m in every if m.lower().endswith(_SPREADSHEETS)]
    if not items and not skipped and sheets:
        shown = ", ".join(sheets[:3]) + (" ..." if len(sheets) > 3 else "")
        msg = f"The zip archive holds spreadsheets ({shown}), not CSV files."
        raise InputError(
            msg, file=name, hint="open each in its spreadsheet program and save it as CSV (UTF-8)."
        )
    inner = [m for m in every if m.lower().endswith(".zip")]
    if not items and not skipped and inner:
        shown = ", ".join(inner[:3]) + (" ..." if len(inner) > 3 else "")
        msg = f"The zip archive holds other zip archives ({shown}), not CSV files."
        raise InputError(msg, file=name, hint="unpack the archive and give the archives inside.")
    if not items:
        msg = "The zip archive holds no .csv, Parquet or spreadsheet file of incidents."
        raise InputError(
            msg,
            file=name,
            hint="give the archive police.uk's download made (its street files), or the CSV files.",
        )
    return items, skipped


def _unzip_member(z: zipfile.ZipFile, member: str) -> bytes:
    data = z.read(member)
    return gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data


def _gunzipped(name: str, load: Loader) -> tuple[str, Loader]:
    def unzip() -> bytes:
        try:
            return gzip.decompress(load())
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            msg = f"The gzip-compressed file cannot be decompressed ({exc})."
            raise InputError(msg, file=name, hint="download or copy the file again.") from exc

    return (name[:-3] if name.lower().endswith(".gz") else name), unzip


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(4)
    except OSError:
        return b""  # the loader reports it when the file is read


def expand_path(path: Path, name: str, load: Loader) -> tuple[list[tuple[str, Loader]], list]:
    """One file on disk as the incident files it holds: itself, a zip archive's members, or
    its decompressed bytes when gzip-compressed."""
    if is_layer_name(path.name):
        return _layers(name, path)
    head = _head(path)
    if head.startswith(_ZIP_MAGIC):
        found = _zip_members(name, lambda: zipfile.ZipFile(path), path)
        if found is not None:
            return found
        data = load()  # an Office file: read when it is a spreadsheet, else refused as binary
        if _workbook_bytes(data):
            return _sheets(name, data)
    elif head.startswith(OLE_MAGIC[:4]):
        data = load()
        if _workbook_bytes(data):
            return _sheets(name, data)
    elif head.startswith(_GZIP_MAGIC):
        return [_gunzipped(name, load)], []
    return [(name, load)], []


def expand_bytes(name: str, data: bytes) -> tuple[list[tuple[str, Loader]], list]:
    """An uploaded file's bytes as the incident files they hold (as :func:`expand_path`)."""
    if _workbook_bytes(data):
        return _sheets(name, data)
    if is_layer_name(name) and data[:4] != _ZIP_MAGIC:
        return _layers(name, data)
    if data[:4] == _ZIP_MAGIC:
        found = _zip_members(name, lambda: zipfile.ZipFile(io.BytesIO(data)), data)
        if found is not None:
            return found
    elif data[:2] == _GZIP_MAGIC:
        return [_gunzipped(name, lambda: data)], []
    return [(name, lambda: data)], []


#: Why Excel's lock file beside a workbook is not read (:func:`expand_sources`).
LOCK_FILE = (
    "Excel's lock file (~$), written while the workbook is open: it holds the name of whoever "
    "has it open, no rows"
)


def _lock_file(name: str, where: Path | bytes | None) -> bool:
    """Excel's (or LibreOffice's) lock file: a workbook's name after ``~$`` whose bytes are not
    a workbook's."""
    base = PurePosixPath(str(name).replace("\\", "/")).name
    if not (base.startswith("~$") and is_spreadsheet_name(base)):
        return False
    head = where[:8] if isinstance(where, bytes) else _head(where) if where is not None else b""
    return not head.startswith((_ZIP_MAGIC, OLE_MAGIC[:4]))


#: Why an empty file among others is not read (:func:`expand_sources`).
EMPTY_FILE = "empty (0 bytes), so it holds no rows"


def _is_empty(where: Path | bytes | None) -> bool:
    """Whether a file given by its path or bytes holds no bytes at all (a path that cannot be
    read is not: its loader reports it)."""
    if isinstance(where, bytes):
        return not where
    if isinstance(where, Path):
        try:
            return where.is_file() and where.stat().st_size == 0
        except OSError:
            return False
    return False


def expand_sources(
    items: Iterable[tuple[str, Loader, Path | bytes | None]],
) -> SourceList:
    """``(name, loader, where)`` triples (``where``: the file's path, its bytes, or None when
    only the loader can read it) as the incident files they hold, with the skipped files.

    A file of 0 bytes among other files (a failed download or copy in a folder) holds no
    rows, so it is set aside as :class:`Skipped` (:data:`EMPTY_FILE`) rather than stopping the
    read of the others; when every file is empty, the reader says so."""
    out = SourceList()
    triples = list(items)
    empty = [_is_empty(where) for _, _, where in triples]
    if all(empty):
        empty = [False] * len(triples)  # nothing else to read: the reader says they are empty
    locks = [_lock_file(name, where) for name, _, where in triples]
    if triples and all(locks):
        name = triples[0][0]
        msg = (
            "The file is Excel's lock file (~$), written while a workbook is open, not a workbook."
        )
        hint = f"give the workbook itself ({name.replace('~$', '', 1)!r}), not its lock file."
        raise InputError(msg, file=name, hint=hint)
    for (name, load, where), nothing, lock in zip(triples, empty, locks, strict=True):
        if lock:
            out.skipped.append(Skipped(name, LOCK_FILE))
            continue
        if nothing:
            out.skipped.append(Skipped(name, EMPTY_FILE))
            continue
        if isinstance(where, Path):
            found, skipped = expand_path(where, name, load)
        elif isinstance(where, bytes):
            found, skipped = expand_bytes(name, where)
        else:
            found, skipped = [(name, load)], []
        out.extend(found)
        out.skipped.extend(skipped)
    return out
