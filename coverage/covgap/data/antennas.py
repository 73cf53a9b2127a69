"""Sector antennas: the parametric 3GPP pattern and MSI/Planet pattern files.

A site of ``towers/sites.csv`` may list sectors (several rows with one
``site_id``, each with ``azimuth_deg`` and optionally ``beamwidth_deg``,
``tilt_deg``, ``gain_dbi`` or ``pattern``).  This module holds what the data
layer needs to read them: :class:`Sector`, :class:`AntennaPattern` and
:func:`read_msi`; :mod:`covgap.radio.sectors` applies them to the signal grid.

Angles
------
* ``phi``: horizontal angle from the sector's boresight, degrees, clockwise
  seen from above (as azimuths are), wrapped to (-180, 180].
* ``theta``: vertical angle *below* the horizon, degrees (positive towards
  the ground), as a downtilt is; the pattern is evaluated at
  ``theta - tilt_deg``.

Parametric pattern (3GPP TR 36.814 V9.0.0, table A.2.1.1-2)
-----------------------------------------------------------
``A_H(phi) = min(12 (phi / phi_3dB)^2, A_m)``,
``A_V(theta) = min(12 ((theta - tilt) / theta_3dB)^2, SLA_v)``,
``A = min(A_H + A_V, A_m)`` with ``phi_3dB`` = ``beamwidth_deg`` (default
65 degrees, the common rural panel), ``theta_3dB`` = 10 degrees,
``A_m`` = 25 dB (front-to-back limit) and ``SLA_v`` = 20 dB.  The gain towards
a cell is ``gain_dbi - A``.

MSI/Planet files
----------------
Plain text: optional header lines (``NAME``, ``MAKE``, ``FREQUENCY``,
``GAIN <value> [dBd|dBi]`` -- dBd when no unit is given, dBi = dBd + 2.15 --,
``TILT``, ``COMMENT``, vendor keys), then ``HORIZONTAL 360`` followed by 360
lines ``<angle> <attenuation dB>`` for angles 0..359 and ``VERTICAL 360``
followed by 360 such lines.  Attenuations are losses relative to the maximum
(non-negative).  Horizontal angle 0 is the boresight, counted clockwise;
vertical angle 0 is the horizon, counted downwards (350 is 10 degrees above
the horizon).  The combined attenuation is
``min(A_H(phi) + A_V(theta - tilt), max(A_H))``: the horizontal pattern's
deepest value (its front-to-back ratio) bounds it, as ``A_m`` does for the
parametric pattern.  Values between whole degrees are interpolated linearly.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from covgap.errors import DatasetError

__all__ = [
    "DBD_TO_DBI",
    "DEFAULT_BEAMWIDTH_DEG",
    "FRONT_TO_BACK_DB",
    "SIDELOBE_V_DB",
    "VERTICAL_BEAMWIDTH_DEG",
    "AntennaPattern",
    "Sector",
    "read_msi",
]

log = logging.getLogger(__name__)

#: Horizontal half-power beamwidth of a sector without one, degrees (the 65-degree panel).
DEFAULT_BEAMWIDTH_DEG = 65.0
#: Vertical half-power beamwidth of the parametric pattern, degrees (3GPP TR 36.814).
VERTICAL_BEAMWIDTH_DEG = 10.0
#: Front-to-back limit ``A_m`` of the parametric pattern, dB (3GPP TR 36.814).
FRONT_TO_BACK_DB = 25.0
#: Vertical side-lobe limit ``SLA_v`` of the parametric pattern, dB (3GPP TR 36.814).
SIDELOBE_V_DB = 20.0
#: dBi = dBd + 2.15 (gain of a half-wave dipole over an isotropic antenna).
DBD_TO_DBI = 2.15


@dataclass(frozen=True, eq=False)
class AntennaPattern:
    """An MSI/Planet antenna pattern.

    Attributes
    ----------
    name
        ``NAME`` line (or the first line, or the file name).
    gain_dbi
        Maximum gain, dBi (NaN when the file gives none).
    horizontal, vertical
        float64 ``(360,)`` attenuations, dB (>= 0), at whole degrees.
    path
        The file read.
    """

    name: str
    gain_dbi: float
    horizontal: np.ndarray = field(repr=False)
    vertical: np.ndarray = field(repr=False)
    path: Path | None = None

    @property
    def front_to_back_db(self) -> float:
        """Deepest horizontal attenuation, dB (bounds the combined attenuation)."""
        return float(self.horizontal.max())

    def attenuation_db(self, phi_deg: np.ndarray, theta_deg: np.ndarray) -> np.ndarray:
        """Return the combined attenuation towards ``(phi, theta)``, dB (module docstring)."""
        a_h = _circular(self.horizontal, np.asarray(phi_deg, float))
        a_v = _circular(self.vertical, np.asarray(theta_deg, float))
        return np.minimum(a_h + a_v, self.front_to_back_db)


def _circular(values: np.ndarray, angle_deg: np.ndarray) -> np.ndarray:
    """Linear interpolation of 360 whole-degree samples at any angle."""
    a = np.mod(angle_deg, 360.0)
    i0 = np.floor(a).astype(np.int64) % 360
    frac = a - np.floor(a)
    return values[i0] * (1.0 - frac) + values[(i0 + 1) % 360] * frac


@dataclass(frozen=True, eq=False)
class Sector:
    """One sector of a site.

    Attributes
    ----------
    azimuth_deg
        Boresight, degrees clockwise from grid north.
    beamwidth_deg
        Horizontal half-power beamwidth of the parametric pattern, degrees.
    tilt_deg
        Downtilt, degrees (positive towards the ground).
    gain_dbi
        Maximum gain, dBi; NaN takes the pattern file's gain, else the site's
        ``antenna_gain_dbi`` (scenario or override).
    pattern
        An MSI pattern, or ``None`` for the parametric 3GPP pattern.
    row
        Data row of ``sites.csv`` (for messages).
    """

    azimuth_deg: float
    beamwidth_deg: float = DEFAULT_BEAMWIDTH_DEG
    tilt_deg: float = 0.0
    gain_dbi: float = math.nan
    pattern: AntennaPattern | None = field(default=None)
    row: int = 0

    def max_gain_dbi(self, site_gain_dbi: float) -> float:
        """Return the sector's maximum gain, dBi (column, else file, else the site's gain)."""
        if not math.isnan(self.gain_dbi):
            return self.gain_dbi
        if self.pattern is not None and not math.isnan(self.pattern.gain_dbi):
            return self.pattern.gain_dbi
        return site_gain_dbi

    @property
    def half_power_width_deg(self) -> float:
        """Horizontal half-power (3 dB) beamwidth, degrees (of the pattern file when given)."""
        if self.pattern is None:
            return self.beamwidth_deg
        h = self.pattern.horizontal
        right = next((a for a in range(1, 181) if h[a % 360] > 3.0), 180)
        left = next((a for a in range(1, 181) if h[(360 - a) % 360] > 3.0), 180)
        return float(min(360, right + left))

    def attenuation_db(self, azimuth_deg: np.ndarray, below_deg: np.ndarray) -> np.ndarray:
        """Attenuation towards cells at grid azimuth ``azimuth_deg`` and ``below_deg``, dB.

        Parameters
        ----------
        azimuth_deg
            Azimuth from the site to each cell, degrees clockwise from grid north.
        below_deg
            Angle of each cell below the antenna's horizontal, degrees.
        """
        phi = np.mod(np.asarray(azimuth_deg, float) - self.azimuth_deg + 180.0, 360.0) - 180.0
        theta = np.asarray(below_deg, float) - self.tilt_deg
        if self.pattern is not None:
            return self.pattern.attenuation_db(phi, theta)
        a_h = np.minimum(12.0 * (phi / self.beamwidth_deg) ** 2, FRONT_TO_BACK_DB)
        a_v = np.minimum(12.0 * (theta / VERTICAL_BEAMWIDTH_DEG) ** 2, SIDELOBE_V_DB)
        return np.minimum(a_h + a_v, FRONT_TO_BACK_DB)


def _number(text: str, path: Path, line: int, what: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise DatasetError(
            f"line {line}: {what}: expected a number, got {text!r}", path=path
        ) from None
    if not math.isfinite(value):
        raise DatasetError(f"line {line}: {what}: expected a number, got {text!r}", path=path)
    return value


def _gain(rest: list[str], path: Path, line: int) -> float:
    if not rest:
        raise DatasetError(f"line {line}: GAIN: expected a value", path=path)
    text = rest[0]
    unit = rest[1].lower() if len(rest) > 1 else ""
    for suffix in ("dbi", "dbd"):
        if text.lower().endswith(suffix):
            text, unit = text[: -len(suffix)], suffix
    value = _number(text, path, line, "GAIN")
    if unit not in ("", "dbd", "dbi"):
        raise DatasetError(f"line {line}: GAIN: unit {rest[1]!r} is not dBd or dBi", path=path)
    return value if unit == "dbi" else value + DBD_TO_DBI


def read_msi(path: str | Path) -> AntennaPattern:
    """Read an antenna pattern in the MSI/Planet format.

    Parameters
    ----------
    path
        The ``.msi`` / ``.pln`` / ``.txt`` file (format in the module docstring).

    Returns
    -------
    AntennaPattern

    Raises
    ------
    DatasetError
        When the file is missing or unreadable, a section is absent, does not
        hold 360 values for the angles 0..359, or a value is not a
        non-negative number (the message names the file and the line).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError("antenna pattern file not found", path=path) from None
    except OSError as exc:
        raise DatasetError(f"cannot read the antenna pattern: {exc}", path=path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    name = ""
    gain = math.nan
    sections: dict[str, np.ndarray] = {}
    i = 0
    while i < len(lines):
        parts = lines[i].split()
        number = i + 1
        i += 1
        if not parts:
            continue
        key = parts[0].upper()
        if key in ("HORIZONTAL", "VERTICAL"):
            if key in sections:
                raise DatasetError(f"line {number}: second {key} section", path=path)
            count = int(_number(parts[1], path, number, key)) if len(parts) > 1 else 360
            if count != 360:
                raise DatasetError(
                    f"line {number}: {key} {count}: expected 360 values (one per degree)",
                    path=path,
                )
            values = np.full(360, np.nan)
            taken = 0
            while taken < 360:
                if i >= len(lines):
                    raise DatasetError(f"{key} section ends after {taken} of 360 values", path=path)
                row = lines[i].split()
                number = i + 1
                i += 1
                if not row:
                    continue
                if len(row) < 2:
                    raise DatasetError(
                        f"line {number}: {key}: expected '<angle> <attenuation dB>', "
                        f"got {lines[i - 1].strip()!r} ({taken} of 360 values read)",
                        path=path,
                    )
                angle = _number(row[0], path, number, f"{key} angle")
                value = _number(row[1], path, number, f"{key} attenuation")
                if angle != round(angle) or not 0 <= angle <= 359:
                    raise DatasetError(
                        f"line {number}: {key}: angle {row[0]} is not a whole degree 0..359",
                        path=path,
                    )
                if not math.isnan(values[int(angle)]):
                    raise DatasetError(
                        f"line {number}: {key}: angle {int(angle)} given twice", path=path
                    )
                if value < 0:
                    raise DatasetError(
                        f"line {number}: {key}: attenuation {value:g} is negative (MSI values "
                        "are losses relative to the maximum, written without a minus sign)",
                        path=path,
                    )
                values[int(angle)] = value
                taken += 1
            sections[key] = values
        elif key == "NAME":
            name = " ".join(parts[1:])
        elif key == "GAIN":
            gain = _gain(parts[1:], path, number)
        elif number == 1 and not name:
            name = lines[0].strip()
    for key in ("HORIZONTAL", "VERTICAL"):
        if key not in sections:
            raise DatasetError(
                f"no {key} 360 section: not an MSI/Planet antenna pattern", path=path
            )
    log.debug("read antenna pattern %s from %s", name, path)
    return AntennaPattern(
        name=name or path.stem,
        gain_dbi=gain,
        horizontal=sections["HORIZONTAL"],
        vertical=sections["VERTICAL"],
        path=path,
    )
