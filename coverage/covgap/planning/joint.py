"""Power and coverage planned together: routed line extensions and towers in one MIP.

:func:`plan_joint` answers the district's own request ("bring grid power to
the unpowered villages so that operators can build towers there") by choosing
together which medium-voltage line segments to build, which unpowered villages
get grid power and which tower sites to build, each on grid power (only where
a built line or the existing grid reaches it) or on solar, under one budget or
one for the utility and one for the operators.  Beside it, the **sequential**
baseline does what happens today: the operators plan towers first on their
cheapest power, then the utility connects villages in the order of its
electrification list (:mod:`covgap.planning.electrification`), with the same budgets.

Stages
------
1. **Cost surface** from the DEM (:func:`covgap.planning.routing.cost_surface`): slope
   classes gentle / steep / very steep with multipliers 1, ``terrain_factor``
   and ``very_steep_factor`` on ``mv_line_vnd_per_km``.
2. **Nodes**: the existing grid (node 0), each unpowered village's connection
   point (its settlement with the most households: where its transformer
   station stands) and every candidate site that covers someone and lies
   within the grid/solar saving distance of the grid or of an unpowered
   village (only there can a line pay for itself).
3. **Candidate segments**, least-cost routed
   (:class:`covgap.planning.routing.Router`): grid to every node; each village to its
   ``village_neighbours`` nearest villages within ``max_link_km``; each site
   to its ``site_neighbours`` nearest villages.  Pruned by usefulness: a site
   segment costing more than the site saves on the grid, and a village-village
   segment dearer than both villages' own grid segments, can never be in a
   best plan and are dropped.
4. **The MIP** (:mod:`covgap.planning._joint`), exact within the time limit, started
   from the sequential plan so that it is never worse.

Costs: a village costs ``transformer_vnd + village_lv_network_vnd`` (the
utility); a site costs tower + equipment + backhaul (as in
:func:`covgap.planning.siteplan.plan_sites`) plus, on solar, the lifetime solar cost,
or, on the grid, ``grid_connection_fixed_vnd + transformer_vnd`` and its
lifetime energy (the operators).  Segments are the utility's; under two
budgets a segment may be paid by the operators instead (as today, when an
operator extends the line to its own site), so the sequential plan is always
feasible for the joint one.
"""

from __future__ import annotations

import importlib.resources
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from covgap.errors import ConfigError, CoverageError, ProblemInputError
from covgap.settings import check_keys, check_number, read_toml

if TYPE_CHECKING:
    from covgap.analysis import Analysis
    from covgap.planning._joint import JointProblem, JointSolution
    from covgap.planning.costs import CostSettings
    from covgap.planning.routing import Route, Router
    from covgap.planning.siteplan import SitePlan

__all__ = [
    "JointPlan",
    "JointSettings",
    "JointSide",
    "default_joint_settings",
    "load_joint_settings",
    "plan_joint",
]

log = logging.getLogger(__name__)

GRID_NODE = "grid"

_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "village_lv_network_vnd": (0.0, math.inf, True, False),
    "steep_slope_deg": (0.0, 90.0, False, False),
    "very_steep_slope_deg": (0.0, 90.0, False, False),
    "very_steep_factor": (1.0, 100.0, True, True),
    "river_factor": (1.0, 100.0, True, True),
    "village_neighbours": (0.0, 50.0, True, True),
    "max_link_km": (0.0, 200.0, False, True),
    "site_neighbours": (0.0, 50.0, True, True),
    "default_budget_power_vnd": (0.0, math.inf, True, False),
}
_INTEGERS = frozenset({"village_neighbours", "site_neighbours"})
_UNITS = {
    "village_lv_network_vnd": "VND per village",
    "steep_slope_deg": "degrees",
    "very_steep_slope_deg": "degrees",
    "very_steep_factor": "multiplier",
    "river_factor": "multiplier",
    "village_neighbours": "villages",
    "max_link_km": "km",
    "site_neighbours": "villages",
    "default_budget_power_vnd": "VND",
}


@dataclass(frozen=True)
class JointSettings:
    """Figures of the joint plan (the ``[joint]`` table of ``costs.toml``).

    Attributes
    ----------
    village_lv_network_vnd
        Low-voltage network of one newly electrified village, VND.
    steep_slope_deg, very_steep_slope_deg
        Slopes from which a DEM cell is steep / very steep.
    very_steep_factor
        Line-cost multiplier on very steep cells (steep cells take
        ``terrain_factor`` of the cost settings).
    river_factor
        Multiplier on cells a river crosses, when rivers are given.
    village_neighbours, max_link_km
        Candidate segments from each village to its nearest villages within
        this straight distance.
    site_neighbours
        Candidate segments from each site to its nearest villages.
    default_budget_power_vnd
        Power budget when none is given (the Sín Chải package).
    sources
        Source of each value.
    """

    village_lv_network_vnd: float = 1_330_000_000.0
    steep_slope_deg: float = 15.0
    very_steep_slope_deg: float = 30.0
    very_steep_factor: float = 2.5
    river_factor: float = 2.0
    village_neighbours: int = 3
    max_link_km: float = 10.0
    site_neighbours: int = 2
    default_budget_power_vnd: float = 24_160_000_000.0
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for key in _RANGES:
            value = check_number(getattr(self, key), _RANGES[key], f"joint settings: key {key!r}")
            if key in _INTEGERS:
                if not value.is_integer():
                    raise ConfigError(f"joint settings: key {key!r}: expected a whole number")
                value = int(value)
            object.__setattr__(self, key, value)
        if self.very_steep_slope_deg <= self.steep_slope_deg:
            raise ConfigError("joint settings: very_steep_slope_deg must be above steep_slope_deg")
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    def assumptions(self) -> list[dict[str, Any]]:
        """Rows ``key, value, unit, source`` for the joint plan sheet."""
        return [
            {
                "key": f"joint.{key}",
                "value": getattr(self, key),
                "unit": _UNITS[key],
                "source": self.sources.get(key, "covgap default (see docs/costs.md)"),
            }
            for key in _RANGES
        ]


