import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_float_dem
from covgap.data.terrain import Terrain
from covgap.errors import CRSError
from covgap.radio.visibility import (
    NOT_VISIBLE,
    UNKNOWN,
    VISIBLE,
    single_thread,
    viewshed,
    viewshed_states,
    write_viewshed_tiffs,
)

UTM48 = "EPSG:32648"


def from_origin(x, y, dx, dy):
    return Affine(dx, 0.0, x, 0.0, -dy, y)


X0, Y0 = 500_000.0, 2_400_000.0


def terrain(z, cell=10.0):
    from pyproj import CRS

    return Terrain(np.asarray(z, np.float32), from_origin(X0, Y0, cell, cell), CRS(UTM48))


def centre(t, row, col):
    return (
        t.transform.c + (col + 0.5) * t.transform.a,
        t.transform.f + (row + 0.5) * t.transform.e,
    )


def offsets(t, row, col):
    rows, cols = np.indices(t.shape)
    dx, dy = t.resolution
    return (cols - col) * dx, (rows - row) * dy


def test_flat_terrain_visible_to_the_curvature_horizon():
    # 100 m cells, observer 30 m, target 1.5 m, cc = 0.75: over a flat earth the
    # sight line grazes the bulge; the horizon is sqrt(2R'h1) + sqrt(2R'h2)
    # with 2R' = 12 740 000 / cc.
    t = terrain(np.full((401, 401), 100.0), cell=100.0)
    states = viewshed_states(t, [centre(t, 200, 200)], 1e9, 30.0, 1.5, 0.75)[0]
    two_r = 12_740_000 / 0.75
    horizon = math.sqrt(two_r * 30.0) + math.sqrt(two_r * 1.5)
    ox, oy = offsets(t, 200, 200)
    d = np.hypot(ox, oy)
    assert (states[d <= horizon - 150.0] == VISIBLE).all()
    assert (states[d >= horizon + 150.0] == NOT_VISIBLE).all()
    assert not (states == UNKNOWN).any()


def test_flat_terrain_without_curvature_is_all_visible_within_radius():
    t = terrain(np.full((81, 81), 250.0), cell=30.0)
    states = viewshed_states(t, [centre(t, 40, 40)], 900.0, 10.0, 1.5, 0.0)[0]
    ox, oy = offsets(t, 40, 40)
    within = np.hypot(ox, oy) <= 900.0
    assert (states[within] == VISIBLE).all()
    assert (states[~within] == NOT_VISIBLE).all()


def test_single_wall_casts_the_analytic_shadow():
    # ground 0, observer at 30 m, a 20 m wall 200 m east: the line over the
    # wall top falls 10 m per 200 m and reaches the 1.5 m target height at
    # x = 28.5 / (10 / 200) = 570 m; the shadow is 200 m < x < 570 m
    z = np.zeros((121, 121))
    z[:, 80] = 20.0  # observer column 60, wall 20 cells east
    t = terrain(z)
    states = viewshed_states(t, [centre(t, 60, 60)], 1e9, 30.0, 1.5, 0.0)[0]
    ox, _ = offsets(t, 60, 60)
    rows = slice(30, 91)  # sight lines that cross the (full-height) wall
    east = states[rows]
    x = ox[rows]
    assert (east[x <= 200.0] == VISIBLE).all()
    assert (east[(x > 200.0) & (x < 570.0)] == NOT_VISIBLE).all()
    assert (east[x > 575.0] == VISIBLE).all()  # x = 570 is the grazing ray itself
    assert (states[:, :60] == VISIBLE).all()  # nothing blocks the west


