"""Land cover: clutter once per class, foliage growing with vegetation, loader errors."""

import dataclasses
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS
from shapely.geometry import Point

from covgap.data.terrain import Terrain
from covgap.errors import DatasetError, DEMError
from covgap.radio.landcover import read_landcover, with_landcover
from covgap.radio.scenario import Scenario
from covgap.radio.signal import compute_signal

X0, Y0 = 500_000.0, 2_400_000.0
CELL = 20.0
N = 81  # site at the centre cell (40, 40)


def flat(classes=None):
    t = Terrain(
        np.zeros((N, N), np.float32), Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), CRS("EPSG:32648")
    )
    return t if classes is None else dataclasses.replace(t, landcover=classes.astype(np.uint8))


def centre(row, col):
    return X0 + (col + 0.5) * CELL, Y0 - (row + 0.5) * CELL


def sites(*cells):
    return gpd.GeoDataFrame(
        {
            "site_id": [f"S{i}" for i in range(len(cells))],
            "operator": ["A"] * len(cells),
            "height_m": [30.0] * len(cells),
        },
        geometry=[Point(*centre(r, c)) for r, c in cells],
        crs="EPSG:32648",
    )


def scen(**kw):
    base = dict(radius_m=700.0, k_factor=math.inf, model="free_space", diffraction="none")
    base.update(kw)
    return Scenario(**base)


def stripes():
    """Classes by column band: grassland, tree cover, built-up, cropland, water."""
    classes = np.full((N, N), 30, np.uint8)
    classes[:, 10:20] = 10
    classes[:, 20:30] = 50
    classes[:, 50:60] = 40
    classes[:, 60:70] = 80
    return classes


def test_clutter_loss_is_applied_once_per_class():
    clutter = {10: 4.8, 30: 0.0, 40: 1.5, 50: 1.0, 80: 0.3}
    s = scen(clutter_loss_db=clutter, foliage_db_per_m={})
    two = sites((40, 40), (40, 41))
    bare = compute_signal(flat(), two, s, keep_per_site=True)
    covered = compute_signal(flat(stripes()), two, s, keep_per_site=True)
    classes = stripes()
    for code, loss in clutter.items():
        cells = (classes == code) & np.isfinite(bare.rsrp)
        assert cells.sum() > 50
        # each site's raster, and the best server over both, lose the class's loss exactly once
        for k in range(2):
            reached = cells & np.isfinite(bare.per_site[k])
            diff = bare.per_site[k][reached] - covered.per_site[k][reached]
            assert np.allclose(diff, loss, atol=1e-4)
        assert np.allclose((bare.rsrp - covered.rsrp)[cells], loss, atol=1e-4)


def test_foliage_loss_grows_with_vegetation_metres():
    s = scen(clutter_loss_db={}, foliage_db_per_m={10: 0.2}, foliage_max_db=30.0)
    classes = np.full((N, N), 30, np.uint8)
    classes[:, 0:35] = 10  # forest west of the site, up to 5 cells (100 m) from it
    one = sites((40, 40))
    bare = compute_signal(flat(), one, s).rsrp
    rsrp = compute_signal(flat(classes), one, s).rsrp
    loss = bare - rsrp
    row = 40
    # cells due west: metres of forest between the cell and the site, up to 400 m
    cols = np.arange(6, 35)
    veg = np.array([min(34 - c, 400 / CELL) * CELL for c in cols], float)
    expected = 30.0 * (1 - np.exp(-0.2 * veg / 30.0))
    assert np.allclose(loss[row, cols], expected, atol=1e-3)
    assert np.all(np.diff(loss[row, 15:35]) < 0)  # more forest on the path, more loss
    assert loss[row, 10] == pytest.approx(30.0 * (1 - math.exp(-0.2 * 400 / 30.0)), abs=1e-3)
    # east of the site: grassland all the way, no loss
    assert np.allclose(loss[row, 41:75], 0.0, atol=1e-5)
    # beyond the cap: A_m bounds it
    assert np.nanmax(loss) <= 30.0


def test_without_landcover_nothing_changes():
    s = scen()
    one = sites((40, 40))
    assert np.array_equal(
        compute_signal(flat(), one, s).rsrp,
        compute_signal(flat(), one, s.with_overrides(clutter_loss_db={10: 9.0})).rsrp,
        equal_nan=True,
    )


