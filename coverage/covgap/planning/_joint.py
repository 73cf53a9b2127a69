"""Array kernel of the joint plan: lines, villages and towers in one HiGHS MIP.

The instance (:class:`JointProblem`) is a graph of candidate line segments
between nodes (node 0 is the existing grid), unpowered villages at nodes,
candidate tower sites (each with a solar cost and, when it has a node, a grid
cost) and the demand points the sites cover.  :func:`solve_joint` solves

    max  w_cov * sum_i h_i z_i + w_pow * sum_v H_v g_v - eps * cost

over binaries ``s_j`` (site j on solar), ``q_j`` (site j on the grid),
``g_v`` (village v electrified), ``e_n`` (node n energised), ``x_e``
(segment e built; split into a utility-paid and an operator-paid copy under
two budgets) and continuous ``z_i`` (demand i covered) and arc flows ``f``:

* ``s_j + q_j <= 1``; ``z_i <= sum_{j covers i} (s_j + q_j)``;
* ``q_j <= e_node(j)``, ``g_v <= e_node(v)``, ``x_e <= e_u``, ``x_e <= e_v``;
* single-commodity flow from the grid: every energised node receives one
  unit, ``in - out = e_n``, and ``f_uv + f_vu <= (N - 1) x_e``: a node is
  energised only if a path of built segments joins it to the grid, so every
  built segment is connected to the grid;
* budgets: one on the total cost, or one for the utility (segments it pays,
  village stations and low-voltage networks) and one for the operators
  (sites, and the segments they pay: only segments ending at a site, their
  own spurs as today).

``eps`` is small enough that the cost term never outweighs one household:
among plans of equal benefit the cheaper is preferred.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from covgap.errors import ProblemInputError, SolverError

__all__ = ["JointProblem", "JointSolution", "sequential_plan", "solve_joint"]

#: Total cost penalty, in households, of the most expensive possible plan.
TIE_BREAK_HOUSEHOLDS = 0.01


@dataclass
class JointProblem:
    """A joint instance, arrays only (node 0 is the existing grid).

    Parameters
    ----------
    n_nodes
        Number of nodes, the grid included.
    seg_from, seg_to, seg_cost
        Candidate segments (undirected) and their cost, VND.
    village_node, village_benefit, village_cost
        Node, households gaining power and cost (station + low-voltage
        network) of each unpowered village.
    site_solar_cost, site_grid_cost, site_node
        Per candidate site: lifetime cost on solar, on the grid (NaN when it
        has no node) and its node (-1: none).
    coverage, weights
        ``n_demand x n_sites`` boolean matrix and households per demand point.
    weight_covered, weight_powered
        Objective weights.
    budget, budget_power, budget_towers
        One total budget, or one or both of the utility's and operators'.
    """

    n_nodes: int
    seg_from: Any
    seg_to: Any
    seg_cost: Any
    village_node: Any
    village_benefit: Any
    village_cost: Any
    site_solar_cost: Any
    site_grid_cost: Any
    site_node: Any
    coverage: Any
    weights: Any
    weight_covered: float = 1.0
    weight_powered: float = 1.0
    budget: float | None = None
    budget_power: float | None = None
    budget_towers: float | None = None

    def __post_init__(self) -> None:
        self.seg_from = np.asarray(self.seg_from, dtype=np.int64).reshape(-1)
        self.seg_to = np.asarray(self.seg_to, dtype=np.int64).reshape(-1)
        self.seg_cost = np.asarray(self.seg_cost, dtype=np.float64).reshape(-1)
        self.village_node = np.asarray(self.village_node, dtype=np.int64).reshape(-1)
        self.village_benefit = np.asarray(self.village_benefit, dtype=np.float64).reshape(-1)
        self.village_cost = np.asarray(self.village_cost, dtype=np.float64).reshape(-1)
        self.site_solar_cost = np.asarray(self.site_solar_cost, dtype=np.float64).reshape(-1)
        self.site_grid_cost = np.asarray(self.site_grid_cost, dtype=np.float64).reshape(-1)
        self.site_node = np.asarray(self.site_node, dtype=np.int64).reshape(-1)
        cov = self.coverage
        cov = sp.csc_array(cov if sp.issparse(cov) else np.asarray(cov), dtype=bool)
        cov.eliminate_zeros()
        cov.sort_indices()
        self.coverage = cov
        self.weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        n_s = self.site_solar_cost.size
        if not (self.seg_from.size == self.seg_to.size == self.seg_cost.size):
            raise ProblemInputError("segments: from, to and cost differ in length")
        if not (self.village_node.size == self.village_benefit.size == self.village_cost.size):
            raise ProblemInputError("villages: node, benefit and cost differ in length")
        if not (self.site_grid_cost.size == self.site_node.size == n_s):
            raise ProblemInputError("sites: solar cost, grid cost and node differ in length")
        if cov.shape != (self.weights.size, n_s):
            raise ProblemInputError(
                f"coverage has shape {cov.shape}, expected ({self.weights.size}, {n_s})"
            )
        nodes = np.concatenate(
            [self.seg_from, self.seg_to, self.village_node, self.site_node[self.site_node >= 0]]
        )
        if nodes.size and (nodes.min() < 0 or nodes.max() >= self.n_nodes):
            raise ProblemInputError("a node index is outside 0..n_nodes-1")
        if (self.seg_from == self.seg_to).any():
            raise ProblemInputError("a segment joins a node to itself")
        if (self.village_node == 0).any():
            raise ProblemInputError("a village cannot sit on the grid node 0")
        grid_ok = self.site_node >= 0
        if np.isnan(self.site_grid_cost[grid_ok]).any():
            raise ProblemInputError("a site with a node needs a grid cost")
        for name in ("seg_cost", "village_cost", "site_solar_cost", "village_benefit", "weights"):
            v = getattr(self, name)
            if (~np.isfinite(v)).any() or (v < 0).any():
                raise ProblemInputError(f"{name} must be finite and >= 0")
        if self.budget is not None and (
            self.budget_power is not None or self.budget_towers is not None
        ):
            raise ProblemInputError("give one total budget or the power/towers budgets, not both")

    @property
    def operator_payable(self) -> np.ndarray:
        """Per segment: whether the operators may pay it (split budgets, a site at an end)."""
        if not self.split:
            return np.zeros(self.seg_cost.size, dtype=bool)
        sites = self.site_node[self.site_node >= 0]
        return np.isin(self.seg_from, sites) | np.isin(self.seg_to, sites)

    @property
    def split(self) -> bool:
        """Whether the budgets are split between the utility and the operators."""
        return self.budget is None and (
            self.budget_power is not None or self.budget_towers is not None
        )

    def benefit(self, sites_on: np.ndarray, villages_on: np.ndarray) -> tuple[float, float]:
        """Households covered and households powered by a choice."""
        on = np.asarray(sites_on, dtype=bool)
        covered = (self.coverage.astype(np.float64) @ on.astype(np.float64)) > 0
        return float(self.weights[covered].sum()), float(
            self.village_benefit[np.asarray(villages_on, dtype=bool)].sum()
        )


@dataclass
class JointSolution:
    """A plan on a :class:`JointProblem`.

    Attributes
    ----------
    site_power
        Per site: ``""`` (not built), ``"solar"`` or ``"grid"``.
    villages
        Bool per village: electrified.
    segments
        Bool per segment: built.
    segment_payer
        Per segment: ``""``, ``"utility"`` or ``"operators"``.
    parent_segment
        Per node: the built segment that brings it power (-1: none or grid).
    covered, powered
        Households gaining coverage and power.
    cost_utility, cost_operators
        VND.
    status, gap, seconds, bound
        Solver status (``optimal``, ``time_limit``, ``heuristic``), proved
        relative gap, solve time (wall clock) and the proved bound on the
        weighted benefit.
    cpu_seconds
        CPU time of the solve (HiGHS runs on one thread).
    """

    site_power: np.ndarray
    villages: np.ndarray
    segments: np.ndarray
    segment_payer: np.ndarray
    parent_segment: np.ndarray
    covered: float
    powered: float
    cost_utility: float
    cost_operators: float
    status: str = "heuristic"
    gap: float = math.nan
    seconds: float = 0.0
    bound: float = math.nan
    cpu_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def cost(self) -> float:
        """Total cost, VND."""
        return self.cost_utility + self.cost_operators


def _tree(problem: JointProblem, built: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BFS from the grid over built segments: parent segment and reached flag per node."""
    adj: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for e in np.flatnonzero(built):
        u, v = int(problem.seg_from[e]), int(problem.seg_to[e])
        adj[u].append((v, int(e)))
        adj[v].append((u, int(e)))
    parent = np.full(problem.n_nodes, -1, dtype=np.int64)
    reached = np.zeros(problem.n_nodes, dtype=bool)
    reached[0] = True
    queue = [0]
    while queue:
        nxt = []
        for u in queue:
            for v, e in sorted(adj[u]):
                if not reached[v]:
                    reached[v] = True
                    parent[v] = e
                    nxt.append(v)
        queue = nxt
    return parent, reached


