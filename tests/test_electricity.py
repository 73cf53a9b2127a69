import pandas as pd
import pytest

from conftest import default_grid, feature, write_geojson
from covgap.data.electricity import read_grid, read_power
from covgap.errors import GeometryError, MissingColumnError, ValueParseError


def write(tmp_path, text, name="village_power.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_grid_power_words(tmp_path):
    text = "village_code,grid_power\n" + "\n".join(
        f"V{i},{w}"
        for i, w in enumerate(["yes", "No", "TRUE", "false", "1", "0", "Có", "KHÔNG", "khong", ""])
    )
    table = read_power(write(tmp_path, text))
    assert table.values["grid_power"].dtype == "boolean"
    assert table.values["grid_power"].tolist() == [
        True, False, True, False, True, False, True, False, False, pd.NA,
    ]  # fmt: skip
    assert table.file == "electricity/village_power.csv"
    assert table.name == "power"


def test_bad_grid_power_names_row_and_column(tmp_path):
    path = write(tmp_path, "village_code,grid_power\nV1,yes\nV2,yes\nV3,maybe\n")
    with pytest.raises(ValueParseError) as info:
        read_power(path)
    assert str(info.value).startswith(f"{path}: row 3, column 'grid_power': expected yes/no")


def test_households_unpowered(tmp_path):
    table = read_power(
        write(tmp_path, "village_code;grid_power;households_unpowered\nV1;no;12\nV2;yes;\n")
    )
    assert table.values["households_unpowered"].iloc[0] == 12
    assert pd.isna(table.values["households_unpowered"].iloc[1])
    with pytest.raises(ValueParseError, match=r"row 1, column 'households_unpowered'"):
        read_power(write(tmp_path, "village_code,grid_power,households_unpowered\nV1,no,x\n"))


def test_missing_grid_power(tmp_path):
    with pytest.raises(MissingColumnError, match=r"village_power.csv: column 'grid_power'"):
        read_power(write(tmp_path, "village_code,power\nV1,yes\n"))


def test_needs_a_way_to_name_villages(tmp_path):
    with pytest.raises(MissingColumnError, match=r"'village_code' \(or 'village_name'"):
        read_power(write(tmp_path, "name,grid_power\nV1,yes\n"))
    with pytest.raises(MissingColumnError, match=r"column 'commune_name'"):
        read_power(write(tmp_path, "village_name,grid_power\nV1,yes\n"))
    table = read_power(write(tmp_path, "village_name,commune_name,grid_power\nA,B,yes\n"))
    assert table.raw.loc[1, "village_name"] == "A"


def test_grid(tmp_path):
    path = tmp_path / "grid.geojson"
    write_geojson(path, default_grid())
    grid = read_grid(path)
    assert list(grid["voltage_kv"]) == [35.0]
    assert grid.geom_type.iloc[0] == "LineString"


def test_grid_rejects_polygons(tmp_path):
    path = tmp_path / "grid.geojson"
    polygon = {
        "type": "Polygon",
        "coordinates": [[[103.3, 21.9], [103.31, 21.9], [103.3, 21.91], [103.3, 21.9]]],
    }
    write_geojson(path, [*default_grid(), feature(polygon)])
    with pytest.raises(GeometryError, match=r"row 2: expected LineString or MultiLineString"):
        read_grid(path)


def test_grid_bad_voltage(tmp_path):
    path = tmp_path / "grid.geojson"
    lines = default_grid()
    lines[0]["properties"]["voltage_kv"] = "35kV"
    write_geojson(path, lines)
    with pytest.raises(ValueParseError, match=r"row 1, column 'voltage_kv'"):
        read_grid(path)
