"""Benchmark the site-planning optimisers (covgap.planning.plan) against spopt's MCLP.

Seeded maximal-coverage instances:

* spatial (district ~120 x 1,000, province ~1,300 x 10,000): villages and
  candidate sites as points in a plane, each candidate covering the villages
  within its radius minus a random share shadowed by terrain, so coverage is
  local like real radio coverage; some villages are already covered;
* random (district 120 x 1,000 p=10, province 1,300 x 10,000 p=20): each
  candidate covers 1-5 % of the demand uniformly at random (the issue's
  reference instances: no structure, hard for any MIP);
* ``--matrix FILE.npz``: a real coverage matrix (e.g. the demo's terrain
  matrix) written by :func:`save_matrix`.

For each it prints the end-to-end time (problem building + solving), the
objective and the proved gap for greedy, greedy with swaps, exact (LP
reduced-cost fixing, Lagrangian branch-and-bound, HiGHS) and spopt's MCLP
with PuLP/CBC when installed (``pip install spopt pulp``; not a covgap
dependency), with ratios, what the exact solver did, then whether the targets
are met.  Before timing, one small untimed instance is solved by every method
(warm-up): it pays the once-per-process costs, like imports, that are not
part of a solve (numba's start-up and loading of the cached branch-and-bound
kernels, about 0.4 s; spopt's first CBC call); ``--no-warm-up`` leaves them
in the first instance's times.

Run: ``python benchmarks/optimise.py`` (about 3-5 minutes; ``--quick`` skips
the province scale).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

import covgap  # noqa: F401  (guards the `coverage` module name before numba loads)
from covgap.planning.plan import CoverageProblem, ExactCoverage, GreedyCoverage

TIME_LIMIT = 60.0
BUILD_MARGIN = 2.0  # seconds kept for CoverageProblem building and ranking
WARM_UP_SEED = 2123  # its 60 x 300 instance (k = 5) is proved by the branch-and-bound


@dataclass
class Instance:
    name: str
    scale: str  # district | province | real
    coverage: sp.csc_array
    weights: np.ndarray
    k: int
    already_covered: np.ndarray | None = None
    costs: np.ndarray | None = None


@dataclass
class Row:
    method: str
    seconds: float
    objective: float
    gap: float
    status: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- instances ------------------------------------------------------------------------


def spatial_instance(
    name: str,
    scale: str,
    seed: int,
    n_demand: int,
    n_cand: int,
    side_km: float,
    k: int,
    radius_km: tuple[float, float] = (2.0, 6.0),
    shadow: float = 0.4,
    covered_share: float = 0.3,
) -> Instance:
    """Villages clustered in valleys, candidates anywhere, local shadowed coverage."""
    rng = np.random.default_rng(seed)
    n_clusters = max(1, n_demand // 10)
    centres = rng.uniform(0, side_km, (n_clusters, 2))
    demand = centres[rng.integers(0, n_clusters, n_demand)]
    demand = demand + rng.normal(0, side_km / 40, (n_demand, 2))
    cand = rng.uniform(0, side_km, (n_cand, 2))
    radius = rng.uniform(*radius_km, n_cand)
    tree = cKDTree(demand)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for j, hits in enumerate(tree.query_ball_point(cand, radius)):
        hits = np.asarray(hits, dtype=np.int64)
        hits = hits[rng.random(hits.size) >= shadow]  # terrain shadowing
        rows.append(hits)
        cols.append(np.full(hits.size, j))
    r, c = np.concatenate(rows), np.concatenate(cols)
    cov = sp.csc_array((np.ones(r.size, dtype=bool), (r, c)), shape=(n_demand, n_cand))
    weights = rng.integers(15, 160, n_demand).astype(float)  # households
    already = rng.random(n_demand) < covered_share
    return Instance(name, scale, cov, weights, k, already)


def random_instance(
    name: str, scale: str, seed: int, n_demand: int, n_cand: int, k: int
) -> Instance:
    """Each candidate covers 1-5 % of the demand at random (no spatial structure)."""
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for j in range(n_cand):
        m = max(1, round(rng.uniform(0.01, 0.05) * n_demand))
        rows.append(rng.choice(n_demand, m, replace=False))
        cols.append(np.full(m, j))
    r, c = np.concatenate(rows), np.concatenate(cols)
    cov = sp.csc_array((np.ones(r.size, dtype=bool), (r, c)), shape=(n_demand, n_cand))
    weights = rng.integers(1, 100, n_demand).astype(float)
    return Instance(name, scale, cov, weights, k)


def save_matrix(
    path: str | Path,
    coverage: Any,
    weights: Any,
    costs: Any = None,
    already_covered: Any = None,
    k: int = 10,
) -> None:
    """Write a coverage matrix for ``--matrix``: CSC parts plus weights (and optionals)."""
    cov = sp.csc_array(coverage, dtype=bool)
    extra: dict[str, Any] = {}
    if costs is not None:
        extra["costs"] = np.asarray(costs, dtype=float)
    if already_covered is not None:
        extra["already_covered"] = np.asarray(already_covered, dtype=bool)
    np.savez_compressed(
        path,
        indices=cov.indices,
        indptr=cov.indptr,
        shape=np.asarray(cov.shape),
        weights=np.asarray(weights, dtype=float),
        k=np.asarray(k),
        **extra,
    )


def load_matrix(path: Path, k: int | None) -> Instance:
    """Read a file written by :func:`save_matrix` (or ``scipy.sparse.save_npz`` + ``weights``)."""
    with np.load(path, allow_pickle=False) as f:
        shape = tuple(int(v) for v in f["shape"])
        fmt = f["format"].item() if "format" in f else "csc"
        fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
        data = f["data"] if "data" in f else np.ones(f["indices"].size, dtype=bool)
        cls = sp.csr_array if fmt == "csr" else sp.csc_array
        cov = sp.csc_array(cls((data, f["indices"], f["indptr"]), shape=shape), dtype=bool)
        weights = np.asarray(f["weights"], dtype=float)
        costs = np.asarray(f["costs"], dtype=float) if "costs" in f else None
        already = np.asarray(f["already_covered"], dtype=bool) if "already_covered" in f else None
        kk = int(f["k"]) if "k" in f else 10
    return Instance(f"real:{path.name}", "real", cov, weights, k or kk, already, costs)


def demo_instance(k: int) -> Instance:
    """The embedded demo's real terrain coverage matrix (settlements x candidate sites)."""
    from covgap import analyse, demo_dir
    from covgap.planning.siteplan import plan_sites

    analysis = analyse(demo_dir())
    problem = plan_sites(analysis, k=k, method="greedy", signal_after=False).problem
    cov = sp.csc_array(problem.coverage, dtype=bool)
    return Instance("real: demo terrain", "real", cov, problem.weights, k, None, problem.costs)


