"""Filter an OpenCelliD export down to the cells of an area, in constant memory.

OpenCelliD (https://opencellid.org, CC BY-SA 4.0) publishes its database as a
CSV (``cell_towers.csv.gz``, tens of millions of rows, or one file per
country, MCC 452 for Vietnam) with the columns
``radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal``;
the full export has that header line, the per-country exports have none.

:func:`filter_cells` reads the file in blocks of about :data:`BLOCK_BYTES`
(gzip is decompressed on the fly), parses only the ``mcc``, ``lon`` and
``lat`` columns of each block with pandas' C parser, and copies the original
lines of the rows it keeps: Vietnamese networks (MCC 452) inside the area.
Memory stays about a few times the block size whatever the file's length.
"""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from covgap.errors import DatasetError

__all__ = ["BLOCK_BYTES", "HEADER", "VIETNAM_MCC", "CellFilterResult", "filter_cells"]

log = logging.getLogger(__name__)

HEADER = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"
)
"""OpenCelliD's public header line."""
VIETNAM_MCC = 452
"""Mobile country code of Vietnam (ITU-T E.212)."""
BLOCK_BYTES = 32 * 1024 * 1024
"""Bytes of the file handled at a time."""
_MCC, _LON, _LAT = 1, 6, 7


@dataclass
class CellFilterResult:
    """Counts from :func:`filter_cells` (everything read is accounted for)."""

    rows: int = 0
    kept: int = 0
    other_country_in_area: int = 0
    outside: int = 0
    unreadable: int = 0
    unreadable_rows: list[int] = field(default_factory=list)
    header: bool = False


def _open(path: Path) -> IO[bytes]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _blocks(handle: IO[bytes], size: int) -> Iterator[bytes]:
    """Yield blocks of whole lines."""
    rest = b""
    while True:
        data = handle.read(size)
        if not data:
            if rest.strip():
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[: cut + 1]


def filter_cells(
    path: str | Path,
    area: shapely.Geometry,
    crs: CRS,
    out_path: str | Path,
    *,
    mcc: int = VIETNAM_MCC,
    block_bytes: int = BLOCK_BYTES,
) -> CellFilterResult:
    """Copy the cells of network ``mcc`` lying inside ``area`` to ``out_path``.

    Parameters
    ----------
    path
        OpenCelliD CSV, ``.csv`` or ``.csv.gz``, with or without the header line.
    area
        Polygon in ``crs`` (the communes buffered by the signal radius).
    crs
        Metric CRS of ``area``.
    out_path
        The CSV written: the header line, then the kept lines as they were.
    mcc
        Mobile country code kept (452, Vietnam).
    block_bytes
        Bytes handled at a time (memory bound).

    Returns
    -------
    CellFilterResult
        Rows read, kept, of another country inside the area, outside, and
        unreadable (no number in ``mcc``, ``lon`` or ``lat``; first rows listed).

    Raises
    ------
    DatasetError
        If the file cannot be read, or no row lies in the area.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError("file not found", path=path)
    left, bottom, right, top = area.bounds
    to_metric = Transformer.from_crs(4326, crs, always_xy=True)
    from_metric = Transformer.from_crs(crs, 4326, always_xy=True)
    corners = from_metric.transform(
        np.array([left, right, left, right, (left + right) / 2, (left + right) / 2]),
        np.array([bottom, bottom, top, top, bottom, top]),
    )
    lon_min, lon_max = float(np.min(corners[0])) - 0.05, float(np.max(corners[0])) + 0.05
    lat_min, lat_max = float(np.min(corners[1])) - 0.05, float(np.max(corners[1])) + 0.05
    shapely.prepare(area)
    result = CellFilterResult()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    first_row = 1
    try:
        with _open(path) as handle, open(tmp, "wb") as out:
            out.write(HEADER.encode() + b"\n")
            first = True
            for block in _blocks(handle, block_bytes):
                if first:
                    first = False
                    head = block[: block.find(b"\n") + 1]
                    if head.lstrip(b"\xef\xbb\xbf").lower().startswith(b"radio,"):
                        result.header = True
                        block = block[len(head) :]
                        if not block:
                            continue
                lines = block.splitlines()
                frame = pd.read_csv(
                    io.BytesIO(block),
                    header=None,
                    usecols=[_MCC, _LON, _LAT],
                    skip_blank_lines=False,
                    engine="c",
                    on_bad_lines="skip",
                )
                if len(frame) != len(lines):
                    raise DatasetError(
                        f"rows near data row {first_row} have a different number of columns; "
                        f"expected OpenCelliD's columns {HEADER}",
                        path=path,
                    )
                codes = pd.to_numeric(frame[_MCC], errors="coerce").to_numpy()
                lon = pd.to_numeric(frame[_LON], errors="coerce").to_numpy()
                lat = pd.to_numeric(frame[_LAT], errors="coerce").to_numpy()
                blank = np.fromiter((not line.strip() for line in lines), bool, len(lines))
                bad = ~blank & (np.isnan(codes) | np.isnan(lon) | np.isnan(lat))
                if bad.any():
                    numbers = first_row + np.flatnonzero(bad)
                    result.unreadable += int(bad.sum())
                    room = 20 - len(result.unreadable_rows)
                    result.unreadable_rows.extend(int(n) for n in numbers[: max(room, 0)])
                valid = ~blank & ~bad
                result.rows += int(valid.sum())
                box = (
                    valid
                    & (lon >= lon_min)
                    & (lon <= lon_max)
                    & (lat >= lat_min)
                    & (lat <= lat_max)
                )
                inside = np.zeros(len(lines), dtype=bool)
                idx = np.flatnonzero(box)
                if len(idx):
                    x, y = to_metric.transform(lon[idx], lat[idx])
                    inside[idx] = shapely.contains_xy(area, x, y)
                keep = inside & (codes == mcc)
                result.other_country_in_area += int((inside & (codes != mcc)).sum())
                result.outside += int((valid & ~inside).sum())
                result.kept += int(keep.sum())
                for i in np.flatnonzero(keep):
                    out.write(lines[i].rstrip(b"\r") + b"\n")
                first_row += len(lines)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"cannot read the file: {exc}", path=path) from None
    except pd.errors.ParserError as exc:
        tmp.unlink(missing_ok=True)
        raise DatasetError(f"not an OpenCelliD CSV: {exc}", path=path) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if result.kept == 0:
        tmp.unlink(missing_ok=True)
        raise DatasetError(
            f"no cell of MCC {mcc} lies in the area (communes + signal radius) among "
            f"{result.rows:,} rows; check that the file covers this province "
            "(OpenCelliD's export for MCC 452, or the world file)",
            path=path,
        )
    tmp.replace(out_path)
    log.info(
        "%s: %d rows, %d kept, %d of other countries in the area, %d unreadable",
        path,
        result.rows,
        result.kept,
        result.other_country_in_area,
        result.unreadable,
    )
    return result
