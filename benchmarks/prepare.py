"""Benchmark: ``covgap prepare``'s two heavy stages against plain references.

Run ``python benchmarks/prepare.py`` (see benchmarks/README.md).

* **OpenCelliD filter**: a generated export of ``--rows`` rows (default 5
  million, no header, as the per-country files; 2 % Vietnamese cells in the
  study area, the rest spread over the world, a few of other countries in the
  area) filtered by :func:`covgap.data.opencellid.filter_cells` to the
  communes plus the radius.  Reference: pandas reading the whole file at once
  (``pd.read_csv``) then the same bounding-box and polygon test.  Targets:
  under 60 s and under 1 GB peak memory.
* **DEM**: nine generated SRTM 3″ tiles (3 × 3 degrees around 21–24° N,
  103–106° E) mosaicked, void-filled, reprojected to UTM 48N at 92.8 m and
  clipped to a 2.6° box by :func:`covgap.data.dem_tiles.build_dem`.
  Reference: GDAL's ``gdalwarp`` on the same ``.hgt`` files (bilinear, same
  grid, no void filling).  Target: under 30 s.

Every measurement runs in a fresh subprocess whose peak resident memory
(``ru_maxrss``) is read after it ends; covgap and the reference alternate
within each of ``--repeats`` rounds because this shared VM's speed drifts.
Medians over the rounds are printed, with the per-round ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AREA_LONLAT = (103.2, 21.6, 103.8, 22.2)  # the communes plus the radius, roughly Tủa Chùa
DEM_BOX = (103.2, 21.2, 105.8, 23.8)
CHUNK_ROWS = 500_000


def write_cells(path: Path, rows: int, seed: int = 1) -> None:
    """OpenCelliD rows without header: 2 % in the area, the rest worldwide."""
    rng = np.random.default_rng(seed)
    radios = np.array(["GSM", "UMTS", "LTE", "NR"])
    with open(path, "w", encoding="ascii") as out:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            local = rng.random(n) < 0.02
            lon = np.where(local, rng.uniform(103.1, 103.9, n), rng.uniform(-180, 180, n))
            lat = np.where(local, rng.uniform(21.5, 22.3, n), rng.uniform(-60, 70, n))
            mcc = np.where(
                local, np.where(rng.random(n) < 0.97, 452, 460), rng.integers(200, 750, n)
            )
            net = rng.integers(1, 8, n)
            cell = rng.integers(1, 2**28, n)
            samples = rng.integers(1, 200, n)
            radio = radios[rng.integers(0, 4, n)]
            lines = [
                f"{r},{m},{t},{a},{c},0,{x:.6f},{y:.6f},1000,{s},1,1459000000,1700000000,0"
                for r, m, t, a, c, x, y, s in zip(
                    radio, mcc, net, cell % 60000, cell, lon, lat, samples, strict=True
                )
            ]
            out.write("\n".join(lines) + "\n")


def write_tiles(folder: Path) -> None:
    """Nine 3″ SRTM tiles with smooth relief and a few voids."""
    side = 1201
    step = 1.0 / (side - 1)
    for lat in range(21, 24):
        for lon in range(103, 106):
            lats = lat + 1 - np.arange(side) * step
            lons = lon + np.arange(side) * step
            z = 900 + 600 * np.sin(lons[None, :] * 17) * np.cos(lats[:, None] * 13)
            z = np.round(z).astype(">i2")
            z[600:604, 600:604] = -32768
            (folder / f"N{lat:02d}E{lon:03d}.hgt").write_bytes(z.tobytes())


CHILD = {
    "covgap-cells": """
        import geopandas as gpd, shapely
        from covgap.data.opencellid import filter_cells
        t0 = time.perf_counter()  # imports excluded
        area = gpd.GeoSeries([shapely.box(*AREA)], crs=4326).to_crs(32648)
        r = filter_cells(SRC, area.iloc[0], area.crs, OUT)
        result = {"kept": r.kept, "rows": r.rows}
    """,
    "pandas-cells": """
        import geopandas as gpd, numpy as np, pandas as pd, shapely
        from pyproj import Transformer
        t0 = time.perf_counter()  # imports excluded
        area = gpd.GeoSeries([shapely.box(*AREA)], crs=4326).to_crs(32648).iloc[0]
        df = pd.read_csv(SRC, header=None)
        box = (df[1] == 452) & df[6].between(AREA[0] - .05, AREA[2] + .05)
        box &= df[7].between(AREA[1] - .05, AREA[3] + .05)
        sub = df[box]
        t = Transformer.from_crs(4326, 32648, always_xy=True)
        x, y = t.transform(sub[6].to_numpy(), sub[7].to_numpy())
        keep = sub[shapely.contains_xy(area, x, y)]
        keep.to_csv(OUT, header=False, index=False)
        result = {"kept": len(keep), "rows": len(df)}
    """,
    "covgap-dem": """
        import geopandas as gpd, shapely
        from covgap.data.dem_tiles import build_dem
        t0 = time.perf_counter()  # imports excluded
        area = gpd.GeoSeries([shapely.box(*BOX)], crs=4326).to_crs(32648)
        r = build_dem([SRC], area.iloc[0], area.crs, OUT)
        result = {"shape": list(r.shape), "filled": r.voids_filled}
    """,
}


def run_child(kind: str, src: Path, out: Path) -> tuple[float, float, dict]:
    """Run one measurement in a fresh process: (seconds, peak MB, result)."""
    code = textwrap.dedent(CHILD[kind])
    prelude = (
        f"import json, time\nAREA = {AREA_LONLAT!r}\nBOX = {DEM_BOX!r}\n"
        f"SRC = {str(src)!r}\nOUT = {str(out)!r}\nt0 = time.perf_counter()\n"
    )
    tail = "\nprint(json.dumps({'seconds': time.perf_counter() - t0, **result}))\n"
    proc = subprocess.run(
        [sys.executable, "-c", prelude + code + tail],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "coverage"), "PATH": "/usr/bin:/bin"},
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return data.pop("seconds"), usage.ru_maxrss / 1024, data


def run_gdalwarp(folder: Path, out: Path) -> float:
    """gdalwarp over the tiles to the same grid (bilinear)."""
    from pyproj import Transformer

    t = Transformer.from_crs(4326, 32648, always_xy=True)
    xs, ys = t.transform(
        [DEM_BOX[0], DEM_BOX[2], DEM_BOX[0], DEM_BOX[2]],
        [DEM_BOX[1], DEM_BOX[1], DEM_BOX[3], DEM_BOX[3]],
    )
    res = 92.8
    te = [min(xs), min(ys), max(xs), max(ys)]
    cmd = [
        "gdalwarp",
        "-q",
        "-overwrite",
        "-t_srs",
        "EPSG:32648",
        "-tr",
        str(res),
        str(res),
        "-te",
        *map(str, te),
        "-r",
        "bilinear",
        "-ot",
        "Float32",
        "-dstnodata",
        "-32768",
        "-co",
        "COMPRESS=DEFLATE",
        *map(str, sorted(folder.glob("*.hgt"))),
        str(out),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="folder to keep the generated inputs in (reused)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="covgap-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cells = work / f"cells_{args.rows}.csv"
    if not cells.is_file():
        t0 = time.perf_counter()
        write_cells(cells, args.rows)
        print(
            f"generated {cells} ({cells.stat().st_size / 1e6:,.0f} MB) "
            f"in {time.perf_counter() - t0:.0f} s"
        )
    tiles = work / "tiles"
    if not tiles.is_dir():
        tiles.mkdir()
        write_tiles(tiles)
    rows: dict[str, list[float]] = {
        k: [] for k in ("covgap-cells", "pandas-cells", "covgap-dem", "gdalwarp")
    }
    mem: dict[str, list[float]] = {"covgap-cells": [], "pandas-cells": [], "covgap-dem": []}
    ratios_cells, ratios_dem = [], []
    for round_ in range(args.repeats):
        order = (
            ["covgap-cells", "pandas-cells"]
            if round_ % 2 == 0
            else ["pandas-cells", "covgap-cells"]
        )
        for kind in order:
            # a fresh process per measurement: RUSAGE_CHILDREN's max is over all children,
            # so the peak of this one is read from a wrapper process
            seconds, peak, result = isolated(kind, cells, work / f"{kind}.csv")
            rows[kind].append(seconds)
            mem[kind].append(peak)
            print(f"round {round_ + 1}: {kind:13s} {seconds:6.1f} s, peak {peak:6.0f} MB, {result}")
        ratios_cells.append(rows["pandas-cells"][-1] / rows["covgap-cells"][-1])
        order = ["covgap-dem", "gdalwarp"] if round_ % 2 == 0 else ["gdalwarp", "covgap-dem"]
        for kind in order:
            if kind == "gdalwarp":
                seconds = run_gdalwarp(tiles, work / "gdalwarp.tif")
                print(f"round {round_ + 1}: gdalwarp      {seconds:6.1f} s")
            else:
                seconds, peak, result = isolated(kind, tiles, work / "dem.tif")
                mem[kind].append(peak)
                print(
                    f"round {round_ + 1}: {kind:13s} {seconds:6.1f} s, "
                    f"peak {peak:6.0f} MB, {result}"
                )
            rows[kind].append(seconds)
        ratios_dem.append(rows["gdalwarp"][-1] / rows["covgap-dem"][-1])
    med = {k: statistics.median(v) for k, v in rows.items()}
    print()
    print(
        f"OpenCelliD filter, {args.rows:,} rows: covgap {med['covgap-cells']:.1f} s "
        f"(peak {max(mem['covgap-cells']):.0f} MB; targets < 60 s, < 1024 MB: "
        f"{'met' if med['covgap-cells'] < 60 and max(mem['covgap-cells']) < 1024 else 'NOT met'}); "
        f"pandas full read {med['pandas-cells']:.1f} s (peak {max(mem['pandas-cells']):.0f} MB); "
        f"pandas/covgap time ratio per round {', '.join(f'{r:.2f}' for r in ratios_cells)}"
    )
    print(
        f"DEM, nine 3″ tiles: covgap {med['covgap-dem']:.1f} s "
        f"(peak {max(mem['covgap-dem']):.0f} MB; "
        f"target < 30 s: {'met' if med['covgap-dem'] < 30 else 'NOT met'}); gdalwarp "
        f"{med['gdalwarp']:.1f} s; gdalwarp/covgap per round "
        f"{', '.join(f'{r:.2f}' for r in ratios_dem)}"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def isolated(kind: str, src: Path, out: Path) -> tuple[float, float, dict]:
    """Run :func:`run_child` in its own wrapper process so that ru_maxrss is this run's peak."""
    here = str(Path(__file__).parent)
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import prepare as b; "
        "from pathlib import Path; "
        f"print(json.dumps(b.run_child({kind!r}, Path({str(src)!r}), Path({str(out)!r}))))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, peak, result = json.loads(proc.stdout.strip().splitlines()[-1])
    return seconds, peak, result


if __name__ == "__main__":
    main()
