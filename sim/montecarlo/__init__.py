"""Monte Carlo: many replications of a model, where they run, the experiment directory, summaries.

Generic over a model function ``(scenario, seed) -> (measures, monthly)``; it does
not import :mod:`sim.model` (``sim.run_many`` passes the funnel's).
"""

from sim.montecarlo.backends import BackendError
from sim.montecarlo.experiment import Experiment, ExperimentError, run_many
from sim.montecarlo.replication import replication_seed
from sim.montecarlo.store import StoreError
from sim.montecarlo.summary import summarise

__all__ = ["BackendError", "Experiment", "ExperimentError", "StoreError", "replication_seed", "run_many", "summarise"]
