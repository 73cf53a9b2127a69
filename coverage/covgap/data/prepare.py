"""``covgap prepare``: a dataset folder (docs/dataset.md) from open data, for any set of communes.

Inputs (see ``docs/open-data.md``): commune boundaries from any vector file
in any CRS (VN-2000 included), an OpenStreetMap extract (villages, power
lines, buildings), elevation tiles, an OpenCelliD export and/or a sites
table, a population raster, and optionally the power company's village
status table.  :func:`prepare_dataset` turns them into the folder that
``covgap validate`` accepts and ``covgap run`` analyses, with every input
recorded in ``dataset.toml`` (SHA-256, licence, attribution).

The signal radius is passed in by the caller (the CLI reads it from the
scenario): towers are kept within the communes plus that radius, and the DEM
covers the communes plus twice the radius plus :data:`DEM_MARGIN_M`, so that
every kept tower's radius lies on the DEM.

Village territories are the Voronoi cells of the village points, clipped to
their commune: each place of the commune is assigned to its nearest village
point, the simplest partition that needs nothing but the points.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from covgap.data.crs import analysis_crs, parse_crs, to_metric
from covgap.data.dem_tiles import build_dem
from covgap.data.electricity import read_power
from covgap.data.join import join_status
from covgap.data.opencellid import filter_cells
from covgap.data.osm import PLACE_VALUES, read_buildings, read_places, read_power_lines
from covgap.data.population import COVERAGE_SHARE_MIN, household_size_for, zonal_sums
from covgap.data.provenance import Source, dem_kind, population_kind, source_for
from covgap.data.readers import POLYGON_TYPES, parse_code, read_vector
from covgap.data.territories import (
    VillageCounts,
    read_village_file,
    settlement_points,
    villages_from_points,
    villages_from_polygons,
)
from covgap.data.text import fold, nfc
from covgap.data.towers import read_sites
from covgap.data.worldcover import build_landcover
from covgap.errors import CRSError, DatasetError, MissingColumnError
from covgap.files import atomic_write_text, csv_text, geojson_text

__all__ = [
    "CODE_FIELDS",
    "DEM_MARGIN_M",
    "ESTIMATE_DISTANCE_M",
    "ESTIMATE_MAX_KV",
    "NAME_FIELDS",
    "PrepareReport",
    "prepare_dataset",
    "read_communes",
]

log = logging.getLogger(__name__)

CODE_FIELDS = (
    "commune_code",
    "commune_co",
    "ma_xa",
    "maxa",
    "ma_dvhc",
    "madvhc",
    "commune_id",
    "code",
)
"""Commune code fields recognised (ignoring case), in order of preference."""
NAME_FIELDS = (
    "commune_name",
    "commune_na",
    "ten_xa",
    "tenxa",
    "ten_dvhc",
    "commune_vn",
    "commune",
    "name_vi",
    "name",
    "ten",
)
"""Commune name fields recognised (ignoring case), in order of preference."""
PROVINCE_FIELDS = ("province_vn", "ten_tinh", "tentinh", "province", "tinh")
DEM_MARGIN_M = 2000.0
"""Extra border (m) of the DEM beyond the towers' reach, so that no radius touches its edge."""
ESTIMATE_DISTANCE_M = 1000.0
"""A village is estimated grid-powered when a settlement lies within this distance of a line.

Assumption, not a measurement: rural low-voltage (0.4 kV) feeders leave a
medium-voltage transformer and rarely run further than about 1 km, because
the voltage drop grows with their length; a village farther than that from
any medium-voltage line is unlikely to be on the grid.  OSM's grid in rural
Vietnam is incomplete, so these statuses are flagged ``estimated`` everywhere.
"""
ESTIMATE_MAX_KV = 35.0
"""Lines above this voltage (110, 220, 500 kV transmission) feed no village directly."""


