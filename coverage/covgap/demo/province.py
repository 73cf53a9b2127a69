"""The province preset: a SYNTHETIC dataset the size of Điện Biên province.

``covgap demo --preset province --out DIR`` writes, deterministically, a
dataset of the 130 communes of Điện Biên (real 2009 names and census
populations, real approximate centroids and areas; synthetic shapes), about
1,500 villages, a 30 m DEM over the province plus the 15 km signal radius,
about 400 existing sites of Viettel, VNPT and MobiFone, the medium-voltage
grid, a survey of reported signal, and an operators' list of 10,500
candidate sites.  It reuses the district demo's pieces:

- commune shapes: the power diagram of :mod:`covgap.demo.communes` fitted to
  the communes' areas inside a wavy outline (:mod:`covgap.demo.outline`);
- terrain: the noise octaves, meanders and valley carving of
  :mod:`covgap.demo.terrain`, with the province's own rivers and basins, the
  carving done on a window around each river so memory stays at a few
  DEM-sized arrays;
- villages, settlements and households: :func:`covgap.demo.villages.build_villages`;
- the grid: :func:`covgap.demo.grid.build_grid` on the spans of a Delaunay
  triangulation (not every pair of villages);
- towers: the hilltop lattice of :func:`covgap.demo.towers.candidate_sites`,
  a greedy choice by households within reach, operators and OpenCelliD rows
  as in the district;
- the survey: the project's own terrain model (:func:`covgap.signal.signal_tile`)
  decides which villages have signal, and a fixed share of answers
  (:data:`~covgap.demo.province_facts.SURVEY_ERROR_RATE`) disagrees with it,
  as real surveys do.

Unlike the district demo, the tower placement is not calibrated to fixed
counts: the province's figures are whatever the seed gives, and they are
recorded in ``dataset.toml``.  :func:`build_province` also makes smaller
variants through the same code path (a subset of the communes, a coarser
DEM), which the tests use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from covgap.demo import facts
from covgap.demo import province_facts as pf
from covgap.demo.communes import consistent_partition
from covgap.demo.facts import CommuneFact
from covgap.demo.generator import DemoWorld, write_world
from covgap.demo.grid import build_grid
from covgap.demo.projection import to_lonlat, to_utm
from covgap.demo.terrain import (
    _FLOOR_M,
    _FLOOR_SCALE_M,
    _PEAK_HEADROOM_M,
    _PEAK_SOFT_CAP_M,
    River,
    Terrain,
    _bspline_matrix,
    _densify,
    _meander,
    _smoothstep,
    dem_window,
)
from covgap.demo.towers import (
    TowerParams,
    candidate_heights,
    make_sites,
)
from covgap.demo.villages import Village, build_villages, largest_remainder
from covgap.demo.writers import atomic_write, csv_bytes
from covgap.errors import DemoError

__all__ = [
    "PRESETS",
    "ProvinceCommune",
    "ProvinceWorld",
    "build_province",
    "generate_province",
    "province_communes",
]

logger = logging.getLogger(__name__)

PRESETS = ("district", "province")
"""Names accepted by ``covgap demo --preset``."""

_THAI_DISTRICTS = (
    "Thành phố Điện Biên Phủ",
    "Huyện Điện Biên",
    "Thị xã Mường Lay",
    "Huyện Tuần Giáo",
    "Huyện Mường Ảng",
)
"""Districts whose villages get Thái-style names (the others Hmong-style)."""

_MIN_VILLAGES = 2
_TOWER_REACH_M = 3000.0
"""Households within this distance count towards a tower location's gain."""
_TOWER_SPACING_M = 3000.0
"""Smallest distance between two chosen tower locations."""
_CANDIDATE_SPACING_M = 600.0
_CANDIDATE_REACH_M = 3000.0
_OPERATOR_SHARE = 0.1
"""Share of listed candidates reserved by one operator (the others are open)."""

# (name, lon/lat vertices upstream first, bed at source, bed at mouth, wall scale, floor)
_RIVERS: tuple[tuple[str, tuple[tuple[float, float], ...], float, float, float, float], ...] = (
    (
        "Sông Đà",
        (
            (102.50, 22.52),
            (102.70, 22.38),
            (102.88, 22.24),
            (103.05, 22.12),
            (103.16, 22.03),
            (103.23, 21.95),
            (103.26, 21.82),
            (103.40, 21.76),
            (103.62, 21.70),
        ),
        420.0,
        250.0,
        2300.0,
        170.0,
    ),
    (
        "Suối Nậm Rốm",
        ((103.07, 21.62), (103.03, 21.45), (103.01, 21.32), (102.96, 21.15), (102.90, 21.02)),
        700.0,
        420.0,
        1300.0,
        140.0,
    ),
    (
        "Suối Nậm Mức",
        ((103.42, 21.55), (103.30, 21.62), (103.22, 21.75), (103.21, 21.88), (103.24, 21.95)),
        950.0,
        300.0,
        1100.0,
        90.0,
    ),
    (
        "Sông Mã",
        ((103.18, 21.36), (103.30, 21.24), (103.45, 21.13), (103.62, 21.02)),
        750.0,
        360.0,
        1500.0,
        110.0,
    ),
    (
        "Suối Nậm Pồ",
        ((102.55, 21.85), (102.72, 21.93), (102.90, 22.02), (103.06, 22.11)),
        950.0,
        330.0,
        1100.0,
        80.0,
    ),
    (
        "Suối Nậm Mạ",
        ((102.35, 22.20), (102.45, 22.05), (102.52, 21.90), (102.56, 21.84)),
        1100.0,
        900.0,
        1000.0,
        60.0,
    ),
)

