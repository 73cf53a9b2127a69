"""The synthetic survey of reported mobile signal per village."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["survey_rows", "yes_no"]


def yes_no(value: bool) -> str:
    """Return the Vietnamese yes/no word used in the demo's tables."""
    return "có" if value else "không"


def survey_rows(
    codes: Sequence[str], names: Sequence[str], communes: Sequence[str], covered: Sequence[bool]
) -> list[tuple[str, str, str, str]]:
    """Rows of ``survey/village_signal.csv``: code, village, commune, có/không."""
    return [
        (c, n, m, yes_no(bool(s)))
        for c, n, m, s in zip(codes, names, communes, covered, strict=True)
    ]
