import json
import math
import unicodedata
from pathlib import Path

import pytest

from conftest import to_cp1258
from covgap.data.readers import (
    POLYGON_TYPES,
    parse_code,
    parse_number,
    parse_yes_no,
    read_table,
    read_vector,
)
from covgap.errors import (
    CRSError,
    DatasetError,
    DatasetNotFoundError,
    EncodingError,
    GeometryError,
    MissingColumnError,
    ValueParseError,
)

TEXT = "village_code,village_name,grid_power\nV01,Bản Huổi Só,có\nV02,Tủa Thàng,không\n"


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: t.encode("utf-8-sig"),
        lambda t: t.encode("utf-16"),
        to_cp1258,
        lambda t: unicodedata.normalize("NFD", t).encode("utf-8"),
    ],
    ids=["utf8", "utf8-bom", "utf16", "cp1258", "utf8-nfd"],
)
def test_read_table_encodings_give_nfc_strings(tmp_path, encode):
    path = tmp_path / "t.csv"
    path.write_bytes(encode(TEXT))
    df = read_table(path, required=["village_code", "village_name", "grid_power"])
    assert list(df.columns) == ["village_code", "village_name", "grid_power"]
    assert df.loc[1, "village_name"] == "Bản Huổi Só"
    assert unicodedata.is_normalized("NFC", df.loc[2, "village_name"])
    assert df.loc[2, "grid_power"] == "không"
    assert list(df.index) == [1, 2]


def test_cp1258_really_uses_combining_marks():
    # The test encoder must produce genuine Windows-1258 (not decodable as UTF-8).
    data = to_cp1258("Tủa Chùa")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("cp1258") != "Tủa Chùa"  # decomposed tone marks
    assert unicodedata.normalize("NFC", data.decode("cp1258")) == "Tủa Chùa"


def test_semicolon_separator_and_decimal_comma(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("village_code;households_unpowered\nV01;12,5\n", encoding="utf-8")
    df = read_table(path, required=["village_code"], optional=["households_unpowered"])
    value = parse_number(df.loc[1, "households_unpowered"], path=path, row=1, column="x")
    assert value == 12.5


def test_header_matched_ignoring_case_and_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(" Village_Code , GRID_POWER \nV01,yes\n", encoding="utf-8")
    df = read_table(path, required=["village_code", "grid_power"])
    assert df.loc[1, "grid_power"] == "yes"


def test_missing_column_names_file_and_suggests(tmp_path):
    path = tmp_path / "power.csv"
    path.write_text("village_code,grid_powr\nV01,yes\n", encoding="utf-8")
    with pytest.raises(MissingColumnError) as info:
        read_table(path, required=["village_code", "grid_power"])
    message = str(info.value)
    assert "power.csv" in message
    assert "'grid_power'" in message
    assert "did you mean 'grid_powr'" in message
    assert info.value.column == "grid_power"


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty.csv: the file is empty"):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"nothere.csv"):
        read_table(tmp_path / "nothere.csv")


def test_undecodable_file_is_an_encoding_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n\x81\x8d,1\n")
    with pytest.raises(EncodingError, match=r"bad.csv: cannot decode"):
        read_table(path)


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n\n3,4\n", encoding="utf-8")
    df = read_table(path, required=["a", "b"])
    assert list(df.index) == [1, 3]
    assert df.loc[3, "a"] == "3"


def test_extra_cells_are_an_error_with_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"t.csv: row 2: 3 cells but the header has 2"):
        read_table(path)


def test_trailing_empty_cells_and_short_rows_are_fine(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2,,\n3\n", encoding="utf-8")
    df = read_table(path, required=["a", "b"])
    assert df.loc[2, "b"] == ""


def test_duplicate_header_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,A\n1,2\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"more than once"):
        read_table(path)


def test_headerless_file_with_names(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,2\n3,4\n", encoding="utf-8")
    df = read_table(path, required=["x"], names=["x", "y"])
    assert list(df["x"]) == ["1", "3"]
    assert list(df.index) == [1, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12.0), ("12,5", 12.5), ("1.234,5", 1234.5), ("1,234.5", 1234.5), ("2 539", 2539.0),
     (7, 7.0), ("", None)],
)  # fmt: skip
def test_parse_number(text, expected):
    value = parse_number(text, path="f.csv", row=1, column="x")
    if expected is None:
        assert math.isnan(value)
    else:
        assert value == expected


