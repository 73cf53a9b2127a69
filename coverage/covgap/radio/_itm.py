"""Compiled core of the ITS Irregular Terrain Model (Longley-Rice), point-to-point mode.

Written from the published algorithm: G. A. Hufford, "The ITS Irregular
Terrain Model, version 1.2.2: the Algorithm" (NTIA/ITS, 1995), A. G. Longley
and P. L. Rice, "Prediction of tropospheric radio transmission loss over
irregular terrain: a computer method" (ESSA Tech. Rep. ERL 79-ITS 67, 1968) and
NBS Technical Note 101; the stages follow the function structure of NTIA's
C++ reference (github.com/NTIA/itm, version 1.3, "functionally identical to
1.2.2"), whose published example cases are the referee of the tests.

Stages of one point-to-point prediction (all lengths in metres):

1. surface refractivity ``N_s`` from ``N_0`` and the mean path elevation
   (middle 80 % of the profile), effective earth curvature ``gamma_e``, ground
   transfer impedance ``Z_g`` from permittivity, conductivity, polarisation;
2. profile analysis ("quick profile"): terminal horizons (distance, angle),
   terrain irregularity ``delta_h`` (interdecile range of the deviations from a
   least-squares line, over at most 245 resampled points), effective antenna
   heights above the fitted terrain;
3. reference attenuation ``A_ref`` (Longley-Rice): two-ray/extended-diffraction
   blend in line of sight, a diffraction line (knife edge + Vogler's three-radii
   smooth earth, weighted by roughness) beyond the horizons, troposcatter far
   beyond;
4. variability: quantiles in time, location and situation per the radio
   climate and the mode of variability ``mdvar``;
5. basic transmission loss = free-space loss + the result of 4.

Every function here is ``@njit(cache=True, nogil=True)`` and takes plain
floats and arrays; errors are returned as integer codes (``ERR_*``), never
raised, so that the area kernel can call :func:`p2p_loss` for thousands of
profiles per site. :mod:`covgap.radio.itm` turns codes into exceptions.

The area kernel (:func:`signal_one`) builds a site's coverage from point-to-
point predictions along radial rays, as SPLAT! and Signal-Server do; see its
docstring and ``docs/radio.md``.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from numba import njit

__all__ = [
    "ERR_CLIMATE",
    "ERR_EFFECTIVE_EARTH",
    "ERR_EPSILON",
    "ERR_FREQUENCY",
    "ERR_GROUND_IMPEDANCE",
    "ERR_LOCATION",
    "ERR_MDVAR",
    "ERR_NONE",
    "ERR_POLARIZATION",
    "ERR_PROFILE",
    "ERR_REFRACTIVITY",
    "ERR_RX_HEIGHT",
    "ERR_SIGMA",
    "ERR_SITUATION",
    "ERR_SURFACE_REFRACTIVITY",
    "ERR_TIME",
    "ERR_TX_HEIGHT",
    "free_space_db",
    "offset_table",
    "p2p_loss",
    "signal_one",
]

# error codes (0: none); covgap.radio.itm holds their messages
ERR_NONE = 0
ERR_TX_HEIGHT = 1
ERR_RX_HEIGHT = 2
ERR_CLIMATE = 3
ERR_REFRACTIVITY = 4
ERR_FREQUENCY = 5
ERR_POLARIZATION = 6
ERR_EPSILON = 7
ERR_SIGMA = 8
ERR_MDVAR = 9
ERR_SITUATION = 10
ERR_TIME = 11
ERR_LOCATION = 12
ERR_SURFACE_REFRACTIVITY = 13
ERR_EFFECTIVE_EARTH = 14
ERR_GROUND_IMPEDANCE = 15
ERR_PROFILE = 16

#: Curvature of the actual earth, 1/m (Algorithm: 157e-9, ~1/6370 km).
_GAMMA_A = 157e-9
#: Earth radius of Vogler's 4/3-earth normalisation, m.
_A0 = 6370e3
#: Effective earth radius of the variability's effective distance, m.
_A9000 = 9000e3
_THIRD = 1.0 / 3.0
_SQRT2 = math.sqrt(2.0)
#: Most points ComputeDeltaH resamples the profile to (10 * 25 - 5).
DELTA_H_POINTS = 245

#: Fast-math flags as in covgap.radio._raycast, without "nnan" (NaN is nodata) and "ninf".
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": _FASTMATH}


# -- small functions -----------------------------------------------------------
@njit(**_JIT)
def free_space_db(d_m: float, f_mhz: float) -> float:
    """Free-space basic transmission loss as ITM computes it (32.45 dB constant), dB."""
    return 32.45 + 20.0 * math.log10(f_mhz) + 20.0 * math.log10(d_m / 1000.0)


@njit(**_JIT)
def _q_inverse(q: float) -> float:
    """Inverse complementary normal distribution (Abramowitz & Stegun 26.2.23)."""
    x = 1.0 - q if q > 0.5 else q
    t = math.sqrt(-2.0 * math.log(x))
    z = t - ((0.010328 * t + 0.802853) * t + 2.515516) / (
        ((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0
    )
    return -z if q > 0.5 else z


@njit(**_JIT)
def _roughness(d: float, delta_h: float) -> float:
    """Terrain irregularity at distance d (ERL 79-ITS 67, eq. 3)."""
    return delta_h * (1.0 - 0.8 * math.exp(-d / 50e3))


@njit(**_JIT)
def _sigma_h(delta_h: float) -> float:
    """RMS terrain deviation within the first Fresnel zone (ERL 79-ITS 67, 3.6a)."""
    return 0.78 * delta_h * math.exp(-0.5 * delta_h**0.25)


@njit(**_JIT)
def _fresnel_db(v2: float) -> float:
    """Knife-edge loss A(v, 0) from v squared (TN101 III.24)."""
    if v2 < 5.76:
        return 6.02 + 9.11 * math.sqrt(v2) - 1.27 * v2
    return 12.953 + 10.0 * math.log10(v2)


@njit(**_JIT)
def _height_gain_db(x: float, k: float) -> float:
    """Vogler's height-gain function F(x, K) of the smooth-earth diffraction."""
    if x < 200.0:
        w = -math.log(k)
        if k < 1e-5 or x * w**3 > 5495.0:
            out = -117.0
            if x > 1.0:
                out += 17.372 * math.log(x)
            return out
        return 2.5e-5 * x * x / k - 8.686 * w - 15.0
    out = 0.05751 * x - 4.343 * math.log(x)
    if x < 2000.0:
        w = 0.0134 * x * math.exp(-0.005 * x)
        out = (1.0 - w) * out + w * (17.372 * math.log(x) - 117.0)
    return out


