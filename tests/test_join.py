import unicodedata

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from covgap.data.join import StatusTable, join_status


@pytest.fixture
def communes():
    return gpd.GeoDataFrame(
        {"commune_code": ["C01", "C02"], "commune_name": ["Xã Tả Phìn", "Xã Sính Phình"]},
        geometry=[Point(0, 0), Point(1, 1)],
    )


@pytest.fixture
def villages():
    return gpd.GeoDataFrame(
        {
            "village_code": ["V01", "V02", "V03", "V04", "V05"],
            "village_name": ["Bản Huổi Só", "Bản Tả Phìn", "Bản Đề Dê", "Bản Đề Dê", "Bản Páo"],
            "commune_code": ["C01", "C01", "C01", "C02", "C02"],
        },
        geometry=[Point(i, i) for i in range(5)],
    )


def table(rows):
    raw = pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1, name="row")).fillna("")
    values = pd.DataFrame(
        {"grid_power": pd.array([r.get("v") == "yes" for r in rows], dtype="boolean")},
        index=raw.index,
    )
    return StatusTable(name="power", file="electricity/village_power.csv", raw=raw, values=values)


def test_join_by_code(villages, communes):
    result = join_status(table([{"village_code": "V02", "v": "yes"}]), villages, communes)
    assert result.matched["village_code"].tolist() == ["V02"]
    assert result.matched["grid_power"].tolist() == [True]
    assert result.matched["row"].tolist() == [1]
    assert result.unmatched == []
    assert result.missing == ["V01", "V03", "V04", "V05"]


@pytest.mark.parametrize(
    "name",
    [
        "Bản Huổi Só",
        unicodedata.normalize("NFD", "Bản Huổi Só"),
        "BẢN HUỔI SÓ",
        "huoi so",
        "  Huổi   Só ",
    ],
)
@pytest.mark.parametrize(
    "commune", ["Xã Tả Phìn", "TA PHIN", unicodedata.normalize("NFD", "tả phìn")]
)
def test_join_by_name_within_commune(villages, communes, name, commune):
    rows = [{"village_name": name, "commune_name": commune, "v": "no"}]
    result = join_status(table(rows), villages, communes)
    assert result.unmatched == []
    assert result.matched["village_code"].tolist() == ["V01"]
    assert result.matched["grid_power"].tolist() == [False]


def test_same_name_in_two_communes_is_resolved_by_commune(villages, communes):
    rows = [
        {"village_name": "De De", "commune_name": "Sính Phình", "v": "yes"},
        {"village_name": "Đề Dê", "commune_code": "C01", "v": "no"},
    ]
    result = join_status(table(rows), villages, communes)
    assert result.matched["village_code"].tolist() == ["V04", "V03"]


def test_unknown_village_is_reported_with_values(villages, communes):
    rows = [
        {"village_code": "V01", "v": "yes"},
        {"village_name": "Bản Không Có", "commune_name": "Tả Phìn", "v": "yes"},
    ]
    result = join_status(table(rows), villages, communes)
    assert result.matched["village_code"].tolist() == ["V01"]
    assert len(result.unmatched) == 1
    entry = result.unmatched[0]
    assert entry["file"] == "electricity/village_power.csv"
    assert entry["row"] == 2
    assert "no village named 'Bản Không Có'" in entry["reason"]
    assert entry["values"]["village_name"] == "Bản Không Có"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"village_code": "V99"}, "unknown village_code 'V99'"),
        ({"village_name": "Huổi Só", "commune_name": "Nowhere"}, "unknown commune 'Nowhere'"),
        ({"village_name": "Huổi Só", "commune_code": "C9"}, "unknown commune_code 'C9'"),
        ({"village_name": "Huổi Só"}, "no commune"),
        ({"commune_name": "Tả Phìn"}, "no village_code and no village_name"),
    ],
)
def test_unmatched_reasons(villages, communes, row, reason):
    result = join_status(table([row]), villages, communes)
    assert result.matched.empty
    assert reason in result.unmatched[0]["reason"]
    assert result.unmatched[0]["row"] == 1


def test_ambiguous_name_is_reported(villages, communes):
    villages = villages.copy()
    villages.loc[1, "village_name"] = "Huổi Só"  # V02 now has V01's name key in C01
    rows = [{"village_name": "huoi so", "commune_name": "Tả Phìn", "v": "yes"}]
    result = join_status(table(rows), villages, communes)
    assert result.matched.empty
    assert "ambiguous" in result.unmatched[0]["reason"]
    assert "V01, V02" in result.unmatched[0]["reason"]


def test_ambiguous_commune_name_is_reported(villages, communes):
    communes = communes.copy()
    communes.loc[1, "commune_name"] = "Xã Tả Phìn"
    rows = [{"village_name": "Huổi Só", "commune_name": "Tả Phìn", "v": "yes"}]
    result = join_status(table(rows), villages, communes)
    assert "ambiguous" in result.unmatched[0]["reason"]


def test_duplicates_keep_the_first(villages, communes):
    rows = [
        {"village_code": "V01", "v": "yes"},
        {"village_name": "Huổi Só", "commune_name": "Tả Phìn", "v": "no"},
    ]
    result = join_status(table(rows), villages, communes)
    assert result.matched["grid_power"].tolist() == [True]
    assert result.unmatched[0]["row"] == 2
    assert (
        "duplicate status for village 'V01' (first given in row 1" in result.unmatched[0]["reason"]
    )


def test_empty_table(villages, communes):
    result = join_status(table([]), villages, communes)
    assert result.matched.empty
    assert list(result.matched.columns) == ["village_code", "grid_power", "row"]
    assert result.missing == ["V01", "V02", "V03", "V04", "V05"]
