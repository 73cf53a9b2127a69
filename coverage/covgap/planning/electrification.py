"""Joint electrification list: which unpowered villages, once on the grid, unlock tower sites.

A tower site far from the medium-voltage grid runs on solar and batteries or
needs a long line; if a nearby unpowered village is connected to the grid,
the site can take its power from that village instead.  This module ranks the
unpowered villages for the power utility by what their connection would do
for mobile coverage.

Rule
----
* A village's **connection points** are its settlement points (the
  transformer stations of a village connection stand where the households
  are); a village without settlements uses its polygon's representative
  point.  ``grid_distance_m`` is the distance from the nearest connection
  point to the existing grid (NaN without a grid).
* A site's distance to power **now** is its ``distance_to_grid_m`` column
  (or, if absent, its distance to the grid lines); NaN (no grid known) counts
  as infinitely far.  **After** the village's connection it is the distance
  from the site to the village's nearest connection point.
* A site is **unlocked** by a village when the distance after is shorter than
  now (and at most ``max_connection_m`` if given) and, when a
  ``cost_fn(distance_m) -> VND`` is given, the power cost after is strictly
  lower than now.  ``saving_vnd`` is the sum over the unlocked sites of
  ``cost_fn(now) - cost_fn(after)`` (NaN without ``cost_fn``).  With
  :func:`covgap.planning.costs.power_cost` as ``cost_fn`` (the cheaper of grid and
  solar), a site already cheaper on solar after the connection is not
  counted.
* ``households_unlocked`` is the sum of the unlocked sites'
  ``households_gained`` as given.  For a ranked plan these are marginal
  gains, so nothing is counted twice; for raw candidates they may overlap.
* Each village is assessed alone (connecting two villages is not modelled
  jointly).  Villages are ranked by ``households_unlocked`` (descending),
  then ``households_unpowered`` (descending), then ``grid_distance_m``
  (ascending, unknown last), then ``village_code``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from covgap.errors import CRSError, MissingColumnError
from covgap.planning.costs import distance_to_lines

__all__ = ["ELECTRIFICATION_COLUMNS", "electrification_priorities"]

logger = logging.getLogger(__name__)

#: Columns of the electrification list, in order.
ELECTRIFICATION_COLUMNS = (
    "rank",
    "village_code",
    "village_name",
    "commune_name",
    "households_unpowered",
    "sites_unlocked",
    "households_unlocked",
    "grid_distance_m",
    "saving_vnd",
)


def _metric(gdf: gpd.GeoDataFrame, name: str) -> CRS:
    if gdf.crs is None:
        raise CRSError(f"electrification: {name} have no CRS")
    crs = CRS.from_user_input(gdf.crs)
    if not crs.is_projected:
        raise CRSError(
            f"electrification: {name} are in {crs.name!r}, not a projected metric CRS; "
            "reproject to the analysis CRS first"
        )
    return crs


def _to(gdf: Any, crs: CRS) -> Any:
    if gdf is None or gdf.crs is None or CRS.from_user_input(gdf.crs).equals(crs):
        return gdf
    return gdf.to_crs(crs)


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return values.to_numpy(na_value=np.nan)


def _costs(cost_fn: Callable[[float], Any], distances: np.ndarray) -> np.ndarray:
    out = np.empty(distances.size)
    for i, d in enumerate(distances):
        value = np.asarray(cost_fn(float(d)), dtype=np.float64).reshape(-1)
        out[i] = value[0] if value.size else math.nan
    return out


def _unpowered(villages: gpd.GeoDataFrame) -> np.ndarray:
    if "power_status" in villages.columns:
        return (villages["power_status"].astype("string") == "unpowered").fillna(False).to_numpy()
    if "grid_power" in villages.columns:
        power = pd.array(villages["grid_power"].tolist(), dtype="boolean")
        return (~power).fillna(False).to_numpy(dtype=bool)
    raise MissingColumnError(
        "villages need a 'power_status' (or 'grid_power') column", column="power_status"
    )


def electrification_priorities(
    villages_gdf: gpd.GeoDataFrame,
    sites_gdf: gpd.GeoDataFrame,
    grid_gdf: gpd.GeoDataFrame | None,
    cost_fn: Callable[[float], Any] | None = None,
    *,
    settlements_gdf: gpd.GeoDataFrame | None = None,
    communes_gdf: gpd.GeoDataFrame | None = None,
    max_connection_m: float | None = None,
) -> pd.DataFrame:
    """Rank unpowered villages by the tower sites their grid connection would unlock.

    The rule is in the module docstring.

    Parameters
    ----------
    villages_gdf
        Villages (``Gaps.villages``): ``village_code``, ``village_name``,
        ``commune_code``, ``power_status`` (or ``grid_power``), optional
        ``households_unpowered``, ``households``, ``commune_name``; polygons
        in a projected metric CRS.
    sites_gdf
        Planned sites or candidates: ``site_id`` (or ``candidate_id``),
        ``households_gained``, optional ``distance_to_grid_m``; points.
    grid_gdf
        The medium-voltage grid lines, or ``None``.
    cost_fn
        Optional ``cost_fn(distance_m) -> VND``: a site's power cost at a
        distance from the grid (NaN distance: no grid known), e.g.
        ``lambda d: costs.power_cost(d, settings).cost_vnd``.
    settlements_gdf
        Optional settlement points with ``village_code`` (connection points).
    communes_gdf
        Optional communes (``commune_code``, ``commune_name``) used when the
        villages carry no ``commune_name``.
    max_connection_m
        Optional longest line from a connected village to a site, m.

    Returns
    -------
    pandas.DataFrame
        :data:`ELECTRIFICATION_COLUMNS`, one row per unpowered village;
        ``sites_unlocked`` holds lists of site ids (largest gain first).

    Raises
    ------
    MissingColumnError
        If the power status or ``households_gained`` is missing.
    CRSError
        If a layer has no CRS or is not projected.
    """
    crs = _metric(villages_gdf, "villages")
    sites = _to(sites_gdf, crs)
    if len(sites):
        _metric(sites, "sites")
    settlements = _to(settlements_gdf, crs)
    id_column = "site_id" if "site_id" in sites.columns else "candidate_id"
    if id_column not in sites.columns:
        raise MissingColumnError("sites need a 'site_id' or 'candidate_id'", column="site_id")
    if "households_gained" not in sites.columns:
        raise MissingColumnError("sites need 'households_gained'", column="households_gained")

    villages = villages_gdf[_unpowered(villages_gdf)]
    site_ids = np.asarray([str(s) for s in sites[id_column]], dtype=object)
    gained = np.nan_to_num(_numbers(sites, "households_gained"))
    if "distance_to_grid_m" in sites.columns:
        now = _numbers(sites, "distance_to_grid_m")
    else:
        now = distance_to_lines(sites, grid_gdf) if len(sites) else np.empty(0)
    now_far = np.where(np.isnan(now), np.inf, now)
    cost_now = _costs(cost_fn, now) if cost_fn is not None and len(sites) else None
    sxy = np.column_stack([np.asarray(sites.geometry.x), np.asarray(sites.geometry.y)])

    names = {}
    if communes_gdf is not None and "commune_name" in communes_gdf.columns:
        names = dict(
            zip(
                communes_gdf["commune_code"].astype(str),
                communes_gdf["commune_name"].astype(str),
                strict=True,
            )
        )
    records = []
    for _, village in villages.iterrows():
        code = str(village["village_code"])
        points = None
        if settlements is not None and len(settlements):
            mine = settlements[settlements["village_code"].astype(str) == code]
            if len(mine):
                points = mine.geometry
        if points is None:
            points = gpd.GeoSeries([village.geometry], crs=crs).representative_point()
        pxy = np.column_stack([np.asarray(points.x), np.asarray(points.y)])
        grid_distance = float(
            np.nanmin(distance_to_lines(gpd.GeoDataFrame(geometry=points, crs=crs), grid_gdf))
            if grid_gdf is not None and len(grid_gdf)
            else math.nan
        )
        if len(sxy):
            after = np.hypot(sxy[:, None, 0] - pxy[None, :, 0], sxy[:, None, 1] - pxy[None, :, 1])
            after = after.min(axis=1)
        else:
            after = np.empty(0)
        unlocked = after < now_far
        if max_connection_m is not None:
            unlocked &= after <= max_connection_m
        saving = math.nan
        if cost_fn is not None and cost_now is not None:
            cost_after = np.full(after.size, np.nan)
            cost_after[unlocked] = _costs(cost_fn, after[unlocked])
            delta = cost_now - cost_after
            unlocked &= ~(delta <= 0)  # keep NaN savings (cost unknown now) as unlocked
            saving = float(np.nansum(delta[unlocked]))
        elif cost_fn is not None:
            saving = 0.0
        idx = np.flatnonzero(unlocked)
        idx = idx[np.lexsort((site_ids[idx], -gained[idx]))]
        households = village.get("households_unpowered", math.nan)
        if pd.isna(households):
            households = village.get("households", math.nan)
        commune_name = village.get("commune_name", None)
        if commune_name is None or pd.isna(commune_name):
            commune_name = names.get(str(village.get("commune_code", "")), pd.NA)
        records.append(
            {
                "village_code": code,
                "village_name": village.get("village_name", pd.NA),
                "commune_name": commune_name,
                "households_unpowered": float(households) if pd.notna(households) else math.nan,
                "sites_unlocked": [str(s) for s in site_ids[idx]],
                "households_unlocked": float(gained[idx].sum()),
                "grid_distance_m": grid_distance,
                "saving_vnd": saving,
            }
        )
    table = pd.DataFrame.from_records(records, columns=list(ELECTRIFICATION_COLUMNS[1:]))
    if len(table):
        table = table.sort_values(
            ["households_unlocked", "households_unpowered", "grid_distance_m", "village_code"],
            ascending=[False, False, True, True],
            na_position="last",
            kind="stable",
        ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    logger.info(
        "electrification list: %d unpowered villages, %d unlock at least one site",
        len(table),
        int((table["sites_unlocked"].str.len() > 0).sum()) if len(table) else 0,
    )
    return table