def test_nodata_is_unknown_never_sea_level():
    # a valley floor of 0 m would make the far cells invisible if nodata were
    # read as 0; they must be unknown instead, and the nodata cells too
    z = np.full((61, 61), 100.0)
    z[30, 40:43] = np.nan
    t = terrain(z)
    states = viewshed_states(t, [centre(t, 30, 30)], 1e9, 2.0, 1.5, 0.0)[0]
    assert (states[30, 40:43] == UNKNOWN).all()
    assert (states[30, 43:] == UNKNOWN).all()  # straight behind the hole
    assert (states[30, 31:40] == VISIBLE).all()
    assert (states[:, :30] == VISIBLE).all()
    assert not (states == VISIBLE)[30, 40:].any()


def test_known_blocking_wins_over_unknown():
    z = np.full((41, 61), 0.0)
    z[:, 35] = 50.0  # a wall no sight line clears
    z[20, 45] = np.nan  # a hole behind it
    t = terrain(z)
    states = viewshed_states(t, [centre(t, 20, 20)], 1e9, 10.0, 1.5, 0.0)[0]
    assert states[20, 50] == NOT_VISIBLE
    assert states[20, 45] == UNKNOWN


def test_observer_on_nodata_makes_everything_in_radius_unknown():
    z = np.full((21, 21), 5.0)
    z[10, 10] = np.nan
    t = terrain(z)
    states = viewshed_states(t, [centre(t, 10, 10)], 50.0, 10.0, 1.5, 0.75)[0]
    ox, oy = offsets(t, 10, 10)
    within = np.hypot(ox, oy) <= 50.0
    assert (states[within] == UNKNOWN).all()
    assert (states[~within] == NOT_VISIBLE).all()


@settings(max_examples=25, deadline=None)
@given(
    z=st.lists(st.integers(0, 60), min_size=13 * 13, max_size=13 * 13),
    row=st.integers(0, 12),
    col=st.integers(0, 12),
    low=st.floats(0.5, 40.0),
    extra=st.floats(0.1, 40.0),
)
def test_raising_the_mast_never_reduces_coverage(z, row, col, low, extra):
    t = terrain(np.array(z, float).reshape(13, 13))
    xy = [centre(t, row, col)] * 2
    states = viewshed_states(t, xy, 1e9, np.array([low, low + extra]), 1.5, 0.75)
    assert not ((states[0] == VISIBLE) & (states[1] != VISIBLE)).any()


def test_single_thread_gives_the_same_result():
    rng = np.random.default_rng(3)
    t = terrain(rng.uniform(0, 80, (40, 50)))
    xy = [centre(t, 5, 5), centre(t, 30, 40), centre(t, 20, 10)]
    many = viewshed_states(t, xy, 300.0, 20.0, 1.5, 0.75)
    with single_thread():
        one = viewshed_states(t, xy, 300.0, 20.0, 1.5, 0.75)
    np.testing.assert_array_equal(many, one)


def write_dem(path, z, crs=UTM48, transform=None, nodata=None):
    return write_float_dem(path, z, transform or from_origin(X0, Y0, 10.0, 10.0), crs, nodata)


def test_public_viewshed_is_boolean_and_aligned(tmp_path):
    z = np.zeros((30, 40))
    z[:, 25] = 100.0
    dem = write_dem(tmp_path / "dem.tif", z)
    obs = [(X0 + 105.0, Y0 - 155.0), (X0 + 395.0, Y0 - 5.0)]
    vis = viewshed(dem, obs, 1000.0, 10.0, 1.5, 0.75)
    assert vis.dtype == bool and vis.shape == (2, 30, 40)
    assert vis[0, 15, 10] and not vis[0, 15, 35]  # behind the ridge
    assert vis[1, 0, 39]


def test_nodata_value_in_file_is_unknown_and_false(tmp_path):
    z = np.full((20, 20), 10.0)
    z[10, 12] = -9999.0
    dem = write_dem(tmp_path / "dem.tif", z, nodata=-9999.0)
    vis = viewshed(dem, [(X0 + 105.0, Y0 - 105.0)], 1000.0, 1.0, 1.5, 0.0)
    assert not vis[0, 10, 12] and not vis[0, 10, 15]
    assert vis[0, 10, 11]