def write_tif(path: Path, data, transform, crs="EPSG:32648", dtype="uint8", nodata=0):
    data = np.asarray(data)
    with rasterio.open(
        path, "w", driver="GTiff", height=data.shape[0], width=data.shape[1], count=1,
        dtype=dtype, crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data.astype(dtype), 1)
    return path


def test_landcover_is_resampled_onto_the_dem_grid(tmp_path: Path):
    # a 10 m WorldCover-like grid in another CRS-aligned resolution
    fine = np.repeat(np.repeat(stripes(), 2, axis=0), 2, axis=1)
    path = write_tif(tmp_path / "lc.tif", fine, Affine(10.0, 0, X0, 0, -10.0, Y0))
    terrain, warnings = with_landcover(flat(), path)
    assert warnings == []
    assert np.array_equal(terrain.landcover, stripes())


def test_partial_landcover_warns(tmp_path: Path):
    half = stripes()[:, :40]
    path = write_tif(tmp_path / "lc.tif", half, Affine(CELL, 0, X0, 0, -CELL, Y0))
    classes, warnings = read_landcover(path, flat())
    assert (classes[:, 40:] == 0).all()
    assert len(warnings) == 1 and "covers 49.4% of the DEM" in warnings[0]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("crs", "has no CRS"),
        ("far", "does not overlap the DEM"),
        ("class", "value 33 is not an ESA WorldCover class"),
    ],
)
def test_landcover_errors_are_one_line(tmp_path: Path, kind, message):
    path = tmp_path / "lc.tif"
    data = stripes()
    transform = Affine(CELL, 0, X0, 0, -CELL, Y0)
    if kind == "crs":
        write_tif(path, data, transform, crs=None)
    elif kind == "far":
        write_tif(path, data, Affine(CELL, 0, X0 + 1e6, 0, -CELL, Y0))
    else:
        data[3, 3] = 33
        write_tif(path, data, transform)
    with pytest.raises(DEMError, match=message) as info:
        read_landcover(path, flat())
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    assert isinstance(info.value, DatasetError)


def test_scenario_tables_are_checked():
    with pytest.raises(ValueError, match="'15' is not a WorldCover class"):
        Scenario(clutter_loss_db={"15": 1.0})
    with pytest.raises(ValueError, match="class 10: 99 is outside"):
        Scenario(clutter_loss_db={"10": 99})
    assert Scenario(foliage_db_per_m={"20": 0.1}).foliage_db_per_m == ((20, 0.1),)


def test_dataset_landcover_reaches_the_analysis(make_dataset):
    from covgap.analysis import analyse

    root = make_dataset()
    plain = analyse(root)
    write_tif(
        root / "terrain" / "landcover.tif",
        np.full((200, 200), 50),
        Affine(30.0, 0.0, 326_400.0, 0.0, -30.0, 2_431_500.0),
    )
    built = analyse(root)
    assert built.dataset.landcover_path == root / "terrain" / "landcover.tif"
    assert "land cover: " in "\n".join(built.dataset.describe())
    known = np.isfinite(plain.signal.rsrp)
    assert known.sum() > 1000
    # built-up everywhere, no foliage classes: exactly the built-up clutter loss
    assert np.allclose((plain.signal.rsrp - built.signal.rsrp)[known], 1.0, atol=1e-4)


def test_compiled_terms_match_the_numpy_reference():
    from covgap.radio.landcover import landcover_loss_db
    from covgap.radio.sectors import site_window

    rng = np.random.default_rng(4)
    classes = rng.choice(np.array([10, 20, 30, 50, 95], np.uint8), size=(N, N))
    s = scen(clutter_loss_db={10: 4.8, 50: 1.0}, foliage_db_per_m={10: 0.2, 20: 0.1, 95: 0.25})
    one = sites((40, 40))
    bare = compute_signal(flat(), one, s).rsrp
    rsrp = compute_signal(flat(classes), one, s).rsrp
    win = site_window(flat(classes), 40, 40, s.radius_m)
    reference = landcover_loss_db(flat(classes), win, s)
    known = np.isfinite(bare[win.rows, win.cols])
    got = (bare - rsrp)[win.rows, win.cols]
    assert known.sum() > 3000
    assert np.allclose(got[known], reference[known], atol=1e-3)
