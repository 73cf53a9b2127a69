"""Scenario files and the side-by-side comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from covgap.compare import (
    COMPARISON_COLUMNS,
    PlanSetting,
    compare_scenarios,
    format_table,
    read_scenario_file,
    write_comparison,
)
from covgap.errors import ConfigError
from covgap.radio.scenario import load_scenario

SHIPPED = Path(__file__).resolve().parents[1] / "scenarios"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_scenarios_are_readable() -> None:
    files = sorted(SHIPPED.glob("*.toml"))
    names = {p.name for p in files}
    assert {"lte900.toml", "lte1800.toml", "threshold_110.toml", "threshold_100.toml"} <= names
    assert "budget_sweep.toml" in names
    for path in files:
        spec = read_scenario_file(path)
        assert spec.plans
        if "[plan]" not in path.read_text(encoding="utf-8"):
            assert spec.scenario == load_scenario(path)  # plain radio files stay loadable
    sweep = read_scenario_file(SHIPPED / "budget_sweep.toml")
    assert len(sweep.plans) >= 3
    assert all(p.k is None and p.budget_vnd for p in sweep.plans)


def test_plan_table_lists_sweep_and_override_defaults(tmp_path: Path) -> None:
    plain = _write(tmp_path / "plain.toml", "frequency_mhz = 1800\n")
    spec = read_scenario_file(plain)
    assert spec.scenario.name == "plain" and spec.scenario.frequency_mhz == 1800
    assert spec.plans == (PlanSetting(10, None, "exact"),)
    assert read_scenario_file(plain, budget_vnd=5e9).plans == (PlanSetting(None, 5e9, "exact"),)
    sweep = _write(
        tmp_path / "sweep.toml",
        'threshold_dbm = -100\n[plan]\nk = [1, 2]\nbudget_vnd = [1e9, 2e9]\nmethod = "greedy"\n',
    )
    spec = read_scenario_file(sweep, k=7)  # the file's [plan] wins over the caller's k
    assert spec.scenario.threshold_dbm == -100
    assert spec.plans == (
        PlanSetting(1, 1e9, "greedy"),
        PlanSetting(1, 2e9, "greedy"),
        PlanSetting(2, 1e9, "greedy"),
        PlanSetting(2, 2e9, "greedy"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frequncy_mhz = 900\n[plan]\nk = 1\n", "did you mean 'frequency_mhz'"),
        ("[plan]\nsites = 3\n", "unknown key 'sites'"),
        ("[plan]\nk = -1\n", "'k': expected a whole number"),
        ("[plan]\nbudget_vnd = 'lots'\n", "'budget_vnd': expected a number"),
        ('[plan]\nmethod = "fast"\n', "'method'"),
        ("threshold_dbm = 5\n[plan]\nk = 1\n", "threshold_dbm"),
        ("plan = 3\n", "must be a table"),
        ("k = [\n", "not valid TOML"),
    ],
)
def test_bad_scenario_files_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=message) as info:
        read_scenario_file(path)
    assert str(path) in str(info.value)


def test_compare_tabulates_each_scenario_and_plan(dataset_dir: Path, tmp_path: Path) -> None:
    base = _write(tmp_path / "base.toml", 'name = "base"\n[plan]\nk = [1, 2]\n')
    strict = _write(tmp_path / "strict.toml", "threshold_dbm = -60\nthreshold_good_dbm = -60\n")
    same = _write(tmp_path / "same.toml", 'name = "same"\n[plan]\nk = 2\nmethod = "greedy"\n')
    table = compare_scenarios(dataset_dir, [base, strict, same], k=1)
    assert list(table.columns) == COMPARISON_COLUMNS
    assert table["scenario"].tolist() == ["base", "base", "strict", "same"]
    assert table["k"].tolist() == [1, 2, 1, 2]
    # A stricter threshold leaves at least as many villages modelled uncovered.
    assert table.loc[2, "uncovered_modelled"] >= table.loc[0, "uncovered_modelled"]
    assert table.loc[2, "households_covered_now"] <= table.loc[0, "households_covered_now"]
    # More sites never cover fewer households; greedy never beats exact.
    assert table.loc[1, "households_gained"] >= table.loc[0, "households_gained"]
    assert table.loc[3, "households_gained"] <= table.loc[1, "households_gained"]
    assert (table["sites"] <= table["k"]).all()
    assert (
        table["uncovered_after"] == table["uncovered_villages"] - table["villages_gained"]
    ).all()
    assert table.loc[3, "method"].startswith("greedy")

    text = format_table(table)
    assert text.splitlines()[0].split()[:3] == ["scenario", "MHz", "dBm"]
    assert len(text.splitlines()) == 2 + len(table)
    path = write_comparison(table, tmp_path / "out" / "comparison.csv")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == ",".join(COMPARISON_COLUMNS)
    assert len(lines) == 1 + len(table)
    assert lines[1].startswith("base,base.toml,900,-110,1,,exact,")


def test_a_bad_file_fails_before_any_analysis(dataset_dir: Path, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.toml", "")
    bad = _write(tmp_path / "bad.toml", "[plan]\nk = 'x'\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        compare_scenarios(dataset_dir / "does-not-exist", [good, bad])
