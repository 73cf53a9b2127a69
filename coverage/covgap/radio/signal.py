"""Received signal over the terrain: per-site rasters and best-server results.

For every site and every DEM cell within the scenario radius, the compiled
kernel (:func:`covgap.radio._raycast.signal_one`) computes

``RSRP = EIRP + receiver gain - median path loss(d) - diffraction loss``

where EIRP is the transmit power per reference signal plus antenna gain minus
cable loss (per-site overrides from ``sites.csv`` win over the scenario), the
median loss is :func:`covgap.radio.pathloss.median_loss_db` (free space, Okumura-Hata
or COST-231 Hata, tabulated every metre and interpolated), and the diffraction
loss is ITU-R P.526 knife-edge ``J(nu)`` over the path's obstructions: the
principal edge (largest elevation angle seen from the antenna, tracked
incrementally along each ray) and, for Deygout, up to two secondary edges
(the previous principal edge on the transmitter side, the edge of largest
angle seen from the principal edge on the receiver side). The rule is
:func:`covgap.radio.pathloss.deygout_loss_db`'s: the principal edge costs
``J(nu)`` when ``nu > -0.78``, and the side edges are added only when it
blocks the sight line (``nu > 0``); otherwise a 1.5 m receiver's grazing
ground would add some 10 dB on flat terrain on top of the Hata median. The
one difference: the principal edge is the obstruction of largest elevation
angle rather than of largest ``nu``. They coincide behind dominant ridges
(tested against ``deygout_loss_db`` within 0.01 dB on flat, one-wall and
two-ridge profiles); over a smooth bulge (flat earth at 10-20 km) the raster
edge is the last ground point before the receiver and the loss is up to
2.5 dB lower than Deygout's. Earth curvature and refraction use ``cc = 1/k`` as in
:mod:`covgap.radio.visibility`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS

from covgap.data.terrain import DemFile, GridWindow, Terrain, check_coverage, terrain_source
from covgap.executor import Executor, SerialExecutor, as_executor
from covgap.radio import _raycast
from covgap.radio._merge import best_of_stack, merge_into
from covgap.radio.scenario import Scenario, site_parameters
from covgap.radio.visibility import write_raster_atomic

__all__ = [
    "BEST_SITE_NONE",
    "BEST_SITE_UNKNOWN",
    "SignalBatch",
    "SignalResult",
    "SignalTile",
    "batch_signal",
    "best_server",
    "compute_signal",
    "merge_tile",
    "pack_tile",
    "signal_tile",
    "signal_tile_from_dem",
    "site_batches",
    "site_signal",
    "sites_window",
    "tasks_signal",
    "write_signal_tiff",
]

logger = logging.getLogger(__name__)

#: ``best_site`` of a cell no site reaches.
BEST_SITE_NONE = -1
#: ``best_site`` of a cell whose signal is unknown (nodata terrain on every path).
BEST_SITE_UNKNOWN = -2

#: Sites computed per kernel call by :func:`compute_signal` (bounds memory); in
#: this process, at least one per numba thread (the kernel runs a batch's sites
#: in parallel, one per thread), see :func:`_chunk_sites`.
CHUNK_SITES = 4

#: Side of the square blocks sites are grouped by into batches, in scenario radii.
BATCH_BLOCK_RADII = 0.5

#: Cells added around the radius of a batch's window: the kernels read one
#: cell beyond the last cell they write, so the window's own edge never
#: matters and a window gives the same values as the whole DEM.
WINDOW_MARGIN_CELLS = 2

#: Cluster tasks per worker that :func:`compute_signal` aims at (load balance).
TASKS_PER_WORKER = 4
#: Most batches in one cluster task (about 1-2 s of kernel time at 15 km, 30 m).
MAX_BATCHES_PER_TASK = 8

#: Median-loss table step, m.
LOSS_STEP_M = 1.0


@dataclass(frozen=True, eq=False)
class SignalResult:
    """Best-server signal on the DEM grid.

    Attributes
    ----------
    rsrp
        float32 ``(rows, cols)`` strongest received signal, dBm; NaN where no
        site reaches or the signal is unknown.
    best_site
        int32 ``(rows, cols)``: index into ``site_ids`` of the strongest site;
        :data:`BEST_SITE_NONE` (-1) where no site reaches,
        :data:`BEST_SITE_UNKNOWN` (-2) where every site within range has
        nodata terrain on its path and none has a known signal.
    site_ids
        Site identifiers, in the order of the sites given.
    transform, crs
        The DEM grid.
    per_site
        float32 ``(n_sites, rows, cols)`` or ``None`` when not kept.
    """

    rsrp: np.ndarray
    best_site: np.ndarray
    site_ids: list[str]
    transform: Affine
    crs: CRS
    per_site: np.ndarray | None = None

    @property
    def unknown(self) -> np.ndarray:
        """Cells whose signal is unknown (nodata on the path)."""
        return self.best_site == BEST_SITE_UNKNOWN


@dataclass(frozen=True)
class _Kernel:
    zp: np.ndarray
    zpt: np.ndarray
    dx: float
    dy: float


def _kernel_inputs(terrain: Terrain) -> _Kernel:
    dx, dy = terrain.resolution
    zp, zpt = _raycast.layouts(terrain.elevation)
    return _Kernel(zp, zpt, dx, dy)


def _loss_tables(heights: np.ndarray, scenario: Scenario) -> np.ndarray:
    n = math.ceil(scenario.radius_m / LOSS_STEP_M) + 2
    unique, inverse = np.unique(heights, return_inverse=True)
    tables = (
        np.stack(
            [
                _raycast.median_loss_table(
                    n,
                    LOSS_STEP_M,
                    scenario.frequency_mhz,
                    float(h),
                    scenario.receiver_height_m,
                    scenario.model_code,
                    scenario.environment_code,
                )
                for h in unique
            ]
        )
        if len(unique)
        else np.zeros((0, n + 1))
    )
    return tables[inverse.reshape(-1)] if len(unique) else tables


def site_signal(
    terrain: Terrain,
    xy: np.ndarray,
    heights_m: np.ndarray,
    eirp_dbm: np.ndarray,
    scenario: Scenario,
) -> np.ndarray:
    """Per-site received signal on the DEM grid (compiled, sites over the threads).

    Parameters
    ----------
    terrain
        DEM in a metric CRS.
    xy
        ``(n, 2)`` site coordinates in ``terrain.crs``.
    heights_m
        ``(n,)`` antenna heights above ground, m.
    eirp_dbm
        ``(n,)`` power per reference signal + antenna gain - cable loss, dBm.
    scenario
        Frequency, receiver height and gain, radius, k, model, environment,
        diffraction method; with ``model = "itm"``, ITM along radials
        (:func:`covgap.radio.itm.site_signal_itm`) with the ``itm_*`` keys.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, rows, cols)`` dBm; NaN outside the radius, on nodata
        and where nodata terrain lies on the path.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    k = _kernel_inputs(terrain)
    rows, cols = terrain.cell_of(xy[:, 0], xy[:, 1])
    rc = np.column_stack([rows, cols]).astype(np.int64)
    heights = np.asarray(heights_m, float)
    if scenario.model == "itm":
        return _site_signal_itm(k, rc, heights, eirp_dbm, scenario)
    return _raycast.signal_many(
        k.zp,
        k.zpt,
        rc,
        heights,
        np.asarray(eirp_dbm, float) + scenario.receiver_gain_dbi,
        _loss_tables(heights, scenario),
        scenario.receiver_height_m,
        scenario.radius_m,
        k.dx,
        k.dy,
        scenario.curvature_coef,
        LOSS_STEP_M,
        scenario.wavelength_m,
        scenario.diffraction_code,
    )


