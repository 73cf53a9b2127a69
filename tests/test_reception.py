from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Point, box

from covgap.radio.reception import (
    BEST_SITE_UNKNOWN,
    RECEPTION_COLUMNS,
    compare_with_survey,
    sample_cells,
    village_reception,
)
from covgap.radio.scenario import Scenario

CRS = "EPSG:32648"
X0, Y0, CELL = 500_000.0, 2_401_000.0, 100.0
TRANSFORM = Affine(CELL, 0.0, X0, 0.0, -CELL, Y0)  # from_origin warns with affine 3
SITES = ["S0", "S1"]


def centre(row: int, col: int) -> Point:
    return Point(X0 + CELL * col + CELL / 2, Y0 - CELL * row - CELL / 2)


def grid() -> tuple[np.ndarray, np.ndarray]:
    rsrp = np.full((10, 10), np.nan, dtype=np.float32)
    best = np.full((10, 10), -1, dtype=np.int32)
    return rsrp, best


def put(rsrp, best, row, col, value, site):
    rsrp[row, col] = value
    best[row, col] = site


def villages(*codes_households) -> gpd.GeoDataFrame:
    codes = [c for c, _ in codes_households]
    hh = [h for _, h in codes_households]
    # polygons far apart; only used by villages without settlements
    geoms = [box(X0 + 10 * i, Y0 - 990, X0 + 10 * i + 5, Y0 - 985) for i in range(len(codes))]
    return gpd.GeoDataFrame(
        {"village_code": codes, "village_name": codes, "households": hh}, geometry=geoms, crs=CRS
    )


def settlements(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"village_code": [r[0] for r in rows], "households": [r[1] for r in rows]},
        geometry=[r[2] for r in rows],
        crs=CRS,
    )


def run(sett, vil, rsrp, best, scenario=None, **kw) -> pd.DataFrame:
    df = village_reception(
        sett, vil, rsrp, best, SITES, TRANSFORM, CRS, scenario or Scenario(), **kw
    )
    return df.set_index("village_code")


def test_sample_cells_floor_and_outside():
    rows, cols, inside = sample_cells(
        np.array([X0 + 1, X0 + 150, X0 - 1, X0 + 999.9]),
        np.array([Y0 - 1, Y0 - 250, Y0 - 1, Y0 - 999.9]),
        TRANSFORM,
        (10, 10),
    )
    assert list(inside) == [True, True, False, True]
    assert (rows[0], cols[0]) == (0, 0)
    assert (rows[1], cols[1]) == (2, 1)
    assert (rows[3], cols[3]) == (9, 9)


def test_household_weighted_share_and_best_server():
    rsrp, best = grid()
    put(rsrp, best, 1, 1, -95.0, 0)  # 10 households, served by S0
    put(rsrp, best, 1, 2, -115.0, 1)  # 5 households, below -110
    put(rsrp, best, 1, 3, -105.0, 1)  # 5 households, served by S1
    sett = settlements([("V1", 10, centre(1, 1)), ("V1", 5, centre(1, 2)), ("V1", 5, centre(1, 3))])
    out = run(sett, villages(("V1", 20.0)), rsrp, best)
    row = out.loc["V1"]
    assert row["households"] == 20.0
    assert row["households_covered"] == 15.0
    assert row["share_covered"] == pytest.approx(15 / 20)
    assert row["best_rsrp_dbm"] == -95.0
    # S0 serves 10 households with a signal, S1 serves 5 + 5 = 10: tie -> strongest (S0)
    assert row["best_server"] == "S0"
    assert row["modelled_status"] == "covered"


def test_best_server_is_plurality_of_households():
    rsrp, best = grid()
    put(rsrp, best, 1, 1, -90.0, 0)  # 2 households on S0 (strongest)
    put(rsrp, best, 1, 2, -100.0, 1)  # 8 households on S1
    sett = settlements([("V1", 2, centre(1, 1)), ("V1", 8, centre(1, 2))])
    assert run(sett, villages(("V1", 10.0)), rsrp, best).loc["V1", "best_server"] == "S1"


def test_output_columns_and_order():
    rsrp, best = grid()
    sett = settlements([("B", 1, centre(0, 0)), ("A", 1, centre(0, 1))])
    out = village_reception(
        sett, villages(("B", 1.0), ("A", 1.0)), rsrp, best, SITES, TRANSFORM, CRS, Scenario()
    )
    assert tuple(out.columns) == RECEPTION_COLUMNS
    assert list(out["village_code"]) == ["B", "A"]


