"""Running alternatives with common random numbers, a few replications at a time.

Replication ``i`` of every alternative uses the same seed, ``replication_seed(seed,
i)``, so row ``i`` of each alternative saw the same world. An :class:`Evaluator`
keeps what has been run, adds replications only where asked (the optimiser spends
them where they decide something), and sends the work of all alternatives to one
backend at once, so they run in parallel.

With ``out``, each alternative's replications go to an experiment directory
(:mod:`sim.montecarlo.store`) named by the scenario's fingerprint under ``out/runs/``: an
interrupted comparison or optimisation resumes from what finished, and an
alternative met again (the same scenario) is not run twice. ``out`` must be absent,
empty, or the output of an earlier run (it has ``runs/``, or the ``about.json`` that
:func:`sim.present.export.write_tables` writes): a folder of the user's own files is
refused before anything runs, so none of them is overwritten.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from sim.model import replicate
from sim.montecarlo.backends import make_backend
from sim.montecarlo.replication import chunked, root_seed, seed_label
from sim.montecarlo.store import PACKAGE, ExperimentStore, StoreError, scenario_fingerprint

__all__ = ["Evaluator", "check_out"]

_KEY = re.compile(r"[0-9a-f]{16}")


def _ours(about: Path) -> bool:
    """Whether ``about`` is the ``about.json`` of an earlier run's tables."""
    try:
        return json.loads(about.read_text(encoding="utf-8")).get("package") == PACKAGE
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out) -> None:
    """Refuse ``out`` unless it is absent, empty, or what an earlier comparison or optimisation wrote there.

    An earlier run's output has ``runs/`` (holding only its experiment directories) or
    its tables' ``about.json``; anything else in a folder is the user's, and nothing
    is written into such a folder.

    Raises:
        StoreError: naming ``out`` and what is in the way.
    """
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out}: exists and is not a directory")
        if not out.is_dir():
            return
        entries = [p for p in out.iterdir() if not p.name.startswith(".tmp-")]
        runs = out / "runs"
        earlier = (runs.is_dir() and all(_KEY.fullmatch(p.name) and p.is_dir() for p in runs.iterdir())) \
            or _ours(out / "about.json")
    except OSError as exc:
        raise StoreError(f"{out}: cannot be read: {exc.strerror or exc}") from None
    if entries and not earlier:
        names = ", ".join(sorted(p.name for p in entries)[:3]) + (", ..." if len(entries) > 3 else "")
        raise StoreError(f"{out}: not empty ({names}) and not the output of an earlier run (no runs/ or "
                         "about.json of funnel-sim); use a new or empty directory")


