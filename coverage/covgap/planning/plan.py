"""Where to build: budgeted maximal coverage, solved greedily or exactly.

The models work on arrays only.  A :class:`CoverageProblem` holds a boolean
matrix ``coverage`` (demand points x candidate sites: site ``j`` brings demand
``i`` above the signal threshold), the weight of each demand point (households
or population), the cost of each site and which demand existing towers already
cover.  Two models choose sites under a number of sites ``k``, a ``budget`` or
both, in the style of spopt (thin constructor, then ``solve()``):

* :class:`GreedyCoverage`: lazy greedy (gain, or gain per cost under a budget
  with the single-best-site safeguard), optionally improved by 1-swaps;
* :class:`ExactCoverage`: the maximal-coverage mixed-integer program, proved
  optimal within a time limit: greedy-with-swaps as incumbent, the LP bound
  with reduced-cost fixing, then a Lagrangian branch-and-bound (cardinality
  constraint only) or HiGHS; never worse than greedy-with-swaps.

Both first reduce the instance (:func:`reduce_problem`) and return a
:class:`PlanResult` whose sites are ranked and indexed in the original problem.

Per operator: build one problem per operator with
``problem.subset(candidate_operator == name)`` and solve each.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from pyproj import CRS

from covgap.data.crs import is_metric
from covgap.errors import CRSError, ProblemInputError
from covgap.planning import _mclp

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CoverageProblem",
    "ExactCoverage",
    "GreedyCoverage",
    "PlanResult",
    "ReducedProblem",
    "reduce_problem",
    "saturating_k",
]

log = logging.getLogger(__name__)

#: Above this many non-zeros in the reduced matrix HiGHS runs without presolve,
#: whose cost on big instances ignores the time limit.
PRESOLVE_NNZ_LIMIT = 200_000

#: Above this many non-zeros the LP relaxation (reduced-cost fixing) is skipped:
#: its simplex alone can take minutes there.
FIXING_NNZ_LIMIT = 200_000

#: Share of the remaining time the LP relaxation may take.
LP_TIME_SHARE = 0.2

#: The branch-and-bound explores at most this many nodes (about 2 s on one
#: quiet core for the demo's matrix), then hands over to HiGHS, whose cuts
#: suit the hard cases better. A node count, not a time: the same inputs
#: must give the same plan on a loaded machine too.
BNB_MAX_NODES = 30_000
#: ... and, as a safety stop only, this share of the remaining time.
BNB_TIME_SHARE = 0.5

#: The branch-and-bound runs only when at most this many candidates are left
#: after fixing: it proves the district instances (26-210 candidates left) in
#: milliseconds, while on bigger ones, where fixing removes little, HiGHS's
#: cuts do better and every second counts.
BNB_COLUMN_LIMIT = 1000


@dataclass
class CoverageProblem:
    """A maximal-coverage instance.

    Parameters
    ----------
    coverage
        ``n_demand x n_candidates`` boolean matrix (any scipy.sparse format or a
        dense array): candidate ``j`` brings demand ``i`` above the threshold.
    weights
        Households or population per demand point, ``>= 0``.
    costs
        Cost per candidate (VND), ``>= 0``.
    already_covered
        Demand already covered by existing towers, left out of the objective.
    candidate_ids, demand_ids
        Labels reported back; default ``0..n-1``.
    """

    coverage: Any
    weights: Any
    costs: Any
    already_covered: Any = None
    candidate_ids: Sequence[Any] | None = None
    demand_ids: Sequence[Any] | None = None

    def __post_init__(self) -> None:
        cov = self.coverage
        if not sp.issparse(cov):
            cov = np.asarray(cov)
            if cov.ndim != 2:
                raise ProblemInputError(f"coverage must be 2-D, got shape {cov.shape}")
        cov = sp.csc_array(cov, dtype=bool)
        cov.eliminate_zeros()
        cov.sort_indices()
        n_d, n_c = cov.shape
        weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        costs = np.asarray(self.costs, dtype=np.float64).reshape(-1)
        _check_vector("weights", weights, n_d, "demand points (coverage rows)")
        _check_vector("costs", costs, n_c, "candidates (coverage columns)")
        if self.already_covered is None:
            already = np.zeros(n_d, dtype=bool)
        else:
            already = np.asarray(self.already_covered, dtype=bool).reshape(-1)
            if already.size != n_d:
                raise ProblemInputError(
                    f"already_covered has {already.size} values for {n_d} demand points"
                )
        cand_ids = list(range(n_c)) if self.candidate_ids is None else list(self.candidate_ids)
        dem_ids = list(range(n_d)) if self.demand_ids is None else list(self.demand_ids)
        if len(cand_ids) != n_c:
            raise ProblemInputError(
                f"candidate_ids has {len(cand_ids)} labels for {n_c} candidates"
            )
        if len(dem_ids) != n_d:
            raise ProblemInputError(f"demand_ids has {len(dem_ids)} labels for {n_d} demand points")
        self.coverage = cov
        self.weights = weights
        self.costs = costs
        self.already_covered = already
        self.candidate_ids = cand_ids
        self.demand_ids = dem_ids

    @classmethod
    def from_geodataframes(
        cls,
        demand: gpd.GeoDataFrame,
        candidates: gpd.GeoDataFrame,
        coverage: Any,
        *,
        weight: str = "households",
        cost: str = "total_vnd",
        candidate_id: str = "candidate_id",
        demand_id: str = "village_code",
        already_covered: str | None = None,
    ) -> CoverageProblem:
        """Build the problem from demand points and candidate sites.

        The glue between the planning tables and the array model: checks that
        both tables share one projected metric CRS (the coverage matrix was
        computed on distances) and carry the named columns, then hands their
        columns, as arrays, to the constructor.

        Parameters
        ----------
        demand
            Demand points (rows of ``coverage``), e.g. the settlements of the
            uncovered villages.
        candidates
            Candidate sites (columns of ``coverage``).
        coverage
            ``len(demand) x len(candidates)`` boolean matrix (sparse or dense),
            e.g. from :func:`covgap.radio.links.coverage_matrix`.
        weight, cost
            Columns of ``demand`` (weight per point) and of
            ``candidates`` (cost per site).
        candidate_id, demand_id
            Columns whose values label the candidates and demand points.
        already_covered
            Boolean column of ``demand``: points existing towers already cover.

        Returns
        -------
        CoverageProblem

        Raises
        ------
        covgap.errors.CRSError
            If a table has no CRS, a geographic one, or not the other's.
        covgap.errors.ProblemInputError
            If a column is missing or the matrix does not match the tables.
        """
        crs = _metric_crs(demand, "demand points")
        if len(candidates) or candidates.crs is not None:
            other = _metric_crs(candidates, "candidate sites")
            if other != crs:
                raise CRSError(
                    f"demand points are in {crs.name!r} but candidate sites in {other.name!r}; "
                    "reproject both to the analysis CRS"
                )
        for table, what, columns in (
            (demand, "demand points", [weight, demand_id, already_covered]),
            (candidates, "candidate sites", [cost, candidate_id]),
        ):
            missing = [c for c in columns if c is not None and c not in table.columns]
            if missing:
                raise ProblemInputError(f"{what} have no column {', '.join(map(repr, missing))}")
        shape = (len(demand), len(candidates))
        if tuple(coverage.shape) != shape:
            raise ProblemInputError(
                f"coverage has shape {tuple(coverage.shape)}, expected {shape} "
                "(demand points x candidate sites)"
            )
        return cls(
            coverage=coverage,
            weights=demand[weight].to_numpy(float),
            costs=candidates[cost].to_numpy(float),
            already_covered=None
            if already_covered is None
            else demand[already_covered].to_numpy(bool),
            candidate_ids=candidates[candidate_id].astype(str).tolist(),
            demand_ids=demand[demand_id].astype(str).tolist(),
        )

    @property
    def n_demand(self) -> int:
        """Number of demand points."""
        return int(self.coverage.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites."""
        return int(self.coverage.shape[1])

    def covered(self, selected: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the demand points the selected candidates cover (boolean per demand)."""
        cov = self.coverage
        out = np.zeros(self.n_demand, dtype=bool)
        for j in np.asarray(selected, dtype=np.int64).reshape(-1):
            out[cov.indices[cov.indptr[j] : cov.indptr[j + 1]]] = True
        return out

    def objective(self, selected: Sequence[int] | np.ndarray) -> float:
        """Return the newly covered weight: covered by the selection, not already covered."""
        new = self.covered(selected) & ~self.already_covered
        return float(self.weights[new].sum())

    def subset(self, mask: Any) -> CoverageProblem:
        """Return the problem restricted to the candidates where ``mask`` is true.

        Use it to plan per operator; ``candidate_ids`` keep their labels.
        """
        keep = np.flatnonzero(np.asarray(mask, dtype=bool).reshape(-1))
        if keep.size and keep[-1] >= self.n_candidates:
            raise ProblemInputError("mask is longer than the candidate list")
        ids = self.candidate_ids or []
        return CoverageProblem(
            self.coverage[:, keep],
            self.weights,
            self.costs[keep],
            self.already_covered,
            [ids[j] for j in keep],
            self.demand_ids,
        )


def _metric_crs(table: gpd.GeoDataFrame, what: str) -> CRS:
    """Return the table's CRS, which must be projected in metres."""
    if getattr(table, "crs", None) is None:
        raise CRSError(f"{what} have no CRS; give them the analysis CRS (projected, metres)")
    crs = CRS.from_user_input(table.crs)
    if not is_metric(crs):
        raise CRSError(
            f"{what} are in {crs.name!r}, not a projected CRS in metres; "
            "reproject them to the analysis CRS first"
        )
    return crs


def _check_vector(name: str, v: np.ndarray, n: int, what: str) -> None:
    if v.size != n:
        raise ProblemInputError(f"{name} has {v.size} values for {n} {what}")
    if not np.all(np.isfinite(v)):
        raise ProblemInputError(f"{name} must be finite")
    if np.any(v < 0):
        raise ProblemInputError(f"{name} must be >= 0, got {float(v.min())}")


@dataclass
class ReducedProblem:
    """A reduced instance and the maps back to the original problem.

    Attributes
    ----------
    coverage, weights, costs
        The reduced arrays (every row and column non-empty, weights > 0).
    candidate_index
        Reduced candidate -> position in the original problem.
    demand_index
        Original demand -> reduced row (merged rows share one), -1 if dropped.
    dropped
        How many of each kind were removed (for logs and reports).
    """

    coverage: sp.csc_array
    weights: np.ndarray
    costs: np.ndarray
    candidate_index: np.ndarray
    demand_index: np.ndarray
    dropped: dict[str, int]

    @property
    def coverable(self) -> float:
        """Total weight some kept candidate covers: an upper bound on any plan."""
        return float(self.weights.sum())

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_demand, n_candidates)`` after reduction."""
        return int(self.coverage.shape[0]), int(self.coverage.shape[1])


def reduce_problem(problem: CoverageProblem, max_cost: float | None = None) -> ReducedProblem:
    """Reduce a problem without changing its optimum.

    Drops demand already covered, of zero weight, or that no candidate reaches;
    candidates costing more than ``max_cost`` or covering nothing left;
    candidates dominated by another (covering a superset at no higher cost;
    among identical ones the lowest index stays); and merges demand points
    covered by the same candidates, summing their weights.

    Parameters
    ----------
    problem
        The instance.
    max_cost
        Drop candidates costing more (the budget), if given.

    Returns
    -------
    ReducedProblem
    """
    r = _mclp.reduce_instance(
        problem.coverage, problem.weights, problem.costs, problem.already_covered, max_cost
    )
    return ReducedProblem(
        r.coverage, r.weights, r.costs, r.candidate_index, r.demand_index, r.dropped
    )


def saturating_k(problem: CoverageProblem) -> int:
    """Return the number of sites after which no further site gains anything.

    It is the length of the lazy greedy run without a limit (no ``k``, no
    budget) on the reduced problem: greedy stops when no candidate adds any
    weight, or when the useful candidates run out.  Its set then covers all
    the weight any plan can cover, so for every ``k`` at or above it the
    greedy and exact plans without a budget cover everything coverable (the
    exact optimum may need fewer sites), and a plan for a larger ``k`` is
    solved as the plan for this one.

    Parameters
    ----------
    problem
        The instance.

    Returns
    -------
    int
        0 when no candidate covers any weight.

    Examples
    --------
    >>> import numpy as np
    >>> p = CoverageProblem(np.array([[1, 1, 0], [0, 1, 1]], bool), [1, 1], [1, 1, 1])
    >>> saturating_k(p)
    1
    """
    red = reduce_problem(problem)
    if red.shape[1] == 0:
        return 0
    return len(_mclp.lazy_greedy(red.coverage, red.weights, red.costs, None, None).order)


@dataclass
class PlanResult:
    """A ranked build plan.

    Attributes
    ----------
    method
        ``greedy``, ``greedy+swaps`` or ``exact``.
    status
        ``optimal`` (proved), ``heuristic`` (greedy, optimality not proved),
        ``time_limit`` (exact stopped early; see ``gap``) or
        ``no_affordable_site`` (the budget buys no useful site).
    selected
        Candidate positions in the original problem, in rank order: greedy's
        pick order, otherwise by marginal gain given earlier picks (gain per
        cost under a budget), ties to the lowest position.
    candidate_ids
        Their labels.
    gains, cumulative
        Weight each ranked site adds, and the running total.
    objective
        Newly covered weight.
    bound
        Proved upper bound on the optimum (``inf`` if none).
    gap
        ``(bound - objective) / bound``; 0 when optimal.
    cost
        Total cost of the selected sites.
    build_seconds, solve_seconds
        Reduction and model building; solving (greedy, swaps, MIP, ranking).
    note
        How the result came about (e.g. greedy kept after a MIP time-out).
    reduced_shape
        ``(n_demand, n_candidates)`` after reduction.
    details
        Solver figures (greedy objective, MIP incumbent, nodes, presolve...).
    """

    method: str
    status: str
    selected: np.ndarray
    candidate_ids: list[Any]
    gains: np.ndarray
    cumulative: np.ndarray
    objective: float
    bound: float
    gap: float
    cost: float
    build_seconds: float
    solve_seconds: float
    note: str = ""
    reduced_shape: tuple[int, int] = (0, 0)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """End-to-end time: building plus solving."""
        return self.build_seconds + self.solve_seconds


def _check_limits(k: Any, budget: Any) -> tuple[int | None, float | None]:
    if k is None and budget is None:
        raise ProblemInputError("give the number of sites k, a budget, or both")
    if k is not None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ProblemInputError(f"k must be an integer, got {k!r}")
        if k < 0:
            raise ProblemInputError(f"k must be >= 0, got {k}")
        k = int(k)
    if budget is not None:
        budget = float(budget)
        if not math.isfinite(budget) or budget < 0:
            raise ProblemInputError(f"budget must be finite and >= 0, got {budget}")
    return k, budget


def _gap(objective: float, bound: float) -> float:
    if not math.isfinite(bound):
        return math.inf
    if bound <= 0:
        return 0.0
    return max(0.0, (bound - objective) / bound)


class _Model:
    """Shared set-up: checks, reduction, trivial cases and result assembly."""

    method = ""

    def __init__(self, problem: CoverageProblem, k: int | None, budget: float | None) -> None:
        if not isinstance(problem, CoverageProblem):
            raise ProblemInputError("problem must be a CoverageProblem")
        self.problem = problem
        self.k, self.budget = _check_limits(k, budget)
        self.result: PlanResult | None = None

    def _reduce(self) -> ReducedProblem:
        red = reduce_problem(self.problem, self.budget)
        log.debug("reduced %s -> %s (%s)", self.problem.coverage.shape, red.shape, red.dropped)
        return red

    def _trivial(self, red: ReducedProblem, t0: float) -> PlanResult | None:
        """Return the plan when there is nothing to decide, else None."""
        n = red.shape[1]
        t_now = time.perf_counter()
        t0 = min(t0, t_now)
        if self.k == 0:
            return self._result(red, [], [], "optimal", 0.0, t0, t_now, "k = 0")
        if n == 0:
            if self.budget is not None and reduce_problem(self.problem).shape[1] > 0:
                return self._result(
                    red,
                    [],
                    [],
                    "no_affordable_site",
                    0.0,
                    t0,
                    t_now,
                    "no useful site fits the budget",
                )
            return self._result(red, [], [], "optimal", 0.0, t0, t_now, "nothing left to cover")
        fits_all = self.budget is None or float(red.costs.sum()) <= self.budget
        if (self.k is None or self.k >= n) and fits_all:
            order, gains = _mclp.rank(
                red.coverage, red.weights, red.costs, np.arange(n), self.budget is not None
            )
            return self._result(
                red, order, gains, "optimal", red.coverable, t0, t_now, "every useful site fits"
            )
        return None

    def _result(
        self,
        red: ReducedProblem,
        order: list[int],
        gains: list[float],
        status: str,
        bound: float,
        t0: float,
        t_built: float,
        note: str,
        details: dict[str, Any] | None = None,
    ) -> PlanResult:
        selected = red.candidate_index[np.asarray(order, dtype=np.int64)]
        g = np.asarray(gains, dtype=np.float64)
        objective = float(g.sum())
        bound = max(bound, objective)
        ids = self.problem.candidate_ids or []
        result = PlanResult(
            method=self.method,
            status=status,
            selected=selected,
            candidate_ids=[ids[j] for j in selected],
            gains=g,
            cumulative=np.cumsum(g),
            objective=objective,
            bound=bound,
            gap=_gap(objective, bound),
            cost=float(self.problem.costs[selected].sum()),
            build_seconds=t_built - t0,
            solve_seconds=time.perf_counter() - t_built,
            note=note,
            reduced_shape=red.shape,
            details=details or {},
        )
        self.result = result
        return result


class GreedyCoverage(_Model):
    """Lazy greedy maximal coverage, optionally improved by 1-swaps.

    Parameters
    ----------
    problem
        The instance.
    k
        Maximum number of sites.
    budget
        Maximum total cost; picks by gain per cost and keeps the single best
        affordable site instead if that covers more.
    swaps
        Improve the greedy set by additions and best-improvement 1-swaps
        until none helps (at most ``max_moves`` moves).
    max_moves
        Bound on local-search moves.
    restarts
        With swaps, also restart greedy-plus-swaps from each of this many best
        single sites (as forced first pick) and keep the best set.

    Examples
    --------
    >>> import numpy as np
    >>> p = CoverageProblem(np.eye(3, dtype=bool), [3, 2, 1], [1, 1, 1])
    >>> GreedyCoverage(p, k=2).solve().selected.tolist()
    [0, 1]
    """

    def __init__(
        self,
        problem: CoverageProblem,
        k: int | None = None,
        budget: float | None = None,
        swaps: bool = False,
        max_moves: int = 1000,
        restarts: int = 8,
    ) -> None:
        super().__init__(problem, k, budget)
        self.swaps = bool(swaps)
        self.max_moves = int(max_moves)
        self.restarts = int(restarts)
        self.method = "greedy+swaps" if self.swaps else "greedy"

    def solve(self) -> PlanResult:
        """Choose the sites and return the ranked plan."""
        t0 = time.perf_counter()
        red = self._reduce()
        trivial = self._trivial(red, t0)
        if trivial is not None:
            return trivial
        t_built = time.perf_counter()
        out = _greedy_plan(red, self.k, self.budget, self.swaps, self.max_moves, self.restarts)
        status = (
            "optimal"
            if out["objective"] >= out["bound"] - _mclp.tolerance(red.weights)
            else "heuristic"
        )
        return self._result(
            red,
            out["order"],
            out["gains"],
            status,
            out["bound"],
            t0,
            t_built,
            out["note"],
            out["details"],
        )


def _greedy_plan(
    red: ReducedProblem,
    k: int | None,
    budget: float | None,
    swaps: bool,
    max_moves: int,
    restarts: int = 0,
) -> dict[str, Any]:
    """Run greedy (and swaps) on a reduced problem; return order, gains, bound, note.

    With swaps and ``restarts > 0``, greedy-plus-swaps is also run with the
    first pick forced to each of the ``restarts`` best single sites after
    greedy's own first pick, and the best set is kept (ties: earliest run).
    """
    c, w, cs = red.coverage, red.weights, red.costs
    tol = _mclp.tolerance(w)
    g = _mclp.lazy_greedy(c, w, cs, k, budget)
    order, gains = g.order, g.gains
    bound = min(g.bound, red.coverable)
    note = "single best affordable site beats the greedy set" if g.single_best else ""
    details: dict[str, Any] = {"greedy_objective": g.objective}
    if swaps:
        improved, moves = _mclp.local_search(c, w, cs, order, k, budget, max_moves)
        details["moves"] = moves
        best_obj = _mclp.covered_weight(c, w, improved)
        best_set = improved
        if restarts > 0 and (k is None or k > 1):
            single = np.bincount(
                np.repeat(np.arange(c.shape[1]), np.diff(c.indptr)),
                weights=w[c.indices],
                minlength=c.shape[1],
            )
            if budget is not None:
                single = np.where(cs <= budget, single, -np.inf)
            firsts = [int(j) for j in np.argsort(-single, kind="stable") if int(j) not in order[:1]]
            for j in firsts[:restarts]:
                if not math.isfinite(single[j]):
                    break
                r = _mclp.lazy_greedy(c, w, cs, k, budget, first=j)
                bound = min(bound, r.bound)
                cand, _ = _mclp.local_search(c, w, cs, r.order, k, budget, max_moves)
                obj = _mclp.covered_weight(c, w, cand)
                if obj > best_obj + tol:
                    best_obj, best_set = obj, cand
                    details["restart_first"] = j
        if best_obj > g.objective + tol or set(best_set) != set(order):
            order, gains = _mclp.rank(c, w, cs, best_set, budget is not None)
    objective = float(np.sum(gains))
    return {
        "order": order,
        "gains": gains,
        "objective": objective,
        "bound": bound,
        "note": note,
        "details": details,
    }


class ExactCoverage(_Model):
    """Maximal coverage solved to proved optimality (within a time limit).

    The model is ``max sum_i w_i y_i`` subject to ``y_i <= sum_j a_ij x_j``,
    ``sum_j x_j <= k`` and/or ``sum_j c_j x_j <= budget``, ``x`` binary,
    ``0 <= y <= 1``, on the reduced instance.  ``solve()`` proceeds in stages,
    stopping as soon as one proves the optimum:

    1. greedy-with-swaps (8 restarts) gives the incumbent and, by
       submodularity, a bound that sometimes already proves it;
    2. the LP relaxation (HiGHS primal simplex; skipped above
       :data:`FIXING_NNZ_LIMIT` non-zeros) gives multipliers, from which a
       Lagrangian bound (the LP bound) and reduced-cost fixing are computed:
       every candidate whose use caps a plan below ``incumbent + step`` is
       removed (``step`` is 1 for integral weights, else half the comparison
       tolerance), then the demand no kept candidate covers;
    3. with a cardinality constraint only and at most
       :data:`BNB_COLUMN_LIMIT` candidates left, a depth-first Lagrangian
       branch-and-bound (numba; subgradient multipliers per node, bound-based
       fixing, ties to the lowest index) searches the fixed instance, for at
       most :data:`BNB_MAX_NODES` nodes (a count, so that the path taken does
       not depend on the machine's load; :data:`BNB_TIME_SHARE` of the time
       left is only a safety stop);
    4. otherwise, or if that did not finish, HiGHS solves the fixed
       instance as a MIP (through ``highspy``, which takes the incumbent as a
       starting solution) with the time left.

    The result is never worse than greedy-with-swaps: if the search stops at
    the time limit with a worse incumbent, the best plan found is returned
    with the proved bound and a note.  ``details`` records each stage:
    ``greedy_swaps_objective``; ``lp_status``, ``lp_seconds``, ``lp_bound``,
    ``fixed`` (candidates removed) and ``fixed_shape``; ``bnb_status``,
    ``bnb_nodes``, ``bnb_seconds``; ``presolve``, ``mip_status``, ``nodes``,
    ``mip_seconds``, ``mip_objective``; and ``proved_by`` (``greedy bound``,
    ``LP bound``, ``branch-and-bound`` or ``HiGHS``) when optimal.

    Parameters
    ----------
    problem
        The instance.
    k, budget
        Maximum number of sites and/or total cost.
    time_limit
        Seconds for the whole ``solve()`` (reduction, warm start, LP,
        branch-and-bound and MIP).
    warm_start
        Start from greedy-with-swaps (also used to stop early when greedy's
        own bound proves it optimal, and as the incumbent for fixing).
    presolve
        HiGHS presolve for the MIP; ``None`` turns it off above
        :data:`PRESOLVE_NNZ_LIMIT` non-zeros, where it may overrun the limit.
    mip_rel_gap
        Relative gap at which HiGHS declares optimality.
    reduced_cost_fixing
        Solve the LP relaxation and fix candidates by reduced cost (stage 2).
    branch_and_bound
        Use the Lagrangian branch-and-bound (stage 3) where it applies; it
        needs stage 2's multipliers.
    """

    method = "exact"

    def __init__(
        self,
        problem: CoverageProblem,
        k: int | None = None,
        budget: float | None = None,
        time_limit: float = 60.0,
        warm_start: bool = True,
        presolve: bool | None = None,
        mip_rel_gap: float = 1e-6,
        reduced_cost_fixing: bool = True,
        branch_and_bound: bool = True,
    ) -> None:
        super().__init__(problem, k, budget)
        if not (isinstance(time_limit, (int, float)) and time_limit > 0):
            raise ProblemInputError(f"time_limit must be > 0 seconds, got {time_limit!r}")
        self.time_limit = float(time_limit)
        self.warm_start = bool(warm_start)
        self.presolve = presolve
        self.mip_rel_gap = float(mip_rel_gap)
        self.reduced_cost_fixing = bool(reduced_cost_fixing)
        self.branch_and_bound = bool(branch_and_bound)

    def solve(self) -> PlanResult:
        """Solve the program and return the ranked plan.

        Runs the stages of the class description in turn over one
        :class:`_ExactState`; the first that settles the plan returns it.

        Raises
        ------
        covgap.errors.SolverError
            If HiGHS fails or reports the (always feasible) model infeasible.
        """
        t0 = time.perf_counter()
        red = self._reduce()
        trivial = self._trivial(red, t0)
        if trivial is not None:
            return trivial
        state = _ExactState(red, t0, time.perf_counter())
        for stage in (self._warm_start, self._fix_by_reduced_cost, self._branch_and_bound):
            result = stage(state)
            if result is not None:
                return result
        return self._highs(state)

    def _seconds_left(self, state: _ExactState) -> float:
        return self.time_limit - (time.perf_counter() - state.t0)

    def _warm_start(self, state: _ExactState) -> PlanResult | None:
        """Stage 1: greedy-with-swaps as incumbent; the plan if its own bound proves it."""
        if not self.warm_start:
            return None
        red = state.red
        g = _greedy_plan(red, self.k, self.budget, True, 1000, 8)
        state.start, state.start_obj, state.bound = list(g["order"]), g["objective"], g["bound"]
        state.best, state.best_obj = state.start, state.start_obj
        state.details["greedy_swaps_objective"] = state.start_obj
        if state.start_obj < state.bound - state.tol:
            return None
        state.details["proved_by"] = "greedy bound"
        return self._result(
            red,
            g["order"],
            g["gains"],
            "optimal",
            state.bound,
            state.t0,
            state.t_built,
            "greedy-with-swaps meets its own upper bound",
            state.details,
        )

    def _fix_by_reduced_cost(self, state: _ExactState) -> PlanResult | None:
        """Stage 2: LP relaxation, Lagrangian bound, reduced-cost fixing.

        Narrows ``state.columns``/``state.rows`` to what may still beat the
        incumbent; the plan if nothing can.
        """
        c, w, cs = state.red.coverage, state.red.weights, state.red.costs
        if not self.reduced_cost_fixing or c.nnz > FIXING_NNZ_LIMIT:
            return None
        lp_seconds = max(LP_TIME_SHARE * self._seconds_left(state), 0.05)
        lp = _mclp.solve_lp(c, w, cs, self.k, self.budget, lp_seconds)
        if lp is None:
            return None
        state.details.update(lp_status=lp.status, lp_seconds=lp.seconds)
        if lp.status != "optimal":
            return None
        fix = _mclp.fix_columns(c, w, cs, self.k, self.budget, lp, state.start_obj, state.target)
        state.bound = min(state.bound, fix.bound)
        state.outside = state.start_obj + state.target.slack
        state.columns, state.rows, state.multipliers = fix.columns, fix.rows, fix.u
        state.details.update(
            lp_bound=fix.bound,
            fixed=int(c.shape[1] - state.columns.size),
            fixed_shape=(int(state.rows.size), int(state.columns.size)),
        )
        if state.columns.size:
            return None
        state.details["proved_by"] = "LP bound"  # no plan beats the incumbent
        state.bound = min(state.bound, state.outside)
        return self._finish(state, state.start, "optimal", "")

    def _branch_and_bound(self, state: _ExactState) -> PlanResult | None:
        """Stage 3: Lagrangian branch-and-bound (cardinality constraint only)."""
        if not (
            self.branch_and_bound
            and self.budget is None
            and self.k is not None
            and state.multipliers is not None
            and state.columns.size <= BNB_COLUMN_LIMIT
        ):
            return None
        limit = max(BNB_TIME_SHARE * self._seconds_left(state), 0.01)
        sub, sub_w = state.fixed_instance()
        bb = _mclp.branch_and_bound(
            sub,
            sub_w,
            self.k,
            state.multipliers,
            state.start_obj,
            state.target,
            limit,
            max_nodes=BNB_MAX_NODES,
        )
        state.details.update(bnb_status=bb.status, bnb_nodes=bb.nodes, bnb_seconds=bb.seconds)
        if bb.selected is not None:
            state.best = [int(j) for j in state.columns[bb.selected]]
            state.best_obj = _mclp.covered_weight(state.red.coverage, state.red.weights, state.best)
            state.details["bnb_objective"] = state.best_obj
        state.bound = min(state.bound, max(bb.bound, state.outside))
        if bb.status != "optimal":
            return None
        state.details["proved_by"] = "branch-and-bound"
        return self._finish(state, state.best, "optimal", "")

    def _highs(self, state: _ExactState) -> PlanResult:
        """Stage 4: HiGHS on the fixed instance, never returning worse than the incumbent."""
        c, w, cs = state.red.coverage, state.red.weights, state.red.costs
        columns, details = state.columns, state.details
        sub, sub_w = state.fixed_instance()
        presolve = self.presolve
        if presolve is None:
            presolve = sub.nnz <= PRESOLVE_NNZ_LIMIT
        details["presolve"] = presolve
        position = np.full(c.shape[1], -1, dtype=np.int64)
        position[columns] = np.arange(columns.size)
        sub_start = [int(position[j]) for j in state.best if position[j] >= 0]
        mip = _mclp.solve_mip(
            sub,
            sub_w,
            cs[columns],
            self.k,
            self.budget,
            max(self._seconds_left(state), 0.05),
            sub_start or None,
            presolve,
            self.mip_rel_gap,
        )
        details.update(mip_status=mip.status, nodes=mip.nodes, mip_seconds=mip.seconds)
        state.bound = min(state.bound, max(mip.bound, state.outside))
        mip_set: list[int] | None = None
        mip_obj = -math.inf
        if mip.selected is not None:
            mip_set = [int(j) for j in columns[mip.selected]]
            mip_obj = _mclp.covered_weight(c, w, mip_set)
        details["mip_objective"] = mip_obj if math.isfinite(mip_obj) else None
        status = "optimal" if mip.status == "optimal" else "time_limit"
        if status == "optimal":
            details["proved_by"] = "HiGHS"
        best = state.best
        if mip_set is not None and mip_obj >= state.best_obj - state.tol:
            best = mip_set
            note = "" if status == "optimal" else f"MIP stopped at {self.time_limit:g} s"
        else:
            note = "MIP incumbent worse than greedy-with-swaps; returned the greedy plan"
            if state.best_obj > state.start_obj:
                note = "MIP incumbent worse than the branch-and-bound's; returned that plan"
        return self._finish(state, best, status, note)

    def _finish(
        self, state: _ExactState, selected: list[int], status: str, note: str
    ) -> PlanResult:
        """Rank the chosen set and assemble the result (optimal if it meets the bound)."""
        red, details = state.red, state.details
        c, w, cs = red.coverage, red.weights, red.costs
        if not selected:
            selected = _mclp.lazy_greedy(c, w, cs, self.k, self.budget).order
        order, gains = _mclp.rank(c, w, cs, selected, self.budget is not None)
        if float(np.sum(gains)) >= state.bound - _mclp.tolerance(w):
            status = "optimal"
            details.setdefault("proved_by", "bound")
        return self._result(
            red, order, gains, status, state.bound, state.t0, state.t_built, note, details
        )


@dataclass
class _ExactState:
    """What the stages of :meth:`ExactCoverage.solve` learn and pass on.

    Attributes
    ----------
    red
        The reduced instance.
    t0, t_built
        When the solve started and when the reduction was done.
    start, start_obj
        The greedy-with-swaps incumbent and its weight (empty, 0 without a warm start).
    best, best_obj
        The best plan found so far (starts as the incumbent).
    bound
        Proved upper bound on the optimum.
    columns, rows
        Candidates and demand of the reduced instance still in play after fixing.
    multipliers
        The LP's Lagrange multipliers on ``rows`` (``None`` without fixing).
    outside
        Bound on every plan that uses a fixed candidate (``-inf`` before fixing).
    details
        The solver figures of :attr:`PlanResult.details`.
    """

    red: ReducedProblem
    t0: float
    t_built: float
    start: list[int] = field(default_factory=list)
    start_obj: float = 0.0
    best: list[int] = field(default_factory=list)
    best_obj: float = 0.0
    bound: float = math.inf
    columns: np.ndarray = field(init=False)
    rows: np.ndarray = field(init=False)
    multipliers: np.ndarray | None = None
    outside: float = -math.inf
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bound = min(self.bound, self.red.coverable)
        self.columns = np.arange(self.red.shape[1])
        self.rows = np.arange(self.red.shape[0])

    @property
    def tol(self) -> float:
        """Tolerance for comparing weights."""
        return _mclp.tolerance(self.red.weights)

    @property
    def target(self) -> _mclp.Target:
        """How much a plan must beat the incumbent by to count as better."""
        return _mclp.improvement_target(self.red.weights)

    def fixed_instance(self) -> tuple[sp.csc_array, np.ndarray]:
        """Return the reduced instance restricted to the columns and rows still in play."""
        c = self.red.coverage
        if self.columns.size == c.shape[1]:
            return c, self.red.weights[self.rows]
        return sp.csc_array(c[:, self.columns][self.rows]), self.red.weights[self.rows]
