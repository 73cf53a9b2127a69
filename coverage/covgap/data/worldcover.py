"""ESA WorldCover tiles onto the dataset's DEM grid (``terrain/landcover.tif``).

``covgap prepare --landcover`` takes one or more WorldCover 10 m tiles
(``ESA_WorldCover_10m_2021_v200_N21E102_Map.tif``: 3° x 3° each, EPSG:4326,
one byte of class code per pixel) and writes the classes on the prepared
DEM's grid, so that the radio stage can add clutter and foliage losses
(``covgap.radio.landcover``). Each DEM cell takes the most frequent class of
the tile pixels in it (GDAL's ``mode`` resampling: classes are categories,
never averaged). Tiles are read through GDAL block by block, so a
36,000 x 36,000 tile is not loaded whole.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import rasterio.warp
from pyproj import CRS, Transformer

from covgap.errors import DatasetError

__all__ = ["WORLDCOVER_CLASSES", "LandcoverResult", "build_landcover", "worldcover_tile_names"]

log = logging.getLogger(__name__)

#: WorldCover class codes (ESA WorldCover 10 m v200 product user manual, table 2).
WORLDCOVER_CLASSES: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)

#: Share of the DEM's cells the tiles must cover before a warning is given.
MIN_COVERED_SHARE = 0.99


@dataclass
class LandcoverResult:
    """What :func:`build_landcover` wrote."""

    path: Path
    files: list[Path] = field(default_factory=list)
    """The tiles that overlap the DEM (recorded in ``dataset.toml``)."""
    covered_share: float = 0.0
    notes: list[str] = field(default_factory=list)


def worldcover_tile_names(west: float, south: float, east: float, north: float) -> list[str]:
    """Name the 3° WorldCover tiles (``N21E102``...) covering a lon/lat box."""
    names = []
    for lat in range(math.floor(south / 3) * 3, math.ceil(north / 3) * 3, 3):
        for lon in range(math.floor(west / 3) * 3, math.ceil(east / 3) * 3, 3):
            ns = "N" if lat >= 0 else "S"
            ew = "E" if lon >= 0 else "W"
            names.append(f"{ns}{abs(lat):02d}{ew}{abs(lon):03d}")
    return names


def _tiles(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        elif path.is_file():
            found.append(path)
        else:
            raise DatasetError("no such land-cover file or folder", path=path)
    if not found:
        raise DatasetError("no GeoTIFF land-cover tile found", path=Path(paths[0]))
    return found


def build_landcover(
    paths: Sequence[str | Path], dem_path: str | Path, out_path: str | Path
) -> LandcoverResult:
    """Write WorldCover classes on the grid of ``dem_path`` into ``out_path``.

    Parameters
    ----------
    paths
        WorldCover tiles (GeoTIFF) or folders of them.
    dem_path
        The prepared DEM: its grid, CRS and extent are the output's.
    out_path
        The uint8 GeoTIFF to write (0 = no data).

    Returns
    -------
    LandcoverResult

    Raises
    ------
    DatasetError
        A tile without CRS, a value that is not a WorldCover class, or no
        tile overlapping the DEM (the message names the tiles needed).
    """
    out_path = Path(out_path)
    with rasterio.open(dem_path) as dem:
        shape = (dem.height, dem.width)
        transform = dem.transform
        dem_crs = dem.crs
        dem_valid = dem.read_masks(1) > 0
        bounds = dem.bounds
    to_lonlat = Transformer.from_crs(CRS.from_user_input(dem_crs.to_wkt()), 4326, always_xy=True)
    lon, lat = to_lonlat.transform(
        [bounds.left, bounds.left, bounds.right, bounds.right],
        [bounds.bottom, bounds.top, bounds.bottom, bounds.top],
    )
    needed = worldcover_tile_names(min(lon), min(lat), max(lon), max(lat))
    classes = np.zeros(shape, np.uint8)
    result = LandcoverResult(path=out_path)
    allowed = np.array((0, *WORLDCOVER_CLASSES))
    for tile in _tiles(paths):
        part = np.zeros(shape, np.uint8)
        with rasterio.open(tile) as src:
            if src.crs is None:
                raise DatasetError(
                    "the land-cover tile has no CRS (WorldCover tiles are EPSG:4326)", path=tile
                )
            rasterio.warp.reproject(
                rasterio.band(src, 1),
                part,
                src_nodata=src.nodata if src.nodata is not None else 0,
                dst_transform=transform,
                dst_crs=dem_crs,
                dst_nodata=0,
                resampling=rasterio.warp.Resampling.mode,
            )
        if not part.any():
            result.notes.append(f"{tile.name}: does not overlap the DEM; not used")
            continue
        bad = np.setdiff1d(np.unique(part), allowed)
        if bad.size:
            raise DatasetError(
                f"value {int(bad[0])} is not an ESA WorldCover class "
                f"({', '.join(str(c) for c in WORLDCOVER_CLASSES)}; 0 = no data)",
                path=tile,
            )
        fill = (classes == 0) & (part > 0)
        classes[fill] = part[fill]
        result.files.append(tile)
    covered = (classes > 0) & dem_valid
    share = float(covered.sum() / max(1, dem_valid.sum()))
    result.covered_share = share
    if share == 0.0:
        raise DatasetError(
            f"no land-cover tile overlaps the DEM; the area needs WorldCover tile(s) "
            f"{', '.join(needed)}",
            path=Path(paths[0]),
        )
    if share < MIN_COVERED_SHARE:
        result.notes.append(
            f"the land cover covers {share:.1%} of the DEM (tiles needed: {', '.join(needed)}); "
            "cells outside it get no clutter or foliage loss"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": shape[0],
        "width": shape[1],
        "count": 1,
        "dtype": "uint8",
        "crs": dem_crs,
        "transform": transform,
        "nodata": 0,
        "compress": "deflate",
        "tiled": True,
    }
    with rasterio.open(out_path, "w", **profile) as dst:
        dst.write(classes, 1)
    log.info("land cover: %d tile(s), %.1f%% of the DEM", len(result.files), 100 * share)
    return result
