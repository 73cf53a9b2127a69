"""Signal measurements (drive tests, crowd data): ``lon, lat, rsrp_dbm[, operator, radio]``.

:func:`read_measurements` reads the CSV and sorts its rows into usable
measurements and *bad rows*.  A bad row is never dropped silently: each one
is listed with its file, row, column and reason, and the caller reports them
(``covgap calibrate`` prints them; ``covgap run`` puts them in
``summary.json``).  A row is bad when a value cannot be read, the RSRP lies
outside :data:`RSRP_RANGE_DBM`, or the operator is not one of the dataset's.
Points outside the DEM are checked later, by the model that needs the DEM
(:mod:`covgap.radio.calibration`), and reported the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from covgap.data.readers import parse_number, read_table
from covgap.data.towers import RADIOS, _normal_operator
from covgap.errors import DatasetError

__all__ = ["MEASUREMENT_COLUMNS", "RSRP_RANGE_DBM", "Measurements", "read_measurements"]

log = logging.getLogger(__name__)

#: Plausible RSRP, dBm: below -150 no handset decodes a cell, above -20 the phone sits on the mast.
RSRP_RANGE_DBM = (-150.0, -20.0)
#: Columns of a measurements file (the last two optional).
MEASUREMENT_COLUMNS = ("lon", "lat", "rsrp_dbm", "operator", "radio")


@dataclass
class Measurements:
    """Usable measurements and the rows that were set aside.

    Attributes
    ----------
    points
        ``row`` (1-based data row), ``lon``, ``lat``, ``rsrp_dbm``,
        ``operator`` (``""`` when not given) and ``radio`` (``""``).
    bad_rows
        ``{"file", "row", "column", "reason"}`` for every row not used.
    path
        The file read.
    label
        How the file is named in bad rows.
    """

    points: pd.DataFrame
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None
    label: str = "measurements"

    def problems(self) -> list[str]:
        """Return every bad row as ``file: row N, column 'x': reason``."""
        return [
            f"{b['file']}: row {b['row']}, column {b['column']!r}: {b['reason']}"
            for b in self.bad_rows
        ]


def read_measurements(
    path: str | Path, *, operators: list[str] | None = None, name: str | None = None
) -> Measurements:
    """Read a measurements CSV (UTF-8/UTF-16/Windows-1258; comma, semicolon or tab).

    Parameters
    ----------
    path
        The CSV file: ``lon``, ``lat`` (WGS 84 degrees), ``rsrp_dbm``,
        optional ``operator`` (as in ``sites.csv``; blank: any operator's
        best server) and ``radio`` (GSM, UMTS, LTE or NR; kept for reports).
    operators
        The dataset's operators; a row naming another one is a bad row.
    name
        How the file is named in bad rows (default: the path).

    Returns
    -------
    Measurements

    Raises
    ------
    DatasetError
        When the file is missing, empty or lacks ``lon``, ``lat`` or
        ``rsrp_dbm``, or no row at all is usable.
    """
    path = Path(path)
    label = name or str(path)
    raw = read_table(path, required=("lon", "lat", "rsrp_dbm"), optional=("operator", "radio"))
    known = None if operators is None else set(operators)
    rows: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []

    def reject(row: int, column: str, reason: str) -> None:
        bad.append({"file": label, "row": row, "column": column, "reason": reason})

    for r in raw.index:
        row = int(r)
        values: dict[str, float] = {}
        failed = False
        for column in ("lon", "lat", "rsrp_dbm"):
            try:
                values[column] = parse_number(
                    raw.at[r, column], path=path, row=row, column=column, blank=None
                )
            except DatasetError as exc:
                reject(row, column, exc.message)
                failed = True
                break
        if failed:
            continue
        lon, lat, rsrp = values["lon"], values["lat"], values["rsrp_dbm"]
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            reject(row, "lon", f"position ({lon:g}, {lat:g}) is not longitude/latitude")
            continue
        low, high = RSRP_RANGE_DBM
        if not low <= rsrp <= high:
            reject(row, "rsrp_dbm", f"{rsrp:g} dBm is outside {low:g}..{high:g} dBm")
            continue
        operator = ""
        if "operator" in raw.columns and str(raw.at[r, "operator"]).strip():
            operator = _normal_operator(str(raw.at[r, "operator"]).strip())
            if known is not None and operator not in known:
                reject(
                    row,
                    "operator",
                    f"unknown operator {operator!r}; the dataset's sites belong to "
                    f"{', '.join(sorted(known)) or 'no operator'}",
                )
                continue
        radio = str(raw.at[r, "radio"]).strip().upper() if "radio" in raw.columns else ""
        if radio and radio not in RADIOS:
            reject(row, "radio", f"expected GSM, UMTS, LTE or NR, got {radio!r}")
            continue
        rows.append(
            {
                "row": row,
                "lon": lon,
                "lat": lat,
                "rsrp_dbm": rsrp,
                "operator": operator,
                "radio": radio,
            }
        )
    points = pd.DataFrame(rows, columns=["row", "lon", "lat", "rsrp_dbm", "operator", "radio"])
    if points.empty:
        first = f"; first problem: row {bad[0]['row']}: {bad[0]['reason']}" if bad else ""
        raise DatasetError(f"no usable measurement ({len(bad)} bad rows){first}", path=path)
    if bad:
        log.info("%s: %d of %d rows set aside", label, len(bad), len(raw))
    points["rsrp_dbm"] = points["rsrp_dbm"].astype(float)
    return Measurements(points=points.reset_index(drop=True), bad_rows=bad, path=path, label=label)
