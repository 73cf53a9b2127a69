"""The map page without a browser: offline page, labels, JSON escaping, rasters."""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon, box

from covgap.publish.assets import covgap_js, leaflet_css, leaflet_js
from covgap.publish.labels import LABELS, LANGUAGES, label, labels_for
from covgap.publish.overlay import (
    MAX_RASTER_PIXELS,
    MAX_ZOOM,
    MercatorImage,
    RgbaImage,
    classify_signal,
    colour_signal,
    ground_m_per_pixel,
    hillshade,
    hillshade_image,
    jpeg_bytes,
    png_bytes,
    signal_palette,
    to_mercator,
    view_cell_m,
)
from covgap.publish.webmap import (
    build_map,
    json_for_script,
    raster_blocks,
    technology,
    write_map,
)

INJECTION = "<img src=x onerror=alert(1)>"
X0, Y0 = 330_000.0, 2_427_000.0
UTM = "EPSG:32648"


def _data(text: str) -> dict:
    pattern = r'<script type="application/json" id="covgap-data">(.*?)</script>'
    match = re.search(pattern, text, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    villages = gpd.GeoDataFrame(
        {
            "village_code": ["V1", "V2"],
            "village_name": ["Bản Huổi Só", INJECTION],
            "commune_code": ["C1", "C1"],
            "commune_name": ["Xã Huổi Só", "Xã Huổi Só"],
            "households": [40.0, 1234.0],
            "population": [200.0, np.nan],
            "mobile_signal": pd.array([True, False], dtype="boolean"),
            "grid_power": pd.array([True, pd.NA], dtype="boolean"),
            "coverage_status": ["covered", "uncovered"],
            "power_status": ["powered", "unknown"],
            "modelled_status": ["covered", "uncovered"],
            "share_covered": [0.85, 0.0],
            "best_rsrp_dbm": [-95.4, np.nan],
            "best_server": ["VT-A", None],
            "planned_site": [None, "#1 C-007"],
        },
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs=UTM,
    )
    communes = gpd.GeoDataFrame(
        {"commune_code": ["C1"], "commune_name": ["Xã Huổi Só"]},
        geometry=[box(X0, Y0, X0 + 2000, Y0 + 1000)],
        crs=UTM,
    )
    sites = gpd.GeoDataFrame(
        {"site_id": ["VT-A"], "operator": ["Viettel"], "radio": ["GSM;LTE"], "n_cells": [3]},
        geometry=[Point(X0 + 500, Y0 + 500)],
        crs=UTM,
    )
    grid = gpd.GeoDataFrame(
        {"voltage_kv": [35.0]}, geometry=[LineString([(X0, Y0), (X0 + 2000, Y0 + 900)])], crs=UTM
    )
    plan = gpd.GeoDataFrame(
        {
            "rank": [1],
            "site_id": ["C-007"],
            "commune": ["Xã Huổi Só"],
            "villages_gained": [["V2"]],
            "village_names": [[INJECTION]],
            "households_gained": [1234],
            "power": ["solar"],
            "power_cost_vnd": [350_000_000.0],
            "backhaul": ["microwave"],
            "backhaul_cost_vnd": [120_000_000.0],
            "cost_vnd": [1_970_000_000.0],
        },
        geometry=[Point(X0 + 1500, Y0 + 500)],
        crs=UTM,
    )
    return {"villages": villages, "communes": communes, "sites": sites, "grid": grid, "plan": plan}


def _image() -> MercatorImage:
    data = np.array([[-85.0, -95.0], [-105.0, np.nan]], dtype=np.float32)
    return MercatorImage(data=data, bounds=[[21.9, 103.3], [22.0, 103.4]])


def _hillshade() -> RgbaImage:
    rgba = np.full((2, 2, 4), 200, dtype=np.uint8)
    return RgbaImage(rgba=rgba, bounds=[[21.9, 103.3], [22.0, 103.4]])


def _build(layers: dict[str, gpd.GeoDataFrame], **kwargs: object) -> str:
    return build_map(
        layers["villages"],
        layers["communes"],
        layers["sites"],
        layers["grid"],
        plan=layers["plan"],
        signal_image=_image(),
        after_image=_image(),
        hillshade=_hillshade(),
        **kwargs,
    ).render()


def test_offline_page_names_no_web_address(layers: dict[str, gpd.GeoDataFrame]) -> None:
    text = _build(layers, offline=True)
    data = _data(text)
    assert data["offline"] is True
    assert [b["id"] for b in data["basemaps"]] == ["basemap_hillshade"]
    assert "tile.openstreetmap.org" not in text and "opentopomap.org" not in text
    # nothing is loaded from elsewhere: no src/href attribute, no CSS url() but data URIs
    assert re.findall(r"""<(?:script|link|img|iframe)[^>]*(?:src|href)=""", text) == []
    assert re.findall(r"url\((?!data:|#default#VML)", text) == []
    # the only web addresses left are an SVG namespace and Leaflet's own links/comments
    addresses = set(re.findall(r"https?://[\w.-]+", text))
    assert addresses <= {
        "http://www.w3.org",
        "https://leafletjs.com",
        "https://bugzilla.mozilla.org",
    }
    assert "jquery" not in text.lower() and "bootstrap" not in text.lower()
    assert leaflet_js()[:2000] in text  # Leaflet inlined from xstatic-leaflet


def test_online_page_has_tiles_and_hillshade(layers: dict[str, gpd.GeoDataFrame]) -> None:
    data = _data(_build(layers))
    assert [b["id"] for b in data["basemaps"]] == [
        "basemap_osm",
        "basemap_topo",
        "basemap_hillshade",
    ]
    assert data["basemaps"][0]["url"].startswith("https://tile.openstreetmap.org/")


def test_layers_popups_and_legends(layers: dict[str, gpd.GeoDataFrame]) -> None:
    data = _data(_build(layers))
    by_id = {layer["id"]: layer for layer in data["layers"]}
    assert list(by_id) == ["signal", "after", "communes", "grid", "villages", "towers", "plan"]
    assert by_id["after"]["show"] is False and by_id["signal"]["show"] is True
    assert all(layer["legend"] for layer in data["layers"])  # a legend for every layer
    v2 = dict(by_id["villages"]["items"][1]["rows"])
    assert v2["Số hộ"] == "1.234"  # Vietnamese thousands separator
    assert v2["Trạm đề xuất phủ sóng"] == "#1 C-007"
    assert v2["Điện lưới quốc gia"] == "Chưa rõ"
    assert v2["Dân số"] == "–"
    v1 = dict(by_id["villages"]["items"][0]["rows"])
    assert v1["Sóng di động (mô hình)"] == "Có sóng (-95 dBm)"
    assert v1["Tỷ lệ hộ có sóng (mô hình)"] == "85%"
    assert v1["Trạm phục vụ tốt nhất"] == "VT-A"
    assert by_id["villages"]["items"][0]["key"] == "ban huoi so"  # folded for search
    site = dict(by_id["plan"]["items"][0]["rows"])
    assert site["Thôn/bản được phủ sóng"] == INJECTION
    assert site["Nguồn điện"] == "Điện mặt trời" and site["Truyền dẫn"] == "Vi ba"
    assert site["Tổng chi phí (VNĐ)"] == "1.970.000.000"
    assert by_id["towers"]["items"][0]["tech"] == "2G/4G"
    assert by_id["signal"]["raster"] == "signal" and "image" not in by_id["signal"]


def test_english_labels_and_numbers(layers: dict[str, gpd.GeoDataFrame]) -> None:
    data = _data(_build(layers, lang="en"))
    rows = dict(data["layers"][4]["items"][1]["rows"])
    assert rows["Households"] == "1,234"
    assert data["labels"]["search_placeholder"] == "Find a village…"
    with pytest.raises(ValueError, match="unknown language"):
        _build(layers, lang="fr")


def test_page_is_deterministic(layers: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    a = write_map(build_map(layers["villages"], layers["communes"]), tmp_path / "a.html")
    b = write_map(build_map(layers["villages"], layers["communes"]), tmp_path / "b.html")
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]


def test_folium_renders_the_page_and_links_nothing(layers: dict[str, gpd.GeoDataFrame]) -> None:
    webmap = build_map(layers["villages"], layers["communes"], lang="en")
    assert isinstance(webmap.map, folium.Map)
    assert webmap.map.default_js == [] and webmap.map.default_css == []
    text = webmap.render()
    assert text == webmap.render()  # rendering again gives the same bytes
    # folium's Leaflet map is created first; covgap's script draws on it by name
    assert _data(text)["map"] == webmap.map.get_name() == "map_covgap"
    assert text.index('var map_covgap = L.map(\n                "map_covgap"') < text.index(
        covgap_js()[:200]
    )
    assert '<div class="folium-map" id="map_covgap" ></div>' in text
    # the online page links nothing either: no CDN, jQuery, Bootstrap or icon fonts
    for word in ("cdn.jsdelivr", "cdnjs", "jquery", "bootstrap", "awesome", "fontawesome"):
        assert word not in text.lower(), word
    assert re.findall(r"""<(?:script|link)[^>]*(?:src|href)=""", text) == []
    assert (
        '<html lang="en">' in text and text.count("<script>") == 3
    )  # Leaflet, folium switches, the map


def test_data_never_becomes_template_source(layers: dict[str, gpd.GeoDataFrame]) -> None:
    villages = layers["villages"].assign(
        village_name=["{{ 7 * 191 }}", "{% for x in range(3) %}loop{% endfor %}"]
    )
    text = build_map(villages, layers["communes"], title="{{ 6 * 7 }}").render()
    names = [v["name"] for v in _data(text)["layers"][-1]["items"]]
    assert names == ["{{ 7 * 191 }}", "{% for x in range(3) %}loop{% endfor %}"]
    assert "1337" not in text and "looploop" not in text and ">42<" not in text


def test_json_for_script_cannot_close_the_block() -> None:
    payload = {"name": "</script><script>alert(1)</script> & <!-- \u2028"}
    text = json_for_script(payload)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == payload


def test_every_label_is_translated_and_the_script_uses_known_labels() -> None:
    for key, texts in LABELS.items():
        assert set(texts) == set(LANGUAGES), key
        assert all(t.strip() for t in texts.values()), key
    used = set(re.findall(r"\bT\.(\w+)", covgap_js()))
    assert used and used <= set(LABELS)
    assert label("villages") == "Thôn, bản" and labels_for("en")["villages"] == "Villages"


def test_script_never_puts_data_into_html() -> None:
    js = re.sub(r"/\*.*?\*/", "", covgap_js(), flags=re.S)  # without comments
    assert "innerHTML" not in js  # text goes in with textContent only
    assert "insertAdjacentHTML" not in js and "document.write" not in js


def test_leaflet_css_images_are_inlined() -> None:
    css = leaflet_css()
    assert "url(images/" not in css
    assert "url(data:image/png;base64," in css


def test_technology() -> None:
    assert technology("GSM;LTE") == "2G/4G"
    assert technology("UMTS") == "3G"
    assert technology("") == "" and technology(None) == ""


def test_png_bytes_round_trip() -> None:
    rgba = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = png_bytes(rgba)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (3, 2, 8, 6)
    length = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41 : 41 + length])
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(2, 1 + 12)
    assert (rows[:, 0] == 0).all()
    assert (rows[:, 1:].reshape(2, 3, 4) == rgba).all()
    assert png_bytes(rgba) == data


