"""Compiled ray sweep shared by the viewshed and signal kernels.

Geometry
--------
The square of side ``2 n + 1`` cells around an observer is split into eight
octants. In an octant, cells are addressed by a *major* index ``i`` (steps
along the octant's main axis, ``1..n``) and a *minor* index ``j`` (``0..i``).
Each octant carries ``K + 1`` rays, ray ``k`` going from the observer's cell
centre with slope ``k / K`` (minor per major step), i.e. to every perimeter
cell of the square when ``K = n`` (R2-style rays), or ``oversample`` times
denser.

The octant is swept column by column (``i = 1, 2, ...``):

1. every cell ``(i, j)`` of column ``i`` is decided against the horizon the
   rays have accumulated over columns ``1..i-1``: the cell's own sight line has
   slope ``j / i``, which falls between rays ``k`` and ``k + 1``; the horizon
   of that sight line is interpolated linearly between the two rays (the "R3
   from R2 horizon" trick), and compared with the exact elevation angle of the
   target at the cell centre;
2. every ray then samples column ``i``: the ray crosses the column line at
   minor position ``i k / K``, where the elevation is interpolated linearly
   between the two cell centres on either side (this is the bilinear surface
   through the cell centres, evaluated on the column line), corrected for
   earth curvature and refraction, and the ray's running maximum elevation
   angle is updated.

Each cell is therefore visited once, and each ray step costs O(1). The signal
kernel also tracks, per ray and incrementally, the obstruction of the largest
elevation angle (the principal knife edge), the previous one (transmitter-side
edge) and the edge of the largest angle seen from the principal edge
(receiver-side edge): three-edge Deygout in O(1) per cell.

Heights follow GDAL's convention: observer and target heights are above the
ground elevation at their cell centre; the curvature correction lowers a point
at horizontal distance ``d`` by ``cc d² / 12 740 000`` m.

Nodata (NaN) elevation is unknown terrain, never sea level: a cell whose sight
line crosses it is *unknown* unless known terrain already blocks it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from covgap.pathloss import KNIFE_EDGE_NU_MIN, knife_edge_loss_db, median_loss_db

__all__ = [
    "NOT_VISIBLE",
    "UNKNOWN",
    "VISIBLE",
    "knife_edge_table",
    "median_loss_table",
    "pad",
    "signal_many",
    "signal_one",
    "viewshed_many",
    "viewshed_one",
]

VISIBLE = np.uint8(1)
NOT_VISIBLE = np.uint8(0)
UNKNOWN = np.uint8(255)

#: Twice the earth radius GDAL uses, in metres (curvature correction denominator).
TWICE_EARTH_RADIUS_M = 12_740_000.0

_INV_2_32 = 1.0 / 4294967296.0
_NEG = -1.0e30  # "no horizon yet": finite, so that interpolation stays finite
#: Knife-edge table: J(nu) sampled every _NU_STEP from KNIFE_EDGE_NU_MIN.
_NU_STEP = 0.005
_NU_MIN_SQ = KNIFE_EDGE_NU_MIN * KNIFE_EDGE_NU_MIN
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}  # not "nnan": NaN is nodata
_JIT = {"cache": True, "error_model": "numpy", "fastmath": _FASTMATH}


def pad(z: np.ndarray) -> np.ndarray:
    """Return ``z`` as float32 with a one-cell NaN border (the kernels' input layout).

    The border lets the ray sampler read the neighbour of an edge cell without
    a bounds test; it is never sampled with a non-zero weight.
    """
    rows, cols = z.shape
    zp = np.full((rows + 2, cols + 2), np.nan, np.float32)
    zp[1:-1, 1:-1] = z
    return zp


@njit(inline="always", **_JIT)
def _octant_frame(
    octant: int, r0: int, c0: int, rows: int, cols: int, dx: float, dy: float
) -> tuple[int, int, int, int, int, int, float, float]:
    """Strides (padded input, output), reach and step lengths of one octant."""
    s_maj = 1 if (octant & 1) == 0 else -1
    s_min = 1 if (octant & 2) == 0 else -1
    if octant < 4:  # major axis: columns
        zs_maj, zs_min = s_maj, s_min * (cols + 2)
        os_maj, os_min = s_maj, s_min * cols
        reach_maj = cols - 1 - c0 if s_maj > 0 else c0
        reach_min = rows - 1 - r0 if s_min > 0 else r0
        step_maj, step_min = dx, dy
    else:  # major axis: rows
        zs_maj, zs_min = s_maj * (cols + 2), s_min
        os_maj, os_min = s_maj * cols, s_min
        reach_maj = rows - 1 - r0 if s_maj > 0 else r0
        reach_min = cols - 1 - c0 if s_min > 0 else c0
        step_maj, step_min = dy, dx
    return zs_maj, zs_min, os_maj, os_min, reach_maj, reach_min, step_maj, step_min


@njit(**_JIT)
def _fill_radius(
    out: np.ndarray, r0: int, c0: int, radius_m: float, dx: float, dy: float, value: float
) -> None:
    """Set every grid cell within the radius of cell ``(r0, c0)`` to ``value``."""
    rows, cols = out.shape
    for r in range(rows):
        ddy = (r - r0) * dy
        for c in range(cols):
            ddx = (c - c0) * dx
            if ddx * ddx + ddy * ddy <= radius_m * radius_m:
                out[r, c] = value


@njit(inline="always", **_JIT)
def _init_rays(
    kk: int,
    step_maj: float,
    step_min: float,
    curv: float,
    step_fx: np.ndarray,
    inv_len: np.ndarray,
    c_len: np.ndarray,
    length: np.ndarray,
) -> None:
    """Per-ray constants: fixed-point slope, metres per major step and its uses."""
    inv_kk = 1.0 / kk
    for k in range(kk + 2):
        kc = min(k, kk)
        slope = kc * inv_kk * step_min
        ln = math.sqrt(step_maj * step_maj + slope * slope)
        step_fx[k] = -((-kc << 32) // kk)  # ceil(k 2^32 / kk): exact hits stay exact
        inv_len[k] = 1.0 / ln
        c_len[k] = curv * ln
        length[k] = ln


@njit(inline="always", **_JIT)
def _ray_elevation(zf: np.ndarray, col_base: int, zs_min: int, mf: int) -> float:
    """Elevation where a ray crosses a column line (linear between two cell centres)."""
    f = mf >> 32
    fr = (mf & 0xFFFFFFFF) * _INV_2_32
    idx = col_base + f * zs_min
    za = np.float64(zf[idx])
    if fr > 1.0e-6:
        return za + fr * (zf[idx + zs_min] - za)
    return za


@njit(**_JIT)
def viewshed_one(
    zp: np.ndarray,
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
        Rays per perimeter cell of the radius square (1 or more).
    out
        uint8 ``(rows, cols)``, zero-filled by the caller; receives ``VISIBLE``,
        ``NOT_VISIBLE`` or ``UNKNOWN`` within the radius.
    """
    rows, cols = out.shape
    inside = 0 <= r0 < rows and 0 <= c0 < cols
    if not inside or math.isnan(zp[r0 + 1, c0 + 1]):
        _fill_radius(out, r0, c0, radius_m, dx, dy, UNKNOWN)
        return
    zf = zp.reshape(-1)
    of = out.reshape(-1)
    z0 = np.float64(zp[r0 + 1, c0 + 1]) + observer_height
    zt0 = target_height - z0
    curv = curvature_coef / TWICE_EARTH_RADIUS_M
    r2 = radius_m * radius_m
    zbase = (r0 + 1) * (cols + 2) + c0 + 1
    obase = r0 * cols + c0
    of[obase] = VISIBLE
    kk_max = (min(int(radius_m / min(dx, dy)), max(rows, cols)) + 1) * oversample
    hz = np.empty(kk_max + 2, np.float64)
    unk = np.empty(kk_max + 2, np.bool_)
    inv_len = np.empty(kk_max + 2, np.float64)
    c_len = np.empty(kk_max + 2, np.float64)
    length = np.empty(kk_max + 2, np.float64)
    step_fx = np.empty(kk_max + 2, np.int64)
    for octant in range(8):
        zs_maj, zs_min, os_maj, os_min, reach_maj, reach_min, step_maj, step_min = _octant_frame(
            octant, r0, c0, rows, cols, dx, dy
        )
        n = min(int(radius_m / step_maj), reach_maj)
        if n < 1:
            continue
        kk = n * oversample
        kk_f = np.float64(kk)
        _init_rays(kk, step_maj, step_min, curv, step_fx, inv_len, c_len, length)
        hz[: kk + 2] = _NEG
        unk[: kk + 2] = False
        for i in range(1, n + 1):
            inv_i = 1.0 / i
            d_maj = i * step_maj
            rem = r2 - d_maj * d_maj
            if rem < 0.0:
                break
            j_end = min(i, reach_min, int(math.sqrt(rem) / step_min))
            zcol = zbase + i * zs_maj
            ocol = obase + i * os_maj
            # 1. decide the cells of column i against the horizon of columns < i
            u_step = kk * inv_i
            dd = d_maj * d_maj
            for j in range(j_end + 1):
                zt = zf[zcol + j * zs_min]
                d_min = j * step_min
                d = math.sqrt(dd + d_min * d_min)
                angle = (zt + zt0) / d - curv * d
                u = min(j * u_step, kk_f)
                k = min(int(u), kk - 1)
                w = u - k
                h0 = hz[k]
                h = h0 + w * (hz[k + 1] - h0)
                state = VISIBLE
                if angle < h:
                    state = NOT_VISIBLE
                elif unk[k] or (w > 0.0 and unk[k + 1]) or math.isnan(zt):
                    state = UNKNOWN
                of[ocol + j * os_min] = state
            # 2. let every ray sample column i and raise its horizon
            k_end = min(kk, (min(i, reach_min) * kk) // i)
            for k in range(k_end + 1):
                zs = _ray_elevation(zf, zcol, zs_min, i * step_fx[k])
                a = (zs - z0) * inv_i * inv_len[k] - i * c_len[k]
                if a > hz[k]:
                    hz[k] = a
                elif math.isnan(a):
                    unk[k] = True


@njit(parallel=True, **_JIT)
def viewshed_many(
    zp: np.ndarray,
    rc: np.ndarray,
    observer_heights: np.ndarray,
    target_height: float,
    radius_m: float,
    dx: float,
    dy: float,
    curvature_coef: float,
    oversample: int,
) -> np.ndarray:
    """Visibility states for many observers, observers spread over the threads.

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
        )
    return out


@njit(inline="always", **_JIT)
def _j_table(nu: float, j_table: np.ndarray, j_direct_from: float) -> float:
    """Knife-edge loss J(nu) from the table (linear), 0 at and below -0.78."""
    if not nu > KNIFE_EDGE_NU_MIN:
        return 0.0
    if nu >= j_direct_from:
        return knife_edge_loss_db(nu)
    x = (nu - KNIFE_EDGE_NU_MIN) / _NU_STEP
    q = int(x)
    t = x - q
    return j_table[q] + t * (j_table[q + 1] - j_table[q])


@njit(**_JIT)
def knife_edge_table(n: int) -> np.ndarray:
    """``J(nu)`` at ``KNIFE_EDGE_NU_MIN + q * _NU_STEP`` for ``q = 0..n``."""
    table = np.empty(n + 1, np.float64)
    for q in range(n + 1):
        table[q] = knife_edge_loss_db(KNIFE_EDGE_NU_MIN + q * _NU_STEP + 1e-12)
    return table


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
def _deygout(
    d: float,
    yt: float,
    p_d: float,
    p_h: float,
    t_d: float,
    t_h: float,
    q_d: float,
    q_h: float,
    lam2: float,
    diffraction: int,
    j_table: np.ndarray,
    j_direct_from: float,
) -> float:
    """Diffraction loss over the tracked edges of a path (tx at (0, 0), rx at (d, yt)).

    ``p`` is the principal edge (largest elevation angle from the transmitter),
    ``t`` the transmitter-side edge (the previous principal edge), ``q`` the
    receiver-side edge (largest angle seen from ``p``); a distance of 0 means
    "no edge". Heights are relative to the antenna, curvature-corrected.
    ``lam2`` is ``2 / wavelength``.
    """
    if diffraction == 0 or not (0.0 < p_d < d):
        return 0.0
    h = p_h - yt * p_d / d
    nu2 = h * h * lam2 * d / (p_d * (d - p_d))
    if h < 0.0 and nu2 >= _NU_MIN_SQ:  # clear of the Fresnel zone: no loss at all
        return 0.0
    nu = math.copysign(math.sqrt(nu2), h)
    loss = _j_table(nu, j_table, j_direct_from)
    if diffraction == 1 or not nu > KNIFE_EDGE_NU_MIN:
        return loss
    if 0.0 < t_d < p_d:
        h = t_h - p_h * t_d / p_d
        nu_t = h * math.sqrt(lam2 * p_d / (t_d * (p_d - t_d)))
        loss += _j_table(nu_t, j_table, j_direct_from)
    if p_d < q_d < d:
        span = d - p_d
        h = q_h - (p_h + (yt - p_h) * (q_d - p_d) / span)
        nu_q = h * math.sqrt(lam2 * span / ((q_d - p_d) * (d - q_d)))
        loss += _j_table(nu_q, j_table, j_direct_from)
    return loss


@njit(**_JIT)
def signal_one(
    zp: np.ndarray,
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
    j_table: np.ndarray,
    out: np.ndarray,
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
    j_table
        :func:`knife_edge_table`.
    out
        float32 ``(rows, cols)``, NaN-filled by the caller; receives the
        signal, NaN where terrain on the path is unknown.
    """
    rows, cols = out.shape
    inside = 0 <= r0 < rows and 0 <= c0 < cols
    if not inside or math.isnan(zp[r0 + 1, c0 + 1]):
        return
    zf = zp.reshape(-1)
    of = out.reshape(-1)
    z0 = np.float64(zp[r0 + 1, c0 + 1]) + mast_height
    zt0 = receiver_height - z0
    curv = curvature_coef / TWICE_EARTH_RADIUS_M
    r2 = radius_m * radius_m
    lam2 = 2.0 / wavelength_m
    inv_loss_step = 1.0 / loss_step_m
    n_loss = loss_table.shape[0] - 2
    j_direct_from = KNIFE_EDGE_NU_MIN + (j_table.shape[0] - 2) * _NU_STEP
    zbase = (r0 + 1) * (cols + 2) + c0 + 1
    obase = r0 * cols + c0
    of[obase] = eirp_dbm - loss_table[0]
    kk_max = min(int(radius_m / min(dx, dy)), max(rows, cols)) + 2
    hz = np.empty(kk_max + 2, np.float64)
    unk = np.empty(kk_max + 2, np.bool_)
    inv_len = np.empty(kk_max + 2, np.float64)
    c_len = np.empty(kk_max + 2, np.float64)
    length = np.empty(kk_max + 2, np.float64)
    step_fx = np.empty(kk_max + 2, np.int64)
    p_d = np.empty(kk_max + 2, np.float64)
    p_h = np.empty(kk_max + 2, np.float64)
    t_d = np.empty(kk_max + 2, np.float64)
    t_h = np.empty(kk_max + 2, np.float64)
    q_a = np.empty(kk_max + 2, np.float64)
    q_d = np.empty(kk_max + 2, np.float64)
    q_h = np.empty(kk_max + 2, np.float64)
    for octant in range(8):
        zs_maj, zs_min, os_maj, os_min, reach_maj, reach_min, step_maj, step_min = _octant_frame(
            octant, r0, c0, rows, cols, dx, dy
        )
        n = min(int(radius_m / step_maj), reach_maj)
        if n < 1:
            continue
        kk = n
        _init_rays(kk, step_maj, step_min, curv, step_fx, inv_len, c_len, length)
        hz[: kk + 2] = _NEG
        unk[: kk + 2] = False
        p_d[: kk + 2] = 0.0
        p_h[: kk + 2] = 0.0
        t_d[: kk + 2] = 0.0
        t_h[: kk + 2] = 0.0
        q_a[: kk + 2] = _NEG
        q_d[: kk + 2] = 0.0
        q_h[: kk + 2] = 0.0
        for i in range(1, n + 1):
            inv_i = 1.0 / i
            d_maj = i * step_maj
            rem = r2 - d_maj * d_maj
            if rem < 0.0:
                break
            j_end = min(i, reach_min, int(math.sqrt(rem) / step_min))
            zcol = zbase + i * zs_maj
            ocol = obase + i * os_maj
            u_step = kk * inv_i
            dd = d_maj * d_maj
            for j in range(j_end + 1):
                zt = zf[zcol + j * zs_min]
                if math.isnan(zt):
                    continue
                d_min = j * step_min
                d = math.sqrt(dd + d_min * d_min)
                yt = zt + zt0 - curv * d * d
                k = int(j * u_step + 0.5)  # nearest ray
                w = j * u_step - np.float64(int(j * u_step))
                if unk[k] or (w > 0.0 and unk[min(int(j * u_step) + 1, kk)]):
                    continue
                x = d * inv_loss_step
                qi = min(int(x), n_loss)
                median = loss_table[qi] + (x - qi) * (loss_table[qi + 1] - loss_table[qi])
                # edges were recorded at ray distances; rescale to the cell's line
                scale = d / (i * length[k])
                diff = _deygout(
                    d,
                    yt,
                    p_d[k] * scale,
                    p_h[k],
                    t_d[k] * scale,
                    t_h[k],
                    q_d[k] * scale,
                    q_h[k],
                    lam2,
                    diffraction,
                    j_table,
                    j_direct_from,
                )
                of[ocol + j * os_min] = eirp_dbm - median - diff
            k_end = min(kk, (min(i, reach_min) * kk) // i)
            for k in range(k_end + 1):
                zs = _ray_elevation(zf, zcol, zs_min, i * step_fx[k])
                x = i * length[k]
                y = zs - z0 - curv * x * x
                a = y * inv_i * inv_len[k]
                if math.isnan(a):
                    unk[k] = True
                elif a > hz[k]:
                    hz[k] = a
                    t_d[k] = p_d[k]
                    t_h[k] = p_h[k]
                    p_d[k] = x
                    p_h[k] = y
                    q_a[k] = _NEG
                    q_d[k] = 0.0
                elif p_d[k] > 0.0 and (y - p_h[k]) > q_a[k] * (x - p_d[k]):
                    q_a[k] = (y - p_h[k]) / (x - p_d[k])
                    q_d[k] = x
                    q_h[k] = y


@njit(parallel=True, **_JIT)
def signal_many(
    zp: np.ndarray,
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
    j_table: np.ndarray,
) -> np.ndarray:
    """Received signal of many sites, sites spread over the threads.

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
    wavelength_m, diffraction, j_table
        As for :func:`signal_one`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, rows, cols)`` dBm, NaN outside the radius or unknown.
    """
    n = rc.shape[0]
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    out = np.full((n, rows, cols), np.nan, np.float32)
    for s in prange(n):
        signal_one(
            zp,
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
            j_table,
            out[s],
        )
    return out
