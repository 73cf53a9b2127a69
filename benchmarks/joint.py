"""Benchmark the joint plan of lines and towers against the sequential plan.

Instances (all SYNTHETIC):

* ``demo``: the embedded Tủa Chùa demo with the default budget: one budget,
  what the exact site plan of 10 sites costs plus one Sín Chải package
  (24.16 bn VND);
* ``demo-two-budgets``: the same money as two budgets, the site plan's cost
  for the operators and the package for the utility;
* ``communes-A``, ``-B``, ``-C``: three generated areas of study, each a
  third of the demo's communes (4 communes, in code order) with their
  villages, settlements, power and survey rows, over the same grid, towers
  and DEM (since July 2025 an area of study is any set of communes); the
  utility's budget is a third of the package.

For each it prints the households gaining coverage plus power in the joint
and the sequential plan, households per billion VND of budget (the two plans
have the same budgets) and per billion actually spent, the joint MIP's solve
time on one core (HiGHS, ``threads = 1``: its CPU time, and the wall-clock
time, which on a shared machine is longer) and its status and proved gap, then
whether the targets hold: joint >= sequential everywhere, strictly better on
the demo, proved optimal in under 10 s at district scale.

Run: ``python benchmarks/joint.py`` (about 2-4 minutes on a busy 2-core
machine: most of it is the terrain model and the candidates' coverage).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

import covgap  # noqa: F401  (guards the `coverage` module name before numba loads)
from covgap.analysis import analyse
from covgap.demo import default_data_dir
from covgap.planning.joint import JointPlan, default_joint_settings, plan_joint
from covgap.planning.siteplan import plan_sites

TIME_LIMIT = 60.0
TARGET_SECONDS = 10.0


def _subset(src: Path, dst: Path, communes: set[str]) -> Path:
    """Write the dataset at ``src`` restricted to ``communes`` into ``dst``."""
    import geopandas as gpd

    shutil.copytree(src, dst)
    b = dst / "boundaries"
    com = gpd.read_file(b / "communes.geojson")
    com[com["commune_code"].isin(communes)].to_file(b / "communes.geojson", driver="GeoJSON")
    vil = gpd.read_file(b / "villages.geojson")
    vil = vil[vil["commune_code"].isin(communes)]
    vil.to_file(b / "villages.geojson", driver="GeoJSON")
    codes = set(vil["village_code"])
    st = gpd.read_file(b / "settlements.geojson")
    st[st["village_code"].isin(codes)].to_file(b / "settlements.geojson", driver="GeoJSON")
    for rel in ("electricity/village_power.csv", "survey/village_signal.csv"):
        table = pd.read_csv(dst / rel, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        table[table["village_code"].isin(codes)].to_csv(dst / rel, index=False)
    return dst


def _row(name: str, joint: JointPlan, budget: float, seconds: float) -> dict[str, Any]:
    j, s = joint.joint, joint.sequential
    return {
        "instance": name,
        "joint_hh": j.households_gained,
        "seq_hh": s.households_gained,
        "joint_cov+pow": f"{j.households_covered_gained}+{j.households_powered_gained}",
        "seq_cov+pow": f"{s.households_covered_gained}+{s.households_powered_gained}",
        "joint_hh_per_bn_budget": round(j.households_gained / (budget / 1e9), 2),
        "seq_hh_per_bn_budget": round(s.households_gained / (budget / 1e9), 2),
        "joint_hh_per_bn_spent": round(j.households_gained / (j.cost_vnd / 1e9), 2),
        "seq_hh_per_bn_spent": round(s.households_gained / (s.cost_vnd / 1e9), 2)
        if s.cost_vnd
        else None,
        "segments": len(joint.segments),
        "solve_cpu_s": round(j.cpu_seconds, 2),
        "solve_wall_s": round(j.seconds, 2),
        "plan_joint_s": round(seconds, 2),
        "status": j.status,
        "gap": j.gap,
    }


def run(quick: bool) -> list[dict[str, Any]]:
    demo = default_data_dir()
    settings = default_joint_settings()
    rows = []
    analysis = analyse(demo)
    plan = plan_sites(analysis, signal_after=False)
    towers = float(plan.plan["cost_vnd"].sum())
    power = settings.default_budget_power_vnd
    t0 = time.perf_counter()
    joint = plan_joint(analysis, plan=plan, time_limit=TIME_LIMIT)  # one budget: the default
    rows.append(_row("demo", joint, towers + power, time.perf_counter() - t0))
    print(json.dumps(rows[-1]), flush=True)
    t0 = time.perf_counter()
    joint = plan_joint(
        analysis,
        plan=plan,
        budget_power_vnd=power,
        budget_towers_vnd=towers,
        time_limit=TIME_LIMIT,
    )
    rows.append(_row("demo-two-budgets", joint, towers + power, time.perf_counter() - t0))
    print(json.dumps(rows[-1]), flush=True)
    if quick:
        return rows
    codes = sorted(analysis.dataset.communes["commune_code"].astype(str))
    groups = [codes[i::3] for i in range(3)]
    with tempfile.TemporaryDirectory() as tmp:
        for label, group in zip("ABC", groups, strict=True):
            root = _subset(demo, Path(tmp) / label, set(group))
            sub = analyse(root)
            sub_plan = plan_sites(sub, k=4, signal_after=False)
            towers = float(sub_plan.plan["cost_vnd"].sum())
            t0 = time.perf_counter()
            joint = plan_joint(
                sub,
                plan=sub_plan,
                budget_power_vnd=power / 3,
                budget_towers_vnd=towers,
                time_limit=TIME_LIMIT,
            )
            rows.append(
                _row(f"communes-{label}", joint, towers + power / 3, time.perf_counter() - t0)
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the demo instances only")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False))
    never_worse = all(r["joint_hh"] >= r["seq_hh"] for r in rows)
    better_demo = rows[0]["joint_hh"] > rows[0]["seq_hh"]
    exact = all(r["status"] == "optimal" and r["solve_cpu_s"] < TARGET_SECONDS for r in rows)
    print(f"joint >= sequential on every instance: {'met' if never_worse else 'NOT met'}")
    print(f"joint strictly better on the demo: {'met' if better_demo else 'NOT met'}")
    print(
        f"proved optimal in under {TARGET_SECONDS:g} s on one core: "
        f"{'met' if exact else 'NOT met'} (max {max(r['solve_cpu_s'] for r in rows):.2f} s CPU)"
    )
    return 0 if never_worse and better_demo and exact else 1


if __name__ == "__main__":
    sys.exit(main())
