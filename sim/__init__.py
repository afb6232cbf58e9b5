"""Funnel budget simulation: marketing spend and sales headcount in one SimPy model."""

from sim.config import Scenario, ScenarioError, load_scenario, parse_scenario

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "parse_scenario", "simulate"]


def simulate(scenario, seed=0):
    """Simulate one horizon of ``scenario`` with ``seed``; see :func:`sim.model.simulate`."""
    from sim.model import simulate as _simulate

    return _simulate(scenario, seed=seed)
