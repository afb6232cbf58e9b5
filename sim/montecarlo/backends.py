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
  imported only here and only when asked for. Connecting to a scheduler gives up after
  ``connect_timeout`` seconds (:data:`CONNECT_TIMEOUT` unless a caller says otherwise,
  see :func:`default_connect_timeout`), also when the peer accepts and never answers.

Processes started here never outlive the process that started them, however it ends
(SIGKILL included): local workers watch it and exit when it is gone (see
:func:`_worker_start`), and a Dask local cluster's worker processes do the same by
distributed's own means.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

from sim.errors import FunnelError
from sim.montecarlo.replication import ChunkResult, run_chunk

__all__ = ["BACKENDS", "CONNECT_TIMEOUT", "MAX_WORKERS_PER_CPU", "BackendError", "DaskBackend", "LocalBackend",
           "SerialBackend", "available_cpus", "check_backend", "connect_timeout_problems", "default_connect_timeout",
           "make_backend"]

BACKENDS = ("local", "dask")
_RESTARTS = 3  # a pool that keeps breaking is a bug to report, not to retry for ever
CONNECT_TIMEOUT = 10.0  # seconds to reach a Dask scheduler, unless a caller says otherwise
# Replications are CPU-bound: processes beyond the CPUs only add start-up time and memory. A few per CPU
# may be a deliberate test; a thousand on two CPUs is a typo that would bring the machine to its knees.
MAX_WORKERS_PER_CPU = 4
_SILENT_MARGIN = 0.25  # seconds past the connect timeout before a silent peer is given up
_WATCH_SECONDS = 0.5  # how often a local worker checks that the process that started it is alive
_PARENT_VARIABLE = "FUNNEL_SIM_FORKSERVER_PARENT"  # set only while the fork server is being started

_connect_timeout = contextvars.ContextVar("connect_timeout", default=CONNECT_TIMEOUT)

Task = tuple[object, object, list[int]]  # (key, scenario, replication indices)


class BackendError(FunnelError):
    """A backend that cannot run: a missing extra, an unreachable scheduler, workers that keep dying."""


class _Silent(Exception):
    """A scheduler that did not answer within the connect timeout."""


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


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system says, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def default_connect_timeout(seconds: float):
    """Within the block, Dask backends made without a ``connect_timeout`` wait ``seconds`` for their scheduler.

    For callers that reach the backend through :func:`sim.run_many`, :func:`sim.compare`
    and the like, which do not pass it on (the command line's ``--connect-timeout``).

    Raises:
        BackendError: ``seconds`` is not a positive number.
    """
    if problems := connect_timeout_problems(seconds):
        raise BackendError(*problems[0], problems=problems)
    token = _connect_timeout.set(float(seconds))
    try:
        yield
    finally:
        _connect_timeout.reset(token)


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when the thread that started it ends; whether it could."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        return libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet waited for, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as someone else's
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): os.kill's answer stands


def _watch(parent: int) -> None:
    while _alive(parent):
        time.sleep(_WATCH_SECONDS)
    os._exit(1)  # no cleanup to wait for: the results had nowhere to go


