"""Keep the source root ``coverage/`` from posing as coverage.py.

The repository's source root is a folder named ``coverage/`` (it holds the
``covgap`` package).  Run from the repository root, Python finds that folder
on ``sys.path`` and, when coverage.py is not installed, imports it as an empty
*namespace package* called ``coverage``.  Libraries that optionally integrate
with coverage.py (numba's ``numba.misc.coverage_support`` among them) then see
``import coverage`` succeed and fail later with ``AttributeError`` on
``coverage.types``.

A regular package always wins over a namespace portion, so an installed
coverage.py is never affected.  This module is the one place that guards
against the shadow: it runs before anything imports numba.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["shield_coverage_name"]


def _is_namespace(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return getattr(module, "__file__", None) is None and (
        spec is None or spec.origin in (None, "namespace")
    )


def shield_coverage_name() -> None:
    """Make ``import coverage`` fail cleanly when only a namespace folder is found.

    If ``coverage`` resolves to a namespace package (a folder without
    ``__init__.py``, such as this repository's source root), register ``None``
    under that name in :data:`sys.modules`, so that ``import coverage`` raises
    :class:`ImportError` and optional integrations treat coverage.py as absent.
    A real coverage.py, imported or importable, is left alone.
    """
    loaded = sys.modules.get("coverage", False)
    if loaded is None:
        return
    if isinstance(loaded, ModuleType):
        if not _is_namespace(loaded):
            return
        del sys.modules["coverage"]
    try:
        spec = importlib.util.find_spec("coverage")
    except (ImportError, ValueError):
        return
    if spec is None:
        return
    if spec.origin in (None, "namespace") and spec.submodule_search_locations is not None:
        sys.modules["coverage"] = None  # type: ignore[assignment]
