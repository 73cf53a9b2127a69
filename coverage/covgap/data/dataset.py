"""A dataset folder, loaded and validated: :func:`load_dataset` -> :class:`Dataset`.

The folder layout and file formats are documented in ``docs/dataset.md``.
Every GeoDataFrame of a :class:`Dataset` is in :attr:`Dataset.crs`, a
projected CRS in metres.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from pyproj import CRS

from covgap.data import boundaries, electricity, survey, towers
from covgap.data.crs import analysis_crs, lonlat_bounds, parse_crs, to_metric
from covgap.data.join import JoinResult, StatusTable, join_status
from covgap.data.text import fold
from covgap.errors import CRSError, DatasetError, DatasetNotFoundError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["FILES", "Dataset", "load_dataset"]

log = logging.getLogger(__name__)

FILES = {
    "communes": "boundaries/communes.geojson",
    "villages": "boundaries/villages.geojson",
    "settlements": "boundaries/settlements.geojson",
    "power": "electricity/village_power.csv",
    "grid": "electricity/grid.geojson",
    "cells": "towers/cells.csv",
    "sites": "towers/sites.csv",
    "candidates": "towers/sites_candidates.csv",
    "survey": "survey/village_signal.csv",
    "dem": "terrain/dem.tif",
    "toml": "dataset.toml",
    "landcover": "terrain/landcover.tif",
    "measurements": "survey/measurements.csv",
}
"""Paths of the dataset's files, relative to its folder."""

_VECTOR_ALTERNATIVES = (".shp", ".zip", ".gpkg", ".json")
"""Other vector formats accepted in place of a missing ``.geojson`` file."""
FAR_KM = 50.0
"""A layer whose nearest point is this far from the communes is reported."""
OVERLAP_SHARE = 0.01
"""Villages overlapping by more than this share of the smaller one are reported."""

_TOML_KEYS = {
    "name", "title", "description", "synthetic", "source", "crs", "towers", "demo",
    "sources", "prepare",
}  # fmt: skip


