import logging

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from conftest import write_float_dem
from covgap.data.terrain import Terrain, check_coverage, load_terrain
from covgap.errors import CRSError, TerrainError

X0, Y0 = 500_000.0, 2_400_000.0


def write_dem(path, z, crs="EPSG:32648", transform=None, nodata=None):
    return write_float_dem(path, z, transform or Affine(30.0, 0.0, X0, 0.0, -30.0, Y0), crs, nodata)


def test_metric_dem_is_read_as_is_with_nodata_as_nan(tmp_path):
    z = np.arange(12, dtype=float).reshape(3, 4) * 10 + 100
    z[1, 2] = -32768
    t = load_terrain(write_dem(tmp_path / "d.tif", z, nodata=-32768))
    assert t.shape == (3, 4) and t.resolution == (30.0, 30.0)
    assert t.crs.to_epsg() == 32648
    assert np.isnan(t.elevation[1, 2]) and t.elevation[0, 0] == 100.0
    assert t.bounds == (X0, Y0 - 90.0, X0 + 120.0, Y0)


def test_geographic_dem_is_reprojected_to_utm_metres(tmp_path):
    # 0.001 degree cells at 22 N are ~103 m x 111 m, never "0.001 m"
    z = np.full((50, 60), 800.0)
    z[:, 30:] = 1200.0
    tr = Affine(0.001, 0.0, 103.30, 0.0, -0.001, 22.00)
    t = load_terrain(write_dem(tmp_path / "g.tif", z, crs="EPSG:4326", transform=tr))
    assert t.crs.to_epsg() == 32648
    dx, dy = t.resolution
    assert dx == pytest.approx(dy) and 90.0 < dx < 115.0
    width = t.bounds[2] - t.bounds[0]
    assert 5_500.0 < width < 6_700.0  # 0.06 degree of longitude at 22 N = 6.19 km
    finite = t.elevation[np.isfinite(t.elevation)]
    assert finite.min() >= 800.0 - 1e-3 and finite.max() <= 1200.0 + 1e-3


def test_reprojection_to_a_given_crs_and_resolution(tmp_path):
    dem = write_dem(tmp_path / "d.tif", np.full((40, 40), 300.0))
    t = load_terrain(dem, crs="EPSG:3405", resolution=50.0)  # VN-2000 / UTM 48N
    assert t.crs.to_epsg() == 3405 and t.resolution == (50.0, 50.0)


def test_geographic_target_crs_is_refused(tmp_path):
    dem = write_dem(tmp_path / "d.tif", np.full((4, 4), 300.0))
    with pytest.raises(CRSError):
        load_terrain(dem, crs="EPSG:4326")


def test_unreadable_and_implausible_dems(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff")
    with pytest.raises(TerrainError, match="cannot read"):
        load_terrain(bad)
    with pytest.raises(TerrainError, match="implausible"):
        load_terrain(write_dem(tmp_path / "i.tif", np.full((3, 3), -32768.0)))
    with pytest.raises(TerrainError, match="nodata"):
        load_terrain(write_dem(tmp_path / "n.tif", np.full((3, 3), 5.0), nodata=5.0))


def test_dem_without_crs_is_refused(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=3,
        width=3,
        count=1,
        dtype="float32",
        transform=Affine(30.0, 0.0, X0, 0.0, -30.0, Y0),
    ) as dst:
        dst.write(np.ones((3, 3), np.float32), 1)
    with pytest.raises(TerrainError, match="no CRS"):
        load_terrain(path)


def make(z, cell=10.0):
    return Terrain(
        np.asarray(z, np.float32), Affine(cell, 0.0, 0.0, 0.0, -cell, 100.0), CRS("EPSG:32648")
    )


def test_sample_is_bilinear_between_cell_centres():
    t = make([[0.0, 10.0], [20.0, 30.0]])  # centres at x 5, 15 and y 95, 85
    got = t.sample(np.array([5.0, 10.0, 10.0, 15.0, 2.0]), np.array([95.0, 95.0, 90.0, 85.0, 99.0]))
    np.testing.assert_allclose(got, [0.0, 5.0, 15.0, 30.0, 0.0])


def test_sample_is_nan_outside_and_next_to_nodata():
    t = make([[0.0, np.nan], [20.0, 30.0]])
    got = t.sample(np.array([-1.0, 10.0, 5.0]), np.array([90.0, 90.0, 90.0]))
    assert np.isnan(got[0]) and np.isnan(got[1])
    assert got[2] == pytest.approx(10.0)  # column of centres without the hole


def test_coverage_warning(caplog):
    t = make(np.zeros((100, 100)))  # 1 km square from (0, 0) to (1000, 100 - 1000)
    assert t.covers(500.0, -400.0, 300.0)
    with caplog.at_level(logging.WARNING, logger="covgap.data.terrain"):
        msgs = check_coverage(
            t, [("A", 500.0, -400.0), ("B", 900.0, -400.0), ("C", 5000.0, -400.0)], 300.0
        )
    assert len(msgs) == 2
    assert "radius of 1 site(s) (B)" in msgs[0]
    assert "does not contain 1 site(s) (C)" in msgs[1]
    assert "(B)" in caplog.text and "(A" not in caplog.text and "A," not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="covgap.data.terrain"):
        assert check_coverage(t, [("B", 900.0, -400.0)], 300.0, log=False) == msgs[:1]
    assert caplog.text == ""
