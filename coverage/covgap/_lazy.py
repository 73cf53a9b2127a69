"""Public names that load their module on first access (PEP 562).

Each package's ``__init__`` maps its public names to the modules that define
them and calls :func:`lazy_names`, so that ``import covgap.radio`` starts
neither numba nor the publishing libraries until a name is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` for a package.

    Parameters
    ----------
    package
        The package's ``__name__``.
    names
        Public name -> module that defines it.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` to assign in the package.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - PEP 562's name
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next access skips this hook
        return value

    def __dir__() -> list[str]:  # noqa: N807 - PEP 562's name
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__, sorted(names)
