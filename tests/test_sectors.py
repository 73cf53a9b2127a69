"""Sector antennas: MSI parsing, sites.csv sectors, and brute checks on a flat DEM."""

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import Point

from covgap.data.antennas import FRONT_TO_BACK_DB, Sector, read_msi
from covgap.data.terrain import Terrain
from covgap.data.towers import read_sites
from covgap.errors import DatasetError
from covgap.radio.scenario import Scenario
from covgap.radio.signal import compute_signal

X0, Y0 = 500_000.0, 2_400_000.0
CELL = 20.0
N = 101  # site at the centre cell (50, 50)


def flat(n=N):
    return Terrain(
        np.zeros((n, n), np.float32), Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), CRS("EPSG:32648")
    )


def centre(row, col):
    return X0 + (col + 0.5) * CELL, Y0 - (row + 0.5) * CELL


def one_site(sectors=None, height=30.0, operator="A"):
    data = {"site_id": ["S1"], "operator": [operator], "radio": ["LTE"], "height_m": [height]}
    gdf = gpd.GeoDataFrame(data, geometry=[Point(*centre(50, 50))], crs="EPSG:32648")
    if sectors is not None:
        gdf["sectors"] = [tuple(sectors)]
    return gdf


def scen(**kw):
    base = dict(
        radius_m=1000.0,
        k_factor=math.inf,
        model="free_space",
        diffraction="none",
        receiver_height_m=1.5,
    )
    base.update(kw)
    return Scenario(**base)


def geometry():
    rows, cols = np.mgrid[0:N, 0:N]
    dx = (cols - 50) * CELL
    dy = (50 - rows) * CELL
    az = np.degrees(np.arctan2(dx, dy)) % 360
    d = np.hypot(dx, dy)
    below = np.degrees(np.arctan2(30.0 - 1.5, np.maximum(d, 1e-6)))
    return az, below, d


def test_back_of_a_65_degree_sector_is_the_front_to_back_level():
    s = scen()
    omni = compute_signal(flat(), one_site(), s).rsrp
    sector = Sector(azimuth_deg=90.0, beamwidth_deg=65.0, tilt_deg=0.0)
    rsrp = compute_signal(flat(), one_site([sector]), s).rsrp
    az, below, d = geometry()
    # brute: 3GPP TR 36.814 by hand, cell by cell
    phi = (az - 90.0 + 180.0) % 360.0 - 180.0
    a_h = np.minimum(12 * (phi / 65.0) ** 2, 25.0)
    a_v = np.minimum(12 * (below / 10.0) ** 2, 20.0)
    expected = omni - np.minimum(a_h + a_v, 25.0)
    known = np.isfinite(omni) & (d > 0)
    assert np.allclose(rsrp[known], expected[known], atol=1e-3)
    behind = known & (np.abs(phi) >= 120.0)
    assert behind.sum() > 1000
    # behind the sector nothing is stronger than the omni signal minus the back-lobe level
    assert np.all(rsrp[behind] <= omni[behind] - FRONT_TO_BACK_DB + 1e-3)
    # with a threshold, behind the sector a cell is covered only if the omni antenna
    # would have covered it with the back-lobe level to spare
    threshold = -75.0
    covered = rsrp[behind] >= threshold
    assert np.all(omni[behind][covered] >= threshold + FRONT_TO_BACK_DB - 1e-3)
    assert (omni[behind] >= threshold).sum() > covered.sum() > 0
    front = known & (np.abs(phi) < 5.0) & (d > 700)
    assert np.all(rsrp[front] >= omni[front] - 1.0)


def test_three_sectors_best_server_takes_the_best_sector():
    s = scen()
    omni = compute_signal(flat(), one_site(), s).rsrp
    sectors = [Sector(azimuth_deg=a, gain_dbi=18.0) for a in (0.0, 120.0, 240.0)]
    rsrp = compute_signal(flat(), one_site(sectors), s).rsrp
    az, below, d = geometry()
    best = np.full(az.shape, -np.inf)
    for a in (0.0, 120.0, 240.0):
        phi = (az - a + 180.0) % 360.0 - 180.0
        att = np.minimum(
            np.minimum(12 * (phi / 65.0) ** 2, 25.0) + np.minimum(12 * (below / 10.0) ** 2, 20),
            25.0,
        )
        best = np.maximum(best, 18.0 - att)
    known = np.isfinite(omni) & (d > 0)
    assert np.allclose(rsrp[known], (omni - s.antenna_gain_dbi + best)[known], atol=1e-3)


