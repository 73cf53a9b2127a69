"""``covgap prepare``: a dataset folder from open data in genuine formats, then ``covgap run``."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

import opendata_inputs as od
from covgap.cli import main
from covgap.data.dataset import load_dataset
from covgap.data.dem_tiles import build_dem, read_hgt, tiles_for_bounds
from covgap.data.opencellid import filter_cells
from covgap.data.osm import parse_other_tags, read_places
from covgap.data.population import zonal_sums
from covgap.data.prepare import read_communes
from covgap.errors import CRSError, DEMError, MissingColumnError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RADIUS_M = 4000.0  # the scenario of the ``open_inputs`` fixture


def _inside_communes(lon: float, lat: float) -> bool:
    return any(x0 < lon < x1 and y0 < lat < y1 for (x0, y0, x1, y1), _, _ in od.COMMUNES)


def _exact_population_inside(path: Path) -> float:
    """People in the communes: each raster cell times its exact overlap with the boxes."""
    with rasterio.open(path) as src:
        values = src.read(1).astype(float)
        t = src.transform
    rows, cols = np.indices(values.shape)
    x0, y1 = t.c + cols * t.a, t.f + rows * t.e
    x1, y0 = x0 + t.a, y1 + t.e
    share = np.zeros_like(values)
    for (bx0, by0, bx1, by1), _, _ in od.COMMUNES:
        wx = np.clip(np.minimum(x1, bx1) - np.maximum(x0, bx0), 0, None) / t.a
        wy = np.clip(np.minimum(y1, by1) - np.maximum(y0, by0), 0, None) / -t.e
        share += wx * wy
    return float((values * share).sum())


def _prepare(inputs: dict[str, Any], out: Path, *extra: str, **replace: str) -> int:
    args = {
        "--communes": str(inputs["communes"]),
        "--osm": str(inputs["osm"]),
        "--dem": str(inputs["dem"]),
        "--cells": str(inputs["cells"]),
        "--population": str(inputs["population"]),
        "--household-size": "4.5",
        "--scenario": str(inputs["scenario"]),
        "--out": str(out),
    }
    for key, value in replace.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            args.pop(flag, None)
        else:
            args[flag] = value
    argv = ["-q", "prepare"]
    for key, value in args.items():
        argv += [key, value]
    return main([*argv, *extra])


# --------------------------------------------------------------------- acceptance


def test_village_count_is_places_inside_plus_empty_communes(prepared: Path) -> None:
    dataset = load_dataset(prepared)
    inside = [p for p in od.PLACES if _inside_communes(p[0], p[1])] + [od.PLACE_AREA]
    with_points = {
        code
        for (x0, y0, x1, y1), code, _ in od.COMMUNES
        for lon, lat, *_ in [*od.PLACES, (od.PLACE_AREA[0][0], od.PLACE_AREA[0][1])]
        if x0 < lon < x1 and y0 < lat < y1
    }
    empty = [code for _, code, _ in od.COMMUNES if code not in with_points]
    assert empty == ["11113"]
    assert len(dataset.villages) == len(inside) + len(empty) == 10
    # the empty commune is one village covering it, named after it
    lone = dataset.villages[dataset.villages["commune_code"] == "11113"]
    assert lone["village_name"].tolist() == ["Xã Mường Báng"]
    commune = dataset.communes.set_index("commune_code").geometry["11113"]
    assert lone.geometry.iloc[0].symmetric_difference(commune).area < 1.0
    # names: name:vi first, unnamed from the commune, duplicates keep distinct codes
    names = dataset.villages.groupby("commune_code")["village_name"].apply(sorted).to_dict()
    assert names["11111"] == sorted(
        ["Bản Huổi Só", "Bản Tả Phìn", "Xã Tả Phìn 1", "Bản Na", "Bản Na"]
    )
    assert "Xã Sính Phình 1" in names["11112"] and "Bản Páo" in names["11112"]
    assert dataset.villages["village_code"].is_unique
    # territories partition the communes (Voronoi cells clipped to their commune)
    for code, group in dataset.villages.groupby("commune_code"):
        commune = dataset.communes.set_index("commune_code").geometry[code]
        # (to within the 6 decimals of the GeoJSON coordinates)
        assert abs(group.geometry.area.sum() - commune.area) < 1e-5 * commune.area
        assert group.geometry.union_all().symmetric_difference(commune).area < 1e-5 * commune.area


def test_towers_per_operator_as_generated(prepared: Path) -> None:
    dataset = load_dataset(prepared)
    counts = dataset.sites["operator"].value_counts().to_dict()
    expected = {
        {4: "Viettel", 1: "MobiFone", 2: "VinaPhone"}[n]: len(c) for n, c in od.SITES.items()
    }
    assert counts == expected
    assert set(dataset.cells["mcc"]) == {452}
    assert len(dataset.cells) == 3 * sum(len(c) for c in od.SITES.values())


def test_households_match_population_inside_communes(prepared: Path, open_inputs: dict) -> None:
    dataset = load_dataset(prepared)
    expected = _exact_population_inside(open_inputs["population"]) / 4.5
    total = dataset.villages["households"].sum()
    assert total == pytest.approx(expected, rel=0.01)
    # settlements carry every household (buildings split their village's share)
    assert dataset.settlements["households"].sum() == pytest.approx(total, rel=1e-6)
    assert len(dataset.settlements) > len(dataset.villages)  # the mapped buildings


def test_dem_covers_every_tower_radius(prepared: Path) -> None:
    dataset = load_dataset(prepared)
    with rasterio.open(dataset.dem_path) as src:
        z = src.read(1)
        assert src.crs.to_epsg() == dataset.crs.to_epsg()
        assert src.res[0] == pytest.approx(92.8, abs=0.1)  # 3″ native resolution
        dem = shapely.box(*src.bounds)
        for site in dataset.sites.geometry:
            disc = site.buffer(RADIUS_M)
            assert dem.contains(disc)
            window = rasterio.windows.from_bounds(*disc.bounds, transform=src.transform)
            r0, c0 = int(window.row_off), int(window.col_off)
            patch = z[r0 : r0 + int(window.height), c0 : c0 + int(window.width)]
            assert (patch != src.nodata).all()  # the void in the tile was filled
    assert dataset.warnings == [w for w in dataset.warnings if "DEM" not in w]


def test_every_input_sha256_in_dataset_toml(prepared: Path, open_inputs: dict) -> None:
    meta = tomllib.loads((prepared / "dataset.toml").read_text(encoding="utf-8"))
    recorded = {s["file"]: s for s in meta["sources"]}
    shp = Path(open_inputs["communes"])
    files = [shp, *(shp.with_suffix(s) for s in (".dbf", ".shx", ".prj", ".cpg"))]
    files += [open_inputs[k] for k in ("osm", "cells", "population")]
    files += sorted(Path(open_inputs["dem"]).glob("*.hgt"))
    for path in files:
        assert recorded[path.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert recorded["extract.osm"]["attribution"] == "© OpenStreetMap contributors, ODbL"
    assert recorded["452.csv.gz"]["licence"] == "CC-BY-SA-4.0"
    assert recorded["N21E103.hgt"]["licence"] == "public domain"
    assert meta["synthetic"] is False and meta["prepare"]["power_status"] == "estimated"


def test_run_on_prepared_folder_names_the_sources(
    prepared: Path, open_inputs: dict, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "-q",
            "run",
            "--data",
            str(prepared),
            "--out",
            str(out),
            "--scenario",
            str(open_inputs["scenario"]),
            "--no-plan",
            "--no-sensitivity",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["villages"] == 10
    assert summary["power_estimated"] == 10  # every status is an estimate, and says so
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    data = html[html.index('"attribution":[') :]
    for text in ("© OpenStreetMap contributors", "OpenCelliD", "SRTM", "WorldPop"):
        assert text in data[: data.index("]")]
    assert '"Điện lưới quốc gia","Có (ước tính)"' in html  # the popups say so too
    villages = pd.read_csv(out / "villages.csv", encoding="utf-8-sig")
    assert villages["power_estimated"].all()


def test_validate_finds_no_problem_but_the_estimate(prepared: Path) -> None:
    dataset = load_dataset(prepared)
    assert dataset.problems == []
    assert dataset.power["power_estimated"].all()
    # the estimate: villages with a settlement within 1 km of the 22 kV line are powered
    powered = set(dataset.power.loc[dataset.power["grid_power"] == True, "village_code"])  # noqa: E712
    code = dict(
        zip(dataset.villages["village_name"], dataset.villages["village_code"], strict=False)
    )
    assert code["Bản Huổi Só"] in powered  # 150 m from the 22 kV line
    assert code["Bản Sính Phình"] in powered  # its buildings are 300 m from it
    assert code["Xã Mường Báng"] not in powered  # 5 km away; the 220 kV line does not count
    assert code["Bản Páo"] not in powered


def test_prepare_is_byte_identical(open_inputs: dict, prepared: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert _prepare(open_inputs, again) == 0
    for path in sorted(p for p in prepared.rglob("*") if p.is_file()):
        rel = path.relative_to(prepared)
        assert (again / rel).read_bytes() == path.read_bytes(), rel


# --------------------------------------------------------------------- options


def test_power_status_table_is_joined_by_name_and_reported(
    open_inputs: dict, tmp_path: Path
) -> None:
    table = tmp_path / "power.xlsx"
    pd.DataFrame(
        {
            "village_name": ["BAN HUOI SO", "Bản Páo", "Bản Không Có"],
            "commune_name": ["Tả Phìn", "xa sinh phinh", "Tả Phìn"],
            "grid_power": ["có", "không", "có"],
        }
    ).to_excel(table, index=False)
    out = tmp_path / "ds"
    assert _prepare(open_inputs, out, power_status=str(table)) == 0
    dataset = load_dataset(out)
    assert "power_estimated" not in dataset.power.columns  # reported, not estimated
    code = dict(
        zip(dataset.villages["village_name"], dataset.villages["village_code"], strict=False)
    )
    assert dict(zip(dataset.power["village_code"], dataset.power["grid_power"], strict=True)) == {
        code["Bản Huổi Só"]: True,
        code["Bản Páo"]: False,
    }
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["power_rows_unmatched"] == 1
    assert any("row 3" in w for w in report["warnings"])


def test_villages_file_replaces_osm_and_select(open_inputs: dict, tmp_path: Path) -> None:
    villages = tmp_path / "thon.geojson"
    gpd.GeoDataFrame(
        {"ten_thon": ["Thôn Một", "Thôn Hai"]},
        geometry=[shapely.Point(103.96, 21.41), shapely.Point(103.99, 21.44)],
        crs=4326,
    ).to_file(villages, driver="GeoJSON", engine="pyogrio")
    out = tmp_path / "ds"
    assert _prepare(open_inputs, out, "--select", "TA PHIN", villages=str(villages), osm=None) == 0
    dataset = load_dataset(out)
    assert dataset.communes["commune_name"].tolist() == ["Xã Tả Phìn"]
    assert sorted(dataset.villages["village_name"]) == ["Thôn Hai", "Thôn Một"]
    assert dataset.grid is None and dataset.power["grid_power"].isna().all()


def test_communes_fields_crs_and_select(open_inputs: dict, tmp_path: Path) -> None:
    # a zipped shapefile in the VN-2000 TM-3 zone of Điện Biên (EPSG:9205)
    shp = od.write_communes_shapefile(tmp_path / "tm3.shp", crs=9205)
    archive = tmp_path / "tm3.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for suffix in (".shp", ".dbf", ".shx", ".prj", ".cpg"):
            z.write(shp.with_suffix(suffix), shp.with_suffix(suffix).name)
    communes = read_communes(archive, select="muong bang|SINH")
    assert sorted(communes["commune_code"]) == ["11112", "11113"]
    assert communes.crs.to_epsg() == 9205
    back = communes.to_crs(4326).set_index("commune_code").geometry["11112"]
    assert back.symmetric_difference(shapely.box(*od.COMMUNES[1][0])).area < 1e-6 * back.area
    with pytest.raises(MissingColumnError, match=r"'MA_XA'.*'TEN_XA'"):
        read_communes(open_inputs["communes"], code_field="MA_HUYEN")
    gj = tmp_path / "x.geojson"
    od.communes_frame().rename(columns={"MA_XA": "id_x", "TEN_XA": "label"}).to_file(gj)
    with pytest.raises(MissingColumnError, match="--commune-code-field"):
        read_communes(gj)
    assert len(read_communes(gj, code_field="ID_X", name_field="label")) == 3
    gpkg = tmp_path / "xa.gpkg"
    od.communes_frame().rename(columns={"MA_XA": "ma_dvhc", "TEN_XA": "ten_dvhc"}).to_file(gpkg)
    assert read_communes(gpkg)["commune_name"].tolist() == [c[2] for c in od.COMMUNES]


# --------------------------------------------------------------------- bad input


def _error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_missing_tile_is_one_error_naming_it(open_inputs, tmp_path, capsys) -> None:
    only = tmp_path / "srtm"
    only.mkdir()
    (only / "N21E103.hgt").write_bytes((Path(open_inputs["dem"]) / "N21E103.hgt").read_bytes())
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", dem=str(only)))
    assert "N21E104" in line and "N21E103" not in line.split("):")[-1]
    assert not (tmp_path / "ds").exists()  # nothing half-written


def test_shapefile_without_crs_is_an_error(open_inputs, tmp_path, capsys) -> None:
    shp = od.write_communes_shapefile(tmp_path / "noprj.shp")
    shp.with_suffix(".prj").unlink()
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", communes=str(shp)))
    assert "declares no CRS" in line and "noprj.shp" in line


def test_cells_file_without_row_in_area(open_inputs, tmp_path, capsys) -> None:
    cells = tmp_path / "far.csv"
    cells.write_text(od.HEADER_LINE + "\nLTE,452,4,1,1,0,105.85,21.03,1000,3,1,0,0,0\n")
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", cells=str(cells)))
    assert "far.csv" in line and "no cell of MCC 452 lies in the area" in line


def test_population_raster_not_covering(open_inputs, tmp_path, capsys) -> None:
    small = tmp_path / "small.tif"
    profile = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(0.001, 0, 103.95, 0, -0.001, 21.45),
    }
    with rasterio.open(small, "w", **profile) as dst:
        dst.write(np.ones((10, 10), np.float32), 1)
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", population=str(small)))
    assert "covers only" in line and "small.tif" in line


def test_osm_without_place_points(open_inputs, tmp_path, capsys) -> None:
    empty = tmp_path / "empty.osm"
    empty.write_text(
        '<?xml version="1.0"?>\n<osm version="0.6"><node id="1" lat="21.4" lon="104"/></osm>\n'
    )
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", osm=str(empty)))
    assert "empty.osm" in line and "no place point" in line


def test_household_size_needed(open_inputs, tmp_path, capsys) -> None:
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", household_size=None))
    assert "--household-size" in line and "Điện Biên" in line


def test_unknown_field(open_inputs, tmp_path, capsys) -> None:
    line = _error(capsys, _prepare(open_inputs, tmp_path / "ds", commune_name_field="TEN"))
    assert "no field 'TEN'" in line and "'TEN_XA'" in line


# --------------------------------------------------------------------- readers


def test_hgt_tiles_1_and_3_arcsecond_and_zip(tmp_path: Path) -> None:
    z = (np.arange(3601 * 3601, dtype=np.int64) % 3000).astype(">i2").reshape(3601, 3601)
    z[0, 0] = -32768
    (tmp_path / "S01W075.hgt").write_bytes(z.tobytes())
    heights, transform = read_hgt(tmp_path / "S01W075.hgt")
    assert heights.shape == (3601, 3601) and heights[0, 0] == -32768 and heights[0, 1] == 1
    # the first sample is the north-west corner, on whole degrees (cell centres)
    assert transform @ (0.5, 0.5) == pytest.approx((-75.0, 0.0))
    assert transform @ (3600.5, 3600.5) == pytest.approx((-74.0, -1.0))
    path = od.write_hgt(tmp_path, 21, 103, voids=False)
    with zipfile.ZipFile(tmp_path / "N21E103.hgt.zip", "w") as archive:
        archive.write(path, "N21E103.hgt")
    a, ta = read_hgt(path)
    b, tb = read_hgt(tmp_path / "N21E103.hgt.zip")
    assert ta == tb and (a == b).all() and a.shape == (1201, 1201)
    assert a[0, 0] == round(float(od.elevation(np.array(103.0), np.array(22.0))))
    (tmp_path / "N20E103.hgt").write_bytes(b"\0" * 1000)
    with pytest.raises(DEMError, match="1201 × 1201"):
        read_hgt(tmp_path / "N20E103.hgt")
    assert tiles_for_bounds(103.5, 21.2, 104.5, 22.0) == ["N21E103", "N21E104"]


def test_geotiff_tiles_and_raster_without_crs(tmp_path: Path) -> None:
    res = 1 / 3600
    profile = {
        "driver": "GTiff",
        "width": 360,
        "height": 360,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(res, 0, 103.9, 0, -res, 21.5),
        "nodata": -9999.0,
    }
    tif = tmp_path / "Copernicus_DSM_COG_10_N21_00_E103_00_DEM.tif"
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.full((360, 360), 500.0, np.float32), 1)
    area = gpd.GeoSeries([shapely.box(103.93, 21.43, 103.97, 21.47)], crs=4326).to_crs(32648)
    result = build_dem([tif], area.iloc[0], area.crs, tmp_path / "dem.tif")
    assert result.resolution_m == pytest.approx(30.9)
    with rasterio.open(tmp_path / "dem.tif") as src:
        assert np.allclose(src.read(1), 500.0)
    profile.pop("crs")
    with rasterio.open(tmp_path / "nocrs.tif", "w", **profile) as dst:
        dst.write(np.full((360, 360), 500.0, np.float32), 1)
    with pytest.raises(CRSError, match="declares no CRS"):
        build_dem([tmp_path / "nocrs.tif"], area.iloc[0], area.crs, tmp_path / "dem2.tif")


def test_opencellid_header_blocks_and_gzip_agree(tmp_path: Path) -> None:
    rows = od.cell_rows() * 50
    plain = tmp_path / "cells.csv"
    plain.write_text(od.HEADER_LINE + "\n" + "\n".join(rows) + "\n")
    gz = tmp_path / "cells.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("\n".join(rows) + "\nbroken,row\n")
    area = gpd.GeoSeries([shapely.box(103.9, 21.3, 104.1, 21.5)], crs=4326).to_crs(32648)
    a = filter_cells(plain, area.iloc[0], area.crs, tmp_path / "a.csv")
    b = filter_cells(gz, area.iloc[0], area.crs, tmp_path / "b.csv", block_bytes=997)
    assert a.header and not b.header
    assert a.kept == b.kept == 50 * 3 * sum(len(c) for c in od.SITES.values())
    assert a.other_country_in_area == b.other_country_in_area == 100
    assert b.unreadable == 1 and b.unreadable_rows == [len(rows) + 1]
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_zonal_sums_preserve_totals(tmp_path: Path) -> None:
    path = od.write_population(tmp_path / "pop.tif")
    commune = shapely.box(103.95, 21.40, 104.00, 21.45)
    rng = np.random.default_rng(0)
    points = shapely.points(rng.uniform(103.95, 104.0, 12), rng.uniform(21.40, 21.45, 12))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=commune)
    )
    zones = gpd.GeoSeries([c.intersection(commune) for c in cells], crs=4326)
    parts = zonal_sums(path, zones, engine="covgap").sums
    whole = zonal_sums(path, gpd.GeoSeries([commune], crs=4326), engine="covgap").sums
    assert parts.sum() == pytest.approx(whole[0], rel=1e-9)
    with rasterio.open(path) as src:
        window = rasterio.windows.from_bounds(*commune.bounds, transform=src.transform)
        z = src.read(1, window=window.round_offsets().round_lengths())
    assert whole[0] == pytest.approx(float(z.sum()), rel=0.02)


def test_osm_reader(open_inputs: dict) -> None:
    places = read_places(open_inputs["osm"])
    assert len(places) == len(od.PLACES) + 1 + len(od.OUTSIDE_PLACES)
    assert "Bản Huổi Só" in set(places["name"]) and (places["name"] == "").sum() == 2
    assert parse_other_tags('"a"=>"x \\"y\\"","name:vi"=>"Bản"') == {"a": 'x "y"', "name:vi": "Bản"}


def test_osm_pbf_gives_the_same_dataset(open_inputs: dict, prepared: Path, tmp_path: Path) -> None:
    pytest.importorskip("osmium")
    pbf = od.write_osm_pbf(open_inputs["osm"], tmp_path / "extract.osm.pbf")
    out = tmp_path / "ds"
    assert _prepare(open_inputs, out, osm=str(pbf)) == 0
    for rel in (
        "boundaries/villages.geojson",
        "boundaries/settlements.geojson",
        "electricity/grid.geojson",
        "electricity/village_power.csv",
    ):
        assert (out / rel).read_bytes() == (prepared / rel).read_bytes(), rel


def test_exactextract_and_covgap_fractions_agree(tmp_path: Path) -> None:
    pytest.importorskip("exactextract")
    path = od.write_population(tmp_path / "pop.tif")
    commune = shapely.box(103.95, 21.40, 104.00, 21.45)
    rng = np.random.default_rng(1)
    points = shapely.points(rng.uniform(103.95, 104.0, 9), rng.uniform(21.40, 21.45, 9))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=commune)
    )
    zones = gpd.GeoSeries([c.intersection(commune) for c in cells], crs=4326).to_crs(32648)
    ours = zonal_sums(path, zones, engine="covgap")
    theirs = zonal_sums(path, zones, engine="exactextract")
    assert theirs.method == "exactextract"
    np.testing.assert_allclose(ours.sums, theirs.sums, rtol=1e-6)


def test_priority_lists_name_sources_and_flag_estimates(
    prepared: Path, open_inputs: dict, tmp_path: Path
) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "plan"
    code = main(
        [
            "-q",
            "sites",
            "--data",
            str(prepared),
            "--out",
            str(out),
            "--scenario",
            str(open_inputs["scenario"]),
            "--sites",
            "2",
            "--method",
            "greedy",
        ]
    )
    assert code == 0
    book = openpyxl.load_workbook(out / "priorities.xlsx", read_only=True)
    rows = list(book["assumptions"].iter_rows(values_only=True))
    sources = {r[1]: r for r in rows if str(r[0]).startswith("data source:")}
    digest = hashlib.sha256(Path(open_inputs["osm"]).read_bytes()).hexdigest()
    assert sources["extract.osm"][2] == f"sha256 {digest}"
    assert "© OpenStreetMap contributors" in sources["extract.osm"][3]
    estimated = [r for r in rows if r[0] == "grid power status estimated"]
    assert estimated and estimated[0][1] == 10
    sheet = list(book["electrification"].iter_rows(values_only=True))
    assert len(sheet) > 1  # unpowered (estimated) villages to electrify
    flag = sheet[0].index("power_estimated")  # the list flags its estimated statuses
    assert all(row[flag] is True for row in sheet[1:])


def test_sites_table_alone_or_with_cells(open_inputs: dict, tmp_path: Path) -> None:
    sites = tmp_path / "sites.csv"
    lon, lat = od.SITES[4][0]
    sites.write_text(
        "site_id,operator,lon,lat,height_m\n"
        f"VT-A,Viettel,{lon},{lat},35\nMF-X,MobiFone,104.01,21.43,30\n",
        encoding="utf-8",
    )
    only = tmp_path / "only"
    assert _prepare(open_inputs, only, sites=str(sites), cells=None) == 0
    dataset = load_dataset(only)
    assert sorted(dataset.sites["site_id"]) == ["MF-X", "VT-A"] and dataset.cells is None
    both = tmp_path / "both"
    assert _prepare(open_inputs, both, sites=str(sites)) == 0
    dataset = load_dataset(both)
    listed = dataset.sites.set_index("site_id")
    assert listed.loc["VT-A", "n_cells"] == 3  # the Viettel cells at that site joined it
    assert (dataset.sites["source"] == "cells").sum() == sum(len(c) for c in od.SITES.values()) - 1


SHARED = Path(__file__).parents[1].parent / "shared"  # ../shared beside the checkout
CENSUS = SHARED / "data" / "census2009" / "census2009_communes_tua_chua.geojson"


@pytest.mark.shared
@pytest.mark.skipif(not CENSUS.is_file(), reason="../shared/data is absent")
def test_real_commune_boundaries(open_inputs: dict, tmp_path: Path) -> None:
    """The 2009 boundaries of Tủa Chùa's communes: fields recognised, two selected."""
    communes = read_communes(CENSUS, select="ta phin|sinh phinh")
    assert sorted(communes["commune_name"]) == ["Xã Sính Phình", "Xã Tả Phìn"]
    assert set(communes["province"]) == {"Điện Biên"}
    # a village point in each of the two, two in the first; tiles N21E103 and N22E103
    inner = [g.representative_point() for g in communes.geometry]
    places = [(p.x, p.y, "village", f"Ban {i}", "") for i, p in enumerate(inner)]
    places.append((inner[0].x + 0.002, inner[0].y + 0.002, "hamlet", "", ""))
    osm = tmp_path / "real.osm"
    saved = od.PLACES
    try:
        od.PLACES = places
        od.write_osm(osm)
    finally:
        od.PLACES = saved
    tiles = tmp_path / "srtm"
    tiles.mkdir()
    for lat in (21, 22):
        od.write_hgt(tiles, lat, 103, voids=False)
    cells = tmp_path / "cells.csv"
    p = inner[0]
    cells.write_text(od.HEADER_LINE + f"\nLTE,452,4,1,1,0,{p.x:.5f},{p.y:.5f},1000,3,1,0,0,0\n")
    out = tmp_path / "ds"
    code = _prepare(
        open_inputs,
        out,
        "--select",
        "ta phin|sinh phinh",
        communes=str(CENSUS),
        osm=str(osm),
        dem=str(tiles),
        cells=str(cells),
        population=None,
    )
    assert code == 0
    dataset = load_dataset(out)
    assert len(dataset.communes) == 2 and len(dataset.villages) == 3
    assert dataset.villages.geometry.area.sum() == pytest.approx(
        dataset.communes.geometry.area.sum(), rel=1e-5
    )


