"""The covgap command end to end, on small synthetic datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import default_power
from covgap.cli import main


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_run_writes_map_lists_and_summary(
    dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--data", str(dataset_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "villages: 6" in printed and "uncovered: 3" in printed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages"] == 6
    assert summary["uncovered"] == 3
    assert summary["unelectrified"] == 2
    assert summary["uncovered_and_unelectrified"] == 1
    assert summary["uncovered_villages"] == ["V02", "V03", "V05"]
    assert summary["unelectrified_villages"] == ["V03", "V06"]
    assert summary["unmatched_rows"] == []
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "leaflet" in html.lower()
    size = (out / "test_dataset.html").stat().st_size / 1e6
    assert f"map: {out / 'test_dataset.html'} ({size:.2f} MB)" in printed  # what a phone downloads
    uncovered = (out / "uncovered.csv").read_bytes()
    assert uncovered.startswith(b"\xef\xbb\xbf")
    assert uncovered.decode("utf-8-sig").count("\r\n") == 1 + 3


def test_run_twice_is_byte_identical(dataset_dir: Path, tmp_path: Path) -> None:
    assert main(["-q", "run", "--data", str(dataset_dir), "--out", str(tmp_path / "a")]) == 0
    assert main(["-q", "run", "--data", str(dataset_dir), "--out", str(tmp_path / "b")]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_unknown_village_row_is_reported(make_dataset: Callable[..., Path], tmp_path: Path) -> None:
    rows = [*default_power(), {"village_code": "V99", "grid_power": "có"}]
    data = make_dataset(power=rows, encoding="cp1258", nfd=True)
    out = tmp_path / "out"
    assert main(["-q", "run", "--data", str(data), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages"] == 6 and summary["unelectrified"] == 2
    [row] = summary["unmatched_rows"]
    assert row["file"] == "electricity/village_power.csv"
    assert row["row"] == 7


def test_bad_input_is_one_line_and_exit_2(
    make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = default_power()
    rows[2]["grid_power"] = "maybe"
    data = make_dataset(power=rows)
    assert main(["run", "--data", str(data), "--out", str(data / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert "village_power.csv" in err[0] and "row 3" in err[0] and "grid_power" in err[0]
    assert not (data / "out").exists()


def test_missing_dataset_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_verbose_error_shows_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "validate", "--data", str(tmp_path / "nowhere")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_validate_lists_problems(
    make_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for r in default_power() if r["village_code"] != "V04"]
    data = make_dataset(power=rows)
    assert main(["validate", "--data", str(data)]) == 0
    printed = capsys.readouterr().out
    assert "V04" in printed
    assert "problem" in printed


def test_run_reports_model_agreement(
    dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", "--data", str(dataset_dir), "--out", str(out)]) == 0
    assert "terrain model agrees with the survey on" in capsys.readouterr().out
    model = json.loads((out / "summary.json").read_text(encoding="utf-8"))["model"]
    assert model["compared"] == 6
    assert 0.0 <= model["agreement"] <= 1.0
    assert sorted(model["disagreements"]) == model["disagreements"]
    html = (out / "test_dataset.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html  # the coverage overlay


def test_run_without_model(dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["-q", "run", "--data", str(dataset_dir), "--out", str(out), "--no-model"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert "model" not in summary and summary["uncovered"] == 3


def test_viewshed_command_writes_one_tiff_per_observer(dataset_dir: Path, tmp_path: Path) -> None:
    import rasterio

    dem = dataset_dir / "terrain" / "dem.tif"
    with rasterio.open(dem) as src:
        cx = (src.bounds.left + src.bounds.right) / 2
        cy = (src.bounds.bottom + src.bounds.top) / 2
        shape = src.shape
    observers = tmp_path / "obs.csv"
    observers.write_text(f"x,y,name\n{cx},{cy},mast A\n{cx + 300},{cy},\n", encoding="utf-8")
    out = tmp_path / "vs"
    args = ["-q", "viewshed", str(dem), "--observers", str(observers), "--radius", "1500"]
    assert main([*args, "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["mast_A.tif", "viewshed_002.tif"]
    with rasterio.open(out / "mast_A.tif") as src:
        data = src.read(1)
        assert src.dtypes[0] == "uint8" and data.shape == shape
        assert set(map(int, set(data.ravel().tolist()))) <= {0, 1, 255}
        assert data.sum() > 0


def test_viewshed_bad_observer_row(
    dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    observers = tmp_path / "obs.csv"
    observers.write_text("x,y\n330000,2427000\nabc,2427000\n", encoding="utf-8")
    dem = dataset_dir / "terrain" / "dem.tif"
    args = ["viewshed", str(dem), "--observers", str(observers), "--radius", "1000"]
    assert main([*args, "--out", str(tmp_path / "vs")]) == 2
    err = capsys.readouterr().err
    assert "obs.csv" in err and "row 2" in err and "'x'" in err


def test_signal_command_per_operator(dataset_dir: Path, tmp_path: Path) -> None:
    import rasterio

    out = tmp_path / "sig"
    by_operator = ["-q", "signal", "--data", str(dataset_dir), "--by", "operator"]
    assert main([*by_operator, "--out", str(out)]) == 0
    assert main(["-q", "signal", "--data", str(dataset_dir), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.glob("*.tif"))
    assert "test_dataset_signal.tif" in names
    assert any(n.startswith("test_dataset_signal_") for n in names)
    with rasterio.open(out / "test_dataset_signal.tif") as src:
        rsrp = src.read(1)
        assert src.dtypes[0] == "float32"
        assert (rsrp[rsrp == rsrp] < 0).all()  # dBm


def test_installed_copy_generates_the_demo_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import covgap.demo.generator
    from covgap.demo import default_data_dir

    calls: list[Path] = []

    def fake_generate(out: Path) -> Path:
        calls.append(out)
        out.mkdir(parents=True)
        (out / "dataset.toml").write_text('name = "demo"\n', encoding="utf-8")
        return out

    monkeypatch.setattr(covgap.demo.generator, "generate_demo", fake_generate)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    no_checkout = tmp_path / "site-packages" / "data"
    first = default_data_dir(no_checkout)
    second = default_data_dir(no_checkout)
    assert first == second == calls[0]
    assert first.parent == tmp_path / "cache" / "covgap"
    assert len(calls) == 1  # generated once, then reused
    # A source checkout's committed data wins.
    assert default_data_dir() == Path(__file__).resolve().parents[1] / "data"


def test_each_distinct_warning_is_printed_once_with_a_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from covgap import cli

    log = logging.getLogger("covgap.test_cli")
    with cli._logging_to_stderr(0):
        for _ in range(3):
            log.warning("the DEM does not cover site A")
        log.warning("another thing")
        log.info("not shown at the default verbosity")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "WARNING: the DEM does not cover site A",
        "WARNING: another thing",
        "(3x in this run) WARNING: the DEM does not cover site A",
    ]


def test_run_without_a_dem_names_the_skipped_stages(
    make_dataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_dataset(dem=False)
    assert main(["run", "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    assert skipped == [
        "WARNING: no DEM (terrain/dem.tif): coverage model, site plan and signal layers "
        "skipped; gaps come from the survey"
    ]
    assert "uncovered:" in captured.out  # the survey's gaps are still reported


def test_demo_run_prints_no_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The demo's DEM covers every existing and candidate site's radius.
    out = tmp_path / "out"
    assert main(["run", "--out", str(out), "--no-sensitivity", "--sites", "3"]) == 0
    err = capsys.readouterr().err
    assert "WARNING" not in err, err
