"""Where the heavy per-site work runs: in this process, or on a Dask cluster.

The heavy stages (the existing sites' signal, the candidates' coverage
matrix, the sensitivity variants) cut their sites into *batches* and hand
them to an executor as pure task functions ``fn(item, *shared) -> result``:
each task opens the DEM itself (by path on a cluster) and returns a small
result (a best-server tile, the sparse coverage columns of a few
candidates), never a full raster or a shared file handle.

* :class:`SerialExecutor` (the default) runs the tasks one after another in
  this process; the compiled kernels then spread each task's sites over
  every core (numba threads).
* :class:`DaskExecutor` submits them to a ``dask.distributed`` cluster: a
  local one (:func:`dask_executor` with ``workers=N``, one process per
  worker) or an existing one (``scheduler="tcp://host:8786"``).  Each task
  runs the kernels on one thread: the cluster's workers are the parallelism.

Both run the same task functions on the same inputs, and callers merge the
results by task index with order-independent rules, so a run gives the same
bytes whatever the executor.  Nothing here imports Dask until a
:class:`DaskExecutor` is made; radio and planning code receive an executor
object and never import Dask themselves.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from covgap.errors import ConfigError, CoverageError, MissingDependencyError

__all__ = [
    "DASK_INSTALL_HINT",
    "DaskExecutor",
    "Executor",
    "ExecutorError",
    "SerialExecutor",
    "as_executor",
    "dask_executor",
]

log = logging.getLogger(__name__)

DASK_INSTALL_HINT = "the Dask backend needs dask and distributed: pip install 'covgap[dask]'"

#: Seconds allowed to reach an existing scheduler.
CONNECT_TIMEOUT_S = 10.0


class ExecutorError(CoverageError, OSError):
    """The Dask cluster cannot be started or reached (the message says which)."""


class Executor:
    """Runs task functions over items; subclasses say where.

    Attributes
    ----------
    workers
        How many tasks run at once (used to size batches).
    local
        Whether tasks run in this process (they may then share in-memory data
        such as the DEM array instead of reading it by path).
    """

    workers: int = 1
    local: bool = True

    def run(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *shared: Any,
    ) -> Iterator[tuple[int, Any]]:
        """Run ``fn(item, *shared)`` for every item; yield ``(index, result)`` as each ends.

        The order of the pairs is the order in which tasks finish (any order on
        a cluster); callers that need an order sort by index, or merge with a
        rule that does not depend on it.
        """
        raise NotImplementedError

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any) -> list[Any]:
        """Run ``fn(item, *shared)`` for every item; return the results in item order."""
        out: list[Any] = [None] * len(items)
        for i, result in self.run(fn, items, *shared):
            out[i] = result
        return out

    def scratch_dir(self) -> Path:
        """Return a folder for files the tasks read (e.g. a reprojected DEM), made on demand."""
        path = getattr(self, "_scratch", None)
        if path is None:
            path = Path(tempfile.mkdtemp(prefix="covgap-"))
            self._scratch: Path | None = path
        return path

    def close(self) -> None:
        """Remove the scratch folder (the cluster, if any, is the caller's)."""
        path = getattr(self, "_scratch", None)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Run the tasks one after another in this process (the default)."""

    workers = 1
    local = True

    def run(
        self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any
    ) -> Iterator[tuple[int, Any]]:
        """Run ``fn(item, *shared)`` for every item, in order; yield ``(index, result)``."""
        for i, item in enumerate(items):
            yield i, fn(item, *shared)

    def __repr__(self) -> str:
        return "SerialExecutor()"


class _Shared:
    """The shared arguments of one ``run``, sent to the workers as one object."""

    __slots__ = ("values",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values


def _single_threaded(fn: Callable[..., Any], item: Any, shared: _Shared) -> Any:
    """Run one task with the compiled kernels on this worker thread only."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return fn(item, *shared.values)
    finally:
        numba.set_num_threads(before)


class DaskExecutor(Executor):
    """Run the tasks on a ``dask.distributed`` cluster through a client.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.  The executor does not close it
        (use :func:`dask_executor` for a cluster it owns).
    """

    local = False

    def __init__(self, client: Any) -> None:
        self.client = client
        info = client.scheduler_info()
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        self.workers = max(1, threads)

    def run(
        self, fn: Callable[..., Any], items: Sequence[Any], *shared: Any
    ) -> Iterator[tuple[int, Any]]:
        """Submit one task per item; yield ``(index, result)`` as each task finishes."""
        from distributed import as_completed

        if not items:
            return
        client = self.client
        # the shared values go to every worker once, in one object (one round trip)
        scattered = client.scatter([_Shared(shared)], broadcast=True, hash=False)
        futures = [
            client.submit(_single_threaded, fn, item, scattered[0], pure=False) for item in items
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                result = future.result()
                i = index[future.key]
                future.release()
                yield i, result
        finally:
            for f in futures:
                f.cancel()
            for s in scattered:
                s.release()

    def __repr__(self) -> str:
        return f"DaskExecutor({self.client.scheduler.address!r}, workers={self.workers})"


def as_executor(executor: Executor | None) -> Executor:
    """Return ``executor``, or a :class:`SerialExecutor` for ``None``."""
    return SerialExecutor() if executor is None else executor


#: Dask settings of a local cluster that covgap starts (while it is made: the
#: nannies, workers and scheduler read them then; the user's configuration is
#: left as it was).  They matter on a small machine, where each per-cent of a
#: core the cluster spends on itself is taken from the kernels
#: (``benchmarks/scaling.py``; sources: Dask's ``distributed.yaml``).
_LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    # The nanny sets MALLOC_TRIM_THRESHOLD_=65536 in each worker process: glibc
    # then hands freed memory back at once and fixes its mmap threshold, so
    # every large array a task allocates (the kernels' per-site rasters, tens of
    # MB a batch) is a fresh mmap whose pages fault in again: each task was
    # about 40 % slower than in this process.  Unset, glibc adapts the threshold
    # and reuses the arrays; a worker's memory stays bounded by one task's.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # The statistical profiler (a thread sampling every 10 ms in each worker)
    # and the system monitor (every 0.5 s) only feed the dashboard, which
    # covgap does not serve; the event-loop watchdog ticks every 20 ms.
    # Together with the memory monitor (every 0.1 s) they took 8 % of a core
    # per idle worker; these values take 4 %.
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.tick.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextlib.contextmanager
def _local_cluster_config() -> Iterator[None]:
    """Dask's configuration with :data:`_LOCAL_CLUSTER_CONFIG` while a cluster is made."""
    import dask

    with dask.config.set(_LOCAL_CLUSTER_CONFIG):
        yield


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingDependencyError(DASK_INSTALL_HINT) from None
    return distributed


@contextlib.contextmanager
def dask_executor(
    workers: int | None = None,
    scheduler: str | None = None,
    *,
    threads_per_worker: int = 1,
    processes: bool = True,
    timeout_s: float | None = None,
) -> Iterator[DaskExecutor]:
    """Start a local Dask cluster, or connect to one, for the duration of a ``with`` block.

    Parameters
    ----------
    workers
        Start a ``LocalCluster`` of this many workers (>= 1).
    scheduler
        Or connect to an existing scheduler, e.g. ``"tcp://10.0.0.5:8786"``
        (started with ``dask scheduler`` and ``dask worker ADDRESS``).
    threads_per_worker
        Threads of each local worker.
    processes
        Local workers are processes (``True``, the default: no shared GIL,
        no shared state) or threads of this process.
    timeout_s
        Seconds allowed to reach ``scheduler`` (default :data:`CONNECT_TIMEOUT_S`).

    Yields
    ------
    DaskExecutor

    Raises
    ------
    MissingDependencyError
        ``dask``/``distributed`` are not installed.
    ConfigError
        Neither or both of ``workers`` and ``scheduler``, or ``workers < 1``.
    ExecutorError
        The scheduler cannot be reached or the cluster cannot start.
    """
    if (workers is None) == (scheduler is None):
        raise ConfigError("give either the number of local workers or a scheduler address")
    if workers is not None and workers < 1:
        raise ConfigError(f"the number of workers must be at least 1, got {workers}")
    distributed = _import_distributed()
    import logging as _logging

    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = distributed.Client(scheduler, timeout=timeout_s, set_as_default=False)
            except (OSError, ValueError, TypeError) as exc:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {scheduler!r}: "
                    f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                ) from None
            stack.callback(client.close)
        else:
            try:
                # read by the nannies, workers and scheduler when made (see the settings)
                with _local_cluster_config():
                    cluster = distributed.LocalCluster(
                        n_workers=int(workers),  # type: ignore[arg-type]
                        threads_per_worker=threads_per_worker,
                        processes=processes,
                        dashboard_address=None,
                        # the scheduler's HTTP endpoint on a free port: no clash with 8787
                        scheduler_kwargs={"dashboard_address": ":0"},
                        silence_logs=_logging.ERROR,
                    )
            except (OSError, RuntimeError) as exc:
                raise ExecutorError(f"cannot start a local Dask cluster: {exc}") from None
            stack.callback(cluster.close)
            client = distributed.Client(cluster, set_as_default=False)
            stack.callback(client.close)
        executor = DaskExecutor(client)
        stack.callback(executor.close)
        log.info("running the heavy stages on %r", executor)
        yield executor
