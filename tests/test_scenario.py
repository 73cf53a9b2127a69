from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from covgap.errors import ConfigError
from covgap.radio import pathloss
from covgap.radio.scenario import Scenario, default_scenario, load_scenario, site_parameters

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_TOML = Path(__file__).parents[1] / "coverage" / "covgap" / "scenarios" / "default.toml"


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_toml_matches_dataclass_defaults():
    assert default_scenario() == Scenario()
    with DEFAULT_TOML.open("rb") as handle:
        data = tomllib.load(handle)
    # the packaged file spells out every field, so each default is documented there
    assert set(data) == {f for f in Scenario.__dataclass_fields__}


def test_default_values():
    s = Scenario()
    assert s.frequency_mhz == 900.0
    assert s.technology == "LTE"
    # 46 dBm over 600 subcarriers
    assert s.tx_power_dbm == pytest.approx(46 - 10 * math.log10(600), abs=0.05)
    assert s.mast_height_m == 30.0
    assert s.receiver_height_m == 1.5
    assert s.threshold_dbm == -110.0
    assert s.threshold_good_dbm == -100.0
    assert s.curvature_coef == pytest.approx(0.75)
    assert s.environment_code == pathloss.ENV_OPEN
    assert s.model_code == pathloss.MODEL_AUTO
    assert s.diffraction_code == 2
    assert s.eirp_dbm == pytest.approx(18.2 + 15.0 - 2.0)
    assert s.received_dbm(120.0) == pytest.approx(31.2 - 120.0)
    assert s.wavelength_m == pytest.approx(0.3331, abs=1e-4)


def test_load_partial_file_takes_defaults_and_file_name(tmp_path):
    path = write(tmp_path, "frequency_mhz = 1800\nenvironment = 'Suburban'\n", "lte1800.toml")
    s = load_scenario(path)
    assert s.name == "lte1800"
    assert s.frequency_mhz == 1800.0
    assert isinstance(s.frequency_mhz, float)
    assert s.environment == "suburban"
    assert s.tx_power_dbm == Scenario().tx_power_dbm


def test_flat_earth(tmp_path):
    s = load_scenario(write(tmp_path, "k_factor = inf\n"))
    assert s.curvature_coef == 0.0


def test_unknown_key_suggests_closest(tmp_path):
    path = write(tmp_path, "frequncy_mhz = 900\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message
    assert "'frequncy_mhz'" in message
    assert "did you mean 'frequency_mhz'" in message


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("frequency_mhz = 'nine hundred'", "frequency_mhz", "expected a number"),
        ("mast_height_m = true", "mast_height_m", "expected a number"),
        ("mast_height_m = -5", "mast_height_m", "outside"),
        ("covered_share = 1.5", "covered_share", "outside"),
        ("covered_share = 0", "covered_share", "outside"),
        ("k_factor = 0", "k_factor", "outside"),
        ("environment = 'jungle'", "environment", "not one of open, suburban, urban"),
        ("model = 3", "model", "expected a string"),
        ("threshold_good_dbm = -120", "threshold_good_dbm", "below threshold_dbm"),
        ("radius_m = nan", "radius_m", "outside"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, text, key, fragment):
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert repr(key) in message
    assert fragment in message


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(write(tmp_path, "frequency_mhz = = 3\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "absent.toml")


def test_out_of_model_range_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="covgap.radio.scenario"):
        load_scenario(write(tmp_path, "frequency_mhz = 2600\nmast_height_m = 20\n"))
    text = caplog.text
    assert "2000 MHz" in text
    assert "30 m" in text


def test_with_overrides():
    s = Scenario().with_overrides(mast_height_m=45, technology="lte")
    assert s.mast_height_m == 45.0
    assert s.technology == "LTE"
    assert Scenario().mast_height_m == 30.0  # original untouched (frozen)
    with pytest.raises(ConfigError, match="did you mean 'mast_height_m'"):
        Scenario().with_overrides(mast_heigth_m=45)
    with pytest.raises(ConfigError, match="'radius_m'"):
        Scenario().with_overrides(radius_m=-1)


def test_frozen():
    with pytest.raises(AttributeError):
        Scenario().frequency_mhz = 1800.0  # type: ignore[misc]


def test_direct_construction_validates():
    with pytest.raises(ConfigError, match="'receiver_height_m'"):
        Scenario(receiver_height_m=0)


def sites_frame(**columns) -> gpd.GeoDataFrame:
    data = {"site_id": ["A", "B", "C"], **columns}
    geometry = [Point(500_000, 2_400_000), Point(501_000, 2_401_000), Point(502_000, 2_400_500)]
    return gpd.GeoDataFrame(data, geometry=geometry, crs="EPSG:32648")


def test_site_parameters_fill_heights_from_scenario():
    sites = sites_frame(height_m=[40.0, np.nan, 25.0])
    params = site_parameters(sites, Scenario())
    assert list(params["site_id"]) == ["A", "B", "C"]
    np.testing.assert_array_equal(params["x"], [500_000, 501_000, 502_000])
    np.testing.assert_array_equal(params["y"], [2_400_000, 2_401_000, 2_400_500])
    np.testing.assert_array_equal(params["height_m"], [40.0, 30.0, 25.0])
    np.testing.assert_allclose(params["eirp_dbm"], [31.2, 31.2, 31.2])
    assert params["height_m"].dtype == np.float64


def test_site_parameters_optional_power_override_and_missing_height_column():
    sites = sites_frame(tx_power_dbm=[np.nan, 21.2, np.nan])
    params = site_parameters(sites, Scenario(mast_height_m=35))
    np.testing.assert_array_equal(params["height_m"], [35.0, 35.0, 35.0])
    np.testing.assert_allclose(params["tx_power_dbm"], [18.2, 21.2, 18.2])
    np.testing.assert_allclose(params["eirp_dbm"], [31.2, 34.2, 31.2])


def test_site_parameters_rejects_bad_sites():
    with pytest.raises(ConfigError, match="'height_m' is negative for site\\(s\\) B"):
        site_parameters(sites_frame(height_m=[1.0, -2.0, 3.0]), Scenario())
    sites = sites_frame()
    sites.loc[2, "geometry"] = LineString([(0, 0), (1, 1)])
    with pytest.raises(ConfigError, match="not a point for site\\(s\\) C"):
        site_parameters(sites, Scenario())


def test_site_parameters_empty():
    empty = gpd.GeoDataFrame({"site_id": []}, geometry=[], crs="EPSG:32648")
    params = site_parameters(empty, Scenario())
    assert all(len(v) == 0 for v in params.values())
