"""Benchmark the per-site stage on Dask: 1 and 2 workers, processes and threads.

Workload: a slice of a nation-size synthetic grid.  The nation is Vietnam's
331,000 km² at 30 m (368 million cells) with 100,000 tower sites and 70,000
villages, i.e. 0.302 sites and 0.211 villages per km².  The slice is a seeded
synthetic DEM (smooth relief plus sharp ridges, 200-2,600 m) whose inner square
holds ``--sites`` sites at that density, with the 15 km signal radius of the
default scenario around it (256 sites by default: a 29.1 km inner square, a
59.2 km DEM of 1,975 x 1,975 cells); the DEM is a GeoTIFF that the tasks open
by path.  256 sites make 8 cluster tasks that run 3-6 s in all; with 64 sites
(about a second) the fixed cost of a call to the cluster (about 0.1 s:
scatter, scheduling, the last task's tail) is a tenth of the time, which a
national run (100,000 sites, hours) does not see.

Configurations, all through :func:`covgap.signal.compute_signal` with a
:class:`covgap.executor.DaskExecutor` made by
:func:`covgap.executor.dask_executor` as ``covgap run --workers N`` makes it
(batches of neighbouring sites, a few per task, merged into the best-server
raster by the caller):

* ``proc1``: a local cluster of 1 worker process, 1 thread;
* ``proc2``: 2 worker processes, 1 thread each (``covgap run --workers 2``);
* ``thr1``/``thr2``: 1 or 2 threads of this process (``processes=False``),
  which run in parallel only because the kernels release the GIL;
* ``serial``: the default in-process executor (numba's threads over the sites
  of each batch), for reference.

Every cluster is started and warmed up (imports, loading numba's cached
kernels) before timing.  The machine is a shared, noisy 2-vCPU VM, so each of
``--rounds`` rounds times every configuration once, in an order that rotates
from round to round, and the speed-ups are judged on the ratio *within* each
round (median over rounds).  Target: ``proc2`` at least 1.7x faster than
``proc1``.  The CPU time the process got is printed too: when other jobs hold
the cores, no configuration can use two.

It also measures what the national projection in ``docs/scaling.md`` needs:
kernel seconds per site on one core, the caller's merge time per site, bytes
read and returned per site, the workers' peak memory, and the link kernel's
time per demand-candidate pair (candidate coverage).

Run: ``python benchmarks/scaling.py`` (about 3-5 minutes; ``--rounds``,
``--sites``).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import covgap  # noqa: F401  (guards the `coverage` module name before numba loads)

NATION_KM2 = 331_000.0
NATION_SITES = 100_000
NATION_VILLAGES = 70_000
CELL_M = 30.0
CRS = "EPSG:32648"
ORIGIN = (300_000.0, 2_500_000.0)  # UTM 48N, north-west Vietnam


def synthetic_dem(n: int, seed: int = 7) -> np.ndarray:
    """Seeded relief: smooth hills, sharp ridges and small roughness, 200-2,600 m."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    z = np.zeros((n, n))
    for sigma, amp in [(120, 300.0), (40, 140.0), (12, 50.0), (3, 6.0)]:
        f = gaussian_filter(rng.standard_normal((n, n)), sigma)
        z += amp * f / f.std()
    ridge = gaussian_filter(rng.standard_normal((n, n)), 25)
    ridge = 1.0 - np.abs(ridge / ridge.std())
    z += 200.0 * np.clip(ridge, 0, None) ** 3
    z -= z.min()
    return (z + 200.0).astype(np.float32)


