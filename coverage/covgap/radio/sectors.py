"""Per-cell terms added to each site's signal raster: sectors, land cover, calibration.

The path-loss kernel (whichever model the scenario chooses) gives each site's
received signal with an omnidirectional antenna of the site's
``antenna_gain_dbi``.  :func:`adjust_site` then adds, cell by cell within the
site's radius:

* **sectors** (when the site has some): ``max over sectors (G_s - A_s(phi,
  theta)) - antenna_gain_dbi``, the best sector's gain towards the cell
  minus the omnidirectional gain already counted.  ``phi`` is the azimuth
  from the site's cell centre to the cell's (grid north; UTM grid north
  differs from true north by the meridian convergence, under 2 degrees in
  Vietnam), ``theta`` the angle of the receiver below the antenna's
  horizontal: ``atan((z_site + h_site - z_cell - h_rx + bulge(d)) / d)``
  with the earth bulge of :func:`covgap.radio.pathloss.earth_bulge_m`.  All sectors
  of a site share its position and height, so they share the path loss and
  the best-serving sector is the one of largest gain towards the cell.
* **land cover** (when the terrain carries one): minus the clutter loss of
  the cell's class and the foliage loss of the vegetation on the last
  stretch of the path (:mod:`covgap.radio.landcover`).
* **calibration**: ``offset + slope log10(d / d_ref)`` of the site's
  operator (:meth:`covgap.radio.scenario.Scenario.calibration_for`), ``d`` in km,
  at least :data:`MIN_CALIBRATION_KM`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from covgap.data.antennas import (
    FRONT_TO_BACK_DB,
    SIDELOBE_V_DB,
    VERTICAL_BEAMWIDTH_DEG,
    Sector,
)
from covgap.data.terrain import Terrain
from covgap.radio import pathloss
from covgap.radio.scenario import Scenario

__all__ = [
    "MIN_CALIBRATION_KM",
    "SiteWindow",
    "adjust_site",
    "pair_terms_db",
    "sector_gain_db",
    "site_window",
]

#: Shortest distance used by the calibration slope, km (the slope is not extrapolated closer).
MIN_CALIBRATION_KM = 0.1


@dataclass(frozen=True)
class SiteWindow:
    """The cells within a site's radius: a window of the grid and their geometry.

    Attributes
    ----------
    rows, cols
        Slices of the grid.
    dx, dy
        float64 offsets east and north from the site's cell centre to each
        cell centre of the window, m.
    distance
        Horizontal distance, m.
    """

    rows: slice
    cols: slice
    dx: np.ndarray
    dy: np.ndarray
    distance: np.ndarray

    @property
    def azimuth_deg(self) -> np.ndarray:
        """Azimuth from the site to each cell, degrees clockwise from grid north."""
        return np.mod(np.degrees(np.arctan2(self.dx, self.dy)), 360.0)


def site_window(terrain: Terrain, row: int, col: int, radius_m: float) -> SiteWindow:
    """Return the window of cells around the site's cell ``(row, col)`` within ``radius_m``."""
    n_rows, n_cols = terrain.shape
    cw, ch = terrain.resolution
    rr = math.ceil(radius_m / ch) + 1
    rc = math.ceil(radius_m / cw) + 1
    r0, r1 = max(0, row - rr), min(n_rows, row + rr + 1)
    c0, c1 = max(0, col - rc), min(n_cols, col + rc + 1)
    t = terrain.transform
    dx = (np.arange(c0, c1) - col) * t.a
    dy = (np.arange(r0, r1) - row) * t.e
    gx, gy = np.meshgrid(dx, dy)
    return SiteWindow(slice(r0, r1), slice(c0, c1), gx, gy, np.hypot(gx, gy))


def sector_gain_db(
    sectors: Sequence[Sector],
    site_gain_dbi: float,
    azimuth_deg: np.ndarray,
    below_deg: np.ndarray,
) -> np.ndarray:
    """Best sector's gain towards each cell, dBi.

    Parameters
    ----------
    sectors
        The site's sectors (at least one).
    site_gain_dbi
        The site's antenna gain (for sectors without their own).
    azimuth_deg, below_deg
        Azimuth from the site and angle below the antenna's horizontal of each cell.

    Returns
    -------
    numpy.ndarray
        float64, same shape: ``max_s (G_s - A_s)``.
    """
    best = np.full(np.shape(azimuth_deg), -np.inf)
    for sector in sectors:
        gain = sector.max_gain_dbi(site_gain_dbi) - sector.attenuation_db(azimuth_deg, below_deg)
        np.maximum(best, gain, out=best)
    return best


