"""Existing towers: OpenCelliD cells grouped into sites, and/or a sites table.

OpenCelliD (https://opencellid.org) publishes one row per *cell* (a sector of
a base station on one technology), not per tower, and its positions are
crowd-sourced estimates: the average of where phones reported hearing the
cell, often displaced a few hundred metres towards the roads and villages
where the measurements were made.  Several cells of one operator around one
place are almost always one site, so :func:`cells_to_sites` groups them.

Clustering: per operator, cells are linked when they lie within
``distance_m`` (default :data:`CLUSTER_DISTANCE_M`, 300 m) of each other in
the metric CRS, and each connected group (single linkage) is a site.  300 m
is about the scatter of OpenCelliD estimates for sectors of one rural mast,
and much smaller than the spacing of rural masts (several km).  Single linkage
does not depend on row order, so the result is deterministic.  A site's
position is the mean of its cells' positions weighted by their ``samples``
(more measurements give a better estimate).  Site ids are the operator's
prefix and a number counted west to east (then south to north), e.g. ``VT-003``.

When both files are present, ``sites.csv`` is authoritative: a cell-derived
site of the same operator within ``distance_m`` of a listed site is replaced
by it (its cells count towards the listed site's ``n_cells``).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from covgap.data.antennas import DEFAULT_BEAMWIDTH_DEG, AntennaPattern, Sector, read_msi
from covgap.data.readers import (
    REQUIRED_BLANK,
    decode_text,
    parse_code,
    parse_number,
    read_bytes,
    read_table,
)
from covgap.data.text import fold, nfc
from covgap.errors import DatasetError, ValueParseError

__all__ = [
    "CELL_COLUMNS",
    "CLUSTER_DISTANCE_M",
    "OPERATORS",
    "RADIOS",
    "SECTOR_COLUMNS",
    "SITE_COLUMNS",
    "cells_to_sites",
    "load_towers",
    "merge_sites",
    "operator_name",
    "read_cells",
    "read_sites",
]

log = logging.getLogger(__name__)

CLUSTER_DISTANCE_M = 300.0
"""Default distance (m) within which cells of one operator form one site."""

ATTACH_DISTANCE_M = 1000.0
"""Distance (m) within which a cell cluster is attributed to a listed site.

OpenCelliD positions are averages of where phones heard a cell, pulled toward
where people are: offsets of several hundred metres from the mast are common.
When the operator's own ``sites.csv`` lists a site of the same operator this
close, the cluster is taken to be that site's cells rather than a new site.
"""

CELL_COLUMNS = (
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
)
"""OpenCelliD's CSV columns, in the order of its (header-less) exports."""

OPERATORS: dict[tuple[int, int], str] = {
    (452, 1): "MobiFone",
    (452, 2): "VinaPhone",
    (452, 4): "Viettel",
}
"""Operator names by (MCC, MNC)."""

_PREFIXES = {"MobiFone": "MF", "VinaPhone": "VNP", "Viettel": "VT"}
_ALIASES = {
    "mobifone": "MobiFone",
    "mobi": "MobiFone",
    "vinaphone": "VinaPhone",
    "vnpt": "VinaPhone",
    "vinaphone (vnpt)": "VinaPhone",
    "vnpt vinaphone": "VinaPhone",
    "viettel": "Viettel",
}

SITE_COLUMNS = ("site_id", "operator", "radio", "height_m", "power_source", "n_cells", "source")
"""Columns of the sites table (plus the point geometry)."""

RADIOS = ("GSM", "UMTS", "LTE", "NR")
"""Radio technologies modelled, in the order used to list a site's radios."""


def operator_name(mcc: int, net: int) -> str:
    """Return the operator of a network code: ``"Viettel"`` or ``"MCC-NET"``.

    Examples
    --------
    >>> operator_name(452, 4)
    'Viettel'
    >>> operator_name(452, 5)
    '452-05'
    """
    return OPERATORS.get((mcc, net), f"{mcc}-{net:02d}")


def _normal_operator(text: str) -> str:
    """Map an operator as typed in sites.csv to its canonical name."""
    key = fold(text)
    if key in _ALIASES:
        return _ALIASES[key]
    match = re.fullmatch(r"(\d{3})\s*[-/ ]\s*(\d{1,3})", key)
    if match:
        return operator_name(int(match.group(1)), int(match.group(2)))
    return nfc(text)


