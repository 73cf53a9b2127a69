"""Every numeric option of every subcommand is checked when parsed."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from covgap import cli
from covgap.errors import CoverageError, ParameterError

REPO = Path(__file__).resolve().parents[1]

BAD_ALWAYS = ["-1", "-5", "nan", "inf", "-inf", "1e308", "text"]


def _numeric_options() -> list[tuple[str, str, cli.Number]]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, subparser in sub.choices.items():
        for action in subparser._actions:
            if action.type in (int, float):
                raise AssertionError(f"covgap {name} {action.option_strings}: unchecked number")
            if isinstance(action.type, cli.Number):
                found.append((name, action.option_strings[0], action.type))
    return found


OPTIONS = _numeric_options()


def test_every_subcommand_with_numbers_is_covered() -> None:
    commands = {name for name, _, _ in OPTIONS}
    assert {"run", "sites", "compare", "viewshed"} <= commands
    assert ("viewshed", "--radius") in {(n, o) for n, o, _ in OPTIONS}


@pytest.mark.parametrize(("command", "option", "kind"), OPTIONS, ids=lambda v: str(v))
def test_bad_numbers_end_in_one_error_line(
    command: str, option: str, kind: cli.Number, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = list(BAD_ALWAYS)
    if kind.low_open:
        bad.append("0")  # a radius or a time limit of zero means nothing
    for value in bad:
        with pytest.raises(SystemExit) as stop:
            cli.main([command, option, value])
        assert stop.value.code == 2, (command, option, value)
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"error: covgap {command}: argument {option}"), err
        assert "Traceback" not in err


def test_zero_is_allowed_where_the_range_includes_it() -> None:
    assert cli.SITES("0") == 0
    assert cli.BUDGET_VND("0") == 0.0
    assert cli.HEIGHT_M("0") == 0.0
    assert cli.CURVATURE("0") == 0.0
    assert cli.CURVATURE("1") == 1.0
    with pytest.raises(argparse.ArgumentTypeError):
        cli.CURVATURE("1.01")
    with pytest.raises(argparse.ArgumentTypeError):
        cli.SITES("2.5")


def test_viewshed_radius_zero_from_a_real_shell_has_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO / "coverage")
    obs = tmp_path / "obs.csv"
    obs.write_text("x,y\n1,2\n", encoding="utf-8")
    command = [sys.executable, "-m", "covgap", "viewshed", "dem.tif", "--observers", str(obs)]
    for radius in ("0", "-5"):
        result = subprocess.run(
            [*command, "--radius", radius, "--out", str(tmp_path / "vs")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert result.returncode == 2
        assert result.stderr.count("error:") == 1
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "vs").exists()


def test_library_checks_the_same_ranges(tmp_path: Path) -> None:
    from conftest import write_dem
    from covgap.data.terrain import load_terrain
    from covgap.radio.visibility import viewshed_states

    write_dem(tmp_path / "dem.tif")
    terrain = load_terrain(tmp_path / "dem.tif")
    x, y = 326_400.0 + 100 * 30.0, 2_431_500.0 - 100 * 30.0
    for kwargs in (
        {"radius_m": 0.0},
        {"radius_m": float("inf")},
        {"radius_m": 500.0, "curvature_coef": float("nan")},
        {"radius_m": 500.0, "curvature_coef": 1.5},
        {"radius_m": 500.0, "observer_height_m": float("nan")},
        {"radius_m": 500.0, "target_height_m": -1.0},
    ):
        with pytest.raises(ParameterError):
            viewshed_states(terrain, [(x, y)], **kwargs)
    assert issubclass(ParameterError, CoverageError)
    assert issubclass(ParameterError, ValueError)
    states = viewshed_states(terrain, [(x, y)], radius_m=500.0)
    assert np.count_nonzero(states == 1) > 0
