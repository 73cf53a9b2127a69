import unicodedata

import pytest

from conftest import (
    default_communes,
    default_settlements,
    default_villages,
    write_geojson,
)
from covgap.data.boundaries import (
    load_communes,
    load_settlements,
    load_villages,
    representative_settlements,
)
from covgap.errors import DatasetError, GeometryError, MissingColumnError, ValueParseError


@pytest.fixture
def files(tmp_path):
    def make(name, features, **kwargs):
        path = tmp_path / name
        write_geojson(path, features, **kwargs)
        return path

    return make


@pytest.fixture
def communes(files):
    return load_communes(files("communes.geojson", default_communes()))


def test_communes_load(communes):
    assert list(communes["commune_code"]) == ["C01", "C02"]
    assert list(communes["commune_name"]) == ["Xã Tả Phìn", "Xã Sính Phình"]
    assert list(communes["population"]) == [1000.0, 1500.0]


def test_names_are_nfc(files):
    communes = load_communes(files("c.geojson", default_communes(), nfd=True))
    name = communes["commune_name"].iloc[0]
    assert name == "Xã Tả Phìn"
    assert unicodedata.is_normalized("NFC", name)


def test_numeric_codes_become_text(files):
    features = default_communes()
    features[0]["properties"]["commune_code"] = 3021301
    communes = load_communes(files("c.geojson", features))
    assert communes["commune_code"].iloc[0] == "3021301"


def test_population_optional_and_decimal_comma(files):
    features = default_communes()
    del features[0]["properties"]["population"]
    features[1]["properties"]["population"] = "1.234,0"
    communes = load_communes(files("c.geojson", features))
    assert communes["population"].isna().iloc[0]
    assert communes["population"].iloc[1] == 1234.0


def test_bad_population(files):
    features = default_communes()
    features[1]["properties"]["population"] = "many"
    with pytest.raises(
        ValueParseError, match=r"c.geojson: row 2, column 'population': expected a number"
    ):
        load_communes(files("c.geojson", features))


def test_missing_commune_name(files):
    features = default_communes()
    for f in features:
        f["properties"]["name"] = f["properties"].pop("commune_name")
    with pytest.raises(MissingColumnError, match="'commune_name'"):
        load_communes(files("c.geojson", features))


def test_duplicate_commune_code(files):
    features = default_communes()
    features[1]["properties"]["commune_code"] = "C01"
    with pytest.raises(DatasetError, match=r"row 2, column 'commune_code': duplicate .*feature 1"):
        load_communes(files("c.geojson", features))


def test_villages_load(files, communes):
    villages = load_villages(files("v.geojson", default_villages()), communes)
    assert len(villages) == 6
    assert villages["households"].sum() == 265
    assert set(villages["commune_code"]) == {"C01", "C02"}


def test_duplicate_village_code_names_both_features(files, communes):
    features = default_villages()
    features[4]["properties"]["village_code"] = "V02"
    with pytest.raises(DatasetError) as info:
        load_villages(files("v.geojson", features), communes)
    message = str(info.value)
    assert "v.geojson: row 5, column 'village_code'" in message
    assert "duplicate village_code 'V02' (also in feature 2)" in message


def test_village_with_unknown_commune(files, communes):
    features = default_villages()
    features[2]["properties"]["commune_code"] = "C99"
    with pytest.raises(
        DatasetError, match=r"row 3, column 'commune_code': unknown commune_code 'C99'"
    ):
        load_villages(files("v.geojson", features), communes)


def test_blank_village_name(files, communes):
    features = default_villages()
    features[0]["properties"]["village_name"] = "  "
    with pytest.raises(DatasetError, match=r"row 1, column 'village_name': empty value"):
        load_villages(files("v.geojson", features), communes)


def test_negative_households(files, communes):
    features = default_villages()
    features[0]["properties"]["households"] = -3
    with pytest.raises(ValueParseError, match=r"row 1, column 'households': expected a value >= 0"):
        load_villages(files("v.geojson", features), communes)


def test_village_points_are_rejected(files, communes):
    features = default_villages()
    features[1]["geometry"] = {"type": "Point", "coordinates": [103.34, 21.95]}
    with pytest.raises(GeometryError, match="row 2: expected Polygon or MultiPolygon"):
        load_villages(files("v.geojson", features), communes)


@pytest.fixture
def villages(files, communes):
    return load_villages(files("v.geojson", default_villages()), communes)


def test_settlements_load(files, villages):
    notes: list[str] = []
    settlements = load_settlements(files("s.geojson", default_settlements()), villages, notes=notes)
    assert len(settlements) == 8
    assert settlements.groupby("village_code")["households"].sum().to_dict() == {
        "V01": 40, "V02": 55, "V03": 30, "V04": 80, "V05": 25, "V06": 35,
    }  # fmt: skip
    assert notes == []


def test_settlement_of_unknown_village(files, villages):
    features = default_settlements()
    features[3]["properties"]["village_code"] = "V77"
    with pytest.raises(DatasetError, match=r"s.geojson: row 4, column 'village_code': unknown"):
        load_settlements(files("s.geojson", features), villages)


def test_settlement_households_must_be_numbers(files, villages):
    features = default_settlements()
    features[0]["properties"]["households"] = "ba mươi"
    with pytest.raises(ValueParseError, match=r"row 1, column 'households': expected a number"):
        load_settlements(files("s.geojson", features), villages)
    features[0]["properties"]["households"] = None
    with pytest.raises(ValueParseError, match=r"row 1, column 'households'"):
        load_settlements(files("s.geojson", features), villages)


def test_villages_without_settlement_get_a_representative_point(files, villages):
    features = [f for f in default_settlements() if f["properties"]["village_code"] != "V06"]
    notes: list[str] = []
    settlements = load_settlements(files("s.geojson", features), villages, notes=notes)
    v06 = settlements[settlements["village_code"] == "V06"]
    assert len(v06) == 1
    assert v06["households"].iloc[0] == 35
    assert villages.geometry.iloc[5].contains(v06.geometry.iloc[0])
    assert "V06" in notes[0]


def test_representative_settlements(villages):
    points = representative_settlements(villages)
    assert list(points["village_code"]) == list(villages["village_code"])
    assert list(points["households"]) == list(villages["households"])
    for point, polygon in zip(points.geometry, villages.geometry, strict=True):
        assert polygon.contains(point)
