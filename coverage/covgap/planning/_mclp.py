"""Array kernels behind :mod:`covgap.planning.plan`: reduction, lazy greedy, swaps, the MIP.

Everything here works on a *reduced* instance: a CSC boolean matrix ``C``
(demand x candidates, every row and column non-empty), weights ``w > 0`` and
costs ``c >= 0``.  Candidate indices are positions in that matrix; ties are
always broken towards the lowest index, so every routine is deterministic.

The exact path: the LP relaxation (HiGHS simplex) gives multipliers from
which :func:`lagrangian_bound` computes, independently of HiGHS's accuracy, a
valid upper bound and per-candidate penalties; :func:`reduced_cost_fixing`
drops every candidate that no set better than the incumbent can use;
:func:`branch_and_bound` (numba kernels in :mod:`covgap.planning._mclp_bb`) or
:func:`solve_mip` (HiGHS) then searches what is left.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Greedy's worst-case ratio for a cardinality constraint, 1 - 1/e.
GREEDY_RATIO = 1.0 - 1.0 / math.e

#: Skip the dominance check when C^T C would hold more pairs than this.
DOMINANCE_PAIR_LIMIT = 60_000_000

#: Subgradient steps per branch-and-bound node (from the parent's multipliers).
SUBGRADIENT_STEPS = 5


def tolerance(w: np.ndarray) -> float:
    """Return the absolute tolerance for comparing covered weights."""
    return 1e-9 * max(1.0, float(np.sum(w)))


# -- reduction -----------------------------------------------------------------


@dataclass
class Reduction:
    """A reduced instance and the maps back to the original one."""

    coverage: sp.csc_array
    weights: np.ndarray
    costs: np.ndarray
    candidate_index: np.ndarray  # reduced candidate -> original position
    demand_index: np.ndarray  # original demand -> reduced row, -1 if dropped
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def coverable(self) -> float:
        """Total weight that some kept candidate covers (a trivial upper bound)."""
        return float(self.weights.sum())


def _merge_rows(
    c: sp.csc_array, w: np.ndarray, demand_index: np.ndarray
) -> tuple[sp.csc_array, np.ndarray, np.ndarray, int]:
    """Merge demand rows with identical candidate sets, summing their weights."""
    r = sp.csr_array(c)
    r.sort_indices()
    groups: dict[bytes, int] = {}
    group_of = np.empty(r.shape[0], dtype=np.int64)
    first: list[int] = []
    for i in range(r.shape[0]):
        key = r.indices[r.indptr[i] : r.indptr[i + 1]].tobytes()
        g = groups.setdefault(key, len(first))
        if g == len(first):
            first.append(i)
        group_of[i] = g
    n_merged = r.shape[0] - len(first)
    if n_merged == 0:
        return c, w, demand_index, 0
    new_w = np.bincount(group_of, weights=w, minlength=len(first))
    new_c = sp.csc_array(r[np.asarray(first, dtype=np.int64)])
    kept = demand_index >= 0
    new_index = demand_index.copy()
    new_index[kept] = group_of[demand_index[kept]]
    return new_c, new_w, new_index, n_merged


def _dominated(c: sp.csc_array, costs: np.ndarray) -> np.ndarray:
    """Return a mask of candidates dominated by another one.

    ``j`` is dominated by ``l`` when ``l`` covers every demand ``j`` covers at
    no higher cost and is strictly better in coverage, in cost, or in index
    (identical candidates keep the lowest index).  This is a strict order, so
    every dominated candidate has an undominated dominator and dropping them
    all at once keeps an optimal solution.
    """
    n = c.shape[1]
    ci = sp.csc_array(c, dtype=np.int32)
    size = np.diff(ci.indptr)
    row_count = np.bincount(ci.indices, minlength=c.shape[0])
    est = np.add.reduceat(row_count[ci.indices], ci.indptr[:-1]) if ci.nnz else np.zeros(n)
    total = float(np.sum(est))
    dominated = np.zeros(n, dtype=bool)
    if total > DOMINANCE_PAIR_LIMIT:
        log.info("dominance check skipped: %.3g candidate pairs share demand", total)
        return dominated
    ct = sp.csr_array(ci.T)
    start = 0
    chunk_pairs = 4_000_000
    while start < n:
        stop = start
        acc = 0.0
        while stop < n and (stop == start or acc + est[stop] <= chunk_pairs):
            acc += est[stop]
            stop += 1
        prod = sp.coo_array(ct[start:stop] @ ci)
        j = prod.row.astype(np.int64) + start
        lcol = prod.col.astype(np.int64)
        ok = (prod.data == size[j]) & (lcol != j) & (costs[lcol] <= costs[j])
        ok &= (size[lcol] > size[j]) | (costs[lcol] < costs[j]) | (lcol < j)
        dominated[j[ok]] = True
        start = stop
    return dominated


def reduce_instance(
    coverage: sp.csc_array,
    weights: np.ndarray,
    costs: np.ndarray,
    already_covered: np.ndarray,
    max_cost: float | None = None,
) -> Reduction:
    """Reduce an instance without changing its optimum.

    Drops demand already covered, of zero weight, or reachable by no
    (affordable) candidate; drops candidates that cost more than ``max_cost``
    or cover nothing left; merges identical demand rows; drops dominated
    candidates and merges rows again.
    """
    n_d, n_c = coverage.shape
    dropped: dict[str, int] = {}
    cand = np.arange(n_c)
    if max_cost is not None:
        cand = cand[costs <= max_cost * (1 + 1e-12)]
    dropped["unaffordable_candidates"] = n_c - cand.size
    c = sp.csc_array(coverage[:, cand])
    keep_d = (~already_covered) & (weights > 0)
    dropped["covered_or_zero_demand"] = int(n_d - keep_d.sum())
    reach = np.diff(sp.csr_array(c).indptr) > 0
    dropped["unreachable_demand"] = int((keep_d & ~reach).sum())
    keep_d &= reach
    rows = np.flatnonzero(keep_d)
    c = sp.csc_array(sp.csr_array(c)[rows])
    w = weights[rows].astype(np.float64)
    demand_index = np.full(n_d, -1, dtype=np.int64)
    demand_index[rows] = np.arange(rows.size)
    useful = np.diff(c.indptr) > 0
    dropped["useless_candidates"] = int((~useful).sum())
    c = sp.csc_array(c[:, np.flatnonzero(useful)])
    cand = cand[useful]
    cs = costs[cand].astype(np.float64)
    c, w, demand_index, merged = _merge_rows(c, w, demand_index)
    dominated = _dominated(c, cs) if c.shape[1] > 1 else np.zeros(c.shape[1], dtype=bool)
    dropped["dominated_candidates"] = int(dominated.sum())
    if dominated.any():
        keep = np.flatnonzero(~dominated)
        c = sp.csc_array(c[:, keep])
        cand = cand[keep]
        cs = cs[keep]
        c, w, demand_index, more = _merge_rows(c, w, demand_index)
        merged += more
    dropped["merged_demand"] = merged
    c.sort_indices()
    return Reduction(c, w, cs, cand, demand_index, dropped)


# -- evaluation ----------------------------------------------------------------


def covered_weight(c: sp.csc_array, w: np.ndarray, selected: list[int] | np.ndarray) -> float:
    """Return the weight of demand covered by the selected candidates."""
    covered = np.zeros(c.shape[0], dtype=bool)
    for j in selected:
        covered[c.indices[c.indptr[j] : c.indptr[j + 1]]] = True
    return float(w[covered].sum())


def _column_gain(c: sp.csc_array, w: np.ndarray, covered: np.ndarray, j: int) -> float:
    idx = c.indices[c.indptr[j] : c.indptr[j + 1]]
    return float(w[idx[~covered[idx]]].sum())


def _key(gain: float, cost: float, by_ratio: bool) -> float:
    if not by_ratio:
        return gain
    if cost <= 0.0:
        return math.inf if gain > 0 else 0.0
    return gain / cost


def prune(
    c: sp.csc_array, w: np.ndarray, costs: np.ndarray, selected: list[int] | np.ndarray
) -> list[int]:
    """Drop the members of a set whose removal loses no demand, most expensive first.

    Many sets reach the same coverage once every coverable household is
    covered (an exact plan for 11 sites may hold three that the other eight
    make redundant); a plan never proposes a site that gains nothing.
    Deterministic: members are tried by decreasing cost, ties by decreasing
    index.
    """
    tol = tolerance(w)
    members = sorted({int(j) for j in selected}, key=lambda j: (-float(costs[j]), -j))
    count = np.zeros(c.shape[0], dtype=np.int64)
    for j in members:
        count[c.indices[c.indptr[j] : c.indptr[j + 1]]] += 1
    kept = set(members)
    for j in members:
        rows = c.indices[c.indptr[j] : c.indptr[j + 1]]
        if float(w[rows[count[rows] == 1]].sum()) <= tol:
            kept.discard(j)
            count[rows] -= 1
    return sorted(kept)


def rank(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    selected: list[int] | np.ndarray,
    by_ratio: bool,
) -> tuple[list[int], list[float]]:
    """Order a set by marginal gain (or gain per cost) given earlier picks.

    Members whose removal loses no demand are dropped first (:func:`prune`);
    ties go to the larger gain, then the lowest index.
    """
    tol = tolerance(w)
    remaining = prune(c, w, costs, selected)
    covered = np.zeros(c.shape[0], dtype=bool)
    order: list[int] = []
    gains: list[float] = []
    while remaining:
        best: tuple[float, float, int] | None = None
        for j in remaining:
            g = _column_gain(c, w, covered, j)
            cand = (-_key(g, costs[j], by_ratio), -g, j)
            if best is None or cand < best:
                best = cand
        assert best is not None
        g, j = -best[1], best[2]
        if g <= tol:
            break
        order.append(j)
        gains.append(g)
        covered[c.indices[c.indptr[j] : c.indptr[j + 1]]] = True
        remaining.remove(j)
    return order, gains


# -- greedy ----------------------------------------------------------------------


def _knapsack_bound(ub: np.ndarray, costs: np.ndarray, budget: float) -> float:
    """Fractional-knapsack bound on what a set within ``budget`` can still add."""
    pos = ub > 0
    if not pos.any():
        return 0.0
    u, cc = ub[pos], costs[pos]
    free = cc <= 0
    total = float(u[free].sum())
    u, cc = u[~free], cc[~free]
    order = np.argsort(-(u / cc), kind="stable")
    cum = np.cumsum(cc[order])
    full = np.searchsorted(cum, budget, side="right")
    total += float(u[order[:full]].sum())
    if full < order.size:
        spent = float(cum[full - 1]) if full > 0 else 0.0
        total += float(u[order[full]]) * (budget - spent) / float(cc[order[full]])
    return total


def _step_bound(
    covered_now: float, ub: np.ndarray, costs: np.ndarray, k: int | None, budget: float | None
) -> float:
    """Upper bound on the optimum from marginal-gain upper bounds at one step.

    By submodularity OPT <= f(S) + max over feasible T of sum of gains of T
    given S; stale lazy-greedy gains are upper bounds on those gains.
    """
    bounds = [math.inf]
    if k is not None:
        top = ub if ub.size <= k else np.partition(ub, ub.size - k)[ub.size - k :]
        bounds.append(covered_now + float(top.sum()))
    if budget is not None:
        bounds.append(covered_now + _knapsack_bound(ub, costs, budget))
    return min(bounds)


@dataclass
class GreedyOutcome:
    """What the lazy greedy found, in pick order, and the bound it proved."""

    order: list[int]
    gains: list[float]
    objective: float
    bound: float
    single_best: bool = False


def lazy_greedy(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    k: int | None,
    budget: float | None,
    first: int | None = None,
) -> GreedyOutcome:
    """Lazy greedy on a reduced instance.

    With a budget, picks by gain per cost among affordable candidates, then
    returns the better of that set and the best single affordable site.
    ``first`` forces the first pick (for restarts).
    """
    n = c.shape[1]
    tol = tolerance(w)
    by_ratio = budget is not None
    budget_tol = 0.0 if budget is None else 1e-12 * max(1.0, budget)
    col = np.repeat(np.arange(n), np.diff(c.indptr))
    gain0 = np.bincount(col, weights=w[c.indices], minlength=n)
    ub = gain0.copy()  # upper bounds on current marginal gains
    stamp = np.zeros(n, dtype=np.int64)
    heap = [
        (-_key(float(gain0[j]), float(costs[j]), by_ratio), -float(gain0[j]), j) for j in range(n)
    ]
    heapq.heapify(heap)
    covered = np.zeros(c.shape[0], dtype=bool)
    order: list[int] = []
    gains: list[float] = []
    spent = 0.0
    total = 0.0
    step = 0
    bound = _step_bound(0.0, ub, costs, k, budget)
    if (
        first is not None
        and (k is None or k > 0)
        and (budget is None or costs[first] <= budget + budget_tol)
    ):
        order.append(first)
        gains.append(float(gain0[first]))
        covered[c.indices[c.indptr[first] : c.indptr[first + 1]]] = True
        spent = float(costs[first])
        total = float(gain0[first])
        ub[first] = 0.0
        step = 1
    while heap and (k is None or len(order) < k):
        _, _, j = heapq.heappop(heap)
        if budget is not None and costs[j] > budget - spent + budget_tol:
            continue  # the remaining budget only shrinks
        if stamp[j] == step:
            g = float(ub[j])
            bound = min(bound, _step_bound(total, ub, costs, k, budget))
            order.append(j)
            gains.append(g)
            covered[c.indices[c.indptr[j] : c.indptr[j + 1]]] = True
            spent += float(costs[j])
            total += g
            ub[j] = 0.0
            step += 1
            continue
        g = _column_gain(c, w, covered, j)
        ub[j] = g
        stamp[j] = step
        if g <= tol:
            ub[j] = 0.0
            continue
        heapq.heappush(heap, (-_key(g, float(costs[j]), by_ratio), -g, j))
    bound = min(bound, _step_bound(total, ub, costs, k, budget), float(w.sum()))
    out = GreedyOutcome(order, gains, total, max(bound, total))
    if budget is not None and n:
        affordable = costs <= budget + budget_tol
        if affordable.any() and (k is None or k > 0):
            masked = np.where(affordable, gain0, -np.inf)
            best = int(np.argmax(masked))
            if gain0[best] > total + tol:
                log.debug("single best site %d beats the greedy set", best)
                out = GreedyOutcome(
                    [best], [float(gain0[best])], float(gain0[best]), out.bound, True
                )
    return out


# -- local search -------------------------------------------------------------------


def local_search(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    selected: list[int],
    k: int | None,
    budget: float | None,
    max_moves: int = 1000,
) -> tuple[list[int], int]:
    """Improve a set by additions and 1-swaps until none improves (best improvement).

    A swap replaces one chosen site by an unchosen one when that raises the
    covered weight (and stays within the budget).  Returns the set (the
    replacing site takes the replaced one's position) and the number of moves.
    """
    n = c.shape[1]
    tol = tolerance(w)
    budget_tol = 0.0 if budget is None else 1e-12 * max(1.0, budget)
    cf = sp.csc_array(c, dtype=np.float64)
    cft = sp.csr_array(cf.T)  # candidates x demand: one sparse mat-vec per evaluation
    crit_w = np.zeros(c.shape[0])
    sel = list(selected)
    insel = np.zeros(n, dtype=bool)
    insel[sel] = True
    cnt = np.zeros(c.shape[0], dtype=np.int64)
    for j in sel:
        cnt[c.indices[c.indptr[j] : c.indptr[j + 1]]] += 1
    spent = float(costs[sel].sum()) if sel else 0.0
    moves = 0
    by_ratio = budget is not None
    while moves < max_moves:
        base = cft @ (w * (cnt == 0))
        if k is None or len(sel) < k:
            ok = ~insel & (base > tol)
            if budget is not None:
                ok &= costs <= budget - spent + budget_tol
            if ok.any():
                if by_ratio:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        key = np.where(costs > 0, base / costs, np.inf)
                else:
                    key = base
                key = np.where(ok, key, -np.inf)
                top = np.flatnonzero(key == key.max())
                t = int(top[np.argmax(base[top])])
                sel.append(t)
                insel[t] = True
                cnt[c.indices[c.indptr[t] : c.indptr[t + 1]]] += 1
                spent += float(costs[t])
                moves += 1
                continue
        best_delta, best_pos, best_t = tol, -1, -1
        for pos in np.argsort(sel, kind="stable"):
            s = sel[pos]
            idx = c.indices[c.indptr[s] : c.indptr[s + 1]]
            crit = idx[cnt[idx] == 1]
            loss = float(w[crit].sum())
            delta = base - loss
            if crit.size:
                # Weight of the demand only s covers, as each candidate would regain it.
                crit_w[crit] = w[crit]
                delta = delta + cft @ crit_w
                crit_w[crit] = 0.0
            ok = ~insel
            if budget is not None:
                ok &= costs <= budget - spent + float(costs[s]) + budget_tol
            delta = np.where(ok, delta, -np.inf)
            t = int(np.argmax(delta))
            if delta[t] > best_delta:
                best_delta, best_pos, best_t = float(delta[t]), int(pos), t
        if best_t < 0:
            break
        s = sel[best_pos]
        sel[best_pos] = best_t
        insel[s], insel[best_t] = False, True
        cnt[c.indices[c.indptr[s] : c.indptr[s + 1]]] -= 1
        cnt[c.indices[c.indptr[best_t] : c.indptr[best_t + 1]]] += 1
        spent += float(costs[best_t] - costs[s])
        moves += 1
    else:
        log.info("local search stopped after %d moves", max_moves)
    return sel, moves


# -- LP relaxation, reduced-cost fixing, branch-and-bound ------------------------------


@dataclass(frozen=True)
class Target:
    """What counts as an improvement on an incumbent covering ``z``.

    Only sets covering at least ``z + step`` are sought; once the search
    shows none exists, the optimum is at most ``z + slack``.  With integral
    weights every objective is an integer, so ``step`` is just under 1 and
    ``slack`` is 0; otherwise ``step`` is half the comparison tolerance and
    ``slack`` the tolerance (which also absorbs the rounding of the bounds).
    """

    step: float
    slack: float


def improvement_target(w: np.ndarray) -> Target:
    """Return the :class:`Target` for weights ``w`` (see :func:`tolerance`)."""
    tol = tolerance(w)
    if tol < 0.25 and bool(np.all(w == np.round(w))):
        return Target(1.0 - tol, 0.0)
    return Target(0.5 * tol, tol)


@dataclass
class LpOutcome:
    """The LP relaxation's status, value and multipliers (clipped to valid ranges)."""

    status: str  # optimal | not_optimal
    objective: float  # HiGHS's value (reported only; bounds come from the multipliers)
    u: np.ndarray  # coverage rows, in [0, w]
    lam: float  # sum x <= k, >= 0 (0 without k)
    mu: float  # scaled budget row, >= 0 (0 without a budget)
    seconds: float


def _budget_row(costs: np.ndarray, budget: float) -> tuple[np.ndarray, float]:
    """Budget row scaled for conditioning: coefficients and right-hand side."""
    scale = budget if budget > 0 else 1.0
    return costs / scale, budget / scale


def solve_lp(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    k: int | None,
    budget: float | None,
    time_limit: float,
) -> LpOutcome | None:
    """Solve the LP relaxation of :func:`build_matrix`'s model with HiGHS.

    Primal simplex without presolve (on these models much faster than the
    dual simplex HiGHS would pick).  Returns None when ``highspy`` is absent.
    """
    try:
        from highspy import HighsModelStatus
    except ImportError:  # pragma: no cover - highspy ships with scipy's HiGHS
        return None
    m, n = c.shape
    a, upper = build_matrix(c, costs, k, budget)
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("presolve", "off")
    h.setOptionValue("simplex_strategy", 4)  # primal simplex
    _check(h.passModel(_highs_lp(a, upper, w, n, integer=False)), "passModel")
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    sol = h.getSolution()
    optimal = h.getModelStatus() == HighsModelStatus.kOptimal and bool(sol.dual_valid)
    if not optimal:
        log.info("LP relaxation not solved (%s)", h.modelStatusToString(h.getModelStatus()))
        return LpOutcome("not_optimal", math.nan, np.zeros(m), 0.0, 0.0, seconds)
    # HiGHS minimises -w.y: the duals of the <= rows are <= 0.
    dual = -np.asarray(sol.row_dual, dtype=np.float64)
    u = np.clip(dual[:m], 0.0, w)
    lam = max(0.0, float(dual[m])) if k is not None else 0.0
    mu = max(0.0, float(dual[-1])) if budget is not None else 0.0
    objective = -float(h.getInfo().objective_function_value)
    return LpOutcome("optimal", objective, u, lam, mu, seconds)


def lagrangian_bound(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    k: int | None,
    budget: float | None,
    u: np.ndarray,
    lam: float,
    mu: float,
) -> tuple[float, np.ndarray]:
    """Return an upper bound from multipliers, and each candidate's penalty.

    With ``u >= 0`` on the coverage rows ``y_i <= sum_j a_ij x_j``, ``lam >= 0``
    on ``sum x <= k`` and ``mu >= 0`` on the scaled budget row ``sum a_j x_j <= b``
    (see :func:`build_matrix`), every feasible plan covers at most

        L = sum_i max(0, w_i - u_i) + lam k + mu b + sum_j max(0, r_j),
        r_j = sum_i a_ij u_i - lam - mu a_j,

    and every feasible plan containing candidate ``j`` at most
    ``L - max(0, -r_j)`` (the penalty).  This holds for any such multipliers,
    so it does not depend on the accuracy of the LP that supplied them; at
    the LP's optimal duals ``L`` is the LP bound and the penalties are the
    reduced costs.
    """
    u = np.clip(u, 0.0, None)
    s = sp.csr_array(sp.csc_array(c, dtype=np.float64).T) @ u
    r = s.copy()
    total = float(np.maximum(w - u, 0.0).sum())
    if k is not None:
        r -= lam
        total += lam * k
    if budget is not None:
        coef, rhs = _budget_row(costs, budget)
        r -= mu * coef
        total += mu * rhs
    total += float(np.maximum(r, 0.0).sum())
    return total, np.maximum(-r, 0.0)


@dataclass
class Fixing:
    """Reduced-cost fixing: the bound and what is left to search."""

    bound: float  # Lagrangian bound at the LP multipliers (valid)
    columns: np.ndarray  # candidates a better plan may still use, ascending
    rows: np.ndarray  # demand rows those candidates cover, ascending
    u: np.ndarray  # the multipliers of those rows


def fix_columns(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    k: int | None,
    budget: float | None,
    lp: LpOutcome,
    incumbent: float,
    target: Target,
) -> Fixing:
    """Drop the candidates that no plan covering ``incumbent + target.step`` can use.

    A candidate is fixed to 0 when its :func:`lagrangian_bound` penalty takes
    the bound below ``incumbent + target.step``; demand rows no kept candidate
    covers go too.  Valid for ``k``, a budget or both, as the multipliers come
    from the LP with the same constraints.
    """
    bound, penalty = lagrangian_bound(c, w, costs, k, budget, lp.u, lp.lam, lp.mu)
    columns = np.flatnonzero(bound - penalty >= incumbent + target.step)
    rows = np.flatnonzero(np.diff(sp.csr_array(c[:, columns]).indptr) > 0)
    log.debug(
        "LP bound %.6g, incumbent %.6g: %d of %d candidates fixed to 0",
        bound,
        incumbent,
        c.shape[1] - columns.size,
        c.shape[1],
    )
    return Fixing(bound, columns, rows, lp.u[rows])


@dataclass
class BnbOutcome:
    """What the branch-and-bound found and proved."""

    status: str  # optimal | time_limit
    selected: list[int] | None  # a set better than the incumbent, if one was found
    objective: float  # the best value (the incumbent's when nothing better was found)
    bound: float  # valid upper bound on the optimum of the searched instance
    nodes: int
    seconds: float


def branch_and_bound(
    c: sp.csc_array,
    w: np.ndarray,
    k: int,
    u: np.ndarray,
    incumbent: float,
    target: Target,
    time_limit: float,
    max_nodes: int = 30_000,
) -> BnbOutcome:
    """Search for a set of at most ``k`` columns covering ``incumbent + target.step``.

    Depth-first Lagrangian branch-and-bound (numba kernels in
    :mod:`covgap.planning._mclp_bb`) started from the multipliers ``u`` (the LP duals):
    complete and deterministic. It stops after ``max_nodes`` nodes, a limit
    that does not depend on the machine's speed or load, so the same inputs
    always take the same path; ``time_limit`` seconds is only a safety stop
    (checked between batches of nodes, whose sizes are fixed).
    """
    from covgap.planning import _mclp_bb

    m, n = c.shape
    colptr = np.ascontiguousarray(c.indptr, dtype=np.int64)
    colrows = np.ascontiguousarray(c.indices, dtype=np.int64)
    weights = np.ascontiguousarray(w, dtype=np.float64)
    stack_status = np.zeros((64, n), dtype=np.int8)
    stack_u = np.zeros((64, m))
    stack_u[0] = np.clip(u, 0.0, weights)
    stack_bound = np.full(64, math.inf)
    best = np.array([float(incumbent)])
    best_set = np.zeros(n, dtype=np.bool_)
    height, nodes, batch = 1, 0, 64
    t0 = time.perf_counter()
    while height > 0:
        stack_status, stack_u, stack_bound, height, done = _mclp_bb.search(
            colptr,
            colrows,
            weights,
            int(k),
            float(target.step),
            int(SUBGRADIENT_STEPS),
            stack_status,
            stack_u,
            stack_bound,
            int(height),
            best,
            best_set,
            int(batch),
        )
        nodes += int(done)
        if height == 0 or nodes >= max_nodes or time.perf_counter() - t0 >= time_limit:
            break
        batch = int(min(2 * batch, 4096, max_nodes - nodes))
    seconds = time.perf_counter() - t0
    value = float(best[0])
    selected = [int(j) for j in np.flatnonzero(best_set)] if value > incumbent else None
    bound = value + target.slack
    if height > 0:
        bound = max(bound, float(stack_bound[:height].max()))
        log.info("branch-and-bound stopped after %d nodes (%.2f s)", nodes, seconds)
    status = "optimal" if height == 0 else ("node_limit" if nodes >= max_nodes else "time_limit")
    return BnbOutcome(status, selected, value, bound, nodes, seconds)


# -- the mixed-integer program ----------------------------------------------------


@dataclass
class MipOutcome:
    """What HiGHS reported: status, its incumbent (if any) and its dual bound."""

    status: str  # optimal | time_limit | interrupted
    selected: list[int] | None
    bound: float
    nodes: int
    seconds: float


def build_matrix(
    c: sp.csc_array, costs: np.ndarray, k: int | None, budget: float | None
) -> tuple[sp.csc_array, np.ndarray]:
    """Constraint matrix over columns [x, y] and the rows' upper bounds.

    Rows: ``y_i - sum_j a_ij x_j <= 0`` per demand, then ``sum x <= k``, then
    ``sum (c_j / B) x_j <= 1`` (the budget scaled to one for conditioning).
    """
    m, n = c.shape
    blocks = [[-sp.csc_array(c, dtype=np.float64), sp.eye_array(m, format="csc")]]
    upper = [np.zeros(m)]
    if k is not None:
        blocks.append([sp.csr_array(np.ones((1, n))), sp.csr_array((1, m))])
        upper.append(np.array([float(k)]))
    if budget is not None:
        coef, rhs = _budget_row(costs, budget)
        blocks.append([sp.csr_array(coef.reshape(1, n)), sp.csr_array((1, m))])
        upper.append(np.array([rhs]))
    a = sp.csc_array(sp.block_array(blocks, format="csc"))
    a.sort_indices()
    return a, np.concatenate(upper)


def solve_mip(
    c: sp.csc_array,
    w: np.ndarray,
    costs: np.ndarray,
    k: int | None,
    budget: float | None,
    time_limit: float,
    start: list[int] | None,
    presolve: bool,
    mip_rel_gap: float,
) -> MipOutcome:
    """Solve ``max w.y`` s.t. the coverage rows with HiGHS; warm-start from ``start``."""
    from covgap.errors import SolverError

    m, n = c.shape
    a, upper = build_matrix(c, costs, k, budget)
    try:
        from highspy import HighsModelStatus
    except ImportError:  # pragma: no cover - highspy ships with scipy's HiGHS
        return _solve_scipy(a, upper, w, n, time_limit, presolve, mip_rel_gap)
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(0.01, float(time_limit)))
    h.setOptionValue("presolve", "on" if presolve else "off")
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    _check(h.passModel(_highs_lp(a, upper, w, n, integer=True)), "passModel")
    if start:
        x = np.zeros(n + m)
        x[start] = 1.0
        x[n:] = (c @ x[:n]) > 0
        h.setSolution(n + m, np.arange(n + m, dtype=np.int32), x)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    names = {
        HighsModelStatus.kOptimal: "optimal",
        HighsModelStatus.kTimeLimit: "time_limit",
        HighsModelStatus.kInterrupt: "interrupted",
        HighsModelStatus.kIterationLimit: "time_limit",
        HighsModelStatus.kSolutionLimit: "time_limit",
    }
    if status not in names:
        raise SolverError(f"HiGHS stopped with status {h.modelStatusToString(status)!r}")
    selected = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        xs = np.asarray(h.getSolution().col_value[:n])
        selected = [int(j) for j in np.flatnonzero(xs > 0.5)]
    dual = float(info.mip_dual_bound)
    bound = -dual if math.isfinite(dual) else math.inf
    return MipOutcome(names[status], selected, bound, int(info.mip_node_count), seconds)