def _worker_start(parent: int) -> None:
    """The initializer of local worker processes: ignore Ctrl-C, and end with ``parent``, however it ends.

    Ctrl-C reaches the whole process group; the parent alone decides what it means.
    A worker blocks reading tasks from a queue it also holds the writing end of, so
    it would wait for ever after the parent is gone; and the fork server it was forked
    from lives as long as a worker does. So on Linux the worker is killed when its
    parent (the fork server) dies, and everywhere a daemon thread checks every
    half-second that ``parent`` (the process that made the pool) is alive and ends
    the worker when it is not: then the fork server, left with no worker and no
    parent, ends too.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_parent_death_signal()
    threading.Thread(target=_watch, args=(parent,), name="funnel-parent-watch", daemon=True).start()


def _fork_server_dies_with_its_parent() -> None:
    """In the fork server (which imports this module first), die with the process that started it (Linux).

    The fork server outlives its parent as long as one of its workers does, and each
    worker ends with its parent or with the fork server: this closes the circle
    without waiting for the workers' watch.
    """
    parent = os.environ.pop(_PARENT_VARIABLE, None)
    if parent is None or not _set_parent_death_signal():
        return
    if str(os.getppid()) != parent:  # the parent died before the signal was asked for
        os._exit(1)


_fork_server_dies_with_its_parent()


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
            # This module first: imported in the fork server, it makes it die with this process.
            self._context.set_forkserver_preload(["sim.montecarlo.backends", "sim.montecarlo.replication", *preload])
        self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        if self._context.get_start_method() == "forkserver":
            self._start_fork_server()
        return ProcessPoolExecutor(self.workers, mp_context=self._context, initializer=_worker_start,
                                   initargs=(os.getpid(),))

    @staticmethod
    def _start_fork_server() -> None:
        # Started here (not on the first task) so that it alone sees the variable naming its parent.
        from multiprocessing import forkserver

        os.environ[_PARENT_VARIABLE] = str(os.getpid())
        try:
            forkserver.ensure_running()
        finally:
            os.environ.pop(_PARENT_VARIABLE, None)

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
    """Dask distributed: an existing cluster at ``scheduler``, or a local one made here.

    Connecting to ``scheduler`` gives up after ``connect_timeout`` seconds (by default
    :data:`CONNECT_TIMEOUT`, or what :func:`default_connect_timeout` set).
    """

    name = "dask"

    def __init__(self, workers: int, scheduler: str | None = None, connect_timeout: float | None = None):
        try:
            import distributed
        except ImportError:
            raise BackendError("backend", 'dask needs Dask distributed: pip install "funnel-sim[cluster]"') from None
        self._distributed = distributed
        self.workers = workers
        self.scheduler = scheduler
        self.connect_timeout = float(_connect_timeout.get() if connect_timeout is None else connect_timeout)
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
                self._handshake()
                self._client = d.Client(self.scheduler, timeout=self.connect_timeout)
        except _Silent:
            self.__exit__(None)
            raise BackendError("scheduler", f"{self.scheduler}: no answer within {self.connect_timeout:g} s (see "
                                            "{connect_timeout}); is a Dask scheduler listening there?") from None
        except (OSError, ValueError, TimeoutError) as exc:
            self.__exit__(None)
            if self.scheduler is None:
                raise BackendError("backend", f"dask: cannot start a local Dask cluster: {exc}") from None
            raise BackendError("scheduler", f"{self.scheduler}: cannot connect (expected an address such as "
                                            f"tcp://host:8786): {exc}") from None
        except BaseException:  # Ctrl-C or SIGTERM while starting: stop what was started (no __exit__ will)
            self.__exit__(None)
            raise
        return self

    def _handshake(self) -> None:
        """Connect to the scheduler and shake hands within the timeout, or raise :class:`_Silent` or OSError.

        distributed.Client bounds the connection but not the handshake after it: a peer
        that accepts and never answers (a wrong port, a stalled scheduler) would hold it
        for ever. This handshake is bounded as a whole; a scheduler that answers it
        answers the client's. It runs on its own event loop in a thread, as the caller
        may have a loop running already (a notebook).
        """
        timeout, address = self.connect_timeout, self.scheduler
        outcome: list[BaseException | None] = []

        async def shake() -> None:
            # A refused or unreachable address ends connect's own retries at the timeout (an OSError
            # that says why); a little later, wait_for ends a handshake that never came.
            connect = self._distributed.comm.connect(address, timeout=timeout)
            comm = await asyncio.wait_for(connect, timeout + _SILENT_MARGIN)
            comm.abort()

        def run() -> None:
            try:
                asyncio.run(shake())
                outcome.append(None)
            except TimeoutError:  # wait_for's: the peer took the connection and said nothing
                outcome.append(_Silent())
            except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread below
                outcome.append(exc)

        thread = threading.Thread(target=run, name="funnel-dask-handshake", daemon=True)
        thread.start()
        thread.join(timeout + 5)  # wait_for ends it in time; the margin is for the loop's own teardown
        if not outcome:
            raise _Silent()
        if outcome[0] is not None:
            raise outcome[0]

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


def connect_timeout_problems(connect_timeout) -> list[tuple[str, str]]:
    """What is wrong with ``connect_timeout`` (None: the default), as ``(parameter, message)``."""
    problems = []
    number = isinstance(connect_timeout, int | float) and not isinstance(connect_timeout, bool)
    if connect_timeout is not None and not (number and 0 < connect_timeout < math.inf):
        problems.append(("connect_timeout", f"expected a positive number of seconds, got {connect_timeout!r}"))
    return problems


def check_backend(backend: str, workers, scheduler: str | None = None,
                  connect_timeout: float | None = None) -> list[tuple[str, str]]:
    """What is wrong with these running options, as ``(parameter, message)`` (nothing runs).

    Local processes (the local backend, or a Dask cluster made here) are at most
    :data:`MAX_WORKERS_PER_CPU` per CPU this process may use.
    """
    problems = []
    if backend not in BACKENDS:
        problems.append(("backend", f"expected one of {', '.join(BACKENDS)}, got {backend!r}"))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        problems.append(("workers", f"expected an integer of at least 1, got {workers!r}"))
    elif scheduler is None and workers > (most := MAX_WORKERS_PER_CPU * (cpus := available_cpus())):
        problems.append(("workers", f"expected at most {most} ({MAX_WORKERS_PER_CPU} per CPU; this machine lets "
                                    f"it use {cpus}), got {workers}: more processes than CPUs only slow a run down"))
    if scheduler is not None and backend != "dask":
        problems.append(("scheduler", "only the dask backend has a scheduler (add {backend} dask)"))
    problems += connect_timeout_problems(connect_timeout)
    return problems


def make_backend(backend: str, workers: int, scheduler: str | None = None, preload: tuple[str, ...] = (),
                 connect_timeout: float | None = None):
    """The backend for these options (``serial`` for one local worker); ``preload`` names modules workers import first.

    ``connect_timeout``: seconds to reach ``scheduler`` (default :data:`CONNECT_TIMEOUT`,
    or what :func:`default_connect_timeout` set).

    Raises:
        BackendError: naming each option that cannot work.
    """
    if problems := check_backend(backend, workers, scheduler, connect_timeout):
        raise BackendError(*problems[0], problems=problems)
    if backend == "dask":
        return DaskBackend(workers, scheduler, connect_timeout)
    return SerialBackend() if workers == 1 else LocalBackend(workers, preload)
