"""Replications: their seeds, and running a chunk of them where a worker can.

Replication ``i`` of an experiment with root seed ``S`` draws from
``SeedSequence(S, spawn_key=(i,))``, the ``i``-th child that ``SeedSequence(S).spawn``
would give (for a root that is a SeedSequence, its ``i``-th child likewise). It depends
on the root and ``i`` alone, so a replication's numbers do not depend on which worker
runs it, or when.

The layer is generic over the model: a *model function* is any picklable callable
``model(scenario, seed) -> (measures, monthly)`` (a flat mapping of numbers, nested
one level at most, and a data frame with a ``month`` column) that also accepts
``trace=True`` and then returns a third element, a data frame of per-lead records.
:func:`sim.model.replicate` is the funnel's.

:func:`run_chunk` is what a worker executes (in this process, in a local process pool
or on a Dask worker): it returns plain picklable records, one per replication.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.errors import FunnelError
from sim.seeds import as_seed_sequence, child

__all__ = ["MAX_CHUNK", "ChunkResult", "chunked", "flatten_metrics", "replication_seed", "root_seed", "run_chunk",
           "seed_label"]

MAX_CHUNK = 10  # replications per chunk at most: a killed run loses at most this many per worker


def chunked(indices: list[int], total: int, workers: int, size: int | None = None) -> list[list[int]]:
    """``indices`` in chunks of ``size``, by default a few chunks per worker for ``total`` replications.

    Up to :data:`MAX_CHUNK` each: small enough that a killed run loses little, large
    enough that tasks are not mostly overhead.
    """
    size = size or max(1, min(MAX_CHUNK, math.ceil(total / (4 * workers))))
    return [indices[k:k + size] for k in range(0, len(indices), size)]


def root_seed(seed) -> np.random.SeedSequence:
    """An experiment's root seed (an int, a SeedSequence or a Generator) as a SeedSequence, once."""
    return as_seed_sequence(seed)


def replication_seed(root, index: int) -> np.random.SeedSequence:
    """The seed of replication ``index`` of an experiment with root seed ``root``.

    ``root`` is an int or a SeedSequence (a Generator would be consumed anew at each
    call: make the root once with :func:`root_seed`).
    """
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)) or index < 0:
        raise FunnelError("replication", f"expected a non-negative integer, got {index!r}")
    if isinstance(root, np.random.Generator):
        raise FunnelError("seed", "expected an int or a SeedSequence for one replication's seed; make the root "
                                  "once with root_seed(generator)")
    return child(as_seed_sequence(root), int(index))


def seed_label(root: np.random.SeedSequence):
    """The root seed as the replications' ``seed`` column shows it: the int it was made from, if it was."""
    plain = not root.spawn_key and isinstance(root.entropy, int) and root.entropy < 2**63  # fits a table's column
    return int(root.entropy) if plain else f"{root.entropy}" + (f"/{list(root.spawn_key)}" if root.spawn_key else "")


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


def run_chunk(model, scenario, root: np.random.SeedSequence, indices, trace_below: int = 0) -> ChunkResult:
    """Run the replications ``indices`` of ``scenario`` with ``model`` and return their records.

    Args:
        model: the model function (see the module docstring).
        scenario: what the model runs.
        root: the experiment's root seed.
        indices: replication indices to run.
        trace_below: keep per-lead records of the replications with an index below this.

    A replication that raises is recorded in ``failures`` with its traceback; the
    others in the chunk still run.
    """
    result = ChunkResult(indices=[int(i) for i in indices])
    label = seed_label(root)
    monthly, done = [], []
    for i in result.indices:
        try:
            traced = i < trace_below
            out = model(scenario, replication_seed(root, i), **({"trace": True} if traced else {}))
        except Exception as exc:  # noqa: BLE001 -- any model error is reported with the replication's index
            result.failures.append({"replication": i, "seed": label,
                                    "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
            continue
        metrics, frame = out[0], out[1]
        result.rows.append({"replication": i, "seed": label, **flatten_metrics(metrics)})
        monthly.append(frame)
        done.append(i)
        if traced:
            result.traces[i] = out[2]
    if monthly:
        # One concatenation, the replication column added once (not a copy per replication).
        frame = pd.concat(monthly, ignore_index=True)
        frame.insert(0, "replication", np.repeat(np.asarray(done, dtype=np.int64), [len(m) for m in monthly]))
        result.monthly = frame
    return result
