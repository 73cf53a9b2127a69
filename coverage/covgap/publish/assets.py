"""The map's JavaScript and CSS, read from installed packages and inlined into the page.

Leaflet comes from the ``xstatic-leaflet`` package (its images are turned into
data URIs); covgap's own controls (layers' legends, village search, measuring
tool, fullscreen) live in ``covgap/publish/static``.  Nothing is downloaded:
the page carries everything it runs, so it works without a network.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources
from pathlib import Path

from covgap.errors import ParameterError

__all__ = ["covgap_css", "covgap_js", "leaflet_css", "leaflet_js", "leaflet_version"]

_SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")
_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")


def _leaflet_dir() -> Path:
    try:
        import xstatic.pkg.leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ImportError(
            "the map needs the xstatic-leaflet package: pip install xstatic-leaflet"
        ) from exc
    return Path(xleaflet.BASE_DIR)


def leaflet_version() -> str:
    """Return the version of the Leaflet library that is inlined."""
    import xstatic.pkg.leaflet as xleaflet

    return str(xleaflet.VERSION)


def _script_safe(text: str, name: str) -> str:
    if "</script" in text.lower():
        raise ParameterError(f"{name} cannot be inlined: it contains '</script'")
    return text


@functools.cache
def leaflet_js() -> str:
    """Return Leaflet's minified JavaScript, without its source-map comment."""
    text = (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    return _script_safe(_SOURCE_MAP.sub("\n", text), "leaflet.js")


@functools.cache
def leaflet_css() -> str:
    """Return Leaflet's CSS with its images inlined as data URIs."""
    root = _leaflet_dir()
    text = (root / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((root / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return _CSS_URL.sub(inline, text)


def _static(name: str) -> str:
    return resources.files("covgap.publish").joinpath("static", name).read_text(encoding="utf-8")


@functools.cache
def covgap_js() -> str:
    """Return covgap's map script (layers, legends, search, measuring, fullscreen)."""
    return _script_safe(_static("covgap-map.js"), "covgap-map.js")


@functools.cache
def covgap_css() -> str:
    """Return covgap's map stylesheet."""
    return _static("covgap-map.css")
