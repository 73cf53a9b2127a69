"""Point-to-point link kernel: line of sight, knife edge by hand, nodata, coverage matrix."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse
from affine import Affine

from covgap.radio import links, pathloss
from covgap.radio.scenario import Scenario

CELL = 30.0


def flat(rows: int, cols: int, height: float = 100.0, cell: float = CELL) -> np.ndarray:
    return np.full((rows, cols), height, dtype=np.float32)


def grid(cell: float = CELL, rows: int = 100) -> Affine:
    """Cell centres at x = k * cell, y = -r * cell (so x, y = 0 is the centre of cell 0, 0)."""
    return Affine(cell, 0.0, -cell / 2, 0.0, -cell, cell / 2)


# a flat-earth scenario with Deygout diffraction and free space median loss
FLAT_EARTH = Scenario(k_factor=math.inf, model="free_space", radius_m=50_000.0)


def test_flat_terrain_line_of_sight_reaches_the_curvature_horizon() -> None:
    # horizon of two 10 m antennas over a smooth earth, with GDAL's c = cc / 12 740 000:
    # L = sqrt(h1 / c) + sqrt(h2 / c)
    cc = 0.75
    c = cc / pathloss.EARTH_DIAMETER_M
    horizon = 2 * math.sqrt(10.0 / c)  # about 26.1 km
    cell = 100.0
    z = flat(3, 320, 0.0, cell)
    terrain = (z, Affine(cell, 0.0, -cell / 2, 0.0, -cell, 1.5 * cell))
    a = [[0.0, 0.0]]
    b = [[0.97 * horizon, 0.0], [1.03 * horizon, 0.0]]
    seen = links.line_of_sight(terrain, a, 10.0, b, 10.0, cc)
    assert seen.tolist() == [[True, False]]
    # a flat earth sees everything
    assert links.line_of_sight(terrain, a, 10.0, b, 10.0, 0.0).all()
    # max distance cuts the pairs beyond it
    assert links.line_of_sight(terrain, a, 10.0, b, 10.0, 0.0, max_distance_m=1000.0).sum() == 0


def test_a_wall_blocks_and_a_lower_one_does_not() -> None:
    z = flat(5, 101, 0.0)
    z[:, 50] = 40.0  # a wall at x = 1500 m
    terrain = (z, grid())
    a, b = [[0.0, 0.0]], [[3000.0, 0.0]]
    assert not links.line_of_sight(terrain, a, 30.0, b, 30.0, 0.0)[0, 0]
    z[:, 50] = 20.0
    assert links.line_of_sight(terrain, a, 30.0, b, 30.0, 0.0)[0, 0]


def test_line_of_sight_is_symmetric_on_rough_terrain() -> None:
    rng = np.random.default_rng(7)
    z = (rng.random((60, 60)) * 80.0).astype(np.float32)
    terrain = (z, grid())
    pts = rng.random((12, 2)) * [1700.0, -1700.0]
    heights = rng.random(12) * 25.0
    ab = links.line_of_sight(terrain, pts, heights, pts, heights, 0.75)
    assert np.array_equal(ab, ab.T)
    assert ab.any()
    assert not ab.all()


def test_received_power_is_eirp_minus_median_minus_knife_edge_by_hand() -> None:
    z = flat(5, 101, 0.0)
    z[:, 50] = 50.0  # one knife edge at x = 1500, the middle of the path
    terrain = (z, grid())
    result = links.link_budget(terrain, [[0.0, 0.0]], 30.0, [[3000.0, 0.0]], 1.5, FLAT_EARTH)
    # sight line at the edge: 30 + (1.5 - 30) / 2 = 15.75 m, so h = 50 - 15.75 = 34.25 m
    wavelength = 299_792_458.0 / 900e6
    nu = 34.25 * math.sqrt(2 * 3000.0 / (wavelength * 1500.0 * 1500.0))
    j = 6.9 + 20 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1) + nu - 0.1)
    assert nu == pytest.approx(3.07, abs=0.01)
    assert j == pytest.approx(22.6, abs=0.1)
    median = 20 * math.log10(3.0) + 20 * math.log10(900.0) + 32.4478  # free space, 3 km
    expected = FLAT_EARTH.eirp_dbm - median - j + FLAT_EARTH.receiver_gain_dbi
    assert result.rsrp_dbm[0, 0] == pytest.approx(expected, abs=0.01)
    assert not result.los[0, 0]
    assert not result.unknown[0, 0]
    # the dominant edge alone gives the same loss (both side sub-paths are clear)
    single = links.link_budget(
        terrain,
        [[0.0, 0.0]],
        30.0,
        [[3000.0, 0.0]],
        1.5,
        FLAT_EARTH.with_overrides(diffraction="knife_edge"),
    )
    assert single.rsrp_dbm[0, 0] == pytest.approx(expected, abs=0.01)
    # without diffraction only the median loss remains
    none = links.link_budget(
        terrain,
        [[0.0, 0.0]],
        30.0,
        [[3000.0, 0.0]],
        1.5,
        FLAT_EARTH.with_overrides(diffraction="none"),
    )
    assert none.rsrp_dbm[0, 0] == pytest.approx(expected + j, abs=0.01)


def test_hata_median_and_per_transmitter_eirp() -> None:
    scenario = Scenario(k_factor=math.inf, diffraction="none")
    terrain = (flat(5, 101), grid())
    result = links.link_budget(
        terrain, [[0.0, 0.0], [0.0, -30.0]], [30.0, 40.0], [[2400.0, 0.0]], 1.5, scenario,
        eirp_dbm=[40.0, 30.0],
    )  # fmt: skip
    for i, (h, eirp) in enumerate([(30.0, 40.0), (40.0, 30.0)]):
        d = float(result.distance_m[i, 0])
        median = pathloss.median_loss_db(d, 900.0, h, 1.5, pathloss.MODEL_AUTO, pathloss.ENV_OPEN)
        assert result.rsrp_dbm[i, 0] == pytest.approx(eirp - median, abs=0.01)
        assert result.los[i, 0]


def test_nodata_on_the_path_is_unknown_never_sea_level() -> None:
    z = flat(5, 101)
    z[2, 40] = np.nan
    terrain = (z, grid())
    tx = [[0.0, -60.0], [0.0, 0.0]]
    rx = [[3000.0, -60.0], [3000.0, 0.0]]  # the first path runs along row 2, the second row 0
    result = links.link_budget(terrain, tx, 30.0, rx, 1.5, FLAT_EARTH)
    assert result.unknown[0, 0]
    assert np.isnan(result.rsrp_dbm[0, 0])
    assert not result.los[0, 0]
    assert not result.unknown[1, 1]
    assert np.isfinite(result.rsrp_dbm[1, 1])
    assert not links.line_of_sight(terrain, [[0.0, -60.0]], 30.0, rx[:1], 1.5, 0.0)[0, 0]


def test_off_the_dem_is_unknown_and_beyond_radius_is_not_computed() -> None:
    terrain = (flat(5, 101), grid())
    scenario = FLAT_EARTH.with_overrides(radius_m=1000.0)
    rx = [[500.0, 0.0], [2000.0, 0.0], [300.0, 900.0]]
    result = links.link_budget(terrain, [[0.0, 0.0]], 30.0, rx, 1.5, scenario)
    assert np.isfinite(result.rsrp_dbm[0, 0])
    assert np.isnan(result.rsrp_dbm[0, 1])
    assert not result.unknown[0, 1]  # out of range, not unknown
    assert result.unknown[0, 2]  # leaves the DEM
    assert result.in_range.tolist() == [[True, False, True]]


def test_sample_elevation_is_bilinear_between_cell_centres() -> None:
    z = np.array([[0.0, 10.0], [20.0, np.nan]], dtype=np.float32)
    terrain = (z, grid())
    out = links.sample_elevation(terrain, [0.0, 15.0, 0.0, 15.0, 100.0], [0.0, 0.0, -15.0, -15, 0])
    assert out[:3].tolist() == [0.0, 5.0, 10.0]
    assert np.isnan(out[3])  # touches the nodata cell
    assert np.isnan(out[4])  # off the DEM


def _points(
    xy: list[tuple[float, float]], crs: str = "EPSG:32648", **cols: list
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        cols, geometry=gpd.points_from_xy([p[0] for p in xy], [p[1] for p in xy]), crs=crs
    )


def test_coverage_matrix_and_existing_coverage_on_a_walled_valley() -> None:
    z = flat(5, 201, 0.0)
    z[:, 100] = 300.0  # a tall wall at x = 3000 m splits the strip
    terrain = (z, grid())
    scenario = FLAT_EARTH.with_overrides(threshold_dbm=-90.0, threshold_good_dbm=-80.0)
    candidates = _points([(0.0, 0.0), (6000.0, 0.0)], candidate_id=["west", "east"])
    demand = _points(
        [(1000.0, 0.0), (2500.0, 0.0), (3500.0, 0.0), (5000.0, 0.0)],
        village_code=["A", "A", "B", "B"],
        households=[10, 5, 7, 3],
    )
    covered, rsrp = links.coverage_matrix(terrain, candidates, demand, scenario)
    assert scipy.sparse.issparse(covered)
    assert covered.shape == (4, 2)
    assert covered.dtype == bool
    assert covered.toarray().tolist() == [
        [True, False],
        [True, False],
        [False, True],
        [False, True],
    ]
    assert rsrp.shape == (4, 2)
    assert rsrp.dtype == np.float32
    # a candidate on an existing site covers exactly what the site covers
    sites = _points([(6000.0, 0.0)], site_id=["S1"], height_m=[np.nan])
    served = links.existing_coverage(terrain, sites, demand, scenario)
    assert served.tolist() == covered.toarray()[:, 1].tolist()
    empty = sites.iloc[:0]
    assert not links.existing_coverage(terrain, empty, demand, scenario).any()


def test_coverage_matrix_uses_the_candidate_height() -> None:
    z = flat(5, 201, 0.0)
    z[:, 100] = 40.0
    terrain = (z, grid())
    scenario = FLAT_EARTH.with_overrides(
        threshold_dbm=-80.0, threshold_good_dbm=-70.0, diffraction="none"
    )
    # free-space median: the mast height matters only through diffraction
    low = _points([(0.0, 0.0)], candidate_id=["c"], height_m=[10.0])
    demand = _points([(6000.0, 0.0)], village_code=["A"], households=[1])
    _, rsrp_low = links.coverage_matrix(terrain, low, demand, scenario)
    with_edge = scenario.with_overrides(diffraction="deygout")
    _, rsrp_edge_low = links.coverage_matrix(terrain, low, demand, with_edge)
    high = low.assign(height_m=[80.0])
    _, rsrp_edge_high = links.coverage_matrix(terrain, high, demand, with_edge)
    assert rsrp_edge_low[0, 0] < rsrp_low[0, 0]  # the 40 m wall diffracts a 10 m mast
    assert rsrp_edge_high[0, 0] > rsrp_edge_low[0, 0]  # an 80 m mast clears it


def test_bad_inputs_are_rejected() -> None:
    terrain = (flat(5, 5), grid())
    with pytest.raises(ValueError, match="tx_xy"):
        links.link_budget(terrain, [1.0, 2.0, 3.0], 30.0, [[0.0, 0.0]], 1.5, FLAT_EARTH)
    with pytest.raises(ValueError, match="a_h"):
        links.line_of_sight(terrain, [[0.0, 0.0]], -1.0, [[30.0, 0.0]], 1.5, 0.0)
