"""Rasters for the web map: modelled signal as a coloured, semi-transparent image.

Leaflet draws image overlays in Web Mercator between two lon/lat corners, so
rasters are first resampled to EPSG:3857 on a coarser grid (the map needs
neither 30 m cells nor megabytes of PNG), then coloured by class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject, transform_bounds

__all__ = ["SIGNAL_CLASSES", "MercatorImage", "colour_signal", "to_mercator"]

WEB_MERCATOR = CRS.from_epsg(3857)

#: Signal classes drawn on the map: (lower bound dBm, RGBA colour, label key).
#: The bounds follow the scenario's "good" (-100 dBm) and "basic" (-110 dBm)
#: thresholds, with -90 dBm marking strong indoor-capable signal.
SIGNAL_CLASSES: tuple[tuple[float, tuple[int, int, int, int], str], ...] = (
    (-90.0, (0, 104, 55, 170), "signal_strong"),
    (-100.0, (49, 163, 84, 160), "signal_good"),
    (-110.0, (173, 221, 142, 150), "signal_basic"),
    (-120.0, (254, 224, 139, 110), "signal_weak"),
)


@dataclass(frozen=True)
class MercatorImage:
    """A raster resampled to Web Mercator, with its lon/lat corners.

    Attributes
    ----------
    data
        float32 ``(rows, cols)``, NaN where empty.
    bounds
        ``[[south, west], [north, east]]`` in degrees, as Leaflet expects.
    """

    data: np.ndarray
    bounds: list[list[float]]


def to_mercator(
    data: np.ndarray,
    transform: Affine,
    crs: CRS,
    *,
    cell_m: float = 90.0,
    resampling: Resampling = Resampling.average,
) -> MercatorImage:
    """Resample a float raster (NaN = empty) to Web Mercator cells of about ``cell_m``.

    Parameters
    ----------
    data, transform, crs
        The source raster and its grid.
    cell_m
        Target cell size in Mercator metres (about ``cell_m / cos(lat)`` on
        the ground; close enough for a picture).
    resampling
        How source cells are combined.
    """
    rows, cols = data.shape
    left, top = transform.c, transform.f
    right, bottom = left + cols * transform.a, top + rows * transform.e
    west, south, east, north = transform_bounds(
        crs, WEB_MERCATOR, left, bottom, right, top, densify_pts=21
    )
    width = max(1, math.ceil((east - west) / cell_m))
    height = max(1, math.ceil((north - south) / cell_m))
    dst_transform = Affine(cell_m, 0.0, west, 0.0, -cell_m, north)
    out = np.full((height, width), np.nan, dtype=np.float32)
    reproject(
        source=np.asarray(data, dtype=np.float32),
        destination=out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs=WEB_MERCATOR,
        dst_nodata=np.nan,
        resampling=resampling,
    )
    west, north = dst_transform.c, dst_transform.f
    east, south = west + width * dst_transform.a, north + height * dst_transform.e
    to_ll = Transformer.from_crs(WEB_MERCATOR, CRS.from_epsg(4326), always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_ll.transform([west, east], [south, north])
    return MercatorImage(
        data=out, bounds=[[round(lat0, 7), round(lon0, 7)], [round(lat1, 7), round(lon1, 7)]]
    )


def colour_signal(rsrp: np.ndarray) -> np.ndarray:
    """Colour an RSRP raster (dBm, NaN empty) by :data:`SIGNAL_CLASSES` as uint8 RGBA."""
    rgba = np.zeros((*rsrp.shape, 4), dtype=np.uint8)
    assigned = np.zeros(rsrp.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for lower, colour, _key in SIGNAL_CLASSES:
            mask = ~assigned & (rsrp >= lower)
            rgba[mask] = colour
            assigned |= mask
    return rgba
