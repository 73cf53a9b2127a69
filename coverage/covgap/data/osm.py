"""Places, power lines and buildings from an OpenStreetMap extract (``.osm.pbf`` or ``.osm``).

Read with GDAL's OSM driver through pyogrio: no network, no Overpass.  The
driver exposes layers ``points`` (tagged nodes), ``lines`` (ways) and
``multipolygons`` (closed ways and multipolygon relations); tags without a
column of their own arrive in ``other_tags`` as ``"key"=>"value",...``, which
:func:`parse_other_tags` reads.  Data © OpenStreetMap contributors, ODbL 1.0.

- Villages: nodes and areas tagged ``place=village|hamlet|isolated_dwelling|locality``
  (areas as their representative point); the name is ``name:vi``, else ``name``.
- Grid: ways tagged ``power=line|minor_line`` with their ``voltage`` (volts,
  several values separated by ``;``: the highest is kept, in kV).
- Buildings: areas tagged ``building=*``, as their centroids.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from covgap.errors import DatasetError

__all__ = [
    "PLACE_VALUES",
    "POWER_VALUES",
    "parse_other_tags",
    "read_buildings",
    "read_places",
    "read_power_lines",
]

log = logging.getLogger(__name__)

PLACE_VALUES = ("village", "hamlet", "isolated_dwelling", "locality")
"""OSM ``place`` values read as villages (Vietnamese thôn, bản, xóm, tổ dân phố)."""
POWER_VALUES = ("line", "minor_line")
"""OSM ``power`` values read as grid lines."""
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def parse_other_tags(text: Any) -> dict[str, str]:
    """Parse GDAL's ``other_tags`` (``"k"=>"v","k2"=>"v2"``) into a dict.

    >>> parse_other_tags('"name:vi"=>"Bản Á","voltage"=>"35000"')
    {'name:vi': 'Bản Á', 'voltage': '35000'}
    """
    if not isinstance(text, str) or not text:
        return {}
    return {
        k.replace('\\"', '"').replace("\\\\", "\\"): v.replace('\\"', '"').replace("\\\\", "\\")
        for k, v in _TAG.findall(text)
    }


def _read(
    path: Path, layer: str, where: str, bbox: tuple[float, float, float, float] | None
) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise DatasetError("file not found", path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(path, layer=layer, where=where, bbox=bbox)
    except Exception as exc:  # pyogrio raises several types
        raise DatasetError(
            f"cannot read the OpenStreetMap extract ({exc}); expected an .osm.pbf or .osm file",
            path=path,
        ) from None
    if frame.crs is None:
        frame = frame.set_crs(4326)
    return frame


def _name(row_name: Any, tags: dict[str, str]) -> str:
    for value in (tags.get("name:vi"), row_name, tags.get("name")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def read_places(
    path: str | Path, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame:
    """Read the village and hamlet places of an OSM extract.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` file.
    bbox
        Longitude/latitude box to read (west, south, east, north).

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_id`` (``node/1``, ``area/5``), ``name`` (``name:vi``, else
        ``name``; ``""`` when unnamed), ``place``, points in EPSG:4326, sorted
        by ``osm_id``.
    """
    path = Path(path)
    values = ", ".join(f"'{v}'" for v in PLACE_VALUES)
    records: list[dict[str, Any]] = []
    points = _read(path, "points", f"place IN ({values})", bbox)
    for row in points.itertuples():
        tags = parse_other_tags(getattr(row, "other_tags", None))
        records.append(
            {
                "osm_id": f"node/{row.osm_id}",
                "name": _name(row.name, tags),
                "place": row.place,
                "geometry": row.geometry,
            }
        )
    areas = _read(path, "multipolygons", f"place IN ({values})", bbox)
    for row in areas.itertuples():
        tags = parse_other_tags(getattr(row, "other_tags", None))
        ident = f"way/{row.osm_way_id}" if row.osm_way_id else f"relation/{row.osm_id}"
        records.append(
            {
                "osm_id": ident,
                "name": _name(row.name, tags),
                "place": row.place,
                "geometry": row.geometry.representative_point(),
            }
        )
    frame = pd.DataFrame(records, columns=["osm_id", "name", "place", "geometry"])
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
    key = out["osm_id"].str.split("/").map(lambda p: (p[0], int(p[1])))
    out = out.iloc[np.argsort(key.to_numpy(), kind="stable")] if len(out) else out
    log.info("%s: %d place points", path, len(out))
    return out.reset_index(drop=True)


def _voltage_kv(text: str | None) -> float:
    if not text:
        return float("nan")
    values = []
    for part in re.split(r"[;,]", text):
        try:
            values.append(float(part.strip()) / 1000.0)
        except ValueError:
            continue
    return max(values) if values else float("nan")


def read_power_lines(
    path: str | Path, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoDataFrame:
    """Read ``power=line|minor_line`` ways.

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_id``, ``power``, ``voltage_kv`` (NaN when untagged), lines in EPSG:4326.
    """
    path = Path(path)
    lines = _read(path, "lines", "other_tags LIKE '%\"power\"=>%'", bbox)
    records = []
    for row in lines.itertuples():
        tags = parse_other_tags(row.other_tags)
        if tags.get("power") not in POWER_VALUES:
            continue
        records.append(
            {
                "osm_id": f"way/{row.osm_id}",
                "power": tags["power"],
                "voltage_kv": _voltage_kv(tags.get("voltage")),
                "geometry": row.geometry,
            }
        )
    frame = pd.DataFrame(records, columns=["osm_id", "power", "voltage_kv", "geometry"])
    out = gpd.GeoDataFrame(frame, geometry="geometry", crs=4326)
    log.info("%s: %d power lines", path, len(out))
    return out.reset_index(drop=True)


def read_buildings(
    path: str | Path, bbox: tuple[float, float, float, float] | None = None
) -> gpd.GeoSeries:
    """Read the centroids of ``building=*`` areas (EPSG:4326)."""
    path = Path(path)
    areas = _read(path, "multipolygons", "building IS NOT NULL", bbox)
    log.info("%s: %d buildings", path, len(areas))
    return gpd.GeoSeries(shapely.centroid(areas.geometry.to_numpy()), crs=4326)
