"""The joint plan of lines and towers: the MIP kernel, routing, plan_joint and the CLI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from covgap.cli import main
from covgap.data.terrain import Terrain
from covgap.errors import ProblemInputError
from covgap.planning._joint import (
    JointProblem,
    JointSolution,
    _tree,
    check_solution,
    sequential_plan,
    solve_joint,
)
from covgap.planning.routing import Router, cost_surface

UTM = CRS.from_epsg(32648)


# -- the kernel ----------------------------------------------------------------------
def shared_line_instance(**budgets: float) -> JointProblem:
    """Grid 0; village at node 1 (50 households); site 0 at node 2, 200 m from it.

    Line grid-village 5, village-site 0.2, grid-site 6 (VND units).  Site 0
    covers 60 households for 4 on solar or 2.5 on the grid; site 1 covers 40
    for 3 on solar and has no grid option.
    """
    return JointProblem(
        n_nodes=3,
        seg_from=[0, 1, 0],
        seg_to=[1, 2, 2],
        seg_cost=[5.0, 0.2, 6.0],
        village_node=[1],
        village_benefit=[50.0],
        village_cost=[2.0],
        site_solar_cost=[4.0, 3.0],
        site_grid_cost=[2.5, np.nan],
        site_node=[2, -1],
        coverage=np.array([[1, 0], [0, 1]]),
        weights=[60.0, 40.0],
        **budgets,
    )


def test_joint_builds_the_line_that_powers_a_village_and_a_site() -> None:
    problem = shared_line_instance(budget_power=7.5, budget_towers=3.0)
    joint = solve_joint(problem)
    sequential = sequential_plan(problem, [0])
    # joint: the line grid -> village -> site powers both; the site runs on the grid
    assert list(joint.segments) == [True, True, False]
    assert list(joint.site_power) == ["grid", ""]
    assert joint.villages.tolist() == [True]
    assert (joint.covered, joint.powered) == (60.0, 50.0)
    assert joint.status == "optimal"
    # sequential: the operators cannot afford site 0 on solar (4 > 3) and take site 1;
    # the utility then connects the village alone
    assert list(sequential.site_power) == ["", "solar"]
    assert list(sequential.segments) == [True, False, False]
    assert (sequential.covered, sequential.powered) == (40.0, 50.0)
    assert check_solution(problem, joint) == []
    assert check_solution(problem, sequential) == []


def test_one_budget_also_shares_the_line() -> None:
    problem = shared_line_instance(budget=9.7)
    joint = solve_joint(problem)
    assert joint.covered + joint.powered == 110.0
    assert joint.cost == pytest.approx(9.7)


def _brute_force(p: JointProblem) -> float:
    """Best weighted benefit by enumerating every plan (tiny instances only)."""
    n_e, n_v, n_s = p.seg_cost.size, p.village_node.size, p.site_solar_cost.size
    best = 0.0
    for built in itertools.product([False, True], repeat=n_e):
        built_a = np.array(built, dtype=bool)
        _, reached = _tree(p, built_a)
        ends = np.concatenate([p.seg_from[built_a], p.seg_to[built_a]])
        if not reached[ends].all():
            continue  # a built segment not connected to the grid
        seg_cost = p.seg_cost[built_a]
        for villages in itertools.product([False, True], repeat=n_v):
            v = np.array(villages, dtype=bool)
            if v.any() and not reached[p.village_node[v]].all():
                continue
            v_cost = float(p.village_cost[v].sum())
            for states in itertools.product(range(3), repeat=n_s):
                s = np.array(states)
                grid = s == 2
                if grid.any() and (
                    (p.site_node[grid] < 0).any() or not reached[p.site_node[grid]].all()
                ):
                    continue
                s_cost = float(
                    p.site_solar_cost[s == 1].sum() + np.nan_to_num(p.site_grid_cost)[grid].sum()
                )
                if p.budget is not None:
                    ok = seg_cost.sum() + v_cost + s_cost <= p.budget + 1e-9
                else:
                    # some split of the segments between the two payers fits both budgets
                    ok = False
                    payable = p.operator_payable[built_a]
                    for payer in itertools.product([0, 1], repeat=seg_cost.size):
                        mask = np.array(payer, dtype=bool)
                        if (mask & ~payable).any():
                            continue  # the operators pay only segments ending at a site
                        utility = v_cost + seg_cost[~mask].sum()
                        operators = s_cost + seg_cost[mask].sum()
                        if utility <= p.budget_power + 1e-9 and operators <= p.budget_towers + 1e-9:
                            ok = True
                            break
                if not ok:
                    continue
                covered, powered = p.benefit(s > 0, v)
                best = max(best, p.weight_covered * covered + p.weight_powered * powered)
    return best


def random_instance(seed: int, split: bool) -> JointProblem:
    rng = np.random.default_rng(seed)
    n_v, n_s = 2, 3
    n_nodes = 1 + n_v + 2  # two of the sites have a node
    pairs = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 4), (0, 4)]
    chosen = sorted(rng.choice(len(pairs), size=4, replace=False))
    seg = [pairs[i] for i in chosen]
    coverage = rng.random((5, n_s)) < 0.45
    weights = rng.integers(5, 60, size=5).astype(float)
    budgets = (
        {"budget_power": float(rng.uniform(2, 9)), "budget_towers": float(rng.uniform(2, 8))}
        if split
        else {"budget": float(rng.uniform(3, 14))}
    )
    return JointProblem(
        n_nodes=n_nodes,
        seg_from=[u for u, _ in seg],
        seg_to=[v for _, v in seg],
        seg_cost=rng.uniform(0.2, 4.0, size=len(seg)),
        village_node=[1, 2],
        village_benefit=rng.integers(10, 80, size=n_v).astype(float),
        village_cost=rng.uniform(0.5, 3.0, size=n_v),
        site_solar_cost=rng.uniform(2.0, 4.0, size=n_s),
        site_grid_cost=[float(rng.uniform(1.0, 2.5)), float(rng.uniform(1.0, 2.5)), np.nan],
        site_node=[3, 4, -1],
        coverage=coverage,
        weights=weights,
        weight_covered=1.0,
        weight_powered=float(rng.choice([1.0, 0.5, 2.0])),
        **budgets,
    )


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_mip_matches_brute_force_on_tiny_instances(seed: int, split: bool) -> None:
    problem = random_instance(seed, split)
    best = _brute_force(problem)
    sequential = sequential_plan(problem, [1, 0])
    joint = solve_joint(problem, start=sequential)
    value = problem.weight_covered * joint.covered + problem.weight_powered * joint.powered
    assert value == pytest.approx(best, abs=1e-6)
    assert check_solution(problem, joint) == []
    assert check_solution(problem, sequential) == []
    seq_value = (
        problem.weight_covered * sequential.covered + problem.weight_powered * sequential.powered
    )
    assert value >= seq_value - 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_built_segments_reach_the_grid_and_grid_sites_end_a_built_line(seed: int) -> None:
    problem = random_instance(100 + seed, split=seed % 2 == 0)
    sol: JointSolution = solve_joint(problem)
    _, reached = _tree(problem, sol.segments)
    for k in np.flatnonzero(sol.segments):
        assert reached[problem.seg_from[k]] and reached[problem.seg_to[k]]
    for j in np.flatnonzero(sol.site_power == "grid"):
        k = sol.parent_segment[problem.site_node[j]]
        assert k >= 0 and sol.segments[k]
        assert problem.site_node[j] in (problem.seg_from[k], problem.seg_to[k])


def test_bad_instances_are_refused() -> None:
    with pytest.raises(ProblemInputError, match="not both"):
        shared_line_instance(budget=1.0, budget_power=1.0)
    with pytest.raises(ProblemInputError, match="itself"):
        JointProblem(2, [1], [1], [1.0], [], [], [], [], [], [], np.zeros((0, 0)), [])


# -- routing ------------------------------------------------------------------------
def ridge_terrain() -> Terrain:
    """120 x 120 cells of 30 m, flat at 500 m; a steep north-south ridge, a pass at its south."""
    z = np.full((120, 120), 500.0)
    cols = np.arange(120)
    ridge = np.clip(400.0 - 25.0 * np.abs(cols - 60), 0.0, None)
    z[:100, :] += ridge[None, :]
    transform = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 2_400_000.0)
    return Terrain(z.astype(np.float32), transform, UTM)


def test_routes_go_round_the_ridge_and_are_never_shorter_than_straight() -> None:
    terrain = ridge_terrain()
    surface = cost_surface(terrain, class_factors=(1.0, 1.5, 6.0))
    router = Router(surface)
    left, bottom, right, top = surface.bounds
    start = (500_000.0 + 30 * 30 + 7.0, 2_400_000.0 - 30 * 20 - 3.0)  # west of the ridge
    end = (500_000.0 + 90 * 30 + 11.0, 2_400_000.0 - 30 * 20 - 9.0)  # east of it
    (route,) = router.routes(start, [end])
    assert route is not None
    assert route.length_m >= route.straight_m
    assert route.length_m > 1.5 * route.straight_m  # detour through the pass
    assert route.length_by_class_m["very_steep"] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(route.coords[0], start)
    np.testing.assert_allclose(route.coords[-1], end)
    rng = np.random.default_rng(5)
    points = rng.uniform([left + 1, bottom + 1], [right - 1, top - 1], size=(12, 2))
    for a, b in zip(points[:6], points[6:], strict=True):
        for window in (None, 300.0):
            (r,) = router.routes(a, [b], window_m=window)
            assert r is not None
            assert r.length_m >= r.straight_m - 1e-9
            assert sum(r.length_by_class_m.values()) == pytest.approx(r.length_m)
            xs, ys = r.coords[:, 0], r.coords[:, 1]
            assert (xs >= left).all() and (xs <= right).all()
            assert (ys >= bottom).all() and (ys <= top).all()


def test_land_cover_raises_the_cost_and_water_is_avoided() -> None:
    terrain = ridge_terrain()
    start, end = (500_000.0 + 300.0, 2_400_000.0 - 3_300.0), (500_000.0 + 3_300.0, 2_396_700.0)
    (plain,) = Router(cost_surface(terrain)).routes(start, [end])
    cover = np.full(terrain.shape, 10, dtype=np.uint8)  # tree cover everywhere
    (forest,) = Router(cost_surface(terrain, landcover=cover)).routes(start, [end])
    assert forest.weighted_m == pytest.approx(1.3 * plain.weighted_m)
    lake = np.zeros(terrain.shape, dtype=np.uint8)
    lake[105:, 20:40] = 80  # permanent water across the flat south strip
    (round_lake,) = Router(cost_surface(terrain, landcover=lake)).routes(start, [end])
    rows, cols = cost_surface(terrain).cell_of(round_lake.coords[:, 0], round_lake.coords[:, 1])
    assert not ((rows >= 105) & (cols >= 20) & (cols < 40)).any()


def test_a_route_end_outside_the_dem_is_refused() -> None:
    router = Router(cost_surface(ridge_terrain()))
    with pytest.raises(ProblemInputError, match="outside the DEM"):
        router.routes((500_100.0, 2_399_900.0), [(400_000.0, 2_399_900.0)])


def test_grid_routes_start_on_the_grid_and_none_when_it_is_outside() -> None:
    import geopandas as gpd
    import shapely

    router = Router(cost_surface(ridge_terrain()))
    line = shapely.LineString([(500_150.0, 2_398_000.0), (500_150.0, 2_399_500.0)])
    grid = gpd.GeoDataFrame(geometry=[line], crs=UTM)
    (route,) = router.grid_routes(grid, [(500_700.0, 2_398_500.0)])
    assert route is not None
    assert line.distance(shapely.Point(route.coords[0])) < 1e-6
    assert route.length_m >= route.straight_m
    far = gpd.GeoDataFrame(geometry=[shapely.LineString([(0.0, 0.0), (10.0, 10.0)])], crs=UTM)
    assert router.grid_routes(far, [(500_700.0, 2_398_500.0)]) == [None]


# -- plan_joint on the small test dataset --------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory):
    from conftest import write_dataset
    from covgap.analysis import analyse
    from covgap.planning.siteplan import plan_sites

    root = write_dataset(tmp_path_factory.mktemp("joint") / "data")
    analysis = analyse(root)
    return root, analysis, plan_sites(analysis, k=3, signal_after=False)


def _walk_to_grid(lines: list[dict], node: str) -> bool:
    parents = {line["to"]: line["from"] for line in lines}
    seen = set()
    while node != "grid":
        if node in seen or node not in parents:
            return False
        seen.add(node)
        node = parents[node]
    return True


def test_plan_joint_on_a_small_district(small) -> None:
    from covgap.planning.joint import plan_joint

    _, analysis, plan = small
    joint = plan_joint(analysis, plan=plan, budget_power_vnd=2e10, budget_towers_vnd=1e10)
    s = joint.summary()
    for block in (s, s["sequential"]):
        assert set(block) >= {
            "lines", "villages_electrified", "sites", "households_covered_gained",
            "households_powered_gained", "cost_vnd", "status", "gap",
        }  # fmt: skip
    assert s["households_gained"] >= s["sequential"]["households_gained"]
    assert s["status"] == "optimal"
    assert set(s["villages_electrified"]) <= {"V03", "V06"}
    lines = s["lines"]
    for line in lines:
        assert _walk_to_grid(lines, line["to"])
        assert isinstance(line["length_m"], int) and isinstance(line["cost_vnd"], int)
    ends = {line["to"]: line["id"] for line in lines}
    for site in s["sites"]:
        if site["power"] == "grid":
            assert ends[site["site_id"]] == site["line"]
    segments = joint.segments
    assert (segments["length_m"] >= segments["straight_m"] - 1e-9).all()
    assert s["cost_vnd"]["utility"] <= 2e10 and s["cost_vnd"]["operators"] <= 1e10
    assert "<table" in joint._repr_html_()
    table = joint.electrification_lines(plan.electrification)
    assert {"joint_electrified", "joint_line", "joint_sites_powered"} <= set(table.columns)


def test_plan_joint_says_what_is_not_possible(small, make_dataset) -> None:
    from covgap.analysis import analyse
    from covgap.planning.joint import plan_joint

    _, analysis, plan = small
    poor = plan_joint(analysis, plan=plan, budget_power_vnd=1.0, budget_towers_vnd=1e10)
    assert any("below the cheapest line segment" in n for n in poor.not_possible)
    assert poor.summary()["villages_electrified"] == []

    no_grid = analyse(make_dataset(grid=None))
    result = plan_joint(no_grid, budget_vnd=3e10)
    assert any("no grid layer" in n for n in result.not_possible)
    assert result.summary()["lines"] == []

    far_line = {"type": "LineString", "coordinates": [[104.5, 22.9], [104.6, 22.95]]}
    outside = analyse(
        make_dataset(grid=[{"type": "Feature", "properties": {}, "geometry": far_line}])
    )
    result = plan_joint(outside, budget_vnd=3e10)
    assert any("outside the DEM" in n for n in result.not_possible)

    powered = [{"village_code": f"V0{i}", "grid_power": "có"} for i in range(1, 7)]
    all_powered = analyse(make_dataset(power=powered))
    result = plan_joint(all_powered, budget_vnd=3e10)
    assert any("no unpowered village" in n for n in result.not_possible)

    survey = [{"village_code": f"V0{i}", "mobile_signal": "yes"} for i in range(1, 7)]
    all_covered = analyse(make_dataset(survey=survey))
    result = plan_joint(all_covered, budget_vnd=3e10)
    assert any("no uncovered village" in n for n in result.not_possible)
    assert result.summary()["households_powered_gained"] > 0


def test_cli_run_joint_writes_the_block_sheet_and_layers(
    small, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, _ = small
    out = tmp_path / "out"
    args = ["run", "--data", str(root), "--out", str(out), "--joint", "--sites", "3",
            "--no-sensitivity", "--budget-power", "2e10", "--budget-towers", "1e10"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "joint plan (optimal" in printed and "sequential plan (heuristic" in printed
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["joint"]["budget_power_vnd"] == 20_000_000_000
    html = (out / "test_dataset.html").read_text(encoding="utf-8")
    for layer in ("joint_lines", "joint_villages", "joint_sites"):
        assert f'"id":"{layer}"' in html
    import openpyxl

    book = openpyxl.load_workbook(out / "priorities.xlsx", read_only=True)
    assert "joint plan" in book.sheetnames
    again = tmp_path / "again"
    assert main(["-q", *args[:4], str(again), *args[5:]]) == 0
    for name in ("summary.json", "priorities.xlsx", "test_dataset.html"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budget-power", "1e9"], "need --joint"),
        (["--joint", "--budget", "1e9", "--budget-towers", "1e9"], "not both"),
    ],
)
def test_cli_joint_budget_errors_are_one_line(
    small, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    root, _, _ = small
    code = main(["sites", "--data", str(root), "--out", str(tmp_path), "--sites", "2", *extra])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]


def test_joint_settings_from_a_cost_file(tmp_path: Path) -> None:
    from covgap.errors import ConfigError
    from covgap.planning.joint import load_joint_settings

    path = tmp_path / "costs.toml"
    path.write_text("[joint]\nvillage_lv_network_vnd = 9e8\n", encoding="utf-8")
    settings = load_joint_settings(path)
    assert settings.village_lv_network_vnd == 9e8
    assert settings.sources["village_lv_network_vnd"] == f"set in {path}"
    path.write_text("[joint]\nvillage_neighbors = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'village_neighbours'"):
        load_joint_settings(path)


def test_packaged_joint_table_matches_the_defaults_and_the_sin_chai_budget() -> None:
    from covgap.planning.costs import default_cost_settings
    from covgap.planning.joint import JointSettings, default_joint_settings
    from covgap.settings import read_toml

    table = read_toml(Path(__file__).parents[1] / "coverage/covgap/scenarios/costs.toml")
    joint = dict(table["joint"])
    sources = joint.pop("sources")
    assert set(joint) == set(sources) == {r["key"][6:] for r in JointSettings().assumptions()}
    assert all(isinstance(v, str) and len(v) > 20 for v in sources.values())
    assert default_joint_settings() == JointSettings()
    # Sín Chải: 12.455 km of 35 kV and 6 electrified villages (station + low-voltage
    # network each) come back to the package's 24,160 million VND within 5 %
    c, j = default_cost_settings(), default_joint_settings()
    total = 12.455 * c.mv_line_vnd_per_km + 6 * (c.transformer_vnd + j.village_lv_network_vnd)
    assert total == pytest.approx(24_160e6, rel=0.05)
    assert j.default_budget_power_vnd == 24_160e6


def test_at_the_time_limit_the_plan_is_kept_with_its_gap() -> None:
    rng = np.random.default_rng(7)
    n_v, n_s = 12, 60
    n_nodes = 1 + n_v + n_s
    seg = [(0, i) for i in range(1, n_nodes)]
    seg += [(1 + a, 1 + b) for a in range(n_v) for b in range(a + 1, n_v) if rng.random() < 0.3]
    seg += [(1 + int(rng.integers(n_v)), 1 + n_v + j) for j in range(n_s)]
    problem = JointProblem(
        n_nodes=n_nodes,
        seg_from=[u for u, _ in seg],
        seg_to=[v for _, v in seg],
        seg_cost=rng.uniform(0.1, 3.0, size=len(seg)),
        village_node=np.arange(1, 1 + n_v),
        village_benefit=rng.integers(10, 90, size=n_v).astype(float),
        village_cost=rng.uniform(0.5, 2.0, size=n_v),
        site_solar_cost=rng.uniform(2.0, 4.0, size=n_s),
        site_grid_cost=rng.uniform(1.0, 2.5, size=n_s),
        site_node=np.arange(1 + n_v, n_nodes),
        coverage=rng.random((80, n_s)) < 0.08,
        weights=rng.integers(5, 60, size=80).astype(float),
        budget=25.0,
    )
    sequential = sequential_plan(problem, np.arange(n_v))
    joint = solve_joint(problem, time_limit=0.001, start=sequential)
    assert joint.status in ("time_limit", "optimal")
    assert check_solution(problem, joint) == []
    assert joint.covered + joint.powered >= sequential.covered + sequential.powered - 1e-9
    if joint.status == "time_limit":
        # the proved gap, or NaN when HiGHS had no bound yet (reported as null)
        assert not joint.gap < 0.0
