"""Benchmark: covgap's compiled viewshed against GDAL's ViewshedGenerate (and GRASS).

Run ``python benchmarks/viewshed_vs_gdal.py`` (see benchmarks/README.md).

* synthetic rough DEM with ridges, 2000 x 2000 cells at 30 m (seeded);
* 20 observers, 15 km radius, mast 30 m, receiver 1.5 m, cc = 0.75 (k = 4/3);
* GDAL in-process: ``osgeo.gdal.ViewshedGenerate`` on a MEM copy of the DEM,
  timing only the calls. The pip Python has no ``osgeo``; GDAL runs in a
  persistent subprocess of a Python that has it (``--gdal-python``, default
  ``/usr/bin/python3`` with Debian's python3-gdal), which times the sites it
  is sent;
* an exact line-of-sight reference: the sight line sampled every 0.2 cell
  with bilinear interpolation between cell centres, on random cells within
  the radius of each observer; both tools are judged against it;
* GRASS r.viewshed as a third column when ``grass`` is on PATH (skipped
  otherwise);
* the full signal computation (Deygout diffraction) per site, on one core and
  as a batch;
* ``--repeats`` rounds (default 7). In a round every site is timed with each
  tool, GDAL and covgap's one-core kernels alternating in chunks of
  ``--chunk`` sites, then covgap's batches run; times are medians over the
  rounds, and the targets are judged on the ratio of GDAL's time to covgap's
  *within* each round (median over rounds), so that both tools are compared
  under the same load on this shared VM, whose timings drift by up to 2x
  within a minute. The spread over rounds is printed too.
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

import covgap  # noqa: F401  (guards the `coverage` name before numba loads)
from covgap.radio import _raycast
from covgap.radio.pathloss import median_loss_db  # noqa: F401  (compiled with the kernel)

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

    def viewshed(s):
        r0, c0 = obs[s]
        x = a["x0"] + (c0 + 0.5) * a["cell"]; y = a["y0"] - (r0 + 0.5) * a["cell"]
        t = time.perf_counter()
        out = gdal.ViewshedGenerate(band, "MEM", "", [], x, y, a["h_obs"], a["h_tgt"],
                                    1.0, 0.0, 0.0, 255.0, a["cc"], gdal.GVM_Edge, a["radius"])
        return out, time.perf_counter() - t

    vis = np.zeros(cells.shape[:2], bool)
    for s in range(len(obs)):  # results (and a warm-up), untimed
        out, _ = viewshed(s)
        gt = out.GetGeoTransform()
        arr = out.GetRasterBand(1).ReadAsArray()
        roff = int(round((a["y0"] - gt[3]) / a["cell"]))
        coff = int(round((gt[0] - a["x0"]) / a["cell"]))
        vis[s] = arr[cells[s, :, 0] - roff, cells[s, :, 1] - coff] == 1
        out = None
    np.save(a["vis_out"], vis)
    print(json.dumps({"version": gdal.__version__}), flush=True)
    for line in sys.stdin:  # each line: the sites to time; answer: seconds per site
        times = []
        for s in json.loads(line):
            out, dt = viewshed(s)
            out = None
            times.append(dt)
        print(json.dumps(times), flush=True)
    """
)


