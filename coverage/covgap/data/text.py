"""Vietnamese-aware text handling: name keys and yes/no values.

Village and commune names arrive typed by hand, in NFC or NFD Unicode, with
or without diacritics, in any case and with stray spaces.  :func:`name_key`
reduces a name to a comparison key so that "Bản Huổi Só", "BAN HUOI SO" and
the NFD spelling of the first all match.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "fold", "name_key", "nfc", "parse_bool"]

_SPACES = re.compile(r"\s+")
# Administrative prefixes that may or may not be typed before a name.
_PREFIXES = (
    "to dan pho ",
    "thi tran ",
    "khu pho ",
    "ban ",
    "thon ",
    "xom ",
    "xa ",
    "tdp ",
    "tt ",
)
# Punctuation typed between words ("Huổi-Só", "TDP. 3", "Bản: Só") counts as a space.
_PUNCTUATION = re.compile(r"[-_.,:;/'\u2019\u2013\u2014()]+")

TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1", "co", "x", "on"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "khong", "off"})


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC with runs of whitespace collapsed and trimmed."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str) -> str:
    """Fold ``text`` for comparison: no diacritics, case-folded, single spaces.

    ``đ``/``Đ`` are mapped to ``d`` (they are letters, not a base letter plus a
    combining mark, so decomposition alone would keep them).

    Examples
    --------
    >>> fold("  Xã  Tủa Thàng ")
    'xa tua thang'
    >>> fold("Mường Đun")
    'muong dun'
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def name_key(text: str) -> str:
    """Return the key used to match place names across files.

    The key is :func:`fold` of the name, with punctuation (hyphens, dots,
    apostrophes...) read as spaces, without a leading administrative word
    ("Bản", "Thôn", "Xóm", "Tổ dân phố", "Khu phố", "Xã", "Thị trấn", "TDP", "TT").

    Examples
    --------
    >>> name_key("Bản Huổi Só") == name_key("HUOI SO")
    True
    """
    key = _SPACES.sub(" ", _PUNCTUATION.sub(" ", fold(text))).strip()
    for prefix in _PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return key[len(prefix) :]
    return key


def parse_bool(value: object) -> bool | None:
    """Read a yes/no cell.

    Accepts yes/no, true/false, 1/0, có/không (any case, with or without
    diacritics) and real booleans.  Blank cells and ``None`` give ``None``.

    Raises
    ------
    ValueError
        If the value is none of these.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value != value:  # NaN
            return None
        if value in (0, 1):
            return bool(value)
        raise ValueError(f"expected yes/no, got {value!r}")
    text = fold(str(value))
    if text == "":
        return None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"expected yes/no (yes/no, true/false, 1/0, có/không), got {value!r}")