def test_parse_number_errors_name_row_and_column():
    with pytest.raises(ValueParseError) as info:
        parse_number("abc", path="f.csv", row=4, column="households")
    assert str(info.value) == "f.csv: row 4, column 'households': expected a number, got 'abc'"
    with pytest.raises(ValueParseError, match=r">= 0"):
        parse_number("-1", path="f.csv", row=1, column="x", minimum=0)
    with pytest.raises(ValueParseError, match=r"whole number"):
        parse_number("1.5", path="f.csv", row=1, column="x", integer=True)
    with pytest.raises(ValueParseError, match=r"blank"):
        parse_number("", path="f.csv", row=1, column="x", blank=None)


def test_parse_yes_no():
    assert parse_yes_no("CÓ", path="f", row=1, column="c") is True
    assert parse_yes_no("Khong", path="f", row=1, column="c") is False
    assert parse_yes_no("", path="f", row=1, column="c") is None
    with pytest.raises(ValueParseError, match=r"f.csv: row 3, column 'c': expected yes/no"):
        parse_yes_no("maybe", path="f.csv", row=3, column="c")


def test_parse_code():
    assert parse_code(3021301.0) == "3021301"
    assert parse_code("  V01 ") == "V01"
    assert parse_code(None) == ""


# ----------------------------------------------------------------------- vectors


def write(path: Path, features, crs=None) -> Path:
    doc = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def square(x0=103.33, y0=21.94, d=0.01):
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x0 + d, y0], [x0 + d, y0 + d], [x0, y0 + d], [x0, y0]]],
    }


def feat(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_read_vector_defaults_to_wgs84_and_numbers_features(tmp_path):
    path = write(tmp_path / "a.geojson", [feat(square(), code="A"), feat(square(103.35), code="B")])
    gdf = read_vector(path, POLYGON_TYPES, required=["code"])
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.index) == [1, 2]
    assert list(gdf["code"]) == ["A", "B"]


def test_read_vector_honours_declared_crs(tmp_path):
    poly = {
        "type": "Polygon",
        "coordinates": [[[5e5, 2.4e6], [5.01e5, 2.4e6], [5e5, 2.401e6], [5e5, 2.4e6]]],
    }
    path = write(tmp_path / "a.geojson", [feat(poly)], crs="urn:ogc:def:crs:EPSG::3405")
    assert read_vector(path).crs.to_epsg() == 3405


def test_read_vector_uses_default_crs_when_file_has_none(tmp_path):
    poly = {
        "type": "Polygon",
        "coordinates": [[[5e5, 2.4e6], [5.01e5, 2.4e6], [5e5, 2.401e6], [5e5, 2.4e6]]],
    }
    path = write(tmp_path / "a.geojson", [feat(poly)])
    assert read_vector(path, default_crs="EPSG:3405").crs.to_epsg() == 3405
    with pytest.raises(CRSError, match=r"not longitude/latitude degrees"):
        read_vector(path)


def test_degree_coordinates_under_projected_default_warn(tmp_path):
    path = write(tmp_path / "a.geojson", [feat(square())])
    notes: list[str] = []
    read_vector(path, default_crs="EPSG:32648", notes=notes)
    assert len(notes) == 1
    assert "look like degrees" in notes[0]


def test_unknown_crs_member(tmp_path):
    path = write(tmp_path / "a.geojson", [feat(square())], crs="EPSG:999999")
    with pytest.raises(CRSError, match=r"crs member"):
        read_vector(path)


def test_null_geometry_names_feature(tmp_path):
    path = write(tmp_path / "a.geojson", [feat(square()), feat(None)])
    with pytest.raises(GeometryError, match=r"a.geojson: row 2: the feature has no geometry"):
        read_vector(path)


def test_empty_geometry_names_feature(tmp_path):
    path = write(tmp_path / "a.geojson", [feat({"type": "Polygon", "coordinates": []})])
    with pytest.raises(GeometryError, match=r"a.geojson: row 1: the geometry is empty"):
        read_vector(path)


