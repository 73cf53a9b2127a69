"""Compiled ray sweep shared by the viewshed and signal kernels.

Geometry
--------
The square of side ``2 n + 1`` cells around an observer is split into eight
octants. In an octant, cells are addressed by a *major* index ``i`` (steps
along the octant's main axis, ``1..n``) and a *minor* index ``j`` (``0..i``).
Rays leave the observer's cell centre with slopes ``k / K`` (minor per major
step, ``k = 0..K``). ``K`` grows with distance: before column ``i`` is
decided, ``K`` is doubled until ``K >= oversample * i``, so adjacent rays are
never more than one cell (``1 / oversample``) apart where cells are decided,
and the sweep costs about ``0.6 n^2`` ray steps per octant instead of ``n^2``
for a fixed fan of ``n`` rays. A new ray's horizon is seeded with the mean of
its two neighbours' (the same interpolation the cells use, see below); the old
rays keep their exact horizons.

The octant is swept column by column (``i = 1, 2, ...``):

1. every cell ``(i, j)`` of column ``i`` is decided against the horizon the
   rays have accumulated over columns ``1..i-1``: the cell's own sight line has
   slope ``j / i``, which falls between rays ``k`` and ``k + 1``; the horizon
   of that sight line is interpolated linearly between the two rays (the "R3
   from R2 horizon" trick) and compared with the target at the cell centre;
2. every ray still within the radius then samples column ``i``: the ray
   crosses the column line at minor position ``i k / K``, where the elevation
   is interpolated linearly between the two cell centres on either side (the
   bilinear surface through the cell centres, evaluated on the column line),
   corrected for earth curvature and refraction, and the ray's running
   maximum is raised.

Horizons are kept as *tangents per major step*: a point at column ``i`` and
height ``y`` relative to the antenna (curvature-corrected) has tangent
``y / i``. Along one ray this orders points exactly as the elevation angle
does (the ray's length per major step is constant), it needs no square root
or division per cell (the target's curvature term uses the squared distance
``i^2 dx^2 + j^2 dy^2``), and it is the quantity that is linear between two
neighbouring rays on a column line, so the interpolation between rays is
exact where both rays cross the same pair of cell centres.

Each cell is visited once, each ray step costs O(1) and is branch-free. The
signal kernel also tracks, per ray and incrementally, the obstruction of the
largest elevation angle (the principal knife edge), the previous one
(transmitter-side edge) and the edge of the largest angle seen from the
principal edge (receiver-side edge): Deygout with up to three edges in O(1)
per cell, following :func:`covgap.radio.pathloss.deygout_loss_db` (side edges only
when the principal edge blocks the sight line, ``nu > 0``). Its per-cell
distance and median loss come from a float32 table built once per site and
shared by the octants; on columns without nodata the cells are done in three
passes (gather of the nearest ray's state, a contiguous branch-free pass with
the square roots and divisions, in float32 once the cancelling differences are
taken in float64, which LLVM vectorises, then the J look-ups). The ray state
is kept as one array per field, so that the ray step's edge tracking is a
contiguous branch-free pass too (vectorised); the few rays that find a new
principal edge are listed and done afterwards. LLVM cannot vectorise a loop that
reads an array at computed positions (``col[f]``) and writes another: numba
cannot tell it the arrays do not overlap, so such reads get a pass of their own.

Heights follow GDAL's convention: observer and target heights are above the
ground elevation at their cell centre; the curvature correction lowers a point
at horizontal distance ``d`` by ``cc d² / 12 740 000`` m.

Nodata (NaN) elevation is unknown terrain, never sea level: a cell whose sight
line crosses it is *unknown* unless known terrain already blocks it.

Outputs are written through a window: grid cell ``(r, c)`` goes to
``out[r - out_r0, c - out_c0]``; every cell within the radius (and the grid)
is written, nothing else is touched. :func:`window_half` gives the half sides
of the smallest window that holds a site's radius, so batch callers can reuse
small per-site buffers instead of whole grids.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from covgap.radio.pathloss import KNIFE_EDGE_NU_MIN, knife_edge_loss_db, median_loss_db

__all__ = [
    "NOT_VISIBLE",
    "UNKNOWN",
    "VISIBLE",
    "layouts",
    "median_loss_table",
    "pad",
    "signal_many",
    "signal_one",
    "signal_windows",
    "viewshed_many",
    "viewshed_one",
    "viewshed_windows",
    "window_half",
]

VISIBLE = np.uint8(1)
NOT_VISIBLE = np.uint8(0)
UNKNOWN = np.uint8(255)

#: Twice the earth radius GDAL uses, in metres (curvature correction denominator).
TWICE_EARTH_RADIUS_M = 12_740_000.0

_NEG = -1.0e30  # "no horizon yet": finite, so that interpolation stays finite
#: Array indices in the hot loops are unsigned (np.uint64) where they cannot be
#: negative: numba then skips its negative-index wraparound test (a few % faster).
_ONE = np.uint64(1)
#: Columns buffered before they are written to the output (see _flush_block).
_BLOCK = 16
#: Knife-edge table: J(nu) sampled every _NU_STEP from KNIFE_EDGE_NU_MIN up to
#: J_TABLE_NU_MAX; linear interpolation errs by at most |J''| h^2 / 8 =
#: 3.34 x 0.005^2 / 8 = 1e-5 dB.
_NU_STEP = 0.005
J_TABLE_NU_MAX = 60.0
_INV_NU_STEP = 1.0 / _NU_STEP


def _knife_edge_table() -> np.ndarray:
    """``J(nu)`` at ``KNIFE_EDGE_NU_MIN + q * _NU_STEP`` up to ``J_TABLE_NU_MAX`` and one step more.

    Same formula as :func:`covgap.radio.pathloss.knife_edge_loss_db` (ITU-R P.526),
    just above each sample (its ``nu <= -0.78`` test would zero the first).
    """
    n = math.ceil((J_TABLE_NU_MAX - KNIFE_EDGE_NU_MIN) / _NU_STEP) + 1
    v = KNIFE_EDGE_NU_MIN + np.arange(n + 1) * _NU_STEP + 1e-12 - 0.1
    return 6.9 + 20.0 * np.log10(np.sqrt(v * v + 1.0) + v)


#: The knife-edge table is a module constant: numba freezes a global array into
#: the compiled code as read-only data, and LLVM vectorises look-ups into it
#: (it cannot prove that an array *argument* does not overlap the arrays a loop
#: writes, so look-ups into an argument stay scalar).
_J_TABLE = _knife_edge_table()
_J_X_TOP = float(_J_TABLE.shape[0] - 2)
#: Beyond the table (J > 42 dB), J is computed from the formula.
_J_DIRECT_FROM = KNIFE_EDGE_NU_MIN + (_J_TABLE.shape[0] - 2) * _NU_STEP
#: Rays per octant at the start of the sweep (denser than the cells near the
#: observer, where terrain subtends large angles; see the module notes).
_MIN_RAYS = 128
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # not "nnan": NaN is nodata
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": _FASTMATH}


def pad(z: np.ndarray) -> np.ndarray:
    """Return ``z`` as float32 with a one-cell NaN border (the kernels' input layout).

    The border lets the ray sampler read the neighbour of an edge cell without
    a bounds test; it is never sampled with a non-zero weight.
    """
    rows, cols = z.shape
    zp = np.full((rows + 2, cols + 2), np.nan, np.float32)
    zp[1:-1, 1:-1] = z
    return zp


def layouts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the padded elevation and its C-contiguous transpose (the kernels' inputs).

    Octants that sweep along rows read ``zp``, those that sweep along columns
    read ``zpt = zp.T`` so that both read memory contiguously along their
    minor axis. Build them once per DEM and reuse them for every site.
    """
    zp = pad(z)
    return zp, np.ascontiguousarray(zp.T)


def window_half(radius_m: float, dx: float, dy: float, rows: int, cols: int) -> tuple[int, int]:
    """Half sides ``(rows, cols)`` of the window that holds every cell within a radius.

    A site at cell ``(r0, c0)`` writes only cells ``(r0 - hr .. r0 + hr,
    c0 - hc .. c0 + hc)``; a window of shape ``(2 hr + 1, 2 hc + 1)`` with
    origin ``(r0 - hr, c0 - hc)`` holds them all.
    """
    hr = min(int(radius_m / dy), rows)
    hc = min(int(radius_m / dx), cols)
    return hr, hc


@njit(inline="always", **_JIT)
def _octant_frame(
    octant: int,
    r0: int,
    c0: int,
    rows: int,
    cols: int,
    ocols: int,
    dx: float,
    dy: float,
    radius_m: float,
) -> tuple[int, int, int, int, int, int, float, int, float, float, float]:
    """Return the set-up of one octant, shared by the kernels.

    Returns ``(zbase, zs_maj, zs_min, os_maj, os_min, reach_min, step_min, n,
    a2, b2, r_ray2)``: input base and strides, output strides, the minor
    reach inside the grid, the minor step length, the last column ``n``
    (inside the grid and the radius; < 1: nothing to sweep), the squared
    major and minor steps, and the squared radius within which rays sample.

    Octants 0-3 sweep along columns and read the transposed elevation
    (:func:`layouts`), octants 4-7 sweep along rows and read the plain one:
    either way the minor axis is contiguous in memory.
    """
    s_maj = 1 if (octant & 1) == 0 else -1
    s_min = 1 if (octant & 2) == 0 else -1
    if octant < 4:  # major axis: columns; input: transposed (cols + 2, rows + 2)
        zbase = (c0 + 1) * (rows + 2) + r0 + 1
        zs_maj, zs_min = s_maj * (rows + 2), s_min
        os_maj, os_min = s_maj, s_min * ocols
        reach_maj = cols - 1 - c0 if s_maj > 0 else c0
        reach_min = rows - 1 - r0 if s_min > 0 else r0
        step_maj, step_min = dx, dy
    else:  # major axis: rows; input: plain (rows + 2, cols + 2)
        zbase = (r0 + 1) * (cols + 2) + c0 + 1
        zs_maj, zs_min = s_maj * (cols + 2), s_min
        os_maj, os_min = s_maj * ocols, s_min
        reach_maj = rows - 1 - r0 if s_maj > 0 else r0
        reach_min = cols - 1 - c0 if s_min > 0 else c0
        step_maj, step_min = dy, dx
    n = min(int(radius_m / step_maj), reach_maj)
    r_ray = radius_m + 3.0 * step_min + step_maj
    return (
        zbase,
        zs_maj,
        zs_min,
        os_maj,
        os_min,
        reach_min,
        step_min,
        n,
        step_maj * step_maj,
        step_min * step_min,
        r_ray * r_ray,
    )


@njit(**_JIT)
def _fill_radius(
    out: np.ndarray,
    r0: int,
    c0: int,
    rows: int,
    cols: int,
    out_r0: int,
    out_c0: int,
    radius_m: float,
    dx: float,
    dy: float,
    value: float,
) -> None:
    """Set every grid cell within the radius of cell ``(r0, c0)`` to ``value``."""
    hr = int(radius_m / dy)
    hc = int(radius_m / dx)
    for r in range(max(r0 - hr, 0), min(r0 + hr, rows - 1) + 1):
        ddy = (r - r0) * dy
        for c in range(max(c0 - hc, 0), min(c0 + hc, cols - 1) + 1):
            ddx = (c - c0) * dx
            if ddx * ddx + ddy * ddy <= radius_m * radius_m:
                out[r - out_r0, c - out_c0] = value


@njit(inline="always", **_JIT)
def _fill_column(
    zf: np.ndarray,
    zcol: int,
    zs_min: int,
    m: int,
    cz: float,
    cbf: float,
    inv_i: float,
    col: np.ndarray,
) -> bool:
    """Column ``i`` as tangents from the antenna: ``col[f] = (z - cz - cbf f^2) / i``.

    ``zf[zcol + f * zs_min]`` is the elevation of minor step ``f`` (``zs_min``
    is +1 or -1: one loop per direction, so that the loads are contiguous and
    vectorised rather than gathered). Returns whether the column has nodata.
    """
    nan_col = False
    if zs_min > 0:
        for f in range(m + 1):
            v = (np.float64(zf[np.uint64(zcol + f)]) - cz - cbf * (f * f)) * inv_i
            col[f] = v
            nan_col |= v != v
    else:
        for f in range(m + 1):
            v = (np.float64(zf[np.uint64(zcol - f)]) - cz - cbf * (f * f)) * inv_i
            col[f] = v
            nan_col |= v != v
    return nan_col


@njit(inline="always", **_JIT)
def _flush_block(
    of: np.ndarray,
    blk: np.ndarray,
    blk_ocol: np.ndarray,
    blk_jend: np.ndarray,
    nb: int,
    os_min: int,
) -> None:
    """Write ``nb`` buffered columns to the output, one output row at a time.

    Column ``b`` holds cells ``0..blk_jend[b]`` of the output column starting at
    ``blk_ocol[b]`` (cell ``j`` at ``blk_ocol[b] + j * os_min``); the buffered
    columns are consecutive, so each row's values land side by side.
    """
    j_top = 0
    for b in range(nb):
        j_top = max(j_top, blk_jend[b])
    for j in range(j_top + 1):
        step = j * os_min
        for b in range(nb):
            if j <= blk_jend[b]:
                of[np.uint64(blk_ocol[b] + step)] = blk[b, j]


@njit(inline="always", **_JIT)
def _power_of_two(n: int) -> int:
    """Smallest power of two >= ``n`` (and >= 1)."""
    p = 1
    while p < n:
        p *= 2
    return p


@njit(inline="always", **_JIT)
def _ray_reach(i: int, kk: int, reach_min: int, r_ray2: float, a2: float, b2: float) -> int:
    """Last ray that samples column ``i``: inside the grid and (near) the radius."""
    k_end = min(kk, (min(i, reach_min) * kk) // i)
    s2 = (r_ray2 / (i * i) - a2) / b2
    if s2 < 1.0:
        k_end = min(k_end, int(math.sqrt(max(s2, 0.0)) * kk) + 1)
    return k_end


@njit(inline="always", **_JIT)
def _site_frame(
    zp: np.ndarray,
    out: np.ndarray,
    r0: int,
    c0: int,
    out_r0: int,
    out_c0: int,
    antenna_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    oversample: int,
) -> tuple[bool, int, int, int, tuple[int, float, float, float], int, int, int, int]:
    """Return the set-up of one site, shared by the kernels.

    Returns ``(ok, rows, cols, ocols, site, dens, n_max, kk_min, kk_max)``:
    ``ok`` is false when the site is outside the grid or on nodata (the
    caller marks its radius unknown); ``site = (obase, z0, curv, r2)`` is
    the site's output index, antenna elevation, curvature factor and squared
    radius, as :func:`_next_column` takes them; ``dens`` rays per cell where
    cells are decided (``oversample`` rounded up to a power of two); ``n_max``
    bounds the columns of an octant; the fan starts with ``kk_min`` rays and
    never needs more than ``kk_max``.
    """
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    ocols = out.shape[1]
    ok = 0 <= r0 < rows and 0 <= c0 < cols and not math.isnan(zp[r0 + 1, c0 + 1])
    z0 = np.float64(zp[r0 + 1, c0 + 1]) + antenna_height if ok else 0.0
    obase = (r0 - out_r0) * ocols + (c0 - out_c0)
    site = (obase, z0, curvature_coef / TWICE_EARTH_RADIUS_M, radius_m * radius_m)
    dens = _power_of_two(oversample)
    n_max = min(int(radius_m / min(dx, dy)), max(rows, cols)) + 1
    kk_min = dens * _power_of_two(min(_MIN_RAYS, n_max))
    kk_max = max(2 * dens * n_max, kk_min) + 2
    return ok, rows, cols, ocols, site, dens, n_max, kk_min, kk_max


@njit(inline="always", **_JIT)
def _start_rays(kk: int, rays: tuple, unk: np.ndarray, starts: tuple) -> None:
    """Set rays ``0..kk + 1`` to their start state: field ``f`` to ``starts[f]``, known."""
    for k in range(kk + 2):
        unk[k] = 0
    for f in range(len(rays)):
        a = rays[f]
        v = starts[f]
        for k in range(kk + 2):
            a[k] = v


@njit(inline="always", **_JIT)
def _double_rays(kk: int, rays: tuple, unk: np.ndarray, mean_seed: bool) -> int:
    """Double the fan of ``kk`` rays, shared by the kernels; return the new number of rays.

    Ray ``k`` becomes ray ``2 k``, and a new ray ``2 k + 1`` is seeded from
    its two neighbours: with ``mean_seed`` every field (``rays``: one array
    per field, the horizon first) is their mean (viewshed), else it takes all
    the fields of the neighbour with the higher horizon, the more obstructed
    one (signal); it is unknown if either neighbour is. The kernels call it
    only when a column needs more rays (a few times per octant), outside
    :func:`_next_column`, so that the per-column path passes no ray arrays.
    """
    for k in range(kk, 0, -1):
        for a in rays:
            a[2 * k] = a[k]
        unk[2 * k] = unk[k]
    hz = rays[0]
    for k in range(kk):
        if mean_seed:
            for a in rays:
                a[2 * k + 1] = 0.5 * (a[2 * k] + a[2 * k + 2])
        else:
            src = 2 * k if hz[2 * k] >= hz[2 * k + 2] else 2 * k + 2
            for a in rays:
                a[2 * k + 1] = a[src]
        unk[2 * k + 1] = unk[2 * k] | unk[2 * k + 2]
    kk *= 2
    for a in rays:  # read with weight 0 only
        a[kk + 1] = _NEG if mean_seed else a[kk]
    unk[kk + 1] = 0
    return kk


@njit(inline="always", **_JIT)
def _next_column(
    i: int,
    kk: int,
    zf: np.ndarray,
    frame: tuple[int, int, int, int, int, int, float, int, float, float, float],
    site: tuple[int, float, float, float],
    col: np.ndarray,
) -> tuple[bool, float, int, int, int, float, bool]:
    """Set up column ``i`` of an octant swept with ``kk`` rays, shared by the kernels.

    Fills ``col`` with the column as tangents from the antenna, curvature
    included (:func:`_fill_column`), as far as the cells and the rays need
    it, plus one weight-0 element. ``frame`` is :func:`_octant_frame`'s,
    ``site`` :func:`_site_frame`'s. Returns ``(ok, inv_i, j_end, ocol,
    k_end, step_k, nan_col)``: ``ok`` false when column ``i`` lies beyond
    the radius (the octant is done); ``1 / i``; the last cell of the column
    to decide; the output index of its cell 0; the last ray that samples it;
    the minor step between rays on it (ray ``k`` crosses it at ``k *
    step_k``: exact, ``kk`` is a power of two); whether it has nodata.
    """
    zbase, zs_maj, zs_min, os_maj, _, reach_min, step_min, _, a2, b2, r_ray2 = frame
    obase, z0, curv, r2 = site
    inv_i = 1.0 / i
    dd = i * i * a2
    rem = r2 - dd
    if rem < 0.0:
        return False, inv_i, 0, 0, 0, 0.0, False
    j_end = min(i, reach_min, int(math.sqrt(rem) / step_min))
    zcol = zbase + i * zs_maj
    ocol = obase + i * os_maj
    k_end = _ray_reach(i, kk, reach_min, r_ray2, a2, b2)
    step_k = i / kk  # ray k crosses column i at minor k * step_k (exact: kk = 2^m)
    m = max(j_end, min(i, reach_min, int(k_end * step_k) + 1))
    # col[f] = (z - z0 - curv d^2) / i at the cell centres
    nan_col = _fill_column(zf, zcol, zs_min, m, z0 + curv * dd, curv * b2, inv_i, col)
    col[m + 1] = 0.0  # read with weight 0 only
    return True, inv_i, j_end, ocol, k_end, step_k, nan_col


@njit(**_JIT)
def viewshed_one(
    zp: np.ndarray,
    zpt: np.ndarray,
    r0: int,
    c0: int,
    observer_height: float,
    target_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    oversample: int,
    out: np.ndarray,
    out_r0: int,
    out_c0: int,
) -> None:
    """Visibility state of every cell within ``radius_m`` of cell ``(r0, c0)``.

    Parameters
    ----------
    zp
        Elevation with a one-cell NaN border (:func:`pad`), float32
        ``(rows + 2, cols + 2)``, C-contiguous, NaN for nodata.
    r0, c0
        Observer cell in the unpadded grid (outside it: everything unknown).
    observer_height, target_height
        Heights above the ground at the observer and target cell centres, m.
    radius_m
        Cells whose centre lies farther than this from the observer's are left
        untouched.
    dx, dy
        Cell width and height, m.
    curvature_coef
        GDAL's curvature coefficient ``cc = 1 / k``; 0 disables the correction.
    oversample
        Rays per cell where cells are decided (1 or more).
    out
        uint8 C-contiguous window; grid cell ``(r, c)`` is
        ``out[r - out_r0, c - out_c0]``. Every cell within the radius (and the
        grid) receives ``VISIBLE``, ``NOT_VISIBLE`` or ``UNKNOWN``; the window
        must hold them all (see :func:`window_half`).
    out_r0, out_c0
        Grid cell of the window's first element (0, 0 for a full grid).
    """
    ok, rows, cols, ocols, site, dens, n_max, kk_min, kk_max = _site_frame(
        zp, out, r0, c0, out_r0, out_c0, observer_height, radius_m, dx, dy, curvature_coef,
        oversample,
    )  # fmt: skip
    if not ok:
        _fill_radius(out, r0, c0, rows, cols, out_r0, out_c0, radius_m, dx, dy, UNKNOWN)
        return
    zflat = zp.reshape(-1)
    ztflat = zpt.reshape(-1)
    of = out.reshape(-1)
    of[site[0]] = VISIBLE
    hz = np.empty(kk_max + 1, np.float64)
    unk = np.empty(kk_max + 1, np.uint8)
    rays = (hz,)
    col = np.empty(n_max + 2, np.float64)
    for octant in range(8):
        frame = _octant_frame(octant, r0, c0, rows, cols, ocols, dx, dy, radius_m)
        os_min, n = frame[4], frame[7]
        zf = zflat if octant >= 4 else ztflat
        if n < 1:
            continue
        kk = kk_min
        _start_rays(kk, rays, unk, (_NEG,))
        any_unk = False
        for i in range(1, n + 1):
            if kk < dens * i:  # new rays take their neighbours' mean horizon
                kk = _double_rays(kk, rays, unk, True)
            ok, inv_i, j_end, ocol, k_end, step_k, nan_col = _next_column(
                i, kk, zf, frame, site, col
            )
            if not ok:
                break
            # 1. decide the cells of column i against the horizon of columns < i
            u_step = kk * inv_i
            tgt = target_height * inv_i
            if not (any_unk or nan_col):
                for j in range(j_end + 1):
                    t = col[j] + tgt
                    u = j * u_step
                    k = np.uint64(u)  # unsigned: no negative-index wraparound test
                    w = u - k
                    h0 = hz[k]
                    h = h0 + w * (hz[k + _ONE] - h0)
                    state = VISIBLE
                    if t < h:
                        state = NOT_VISIBLE
                    of[np.uint64(ocol + j * os_min)] = state
            else:  # a NaN target, or a ray that crossed nodata, is unknown unless blocked
                for j in range(j_end + 1):
                    t = col[j] + tgt
                    u = j * u_step
                    k = min(int(u), kk - 1)
                    w = u - k
                    h0 = hz[k]
                    h = h0 + w * (hz[k + 1] - h0)
                    ray_unk = (unk[k] | (unk[k + 1] & (w > 0.0))) != 0
                    state = UNKNOWN
                    if t >= h and not ray_unk:
                        state = VISIBLE
                    if t < h:
                        state = NOT_VISIBLE
                    of[np.uint64(ocol + j * os_min)] = state
            # 2. let every ray still within reach sample column i (linear between
            # the two cell centres it passes between; the curvature term, quadratic
            # in the minor offset, is interpolated too: error <= cc dy^2 / (4 i 2R))
            if not nan_col:
                for k in range(k_end + 1):
                    pos = k * step_k
                    f = np.uint64(pos)
                    a = col[f]
                    t = a + (pos - f) * (col[f + _ONE] - a)
                    hk = hz[k]
                    hz[k] = t if t > hk else hk
            else:  # an exact hit must not read its (maybe nodata) neighbour
                for k in range(k_end + 1):
                    pos = k * step_k
                    f = int(pos)
                    a = col[f]
                    fr = pos - f
                    t = a + fr * (col[f + 1] - a) if fr > 0.0 else a
                    if t > hz[k]:
                        hz[k] = t
                    elif t != t:
                        unk[k] = 1
                        any_unk = True


@njit(parallel=True, **_JIT)
def viewshed_many(
    zp: np.ndarray,
    zpt: np.ndarray,
    rc: np.ndarray,
    observer_heights: np.ndarray,
    target_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    oversample: int,
) -> np.ndarray:
    """Visibility states for many observers on the full grid, observers over the threads.

    Parameters
    ----------
    zp
        Padded elevation (:func:`pad`).
    rc
        int64 ``(n, 2)``: observer cells (row, col) in the unpadded grid.
    observer_heights
        float64 ``(n,)``: observer heights above ground, m.
    target_height, radius_m, dx, dy, curvature_coef, oversample
        As for :func:`viewshed_one`.

    Returns
    -------
    numpy.ndarray
        uint8 ``(n, rows, cols)`` of ``VISIBLE``/``NOT_VISIBLE``/``UNKNOWN``
        (``NOT_VISIBLE`` outside the radius).
    """
    n = rc.shape[0]
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    out = np.zeros((n, rows, cols), np.uint8)
    for s in prange(n):
        viewshed_one(
            zp,
            zpt,
            rc[s, 0],
            rc[s, 1],
            observer_heights[s],
            target_height,
            radius_m,
            dx,
            dy,
            curvature_coef,
            oversample,
            out[s],
            0,
            0,
        )
    return out


@njit(parallel=True, **_JIT)
def viewshed_windows(
    zp: np.ndarray,
    zpt: np.ndarray,
    rc: np.ndarray,
    observer_heights: np.ndarray,
    target_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    oversample: int,
    out: np.ndarray,
) -> None:
    """Visibility states of many observers into reusable per-site windows.

    ``out`` is uint8 ``(n, 2 hr + 1, 2 hc + 1)`` with ``(hr, hc)`` from
    :func:`window_half`; site ``s``'s window starts at grid cell
    ``(rc[s, 0] - hr, rc[s, 1] - hc)``. Cells within the radius are all
    rewritten; cells outside it (or outside the grid) are left as they were,
    so a buffer zeroed once can be reused for any number of batches.
    Allocation-free apart from per-site scratch; this is the batch entry point
    for callers that run the kernel many times (site ranking, the benchmark).
    """
    n = rc.shape[0]
    hr = (out.shape[1] - 1) // 2
    hc = (out.shape[2] - 1) // 2
    for s in prange(n):
        viewshed_one(
            zp,
            zpt,
            rc[s, 0],
            rc[s, 1],
            observer_heights[s],
            target_height,
            radius_m,
            dx,
            dy,
            curvature_coef,
            oversample,
            out[s],
            rc[s, 0] - hr,
            rc[s, 1] - hc,
        )


@njit(**_JIT)
def median_loss_table(
    n: int,
    step_m: float,
    frequency_mhz: float,
    base_height_m: float,
    mobile_height_m: float,
    model: int,
    environment: int,
) -> np.ndarray:
    """Median path loss at distances ``q * step_m``, ``q = 0..n`` (dB)."""
    table = np.empty(n + 1, np.float64)
    for q in range(n + 1):
        table[q] = median_loss_db(
            q * step_m, frequency_mhz, base_height_m, mobile_height_m, model, environment
        )
    return table


@njit(inline="always", **_JIT)
def _j_table(nu: float) -> float:
    """J(nu) from the table, clamped at its top; branch-free (vectorisable)."""
    x = min(max((nu - KNIFE_EDGE_NU_MIN) * _INV_NU_STEP, 0.0), _J_X_TOP)
    q = np.uint64(x)  # unsigned: no negative-index wraparound test
    j0 = _J_TABLE[q]
    j = j0 + (x - q) * (_J_TABLE[q + _ONE] - j0)
    return j if nu > KNIFE_EDGE_NU_MIN else 0.0


@njit(inline="always", **_JIT)
def _j_lookup(nu: float) -> float:
    """J(nu): from the table, or from the formula beyond it (nu > 60: rare)."""
    if nu >= _J_DIRECT_FROM:
        return knife_edge_loss_db(nu)
    return _j_table(nu)


@njit(inline="always", **_JIT)
def _side_edges(
    sqrt_lam2: float,
    i: float,
    d: float,
    y_rx: float,
    p_i: float,
    p_h: float,
    j_t: float,
    q_i: float,
    q_h: float,
) -> float:
    """Deygout's two side edges of a path whose principal edge blocks it, dB.

    Major-step coordinates: the transmitter antenna is at (0, 0), the
    receiver at ``(i, y_rx)`` (heights in metres relative to the antenna,
    curvature-corrected), the path is ``d`` metres long, so a major position
    ``x`` lies ``x L`` from the transmitter (``L = d / i``) and an edge ``h``
    above the line joining the ends of its sub-path, ``x1`` and ``x2`` from
    them, has ``nu = h sqrt((2 / lambda) (d1 + d2) / (d1 d2)) = h sqrt(lam2
    (x1 + x2) / (L x1 x2))``. ``p`` is the principal edge (largest elevation
    angle from the transmitter), ``q`` the receiver-side edge (largest angle
    seen from ``p``; position 0: none). The transmitter-side edge (the
    previous principal edge) does not depend on the receiver: its loss
    ``j_t`` was computed on the ray when ``p`` was found (with the ray's
    ``L``, within 0.1 % of the cell's).
    """
    # sub-path top of p -> receiver; branch-free, masked when there is no q
    x2 = i - p_i
    a = q_i - p_i
    num = (q_h - p_h) * x2 - (y_rx - p_h) * a  # h times x2
    # nu = (num / x2) sqrt(lam2 x2 / (L a (i - q_i)))
    nu_q = num * sqrt_lam2 * math.sqrt(i / max(d * x2 * a * (i - q_i), 1e-300))
    nu_q = nu_q if p_i < q_i < i else -1.0  # no q: J(-1) = 0
    return j_t + _j_lookup(nu_q)


@njit(**_JIT)
def signal_one(
    zp: np.ndarray,
    zpt: np.ndarray,
    r0: int,
    c0: int,
    mast_height: float,
    receiver_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    eirp_dbm: float,
    loss_table: np.ndarray,
    loss_step_m: float,
    wavelength_m: float,
    diffraction: int,
    out: np.ndarray,
    out_r0: int,
    out_c0: int,
) -> None:
    """Received signal (dBm) of one site at every cell within ``radius_m``.

    Parameters
    ----------
    zp
        Padded elevation (:func:`pad`).
    r0, c0
        Site cell in the unpadded grid (outside it, or on nodata: all NaN).
    mast_height, receiver_height
        Antenna and receiver heights above ground, m.
    radius_m, dx, dy, curvature_coef
        As for :func:`viewshed_one`.
    eirp_dbm
        Power per reference signal + antenna gains - cable loss, dBm.
    loss_table, loss_step_m
        Median path loss sampled every ``loss_step_m`` metres from 0
        (:func:`median_loss_table`), interpolated linearly.
    wavelength_m
        Carrier wavelength, m.
    diffraction
        0 none, 1 principal knife edge, 2 Deygout with up to three edges.
    out, out_r0, out_c0
        float32 window as for :func:`viewshed_one`; every cell within the
        radius receives the signal, or NaN where it is unknown (nodata on the
        path, or the site on nodata).
    """
    ok, rows, cols, ocols, site, dens, n_max, kk_min, kk_max = _site_frame(
        zp, out, r0, c0, out_r0, out_c0, mast_height, radius_m, dx, dy, curvature_coef, 1
    )
    if not ok:
        _fill_radius(out, r0, c0, rows, cols, out_r0, out_c0, radius_m, dx, dy, np.nan)
        return
    zflat = zp.reshape(-1)
    ztflat = zpt.reshape(-1)
    of = out.reshape(-1)
    r2 = site[3]
    lam2 = 2.0 / wavelength_m
    inv_loss_step = 1.0 / loss_step_m
    n_loss = loss_table.shape[0] - 2
    sqrt_lam2 = math.sqrt(lam2)
    of[site[0]] = eirp_dbm - loss_table[0]
    unk = np.empty(kk_max + 1, np.uint8)
    # per ray, one array per field (contiguous, so that the ray step can be
    # vectorised): horizon tangent, principal edge p (major position, height
    # relative to the antenna), J of the transmitter-side edge, receiver-side
    # edge q ("no q": q_i = p_i, q_h = _NEG)
    hz = np.empty(kk_max + 2, np.float64)
    s_pi = np.empty(kk_max + 2, np.float64)
    s_ph = np.empty(kk_max + 2, np.float64)
    s_jt = np.empty(kk_max + 2, np.float64)
    s_qi = np.empty(kk_max + 2, np.float64)
    s_qh = np.empty(kk_max + 2, np.float64)
    rays = (hz, s_pi, s_ph, s_jt, s_qi, s_qh)
    new_k = np.empty(kk_max + 2, np.int64)  # rays that found a new principal edge
    flag = np.empty(kk_max + 2, np.uint8)
    tb = np.empty(kk_max + 2, np.float64)  # the rays' samples of a column
    col = np.empty(n_max + 2, np.float64)
    sc_nu = np.empty(n_max + 2, np.float32)  # per-cell scratch of one column
    sc_nuq = np.empty(n_max + 2, np.float32)
    sc_jt = np.empty(n_max + 2, np.float64)
    # values of the last few columns of an octant whose columns are rows apart in
    # the output, written out row by row (a blocked transpose): one row stride
    # per value would cost a cache line and a TLB entry per cell
    blk = np.empty((_BLOCK, n_max + 2), np.float32)
    blk_ocol = np.empty(_BLOCK, np.int64)
    blk_jend = np.empty(_BLOCK, np.int64)
    g_pi = np.empty(n_max + 2, np.float64)
    g_ph = np.empty(n_max + 2, np.float64)
    g_qi = np.empty(n_max + 2, np.float64)
    g_qh = np.empty(n_max + 2, np.float64)
    # distance and median loss of cell (i, j), shared by the octants of a family
    # (0-3: major step dx, 4-7: major step dy; one table when dx == dy), float32
    # like the output; filled when a family's first octant needs it
    n_tab = int(radius_m / min(dx, dy)) + 1
    n_fam = 1 if dx == dy else 2
    dist = np.empty((n_fam, n_tab + 1, n_tab + 1), np.float32)
    med = np.empty((n_fam, n_tab + 1, n_tab + 1), np.float32)
    filled = np.zeros(n_fam, np.int64)  # columns filled so far, per family
    for octant in range(8):
        frame = _octant_frame(octant, r0, c0, rows, cols, ocols, dx, dy, radius_m)
        os_min, step_min, n, a2, b2 = frame[4], frame[6], frame[7], frame[8], frame[9]
        zf = zflat if octant >= 4 else ztflat
        if n < 1:
            continue
        fam = 0 if n_fam == 1 or octant < 4 else 1
        for i in range(filled[fam] + 1, n + 1):
            rem = r2 - i * i * a2
            if rem < 0.0:
                break
            j_top = min(i, int(math.sqrt(rem) / step_min))
            for j in range(j_top + 1):
                d = math.sqrt(i * i * a2 + (j * j) * b2)
                x = d * inv_loss_step
                qi = min(int(x), n_loss)
                dist[fam, i, j] = d
                med[fam, i, j] = loss_table[qi] + (x - qi) * (loss_table[qi + 1] - loss_table[qi])
            filled[fam] = i
        kk = kk_min
        # no horizon, no principal edge, no J, no receiver-side edge ("no q")
        _start_rays(kk, rays, unk, (_NEG, 0.0, 0.0, 0.0, 0.0, _NEG))
        any_unk = False
        blocked = octant < 4  # columns of the octant are rows apart in the output
        nb = 0  # columns in the block
        for i in range(1, n + 1):
            if kk < dens * i:  # a new ray takes its more obstructed neighbour's state
                kk = _double_rays(kk, rays, unk, False)
            ok, inv_i, j_end, ocol, k_end, step_k, nan_col = _next_column(
                i, kk, zf, frame, site, col
            )
            if not ok:
                break
            fi = np.float64(i)
            # 1. the cells of column i, against the edges of the nearest ray
            u_step = kk * inv_i
            tgt = receiver_height * inv_i
            check_unk = any_unk or nan_col
            drow = dist[fam, i]
            mrow = med[fam, i]
            if not check_unk and diffraction != 0:
                # common case, in two passes so that the first (square roots and
                # divisions, no branches, no table look-ups) can be vectorised:
                # (a) per cell, nu of the principal edge and of the receiver-side
                # edge, -1 where they do not apply (J(-1) = 0), and the
                # transmitter-side edge's J where it applies; (b) the look-ups
                side_on = diffraction == 2
                for j in range(j_end + 1):  # gather the state of each cell's nearest ray
                    u = j * u_step
                    k0 = np.uint64(u)
                    k = k0 + np.uint64(u - k0 >= 0.5)
                    g_pi[j] = s_pi[k]
                    g_ph[j] = s_ph[k]
                    g_qi[j] = s_qi[k]
                    g_qh[j] = s_qh[k]
                    sc_jt[j] = s_jt[k]
                for j in range(j_end + 1):  # contiguous, branch-free: vectorised
                    t = col[j] + tgt
                    d = np.float64(drow[j])
                    p_i = g_pi[j]
                    p_h = g_ph[j]
                    q_i = g_qi[j]
                    q_h = g_qh[j]
                    x2 = fi - p_i
                    # principal edge (see below and pathloss.deygout_loss_db)
                    g = np.float32(max(p_i * x2 * d, 1e-30))
                    h = np.float32((p_h - t * p_i) * fi * sqrt_lam2)
                    nu = h / np.sqrt(g)
                    edge = p_i > 0.0
                    nu = nu if edge else np.float32(-1.0)
                    # receiver-side edge (as in _side_edges)
                    a = q_i - p_i
                    num = np.float32(((q_h - p_h) * x2 - (t * fi - p_h) * a) * sqrt_lam2)
                    gq = np.float32(max(d * x2 * a * (fi - q_i), 1e-30))
                    nu_q = num * np.sqrt(np.float32(fi) / gq)
                    blocks = side_on & edge & (nu > 0.0)
                    nu_q = nu_q if (blocks & (p_i < q_i) & (q_i < fi)) else np.float32(-1.0)
                    sc_nu[j] = nu
                    sc_nuq[j] = nu_q
                    sc_jt[j] = sc_jt[j] if blocks else 0.0
                sc_val = blk[nb]
                over = False  # a nu beyond the knife-edge table
                for j in range(j_end + 1):  # vectorised too (the table is constant data)
                    nu = np.float64(sc_nu[j])
                    nu_q = np.float64(sc_nuq[j])
                    diff = _j_table(nu) + _j_table(nu_q) + sc_jt[j]
                    sc_val[j] = eirp_dbm - np.float64(mrow[j]) - diff
                    over |= (nu >= _J_DIRECT_FROM) | (nu_q >= _J_DIRECT_FROM)
                if over:  # J > 42 dB: rare
                    for j in range(j_end + 1):
                        nu = np.float64(sc_nu[j])
                        nu_q = np.float64(sc_nuq[j])
                        if nu >= _J_DIRECT_FROM or nu_q >= _J_DIRECT_FROM:
                            diff = _j_lookup(nu) + _j_lookup(nu_q) + sc_jt[j]
                            sc_val[j] = eirp_dbm - np.float64(mrow[j]) - diff
                if blocked:
                    blk_ocol[nb] = ocol
                    blk_jend[nb] = j_end
                    nb += 1
                    if nb == _BLOCK:
                        _flush_block(of, blk, blk_ocol, blk_jend, nb, os_min)
                        nb = 0
                else:
                    for j in range(j_end + 1):
                        of[np.uint64(ocol + j * os_min)] = sc_val[j]
                j_end = -1  # done: the general loop below runs no cell
            for j in range(j_end + 1):
                t = col[j] + tgt  # receiver tangent; its height is t * i
                u = j * u_step
                k0 = int(u)
                w = u - k0
                value = np.nan
                if not (check_unk and (t != t or (unk[k0] | (unk[k0 + 1] & (w > 0.0))) != 0)):
                    k = k0 + 1 if w >= 0.5 else k0
                    d = np.float64(drow[j])
                    median = np.float64(mrow[j])
                    diff = 0.0
                    if diffraction != 0:
                        # principal edge, as in pathloss.deygout_loss_db: J(nu) when
                        # nu > -0.78; branch-free (cells alternate unpredictably
                        # between Fresnel-clear and not)
                        p_i = s_pi[k]
                        p_h = s_ph[k]
                        h = p_h - t * p_i  # edge height above the sight line
                        # nu = h sqrt(2 d / (lambda d1 d2)), d1 = p_i d / i, d2 = d - d1
                        g = max(p_i * (fi - p_i) * d, 1e-300)
                        nu = h * fi * sqrt_lam2 / math.sqrt(g)
                        diff = _j_lookup(nu)
                        if diffraction == 2:
                            # side edges, added when the principal edge blocks (nu > 0);
                            # computed for every cell, then masked: cheaper than a branch
                            side = _side_edges(
                                sqrt_lam2,
                                fi,
                                d,
                                t * fi,
                                p_i,
                                p_h,
                                s_jt[k],
                                s_qi[k],
                                s_qh[k],
                            )
                            diff += side if nu > 0.0 else 0.0
                        if not p_i > 0.0:  # no edge yet
                            diff = 0.0
                    value = eirp_dbm - median - diff
                of[np.uint64(ocol + j * os_min)] = value
            # 2. let every ray still within reach sample column i: (a) branch-free
            # over contiguous state (vectorised): raise the horizon, extend the
            # receiver-side edge of rays whose principal edge stays, list the rays
            # that found a new principal edge; (b) those rays, with a square root,
            # a division and a J look-up each
            for k in range(k_end + 1):
                pos = k * step_k
                f = np.uint64(pos)
                a = col[f]
                fr = pos - f
                t = a + fr * (col[f + _ONE] - a)
                if nan_col:  # an exact hit must not read its (maybe nodata) neighbour
                    t = t if fr > 0.0 else a
                    if t != t:
                        unk[k] = 1
                        any_unk = True
                tb[k] = t
            for k in range(k_end + 1):
                t = tb[k]
                y = t * fi
                p_i = s_pi[k]
                p_h = s_ph[k]
                q_i = s_qi[k]
                q_h = s_qh[k]
                new = t > hz[k]
                # receiver-side edge: the largest slope seen from p
                better = (y - p_h) * (q_i - p_i) > (q_h - p_h) * (fi - p_i)
                s_qi[k] = fi if (better | new) else q_i
                s_qh[k] = _NEG if new else (y if better else q_h)
                hz[k] = t if new else hz[k]
                flag[k] = new
            n_new = 0
            for k in range(k_end + 1):
                new_k[n_new] = k
                n_new += flag[k]
            for c in range(n_new):  # a new principal edge; the old one is the tx-side edge
                k = new_k[c]
                o_i = s_pi[k]
                o_h = s_ph[k]
                y = hz[k] * fi
                j_t = 0.0
                if o_i > 0.0:  # its J, on the sub-path antenna -> new edge (see _side_edges)
                    s_k = k / kk
                    len_k = math.sqrt(a2 + s_k * s_k * b2)  # metres per major step
                    nu_t = (o_h * fi - y * o_i) * sqrt_lam2
                    nu_t /= math.sqrt(len_k * fi * o_i * (fi - o_i))
                    j_t = _j_lookup(nu_t)
                s_jt[k] = j_t
                s_pi[k] = fi
                s_ph[k] = y
        if nb > 0:
            _flush_block(of, blk, blk_ocol, blk_jend, nb, os_min)


@njit(parallel=True, **_JIT)
def signal_many(
    zp: np.ndarray,
    zpt: np.ndarray,
    rc: np.ndarray,
    mast_heights: np.ndarray,
    eirp_dbm: np.ndarray,
    loss_tables: np.ndarray,
    receiver_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    loss_step_m: float,
    wavelength_m: float,
    diffraction: int,
) -> np.ndarray:
    """Received signal of many sites on the full grid, sites spread over the threads.

    Parameters
    ----------
    zp
        Padded elevation (:func:`pad`).
    rc
        int64 ``(n, 2)``: site cells (row, col).
    mast_heights, eirp_dbm
        float64 ``(n,)`` per site.
    loss_tables
        float64 ``(n, m)``: each site's :func:`median_loss_table`.
    receiver_height, radius_m, dx, dy, curvature_coef, loss_step_m
        As for :func:`signal_one`.
    wavelength_m, diffraction
        As for :func:`signal_one`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, rows, cols)`` dBm, NaN outside the radius or unknown.
    """
    n = rc.shape[0]
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    out = np.empty((n, rows, cols), np.float32)
    for s in prange(n):
        out[s] = np.nan
        signal_one(
            zp,
            zpt,
            rc[s, 0],
            rc[s, 1],
            mast_heights[s],
            receiver_height,
            radius_m,
            dx,
            dy,
            curvature_coef,
            eirp_dbm[s],
            loss_tables[s],
            loss_step_m,
            wavelength_m,
            diffraction,
            out[s],
            0,
            0,
        )
    return out


@njit(parallel=True, **_JIT)
def signal_windows(
    zp: np.ndarray,
    zpt: np.ndarray,
    rc: np.ndarray,
    mast_heights: np.ndarray,
    eirp_dbm: np.ndarray,
    loss_tables: np.ndarray,
    receiver_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    loss_step_m: float,
    wavelength_m: float,
    diffraction: int,
    out: np.ndarray,
) -> None:
    """Received signal of many sites into reusable per-site windows.

    ``out`` is float32 ``(n, 2 hr + 1, 2 hc + 1)``, laid out as for
    :func:`viewshed_windows` (fill it with NaN once: cells outside the
    radius are never written). Other parameters as for :func:`signal_many`.
    """
    n = rc.shape[0]
    hr = (out.shape[1] - 1) // 2
    hc = (out.shape[2] - 1) // 2
    for s in prange(n):
        signal_one(
            zp,
            zpt,
            rc[s, 0],
            rc[s, 1],
            mast_heights[s],
            receiver_height,
            radius_m,
            dx,
            dy,
            curvature_coef,
            eirp_dbm[s],
            loss_tables[s],
            loss_step_m,
            wavelength_m,
            diffraction,
            out[s],
            rc[s, 0] - hr,
            rc[s, 1] - hc,
        )