def adjust_site(
    terrain: Terrain,
    raster: np.ndarray,
    row: int,
    col: int,
    height_m: float,
    site_gain_dbi: float,
    sectors: Sequence[Sector],
    operator: str,
    scenario: Scenario,
) -> None:
    """Add the sector, land-cover and calibration terms to one site's raster, in place.

    Parameters
    ----------
    terrain
        The DEM (with its optional ``landcover``).
    raster
        float32 ``(rows, cols)`` of the site from the kernel (NaN where not reached).
    row, col
        The site's cell.
    height_m
        Antenna height above ground, m.
    site_gain_dbi
        The omnidirectional gain the kernel counted, dBi.
    sectors
        The site's sectors (empty: omnidirectional).
    operator
        The site's operator (for per-operator calibration).
    scenario
        Receiver height, curvature, land-cover and calibration settings.
    """
    offset, slope = scenario.calibration_for(operator)
    classes = terrain.landcover
    if not sectors and classes is None and not offset and not slope:
        return
    n_rows, n_cols = terrain.shape
    if not (0 <= row < n_rows and 0 <= col < n_cols):
        return
    win = site_window(terrain, row, col, scenario.radius_m)
    n = len(sectors)
    azimuth = np.array([s.azimuth_deg for s in sectors], np.float64)
    width = np.array([s.beamwidth_deg for s in sectors], np.float64)
    tilt = np.array([s.tilt_deg for s in sectors], np.float64)
    gain = np.array([s.max_gain_dbi(site_gain_dbi) for s in sectors], np.float64)
    use_file = np.array([s.pattern is not None for s in sectors], np.bool_)
    horizontal = np.zeros((n, 360))
    vertical = np.zeros((n, 360))
    limit = np.full(n, FRONT_TO_BACK_DB)
    for i, sector in enumerate(sectors):
        if sector.pattern is not None:
            horizontal[i] = sector.pattern.horizontal
            vertical[i] = sector.pattern.vertical
            limit[i] = sector.pattern.front_to_back_db
    if classes is None:
        lookup = np.zeros((1, 1), np.uint8)
        clutter = gamma = np.zeros(256)
    else:
        from covgap.radio.landcover import class_table

        lookup = classes
        clutter = class_table(scenario.clutter_loss_db)
        gamma = class_table(scenario.foliage_db_per_m)
    step = min(terrain.resolution)
    foliage_on = classes is not None and scenario.foliage_max_db > 0 and bool(gamma.any())
    _adjust_kernel(
        raster,
        terrain.elevation,
        row,
        col,
        win.rows.start,
        win.rows.stop,
        win.cols.start,
        win.cols.stop,
        float(terrain.transform.a),
        float(terrain.transform.e),
        float(scenario.radius_m),
        float(height_m),
        float(scenario.receiver_height_m),
        float(scenario.curvature_coef),
        float(site_gain_dbi),
        azimuth,
        width,
        tilt,
        gain,
        use_file,
        horizontal,
        vertical,
        limit,
        classes is not None,
        lookup,
        clutter,
        gamma,
        float(scenario.foliage_max_db),
        math.floor(scenario.foliage_depth_m / step) if foliage_on else 0,
        float(step),
        float(offset),
        float(slope),
        float(scenario.calibration_distance_km),
    )


@njit(cache=True, inline="always")
def _circular(values: np.ndarray, angle: float) -> float:
    a = angle % 360.0
    i0 = math.floor(a) % 360
    frac = a - math.floor(a)
    return values[i0] * (1.0 - frac) + values[(i0 + 1) % 360] * frac


