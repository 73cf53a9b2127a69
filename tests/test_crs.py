import json
import math
from pathlib import Path

import geopandas as gpd
import pytest
from pyproj import CRS, Transformer
from shapely.geometry import Point, box

from covgap.data.crs import analysis_crs, is_metric, to_metric, utm_crs
from covgap.data.readers import POINT_TYPES, read_vector
from covgap.errors import CRSError

LON, LAT = 103.35, 21.95

SHARED = Path(__file__).parents[1].parent / "shared"
CENSUS = SHARED / "data" / "census2009" / "census2009_communes_tua_chua.geojson"


def test_utm_zone_from_data():
    gdf = gpd.GeoDataFrame(geometry=[box(103.25, 21.78, 103.52, 22.16)], crs=4326)
    assert analysis_crs([gdf]).to_epsg() == 32648
    assert analysis_crs((103.25, 21.78, 103.52, 22.16)).to_epsg() == 32648


def test_utm_zone_south_and_other_zone():
    assert utm_crs(-47.9, -15.8).to_epsg() == 32723  # Brasília
    assert utm_crs(105.85, 21.03).to_epsg() == 32648  # Hà Nội
    assert utm_crs(106.7, 10.8).to_epsg() == 32648  # TP Hồ Chí Minh


def test_utm_zone_from_projected_input():
    gdf = gpd.GeoDataFrame(geometry=[Point(329600, 2428200)], crs=3405)
    assert analysis_crs([gdf]).to_epsg() == 32648


def test_user_crs_wins_and_must_be_metric():
    gdf = gpd.GeoDataFrame(geometry=[Point(LON, LAT)], crs=4326)
    assert analysis_crs([gdf], user_crs="EPSG:3405").to_epsg() == 3405
    assert analysis_crs([gdf], user_crs=9205).to_epsg() == 9205  # VN-2000 / TM-3 103-00
    with pytest.raises(CRSError, match="geographic"):
        analysis_crs([gdf], user_crs="EPSG:4756")
    with pytest.raises(CRSError, match="not in metres"):
        analysis_crs([gdf], user_crs="EPSG:2272")  # US survey feet
    with pytest.raises(CRSError, match="unknown CRS"):
        analysis_crs([gdf], user_crs="EPSG:999999")


def test_no_data_is_an_error():
    with pytest.raises(CRSError, match="no data"):
        analysis_crs([])


def test_to_metric():
    gdf = gpd.GeoDataFrame(geometry=[Point(LON, LAT)], crs=4326)
    out = to_metric(gdf, CRS.from_epsg(32648))
    assert out.crs.to_epsg() == 32648
    assert 300_000 < out.geometry.iloc[0].x < 400_000
    with pytest.raises(CRSError, match="not a projected CRS in metres"):
        to_metric(gdf, CRS.from_epsg(4326))
    with pytest.raises(CRSError, match="without a CRS"):
        to_metric(gpd.GeoDataFrame(geometry=[Point(0, 0)]), CRS.from_epsg(32648))


def test_is_metric():
    assert is_metric(CRS.from_epsg(3405))
    assert not is_metric(CRS.from_epsg(4756))


def _write_point(path: Path, x: float, y: float, crs: str) -> Path:
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": crs}},
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [x, y]},
            }
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("vn2000", ["EPSG:4756", "EPSG:3405", "EPSG:9205", "EPSG:5896"])
def test_vn2000_inputs_reproject_correctly(tmp_path, vn2000):
    # The same ground point, written in VN-2000, must land where the WGS 84 point does.
    x, y = Transformer.from_crs(4326, vn2000, always_xy=True).transform(LON, LAT)
    gdf = read_vector(_write_point(tmp_path / "p.geojson", x, y, vn2000), POINT_TYPES)
    assert gdf.crs == CRS.from_user_input(vn2000)
    metric = to_metric(gdf, CRS.from_epsg(32648)).geometry.iloc[0]
    ex, ey = Transformer.from_crs(4326, 32648, always_xy=True).transform(LON, LAT)
    assert math.hypot(metric.x - ex, metric.y - ey) < 1.0


def test_vn2000_datum_shift_is_honoured_and_round_trips():
    to_vn = Transformer.from_crs(4326, 4756, always_xy=True)
    back = Transformer.from_crs(4756, 4326, always_xy=True)
    vlon, vlat = to_vn.transform(LON, LAT)
    # VN-2000 and WGS 84 coordinates of one point differ by a few hundred metres...
    from pyproj import Geod

    _, _, shift = Geod(ellps="WGS84").inv(LON, LAT, vlon, vlat)
    assert 100 < shift < 500
    # ...and the transformation round-trips to well under a metre.
    rlon, rlat = back.transform(vlon, vlat)
    _, _, error = Geod(ellps="WGS84").inv(LON, LAT, rlon, rlat)
    assert error < 1.0
    # VN-2000 / UTM 48N differs from WGS 84 / UTM 48N by the same shift.
    x1, y1 = Transformer.from_crs(4326, 3405, always_xy=True).transform(LON, LAT)
    x2, y2 = Transformer.from_crs(4326, 32648, always_xy=True).transform(LON, LAT)
    assert 100 < math.hypot(x1 - x2, y1 - y2) < 500


@pytest.mark.shared
@pytest.mark.skipif(not CENSUS.is_file(), reason="../shared/data is absent")
def test_census_communes_area_in_metric_crs():
    gdf = read_vector(CENSUS, required=["commune_vn", "population"])
    assert len(gdf) == 12
    crs = analysis_crs([gdf])
    assert crs.to_epsg() == 32648
    area_km2 = to_metric(gdf, crs).geometry.area.sum() / 1e6
    assert area_km2 == pytest.approx(683, rel=0.02)
    assert gdf["population"].astype(float).sum() == pytest.approx(39743)


def test_to_metric_repairs_polygons_broken_by_the_projection(caplog):
    import logging

    import geopandas as gpd
    from shapely.geometry import Polygon

    from covgap.data.crs import to_metric

    # a notch whose tip is 3e-10 degrees above the bottom edge: valid in degrees only
    notch = Polygon([(103.0, 22.0), (103.6, 22.0), (103.6, 22.3), (103.31, 22.3),
                     (103.3, 22.0 + 3e-10), (103.29, 22.3), (103.0, 22.3)])  # fmt: skip
    square = Polygon([(104.0, 22.0), (104.1, 22.0), (104.1, 22.1), (104.0, 22.1)])
    layer = gpd.GeoDataFrame({"commune_code": ["A", "B"]}, geometry=[square, notch], crs=4326)
    assert layer.is_valid.all()
    notes: list[str] = []
    out = to_metric(layer, CRS.from_epsg(32648), notes=notes, label="c.geojson")
    assert out.is_valid.all() and list(out["commune_code"]) == ["A", "B"]
    assert out.geometry.iloc[0].equals(layer.to_crs(32648).geometry.iloc[0])  # untouched
    projected = layer.to_crs(32648).geometry.iloc[1].area  # about 2,000 km²
    assert abs(out.geometry.iloc[1].area - projected) < 1e-6 * projected  # a sliver off
    assert notes and notes[0].startswith(
        "c.geojson: 1 polygon(s) invalid once reprojected to EPSG:32648, repaired: commune B ("
    )
    with caplog.at_level(logging.WARNING, logger="covgap.data.crs"):
        to_metric(layer[["geometry"]], CRS.from_epsg(32648))  # no codes: by position
    assert "invalid once reprojected to EPSG:32648, repaired: feature 2 (" in caplog.text