# (lon, lat, half axes east/north in m, floor elevation in m): flat valley basins
_BASINS: tuple[tuple[float, float, float, float, float], ...] = (
    (103.02, 21.36, 4500.0, 11000.0, 480.0),  # Mường Thanh, the Điện Biên valley
    (103.21, 21.58, 2500.0, 3000.0, 560.0),  # Tuần Giáo
    (103.23, 21.47, 2200.0, 2600.0, 900.0),  # Mường Ảng
)


@dataclass(frozen=True)
class ProvinceCommune(CommuneFact):
    """One commune of the province: the district demo's facts plus its district.

    ``population`` is what the generator splits over villages: the 2009
    census figure, or a modelled one for the communes created since
    (``census_population`` is then ``None``).
    """

    district: str = ""
    census_population: int | None = None

    @property
    def is_town(self) -> bool:
        """Return True for urban units (Thị trấn, Phường): flat ground, numbered groups."""
        return self.name.startswith(("Thị trấn", "Phường"))


@dataclass
class ProvinceWorld(DemoWorld):
    """A generated province: the district world's layers plus the operators' candidates.

    Attributes
    ----------
    facts
        The communes, in the order of ``communes``.
    candidates
        ``(n, 2)`` listed candidate positions (UTM metres).
    candidate_heights
        ``(n,)`` mast heights of the candidates.
    candidate_operator
        Per candidate, the operator that reserved it, or ``""``.
    cell_m
        DEM cell size.
    modelled_covered
        Per village, covered by the terrain model (the survey before its errors).
    """

    facts: list[ProvinceCommune] | None = None
    candidates: np.ndarray | None = None
    candidate_heights: np.ndarray | None = None
    candidate_operator: list[str] | None = None
    cell_m: float = pf.DEM_CELL_M
    modelled_covered: np.ndarray | None = None


def province_communes(codes: Sequence[str] | None = None) -> list[ProvinceCommune]:
    """Return the province's communes (all, or those with the given codes, in order).

    Communes without a 2009 population get one modelled from their
    district's population density (people per km² of its communes that have
    a census figure) times their area, rounded.

    Parameters
    ----------
    codes
        Commune codes (``DB-<census id>``) to keep; ``None``: all 130.

    Raises
    ------
    DemoError
        On an unknown code.
    """
    density: dict[str, float] = {}
    for district in sorted({row[2] for row in pf.COMMUNES}):
        rows = [r for r in pf.COMMUNES if r[2] == district and r[3]]
        density[district] = sum(r[3] for r in rows) / sum(r[6] for r in rows)  # type: ignore[misc]
    wanted = None if codes is None else set(codes)
    if wanted is not None:
        unknown = wanted - {r[0] for r in pf.COMMUNES}
        if unknown:
            raise DemoError(f"unknown commune code(s): {', '.join(sorted(unknown))}")
    out = []
    for code, name, district, pop, lat, lon, area in pf.COMMUNES:
        if wanted is not None and code not in wanted:
            continue
        modelled = pop if pop else round(density[district] * area)
        out.append(
            ProvinceCommune(
                code=code,
                name=name,
                population=int(modelled),
                lat=lat,
                lon=lon,
                area_km2=area,
                lowland=district in _THAI_DISTRICTS,
                district=district,
                census_population=pop,
            )
        )
    return out


# --------------------------------------------------------------------------- outline


def province_outline(
    centroids: np.ndarray, areas_m2: np.ndarray, target_area_m2: float
) -> BaseGeometry:
    """Return a smooth, non-convex outline of the target area around the communes.

    The union of one disc per commune (its area's radius plus ``d``), closed
    by 6 km (buffered out and back in) to fill the gaps between them; ``d``
    is found by bisection so the area matches.  A province is far from
    convex, so the district's hull-based :func:`~covgap.demo.outline.district_outline`
    would be much too large.
    """
    radius = np.sqrt(np.asarray(areas_m2, float) / np.pi)
    close = 6000.0

    def shape_for(d: float) -> BaseGeometry:
        discs = shapely.buffer(
            shapely.points(centroids), np.maximum(radius + d, 1600.0), quad_segs=16
        )
        merged = shapely.union_all(discs).buffer(close, quad_segs=8).buffer(-close, quad_segs=8)
        return shapely.simplify(merged, 50.0)

    lo, hi = -5000.0, 20000.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if shape_for(mid).area < target_area_m2:
            lo = mid
        else:
            hi = mid
    outline = shape_for(0.5 * (lo + hi))
    if outline.geom_type != "Polygon":
        outline = max(shapely.get_parts(outline), key=lambda g: g.area)
    missing = ~shapely.contains_xy(outline, centroids[:, 0], centroids[:, 1])
    if missing.any():
        raise DemoError(f"province outline misses {int(missing.sum())} commune centroid(s)")
    return outline


