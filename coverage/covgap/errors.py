"""The exceptions covgap raises.

Every error the library raises on purpose derives from :class:`CoverageError`,
and each also inherits the built-in exception it resembles, so callers may
catch either (``except covgap.errors.DatasetError`` or ``except ValueError``).

Input errors carry where the problem is: the file, the (1-based data) row and
the column, and render as one line::

    data/electricity/village_power.csv: row 14, column 'grid_power': expected yes/no, got 'maybe'

The CLI prints that line after ``error:`` and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CRSError",
    "ConfigError",
    "CoverageError",
    "DEMError",
    "DatasetError",
    "DatasetNotFoundError",
    "DemoError",
    "EncodingError",
    "GeometryError",
    "MissingColumnError",
    "MissingDependencyError",
    "ModelValidityError",
    "ParameterError",
    "ProblemInputError",
    "SolverError",
    "TerrainError",
    "ValueParseError",
]


class CoverageError(Exception):
    """Root of every error raised by covgap."""


class DatasetError(CoverageError, ValueError):
    """Input data that cannot be used as it is.

    Parameters
    ----------
    message
        What is wrong and, where it helps, what was expected or what to do.
    path
        The file at fault, if any.
    row
        1-based data row (header excluded) or feature number, if any.
    column
        Column or property name, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.row = row
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = ", ".join(where)
        text = f"{text}: {self.message}" if text else self.message
        if self.path is not None:
            text = f"{self.path}: {text}"
        return text


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder or one of its required files does not exist."""


class MissingColumnError(DatasetError):
    """A required column or property is absent from a file."""


class ValueParseError(DatasetError):
    """A cell holds a value of the wrong kind (not a number, not yes/no...)."""


class EncodingError(DatasetError, UnicodeError):
    """A text file is in none of the supported encodings."""


class GeometryError(DatasetError):
    """A geometry is missing, empty, invalid or of the wrong type."""


class CRSError(CoverageError, ValueError):
    """A coordinate reference system is missing, unknown or unsuitable."""


class TerrainError(CoverageError, ValueError):
    """A DEM is unreadable, does not cover the area, or holds implausible heights."""


class DEMError(DatasetError, TerrainError):
    """A dataset's DEM is unreadable, implausible or does not cover the communes.

    Both a :class:`DatasetError` (it names the file) and a :class:`TerrainError`.
    """


class ConfigError(CoverageError, ValueError):
    """A settings (TOML) file or value is invalid."""


class ParameterError(CoverageError, ValueError):
    """A function or command argument is outside its valid range (radius <= 0, NaN...)."""


class ProblemInputError(CoverageError, ValueError):
    """An optimisation problem is malformed (shapes, negative weights or costs...)."""


class MissingDependencyError(CoverageError, ImportError):
    """An optional package or program is needed and not installed (the message says how)."""


class SolverError(CoverageError, RuntimeError):
    """An optimisation model could not be solved or reported a bad status."""


class DemoError(CoverageError, RuntimeError):
    """The synthetic demo generator could not meet one of its own targets."""


class ModelValidityError(ParameterError):
    """A propagation-model input lies outside the model's validity (e.g. ITM's 20 MHz-20 GHz)."""
