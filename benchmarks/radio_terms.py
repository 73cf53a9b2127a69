"""What the per-cell radio terms cost: sectors, land cover, calibration (demo dataset).

Times :func:`covgap.radio.signal.compute_signal` over the demo's sites for the
plain omnidirectional model (the reference) and the same with

* three parametric 3GPP sectors per site (0/120/240 degrees, 65-degree beams),
* a synthetic land cover (tree cover in random 1-km blocks over half the DEM,
  built-up elsewhere in 5 % of the blocks, grassland in the rest),
* a calibrated scenario (offset and log-distance slope).

Each round runs the four variants one after another, in a rotated order, so
that the machine's drift affects them alike; the ratios to the reference are
taken within each round and their medians reported.

Usage: ``python benchmarks/radio_terms.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from covgap.data.antennas import Sector
from covgap.data.dataset import load_dataset
from covgap.data.terrain import load_terrain
from covgap.demo.paths import default_data_dir
from covgap.radio.scenario import default_scenario
from covgap.radio.signal import compute_signal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ds = load_dataset(default_data_dir())
    terrain = load_terrain(ds.dem_path, crs=ds.crs)
    scenario = default_scenario()
    sites = ds.sites
    sectored = sites.assign(
        sectors=[tuple(Sector(azimuth_deg=a) for a in (0.0, 120.0, 240.0))] * len(sites)
    )
    rng = np.random.default_rng(0)
    block = max(1, int(1000 / terrain.resolution[0]))
    rows = -(-terrain.shape[0] // block)
    cols = -(-terrain.shape[1] // block)
    draw = rng.random((rows, cols))
    coarse = np.where(draw < 0.5, 10, np.where(draw < 0.55, 50, 30)).astype(np.uint8)
    classes = np.kron(coarse, np.ones((block, block), np.uint8))[
        : terrain.shape[0], : terrain.shape[1]
    ]
    covered = dataclasses.replace(terrain, landcover=classes)
    calibrated = scenario.with_overrides(calibration_offset_db=4.0, calibration_slope_db=-3.0)
    variants = {
        "omni (reference)": (terrain, sites, scenario),
        "3 sectors per site": (terrain, sectored, scenario),
        "land cover": (covered, sites, scenario),
        "calibrated": (terrain, sites, calibrated),
    }
    compute_signal(terrain, sites.iloc[:1], scenario)  # compile outside the timings
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t, s, sc = variants[name]
            start = time.perf_counter()
            compute_signal(t, s, sc)
            times[name].append(time.perf_counter() - start)
    ref = times[names[0]]
    print(f"demo: {len(sites)} sites, DEM {terrain.shape[0]} x {terrain.shape[1]}, radius "
          f"{scenario.radius_m:g} m, {args.rounds} rounds")  # fmt: skip
    for name in names:
        ratios = [a / b for a, b in zip(times[name], ref, strict=True)]
        per_site = statistics.median(times[name]) / len(sites) * 1000
        print(
            f"{name:20s} median {statistics.median(times[name]):6.2f} s "
            f"({per_site:5.1f} ms/site), x{statistics.median(ratios):.2f} the reference"
        )


if __name__ == "__main__":
    main()
