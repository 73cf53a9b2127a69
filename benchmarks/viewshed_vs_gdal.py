"""Benchmark: covgap's compiled viewshed against GDAL's ViewshedGenerate (and GRASS).

Run ``python benchmarks/viewshed_vs_gdal.py`` (see benchmarks/README.md).

* synthetic rough DEM with ridges, 2000 x 2000 cells at 30 m (seeded);
* 20 observers, 15 km radius, mast 30 m, receiver 1.5 m, cc = 0.75 (k = 4/3);
* GDAL in-process: ``osgeo.gdal.ViewshedGenerate`` on a MEM copy of the DEM,
  timing only the calls (median of ``--repeats`` passes). The pip Python
  has no ``osgeo``; the GDAL part runs in a subprocess of a Python that
  has it (``--gdal-python``, default ``/usr/bin/python3`` with Debian's
  python3-gdal);
* an exact line-of-sight reference: the sight line sampled every 0.2 cell
  with bilinear interpolation between cell centres, on random cells within
  the radius of each observer; both tools are judged against it;
* GRASS r.viewshed as a third column when ``grass`` is on PATH (skipped
  otherwise);
* the full signal computation (Deygout diffraction) per site, on one core and
  as a batch;
* every time is the median of ``--repeats`` rounds (default 5) over the 20
  sites; a round is one GDAL pass followed by one pass of each covgap timing,
  so that both tools see the same machine load; the spread is printed too
  (this shared VM's timings vary by up to 3x).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

import covgap  # noqa: F401  (guards the `coverage` name before numba loads)
from covgap import _raycast
from covgap.pathloss import median_loss_db  # noqa: F401  (compiled with the kernel)

N = 2000
CELL = 30.0
N_OBS = 20
RADIUS = 15_000.0
H_OBS = 30.0
H_TGT = 1.5
CC = 0.75
X0, Y0 = 500_000.0, 2_450_000.0
D_EARTH = 12_740_000.0
#: CPU seconds / wall seconds of every batch call: the cores the batch really got
#: (other jobs on a shared machine can leave it one core however many threads run)
CORES_USED: list[float] = []


def synthetic_dem(seed: int = 7) -> np.ndarray:
    """Rough karst-like terrain: smooth relief + sharp ridges + small roughness."""
    rng = np.random.default_rng(seed)
    z = np.zeros((N, N))
    for sigma, amp in [(120, 250.0), (40, 120.0), (12, 45.0), (3, 6.0)]:
        f = gaussian_filter(rng.standard_normal((N, N)), sigma)
        z += amp * f / f.std()
    ridge = gaussian_filter(rng.standard_normal((N, N)), 25)
    ridge = 1.0 - np.abs(ridge / ridge.std())
    z += 150.0 * np.clip(ridge, 0, None) ** 3
    z -= z.min()
    return (z + 200.0).astype(np.float32)


def observers(seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    margin = int(RADIUS / CELL) + 1
    return rng.integers(margin, N - margin, (N_OBS, 2)).astype(np.int64)


def sample_cells(obs: np.ndarray, per_obs: int, seed: int = 13) -> np.ndarray:
    """Random target cells within the radius of each observer: (n_obs, per_obs, 2)."""
    rng = np.random.default_rng(seed)
    rn = int(RADIUS / CELL)
    out = np.empty((len(obs), per_obs, 2), np.int64)
    for s, (r0, c0) in enumerate(obs):
        got = 0
        while got < per_obs:
            dr, dc = rng.integers(-rn, rn + 1, (2, per_obs * 2))
            ok = (np.hypot(dr, dc) * CELL <= RADIUS) & ((dr != 0) | (dc != 0))
            take = min(per_obs - got, int(ok.sum()))
            out[s, got : got + take, 0] = r0 + dr[ok][:take]
            out[s, got : got + take, 1] = c0 + dc[ok][:take]
            got += take
    return out


def reference(z: np.ndarray, obs: np.ndarray, cells: np.ndarray, step: float = 0.2) -> np.ndarray:
    """Exact line of sight on the bilinear surface through the cell centres."""
    vis = np.empty(cells.shape[:2], bool)
    for s, (r0, c0) in enumerate(obs):
        z0 = float(z[r0, c0]) + H_OBS
        for t_i, (rt, ct) in enumerate(cells[s]):
            length = float(np.hypot(rt - r0, ct - c0))
            m = max(int(length / step), 2)
            t = np.arange(1, m) / m
            rr = r0 + (rt - r0) * t
            cc = c0 + (ct - c0) * t
            ri = np.minimum(np.floor(rr).astype(int), N - 2)
            ci = np.minimum(np.floor(cc).astype(int), N - 2)
            fr = rr - ri
            fc = cc - ci
            zz = (
                z[ri, ci] * (1 - fr) * (1 - fc)
                + z[ri, ci + 1] * (1 - fr) * fc
                + z[ri + 1, ci] * fr * (1 - fc)
                + z[ri + 1, ci + 1] * fr * fc
            )
            d = t * length * CELL
            terrain_angle = (zz - CC * d * d / D_EARTH - z0) / d
            dt = length * CELL
            target_angle = (z[rt, ct] + H_TGT - CC * dt * dt / D_EARTH - z0) / dt
            vis[s, t_i] = target_angle >= terrain_angle.max()
    return vis


GDAL_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from osgeo import gdal
    gdal.UseExceptions()
    a = json.loads(sys.argv[1])
    z = np.load(a["dem"])
    obs = np.load(a["obs"]); cells = np.load(a["cells"])
    ds = gdal.GetDriverByName("MEM").Create("", z.shape[1], z.shape[0], 1, gdal.GDT_Float32)
    ds.SetGeoTransform((a["x0"], a["cell"], 0, a["y0"], 0, -a["cell"]))
    band = ds.GetRasterBand(1); band.WriteArray(z)
    vis = np.zeros(cells.shape[:2], bool)
    best = []
    for rep in range(a["repeats"]):
        times = []
        for s, (r0, c0) in enumerate(obs):
            x = a["x0"] + (c0 + 0.5) * a["cell"]; y = a["y0"] - (r0 + 0.5) * a["cell"]
            t = time.perf_counter()
            out = gdal.ViewshedGenerate(band, "MEM", "", [], x, y, a["h_obs"], a["h_tgt"],
                                        1.0, 0.0, 0.0, 255.0, a["cc"], gdal.GVM_Edge,
                                        a["radius"])
            times.append(time.perf_counter() - t)
            if rep == 0:
                gt = out.GetGeoTransform()
                arr = out.GetRasterBand(1).ReadAsArray()
                roff = int(round((a["y0"] - gt[3]) / a["cell"]))
                coff = int(round((gt[0] - a["x0"]) / a["cell"]))
                vis[s] = arr[cells[s, :, 0] - roff, cells[s, :, 1] - coff] == 1
            out = None
        best.append(times)
    runs = [float(np.sum(r)) / len(obs) for r in best]
    np.save(a["vis_out"], vis)
    print(json.dumps({"version": gdal.__version__, "per_site_s": float(np.median(runs)),
                      "runs_s": runs}))
    """
)