def _joint_from(data: Any, base: JointSettings | None, source: str) -> JointSettings:
    if data is None:
        return base if base is not None else JointSettings()
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: [joint] must be a table")
    data = dict(data)
    sources = data.pop("sources", {})
    if not isinstance(sources, Mapping):
        raise ConfigError(f'{source}: [joint.sources] must be a table of key = "text"')
    check_keys(data, list(_RANGES), f"{source} [joint]")
    check_keys(sources, list(_RANGES), f"{source} [joint.sources]")
    values = {k: getattr(base, k) for k in _RANGES} if base is not None else {}
    merged = dict(base.sources) if base is not None else {}
    for key in data:
        merged[key] = f"set in {source}"
    merged.update({k: str(v) for k, v in sources.items()})
    values.update(data)
    try:
        return JointSettings(**values, sources=merged)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


_DEFAULT: JointSettings | None = None


def default_joint_settings() -> JointSettings:
    """Return the ``[joint]`` table of the packaged ``costs.toml`` (cached)."""
    global _DEFAULT
    if _DEFAULT is None:
        resource = importlib.resources.files("covgap") / "scenarios" / "costs.toml"
        with importlib.resources.as_file(resource) as path:
            data = read_toml(Path(path), what="cost file")
        _DEFAULT = _joint_from(data.get("joint"), None, "covgap costs.toml")
    return _DEFAULT


def load_joint_settings(path: str | Path | None = None) -> JointSettings:
    """Read the ``[joint]`` table of a cost file; keys left out keep the defaults.

    Raises
    ------
    ConfigError
        On an unknown key (the closest known one is suggested) or a bad value.
    """
    base = default_joint_settings()
    if path is None:
        return base
    data = read_toml(Path(path), what="cost file")
    return _joint_from(data.get("joint"), base, str(path))