def test_no_signal_is_uncovered():
    rsrp, best = grid()  # no site reaches anything
    sett = settlements([("V2", 4, centre(5, 5))])
    row = run(sett, villages(("V2", 4.0)), rsrp, best).loc["V2"]
    assert row["modelled_status"] == "uncovered"
    assert row["share_covered"] == 0.0
    assert row["households_covered"] == 0.0
    assert math.isnan(row["best_rsrp_dbm"])
    assert row["best_server"] is None


def test_threshold_is_inclusive():
    rsrp, best = grid()
    put(rsrp, best, 2, 2, -110.0, 0)
    sett = settlements([("V", 3, centre(2, 2))])
    assert run(sett, villages(("V", 3.0)), rsrp, best).loc["V", "modelled_status"] == "covered"
    stricter = Scenario(threshold_dbm=-109.5)
    out = run(sett, villages(("V", 3.0)), rsrp, best, stricter)
    assert out.loc["V", "modelled_status"] == "uncovered"


def test_village_without_settlements_uses_representative_point():
    rsrp, best = grid()
    put(rsrp, best, 9, 0, -100.0, 1)  # the village boxes lie in cell (9, 0)
    sett = settlements([("V1", 3, centre(0, 0))])
    out = run(sett, villages(("V1", 3.0), ("V3", 12.0)), rsrp, best)
    assert out.loc["V3", "modelled_status"] == "covered"
    assert out.loc["V3", "households"] == 12.0
    assert out.loc["V3", "households_covered"] == 12.0
    assert out.loc["V3", "best_server"] == "S1"
    assert out.loc["V1", "modelled_status"] == "uncovered"


def test_no_settlement_file_at_all():
    rsrp, best = grid()
    put(rsrp, best, 9, 0, -100.0, 0)
    out = run(None, villages(("V3", 12.0)), rsrp, best)
    assert out.loc["V3", "modelled_status"] == "covered"


def test_unknown_cells_and_points_off_the_raster():
    rsrp, best = grid()
    best[3, 3] = BEST_SITE_UNKNOWN
    sett = settlements(
        [("U1", 5, centre(3, 3)), ("U2", 5, Point(X0 - 500, Y0 + 500))]  # off the raster
    )
    out = run(sett, villages(("U1", 5.0), ("U2", 5.0)), rsrp, best)
    assert out.loc["U1", "modelled_status"] == "unknown"
    assert out.loc["U2", "modelled_status"] == "unknown"
    assert out.loc["U1", "best_server"] is None


def test_unknown_mask_argument():
    rsrp, best = grid()
    put(rsrp, best, 4, 4, -90.0, 0)
    mask = np.zeros((10, 10), dtype=bool)
    mask[4, 4] = True
    sett = settlements([("V", 1, centre(4, 4))])
    assert run(sett, villages(("V", 1.0)), rsrp, best).loc["V", "modelled_status"] == "covered"
    out = run(sett, villages(("V", 1.0)), rsrp, best, unknown=mask)
    assert out.loc["V", "modelled_status"] == "unknown"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["served", "unknown"], "covered"),  # 1/2 >= 0.5 whatever the unknown is
        (["served", "unknown", "unknown"], "unknown"),  # 1/3 < 0.5 <= 3/3
        (["unserved", "unserved", "unknown"], "uncovered"),  # even 1/3 < 0.5
        (["unserved", "served", "unknown", "unserved"], "unknown"),  # 1/4 < .5 <= 2/4
    ],
)
def test_status_with_partly_unknown_villages(states, expected):
    rsrp, best = grid()
    rows = []
    for i, state in enumerate(states):
        if state == "served":
            put(rsrp, best, 6, i, -90.0, 0)
        elif state == "unserved":
            put(rsrp, best, 6, i, -120.0, 0)
        else:
            best[6, i] = BEST_SITE_UNKNOWN
        rows.append(("V", 1, centre(6, i)))
    out = run(settlements(rows), villages(("V", len(states))), rsrp, best)
    assert out.loc["V", "modelled_status"] == expected


def test_missing_households_weight_points_equally():
    rsrp, best = grid()
    put(rsrp, best, 7, 0, -90.0, 0)
    put(rsrp, best, 7, 1, -120.0, 0)
    put(rsrp, best, 7, 2, -120.0, 0)
    sett = settlements(
        [("V", np.nan, centre(7, 0)), ("V", np.nan, centre(7, 1)), ("V", np.nan, centre(7, 2))]
    )
    row = run(sett, villages(("V", np.nan)), rsrp, best).loc["V"]
    assert row["share_covered"] == pytest.approx(1 / 3)
    assert math.isnan(row["households"])
    assert math.isnan(row["households_covered"])
    assert row["modelled_status"] == "uncovered"