def test_hillshade_lights_slopes_facing_the_sun() -> None:
    cols = np.arange(20, dtype=float)
    east_up = np.tile(cols * 30.0, (20, 1))  # rises eastwards 1:1 (45 degrees)
    flat = np.zeros((20, 20))
    from_west = hillshade(east_up, 30.0, 30.0, azimuth_deg=270.0, altitude_deg=45.0)
    from_east = hillshade(east_up, 30.0, 30.0, azimuth_deg=90.0, altitude_deg=45.0)
    assert np.allclose(hillshade(flat, 30.0, 30.0, altitude_deg=30.0), 0.5, atol=1e-6)
    # the slope faces west: lit square-on by a sun in the west at 45 degrees ...
    assert np.allclose(from_west[5:15, 5:15], 1.0, atol=1e-6)
    # ... and in its own shadow when the sun is in the east
    assert np.allclose(from_east[5:15, 5:15], 0.0, atol=1e-6)


def test_hillshade_image_is_grey_bounded_and_light_outside() -> None:
    rows, cols = np.mgrid[0:300, 0:200]
    dem = (800.0 + 2.0 * cols + np.sin(rows / 10.0) * 50).astype("float32")
    dem[:10, :10] = np.nan
    transform = Affine(30.0, 0.0, 326_400.0, 0.0, -30.0, 2_431_500.0)
    picture = hillshade_image(dem, transform, CRS.from_epsg(32648), max_pixels=10_000)
    assert picture.grey.dtype == np.uint8 and picture.grey.ndim == 2
    assert 9_000 <= picture.grey.size <= 10_000  # capped at max_pixels
    assert picture.grey[0, 0] == 232  # outside the DEM: the light no-data grey
    middle = picture.grey[picture.grey.shape[0] // 2]
    assert middle.min() < middle.max()  # shaded, not flat
    (south, west), (north, east) = picture.bounds
    assert 21.8 < south < north < 22.1 and 103.2 < west < east < 103.5
    # cell_m coarsens the picture; it is never finer than the DEM
    coarse = hillshade_image(dem, transform, CRS.from_epsg(32648), cell_m=300.0)
    fine = hillshade_image(dem, transform, CRS.from_epsg(32648), cell_m=1.0)
    assert coarse.grey.size < fine.grey.size <= 1.2 * dem.size


# ---- weight: images encoded for what they show, shapes simplified (issue 16) ----


def test_signal_classes_are_a_palette_png() -> None:
    from PIL import Image

    rsrp = np.array([[-85.0, -95.0, -105.0], [-115.0, -125.0, np.nan]], dtype=np.float32)
    index = classify_signal(rsrp)
    assert index.tolist() == [[1, 2, 3], [4, 0, 0]]
    data = png_bytes(index, signal_palette())
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P" and image.size == (3, 2)
    assert np.asarray(image).tolist() == index.tolist()  # one index a pixel
    assert (np.asarray(image.convert("RGBA")) == colour_signal(rsrp)).all()
    assert np.asarray(image.convert("RGBA"))[1, 2, 3] == 0  # no class: transparent
    with pytest.raises(ValueError, match="beyond the palette"):
        png_bytes(np.array([[7]], dtype=np.uint8), signal_palette())


def test_hillshade_jpeg_is_grey_small_and_the_same_bytes_every_run() -> None:
    from PIL import Image

    grey = (np.add.outer(np.arange(200), np.arange(300) * 3) % 251).astype(np.uint8)
    data = jpeg_bytes(grey)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.mode == "L" and image.size == (300, 200)
    assert b"Exif" not in data and b"ICC_PROFILE" not in data  # no metadata
    assert np.abs(np.asarray(image, dtype=float) - grey).mean() < 8  # quality 80
    assert jpeg_bytes(grey.copy()) == data


def test_raster_cells_follow_the_zoom_the_map_opens_at() -> None:
    z0 = 2 * np.pi * 6_378_137.0 / 256
    demo = [[21.796643, 103.250413], [22.132712, 103.507828]]  # the demo's communes
    # 40 km north-south opens at zoom 11 in a 1280 x 800 window: pixels of zoom 12
    assert view_cell_m(demo) == pytest.approx(z0 / 2**12)
    assert view_cell_m(demo, screen=(390, 844)) == pytest.approx(z0 / 2**12)
    province = [[21.3, 102.2], [22.6, 103.6]]  # about 150 km: zoom 9, pixels of zoom 10
    assert view_cell_m(province) == pytest.approx(z0 / 2**10)
    tiny = [[21.9, 103.3], [21.9001, 103.3001]]
    assert view_cell_m(tiny) == pytest.approx(z0 / 2**MAX_ZOOM)  # never beyond the max zoom
    assert ground_m_per_pixel(MAX_ZOOM, 60.0) == pytest.approx(z0 / 2**MAX_ZOOM / 2)


def test_to_mercator_caps_the_pixel_count() -> None:
    data = np.full((1000, 1000), -95.0, dtype=np.float32)  # 30 km x 30 km
    transform = Affine(30.0, 0.0, X0, 0.0, -30.0, Y0)
    image = to_mercator(data, transform, CRS.from_epsg(32648), cell_m=10.0, max_pixels=40_000)
    assert 36_000 <= image.data.size <= 40_000
    free = to_mercator(data, transform, CRS.from_epsg(32648), cell_m=300.0)
    assert free.data.size < 40_000 and MAX_RASTER_PIXELS > 1_000_000


def test_shapes_are_simplified_below_a_pixel_and_rounded(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    # a commune outline with 8,000 vertices: edges sampled every metre with 2 cm of
    # noise, and one 30 m bump that is visible on screen and must stay
    rng = np.random.default_rng(16)
    t = np.arange(0.0, 2000.0, 1.0)
    xs = np.concatenate([t, np.full_like(t, 2000.0), 2000.0 - t, np.zeros_like(t)])
    ys = np.concatenate([np.zeros_like(t), t, np.full_like(t, 2000.0), 2000.0 - t])
    ys[4000 + 1000] += 30.0  # the bump, on the north edge
    xs, ys = xs + rng.normal(0, 0.02, xs.size), ys + rng.normal(0, 0.02, ys.size)
    outline = Polygon(np.column_stack([X0 + xs, Y0 + ys]))
    communes = gpd.GeoDataFrame({"commune_name": ["Xã Răng Cưa"]}, geometry=[outline], crs=UTM)
    text = build_map(layers["villages"], communes).render()
    shape = next(x for x in _data(text)["layers"] if x["id"] == "communes")["items"][0]["shape"]
    ring = shape["coordinates"][0]
    assert len(ring) < 40  # from 8,000
    assert not re.search(r"\.\d{7,}", json.dumps(shape))  # 6 decimals at most
    back = gpd.GeoSeries([Polygon(ring)], crs=4326).to_crs(UTM).iloc[0]
    pixel = ground_m_per_pixel(MAX_ZOOM, 22.0)
    assert back.hausdorff_distance(outline) < pixel  # no visible change at any zoom
    assert max(y for _, y in back.exterior.coords) > Y0 + 2025  # the bump is kept


def test_images_follow_the_script_as_plain_blocks(layers: dict[str, gpd.GeoDataFrame]) -> None:
    text = _build(layers, offline=True)
    data_block = text[
        text.index('id="covgap-data"') : text.index("</script>", text.index('id="covgap-data"'))
    ]
    assert "data:image" not in data_block  # the JSON carries no image
    script_end = text.index("})();", text.index("var map_covgap = L.map("))
    for raster in ("signal", "after", "basemap_hillshade"):
        block = text.index(
            f'<script type="text/plain" class="covgap-raster-data" id="covgap-raster-{raster}">'
        )
        assert block > script_end
    assert 'id="covgap-raster-signal">data:image/png;base64,' in text
    with pytest.raises(ValueError, match="base64 data URI"):
        raster_blocks({"signal": "data:image/png;base64,AAAA</script><script>alert(1)"})
    with pytest.raises(ValueError, match="plain id"):
        raster_blocks({'x" onload="alert(1)': "data:image/png;base64,AAAA"})


def _province(n_side: int = 32) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """About 1,000 villages in 128 communes over 160 km x 160 km, with wiggly outlines."""
    step = 160_000.0 / n_side
    cells = [
        box(X0 + i * step, Y0 + j * step, X0 + (i + 1) * step, Y0 + (j + 1) * step)
        for i in range(n_side)
        for j in range(n_side)
    ]
    n = len(cells)
    villages = gpd.GeoDataFrame(
        {
            "village_code": [f"V{k:04d}" for k in range(n)],
            "village_name": [f"Bản Thử Nghiệm {k}" for k in range(n)],
            "commune_name": [f"Xã Số {k // 16}" for k in range(n)],
            "households": np.linspace(20, 400, n),
            "population": np.linspace(100, 2000, n),
            "mobile_signal": pd.array([k % 3 > 0 for k in range(n)], dtype="boolean"),
            "grid_power": pd.array([k % 5 > 0 for k in range(n)], dtype="boolean"),
            "coverage_status": ["covered" if k % 3 else "uncovered" for k in range(n)],
            "power_status": ["powered" if k % 5 else "unpowered" for k in range(n)],
        },
        geometry=[c.segmentize(250.0) for c in cells],
        crs=UTM,
    )
    side = n_side // 4
    outlines = [
        box(
            X0 + i * 4 * step,
            Y0 + j * 2 * step,
            X0 + (i + 1) * 4 * step,
            Y0 + (j + 1) * 2 * step,
        ).segmentize(100.0)
        for i in range(side)
        for j in range(2 * side)
    ]
    communes = gpd.GeoDataFrame(
        {"commune_name": [f"Xã Số {k}" for k in range(len(outlines))]}, geometry=outlines, crs=UTM
    )
    return villages, communes


def test_a_province_sized_map_stays_under_10_mb() -> None:
    villages, communes = _province()
    # rough terrain with detail at every scale, 160 km a side at 180 m
    rng = np.random.default_rng(16)
    size = 890
    dem = np.zeros((size, size), dtype=np.float32)
    for octave, amplitude in ((8, 600.0), (32, 200.0), (128, 60.0), (size, 15.0)):
        coarse = rng.normal(0.0, amplitude, (octave, octave)).astype(np.float32)
        reps = -(-size // octave)
        dem += np.kron(coarse, np.ones((reps, reps), dtype=np.float32))[:size, :size]
    transform = Affine(180.0, 0.0, X0, 0.0, -180.0, Y0 + 160_000.0)
    west, south, east, north = communes.to_crs(4326).total_bounds
    cell = view_cell_m([[south, west], [north, east]])
    shade = hillshade_image(dem, transform, CRS.from_epsg(32648), cell_m=cell)
    assert shade.grey.size <= MAX_RASTER_PIXELS
    rsrp = np.where(dem > 0, -95.0, -125.0).astype(np.float32)
    signal = to_mercator(rsrp, transform, CRS.from_epsg(32648))  # 90 m cells, capped
    assert signal.data.size <= MAX_RASTER_PIXELS
    webmap = build_map(villages, communes, signal_image=signal, hillshade=shade, offline=True)
    size_bytes = len(webmap.render().encode("utf-8"))
    assert 500_000 < size_bytes <= 10_000_000, f"{size_bytes / 1e6:.1f} MB"


def test_geometry_of_an_invalid_polygon_is_rounded_point_by_point():
    # set_precision refuses a polygon whose hole lies outside its shell (seen on
    # the province preset's villages once simplified and reprojected)
    from shapely.geometry import Polygon

    from covgap.publish.webmap import _geometry

    shape = Polygon([(0, 0), (1.00000004, 0), (1, 1), (0, 1)], holes=[[(2, 2), (3, 2), (3, 3)]])
    out = _geometry(shape)
    assert out["type"] == "Polygon"
    assert out["coordinates"][0][1] == [1.0, 0.0]
    assert len(out["coordinates"]) == 2
