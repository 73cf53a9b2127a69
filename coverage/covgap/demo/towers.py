"""Existing towers: where they stand, what they cover, and their OpenCelliD cells.

Placement is calibrated against the project's terrain radio engine, so that
``covgap run`` on the demo reproduces the survey:

1. :func:`candidate_sites` lists hilltops where power exists (near the grid
   inside the district, or just beyond its border); :func:`candidate_heights`
   gives each one mast (short on the highest summits, tall on low hills);
2. :func:`settlement_signal` runs :func:`covgap.radio.signal.site_signal` (the
   kernel ``covgap run`` uses, with the default scenario) for every candidate
   and samples the rasters at the settlements, exactly as
   :func:`covgap.radio.reception.village_reception` does;
3. :func:`choose_sites` greedily picks candidates so that exactly the wanted
   villages are covered *with a margin*: a covered village has settlements
   holding the scenario's household share at threshold + margin or more,
   and every settlement of an uncovered village stays below threshold - margin
   from every chosen tower.  The margin keeps the survey and the model in
   agreement when the kernel's numbers move slightly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from covgap.data.terrain import Terrain as RadioTerrain
from covgap.demo.terrain import Terrain
from covgap.errors import DemoError
from covgap.radio.reception import sample_cells
from covgap.radio.scenario import Scenario
from covgap.radio.signal import site_signal

__all__ = [
    "AMBIGUOUS",
    "FIRM_COVERED",
    "FIRM_UNCOVERED",
    "OPERATORS",
    "Placement",
    "Site",
    "TowerParams",
    "assign_operators",
    "candidate_heights",
    "candidate_sites",
    "choose_sites",
    "make_sites",
    "opencellid_rows",
    "settlement_signal",
    "village_margins",
]

logger = logging.getLogger(__name__)

OPERATORS = {"Viettel": 4, "VNPT": 2, "MobiFone": 1}
"""Operator name to mobile network code (MCC 452)."""
_OPERATOR_PATTERN = ("Viettel", "VNPT", "Viettel", "MobiFone", "Viettel", "VNPT", "Viettel")
_PREFIX = {"Viettel": "VTL", "VNPT": "VNP", "MobiFone": "MBF"}
_RADIOS = {"Viettel": ("GSM", "UMTS", "LTE"), "VNPT": ("GSM", "UMTS"), "MobiFone": ("GSM", "LTE")}
_PENDING_WEIGHTS = (10.0, 50.0, 1000.0)
"""Penalties per village left touched but not firmly covered, tried in turn by the greedy."""
_UNPOWERED_BONUS = 100.0
_SEARCH_ROUNDS = 20

#: Village states of :func:`village_margins`.
FIRM_COVERED, FIRM_UNCOVERED, AMBIGUOUS = 0, 1, 2


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
    dem_margin_m
        Candidates keep at least this distance from the DEM's edge.
    mast_heights_m
        Mast heights, shortest first, given by :func:`candidate_heights`
        (shortest on the highest third of the hilltops).
    margin_db
        Calibration margin: a covered village reaches threshold + margin, an
        uncovered one stays below threshold - margin at every settlement.
    n_outside
        Sites to place beyond the district border.
    colocated
        The first this many sites are shared by all three operators.
    batch
        Candidates per call of the signal kernel (memory: one DEM-sized
        float32 raster each).
    """

    spacing_m: float = 900.0
    max_grid_distance_m: float = 1500.0
    outside_min_m: float = 800.0
    outside_max_m: float = 2000.0
    dem_margin_m: float = 2000.0
    mast_heights_m: tuple[float, ...] = (15.0, 25.0, 40.0)
    margin_db: float = 3.0
    n_outside: int = 3
    colocated: int = 2
    batch: int = 16


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


@dataclass(frozen=True)
class Placement:
    """Result of :func:`choose_sites`.

    Attributes
    ----------
    chosen
        Candidate indices, in order of choice.
    covered
        bool per village: firmly covered by the chosen candidates.
    state
        Per village :data:`FIRM_COVERED`, :data:`FIRM_UNCOVERED` or
        :data:`AMBIGUOUS` (within the margin) under the chosen candidates.
    """

    chosen: list[int]
    covered: np.ndarray
    state: np.ndarray

    @property
    def ambiguous(self) -> int:
        """Number of villages within the margin of the threshold."""
        return int((self.state == AMBIGUOUS).sum())


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
    margin = params.dem_margin_m
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


