"""GIS point layers as incident files: GeoPackage, shapefile, GeoJSON, FlatGeobuf, File
Geodatabase.

Analysts coming from ArcGIS Pro or QGIS hold incidents as point layers. Each point layer of a
file is read as one incident file, named ``incidents.gpkg [layer]`` when the file holds
several layers (a file of one layer keeps its name); layers of polygons, lines or without
geometry are not incidents and are set aside with the reason, as a workbook's hidden sheets
are. GDAL reads the layers (``pyogrio``, already a dependency).

A layer becomes a table the reader validates with every rule of
:func:`hotspots.ingest.read_incidents`, handed over as Parquet bytes (its typed dates and
date-times stay exact, as a Parquet file's do):

* the attributes are its columns, read by the same rules (dates, times, crime types, ids);
* the geometry gives two columns: ``Longitude`` and ``Latitude`` (EPSG:4326, taken from the
  layer's CRS by pyproj, :func:`hotspots.crs.transformer`), or ``X`` and ``Y`` as stored when
  the layer names no CRS (a shapefile without its ``.prj``), which the reader places as it
  places any x/y pair (longitude/latitude or British National Grid by their values, or the
  ``coordinate_crs=`` given). Attributes of the same names are renamed ``... (attribute)``
  so the geometry is the one read;
* a null or empty geometry leaves both blank (the row is rejected as missing coordinates,
  with its fields); a multipoint of one point is that point; a multipoint of several points
  or a line or polygon in a point layer is rejected with what it is written in its coordinate
  fields (``a multipoint of 3 points``);
* a row's number is the feature's position (1 = the first feature), not a line's.

The features are read in batches (:data:`BATCH_FEATURES`) and written as they come, so a huge
GeoJSON holds one batch of GDAL's features in memory at a time beside the table written.

Examples
--------
>>> is_layer_name("crimes.gpkg"), is_layer_name("x.SHP"), is_layer_name("a.csv")
(True, True, False)
>>> geometry_kind("Polygon")
'a polygon layer'
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from hotspots._errors import InputError

__all__ = [
    "BATCH_FEATURES",
    "FIRST_LINE_KEY",
    "LAYER_SUFFIXES",
    "Layer",
    "crs_words",
    "geometry_kind",
    "is_layer_name",
    "layer_files",
]

Loader = Callable[[], bytes]

#: File suffixes of GIS files read as point layers (a ``.gdb`` is a folder: one source).
LAYER_SUFFIXES = (".gpkg", ".geojson", ".fgb", ".shp", ".gdb")

#: Features GDAL hands over at a time (bounds the memory of a huge GeoJSON's read).
BATCH_FEATURES = 65_536

#: Parquet key-value metadata naming the row number of a table's first row (a layer's rows
#: are numbered by feature, 1 first; a Parquet file's otherwise from 2, as a CSV's lines).
FIRST_LINE_KEY = b"hotspots.first_line"

_FORMATS = (
    "a GeoPackage, a shapefile (with its .dbf, .shx and .prj), GeoJSON, FlatGeobuf or a File "
    "Geodatabase"
)

#: Geometry types read as incidents ("Unknown": mixed, each feature not a point rejected).
_POINTS = {"Point", "MultiPoint", "Unknown"}


def is_layer_name(name: str) -> bool:
    """Whether a file's (or folder's) name is a GIS file read as point layers."""
    low = PurePosixPath(str(name).replace("\\", "/").rstrip("/")).name.lower()
    return low.endswith(LAYER_SUFFIXES)


def geometry_kind(geometry_type: str | None) -> str:
    """A layer's geometry type in words (``a polygon layer``)."""
    if not geometry_type:
        return "a table without geometry"
    base = geometry_type.replace("Multi", "").split(" ")[0].split("25D")[0].rstrip("ZM")
    words = {
        "Polygon": "polygon",
        "LineString": "line",
        "Point": "point",
        "GeometryCollection": "geometry collection",
        "Unknown": "mixed geometry",
        "CurvePolygon": "polygon",
        "CompoundCurve": "line",
        "CircularString": "line",
        "Surface": "polygon",
        "Curve": "line",
    }
    word = words.get(base, base.lower())
    return f"a {word} layer"


