"""Synthetic terrain: a karst plateau, ridges and deep river valleys on a 30 m grid.

The surface is built in UTM 48N metres as a sum of smooth noise octaves
(cubic B-spline upsampling of coarse random grids, cheap and seamless), a
ridged octave for sharp crests, a northern ridge, a flattened karst plateau
studded with limestone cones, and then carved by the Đà river (west and
south of the district) and its tributaries into steep V-shaped valleys with
narrow flat floors.  The result is rounded to whole metres (int16) and every
later step uses the rounded values, so what is written is what was used.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from scipy.ndimage import distance_transform_edt

from covgap.demo.projection import to_utm

__all__ = [
    "MAX_HABITABLE_ELEVATION_M",
    "MAX_HABITABLE_SLOPE_DEG",
    "River",
    "Terrain",
    "build_terrain",
    "dem_window",
    "river_network",
    "slope_degrees",
]

MAX_HABITABLE_SLOPE_DEG = 20.0
MAX_HABITABLE_ELEVATION_M = 1650.0
_PEAK_SOFT_CAP_M = 1700.0
_PEAK_HEADROOM_M = 195.0
_FLOOR_M = 520.0
_FLOOR_SCALE_M = 120.0


@dataclass
class River:
    """A river or stream: a densified polyline with its bed profile.

    Attributes
    ----------
    name
        Display name (synthetic except for the Đà).
    xy
        (n, 2) vertices in UTM metres, upstream first, about 30 m apart.
    bed_m
        (n,) bed elevation at each vertex.
    half_width_m
        Valley-wall scale: the wall rises over about this distance.
    floor_m
        (n,) half width of the flat valley floor at each vertex.
    """

    name: str
    xy: np.ndarray
    bed_m: np.ndarray
    half_width_m: float
    floor_m: np.ndarray


@dataclass
class Terrain:
    """A north-up DEM grid in UTM 48N with helpers to sample it.

    Attributes
    ----------
    elevation
        (rows, cols) int16 metres.
    west, north
        Coordinates of the grid's outer top-left corner.
    cell
        Cell size in metres.
    """

    elevation: np.ndarray
    west: float
    north: float
    cell: float
    _float: np.ndarray = field(init=False, repr=False)
    _slope: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._float = self.elevation.astype(np.float64)

    @property
    def shape(self) -> tuple[int, int]:
        """Return (rows, cols)."""
        return self.elevation.shape

    @property
    def transform(self) -> Affine:
        """Return the affine transform of the grid."""
        return Affine(self.cell, 0.0, self.west, 0.0, -self.cell, self.north)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Return (west, south, east, north) in metres."""
        rows, cols = self.shape
        return (self.west, self.north - rows * self.cell, self.west + cols * self.cell, self.north)

    def fractional_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return fractional (row, col) of points, cell centres at whole numbers."""
        col = (np.asarray(x, float) - self.west) / self.cell - 0.5
        row = (self.north - np.asarray(y, float)) / self.cell - 0.5
        return row, col

    def cell_centre(self, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the (x, y) of cell centres."""
        x = self.west + (np.asarray(col, float) + 0.5) * self.cell
        y = self.north - (np.asarray(row, float) + 0.5) * self.cell
        return x, y

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear elevation at points (clamped to the grid edge)."""
        row, col = self.fractional_index(x, y)
        rows, cols = self.shape
        row = np.clip(row, 0.0, rows - 1.000001)
        col = np.clip(col, 0.0, cols - 1.000001)
        r0 = np.floor(row).astype(np.intp)
        c0 = np.floor(col).astype(np.intp)
        fr = row - r0
        fc = col - c0
        z = self._float
        top = z[r0, c0] * (1 - fc) + z[r0, c0 + 1] * fc
        bottom = z[r0 + 1, c0] * (1 - fc) + z[r0 + 1, c0 + 1] * fc
        return top * (1 - fr) + bottom * fr

    def slope(self) -> np.ndarray:
        """Return the slope in degrees of every cell (see :func:`slope_degrees`)."""
        if self._slope is None:
            self._slope = slope_degrees(self.elevation, self.cell)
        return self._slope

    def nearest_cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return integer (row, col) of the cells containing the points."""
        row, col = self.fractional_index(x, y)
        rows, cols = self.shape
        r = np.clip(np.rint(row).astype(np.intp), 0, rows - 1)
        c = np.clip(np.rint(col).astype(np.intp), 0, cols - 1)
        return r, c

    def habitable(self) -> np.ndarray:
        """Return the mask of cells where households may live.

        Gentle slopes (at most :data:`MAX_HABITABLE_SLOPE_DEG`, so no cliffs)
        below :data:`MAX_HABITABLE_ELEVATION_M` (no bare peaks).
        """
        return (self.slope() <= MAX_HABITABLE_SLOPE_DEG) & (
            self.elevation <= MAX_HABITABLE_ELEVATION_M
        )


