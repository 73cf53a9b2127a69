"""The ITS Irregular Terrain Model (Longley-Rice), point-to-point mode, and its area raster.

:func:`itm_loss_db` is the public point-to-point prediction: basic
transmission loss over one terrain profile in NTIA's PFL form. It reproduces
NTIA/ITS's published reference cases within 0.01 dB (``tests/test_itm.py``).
:func:`site_signal_itm` builds per-site received-signal rasters from it along
radials (``model = "itm"`` in a scenario). The compiled core is
:mod:`covgap.radio._itm`; ``docs/radio.md`` describes the model, its inputs, its
validity limits and the area construction.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from covgap.errors import ModelValidityError
from covgap.radio import _itm

__all__ = [
    "AREA_RADIALS",
    "AREA_STEP_M",
    "CLIMATES",
    "POLARIZATIONS",
    "ItmParameters",
    "itm_loss_db",
    "site_signal_itm",
]

logger = logging.getLogger(__name__)

#: ITM radio climates (the reference's codes 1-7).
CLIMATES: dict[str, int] = {
    "equatorial": 1,
    "continental_subtropical": 2,
    "maritime_subtropical": 3,
    "desert": 4,
    "continental_temperate": 5,
    "maritime_temperate_land": 6,
    "maritime_temperate_sea": 7,
}
#: Polarisations (the reference's codes).
POLARIZATIONS: dict[str, int] = {"horizontal": 0, "vertical": 1}

#: Radials per site of the area raster (azimuth step 360 / AREA_RADIALS degrees).
AREA_RADIALS = 180
#: Distance between ITM evaluations along a radial, m (rounded to whole DEM cells).
AREA_STEP_M = 480.0

_MESSAGES = {
    _itm.ERR_TX_HEIGHT: "transmitter height {h_tx:g} m is outside ITM's 0.5-3000 m",
    _itm.ERR_RX_HEIGHT: "receiver height {h_rx:g} m is outside ITM's 0.5-3000 m",
    _itm.ERR_CLIMATE: "radio climate {climate!r} is not one of 1-7",
    _itm.ERR_REFRACTIVITY: "refractivity {n_0:g} N-units is outside ITM's 250-400",
    _itm.ERR_FREQUENCY: "frequency {f:g} MHz is outside ITM's 20-20000 MHz",
    _itm.ERR_POLARIZATION: "polarization {pol!r} is not 0 (horizontal) or 1 (vertical)",
    _itm.ERR_EPSILON: "relative permittivity {eps:g} is below 1",
    _itm.ERR_SIGMA: "conductivity {sigma:g} S/m is not positive",
    _itm.ERR_MDVAR: "mode of variability {mdvar!r} is not 0-3 (+10, +20 or +30)",
    _itm.ERR_SITUATION: "situation percentage {situation:g} is outside (0, 100)",
    _itm.ERR_TIME: "time percentage {time:g} is outside (0, 100)",
    _itm.ERR_LOCATION: "location percentage {location:g} is outside (0, 100)",
    _itm.ERR_SURFACE_REFRACTIVITY: "surface refractivity on this path is outside 150-400 N-units",
    _itm.ERR_EFFECTIVE_EARTH: "effective earth radius is outside 4000-13333 km",
    _itm.ERR_GROUND_IMPEDANCE: (
        "ground impedance invalid for permittivity {eps:g}, conductivity {sigma:g} S/m "
        "at {f:g} MHz (real part not above the imaginary part)"
    ),
}


@dataclass(frozen=True)
class ItmParameters:
    """ITM's inputs besides the profile, frequency and antenna heights.

    Defaults are NTIA's reference defaults; :class:`covgap.radio.scenario.Scenario`
    documents the values a scenario uses and their sources.
    """

    climate: int = 5
    refractivity: float = 301.0
    polarization: int = 1
    permittivity: float = 15.0
    conductivity: float = 0.005
    mdvar: int = 12
    time: float = 50.0
    location: float = 50.0
    situation: float = 50.0

    def deviates(self) -> tuple[float, float, float]:
        """Return the standard normal deviates of the time, location and situation %."""
        return (
            _itm._q_inverse(self.time / 100.0),
            _itm._q_inverse(self.location / 100.0),
            _itm._q_inverse(self.situation / 100.0),
        )

    def check(self, frequency_mhz: float, tx_height_m: float, rx_height_m: float) -> None:
        """Raise :class:`ModelValidityError` where the reference treats an input as an error."""
        for name in ("climate", "polarization", "mdvar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ModelValidityError(f"ITM: {name} must be an integer, got {value!r}")
        values = {
            "h_tx": float(tx_height_m),
            "h_rx": float(rx_height_m),
            "f": float(frequency_mhz),
            "climate": int(self.climate),
            "n_0": float(self.refractivity),
            "pol": int(self.polarization),
            "eps": float(self.permittivity),
            "sigma": float(self.conductivity),
            "mdvar": int(self.mdvar),
            "time": float(self.time),
            "location": float(self.location),
            "situation": float(self.situation),
        }
        code = _itm.check_inputs(*values.values())
        if code == _itm.ERR_NONE:
            # parameter-only errors found later by the algorithm (ground impedance)
            flat = np.array([10.0, 100.0, *([0.0] * 11)])
            _, code, _ = _itm.p2p_pfl(flat, *values.values())
        if code != _itm.ERR_NONE:
            raise ModelValidityError("ITM: " + _MESSAGES[code].format(**values))


def _as_pfl(pfl: Any) -> np.ndarray:
    try:
        arr = np.asarray(pfl, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelValidityError("ITM: pfl must be an array of numbers") from None
    if arr.ndim != 1 or arr.size < 5:
        raise ModelValidityError(
            "ITM: pfl must be a 1-D array [number of points - 1, spacing m, elevations...] "
            "with at least 3 elevations"
        )
    if not np.isfinite(arr).all():
        raise ModelValidityError("ITM: pfl holds NaN or infinite values (unknown terrain)")
    n = arr[0]
    if n != int(n) or n < 2:
        raise ModelValidityError(f"ITM: pfl[0] (points - 1) must be an integer >= 2, got {n:g}")
    if arr.size != int(n) + 3:
        raise ModelValidityError(
            f"ITM: pfl[0] = {int(n)} announces {int(n) + 1} elevations, "
            f"the array holds {arr.size - 2}"
        )
    if not arr[1] > 0.0:
        raise ModelValidityError(f"ITM: pfl[1] (spacing) must be positive, got {arr[1]:g} m")
    return arr


def itm_loss_db(
    pfl: Any,
    tx_height_m: float,
    rx_height_m: float,
    frequency_mhz: float,
    *,
    climate: int = 5,
    refractivity: float = 301.0,
    polarization: int = 1,
    permittivity: float = 15.0,
    conductivity: float = 0.005,
    mdvar: int = 12,
    time: float = 50.0,
    location: float = 50.0,
    situation: float = 50.0,
) -> float:
    """Return the basic transmission loss of one path by ITM point-to-point mode, dB.

    Parameters
    ----------
    pfl
        Terrain profile in NTIA's PFL form: ``[number of points - 1, spacing in
        metres, elevations in metres from transmitter to receiver...]``.
    tx_height_m, rx_height_m
        Antenna heights above the ground at the profile's ends, m (0.5-3000).
    frequency_mhz
        20-20 000 MHz.
    climate
        Radio climate: 1 equatorial, 2 continental subtropical, 3 maritime
        subtropical, 4 desert, 5 continental temperate, 6 maritime temperate
        over land, 7 maritime temperate over sea.
    refractivity
        Surface refractivity reduced to sea level ``N_0``, N-units (250-400).
    polarization
        0 horizontal, 1 vertical.
    permittivity, conductivity
        Ground relative permittivity (>= 1) and conductivity (S/m, > 0).
    mdvar
        Mode of variability: 0 single message, 1 accidental, 2 mobile,
        3 broadcast; +10 without location variability, +20 without direct
        situation variability, +30 both.
    time, location, situation
        Percentages, each in (0, 100).

    Returns
    -------
    float
        Basic transmission loss, dB (free-space loss plus ITM's attenuation).

    Raises
    ------
    ModelValidityError
        (a :class:`~covgap.errors.CoverageError` and a ``ValueError``) for a
        malformed profile or any input the NTIA reference treats as an error:
        frequency outside 20-20 000 MHz, heights outside 0.5-3000 m,
        refractivity outside 250-400 N-units, unknown climate, polarisation or
        mode of variability, permittivity below 1, conductivity not positive,
        percentages outside (0, 100), and the algorithm's own checks (surface
        refractivity, effective earth radius, ground impedance).
    """
    arr = _as_pfl(pfl)
    params = ItmParameters(
        climate=climate,
        refractivity=refractivity,
        polarization=polarization,
        permittivity=permittivity,
        conductivity=conductivity,
        mdvar=mdvar,
        time=time,
        location=location,
        situation=situation,
    )
    params.check(frequency_mhz, tx_height_m, rx_height_m)
    loss, code, _ = _itm.p2p_pfl(
        arr,
        float(tx_height_m),
        float(rx_height_m),
        float(frequency_mhz),
        int(climate),
        float(refractivity),
        int(polarization),
        float(permittivity),
        float(conductivity),
        int(mdvar),
        float(time),
        float(location),
        float(situation),
    )
    if code != _itm.ERR_NONE:
        raise ModelValidityError("ITM: " + _MESSAGES.get(code, f"error {code}").format(
            h_tx=tx_height_m, h_rx=rx_height_m, f=frequency_mhz, climate=climate,
            n_0=refractivity, pol=polarization, eps=permittivity, sigma=conductivity,
            mdvar=mdvar, time=time, location=location, situation=situation,
        ))  # fmt: skip
    return float(loss)


@functools.lru_cache(maxsize=2)
def _offset_table(
    hr: int, hc: int, dx: float, dy: float, radials: int, step_m: float, frequency_mhz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`covgap.radio._itm.offset_table`, kept for the next chunk of sites (read-only)."""
    tables = _itm.offset_table(hr, hc, dx, dy, radials, step_m, frequency_mhz)
    for table in tables:
        table.flags.writeable = False
    return tables


