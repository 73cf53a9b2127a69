"""Point-to-point terrain links: line of sight, path loss and received power.

The raster engine (:mod:`covgap.radio.signal`) sweeps every cell around a site; the
planning stage needs the opposite: a few thousand *pairs* (candidate site to
settlement, candidate to existing tower).  This module walks the straight
line of each pair over the DEM.

Rule
----
* The terrain profile of a pair is sampled at ``n + 1`` evenly spaced points,
  ``n = ceil(d / step_m)`` (``step_m`` defaults to half a cell), with the
  bilinear surface through the cell centres.  Within the raster's outer half
  cell the nearest edge value is used; off the raster the terrain is unknown.
* Heights follow GDAL's convention (the one :mod:`covgap.radio._raycast` uses):
  antenna heights are above the ground *at the end points*, and a point at
  distance ``d`` from the transmitter is lowered by
  :func:`covgap.radio.pathloss.earth_bulge_m` ``cc d² / 12 740 000`` with
  ``cc = scenario.curvature_coef``.  The result is symmetric: swapping the
  ends changes the corrected heights by a linear function of distance only,
  which leaves every "above the sight line" test unchanged.
* **Line of sight**: no interior profile point rises strictly above the
  straight line joining the two antennas (geometric).  For microwave
  backhaul, :func:`line_of_sight` with ``frequency_ghz`` also asks for a
  share of the first Fresnel zone to be clear (ITU-R P.530).
* **Path loss** = :func:`covgap.radio.pathloss.median_loss_db` (distance, the
  transmitter's antenna height above ground as Hata's base height, the
  receiver height) + the diffraction of ``scenario.diffraction``
  (:func:`~covgap.radio.pathloss.dominant_edge_loss_db` or
  :func:`~covgap.radio.pathloss.deygout_loss_db` over the profile).
* **Received power** = EIRP - loss + ``scenario.receiver_gain_dbi``.
* **Unknown**: a pair whose profile touches nodata (NaN) is unknown: loss and
  power NaN, ``los`` false, ``unknown`` true.  Nodata is never sea level.
* **Out of range**: a pair longer than ``scenario.radius_m`` (or
  ``max_distance_m``) is not computed: NaN power, ``los`` false, ``unknown``
  false.

The compiled kernel runs the pairs in parallel (``prange`` over chunks of
pairs, one pair of profile buffers per chunk).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
from numba import njit, prange
from pyproj import CRS

from covgap.errors import GeometryError, ParameterError
from covgap.radio import pathloss
from covgap.radio.scenario import Scenario, site_parameters

__all__ = [
    "STATE_BLOCKED",
    "STATE_OUT_OF_RANGE",
    "STATE_UNKNOWN",
    "STATE_VISIBLE",
    "CoverageBatch",
    "LinkResult",
    "coverage_columns",
    "coverage_matrix",
    "coverage_tile",
    "existing_coverage",
    "line_of_sight",
    "link_budget",
    "sample_elevation",
]

logger = logging.getLogger(__name__)

#: Pair state codes of the kernel.
STATE_BLOCKED = 0
STATE_VISIBLE = 1
STATE_UNKNOWN = 2
STATE_OUT_OF_RANGE = 3

# Pairs per parallel chunk (each chunk allocates its own profile buffers).
_PAIRS_PER_CHUNK = 256


# --------------------------------------------------------------------------- kernel


@njit(cache=True, inline="always", error_model="numpy")
def _bilinear(
    z: np.ndarray,
    inv: np.ndarray,
    x: float,
    y: float,
) -> float:
    """Bilinear elevation through the cell centres at ``(x, y)``; NaN off the raster."""
    rows, cols = z.shape
    u = inv[0] * x + inv[1] * y + inv[2]  # fractional column, cell edges at integers
    v = inv[3] * x + inv[4] * y + inv[5]
    if not (u >= 0.0 and u <= cols and v >= 0.0 and v <= rows):
        return math.nan
    u = min(max(u - 0.5, 0.0), cols - 1.0)
    v = min(max(v - 0.5, 0.0), rows - 1.0)
    if cols > 1:
        c0 = min(int(u), cols - 2)
        fu = u - c0
    else:
        c0 = 0
        fu = 0.0
    if rows > 1:
        r0 = min(int(v), rows - 2)
        fv = v - r0
    else:
        r0 = 0
        fv = 0.0
    total = 0.0
    for dr in range(2):
        wv = fv if dr == 1 else 1.0 - fv
        if wv == 0.0:
            continue
        for dc in range(2):
            wu = fu if dc == 1 else 1.0 - fu
            if wu == 0.0:
                continue
            value = np.float64(z[r0 + dr, c0 + dc])
            if math.isnan(value):
                return math.nan
            total += wv * wu * value
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _sample_many(z: np.ndarray, inv: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    out = np.empty(xs.shape[0], dtype=np.float64)
    for i in range(xs.shape[0]):
        out[i] = _bilinear(z, inv, xs[i], ys[i])
    return out


@njit(cache=True, error_model="numpy")
def _one_link(
    z: np.ndarray,
    inv: np.ndarray,
    x0: float,
    y0: float,
    h0: float,
    x1: float,
    y1: float,
    h1: float,
    step: float,
    cc: float,
    dist: np.ndarray,
    elev: np.ndarray,
    clearance: float,
    clear_wavelength: float,
) -> tuple[int, int, float]:
    """Sample one profile into the buffers; return (state, n_points, length).

    ``clearance > 0`` asks for that share of the first Fresnel zone's radius
    ``sqrt(clear_wavelength d1 d2 / d)`` to be clear below the sight line.
    """
    dx = x1 - x0
    dy = y1 - y0
    d = math.sqrt(dx * dx + dy * dy)
    n_steps = max(1, math.ceil(d / step))
    n = n_steps + 1
    for i in range(n):
        t = i / n_steps
        value = _bilinear(z, inv, x0 + t * dx, y0 + t * dy)
        if math.isnan(value):
            return STATE_UNKNOWN, n, d
        elev[i] = value
        dist[i] = t * d
    if d <= 0.0 or n < 3:
        return STATE_VISIBLE, n, d
    a = elev[0] + h0
    b = elev[n - 1] - pathloss.earth_bulge_m(d, cc) + h1
    for i in range(1, n - 1):
        line = a + (b - a) * dist[i] / d
        if clearance > 0.0:
            line -= clearance * math.sqrt(clear_wavelength * dist[i] * (d - dist[i]) / d)
        if elev[i] - pathloss.earth_bulge_m(dist[i], cc) > line:
            return STATE_BLOCKED, n, d
    return STATE_VISIBLE, n, d


@njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _links(
    z: np.ndarray,
    inv: np.ndarray,
    tx_x: np.ndarray,
    tx_y: np.ndarray,
    tx_h: np.ndarray,
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    rx_h: np.ndarray,
    step: float,
    max_distance: float,
    cc: float,
    frequency_mhz: float,
    wavelength: float,
    model: int,
    environment: int,
    diffraction: int,
    want_loss: bool,
    n_buffer: int,
    state: np.ndarray,
    loss: np.ndarray,
    clearance: float,
    clear_wavelength: float,
) -> None:
    """Fill ``state`` (uint8) and ``loss`` (float64, dB) for every (tx, rx) pair."""
    n_tx = tx_x.shape[0]
    n_rx = rx_x.shape[0]
    total = n_tx * n_rx
    n_chunks = (total + _PAIRS_PER_CHUNK - 1) // _PAIRS_PER_CHUNK
    for chunk in prange(n_chunks):
        dist = np.empty(n_buffer, dtype=np.float64)
        elev = np.empty(n_buffer, dtype=np.float64)
        start = chunk * _PAIRS_PER_CHUNK
        stop = min(total, start + _PAIRS_PER_CHUNK)
        for k in range(start, stop):
            i = k // n_rx
            j = k - i * n_rx
            ddx = rx_x[j] - tx_x[i]
            ddy = rx_y[j] - tx_y[i]
            if ddx * ddx + ddy * ddy > max_distance * max_distance:
                state[i, j] = STATE_OUT_OF_RANGE
                loss[i, j] = math.nan
                continue
            s, n, d = _one_link(
                z,
                inv,
                tx_x[i],
                tx_y[i],
                tx_h[i],
                rx_x[j],
                rx_y[j],
                rx_h[j],
                step,
                cc,
                dist,
                elev,
                clearance,
                clear_wavelength,
            )
            state[i, j] = s
            if s == STATE_UNKNOWN or not want_loss:
                loss[i, j] = math.nan
                continue
            value = pathloss.median_loss_db(d, frequency_mhz, tx_h[i], rx_h[j], model, environment)
            if diffraction == 1:
                value += pathloss.dominant_edge_loss_db(
                    dist[:n], elev[:n], tx_h[i], rx_h[j], wavelength, cc
                )
            elif diffraction == 2:
                value += pathloss.deygout_loss_db(
                    dist[:n], elev[:n], tx_h[i], rx_h[j], wavelength, cc
                )
            loss[i, j] = value


# --------------------------------------------------------------------------- helpers


def _grid(terrain: Any) -> tuple[np.ndarray, np.ndarray, float, CRS | None]:
    """Elevation array, inverse transform coefficients, cell size and CRS of a terrain.

    ``terrain`` is a :class:`covgap.data.terrain.Terrain` (or anything with
    ``elevation`` and ``transform`` attributes, and optionally ``crs``) or a
    tuple ``(elevation, transform)``.
    """
    if isinstance(terrain, tuple):
        elevation, transform = terrain[0], terrain[1]
        crs = None
    else:
        elevation = terrain.elevation
        transform = terrain.transform
        crs = getattr(terrain, "crs", None)
    z = np.asarray(elevation)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ParameterError(f"terrain elevation must be a non-empty 2-D array, got {z.shape}")
    if not np.issubdtype(z.dtype, np.floating):
        z = z.astype(np.float32)
    z = np.ascontiguousarray(z)
    inverse = ~transform
    inv = np.array(
        [inverse.a, inverse.b, inverse.c, inverse.d, inverse.e, inverse.f], dtype=np.float64
    )
    cell = min(math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e))
    return z, inv, float(cell), (CRS.from_user_input(crs) if crs is not None else None)


def _xy(points: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 2:
        arr = arr.reshape(1, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ParameterError(f"{name}: expected an (n, 2) array of x, y, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name}: coordinates must be finite")
    return np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])


def _heights(values: Any, n: int, name: str, default: float | None) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ParameterError(f"{name}: expected a scalar or {n} values, got shape {arr.shape}")
    if default is not None:
        arr = np.where(np.isnan(arr), default, arr)
    if np.isnan(arr).any() or (arr < 0).any() or np.isinf(arr).any():
        raise ParameterError(f"{name}: heights must be finite and >= 0")
    return np.ascontiguousarray(arr)


def _buffer_size(
    tx_x: np.ndarray,
    tx_y: np.ndarray,
    rx_x: np.ndarray,
    rx_y: np.ndarray,
    max_distance: float,
    step: float,
) -> int:
    """Profile buffer length: enough points for the longest pair that is computed."""
    if tx_x.size == 0 or rx_x.size == 0:
        return 2
    xs = np.concatenate([tx_x, rx_x])
    ys = np.concatenate([tx_y, rx_y])
    span = math.hypot(float(xs.max() - xs.min()), float(ys.max() - ys.min()))
    longest = min(span, max_distance)
    return math.ceil(longest / step) + 2


def _run(
    terrain: Any,
    tx: tuple[np.ndarray, np.ndarray, np.ndarray],
    rx: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    max_distance: float,
    curvature_coef: float,
    step_m: float | None,
    scenario: Scenario | None,
    clearance: float = 0.0,
    clear_wavelength: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, inv, cell, _ = _grid(terrain)
    step = 0.5 * cell if step_m is None else float(step_m)
    if not step > 0.0:
        raise ParameterError(f"step_m must be > 0, got {step_m!r}")
    if not max_distance > 0.0:
        raise ParameterError(f"max distance must be > 0, got {max_distance!r}")
    n_tx, n_rx = tx[0].size, rx[0].size
    state = np.empty((n_tx, n_rx), dtype=np.uint8)
    loss = np.empty((n_tx, n_rx), dtype=np.float64)
    n_buffer = _buffer_size(tx[0], tx[1], rx[0], rx[1], max_distance, step)
    if n_tx and n_rx:
        want = scenario is not None
        _links(
            z,
            inv,
            tx[0],
            tx[1],
            tx[2],
            rx[0],
            rx[1],
            rx[2],
            step,
            float(max_distance),
            float(curvature_coef),
            scenario.frequency_mhz if want else 900.0,
            scenario.wavelength_m if want else 1.0,
            scenario.model_code if want else 0,
            scenario.environment_code if want else 0,
            scenario.diffraction_code if want else 0,
            want,
            n_buffer,
            state,
            loss,
            float(clearance),
            float(clear_wavelength),
        )
    dx = rx[0][None, :] - tx[0][:, None]
    dy = rx[1][None, :] - tx[1][:, None]
    return state, loss, np.hypot(dx, dy)


# --------------------------------------------------------------------------- public


@dataclass(frozen=True)
class LinkResult:
    """Link budget of every (transmitter, receiver) pair.

    Attributes
    ----------
    rsrp_dbm
        float32 ``(n_tx, n_rx)``: received power, dBm; NaN where unknown or
        out of range.
    loss_db
        float32 ``(n_tx, n_rx)``: total path loss (median + diffraction), dB;
        NaN where unknown or out of range.
    los
        bool ``(n_tx, n_rx)``: geometric line of sight (false where unknown
        or out of range).
    unknown
        bool ``(n_tx, n_rx)``: the profile crosses nodata or leaves the DEM.
    distance_m
        float32 ``(n_tx, n_rx)``: horizontal distance, m.
    """

    rsrp_dbm: np.ndarray
    loss_db: np.ndarray
    los: np.ndarray
    unknown: np.ndarray
    distance_m: np.ndarray

    @property
    def in_range(self) -> np.ndarray:
        """Bool ``(n_tx, n_rx)``: pairs within the computed radius."""
        return np.isfinite(self.rsrp_dbm) | self.unknown


def link_budget(
    terrain: Any,
    tx_xy: Any,
    tx_height_m: Any,
    rx_xy: Any,
    rx_height_m: Any,
    scenario: Scenario,
    eirp_dbm: Any = None,
    *,
    step_m: float | None = None,
) -> LinkResult:
    """Line of sight, path loss and received power for every (tx, rx) pair.

    The rule is in the module docstring.

    Parameters
    ----------
    terrain
        :class:`covgap.data.terrain.Terrain` (``elevation`` float 2-D with NaN
        nodata, ``transform``) or a tuple ``(elevation, transform)``;
        coordinates are in its metric CRS.
    tx_xy, rx_xy
        ``(n, 2)`` arrays of x, y, metres.
    tx_height_m, rx_height_m
        Antenna heights above ground, m: scalar or one per point; NaN takes
        ``scenario.mast_height_m`` (tx) or ``scenario.receiver_height_m`` (rx).
    scenario
        Frequency, model, environment, diffraction, curvature, radius and
        receiver gain.
    eirp_dbm
        Transmitter EIRP, dBm: scalar or one per transmitter; default
        ``scenario.eirp_dbm``.
    step_m
        Profile sampling step, m (default half a cell).

    Returns
    -------
    LinkResult

    Raises
    ------
    ValueError
        On malformed coordinates or heights.
    """
    tx_x, tx_y = _xy(tx_xy, "tx_xy")
    rx_x, rx_y = _xy(rx_xy, "rx_xy")
    tx_h = _heights(tx_height_m, tx_x.size, "tx_height_m", scenario.mast_height_m)
    rx_h = _heights(rx_height_m, rx_x.size, "rx_height_m", scenario.receiver_height_m)
    eirp = np.asarray(scenario.eirp_dbm if eirp_dbm is None else eirp_dbm, dtype=np.float64)
    eirp = np.broadcast_to(eirp, (tx_x.size,)) if eirp.ndim == 0 else eirp
    if eirp.shape != (tx_x.size,):
        raise ParameterError(f"eirp_dbm: expected a scalar or {tx_x.size} values, got {eirp.shape}")
    state, loss, distance = _run(
        terrain,
        (tx_x, tx_y, tx_h),
        (rx_x, rx_y, rx_h),
        max_distance=scenario.radius_m,
        curvature_coef=scenario.curvature_coef,
        step_m=step_m,
        scenario=scenario,
    )
    rsrp = eirp[:, None] - loss + scenario.receiver_gain_dbi
    return LinkResult(
        rsrp_dbm=rsrp.astype(np.float32),
        loss_db=loss.astype(np.float32),
        los=state == STATE_VISIBLE,
        unknown=state == STATE_UNKNOWN,
        distance_m=distance.astype(np.float32),
    )


def line_of_sight(
    terrain: Any,
    a_xy: Any,
    a_h: Any,
    b_xy: Any,
    b_h: Any,
    curvature_coef: float,
    max_distance_m: float | None = None,
    *,
    step_m: float | None = None,
    frequency_ghz: float | None = None,
    fresnel_clearance: float = 0.6,
) -> np.ndarray:
    """Line of sight between every point of ``a`` and every point of ``b``.

    Used for microwave backhaul (a candidate to existing towers).  Unknown
    terrain on the path or a pair beyond ``max_distance_m`` gives ``False``.
    Without ``frequency_ghz`` the test is geometric (no profile point above
    the straight line); with it, every profile point must also stay at least
    ``fresnel_clearance`` times the first Fresnel zone's radius
    ``sqrt(lambda d1 d2 / d)`` below the line (ITU-R P.530's clearance rule).

    Parameters
    ----------
    terrain
        As for :func:`link_budget`.
    a_xy, b_xy
        ``(n, 2)`` arrays of x, y, metres.
    a_h, b_h
        Antenna heights above ground, m (scalar or one per point, finite).
    curvature_coef
        GDAL's ``cc`` (``Scenario.curvature_coef``; 0 for a flat earth).
    max_distance_m
        Longest pair considered, m (default: no limit).
    step_m
        Profile sampling step, m (default half a cell).
    frequency_ghz
        Link frequency, GHz, for the Fresnel clearance (``None``: bare line of sight).
    fresnel_clearance
        Share of the first Fresnel zone's radius to keep clear (0.6).

    Returns
    -------
    numpy.ndarray
        bool ``(n_a, n_b)``.
    """
    a_x, a_y = _xy(a_xy, "a_xy")
    b_x, b_y = _xy(b_xy, "b_xy")
    ha = _heights(a_h, a_x.size, "a_h", None)
    hb = _heights(b_h, b_x.size, "b_h", None)
    state, _, _ = _run(
        terrain,
        (a_x, a_y, ha),
        (b_x, b_y, hb),
        max_distance=math.inf if max_distance_m is None else float(max_distance_m),
        curvature_coef=curvature_coef,
        step_m=step_m,
        scenario=None,
        clearance=0.0 if frequency_ghz is None else float(fresnel_clearance),
        clear_wavelength=(
            0.0 if frequency_ghz is None else pathloss.wavelength_m(float(frequency_ghz) * 1000.0)
        ),
    )
    return state == STATE_VISIBLE


def sample_elevation(terrain: Any, x: Any, y: Any) -> np.ndarray:
    """Bilinear ground elevation at points (NaN off the DEM or next to nodata).

    Parameters
    ----------
    terrain
        As for :func:`link_budget`.
    x, y
        Coordinates in the terrain's CRS, m.

    Returns
    -------
    numpy.ndarray
        float64 elevations, m.
    """
    z, inv, _, _ = _grid(terrain)
    xs = np.ascontiguousarray(np.atleast_1d(np.asarray(x, dtype=np.float64)))
    ys = np.ascontiguousarray(np.atleast_1d(np.asarray(y, dtype=np.float64)))
    return _sample_many(z, inv, xs, ys)


# --------------------------------------------------------------------------- coverage


def _in_crs(gdf: Any, crs: CRS | None, name: str) -> Any:
    if crs is None or gdf.crs is None:
        return gdf
    if not CRS.from_user_input(gdf.crs).equals(crs):
        return gdf.to_crs(crs)
    return gdf


def _point_xy(gdf: Any, name: str) -> np.ndarray:
    geoms = gdf.geometry
    if len(gdf) == 0:
        return np.empty((0, 2))
    bad = (geoms.isna() | geoms.is_empty | (geoms.geom_type != "Point")).to_numpy()
    if bad.any():
        raise GeometryError(
            f"{name}: {int(bad.sum())} geometries are not points (first at position "
            f"{int(np.flatnonzero(bad)[0]) + 1})"
        )
    return np.column_stack([np.asarray(geoms.x), np.asarray(geoms.y)])


def _transmitters(gdf: Any, scenario: Scenario) -> dict[str, np.ndarray]:
    frame = gdf
    if "site_id" not in frame.columns:
        ids = frame["candidate_id"] if "candidate_id" in frame.columns else range(len(frame))
        frame = frame.assign(site_id=[str(i) for i in ids])
    return site_parameters(frame, scenario)


def _term_inputs(
    cands: Any, params: dict[str, np.ndarray]
) -> tuple[np.ndarray, tuple[tuple[Any, ...], ...], tuple[str, ...]]:
    """Each candidate's counted gain, sectors (empty: omnidirectional) and operator.

    What the per-pair sector, land-cover and calibration terms need
    (:func:`_batch_terms`), the same for :func:`coverage_matrix` and
    :func:`coverage_columns`.
    """
    n = len(cands)
    gains = np.asarray(params["antenna_gain_dbi"], dtype=np.float64)
    sectors = (
        tuple(v if isinstance(v, tuple) else () for v in cands["sectors"])
        if "sectors" in cands.columns
        else ((),) * n
    )
    operators = (
        tuple(str(v) for v in cands["operator"]) if "operator" in cands.columns else ("",) * n
    )
    return gains, sectors, operators


def coverage_matrix(
    terrain: Any,
    candidates_gdf: Any,
    demand_gdf: Any,
    scenario: Scenario,
    threshold_dbm: float | None = None,
    *,
    step_m: float | None = None,
) -> tuple[scipy.sparse.csc_matrix, np.ndarray]:
    """Which demand points each candidate site would serve.

    Parameters
    ----------
    terrain
        As for :func:`link_budget`; the frames are reprojected to its ``crs``
        when it has one.
    candidates_gdf
        Candidate points (``candidate_id`` or ``site_id``; optional
        ``height_m``, ``tx_power_dbm``, ``antenna_gain_dbi``,
        ``cable_loss_db`` overriding the scenario where not NaN).
    demand_gdf
        Demand points (settlements with ``village_code`` and ``households``).
    scenario
        Radio settings.
    threshold_dbm
        Served at or above this RSRP (default ``scenario.threshold_dbm``).
    step_m
        Profile sampling step, m (default half a cell).

    Returns
    -------
    covered : scipy.sparse.csc_matrix
        bool ``(n_demand, n_candidates)``; unknown pairs are not covered.
    rsrp : numpy.ndarray
        float32 ``(n_demand, n_candidates)``, dBm, NaN where unknown or out of
        range.
    """
    threshold = scenario.threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    crs = _grid(terrain)[3]
    cands = _in_crs(candidates_gdf, crs, "candidates")
    demand = _in_crs(demand_gdf, crs, "demand")
    params = _transmitters(cands, scenario)
    result = link_budget(
        terrain,
        _point_xy(cands, "candidates"),
        params["height_m"],
        _point_xy(demand, "demand"),
        scenario.receiver_height_m,
        scenario,
        eirp_dbm=params["eirp_dbm"],
        step_m=step_m,
    )
    gains, sectors, operators = _term_inputs(cands, params)
    whole = CoverageBatch(
        start=0,
        xy=_point_xy(cands, "candidates"),
        heights_m=np.asarray(params["height_m"], dtype=np.float64),
        eirp_dbm=np.asarray(params["eirp_dbm"], dtype=np.float64),
        window=None,
        gains_dbi=gains,
        sectors=sectors,
        operators=operators,
    )
    terms = _batch_terms(terrain, whole, _point_xy(demand, "demand"), scenario)
    rsrp = np.ascontiguousarray((result.rsrp_dbm + terms).T).astype(np.float32)
    with np.errstate(invalid="ignore"):
        covered = np.nan_to_num(rsrp, nan=-np.inf) >= threshold
    logger.info(
        "coverage matrix: %d demand points x %d candidates, %d links served (unknown: %d)",
        rsrp.shape[0],
        rsrp.shape[1],
        int(covered.sum()),
        int(result.unknown.sum()),
    )
    return scipy.sparse.csc_matrix(covered), rsrp


def existing_coverage(
    terrain: Any,
    sites_gdf: Any,
    demand_gdf: Any,
    scenario: Scenario,
    threshold_dbm: float | None = None,
    *,
    step_m: float | None = None,
) -> np.ndarray:
    """Whether each demand point is already served by an existing site.

    Same link kernel and rule as :func:`coverage_matrix`, so a candidate
    placed on an existing site covers exactly what that site covers.

    Parameters
    ----------
    terrain, demand_gdf, scenario, threshold_dbm, step_m
        As for :func:`coverage_matrix`.
    sites_gdf
        Existing sites (the ``Dataset.sites`` contract).

    Returns
    -------
    numpy.ndarray
        bool ``(n_demand,)``: best server at or above the threshold.
    """
    if sites_gdf is None or len(sites_gdf) == 0:
        return np.zeros(len(demand_gdf), dtype=bool)
    covered, _ = coverage_matrix(
        terrain, sites_gdf, demand_gdf, scenario, threshold_dbm, step_m=step_m
    )
    return np.asarray(covered.sum(axis=1)).ravel() > 0


# --------------------------------------------------------------------------- batched coverage

#: Candidates per task of :func:`coverage_columns`.
COVERAGE_BATCH = 100
#: Cells added around a batch's window.
WINDOW_MARGIN = 2


@dataclass(frozen=True, eq=False)
class CoverageBatch:
    """One task of :func:`coverage_columns`: a few candidates.

    Attributes
    ----------
    start
        Index of the first candidate (its column in the matrix).
    xy, heights_m, eirp_dbm
        ``(n, 2)``, ``(n,)``, ``(n,)``: the candidates, in the terrain's CRS.
    gains_dbi, sectors, operators
        What the per-pair sector, land-cover and calibration terms need
        (:func:`covgap.radio.sectors.pair_terms_db`), as in :func:`coverage_matrix`.
    window
        :class:`covgap.terrain.GridWindow`: the cells the task reads (every
        point within the radius of a candidate, plus a margin); ``None`` for
        the whole grid (:func:`coverage_matrix`).
    """

    start: int
    xy: np.ndarray
    heights_m: np.ndarray
    eirp_dbm: np.ndarray
    window: Any
    gains_dbi: np.ndarray | None = None
    """Omnidirectional gain counted in each EIRP (for the sector terms)."""
    sectors: tuple[tuple[Any, ...], ...] = ()
    """Each candidate's sectors (empty: omnidirectional); ``()``: none has any."""
    operators: tuple[str, ...] = ()
    """Each candidate's operator (its own calibration); ``()``: the global one."""


def _coverage_window(source: Any, xy: np.ndarray, radius_m: float) -> Any:
    """Return the grid cells within ``radius_m`` (plus a margin) of a batch's bounding box."""
    from covgap.data.terrain import GridWindow

    rows, cols = source.shape
    inverse = ~source.transform
    xs = np.array([xy[:, 0].min() - radius_m, xy[:, 0].max() + radius_m])
    ys = np.array([xy[:, 1].min() - radius_m, xy[:, 1].max() + radius_m])
    cs = inverse.a * xs + inverse.c
    rs = inverse.e * ys + inverse.f
    c0 = int(max(0, math.floor(cs.min()) - WINDOW_MARGIN))
    c1 = int(min(cols, math.ceil(cs.max()) + WINDOW_MARGIN))
    r0 = int(max(0, math.floor(rs.min()) - WINDOW_MARGIN))
    r1 = int(min(rows, math.ceil(rs.max()) + WINDOW_MARGIN))
    return GridWindow(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))