# -- results ------------------------------------------------------------------------
@dataclass
class JointSide:
    """One plan (joint or sequential) in tables.

    Attributes
    ----------
    lines
        Built segments (lines): ``line_id``, ``from``, ``to``, ``length_m``,
        ``cost_vnd``, ``paid_by``, ``gentle_m``, ``steep_m``, ``very_steep_m``.
    villages
        Villages electrified: ``village_code``, ``village_name``,
        ``households_powered``, ``line_id`` (the line reaching it), ``cost_vnd``.
    sites
        Sites built: ``site_id``, ``power``, ``line_id`` (the line that
        powers it, empty on solar), ``households_gained`` (marginal, in
        order), ``cost_vnd``.
    """

    lines: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    households_covered_gained: int
    households_powered_gained: int
    cost_utility_vnd: float
    cost_operators_vnd: float
    status: str
    gap: float | None
    seconds: float
    cpu_seconds: float = 0.0

    @property
    def households_gained(self) -> int:
        """Households gaining coverage plus households gaining power."""
        return self.households_covered_gained + self.households_powered_gained

    @property
    def cost_vnd(self) -> float:
        """Total cost, VND."""
        return self.cost_utility_vnd + self.cost_operators_vnd

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (money in whole VND, lengths in whole metres)."""
        per_bn = self.households_gained / (self.cost_vnd / 1e9) if self.cost_vnd > 0 else None
        return {
            "lines": [
                {
                    "id": str(r["line_id"]),
                    "from": str(r["from"]),
                    "to": str(r["to"]),
                    "length_m": round(float(r["length_m"])),
                    "cost_vnd": round(float(r["cost_vnd"])),
                    "paid_by": str(r["paid_by"]),
                }
                for _, r in self.lines.iterrows()
            ],
            "villages_electrified": [str(c) for c in self.villages["village_code"]],
            "sites": [
                {
                    "site_id": str(r["site_id"]),
                    "power": str(r["power"]),
                    "line": str(r["line_id"]) or None,
                    "households_gained": round(float(r["households_gained"])),
                    "cost_vnd": round(float(r["cost_vnd"])),
                }
                for _, r in self.sites.iterrows()
            ],
            "households_covered_gained": int(self.households_covered_gained),
            "households_powered_gained": int(self.households_powered_gained),
            "households_gained": int(self.households_gained),
            "cost_vnd": {
                "utility": round(self.cost_utility_vnd),
                "operators": round(self.cost_operators_vnd),
                "total": round(self.cost_vnd),
            },
            "households_per_billion_vnd": None if per_bn is None else round(per_bn, 2),
            "status": self.status,
            "gap": self.gap,
        }


@dataclass
class JointPlan:
    """The joint plan, the sequential baseline and the candidate network.

    Attributes
    ----------
    joint, sequential
        The two plans.
    segments
        Every candidate segment (lines), built or not.
    nodes
        Every node: ``node_id``, ``kind`` (grid / village / site), geometry
        (the grid node has none).
    budget_vnd, budget_power_vnd, budget_towers_vnd
        The budgets used.
    not_possible
        What could not be planned and why (also logged as warnings).
    """

    joint: JointSide
    sequential: JointSide
    segments: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame
    budget_vnd: float | None
    budget_power_vnd: float | None
    budget_towers_vnd: float | None
    settings: JointSettings
    costs: CostSettings
    not_possible: list[str] = field(default_factory=list)
    problem: JointProblem | None = field(default=None, repr=False)
    crs: Any = None

    def summary(self) -> dict[str, Any]:
        """Return the ``joint`` block of ``summary.json``."""
        out = self.joint.summary()
        out["budget_vnd"] = None if self.budget_vnd is None else round(self.budget_vnd)
        out["budget_power_vnd"] = (
            None if self.budget_power_vnd is None else round(self.budget_power_vnd)
        )
        out["budget_towers_vnd"] = (
            None if self.budget_towers_vnd is None else round(self.budget_towers_vnd)
        )
        out["candidate_segments"] = len(self.segments)
        out["not_possible"] = list(self.not_possible)
        out["sequential"] = self.sequential.summary()
        return out

    def _repr_html_(self) -> str:
        from covgap.publish.notebook import joint_html

        return joint_html(self)

    def electrification_lines(self, electrification: pd.DataFrame) -> pd.DataFrame:
        """Add the joint plan's lines and the sites they power to the utility's list.

        Adds ``joint_electrified``, ``joint_line`` (the line reaching the
        village) and ``joint_sites_powered`` (sites whose line leaves from
        that village).
        """
        table = electrification.copy()
        villages = self.joint.villages.set_index("village_code")
        lines = self.joint.lines
        powered: dict[str, list[str]] = {}
        by_line = dict(zip(lines["line_id"], lines["from"], strict=True)) if len(lines) else {}
        for _, site in self.joint.sites.iterrows():
            if site["power"] == "grid":
                start = by_line.get(site["line_id"], "")
                powered.setdefault(str(start), []).append(f"{site['site_id']} ({site['line_id']})")
        codes = table["village_code"].astype(str)
        table["joint_electrified"] = codes.isin(villages.index)
        line_of = villages["line_id"] if len(villages) else pd.Series(dtype=str)
        table["joint_line"] = codes.map(line_of).fillna("")
        table["joint_sites_powered"] = [powered.get(c, []) for c in codes]
        return table

    def sheet(self) -> pd.DataFrame:
        """Rows of the "joint plan" sheet: lines, villages, sites, then totals."""
        rows: list[dict[str, Any]] = []
        for name, side in (("joint", self.joint), ("sequential", self.sequential)):
            for _, r in side.lines.iterrows():
                rows.append(
                    {
                        "plan": name,
                        "item": "line",
                        "id": r["line_id"],
                        "from": r["from"],
                        "to": r["to"],
                        "power": "",
                        "line": "",
                        "length_m": round(float(r["length_m"])),
                        "households_gained": 0,
                        "cost_vnd": round(float(r["cost_vnd"])),
                        "paid_by": r["paid_by"],
                    }
                )
            for _, r in side.villages.iterrows():
                rows.append(
                    {
                        "plan": name,
                        "item": "village",
                        "id": r["village_code"],
                        "from": "",
                        "to": "",
                        "power": "grid",
                        "line": r["line_id"],
                        "length_m": 0,
                        "households_gained": round(float(r["households_powered"])),
                        "cost_vnd": round(float(r["cost_vnd"])),
                        "paid_by": "utility",
                    }
                )
            for _, r in side.sites.iterrows():
                rows.append(
                    {
                        "plan": name,
                        "item": "site",
                        "id": r["site_id"],
                        "from": "",
                        "to": "",
                        "power": r["power"],
                        "line": r["line_id"],
                        "length_m": 0,
                        "households_gained": round(float(r["households_gained"])),
                        "cost_vnd": round(float(r["cost_vnd"])),
                        "paid_by": "operators",
                    }
                )
            rows.append(
                {
                    "plan": name,
                    "item": "total",
                    "id": f"{side.status}" + ("" if side.gap is None else f", gap {side.gap:.2%}"),
                    "from": "",
                    "to": "",
                    "power": "",
                    "line": "",
                    "length_m": round(float(side.lines["length_m"].sum()))
                    if len(side.lines)
                    else 0,
                    "households_gained": side.households_gained,
                    "cost_vnd": round(side.cost_vnd),
                    "paid_by": f"utility {round(side.cost_utility_vnd)}; "
                    f"operators {round(side.cost_operators_vnd)}",
                }
            )
        return pd.DataFrame(rows)

    def assumptions(self) -> list[dict[str, Any]]:
        """Return the joint settings and budgets as assumption rows."""
        rows = self.settings.assumptions()
        for key, value in (
            ("joint.budget_vnd", self.budget_vnd),
            ("joint.budget_power_vnd", self.budget_power_vnd),
            ("joint.budget_towers_vnd", self.budget_towers_vnd),
        ):
            rows.append(
                {
                    "key": key,
                    "value": "" if value is None else round(value),
                    "unit": "VND",
                    "source": "covgap joint plan (this run)",
                }
            )
        return rows


# -- building the network ------------------------------------------------------------
@dataclass
class _Node:
    node_id: str
    kind: str
    xy: tuple[float, float] | None


def _connection_points(
    villages: gpd.GeoDataFrame, settlements: gpd.GeoDataFrame | None
) -> dict[str, tuple[float, float]]:
    """Each village's connection point: its settlement with the most households."""
    out: dict[str, tuple[float, float]] = {}
    if settlements is not None and len(settlements):
        s = settlements.assign(_hh=pd.to_numeric(settlements["households"], errors="coerce"))
        s = s.assign(_hh=s["_hh"].fillna(0.0), _order=np.arange(len(s)))
        s = s.sort_values(["village_code", "_hh", "_order"], ascending=[True, False, True])
        for code, grp in s.groupby("village_code", sort=True):
            geom = grp.geometry.iloc[0]
            out[str(code)] = (float(geom.x), float(geom.y))
    for _, v in villages.iterrows():
        code = str(v["village_code"])
        if code not in out:
            point = v.geometry.representative_point()
            out[code] = (float(point.x), float(point.y))
    return out


