"""Radio path loss: free space, Okumura-Hata, COST-231 Hata and terrain diffraction.

Every loss is in dB and positive (a loss of 120 dB means the received power
is 120 dB below the transmitted one).  The scalar functions are compiled with
numba (``@njit(cache=True)``) so the ray kernels in :mod:`covgap.radio.signal` can
call them cell by cell; they are equally callable from plain Python.

Model chain (see ``docs/radio.md`` for the derivations and sources)
-------------------------------------------------------------------
* **Free space** (Friis): ``L = 20 log10(4 pi d / lambda)``.  With ``d`` in km
  and ``f`` in MHz this is ``20 log10 d + 20 log10 f + K`` where
  ``K = 20 log10(4 pi 1e3 1e6 / c) = 32.4478 dB`` (``c = 299 792 458 m/s``).
  The constant is computed, not typed: the often-quoted 32.44 is a truncation
  of 32.4478 (32.45 rounded).
* **Okumura-Hata** (150-1500 MHz) and **COST-231 Hata** (1500-2000 MHz), urban
  median loss for a small/medium city plus the open-area and suburban
  corrections.  ``ENV_URBAN`` uses COST-231's ``Cm = 0 dB`` (medium city /
  suburban centre), never the 3 dB metropolitan value: the district towns in
  scope are small.  The open and suburban corrections of Hata are applied to
  COST-231 too; that is an extension (COST-231 only defines the urban form).
* **Knife-edge diffraction** (ITU-R P.526): ``J(nu)`` for one edge and the
  Deygout construction for up to three edges over a terrain profile, with the
  earth bulge for an effective earth radius ``R / cc`` (GDAL's convention).

Behaviour outside the validity ranges (never an exception at numba level; the
Python-level :func:`validity_warnings` reports it so callers can log it)
--------------------------------------------------------------------------
* distance: Hata is defined for 1-20 km.  Below 1 km the Hata law is extended
  with its own log-distance slope and the result is never less than free
  space loss; beyond 20 km it is extrapolated.  Every distance is first
  clamped to at least :data:`MIN_DISTANCE_M` (10 m) so ``log10(0)`` cannot
  occur.
* base height: Hata is defined for 30-200 m; lower masts are evaluated by the
  same formula (it stays monotonic and is commonly used down to ~20 m), with
  the height clamped to at least 1 m.
* mobile height: defined for 1-10 m; evaluated by the same (linear) formula
  outside.
* frequency: below 150 MHz Okumura-Hata, above 2000 MHz COST-231 Hata is
  evaluated at the actual frequency (nearest valid model, extrapolated), never
  below free space.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "EARTH_DIAMETER_M",
    "ENV_OPEN",
    "ENV_SUBURBAN",
    "ENV_URBAN",
    "FREE_SPACE_CONSTANT_DB",
    "KNIFE_EDGE_NU_MIN",
    "MIN_DISTANCE_M",
    "MODEL_AUTO",
    "MODEL_FREE_SPACE",
    "MODEL_HATA",
    "SPEED_OF_LIGHT_M_S",
    "deygout_loss_db",
    "dominant_edge_loss_db",
    "earth_bulge_m",
    "free_space_loss_db",
    "fresnel_nu",
    "hata_loss_db",
    "knife_edge_loss_db",
    "median_loss_db",
    "validity_warnings",
    "wavelength_m",
]

#: Speed of light in vacuum, m/s (exact by the SI definition of the metre).
SPEED_OF_LIGHT_M_S = 299_792_458.0
#: ``20 log10(4 pi / c)`` for d in km and f in MHz: ``20 log10(4 pi 1e9 / c)`` = 32.4478 dB.
FREE_SPACE_CONSTANT_DB = 20.0 * math.log10(4.0 * math.pi * 1e3 * 1e6 / SPEED_OF_LIGHT_M_S)
#: Twice the earth radius used by GDAL's viewshed curvature correction
#: (``h - cc * d**2 / 12_740_000``), so the kernels and GDAL agree exactly.
EARTH_DIAMETER_M = 12_740_000.0
#: Shortest distance fed to a logarithm; nearer cells are treated as 10 m away.
MIN_DISTANCE_M = 10.0
#: ``J(nu) = 0`` at and below this Fresnel parameter (ITU-R P.526).
KNIFE_EDGE_NU_MIN = -0.78

ENV_OPEN = 0
ENV_SUBURBAN = 1
ENV_URBAN = 2

MODEL_AUTO = 0
MODEL_FREE_SPACE = 1
MODEL_HATA = 2

# Frequency limits of the empirical models, MHz.
HATA_MIN_MHZ = 150.0
HATA_MAX_MHZ = 1500.0
COST231_MAX_MHZ = 2000.0


def wavelength_m(frequency_mhz: float) -> float:
    """Return the free-space wavelength in metres of a frequency in MHz.

    Examples
    --------
    >>> round(wavelength_m(900.0), 4)
    0.3331
    """
    return SPEED_OF_LIGHT_M_S / (frequency_mhz * 1e6)


@njit(cache=True)
def free_space_loss_db(distance_m: float, frequency_mhz: float) -> float:
    """Free-space (Friis) path loss in dB.

    ``L = 20 log10(d_km) + 20 log10(f_MHz) + 32.4478``; the distance is clamped
    to at least :data:`MIN_DISTANCE_M`.

    Parameters
    ----------
    distance_m
        Path length, metres.
    frequency_mhz
        Carrier frequency, MHz.

    Returns
    -------
    float
        Loss, dB.
    """
    d_km = max(distance_m, MIN_DISTANCE_M) / 1000.0
    return 20.0 * math.log10(d_km) + 20.0 * math.log10(frequency_mhz) + FREE_SPACE_CONSTANT_DB


@njit(cache=True)
def _mobile_correction_db(log_f: float, mobile_height_m: float) -> float:
    """Hata's mobile antenna correction a(hm) for a small/medium city."""
    return (1.1 * log_f - 0.7) * mobile_height_m - (1.56 * log_f - 0.8)