def _prefix(operator: str) -> str:
    if operator in _PREFIXES:
        return _PREFIXES[operator]
    return re.sub(r"[^A-Za-z0-9]+", "", fold(operator).upper()) or "OP"


def _radio_list(value: str, *, path: Path, row: int, column: str) -> list[str] | None:
    """Parse ``"LTE"`` or ``"GSM/LTE"``; ``None`` if a part is not modelled."""
    parts = [p.strip().upper() for p in re.split(r"[/,+;]", value) if p.strip()]
    if not parts:
        return []
    if any(p not in RADIOS for p in parts):
        return None
    return sorted(set(parts), key=RADIOS.index)


EXTENT_MARGIN_DEG = 0.5
"""Towers up to this many degrees (about 55 km) outside the communes are plausible."""

Extent = tuple[float, float, float, float]


def _inside(lon: float, lat: float, extent: Extent) -> bool:
    min_lon, min_lat, max_lon, max_lat = extent
    m = EXTENT_MARGIN_DEG
    return min_lon - m <= lon <= max_lon + m and min_lat - m <= lat <= max_lat + m


def _check_lonlat(
    lon: float, lat: float, *, path: Path, row: int, extent: Extent | None = None
) -> bool:
    """Check a tower position; return whether it lies near the dataset's extent.

    Raises
    ------
    ValueParseError
        If the position is not longitude/latitude, is (0, 0), or its lon and
        lat look swapped (outside the extent, inside it once swapped).
    """
    swapped = (
        f"lat and lon look swapped (lon {lon:g}, lat {lat:g}); swap the two columns"
        " (lon is the east-west coordinate, about 102-110 in Vietnam)"
    )
    if extent is not None and not _inside(lon, lat, extent) and _inside(lat, lon, extent):
        raise ValueParseError(swapped, path=path, row=row, column="lon")
    if not -90.0 <= lat <= 90.0 and -90.0 <= lon <= 90.0:
        raise ValueParseError(swapped, path=path, row=row, column="lat")
    if not -180.0 <= lon <= 180.0:
        raise ValueParseError(
            f"longitude must be between -180 and 180, got {lon:g}", path=path, row=row, column="lon"
        )
    if not -90.0 <= lat <= 90.0:
        raise ValueParseError(
            f"latitude must be between -90 and 90, got {lat:g}", path=path, row=row, column="lat"
        )
    if lon == 0.0 and lat == 0.0:
        raise ValueParseError(
            "position (0, 0) is a placeholder, not a tower; give its real lon/lat or "
            "delete the row",
            path=path,
            row=row,
            column="lon",
        )
    return extent is None or _inside(lon, lat, extent)


def _far_note(path: Path, rows: list[int], extent: Extent) -> str:
    shown = ", ".join(str(r) for r in rows[:10]) + (" ..." if len(rows) > 10 else "")
    return (
        f"{path}: {len(rows)} row(s) ({shown}) lie more than {EXTENT_MARGIN_DEG:g} degrees "
        f"(about {EXTENT_MARGIN_DEG * 111:.0f} km) outside the communes "
        f"(lon {extent[0]:.3f}..{extent[2]:.3f}, lat {extent[1]:.3f}..{extent[3]:.3f}); "
        "kept, but check their coordinates"
    )


def _first_cell(path: Path) -> str:
    """Return the first cell of the first line (to detect header-less exports)."""
    text, _ = decode_text(read_bytes(path), path)
    text = text.lstrip("\ufeff\r\n")[:256]
    return re.split(r"[,;\t\r\n]", text, maxsplit=1)[0].strip().strip('"')


