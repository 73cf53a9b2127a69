"""Bounded memory: windowed DEM reads, best-server tiles merged one by one, blocked filters.

Each result is compared with the whole-raster computation on a small DEM: the
windows and blocks must change memory, never values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from conftest import write_float_dem
from covgap.data.terrain import GridWindow, Terrain, load_terrain, read_window
from covgap.planning import candidates as cand
from covgap.radio.scenario import Scenario
from covgap.radio.signal import (
    BEST_SITE_NONE,
    BEST_SITE_UNKNOWN,
    SignalTile,
    best_server,
    compute_signal,
    merge_tile,
    pack_tile,
    signal_tile,
    site_batches,
    site_signal,
    sites_window,
)

X0, Y0 = 500_000.0, 2_400_000.0
CELL = 30.0
TRANSFORM = Affine(CELL, 0.0, X0, 0.0, -CELL, Y0)


def _rough(shape: tuple[int, int], seed: int = 7) -> np.ndarray:
    """Hills and a ridge: enough relief for diffraction to matter."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    z = 600.0 + 80.0 * np.sin(rows / 9.0) * np.cos(cols / 13.0) + 3.0 * cols
    z += rng.normal(0.0, 4.0, shape)
    z[:, shape[1] // 2] += 60.0
    return z.astype(np.float32)


def _scenario(**kw: object) -> Scenario:
    base = {"radius_m": 1500.0, "k_factor": 4.0 / 3.0, "diffraction": "deygout"}
    base.update(kw)
    return Scenario(**base)


def _sites(cells: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy = np.array([[X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL] for r, c in cells])
    return xy, np.full(len(cells), 30.0), np.full(len(cells), 60.0)


SITE_CELLS = [(20, 20), (22, 25), (60, 80), (100, 30), (110, 115), (20, 20)]


@pytest.fixture(scope="module")
def dem() -> Terrain:
    return Terrain(_rough((130, 140)), TRANSFORM, CRS.from_epsg(32648))


def test_grid_window_is_clipped_to_the_grid():
    w = GridWindow.around(np.array([2, 10]), np.array([5, 7]), 4, 3, (12, 20))
    assert (w.row, w.col, w.rows, w.cols) == (0, 2, 12, 9)
    assert w.slices == (slice(0, 12), slice(2, 11))
    assert w.cells == 108


def test_terrain_window_is_a_view_with_a_shifted_transform(dem):
    w = GridWindow(10, 20, 30, 40)
    sub = dem.window(w)
    assert np.shares_memory(sub.elevation, dem.elevation)
    assert sub.shape == (30, 40)
    x, y = sub.transform.c, sub.transform.f
    assert (x, y) == (X0 + 20 * CELL, Y0 - 10 * CELL)
    px, py = np.array([x + 45.0]), np.array([y - 45.0])
    np.testing.assert_array_equal(sub.sample(px, py), dem.sample(px, py))


def test_read_window_reads_only_the_window_with_the_same_values(tmp_path, dem):
    z = dem.elevation.copy()
    z[3, 4] = -9999.0
    path = write_float_dem(tmp_path / "dem.tif", z, TRANSFORM, nodata=-9999.0)
    whole = load_terrain(path)
    w = GridWindow(2, 3, 50, 60)
    part = read_window(path, w)
    assert part.shape == (50, 60)
    assert part.transform == whole.window(w).transform
    np.testing.assert_array_equal(part.elevation, whole.window(w).elevation)
    assert np.isnan(part.elevation[1, 1])  # nodata is NaN, not -9999


def test_read_window_refuses_a_window_outside_the_grid(tmp_path, dem):
    from covgap.errors import TerrainError

    path = write_float_dem(tmp_path / "dem.tif", dem.elevation, TRANSFORM)
    with pytest.raises(TerrainError, match="outside"):
        read_window(path, GridWindow(100, 0, 50, 10))


def test_sites_window_holds_every_cell_within_the_radius(dem):
    xy, _, _ = _sites([(60, 70)])
    w = sites_window(dem.shape, dem.transform, xy, 600.0)
    # 600 m = 20 cells, plus the 2-cell margin on each side
    assert (w.row, w.col, w.rows, w.cols) == (38, 48, 45, 45)


def test_signal_tile_equals_the_whole_grid_signal(dem):
    sc = _scenario()
    xy, h, eirp = _sites(SITE_CELLS[:3])
    whole = site_signal(dem, xy, h, eirp, sc)
    tile = signal_tile(dem, xy, h, eirp, sc, keep_per_site=True)
    rs, cs = tile.window.slices
    np.testing.assert_array_equal(tile.per_site, whole[:, rs, cs])
    # nothing of these sites lies outside the window
    outside = np.ones(dem.shape, bool)
    outside[rs, cs] = False
    assert np.isnan(whole[:, outside]).all()
    rsrp, best = best_server(whole)
    np.testing.assert_array_equal(tile.rsrp, rsrp[rs, cs])
    np.testing.assert_array_equal(tile.best_site, best[rs, cs])


def test_signal_tile_from_a_window_read_from_disk(tmp_path, dem):
    sc = _scenario()
    xy, h, eirp = _sites([(60, 80)])
    path = write_float_dem(tmp_path / "dem.tif", dem.elevation, TRANSFORM)
    window = sites_window(dem.shape, dem.transform, xy, sc.radius_m)
    from_disk = signal_tile(read_window(path, window), xy, h, eirp, sc)
    in_memory = signal_tile(dem, xy, h, eirp, sc)
    # the window read from disk is its own grid: the tile covers all of it
    assert (from_disk.window.rows, from_disk.window.cols) == (window.rows, window.cols)
    np.testing.assert_array_equal(from_disk.rsrp, in_memory.rsrp)
    np.testing.assert_array_equal(from_disk.best_site, in_memory.best_site)


def test_tiles_merged_in_any_order_equal_one_best_server(dem):
    sc = _scenario()
    xy, h, eirp = _sites(SITE_CELLS)
    rsrp_ref, best_ref = best_server(site_signal(dem, xy, h, eirp, sc))
    batches = site_batches(xy, sc.radius_m, 2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(xy)))
    tiles = [signal_tile(dem, xy[b], h[b], eirp[b], sc, b) for b in batches]
    for order in (tiles, tiles[::-1]):
        rsrp = np.full(dem.shape, np.nan, np.float32)
        best = np.full(dem.shape, BEST_SITE_NONE, np.int32)
        unknown = np.zeros(dem.shape, bool)
        for tile in order:
            merge_tile(rsrp, best, unknown, tile)
        np.testing.assert_array_equal(rsrp, rsrp_ref)
        # the two sites on one cell tie: the lower index (0, not 5) wins
        np.testing.assert_array_equal(best, best_ref)
        assert (best != 5).all()


def test_compute_signal_matches_the_whole_grid_whatever_the_batch(dem):
    import geopandas as gpd
    from shapely.geometry import Point

    sc = _scenario()
    xy, _, _ = _sites(SITE_CELLS)
    gdf = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(xy))],
            "operator": ["A", "B"] * 3,
            "radio": ["LTE"] * len(xy),
            "height_m": [30.0] * len(xy),
        },
        geometry=[Point(x, y) for x, y in xy],
        crs="EPSG:32648",
    )
    ref = compute_signal(dem, gdf, sc, chunk_sites=len(xy), keep_per_site=True)
    rsrp, _ = best_server(ref.per_site)
    np.testing.assert_array_equal(ref.rsrp, rsrp)
    for chunk in (1, 2, 4):
        res = compute_signal(dem, gdf, sc, chunk_sites=chunk)
        np.testing.assert_array_equal(res.rsrp, ref.rsrp)
        np.testing.assert_array_equal(res.best_site, ref.best_site)


