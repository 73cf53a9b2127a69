"""What-if scenarios side by side: coverage gaps, plan cost and households covered.

A scenario file is a radio scenario TOML (the flat keys of
:class:`covgap.radio.scenario.Scenario`, read exactly like ``--scenario``) with an
optional ``[plan]`` table::

    name = "lte1800"
    frequency_mhz = 1800

    [plan]
    k = 10                 # number of new sites, or a list: a sweep
    budget_vnd = 3e10      # budget in VND, or a list: a sweep
    method = "exact"       # or "greedy"

``k`` and ``budget_vnd`` may each be a number or a list; a list gives one row
per value (both lists: every pair).  A file whose ``[plan]`` sets ``k`` or
``budget_vnd`` fixes both (one it leaves out means "no limit of that kind");
a file without them takes the ``k``/``budget_vnd`` given to
:func:`compare_scenarios` (the command line), else 10 sites.

The radio analysis and the candidate sites are computed once per distinct
radio scenario (files that differ only in name or ``[plan]`` share them), and
every plan of a sweep re-solves the same coverage problem.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from covgap.errors import ConfigError, ProblemInputError
from covgap.radio.scenario import Scenario, load_scenario
from covgap.settings import read_toml

__all__ = [
    "COMPARISON_COLUMNS",
    "DEFAULT_K",
    "PlanSetting",
    "ScenarioFile",
    "compare_scenarios",
    "format_table",
    "read_scenario_file",
    "write_comparison",
]

log = logging.getLogger(__name__)

#: Sites planned when neither the file nor the caller gives a limit.
DEFAULT_K = 10

#: Columns of the comparison table, in order.
COMPARISON_COLUMNS = [
    "scenario",
    "file",
    "frequency_mhz",
    "threshold_dbm",
    "k",
    "budget_vnd",
    "method",
    "uncovered_villages",
    "uncovered_modelled",
    "households_covered_now",
    "sites",
    "cost_vnd",
    "households_gained",
    "villages_gained",
    "uncovered_after",
    "status",
]

_PLAN_KEYS = ("k", "budget_vnd", "method")


@dataclass(frozen=True)
class PlanSetting:
    """Limits of one plan: number of sites and/or budget, and the method."""

    k: int | None
    budget_vnd: float | None
    method: str = "exact"


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario file: its radio scenario and the plans to make under it."""

    path: Path
    scenario: Scenario
    plans: tuple[PlanSetting, ...]


def _values(raw: Any, key: str, path: Path) -> list[Any]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConfigError(f"{path}: [plan] key {key!r}: empty list")
    out: list[Any] = []
    for item in items:
        if key == "k":
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ConfigError(
                    f"{path}: [plan] key 'k': expected a whole number >= 0, got {item!r}"
                )
            out.append(int(item))
        else:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or item < 0:
                raise ConfigError(
                    f"{path}: [plan] key 'budget_vnd': expected a number >= 0, got {item!r}"
                )
            out.append(float(item))
    return out