def read_cells(
    path: str | Path, *, notes: list[str] | None = None, extent: Extent | None = None
) -> pd.DataFrame:
    """Read ``towers/cells.csv`` in OpenCelliD's format.

    The file may have OpenCelliD's header row or none (the raw exports have
    none; their column order is :data:`CELL_COLUMNS`).

    Parameters
    ----------
    path
        The CSV file.
    notes
        List receiving warnings (unknown networks, radios not modelled, cells
        far from the communes).
    extent
        Longitude/latitude bounds of the communes, to detect swapped
        coordinates and far-away cells.

    Returns
    -------
    pandas.DataFrame
        The OpenCelliD columns present (``radio`` upper-case; ``mcc``, ``net``,
        ``samples`` as integers; ``lon``, ``lat``, ``range``, ``averageSignal``
        as floats; others as text), plus ``operator``; index = data-row number.

    Raises
    ------
    MissingColumnError
        If radio, mcc, net, lon or lat is missing.
    ValueParseError
        On a bad number or a position outside the longitude/latitude range.
    """
    path = Path(path)
    names = list(CELL_COLUMNS) if _first_cell(path).upper() in (*RADIOS, "CDMA") else None
    raw = read_table(
        path,
        required=("radio", "mcc", "net", "lon", "lat"),
        optional=[c for c in CELL_COLUMNS if c not in ("radio", "mcc", "net", "lon", "lat")],
        names=names,
    )
    cells = raw.copy()
    rows = [int(r) for r in raw.index]

    def column(name: str, **kwargs: Any) -> list[float]:
        return [
            parse_number(raw.at[r, name], path=path, row=r, column=name, **kwargs) for r in rows
        ]

    cells["radio"] = [str(v).strip().upper() for v in raw["radio"]]
    for name in ("mcc", "net"):
        cells[name] = np.asarray(column(name, integer=True, minimum=0, blank=None), dtype="int64")
    cells["lon"] = np.asarray(column("lon", blank=None), dtype=float)
    cells["lat"] = np.asarray(column("lat", blank=None), dtype=float)
    far = [
        r
        for r, lon, lat in zip(rows, cells["lon"], cells["lat"], strict=True)
        if not _check_lonlat(lon, lat, path=path, row=r, extent=extent)
    ]
    if "samples" in raw.columns:
        samples = column("samples", integer=True, minimum=0, blank=1.0)
        cells["samples"] = np.asarray(samples, dtype="int64")
    for name in ("range", "averageSignal"):
        if name in raw.columns:
            cells[name] = np.asarray(column(name), dtype=float)
    cells["operator"] = [
        operator_name(int(m), int(n)) for m, n in zip(cells["mcc"], cells["net"], strict=True)
    ]

    def note(message: str) -> None:
        # Collected warnings reach the user through Dataset.problems; log them
        # loudly only when nobody collects them.
        log.log(logging.INFO if notes is not None else logging.WARNING, "%s", message)
        if notes is not None:
            notes.append(message)

    if far and extent is not None:
        note(_far_note(path, far, extent))
    unknown = sorted(set(cells["operator"]) - set(OPERATORS.values()))
    for op in unknown:
        n = int((cells["operator"] == op).sum())
        note(f"{path}: {n} cells of network {op} (not a known Vietnamese operator); kept as {op!r}")
    other = cells.loc[~cells["radio"].isin(RADIOS), "radio"]
    for radio, n in sorted(other.value_counts().items()):
        where = ", ".join(str(r) for r in other[other == radio].index[:5])
        note(
            f"{path}: {n} cells with radio {radio or '(blank)'!r} (rows {where}"
            f"{' ...' if n > 5 else ''}) are not modelled (expected GSM, UMTS, LTE or NR); ignored"
        )
    log.info("%s: %d cells", path, len(cells))
    return cells


