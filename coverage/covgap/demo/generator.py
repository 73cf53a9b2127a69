"""Orchestration: from the commune facts to the files of the demo dataset."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from covgap.data.terrain import Terrain as RadioTerrain
from covgap.data.terrain import check_coverage
from covgap.demo import facts
from covgap.demo.communes import commune_cells, consistent_partition, town_shape
from covgap.demo.grid import PowerGrid, build_grid
from covgap.demo.outline import district_outline
from covgap.demo.projection import to_lonlat, to_utm
from covgap.demo.survey import survey_rows, yes_no
from covgap.demo.terrain import (
    Terrain,
    build_terrain,
    dem_window,
    river_network,
)
from covgap.demo.towers import (
    Site,
    TowerParams,
    candidate_heights,
    candidate_sites,
    choose_sites,
    make_sites,
    opencellid_rows,
    settlement_signal,
)
from covgap.demo.villages import Village, build_villages
from covgap.demo.writers import (
    atomic_write,
    csv_bytes,
    geojson_bytes,
    toml_bytes,
    write_geotiff,
)
from covgap.errors import DemoError
from covgap.radio.scenario import default_scenario

__all__ = ["DemoWorld", "build_world", "generate_demo", "write_world"]

logger = logging.getLogger(__name__)

NODATA = -32768
CELL_COLUMNS = (
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
    "changeable", "created", "updated", "averageSignal",
)  # fmt: skip


@dataclass
class DemoWorld:
    """Everything generated, in UTM 48N metres, before it is written."""

    communes: list[BaseGeometry]
    terrain: Terrain
    villages: list[Village]
    grid: PowerGrid
    sites: list[Site]
    covered: np.ndarray
    tower_params: TowerParams


def build_world(seed: int = facts.SEED, tower_params: TowerParams | None = None) -> DemoWorld:
    """Generate the synthetic district in memory.

    Parameters
    ----------
    seed
        Seed of the PCG64 generator; the committed data uses :data:`facts.SEED`.
    tower_params
        Tower placement parameters (defaults: :class:`TowerParams`).
    """
    params = tower_params or TowerParams()
    rng = np.random.Generator(np.random.PCG64(seed))
    communes = list(facts.COMMUNES)
    cx, cy = to_utm([c.lon for c in communes], [c.lat for c in communes])
    centroids = np.column_stack([cx, cy])
    town_xy = tuple(float(v) for v in to_utm(facts.TOWN_LATLON[1], facts.TOWN_LATLON[0]))

    outline = district_outline(centroids, facts.DISTRICT_AREA_KM2 * 1e6, rng)
    town_i = next(i for i, c in enumerate(communes) if c.is_town)
    town = town_shape(town_xy, communes[town_i].area_km2 * 1e6, rng)
    others = [i for i in range(len(communes)) if i != town_i]
    cells = commune_cells(
        outline.difference(town),
        centroids[others],
        np.array([communes[i].area_km2 for i in others]) * 1e6,
    )
    polygons: list[BaseGeometry] = [town] * len(communes)
    for i, cell in zip(others, cells, strict=True):
        polygons[i] = cell
    polygons = consistent_partition(polygons)
    logger.info("communes: %.1f km2", sum(p.area for p in polygons) / 1e6)

    rivers = river_network(rng, town_xy)
    window = dem_window(outline.bounds, facts.DEM_BUFFER_M, facts.DEM_CELL_M)
    terrain = build_terrain(rng, window, rivers, facts.DEM_CELL_M)
    logger.info(
        "terrain: %s cells, %d..%d m",
        terrain.shape,
        terrain.elevation.min(),
        terrain.elevation.max(),
    )

    villages = build_villages(rng, communes, polygons, terrain, facts.N_VILLAGES)
    territories = consistent_partition([v.territory for v in villages])
    for v, t in zip(villages, territories, strict=True):
        v.territory = t
    polygons = [
        shapely.union_all([v.territory for v in villages if v.commune == ci])
        for ci in range(len(communes))
    ]

    substation = _substation(terrain, town_xy)
    grid = build_grid(terrain, villages, substation, facts.N_UNPOWERED)
    sites, covered = _place_towers(terrain, outline, grid, villages, params)
    return DemoWorld(polygons, terrain, villages, grid, sites, covered, params)


def _substation(terrain: Terrain, town_xy: tuple[float, float]) -> tuple[float, float]:
    """Return the habitable cell nearest a point 500 m south-east of the town centre."""
    target = np.array([town_xy[0] + 350.0, town_xy[1] - 350.0])
    rows, cols = np.nonzero(terrain.habitable())
    x, y = terrain.cell_centre(rows, cols)
    i = int(np.argmin(np.hypot(x - target[0], y - target[1])))
    return float(x[i]), float(y[i])


def _place_towers(
    terrain: Terrain,
    outline: BaseGeometry,
    grid: PowerGrid,
    villages: list[Village],
    params: TowerParams,
) -> tuple[list[Site], np.ndarray]:
    """Place the towers with the terrain radio engine (see :mod:`covgap.demo.towers`)."""
    scenario = default_scenario()
    network = shapely.MultiLineString([ln for ln, _ in grid.lines])
    positions, outside = candidate_sites(terrain, outline, network, params)
    heights = candidate_heights(
        terrain.sample(positions[:, 0], positions[:, 1]), ~outside, params.mast_heights_m
    )
    settle = [(vi, s) for vi, v in enumerate(villages) for s in v.settlements]
    s_xy = np.array([[s.x, s.y] for _, s in settle])
    s_village = np.array([vi for vi, _ in settle])
    s_hh = np.array([float(s.households) for _, s in settle])
    # the DEM exactly as the analysis reads it back from terrain/dem.tif
    radio = RadioTerrain(
        terrain.elevation.astype(np.float32), terrain.transform, CRS.from_epsg(facts.UTM_EPSG)
    )
    signal = settlement_signal(radio, positions, heights, scenario, s_xy, params.batch)
    logger.info("tower candidates: %d (%d beyond the border)", len(positions), int(outside.sum()))
    priority = np.array(
        [(10.0 if v.is_centre or v.code.startswith("TC-TT-") else 0.0) + v.households / 20.0
         for v in villages]
    )  # fmt: skip
    placement = choose_sites(
        signal,
        s_village,
        s_hh,
        grid.powered,
        priority,
        outside,
        facts.N_NO_SIGNAL,
        facts.N_UNPOWERED_NO_SIGNAL,
        params.n_outside,
        threshold_dbm=scenario.threshold_dbm,
        margin_db=params.margin_db,
        share=scenario.covered_share,
    )
    covered = placement.covered
    n_no = int((~covered).sum())
    n_both = int((~covered & ~grid.powered).sum())
    wanted = (facts.N_NO_SIGNAL, facts.N_UNPOWERED_NO_SIGNAL, 0)
    if (n_no, n_both, placement.ambiguous) != wanted:
        raise DemoError(
            f"tower placement reached {n_no} uncovered ({n_both} unpowered, "
            f"{placement.ambiguous} within {params.margin_db:g} dB of "
            f"{scenario.threshold_dbm:g} dBm), wanted {facts.N_NO_SIGNAL} "
            f"({facts.N_UNPOWERED_NO_SIGNAL} unpowered, none ambiguous)"
        )
    chosen = np.array(placement.chosen)
    cut = check_coverage(
        radio,
        [(f"site {i}", x, y) for i, (x, y) in enumerate(positions[chosen])],
        scenario.radius_m,
        log=False,
    )
    if cut:  # a first run of the demo must warn of nothing (facts.DEM_BUFFER_M)
        raise DemoError(f"the demo DEM is too small: {'; '.join(cut)}")
    sites = make_sites(positions[chosen], heights[chosen], outside[chosen], params.colocated)
    logger.info("towers: %d sites at %d locations", len(sites), len(chosen))
    return sites, covered


def generate_demo(out_dir: Path) -> Path:
    """Generate the SYNTHETIC Tủa Chùa demo dataset into ``out_dir``.

    Parameters
    ----------
    out_dir
        Dataset folder (created if needed); files are replaced atomically.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    out = Path(out_dir)
    world = build_world()
    _write(out, world)
    return out


