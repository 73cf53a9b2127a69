"""Line of sight from many observers over a DEM: ``covgap.viewshed()`` and its GeoTIFFs.

The compiled kernel lives in :mod:`covgap.radio._raycast` (a ray sweep whose fan
of rays doubles with distance, with the horizon of each cell's own sight line
interpolated between the two neighbouring rays). Conventions follow GDAL's
``gdal_viewshed``: an observer stands at the centre of the cell holding its
coordinates, observer and target heights are above the ground at cell
centres, and the earth-curvature and refraction correction lowers a point at
distance ``d`` by
``cc d² / 12 740 000`` m (``cc = 1/k``, 0.75 for k = 4/3).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numba
import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.io import MemoryFile

from covgap.data.crs import is_metric
from covgap.data.terrain import Terrain, check_coverage, read_dem
from covgap.errors import CRSError, ParameterError
from covgap.files import atomic_write_bytes
from covgap.radio import _raycast

__all__ = [
    "NOT_VISIBLE",
    "UNKNOWN",
    "VISIBLE",
    "single_thread",
    "viewshed",
    "viewshed_states",
    "write_raster_atomic",
    "write_viewshed_tiffs",
]

logger = logging.getLogger(__name__)

#: State values of :func:`viewshed_states` and of the GeoTIFFs.
VISIBLE = int(_raycast.VISIBLE)
NOT_VISIBLE = int(_raycast.NOT_VISIBLE)
UNKNOWN = int(_raycast.UNKNOWN)

#: Default curvature coefficient ``cc = 1/k`` for k = 4/3.
DEFAULT_CURVATURE_COEF = 0.75


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the compiled kernels on one thread inside the ``with`` block."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _as_observers(observers: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    xy = np.asarray(observers, dtype=float)
    if xy.ndim == 1 and xy.size == 2:
        xy = xy.reshape(1, 2)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ParameterError(f"observers must be (x, y) pairs, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ParameterError("observer coordinates must be finite")
    return xy


def _check_args(
    radius_m: float,
    observer_height_m: float,
    target_height_m: float,
    curvature_coef: float = DEFAULT_CURVATURE_COEF,
) -> None:
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise ParameterError(f"radius_m must be finite and > 0, got {radius_m}")
    for name, value in (("observer", observer_height_m), ("target", target_height_m)):
        if not (math.isfinite(value) and value >= 0):
            raise ParameterError(f"{name} height must be finite and >= 0, got {value}")
    if not 0.0 <= curvature_coef <= 1.0:  # False for NaN too
        raise ParameterError(f"curvature_coef must be in [0, 1] (1/k), got {curvature_coef}")


def viewshed_states(
    terrain: Terrain,
    observers: Sequence[Sequence[float]] | np.ndarray,
    radius_m: float,
    observer_height_m: float | Sequence[float] | np.ndarray = 30.0,
    target_height_m: float = 1.5,
    curvature_coef: float = DEFAULT_CURVATURE_COEF,
    *,
    oversample: int = 1,
) -> np.ndarray:
    """Visibility state of every DEM cell from each observer.

    Parameters
    ----------
    terrain
        DEM in a projected CRS in metres.
    observers
        ``(n, 2)`` observer coordinates ``(x, y)`` in ``terrain.crs``.
    radius_m
        Cells whose centre is farther than this from the observer's cell
        centre are :data:`NOT_VISIBLE`.
    observer_height_m
        Antenna height(s) above ground: one value or one per observer.
    target_height_m
        Receiver height above ground.
    curvature_coef
        GDAL's ``cc = 1/k`` (0 disables earth curvature and refraction).
    oversample
        Ray density where cells are decided, in rays per cell (a power of
        two; 1 is enough, 2 is slightly more exact and about 50 % slower:
        see benchmarks/README.md).

    Returns
    -------
    numpy.ndarray
        uint8 ``(n, rows, cols)``: :data:`VISIBLE` (1), :data:`NOT_VISIBLE`
        (0) or :data:`UNKNOWN` (255: the cell is nodata, or nodata terrain
        lies on its sight line and known terrain does not block it).
    """
    xy = _as_observers(observers)
    _check_args(radius_m, float(np.min(observer_height_m)), target_height_m, curvature_coef)
    heights = np.broadcast_to(np.asarray(observer_height_m, float), (len(xy),)).copy()
    rows, cols = terrain.cell_of(xy[:, 0], xy[:, 1])
    check_coverage(terrain, [(f"observer {i + 1}", x, y) for i, (x, y) in enumerate(xy)], radius_m)
    dx, dy = terrain.resolution
    zp, zpt = _raycast.layouts(terrain.elevation)
    rc = np.column_stack([rows, cols]).astype(np.int64)
    return _raycast.viewshed_many(
        zp,
        zpt,
        rc,
        heights,
        float(target_height_m),
        float(radius_m),
        dx,
        dy,
        float(curvature_coef),
        int(oversample),
    )


def _terrain_from_file(dem_path: str | Path) -> Terrain:
    z, transform, crs = read_dem(dem_path)
    if not is_metric(crs):
        raise CRSError(
            f"{dem_path}: the DEM must be in a projected CRS in metres (it is {crs.name}); "
            "reproject it first, e.g. with covgap.data.terrain.load_terrain"
        )
    return Terrain(z, transform, crs, Path(dem_path))


def viewshed(
    dem_path: str | Path,
    observers: Sequence[Sequence[float]] | np.ndarray,
    radius_m: float,
    observer_height_m: float = 30.0,
    target_height_m: float = 1.5,
    curvature_coef: float = DEFAULT_CURVATURE_COEF,
) -> np.ndarray:
    """Boolean visibility of every DEM cell from each observer.

    Parameters
    ----------
    dem_path
        GeoTIFF DEM in a projected CRS in metres.
    observers
        ``(n, 2)`` observer coordinates ``(x, y)`` in the DEM's CRS.
    radius_m
        Maximum distance, m; farther cells are ``False``.
    observer_height_m, target_height_m
        Heights above ground at the observer and target cells, m.
    curvature_coef
        GDAL's curvature coefficient ``cc = 1/k`` (0.75 for k = 4/3).

    Returns
    -------
    numpy.ndarray
        bool ``(n_observers, rows, cols)`` aligned with the DEM grid; cells
        that are nodata or hidden behind nodata terrain are ``False`` (use
        :func:`viewshed_states` to tell them apart).

    Raises
    ------
    TerrainError
        Unreadable DEM.
    CRSError
        The DEM is not in a projected CRS in metres.

    Examples
    --------
    >>> vis = covgap.viewshed("dem.tif", [(500_000, 2_400_000)], 15_000)  # doctest: +SKIP
    """
    terrain = _terrain_from_file(dem_path)
    states = viewshed_states(
        terrain, observers, radius_m, observer_height_m, target_height_m, curvature_coef
    )
    return states == VISIBLE


def write_raster_atomic(
    path: Path, data: np.ndarray, transform: Affine, crs: CRS, nodata: float | None
) -> Path:
    """Write one band as a deflate-compressed GeoTIFF, atomically (temp file + replace).

    The bytes depend only on the inputs (no timestamps), so reruns are identical.
    """
    profile = {
        "driver": "GTiff",
        "height": data.shape[0],
        "width": data.shape[1],
        "count": 1,
        "dtype": data.dtype.name,
        "crs": crs.to_wkt(),
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "predictor": 3 if data.dtype.kind == "f" else 2,
    }
    if data.shape[0] >= 256 and data.shape[1] >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data, 1)
        content = memory.read()
    path = atomic_write_bytes(path, content)
    return path


def write_viewshed_tiffs(
    dem_path: str | Path,
    observers: Sequence[Sequence[float]] | np.ndarray,
    out_dir: str | Path,
    radius_m: float,
    observer_height_m: float = 30.0,
    target_height_m: float = 1.5,
    curvature_coef: float = DEFAULT_CURVATURE_COEF,
    names: Sequence[str] | None = None,
) -> list[Path]:
    """Write one uint8 GeoTIFF per observer: 1 visible, 0 not, 255 unknown (nodata).

    Parameters
    ----------
    dem_path
        GeoTIFF DEM in a projected CRS in metres.
    observers
        ``(n, 2)`` coordinates in the DEM's CRS.
    out_dir
        Output folder (created if needed).
    radius_m, observer_height_m, target_height_m, curvature_coef
        As for :func:`viewshed`.
    names
        File stems, one per observer; default ``viewshed_001`` ...

    Returns
    -------
    list of pathlib.Path
        The files written, in observer order.
    """
    terrain = _terrain_from_file(dem_path)
    xy = _as_observers(observers)
    if names is None:
        names = [f"viewshed_{i + 1:03d}" for i in range(len(xy))]
    if len(names) != len(xy):
        raise ParameterError(f"{len(names)} names for {len(xy)} observers")
    if len(set(names)) != len(names):
        raise ParameterError("observer names must be unique")
    states = viewshed_states(
        terrain, xy, radius_m, observer_height_m, target_height_m, curvature_coef
    )
    out = Path(out_dir)
    paths = []
    for name, state in zip(names, states, strict=True):
        paths.append(
            write_raster_atomic(out / f"{name}.tif", state, terrain.transform, terrain.crs, 255)
        )
    logger.info("wrote %d viewshed rasters to %s", len(paths), out)
    return paths
