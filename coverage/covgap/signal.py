"""Received signal over the terrain: per-site rasters and best-server results.

For every site and every DEM cell within the scenario radius, the compiled
kernel (:func:`covgap._raycast.signal_one`) computes

``RSRP = EIRP + receiver gain - median path loss(d) - diffraction loss``

where EIRP is the transmit power per reference signal plus antenna gain minus
cable loss (per-site overrides from ``sites.csv`` win over the scenario), the
median loss is :func:`covgap.pathloss.median_loss_db` (free space, Okumura-Hata
or COST-231 Hata, tabulated every metre and interpolated), and the diffraction
loss is ITU-R P.526 knife-edge ``J(nu)`` over the path's obstructions: the
principal edge (largest elevation angle seen from the antenna, tracked
incrementally along each ray) and, for Deygout, up to two secondary edges
(the previous principal edge on the transmitter side, the edge of largest
angle seen from the principal edge on the receiver side). The rule is
:func:`covgap.pathloss.deygout_loss_db`'s: the principal edge costs
``J(nu)`` when ``nu > -0.78``, and the side edges are added only when it
blocks the sight line (``nu > 0``); otherwise a 1.5 m receiver's grazing
ground would add some 10 dB on flat terrain on top of the Hata median. The
one difference: the principal edge is the obstruction of largest elevation
angle rather than of largest ``nu``. They coincide behind dominant ridges
(tested against ``deygout_loss_db`` within 0.01 dB on flat, one-wall and
two-ridge profiles); over a smooth bulge (flat earth at 10-20 km) the raster
edge is the last ground point before the receiver and the loss is up to
2.5 dB lower than Deygout's. Earth curvature and refraction use ``cc = 1/k`` as in
:mod:`covgap.visibility`.
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

from covgap import _raycast
from covgap.executor import Executor, as_executor
from covgap.scenario import Scenario, site_parameters
from covgap.terrain import DemFile, Terrain, check_coverage, terrain_source
from covgap.visibility import write_raster_atomic

__all__ = [
    "BEST_SITE_NONE",
    "BEST_SITE_UNKNOWN",
    "SignalBatch",
    "SignalResult",
    "SignalTile",
    "best_server",
    "compute_signal",
    "signal_tile",
    "site_signal",
    "write_signal_tiff",
]

logger = logging.getLogger(__name__)

#: ``best_site`` of a cell no site reaches.
BEST_SITE_NONE = -1
#: ``best_site`` of a cell whose signal is unknown (nodata terrain on every path).
BEST_SITE_UNKNOWN = -2

#: Most sites per batch (one task) in :func:`compute_signal`: about 0.1-1 s
#: of kernel time at a 15 km radius on 30 m cells (20-60 ms per site).
CHUNK_SITES = 16
#: Batches are made small enough for each worker to get at least this many.
TASKS_PER_WORKER = 4
#: Cells added around a batch's window (the kernel reads at most one cell
#: beyond the radius; the results are exact with any margin >= 1).
WINDOW_MARGIN = 2

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
        diffraction method.

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
    shape = per_site.shape[1:]
    if idx.size == 0:
        return np.full(shape, np.nan, np.float32), np.full(shape, BEST_SITE_NONE, np.int32)
    sub = per_site[idx]
    filled = np.where(np.isnan(sub), -np.inf, sub)
    arg = np.argmax(filled, axis=0)
    rsrp = np.take_along_axis(sub, arg[None], axis=0)[0].astype(np.float32)
    best = np.where(np.isnan(rsrp), BEST_SITE_NONE, idx[arg]).astype(np.int32)
    return rsrp, best


def _site_table(sites: Any, terrain: Terrain, scenario: Scenario) -> dict[str, np.ndarray]:
    gdf = sites
    if gdf.crs is not None and CRS.from_user_input(gdf.crs) != terrain.crs:
        gdf = gdf.to_crs(terrain.crs)
    return site_parameters(gdf, scenario)


def compute_signal(
    terrain: Terrain,
    sites: Any,
    scenario: Scenario,
    *,
    group_by: str | None = None,
    keep_per_site: bool = False,
    chunk_sites: int = CHUNK_SITES,
    on_progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> SignalResult | dict[str, SignalResult]:
    """Best-server signal of a set of sites over the terrain.

    Sites are cut into batches of neighbouring sites (:class:`SignalBatch`);
    each batch is one task, :func:`signal_tile`, run by ``executor``: it reads
    the DEM window around its sites and returns their best-server tile, which
    is merged into the result (strongest signal; ties to the lowest site
    index, so the merge does not depend on the order tasks finish in).  Each
    site's signal depends only on its cells, not on the window or batch, so
    the rasters are the same bytes whatever the executor and batch size.

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
        Most sites per batch (task); fewer when that leaves each worker
        fewer than :data:`TASKS_PER_WORKER` tasks.
    on_progress
        Called with the number of sites just finished (for a progress bar).
    executor
        Where the batches run (:mod:`covgap.executor`); default: this
        process.  ``keep_per_site`` always runs in this process.

    Returns
    -------
    SignalResult or dict of str to SignalResult
        ``best_site`` indexes the result's own ``site_ids``; ties go to the
        lowest index.
    """
    table = _site_table(sites, terrain, scenario)
    site_ids = [str(s) for s in table["site_id"]]
    check_coverage(
        terrain,
        [(sid, x, y) for sid, x, y in zip(site_ids, table["x"], table["y"], strict=True)],
        scenario.radius_m,
    )
    xy = np.column_stack([table["x"], table["y"]])
    if group_by is None:
        groups = {"": np.arange(len(site_ids))}
    else:
        values = np.asarray([str(v) for v in sites[group_by]], dtype=object)
        groups = {key: np.flatnonzero(values == key) for key in sorted(set(values.tolist()))}
    results = {}
    if keep_per_site:
        for key, idx in groups.items():
            results[key] = _signal_in_memory(
                terrain, table, site_ids, xy, idx, scenario, chunk_sites, on_progress
            )
        return results[""] if group_by is None else results
    executor = as_executor(executor)
    source = terrain_source(
        terrain, local=executor.local, scratch=None if executor.local else executor.scratch_dir()
    )
    rows, cols = terrain.cell_of(xy[:, 0], xy[:, 1])
    rc = np.column_stack([rows, cols]).astype(np.int64)
    batches: list[SignalBatch] = []
    owner: list[str] = []
    for key, idx in groups.items():
        for part in _spatial_batches(rc[idx], terrain, scenario, executor.workers, chunk_sites):
            sel = idx[part]
            batches.append(
                SignalBatch(
                    index=np.asarray(part, np.int64),
                    rc=rc[sel],
                    heights_m=np.asarray(table["height_m"][sel], float),
                    eirp_dbm=np.asarray(table["eirp_dbm"][sel], float),
                    window=_batch_window(rc[sel], terrain, scenario),
                )
            )
            owner.append(key)
    merged = {key: _Merge(terrain.shape) for key in groups}
    for i, tile in executor.run(signal_tile, batches, source, scenario):
        merged[owner[i]].add(tile)
        if on_progress is not None:
            on_progress(len(batches[i].index))
    for key, idx in groups.items():
        rsrp, best = merged[key].result()
        results[key] = SignalResult(
            rsrp=rsrp,
            best_site=best,
            site_ids=[site_ids[i] for i in idx],
            transform=terrain.transform,
            crs=terrain.crs,
        )
    return results[""] if group_by is None else results


def _signal_in_memory(
    terrain: Terrain,
    table: dict[str, np.ndarray],
    site_ids: list[str],
    xy: np.ndarray,
    idx: np.ndarray,
    scenario: Scenario,
    chunk_sites: int,
    on_progress: Callable[[int], None] | None,
) -> SignalResult:
    """One group's best server over the whole grid, keeping every site's raster."""
    rsrp = np.full(terrain.shape, np.nan, np.float32)
    best = np.full(terrain.shape, BEST_SITE_NONE, np.int32)
    unknown = np.zeros(terrain.shape, bool)
    kept = []
    step = max(1, chunk_sites)
    for start in range(0, len(idx), step):
        part = idx[start : start + step]
        stack = site_signal(
            terrain, xy[part], table["height_m"][part], table["eirp_dbm"][part], scenario
        )
        unknown |= _unknown_cells(terrain, xy[part], scenario.radius_m, stack).any(axis=0)
        part_rsrp, part_best = best_server(stack)
        stronger = np.nan_to_num(part_rsrp, nan=-np.inf) > np.nan_to_num(rsrp, nan=-np.inf)
        rsrp = np.where(stronger, part_rsrp, rsrp)
        best = np.where(stronger, part_best + start, best)
        kept.append(stack)
        if on_progress is not None:
            on_progress(len(part))
    best = np.where(np.isnan(rsrp) & unknown, BEST_SITE_UNKNOWN, best).astype(np.int32)
    return SignalResult(
        rsrp=rsrp,
        best_site=best,
        site_ids=[site_ids[i] for i in idx],
        transform=terrain.transform,
        crs=terrain.crs,
        per_site=np.concatenate(kept) if kept else None,
    )


@dataclass(frozen=True, eq=False)
class SignalBatch:
    """One task of :func:`compute_signal`: a few neighbouring sites.

    Attributes
    ----------
    index
        int64 ``(n,)``: the sites' indices in the result's ``site_ids``.
    rc
        int64 ``(n, 2)``: their cells (row, column) on the whole grid.
    heights_m, eirp_dbm
        float64 ``(n,)``: antenna heights and EIRP (without receiver gain).
    window
        ``(r0, r1, c0, c1)``: the grid rows and columns the task reads, every
        cell within the radius of its sites plus :data:`WINDOW_MARGIN`.
    """

    index: np.ndarray
    rc: np.ndarray
    heights_m: np.ndarray
    eirp_dbm: np.ndarray
    window: tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class SignalTile:
    """A batch's best server over its window (what a task sends back).

    Attributes
    ----------
    window
        ``(r0, r1, c0, c1)`` on the whole grid.
    rsrp
        float32 strongest signal, NaN where none of the batch's sites reaches.
    best
        int32 index (in ``site_ids``) of that site, or :data:`BEST_SITE_NONE`.
    unknown
        bool: within a site's radius with nodata on its path.
    """

    window: tuple[int, int, int, int]
    rsrp: np.ndarray
    best: np.ndarray
    unknown: np.ndarray


def _spatial_batches(
    rc: np.ndarray, terrain: Terrain, scenario: Scenario, workers: int, chunk_sites: int
) -> list[np.ndarray]:
    """Cut sites into batches of neighbours (blocks of one radius, row-major)."""
    n = len(rc)
    if n == 0:
        return []
    hr, hc = _raycast.window_half(scenario.radius_m, *terrain.resolution, *terrain.shape)
    order = np.lexsort((rc[:, 1] // max(1, hc), rc[:, 0] // max(1, hr)))
    size = max(1, min(max(1, chunk_sites), math.ceil(n / (TASKS_PER_WORKER * max(1, workers)))))
    return [np.sort(order[i : i + size]) for i in range(0, n, size)]


def _batch_window(
    rc: np.ndarray, terrain: Terrain, scenario: Scenario
) -> tuple[int, int, int, int]:
    rows, cols = terrain.shape
    hr, hc = _raycast.window_half(scenario.radius_m, *terrain.resolution, rows, cols)
    r0 = int(max(0, rc[:, 0].min() - hr - WINDOW_MARGIN))
    r1 = int(min(rows, rc[:, 0].max() + hr + WINDOW_MARGIN + 1))
    c0 = int(max(0, rc[:, 1].min() - hc - WINDOW_MARGIN))
    c1 = int(min(cols, rc[:, 1].max() + hc + WINDOW_MARGIN + 1))
    if r1 <= r0 or c1 <= c0:  # every site off the grid: an empty window
        return (0, 0, 0, 0)
    return (r0, r1, c0, c1)


def signal_tile(batch: SignalBatch, source: Terrain | DemFile, scenario: Scenario) -> SignalTile:
    """Best-server tile of one batch of sites (the task :func:`compute_signal` runs).

    Parameters
    ----------
    batch
        The sites and the window to read.
    source
        The whole grid: the terrain in memory, or the DEM file, read by
        window (:func:`covgap.terrain.terrain_source`).
    scenario
        Radio settings.

    Returns
    -------
    SignalTile
    """
    r0, r1, c0, c1 = batch.window
    shape = (r1 - r0, c1 - c0)
    rsrp = np.full(shape, np.nan, np.float32)
    best = np.full(shape, BEST_SITE_NONE, np.int32)
    unknown = np.zeros(shape, bool)
    n = len(batch.index)
    if n == 0 or shape[0] == 0 or shape[1] == 0:
        return SignalTile(batch.window, rsrp, best, unknown)
    full = source.transform
    window = source.window(r0, r1, c0, c1)
    zp, zpt = _raycast.layouts(window.elevation)
    dx, dy = window.resolution
    hr, hc = _raycast.window_half(scenario.radius_m, dx, dy, *source.shape)
    out = np.full((n, 2 * hr + 1, 2 * hc + 1), np.nan, np.float32)
    local = batch.rc - np.array([r0, c0], np.int64)
    _raycast.signal_windows(
        zp,
        zpt,
        np.ascontiguousarray(local),
        batch.heights_m,
        batch.eirp_dbm + scenario.receiver_gain_dbi,
        _loss_tables(batch.heights_m, scenario),
        scenario.receiver_height_m,
        scenario.radius_m,
        dx,
        dy,
        scenario.curvature_coef,
        LOSS_STEP_M,
        scenario.wavelength_m,
        scenario.diffraction_code,
        out,
    )
    # cell centres on the whole grid (the same floats whatever the window)
    cx = full.c + (np.arange(c0, c1) + 0.5) * full.a
    cy = full.f + (np.arange(r0, r1) + 0.5) * full.e
    for s in range(n):
        sr, sc = int(batch.rc[s, 0]), int(batch.rc[s, 1])
        # the site's window, clipped to the tile
        wr0, wr1 = max(sr - hr, r0), min(sr + hr + 1, r1)
        wc0, wc1 = max(sc - hc, c0), min(sc + hc + 1, c1)
        if wr1 <= wr0 or wc1 <= wc0:
            continue
        values = out[s, wr0 - (sr - hr) : wr1 - (sr - hr), wc0 - (sc - hc) : wc1 - (sc - hc)]
        tr, tc = slice(wr0 - r0, wr1 - r0), slice(wc0 - c0, wc1 - c0)
        _take(rsrp[tr, tc], best[tr, tc], values, int(batch.index[s]))
        ox = full.c + (sc + 0.5) * full.a
        oy = full.f + (sr + 0.5) * full.e
        within = ((cx[None, tc] - ox) ** 2 + (cy[tr, None] - oy) ** 2) <= scenario.radius_m**2
        unknown[tr, tc] |= within & np.isnan(values)
    return SignalTile(batch.window, rsrp, best, unknown)


def _take(rsrp: np.ndarray, best: np.ndarray, values: np.ndarray, index: np.ndarray | int) -> None:
    """Merge ``values`` (site(s) ``index``) into ``rsrp``/``best`` in place.

    A cell takes the new value when it is stronger, or equal and from a lower
    site index: the global first-strongest site, whatever the merge order.
    """
    new = np.nan_to_num(values, nan=-np.inf)
    cur = np.nan_to_num(rsrp, nan=-np.inf)
    take = (new > cur) | ((new == cur) & np.isfinite(new) & (index < best))
    rsrp[take] = values[take]
    best[take] = index if np.isscalar(index) else np.asarray(index)[take]


class _Merge:
    """The running best server of the tiles merged so far."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.rsrp = np.full(shape, np.nan, np.float32)
        self.best = np.full(shape, BEST_SITE_NONE, np.int32)
        self.unknown = np.zeros(shape, bool)

    def add(self, tile: SignalTile) -> None:
        r0, r1, c0, c1 = tile.window
        if r1 <= r0 or c1 <= c0:
            return
        region = (slice(r0, r1), slice(c0, c1))
        _take(self.rsrp[region], self.best[region], tile.rsrp, tile.best)
        self.unknown[region] |= tile.unknown

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        best = np.where(np.isnan(self.rsrp) & self.unknown, BEST_SITE_UNKNOWN, self.best)
        return self.rsrp, best.astype(np.int32)


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