_SMALL_KM2 = 10.0
"""Communes smaller than this (urban wards, towns) are grouped before the power diagram."""
_GROUP_M = 5000.0


def _raster_fitted_cells(
    outline: BaseGeometry,
    sites: np.ndarray,
    target_m2: np.ndarray,
    *,
    cell_m: float = 400.0,
    iterations: int = 200,
    step: float = 0.3,
    floor_m2: float = 25e6,
) -> list[BaseGeometry]:
    """Power cells of ``sites`` clipped to ``outline``, weights fitted on a raster.

    The weights follow :func:`~covgap.demo.communes.commune_cells`'s update
    (``w += step (target - area)``, damped to 0.3), but each iteration
    measures the areas by counting ``cell_m`` raster cells of the outline
    assigned to each site among its 16 nearest, so a province's 130 sites
    take seconds; iterations stop when every area is within 3 % (or 3 % of
    ``floor_m2`` for small ones).  The exact polygons are then cut once, with
    the fitted weights, by :func:`covgap.demo.communes._power_cells` against
    every site.
    """
    from covgap.demo.communes import _power_cells

    origin = sites.mean(0)
    local = sites - origin
    shifted = shapely.affinity.translate(outline, -origin[0], -origin[1])
    minx, miny, maxx, maxy = shifted.bounds
    px, py = np.meshgrid(
        np.arange(minx + cell_m / 2, maxx, cell_m), np.arange(miny + cell_m / 2, maxy, cell_m)
    )
    inside = shapely.contains_xy(shifted, px, py)
    pts = np.column_stack([px[inside], py[inside]])
    k = min(16, len(sites))
    _, near = cKDTree(local).query(pts, k=k)
    near = np.asarray(near).reshape(len(pts), k)
    d2 = ((pts[:, None, :] - local[near]) ** 2).sum(-1)
    target = np.asarray(target_m2, float) * outline.area / float(np.sum(target_m2))
    scale = np.maximum(target, floor_m2)
    weights = np.zeros(len(sites))
    err = np.ones(len(sites))
    it = 0
    for it in range(iterations):  # noqa: B007 (logged below)
        owner = near[np.arange(len(pts)), np.argmin(d2 - weights[near], axis=1)]
        areas = np.bincount(owner, minlength=len(sites)) * cell_m * cell_m
        err = (target - areas) / scale
        if np.max(np.abs(err)) < 0.03:
            break
        weights += step * (target - areas)
    logger.debug("power diagram: %d iterations, worst area error %.3f", it + 1, np.abs(err).max())
    pad = 1000.0
    box = np.array(
        [[minx - pad, miny - pad], [maxx + pad, miny - pad], [maxx + pad, maxy + pad],
         [minx - pad, maxy + pad]]
    )  # fmt: skip
    raw = _power_cells(local, weights, box)
    geoms = [
        shifted.intersection(shapely.Polygon(c)) if len(c) >= 3 else shapely.Polygon() for c in raw
    ]
    return [shapely.affinity.translate(g, origin[0], origin[1]) for g in geoms]


def commune_shapes(
    outline: BaseGeometry, centroids: np.ndarray, areas_m2: np.ndarray
) -> list[BaseGeometry]:
    """Partition the outline into one synthetic shape per commune, areas as listed.

    A province mixes 1 km² urban wards with 200 km² rural communes, which one
    power diagram fits badly (a ward's cell can vanish).  Small communes
    (under :data:`_SMALL_KM2`) within :data:`_GROUP_M` of each other are
    first grouped into one site at their area-weighted centroid with their
    total area; a power diagram is fitted over the groups and the other
    communes (:func:`_raster_fitted_cells`), then each group's cell is split
    among its members the same way on a finer raster.
    """
    n = len(centroids)
    small = np.flatnonzero(np.asarray(areas_m2) < _SMALL_KM2 * 1e6)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a in small:
        for b in small:
            if a < b and np.hypot(*(centroids[a] - centroids[b])) <= _GROUP_M:
                parent[root(int(b))] = root(int(a))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    members = [groups[k] for k in sorted(groups)]
    sites = np.array(
        [np.average(centroids[m], axis=0, weights=np.asarray(areas_m2)[m]) for m in members]
    )
    sizes = np.array([float(np.sum(np.asarray(areas_m2)[m])) for m in members])
    cells = _raster_fitted_cells(outline, sites, sizes)
    out: list[BaseGeometry] = [shapely.Polygon()] * n
    for group, cell in zip(members, cells, strict=True):
        if len(group) == 1:
            out[group[0]] = cell
            continue
        parts = _raster_fitted_cells(
            cell, centroids[group], np.asarray(areas_m2)[group], cell_m=40.0, floor_m2=1e6
        )
        for i, part in zip(group, parts, strict=True):
            out[i] = part
    empty = [i for i, g in enumerate(out) if g.is_empty]
    if empty:
        raise DemoError(f"commune shapes: {len(empty)} empty cell(s)")
    return out


