"""Progress bars on long stages, silent unless asked.

The library never draws a bar on its own: a function with a ``progress``
parameter draws one when it is ``True``, and when it is ``None`` (the
default) it follows the module-level switch, which is off until
:func:`enable` turns it on.  The ``covgap`` command turns it on unless ``-q``;
a notebook can call ``covgap.progress.enable()`` once, or pass
``progress=True`` to one call.

Bars are :mod:`tqdm`'s: a widget in Jupyter when ``ipywidgets`` is installed
(as ``tqdm.auto`` chooses), otherwise the text bar on standard error, which
Jupyter also shows.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from covgap.errors import ParameterError

__all__ = ["bar", "chunks", "enable", "enabled", "is_enabled", "resolve"]

T = TypeVar("T")

_STATE = {"enabled": False}


def enable(on: bool = True) -> None:
    """Turn progress bars on (or off with ``on=False``) for calls that do not say."""
    _STATE["enabled"] = bool(on)


def is_enabled() -> bool:
    """Whether calls that do not say draw progress bars."""
    return _STATE["enabled"]


@contextlib.contextmanager
def enabled(on: bool = True) -> Iterator[None]:
    """Turn the module-level switch on (or off) for the duration of a ``with`` block."""
    saved = _STATE["enabled"]
    _STATE["enabled"] = bool(on)
    try:
        yield
    finally:
        _STATE["enabled"] = saved


def resolve(progress: bool | None) -> bool:
    """Return a call's ``progress`` argument, or the module-level switch for ``None``."""
    return is_enabled() if progress is None else bool(progress)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _bar_class() -> Any:
    """Choose tqdm's widget bar inside a Jupyter kernel with ipywidgets, else its text bar."""
    if _in_kernel():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm
        except ImportError:
            pass
        else:
            return notebook_tqdm
    from tqdm.std import tqdm as text_tqdm

    return text_tqdm


def bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    progress: bool | None = None,
) -> Any:
    """Return a progress bar (a disabled, silent one unless progress is on).

    Parameters
    ----------
    iterable
        Items to iterate over, or ``None`` for a bar advanced by ``update(n)``.
    total
        Number of steps (default: ``len(iterable)`` when it has one).
    desc
        Label shown before the bar.
    unit
        Name of a step.
    progress
        ``True``/``False``, or ``None`` for the module-level switch.

    Returns
    -------
    tqdm.tqdm
        Use as an iterable or a context manager; ``update(n)`` advances it.
    """
    cls = _bar_class()
    return cls(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=not resolve(progress),
        leave=False,
        dynamic_ncols=True,
    )


def chunks(n: int, size: int) -> list[slice]:
    """Split ``range(n)`` into consecutive slices of at most ``size`` items.

    >>> chunks(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if size < 1:
        raise ParameterError(f"chunk size must be >= 1, got {size}")
    return [slice(i * size, min(n, (i + 1) * size)) for i in range(math.ceil(n / size))]
