"""Replications: their seeds, and running a chunk of them where a worker can (MODEL.md 7).

Replication ``i`` of an experiment with root seed ``S`` draws from
``SeedSequence(S, spawn_key=(i,))``, the ``i``-th child that ``SeedSequence(S).spawn``
would give. It depends on ``S`` and ``i`` alone, so a replication's numbers do not
depend on which worker runs it, or when.

:func:`run_chunk` is what a worker executes (in this process, in a local process pool
or on a Dask worker): it returns plain picklable records, one per replication.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.streams import as_seed_sequence

__all__ = ["MAX_CHUNK", "ChunkResult", "chunked", "flatten_metrics", "replication_seed", "run_chunk"]

MAX_CHUNK = 10  # replications per chunk at most: a killed run loses at most this many per worker


def chunked(indices: list[int], total: int, workers: int, size: int | None = None) -> list[list[int]]:
    """``indices`` in chunks of ``size``, by default a few chunks per worker for ``total`` replications.

    Up to :data:`MAX_CHUNK` each: small enough that a killed run loses little, large
    enough that tasks are not mostly overhead.
    """
    size = size or max(1, min(MAX_CHUNK, math.ceil(total / (4 * workers))))
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def replication_seed(root_seed: int, index: int) -> np.random.SeedSequence:
    """The seed of replication ``index`` of an experiment with ``root_seed``."""
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f'"replication" must be a non-negative integer, got {index!r}')
    if isinstance(root_seed, np.random.SeedSequence):
        raise ValueError('"seed" of an experiment must be a non-negative integer, not a SeedSequence')
    root = as_seed_sequence(root_seed)
    return np.random.SeedSequence(root.entropy, spawn_key=(int(index),))


def flatten_metrics(metrics: dict) -> dict:
    """One level of names: the nested ``lead_accounting`` becomes ``lead_accounting.<state>``."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


@dataclass
class ChunkResult:
    """What a worker sends back for a chunk of replications.

    Attributes:
        rows: one flat record per replication that finished (``replication``, ``seed``,
            then the measures), in index order.
        monthly: the monthly series of those replications, long format, with a
            ``replication`` column first.
        failures: one record per replication that raised (``replication``, ``seed``,
            ``error``, ``traceback``).
        traces: per-lead records by replication index, for the replications asked for.
    """

    indices: list[int]
    rows: list[dict] = field(default_factory=list)
    monthly: pd.DataFrame | None = None
    failures: list[dict] = field(default_factory=list)
    traces: dict[int, pd.DataFrame] = field(default_factory=dict)


def run_chunk(scenario, root_seed: int, indices, trace_below: int = 0) -> ChunkResult:
    """Run the replications ``indices`` of ``scenario`` and return their records.

    Args:
        scenario: a validated scenario.
        root_seed: the experiment's root seed.
        indices: replication indices to run.
        trace_below: keep per-lead records of the replications with an index below this.

    A replication that raises is recorded in ``failures`` with its traceback; the
    others in the chunk still run.
    """
    from sim.model import simulate

    result = ChunkResult(indices=[int(i) for i in indices])
    monthly = []
    for i in result.indices:
        try:
            r = simulate(scenario, seed=replication_seed(root_seed, i), lead_records=i < trace_below)
        except Exception as exc:  # noqa: BLE001 -- any model error is reported with the replication's index
            result.failures.append({"replication": i, "seed": int(root_seed),
                                    "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
            continue
        result.rows.append({"replication": i, "seed": int(root_seed), **flatten_metrics(r.metrics)})
        monthly.append(r.monthly.assign(replication=i))
        if r.leads is not None:
            result.traces[i] = r.leads
    if monthly:
        frame = pd.concat(monthly, ignore_index=True)
        result.monthly = frame[["replication", *[c for c in frame.columns if c != "replication"]]]
    return result