def _route_line(route: Route) -> shapely.LineString:
    return shapely.LineString(route.coords)


def _grid_saving(costs: CostSettings) -> float:
    """Return what a site saves on the grid over solar, line excluded (lifetime VND)."""
    a = costs.annuity_factor()
    solar = costs.solar_system_vnd + a * costs.solar_opex_vnd_per_year
    grid = (
        costs.grid_connection_fixed_vnd + costs.transformer_vnd + a * costs.grid_energy_vnd_per_year
    )
    return solar - grid


def _build_segments(
    router: Router,
    grid: gpd.GeoDataFrame | None,
    nodes: list[_Node],
    village_idx: list[int],
    site_idx: list[int],
    costs: CostSettings,
    settings: JointSettings,
    notes: list[str],
) -> list[dict[str, Any]]:
    """Route and prune the candidate segments (see the module docstring)."""
    per_m = costs.mv_line_vnd_per_km / 1000.0
    saving = _grid_saving(costs)
    spur_m = max(saving, 0.0) / per_m if per_m > 0 else math.inf
    xy = np.array([n.xy if n.xy is not None else (np.nan, np.nan) for n in nodes], dtype=float)
    segments: list[dict[str, Any]] = []

    def add(u: int, v: int, route: Route | None) -> None:
        if route is None:
            return
        segments.append(
            {
                "u": u,
                "v": v,
                "route": route,
                "cost_vnd": route.weighted_m * per_m,
            }
        )

    # 1. grid -> every node
    targets = [i for i in village_idx + site_idx]
    grid_cost: dict[int, float] = {}
    if grid is not None and len(grid) and targets:
        cells = router.grid_cells(grid)
        if cells[0].size == 0:
            notes.append(
                "the grid lies outside the DEM: no line can be routed from it; "
                "sites run on solar and no village can be electrified"
            )
        else:
            routes = router.grid_routes(grid, xy[targets])
            for i, route in zip(targets, routes, strict=True):
                if route is None:
                    notes.append(f"{nodes[i].node_id}: no route from the grid over the DEM")
                    continue
                if nodes[i].kind == "site" and route.weighted_m * per_m >= saving:
                    continue  # dearer than solar even alone: never in a best plan
                add(0, i, route)
                grid_cost[i] = route.weighted_m * per_m
    # 2. village <-> village, 3. village <-> site
    v_xy = xy[village_idx] if village_idx else np.empty((0, 2))
    s_xy = xy[site_idx] if site_idx else np.empty((0, 2))
    pairs: set[tuple[int, int]] = set()
    site_links: dict[int, list[int]] = {}
    for a, i in enumerate(village_idx):
        d = np.hypot(*(v_xy - v_xy[a]).T)
        d[a] = np.inf
        order = [b for b in np.argsort(d, kind="stable")[: settings.village_neighbours]]
        for b in order:
            if d[b] <= settings.max_link_km * 1000.0:
                pairs.add((min(i, village_idx[b]), max(i, village_idx[b])))
    for b, j in enumerate(site_idx):
        d = np.hypot(*(v_xy - s_xy[b]).T) if len(v_xy) else np.empty(0)
        for a in np.argsort(d, kind="stable")[: settings.site_neighbours]:
            if d[a] <= spur_m:
                site_links.setdefault(village_idx[a], []).append(j)
    by_start: dict[int, list[int]] = {}
    for u, v in sorted(pairs):
        by_start.setdefault(u, []).append(v)
    for u, sites in site_links.items():
        by_start.setdefault(u, []).extend(sites)
    for u in sorted(by_start):
        ends = sorted(set(by_start[u]))
        reach = float(np.max(np.hypot(*(xy[ends] - xy[u]).T)))
        routes = router.routes(xy[u], xy[ends], window_m=max(1000.0, 0.5 * reach))
        for v, route in zip(ends, routes, strict=True):
            if route is None:
                continue
            cost = route.weighted_m * per_m
            if nodes[v].kind == "site":
                if cost >= saving:
                    continue
            elif u in grid_cost and v in grid_cost and cost >= max(grid_cost[u], grid_cost[v]):
                continue  # the villages' own grid segments are never dearer
            add(u, v, route)
    return segments