def coverage_tile(
    batch: CoverageBatch,
    source: Any,
    demand: tuple[np.ndarray, np.ndarray],
    scenario: Scenario,
    threshold_dbm: float,
    step_m: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the served (demand, candidate) pairs of one batch (a task of coverage_columns).

    Parameters
    ----------
    batch
        The candidates and the window to read.
    source
        The whole grid: a :class:`covgap.terrain.Terrain` or a
        :class:`covgap.terrain.DemFile` read by window.
    demand
        ``(xy (m, 2), heights (m,))`` of every demand point.
    scenario, threshold_dbm, step_m
        As for :func:`coverage_matrix`.

    Returns
    -------
    rows, cols : numpy.ndarray of int64
        Demand indices and candidate indices (whole matrix) of the served pairs.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    rx_xy, rx_h = demand
    if len(batch.xy) == 0 or batch.window.cells == 0 or len(rx_xy) == 0:
        return empty
    # only demand points within reach of some candidate of the batch
    radius = scenario.radius_m
    near = (
        (rx_xy[:, 0] >= batch.xy[:, 0].min() - radius)
        & (rx_xy[:, 0] <= batch.xy[:, 0].max() + radius)
        & (rx_xy[:, 1] >= batch.xy[:, 1].min() - radius)
        & (rx_xy[:, 1] <= batch.xy[:, 1].max() + radius)
    )
    keep = np.flatnonzero(near)
    if keep.size == 0:
        return empty
    window = source.window(batch.window)
    result = link_budget(
        window,
        batch.xy,
        batch.heights_m,
        rx_xy[keep],
        rx_h[keep],
        scenario,
        eirp_dbm=batch.eirp_dbm,
        step_m=0.5 * min(source.resolution) if step_m is None else step_m,
    )
    rsrp = result.rsrp_dbm + _batch_terms(window, batch, rx_xy[keep], scenario)
    with np.errstate(invalid="ignore"):
        covered = np.nan_to_num(rsrp, nan=-np.inf) >= threshold_dbm
    cand, dem = np.nonzero(covered)
    return keep[dem].astype(np.int64), (cand + batch.start).astype(np.int64)


def _batch_terms(
    window: Any, batch: CoverageBatch, rx_xy: np.ndarray, scenario: Scenario
) -> np.ndarray | float:
    """Return the sector, land-cover and calibration terms of a batch's pairs, dB.

    ``window`` is the batch's window of the DEM, or the whole terrain (as
    :func:`coverage_matrix` uses it). ``(n_candidates, n_demand)``, or ``0.0``
    (nothing computed) for omnidirectional candidates, no land cover and an
    uncalibrated scenario, the default. See
    :func:`covgap.radio.sectors.pair_terms_db`.
    """
    n = len(batch.xy)
    sectors = batch.sectors or ((),) * n
    has_landcover = getattr(window, "landcover", None) is not None
    if not scenario.calibrated and not has_landcover and not any(sectors):
        return 0.0
    from covgap.radio.sectors import pair_terms_db

    gains = np.full(n, scenario.antenna_gain_dbi) if batch.gains_dbi is None else batch.gains_dbi
    return pair_terms_db(
        window,
        batch.xy,
        sample_elevation(window, batch.xy[:, 0], batch.xy[:, 1]),
        batch.heights_m,
        gains,
        sectors,
        batch.operators or ("",) * n,
        rx_xy,
        sample_elevation(window, rx_xy[:, 0], rx_xy[:, 1]),
        scenario,
    )


def coverage_columns(
    terrain: Any,
    candidates_gdf: Any,
    demand_gdf: Any,
    scenario: Scenario,
    threshold_dbm: float | None = None,
    *,
    step_m: float | None = None,
    executor: Any = None,
    batch_size: int = COVERAGE_BATCH,
    on_progress: Any = None,
) -> scipy.sparse.csc_matrix:
    """Compute the served matrix of :func:`coverage_matrix` in batches of candidates.

    Each batch is one task (:func:`coverage_tile`) run by ``executor``
    (:mod:`covgap.executor`; default: this process): it reads the DEM window
    within the radius of its candidates and returns the served pairs, which
    are assembled by index, so the matrix is the same whatever the executor.
    A pair's power is computed from the window's cells; it may differ from
    :func:`coverage_matrix` over the whole grid in the last bits (the
    coordinates are taken from another origin), which can matter only for a
    pair within ~1e-12 dB of the threshold.

    Parameters
    ----------
    terrain, candidates_gdf, demand_gdf, scenario, threshold_dbm, step_m
        As for :func:`coverage_matrix` (``terrain`` a
        :class:`covgap.terrain.Terrain`).
    executor
        A :class:`covgap.executor.Executor`, or ``None``.
    batch_size
        Candidates per task.
    on_progress
        Called with the number of candidates of each finished batch.

    Returns
    -------
    scipy.sparse.csc_matrix
        bool ``(n_demand, n_candidates)``.
    """
    from covgap.data.terrain import terrain_source
    from covgap.executor import as_executor

    executor = as_executor(executor)
    threshold = scenario.threshold_dbm if threshold_dbm is None else float(threshold_dbm)
    crs = _grid(terrain)[3]
    cands = _in_crs(candidates_gdf, crs, "candidates")
    demand = _in_crs(demand_gdf, crs, "demand")
    params = _transmitters(cands, scenario)
    tx_xy = _point_xy(cands, "candidates")
    rx_xy = _point_xy(demand, "demand")
    tx_h = _heights(params["height_m"], len(tx_xy), "candidate heights", scenario.mast_height_m)
    rx_h = _heights(
        scenario.receiver_height_m, len(rx_xy), "receiver height", scenario.receiver_height_m
    )
    eirp = np.asarray(params["eirp_dbm"], dtype=np.float64)
    gains, sectors, operators = _term_inputs(cands, params)
    n_dem, n_cand = len(rx_xy), len(tx_xy)
    source = terrain_source(
        terrain, local=executor.local, scratch=None if executor.local else executor.scratch_dir()
    )
    size = max(1, int(batch_size))
    batches = [
        CoverageBatch(
            start=i,
            xy=tx_xy[i : i + size],
            heights_m=tx_h[i : i + size],
            eirp_dbm=eirp[i : i + size],
            window=_coverage_window(source, tx_xy[i : i + size], scenario.radius_m),
            gains_dbi=gains[i : i + size],
            sectors=sectors[i : i + size],
            operators=operators[i : i + size],
        )
        for i in range(0, n_cand, size)
    ]
    parts: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, np.int64),) * 2] * len(batches)
    for i, pairs in executor.run(
        coverage_tile, batches, source, (rx_xy, rx_h), scenario, threshold, step_m
    ):
        parts[i] = pairs
        if on_progress is not None:
            on_progress(len(batches[i].xy))
    rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    matrix = scipy.sparse.csc_matrix(
        (np.ones(rows.size, dtype=bool), (rows, cols)), shape=(n_dem, n_cand)
    )
    matrix.sort_indices()
    logger.info(
        "coverage matrix: %d demand points x %d candidates, %d links served (in %d batches)",
        n_dem,
        n_cand,
        int(matrix.nnz),
        len(batches),
    )
    return matrix