def test_tilt_moves_the_vertical_maximum_down():
    s = scen(radius_m=1000.0)
    az, below, _d = geometry()
    flat_tilt = compute_signal(flat(), one_site([Sector(azimuth_deg=0.0)]), s).rsrp
    tilted = compute_signal(flat(), one_site([Sector(azimuth_deg=0.0, tilt_deg=10.0)]), s).rsrp
    near = (np.abs(below - 10.0) < 0.5) & (az < 1) | (np.abs(below - 10.0) < 0.5) & (az > 359)
    assert near.any()
    assert np.all(tilted[near] > flat_tilt[near] + 5.0)


def msi_text(h=None, v=None, gain="GAIN 15.85 dBd"):
    h = h if h is not None else [min(12 * (min(a, 360 - a) / 65) ** 2, 30) for a in range(360)]
    v = v if v is not None else [min(12 * (min(a, 360 - a) / 8) ** 2, 25) for a in range(360)]
    lines = ["Test panel", gain, "HORIZONTAL 360"]
    lines += [f"{a} {x:.2f}" for a, x in enumerate(h)]
    lines += ["VERTICAL 360"] + [f"{a} {x:.2f}" for a, x in enumerate(v)]
    return "\n".join(lines) + "\n"


def test_msi_pattern_is_read_and_applied(tmp_path: Path):
    path = tmp_path / "panel.msi"
    path.write_text(msi_text())
    pattern = read_msi(path)
    assert pattern.name == "Test panel"
    assert pattern.gain_dbi == pytest.approx(18.0)
    assert pattern.front_to_back_db == pytest.approx(30.0)
    s = scen()
    omni = compute_signal(flat(), one_site(), s).rsrp
    rsrp = compute_signal(flat(), one_site([Sector(azimuth_deg=180.0, pattern=pattern)]), s).rsrp
    az, _below, d = geometry()
    phi = (az - 180.0 + 180.0) % 360.0 - 180.0
    known = np.isfinite(omni) & (d > 0)
    back = known & (np.abs(phi) > 170)
    assert back.any()
    # behind: gain 18 dBi minus the 30 dB front-to-back cap (horizontal + vertical capped)
    assert np.allclose(rsrp[back], (omni - 15.0 + 18.0 - 30.0)[back], atol=1e-3)
    # on boresight, far out (below ~1.7 degrees): within the vertical pattern's first dB
    front = known & (np.abs(phi) < 1.0) & (d > 950)
    assert front.any()
    assert np.all(np.abs(rsrp[front] - (omni + 3.0)[front]) < 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x\nHORIZONTAL 360\n0 1\n", "HORIZONTAL section ends after 1 of 360 values"),
        ("x\nHORIZONTAL 180\n", "expected 360 values"),
        ("x\nGAIN 15 dBq\n", "unit 'dBq'"),
        (msi_text().replace("VERTICAL 360", "VERTIKAL 360"), "no VERTICAL 360 section"),
        (msi_text().replace("\n5 ", "\n5 -"), "is negative"),
        (msi_text().replace("\n7 ", "\n6 "), "angle 6 given twice"),
        (msi_text().replace("\n9 ", "\n9 abc "), "expected a number, got 'abc'"),
    ],
)
def test_msi_errors_name_the_file_and_line(tmp_path: Path, text, message):
    path = tmp_path / "bad.msi"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message) as info:
        read_msi(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


SITES_HEADER = (
    "site_id,operator,lon,lat,height_m,radio,azimuth_deg,beamwidth_deg,tilt_deg,gain_dbi,pattern\n"
)


def write_sites(root: Path, body: str) -> Path:
    (root / "towers").mkdir(parents=True, exist_ok=True)
    (root / "antennas").mkdir(exist_ok=True)
    (root / "antennas" / "panel.msi").write_text(msi_text())
    path = root / "towers" / "sites.csv"
    path.write_text(SITES_HEADER + body, encoding="utf-8")
    return path


def test_sites_csv_rows_of_one_site_are_its_sectors(tmp_path: Path):
    path = write_sites(
        tmp_path,
        "A,Viettel,103.4,22.0,30,LTE,0,65,2,,\n"
        "A,Viettel,103.4,22.0,30,GSM,120,,,,antennas/panel.msi\n"
        "A,Viettel,103.4,22.0,30,,240,,,17,\n"
        "B,MobiFone,103.5,22.1,,,,,,,\n",
    )
    sites = read_sites(path)
    assert list(sites["site_id"]) == ["A", "B"]
    assert sites.loc[0, "radio"] == "GSM/LTE"
    a = sites.loc[0, "sectors"]
    assert [s.azimuth_deg for s in a] == [0.0, 120.0, 240.0]
    assert a[0].tilt_deg == 2.0 and a[0].pattern is None
    assert a[1].pattern is not None and a[1].max_gain_dbi(15.0) == pytest.approx(18.0)
    assert a[2].max_gain_dbi(15.0) == 17.0 and a[0].max_gain_dbi(15.0) == 15.0
    assert sites.loc[1, "sectors"] == ()


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            "A,Viettel,103.4,22.0,30,,0,,,,\nA,Viettel,103.4,22.0,30,,,,,,\n",
            "row 2, column 'azimuth_deg'",
        ),
        ("A,Viettel,103.4,22.0,30,,,65,,,\n", "row 1, column 'azimuth_deg'"),
        ("A,Viettel,103.4,22.0,30,,400,,,,\n", "row 1, column 'azimuth_deg'"),
        ("A,Viettel,103.4,22.0,30,,0,,45,,\n", "row 1, column 'tilt_deg'"),
        (
            "A,Viettel,103.4,22.0,30,,0,,,,\nA,MobiFone,103.4,22.0,30,,90,,,,\n",
            "row 2, column 'operator'",
        ),
        (
            "A,Viettel,103.4,22.0,30,,0,,,,\nA,Viettel,103.41,22.0,30,,90,,,,\n",
            "row 2, column 'lon'",
        ),
        (
            "A,Viettel,103.4,22.0,30,,0,,,,\nA,Viettel,103.4,22.0,40,,90,,,,\n",
            "row 2, column 'height_m'",
        ),
        ("A,Viettel,103.4,22.0,30,,0,,,,antennas/none.msi\n", "row 1, column 'pattern'"),
    ],
)
def test_sites_csv_sector_errors_name_row_and_column(tmp_path: Path, body, where):
    path = write_sites(tmp_path, body)
    with pytest.raises(DatasetError) as info:
        read_sites(path)
    assert f"{path}: {where}" in str(info.value)