@njit(cache=True)
def hata_loss_db(
    distance_m: float,
    frequency_mhz: float,
    base_height_m: float,
    mobile_height_m: float,
    environment: int,
) -> float:
    """Okumura-Hata / COST-231 Hata median path loss in dB (not floored at free space).

    Up to 1500 MHz Okumura-Hata, above it COST-231 Hata (``Cm = 0 dB``)::

        L_u = A + B log f - 13.82 log hb - a(hm) + (44.9 - 6.55 log hb) log d
        A, B = 69.55, 26.16 (Hata)  |  46.3, 33.9 (COST-231)
        a(hm) = (1.1 log f - 0.7) hm - (1.56 log f - 0.8)
        suburban: L_u - 2 (log(f / 28))**2 - 5.4
        open:     L_u - 4.78 (log f)**2 + 18.33 log f - 40.94

    with f in MHz, d in km, heights in m.  Distances are clamped to at least
    :data:`MIN_DISTANCE_M` and base heights to at least 1 m; nothing else is
    clamped (see the module notes on validity).  :func:`median_loss_db`
    applies the free-space floor.

    Parameters
    ----------
    distance_m
        Path length, metres.
    frequency_mhz
        Carrier frequency, MHz.
    base_height_m
        Effective base-station antenna height, metres.
    mobile_height_m
        Mobile antenna height above ground, metres.
    environment
        :data:`ENV_OPEN`, :data:`ENV_SUBURBAN` or :data:`ENV_URBAN`; any other
        value is treated as urban.

    Returns
    -------
    float
        Loss, dB.
    """
    d_km = max(distance_m, MIN_DISTANCE_M) / 1000.0
    hb = max(base_height_m, 1.0)
    log_f = math.log10(frequency_mhz)
    log_hb = math.log10(hb)
    if frequency_mhz <= HATA_MAX_MHZ:
        a_const = 69.55
        b_const = 26.16
    else:
        a_const = 46.3
        b_const = 33.9
    loss = (
        a_const
        + b_const * log_f
        - 13.82 * log_hb
        - _mobile_correction_db(log_f, mobile_height_m)
        + (44.9 - 6.55 * log_hb) * math.log10(d_km)
    )
    if environment == ENV_OPEN:
        loss -= 4.78 * log_f * log_f - 18.33 * log_f + 40.94
    elif environment == ENV_SUBURBAN:
        log_ratio = math.log10(frequency_mhz / 28.0)
        loss -= 2.0 * log_ratio * log_ratio + 5.4
    return loss


