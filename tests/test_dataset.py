import unicodedata

import pytest
from pyproj import CRS

from conftest import default_villages
from covgap.data.dataset import Dataset, load_dataset
from covgap.errors import CRSError, DatasetError, DatasetNotFoundError, EncodingError
from covgap.gaps import find_gaps


def test_default_dataset_loads(dataset_dir):
    ds = load_dataset(dataset_dir)
    assert isinstance(ds, Dataset)
    assert ds.name == "test_dataset"
    assert ds.title == "Test dataset"
    assert ds.synthetic is True
    assert ds.crs.to_epsg() == 32648
    for layer in (ds.communes, ds.villages, ds.settlements, ds.grid, ds.sites):
        assert layer.crs == ds.crs
    assert len(ds.communes) == 2
    assert len(ds.villages) == 6
    assert len(ds.settlements) == 8
    assert list(ds.power.columns[:3]) == ["village_code", "grid_power", "households_unpowered"]
    assert ds.power["grid_power"].dtype == "boolean"
    assert ds.survey["mobile_signal"].dtype == "boolean"
    assert len(ds.sites) == 6
    assert ds.dem_path == dataset_dir / "terrain" / "dem.tif"
    assert ds.unmatched_rows == []
    assert ds.missing_status == {"power": [], "survey": []}
    assert ds.problems == []
    # villages are polygons in metres: a third of 0.02 degrees is about 690 m wide
    width = ds.villages.geometry.iloc[0].bounds
    assert 600 < width[2] - width[0] < 800


def test_describe(dataset_dir):
    lines = load_dataset(dataset_dir).describe()
    text = "\n".join(lines)
    assert "dataset: test_dataset: Test dataset (synthetic)" in text
    assert "EPSG:32648" in text
    assert "villages: 6 (265 households" in text
    assert "sites: 6 (MobiFone 1, Viettel 3, VinaPhone 2)" in text
    assert "power status: 6 of 6 villages (powered 4, not 2, unknown 0)" in text
    assert "problems: 0" in text


