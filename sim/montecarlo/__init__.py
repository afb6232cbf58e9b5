"""Monte Carlo: many replications of a model, where they run, the experiment directory, summaries.

Generic over a model function ``(scenario, seed) -> (measures, monthly)``; it does
not import :mod:`sim.model` (``sim.run_many`` passes the funnel's). The names below
are loaded when first used, so that a worker process importing
:mod:`sim.montecarlo.replication` does not load the summaries' statistics.
"""

import importlib

_WHERE = {
    "BackendError": "sim.montecarlo.backends",
    "Experiment": "sim.montecarlo.experiment",
    "ExperimentError": "sim.montecarlo.experiment",
    "run_many": "sim.montecarlo.experiment",
    "replication_seed": "sim.montecarlo.replication",
    "StoreError": "sim.montecarlo.store",
    "summarise": "sim.montecarlo.summary",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'sim.montecarlo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