# --------------------------------------------------------------------------- terrain


def _rivers(rng: np.random.Generator) -> list[River]:
    out = []
    for name, lonlat, bed_up, bed_down, width, floor in _RIVERS:
        lon, lat = np.array(lonlat).T
        x, y = to_utm(lon, lat)
        xy = _densify(np.column_stack([x, y]), 30.0)
        xy = _meander(xy, rng, amplitude=200.0)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
        bed = bed_down + (bed_up - bed_down) * (1.0 - s / s[-1]) ** 1.6
        out.append(River(name, xy, bed, width, np.full(len(xy), floor)))
    return out


def _carve_windowed(
    z: np.ndarray, rivers: list[River], grid: tuple[float, float, float], reach: float = 5.0
) -> None:
    """Cut each river's valley in place, on a window around the river only.

    The rule is :func:`covgap.demo.terrain._carve`'s; beyond ``reach`` valley
    scales from the river the wall is within 0.01 % of the untouched surface,
    so each river is carved on its bounding box plus that margin.
    """
    from scipy.ndimage import distance_transform_edt

    west, north, cell = grid
    rows, cols = z.shape
    for river in rivers:
        col = np.floor((river.xy[:, 0] - west) / cell).astype(np.intp)
        row = np.floor((north - river.xy[:, 1]) / cell).astype(np.intp)
        inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        if not inside.any():
            continue
        pad = int(np.ceil((reach * river.half_width_m + float(river.floor_m.max())) / cell))
        r0 = max(int(row[inside].min()) - pad, 0)
        r1 = min(int(row[inside].max()) + pad + 1, rows)
        c0 = max(int(col[inside].min()) - pad, 0)
        c1 = min(int(col[inside].max()) + pad + 1, cols)
        sub = z[r0:r1, c0:c1]
        bed = np.full(sub.shape, np.inf, np.float32)
        floor = np.zeros(sub.shape, np.float32)
        bed[row[inside] - r0, col[inside] - c0] = river.bed_m[inside]
        floor[row[inside] - r0, col[inside] - c0] = river.floor_m[inside]
        dist, (ir, ic) = distance_transform_edt(~np.isfinite(bed), return_indices=True)
        zb = bed[ir, ic]
        d = np.maximum(dist.astype(np.float32) * np.float32(cell) - floor[ir, ic], 0.0)
        del dist, ir, ic
        carved = zb + np.maximum(sub - zb, 0.0) * np.tanh(d / np.float32(river.half_width_m))
        np.minimum(sub, carved, out=sub)


def _flatten(
    z: np.ndarray,
    grid: tuple[float, float, float],
    centre: tuple[float, float],
    half_axes: tuple[float, float],
    level: float,
) -> None:
    """Blend the surface towards ``level`` inside an ellipse (a valley basin), in place."""
    west, north, cell = grid
    rows, cols = z.shape
    ax, ay = half_axes
    c0 = max(int((centre[0] - 1.6 * ax - west) / cell), 0)
    c1 = min(int((centre[0] + 1.6 * ax - west) / cell) + 1, cols)
    r0 = max(int((north - centre[1] - 1.6 * ay) / cell), 0)
    r1 = min(int((north - centre[1] + 1.6 * ay) / cell) + 1, rows)
    if r0 >= r1 or c0 >= c1:
        return
    x = west + (np.arange(c0, c1) + 0.5) * cell
    y = north - (np.arange(r0, r1) + 0.5) * cell
    r = np.hypot((x[None, :] - centre[0]) / ax, (y[:, None] - centre[1]) / ay)
    w = _smoothstep((1.5 - r) / 0.6).astype(np.float32)
    sub = z[r0:r1, c0:c1]
    sub[:] = sub * (1 - w) + np.float32(level) * w


def _noise32(rng: np.random.Generator, shape: tuple[int, int], spacing_cells: float) -> np.ndarray:
    """:func:`covgap.demo.terrain._noise` in float32 (same draws, half the memory and time)."""
    wr, mr = _bspline_matrix(shape[0], spacing_cells)
    wc, mc = _bspline_matrix(shape[1], spacing_cells)
    coarse = rng.standard_normal((mr, mc))
    field_ = (wr.astype(np.float32) @ coarse.astype(np.float32)) @ wc.T.astype(np.float32)
    field_ -= field_.mean(dtype=np.float64)
    field_ /= field_.std(dtype=np.float64)
    return field_


