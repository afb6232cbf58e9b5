"""Monte Carlo experiments: many replications of one scenario, summarised.

:func:`run_many` plans which replications to run, hands chunks of them to a backend
(:mod:`sim.montecarlo.backends`), keeps each finished chunk in a store
(:mod:`sim.montecarlo.store`, on disk with ``out``), and returns an :class:`Experiment`.
Replication ``i`` uses the seed :func:`sim.montecarlo.replication.replication_seed`
``(seed, i)``, so the numbers are the same, bit for bit, whatever the backend, the
number of workers, the chunking, the order in which chunks finish, or how often the
run was interrupted and resumed. It runs any model function (see
:mod:`sim.montecarlo.replication`); ``sim.run_many`` runs the funnel's.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import FunnelError
from sim.montecarlo.backends import check_backend, make_backend
from sim.montecarlo.replication import chunked, root_seed, run_chunk, seed_label
from sim.montecarlo.store import ExperimentStore, MemoryStore
from sim.montecarlo.summary import confidence_half_width, summarise
from sim.seeds import SeedError

__all__ = ["Experiment", "ExperimentError", "check_settings", "run_many"]


class ExperimentError(FunnelError):
    """A setting of :func:`run_many` that cannot work; names the setting and what was expected."""


@dataclass
class Experiment:
    """The replications of one scenario and what they say.

    Attributes:
        scenario: the scenario run.
        seed: the root seed as a SeedSequence; replication ``i`` used ``replication_seed(seed, i)``.
        reps: the replications asked for (with ``precision``, the most allowed).
        replications: one row per finished replication: ``replication``, ``seed``,
            then every measure (``lead_accounting.<state>`` for the accounting).
        monthly: the monthly series, long format, with the replication index.
        failures: one row per replication that raised: index, seed, error, traceback.
        traces: per-lead records of the first ``trace`` replications, by index.
        precision: with ``precision``, what the stopping rule saw (see :func:`run_many`).
        out: the experiment directory, if any.
        notes: what the experiment directory reported and stopped nothing (a damaged chunk
            set aside and run again, a dead run's lock taken over); each was also emitted as
            a :class:`sim.montecarlo.store.StoreWarning`.
    """

    scenario: object
    seed: np.random.SeedSequence
    reps: int
    replications: pd.DataFrame
    monthly: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    traces: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)
    precision: dict | None = None
    out: Path | None = None
    notes: list[str] = field(default_factory=list, repr=False)

    @property
    def all_failed(self) -> bool:
        """Whether every replication failed: nothing to summarise (``failures`` says why)."""
        return self.replications.empty and not self.failures.empty

    def summary(self, measures=None, level: float = 0.95) -> pd.DataFrame:
        """Per measure: n, mean, CI of the mean, sd, P10, P50, P90 (see :func:`sim.montecarlo.summary.summarise`)."""
        return summarise(self.replications, measures, level)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: one row per replication (``replication``, ``seed``, then every measure)."""
        return self.replications.copy()

    def to_excel(self, path, measures=None, level: float = 0.95):
        """Write a workbook: the summary, the replications and the monthly series (see :mod:`sim.present.workbook`)."""
        from sim.present.workbook import write_experiment_excel  # the presentation layer, only when asked

        return write_experiment_excel(self, path, measures=measures, level=level)

    def __repr__(self) -> str:
        failed = f", failed={len(self.failures)}" if len(self.failures) else ""
        return (f"Experiment(scenario={getattr(self.scenario, 'name', '?')!r}, seed={seed_label(self.seed)!r}, "
                f"reps={self.reps}, completed={len(self.replications)}{failed})")


def _int_problem(name: str, value, lowest: int) -> list[tuple[str, str]]:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < lowest:
        return [(name, f"expected an integer of at least {lowest}, got {value!r}")]
    return []


def check_settings(*, reps=100, workers=1, backend="local", scheduler=None, precision=None, metric=None,
                   precision_batch=20, chunk_size=None, trace=0) -> list[tuple[str, str]]:
    """Every setting of :func:`run_many` that cannot work, as ``(parameter, message)``; nothing runs."""
    problems = _int_problem("reps", reps, 1) + _int_problem("trace", trace, 0)
    problems += _int_problem("precision_batch", precision_batch, 2)
    if chunk_size is not None:
        problems += _int_problem("chunk_size", chunk_size, 1)
    problems += check_backend(backend, workers, scheduler)
    if precision is not None:
        if isinstance(precision, bool) or not isinstance(precision, (int, float)) or not 0 < precision < math.inf:
            problems.append(("precision", f"expected a positive number (e.g. 0.02 for 2%), got {precision!r}"))
        if metric is None:
            problems.append(("metric", "is needed with {precision}: the measure to watch (e.g. wins)"))
    elif metric is not None:
        problems.append(("precision", "is needed with {metric}: the CI half-width to reach, as a share of the mean"))
    return problems


def run_many(scenario, reps: int = 100, seed=0, *, model, workers: int = 1, backend: str = "local",
             scheduler: str | None = None, out=None, precision: float | None = None, metric: str | None = None,
             precision_batch: int = 20, chunk_size: int | None = None, trace: int = 0,
             progress: Callable[[int, int], None] | None = None) -> Experiment:
    """Run replications of ``scenario`` with ``model`` and return the :class:`Experiment`.

    Args:
        scenario: what the model runs (for the funnel, a validated scenario).
        reps: replications to run (with ``precision``, the most to run).
        seed: the root seed: an int, a SeedSequence or a Generator (:mod:`sim.seeds`);
            only an int root can be checked when an ``out`` directory is resumed.
        model: the model function, ``model(scenario, seed) -> (measures, monthly)``
            (:mod:`sim.montecarlo.replication`).
        workers: processes (or Dask workers) to run on; 1 runs in this process.
        backend: ``"local"`` (processes on this machine) or ``"dask"``.
        scheduler: with ``backend="dask"``, the address of an existing scheduler;
            without it a local Dask cluster is started and stopped here.
        out: an experiment directory (:mod:`sim.montecarlo.store`); finished replications are
            written to it as they come, and running again on it resumes (running again the
            replications that failed, and those of any chunk that no longer matches its
            record). A directory this process cannot write to is only read: it must hold
            every replication asked for.
        precision: stop adding replications, in batches of ``precision_batch``, once the
            95% CI half-width of ``metric`` is below ``precision`` times its mean.
        metric: the measure that ``precision`` watches.
        precision_batch: replications per batch in precision mode (the stopping rule is
            only checked at multiples of it, so the answer is the same on any backend).
        chunk_size: replications per task (default: up to 10, a few tasks per worker).
        trace: keep per-lead records of replications ``0 .. trace - 1``.
        progress: called as ``progress(done, reps)`` after each finished chunk.

    Raises:
        ExperimentError: a setting that cannot work (every one at once).
        sim.montecarlo.store.StoreError: ``out`` is not a directory this run may use.
        sim.montecarlo.backends.BackendError: the backend cannot run.
    """
    problems = check_settings(reps=reps, workers=workers, backend=backend, scheduler=scheduler, precision=precision,
                              metric=metric, precision_batch=precision_batch, chunk_size=chunk_size, trace=trace)
    try:
        root = root_seed(seed)
    except SeedError as exc:
        problems += exc.problems
    if problems:
        raise ExperimentError(*problems[0], problems=problems)
    reps, workers, trace, batch = int(reps), int(workers), int(trace), int(precision_batch)
    label = seed_label(root)

    store = ExperimentStore(out, scenario, label) if out is not None else MemoryStore()
    with store, make_backend(backend, workers, scheduler, preload=(model.__module__,)) as runner:
        if store.writable:  # a directory opened for reading only is left exactly as it is
            store.start_run(reps=reps, backend=runner.name, workers=workers, precision=precision, metric=metric,
                            precision_batch=batch if precision is not None else None, trace=trace)
        store.retry_failures(range(reps))  # a failure may have been the machine's (MemoryError): try again
        done = store.done_indices()
        watched: dict[int, float] = {}

        def report() -> None:
            if progress is not None:
                progress(sum(1 for i in done if i < reps), reps)

        def run(indices) -> None:
            missing = [i for i in indices if i not in done]
            if missing and not store.writable:
                raise store.cannot_write(f"{len(missing)} of the replications asked for are not in it")
            tasks = [(None, scenario, chunk) for chunk in chunked(missing, len(missing), workers, chunk_size)]
            for _, result in runner.map(model, tasks, root, trace):
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
                if not store.writable:
                    raise store.cannot_write(f"the per-lead records of replication {i} are not in it")
                store.write_traces(run_chunk(model, scenario, root, [i], trace_below=i + 1).traces)
        replications, monthly, failures = store.load()
        replications = replications[replications["replication"] < stop].reset_index(drop=True)
        monthly = monthly[monthly["replication"] < stop].reset_index(drop=True)
        failures = pd.DataFrame([f for f in failures if f["replication"] < stop],
                                columns=["replication", "seed", "error", "traceback"])
        store.finish_run(completed=len(replications), failed=len(failures),
                         **({"precision_result": rule} if rule else {}))
        traces = {i: store.trace(i) for i in range(min(trace, stop)) if store.has_trace(i)}
    return Experiment(scenario=scenario, seed=root, reps=reps, replications=replications, monthly=monthly,
                      failures=failures.sort_values("replication", ignore_index=True), traces=traces,
                      precision=rule, out=Path(out) if out is not None else None, notes=list(store.notes))


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