def test_best_server_ties_and_empty_cells():
    stack = np.full((3, 2, 2), np.nan, np.float32)
    stack[0, 0, 0] = -90.0
    stack[2, 0, 0] = -90.0
    stack[1, 0, 1] = -100.0
    stack[2, 0, 1] = -95.0
    rsrp, best = best_server(stack)
    assert best.tolist() == [[0, 2], [BEST_SITE_NONE, BEST_SITE_NONE]]
    assert rsrp[0, 0] == -90.0 and rsrp[0, 1] == -95.0 and math.isnan(rsrp[1, 1])
    rsrp, best = best_server(stack, mask=[False, True, False])
    assert best.tolist() == [[BEST_SITE_NONE, 1], [BEST_SITE_NONE, BEST_SITE_NONE]]


def test_best_server_matches_the_rule_on_a_random_stack():
    # the rule written out: the first strictly strongest layer, NaN never wins
    rng = np.random.default_rng(8)
    stack = rng.integers(-100, -96, (7, 13, 17)).astype(np.float32)  # many exact ties
    stack[rng.random(stack.shape) < 0.4] = np.nan
    mask = np.array([True, False, True, True, False, True, True])
    for chosen in (None, mask):
        rsrp, best = best_server(stack, mask=chosen)
        layers = np.arange(7) if chosen is None else np.flatnonzero(chosen)
        for r in range(13):
            for c in range(17):
                values = [(stack[k, r, c], k) for k in layers if not np.isnan(stack[k, r, c])]
                if not values:
                    assert best[r, c] == BEST_SITE_NONE and np.isnan(rsrp[r, c])
                    continue
                top = max(v for v, _ in values)
                assert rsrp[r, c] == top
                assert best[r, c] == min(k for v, k in values if v == top)
    assert best.dtype == np.int32 and rsrp.dtype == np.float32


