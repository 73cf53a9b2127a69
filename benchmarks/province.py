"""The province preset end to end: wall time per stage and peak resident memory.

Runs ``covgap run --data PROVINCE --out OUT`` (default options: exact plan of
10 sites with a 60 s limit, sensitivity, map, lists, plots) in this process,
through :func:`covgap.cli.main`, with a timer wrapped around each stage
function, and prints each stage's wall time, its CPU time (user + system of
this process, all threads: on a machine shared with other jobs the wall time
can be several times what the machine alone would take, the CPU time much
less so) and the peak resident memory (``getrusage``) after it.  Targets on
the project's 2-core, 24 GB machine: under 5 minutes end to end, peak under
4 GB.

The dataset is generated first with ``covgap demo --preset province`` unless
``--data`` points to one (generation is timed apart: it is not part of a run).

Run: ``python benchmarks/province.py [--data DIR] [--out DIR] [--keep]``
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "coverage"))

TARGET_S = 300.0
TARGET_GB = 4.0

#: (module, attribute, stage label): the functions timed, in the order they run.
STAGES = (
    ("covgap.analysis", "load_dataset", "load dataset"),
    ("covgap.data.terrain", "load_terrain", "load DEM"),
    ("covgap.radio.signal", "compute_signal", "signal (existing, plan, variants)"),
    ("covgap.radio.reception", "signal_reception", "reception (existing, variants)"),
    ("covgap.planning.candidates", "dataset_candidates", "plan: candidates"),
    ("covgap.planning.siteplan", "_candidate_costs", "plan: costs (backhaul)"),
    ("covgap.planning.siteplan", "_coverage_in_chunks", "plan: coverage matrix"),
    ("covgap.planning.plan", "GreedyCoverage.solve", "plan: greedy"),
    ("covgap.planning.plan", "ExactCoverage.solve", "plan: exact"),
    ("covgap.planning.siteplan", "plan_sites", "plan (total)"),
    ("covgap.sensitivity", "sensitivity", "sensitivity (total)"),
    ("covgap.publish", "publish_run", "publish (map, lists, plots)"),
)

_elapsed: dict[str, float] = defaultdict(float)
_cpu: dict[str, float] = defaultdict(float)
_calls: dict[str, int] = defaultdict(int)
_peak_after: dict[str, float] = {}


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _timed(label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        cpu = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            _elapsed[label] += time.perf_counter() - start
            _cpu[label] += time.process_time() - cpu
            _calls[label] += 1
            _peak_after[label] = _peak_gb()

    return wrapper


def _instrument() -> None:
    for module_name, attr, label in STAGES:
        module = importlib.import_module(module_name)
        owner: Any = module
        name = attr
        if "." in attr:
            cls, name = attr.split(".")
            owner = getattr(module, cls)
        setattr(owner, name, _timed(label, getattr(owner, name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="province dataset (default: generate one)")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    args = parser.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="covgap-province-")
    data = Path(args.data) if args.data else Path(tmp.name) / "province"
    if not args.data:
        from covgap.demo.province import generate_province

        start = time.perf_counter()
        generate_province(data)
        print(f"generated the province preset in {time.perf_counter() - start:.1f} s "
              f"(peak {_peak_gb():.2f} GB so far)")  # fmt: skip
    out = Path(args.out) if args.out else Path(tmp.name) / "out"

    _instrument()
    from covgap.cli import main as covgap_main

    before = _peak_gb()
    load = os.getloadavg()[0]
    start = time.perf_counter()
    cpu = time.process_time()
    code = covgap_main(["-q", "run", "--data", str(data), "--out", str(out)])
    total = time.perf_counter() - start
    total_cpu = time.process_time() - cpu
    peak = _peak_gb()
    if code != 0:
        print(f"covgap run failed with exit code {code}")
        return 1

    import json

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    html = next(out.glob("*.html"))
    print(f"\ncovgap run --data {data} (default options)")
    print(f"load average when it started: {load:.1f} on {os.cpu_count()} cores")
    print(f"{'stage':<36} {'calls':>5} {'wall s':>8} {'CPU s':>8} {'peak GB after':>14}")
    for _, _, label in STAGES:
        if _calls[label]:
            print(f"{label:<36} {_calls[label]:>5} {_elapsed[label]:>8.1f} {_cpu[label]:>8.1f} "
                  f"{_peak_after[label]:>14.2f}")  # fmt: skip
    print(f"{'end to end':<36} {'':>5} {total:>8.1f} {total_cpu:>8.1f} {peak:>14.2f}")
    print(f"(peak before the run: {before:.2f} GB, the generator's if it ran here)")
    n_communes = len(summary["communes"])
    print(
        f"villages {summary['villages']}, uncovered {summary['uncovered']}, "
        f"unelectrified {summary['unelectrified']}, plan sites {len(summary.get('plan', []))}, "
        f"map {html.stat().st_size / 1e6:.1f} MB"
    )
    print(f"communes in the summary: {n_communes} (acceptance: 130)")
    ok_time = total < TARGET_S
    ok_mem = peak < TARGET_GB
    print(
        f"target end to end < {TARGET_S:.0f} s: {'met' if ok_time else 'NOT met'} ({total:.0f} s)"
    )
    print(
        f"target peak memory < {TARGET_GB:.0f} GB: {'met' if ok_mem else 'NOT met'} ({peak:.2f} GB)"
    )
    print(f"target map < 10 MB: {'met' if html.stat().st_size < 10e6 else 'NOT met'}")
    tmp.cleanup()
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    raise SystemExit(main())
