"""Deterministic generator of the SYNTHETIC Tủa Chùa demo dataset.

``generate_demo(out_dir)`` writes the dataset folder that ``covgap run`` uses
by default; :func:`default_data_dir` finds it (the checkout's ``data/``, or a
copy generated into the user's cache).  The communes' names, 2009 census
populations and approximate centroids are real; boundaries, terrain, villages,
grid, towers and survey are synthetic and drawn from one fixed seed, so two
runs give identical bytes.
"""

from __future__ import annotations

from covgap._lazy import lazy_names

_LAZY = {
    "generate_demo": "covgap.demo.generator",
    "default_data_dir": "covgap.demo.paths",
    "demo_dir": "covgap.demo.paths",
}

__getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
