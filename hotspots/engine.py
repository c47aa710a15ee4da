"""Where the analysis runs: in this process (the default) or on a Dask cluster.

The local engine needs nothing beyond the core dependencies. The Dask engine
(``pip install 'hotspots[dask]'``) runs the same analysis on a ``dask.distributed`` cluster
when the data outgrow one machine's cores or memory for the heavy steps:

* **ingest** is partitioned by file: each worker reads and validates files with
  :func:`hotspots.ingest.read_file`, and :func:`hotspots.ingest.combine_files` applies the rules
  over all files (duplicates across files, analysis CRS, outliers, study area, filters) where the
  client gathers them, so the :class:`~hotspots.incidents.IngestReport` is the local one;
* **kernel density** is partitioned by spatial tiles: each tile's surface is
  :func:`hotspots.kde.density_surface` of the tile's points plus a halo one kernel wide, cropped
  to the tile (:func:`tiled_density_surface`), so both engines share the arithmetic;
* **DBSCAN** is partitioned by spatial tiles with an ``eps`` halo: core points are decided by
  the tile that owns them, each tile's core components are merged across tiles by union-find on
  the core points tiles share, and border points take the lowest cluster number among their
  core neighbours, as scikit-learn numbers them (:func:`tiled_dbscan`);
* **Gi*** (the hot spot detector and the change-over-time classes) builds its sparse grid by
  spatial tiles with a halo one baseline window wide: each tile's cells, their shares of the
  study area and neighbour lists (:func:`tiled_gistar_grid`); the counts, z-scores and false
  discovery families, which are global, are computed once on the client, identical to the
  local engine's.

Everything else (bandwidth rules, thresholds, polygons, ranking, the surroundings test) runs on
the client, on the gathered results. Detectors ask :func:`current_engine` for the engine of the
calling context; :func:`use` sets it::

    with use("dask", scheduler="tcp://scheduler:8786"):
        incidents = read_incidents("data/")
        result = detect(incidents, "kde")

``hotspots detect ... --engine dask --scheduler ADDRESS`` does the same; docs/scale-out.md says
how to run a cluster and what was measured.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from hotspots import gistar, ingest, kde
from hotspots._errors import ParameterError
from hotspots.grid import DEFAULT_TILE_SIZE, DensitySurface
from hotspots.incidents import Incidents
from hotspots.progress import READING, Progress, progress_step

__all__ = [
    "DBSCAN_TILE_EPS",
    "ENGINES",
    "GISTAR_TILE_CELLS",
    "KDE_BLOCK_TILES",
    "DaskEngine",
    "InProcess",
    "Runner",
    "current_engine",
    "engine_record",
    "read_incidents",
    "redact_address",
    "tiled_dbscan",
    "tiled_density_surface",
    "tiled_gistar_grid",
    "use",
]

#: The engines: ``"local"`` (this process, the default) and ``"dask"`` (a Dask cluster).
ENGINES = ("local", "dask")

#: Kernel density tiles are this many surface tiles a side (64 cells each by default, so
#: 512 cells: 12.8 km at a 25 m cell); a tile's halo is one kernel radius.
KDE_BLOCK_TILES = 8

#: DBSCAN tiles are this many ``eps`` a side (3 km at the 75 m default); the halo is ``eps``.
DBSCAN_TILE_EPS = 40

#: Gi* tiles are this many grid cells a side (38.4 km at the 150 m default); the halo is the
#: baseline window's half-width (two cells by default).
GISTAR_TILE_CELLS = 256

#: Distinct locations queried at a time inside a DBSCAN tile (bounds one tile's neighbour lists).
_QUERY_BLOCK = 8192

_CURRENT: contextvars.ContextVar[DaskEngine | None] = contextvars.ContextVar(
    "hotspots_engine", default=None
)


class Runner(Protocol):
    """What the tiled algorithms need from an engine: run one function over many inputs."""

    def map(self, fn: Callable[..., Any], *iterables: Sequence[Any]) -> list[Any]:
        """``[fn(*args) for args in zip(*iterables)]``, in order, wherever the engine runs it."""
        ...


class InProcess:
    """A :class:`Runner` that runs every tile here, one after the other (tests, small data)."""

    def map(self, fn: Callable[..., Any], *iterables: Sequence[Any]) -> list[Any]:
        """``[fn(*args) for args in zip(*iterables)]``."""
        return [fn(*args) for args in zip(*iterables, strict=True)]


def _shared(runner: Runner, value: Any) -> Any:
    """``value`` sent once to every worker when the runner can (a large argument of every
    tile), else itself."""
    share = getattr(runner, "share", None)
    return value if share is None else share(value)


# --------------------------------------------------------------------------------------------
# Choosing the engine
# --------------------------------------------------------------------------------------------


def current_engine() -> DaskEngine | None:
    """The Dask engine of the calling context (set by :func:`use`), None for the local engine."""
    return _CURRENT.get()


@contextlib.contextmanager
def use(engine: str | DaskEngine = "local", scheduler: Any = None) -> Iterator[DaskEngine | None]:
    """Run what is inside the ``with`` block on an engine.

    Parameters
    ----------
    engine : {"local", "dask"} or DaskEngine, default "local"
        ``"dask"`` connects to ``scheduler`` for the block and closes the connection after it;
        a :class:`DaskEngine` is used as it is (and left open).
    scheduler : str or distributed.Client, optional
        The Dask scheduler's address (``"tcp://10.0.0.5:8786"``) or a client; None starts a
        ``distributed.LocalCluster`` on this machine. Only with ``engine="dask"``.

    Yields
    ------
    DaskEngine or None
        The engine in use (None: local).

    Raises
    ------
    ParameterError
        An unknown engine, a scheduler with the local engine, or Dask not installed.
    """
    if isinstance(engine, DaskEngine):
        if scheduler is not None:
            msg = "scheduler= is given by the DaskEngine itself; pass one or the other."
            raise ParameterError(msg)
        token = _CURRENT.set(engine)
        try:
            yield engine
        finally:
            _CURRENT.reset(token)
        return
    if engine not in ENGINES:
        msg = f"engine must be one of {list(ENGINES)}, not {engine!r}."
        raise ParameterError(msg)
    if engine == "local":
        if scheduler is not None:
            msg = "scheduler= needs engine='dask' (the local engine runs in this process)."
            raise ParameterError(msg)
        token = _CURRENT.set(None)
        try:
            yield None
        finally:
            _CURRENT.reset(token)
        return
    with DaskEngine(scheduler) as running, use(running):
        yield running


def engine_record() -> dict[str, Any]:
    """Where the analysis of the calling context runs, for the run record of every export.

    Returns
    -------
    dict
        ``{"engine": "local"}``, or ``{"engine": "dask", "scheduler": ..., "n_workers": ...}``
        with the scheduler's scheme and host only (``"tcp://10.0.0.5"``: no port, user name or
        password) or ``"local cluster"`` for one the engine started itself, and the workers
        connected when the record was made (:meth:`DaskEngine.describe`).
    """
    running = current_engine()
    if running is None:
        return {"engine": "local"}
    return running.describe()


def redact_address(address: str) -> str:
    """A scheduler address as ``scheme://host``: its port, user, password and path left out.

    Parameters
    ----------
    address : str
        A Dask address (``"tcp://user:secret@10.0.0.5:8786"``, ``"tls://host:8786"``,
        ``"inproc://10.0.0.5/1234/1"``, or a bare ``"host:8786"``).

    Returns
    -------
    str

    Examples
    --------
    >>> redact_address("tcp://user:secret@10.0.0.5:8786")
    'tcp://10.0.0.5'
    >>> redact_address("scheduler.example.org:8786")
    'tcp://scheduler.example.org'
    """
    text = str(address).strip()
    if "://" not in text:
        text = "tcp://" + text
    parsed = urllib.parse.urlsplit(text)
    host = parsed.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{parsed.scheme}://{host}"


def read_incidents(sources: Any, **kwargs: Any) -> Incidents:
    """:func:`hotspots.ingest.read_incidents` on the engine of the calling context.

    Parameters
    ----------
    sources, **kwargs
        As :func:`hotspots.ingest.read_incidents`.

    Returns
    -------
    Incidents
        The same incidents and report on either engine.
    """
    running = current_engine()
    if running is None:
        return ingest.read_incidents(sources, **kwargs)
    return running.read_incidents(sources, **kwargs)


# --------------------------------------------------------------------------------------------
# The Dask engine
# --------------------------------------------------------------------------------------------


class DaskEngine:
    """A connection to a Dask cluster that runs ingest, kernel density and DBSCAN by partitions.

    Parameters
    ----------
    scheduler : str or distributed.Client, optional
        The scheduler's address, or a connected client (kept open on :meth:`close`). None starts
        a ``distributed.LocalCluster`` on this machine (one single-threaded worker process per
        core), closed with the engine.
    kde_block_tiles : int, default :data:`KDE_BLOCK_TILES`
        Kernel density tiles, in surface tiles a side.
    dbscan_tile_eps : float, default :data:`DBSCAN_TILE_EPS`
        DBSCAN tiles, in multiples of ``eps`` a side (at least 2).
    gistar_tile_cells : int, default :data:`GISTAR_TILE_CELLS`
        Gi* tiles, in grid cells a side.

    Notes
    -----
    Use it as a context manager (``with DaskEngine(address) as engine, use(engine): ...``) or
    call :meth:`close`. Workers need hotspots and its dependencies at the client's versions, and
    must see input files at the paths the client names (a shared file system or the same
    layout on every machine). Dask is imported only when the engine connects.
    """

    def __init__(
        self,
        scheduler: Any = None,
        *,
        kde_block_tiles: int = KDE_BLOCK_TILES,
        dbscan_tile_eps: float = DBSCAN_TILE_EPS,
        gistar_tile_cells: int = GISTAR_TILE_CELLS,
    ) -> None:
        if int(kde_block_tiles) < 1:
            msg = f"kde_block_tiles must be at least 1, not {kde_block_tiles!r}."
            raise ParameterError(msg)
        if not float(dbscan_tile_eps) >= 2:
            msg = f"dbscan_tile_eps must be at least 2, not {dbscan_tile_eps!r}."
            raise ParameterError(msg)
        if int(gistar_tile_cells) < 1:
            msg = f"gistar_tile_cells must be at least 1, not {gistar_tile_cells!r}."
            raise ParameterError(msg)
        self.scheduler = scheduler
        self.gistar_tile_cells = int(gistar_tile_cells)
        self.kde_block_tiles = int(kde_block_tiles)
        self.dbscan_tile_eps = float(dbscan_tile_eps)
        self._client: Any = None
        self._owned: list[Any] = []  # what close() shuts: our client and local cluster

    # ---------------------------------------------------------------------- connection
    def __enter__(self) -> DaskEngine:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (connecting on first use)."""
        if self._client is None:
            self.connect()
        return self._client

    def connect(self) -> None:
        """Connect to the scheduler (or start a local cluster); nothing when connected."""
        if self._client is not None:
            return
        try:
            import distributed
        except ImportError as exc:
            msg = (
                "The Dask engine needs Dask: pip install 'hotspots[dask]' "
                "(dask and distributed), or use the local engine."
            )
            raise ParameterError(msg) from exc
        if isinstance(self.scheduler, distributed.Client):
            self._client = self.scheduler
            return
        if self.scheduler is None:
            cluster = distributed.LocalCluster(threads_per_worker=1, dashboard_address=":0")
            self._owned.append(cluster)
            self._client = distributed.Client(cluster)
        else:
            try:
                self._client = distributed.Client(str(self.scheduler), timeout="30s")
            except OSError as exc:
                msg = (
                    f"Could not reach the Dask scheduler at {self.scheduler!r} ({exc}). Check "
                    "the address (tcp://HOST:8786) and that dask scheduler is running."
                )
                raise ParameterError(msg) from exc
        self._owned.insert(0, self._client)

    def close(self) -> None:
        """Close the client and the local cluster this engine started (not a given client)."""
        for thing in self._owned:
            thing.close()
        self._owned = []
        self._client = None

    def n_workers(self) -> int:
        """Workers connected to the scheduler now."""
        return len(self.client.scheduler_info()["workers"])

    def describe(self) -> dict[str, Any]:
        """This engine in the run record (:func:`engine_record`): scheduler and workers."""
        if self.scheduler is None:
            where = "local cluster"
        else:
            where = redact_address(self.client.scheduler.address)
        return {"engine": "dask", "scheduler": where, "n_workers": self.n_workers()}

    # ---------------------------------------------------------------------- running tasks
    def map(self, fn: Callable[..., Any], *iterables: Sequence[Any]) -> list[Any]:
        """``[fn(*args) for args in zip(*iterables)]`` on the cluster's workers, in order."""
        if not iterables or not len(iterables[0]):
            return []
        futures = self.client.map(fn, *iterables, pure=False)
        return list(self.client.gather(futures))

    def share(self, value: Any) -> Any:
        """``value`` on every worker, once (a future to pass to :meth:`map` in its place)."""
        return self.client.scatter(value, broadcast=True)

    # ---------------------------------------------------------------------- the analysis
    def read_incidents(
        self,
        sources: Any,
        *,
        columns: Mapping[str, str | None] | None = None,
        unreadable_dates: str = "auto",
        progress: Progress | None = None,
        coordinate_crs: Any = None,
        date_order: str = "auto",
        **combine: Any,
    ) -> Incidents:
        """:func:`hotspots.ingest.read_incidents`, each file read and validated on a worker.

        Parameters
        ----------
        sources : paths, folders, (name, bytes) pairs
            As :func:`hotspots.ingest.read_incidents`. A path is read by the worker at the
            same path (folders are listed here, on the client).
        columns, unreadable_dates, progress, coordinate_crs, date_order
            As :func:`hotspots.ingest.read_incidents` (``progress``: file i of n as they come).
        **combine
            The rest of :func:`hotspots.ingest.read_incidents`'s arguments (crime types, dates,
            study area, CRS, outliers, harm weights), applied by
            :func:`hotspots.ingest.combine_files` on the client.

        Returns
        -------
        Incidents
            Equal to the local read: same rows, same report (used, filtered and rejected rows
            with file, line and reason).
        """
        import distributed

        items = ingest.list_sources(sources)
        futures = [
            self.client.submit(
                ingest.read_file,
                name,
                load,
                columns=columns,
                unreadable_dates=unreadable_dates,
                coordinate_crs=coordinate_crs,
                date_order=date_order,
                pure=False,
            )
            for name, load in items
        ]
        files: list[Any] = [None] * len(futures)
        where = {f.key: i for i, f in enumerate(futures)}
        try:
            with progress_step(progress, READING, len(futures)) as file_read:
                for future in distributed.as_completed(futures):
                    files[where[future.key]] = future.result()  # a worker's error is raised here
                    file_read()
        finally:
            for future in futures:
                future.cancel()
        return ingest.combine_files(files, progress=progress, skipped=items.skipped, **combine)

    def density_surface(
        self,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        **kwargs: Any,
    ) -> DensitySurface:
        """:func:`hotspots.kde.density_surface` by spatial tiles on the cluster.

        Parameters
        ----------
        x, y, weights, **kwargs
            As :func:`hotspots.kde.density_surface`.

        Returns
        -------
        DensitySurface
            Equal to the local surface cell by cell (to float round-off).
        """
        return tiled_density_surface(
            x, y, weights, runner=self, block_tiles=self.kde_block_tiles, **kwargs
        )

    def dbscan_locations(
        self, pts: np.ndarray, w: np.ndarray, eps: float, min_samples: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted DBSCAN of distinct locations by spatial tiles on the cluster.

        Parameters
        ----------
        pts : ndarray, shape (m, 2)
            Distinct locations, metres, in order of first occurrence.
        w : ndarray, shape (m,)
            The weight on each location (incidents, or harm).
        eps, min_samples : float
            As :func:`hotspots.clusters.weighted_dbscan`.

        Returns
        -------
        labels, is_core, neighbourhood_weights : ndarray
            See :func:`tiled_dbscan`.
        """
        tile_m = self.dbscan_tile_eps * float(eps)
        return tiled_dbscan(pts, w, eps, min_samples, tile_m=tile_m, runner=self)

    def gistar_grid(
        self,
        xy: np.ndarray,
        study_area: Any,
        *,
        cell_size: float,
        neighbour_distance: float,
        baseline_distance: float,
    ) -> gistar.GiStarGrid:
        """:class:`hotspots.gistar.GiStarGrid` by spatial tiles on the cluster.

        Parameters
        ----------
        xy, study_area, cell_size, neighbour_distance, baseline_distance
            As :class:`hotspots.gistar.GiStarGrid`.

        Returns
        -------
        hotspots.gistar.GiStarGrid
            The grid of the local engine: same cells, shares and neighbour lists, so Gi*'s
            sums, z-scores and false discovery families are the same to the last bit.
        """
        return tiled_gistar_grid(
            xy,
            study_area,
            cell_size=cell_size,
            neighbour_distance=neighbour_distance,
            baseline_distance=baseline_distance,
            tile_cells=self.gistar_tile_cells,
            runner=self,
        )


# --------------------------------------------------------------------------------------------
# Gi* by tiles
# --------------------------------------------------------------------------------------------


def tiled_gistar_grid(
    xy: np.ndarray,
    study_area: Any,
    *,
    cell_size: float,
    neighbour_distance: float,
    baseline_distance: float,
    tile_cells: int = GISTAR_TILE_CELLS,
    runner: Runner | None = None,
) -> gistar.GiStarGrid:
    """:class:`hotspots.gistar.GiStarGrid`, built tile by tile with a halo one window wide.

    Parameters
    ----------
    xy, study_area, cell_size, neighbour_distance, baseline_distance
        As :class:`hotspots.gistar.GiStarGrid` (metres, analysis CRS).
    tile_cells : int, default :data:`GISTAR_TILE_CELLS`
        Side of a tile, in grid cells (raised to ``2 r + 1`` for a window of half-width ``r``).
    runner : Runner, optional
        Where the tiles run (a :class:`DaskEngine`); default here, one after the other.

    Returns
    -------
    hotspots.gistar.GiStarGrid
        Equal to ``GiStarGrid(xy, study_area, ...)`` in every array.

    Notes
    -----
    The occupied cells are found here (one integer key per incident's cell). Each tile owns
    the cells of a square of ``tile_cells`` cells a side and is given every occupied cell
    within ``r`` cells of it (``r``: the half-width of the baseline window, which is at least
    the neighbourhood's): those are all the occupied cells that can put one of its cells in
    the grid (a computed cell is within ``r`` of an occupied one) or add to its
    neighbourhood and window sums, and all the cells whose study-area shares its edge cells'
    window sizes need. The tile computes its cells' shares of the study area, neighbourhood and
    window sizes and where each occupied cell's count lands among them
    (:func:`hotspots.gistar.grid_part`: the work that grows with the study area's edge and
    the number of cells). The client puts the tiles' cells in key order and their neighbour
    lists in the occupied cells' order (:meth:`hotspots.gistar.GiStarGrid.from_parts`);
    nothing is summed across tiles. The counts, sums, z-scores and the Benjamini-Hochberg
    families, which need the study area's mean, variance and every cell's p-value, are then
    computed once, on the client, by the same code as the local engine's.
    """
    radius = gistar.window_radius(cell_size, neighbour_distance, baseline_distance)
    occ, occ_keys, inverse = gistar.occupied_cells(xy, cell_size)
    area = gistar.StudyAreaCells(study_area, cell_size, radius)
    span = max(int(tile_cells), 2 * radius + 1)
    tiles, members = _tile_members(occ[:, 0], occ[:, 1], span, radius) if len(occ) else ([], [])
    run = runner or InProcess()
    parts = run.map(
        _gistar_tile,
        [occ_keys[m] for m in members],
        [(a * span, b * span, (a + 1) * span, (b + 1) * span) for a, b in tiles],
        [_shared(run, area)] * len(tiles),
        [float(neighbour_distance)] * len(tiles),
    )
    return gistar.GiStarGrid.from_parts(
        parts, occ_keys, inverse, area, neighbour_distance=neighbour_distance
    )


def _gistar_tile(
    occupied_keys: np.ndarray,
    box: tuple[int, int, int, int],
    area: gistar.StudyAreaCells,
    neighbour_distance: float,
) -> gistar.GridPart:
    """One tile: the grid cells of its box (:func:`hotspots.gistar.grid_part`)."""
    return gistar.grid_part(occupied_keys, area, neighbour_distance=neighbour_distance, box=box)


# --------------------------------------------------------------------------------------------
# Kernel density by tiles
# --------------------------------------------------------------------------------------------


def tiled_density_surface(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    bandwidth: float,
    cell_size: float,
    kernel: str = "quartic",
    crs: Any = None,
    tile_size: int = DEFAULT_TILE_SIZE,
    block_tiles: int = KDE_BLOCK_TILES,
    runner: Runner | None = None,
    **options: Any,
) -> DensitySurface:
    """:func:`hotspots.kde.density_surface`, computed tile by tile with halos one kernel wide.

    Parameters
    ----------
    x, y, weights, bandwidth, cell_size, kernel, crs, tile_size
        As :func:`hotspots.kde.density_surface` (metres, analysis CRS).
    block_tiles : int, default :data:`KDE_BLOCK_TILES`
        Side of a work tile, in surface tiles (raised so a tile is wider than a kernel).
    runner : Runner, optional
        Where the tiles run (a :class:`DaskEngine`); default here, one after the other.
    **options
        Further keyword arguments of :func:`hotspots.kde.density_surface`, given to every tile.

    Returns
    -------
    DensitySurface
        The surface :func:`hotspots.kde.density_surface` returns for all points: same cell
        lattice (origin and tile size), same values to float round-off.

    Notes
    -----
    The grid is fixed first, as :func:`hotspots.kde.density_surface` fixes it (origin one
    kernel support below the lowest point, on multiples of the cell size; tile size raised to
    the kernel's footprint radius ``r`` cells). Work tiles are ``block_tiles`` surface tiles a
    side. A tile's cells receive kernels only from points whose cell is within ``r`` cells of
    the tile, so each tile runs :func:`hotspots.kde.density_surface` on those points (a halo of
    ``r + 1`` cells, one kernel wide and one cell of margin for points on a cell edge), and
    keeps its own cells: every surface tile belongs to one work tile, so nothing is summed
    across tiles. A cell's value is the same sum of the same kernels as in one run; only the
    order of the additions (and the cell offsets' last bits) differ.
    """
    support = kde.kernel_support(bandwidth, kernel)
    c = float(cell_size)
    r = max(1, math.ceil(support / c))
    t = int(tile_size)
    while t < r:
        t *= 2
    if options.get("method", "auto") == "auto":  # chosen for all points, not per tile
        n = int(np.size(x))
        options["method"] = kde.surface_method(n, bandwidth=bandwidth, cell_size=c, kernel=kernel)
    xd, yd, wd = kde.deduplicate(x, y, weights)
    if xd.size == 0:
        return kde.density_surface(
            xd, yd, wd, bandwidth=bandwidth, cell_size=c, kernel=kernel, crs=crs, tile_size=t,
            **options,
        )  # fmt: skip
    origin = (math.floor((xd.min() - support) / c) * c, math.floor((yd.min() - support) / c) * c)
    blocks = max(int(block_tiles), math.ceil((2 * r + 3) / t))  # a kernel spans <= 2 tiles
    span = blocks * t  # cells per work tile side
    ci = np.floor((xd - origin[0]) / c).astype(np.int64)
    cj = np.floor((yd - origin[1]) / c).astype(np.int64)
    keys, members = _tile_members(ci, cj, span, r + 1)
    surface = DensitySurface(cell_size=c, crs=crs, origin=origin, tile_size=t)
    parts = (runner or InProcess()).map(
        _surface_tile,
        [xd[m] for m in members],
        [yd[m] for m in members],
        [wd[m] for m in members],
        [(float(bandwidth), c, kernel, t, origin, blocks, int(a), int(b)) for a, b in keys],
        [options] * len(keys),
    )
    for part in parts:
        surface.tiles.update(part)
    return surface


def _tile_members(
    ci: np.ndarray, cj: np.ndarray, span: int, reach: int
) -> tuple[list[tuple[int, int]], list[np.ndarray]]:
    """Work tiles ``(a, b)`` (columns, rows of ``span`` cells) and the points within ``reach``
    cells of each (``2 reach < span``: a point is in at most 2 × 2 tiles)."""
    lo_a, hi_a = (ci - reach) // span, (ci + reach) // span
    lo_b, hi_b = (cj - reach) // span, (cj + reach) // span
    keys, groups, _ = _tile_groups(lo_a, lo_b, lo_a, hi_a, lo_b, hi_b)
    return keys, groups


def _tile_groups(
    home_a: np.ndarray,
    home_b: np.ndarray,
    lo_a: np.ndarray,
    hi_a: np.ndarray,
    lo_b: np.ndarray,
    hi_b: np.ndarray,
) -> tuple[list[tuple[int, int]], list[np.ndarray], list[int]]:
    """Points grouped by tile: each point in its home tile and in every other tile of its
    ``[lo_a, hi_a] × [lo_b, hi_b]`` range (at most 2 × 2, one step apart), once each.

    Returns the tiles ``(a, b)``, per tile the point indices (home points first, each part in
    increasing order), and per tile how many are at home. Integer sorts only.
    """
    idx = np.arange(len(home_a))
    cols_a, cols_b, cols_i = [home_a], [home_b], [idx]
    for a, b in ((lo_a, lo_b), (hi_a, lo_b), (lo_a, hi_b), (hi_a, hi_b)):
        other = (a != home_a) | (b != home_b)
        if a is hi_a:
            other &= hi_a != lo_a
        if b is hi_b:
            other &= hi_b != lo_b
        cols_a.append(a[other])
        cols_b.append(b[other])
        cols_i.append(idx[other])
    ta, tb, ti = np.concatenate(cols_a), np.concatenate(cols_b), np.concatenate(cols_i)
    home = np.repeat([True, False], [len(idx), len(ti) - len(idx)])
    a0, b0 = int(ta.min()), int(tb.min())
    key = (ta - a0) * (int(tb.max()) - b0 + 1) + (tb - b0)
    order = np.argsort(key, kind="stable")  # home rows come first within a tile
    key, ti, home = key[order], ti[order], home[order]
    starts = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    width = int(tb.max()) - b0 + 1
    tiles = [(int(k // width) + a0, int(k % width) + b0) for k in key[starts]]
    groups = np.split(ti, starts[1:])
    at_home = [int(h.sum()) for h in np.split(home, starts[1:])]
    return tiles, groups, at_home


def _surface_tile(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, spec: tuple[Any, ...], options: dict[str, Any]
) -> dict[tuple[int, int], np.ndarray]:
    """One work tile: the surface of its points (halo included), cropped to its own tiles."""
    bandwidth, c, kernel, t, origin, blocks, a, b = spec
    local = kde.density_surface(
        x, y, w, bandwidth=bandwidth, cell_size=c, kernel=kernel, tile_size=t, **options
    )
    span = blocks * t
    window = np.zeros((span, span))
    di = round((local.origin[0] - origin[0]) / c) - a * span  # local cell -> window column
    dj = round((local.origin[1] - origin[1]) / c) - b * span
    for (tr, tc), arr in local.tiles.items():
        c0, r0 = tc * t + di, tr * t + dj
        cs = slice(max(0, c0), min(span, c0 + t))
        rs = slice(max(0, r0), min(span, r0 + t))
        if cs.stop > cs.start and rs.stop > rs.start:
            window[rs, cs] += arr[rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0]
    out = {}
    for p in range(blocks):
        for q in range(blocks):
            part = window[p * t : (p + 1) * t, q * t : (q + 1) * t]
            if part.any():
                out[(b * blocks + p, a * blocks + q)] = part.copy()
    return out


# --------------------------------------------------------------------------------------------
# DBSCAN by tiles
# --------------------------------------------------------------------------------------------


def tiled_dbscan(
    pts: np.ndarray,
    w: np.ndarray,
    eps: float,
    min_samples: float,
    *,
    tile_m: float | None = None,
    runner: Runner | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted DBSCAN of distinct locations, tile by tile with an ``eps`` halo and a merge.

    Parameters
    ----------
    pts : ndarray, shape (m, 2)
        Distinct locations (metres), in order of first occurrence among the incidents.
    w : ndarray, shape (m,)
        Weight on each location (its incidents, or summed harm).
    eps : float
        Neighbourhood radius, metres (closed disc).
    min_samples : float
        A location is core when the weight within ``eps`` (itself included) is at least this.
    tile_m : float, optional
        Tile side in metres, at least ``2 × eps``; default ``DBSCAN_TILE_EPS × eps``.
    runner : Runner, optional
        Where the tiles run (a :class:`DaskEngine`); default here, one after the other.

    Returns
    -------
    labels : ndarray of int, shape (m,)
        Cluster per location, -1 for noise: the labels of
        :func:`hotspots.clusters.weighted_dbscan` (scikit-learn's on the raw points).
    is_core : ndarray of bool, shape (m,)
    neighbourhood_weights : ndarray of float, shape (m,)
        Weight within ``eps`` of each location, itself included.

    Notes
    -----
    Each location belongs to the tile holding it; a tile's halo is every location within
    ``eps`` of the tile (a box ``eps`` wider on each side), so a location's whole
    neighbourhood is in its tile. Two passes over the tiles:

    1. each tile sums the weight around its own locations: core status, as scikit-learn
       decides it (``sum >= min_samples``);
    2. with every location's core status known, each tile joins its core locations (its own
       and its halo's) into connected components within ``eps`` and returns one link per core
       location to its component's first location, and, per border location it owns, one core
       neighbour per component it touches.

    The client merges the links by union-find (connected components over all tiles' links:
    a core location in two tiles' halos joins their components), numbers clusters by their
    first core location (scikit-learn's discovery order on the raw points) and gives each
    border location the lowest cluster number among its core neighbours.
    """
    pts = np.asarray(pts, dtype=float).reshape(-1, 2)
    w = np.asarray(w, dtype=float).reshape(-1)
    m = len(pts)
    labels = np.full(m, -1, dtype=np.intp)
    if m == 0:
        return labels, np.zeros(0, dtype=bool), np.zeros(0)
    eps = float(eps)
    side = float(tile_m) if tile_m is not None else DBSCAN_TILE_EPS * eps
    if not side >= 2 * eps:
        msg = f"tile_m must be at least 2 × eps = {2 * eps:g} m, not {tile_m!r}."
        raise ParameterError(msg)
    run = runner or InProcess()
    tiles = _dbscan_tiles(pts, eps, side)
    coords = [pts[ids] for ids, _ in tiles]
    owned = [n for _, n in tiles]
    sums = run.map(_tile_weights, coords, [w[ids] for ids, _ in tiles], owned, [eps] * len(tiles))
    nbw = np.zeros(m)
    for (ids, n), s in zip(tiles, sums, strict=True):
        nbw[ids[:n]] = s
    is_core = nbw >= min_samples
    if not is_core.any():
        return labels, is_core, nbw
    links = run.map(
        _tile_links, coords, [is_core[ids] for ids, _ in tiles], owned, [eps] * len(tiles)
    )
    core_a, core_b, border, touch = [], [], [], []
    for (ids, _), (ca, cb, bl, bc) in zip(tiles, links, strict=True):
        core_a.append(ids[ca])
        core_b.append(ids[cb])
        border.append(ids[bl])
        touch.append(ids[bc])
    a, b = np.concatenate(core_a), np.concatenate(core_b)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(m, m))
    _, comp = connected_components(graph, directed=False)
    core_idx = np.flatnonzero(is_core)
    _, first_pos, dense = np.unique(comp[core_idx], return_index=True, return_inverse=True)
    rank = np.empty(len(first_pos), dtype=np.intp)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(len(first_pos))
    labels[core_idx] = rank[dense.reshape(-1)]
    bl, bc = np.concatenate(border), np.concatenate(touch)
    if len(bl):
        big = np.iinfo(np.intp).max
        best = np.full(m, big, dtype=np.intp)
        np.minimum.at(best, bl, labels[bc])
        hit = best != big
        labels[hit] = best[hit]
    return labels, is_core, nbw


def _dbscan_tiles(pts: np.ndarray, eps: float, side: float) -> list[tuple[np.ndarray, int]]:
    """Per tile: location indices (its own first, then its halo's) and how many it owns."""

    def tile(v: np.ndarray) -> np.ndarray:
        return np.floor(v / side).astype(np.int64)

    x, y = pts[:, 0], pts[:, 1]
    keys, groups, owned = _tile_groups(
        tile(x), tile(y), tile(x - eps), tile(x + eps), tile(y - eps), tile(y + eps)
    )  # side >= 2 eps: at most two tiles per axis
    return [(g, n) for g, n in zip(groups, owned, strict=True) if n]  # owning nothing: no work


def _neighbour_lists(pts: np.ndarray, n: int, eps: float) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, flat_pairs)`` blocks: each own location (first ``n``) with every location
    within ``eps`` (itself included), as rows ``(own, other)``."""
    tree = cKDTree(pts)
    for s in range(0, n, _QUERY_BLOCK):
        found = tree.query_ball_point(pts[s : min(n, s + _QUERY_BLOCK)], eps)
        lens = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
        other = np.concatenate([np.asarray(f, dtype=np.int64) for f in found])
        own = np.repeat(np.arange(s, s + len(found)), lens)
        yield s, np.column_stack([own, other])


def _tile_weights(pts: np.ndarray, w: np.ndarray, n: int, eps: float) -> np.ndarray:
    """Pass 1: the weight within ``eps`` of each of the tile's own locations."""
    out = np.zeros(n)
    for _, pairs in _neighbour_lists(pts, n, eps):
        out += np.bincount(pairs[:, 0], weights=w[pairs[:, 1]], minlength=n)
    return out


def _tile_links(
    pts: np.ndarray, core: np.ndarray, n: int, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2: core links (location, its component's first location) and border contacts
    (own border location, one core neighbour per component), as tile-local indices."""
    k = len(pts)
    a_list, b_list = [], []
    pair_list = []
    for _, pairs in _neighbour_lists(pts, n, eps):
        both = core[pairs[:, 0]] & core[pairs[:, 1]]
        a_list.append(pairs[both, 0])
        b_list.append(pairs[both, 1])
        pair_list.append(pairs[~core[pairs[:, 0]] & core[pairs[:, 1]]])
    a, b = np.concatenate(a_list), np.concatenate(b_list)
    graph = sparse.coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(k, k))
    _, comp = connected_components(graph, directed=False)
    cores = np.flatnonzero(core)
    first = np.full(int(comp.max()) + 1, k, dtype=np.int64)
    np.minimum.at(first, comp[cores], cores)
    link_a, link_b = cores, first[comp[cores]]
    border = np.concatenate(pair_list)
    if len(border):
        _, keep = np.unique(border[:, 0] * k + comp[border[:, 1]], return_index=True)
        border = border[keep]
    return link_a, link_b, border[:, 0], border[:, 1]