def _solution(
    problem: JointProblem,
    site_power: np.ndarray,
    villages: np.ndarray,
    built: np.ndarray,
    payer: np.ndarray,
    **extra: Any,
) -> JointSolution:
    parent, _ = _tree(problem, built)
    covered, powered = problem.benefit(site_power != "", villages)
    seg_utility = float(problem.seg_cost[built & (payer == "utility")].sum())
    seg_operators = float(problem.seg_cost[built & (payer == "operators")].sum())
    sites = float(
        problem.site_solar_cost[site_power == "solar"].sum()
        + problem.site_grid_cost[site_power == "grid"].sum()
    )
    return JointSolution(
        site_power=site_power,
        villages=villages,
        segments=built,
        segment_payer=np.where(built, payer, ""),
        parent_segment=parent,
        covered=covered,
        powered=powered,
        cost_utility=seg_utility + float(problem.village_cost[villages].sum()),
        cost_operators=seg_operators + sites,
        **extra,
    )


def check_solution(problem: JointProblem, sol: JointSolution, tol: float = 1e-6) -> list[str]:
    """Return what is wrong with a solution (empty when it is feasible)."""
    problems = []
    _, reached = _tree(problem, sol.segments)
    for e in np.flatnonzero(sol.segments):
        if not (reached[problem.seg_from[e]] and reached[problem.seg_to[e]]):
            problems.append(f"segment {e} is not connected to the grid")
    for j in np.flatnonzero(sol.site_power == "grid"):
        node = problem.site_node[j]
        if node < 0 or not reached[node]:
            problems.append(f"site {j} is on the grid but its node is not energised")
    for v in np.flatnonzero(sol.villages):
        if not reached[problem.village_node[v]]:
            problems.append(f"village {v} is electrified but its node is not energised")
    if problem.budget is not None and sol.cost > problem.budget * (1 + tol) + tol:
        problems.append("over the budget")
    if problem.budget_power is not None and sol.cost_utility > problem.budget_power * (1 + tol):
        problems.append("over the power budget")
    if problem.budget_towers is not None and sol.cost_operators > problem.budget_towers * (1 + tol):
        problems.append("over the towers budget")
    return problems


