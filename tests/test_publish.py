"""Publishing: atomic deterministic files, CSV safety, the map's escaping."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from covgap.files import atomic_write_text, csv_text, geojson_text, write_csv
from covgap.publish.webmap import build_map, village_state, write_map

INJECTION = "<img src=x onerror=alert(1)>"


@pytest.fixture
def tables() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    # Two villages side by side near Tủa Chùa, in UTM 48N metres.
    x0, y0 = 330_000.0, 2_427_000.0
    villages = gpd.GeoDataFrame(
        {
            "village_code": ["V1", "V2"],
            "village_name": ["Bản Huổi Só", INJECTION],
            "commune_code": ["C1", "C1"],
            "commune_name": ["Xã Huổi Só", "Xã Huổi Só"],
            "households": [40.0, 12.0],
            "population": [200.0, 60.0],
            "mobile_signal": pd.array([True, False], dtype="boolean"),
            "grid_power": pd.array([True, pd.NA], dtype="boolean"),
            "coverage_status": ["covered", "uncovered"],
            "power_status": ["powered", "unknown"],
        },
        geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
        crs="EPSG:32648",
    )
    communes = gpd.GeoDataFrame(
        {"commune_code": ["C1"], "commune_name": ["Xã Huổi Só"]},
        geometry=[box(x0, y0, x0 + 2000, y0 + 1000)],
        crs="EPSG:32648",
    )
    return villages, communes


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.txt"
    atomic_write_text(target, "old")
    atomic_write_text(target, "mới")
    assert target.read_text(encoding="utf-8") == "mới"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_csv_has_bom_keeps_vietnamese_and_defuses_formulas(tmp_path: Path) -> None:
    rows = [
        {"name": "Bản Tả Sìn Thàng", "n": 3.0},
        {"name": '=HYPERLINK("http://x")', "n": -2.5},
        {"name": "+cmd", "n": None},
    ]
    path = write_csv(tmp_path / "l.csv", rows, ["name", "n"])
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw[3:].decode("utf-8").split("\r\n")
    assert lines[0] == "name,n"
    assert lines[1] == "Bản Tả Sìn Thàng,3"
    assert lines[2] == '"\'=HYPERLINK(""http://x"")",-2.5'
    assert lines[3] == "'+cmd,"


def test_csv_text_is_deterministic() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert csv_text(df, ["b", "a"]) == csv_text(df, ["b", "a"]) == "b,a\r\nx,1\r\ny,2\r\n"


def test_geojson_is_wgs84_and_rounded(tables: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    villages, _ = tables
    doc = json.loads(geojson_text(villages, columns=["village_code", "households"]))
    assert [f["properties"] for f in doc["features"]] == [
        {"village_code": "V1", "households": 40.0},
        {"village_code": "V2", "households": 12.0},
    ]
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert 103.0 < lon < 104.0 and 21.0 < lat < 23.0
    assert round(lon, 6) == lon


def test_village_state() -> None:
    assert village_state("covered", "powered") == "covered_powered"
    assert village_state("uncovered", "unpowered") == "uncovered_unpowered"
    assert village_state("uncovered", "unknown") == "status_unknown"


def _page_data(text: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="covgap-data">(.*?)</script>', text, re.S
    )
    assert match is not None
    return json.loads(match.group(1))


def test_map_escapes_names_and_is_deterministic(
    tables: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    villages, communes = tables
    first = write_map(build_map(villages, communes, title=INJECTION), tmp_path / "a.html")
    second = write_map(build_map(villages, communes, title=INJECTION), tmp_path / "b.html")
    text = first.read_text(encoding="utf-8")
    assert first.read_bytes() == second.read_bytes()
    assert INJECTION not in text
    assert "<title>&lt;img src=x onerror=alert(1)&gt;</title>" in text
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in text  # in the page's JSON
    names = [v["name"] for v in _page_data(text)["layers"][-1]["items"]]
    assert names == ["Bản Huổi Só", INJECTION]  # the script shows it with textContent
    assert "Bản Huổi Só" in text
    assert "Có sóng, có điện" in text  # Vietnamese legend by default


def test_map_in_english(tables: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    villages, communes = tables
    html = build_map(villages, communes, lang="en").render()
    assert "Covered, powered" in html and "Có sóng, có điện" not in html
    assert '<html lang="en">' in html


def test_map_template_injection_is_inert(
    tables: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
) -> None:
    villages, communes = tables
    text = build_map(villages, communes, title="{{ 'pw' ~ 'ned' }}").render()
    assert "<title>&#123;&#123; &#x27;pw&#x27; ~ &#x27;ned&#x27; &#125;&#125;</title>" in text
    assert _page_data(text)["title"] == "{{ 'pw' ~ 'ned' }}"
    assert "pwned" not in text


def test_braces_in_data_are_not_evaluated(
    tables: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame],
) -> None:
    villages, communes = tables
    villages = villages.assign(village_name=["{{ 'pw' ~ 'ned' }}", "{% if true %}X{% endif %}"])
    text = build_map(villages, communes).render()
    names = [v["name"] for v in _page_data(text)["layers"][-1]["items"]]
    assert names == ["{{ 'pw' ~ 'ned' }}", "{% if true %}X{% endif %}"]
    assert "pwned" not in text


def test_staged_outputs_replace_only_at_the_end(tmp_path: Path) -> None:
    from covgap.files import MANIFEST, staged_outputs

    out = tmp_path / "out"
    with staged_outputs(out) as stage:
        atomic_write_text(stage / "a.csv", "old a")
        atomic_write_text(stage / "b.csv", "old b")
    (out / "notes.txt").write_text("the user's own file", encoding="utf-8")

    # A run that fails half-way leaves the previous results as they were.
    with pytest.raises(RuntimeError), staged_outputs(out) as stage:
        atomic_write_text(stage / "a.csv", "new a")
        raise RuntimeError("interrupted")
    assert (out / "a.csv").read_text(encoding="utf-8") == "old a"
    assert not [p for p in out.iterdir() if p.name.startswith(".covgap-staging")]

    # A run that succeeds replaces its files, drops the previous run's extra
    # outputs and leaves other files alone.
    with staged_outputs(out) as stage:
        atomic_write_text(stage / "a.csv", "new a")
    assert (out / "a.csv").read_text(encoding="utf-8") == "new a"
    assert not (out / "b.csv").exists()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "the user's own file"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "a.csv", "notes.txt"]
