"""Match status rows (power, survey) to villages.

A row is matched by ``village_code`` when it has one.  Otherwise it is matched
by village name within its commune: the commune by ``commune_code`` or by
commune name, and both names compared with :func:`covgap.data.text.name_key`
(accent-, case- and Unicode-form-insensitive, administrative prefixes such as
"Bản" or "Xã" ignored).

Nothing is dropped silently: a row that matches no village, matches several,
or repeats a village already given by an earlier row is returned in
``unmatched`` with the reason; villages that no row names are returned in
``missing``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from covgap.data.text import name_key

__all__ = ["JoinResult", "StatusTable", "join_status"]

log = logging.getLogger(__name__)


@dataclass
class StatusTable:
    """A status CSV as read: identifying cells and parsed values, per data row.

    Attributes
    ----------
    name
        Table name used in reports, e.g. ``"power"`` or ``"survey"``.
    file
        Path relative to the dataset folder, e.g. ``"electricity/village_power.csv"``.
    raw
        The cells as strings (index: 1-based data-row number); identifying
        columns among ``village_code``, ``village_name``, ``commune_code``,
        ``commune_name``.
    values
        Parsed value columns, same index as ``raw``.
    """

    name: str
    file: str
    raw: pd.DataFrame
    values: pd.DataFrame


@dataclass
class JoinResult:
    """Outcome of :func:`join_status`.

    Attributes
    ----------
    matched
        One row per matched status row, in file order: ``village_code``, the
        value columns, and ``row`` (the data-row number).
    unmatched
        ``{"file", "row", "reason", "values"}`` for each row not used.
    missing
        Codes of villages that no row matched, in village order.
    """

    matched: pd.DataFrame
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _cell(raw: pd.DataFrame, row: Any, column: str) -> str:
    if column not in raw.columns:
        return ""
    value = raw.at[row, column]
    return "" if value is None or value is pd.NA else str(value).strip()


def join_status(
    table: StatusTable, villages: gpd.GeoDataFrame, communes: gpd.GeoDataFrame
) -> JoinResult:
    """Match each row of ``table`` to one village.

    Parameters
    ----------
    table
        The status table.
    villages
        Villages with ``village_code``, ``village_name``, ``commune_code``.
    communes
        Communes with ``commune_code``, ``commune_name``.

    Returns
    -------
    JoinResult
        Matched rows, unmatched rows with reasons, villages without a row.
    """
    village_codes = set(villages["village_code"])
    commune_codes = set(communes["commune_code"])
    commune_by_key: dict[str, list[str]] = defaultdict(list)
    for code, name in zip(communes["commune_code"], communes["commune_name"], strict=True):
        commune_by_key[name_key(name)].append(code)
    village_by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, name, commune in zip(
        villages["village_code"], villages["village_name"], villages["commune_code"], strict=True
    ):
        village_by_key[(commune, name_key(name))].append(code)

    value_columns = list(table.values.columns)
    matched_rows: list[dict[str, Any]] = []
    unmatched: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}

    def reject(row: int, reason: str) -> None:
        values = {str(c): _cell(table.raw, row, c) for c in table.raw.columns}
        unmatched.append({"file": table.file, "row": row, "reason": reason, "values": values})
        log.info("%s: row %d: %s", table.file, row, reason)

    for row in table.raw.index:
        row = int(row)
        code = _cell(table.raw, row, "village_code")
        if code:
            if code not in village_codes:
                reject(row, f"unknown village_code {code!r}")
                continue
            village = code
        else:
            name = _cell(table.raw, row, "village_name")
            if not name:
                reject(row, "no village_code and no village_name")
                continue
            commune_code = _cell(table.raw, row, "commune_code")
            commune_name = _cell(table.raw, row, "commune_name")
            if commune_code:
                if commune_code not in commune_codes:
                    reject(row, f"unknown commune_code {commune_code!r}")
                    continue
                commune = commune_code
                commune_label = commune_code
            elif commune_name:
                candidates = commune_by_key.get(name_key(commune_name), [])
                if not candidates:
                    reject(row, f"unknown commune {commune_name!r}")
                    continue
                if len(candidates) > 1:
                    reject(
                        row,
                        f"commune name {commune_name!r} is ambiguous "
                        f"(communes {', '.join(sorted(candidates))}); use commune_code",
                    )
                    continue
                commune = candidates[0]
                commune_label = commune_name
            else:
                reject(row, "no village_code and no commune to look the village name up in")
                continue
            found = village_by_key.get((commune, name_key(name)), [])
            if not found:
                reject(row, f"no village named {name!r} in commune {commune_label!r}")
                continue
            if len(found) > 1:
                reject(
                    row,
                    f"village name {name!r} is ambiguous in commune {commune_label!r} "
                    f"(villages {', '.join(sorted(found))}); use village_code",
                )
                continue
            village = found[0]
        if village in first_row:
            earlier = first_row[village]
            reject(
                row,
                f"duplicate status for village {village!r} (first given in row {earlier}, "
                "which is kept)",
            )
            continue
        first_row[village] = row
        record: dict[str, Any] = {"village_code": village}
        for column in value_columns:
            record[column] = table.values.at[row, column]
        record["row"] = row
        matched_rows.append(record)

    matched = pd.DataFrame(matched_rows, columns=["village_code", *value_columns, "row"])
    for column in value_columns:
        matched[column] = matched[column].astype(table.values[column].dtype)
    matched["village_code"] = matched["village_code"].astype(object)
    matched["row"] = matched["row"].astype("int64")
    missing = [code for code in villages["village_code"] if code not in first_row]
    return JoinResult(matched=matched, unmatched=unmatched, missing=missing)