class Evaluator:
    """Replications of many scenarios under one root seed (use as a context manager).

    Args:
        seed: the root seed shared by every alternative (an int, a SeedSequence or a Generator).
        model: the model function (default: the funnel's, :func:`sim.model.replicate`).
        workers, backend, scheduler: where to run (as :func:`sim.run_many`).
        out: a directory for the alternatives' experiment directories (optional).
        chunk_size: replications per task (default: up to 10, a few tasks per worker).
        progress: called as ``progress(done, total)`` while :meth:`run` works.
    """

    def __init__(self, seed, *, model=replicate, workers: int = 1, backend: str = "local",
                 scheduler: str | None = None, out=None, chunk_size: int | None = None, progress=None):
        self.seed = root_seed(seed)
        self.model = model
        self.workers = workers
        self.out = Path(out) if out is not None else None
        self.chunk_size = chunk_size
        self.progress = progress
        self._backend = make_backend(backend, workers, scheduler, preload=(model.__module__,))
        self._runner = None
        self._stores: dict[str, ExperimentStore] = {}
        self._rows: dict[str, dict[int, dict]] = {}
        self._monthly: dict[str, list[pd.DataFrame]] = {}
        self._failures: dict[str, dict[int, dict]] = {}
        self.replications_run = 0  # simulated here, now
        self._requested: dict[tuple[str, int], int] = {}

    def __enter__(self) -> Evaluator:
        if self.out is not None:
            check_out(self.out)  # before any process starts or anything is written
        self._runner = self._backend.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            for store in self._stores.values():
                store.__exit__(*exc)
        finally:
            self._runner = None
            self._backend.__exit__(*exc)

    def key(self, scenario) -> str:
        """The name under which ``scenario``'s replications are kept (its fingerprint)."""
        return scenario_fingerprint(scenario)[:16]

    def _open(self, key: str, scenario) -> None:
        if key in self._rows:
            return
        self._rows[key], self._monthly[key], self._failures[key] = {}, [], {}
        if self.out is None:
            return
        try:
            (self.out / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if not (self.out / "runs").is_dir():  # an existing runs/ may still be read
                raise StoreError(f"{self.out}: cannot create the folder of runs: {exc.strerror or exc}") from None
        store = ExperimentStore(self.out / "runs" / key, scenario, seed_label(self.seed))
        store.__enter__()
        self._stores[key] = store
        if store.writable:  # one opened for reading only is left as it is
            store.start_run(backend=self._runner.name, workers=self.workers)
        store.retry_failures(store.failed_indices())  # a failure may have been the machine's: try again
        rows, monthly, failures = store.load()
        self._rows[key] = {int(r["replication"]): r for r in rows.to_dict(orient="records")}
        if not monthly.empty:
            self._monthly[key].append(monthly)
        self._failures[key] = {int(f["replication"]): f for f in failures}

    @property
    def replications_requested(self) -> int:
        """Replications asked for so far, over every scenario, whether run now or found done.

        Unlike :attr:`replications_run`, it does not depend on what an earlier,
        interrupted run left in ``out``, so a search that budgets by it replays the same.
        """
        return sum(self._requested.values())

    def run(self, scenarios, reps: int, start: int = 0) -> None:
        """Make sure replications ``start .. start + reps - 1`` of every scenario in ``scenarios`` have run.

        Replications from ``start`` on are other worlds than those below it (the
        optimiser's fresh replications, which played no part in its choice, start high).
        """
        tasks, total = [], 0
        wanted = {}
        for scenario in scenarios:
            key = self.key(scenario)
            block = (key, start)
            self._requested[block] = max(self._requested.get(block, 0), reps)
            self._open(key, scenario)
            missing = [i for i in range(start, start + reps)
                       if i not in self._rows[key] and i not in self._failures[key]]
            if missing and key not in wanted:
                wanted[key] = (scenario, missing)
                total += len(missing)
        if not total:
            return
        for key, (_, missing) in wanted.items():
            if key in self._stores and not self._stores[key].writable:
                raise self._stores[key].cannot_write(f"{len(missing)} of the replications asked for are not in it")
        for key, (scenario, missing) in wanted.items():
            tasks += [(key, scenario, chunk) for chunk in chunked(missing, total, self.workers, self.chunk_size)]
        done = 0
        if self.progress is not None:
            self.progress(done, total)
        for key, result in self._runner.map(self.model, tasks, self.seed, 0):
            if key in self._stores:
                self._stores[key].write_chunk(result)
            self._rows[key].update({row["replication"]: row for row in result.rows})
            self._failures[key].update({f["replication"]: f for f in result.failures})
            if result.monthly is not None:
                self._monthly[key].append(result.monthly)
            done += len(result.indices)
            self.replications_run += len(result.indices)
            if self.progress is not None:
                self.progress(done, total)

    def replications(self, scenario, reps: int | None = None, start: int = 0) -> pd.DataFrame:
        """One row per finished replication of ``scenario`` from ``start`` (below ``start + reps``), by index."""
        rows = self._rows.get(self.key(scenario), {})
        end = math.inf if reps is None else start + reps
        frame = pd.DataFrame([rows[i] for i in sorted(rows) if start <= i < end])
        return frame

    def monthly(self, scenario, reps: int | None = None, start: int = 0) -> pd.DataFrame:
        """The monthly series of ``scenario``'s finished replications from ``start`` (below ``start + reps``)."""
        parts = self._monthly.get(self.key(scenario), [])
        if not parts:
            return pd.DataFrame()
        frame = pd.concat(parts, ignore_index=True).drop_duplicates(["replication", "month"])
        frame = frame[frame["replication"] >= start]
        if reps is not None:
            frame = frame[frame["replication"] < start + reps]
        return frame.sort_values(["replication", "month"], ignore_index=True)

    def failures(self, scenario, reps: int | None = None) -> list[dict]:
        """The replications of ``scenario`` that raised (below ``reps``)."""
        failed = self._failures.get(self.key(scenario), {})
        return [failed[i] for i in sorted(failed) if reps is None or i < reps]

    def finish(self) -> None:
        """Record in each experiment directory that this run ended."""
        for key, store in self._stores.items():
            # Nothing is written to a store opened for reading only.
            store.finish_run(completed=len(self._rows[key]), failed=len(self._failures[key]))
