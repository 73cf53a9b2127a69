"""What a run writes: summary.json, the village gap lists and the map."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from covgap.files import staged_outputs, write_csv, write_geojson, write_json
from covgap.publish.exports import write_priorities
from covgap.publish.overlay import (
    GreyImage,
    hillshade_image,
    overlay_cell_m,
    to_mercator,
    view_cell_m,
)
from covgap.publish.webmap import WebMap, build_map, write_map

if TYPE_CHECKING:
    from covgap.analysis import Analysis
    from covgap.planning.joint import JointPlan
    from covgap.planning.siteplan import SitePlan
    from covgap.sensitivity import Sensitivity

__all__ = [
    "VILLAGE_COLUMNS",
    "RunOutputs",
    "publish_run",
    "run_map",
    "run_table",
    "write_plan_lists",
]

log = logging.getLogger(__name__)

#: Columns of the village lists, in order.
VILLAGE_COLUMNS = [
    "village_code",
    "village_name",
    "commune_code",
    "commune_name",
    "households",
    "population",
    "mobile_signal",
    "grid_power",
    "coverage_status",
    "coverage_source",
    "power_status",
    "power_estimated",
    "modelled_status",
    "share_covered",
    "best_rsrp_dbm",
    "best_server",
    "lon",
    "lat",
]


@dataclass
class RunOutputs:
    """Paths written by :func:`publish_run`, and the summary they hold."""

    out_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def _village_table(analysis: Analysis) -> gpd.GeoDataFrame:
    table = analysis.gaps.villages.copy()
    points = table.geometry.representative_point().to_crs(4326)
    table["lon"] = points.x.round(6)
    table["lat"] = points.y.round(6)
    if "share_covered" in table.columns:
        table["share_covered"] = table["share_covered"].astype(float).round(4)
        table["best_rsrp_dbm"] = table["best_rsrp_dbm"].astype(float).round(1)
    return table.sort_values("village_code", kind="stable")


def _uncovered_sheet(table: gpd.GeoDataFrame, plan: SitePlan | None) -> pd.DataFrame:
    """Uncovered villages, with the planned site (rank) that would cover each.

    ``table`` is the run's village table (:func:`run_table` with the plan).
    """
    rows = table[table["coverage_status"] == "uncovered"]
    columns = [c for c in VILLAGE_COLUMNS if c in rows.columns]
    rows = pd.DataFrame(rows[columns])
    if plan is not None:
        rows["status_after_plan"] = rows["village_code"].map(plan.villages_after)
    return rows.reset_index(drop=True)


def write_plan_lists(
    analysis: Analysis,
    plan: SitePlan,
    out_dir: str | Path,
    *,
    table: gpd.GeoDataFrame | None = None,
    name: str = "priorities",
    joint: JointPlan | None = None,
) -> list[Path]:
    """Write the priority lists of a plan (XLSX, CSV, GeoJSON, GeoPackage, KML).

    Parameters
    ----------
    analysis, plan
        The analysis and its site plan.
    out_dir
        Output folder.
    table
        The run's village table, if already built (:func:`run_table`).
    name
        Base name of the files.
    joint
        A joint plan (:func:`covgap.planning.joint.plan_joint`): adds the "joint plan"
        sheet, the joint lines and powered sites to the electrification list
        and the joint settings to the assumptions.
    """
    if table is None:
        table = run_table(analysis, plan)
    electrification = plan.electrification
    if "power_estimated" in table.columns and electrification is not None:
        # estimated statuses stay flagged in the power utility's list too
        flags = dict(zip(table["village_code"], table["power_estimated"], strict=True))
        electrification = electrification.copy()
        electrification["power_estimated"] = electrification["village_code"].map(flags)
    assumptions = [*plan.assumptions(analysis.scenario), *data_source_rows(analysis)]
    extra = None
    if joint is not None:
        electrification = joint.electrification_lines(electrification)
        assumptions = [*assumptions, *joint.assumptions()]
        extra = {"joint plan": joint.sheet()}
    return write_priorities(
        out_dir,
        plan.plan,
        _uncovered_sheet(table, plan),
        electrification,
        assumptions,
        name=name,
        extra_sheets=extra,
    )


def data_source_rows(analysis: Analysis) -> list[dict[str, Any]]:
    """Assumption-sheet rows naming the data sources and any estimated power statuses."""
    rows: list[dict[str, Any]] = []
    for src in analysis.dataset.sources:
        rows.append(
            {
                "key": f"data source: {src.get('role', '')}",
                "value": str(src.get("file", "")),
                "unit": f"sha256 {src.get('sha256', '')}",
                "source": "; ".join(
                    str(src[k]) for k in ("attribution", "licence", "url") if src.get(k)
                ),
            }
        )
    villages = analysis.gaps.villages
    if "power_estimated" in villages.columns:
        rows.append(
            {
                "key": "grid power status estimated",
                "value": int(villages["power_estimated"].sum()),
                "unit": f"of {len(villages)} villages",
                "source": "covgap prepare: estimated from the OpenStreetMap grid "
                "(see docs/open-data.md), not reported by the power company",
            }
        )
    return rows


def run_table(
    analysis: Analysis,
    plan: SitePlan | None = None,
    sensitivity: Sensitivity | None = None,
) -> gpd.GeoDataFrame:
    """Return the village table of a run: statuses, model figures, planned site, uncertainty."""
    table = _village_table(analysis)
    if sensitivity is not None:
        table = sensitivity.mark(table)
    if plan is not None:
        planned: dict[str, str] = {}
        for rec in plan.plan.itertuples():
            for code in rec.villages_gained:
                planned[code] = f"#{rec.rank} {rec.site_id}"
        table["planned_site"] = table["village_code"].map(planned)
    return table


def _hillshade(analysis: Analysis) -> GreyImage | None:
    """Return the DEM's hillshade for the map's basemap (``None`` without a DEM).

    Its pixels are one zoom level finer than the zoom at which the map opens
    on the communes (:func:`covgap.publish.overlay.view_cell_m`).
    """
    terrain = analysis.terrain
    if terrain is None and analysis.dataset.dem_path is not None:
        from covgap.data.terrain import load_terrain

        terrain = load_terrain(analysis.dataset.dem_path, crs=analysis.dataset.crs)
    if terrain is None:
        return None
    west, south, east, north = analysis.dataset.communes.to_crs(4326).total_bounds
    cell = view_cell_m([[south, west], [north, east]])
    return hillshade_image(terrain.elevation, terrain.transform, terrain.crs, cell_m=cell)


def run_map(
    analysis: Analysis,
    table: gpd.GeoDataFrame,
    summary: dict[str, Any],
    *,
    plan: SitePlan | None = None,
    lang: str = "vi",
    offline: bool = False,
    joint: JointPlan | None = None,
) -> WebMap:
    """Build the run's map from its village table (see :func:`run_table`)."""
    dataset = analysis.dataset
    image = after_image = None
    if analysis.signal is not None:
        signal = analysis.signal
        cell_m = overlay_cell_m(signal.rsrp.shape, signal.transform)
        image = to_mercator(signal.rsrp, signal.transform, signal.crs, cell_m=cell_m)
    if plan is not None and plan.signal_after is not None:
        after = plan.signal_after
        rsrp = after.rsrp if analysis.signal is None else np.fmax(analysis.signal.rsrp, after.rsrp)
        after_image = to_mercator(
            rsrp, after.transform, after.crs, cell_m=overlay_cell_m(rsrp.shape, after.transform)
        )
    return build_map(
        table,
        dataset.communes,
        dataset.sites,
        dataset.grid,
        title=dataset.title,
        synthetic=dataset.synthetic,
        summary=summary,
        lang=lang,
        signal_image=image,
        plan=plan.plan if plan is not None else None,
        after_image=after_image,
        hillshade=_hillshade(analysis),
        offline=offline,
        attribution=dataset.attributions,
        extra_layers=_joint_layers(joint, lang),
    )


