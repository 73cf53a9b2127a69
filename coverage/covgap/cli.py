"""The ``covgap`` command.

This is the only place that configures logging and prints.  Input problems
(any :class:`~covgap.errors.CoverageError`) end the command with one line
``error: <file>: <problem>`` on standard error and exit code 2; ``-v`` adds
the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covgap import __version__
from covgap.demo.paths import default_data_dir
from covgap.errors import CoverageError

__all__ = ["main"]

log = logging.getLogger("covgap.cli")

EXIT_OK = 0
EXIT_INPUT = 2


class _Console(logging.Handler):
    """Log records on standard error, each distinct message once, above any progress bar.

    tqdm's ``write`` prints above the bars instead of inside their lines.  A
    message seen before is counted, not printed again; :meth:`close_run` then
    says how often each repeated warning came.
    """

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # pragma: no cover - logging's own contract
            self.handleError(record)
            return
        self.counts[text] += 1
        if self.counts[text] == 1:
            _write_above_bars(text)

    def close_run(self) -> None:
        """Say once how many times each repeated message came."""
        for text, count in self.counts.items():
            if count > 1:
                head = text if len(text) <= 90 else text[:87] + "..."
                _write_above_bars(f"({count}x in this run) {head}")
        self.counts.clear()


def _write_above_bars(text: str) -> None:
    from tqdm import tqdm

    tqdm.write(text, file=sys.stderr)


@contextlib.contextmanager
def _logging_to_stderr(verbosity: int) -> Iterator[None]:
    """Send covgap's log records to standard error for the duration of a command.

    The previous configuration of the ``covgap`` logger is restored afterwards,
    so that calling :func:`main` in-process (tests, notebooks) leaves no trace.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if verbosity < 0:
        level = logging.ERROR
    handler = _Console(level)
    logger = logging.getLogger("covgap")
    saved_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(min(level, saved_level) if saved_level else level)
    try:
        yield
    finally:
        handler.close_run()
        logger.removeHandler(handler)
        logger.setLevel(saved_level)


def _out(args: argparse.Namespace, text: str = "") -> None:
    if args.verbosity >= 0:
        print(text)


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """Yield the executor of ``--workers``/``--scheduler`` (Dask), or ``None``."""
    workers = getattr(args, "workers", None)
    scheduler = getattr(args, "scheduler", None)
    if workers is None and scheduler is None:
        yield None
        return
    from covgap.executor import dask_executor

    with dask_executor(workers=workers, scheduler=scheduler) as executor:
        yield executor


def _cmd_run(args: argparse.Namespace) -> int:
    with _executor(args) as executor:
        return _run(args, executor)


def _run(args: argparse.Namespace, executor: Any) -> int:
    from covgap.analysis import analyse
    from covgap.publish import publish_run

    _check_joint_args(args)
    data = Path(args.data) if args.data else default_data_dir()
    analysis = analyse(
        data, scenario=args.scenario, crs=args.crs, model=not args.no_model, executor=executor
    )
    dataset = analysis.dataset
    if analysis.terrain is None and not args.no_model:
        why = "no DEM (terrain/dem.tif)" if dataset.dem_path is None else "no tower sites"
        log.warning(
            "%s: coverage model, site plan and signal layers skipped; gaps come from the survey",
            why,
        )
    plan = _plan(args, analysis) if analysis.terrain is not None and not args.no_plan else None
    joint = _joint(args, analysis, plan)
    stability = None
    if analysis.terrain is not None and not args.no_sensitivity:
        from covgap.sensitivity import sensitivity

        stability = sensitivity(analysis)
    outputs = publish_run(
        analysis,
        args.out,
        lang=args.lang,
        plan=plan,
        offline=args.offline,
        sensitivity=stability,
        joint=joint,
    )
    if args.screenshot:
        from covgap.publish.screenshot import save

        html = Path(args.out) / f"{dataset.name}.html"
        outputs.files.append(save(html, html.with_suffix(".png")))
    s = outputs.summary
    label = " (SYNTHETIC)" if dataset.synthetic else ""
    _out(args, f"dataset: {dataset.name}{label}")
    _out(args, f"villages: {s['villages']}")
    _out(args, f"uncovered: {s['uncovered']}")
    _out(args, f"unelectrified: {s['unelectrified']}")
    _out(args, f"uncovered and unelectrified: {s['uncovered_and_unelectrified']}")
    if "model" in s:
        m = s["model"]
        agree = round(m["agreement"] * m["compared"]) if m["agreement"] is not None else 0
        _out(
            args,
            f"terrain model agrees with the survey on {agree} of {m['compared']} villages"
            f" (disagreements: {', '.join(m['disagreements']) or 'none'})",
        )
        if "propagation_model" in m:
            _out(args, f"propagation model: {m['propagation_model']}")
    if plan is not None:
        _print_plan(args, plan)
    if joint is not None:
        _print_joint(args, joint)
    if stability is not None:
        uncertain = s.get("uncertain_villages", [])
        _out(args, f"villages whose modelled status is uncertain (sensitivity): {len(uncertain)}")
    if s["unmatched_rows"]:
        _out(args, f"unmatched rows: {len(s['unmatched_rows'])} (listed in summary.json)")
    for path in outputs.files:
        _out(args, f"wrote {path}")
    _print_map_size(args, Path(args.out) / f"{dataset.name}.html")
    return EXIT_OK