def test_wrong_geometry_type_names_feature(tmp_path):
    point = {"type": "Point", "coordinates": [103.3, 21.9]}
    path = write(tmp_path / "a.geojson", [feat(square()), feat(square()), feat(point)])
    with pytest.raises(GeometryError, match=r"row 3: expected Polygon or MultiPolygon, got Point"):
        read_vector(path, POLYGON_TYPES)


def test_invalid_polygon_is_repaired_with_a_warning(tmp_path):
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[103.30, 21.90], [103.32, 21.92], [103.32, 21.90], [103.30, 21.92],
                         [103.30, 21.90]]],
    }  # fmt: skip
    path = write(tmp_path / "a.geojson", [feat(bowtie)])
    notes: list[str] = []
    gdf = read_vector(path, notes=notes)
    assert gdf.geometry.iloc[0].is_valid
    assert gdf.geometry.iloc[0].geom_type in POLYGON_TYPES
    assert gdf.geometry.iloc[0].area > 0
    assert len(notes) == 1
    assert "feature 1: invalid polygon" in notes[0]


def test_missing_property(tmp_path):
    path = write(tmp_path / "a.geojson", [feat(square(), commune_cod="A")])
    with pytest.raises(MissingColumnError, match=r"did you mean 'commune_cod'"):
        read_vector(path, required=["commune_code"])


def test_not_json(tmp_path):
    path = tmp_path / "a.geojson"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"a.geojson: not valid JSON"):
        read_vector(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"empty"):
        read_vector(path)


# -- the stages of read_vector on their own -------------------------------------------


def test_check_geometries_repairs_and_names_the_bad_feature() -> None:
    import shapely

    from covgap.data.readers import _check_geometries
    from covgap.errors import GeometryError

    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    square = shapely.box(0, 0, 1, 1)
    notes: list[str] = []
    fixed = _check_geometries([square, bowtie], ("Polygon", "MultiPolygon"), Path("v.geojson"),
                              notes.append)  # fmt: skip
    assert fixed[0] is square and fixed[1].is_valid and fixed[1].area == pytest.approx(0.5)
    assert notes == ["v.geojson: feature 2: invalid polygon (Self-intersection[0.5 0.5]) repaired"]
    with pytest.raises(GeometryError, match="expected Polygon, got Point") as err:
        _check_geometries([square, shapely.Point(0, 0)], ("Polygon",), Path("v.geojson"), print)
    assert err.value.row == 2
    with pytest.raises(GeometryError, match="no geometry"):
        _check_geometries([None], ("Polygon",), Path("v.geojson"), print)


def test_resolve_crs_honours_the_declared_one_and_checks_the_coordinates() -> None:
    from pyproj import CRS

    from covgap.data.readers import _resolve_crs
    from covgap.errors import CRSError

    path, utm = Path("v.geojson"), CRS.from_epsg(32648)
    degrees, metres = (103.3, 21.9, 103.5, 22.0), (480_000.0, 2_420_000.0, 500_000.0, 2_440_000.0)
    notes: list[str] = []
    assert _resolve_crs(None, degrees, None, path, notes.append) == CRS.from_epsg(4326)
    assert _resolve_crs(None, metres, 32648, path, notes.append) == utm
    assert _resolve_crs(utm, None, None, path, notes.append) == utm  # empty layer
    assert notes == []
    assert _resolve_crs(None, degrees, "EPSG:32648", path, notes.append) == utm
    assert "coordinates look like degrees" in notes[0]
    with pytest.raises(CRSError, match="look like longitude/latitude degrees"):
        _resolve_crs(utm, degrees, None, path, notes.append)
    with pytest.raises(CRSError, match="EPSG:32648 for WGS 84 / UTM 48N"):
        _resolve_crs(None, metres, None, path, notes.append)
    with pytest.raises(CRSError, match="lat and lon look swapped"):
        _resolve_crs(None, (21.9, 103.3, 22.0, 103.5), None, path, notes.append)
    with pytest.raises(CRSError, match="unknown CRS"):
        _resolve_crs(None, degrees, "EPSG:999999", path, notes.append)
