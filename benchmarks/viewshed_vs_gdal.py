"""Benchmark: covgap's compiled viewshed against GDAL's ViewshedGenerate (and GRASS).

Run ``python benchmarks/viewshed_vs_gdal.py`` (see benchmarks/README.md).

* synthetic rough DEM with ridges, 2000 x 2000 cells at 30 m (seeded);
* 20 observers, 15 km radius, mast 30 m, receiver 1.5 m, cc = 0.75 (k = 4/3);
* GDAL in-process: ``osgeo.gdal.ViewshedGenerate`` on a MEM copy of the DEM,
  timing only the calls. The pip Python has no ``osgeo``; the GDAL part runs
  in a subprocess of a Python that has it (``--gdal-python``, default
  ``/usr/bin/python3`` with Debian's python3-gdal);
* an exact line-of-sight reference: the sight line sampled every 0.2 cell
  with bilinear interpolation between cell centres, on random cells within
  the radius of each observer; both tools are judged against it;
* GRASS r.viewshed as a third column when ``grass`` is on PATH (skipped
  otherwise);
* the full signal computation (Deygout diffraction) per site.
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
    per_site = float(np.min(np.sum(best, axis=1))) / len(obs)
    np.save(a["vis_out"], vis)
    print(json.dumps({"version": gdal.__version__, "per_site_s": per_site}))
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


def time_ours(zp: np.ndarray, obs: np.ndarray, repeats: int) -> tuple[float, float, np.ndarray]:
    heights = np.full(len(obs), H_OBS)
    out = np.zeros((N, N), np.uint8)
    _raycast.viewshed_one(
        zp, int(obs[0, 0]), int(obs[0, 1]), H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 1, out
    )  # compile / load the cache
    _raycast.viewshed_many(zp, obs[:2], heights[:2], H_TGT, RADIUS, CELL, CELL, CC, 1)
    one = []
    for _ in range(repeats):
        t = time.perf_counter()
        for r0, c0 in obs:  # one reused output buffer (each site rewrites its circle)
            _raycast.viewshed_one(
                zp, int(r0), int(c0), H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 1, out
            )
        one.append((time.perf_counter() - t) / len(obs))
    batch = []
    for _ in range(repeats):
        t = time.perf_counter()
        states = _raycast.viewshed_many(zp, obs, heights, H_TGT, RADIUS, CELL, CELL, CC, 1)
        batch.append(time.perf_counter() - t)
    return min(one), min(batch), states


def time_signal(zp: np.ndarray, obs: np.ndarray, repeats: int) -> float:
    n_loss = int(RADIUS) + 2
    table = _raycast.median_loss_table(n_loss, 1.0, 900.0, H_OBS, H_TGT, 0, 0)
    j_table = _raycast.knife_edge_table(int((60.0 + 0.78) / 0.005) + 1)
    lam = 299_792_458.0 / 900e6
    out = np.full((N, N), np.nan, np.float32)

    def one(r0: int, c0: int, out: np.ndarray) -> None:
        _raycast.signal_one(
            zp, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 31.2, table, 1.0, lam, 2, j_table, out
        )

    one(int(obs[0, 0]), int(obs[0, 1]), out)
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        for r0, c0 in obs:
            one(int(r0), int(c0), out)
        best.append((time.perf_counter() - t) / len(obs))
    return min(best)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gdal-python", default="/usr/bin/python3")
    parser.add_argument("--cells-per-observer", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
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

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.save(work / "dem.npy", z)
        np.save(work / "obs.npy", obs)
        np.save(work / "cells.npy", cells)
        gdal = run_gdal(opts.gdal_python, work, opts.repeats)
        grass = run_grass(work, z, obs, cells, min(opts.grass_sites, N_OBS))

    zp = _raycast.pad(z)
    one, batch, states = time_ours(zp, obs, opts.repeats)
    ours_vis = np.stack([states[s][cells[s, :, 0], cells[s, :, 1]] == 1 for s in range(N_OBS)])
    sig = time_signal(zp, obs, opts.repeats)

    def agree(vis: np.ndarray, n: int = N_OBS) -> float:
        return float((vis[:n] == ref[:n]).mean())

    ours_agree = agree(ours_vis)
    rows = [("covgap (numba)", one, batch / N_OBS, ours_agree)]
    if gdal is not None:
        rows.append(
            (
                f"GDAL {gdal['version']} in-process",
                gdal["per_site_s"],
                gdal["per_site_s"],
                agree(gdal["vis"]),
            )
        )
    if grass is not None:
        n = len(grass["vis"])
        rows.append(
            (
                f"GRASS r.viewshed ({n} sites)",
                grass["per_site_s"],
                grass["per_site_s"],
                agree(grass["vis"], n),
            )
        )
        rows.append((f"covgap on the same {n} sites", one, batch / N_OBS, agree(ours_vis, n)))
    print()
    print(f"{'tool':32s} {'1 core ms/site':>15s} {'batch ms/site':>14s} {'agreement':>10s}")
    for name, t1, tb, ag in rows:
        print(f"{name:32s} {t1 * 1e3:15.2f} {tb * 1e3:14.2f} {ag:10.4%}")
    print(f"{'covgap signal (Deygout)':32s} {sig * 1e3:15.2f}")
    print(
        f"(batch: covgap on {numba.get_num_threads()} threads; GDAL's viewshed is "
        "single-threaded, so its batch time per site is its one-core time)"
    )
    if gdal is None:
        print("targets: not judged (no GDAL)")
        return 0
    g = gdal["per_site_s"]
    g_agree = agree(gdal["vis"])
    checks = [
        (f"agreement {ours_agree:.4%} >= GDAL's {g_agree:.4%}", ours_agree >= g_agree),
        (
            f"one core: {one * 1e3:.2f} ms/site <= GDAL {g * 1e3:.2f} ms/site ({g / one:.2f}x)",
            one <= g,
        ),
        (
            f"batch on 2 cores: {g / (batch / N_OBS):.2f}x faster than GDAL (>= 1.8x)",
            g / (batch / N_OBS) >= 1.8,
        ),
        (
            f"signal with diffraction: {sig * 1e3:.2f} ms/site <= 2 x GDAL ({2 * g * 1e3:.2f})",
            sig <= 2 * g,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"[{'met' if ok else 'NOT met'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