def build_slice(folder: Path, n_sites: int, radius_m: float, seed: int = 11) -> dict[str, Any]:
    """Write the slice's DEM and return its sites, villages and geometry."""
    import geopandas as gpd
    import rasterio
    from affine import Affine
    from shapely.geometry import Point

    density = NATION_SITES / NATION_KM2
    inner_km = math.sqrt(n_sites / density)
    side_m = inner_km * 1000.0 + 2 * radius_m + 4 * CELL_M
    n = math.ceil(side_m / CELL_M)
    z = synthetic_dem(n)
    transform = Affine(CELL_M, 0.0, ORIGIN[0], 0.0, -CELL_M, ORIGIN[1])
    path = folder / "dem.tif"
    profile = {
        "driver": "GTiff", "height": n, "width": n, "count": 1, "dtype": "float32",
        "crs": CRS, "transform": transform, "nodata": float("nan"),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z, 1)
    rng = np.random.default_rng(seed)
    lo = radius_m + 2 * CELL_M
    hi = lo + inner_km * 1000.0
    xy = rng.uniform(lo, hi, (n_sites, 2))
    sites = gpd.GeoDataFrame(
        {
            "site_id": [f"S{i:05d}" for i in range(n_sites)],
            "operator": [("Viettel", "MobiFone", "VinaPhone")[i % 3] for i in range(n_sites)],
            "radio": "LTE",
            "height_m": np.nan,
        },
        geometry=[Point(ORIGIN[0] + x, ORIGIN[1] - y) for x, y in xy],
        crs=CRS,
    )
    # villages at the national density over the whole slice (demand for the links)
    n_villages = round(NATION_VILLAGES / NATION_KM2 * (side_m / 1000.0) ** 2)
    vxy = rng.uniform(2 * CELL_M, side_m - 2 * CELL_M, (n_villages, 2))
    villages = gpd.GeoDataFrame(
        {"village_code": [f"V{i:05d}" for i in range(n_villages)], "households": 50.0},
        geometry=[Point(ORIGIN[0] + x, ORIGIN[1] - y) for x, y in vxy],
        crs=CRS,
    )
    return {
        "path": path, "sites": sites, "villages": villages, "cells": n,
        "inner_km": inner_km, "side_km": side_m / 1000.0,
    }  # fmt: skip


def worker_peak_rss() -> int:
    """Peak resident memory of this process, bytes (runs on a worker)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def start(name: str, stack: contextlib.ExitStack) -> Any:
    """Start one configuration's cluster as ``covgap run --workers`` does; closed by ``stack``."""
    from covgap.executor import dask_executor

    kw = {
        "proc1": {"workers": 1, "threads_per_worker": 1, "processes": True},
        "proc2": {"workers": 2, "threads_per_worker": 1, "processes": True},
        "thr1": {"workers": 1, "threads_per_worker": 1, "processes": False},
        "thr2": {"workers": 1, "threads_per_worker": 2, "processes": False},
    }[name]
    return stack.enter_context(dask_executor(**kw))


def cpu_seconds() -> float:
    """CPU time of this process, every thread (runs on a worker)."""
    return time.process_time()


def worker_cpu(executor: Any) -> float:
    """Total CPU seconds of a cluster's worker processes so far (0 for thread clusters)."""
    if executor is None or not hasattr(executor, "client"):
        return 0.0
    return float(sum(executor.client.run(cpu_seconds).values()))


