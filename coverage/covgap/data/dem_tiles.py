"""Terrain from elevation tiles: SRTM ``.hgt``, Copernicus GLO-30 or any GeoTIFF, into one DEM.

:func:`build_dem` mosaics the tiles (rasterio's merge over the area needed),
fills voids, reprojects to the metric analysis CRS at the tiles' native
resolution and writes one GeoTIFF covering the area asked for.

SRTM ``.hgt`` files (NASA/USGS, public domain) hold a square grid of
big-endian signed 16-bit heights in metres with no header: 3601 × 3601 samples
for 1 arc-second (SRTM1, about 30 m) or 1201 × 1201 for 3 arc-seconds (SRTM3,
about 90 m), void = −32768.  The file name gives the south-west corner:
``N21E103.hgt`` spans 21–22° N, 103–104° E; samples lie on the whole degrees,
so neighbouring tiles share their edge rows and columns.  A ``.hgt.zip`` holds
one such file.  Copernicus GLO-30 tiles (``Copernicus_DSM_COG_10_N21_00_E103_00_DEM.tif``)
and other GeoTIFFs are read as they are, with their CRS.

Voids (SRTM's −32768, a GeoTIFF's nodata) are filled by
:func:`rasterio.fill.fillnodata`, GDAL's ``GDALFillNodata``: each void cell
gets an inverse-distance-weighted average of the valid cells found by
searching outwards in four directions, up to :data:`FILL_DISTANCE_CELLS`
cells.  Voids in SRTM are mostly steep slopes and radar shadows a few cells
wide, which this interpolation closes; larger holes stay nodata and are
reported.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.fill
import rasterio.merge
import rasterio.warp
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT

from covgap.errors import CRSError, DEMError

__all__ = [
    "DEM_NODATA",
    "FILL_DISTANCE_CELLS",
    "DemResult",
    "build_dem",
    "dem_files",
    "read_hgt",
    "tile_name",
    "tiles_for_bounds",
]

log = logging.getLogger(__name__)

HGT_VOID = -32768
"""SRTM's void value."""
DEM_NODATA = -32768.0
"""Nodata value of the written DEM (float32)."""
FILL_DISTANCE_CELLS = 100
"""How far (cells) the void filling searches for valid heights (GDAL's default)."""
METRES_PER_DEGREE = 111_319.49
"""Length of one degree of latitude, m (WGS 84 mean; the tiles' native resolution in metres)."""
_HGT_SIZES = {3601 * 3601 * 2: 3601, 1201 * 1201 * 2: 1201}
_HGT_NAME = re.compile(r"([NS])(\d{2})([EW])(\d{3})", re.IGNORECASE)
_SUFFIXES = (".hgt", ".hgt.zip", ".tif", ".tiff")


@dataclass
class DemResult:
    """What :func:`build_dem` wrote."""

    path: Path
    files: list[Path]
    """The tiles used."""
    resolution_m: float
    shape: tuple[int, int]
    voids_filled: int
    voids_left: int
    notes: list[str] = field(default_factory=list)


def tile_name(lat: int, lon: int) -> str:
    """Return the SRTM name of the 1° tile whose south-west corner is ``(lat, lon)``.

    >>> tile_name(21, 103)
    'N21E103'
    >>> tile_name(-1, -75)
    'S01W075'
    """
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{ns}{abs(lat):02d}{ew}{abs(lon):03d}"


def tiles_for_bounds(west: float, south: float, east: float, north: float) -> list[str]:
    """Return the names of the 1° tiles that a longitude/latitude box touches."""
    names = []
    for lat in range(math.floor(south), math.floor(north - 1e-9) + 1):
        for lon in range(math.floor(west), math.floor(east - 1e-9) + 1):
            names.append(tile_name(lat, lon))
    return names


def _hgt_corner(path: Path) -> tuple[int, int]:
    match = _HGT_NAME.search(path.name)
    if match is None:
        raise DEMError(
            "an SRTM .hgt file must be named after its south-west corner, e.g. N21E103.hgt",
            path=path,
        )
    ns, lat, ew, lon = match.groups()
    return (
        int(lat) * (1 if ns.upper() == "N" else -1),
        int(lon) * (1 if ew.upper() == "E" else -1),
    )