def _print_map_size(args: argparse.Namespace, html: Path) -> None:
    """Print the map's file size: what a planner downloads over a mobile link."""
    if html.is_file():
        _out(args, f"map: {html} ({html.stat().st_size / 1e6:.2f} MB)")


def _cmd_validate(args: argparse.Namespace) -> int:
    from covgap.data.dataset import load_dataset

    data = Path(args.data) if args.data else default_data_dir()
    dataset = load_dataset(data, crs=args.crs)
    for line in dataset.describe():
        _out(args, line)
    problems = dataset.problems
    if problems:
        _out(args, f"{len(problems)} problem(s):")
        for line in problems:
            _out(args, f"  - {line}")
    else:
        _out(args, "no problems found")
    return EXIT_OK


def _plan(args: argparse.Namespace, analysis: Any) -> Any:
    from covgap.planning.costs import load_cost_settings
    from covgap.planning.siteplan import plan_sites

    k = args.sites if args.sites is not None else (None if args.budget is not None else 10)
    return plan_sites(
        analysis,
        k=k,
        budget_vnd=args.budget,
        method=args.method,
        costs=load_cost_settings(args.costs) if args.costs else None,
        time_limit=args.time_limit,
        operator=getattr(args, "operator", None),
    )


def _print_plan(args: argparse.Namespace, plan: Any) -> None:
    o = plan.overview()
    gap = "" if o["status"] == "optimal" else f", proved gap {o['gap']:.2%}" if o["gap"] else ""
    _out(
        args,
        f"plan ({o['method']}, {o['status']}{gap}): {o['sites']} sites, "
        f"{o['households_gained']} households and {len(o['villages_gained'])} of "
        f"{o['uncovered_villages']} uncovered villages gained, "
        f"{o['cost_vnd'] / 1e9:,.2f} bn VND",
    )
    if o.get("sites_note"):
        _out(args, f"  {o['sites_note']}")
    for rec in plan.plan.itertuples():
        _out(
            args,
            f"  #{rec.rank:<2} {rec.site_id:<16} {rec.households_gained:>5} households, "
            f"{len(rec.villages_gained):>2} villages, {rec.power}/{rec.backhaul}, "
            f"{rec.cost_vnd / 1e9:,.2f} bn VND",
        )


def _cmd_sites(args: argparse.Namespace) -> int:
    with _executor(args) as executor:
        return _sites(args, executor)


def _sites(args: argparse.Namespace, executor: Any) -> int:
    from covgap.analysis import analyse
    from covgap.errors import DatasetError
    from covgap.publish.report import write_plan_lists

    _check_joint_args(args)
    data = Path(args.data) if args.data else default_data_dir()
    analysis = analyse(data, scenario=args.scenario, crs=args.crs, executor=executor)
    if analysis.terrain is None:
        raise DatasetError("site planning needs a DEM and existing sites", path=data)
    plan = _plan(args, analysis)
    joint = _joint(args, analysis, plan)
    files = write_plan_lists(analysis, plan, args.out, joint=joint)
    _print_plan(args, plan)
    if joint is not None:
        _print_joint(args, joint)
    for path in files:
        _out(args, f"wrote {path}")
    return EXIT_OK


