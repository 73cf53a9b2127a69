"""The map in a real browser: Playwright for Python driving Debian's Chromium.

Maps are generated once per module: the small synthetic dataset (with a
village and a commune whose names try to inject markup) online and offline,
and the embedded Tủa Chùa demo offline.  Every page is opened with all
network requests blocked and recorded (only ``file:`` and ``data:`` load).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import default_communes, default_villages, write_dataset
from covgap.cli import main
from covgap.publish.screenshot import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[browser]')"
)
if chromium_path() is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

INJECTION = "<img src=x onerror=alert(1)>"
COMMUNE_INJECTION = "{{7*7}} <svg onload=alert(2)>"


def _dataset(root: Path) -> Path:
    villages = default_villages()
    villages[5]["properties"]["village_name"] = INJECTION  # V06, in commune C02
    communes = default_communes()
    communes[1]["properties"]["commune_name"] = COMMUNE_INJECTION
    return write_dataset(root, villages=villages, communes=communes)


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``online``, ``offline`` (small dataset) and ``demo`` (offline) map files."""
    root = tmp_path_factory.mktemp("browser")
    data = _dataset(root / "data")
    out: dict[str, Path] = {}
    for name, extra in (("online", []), ("offline", ["--offline"])):
        folder = root / name
        assert main(["-q", "run", "--data", str(data), "--out", str(folder), *extra]) == 0
        out[name] = folder / "test_dataset.html"
    demo = root / "demo"
    assert main(["-q", "run", "--out", str(demo), "--offline"]) == 0
    out["demo"] = demo / "tua_chua_demo.html"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