@njit(**_JIT)
def _h0_curve(j: int, r: float) -> float:
    """One of the five fitted H_0 curves (Algorithm 6.13)."""
    if j == 0:
        a, b = 25.0, 24.0
    elif j == 1:
        a, b = 80.0, 45.0
    elif j == 2:
        a, b = 177.0, 68.0
    elif j == 3:
        a, b = 395.0, 80.0
    else:
        a, b = 705.0, 105.0
    return 10.0 * math.log10(1.0 + a / r**4 + b / (r * r))


@njit(**_JIT)
def _h0(r: float, eta_s: float) -> float:
    """Troposcatter frequency-gain function H_0(r, eta_s), interpolated in eta_s."""
    eta = min(max(eta_s, 1.0), 5.0)
    i = int(eta)
    q = eta - i
    out = _h0_curve(i - 1, r)
    if q != 0.0:
        out = (1.0 - q) * out + q * _h0_curve(i, r)
    return out


@njit(**_JIT)
def _scatter_f(td: float) -> float:
    """Attenuation function F(theta d) of troposcatter (Algorithm 6.9)."""
    if td <= 10e3:
        return 133.4 + 0.332e-3 * td - 10.0 * math.log10(td)
    if td <= 70e3:
        return 104.6 + 0.212e-3 * td - 2.5 * math.log10(td)
    return 71.8 + 0.157e-3 * td + 5.0 * math.log10(td)


# -- profile analysis ----------------------------------------------------------
@njit(**_JIT)
def _line_fit(
    z: np.ndarray, z0: int, n: int, xi: float, x_a: float, x_b: float
) -> tuple[float, float]:
    """Least-squares line through ``z[z0 + i]``, ``i`` in the index span of [x_a, x_b] m.

    The profile has points ``0..n`` at spacing ``xi``; the span's two end points
    count half. Returns the fitted heights at point 0 and at point ``n``.
    """
    i_a = int(max(x_a / xi, 0.0))
    i_b = n - int(max(n - x_b / xi, 0.0))
    if i_b <= i_a:
        i_a = int(max(i_a - 1.0, 0.0))
        i_b = n - int(max(n - (i_b + 1.0), 0.0))
    span = float(i_b - i_a)
    centre = i_b - 0.5 * span
    offset = -0.5 * span
    total = 0.5 * (z[z0 + i_a] + z[z0 + i_b])
    moment = 0.5 * (z[z0 + i_a] - z[z0 + i_b]) * offset
    for i in range(i_a + 1, i_b):
        offset += 1.0
        total += z[z0 + i]
        moment += z[z0 + i] * offset
    mean = total / span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return mean - slope * centre, mean + slope * (n - centre)


@njit(**_JIT)
def _select(a: np.ndarray, lo: int, hi: int, k: int) -> float:
    """Return the value of rank ``k`` of ``a[lo..hi]`` (0-based over the whole array), in place.

    Quickselect with a median-of-three pivot; afterwards ``a[lo..k-1] <= a[k]
    <= a[k+1..hi]``, so a second call for a smaller rank may search ``lo..k-1``.
    """
    while hi > lo:
        mid = (lo + hi) // 2
        x, y, w = a[lo], a[mid], a[hi]
        pivot = max(min(x, y), min(max(x, y), w))
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(**_JIT)
def _delta_h(
    z: np.ndarray, n: int, xi: float, d_a: float, d_b: float, s: np.ndarray, dev: np.ndarray
) -> float:
    """Terrain irregularity ``delta_h`` of the profile between d_a and d_b (m).

    Interdecile range of the terrain's deviations from its least-squares line,
    on the profile resampled to ``10 p - 5`` points (``p`` 4..25), corrected to
    the asymptotic value (ERL 79-ITS 67, eq. 3 inverted). ``s`` and ``dev`` are
    scratch arrays of at least :data:`DELTA_H_POINTS` values.
    """
    x_a = d_a / xi
    x_b = d_b / xi
    if x_b - x_a < 2.0:
        return 0.0
    p10 = min(max(4, int(0.1 * (x_b - x_a + 8.0))), 25)
    m = 10 * p10 - 5
    p90 = m - p10
    last = float(m - 1)
    step = (x_b - x_a) / last
    for j in range(m):  # linear between profile points (beyond the last: its slope)
        pos = x_a + j * step
        i = min(int(pos), n - 1)
        s[j] = z[i] + (z[i + 1] - z[i]) * (pos - i)
    y0, y1 = _line_fit(s, 0, m - 1, 1.0, 0.0, last)
    slope = (y1 - y0) / last
    y = y0
    for j in range(m):
        dev[j] = s[j] - y
        y += slope
    # p10-th largest minus (p90 + 1)-th largest (= p10-th smallest) deviation
    hi = _select(dev, 0, m - 1, m - p10)
    lo = _select(dev, 0, m - p10 - 1, m - 1 - p90)
    span = hi - lo
    return span / (1.0 - 0.8 * math.exp(-(d_b - d_a) / 50e3))


@njit(**_JIT)
def _horizons(
    z: np.ndarray, n: int, xi: float, a_e: float, h_tx: float, h_rx: float
) -> tuple[float, float, float, float]:
    """Horizon angles and distances of both terminals: ``(th_tx, th_rx, d_tx, d_rx)``.

    Starts from the line-of-sight angles (TN101, 6.15) and raises each to the
    highest profile point seen from the terminal on the effective earth.
    """
    d = n * xi
    z_tx = z[0] + h_tx
    z_rx = z[n] + h_rx
    half_g = 0.5 / a_e
    th_tx = (z_rx - z_tx) / d - d * half_g
    th_rx = -(z_rx - z_tx) / d - d * half_g
    d_tx = d
    d_rx = d
    for i in range(1, n):
        s_tx = i * xi
        s_rx = d - s_tx
        t_tx = (z[i] - z_tx) / s_tx - s_tx * half_g
        t_rx = -(z_rx - z[i]) / s_rx - s_rx * half_g
        if t_tx > th_tx:
            th_tx = t_tx
            d_tx = s_tx
        if t_rx > th_rx:
            th_rx = t_rx
            d_rx = s_rx
    return th_tx, th_rx, d_tx, d_rx


# -- Longley-Rice reference attenuation --------------------------------------
@njit(**_JIT)
def _knife_edges_db(d: float, f: float, a_e: float, th_los: float, dl0: float, dl1: float) -> float:
    """Double knife-edge attenuation beyond the horizons (TN101 I.7, I.1)."""
    th = d / a_e - th_los
    d_nl = d - dl0 - dl1
    c = 0.0795775 * (f / 47.7) * th * th * d_nl
    return _fresnel_db(c * dl0 / (d_nl + dl0)) + _fresnel_db(c * dl1 / (d_nl + dl1))