def _slope32(elevation: np.ndarray, cell: float) -> np.ndarray:
    """:func:`covgap.demo.terrain.slope_degrees` in float32, row block by row block."""
    rows = elevation.shape[0]
    out = np.empty(elevation.shape, np.float32)
    step = 512
    for r0 in range(0, rows, step):
        a, b = max(r0 - 1, 0), min(r0 + step + 1, rows)
        gy, gx = np.gradient(elevation[a:b].astype(np.float32), np.float32(cell))
        part = np.degrees(np.arctan(np.hypot(gx, gy)))
        out[r0 : min(r0 + step, rows)] = part[r0 - a : r0 - a + min(step, rows - r0)]
    return out


def province_terrain(
    rng: np.random.Generator,
    window: tuple[float, float, int, int],
    rivers: list[River],
    cell: float,
    towns: list[tuple[float, float]],
) -> Terrain:
    """Generate the province's DEM (int16 metres), float32 throughout.

    Octaves as the district's (:func:`covgap.demo.terrain.build_terrain`) plus
    one of 40 km for the province's large relief; flat basins for the
    Điện Biên, Tuần Giáo and Mường Ảng valleys and a small flat floor under
    every town; the same soft cap and floor; rivers carved by
    :func:`_carve_windowed`.
    """
    west, north, rows, cols = window
    shape = (rows, cols)
    km = 1000.0 / cell
    z = np.full(shape, 960.0, np.float32)
    z += np.float32(330.0) * _noise32(rng, shape, 40.0 * km)
    ridged = (1.0 - np.abs(np.tanh(np.float32(0.8) * _noise32(rng, shape, 2.6 * km)))) ** 2
    z += np.float32(260.0) * (ridged - np.float32(ridged.mean(dtype=np.float64)))
    del ridged
    for amp, spacing in ((260.0, 7.0), (150.0, 3.4), (120.0, 1.4), (35.0, 0.6)):
        z += np.float32(amp) * _noise32(rng, shape, spacing * km)
    over = z > _PEAK_SOFT_CAP_M
    z[over] = _PEAK_SOFT_CAP_M + _PEAK_HEADROOM_M * np.tanh(
        (z[over] - _PEAK_SOFT_CAP_M) / _PEAK_HEADROOM_M
    )
    del over
    z[:] = _FLOOR_M + _FLOOR_SCALE_M * np.logaddexp(
        np.float32(0.0), (z - np.float32(_FLOOR_M)) / np.float32(_FLOOR_SCALE_M)
    )
    grid = (west, north, cell)
    for lon, lat, ax, ay, level in _BASINS:
        cx, cy = to_utm(lon, lat)
        _flatten(z, grid, (float(cx), float(cy)), (ax, ay), level)
    for tx, ty in towns:
        r0 = int((north - ty) / cell)
        c0 = int((tx - west) / cell)
        local = z[max(r0 - 20, 0) : r0 + 21, max(c0 - 20, 0) : c0 + 21]
        level = float(np.median(local)) if local.size else 600.0
        _flatten(z, grid, (tx, ty), (1200.0, 1200.0), level)
    _carve_windowed(z, rivers, grid)
    elevation = np.rint(z).astype(np.int16)
    del z
    terrain = Terrain(elevation, west, north, cell)
    # the habitable mask needs the slope of 40 million cells: float32, by blocks
    terrain._slope = _slope32(elevation, cell)
    return terrain


# --------------------------------------------------------------------------- towers


def _choose_locations(
    positions: np.ndarray,
    elevation: np.ndarray,
    settle_xy: np.ndarray,
    settle_hh: np.ndarray,
    count: int,
) -> list[int]:
    """Greedy tower locations: most households within reach not yet reached.

    Gains count the households of settlements within :data:`_TOWER_REACH_M`
    not yet within that distance of a chosen location; locations closer than
    :data:`_TOWER_SPACING_M` to a chosen one are skipped; ties go to the
    higher hilltop, then the lower index.
    """
    import scipy.sparse

    pairs = cKDTree(positions).sparse_distance_matrix(
        cKDTree(settle_xy), _TOWER_REACH_M, output_type="coo_matrix"
    )
    near = scipy.sparse.csr_matrix(
        (np.ones(pairs.nnz), (pairs.row, pairs.col)), shape=(len(positions), len(settle_xy))
    )
    left = np.asarray(settle_hh, float).copy()
    free = np.ones(len(positions), bool)
    pos_tree = cKDTree(positions)
    order_key = np.lexsort((np.arange(len(positions)), -elevation))
    rank = np.empty(len(positions), np.int64)
    rank[order_key] = np.arange(len(positions))
    chosen: list[int] = []
    for _ in range(count):
        gain = np.where(free, near @ left, -1.0)
        best = float(gain.max())
        if best <= 0:
            break
        ties = np.flatnonzero(gain == best)
        pick = int(ties[np.argmin(rank[ties])])
        chosen.append(pick)
        left[near[pick].indices] = 0.0
        free[pos_tree.query_ball_point(positions[pick], _TOWER_SPACING_M)] = False
    return chosen