def cells_to_sites(
    cells: pd.DataFrame, crs: CRS, *, distance_m: float = CLUSTER_DISTANCE_M
) -> gpd.GeoDataFrame:
    """Group cells into sites per operator (single linkage within ``distance_m``).

    Parameters
    ----------
    cells
        Cells from :func:`read_cells`; rows whose radio is not modelled are
        ignored.
    crs
        Metric CRS the clustering runs in (and of the result).
    distance_m
        Linking distance in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id``, ``operator``, ``radio`` (e.g. ``"GSM/LTE"``), ``height_m``
        (NaN), ``power_source`` (``""``), ``n_cells``, ``source`` (``"cells"``),
        points at the samples-weighted mean position of each group.
    """
    columns = list(SITE_COLUMNS)
    usable = cells[cells["radio"].isin(RADIOS)]
    if usable.empty:
        return gpd.GeoDataFrame(columns=columns, geometry=[], crs=crs)
    points = gpd.GeoSeries.from_xy(usable["lon"], usable["lat"], crs=4326).to_crs(crs)
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    weights = (
        np.maximum(usable["samples"].to_numpy(dtype=float), 1.0)
        if "samples" in usable.columns
        else np.ones(len(usable))
    )
    operators = usable["operator"].to_numpy()
    radios = usable["radio"].to_numpy()
    records: list[dict[str, Any]] = []
    for operator in sorted(set(operators)):
        idx = np.flatnonzero(operators == operator)
        pairs = cKDTree(xy[idx]).query_pairs(r=distance_m, output_type="ndarray")
        graph = coo_matrix(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx))
        )
        _, labels = connected_components(graph, directed=False)
        groups = []
        for label in np.unique(labels):
            members = idx[labels == label]
            w = weights[members]
            x = float(np.average(xy[members, 0], weights=w))
            y = float(np.average(xy[members, 1], weights=w))
            spread = float(np.max(np.hypot(xy[members, 0] - x, xy[members, 1] - y)))
            groups.append((round(x, 1), round(y, 1), x, y, members, spread))
        groups.sort(key=lambda g: (g[0], g[1]))
        for number, (_, _, x, y, members, spread) in enumerate(groups, start=1):
            site_id = f"{_prefix(operator)}-{number:03d}"
            if spread > 3 * distance_m:
                log.warning(
                    "site %s groups %d cells spread over %.0f m (chained clusters?)",
                    site_id,
                    len(members),
                    spread,
                )
            records.append(
                {
                    "site_id": site_id,
                    "operator": operator,
                    "radio": "/".join(sorted(set(radios[members]), key=RADIOS.index)),
                    "height_m": math.nan,
                    "power_source": "",
                    "n_cells": len(members),
                    "source": "cells",
                    "x": x,
                    "y": y,
                }
            )
    frame = pd.DataFrame(records)
    geometry = gpd.points_from_xy(frame.pop("x"), frame.pop("y"), crs=crs)
    return _typed(gpd.GeoDataFrame(frame, geometry=geometry, crs=crs))


