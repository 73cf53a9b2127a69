"""Reading settings files (TOML): one reader, one key check, one range check.

The typed settings themselves live with what they configure
(:class:`covgap.radio.scenario.Scenario`, :class:`covgap.planning.costs.CostSettings`,
:class:`covgap.planning.candidates.CandidateSettings`); this module holds what their
loaders share, so every settings file fails the same way: one
:class:`~covgap.errors.ConfigError` line naming the file and the key.
"""

from __future__ import annotations

import difflib
import math
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from covgap.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Range", "check_keys", "check_number", "read_toml"]

#: ``(low, high, low_inclusive, high_inclusive)``.
Range = tuple[float, float, bool, bool]


def read_toml(path: str | Path, *, what: str = "settings file") -> dict[str, Any]:
    """Parse a TOML file.

    Parameters
    ----------
    path
        The file.
    what
        How the file is named in the "not found" message (e.g. "scenario file").

    Raises
    ------
    ConfigError
        If the file is missing, unreadable or not valid TOML.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def check_keys(mapping: Mapping[str, Any], allowed: Iterable[str], source: str) -> None:
    """Refuse keys not in ``allowed``, suggesting the closest known one.

    Raises
    ------
    ConfigError
        ``<source>: unknown key 'x'; did you mean 'y'?``
    """
    known = list(allowed)
    for key in mapping:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{source}: unknown key {key!r}{hint}")


def check_number(value: Any, bounds: Range, where: str) -> float:
    """Return ``value`` as a float if it is a number within ``bounds``.

    Parameters
    ----------
    value
        The TOML value (booleans are refused even though Python counts them as ints).
    bounds
        ``(low, high, low_inclusive, high_inclusive)``.
    where
        Prefix of the error message, e.g. ``"costs.toml: key 'fibre_max_km'"``.

    Raises
    ------
    ConfigError
        Not a number, NaN, or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    number = float(value)
    low, high, low_in, high_in = bounds
    too_low = number < low or (number == low and not low_in)
    too_high = number > high or (number == high and not high_in)
    if math.isnan(number) or too_low or too_high:
        lo = "[" if low_in else "("
        hi = "]" if high_in else ")"
        raise ConfigError(f"{where}: {number:g} is outside {lo}{low:g}, {high:g}{hi}")
    return number