@njit(**_JIT)
def _vogler(radius: float, f3: float, z_abs: float) -> tuple[float, float]:
    """Vogler's ``C_0 = (4/3 a_0 / a)^(1/3)`` and ``K`` for earth radius ``a`` (eq. 2, 6a)."""
    c0 = ((4.0 / 3.0) * _A0 / radius) ** _THIRD
    return c0, 0.017778 * c0 / f3 / z_abs


@njit(**_JIT)
def _smooth_earth_db(
    d: float,
    f: float,
    a_e: float,
    th_los: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    z_abs: float,
) -> float:
    """Vogler's three-radii smooth-earth diffraction attenuation (Algorithm 4.20)."""
    th = d / a_e - th_los
    f3 = f**_THIRD
    a0 = (d - dl0 - dl1) / th
    c0, k0 = _vogler(a0, f3, z_abs)
    c1, k1 = _vogler(0.5 * dl0 * dl0 / he0, f3, z_abs)
    c2, k2 = _vogler(0.5 * dl1 * dl1 / he1, f3, z_abs)
    x1 = (1.607 - k1) * c1 * c1 * f3 * dl0 / 1000.0
    x2 = (1.607 - k2) * c2 * c2 * f3 * dl1 / 1000.0
    x0 = (1.607 - k0) * c0 * c0 * f3 * a0 * th / 1000.0 + x1 + x2
    g = 0.05751 * x0 - 10.0 * math.log10(x0)
    return g - _height_gain_db(x1, k1) - _height_gain_db(x2, k2) - 20.0


@njit(**_JIT)
def _diffraction_db(
    d: float,
    f: float,
    a_e: float,
    th_los: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    h0: float,
    h1: float,
    z_abs: float,
    delta_h: float,
    d_sml: float,
) -> float:
    """Diffraction attenuation: knife edges and smooth earth weighted by roughness, plus clutter."""
    a_k = _knife_edges_db(d, f, a_e, th_los, dl0, dl1)
    a_se = _smooth_earth_db(d, f, a_e, th_los, dl0, dl1, he0, he1, z_abs)
    sigma = _sigma_h(_roughness(d_sml, delta_h))
    a_fo = min(15.0, 5.0 * math.log10(1.0 + 1e-5 * h0 * h1 * f * sigma))
    q = h0 * h1
    qk = he0 * he1 - q
    q += 10.0  # point-to-point: C ~ 10 for low antennas (ERL 79-ITS 67, p. 3-8)
    term = math.sqrt(1.0 + qk / q)
    q = (term + (-th_los * a_e + dl0 + dl1) / d) * min(_roughness(d, delta_h) * f / 47.7, 6283.2)
    w = 25.1 / (25.1 + math.sqrt(q))
    return w * a_se + (1.0 - w) * a_k + a_fo


@njit(**_JIT)
def _los_db(
    d: float,
    f: float,
    he0: float,
    he1: float,
    z_g: complex,
    delta_h: float,
    m_d: float,
    a_d0: float,
    d_sml: float,
) -> float:
    """Line-of-sight attenuation: two rays (rough-earth reflection) blended with diffraction."""
    sigma = _sigma_h(_roughness(d, delta_h))
    wn = f / 47.7
    hs = he0 + he1
    sin_psi = hs / math.sqrt(d * d + hs * hs)
    r_e = (sin_psi - z_g) / (sin_psi + z_g) * math.exp(-min(10.0, wn * sigma * sin_psi))
    q = r_e.real * r_e.real + r_e.imag * r_e.imag
    if q < 0.25 or q < sin_psi:
        r_e = r_e * math.sqrt(sin_psi / q)
    phi = wn * 2.0 * he0 * he1 / d
    if phi > math.pi / 2.0:
        phi = math.pi - (math.pi / 2.0) ** 2 / phi
    rr = complex(math.cos(phi), -math.sin(phi)) + r_e
    a_t = -10.0 * math.log10(rr.real * rr.real + rr.imag * rr.imag)
    w = 1.0 / (1.0 + f * delta_h / max(10e3, d_sml))
    return w * a_t + (1.0 - w) * (m_d * d + a_d0)


@njit(**_JIT)
def _scatter_db(
    d: float,
    th0: float,
    th1: float,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    a_e: float,
    n_s: float,
    f: float,
    th_los: float,
    h0_in: float,
) -> tuple[float, float]:
    """Troposcatter attenuation at distance d and the H_0 used: ``(loss, h0)``.

    ``h0_in`` is the H_0 of a previous call (negative: none); above 15 dB it is
    reused as is, as the algorithm prescribes between its two distances.
    """
    wn = f / 47.7
    if h0_in > 15.0:
        h_0 = h0_in
    else:
        ad = dl0 - dl1
        rr = he1 / he0
        if ad < 0.0:
            ad = -ad
            rr = 1.0 / rr
        th = th0 + th1 + d / a_e
        r1 = 2.0 * wn * th * he0
        r2 = 2.0 * wn * th * he1
        if r1 < 0.2 and r2 < 0.2:
            return 1001.0, h0_in  # A_scat undefined (Algorithm, p. 11)
        s = (d - ad) / (d + ad)
        q = min(max(0.1, rr / s), 10.0)
        s = max(0.1, s)
        h_x = (d - ad) * (d + ad) * th * 0.25 / d
        eta = (h_x / 1.7556e3) * (
            1.0
            + (0.031 - n_s * 2.32e-3 + n_s * n_s * 5.67e-6)
            * math.exp(-(min(1.7, h_x / 8.0e3) ** 6))
        )
        h00 = 0.5 * (_h0(r1, eta) + _h0(r2, eta))
        h_0 = h00 + min(
            h00, 6.0 * (0.6 - math.log10(max(eta, 1.0))) * math.log10(s) * math.log10(q)
        )
        h_0 = max(h_0, 0.0)
        if eta < 1.0:
            h_0 = eta * h_0 + (1.0 - eta) * 10.0 * math.log10(
                ((1.0 + _SQRT2 / r1) * (1.0 + _SQRT2 / r2)) ** 2
                * (r1 + r2)
                / (r1 + r2 + 2.0 * _SQRT2)
            )
        if h_0 > 15.0 and h0_in >= 0.0:
            h_0 = h0_in
    th = d / a_e - th_los
    loss = (
        _scatter_f(th * d)
        + 10.0 * math.log10(wn * 47.7 * th**4)
        - 0.1 * (n_s - 301.0) * math.exp(-th * d / 40e3)
        + h_0
    )
    return loss, h_0


