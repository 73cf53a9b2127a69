"""Compiled best-server kernels (private to ``covgap.radio``).

:func:`best_of_stack` takes the strongest of a stack of per-site rasters
(:func:`covgap.radio.signal.best_server` states the rule: strictly stronger
wins, so ties go to the first layer; NaN never wins), a row of the raster per
numba thread, layer by layer along each row so that every read is a
contiguous stream.

:func:`merge_into` merges a tile into larger rasters.
:func:`covgap.radio.signal.merge_tile` states the rule; this is its one pass
over the tile's cells, with no temporary arrays: a cell of the tile wins
where its signal is stronger, or where the raster has none yet, or where it
is equally strong from a lower site index. NaN (no signal) never wins. The
rule is a total order on (signal, -site), so merging tiles in any order gives
the same rasters.

The tile's site index may be stored as a position into ``lookup`` (the
ascending site indices of the task that made it), in a small integer type,
so that a tile crossing the network is smaller; negative values
(no site, unknown) are kept as they are.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["best_of_stack", "merge_into"]


@njit(cache=True, nogil=True)
def merge_into(  # pragma: no cover  (compiled; tested through merge_tile)
    rsrp: np.ndarray,
    best: np.ndarray,
    unknown: np.ndarray,
    row0: int,
    col0: int,
    tile_rsrp: np.ndarray,
    tile_best: np.ndarray,
    lookup: np.ndarray,
    tile_unknown: np.ndarray,
) -> None:
    """Merge one tile into ``rsrp``/``best``/``unknown`` at ``(row0, col0)``, in place.

    ``lookup`` empty: ``tile_best`` holds site indices; else positions into
    ``lookup``. ``tile_unknown`` empty: no cell of the tile is unknown.
    """
    rows, cols = tile_rsrp.shape
    mapped = lookup.size > 0
    with_unknown = tile_unknown.size > 0
    for r in range(rows):
        rr = row0 + r
        for c in range(cols):
            cc = col0 + c
            if with_unknown and tile_unknown[r, c]:
                unknown[rr, cc] = True
            new = tile_rsrp[r, c]
            if new != new:  # NaN: no signal from this tile
                continue
            site = np.int64(tile_best[r, c])
            if mapped and site >= 0:
                site = np.int64(lookup[site])
            cur = rsrp[rr, cc]
            if cur != cur or new > cur or (new == cur and site < best[rr, cc]):
                rsrp[rr, cc] = new
                best[rr, cc] = site


@njit(parallel=True, cache=True, nogil=True)
def best_of_stack(  # pragma: no cover  (compiled; tested through best_server)
    stack: np.ndarray,
    layers: np.ndarray,
    labels: np.ndarray,
    rsrp: np.ndarray,
    best: np.ndarray,
) -> None:
    """Strongest of ``stack[layers]`` into ``rsrp`` and its label into ``best``, in place.

    ``labels[k]`` is written for ``layers[k]``; ``-1`` and NaN where no layer
    has a signal. Strictly stronger wins: on a tie, the first of ``layers``.
    """
    rows = stack.shape[1]
    cols = stack.shape[2]
    for r in prange(rows):
        for c in range(cols):
            rsrp[r, c] = -np.inf
            best[r, c] = -1
        for k in range(layers.size):
            layer = layers[k]
            label = labels[k]
            for c in range(cols):
                v = stack[layer, r, c]
                if v > rsrp[r, c]:  # NaN compares False
                    rsrp[r, c] = v
                    best[r, c] = label
        for c in range(cols):
            if best[r, c] == -1:
                rsrp[r, c] = np.nan
