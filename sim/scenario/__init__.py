"""Scenarios: the schema, distributions, reading and checking files, and the plan the model runs.

Nothing here simulates; every other layer reads scenarios through this one.
"""

from sim.scenario.loading import dump_scenario, load_scenario, parse_scenario
from sim.scenario.messages import ScenarioError
from sim.scenario.plan import BudgetAccount, Plan, RolePlan
from sim.scenario.schema import Scenario

__all__ = ["BudgetAccount", "Plan", "RolePlan", "Scenario", "ScenarioError", "dump_scenario", "load_scenario",
           "parse_scenario"]
