"""Propose new tower sites: candidates, coverage gains, costs, an optimal plan.

:func:`plan_sites` answers the district's question, "where should new towers
go, and which villages must get grid power first so that operators can build
them?", from an :class:`~covgap.analysis.Analysis` whose terrain model ran:

1. candidate sites from the terrain, near uncovered villages and from the
   user's ``towers/sites_candidates.csv`` (:mod:`covgap.planning.candidates`);
2. which settlements of the uncovered villages each candidate would bring to
   the signal threshold, existing towers fixed (:mod:`covgap.radio.links`);
3. each candidate's cost: tower, power (grid extension or solar) and
   backhaul (microwave to a tower in sight, fibre, or satellite)
   (:mod:`covgap.planning.costs`);
4. a budgeted maximal-coverage plan, greedy or exact (:mod:`covgap.planning.plan`);
5. the ranked plan table, the villages it covers, and the joint
   electrification list for the power utility (:mod:`covgap.planning.electrification`).

Backhaul assumption: there is no fibre layer in the dataset format, so fibre
is taken to reach the existing tower sites (operators' sites carry their
backbone); a candidate's fibre distance is its distance to the nearest
existing site.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from covgap.errors import CoverageError, ProblemInputError

if TYPE_CHECKING:
    from pathlib import Path

    import scipy.sparse
    from matplotlib.figure import Figure

    from covgap.analysis import Analysis
    from covgap.executor import Executor
    from covgap.planning.candidates import CandidateSettings
    from covgap.planning.costs import CostSettings
    from covgap.planning.plan import CoverageProblem, PlanResult
    from covgap.radio.signal import SignalResult
    from covgap.sensitivity import Sensitivity

__all__ = [
    "COVERAGE_CHUNK",
    "METHODS",
    "SitePlan",
    "coverage_curve",
    "plan_sites",
    "villages_gained",
]

log = logging.getLogger(__name__)

METHODS = ("greedy", "exact")

#: Candidates per call of the link kernel (bounds the dense link arrays of one call).
COVERAGE_CHUNK = 100


@dataclass
class SitePlan:
    """A proposed build plan and everything it was made from.

    Attributes
    ----------
    plan
        Ranked sites (points): ``rank``, ``site_id``, ``lon``, ``lat``,
        ``commune``, ``villages_gained`` (codes), ``village_names``,
        ``households_gained``, ``population_gained``,
        ``cumulative_households``, ``power``, ``power_cost_vnd``,
        ``backhaul``, ``backhaul_cost_vnd``, ``cost_vnd``, ``cost_usd``,
        ``source``, ``height_m``.
    candidates
        Every candidate with its cost columns and ``households_reachable``.
    demand
        Settlements of the uncovered villages (the demand points), with
        ``covered_after`` (bool).
    villages_after
        ``village_code`` -> status after the plan (``covered`` /
        ``uncovered``) for the villages that were uncovered.
    result
        The chosen :class:`~covgap.planning.plan.PlanResult`; ``greedy`` is always
        computed too, for comparison.
    electrification
        Unpowered villages ranked by the planned sites their grid connection
        would unlock.
    costs
        The cost settings used.
    signal_after
        Best-server signal of the planned sites alone, when computed.
    operator
        The operator planned for, or ``None`` (any signal counts).
    saturation
        Sites after which no further site gains a household
        (:func:`~covgap.planning.plan.saturating_k`): a larger ``k`` was
        solved as this one, and :meth:`curve` stops there.
    """

    plan: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    villages_after: dict[str, str]
    result: PlanResult
    greedy: PlanResult
    electrification: pd.DataFrame
    costs: CostSettings
    problem: CoverageProblem
    k: int | None = None
    budget_vnd: float | None = None
    signal_after: SignalResult | None = None
    notes: list[str] = field(default_factory=list)
    analysis: Analysis | None = field(default=None, repr=False, compare=False)
    operator: str | None = None
    saturation: int | None = None
    _curve: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def summary(self) -> list[dict[str, Any]]:
        """Return the ``plan`` list of ``summary.json``."""
        rows = []
        for rec in self.plan.to_dict(orient="records"):
            rows.append(
                {
                    "rank": int(rec["rank"]),
                    "site_id": str(rec["site_id"]),
                    "lon": float(rec["lon"]),
                    "lat": float(rec["lat"]),
                    "commune": rec["commune"],
                    "villages_gained": list(rec["villages_gained"]),
                    "households_gained": int(rec["households_gained"]),
                    "population_gained": int(rec["population_gained"]),
                    "cost_vnd": round(rec["cost_vnd"]),
                    "cost_usd": round(rec["cost_usd"]),
                    "power": rec["power"],
                    "backhaul": rec["backhaul"],
                    "dem_cuts_radius": bool(rec.get("dem_cuts_radius", False)),
                }
            )
        return rows

    def sites_note(self) -> str:
        """Say why the plan has fewer sites than requested, or ``""`` if it has them all.

        E.g. ``"9 of 100000 requested: no further site gains a household"``.
        """
        if self.k is None or len(self.plan) >= self.k:
            return ""
        head = f"{len(self.plan)} of {self.k} requested"
        if self.problem.n_candidates == 0 or self.saturation == 0:
            return f"{head}: no candidate site gains a household"
        from covgap.planning.plan import reduce_problem

        coverable = reduce_problem(self.problem).coverable
        if self.result.objective >= coverable - 1e-9 * max(1.0, coverable):
            return f"{head}: no further site gains a household"
        if self.budget_vnd is not None:
            return f"{head}: the budget buys no further useful site"
        return f"{head}: the solver stopped ({self.result.status})"

    def _repr_html_(self) -> str:
        from covgap.publish.notebook import plan_html

        return plan_html(self)

    # -- notebook API: curve, plots, export -------------------------------
    def curve(self, k_max: int | None = None, *, exact: bool = True) -> pd.DataFrame:
        """Tabulate households covered against the number of sites (:func:`coverage_curve`).

        The default curve (``k_max=None``, ``exact=True``) is computed once and
        kept.  It stops at the saturating number of sites (:attr:`saturation`).
        """
        if k_max is None and exact:
            if self._curve is None:
                self._curve = coverage_curve(self)
            return self._curve
        return coverage_curve(self, k_max, exact=exact)

    def plot_curve(self, **kwargs: Any) -> Figure:
        """Plot households covered against number of sites, exact optimum marked."""
        from covgap.publish.plots import coverage_curve_chart

        return coverage_curve_chart(self, **kwargs)

    def plot_cost(self, **kwargs: Any) -> Figure:
        """Plot cost against households covered, greedy and exact plans for each k."""
        from covgap.publish.plots import cost_chart

        return cost_chart(self, **kwargs)

    def plot_map(self, sensitivity: Sensitivity | None = None, **kwargs: Any) -> Figure:
        """Draw the static map of the plan for reports (needs the plan's analysis)."""
        from covgap.publish.plots import plan_map

        if self.analysis is None:
            raise CoverageError("this plan carries no analysis to draw the map from")
        return plan_map(self.analysis, self, sensitivity=sensitivity, **kwargs)

    def export(self, out_dir: str | Path, *, name: str = "priorities") -> list[Path]:
        """Write the priority lists (XLSX, CSV, GeoJSON, GeoPackage, KML) into ``out_dir``."""
        if self.analysis is not None:
            from covgap.publish.report import write_plan_lists

            return write_plan_lists(self.analysis, self, out_dir, name=name)
        from covgap.publish.exports import write_priorities

        rows = self.costs.assumptions()
        return write_priorities(out_dir, self.plan, None, self.electrification, rows, name=name)

    def assumptions(self, scenario: Any) -> list[dict[str, Any]]:
        """Every number behind the plan: costs, radio scenario and plan settings.

        Rows ``key, value, unit, source`` for the XLSX assumptions sheet.
        """
        rows = list(self.costs.assumptions())
        radio = [
            ("frequency_mhz", "MHz"),
            ("tx_power_dbm", "dBm per reference signal"),
            ("antenna_gain_dbi", "dBi"),
            ("cable_loss_db", "dB"),
            ("mast_height_m", "m"),
            ("receiver_height_m", "m"),
            ("radius_m", "m"),
            ("k_factor", "-"),
            ("threshold_dbm", "dBm (RSRP)"),
            ("covered_share", "share of households"),
            ("environment", "-"),
            ("model", "-"),
            ("diffraction", "-"),
        ]
        for key, unit in radio:
            rows.append(
                {
                    "key": f"scenario.{key}",
                    "value": getattr(scenario, key),
                    "unit": unit,
                    "source": f"radio scenario '{scenario.name}' (see docs/radio.md)",
                }
            )
        if getattr(scenario, "calibrated", False):
            calibration = [
                ("calibration_offset_db", scenario.calibration_offset_db, "dB"),
                ("calibration_slope_db", scenario.calibration_slope_db, "dB per decade"),
                ("calibration_distance_km", scenario.calibration_distance_km, "km"),
            ] + [
                (f"calibration_operators.{op}", f"{off:+g} dB, {slope:+g} dB/decade", "-")
                for op, off, slope in scenario.calibration_operators
            ]
            rows.extend(
                {
                    "key": f"scenario.{key}",
                    "value": value,
                    "unit": unit,
                    "source": f"fitted to measurements by covgap calibrate ('{scenario.name}')",
                }
                for key, value, unit in calibration
            )
        plan_rows = [
            ("plan.method", self.result.method, "-"),
            ("plan.operator", self.operator or "any", "-"),
            ("plan.status", self.result.status, "-"),
            ("plan.sites_k", self.k if self.k is not None else "", "sites"),
            ("plan.sites_useful", len(self.plan), "sites"),
            ("plan.budget_vnd", self.budget_vnd if self.budget_vnd is not None else "", "VND"),
            ("plan.candidates", len(self.candidates), "candidate sites"),
            ("plan.demand_points", len(self.demand), "settlements of uncovered villages"),
            ("plan.households_gained", round(self.result.objective), "households"),
            ("plan.proved_gap", self.result.gap, "fraction"),
        ]
        for key, value, unit in plan_rows:
            rows.append(
                {"key": key, "value": value, "unit": unit, "source": "covgap plan (this run)"}
            )
        rows.append(
            {
                "key": "backhaul.fibre_reach",
                "value": "existing tower sites",
                "unit": "-",
                "source": "Assumption: fibre reaches the operators' existing sites; a candidate's "
                "fibre distance is its distance to the nearest one (docs/costs.md).",
            }
        )
        return rows

    def overview(self) -> dict[str, Any]:
        """Figures of the whole plan (``summary.json`` key ``plan_overview``)."""
        gained = sorted(c for c, s in self.villages_after.items() if s == "covered")
        return {
            "method": self.result.method,
            "operator": self.operator,
            "status": self.result.status,
            "gap": None if not np.isfinite(self.result.gap) else float(self.result.gap),
            "sites": len(self.plan),
            "k": self.k,
            "saturating_k": self.saturation,
            "sites_note": self.sites_note(),
            "budget_vnd": self.budget_vnd,
            "candidates": len(self.candidates),
            "households_gained": round(self.result.objective),
            "greedy_households_gained": round(self.greedy.objective),
            "villages_gained": gained,
            "uncovered_villages": len(self.villages_after),
            "cost_vnd": round(float(self.plan["cost_vnd"].sum())) if len(self.plan) else 0,
            "note": self.result.note,
        }


def _distance_to_nearest(points: gpd.GeoSeries, targets: gpd.GeoSeries) -> np.ndarray:
    if len(targets) == 0:
        return np.full(len(points), np.nan)
    px, py = points.x.to_numpy(), points.y.to_numpy()
    tx, ty = targets.x.to_numpy(), targets.y.to_numpy()
    d = np.hypot(px[:, None] - tx[None, :], py[:, None] - ty[None, :])
    return d.min(axis=1)


def _backhaul_distance(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    costs: CostSettings,
    sites: gpd.GeoDataFrame,
) -> np.ndarray:
    """Distance to the nearest existing site with a clear microwave path (NaN if none).

    Clear: the first Fresnel zone at ``costs.microwave_frequency_ghz`` is
    ``costs.microwave_fresnel_clearance`` clear (:func:`covgap.radio.links.line_of_sight`).
    """
    from covgap.radio.links import line_of_sight

    max_km = costs.microwave_max_km
    if len(sites) == 0:
        return np.full(len(candidates), np.nan)
    scenario = analysis.scenario
    cand_xy = np.column_stack([candidates.geometry.x, candidates.geometry.y])
    site_xyh = np.column_stack(
        [
            sites.geometry.x,
            sites.geometry.y,
            sites["height_m"].fillna(scenario.mast_height_m).to_numpy(float),
        ]
    )
    # operators sharing a mast share its line of sight: one profile per mast
    site_xyh = np.unique(site_xyh, axis=0)
    site_xy, site_h = site_xyh[:, :2], site_xyh[:, 2]
    cand_h = candidates["height_m"].fillna(scenario.mast_height_m).to_numpy(float)
    visible = line_of_sight(
        analysis.terrain,
        cand_xy,
        cand_h,
        site_xy,
        site_h,
        scenario.curvature_coef,
        max_distance_m=max_km * 1000.0,
        frequency_ghz=costs.microwave_frequency_ghz,
        fresnel_clearance=costs.microwave_fresnel_clearance,
    )
    dist = np.hypot(
        cand_xy[:, 0, None] - site_xy[None, :, 0], cand_xy[:, 1, None] - site_xy[None, :, 1]
    )
    dist = np.where(visible & (dist <= max_km * 1000.0), dist, np.inf)
    best = dist.min(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def _operator_sites(sites: gpd.GeoDataFrame, operator: str) -> gpd.GeoDataFrame:
    known = sorted(set(sites["operator"].astype(str)))
    if operator not in known:
        raise ProblemInputError(
            f"unknown operator {operator!r}; the dataset's sites belong to {', '.join(known)}"
        )
    return sites[sites["operator"] == operator]


def _uncovered_by(
    analysis: Analysis, sites: gpd.GeoDataFrame, executor: Executor | None = None
) -> set[str]:
    """Villages that ``sites`` alone leave uncovered, by the terrain model."""
    from covgap.radio.reception import signal_reception
    from covgap.radio.signal import compute_signal

    ds = analysis.dataset
    signal = compute_signal(analysis.terrain, sites, analysis.scenario, executor=executor)
    reception = signal_reception(ds, signal, analysis.scenario)
    return set(reception.loc[reception["modelled_status"] == "uncovered", "village_code"])


def _candidate_costs(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    costs: CostSettings,
    sites: gpd.GeoDataFrame,
) -> pd.DataFrame:
    from covgap.planning.costs import distance_to_lines, site_cost

    ds = analysis.dataset
    if ds.grid is not None and len(ds.grid):
        to_grid = distance_to_lines(candidates, ds.grid)
    else:
        to_grid = np.full(len(candidates), np.nan)
    to_visible = _backhaul_distance(analysis, candidates, costs, sites)
    to_fibre = _distance_to_nearest(candidates.geometry, sites.geometry)
    table = site_cost(to_grid, to_visible, to_fibre, costs, index=candidates.index)
    table["distance_to_grid_m"] = to_grid
    table["distance_to_visible_tower_m"] = to_visible
    table["distance_to_fibre_m"] = to_fibre
    return table


def _settlement_population(demand: gpd.GeoDataFrame, villages: pd.DataFrame) -> np.ndarray:
    """People per settlement: its own figure, else its households x the village's size."""
    v = villages.set_index("village_code")
    per_household = (v["population"] / v["households"].where(v["households"] > 0)).fillna(0.0)
    estimate = demand["households"].to_numpy(float) * demand["village_code"].map(
        per_household
    ).fillna(0.0).to_numpy(float)
    if "population" in demand:
        own = demand["population"].to_numpy(float)
        return np.where(np.isfinite(own), own, estimate)
    return estimate


def _village_shares(demand: gpd.GeoDataFrame, covered: np.ndarray) -> tuple[pd.Series, pd.Series]:
    hh = demand["households"].to_numpy(float)
    frame = pd.DataFrame(
        {"village_code": demand["village_code"].to_numpy(), "hh": hh, "cov": hh * covered}
    )
    grouped = frame.groupby("village_code", sort=True)[["hh", "cov"]].sum()
    share = (grouped["cov"] / grouped["hh"].where(grouped["hh"] > 0)).fillna(0.0)
    return share, grouped["cov"]


def _ranked_table(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    coverage: Any,
    result: PlanResult,
    costs: CostSettings,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Build the ranked plan: marginal villages and households per rank."""
    cut = analysis.scenario.covered_share
    villages = analysis.gaps.villages.set_index("village_code")
    communes = analysis.dataset.communes.set_index("commune_code")["commune_name"]
    pop = demand["population"].to_numpy(float)
    hh = demand["households"].to_numpy(float)
    covered = np.zeros(len(demand), dtype=bool)
    gained_before: set[str] = set()
    rows = []
    cumulative = 0.0
    csc = coverage.tocsc()
    for rank, j in enumerate(result.selected, start=1):
        column = np.zeros(len(demand), dtype=bool)
        column[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
        new = column & ~covered
        covered |= column
        share, _ = _village_shares(demand, covered)
        gained_now = {str(c) for c, s in share.items() if s >= cut}
        new_villages = sorted(gained_now - gained_before)
        gained_before |= gained_now
        cand = candidates.iloc[j]
        households = float(hh[new].sum())
        cumulative += households
        commune_code = cand.get("commune_code")
        rows.append(
            {
                "rank": rank,
                "site_id": str(cand["candidate_id"]),
                "commune": communes.get(commune_code) if isinstance(commune_code, str) else None,
                "villages_gained": new_villages,
                "village_names": [str(villages.at[c, "village_name"]) for c in new_villages],
                "households_gained": round(households),
                "population_gained": round(float(pop[new].sum())),
                "cumulative_households": round(cumulative),
                "power": cand["power_option"],
                "power_cost_vnd": float(cand["power_vnd"]),
                "backhaul": cand["backhaul_option"],
                "backhaul_cost_vnd": float(cand["backhaul_vnd"]),
                "cost_vnd": float(cand["total_vnd"]),
                "cost_usd": float(cand["total_usd"]),
                "source": cand["source"],
                "height_m": float(cand["height_m"])
                if pd.notna(cand["height_m"])
                else float(analysis.scenario.mast_height_m),
                "distance_to_grid_m": float(cand["distance_to_grid_m"]),
                "dem_cuts_radius": bool(cand.get("dem_cuts_radius", False)),
                "geometry": cand.geometry,
            }
        )
    columns = [
        "rank",
        "site_id",
        "commune",
        "villages_gained",
        "village_names",
        "households_gained",
        "population_gained",
        "cumulative_households",
        "power",
        "power_cost_vnd",
        "backhaul",
        "backhaul_cost_vnd",
        "cost_vnd",
        "cost_usd",
        "source",
        "height_m",
        "distance_to_grid_m",
        "dem_cuts_radius",
        "geometry",
    ]
    plan = gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=candidates.crs)
    points = plan.geometry.to_crs(4326)
    plan.insert(2, "lon", points.x.round(6).to_numpy() if len(plan) else [])
    plan.insert(3, "lat", points.y.round(6).to_numpy() if len(plan) else [])
    return plan, covered


def villages_gained(plan: SitePlan, selected: Any) -> list[str]:
    """Return the uncovered villages that a set of candidates brings into coverage.

    Parameters
    ----------
    plan
        Supplies the demand points, coverage matrix and the village rule
        (``covered_share`` of the plan's analysis, default 0.5).
    selected
        Candidate positions (columns of ``plan.problem.coverage``).
    """
    coverage = plan.problem.coverage.tocsc()
    covered = np.zeros(coverage.shape[0], dtype=bool)
    for j in np.asarray(selected, dtype=np.int64):
        covered[coverage.indices[coverage.indptr[j] : coverage.indptr[j + 1]]] = True
    cut = plan.analysis.scenario.covered_share if plan.analysis is not None else 0.5
    share, _ = _village_shares(plan.demand, covered)
    return sorted(str(c) for c, v in share.items() if v >= cut)


def coverage_curve(
    plan: SitePlan,
    k_max: int | None = None,
    *,
    exact: bool = True,
    time_limit: float = 20.0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Tabulate households covered and cost for each number of sites, greedy and exact.

    Greedy picks are nested, so one greedy run up to ``k_max`` gives its
    whole curve; the exact optimum is solved for each ``k`` separately
    (HiGHS, warm-started, usually well under a second each on a district).

    Parameters
    ----------
    plan
        A site plan (its coverage problem is reused).
    k_max
        Largest number of sites (default: the plan's ``k``, else its number
        of sites, at least 1).  The curve stops earlier, at the saturating
        number of sites (:func:`~covgap.planning.plan.saturating_k`, or the
        plan's own number of sites if that is larger): beyond it no site gains
        anything, so neither curve can rise.
    exact
        Also solve the exact optimum for each ``k``.
    time_limit
        Seconds allowed to each exact solve.
    progress
        Progress bar over ``k``; ``None`` follows :mod:`covgap.progress`.

    Returns
    -------
    pandas.DataFrame
        One row per ``k`` from 1: ``k``, ``greedy_households``,
        ``greedy_cost_vnd``, and with ``exact``: ``exact_households``,
        ``exact_cost_vnd``, ``exact_status``.
    """
    from covgap.planning.plan import ExactCoverage, GreedyCoverage, saturating_k
    from covgap.progress import bar

    if k_max is None:
        k_max = plan.k if plan.k is not None else len(plan.plan)
    saturation = plan.saturation if plan.saturation is not None else saturating_k(plan.problem)
    k_max = max(min(int(k_max), max(saturation, len(plan.plan))), 1)
    greedy = GreedyCoverage(plan.problem, k=k_max).solve()
    costs = plan.problem.costs[greedy.selected] if len(greedy.selected) else np.zeros(0)
    rows = []
    for k in range(1, k_max + 1):
        n = min(k, len(greedy.selected))
        rows.append(
            {
                "k": k,
                "greedy_households": float(greedy.cumulative[n - 1]) if n else 0.0,
                "greedy_cost_vnd": float(costs[:n].sum()),
            }
        )
    table = pd.DataFrame(rows)
    if exact:
        households, cost, status = [], [], []
        for k in bar(range(1, k_max + 1), desc="exact optimum per k", unit="k", progress=progress):
            res = ExactCoverage(plan.problem, k=k, time_limit=time_limit).solve()
            households.append(res.objective)
            cost.append(res.cost)
            status.append(res.status)
        table["exact_households"] = households
        table["exact_cost_vnd"] = cost
        table["exact_status"] = pd.Series(status, dtype="str")
    return table


def _coverage_in_chunks(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    progress: bool,
    executor: Executor | None = None,
) -> scipy.sparse.csc_matrix:
    """Compute the candidates' coverage matrix in batches (tasks of ``executor``)."""
    from covgap.progress import bar
    from covgap.radio.links import coverage_columns

    scenario = analysis.scenario
    with bar(
        total=len(candidates),
        desc="candidate coverage",
        unit="site",
        progress=progress and len(candidates) > COVERAGE_CHUNK,
    ) as pbar:
        return coverage_columns(
            analysis.terrain,
            candidates,
            demand,
            scenario,
            executor=executor,
            batch_size=COVERAGE_CHUNK,
            on_progress=pbar.update,
        )


def plan_sites(
    analysis: Analysis,
    *,
    k: int | None = 10,
    budget_vnd: float | None = None,
    method: str = "exact",
    costs: CostSettings | None = None,
    candidate_settings: CandidateSettings | None = None,
    time_limit: float = 60.0,
    signal_after: bool = True,
    progress: bool | None = None,
    operator: str | None = None,
    executor: Executor | None = None,
) -> SitePlan:
    """Rank new tower sites that bring the uncovered villages' households into coverage.

    The work follows the plan, not the request: when no further site would
    gain a household (or the useful candidates run out) before ``k`` sites,
    the plan is solved for that saturating number of sites
    (:func:`~covgap.planning.plan.saturating_k`), so any larger ``k`` gives
    the same plan at the same cost; :meth:`SitePlan.sites_note` says so.

    Parameters
    ----------
    analysis
        An analysis whose terrain model ran (``analysis.terrain`` is set).
    k
        Number of sites to build (``None``: limited by the budget only).
    budget_vnd
        Budget in VND (``None``: limited by ``k`` only).
    method
        ``"exact"`` (HiGHS mixed-integer program, never worse than greedy) or
        ``"greedy"`` (lazy greedy with swap improvement).
    costs
        Cost settings (default: the packaged ``costs.toml``).
    candidate_settings
        Candidate generation settings (default: documented defaults).
    time_limit
        Seconds allowed to the exact solver.
    signal_after
        Also compute the planned sites' best-server raster (for the map).
    progress
        Show progress bars (stages, candidates' coverage); ``None`` follows
        :func:`covgap.progress.enable` (off by default).
    operator
        Plan for one operator's network (e.g. ``"Viettel"``): the demand is the
        villages that operator's existing sites do not cover (terrain model),
        backhaul is to that operator's sites, and user candidates reserved for
        another operator are left out.  ``None``: plan for the villages the
        survey (or the model) reports without any signal.
    executor
        Where the candidates' coverage and the plan's signal run
        (:mod:`covgap.executor`); default: ``analysis.executor``, else this
        process.  The plan is the same whatever the executor.

    Returns
    -------
    SitePlan

    Raises
    ------
    CoverageError
        When the terrain model did not run.
    ProblemInputError
        For an unknown method, or neither ``k`` nor a budget.
    """
    from covgap.planning.costs import default_cost_settings
    from covgap.planning.plan import saturating_k
    from covgap.progress import bar, resolve

    _check_request(analysis, k, budget_vnd, method)
    costs = costs if costs is not None else default_cost_settings()
    executor = executor if executor is not None else analysis.executor
    show = resolve(progress)
    stages = bar(total=5, desc="site plan", unit="stage", progress=show)

    sites, uncovered = _planned_network(analysis, operator, executor)
    demand = _demand_points(analysis, uncovered)
    candidates = _candidate_sites(analysis, uncovered, candidate_settings, operator)
    log.info("%d candidates for %d demand points", len(candidates), len(demand))
    _next_stage(stages, "costs")
    candidates = _with_costs(analysis, candidates, costs, sites)
    _next_stage(stages, "coverage")
    problem = _coverage_problem(analysis, candidates, demand, show, executor)
    _next_stage(stages, "optimisation")
    saturation = saturating_k(problem)
    greedy, result = _optimise(problem, method, k, budget_vnd, saturation, time_limit)
    plan, covered = _ranked_table(analysis, candidates, demand, problem.coverage, result, costs)
    demand["covered_after"] = covered
    villages_after = _villages_after(demand, uncovered, analysis.scenario.covered_share)
    electrification = _electrification(analysis, plan, costs)
    _next_stage(stages, "signal of the plan")
    after = _signal_of(analysis, plan, executor) if signal_after and len(plan) else None
    stages.update(1)
    stages.close()
    return SitePlan(
        plan=plan,
        candidates=candidates,
        demand=demand,
        villages_after=villages_after,
        result=result,
        greedy=greedy,
        electrification=electrification,
        costs=costs,
        problem=problem,
        k=k,
        budget_vnd=budget_vnd,
        signal_after=after,
        analysis=analysis,
        operator=operator,
        saturation=saturation,
    )


def _check_request(analysis: Analysis, k: int | None, budget: float | None, method: str) -> None:
    """Reject an unknown method, a request without limits, or an analysis without terrain."""
    if method not in METHODS:
        raise ProblemInputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if k is None and budget is None:
        raise ProblemInputError("give the number of sites, a budget, or both")
    if analysis.terrain is None:
        raise CoverageError("site planning needs the terrain model (a DEM and existing sites)")


def _next_stage(stages: Any, name: str) -> None:
    stages.update(1)
    stages.set_postfix_str(name)


def _planned_network(
    analysis: Analysis, operator: str | None, executor: Executor | None = None
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """Return the existing sites planned around and the uncovered villages (the demand)."""
    if operator is None:
        return analysis.dataset.sites, set(analysis.gaps.uncovered)
    sites = _operator_sites(analysis.dataset.sites, operator)
    return sites, _uncovered_by(analysis, sites, executor)


def _demand_points(analysis: Analysis, uncovered: set[str]) -> gpd.GeoDataFrame:
    """Settlements of the uncovered villages, by village code, with their population."""
    settlements = analysis.dataset.settlements
    demand = settlements[settlements["village_code"].isin(uncovered)].copy()
    demand = demand.sort_values(["village_code"], kind="stable").reset_index(drop=True)
    demand["population"] = _settlement_population(demand, analysis.gaps.villages)
    return demand


def _candidate_sites(
    analysis: Analysis,
    uncovered: set[str],
    settings: CandidateSettings | None,
    operator: str | None,
) -> gpd.GeoDataFrame:
    """Candidates near the uncovered villages, without those reserved for another operator."""
    from covgap.planning.candidates import dataset_candidates

    candidates = dataset_candidates(
        analysis.dataset, analysis.terrain, village_codes=sorted(uncovered), settings=settings,
        scenario=analysis.scenario,
    )  # fmt: skip
    if operator is not None and "operator" in candidates:
        reserved = candidates["operator"].notna() & (candidates["operator"] != operator)
        candidates = candidates[~reserved]
    candidates = candidates.reset_index(drop=True)
    # Flagged, not warned about: the plan says which proposed sites are modelled
    # only as far as the DEM reaches (their coverage, and so their gain, is a floor).
    radius, terrain = analysis.scenario.radius_m, analysis.terrain
    candidates["dem_cuts_radius"] = [
        not terrain.covers(x, y, radius)
        for x, y in zip(candidates.geometry.x, candidates.geometry.y, strict=True)
    ]
    return candidates


def _with_costs(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    costs: CostSettings,
    sites: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Return the candidates with their power, backhaul and total cost columns."""
    table = _candidate_costs(analysis, candidates, costs, sites)
    joined = pd.concat([candidates, table.reset_index(drop=True)], axis=1)
    return gpd.GeoDataFrame(joined, geometry="geometry", crs=analysis.dataset.crs)


def _coverage_problem(
    analysis: Analysis,
    candidates: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    progress: bool,
    executor: Executor | None = None,
) -> CoverageProblem:
    """Which demand each candidate covers, as a problem; adds ``households_reachable``."""
    from covgap.planning.plan import CoverageProblem

    if len(demand) and len(candidates):
        coverage = _coverage_in_chunks(analysis, candidates, demand, progress, executor)
    else:
        import scipy.sparse

        coverage = scipy.sparse.csc_matrix((len(demand), len(candidates)), dtype=bool)
    weights = demand["households"].to_numpy(float)
    candidates["households_reachable"] = np.asarray(
        coverage.T.astype(float) @ weights, dtype=float
    ).ravel()
    return CoverageProblem.from_geodataframes(demand, candidates, coverage)


def _optimise(
    problem: CoverageProblem,
    method: str,
    k: int | None,
    budget: float | None,
    saturation: int,
    time_limit: float,
) -> tuple[PlanResult, PlanResult]:
    """Greedy-with-swaps (always, for comparison) and the chosen method's plan.

    ``k`` is capped at the saturating number of sites without a budget (no
    plan gains from more), and at the number of candidates with one.
    """
    from covgap.planning.plan import ExactCoverage, GreedyCoverage

    if k is not None:
        k = min(k, saturation if budget is None else problem.n_candidates)
    greedy = GreedyCoverage(problem, k=k, budget=budget, swaps=True).solve()
    if method == "exact":
        result = ExactCoverage(problem, k=k, budget=budget, time_limit=time_limit).solve()
    else:
        result = greedy
    log.info(
        "%s plan: %d sites, %.0f households (%s, gap %.3g)",
        result.method,
        len(result.selected),
        result.objective,
        result.status,
        result.gap,
    )
    return greedy, result


def _villages_after(
    demand: gpd.GeoDataFrame, uncovered: set[str], covered_share: float
) -> dict[str, str]:
    """Status of each uncovered village once the plan is built."""
    share, _ = _village_shares(demand, demand["covered_after"].to_numpy(bool))
    return {
        code: ("covered" if share.get(code, 0.0) >= covered_share else "uncovered")
        for code in sorted(uncovered)
    }


def _electrification(
    analysis: Analysis, plan: gpd.GeoDataFrame, costs: CostSettings
) -> pd.DataFrame:
    """Unpowered villages ranked by the planned sites their grid connection unlocks."""
    from covgap.planning.costs import power_cost
    from covgap.planning.electrification import electrification_priorities

    ds = analysis.dataset
    return electrification_priorities(
        analysis.gaps.villages,
        plan,
        ds.grid,
        cost_fn=lambda d: power_cost(d, costs).cost_vnd,
        settlements_gdf=ds.settlements,
        communes_gdf=ds.communes,
    )


def _signal_of(
    analysis: Analysis, plan: gpd.GeoDataFrame, executor: Executor | None = None
) -> SignalResult:
    """Best-server signal of the planned sites alone (for the map)."""
    from covgap.radio.signal import compute_signal

    planned = plan[["site_id", "height_m", "geometry"]].assign(operator="planned", radio="LTE")
    # sites whose radius the DEM cuts are flagged in the plan (dem_cuts_radius)
    return compute_signal(
        analysis.terrain, planned, analysis.scenario, warn_cut=False, executor=executor
    )