@njit(**_JIT)
def _reference_db(
    th0: float,
    th1: float,
    f: float,
    z_g: complex,
    dl0: float,
    dl1: float,
    he0: float,
    he1: float,
    gamma_e: float,
    n_s: float,
    delta_h: float,
    h0: float,
    h1: float,
    d: float,
) -> tuple[float, int, int]:
    """Longley-Rice reference attenuation: ``(A_ref dB, error code, mode)``.

    Mode 1 line of sight, 2 diffraction, 3 troposcatter.
    """
    a_e = 1.0 / gamma_e
    ds0 = math.sqrt(2.0 * he0 * a_e)
    ds1 = math.sqrt(2.0 * he1 * a_e)
    d_sml = ds0 + ds1
    d_ml = dl0 + dl1
    th_los = -max(th0 + th1, -d_ml / a_e)
    if n_s < 150.0 or n_s > 400.0:
        return 0.0, ERR_SURFACE_REFRACTIVITY, 0
    if a_e < 4000000.0 or a_e > 13333333.0:
        return 0.0, ERR_EFFECTIVE_EARTH, 0
    if z_g.real <= abs(z_g.imag):
        return 0.0, ERR_GROUND_IMPEDANCE, 0
    z_abs = abs(z_g)
    scale = (a_e * a_e / f) ** _THIRD
    d3 = max(d_sml, d_ml + 5.0 * scale)
    d4 = d3 + 10.0 * scale
    a3 = _diffraction_db(d3, f, a_e, th_los, dl0, dl1, he0, he1, h0, h1, z_abs, delta_h, d_sml)
    a4 = _diffraction_db(d4, f, a_e, th_los, dl0, dl1, he0, he1, h0, h1, z_abs, delta_h, d_sml)
    m_d = (a4 - a3) / (d4 - d3)
    a_d0 = a3 - m_d * d3
    if d < d_sml:  # line of sight
        a_sml = d_sml * m_d + a_d0
        d0 = 0.04 * f * he0 * he1
        if a_d0 >= 0.0:
            d0 = min(d0, 0.5 * d_ml)
            d1 = d0 + 0.25 * (d_ml - d0)
        else:
            d1 = max(-a_d0 / m_d, 0.25 * d_ml)
        a1 = _los_db(d1, f, he0, he1, z_g, delta_h, m_d, a_d0, d_sml)
        fitted = False
        k1 = 0.0
        k2 = 0.0
        if d0 < d1:
            a0 = _los_db(d0, f, he0, he1, z_g, delta_h, m_d, a_d0, d_sml)
            q = math.log(d_sml / d0)
            k2 = max(
                0.0,
                ((d_sml - d0) * (a1 - a0) - (d1 - d0) * (a_sml - a0))
                / ((d_sml - d0) * math.log(d1 / d0) - (d1 - d0) * q),
            )
            fitted = a_d0 > 0.0 or k2 > 0.0
            if fitted:
                k1 = (a_sml - a0 - k2 * q) / (d_sml - d0)
                if k1 < 0.0:
                    k1 = 0.0
                    k2 = max(a_sml - a0, 0.0) / q
                    if k2 == 0.0:
                        k1 = m_d
        if not fitted:
            k1 = max(a_sml - a1, 0.0) / (d_sml - d1)
            k2 = 0.0
            if k1 == 0.0:
                k1 = m_d
        a_o = a_sml - k1 * d_sml - k2 * math.log(d_sml)
        a_ref = a_o + k1 * d + k2 * math.log(d)
        mode = 1
    else:  # beyond the horizon: diffraction or troposcatter
        d5 = d_ml + 200e3
        d6 = d_ml + 400e3
        a6, h_0 = _scatter_db(d6, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f, th_los, -1.0)
        a5, h_0 = _scatter_db(d5, th0, th1, dl0, dl1, he0, he1, a_e, n_s, f, th_los, h_0)
        if a5 < 1000.0:
            m_s = (a6 - a5) / 200e3
            d_x = max(
                max(d_sml, d_ml + 1.088 * scale * math.log(f)),
                (a5 - a_d0 - m_s * d5) / (m_d - m_s),
            )
            a_s0 = (m_d - m_s) * d_x + a_d0
        else:
            m_s = m_d
            a_s0 = a_d0
            d_x = 10e6
        if d > d_x:
            a_ref = m_s * d + a_s0
            mode = 3
        else:
            a_ref = m_d * d + a_d0
            mode = 2
    return max(a_ref, 0.0), ERR_NONE, mode


