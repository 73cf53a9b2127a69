"""Communes, villages and settlements: the places the analysis is about.

``boundaries/communes.geojson`` and ``boundaries/villages.geojson`` hold
polygons; ``boundaries/settlements.geojson`` (optional) holds the points where
households actually live.  A village without settlements is represented by one
point inside its polygon carrying all its households.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from covgap.data.readers import (
    POINT_TYPES,
    POLYGON_TYPES,
    REQUIRED_BLANK,
    parse_code,
    parse_number,
    read_vector,
)
from covgap.data.text import nfc
from covgap.errors import DatasetError

__all__ = [
    "load_communes",
    "load_settlements",
    "load_villages",
    "representative_settlements",
]

log = logging.getLogger(__name__)


def _text(value: Any, *, path: Path, row: int, column: str, required: bool = True) -> str:
    """Return a property as NFC text; a blank required value is an error."""
    text = nfc(parse_code(value))
    if required and not text:
        raise DatasetError(REQUIRED_BLANK, path=path, row=row, column=column)
    return text


def _numbers(gdf: gpd.GeoDataFrame, column: str, path: Path) -> np.ndarray:
    """Parse an optional numeric property (NaN when absent or blank, must be >= 0)."""
    if column not in gdf.columns:
        return np.full(len(gdf), np.nan)
    return np.array(
        [
            parse_number(value, path=path, row=int(row), column=column, minimum=0.0)
            for row, value in gdf[column].items()
        ],
        dtype=float,
    )


def _unique_codes(gdf: gpd.GeoDataFrame, column: str, path: Path) -> list[str]:
    """Read a code column; a blank or repeated code is an error naming both features."""
    codes: list[str] = []
    first: dict[str, int] = {}
    for row, value in gdf[column].items():
        code = _text(value, path=path, row=int(row), column=column)
        if code in first:
            raise DatasetError(
                f"duplicate {column} {code!r} (also in feature {first[code]})",
                path=path,
                row=int(row),
                column=column,
            )
        first[code] = int(row)
        codes.append(code)
    return codes


def load_communes(
    path: str | Path, *, default_crs: Any = None, notes: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Load ``boundaries/communes.geojson``.

    Parameters
    ----------
    path
        The GeoJSON file: polygons with ``commune_code`` and ``commune_name``,
        optionally ``population``.
    default_crs
        CRS for a file that declares none.
    notes
        List receiving warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``commune_code`` (str), ``commune_name`` (NFC), ``population`` (float,
        NaN if absent), geometry, in the file's CRS.

    Raises
    ------
    DatasetError
        On a missing property, blank or duplicate code, bad number or geometry.
    """
    path = Path(path)
    gdf = read_vector(
        path,
        POLYGON_TYPES,
        required=("commune_code", "commune_name"),
        optional=("population",),
        default_crs=default_crs,
        notes=notes,
    )
    codes = _unique_codes(gdf, "commune_code", path)
    names = [
        _text(v, path=path, row=int(r), column="commune_name")
        for r, v in gdf["commune_name"].items()
    ]
    out = gpd.GeoDataFrame(
        {
            "commune_code": codes,
            "commune_name": names,
            "population": _numbers(gdf, "population", path),
        },
        geometry=list(gdf.geometry),
        crs=gdf.crs,
    )
    log.info("%s: %d communes", path, len(out))
    return out