class GdalWorker:
    """GDAL's in-process viewshed, in a persistent subprocess of a Python with ``osgeo``.

    The subprocess loads the DEM into a MEM dataset once, computes every
    site's result (untimed), then times the sites it is sent, one call each,
    so that GDAL passes can alternate with covgap's in the same round.
    """

    def __init__(self, python: str, work: Path) -> None:
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
        }
        self.proc = subprocess.Popen(
            [python, "-c", GDAL_SCRIPT, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.version = json.loads(self._line())["version"]
        self.vis = np.load(work / "gdal_vis.npy")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the GDAL worker stopped (exit code {self.proc.wait()})")
        return line

    def time(self, sites: list[int]) -> float:
        """Seconds GDAL's ViewshedGenerate calls took for these sites, in total."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(sites) + "\n")
        self.proc.stdin.flush()
        return float(sum(json.loads(self._line())))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait()


def gdal_worker(python: str, work: Path) -> GdalWorker | None:
    probe = subprocess.run([python, "-c", "from osgeo import gdal"], capture_output=True)
    if probe.returncode != 0:
        print(f"GDAL: no osgeo in {python} (apt-get install python3-gdal); skipped")
        return None
    return GdalWorker(python, work)


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
            f"r.viewshed -crb input=dem output=vs coordinates={x},{y} observer_elevation={H_OBS} "
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


class Kernels:
    """covgap's kernels on the benchmark inputs, with every buffer prepared once.

    One core: ``viewshed_one`` / ``signal_one`` site after site with
    ``numba.set_num_threads(1)`` (the kernels are serial anyway), into one
    reused per-site window. Batch: ``viewshed_windows`` / ``signal_windows``
    on ``threads`` threads (prange over sites) into reused ``(n, w, w)``
    buffers, allocated and filled once, as a site-ranking loop does. Full
    grid: the public ``viewshed_many`` path, which allocates and returns
    ``(n, rows, cols)`` on every call (first-touch page faults included).
    The signal kernels run with the median-loss table and three-edge Deygout
    diffraction. Per-DEM preparation (padded copy and its transpose) is done
    once, outside the timing, like GDAL's MEM copy.
    """

    def __init__(self, z: np.ndarray, obs: np.ndarray, threads: int) -> None:
        self.obs = obs
        self.threads = threads
        self.zp, self.zpt = _raycast.layouts(z)
        self.heights = np.full(len(obs), H_OBS)
        self.hr, self.hc = _raycast.window_half(RADIUS, CELL, CELL, N, N)
        shape = (2 * self.hr + 1, 2 * self.hc + 1)
        self.win = np.zeros(shape, np.uint8)
        self.wins = np.zeros((len(obs), *shape), np.uint8)
        self.table = _raycast.median_loss_table(int(RADIUS) + 2, 1.0, 900.0, H_OBS, H_TGT, 0, 0)
        self.tables = np.repeat(self.table[None], len(obs), axis=0)
        self.lam = 299_792_458.0 / 900e6
        self.eirp = np.full(len(obs), 31.2)
        self.swin = np.full(shape, np.nan, np.float32)
        self.swins = np.full((len(obs), *shape), np.nan, np.float32)
        self.cores: list[float] = []  # process CPU time / wall time of every batch call
        self.states = np.zeros(0, np.uint8)
        # compile / load the cache
        self.one([0])
        self.sig_one([0])
        self.batch()
        self.sig_batch()
        self.full()
        self.cores.clear()

    def one(self, sites: list[int]) -> float:
        """Seconds for the viewshed of these sites, one after the other, on one core."""
        import numba

        numba.set_num_threads(1)
        hr, hc, win, zp, zpt = self.hr, self.hc, self.win, self.zp, self.zpt
        t = time.perf_counter()
        for s in sites:
            r0, c0 = int(self.obs[s, 0]), int(self.obs[s, 1])
            _raycast.viewshed_one(
                zp, zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 1, win, r0 - hr, c0 - hc
            )
        return time.perf_counter() - t

    def sig_one(self, sites: list[int]) -> float:
        """Seconds for the signal of these sites, one after the other, on one core."""
        import numba

        numba.set_num_threads(1)
        hr, hc, win, zp, zpt = self.hr, self.hc, self.swin, self.zp, self.zpt
        t = time.perf_counter()
        for s in sites:
            r0, c0 = int(self.obs[s, 0]), int(self.obs[s, 1])
            _raycast.signal_one(
                zp, zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, 31.2, self.table, 1.0,
                self.lam, 2, win, r0 - hr, c0 - hc,
            )  # fmt: skip
        return time.perf_counter() - t

    def _batch(self, call: Callable[[], None]) -> float:
        import numba

        numba.set_num_threads(self.threads)
        c = time.process_time()
        t = time.perf_counter()
        call()
        wall = time.perf_counter() - t
        self.cores.append((time.process_time() - c) / wall)
        return wall

    def _viewshed_windows(self) -> None:
        _raycast.viewshed_windows(
            self.zp, self.zpt, self.obs, self.heights, H_TGT, RADIUS, CELL, CELL, CC, 1,
            self.wins,
        )  # fmt: skip

    def _signal_windows(self) -> None:
        _raycast.signal_windows(
            self.zp, self.zpt, self.obs, self.heights, self.eirp, self.tables, H_TGT,
            RADIUS, CELL, CELL, CC, 1.0, self.lam, 2, self.swins,
        )  # fmt: skip

    def batch(self) -> float:
        """Wall seconds for the viewshed of all sites as one batch on ``threads`` threads."""
        return self._batch(self._viewshed_windows)

    def sig_batch(self) -> float:
        """Wall seconds for the signal of all sites as one batch on ``threads`` threads."""
        return self._batch(self._signal_windows)

    def full(self) -> float:
        """Wall seconds for the public full-grid path (``viewshed_many``) over all sites."""
        import numba

        numba.set_num_threads(self.threads)
        t = time.perf_counter()
        self.states = _raycast.viewshed_many(
            self.zp, self.zpt, self.obs, self.heights, H_TGT, RADIUS, CELL, CELL, CC, 1
        )
        return time.perf_counter() - t

    def check_windows(self) -> None:
        """The per-site windows hold exactly what the full grids hold."""
        hr, hc = self.hr, self.hc
        for s in range(len(self.obs)):
            r0, c0 = self.obs[s]
            full = self.states[s, r0 - hr : r0 + hr + 1, c0 - hc : c0 + hc + 1]
            if not np.array_equal(full, self.wins[s]):
                raise AssertionError(f"site {s}: windowed and full-grid results differ")


def oversampled(
    z: np.ndarray, obs: np.ndarray, cells: np.ndarray, oversample: int
) -> tuple[float, np.ndarray]:
    """One one-core pass with ``oversample`` rays per cell: ms per site and visibility."""
    import numba

    numba.set_num_threads(1)
    zp, zpt = _raycast.layouts(z)
    hr, hc = _raycast.window_half(RADIUS, CELL, CELL, N, N)
    win = np.zeros((2 * hr + 1, 2 * hc + 1), np.uint8)
    vis = np.zeros(cells.shape[:2], bool)
    r0, c0 = int(obs[0, 0]), int(obs[0, 1])
    args = (H_OBS, H_TGT, RADIUS, CELL, CELL, CC, oversample, win)
    _raycast.viewshed_one(zp, zpt, r0, c0, *args, r0 - hr, c0 - hc)  # compile
    total = 0.0
    for s, (r0, c0) in enumerate(obs):
        t = time.perf_counter()
        _raycast.viewshed_one(zp, zpt, int(r0), int(c0), *args, r0 - hr, c0 - hc)
        total += time.perf_counter() - t
        vis[s] = win[cells[s, :, 0] - (r0 - hr), cells[s, :, 1] - (c0 - hc)] == 1
    return total / len(obs) * 1e3, vis


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gdal-python", default="/usr/bin/python3")
    parser.add_argument("--cells-per-observer", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=5, help="sites per alternating chunk")
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
    kernels = Kernels(z, obs, threads)
    # per round, ms per site: GDAL, covgap one core, batch, full grid, signal one core, batch
    rounds: dict[str, list[float]] = {k: [] for k in ("gdal", "one", "batch", "full", "s1", "sb")}
    chunks = [list(range(i, min(i + opts.chunk, N_OBS))) for i in range(0, N_OBS, opts.chunk)]
    gdal = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        np.save(work / "dem.npy", z)
        np.save(work / "obs.npy", obs)
        np.save(work / "cells.npy", cells)
        grass = run_grass(work, z, obs, cells, min(opts.grass_sites, N_OBS))
        gdal = gdal_worker(opts.gdal_python, work)
        try:
            # A round times every site with each tool, GDAL and covgap's one-core
            # kernels alternating chunk by chunk, then the batches: both tools see
            # the same (shared, fluctuating) machine load, and the targets are
            # judged on the ratios within each round.
            for _ in range(opts.repeats):
                g = one = s1 = 0.0
                for sites in chunks:
                    if gdal is not None:
                        g += gdal.time(sites)
                    one += kernels.one(sites)
                    s1 += kernels.sig_one(sites)
                rounds["gdal"].append(g / N_OBS)
                rounds["one"].append(one / N_OBS)
                rounds["s1"].append(s1 / N_OBS)
                rounds["batch"].append(kernels.batch() / N_OBS)
                rounds["sb"].append(kernels.sig_batch() / N_OBS)
                rounds["full"].append(kernels.full() / N_OBS)
        finally:
            if gdal is not None:
                gdal.close()
    kernels.check_windows()
    states = kernels.states
    ours_vis = np.stack([states[s][cells[s, :, 0], cells[s, :, 1]] == 1 for s in range(N_OBS)])
    one, batch = _median_ms(rounds["one"]), _median_ms(rounds["batch"])
    sig_one, sig_batch = _median_ms(rounds["s1"]), _median_ms(rounds["sb"])

    def agree(vis: np.ndarray, n: int = N_OBS) -> float:
        return float((vis[:n] == ref[:n]).mean())

    ours_agree = agree(ours_vis)
    rows = [("covgap (numba)", one, batch, ours_agree)]
    if gdal is not None:
        g_ms = _median_ms(rounds["gdal"])
        rows.append((f"GDAL {gdal.version} in-process", g_ms, g_ms, agree(gdal.vis)))
    if grass is not None:
        n = len(grass["vis"])
        g_ms = grass["per_site_s"] * 1e3
        rows.append((f"GRASS r.viewshed ({n} sites)", g_ms, g_ms, agree(grass["vis"], n)))
        rows.append((f"covgap on the same {n} sites", one, batch, agree(ours_vis, n)))
        if gdal is not None:
            g_ms = _median_ms(rounds["gdal"])
            rows.append((f"GDAL on the same {n} sites", g_ms, g_ms, agree(gdal.vis, n)))
        # the accuracy/time trade-off towards GRASS: two rays per cell (one pass)
        t1, vis2 = oversampled(z, obs, cells, 2)
        rows.append((f"covgap oversample=2 (all {N_OBS} sites)", t1, float("nan"), agree(vis2)))
        rows.append((f"covgap oversample=2 (same {n} sites)", t1, float("nan"), agree(vis2, n)))
    print()
    print(f"medians of {opts.repeats} rounds over the {N_OBS} sites (ms per site)")
    print(f"{'tool':32s} {'1 core ms/site':>15s} {'batch ms/site':>14s} {'agreement':>10s}")
    for name, t1, tb, ag in rows:
        print(f"{name:32s} {t1:15.2f} {tb:14.2f} {ag:10.4%}")
    print(f"{'covgap signal (Deygout)':32s} {sig_one:15.2f} {sig_batch:14.2f}")
    print(f"{'covgap full-grid API':32s} {'':15s} {_median_ms(rounds['full']):14.2f}")
    spread = [
        ("covgap 1 core", "one"),
        ("covgap batch", "batch"),
        ("signal 1 core", "s1"),
        ("signal batch", "sb"),
    ]
    if gdal is not None:
        spread.append(("GDAL", "gdal"))
    print(
        "spread (min..max ms/site): "
        + "; ".join(
            f"{name} {min(rounds[k]) * 1e3:.2f}..{max(rounds[k]) * 1e3:.2f}" for name, k in spread
        )
    )
    cores = float(np.median(kernels.cores))
    print(
        f"cores the batch calls got (process CPU time / wall time): median {cores:.2f}, "
        f"range {min(kernels.cores):.2f}..{max(kernels.cores):.2f} of {threads} threads"
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

    def paired(num: str, den: str, factor: float = 1.0) -> tuple[float, float, float]:
        """Median, min and max over the rounds of factor x GDAL's time / covgap's."""
        r = [factor * a / b for a, b in zip(rounds[num], rounds[den], strict=True)]
        return float(np.median(r)), min(r), max(r)

    g_agree = agree(gdal.vis)
    p_one, p_batch = paired("gdal", "one"), paired("gdal", "batch")
    p_s1, p_sb = paired("gdal", "s1", 2.0), paired("gdal", "sb", 2.0)
    print()
    print(
        "ratios within each round (GDAL's time / covgap's; median over rounds, min..max): "
        f"one core {p_one[0]:.2f} ({p_one[1]:.2f}..{p_one[2]:.2f}); "
        f"batch {p_batch[0]:.2f} ({p_batch[1]:.2f}..{p_batch[2]:.2f}); "
        f"2 x GDAL / signal one core {p_s1[0]:.2f} ({p_s1[1]:.2f}..{p_s1[2]:.2f}); "
        f"2 x GDAL / signal batch {p_sb[0]:.2f} ({p_sb[1]:.2f}..{p_sb[2]:.2f})"
    )
    checks = [
        (f"agreement {ours_agree:.4%} >= GDAL's {g_agree:.4%}", ours_agree >= g_agree),
        (
            f"one core: {p_one[0]:.2f}x GDAL's speed (>= 1; medians {one:.2f} vs "
            f"{_median_ms(rounds['gdal']):.2f} ms/site)",
            p_one[0] >= 1.0,
        ),
        (
            f"batch on {threads} cores: {p_batch[0]:.2f}x faster than GDAL (>= 1.8x)",
            p_batch[0] >= 1.8,
        ),
        (
            f"signal with diffraction, batch on {threads} cores: {sig_batch:.2f} ms/site, "
            f"{p_sb[0]:.2f}x within 2 x GDAL (>= 1)",
            p_sb[0] >= 1.0,
        ),
        (
            f"signal with diffraction, one core: {sig_one:.2f} ms/site, "
            f"{p_s1[0]:.2f}x within 2 x GDAL (>= 1)",
            p_s1[0] >= 1.0,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"[{'met' if ok else 'NOT met'}] {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
