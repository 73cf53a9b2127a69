"""ITM (Longley-Rice) point-to-point: NTIA's reference cases, validity, behaviour, area raster.

The reference cases live in ``<repo>/../shared/reference/itm/`` (NTIA/ITS's
published examples, see PROVENANCE.md there); their test is skipped where that
folder is absent. ``COVGAP_SHARED`` may point at another ``shared`` folder (a
git worktree kept elsewhere than beside it).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

import covgap
from covgap.data.terrain import Terrain
from covgap.errors import ConfigError, CoverageError, ModelValidityError
from covgap.radio import _itm, _raycast
from covgap.radio.itm import ItmParameters, itm_loss_db, site_signal_itm
from covgap.radio.scenario import Scenario, default_scenario, load_scenario
from covgap.radio.signal import compute_signal

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COVGAP_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference" / "itm"


def _reference_cases() -> list[tuple[dict[str, str], list[float]]]:
    if not (REFERENCE / "p2p.csv").is_file():
        return []
    with (REFERENCE / "p2p.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (REFERENCE / "pfls.csv").open() as handle:
        pfls = [[float(v) for v in line.split(",")] for line in handle if line.strip()]
    return list(zip(rows, pfls, strict=True))


CASES = _reference_cases()


@pytest.mark.shared
@pytest.mark.skipif(not CASES, reason="../shared/reference/itm is absent")
@pytest.mark.parametrize("case", range(max(len(CASES), 1)))
def test_ntia_reference_cases_within_a_tenth_of_a_db(case):
    row, pfl = CASES[case]
    loss = covgap.itm_loss_db(
        pfl,
        float(row["h_tx__meter"]),
        float(row["h_rx__meter"]),
        float(row["f__mhz"]),
        climate=int(row["climate"]),
        refractivity=float(row["N_0"]),
        polarization=int(row["pol"]),
        permittivity=float(row["epsilon"]),
        conductivity=float(row["sigma"]),
        mdvar=int(row["mdvar"]),
        time=float(row["time"]),
        location=float(row["location"]),
        situation=float(row["situation"]),
    )
    assert loss == pytest.approx(float(row["A__db"]), abs=0.1)


def flat(distance_m: float, spacing_m: float = 30.0, height: float = 0.0) -> np.ndarray:
    n = max(2, math.ceil(distance_m / spacing_m))
    return np.r_[n, distance_m / n, np.full(n + 1, height)]


def mode_of(pfl: np.ndarray, h_tx: float = 30.0, h_rx: float = 1.5, f: float = 900.0) -> int:
    _, err, mode = _itm.p2p_pfl(
        np.asarray(pfl, float), h_tx, h_rx, f, 5, 301.0, 1, 15.0, 0.005, 12, 50.0, 50.0, 50.0
    )
    assert err == _itm.ERR_NONE
    return mode


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"frequency_mhz": 19.9}, "frequency 19.9 MHz"),
        ({"frequency_mhz": 20_001.0}, "20-20000 MHz"),
        ({"tx_height_m": 0.4}, "transmitter height 0.4 m"),
        ({"rx_height_m": 3001.0}, "receiver height 3001 m"),
        ({"climate": 0}, "radio climate 0"),
        ({"climate": 8}, "radio climate 8"),
        ({"refractivity": 249.0}, "refractivity 249"),
        ({"refractivity": 401.0}, "refractivity 401"),
        ({"polarization": 2}, "polarization 2"),
        ({"permittivity": 0.9}, "permittivity 0.9"),
        ({"conductivity": 0.0}, "conductivity 0"),
        ({"mdvar": 4}, "mode of variability 4"),
        ({"mdvar": 14}, "mode of variability 14"),
        ({"mdvar": 34}, "mode of variability 34"),
        ({"mdvar": -1}, "mode of variability -1"),
        ({"time": 0.0}, "time percentage 0"),
        ({"time": 100.0}, "time percentage 100"),
        ({"location": 100.0}, "location percentage 100"),
        ({"situation": -1.0}, "situation percentage -1"),
        ({"climate": 2.5}, "climate must be an integer"),
    ],
)
def test_inputs_outside_the_models_validity_raise(change, fragment):
    args = {"tx_height_m": 30.0, "rx_height_m": 1.5, "frequency_mhz": 900.0}
    kwargs = {k: v for k, v in change.items() if k not in args}
    args.update({k: v for k, v in change.items() if k in args})
    with pytest.raises(ModelValidityError, match=fragment) as info:
        itm_loss_db(flat(5000.0), args["tx_height_m"], args["rx_height_m"],
                    args["frequency_mhz"], **kwargs)  # fmt: skip
    assert isinstance(info.value, CoverageError)
    assert isinstance(info.value, ValueError)


def test_limits_themselves_are_valid():
    for f in (20.0, 20_000.0):
        assert math.isfinite(itm_loss_db(flat(5000.0), 0.5, 3000.0, f))
    assert math.isfinite(itm_loss_db(flat(5000.0), 10.0, 2.0, 900.0, refractivity=250.0))


@pytest.mark.parametrize(
    ("pfl", "fragment"),
    [
        ([2, 30.0, 0.0, 0.0], "at least 3 elevations"),
        ([3, 30.0, 0.0, 0.0, 0.0], "announces 4 elevations"),
        ([2.5, 30.0, 0.0, 0.0, 0.0], "integer"),
        ([2, 0.0, 0.0, 0.0, 0.0], "spacing"),
        ([2, 30.0, 0.0, float("nan"), 0.0], "NaN"),
        ([[2, 30.0, 0.0, 0.0, 0.0]], "1-D"),
        (["a", "b"], "numbers"),
    ],
)
def test_malformed_profiles_raise(pfl, fragment):
    with pytest.raises(ModelValidityError, match=fragment):
        itm_loss_db(pfl, 30.0, 1.5, 900.0)


def test_loss_grows_with_distance_on_flat_ground():
    distances = [500, 1000, 2000, 4000, 8000, 15_000, 25_000, 40_000, 60_000]
    losses = [itm_loss_db(flat(d, 100.0), 30.0, 1.5, 900.0) for d in distances]
    assert all(b > a for a, b in itertools.pairwise(losses))
    # beyond the first kilometre the ground and the earth's curvature add to free space
    excess = [
        loss - _itm.free_space_db(d, 900.0) for d, loss in zip(distances, losses, strict=True)
    ]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(excess[2:]))


def test_line_of_sight_and_diffraction_regimes():
    assert mode_of(flat(5000.0)) == 1  # within the smooth-earth horizons
    assert mode_of(flat(40_000.0, 100.0)) == 2  # beyond them: diffraction
    assert mode_of(flat(300_000.0, 500.0), h_tx=100.0, h_rx=10.0) == 3  # far: troposcatter
    # a 150 m ridge halfway along a 10 km path costs tens of dB over flat ground
    ridge = flat(10_000.0, 50.0)
    ridge[2 + 99 : 2 + 102] = [100.0, 150.0, 100.0]
    gained = itm_loss_db(ridge, 30.0, 1.5, 900.0) - itm_loss_db(
        flat(10_000.0, 50.0), 30.0, 1.5, 900.0
    )
    assert gained > 20.0


def test_free_space_limit_for_high_antennas_on_a_short_path():
    # two antennas 200 m up, 2 km apart at 100 MHz: a clear path, ITM's
    # attenuation over free space vanishes (the two-ray term is near unity)
    loss = itm_loss_db(flat(2000.0, 100.0), 200.0, 200.0, 100.0)
    assert loss == pytest.approx(_itm.free_space_db(2000.0, 100.0), abs=0.5)
    # a low receiver on a short path stays within a few dB of free space
    near = itm_loss_db(flat(1000.0), 30.0, 1.5, 900.0)
    assert abs(near - _itm.free_space_db(1000.0, 900.0)) < 3.0


def test_continental_subtropical_and_temperate_share_the_median():
    ridge = flat(10_000.0, 50.0)
    ridge[2 + 100] = 150.0
    median = [itm_loss_db(ridge, 30.0, 1.5, 900.0, climate=c) for c in (2, 5)]
    assert median[0] == pytest.approx(median[1], abs=1e-3)
    at_90 = [itm_loss_db(ridge, 30.0, 1.5, 900.0, climate=c, time=90.0) for c in (2, 5)]
    assert at_90[0] != pytest.approx(at_90[1], abs=1e-3)
    # more time or location reliability means more loss to plan for
    assert itm_loss_db(ridge, 30.0, 1.5, 900.0, mdvar=3, location=90.0) > median[1] + 1.0


# -- scenario ----------------------------------------------------------------


def test_scenario_model_itm_and_its_parameters(tmp_path):
    path = tmp_path / "itm.toml"
    path.write_text('model = "itm"\nitm_climate = "equatorial"\nitm_time_pct = 90\n')
    scenario = load_scenario(path)
    assert scenario.model == "itm"
    assert scenario.propagation_model == "itm"
    params = scenario.itm_parameters()
    assert params == ItmParameters(climate=1, time=90.0)
    assert default_scenario().propagation_model == "auto+deygout"
    assert default_scenario().itm_parameters() == ItmParameters(climate=2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('model = "longley"', "key 'model': 'longley' is not one of auto, free_space, hata, itm"),
        ('itm_climate = "tropical"', "key 'itm_climate'"),
        ('itm_polarization = "circular"', "key 'itm_polarization'"),
        ("itm_time_pct = 100", "key 'itm_time_pct': 100 is outside (0, 100)"),
        ("itm_refractivity = 200", "key 'itm_refractivity'"),
        ("itm_conductivity = 0", "key 'itm_conductivity'"),
        ("itm_mdvar = 5", "key 'itm_mdvar': 5 is not a mode of variability"),
        ("itm_mdvar = 2.5", "key 'itm_mdvar': expected a whole number"),
        ("itm_radials = 4", "key 'itm_radials'"),
        ('model = "itm"\nmast_height_m = 0.3', "key 'mast_height_m': 0.3 m is outside ITM's"),
        ("itm_radial = 90", "unknown key 'itm_radial'; did you mean 'itm_radials'"),
    ],
)
def test_bad_itm_scenario_keys_name_the_file_and_key(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=str(path).replace("\\", "\\\\")) as info:
        load_scenario(path)
    assert fragment in str(info.value)


# -- area raster ---------------------------------------------------------------

X0, Y0, CELL = 500_000.0, 2_430_000.0, 30.0


def terrain_of(z: np.ndarray) -> Terrain:
    return Terrain(
        np.asarray(z, np.float32), Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), CRS("EPSG:32648")
    )


def rough(n: int = 161, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = 400.0 + np.cumsum(np.cumsum(rng.normal(0.0, 1.0, (n, n)), axis=0), axis=1) * 0.2
    return z - z.min() + 300.0


def area(z: np.ndarray, r0: int, c0: int, radius: float, **kw) -> np.ndarray:
    zp = _raycast.pad(np.asarray(z, np.float32))
    return site_signal_itm(
        zp, np.array([[r0, c0]]), np.array([30.0]), np.array([40.0]), receiver_height_m=1.5,
        radius_m=radius, dx=CELL, dy=CELL, frequency_mhz=900.0, params=ItmParameters(), **kw,
    )[0]  # fmt: skip


def test_area_raster_equals_point_to_point_itm_at_the_evaluation_points():
    z = rough()
    c = 80
    out = area(z, c, c, 2000.0, radials=64, step_m=240.0)
    # radial 0 runs north along the site's column: its profile is that column
    for m in (1, 3, 5, 8):
        r = c - 8 * m
        profile = z[c : r - 1 : -1, c].astype(np.float32).astype(float)
        pfl = np.r_[8 * m, CELL, profile]
        expected = 40.0 - itm_loss_db(pfl, 30.0, 1.5, 900.0)
        assert out[r, c] == pytest.approx(expected, abs=1e-3)


def test_area_raster_on_flat_ground_falls_with_distance_and_is_symmetric():
    z = np.full((161, 161), 250.0)
    out = area(z, 80, 80, 2400.0)
    for ray in (out[80, 81:], out[80, 79::-1], out[81:, 80], out[79::-1, 80]):
        known = ray[np.isfinite(ray)]
        assert len(known) == 80
        assert np.all(np.diff(known) <= 1e-4)
    assert np.array_equal(np.isnan(out), np.isnan(out.T))
    np.testing.assert_allclose(out[80, 81:], out[81:, 80], atol=1e-3)
    # outside the radius nothing is written
    assert np.isnan(out[0, 0]) and np.isfinite(out[80, 160])


def test_area_raster_nodata_makes_cells_beyond_it_unknown():
    z = np.full((121, 121), 250.0)
    z[60, 75] = np.nan  # on the radial east of the site
    out = area(z, 60, 60, 1500.0, radials=64, step_m=120.0)
    assert np.isfinite(out[60, 70])  # before the hole
    assert np.isnan(out[60, 90])  # beyond it
    assert np.isfinite(out[30, 60])  # other radials are unaffected
    site_on_hole = area(z, 60, 75, 600.0)
    assert np.isnan(site_on_hole).all()


def test_compute_signal_with_itm_scenario(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    z = rough()
    terrain = terrain_of(z)
    x = X0 + 80.5 * CELL
    y = Y0 - 80.5 * CELL
    sites = gpd.GeoDataFrame(
        {"site_id": ["A"], "operator": ["X"], "radio": ["LTE"], "height_m": [np.nan]},
        geometry=[Point(x, y)],
        crs="EPSG:32648",
    )
    scenario = Scenario(model="itm", radius_m=2000.0)
    result = compute_signal(terrain, sites, scenario)
    hata = compute_signal(terrain, sites, Scenario(radius_m=2000.0))
    inside = np.isfinite(hata.rsrp)
    assert np.isfinite(result.rsrp[inside]).mean() > 0.99
    assert np.isnan(result.rsrp[~inside]).all()
    # the same order of magnitude as Hata + Deygout, and not the same numbers
    diff = result.rsrp[inside] - hata.rsrp[inside]
    assert np.nanmedian(np.abs(diff)) < 25.0
    assert np.nanmax(np.abs(diff)) > 0.5
    bad = sites.assign(height_m=[0.2])
    with pytest.raises(ModelValidityError, match=r"height_m.*outside for site\(s\) A \(0\.2 m\)"):
        compute_signal(terrain, bad, scenario)


def test_cli_run_with_itm_names_the_model(dataset_dir, tmp_path, capsys):
    import json

    from covgap.cli import main

    scenario = tmp_path / "itm.toml"
    scenario.write_text('model = "itm"\nradius_m = 3000\n')
    out = tmp_path / "out"
    code = main(["run", "--data", str(dataset_dir), "--scenario", str(scenario),
                 "--out", str(out), "--sites", "0"])  # fmt: skip
    assert code == 0
    assert "propagation model: itm" in capsys.readouterr().out
    model = json.loads((out / "summary.json").read_text(encoding="utf-8"))["model"]
    assert model["propagation_model"] == "itm"
    assert model["compared"] == 6
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "okumura"\n')
    assert main(["run", "--data", str(dataset_dir), "--scenario", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}: key 'model': 'okumura' is not one of" in err


def test_radial_predictions_equal_point_to_point_ones():
    # the area kernel's per-radial sums give the same predictions as p2p_loss
    z = rough(n=401, seed=5)[200, :].astype(float)
    xi = 30.0
    n_all = len(z) - 1
    p0 = np.r_[0.0, np.cumsum(z)]
    p1 = np.r_[0.0, np.cumsum(np.arange(n_all + 1) * z)]
    inv = np.r_[0.0, 1.0 / (np.arange(1, n_all + 1) * xi)]
    g = np.r_[0.0, (z[1:] - z[0] - 30.0) * inv[1:]]
    s, dev = np.empty(_itm.DELTA_H_POINTS), np.empty(_itm.DELTA_H_POINTS)
    ep_r = complex(15.0, 18000.0 * 0.005 / 900.0)
    z_g = np.sqrt(ep_r - 1.0) / ep_r
    for n in (2, 3, 17, 64, 150, 333, 400):
        args = (30.0, 1.5, 900.0, 5, 301.0)
        want = _itm.p2p_loss(z, n, xi, *args, 1, 15.0, 0.005, 12, 0.0, 0.0, 0.0, s, dev)
        got = _itm._radial_loss(z, n, xi, p0, p1, g, inv, *args, z_g, 12, 0.0, 0.0, 0.0, s, dev)
        assert got[1] == want[1] == 0 and got[2] == want[2]
        assert got[0] == pytest.approx(want[0], abs=1e-6)
