"""Decisions: budget splits, objectives and risk measures, paired statistics, comparison and optimisation.

Everything here runs the funnel (:mod:`sim.model`) through the Monte Carlo layer with
common random numbers: replication ``i`` of every alternative has the same seed.
"""

from sim.decide.compare import Alternative, CompareError, Comparison, analyse, compare, split_alternatives_of, sweep
from sim.decide.objectives import (
    Objective,
    ObjectiveError,
    Risk,
    conditional_value_at_risk,
    make_risk,
    mean,
    probability_of_target,
    value_at_risk,
)
from sim.decide.optimize import Diagnostics, optimize, smallest_budget
from sim.decide.search_space import BudgetTooSmall, OptimizeError
from sim.decide.split import Split, SplitError, current_split, vary, with_split

__all__ = ["Alternative", "BudgetTooSmall", "CompareError", "Comparison", "Diagnostics", "Objective",
           "ObjectiveError", "OptimizeError", "Risk", "Split", "SplitError", "analyse", "compare",
           "conditional_value_at_risk", "current_split", "make_risk", "mean", "optimize", "probability_of_target",
           "smallest_budget", "split_alternatives_of", "sweep", "value_at_risk", "vary", "with_split"]
