"""Compiled best-server merge of a tile into larger rasters (private to ``covgap.radio``).

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
from numba import njit

__all__ = ["merge_into"]


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