@dataclass(frozen=True)
class Number:
    """An argparse ``type``: a finite number inside its range, checked when parsed.

    A bad value (text, NaN, infinity, out of range) ends the command with one
    ``error:`` line and exit code 2 before any work starts.

    Parameters
    ----------
    kind
        ``int`` or ``float``.
    low
        Smallest allowed value.
    low_open
        ``True`` for ``value > low`` (a radius), ``False`` for ``value >= low``.
    high
        Largest allowed value: beyond it the value cannot be meant (a 10^308 m
        radius) and would only overflow later.
    unit
        Shown in the message.
    """

    kind: type = float
    low: float = 0.0
    low_open: bool = False
    high: float = math.inf
    unit: str = ""

    @property
    def __name__(self) -> str:  # argparse names the type in some messages
        return "whole number" if self.kind is int else "number"

    def describe(self) -> str:
        """Return the allowed range in words, e.g. ``> 0 and <= 300000 m``."""
        low = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{low} and <= {self.high:g}{unit}"

    def __call__(self, text: str) -> Any:
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(
                f"expected a {self.__name__} {self.describe()}, got {text!r}"
            ) from None
        inside = value > self.low if self.low_open else value >= self.low
        if not (math.isfinite(value) and inside and value <= self.high):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text!r}")
        return value


#: The numeric options' ranges (shared by every subcommand that has them).
SITES = Number(int, 0, high=1_000_000)
BUDGET_VND = Number(float, 0, high=1e16, unit="VND")
TIME_LIMIT_S = Number(float, 0, low_open=True, high=1e6, unit="s")
RADIUS_M = Number(float, 0, low_open=True, high=300_000, unit="m")
HEIGHT_M = Number(float, 0, high=3_000, unit="m")
CURVATURE = Number(float, 0, high=1)
HOUSEHOLD_SIZE = Number(float, 0, low_open=True, high=50, unit="persons")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``error: covgap run: argument --sites: ...``."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


#: ``--workers``: at least one (the ceiling only catches typos).
WORKERS = Number(int, 1, high=100_000)


def _executor_options(parser: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--scheduler ADDRESS``: run the heavy stages on Dask."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--workers",
        type=WORKERS,
        metavar="N",
        help="run the per-site stages on a local Dask cluster of N worker processes "
        "(needs covgap[dask]; same results)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run them on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )


def _plan_options(parser: argparse.ArgumentParser, *, operator: bool = True) -> None:
    parser.add_argument("--sites", type=SITES, help="number of new sites (default 10)")
    parser.add_argument("--budget", type=BUDGET_VND, help="budget in VND (e.g. 3e10)")
    parser.add_argument(
        "--method",
        choices=["exact", "greedy"],
        default="exact",
        help="exact (HiGHS, never worse than greedy) or greedy with swaps",
    )
    parser.add_argument("--costs", help="cost settings TOML (default: the packaged costs.toml)")
    if operator:
        parser.add_argument(
            "--operator",
            help="plan for one operator's network (e.g. Viettel): villages its sites do not cover",
        )
    parser.add_argument(
        "--time-limit", type=TIME_LIMIT_S, default=60.0, help="seconds for the exact solver"
    )


def _joint_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--joint",
        action="store_true",
        help="also plan grid lines and towers together, against the sequential plan",
    )
    parser.add_argument(
        "--budget-power",
        type=BUDGET_VND,
        help="with --joint: the power utility's budget in VND (default 2.416e10, Sín Chải; "
        "without any budget: one budget, the site plan's cost + 2.416e10)",
    )
    parser.add_argument(
        "--budget-towers",
        type=BUDGET_VND,
        help="with --joint: the operators' budget in VND (default: the site plan's cost)",
    )


def _check_joint_args(args: argparse.Namespace) -> None:
    """Refuse inconsistent joint budgets before any work is done."""
    from covgap.errors import ProblemInputError

    split = args.budget_power is not None or args.budget_towers is not None
    if split and not args.joint:
        raise ProblemInputError("--budget-power and --budget-towers need --joint")
    if split and args.budget is not None:
        raise ProblemInputError("give --budget or --budget-power/--budget-towers, not both")


def _joint(args: argparse.Namespace, analysis: Any, plan: Any) -> Any:
    split = args.budget_power is not None or args.budget_towers is not None
    if not args.joint:
        return None
    if analysis.terrain is None:
        from covgap.errors import DatasetError

        raise DatasetError("the joint plan needs the terrain model (a DEM and existing sites)")
    from covgap.planning.costs import load_cost_settings
    from covgap.planning.joint import load_joint_settings, plan_joint

    return plan_joint(
        analysis,
        plan=plan,
        budget_vnd=args.budget if not split else None,
        budget_power_vnd=args.budget_power,
        budget_towers_vnd=args.budget_towers,
        costs=load_cost_settings(args.costs) if args.costs else None,
        settings=load_joint_settings(args.costs) if args.costs else None,
        time_limit=args.time_limit,
    )