def _site_signal_itm(
    k: _Kernel, rc: np.ndarray, heights: np.ndarray, eirp_dbm: Any, scenario: Scenario
) -> np.ndarray:
    """:func:`site_signal` with ``model = "itm"`` (:func:`covgap.radio.itm.site_signal_itm`)."""
    from covgap.radio.itm import site_signal_itm

    return site_signal_itm(
        k.zp,
        rc,
        heights,
        np.asarray(eirp_dbm, float) + scenario.receiver_gain_dbi,
        receiver_height_m=scenario.receiver_height_m,
        radius_m=scenario.radius_m,
        dx=k.dx,
        dy=k.dy,
        frequency_mhz=scenario.frequency_mhz,
        params=scenario.itm_parameters(),
        radials=scenario.itm_radials,
        step_m=scenario.itm_step_m,
    )


def best_server(
    per_site: np.ndarray, mask: np.ndarray | Sequence[bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Strongest signal and its site over a stack of per-site rasters.

    Parameters
    ----------
    per_site
        float32 ``(n, rows, cols)``, NaN where a site does not reach or is unknown.
    mask
        Optional bool ``(n,)``: the sites to consider (an operator, a technology).

    Returns
    -------
    rsrp : numpy.ndarray
        float32 ``(rows, cols)``, NaN where no considered site has a signal.
    best_site : numpy.ndarray
        int32 ``(rows, cols)``: index into the full stack (ties: the lowest
        index), or :data:`BEST_SITE_NONE` (-1).
    """
    n = per_site.shape[0]
    idx = np.arange(n) if mask is None else np.flatnonzero(np.asarray(mask, bool))
    return _best_of(per_site, idx, idx)


def _best_of(
    stack: np.ndarray, layers: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Strongest of ``stack[layers]`` (ties: the first) and ``labels`` of the winner, or -1."""
    stack = np.ascontiguousarray(stack, np.float32)
    rsrp = np.empty(stack.shape[1:], np.float32)
    best = np.empty(stack.shape[1:], np.int32)
    if stack.size:
        best_of_stack(stack, np.asarray(layers, np.int64), np.asarray(labels, np.int32), rsrp, best)
    else:
        rsrp.fill(np.nan)
        best.fill(BEST_SITE_NONE)
    return rsrp, best


def _site_table(sites: Any, terrain: Terrain, scenario: Scenario) -> dict[str, np.ndarray]:
    gdf = sites
    if gdf.crs is not None and CRS.from_user_input(gdf.crs) != terrain.crs:
        gdf = gdf.to_crs(terrain.crs)
    return site_parameters(gdf, scenario)


@dataclass(frozen=True, eq=False)
class SignalTile:
    """Best server of a batch of sites over the batch's window of the DEM.

    What one batch of sites returns: small (a window around the batch, not
    the DEM), picklable, merged into the full raster by :func:`merge_tile`
    in any order with the same result.

    Attributes
    ----------
    window
        The cells of the full grid the tile covers.
    rsrp
        float32 ``(window.rows, window.cols)``: strongest signal of the batch, NaN where none.
    best_site
        int32, same shape: the strongest site's index (as given to
        :func:`signal_tile`; ties to the lowest), :data:`BEST_SITE_NONE` where none.
        In a packed tile (``sites`` given, see :func:`pack_tile`): a position
        into ``sites`` in the smallest signed integer type that holds it.
    unknown
        bool, same shape: within a site's radius but with nodata on the path;
        ``None`` in a packed tile where no cell is unknown.
    per_site
        float32 ``(n, rows, cols)`` of the batch when asked for, else ``None``.
    sites
        ``None``, or int64 ascending: the site indices ``best_site`` points into.
    """

    window: GridWindow
    rsrp: np.ndarray
    best_site: np.ndarray
    unknown: np.ndarray | None
    per_site: np.ndarray | None = None
    sites: np.ndarray | None = None


def sites_window(
    terrain_shape: tuple[int, int],
    transform: Affine,
    xy: np.ndarray,
    radius_m: float,
) -> GridWindow:
    """Return the window of the DEM a batch of sites needs: every cell within the radius.

    Parameters
    ----------
    terrain_shape, transform
        The full DEM grid.
    xy
        ``(n, 2)`` site coordinates.
    radius_m
        Scenario radius.

    Returns
    -------
    GridWindow
        The sites' cells plus the radius and :data:`WINDOW_MARGIN_CELLS`,
        clipped to the grid.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    cols = np.floor((xy[:, 0] - transform.c) / transform.a).astype(np.int64)
    rows = np.floor((xy[:, 1] - transform.f) / transform.e).astype(np.int64)
    hr, hc = _raycast.window_half(
        radius_m, abs(transform.a), abs(transform.e), terrain_shape[0], terrain_shape[1]
    )
    m = WINDOW_MARGIN_CELLS
    return GridWindow.around(
        np.clip(rows, 0, terrain_shape[0] - 1),
        np.clip(cols, 0, terrain_shape[1] - 1),
        hr + m,
        hc + m,
        terrain_shape,
    )


def site_batches(xy: np.ndarray, radius_m: float, batch: int) -> list[np.ndarray]:
    """Split sites into batches of neighbours, so each batch needs a small window.

    Sites are ordered by square blocks of side ``BATCH_BLOCK_RADII x radius_m``
    (row of blocks from the north, then column), then by index; each run of
    ``batch`` sites in that order is one batch, its indices ascending.  The
    batches depend only on the positions, so every run makes the same ones.

    Parameters
    ----------
    xy
        ``(n, 2)`` site coordinates (metric).
    radius_m
        Scenario radius.
    batch
        Sites per batch.

    Returns
    -------
    list of numpy.ndarray
        int64 site indices per batch.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    if len(xy) == 0:
        return []
    size = max(BATCH_BLOCK_RADII * float(radius_m), 1.0)
    bx = np.floor((xy[:, 0] - xy[:, 0].min()) / size).astype(np.int64)
    by = np.floor((xy[:, 1].max() - xy[:, 1]) / size).astype(np.int64)
    order = np.lexsort((np.arange(len(xy)), bx, by))
    step = max(1, int(batch))
    return [np.sort(order[i : i + step]) for i in range(0, len(order), step)]


def signal_tile(
    terrain: Terrain,
    xy: np.ndarray,
    heights_m: np.ndarray,
    eirp_dbm: np.ndarray,
    scenario: Scenario,
    site_index: np.ndarray | None = None,
    *,
    keep_per_site: bool = False,
    gains_dbi: np.ndarray | None = None,
    sectors: Sequence[Any] | None = None,
    operators: Sequence[str] | None = None,
) -> SignalTile:
    """Best server of a batch of sites, computed on the batch's window only.

    ``terrain`` may be the whole DEM (the window is a view of it) or just the
    window read from disk with :func:`covgap.terrain.read_window` (any
    Terrain holding :func:`sites_window`'s cells); the values are the same
    as :func:`site_signal` on the whole DEM.  A pure function of its inputs:
    a distributed task can call it with a window it read itself.

    Parameters
    ----------
    terrain
        The DEM, or a part of it holding the batch's window.
    xy, heights_m, eirp_dbm
        ``(n, 2)``, ``(n,)``, ``(n,)`` as for :func:`site_signal`.
    scenario
        Radio settings.
    site_index
        ``(n,)`` index written into ``best_site`` for each site (default
        ``0..n-1``); must be ascending for ties to go to the lowest index.
    keep_per_site
        Also return the batch's per-site rasters on the window.
    gains_dbi, sectors, operators
        Per site: the omnidirectional gain the kernel counted, the sectors
        (empty: omnidirectional) and the operator, for the sector, land-cover
        and calibration terms (:func:`covgap.radio.sectors.adjust_site`);
        defaults: the scenario's gain, omnidirectional, no operator.

    Returns
    -------
    SignalTile
        ``window`` is relative to ``terrain``'s grid.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    index = np.arange(len(xy)) if site_index is None else np.asarray(site_index, np.int64)
    window = sites_window(terrain.shape, terrain.transform, xy, scenario.radius_m)
    sub = terrain.window(window)
    n = len(xy)
    gains = np.full(n, scenario.antenna_gain_dbi) if gains_dbi is None else np.asarray(gains_dbi)
    sectors = [()] * n if sectors is None else list(sectors)
    operators = [""] * n if operators is None else [str(o) for o in operators]
    adjusted = (
        sub.landcover is not None
        or any(len(sec) for sec in sectors)
        or any(any(scenario.calibration_for(op)) for op in operators)
    )
    params = np.column_stack(
        [xy, np.asarray(heights_m, float).reshape(-1), np.asarray(eirp_dbm, float).reshape(-1)]
    )
    if adjusted:  # per-site terms: every site is its own computation
        unique, inverse, first = params, np.arange(n), np.arange(n)
    else:
        # operators sharing a mast (same place, height and power) share one computation
        unique, inverse = np.unique(params, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        # order the distinct masts by their first site, so the best server over
        # them breaks ties towards the lowest site index, as over all the sites
        first = np.full(len(unique), n)
        np.minimum.at(first, inverse, np.arange(n))
        order = np.argsort(first, kind="stable")
        position = np.empty(len(order), np.int64)
        position[order] = np.arange(len(order))
        unique, inverse, first = unique[order], position[inverse], first[order]
    stack_u = site_signal(sub, unique[:, :2], unique[:, 2], unique[:, 3], scenario)
    if adjusted:
        from covgap.radio.sectors import adjust_site

        rows, cols = sub.cell_of(xy[:, 0], xy[:, 1])
        for i in range(n):
            adjust_site(
                sub, stack_u[i], int(rows[i]), int(cols[i]), float(params[i, 2]),
                float(gains[i]), sectors[i], operators[i], scenario,
            )  # fmt: skip
    if np.isnan(sub.elevation).any():
        unknown = _unknown_cells(sub, unique[:, :2], scenario.radius_m, stack_u).any(axis=0)
    else:  # without nodata on any path, nothing within the radius is unknown
        unknown = np.zeros(sub.shape, bool)
    # the strongest mast, labelled with its first site's index (ascending: ties go low)
    rsrp, best = _best_of(stack_u, np.arange(len(unique)), index[first])
    stack = stack_u[inverse] if keep_per_site else None
    return SignalTile(window, rsrp, best, unknown, stack)


def signal_tile_from_dem(
    dem_path: str | Path,
    xy: np.ndarray,
    heights_m: np.ndarray,
    eirp_dbm: np.ndarray,
    scenario: Scenario,
    site_index: np.ndarray | None = None,
) -> SignalTile:
    """Read the batch's window of a DEM file and compute its tile (a task of its own).

    The unit of work a distributed run hands out: it opens the DEM by path
    (no raster handle crosses tasks or threads), reads only the cells within
    the batch's radius (:func:`covgap.data.terrain.read_window`), and returns
    a :class:`SignalTile` whose window is in the DEM file's grid, ready for
    :func:`merge_tile` into rasters of that grid.  A pure function: the same
    arguments give the same tile.  The window read from the file carries no
    land cover: for a dataset with ``landcover.tif``, use :func:`signal_tile`
    on a Terrain that has it.

    Parameters
    ----------
    dem_path
        A GeoTIFF DEM in a metric CRS (the analysis DEM; reproject first).
    xy, heights_m, eirp_dbm, scenario, site_index
        As for :func:`signal_tile`.
    """
    import rasterio

    from covgap.data.terrain import read_window

    with rasterio.open(dem_path) as src:
        shape, transform = (src.height, src.width), src.transform
    window = sites_window(shape, transform, np.asarray(xy, float), scenario.radius_m)
    tile = signal_tile(read_window(dem_path, window), xy, heights_m, eirp_dbm, scenario, site_index)
    inner = tile.window
    full = GridWindow(window.row + inner.row, window.col + inner.col, inner.rows, inner.cols)
    return SignalTile(full, tile.rsrp, tile.best_site, tile.unknown, tile.per_site)


def merge_tile(rsrp: np.ndarray, best: np.ndarray, unknown: np.ndarray, tile: SignalTile) -> None:
    """Merge a tile into full best-server rasters, in place.

    A tile's cell wins where it is stronger, or equally strong from a lower
    site index, so merging tiles in any order gives the same rasters as one
    best server over all the sites.

    Parameters
    ----------
    rsrp, best, unknown
        The full rasters (float32 NaN, int32 :data:`BEST_SITE_NONE` and bool
        ``False`` where nothing is merged yet).
    tile
        From :func:`signal_tile` on the same grid, as it is or packed
        (:func:`pack_tile`).

    Raises
    ------
    ValueError
        The tile's window is outside the rasters or does not match its arrays.
    """
    w = tile.window
    if w.row < 0 or w.col < 0 or w.row + w.rows > rsrp.shape[0] or w.col + w.cols > rsrp.shape[1]:
        raise ValueError(f"tile window {w} is outside the {rsrp.shape} rasters")
    if tile.rsrp.shape != (w.rows, w.cols) or tile.best_site.shape != tile.rsrp.shape:
        raise ValueError(f"tile arrays {tile.rsrp.shape} do not match its window {w}")
    # one compiled pass over the tile: NaN (no signal) never wins; a stronger signal,
    # a first signal, or an equal one from a lower site index does
    merge_into(
        rsrp, best, unknown, w.row, w.col,
        np.ascontiguousarray(tile.rsrp, np.float32), np.ascontiguousarray(tile.best_site),
        _NO_SITES if tile.sites is None else np.asarray(tile.sites, np.int64),
        _NO_UNKNOWN if tile.unknown is None else np.ascontiguousarray(tile.unknown, bool),
    )  # fmt: skip


_NO_SITES = np.zeros(0, np.int64)
_NO_UNKNOWN = np.zeros((0, 0), bool)


def pack_tile(tile: SignalTile, sites: np.ndarray) -> SignalTile:
    """Return ``tile`` in its compact form for the network; it merges the same.

    The site index of each cell becomes a position into ``sites`` (the
    ascending indices of the sites that made the tile) in the smallest signed
    integer type that holds the positions (one byte for up to 127 sites,
    against four), and an all-``False`` ``unknown`` becomes ``None``: a task's
    tile then costs 5 bytes a cell instead of 9.  :func:`merge_tile` reads
    both forms.

    Parameters
    ----------
    tile
        A tile whose ``best_site`` values are in ``sites`` (or negative).
    sites
        The site indices of the task.

    Returns
    -------
    SignalTile
        Without ``per_site`` (keep it in this process).
    """
    lookup = np.unique(np.asarray(sites, np.int64))
    dtype = np.min_scalar_type(-max(len(lookup), 2))  # signed: holds -2 and len - 1
    best = tile.best_site
    found = best >= 0
    position = np.searchsorted(lookup, best[found])
    if len(position) and (position.max() >= len(lookup) or (lookup[position] != best[found]).any()):
        raise ValueError("the tile has site indices that are not among the task's sites")
    packed = best.astype(dtype)
    packed[found] = position
    unknown = tile.unknown if tile.unknown is not None and tile.unknown.any() else None
    return SignalTile(tile.window, tile.rsrp, packed, unknown, None, lookup)


@dataclass(frozen=True, eq=False)
class SignalBatch:
    """One task of :func:`compute_signal`: a batch of neighbouring sites of one group.

    Attributes
    ----------
    group
        The group's key (``""`` without ``group_by``).
    index
        int64 ``(n,)``: the sites' indices in the group's ``site_ids`` (ascending).
    xy, heights_m, eirp_dbm
        ``(n, 2)``, ``(n,)``, ``(n,)`` as for :func:`site_signal`.
    keep_per_site
        Also return the per-site rasters of the window.
    adjust
        ``(antenna_gain_dbi, sectors, operators)`` of the sites, for the
        sector, land-cover and calibration terms (:func:`signal_tile`).
    """

    group: str
    index: np.ndarray
    xy: np.ndarray
    heights_m: np.ndarray
    eirp_dbm: np.ndarray
    keep_per_site: bool = False
    adjust: tuple[np.ndarray, Sequence[Any], Sequence[str]] | None = None


def batch_signal(batch: SignalBatch, source: Terrain | DemFile, scenario: Scenario) -> SignalTile:
    """Compute one batch's tile: the task :func:`compute_signal` hands to its executor.

    Parameters
    ----------
    batch
        The sites.
    source
        The whole grid: the terrain in memory, or a
        :class:`~covgap.terrain.DemFile` whose window the task reads by path
        (:func:`covgap.terrain.terrain_source`); the tile is the same on both.
    scenario
        Radio settings.

    Returns
    -------
    SignalTile
        Its window is on the whole grid.
    """
    return signal_tile(
        source,  # type: ignore[arg-type]  (a DemFile has what signal_tile uses)
        batch.xy,
        batch.heights_m,
        batch.eirp_dbm,
        scenario,
        batch.index,
        keep_per_site=batch.keep_per_site,
        gains_dbi=None if batch.adjust is None else batch.adjust[0],
        sectors=None if batch.adjust is None else batch.adjust[1],
        operators=None if batch.adjust is None else batch.adjust[2],
    )


def _batches_per_task(n_batches: int, executor: Executor) -> int:
    """Batches per cluster task: enough tasks to balance the workers, at most 8 batches."""
    return max(1, min(MAX_BATCHES_PER_TASK, -(-n_batches // (TASKS_PER_WORKER * executor.workers))))


def _tasks(batches: list[SignalBatch], size: int) -> list[list[SignalBatch]]:
    """Consecutive batches (neighbours, by site_batches' order) of one group, ``size`` a task."""
    out: list[list[SignalBatch]] = []
    for batch in batches:
        if out and len(out[-1]) < size and out[-1][0].group == batch.group:
            out[-1].append(batch)
        else:
            out.append([batch])
    return out


def tasks_signal(
    batches: list[SignalBatch],
    source: Terrain | DemFile,
    scenario: Scenario,
    pack: bool = False,
) -> SignalTile:
    """Compute a few neighbouring batches and merge their tiles: one cluster task.

    Merging next to the data keeps what a task sends back (and what the caller
    merges) to the union of the batches' windows, which overlap: with 8
    batches of 4 sites at the national site density, a sixth of the sum of
    their tiles (``benchmarks/scaling.py``).  The merge is
    :func:`merge_tile`'s, associative and independent of order, so the result
    is the same as merging every batch's tile on the caller.

    Parameters
    ----------
    batches
        Batches of one group (one batch: its tile as it is).
    source, scenario
        As for :func:`batch_signal`.
    pack
        Return the tile packed for the network (:func:`pack_tile`).

    Returns
    -------
    SignalTile
        On the union of the batches' windows, in the whole grid.
    """
    tiles = [batch_signal(b, source, scenario) for b in batches]
    tile = tiles[0] if len(tiles) == 1 else _union_tile(tiles)
    if pack and tile.per_site is None:
        return pack_tile(tile, np.concatenate([b.index for b in batches]))
    return tile


def _union_tile(tiles: list[SignalTile]) -> SignalTile:
    """Merge tiles into one on the union of their windows."""
    row = min(t.window.row for t in tiles)
    col = min(t.window.col for t in tiles)
    union = GridWindow(
        row,
        col,
        max(t.window.row + t.window.rows for t in tiles) - row,
        max(t.window.col + t.window.cols for t in tiles) - col,
    )
    rsrp = np.full((union.rows, union.cols), np.nan, np.float32)
    best = np.full((union.rows, union.cols), BEST_SITE_NONE, np.int32)
    unknown = np.zeros((union.rows, union.cols), bool)
    for t in tiles:
        w = t.window
        shifted = GridWindow(w.row - row, w.col - col, w.rows, w.cols)
        merge_tile(rsrp, best, unknown, SignalTile(shifted, t.rsrp, t.best_site, t.unknown))
    return SignalTile(union, rsrp, best, unknown)


def compute_signal(
    terrain: Terrain,
    sites: Any,
    scenario: Scenario,
    *,
    group_by: str | None = None,
    keep_per_site: bool = False,
    chunk_sites: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    warn_cut: bool = True,
    executor: Executor | None = None,
) -> SignalResult | dict[str, SignalResult]:
    """Best-server signal of a set of sites over the terrain.

    Sites are computed in batches of ``chunk_sites`` neighbours
    (:func:`site_batches`), each on its own window of the DEM
    (:func:`signal_tile`), and merged tile by tile into the running best
    server (:func:`merge_tile`), so memory is the two full result rasters
    plus one window per batch, whatever the number of sites and the area
    (unless ``keep_per_site``).

    Parameters
    ----------
    terrain
        DEM in a metric CRS.
    sites
        GeoDataFrame per the ``Dataset.sites`` contract (``site_id``,
        ``operator``, ``radio``, ``height_m`` with NaN for the scenario mast
        height, optional ``tx_power_dbm``/``antenna_gain_dbi``/``cable_loss_db``
        overrides, points); reprojected to ``terrain.crs`` if needed.
    scenario
        Radio settings.
    group_by
        ``None`` for one result over all sites, or a column (``"operator"``,
        ``"radio"``) for one result per value (sorted keys).
    keep_per_site
        Keep the ``(n_sites, rows, cols)`` stack in the result(s).
    chunk_sites
        Sites computed per kernel call (one batch); default
        :data:`CHUNK_SITES`, or one per numba thread in this process if there
        are more threads (a batch's sites run in parallel).  The rasters do
        not depend on it.
    on_progress
        Called with the number of sites just finished (for a progress bar).
    warn_cut
        Log a warning naming the sites whose radius the DEM cuts (``False``
        where the caller flags them itself, as the site plan does).
    executor
        Where the batches run: ``None`` for this process, one batch at a
        time (:func:`batch_signal`); or a :class:`covgap.executor.DaskExecutor`,
        in tasks of up to :data:`MAX_BATCHES_PER_TASK` neighbouring batches
        (:func:`tasks_signal`) that read their DEM window by path and merge
        their tiles before sending them back, packed (:func:`pack_tile`).
        The batches and the merge rule do not depend on it, so neither do
        the rasters.  ``keep_per_site`` always runs in this process.

    Returns
    -------
    SignalResult or dict of str to SignalResult
        ``best_site`` indexes the result's own ``site_ids``; ties go to the
        lowest index.
    """
    table = _site_table(sites, terrain, scenario)
    site_ids = [str(s) for s in table["site_id"]]
    if scenario.model == "itm":
        _check_itm_heights(site_ids, table["height_m"])
    check_coverage(
        terrain,
        [(sid, x, y) for sid, x, y in zip(site_ids, table["x"], table["y"], strict=True)],
        scenario.radius_m,
        log=warn_cut,
    )
    xy = np.column_stack([table["x"], table["y"]])
    extras = _site_extras(sites)
    if group_by is None:
        groups = {"": np.arange(len(site_ids))}
    else:
        values = np.asarray([str(v) for v in sites[group_by]], dtype=object)
        groups = {key: np.flatnonzero(values == key) for key in sorted(set(values.tolist()))}
    # every group's batches, one task each (keep_per_site's stacks stay in this process)
    executor = SerialExecutor() if keep_per_site else as_executor(executor)
    chunk = _chunk_sites(executor) if chunk_sites is None else max(1, int(chunk_sites))
    source = terrain_source(
        terrain, local=executor.local, scratch=None if executor.local else executor.scratch_dir()
    )

    def extra(sel: np.ndarray) -> tuple[np.ndarray, list[Any], list[str]]:
        gains = np.asarray(table["antenna_gain_dbi"][sel], float)
        return (gains, [extras["sectors"][i] for i in sel], [extras["operator"][i] for i in sel])

    batches = [
        SignalBatch(key, local, xy[idx[local]], table["height_m"][idx[local]],
                    table["eirp_dbm"][idx[local]], keep_per_site, extra(idx[local]))
        for key, idx in groups.items()
        for local in site_batches(xy[idx], scenario.radius_m, chunk)
    ]  # fmt: skip
    merged = {}
    for key, idx in groups.items():
        merged[key] = (
            np.full(terrain.shape, np.nan, np.float32),
            np.full(terrain.shape, BEST_SITE_NONE, np.int32),
            np.zeros(terrain.shape, bool),
            np.full((len(idx), *terrain.shape), np.nan, np.float32) if keep_per_site else None,
        )
    # one task per run of neighbouring batches of a group; tiles merge in the order
    # tasks finish: merge_tile's rule does not depend on it, and it is associative
    tasks = _tasks(batches, 1 if executor.local else _batches_per_task(len(batches), executor))
    # tiles crossing the network go packed (5 bytes a cell instead of 9)
    for i, tile in executor.run(tasks_signal, tasks, source, scenario, not executor.local):
        first = tasks[i][0]
        rsrp, best, unknown, kept = merged[first.group]
        merge_tile(rsrp, best, unknown, tile)
        if kept is not None and tile.per_site is not None:
            rs, cs = tile.window.slices
            kept[first.index, rs, cs] = tile.per_site
        if on_progress is not None:
            on_progress(sum(len(b.index) for b in tasks[i]))
    results = {}
    for key, idx in groups.items():
        rsrp, best, unknown, kept = merged[key]
        best = np.where(np.isnan(rsrp) & unknown, BEST_SITE_UNKNOWN, best).astype(np.int32)
        results[key] = SignalResult(
            rsrp=rsrp,
            best_site=best,
            site_ids=[site_ids[i] for i in idx],
            transform=terrain.transform,
            crs=terrain.crs,
            per_site=kept if keep_per_site and len(idx) else None,
        )
    return results[""] if group_by is None else results


def _chunk_sites(executor: Executor) -> int:
    """Sites per batch: :data:`CHUNK_SITES`, or one per numba thread of this process.

    The kernel runs a batch's sites in parallel, one per thread, so a batch of
    4 would leave the other cores of a larger machine idle.  Cluster tasks run
    on one thread each: their batches keep :data:`CHUNK_SITES` sites.
    """
    if not executor.local:
        return CHUNK_SITES
    import numba

    return max(CHUNK_SITES, int(numba.get_num_threads()))


def _check_itm_heights(site_ids: list[str], heights: np.ndarray) -> None:
    """Refuse antenna heights outside ITM's 0.5-3000 m, naming the sites."""
    from covgap.errors import ModelValidityError

    bad = [f"{sid} ({h:g} m)" for sid, h in zip(site_ids, heights, strict=True)
           if not 0.5 <= h <= 3000.0]  # fmt: skip
    if bad:
        raise ModelValidityError(
            f"sites: column 'height_m': ITM needs antenna heights of 0.5-3000 m; "
            f"outside for site(s) {', '.join(bad)}"
        )


def _site_extras(sites: Any) -> dict[str, list[Any]]:
    """Each site's operator and sectors (empty tuple: omnidirectional)."""
    n = len(sites)
    operators = [str(v) for v in sites["operator"]] if "operator" in sites.columns else [""] * n
    sectors = (
        [v if isinstance(v, tuple) else () for v in sites["sectors"]]
        if "sectors" in sites.columns
        else [()] * n
    )
    return {"operator": operators, "sectors": sectors}


def _unknown_cells(
    terrain: Terrain, xy: np.ndarray, radius_m: float, stack: np.ndarray
) -> np.ndarray:
    """``(n, rows, cols)``: within a site's radius but NaN (nodata on the path)."""
    rows, cols = terrain.shape
    cx = terrain.transform.c + (np.arange(cols) + 0.5) * terrain.transform.a
    cy = terrain.transform.f + (np.arange(rows) + 0.5) * terrain.transform.e
    out = np.zeros(stack.shape, bool)
    r_idx, c_idx = terrain.cell_of(xy[:, 0], xy[:, 1])
    for s in range(len(xy)):
        ox = terrain.transform.c + (c_idx[s] + 0.5) * terrain.transform.a
        oy = terrain.transform.f + (r_idx[s] + 0.5) * terrain.transform.e
        within = ((cx[None, :] - ox) ** 2 + (cy[:, None] - oy) ** 2) <= radius_m**2
        out[s] = within & np.isnan(stack[s])
    return out


def write_signal_tiff(result: SignalResult, path: str | Path) -> Path:
    """Write the best-server RSRP as a float32 GeoTIFF (nodata NaN), atomically.

    Parameters
    ----------
    result
        From :func:`compute_signal`.
    path
        Output file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_raster_atomic(
        Path(path), result.rsrp.astype(np.float32), result.transform, result.crs, float("nan")
    )
