"""A picture of a map page, taken in a real (headless) Chromium through Playwright.

Used by the browser tests and to make the README's picture::

    python -m covgap.publish.screenshot maps/tua_chua_demo.html docs/images/tua_chua_demo.png

Network requests are blocked (only ``file:`` and ``data:`` load), so the
picture shows what the offline map shows; an online map shows no tiles.
Needs the ``browser`` extra (``pip install covgap[browser]``) and Debian's
Chromium (``apt-get install chromium``); Playwright's own browser download is
not used.
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from covgap.errors import MissingDependencyError
from covgap.files import atomic_write_bytes

__all__ = ["CHROMIUM_ARGS", "chromium_path", "save"]

log = logging.getLogger(__name__)

#: Flags for a quiet headless Chromium that never phones home.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
)


def chromium_path() -> str | None:
    """Return the system Chromium executable (``/usr/bin/chromium``), or ``None``."""
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _shrink(png: bytes, colours: int) -> bytes:
    """Quantise a PNG to a palette when Pillow is available (a smaller file)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - optional
        return png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(
        colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def save(
    html: str | Path,
    png: str | Path,
    *,
    width: int = 1280,
    height: int = 800,
    settle_ms: int = 500,
    colours: int | None = 256,
    browser: Any = None,
) -> Path:
    """Open the map page ``html`` in headless Chromium and save a screenshot to ``png``.

    Parameters
    ----------
    html
        The map's HTML file.
    png
        Where to write the picture (atomically).
    width, height
        Size of the browser window in pixels.
    settle_ms
        Time given to the page to draw after it loaded.
    colours
        Quantise the picture to this many colours to keep it small (needs
        Pillow; ``None`` keeps full colour).
    browser
        A Playwright ``Browser`` to use (from the caller's running
        Playwright); by default Chromium is started and closed here.

    Returns
    -------
    Path
        ``png``.
    """
    url = Path(html).resolve().as_uri()

    def only_local(route: Any) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    def shoot(chromium: Any) -> bytes:
        page = chromium.new_page(viewport={"width": width, "height": height})
        try:
            page.route("**/*", only_local)
            page.goto(url, wait_until="load")
            page.wait_for_timeout(settle_ms)
            return bytes(page.screenshot(full_page=False))
        finally:
            page.close()

    if browser is not None:
        data = shoot(browser)
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise MissingDependencyError(
                "screenshots need Playwright: pip install 'covgap[browser]'"
            ) from None
        executable = chromium_path()
        if executable is None:
            raise MissingDependencyError(
                "screenshots need Chromium: apt-get install chromium (Debian/Ubuntu)"
            )
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=executable, args=list(CHROMIUM_ARGS))
            try:
                data = shoot(chromium)
            finally:
                chromium.close()
    if colours:
        data = _shrink(data, colours)
    target = atomic_write_bytes(png, data)
    log.info("wrote %s (%d kB)", target, len(data) // 1024)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m covgap.publish.screenshot MAP.html OUT.png``."""
    parser = argparse.ArgumentParser(description="Screenshot of a covgap map in headless Chromium")
    parser.add_argument("html")
    parser.add_argument("png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args(argv)
    save(args.html, args.png, width=args.width, height=args.height)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
