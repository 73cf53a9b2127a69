"""Rasters for the web map: modelled signal classes and the hillshade basemap.

Leaflet draws image overlays in Web Mercator between two lon/lat corners, so
rasters are first resampled to EPSG:3857 on a grid suited to the screen (the
map needs neither 30 m cells nor megabytes of image), then classed (signal) or
shaded from the DEM (hillshade), and finally encoded for what they show:

- the signal classes as a palette PNG (one index per class, transparent where
  there is no class) by a small deterministic encoder;
- the hillshade as a greyscale JPEG (Pillow, fixed quality, no metadata),
  at one zoom level finer than the zoom at which the map first opens.

Every raster is capped at :data:`MAX_RASTER_PIXELS` pixels, so a larger area
gets coarser cells and the page stays small.  The same pixels always give the
same bytes.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.warp import Resampling, reproject, transform_bounds

from covgap.errors import ParameterError

__all__ = [
    "JPEG_QUALITY",
    "MAX_RASTER_PIXELS",
    "MAX_ZOOM",
    "SIGNAL_CLASSES",
    "GreyImage",
    "MercatorImage",
    "RgbaImage",
    "classify_signal",
    "colour_signal",
    "ground_m_per_pixel",
    "hillshade",
    "hillshade_image",
    "jpeg_bytes",
    "jpeg_data_uri",
    "overlay_cell_m",
    "png_bytes",
    "png_data_uri",
    "signal_palette",
    "to_mercator",
    "view_cell_m",
]

WEB_MERCATOR = CRS.from_epsg(3857)

#: Mercator metres per screen pixel at zoom 0 (256-pixel tiles).
_Z0_M_PER_PIXEL = 2.0 * math.pi * 6_378_137.0 / 256.0

#: The largest zoom the map allows (``L.map`` ``maxZoom``); polygons are
#: simplified to under one screen pixel at this zoom.
MAX_ZOOM = 18

#: Largest number of pixels of one raster on the map.  About two 1280 x 800
#: screens: an area larger than a commune group gets coarser cells instead of
#: a heavier page (a 2000 x 2000 greyscale JPEG of real terrain is 0.5-1 MB).
MAX_RASTER_PIXELS = 4_000_000

#: JPEG quality of the hillshade: no visible blocks on smooth shading, about
#: a third of the bytes of quality 95.
JPEG_QUALITY = 80

#: The screen the rasters are sized for (CSS pixels): a desktop window.
REFERENCE_SCREEN = (1280, 800)

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
class GreyImage:
    """A greyscale picture in Web Mercator (the hillshade basemap).

    Attributes
    ----------
    grey
        uint8 ``(rows, cols)``; there is no transparency (JPEG), so cells
        outside the DEM are a light grey.
    bounds
        ``[[south, west], [north, east]]`` in degrees.
    """

    grey: np.ndarray
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
    max_pixels: int | None = MAX_RASTER_PIXELS,
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
    max_pixels
        Largest ``rows * cols`` of the result: a larger area gets larger
        cells (``None``: no limit).
    """
    rows, cols = data.shape
    left, top = transform.c, transform.f
    right, bottom = left + cols * transform.a, top + rows * transform.e
    west, south, east, north = transform_bounds(
        crs, WEB_MERCATOR, left, bottom, right, top, densify_pts=21
    )
    if max_pixels is not None:
        cell_m = max(cell_m, math.sqrt((east - west) * (north - south) / max_pixels))
        while math.ceil((east - west) / cell_m) * math.ceil((north - south) / cell_m) > max_pixels:
            cell_m *= 1.001  # rounding up to whole cells can add a row or column
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


