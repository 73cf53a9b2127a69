import math

import pytest
from pyproj import CRS, Transformer

from conftest import CELL_HEADER, cell, csv_text, default_cells, default_sites
from covgap.data.towers import (
    cells_to_sites,
    load_towers,
    merge_sites,
    operator_name,
    read_cells,
    read_sites,
)
from covgap.errors import DatasetError, MissingColumnError, ValueParseError

UTM = CRS.from_epsg(32648)


def write_cells(tmp_path, rows, name="cells.csv"):
    path = tmp_path / name
    path.write_text(csv_text(rows, columns=CELL_HEADER), encoding="utf-8")
    return path


def write_sites(tmp_path, rows):
    path = tmp_path / "sites.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    return path


def test_operator_names():
    assert operator_name(452, 1) == "MobiFone"
    assert operator_name(452, 2) == "VinaPhone"
    assert operator_name(452, 4) == "Viettel"
    assert operator_name(452, 5) == "452-05"


def test_read_cells(tmp_path):
    cells = read_cells(write_cells(tmp_path, default_cells()))
    assert len(cells) == 9
    assert cells["operator"].value_counts().to_dict() == {
        "Viettel": 6,
        "MobiFone": 2,
        "VinaPhone": 1,
    }
    assert cells["mcc"].dtype == "int64"
    assert cells["lon"].iloc[0] == pytest.approx(103.345)
    assert list(cells.index) == list(range(1, 10))


def test_headerless_opencellid_export(tmp_path):
    path = tmp_path / "cells.csv"
    text = csv_text(default_cells(), columns=CELL_HEADER).split("\n", 1)[1]
    path.write_text(text, encoding="utf-8")
    cells = read_cells(path)
    assert len(cells) == 9
    assert cells["net"].tolist()[:3] == [4, 4, 4]


def test_bad_longitude_names_row_and_column(tmp_path):
    rows = default_cells()
    rows[4]["lon"] = 203.36
    with pytest.raises(ValueParseError, match=r"row 5, column 'lon': longitude must be between"):
        read_cells(write_cells(tmp_path, rows))
    rows[4]["lon"] = "abc"
    with pytest.raises(ValueParseError, match=r"row 5, column 'lon': expected a number"):
        read_cells(write_cells(tmp_path, rows))


def test_bad_latitude(tmp_path):
    rows = default_cells()
    rows[0]["lat"] = -95
    with pytest.raises(ValueParseError, match=r"row 1, column 'lat': latitude"):
        read_cells(write_cells(tmp_path, rows))


