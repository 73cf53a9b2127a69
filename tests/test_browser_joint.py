"""The joint plan's map layers in a real browser (Playwright + Debian's Chromium)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import write_dataset
from covgap.cli import main
from covgap.publish.screenshot import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[browser]')"
)
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def joint_map(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser_joint")
    data = write_dataset(root / "data")
    out = root / "out"
    args = ["-q", "run", "--data", str(data), "--out", str(out), "--offline", "--lang", "en",
            "--joint", "--sites", "3", "--no-sensitivity", "--budget-power", "2e10"]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return out / "test_dataset.html", summary["joint"]


@pytest.fixture(scope="module")
def page(joint_map: tuple[Path, dict[str, Any]]) -> Iterator[Any]:
    path, _ = joint_map
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
        )
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function("window.covgapMap !== undefined", timeout=10_000)
        page.errors = errors
        yield page
        browser.close()


def test_joint_layers_are_drawn_with_their_names(page: Any, joint_map: Any) -> None:
    _, joint = joint_map
    assert page.errors == []
    names = page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers span[data-layer]'))"
        ".map(s => [s.dataset.layer, s.textContent])"
    )
    layers = dict(names)
    assert layers["joint_lines"] == "Proposed medium-voltage lines (joint plan)"
    assert layers["joint_villages"] == "Villages getting grid power (joint plan)"
    assert layers["joint_sites"] == "Tower sites (joint plan)"
    assert joint["lines"], "the small district's joint plan builds at least one line"
    assert page.locator("path.covgap-line-joint_lines").count() == len(joint["lines"])
    assert page.locator("path.covgap-point-joint_villages").count() == len(
        joint["villages_electrified"]
    )


def test_a_joint_line_opens_its_popup(page: Any, joint_map: Any) -> None:
    _, joint = joint_map
    line = page.locator("path.covgap-line-joint_lines").first
    line.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert "Length (m)" in text and "Paid by" in text
    assert any(f"Line {ln['id']}" in text for ln in joint["lines"])
