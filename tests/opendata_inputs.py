"""Small open-data inputs in their genuine formats, for ``covgap prepare`` tests and benchmarks.

Everything is generated here (no network): SRTM ``.hgt`` tiles (big-endian
int16 bytes), an OpenStreetMap ``.osm`` XML extract, a gzip OpenCelliD export
without header (with rows of other countries), a WorldPop-like population
GeoTIFF and a VN-2000 (EPSG:3405) shapefile of communes with ``MA_XA``/``TEN_XA``.

The three communes straddle 104° E at 21.4° N, so the DEM needs the two tiles
N21E103 and N21E104; commune ``11111`` has village points, ``11112`` too,
``11113`` has none.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

# communes (lon0, lat0, lon1, lat1), code, name
COMMUNES = [
    ((103.95, 21.40, 104.00, 21.45), "11111", "Xã Tả Phìn"),
    ((104.00, 21.40, 104.05, 21.45), "11112", "Xã Sính Phình"),
    ((103.95, 21.36, 104.05, 21.40), "11113", "Xã Mường Báng"),
]
PROVINCE = "Điện Biên"
# place nodes: (lon, lat, place, name, name_vi); name "" = unnamed
PLACES = [
    (103.960, 21.410, "village", "Ban Huoi So", "Bản Huổi Só"),
    (103.980, 21.420, "hamlet", "", "Bản Tả Phìn"),
    (103.990, 21.440, "hamlet", "", ""),
    (103.970, 21.440, "isolated_dwelling", "Ban Na", "Bản Na"),
    (103.955, 21.446, "hamlet", "Ban Na", "Bản Na"),  # same name, same commune
    (104.010, 21.410, "village", "Ban Sinh Phinh", "Bản Sính Phình"),
    (104.030, 21.430, "locality", "Ban Na", "Bản Na"),
    (104.040, 21.445, "village", "", ""),
]
# a place area (closed way) inside commune 11112, and places outside every commune
PLACE_AREA = ((104.020, 21.440, 104.024, 21.444), "hamlet", "Bản Páo")
OUTSIDE_PLACES = [(103.90, 21.30, "village", "Bản Xa"), (104.20, 21.50, "hamlet", "Bản Ngoài")]
# power lines: (coords, power, voltage in V or None)
POWER_LINES = [
    ([(103.955, 21.412), (103.985, 21.422), (104.012, 21.412)], "minor_line", "22000"),
    ([(103.94, 21.35), (104.06, 21.46)], "line", "220000"),
]
BUILDINGS = [(104.0095, 21.4095), (104.0105, 21.4102), (104.0112, 21.4091)]
# towers: operator net -> list of site centres (lon, lat); 3 cells per site
SITES = {
    4: [(103.965, 21.415), (104.020, 21.425), (104.000, 21.370)],
    1: [(103.985, 21.435), (104.045, 21.390)],
    2: [(104.060, 21.470)],  # outside the communes, within a few km
}
HEADER_LINE = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)
HGT_SIZE = 1201  # 3 arc-seconds


def elevation(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Smooth synthetic terrain, metres."""
    return 900.0 + 350.0 * np.sin(lon * 60.0) * np.cos(lat * 45.0) + 150.0 * np.cos(lon * 23.0)


def write_hgt(folder: Path, lat: int, lon: int, *, voids: bool = True) -> Path:
    """Write an SRTM 3″ tile of :func:`elevation` (a few void cells if ``voids``)."""
    step = 1.0 / (HGT_SIZE - 1)
    lats = lat + 1 - np.arange(HGT_SIZE) * step
    lons = lon + np.arange(HGT_SIZE) * step
    z = np.round(elevation(lons[None, :], lats[:, None])).astype(">i2")
    if voids:
        z[480:483, 1150:1153] = -32768  # a small radar-shadow void in the study area
    path = folder / f"N{lat:02d}E{lon:03d}.hgt"
    path.write_bytes(z.tobytes())
    return path


def write_osm(path: Path) -> Path:
    """Write an OSM XML extract with places, a place area, power lines and buildings."""
    nodes: list[str] = []
    ways: list[str] = []
    nid = [0]

    def node(lon: float, lat: float, tags: dict[str, str] | None = None) -> int:
        nid[0] += 1
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        nodes.append(f'<node id="{nid[0]}" version="1" lat="{lat}" lon="{lon}">{body}</node>')
        return nid[0]

    def way(wid: int, refs: list[int], tags: dict[str, str]) -> None:
        body = "".join(f'<nd ref="{r}"/>' for r in refs)
        body += "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{wid}" version="1">{body}</way>')

    for lon, lat, place, name, name_vi in PLACES:
        tags = {"place": place}
        if name:
            tags["name"] = name
        if name_vi:
            tags["name:vi"] = name_vi
        node(lon, lat, tags)
    for lon, lat, place, name in OUTSIDE_PLACES:
        node(lon, lat, {"place": place, "name": name})
    (x0, y0, x1, y1), place, name = PLACE_AREA
    ring = [node(x0, y0), node(x1, y0), node(x1, y1), node(x0, y1)]
    way(100, [*ring, ring[0]], {"place": place, "name": name})
    for i, (coords, power, voltage) in enumerate(POWER_LINES):
        refs = [node(lon, lat) for lon, lat in coords]
        tags = {"power": power}
        if voltage:
            tags["voltage"] = voltage
        way(200 + i, refs, tags)
    for i, (lon, lat) in enumerate(BUILDINGS):
        d = 0.00005
        ring = [
            node(lon - d, lat - d),
            node(lon + d, lat - d),
            node(lon + d, lat + d),
            node(lon - d, lat + d),
        ]
        way(300 + i, [*ring, ring[0]], {"building": "house"})
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="covgap tests">\n'
    text += "\n".join(nodes + ways) + "\n</osm>\n"
    path.write_text(text, encoding="utf-8")
    return path