# -- the MIP ---------------------------------------------------------------------
class _Columns:
    """Column bookkeeping of the model."""

    def __init__(self) -> None:
        self.n = 0
        self.cost: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []

    def add(self, count: int, cost: Any, upper: Any, integer: bool) -> np.ndarray:
        idx = np.arange(self.n, self.n + count, dtype=np.int64)
        self.n += count
        self.cost.append(np.broadcast_to(np.asarray(cost, float), (count,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, float), (count,)).copy())
        self.integer.append(np.full(count, integer))
        return idx


class _Rows:
    def __init__(self) -> None:
        self.r: list[int] = []
        self.c: list[int] = []
        self.v: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, cols: Any, vals: Any, lower: float, upper: float) -> None:
        row = len(self.lower)
        cols = np.asarray(cols, dtype=np.int64).reshape(-1)
        vals = np.broadcast_to(np.asarray(vals, dtype=float), cols.shape)
        self.r.extend([row] * cols.size)
        self.c.extend(cols.tolist())
        self.v.extend(vals.tolist())
        self.lower.append(lower)
        self.upper.append(upper)


def solve_joint(
    problem: JointProblem,
    *,
    time_limit: float = 60.0,
    start: JointSolution | None = None,
    mip_rel_gap: float = 1e-6,
) -> JointSolution:
    """Solve the joint MIP with HiGHS (see the module docstring).

    Parameters
    ----------
    problem
        The instance.
    time_limit
        Seconds; at the limit the best plan found is returned with its
        proved gap.
    start
        A feasible plan to start from (e.g. the sequential one): the result
        is never worse.
    mip_rel_gap
        Relative gap at which HiGHS stops.

    Returns
    -------
    JointSolution
    """
    from highspy import HighsLp, HighsModelStatus, HighsVarType, MatrixFormat

    from covgap.planning._mclp import _check, _new_highs

    p = problem
    n_s, n_v, n_e, n_d = (
        p.site_solar_cost.size,
        p.village_node.size,
        p.seg_cost.size,
        p.weights.size,
    )
    n_n = p.n_nodes
    has_grid = p.site_node >= 0
    worst = (
        1.01 * p.seg_cost.sum()
        + p.village_cost.sum()
        + np.fmax(p.site_solar_cost, np.nan_to_num(p.site_grid_cost)).sum()
    )
    eps = TIE_BREAK_HOUSEHOLDS / worst if worst > 0 else 0.0
    cols = _Columns()
    # HiGHS minimises: cost coefficients are -benefit + eps * cost
    s = cols.add(n_s, eps * p.site_solar_cost, 1.0, True)
    grid_sites = np.flatnonzero(has_grid)
    q = cols.add(grid_sites.size, eps * p.site_grid_cost[grid_sites], 1.0, True)
    z = cols.add(n_d, -p.weight_covered * p.weights, 1.0, False)
    g = cols.add(n_v, -p.weight_powered * p.village_benefit + eps * p.village_cost, 1.0, True)
    e = cols.add(n_n, 0.0, 1.0, True)  # e[0] (the grid) is fixed to 1 below
    xu = cols.add(n_e, eps * p.seg_cost, 1.0, True)
    # the operators may pay only a line that ends at a site (their own spur, as
    # today), and it costs them a hair more: the utility pays when it can
    xo = cols.add(n_e, 1.01 * eps * p.seg_cost, p.operator_payable.astype(float), True)
    f_fw = cols.add(n_e, 0.0, float(n_n), False)
    f_bw = cols.add(n_e, 0.0, float(n_n), False)
    rows = _Rows()
    q_of = dict(zip(grid_sites.tolist(), q.tolist(), strict=True))
    for j in range(n_s):
        if j in q_of:
            rows.add([s[j], q_of[j]], 1.0, -np.inf, 1.0)
            rows.add([q_of[j], e[p.site_node[j]]], [1.0, -1.0], -np.inf, 0.0)
    cov = p.coverage.tocsr()
    for i in range(n_d):
        js = cov.indices[cov.indptr[i] : cov.indptr[i + 1]]
        cs = [z[i], *s[js].tolist(), *[q_of[j] for j in js if j in q_of]]
        rows.add(cs, [1.0] + [-1.0] * (len(cs) - 1), -np.inf, 0.0)
    for v in range(n_v):
        rows.add([g[v], e[p.village_node[v]]], [1.0, -1.0], -np.inf, 0.0)
    for k in range(n_e):
        for end in (p.seg_from[k], p.seg_to[k]):
            rows.add([xu[k], xo[k], e[end]], [1.0, 1.0, -1.0], -np.inf, 0.0)
        rows.add([f_fw[k], f_bw[k], xu[k], xo[k]], [1.0, 1.0, -n_n, -n_n], -np.inf, 0.0)
    inflow: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for k in range(n_e):
        u, v = int(p.seg_from[k]), int(p.seg_to[k])
        inflow[v] += [(f_fw[k], 1.0), (f_bw[k], -1.0)]
        inflow[u] += [(f_bw[k], 1.0), (f_fw[k], -1.0)]
    for n in range(1, n_n):
        terms = inflow.get(n, [])
        rows.add([c for c, _ in terms] + [e[n]], [v for _, v in terms] + [-1.0], 0.0, 0.0)
    utility = (list(g), p.village_cost.tolist(), list(xu), p.seg_cost.tolist())
    operators_cols = list(s) + list(q) + list(xo)
    operators_vals = (
        p.site_solar_cost.tolist() + p.site_grid_cost[grid_sites].tolist() + p.seg_cost.tolist()
    )
    if p.budget is not None:
        scale = max(p.budget, 1.0)
        rows.add(
            utility[0] + utility[2] + operators_cols,
            np.array(utility[1] + utility[3] + operators_vals) / scale,
            -np.inf,
            p.budget / scale,
        )
    if p.budget_power is not None:
        scale = max(p.budget_power, 1.0)
        rows.add(
            utility[0] + utility[2],
            np.array(utility[1] + utility[3]) / scale,
            -np.inf,
            p.budget_power / scale,
        )
    if p.budget_towers is not None:
        scale = max(p.budget_towers, 1.0)
        rows.add(operators_cols, np.array(operators_vals) / scale, -np.inf, p.budget_towers / scale)

    n = cols.n
    lower = np.zeros(n)
    lower[e[0]] = 1.0
    a = sp.csc_array((rows.v, (rows.r, rows.c)), shape=(len(rows.lower), n), dtype=np.float64)
    a.sum_duplicates()
    a.sort_indices()
    lp = HighsLp()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.concatenate(cols.cost)
    lp.col_lower_ = lower
    lp.col_upper_ = np.concatenate(cols.upper)
    lp.row_lower_ = np.asarray(rows.lower, dtype=float)
    lp.row_upper_ = np.asarray(rows.upper, dtype=float)
    lp.a_matrix_.format_ = MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    integer = np.concatenate(cols.integer)
    lp.integrality_ = [
        HighsVarType.kInteger if flag else HighsVarType.kContinuous for flag in integer
    ]
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("threads", 1)
    _check(h.passModel(lp), "passModel")
    if start is not None:
        x0 = _start_vector(p, start, n, s, q_of, z, g, e, xu, xo, f_fw, f_bw)
        h.setSolution(n, np.arange(n, dtype=np.int32), x0)
    t0, c0 = time.perf_counter(), time.process_time()
    h.run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    status = h.getModelStatus()
    info = h.getInfo()
    names = {
        HighsModelStatus.kOptimal: "optimal",
        HighsModelStatus.kTimeLimit: "time_limit",
        HighsModelStatus.kInterrupt: "interrupted",
        HighsModelStatus.kIterationLimit: "time_limit",
        HighsModelStatus.kSolutionLimit: "time_limit",
        # stopped by the time limit before HiGHS could set a status (in presolve)
        HighsModelStatus.kNotset: "time_limit",
    }
    if status not in names:
        raise SolverError(f"HiGHS stopped with status {h.modelStatusToString(status)!r}")
    if info.primal_solution_status != 2:
        if start is not None:
            start.status, start.seconds = names[status], seconds
            start.notes.append("HiGHS found no plan in the time limit: the start plan is kept")
            return start
        raise SolverError("HiGHS found no feasible joint plan in the time limit")
    x = np.asarray(h.getSolution().col_value)
    site_power = np.full(n_s, "", dtype=object)
    site_power[x[s] > 0.5] = "solar"
    for j, col in q_of.items():
        if x[col] > 0.5:
            site_power[j] = "grid"
    villages = x[g] > 0.5
    built_u, built_o = x[xu] > 0.5, x[xo] > 0.5
    payer = np.where(built_o, "operators", np.where(built_u, "utility", "")).astype(object)
    dual = float(info.mip_dual_bound)
    objective = float(info.objective_function_value)
    gap = float(info.mip_gap) if math.isfinite(float(info.mip_gap)) else math.nan
    if names[status] == "optimal":
        gap = max(0.0, gap) if math.isfinite(gap) else 0.0
    sol = _solution(
        p,
        site_power,
        villages,
        built_u | built_o,
        payer,
        status=names[status],
        gap=gap,
        seconds=seconds,
        bound=-dual if math.isfinite(dual) else -objective,
        cpu_seconds=cpu,
    )
    if start is not None and _value(p, start) > _value(p, sol) + 1e-9:
        # HiGHS stopped (time limit) before it took the start plan in: keep the start
        value = _value(p, start)
        upper = -dual if math.isfinite(dual) else math.nan
        start.gap = max(0.0, (upper - value) / max(abs(value), 1e-9)) if upper == upper else gap
        start.status, start.seconds, start.cpu_seconds = sol.status, seconds, cpu
        start.bound = upper
        start.notes.append("HiGHS stopped with a worse plan than the start plan: the start is kept")
        return start
    return sol