def slope_degrees(elevation: np.ndarray, cell: float) -> np.ndarray:
    """Slope in degrees from central differences (``numpy.gradient``).

    Parameters
    ----------
    elevation
        Elevation grid in metres.
    cell
        Cell size in metres (square cells).
    """
    gy, gx = np.gradient(elevation.astype(np.float64), cell)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def dem_window(
    bounds: tuple[float, float, float, float], buffer_m: float, cell: float
) -> tuple[float, float, int, int]:
    """Return (west, north, rows, cols) of a grid covering bounds plus a buffer.

    The corners are snapped outwards to whole multiples of the cell size.
    """
    west = np.floor((bounds[0] - buffer_m) / cell) * cell
    south = np.floor((bounds[1] - buffer_m) / cell) * cell
    east = np.ceil((bounds[2] + buffer_m) / cell) * cell
    north = np.ceil((bounds[3] + buffer_m) / cell) * cell
    return (
        float(west),
        float(north),
        int(np.rint((north - south) / cell)),
        int(np.rint((east - west) / cell)),
    )


# --- rivers -------------------------------------------------------------------------------

# (name, lon/lat vertices upstream first, bed at source, bed at mouth, wall scale, floor half width)
_RIVERS: tuple[tuple[str, tuple[tuple[float, float], ...], float, float, float, float], ...] = (
    (
        "Sông Đà",
        (
            (103.17, 22.24),
            (103.215, 22.12),
            (103.232, 22.03),
            (103.238, 21.95),
            (103.245, 21.87),
            (103.27, 21.795),
            (103.33, 21.768),
            (103.41, 21.762),
            (103.49, 21.755),
            (103.60, 21.72),
        ),
        345.0,
        290.0,
        2300.0,
        160.0,
    ),
    (
        "Suối Nậm Mu",  # through Huổi Só, Tủa Thàng and Sáng Nhè
        (
            (103.425, 22.11),
            (103.405, 22.04),
            (103.43, 21.97),
            (103.415, 21.90),
            (103.40, 21.83),
            (103.392, 21.764),
        ),
        1050.0,
        300.0,
        1100.0,
        90.0,
    ),
    (
        "Suối Tủa Chùa",  # from Sính Phình past the district town
        (
            (103.35, 21.955),
            (103.335, 21.905),
            (103.337, 21.858),
            (103.33, 21.805),
            (103.318, 21.768),
        ),
        1150.0,
        300.0,
        1000.0,
        110.0,
    ),
    (
        "Suối Lao Xả",
        ((103.315, 22.07), (103.285, 22.03), (103.26, 22.0), (103.236, 21.99)),
        1200.0,
        330.0,
        950.0,
        60.0,
    ),
    (
        "Suối Trung Thu",
        ((103.325, 21.965), (103.29, 21.935), (103.262, 21.91), (103.241, 21.905)),
        1150.0,
        325.0,
        950.0,
        70.0,
    ),
    (
        "Suối Mường Đun",
        ((103.505, 21.95), (103.48, 21.87), (103.465, 21.81), (103.458, 21.757)),
        1000.0,
        295.0,
        1050.0,
        110.0,
    ),
    (
        "Suối Xín Chải",
        ((103.37, 22.135), (103.32, 22.11), (103.27, 22.095), (103.222, 22.085)),
        1300.0,
        335.0,
        1000.0,
        60.0,
    ),
)

_TOWN_WIDE_FLOOR_M = 420.0
_TOWN_FLOOR_REACH_M = 1600.0