def test_not_a_dataset(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"no such dataset folder"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(tmp_path / "empty")
    message = str(info.value)
    for rel in (
        "boundaries/communes.geojson",
        "boundaries/villages.geojson",
        "electricity/village_power.csv",
        "towers/cells.csv or towers/sites.csv",
    ):
        assert rel in message


def test_optional_files_absent(make_dataset):
    root = make_dataset(settlements=None, grid=None, survey=None, cells=None, toml=None, dem=False)
    ds = load_dataset(root)
    assert ds.name == "dataset"
    assert ds.title == "dataset"
    assert ds.synthetic is False
    assert len(ds.settlements) == 6  # one representative point per village
    assert ds.grid is None
    assert ds.survey is None
    assert ds.cells is None
    assert len(ds.sites) == 2
    assert ds.dem_path is None
    assert any("dem.tif: absent" in w for w in ds.warnings)
    assert "survey" not in ds.missing_status
    assert "DEM: absent" in ds.describe()


def test_unreadable_dem(make_dataset):
    root = make_dataset()
    (root / "terrain" / "dem.tif").write_bytes(b"not a tiff")
    with pytest.raises(DatasetError, match=r"dem.tif: cannot read the DEM"):
        load_dataset(root)


def test_bad_toml(make_dataset):
    with pytest.raises(DatasetError, match=r"dataset.toml: not valid TOML"):
        load_dataset(make_dataset(toml="name = \n"))
    with pytest.raises(DatasetError, match=r"column 'synthetic': expected true or false"):
        load_dataset(make_dataset(toml='synthetic = "yes"\n'))


def test_toml_crs_applies_to_files_without_one(make_dataset):
    root = make_dataset(vector_crs="EPSG:3405", declare_crs=False, toml='crs = "EPSG:3405"\n')
    ds = load_dataset(root)
    reference = load_dataset(make_dataset())
    shift = ds.villages.geometry.centroid.distance(reference.villages.geometry.centroid)
    assert shift.max() < 1.0
    # without the toml setting the projected coordinates cannot be read as degrees
    with pytest.raises(CRSError, match=r"not longitude/latitude degrees"):
        load_dataset(make_dataset(vector_crs="EPSG:3405", declare_crs=False, toml=None))


def test_vn2000_files_and_vn2000_analysis_crs(make_dataset):
    root = make_dataset(vector_crs="EPSG:3405")
    reference = load_dataset(make_dataset())
    ds = load_dataset(root, crs="EPSG:3405")
    assert ds.crs == CRS.from_epsg(3405)
    back = ds.villages.to_crs(32648).geometry.centroid
    assert back.distance(reference.villages.geometry.centroid).max() < 1.0
    # the sites (lon/lat WGS 84 in the CSV) are in the VN-2000 analysis CRS too
    assert ds.sites.crs == ds.crs
    with pytest.raises(CRSError, match=r"geographic"):
        load_dataset(root, crs="EPSG:4326")


def test_cluster_distance_from_toml(make_dataset):
    ds = load_dataset(make_dataset(sites=None, toml="[towers]\ncluster_distance_m = 10\n"))
    assert len(ds.sites) > 5
    with pytest.raises(DatasetError, match=r"cluster_distance_m"):
        load_dataset(make_dataset(toml="[towers]\ncluster_distance_m = -1\n"))


def test_loader_errors_propagate_with_file_and_row(make_dataset):
    villages = default_villages()
    villages[3]["properties"]["commune_code"] = "C77"
    with pytest.raises(DatasetError, match=r"villages.geojson: row 4, column 'commune_code'"):
        load_dataset(make_dataset(villages=villages))
    with pytest.raises(EncodingError, match=r"village_power.csv"):
        load_dataset(make_dataset(power=b"village_code,grid_power\n\x81\x8d,yes\n"))


def test_missing_status_and_problems(make_dataset):
    power = [{"village_code": c, "grid_power": "yes"} for c in ["V01", "V02", "V03", "V99"]]
    ds = load_dataset(make_dataset(power=power))
    assert ds.missing_status["power"] == ["V04", "V05", "V06"]
    assert ds.unmatched_rows[0]["row"] == 4
    problems = ds.problems
    assert problems[0] == "electricity/village_power.csv: row 4: unknown village_code 'V99'"
    assert problems[1] == "power: no status row for 3 villages: V04, V05, V06"


@pytest.mark.parametrize("encoding", ["cp1258", "utf-8-sig", "utf-16"])
def test_acceptance_windows1258_nfd_unknown_village(make_dataset, encoding):
    """The issue's acceptance case: Windows-1258 CSVs, NFD names, one unknown village row."""
    power = [
        {"village_name": "BẢN HUỔI SÓ", "commune_name": "Xã Tả Phìn", "grid_power": "Có"},
        {"village_name": "Tả Phìn", "commune_name": "tả phìn", "grid_power": "có"},
        {"village_name": "Háng Đề Dê", "commune_name": "TA PHIN", "grid_power": "KHÔNG"},
        {"village_name": "Bản Sính Phình", "commune_name": "Xã Sính Phình", "grid_power": "có"},
        {
            "village_name": "Bản Lầu Thí Ngài",
            "commune_name": "Xã Sính Phình",
            "grid_power": "không",
        },
        {"village_name": "de de hu", "commune_name": "Sinh Phinh", "grid_power": "Có"},
        {"village_name": "Páo Tỉnh Làng", "commune_name": "Sính Phình", "grid_power": "không"},
    ]
    survey = [
        {"village_name": n, "commune_name": c, "mobile_signal": s}
        for n, c, s in [
            ("Bản Huổi Só", "Xã Tả Phìn", "có"),
            ("Bản Tả Phìn", "Xã Tả Phìn", "không"),
            ("Bản Háng Đề Dê", "Xã Tả Phìn", "không"),
            ("Bản Sính Phình", "Xã Sính Phình", "có"),
            ("Bản Đề Dê Hu", "Xã Sính Phình", "không"),
            ("Bản Páo Tỉnh Làng", "Xã Sính Phình", "có"),
        ]
    ]
    root = make_dataset(encoding=encoding, nfd=True, power=power, survey=survey, sep=";")
    raw = (root / "electricity" / "village_power.csv").read_bytes()
    if encoding == "cp1258":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    ds = load_dataset(root)
    assert [u["row"] for u in ds.unmatched_rows] == [5]
    entry = ds.unmatched_rows[0]
    assert entry["file"] == "electricity/village_power.csv"
    assert entry["values"]["village_name"] == "Bản Lầu Thí Ngài"
    assert ds.missing_status == {"power": [], "survey": []}
    assert ds.villages["village_name"].iloc[0] == "Bản Huổi Só"
    assert unicodedata.is_normalized("NFC", ds.villages["village_name"].iloc[2])
    summary = find_gaps(ds).summary()
    assert summary["villages"] == 6
    assert summary["uncovered_villages"] == ["V02", "V03", "V05"]
    assert summary["unelectrified_villages"] == ["V03", "V06"]
    assert summary["uncovered_and_unelectrified_villages"] == ["V03"]