def test_geographic_dem_is_refused(tmp_path):
    dem = write_dem(
        tmp_path / "dem.tif",
        np.zeros((10, 10)),
        crs="EPSG:4326",
        transform=from_origin(103.0, 22.0, 0.001, 0.001),
    )
    with pytest.raises(CRSError, match="projected"):
        viewshed(dem, [(103.005, 21.995)], 500.0)


def test_write_viewshed_tiffs_atomic_and_deterministic(tmp_path):
    z = np.full((20, 30), 50.0)
    z[5, 9] = np.nan
    dem = write_dem(tmp_path / "dem.tif", z)
    obs = [(X0 + 55.0, Y0 - 55.0), (X0 + 255.0, Y0 - 105.0)]
    paths = write_viewshed_tiffs(dem, obs, tmp_path / "a", 120.0, 10.0, 1.5, 0.75)
    again = write_viewshed_tiffs(dem, obs, tmp_path / "b", 120.0, 10.0, 1.5, 0.75)
    assert [p.name for p in paths] == ["viewshed_001.tif", "viewshed_002.tif"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [p.name for p in paths]
    for p, q in zip(paths, again, strict=True):
        assert p.read_bytes() == q.read_bytes()
    with rasterio.open(paths[0]) as src:
        data = src.read(1)
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.transform == from_origin(X0, Y0, 10.0, 10.0)
    assert data[5, 9] == 255 and data[5, 11] == 255  # nodata, and the cell behind it
    assert data[5, 7] == 1 and data[19, 29] == 0  # visible; beyond the radius


def test_windowed_batch_equals_the_full_grid_kernel():
    # the batch entry point writes each site into a reusable (2h+1)^2 window;
    # it must hold exactly the full-grid result, also for sites near the edges
    # (parts of their windows fall outside the grid) and with nodata around
    from covgap.radio import _raycast

    rng = np.random.default_rng(5)
    z = rng.uniform(0, 60, (47, 53)).astype(np.float32)
    z[20:23, 30] = np.nan
    zp, zpt = _raycast.layouts(z)
    rc = np.array([[2, 3], [23, 26], [45, 50], [0, 52], [21, 30]], np.int64)
    heights = np.array([20.0, 5.0, 30.0, 12.0, 10.0])
    radius, dx, dy = 180.0, 10.0, 12.0
    full = _raycast.viewshed_many(zp, zpt, rc, heights, 1.5, radius, dx, dy, 0.75, 1)
    hr, hc = _raycast.window_half(radius, dx, dy, *z.shape)
    win = np.full((len(rc), 2 * hr + 1, 2 * hc + 1), 7, np.uint8)
    for _ in range(2):  # reused buffer: the second pass rewrites every cell in reach
        _raycast.viewshed_windows(zp, zpt, rc, heights, 1.5, radius, dx, dy, 0.75, 1, win)
    for s, (r0, c0) in enumerate(rc):
        rows = np.arange(r0 - hr, r0 + hr + 1)
        cols = np.arange(c0 - hc, c0 + hc + 1)
        ok_r = (rows >= 0) & (rows < z.shape[0])
        ok_c = (cols >= 0) & (cols < z.shape[1])
        got = win[s][np.ix_(ok_r, ok_c)]
        want = full[s][np.ix_(rows[ok_r], cols[ok_c])]
        dyy, dxx = np.meshgrid((rows[ok_r] - r0) * dy, (cols[ok_c] - c0) * dx, indexing="ij")
        within = dxx**2 + dyy**2 <= radius**2
        np.testing.assert_array_equal(got[within], want[within])
        assert (got[~within] == 7).all()  # untouched outside the radius
        assert (want[~within] == NOT_VISIBLE).all()
    assert (full[4] == UNKNOWN).sum() > 0  # the site on nodata