def _value(p: JointProblem, sol: JointSolution) -> float:
    """Weighted benefit of a plan."""
    return p.weight_covered * sol.covered + p.weight_powered * sol.powered


def _start_vector(
    p: JointProblem,
    sol: JointSolution,
    n: int,
    s: np.ndarray,
    q_of: dict[int, int],
    z: np.ndarray,
    g: np.ndarray,
    e: np.ndarray,
    xu: np.ndarray,
    xo: np.ndarray,
    f_fw: np.ndarray,
    f_bw: np.ndarray,
) -> np.ndarray:
    x = np.zeros(n)
    x[s[sol.site_power == "solar"]] = 1.0
    for j in np.flatnonzero(sol.site_power == "grid"):
        x[q_of[int(j)]] = 1.0
    on = (sol.site_power != "").astype(float)
    x[z] = ((p.coverage.astype(float) @ on) > 0).astype(float)
    x[g] = sol.villages.astype(float)
    parent, reached = _tree(p, sol.segments)
    x[e] = reached.astype(float)
    utility = sol.segments & ((sol.segment_payer != "operators") | (not p.split))
    x[xu[utility]] = 1.0
    x[xo[sol.segments & ~utility]] = 1.0
    # flow: each reached node sends one unit up its parent chain to the grid
    for node in np.flatnonzero(reached):
        cur = int(node)
        while cur != 0:
            k = int(parent[cur])
            other = int(p.seg_from[k]) if int(p.seg_to[k]) == cur else int(p.seg_to[k])
            if int(p.seg_to[k]) == cur:
                x[f_fw[k]] += 1.0
            else:
                x[f_bw[k]] += 1.0
            cur = other
    return x