def site_signal_itm(
    zp: np.ndarray,
    rc: np.ndarray,
    heights_m: np.ndarray,
    eirp_dbm: np.ndarray,
    *,
    receiver_height_m: float,
    radius_m: float,
    dx: float,
    dy: float,
    frequency_mhz: float,
    params: ItmParameters,
    radials: int = AREA_RADIALS,
    step_m: float = AREA_STEP_M,
) -> np.ndarray:
    """Per-site received signal on the full grid by ITM along radials (one site at a time).

    Parameters
    ----------
    zp
        Padded elevation (:func:`covgap.radio._raycast.pad`).
    rc
        int64 ``(n, 2)`` site cells (row, col).
    heights_m, eirp_dbm
        ``(n,)`` antenna heights above ground (m) and EIRP + receiver gain (dBm).
    receiver_height_m, radius_m, dx, dy, frequency_mhz
        Receiver height, radius, cell size (m), carrier frequency.
    params
        ITM inputs.
    radials, step_m
        Radials per site and distance between ITM evaluations along each
        (rounded to whole cells, at least one).

    Returns
    -------
    numpy.ndarray
        float32 ``(n, rows, cols)`` dBm; NaN outside the radius, on nodata and
        beyond nodata on a radial.

    Raises
    ------
    ModelValidityError
        If an input is outside ITM's validity (a mast height from
        ``sites.csv`` outside 0.5-3000 m, for instance).
    """
    rows = zp.shape[0] - 2
    cols = zp.shape[1] - 2
    heights = np.asarray(heights_m, float).reshape(-1)
    for h in np.unique(heights):
        params.check(frequency_mhz, float(h), receiver_height_m)
    sample_m = min(dx, dy)
    every = max(1, round(step_m / sample_m))
    hr = min(int(radius_m / dy), rows)
    hc = min(int(radius_m / dx), cols)
    lut_u, lut_v, lut_fs = _offset_table(
        hr, hc, float(dx), float(dy), int(radials), every * sample_m, float(frequency_mhz)
    )
    z_t, z_l, z_s = params.deviates()
    out = np.full((len(heights), rows, cols), np.nan, np.float32)
    win = np.empty((2 * hr + 1, 2 * hc + 1), np.float32)
    for s in range(len(heights)):
        r0, c0 = int(rc[s, 0]), int(rc[s, 1])
        win.fill(np.nan)
        _itm.signal_one(
            zp, r0, c0, float(heights[s]), float(receiver_height_m), float(radius_m),
            float(dx), float(dy), float(eirp_dbm[s]), float(frequency_mhz),
            int(params.climate), float(params.refractivity), int(params.polarization),
            float(params.permittivity), float(params.conductivity), int(params.mdvar),
            z_t, z_l, z_s, int(radials), sample_m, every, lut_u, lut_v, lut_fs,
            win, r0 - hr, c0 - hc,
        )  # fmt: skip
        # paste the window's part that lies on the grid
        g_r0, g_c0 = max(r0 - hr, 0), max(c0 - hc, 0)
        g_r1, g_c1 = min(r0 + hr + 1, rows), min(c0 + hc + 1, cols)
        if g_r0 < g_r1 and g_c0 < g_c1:
            out[s, g_r0:g_r1, g_c0:g_c1] = win[
                g_r0 - (r0 - hr) : g_r1 - (r0 - hr), g_c0 - (c0 - hc) : g_c1 - (c0 - hc)
            ]
    return out
