"""Priority lists for operators and the power utility: XLSX, CSV, GeoJSON, GPKG, KML.

:func:`write_priorities` writes the ranked site plan (and, in the workbook,
the uncovered villages, the electrification list and the cost assumptions)
into a run's output folder.  Every file is written atomically (temporary file,
then :func:`os.replace`) and, for the same inputs, byte for byte the same:

- ``priorities.xlsx``: the workbook's core properties carry a fixed date and
  the zip entries a fixed timestamp;
- ``priorities.csv`` and ``priorities.geojson``: :mod:`covgap.files`;
- ``priorities.gpkg``: GDAL's ``OGR_CURRENT_DATE`` pins the ``last_change``
  timestamp of ``gpkg_contents``; nothing else in the SQLite file varies;
- ``priorities.kml``: written here with :mod:`xml.etree.ElementTree`.

Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-`` or ``@``) are defused: in the CSV by a leading apostrophe
(:func:`covgap.files.csv_text`), in the workbook by storing them as
text cells (``data_type 's'``, quote prefix) with the text unchanged.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import os
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter
from pyproj import CRS

from covgap.errors import CRSError, MissingColumnError
from covgap.files import atomic_write_bytes, atomic_write_text, write_csv, write_geojson

__all__ = [
    "FIXED_TIMESTAMP",
    "KML_NS",
    "LIST_SEPARATOR",
    "PLAN_COLUMNS",
    "SHEET_NAMES",
    "kml_text",
    "rounded_for_operators",
    "write_priorities",
    "xlsx_bytes",
]

logger = logging.getLogger(__name__)

#: Columns of the plan, in this order (others follow, as given).
PLAN_COLUMNS: tuple[str, ...] = (
    "rank",
    "site_id",
    "lon",
    "lat",
    "commune",
    "villages_gained",
    "village_names",
    "households_gained",
    "population_gained",
    "cumulative_households",
    "power",
    "power_cost_vnd",
    "backhaul",
    "backhaul_cost_vnd",
    "cost_vnd",
    "cost_usd",
)
#: Workbook sheet names, in order.
SHEET_NAMES: tuple[str, ...] = ("plan", "uncovered villages", "electrification", "assumptions")
#: Separator of list cells (village codes, names) in tabular files.
LIST_SEPARATOR = "; "
#: KML 2.2 namespace.
KML_NS = "http://www.opengis.net/kml/2.2"
#: Date written as the workbook's creation/modification date and GPKG change date.
FIXED_TIMESTAMP = dt.datetime(2000, 1, 1, 0, 0, 0)

_WGS84 = CRS.from_epsg(4326)
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_VND_FORMAT = "#,##0"
_COORD_FORMAT = "0.000000"


# -- values --------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _scalar(value: Any) -> Any:
    """Numpy scalars to Python; sequences joined with :data:`LIST_SEPARATOR`."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(str(_scalar(v)) for v in value if not _is_missing(v))
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _flat_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    """Drop geometry columns and join list cells, keeping other values as they are."""
    if df is None:
        return pd.DataFrame()
    keep = [c for c in df.columns if not isinstance(df[c].dtype, gpd.array.GeometryDtype)]
    out = pd.DataFrame(index=range(len(df)))
    for column in keep:
        series = df[column]
        if series.dtype == object:
            out[str(column)] = [_scalar(v) for v in series.tolist()]
        else:
            out[str(column)] = series.to_numpy()
    return out