def _dominated(
    keep: np.ndarray,
    cov: Any,
    solar: np.ndarray,
    grid_fixed: np.ndarray,
    site_of_node: dict[int, int],
    segs: list[dict[str, Any]],
) -> np.ndarray:
    """Candidates that another with the same coverage beats on every cost (exact to drop).

    Sites linked to a village are always kept.  The others are compared on
    (solar cost, grid cost, cost of their own segment from the grid), ``inf``
    where an option is missing: one no dearer on all three can replace the
    other in any plan under any budgets.
    """
    degree: dict[int, int] = {}
    for seg in segs:
        degree[seg["u"]] = degree.get(seg["u"], 0) + 1
        degree[seg["v"]] = degree.get(seg["v"], 0) + 1
    leaf_cost = {
        seg["v"]: float(seg["cost_vnd"])
        for seg in segs
        if seg["u"] == 0 and degree.get(seg["v"], 0) == 1
    }
    node_of = {pos: node for node, pos in site_of_node.items()}
    groups: dict[bytes, list[tuple[int, tuple[float, float, float]]]] = {}
    for pos, j in enumerate(keep):
        node = node_of.get(pos)
        if node is not None and degree.get(node, 0) > 0 and node not in leaf_cost:
            continue
        if node is not None and node in leaf_cost:
            vec = (float(solar[j]), float(grid_fixed[j]), leaf_cost[node])
        else:
            vec = (float(solar[j]), math.inf, math.inf)
        key = cov.indices[cov.indptr[j] : cov.indptr[j + 1]].tobytes()
        groups.setdefault(key, []).append((pos, vec))
    drop = np.zeros(len(keep), dtype=bool)
    for members in groups.values():
        for a, (pa, va) in enumerate(members):
            for b, (_, vb) in enumerate(members):
                better = all(x <= y for x, y in zip(vb, va, strict=True))
                if a != b and better and (vb != va or b < a):
                    drop[pa] = True
                    break
    return drop


def _compact(
    drop: np.ndarray,
    nodes: list[_Node],
    segs: list[dict[str, Any]],
    site_of_node: dict[int, int],
    inside: list[bool],
    keep: np.ndarray,
) -> tuple[list[_Node], list[dict[str, Any]], dict[int, int], list[bool], np.ndarray]:
    """Drop dominated candidates, and the nodes of sites no segment reaches."""
    touched = {seg["u"] for seg in segs} | {seg["v"] for seg in segs}
    gone = {n for n, pos in site_of_node.items() if drop[pos] or n not in touched}
    index: dict[int, int] = {}
    for i in range(len(nodes)):
        if i not in gone:
            index[i] = len(index)
    kept_pos = np.flatnonzero(~drop)
    pos_map = {int(old): new for new, old in enumerate(kept_pos)}
    new_segs = [
        dict(seg, u=index[seg["u"]], v=index[seg["v"]])
        for seg in segs
        if seg["u"] in index and seg["v"] in index
    ]
    new_sites = {index[n]: pos_map[pos] for n, pos in site_of_node.items() if n in index}
    return (
        [nodes[i] for i in index],
        new_segs,
        new_sites,
        [inside[i] for i in index],
        keep[kept_pos],
    )


def _dem_check(router: Router, nodes: list[_Node], notes: list[str]) -> list[bool]:
    ok = []
    for n in nodes:
        if n.xy is None:
            ok.append(True)
            continue
        inside = bool(router.surface.inside(np.array([n.xy[0]]), np.array([n.xy[1]]))[0])
        if not inside:
            notes.append(f"{n.kind} {n.node_id} lies outside the DEM: no line can reach it")
        ok.append(inside)
    return ok


