"""Deterministic generator of the SYNTHETIC Tủa Chùa demo dataset.

``generate_demo(out_dir)`` writes the dataset folder that ``covgap run`` uses
by default; :func:`default_data_dir` finds it (the checkout's ``data/``, or a
copy generated into the user's cache).  The communes' names, 2009 census
populations and approximate centroids are real; boundaries, terrain, villages,
grid, towers and survey are synthetic and drawn from one fixed seed, so two
runs give identical bytes.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "generate_demo": "covgap.demo.generator",
    "default_data_dir": "covgap.demo.paths",
    "demo_dir": "covgap.demo.paths",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
