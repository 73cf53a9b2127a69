from __future__ import annotations

import dataclasses
import importlib.resources
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from covgap.errors import ConfigError, CRSError, DatasetError
from covgap.planning.costs import (
    CostSettings,
    backhaul_cost,
    default_cost_settings,
    distance_to_lines,
    load_cost_settings,
    power_cost,
    site_cost,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VALUE_FIELDS = [f.name for f in dataclasses.fields(CostSettings) if f.name != "sources"]


def packaged_toml() -> dict:
    resource = importlib.resources.files("covgap") / "scenarios" / "costs.toml"
    return tomllib.loads(resource.read_text(encoding="utf-8"))


def simple(**changes) -> CostSettings:
    """Round numbers that make break-even distances easy to compute by hand."""
    values = dict(
        grid_connection_fixed_vnd=100.0,
        transformer_vnd=50.0,
        mv_line_vnd_per_km=1000.0,
        terrain_factor=1.5,
        grid_energy_vnd_per_year=5.0,
        solar_system_vnd=1000.0,
        solar_opex_vnd_per_year=10.0,
        microwave_link_vnd=300.0,
        microwave_max_km=20.0,
        fibre_vnd_per_km=100.0,
        fibre_max_km=10.0,
        satellite_capex_vnd=200.0,
        satellite_opex_vnd_per_year=50.0,
        evaluation_years=10,
        discount_rate=0.0,
        vnd_per_usd=25_000.0,
    )
    values.update(changes)
    return CostSettings(**values)


# -- settings ------------------------------------------------------------------
def test_packaged_file_matches_dataclass_defaults_and_documents_every_key():
    data = packaged_toml()
    sources = data.pop("sources")
    data.pop("joint")  # the joint plan's table (tests/test_joint.py)
    assert set(data) == set(VALUE_FIELDS)
    assert set(sources) == set(VALUE_FIELDS)
    assert all(isinstance(s, str) and len(s) > 20 for s in sources.values())
    assert default_cost_settings() == CostSettings()
    assert load_cost_settings() == CostSettings()


def test_mv_line_cost_is_in_line_with_the_sin_chai_project():
    s = default_cost_settings()
    # 12.455 km of 35 kV + 6 stations must fit inside the 24,160 million VND budget
    # (which also paid for the low-voltage network).
    mv_and_stations = 12.455 * s.mv_line_vnd_per_km + 6 * s.transformer_vnd
    assert 0.4 * 24_160e6 < mv_and_stations < 24_160e6
    assert "Sín Chải" in s.sources["mv_line_vnd_per_km"]


def test_assumptions_rows_cover_every_field_with_unit_and_source():
    s = default_cost_settings()
    rows = s.assumptions()
    by_key = {r["key"]: r for r in rows}
    assert len(by_key) == len(rows)
    for key in VALUE_FIELDS:
        row = by_key[key]
        assert row["value"] == getattr(s, key)
        assert row["unit"]
        assert row["source"] and row["source"] != "covgap default (see docs/costs.md)"
    assert by_key["annuity_factor"]["value"] == pytest.approx(s.annuity_factor(), abs=1e-6)
    assert by_key["grid_solar_break_even_km"]["value"] == pytest.approx(s.break_even_km(), 1e-3)
    assert set(rows[0]) == {"key", "value", "unit", "source"}


def test_annuity_factor_discounted_and_plain():
    assert simple().annuity_factor() == 10.0
    s = simple(discount_rate=0.08)
    assert s.annuity_factor() == pytest.approx(sum(1.08**-t for t in range(1, 11)))
    assert s.annuity_factor() == pytest.approx(6.710081, abs=1e-6)


def test_user_file_overrides_and_records_sources(tmp_path: Path):
    path = tmp_path / "my_costs.toml"
    path.write_text(
        "mv_line_vnd_per_km = 1_300_000_000\nfibre_max_km = 8\n"
        '[sources]\nmv_line_vnd_per_km = "PC Điện Biên, 2025"\n',
        encoding="utf-8",
    )
    s = load_cost_settings(path)
    assert s.mv_line_vnd_per_km == 1.3e9
    assert s.fibre_max_km == 8.0
    assert s.tower_capex_vnd == default_cost_settings().tower_capex_vnd
    assert s.sources["mv_line_vnd_per_km"] == "PC Điện Biên, 2025"
    assert s.sources["fibre_max_km"] == f"set in {path}"
    assert s.sources["tower_capex_vnd"] == default_cost_settings().sources["tower_capex_vnd"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "mv_line_vnd_per_kn = 1",
            "unknown key 'mv_line_vnd_per_kn'; did you mean 'mv_line_vnd_per_km'?",
        ),
        (
            '[sources]\ntower_capx_vnd = "x"',
            "unknown key 'tower_capx_vnd'; did you mean 'tower_capex_vnd'?",
        ),
        ("tower_capex_vnd = -5", "key 'tower_capex_vnd': -5 is outside [0, inf)"),
        ('tower_capex_vnd = "1 tỷ"', "key 'tower_capex_vnd': expected a number"),
        ("tower_capex_vnd = true", "expected a number"),
        ("discount_rate = 1.0", "key 'discount_rate': 1 is outside [0, 1)"),
        ("evaluation_years = 2.5", "key 'evaluation_years': expected a whole number"),
        ("terrain_factor = 0.5", "key 'terrain_factor': 0.5 is outside [1, 10]"),
        ("vnd_per_usd = 0", "key 'vnd_per_usd': 0 is outside (0, inf)"),
        ('exchange_rate_date = "January"', "expected a date as YYYY-MM"),
        ("tower_capex_vnd = ", "not valid TOML"),
    ],
)
def test_bad_files_raise_config_error_naming_file_and_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_cost_settings(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_cost_settings(tmp_path / "nope.toml")


def test_with_overrides_validates_and_marks_source():
    s = default_cost_settings().with_overrides(solar_system_vnd=800_000_000)
    assert s.solar_system_vnd == 8e8
    assert s.sources["solar_system_vnd"] == "override"
    with pytest.raises(ConfigError, match="did you mean 'solar_system_vnd'"):
        s.with_overrides(solar_sytem_vnd=1)
    with pytest.raises(ConfigError, match="outside"):
        s.with_overrides(fibre_max_km=-1)


# -- power ----------------------------------------------------------------------
def test_power_choice_flips_at_hand_computed_break_even():
    s = simple()
    # solar: 1000 + 10 x 10 years = 1100; grid: 100 + 50 + 5 x 10 + 1000/km x km = 200 + 1000 km
    # break-even: 200 + 1000 km = 1100 -> 0.9 km = 900 m
    assert s.break_even_km() == pytest.approx(0.9)
    p = power_cost([0.0, 899.0, 900.0, 901.0, 5000.0], s)
    assert list(p.option) == ["grid", "grid", "grid", "solar", "solar"]
    np.testing.assert_allclose(p.grid_vnd, [200.0, 1099.0, 1100.0, 1101.0, 5200.0])
    np.testing.assert_allclose(p.solar_vnd, 1100.0)
    np.testing.assert_allclose(p.cost_vnd, [200.0, 1099.0, 1100.0, 1100.0, 1100.0])
    np.testing.assert_allclose(p.capex_vnd, [150.0, 1049.0, 1050.0, 1000.0, 1000.0])


def test_steep_ground_moves_the_break_even():
    s = simple()
    # all steep: 1000 x 1.5 = 1500 per km -> (1100 - 200) / 1500 = 0.6 km
    p = power_cost([599.0, 601.0], s, slope_factor=1.0)
    assert list(p.option) == ["grid", "solar"]
    # half steep: 1250 per km -> 0.72 km
    p = power_cost([719.0, 721.0], s, slope_factor=np.array([0.5, 0.5]))
    assert list(p.option) == ["grid", "solar"]
    assert s.break_even_km(steep_share=0.5) == pytest.approx(0.72)


def test_discounting_changes_the_lifetime_costs():
    s = simple(discount_rate=0.1)
    a = sum(1.1**-t for t in range(1, 11))
    p = power_cost([0.0], s)
    assert p.solar_vnd[0] == pytest.approx(1000 + 10 * a)
    assert p.grid_vnd[0] == pytest.approx(150 + 5 * a)


def test_default_settings_flip_at_their_break_even():
    s = default_cost_settings()
    km = s.break_even_km()
    assert 0.0 < km < 5.0
    p = power_cost([km * 1000 - 1.0, km * 1000 + 1.0], s)
    assert list(p.option) == ["grid", "solar"]


def test_unknown_grid_distance_means_solar():
    p = power_cost([np.nan, 100.0], simple())
    assert list(p.option) == ["solar", "grid"]
    assert math.isnan(p.grid_vnd[0])
    assert p.cost_vnd[0] == 1100.0


@pytest.mark.parametrize("bad", [[-1.0], [np.inf]])
def test_bad_distances_rejected(bad):
    with pytest.raises(DatasetError, match="row 1"):
        power_cost(bad, simple())


def test_slope_share_outside_unit_interval_rejected():
    with pytest.raises(DatasetError, match="slope_factor"):
        power_cost([10.0], simple(), slope_factor=1.5)


# -- backhaul ----------------------------------------------------------------------
def test_backhaul_cascade():
    s = simple()
    tower = [5_000.0, 20_000.0, 20_001.0, np.nan, np.nan, np.nan]
    fibre = [1_000.0, np.nan, 4_000.0, 10_000.0, 10_001.0, np.nan]
    b = backhaul_cost(tower, fibre, s)
    assert list(b.option) == ["microwave", "microwave", "fibre", "fibre", "satellite", "satellite"]
    # fibre: 100/km; satellite: 200 + 50 x 10 years
    np.testing.assert_allclose(b.cost_vnd, [300.0, 300.0, 400.0, 1000.0, 700.0, 700.0])
    np.testing.assert_allclose(b.capex_vnd, [300.0, 300.0, 400.0, 1000.0, 200.0, 200.0])


def test_backhaul_scalar_fibre_distance_broadcasts_and_lengths_must_match():
    b = backhaul_cost([np.nan, 1000.0], 2000.0, simple())
    assert list(b.option) == ["fibre", "microwave"]
    with pytest.raises(DatasetError, match="2 tower distances but 3 fibre distances"):
        backhaul_cost([1.0, 2.0], [1.0, 2.0, 3.0], simple())


# -- site ----------------------------------------------------------------------------
def test_site_cost_table():
    s = simple(tower_capex_vnd=2000.0, equipment_capex_vnd=500.0)
    table = site_cost([0.0, 5000.0], [np.nan, 1000.0], [np.nan, np.nan], s, index=["A", "B"])
    assert list(table.columns) == [
        "tower_vnd", "power_option", "power_vnd", "grid_alternative_vnd",
        "solar_alternative_vnd", "backhaul_option", "backhaul_vnd", "capex_vnd",
        "total_vnd", "total_usd",
    ]  # fmt: skip
    assert list(table.index) == ["A", "B"]
    assert list(table["power_option"]) == ["grid", "solar"]
    assert list(table["backhaul_option"]) == ["satellite", "microwave"]
    np.testing.assert_allclose(table["total_vnd"], [2500 + 200 + 700, 2500 + 1100 + 300])
    np.testing.assert_allclose(table["capex_vnd"], [2500 + 150 + 200, 2500 + 1000 + 300])
    np.testing.assert_allclose(table["total_usd"], table["total_vnd"] / 25_000.0)


# -- geometry ----------------------------------------------------------------------------
def grid_line(crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"voltage_kv": [35]},
        geometry=[shapely.LineString([(500_000, 2_400_000), (510_000, 2_400_000)])],
        crs=crs,
    )