def _print_joint(args: argparse.Namespace, joint: Any) -> None:
    for name, side in (("joint", joint.joint), ("sequential", joint.sequential)):
        status = side.status if side.gap is None else f"{side.status}, gap {side.gap:.2%}"
        km = float(side.lines["length_m"].sum()) / 1000.0 if len(side.lines) else 0.0
        per_bn = side.households_gained / (side.cost_vnd / 1e9) if side.cost_vnd > 0 else 0.0
        _out(
            args,
            f"{name} plan ({status}, {side.seconds:.1f} s): {len(side.lines)} lines "
            f"({km:,.1f} km), {len(side.villages)} villages electrified "
            f"({side.households_powered_gained} households), {len(side.sites)} sites "
            f"({side.households_covered_gained} households covered); "
            f"{side.cost_vnd / 1e9:,.2f} bn VND (utility {side.cost_utility_vnd / 1e9:,.2f}, "
            f"operators {side.cost_operators_vnd / 1e9:,.2f}); {per_bn:,.1f} households per bn VND",
        )
    for note in joint.not_possible:
        _out(args, f"  not possible: {note}")


def read_observers(path: Path) -> tuple[list[tuple[float, float]], list[str]]:
    """Read an observers CSV: columns ``x``, ``y`` (DEM CRS) and optional ``name``."""
    from covgap.data.readers import parse_number, read_table
    from covgap.errors import DatasetError

    table = read_table(path, required=("x", "y"), optional=("name",))
    if table.empty:
        raise DatasetError("no observers (expected columns x, y and optionally name)", path=path)
    points: list[tuple[float, float]] = []
    names: list[str] = []
    for row, record in table.iterrows():
        x = parse_number(record["x"], path=path, row=int(row), column="x", blank=None)
        y = parse_number(record["y"], path=path, row=int(row), column="y", blank=None)
        points.append((x, y))
        name = str(record.get("name") or "").strip()
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        names.append(safe or f"viewshed_{int(row):03d}")
    if len(set(names)) != len(names):
        raise DatasetError("observer names must be unique", path=path, column="name")
    return points, names


def _cmd_viewshed(args: argparse.Namespace) -> int:
    from covgap.radio.visibility import write_viewshed_tiffs

    points, names = read_observers(Path(args.observers))
    files = write_viewshed_tiffs(
        args.dem,
        points,
        args.out,
        radius_m=args.radius,
        observer_height_m=args.observer_height,
        target_height_m=args.target_height,
        curvature_coef=args.curvature_coef,
        names=names,
    )
    for path in files:
        _out(args, f"wrote {path}")
    return EXIT_OK


def _cmd_signal(args: argparse.Namespace) -> int:
    from covgap.data.dataset import load_dataset
    from covgap.data.terrain import load_terrain
    from covgap.errors import DatasetError
    from covgap.radio.scenario import as_scenario
    from covgap.radio.signal import compute_signal, write_signal_tiff

    data = Path(args.data) if args.data else default_data_dir()
    dataset = load_dataset(data, crs=args.crs)
    if dataset.dem_path is None:
        raise DatasetError("no DEM: terrain/dem.tif is needed to model the signal", path=data)
    if len(dataset.sites) == 0:
        raise DatasetError("no tower sites to model", path=data)
    scenario = as_scenario(args.scenario)
    terrain = load_terrain(dataset.dem_path, crs=dataset.crs)
    if dataset.landcover_path is not None:
        from covgap.radio.landcover import with_landcover

        terrain, _ = with_landcover(terrain, dataset.landcover_path)
    out = Path(args.out)
    if args.by is None:
        result = compute_signal(terrain, dataset.sites, scenario)
        paths = [write_signal_tiff(result, out / f"{dataset.name}_signal.tif")]
    else:
        results = compute_signal(terrain, dataset.sites, scenario, group_by=args.by)
        paths = [
            write_signal_tiff(res, out / f"{dataset.name}_signal_{_slug(key)}.tif")
            for key, res in results.items()
        ]
    for path in paths:
        _out(args, f"wrote {path}")
    return EXIT_OK