@njit(cache=True)
def median_loss_db(
    distance_m: float,
    frequency_mhz: float,
    base_height_m: float,
    mobile_height_m: float,
    model: int,
    environment: int,
) -> float:
    """Median path loss of the chosen model, never below free space, in dB.

    Parameters
    ----------
    distance_m, frequency_mhz, base_height_m, mobile_height_m, environment
        As for :func:`hata_loss_db`.
    model
        :data:`MODEL_AUTO` (Hata below 1500 MHz, COST-231 above, floored at
        free space), :data:`MODEL_FREE_SPACE`, or :data:`MODEL_HATA` (the
        same empirical formula, forced; also floored at free space).  Auto and
        forced Hata differ only in name today; auto is the one to use.

    Returns
    -------
    float
        Loss, dB.
    """
    free = free_space_loss_db(distance_m, frequency_mhz)
    if model == MODEL_FREE_SPACE:
        return free
    hata = hata_loss_db(distance_m, frequency_mhz, base_height_m, mobile_height_m, environment)
    return max(hata, free)


@njit(cache=True)
def fresnel_nu(h_m: float, d1_m: float, d2_m: float, wavelength_m: float) -> float:
    """Fresnel-Kirchhoff diffraction parameter ``nu = h sqrt(2 (d1 + d2) / (lambda d1 d2))``.

    Parameters
    ----------
    h_m
        Height of the edge above the straight line joining the ends (negative
        below it), metres.
    d1_m, d2_m
        Distances from the edge to each end, metres (both > 0).
    wavelength_m
        Wavelength, metres.

    Returns
    -------
    float
        ``nu`` (dimensionless).
    """
    return h_m * math.sqrt(2.0 * (d1_m + d2_m) / (wavelength_m * d1_m * d2_m))


@njit(cache=True)
def knife_edge_loss_db(nu: float) -> float:
    """Single knife-edge loss ``J(nu)`` of ITU-R P.526, in dB.

    ``J(nu) = 6.9 + 20 log10(sqrt((nu - 0.1)**2 + 1) + nu - 0.1)`` for
    ``nu > -0.78``, else 0.  ``J(0) = 6.03 dB``; a NaN ``nu`` gives NaN.
    """
    if math.isnan(nu):
        return math.nan
    if nu <= KNIFE_EDGE_NU_MIN:
        return 0.0
    v = nu - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(v * v + 1.0) + v)


@njit(cache=True)
def earth_bulge_m(distance_m: float, curvature_coef: float) -> float:
    """Drop of the ground below the tangent plane at ``distance_m``: ``cc d**2 / 12 740 000``.

    ``curvature_coef`` is GDAL's ``cc = 1/k`` (0.75 for k = 4/3; 0 for a flat earth).
    """
    return curvature_coef * distance_m * distance_m / EARTH_DIAMETER_M


@njit(cache=True)
def _max_nu(
    distances_m: np.ndarray,
    corrected_m: np.ndarray,
    i0: int,
    i1: int,
    h0: float,
    h1: float,
    wavelength_m: float,
) -> tuple[float, int]:
    """Largest ``nu`` over the interior points ``i0 < i < i1`` of a (sub)path.

    ``h0``/``h1`` are the heights of the sight-line ends at ``i0``/``i1``
    (curvature-corrected frame).  Returns ``(-inf, -1)`` when there is no
    interior point.
    """
    best = -math.inf
    best_i = -1
    x0 = distances_m[i0]
    span = distances_m[i1] - x0
    if span <= 0.0:
        return best, best_i
    for i in range(i0 + 1, i1):
        d1 = distances_m[i] - x0
        d2 = distances_m[i1] - distances_m[i]
        if d1 <= 0.0 or d2 <= 0.0:
            continue
        line = h0 + (h1 - h0) * d1 / span
        nu = fresnel_nu(corrected_m[i] - line, d1, d2, wavelength_m)
        if nu > best:
            best = nu
            best_i = i
    return best, best_i