def test_out_folder_of_other_files_is_never_replaced(open_inputs, tmp_path, capsys) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dataset.toml").write_text('name = "hand_made"\n', encoding="utf-8")
    line = _error(capsys, _prepare(open_inputs, mine))
    assert "was not written by covgap prepare" in line
    assert [p.name for p in mine.iterdir()] == ["dataset.toml"]


def test_village_polygons_are_clipped_to_their_commune(open_inputs: dict, tmp_path: Path) -> None:
    villages = tmp_path / "thon.gpkg"
    gpd.GeoDataFrame(
        {"village_name": ["Thôn Tây", "Thôn Đông", "Thôn Xa"]},
        geometry=[
            shapely.box(103.95, 21.40, 103.975, 21.45),
            shapely.box(103.975, 21.40, 104.01, 21.45),  # spills into the next commune
            shapely.box(105.0, 21.0, 105.1, 21.1),  # outside every commune
        ],
        crs=4326,
    ).to_file(villages, driver="GPKG", engine="pyogrio")
    out = tmp_path / "ds"
    assert _prepare(open_inputs, out, villages=str(villages), osm=None) == 0
    dataset = load_dataset(out)
    by_name = dataset.villages.set_index("village_name")
    assert by_name.loc["Thôn Đông", "commune_code"] == "11111"
    commune = dataset.communes.set_index("commune_code").geometry["11111"]
    assert by_name.geometry["Thôn Đông"].difference(commune).area < 1e-6 * commune.area
    # the two other communes have no given village: one village each
    assert set(dataset.villages["commune_code"]) == {"11111", "11112", "11113"}
    assert len(dataset.villages) == 4
    report = json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))
    assert report["place_points_outside"] == 1


