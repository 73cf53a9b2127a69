"""Village territories and settlement points for ``covgap prepare``.

Territories are the Voronoi cells of the village points clipped to their
commune: every place of a commune belongs to its nearest village point, the
simplest partition that needs nothing but the points.  A commune without any
point becomes one village covering it.  Codes are ``<commune code>-NN``
numbered west to east, so villages sharing a name keep distinct codes.
Settlement points are the village points; where buildings are mapped, a
village's households are spread over its buildings grouped on a
:data:`BUILDING_CELL_M` grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from covgap.data.crs import to_metric
from covgap.data.readers import POINT_TYPES, POLYGON_TYPES, read_vector
from covgap.data.text import fold, nfc
from covgap.errors import MissingColumnError

__all__ = [
    "BUILDING_CELL_M",
    "DUPLICATE_POINT_M",
    "VILLAGE_NAME_FIELDS",
    "VillageCounts",
    "read_village_file",
    "settlement_points",
    "villages_from_points",
    "villages_from_polygons",
]

VILLAGE_NAME_FIELDS = ("village_name", "name_vi", "name", "ten_thon", "ten_ban", "ten")
"""Name fields recognised in a ``--villages`` file (ignoring case)."""
BUILDING_CELL_M = 200.0
"""Buildings are grouped into settlement points on a grid of this size (m)."""
DUPLICATE_POINT_M = 1.0
"""Village points closer than this (m) are one point (the first west to east)."""


@dataclass
class VillageCounts:
    """What building the villages found: counts and warnings."""

    villages_from_points: int = 0
    communes_without_points: list[str] = field(default_factory=list)
    place_points_outside: int = 0
    warnings: list[str] = field(default_factory=list)


def _voronoi_territories(points: np.ndarray, commune: shapely.Geometry) -> list[shapely.Geometry]:
    if len(points) == 1:
        return [commune]
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=commune, ordered=True)
    return [shapely.make_valid(cell.intersection(commune)) for cell in shapely.get_parts(cells)]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in geom.geoms if g.geom_type in POLYGON_TYPES]
        return shapely.union_all(parts)
    return geom


def villages_from_points(
    points: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    report: VillageCounts,
) -> gpd.GeoDataFrame:
    """Village territories from points: Voronoi cells per commune, clipped to it.

    Parameters
    ----------
    points
        ``name`` (``""`` if unnamed), ``osm_id``, points in the communes' CRS.
    communes
        ``commune_code``, ``commune_name``, polygons (metric CRS).
    report
        Receives the counts and warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``village_code``, ``village_name``, ``commune_code``, ``point`` (the
        village point), ``osm_id``, territories.
    """
    joined = gpd.sjoin(
        points, communes[["commune_code", "geometry"]], predicate="within", how="inner"
    )
    joined = joined[~joined.index.duplicated(keep="first")]
    report.place_points_outside = len(points) - len(joined)
    if report.place_points_outside:
        report.warnings.append(
            f"{report.place_points_outside} place point(s) near the communes but outside "
            "every commune ignored"
        )
    records: list[dict[str, Any]] = []
    for commune in communes.itertuples():
        inside = joined[joined["commune_code"] == commune.commune_code]
        if inside.empty:
            report.communes_without_points.append(commune.commune_code)
            records.append(
                {
                    "village_code": f"{commune.commune_code}-01",
                    "village_name": commune.commune_name,
                    "commune_code": commune.commune_code,
                    "point": commune.geometry.representative_point(),
                    "geometry": commune.geometry,
                    "osm_id": "",
                }
            )
            continue
        xy = np.column_stack([inside.geometry.x, inside.geometry.y])
        order = np.lexsort((xy[:, 1].round(1), xy[:, 0].round(1)))
        kept: list[int] = []
        for i in order:
            if all(np.hypot(*(xy[i] - xy[j])) >= DUPLICATE_POINT_M for j in kept):
                kept.append(int(i))
        if len(kept) < len(order):
            report.warnings.append(
                f"commune {commune.commune_code}: {len(order) - len(kept)} place point(s) at the "
                "same position as another were merged into it"
            )
        territories = _voronoi_territories(xy[kept], commune.geometry)
        unnamed = 0
        names_seen: dict[str, str] = {}
        for number, (i, territory) in enumerate(zip(kept, territories, strict=True), start=1):
            row = inside.iloc[i]
            name = str(row["name"]).strip()
            if not name:
                unnamed += 1
                name = f"{commune.commune_name} {unnamed}"
            code = f"{commune.commune_code}-{number:02d}"
            folded = fold(name)
            if folded in names_seen:
                report.warnings.append(
                    f"commune {commune.commune_code}: two villages are named {name!r} "
                    f"({names_seen[folded]} and {code}); status rows must use codes for them"
                )
            names_seen[folded] = code
            records.append(
                {
                    "village_code": code,
                    "village_name": name,
                    "commune_code": commune.commune_code,
                    "point": row.geometry,
                    "geometry": _polygonal(territory),
                    "osm_id": str(row.get("osm_id", "")),
                }
            )
            report.villages_from_points += 1
        if unnamed:
            report.warnings.append(
                f"commune {commune.commune_code}: {unnamed} unnamed place point(s) named "
                f"'{commune.commune_name} 1', ... (rename them in villages.geojson if known)"
            )
    if report.communes_without_points:
        report.warnings.append(
            f"{len(report.communes_without_points)} commune(s) without any village point became "
            f"one village each, covering the whole commune: "
            f"{', '.join(report.communes_without_points)}"
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs=communes.crs)


def villages_from_polygons(
    polygons: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, report: VillageCounts
) -> gpd.GeoDataFrame:
    """Village territories from given polygons, clipped to the commune each overlaps most.

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`villages_from_points`; communes without any polygon become
        one village.
    """
    records: list[dict[str, Any]] = []
    per_commune: dict[str, int] = {}
    for row in polygons.itertuples():
        overlaps = communes.geometry.intersection(row.geometry).area
        if overlaps.max() <= 0:
            report.place_points_outside += 1
            continue
        commune = communes.iloc[int(overlaps.to_numpy().argmax())]
        per_commune[commune.commune_code] = per_commune.get(commune.commune_code, 0) + 1
        territory = _polygonal(shapely.make_valid(row.geometry.intersection(commune.geometry)))
        records.append(
            {
                "village_code": f"{commune.commune_code}-{per_commune[commune.commune_code]:02d}",
                "village_name": row.name
                or f"{commune.commune_name} {per_commune[commune.commune_code]}",
                "commune_code": commune.commune_code,
                "point": territory.representative_point(),
                "geometry": territory,
                "osm_id": "",
            }
        )
        report.villages_from_points += 1
    if report.place_points_outside:
        report.warnings.append(
            f"{report.place_points_outside} village polygon(s) outside every commune ignored"
        )
    for commune in communes.itertuples():
        if commune.commune_code not in per_commune:
            report.communes_without_points.append(commune.commune_code)
            records.append(
                {
                    "village_code": f"{commune.commune_code}-01",
                    "village_name": commune.commune_name,
                    "commune_code": commune.commune_code,
                    "point": commune.geometry.representative_point(),
                    "geometry": commune.geometry,
                    "osm_id": "",
                }
            )
    if report.communes_without_points:
        report.warnings.append(
            f"{len(report.communes_without_points)} commune(s) without any given village became "
            f"one village each: {', '.join(report.communes_without_points)}"
        )
    return gpd.GeoDataFrame(records, geometry="geometry", crs=communes.crs)


def read_village_file(path: Path, crs: CRS, notes: list[str]) -> gpd.GeoDataFrame:
    """Read a ``--villages`` file: points or polygons with a name field, into ``crs``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``name`` (``""`` when blank), ``osm_id`` (``""``), geometries in ``crs``.

    Raises
    ------
    MissingColumnError
        If no field of :data:`VILLAGE_NAME_FIELDS` is present.
    """
    gdf = read_vector(path, (*POINT_TYPES, *POLYGON_TYPES), notes=notes)
    columns = [c for c in gdf.columns if c != "geometry"]
    lowered = {c.casefold(): c for c in columns}
    name_col = next((lowered[n] for n in VILLAGE_NAME_FIELDS if n in lowered), None)
    if name_col is None:
        raise MissingColumnError(
            f"no village name field (expected one of {', '.join(VILLAGE_NAME_FIELDS)}; fields "
            f"found: {', '.join(repr(c) for c in columns) or 'none'})",
            path=path,
        )
    names = [nfc(str(v)) if v is not None and str(v) != "nan" else "" for v in gdf[name_col]]
    layer = gpd.GeoDataFrame(
        {"name": names, "osm_id": ""}, geometry=list(gdf.geometry), crs=gdf.crs
    )
    return to_metric(layer, crs, notes=notes, label=str(path))


def settlement_points(
    villages: gpd.GeoDataFrame, buildings: gpd.GeoSeries | None
) -> gpd.GeoDataFrame:
    """Village points carrying their households; buildings grouped on a grid where mapped."""
    records: list[dict[str, Any]] = []
    for village in villages.itertuples():
        inside = None
        if buildings is not None and len(buildings):
            hits = buildings.sindex.query(village.geometry, predicate="contains")
            if len(hits):
                inside = buildings.iloc[hits]
        if inside is None:
            records.append(
                {
                    "village_code": village.village_code,
                    "households": village.households,
                    "geometry": village.point,
                }
            )
            continue
        cell = np.floor(np.column_stack([inside.x, inside.y]) / BUILDING_CELL_M).astype(np.int64)
        frame = pd.DataFrame(
            {"cx": cell[:, 0], "cy": cell[:, 1], "x": inside.x.to_numpy(), "y": inside.y.to_numpy()}
        )
        groups = frame.groupby(["cx", "cy"], sort=True).agg(
            x=("x", "mean"), y=("y", "mean"), n=("x", "size")
        )
        total = groups["n"].sum()
        for g in groups.itertuples():
            records.append(
                {
                    "village_code": village.village_code,
                    "households": village.households * g.n / total
                    if np.isfinite(village.households)
                    else math.nan,
                    "geometry": shapely.Point(g.x, g.y),
                }
            )
    return gpd.GeoDataFrame(records, geometry="geometry", crs=villages.crs)