def _lonlat_geom(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.column_stack(to_lonlat(xy[:, 0], xy[:, 1])))


def _write(out: Path, world: DemoWorld) -> None:
    communes = list(facts.COMMUNES)
    rows = [
        {"commune_code": c.code, "commune_name": c.name, "population": c.population}
        for c in communes
    ]
    write_world(out, world, rows, _metadata(world), cell_seed=facts.SEED + 1)


def write_world(
    out: Path,
    world: DemoWorld,
    commune_rows: list[dict[str, object]],
    metadata: dict[str, object],
    *,
    cell_seed: int,
    dem_zlevel: int = 9,
) -> None:
    """Write a generated world as a dataset folder (every file of the format).

    Parameters
    ----------
    out
        Dataset folder.
    world
        The generated communes, terrain, villages, grid, sites and survey.
    commune_rows
        Properties of each commune, in the order of ``world.communes``
        (``commune_code``, ``commune_name``, ``population``...).
    metadata
        The contents of ``dataset.toml``.
    cell_seed
        Seed of the OpenCelliD rows' scatter.
    dem_zlevel
        DEFLATE level of the DEM.
    """
    villages = world.villages
    atomic_write(
        out / "boundaries" / "communes.geojson",
        geojson_bytes(
            "communes",
            ((row, _lonlat_geom(g)) for row, g in zip(commune_rows, world.communes, strict=True)),
        ),
    )
    atomic_write(
        out / "boundaries" / "villages.geojson",
        geojson_bytes(
            "villages",
            (
                (
                    {
                        "village_code": v.code,
                        "village_name": v.name,
                        "commune_code": commune_rows[v.commune]["commune_code"],
                        "population": v.population,
                        "households": v.households,
                    },
                    _lonlat_geom(v.territory),
                )
                for v in villages
            ),
        ),
    )
    atomic_write(
        out / "boundaries" / "settlements.geojson",
        geojson_bytes(
            "settlements",
            (
                (
                    {"village_code": v.code, "households": s.households},
                    _lonlat_geom(Point(s.x, s.y)),
                )
                for v in villages
                for s in v.settlements
            ),
        ),
    )
    commune_names = [str(commune_rows[v.commune]["commune_name"]) for v in villages]
    atomic_write(
        out / "electricity" / "village_power.csv",
        csv_bytes(
            ("village_code", "village_name", "commune_name", "grid_power", "households_unpowered"),
            (
                (v.code, v.name, m, yes_no(bool(p)), int(h))
                for v, m, p, h in zip(
                    villages,
                    commune_names,
                    world.grid.powered,
                    world.grid.households_unpowered,
                    strict=True,
                )
            ),
            bom=True,
        ),
    )
    atomic_write(
        out / "electricity" / "grid.geojson",
        geojson_bytes(
            "grid", (({"voltage_kv": kv}, _lonlat_geom(line)) for line, kv in world.grid.lines)
        ),
    )
    site_xy = np.array([[s.x, s.y] for s in world.sites])
    lon, lat = to_lonlat(site_xy[:, 0], site_xy[:, 1])
    e_lon, _ = to_lonlat(site_xy[:, 0] + 1000.0, site_xy[:, 1])
    _, n_lat = to_lonlat(site_xy[:, 0], site_xy[:, 1] + 1000.0)
    geo = np.column_stack([1000.0 / (e_lon - lon), 1000.0 / (n_lat - lat), lon, lat])
    cell_rng = np.random.Generator(np.random.PCG64(cell_seed))
    cells = opencellid_rows(cell_rng, world.sites, geo)
    atomic_write(
        out / "towers" / "cells.csv",
        csv_bytes(CELL_COLUMNS, ([row[c] for c in CELL_COLUMNS] for row in cells), bom=False),
    )
    atomic_write(
        out / "towers" / "sites.csv",
        csv_bytes(
            ("site_id", "operator", "lon", "lat", "height_m", "radio", "power_source"),
            (
                (
                    s.site_id,
                    s.operator,
                    float(x),
                    float(y),
                    f"{s.height_m:g}",
                    s.radio,
                    s.power_source,
                )
                for s, x, y in zip(world.sites, lon, lat, strict=True)
            ),
            bom=False,
        ),
    )
    atomic_write(
        out / "survey" / "village_signal.csv",
        csv_bytes(
            ("village_code", "village_name", "commune_name", "mobile_signal"),
            survey_rows(
                [v.code for v in villages], [v.name for v in villages], commune_names, world.covered
            ),
            bom=True,
        ),
    )
    write_geotiff(
        out / "terrain" / "dem.tif",
        world.terrain.elevation,
        world.terrain.transform,
        facts.UTM_EPSG,
        NODATA,
        zlevel=dem_zlevel,
    )
    atomic_write(out / "dataset.toml", toml_bytes(metadata))


