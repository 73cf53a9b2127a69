"""Least-cost routes of medium-voltage lines over the terrain.

A mountain line follows valleys and ridges, not the straight line between its
ends.  This module prices the ground cell by cell (:func:`cost_surface`: slope
classes from the DEM, optionally rivers and a land-cover multiplier) and finds
least-cost routes on it with scikit-image's ``MCP_Geometric``
(:class:`Router`), from the existing grid or from a point to many targets.

Every route is a polyline from its start point through the centres of the
cells the least-cost path crosses to its end point, so

* it is never shorter than the straight line between its ends (triangle
  inequality), and
* it never leaves the DEM: both ends must lie in passable cells of the grid
  and every vertex in between is a cell centre (:class:`Router` refuses ends
  outside the DEM with :class:`~covgap.errors.ProblemInputError`).

Its cost in "weighted metres" is the sum over its pieces of the piece's length
times the mean multiplier of the two cells it joins; a caller turns that into
money with a cost per metre (:func:`covgap.planning.joint.plan_joint` uses
``mv_line_vnd_per_km``).  Distances are in the DEM's metric CRS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from covgap.errors import ProblemInputError

if TYPE_CHECKING:
    import geopandas as gpd
    from affine import Affine
    from pyproj import CRS

    from covgap.data.terrain import Terrain

__all__ = [
    "LANDCOVER_FACTORS",
    "SLOPE_CLASSES",
    "CostSurface",
    "Route",
    "Router",
    "cost_surface",
]

log = logging.getLogger(__name__)

#: Names of the slope classes, from gentle to very steep.
SLOPE_CLASSES: tuple[str, ...] = ("gentle", "steep", "very_steep")

#: Line-cost multiplier per ESA WorldCover class, used when the DEM carries
#: land cover (``Terrain.landcover``, from ``terrain/landcover.tif``).
#: Engineering estimates (covgap): clearing a right of way through tree cover
#: (x 1.3) or shrubs (x 1.1); wayleaves and crossings in built-up land (x 1.2);
#: long spans and taller poles over permanent water (x 3) and soft ground in
#: wetlands (x 1.5) and mangroves (x 2); snow and ice (x 2).  Open land, crops,
#: bare ground, moss and unknown cells (0) take 1: the Sín Chải per-km figure
#: already covers ordinary mountain ground.
LANDCOVER_FACTORS: dict[int, float] = {
    0: 1.0,
    10: 1.3,
    20: 1.1,
    30: 1.0,
    40: 1.0,
    50: 1.2,
    60: 1.0,
    70: 2.0,
    80: 3.0,
    90: 1.5,
    95: 2.0,
    100: 1.0,
}


@dataclass(frozen=True, eq=False)
class CostSurface:
    """Cost multiplier of building a line across each DEM cell.

    Attributes
    ----------
    factor
        float64 ``(rows, cols)``: multiplier on the per-km line cost
        (``inf`` where no line can pass, e.g. DEM nodata).
    terrain_class
        int8 ``(rows, cols)``: index into ``class_names`` (-1 where impassable).
    class_names
        Name of each class (:data:`SLOPE_CLASSES`).
    transform, crs
        Georeferencing of the DEM grid (projected, metres).
    """

    factor: np.ndarray
    terrain_class: np.ndarray
    class_names: tuple[str, ...]
    transform: Affine
    crs: CRS

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return (int(self.factor.shape[0]), int(self.factor.shape[1]))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in metres."""
        rows, cols = self.shape
        t = self.transform
        xs = (t.c, t.c + cols * t.a)
        ys = (t.f, t.f + rows * t.e)
        return (min(xs), min(ys), max(xs), max(ys))

    def cell_of(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (int64) of the cells holding points (may lie outside)."""
        t = self.transform
        col = np.floor((np.asarray(x, float) - t.c) / t.a).astype(np.int64)
        row = np.floor((np.asarray(y, float) - t.f) / t.e).astype(np.int64)
        return row, col

    def centre(self, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates of cell centres."""
        t = self.transform
        return (
            t.c + (np.asarray(cols, float) + 0.5) * t.a,
            t.f + (np.asarray(rows, float) + 0.5) * t.e,
        )

    def inside(self, x: Any, y: Any) -> np.ndarray:
        """Whether points lie in a passable cell of the grid."""
        row, col = self.cell_of(x, y)
        rows, cols = self.shape
        ok = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        out = np.zeros(ok.shape, dtype=bool)
        out[ok] = np.isfinite(self.factor[row[ok], col[ok]])
        return out


def cost_surface(
    terrain: Terrain,
    *,
    slope_edges_deg: Sequence[float] = (15.0, 30.0),
    class_factors: Sequence[float] = (1.0, 1.5, 2.5),
    rivers: gpd.GeoDataFrame | None = None,
    river_factor: float = 2.0,
    extra_factor: np.ndarray | None = None,
    landcover: np.ndarray | None = None,
) -> CostSurface:
    """Build the line-cost multiplier of each DEM cell from its slope.

    Parameters
    ----------
    terrain
        The DEM in a projected metric CRS.
    slope_edges_deg
        Upper edges (degrees) of every slope class but the last, ascending;
        two edges give the three classes of :data:`SLOPE_CLASSES`.
    class_factors
        Multiplier of each class on the per-km line cost (>= 1 for the
        gentlest, one more value than ``slope_edges_deg``).
    rivers
        Optional river lines; cells they touch get ``river_factor`` on top
        (a crossing needs longer spans and taller poles).
    river_factor
        Multiplier on river cells (>= 1).
    extra_factor
        Optional multiplier raster on the DEM's grid (protected areas, a
        land-cover map of your own; ``inf`` = impassable).
    landcover
        Optional ESA WorldCover class of each DEM cell (``Terrain.landcover``):
        each class multiplies the cost by :data:`LANDCOVER_FACTORS` (classes
        not listed take 1).

    Returns
    -------
    CostSurface

    Raises
    ------
    ProblemInputError
        On inconsistent classes or factors, or an ``extra_factor`` of the
        wrong shape.
    """
    edges = [float(e) for e in slope_edges_deg]
    factors = [float(f) for f in class_factors]
    if len(factors) != len(edges) + 1:
        raise ProblemInputError(
            f"cost surface: {len(edges)} slope edges need {len(edges) + 1} class factors, "
            f"got {len(factors)}"
        )
    if edges != sorted(edges) or any(not 0.0 < e < 90.0 for e in edges):
        raise ProblemInputError(f"cost surface: slope edges must rise within 0-90°, got {edges}")
    if any(not (math.isfinite(f) and f > 0.0) for f in factors) or river_factor < 1.0:
        raise ProblemInputError("cost surface: factors must be positive and finite")
    z = terrain.elevation.astype(np.float64)
    res_x, res_y = terrain.resolution
    gy, gx = np.gradient(z, res_y, res_x)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    valid = np.isfinite(z) & np.isfinite(slope)
    cls = np.searchsorted(np.asarray(edges), np.where(valid, slope, 0.0), side="right")
    factor = np.asarray(factors)[cls]
    factor[~valid] = np.inf
    terrain_class = np.where(valid, cls, -1).astype(np.int8)
    if rivers is not None and len(rivers):
        from rasterio.features import rasterize

        lines = rivers.to_crs(terrain.crs) if rivers.crs != terrain.crs else rivers
        shapes = [g for g in lines.geometry if g is not None and not g.is_empty]
        if shapes:
            mask = rasterize(
                shapes, out_shape=z.shape, transform=terrain.transform, all_touched=True
            ).astype(bool)
            factor[mask & valid] *= river_factor
    if landcover is not None:
        classes = np.asarray(landcover)
        if classes.shape != z.shape:
            raise ProblemInputError(
                f"cost surface: land cover has shape {classes.shape}, the DEM {z.shape}"
            )
        table = np.ones(256)
        for code, value in LANDCOVER_FACTORS.items():
            table[code] = value
        factor = factor * table[classes.astype(np.uint8)]
    if extra_factor is not None:
        extra = np.asarray(extra_factor, dtype=np.float64)
        if extra.shape != z.shape:
            raise ProblemInputError(
                f"cost surface: extra_factor has shape {extra.shape}, the DEM {z.shape}"
            )
        factor = factor * np.where(extra > 0, extra, np.inf)
        terrain_class[~np.isfinite(factor)] = -1
    names = SLOPE_CLASSES if len(factors) == 3 else tuple(f"class_{i}" for i in range(len(factors)))
    return CostSurface(factor, terrain_class, names, terrain.transform, terrain.crs)


@dataclass(frozen=True)
class Route:
    """One least-cost route.

    Attributes
    ----------
    coords
        ``(n, 2)`` vertices in the surface's CRS, start first.
    length_m
        Length of the polyline, metres.
    weighted_m
        Sum of piece length x mean cell multiplier ("weighted metres").
    length_by_class_m
        Length on each terrain class, metres.
    """

    coords: np.ndarray
    length_m: float
    weighted_m: float
    length_by_class_m: dict[str, float] = field(default_factory=dict)

    @property
    def straight_m(self) -> float:
        """Straight-line distance between the route's ends, metres."""
        d = self.coords[-1] - self.coords[0]
        return float(math.hypot(d[0], d[1]))


class Router:
    """Least-cost routes on a :class:`CostSurface` (scikit-image ``MCP_Geometric``).

    Parameters
    ----------
    surface
        The cost surface.
    """

    def __init__(self, surface: CostSurface) -> None:
        self.surface = surface
        rx, ry = abs(surface.transform.a), abs(surface.transform.e)
        self._sampling = (ry, rx)

    def _check(self, xy: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
        xy = np.atleast_2d(np.asarray(xy, dtype=np.float64))
        inside = self.surface.inside(xy[:, 0], xy[:, 1])
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            raise ProblemInputError(
                f"route {what} ({xy[i, 0]:.0f}, {xy[i, 1]:.0f}) lies outside the DEM "
                "or on a cell no line can cross"
            )
        return self.surface.cell_of(xy[:, 0], xy[:, 1])

    def routes(
        self,
        start_xy: Any,
        targets_xy: Any,
        *,
        start_cells: tuple[np.ndarray, np.ndarray] | None = None,
        snap: Any = None,
        window_m: float | None = None,
    ) -> list[Route | None]:
        """Least-cost routes from one start (a point or a set of cells) to each target.

        Parameters
        ----------
        start_xy
            ``(x, y)`` of the start point; ignored when ``start_cells`` is given.
        targets_xy
            ``(n, 2)`` target points.
        start_cells
            ``(rows, cols)`` of many start cells (e.g. every cell the grid
            crosses): the route starts at whichever is cheapest.
        snap
            With ``start_cells``: ``snap(x, y) -> (x, y)`` moving the start
            cell's centre onto the source (e.g. the nearest point of a grid
            line); must stay in that cell.
        window_m
            Search only the box around the start and the targets widened by
            this margin (metres; the route is then least-cost within that
            box); ``None`` searches the whole DEM.

        Returns
        -------
        list of Route or None
            One per target, ``None`` when unreachable.

        Raises
        ------
        ProblemInputError
            When the start or a target lies outside the DEM or on an
            impassable cell.
        """
        from skimage.graph import MCP_Geometric

        surf = self.surface
        targets = np.atleast_2d(np.asarray(targets_xy, dtype=np.float64)).reshape(-1, 2)
        if len(targets) == 0:
            return []
        t_rows, t_cols = self._check(targets, "end")
        if start_cells is None:
            start = np.asarray(start_xy, dtype=np.float64).reshape(2)
            s_rows, s_cols = self._check(start[None, :], "start")
        else:
            s_rows, s_cols = (np.asarray(a, dtype=np.int64) for a in start_cells)
            if s_rows.size == 0:
                return [None] * len(targets)
        r0, c0 = 0, 0
        factor = surf.factor
        if window_m is not None:
            rows_all = np.concatenate([s_rows, t_rows])
            cols_all = np.concatenate([s_cols, t_cols])
            pad_r = math.ceil(window_m / self._sampling[0])
            pad_c = math.ceil(window_m / self._sampling[1])
            r0, c0 = max(int(rows_all.min()) - pad_r, 0), max(int(cols_all.min()) - pad_c, 0)
            r1 = min(int(rows_all.max()) + pad_r + 1, surf.shape[0])
            c1 = min(int(cols_all.max()) + pad_c + 1, surf.shape[1])
            factor = factor[r0:r1, c0:c1]
        mcp = MCP_Geometric(factor, fully_connected=True, sampling=self._sampling)
        ends = list(zip((t_rows - r0).tolist(), (t_cols - c0).tolist(), strict=True))
        cumulative, _ = mcp.find_costs(
            list(zip((s_rows - r0).tolist(), (s_cols - c0).tolist(), strict=True)),
            ends=ends,
            find_all_ends=True,
        )
        out: list[Route | None] = []
        for (r, c), target in zip(ends, targets, strict=True):
            if not np.isfinite(cumulative[r, c]):
                out.append(None)
                continue
            path = np.asarray(mcp.traceback((r, c)), dtype=np.int64) + np.array([r0, c0])
            if start_cells is None:
                first = start
            else:
                cx, cy = surf.centre(path[0, 0], path[0, 1])
                first = np.array(snap(float(cx), float(cy)) if snap else (cx, cy), float)
            out.append(self._route(path, first, target))
        return out

    def _route(self, path: np.ndarray, first: np.ndarray, last: np.ndarray) -> Route:
        surf = self.surface
        if len(path) <= 2:
            coords = np.vstack([first, last])
            cells = np.vstack([path[0], path[-1]])
        else:
            cx, cy = surf.centre(path[1:-1, 0], path[1:-1, 1])
            coords = np.vstack([first, np.column_stack([cx, cy]), last])
            cells = path
        pieces = np.hypot(*np.diff(coords, axis=0).T)
        f = surf.factor[cells[:, 0], cells[:, 1]]
        k = surf.terrain_class[cells[:, 0], cells[:, 1]]
        weighted = float(np.sum(pieces * (f[:-1] + f[1:]) / 2.0))
        by_class = dict.fromkeys(surf.class_names, 0.0)
        for i, name in enumerate(surf.class_names):
            share = ((k[:-1] == i).astype(float) + (k[1:] == i).astype(float)) / 2.0
            by_class[name] = float(np.sum(pieces * share))
        return Route(coords, float(pieces.sum()), weighted, by_class)

    def grid_cells(self, grid: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Passable cells of the DEM that the grid's lines cross.

        Parameters
        ----------
        grid
            Grid lines (reprojected to the surface's CRS when needed).

        Returns
        -------
        tuple of numpy.ndarray
            Rows and columns (empty when the grid lies outside the DEM).
        """
        from rasterio.features import rasterize

        surf = self.surface
        lines = grid.to_crs(surf.crs) if grid.crs != surf.crs else grid
        shapes = [g for g in lines.geometry if g is not None and not g.is_empty]
        if not shapes:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        mask = rasterize(
            shapes, out_shape=surf.shape, transform=surf.transform, all_touched=True
        ).astype(bool)
        mask &= np.isfinite(surf.factor)
        rows, cols = np.nonzero(mask)
        return rows.astype(np.int64), cols.astype(np.int64)

    def grid_routes(
        self,
        grid: gpd.GeoDataFrame,
        targets_xy: Any,
    ) -> list[Route | None]:
        """Least-cost routes from the nearest point of the grid to each target.

        The route starts on a grid line, at the point of the line nearest the
        centre of the cheapest start cell, within that cell (so inside the DEM).

        Parameters
        ----------
        grid
            Grid lines.
        targets_xy
            ``(n, 2)`` target points.

        Returns
        -------
        list of Route or None
            ``None`` for every target when the grid lies outside the DEM.
        """
        import shapely
        import shapely.ops

        surf = self.surface
        cells = self.grid_cells(grid)
        lines = grid.to_crs(surf.crs) if grid.crs != surf.crs else grid
        network = shapely.union_all([g for g in lines.geometry if g is not None])
        rx, ry = abs(surf.transform.a), abs(surf.transform.e)

        def snap(x: float, y: float) -> tuple[float, float]:
            box = (x - rx / 2, y - ry / 2, x + rx / 2, y + ry / 2)
            part = network.intersection(shapely.box(*box))
            if part.is_empty:
                return x, y
            point = shapely.ops.nearest_points(part, shapely.Point(x, y))[0]
            if not surf.inside(np.array([point.x]), np.array([point.y]))[0]:
                return x, y  # on the outer edge of the DEM: keep the cell centre
            return float(point.x), float(point.y)

        return self.routes(None, targets_xy, start_cells=cells, snap=snap)