def _highs_lp(a: sp.csc_array, upper: np.ndarray, w: np.ndarray, n: int, integer: bool) -> Any:
    """Return the model ``min -w.y`` over columns ``[x, y]`` in ``[0, 1]`` as a ``HighsLp``."""
    from highspy import HighsLp, HighsVarType, MatrixFormat

    m = w.size
    lp = HighsLp()
    lp.num_col_ = n + m
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.concatenate([np.zeros(n), -w])
    lp.col_lower_ = np.zeros(n + m)
    lp.col_upper_ = np.ones(n + m)
    lp.row_lower_ = np.full(a.shape[0], -np.inf)
    lp.row_upper_ = upper
    lp.a_matrix_.format_ = MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    if integer:
        lp.integrality_ = [HighsVarType.kInteger] * n + [HighsVarType.kContinuous] * m
    return lp


def _new_highs() -> Any:
    """Return a HiGHS instance without the banner ``highspy.Highs()`` prints."""
    try:
        from highspy._core import _Highs

        return _Highs()
    except ImportError:  # pragma: no cover - layout of other highspy versions
        import highspy

        return highspy.Highs()


def _check(status: Any, what: str) -> None:
    from highspy import HighsStatus

    from covgap.errors import SolverError

    if status == HighsStatus.kError:
        raise SolverError(f"HiGHS {what} failed")


def _solve_scipy(
    a: sp.csc_array,
    upper: np.ndarray,
    w: np.ndarray,
    n: int,
    time_limit: float,
    presolve: bool,
    mip_rel_gap: float,
) -> MipOutcome:  # pragma: no cover - used only without highspy
    from scipy.optimize import Bounds, LinearConstraint, milp

    from covgap.errors import SolverError

    m = w.size
    t0 = time.perf_counter()
    res = milp(
        np.concatenate([np.zeros(n), -w]),
        constraints=LinearConstraint(a, -np.inf, upper),
        integrality=np.concatenate([np.ones(n), np.zeros(m)]),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "presolve": presolve, "mip_rel_gap": mip_rel_gap},
    )
    seconds = time.perf_counter() - t0
    if res.status not in (0, 1):
        raise SolverError(f"scipy.optimize.milp: {res.message}")
    selected = None if res.x is None else [int(j) for j in np.flatnonzero(res.x[:n] > 0.5)]
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and math.isfinite(dual) else math.inf
    status = "optimal" if res.status == 0 else "time_limit"
    return MipOutcome(status, selected, bound, int(getattr(res, "mip_node_count", 0) or 0), seconds)
