"""Site-planning optimisers on small hand-made instances with known optima."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from covgap.planning import _mclp
from covgap.planning.plan import (
    CoverageProblem,
    ExactCoverage,
    GreedyCoverage,
    PlanResult,
    reduce_problem,
    saturating_k,
)


def matrix(n_demand: int, covers: list[list[int]]) -> np.ndarray:
    """Coverage matrix from one list of covered demand rows per candidate."""
    a = np.zeros((n_demand, len(covers)), dtype=bool)
    for j, rows in enumerate(covers):
        a[rows, j] = True
    return a


def brute_force(p: CoverageProblem, k: int | None, budget: float | None) -> float:
    best = 0.0
    n = p.n_candidates
    for r in range(n + 1):
        if k is not None and r > k:
            break
        for s in itertools.combinations(range(n), r):
            if budget is not None and p.costs[list(s)].sum() > budget:
                continue
            best = max(best, p.objective(list(s)))
    return best


# Greedy trap, six demand points of weight 1, k = 2:
#   site 0 covers {1,2,3,4} (4), site 1 covers {0,1,2} (3), site 2 covers {3,4,5} (3).
# Greedy takes site 0 (4), then site 1 and site 2 both add 1: the tie goes to
# site 1, total 5.  The optimum is {1, 2}: all 6.
TRAP = matrix(6, [[1, 2, 3, 4], [0, 1, 2], [3, 4, 5]])


def trap() -> CoverageProblem:
    return CoverageProblem(TRAP, np.ones(6), np.ones(3), candidate_ids=["A", "B", "C"])


def test_greedy_falls_into_the_trap_and_exact_does_not() -> None:
    greedy = GreedyCoverage(trap(), k=2).solve()
    assert greedy.selected.tolist() == [0, 1]
    assert greedy.objective == 5
    assert greedy.cumulative.tolist() == [4, 5]
    assert greedy.status == "heuristic"

    exact = ExactCoverage(trap(), k=2).solve()
    assert exact.status == "optimal"
    assert exact.objective == 6
    assert exact.gap == pytest.approx(0)
    # Ranked by marginal gain given earlier picks: both add 3 first; tie -> lowest index.
    assert exact.selected.tolist() == [1, 2]
    assert exact.candidate_ids == ["B", "C"]
    assert exact.gains.tolist() == [3, 3]
    assert exact.cumulative.tolist() == [3, 6]
    assert exact.bound >= exact.objective


def test_one_swap_escapes_the_trap() -> None:
    # Without restarts, only the swap 0 -> 2 can turn {0, 1} (5) into {1, 2} (6).
    res = GreedyCoverage(trap(), k=2, swaps=True, restarts=0).solve()
    assert res.method == "greedy+swaps"
    assert res.objective == 6
    assert sorted(res.selected.tolist()) == [1, 2]
    assert res.details["moves"] == 1


def test_greedy_bound_is_valid_and_proves_nothing_here() -> None:
    # Greedy's bound from marginal-gain upper bounds: before the second pick
    # f = 4 and the two best remaining gains are 1 + 1 -> 6; the trivial bound is 6.
    res = GreedyCoverage(trap(), k=2).solve()
    assert res.bound == 6
    assert res.gap == pytest.approx(1 / 6)


def test_ties_go_to_the_lowest_index() -> None:
    # Four sites each covering one point of weight 5, k = 2: any pair is optimal
    # (10); both models must pick sites 0 and 1, in that order.
    p = CoverageProblem(np.eye(4, dtype=bool), [5, 5, 5, 5], [1, 1, 1, 1])
    for model in (
        GreedyCoverage(p, k=2),
        GreedyCoverage(p, k=2, swaps=True),
        ExactCoverage(p, k=2),
    ):
        res = model.solve()
        assert res.selected.tolist() == [0, 1], model
        assert res.objective == 10


def test_identical_sites_keep_the_lowest_index() -> None:
    # Sites 1 and 3 cover the same points at the same cost: the later one is
    # dropped, whichever model runs.  Site 1 covers weight 3+4 = 7, site 0 weight 1.
    a = matrix(3, [[0], [1, 2], [0], [1, 2]])
    p = CoverageProblem(a, [1, 3, 4], [1, 1, 1, 1])
    assert GreedyCoverage(p, k=1).solve().selected.tolist() == [1]
    assert ExactCoverage(p, k=1).solve().selected.tolist() == [1]


def test_budget_too_small_for_any_site() -> None:
    p = CoverageProblem(np.eye(2, dtype=bool), [10, 10], [5e9, 7e9])
    for model in (GreedyCoverage(p, budget=3e9), ExactCoverage(p, budget=3e9, k=2)):
        res = model.solve()
        assert res.status == "no_affordable_site"
        assert res.selected.size == 0
        assert res.objective == 0
        assert res.cost == 0


def test_budget_uses_cost_effectiveness_with_single_site_safeguard() -> None:
    # Site 0 covers weight 10 for 10; site 1 weight 2 for 1; budget 10.
    # Gain per cost picks site 1 first (2 > 1), then site 0 no longer fits: 2.
    # The best single affordable site, site 0, covers 10 and is returned.
    p = CoverageProblem(np.eye(2, dtype=bool), [10, 2], [10, 1])
    greedy = GreedyCoverage(p, budget=10).solve()
    assert greedy.selected.tolist() == [0]
    assert greedy.objective == 10
    assert "single best" in greedy.note
    exact = ExactCoverage(p, budget=10).solve()
    assert exact.objective == 10
    assert exact.cost == 10


def test_budget_and_k_together() -> None:
    # Weights 6, 5, 4 on separate sites costing 3, 2, 1; budget 4, k = 2.
    # Feasible pairs: {1, 2} (cost 3) = 9, {0, 2} (cost 4) = 10 -> optimum 10.
    p = CoverageProblem(np.eye(3, dtype=bool), [6, 5, 4], [3, 2, 1])
    exact = ExactCoverage(p, k=2, budget=4).solve()
    assert exact.objective == 10
    assert sorted(exact.selected.tolist()) == [0, 2]
    assert exact.cost <= 4


def test_k_larger_than_the_candidates_takes_every_useful_site() -> None:
    # Site 3 covers only point 3, which an existing tower covers: useless.
    a = matrix(4, [[0], [1], [2], [3]])
    p = CoverageProblem(a, [1, 2, 3, 4], [1, 1, 1, 1], already_covered=[0, 0, 0, 1])
    for model in (GreedyCoverage(p, k=10), ExactCoverage(p, k=10)):
        res = model.solve()
        assert res.selected.tolist() == [2, 1, 0]  # by gain: 3, 2, 1
        assert res.objective == 6
        assert res.status == "optimal"


def test_k_zero_is_an_empty_plan() -> None:
    res = ExactCoverage(trap(), k=0).solve()
    assert isinstance(res, PlanResult)
    assert res.selected.size == 0
    assert res.objective == 0
    assert res.status == "optimal"
    assert GreedyCoverage(trap(), k=0).solve().selected.size == 0


def test_nothing_left_to_cover() -> None:
    p = CoverageProblem(np.eye(2, dtype=bool), [3, 4], [1, 1], already_covered=[1, 1])
    res = ExactCoverage(p, budget=0).solve()
    assert res.status == "optimal"
    assert res.objective == 0


# Reduction example: weights 1, 2, 3, 4; point 3 already covered.
#   site 0 covers {0, 1}   cost 1
#   site 1 covers {0}      cost 1  -> dominated by site 0
#   site 2 covers {0, 1}   cost 1  -> identical to site 0, higher index: dropped
#   site 3 covers {2, 3}   cost 2
#   site 4 covers {3}      cost 1  -> covers only covered demand: useless
# After dropping sites 1, 2, 4, points 0 and 1 are covered by site 0 alone and
# merge (weight 3); point 2 (weight 3) stays; point 3 goes.
REDUCIBLE = matrix(4, [[0, 1], [0], [0, 1], [2, 3], [3]])


def reducible() -> CoverageProblem:
    return CoverageProblem(REDUCIBLE, [1, 2, 3, 4], [1, 1, 1, 2, 1], already_covered=[0, 0, 0, 1])


def test_reduction_drops_and_merges_with_maps_back() -> None:
    red = reduce_problem(reducible())
    assert red.shape == (2, 2)
    assert red.candidate_index.tolist() == [0, 3]
    assert red.demand_index.tolist() == [0, 0, 1, -1]
    assert red.weights.tolist() == [3, 3]
    assert red.dropped["dominated_candidates"] == 2
    assert red.dropped["useless_candidates"] == 1
    assert red.dropped["merged_demand"] == 1
    assert red.coverable == 6


def test_reduction_drops_unaffordable_sites() -> None:
    red = reduce_problem(reducible(), max_cost=1.5)
    assert red.candidate_index.tolist() == [0]


def test_reduction_preserves_the_optimum() -> None:
    p = reducible()
    for k in range(4):
        assert ExactCoverage(p, k=k).solve().objective == brute_force(p, k, None)
    rng = np.random.default_rng(7)
    for _ in range(20):
        base = rng.random((9, 4)) < 0.4
        a = np.hstack([base, base[:, :2], base[:, :1] & base[:, 1:2]])  # duplicates, subsets
        p = CoverageProblem(a, rng.integers(0, 5, 9), rng.integers(1, 4, a.shape[1]))
        red = reduce_problem(p)
        assert red.coverable == pytest.approx(p.weights[p.coverage.toarray().any(axis=1)].sum())
        for k in (1, 2, 3):
            assert ExactCoverage(p, k=k).solve().objective == brute_force(p, k, None)


@pytest.mark.parametrize("fixing", [True, False])
def test_exact_never_worse_than_greedy_and_stops_at_the_time_limit(fixing: bool) -> None:
    # Random, unstructured instance: HiGHS alone needs seconds to prove it; with
    # a 0.2 s limit it must stop and still return at least greedy-with-swaps.
    # With fixing and branch-and-bound it is proved well within the limit.
    rng = np.random.default_rng(3)
    n_d, n_c = 120, 800
    a = rng.random((n_d, n_c)) < 0.03
    p = CoverageProblem(sp.csc_array(a), rng.integers(1, 100, n_d), np.ones(n_c))
    swaps = GreedyCoverage(p, k=10, swaps=True).solve()
    options = {"reduced_cost_fixing": fixing, "branch_and_bound": fixing}
    ExactCoverage(p, k=10, time_limit=0.2, **options).solve()  # loads numba's kernels once
    exact = ExactCoverage(p, k=10, time_limit=0.2, **options).solve()
    if fixing:
        assert exact.details["fixed"] > 0
        assert "bnb_status" in exact.details
        proved = ExactCoverage(p, k=10, **options).solve()
        assert proved.status == "optimal"
        assert proved.details["proved_by"] == "branch-and-bound"
        assert proved.objective >= exact.objective
    else:
        assert "lp_bound" not in exact.details
        assert exact.details["mip_status"] == "time_limit"
    assert exact.objective >= swaps.objective
    assert exact.objective == pytest.approx(p.objective(exact.selected))
    assert exact.bound >= exact.objective
    if exact.status == "time_limit":
        assert exact.gap > 0
    else:
        assert exact.status == "optimal"


def test_subset_plans_per_operator() -> None:
    p = trap()
    op = np.array(["Viettel", "VNPT", "Viettel"])
    sub = p.subset(op == "Viettel")
    assert sub.candidate_ids == ["A", "C"]
    res = ExactCoverage(sub, k=1).solve()
    assert res.candidate_ids == ["A"]
    assert res.objective == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": [1, 1]}, "weights has 2 values"),
        ({"costs": [1, -1, 1]}, "costs must be >= 0"),
        ({"weights": [1, 1, 1, 1, 1, np.nan]}, "weights must be finite"),
        ({"already_covered": [True]}, "already_covered has 1"),
        ({"candidate_ids": ["x"]}, "candidate_ids has 1"),
    ],
)
def test_invalid_problems(kwargs: dict, match: str) -> None:
    args = {"coverage": TRAP, "weights": np.ones(6), "costs": np.ones(3)} | kwargs
    with pytest.raises(ValueError, match=match):
        CoverageProblem(**args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give the number of sites"),
        ({"k": -1}, "k must be >= 0"),
        ({"k": 2.5}, "k must be an integer"),
        ({"k": True}, "k must be an integer"),
        ({"budget": -5}, "budget must be"),
        ({"budget": float("inf")}, "budget must be"),
    ],
)
def test_invalid_limits(kwargs: dict, match: str) -> None:
    for cls in (GreedyCoverage, ExactCoverage):
        with pytest.raises(ValueError, match=match):
            cls(trap(), **kwargs)


def test_invalid_time_limit() -> None:
    with pytest.raises(ValueError, match="time_limit"):
        ExactCoverage(trap(), k=1, time_limit=0)


@st.composite
def tiny_instances(draw: st.DrawFn) -> tuple[CoverageProblem, int | None, float | None]:
    n_d = draw(st.integers(1, 8))
    n_c = draw(st.integers(1, 8))
    bits = draw(st.lists(st.booleans(), min_size=n_d * n_c, max_size=n_d * n_c))
    a = np.array(bits, dtype=bool).reshape(n_d, n_c)
    w = draw(st.lists(st.integers(0, 9), min_size=n_d, max_size=n_d))
    c = draw(st.lists(st.integers(0, 5), min_size=n_c, max_size=n_c))
    covered = draw(st.lists(st.booleans(), min_size=n_d, max_size=n_d))
    k = draw(st.none() | st.integers(0, n_c + 1))
    budget = draw(st.integers(0, 12)) if k is None else draw(st.none() | st.integers(0, 12))
    return CoverageProblem(a, w, c, covered), k, None if budget is None else float(budget)


@settings(max_examples=80, deadline=None)
@given(tiny_instances())
def test_exact_matches_brute_force(case: tuple[CoverageProblem, int | None, float | None]) -> None:
    p, k, budget = case
    best = brute_force(p, k, budget)
    exact = ExactCoverage(p, k=k, budget=budget).solve()
    assert exact.objective == pytest.approx(best)
    if exact.status != "no_affordable_site":
        assert exact.status == "optimal"
    for res in (
        exact,
        GreedyCoverage(p, k=k, budget=budget).solve(),
        GreedyCoverage(p, k=k, budget=budget, swaps=True).solve(),
    ):
        assert res.objective <= best + 1e-9
        assert res.objective == pytest.approx(p.objective(res.selected))
        assert res.bound >= best - 1e-9  # every reported bound is valid
        assert len(set(res.selected.tolist())) == res.selected.size
        if k is not None:
            assert res.selected.size <= k
        if budget is not None:
            assert res.cost <= budget + 1e-9
        assert np.all(res.gains > 0)


# -- LP bound, reduced-cost fixing, branch-and-bound ------------------------------------


def random_case(
    seed: int, n_d: int = 10, n_c: int = 9, integral: bool = True
) -> tuple[sp.csc_array, np.ndarray, np.ndarray]:
    """A reduced-style instance: every row and column non-empty, weights > 0."""
    rng = np.random.default_rng(seed)
    a = rng.random((n_d, n_c)) < 0.3
    a[rng.integers(0, n_d, n_c), np.arange(n_c)] = True
    a[np.arange(n_d), rng.integers(0, n_c, n_d)] = True
    w = rng.integers(1, 10, n_d).astype(float) if integral else rng.uniform(0.1, 10.0, n_d)
    costs = rng.integers(1, 5, n_c).astype(float)
    return sp.csc_array(a), w, costs


def all_values(
    c: sp.csc_array, w: np.ndarray, costs: np.ndarray, k: int | None, budget: float | None
) -> list[tuple[frozenset[int], float]]:
    """Every feasible set with the weight it covers (brute force)."""
    out = []
    for r in range(c.shape[1] + 1):
        if k is not None and r > k:
            break
        for s in itertools.combinations(range(c.shape[1]), r):
            if budget is not None and costs[list(s)].sum() > budget:
                continue
            out.append((frozenset(s), _mclp.covered_weight(c, w, list(s))))
    return out


LIMITS = [(3, None), (None, 6.0), (3, 6.0)]


@pytest.mark.parametrize(("k", "budget"), LIMITS)
def test_lagrangian_bound_holds_for_any_multipliers(k: int | None, budget: float | None) -> None:
    # L bounds every feasible set, L - penalty_j every feasible set containing j,
    # whatever the (non-negative) multipliers; at the LP duals L is the LP bound.
    rng = np.random.default_rng(11)
    for seed in range(15):
        c, w, costs = random_case(seed)
        values = all_values(c, w, costs, k, budget)
        lp = _mclp.solve_lp(c, w, costs, k, budget, 10.0)
        assert lp is not None and lp.status == "optimal"
        bound, penalty = _mclp.lagrangian_bound(c, w, costs, k, budget, lp.u, lp.lam, lp.mu)
        assert bound == pytest.approx(lp.objective, rel=1e-9)
        tries = [(lp.u, lp.lam, lp.mu), (rng.uniform(0, 10, w.size), 3.0 * rng.random(), 5.0)]
        for u, lam, mu in tries:
            bound, penalty = _mclp.lagrangian_bound(c, w, costs, k, budget, u, lam, mu)
            assert np.all(penalty >= 0)
            for s, value in values:
                assert value <= bound + 1e-9
                for j in s:
                    assert value <= bound - penalty[j] + 1e-9


@pytest.mark.parametrize("integral", [True, False])
@pytest.mark.parametrize(("k", "budget"), LIMITS)
def test_fixing_keeps_every_better_plan(
    k: int | None, budget: float | None, integral: bool
) -> None:
    # Against brute force: with the incumbent just below the optimum, every
    # optimal set survives the fixing (columns and the rows they cover), and
    # with the optimum as incumbent nothing the fixing drops could beat it.
    fixed_any = 0
    for seed in range(30):
        c, w, costs = random_case(seed, integral=integral)
        values = all_values(c, w, costs, k, budget)
        best = max(v for _, v in values)
        target = _mclp.improvement_target(w)
        lp = _mclp.solve_lp(c, w, costs, k, budget, 10.0)
        assert lp is not None
        below = best - 1.0 if integral else best * (1 - 1e-6)
        for incumbent in (below, best):
            fix = _mclp.fix_columns(c, w, costs, k, budget, lp, incumbent, target)
            assert fix.bound >= best - 1e-9
            kept = set(fix.columns.tolist())
            fixed_any += c.shape[1] - len(kept)
            for s, value in values:
                if value >= incumbent + target.step:
                    assert s <= kept, (seed, incumbent, sorted(s), sorted(kept))
                    rows = np.flatnonzero(c[:, sorted(s)].toarray().any(axis=1))
                    assert set(rows.tolist()) <= set(fix.rows.tolist())
            assert fix.u.shape == fix.rows.shape
    assert fixed_any > 0  # the fixing did something


def test_improvement_target() -> None:
    assert _mclp.improvement_target(np.array([1.0, 2.0, 3.0])) == _mclp.Target(1 - 6e-9, 0.0)
    t = _mclp.improvement_target(np.array([0.5, 2.0]))
    assert t.slack == pytest.approx(2.5e-9)
    assert t.step == pytest.approx(1.25e-9)


@pytest.mark.parametrize("integral", [True, False])
def test_branch_and_bound_matches_brute_force(integral: bool) -> None:
    # Started from zero multipliers and no incumbent it must find an optimum,
    # and prove it; given the optimum as incumbent it finds nothing better.
    for seed in range(25):
        c, w, costs = random_case(seed, n_d=12, n_c=10, integral=integral)
        for k in (1, 2, 4):
            best = max(v for _, v in all_values(c, w, costs, k, None))
            target = _mclp.improvement_target(w)
            zero = np.zeros(w.size)
            bb = _mclp.branch_and_bound(c, w, k, zero, 0.0, target, 10.0)
            assert bb.status == "optimal"
            assert bb.selected is not None and len(bb.selected) <= k
            assert _mclp.covered_weight(c, w, bb.selected) == pytest.approx(best)
            assert bb.objective == pytest.approx(best)
            assert best - 1e-9 <= bb.bound <= best + target.slack + 1e-9
            again = _mclp.branch_and_bound(c, w, k, zero, 0.0, target, 10.0)
            assert again.selected == bb.selected  # deterministic
            none = _mclp.branch_and_bound(c, w, k, w.copy(), best, target, 10.0)
            assert none.status == "optimal"
            assert none.selected is None
            assert none.bound >= best - 1e-9


def test_branch_and_bound_stops_at_its_time_limit_with_a_valid_bound() -> None:
    rng = np.random.default_rng(5)
    n_d, n_c, k = 80, 200, 8
    a = rng.random((n_d, n_c)) < 0.04
    a[rng.integers(0, n_d, n_c), np.arange(n_c)] = True
    a[np.arange(n_d), rng.integers(0, n_c, n_d)] = True
    c, w = sp.csc_array(a), rng.integers(1, 100, n_d).astype(float)
    opt = _mclp.solve_mip(c, w, np.ones(n_c), k, None, 60.0, None, True, 1e-9)
    assert opt.status == "optimal"
    best = _mclp.covered_weight(c, w, opt.selected or [])
    target = _mclp.improvement_target(w)
    stopped = _mclp.branch_and_bound(c, w, k, np.zeros(n_d), 0.0, target, 0.0)
    assert stopped.status == "time_limit"
    assert stopped.nodes == 64  # one batch
    assert stopped.bound >= best - 1e-9
    assert stopped.objective <= best + 1e-9
    full = _mclp.branch_and_bound(c, w, k, np.zeros(n_d), 0.0, target, 60.0)
    assert full.status == "optimal"
    assert full.objective == best
    assert full.bound == best


def seeded_problem(seed: int, n_d: int = 12, n_c: int = 10) -> CoverageProblem:
    rng = np.random.default_rng(seed)
    a = rng.random((n_d, n_c)) < 0.3
    return CoverageProblem(a, rng.integers(1, 10, n_d), rng.integers(1, 5, n_c))


def test_lp_bound_proves_greedy_with_swaps_optimal() -> None:
    # Seed 73: greedy-with-swaps (48) is optimal but its own bound does not show
    # it; the LP bound (48.67) is below 49, so with integral weights it does.
    p = seeded_problem(73)
    assert GreedyCoverage(p, k=3, swaps=True).solve().status == "heuristic"
    res = ExactCoverage(p, k=3).solve()
    assert res.details["proved_by"] == "LP bound"
    assert res.details["greedy_swaps_objective"] == res.objective == brute_force(p, 3, None) == 48
    assert res.details["lp_bound"] == pytest.approx(48 + 2 / 3)
    assert res.details["fixed"] == res.reduced_shape[1]
    assert res.details["fixed_shape"] == (0, 0)
    assert "bnb_status" not in res.details and "mip_status" not in res.details
    assert res.status == "optimal"
    assert res.bound == res.objective  # integral weights: nothing reaches 20


def test_branch_and_bound_improves_on_greedy_with_swaps() -> None:
    # Seed 7: greedy-with-swaps (57) misses the optimum (60); the
    # branch-and-bound finds and proves it.
    p = seeded_problem(7)
    res = ExactCoverage(p, k=3).solve()
    best = brute_force(p, 3, None)
    assert res.details["greedy_swaps_objective"] == 57
    assert best == 60
    assert res.details["bnb_objective"] == best == res.objective
    assert res.details["proved_by"] == "branch-and-bound"
    assert res.details["bnb_status"] == "optimal"
    assert "mip_status" not in res.details
    assert res.status == "optimal"
    assert res.bound == best


@pytest.mark.parametrize(("k", "budget"), LIMITS)
def test_fixing_never_changes_the_exact_optimum(k: int | None, budget: float | None) -> None:
    # Small seeded instances against brute force, and larger ones against the
    # un-fixed MIP, with k, a budget or both; with a budget HiGHS searches the
    # fixed instance (the branch-and-bound handles k alone).
    stages: set[str] = set()
    for seed in range(12):
        p = seeded_problem(seed)
        res = ExactCoverage(p, k=k, budget=budget).solve()
        assert res.objective == brute_force(p, k, budget)
        assert res.status == "optimal"
        stages.add(res.details["proved_by"])
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        n_d, n_c = 60, 150
        a = rng.random((n_d, n_c)) < 0.05
        w = rng.integers(1, 100, n_d)
        p = CoverageProblem(a, w, rng.integers(1, 4, n_c))
        kk, bb = (None if k is None else 6), (None if budget is None else 12.0)
        plain = ExactCoverage(p, k=kk, budget=bb, reduced_cost_fixing=False).solve()
        fixed = ExactCoverage(p, k=kk, budget=bb).solve()
        assert plain.status == fixed.status == "optimal"
        assert fixed.objective == plain.objective
        assert fixed.objective == pytest.approx(p.objective(fixed.selected))
        if fixed.details.get("lp_bound") is not None:
            assert fixed.bound <= fixed.details["lp_bound"] + 1e-9
        stages.add(fixed.details["proved_by"])
        if budget is not None:
            assert "bnb_status" not in fixed.details
    assert stages & {"LP bound", "branch-and-bound", "HiGHS"}


# -- saturation: the work follows the plan, not the request --------------------------


def test_saturating_k_is_where_no_further_site_gains() -> None:
    # 0 covers {0, 1}, 1 covers {2}, 2 covers {1} (nothing once 0 is in), 3 covers nothing
    p = CoverageProblem(matrix(3, [[0, 1], [2], [1], []]), [5, 1, 1], [1, 1, 1, 1])
    assert saturating_k(p) == 2
    # beyond it every k gives the same plan, covering everything coverable
    at = ExactCoverage(p, k=2).solve()
    for k in (3, 4, 10**5):
        far = ExactCoverage(p, k=k).solve()
        assert far.objective == at.objective == 7.0
    assert saturating_k(CoverageProblem(matrix(2, [[], []]), [1, 1], [1, 1])) == 0
    assert saturating_k(CoverageProblem(np.zeros((0, 0), bool), [], [])) == 0


@given(st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1))
@settings(max_examples=25, deadline=None)
def test_saturating_k_covers_everything_coverable(n_d: int, n_c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = CoverageProblem(rng.random((n_d, n_c)) < 0.3, rng.integers(0, 5, n_d), np.ones(n_c))
    k = saturating_k(p)
    coverable = reduce_problem(p).coverable
    assert k <= reduce_problem(p).shape[1]
    if k:
        assert GreedyCoverage(p, k=k).solve().objective == pytest.approx(coverable)
        assert ExactCoverage(p, k=k).solve().objective == pytest.approx(coverable)
    else:
        assert coverable == 0.0


def test_from_geodataframes_checks_the_crs_and_hands_arrays_over() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from covgap.errors import CRSError, ProblemInputError

    demand = gpd.GeoDataFrame(
        {"village_code": ["V1", "V2"], "households": [10.0, 5.0]},
        geometry=[Point(0, 0), Point(100, 0)],
        crs=32648,
    )
    cands = gpd.GeoDataFrame(
        {"candidate_id": ["a", "b", "c"], "total_vnd": [3.0, 2.0, 1.0]},
        geometry=[Point(0, 10), Point(50, 10), Point(100, 10)],
        crs=32648,
    )
    cover = matrix(2, [[0], [0, 1], [1]])
    p = CoverageProblem.from_geodataframes(demand, cands, cover)
    assert p.candidate_ids == ["a", "b", "c"] and p.demand_ids == ["V1", "V2"]
    assert p.weights.tolist() == [10.0, 5.0] and p.costs.tolist() == [3.0, 2.0, 1.0]
    assert ExactCoverage(p, k=1).solve().candidate_ids == ["b"]
    with pytest.raises(CRSError, match="not a projected CRS in metres"):
        CoverageProblem.from_geodataframes(demand.to_crs(4326), cands.to_crs(4326), cover)
    with pytest.raises(CRSError, match="have no CRS"):
        CoverageProblem.from_geodataframes(demand.set_crs(None, allow_override=True), cands, cover)
    with pytest.raises(CRSError, match="reproject both"):
        CoverageProblem.from_geodataframes(demand, cands.to_crs(32647), cover)
    with pytest.raises(ProblemInputError, match="no column 'total_vnd'"):
        CoverageProblem.from_geodataframes(demand, cands.drop(columns="total_vnd"), cover)
    with pytest.raises(ProblemInputError, match=r"shape \(2, 2\), expected \(2, 3\)"):
        CoverageProblem.from_geodataframes(demand, cands, cover[:, :2])


def test_a_plan_never_keeps_a_site_the_others_make_redundant() -> None:
    from covgap.planning import _mclp

    # A covers demand 0-9; C covers 0-4 and 10, D covers 5-9 and 11, B covers 12.
    rows = {"A": range(10), "B": [12], "C": [0, 1, 2, 3, 4, 10], "D": [5, 6, 7, 8, 9, 11]}
    dense = np.zeros((13, 4), dtype=bool)
    for j, name in enumerate("ABCD"):
        dense[list(rows[name]), j] = True
    c = sp.csc_array(dense)
    w = np.ones(13)
    costs = np.array([5.0, 1.0, 1.0, 1.0])
    # Ranked greedily, every member of {A, B, C, D} adds something, yet A is redundant.
    assert _mclp.prune(c, w, costs, [0, 1, 2, 3]) == [1, 2, 3]
    order, gains = _mclp.rank(c, w, costs, [0, 1, 2, 3], by_ratio=False)
    assert sorted(order) == [1, 2, 3] and sum(gains) == 13
    # Nothing is dropped when every member is needed.
    assert _mclp.prune(c, w, costs, [1, 2, 3]) == [1, 2, 3]
    # Of two equal members the more expensive goes.
    assert _mclp.prune(
        sp.csc_array(np.ones((2, 2), bool)), np.ones(2), np.array([2.0, 1.0]), [0, 1]
    ) == [1]
