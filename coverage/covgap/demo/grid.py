"""The synthetic medium-voltage grid and which villages it powers.

A 35 kV backbone runs from a substation near the district town to every
commune centre village; 22 kV branches reach the other villages.  Both are
grown as one minimum spanning tree (Prim's algorithm, backbone first) over
straight spans whose cost is their length inflated by the terrain's mean
slope and by ridge crossings, so lines prefer valleys and gentle ground.
The villages left unpowered are the most remote: those with the costliest
branch path from the backbone (plus a share of the backbone path from the
substation).  Remoteness grows along every branch, so removing the most
remote villages leaves a connected grid that does not reach them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString

from covgap.demo.terrain import Terrain
from covgap.demo.villages import Village
from covgap.errors import DemoError

__all__ = ["PowerGrid", "build_grid", "span_costs"]

_SLOPE_WEIGHT = 6.0
_RIDGE_WEIGHT = 3.0
_BACKBONE_SHARE = 0.3
_SERVICE_DISTANCE_M = 1200.0
"""Settlements farther than this from any line are counted as unpowered households."""


@dataclass
class PowerGrid:
    """The generated grid.

    Attributes
    ----------
    substation
        (x, y) of the substation in metres.
    lines
        (LineString, voltage_kv) per span between powered nodes.
    powered
        Per village, whether the grid reaches it.
    households_unpowered
        Per village, households beyond the grid's reach.
    remoteness
        Per village, the cost score used to pick the unpowered ones.
    """

    substation: tuple[float, float]
    lines: list[tuple[LineString, int]]
    powered: np.ndarray
    households_unpowered: np.ndarray
    remoteness: np.ndarray


def span_costs(
    terrain: Terrain, xy: np.ndarray, step: float = 60.0, pairs: np.ndarray | None = None
) -> np.ndarray:
    """Cost of a straight span between every pair of points.

    Length x (1 + 6 x mean absolute gradient) + 3 x height of the highest
    point above the higher end (ridge crossing).  With ``pairs`` (``(m, 2)``
    indices), only those spans are costed and the others are infinite.
    """
    n = len(xy)
    if pairs is None:
        cost = np.zeros((n, n))
        todo = [(i, j) for i in range(n) for j in range(i + 1, n)]
    else:
        cost = np.full((n, n), np.inf)
        np.fill_diagonal(cost, 0.0)
        todo = [(int(i), int(j)) for i, j in pairs]
    for i, j in todo:
        a, b = xy[i], xy[j]
        length = float(np.hypot(*(b - a)))
        k = max(int(length // step), 2)
        t = np.linspace(0.0, 1.0, k + 1)
        z = terrain.sample(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        grad = np.abs(np.diff(z)).sum() / length
        ridge = max(float(z.max() - max(z[0], z[-1])), 0.0)
        cost[i, j] = cost[j, i] = length * (1 + _SLOPE_WEIGHT * grad) + _RIDGE_WEIGHT * ridge
    return cost


def _prim(cost: np.ndarray, in_tree: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Grow a tree from the nodes in ``in_tree`` over ``allowed`` nodes; return parents."""
    n = len(cost)
    parent = np.full(n, -1)
    in_tree = in_tree.copy()
    best = np.where(in_tree[:, None], cost, np.inf).min(0)
    best_from = np.where(in_tree[:, None], cost, np.inf).argmin(0)
    while True:
        cand = np.where(~in_tree & allowed, best, np.inf)
        v = int(np.argmin(cand))
        if not np.isfinite(cand[v]):
            break
        in_tree[v] = True
        parent[v] = best_from[v]
        closer = cost[v] < best
        best = np.where(closer, cost[v], best)
        best_from = np.where(closer, v, best_from)
    return parent