def _model_coverage(
    terrain: Terrain,
    xy: np.ndarray,
    heights: np.ndarray,
    villages: list[Village],
) -> np.ndarray:
    """Per village, covered by the project's terrain model under the default scenario.

    The rule is :func:`covgap.reception.village_reception`'s: settlements
    holding at least the scenario's share of households receive the
    threshold or more at their cell of the best-server raster.
    """
    from covgap.data.terrain import Terrain as RadioTerrain
    from covgap.radio.reception import sample_cells
    from covgap.radio.scenario import default_scenario
    from covgap.radio.signal import merge_tile, signal_tile, site_batches

    scenario = default_scenario()
    radio = RadioTerrain(
        terrain.elevation.astype(np.float32), terrain.transform, CRS.from_epsg(facts.UTM_EPSG)
    )
    rsrp = np.full(radio.shape, np.nan, np.float32)
    best = np.full(radio.shape, -1, np.int32)
    unknown = np.zeros(radio.shape, bool)
    eirp = np.full(len(xy), scenario.eirp_dbm)
    for batch in site_batches(xy, scenario.radius_m, 4):
        tile = signal_tile(radio, xy[batch], heights[batch], eirp[batch], scenario, batch)
        merge_tile(rsrp, best, unknown, tile)
    del best, unknown
    settle = [(vi, s) for vi, v in enumerate(villages) for s in v.settlements]
    sx = np.array([s.x for _, s in settle])
    sy = np.array([s.y for _, s in settle])
    rows, cols, inside = sample_cells(sx, sy, radio.transform, radio.shape)
    value = np.where(inside, rsrp[np.clip(rows, 0, None), np.clip(cols, 0, None)], np.nan)
    ok = np.nan_to_num(value, nan=-np.inf) >= scenario.threshold_dbm
    hh = np.array([float(s.households) for _, s in settle])
    vi = np.array([v for v, _ in settle])
    covered_hh = np.bincount(vi, weights=hh * ok, minlength=len(villages))
    total_hh = np.bincount(vi, weights=hh, minlength=len(villages))
    return covered_hh >= scenario.covered_share * total_hh - 1e-9


def _listed_candidates(
    rng: np.random.Generator,
    terrain: Terrain,
    outline: BaseGeometry,
    settle_xy: np.ndarray,
    count: int,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """List the operators' candidate sites: hilltops near settlements.

    One hilltop per block of :data:`_CANDIDATE_SPACING_M`, inside the province,
    on habitable-or-moderate slope (at most 25°), within
    :data:`_CANDIDATE_REACH_M` of a settlement; the ``count`` nearest to a
    settlement are listed (ties by position).  Mast heights as for the towers;
    a share is reserved by one operator.
    """
    block = max(int(np.rint(_CANDIDATE_SPACING_M / terrain.cell)), 1)
    rows, cols = terrain.shape
    nr, nc = rows // block, cols // block
    zb = terrain.elevation[: nr * block, : nc * block].reshape(nr, block, nc, block)
    zb = zb.transpose(0, 2, 1, 3).reshape(nr, nc, block * block)
    arg = zb.argmax(axis=2)
    br, bc = np.divmod(arg, block)
    r = (np.arange(nr)[:, None] * block + br).ravel()
    c = (np.arange(nc)[None, :] * block + bc).ravel()
    del zb
    x, y = terrain.cell_centre(r, c)
    keep = shapely.contains_xy(outline, x, y)
    slope = terrain.slope()[r, c]
    keep &= slope <= 25.0
    d, _ = cKDTree(settle_xy).query(np.column_stack([x, y]))
    keep &= d <= _CANDIDATE_REACH_M
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((x[idx], -y[idx], d[idx]))][:count]
    order = order[np.lexsort((x[order], -y[order]))]
    xy = np.column_stack([x[order], y[order]])
    elev = terrain.elevation[r[order], c[order]].astype(float)
    heights = candidate_heights(elev, np.ones(len(order), bool), (15.0, 25.0, 40.0))
    operators = []
    names = ("Viettel", "VNPT", "MobiFone")
    for _ in range(len(order)):
        if rng.random() < _OPERATOR_SHARE:
            operators.append(names[int(rng.integers(len(names)))])
        else:
            operators.append("")
    return xy, heights, operators


# --------------------------------------------------------------------------- world