# -- methods ------------------------------------------------------------------------------


def problem_of(inst: Instance) -> CoverageProblem:
    n = inst.coverage.shape[1]
    costs = inst.costs if inst.costs is not None else np.ones(n)
    return CoverageProblem(inst.coverage, inst.weights, costs, inst.already_covered)


def run_covgap(inst: Instance, method: str, time_limit: float) -> Row:
    t0 = time.perf_counter()
    problem = problem_of(inst)
    if method == "exact":  # leave room for building the problem inside the limit
        limit = max(1.0, time_limit - BUILD_MARGIN)
        res = ExactCoverage(problem, k=inst.k, time_limit=limit).solve()
    else:
        res = GreedyCoverage(problem, k=inst.k, swaps=method == "greedy+swaps").solve()
    seconds = time.perf_counter() - t0
    return Row(
        method,
        seconds,
        res.objective,
        res.gap,
        res.status,
        {"bound": res.bound, "reduced": res.reduced_shape, "note": res.note, **res.details},
    )


def run_spopt(inst: Instance, time_limit: float) -> Row | None:
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError:
        return None
    keep = np.ones(inst.coverage.shape[0], dtype=bool)
    if inst.already_covered is not None:
        keep = ~inst.already_covered
    t0 = time.perf_counter()
    dense = inst.coverage[np.flatnonzero(keep)].toarray()
    cost_matrix = np.where(dense, 0.0, 2.0)
    model = MCLP.from_cost_matrix(
        cost_matrix, inst.weights[keep], service_radius=1.0, p_facilities=inst.k
    )
    t_built = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
    seconds = time.perf_counter() - t0
    status = pulp.LpStatus[model.problem.status]
    objective = float(pulp.value(model.problem.objective) or 0.0)
    return Row(
        "spopt MCLP (CBC)",
        seconds,
        objective,
        math.nan,
        status.lower(),
        {"build_s": t_built - t0},
    )