@njit(cache=True, error_model="numpy")
def _adjust_kernel(
    raster: np.ndarray,
    z: np.ndarray,
    row: int,
    col: int,
    r0: int,
    r1: int,
    c0: int,
    c1: int,
    cell_x: float,
    cell_y: float,
    radius: float,
    height: float,
    rx_height: float,
    cc: float,
    site_gain: float,
    azimuth: np.ndarray,
    width: np.ndarray,
    tilt: np.ndarray,
    gain: np.ndarray,
    use_file: np.ndarray,
    horizontal: np.ndarray,
    vertical: np.ndarray,
    limit: np.ndarray,
    has_classes: bool,
    classes: np.ndarray,
    clutter: np.ndarray,
    gamma: np.ndarray,
    foliage_max: float,
    n_steps: int,
    step: float,
    offset: float,
    slope: float,
    d_ref_km: float,
) -> None:
    """Add the terms of :func:`adjust_site` to the finite cells of the window, in place."""
    n_rows, n_cols = raster.shape
    n_sectors = azimuth.shape[0]
    z_site = np.float64(z[row, col])
    for r in range(r0, r1):
        for c in range(c0, c1):
            value = np.float64(raster[r, c])
            if not math.isfinite(value):
                continue
            dx = (c - col) * cell_x
            dy = (r - row) * cell_y
            d = math.sqrt(dx * dx + dy * dy)
            if d > radius:
                continue
            delta = 0.0
            if n_sectors > 0:
                dd = max(d, 1e-6)
                drop = (
                    z_site
                    + height
                    - (np.float64(z[r, c]) + rx_height)
                    + cc * dd * dd / pathloss.EARTH_DIAMETER_M
                )
                below = math.degrees(math.atan2(drop, dd))
                az = math.degrees(math.atan2(dx, dy)) % 360.0
                best = -math.inf
                for s in range(n_sectors):
                    phi = (az - azimuth[s] + 180.0) % 360.0 - 180.0
                    theta = below - tilt[s]
                    if use_file[s]:
                        a_h = _circular(horizontal[s], phi)
                        a_v = _circular(vertical[s], theta)
                        att = min(a_h + a_v, limit[s])
                    else:
                        a_h = min(12.0 * (phi / width[s]) ** 2, FRONT_TO_BACK_DB)
                        a_v = min(12.0 * (theta / VERTICAL_BEAMWIDTH_DEG) ** 2, SIDELOBE_V_DB)
                        att = min(a_h + a_v, FRONT_TO_BACK_DB)
                    best = max(best, gain[s] - att)
                delta += best - site_gain
            if has_classes:
                delta -= clutter[classes[r, c]]
                if n_steps > 0 and d > 0.0:
                    ux = -dx / d / cell_x
                    uy = -dy / d / cell_y
                    linear = 0.0
                    for k in range(1, n_steps + 1):
                        along = k * step
                        if along >= d:
                            break
                        rr = math.floor(r + 0.5 + uy * along)
                        cc_ = math.floor(c + 0.5 + ux * along)
                        if 0 <= rr < n_rows and 0 <= cc_ < n_cols:
                            linear += gamma[classes[rr, cc_]] * step
                    delta -= foliage_max * (1.0 - math.exp(-linear / foliage_max))
            if offset != 0.0 or slope != 0.0:
                d_km = max(d / 1000.0, MIN_CALIBRATION_KM)
                delta += offset + slope * math.log10(d_km / d_ref_km)
            raster[r, c] = np.float32(value + delta)


def pair_terms_db(
    terrain: Any,
    tx_xy: np.ndarray,
    tx_ground_m: np.ndarray,
    tx_height_m: np.ndarray,
    tx_gain_dbi: np.ndarray,
    tx_sectors: Sequence[Sequence[Sector]],
    tx_operators: Sequence[str],
    rx_xy: np.ndarray,
    rx_ground_m: np.ndarray,
    scenario: Scenario,
) -> np.ndarray:
    """Return the terms of :func:`adjust_site` for point-to-point pairs (:mod:`covgap.radio.links`).

    Parameters
    ----------
    terrain
        The DEM (its ``landcover``, when it has one, adds the land-cover terms).
    tx_xy, rx_xy
        ``(n, 2)`` coordinates in the terrain's CRS.
    tx_ground_m, rx_ground_m
        Ground elevation under each point, m.
    tx_height_m
        Antenna heights above ground, m.
    tx_gain_dbi
        The omnidirectional gain already counted in each transmitter's EIRP.
    tx_sectors
        Each transmitter's sectors (empty: omnidirectional).
    tx_operators
        Each transmitter's operator (``""`` when unknown: the global calibration).
    scenario
        Receiver height, curvature, land cover and calibration.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_tx, n_rx)``, dB to add to the received power.
    """
    n_tx, n_rx = len(tx_xy), len(rx_xy)
    out = np.zeros((n_tx, n_rx))
    if n_tx == 0 or n_rx == 0:
        return out
    dx = rx_xy[None, :, 0] - tx_xy[:, None, 0]
    dy = rx_xy[None, :, 1] - tx_xy[:, None, 1]
    d = np.hypot(dx, dy)
    for i in range(n_tx):
        offset, slope = scenario.calibration_for(str(tx_operators[i]))
        if offset or slope:
            d_km = np.maximum(d[i] / 1000.0, MIN_CALIBRATION_KM)
            out[i] += offset + slope * np.log10(d_km / scenario.calibration_distance_km)
        if tx_sectors[i]:
            di = np.maximum(d[i], 1e-6)
            drop = (
                tx_ground_m[i]
                + tx_height_m[i]
                - (rx_ground_m + scenario.receiver_height_m)
                + scenario.curvature_coef * di * di / pathloss.EARTH_DIAMETER_M
            )
            below = np.degrees(np.arctan2(drop, di))
            azimuth = np.mod(np.degrees(np.arctan2(dx[i], dy[i])), 360.0)
            gain = sector_gain_db(tx_sectors[i], float(tx_gain_dbi[i]), azimuth, below)
            out[i] += gain - float(tx_gain_dbi[i])
    classes = getattr(terrain, "landcover", None)
    if classes is not None:
        from covgap.radio.landcover import pair_landcover_loss_db

        out -= pair_landcover_loss_db(terrain, tx_xy, rx_xy, scenario)
    return out