@dataclass
class Dataset:
    """One loaded, validated dataset folder (see ``docs/architecture.md``)."""

    root: Path
    name: str
    title: str
    description: str
    synthetic: bool
    crs: CRS
    communes: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    settlements: gpd.GeoDataFrame
    power: pd.DataFrame
    grid: gpd.GeoDataFrame | None
    cells: pd.DataFrame | None
    sites: gpd.GeoDataFrame
    survey: pd.DataFrame | None
    dem_path: Path | None
    unmatched_rows: list[dict[str, Any]] = field(default_factory=list)
    missing_status: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    """``[[sources]]`` of ``dataset.toml``: each input's ``role``, ``file``, ``sha256``,
    ``licence``, ``attribution`` (written by ``covgap prepare``)."""

    @property
    def attributions(self) -> list[str]:
        """The distinct attributions of the dataset's sources, in order."""
        return list(
            dict.fromkeys(str(s["attribution"]) for s in self.sources if s.get("attribution"))
        )

    landcover_path: Path | None = None
    measurements_path: Path | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem worth telling the user, one readable line each."""
        lines = [f"{u['file']}: row {u['row']}: {u['reason']}" for u in self.unmatched_rows]
        for table, codes in self.missing_status.items():
            if codes:
                shown = ", ".join(codes[:20]) + (" ..." if len(codes) > 20 else "")
                lines.append(f"{table}: no status row for {len(codes)} villages: {shown}")
        lines.extend(self.warnings)
        return lines

    def describe(self) -> list[str]:
        """Describe what was loaded, one line per item (for ``covgap validate``)."""
        n = len(self.villages)
        label = f"{self.title} (synthetic)" if self.synthetic else self.title
        lines = [
            f"dataset: {self.name}: {label}",
            f"folder: {self.root}",
            f"analysis CRS: {self.crs.to_string()} ({self.crs.name})",
            f"communes: {len(self.communes)}",
        ]
        households = self.villages["households"].sum(min_count=1)
        population = self.villages["population"].sum(min_count=1)
        extra = []
        if pd.notna(households):
            extra.append(f"{households:,.0f} households")
        if pd.notna(population):
            extra.append(f"population {population:,.0f}")
        lines.append(f"villages: {n}" + (f" ({', '.join(extra)})" if extra else ""))
        if (self.root / FILES["settlements"]).is_file():
            lines.append(f"settlements: {len(self.settlements)}")
        else:
            lines.append(f"settlements: none given; {n} village representative points")
        lines.append(_status_line("power status", self.power, "grid_power", n, "powered"))
        if self.survey is None:
            lines.append("mobile signal survey: absent")
        else:
            lines.append(
                _status_line("mobile signal survey", self.survey, "mobile_signal", n, "signal")
            )
        if self.grid is None:
            lines.append("medium-voltage grid: absent")
        else:
            km = self.grid.geometry.length.sum() / 1000.0
            lines.append(f"medium-voltage grid: {len(self.grid)} lines, {km:,.1f} km")
        if self.cells is not None:
            lines.append(f"cells: {len(self.cells)}")
        per_operator = self.sites["operator"].value_counts().sort_index()
        ops = ", ".join(f"{op} {count}" for op, count in per_operator.items()) or "none"
        lines.append(f"sites: {len(self.sites)} ({ops})")
        if "sectors" in self.sites.columns:
            counts = [len(v) for v in self.sites["sectors"] if isinstance(v, tuple) and v]
            lines.append(f"sector antennas: {sum(counts)} sectors on {len(counts)} sites")
        if self.dem_path is None:
            lines.append("DEM: absent")
        else:
            lines.append(f"DEM: {self.dem_path}")
        if self.sources:
            lines.append(f"sources: {len(self.sources)} files ({'; '.join(self.attributions)})")
        if "power_estimated" in self.power.columns:
            n_est = int(self.power["power_estimated"].sum())
            lines.append(f"power status estimated (not reported) for {n_est} villages")
        if self.landcover_path is not None:
            lines.append(f"land cover: {self.landcover_path}")
        if self.measurements_path is not None:
            lines.append(f"signal measurements: {self.measurements_path}")
        lines.append(f"problems: {len(self.problems)}")
        return lines


def _status_line(label: str, table: pd.DataFrame, column: str, n: int, yes: str) -> str:
    values = table[column]
    true = int((values == True).sum())  # noqa: E712 (nullable boolean)
    false = int((values == False).sum())  # noqa: E712
    unknown = int(values.isna().sum())
    return f"{label}: {len(table)} of {n} villages ({yes} {true}, not {false}, unknown {unknown})"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_") or "dataset"


def _read_toml(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"not valid TOML: {exc}", path=path) from None
    for key in ("name", "title", "description"):
        if key in data and not isinstance(data[key], str):
            raise DatasetError(f"expected text, got {data[key]!r}", path=path, column=key)
    if "synthetic" in data and not isinstance(data["synthetic"], bool):
        raise DatasetError(
            f"expected true or false, got {data['synthetic']!r}", path=path, column="synthetic"
        )
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise DatasetError("expected [[sources]] tables", path=path, column="sources")
    if "towers" in data and not isinstance(data["towers"], dict):
        raise DatasetError("expected a [towers] table", path=path, column="towers")
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        notes.append(f"{path}: unknown keys ignored: {', '.join(unknown)}")
    return data


def _cluster_distance(data: dict[str, Any], path: Path) -> float:
    value = data.get("towers", {}).get("cluster_distance_m", towers.CLUSTER_DISTANCE_M)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 5000:
        raise DatasetError(
            f"expected a distance in metres (0-5000], got {value!r}",
            path=path,
            column="towers.cluster_distance_m",
        )
    return float(value)


def _vector_file(root: Path, key: str, notes: list[str]) -> Path:
    """Return the file for a vector layer, accepting a shapefile, ZIP or GeoPackage."""
    path = root / FILES[key]
    if path.exists():
        return path
    for suffix in _VECTOR_ALTERNATIVES:
        other = path.with_suffix(suffix)
        if other.is_file():
            notes.append(f"{FILES[key]}: absent; reading {other.relative_to(root)} instead")
            return other
    return path


def _check_dem(path: Path, communes: gpd.GeoDataFrame, notes: list[str]) -> Path | None:
    if not path.is_file():
        notes.append(f"{FILES['dem']}: absent; terrain cannot be modelled")
        return None
    from covgap.data.terrain import check_dem

    notes.extend(check_dem(path, communes.geometry))
    return path


def _check_places(
    communes: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
    files: dict[str, Path],
    notes: list[str],
) -> None:
    """Villages against communes (metric CRS): far, outside, overlapping, in another commune."""
    area = communes.geometry.union_all()
    path = files["villages"]
    distance_km = villages.geometry.union_all().distance(area) / 1000.0
    if distance_km > FAR_KM or not villages.geometry.intersects(area).any():
        raise DatasetError(
            f"no village lies in any commune (the villages are {distance_km:,.0f} km from "
            "the communes): the two files' coordinates disagree; check each file's CRS, "
            "and that lat and lon are not swapped",
            path=path,
        )
    shares = villages.geometry.intersection(area).area / villages.geometry.area.where(
        villages.geometry.area > 0
    )
    outside = villages.loc[~(shares > 0.5), "village_code"].tolist()
    if outside:
        notes.append(
            f"{path}: {len(outside)} village(s) lie mostly outside every commune: "
            f"{', '.join(outside[:20])}{' ...' if len(outside) > 20 else ''}"
        )
    by_code = dict(zip(communes["commune_code"], communes.geometry, strict=True))
    elsewhere = [
        code
        for code, commune, geom in zip(
            villages["village_code"], villages["commune_code"], villages.geometry, strict=True
        )
        if code not in outside and geom.intersection(by_code[commune]).area < 0.5 * geom.area
    ]
    if elsewhere:
        notes.append(
            f"{path}: {len(elsewhere)} village(s) lie mostly outside the commune their "
            f"commune_code names: {', '.join(elsewhere[:20])}"
        )
    left, right = villages.sindex.query(villages.geometry, predicate="intersects")
    pairs = []
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        a, b = villages.geometry.iloc[i], villages.geometry.iloc[j]
        shared = a.intersection(b).area
        if shared > OVERLAP_SHARE * min(a.area, b.area):
            codes = villages["village_code"]
            pairs.append(f"{codes.iloc[i]}/{codes.iloc[j]} ({shared / 1e4:,.1f} ha)")
    if pairs:
        notes.append(
            f"{path}: {len(pairs)} pair(s) of villages overlap (settlements in the overlap "
            f"count for the first): {', '.join(pairs[:20])}"
        )


def _check_far(layer: gpd.GeoDataFrame, area: Any, label: Path, notes: list[str]) -> None:
    """Report a layer (already in the metric CRS) lying far from the communes."""
    if layer is None or len(layer) == 0:
        return
    distance_km = layer.geometry.union_all().distance(area) / 1000.0
    if distance_km > FAR_KM:
        notes.append(
            f"{label}: lies {distance_km:,.0f} km from the communes; check its CRS "
            "(declared or in dataset.toml)"
        )


def _matched(result: JoinResult, columns: list[str]) -> pd.DataFrame:
    return result.matched[["village_code", *columns, "row"]].reset_index(drop=True)


def load_dataset(path: str | Path, crs: Any = None) -> Dataset:
    """Load and validate a dataset folder.

    Parameters
    ----------
    path
        The dataset folder (layout in ``docs/dataset.md``).
    crs
        Metric analysis CRS to use instead of the UTM zone of the data
        (e.g. ``"EPSG:3405"``, VN-2000 / UTM zone 48N).

    Returns
    -------
    Dataset
        Everything loaded, in the metric analysis CRS, with unmatched rows,
        villages missing a status, and warnings recorded.

    Raises
    ------
    DatasetNotFoundError
        If the folder is not a dataset (the message lists the missing files).
    DatasetError
        On any invalid file (the message names file, row and column).
    CRSError
        If a CRS is unknown or the analysis CRS is not metric.
    """
    root = Path(path)
    if root.is_file():
        raise DatasetNotFoundError(
            "is a file, not a dataset folder; give the folder holding boundaries/, "
            "electricity/ and towers/ (see docs/dataset.md)",
            path=root,
        )
    if not root.is_dir():
        raise DatasetNotFoundError("no such dataset folder", path=root)
    notes: list[str] = []
    files = {key: root / rel for key, rel in FILES.items()}
    for key in ("communes", "villages", "settlements", "grid"):
        files[key] = _vector_file(root, key, notes)
    missing = [FILES[k] for k in ("communes", "villages", "power") if not files[k].exists()]
    if not files["cells"].is_file() and not files["sites"].is_file():
        missing.append(f"{FILES['cells']} or {FILES['sites']}")
    if missing:
        raise DatasetNotFoundError(
            f"not a covgap dataset: missing {', '.join(missing)} (see docs/dataset.md)", path=root
        )

    meta = _read_toml(files["toml"], notes)
    default_crs = None
    if "crs" in meta:
        try:
            default_crs = parse_crs(meta["crs"], source=str(files["toml"]))
        except CRSError as exc:
            raise DatasetError(str(exc), path=files["toml"], column="crs") from None
    distance = _cluster_distance(meta, files["toml"])

    communes = boundaries.load_communes(files["communes"], default_crs=default_crs, notes=notes)
    villages = boundaries.load_villages(
        files["villages"], communes, default_crs=default_crs, notes=notes
    )
    extent = lonlat_bounds([communes])
    metric = analysis_crs([communes, villages], user_crs=crs)
    communes = to_metric(communes, metric, notes=notes, label=str(files["communes"]))
    villages = to_metric(villages, metric, notes=notes, label=str(files["villages"]))
    _check_places(communes, villages, files, notes)
    area = communes.geometry.union_all()
    if files["settlements"].exists():
        settlements = boundaries.load_settlements(
            files["settlements"], villages, default_crs=default_crs, notes=notes
        )
        settlements = to_metric(settlements, metric, notes=notes, label=str(files["settlements"]))
        _check_far(settlements, area, files["settlements"], notes)
    else:
        settlements = boundaries.representative_settlements(villages)

    unmatched: list[dict[str, Any]] = []
    missing_status: dict[str, list[str]] = {}

    def join(table: StatusTable) -> pd.DataFrame:
        result = join_status(table, villages, communes)
        unmatched.extend(result.unmatched)
        missing_status[table.name] = result.missing
        return _matched(result, list(table.values.columns))

    power = join(electricity.read_power(files["power"], file=FILES["power"]))
    survey_table = None
    if files["survey"].is_file():
        survey_table = join(survey.read_survey(files["survey"], file=FILES["survey"]))

    grid = None
    if files["grid"].exists():
        grid = to_metric(
            electricity.read_grid(files["grid"], default_crs=default_crs, notes=notes), metric
        )
        _check_far(grid, area, files["grid"], notes)

    cells, sites = towers.load_towers(
        files["cells"] if files["cells"].is_file() else None,
        files["sites"] if files["sites"].is_file() else None,
        metric,
        distance_m=distance,
        notes=notes,
        extent=extent,
    )
    dem_path = _check_dem(files["dem"], communes, notes)

    dataset = Dataset(
        root=root,
        name=_slug(meta.get("name") or root.resolve().name),
        title=meta.get("title") or meta.get("name") or root.resolve().name,
        description=meta.get("description", ""),
        synthetic=bool(meta.get("synthetic", False)),
        crs=metric,
        communes=communes.reset_index(drop=True),
        villages=villages.reset_index(drop=True),
        settlements=settlements.reset_index(drop=True),
        power=power,
        grid=grid,
        cells=cells,
        sites=sites,
        survey=survey_table,
        dem_path=dem_path,
        unmatched_rows=unmatched,
        missing_status=missing_status,
        warnings=notes,
        sources=list(meta.get("sources", [])),
        landcover_path=files["landcover"] if files["landcover"].is_file() else None,
        measurements_path=files["measurements"] if files["measurements"].is_file() else None,
    )
    log.info(
        "loaded dataset %s: %d communes, %d villages, %d sites, %d problems",
        dataset.name,
        len(communes),
        len(villages),
        len(sites),
        len(dataset.problems),
    )
    return dataset
