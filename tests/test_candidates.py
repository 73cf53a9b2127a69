"""Candidate sites: terrain peaks and ridges, village-adjacent ground, the user's CSV, merging."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import Transformer

from covgap.errors import ConfigError, DatasetError, MissingColumnError, ValueParseError
from covgap.planning import candidates
from covgap.planning.candidates import CandidateSettings
from covgap.radio.scenario import Scenario

CRS = "EPSG:32648"
X0, Y0 = 500_000.0, 2_440_000.0  # top-left corner of the synthetic DEM
CELL = 30.0
N = 120  # 3.6 km square
PEAK_A = (40, 30)  # (row, col) of the higher hill
PEAK_B = (80, 90)
TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def centre(row: int, col: int) -> tuple[float, float]:
    return X0 + (col + 0.5) * CELL, Y0 - (row + 0.5) * CELL


def hills() -> np.ndarray:
    r, c = np.mgrid[0:N, 0:N]
    z = 500.0 + 300.0 * np.exp(-((r - PEAK_A[0]) ** 2 + (c - PEAK_A[1]) ** 2) / (2 * 12.0**2))
    z += 200.0 * np.exp(-((r - PEAK_B[0]) ** 2 + (c - PEAK_B[1]) ** 2) / (2 * 10.0**2))
    return z.astype(np.float32)


def terrain(z: np.ndarray | None = None) -> tuple[np.ndarray, Affine, str]:
    return (hills() if z is None else z, Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), CRS)


def points(xy: list[tuple[float, float]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        cols, geometry=gpd.points_from_xy([p[0] for p in xy], [p[1] for p in xy]), crs=CRS
    )


def settlements() -> gpd.GeoDataFrame:
    return points(
        [centre(60, 30), centre(62, 34), centre(100, 100)],
        village_code=["A", "A", "B"],
        households=[20, 10, 15],
    )


def communes(box: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = box or (X0, Y0 - N * CELL, X0 + N * CELL, Y0)
    return gpd.GeoDataFrame(
        {"commune_code": ["C1"]}, geometry=[shapely.box(x0, y0, x1, y1)], crs=CRS
    )


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lonlat(row: int, col: int) -> tuple[float, float]:
    x, y = centre(row, col)
    lon, lat = TO_LONLAT.transform(x, y)
    return float(lon), float(lat)


SETTINGS = CandidateSettings(
    min_spacing_m=300.0, max_distance_from_village_m=10_000.0, village_radius_m=600.0
)


def test_terrain_candidates_find_the_peaks_first_and_respect_spacing() -> None:
    cells = candidates.terrain_candidates(terrain(), SETTINGS)
    assert len(cells) > 10
    first = cells.iloc[0]
    assert (first["kind"], int(first["row"]), int(first["col"])) == ("peak", *PEAK_A)
    peaks = cells[cells["kind"] == "peak"]
    assert {(int(r), int(c)) for r, c in zip(peaks["row"], peaks["col"], strict=True)} >= {
        PEAK_A,
        PEAK_B,
    }
    xy = cells[["x", "y"]].to_numpy()
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= SETTINGS.min_spacing_m
    order = ["peak", "ridge", "shoulder"]
    ranks = [order.index(k) for k in cells["kind"]]
    assert ranks == sorted(ranks)  # peaks, then ridges, then shoulders


def test_terrain_candidates_respect_slope_distance_area_and_exclusions() -> None:
    z = hills()
    z[:, 110:] = np.linspace(0, 2000, 10, dtype=np.float32)  # a cliff band in the east
    base = candidates.terrain_candidates(terrain(z), SETTINGS)
    slope = candidates.slope_degrees(z, terrain(z)[1])
    assert (slope[base["row"], base["col"]] <= SETTINGS.max_slope_deg).all()
    assert (base["col"] < 110).all()
    near = candidates.terrain_candidates(
        terrain(z),
        SETTINGS.with_overrides(max_distance_from_village_m=500.0),
        settlements_xy=np.array([centre(40, 30)]),
    )
    assert len(near) >= 1
    assert (np.hypot(near["x"] - centre(40, 30)[0], near["y"] - centre(40, 30)[1]) <= 500).all()
    west = shapely.box(X0, Y0 - N * CELL, X0 + 60 * CELL, Y0)
    inside = candidates.terrain_candidates(terrain(z), SETTINGS, area=west)
    assert (inside["col"] < 60).all()
    assert len(inside) < len(base)
    hole = shapely.Point(centre(*PEAK_A)).buffer(200.0)
    outside = candidates.terrain_candidates(terrain(z), SETTINGS, excluded=hole)
    assert not any(
        hole.contains(shapely.Point(x, y)) for x, y in zip(outside.x, outside.y, strict=True)
    )


def test_village_candidates_take_the_highest_habitable_ground_nearby() -> None:
    out = candidates.village_candidates(terrain(), settlements(), ["A"], SETTINGS)
    assert list(out["village_code"]) == ["A"] * len(out)
    assert list(out["rank"]) == list(range(1, len(out) + 1))
    assert 1 <= len(out) <= SETTINGS.per_village
    # village A sits on the south flank of hill A: its best point is the highest within 600 m
    z = hills()
    r, c = np.mgrid[0:N, 0:N]
    x, y = X0 + (c + 0.5) * CELL, Y0 - (r + 0.5) * CELL
    near = np.zeros_like(z, dtype=bool)
    for px, py in settlements().iloc[:2].geometry.apply(lambda p: (p.x, p.y)):
        near |= np.hypot(x - px, y - py) <= 600.0
    assert out["score"].iloc[0] == pytest.approx(float(z[near].max()))
    assert out["score"].is_monotonic_decreasing


def test_user_csv_is_read_reprojected_and_checked(tmp_path: Path) -> None:
    lon, lat = lonlat(10, 10)
    path = write_csv(
        tmp_path / "sites_candidates.csv",
        "candidate_id,lon,lat,height_m,operator,note\n"
        f"U1,{lon},{lat},45,Viettel,Trường học Tả Phìn\n"
        f"U2,{lon + 0.01},{lat},,,\n",
    )
    users = candidates.read_user_candidates(path, CRS)
    assert list(users["candidate_id"]) == ["U1", "U2"]
    assert users.geometry.iloc[0].x == pytest.approx(centre(10, 10)[0], abs=0.01)
    assert users["height_m"].iloc[0] == 45.0
    assert np.isnan(users["height_m"].iloc[1])
    assert users["note"].iloc[0] == "Trường học Tả Phìn"
    assert users["operator"].isna().iloc[1]


@pytest.mark.parametrize(
    ("body", "error", "where"),
    [
        ("candidate_id,lon\nU1,103\n", MissingColumnError, "column 'lat'"),
        ("candidate_id,lon,lat\nU1,103,21\nU2,103,121\n", ValueParseError, "row 2, column 'lat'"),
        ("candidate_id,lon,lat\nU1,103,21\nU1,103,2\n", DatasetError, "row 2, column 'candidate_"),
        ("candidate_id,lon,lat\nU1,abc,21.9\n", ValueParseError, "row 1, column 'lon'"),
        ("candidate_id,lon,lat,height_m\nU1,103.4,21.9,-5\n", ValueParseError, "column 'height_m'"),
        ("candidate_id,lon,lat\n,103.4,21.9\n", ValueParseError, "row 1, column 'candidate_id'"),
    ],
)  # fmt: skip
def test_user_csv_errors_name_the_row_and_column(
    tmp_path: Path, body: str, error: type[Exception], where: str
) -> None:
    path = write_csv(tmp_path / "sites_candidates.csv", body)
    with pytest.raises(error) as info:
        candidates.read_user_candidates(path, CRS)
    assert where in str(info.value)
    assert "sites_candidates.csv" in str(info.value)


def test_find_candidates_merges_sources_deterministically(tmp_path: Path) -> None:
    lon, lat = lonlat(*PEAK_A)  # the user puts a site on the highest peak
    far_lon, far_lat = TO_LONLAT.transform(X0 - 5000.0, Y0)  # and one outside the communes
    path = write_csv(
        tmp_path / "sites_candidates.csv",
        f"candidate_id,lon,lat,operator\nU1,{lon},{lat},VNPT\nU2,{far_lon},{far_lat},\n",
    )
    kwargs = dict(
        communes=communes(),
        settlements=settlements(),
        village_codes=["A"],
        user_csv=path,
        settings=SETTINGS,
        scenario=Scenario(mast_height_m=35.0),
    )
    out = candidates.find_candidates(terrain(), **kwargs)
    assert list(out.columns) == [*candidates.CANDIDATE_COLUMNS, "geometry"]
    assert out.crs == CRS
    assert list(out["source"].iloc[:2]) == ["user", "user"]
    assert set(out["source"]) == {"user", "village", "terrain"}
    assert out["candidate_id"].is_unique
    # the user site wins: no generated candidate within the spacing of it
    u1 = out.geometry.iloc[0]
    others = out.iloc[2:]
    assert (others.distance(u1) >= SETTINGS.min_spacing_m).all()
    xy = np.column_stack([out.geometry.x, out.geometry.y])
    gen = xy[2:]
    d = np.hypot(*(gen[:, None, :] - gen[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= SETTINGS.min_spacing_m
    # columns
    assert out["height_m"].iloc[1] == 35.0  # blank height -> scenario mast height
    assert out["operator"].iloc[0] == "VNPT"
    assert out["commune_code"].iloc[0] == "C1"
    assert out["commune_code"].isna().iloc[1]  # outside the communes
    assert np.isnan(out["elevation_m"].iloc[1])  # off the DEM
    assert out["elevation_m"].iloc[0] == pytest.approx(800.0, abs=0.5)
    assert out["nearest_village"].iloc[0] == "A"
    village = out[out["source"] == "village"]
    assert village["candidate_id"].str.startswith("V-A-").all()
    terrain_ids = out.loc[out["source"] == "terrain", "candidate_id"]
    assert terrain_ids.iloc[0] == "T00001"
    # same inputs, same table
    again = candidates.find_candidates(terrain(), **kwargs)
    assert again.equals(out)


def test_find_candidates_excluded_zones_and_max_candidates(tmp_path: Path) -> None:
    zone = shapely.Point(centre(*PEAK_B)).buffer(600.0)
    zones = tmp_path / "excluded.geojson"
    gpd.GeoDataFrame({"name": ["forest"]}, geometry=[zone], crs=CRS).to_file(zones)
    settings = SETTINGS.with_overrides(excluded_zones=zones)
    out = candidates.find_candidates(terrain(), settlements=settlements(), settings=settings)
    assert not out.intersects(zone).any()
    capped = candidates.find_candidates(
        terrain(), settlements=settlements(), settings=SETTINGS.with_overrides(max_candidates=3)
    )
    assert len(capped) == 3


def test_generated_identifier_clash_is_an_error(tmp_path: Path) -> None:
    lon, lat = TO_LONLAT.transform(X0 - 5000.0, Y0)
    path = write_csv(tmp_path / "c.csv", f"candidate_id,lon,lat\nT00001,{lon},{lat}\n")
    with pytest.raises(DatasetError, match=r"row 1, column 'candidate_id'"):
        candidates.find_candidates(
            terrain(), settlements=settlements(), user_csv=path, settings=SETTINGS
        )


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="min_spacing_m"):
        CandidateSettings(min_spacing_m=-1.0)
    with pytest.raises(ConfigError, match="unknown key"):
        SETTINGS.with_overrides(spacing=3)
    assert json.dumps(CandidateSettings().min_spacing_m) == "400.0"


DEMO = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (DEMO / "terrain" / "dem.tif").is_file(), reason="demo dataset absent")
def test_demo_yields_at_least_a_thousand_candidates() -> None:
    from covgap.data.dataset import load_dataset
    from covgap.data.terrain import load_terrain
    from covgap.gaps import find_gaps

    dataset = load_dataset(DEMO)
    dem = load_terrain(dataset.dem_path, crs=dataset.crs)
    out = candidates.dataset_candidates(dataset, dem, village_codes=find_gaps(dataset).uncovered)
    assert len(out) >= 1000, len(out)
    assert out["commune_code"].notna().all()
    assert (out["slope_deg"] <= CandidateSettings().max_slope_deg).all()
