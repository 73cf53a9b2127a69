"""Plausible, deterministic village names in Hmong and Thái style.

Highland communes get Hmong-style names (``Bản Háng Sung``), the Thái valley
communes Thái-style names (``Bản Huổi Lóng``), the district town numbered
residential groups (``Tổ dân phố 3``).  Names are unique across the district
so that joins by name within a commune never hesitate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["village_names"]

_HMONG_FIRST = (
    "Háng", "Pàng", "Sín", "Lồng", "Phìn", "Làng", "Pề", "Sáng", "Hấu", "Mào", "Tà", "Cáng",
    "Lùng", "Tông", "Hồng", "Chồng", "Dề", "Tòng", "Sủng", "Xá", "Pú", "Hừ", "Giàng", "Chế",
)  # fmt: skip
_HMONG_SECOND = (
    "Sung", "Dề", "Chải", "Sông", "Hồ", "Vốn", "Ngài", "Tớ", "Lìa", "Chua", "Phô", "Là",
    "Thàng", "Pao", "Dú", "Khống", "Sủ", "Cáo", "Phình", "Chớ", "Giàng", "Pả", "Cải", "Sình",
    "Tỉnh", "Mông", "Lử", "Dìn",
)  # fmt: skip
_THAI_FIRST = (
    "Huổi", "Nậm", "Pá", "Co", "Na", "Phiêng", "Hua", "Búng", "Bó", "Hát", "Nà", "Huổi",
)  # fmt: skip
_THAI_SECOND = (
    "Lóng", "Bó", "Ít", "Hẹ", "Có", "Mu", "Xa", "Chăn", "Pết", "Ten", "Lếch", "Sản", "Cang",
    "Tấu", "Nông", "Khoang", "Bon", "Mạ", "Sát", "Hồng", "Củ", "Pục",
)  # fmt: skip


def village_names(rng: np.random.Generator, count: int, style: str, used: set[str]) -> list[str]:
    """Draw ``count`` new village names not in ``used`` (which is updated).

    Parameters
    ----------
    rng
        The generator's random source.
    count
        How many names.
    style
        ``"town"``, ``"hmong"`` or ``"thai"``.
    used
        Names already taken anywhere in the district.
    """
    if style == "town":
        names = [f"Tổ dân phố {i}" for i in range(1, count + 1)]
        used.update(names)
        return names
    first, second = (
        (_THAI_FIRST, _THAI_SECOND) if style == "thai" else (_HMONG_FIRST, _HMONG_SECOND)
    )
    names: list[str] = []
    while len(names) < count:
        a = first[int(rng.integers(len(first)))]
        b = second[int(rng.integers(len(second)))]
        if a == b:
            continue
        name = f"Bản {a} {b}"
        if name in used:
            continue
        used.add(name)
        names.append(name)
    return names
