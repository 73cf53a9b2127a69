"""The map in a real browser: Playwright for Python driving Debian's Chromium.

Maps are generated once per module: the small synthetic dataset (with a
village and a commune whose names try to inject markup) online and offline,
and the embedded Tủa Chùa demo offline and online.  Every page is opened with
all network requests blocked and recorded (only ``file:`` and ``data:`` load).
The desktop tests use a 1280 x 800 window; the phone tests open the demo at
390 x 844 and 412 x 915 as a touch device.
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
DEMO_LIMIT_BYTES = 1_500_000  # what a planner downloads over a slow mobile link
PHONES = [(390, 844), (412, 915)]


def _dataset(root: Path) -> Path:
    villages = default_villages()
    villages[5]["properties"]["village_name"] = INJECTION  # V06, in commune C02
    communes = default_communes()
    communes[1]["properties"]["commune_name"] = COMMUNE_INJECTION
    return write_dataset(root, villages=villages, communes=communes)


@pytest.fixture(scope="module")
def maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``online``, ``offline`` (small dataset) and ``demo`` (offline, ``--joint``) map files."""
    root = tmp_path_factory.mktemp("browser")
    data = _dataset(root / "data")
    out: dict[str, Path] = {}
    for name, extra in (("online", []), ("offline", ["--offline"])):
        folder = root / name
        assert main(["-q", "run", "--data", str(data), "--out", str(folder), *extra]) == 0
        out[name] = folder / "test_dataset.html"
    demo = root / "demo"
    assert main(["-q", "run", "--out", str(demo), "--offline", "--joint"]) == 0
    out["demo"] = demo / "tua_chua_demo.html"
    demo_online = root / "demo_online"
    assert main(["-q", "run", "--out", str(demo_online)]) == 0
    out["demo_online"] = demo_online / "tua_chua_demo.html"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


class Page:
    """An opened map page with what it tried to fetch, printed and popped up."""

    def __init__(self, browser: Any, path: Path, phone: tuple[int, int] | None = None) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        if phone is None:
            self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        else:  # a touch screen: taps, no hover
            width, height = phone
            self.page = browser.new_page(
                viewport={"width": width, "height": height}, is_mobile=True, has_touch=True
            )
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


def test_demo_joint_plan_beats_sequential_and_draws_its_lines(
    browser: Any, maps: dict[str, Path]
) -> None:
    import json

    demo = maps["demo"]
    joint = json.loads((demo.parent / "summary.json").read_text(encoding="utf-8"))["joint"]
    assert joint["status"] == "optimal"
    assert joint["households_gained"] > joint["sequential"]["households_gained"]
    page = Page(browser, demo)
    try:
        assert page.errors == []
        assert page.count("path.covgap-line-joint_lines") == len(joint["lines"]) > 0
        assert page.count("path.covgap-point-joint_villages") == len(joint["villages_electrified"])
        assert page.layer_checkbox("joint_lines").is_checked()
    finally:
        page.page.close()


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


# ---- phones and slow links (issue 16) ----


@pytest.fixture(params=PHONES, ids=lambda size: f"{size[0]}x{size[1]}")
def phone(request: pytest.FixtureRequest, browser: Any, maps: dict[str, Path]) -> Iterator[Page]:
    page = Page(browser, maps["demo"], phone=request.param)
    page.page.wait_for_timeout(200)
    yield page
    page.page.close()


def _rect(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).first.evaluate(
        "n => { const r = n.getBoundingClientRect();"
        " return {l: r.left, t: r.top, r: r.right, b: r.bottom, w: r.width, h: r.height}; }"
    )


def _inside(box: dict[str, float], width: int, height: int) -> bool:
    return box["l"] >= 0 and box["t"] >= 0 and box["r"] <= width and box["b"] <= height


def test_demo_map_weighs_at_most_1_5_mb_online_and_offline(maps: dict[str, Path]) -> None:
    for name in ("demo", "demo_online"):
        size = maps[name].stat().st_size
        assert size <= DEMO_LIMIT_BYTES, f"{name}: {size / 1e6:.2f} MB"
    text = maps["demo_online"].read_text(encoding="utf-8")
    # the images come after the map's script, as JPEG (hillshade) and palette PNGs
    assert text.index("var map_covgap = L.map(") < text.index('id="covgap-raster-signal"')
    assert 'id="covgap-raster-basemap_hillshade">data:image/jpeg;base64,' in text