def read_hgt(path: str | Path) -> tuple[np.ndarray, Affine]:
    """Read an SRTM ``.hgt`` (or ``.hgt.zip``) tile.

    Returns
    -------
    tuple
        Heights (int16, rows north to south, −32768 = void) and the affine
        transform of the cells in EPSG:4326 (each sample is the centre of a
        cell, so the tile's outer edge lies half a cell beyond the whole degrees).

    Raises
    ------
    DEMError
        If the name does not give the corner or the size is not 1201² or 3601².
    """
    path = Path(path)
    lat, lon = _hgt_corner(path)
    if path.name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.lower().endswith(".hgt")]
                if len(members) != 1:
                    raise DEMError(
                        f"expected one .hgt file in the archive, found {len(members)}", path=path
                    )
                data = archive.read(members[0])
        except zipfile.BadZipFile:
            raise DEMError("not a readable ZIP archive", path=path) from None
    else:
        data = path.read_bytes()
    side = _HGT_SIZES.get(len(data))
    if side is None:
        raise DEMError(
            f"{len(data)} bytes: an SRTM .hgt tile holds 3601 × 3601 (1″) or 1201 × 1201 (3″) "
            "big-endian 16-bit heights",
            path=path,
        )
    heights = np.frombuffer(data, dtype=">i2").reshape(side, side).astype(np.int16)
    res = 1.0 / (side - 1)
    transform = Affine(res, 0.0, lon - res / 2, 0.0, -res, lat + 1 + res / 2)
    return heights, transform


def dem_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into the elevation tiles they hold (sorted by name)."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = [p for p in sorted(path.iterdir()) if p.name.lower().endswith(_SUFFIXES)]
            if not inside:
                raise DEMError("no .hgt, .hgt.zip or GeoTIFF tile in the folder", path=path)
            found.extend(inside)
        elif path.is_file():
            if not path.name.lower().endswith(_SUFFIXES):
                raise DEMError("expected an SRTM .hgt/.hgt.zip tile or a GeoTIFF (.tif)", path=path)
            found.append(path)
        else:
            raise DEMError("file not found", path=path)
    return sorted(set(found), key=lambda p: (p.name, str(p)))


def _is_hgt(path: Path) -> bool:
    return path.name.lower().endswith((".hgt", ".hgt.zip"))


def _hgt_box(path: Path) -> shapely.Polygon:
    lat, lon = _hgt_corner(path)
    return shapely.box(lon, lat, lon + 1, lat + 1)


def _open_tile(path: Path, stack: ExitStack) -> Any:
    """Open one tile as a rasterio dataset in EPSG:4326."""
    if _is_hgt(path):
        heights, transform = read_hgt(path)
        memfile = stack.enter_context(MemoryFile())
        dataset = stack.enter_context(
            memfile.open(
                driver="GTiff",
                width=heights.shape[1],
                height=heights.shape[0],
                count=1,
                dtype="int16",
                crs="EPSG:4326",
                transform=transform,
                nodata=HGT_VOID,
            )
        )
        dataset.write(heights, 1)
        return dataset
    try:
        src = stack.enter_context(rasterio.open(path))
    except rasterio.errors.RasterioIOError as exc:
        raise DEMError(f"cannot read the raster: {exc}", path=path) from None
    if src.crs is None:
        raise CRSError(
            f"{path}: the raster declares no CRS; assign one (gdal_edit.py -a_srs EPSG:4326) "
            "or use the original tiles"
        )
    if CRS.from_user_input(src.crs) != CRS.from_epsg(4326):
        return stack.enter_context(WarpedVRT(src, crs="EPSG:4326", resampling=Resampling.bilinear))
    return src


def _footprint(dataset: Any) -> shapely.Polygon:
    b = dataset.bounds
    return shapely.box(b.left, b.bottom, b.right, b.top)


def _missing_tiles(needed: tuple[float, float, float, float], footprints: list[Any]) -> list[str]:
    """1° tiles (SRTM names) of the needed box that no input covers."""
    west, south, east, north = needed
    box = shapely.box(west, south, east, north)
    covered = shapely.union_all(footprints)
    missing = []
    for name in tiles_for_bounds(west, south, east, north):
        lat, lon = _hgt_corner(Path(name))
        part = shapely.box(lon, lat, lon + 1, lat + 1).intersection(box)
        if part.difference(covered).area > 1e-6 * max(part.area, 1e-12):
            missing.append(name)
    return missing


