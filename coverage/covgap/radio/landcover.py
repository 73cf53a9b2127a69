"""Land cover: clutter loss at the receiver and foliage loss along the path.

An optional ``terrain/landcover.tif`` holds ESA WorldCover classes (10 tree
cover, 20 shrubland, 30 grassland, 40 cropland, 50 built-up, 60 bare/sparse
vegetation, 70 snow and ice, 80 permanent water, 90 herbaceous wetland,
95 mangroves, 100 moss and lichen; 0 = no data).  :func:`with_landcover`
resamples it onto the DEM grid (nearest class) and attaches it to the
:class:`~covgap.data.terrain.Terrain`; the signal computation then subtracts, for
each site and cell (:func:`landcover_loss_db`):

* the **clutter loss** of the cell's class, ``scenario.clutter_loss_db``
  (ITU-R P.2108 terminal clutter loss, relative to open land), once;
* the **foliage loss** of the vegetation between the receiver's cell and
  ``scenario.foliage_depth_m`` towards the site (never beyond the site):
  with ``L = sum_i gamma_i d_i`` (``gamma`` = ``scenario.foliage_db_per_m``
  of each sampled cell's class, ``d`` one cell width per sample), the loss is
  ITU-R P.833's ``A_m (1 - exp(-L / A_m))``, ``A_m`` =
  ``scenario.foliage_max_db`` (0 switches foliage off).

Sources and values: ``docs/radio.md``.  Without the file nothing changes.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio
import rasterio.warp
from pyproj import CRS

from covgap.data.terrain import Terrain
from covgap.errors import DEMError
from covgap.radio.scenario import WORLDCOVER_CLASSES, Scenario

if TYPE_CHECKING:
    from covgap.radio.sectors import SiteWindow

__all__ = [
    "class_table",
    "landcover_loss_db",
    "pair_landcover_loss_db",
    "read_landcover",
    "with_landcover",
]

log = logging.getLogger(__name__)

#: Share of the DEM's cells the land cover must cover before a warning is given.
MIN_COVERED_SHARE = 0.99


def read_landcover(path: str | Path, terrain: Terrain) -> tuple[np.ndarray, list[str]]:
    """Read a WorldCover raster onto the DEM grid (nearest class).

    Parameters
    ----------
    path
        The GeoTIFF (any CRS; band 1 holds the class codes).
    terrain
        The DEM grid to resample onto.

    Returns
    -------
    classes : numpy.ndarray
        uint8 ``(rows, cols)``; 0 where the land cover has no data or does
        not reach.
    warnings : list of str
        One line when part of the DEM is not covered.

    Raises
    ------
    DEMError
        Unreadable file, no CRS, a value that is not a WorldCover class, or
        no overlap with the DEM (one line naming the file).
    """
    path = Path(path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise DEMError(
                    "the land-cover raster has no CRS (WorldCover tiles are EPSG:4326)",
                    path=path,
                )
            data = src.read(1)
            nodata = src.nodata
            src_transform = src.transform
            src_crs = CRS.from_user_input(src.crs.to_wkt())
    except rasterio.errors.RasterioError as exc:
        raise DEMError(f"cannot read the land cover ({exc})", path=path) from None
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isnan(data) | (data == np.round(data))):
            raise DEMError("expected integer WorldCover classes, got fractions", path=path)
        data = np.nan_to_num(data, nan=0.0)
    values = data.astype(np.int64)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        values = np.where(values == int(nodata), 0, values)
    present = np.unique(values)
    bad = [int(v) for v in present if v != 0 and v not in WORLDCOVER_CLASSES]
    if bad:
        raise DEMError(
            f"value {bad[0]} is not an ESA WorldCover class "
            f"({', '.join(str(c) for c in WORLDCOVER_CLASSES)}; 0 = no data)",
            path=path,
        )
    out = np.zeros(terrain.shape, dtype=np.uint8)
    rasterio.warp.reproject(
        values.astype(np.uint8),
        out,
        src_transform=src_transform,
        src_crs=src_crs.to_wkt(),
        src_nodata=0,
        dst_transform=terrain.transform,
        dst_crs=terrain.crs.to_wkt(),
        dst_nodata=0,
        resampling=rasterio.warp.Resampling.nearest,
    )
    valid = np.isfinite(terrain.elevation)
    covered = (out > 0) & valid
    if not covered.any():
        raise DEMError(
            "the land cover does not overlap the DEM: check its CRS and extent "
            "(download the WorldCover tile holding the area)",
            path=path,
        )
    share = covered.sum() / max(1, valid.sum())
    warnings = []
    if share < MIN_COVERED_SHARE:
        warnings.append(
            f"{path}: the land cover covers {share:.1%} of the DEM; cells outside it get no "
            "clutter or foliage loss"
        )
    return out, warnings


def with_landcover(terrain: Terrain, path: str | Path | None) -> tuple[Terrain, list[str]]:
    """Return ``terrain`` with its ``landcover`` read from ``path`` (unchanged for None)."""
    if path is None:
        return terrain, []
    import dataclasses

    classes, warnings = read_landcover(path, terrain)
    for message in warnings:
        log.warning("%s", message)
    return dataclasses.replace(terrain, landcover=classes), warnings


def class_table(pairs: tuple[tuple[int, float], ...]) -> np.ndarray:
    """Return a scenario table ``((class, value), ...)`` as a 256-entry lookup."""
    table = np.zeros(256, dtype=np.float64)
    for code, value in pairs:
        table[int(code)] = float(value)
    return table


def landcover_loss_db(terrain: Terrain, win: SiteWindow, scenario: Scenario) -> np.ndarray:
    """Clutter + foliage loss of each cell of a site's window, dB (rule in the module docstring).

    Parameters
    ----------
    terrain
        The DEM with its ``landcover``.
    win
        The site's window (:func:`covgap.radio.sectors.site_window`).
    scenario
        Clutter and foliage tables, foliage depth and cap.

    Returns
    -------
    numpy.ndarray
        float64, the window's shape, >= 0.
    """
    classes = terrain.landcover
    if classes is None:
        return np.zeros(win.distance.shape)
    clutter = class_table(scenario.clutter_loss_db)
    loss = clutter[classes[win.rows, win.cols]]
    gamma = class_table(scenario.foliage_db_per_m)
    cap = scenario.foliage_max_db
    if cap <= 0.0 or not gamma.any() or scenario.foliage_depth_m <= 0.0:
        return loss
    step = min(terrain.resolution)
    n_rows, n_cols = terrain.shape
    t = terrain.transform
    rows0 = np.arange(win.rows.start, win.rows.stop)[:, None]
    cols0 = np.arange(win.cols.start, win.cols.stop)[None, :]
    d = np.maximum(win.distance, 1e-9)
    # unit vector from the cell towards the site, in cells
    ux = -win.dx / d / t.a
    uy = -win.dy / d / t.e
    linear = np.zeros(win.distance.shape)
    n_steps = math.floor(scenario.foliage_depth_m / step)
    for k in range(1, n_steps + 1):
        along = k * step
        inside = along < win.distance
        if not inside.any():
            break
        r = np.floor(rows0 + 0.5 + uy * along).astype(np.int64)
        c = np.floor(cols0 + 0.5 + ux * along).astype(np.int64)
        ok = inside & (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols)
        sampled = classes[np.clip(r, 0, n_rows - 1), np.clip(c, 0, n_cols - 1)]
        linear += np.where(ok, gamma[sampled], 0.0) * step
    return loss + cap * (1.0 - np.exp(-linear / cap))


def pair_landcover_loss_db(
    terrain: Terrain, tx_xy: np.ndarray, rx_xy: np.ndarray, scenario: Scenario
) -> np.ndarray:
    """Clutter + foliage loss of point-to-point pairs, dB (``(n_tx, n_rx)``).

    The rule of :func:`landcover_loss_db`, with the receiver's cell the one
    holding the receiver point and the path the straight line to the
    transmitter.
    """
    classes = terrain.landcover
    n_tx, n_rx = len(tx_xy), len(rx_xy)
    if classes is None or n_tx == 0 or n_rx == 0:
        return np.zeros((n_tx, n_rx))
    n_rows, n_cols = terrain.shape
    inverse = ~terrain.transform

    def lookup(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.floor(inverse.a * x + inverse.b * y + inverse.c).astype(np.int64)
        r = np.floor(inverse.d * x + inverse.e * y + inverse.f).astype(np.int64)
        ok = (r >= 0) & (r < n_rows) & (c >= 0) & (c < n_cols)
        return classes[np.clip(r, 0, n_rows - 1), np.clip(c, 0, n_cols - 1)], ok

    rx_class, rx_ok = lookup(rx_xy[:, 0], rx_xy[:, 1])
    clutter = class_table(scenario.clutter_loss_db)
    loss = np.broadcast_to(np.where(rx_ok, clutter[rx_class], 0.0), (n_tx, n_rx)).copy()
    gamma = class_table(scenario.foliage_db_per_m)
    cap = scenario.foliage_max_db
    if cap <= 0.0 or not gamma.any() or scenario.foliage_depth_m <= 0.0:
        return loss
    step = min(terrain.resolution)
    dx = tx_xy[:, None, 0] - rx_xy[None, :, 0]
    dy = tx_xy[:, None, 1] - rx_xy[None, :, 1]
    d = np.maximum(np.hypot(dx, dy), 1e-9)
    linear = np.zeros((n_tx, n_rx))
    for k in range(1, math.floor(scenario.foliage_depth_m / step) + 1):
        along = k * step
        inside = along < d
        if not inside.any():
            break
        x = rx_xy[None, :, 0] + dx / d * along
        y = rx_xy[None, :, 1] + dy / d * along
        sampled, ok = lookup(x, y)
        linear += np.where(inside & ok, gamma[sampled], 0.0) * step
    return loss + cap * (1.0 - np.exp(-linear / cap))
