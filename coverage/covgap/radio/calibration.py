"""Calibration against measured signal: the model's error, and an offset/slope fit.

Procedure (``covgap calibrate``; ``docs/radio.md``)
---------------------------------------------------
1. Read the measurements (:func:`covgap.data.measurements.read_measurements`);
   bad rows are listed, never dropped silently.
2. Predict RSRP at each point with the scenario: the best server over every
   site, or over the operator's sites when the row names an operator
   (:func:`predict_points`).  Points outside the DEM, and points the model
   gives no signal (no site within the radius, nodata on the path), are
   listed as bad rows too.
3. Errors ``e = measured - predicted`` of the *uncalibrated* model, against
   ``x = log10(d / d_ref)`` with ``d`` the distance to the serving site
   (at least 0.1 km) and ``d_ref`` the geometric mean of the distances.
4. Least squares: ``e = offset + slope x`` when there are at least
   :data:`MIN_SLOPE_POINTS` points spread over at least
   :data:`MIN_SLOPE_SPREAD_DECADES` (standard deviation of ``x``); else
   ``offset = mean(e)`` and no slope (``d_ref`` = 1 km).  With operators in
   the file, each operator with at least :data:`MIN_OPERATOR_POINTS` points
   gets its own fit (same rule, same ``d_ref``); the global fit uses every
   point and applies to the other operators' sites.
5. The calibrated scenario is the input one with ``calibration_offset_db``,
   ``calibration_slope_db``, ``calibration_distance_km`` and
   ``calibration_operators`` set; the error before and after is computed by
   running the model with each scenario.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from covgap.data.measurements import Measurements
from covgap.data.terrain import Terrain
from covgap.radio.reception import sample_cells
from covgap.radio.scenario import Scenario
from covgap.radio.sectors import MIN_CALIBRATION_KM

__all__ = [
    "MIN_OPERATOR_POINTS",
    "MIN_SLOPE_POINTS",
    "MIN_SLOPE_SPREAD_DECADES",
    "Calibration",
    "ErrorStats",
    "Fit",
    "calibrate",
    "error_stats",
    "measurement_error",
    "predict_points",
    "scenario_toml",
    "synthetic_measurements",
    "write_scenario",
]

log = logging.getLogger(__name__)

#: Fewest points for fitting a slope against log-distance as well as an offset.
MIN_SLOPE_POINTS = 30
#: Least spread of log10 distance (standard deviation, decades) for fitting a slope.
MIN_SLOPE_SPREAD_DECADES = 0.15
#: Fewest points for an operator's own offset (else the global fit applies).
MIN_OPERATOR_POINTS = 10


@dataclass(frozen=True)
class ErrorStats:
    """Error of predictions against measurements (``measured - predicted``), dB."""

    n: int
    mean_error_db: float
    rmse_db: float

    def to_summary(self) -> dict[str, Any]:
        """Return a JSON-ready dict (rounded to 0.01 dB)."""
        return {
            "n": self.n,
            "mean_error_db": round(self.mean_error_db, 2),
            "rmse_db": round(self.rmse_db, 2),
        }

    def __str__(self) -> str:
        return f"n {self.n}, mean error {self.mean_error_db:+.2f} dB, RMSE {self.rmse_db:.2f} dB"


def error_stats(measured: np.ndarray, predicted: np.ndarray) -> ErrorStats:
    """Mean error and RMSE of ``measured - predicted`` over finite pairs."""
    e = np.asarray(measured, float) - np.asarray(predicted, float)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return ErrorStats(0, math.nan, math.nan)
    return ErrorStats(int(e.size), float(e.mean()), float(np.sqrt(np.mean(e**2))))


@dataclass(frozen=True)
class Fit:
    """One least-squares fit: ``e = offset + slope log10(d / d_ref)``."""

    n: int
    offset_db: float
    slope_db: float
    slope_fitted: bool


@dataclass
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    scenario
        The calibrated scenario.
    before, after
        Error of the input and of the calibrated scenario on the used points.
    fit
        The global fit.
    operators
        Each operator's own fit.
    distance_km
        Reference distance of the slopes.
    points
        The used points with ``predicted_dbm`` (input scenario),
        ``calibrated_dbm``, ``distance_km`` and ``site_id``.
    bad_rows
        Every row set aside, with file, row, column and reason.
    notes
        Operators left to the global fit, and similar remarks.
    """

    scenario: Scenario
    before: ErrorStats
    after: ErrorStats
    fit: Fit
    operators: dict[str, Fit]
    distance_km: float
    points: pd.DataFrame
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cells(terrain: Terrain, points: pd.DataFrame) -> tuple[np.ndarray, ...]:
    to_grid = Transformer.from_crs(CRS.from_epsg(4326), terrain.crs, always_xy=True)
    x, y = to_grid.transform(points["lon"].to_numpy(float), points["lat"].to_numpy(float))
    x, y = np.asarray(x, float), np.asarray(y, float)
    rows, cols, inside = sample_cells(x, y, terrain.transform, terrain.shape)
    if inside.any():
        inside[inside] &= np.isfinite(terrain.elevation[rows[inside], cols[inside]])
    return x, y, rows, cols, inside