def _joint_layers(joint: JointPlan | None, lang: str) -> list[dict[str, Any]] | None:
    if joint is None:
        return None
    from covgap.publish.jointmap import joint_layers

    return joint_layers(joint, lang)


def publish_run(
    analysis: Analysis,
    out_dir: str | Path,
    *,
    lang: str = "vi",
    plan: SitePlan | None = None,
    offline: bool = False,
    sensitivity: Sensitivity | None = None,
    plots: bool = True,
    joint: JointPlan | None = None,
) -> RunOutputs:
    """Write the run's outputs into ``out_dir``.

    Files: ``summary.json``; ``villages.csv`` / ``villages.geojson`` (every
    village with its status); ``uncovered.csv``, ``unelectrified.csv`` and
    ``uncovered_and_unelectrified.csv`` (the gap lists; CSV in UTF-8 with BOM so
    that Excel shows Vietnamese); ``<dataset>.html`` (the map, with the modelled
    signal when the terrain model ran).

    Parameters
    ----------
    analysis
        The results of :func:`covgap.analysis.analyse`.
    out_dir
        Output folder (created if needed).
    lang
        Language of the map ("vi" or "en").
    plan
        A site plan (:func:`covgap.planning.siteplan.plan_sites`): adds the priority
        lists (``priorities.xlsx``, ``.csv``, ``.geojson``, ``.gpkg``,
        ``.kml``), the ``plan`` key of the summary and the plan on the map.
    offline
        Write a map that makes no network request: Leaflet inlined, the DEM's
        hillshade as the basemap instead of web tiles.
    sensitivity
        Village status stability (:func:`covgap.sensitivity.sensitivity`):
        adds ``status_uncertain`` to the village lists and the map, the
        ``uncertain_villages`` summary key and ``sensitivity.csv``.
    plots
        Also write the PNG charts (:func:`covgap.publish.plots.write_plots`).
    joint
        A joint plan of lines and towers (:func:`covgap.planning.joint.plan_joint`):
        adds the ``joint`` key of the summary, its sheet and columns in
        ``priorities.xlsx`` and its three map layers.
    """
    with staged_outputs(out_dir) as stage:
        summary, written = _write_all(
            analysis, stage, lang=lang, plan=plan, offline=offline,
            sensitivity=sensitivity, plots=plots, joint=joint,
        )  # fmt: skip
    out = Path(out_dir)
    files = [out / p.name for p in written]
    log.info("wrote %d files to %s", len(files), out)
    return RunOutputs(out_dir=out, summary=summary, files=files)


