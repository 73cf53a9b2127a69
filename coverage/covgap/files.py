"""Deterministic, atomic file writing.

Every output is first written to a temporary file in the destination folder
and then renamed over the target with :func:`os.replace`, so an interrupted
run never leaves a half-written file.  Writers avoid anything that varies
between runs (timestamps, random ids, dictionary order), so the same inputs
give byte-identical files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "csv_text",
    "geojson_text",
    "json_text",
    "staged_outputs",
    "write_csv",
    "write_geojson",
    "write_json",
]

WGS84 = CRS.from_epsg(4326)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    path
        Destination file; its folder is created if needed.
    data
        The complete file content.

    Returns
    -------
    Path
        The destination path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | Path, text: str, *, bom: bool = False) -> Path:
    """Write ``text`` as UTF-8 (with a byte-order mark if ``bom``) atomically."""
    data = text.encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    return atomic_write_bytes(path, data)


MANIFEST = ".covgap-outputs.json"
"""File in an output folder listing what the last run wrote there."""


@contextlib.contextmanager
def staged_outputs(out_dir: str | Path) -> Iterator[Path]:
    """Write a run's outputs into a staging folder; move them into place only at the end.

    Inside the ``with`` block every output goes to a hidden staging folder in
    ``out_dir``.  If the block fails, the staging folder is removed and
    ``out_dir`` keeps the previous run's results untouched.  If it succeeds,
    each file is renamed into ``out_dir`` (atomic renames within one folder,
    done only once everything is written), files that the previous run wrote
    but this one did not are removed (the folder's manifest lists them), and
    other files in ``out_dir`` are never touched.

    Yields
    ------
    Path
        The staging folder to write into.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".covgap-staging-", dir=out))
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir() if p.is_file())
        manifest = out / MANIFEST
        previous: list[str] = []
        if manifest.is_file():
            try:
                previous = list(json.loads(manifest.read_text(encoding="utf-8")).get("files", []))
            except (ValueError, AttributeError):
                previous = []
        for name in names:
            os.replace(stage / name, out / name)
        for name in previous:
            if name not in names and "/" not in name and name != MANIFEST:
                (out / name).unlink(missing_ok=True)
        atomic_write_text(manifest, json.dumps({"files": names}, indent=1) + "\n")
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _plain(value: Any) -> Any:
    """Convert numpy/pandas scalars to JSON-ready Python values (NaN/NA -> None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def json_text(obj: Any) -> str:
    """Serialise ``obj`` as stable, human-readable JSON (UTF-8 text kept as is)."""
    return json.dumps(_plain(obj), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as JSON atomically; see :func:`json_text`."""
    return atomic_write_text(path, json_text(obj))


def _round_coords(geom: Any, digits: int) -> Any:
    return shapely.set_precision(geom, 10.0**-digits) if geom is not None else None


def geojson_text(
    gdf: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] | None = None,
    digits: int = 6,
    name: str | None = None,
) -> str:
    """Serialise a GeoDataFrame as RFC 7946 GeoJSON (WGS84), deterministically.

    Parameters
    ----------
    gdf
        Features to write; reprojected to WGS84 when in another CRS.
    columns
        Properties to keep, in this order (default: all but the geometry).
    digits
        Decimal places kept in coordinates (6 is about 0.1 m).
    name
        Optional collection name.
    """
    if gdf.crs is not None and CRS.from_user_input(gdf.crs) != WGS84:
        gdf = gdf.to_crs(WGS84)
    cols = list(columns) if columns is not None else [c for c in gdf.columns if c != "geometry"]
    features = []
    geometries = gdf.geometry.to_numpy()
    records = gdf[cols].to_dict(orient="records") if cols else [{} for _ in range(len(gdf))]
    for geom, props in zip(geometries, records, strict=True):
        shape = None
        if geom is not None and not geom.is_empty:
            shape = json.loads(shapely.to_geojson(_round_coords(geom, digits)))
        features.append(
            {
                "type": "Feature",
                "properties": {c: _plain(props[c]) for c in cols},
                "geometry": shape,
            }
        )
    collection: dict[str, Any] = {"type": "FeatureCollection"}
    if name is not None:
        collection["name"] = name
    collection["features"] = features
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_geojson(path: str | Path, gdf: gpd.GeoDataFrame, **kwargs: Any) -> Path:
    """Write ``gdf`` as GeoJSON atomically; see :func:`geojson_text`."""
    return atomic_write_text(path, geojson_text(gdf, **kwargs))


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (list, tuple)):
        return ";".join(_cell(v) for v in value)
    text = str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ (or a
    # control character) would run as a formula in Excel/LibreOffice.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        text = "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(rows: Iterable[Mapping[str, Any]] | pd.DataFrame, columns: Sequence[str]) -> str:
    """Render rows as CSV text (comma separated, CRLF line ends as Excel expects)."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict(orient="records")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def write_csv(
    path: str | Path,
    rows: Iterable[Mapping[str, Any]] | pd.DataFrame,
    columns: Sequence[str],
    *,
    bom: bool = True,
) -> Path:
    """Write rows as CSV atomically, UTF-8 with BOM by default so Excel shows Vietnamese."""
    return atomic_write_text(path, csv_text(rows, columns), bom=bom)