@njit(cache=True)
def _corrected_profile(elevations_m: np.ndarray, distances_m: np.ndarray, cc: float) -> np.ndarray:
    out = np.empty(elevations_m.shape[0], dtype=np.float64)
    for i in range(elevations_m.shape[0]):
        out[i] = elevations_m[i] - earth_bulge_m(distances_m[i] - distances_m[0], cc)
    return out


_EDGE_FOUND, _EDGE_SHORT, _EDGE_UNKNOWN = 0, 1, 2


@njit(cache=True)
def _main_edge(
    distances_m: np.ndarray,
    elevations_m: np.ndarray,
    tx_height_m: float,
    rx_height_m: float,
    wavelength_m: float,
    curvature_coef: float,
) -> tuple[int, np.ndarray, float, float, float, int]:
    """Find the profile's most obstructing point (shared by the diffraction functions).

    Returns ``(status, z, h_tx, h_rx, nu, i)``: ``status`` is
    :data:`_EDGE_FOUND`, :data:`_EDGE_SHORT` (fewer than three points: no
    loss) or :data:`_EDGE_UNKNOWN` (nodata on the profile: loss NaN); ``z``
    is the curvature-corrected profile, ``h_tx``/``h_rx`` the antenna
    heights above sea, ``nu``/``i`` the main edge's parameter and index.
    """
    n = elevations_m.shape[0]
    empty = np.empty(0)
    if n < 3:
        return _EDGE_SHORT, empty, 0.0, 0.0, -math.inf, -1
    for i in range(n):
        if math.isnan(elevations_m[i]):
            return _EDGE_UNKNOWN, empty, 0.0, 0.0, -math.inf, -1
    z = _corrected_profile(elevations_m, distances_m, curvature_coef)
    h_tx = z[0] + tx_height_m
    h_rx = z[n - 1] + rx_height_m
    nu, i_main = _max_nu(distances_m, z, 0, n - 1, h_tx, h_rx, wavelength_m)
    return _EDGE_FOUND, z, h_tx, h_rx, nu, i_main


@njit(cache=True)
def dominant_edge_loss_db(
    distances_m: np.ndarray,
    elevations_m: np.ndarray,
    tx_height_m: float,
    rx_height_m: float,
    wavelength_m: float,
    curvature_coef: float,
) -> float:
    """Knife-edge loss ``J(nu_max)`` of the single most obstructing point of a profile.

    Parameters are those of :func:`deygout_loss_db`.
    """
    status, _z, _h_tx, _h_rx, nu, _i = _main_edge(
        distances_m, elevations_m, tx_height_m, rx_height_m, wavelength_m, curvature_coef
    )
    if status != _EDGE_FOUND:
        return math.nan if status == _EDGE_UNKNOWN else 0.0
    if nu == -math.inf:
        return 0.0
    return knife_edge_loss_db(nu)