# -- variability ---------------------------------------------------------------
#: Per climate (1..7, rows 0..6): V_med curve (c1, c2, x1, x2, x3), sigma_T-
#: curve (c1, c2, x1, x2, x3), sigma_T+ curve (same), C_D, z_D, and the
#: frequency factors g- (b1, b2, b3) and g+ (b1, b2, b3); TN101 fig. 10.13 as
#: approximated in the Algorithm (section 5).
_CLIMATE = np.array(
    [
        # equatorial
        [-9.67, 12.7, 144.9e3, 190.3e3, 133.8e3, 2.13, 159.5, 762.2e3, 123.6e3, 94.5e3,
         2.11, 102.3, 636.9e3, 134.8e3, 95.6e3, 1.224, 1.282, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        # continental subtropical
        [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3, 2.66, 7.67, 100.4e3, 172.5e3, 136.4e3,
         6.87, 15.53, 138.7e3, 143.7e3, 98.6e3, 0.801, 2.161, 1.0, 0.0, 0.0, 0.93, 0.31, 2.00],
        # maritime subtropical
        [1.26, 15.5, 262.6e3, 185.2e3, 99.8e3, 6.11, 6.65, 138.2e3, 242.2e3, 178.6e3,
         10.08, 9.60, 165.3e3, 225.7e3, 129.7e3, 1.380, 1.282, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        # desert
        [-9.21, 9.05, 84.1e3, 101.1e3, 98.6e3, 1.98, 13.11, 139.1e3, 132.7e3, 193.5e3,
         3.68, 159.3, 464.4e3, 93.1e3, 94.2e3, 1.000, 20.0, 1.0, 0.0, 0.0, 0.93, 0.19, 1.79],
        # continental temperate
        [-0.62, 9.19, 228.9e3, 205.2e3, 143.6e3, 2.68, 7.16, 93.7e3, 186.8e3, 133.5e3,
         4.75, 8.12, 93.2e3, 135.9e3, 113.4e3, 1.224, 1.282, 0.92, 0.25, 1.77, 0.93, 0.31, 2.00],
        # maritime temperate over land
        [-0.39, 2.86, 141.7e3, 315.9e3, 167.4e3, 6.86, 10.38, 187.8e3, 169.6e3, 108.9e3,
         8.58, 13.97, 216.0e3, 152.0e3, 122.7e3, 1.518, 1.282, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        # maritime temperate over sea
        [3.15, 857.9, 2222.0e3, 164.8e3, 116.3e3, 8.51, 169.8, 609.8e3, 119.9e3, 106.6e3,
         8.43, 8.19, 136.2e3, 188.5e3, 122.9e3, 1.518, 1.282, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    ]
)  # fmt: skip


@njit(**_JIT)
def _curve(c1: float, c2: float, x1: float, x2: float, x3: float, d_e: float) -> float:
    """Evaluate the climate curves' common form (TN101 III.69, III.70)."""
    r = (d_e / x1) ** 2
    return (c1 + c2 / (1.0 + ((d_e - x2) / x3) ** 2)) * r / (1.0 + r)


@njit(**_JIT)
def _variability_db(
    z_t: float,
    z_l: float,
    z_s: float,
    he0: float,
    he1: float,
    delta_h: float,
    f: float,
    d: float,
    a_ref: float,
    climate: int,
    mdvar: int,
) -> float:
    """Attenuation at the requested time/location/situation quantiles (Algorithm, section 5).

    ``z_*`` are the standard normal deviates of the percentages
    (:func:`_q_inverse`). Returns the attenuation relative to free space, dB.
    """
    c = _CLIMATE[climate - 1]
    wn = f / 47.7
    d_ex = math.sqrt(2.0 * _A9000 * he0) + math.sqrt(2.0 * _A9000 * he1) + (575.7e12 / wn) ** _THIRD
    d_e = 130e3 * d / d_ex if d < d_ex else 130e3 + d - d_ex
    mode = mdvar
    no_situation = mode >= 20
    if no_situation:
        mode -= 20
    sigma_s = 0.0 if no_situation else 5.0 + 3.0 * math.exp(-d_e / 100e3)
    no_location = mode >= 10
    if no_location:
        mode -= 10
    v_med = _curve(c[0], c[1], c[2], c[3], c[4], d_e)
    if mode == 0:  # single message
        z_t = z_s
        z_l = z_s
    elif mode == 1:  # accidental
        z_l = z_s
    elif mode == 2:  # mobile
        z_l = z_t
    sigma_l = 0.0
    if not no_location:
        dhd = _roughness(d, delta_h)
        sigma_l = 10.0 * wn * dhd / (wn * dhd + 13.0)
    y_l = sigma_l * z_l
    q = math.log(0.133 * wn)
    g_minus = c[17] + c[18] / ((c[19] * q) ** 2 + 1.0)
    g_plus = c[20] + c[21] / ((c[22] * q) ** 2 + 1.0)
    s_minus = _curve(c[5], c[6], c[7], c[8], c[9], d_e) * g_minus
    s_plus = _curve(c[10], c[11], c[12], c[13], c[14], d_e) * g_plus
    s_td = c[15] * s_plus
    tgtd = (s_plus - s_td) * c[16]
    if z_t < 0.0:
        sigma_t = s_minus
    elif z_t <= c[16]:
        sigma_t = s_plus
    else:
        sigma_t = s_td + tgtd / z_t
    y_t = sigma_t * z_t
    y_s2 = sigma_s * sigma_s + y_t * y_t / (7.8 + z_s * z_s) + y_l * y_l / (24.0 + z_s * z_s)
    if mode == 0:
        y_r = 0.0
        y_s = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l + y_s2) * z_s
    elif mode == 1:
        y_r = y_t
        y_s = math.sqrt(sigma_l * sigma_l + y_s2) * z_s
    elif mode == 2:
        y_r = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l) * z_t
        y_s = math.sqrt(y_s2) * z_s
    else:  # broadcast
        y_r = y_t + y_l
        y_s = math.sqrt(y_s2) * z_s
    out = a_ref - v_med - y_r - y_s
    if out < 0.0:  # soft floor (Algorithm, 5.2)
        out = out * (29.0 - out) / (29.0 - 10.0 * out)
    return out


# -- point to point ------------------------------------------------------------
@njit(**_JIT)
def check_inputs(
    h_tx: float,
    h_rx: float,
    f: float,
    climate: int,
    n_0: float,
    pol: int,
    eps: float,
    sigma: float,
    mdvar: int,
    time: float,
    location: float,
    situation: float,
) -> int:
    """Apply the reference's input checks that are errors (not warnings): an ``ERR_*`` code."""
    if not 0.5 <= h_tx <= 3000.0:
        return ERR_TX_HEIGHT
    if not 0.5 <= h_rx <= 3000.0:
        return ERR_RX_HEIGHT
    if climate < 1 or climate > 7:
        return ERR_CLIMATE
    if not 250.0 <= n_0 <= 400.0:
        return ERR_REFRACTIVITY
    if not 20.0 <= f <= 20000.0:
        return ERR_FREQUENCY
    if pol != 0 and pol != 1:
        return ERR_POLARIZATION
    if not eps >= 1.0:
        return ERR_EPSILON
    if not sigma > 0.0:
        return ERR_SIGMA
    base = mdvar % 10
    if mdvar < 0 or mdvar > 33 or base > 3:
        return ERR_MDVAR
    if not 0.0 < situation < 100.0:
        return ERR_SITUATION
    if not 0.0 < time < 100.0:
        return ERR_TIME
    if not 0.0 < location < 100.0:
        return ERR_LOCATION
    return ERR_NONE


@njit(**_JIT)
def _attenuation(
    los: bool,
    fit0: float,
    fit1: float,
    z_first: float,
    z_last: float,
    th0: float,
    th1: float,
    dl0: float,
    dl1: float,
    delta_h: float,
    d: float,
    a_e: float,
    gamma_e: float,
    n_s: float,
    z_g: complex,
    h_tx: float,
    h_rx: float,
    f: float,
    climate: int,
    mdvar: int,
    z_t: float,
    z_l: float,
    z_s: float,
) -> tuple[float, int, int]:
    """Finish a prediction from the profile analysis: ``(loss dB, error code, mode)``.

    ``fit0``, ``fit1`` are the least-squares terrain heights under the
    terminals (over the whole analysed span when ``los``, else over each
    terminal's side up to 0.9 of its horizon distance).
    """
    he0 = h_tx + max(z_first - fit0, 0.0)
    he1 = h_rx + max(z_last - fit1, 0.0)
    if los:  # smooth-earth horizons from the effective heights
        dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / max(he0, 5.0)))
        dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / max(he1, 5.0)))
        if dl0 + dl1 <= d:
            q = (d / (dl0 + dl1)) ** 2
            he0 *= q
            he1 *= q
            dl0 = math.sqrt(2.0 * he0 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / max(he0, 5.0)))
            dl1 = math.sqrt(2.0 * he1 * a_e) * math.exp(-0.07 * math.sqrt(delta_h / max(he1, 5.0)))
        q = math.sqrt(2.0 * he0 * a_e)
        th0 = (0.65 * delta_h * (q / dl0 - 1.0) - 2.0 * he0) / q
        q = math.sqrt(2.0 * he1 * a_e)
        th1 = (0.65 * delta_h * (q / dl1 - 1.0) - 2.0 * he1) / q
    a_ref, err, mode = _reference_db(
        th0, th1, f, z_g, dl0, dl1, he0, he1, gamma_e, n_s, delta_h, h_tx, h_rx, d
    )
    if err != ERR_NONE:
        return math.nan, err, 0
    a_var = _variability_db(z_t, z_l, z_s, he0, he1, delta_h, f, d, a_ref, climate, mdvar)
    return a_var + free_space_db(d, f), ERR_NONE, mode