def build_province(
    seed: int = pf.SEED,
    *,
    communes: Sequence[str] | None = None,
    cell_m: float = pf.DEM_CELL_M,
) -> ProvinceWorld:
    """Generate the synthetic province (or a part of it) in memory.

    Parameters
    ----------
    seed
        Seed of the PCG64 generator (default :data:`province_facts.SEED`).
    communes
        Commune codes to generate (default: all 130); villages, sites and
        candidates scale with the subset's share of the population and area.
    cell_m
        DEM cell size, m (30; a coarser grid makes quick test variants).

    Returns
    -------
    ProvinceWorld
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    commune_facts = province_communes(communes)
    n = len(commune_facts)
    all_pop = sum(c.population for c in province_communes())
    share = sum(c.population for c in commune_facts) / all_pop
    area_share = sum(c.area_km2 for c in commune_facts) / pf.PROVINCE_AREA_KM2
    cx, cy = to_utm([c.lon for c in commune_facts], [c.lat for c in commune_facts])
    centroids = np.column_stack([cx, cy])
    areas = np.array([c.area_km2 for c in commune_facts]) * 1e6

    outline = province_outline(centroids, areas, float(areas.sum()))
    polygons = consistent_partition(commune_shapes(outline, centroids, areas))
    logger.info("communes: %d, %.0f km2", n, sum(p.area for p in polygons) / 1e6)

    rivers = _rivers(rng)
    window = dem_window(outline.bounds, pf.DEM_BUFFER_M, cell_m)
    towns = [
        (float(x), float(y)) for c, x, y in zip(commune_facts, cx, cy, strict=True) if c.is_town
    ]
    terrain = province_terrain(rng, window, rivers, cell_m, towns)
    logger.info("terrain: %s cells of %g m", terrain.shape, cell_m)

    total = max(round(pf.N_VILLAGES * share), _MIN_VILLAGES * n)
    spare = total - _MIN_VILLAGES * n
    counts = _MIN_VILLAGES + largest_remainder(
        spare, np.array([c.population for c in commune_facts], float)
    )
    villages = build_villages(
        rng, list(commune_facts), polygons, terrain, total, counts, names_per_commune=True
    )
    # noded on a 1 m grid (the district's is 1 cm): no sliver or spike narrower
    # than a metre, so polygons stay valid once written in degrees and projected back
    territories = consistent_partition([v.territory for v in villages], grid_size=1.0)
    for v, t in zip(villages, territories, strict=True):
        v.territory = t
    polygons = [
        shapely.union_all([v.territory for v in villages if v.commune == ci]) for ci in range(n)
    ]
    logger.info("villages: %d", len(villages))

    town_i = [i for i, c in enumerate(commune_facts) if c.is_town]
    biggest = max(town_i or range(n), key=lambda i: commune_facts[i].population)
    substation = (float(cx[biggest]) + 350.0, float(cy[biggest]) - 350.0)
    # towns are not protected from being unpowered here (build_grid's rule for the
    # district's town assumes it lies next to the substation); they never are
    # the most remote villages in practice.
    is_town = np.zeros(len(villages), bool)
    grid = build_grid(
        terrain,
        villages,
        _nearest_habitable(terrain, substation),
        round(pf.N_UNPOWERED * share),
        sparse=True,
        town=is_town,
    )
    logger.info("grid: %d spans, %d unpowered", len(grid.lines), int((~grid.powered).sum()))

    settle_xy = np.array([[s.x, s.y] for v in villages for s in v.settlements])
    settle_hh = np.array([float(s.households) for v in villages for s in v.settlements])
    network = shapely.MultiLineString([ln for ln, _ in grid.lines])
    params = TowerParams(spacing_m=1500.0, max_grid_distance_m=2000.0)
    # rural towers stand by the powered villages they serve, on the road, not on summits
    del network
    positions = np.array([v.seed for v, p in zip(villages, grid.powered, strict=True) if p])
    elev = terrain.sample(positions[:, 0], positions[:, 1])
    n_locations = max(round(pf.N_SITE_LOCATIONS * area_share), 1)
    chosen = _choose_locations(positions, elev, settle_xy, settle_hh, n_locations)
    heights = candidate_heights(elev, np.ones(len(positions), bool), params.mast_heights_m)
    shared = min(round(pf.N_SHARED_LOCATIONS * area_share), len(chosen))
    sites = make_sites(positions[chosen], heights[chosen], np.zeros(len(chosen), bool), shared)
    logger.info("towers: %d sites at %d locations", len(sites), len(chosen))

    modelled = _model_coverage(terrain, positions[chosen], heights[chosen], villages)
    flip = rng.random(len(villages)) < pf.SURVEY_ERROR_RATE
    covered = modelled ^ flip
    logger.info(
        "survey: %d of %d villages report signal (model: %d)",
        int(covered.sum()),
        len(villages),
        int(modelled.sum()),
    )

    cand_xy, cand_h, cand_op = _listed_candidates(
        rng, terrain, outline, settle_xy, max(round(pf.N_CANDIDATES * area_share), 1)
    )
    return ProvinceWorld(
        communes=polygons,
        terrain=terrain,
        villages=villages,
        grid=grid,
        sites=sites,
        covered=covered,
        tower_params=params,
        facts=list(commune_facts),
        candidates=cand_xy,
        candidate_heights=cand_h,
        candidate_operator=cand_op,
        cell_m=cell_m,
        modelled_covered=modelled,
    )


def _nearest_habitable(terrain: Terrain, xy: tuple[float, float]) -> tuple[float, float]:
    """Return the habitable cell centre nearest a point (searched in a 6 km square)."""
    r, c = terrain.nearest_cell(np.array([xy[0]]), np.array([xy[1]]))
    half = int(3000.0 / terrain.cell)
    r0, c0 = max(int(r[0]) - half, 0), max(int(c[0]) - half, 0)
    hab = terrain.habitable()[r0 : int(r[0]) + half + 1, c0 : int(c[0]) + half + 1]
    rows, cols = np.nonzero(hab)
    if len(rows) == 0:
        return xy
    x, y = terrain.cell_centre(rows + r0, cols + c0)
    i = int(np.argmin(np.hypot(x - xy[0], y - xy[1])))
    return float(x[i]), float(y[i])


def _metadata(world: ProvinceWorld, subset: bool) -> dict[str, object]:
    powered = world.grid.powered
    covered = world.covered
    assert world.facts is not None and world.candidates is not None
    return {
        "name": "dien_bien_province_demo" if not subset else "dien_bien_subset_demo",
        "title": (
            "Tỉnh Điện Biên (dữ liệu tổng hợp) / Điện Biên province (synthetic preset)"
            if not subset
            else "Một phần tỉnh Điện Biên (dữ liệu tổng hợp) / Part of Điện Biên (synthetic)"
        ),
        "description": (
            "SYNTHETIC province-scale dataset. Commune names, districts, 2009 census "
            "populations, approximate centroids and areas are real; commune shapes, terrain, "
            "villages, settlements, households, grid, towers, cells, survey and candidate "
            "sites are generated (covgap demo --preset province) and describe no real place."
        ),
        "synthetic": True,
        "source": (
            "Generated by covgap.demo.province.generate_province from a fixed seed. Census "
            "2009 populations from censusVN2009 (MIT); communes created after 2009 have no "
            "population. Households assume "
            f"{facts.PEOPLE_PER_HOUSEHOLD:g} people per household."
        ),
        "demo": {
            "preset": "province",
            "seed": pf.SEED,
            "communes": len(world.facts),
            "villages": len(world.villages),
            "uncovered": int((~covered).sum()),
            "unpowered": int((~powered).sum()),
            "uncovered_and_unpowered": int((~covered & ~powered).sum()),
            "modelled_uncovered": int((~world.modelled_covered).sum())
            if world.modelled_covered is not None
            else 0,
            "sites": len(world.sites),
            "candidates": len(world.candidates),
            "dem_cell_m": world.cell_m,
            "dem_shape": f"{world.terrain.shape[0]} x {world.terrain.shape[1]}",
            "people_per_household": facts.PEOPLE_PER_HOUSEHOLD,
            "dem_crs": f"EPSG:{facts.UTM_EPSG}",
            "survey_error_rate": pf.SURVEY_ERROR_RATE,
        },
    }


def generate_province(
    out_dir: Path,
    *,
    communes: Sequence[str] | None = None,
    cell_m: float = pf.DEM_CELL_M,
) -> Path:
    """Generate the SYNTHETIC Điện Biên province dataset into ``out_dir``.

    Parameters
    ----------
    out_dir
        Dataset folder (created if needed); files are replaced atomically.
    communes, cell_m
        As for :func:`build_province` (defaults: the whole province at 30 m).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out = Path(out_dir)
    world = build_province(communes=communes, cell_m=cell_m)
    assert world.facts is not None
    rows: list[dict[str, object]] = [
        {
            "commune_code": c.code,
            "commune_name": c.name,
            "district_name": c.district,
            "population": c.census_population,
        }
        for c in world.facts
    ]
    write_world(
        out,
        world,
        rows,
        _metadata(world, communes is not None),
        cell_seed=pf.SEED + 1,
        dem_zlevel=6,
    )
    _write_candidates(out, world)
    return out


def _write_candidates(out: Path, world: ProvinceWorld) -> None:
    assert world.candidates is not None and world.candidate_heights is not None
    assert world.candidate_operator is not None
    lon, lat = to_lonlat(world.candidates[:, 0], world.candidates[:, 1])
    atomic_write(
        out / "towers" / "sites_candidates.csv",
        csv_bytes(
            ("candidate_id", "lon", "lat", "height_m", "operator", "note"),
            (
                (
                    f"L{i + 1:05d}",
                    float(x),
                    float(y),
                    f"{h:g}",
                    op,
                    "synthetic site-acquisition list",
                )
                for i, (x, y, h, op) in enumerate(
                    zip(lon, lat, world.candidate_heights, world.candidate_operator, strict=True)
                )
            ),
            bom=True,
        ),
    )