@njit(cache=True)
def deygout_loss_db(
    distances_m: np.ndarray,
    elevations_m: np.ndarray,
    tx_height_m: float,
    rx_height_m: float,
    wavelength_m: float,
    curvature_coef: float,
) -> float:
    """Deygout diffraction loss over a terrain profile, up to three edges, in dB.

    The main edge is the profile point with the largest ``nu`` relative to
    the line from transmitter antenna to receiver antenna; it costs
    ``J(nu_main)`` when ``nu_main > -0.78``.  Only when it blocks the sight
    line itself (``nu_main > 0``) is the strongest edge of each sub-path
    (transmitter to the top of the main edge, top of the main edge to
    receiver) added::

        L = J(nu_main) + J(nu_tx_side) + J(nu_rx_side)

    Why the ``nu_main > 0`` condition: near a 1.5 m receiver almost every
    path grazes the ground (``nu`` slightly above -0.78).  Measuring the side
    paths from that ground point would then add some 10 dB on perfectly flat
    terrain, on top of the Hata median, which already holds the typical
    ground and clutter losses of unobstructed paths.  Secondary edges are
    therefore considered only behind a real obstruction.

    Classic Deygout, without the empirical taper/correction ITU-R P.526
    proposes for close edges (documented in ``docs/radio.md``).  Heights are
    corrected for the earth bulge ``cc d**2 / 12 740 000`` (d from the
    transmitter), which in the sight-line frame equals GDAL's convention.

    Parameters
    ----------
    distances_m
        Distance of each profile point from the transmitter, metres,
        increasing; the first point is the transmitter's ground, the last the
        receiver's.
    elevations_m
        Ground height above sea at each point, metres.  Any NaN makes the
        result NaN (unknown terrain).
    tx_height_m, rx_height_m
        Antenna heights above the ground at the first and last point, metres.
    wavelength_m
        Wavelength, metres.
    curvature_coef
        GDAL's curvature coefficient ``cc = 1/k`` (0.75 for k = 4/3).

    Returns
    -------
    float
        Loss, dB (0 when the first Fresnel zone is clear enough, NaN if any
        elevation is unknown).
    """
    status, z, h_tx, h_rx, nu_main, i_main = _main_edge(
        distances_m, elevations_m, tx_height_m, rx_height_m, wavelength_m, curvature_coef
    )
    if status != _EDGE_FOUND:
        return math.nan if status == _EDGE_UNKNOWN else 0.0
    n = z.shape[0]
    if i_main < 0 or nu_main <= KNIFE_EDGE_NU_MIN:
        return 0.0
    loss = knife_edge_loss_db(nu_main)
    if nu_main <= 0.0:
        return loss
    h_edge = z[i_main]
    nu_t, i_t = _max_nu(distances_m, z, 0, i_main, h_tx, h_edge, wavelength_m)
    if i_t >= 0:
        loss += knife_edge_loss_db(nu_t)
    nu_r, i_r = _max_nu(distances_m, z, i_main, n - 1, h_edge, h_rx, wavelength_m)
    if i_r >= 0:
        loss += knife_edge_loss_db(nu_r)
    return loss


def validity_warnings(
    frequency_mhz: float,
    base_height_m: float,
    mobile_height_m: float,
    radius_m: float,
    model: int = MODEL_AUTO,
) -> list[str]:
    """Describe where a configuration leaves the empirical models' validity ranges.

    The compiled functions never warn; callers (the scenario loader, the
    signal engine) log these messages once per run.

    Parameters
    ----------
    frequency_mhz, base_height_m, mobile_height_m
        As for :func:`hata_loss_db`.
    radius_m
        Largest path length computed, metres.
    model
        Model code; free space has no range to leave.

    Returns
    -------
    list of str
        One sentence per violated range; empty when everything is in range.
    """
    if model == MODEL_FREE_SPACE:
        return []
    out: list[str] = []
    if frequency_mhz < HATA_MIN_MHZ:
        out.append(
            f"{frequency_mhz:g} MHz is below Okumura-Hata's 150 MHz; the formula is extrapolated"
        )
    elif frequency_mhz > COST231_MAX_MHZ:
        out.append(
            f"{frequency_mhz:g} MHz is above COST-231 Hata's 2000 MHz; the formula is extrapolated"
        )
    if base_height_m < 30.0:
        out.append(
            f"base height {base_height_m:g} m is below Hata's 30 m; the formula is extrapolated"
        )
    elif base_height_m > 200.0:
        out.append(
            f"base height {base_height_m:g} m is above Hata's 200 m; the formula is extrapolated"
        )
    if not 1.0 <= mobile_height_m <= 10.0:
        out.append(
            f"receiver height {mobile_height_m:g} m is outside Hata's 1-10 m; "
            "the formula is extrapolated"
        )
    if radius_m > 20_000.0:
        out.append(
            f"radius {radius_m:g} m is beyond Hata's 20 km; the formula is extrapolated there"
        )
    return out