# -- report --------------------------------------------------------------------------------


def fmt_gap(g: float) -> str:
    return "-" if not math.isfinite(g) else f"{100 * g:.2f}%"


def exact_summary(ex: Row) -> str:
    """One line on what the exact solver did: LP fixing, branch-and-bound, HiGHS."""
    x = ex.extra
    parts = [f"reduced to {x['reduced'][0]} x {x['reduced'][1]}"]
    if "lp_bound" in x:
        m, n = x["fixed_shape"]
        parts.append(
            f"LP bound {x['lp_bound']:.1f} ({x['lp_seconds']:.3f} s), "
            f"{x['fixed']} candidates fixed -> {m} x {n}"
        )
    elif "lp_status" in x:
        parts.append(f"LP {x['lp_status']} ({x['lp_seconds']:.1f} s)")
    elif "greedy_swaps_objective" in x and x.get("proved_by") != "greedy bound":
        parts.append("LP skipped (too large)")
    if "bnb_nodes" in x:
        parts.append(f"B&B {x['bnb_status']}, {x['bnb_nodes']} nodes ({x['bnb_seconds']:.3f} s)")
    if "mip_status" in x:
        parts.append(
            f"HiGHS {x['mip_status']}, presolve {x['presolve']}, {x['nodes']} nodes "
            f"({x['mip_seconds']:.2f} s)"
        )
    parts.append(f"bound {x['bound']:.0f}, proved by {x.get('proved_by', '-')}")
    return "exact: " + "; ".join(parts) + f"; {x.get('note') or 'ok'}"


def warm_up(time_limit: float, with_spopt: bool) -> None:
    """Solve a small instance with every method once, untimed (see the module docstring).

    The instance is fixed (whatever ``--seed``): one whose exact solve reaches
    the branch-and-bound, so that its kernels are loaded.
    """
    t0 = time.perf_counter()
    inst = random_instance("warm-up", "district", WARM_UP_SEED, 60, 300, k=5)
    for method in ("greedy", "greedy+swaps", "exact"):
        row = run_covgap(inst, method, time_limit)
    if "bnb_nodes" not in row.extra:
        print("warm-up: the exact solve did not reach the branch-and-bound")
    if with_spopt:
        run_spopt(inst, time_limit)
    print(f"warm-up (untimed, once per process): {time.perf_counter() - t0:.2f} s")