def _write_all(
    analysis: Analysis,
    out: Path,
    *,
    lang: str,
    plan: SitePlan | None,
    offline: bool,
    sensitivity: Sensitivity | None,
    plots: bool,
    joint: JointPlan | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Write every output of a run into ``out`` (a staging folder)."""
    dataset, gaps = analysis.dataset, analysis.gaps
    summary = analysis.summary()
    table = run_table(analysis, plan, sensitivity)
    if sensitivity is not None:
        summary["uncertain_villages"] = sorted(
            table.loc[table["status_uncertain"], "village_code"].astype(str)
        )
    if plan is not None:
        summary["plan"] = plan.summary()
        summary["plan_overview"] = plan.overview()
    if joint is not None:
        summary["joint"] = joint.summary()
    columns = [c for c in VILLAGE_COLUMNS if c in table.columns]
    files = [
        write_csv(out / "villages.csv", table, columns),
        write_geojson(out / "villages.geojson", table, columns=columns),
    ]
    lists = {
        "uncovered.csv": set(gaps.uncovered),
        "unelectrified.csv": set(gaps.unpowered),
        "uncovered_and_unelectrified.csv": set(gaps.uncovered_and_unpowered),
    }
    for name, codes in lists.items():
        files.append(write_csv(out / name, table[table["village_code"].isin(codes)], columns))
    if plan is not None:
        files.extend(write_plan_lists(analysis, plan, out, table=table, joint=joint))
    fmap = run_map(analysis, table, summary, plan=plan, lang=lang, offline=offline, joint=joint)
    files.append(write_map(fmap, out / f"{dataset.name}.html"))
    if sensitivity is not None:
        files.append(sensitivity.export(out))
    if plots:
        from covgap.publish.plots import write_plots

        files.extend(write_plots(analysis, plan, out, sensitivity=sensitivity, lang=lang))
    files.append(write_json(out / "summary.json", summary))
    return summary, files
