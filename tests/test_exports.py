from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely

from covgap.errors import CRSError, MissingColumnError
from covgap.planning.costs import default_cost_settings
from covgap.publish.exports import KML_NS, LIST_SEPARATOR, SHEET_NAMES, write_priorities

FORMULA = '=HYPERLINK("http://evil.example","click")'
KML = {"k": KML_NS}


@pytest.fixture
def plan() -> gpd.GeoDataFrame:
    """Three ranked sites, given out of order, in the metric CRS."""
    frame = gpd.GeoDataFrame(
        {
            "rank": [2, 1, 3],
            "site_id": ["S-002", FORMULA, "S-003"],
            "commune": ["Xã Tả Phìn", "Xã Sính Phình", "Xã Xín Chải"],
            "villages_gained": [["V02", "V05"], ["V03"], []],
            "village_names": [["Bản Tả Phìn", "Bản Đề Dê Hu"], ["+cmd"], []],
            "households_gained": [80, 30, 0],
            "population_gained": [400.0, 150.0, 0.0],
            "cumulative_households": [110, 30, 110],
            "power": ["grid", "solar", "solar"],
            "power_cost_vnd": [754_657_500.0, 1_218_403_256.0, 1_218_403_256.0],
            "backhaul": ["microwave", "satellite", "fibre"],
            "backhaul_cost_vnd": [300_000_000.0, 1_910_419_535.0, 240_000_000.0],
            "cost_vnd": [2_754_657_500.0, 4_828_822_791.0, 3_158_403_256.0],
            "cost_usd": [108_451.1, 190_111.1, 124_346.6],
        },
        geometry=gpd.points_from_xy([103.35, 103.36, 103.37], [21.95, 21.96, 21.97]),
        crs="EPSG:4326",
    )
    return frame.to_crs("EPSG:32648")


@pytest.fixture
def uncovered() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_code": ["V02", "V03", "V05"],
            "village_name": ["Bản Tả Phìn", "Bản Háng Đề Dê", "@Bản Đề Dê Hu"],
            "households": [55.0, 30.0, np.nan],
        },
        geometry=[shapely.box(0, 0, 1, 1)] * 3,
        crs="EPSG:32648",
    )


@pytest.fixture
def electrification() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1],
            "village_code": ["V03"],
            "village_name": ["Bản Háng Đề Dê"],
            "sites_unlocked": [["S-001"]],
            "households_unlocked": [30],
            "saving_vnd": [463_745_756.0],
        }
    )


@pytest.fixture
def written(tmp_path, plan, uncovered, electrification) -> list[Path]:
    return write_priorities(
        tmp_path / "out", plan, uncovered, electrification, default_cost_settings().assumptions()
    )


def test_five_files_written_atomically(written: list[Path]):
    assert [p.name for p in written] == [
        "priorities.xlsx", "priorities.csv", "priorities.geojson", "priorities.gpkg",
        "priorities.kml",
    ]  # fmt: skip
    folder = written[0].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in written)


# -- XLSX ------------------------------------------------------------------------
def test_xlsx_sheets_and_vietnamese_text(written: list[Path]):
    sheets = pd.read_excel(written[0], sheet_name=None)
    assert list(sheets) == list(SHEET_NAMES)
    plan = sheets["plan"]
    assert list(plan["rank"]) == [1, 2, 3]
    assert list(plan["commune"]) == ["Xã Sính Phình", "Xã Tả Phìn", "Xã Xín Chải"]
    assert plan["village_names"][1] == f"Bản Tả Phìn{LIST_SEPARATOR}Bản Đề Dê Hu"
    assert plan["villages_gained"][1] == "V02; V05"
    assert plan["lon"][0] == pytest.approx(103.36, abs=1e-6)
    assert "geometry" not in plan.columns
    assert "geometry" not in sheets["uncovered villages"].columns
    assert list(sheets["uncovered villages"]["village_name"])[:2] == [
        "Bản Tả Phìn",
        "Bản Háng Đề Dê",
    ]
    assert sheets["electrification"]["sites_unlocked"][0] == "S-001"
    keys = set(sheets["assumptions"]["key"])
    assert {"mv_line_vnd_per_km", "vnd_per_usd", "grid_solar_break_even_km"} <= keys