def test_bad_pattern_file_is_reported_with_its_line(tmp_path: Path):
    path = write_sites(tmp_path, "A,Viettel,103.4,22.0,30,,0,,,,antennas/panel.msi\n")
    (tmp_path / "antennas" / "panel.msi").write_text("x\nHORIZONTAL 360\n0 1\n")
    with pytest.raises(
        DatasetError, match=r"row 1, column 'pattern': antenna pattern .*ends after"
    ):
        read_sites(path)


def test_sites_without_sector_columns_are_unchanged(tmp_path: Path):
    (tmp_path / "towers").mkdir()
    path = tmp_path / "towers" / "sites.csv"
    path.write_text("site_id,operator,lon,lat\nA,Viettel,103.4,22.0\nA,Viettel,103.4,22.0\n")
    with pytest.raises(DatasetError, match="duplicate site_id"):
        read_sites(path)
    path.write_text("site_id,operator,lon,lat\nA,Viettel,103.4,22.0\n")
    assert "sectors" not in read_sites(path).columns


def test_point_to_point_links_apply_the_same_terms_as_the_raster():
    import dataclasses

    from covgap.radio.links import coverage_matrix

    classes = np.full((N, N), 30, np.uint8)
    classes[:, :45] = 10
    terrain = dataclasses.replace(flat(), landcover=classes)
    s = scen(
        calibration_offset_db=3.0,
        calibration_slope_db=-4.0,
        calibration_distance_km=0.5,
        calibration_operators={"B": {"offset_db": -2.0, "slope_db": 0.0}},
    )
    site = one_site([Sector(azimuth_deg=300.0), Sector(azimuth_deg=60.0, tilt_deg=4.0)])
    raster = compute_signal(terrain, site, s).rsrp
    cells = [(50, 10), (50, 90), (20, 50), (80, 50), (35, 30), (60, 75), (50, 44)]
    demand = gpd.GeoDataFrame(
        {"village_code": ["V"] * len(cells), "households": [1] * len(cells)},
        geometry=[Point(*centre(r, c)) for r, c in cells],
        crs="EPSG:32648",
    )
    _, rsrp = coverage_matrix(terrain, site, demand, s, step_m=CELL / 2)
    expected = np.array([raster[r, c] for r, c in cells])
    assert np.all(np.isfinite(expected))
    assert np.allclose(rsrp[:, 0], expected, atol=0.05)
    # the operator's own calibration applies to its sites
    other = site.assign(operator="B")
    _, rsrp_b = coverage_matrix(terrain, other, demand, s, step_m=CELL / 2)
    raster_b = compute_signal(terrain, other, s).rsrp
    assert np.allclose(rsrp_b[:, 0], [raster_b[r, c] for r, c in cells], atol=0.05)


