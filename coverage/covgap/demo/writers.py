r"""Deterministic, atomic writers: GeoJSON, CSV, GeoTIFF and TOML.

Output is byte-identical across runs: GeoJSON has a fixed key order,
coordinates rounded to 6 decimals and one feature per line; CSVs have fixed
``\\n`` line endings; the GeoTIFF carries no timestamp.  Every file is written
to a temporary file in its folder and moved into place with ``os.replace``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import rasterio
import shapely
from shapely.geometry.base import BaseGeometry

from covgap.errors import DemoError
from covgap.files import atomic_write_bytes

__all__ = [
    "atomic_write",
    "csv_bytes",
    "geojson_bytes",
    "toml_bytes",
    "write_geotiff",
]

_DECIMALS = 6


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    atomic_write_bytes(path, data)


def _ring(coords: np.ndarray) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in np.round(np.asarray(coords)[:, :2], _DECIMALS):
        pt = [float(x), float(y)]
        if not out or out[-1] != pt:
            out.append(pt)
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygon parts of a geometry (make_valid may add slivers as lines)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts)


def _geometry(geom: BaseGeometry) -> dict[str, object]:
    kind = geom.geom_type
    if kind in ("Polygon", "MultiPolygon"):
        # Snap to the written precision first: rounding vertices one by one can
        # make a valid polygon self-intersect; set_precision keeps it valid.
        if not geom.is_valid:
            geom = _polygonal(shapely.make_valid(geom))
        geom = _polygonal(shapely.set_precision(geom, 10.0**-_DECIMALS))
        kind = geom.geom_type
    if kind == "Point":
        return {"type": "Point", "coordinates": _ring(np.asarray(geom.coords))[0]}
    if kind == "LineString":
        return {"type": "LineString", "coordinates": _ring(np.asarray(geom.coords))}
    if kind == "Polygon":
        geom = shapely.orient_polygons(geom)  # RFC 7946: exterior counter-clockwise
        rings = [geom.exterior, *geom.interiors]
        return {"type": "Polygon", "coordinates": [_ring(np.asarray(r.coords)) for r in rings]}
    if kind == "MultiPolygon":
        parts = [_geometry(p)["coordinates"] for p in geom.geoms]
        return {"type": "MultiPolygon", "coordinates": parts}
    raise DemoError(f"unsupported geometry {kind}")


def geojson_bytes(name: str, features: Iterable[tuple[dict[str, object], BaseGeometry]]) -> bytes:
    """Serialise features (properties in the given order, lon/lat geometry) as GeoJSON."""
    lines = []
    for props, geom in features:
        feature = {"type": "Feature", "properties": props, "geometry": _geometry(geom)}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps({"type": "FeatureCollection", "name": name}, ensure_ascii=False)[:-1]
    body = ",\n".join(lines)
    return f'{head}, "features": [\n{body}\n]}}\n'.encode()


def _cell(value: object) -> str:
    text = f"{value:.{_DECIMALS}f}" if isinstance(value, float) else str(value)
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool) -> bytes:
    r"""Serialise rows as CSV with ``\\n`` line endings, optionally UTF-8 with BOM."""
    lines = [",".join(header)]
    lines += [",".join(_cell(v) for v in row) for row in rows]
    text = "\n".join(lines) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def toml_bytes(values: dict[str, object]) -> bytes:
    """Serialise a flat mapping, with one level of tables, as TOML."""

    def fmt(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        return json.dumps(str(v), ensure_ascii=False)

    plain = [f"{k} = {fmt(v)}" for k, v in values.items() if not isinstance(v, dict)]
    out = "\n".join(plain) + "\n"
    for key, table in values.items():
        if isinstance(table, dict):
            out += f"\n[{key}]\n" + "".join(f"{k} = {fmt(v)}\n" for k, v in table.items())
    return out.encode()


def write_geotiff(
    path: Path,
    elevation: np.ndarray,
    transform: object,
    epsg: int,
    nodata: int,
    zlevel: int = 9,
) -> None:
    """Write an int16 DEM: tiled, DEFLATE with horizontal predictor, no timestamp.

    ``zlevel`` is DEFLATE's level (9, the smallest file; a province's DEM
    uses a faster level).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.tif", dir=path.parent)
    os.close(fd)
    try:
        profile = {
            "driver": "GTiff",
            "width": elevation.shape[1],
            "height": elevation.shape[0],
            "count": 1,
            "dtype": "int16",
            "crs": f"EPSG:{epsg}",
            "transform": transform,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "predictor": 2,
            "zlevel": zlevel,
        }
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(elevation.astype(np.int16), 1)
            dst.update_tags(AREA_OR_POINT="Area")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
