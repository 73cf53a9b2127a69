"""The synthetic district outline: a smooth, wavy shape around the commune centroids."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon

from covgap.errors import DemoError

__all__ = ["district_outline"]

_VERTICES = 240


def district_outline(
    centroids: np.ndarray,
    target_area_m2: float,
    rng: np.random.Generator,
    *,
    wobble: float = 0.05,
) -> Polygon:
    """Return a smooth district outline of the target area containing every centroid.

    The convex hull of the commune centroids is buffered, its boundary pushed
    in and out by a few low-frequency waves (seeded), and the buffer distance
    found by bisection so that the area matches ``target_area_m2``.

    Parameters
    ----------
    centroids
        (n, 2) commune centroids in metres (a projected CRS).
    target_area_m2
        Wanted area in square metres.
    rng
        The generator's random source.
    wobble
        Relative amplitude of the boundary waves.

    Returns
    -------
    shapely.Polygon
        The outline in the centroids' CRS.
    """
    hull = MultiPoint([tuple(p) for p in centroids]).convex_hull
    centre = np.asarray(hull.centroid.coords[0])
    ks = np.arange(2, 7)
    amps = wobble * rng.uniform(0.4, 1.0, len(ks)) / np.sqrt(ks - 1)
    phases = rng.uniform(0, 2 * np.pi, len(ks))

    def shape_for(distance: float) -> Polygon:
        ring = np.asarray(hull.buffer(distance, quad_segs=32).exterior.coords)[:-1]
        rel = ring - centre
        theta = np.arctan2(rel[:, 1], rel[:, 0])
        factor = 1.0 + (amps[None, :] * np.sin(ks[None, :] * theta[:, None] + phases)).sum(1)
        pts = centre + rel * factor[:, None]
        poly = Polygon(pts)
        # resample evenly, smooth, so the vertex count does not depend on distance
        line = poly.exterior
        t = np.linspace(0, line.length, _VERTICES, endpoint=False)
        pts = np.asarray([line.interpolate(v).coords[0] for v in t])
        return shapely.make_valid(Polygon(pts))

    lo, hi = 0.0, 20000.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if shape_for(mid).area < target_area_m2:
            lo = mid
        else:
            hi = mid
    outline = shape_for(0.5 * (lo + hi))
    if not all(outline.contains(shapely.Point(p).buffer(1500)) for p in centroids):
        raise DemoError("district outline does not contain every commune centroid")
    return outline
