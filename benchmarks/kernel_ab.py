"""A/B benchmark of the ray kernels: this checkout's ``_raycast`` against an older revision's.

Both versions are loaded in one process (the old one from ``git show
REV:coverage/covgap/radio/_raycast.py`` into a temporary module) and run on
the DEM and observers of ``viewshed_vs_gdal.py`` (2000 x 2000 cells at 30 m,
15 km radius, mast 30 m, receiver 1.5 m, k = 4/3). Each of ``--rounds``
rounds times ``viewshed_one`` and ``signal_one`` (Deygout) over the sites on
one core, old and new alternating site by site (old, new, new, old; the
reverse every other round), because
this shared machine's speed drifts by up to 2x within a minute; the verdict
is the median over the rounds of the ratio new / old *within* each round.

Before timing, it checks that the two versions agree: viewshed states
identical, signal identical to float32 rounding (NaN where the other is NaN),
on the benchmark DEM and on a copy with nodata holes (which exercises the
kernels' unknown-terrain paths), with ``oversample`` 1 and 2.

Run: ``python benchmarks/kernel_ab.py [--rev main] [--rounds 5] [--sites 10]``
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numba
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from covgap.radio import _raycast as new  # noqa: E402
from viewshed_vs_gdal import CC, CELL, H_OBS, H_TGT, RADIUS, N, observers, synthetic_dem  # noqa: E402

KERNEL = "coverage/covgap/radio/_raycast.py"
FREQ_MHZ = 900.0
EIRP = 31.2
LAM = 299_792_458.0 / (FREQ_MHZ * 1e6)
DIFFRACTION = 2  # Deygout


def load_old(rev: str, folder: Path) -> ModuleType:
    """Import ``_raycast.py`` as it was at ``rev`` under another module name."""
    text = subprocess.run(
        ["git", "-C", str(HERE.parent), "show", f"{rev}:{KERNEL}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = folder / "_raycast_ab_old.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("_raycast_ab_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Runner:
    """One kernel version on the benchmark DEM, writing into reused windows."""

    def __init__(self, kernel: ModuleType, z: np.ndarray) -> None:
        self.k = kernel
        self.zp, self.zpt = kernel.layouts(z)
        self.hr, self.hc = kernel.window_half(RADIUS, CELL, CELL, *z.shape)
        shape = (2 * self.hr + 1, 2 * self.hc + 1)
        self.win = np.zeros(shape, np.uint8)
        self.swin = np.full(shape, np.nan, np.float32)
        self.table = kernel.median_loss_table(int(RADIUS) + 2, 1.0, FREQ_MHZ, H_OBS, H_TGT, 0, 0)

    def viewshed(self, r0: int, c0: int, oversample: int = 1) -> np.ndarray:
        self.k.viewshed_one(
            self.zp, self.zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, oversample,
            self.win, r0 - self.hr, c0 - self.hc,
        )  # fmt: skip
        return self.win

    def signal(self, r0: int, c0: int) -> np.ndarray:
        self.k.signal_one(
            self.zp, self.zpt, r0, c0, H_OBS, H_TGT, RADIUS, CELL, CELL, CC, EIRP, self.table,
            1.0, LAM, DIFFRACTION, self.swin, r0 - self.hr, c0 - self.hc,
        )  # fmt: skip
        return self.swin

    def time(self, what: str, sites: np.ndarray) -> float:
        """Seconds per site for ``what`` over ``sites``, one after the other."""
        run = self.viewshed if what == "viewshed" else self.signal
        t = time.perf_counter()
        for r0, c0 in sites:
            run(int(r0), int(c0))
        return (time.perf_counter() - t) / len(sites)


def check_agreement(old: ModuleType, z: np.ndarray, sites: np.ndarray) -> list[str]:
    """Compare the versions' outputs; return one line per check."""
    holes = z.copy()
    rng = np.random.default_rng(5)
    for r, c in rng.integers(100, N - 100, (40, 2)):
        holes[r : r + 12, c : c + 30] = np.nan
    lines = []
    for name, dem in (("benchmark DEM", z), ("DEM with nodata holes", holes)):
        a, b = Runner(old, dem), Runner(new, dem)
        for oversample in (1, 2):
            same = all(
                np.array_equal(a.viewshed(r, c, oversample).copy(), b.viewshed(r, c, oversample))
                for r, c in sites
            )
            lines.append(f"viewshed, {name}, oversample {oversample}: "
                         f"{'identical' if same else 'DIFFERENT'}")  # fmt: skip
        worst, nan_same = 0.0, True
        for r, c in sites:
            x, y = a.signal(r, c).copy(), b.signal(r, c)
            nan_same &= bool(np.array_equal(np.isnan(x), np.isnan(y)))
            ok = ~np.isnan(x) & ~np.isnan(y)
            if ok.any():
                worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]))))
        lines.append(
            f"signal, {name}: largest difference {worst:.3g} dB, "
            f"NaN cells {'identical' if nan_same else 'DIFFERENT'}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="main", help="git revision of the old kernel")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sites", type=int, default=10)
    args = parser.parse_args(argv)
    numba.set_num_threads(1)
    z = synthetic_dem()
    sites = observers()[: args.sites]
    with tempfile.TemporaryDirectory() as tmp:
        old = load_old(args.rev, Path(tmp))
        print(f"old: {args.rev}:{KERNEL}; new: {new.__file__}")
        print(f"DEM {N} x {N} at {CELL:g} m, {len(sites)} sites, radius {RADIUS:g} m, one core")
        t = time.perf_counter()
        lines = check_agreement(old, z, sites[:3])
        print(f"agreement (3 sites, compiling both versions: {time.perf_counter() - t:.0f} s):")
        for line in lines:
            print(f"  {line}")
        runners = {"old": Runner(old, z), "new": Runner(new, z)}
        ratios: dict[str, list[float]] = {"viewshed": [], "signal": []}
        for r in range(args.rounds):
            # per site old, new, new, old (ABBA; BAAB every other round): cancels a
            # load that drifts within the round and favours neither the first nor the second
            order = ["old", "new", "new", "old"] if r % 2 == 0 else ["new", "old", "old", "new"]
            for what in ratios:
                ms = {"old": 0.0, "new": 0.0}
                for site in sites:
                    for v in order:
                        ms[v] += 1000 * runners[v].time(what, site[None]) / (2 * len(sites))
                ratio = ms["new"] / ms["old"]
                ratios[what].append(ratio)
                print(
                    f"round {r + 1} {what:>8}: old {ms['old']:7.2f} ms/site, "
                    f"new {ms['new']:7.2f} ms/site, new/old {ratio:.3f}"
                )
    for what, values in ratios.items():
        median = statistics.median(values)
        print(f"{what}: new/old time, median over {len(values)} rounds {median:.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f})")  # fmt: skip
    agree = all("DIFFERENT" not in line for line in lines)
    print(f"outputs agree: {'yes' if agree else 'NO'}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
