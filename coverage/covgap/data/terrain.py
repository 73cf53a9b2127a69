"""The DEM: open, reproject to the metric analysis CRS, check, sample.

Nodata is NaN, never sea level. A geographic DEM (degrees) is always
reprojected to a projected CRS in metres before any distance is taken.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.warp
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling

from covgap.data.crs import is_metric, utm_crs
from covgap.errors import CRSError, DEMError, TerrainError

__all__ = [
    "FEET",
    "MAX_PLAUSIBLE_M",
    "MIN_PLAUSIBLE_M",
    "DemFile",
    "GridWindow",
    "Terrain",
    "check_coverage",
    "check_dem",
    "load_terrain",
    "read_dem",
    "read_window",
    "terrain_source",
]

logger = logging.getLogger(__name__)

#: Heights outside this range (m) make a DEM implausible (Dead Sea shore ~ -430 m).
MIN_PLAUSIBLE_M = -500.0
#: Everest is 8849 m.
MAX_PLAUSIBLE_M = 9000.0
#: A DEM whose median height is below this (m) has a wrong vertical offset.
MIN_MEDIAN_M = -100.0
#: Metres per international foot.
FEET = 0.3048
_FEET_UNITS = {"ft", "foot", "feet", "us-ft", "ftus", "us survey foot", "international foot"}
#: Longitude/latitude box of Vietnam, and a ceiling just above Fansipan (3,147 m),
#: the highest point of Vietnam and of Indochina.
VIETNAM_BOX = (102.1, 8.4, 109.5, 23.4)
VIETNAM_MAX_M = 3200.0


@dataclass(frozen=True)
class GridWindow:
    """A rectangle of DEM cells: first row and column, and its size.

    Attributes
    ----------
    row, col
        Top-left cell of the window in the full grid.
    rows, cols
        Size of the window, cells.
    """

    row: int
    col: int
    rows: int
    cols: int

    @property
    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices of the window in the full grid."""
        return slice(self.row, self.row + self.rows), slice(self.col, self.col + self.cols)

    @property
    def cells(self) -> int:
        """Number of cells in the window."""
        return self.rows * self.cols

    @classmethod
    def around(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        half_rows: int,
        half_cols: int,
        shape: tuple[int, int],
    ) -> GridWindow:
        """Return the window holding every cell within ``half_rows``/``half_cols`` of cells.

        Parameters
        ----------
        rows, cols
            Cells (row, column) in the full grid, e.g. a batch of sites.
        half_rows, half_cols
            Margin around them, cells.
        shape
            ``(rows, cols)`` of the full grid; the window is clipped to it.
        """
        r0 = max(int(np.min(rows)) - half_rows, 0)
        c0 = max(int(np.min(cols)) - half_cols, 0)
        r1 = min(int(np.max(rows)) + half_rows + 1, shape[0])
        c1 = min(int(np.max(cols)) + half_cols + 1, shape[1])
        return cls(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


@dataclass(frozen=True, eq=False)
class Terrain:
    """A DEM on a north-up grid in a projected CRS in metres.

    Attributes
    ----------
    elevation
        float32 ``(rows, cols)``, metres, NaN where unknown (nodata).
    transform
        Affine transform from (col, row) to (x, y) of cell corners.
    crs
        Projected CRS in metres.
    path
        The file it came from, if any.
    landcover
        Optional uint8 ``(rows, cols)`` ESA WorldCover class of each cell
        (0: unknown), set by :func:`covgap.radio.landcover.with_landcover`.
    """

    elevation: np.ndarray
    transform: Affine
    crs: CRS
    path: Path | None = None
    landcover: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.elevation.ndim != 2:
            raise TerrainError(f"{self.path or 'DEM'}: elevation must be 2-D")
        if self.transform.b != 0.0 or self.transform.d != 0.0:
            raise TerrainError(f"{self.path or 'DEM'}: rotated grids are not supported")
        if not is_metric(self.crs):
            raise CRSError(f"{self.path or 'DEM'}: CRS must be projected in metres")

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (int(self.elevation.shape[0]), int(self.elevation.shape[1]))

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell width and height, metres (both positive)."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in the CRS, metres."""
        rows, cols = self.shape
        t = self.transform
        x0, y0 = t.c, t.f
        x1, y1 = t.c + cols * t.a, t.f + rows * t.e
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def window(self, window: GridWindow) -> Terrain:
        """Return the part of the DEM inside ``window``, sharing this Terrain's memory.

        The elevation (and land cover, if any) are views (no copy) and the
        transform is shifted to the window's top-left corner, so coordinates
        keep their meaning.
        """
        rs, cs = window.slices
        t = self.transform
        shifted = Affine(t.a, 0.0, t.c + window.col * t.a, 0.0, t.e, t.f + window.row * t.e)
        cover = None if self.landcover is None else self.landcover[rs, cs]
        return Terrain(self.elevation[rs, cs], shifted, self.crs, self.path, cover)

    def _pixel(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (col, row) of points (north-up grid, no rotation)."""
        t = self.transform
        return (np.asarray(xs, float) - t.c) / t.a, (np.asarray(ys, float) - t.f) / t.e

    def cell_of(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (int64) of the cells holding points (may lie outside the grid)."""
        cols_f, rows_f = self._pixel(xs, ys)
        return np.floor(rows_f).astype(np.int64), np.floor(cols_f).astype(np.int64)

    def sample(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Bilinear elevation at points (between cell centres); NaN outside or near nodata.

        Parameters
        ----------
        xs, ys
            Coordinates in :attr:`crs`.

        Returns
        -------
        numpy.ndarray
            float64 elevations, same shape as ``xs``. Points in the outer half
            cell of the grid take the nearest edge row/column; any nodata
            among the (up to four) cells used gives NaN.
        """
        xs = np.asarray(xs, float)
        ys = np.asarray(ys, float)
        rows, cols = self.shape
        cf, rf = self._pixel(xs.ravel(), ys.ravel())
        inside = (cf >= 0) & (cf <= cols) & (rf >= 0) & (rf <= rows)
        u = np.clip(cf - 0.5, 0.0, cols - 1.0)
        v = np.clip(rf - 0.5, 0.0, rows - 1.0)
        c0 = np.minimum(np.floor(u).astype(np.int64), max(cols - 2, 0))
        r0 = np.minimum(np.floor(v).astype(np.int64), max(rows - 2, 0))
        c1 = np.minimum(c0 + 1, cols - 1)
        r1 = np.minimum(r0 + 1, rows - 1)
        fu = u - c0
        fv = v - r0
        z = self.elevation.astype(np.float64)
        top = z[r0, c0] * (1 - fu) + z[r0, c1] * fu
        bottom = z[r1, c0] * (1 - fu) + z[r1, c1] * fu
        # a zero weight must not let a NaN neighbour through
        top = np.where(fu == 0, z[r0, c0], np.where(fu == 1, z[r0, c1], top))
        bottom = np.where(fu == 0, z[r1, c0], np.where(fu == 1, z[r1, c1], bottom))
        out = np.where(fv == 0, top, np.where(fv == 1, bottom, top * (1 - fv) + bottom * fv))
        out = np.where(inside, out, np.nan)
        return out.reshape(xs.shape)

    def covers(self, x: float, y: float, radius_m: float) -> bool:
        """Whether the square of half-side ``radius_m`` around ``(x, y)`` lies in the grid."""
        left, bottom, right, top = self.bounds
        return (
            left <= x - radius_m
            and x + radius_m <= right
            and bottom <= y - radius_m
            and y + radius_m <= top
        )


def check_coverage(
    terrain: Terrain,
    points: Iterable[tuple[str, float, float]],
    radius_m: float,
    *,
    log: bool = True,
) -> list[str]:
    """Find sites whose modelled radius the DEM does not cover.

    Parameters
    ----------
    terrain
        The DEM.
    points
        ``(name, x, y)`` per site, coordinates in ``terrain.crs``.
    radius_m
        Modelled radius around each site.
    log
        Also log each message as a warning.

    Returns
    -------
    list of str
        At most two messages: sites whose radius runs past the DEM's edge,
        and sites that lie outside the DEM altogether.
    """
    partial: list[str] = []
    outside: list[str] = []
    for name, x, y in points:
        if terrain.covers(x, y, radius_m):
            continue
        rows, cols = terrain.cell_of(np.array([x]), np.array([y]))
        on_grid = 0 <= rows[0] < terrain.shape[0] and 0 <= cols[0] < terrain.shape[1]
        (partial if on_grid else outside).append(str(name))
    where = terrain.path or "DEM"
    messages = []
    if partial:
        messages.append(
            f"{where} does not cover the {radius_m:.0f} m radius of {len(partial)} site(s) "
            f"({', '.join(partial)}): cells beyond its edge are not modelled"
        )
    if outside:
        messages.append(
            f"{where} does not contain {len(outside)} site(s) ({', '.join(outside)}): "
            "their coverage is unknown"
        )
    if log:
        for msg in messages:
            logger.warning(msg)
    return messages


def _plausible(z: np.ndarray, where: str) -> None:
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        raise TerrainError(f"{where}: every cell is nodata")
    lo, hi = float(finite.min()), float(finite.max())
    if lo < MIN_PLAUSIBLE_M or hi > MAX_PLAUSIBLE_M:
        raise TerrainError(
            f"{where}: implausible heights {lo:.1f}..{hi:.1f} m (expected metres between "
            f"{MIN_PLAUSIBLE_M:.0f} and {MAX_PLAUSIBLE_M:.0f}; is nodata declared?)"
        )


def _unit_is_feet(src: rasterio.io.DatasetReader) -> bool:
    """Whether band 1's unit metadata says feet."""
    units = src.units[0] if src.units else None
    return bool(units) and str(units).strip().casefold() in _FEET_UNITS


def check_dem(path: str | Path, area: gpd.GeoSeries, *, max_side: int = 1000) -> list[str]:
    """Check that a DEM fits the dataset: heights, coverage of the area, nodata holes.

    The DEM is read at a reduced resolution (at most ``max_side`` cells a side),
    which is enough for these checks.  Rules (documented in
    ``docs/troubleshooting.md``):

    - heights outside -500..9000 m, or a median below -100 m, are an error
      (undeclared nodata, decimetres, a wrong vertical offset);
    - band unit metadata in feet: heights are converted (warning);
    - a DEM inside Vietnam with heights above 3,200 m (Fansipan, the highest
      point, is 3,147 m) is an error: it is almost surely in feet;
    - a DEM that does not overlap the area is an error; one that covers only
      part of it, or has nodata holes inside it, gives a warning.

    Parameters
    ----------
    path
        The GeoTIFF.
    area
        The communes (any CRS).
    max_side
        Largest number of cells read along each side.

    Returns
    -------
    list of str
        Warnings.

    Raises
    ------
    DEMError
        On an unreadable file, no CRS, implausible heights or no overlap.
    """
    import rasterio.features
    import shapely

    path = Path(path)
    notes: list[str] = []
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise DEMError(
                    "the DEM has no CRS (georeferencing); save it as a GeoTIFF with its CRS",
                    path=path,
                )
            if src.count < 1:
                raise DEMError("the DEM has no band", path=path)
            step = max(1, math.ceil(max(src.width, src.height) / max_side))
            shape = (max(1, src.height // step), max(1, src.width // step))
            z = src.read(1, masked=True, out_shape=shape).astype(np.float32).filled(np.nan)
            transform = src.transform @ Affine.scale(src.width / shape[1], src.height / shape[0])
            crs = CRS.from_user_input(src.crs.to_wkt())
            in_feet = _unit_is_feet(src)
            bounds = src.bounds
    except rasterio.errors.RasterioError as exc:
        raise DEMError(f"cannot read the DEM as a GeoTIFF ({exc})", path=path) from None
    if in_feet:
        notes.append(f"{path}: heights are in feet (band unit metadata); converted to metres")
        z = z * np.float32(FEET)
    try:
        _plausible(z, str(path))
    except TerrainError as exc:
        raise DEMError(str(exc).removeprefix(f"{path}: "), path=path) from None
    finite = z[np.isfinite(z)]
    median = float(np.median(finite))
    if median < MIN_MEDIAN_M:
        raise DEMError(
            f"median height {median:.0f} m is far below sea level: the vertical "
            "offset looks wrong (heights must be metres above sea level)",
            path=path,
        )
    centre = rasterio.warp.transform(
        crs.to_wkt(),
        "EPSG:4326",
        [(bounds.left + bounds.right) / 2],
        [(bounds.bottom + bounds.top) / 2],
    )
    lon, lat = centre[0][0], centre[1][0]
    box = VIETNAM_BOX
    top = float(finite.max())
    if box[0] <= lon <= box[2] and box[1] <= lat <= box[3] and top > VIETNAM_MAX_M:
        raise DEMError(
            f"heights up to {top:,.0f} m, higher than Fansipan (3,147 m), the "
            f"highest point of Vietnam: the DEM looks like it is in feet (in metres that "
            f"would be {top * FEET:,.0f} m); convert it to metres",
            path=path,
        )

    region = shapely.union_all(list(area.to_crs(crs).geometry.make_valid()))
    dem_box = shapely.box(bounds.left, bounds.bottom, bounds.right, bounds.top)
    if region.is_empty or region.area <= 0:
        return notes
    inside = region.intersection(dem_box).area / region.area
    if inside <= 0.0:
        raise DEMError(
            f"the DEM does not cover the communes at all (DEM bounds "
            f"{bounds.left:.0f}, {bounds.bottom:.0f}, {bounds.right:.0f}, {bounds.top:.0f} in "
            f"{crs.to_string()}); use a DEM of this district, plus 10 km around it",
            path=path,
        )
    if inside < 0.999:
        notes.append(
            f"{path}: the DEM covers only {inside:.0%} of the communes' area; "
            "terrain outside it is not modelled"
        )
    with warnings.catch_warnings():  # rasterio multiplies Affine objects with ``*``
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        mask = rasterio.features.geometry_mask(
            [region], out_shape=z.shape, transform=transform, invert=True, all_touched=False
        )
    cells = int(mask.sum())
    if cells:
        holes = int((mask & ~np.isfinite(z)).sum())
        if holes:
            notes.append(
                f"{path}: {holes / cells:.1%} of the communes' area is nodata (holes in "
                "the DEM); coverage there is unknown; fill the holes (e.g. gdal_fillnodata)"
            )
    return notes


def read_dem(path: str | Path) -> tuple[np.ndarray, Affine, CRS]:
    """Read band 1 of a DEM as float32 with nodata as NaN, without reprojecting.

    Returns
    -------
    tuple
        ``(elevation, transform, crs)``; the CRS may be geographic.

    Raises
    ------
    TerrainError
        Unreadable file, no CRS, rotated grid or implausible heights.
    """
    path = Path(path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise TerrainError(f"{path}: the DEM has no CRS")
            z = src.read(1, masked=True).astype(np.float32).filled(np.nan)
            transform = src.transform
            crs = CRS.from_user_input(src.crs.to_wkt())
            in_feet = _unit_is_feet(src)
    except rasterio.errors.RasterioError as exc:
        raise TerrainError(f"{path}: cannot read the DEM ({exc})") from None
    if in_feet:
        logger.warning("%s: heights are in feet (band unit); converted to metres", path)
        z = z * np.float32(FEET)
    if transform.b != 0.0 or transform.d != 0.0:
        raise TerrainError(f"{path}: rotated grids are not supported")
    _plausible(z, str(path))
    return z, transform, crs


def read_window(path: str | Path, window: GridWindow) -> Terrain:
    """Read one window of a DEM already in a metric CRS, as float32 with NaN nodata.

    Only the window's cells are read from disk, so a task that models a batch
    of sites needs the memory of its window, not of the whole DEM.  The
    values are those :func:`load_terrain` gives for the same cells when it
    does not reproject (a metric DEM, no target CRS).

    Parameters
    ----------
    path
        The GeoTIFF (projected CRS in metres, north-up).
    window
        The cells to read (e.g. from :meth:`GridWindow.around`).

    Returns
    -------
    Terrain
        The window, with its own transform; ``path`` is the file.

    Raises
    ------
    TerrainError
        Unreadable file, no CRS or a window outside the grid.
    CRSError
        The DEM is not in a metric CRS (reproject it first, see :func:`load_terrain`).
    """
    from rasterio.windows import Window

    path = Path(path)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise TerrainError(f"{path}: the DEM has no CRS")
            if (
                window.row < 0
                or window.col < 0
                or window.row + window.rows > src.height
                or window.col + window.cols > src.width
            ):
                raise TerrainError(
                    f"{path}: window {window} lies outside the {src.height} x {src.width} grid"
                )
            win = Window(window.col, window.row, window.cols, window.rows)
            z = src.read(1, window=win, masked=True).astype(np.float32).filled(np.nan)
            t = src.transform
            transform = Affine(t.a, t.b, t.c + window.col * t.a, t.d, t.e, t.f + window.row * t.e)
            crs = CRS.from_user_input(src.crs.to_wkt())
            in_feet = _unit_is_feet(src)
    except rasterio.errors.RasterioError as exc:
        raise TerrainError(f"{path}: cannot read the DEM ({exc})") from None
    if in_feet:
        z = z * np.float32(FEET)
    if not is_metric(crs):
        raise CRSError(f"{path}: windowed reads need a DEM in a metric CRS")
    return Terrain(z, transform, crs, path)


def load_terrain(
    path: str | Path, crs: CRS | str | None = None, resolution: float | None = None
) -> Terrain:
    """Read a GeoTIFF DEM, reprojecting it to a metric CRS when needed.

    Parameters
    ----------
    path
        The DEM (one band, heights in metres).
    crs
        Target projected CRS in metres. ``None`` keeps a metric DEM as it is
        and reprojects a geographic one to its UTM zone.
    resolution
        Cell size (m) of a reprojected DEM; default: GDAL's estimate of the
        source resolution in the target CRS.

    Returns
    -------
    Terrain

    Raises
    ------
    TerrainError
        Unreadable file, no CRS, implausible heights.
    CRSError
        ``crs`` is not projected in metres.
    """
    path = Path(path)
    z, transform, src_crs = read_dem(path)
    if crs is not None:
        target = CRS.from_user_input(crs)
        if not is_metric(target):
            raise CRSError(f"{target.name}: the terrain CRS must be projected in metres")
    elif is_metric(src_crs):
        target = src_crs
    else:
        rows, cols = z.shape
        lon = transform.c + transform.a * cols / 2
        lat = transform.f + transform.e * rows / 2
        if not src_crs.is_geographic:
            lon, lat = rasterio.warp.transform(src_crs.to_wkt(), "EPSG:4326", [lon], [lat])
            lon, lat = lon[0], lat[0]
        target = utm_crs(float(lon), float(lat))
    if target == src_crs and resolution is None:
        return Terrain(z, transform, target, path)
    return _reproject(z, transform, src_crs, target, resolution, path)


def _reproject(*args: object) -> Terrain:
    # rasterio 1.4 multiplies Affine objects with ``*``, which affine >= 3.1
    # flags as pending deprecation; that is rasterio's business, not ours.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        return _reproject_quiet(*args)  # type: ignore[arg-type]


def _reproject_quiet(
    z: np.ndarray,
    transform: Affine,
    src_crs: CRS,
    dst_crs: CRS,
    resolution: float | None,
    path: Path,
) -> Terrain:
    rows, cols = z.shape
    left, top = transform.c, transform.f
    right, bottom = transform.c + cols * transform.a, transform.f + rows * transform.e
    kwargs = {} if resolution is None else {"resolution": resolution}
    dst_transform, width, height = rasterio.warp.calculate_default_transform(
        src_crs.to_wkt(),
        dst_crs.to_wkt(),
        cols,
        rows,
        left=min(left, right),
        bottom=min(top, bottom),
        right=max(left, right),
        top=max(top, bottom),
        **kwargs,
    )
    if resolution is None:  # square cells
        size = math.sqrt(abs(dst_transform.a * dst_transform.e))
        dst_transform, width, height = rasterio.warp.calculate_default_transform(
            src_crs.to_wkt(),
            dst_crs.to_wkt(),
            cols,
            rows,
            left=min(left, right),
            bottom=min(top, bottom),
            right=max(left, right),
            top=max(top, bottom),
            resolution=size,
        )
    out = np.full((height, width), np.nan, np.float32)
    rasterio.warp.reproject(
        source=z,
        destination=out,
        src_transform=transform,
        src_crs=src_crs.to_wkt(),
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs=dst_crs.to_wkt(),
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    logger.info(
        "%s: reprojected %s -> %s at %.1f m", path, src_crs.name, dst_crs.name, dst_transform.a
    )
    return Terrain(out, dst_transform, dst_crs, path)


@dataclass(frozen=True)
class DemFile:
    """The analysis grid as a GeoTIFF that tasks read window by window, by path.

    What a task on another process or machine receives instead of the
    elevation array.  It stands in for the whole :class:`Terrain` where the
    batch functions only need the grid (``shape``, ``transform``, ``crs``)
    and :meth:`window`: each call opens the file itself (rasterio handles are
    never shared between tasks or threads) and returns the same values and
    transform as :meth:`Terrain.window` on the terrain it was made from, so
    a task gives the same bytes on either.

    Attributes
    ----------
    path
        The GeoTIFF, readable at this path by every worker.
    transform, crs, shape
        Its grid: the analysis grid.
    """

    path: Path
    transform: Affine
    crs: CRS
    shape: tuple[int, int]
    landcover_path: Path | None = None

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell width and height, metres (both positive)."""
        return (abs(self.transform.a), abs(self.transform.e))

    def window(self, window: GridWindow) -> Terrain:
        """Read the cells of ``window`` (nodata NaN, feet converted) as a :class:`Terrain`.

        With ``landcover_path``, the land-cover classes of the same cells too.
        """
        with warnings.catch_warnings():  # rasterio's window_transform multiplies with ``*``
            warnings.filterwarnings(
                "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
            )
            part = read_window(self.path, window)
        t = self.transform  # the same shifted transform as Terrain.window's
        shifted = Affine(t.a, 0.0, t.c + window.col * t.a, 0.0, t.e, t.f + window.row * t.e)
        classes = None
        if self.landcover_path is not None:
            from rasterio.windows import Window

            with rasterio.open(self.landcover_path) as src:
                win = Window(window.col, window.row, window.cols, window.rows)
                classes = src.read(1, window=win)
        return Terrain(part.elevation, shifted, self.crs, self.path, classes)


def terrain_source(
    terrain: Terrain, *, local: bool, scratch: Path | None = None
) -> Terrain | DemFile:
    """Choose what batch tasks read the terrain from: the array, or the DEM file by path.

    Parameters
    ----------
    terrain
        The analysis terrain.
    local
        The tasks run in this process: they share the array.
    scratch
        Folder for a copy of the terrain when it is not its file's grid (a
        DEM reprojected to the analysis CRS); default: a new temporary folder.

    Returns
    -------
    Terrain or DemFile
        ``terrain`` itself when ``local``; else its DEM file when the terrain
        is exactly that file's grid (read in place), else a float32 GeoTIFF
        copy of the terrain written into ``scratch``.
    """
    if local:
        return terrain
    if terrain.landcover is not None:
        return _with_landcover_copy(terrain, _grid_source(terrain, scratch), scratch)
    return _grid_source(terrain, scratch)


def _with_landcover_copy(terrain: Terrain, source: DemFile, scratch: Path | None) -> DemFile:
    """``source`` with the terrain's land-cover classes written beside it (once per terrain)."""
    folder = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="covgap-"))
    known = _COPIES.get(terrain, {}).get(folder / "landcover")
    if known is not None and known.landcover_path is not None and known.landcover_path.is_file():
        return known
    path = folder / f"landcover-{len(list(folder.glob('landcover-*.tif')))}.tif"
    rows, cols = terrain.shape
    profile = {
        "driver": "GTiff", "height": rows, "width": cols, "count": 1, "dtype": "uint8",
        "crs": terrain.crs.to_wkt(), "transform": terrain.transform,
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.asarray(terrain.landcover, np.uint8), 1)
    copy = DemFile(source.path, source.transform, source.crs, source.shape, path)
    _COPIES.setdefault(terrain, {})[folder / "landcover"] = copy
    return copy


def _grid_source(terrain: Terrain, scratch: Path | None) -> DemFile:
    """Return the DEM file when the terrain is its grid, else a copy written into ``scratch``."""
    if terrain.path is not None and Path(terrain.path).is_file():
        try:
            with rasterio.open(terrain.path) as src:
                same = (
                    src.crs is not None
                    and CRS.from_user_input(src.crs.to_wkt()) == terrain.crs
                    and src.transform == terrain.transform
                    and (src.height, src.width) == terrain.shape
                )
        except rasterio.errors.RasterioError:
            same = False
        if same:
            # absolute: workers on other machines or in other folders open it by this path
            in_place = DemFile(
                Path(terrain.path).resolve(), terrain.transform, terrain.crs, terrain.shape
            )
            if _file_holds(in_place, terrain):
                return in_place
            logger.info(
                "%s: the terrain's heights differ from its file's; the workers read a copy",
                terrain.path,
            )
    folder = Path(scratch) if scratch is not None else Path(tempfile.mkdtemp(prefix="covgap-"))
    known = _COPIES.get(terrain, {}).get(folder)
    if known is not None and known.path.is_file():  # written for an earlier stage
        return known
    path = folder / f"terrain-{len(list(folder.glob('terrain-*.tif')))}.tif"
    rows, cols = terrain.shape
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": "float32",
        "crs": terrain.crs.to_wkt(),
        "transform": terrain.transform,
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(terrain.elevation.astype(np.float32), 1)
    logger.info("%s: the analysis grid written to %s for the workers", terrain.path, path)
    copy = DemFile(path, terrain.transform, terrain.crs, terrain.shape)
    _COPIES.setdefault(terrain, {})[folder] = copy
    return copy


#: Copies written by :func:`terrain_source`, per terrain (forgotten with it) and folder.
_COPIES: weakref.WeakKeyDictionary[Terrain, dict[Path, DemFile]] = weakref.WeakKeyDictionary()
#: Whether a terrain's heights are its file's, checked once per terrain.
_IN_PLACE: weakref.WeakKeyDictionary[Terrain, bool] = weakref.WeakKeyDictionary()

#: Cells compared at a time by :func:`_file_holds` (16 MB of float32).
_CHECK_CELLS = 1 << 22


def _file_holds(source: DemFile, terrain: Terrain) -> bool:
    """Whether the file gives the terrain's heights cell for cell (once per terrain).

    A terrain changed in memory (``dataclasses.replace`` with new heights, a
    ridge flattened for a what-if) keeps its file's path; tasks that read the
    file would then compute on other heights than the serial path.  The file
    is read in row strips as the tasks read it and compared with the array,
    NaN equal to NaN: one read of the DEM per terrain object.  The verdict is
    kept for the object, so heights are to be changed on a new
    :class:`Terrain` (``dataclasses.replace``), not in place in its array.
    """
    known = _IN_PLACE.get(terrain)
    if known is not None:
        return known
    rows, cols = terrain.shape
    step = max(1, _CHECK_CELLS // max(cols, 1))
    holds = True
    for row in range(0, rows, step):
        strip = GridWindow(row, 0, min(step, rows - row), cols)
        if not np.array_equal(
            source.window(strip).elevation, terrain.window(strip).elevation, equal_nan=True
        ):
            holds = False
            break
    _IN_PLACE[terrain] = holds
    return holds