def river_network(rng: np.random.Generator, town_xy: tuple[float, float]) -> list[River]:
    """Build the rivers: fixed courses with seeded meanders, densified to ~30 m.

    Parameters
    ----------
    rng
        The generator's random source.
    town_xy
        The district town in UTM metres; the valley floor widens there.
    """
    rivers = []
    for name, lonlat, bed_up, bed_down, width, floor in _RIVERS:
        lon, lat = np.array(lonlat).T
        x, y = to_utm(lon, lat)
        xy = _densify(np.column_stack([x, y]), 30.0)
        xy = _meander(xy, rng, amplitude=160.0 if name == "Sông Đà" else 230.0)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        t = s / s[-1]
        # concave profile: steep headwaters, gentle lower course
        bed = bed_down + (bed_up - bed_down) * (1.0 - t) ** 1.6
        floor_m = np.full(len(xy), floor)
        d_town = np.hypot(xy[:, 0] - town_xy[0], xy[:, 1] - town_xy[1])
        near = np.clip(1.0 - d_town / _TOWN_FLOOR_REACH_M, 0.0, 1.0)
        floor_m = np.maximum(floor_m, _TOWN_WIDE_FLOOR_M * near)
        rivers.append(River(name, xy, bed, width, floor_m))
    return rivers


def _densify(xy: np.ndarray, step: float) -> np.ndarray:
    out = []
    for a, b in itertools.pairwise(xy):
        n = max(int(np.ceil(np.hypot(*(b - a)) / step)), 1)
        t = np.arange(n)[:, None] / n
        out.append(a + (b - a) * t)
    out.append(xy[-1:])
    return np.vstack(out)


