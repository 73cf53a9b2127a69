"""Joint electrification list on a hand-made district."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point

from covgap.errors import CRSError, MissingColumnError
from covgap.planning.electrification import ELECTRIFICATION_COLUMNS, electrification_priorities

CRS = "EPSG:32648"


def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_code": ["V1", "V2", "V3", "V4", "V5"],
            "village_name": ["Bản Một", "Bản Hai", "Bản Ba", "Bản Bốn", "Bản Năm"],
            "commune_code": ["C1", "C1", "C2", "C2", "C2"],
            "households": [45.0, 60.0, 80.0, 10.0, 20.0],
            "households_unpowered": [40.0, 60.0, 0.0, math.nan, 20.0],
            "power_status": ["unpowered", "unpowered", "powered", "unpowered", "unknown"],
        },
        geometry=[
            shapely.box(5000, 0, 6000, 1000),
            shapely.box(2000, 4500, 3000, 5500),
            shapely.box(8000, 0, 9000, 1000),
            shapely.box(9000, 9000, 9500, 9500),  # no settlement: representative point
            shapely.box(7000, 7000, 7500, 7500),
        ],
        crs=CRS,
    )


def settlements() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_code": ["V1", "V2", "V3"]},
        geometry=[Point(5500, 500), Point(2500, 5000), Point(8500, 500)],
        crs=CRS,
    )


def grid() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"voltage_kv": [35.0]}, geometry=[LineString([(0, 0), (0, 10_000)])], crs=CRS
    )


def sites() -> gpd.GeoDataFrame:
    # distances to the grid (x = 0): S1 6000 m, S2 1000 m, S3 3000 m
    return gpd.GeoDataFrame(
        {"site_id": ["S1", "S2", "S3"], "households_gained": [100.0, 50.0, 30.0]},
        geometry=[Point(6000, 1000), Point(1000, 5000), Point(3000, 6000)],
        crs=CRS,
    )


def communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"commune_code": ["C1", "C2"], "commune_name": ["Xã Tả Phìn", "Xã Sính Phình"]},
        geometry=[shapely.box(0, 0, 5, 5), shapely.box(5, 5, 10, 10)],
        crs=CRS,
    )


def run(**kwargs: object):
    return electrification_priorities(
        villages(),
        sites(),
        grid(),
        settlements_gdf=settlements(),
        communes_gdf=communes(),
        **kwargs,
    )


def test_nearer_power_unlocks_sites_and_ranks_villages() -> None:
    table = run()
    assert list(table.columns) == list(ELECTRIFICATION_COLUMNS)
    # only the unpowered villages (V3 is powered, V5 unknown)
    assert list(table["village_code"]) == ["V2", "V1", "V4"]
    assert list(table["rank"]) == [1, 2, 3]
    # V2's settlement (2500, 5000) is 5315 m from S1 (< 6000 m now) and 1118 m from S3 (< 3000);
    # S2 is 1000 m from the grid already and 1500 m from V2
    row = table.set_index("village_code")
    assert row.loc["V2", "sites_unlocked"] == ["S1", "S3"]
    assert row.loc["V2", "households_unlocked"] == 130.0
    assert row.loc["V1", "sites_unlocked"] == ["S1"]
    assert row.loc["V4", "sites_unlocked"] == []
    assert row.loc["V4", "households_unpowered"] == 10.0  # falls back to households
    assert row.loc["V2", "grid_distance_m"] == pytest.approx(2500.0)
    assert row.loc["V4", "grid_distance_m"] == pytest.approx(9250.0)
    assert row.loc["V1", "commune_name"] == "Xã Tả Phìn"
    assert row.loc["V1", "village_name"] == "Bản Một"
    assert np.isnan(row.loc["V1", "saving_vnd"])


def test_max_connection_length_limits_what_is_unlocked() -> None:
    table = run(max_connection_m=3000.0).set_index("village_code")
    assert table.loc["V2", "sites_unlocked"] == ["S3"]
    assert table.loc["V1", "sites_unlocked"] == ["S1"]
    assert list(table.index) == ["V1", "V2", "V4"]  # 100 households unlocked beat 30


def test_cost_function_counts_only_sites_that_become_cheaper() -> None:
    def cost(distance_m: float) -> float:
        # grid: 200 M + 100 000 VND per metre; solar 500 M; the cheaper wins
        return min(2e8 + 1e5 * distance_m, 5e8)

    table = run(cost_fn=cost).set_index("village_code")
    # S1 is on solar now (500 M); from V2 (5315 m) it would still be solar: no saving
    assert table.loc["V2", "sites_unlocked"] == ["S3"]
    s3_after = 2e8 + 1e5 * math.hypot(500.0, 1000.0)
    assert table.loc["V2", "saving_vnd"] == pytest.approx(5e8 - s3_after)
    s1_after = 2e8 + 1e5 * math.hypot(500.0, 500.0)
    assert table.loc["V1", "saving_vnd"] == pytest.approx(5e8 - s1_after)
    assert table.loc["V4", "saving_vnd"] == 0.0


def test_given_grid_distances_are_used_and_inputs_checked() -> None:
    s = sites().assign(distance_to_grid_m=[500.0, 1000.0, 3000.0])  # S1 already near power
    table = electrification_priorities(villages(), s, grid(), settlements_gdf=settlements())
    assert "S1" not in table.set_index("village_code").loc["V1", "sites_unlocked"]
    with pytest.raises(MissingColumnError, match="households_gained"):
        electrification_priorities(villages(), sites().drop(columns="households_gained"), grid())
    with pytest.raises(CRSError, match="projected"):
        electrification_priorities(villages().to_crs("EPSG:4326"), sites(), grid())
    empty = electrification_priorities(villages(), sites().iloc[:0], None)
    assert list(empty["village_code"]) == ["V2", "V1", "V4"]  # by households unpowered
    assert empty["grid_distance_m"].isna().all()
