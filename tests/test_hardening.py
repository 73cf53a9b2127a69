"""Issue 7: a battery of bad inputs, each answered clearly; nothing lost.

Every bad input gets either a one-line error (``covgap validate`` exits 2 and
prints ``error: <file>: row N, column 'x': problem``, never a traceback) or a
documented warning that lists the row or feature.  Each error message stem
used here has an entry in ``docs/troubleshooting.md`` (checked at the end).
"""

from __future__ import annotations

import json
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from conftest import (
    COMMUNE_NAMES,
    VILLAGE_NAMES,
    box,
    csv_text,
    default_cells,
    default_communes,
    default_power,
    default_sites,
    default_survey,
    default_villages,
    feature,
    reproject_features,
    village_box,
    write_geojson,
)
from covgap.cli import main
from covgap.data.dataset import load_dataset
from covgap.errors import CoverageError, DatasetError
from covgap.gaps import find_gaps

DOCS = Path(__file__).resolve().parents[1] / "docs" / "troubleshooting.md"

# ----------------------------------------------------------------------------- helpers


def write_raster(
    path: Path,
    z: np.ndarray,
    *,
    x0: float = 326_400.0,
    y1: float = 2_431_500.0,
    cell: float = 30.0,
    crs: str | None = "EPSG:32648",
    nodata: float | None = -9999.0,
    unit: str | None = None,
) -> None:
    """Write a float32 GeoTIFF (north-up) over the synthetic dataset by default."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, cols = z.shape
    with rasterio.open(
        path, "w", driver="GTiff", width=cols, height=rows, count=1, dtype="float32",
        crs=crs, transform=Affine(cell, 0.0, x0, 0.0, -cell, y1), nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(z.astype("float32"), 1)
        if unit is not None:
            dst.set_band_unit(1, unit)


def slope(low: float = 800.0, high: float = 1900.0, n: int = 200) -> np.ndarray:
    rows, cols = np.mgrid[0:n, 0:n]
    return low + (high - low) * (rows + cols) / (2 * (n - 1))


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(root: Path, capsys: pytest.CaptureFixture[str], *parts: str) -> str:
    """``covgap validate`` exits 2 with one ``error:`` line containing ``parts``."""
    code, _, err = cli(["validate", "--data", str(root)], capsys)
    lines = [line for line in err.splitlines() if not line.startswith("WARNING")]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


# ------------------------------------------------------------------ error battery
#
# Each case: (id, mutate(make_dataset) -> root, message stem, other expected parts).
# The stem is the documented message (docs/troubleshooting.md).


def _write(root: Path, rel: str, data: bytes | str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return root


def _villages_with(**changes: Any) -> list[dict[str, Any]]:
    """Default villages; ``changes`` maps a feature index to new properties/geometry."""
    out = default_villages()
    for key, value in changes.items():
        i = int(key[1:])
        if "geometry" in value:
            out[i] = {**out[i], "geometry": value.pop("geometry")}
        out[i] = {**out[i], "properties": {**out[i]["properties"], **value}}
    return out


def _swapped(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def swap(coords: Any) -> Any:
        if isinstance(coords[0], (int, float)):
            return [coords[1], coords[0]]
        return [swap(c) for c in coords]

    return [
        {**f, "geometry": {**f["geometry"], "coordinates": swap(f["geometry"]["coordinates"])}}
        for f in features
    ]


def _shapefile_bytes(tmp: Path) -> bytes:
    import geopandas as gpd
    import shapely

    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    gdf.to_file(tmp / "x.shp")
    return (tmp / "x.shp").read_bytes()


Mutate = Callable[[Callable[..., Path], Path], Path]

ERROR_CASES: list[tuple[str, Mutate, str, tuple[str, ...]]] = [
    # ---- files and folders
    ("missing-folder", lambda make, tmp: tmp / "nowhere", "no such dataset folder", ()),
    (
        "file-not-folder",
        lambda make, tmp: make() / "electricity" / "village_power.csv",
        "is a file, not a dataset folder",
        ("village_power.csv",),
    ),
    (
        "empty-folder",
        lambda make, tmp: (tmp / "empty").mkdir() or tmp / "empty",
        "not a covgap dataset: missing",
        ("boundaries/communes.geojson",),
    ),
    (
        "empty-csv",
        lambda make, tmp: make(power=""),
        "the file is empty",
        ("village_power.csv",),
    ),
    (
        "blank-lines-csv",
        lambda make, tmp: make(power=",,\n,,,\n"),
        "the file has no header row",
        ("village_power.csv",),
    ),
    (
        "empty-geojson",
        lambda make, tmp: _write(make(), "boundaries/communes.geojson", ""),
        "the file is empty",
        ("communes.geojson",),
    ),
    (
        "folder-instead-of-file",
        lambda make, tmp: (
            (make(communes=None) / "boundaries" / "communes.geojson").mkdir() or tmp / "dataset"
        ),
        "is a folder, expected a file",
        ("communes.geojson",),
    ),
    (
        "binary-csv",
        lambda make, tmp: make(power=b"\x00\x01\x02\xff\x00garbage\x00\x00\x10"),
        "contains NUL bytes",
        ("village_power.csv",),
    ),
    (
        "undecodable-csv",
        lambda make, tmp: make(power=b"village_code,grid_power\nV01,\x81\x8d\x8f\x90\n"),
        "cannot decode the file",
        ("village_power.csv",),
    ),
    (
        "zip-named-geojson",
        lambda make, tmp: _write(make(), "boundaries/villages.geojson", b"PK\x03\x04rest"),
        "is a ZIP archive, not GeoJSON",
        ("villages.geojson",),
    ),
    (
        "shp-named-geojson",
        lambda make, tmp: _write(make(), "boundaries/villages.geojson", _shapefile_bytes(tmp)),
        "is an ESRI shapefile (.shp), not GeoJSON",
        ("villages.geojson",),
    ),
    (
        "invalid-json",
        lambda make, tmp: _write(make(), "boundaries/villages.geojson", '{"type": "Feat'),
        "not valid JSON",
        ("villages.geojson",),
    ),
    (
        "not-a-featurecollection",
        lambda make, tmp: _write(make(), "boundaries/villages.geojson", '{"type": "Polygon"}'),
        "expected a GeoJSON FeatureCollection",
        ("villages.geojson",),
    ),
    # ---- columns, types, cells
    (
        "misspelt-column",
        lambda make, tmp: make(power="village_code,grid_powr\nV01,yes\n"),
        "missing required column",
        ("village_power.csv", "'grid_power'", "did you mean 'grid_powr'?"),
    ),
    (
        "no-way-to-name-villages",
        lambda make, tmp: make(power="village,grid_power\nV01,yes\n"),
        "missing column 'village_code' (or 'village_name' with 'commune_name')",
        ("village_power.csv",),
    ),
    (
        "misspelt-property",
        lambda make, tmp: make(
            communes=[
                feature(
                    f["geometry"],
                    comune_code=f["properties"]["commune_code"],
                    commune_name=f["properties"]["commune_name"],
                )
                for f in default_communes()
            ]
        ),
        "missing required column",
        ("communes.geojson", "'commune_code'", "did you mean 'comune_code'?"),
    ),
    (
        "not-yes-no",
        lambda make, tmp: make(
            power=[*default_power()[:2], {"village_code": "V03", "grid_power": "maybe"}]
        ),
        "expected yes/no",
        ("village_power.csv", "row 3", "column 'grid_power'", "'maybe'"),
    ),
    (
        "not-a-number",
        lambda make, tmp: make(villages=_villages_with(f1={"households": "many"})),
        "expected a number",
        ("villages.geojson", "row 2", "column 'households'"),
    ),
    (
        "negative-number",
        lambda make, tmp: make(villages=_villages_with(f1={"population": -5})),
        "expected a value >= 0",
        ("villages.geojson", "row 2", "column 'population'"),
    ),
    (
        "blank-required-code",
        lambda make, tmp: make(villages=_villages_with(f2={"village_code": "  "})),
        "empty value in a required column",
        ("villages.geojson", "row 3", "column 'village_code'"),
    ),
    (
        "blank-required-number",
        lambda make, tmp: make(cells=[{**default_cells()[0], "lat": ""}, *default_cells()[1:]]),
        "expected a number, got a blank cell",
        ("cells.csv", "row 1", "column 'lat'"),
    ),
    (
        "duplicate-village-code",
        lambda make, tmp: make(villages=_villages_with(f4={"village_code": "V02"})),
        "duplicate village_code 'V02' (also in feature 2)",
        ("villages.geojson", "row 5"),
    ),
    (
        "unknown-commune",
        lambda make, tmp: make(villages=_villages_with(f0={"commune_code": "C09"})),
        "unknown commune_code 'C09'",
        ("villages.geojson", "row 1", "column 'commune_code'"),
    ),
    (
        "duplicate-site-id",
        lambda make, tmp: make(
            sites=[default_sites()[0], {**default_sites()[1], "site_id": "VT-A"}]
        ),
        "duplicate site_id 'VT-A' (also in row 1)",
        ("sites.csv", "row 2"),
    ),
    (
        "unquoted-decimal-comma",
        lambda make, tmp: make(sites="site_id,operator,lon,lat\nS1,Viettel,103,345,21,955\n"),
        "cells but the header has",
        ("sites.csv", "row 1", "4 columns"),
    ),
    (
        "placeholder-position",
        lambda make, tmp: make(sites=[{**default_sites()[0], "lon": 0, "lat": 0}]),
        "is a placeholder, not a tower",
        ("sites.csv", "row 1"),
    ),
    (
        "bad-radio",
        lambda make, tmp: make(sites=[{**default_sites()[0], "radio": "WIFI"}]),
        "expected GSM, UMTS, LTE or NR",
        ("sites.csv", "row 1", "column 'radio'"),
    ),
    (
        "bad-toml",
        lambda make, tmp: make(toml="name = \n"),
        "not valid TOML",
        ("dataset.toml",),
    ),
    # ---- coordinates and CRSs
    (
        "sites-lat-lon-swapped",
        lambda make, tmp: make(
            sites=[default_sites()[0], {**default_sites()[1], "lon": 21.942, "lat": 103.34}]
        ),
        "lat and lon look swapped",
        ("sites.csv", "row 2"),
    ),
    (
        "cells-lat-lon-swapped",
        lambda make, tmp: make(
            cells=[*default_cells()[:3], {**default_cells()[3], "lon": 21.945, "lat": 103.365}]
        ),
        "lat and lon look swapped",
        ("cells.csv", "row 4"),
    ),
    (
        "geojson-axes-swapped",
        lambda make, tmp: make(villages=_swapped(default_villages())),
        "lat and lon look swapped",
        ("villages.geojson",),
    ),
    (
        "metres-without-crs",
        lambda make, tmp: make(vector_crs="EPSG:3405", declare_crs=False, toml=None),
        "are not longitude/latitude degrees",
        ("communes.geojson", "EPSG:3405", "EPSG:32648"),
    ),
    (
        "degrees-declared-projected",
        lambda make, tmp: _write(
            make(),
            "boundaries/villages.geojson",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": default_villages(),
                    "crs": {"type": "name", "properties": {"name": "EPSG:32648"}},
                }
            ),
        ),
        "look like longitude/latitude degrees but the file declares",
        ("villages.geojson", "EPSG:32648"),
    ),
    (
        "crs-mislabelled-layers-apart",
        lambda make, tmp: _write(
            make(),
            "boundaries/villages.geojson",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": reproject_features(default_villages(), "EPSG:32648"),
                    "crs": {"type": "name", "properties": {"name": "EPSG:32647"}},
                }
            ),
        ),
        "no village lies in any commune",
        ("villages.geojson",),
    ),
    (
        "unknown-crs-member",
        lambda make, tmp: _write(
            make(),
            "boundaries/villages.geojson",
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": default_villages(),
                    "crs": {"type": "name", "properties": {"name": "EPSG:999999"}},
                }
            ),
        ),
        "cannot understand the file's crs member",
        ("villages.geojson",),
    ),
    # ---- geometries
    (
        "null-geometry",
        lambda make, tmp: make(villages=_villages_with(f3={"geometry": None})),
        "the feature has no geometry",
        ("villages.geojson", "row 4"),
    ),
    (
        "empty-geometry",
        lambda make, tmp: make(
            villages=_villages_with(f3={"geometry": {"type": "Polygon", "coordinates": []}})
        ),
        "the geometry is empty",
        ("villages.geojson", "row 4"),
    ),
    (
        "wrong-geometry-type",
        lambda make, tmp: make(
            villages=_villages_with(
                f3={"geometry": {"type": "Point", "coordinates": [103.35, 21.95]}}
            )
        ),
        "expected Polygon or MultiPolygon, got Point",
        ("villages.geojson", "row 4"),
    ),
    (
        "unreadable-geometry",
        lambda make, tmp: make(
            villages=_villages_with(
                f3={"geometry": {"type": "Polygon", "coordinates": [[[1, 2], [3]]]}}
            )
        ),
        "unreadable geometry",
        ("villages.geojson", "row 4", "column 'geometry'"),
    ),
    (
        "collapsed-polygon",
        lambda make, tmp: make(
            villages=_villages_with(
                f3={
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[103.35, 21.95], [103.36, 21.95], [103.35, 21.95], [103.35, 21.95]]
                        ],
                    }
                }
            )
        ),
        "that cannot be repaired",
        ("villages.geojson", "row 4"),
    ),
    # ---- the DEM
    (
        "dem-garbage",
        lambda make, tmp: _write(make(), "terrain/dem.tif", b"not a tiff"),
        "cannot read the DEM as a GeoTIFF",
        ("dem.tif",),
    ),
    (
        "dem-without-crs",
        lambda make, tmp: (
            write_raster(tmp / "d" / "terrain" / "dem.tif", slope(), crs=None)
            or make(root=tmp / "d", dem=False)
        ),
        "the DEM has no CRS",
        ("dem.tif",),
    ),
    (
        "dem-undeclared-nodata",
        lambda make, tmp: (
            write_raster(
                tmp / "d" / "terrain" / "dem.tif",
                np.where(slope() > 1500, -32768.0, slope()),
                nodata=None,
            )
            or make(root=tmp / "d", dem=False)
        ),
        "implausible heights",
        ("dem.tif", "is nodata declared?"),
    ),
    (
        "dem-in-feet",
        lambda make, tmp: (
            write_raster(tmp / "d" / "terrain" / "dem.tif", slope() / 0.3048)
            or make(root=tmp / "d", dem=False)
        ),
        "the DEM looks like it is in feet",
        ("dem.tif", "Fansipan"),
    ),
    (
        "dem-vertical-offset",
        lambda make, tmp: (
            write_raster(tmp / "d" / "terrain" / "dem.tif", slope(800.0, 1100.0) - 1250.0)
            or make(root=tmp / "d", dem=False)
        ),
        "the vertical offset looks wrong",
        ("dem.tif",),
    ),
    (
        "dem-elsewhere",
        lambda make, tmp: (
            write_raster(tmp / "d" / "terrain" / "dem.tif", slope(), x0=526_400.0)
            or make(root=tmp / "d", dem=False)
        ),
        "the DEM does not cover the communes at all",
        ("dem.tif",),
    ),
]

ERROR_IDS = [case[0] for case in ERROR_CASES]


@pytest.mark.parametrize(("mutate", "stem", "parts"), [c[1:] for c in ERROR_CASES], ids=ERROR_IDS)
def test_bad_input_is_a_one_line_error(
    make_dataset: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Mutate,
    stem: str,
    parts: tuple[str, ...],
) -> None:
    root = mutate(make_dataset, tmp_path)
    with pytest.raises(CoverageError) as info:
        load_dataset(root)
    assert stem in str(info.value)
    assert "\n" not in str(info.value)
    assert_one_line_error(root, capsys, stem, *parts)


def test_unreadable_file_is_an_error(
    make_dataset: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = make_dataset()
    target = root / "electricity" / "village_power.csv"
    original = Path.read_bytes

    def locked(self: Path) -> bytes:
        if self == target:
            raise PermissionError(13, "Permission denied")
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", locked)
    assert_one_line_error(root, capsys, "permission denied", "village_power.csv")


# -------------------------------------------------------- documented warnings (row listed)


def _problems(root: Path) -> list[str]:
    return load_dataset(root).problems


def _valid_in_degrees_only(code: str) -> dict[str, Any]:
    """The village's box with a notch whose tip is 3e-10 degrees above the bottom edge.

    Valid in longitude/latitude; in UTM the edges stay straight between the
    reprojected vertices and the tip lands across the bottom edge.
    """
    x0, y0, x1, y1 = village_box(code)
    xm = (x0 + x1) / 2
    ring = [[x0, y0], [x1, y0], [x1, y1], [xm + 0.001, y1], [xm, y0 + 3e-10],
            [xm - 0.001, y1], [x0, y1], [x0, y0]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


def test_polygon_invalid_once_reprojected_is_repaired_and_reported(make_dataset):
    import geopandas as gpd
    from shapely.geometry import shape

    notch = _valid_in_degrees_only("V02")
    as_read = gpd.GeoSeries([shape(notch)], crs=4326)
    assert as_read.is_valid.all() and not as_read.to_crs(32648).is_valid.all()
    ds = load_dataset(make_dataset(villages=_villages_with(f1={"geometry": notch})))
    assert ds.villages.geometry.is_valid.all()
    assert len(ds.villages) == 6  # repaired, not dropped
    (note,) = [w for w in ds.warnings if "reprojected" in w]
    assert "villages.geojson: 1 polygon(s) invalid once reprojected to EPSG:32648" in note
    assert "repaired: village V02 (Self-intersection" in note
    # and the analysis runs on it (overlays, unions and areas need valid polygons)
    assert ds.villages.geometry.union_all().is_valid


def test_self_intersecting_polygon_is_repaired_and_reported(make_dataset):
    x0, y0, x1, y1 = village_box("V02")
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]],
    }
    ds = load_dataset(make_dataset(villages=_villages_with(f1={"geometry": bowtie})))
    assert ds.villages.geometry.is_valid.all()
    assert any("feature 2: invalid polygon" in w and "repaired" in w for w in ds.warnings)


def test_overlapping_villages_are_reported(make_dataset):
    x0, y0, x1, y1 = village_box("V02")
    wide = box(x0 - 0.003, y0, x1, y1)  # reaches into V01
    problems = _problems(make_dataset(villages=_villages_with(f1={"geometry": wide})))
    assert any("villages overlap" in p and "V01/V02" in p for p in problems)


def test_village_outside_every_commune_is_reported(make_dataset):
    far = box(103.50, 21.94, 103.51, 21.95)  # ~15 km east of the communes
    problems = _problems(make_dataset(villages=_villages_with(f5={"geometry": far})))
    assert any("outside every commune: V06" in p for p in problems)


def test_village_in_another_commune_is_reported(make_dataset):
    problems = _problems(make_dataset(villages=_villages_with(f0={"commune_code": "C02"})))
    assert any("outside the commune their commune_code names: V01" in p for p in problems)


def test_tower_far_from_the_communes_is_kept_and_reported(make_dataset):
    far = {**default_sites()[1], "site_id": "FAR", "lon": 105.8, "lat": 21.0}  # Hà Nội
    ds = load_dataset(make_dataset(sites=[default_sites()[0], far]))
    assert "FAR" in set(ds.sites["site_id"])
    assert any("sites.csv: 1 row(s) (2) lie more than" in p for p in ds.problems)


def test_dem_with_holes_is_reported(make_dataset, tmp_path):
    z = slope()
    z[60:140, 60:140] = -9999.0
    write_raster(tmp_path / "d" / "terrain" / "dem.tif", z)
    problems = _problems(make_dataset(root=tmp_path / "d", dem=False))
    assert any("of the communes' area is nodata (holes" in p for p in problems)


def test_dem_covering_part_of_the_area_is_reported(make_dataset, tmp_path):
    write_raster(tmp_path / "d" / "terrain" / "dem.tif", slope(n=100), x0=328_400.0)
    problems = _problems(make_dataset(root=tmp_path / "d", dem=False))
    assert any("the DEM covers only" in p for p in problems)


def test_dem_in_feet_by_its_metadata_is_converted(make_dataset, tmp_path):
    write_raster(tmp_path / "d" / "terrain" / "dem.tif", slope() / 0.3048, unit="ft")
    problems = _problems(make_dataset(root=tmp_path / "d", dem=False))
    assert any("heights are in feet (band unit metadata); converted" in p for p in problems)
    from covgap.data.terrain import read_dem

    z, _, _ = read_dem(tmp_path / "d" / "terrain" / "dem.tif")
    assert float(np.nanmax(z)) == pytest.approx(1900.0, abs=0.5)


def test_missing_dem_is_a_warning(make_dataset):
    ds = load_dataset(make_dataset(dem=False))
    assert ds.dem_path is None
    assert any("terrain/dem.tif: absent" in p for p in ds.problems)


def test_towers_outside_the_dem_are_reported(make_dataset, tmp_path):
    from covgap.analysis import analyse

    far = {**default_sites()[1], "site_id": "OUT", "lon": 103.6, "lat": 21.9}
    data = make_dataset(cells=None, sites=[default_sites()[0], far])
    analysis = analyse(data)
    assert any("does not contain 1 site(s) (OUT)" in w for w in analysis.warnings)


def test_unmodelled_radios_are_reported_with_rows(make_dataset):
    cells = [*default_cells(), {**default_cells()[0], "radio": "CDMA", "cell": 99}]
    ds = load_dataset(make_dataset(cells=cells))
    assert any("radio 'CDMA' (rows 10)" in w for w in ds.warnings)


# --------------------------------------------------------------------- accepted inputs


def test_shapefile_and_zip_instead_of_geojson_are_read(make_dataset, tmp_path):
    import geopandas as gpd

    root = make_dataset()
    for name in ("communes", "villages"):
        path = root / "boundaries" / f"{name}.geojson"
        gdf = gpd.read_file(path)
        path.unlink()
        with warnings.catch_warnings():  # dBASE truncates commune_code -> commune_co
            warnings.simplefilter("ignore")
            gdf.to_file(tmp_path / f"{name}.shp")
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        (tmp_path / f"communes.{ext}").replace(root / "boundaries" / f"communes.{ext}")
    with zipfile.ZipFile(root / "boundaries" / "villages.zip", "w") as archive:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            archive.write(tmp_path / f"villages.{ext}", f"villages.{ext}")
    ds = load_dataset(root)
    assert sorted(ds.villages["village_code"]) == list(VILLAGE_NAMES)
    assert set(ds.villages["commune_code"]) == set(COMMUNE_NAMES)
    assert any("reading boundaries/communes.shp instead" in w for w in ds.warnings)
    assert any("reading boundaries/villages.zip instead" in w for w in ds.warnings)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_encodings_and_separators(make_dataset, encoding, sep):
    ds = load_dataset(make_dataset(encoding=encoding, sep=sep, nfd=True))
    gaps = find_gaps(ds)
    assert gaps.uncovered == ["V02", "V03", "V05"]
    assert gaps.unpowered == ["V03", "V06"]
    assert ds.problems == []


def test_utf16_without_bom_and_excel_sep_line(make_dataset):
    text = "sep=;\n" + csv_text(default_power(), ";")
    ds = load_dataset(make_dataset(power=text.encode("utf-16-le")))
    assert sorted(ds.power["village_code"]) == list(VILLAGE_NAMES)


def test_semicolons_and_decimal_commas_as_vietnamese_excel_writes_them(make_dataset):
    sites = "site_id;operator;lon;lat;height_m\nS1;Viettel;103,3451;21,9551;30,5\n"
    power = "village_code;grid_power;households_unpowered\nV03;không;1 234,0\n"
    ds = load_dataset(make_dataset(sites=sites.encode("utf-8-sig"), power=power))
    site = ds.sites.set_index("site_id").loc["S1"]
    assert site["height_m"] == 30.5
    assert ds.power.set_index("village_code").loc["V03", "households_unpowered"] == 1234.0


NAME_VARIANTS = [
    ("Bản Huổi Só", "Xã Tả Phìn"),
    ("BẢN HUỔI SÓ", "XÃ TẢ PHÌN"),
    ("huổi só", "tả phìn"),
    ("  Huổi   Só ", " Tả  Phìn "),
    ("Thôn Huoi So", "Xa Ta Phin"),
    ("Tổ dân phố Huổi-Só", "Ta Phin"),
    (unicodedata.normalize("NFD", "Bản Huổi Só"), unicodedata.normalize("NFD", "Xã Tả Phìn")),
]


@pytest.mark.parametrize(("village", "commune"), NAME_VARIANTS)
def test_name_spellings_match(make_dataset, village, commune):
    power = [{"village_name": village, "commune_name": commune, "grid_power": "có"}]
    ds = load_dataset(make_dataset(power=power))
    assert list(ds.power["village_code"]) == ["V01"]
    assert ds.unmatched_rows == []


def test_vn2000_data_and_disagreeing_crss(make_dataset):
    """Communes in VN-2000 / UTM 48N, villages in WGS 84: both end up in place."""
    root = make_dataset()
    write_geojson(
        root / "boundaries" / "communes.geojson",
        reproject_features(default_communes(), "EPSG:3405"),
        crs="EPSG:3405",
    )
    ds = load_dataset(root)
    assert ds.problems == []
    shares = ds.villages.geometry.intersection(ds.communes.geometry.union_all()).area
    assert (shares / ds.villages.geometry.area > 0.95).all()


def test_vn2000_tm3_from_dataset_toml(make_dataset):
    ds = load_dataset(
        make_dataset(vector_crs="EPSG:9205", declare_crs=False, toml='crs = "EPSG:9205"\n')
    )
    assert len(ds.villages) == 6 and ds.problems == []


# ----------------------------------------------------------------------- nothing lost


def test_every_status_row_is_matched_or_reported(make_dataset):
    power = [
        *default_power(),
        {"village_code": "V99", "grid_power": "có"},  # unknown code
        {"village_code": "V02", "grid_power": "không"},  # duplicate
        {"village_name": "Bản Không Có", "commune_name": "Xã Tả Phìn", "grid_power": "có"},
        {"village_name": "Huổi Só", "commune_name": "Xã Nowhere", "grid_power": "có"},
    ]
    del power[4]  # V05 has no row
    survey = [r for r in default_survey() if r["village_code"] != "V01"]
    survey.append({"village_code": "", "mobile_signal": "yes"})
    ds = load_dataset(make_dataset(power=power, survey=survey))
    for table, rows, file in (
        ("power", power, "electricity/village_power.csv"),
        ("survey", survey, "survey/village_signal.csv"),
    ):
        frame = ds.power if table == "power" else ds.survey
        unmatched = [u for u in ds.unmatched_rows if u["file"] == file]
        assert len(frame) + len(unmatched) == len(rows)
        assert sorted([*frame["row"], *(u["row"] for u in unmatched)]) == list(
            range(1, len(rows) + 1)
        )
        assert len(frame) + len(ds.missing_status[table]) == len(ds.villages)
    assert ds.missing_status == {"power": ["V05"], "survey": ["V01"]}
    gaps = find_gaps(ds)
    assert len(gaps.villages) == len(ds.villages) == 6


def test_every_cell_is_counted_in_a_site_or_reported(make_dataset):
    cells = [
        *default_cells(),
        {**default_cells()[0], "radio": "CDMA", "cell": 50},  # not modelled, reported
        {**default_cells()[0], "net": 5, "cell": 51},  # other network, kept
    ]
    ds = load_dataset(make_dataset(cells=cells))
    ignored = 0
    for warning in ds.warnings:
        match = re.search(r"(\d+) cells with radio .* are not modelled", warning)
        if match:
            ignored += int(match.group(1))
    assert ignored == 1
    assert int(ds.sites["n_cells"].sum()) + ignored == len(cells) == len(ds.cells)


# ------------------------------------------------------------ CLI: plans and injection


INJECTION = {
    "V01": '=HYPERLINK("http://evil.example","click")',
    "V02": "+cmd|' /C calc'!A0",
    "V03": '<img src=x onerror="alert(1)">',
}


def test_formula_and_html_in_names_do_not_execute(make_dataset, tmp_path, capsys):
    villages = default_villages()
    for f in villages:
        code = f["properties"]["village_code"]
        if code in INJECTION:
            f["properties"]["village_name"] = INJECTION[code]
    survey = [{**r, "mobile_signal": "no"} for r in default_survey()]
    data = make_dataset(villages=villages, survey=survey)
    out = tmp_path / "out"
    code, _, err = cli(["-q", "run", "--data", str(data), "--out", str(out), "--no-model"], capsys)
    assert code == 0, err
    import csv

    for name in ("villages.csv", "uncovered.csv"):
        rows = list(csv.DictReader((out / name).read_text(encoding="utf-8-sig").splitlines()))
        names = {r["village_code"]: r["village_name"] for r in rows}
        assert names["V01"] == "'" + INJECTION["V01"]
        assert names["V02"] == "'" + INJECTION["V02"]
        for value in (v for r in rows for v in r.values()):
            assert value[:1] not in ("=", "+", "@") or value[1:2].isdigit()
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "<img src=x" not in html
    assert "HYPERLINK" in html  # the name is shown, as text


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code, out, err = cli(argv, capsys)
    assert "Traceback" not in err
    if code != 0:
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(lines) == 1, err
    return code, out, err


def test_run_without_towers(make_dataset, tmp_path, capsys):
    data = make_dataset(cells=None, sites="site_id,operator,lon,lat\n")
    code, out, err = _run(["run", "--data", str(data), "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "villages: 6" in out
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert any("no tower sites" in w for w in summary["warnings"])


def test_sites_without_towers_is_a_clear_error(make_dataset, tmp_path, capsys):
    data = make_dataset(cells=None, sites="site_id,operator,lon,lat\n")
    code, _, err = _run(["sites", "--data", str(data), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "existing sites" in err


def test_run_without_uncovered_villages(make_dataset, tmp_path, capsys):
    survey = [{**r, "mobile_signal": "yes"} for r in default_survey()]
    data = make_dataset(survey=survey)
    code, out, err = _run(["sites", "--data", str(data), "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "0 sites" in out


def test_budget_below_the_cheapest_site(make_dataset, tmp_path, capsys):
    data = make_dataset()
    argv = ["sites", "--data", str(data), "--out", str(tmp_path / "o"), "--budget", "1000"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "0 sites" in out


def test_k_larger_than_the_candidates(make_dataset, tmp_path, capsys):
    data = make_dataset()
    argv = ["sites", "--data", str(data), "--out", str(tmp_path / "o"), "--sites", "500"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "3 of 3 uncovered villages gained" in out


def test_negative_k_is_a_one_line_error(make_dataset, tmp_path, capsys):
    data = make_dataset()
    argv = ["sites", "--data", str(data), "--out", str(tmp_path / "o"), "--sites", "-3"]
    with pytest.raises(SystemExit) as exc:  # argparse rejects it before any work is done
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert err == [
        "error: covgap sites: argument --sites: must be >= 0 and <= 1e+06, got '-3' "
        "(see covgap sites --help)"
    ]


# ------------------------------------------------------------------- troubleshooting


def test_every_error_message_is_in_troubleshooting():
    text = DOCS.read_text(encoding="utf-8")
    stems = {stem for _, _, stem, _ in ERROR_CASES} | {
        "permission denied",
        "invalid polygon",
        "villages overlap",
        "outside every commune",
        "outside the commune their commune_code names",
        "lie more than",
        "is nodata (holes",
        "the DEM covers only",
        "heights are in feet",
        "terrain/dem.tif: absent",
        "does not contain",
        "are not modelled",
        "reading boundaries/communes.shp instead",
        "unknown village_code",
        "duplicate status for village",
        "no status row for",
    }
    missing = sorted(s for s in stems if s not in text)
    assert not missing, f"docs/troubleshooting.md lacks: {missing}"


def test_troubleshooting_is_not_trivially_satisfied():
    # Each entry has a cause and a fix.
    text = DOCS.read_text(encoding="utf-8")
    assert text.count("**Cause.**") >= 30
    assert text.count("**Cause.**") == text.count("**Fix.**")


def test_row_error_keeps_its_location_attributes(make_dataset):
    rows = default_power()
    rows[1]["grid_power"] = "perhaps"
    with pytest.raises(DatasetError) as info:
        load_dataset(make_dataset(power=rows))
    assert (info.value.row, info.value.column) == (2, "grid_power")
    assert info.value.path is not None and info.value.path.name == "village_power.csv"
