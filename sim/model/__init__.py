"""The model: one replication of the funnel, from a scenario's plan to its measures.

It knows nothing of replications, budget splits or the command line. :func:`simulate`
runs and measures one horizon; :func:`replicate` is the same as the Monte Carlo layer's
model function, ``(scenario, seed) -> (measures, monthly)``.
"""

from sim.model.simulation import Result, replicate, run, simulate

__all__ = ["Result", "replicate", "run", "simulate"]