def test_terrain_candidates_in_row_blocks_equal_one_block(dem, monkeypatch):
    settings = cand.CandidateSettings(min_spacing_m=150.0, ridge_tpi_m=5.0, shoulder_tpi_m=2.0)
    z = dem.elevation.copy()
    z[40:44, 50:53] = np.nan  # nodata near a block edge
    grid = Terrain(z, TRANSFORM, dem.crs)
    whole = cand.terrain_candidates(grid, settings)
    assert len(whole) > 20
    monkeypatch.setattr(cand, "BLOCK_CELLS", 7 * z.shape[1])  # 7-row blocks, halo wider
    blocked = cand.terrain_candidates(grid, settings)
    assert blocked.equals(whole)


def test_no_generated_candidates_when_the_users_fill_the_list(dem, tmp_path, caplog):
    from pyproj import Transformer

    to_ll = Transformer.from_crs(32648, 4326, always_xy=True)
    rows = []
    for i, (r, c) in enumerate([(20, 20), (60, 80), (100, 30)]):
        lon, lat = to_ll.transform(X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL)
        rows.append(f"U{i + 1},{lon:.7f},{lat:.7f}")
    csv_path = tmp_path / "sites_candidates.csv"
    csv_path.write_text("candidate_id,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    settings = cand.CandidateSettings(max_candidates=3, min_spacing_m=150.0)
    with caplog.at_level("WARNING", logger="covgap.planning.candidates"):
        out = cand.find_candidates(dem, user_csv=csv_path, settings=settings)
    assert out["candidate_id"].tolist() == ["U1", "U2", "U3"]
    assert "fill max_candidates=3" in caplog.text
    # with room left, terrain candidates follow the users'
    more = cand.find_candidates(dem, user_csv=csv_path, settings=settings.with_overrides(
        max_candidates=50))  # fmt: skip
    assert len(more) > 3 and set(more["source"]) == {"user", "terrain"}


def test_signal_tile_from_dem_merges_like_the_in_memory_tiles(tmp_path, dem):
    from covgap.radio.signal import signal_tile_from_dem

    sc = _scenario()
    xy, h, eirp = _sites(SITE_CELLS)
    path = write_float_dem(tmp_path / "dem.tif", dem.elevation, TRANSFORM)
    rsrp_ref, best_ref = best_server(site_signal(dem, xy, h, eirp, sc))
    rsrp = np.full(dem.shape, np.nan, np.float32)
    best = np.full(dem.shape, BEST_SITE_NONE, np.int32)
    unknown = np.zeros(dem.shape, bool)
    for b in site_batches(xy, sc.radius_m, 2):
        tile = signal_tile_from_dem(path, xy[b], h[b], eirp[b], sc, b)
        assert tile.window == signal_tile(dem, xy[b], h[b], eirp[b], sc, b).window
        merge_tile(rsrp, best, unknown, tile)
    np.testing.assert_array_equal(rsrp, rsrp_ref)
    np.testing.assert_array_equal(best, best_ref)


def _merge_rule(rsrp, best, unknown, tile) -> None:
    """The merge rule written out with whole-array operations (the reference)."""
    rs, cs = tile.window.slices
    cur, cur_best, new = rsrp[rs, cs], best[rs, cs], tile.rsrp
    win = (
        (new > cur)
        | (np.isnan(cur) & ~np.isnan(new))
        | ((new == cur) & (tile.best_site < cur_best))
    )
    cur[win] = new[win]
    cur_best[win] = tile.best_site[win]
    unknown[rs, cs] |= tile.unknown


def _random_tiles(rng, shape, n_tiles, n_sites):
    """Tiles with coarse signal levels (many exact ties), NaN holes and unknown cells."""
    tiles = []
    for _ in range(n_tiles):
        h, w = rng.integers(1, shape[0] + 1), rng.integers(1, shape[1] + 1)
        r, c = rng.integers(0, shape[0] - h + 1), rng.integers(0, shape[1] - w + 1)
        rsrp = rng.integers(-100, -95, (h, w)).astype(np.float32)
        best = rng.integers(0, n_sites, (h, w)).astype(np.int32)
        hole = rng.random((h, w)) < 0.3
        rsrp[hole] = np.nan
        best[hole] = BEST_SITE_NONE
        unknown = hole & (rng.random((h, w)) < 0.5)
        tiles.append(SignalTile(GridWindow(int(r), int(c), int(h), int(w)), rsrp, best, unknown))
    return tiles


def _empty(shape):
    return (
        np.full(shape, np.nan, np.float32),
        np.full(shape, BEST_SITE_NONE, np.int32),
        np.zeros(shape, bool),
    )


def test_compiled_merge_follows_the_rule_on_ties_holes_and_unknowns():
    rng = np.random.default_rng(3)
    shape = (17, 23)
    tiles = _random_tiles(rng, shape, 12, 40)
    expected, got = _empty(shape), _empty(shape)
    for tile in tiles:
        _merge_rule(*expected, tile)
        merge_tile(*got, tile)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(g, e)
    assert (got[1] >= 0).sum() > 100 and got[2].any()  # the case is not trivial
    # any order: the same rasters
    again = _empty(shape)
    for i in rng.permutation(len(tiles)):
        merge_tile(*again, tiles[i])
    for e, g in zip(expected, again, strict=True):
        np.testing.assert_array_equal(g, e)


def test_packed_tiles_are_smaller_and_merge_the_same():
    rng = np.random.default_rng(4)
    shape = (15, 19)
    sites = np.array([3, 40, 41, 199, 500])
    tiles = _random_tiles(rng, shape, 6, len(sites))
    tiles = [
        SignalTile(
            t.window,
            t.rsrp,
            np.where(t.best_site >= 0, sites[np.maximum(t.best_site, 0)], t.best_site).astype(
                np.int32
            ),
            t.unknown,
        )
        for t in tiles
    ]
    tiles[0] = SignalTile(
        tiles[0].window, tiles[0].rsrp, tiles[0].best_site, np.zeros_like(tiles[0].unknown)
    )
    plain, packed = _empty(shape), _empty(shape)
    for tile in tiles:
        small = pack_tile(tile, sites[::-1])  # any order of the task's sites
        assert small.best_site.dtype == np.int8 and small.sites.tolist() == sorted(sites)
        assert small.best_site.nbytes * 4 == tile.best_site.nbytes
        merge_tile(*plain, tile)
        merge_tile(*packed, small)
    assert pack_tile(tiles[0], sites).unknown is None
    for a, b in zip(plain, packed, strict=True):
        np.testing.assert_array_equal(b, a)
    # 300 sites need two bytes; -2 (unknown) survives the packing
    many = np.arange(0, 600, 2)
    tile = SignalTile(
        GridWindow(0, 0, 1, 3),
        np.array([[-90.0, np.nan, np.nan]], np.float32),
        np.array([[598, BEST_SITE_NONE, BEST_SITE_UNKNOWN]], np.int32),
        np.array([[False, False, True]]),
    )
    small = pack_tile(tile, many)
    assert small.best_site.dtype == np.int16
    assert small.best_site.tolist() == [[299, BEST_SITE_NONE, BEST_SITE_UNKNOWN]]
    with pytest.raises(ValueError, match="not among the task's sites"):
        pack_tile(tile, many[:-1])


def test_merge_tile_refuses_a_tile_outside_the_rasters():
    rasters = _empty((4, 4))
    tile = SignalTile(
        GridWindow(2, 2, 3, 3),
        np.zeros((3, 3), np.float32),
        np.zeros((3, 3), np.int32),
        np.zeros((3, 3), bool),
    )
    with pytest.raises(ValueError, match="outside"):
        merge_tile(*rasters, tile)


def test_batches_keep_every_numba_thread_busy(dem, monkeypatch):
    # a batch's sites run one per thread: on a machine with 8 threads a batch has 8 sites
    import geopandas as gpd
    import numba
    from shapely.geometry import Point

    from covgap.executor import Executor, SerialExecutor
    from covgap.radio import signal

    assert signal._chunk_sites(SerialExecutor()) == max(4, numba.get_num_threads())
    remote = Executor()
    remote.local = False
    monkeypatch.setattr(numba, "get_num_threads", lambda: 8)
    assert signal._chunk_sites(SerialExecutor()) == 8
    assert signal._chunk_sites(remote) == signal.CHUNK_SITES  # cluster tasks: one thread each
    seen: list[int] = []
    real = signal.site_batches
    monkeypatch.setattr(
        signal, "site_batches", lambda xy, r, batch: seen.append(batch) or real(xy, r, batch)
    )
    xy, _, _ = _sites(SITE_CELLS)
    gdf = gpd.GeoDataFrame(
        {"site_id": [f"S{i}" for i in range(len(xy))], "operator": "A", "radio": "LTE",
         "height_m": 30.0},
        geometry=[Point(x, y) for x, y in xy],
        crs="EPSG:32648",
    )  # fmt: skip
    wide = compute_signal(dem, gdf, _scenario())
    assert seen == [8]
    narrow = compute_signal(dem, gdf, _scenario(), chunk_sites=1)
    np.testing.assert_array_equal(wide.rsrp, narrow.rsrp)
    np.testing.assert_array_equal(wide.best_site, narrow.best_site)