class Page:
    """An opened map page with what it tried to fetch, printed and popped up."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        start = time.perf_counter()
        self.page.goto(path.resolve().as_uri(), wait_until="load")
        self.page.wait_for_function("window.covgapMap !== undefined", timeout=10_000)
        self.load_s = time.perf_counter() - start

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def count(self, selector: str) -> int:
        return int(self.page.locator(selector).count())

    def click_village(self, code: str) -> None:
        x, y = self.page.evaluate(
            """code => {
                const m = covgapMap.map;
                const e = covgapMap.villages.find(v => v.item.code === code);
                m.setView(e.marker.getLatLng(), 14, {animate: false});
                const p = m.latLngToContainerPoint(e.marker.getLatLng());
                const r = m.getContainer().getBoundingClientRect();
                return [p.x + r.left, p.y + r.top];
            }""",
            code,
        )
        self.page.mouse.click(x, y)

    def layer_checkbox(self, layer_id: str) -> Any:
        return self.page.locator(
            f".leaflet-control-layers label:has(span[data-layer='{layer_id}']) input"
        )


@pytest.fixture
def offline(browser: Any, maps: dict[str, Path]) -> Iterator[Page]:
    page = Page(browser, maps["offline"])
    yield page
    page.page.close()


def test_offline_map_loads_without_errors_or_requests(offline: Page) -> None:
    offline.page.wait_for_timeout(300)
    assert offline.errors == []
    assert offline.requests == []
    assert offline.count(".covgap-village") == 6
    # everything is drawn on the Leaflet map that folium's page created
    assert offline.page.evaluate("covgapMap.map === window.map_covgap")
    assert offline.count(".folium-map.leaflet-container") == 1
    assert offline.count(".covgap-rank") >= 1  # the ranked proposed sites
    assert offline.count(".covgap-tower") >= 1
    natural = offline.page.evaluate(
        "Array.from(document.querySelectorAll('img.covgap-hillshade')).map(i => i.naturalWidth)"
    )
    assert len(natural) == 1 and natural[0] > 10  # the hillshade basemap is drawn
    assert offline.count(".leaflet-control-scale") == 1
    assert offline.count(".covgap-fullscreen-button") == 1
    assert offline.count(".covgap-measure-button") == 1


def test_layer_control_lists_layers_and_toggles_them(offline: Page) -> None:
    ids = offline.page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers span[data-layer]'))"
        ".map(s => s.dataset.layer)"
    )
    assert set(ids) >= {"communes", "grid", "villages", "towers", "signal", "after", "plan"}
    names = offline.page.locator(".leaflet-control-layers-overlays").inner_text()
    assert "Thôn, bản" in names and "Vị trí trạm đề xuất (xếp hạng)" in names
    legend = offline.page.locator(".covgap-legend-section[data-layer='villages']")
    assert legend.is_visible()

    offline.layer_checkbox("villages").click()
    assert offline.count(".covgap-village") == 0
    assert not legend.is_visible()
    offline.layer_checkbox("villages").click()
    assert offline.count(".covgap-village") == 6
    assert legend.is_visible()

    # the coverage after the plan starts hidden and shows when ticked
    assert offline.count("img.covgap-raster-after") == 0
    offline.layer_checkbox("after").click()
    assert offline.count("img.covgap-raster-after") == 1


def test_clicking_a_village_opens_its_popup(offline: Page) -> None:
    offline.click_village("V01")
    popup = offline.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=3000)
    text = popup.inner_text()
    assert "Bản Huổi Só" in text
    assert "Số hộ" in text and "40" in text  # households
    assert "Trạm phục vụ tốt nhất" in text  # best server of the terrain model


def test_search_finds_a_village_typed_without_accents(offline: Page) -> None:
    box = offline.page.locator(".covgap-search-input")
    box.fill("huoi so")
    hits = offline.page.locator(".covgap-search-hit .covgap-search-name")
    assert hits.all_inner_texts() == ["Bản Huổi Só"]
    box.press("Enter")
    popup = offline.page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=3000)
    assert "Bản Huổi Só" in popup.inner_text()
    box.fill("zzz")
    assert offline.page.locator(".covgap-search-none").count() == 1


def test_injected_names_are_text_and_run_nothing(offline: Page) -> None:
    page = offline.page
    page.locator(".covgap-search-input").fill("img src")
    hits = page.locator(".covgap-search-hit .covgap-search-name")
    assert hits.all_inner_texts() == [INJECTION]
    hits.first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=3000)
    assert INJECTION in popup.inner_text()
    page.mouse.move(5, 400)
    offline.click_village("V06")
    page.wait_for_timeout(300)
    labels = page.locator(".covgap-commune-label").all_inner_texts()
    assert COMMUNE_INJECTION in labels
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], svg[onload]').length") == 0
    assert offline.dialogs == []
    assert offline.errors == []


def test_measuring_tool_shows_a_distance(offline: Page) -> None:
    page = offline.page
    page.locator(".covgap-measure-button").click()
    page.mouse.click(600, 400)
    page.mouse.click(800, 400)
    label = page.locator(".covgap-measure-label")
    assert "km" in label.inner_text() or " m" in label.inner_text()
    page.locator(".covgap-measure-button").click()
    label.wait_for(state="detached", timeout=2000)  # after the fade-out


def test_online_map_offers_web_tiles_and_hillshade(browser: Any, maps: dict[str, Path]) -> None:
    page = Page(browser, maps["online"])
    try:
        bases = page.page.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-control-layers-base span[data-layer]'))"
            ".map(s => s.dataset.layer)"
        )
        assert bases == ["basemap_osm", "basemap_topo", "basemap_hillshade"]
        # the tiles were asked for (and blocked here); nothing else was
        assert page.requests and all("tile" in url for url in page.requests)
    finally:
        page.page.close()


def test_demo_map_is_small_fast_and_offline(
    browser: Any, maps: dict[str, Path], tmp_path: Path
) -> None:
    from covgap.publish.screenshot import save

    demo = maps["demo"]
    assert demo.stat().st_size < 10_000_000
    page = Page(browser, demo)
    try:
        assert page.requests == []
        assert page.errors == []
        assert page.count(".covgap-village") == 120
    finally:
        page.page.close()
    png = save(demo, demo.with_suffix(".png"), browser=browser)
    assert png.name == "tua_chua_demo.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_data_sources_are_text_in_the_attribution_control(browser: Any, tmp_path: Path) -> None:
    from conftest import DEFAULT_TOML

    attribution = f"© OpenStreetMap contributors, ODbL {INJECTION}"
    toml = DEFAULT_TOML + (
        '\n[[sources]]\nrole = "osm"\nfile = "x.osm.pbf"\nsha256 = "00"\n'
        f'attribution = "{attribution}"\n'
    )
    data = write_dataset(tmp_path / "data", toml=toml)
    out = tmp_path / "out"
    args = ["-q", "run", "--data", str(data), "--out", str(out), "--offline", "--no-plan"]
    assert main([*args, "--no-sensitivity"]) == 0
    page = Page(browser, out / "test_dataset.html")
    try:
        control = page.page.locator(".leaflet-control-attribution")
        assert attribution in control.inner_text()
        assert control.locator("img").count() == 0 and page.dialogs == []
        assert page.errors == [] and page.requests == []
    finally:
        page.page.close()