def test_phone_controls_start_collapsed_and_leave_the_map_free(phone: Page) -> None:
    page = phone.page
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    assert page.evaluate("covgapMap.small") is True
    assert not page.locator(".covgap-legend-body").is_visible()
    assert page.locator(".covgap-legend-toggle").get_attribute("aria-expanded") == "false"
    assert phone.count(".leaflet-control-layers-expanded") == 0
    legend, layers = _rect(page, ".covgap-legend"), _rect(page, ".leaflet-control-layers")
    covered = legend["w"] * legend["h"] + layers["w"] * layers["h"]
    assert covered <= 0.15 * width * height
    # search and measuring stay on screen, every button is a 44 px tap target
    for selector in (".covgap-search-input", ".covgap-measure-button"):
        box = _rect(page, selector)
        assert page.locator(selector).is_visible()
        assert _inside(box, width, height), (selector, box)
    targets = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              '.leaflet-bar a, .covgap-legend-toggle, .leaflet-control-layers-toggle,'
              + ' .covgap-search-input'))
            .map(n => { const r = n.getBoundingClientRect(); return [r.width, r.height]; })"""
    )
    assert len(targets) >= 6 and all(w >= 44 and h >= 44 for w, h in targets), targets
    assert phone.errors == [] and phone.requests == []
    assert phone.count(".covgap-village") == 120


def test_phone_legend_and_layer_list_open_and_close_with_a_tap(phone: Page) -> None:
    page = phone.page
    body = page.locator(".covgap-legend-body")
    page.tap(".covgap-legend-toggle")
    assert body.is_visible()
    assert page.locator(".covgap-legend-section[data-layer='villages']").is_visible()
    page.tap(".covgap-legend-toggle")
    assert not body.is_visible()

    page.tap(".leaflet-control-layers-toggle")
    assert phone.count(".leaflet-control-layers-expanded") == 1
    assert phone.layer_checkbox("villages").is_visible()
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-list label'))"
        ".map(n => n.getBoundingClientRect().height)"
    )
    assert rows and min(rows) >= 44
    page.tap(".covgap-layers-close")
    assert phone.count(".leaflet-control-layers-expanded") == 0
    assert phone.errors == []


def test_phone_popup_opens_inside_the_screen(phone: Page) -> None:
    page = phone.page
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    # the village nearest the right edge: its popup must be panned into view
    x, y = page.evaluate(
        """() => {
            const m = covgapMap.map, r = m.getContainer().getBoundingClientRect();
            const pts = covgapMap.villages.map(v => m.latLngToContainerPoint(v.marker.getLatLng()))
              .filter(p => p.x > 0 && p.y > 120 && p.x < r.width && p.y < r.height - 60);
            const p = pts.reduce((a, b) => (b.x > a.x ? b : a));
            return [p.x + r.left, p.y + r.top];
        }"""
    )
    page.touchscreen.tap(x, y)
    popup = page.locator(".leaflet-popup")
    popup.wait_for(timeout=3000)
    page.wait_for_timeout(600)  # after the pan that brings it into view
    box = _rect(page, ".leaflet-popup")
    assert _inside(box, width, height), box
    # the buttons at the top step aside while it is open, and come back when it closes
    assert not page.locator(".covgap-search-input").is_visible()
    page.tap(".leaflet-popup-close-button")
    popup.wait_for(state="detached", timeout=3000)
    assert page.locator(".covgap-search-input").is_visible()
    assert page.locator(".leaflet-control-layers-toggle").is_visible()
    assert phone.errors == []


LAYOUT_JS = """() => {
    const m = covgapMap.map, c = m.getContainer().getBoundingClientRect();
    const rect = n => { const r = n.getBoundingClientRect();
        return {l: r.left - c.left, t: r.top - c.top, r: r.right - c.left, b: r.bottom - c.top}; };
    const labels = Array.from(document.querySelectorAll('.covgap-commune-label'))
        .filter(n => getComputedStyle(n).visibility !== 'hidden').map(rect);
    const villages = covgapMap.villages.map(v => {
        const p = m.latLngToContainerPoint(v.marker.getLatLng()), r = v.marker.getRadius();
        return {l: p.x - r, t: p.y - r, r: p.x + r, b: p.y + r}; });
    const badges = Array.from(document.querySelectorAll('.covgap-rank'));
    return {labels, villages, ranks: badges.map(rect), texts: badges.map(n => n.textContent),
            towers: Array.from(document.querySelectorAll('.covgap-tower-mark')).map(rect),
            zoom: m.getZoom()};
}"""


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


@pytest.mark.parametrize("size", [(1280, 800), *PHONES], ids=lambda s: f"{s[0]}x{s[1]}")
def test_labels_and_rank_numbers_hide_no_marker(
    browser: Any, maps: dict[str, Path], size: tuple[int, int]
) -> None:
    page = Page(browser, maps["demo"], phone=size if size[0] < 600 else None)
    try:
        page.page.wait_for_timeout(200)
        layout = page.page.evaluate(LAYOUT_JS)
        assert len(layout["labels"]) >= 4  # most communes keep their name at the first zoom
        markers = layout["villages"] + layout["ranks"] + layout["towers"]
        for label in layout["labels"]:
            assert not any(_overlaps(label, marker) for marker in markers), label
        for i, a in enumerate(layout["labels"]):
            assert not any(_overlaps(a, b) for b in layout["labels"][i + 1 :])
        # rank badges never overlap; merged ones read "2, 9"; every rank is shown once
        ranks = layout["ranks"]
        for i, a in enumerate(ranks):
            assert not any(_overlaps(a, b) for b in ranks[i + 1 :]), layout["texts"]
        shown = sorted(int(n) for text in layout["texts"] for n in text.split(", "))
        assert shown == list(range(1, len(shown) + 1)) and len(shown) >= 5
        # zoomed in, the merged badges come apart
        page.page.evaluate(  # returns nothing: serialising Leaflet's map takes seconds
            "() => { covgapMap.map.setZoom(covgapMap.map.getZoom() + 3, {animate: false}); }"
        )
        texts = page.page.evaluate(LAYOUT_JS)["texts"]
        assert len(texts) == len(shown) and all("," not in t for t in texts)
        assert page.errors == []
    finally:
        page.page.close()


def test_vectors_are_drawn_before_the_images_and_hidden_ones_wait(
    maps: dict[str, Path], browser: Any
) -> None:
    page = Page(browser, maps["demo"])
    try:
        page.page.wait_for_function("covgapMap.timeline.length === 3", timeout=5000)
        timeline = page.page.evaluate("covgapMap.timeline")
        assert timeline[0] == "vectors"
        assert sorted(timeline[1:]) == ["raster:basemap_hillshade", "raster:signal"]
        natural = page.page.evaluate(
            "Array.from(document.querySelectorAll('img.covgap-raster-signal'))"
            ".map(i => i.naturalWidth)"
        )
        assert len(natural) == 1 and natural[0] > 100
        # the plan's coverage starts hidden: not decoded until it is first shown
        page.page.wait_for_timeout(300)
        assert page.page.evaluate("Object.keys(covgapMap.rasters).sort()") == [
            "basemap_hillshade",
            "signal",
        ]
        assert (
            page.page.evaluate("document.querySelectorAll('img.covgap-raster-after').length") == 0
        )
        page.page.evaluate("() => { covgapMap.layers.after.layer.addTo(covgapMap.map); }")
        page.page.wait_for_function("covgapMap.timeline.length === 4", timeout=5000)
        assert page.page.evaluate("covgapMap.timeline")[3] == "raster:after"
        natural = page.page.evaluate(
            "Array.from(document.querySelectorAll('img.covgap-raster-after'))"
            ".map(i => i.naturalWidth)"
        )
        assert len(natural) == 1 and natural[0] > 100
        # hidden and shown again: decoded once
        page.page.evaluate(
            "() => { var l = covgapMap.layers.after.layer; covgapMap.map.removeLayer(l);"
            " l.addTo(covgapMap.map); }"
        )
        page.page.wait_for_timeout(200)
        assert page.page.evaluate("covgapMap.timeline.length") == 4
        assert page.errors == []
    finally:
        page.page.close()
