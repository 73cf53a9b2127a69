"""Site planning end to end on the small synthetic dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from covgap.analysis import analyse
from covgap.cli import main
from covgap.errors import CoverageError, ProblemInputError
from covgap.planning.siteplan import plan_sites


@pytest.fixture
def analysis(shared_analysis):
    return shared_analysis


def test_plan_ranks_sites_and_accounts_for_every_household(analysis) -> None:
    plan = plan_sites(analysis, k=3, signal_after=False)
    table = plan.plan
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert len(table) <= 3
    # Marginal gains add up to the cumulative column and the objective.
    assert table["households_gained"].sum() == table["cumulative_households"].iloc[-1]
    assert table["cumulative_households"].iloc[-1] == round(plan.result.objective)
    # Demand is only the settlements of uncovered villages.
    assert set(plan.demand["village_code"]) <= set(analysis.gaps.uncovered)
    # Villages gained are uncovered villages, each gained once.
    gained = [c for codes in table["villages_gained"] for c in codes]
    assert len(gained) == len(set(gained))
    assert set(gained) <= set(analysis.gaps.uncovered)
    assert {c for c, s in plan.villages_after.items() if s == "covered"} == set(gained)
    # Costs: total is tower + power + backhaul, and options are named.
    assert set(table["power"]) <= {"grid", "solar"}
    assert set(table["backhaul"]) <= {"microwave", "fibre", "satellite"}
    assert (table["cost_vnd"] >= table["power_cost_vnd"] + table["backhaul_cost_vnd"]).all()


def test_exact_is_never_worse_than_greedy(analysis) -> None:
    exact = plan_sites(analysis, k=2, method="exact", signal_after=False)
    greedy = plan_sites(analysis, k=2, method="greedy", signal_after=False)
    assert exact.result.objective >= greedy.result.objective
    assert exact.greedy.objective == greedy.result.objective


def test_budget_below_the_cheapest_site_gives_an_empty_plan(analysis) -> None:
    plan = plan_sites(analysis, k=None, budget_vnd=1.0, signal_after=False)
    assert len(plan.plan) == 0
    assert plan.result.status == "no_affordable_site"
    assert all(s == "uncovered" for s in plan.villages_after.values())


def test_bad_arguments(analysis) -> None:
    with pytest.raises(ProblemInputError):
        plan_sites(analysis, k=2, method="magic")
    with pytest.raises(ProblemInputError):
        plan_sites(analysis, k=None, budget_vnd=None)
    no_model = analyse(analysis.dataset, model=False)
    with pytest.raises(CoverageError):
        plan_sites(no_model, k=2)


def test_assumptions_trace_every_number(analysis) -> None:
    plan = plan_sites(analysis, k=2, signal_after=False)
    keys = {row["key"] for row in plan.assumptions(analysis.scenario)}
    assert {"tower_capex_vnd", "mv_line_vnd_per_km", "solar_system_vnd"} <= keys
    assert {"scenario.threshold_dbm", "scenario.frequency_mhz", "plan.method"} <= keys
    assert all(row["source"] for row in plan.assumptions(analysis.scenario))


def test_run_writes_priority_lists_and_plan_summary(dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["-q", "run", "--data", str(dataset_dir), "--out", str(out), "--sites", "2"]) == 0
    for name in ("xlsx", "csv", "geojson", "gpkg", "kml"):
        assert (out / f"priorities.{name}").is_file()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for row in summary["plan"]:
        assert {"rank", "site_id", "lon", "lat", "villages_gained", "households_gained"} <= set(row)
        assert {"cost_vnd", "power", "backhaul"} <= set(row)
    assert summary["plan_overview"]["k"] == 2


def test_sites_command(dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "plan"
    args = ["sites", "--data", str(dataset_dir), "--out", str(out), "--sites", "1"]
    assert main([*args, "--method", "greedy"]) == 0
    printed = capsys.readouterr().out
    assert "plan (greedy" in printed and "#1" in printed
    assert (out / "priorities.kml").is_file()


def test_plan_for_one_operator(analysis) -> None:
    operators = sorted(set(analysis.dataset.sites["operator"]))
    assert len(operators) > 1
    name = operators[0]
    plan = plan_sites(analysis, k=2, operator=name, signal_after=False)
    assert plan.operator == name and plan.overview()["operator"] == name
    # Demand: villages this operator's own sites leave uncovered, which include
    # every village no operator covers.
    mine = analysis.dataset.sites[analysis.dataset.sites["operator"] == name]
    from covgap.planning.siteplan import _uncovered_by

    assert set(plan.villages_after) == _uncovered_by(analysis, mine)
    assert {r["key"]: r["value"] for r in plan.assumptions(analysis.scenario)}[
        "plan.operator"
    ] == name
    with pytest.raises(ProblemInputError, match="unknown operator"):
        plan_sites(analysis, k=2, operator="Nobody")


def test_sites_command_for_one_operator(dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    args = ["-q", "sites", "--data", str(dataset_dir), "--out", str(out), "--sites", "1"]
    assert main([*args, "--operator", "Viettel", "--method", "greedy"]) == 0
    assert (out / "priorities.xlsx").is_file()
    assert main([*args, "--operator", "Nobody"]) == 2


def test_plan_and_curve_stop_where_no_further_site_gains(analysis) -> None:
    from covgap.planning.plan import saturating_k

    huge = plan_sites(analysis, k=10**5, signal_after=False)
    sat = huge.saturation
    assert sat == saturating_k(huge.problem)
    assert 0 < sat < huge.problem.n_candidates
    at = plan_sites(analysis, k=sat, signal_after=False)
    # the plan for 10**5 sites is the plan for the saturating number, and covers all it can
    assert huge.plan.drop(columns="geometry").equals(at.plan.drop(columns="geometry"))
    assert huge.result.objective == at.result.objective == huge.greedy.objective
    # the per-k curve is solved only up to there, where both curves have saturated
    curve = huge.curve()
    assert curve["k"].tolist() == list(range(1, sat + 1))
    assert curve["greedy_households"].iloc[-1] == huge.result.objective
    assert curve["exact_households"].iloc[-1] == huge.result.objective
    # the outputs say how many sites were useful
    note = f"{len(huge.plan)} of 100000 requested: no further site gains a household"
    assert huge.sites_note() == note
    overview = huge.overview()
    assert overview["sites_note"] == note and overview["saturating_k"] == sat
    assert at.sites_note() == ""
    rows = {r["key"]: r["value"] for r in huge.assumptions(analysis.scenario)}
    assert rows["plan.sites_k"] == 10**5 and rows["plan.sites_useful"] == len(huge.plan)


def test_sites_command_says_how_many_sites_were_useful(
    dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["sites", "--data", str(dataset_dir), "--out", str(tmp_path), "--sites", "100000"]
    assert main(argv) == 0
    assert "of 100000 requested: no further site gains a household" in capsys.readouterr().out


def test_sites_whose_radius_the_dem_cuts_are_flagged_not_warned(
    analysis, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    # The fixture's DEM is 6 km wide: every candidate's 15 km radius runs past its edge.
    with caplog.at_level(logging.WARNING, logger="covgap"):
        plan = plan_sites(analysis, k=2)
    assert len(plan.plan) > 0
    assert plan.plan["dem_cuts_radius"].tolist() == [True] * len(plan.plan)
    assert all(row["dem_cuts_radius"] for row in plan.summary())
    assert not [r for r in caplog.records if "does not cover" in r.getMessage()]