def _typed(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give the sites table its documented column types."""
    sites = sites.reset_index(drop=True)
    for name in ("site_id", "operator", "radio", "power_source", "source"):
        sites[name] = sites[name].astype(object)
    sites["height_m"] = sites["height_m"].astype(float)
    sites["n_cells"] = sites["n_cells"].astype("int64")
    if "sectors" in sites.columns:
        sites["sectors"] = pd.Series(
            [v if isinstance(v, tuple) else () for v in sites["sectors"]],
            index=sites.index,
            dtype=object,
        )
    return sites


def read_sites(
    path: str | Path,
    *,
    notes: list[str] | None = None,
    extent: Extent | None = None,
    dataset_root: str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Read ``towers/sites.csv``.

    Parameters
    ----------
    path
        The CSV file: ``site_id`` (unique), ``operator``, ``lon``, ``lat``
        (WGS 84 degrees), optional ``height_m`` (antenna height above ground,
        m), ``radio`` (GSM, UMTS, LTE, NR or several joined by ``/``),
        ``power_source``, and the sector columns :data:`SECTOR_COLUMNS`
        (several rows with one ``site_id`` are that site's sectors, each with
        its ``azimuth_deg``; see ``docs/dataset.md``).
    notes
        List receiving warnings.
    extent
        Longitude/latitude bounds of the communes, to detect swapped
        coordinates and far-away sites.
    dataset_root
        Folder the ``pattern`` file names are relative to (default: the
        parent of the file's folder, i.e. the dataset folder).

    Returns
    -------
    geopandas.GeoDataFrame
        Sites as in :class:`~covgap.data.dataset.Dataset` (``source`` = ``"sites"``,
        ``n_cells`` = 0), in EPSG:4326; one row per site.  When the file has
        sector columns, a ``sectors`` column holds a tuple of
        :class:`~covgap.data.antennas.Sector` per site (empty: omnidirectional).

    Raises
    ------
    DatasetError
        On a duplicate ``site_id`` (naming both rows) that is not a sector
        row, rows of one site that disagree on its position, operator or
        height, a bad sector value or an unreadable pattern file.
    ValueParseError
        On a bad number, radio or position.
    """
    path = Path(path)
    raw = read_table(
        path,
        required=("site_id", "operator", "lon", "lat"),
        optional=("height_m", "radio", "power_source", *SECTOR_COLUMNS),
    )
    with_sectors = any(c in raw.columns for c in SECTOR_COLUMNS)
    root = Path(path).parent.parent if dataset_root is None else Path(dataset_root)
    sectors: dict[str, list[Sector]] = {}
    patterns: dict[Path, AntennaPattern] = {}
    records: list[dict[str, Any]] = []
    far: list[int] = []
    first: dict[str, int] = {}
    first_index: dict[str, int] = {}
    for r in raw.index:
        row = int(r)
        site_id = parse_code(raw.at[r, "site_id"])
        if not site_id:
            raise DatasetError(REQUIRED_BLANK, path=path, row=row, column="site_id")
        sector = _read_sector(raw, r, path, root, patterns) if with_sectors else None
        if site_id in first and with_sectors:
            _same_site(records[first_index[site_id]], raw, r, path, first[site_id])
            previous = sectors.get(site_id, [])
            if sector is None or not previous:
                raise DatasetError(
                    f"site {site_id!r} has several rows (also row {first[site_id]}): each "
                    "row of a site with sectors needs azimuth_deg",
                    path=path,
                    row=row if sector is None else first[site_id],
                    column="azimuth_deg",
                )
            previous.append(sector)
            continue
        if site_id in first:
            raise DatasetError(
                f"duplicate site_id {site_id!r} (also in row {first[site_id]})",
                path=path,
                row=row,
                column="site_id",
            )
        first[site_id] = row
        first_index[site_id] = len(records)
        if sector is not None:
            sectors[site_id] = [sector]
        operator = str(raw.at[r, "operator"]).strip()
        if not operator:
            raise DatasetError(REQUIRED_BLANK, path=path, row=row, column="operator")
        lon = parse_number(raw.at[r, "lon"], path=path, row=row, column="lon", blank=None)
        lat = parse_number(raw.at[r, "lat"], path=path, row=row, column="lat", blank=None)
        if not _check_lonlat(lon, lat, path=path, row=row, extent=extent):
            far.append(row)
        height = math.nan
        if "height_m" in raw.columns:
            height = parse_number(raw.at[r, "height_m"], path=path, row=row, column="height_m")
            if height <= 0 or height > 300:
                raise ValueParseError(
                    f"expected an antenna height in metres (0-300], got {height:g}",
                    path=path,
                    row=row,
                    column="height_m",
                )
        radio = ""
        if "radio" in raw.columns:
            text = str(raw.at[r, "radio"])
            parts = _radio_list(text, path=path, row=row, column="radio")
            if parts is None:
                raise ValueParseError(
                    f"expected GSM, UMTS, LTE or NR (or several joined by '/'), got {text!r}",
                    path=path,
                    row=row,
                    column="radio",
                )
            radio = "/".join(parts)
        power_source = nfc(str(raw.at[r, "power_source"])) if "power_source" in raw else ""
        records.append(
            {
                "site_id": site_id,
                "operator": _normal_operator(operator),
                "radio": radio,
                "height_m": height,
                "power_source": power_source,
                "n_cells": 0,
                "source": "sites",
                "lon": lon,
                "lat": lat,
            }
        )
    frame = pd.DataFrame(
        records,
        columns=[
            "site_id",
            "operator",
            "radio",
            "height_m",
            "power_source",
            "n_cells",
            "source",
            "lon",
            "lat",
        ],
    )
    if with_sectors:
        frame["sectors"] = pd.Series(
            [tuple(sectors.get(s, ())) for s in frame["site_id"]], index=frame.index, dtype=object
        )
    geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"), crs=4326)
    if far and extent is not None:
        message = _far_note(path, far, extent)
        log.log(logging.INFO if notes is not None else logging.WARNING, "%s", message)
        if notes is not None:
            notes.append(message)
    log.info("%s: %d sites", path, len(frame))
    return _typed(gpd.GeoDataFrame(frame, geometry=geometry, crs=4326))


SECTOR_COLUMNS = ("azimuth_deg", "beamwidth_deg", "tilt_deg", "gain_dbi", "pattern")
"""Optional sector columns of ``sites.csv``."""

#: Rows of one site may place it at most this far apart, m (then the first row wins).
SECTOR_POSITION_TOLERANCE_M = 50.0


def _sector_number(
    raw: pd.DataFrame, r: Any, path: Path, column: str, low: float, high: float
) -> float:
    if column not in raw.columns:
        return math.nan
    value = parse_number(raw.at[r, column], path=path, row=int(r), column=column)
    if not math.isnan(value) and not low <= value <= high:
        raise ValueParseError(
            f"expected a value in [{low:g}, {high:g}], got {value:g}",
            path=path,
            row=int(r),
            column=column,
        )
    return value


def _read_sector(
    raw: pd.DataFrame, r: Any, path: Path, root: Path, patterns: dict[Path, AntennaPattern]
) -> Sector | None:
    """Return the sector of one row of sites.csv, or ``None`` for an omnidirectional row."""
    row = int(r)
    azimuth = _sector_number(raw, r, path, "azimuth_deg", 0.0, 360.0)
    beamwidth = _sector_number(raw, r, path, "beamwidth_deg", 1.0, 360.0)
    tilt = _sector_number(raw, r, path, "tilt_deg", -30.0, 30.0)
    gain = _sector_number(raw, r, path, "gain_dbi", -10.0, 40.0)
    name = str(raw.at[r, "pattern"]).strip() if "pattern" in raw.columns else ""
    if math.isnan(azimuth):
        given = [
            c
            for c, v in (("beamwidth_deg", beamwidth), ("tilt_deg", tilt), ("gain_dbi", gain))
            if not math.isnan(v)
        ] + (["pattern"] if name else [])
        if given:
            raise DatasetError(
                f"{given[0]} is given but azimuth_deg is blank: a sector needs its azimuth "
                "(leave all sector columns blank for an omnidirectional site)",
                path=path,
                row=row,
                column="azimuth_deg",
            )
        return None
    pattern = None
    if name:
        file = (root / name).resolve()
        if file not in patterns:
            if not file.is_file():
                raise DatasetError(
                    f"antenna pattern file {name!r} not found (looked for {file}; names are "
                    "relative to the dataset folder)",
                    path=path,
                    row=row,
                    column="pattern",
                )
            try:
                patterns[file] = read_msi(file)
            except DatasetError as exc:
                raise DatasetError(
                    f"antenna pattern {name!r}: {exc}", path=path, row=row, column="pattern"
                ) from None
        pattern = patterns[file]
    return Sector(
        azimuth_deg=azimuth % 360.0,
        beamwidth_deg=DEFAULT_BEAMWIDTH_DEG if math.isnan(beamwidth) else beamwidth,
        tilt_deg=0.0 if math.isnan(tilt) else tilt,
        gain_dbi=gain,
        pattern=pattern,
        row=row,
    )


def _same_site(
    record: dict[str, Any], raw: pd.DataFrame, r: Any, path: Path, first_row: int
) -> None:
    """Check that another row of a site agrees with its first row."""
    row = int(r)
    operator = _normal_operator(str(raw.at[r, "operator"]).strip())
    if operator != record["operator"]:
        raise DatasetError(
            f"operator {operator!r} differs from row {first_row} of the same site "
            f"({record['operator']!r})",
            path=path,
            row=row,
            column="operator",
        )
    lon = parse_number(raw.at[r, "lon"], path=path, row=row, column="lon", blank=None)
    lat = parse_number(raw.at[r, "lat"], path=path, row=row, column="lat", blank=None)
    north = (lat - record["lat"]) * 111_320.0
    east = (lon - record["lon"]) * 111_320.0 * math.cos(math.radians(lat))
    if math.hypot(north, east) > SECTOR_POSITION_TOLERANCE_M:
        raise DatasetError(
            f"position lies {math.hypot(north, east):,.0f} m from row {first_row} of the same "
            f"site (sectors of one site may differ by at most {SECTOR_POSITION_TOLERANCE_M:g} m)",
            path=path,
            row=row,
            column="lon",
        )
    if "height_m" in raw.columns:
        height = parse_number(raw.at[r, "height_m"], path=path, row=row, column="height_m")
        if not math.isnan(height) and not math.isclose(height, record["height_m"], abs_tol=1e-9):
            raise DatasetError(
                f"height {height:g} m differs from row {first_row} of the same site "
                f"({record['height_m']:g} m); covgap models one antenna height per site",
                path=path,
                row=row,
                column="height_m",
            )
    if "radio" in raw.columns:
        parts = _radio_list(str(raw.at[r, "radio"]), path=path, row=row, column="radio")
        if parts is None:
            raise ValueParseError(
                f"expected GSM, UMTS, LTE or NR (or several joined by '/'), got "
                f"{raw.at[r, 'radio']!r}",
                path=path,
                row=row,
                column="radio",
            )
        both = set(filter(None, record["radio"].split("/"))) | set(parts)
        record["radio"] = "/".join(sorted(both, key=RADIOS.index))


def merge_sites(
    from_cells: gpd.GeoDataFrame,
    from_file: gpd.GeoDataFrame,
    *,
    distance_m: float = CLUSTER_DISTANCE_M,
) -> gpd.GeoDataFrame:
    """Combine cell-derived sites with listed sites; listed sites win.

    A cell-derived site within ``max(distance_m, ATTACH_DISTANCE_M)`` of a
    listed site of the same operator is dropped; its cells are added to the
    listed site's ``n_cells`` and its radios fill a blank ``radio``.  Both
    inputs must share a metric CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        Listed sites first (file order), then the remaining cell-derived sites.
    """
    if from_file.empty:
        return _typed(from_cells.copy())
    if from_cells.empty:
        return _typed(from_file.copy())
    listed = from_file.copy().reset_index(drop=True)
    keep = np.ones(len(from_cells), dtype=bool)
    for i, site in enumerate(from_cells.itertuples()):
        same = listed.index[listed["operator"] == site.operator]
        if len(same) == 0:
            continue
        dist = listed.geometry[same].distance(site.geometry)
        j = dist.idxmin()
        if dist[j] <= max(distance_m, ATTACH_DISTANCE_M):
            keep[i] = False
            listed.at[j, "n_cells"] = int(listed.at[j, "n_cells"]) + int(site.n_cells)
            if not listed.at[j, "radio"]:
                listed.at[j, "radio"] = site.radio
            else:
                both = set(str(listed.at[j, "radio"]).split("/")) | set(site.radio.split("/"))
                listed.at[j, "radio"] = "/".join(sorted(both, key=RADIOS.index))
    merged = pd.concat([listed, from_cells[keep]], ignore_index=True)
    return _typed(gpd.GeoDataFrame(merged, geometry="geometry", crs=from_file.crs))


def load_towers(
    cells_path: Path | None,
    sites_path: Path | None,
    crs: CRS,
    *,
    distance_m: float = CLUSTER_DISTANCE_M,
    notes: list[str] | None = None,
    extent: Extent | None = None,
) -> tuple[pd.DataFrame | None, gpd.GeoDataFrame]:
    """Load cells and/or sites and return ``(cells, sites)`` with sites in ``crs``.

    Parameters
    ----------
    cells_path, sites_path
        ``towers/cells.csv`` and ``towers/sites.csv`` (``None`` if absent).
    crs
        Metric analysis CRS.
    distance_m
        Clustering and replacement distance in metres.
    notes
        List receiving warnings.
    extent
        Longitude/latitude bounds of the communes (swapped and far positions).
    """
    cells = read_cells(cells_path, notes=notes, extent=extent) if cells_path is not None else None
    from_cells = (
        cells_to_sites(cells, crs, distance_m=distance_m)
        if cells is not None
        else gpd.GeoDataFrame(
            columns=[
                "site_id",
                "operator",
                "radio",
                "height_m",
                "power_source",
                "n_cells",
                "source",
            ],
            geometry=[],
            crs=crs,
        )
    )
    if sites_path is not None:
        from_file = read_sites(sites_path, notes=notes, extent=extent).to_crs(crs)
        clash = set(from_file["site_id"]) & set(from_cells["site_id"])
        sites = merge_sites(from_cells, from_file, distance_m=distance_m)
        if clash & set(sites.loc[sites["source"] == "cells", "site_id"]):
            sites.loc[sites["source"] == "cells", "site_id"] = [
                f"cells:{s}" for s in sites.loc[sites["source"] == "cells", "site_id"]
            ]
    else:
        sites = _typed(from_cells)
    return cells, sites