def classify_signal(rsrp: np.ndarray) -> np.ndarray:
    """Return the class of each RSRP cell as uint8: 0 none, ``i + 1`` for ``SIGNAL_CLASSES[i]``."""
    index = np.zeros(rsrp.shape, dtype=np.uint8)
    assigned = np.zeros(rsrp.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for number, (lower, _colour, _key) in enumerate(SIGNAL_CLASSES, start=1):
            mask = ~assigned & (rsrp >= lower)
            index[mask] = number
            assigned |= mask
    return index


def signal_palette() -> list[tuple[int, int, int, int]]:
    """Return the RGBA palette of :func:`classify_signal`: index 0 transparent, then the classes."""
    return [(0, 0, 0, 0), *(colour for _lower, colour, _key in SIGNAL_CLASSES)]


def colour_signal(rsrp: np.ndarray) -> np.ndarray:
    """Colour an RSRP raster (dBm, NaN empty) by :data:`SIGNAL_CLASSES` as uint8 RGBA."""
    return np.asarray(signal_palette(), dtype=np.uint8)[classify_signal(rsrp)]


def view_cell_m(
    bounds: Sequence[Sequence[float]],
    *,
    screen: tuple[int, int] = REFERENCE_SCREEN,
    finer: int = 1,
) -> float:
    """Return the Mercator cell size for a raster of a map that opens on ``bounds``.

    Leaflet's ``fitBounds`` opens the map at the largest whole zoom at which
    ``bounds`` fit the screen; the raster gets the pixel size of ``finer``
    levels above it (one level finer than the screen needs: sharp on a
    high-density phone screen and after one zoom in), never finer than
    :data:`MAX_ZOOM`.

    Parameters
    ----------
    bounds
        ``[[south, west], [north, east]]`` in degrees.
    screen
        Width and height of the screen in CSS pixels.
    finer
        Zoom levels above the opening zoom.
    """
    (south, west), (north, east) = bounds
    to_merc = Transformer.from_crs(CRS.from_epsg(4326), WEB_MERCATOR, always_xy=True)
    (x0, x1), (y0, y1) = to_merc.transform([west, east], [south, north])
    span_x, span_y = max(abs(x1 - x0), 1.0), max(abs(y1 - y0), 1.0)
    scale = min(screen[0] * _Z0_M_PER_PIXEL / span_x, screen[1] * _Z0_M_PER_PIXEL / span_y)
    zoom = min(max(math.floor(math.log2(scale)), 0) + finer, MAX_ZOOM)
    return _Z0_M_PER_PIXEL / 2.0**zoom


def ground_m_per_pixel(zoom: float, latitude: float) -> float:
    """Return the ground metres covered by one screen pixel at ``zoom`` and ``latitude``."""
    return _Z0_M_PER_PIXEL * math.cos(math.radians(latitude)) / 2.0**zoom


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


#: Grey of the basemap outside the DEM (close to the map's background).
_NO_DEM_GREY = 232


def hillshade_image(
    elevation: np.ndarray,
    transform: Affine,
    crs: CRS,
    *,
    cell_m: float | None = None,
    max_pixels: int = MAX_RASTER_PIXELS,
) -> GreyImage:
    """Return the greyscale hillshade basemap with its Leaflet bounds.

    The DEM is resampled to Web Mercator first (bilinear) on cells of
    ``cell_m`` (see :func:`view_cell_m`; never finer than the DEM), with at
    most ``max_pixels`` pixels, then shaded there, so the light falls the same
    way everywhere on the screen.  Lit slopes are light, shaded slopes dark,
    and higher ground slightly lighter than valleys.

    Parameters
    ----------
    elevation, transform, crs
        The DEM on a north-up grid in a projected metric CRS.
    cell_m
        Cell size in Mercator metres (``None``: the DEM's own cell).
    max_pixels
        Largest number of pixels; bounds the size of the HTML file.
    """
    rows, cols = elevation.shape
    centre = (transform.c + transform.a * cols / 2.0, transform.f + transform.e * rows / 2.0)
    _, lat = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True).transform(*centre)
    stretch = 1.0 / math.cos(math.radians(lat))  # Mercator metres per ground metre
    dem_cell = abs(transform.a) * stretch
    cell = max(dem_cell, cell_m if cell_m is not None else dem_cell)
    merc = to_mercator(
        elevation,
        transform,
        crs,
        cell_m=cell,
        resampling=Resampling.bilinear,
        max_pixels=max_pixels,
    )
    (south, west), (north, east) = merc.bounds
    to_merc = Transformer.from_crs(CRS.from_epsg(4326), WEB_MERCATOR, always_xy=True)
    (x0, x1), _ = to_merc.transform([west, east], [0.0, 0.0])
    cell = (x1 - x0) / merc.data.shape[1]  # the cell to_mercator used (maybe capped)
    # Mercator metres are stretched by 1/cos(lat): shade with true ground distances.
    scale = math.cos(math.radians((south + north) / 2.0))
    shade = hillshade(merc.data, cell * scale, cell * scale)
    valid = np.isfinite(merc.data) & np.isfinite(shade)
    rel = np.zeros(merc.data.shape)
    if valid.any():
        low, high = np.nanpercentile(merc.data[valid], [2.0, 98.0])
        rel = np.clip((np.nan_to_num(merc.data) - low) / max(high - low, 1.0), 0.0, 1.0)
    light = 0.30 + 0.55 * np.nan_to_num(shade) + 0.15 * rel
    grey = np.clip(np.rint(255.0 * light), 0, 255).astype(np.uint8)
    grey[~valid] = _NO_DEM_GREY
    return GreyImage(grey=grey, bounds=merc.bounds)