@njit(**_JIT)
def p2p_loss(
    z: np.ndarray,
    n: int,
    xi: float,
    h_tx: float,
    h_rx: float,
    f: float,
    climate: int,
    n_0: float,
    pol: int,
    eps: float,
    sigma: float,
    mdvar: int,
    z_t: float,
    z_l: float,
    z_s: float,
    s: np.ndarray,
    dev: np.ndarray,
) -> tuple[float, int, int]:
    """Return the basic transmission loss over the profile ``z[0..n]`` (spacing ``xi`` m).

    Inputs are assumed checked (:func:`check_inputs`); ``z_t``, ``z_l``, ``z_s``
    are the normal deviates of the time, location and situation percentages,
    ``s`` and ``dev`` scratch arrays (:data:`DELTA_H_POINTS` values). Returns
    ``(loss dB, error code, mode)``; mode 1 line of sight, 2 diffraction,
    3 troposcatter.
    """
    if n < 2 or not xi > 0.0:
        return math.nan, ERR_PROFILE, 0
    d = n * xi
    # surface refractivity at the mean height of the middle 80 % of the path
    p10 = int(0.1 * n)
    h_sys = 0.0
    for i in range(p10, n - p10 + 1):
        h_sys += z[i]
    h_sys /= n - 2 * p10 + 1
    n_s = n_0 if h_sys == 0.0 else n_0 * math.exp(-h_sys / 9460.0)
    gamma_e = _GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    a_e = 1.0 / gamma_e
    ep_r = complex(eps, 18000.0 * sigma / f)
    z_g = cmath.sqrt(ep_r - 1.0)
    if pol == 1:
        z_g = z_g / ep_r
    # quick profile analysis
    th0, th1, dl0, dl1 = _horizons(z, n, xi, a_e, h_tx, h_rx)
    x_a = min(15.0 * h_tx, 0.1 * dl0)
    x_b = d - min(15.0 * h_rx, 0.1 * dl1)
    delta_h = _delta_h(z, n, xi, x_a, x_b, s, dev)
    los = dl0 + dl1 > 1.5 * d  # well within line of sight: smooth-earth horizons
    if los:
        fit0, fit1 = _line_fit(z, 0, n, xi, x_a, x_b)
    else:
        fit0 = _line_fit(z, 0, n, xi, x_a, 0.9 * dl0)[0]
        fit1 = _line_fit(z, 0, n, xi, d - 0.9 * dl1, x_b)[1]
    return _attenuation(
        los, fit0, fit1, z[0], z[n], th0, th1, dl0, dl1, delta_h, d, a_e, gamma_e, n_s, z_g,
        h_tx, h_rx, f, climate, mdvar, z_t, z_l, z_s,
    )  # fmt: skip


@njit(**_JIT)
def p2p_pfl(
    pfl: np.ndarray,
    h_tx: float,
    h_rx: float,
    f: float,
    climate: int,
    n_0: float,
    pol: int,
    eps: float,
    sigma: float,
    mdvar: int,
    time: float,
    location: float,
    situation: float,
) -> tuple[float, int, int]:
    """:func:`p2p_loss` on an NTIA PFL array, inputs checked: ``(loss, error, mode)``."""
    err = check_inputs(
        h_tx, h_rx, f, climate, n_0, pol, eps, sigma, mdvar, time, location, situation
    )
    if err != ERR_NONE:
        return math.nan, err, 0
    n = int(pfl[0])
    s = np.empty(DELTA_H_POINTS)
    dev = np.empty(DELTA_H_POINTS)
    return p2p_loss(
        pfl[2:],
        n,
        pfl[1],
        h_tx,
        h_rx,
        f,
        climate,
        n_0,
        pol,
        eps,
        sigma,
        mdvar,
        _q_inverse(time / 100.0),
        _q_inverse(location / 100.0),
        _q_inverse(situation / 100.0),
        s,
        dev,
    )


@njit(**_JIT)
def _line_fit_sums(
    z: np.ndarray, p0: np.ndarray, p1: np.ndarray, n: int, xi: float, x_a: float, x_b: float
) -> tuple[float, float]:
    """:func:`_line_fit` of ``z[0..n]`` from prefix sums, in O(1).

    ``p0[i]`` is the sum of ``z[0..i-1]``, ``p1[i]`` the sum of ``k z[k]`` over
    the same points; same span, end weights and result as :func:`_line_fit`.
    """
    i_a = int(max(x_a / xi, 0.0))
    i_b = n - int(max(n - x_b / xi, 0.0))
    if i_b <= i_a:
        i_a = int(max(i_a - 1.0, 0.0))
        i_b = n - int(max(n - (i_b + 1.0), 0.0))
    span = float(i_b - i_a)
    centre = i_b - 0.5 * span
    offset = -0.5 * span
    inner0 = p0[i_b] - p0[i_a + 1]
    inner1 = p1[i_b] - p1[i_a + 1]
    total = 0.5 * (z[i_a] + z[i_b]) + inner0
    moment = 0.5 * (z[i_a] - z[i_b]) * offset + inner1 + (offset - i_a) * inner0
    mean = total / span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return mean - slope * centre, mean + slope * (n - centre)


