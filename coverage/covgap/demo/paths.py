"""Where the embedded demo dataset lives: the checkout's ``data/``, or the user's cache."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["default_data_dir", "demo_dir"]

log = logging.getLogger(__name__)


def default_data_dir(checkout: Path | None = None) -> Path:
    """Return the embedded demo dataset folder.

    In a source checkout this is the committed ``data/`` folder beside
    ``coverage/``.  In an installed copy without it, the demo is generated
    (deterministically) into the user's cache folder on first use.

    Parameters
    ----------
    checkout
        The folder to look in first (default: the source checkout's ``data/``).
    """
    if checkout is None:
        checkout = Path(__file__).resolve().parents[3] / "data"
    if (checkout / "dataset.toml").is_file():
        return checkout
    import os

    from covgap import __version__
    from covgap.demo.generator import generate_demo

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    target = cache / "covgap" / f"demo-{__version__}"
    if not (target / "dataset.toml").is_file():
        log.info("generating the synthetic demo dataset into %s", target)
        generate_demo(target)
    return target


def demo_dir() -> Path:
    """Return the synthetic Tủa Chùa demo dataset folder (generated on first use)."""
    return default_data_dir()