def test_map_draws_a_wedge_per_sector():
    from covgap.publish.assets import covgap_js
    from covgap.publish.webmap import _sectors_layer

    sectors = tuple(Sector(azimuth_deg=a) for a in (0.0, 120.0, 240.0))
    sites = gpd.GeoDataFrame(
        {"site_id": ["S1", "S2"], "operator": ["Viettel", "MobiFone"], "sectors": [sectors, ()]},
        geometry=[Point(103.4, 22.0), Point(103.5, 22.1)],
        crs="EPSG:4326",
    )
    layer = _sectors_layer(sites, "en")
    assert layer is not None and layer["kind"] == "sectors" and layer["name"] == "Sector antennas"
    assert [item["title"] for item in layer["items"]] == ["S1 · 0°", "S1 · 120°", "S1 · 240°"]
    first = layer["items"][0]["shape"]["coordinates"][0]
    assert first[0] == [103.4, 22.0] and first[-1] == first[0]  # closed, from the mast
    # the 0-degree wedge points north, within +-32.5 degrees
    tips = np.array(first[1:-1])
    assert np.all(tips[:, 1] > 22.0)
    assert np.all(np.abs(tips[:, 0] - 103.4) <= 0.6 * 600 / 111_320 / math.cos(math.radians(22)))
    assert _sectors_layer(sites.drop(columns="sectors"), "en") is None
    assert _sectors_layer(sites.iloc[[1]], "en") is None
    assert re.search(r"\bsectors:\s*buildSectors\b", covgap_js())  # the map has a builder


def test_validate_counts_the_sectors(make_dataset):
    from covgap.data.dataset import load_dataset

    rows = (
        "site_id,operator,lon,lat,height_m,azimuth_deg\n"
        "VT-A,Viettel,103.3451,21.9551,30,0\n"
        "VT-A,Viettel,103.3451,21.9551,30,120\n"
        "VT-A,Viettel,103.3451,21.9551,30,240\n"
        "VNP-B,VNPT,103.3400,21.9420,,\n"
    )
    ds = load_dataset(make_dataset(sites=rows))
    assert "sector antennas: 3 sectors on 1 sites" in ds.describe()
    by_id = dict(zip(ds.sites["site_id"], ds.sites["sectors"], strict=True))
    assert len(by_id["VT-A"]) == 3 and by_id["VNP-B"] == ()


def test_calibration_terms_follow_the_formula_cell_by_cell():
    plain = scen()
    tuned = scen(
        calibration_offset_db=6.0,
        calibration_slope_db=-10.0,
        calibration_distance_km=0.4,
        calibration_operators={"B": {"offset_db": -3.0, "slope_db": 2.0}},
    )
    _, _, d = geometry()
    d_km = np.maximum(d / 1000.0, 0.1)
    for operator, (offset, slope) in {"A": (6.0, -10.0), "B": (-3.0, 2.0)}.items():
        site = one_site(operator=operator)
        base = compute_signal(flat(), site, plain).rsrp
        got = compute_signal(flat(), site, tuned).rsrp
        known = np.isfinite(base)
        expected = base + offset + slope * np.log10(d_km / 0.4)
        assert np.allclose(got[known], expected[known], atol=1e-3), operator


def test_batched_candidate_coverage_applies_the_same_terms():
    # The plan's coverage matrix is built in batches (coverage_columns, also on Dask):
    # sectors, land cover and calibration must move pairs across the threshold there too.
    import dataclasses

    from covgap.radio.links import coverage_columns, coverage_matrix

    classes = np.full((N, N), 30, np.uint8)
    classes[:, :45] = 10
    terrain = dataclasses.replace(flat(), landcover=classes)
    s = scen(calibration_offset_db=-6.0, calibration_slope_db=-4.0, calibration_distance_km=0.5)
    site = one_site([Sector(azimuth_deg=300.0), Sector(azimuth_deg=60.0, tilt_deg=4.0)])
    cells = [(50, 10), (50, 90), (20, 50), (80, 50), (35, 30), (60, 75), (50, 44), (10, 10)]
    demand = gpd.GeoDataFrame(
        {"village_code": ["V"] * len(cells), "households": [1] * len(cells)},
        geometry=[Point(*centre(r, c)) for r, c in cells],
        crs="EPSG:32648",
    )
    _, rsrp = coverage_matrix(terrain, site, demand, s, step_m=CELL / 2)
    levels = np.sort(rsrp[np.isfinite(rsrp[:, 0]), 0])
    mid = len(levels) // 2
    threshold = float(levels[mid - 1] + levels[mid]) / 2  # no pair sits on the threshold
    served, _ = coverage_matrix(terrain, site, demand, s, threshold, step_m=CELL / 2)
    batched = coverage_columns(terrain, site, demand, s, threshold, step_m=CELL / 2)
    assert 0 < served.nnz < len(cells)
    assert batched.toarray().tolist() == served.toarray().tolist()
    # without the terms the served set is another one: the comparison can fail
    plain = coverage_columns(flat(), site.drop(columns="sectors"), demand, scen(), threshold)
    assert plain.toarray().tolist() != served.toarray().tolist()
