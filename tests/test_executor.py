"""The executors: serial by default, Dask on request, the same bytes either way."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from covgap import executor
from covgap.analysis import analyse
from covgap.cli import main
from covgap.data.terrain import DemFile, GridWindow, load_terrain, terrain_source
from covgap.errors import ConfigError, MissingDependencyError
from covgap.executor import SerialExecutor, as_executor, dask_executor
from covgap.radio import _raycast, links, signal
from covgap.radio.signal import compute_signal

SOURCE_ROOT = Path(__file__).resolve().parents[1] / "coverage"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _square(x: int, k: int) -> int:
    return x * x + k


@pytest.fixture(scope="module")
def cluster() -> Iterator[executor.DaskExecutor]:
    """A 2-worker local cluster (processes, one thread each), shared by this module."""
    pytest.importorskip("distributed")
    with dask_executor(workers=2) as ex:
        yield ex


# -- the abstraction -------------------------------------------------------------------


def test_serial_executor_runs_in_order_in_process() -> None:
    ex = as_executor(None)
    assert isinstance(ex, SerialExecutor) and ex.local and ex.workers == 1
    assert list(ex.run(_square, [3, 1, 2], 10)) == [(0, 19), (1, 11), (2, 14)]
    assert ex.map(_square, [], 1) == []


def test_dask_executor_keeps_item_order(cluster: executor.DaskExecutor) -> None:
    assert not cluster.local and cluster.workers == 2
    assert cluster.map(_square, list(range(12)), 1) == [i * i + 1 for i in range(12)]
    assert sorted(i for i, _ in cluster.run(_square, [5, 6, 7], (1, 2)[0])) == [0, 1, 2]


def _environ(name: str) -> str | None:
    import os

    return os.environ.get(name)


def _dask_setting(key: str) -> object:
    import dask

    return dask.config.get(key)


def test_local_workers_keep_the_default_allocator(cluster: executor.DaskExecutor) -> None:
    # Dask's nanny would set MALLOC_TRIM_THRESHOLD_=65536, which makes every large
    # kernel array a fresh mmap (tasks about 40 % slower); our local cluster unsets it,
    # turns off the dashboard's profiler, and leaves the user's Dask configuration
    # as it was once the cluster is made
    import dask

    values = cluster.client.run(_environ, "MALLOC_TRIM_THRESHOLD_")
    assert len(values) == 2 and set(values.values()) == {None}
    assert set(cluster.client.run(_environ, "OMP_NUM_THREADS").values()) == {"1"}
    profiler = cluster.client.run(_dask_setting, "distributed.worker.profile.enabled")
    assert set(profiler.values()) == {False}
    assert dask.config.get("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_") == 65536
    assert dask.config.get("distributed.worker.profile.enabled") is True


def test_dask_task_errors_reach_the_caller(cluster: executor.DaskExecutor) -> None:
    with pytest.raises(TypeError):
        cluster.map(_square, ["a"], 1)


def test_kernels_release_the_gil_and_cache_their_compilation() -> None:
    for kernel in (
        _raycast.signal_windows,
        _raycast.signal_many,
        _raycast.viewshed_windows,
        links._links,
    ):
        assert kernel.targetoptions.get("nogil") is True, kernel
        assert kernel._cache.__class__.__name__ != "NullCache", kernel


# -- the same results --------------------------------------------------------------------


def test_signal_does_not_depend_on_the_batches(dataset_dir: Path) -> None:
    analysis = analyse(dataset_dir)
    sites = analysis.dataset.sites
    base = analysis.signal
    for chunk in (1, 2, 3):
        other = compute_signal(analysis.terrain, sites, analysis.scenario, chunk_sites=chunk)
        assert np.array_equal(other.rsrp, base.rsrp, equal_nan=True)
        assert np.array_equal(other.best_site, base.best_site)
    kept = compute_signal(analysis.terrain, sites, analysis.scenario, keep_per_site=True)
    assert np.array_equal(kept.rsrp, base.rsrp, equal_nan=True)
    assert np.array_equal(kept.best_site, base.best_site)


def test_cluster_tasks_merge_their_batches_like_the_caller(shared_analysis: Any) -> None:
    analysis = shared_analysis
    table = signal._site_table(analysis.dataset.sites, analysis.terrain, analysis.scenario)
    xy = np.column_stack([table["x"], table["y"]])
    batches = [
        signal.SignalBatch("", part, xy[part], table["height_m"][part], table["eirp_dbm"][part])
        for part in signal.site_batches(xy, analysis.scenario.radius_m, 1)
    ]
    assert len(batches) == len(xy) > 3
    for size in (2, 3, len(batches)):
        tasks = signal._tasks(batches, size)
        assert len(tasks[0]) == size and sum(map(len, tasks)) == len(batches)
        shape = analysis.terrain.shape
        rsrp = np.full(shape, np.nan, np.float32)
        best = np.full(shape, signal.BEST_SITE_NONE, np.int32)
        unknown = np.zeros(shape, bool)
        for task in reversed(tasks):  # any order
            tile = signal.tasks_signal(task, analysis.terrain, analysis.scenario)
            signal.merge_tile(rsrp, best, unknown, tile)
        best = np.where(np.isnan(rsrp) & unknown, signal.BEST_SITE_UNKNOWN, best)
        assert np.array_equal(rsrp, analysis.signal.rsrp, equal_nan=True)
        assert np.array_equal(best, analysis.signal.best_site)


def test_ties_go_to_the_lowest_site_whatever_the_batch(dataset_dir: Path) -> None:
    analysis = analyse(dataset_dir, model=False)
    terrain = load_terrain(analysis.dataset.dem_path, crs=analysis.dataset.crs)
    sites = analysis.dataset.sites
    twins = sites.iloc[[0, 0, 0]].assign(site_id=["A", "B", "C"]).reset_index(drop=True)
    for chunk in (1, 2):
        result = compute_signal(terrain, twins, analysis.scenario, chunk_sites=chunk)
        assert set(np.unique(result.best_site)) <= {-1, 0}
        assert (result.best_site == 0).any()


def test_dem_file_windows_match_the_array(
    dataset_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(dataset_dir)
    terrain = load_terrain(Path("terrain") / "dem.tif")  # a relative path, as users type it
    source = terrain_source(terrain, local=False, scratch=tmp_path)
    assert isinstance(source, DemFile)  # read in place, by an absolute path for the workers
    assert source.path == (dataset_dir / "terrain" / "dem.tif").resolve()
    window = GridWindow(10, 20, 40, 70)
    a, b = source.window(window), terrain.window(window)
    assert np.array_equal(a.elevation, b.elevation, equal_nan=True)
    assert a.transform == b.transform
    assert terrain_source(terrain, local=True) is terrain


def test_reprojected_terrain_is_copied_for_the_workers(dataset_dir: Path, tmp_path: Path) -> None:
    terrain = load_terrain(dataset_dir / "terrain" / "dem.tif", crs="EPSG:3405")
    source = terrain_source(terrain, local=False, scratch=tmp_path)
    assert isinstance(source, DemFile) and source.path.parent == tmp_path
    window = source.window(GridWindow(0, 0, *terrain.shape))
    assert np.array_equal(window.elevation, terrain.elevation, equal_nan=True)
    # written once per terrain: the later stages reuse the copy
    assert terrain_source(terrain, local=False, scratch=tmp_path) is source
    assert len(list(tmp_path.glob("*.tif"))) == 1


def test_dask_signal_and_coverage_equal_serial(
    make_dataset: Callable[..., Path], cluster: executor.DaskExecutor
) -> None:
    # a VN-2000 analysis CRS: the DEM is reprojected, so the workers read a copy
    analysis = analyse(make_dataset(), crs="EPSG:3405")
    sites = analysis.dataset.sites
    ours = compute_signal(
        analysis.terrain, sites, analysis.scenario, executor=cluster, group_by="operator"
    )
    serial = compute_signal(analysis.terrain, sites, analysis.scenario, group_by="operator")
    assert list(ours) == list(serial)
    for key in serial:
        assert np.array_equal(ours[key].rsrp, serial[key].rsrp, equal_nan=True)
        assert np.array_equal(ours[key].best_site, serial[key].best_site)
    demand = analysis.dataset.settlements
    args = (analysis.terrain, sites, demand, analysis.scenario)
    a = links.coverage_columns(*args, executor=cluster, batch_size=2)
    b = links.coverage_columns(*args, batch_size=5)
    assert (a != b).nnz == 0 and a.shape == (len(demand), len(sites)) and a.nnz > 0


def test_dask_signal_with_land_cover_equals_serial(
    shared_analysis: Any, cluster: executor.DaskExecutor
) -> None:
    import dataclasses

    analysis = shared_analysis
    rng = np.random.default_rng(3)
    classes = rng.choice(np.array([10, 30, 50], np.uint8), analysis.terrain.shape)
    terrain = dataclasses.replace(analysis.terrain, landcover=classes)
    sites = analysis.dataset.sites
    ours = compute_signal(terrain, sites, analysis.scenario, executor=cluster)
    serial = compute_signal(terrain, sites, analysis.scenario)
    plain = analysis.signal
    assert not np.array_equal(serial.rsrp, plain.rsrp, equal_nan=True)  # clutter counted
    assert np.array_equal(ours.rsrp, serial.rsrp, equal_nan=True)
    assert np.array_equal(ours.best_site, serial.best_site)


def test_terrain_changed_in_memory_reaches_the_workers(
    shared_analysis: Any, cluster: executor.DaskExecutor, tmp_path: Path
) -> None:
    # heights changed in memory keep the file's path: the workers must not read the file.
    # A nodata hole also gives unknown cells, which packed tiles carry back.
    import dataclasses

    analysis = shared_analysis
    terrain = analysis.terrain
    assert terrain_source(terrain, local=False, scratch=tmp_path).path == terrain.path.resolve()
    z = terrain.elevation.copy()
    rows, cols = z.shape
    z[rows // 3 : rows // 3 + 6, : cols // 2] = np.nan  # a band of nodata across paths
    holed = dataclasses.replace(terrain, elevation=z)
    assert holed.path == terrain.path
    source = terrain_source(holed, local=False, scratch=tmp_path)
    assert source.path != terrain.path  # a copy, not the file
    sites = analysis.dataset.sites
    ours = compute_signal(holed, sites, analysis.scenario, executor=cluster)
    serial = compute_signal(holed, sites, analysis.scenario)
    assert (serial.best_site == signal.BEST_SITE_UNKNOWN).any()
    assert np.array_equal(ours.rsrp, serial.rsrp, equal_nan=True)
    assert np.array_equal(ours.best_site, serial.best_site)
    assert not np.array_equal(serial.rsrp, analysis.signal.rsrp, equal_nan=True)


@pytest.mark.slow
def test_demo_on_two_workers_is_byte_identical(demo_run: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    assert main(["-q", "run", "--out", str(out), "--workers", "2"]) == 0
    serial, ours = _files(demo_run), _files(out)
    assert sorted(ours) == sorted(serial) and len(serial) > 10
    different = [name for name in serial if ours[name] != serial[name]]
    assert different == []
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["villages"], summary["uncovered"], summary["unelectrified"]) == (120, 36, 17)


# -- Dask only when asked, and clear errors ------------------------------------------------


def test_nothing_imports_dask_without_workers(dataset_dir: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from covgap.cli import main
        assert main(["-q", "run", "--data", {str(dataset_dir)!r}, "--out", {str(tmp_path)!r}]) == 0
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(SOURCE_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "summary.json").is_file()


def test_missing_dask_is_an_install_hint(
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    hint = r"pip install 'covgap\[dask\]'"
    with pytest.raises(MissingDependencyError, match=hint), dask_executor(workers=1):
        pass
    out = tmp_path / "out"
    assert main(["run", "--data", str(dataset_dir), "--out", str(out), "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: " + executor.DASK_INSTALL_HINT]
    assert not out.exists()


def test_bad_scheduler_address_is_one_line_and_exit_2(
    dataset_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 1.0)
    args = ["run", "--data", str(dataset_dir), "--out", str(tmp_path / "o")]
    assert main([*args, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'")


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_workers_must_be_at_least_one(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--workers", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: covgap run: argument --workers: ")
    assert ">= 1" in err[0]


def test_workers_and_scheduler_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"])
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(ConfigError), dask_executor():
        pass
    with pytest.raises(ConfigError, match="at least 1"), dask_executor(workers=0):
        pass
