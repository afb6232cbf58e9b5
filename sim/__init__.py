"""Funnel budget simulation: marketing spend and sales headcount in one SimPy model."""

from sim.config import Scenario, ScenarioError, load_scenario, parse_scenario

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "parse_scenario", "run_many", "simulate"]


def simulate(scenario, seed=0, lead_records=True):
    """Simulate one horizon of ``scenario`` with ``seed``; see :func:`sim.model.simulate`."""
    from sim.model import simulate as _simulate

    return _simulate(scenario, seed=seed, lead_records=lead_records)


def run_many(scenario, reps=100, seed=0, **options):
    """Run ``reps`` replications of ``scenario``; see :func:`sim.experiment.run_many`."""
    from sim.experiment import run_many as _run_many

    return _run_many(scenario, reps=reps, seed=seed, **options)