def build_dem(
    paths: Sequence[str | Path],
    area: shapely.Geometry,
    crs: CRS,
    out_path: str | Path,
) -> DemResult:
    """Mosaic, fill, reproject and clip elevation tiles into one GeoTIFF DEM.

    Parameters
    ----------
    paths
        Tiles or folders of tiles (``.hgt``, ``.hgt.zip``, ``.tif``).
    area
        The area the DEM must cover, in ``crs`` (the communes buffered by the
        signal radius and a margin); the DEM is its bounding box.
    crs
        The metric analysis CRS of the result.
    out_path
        The GeoTIFF to write (float32 metres, nodata −32768, DEFLATE).

    Returns
    -------
    DemResult

    Raises
    ------
    DEMError
        If tiles are missing for part of the area (one line naming them all),
        or a tile is unreadable.
    CRSError
        If a GeoTIFF declares no CRS.
    """
    files = dem_files(paths)
    left, bottom, right, top = area.bounds
    needed = rasterio.warp.transform_bounds(
        crs, "EPSG:4326", left, bottom, right, top, densify_pts=51
    )
    notes: list[str] = []
    # an .hgt tile's extent is in its name: tiles of a folder away from the area are not read
    near = shapely.box(needed[0] - 0.01, needed[1] - 0.01, needed[2] + 0.01, needed[3] + 0.01)
    files = [p for p in files if not _is_hgt(p) or _hgt_box(p).intersects(near)] or files[:1]
    with ExitStack() as stack:
        tiles = [_open_tile(p, stack) for p in files]
        missing = _missing_tiles(needed, [_footprint(t) for t in tiles])
        if missing:
            raise DEMError(
                f"elevation tiles missing for the area (communes + signal radius + margin, "
                f"lon {needed[0]:.3f}..{needed[2]:.3f}, lat {needed[1]:.3f}..{needed[3]:.3f}): "
                f"{', '.join(missing)}; add them (SRTM .hgt or Copernicus GLO-30, see "
                "docs/open-data.md)",
                path=files[0].parent if len(files) else None,
            )
        res_deg = min(min(abs(t.transform.a), abs(t.transform.e)) for t in tiles)
        # snap the window to the tiles' cell edges (whole degrees ± half a cell), so that
        # the merge copies cells without resampling and leaves no gap at the seams
        half = res_deg / 2
        window = (
            math.floor((needed[0] + half) / res_deg - 2) * res_deg - half,
            math.floor((needed[1] + half) / res_deg - 2) * res_deg - half,
            math.ceil((needed[2] + half) / res_deg + 2) * res_deg - half,
            math.ceil((needed[3] + half) / res_deg + 2) * res_deg - half,
        )
        used = [
            t
            for t, p in zip(tiles, files, strict=True)
            if _footprint(t).intersects(shapely.box(*window))
        ]
        used_files = [
            p
            for t, p in zip(tiles, files, strict=True)
            if _footprint(t).intersects(shapely.box(*window))
        ]
        with warnings.catch_warnings():  # rasterio multiplies Affine objects with ``*``
            warnings.filterwarnings(
                "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
            )
            mosaic, src_transform = rasterio.merge.merge(
                used, bounds=window, res=res_deg, nodata=DEM_NODATA, dtype="float32"
            )
    z = mosaic[0]
    void = z == DEM_NODATA
    n_void = int(void.sum())
    if n_void:
        z = rasterio.fill.fillnodata(
            z, mask=(~void).astype(np.uint8), max_search_distance=FILL_DISTANCE_CELLS
        )
        z = np.where(np.isfinite(z), z, DEM_NODATA).astype(np.float32)
    left_void = int((z == DEM_NODATA).sum())

    resolution = round(res_deg * METRES_PER_DEGREE, 1)
    x0 = math.floor(left / resolution) * resolution
    y1 = math.ceil(top / resolution) * resolution
    width = math.ceil((right - x0) / resolution)
    height = math.ceil((y1 - bottom) / resolution)
    dst_transform = Affine(resolution, 0.0, x0, 0.0, -resolution, y1)
    out = np.full((height, width), DEM_NODATA, dtype=np.float32)
    with warnings.catch_warnings():  # rasterio multiplies Affine objects with ``*``
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        rasterio.warp.reproject(
            z,
            out,
            src_transform=src_transform,
            src_crs="EPSG:4326",
            src_nodata=DEM_NODATA,
            dst_transform=dst_transform,
            dst_crs=crs,
            dst_nodata=DEM_NODATA,
            resampling=Resampling.bilinear,
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": dst_transform,
        "nodata": DEM_NODATA,
        "compress": "deflate",
        "zlevel": 1,
        "predictor": 3,
        "num_threads": "ALL_CPUS",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(out, 1)
        dst.update_tags(1, units="metre")
    tmp.replace(out_path)
    if n_void:
        notes.append(
            f"DEM: {n_void} void cells in the tiles filled by inverse-distance interpolation "
            f"(rasterio.fill.fillnodata, up to {FILL_DISTANCE_CELLS} cells)"
            + (f"; {left_void} too far from valid heights left as nodata" if left_void else "")
        )
    log.info(
        "DEM %s: %d x %d cells at %.1f m from %d tiles",
        out_path,
        width,
        height,
        resolution,
        len(used),
    )
    return DemResult(
        path=out_path,
        files=used_files,
        resolution_m=resolution,
        shape=(height, width),
        voids_filled=n_void - left_void,
        voids_left=left_void,
        notes=notes,
    )
