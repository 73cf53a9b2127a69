"""Rasters for the web map: modelled signal and the hillshade basemap as PNG images.

Leaflet draws image overlays in Web Mercator between two lon/lat corners, so
rasters are first resampled to EPSG:3857 on a coarser grid (the map needs
neither 30 m cells nor megabytes of PNG), then coloured by class (signal) or
shaded from the DEM (hillshade), and finally encoded as PNG data URIs by a
small deterministic encoder (same pixels, same bytes).
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject, transform_bounds

__all__ = [
    "SIGNAL_CLASSES",
    "MercatorImage",
    "RgbaImage",
    "colour_signal",
    "hillshade",
    "hillshade_image",
    "overlay_cell_m",
    "png_bytes",
    "png_data_uri",
    "shade_relief",
    "to_mercator",
]

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


@dataclass(frozen=True)
class RgbaImage:
    """A coloured picture in Web Mercator, ready for a Leaflet image overlay.

    Attributes
    ----------
    rgba
        uint8 ``(rows, cols, 4)``.
    bounds
        ``[[south, west], [north, east]]`` in degrees.
    """

    rgba: np.ndarray
    bounds: list[list[float]]


#: Largest side, in Mercator cells, of the map's signal overlays: keeps each
#: overlay's PNG to a few hundred kB, so the page stays under 10 MB whatever
#: the area (a province's 200 km would otherwise give 2,300 cells of 90 m).
MAX_OVERLAY_CELLS = 1200


def overlay_cell_m(
    shape: tuple[int, int],
    transform: Affine,
    *,
    base_m: float = 90.0,
    max_cells: int = MAX_OVERLAY_CELLS,
) -> float:
    """Return the overlay cell size for a raster: ``base_m``, coarser for large areas.

    Parameters
    ----------
    shape, transform
        The raster's grid (metric CRS).
    base_m
        Cell size used while the overlay fits in ``max_cells`` a side (90 m,
        a district's overlays).
    max_cells
        Largest number of cells along either side of the overlay.

    Examples
    --------
    >>> overlay_cell_m((2000, 1600), Affine(30.0, 0, 0, 0, -30.0, 0))
    90.0
    >>> overlay_cell_m((7000, 6000), Affine(30.0, 0, 0, 0, -30.0, 0))
    175.0
    """
    rows, cols = shape
    extent = max(rows * abs(transform.e), cols * abs(transform.a))
    return max(float(base_m), extent / max_cells)


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


def hillshade(
    elevation: np.ndarray,
    cell_x: float,
    cell_y: float,
    *,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
    z_factor: float = 1.0,
) -> np.ndarray:
    """Return the hillshade of a DEM (0 dark … 1 lit, NaN where the DEM is NaN).

    Parameters
    ----------
    elevation
        Heights in metres on a north-up grid in a projected CRS.
    cell_x, cell_y
        Cell size in metres (positive) along columns and rows.
    azimuth_deg, altitude_deg
        Direction (clockwise from north) and height above the horizon of the light.
    z_factor
        Vertical exaggeration.
    """
    z = np.asarray(elevation, dtype=np.float64) * z_factor
    filled = np.where(np.isnan(z), np.nanmean(z) if np.isfinite(z).any() else 0.0, z)
    padded = np.pad(filled, 1, mode="edge")
    # Horn's method: 3 x 3 weighted gradients; rows grow southwards.
    dzdx = (
        (padded[:-2, 2:] + 2 * padded[1:-1, 2:] + padded[2:, 2:])
        - (padded[:-2, :-2] + 2 * padded[1:-1, :-2] + padded[2:, :-2])
    ) / (8.0 * cell_x)
    dzdy = (
        (padded[:-2, :-2] + 2 * padded[:-2, 1:-1] + padded[:-2, 2:])
        - (padded[2:, :-2] + 2 * padded[2:, 1:-1] + padded[2:, 2:])
    ) / (8.0 * cell_y)  # positive when the ground rises northwards
    # Lambert shading: unit normal (-gx, -gy, 1) / |.| dotted with the light vector.
    altitude, azimuth = math.radians(altitude_deg), math.radians(azimuth_deg)
    towards_light = dzdx * math.sin(azimuth) + dzdy * math.cos(azimuth)
    shade = (math.sin(altitude) - math.cos(altitude) * towards_light) / np.sqrt(
        1.0 + dzdx**2 + dzdy**2
    )
    shade = np.clip(shade, 0.0, 1.0).astype(np.float32)
    shade[np.isnan(z)] = np.nan
    return shade


#: Hypsometric tint of the hillshade basemap: (relative height 0…1, RGB).
_TINT = np.array(
    [
        [0.00, 186, 214, 168],
        [0.35, 226, 232, 180],
        [0.70, 214, 190, 150],
        [1.00, 245, 240, 235],
    ]
)


def shade_relief(elevation: np.ndarray, shade: np.ndarray) -> np.ndarray:
    """Colour a hillshade with a light height tint, as uint8 RGBA (transparent where NaN).

    Parameters
    ----------
    elevation
        Heights (metres) on the same grid as ``shade``.
    shade
        Output of :func:`hillshade` (0…1).
    """
    valid = np.isfinite(elevation) & np.isfinite(shade)
    rgba = np.zeros((*elevation.shape, 4), dtype=np.uint8)
    if not valid.any():
        return rgba
    low, high = np.nanpercentile(elevation[valid], [2.0, 98.0])
    rel = np.clip((elevation - low) / max(high - low, 1.0), 0.0, 1.0)
    light = 0.45 + 0.55 * np.nan_to_num(shade)
    for band in range(3):
        tint = np.interp(np.nan_to_num(rel), _TINT[:, 0], _TINT[:, band + 1])
        rgba[..., band] = np.clip(np.rint(tint * light), 0, 255).astype(np.uint8)
    rgba[..., 3] = np.where(valid, 255, 0).astype(np.uint8)
    return rgba


def hillshade_image(
    elevation: np.ndarray,
    transform: Affine,
    crs: CRS,
    *,
    max_pixels: int = 1600,
) -> RgbaImage:
    """Return the tinted hillshade basemap (uint8 RGBA) with its Leaflet bounds.

    The DEM is resampled to Web Mercator first (bilinear), on cells chosen so
    that the image is at most ``max_pixels`` wide or high (at least 30 m), then
    shaded there: the light falls the same way everywhere on the screen.

    Parameters
    ----------
    elevation, transform, crs
        The DEM on a north-up grid in a projected metric CRS.
    max_pixels
        Largest side of the image; bounds the size of the HTML file.
    """
    rows, cols = elevation.shape
    centre = (transform.c + transform.a * cols / 2.0, transform.f + transform.e * rows / 2.0)
    _, lat = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform(*centre)
    stretch = 1.0 / math.cos(math.radians(lat))  # Mercator metres per ground metre
    extent = max(cols * abs(transform.a), rows * abs(transform.e)) * stretch
    cell_m = max(30.0, abs(transform.a), extent / max_pixels)
    merc = to_mercator(elevation, transform, crs, cell_m=cell_m, resampling=Resampling.bilinear)
    # Mercator metres are stretched by 1/cos(lat): shade with true ground distances.
    (south, _), (north, _) = merc.bounds
    scale = math.cos(math.radians((south + north) / 2.0))
    shade = hillshade(merc.data, cell_m * scale, cell_m * scale)
    return RgbaImage(rgba=shade_relief(merc.data, shade), bounds=merc.bounds)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 image as PNG: grey ``(rows, cols)``, RGB or RGBA ``(rows, cols, 3|4)``.

    The encoding is deterministic: no timestamps or text chunks, filter 0,
    zlib level 9.
    """
    data = np.ascontiguousarray(image, dtype=np.uint8)
    if data.ndim == 2:
        data = data[..., None]
    height, width, bands = data.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[bands]
    raw = np.zeros((height, 1 + width * bands), dtype=np.uint8)
    raw[:, 1:] = data.reshape(height, width * bands)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def png_data_uri(image: np.ndarray) -> str:
    """Return ``image`` as a ``data:image/png;base64,…`` URI (see :func:`png_bytes`)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
