"""Monte Carlo experiments: many replications of one scenario, summarised (MODEL.md 7).

:func:`run_many` plans which replications to run, hands chunks of them to a backend
(:mod:`sim.backends`), keeps each finished chunk in a store (:mod:`sim.store`, on
disk with ``out``), and returns an :class:`Experiment`. Replication ``i`` uses the
seed :func:`sim.replication.replication_seed` ``(seed, i)``, so the numbers are the
same, bit for bit, whatever the backend, the number of workers, the chunking, the
order in which chunks finish, or how often the run was interrupted and resumed.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.backends import make_backend
from sim.errors import SettingError
from sim.replication import chunked, run_chunk
from sim.store import ExperimentStore, MemoryStore
from sim.summary import confidence_half_width, summarise

__all__ = ["Experiment", "ExperimentError", "run_many"]



class ExperimentError(SettingError):
    """A setting of :func:`run_many` that cannot work; names the setting and what was expected."""


@dataclass
class Experiment:
    """The replications of one scenario and what they say.

    Attributes:
        scenario: the scenario run.
        seed: the root seed; replication ``i`` used ``replication_seed(seed, i)``.
        reps: the replications asked for (with ``precision``, the most allowed).
        replications: one row per finished replication: ``replication``, ``seed``,
            then every measure (``lead_accounting.<state>`` for the accounting).
        monthly: the monthly series, long format, with the replication index.
        failures: one row per replication that raised: index, seed, error, traceback.
        traces: per-lead records of the first ``trace`` replications, by index.
        precision: with ``precision``, what the stopping rule saw (see :func:`run_many`).
        out: the experiment directory, if any.
    """

    scenario: object
    seed: int
    reps: int
    replications: pd.DataFrame
    monthly: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    traces: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)
    precision: dict | None = None
    out: Path | None = None

    def summary(self, measures=None, level: float = 0.95) -> pd.DataFrame:
        """Per measure: n, mean, CI of the mean, sd, P10, P50, P90 (see :func:`sim.summary.summarise`)."""
        return summarise(self.replications, measures, level)


def _check_int(name: str, value, lowest: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < lowest:
        raise ExperimentError(name, f"expected an integer of at least {lowest}, got {value!r}")
    return int(value)


def run_many(scenario, reps: int = 100, seed: int = 0, *, workers: int = 1, backend: str = "local",
             scheduler: str | None = None, out=None, precision: float | None = None, metric: str | None = None,
             batch: int = 20, chunk_size: int | None = None, trace: int = 0,
             progress: Callable[[int, int], None] | None = None) -> Experiment:
    """Run replications of ``scenario`` and return the :class:`Experiment`.

    Args:
        scenario: a validated scenario (:func:`sim.load_scenario`).
        reps: replications to run (with ``precision``, the most to run).
        seed: the root seed (a non-negative int).
        workers: processes (or Dask workers) to run on; 1 runs in this process.
        backend: ``"local"`` (processes on this machine) or ``"dask"``.
        scheduler: with ``backend="dask"``, the address of an existing scheduler;
            without it a local Dask cluster is started and stopped here.
        out: an experiment directory (:mod:`sim.store`); finished replications are
            written to it as they come, and running again on it resumes.
        precision: stop adding replications, in batches of ``batch``, once the 95%
            CI half-width of ``metric`` is below ``precision`` times its mean.
        metric: the measure that ``precision`` watches.
        batch: replications per batch in precision mode (the stopping rule is only
            checked at multiples of ``batch``, so the answer is the same on any backend).
        chunk_size: replications per task (default: up to 10, a few tasks per worker).
        trace: keep per-lead records of replications ``0 .. trace - 1``.
        progress: called as ``progress(done, reps)`` after each finished chunk.

    Raises:
        ExperimentError: a setting that cannot work.
        sim.store.StoreError: ``out`` is not a directory this run may use.
        sim.backends.BackendError: the backend cannot run.
    """
    reps = _check_int("reps", reps, 1)
    seed = _check_int("seed", seed, 0)
    workers = _check_int("workers", workers, 1)
    trace = _check_int("trace", trace, 0)
    batch = _check_int("batch", batch, 2)
    if chunk_size is not None:
        chunk_size = _check_int("chunk_size", chunk_size, 1)
    if precision is not None:
        if isinstance(precision, bool) or not isinstance(precision, (int, float)) or not 0 < precision < math.inf:
            raise ExperimentError("precision", f"expected a positive number (e.g. 0.02 for 2%), got {precision!r}")
        if metric is None:
            raise ExperimentError("metric", "precision needs the measure to watch (e.g. wins)")
    elif metric is not None:
        raise ExperimentError("precision", "a metric is given without the precision to reach for it")

    store = ExperimentStore(out, scenario, seed) if out is not None else MemoryStore()
    with store, make_backend(backend, workers, scheduler) as runner:
        store.start_run(reps=reps, backend=runner.name, workers=workers, precision=precision, metric=metric,
                        batch=batch if precision is not None else None, trace=trace)
        done = store.done_indices()
        watched: dict[int, float] = {}

        def report() -> None:
            if progress is not None:
                progress(sum(1 for i in done if i < reps), reps)

        def run(indices) -> None:
            missing = [i for i in indices if i not in done]
            tasks = [(None, scenario, chunk) for chunk in chunked(missing, len(missing), workers, chunk_size)]
            for _, result in runner.map(tasks, seed, trace):
                store.write_chunk(result)
                done.update(result.indices)
                if metric is not None:
                    watched.update({row["replication"]: row[metric] for row in result.rows if metric in row})
                report()

        report()
        stop = reps
        rule = None
        if precision is not None:
            _check_metric(store, run, metric, watched)
            rule = {"metric": metric, "precision": precision, "reached": False}
            for k in [*range(batch, reps, batch), reps]:
                run(range(k))
                values = np.array([watched[i] for i in sorted(watched) if i < k], dtype=float)
                values = values[~np.isnan(values)]
                mean = float(values.mean()) if len(values) else math.nan
                half = confidence_half_width(values)
                # A zero mean has no relative precision; NaN (too few values) never passes either.
                relative = half / abs(mean) if mean != 0 else math.inf
                rule.update(replications=k, mean=mean, half_width=half, relative_half_width=relative)
                if rule["relative_half_width"] < precision:
                    rule["reached"] = True
                    stop = k
                    break
        else:
            run(range(reps))
        for i in range(min(trace, stop)):
            # A resumed run asked for more traces than the first: rebuild the missing ones.
            if not store.has_trace(i):
                store.write_traces(run_chunk(scenario, seed, [i], trace_below=i + 1).traces)
        replications, monthly, failures = store.load()
        replications = replications[replications["replication"] < stop].reset_index(drop=True)
        monthly = monthly[monthly["replication"] < stop].reset_index(drop=True)
        failures = pd.DataFrame([f for f in failures if f["replication"] < stop],
                                columns=["replication", "seed", "error", "traceback"])
        store.finish_run(completed=len(replications), failed=len(failures),
                         **({"precision_result": rule} if rule else {}))
        traces = {i: store.trace(i) for i in range(min(trace, stop)) if store.has_trace(i)}
    return Experiment(scenario=scenario, seed=seed, reps=reps, replications=replications, monthly=monthly,
                      failures=failures.sort_values("replication", ignore_index=True), traces=traces,
                      precision=rule, out=Path(out) if out is not None else None)


def _check_metric(store, run, metric: str, watched: dict) -> None:
    """Fail early on a metric that is not a measure, running replication 0 to learn the names."""
    replications, _, _ = store.load()
    if replications.empty:
        run([0])
        replications, _, _ = store.load()
    if replications.empty:
        return  # replication 0 failed: the failures report says why
    names = [c for c in replications.columns if c not in ("replication", "seed")]
    if metric not in names:
        close = difflib.get_close_matches(metric, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; measures are: {', '.join(names)}"
        raise ExperimentError("metric", f"{metric!r} is not a measure{hint}")
    watched.update(zip(replications["replication"].tolist(), replications[metric].tolist(), strict=True))