def _side(
    sol: JointSolution,
    problem: JointProblem,
    nodes: list[_Node],
    segments: gpd.GeoDataFrame,
    villages: pd.DataFrame,
    site_frame: pd.DataFrame,
    crs: Any,
) -> JointSide:
    """Tables of one solution."""
    built = np.flatnonzero(sol.segments)
    parent = sol.parent_segment
    rows = []
    for k in built:
        seg = segments.iloc[int(k)]
        u, v = int(problem.seg_from[k]), int(problem.seg_to[k])
        # orient from the grid side (the node whose parent is not this segment)
        if parent[u] == k:
            u, v = v, u
        geom = seg.geometry
        if u != int(problem.seg_from[k]):
            geom = shapely.reverse(geom)
        rows.append(
            {
                "line_id": seg["line_id"],
                "from": nodes[u].node_id,
                "to": nodes[v].node_id,
                "length_m": float(seg["length_m"]),
                "cost_vnd": float(seg["cost_vnd"]),
                "paid_by": str(sol.segment_payer[k]),
                "gentle_m": float(seg["gentle_m"]),
                "steep_m": float(seg["steep_m"]),
                "very_steep_m": float(seg["very_steep_m"]),
                "geometry": geom,
            }
        )
    line_cols = [
        "line_id", "from", "to", "length_m", "cost_vnd", "paid_by",
        "gentle_m", "steep_m", "very_steep_m", "geometry",
    ]  # fmt: skip
    lines = gpd.GeoDataFrame(rows, columns=line_cols, geometry="geometry", crs=crs)
    line_ids = segments["line_id"].tolist()

    def line_to(node: int) -> str:
        k = int(parent[node])
        return line_ids[k] if k >= 0 else ""

    vrows = []
    for v in np.flatnonzero(sol.villages):
        rec = villages.iloc[int(v)]
        vrows.append(
            {
                "village_code": rec["village_code"],
                "village_name": rec["village_name"],
                "households_powered": float(problem.village_benefit[v]),
                "line_id": line_to(int(problem.village_node[v])),
                "cost_vnd": float(problem.village_cost[v]),
                "geometry": rec["geometry"],
            }
        )
    vcols = [
        "village_code",
        "village_name",
        "households_powered",
        "line_id",
        "cost_vnd",
        "geometry",
    ]
    vill = gpd.GeoDataFrame(vrows, columns=vcols, geometry="geometry", crs=crs)

    chosen = np.flatnonzero(sol.site_power != "")
    cov = problem.coverage.tocsc()
    w = problem.weights
    gains = {int(j): cov.indices[cov.indptr[j] : cov.indptr[j + 1]] for j in chosen}
    covered = np.zeros(w.size, dtype=bool)
    order = []
    remaining = set(gains)
    while remaining:
        best = max(sorted(remaining), key=lambda j: float(w[gains[j]][~covered[gains[j]]].sum()))
        gain = float(w[gains[best]][~covered[gains[best]]].sum())
        covered[gains[best]] = True
        order.append((best, gain))
        remaining.discard(best)
    srows = []
    for j, gain in order:
        rec = site_frame.iloc[j]
        power = str(sol.site_power[j])
        srows.append(
            {
                "site_id": rec["site_id"],
                "power": power,
                "line_id": line_to(int(problem.site_node[j])) if power == "grid" else "",
                "households_gained": gain,
                "cost_vnd": float(
                    problem.site_grid_cost[j] if power == "grid" else problem.site_solar_cost[j]
                ),
                "backhaul": rec["backhaul"],
                "geometry": rec["geometry"],
            }
        )
    scols = ["site_id", "power", "line_id", "households_gained", "cost_vnd", "backhaul", "geometry"]
    sites = gpd.GeoDataFrame(srows, columns=scols, geometry="geometry", crs=crs)
    gap = None if not math.isfinite(sol.gap) else float(sol.gap)
    return JointSide(
        lines=lines,
        villages=vill,
        sites=sites,
        households_covered_gained=round(sol.covered),
        households_powered_gained=round(sol.powered),
        cost_utility_vnd=sol.cost_utility,
        cost_operators_vnd=sol.cost_operators,
        status=sol.status,
        gap=gap,
        seconds=sol.seconds,
        cpu_seconds=sol.cpu_seconds,
    )


