"""Reported mobile signal per village (``survey/village_signal.csv``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from covgap.data.electricity import ID_COLUMNS, check_id_columns
from covgap.data.join import StatusTable
from covgap.data.readers import parse_yes_no, read_table

__all__ = ["read_survey"]

log = logging.getLogger(__name__)


def read_survey(path: str | Path, *, file: str = "survey/village_signal.csv") -> StatusTable:
    """Read ``survey/village_signal.csv``.

    Parameters
    ----------
    path
        The CSV file: ``village_code`` (or ``village_name`` + ``commune_name``)
        and ``mobile_signal`` (yes/no; blank = unknown).
    file
        The file's path relative to the dataset, used in reports.

    Returns
    -------
    StatusTable
        Value ``mobile_signal`` (pandas ``boolean``).

    Raises
    ------
    MissingColumnError
        If ``mobile_signal`` or a way to name villages is missing.
    ValueParseError
        On a cell that is not yes/no (naming row and column).
    """
    raw = read_table(path, required=("mobile_signal",), optional=ID_COLUMNS)
    check_id_columns(raw, path)
    signal = [
        parse_yes_no(value, path=path, row=int(row), column="mobile_signal")
        for row, value in raw["mobile_signal"].items()
    ]
    values = pd.DataFrame(
        {"mobile_signal": pd.array([pd.NA if v is None else v for v in signal], dtype="boolean")},
        index=raw.index,
    )
    log.info("%s: %d survey rows", path, len(raw))
    return StatusTable(name="survey", file=file, raw=raw, values=values)