def build_grid(
    terrain: Terrain,
    villages: list[Village],
    substation: tuple[float, float],
    n_unpowered: int,
    *,
    sparse: bool = False,
    town: np.ndarray | None = None,
) -> PowerGrid:
    """Grow the grid and choose the ``n_unpowered`` most remote villages.

    Parameters
    ----------
    terrain
        The DEM.
    villages
        All villages; the first settlement of each is its grid node.
    substation
        Substation position (metres).
    n_unpowered
        How many villages the grid must not reach.
    sparse
        Cost only the spans of a Delaunay triangulation of the nodes (and of
        the backbone nodes), not every pair: a province's 1,500 villages
        would need a million terrain profiles.
    town
        Per village, True for the town's villages (always powered, never
        backbone nodes); default: codes starting with ``TC-TT-``.
    """
    xy = np.array([substation] + [v.seed for v in villages])
    n = len(xy)
    if town is None:
        town = np.array([v.code.startswith("TC-TT-") for v in villages])
    backbone = np.zeros(n, bool)
    backbone[0] = True
    backbone[1:] = [v.is_centre and not t for v, t in zip(villages, town, strict=True)]
    cost = span_costs(terrain, xy, pairs=_delaunay_pairs(xy, backbone) if sparse else None)
    root = np.zeros(n, bool)
    root[0] = True
    parent_bb = _prim(cost, root, backbone)
    parent = _prim(cost, backbone, np.ones(n, bool))
    parent[backbone] = parent_bb[backbone]

    order = _topological(parent)
    bb_cost = np.zeros(n)
    branch = np.zeros(n)
    for v in order:
        p = parent[v]
        if p < 0:
            continue
        if backbone[v]:
            bb_cost[v] = bb_cost[p] + cost[p, v]
        else:
            bb_cost[v] = bb_cost[p]
            branch[v] = branch[p] + cost[p, v]
    remote = np.where(backbone, -np.inf, branch + _BACKBONE_SHARE * bb_cost)
    remote[np.concatenate([[False], town])] = -np.inf
    ranked = np.lexsort((np.arange(n), -remote))
    unpowered = np.zeros(n, bool)
    unpowered[ranked[:n_unpowered]] = True
    lines = []
    for v in order:
        p = parent[v]
        if p < 0 or unpowered[v]:
            continue
        kv = 35 if backbone[v] else 22
        lines.append((LineString([xy[p], xy[v]]), kv))
    if any(unpowered[parent[v]] and not unpowered[v] for v in range(n) if parent[v] >= 0):
        raise DemoError("grid: an unpowered village lies between powered ones")
    network = shapely.MultiLineString([ln for ln, _ in lines])
    powered = ~unpowered[1:]
    unpowered_hh = np.zeros(len(villages), np.int64)
    for i, v in enumerate(villages):
        if not powered[i]:
            unpowered_hh[i] = v.households
            continue
        unpowered_hh[i] = sum(
            s.households
            for s in v.settlements[1:]
            if network.distance(shapely.Point(s.x, s.y)) > _SERVICE_DISTANCE_M
        )
    return PowerGrid(substation, lines, powered, unpowered_hh, remote[1:])


def _delaunay_pairs(xy: np.ndarray, backbone: np.ndarray) -> np.ndarray:
    """Edges of the Delaunay triangulations of all nodes and of the backbone nodes."""
    from scipy.spatial import Delaunay

    pairs = set()
    for idx in (np.arange(len(xy)), np.flatnonzero(backbone)):
        tri = Delaunay(xy[idx])
        for a, b, c in tri.simplices:
            for i, j in ((a, b), (b, c), (a, c)):
                u, v = sorted((int(idx[i]), int(idx[j])))
                pairs.add((u, v))
    return np.array(sorted(pairs), dtype=np.int64)


def _topological(parent: np.ndarray) -> list[int]:
    """Nodes ordered so that every parent comes before its children."""
    children: dict[int, list[int]] = {}
    roots = []
    for v, p in enumerate(parent):
        if p < 0:
            roots.append(v)
        else:
            children.setdefault(int(p), []).append(v)
    order: list[int] = []
    stack = sorted(roots, reverse=True)
    while stack:
        v = stack.pop()
        order.append(v)
        stack.extend(sorted(children.get(v, []), reverse=True))
    return order