def timed(fn: Any) -> tuple[float, float, Any]:
    """Wall and CPU seconds of this process (threads included) and the result."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sites", type=int, default=256)
    parser.add_argument("--candidates", type=int, default=200)
    args = parser.parse_args()
    import logging

    logging.getLogger("distributed").setLevel(logging.ERROR)

    import numba

    from covgap.data.terrain import DemFile, load_terrain
    from covgap.radio import signal as sig
    from covgap.radio.links import coverage_columns
    from covgap.radio.scenario import as_scenario

    scenario = as_scenario(None)
    work = Path(tempfile.mkdtemp(prefix="covgap-scaling-"))
    data = build_slice(work, args.sites, scenario.radius_m)
    terrain = load_terrain(data["path"])
    sites = data["sites"]
    print(
        f"slice: {data['side_km']:.1f} km square, {data['cells']:,} x {data['cells']:,} cells "
        f"at {CELL_M:.0f} m; {len(sites)} sites in the inner {data['inner_km']:.1f} km square "
        f"(national density {NATION_SITES / NATION_KM2:.3f}/km²); radius "
        f"{scenario.radius_m / 1000:.0f} km; {len(data['villages'])} villages"
    )
    print(f"cpu count: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")

    names = ["proc1", "proc2", "thr1", "thr2", "serial"]
    executors: dict[str, Any] = {}
    owned = contextlib.ExitStack()
    for name in names[:-1]:
        executors[name] = start(name, owned)
    from covgap.executor import SerialExecutor

    executors["serial"] = SerialExecutor()
    reference = sig.compute_signal(terrain, sites, scenario)  # warm-up of this process
    for name in names[:-1]:  # warm-up: imports and numba's cache in every worker
        out = sig.compute_signal(terrain, sites.iloc[:8], scenario, executor=executors[name])
        assert out.rsrp.shape == terrain.shape
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {"proc": [], "thr": []}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            before = worker_cpu(executors[name]) if name.startswith("proc") else 0.0
            wall, cpu, out = timed(
                lambda name=name: sig.compute_signal(
                    terrain, sites, scenario, executor=executors[name]
                )
            )
            if name.startswith("proc"):
                cpu = worker_cpu(executors[name]) - before
            assert np.array_equal(out.rsrp, reference.rsrp, equal_nan=True), name
            assert np.array_equal(out.best_site, reference.best_site), name
            walls[name].append(wall)
            cpus[name].append(cpu)
        ratios["proc"].append(walls["proc1"][-1] / walls["proc2"][-1])
        ratios["thr"].append(walls["thr1"][-1] / walls["thr2"][-1])
        print(
            f"round {r + 1}: "
            + ", ".join(f"{n} {walls[n][-1]:.2f} s" for n in names)
            + f"; proc1/proc2 {ratios['proc'][-1]:.2f}x, thr1/thr2 {ratios['thr'][-1]:.2f}x"
            + "; cores obtained "
            + ", ".join(f"{n} {cpus[n][-1] / walls[n][-1]:.2f}" for n in names)
            + f" (load {os.getloadavg()[0]:.1f})"
        )

    n = len(sites)
    got = {m: [c / w for c, w in zip(cpus[m], walls[m], strict=True)] for m in names}
    print("\nper-site stage, median over rounds (every result identical to the serial one):")
    for name in names:
        w = statistics.median(walls[name])
        print(
            f"  {name:<7} {w:6.2f} s  {1000 * w / n:6.1f} ms/site  (min {min(walls[name]):.2f},"
            f" max {max(walls[name]):.2f}; cores obtained {statistics.median(got[name]):.2f})"
        )
    proc = statistics.median(ratios["proc"])
    thr = statistics.median(ratios["thr"])
    print(f"2 worker processes vs 1: {proc:.2f}x faster (median of {ratios['proc']})")
    print(f"2 threads vs 1:          {thr:.2f}x faster (median of {ratios['thr']})")
    verdict = "met" if proc >= 1.7 else "NOT met"
    print(f"target: 2 workers >= 1.7x faster than 1 worker: {verdict} ({proc:.2f}x)")

    # -- figures for the national projection ------------------------------------
    peaks = {}
    for name in ("proc1", "proc2"):
        peaks[name] = max(executors[name].client.run(worker_peak_rss).values())
    table = sig._site_table(sites, terrain, scenario)
    xy = np.column_stack([table["x"], table["y"]])
    source = DemFile(terrain.path, terrain.transform, terrain.crs, terrain.shape)
    numba.set_num_threads(1)
    batches = [
        sig.SignalBatch("", part, xy[part], table["height_m"][part], table["eirp_dbm"][part])
        for part in sig.site_batches(xy, scenario.radius_m, sig.CHUNK_SITES)
    ]
    # CPU time of this thread (numba on 1 thread runs in it): robust to other jobs' load
    per_task: dict[int, dict[str, float]] = {}
    for size in (1, sig.MAX_BATCHES_PER_TASK):
        tasks = sig._tasks(batches, size)
        kernel, merge = [], []
        for _ in range(max(1, args.rounds)):
            rsrp = np.full(terrain.shape, np.nan, np.float32)
            best = np.full(terrain.shape, -1, np.int32)
            unknown = np.zeros(terrain.shape, bool)
            t_kernel = t_merge = 0.0
            read_bytes = tile_bytes = stack_bytes = 0
            for task in tasks:
                t0 = time.thread_time()
                # packed, as a cluster task sends it back (covgap.radio.signal.pack_tile)
                tile = sig.tasks_signal(task, source, scenario, True)
                t1 = time.thread_time()
                sig.merge_tile(rsrp, best, unknown, tile)
                t_kernel += t1 - t0
                t_merge += time.thread_time() - t1
                tile_bytes += tile.rsrp.nbytes + tile.best_site.nbytes
                tile_bytes += 0 if tile.unknown is None else tile.unknown.nbytes
                for b in task:
                    cells = sig.sites_window(terrain.shape, terrain.transform, b.xy,
                                             scenario.radius_m).cells  # fmt: skip
                    read_bytes += cells * 4
                    stack_bytes = max(stack_bytes, len(b.index) * cells * 4)
            kernel.append(t_kernel / n)
            merge.append(t_merge / n)
            assert np.array_equal(rsrp, reference.rsrp, equal_nan=True)
            assert np.array_equal(best, reference.best_site)
        per_task[size] = {
            "tasks": len(tasks),
            "kernel": statistics.median(kernel),
            "merge": statistics.median(merge),
            "read": read_bytes / n,
            "tile": tile_bytes / n,
            "stack": stack_bytes,
        }

    # candidate coverage (links): random candidates over the inner square
    rng = np.random.default_rng(5)
    cand = sites.sample(n=min(args.candidates, len(sites)), random_state=1).copy()
    jitter = rng.uniform(-3000, 3000, (len(cand), 2))
    from shapely.geometry import Point

    cand["geometry"] = [
        Point(p.x + dx, p.y + dy) for p, (dx, dy) in zip(cand.geometry, jitter, strict=True)
    ]
    cand = cand.reset_index(drop=True)
    villages = data["villages"]
    vx, vy = np.asarray(villages.geometry.x), np.asarray(villages.geometry.y)
    cx, cy = np.asarray(cand.geometry.x), np.asarray(cand.geometry.y)
    pairs = int(
        ((vx[None, :] - cx[:, None]) ** 2 + (vy[None, :] - cy[:, None]) ** 2
         <= scenario.radius_m**2).sum()
    )  # fmt: skip
    link_s = []
    for _ in range(max(1, args.rounds)):
        t0 = time.thread_time()
        coverage_columns(terrain, cand, villages, scenario)
        link_s.append(time.thread_time() - t0)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    pair_s = statistics.median(link_s) / max(1, pairs)
    print("\nfor the national projection (CPU time of one thread, median over rounds):")
    for size, f in per_task.items():
        print(
            f"  tasks of {size} batch(es) of {sig.CHUNK_SITES} sites ({f['tasks']} tasks):"
            f" kernel + window read {1000 * f['kernel']:.1f} ms/site,"
            f" caller's merge {1000 * f['merge']:.2f} ms/site,"
            f" DEM read {f['read'] / 1e6:.2f} MB/site,"
            f" tile returned {f['tile'] / 1e6:.2f} MB/site,"
            f" largest kernel stack {f['stack'] / 1e6:.0f} MB"
        )
    print(
        f"  worker peak RSS:        proc1 {peaks['proc1'] / 1e6:.0f} MB, "
        f"proc2 {peaks['proc2'] / 1e6:.0f} MB"
    )
    print(
        f"  links:                  {pairs:,} pairs within the radius in "
        f"{statistics.median(link_s):.2f} s: {1e6 * pair_s:.1f} µs/pair"
    )
    owned.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
