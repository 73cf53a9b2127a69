"""Synthetic villages: territories, names, settlements, households and population.

Villages are allocated to communes in proportion to population (largest
remainder).  Each village is seeded on habitable ground (the first one of a
commune nearest its centroid: the commune centre), its territory is the
Voronoi cell of its seed within the commune, and it has one to three
settlements (points where households live) on habitable ground.  A commune
has round(population / 5) households (assumption: five people per household);
households and people are split over villages and settlements so that they
add up exactly to the census figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point
from shapely.geometry.base import BaseGeometry

from covgap.demo.facts import PEOPLE_PER_HOUSEHOLD, CommuneFact
from covgap.demo.names import village_names
from covgap.demo.projection import to_utm
from covgap.demo.terrain import Terrain
from covgap.errors import DemoError

__all__ = ["Settlement", "Village", "build_villages", "largest_remainder"]

_MIN_HOUSEHOLDS = 8
_SEED_TRIALS = 40


@dataclass
class Settlement:
    """A place where households live (UTM metres)."""

    x: float
    y: float
    households: int


@dataclass
class Village:
    """One synthetic village."""

    code: str
    name: str
    commune: int
    is_centre: bool
    seed: tuple[float, float]
    territory: BaseGeometry
    households: int = 0
    population: int = 0
    settlements: list[Settlement] = field(default_factory=list)


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (Hamilton's method).

    Ties in the remainders go to the earlier index, so the result is deterministic.

    Examples
    --------
    >>> largest_remainder(10, np.array([1.0, 1.0, 1.0])).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, float)
    quota = total * w / w.sum()
    base = np.floor(quota).astype(np.int64)
    short = int(total - base.sum())
    order = np.lexsort((np.arange(len(w)), -(quota - base)))
    base[order[:short]] += 1
    return base


def _habitable_points(terrain: Terrain, habitable: np.ndarray, area: BaseGeometry) -> np.ndarray:
    """Centres of habitable cells inside ``area``, as an (n, 2) array."""
    minx, miny, maxx, maxy = area.bounds
    r0, c0 = terrain.nearest_cell(np.array([minx]), np.array([maxy]))
    r1, c1 = terrain.nearest_cell(np.array([maxx]), np.array([miny]))
    rows, cols = np.nonzero(habitable[r0[0] : r1[0] + 1, c0[0] : c1[0] + 1])
    x, y = terrain.cell_centre(rows + r0[0], cols + c0[0])
    keep = shapely.contains_xy(area, x, y)
    return np.column_stack([x[keep], y[keep]])


def _seeds(
    rng: np.random.Generator, candidates: np.ndarray, centre: np.ndarray, count: int
) -> np.ndarray:
    """Spread ``count`` seeds (Mitchell's best candidate); the first nearest ``centre``."""
    first = candidates[np.argmin(np.hypot(*(candidates - centre).T))]
    seeds = [first]
    for _ in range(count - 1):
        trial = candidates[rng.integers(len(candidates), size=_SEED_TRIALS)]
        dist = np.min(
            np.hypot(trial[:, None, 0] - np.array(seeds)[None, :, 0],
                     trial[:, None, 1] - np.array(seeds)[None, :, 1]),
            axis=1,
        )  # fmt: skip
        seeds.append(trial[int(np.argmax(dist))])
    return np.array(seeds)


def _territories(commune: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    if len(seeds) == 1:
        return [commune]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint([tuple(p) for p in seeds]), extend_to=commune)
    )
    out = []
    for p in seeds:
        cell = next(c for c in cells if c.covers(Point(p)))
        out.append(cell.intersection(commune))
    return out


