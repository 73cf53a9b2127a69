"""Repair of invalid polygons, as read and as reprojected.

A polygon can be invalid as drawn (a ring that crosses itself) or become
invalid when reprojected: straight edges stay straight between the new
vertex positions, so a vertex a hair's breadth inside an edge in degrees can
land across it in metres. Both are repaired the same way, keeping the
polygonal parts of :func:`shapely.make_valid` (``structure`` method), and
reported by the caller with the feature's number.
"""

from __future__ import annotations

from typing import Any

import shapely

__all__ = ["POLYGON_TYPES", "repair_polygon"]

POLYGON_TYPES = ("Polygon", "MultiPolygon")


def repair_polygon(geom: Any) -> tuple[Any, str]:
    """Return a valid version of an invalid polygon and GEOS's reason it was invalid.

    Parameters
    ----------
    geom
        A shapely Polygon or MultiPolygon.

    Returns
    -------
    repaired : shapely geometry
        Its polygonal parts made valid (empty when nothing polygonal is left:
        a ring collapsed to a line).
    reason : str
        :func:`shapely.is_valid_reason` of ``geom``.
    """
    reason = str(shapely.is_valid_reason(geom))
    repaired = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    if repaired.geom_type == "GeometryCollection":
        polys = [g for g in repaired.geoms if g.geom_type in POLYGON_TYPES]
        repaired = shapely.union_all(polys) if polys else shapely.Polygon()
    return repaired, reason