def plan_joint(
    analysis: Analysis,
    *,
    plan: SitePlan | None = None,
    budget_vnd: float | None = None,
    budget_power_vnd: float | None = None,
    budget_towers_vnd: float | None = None,
    costs: CostSettings | None = None,
    settings: JointSettings | None = None,
    rivers: gpd.GeoDataFrame | None = None,
    time_limit: float = 60.0,
) -> JointPlan:
    """Plan grid extensions and towers together, with the sequential plan beside.

    Parameters
    ----------
    analysis
        An analysis whose terrain model ran.
    plan
        The site plan whose candidates, coverage and costs are reused
        (default: :func:`covgap.planning.siteplan.plan_sites` with its defaults).
    budget_vnd
        One budget for everything, VND.
    budget_power_vnd, budget_towers_vnd
        Or the utility's and the operators' budgets; a missing one of the two
        takes its default: for the towers what ``plan`` spends, for power
        ``default_budget_power_vnd`` (one Sín Chải package).  When no budget
        is given at all: one budget, the sum of those two defaults.
    costs
        Cost settings (default: the site plan's).
    settings
        Joint settings (default: the packaged ``[joint]`` table).
    rivers
        Optional river lines for the cost surface.
    time_limit
        Seconds for the MIP; beyond it the best plan and its proved gap are
        returned.

    Returns
    -------
    JointPlan

    Raises
    ------
    CoverageError
        Without the terrain model.
    ProblemInputError
        When one budget and the split budgets are both given, or a budget
        is negative.
    """
    from covgap.planning._joint import JointProblem, sequential_plan, solve_joint
    from covgap.planning.routing import Router, cost_surface

    if analysis.terrain is None:
        raise CoverageError("the joint plan needs the terrain model (a DEM and existing sites)")
    if budget_vnd is not None and (budget_power_vnd is not None or budget_towers_vnd is not None):
        raise ProblemInputError("give --budget or --budget-power/--budget-towers, not both")
    for name, value in (
        ("budget", budget_vnd),
        ("budget-power", budget_power_vnd),
        ("budget-towers", budget_towers_vnd),
    ):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ProblemInputError(f"--{name} must be a number >= 0, got {value!r}")
    if plan is None:
        from covgap.planning.siteplan import plan_sites

        plan = plan_sites(analysis, signal_after=False, costs=costs)
    costs = costs if costs is not None else plan.costs
    settings = settings if settings is not None else default_joint_settings()
    towers_default = float(plan.plan["cost_vnd"].sum()) if len(plan.plan) else 0.0
    if budget_vnd is None and budget_power_vnd is None and budget_towers_vnd is None:
        budget_vnd = towers_default + settings.default_budget_power_vnd
    elif budget_vnd is None:
        if budget_towers_vnd is None:
            budget_towers_vnd = towers_default
        if budget_power_vnd is None:
            budget_power_vnd = settings.default_budget_power_vnd
    ds, gaps, scenario = analysis.dataset, analysis.gaps, analysis.scenario
    notes: list[str] = []
    crs = ds.crs

    # villages
    vill = gaps.villages[gaps.villages["power_status"] == "unpowered"].copy()
    vill = vill.sort_values("village_code", kind="stable").reset_index(drop=True)
    if not len(vill):
        notes.append("no unpowered village: the joint plan can only power tower sites")
    if plan.problem.weights.size == 0:
        notes.append("no uncovered village: the joint plan can only electrify villages")
    grid = ds.grid if ds.grid is not None and len(ds.grid) else None
    if grid is None:
        notes.append("no grid layer: no line can be routed; sites run on solar only")
    points = _connection_points(vill, ds.settlements)

    # sites: candidates that cover someone
    cand = plan.candidates
    cov_all = plan.problem.coverage.tocsc()
    useful = np.flatnonzero(np.diff(cov_all.indptr) > 0)
    a = costs.annuity_factor()
    base = (cand["tower_vnd"] + cand["backhaul_vnd"]).to_numpy(float)
    solar = base + costs.solar_system_vnd + a * costs.solar_opex_vnd_per_year
    grid_fixed = base + (
        costs.grid_connection_fixed_vnd + costs.transformer_vnd + a * costs.grid_energy_vnd_per_year
    )
    # identical coverage: keep every candidate near power plus the cheapest of the rest
    surface = cost_surface(
        analysis.terrain,
        slope_edges_deg=(settings.steep_slope_deg, settings.very_steep_slope_deg),
        class_factors=(1.0, costs.terrain_factor, settings.very_steep_factor),
        rivers=rivers,
        river_factor=settings.river_factor,
        landcover=getattr(analysis.terrain, "landcover", None),
    )
    router = Router(surface)
    per_m = costs.mv_line_vnd_per_km / 1000.0
    spur_m = max(_grid_saving(costs), 0.0) / per_m if per_m > 0 else math.inf
    cxy = np.column_stack([cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy()])
    near = np.zeros(len(cand), dtype=bool)
    if grid is not None:
        from covgap.planning.costs import distance_to_lines

        near |= np.nan_to_num(distance_to_lines(cand, grid), nan=np.inf) <= spur_m
    if len(vill):
        vxy = np.array([points[str(c)] for c in vill["village_code"]])
        dmin = np.hypot(cxy[:, None, 0] - vxy[None, :, 0], cxy[:, None, 1] - vxy[None, :, 1])
        near |= dmin.min(axis=1) <= spur_m
    keep: list[int] = []
    seen: dict[bytes, int] = {}
    for j in useful:
        rows = cov_all.indices[cov_all.indptr[j] : cov_all.indptr[j + 1]]
        if near[j]:
            keep.append(int(j))
            continue
        key = rows.tobytes()
        if key not in seen or solar[j] < solar[seen[key]]:
            seen[key] = int(j)
    keep = sorted(set(keep) | set(seen.values()))
    keep_arr = np.asarray(keep, dtype=np.int64)

    nodes: list[_Node] = [_Node(GRID_NODE, "grid", None)]
    village_idx, site_idx = [], []
    for code in vill["village_code"].astype(str):
        village_idx.append(len(nodes))
        nodes.append(_Node(code, "village", points[code]))
    site_of_node: dict[int, int] = {}
    for pos, j in enumerate(keep_arr):
        if near[j] and grid is not None:
            site_of_node[len(nodes)] = pos
            site_idx.append(len(nodes))
            nodes.append(_Node(str(cand.at[j, "candidate_id"]), "site", tuple(cxy[j])))
    inside = _dem_check(router, nodes, notes)
    village_idx = [i for i in village_idx if inside[i]]
    site_idx = [i for i in site_idx if inside[i]]
    segs = _build_segments(router, grid, nodes, village_idx, site_idx, costs, settings, notes)
    drop = _dominated(keep_arr, cov_all, solar, grid_fixed, site_of_node, segs)
    nodes, segs, site_of_node, inside, keep_arr = _compact(
        drop, nodes, segs, site_of_node, inside, keep_arr
    )
    seg_rows = []
    for k, s in enumerate(segs):
        r = s["route"]
        seg_rows.append(
            {
                "line_id": f"L{k + 1:03d}",
                "from": nodes[s["u"]].node_id,
                "to": nodes[s["v"]].node_id,
                "length_m": r.length_m,
                "straight_m": r.straight_m,
                "cost_vnd": s["cost_vnd"],
                "gentle_m": r.length_by_class_m.get("gentle", 0.0),
                "steep_m": r.length_by_class_m.get("steep", 0.0),
                "very_steep_m": r.length_by_class_m.get("very_steep", 0.0),
                "geometry": _route_line(r),
            }
        )
    seg_cols = [
        "line_id", "from", "to", "length_m", "straight_m", "cost_vnd",
        "gentle_m", "steep_m", "very_steep_m", "geometry",
    ]  # fmt: skip
    segments = gpd.GeoDataFrame(seg_rows, columns=seg_cols, geometry="geometry", crs=crs)
    if len(segs):
        cheapest = float(segments["cost_vnd"].min())
        for name, value in (("power", budget_power_vnd), ("total", budget_vnd)):
            if value is not None and value < cheapest:
                notes.append(
                    f"the {name} budget ({round(value):,} VND) is below the cheapest line "
                    f"segment ({round(cheapest):,} VND): no line can be built"
                )
    elif grid is not None and (village_idx or site_idx):
        notes.append("no candidate line segment could be routed")

    # the arrays
    site_node = np.full(keep_arr.size, -1, dtype=np.int64)
    for node, pos in site_of_node.items():
        if inside[node]:
            site_node[pos] = node
    hh_unpowered = vill["households_unpowered"].fillna(vill["households"]).fillna(0.0)
    v_mask = np.array([inside[i] for i in range(1, 1 + len(vill))], dtype=bool)
    village_rows = np.flatnonzero(v_mask)
    problem = JointProblem(
        n_nodes=len(nodes),
        seg_from=[s["u"] for s in segs],
        seg_to=[s["v"] for s in segs],
        seg_cost=[s["cost_vnd"] for s in segs],
        village_node=[1 + int(r) for r in village_rows],
        village_benefit=hh_unpowered.to_numpy(float)[village_rows],
        village_cost=np.full(
            village_rows.size, costs.transformer_vnd + settings.village_lv_network_vnd
        ),
        site_solar_cost=solar[keep_arr],
        site_grid_cost=np.where(site_node >= 0, grid_fixed[keep_arr], np.nan),
        site_node=site_node,
        coverage=cov_all[:, keep_arr],
        weights=plan.problem.weights,
        weight_covered=float(getattr(scenario, "weight_covered", 1.0)),
        weight_powered=float(getattr(scenario, "weight_powered", 1.0)),
        budget=budget_vnd,
        budget_power=None if budget_vnd is not None else budget_power_vnd,
        budget_towers=None if budget_vnd is not None else budget_towers_vnd,
    )
    # the utility's list order (today's electrification list, with the sequential sites)
    order = _electrification_order(analysis, plan, vill.iloc[village_rows], costs)
    sequential = sequential_plan(problem, order, time_limit=time_limit)
    joint = solve_joint(problem, time_limit=time_limit, start=sequential)
    if joint.status != "optimal":
        notes.append(
            f"the joint MIP stopped at the time limit ({time_limit:g} s) with a proved gap "
            f"of {joint.gap:.2%}"
        )
    for note in notes:
        log.warning("joint plan: %s", note)
    site_frame = pd.DataFrame(
        {
            "site_id": cand["candidate_id"].astype(str).to_numpy()[keep_arr],
            "backhaul": cand["backhaul_option"].astype(str).to_numpy()[keep_arr],
            "geometry": cand.geometry.to_numpy()[keep_arr],
        }
    )
    vill_rows = vill.iloc[village_rows].reset_index(drop=True)
    node_frame = gpd.GeoDataFrame(
        {
            "node_id": [n.node_id for n in nodes],
            "kind": [n.kind for n in nodes],
            "geometry": [None if n.xy is None else shapely.Point(n.xy) for n in nodes],
        },
        geometry="geometry",
        crs=crs,
    )
    return JointPlan(
        joint=_side(joint, problem, nodes, segments, vill_rows, site_frame, crs),
        sequential=_side(sequential, problem, nodes, segments, vill_rows, site_frame, crs),
        segments=segments,
        nodes=node_frame,
        budget_vnd=budget_vnd,
        budget_power_vnd=problem.budget_power,
        budget_towers_vnd=problem.budget_towers,
        settings=settings,
        costs=costs,
        not_possible=notes,
        problem=problem,
        crs=crs,
    )


def _electrification_order(
    analysis: Analysis, plan: SitePlan, villages: pd.DataFrame, costs: CostSettings
) -> np.ndarray:
    """Positions of ``villages`` in the order of today's electrification list."""
    if not len(villages):
        return np.zeros(0, dtype=np.int64)
    table = plan.electrification
    rank = dict(zip(table["village_code"].astype(str), table["rank"], strict=True))
    codes = villages["village_code"].astype(str).tolist()
    order = sorted(range(len(codes)), key=lambda i: (rank.get(codes[i], math.inf), codes[i]))
    return np.asarray(order, dtype=np.int64)