def build_villages(
    rng: np.random.Generator,
    communes: list[CommuneFact],
    polygons: list[BaseGeometry],
    terrain: Terrain,
    total: int,
    counts: np.ndarray | None = None,
    *,
    names_per_commune: bool = False,
) -> list[Village]:
    """Create the villages of every commune.

    Parameters
    ----------
    rng
        The generator's random source.
    communes, polygons
        The commune facts and their synthetic polygons (metres), in the same order.
    terrain
        The DEM; seeds and settlements go on habitable cells only.
    total
        Number of villages in the district.
    counts
        Villages per commune; default: ``total`` split in proportion to
        population (largest remainder).
    names_per_commune
        Keep village names unique within each commune only (a province has
        more villages than the name lists give unique names; joins by name
        are within a commune anyway).  Default: unique across the district.

    Returns
    -------
    list of Village
        Ordered by commune, then by village number.
    """
    if counts is None:
        counts = largest_remainder(total, np.array([c.population for c in communes], float))
    habitable = terrain.habitable()
    used: set[str] = set()
    villages: list[Village] = []
    for ci, (fact, poly, n) in enumerate(zip(communes, polygons, counts, strict=True)):
        inset = poly.buffer(-60.0 if fact.is_town else -150.0)
        candidates = _habitable_points(terrain, habitable, inset)
        if len(candidates) < n:
            raise DemoError(f"{fact.name}: only {len(candidates)} habitable cells")
        centre = np.array([float(v) for v in to_utm(fact.lon, fact.lat)])
        seeds = _seeds(rng, candidates, centre, int(n))
        style = "town" if fact.is_town else ("thai" if fact.lowland else "hmong")
        if names_per_commune:
            used = set()
        names = village_names(rng, int(n), style, used)
        for k, (seed, territory, name) in enumerate(
            zip(seeds, _territories(poly, seeds), names, strict=True)
        ):
            villages.append(
                Village(
                    code=f"{fact.code}-{k + 1:02d}",
                    name=name,
                    commune=ci,
                    is_centre=k == 0,
                    seed=(float(seed[0]), float(seed[1])),
                    territory=territory,
                )
            )
    _add_settlements(rng, villages, terrain, habitable)
    _add_households(rng, villages, communes)
    return villages


def _add_settlements(
    rng: np.random.Generator, villages: list[Village], terrain: Terrain, habitable: np.ndarray
) -> None:
    for v in villages:
        points = [np.array(v.seed)]
        wanted = int(rng.choice([1, 2, 3], p=[0.35, 0.4, 0.25]))
        if wanted > 1:
            candidates = _habitable_points(terrain, habitable, v.territory.buffer(-40.0))
            for _ in range(wanted - 1):
                if len(candidates) == 0:
                    break
                dist = np.min([np.hypot(*(candidates - p).T) for p in points], axis=0)
                ok = candidates[(dist >= 300.0) & (dist <= 2500.0)]
                if len(ok) == 0:
                    break
                points.append(ok[int(rng.integers(len(ok)))])
        v.settlements = [Settlement(float(p[0]), float(p[1]), 0) for p in points]


def _add_households(
    rng: np.random.Generator, villages: list[Village], communes: list[CommuneFact]
) -> None:
    for ci, fact in enumerate(communes):
        members = [v for v in villages if v.commune == ci]
        households = round(fact.population / PEOPLE_PER_HOUSEHOLD)
        weight = rng.gamma(4.0, 1.0, len(members))
        weight[0] *= 1.6  # the commune centre is the largest village
        spare = households - _MIN_HOUSEHOLDS * len(members)
        per_village = largest_remainder(spare, weight) + _MIN_HOUSEHOLDS
        people = largest_remainder(fact.population, per_village.astype(float))
        for v, h, p in zip(members, per_village, people, strict=True):
            v.households = int(h)
            v.population = int(p)
            share = np.concatenate([[2.0], rng.uniform(0.5, 1.2, len(v.settlements) - 1)])
            split = largest_remainder(int(h) - len(v.settlements), share) + 1
            for s, n in zip(v.settlements, split, strict=True):
                s.households = int(n)
