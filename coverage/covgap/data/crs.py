"""Choose the metric CRS the analysis runs in, and move data into it.

Distances, areas and radio paths are computed in a projected CRS in metres,
never on longitude/latitude degrees.  By default that CRS is the WGS 84 UTM
zone holding the centre of the data (zone 48N for Tủa Chùa, EPSG:32648); a
user may choose another projected metric CRS, such as VN-2000 / UTM zone 48N
(EPSG:3405) or a VN-2000 TM-3 zone (e.g. EPSG:9205, meridian 103°00').

Inputs in VN-2000 (EPSG:4756 geographic, EPSG:3405/3406 UTM, EPSG:5896-5899 and
EPSG:9205-9218 TM-3) are reprojected by PROJ with the published VN-2000 to
WGS 84 transformation; the two datums differ by a few hundred metres, so such
files must declare their CRS (or ``dataset.toml`` must).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError

from covgap.data.repair import POLYGON_TYPES, repair_polygon
from covgap.errors import CRSError, GeometryError

__all__ = ["analysis_crs", "is_metric", "lonlat_bounds", "parse_crs", "to_metric", "utm_crs"]

log = logging.getLogger(__name__)

_METRE_UNITS = {"metre", "meter", "m"}


def parse_crs(value: Any, *, source: str = "CRS") -> CRS:
    """Parse a CRS given as ``"EPSG:3405"``, ``3405``, WKT or a :class:`pyproj.CRS`.

    Parameters
    ----------
    value
        The CRS.
    source
        Where the value comes from, for the error message.

    Raises
    ------
    CRSError
        If pyproj does not know the CRS.
    """
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (PyprojCRSError, TypeError, ValueError) as exc:
        raise CRSError(f"{source}: unknown CRS {value!r} ({exc})") from None


def is_metric(crs: CRS) -> bool:
    """Return whether ``crs`` is projected with both axes in metres."""
    if not crs.is_projected:
        return False
    return all(axis.unit_name.lower() in _METRE_UNITS for axis in crs.axis_info[:2])


def utm_crs(lon: float, lat: float) -> CRS:
    """Return the WGS 84 UTM zone CRS holding ``(lon, lat)``.

    The regular 6° zones are used (the Norway/Svalbard exceptions are not).

    Examples
    --------
    >>> utm_crs(103.35, 21.95).to_epsg()
    32648
    """
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise CRSError(f"not a longitude/latitude: ({lon}, {lat})")
    zone = min(math.floor((lon + 180.0) / 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def lonlat_bounds(data: Iterable[gpd.GeoDataFrame | gpd.GeoSeries]) -> tuple[float, ...]:
    """Return the WGS 84 longitude/latitude bounds of several layers together."""
    boxes = []
    for layer in data:
        if layer is None or len(layer) == 0:
            continue
        if layer.crs is None:
            raise CRSError("a layer has no CRS; cannot locate it")
        minx, miny, maxx, maxy = layer.total_bounds
        to_wgs84 = Transformer.from_crs(layer.crs, 4326, always_xy=True)
        boxes.append(to_wgs84.transform_bounds(minx, miny, maxx, maxy, densify_pts=21))
    if not boxes:
        raise CRSError("no data to choose an analysis CRS from")
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def analysis_crs(
    data: Iterable[gpd.GeoDataFrame | gpd.GeoSeries] | Sequence[float],
    user_crs: Any = None,
) -> CRS:
    """Choose the metric CRS the analysis runs in.

    Parameters
    ----------
    data
        Layers with a CRS, or WGS 84 bounds ``(min_lon, min_lat, max_lon,
        max_lat)``.
    user_crs
        A CRS chosen by the user; it wins if given and must be projected in
        metres.

    Returns
    -------
    pyproj.CRS
        ``user_crs``, or the WGS 84 UTM zone (north or south) of the centre of
        the data.

    Raises
    ------
    CRSError
        If ``user_crs`` is unknown, geographic or not in metres.
    """
    if user_crs is not None:
        crs = parse_crs(user_crs, source="analysis CRS")
        if not is_metric(crs):
            kind = "geographic (degrees)" if crs.is_geographic else "not in metres"
            raise CRSError(
                f"analysis CRS {crs.to_string()} ({crs.name}) is {kind}; "
                "choose a projected CRS in metres, e.g. EPSG:32648 or EPSG:3405"
            )
        return crs
    if (
        isinstance(data, Sequence)
        and len(data) == 4
        and all(isinstance(v, (int, float)) for v in data)
    ):
        bounds = tuple(float(v) for v in data)
    else:
        bounds = lonlat_bounds(data)  # type: ignore[arg-type]
    lon = (bounds[0] + bounds[2]) / 2.0
    lat = (bounds[1] + bounds[3]) / 2.0
    crs = utm_crs(lon, lat)
    log.debug("analysis CRS %s chosen from data centre (%.4f, %.4f)", crs.to_string(), lon, lat)
    return crs


def to_metric(
    gdf: gpd.GeoDataFrame,
    crs: CRS,
    *,
    notes: list[str] | None = None,
    label: str = "layer",
) -> gpd.GeoDataFrame:
    """Return ``gdf`` reprojected to the metric CRS ``crs``, its polygons valid.

    Edges stay straight between the reprojected vertices, so a polygon valid
    in degrees can cross itself in metres (a vertex a hair's breadth from an
    edge lands across it). Such polygons are repaired
    (:func:`covgap.data.repair.repair_polygon`) and reported, one note per
    layer naming each polygon by its village or commune code (else its
    position in the layer); none is dropped.

    Parameters
    ----------
    gdf
        A layer with a CRS.
    crs
        A projected CRS in metres.
    notes
        Where the repairs are reported (else logged as warnings).
    label
        The layer's name in the note (e.g. its file).

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS or ``crs`` is not projected in metres.
    GeometryError
        A polygon that nothing polygonal is left of once repaired.
    """
    if gdf.crs is None:
        raise CRSError("cannot reproject a layer without a CRS")
    if not is_metric(crs):
        raise CRSError(f"{crs.to_string()} is not a projected CRS in metres")
    if gdf.crs == crs:
        return gdf.copy()
    out = gdf.to_crs(crs)
    geoms = out.geometry
    polygonal = geoms.geom_type.isin(POLYGON_TYPES).to_numpy()
    broken = np.flatnonzero(polygonal & ~geoms.is_valid.to_numpy())
    if len(broken) == 0:
        return out
    fixed = list(geoms)
    # named by code where the layer has one (a selection of a file's features keeps
    # no feature numbers), else by its position in the layer (the file's order)
    key = next((c for c in ("village_code", "commune_code") if c in out.columns), None)
    where = []
    for i in broken:
        repaired, reason = repair_polygon(fixed[i])
        what = f"{key.split('_')[0]} {out[key].iloc[i]}" if key else f"feature {i + 1}"
        if repaired.is_empty:
            raise GeometryError(
                f"{what}: invalid once reprojected to {crs.to_string()} ({reason}) "
                "and cannot be repaired",
                path=label,
                row=None if key else int(i) + 1,
            )
        fixed[i] = repaired
        where.append(f"{what} ({reason})")
    message = (
        f"{label}: {len(broken)} polygon(s) invalid once reprojected to {crs.to_string()}, "
        f"repaired: {', '.join(where)}"
    )
    if notes is None:
        log.warning("%s", message)
    else:
        notes.append(message)
    return out.set_geometry(gpd.GeoSeries(fixed, index=out.index, crs=crs))