@contextlib.contextmanager
def _on_disk(data: bytes, name: str) -> Iterator[str]:
    """Bytes (an upload) in a temporary file named as the upload, for GDAL, removed after."""
    folder = tempfile.mkdtemp(prefix="hotspots-layer-")
    try:
        path = os.path.join(folder, PurePosixPath(name.replace("\\", "/")).name or "layer")
        with open(path, "wb") as f:
            f.write(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Layer:
    """One point layer of a GIS file: where GDAL opens it, its name, its CRS in words."""

    def __init__(self, label: str, where: str | bytes, inner: str, layer: str, crs: str | None):
        self.label = label
        self.where = where  # a path, or the bytes of an upload
        self.inner = inner  # GDAL's path inside it: "" or "/vsizip/...{}/member"
        self.layer = layer
        self.crs = crs

    @contextlib.contextmanager
    def _path(self) -> Iterator[str]:
        with _opened(self.where, self.label, self.inner) as path:
            yield path

    def __call__(self) -> bytes:
        with self._path() as path:
            try:
                return _layer_parquet(path, self.layer, self.crs)
            except _GDAL_ERRORS as exc:
                raise _gdal_error(self.label, exc, path) from None


@contextlib.contextmanager
def _opened(where: str | bytes, label: str, inner: str) -> Iterator[str]:
    """GDAL's path of a file given by path or bytes (``inner`` formats it: a zip's member)."""
    if isinstance(where, bytes):
        with _on_disk(where, label.split(" [")[0].split("/")[0]) as path:
            yield inner.format(path) if inner else path
    else:
        yield inner.format(where) if inner else where


def _gdal_errors() -> tuple[type[Exception], ...]:
    from pyogrio.errors import DataLayerError, DataSourceError  # type: ignore[import-untyped]
    from pyproj.exceptions import CRSError, ProjError

    return (DataLayerError, DataSourceError, OSError, shapely.errors.GEOSException, CRSError,
            ProjError)  # fmt: skip


#: What GDAL, GEOS and PROJ raise for a file they cannot read (any other exception is an
#: internal error, never disguised as bad input).
_GDAL_ERRORS = _gdal_errors()


def _gdal_error(label: str, exc: Exception, path: str = "") -> InputError:
    """GDAL's error for a file as bad input, named by the user's name for it (not the
    temporary file an upload is read from)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if path:
        text = text.replace(path, label).replace("/vsizip/", "")
    msg = f"The GIS file cannot be read ({text})."
    hint = (
        f"give {_FORMATS}; a shapefile needs its .shp, .shx and .dbf files side by side (or "
        "zipped together). Export the layer again from the GIS if it is damaged."
    )
    return InputError(msg, file=label, hint=hint)


def crs_words(text: str) -> str:
    """A layer's CRS as its name and code (``OSGB36 / British National Grid (EPSG:27700)``),
    for notes; the text itself when pyproj cannot read it."""
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(text)
        auth = crs.to_authority()
    except pyproj.exceptions.CRSError:
        return text
    return f"{crs.name} ({auth[0]}:{auth[1]})" if auth else crs.name


def _crs_text(info: dict[str, Any]) -> str | None:
    crs = info.get("crs")
    return str(crs) if crs else None


def layer_files(
    name: str, where: str | Path | bytes, inner: str = ""
) -> tuple[list[tuple[str, Loader]], list[tuple[str, str]], dict[str, str | None]]:
    """A GIS file's point layers as incident files, its other layers with the reason, and
    each point layer's CRS (None: the layer names none).

    Parameters
    ----------
    name : str
        The file's name as the user gave it (labels: ``name [layer]`` when several).
    where : str, Path or bytes
        Its path (a ``.gdb`` folder's, or a zip archive's) or its bytes (an upload).
    inner : str
        GDAL's path with ``{}`` for ``where``'s (``/vsizip/{}/shapes/crimes.shp``: a zip
        archive's member); "" for the file itself.

    Returns
    -------
    items : list of (label, loader)
        The loaders return Parquet bytes (:func:`_layer_parquet`).
    skipped : list of (label, reason)
    crs : dict
        label -> the layer's CRS as ``AUTHORITY:CODE`` or WKT, None without one.
    """
    import pyogrio  # type: ignore[import-untyped]

    where = str(where) if isinstance(where, Path) else where
    with _opened(where, name, inner) as path, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            listed = pyogrio.list_layers(path)
            infos = [pyogrio.read_info(path, layer=str(layer)) for layer, _ in listed]
        except _GDAL_ERRORS as exc:
            raise _gdal_error(name, exc, path) from None
    names = [str(layer) for layer, _ in listed]
    items: list[tuple[str, Loader]] = []
    skipped: list[tuple[str, str]] = []
    crs: dict[str, str | None] = {}
    for layer, info in zip(names, infos, strict=True):
        label = name if len(names) == 1 else f"{name} [{layer}]"
        kind = info.get("geometry_type")
        if str(kind or "").split(" ")[0] not in _POINTS:  # "Point Z", "Point ZM": points
            skipped.append((label, f"{geometry_kind(kind)}: not incidents"))
            continue
        if name.lower().endswith(".shp") and not len(info.get("fields", ())):
            # GDAL opens a .shp alone: its rows would lose every attribute (dates, types)
            msg = (
                "The shapefile's .dbf file (its attributes: dates, crime types, ids) is not "
                "beside it."
            )
            hint = "give the .shp with its .dbf, .shx and .prj side by side, or zipped together."
            raise InputError(msg, file=name, hint=hint)
        text = _crs_text(info)
        crs[label] = text
        items.append((label, Layer(label, where, inner, layer, text)))
    if not items and not skipped:
        msg = "The GIS file holds no layer."
        raise InputError(msg, file=name, hint=f"give {_FORMATS} holding a point layer.")
    return items, skipped, crs


def _attribute_name(name: str, taken: set[str]) -> str:
    """An attribute's column name, renamed when the geometry's columns take it."""
    if name.strip().lower() not in taken:
        return name
    return f"{name} (attribute)"


def _xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each feature's x and y (NaN where none) and what is wrong with it ("" where nothing:
    a point, a multipoint of one point, or no geometry at all, rejected as missing)."""
    n = len(geoms)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    why = np.full(n, "", dtype=object)
    kind = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms) | (kind < 0)
    point = (kind == 0) & ~empty
    multi = (kind == 4) & ~empty
    one = multi & (shapely.get_num_geometries(geoms) == 1)
    take = geoms.copy()
    take[one] = shapely.get_geometry(geoms[one], 0)
    ok = point | one
    x[ok] = shapely.get_x(take[ok])
    y[ok] = shapely.get_y(take[ok])
    several = multi & ~one
    counts = shapely.get_num_geometries(geoms[several])
    why[several] = [f"a multipoint of {c} points, not one point" for c in counts]
    other = ~empty & ~point & ~multi
    names = {1: "a line", 2: "a linear ring", 3: "a polygon", 5: "a multiline",
             6: "a multipolygon", 7: "a geometry collection"}  # fmt: skip
    why[other] = [f"{names.get(int(k), 'a geometry')}, not a point" for k in kind[other]]
    return x, y, why


def _wkb(chunk: pa.Array, path: str, layer: str, start: int) -> np.ndarray:
    """A batch's WKB values (None for none).

    GDAL 3.12's FlatGeobuf Arrow stream gets a batch's geometry offsets wrong after a null
    geometry (Arrow's validation fails); that batch's geometries are then read again through
    GDAL's feature by feature reader (``pyogrio.raw.read``).
    """
    try:
        chunk.validate(full=True)
        values = chunk.to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        from pyogrio.raw import read  # type: ignore[import-untyped]

        values = read(path, layer=layer, skip_features=start, max_features=len(chunk),
                      columns=[])[2]  # fmt: skip
    values = np.asarray(values, dtype=object)
    values[[v is not None and len(v) == 0 for v in values]] = None
    return values


def _layer_parquet(path: str, layer: str, crs: str | None) -> bytes:
    """One layer as Parquet bytes: its attributes, then its coordinates (module docstring),
    read in batches of :data:`BATCH_FEATURES`."""
    import pyogrio

    from hotspots.crs import transformer

    sink = io.BytesIO()
    writer: pq.ParquetWriter | None = None
    project = transformer(crs, "EPSG:4326") if crs else None
    cx, cy = ("Longitude", "Latitude") if crs else ("X", "Y")
    taken = {cx.lower(), cy.lower()}
    with (
        warnings.catch_warnings(),
        pyogrio.open_arrow(path, layer=layer, batch_size=BATCH_FEATURES, use_pyarrow=True) as (
            meta,
            reader,
        ),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)
        geometry = meta.get("geometry_name") or "wkb_geometry"
        start = 0  # the batch's first feature
        for batch in reader:
            table = pa.Table.from_batches([batch])
            column = table.column(geometry)
            if isinstance(column.type, pa.ExtensionType):  # geoarrow.wkb (FlatGeobuf)
                column = pa.chunked_array([c.storage for c in column.chunks])
            parts, at = [], start
            for chunk in column.chunks:
                parts.append(_wkb(chunk, path, layer, at))
                at += len(chunk)
            start = at
            geoms = shapely.from_wkb(np.concatenate(parts) if parts else np.array([], object))
            x, y, why = _xy(geoms)
            if project is not None and len(x):
                good = ~np.isnan(x)
                if good.any():
                    x[good], y[good] = project.transform(x[good], y[good])
            attrs = table.drop_columns([geometry])
            names = [_attribute_name(c, taken) for c in attrs.column_names]
            attrs = attrs.rename_columns(names)
            bad = why != ""
            xs = pa.array(x, pa.float64()).cast(pa.string())
            ys = pa.array(y, pa.float64()).cast(pa.string())
            if bad.any():
                xs = pa.array(np.where(bad, why, np.asarray(xs.to_pylist(), dtype=object)))
                ys = pa.array(np.where(bad, why, np.asarray(ys.to_pylist(), dtype=object)))
            nan = np.isnan(x) & ~bad
            if nan.any():  # no geometry: both blank, rejected as missing coordinates
                mask = pa.array(nan)
                xs = pc.if_else(mask, pa.scalar(None, pa.string()), xs)
                ys = pc.if_else(mask, pa.scalar(None, pa.string()), ys)
            out = attrs.append_column(cx, xs).append_column(cy, ys)
            if writer is None:
                schema = out.schema.with_metadata({FIRST_LINE_KEY: b"1"})
                writer = pq.ParquetWriter(sink, schema, compression="none")
            writer.write_table(out.cast(writer.schema))
        if writer is None:  # no feature: the columns only
            fields = [pa.field(_attribute_name(f.name, taken), pa.string())
                      for f in reader.schema if f.name != geometry]  # fmt: skip
            schema = pa.schema([*fields, pa.field(cx, pa.string()), pa.field(cy, pa.string())])
            writer = pq.ParquetWriter(sink, schema.with_metadata({FIRST_LINE_KEY: b"1"}))
    writer.close()
    return sink.getvalue()
