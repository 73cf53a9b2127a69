"""Static figures: content, PNG files, byte-identical rewrites."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from covgap.planning.plan import CoverageProblem
from covgap.planning.siteplan import coverage_curve, plan_sites
from covgap.publish.plots import PLOT_FILES, status_counts, write_plots
from covgap.sensitivity import Variant, sensitivity

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def analysis(shared_analysis):
    return shared_analysis


def test_status_counts_every_village_once(analysis) -> None:
    counts = status_counts(analysis)
    assert counts.to_numpy().sum() == len(analysis.gaps.villages)
    assert sorted(counts.index) == ["Xã Sính Phình", "Xã Tả Phìn"]
    # Fixture: V03 has neither signal nor grid power; V06 is unpowered only.
    assert counts.loc["Xã Tả Phìn", "uncovered_unpowered"] == 1


def test_curve_is_monotone_and_exact_never_below_greedy(analysis) -> None:
    plan = plan_sites(analysis, k=3, signal_after=False)
    curve = coverage_curve(plan)
    # the curve stops where no further site gains a household (one site on this dataset)
    assert curve["k"].tolist() == list(range(1, min(3, plan.saturation) + 1))
    assert curve["exact_households"].iloc[-1] == pytest.approx(plan.result.objective)
    assert plan.curve() is plan.curve()  # computed once
    assert "exact_households" not in coverage_curve(plan, 2, exact=False)
    # a problem that needs three sites: greedy and exact for k = 1, 2, 3, then nothing to gain
    cover = np.zeros((6, 5), dtype=bool)
    for j, rows in enumerate([[0, 1, 2], [3, 4], [5], [2, 3], [1, 5]]):
        cover[rows, j] = True
    problem = CoverageProblem(cover, [5, 4, 3, 2, 1, 1], [1, 2, 3, 4, 5])
    wide = dataclasses.replace(plan, problem=problem, saturation=None, k=10**5, _curve=None)
    curve = coverage_curve(wide)
    assert curve["k"].tolist() == [1, 2, 3]
    assert curve["greedy_households"].tolist() == [12.0, 15.0, 16.0]
    assert curve["exact_households"].tolist() == [12.0, 15.0, 16.0]
    assert (np.diff(curve["greedy_households"]) >= 0).all()
    assert (curve["exact_households"] >= curve["greedy_households"] - 1e-9).all()


def test_write_plots_is_deterministic(analysis, tmp_path: Path) -> None:
    plan = plan_sites(analysis, k=2, signal_after=False)
    sens = sensitivity(analysis, [Variant("strict", "threshold_dbm", 10.0)])
    first = write_plots(analysis, plan, tmp_path / "a", sensitivity=sens)
    second = write_plots(analysis, plan, tmp_path / "b", sensitivity=sens)
    assert [p.name for p in first] == list(PLOT_FILES.values())
    for a, b in zip(first, second, strict=True):
        data = a.read_bytes()
        assert data.startswith(PNG_MAGIC)
        assert data == b.read_bytes()
        assert b"Matplotlib version" not in data


def test_without_a_plan_only_status_and_map(analysis, tmp_path: Path) -> None:
    files = write_plots(analysis, None, tmp_path, lang="vi")
    assert [p.name for p in files] == [PLOT_FILES["status"], PLOT_FILES["map"]]


def test_notebook_api(analysis, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    plan = plan_sites(analysis, k=2, signal_after=False)
    assert isinstance(analysis.plot_status(), Figure)
    assert isinstance(plan.plot_curve(), Figure)
    assert isinstance(plan.plot_cost(lang="vi"), Figure)
    assert isinstance(plan.plot_map(), Figure)
    assert "<" in analysis.map(plan, lang="en")._repr_html_()  # shows itself inline
    assert plan.analysis is analysis
    assert len(analysis.villages) == len(analysis.gaps.villages)
    names = {p.name for p in analysis.export(tmp_path / "run", plan, lang="en")}
    assert {"summary.json", "priorities.xlsx", *PLOT_FILES.values()} <= names
    assert {p.name for p in plan.export(tmp_path / "lists")} >= {"priorities.csv"}