def candidate_heights(
    elevation: np.ndarray, inside: np.ndarray, mast_heights_m: Sequence[float]
) -> np.ndarray:
    """One mast height per candidate: the higher the hilltop, the shorter the mast.

    The hilltops inside the district are split into as many equal groups by
    elevation as there are heights; the highest group gets the shortest mast.
    Candidates beyond the border use the same elevation limits.

    Parameters
    ----------
    elevation
        (n,) ground elevation of the candidates, m.
    inside
        (n,) True for candidates inside the district.
    mast_heights_m
        Heights, shortest first.

    Returns
    -------
    numpy.ndarray
        (n,) float heights.

    Examples
    --------
    >>> candidate_heights(np.array([900.0, 1500.0, 1200.0]), np.ones(3, bool), (15.0, 40.0))
    array([40., 15., 15.])
    """
    heights = np.asarray(mast_heights_m, float)
    z = np.asarray(elevation, float)
    ref = z[np.asarray(inside, bool)]
    if len(heights) == 1 or len(ref) == 0:
        return np.full(len(z), heights[0])
    limits = np.quantile(ref, np.arange(1, len(heights)) / len(heights))
    group = np.searchsorted(limits, z, side="right")  # 0 = lowest third
    return heights[::-1][group]


def settlement_signal(
    terrain: RadioTerrain,
    xy: np.ndarray,
    heights_m: np.ndarray,
    scenario: Scenario,
    points_xy: np.ndarray,
    batch: int = 16,
) -> np.ndarray:
    """Received signal of each candidate at each settlement, from the terrain kernel.

    Runs :func:`covgap.radio.signal.site_signal` in batches and reads each raster at
    the cell holding each point (:func:`covgap.radio.reception.sample_cells`), as the
    analysis does.

    Parameters
    ----------
    terrain
        The DEM as the analysis loads it (float32 metres, projected CRS).
    xy
        (n, 2) candidate positions.
    heights_m
        (n,) mast heights.
    scenario
        Radio settings (the analysis default).
    points_xy
        (m, 2) settlement positions.
    batch
        Candidates per kernel call.

    Returns
    -------
    numpy.ndarray
        float64 (n, m) dBm; ``-inf`` where the candidate gives no signal.
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    heights = np.asarray(heights_m, float)
    rows, cols, inside = sample_cells(
        points_xy[:, 0], points_xy[:, 1], terrain.transform, terrain.shape
    )
    if not inside.all():
        raise DemoError("a settlement lies outside the DEM")
    out = np.empty((len(xy), len(points_xy)))
    eirp = np.full(len(xy), scenario.eirp_dbm)
    for i in range(0, len(xy), batch):
        part = slice(i, i + batch)
        stack = site_signal(terrain, xy[part], heights[part], eirp[part], scenario)
        out[part] = stack[:, rows, cols]
        logger.debug("signal of candidates %d-%d of %d", i, min(i + batch, len(xy)), len(xy))
    return np.nan_to_num(out, nan=-np.inf)


def village_margins(
    best_dbm: np.ndarray,
    settlement_village: np.ndarray,
    settlement_households: np.ndarray,
    n_villages: int,
    threshold_dbm: float,
    margin_db: float,
    share: float,
) -> np.ndarray:
    """Classify villages by their best signal, with a margin around the threshold.

    Parameters
    ----------
    best_dbm
        (..., m) strongest signal at each settlement (``-inf`` for none).
    settlement_village, settlement_households
        (m,) village index and households of each settlement.
    n_villages
        Number of villages.
    threshold_dbm, margin_db, share
        Covered: settlements holding at least ``share`` of the households
        receive ``threshold_dbm + margin_db`` or more.  Uncovered: every
        settlement receives less than ``threshold_dbm - margin_db``.

    Returns
    -------
    numpy.ndarray
        (..., n_villages) :data:`FIRM_COVERED`, :data:`FIRM_UNCOVERED` or
        :data:`AMBIGUOUS`.
    """
    member = np.zeros((len(settlement_village), n_villages))
    member[np.arange(len(settlement_village)), settlement_village] = 1.0
    weight = member * np.asarray(settlement_households, float)[:, None]
    total = weight.sum(axis=0)
    best = np.asarray(best_dbm, float)
    strong = (best >= threshold_dbm + margin_db).astype(float) @ weight >= share * total - 1e-9
    reached = (best >= threshold_dbm - margin_db).astype(float) @ member > 0
    return np.where(strong, FIRM_COVERED, np.where(reached, AMBIGUOUS, FIRM_UNCOVERED))


def choose_sites(
    signal_dbm: np.ndarray,
    settlement_village: np.ndarray,
    settlement_households: np.ndarray,
    powered: np.ndarray,
    priority: np.ndarray,
    outside: np.ndarray,
    n_uncovered: int,
    n_unpowered_uncovered: int,
    n_outside: int,
    *,
    threshold_dbm: float,
    margin_db: float,
    share: float,
) -> Placement:
    """Pick candidates so that exactly the wanted villages are firmly covered.

    A village is *reached* by a candidate when one of its settlements gets
    ``threshold_dbm - margin_db`` or more from it; reached villages count
    against the number that may be covered (``len(powered) - n_uncovered``,
    of which ``(~powered).sum() - n_unpowered_uncovered`` unpowered), so the
    villages never reached stay firmly uncovered.

    Greedy: first up to ``n_outside`` candidates beyond the border, then
    candidates inside; each step takes the candidate that firmly covers the
    most new villages (weighted by ``priority``, unpowered ones first) less a
    penalty for villages reached but not firmly covered, within the allowed
    counts, until the wanted number is reached and every reached village is
    firmly covered.  When the greedy falls short, a local search drops one
    chosen candidate at a time, bans it and completes the choice greedily
    again, keeping any improvement; several penalties are tried in turn.

    Parameters
    ----------
    signal_dbm
        (n_candidates, n_settlements) from :func:`settlement_signal`.
    settlement_village, settlement_households
        (n_settlements,) village index and households.
    powered, priority
        (n_villages,) grid power and the order of preference for coverage.
    outside
        (n_candidates,) True beyond the district border.
    n_uncovered, n_unpowered_uncovered
        Villages to leave uncovered, and how many of them are unpowered.
    n_outside
        Candidates to take beyond the border first.
    threshold_dbm, margin_db, share
        As for :func:`village_margins`.

    Returns
    -------
    Placement
        The first placement meeting the counts with no ambiguous village, or
        else the best one found (fewest ambiguous, then closest count).
    """
    greedy = _Greedy(
        np.asarray(signal_dbm, float),
        np.asarray(settlement_village),
        np.asarray(settlement_households, float),
        np.asarray(powered, bool),
        np.asarray(priority, float),
        np.asarray(outside, bool),
        n_uncovered,
        n_unpowered_uncovered,
        n_outside,
        (threshold_dbm, margin_db, share),
    )
    best: Placement | None = None
    for penalty in _PENDING_WEIGHTS:
        result = greedy.search(penalty)
        if best is None or greedy.defect(result) < greedy.defect(best):
            best = result
        if greedy.defect(best) == (0, 0):
            break
        logger.info("tower greedy with penalty %g: %s", penalty, greedy.defect(result))
    assert best is not None
    return best


class _Greedy:
    """State shared by the greedy attempts of :func:`choose_sites`."""

    def __init__(
        self,
        sig: np.ndarray,
        village: np.ndarray,
        households: np.ndarray,
        powered: np.ndarray,
        priority: np.ndarray,
        outside: np.ndarray,
        n_uncovered: int,
        n_unpowered_uncovered: int,
        n_outside: int,
        rule: tuple[float, float, float],
    ) -> None:
        self.sig, self.village, self.households = sig, village, households
        self.powered, self.outside, self.rule = powered, outside, rule
        self.n = len(powered)
        self.n_uncovered, self.n_outside = n_uncovered, n_outside
        member = np.zeros((len(village), self.n))
        member[np.arange(len(village)), village] = 1.0
        threshold, margin, _ = rule
        self.reach = (sig >= threshold - margin).astype(float) @ member > 0
        self.need_q = int((~powered).sum()) - n_unpowered_uncovered
        self.need_p = (self.n - n_uncovered) - self.need_q
        self.weight = priority + _UNPOWERED_BONUS * ~powered

    def states(self, best: np.ndarray) -> np.ndarray:
        threshold, margin, share = self.rule
        return village_margins(
            best, self.village, self.households, self.n, threshold, margin, share
        )

    def placement(self, chosen: list[int]) -> Placement:
        best = np.full(self.sig.shape[1], -np.inf)
        for i in chosen:
            best = np.maximum(best, self.sig[i])
        state = self.states(best)
        return Placement(list(chosen), state == FIRM_COVERED, state)

    def defect(self, placement: Placement) -> tuple[int, int]:
        """(ambiguous villages, distance from the wanted number uncovered); (0, 0) is done."""
        uncovered = int((placement.state == FIRM_UNCOVERED).sum())
        return placement.ambiguous, abs(uncovered - self.n_uncovered)

    def complete(self, chosen: list[int], banned: np.ndarray, penalty: float) -> Placement:
        """Extend ``chosen`` greedily (never with ``banned`` candidates)."""
        chosen = list(chosen)
        best = np.full(self.sig.shape[1], -np.inf)
        reached = np.zeros(self.n, bool)
        for i in chosen:
            best = np.maximum(best, self.sig[i])
            reached |= self.reach[i]
        free = ~banned
        free[chosen] = False

        def take(allowed: np.ndarray) -> bool:
            firm = self.states(best) == FIRM_COVERED
            pending = int((reached & ~firm).sum())
            trial = np.maximum(best[None, :], self.sig)
            after = self.states(trial) == FIRM_COVERED
            reached_after = reached[None, :] | self.reach
            q = (reached_after & ~self.powered).sum(axis=1)
            p = (reached_after & self.powered).sum(axis=1)
            new = after & ~firm[None, :]
            pending_after = (reached_after & ~after).sum(axis=1)
            ok = allowed & free & (q <= self.need_q) & (p <= self.need_p)
            ok &= new.any(axis=1) | (pending_after < pending)
            if not ok.any():
                return False
            gain = (new * self.weight).sum(axis=1) - penalty * (pending_after - pending)
            pick = int(np.argmax(np.where(ok, gain, -np.inf)))
            chosen.append(pick)
            best[:] = trial[pick]
            reached[:] |= self.reach[pick]
            free[pick] = False
            return True

        for _ in range(self.n_outside - int(self.outside[chosen].sum())):
            if not take(self.outside):
                break
        while True:
            done = reached.sum() == self.need_p + self.need_q
            if done and (self.states(best)[reached] == FIRM_COVERED).all():
                break
            if not take(~self.outside):
                break
        return self.placement(chosen)

    def moves(self, current: Placement) -> list[list[int]]:
        """Candidate sets to drop: those reaching an ambiguous village, then each one."""
        out = []
        for v in np.flatnonzero(current.state == AMBIGUOUS):
            drop = [i for i in current.chosen if self.reach[i, v]]
            if drop not in out:
                out.append(drop)
        out.extend([i] for i in current.chosen if [i] not in out)
        return out

    def search(self, penalty: float) -> Placement:
        """Greedy, then drop-ban-complete local search until no improvement."""
        banned = np.zeros(len(self.sig), bool)
        current = self.complete([], banned, penalty)
        for _ in range(_SEARCH_ROUNDS):
            if self.defect(current) == (0, 0):
                break
            for drop in self.moves(current):
                trial_ban = banned.copy()
                trial_ban[drop] = True
                rest = [i for i in current.chosen if i not in drop]
                trial = self.complete(rest, trial_ban, penalty)
                if self.defect(trial) < self.defect(current):
                    current, banned = trial, trial_ban
                    break
            else:
                break
        return current


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