def read_scenario_file(
    path: str | Path,
    *,
    k: int | None = None,
    budget_vnd: float | None = None,
    method: str = "exact",
) -> ScenarioFile:
    """Read a scenario file: radio keys and the optional ``[plan]`` table.

    Parameters
    ----------
    path
        The ``.toml`` file.
    k, budget_vnd, method
        Plan limits for a file whose ``[plan]`` does not set them.

    Raises
    ------
    ConfigError
        On a missing or invalid file, an unknown key, or a bad value (the
        message names the file and the key).
    """
    from covgap.planning.siteplan import METHODS

    path = Path(path)
    data = read_toml(path, what="scenario file")
    table = data.pop("plan", None)
    if table is None:
        scenario = load_scenario(path)
        table = {}
    else:
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'plan' must be a table ([plan])")
        unknown = sorted(set(table) - set(_PLAN_KEYS))
        if unknown:
            raise ConfigError(
                f"{path}: [plan]: unknown key {unknown[0]!r}; expected {', '.join(_PLAN_KEYS)}"
            )
        data.setdefault("name", path.stem)
        try:
            scenario = Scenario().with_overrides(**data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {str(exc).removeprefix('overrides: ')}") from None
        for message in scenario.validity_warnings():
            log.warning("%s: %s", path, message)
    plan_method = table.get("method", method)
    if plan_method not in METHODS:
        raise ConfigError(
            f"{path}: [plan] key 'method': {plan_method!r} is not one of {', '.join(METHODS)}"
        )
    if "k" in table or "budget_vnd" in table:
        ks: list[Any] = _values(table["k"], "k", path) if "k" in table else [None]
        budgets: list[Any] = (
            _values(table["budget_vnd"], "budget_vnd", path) if "budget_vnd" in table else [None]
        )
    elif k is None and budget_vnd is None:
        ks, budgets = [DEFAULT_K], [None]
    else:
        ks, budgets = [k], [budget_vnd]
    plans = tuple(PlanSetting(kk, bb, plan_method) for kk, bb in itertools.product(ks, budgets))
    return ScenarioFile(path=path, scenario=scenario, plans=plans)


def _solve(plan: Any, setting: PlanSetting, time_limit: float) -> Any:
    """Return the plan's own result when it matches ``setting``, else re-solve its problem."""
    from covgap.planning.plan import ExactCoverage, GreedyCoverage

    same_method = (setting.method == "exact") == (plan.result.method == "exact")
    if same_method and (plan.k, plan.budget_vnd) == (setting.k, setting.budget_vnd):
        return plan.result
    if setting.method == "exact":
        return ExactCoverage(
            plan.problem, k=setting.k, budget=setting.budget_vnd, time_limit=time_limit
        ).solve()
    return GreedyCoverage(plan.problem, k=setting.k, budget=setting.budget_vnd, swaps=True).solve()


def compare_scenarios(
    data: Any,
    scenario_paths: list[str | Path] | tuple[str | Path, ...],
    *,
    k: int | None = None,
    budget_vnd: float | None = None,
    method: str = "exact",
    time_limit: float = 60.0,
    crs: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Analyse and plan under each scenario file; tabulate the results side by side.

    Parameters
    ----------
    data
        A dataset folder or a loaded :class:`~covgap.data.dataset.Dataset`
        (loaded once for every scenario).
    scenario_paths
        Scenario files (see the module docstring), in the order of the rows.
    k, budget_vnd, method
        Plan limits for files whose ``[plan]`` does not set them (default:
        :data:`DEFAULT_K` sites, exact).
    time_limit
        Seconds allowed to each exact solve.
    crs
        Metric analysis CRS when loading from a folder.
    progress
        Progress bar over the scenarios; ``None`` follows :mod:`covgap.progress`.

    Returns
    -------
    pandas.DataFrame
        One row per scenario file and plan setting, columns
        :data:`COMPARISON_COLUMNS`: ``uncovered_villages`` (villages without
        coverage, survey first then model), ``uncovered_modelled`` (the
        terrain model alone), ``households_covered_now`` (modelled, existing
        sites), ``sites``/``cost_vnd``/``households_gained``/
        ``villages_gained`` (the plan), ``uncovered_after``
        (``uncovered_villages - villages_gained``) and ``status`` (solver).

    Raises
    ------
    ConfigError
        On a bad scenario file (all files are read before any analysis runs).
    CoverageError
        When the dataset cannot be modelled (no DEM or no sites).
    """
    from covgap.analysis import analyse
    from covgap.data.dataset import Dataset, load_dataset
    from covgap.errors import CoverageError
    from covgap.planning.siteplan import plan_sites, villages_gained
    from covgap.progress import bar

    if not scenario_paths:
        raise ProblemInputError("give at least one scenario file")
    files = [
        read_scenario_file(p, k=k, budget_vnd=budget_vnd, method=method) for p in scenario_paths
    ]
    dataset = data if isinstance(data, Dataset) else load_dataset(data, crs=crs)
    cache: dict[Scenario, tuple[Any, Any]] = {}
    rows: list[dict[str, Any]] = []
    for spec in bar(files, desc="scenarios", unit="scenario", progress=progress):
        key = dataclasses.replace(spec.scenario, name="-")
        if key not in cache:
            analysis = analyse(dataset, scenario=spec.scenario)
            if analysis.terrain is None or analysis.reception is None:
                raise CoverageError(
                    "scenario comparison needs the terrain model (a DEM and existing sites)"
                )
            first = spec.plans[0]
            plan = plan_sites(
                analysis,
                k=first.k,
                budget_vnd=first.budget_vnd,
                method=first.method,
                time_limit=time_limit,
                signal_after=False,
            )
            cache[key] = (analysis, plan)
        analysis, plan = cache[key]
        reception = analysis.reception
        uncovered = len(analysis.gaps.uncovered)
        modelled = int((reception["modelled_status"] == "uncovered").sum())
        covered_now = float(reception["households_covered"].fillna(0.0).sum())
        for setting in spec.plans:
            result = _solve(plan, setting, time_limit)
            gained = villages_gained(plan, result.selected)
            rows.append(
                {
                    "scenario": spec.scenario.name,
                    "file": spec.path.name,
                    "frequency_mhz": spec.scenario.frequency_mhz,
                    "threshold_dbm": spec.scenario.threshold_dbm,
                    "k": setting.k,
                    "budget_vnd": setting.budget_vnd,
                    "method": result.method,
                    "uncovered_villages": uncovered,
                    "uncovered_modelled": modelled,
                    "households_covered_now": round(covered_now),
                    "sites": len(result.selected),
                    "cost_vnd": round(result.cost),
                    "households_gained": round(result.objective),
                    "villages_gained": len(gained),
                    "uncovered_after": uncovered - len(gained),
                    "status": result.status,
                }
            )
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    table["k"] = table["k"].astype("Int64")
    return table


def format_table(df: pd.DataFrame) -> str:
    """Render the comparison as a plain-text table for the terminal.

    Costs and budgets are shown in billions of VND; an empty limit as ``-``.
    """
    headers = [
        ("scenario", "scenario"),
        ("frequency_mhz", "MHz"),
        ("threshold_dbm", "dBm"),
        ("k", "k"),
        ("budget_vnd", "budget bn"),
        ("uncovered_villages", "uncovered"),
        ("uncovered_modelled", "modelled"),
        ("households_covered_now", "hh now"),
        ("sites", "sites"),
        ("cost_vnd", "cost bn"),
        ("households_gained", "hh gained"),
        ("villages_gained", "vill gained"),
        ("uncovered_after", "uncov after"),
    ]

    def cell(column: str, value: Any) -> str:
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            return "-"
        if column in ("cost_vnd", "budget_vnd"):
            return f"{float(value) / 1e9:,.2f}"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    body = [[cell(c, rec[c]) for c, _ in headers] for rec in df.to_dict(orient="records")]
    titles = [t for _, t in headers]
    widths = [max([len(t)] + [len(r[i]) for r in body]) for i, t in enumerate(titles)]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    out = [line(titles), line(["-" * w for w in widths])]
    out.extend(line(r) for r in body)
    return "\n".join(out)


def write_comparison(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the comparison table as CSV (UTF-8 with BOM, atomically)."""
    from covgap.files import write_csv

    columns = [c for c in COMPARISON_COLUMNS if c in df.columns] + [
        c for c in df.columns if c not in COMPARISON_COLUMNS
    ]
    return write_csv(path, df, columns)