def test_xlsx_formatting(written: list[Path]):
    wb = openpyxl.load_workbook(written[0])
    ws = wb["plan"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["rank", "site_id", "lon", "lat"]
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["B"].width >= len(FORMULA)
    cost = ws.cell(row=2, column=header.index("cost_vnd") + 1)
    assert cost.data_type == "n"
    assert cost.value == 4_828_822_791
    assert cost.number_format == "#,##0"
    households = ws.cell(row=2, column=header.index("households_gained") + 1)
    assert households.data_type == "n" and households.value == 30
    assert ws.cell(row=2, column=header.index("lon") + 1).number_format == "0.000000"
    # empty list -> empty cell
    assert ws.cell(row=4, column=header.index("villages_gained") + 1).value is None
    # assumptions: money values with thousands separators, others plain
    rows = {r[0].value: r[1] for r in wb["assumptions"].iter_rows(min_row=2)}
    assert rows["tower_capex_vnd"].number_format == "#,##0"
    assert rows["discount_rate"].value == pytest.approx(0.08)
    assert rows["discount_rate"].number_format == "General"
    assert wb.properties.creator == "covgap"


def test_xlsx_formula_like_text_is_inert(written: list[Path]):
    wb = openpyxl.load_workbook(written[0])
    ws = wb["plan"]
    site = ws["B2"]
    assert site.value == FORMULA
    assert site.data_type == "s"
    names = ws.cell(row=2, column=[c.value for c in ws[1]].index("village_names") + 1)
    assert names.value == "+cmd" and names.data_type == "s"
    uncovered = wb["uncovered villages"]
    assert uncovered["B4"].value == "@Bản Đề Dê Hu" and uncovered["B4"].data_type == "s"
    with zipfile.ZipFile(written[0]) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml


def test_xlsx_zip_has_fixed_dates(written: list[Path]):
    with zipfile.ZipFile(written[0]) as archive:
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert "2000-01-01T00:00:00Z" in core


# -- CSV ---------------------------------------------------------------------------
def test_csv_bom_vietnamese_and_defused_formulas(written: list[Path]):
    raw = written[1].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(written[1], encoding="utf-8-sig", keep_default_na=False)
    assert list(table["rank"]) == [1, 2, 3]
    assert table["site_id"][0] == "'" + FORMULA
    assert table["village_names"][0] == "'+cmd"
    assert table["village_names"][1] == "Bản Tả Phìn; Bản Đề Dê Hu"
    assert table["commune"][0] == "Xã Sính Phình"
    assert table["cost_vnd"][0] == 4_828_822_791


# -- GeoJSON / GPKG ---------------------------------------------------------------------
@pytest.mark.parametrize("index", [2, 3])
def test_geojson_and_gpkg_open_with_pyogrio(written: list[Path], index: int):
    frame = pyogrio.read_dataframe(written[index])
    assert frame.crs.to_epsg() == 4326
    assert list(frame["rank"]) == [1, 2, 3]
    assert list(frame["site_id"]) == [FORMULA, "S-002", "S-003"]
    assert list(frame["commune"]) == ["Xã Sính Phình", "Xã Tả Phìn", "Xã Xín Chải"]
    assert frame.geometry.x.to_numpy() == pytest.approx([103.36, 103.35, 103.37], abs=1e-6)
    assert frame.geometry.y.to_numpy() == pytest.approx([21.96, 21.95, 21.97], abs=1e-6)
    assert frame["cost_vnd"][0] == pytest.approx(4_828_822_791.0)


def test_gpkg_layer_and_joined_lists(written: list[Path]):
    assert [layer[0] for layer in pyogrio.list_layers(written[3])] == ["priorities"]
    frame = pyogrio.read_dataframe(written[3])
    assert frame["village_names"][1] == "Bản Tả Phìn; Bản Đề Dê Hu"


def test_geojson_keeps_lists(written: list[Path]):
    import json

    doc = json.loads(written[2].read_text(encoding="utf-8"))
    props = doc["features"][1]["properties"]
    assert props["villages_gained"] == ["V02", "V05"]
    assert props["village_names"] == ["Bản Tả Phìn", "Bản Đề Dê Hu"]


# -- KML ---------------------------------------------------------------------------
def test_kml_placemarks(written: list[Path]):
    root = ET.parse(written[4]).getroot()
    assert root.tag == f"{{{KML_NS}}}kml"
    placemarks = root.findall("k:Document/k:Placemark", KML)
    names = [p.findtext("k:name", namespaces=KML) for p in placemarks]
    assert names == [f"#1 {FORMULA}", "#2 S-002", "#3 S-003"]
    second = placemarks[1]
    description = second.findtext("k:description", namespaces=KML)
    assert "Bản Tả Phìn (V02)" in description and "Bản Đề Dê Hu (V05)" in description
    assert "<table>" in description  # HTML arrives as text, escaped in the file
    assert "2,754,657,500 VND" in description
    assert "microwave" in description and "grid" in description
    lon, lat, _ = second.findtext("k:Point/k:coordinates", namespaces=KML).split(",")
    assert float(lon) == pytest.approx(103.35, abs=1e-6)
    assert float(lat) == pytest.approx(21.95, abs=1e-6)
    data = {
        d.get("name"): d.findtext("k:value", namespaces=KML)
        for d in second.findall("k:ExtendedData/k:Data", KML)
    }
    assert data["households_gained"] == "80"
    assert "<![CDATA[" not in written[4].read_text(encoding="utf-8")


# -- determinism and errors --------------------------------------------------------
def test_writing_twice_is_byte_identical(tmp_path, plan, uncovered, electrification):
    rows = default_cost_settings().assumptions()
    first = write_priorities(tmp_path / "a", plan, uncovered, electrification, rows)
    second = write_priorities(tmp_path / "b", plan, uncovered, electrification, rows)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_empty_tables_still_give_every_sheet(tmp_path, plan):
    paths = write_priorities(tmp_path, plan, None, pd.DataFrame(), [])
    assert openpyxl.load_workbook(paths[0]).sheetnames == list(SHEET_NAMES)


def test_plan_needs_rank_site_id_and_crs(tmp_path, plan):
    with pytest.raises(MissingColumnError, match="rank"):
        write_priorities(tmp_path, plan.drop(columns="rank"), None, None, [])
    with pytest.raises(CRSError):
        write_priorities(tmp_path, plan.set_crs(None, allow_override=True), None, None, [])


def test_lon_lat_computed_when_absent(tmp_path, plan):
    frame = pd.read_csv(write_priorities(tmp_path, plan, None, None, [])[1], encoding="utf-8-sig")
    assert list(frame.columns[:4]) == ["rank", "site_id", "lon", "lat"]
    assert frame["lat"].tolist() == pytest.approx([21.96, 21.95, 21.97], abs=1e-6)


def test_operator_lists_round_money_and_metres() -> None:
    import pandas as pd

    from covgap.publish.exports import rounded_for_operators

    frame = pd.DataFrame(
        {
            "site_id": ["A", "B"],
            "cost_vnd": [932698431.6113237, float("nan")],
            "cost_usd": [115460.56817367417, 2.5],
            "distance_to_grid_m": [161.8554081305542, 498.5],
            "share_covered": [0.33333, 1.0],
            "grid_power": [True, False],
        }
    )
    out = rounded_for_operators(frame)
    assert out["cost_vnd"].tolist()[0] == 932698432
    assert out["cost_vnd"].isna().tolist() == [False, True]
    assert out["cost_usd"].tolist() == [115461, 2]  # half to even
    assert out["distance_to_grid_m"].tolist() == [162, 498]
    assert out["share_covered"].tolist() == [0.33333, 1.0]  # not money, not metres
    assert out["grid_power"].tolist() == [True, False]
    assert frame["cost_vnd"].iloc[0] == 932698431.6113237  # the input is left alone