def bench(inst: Instance, time_limit: float, with_spopt: bool) -> dict[str, Row]:
    n_d, n_c = inst.coverage.shape
    share = float(np.mean(np.diff(inst.coverage.indptr))) / n_d
    print(
        f"\n## {inst.name}: {n_d} demand x {n_c} candidates, k = {inst.k}, "
        f"nnz {inst.coverage.nnz} (a candidate covers {100 * share:.2f}% of demand on average)"
    )
    rows: dict[str, Row] = {}
    for method in ("greedy", "greedy+swaps", "exact"):
        rows[method] = run_covgap(inst, method, time_limit)
    if with_spopt:
        row = run_spopt(inst, time_limit)
        if row is None:
            print("(spopt/pulp not installed: reference skipped)")
        else:
            rows["spopt"] = row
    problem = problem_of(inst)
    total = float(problem.weights[~problem.already_covered].sum())
    ex = rows["exact"]
    print(
        f"{'method':<18}{'seconds':>9}{'objective':>12}{'covered':>9}{'gap':>9}"
        f"{'vs exact':>10}  status"
    )
    for row in rows.values():
        ratio = row.objective / ex.objective if ex.objective else math.nan
        print(
            f"{row.method:<18}{row.seconds:>9.3f}{row.objective:>12.0f}"
            f"{100 * row.objective / total:>8.1f}%{fmt_gap(row.gap):>9}{ratio:>10.4f}  {row.status}"
        )
    print(exact_summary(ex))
    if "spopt" in rows:
        sp_row = rows["spopt"]
        print(
            f"spopt/CBC: build {sp_row.extra['build_s']:.2f} s; exact is "
            f"{sp_row.seconds / ex.seconds:.1f}x faster end to end"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--matrix", type=Path, help="real coverage matrix (.npz from save_matrix)")
    ap.add_argument("--k", type=int, help="sites for --matrix (default: the file's k, else 10)")
    ap.add_argument(
        "--demo",
        action="store_true",
        help="add the embedded demo's terrain coverage matrix (k = --k, default 4)",
    )
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    ap.add_argument("--quick", action="store_true", help="district scale only")
    ap.add_argument(
        "--spopt-province", action="store_true", help="also run spopt at province scale (slow)"
    )
    ap.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the untimed warm-up: the first instance then pays the once-per-process costs",
    )
    args = ap.parse_args(argv)
    s = args.seed
    instances: list[tuple[Instance, bool]] = [
        (spatial_instance("district spatial", "district", s, 120, 1000, 26.0, k=5), True),
        (random_instance("district random", "district", s + 1, 120, 1000, k=10), True),
    ]
    if not args.quick:
        instances += [
            (
                spatial_instance("province spatial", "province", s + 2, 1300, 10_000, 97.0, k=40),
                args.spopt_province,
            ),
            (
                random_instance("province random", "province", s + 3, 1300, 10_000, k=20),
                args.spopt_province,
            ),
        ]
    if args.matrix is not None:
        if args.matrix.is_file():
            instances.append((load_matrix(args.matrix, args.k), True))
        else:
            print(f"--matrix {args.matrix}: file absent, real-matrix instance skipped")
    elif not args.demo:
        print("no --matrix or --demo given: the real terrain-matrix instance is skipped")
    if args.demo:
        instances.append((demo_instance(args.k or 4), True))

    if not args.no_warm_up:
        warm_up(args.time_limit, any(spo for _, spo in instances))
    t_all = time.perf_counter()
    results = [(inst, bench(inst, args.time_limit, spo)) for inst, spo in instances]
    print(f"\n## targets (total benchmark time {time.perf_counter() - t_all:.0f} s)")
    for inst, rows in results:
        ex, gs = rows["exact"], rows["greedy+swaps"]
        if inst.scale == "district" and "spopt" in rows:
            speed = rows["spopt"].seconds / ex.seconds
            met = speed >= 10 and ex.status == "optimal"
            print(
                f"[{'met' if met else 'NOT met'}] {inst.name}: "
                f"exact {speed:.1f}x faster than spopt/CBC (target 10x)"
            )
        if inst.scale in ("province", "real"):
            met = ex.objective >= gs.objective - 1e-9 and ex.seconds <= args.time_limit
            print(
                f"[{'met' if met else 'NOT met'}] {inst.name}: exact {ex.objective:.0f} >= "
                f"greedy+swaps {gs.objective:.0f} in {ex.seconds:.1f} s, "
                f"proved gap {fmt_gap(ex.gap)}"
            )
        if ex.status == "optimal":
            loss = 1 - gs.objective / ex.objective if ex.objective else 0.0
            print(
                f"[{'met' if loss <= 0.01 else 'NOT met'}] {inst.name}: greedy+swaps "
                f"{100 * loss:.2f}% below the proved optimum (target <= 1%)"
            )
        else:
            print(f"[n/a] {inst.name}: optimum not proved, greedy+swaps vs optimum not checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
