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

from covgap.data.terrain import Terrain, check_coverage
from covgap.radio import _raycast
from covgap.radio.scenario import Scenario, site_parameters
from covgap.radio.visibility import write_raster_atomic

__all__ = [
    "BEST_SITE_NONE",
    "BEST_SITE_UNKNOWN",
    "SignalResult",
    "best_server",
    "compute_signal",
    "site_signal",
    "write_signal_tiff",
]

logger = logging.getLogger(__name__)

#: ``best_site`` of a cell no site reaches.
BEST_SITE_NONE = -1
#: ``best_site`` of a cell whose signal is unknown (nodata terrain on every path).
BEST_SITE_UNKNOWN = -2

#: Sites computed per kernel call by :func:`compute_signal` (bounds memory).
CHUNK_SITES = 4

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
    warn_cut: bool = True,
) -> SignalResult | dict[str, SignalResult]:
    """Best-server signal of a set of sites over the terrain.

    Sites are computed ``chunk_sites`` at a time and merged into the running
    best server, so memory stays at a few rasters whatever the number of
    sites (unless ``keep_per_site``).

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
        Sites computed per kernel call.
    on_progress
        Called with the number of sites just finished (for a progress bar).
    warn_cut
        Log a warning naming the sites whose radius the DEM cuts (``False``
        where the caller flags them itself, as the site plan does).

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
    results = {}
    for key, idx in groups.items():
        rsrp = np.full(terrain.shape, np.nan, np.float32)
        best = np.full(terrain.shape, BEST_SITE_NONE, np.int32)
        unknown = np.zeros(terrain.shape, bool)
        kept = []
        for start in range(0, len(idx), max(1, chunk_sites)):
            part = idx[start : start + max(1, chunk_sites)]
            stack = site_signal(
                terrain, xy[part], table["height_m"][part], table["eirp_dbm"][part], scenario
            )
            _adjust(terrain, stack, xy[part], part, table, extras, scenario)
            unknown |= _unknown_cells(terrain, xy[part], scenario.radius_m, stack).any(axis=0)
            part_rsrp, part_best = best_server(stack)
            stronger = np.nan_to_num(part_rsrp, nan=-np.inf) > np.nan_to_num(rsrp, nan=-np.inf)
            rsrp = np.where(stronger, part_rsrp, rsrp)
            best = np.where(stronger, part_best + start, best)
            if keep_per_site:
                kept.append(stack)
            if on_progress is not None:
                on_progress(len(part))
        best = np.where(np.isnan(rsrp) & unknown, BEST_SITE_UNKNOWN, best).astype(np.int32)
        results[key] = SignalResult(
            rsrp=rsrp,
            best_site=best,
            site_ids=[site_ids[i] for i in idx],
            transform=terrain.transform,
            crs=terrain.crs,
            per_site=np.concatenate(kept) if keep_per_site and kept else None,
        )
    return results[""] if group_by is None else results


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


def _adjust(
    terrain: Terrain,
    stack: np.ndarray,
    xy: np.ndarray,
    part: np.ndarray,
    table: dict[str, np.ndarray],
    extras: dict[str, list[Any]],
    scenario: Scenario,
) -> None:
    """Add the per-cell sector, land-cover and calibration terms to a stack, in place."""
    from covgap.radio.sectors import adjust_site

    rows, cols = terrain.cell_of(xy[:, 0], xy[:, 1])
    for i, s in enumerate(part):
        adjust_site(
            terrain,
            stack[i],
            int(rows[i]),
            int(cols[i]),
            float(table["height_m"][s]),
            float(table["antenna_gain_dbi"][s]),
            extras["sectors"][s],
            extras["operator"][s],
            scenario,
        )


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
