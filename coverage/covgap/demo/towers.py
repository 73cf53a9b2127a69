"""Existing towers: where they stand, what they cover, and their OpenCelliD cells.

Placement is a separate, parameterised step so it can be recalibrated later
against the terrain radio engine: :func:`candidate_sites` lists hilltops where
power exists (near the grid inside the district, or in the neighbouring
districts inside the DEM buffer); :func:`required_mast_heights` is the simple
coverage model used for now (line of sight over the DEM with earth curvature,
within a radius); :func:`choose_sites` picks sites so that exactly the wanted
villages are covered and the others are far or shadowed from every tower.
Replace the coverage matrix to recalibrate; the choice logic stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from covgap.demo.terrain import Terrain

__all__ = [
    "OPERATORS",
    "Site",
    "TowerParams",
    "assign_operators",
    "candidate_sites",
    "choose_sites",
    "make_sites",
    "opencellid_rows",
    "required_mast_heights",
    "village_coverage",
]

EARTH_RADIUS_M = 6_370_000.0
OPERATORS = {"Viettel": 4, "VNPT": 2, "MobiFone": 1}
"""Operator name to mobile network code (MCC 452)."""
_OPERATOR_PATTERN = ("Viettel", "VNPT", "Viettel", "MobiFone", "Viettel", "VNPT", "Viettel")
_PREFIX = {"Viettel": "VTL", "VNPT": "VNP", "MobiFone": "MBF"}
_RADIOS = {"Viettel": ("GSM", "UMTS", "LTE"), "VNPT": ("GSM", "UMTS"), "MobiFone": ("GSM", "LTE")}


@dataclass(frozen=True)
class TowerParams:
    """Parameters of tower placement (all distances in metres).

    Attributes
    ----------
    spacing_m
        Candidate lattice: one hilltop (highest cell) per square block of this size.
    max_grid_distance_m
        Candidates inside the district lie at most this far from a grid line.
    outside_min_m, outside_max_m
        Candidates outside the district lie this far beyond its border.
    mast_heights_m
        Mast heights tried at every candidate.
    receiver_height_m
        Handset height above ground.
    radius_m
        Maximum distance a tower covers.
    curvature_coef
        1 / k, the effective-earth-radius factor (0.75 for k = 4/3).
    household_share
        A village is covered when settlements holding at least this share of its
        households are covered.
    n_outside
        Sites to place beyond the district border.
    colocated
        The first this many sites are shared by all three operators.
    step_m
        Sampling step along each sight line.
    """

    spacing_m: float = 900.0
    max_grid_distance_m: float = 1500.0
    outside_min_m: float = 800.0
    outside_max_m: float = 6000.0
    mast_heights_m: tuple[float, ...] = (15.0, 25.0, 40.0)
    receiver_height_m: float = 1.5
    radius_m: float = 8000.0
    curvature_coef: float = 0.75
    household_share: float = 0.5
    n_outside: int = 3
    colocated: int = 2
    step_m: float = 30.0


@dataclass
class Site:
    """A true tower site (UTM metres)."""

    site_id: str
    operator: str
    x: float
    y: float
    height_m: float
    radio: str
    power_source: str
    outside: bool


def candidate_sites(
    terrain: Terrain, district: BaseGeometry, grid: BaseGeometry, params: TowerParams
) -> tuple[np.ndarray, np.ndarray]:
    """Hilltop candidates where power exists.

    Returns
    -------
    xy : numpy.ndarray
        (n, 2) candidate positions (cell centres).
    outside : numpy.ndarray
        (n,) True for candidates beyond the district border.
    """
    block = max(int(np.rint(params.spacing_m / terrain.cell)), 1)
    rows, cols = terrain.shape
    nr, nc = rows // block, cols // block
    z = terrain.elevation[: nr * block, : nc * block].reshape(nr, block, nc, block)
    z = z.transpose(0, 2, 1, 3).reshape(nr, nc, block * block)
    arg = z.argmax(axis=2)
    br, bc = np.divmod(arg, block)
    r = np.arange(nr)[:, None] * block + br
    c = np.arange(nc)[None, :] * block + bc
    x, y = terrain.cell_centre(r.ravel(), c.ravel())
    inside = shapely.contains_xy(district, x, y)
    margin = params.radius_m * 0.25
    w, s, e, n = terrain.bounds
    in_dem = (x > w + margin) & (x < e - margin) & (y > s + margin) & (y < n - margin)
    points = shapely.points(x, y)
    d_grid = shapely.distance(grid, points)
    d_border = shapely.distance(district.boundary, points)
    keep_in = inside & (d_grid <= params.max_grid_distance_m)
    keep_out = (
        ~inside & in_dem & (d_border >= params.outside_min_m) & (d_border <= params.outside_max_m)
    )
    keep = keep_in | keep_out
    return np.column_stack([x[keep], y[keep]]), ~inside[keep]


def required_mast_heights(
    terrain: Terrain,
    tx: np.ndarray,
    rx: np.ndarray,
    params: TowerParams,
) -> np.ndarray:
    """Lowest mast height giving line of sight from each transmitter to each receiver.

    Along the straight path (sampled every ``step_m``, bilinear DEM) the
    terrain raised by the earth bulge ``cc * s * (D - s) / (2 R)`` must stay
    under the ray from mast top to the receiver (ground + receiver height).

    Returns
    -------
    numpy.ndarray
        (n_tx, n_rx) metres (0 when the bare ground sees the receiver), ``inf``
        beyond ``radius_m``.
    """
    out = np.full((len(tx), len(rx)), np.inf)
    z_tx = terrain.sample(tx[:, 0], tx[:, 1])
    z_rx = terrain.sample(rx[:, 0], rx[:, 1]) + params.receiver_height_m
    k_max = int(np.ceil(params.radius_m / params.step_m))
    frac_steps = np.arange(1, k_max)[None, :]
    for i in range(len(tx)):
        d = np.hypot(rx[:, 0] - tx[i, 0], rx[:, 1] - tx[i, 1])
        near = np.nonzero(d <= params.radius_m)[0]
        if len(near) == 0:
            continue
        dist = d[near][:, None]
        s = frac_steps * params.step_m
        valid = s < dist
        t = np.where(valid, s / np.maximum(dist, 1e-9), 0.0)
        px = tx[i, 0] + (rx[near, 0:1] - tx[i, 0]) * t
        py = tx[i, 1] + (rx[near, 1:2] - tx[i, 1]) * t
        zt = terrain.sample(px, py)
        bulge = params.curvature_coef * s * (dist - s) / (2 * EARTH_RADIUS_M)
        ray0 = z_tx[i] + (z_rx[near][:, None] - z_tx[i]) * t
        need = (zt + bulge - ray0) / np.maximum(1.0 - t, 1e-9)
        need = np.where(valid, need, -np.inf).max(axis=1)
        out[i, near] = np.maximum(need, 0.0)
    return out


def village_coverage(
    heights_needed: np.ndarray,
    mast_heights: np.ndarray,
    settlement_village: np.ndarray,
    settlement_households: np.ndarray,
    n_villages: int,
    share: float,
) -> np.ndarray:
    """Which villages each (position, mast height) option covers.

    Returns
    -------
    numpy.ndarray
        bool (n_positions * n_heights, n_villages); option ``p * n_heights + h``.
    """
    totals = np.bincount(settlement_village, settlement_households, n_villages)
    options = []
    for row in heights_needed:
        for h in mast_heights:
            seen = (row <= h).astype(float) * settlement_households
            covered = np.bincount(settlement_village, seen, n_villages)
            options.append(covered >= share * totals - 1e-9)
    return np.array(options)


def choose_sites(
    coverage: np.ndarray,
    powered: np.ndarray,
    priority: np.ndarray,
    outside: np.ndarray,
    n_uncovered: int,
    n_unpowered_uncovered: int,
    n_outside: int,
    group: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray]:
    """Greedily pick options so that exactly the wanted number of villages is covered.

    First up to ``n_outside`` options beyond the border, then options covering
    exactly the allowed number of unpowered villages, then options covering
    only powered ones, preferring high ``priority`` villages, until
    ``len(powered) - n_uncovered`` villages are covered.  An option is taken
    only if it covers no more new villages than still needed, so the count is
    exact.  Options sharing a ``group`` (one position, several mast heights)
    exclude each other once one is taken.

    Returns
    -------
    chosen : list of int
        Option indices, in order of choice.
    covered : numpy.ndarray
        bool per village.
    """
    n = coverage.shape[1]
    need_q = int((~powered).sum()) - n_unpowered_uncovered
    need_p = (n - n_uncovered) - need_q
    covered = np.zeros(n, bool)
    chosen: list[int] = []
    group = np.arange(len(coverage)) if group is None else np.asarray(group)
    free = np.ones(len(coverage), bool)

    def take(allowed: np.ndarray, max_q: int, max_p: int, min_q: int) -> bool:
        allowed = allowed & free
        new = coverage & ~covered[None, :]
        new_q = (new & ~powered[None, :]).sum(1)
        new_p = (new & powered[None, :]).sum(1)
        ok = allowed & (new_q <= max_q) & (new_p <= max_p) & (new_q >= min_q) & (new_q + new_p > 0)
        if not ok.any():
            return False
        gain = (new * priority[None, :]).sum(1) + 100.0 * new_q
        gain = np.where(ok, gain, -np.inf)
        best = int(np.argmax(gain))
        chosen.append(best)
        covered[:] |= coverage[best]
        free[group == group[best]] = False
        return True

    for _ in range(n_outside):
        have_p = int((covered & powered).sum())
        if not take(outside, 0, need_p - have_p, 0):
            break
    while (covered & ~powered).sum() < need_q:
        have_q = int((covered & ~powered).sum())
        have_p = int((covered & powered).sum())
        if not take(~outside, need_q - have_q, need_p - have_p, 1):
            break
    while (covered & powered).sum() < need_p:
        have_p = int((covered & powered).sum())
        if not take(~outside, 0, need_p - have_p, 0):
            break
    return chosen, covered


def assign_operators(outside: np.ndarray, colocated: int) -> list[list[str]]:
    """Operators at each chosen site, in order of choice.

    The first ``colocated`` sites inside the district are shared by all three
    operators; the others follow a fixed rotation (Viettel 4, VNPT 2,
    MobiFone 1 in every 7).
    """
    out = []
    shared = 0
    k = 0
    for is_out in outside:
        if not is_out and shared < colocated:
            shared += 1
            out.append(["Viettel", "VNPT", "MobiFone"])
        else:
            out.append([_OPERATOR_PATTERN[k % len(_OPERATOR_PATTERN)]])
            k += 1
    return out


def make_sites(
    positions: np.ndarray,
    heights: np.ndarray,
    outside: np.ndarray,
    colocated: int,
) -> list[Site]:
    """Turn chosen options into per-operator sites with ids, radio and power source."""
    counters = dict.fromkeys(OPERATORS, 0)
    sites = []
    n_out = 0
    for i, operators in enumerate(assign_operators(outside, colocated)):
        if outside[i]:
            power = ("grid", "solar", "diesel")[n_out % 3]
            n_out += 1
        else:
            power = "grid"
        for op in operators:
            counters[op] += 1
            sites.append(
                Site(
                    site_id=f"{_PREFIX[op]}-{counters[op]:03d}",
                    operator=op,
                    x=float(positions[i, 0]),
                    y=float(positions[i, 1]),
                    height_m=float(heights[i]),
                    radio=_RADIOS[op][-1],
                    power_source=power,
                    outside=bool(outside[i]),
                )
            )
    return sites


_EPOCH_2015 = 1_420_070_400
_EPOCH_2024_06 = 1_717_200_000


def opencellid_rows(
    rng: np.random.Generator, sites: list[Site], geo: np.ndarray
) -> list[dict[str, object]]:
    """OpenCelliD-style cells: three sectors per radio, positions scattered as estimates.

    Crowd-sourced cell positions are averages of where handsets heard the
    cell, so each lies 15-400 m from the true site, towards its sector.

    Parameters
    ----------
    rng
        The generator's random source.
    sites
        The true sites.
    geo
        (n_sites, 4): metres per degree of longitude and of latitude at each
        site, and the site's longitude and latitude.
    """
    rows = []
    serial = {op: 0 for op in OPERATORS}
    for site, (m_lon, m_lat, lon0, lat0) in zip(sites, geo, strict=True):
        serial[site.operator] += 1
        k = serial[site.operator]
        net = OPERATORS[site.operator]
        rotation = rng.uniform(0, 120)
        for radio in _RADIOS[site.operator]:
            for sector in range(3):
                if sector > 0 and rng.random() < 0.12:
                    continue  # not every sector has been seen by the crowd
                azimuth = np.radians(rotation + 120 * sector + rng.normal(0, 25))
                dist = float(np.clip(rng.gamma(2.0, 70.0), 15.0, 400.0))
                dx, dy = dist * np.sin(azimuth), dist * np.cos(azimuth)
                created = int(_EPOCH_2015 + rng.integers(0, 8 * 365 * 86400))
                updated = int(rng.integers(created + 30 * 86400, _EPOCH_2024_06))
                if radio == "GSM":
                    cell, unit, area = net * 10000 + 10 * k + sector + 1, 0, 11000 + net * 10
                elif radio == "UMTS":
                    cell = (2000 + net * 10) * 65536 + 100 * k + sector + 1
                    unit, area = int(rng.integers(0, 512)), 11000 + net * 10
                else:
                    cell = (100000 * net + k) * 256 + sector + 1
                    unit, area = int(rng.integers(0, 504)), 21000 + net * 10
                rows.append(
                    {
                        "radio": radio,
                        "mcc": 452,
                        "net": net,
                        "area": area,
                        "cell": int(cell),
                        "unit": unit,
                        "lon": lon0 + dx / m_lon,
                        "lat": lat0 + dy / m_lat,
                        "range": int(rng.integers(800, 6000)),
                        "samples": int(rng.integers(1, 250)),
                        "changeable": int(rng.random() < 0.9),
                        "created": created,
                        "updated": updated,
                        "averageSignal": 0,
                    }
                )
    return rows