@njit(**_JIT)
def _radial_loss(
    z: np.ndarray,
    n: int,
    xi: float,
    p0: np.ndarray,
    p1: np.ndarray,
    g: np.ndarray,
    inv: np.ndarray,
    h_tx: float,
    h_rx: float,
    f: float,
    climate: int,
    n_0: float,
    z_g: complex,
    mdvar: int,
    z_t: float,
    z_l: float,
    z_s: float,
    s: np.ndarray,
    dev: np.ndarray,
) -> tuple[float, int, int]:
    """:func:`p2p_loss` over ``z[0..n]`` with the radial's precomputed sums.

    The same prediction (to rounding) with the profile work that does not
    depend on the end point done once per radial: ``p0``, ``p1`` prefix sums
    of ``z`` and ``k z[k]`` (mean height and line fits in O(1)), ``g[i] =
    (z[i] - z[0] - h_tx) / (i xi)`` (transmitter horizon without a division)
    and ``inv[k] = 1 / (k xi)`` (receiver horizon likewise).
    """
    d = n * xi
    p10 = int(0.1 * n)
    h_sys = (p0[n - p10 + 1] - p0[p10]) / (n - 2 * p10 + 1)
    n_s = n_0 if h_sys == 0.0 else n_0 * math.exp(-h_sys / 9460.0)
    gamma_e = _GAMMA_A * (1.0 - 0.04665 * math.exp(n_s / 179.3))
    a_e = 1.0 / gamma_e
    # horizons, as _horizons
    z_tx = z[0] + h_tx
    z_rx = z[n] + h_rx
    half_g = 0.5 / a_e
    th0 = (z_rx - z_tx) / d - d * half_g
    th1 = -(z_rx - z_tx) / d - d * half_g
    dl0 = d
    dl1 = d
    for i in range(1, n):
        k = n - i
        t_tx = g[i] - (i * xi) * half_g
        t_rx = (z[i] - z_rx) * inv[k] - (k * xi) * half_g
        if t_tx > th0:
            th0 = t_tx
            dl0 = i * xi
        if t_rx > th1:
            th1 = t_rx
            dl1 = k * xi
    x_a = min(15.0 * h_tx, 0.1 * dl0)
    x_b = d - min(15.0 * h_rx, 0.1 * dl1)
    delta_h = _delta_h(z, n, xi, x_a, x_b, s, dev)
    los = dl0 + dl1 > 1.5 * d
    if los:
        fit0, fit1 = _line_fit_sums(z, p0, p1, n, xi, x_a, x_b)
    else:
        fit0 = _line_fit_sums(z, p0, p1, n, xi, x_a, 0.9 * dl0)[0]
        fit1 = _line_fit_sums(z, p0, p1, n, xi, d - 0.9 * dl1, x_b)[1]
    return _attenuation(
        los, fit0, fit1, z[0], z[n], th0, th1, dl0, dl1, delta_h, d, a_e, gamma_e, n_s, z_g,
        h_tx, h_rx, f, climate, mdvar, z_t, z_l, z_s,
    )  # fmt: skip