@dataclass
class PrepareReport:
    """What :func:`prepare_dataset` did: counts, warnings and the sources used."""

    out_dir: Path
    communes: int = 0
    villages: int = 0
    villages_from_points: int = 0
    communes_without_points: list[str] = field(default_factory=list)
    place_points_outside: int = 0
    households: float = math.nan
    population: float = math.nan
    household_size: float = math.nan
    household_size_source: str = ""
    cells_kept: int = 0
    cells_other_countries: int = 0
    cells_unreadable: int = 0
    sites_listed: int = 0
    grid_lines: int = 0
    power_status: str = ""
    power_rows_unmatched: int = 0
    dem_resolution_m: float = math.nan
    dem_shape: tuple[int, int] = (0, 0)
    landcover_share: float = math.nan
    sources: list[Source] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        out = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in self.__dict__.items()
            if k not in ("sources", "out_dir")
        }
        out["dem_shape"] = list(self.dem_shape)
        out["sources"] = [s.as_toml() for s in self.sources]
        return out


# ----------------------------------------------------------------------- communes


def _field(
    columns: Sequence[str],
    given: str | None,
    candidates: Sequence[str],
    what: str,
    path: Path,
    flag: str,
) -> str:
    lowered = {c.casefold(): c for c in columns}
    if given:
        if given.casefold() in lowered:
            return lowered[given.casefold()]
        raise MissingColumnError(
            f"no field {given!r} (fields found: {', '.join(repr(c) for c in columns) or 'none'})",
            path=path,
            column=given,
        )
    for name in candidates:
        if name in lowered:
            return lowered[name]
    raise MissingColumnError(
        f"cannot tell which field holds the commune {what} (fields found: "
        f"{', '.join(repr(c) for c in columns) or 'none'}); name it with {flag}",
        path=path,
    )


def read_communes(
    path: str | Path,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    select: str | None = None,
    notes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Read commune boundaries from any vector file in any CRS.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, shapefile (``.shp`` with ``.dbf``/``.shx``/``.prj``)
        or zipped shapefile.
    code_field, name_field
        Fields holding the code and the name; recognised when not given
        (:data:`CODE_FIELDS`, :data:`NAME_FIELDS`, ignoring case).
    select
        Regular expression: keep communes whose name matches, ignoring case
        and accents (``"ta phin|sin chai"``).
    notes
        List receiving warnings.

    Returns
    -------
    geopandas.GeoDataFrame
        ``commune_code``, ``commune_name``, ``province`` (``""`` if unknown),
        polygons in the file's CRS.

    Raises
    ------
    CRSError
        If a non-GeoJSON file declares no CRS.
    MissingColumnError
        If a field does not exist or cannot be recognised (the message lists
        the fields found).
    DatasetError
        If no commune matches ``select``, or codes are blank or duplicated.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in (".geojson", ".json"):
        try:
            info = pyogrio.read_info(path)
        except Exception as exc:  # pyogrio raises several types
            raise DatasetError(f"cannot read the file: {exc}", path=path) from None
        if not info.get("crs"):
            raise CRSError(
                f"{path}: the layer declares no CRS (a shapefile needs its .prj); "
                "add it, or export the layer with its CRS (e.g. VN-2000 / EPSG:3405)"
            )
    gdf = read_vector(path, POLYGON_TYPES, notes=notes)
    columns = [c for c in gdf.columns if c != "geometry"]
    code_col = _field(columns, code_field, CODE_FIELDS, "code", path, "--commune-code-field")
    name_col = _field(columns, name_field, NAME_FIELDS, "name", path, "--commune-name-field")
    lowered = {c.casefold(): c for c in columns}
    province_col = next((lowered[p] for p in PROVINCE_FIELDS if p in lowered), None)
    codes = [parse_code(v) for v in gdf[code_col]]
    names = [nfc(str(v)) if v is not None else "" for v in gdf[name_col]]
    seen: dict[str, int] = {}
    for feature, code in zip(gdf.index, codes, strict=True):
        if not code:
            raise DatasetError("blank commune code", path=path, row=int(feature), column=code_col)
        if code in seen:
            raise DatasetError(
                f"duplicate commune code {code!r} (also feature {seen[code]})",
                path=path,
                row=int(feature),
                column=code_col,
            )
        seen[code] = int(feature)
    out = gpd.GeoDataFrame(
        {
            "commune_code": codes,
            "commune_name": names,
            "province": [nfc(str(v)) if v is not None else "" for v in gdf[province_col]]
            if province_col
            else [""] * len(gdf),
        },
        geometry=list(gdf.geometry),
        crs=gdf.crs,
    )
    if select:
        try:
            pattern = re.compile(fold(select))
        except re.error as exc:
            raise DatasetError(f"--select: not a regular expression: {exc}") from None
        keep = [bool(pattern.search(fold(n))) for n in out["commune_name"]]
        if not any(keep):
            shown = ", ".join(sorted(out["commune_name"])[:15])
            raise DatasetError(
                f"no commune name matches --select {select!r} (names include: {shown})", path=path
            )
        out = out[keep]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------- helpers


def _lonlat_box(geom: shapely.Geometry, crs: CRS, pad_deg: float = 0.01) -> tuple[float, ...]:
    box = gpd.GeoSeries([shapely.box(*geom.bounds)], crs=crs).to_crs(4326).total_bounds
    return (box[0] - pad_deg, box[1] - pad_deg, box[2] + pad_deg, box[3] + pad_deg)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value)) if math.isfinite(value) else '"nan"'
    return json.dumps(str(value), ensure_ascii=False)