def test_missing_cell_column(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("radio,mcc,mnc,lon,lat\nGSM,452,4,103.3,21.9\n", encoding="utf-8")
    with pytest.raises(MissingColumnError, match="column 'net'"):
        read_cells(path)


def test_unknown_network_and_radio_are_reported(tmp_path):
    rows = [*default_cells(), cell("CDMA", 4, 20, 103.35, 21.95), cell("gsm", 5, 21, 103.35, 21.95)]
    notes: list[str] = []
    cells = read_cells(write_cells(tmp_path, rows), notes=notes)
    assert cells["radio"].iloc[-1] == "GSM"
    assert cells["operator"].iloc[-1] == "452-05"
    assert any("452-05" in n for n in notes)
    assert any("'CDMA'" in n and "rows 10" in n for n in notes)
    sites = cells_to_sites(cells, UTM)
    assert "452-05" in set(sites["operator"])
    assert sites["n_cells"].sum() == 10  # the CDMA cell is not a site


def test_cells_cluster_into_sites(tmp_path):
    cells = read_cells(write_cells(tmp_path, default_cells()))
    sites = cells_to_sites(cells, UTM)
    assert sites.crs == UTM
    by_op = sites.groupby("operator")["n_cells"].apply(sorted).to_dict()
    assert by_op == {"MobiFone": [2], "Viettel": [1, 2, 3], "VinaPhone": [1]}
    assert set(sites["source"]) == {"cells"}
    # ids are numbered west to east per operator
    viettel = sites[sites["operator"] == "Viettel"].sort_values("site_id")
    assert viettel["site_id"].tolist() == ["VT-001", "VT-002", "VT-003"]
    assert viettel.geometry.x.is_monotonic_increasing
    first = viettel.iloc[0]
    assert first["radio"] == "GSM/LTE"
    assert math.isnan(first["height_m"])


def test_site_position_is_samples_weighted_mean(tmp_path):
    rows = [
        cell("LTE", 4, 1, 103.3500, 21.95, samples=1),
        cell("LTE", 4, 2, 103.3510, 21.95, samples=3),
    ]
    sites = cells_to_sites(read_cells(write_cells(tmp_path, rows)), UTM)
    assert len(sites) == 1
    to_utm = Transformer.from_crs(4326, UTM, always_xy=True)
    x1, _ = to_utm.transform(103.3500, 21.95)
    x2, _ = to_utm.transform(103.3510, 21.95)
    assert sites.geometry.x.iloc[0] == pytest.approx(0.25 * x1 + 0.75 * x2, abs=0.01)


def test_clustering_is_single_linkage_within_distance(tmp_path):
    # three cells in a row 250 m apart: one site at 300 m (chained), three at 200 m
    lons = [103.35, 103.35 + 0.00242, 103.35 + 0.00484]
    rows = [cell("GSM", 4, i, lon, 21.95) for i, lon in enumerate(lons)]
    cells = read_cells(write_cells(tmp_path, rows))
    assert len(cells_to_sites(cells, UTM, distance_m=300)) == 1
    assert len(cells_to_sites(cells, UTM, distance_m=200)) == 3


def test_clustering_does_not_depend_on_row_order(tmp_path):
    rows = default_cells()
    a = cells_to_sites(read_cells(write_cells(tmp_path, rows, "a.csv")), UTM)
    b = cells_to_sites(read_cells(write_cells(tmp_path, rows[::-1], "b.csv")), UTM)
    key = ["operator", "site_id"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    assert a["site_id"].tolist() == b["site_id"].tolist()
    assert a.geometry.geom_equals_exact(b.geometry, tolerance=1e-6).all()


def test_read_sites(tmp_path):
    sites = read_sites(write_sites(tmp_path, default_sites()))
    assert sites["site_id"].tolist() == ["VT-A", "VNP-B"]
    assert sites["operator"].tolist() == ["Viettel", "VinaPhone"]  # "VNPT" normalised
    assert sites["height_m"].iloc[0] == 30
    assert math.isnan(sites["height_m"].iloc[1])
    assert sites["power_source"].tolist() == ["grid", "solar"]
    assert sites.crs.to_epsg() == 4326


def test_sites_duplicate_id(tmp_path):
    rows = default_sites()
    rows[1]["site_id"] = "VT-A"
    with pytest.raises(
        DatasetError, match=r"row 2, column 'site_id': duplicate site_id 'VT-A' \(also in row 1\)"
    ):
        read_sites(write_sites(tmp_path, rows))


def test_sites_bad_radio_and_height(tmp_path):
    rows = default_sites()
    rows[1]["radio"] = "CDMA"
    with pytest.raises(ValueParseError, match=r"row 2, column 'radio': expected GSM"):
        read_sites(write_sites(tmp_path, rows))
    rows = default_sites()
    rows[0]["height_m"] = "-5"
    with pytest.raises(ValueParseError, match=r"row 1, column 'height_m'"):
        read_sites(write_sites(tmp_path, rows))
    rows = default_sites()
    rows[0]["lat"] = "91"
    with pytest.raises(ValueParseError, match=r"row 1, column 'lat'"):
        read_sites(write_sites(tmp_path, rows))


def test_listed_sites_replace_nearby_clusters_of_same_operator(tmp_path):
    cells_path = write_cells(tmp_path, default_cells())
    sites_path = write_sites(tmp_path, default_sites())
    cells, sites = load_towers(cells_path, sites_path, UTM)
    assert len(cells) == 9
    assert sites.crs == UTM
    vt_a = sites[sites["site_id"] == "VT-A"].iloc[0]
    assert vt_a["n_cells"] == 3  # absorbed the first Viettel cluster
    assert vt_a["radio"] == "GSM/LTE"  # filled from the cells
    assert vt_a["source"] == "sites"
    # MobiFone shares the mast but is another operator: kept
    assert (sites["operator"] == "MobiFone").sum() == 1
    assert sorted(sites.loc[sites["operator"] == "Viettel", "site_id"]) == [
        "VT-002",
        "VT-003",
        "VT-A",
    ]
    assert len(sites) == 6


def test_merge_with_empty_inputs(tmp_path):
    cells = read_cells(write_cells(tmp_path, default_cells()))
    from_cells = cells_to_sites(cells, UTM)
    listed = read_sites(write_sites(tmp_path, default_sites())).to_crs(UTM)
    assert len(merge_sites(from_cells, listed.iloc[0:0])) == len(from_cells)
    assert len(merge_sites(from_cells.iloc[0:0], listed)) == 2


def test_only_sites_file(tmp_path):
    cells, sites = load_towers(None, write_sites(tmp_path, default_sites()), UTM)
    assert cells is None
    assert sites["n_cells"].tolist() == [0, 0]