def cell_rows() -> list[str]:
    """OpenCelliD rows without header: the towers, other countries' cells, far Vietnamese cells."""
    rows = []
    rng = np.random.default_rng(7)
    cell = 1000
    for net, centres in SITES.items():
        for lon, lat in centres:
            for radio in ("GSM", "LTE", "LTE"):
                cell += 1
                dx, dy = rng.normal(0, 0.0004, 2)
                rows.append(
                    f"{radio},452,{net},1201,{cell},0,{lon + dx:.6f},{lat + dy:.6f},1500,"
                    f"{int(rng.integers(1, 50))},1,1459000000,1700000000,0"
                )
    # other countries' networks inside the area (China 460, Laos 457) and far away
    rows.append("LTE,460,0,1,1,0,103.990000,21.420000,1000,3,1,1459000000,1700000000,0")
    rows.append("GSM,457,1,1,2,0,104.020000,21.410000,1000,3,1,1459000000,1700000000,0")
    rows.append("LTE,460,1,1,3,0,116.400000,39.900000,1000,3,1,1459000000,1700000000,0")
    # Vietnamese cells far away (Hà Nội)
    rows.append("LTE,452,4,1,4,0,105.850000,21.030000,1000,3,1,1459000000,1700000000,0")
    return rows


def write_cells(path: Path) -> Path:
    """Write the OpenCelliD rows gzip-compressed, without header (as the country exports)."""
    with gzip.open(path, "wt", encoding="ascii") as handle:
        handle.write("\n".join(cell_rows()) + "\n")
    return path


def write_population(path: Path) -> Path:
    """A population GeoTIFF (people per ~90 m cell, EPSG:4326) covering the communes."""
    res = 1.0 / 1200
    west, north = 103.93, 21.47
    width, height = int(0.14 / res), int(0.13 / res)
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 1.5, size=(height, width)).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": Affine(res, 0, west, 0, -res, north),
        "nodata": -99999.0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return path


def communes_frame() -> gpd.GeoDataFrame:
    """The communes in WGS 84 with MA_XA / TEN_XA / TEN_TINH fields."""
    return gpd.GeoDataFrame(
        {
            "MA_XA": [c[1] for c in COMMUNES],
            "TEN_XA": [c[2] for c in COMMUNES],
            "TEN_TINH": [PROVINCE] * len(COMMUNES),
        },
        geometry=[shapely.box(*c[0]) for c in COMMUNES],
        crs=4326,
    )


def write_communes_shapefile(path: Path, crs: int = 3405) -> Path:
    """Write the communes as a VN-2000 shapefile (with ``.dbf``, ``.shx``, ``.prj``, ``.cpg``)."""
    communes_frame().to_crs(crs).to_file(
        path, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8"
    )
    return path


def write_inputs(folder: Path) -> dict[str, Any]:
    """Write every input into ``folder`` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tiles = folder / "srtm"
    tiles.mkdir(exist_ok=True)
    write_hgt(tiles, 21, 103)
    write_hgt(tiles, 21, 104)
    return {
        "communes": write_communes_shapefile(folder / "xa_vn2000.shp"),
        "osm": write_osm(folder / "extract.osm"),
        "dem": tiles,
        "cells": write_cells(folder / "452.csv.gz"),
        "population": write_population(folder / "worldpop.tif"),
    }


def write_osm_pbf(xml: Path, pbf: Path) -> Path:
    """Convert the ``.osm`` XML extract to ``.osm.pbf`` with pyosmium (a test dependency)."""
    import osmium

    writer = osmium.SimpleWriter(str(pbf), overwrite=True)
    try:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    finally:
        writer.close()
    return pbf


def write_worldcover(
    path: Path, west: float = 103.7, north: float = 21.7, size_deg: float = 0.6
) -> Path:
    """An ESA WorldCover-like tile (uint8 classes, EPSG:4326, ~30 m pixels).

    West of 104° E is tree cover (10), east of it cropland (40), with a
    built-up (50) block in the middle: a pattern whose classes the DEM grid
    must keep (mode resampling, never an average of codes).
    """
    res = 1.0 / 3600
    n = round(size_deg / res)
    lon = west + (np.arange(n) + 0.5) * res
    lat = north - (np.arange(n) + 0.5) * res
    classes = np.where(lon[None, :] < 104.0, 10, 40).repeat(n, axis=0).astype(np.uint8)
    block = (np.abs(lat[:, None] - 21.42) < 0.005) & (np.abs(lon[None, :] - 103.98) < 0.005)
    classes[block] = 50
    profile = {
        "driver": "GTiff",
        "width": n,
        "height": n,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:4326",
        "transform": Affine(res, 0, west, 0, -res, north),
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(classes, 1)
    return path
