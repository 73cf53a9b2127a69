"""Grid electricity: power status per village and the medium-voltage grid.

``electricity/village_power.csv`` says, per village, whether it is connected to
the national grid; ``electricity/grid.geojson`` (optional) draws the
medium-voltage lines.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from covgap.data.join import StatusTable
from covgap.data.readers import LINE_TYPES, parse_number, parse_yes_no, read_table, read_vector
from covgap.errors import MissingColumnError

__all__ = ["ID_COLUMNS", "check_id_columns", "read_grid", "read_power"]

log = logging.getLogger(__name__)

ID_COLUMNS = ("village_code", "village_name", "commune_code", "commune_name")


def check_id_columns(raw: pd.DataFrame, path: str | Path) -> None:
    """Check that a status table can name its villages.

    It needs ``village_code``, or ``village_name`` with ``commune_name`` or
    ``commune_code``.

    Raises
    ------
    MissingColumnError
        If neither way of naming a village is available.
    """
    columns = set(raw.columns)
    if "village_code" in columns:
        return
    if "village_name" in columns and ({"commune_name", "commune_code"} & columns):
        return
    missing = "village_name" if "village_name" not in columns else "commune_name"
    found = ", ".join(repr(c) for c in raw.columns) or "none"
    raise MissingColumnError(
        "missing column 'village_code' (or 'village_name' with 'commune_name'); "
        f"columns found: {found}",
        path=path,
        column="village_code" if "village_name" not in columns else missing,
    )


def read_power(path: str | Path, *, file: str = "electricity/village_power.csv") -> StatusTable:
    """Read ``electricity/village_power.csv``.

    Parameters
    ----------
    path
        The CSV file: ``village_code`` (or ``village_name`` + ``commune_name``),
        ``grid_power`` (yes/no; blank = unknown), optional
        ``households_unpowered`` (number >= 0) and ``estimated`` (yes/no: the
        status is an estimate, e.g. from ``covgap prepare``, not a report).
    file
        The file's path relative to the dataset, used in reports.

    Returns
    -------
    StatusTable
        Values ``grid_power`` (pandas ``boolean``) and ``households_unpowered``
        (float, NaN if absent or blank); ``power_estimated`` (pandas
        ``boolean``) only when the file has an ``estimated`` column.

    Raises
    ------
    MissingColumnError
        If ``grid_power`` or a way to name villages is missing.
    ValueParseError
        On a cell that is not yes/no or not a number (naming row and column).
    """
    raw = read_table(
        path, required=("grid_power",), optional=(*ID_COLUMNS, "households_unpowered", "estimated")
    )
    check_id_columns(raw, path)
    power: list[Any] = [
        parse_yes_no(value, path=path, row=int(row), column="grid_power")
        for row, value in raw["grid_power"].items()
    ]
    if "households_unpowered" in raw.columns:
        unpowered = [
            parse_number(v, path=path, row=int(r), column="households_unpowered", minimum=0.0)
            for r, v in raw["households_unpowered"].items()
        ]
    else:
        unpowered = [np.nan] * len(raw)
    values = pd.DataFrame(
        {
            "grid_power": pd.array([pd.NA if v is None else v for v in power], dtype="boolean"),
            "households_unpowered": np.asarray(unpowered, dtype=float),
        },
        index=raw.index,
    )
    if "estimated" in raw.columns:
        estimated = [
            parse_yes_no(value, path=path, row=int(row), column="estimated")
            for row, value in raw["estimated"].items()
        ]
        values["power_estimated"] = pd.array([bool(v) for v in estimated], dtype="boolean")
    log.info("%s: %d power rows", path, len(raw))
    return StatusTable(name="power", file=file, raw=raw, values=values)


def read_grid(
    path: str | Path, *, default_crs: Any = None, notes: list[str] | None = None
) -> gpd.GeoDataFrame:
    """Read ``electricity/grid.geojson``: medium-voltage lines.

    Parameters
    ----------
    path
        The GeoJSON file: LineStrings (or MultiLineStrings), optional
        ``voltage_kv`` (number > 0).
    default_crs
        CRS for a file that declares none.
    notes
        List receiving warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``voltage_kv`` (float, NaN if absent) and lines, in the file's CRS.
    """
    path = Path(path)
    gdf = read_vector(
        path, LINE_TYPES, optional=("voltage_kv",), default_crs=default_crs, notes=notes
    )
    if "voltage_kv" in gdf.columns:
        voltage = [
            parse_number(v, path=path, row=int(r), column="voltage_kv", minimum=0.0)
            for r, v in gdf["voltage_kv"].items()
        ]
    else:
        voltage = [np.nan] * len(gdf)
    out = gpd.GeoDataFrame(
        {"voltage_kv": np.asarray(voltage, dtype=float)},
        geometry=list(gdf.geometry),
        crs=gdf.crs,
    )
    log.info("%s: %d grid lines", path, len(out))
    return out
