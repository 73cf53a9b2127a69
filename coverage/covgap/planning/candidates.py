"""Candidate tower sites: terrain high points, village-adjacent ground and the user's list.

Three sources are merged into one table of candidate sites, all in the
terrain's metric CRS.

Sources (rule)
--------------
* **terrain** (``kind`` ``peak``, ``ridge`` or ``shoulder``), from the DEM:

  - *peak*: a cell at least as high as every cell in the square window of
    side ``peak_window_m`` around it;
  - *ridge*: a cell at least ``ridge_tpi_m`` above the mean of the window of
    side ``ridge_window_m`` (topographic position index, Weiss 2001);
  - *shoulder*: a convex break of slope, a cell at least ``shoulder_tpi_m``
    above the mean of the small window of side ``shoulder_window_m``;

  each on slope <= ``max_slope_deg``, within ``max_distance_from_village_m``
  of a settlement (road and power access), inside the communes and outside
  the excluded zones; then thinned greedily to ``min_spacing_m`` in priority
  order: peaks by elevation, then ridges by index, then shoulders by index
  (highest first; ties by row and column).
* **village** (``kind`` ``village``): for each village of interest (the
  uncovered ones), the highest cells on habitable ground (slope <=
  ``max_slope_deg``) within ``village_radius_m`` of the village's
  settlements, up to ``per_village`` of them at least ``min_spacing_m``
  apart.
* **user** (``kind`` ``user``): every row of ``sites_candidates.csv``
  (``candidate_id``, ``lon``, ``lat`` in WGS 84 degrees, optional
  ``height_m``, ``operator``, ``note``), kept as given (no slope or distance
  filter), except inside an excluded zone (dropped, with a warning).

Merging: user candidates are always kept; a village or terrain candidate
closer than ``min_spacing_m`` to an already kept candidate is dropped, taking
user, then village (by village code), then terrain (by priority) in turn, so
the result is deterministic.  Past ``max_candidates`` the lowest-priority
terrain candidates are dropped.  Generated identifiers: ``T00001``... (terrain,
in priority order) and ``V-<village_code>-<k>`` (village).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from numba import njit
from pyproj import CRS, Transformer
from scipy.ndimage import maximum_filter, uniform_filter
from scipy.spatial import cKDTree

from covgap.data.dataset import FILES
from covgap.data.readers import POLYGON_TYPES, parse_number, read_table, read_vector
from covgap.errors import ConfigError, CRSError, DatasetError, TerrainError, ValueParseError
from covgap.radio.links import sample_elevation
from covgap.radio.scenario import Scenario, default_scenario

__all__ = [
    "CANDIDATES_FILE",
    "CANDIDATE_COLUMNS",
    "CandidateSettings",
    "dataset_candidates",
    "find_candidates",
    "read_user_candidates",
    "slope_degrees",
    "terrain_candidates",
    "village_candidates",
]

logger = logging.getLogger(__name__)

#: Where a dataset keeps the user's candidate list, relative to its folder.
CANDIDATES_FILE = FILES["candidates"]

#: Columns of the candidate table (besides ``geometry``).
CANDIDATE_COLUMNS = (
    "candidate_id",
    "source",
    "kind",
    "elevation_m",
    "slope_deg",
    "height_m",
    "operator",
    "note",
    "commune_code",
    "nearest_village",
    "village_distance_m",
)

_SOURCE_ORDER = {"user": 0, "village": 1, "terrain": 2}
_KIND_ORDER = {"peak": 0, "ridge": 1, "shoulder": 2}


@dataclass(frozen=True)
class CandidateSettings:
    """Constraints on candidate sites.

    Attributes
    ----------
    min_spacing_m
        Smallest distance between two generated candidates, m (400): rural
        macro sites stand 2-10 km apart and two masts 400 m apart cover
        nearly the same ground at 900 MHz, so 400 m keeps alternatives
        distinct while leaving over a thousand candidates in a 700 km²
        district (1,375 on the demo).
    max_slope_deg
        Steepest ground for a tower pad, degrees over one DEM cell (25): a
        10 x 10 m pad and its access track become costly earthworks beyond
        about 25° (47 %).
    max_distance_from_village_m
        Farthest a terrain candidate may lie from a settlement, m (3000):
        access track and power line lengths a district project can build.
    peak_window_m
        Side of the window a peak must dominate, m (450, 15 cells of 30 m).
    ridge_window_m
        Side of the window of the ridge index, m (1500): the scale of the
        district's ridges and valleys.
    ridge_tpi_m
        Height above the window mean that makes a ridge or upper slope, m
        (15: about 0.4 standard deviation of the index on the demo DEM;
        Weiss's upper-slope class starts at 0.5).
    shoulder_window_m
        Side of the window of the shoulder index, m (300).
    shoulder_tpi_m
        Height above the small window mean that makes a shoulder, m (5).
    village_radius_m
        Search radius around a village's settlements for village-adjacent
        candidates, m (1500: a half-hour walk, a short access track).
    per_village
        Village-adjacent candidates per village (3).
    excluded_zones
        Optional polygon file (GeoJSON, GeoPackage...) of zones where no
        tower may stand (protected forest, military, airport); ``None``.
    max_candidates
        Largest number of candidates kept (5000), dropping terrain
        candidates of the lowest priority first.
    """

    min_spacing_m: float = 400.0
    max_slope_deg: float = 25.0
    max_distance_from_village_m: float = 3000.0
    peak_window_m: float = 450.0
    ridge_window_m: float = 1500.0
    ridge_tpi_m: float = 15.0
    shoulder_window_m: float = 300.0
    shoulder_tpi_m: float = 5.0
    village_radius_m: float = 1500.0
    per_village: int = 3
    excluded_zones: Path | None = None
    max_candidates: int = 5000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "excluded_zones":
                if value is not None:
                    object.__setattr__(self, f.name, Path(value))
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"candidate settings: {f.name!r} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"candidate settings: {f.name!r} must be finite and >= 0")
        if self.max_slope_deg > 90:
            raise ConfigError("candidate settings: 'max_slope_deg' must be at most 90")
        if self.max_candidates < 1:
            raise ConfigError("candidate settings: 'max_candidates' must be at least 1")

    def with_overrides(self, **changes: Any) -> CandidateSettings:
        """Return a copy with some fields changed (validated)."""
        known = {f.name for f in dataclasses.fields(self)}
        for key in changes:
            if key not in known:
                raise ConfigError(f"candidate settings: unknown key {key!r}")
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- raster helpers


def _grid(terrain: Any) -> tuple[np.ndarray, Any, CRS | None]:
    if isinstance(terrain, tuple):
        z, transform = terrain[0], terrain[1]
        crs = terrain[2] if len(terrain) > 2 else None
    else:
        z, transform, crs = terrain.elevation, terrain.transform, getattr(terrain, "crs", None)
    z = np.asarray(z, dtype=np.float64)
    if transform.b != 0.0 or transform.d != 0.0:
        raise TerrainError("candidates need a north-up DEM (no rotation)")
    return z, transform, (CRS.from_user_input(crs) if crs is not None else None)


#: DEMs are filtered for terrain candidates in row blocks of about this many
#: cells (plus a halo), so memory does not grow with the area; a district's
#: DEM (3 million cells) is one block.
BLOCK_CELLS = 8_000_000


def _raw_grid(terrain: Any) -> tuple[np.ndarray, Any]:
    """Elevation (as stored, not copied) and transform of a Terrain or a tuple."""
    if isinstance(terrain, tuple):
        z, transform = terrain[0], terrain[1]
    else:
        z, transform = terrain.elevation, terrain.transform
    if transform.b != 0.0 or transform.d != 0.0:
        raise ValueError("candidates need a north-up DEM (no rotation)")
    return np.asarray(z), transform


def slope_degrees(elevation: np.ndarray, transform: Any) -> np.ndarray:
    """Slope of each cell in degrees from central differences (NaN next to nodata).

    Parameters
    ----------
    elevation
        2-D heights, m (NaN nodata).
    transform
        North-up affine transform of the grid.

    Returns
    -------
    numpy.ndarray
        float64 slope, degrees.
    """
    z = np.asarray(elevation, dtype=np.float64)
    if min(z.shape) < 2:
        return np.zeros_like(z)
    gy, gx = np.gradient(z, abs(transform.e), abs(transform.a))
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _slope_at(z: np.ndarray, transform: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`slope_degrees` at some cells, from each cell's 3 x 3 neighbourhood only.

    The slope is a central difference, so a neighbourhood cut from the grid
    (one-sided at the grid's edge, as for the whole grid) gives the same value
    without computing the slope of every cell.
    """
    n_rows, n_cols = z.shape
    out = np.zeros(len(rows))
    if min(n_rows, n_cols) < 2:
        return out
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        a, b = max(int(r) - 1, 0), min(int(r) + 2, n_rows)
        d, e = max(int(c) - 1, 0), min(int(c) + 2, n_cols)
        out[i] = slope_degrees(z[a:b, d:e], transform)[int(r) - a, int(c) - d]
    return out


def _cells(size_m: float, transform: Any) -> int:
    """Odd window size in cells for a window side in metres (at least 3)."""
    n = round(size_m / abs(transform.a))
    return max(3, n + (1 - n % 2))


def _nan_mean(z: np.ndarray, size: int) -> np.ndarray:
    valid = np.isfinite(z)
    total = uniform_filter(np.where(valid, z, 0.0), size=size, mode="constant")
    count = uniform_filter(valid.astype(np.float64), size=size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _mask(geometry: Any, shape: tuple[int, int], transform: Any, all_touched: bool) -> np.ndarray:
    """Cells inside ``geometry`` (by centre, or touched)."""
    if geometry is None or geometry.is_empty:
        return np.zeros(shape, dtype=bool)
    return rasterio.features.geometry_mask(
        [geometry], out_shape=shape, transform=transform, invert=True, all_touched=all_touched
    )


def _to_pixel(transform: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (col, row) of points (cell edges at integers)."""
    inv = ~transform
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f


def _centres(rows: np.ndarray, cols: np.ndarray, transform: Any) -> tuple[np.ndarray, np.ndarray]:
    x = transform.c + (cols + 0.5) * transform.a
    y = transform.f + (rows + 0.5) * transform.e
    return x, y


@njit(cache=True)
def _thin(xs: np.ndarray, ys: np.ndarray, spacing: float) -> np.ndarray:
    """Greedy thinning in the given order: keep a point unless a kept one is nearer than spacing."""
    n = xs.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    if n == 0:
        return keep
    if spacing <= 0.0:
        keep[:] = True
        return keep
    x0 = xs.min()
    y0 = ys.min()
    nbx = int((xs.max() - x0) / spacing) + 1
    nby = int((ys.max() - y0) / spacing) + 1
    # at most 4 points at mutual distance >= spacing fit in a square of side spacing
    buckets = np.full((nby, nbx, 4), -1, dtype=np.int64)
    s2 = spacing * spacing
    for i in range(n):
        bx = int((xs[i] - x0) / spacing)
        by = int((ys[i] - y0) / spacing)
        ok = True
        for yy in range(max(0, by - 1), min(nby, by + 2)):
            for xx in range(max(0, bx - 1), min(nbx, bx + 2)):
                for s in range(4):
                    j = buckets[yy, xx, s]
                    if j < 0:
                        break
                    dx = xs[i] - xs[j]
                    dy = ys[i] - ys[j]
                    if dx * dx + dy * dy < s2:
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                break
        if ok:
            for s in range(4):
                if buckets[by, bx, s] < 0:
                    buckets[by, bx, s] = i
                    keep[i] = True
                    break
    return keep


def _points_xy(gdf: Any) -> np.ndarray:
    if gdf is None or len(gdf) == 0:
        return np.empty((0, 2))
    geoms = gdf.geometry
    pts = geoms.where(geoms.geom_type == "Point", geoms.representative_point())
    return np.column_stack([np.asarray(pts.x, dtype=np.float64), np.asarray(pts.y, np.float64)])


def _to(gdf: Any, crs: CRS | None) -> Any:
    if gdf is None or crs is None or gdf.crs is None:
        return gdf
    if not CRS.from_user_input(gdf.crs).equals(crs):
        return gdf.to_crs(crs)
    return gdf


# --------------------------------------------------------------------------- sources


def terrain_candidates(
    terrain: Any,
    settings: CandidateSettings | None = None,
    *,
    area: Any = None,
    settlements_xy: np.ndarray | None = None,
    excluded: Any = None,
) -> pd.DataFrame:
    """Peaks, ridge and shoulder cells of the DEM, filtered and thinned.

    Parameters
    ----------
    terrain
        :class:`covgap.data.terrain.Terrain` or ``(elevation, transform[, crs])``.
    settings
        Constraints (default :class:`CandidateSettings`).
    area
        Optional shapely (multi)polygon in the terrain CRS: cell centres must
        lie inside it.
    settlements_xy
        ``(n, 2)`` settlement coordinates; cells farther than
        ``max_distance_from_village_m`` from all of them are dropped.
        ``None`` skips that filter.
    excluded
        Optional shapely geometry of excluded zones (cells touching it are
        dropped).

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``kind`` (``peak``/``ridge``/``shoulder``), ``score``
        (elevation for peaks, index in m otherwise), ``row``, ``col``, in
        priority order (thinned to ``min_spacing_m``).
    """
    settings = settings or CandidateSettings()
    elevation, transform = _raw_grid(terrain)
    n_rows, n_cols = elevation.shape
    area_mask = _mask(area, elevation.shape, transform, False) if area is not None else None
    excl_mask = _mask(excluded, elevation.shape, transform, True) if excluded is not None else None
    sizes = [
        _cells(settings.peak_window_m, transform),
        _cells(settings.ridge_window_m, transform),
        _cells(settings.shoulder_window_m, transform),
    ]
    # Row blocks with a halo wider than every filter: each block's inner rows
    # get exactly the values the whole grid would give them (one block for a
    # district's DEM), while memory stays at a few block-sized float64 arrays.
    halo = max(sizes) // 2 + 2
    step = max(1, BLOCK_CELLS // max(n_cols, 1))
    found: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {k: [] for k in _KIND_ORDER}
    for r0 in range(0, n_rows, step):
        a, b = max(r0 - halo, 0), min(r0 + step + halo, n_rows)
        z = np.asarray(elevation[a:b], dtype=np.float64)
        finite = np.isfinite(z)
        slope = slope_degrees(z, transform)
        ok = finite & (np.nan_to_num(slope, nan=90.0) <= settings.max_slope_deg)
        del slope
        if area_mask is not None:
            ok &= area_mask[a:b]
        if excl_mask is not None:
            ok &= ~excl_mask[a:b]
        low = np.where(finite, z, -np.inf)
        peak = ok & (low >= maximum_filter(low, size=sizes[0]))
        del low
        ridge_index = z - _nan_mean(z, sizes[1])
        shoulder_index = z - _nan_mean(z, sizes[2])
        ridge = ok & ~peak & (np.nan_to_num(ridge_index, nan=-np.inf) >= settings.ridge_tpi_m)
        shoulder = (
            ok
            & ~peak
            & ~ridge
            & (np.nan_to_num(shoulder_index, nan=-np.inf) >= settings.shoulder_tpi_m)
        )
        inner = slice(r0 - a, r0 - a + min(step, n_rows - r0))
        for kind, mask, score in (
            ("peak", peak, z),
            ("ridge", ridge, ridge_index),
            ("shoulder", shoulder, shoulder_index),
        ):
            rows, cols = np.nonzero(mask[inner])
            found[kind].append((rows + r0, cols, score[inner][rows, cols]))
    frames = []
    for kind, parts in found.items():
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        cols = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
        s = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
        order = np.lexsort((cols, rows, -s))
        rows, cols, s = rows[order], cols[order], s[order]
        x, y = _centres(rows, cols, transform)
        frames.append(
            pd.DataFrame({"x": x, "y": y, "kind": kind, "score": s, "row": rows, "col": cols})
        )
    cells = pd.concat(frames, ignore_index=True)
    if settlements_xy is not None and len(settlements_xy) and len(cells):
        dist, _ = cKDTree(settlements_xy).query(cells[["x", "y"]].to_numpy())
        cells = cells[dist <= settings.max_distance_from_village_m].reset_index(drop=True)
    keep = _thin(
        cells["x"].to_numpy(np.float64), cells["y"].to_numpy(np.float64), settings.min_spacing_m
    )
    out = cells[keep].reset_index(drop=True)
    logger.info(
        "terrain candidates: %d (%s) from %d cells",
        len(out),
        ", ".join(f"{k} {int((out['kind'] == k).sum())}" for k in _KIND_ORDER),
        len(cells),
    )
    return out


def village_candidates(
    terrain: Any,
    settlements: Any,
    village_codes: Iterable[str],
    settings: CandidateSettings | None = None,
    *,
    area: Any = None,
    excluded: Any = None,
) -> pd.DataFrame:
    """Highest habitable cells near each village's settlements.

    Parameters
    ----------
    terrain
        As for :func:`terrain_candidates`.
    settlements
        Points (or polygons, whose representative point is used) with
        ``village_code``, in the terrain CRS.
    village_codes
        Villages to serve (e.g. the uncovered ones).
    settings, area, excluded
        As for :func:`terrain_candidates`.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``kind`` (``village``), ``score`` (elevation),
        ``village_code``, ``rank`` (1 = highest), by village code then rank.
    """
    settings = settings or CandidateSettings()
    elevation, transform = _raw_grid(terrain)
    rows_n, cols_n = elevation.shape
    area_mask = _mask(area, elevation.shape, transform, False) if area is not None else None
    excl_mask = _mask(excluded, elevation.shape, transform, True) if excluded is not None else None
    codes = np.asarray([str(c) for c in settlements["village_code"]], dtype=object)
    xy = _points_xy(settlements)
    radius = settings.village_radius_m
    records = []
    for code in sorted({str(c) for c in village_codes}):
        pts = xy[codes == code]
        if not len(pts):
            logger.warning("village %s has no settlement point; no village candidate", code)
            continue
        cols_f, rows_f = _to_pixel(
            transform,
            np.array([pts[:, 0].min() - radius, pts[:, 0].max() + radius]),
            np.array([pts[:, 1].max() + radius, pts[:, 1].min() - radius]),
        )
        r0, r1 = max(0, int(np.floor(rows_f.min()))), min(rows_n, int(np.ceil(rows_f.max())) + 1)
        c0, c1 = max(0, int(np.floor(cols_f.min()))), min(cols_n, int(np.ceil(cols_f.max())) + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        # the window's slope from a one-cell halo: the values the whole grid gives
        ha, hb = max(r0 - 1, 0), min(r1 + 1, rows_n)
        hc, hd = max(c0 - 1, 0), min(c1 + 1, cols_n)
        zw = np.asarray(elevation[ha:hb, hc:hd], dtype=np.float64)
        slope = slope_degrees(zw, transform)[r0 - ha : r1 - ha, c0 - hc : c1 - hc]
        zw = zw[r0 - ha : r1 - ha, c0 - hc : c1 - hc]
        ok = np.isfinite(zw) & (np.nan_to_num(slope, nan=90.0) <= settings.max_slope_deg)
        if area_mask is not None:
            ok &= area_mask[r0:r1, c0:c1]
        if excl_mask is not None:
            ok &= ~excl_mask[r0:r1, c0:c1]
        rr, cc = np.mgrid[r0:r1, c0:c1]
        rr, cc = rr.ravel(), cc.ravel()
        cx, cy = _centres(rr, cc, transform)
        near = np.zeros(rr.size, dtype=bool)
        for px, py in pts:
            near |= (cx - px) ** 2 + (cy - py) ** 2 <= radius * radius
        sel = near & ok.ravel()
        rr, cc, cx, cy = rr[sel], cc[sel], cx[sel], cy[sel]
        elev = zw.ravel()[sel]
        order = np.lexsort((cc, rr, -elev))
        chosen: list[int] = []
        for i in order:
            if all(
                (cx[i] - cx[j]) ** 2 + (cy[i] - cy[j]) ** 2 >= settings.min_spacing_m**2
                for j in chosen
            ):
                chosen.append(int(i))
                if len(chosen) >= settings.per_village:
                    break
        for rank, i in enumerate(chosen, start=1):
            records.append(
                {
                    "x": float(cx[i]),
                    "y": float(cy[i]),
                    "kind": "village",
                    "score": float(elev[i]),
                    "village_code": code,
                    "rank": rank,
                }
            )
    columns = ["x", "y", "kind", "score", "village_code", "rank"]
    return pd.DataFrame.from_records(records, columns=columns)


def read_user_candidates(path: str | Path, crs: Any) -> gpd.GeoDataFrame:
    """Read ``sites_candidates.csv`` into points in the metric CRS.

    Parameters
    ----------
    path
        The CSV: ``candidate_id``, ``lon``, ``lat`` (WGS 84 degrees), optional
        ``height_m`` (antenna height above ground, m), ``operator``, ``note``.
    crs
        Target metric CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id``, ``height_m`` (NaN if blank), ``operator``, ``note``
        (``<NA>`` if blank), ``row`` (data-row number), points in ``crs``.

    Raises
    ------
    DatasetError
        Missing file or column, blank or duplicate ``candidate_id``, a
        coordinate or height that is not a number or out of range (each with
        its row and column).
    """
    path = Path(path)
    table = read_table(
        path, required=("candidate_id", "lon", "lat"), optional=("height_m", "operator", "note")
    )
    ids: list[str] = []
    lons: list[float] = []
    lats: list[float] = []
    heights: list[float] = []
    seen: dict[str, int] = {}
    for row, record in table.iterrows():
        row = int(row)
        cid = str(record["candidate_id"]).strip()
        if not cid:
            raise ValueParseError(
                "candidate_id is blank", path=path, row=row, column="candidate_id"
            )
        if cid in seen:
            raise DatasetError(
                f"candidate_id {cid!r} already used in row {seen[cid]}",
                path=path,
                row=row,
                column="candidate_id",
            )
        seen[cid] = row
        lon = parse_number(record["lon"], path=path, row=row, column="lon", blank=None)
        lat = parse_number(record["lat"], path=path, row=row, column="lat", blank=None)
        if not -180.0 <= lon <= 180.0:
            raise ValueParseError(
                f"longitude {lon:g} is outside -180..180", path=path, row=row, column="lon"
            )
        if not -90.0 <= lat <= 90.0:
            raise ValueParseError(
                f"latitude {lat:g} is outside -90..90 (are lon and lat swapped?)",
                path=path,
                row=row,
                column="lat",
            )
        height = math.nan
        if "height_m" in table.columns:
            height = parse_number(
                record["height_m"], path=path, row=row, column="height_m", minimum=0.0
            )
        ids.append(cid)
        lons.append(lon)
        lats.append(lat)
        heights.append(height)
    target = CRS.from_user_input(crs)
    x, y = Transformer.from_crs("EPSG:4326", target, always_xy=True).transform(lons, lats)

    def text(column: str) -> pd.Series:
        if column not in table.columns:
            return pd.Series(pd.NA, index=range(len(table)), dtype="string")
        values = table[column].astype("string").reset_index(drop=True)
        return values.mask(values.str.len() == 0)

    return gpd.GeoDataFrame(
        {
            "candidate_id": pd.array(ids, dtype="string"),
            "height_m": np.asarray(heights, dtype=np.float64),
            "operator": text("operator"),
            "note": text("note"),
            "row": np.asarray(table.index, dtype=np.int64),
        },
        geometry=gpd.points_from_xy(np.atleast_1d(x), np.atleast_1d(y)),
        crs=target,
    )


# --------------------------------------------------------------------------- merge


def _union(gdf: Any) -> Any:
    if gdf is None or len(gdf) == 0:
        return None
    return shapely.union_all(np.asarray(gdf.geometry.make_valid()))


def find_candidates(
    terrain: Any,
    *,
    communes: Any = None,
    settlements: Any = None,
    villages: Any = None,
    village_codes: Iterable[str] | None = None,
    user_csv: str | Path | None = None,
    settings: CandidateSettings | None = None,
    scenario: Scenario | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from the terrain, near villages and from the user's CSV.

    The rule is in the module docstring.

    Parameters
    ----------
    terrain
        :class:`covgap.data.terrain.Terrain` or ``(elevation, transform)``.
    communes
        Commune polygons with ``commune_code``: the area candidates are
        generated in, and the commune of each candidate (``None``: the whole
        DEM, no commune).
    settlements
        Settlement points with ``village_code``; if ``None``, the villages'
        representative points.
    villages
        Village polygons with ``village_code`` (used when ``settlements`` is
        ``None``).
    village_codes
        Villages that get village-adjacent candidates (e.g. the uncovered
        ones); ``None``: every village with a settlement.
    user_csv
        Path of ``sites_candidates.csv``, if any.
    settings
        Constraints (default :class:`CandidateSettings`).
    scenario
        Supplies the mast height written where ``height_m`` is blank
        (default: the packaged scenario).
    crs
        Metric CRS of the terrain when it is given as a tuple.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`CANDIDATE_COLUMNS` and point geometries in the terrain CRS,
        ordered user, village, terrain.
    """
    settings = settings or CandidateSettings()
    scenario = scenario or default_scenario()
    z, transform = _raw_grid(terrain)
    tcrs = terrain[2] if isinstance(terrain, tuple) and len(terrain) > 2 else None
    if not isinstance(terrain, tuple):
        tcrs = getattr(terrain, "crs", None)
    tcrs = CRS.from_user_input(tcrs) if tcrs is not None else None
    crs = tcrs if tcrs is not None else (CRS.from_user_input(crs) if crs is not None else None)
    if crs is None:
        raise CRSError("find_candidates: the terrain has no CRS; pass crs=")

    communes = _to(communes, crs)
    if settlements is None or len(settlements) == 0:
        settlements = villages if villages is not None else None
    settlements = _to(settlements, crs)
    area = _union(communes)
    excluded = None
    if settings.excluded_zones is not None:
        zones = read_vector(settings.excluded_zones, POLYGON_TYPES, default_crs=crs)
        excluded = _union(_to(zones, crs))
    sxy = _points_xy(settlements)

    # user
    users = None
    if user_csv is not None:
        users = read_user_candidates(user_csv, crs)
        if excluded is not None and len(users):
            inside = users.intersects(excluded).to_numpy()
            for cid in users.loc[inside, "candidate_id"]:
                logger.warning("user candidate %s lies in an excluded zone and is dropped", cid)
            users = users[~inside].reset_index(drop=True)

    # generated
    if village_codes is None:
        village_codes = (
            sorted({str(c) for c in settlements["village_code"]}) if settlements is not None else []
        )
    # when the user's list alone fills max_candidates every generated candidate
    # would be dropped below: do not spend a province-sized DEM pass on them
    full = users is not None and len(users) >= settings.max_candidates
    near = (
        village_candidates(
            terrain, settlements, village_codes, settings, area=area, excluded=excluded
        )
        if settlements is not None and not full
        else pd.DataFrame(columns=["x", "y", "kind", "score", "village_code", "rank"])
    )
    high = (
        terrain_candidates(
            terrain,
            settings,
            area=area,
            settlements_xy=sxy if len(sxy) else None,
            excluded=excluded,
        )
        if not full
        else pd.DataFrame(columns=["x", "y", "kind", "score", "row", "col"])
    )
    if full:
        logger.warning(
            "%d user candidates fill max_candidates=%d: no terrain or village candidate "
            "is generated",
            len(users),
            settings.max_candidates,
        )

    generated = pd.concat(
        [
            near.assign(source="village"),
            high.assign(source="terrain", village_code=pd.NA, rank=0),
        ],
        ignore_index=True,
    )
    if len(generated):
        xy = generated[["x", "y"]].to_numpy(np.float64)
        keep = np.ones(len(generated), dtype=bool)
        if users is not None and len(users):
            uxy = _points_xy(users)
            d, _ = cKDTree(uxy).query(xy)
            keep &= d >= settings.min_spacing_m
        sub = np.flatnonzero(keep)
        thinned = _thin(
            np.ascontiguousarray(xy[sub, 0]),
            np.ascontiguousarray(xy[sub, 1]),
            settings.min_spacing_m,
        )
        keep[:] = False
        keep[sub[thinned]] = True
        generated = generated[keep].reset_index(drop=True)
    n_users = 0 if users is None else len(users)
    room = settings.max_candidates - n_users
    if len(generated) > max(room, 0):
        logger.warning(
            "%d candidates exceed max_candidates=%d; the lowest-priority ones are dropped",
            len(generated) + n_users,
            settings.max_candidates,
        )
        generated = generated.iloc[: max(room, 0)]

    ids: list[str] = []
    t = 0
    for source, code, rank in zip(
        generated["source"], generated["village_code"], generated["rank"], strict=True
    ):
        if source == "village":
            ids.append(f"V-{code}-{int(rank)}")
        else:
            t += 1
            ids.append(f"T{t:05d}")
    gen = gpd.GeoDataFrame(
        {
            "candidate_id": pd.array(ids, dtype="string"),
            "source": generated["source"].astype("string").to_numpy(),
            "kind": generated["kind"].astype("string").to_numpy(),
            "height_m": np.full(len(generated), np.nan),
            "operator": pd.array([pd.NA] * len(generated), dtype="string"),
            "note": pd.array([pd.NA] * len(generated), dtype="string"),
        },
        geometry=gpd.points_from_xy(generated["x"], generated["y"]),
        crs=crs,
    )
    if users is not None and len(users):
        clash = users["candidate_id"].isin(set(ids)).to_numpy()
        if clash.any():
            first = int(np.flatnonzero(clash)[0])
            raise DatasetError(
                f"candidate_id {users['candidate_id'].iloc[first]!r} is also a generated "
                "identifier (T00001..., V-<village>-<k>); choose another",
                path=user_csv,
                row=int(users["row"].iloc[first]),
                column="candidate_id",
            )
        user_part = users.drop(columns=["row"]).assign(source="user", kind="user")
        out = pd.concat([user_part, gen], ignore_index=True)
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=crs)
    else:
        out = gen
    return _describe(out, (z, transform), communes, settlements, scenario)


def _describe(
    out: gpd.GeoDataFrame,
    grid: tuple[np.ndarray, Any],
    communes: Any,
    settlements: Any,
    scenario: Scenario,
) -> gpd.GeoDataFrame:
    """Add elevation, slope, default height, commune and nearest village."""
    z, transform = grid
    xy = _points_xy(out)
    n = len(out)
    out = out.copy()
    out["elevation_m"] = sample_elevation(grid, xy[:, 0], xy[:, 1]) if n else np.empty(0)
    cols_f, rows_f = _to_pixel(transform, xy[:, 0], xy[:, 1])
    r = np.floor(np.asarray(rows_f, dtype=np.float64)).astype(np.int64)
    c = np.floor(np.asarray(cols_f, dtype=np.float64)).astype(np.int64)
    inside = (r >= 0) & (r < z.shape[0]) & (c >= 0) & (c < z.shape[1])
    out["slope_deg"] = np.where(
        inside,
        _slope_at(z, transform, np.clip(r, 0, z.shape[0] - 1), np.clip(c, 0, z.shape[1] - 1)),
        np.nan,
    )
    outside = int((~inside).sum())
    if outside:
        logger.warning("%d candidate(s) lie outside the DEM (elevation unknown)", outside)
    out["height_m"] = out["height_m"].astype("float64").fillna(scenario.mast_height_m)

    commune = pd.array([pd.NA] * n, dtype="string")
    if communes is not None and len(communes) and n:
        joined = gpd.sjoin(
            out[["geometry"]], communes[["commune_code", "geometry"]], predicate="intersects"
        )
        joined = joined.sort_values("commune_code", kind="stable")
        first = joined[~joined.index.duplicated(keep="first")]
        commune = pd.Series(commune, index=out.index)
        commune.loc[first.index] = first["commune_code"].astype("string")
        commune = commune.array
    out["commune_code"] = commune
    nearest = pd.array([pd.NA] * n, dtype="string")
    distance = np.full(n, np.nan)
    sxy = _points_xy(settlements)
    if len(sxy) and n:
        distance, idx = cKDTree(sxy).query(xy)
        codes = np.asarray([str(v) for v in settlements["village_code"]], dtype=object)
        nearest = pd.array(codes[idx], dtype="string")
    out["nearest_village"] = nearest
    out["village_distance_m"] = distance
    out = out[[*CANDIDATE_COLUMNS, "geometry"]]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=out.crs).reset_index(drop=True)


def dataset_candidates(
    dataset: Any,
    terrain: Any,
    *,
    village_codes: Iterable[str] | None = None,
    settings: CandidateSettings | None = None,
    scenario: Scenario | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites of a loaded dataset (see :func:`find_candidates`).

    Reads ``towers/sites_candidates.csv`` from the dataset folder when it
    exists.

    Parameters
    ----------
    dataset
        A :class:`covgap.data.dataset.Dataset`.
    terrain
        Its DEM as a :class:`covgap.data.terrain.Terrain`.
    village_codes
        Villages that get village-adjacent candidates (typically
        ``find_gaps(dataset).uncovered``); ``None``: every village.
    settings, scenario
        As for :func:`find_candidates`.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    csv = Path(dataset.root) / CANDIDATES_FILE
    return find_candidates(
        terrain,
        communes=dataset.communes,
        settlements=dataset.settlements,
        villages=dataset.villages,
        village_codes=village_codes,
        user_csv=csv if csv.is_file() else None,
        settings=settings,
        scenario=scenario,
        crs=dataset.crs,
    )