def test_covered_share_cut_from_scenario():
    rsrp, best = grid()
    put(rsrp, best, 8, 0, -90.0, 0)
    put(rsrp, best, 8, 1, -120.0, 0)
    put(rsrp, best, 8, 2, -120.0, 0)
    sett = settlements([("V", 1, centre(8, c)) for c in range(3)])
    vil = villages(("V", 3.0))
    assert run(sett, vil, rsrp, best).loc["V", "modelled_status"] == "uncovered"
    lenient = Scenario(covered_share=0.3)
    assert run(sett, vil, rsrp, best, lenient).loc["V", "modelled_status"] == "covered"


def test_settlements_in_another_crs_are_reprojected():
    rsrp, best = grid()
    put(rsrp, best, 2, 7, -95.0, 1)
    p = centre(2, 7)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(p.x, p.y)
    sett = gpd.GeoDataFrame(
        {"village_code": ["V"], "households": [6]}, geometry=[Point(lon, lat)], crs="EPSG:4326"
    )
    row = run(sett, villages(("V", 6.0)), rsrp, best).loc["V"]
    assert row["modelled_status"] == "covered"
    assert row["best_server"] == "S1"


def test_settlements_of_unknown_villages_are_ignored():
    rsrp, best = grid()
    put(rsrp, best, 0, 0, -90.0, 0)
    sett = settlements([("V", 1, centre(0, 0)), ("ZZ", 1, centre(0, 1))])
    out = run(sett, villages(("V", 1.0)), rsrp, best)
    assert list(out.index) == ["V"]


def test_shape_mismatch_is_an_error():
    rsrp, best = grid()
    with pytest.raises(ValueError, match="must be equal"):
        village_reception(
            None, villages(("V", 1.0)), rsrp, best[:5], SITES, TRANSFORM, CRS, Scenario()
        )


# -- survey comparison ------------------------------------------------------------


def reception(statuses: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"village_code": list(statuses), "modelled_status": list(statuses.values())}
    )


def survey(answers: dict[str, bool | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_code": list(answers),
            "mobile_signal": pd.array(list(answers.values()), dtype="boolean"),
        }
    )


def test_confusion_matrix_and_disagreements():
    model = reception(
        {
            "V01": "covered",  # yes / covered: agree
            "V02": "covered",  # yes / covered: agree
            "V03": "uncovered",  # yes / uncovered: missed
            "V04": "uncovered",  # no / uncovered: agree
            "V05": "covered",  # no / covered: overstated
            "V06": "unknown",  # yes / unknown
            "V07": "covered",  # survey NA
            "V08": "uncovered",  # not in survey
        }
    )
    answers = survey(
        {
            "V05": False,
            "V01": True,
            "V02": True,
            "V03": True,
            "V04": False,
            "V06": True,
            "V07": None,
            "V99": True,
        }
    )
    result = compare_with_survey(model, answers)
    assert result.confusion == {
        "survey_yes": {"covered": 2, "uncovered": 1, "unknown": 1},
        "survey_no": {"covered": 1, "uncovered": 1, "unknown": 0},
        "survey_unknown": {"covered": 1, "uncovered": 1, "unknown": 0},
    }
    np.testing.assert_array_equal(result.matrix, [[2, 1], [1, 1]])
    assert result.compared == 5
    assert result.agreement == pytest.approx(3 / 5)
    assert result.disagreements == ["V03", "V05"]
    assert result.missed == ["V03"]
    assert result.overstated == ["V05"]


def test_summary_is_json_ready():
    result = compare_with_survey(
        reception({"A": "covered", "B": "uncovered"}), survey({"A": True, "B": True})
    )
    summary = result.to_summary()
    assert summary == {
        "agreement": 0.5,
        "disagreements": ["B"],
        "confusion": {
            "survey_yes": {"covered": 1, "uncovered": 1, "unknown": 0},
            "survey_no": {"covered": 0, "uncovered": 0, "unknown": 0},
            "survey_unknown": {"covered": 0, "uncovered": 0, "unknown": 0},
        },
        "compared": 2,
    }
    json.dumps(summary, allow_nan=False)


def test_no_survey():
    result = compare_with_survey(reception({"A": "covered"}), None)
    assert result.compared == 0
    assert math.isnan(result.agreement)
    assert result.to_summary()["agreement"] is None
    assert result.confusion["survey_unknown"]["covered"] == 1


def test_survey_with_plain_bool_and_duplicate_codes():
    answers = pd.DataFrame({"village_code": ["A", "A"], "mobile_signal": [False, True]})
    result = compare_with_survey(reception({"A": "uncovered"}), answers)
    assert result.agreement == 1.0  # first row wins
