"""Calibration: a known offset is recovered; bad rows are listed; the CLI end to end."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from covgap.cli import main
from covgap.data.dataset import load_dataset
from covgap.data.measurements import read_measurements
from covgap.data.terrain import load_terrain
from covgap.errors import DatasetError
from covgap.radio.calibration import calibrate, synthetic_measurements
from covgap.radio.scenario import default_scenario, load_scenario


@pytest.fixture
def model(shared_dataset_dir: Path):
    ds = load_dataset(shared_dataset_dir)
    return ds, load_terrain(ds.dem_path, crs=ds.crs)


def operators(ds):
    return sorted(set(ds.sites["operator"].astype(str)))


def write(frame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_known_offset_is_recovered(model, tmp_path: Path):
    ds, terrain = model
    scenario = default_scenario()
    truth = synthetic_measurements(terrain, ds.sites, scenario, 400, offset_db=8.0, seed=3)
    path = write(truth, tmp_path / "m.csv")
    m = read_measurements(path, operators=operators(ds))
    result = calibrate(terrain, ds.sites, scenario, m)
    assert result.bad_rows == []
    assert len(result.points) == 400
    assert abs(result.fit.offset_db - 8.0) < 1.0
    assert abs(result.scenario.calibration_offset_db - 8.0) < 1.0
    assert result.after.rmse_db < result.before.rmse_db
    assert result.before.mean_error_db == pytest.approx(8.0, abs=1.0)
    assert abs(result.after.mean_error_db) < 0.5
    # noise sigma 6 dB: the calibrated model's RMSE is about 6 dB
    assert 5.0 < result.after.rmse_db < 7.0
    # each operator with enough points gets its own fit, also near 8 dB
    assert set(result.operators) <= set(operators(ds))
    assert result.operators
    for name, fit in result.operators.items():
        assert fit.n >= 10
        assert abs(fit.offset_db - 8.0) < 3.0, name


def test_offset_only_below_the_slope_threshold(model, tmp_path: Path):
    ds, terrain = model
    scenario = default_scenario()
    truth = synthetic_measurements(
        terrain, ds.sites, scenario, 12, offset_db=-5.0, sigma_db=0.0, seed=1, with_operator=False
    )
    m = read_measurements(write(truth, tmp_path / "m.csv"), operators=operators(ds))
    result = calibrate(terrain, ds.sites, scenario, m)
    assert not result.fit.slope_fitted
    assert result.scenario.calibration_slope_db == 0.0
    assert result.scenario.calibration_distance_km == 1.0
    # no noise: the offset is exact to the 0.1 dB rounding of the file
    assert result.fit.offset_db == pytest.approx(-5.0, abs=0.06)
    assert result.operators == {}
    assert result.after.rmse_db < 0.1


def test_bad_rows_are_listed_with_file_row_and_column(model, tmp_path: Path):
    ds, terrain = model
    good = synthetic_measurements(terrain, ds.sites, default_scenario(), 5, seed=2)
    lines = ["lon,lat,rsrp_dbm,operator"]
    lines += [f"{r.lon},{r.lat},{r.rsrp_dbm},{r.operator}" for r in good.itertuples()]
    lon, lat = good.lon[0], good.lat[0]
    lines += [
        f"abc,{lat},-90,",  # row 6: unparsable
        f"{lon},{lat},-10,",  # row 7: too strong
        f"{lon},{lat},-170,",  # row 8: too weak
        f"{lon},{lat},-90,Beeline",  # row 9: unknown operator
        f"{lon + 1.0},{lat},-90,",  # row 10: outside the DEM
    ]
    path = tmp_path / "m.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = read_measurements(path, operators=operators(ds))
    result = calibrate(terrain, ds.sites, default_scenario(), m)
    where = {(b["row"], b["column"]) for b in result.bad_rows}
    assert where == {(6, "lon"), (7, "rsrp_dbm"), (8, "rsrp_dbm"), (9, "operator"), (10, "lon")}
    assert all(b["file"] == str(path) for b in result.bad_rows)
    reasons = {b["row"]: b["reason"] for b in result.bad_rows}
    assert "outside -150..-20 dBm" in reasons[7]
    assert "unknown operator 'Beeline'" in reasons[9]
    assert "outside the DEM" in reasons[10]
    assert len(result.points) == 5


def test_missing_column_and_nothing_usable_are_errors(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text("lon,lat,signal\n103.3,21.9,-90\n")
    with pytest.raises(DatasetError, match="rsrp_dbm"):
        read_measurements(path)
    path.write_text("lon,lat,rsrp_dbm\n103.3,21.9,-200\n")
    with pytest.raises(DatasetError, match=r"no usable measurement \(1 bad rows\)"):
        read_measurements(path)


def test_calibrate_cli_end_to_end(
    shared_dataset_dir: Path, model, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    dataset_dir = shared_dataset_dir
    ds, terrain = model
    truth = synthetic_measurements(terrain, ds.sites, default_scenario(), 300, seed=5)
    path = write(truth, tmp_path / "m.csv")
    out = tmp_path / "calibrated.toml"
    code = main(
        ["calibrate", "--data", str(dataset_dir), "--measurements", str(path), "--out", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "measurements: 300 used, 0 set aside" in text
    assert "before (default): n 300" in text and "after: n 300" in text
    scenario = load_scenario(out)
    assert abs(scenario.calibration_offset_db - 8.0) < 1.0
    assert scenario.name == "calibrated"
    # the written scenario changes the model: the run with it uses the offset
    signal_dir = tmp_path / "signal"
    assert main(["-q", "signal", "--data", str(dataset_dir), "--scenario", str(out),
                 "--out", str(signal_dir)]) == 0  # fmt: skip
    # bad input: one line, exit 2
    code = main(
        ["calibrate", "--data", str(dataset_dir), "--measurements", str(tmp_path / "none.csv"),
         "--out", str(out)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_run_reports_the_error_against_survey_measurements(
    make_dataset: Callable[..., Path], tmp_path: Path
):
    from covgap.analysis import analyse

    root = make_dataset()
    ds = load_dataset(root)
    terrain = load_terrain(ds.dem_path, crs=ds.crs)
    truth = synthetic_measurements(terrain, ds.sites, default_scenario(), 50, offset_db=3.0)
    lines = ["lon,lat,rsrp_dbm,operator"]
    lines += [f"{r.lon},{r.lat},{r.rsrp_dbm},{r.operator}" for r in truth.itertuples()]
    lines.append("103.3,21.9,-300,")
    (root / "survey" / "measurements.csv").write_text("\n".join(lines) + "\n")
    analysis = analyse(root)
    summary = analysis.summary()
    got = summary["model"]["measurements"]
    assert got["n"] == 50
    assert got["mean_error_db"] == pytest.approx(3.0, abs=2.0)
    assert got["rmse_db"] > 0 and math.isfinite(got["rmse_db"])
    assert got["bad_rows"] == [
        {
            "file": "survey/measurements.csv",
            "row": 51,
            "column": "rsrp_dbm",
            "reason": "-300 dBm is outside -150..-20 dBm",
        }
    ]
    json.dumps(summary)  # JSON-ready


@pytest.mark.slow
def test_calibrate_cli_on_the_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from covgap.demo.paths import default_data_dir

    data = default_data_dir()
    ds = load_dataset(data)
    terrain = load_terrain(ds.dem_path, crs=ds.crs)
    truth = synthetic_measurements(terrain, ds.sites, default_scenario(), 300, seed=11)
    path = write(truth, tmp_path / "m.csv")
    out = tmp_path / "demo_calibrated.toml"
    assert main(["calibrate", "--measurements", str(path), "--out", str(out)]) == 0
    assert abs(load_scenario(out).calibration_offset_db - 8.0) < 1.0
    assert "after: n 300" in capsys.readouterr().out


def test_calibrated_scenario_is_listed_in_the_assumptions(shared_analysis):
    from covgap.planning.siteplan import plan_sites

    analysis = shared_analysis
    plan = plan_sites(analysis, k=1, signal_after=False)
    plain = {row["key"] for row in plan.assumptions(analysis.scenario)}
    assert not any(k.startswith("scenario.calibration") for k in plain)
    tuned = analysis.scenario.with_overrides(
        calibration_offset_db=7.5, calibration_operators={"Viettel": {"offset_db": 6.0}}
    )
    rows = {row["key"]: row for row in plan.assumptions(tuned)}
    assert rows["scenario.calibration_offset_db"]["value"] == 7.5
    assert rows["scenario.calibration_operators.Viettel"]["value"] == "+6 dB, +0 dB/decade"
    assert "covgap calibrate" in rows["scenario.calibration_offset_db"]["source"]


def test_scenario_toml_round_trips(tmp_path: Path):
    from covgap.radio.calibration import write_scenario

    tuned = default_scenario().with_overrides(
        name="tuned",
        k_factor=math.inf,
        calibration_offset_db=8.1,
        calibration_slope_db=-2.5,
        calibration_distance_km=3.2,
        calibration_operators={"Viettel": {"offset_db": 7.2, "slope_db": -1.1}},
        clutter_loss_db={"10": 5.0},
        foliage_db_per_m={},
    )
    path = write_scenario(tuned, tmp_path / "tuned.toml", ["a header"])
    assert path.read_text(encoding="utf-8").startswith("# a header\n")
    assert load_scenario(path) == tuned
