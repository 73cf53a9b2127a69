"""`covgap run --screenshot` in a real browser.

A module of its own: Playwright's sync API cannot start while another
module's browser fixture holds one open.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_dataset
from covgap.cli import main
from covgap.publish.screenshot import chromium_path

pytestmark = pytest.mark.browser

pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[browser]')"
)
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


def test_run_screenshot_writes_the_map_picture(tmp_path: Path) -> None:
    data = write_dataset(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["-q", "run", "--data", str(data), "--out", str(out), "--offline", "--screenshot"]
    assert main([*argv, "--no-sensitivity"]) == 0
    png = out / "test_dataset.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000  # a drawn map, not an empty page