def load_villages(
    path: str | Path,
    communes: gpd.GeoDataFrame,
    *,
    default_crs: Any = None,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Load ``boundaries/villages.geojson``.

    Parameters
    ----------
    path
        The GeoJSON file: polygons with ``village_code`` (unique),
        ``village_name``, ``commune_code``, optionally ``population`` and
        ``households``.
    communes
        The loaded communes; every village's ``commune_code`` must be among them.
    default_crs
        CRS for a file that declares none.
    notes
        List receiving warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``village_code``, ``village_name`` (NFC), ``commune_code``,
        ``population``, ``households`` (float, NaN if absent), geometry.

    Raises
    ------
    DatasetError
        On a duplicate code (naming both features), an unknown commune, a bad
        number or geometry.
    """
    path = Path(path)
    gdf = read_vector(
        path,
        POLYGON_TYPES,
        required=("village_code", "village_name", "commune_code"),
        optional=("population", "households"),
        default_crs=default_crs,
        notes=notes,
    )
    codes = _unique_codes(gdf, "village_code", path)
    known = set(communes["commune_code"])
    commune_codes = []
    for row, value in gdf["commune_code"].items():
        code = _text(value, path=path, row=int(row), column="commune_code")
        if code not in known:
            listed = ", ".join(sorted(known)[:12])
            raise DatasetError(
                f"unknown commune_code {code!r} (communes.geojson has: {listed})",
                path=path,
                row=int(row),
                column="commune_code",
            )
        commune_codes.append(code)
    out = gpd.GeoDataFrame(
        {
            "village_code": codes,
            "village_name": [
                _text(v, path=path, row=int(r), column="village_name")
                for r, v in gdf["village_name"].items()
            ],
            "commune_code": commune_codes,
            "population": _numbers(gdf, "population", path),
            "households": _numbers(gdf, "households", path),
        },
        geometry=list(gdf.geometry),
        crs=gdf.crs,
    )
    log.info("%s: %d villages", path, len(out))
    return out


def load_settlements(
    path: str | Path,
    villages: gpd.GeoDataFrame,
    *,
    default_crs: Any = None,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Load ``boundaries/settlements.geojson``.

    Parameters
    ----------
    path
        The GeoJSON file: points with ``village_code`` and ``households``
        (a number >= 0), optionally ``population``.
    villages
        The loaded villages; every ``village_code`` must be among them.
    default_crs
        CRS for a file that declares none.
    notes
        List receiving warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``village_code``, ``households``, ``population`` (NaN if absent), points.

    Raises
    ------
    DatasetError
        On an unknown village, a bad number or geometry.
    """
    path = Path(path)
    gdf = read_vector(
        path,
        POINT_TYPES,
        required=("village_code", "households"),
        optional=("population",),
        default_crs=default_crs,
        notes=notes,
    )
    known = set(villages["village_code"])
    codes = []
    for row, value in gdf["village_code"].items():
        code = _text(value, path=path, row=int(row), column="village_code")
        if code not in known:
            raise DatasetError(
                f"unknown village_code {code!r} (not in villages.geojson)",
                path=path,
                row=int(row),
                column="village_code",
            )
        codes.append(code)
    households = np.array(
        [
            parse_number(v, path=path, row=int(r), column="households", minimum=0.0, blank=None)
            for r, v in gdf["households"].items()
        ],
        dtype=float,
    )
    out = gpd.GeoDataFrame(
        {
            "village_code": codes,
            "households": households,
            "population": _numbers(gdf, "population", path),
        },
        geometry=list(gdf.geometry),
        crs=gdf.crs,
    )
    without = sorted(known - set(codes))
    if without and notes is not None:
        notes.append(
            f"{path}: {len(without)} villages have no settlement point and are represented "
            f"by a point inside their polygon: {', '.join(without[:10])}"
            + (" ..." if len(without) > 10 else "")
        )
    if without:
        extra = representative_settlements(villages[villages["village_code"].isin(without)])
        out = gpd.GeoDataFrame(
            [*out.to_dict("records"), *extra.to_dict("records")],
            geometry="geometry",
            crs=out.crs,
        )
    log.info("%s: %d settlements", path, len(out))
    return out


def representative_settlements(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return one point per village, inside its polygon, carrying its households.

    Parameters
    ----------
    villages
        Villages with ``village_code``, ``households``, ``population`` and polygons.

    Returns
    -------
    geopandas.GeoDataFrame
        ``village_code``, ``households``, ``population`` and a point guaranteed
        to lie inside the village (:meth:`representative_point`).
    """
    return gpd.GeoDataFrame(
        {
            "village_code": list(villages["village_code"]),
            "households": villages["households"].to_numpy(dtype=float),
            "population": villages["population"].to_numpy(dtype=float),
        },
        geometry=list(villages.geometry.representative_point()),
        crs=villages.crs,
    )