# -- area coverage from point-to-point predictions along radials ---------------
@njit(**_JIT)
def offset_table(
    hr: int, hc: int, dx: float, dy: float, n_rad: int, eval_step_m: float, f: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each cell of a site's window falls in the radial grid, and its free-space loss.

    For the cell ``(a, b)`` cells from the site (``a`` rows down, ``b`` columns
    right, window index ``(a + hr, b + hc)``): ``u`` the radial coordinate
    (azimuth clockwise from grid north, in radial steps, ``0 <= u < n_rad``),
    ``v`` the distance in evaluation steps, ``fs`` ITM's free-space loss at
    the cell's distance (at least 10 m). The table depends on the grid and the
    scenario only, so it is built once and shared by every site.
    """
    u = np.empty((2 * hr + 1, 2 * hc + 1), np.float32)
    v = np.empty((2 * hr + 1, 2 * hc + 1), np.float32)
    fs = np.empty((2 * hr + 1, 2 * hc + 1), np.float32)
    two_pi = 2.0 * math.pi
    for a in range(-hr, hr + 1):
        north = -a * dy
        for b in range(-hc, hc + 1):
            east = b * dx
            d = math.sqrt(north * north + east * east)
            az = math.atan2(east, north)
            if az < 0.0:
                az += two_pi
            uu = az / two_pi * n_rad
            if uu >= n_rad:
                uu -= n_rad
            u[a + hr, b + hc] = uu
            v[a + hr, b + hc] = d / eval_step_m
            fs[a + hr, b + hc] = free_space_db(max(d, 10.0), f)
    return u, v, fs


@njit(**_JIT)
def _lerp_known(a: float, b: float, w: float) -> float:
    """Return ``a + w (b - a)``, not reading ``b`` when its weight is zero (it may be NaN)."""
    return a if w == 0.0 else a + w * (b - a)


@njit(**_JIT)
def _radial_profile(
    zp: np.ndarray,
    r0: int,
    c0: int,
    sin_az: float,
    cos_az: float,
    sample_m: float,
    dx: float,
    dy: float,
    n: int,
    z: np.ndarray,
) -> int:
    """Sample ``z[0..n]`` along one radial every ``sample_m`` metres; return the first NaN index.

    Point ``s`` lies ``s * sample_m`` from the site cell's centre; its
    elevation is bilinear between the four surrounding cell centres (the
    surface the ray kernels of :mod:`covgap.radio._raycast` sample). Point 0 is the
    site cell. Returns ``n + 1`` when the whole radial is known.
    """
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    z[0] = zp[r0 + 1, c0 + 1]
    first_nan = n + 1
    if z[0] != z[0]:
        return 0
    for s in range(1, n + 1):
        col = c0 + s * sample_m * sin_az / dx
        row = r0 - s * sample_m * cos_az / dy
        ci = math.floor(col)
        ri = math.floor(row)
        value = math.nan
        if ci >= -1 and ci < cols and ri >= -1 and ri < rows:
            wc = col - ci
            wr = row - ri
            top = _lerp_known(zp[ri + 1, ci + 1], zp[ri + 1, ci + 2], wc)
            value = top
            if wr != 0.0:
                value = top + wr * (_lerp_known(zp[ri + 2, ci + 1], zp[ri + 2, ci + 2], wc) - top)
        z[s] = value
        if value != value:
            first_nan = s
            break
    return first_nan


@njit(**_JIT)
def signal_one(
    zp: np.ndarray,
    r0: int,
    c0: int,
    h_tx: float,
    h_rx: float,
    radius_m: float,
    dx: float,
    dy: float,
    eirp_dbm: float,
    f: float,
    climate: int,
    n_0: float,
    pol: int,
    eps: float,
    sigma: float,
    mdvar: int,
    z_t: float,
    z_l: float,
    z_s: float,
    n_rad: int,
    sample_m: float,
    eval_every: int,
    lut_u: np.ndarray,
    lut_v: np.ndarray,
    lut_fs: np.ndarray,
    out: np.ndarray,
    out_r0: int,
    out_c0: int,
) -> int:
    """Received signal (dBm) of one site at every cell within ``radius_m``, by ITM.

    Area coverage from point-to-point ITM along radials (the SPLAT! /
    Signal-Server construction): ``n_rad`` radials leave the site cell centre
    at equal azimuth steps; each is sampled every ``sample_m`` metres on the
    bilinear terrain surface, and ITM is evaluated on the profile from the
    site to every ``eval_every``-th sample (every ``eval_every * sample_m``
    metres). A cell takes the *excess loss over free space* (ITM loss minus
    free space at the evaluation distance) interpolated bilinearly in azimuth
    and distance between the four surrounding evaluation points (constant
    before the first), plus the free-space loss at its own distance. Heights
    are above the ground at the site cell centre and at each profile end.

    ``lut_u``, ``lut_v``, ``lut_fs`` come from :func:`offset_table` for the
    window half sides of ``out`` (the window is centred on the site when
    ``out_r0 = r0 - hr``, ``out_c0 = c0 - hc``; a full grid is a window too,
    with the tables of half sides ``(rows, cols)``). Unknown terrain (nodata,
    or off the grid) on a radial makes the cells it serves beyond that point
    NaN; cells whose nearest radial is known before them are computed.
    Returns the number of ITM evaluations (0 when the site is on nodata).
    """
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    hr = (lut_u.shape[0] - 1) // 2
    hc = (lut_u.shape[1] - 1) // 2
    step_m = eval_every * sample_m
    n_eval = math.ceil(radius_m / step_m) + 1
    n_samp = n_eval * eval_every
    excess = np.full((n_rad, n_eval + 1), np.nan)
    known_to = np.zeros(n_rad)  # per radial: distance (m) up to which the terrain is known
    z = np.empty(n_samp + 1)
    s_buf = np.empty(DELTA_H_POINTS)
    dev_buf = np.empty(DELTA_H_POINTS)
    p0 = np.zeros(n_samp + 2)
    p1 = np.zeros(n_samp + 2)
    g = np.zeros(n_samp + 1)
    inv = np.zeros(n_samp + 1)
    for k in range(1, n_samp + 1):
        inv[k] = 1.0 / (k * sample_m)
    ep_r = complex(eps, 18000.0 * sigma / f)
    z_g = cmath.sqrt(ep_r - 1.0)
    if pol == 1:
        z_g = z_g / ep_r
    evals = 0
    inside = 0 <= r0 < rows and 0 <= c0 < cols
    if inside and zp[r0 + 1, c0 + 1] == zp[r0 + 1, c0 + 1]:
        for k in range(n_rad):
            az = 2.0 * math.pi * k / n_rad
            first_nan = _radial_profile(
                zp, r0, c0, math.sin(az), math.cos(az), sample_m, dx, dy, n_samp, z
            )
            known_to[k] = (first_nan - 1) * sample_m
            last = min(first_nan - 1, n_samp)
            for i in range(last + 1):  # the radial's sums (see _radial_loss)
                p0[i + 1] = p0[i] + z[i]
                p1[i + 1] = p1[i] + i * z[i]
            for i in range(1, last + 1):
                g[i] = (z[i] - z[0] - h_tx) * inv[i]
            for m in range(1, n_eval + 1):
                n = m * eval_every
                if n >= first_nan:
                    break
                loss, err, _ = _radial_loss(
                    z, n, sample_m, p0, p1, g, inv, h_tx, h_rx, f, climate, n_0, z_g, mdvar,
                    z_t, z_l, z_s, s_buf, dev_buf,
                )  # fmt: skip
                evals += 1
                if err == ERR_NONE:
                    excess[k, m] = loss - free_space_db(n * sample_m, f)
            excess[k, 0] = excess[k, 1]
    all_known = evals > 0  # every evaluation point known: no test per cell
    for k in range(n_rad):
        for m in range(n_eval + 1):
            all_known &= excess[k, m] == excess[k, m]
    ex32 = excess.astype(np.float32)
    for r in range(max(r0 - hr, 0), min(r0 + hr, rows - 1) + 1):
        a = r - r0
        ddy = a * dy
        rem = radius_m * radius_m - ddy * ddy
        if rem < 0.0:
            continue
        w = int(math.sqrt(rem) / dx)
        r2 = radius_m * radius_m
        while w >= 0 and (w * dx) * (w * dx) + ddy * ddy > r2:  # _raycast._fill_radius's test
            w -= 1
        while w < hc and ((w + 1) * dx) * ((w + 1) * dx) + ddy * ddy <= r2:
            w += 1
        w = min(w, hc)
        c_lo = max(c0 - w, 0)
        c_hi = min(c0 + w, cols - 1)
        lu = lut_u[a + hr]
        lv = lut_v[a + hr]
        lf = lut_fs[a + hr]
        orow = out[r - out_r0]
        if all_known:  # common case: no branch per cell
            for c in range(c_lo, c_hi + 1):
                q = c - c0 + hc
                uu = lu[q]
                vv = lv[q]
                k0 = int(uu)
                wu = uu - k0
                k1 = k0 + 1 if k0 + 1 < n_rad else 0
                m0 = min(int(vv), n_eval - 1)
                wv = vv - m0
                e00 = ex32[k0, m0]
                e01 = ex32[k0, m0 + 1]
                e10 = ex32[k1, m0]
                e11 = ex32[k1, m0 + 1]
                e0 = e00 + wv * (e01 - e00)
                e1 = e10 + wv * (e11 - e10)
                orow[c - out_c0] = eirp_dbm - (e0 + wu * (e1 - e0) + lf[q])
            continue
        for c in range(c_lo, c_hi + 1):
            q = c - c0 + hc
            value = math.nan
            if evals > 0:
                uu = np.float64(lu[q])
                vv = np.float64(lv[q])
                k0 = int(uu)
                wu = uu - k0
                k1 = k0 + 1 if k0 + 1 < n_rad else 0
                m0 = min(int(vv), n_eval - 1)
                wv = vv - m0
                ddx = (c - c0) * dx
                d = math.sqrt(ddx * ddx + ddy * ddy)
                # the nearer radial decides whether the cell is known; the other
                # one only contributes where it is known too
                near, far, w_far = (k0, k1, wu) if wu <= 0.5 else (k1, k0, 1.0 - wu)
                if d <= known_to[near]:
                    e0 = excess[near, m0]
                    e1 = excess[near, m0 + 1]
                    e_near = e0 + wv * (e1 - e0) if e1 == e1 else e0
                    e = e_near
                    if d <= known_to[far]:
                        g0 = excess[far, m0]
                        g1 = excess[far, m0 + 1]
                        e_far = g0 + wv * (g1 - g0) if g1 == g1 else g0
                        if e_far == e_far:
                            e = e_near + w_far * (e_far - e_near)
                    value = eirp_dbm - (e + np.float64(lf[q]))
            orow[c - out_c0] = value
    return evals