def _slug(text: str) -> str:
    return "".join(ch.lower() if ch.isalnum() else "_" for ch in text).strip("_") or "group"


def _cmd_compare(args: argparse.Namespace) -> int:
    from covgap.compare import compare_scenarios, format_table, write_comparison

    data = Path(args.data) if args.data else default_data_dir()
    table = compare_scenarios(
        data,
        args.scenarios,
        k=args.sites,
        budget_vnd=args.budget,
        method=args.method,
        time_limit=args.time_limit,
        crs=args.crs,
    )
    _out(args, format_table(table))
    path = write_comparison(table, Path(args.out) / "comparison.csv")
    _out(args, f"wrote {path}")
    return EXIT_OK


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from covgap.data.dataset import load_dataset
    from covgap.data.measurements import read_measurements
    from covgap.data.terrain import load_terrain
    from covgap.errors import DatasetError
    from covgap.radio.calibration import calibrate, write_scenario
    from covgap.radio.landcover import with_landcover
    from covgap.radio.scenario import as_scenario

    data = Path(args.data) if args.data else default_data_dir()
    dataset = load_dataset(data, crs=args.crs)
    if dataset.dem_path is None:
        raise DatasetError("no DEM: terrain/dem.tif is needed to calibrate the model", path=data)
    if len(dataset.sites) == 0:
        raise DatasetError("no tower sites to calibrate against", path=data)
    scenario = as_scenario(args.scenario)
    measurements = read_measurements(
        args.measurements, operators=sorted(set(dataset.sites["operator"].astype(str)))
    )
    terrain, _ = with_landcover(
        load_terrain(dataset.dem_path, crs=dataset.crs), dataset.landcover_path
    )
    result = calibrate(terrain, dataset.sites, scenario, measurements)
    _out(args, f"measurements: {len(result.points)} used, {len(result.bad_rows)} set aside")
    for bad in result.bad_rows:
        _out(args, f"  {bad['file']}: row {bad['row']}, column {bad['column']!r}: {bad['reason']}")
    _out(args, f"before ({scenario.name}): {result.before}  (measured - predicted)")
    slope = (
        f", slope {result.fit.slope_db:+.2f} dB/decade around {result.distance_km:g} km"
        if result.fit.slope_fitted
        else " (too few points or distances for a slope)"
    )
    _out(args, f"fit: offset {result.fit.offset_db:+.2f} dB{slope}, {result.fit.n} points")
    for op, fit in result.operators.items():
        extra = f", slope {fit.slope_db:+.2f} dB/decade" if fit.slope_fitted else ""
        _out(args, f"  {op}: offset {fit.offset_db:+.2f} dB{extra}, {fit.n} points")
    for note in result.notes:
        _out(args, f"  {note}")
    _out(args, f"after: {result.after}")
    header = [
        f"Scenario '{scenario.name}' calibrated by `covgap calibrate` against",
        f"{measurements.label} ({len(result.points)} points).",
        f"Before: {result.before}.",
        f"After: {result.after}.",
    ]
    named = result.scenario.with_overrides(name=Path(args.out).stem)
    path = write_scenario(named, args.out, header)
    _out(args, f"wrote {path}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    if getattr(args, "preset", "district") == "province":
        from covgap.demo.province import generate_province

        out = generate_province(Path(args.out))
        _out(args, f"wrote the synthetic Điện Biên province dataset to {out}")
        return EXIT_OK
    from covgap.demo import generate_demo

    out = generate_demo(Path(args.out))
    _out(args, f"wrote the synthetic Tủa Chùa demo dataset to {out}")
    return EXIT_OK


def _cmd_prepare(args: argparse.Namespace) -> int:
    from covgap.data.prepare import prepare_dataset
    from covgap.radio.scenario import as_scenario

    # the data layer does not read scenarios: the signal radius is passed in
    radius = as_scenario(args.scenario).radius_m
    report = prepare_dataset(
        args.out,
        communes=args.communes,
        osm=args.osm,
        dem=args.dem,
        cells=args.cells,
        sites=args.sites_file,
        population=args.population,
        household_size=args.household_size,
        power_status=args.power_status,
        villages=args.villages,
        landcover=args.landcover,
        radius_m=radius,
        commune_code_field=args.commune_code_field,
        commune_name_field=args.commune_name_field,
        select=args.select,
        name=args.name,
        crs=args.crs,
    )
    _out(args, f"communes: {report.communes}")
    _out(
        args,
        f"villages: {report.villages} ({report.villages_from_points} from points, "
        f"{len(report.communes_without_points)} communes without any)",
    )
    if report.households == report.households:  # not NaN
        _out(
            args,
            f"households: {report.households:,.0f} (population {report.population:,.0f} / "
            f"{report.household_size:g}, {report.household_size_source})",
        )
    _out(args, f"cells kept: {report.cells_kept}; sites listed: {report.sites_listed}")
    _out(args, f"grid lines: {report.grid_lines}; power status: {report.power_status}")
    _out(
        args,
        f"DEM: {report.dem_shape[1]} x {report.dem_shape[0]} cells "
        f"at {report.dem_resolution_m:g} m",
    )
    if report.landcover_share == report.landcover_share:  # not NaN
        _out(args, f"land cover: {report.landcover_share:.1%} of the DEM")
    if report.warnings:
        _out(args, f"{len(report.warnings)} warning(s):")
        for line in report.warnings:
            _out(args, f"  - {line}")
    _out(
        args, f"wrote the dataset {report.out_dir} ({len(report.sources)} sources in dataset.toml)"
    )
    return EXIT_OK


def _prepare_parser(sub: Any) -> None:
    prep = sub.add_parser("prepare", help="build a dataset folder from open data for any communes")
    prep.add_argument(
        "--communes", required=True, help="commune boundaries (GeoJSON, GPKG, SHP, ZIP)"
    )
    prep.add_argument("--commune-code-field", help="field holding the commune code (e.g. MA_XA)")
    prep.add_argument("--commune-name-field", help="field holding the commune name (e.g. TEN_XA)")
    prep.add_argument("--select", help="keep communes whose name matches (regex, no accents/case)")
    prep.add_argument("--osm", help="OpenStreetMap extract (.osm.pbf or .osm)")
    prep.add_argument(
        "--dem", nargs="+", required=True, help="SRTM .hgt(.zip) / GeoTIFF tiles or folders"
    )
    prep.add_argument("--cells", help="OpenCelliD export (.csv or .csv.gz)")
    prep.add_argument("--sites", dest="sites_file", help="tower sites table (sites.csv format)")
    prep.add_argument("--population", help="population raster (GeoTIFF, people per cell)")
    prep.add_argument("--household-size", type=HOUSEHOLD_SIZE, help="persons per household")
    prep.add_argument(
        "--power-status", help="village grid status from the power company (CSV/XLSX)"
    )
    prep.add_argument("--villages", help="village points or polygons with names (replaces OSM's)")
    prep.add_argument(
        "--landcover", nargs="+", help="ESA WorldCover tiles or folders: clutter and foliage loss"
    )
    prep.add_argument("--scenario", help="scenario TOML whose radius_m sets the towers' reach")
    prep.add_argument("--crs", help="metric CRS to work in (default: UTM zone of the communes)")
    prep.add_argument("--name", help="dataset slug (default: the province)")
    prep.add_argument("--out", required=True, help="dataset folder to write")
    prep.set_defaults(func=_cmd_prepare)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``covgap`` command."""
    parser = _Parser(
        prog="covgap",
        description="Mobile-coverage gap analysis: villages, grid power, towers and terrain.",
    )
    parser.add_argument("--version", action="version", version=f"covgap {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail (-vv: debug)"
    )
    verbosity.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="analyse a dataset and write the map, lists and summary")
    run.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    run.add_argument("--out", default="maps", help="output folder (default: maps/)")
    run.add_argument("--crs", help="metric analysis CRS, e.g. EPSG:32648 (default: UTM zone)")
    run.add_argument("--lang", choices=["vi", "en"], default="vi", help="map language")
    run.add_argument("--scenario", help="radio scenario TOML (default: the packaged scenario)")
    run.add_argument(
        "--no-model", action="store_true", help="skip the terrain coverage model (survey only)"
    )
    run.add_argument("--no-plan", action="store_true", help="skip the site plan")
    run.add_argument(
        "--screenshot",
        action="store_true",
        help="also save <dataset>.png of the map (needs Chromium and Playwright)",
    )
    run.add_argument(
        "--no-sensitivity",
        action="store_true",
        help="skip the sensitivity of modelled statuses (threshold, k, heights)",
    )
    run.add_argument(
        "--offline",
        action="store_true",
        help="self-contained map that makes no network request (hillshade basemap, no web tiles)",
    )
    _plan_options(run)
    _joint_options(run)
    _executor_options(run)
    run.set_defaults(func=_cmd_run)

    sites = sub.add_parser("sites", help="plan new tower sites and write the priority lists")
    sites.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    sites.add_argument("--out", default="maps", help="output folder (default: maps/)")
    sites.add_argument("--scenario", help="radio scenario TOML (default: the packaged scenario)")
    sites.add_argument("--crs", help="metric analysis CRS (default: UTM zone)")
    _plan_options(sites)
    _joint_options(sites)
    _executor_options(sites)
    sites.set_defaults(func=_cmd_sites)

    validate = sub.add_parser("validate", help="check a dataset and list every problem")
    validate.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    validate.add_argument("--crs", help="metric analysis CRS (default: UTM zone)")
    validate.set_defaults(func=_cmd_validate)

    cmp = sub.add_parser("compare", help="run scenarios side by side and tabulate them")
    cmp.add_argument("scenarios", nargs="+", help="scenario TOML files (see scenarios/)")
    cmp.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    cmp.add_argument("--crs", help="metric analysis CRS (default: UTM zone)")
    cmp.add_argument("--out", default="maps", help="folder for comparison.csv (default: maps/)")
    _plan_options(cmp, operator=False)
    cmp.set_defaults(func=_cmd_compare)

    view = sub.add_parser("viewshed", help="line-of-sight rasters of observers over a DEM")
    view.add_argument("dem", help="GeoTIFF DEM in a projected CRS (metres)")
    view.add_argument(
        "--observers", required=True, help="CSV with x, y (in the DEM's CRS) and optional name"
    )
    view.add_argument("--radius", type=RADIUS_M, required=True, help="radius, metres")
    view.add_argument("--observer-height", type=HEIGHT_M, default=30.0, help="metres above ground")
    view.add_argument("--target-height", type=HEIGHT_M, default=1.5, help="metres above ground")
    view.add_argument(
        "--curvature-coef",
        type=CURVATURE,
        default=0.75,
        help="GDAL's curvature coefficient 1/k (0.75 for k = 4/3; 0 for a flat earth)",
    )
    view.add_argument("--out", required=True, help="folder for one uint8 GeoTIFF per observer")
    view.set_defaults(func=_cmd_viewshed)

    sig = sub.add_parser("signal", help="write the best-server signal raster (GeoTIFF, dBm)")
    sig.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    sig.add_argument("--scenario", help="radio scenario TOML (default: the packaged scenario)")
    sig.add_argument("--crs", help="metric analysis CRS (default: UTM zone)")
    sig.add_argument(
        "--by", choices=["operator", "radio"], help="one raster per operator or technology"
    )
    sig.add_argument("--out", default="maps", help="output folder (default: maps/)")
    sig.set_defaults(func=_cmd_signal)

    cal = sub.add_parser(
        "calibrate", help="fit the model's offset/slope to measurements; write a scenario"
    )
    cal.add_argument("--data", help="dataset folder (default: the embedded synthetic demo)")
    cal.add_argument(
        "--measurements", required=True, help="CSV: lon, lat, rsrp_dbm[, operator, radio]"
    )
    cal.add_argument("--scenario", help="radio scenario TOML to calibrate (default: packaged)")
    cal.add_argument("--crs", help="metric analysis CRS (default: UTM zone)")
    cal.add_argument("--out", required=True, help="calibrated scenario TOML to write")
    cal.set_defaults(func=_cmd_calibrate)

    demo = sub.add_parser("demo", help="regenerate the synthetic Tủa Chùa demo dataset")
    demo.add_argument("--out", required=True, help="folder to write the dataset into")
    demo.add_argument(
        "--preset",
        choices=("district", "province"),
        default="district",
        help="district: the Tủa Chùa demo (default); province: Điện Biên, 130 communes",
    )
    demo.set_defaults(func=_cmd_demo)
    _prepare_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``covgap`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbosity = -1 if args.quiet else args.verbose
    from covgap import progress

    with _logging_to_stderr(args.verbosity), progress.enabled(args.verbosity >= 0):
        try:
            return int(args.func(args))
        except CoverageError as exc:
            if args.verbosity > 0:
                traceback.print_exc(file=sys.stderr)
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