def rounded_for_operators(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """Round money to whole VND (and USD) and distances and heights to whole metres.

    Operators and the utility read these lists; ``932698431.6113237`` VND or
    ``161.8554081305542`` m claim a precision that no cost or distance here
    has.  Columns ending in ``_vnd``, ``_usd`` or ``_m`` become whole numbers
    (missing values stay missing); other columns are left as they are.
    """
    if frame is None:
        return None
    out = frame.copy()
    for column in out.columns:
        if not str(column).endswith(("_vnd", "_usd", "_m")):
            continue
        series = out[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        out[column] = series.round(0).astype("Int64")
    return out


def _ordered_plan(plan_df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Plan sorted by rank, with lon/lat (WGS84) and the standard column order."""
    for column in ("rank", "site_id"):
        if column not in plan_df.columns:
            raise MissingColumnError(f"plan: required column {column!r} is missing", column=column)
    if not isinstance(plan_df, gpd.GeoDataFrame) or plan_df.geometry.name not in plan_df:
        raise MissingColumnError("plan: expected a GeoDataFrame with point geometries")
    if plan_df.crs is None:
        raise CRSError("plan: the site points have no CRS")
    plan = plan_df.sort_values("rank", kind="mergesort").reset_index(drop=True)
    wgs = plan.geometry.to_crs(_WGS84)
    if "lon" not in plan.columns:
        plan["lon"] = np.round(wgs.x.to_numpy(), 6)
    if "lat" not in plan.columns:
        plan["lat"] = np.round(wgs.y.to_numpy(), 6)
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        logger.debug("plan: columns not given: %s", ", ".join(missing))
    geom = plan.geometry.name
    columns = [c for c in PLAN_COLUMNS if c in plan.columns]
    columns += [c for c in plan.columns if c not in columns and c != geom]
    ordered = rounded_for_operators(plan[[*columns, geom]])
    return gpd.GeoDataFrame(ordered, geometry=geom, crs=plan.crs)


# -- XLSX ----------------------------------------------------------------------
def _number_format(column: str, row: Mapping[str, Any]) -> str | None:
    if column.endswith(("_vnd", "_usd")):
        return _VND_FORMAT
    if column in ("lon", "lat"):
        return _COORD_FORMAT
    if column == "value" and "vnd" in str(row.get("key", "")):
        return _VND_FORMAT
    return None


def _fill_sheet(ws: Any, frame: pd.DataFrame) -> None:
    columns = [str(c) for c in frame.columns]
    bold = Font(bold=True)
    widths = [len(c) for c in columns]
    for j, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=column)
        cell.data_type = "s"
        cell.font = bold
    records = frame.to_dict(orient="records")
    for i, record in enumerate(records, start=2):
        for j, column in enumerate(columns, start=1):
            value = _scalar(record[column])
            if _is_missing(value):
                continue
            cell = ws.cell(row=i, column=j)
            if isinstance(value, bool):
                cell.value = value
                shown = str(value).upper()
            elif isinstance(value, (int, float)):
                if not math.isfinite(value):
                    continue
                cell.value = value
                fmt = _number_format(column, record)
                if fmt is not None:
                    cell.number_format = fmt
                shown = f"{value:,.0f}" if fmt == _VND_FORMAT else str(value)
            else:
                text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
                cell.value = text
                # never a formula, whatever the text starts with
                cell.data_type = "s"
                if text.startswith(_FORMULA_START):
                    cell.quotePrefix = True
                shown = text
            widths[j - 1] = max(widths[j - 1], len(shown))
    for j, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = "A2"
    if columns and records:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(records) + 1}"


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and attributes, entries in the same order."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.create_system = 0
            entry.external_attr = 0
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame], *, title: str = "") -> bytes:
    """Render data frames as a deterministic XLSX workbook, one sheet each.

    Header rows are bold and frozen, column widths follow the content, numbers
    stay numbers (money columns ``*_vnd``/``*_usd`` with a thousands
    separator) and every text cell is stored as text, never as a formula.

    Parameters
    ----------
    sheets
        Sheet name -> frame (geometry columns are dropped, lists joined).
    title
        Workbook title property.

    Returns
    -------
    bytes
        The ``.xlsx`` file content.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for sheet_name, frame in sheets.items():
        ws = wb.create_sheet(title=sheet_name)
        _fill_sheet(ws, _flat_frame(frame))
    wb.properties.creator = "covgap"
    wb.properties.lastModifiedBy = "covgap"
    wb.properties.title = title or None
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook would stamp "modified" with now()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    return _stable_zip(buffer.getvalue())


# -- GPKG ----------------------------------------------------------------------
def _write_gpkg(path: Path, gdf: gpd.GeoDataFrame, layer: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".gpkg", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # GDAL creates the file itself
    option = "OGR_CURRENT_DATE"
    previous = pyogrio.get_gdal_config_option(option)
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    try:
        pyogrio.set_gdal_config_options({option: stamp})
        try:
            pyogrio.write_dataframe(gdf, tmp, layer=layer, driver="GPKG")
        finally:
            pyogrio.set_gdal_config_options({option: previous})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    return path


def _gpkg_frame(plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    flat = _flat_frame(plan)
    for column in flat.columns:
        if flat[column].dtype == object:
            flat[column] = flat[column].astype("string")
    return gpd.GeoDataFrame(flat, geometry=plan.geometry.to_crs(_WGS84).to_numpy(), crs=_WGS84)


# -- KML -----------------------------------------------------------------------
def _as_list(value: Any) -> list[str]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [str(_scalar(v)) for v in value if not _is_missing(v)]
    if _is_missing(value) or value == "":
        return []
    return [s.strip() for s in str(value).split(";") if s.strip()]


def _money(value: Any, unit: str) -> str:
    value = _scalar(value)
    if _is_missing(value) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.0f} {unit}"


def _count(value: Any) -> str:
    value = _scalar(value)
    if _is_missing(value) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:,.0f}"


def _placemark_name(row: Mapping[str, Any]) -> str:
    rank = _scalar(row.get("rank"))
    if isinstance(rank, float) and rank.is_integer():
        rank = int(rank)
    return f"#{rank} {_scalar(row.get('site_id'))}"


def _description(row: Mapping[str, Any]) -> str:
    """HTML shown in Google Earth's balloon (escaped by ElementTree, not CDATA)."""
    codes = _as_list(row.get("villages_gained"))
    names = _as_list(row.get("village_names"))
    if names and len(names) == len(codes):
        villages = [f"{n} ({c})" for n, c in zip(names, codes, strict=True)]
    else:
        villages = names or codes
    lines = [
        ("Commune", str(_scalar(row.get("commune", "")) or "-")),
        ("Villages gained", ", ".join(villages) or "-"),
        ("Households gained", _count(row.get("households_gained"))),
        ("Population gained", _count(row.get("population_gained"))),
        ("Cumulative households", _count(row.get("cumulative_households"))),
        (
            "Power",
            f"{_scalar(row.get('power', '-'))}: {_money(row.get('power_cost_vnd'), 'VND')}",
        ),
        (
            "Backhaul",
            f"{_scalar(row.get('backhaul', '-'))}: {_money(row.get('backhaul_cost_vnd'), 'VND')}",
        ),
        (
            "Total cost",
            f"{_money(row.get('cost_vnd'), 'VND')} ({_money(row.get('cost_usd'), 'USD')})",
        ),
    ]
    cells = "".join(f"<tr><th align='left'>{k}</th><td>{_html(v)}</td></tr>" for k, v in lines)
    return f"<b>{_html(_placemark_name(row))}</b><table>{cells}</table>"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def kml_text(plan: gpd.GeoDataFrame, *, name: str = "priorities") -> str:
    """Render ranked sites as KML 2.2 placemarks (UTF-8 text, deterministic).

    Each placemark is named ``"#<rank> <site_id>"`` and carries an HTML
    description (villages gained with codes, households, population, power
    and backhaul options with their costs, total cost) and the plan's columns
    as ``ExtendedData``.

    Parameters
    ----------
    plan
        Ranked sites (points in any CRS; reprojected to WGS84).
    name
        Document name.
    """
    ET.register_namespace("", KML_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{KML_NS}}}{tag}", attrib)
        if text is not None:
            element.text = text
        return element

    root = ET.Element(f"{{{KML_NS}}}kml")
    document = sub(root, "Document")
    sub(document, "name", name)
    plan = _ordered_plan(plan)
    wgs = plan.geometry.to_crs(_WGS84)
    geom = plan.geometry.name
    columns = [c for c in plan.columns if c != geom]
    for row, point in zip(plan.to_dict(orient="records"), wgs, strict=True):
        placemark = sub(document, "Placemark")
        sub(placemark, "name", _placemark_name(row))
        sub(placemark, "description", _description(row))
        extended = sub(placemark, "ExtendedData")
        for column in columns:
            value = _scalar(row[column])
            if _is_missing(value):
                continue
            if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
                value = int(value)
            data = sub(extended, "Data", name=str(column))
            sub(data, "value", str(value))
        if point is not None and not point.is_empty:
            sub(sub(placemark, "Point"), "coordinates", f"{point.x:.6f},{point.y:.6f},0")
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


# -- all -----------------------------------------------------------------------
def write_priorities(
    out_dir: str | Path,
    plan_df: gpd.GeoDataFrame,
    uncovered_df: pd.DataFrame | None,
    electrification_df: pd.DataFrame | None,
    assumptions: Sequence[Mapping[str, Any]],
    *,
    name: str = "priorities",
    extra_sheets: Mapping[str, pd.DataFrame] | None = None,
) -> list[Path]:
    """Write the priority lists into ``out_dir``.

    Parameters
    ----------
    out_dir
        The run's output folder (created if needed).
    plan_df
        Ranked sites: a GeoDataFrame of points with at least ``rank`` and
        ``site_id``, ideally every column of :data:`PLAN_COLUMNS`
        (``villages_gained``/``village_names`` may hold lists).  ``lon`` and
        ``lat`` are computed from the points when absent.
    uncovered_df
        Uncovered villages (geometry columns are dropped in the workbook).
    electrification_df
        The joint electrification list for the power utility.
    assumptions
        Rows ``key, value, unit, source`` (:meth:`covgap.planning.costs.CostSettings.assumptions`).
    name
        Base name of the files.
    extra_sheets
        More workbook sheets after the others, by name (e.g. the "joint
        plan" sheet of :meth:`covgap.planning.joint.JointPlan.sheet`).

    Returns
    -------
    list of Path
        ``<name>.xlsx``, ``.csv``, ``.geojson``, ``.gpkg`` and ``.kml``, in
        that order.

    Raises
    ------
    MissingColumnError
        If the plan lacks ``rank``/``site_id`` or is not a GeoDataFrame.
    CRSError
        If the plan's points have no CRS.
    """
    out = Path(out_dir)
    plan = _ordered_plan(plan_df)
    geom = plan.geometry.name
    columns = [c for c in plan.columns if c != geom]
    assumptions_df = pd.DataFrame([dict(r) for r in assumptions])
    if assumptions_df.empty:
        assumptions_df = pd.DataFrame(columns=["key", "value", "unit", "source"])
    sheets = dict(
        zip(
            SHEET_NAMES,
            [
                plan.drop(columns=geom),
                rounded_for_operators(uncovered_df),
                rounded_for_operators(electrification_df),
                assumptions_df,
            ],
            strict=True,
        )
    )
    sheets.update(extra_sheets or {})
    paths = [
        atomic_write_bytes(out / f"{name}.xlsx", xlsx_bytes(sheets, title=name)),
        write_csv(out / f"{name}.csv", _flat_frame(plan), columns),
        write_geojson(out / f"{name}.geojson", plan, columns=columns, name=name),
        _write_gpkg(out / f"{name}.gpkg", _gpkg_frame(plan), name),
        atomic_write_text(out / f"{name}.kml", kml_text(plan, name=name)),
    ]
    logger.info("priority lists written to %s (%d sites)", out, len(plan))
    return paths
