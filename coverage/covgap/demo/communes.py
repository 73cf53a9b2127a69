"""Synthetic commune boundaries: a power diagram fitted to the communes' areas.

Each commune is the cell of a weighted Voronoi (power) diagram around its real
centroid, clipped to the district outline; the weights are adjusted until the
cell areas match the communes' listed areas (rescaled to the outline's area).
"""

from __future__ import annotations

import logging

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["commune_cells", "consistent_partition", "town_shape"]

logger = logging.getLogger(__name__)


def _clip_halfplane(poly: np.ndarray, normal: np.ndarray, limit: float) -> np.ndarray:
    """Sutherland-Hodgman: keep the part of a convex polygon where ``normal . p <= limit``."""
    if len(poly) == 0:
        return poly
    side = poly @ normal - limit
    out = []
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        sa, sb = side[i], side[(i + 1) % n]
        if sa <= 0:
            out.append(a)
        if (sa <= 0) != (sb <= 0):
            out.append(a + (b - a) * (sa / (sa - sb)))
    return np.asarray(out).reshape(-1, 2)


def _power_cells(sites: np.ndarray, weights: np.ndarray, box: np.ndarray) -> list[np.ndarray]:
    cells = []
    norms = (sites**2).sum(1)
    for i in range(len(sites)):
        poly = box.copy()
        for j in range(len(sites)):
            if i == j:
                continue
            normal = 2.0 * (sites[j] - sites[i])
            limit = norms[j] - norms[i] - weights[j] + weights[i]
            poly = _clip_halfplane(poly, normal, limit)
        cells.append(poly)
    return cells


def commune_cells(
    outline: BaseGeometry,
    sites: np.ndarray,
    target_areas_m2: np.ndarray,
    *,
    iterations: int = 400,
    tolerance: float = 0.01,
) -> list[Polygon]:
    """Partition the outline into power cells whose areas approach the targets.

    Parameters
    ----------
    outline
        District outline (metres).
    sites
        (n, 2) commune centroids (metres).
    target_areas_m2
        Wanted areas; rescaled to sum to the outline's area.
    iterations
        Maximum weight updates.
    tolerance
        Stop when every area is within this relative error.

    Returns
    -------
    list of shapely geometries
        One cell (a Polygon, rarely a MultiPolygon) per site, in the order of ``sites``.
    """
    origin = sites.mean(0)
    local = sites - origin
    shifted = shapely.affinity.translate(outline, -origin[0], -origin[1])
    minx, miny, maxx, maxy = shifted.bounds
    pad = 1000.0
    box = np.array(
        [
            [minx - pad, miny - pad],
            [maxx + pad, miny - pad],
            [maxx + pad, maxy + pad],
            [minx - pad, maxy + pad],
        ]
    )
    target = np.asarray(target_areas_m2, float) * outline.area / float(np.sum(target_areas_m2))
    weights = np.zeros(len(sites))
    geoms: list[BaseGeometry] = []
    it = 0
    for it in range(iterations):  # noqa: B007 (logged below)
        raw = _power_cells(local, weights, box)
        geoms = [shifted.intersection(Polygon(c)) if len(c) >= 3 else Polygon() for c in raw]
        areas = np.array([g.area for g in geoms])
        err = (target - areas) / target
        if np.max(np.abs(err)) < tolerance:
            break
        weights += 0.6 * (target - areas)
    logger.debug("power diagram: %d iterations, worst area error %.3f", it + 1, np.max(np.abs(err)))
    return [shapely.affinity.translate(g, origin[0], origin[1]) for g in geoms]


def consistent_partition(cells: list[BaseGeometry], grid_size: float = 0.01) -> list[BaseGeometry]:
    """Rebuild cells from one shared noding so neighbours share identical vertices.

    The cells are snapped to ``grid_size``, their boundaries noded together
    and polygonized; each face goes to the cell overlapping it most (tiny
    slivers between cells to the nearest one).  The cells then tile their
    union without gaps or overlaps, vertex for vertex.
    """
    snapped = [shapely.set_precision(c, grid_size) for c in cells]
    lines = shapely.unary_union([c.boundary for c in snapped])
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    owners: list[list[Polygon]] = [[] for _ in cells]
    tree = shapely.STRtree(snapped)
    for face in faces:
        hits = [int(i) for i in tree.query(face, predicate="intersects")]
        overlap = [(snapped[i].intersection(face).area, -i) for i in hits]
        if overlap and max(overlap)[0] > 0.5 * face.area:
            best = -max(overlap)[1]
        else:
            best = int(np.argmin([c.distance(face.point_on_surface()) for c in snapped]))
        owners[best].append(face)
    return [shapely.normalize(shapely.unary_union(parts)) for parts in owners]


def town_shape(centre: tuple[float, float], area_m2: float, rng: np.random.Generator) -> Polygon:
    """Return a smooth, slightly irregular polygon of the given area around a point."""
    theta = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    radius = 1.0 + 0.12 * np.sin(2 * theta + rng.uniform(0, 2 * np.pi))
    radius += 0.06 * np.sin(3 * theta + rng.uniform(0, 2 * np.pi))
    pts = np.column_stack([np.cos(theta) * radius * 1.25, np.sin(theta) * radius * 0.8])
    poly = Polygon(pts)
    scale = np.sqrt(area_m2 / poly.area)
    return Polygon(pts * scale + np.asarray(centre))