def test_distance_to_lines_metric():
    points = gpd.GeoDataFrame(
        geometry=[
            shapely.Point(505_000, 2_400_100),
            shapely.Point(505_000, 2_399_750),
            shapely.Point(512_000, 2_400_000),
            shapely.Point(),
        ],
        crs="EPSG:32648",
    )
    d = distance_to_lines(points, grid_line())
    np.testing.assert_allclose(d[:3], [100.0, 250.0, 2000.0])
    assert math.isnan(d[3])


def test_distance_to_lines_reprojects_lines_and_handles_no_grid():
    points = gpd.GeoDataFrame(geometry=[shapely.Point(505_000, 2_400_300)], crs="EPSG:32648")
    lines_wgs = grid_line().to_crs("EPSG:4326")
    assert distance_to_lines(points, lines_wgs)[0] == pytest.approx(300.0, abs=0.5)
    assert math.isnan(distance_to_lines(points, None)[0])
    assert math.isnan(distance_to_lines(points, grid_line().iloc[:0])[0])


def test_distance_to_lines_refuses_degrees():
    points = gpd.GeoDataFrame(geometry=[shapely.Point(103.35, 21.95)], crs="EPSG:4326")
    with pytest.raises(CRSError, match="not projected"):
        distance_to_lines(points, grid_line())
