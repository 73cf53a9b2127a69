"""Population per village from a gridded population raster, with fractional cell coverage.

A population raster (WorldPop, Meta's HRSL...) gives people per cell.  A
village's population is the sum over the cells its territory touches of each
cell's value times the share of the cell's area inside the territory, as
exactextract computes it.  When exactextract is installed it is used; the
equivalent here intersects each touched cell's square with the polygon
(shapely, vectorised).  The shares of a cell over territories that partition
the communes add up to one, so the sum over the villages equals the communes'
total: nothing is lost or counted twice at the borders.  Shares are computed
in the raster's CRS (in degrees for WorldPop): within one cell the difference
with true areas is negligible.

Households are population divided by the average household size
(:data:`HOUSEHOLD_SIZE_2019` by province where known, else given by the user).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.windows
import shapely
from pyproj import CRS

from covgap.data.text import fold
from covgap.errors import CRSError, DatasetError, MissingDependencyError

__all__ = [
    "COVERAGE_SHARE_MIN",
    "HOUSEHOLD_SIZE_2019",
    "ZonalResult",
    "household_size_for",
    "zonal_sums",
]

log = logging.getLogger(__name__)

COVERAGE_SHARE_MIN = 0.99
"""Share of the communes' area the raster must cover (below: an error)."""

HOUSEHOLD_SIZE_2019: dict[str, tuple[float, str]] = {}
"""Average persons per household by province (folded name) from the 2019 census.

Each entry is ``(persons per household, source)``.  Only figures checked
against the published census tables (General Statistics Office, *Completed
results of the 2019 Viet Nam Population and Housing Census*, table of
households by province) belong here; none could be checked while this module
was written (no network), so the table is empty and ``covgap prepare`` asks for
``--household-size``.  Add a province as
``"<folded name>": (<persons per household>, "<census table it comes from>")``.
(The national average, 3.5 persons in 2019 by the GSO's press release, is
not a default: mountain provinces' households are markedly larger.)
"""


def household_size_for(province: str | None) -> tuple[float, str] | None:
    """Return ``(size, source)`` for a province named in any spelling, or ``None``."""
    if not province:
        return None
    key = fold(province)
    for prefix in ("tinh ", "thanh pho "):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    return HOUSEHOLD_SIZE_2019.get(key)


@dataclass
class ZonalResult:
    """Population per zone and how well the raster covered the zones."""

    sums: np.ndarray
    covered_share: float
    nodata_cells: int
    method: str


def _apply(t: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """Apply an affine transform to coordinates (arrays or scalars)."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _cell_shares(
    geom: shapely.Geometry, transform: Any, window: rasterio.windows.Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and area shares of the cells of ``window`` that ``geom`` touches."""
    rows, cols = np.mgrid[0 : int(window.height), 0 : int(window.width)]
    rows = rows.ravel()
    cols = cols.ravel()
    x0, y0 = _apply(transform, cols + int(window.col_off), rows + int(window.row_off))
    x1, y1 = _apply(transform, cols + int(window.col_off) + 1, rows + int(window.row_off) + 1)
    boxes = shapely.box(
        np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1)
    )
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    inside = shapely.contains_properly(geom, boxes) & hit
    shares = np.zeros(len(boxes))
    shares[inside] = 1.0
    edge = hit & ~inside
    if edge.any():
        shares[edge] = shapely.area(shapely.intersection(boxes[edge], geom)) / shapely.area(
            boxes[edge]
        )
    keep = shares > 0
    return rows[keep], cols[keep], shares[keep]


def zonal_sums(raster: str | Path, zones: gpd.GeoSeries, *, engine: str = "auto") -> ZonalResult:
    """Sum a population raster over polygons with fractional cell coverage.

    Parameters
    ----------
    raster
        Single-band GeoTIFF of people per cell, with a CRS.
    zones
        Polygons (any CRS; reprojected to the raster's).
    engine
        ``"exactextract"``, ``"covgap"`` (the equivalent here) or ``"auto"``
        (exactextract if installed).

    Returns
    -------
    ZonalResult
        Sum per zone (nodata and negative cells count as 0), the share of
        the zones' area inside the raster, the nodata cells met.

    Raises
    ------
    CRSError
        If the raster has no CRS.
    MissingDependencyError
        If ``engine="exactextract"`` and it is not installed.
    """
    raster = Path(raster)
    try:
        src = rasterio.open(raster)
    except rasterio.errors.RasterioIOError as exc:
        raise DatasetError(f"cannot read the raster: {exc}", path=raster) from None
    with src:
        if src.crs is None:
            raise CRSError(f"{raster}: the population raster declares no CRS; assign one")
        local = zones.to_crs(CRS.from_user_input(src.crs))
        extent = shapely.box(*src.bounds)
        union = shapely.union_all(local.to_numpy())
        covered = union.intersection(extent).area / union.area if union.area > 0 else 0.0
        use_exact = engine == "exactextract"
        if engine == "auto":
            try:
                import exactextract  # noqa: F401

                use_exact = True
            except ImportError:
                use_exact = False
        if use_exact:
            try:
                from exactextract import exact_extract
            except ImportError:
                raise MissingDependencyError(
                    "exactextract is not installed: pip install exactextract"
                ) from None
            frame = gpd.GeoDataFrame(geometry=local.reset_index(drop=True))
            out = exact_extract(src, frame, "sum", output="pandas")
            sums = out["sum"].to_numpy(dtype=float)
            return ZonalResult(np.nan_to_num(sums), covered, 0, "exactextract")
        sums = np.zeros(len(local))
        nodata_cells = 0
        nodata = src.nodata
        for i, geom in enumerate(local.to_numpy()):
            inverse = ~src.transform
            c0, r0 = _apply(inverse, geom.bounds[0], geom.bounds[3])
            c1, r1 = _apply(inverse, geom.bounds[2], geom.bounds[1])
            col0 = max(int(np.floor(min(c0, c1))), 0)
            row0 = max(int(np.floor(min(r0, r1))), 0)
            col1 = min(int(np.ceil(max(c0, c1))), src.width)
            row1 = min(int(np.ceil(max(r0, r1))), src.height)
            if col1 <= col0 or row1 <= row0:
                continue
            window = rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)
            values = src.read(1, window=window).astype(float)
            rows, cols, shares = _cell_shares(geom, src.transform, window)
            cell = values[rows, cols]
            bad = ~np.isfinite(cell) | (cell < 0)
            if nodata is not None:
                bad |= cell == nodata
            nodata_cells += int(bad.sum())
            sums[i] = float(np.sum(np.where(bad, 0.0, cell) * shares))
    return ZonalResult(sums, covered, nodata_cells, "covgap (exact cell fractions, shapely)")


def population_households(population: Sequence[float], household_size: float) -> np.ndarray:
    """Households from population: ``population / household_size`` (not rounded)."""
    return np.asarray(population, dtype=float) / float(household_size)