def toml_text(values: dict[str, Any]) -> str:
    """Render flat keys, tables and arrays of tables (the subset dataset.toml uses)."""
    lines = []
    tables = []
    for key, value in values.items():
        nested = isinstance(value, list) and bool(value) and isinstance(value[0], dict)
        if isinstance(value, dict) or nested:
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in tables:
        items = value if isinstance(value, list) else [value]
        for item in items:
            lines.append("")
            lines.append(f"[[{key}]]" if isinstance(value, list) else f"[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


def _read_status_table(path: Path, work: Path) -> Any:
    """Read the power company's status table (CSV, or the first sheet of an XLSX)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            sheet = pd.read_excel(path, dtype=str, sheet_name=0).fillna("")
        except Exception as exc:  # openpyxl raises several types
            raise DatasetError(f"cannot read the workbook: {exc}", path=path) from None
        csv_path = work / f"{path.stem}.csv"
        atomic_write_text(csv_path, csv_text(sheet, list(sheet.columns)))
        table = read_power(csv_path, file=path.name)
    else:
        table = read_power(path, file=path.name)
    return table


def _power_table(
    power_status: str | Path | None,
    table: gpd.GeoDataFrame,
    communes_m: gpd.GeoDataFrame,
    settlements: gpd.GeoDataFrame,
    grid: gpd.GeoDataFrame | None,
    report: PrepareReport,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and columns of ``village_power.csv``: reported (joined by name) or estimated."""
    notes, sources = report.warnings, report.sources
    power_rows: list[dict[str, Any]] = []
    if power_status is not None:
        ppath = Path(power_status)
        with tempfile.TemporaryDirectory() as work:
            status = _read_status_table(ppath, Path(work))
        joined = join_status(status, table, communes_m)
        for rec in joined.matched.itertuples():
            village = table.loc[table["village_code"] == rec.village_code].iloc[0]
            gp = rec.grid_power
            power_rows.append(
                {
                    "village_code": rec.village_code,
                    "village_name": village.village_name,
                    "commune_name": village.commune_name,
                    "grid_power": "" if gp is pd.NA else ("yes" if gp else "no"),
                    "households_unpowered": ""
                    if pd.isna(rec.households_unpowered)
                    else rec.households_unpowered,
                }
            )
        for u in joined.unmatched:
            notes.append(f"{ppath.name}: row {u['row']}: {u['reason']}")
        report.power_rows_unmatched = len(joined.unmatched)
        if joined.missing:
            notes.append(
                f"{len(joined.missing)} village(s) without a row in {ppath.name} "
                f"(status unknown): {', '.join(joined.missing[:20])}"
            )
        sources.append(source_for(ppath, "power_status", "user"))
        report.power_status = "reported"
        power_columns = [
            "village_code",
            "village_name",
            "commune_name",
            "grid_power",
            "households_unpowered",
        ]
    else:
        mv = None
        if grid is not None:
            mv = shapely.union_all(grid.geometry.to_numpy())
        for village in table.itertuples():
            if mv is None:
                value = ""
            else:
                pts = settlements.loc[settlements["village_code"] == village.village_code].geometry
                value = "yes" if float(pts.distance(mv).min()) <= ESTIMATE_DISTANCE_M else "no"
            power_rows.append(
                {
                    "village_code": village.village_code,
                    "village_name": village.village_name,
                    "commune_name": village.commune_name,
                    "grid_power": value,
                    "estimated": "yes",
                }
            )
        report.power_status = "estimated"
        power_columns = [
            "village_code",
            "village_name",
            "commune_name",
            "grid_power",
            "estimated",
        ]
        notes.append(
            f"no --power-status: grid power of all {len(table)} villages ESTIMATED "
            f"(a settlement within {ESTIMATE_DISTANCE_M:.0f} m of an OSM line "
            f"of ≤ {ESTIMATE_MAX_KV:.0f} kV), "
            "flagged 'estimated' in every output"
        )
    return power_rows, power_columns


def _prepared_before(folder: Path) -> bool:
    """Whether ``folder`` is a dataset written by ``covgap prepare`` (safe to replace)."""
    try:
        text = (folder / "dataset.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^\[prepare\]\s*$", text, re.MULTILINE) is not None


def _swap_into_place(stage: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{next(tempfile._get_candidate_names())}")
        out.rename(old)
    stage.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------- main


def prepare_dataset(
    out_dir: str | Path,
    *,
    communes: str | Path,
    osm: str | Path | None,
    dem: Sequence[str | Path],
    cells: str | Path | None = None,
    sites: str | Path | None = None,
    population: str | Path | None = None,
    household_size: float | None = None,
    power_status: str | Path | None = None,
    villages: str | Path | None = None,
    landcover: Sequence[str | Path] | None = None,
    radius_m: float = 15000.0,
    commune_code_field: str | None = None,
    commune_name_field: str | None = None,
    select: str | None = None,
    name: str | None = None,
    title: str | None = None,
    crs: Any = None,
) -> PrepareReport:
    """Build a dataset folder from open data.

    Parameters
    ----------
    out_dir
        Folder to write (replaced as a whole once everything is written; an
        existing folder must be empty or written by an earlier ``prepare``,
        whose ``dataset.toml`` has a ``[prepare]`` table).
    communes
        Commune boundaries (see :func:`read_communes`).
    osm
        OpenStreetMap extract (``.osm.pbf`` or ``.osm``): villages (unless
        ``villages`` is given), power lines, buildings.
    dem
        Elevation tiles or folders of tiles (see :func:`covgap.data.dem_tiles.build_dem`).
    cells, sites
        OpenCelliD export and/or a ``sites.csv`` table (at least one).
    population
        Population raster (people per cell).
    household_size
        Persons per household (default: the province's 2019 census figure
        where known).
    power_status
        The power company's table (CSV/XLSX: ``village_name``, ``commune_name``
        or ``commune_code``, ``grid_power``); without it statuses are
        estimated from the OSM grid and flagged ``estimated``.
    villages
        Village points or polygons with names, replacing OSM's places.
    landcover
        ESA WorldCover tiles (or folders of them), written as
        ``terrain/landcover.tif`` on the DEM's grid (see
        :func:`covgap.data.worldcover.build_landcover`).
    radius_m
        The scenario's signal radius.
    commune_code_field, commune_name_field, select
        See :func:`read_communes`.
    name, title
        Dataset slug and title (default: from the communes).
    crs
        Metric CRS to work in (default: the UTM zone of the communes).

    Returns
    -------
    PrepareReport
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _prepared_before(out))):
        raise DatasetError(
            "the output folder exists and was not written by covgap prepare; "
            "give a new or empty folder",
            path=out,
        )
    if cells is None and sites is None:
        raise DatasetError("give --cells (OpenCelliD) and/or --sites: the existing towers")
    if osm is None and villages is None:
        raise DatasetError("give --osm (OpenStreetMap extract) or --villages")
    if household_size is not None and not household_size > 0:
        raise DatasetError(f"--household-size must be above 0, got {household_size:g}")
    report = PrepareReport(out_dir=out)
    notes = report.warnings
    sources = report.sources

    communes_path = Path(communes)
    raw = read_communes(
        communes_path,
        code_field=commune_code_field,
        name_field=commune_name_field,
        select=select,
        notes=notes,
    )
    sources.append(source_for(communes_path, "communes", "user"))
    if communes_path.suffix.lower() == ".shp":
        for suffix in (".dbf", ".shx", ".prj", ".cpg"):
            sidecar = communes_path.with_suffix(suffix)
            if sidecar.is_file():
                sources.append(source_for(sidecar, "communes", "user"))
    metric = parse_crs(crs, source="--crs") if crs is not None else analysis_crs([raw])
    communes_m = to_metric(raw, metric, notes=notes, label=str(communes_path))
    report.communes = len(communes_m)
    area = shapely.union_all(communes_m.geometry.to_numpy())
    towers_area = area.buffer(radius_m)
    dem_area = area.buffer(2 * radius_m + DEM_MARGIN_M)

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        # villages
        counts = VillageCounts(warnings=notes)
        if villages is not None:
            vpath = Path(villages)
            given = read_village_file(vpath, metric, notes)
            sources.append(source_for(vpath, "villages", "user"))
            if (given.geom_type == "Point").all():
                table = villages_from_points(given, communes_m, counts)
            else:
                table = villages_from_polygons(given, communes_m, counts)
        else:
            assert osm is not None
            places = read_places(osm, bbox=_lonlat_box(area, metric)).to_crs(metric)
            inside = places[places.within(area)] if len(places) else places
            if inside.empty:
                raise DatasetError(
                    f"no place point (place={'|'.join(PLACE_VALUES)}) "
                    f"in the communes ({len(places)} nearby); check that the extract covers them, "
                    "or give --villages",
                    path=osm,
                )
            table = villages_from_points(places, communes_m, counts)
        if osm is not None:
            sources.append(source_for(osm, "osm", "osm"))
        report.villages = len(table)
        report.villages_from_points = counts.villages_from_points
        report.communes_without_points = counts.communes_without_points
        report.place_points_outside = counts.place_points_outside

        # population and households
        size, size_source = household_size, "given (--household-size)"
        if population is not None:
            if size is None:
                provinces = sorted(set(communes_m["province"]) - {""})
                known = household_size_for(provinces[0]) if len(provinces) == 1 else None
                if known is None:
                    where = f" for {provinces[0]}" if len(provinces) == 1 else ""
                    raise DatasetError(
                        f"no 2019-census household size known{where}; give --household-size "
                        "(persons per household, e.g. from the province's statistics office)"
                    )
                size, size_source = known
            zonal = zonal_sums(population, table.geometry)
            if zonal.covered_share < COVERAGE_SHARE_MIN:
                raise DatasetError(
                    f"the population raster covers only {zonal.covered_share:.0%} of the communes; "
                    "give a raster covering all of them (WorldPop's country file)",
                    path=population,
                )
            if zonal.nodata_cells:
                notes.append(
                    f"{Path(population).name}: {zonal.nodata_cells} nodata cells in the "
                    "village territories counted as 0 people"
                )
            table["population"] = np.round(zonal.sums, 2)
            table["households"] = np.round(zonal.sums / size, 2)
            sources.append(source_for(population, "population", population_kind(population)))
            report.household_size, report.household_size_source = float(size), size_source
            report.population = float(np.sum(zonal.sums))
            report.households = float(np.sum(zonal.sums / size))
        else:
            table["population"] = math.nan
            table["households"] = math.nan
            notes.append(
                "no --population raster: households unknown "
                "(the plan weighs villages by households)"
            )

        # towers
        if cells is not None:
            result = filter_cells(cells, towers_area, metric, stage / "towers" / "cells.csv")
            report.cells_kept = result.kept
            report.cells_other_countries = result.other_country_in_area
            report.cells_unreadable = result.unreadable
            if result.other_country_in_area:
                notes.append(
                    f"{Path(cells).name}: {result.other_country_in_area} cells of other "
                    "countries' networks (MCC ≠ 452) in the area not kept"
                )
            if result.unreadable:
                notes.append(
                    f"{Path(cells).name}: {result.unreadable} unreadable rows skipped (rows "
                    f"{', '.join(map(str, result.unreadable_rows))}"
                    f"{' ...' if result.unreadable > 20 else ''})"
                )
            sources.append(source_for(cells, "cells", "opencellid"))
        if sites is not None:
            listed = read_sites(sites, notes=notes)
            report.sites_listed = len(listed)
            target = stage / "towers" / "sites.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sites, target)
            sources.append(source_for(sites, "sites", "user"))

        # grid
        buildings = None
        grid = None
        if osm is not None:
            lines = read_power_lines(osm, bbox=_lonlat_box(dem_area, metric)).to_crs(metric)
            lines = lines[lines.intersects(dem_area)] if len(lines) else lines
            high = lines["voltage_kv"] > ESTIMATE_MAX_KV
            if high.any():
                notes.append(
                    f"{Path(osm).name}: {int(high.sum())} transmission line(s) above "
                    f"{ESTIMATE_MAX_KV:.0f} kV left out of the medium-voltage grid"
                )
            lines = lines[~high]
            report.grid_lines = len(lines)
            if len(lines):
                grid = lines
                (stage / "electricity").mkdir(parents=True, exist_ok=True)
                atomic_write_text(
                    stage / "electricity" / "grid.geojson",
                    geojson_text(lines, columns=["voltage_kv", "power", "osm_id"]),
                )
            else:
                notes.append(
                    "the OSM extract has no power=line|minor_line near the communes: no grid layer"
                )
            found = read_buildings(osm, bbox=_lonlat_box(area, metric))
            if len(found):
                buildings = found.to_crs(metric)

        # settlements and power status
        settlements = settlement_points(table, buildings)
        names = dict(zip(communes_m["commune_code"], communes_m["commune_name"], strict=True))
        table["commune_name"] = table["commune_code"].map(names)
        power_rows, power_columns = _power_table(
            power_status, table, communes_m, settlements, grid, report
        )

        # terrain
        dem_result = build_dem(dem, dem_area, metric, stage / "terrain" / "dem.tif")
        notes.extend(dem_result.notes)
        report.dem_resolution_m = dem_result.resolution_m
        report.dem_shape = dem_result.shape
        for tile in dem_result.files:
            sources.append(source_for(tile, "dem", dem_kind(tile)))
        if landcover:
            cover = build_landcover(
                landcover, stage / "terrain" / "dem.tif", stage / "terrain" / "landcover.tif"
            )
            notes.extend(cover.notes)
            report.landcover_share = cover.covered_share
            for tile in cover.files:
                sources.append(source_for(tile, "landcover", "worldcover"))

        # write the layers
        communes_out = communes_m.copy()
        pop = table.groupby("commune_code")["population"].sum(min_count=1)
        communes_out["population"] = communes_out["commune_code"].map(pop).round(2)
        atomic_write_text(
            stage / "boundaries" / "communes.geojson",
            geojson_text(communes_out, columns=["commune_code", "commune_name", "population"]),
        )
        atomic_write_text(
            stage / "boundaries" / "villages.geojson",
            geojson_text(
                table.drop(columns=["point"]),
                columns=[
                    "village_code",
                    "village_name",
                    "commune_code",
                    "population",
                    "households",
                    "osm_id",
                ],
            ),
        )
        if settlements["households"].notna().all():
            atomic_write_text(
                stage / "boundaries" / "settlements.geojson",
                geojson_text(settlements, columns=["village_code", "households"]),
            )  # without households (no --population) covgap uses one point per village
        atomic_write_text(
            stage / "electricity" / "village_power.csv", csv_text(power_rows, power_columns)
        )

        provinces = set(communes_m["province"])
        place = provinces.pop() if len(provinces) == 1 and "" not in provinces else ""
        place = place or communes_path.stem
        slug = name or re.sub(r"[^a-z0-9]+", "_", fold(place)).strip("_") or "prepared"
        meta: dict[str, Any] = {
            "name": slug,
            "title": title or f"{place}: {len(communes_m)} communes (open data)",
            "description": "Prepared by covgap prepare from open data; see [[sources]].",
            "synthetic": False,
            "source": "; ".join(dict.fromkeys(s.attribution for s in sources if s.attribution)),
            "prepare": {
                "radius_m": float(radius_m),
                "dem_margin_m": DEM_MARGIN_M,
                "dem_resolution_m": dem_result.resolution_m,
                "villages": report.villages,
                "communes_without_points": len(report.communes_without_points),
                "household_size": report.household_size
                if math.isfinite(report.household_size)
                else "",
                "household_size_source": report.household_size_source,
                "power_status": report.power_status,
                "estimate_distance_m": ESTIMATE_DISTANCE_M,
            },
            "sources": [s.as_toml() for s in sources],
        }
        atomic_write_text(stage / "dataset.toml", toml_text(meta))
        atomic_write_text(
            stage / "prepare_report.json",
            json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str) + "\n",
        )
        _swap_into_place(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    log.info("prepared %s: %d communes, %d villages", out, report.communes, report.villages)
    return report