# -- the sequential baseline -------------------------------------------------------
def _cheapest_paths(p: JointProblem, energised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from every energised node over the segments: cost and last segment per node."""
    adj: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for k in range(p.seg_cost.size):
        u, v = int(p.seg_from[k]), int(p.seg_to[k])
        adj[u].append((v, k))
        adj[v].append((u, k))
    dist = np.full(p.n_nodes, np.inf)
    via = np.full(p.n_nodes, -1, dtype=np.int64)
    heap = []
    for node in np.flatnonzero(energised):
        dist[node] = 0.0
        heap.append((0.0, int(node)))
    heapq.heapify(heap)
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for v, k in adj[u]:
            nd = d + float(p.seg_cost[k])
            if nd < dist[v] - 1e-9:
                dist[v] = nd
                via[v] = k
                heapq.heappush(heap, (nd, v))
    return dist, via


def sequential_plan(
    p: JointProblem,
    village_order: Any,
    *,
    time_limit: float = 60.0,
) -> JointSolution:
    """Towers first on their cheapest power, then villages in the utility's list order.

    1. Each site costs the cheaper of solar and the grid over its own
       segment from the grid (paid by the operators); the exact maximal
       coverage plan (:class:`covgap.planning.plan.ExactCoverage`) is chosen under the
       towers' budget (the total budget when there is one).
    2. The utility takes the villages in ``village_order`` and connects each
       by its cheapest path over the segments from what is already energised,
       when that path plus the village's cost fits the power budget (what is
       left of the total budget when there is one); villages that do not fit
       are skipped.
    """
    from covgap.planning.plan import CoverageProblem, ExactCoverage

    t0 = time.perf_counter()
    n_s = p.site_solar_cost.size
    direct = {}
    for k in range(p.seg_cost.size):
        u, v = int(p.seg_from[k]), int(p.seg_to[k])
        if u == 0 or v == 0:
            node = v if u == 0 else u
            if node not in direct or p.seg_cost[k] < p.seg_cost[direct[node]]:
                direct[node] = k
    grid_total = np.full(n_s, np.inf)
    spur = np.full(n_s, -1, dtype=np.int64)
    for j in range(n_s):
        node = int(p.site_node[j])
        if node >= 0 and node in direct:
            spur[j] = direct[node]
            grid_total[j] = p.site_grid_cost[j] + p.seg_cost[direct[node]]
    on_grid = grid_total <= p.site_solar_cost
    cost = np.where(on_grid, grid_total, p.site_solar_cost)
    towers_budget = p.budget if p.budget is not None else p.budget_towers
    site_power = np.full(n_s, "", dtype=object)
    built = np.zeros(p.seg_cost.size, dtype=bool)
    payer = np.full(p.seg_cost.size, "", dtype=object)
    if n_s and p.weights.size and (towers_budget is None or towers_budget > 0):
        if towers_budget is None:
            chosen = [j for j in range(n_s) if p.coverage[:, [j]].nnz]
        else:
            problem = CoverageProblem(p.coverage, p.weights, cost)
            chosen = ExactCoverage(problem, budget=towers_budget, time_limit=time_limit).solve()
            chosen = list(chosen.selected)
        for j in chosen:
            site_power[j] = "grid" if on_grid[j] else "solar"
            if on_grid[j]:
                built[spur[j]] = True
                payer[spur[j]] = "operators"
    spent_towers = float(cost[site_power != ""].sum())
    if p.budget is not None:
        power_left = p.budget - spent_towers
    else:
        power_left = p.budget_power if p.budget_power is not None else math.inf
    _, reached = _tree(p, built)
    villages = np.zeros(p.village_node.size, dtype=bool)
    for v in np.asarray(village_order, dtype=np.int64):
        dist, via = _cheapest_paths(p, reached)
        node = int(p.village_node[v])
        total = dist[node] + p.village_cost[v]
        if not np.isfinite(total) or total > power_left + 1e-6:
            continue
        power_left -= total
        villages[v] = True
        cur = node
        while not reached[cur]:
            k = int(via[cur])
            built[k] = True
            payer[k] = "utility"
            reached[cur] = True
            cur = int(p.seg_from[k]) if int(p.seg_to[k]) == cur else int(p.seg_to[k])
    return _solution(
        p, site_power, villages, built, payer, status="heuristic",
        seconds=time.perf_counter() - t0,
    )  # fmt: skip