def test_tiles_away_from_the_area_are_not_read(tmp_path: Path) -> None:
    od.write_hgt(tmp_path, 21, 103, voids=False)
    (tmp_path / "N10E100.hgt").write_bytes(b"not a tile")  # would fail if it were read
    area = gpd.GeoSeries([shapely.box(103.4, 21.4, 103.5, 21.5)], crs=4326).to_crs(32648)
    result = build_dem([tmp_path], area.iloc[0], area.crs, tmp_path / "dem.tif")
    assert [p.name for p in result.files] == ["N21E103.hgt"]


# ---------------------------------------------------------------- land cover


def test_worldcover_tile_becomes_landcover_on_the_dem_grid(
    open_inputs: dict, tmp_path: Path
) -> None:
    import rasterio

    from covgap.data.dataset import load_dataset
    from opendata_inputs import write_worldcover

    tile = write_worldcover(tmp_path / "ESA_WorldCover_10m_2021_v200_N21E102_Map.tif")
    out = tmp_path / "dataset"
    assert _prepare(open_inputs, out, "--landcover", str(tile)) == 0
    with (
        rasterio.open(out / "terrain" / "dem.tif") as dem,
        rasterio.open(out / "terrain" / "landcover.tif") as cover,
    ):
        assert (cover.width, cover.height, cover.transform) == (
            dem.width,
            dem.height,
            dem.transform,
        )
        assert cover.crs == dem.crs
        classes = cover.read(1)
    assert set(np.unique(classes).tolist()) <= {0, 10, 40, 50}
    assert {10, 40, 50} <= set(np.unique(classes).tolist())  # categories kept, not averaged
    text = (out / "dataset.toml").read_text(encoding="utf-8")
    digest = hashlib.sha256(tile.read_bytes()).hexdigest()
    assert digest in text
    assert "ESA WorldCover" in text
    assert load_dataset(out).landcover_path == out / "terrain" / "landcover.tif"


def test_worldcover_tile_elsewhere_names_the_tiles_needed(open_inputs, tmp_path, capsys) -> None:
    from opendata_inputs import write_worldcover

    tile = write_worldcover(tmp_path / "far.tif", west=10.0, north=50.0, size_deg=0.1)
    code = _prepare(open_inputs, tmp_path / "ds", "--landcover", str(tile))
    err = _error(capsys, code)
    assert "no land-cover tile overlaps the DEM" in err
    assert err.endswith("the area needs WorldCover tile(s) N21E102")
