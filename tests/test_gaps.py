import pandas as pd
import pytest

from covgap.data.dataset import load_dataset
from covgap.gaps import coverage_status, find_gaps, power_status


def test_status_functions():
    assert coverage_status(True) == "covered"
    assert coverage_status(False) == "uncovered"
    assert coverage_status(pd.NA) == "unknown"
    assert coverage_status(None) == "unknown"
    assert power_status(True) == "powered"
    assert power_status(False) == "unpowered"
    assert power_status(pd.NA) == "unknown"


def test_find_gaps(dataset_dir):
    gaps = find_gaps(load_dataset(dataset_dir))
    assert gaps.uncovered == ["V02", "V03", "V05"]
    assert gaps.unpowered == ["V03", "V06"]
    assert gaps.uncovered_and_unpowered == ["V03"]
    v = gaps.villages.set_index("village_code")
    assert v.loc["V03", "coverage_status"] == "uncovered"
    assert v.loc["V03", "power_status"] == "unpowered"
    assert v.loc["V01", "coverage_status"] == "covered"
    assert v.loc["V01", "commune_name"] == "Xã Tả Phìn"
    assert v["grid_power"].dtype == "boolean"
    assert gaps.villages.crs.to_epsg() == 32648


def test_summary(dataset_dir):
    summary = find_gaps(load_dataset(dataset_dir)).summary()
    assert summary["villages"] == 6
    assert summary["uncovered"] == 3
    assert summary["unelectrified"] == 2
    assert summary["uncovered_and_unelectrified"] == 1
    assert summary["coverage_unknown"] == 0
    assert summary["uncovered_villages"] == ["V02", "V03", "V05"]
    assert summary["unelectrified_villages"] == ["V03", "V06"]
    assert summary["uncovered_and_unelectrified_villages"] == ["V03"]
    assert summary["communes"] == [
        {"commune_code": "C01", "commune_name": "Xã Tả Phìn", "villages": 3, "uncovered": 2,
         "unelectrified": 1, "uncovered_and_unelectrified": 1},
        {"commune_code": "C02", "commune_name": "Xã Sính Phình", "villages": 3, "uncovered": 1,
         "unelectrified": 1, "uncovered_and_unelectrified": 0},
    ]  # fmt: skip
    import json

    json.dumps(summary)  # JSON-ready


def test_missing_status_is_unknown_not_dropped(make_dataset):
    power = [{"village_code": "V03", "grid_power": "no"}, {"village_code": "V01", "grid_power": ""}]
    survey = [{"village_code": "V02", "mobile_signal": "no"}]
    gaps = find_gaps(load_dataset(make_dataset(power=power, survey=survey)))
    v = gaps.villages.set_index("village_code")
    assert len(v) == 6
    assert v["power_status"].to_dict() == {
        "V01": "unknown", "V02": "unknown", "V03": "unpowered",
        "V04": "unknown", "V05": "unknown", "V06": "unknown",
    }  # fmt: skip
    assert gaps.uncovered == ["V02"]
    assert gaps.summary()["coverage_unknown"] == 5
    assert gaps.summary()["power_unknown"] == 5


def test_without_survey_coverage_is_unknown(make_dataset):
    gaps = find_gaps(load_dataset(make_dataset(survey=None)))
    assert set(gaps.villages["coverage_status"]) == {"unknown"}
    assert gaps.uncovered == []
    assert gaps.unpowered == ["V03", "V06"]


@pytest.mark.parametrize("nfd", [False, True])
def test_counts_do_not_depend_on_unicode_form(make_dataset, nfd):
    summary = find_gaps(load_dataset(make_dataset(nfd=nfd))).summary()
    assert (summary["uncovered"], summary["unelectrified"]) == (3, 2)
