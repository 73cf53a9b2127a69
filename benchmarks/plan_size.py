"""Benchmark: does the cost of ``covgap run`` follow the work, not the requested plan size?

On the demo only 9 candidate sites gain any household; asking for more sites
must not cost more. Each round runs ``covgap run --sites 10`` and ``covgap run
--sites 100000`` (in alternating order: the shared machine's load drifts) in
fresh processes on the embedded demo, and prints wall and CPU time of each and
their ratio within the round. The target (issue #11) is judged on the median
wall-time ratio over the rounds: ``--sites 100000`` takes at most 2x ``--sites 10``.
Before this was fixed, ``--sites 2000`` took about 30 s more than ``--sites 10``
and ``--sites 100000`` ran for more than 10 minutes.

Run: ``python benchmarks/plan_size.py [--rounds 2] [--sites 10 100000]``
(each run takes 40-90 s on the 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import covgap

TARGET = 2.0
SOURCE_ROOT = Path(covgap.__file__).resolve().parents[1]


def run(sites: int, out: Path) -> tuple[float, float, str]:
    """Run ``covgap run --sites N`` in a fresh process; wall s, CPU s, the plan's lines."""
    env = dict(os.environ, PYTHONPATH=str(SOURCE_ROOT))
    cmd = [sys.executable, "-m", "covgap", "run", "--sites", str(sites), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    plan = [line for line in done.stdout.splitlines() if line.startswith(("plan", "  "))][:2]
    return wall, cpu, " | ".join(s.strip() for s in plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sites", type=int, nargs=2, default=[10, 100_000])
    args = parser.parse_args(argv)
    small, large = args.sites
    ratios = []
    print(f"covgap from {SOURCE_ROOT}; demo; rounds alternate the order of the two runs")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = [small, large] if r % 2 == 0 else [large, small]
            times = {}
            for sites in order:
                wall, cpu, plan = run(sites, Path(tmp) / f"out-{sites}")
                times[sites] = (wall, cpu)
                print(f"round {r + 1}: --sites {sites:>6}: {wall:6.1f} s wall, {cpu:6.1f} s CPU")
                print(f"    {plan}")
            ratio = times[large][0] / times[small][0]
            cpu_ratio = times[large][1] / times[small][1]
            ratios.append(ratio)
            print(f"round {r + 1}: ratio {large} / {small}: {ratio:.2f} wall, {cpu_ratio:.2f} CPU")
    median = statistics.median(ratios)
    verdict = "met" if median <= TARGET else "NOT met"
    print(
        f"median wall-time ratio --sites {large} / --sites {small}: {median:.2f} "
        f"(target <= {TARGET:g}: {verdict})"
    )
    return 0 if median <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
