"""The model: one replication of the funnel, from a scenario's plan to its measures.

It knows nothing of replications, budget splits or the command line. :func:`simulate`
runs and measures one horizon; :func:`replicate` is the same as the Monte Carlo layer's
model function, ``(scenario, seed) -> (measures, monthly)``. :func:`approximate` is a
fast deterministic approximation of a replication's expected measures (no event loop).
"""

from sim.model.fluid import approximate, approximate_monthly, approximate_with_monthly
from sim.model.simulation import Result, replicate, run, simulate

__all__ = ["Result", "approximate", "approximate_monthly", "approximate_with_monthly", "replicate", "run", "simulate"]