def _metadata(world: DemoWorld) -> dict[str, object]:
    powered = world.grid.powered
    covered = world.covered
    return {
        "name": "tua_chua_demo",
        "title": (
            "Huyện Tủa Chùa, Điện Biên (dữ liệu tổng hợp) / "
            "Tủa Chùa district, Điện Biên (synthetic demo)"
        ),
        "description": (
            "SYNTHETIC demo dataset. Commune names, 2009 census populations and approximate "
            "centroids are real; boundaries, terrain, villages, settlements, households, "
            "grid, towers, cells and survey are generated (covgap demo) and describe no real place."
        ),
        "synthetic": True,
        "source": (
            "Generated by covgap.demo.generate_demo from a fixed seed. Census 2009 populations "
            "and commune centroids from the covgap foundation issue; households assume "
            f"{facts.PEOPLE_PER_HOUSEHOLD:g} people per household."
        ),
        "demo": {
            "seed": facts.SEED,
            "villages": len(world.villages),
            "uncovered": int((~covered).sum()),
            "unpowered": int((~powered).sum()),
            "uncovered_and_unpowered": int((~covered & ~powered).sum()),
            "people_per_household": facts.PEOPLE_PER_HOUSEHOLD,
            "dem_crs": f"EPSG:{facts.UTM_EPSG}",
            "towers_scenario": "default",
            "towers_margin_db": world.tower_params.margin_db,
        },
    }