def _meander(xy: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Displace a densified line sideways by a smooth, end-tapered sum of sines."""
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    tangent = np.gradient(xy, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    offset = np.zeros(len(xy))
    for wavelength in (5200.0, 2900.0, 1700.0):
        phase = rng.uniform(0, 2 * np.pi)
        amp = amplitude * rng.uniform(0.5, 1.0) * (wavelength / 5200.0) ** 0.5
        offset += amp * np.sin(2 * np.pi * s / wavelength + phase)
    taper = np.clip(np.minimum(s, s[-1] - s) / 1500.0, 0.0, 1.0)
    return xy + normal * (offset * taper)[:, None]


# --- surface ------------------------------------------------------------------------------


def _bspline_matrix(n: int, spacing: float) -> tuple[np.ndarray, int]:
    """Weights that upsample a coarse grid (knots ``spacing`` cells apart) to ``n`` cells."""
    m = int(np.ceil(n / spacing)) + 4
    pos = np.arange(n) / spacing + 1.5
    k = np.arange(m)
    u = np.abs(pos[:, None] - k[None, :])
    w = np.where(
        u < 1,
        (4 - 6 * u**2 + 3 * u**3) / 6,
        np.where(u < 2, (2 - u) ** 3 / 6, 0.0),
    )
    return w, m


def _noise(rng: np.random.Generator, shape: tuple[int, int], spacing_cells: float) -> np.ndarray:
    """Smooth noise with unit standard deviation and feature size ``spacing_cells``."""
    wr, mr = _bspline_matrix(shape[0], spacing_cells)
    wc, mc = _bspline_matrix(shape[1], spacing_cells)
    coarse = rng.standard_normal((mr, mc))
    field_ = wr @ coarse @ wc.T
    return (field_ - field_.mean()) / field_.std()


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _line_distance(
    px: np.ndarray, py: np.ndarray, a: tuple[float, float], b: tuple[float, float]
) -> np.ndarray:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(px - ax - t * dx, py - ay - t * dy)


def build_terrain(
    rng: np.random.Generator,
    window: tuple[float, float, int, int],
    rivers: list[River],
    cell: float,
) -> Terrain:
    """Generate the DEM.

    Parameters
    ----------
    rng
        The generator's random source.
    window
        (west, north, rows, cols) from :func:`dem_window`.
    rivers
        The rivers that carve the valleys, from :func:`river_network`.
    cell
        Cell size in metres.

    Returns
    -------
    Terrain
        int16 elevations: valleys near 300 m, plateau near 1,400 m, peaks under 1,900 m.
    """
    west, north, rows, cols = window
    shape = (rows, cols)
    km = 1000.0 / cell
    y = north - (np.arange(rows) + 0.5) * cell
    x = west + (np.arange(cols) + 0.5) * cell
    gx, gy = np.meshgrid(x, y)

    ridged = (1.0 - np.abs(np.tanh(0.8 * _noise(rng, shape, 2.6 * km)))) ** 2
    z = (
        960.0
        + 260.0 * _noise(rng, shape, 7.0 * km)
        + 150.0 * _noise(rng, shape, 3.4 * km)
        + 260.0 * (ridged - ridged.mean())
        + 120.0 * _noise(rng, shape, 1.4 * km)
        + 35.0 * _noise(rng, shape, 0.6 * km)
    )
    # regional trend: the north (Xín Chải) is higher than the south-east
    _, ty = to_utm(103.34, 21.86)
    z += np.clip((gy - ty) / 28000.0, -0.4, 1.0) * 200.0
    # the northern ridge (Xín Chải - Huổi Só)
    a = tuple(float(v) for v in to_utm(103.28, 22.125))
    b = tuple(float(v) for v in to_utm(103.46, 22.115))
    d_ridge = _line_distance(gx, gy, a, b)
    z += 330.0 * np.exp(-((d_ridge / 2600.0) ** 2))

    # karst plateau (Tả Phìn, Sính Phình, Tả Sìn Thàng): flattened, with limestone cones
    px, py = to_utm(103.36, 21.985)
    r = np.hypot((gx - px) / 7500.0, (gy - py) / 10500.0)
    plateau = _smoothstep((1.15 - r) / 0.45)
    flat = 1380.0 + 0.22 * (z - 1000.0)
    cones = _cones(rng, shape, (west, north, cell), (float(px), float(py)), 160)
    z = z * (1 - plateau) + (flat + cones) * plateau

    # soft cap: summits approach, never exceed, about 1,900 m
    over = z > _PEAK_SOFT_CAP_M
    z[over] = _PEAK_SOFT_CAP_M + _PEAK_HEADROOM_M * np.tanh(
        (z[over] - _PEAK_SOFT_CAP_M) / _PEAK_HEADROOM_M
    )
    # soft floor: the lowest hills stay above the valley beds, without flat plains
    z = _FLOOR_M + _FLOOR_SCALE_M * np.logaddexp(0.0, (z - _FLOOR_M) / _FLOOR_SCALE_M)

    terrain_z = _carve(z, rivers, (west, north, cell))
    elevation = np.rint(terrain_z).astype(np.int16)
    return Terrain(elevation, west, north, cell)


def _cones(
    rng: np.random.Generator,
    shape: tuple[int, int],
    grid: tuple[float, float, float],
    centre: tuple[float, float],
    count: int,
) -> np.ndarray:
    """Limestone cones (fengcong): Gaussian bumps scattered over the plateau."""
    west, north, cell = grid
    out = np.zeros(shape)
    cx = centre[0] + rng.uniform(-8500, 8500, count)
    cy = centre[1] + rng.uniform(-11000, 11000, count)
    height = rng.uniform(50.0, 150.0, count)
    sigma = rng.uniform(140.0, 300.0, count)
    for x0, y0, h, s in zip(cx, cy, height, sigma, strict=True):
        r = int(np.ceil(3 * s / cell))
        c0 = int((x0 - west) / cell)
        r0 = int((north - y0) / cell)
        rs, re = max(r0 - r, 0), min(r0 + r + 1, shape[0])
        cs, ce = max(c0 - r, 0), min(c0 + r + 1, shape[1])
        if rs >= re or cs >= ce:
            continue
        yy = north - (np.arange(rs, re) + 0.5) * cell
        xx = west + (np.arange(cs, ce) + 0.5) * cell
        d2 = (xx[None, :] - x0) ** 2 + (yy[:, None] - y0) ** 2
        out[rs:re, cs:ce] += h * np.exp(-d2 / (2 * s * s))
    return out


def _carve(z: np.ndarray, rivers: list[River], grid: tuple[float, float, float]) -> np.ndarray:
    """Cut each river's valley: flat floor, then walls rising as tanh(distance / scale)."""
    west, north, cell = grid
    rows, cols = z.shape
    out = z.copy()
    for river in rivers:
        col = np.floor((river.xy[:, 0] - west) / cell).astype(np.intp)
        row = np.floor((north - river.xy[:, 1]) / cell).astype(np.intp)
        inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        if not inside.any():
            continue
        bed = np.full(z.shape, np.inf)
        floor = np.zeros(z.shape)
        # upstream first: later (lower) vertices overwrite, keeping the lower bed
        bed[row[inside], col[inside]] = river.bed_m[inside]
        floor[row[inside], col[inside]] = river.floor_m[inside]
        mask = np.isfinite(bed)
        dist, (ir, ic) = distance_transform_edt(~mask, return_indices=True)
        dist = dist * cell
        zb = bed[ir, ic]
        fl = floor[ir, ic]
        d = np.maximum(dist - fl, 0.0)
        carved = zb + np.maximum(out - zb, 0.0) * np.tanh(d / river.half_width_m)
        out = np.minimum(out, carved)
    return out