def run_gdal(python: str, work: Path, repeats: int) -> dict | None:
    probe = subprocess.run([python, "-c", "from osgeo import gdal"], capture_output=True)
    if probe.returncode != 0:
        print(f"GDAL: no osgeo in {python} (apt-get install python3-gdal); skipped")
        return None
    args = {
        "dem": str(work / "dem.npy"),
        "obs": str(work / "obs.npy"),
        "cells": str(work / "cells.npy"),
        "vis_out": str(work / "gdal_vis.npy"),
        "x0": X0,
        "y0": Y0,
        "cell": CELL,
        "h_obs": H_OBS,
        "h_tgt": H_TGT,
        "cc": CC,
        "radius": RADIUS,
        "repeats": repeats,
    }
    out = subprocess.run(
        [python, "-c", GDAL_SCRIPT, json.dumps(args)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["vis"] = np.load(work / "gdal_vis.npy")
    return result


def run_grass(work: Path, z: np.ndarray, obs: np.ndarray, cells: np.ndarray, n_sites: int):
    grass = shutil.which("grass")
    if grass is None:
        print("GRASS: `grass` not on PATH (apt-get install grass-core); column skipped")
        return None
    import rasterio
    from affine import Affine

    tif = work / "dem.tif"
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        height=N,
        width=N,
        count=1,
        dtype="float32",
        crs="EPSG:32648",
        transform=Affine(CELL, 0, X0, 0, -CELL, Y0),
    ) as dst:
        dst.write(z, 1)
    loc = work / "grassdb" / "loc"
    subprocess.run([grass, "-c", str(tif), "-e", str(loc)], check=True, capture_output=True)
    vis = np.zeros((n_sites, cells.shape[1]), bool)
    subprocess.run(
        [grass, str(loc / "PERMANENT"), "--exec", "r.in.gdal", f"input={tif}", "output=dem"],
        check=True,
        capture_output=True,
    )
    total = 0.0
    for s in range(n_sites):
        r0, c0 = obs[s]
        x = X0 + (c0 + 0.5) * CELL
        y = Y0 - (r0 + 0.5) * CELL
        out_tif = work / f"grass_{s}.tif"
        script = (
            f"g.region raster=dem && t0=$(date +%s.%N) && "
            f"r.viewshed -cb input=dem output=vs coordinates={x},{y} observer_elevation={H_OBS} "
            f"target_elevation={H_TGT} max_distance={RADIUS} refraction_coeff={1 - CC} "
            f"--overwrite --quiet && t1=$(date +%s.%N) && echo $t0 $t1 && "
            f"r.out.gdal input=vs output={out_tif} --overwrite --quiet -c"
        )
        res = subprocess.run(
            [grass, str(loc / "PERMANENT"), "--exec", "bash", "-c", script],
            check=True,
            capture_output=True,
            text=True,
        )
        t0, t1 = map(float, res.stdout.split()[-2:])
        total += t1 - t0
        with rasterio.open(out_tif) as src:
            arr = src.read(1)
        vis[s] = arr[cells[s, :, 0], cells[s, :, 1]] == 1
    return {"per_site_s": total / n_sites, "vis": vis}


def _median_ms(times: list[float]) -> float:
    return float(np.median(times)) * 1e3


def time_ours(
    z: np.ndarray, obs: np.ndarray, repeats: int, threads: int
) -> tuple[list[float], list[float], list[float], np.ndarray]:
    """Per-site seconds of each repetition: one core, batch (windows), full-grid API.

    One core: ``viewshed_one`` site after site into one reused window buffer
    (``numba.set_num_threads(1)``; the kernel is serial anyway). Batch:
    ``viewshed_windows`` on ``threads`` threads into a reused ``(n, w, w)``
    buffer (allocated and zeroed once, outside the timing, as a site-ranking
    loop does). Full grid: the public ``viewshed_many`` path, which allocates
    and returns ``(n, rows, cols)`` on every call (first-touch page faults
    included).
    """
    import numba

    zp, zpt = _raycast.layouts(z)
    heights = np.full(len(obs), H_OBS)
    hr, hc = _raycast.window_half(RADIUS, CELL, CELL, N, N)
    win = np.zeros((2 * hr + 1, 2 * hc + 1), np.uint8)
    wins = np.zeros((len(obs), 2 * hr + 1, 2 * hc + 1), np.uint8)

    def one(r0: int, c0: int) -> None:
        _raycast.viewshed_one(
            zp, zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 1, win, r0 - hr, c0 - hc
        )

    one(int(obs[0, 0]), int(obs[0, 1]))  # compile / load the cache
    _raycast.viewshed_windows(
        zp, zpt, obs[:2], heights[:2], H_TGT, RADIUS, CELL, CELL, CC, 1, wins[:2]
    )
    _raycast.viewshed_many(zp, zpt, obs[:2], heights[:2], H_TGT, RADIUS, CELL, CELL, CC, 1)
    one_t, batch_t, full_t = [], [], []
    for _ in range(repeats):
        numba.set_num_threads(1)
        t = time.perf_counter()
        for r0, c0 in obs:
            one(int(r0), int(c0))
        one_t.append((time.perf_counter() - t) / len(obs))
        numba.set_num_threads(threads)
        c = time.process_time()
        t = time.perf_counter()
        _raycast.viewshed_windows(zp, zpt, obs, heights, H_TGT, RADIUS, CELL, CELL, CC, 1, wins)
        wall = time.perf_counter() - t
        batch_t.append(wall / len(obs))
        CORES_USED.append((time.process_time() - c) / wall)
        t = time.perf_counter()
        states = _raycast.viewshed_many(zp, zpt, obs, heights, H_TGT, RADIUS, CELL, CELL, CC, 1)
        full_t.append((time.perf_counter() - t) / len(obs))
    for s in range(len(obs)):  # the windows hold exactly what the full grids hold
        r0, c0 = obs[s]
        full = states[s, r0 - hr : r0 + hr + 1, c0 - hc : c0 + hc + 1]
        if not np.array_equal(full, wins[s]):
            raise AssertionError(f"site {s}: windowed and full-grid results differ")
    return one_t, batch_t, full_t, states


def time_signal(
    z: np.ndarray, obs: np.ndarray, repeats: int, threads: int
) -> tuple[list[float], list[float]]:
    """Per-site seconds of the signal kernel (Deygout): one core, and batch on ``threads``."""
    import numba

    zp, zpt = _raycast.layouts(z)
    n_loss = int(RADIUS) + 2
    table = _raycast.median_loss_table(n_loss, 1.0, 900.0, H_OBS, H_TGT, 0, 0)
    tables = np.repeat(table[None], len(obs), axis=0)
    j_table = _raycast.knife_edge_table()
    lam = 299_792_458.0 / 900e6
    hr, hc = _raycast.window_half(RADIUS, CELL, CELL, N, N)
    win = np.full((2 * hr + 1, 2 * hc + 1), np.nan, np.float32)
    wins = np.full((len(obs), 2 * hr + 1, 2 * hc + 1), np.nan, np.float32)
    heights = np.full(len(obs), H_OBS)
    eirp = np.full(len(obs), 31.2)

    def one(r0: int, c0: int) -> None:
        _raycast.signal_one(
            zp, zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 31.2, table, 1.0, lam, 2,
            j_table, win, r0 - hr, c0 - hc,
        )  # fmt: skip

    def batch() -> None:
        _raycast.signal_windows(
            zp, zpt, obs, heights, eirp, tables, H_TGT, RADIUS, CELL, CELL, CC, 1.0, lam, 2,
            j_table, wins,
        )  # fmt: skip

    one(int(obs[0, 0]), int(obs[0, 1]))
    batch()
    one_t, batch_t = [], []
    for _ in range(repeats):
        numba.set_num_threads(1)
        t = time.perf_counter()
        for r0, c0 in obs:
            one(int(r0), int(c0))
        one_t.append((time.perf_counter() - t) / len(obs))
        numba.set_num_threads(threads)
        c = time.process_time()
        t = time.perf_counter()
        batch()
        wall = time.perf_counter() - t
        batch_t.append(wall / len(obs))
        CORES_USED.append((time.process_time() - c) / wall)
    return one_t, batch_t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gdal-python", default="/usr/bin/python3")
    parser.add_argument("--cells-per-observer", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--grass-sites", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    opts = parser.parse_args()

    import numba

    numba.set_num_threads(min(opts.threads, numba.config.NUMBA_NUM_THREADS))
    z = synthetic_dem()
    obs = observers()
    cells = sample_cells(obs, opts.cells_per_observer)
    print(
        f"DEM {N}x{N} at {CELL:.0f} m, relief {z.min():.0f}..{z.max():.0f} m; "
        f"{N_OBS} observers, radius {RADIUS / 1000:.0f} km, mast {H_OBS} m, "
        f"receiver {H_TGT} m, cc {CC}; {opts.cells_per_observer} reference cells/observer"
    )
    t = time.perf_counter()
    ref = reference(z, obs, cells)
    print(
        f"reference built in {time.perf_counter() - t:.1f} s "
        f"({ref.mean():.1%} of the sampled cells visible)"
    )

    threads = numba.get_num_threads()
    one_t: list[float] = []
    batch_t: list[float] = []
    full_t: list[float] = []
    sig_one_t: list[float] = []
    sig_batch_t: list[float] = []
    gdal = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.save(work / "dem.npy", z)
        np.save(work / "obs.npy", obs)
        np.save(work / "cells.npy", cells)
        grass = run_grass(work, z, obs, cells, min(opts.grass_sites, N_OBS))
        # Rounds: one GDAL pass, then one pass of each covgap timing, so that
        # both tools sample the same (shared, fluctuating) machine load.
        for _ in range(opts.repeats):
            g = run_gdal(opts.gdal_python, work, 1)
            if g is not None:
                if gdal is None:
                    gdal = {**g, "runs_s": []}
                gdal["runs_s"].append(g["per_site_s"])
            o, b, f, states = time_ours(z, obs, 1, threads)
            one_t += o
            batch_t += b
            full_t += f
            so, sb = time_signal(z, obs, 1, threads)
            sig_one_t += so
            sig_batch_t += sb
    if gdal is not None:
        gdal["per_site_s"] = float(np.median(gdal["runs_s"]))
    ours_vis = np.stack([states[s][cells[s, :, 0], cells[s, :, 1]] == 1 for s in range(N_OBS)])
    one, batch = _median_ms(one_t), _median_ms(batch_t)
    sig_one, sig_batch = _median_ms(sig_one_t), _median_ms(sig_batch_t)

    def agree(vis: np.ndarray, n: int = N_OBS) -> float:
        return float((vis[:n] == ref[:n]).mean())

    ours_agree = agree(ours_vis)
    rows = [("covgap (numba)", one, batch, ours_agree)]
    if gdal is not None:
        g_ms = gdal["per_site_s"] * 1e3
        rows.append((f"GDAL {gdal['version']} in-process", g_ms, g_ms, agree(gdal["vis"])))
    if grass is not None:
        n = len(grass["vis"])
        g_ms = grass["per_site_s"] * 1e3
        rows.append((f"GRASS r.viewshed ({n} sites)", g_ms, g_ms, agree(grass["vis"], n)))
        rows.append((f"covgap on the same {n} sites", one, batch, agree(ours_vis, n)))
    print()
    print(f"medians of {opts.repeats} repetitions over the {N_OBS} sites (ms per site)")
    print(f"{'tool':32s} {'1 core ms/site':>15s} {'batch ms/site':>14s} {'agreement':>10s}")
    for name, t1, tb, ag in rows:
        print(f"{name:32s} {t1:15.2f} {tb:14.2f} {ag:10.4%}")
    print(f"{'covgap signal (Deygout)':32s} {sig_one:15.2f} {sig_batch:14.2f}")
    print(f"{'covgap full-grid API':32s} {'':15s} {_median_ms(full_t):14.2f}")
    spread = [
        ("covgap 1 core", one_t),
        ("covgap batch", batch_t),
        ("signal 1 core", sig_one_t),
        ("signal batch", sig_batch_t),
    ]
    print(
        "spread (min..max ms/site): "
        + "; ".join(f"{k} {min(v) * 1e3:.2f}..{max(v) * 1e3:.2f}" for k, v in spread)
    )
    if gdal is not None:
        print(f"spread GDAL {min(gdal['runs_s']) * 1e3:.2f}..{max(gdal['runs_s']) * 1e3:.2f}")
    cores = float(np.median(CORES_USED))
    print(
        f"cores the batch calls got (process CPU time / wall time): median {cores:.2f}, "
        f"range {min(CORES_USED):.2f}..{max(CORES_USED):.2f} of {threads} threads"
    )
    if cores < 0.9 * threads:
        print(
            f"WARNING: the batch got {cores:.2f} of {threads} cores (other jobs hold the CPUs); "
            "its times measure the machine's load, not the kernel's scaling"
        )
    print(
        f"(batch: covgap on {threads} threads into reused per-site windows; full-grid API: "
        "viewshed_many allocating (n, rows, cols) per call. GDAL's viewshed is "
        "single-threaded, so its batch time per site is its one-core time)"
    )
    if gdal is None:
        print("targets: not judged (no GDAL)")
        return 0
    g = gdal["per_site_s"] * 1e3
    g_agree = agree(gdal["vis"])
    checks = [
        (f"agreement {ours_agree:.4%} >= GDAL's {g_agree:.4%}", ours_agree >= g_agree),
        (f"one core: {one:.2f} ms/site <= GDAL {g:.2f} ms/site ({g / one:.2f}x)", one <= g),
        (
            f"batch on {threads} cores: {g / batch:.2f}x faster than GDAL (>= 1.8x)",
            g / batch >= 1.8,
        ),
        (
            f"signal with diffraction, batch on {threads} cores: {sig_batch:.2f} ms/site "
            f"<= 2 x GDAL ({2 * g:.2f})",
            sig_batch <= 2 * g,
        ),
        (
            f"signal with diffraction, one core: {sig_one:.2f} ms/site <= 2 x GDAL ({2 * g:.2f})",
            sig_one <= 2 * g,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"[{'met' if ok else 'NOT met'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