def predict_points(
    terrain: Terrain, sites: Any, scenario: Scenario, points: pd.DataFrame
) -> pd.DataFrame:
    """Predicted RSRP at measurement points (best server, or the operator's).

    Parameters
    ----------
    terrain
        DEM (with its optional land cover).
    sites
        Sites (``Dataset.sites`` contract), in ``terrain.crs``.
    scenario
        Radio settings (their calibration terms included).
    points
        ``lon``, ``lat`` and ``operator`` (``""``: any operator).

    Returns
    -------
    pandas.DataFrame
        Same index: ``inside`` (on the DEM's known cells), ``predicted_dbm``
        (NaN where no site reaches or outside), ``site_id`` and
        ``distance_km`` to the serving site.
    """
    from covgap.radio.signal import compute_signal

    x, y, rows, cols, inside = _cells(terrain, points)
    n = len(points)
    predicted = np.full(n, np.nan)
    site_ids = np.full(n, "", dtype=object)
    distance = np.full(n, np.nan)
    if len(sites) and inside.any():
        results = compute_signal(terrain, sites, scenario, group_by="operator")
        xy = {
            str(s): (float(g.x), float(g.y))
            for s, g in zip(sites["site_id"], sites.geometry, strict=True)
        }
        wanted = points["operator"].astype(str).to_numpy()
        for i in np.flatnonzero(inside):
            r, c = int(rows[i]), int(cols[i])
            groups = [wanted[i]] if wanted[i] else sorted(results)
            best, best_site = -math.inf, ""
            for key in groups:
                if key not in results:
                    continue
                value = float(results[key].rsrp[r, c])
                if np.isfinite(value) and value > best:
                    best = value
                    best_site = results[key].site_ids[int(results[key].best_site[r, c])]
            if best_site:
                predicted[i] = best
                site_ids[i] = best_site
                sx, sy = xy[best_site]
                distance[i] = math.hypot(x[i] - sx, y[i] - sy) / 1000.0
    return pd.DataFrame(
        {
            "inside": inside,
            "predicted_dbm": predicted,
            "site_id": site_ids,
            "distance_km": distance,
        },
        index=points.index,
    )


def _fit(e: np.ndarray, x: np.ndarray) -> Fit:
    n = int(e.size)
    if n >= MIN_SLOPE_POINTS and float(np.std(x)) >= MIN_SLOPE_SPREAD_DECADES:
        design = np.column_stack([np.ones(n), x])
        (offset, slope), *_ = np.linalg.lstsq(design, e, rcond=None)
        return Fit(n, float(offset), float(slope), True)
    return Fit(n, float(np.mean(e)), 0.0, False)


