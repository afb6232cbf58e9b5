"""Where chunks of replications run: this process, local processes, or Dask distributed.

Every backend is a context manager whose :meth:`map` runs
:func:`sim.montecarlo.replication.run_chunk` with a model function over tasks, each a
``(key, scenario, indices)`` triple (a chunk of replication indices of one scenario;
the key says which, so one call can run several alternatives of a comparison), and
yields ``(key, result)`` with each :class:`~sim.montecarlo.replication.ChunkResult` as it
finishes, in whatever order. Results do not depend on the backend: a replication's
numbers come from its index and the root seed alone.

- ``serial``: this process, one chunk after another (what one worker uses).
- ``local``: a pool of worker processes on this machine (the default for more than
  one worker; nothing to install or start). A worker that dies is replaced and its
  chunk run again.
- ``dask``: Dask distributed, on an existing cluster (``scheduler`` address) or on a
  local cluster started and stopped here. The scheduler reruns the tasks of a worker
  that dies. Dask is an optional extra (``pip install "funnel-sim[cluster]"``),
  imported only here and only when asked for.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from sim.errors import FunnelError
from sim.montecarlo.replication import ChunkResult, run_chunk

__all__ = ["BACKENDS", "BackendError", "DaskBackend", "LocalBackend", "SerialBackend", "check_backend", "make_backend"]

BACKENDS = ("local", "dask")
_RESTARTS = 3  # a pool that keeps breaking is a bug to report, not to retry for ever

Task = tuple[object, object, list[int]]  # (key, scenario, replication indices)


class BackendError(FunnelError):
    """A backend that cannot run: a missing extra, an unreachable scheduler, workers that keep dying."""


class SerialBackend:
    """Chunks run one after another in this process."""

    name = "serial"

    def __enter__(self) -> SerialBackend:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def map(self, model, tasks: Iterable[Task], root, trace_below: int) -> Iterator[tuple[object, ChunkResult]]:
        """Run each task here and yield ``(key, result)``."""
        for key, scenario, chunk in tasks:
            yield key, run_chunk(model, scenario, root, chunk, trace_below)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches the whole process group; the parent alone decides what it means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalBackend:
    """A pool of ``workers`` processes on this machine."""

    name = "local"

    def __init__(self, workers: int, preload: tuple[str, ...] = ()):
        self.workers = workers  # checked by make_backend
        # forkserver: workers start from a clean process that has imported the model
        # once, so starting them is quick and no thread of the parent is copied.
        methods = multiprocessing.get_all_start_methods()
        self._context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if self._context.get_start_method() == "forkserver":
            self._context.set_forkserver_preload(["sim.montecarlo.replication", *preload])
        self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_ignore_interrupts)

    def __enter__(self) -> LocalBackend:
        self._pool = self._new_pool()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._shutdown(hard=exc_type is not None)

    def _shutdown(self, hard: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if hard:
            # Interrupted or failed: stop the work in flight now rather than after it
            # finishes (the executor has no public way to do that).
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)

    def map(self, model, tasks: Iterable[Task], root, trace_below: int) -> Iterator[tuple[object, ChunkResult]]:
        """Run the tasks on the pool, yielding ``(key, result)`` as they finish."""
        pending = dict(enumerate(tasks))
        restarts = 0
        while pending:
            futures = {self._pool.submit(run_chunk, model, scenario, root, c, trace_below): k
                       for k, (_, scenario, c) in pending.items()}
            try:
                for future in as_completed(futures):
                    result = future.result()
                    key = pending.pop(futures[future])[0]
                    yield key, result
            except BrokenProcessPool:
                # A worker died (killed, out of memory): replace the pool and rerun the
                # chunks that had not come back. Finished ones are kept.
                restarts += 1
                if restarts > _RESTARTS:
                    first = sorted(c[0] for _, _, c in pending.values())
                    raise BackendError("workers", f"local worker processes died {restarts} times; chunks not run "
                                                  f"start at replications {first}") from None
                self._shutdown(hard=True)
                self._pool = self._new_pool()


class DaskBackend:
    """Dask distributed: an existing cluster at ``scheduler``, or a local one made here."""

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None):
        try:
            import distributed
        except ImportError:
            raise BackendError("backend", 'dask needs Dask distributed: pip install "funnel-sim[cluster]"') from None
        self._distributed = distributed
        self.workers = workers
        self.scheduler = scheduler
        self._cluster = None
        self._client = None

    def __enter__(self) -> DaskBackend:
        d = self._distributed
        try:
            if self.scheduler is None:
                self._cluster = d.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=":0",  # any free port
                                               silence_logs=logging.ERROR)
                self._client = d.Client(self._cluster)
            else:
                self._client = d.Client(self.scheduler, timeout="10s")
        except (OSError, ValueError) as exc:
            self.__exit__(None)
            if self.scheduler is None:
                raise BackendError("backend", f"dask: cannot start a local Dask cluster: {exc}") from None
            raise BackendError("scheduler", f"{self.scheduler}: cannot connect (expected an address such as "
                                            f"tcp://host:8786): {exc}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def map(self, model, tasks: Iterable[Task], root, trace_below: int) -> Iterator[tuple[object, ChunkResult]]:
        """Submit every task and yield ``(key, result)`` as they finish."""
        d = self._distributed
        futures = {}
        for key, scenario, c in tasks:
            futures[self._client.submit(run_chunk, model, scenario, root, c, trace_below, pure=False)] = key
        try:
            for future in d.as_completed(list(futures)):
                try:
                    yield futures[future], future.result()
                except d.KilledWorker as exc:
                    raise BackendError("backend", f"Dask workers died repeatedly while running a chunk ({exc}); "
                                                  "see the scheduler's logs") from None
        finally:
            # On interruption, free the cluster for other work.
            self._client.cancel([f for f in futures if not f.done()])


def check_backend(backend: str, workers, scheduler: str | None = None) -> list[tuple[str, str]]:
    """What is wrong with these running options, as ``(parameter, message)`` (nothing runs)."""
    problems = []
    if backend not in BACKENDS:
        problems.append(("backend", f"expected one of {', '.join(BACKENDS)}, got {backend!r}"))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        problems.append(("workers", f"expected an integer of at least 1, got {workers!r}"))
    if scheduler is not None and backend != "dask":
        problems.append(("scheduler", "only the dask backend has a scheduler (add {backend} dask)"))
    return problems


def make_backend(backend: str, workers: int, scheduler: str | None = None, preload: tuple[str, ...] = ()):
    """The backend for these options (``serial`` for one local worker); ``preload`` names modules workers import first.

    Raises:
        BackendError: naming each option that cannot work.
    """
    if problems := check_backend(backend, workers, scheduler):
        raise BackendError(*problems[0], problems=problems)
    if backend == "dask":
        return DaskBackend(workers, scheduler)
    return SerialBackend() if workers == 1 else LocalBackend(workers, preload)