def png_bytes(
    image: np.ndarray, palette: Sequence[tuple[int, int, int, int]] | None = None
) -> bytes:
    """Encode a uint8 image as PNG: grey ``(rows, cols)``, RGB or RGBA ``(rows, cols, 3|4)``.

    With ``palette`` (RGBA entries), ``image`` is ``(rows, cols)`` of indices
    into it and the PNG is a palette image (one byte a pixel, the palette's
    alpha in a ``tRNS`` chunk).  The encoding is deterministic: no timestamps
    or text chunks, filter 0, zlib level 9.
    """
    data = np.ascontiguousarray(image, dtype=np.uint8)
    if data.ndim == 2:
        data = data[..., None]
    height, width, bands = data.shape
    if palette is not None:
        if bands != 1 or not 0 < len(palette) <= 256:
            raise ParameterError("a palette PNG needs a 2-D index image and 1 to 256 colours")
        if int(data.max(initial=0)) >= len(palette):
            raise ParameterError("the image has an index beyond the palette")
    colour_type = 3 if palette is not None else {1: 0, 2: 4, 3: 2, 4: 6}[bands]
    raw = np.zeros((height, 1 + width * bands), dtype=np.uint8)
    raw[:, 1:] = data.reshape(height, width * bands)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    colours = b""
    if palette is not None:
        rgba = np.asarray(palette, dtype=np.uint8).reshape(-1, 4)
        colours = chunk(b"PLTE", rgba[:, :3].tobytes()) + chunk(b"tRNS", rgba[:, 3].tobytes())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + colours
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def png_data_uri(
    image: np.ndarray, palette: Sequence[tuple[int, int, int, int]] | None = None
) -> str:
    """Return ``image`` as a ``data:image/png;base64,…`` URI (see :func:`png_bytes`)."""
    data = png_bytes(image, palette)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def jpeg_bytes(grey: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """Encode a uint8 greyscale image as a baseline JPEG (one channel, no metadata).

    Pillow's libjpeg encoder is deterministic for fixed pixels and options:
    the quality and the Huffman optimisation are fixed here, and no EXIF,
    ICC profile or comment is written, so the same pixels give the same bytes.
    """
    from PIL import Image

    data = np.ascontiguousarray(grey, dtype=np.uint8)
    if data.ndim != 2:
        raise ParameterError("jpeg_bytes takes a 2-D greyscale image")
    buffer = io.BytesIO()
    Image.fromarray(data).save(
        buffer, format="JPEG", quality=quality, optimize=True, progressive=False
    )
    return buffer.getvalue()


def jpeg_data_uri(grey: np.ndarray, quality: int = JPEG_QUALITY) -> str:
    """Return ``grey`` as a ``data:image/jpeg;base64,…`` URI (see :func:`jpeg_bytes`)."""
    data = jpeg_bytes(grey, quality)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