def _usable(
    measurements: Measurements, prediction: pd.DataFrame, label: str
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Mask of points with a prediction; bad rows for the others."""
    bad = []
    rows = measurements.points["row"].to_numpy()
    for i in range(len(prediction)):
        if not bool(prediction["inside"].iat[i]):
            reason = "the point lies outside the DEM (or on its nodata)"
        elif not np.isfinite(prediction["predicted_dbm"].iat[i]):
            op = measurements.points["operator"].iat[i]
            reason = (
                f"the model gives no signal here (no {op + ' ' if op else ''}site within the "
                "radius, or nodata terrain on the path); not used"
            )
        else:
            continue
        bad.append({"file": label, "row": int(rows[i]), "column": "lon", "reason": reason})
    ok = prediction["inside"].to_numpy(bool) & np.isfinite(
        prediction["predicted_dbm"].to_numpy(float)
    )
    return ok, bad


def _uncalibrated(scenario: Scenario) -> Scenario:
    return scenario.with_overrides(
        calibration_offset_db=0.0,
        calibration_slope_db=0.0,
        calibration_distance_km=1.0,
        calibration_operators=(),
    )


def calibrate(
    terrain: Terrain, sites: Any, scenario: Scenario, measurements: Measurements
) -> Calibration:
    """Fit the scenario's calibration to measurements (procedure in the module docstring).

    Parameters
    ----------
    terrain
        DEM (with its optional land cover).
    sites
        Existing sites in ``terrain.crs``.
    scenario
        The scenario to calibrate (any calibration it has is replaced).
    measurements
        From :func:`covgap.data.measurements.read_measurements`.

    Returns
    -------
    Calibration

    Raises
    ------
    DatasetError
        When no measurement has a prediction (all outside the DEM or unreached).
    """
    from covgap.errors import DatasetError

    label = measurements.label
    points = measurements.points
    raw_scenario = _uncalibrated(scenario)
    raw = predict_points(terrain, sites, raw_scenario, points)
    ok, bad = _usable(measurements, raw, label)
    if not ok.any():
        raise DatasetError(
            "no measurement point has a modelled signal (all outside the DEM or beyond every "
            "site's radius): check the file's coordinates",
            path=measurements.path,
        )
    used = points[ok].reset_index(drop=True)
    e = used["rsrp_dbm"].to_numpy(float) - raw["predicted_dbm"].to_numpy(float)[ok]
    d_km = np.maximum(raw["distance_km"].to_numpy(float)[ok], MIN_CALIBRATION_KM)
    logd = np.log10(d_km)
    centre = float(np.mean(logd))
    probe = _fit(e, logd - centre)
    d_ref = round(10.0**centre, 2) if probe.slope_fitted else 1.0
    x = logd - math.log10(d_ref)
    fit = _fit(e, x)
    operators: dict[str, Fit] = {}
    notes: list[str] = []
    ops = used["operator"].astype(str).to_numpy()
    for op in sorted(set(ops) - {""}):
        mask = ops == op
        if mask.sum() >= MIN_OPERATOR_POINTS:
            operators[op] = _fit(e[mask], x[mask])
        else:
            notes.append(
                f"operator {op}: {int(mask.sum())} points (< {MIN_OPERATOR_POINTS}); "
                "the global fit applies to its sites"
            )
    calibrated = scenario.with_overrides(
        calibration_offset_db=round(fit.offset_db, 2),
        calibration_slope_db=round(fit.slope_db, 2),
        calibration_distance_km=d_ref,
        calibration_operators=tuple(
            (op, round(f.offset_db, 2), round(f.slope_db, 2)) for op, f in operators.items()
        ),
    )
    before_pred = (
        raw if not scenario.calibrated else predict_points(terrain, sites, scenario, points)
    )
    after_pred = predict_points(terrain, sites, calibrated, points)
    measured = used["rsrp_dbm"].to_numpy(float)
    before_dbm = before_pred["predicted_dbm"].to_numpy(float)[ok]
    after_dbm = after_pred["predicted_dbm"].to_numpy(float)[ok]
    table = used.assign(
        predicted_dbm=before_dbm,
        calibrated_dbm=after_dbm,
        distance_km=raw["distance_km"].to_numpy(float)[ok],
        site_id=raw["site_id"].to_numpy(object)[ok],
    )
    result = Calibration(
        scenario=calibrated,
        before=error_stats(measured, before_dbm),
        after=error_stats(measured, after_dbm),
        fit=fit,
        operators=operators,
        distance_km=d_ref,
        points=table,
        bad_rows=list(measurements.bad_rows) + bad,
        notes=notes,
    )
    log.info("calibration: before %s; after %s", result.before, result.after)
    return result


def measurement_error(
    terrain: Terrain, sites: Any, scenario: Scenario, measurements: Measurements
) -> dict[str, Any]:
    """Return the scenario's error against measurements, for ``summary.json["model"]``.

    Returns
    -------
    dict
        ``n``, ``mean_error_db`` and ``rmse_db`` (``measured - predicted``),
        ``file`` and ``bad_rows`` (every row not used, with its reason).
    """
    label = measurements.label
    prediction = predict_points(terrain, sites, scenario, measurements.points)
    ok, bad = _usable(measurements, prediction, label)
    stats = error_stats(
        measurements.points["rsrp_dbm"].to_numpy(float)[ok],
        prediction["predicted_dbm"].to_numpy(float)[ok],
    )
    out: dict[str, Any] = {"file": label}
    out.update(stats.to_summary())
    out["bad_rows"] = list(measurements.bad_rows) + bad
    return out


def synthetic_measurements(
    terrain: Terrain,
    sites: Any,
    scenario: Scenario,
    n: int,
    *,
    offset_db: float = 8.0,
    sigma_db: float = 6.0,
    seed: int = 0,
    with_operator: bool = True,
) -> pd.DataFrame:
    """Measurements made from the model: its prediction + ``offset_db`` + Gaussian noise.

    For tests and demonstrations of :func:`calibrate` (the fitted offset
    should come out near ``offset_db``).  Points are drawn at random DEM
    cells where the model predicts between -125 and -55 dBm (so that the noise
    rarely leaves the plausible -150..-20 dBm range), each with a random
    operator among those with a prediction there (or none).

    Parameters
    ----------
    terrain, sites, scenario
        The model.
    n
        Number of points.
    offset_db, sigma_db
        True offset and noise standard deviation, dB.
    seed
        Random seed (the same seed gives the same points).
    with_operator
        Give each point its serving operator (else the ``operator`` column is blank).

    Returns
    -------
    pandas.DataFrame
        ``lon``, ``lat``, ``rsrp_dbm`` (rounded to 0.1 dB), ``operator``.
    """
    from covgap.radio.signal import compute_signal

    rng = np.random.default_rng(seed)
    results = compute_signal(terrain, sites, _uncalibrated(scenario), group_by="operator")
    keys = sorted(results)
    stack = np.stack([results[k].rsrp for k in keys])
    valid = (stack >= -125.0) & (stack <= -55.0)
    if with_operator:
        candidates = np.argwhere(valid)  # (op, row, col)
    else:
        best = np.nanmax(np.where(np.isnan(stack), -np.inf, stack), axis=0)
        rows, cols = np.nonzero((best >= -125.0) & (best <= -55.0))
        candidates = np.column_stack([np.full(rows.size, -1), rows, cols])
    if len(candidates) == 0:
        from covgap.errors import ProblemInputError

        raise ProblemInputError("the model predicts no signal between -125 and -55 dBm anywhere")
    pick = candidates[rng.choice(len(candidates), size=n, replace=len(candidates) < n)]
    t = terrain.transform
    x = t.c + (pick[:, 2] + 0.5) * t.a
    y = t.f + (pick[:, 1] + 0.5) * t.e
    if with_operator:
        value = stack[pick[:, 0], pick[:, 1], pick[:, 2]]
        operator = [keys[k] for k in pick[:, 0]]
    else:
        filled = np.where(np.isnan(stack), -np.inf, stack)
        value = filled.max(axis=0)[pick[:, 1], pick[:, 2]]
        operator = [""] * n
    rsrp = value + offset_db + rng.normal(0.0, sigma_db, size=n)
    to_ll = Transformer.from_crs(terrain.crs, CRS.from_epsg(4326), always_xy=True)
    lon, lat = to_ll.transform(x, y)
    return pd.DataFrame(
        {
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "rsrp_dbm": np.round(rsrp, 1),
            "operator": operator,
        }
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    from covgap.errors import ProblemInputError

    raise ProblemInputError(f"cannot write {value!r} to a scenario TOML file")


def scenario_toml(scenario: Scenario, header: list[str] | None = None) -> str:
    """Render a scenario as a TOML file that :func:`covgap.radio.scenario.load_scenario` reads back.

    Parameters
    ----------
    scenario
        Any scenario.
    header
        Comment lines written first (without ``#``).
    """
    lines = [f"# {line}" if line else "#" for line in header or []]
    if lines:
        lines.append("")
    for f in dataclasses.fields(scenario):
        value = getattr(scenario, f.name)
        if f.name in ("clutter_loss_db", "foliage_db_per_m"):
            inner = ", ".join(f"{code} = {_toml_value(float(v))}" for code, v in value)
            text = f"{{ {inner} }}" if inner else "{}"
        elif f.name == "calibration_operators":
            inner = ", ".join(
                f"{json.dumps(op, ensure_ascii=False)} = {{ offset_db = {_toml_value(float(o))}, "
                f"slope_db = {_toml_value(float(s))} }}"
                for op, o, s in value
            )
            text = f"{{ {inner} }}" if inner else "{}"
        else:
            text = _toml_value(value)
        lines.append(f"{f.name} = {text}")
    return "\n".join(lines) + "\n"


def write_scenario(scenario: Scenario, path: str | Path, header: list[str] | None = None) -> Path:
    """Write :func:`scenario_toml` atomically to ``path``."""
    from covgap.files import atomic_write_text

    return atomic_write_text(Path(path), scenario_toml(scenario, header))
