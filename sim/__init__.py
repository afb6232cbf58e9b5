"""Funnel budget simulation: marketing spend and sales headcount in one SimPy model.

Everything a notebook needs is here (see ``docs/api.md``)::

    import sim

    scenario = sim.load_scenario("scenarios/b2b_saas_inbound.yaml")
    result = sim.simulate(scenario, seed=1)                  # one horizon
    experiment = sim.run_many(scenario, reps=50, seed=1)     # many, with CIs
    swept = sim.sweep(scenario, {"marketing_share": [0.2, 0.3, 0.4]}, reps=20, seed=1)
    allocation, diagnostics = sim.optimize(scenario, seed=1)

Names are loaded when first used, so ``import sim`` is quick and pulls in neither
SimPy nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sim.version import __version__

# name -> the module that defines it
_WHERE = {
    # errors and seeds
    "FunnelError": "sim.errors",
    "SeedError": "sim.seeds",
    # scenarios
    "Scenario": "sim.scenario",
    "ScenarioError": "sim.scenario",
    "Plan": "sim.scenario",
    "load_scenario": "sim.scenario",
    "parse_scenario": "sim.scenario",
    # one replication
    "Result": "sim.model",
    "simulate": "sim.model",
    "approximate": "sim.model",
    "SizeError": "sim.model.size",
    "estimate_size": "sim.model.size",
    # many replications
    "Experiment": "sim.montecarlo.experiment",
    "ExperimentError": "sim.montecarlo.experiment",
    "StoreError": "sim.montecarlo.store",
    "BackendError": "sim.montecarlo.backends",
    "replication_seed": "sim.montecarlo.replication",
    "summarise": "sim.montecarlo.summary",
    # decisions
    "Split": "sim.decide.split",
    "SplitError": "sim.decide.split",
    "current_split": "sim.decide.split",
    "vary": "sim.decide.split",
    "with_split": "sim.decide.split",
    "Alternative": "sim.decide.compare",
    "Comparison": "sim.decide.compare",
    "CompareError": "sim.decide.compare",
    "compare": "sim.decide.compare",
    "sweep": "sim.decide.compare",
    "parameter_uncertainty": "sim.decide.uncertainty",
    "split_alternatives_of": "sim.decide.compare",
    "alternatives_of": "sim.decide.what_if",
    "sensitivity": "sim.decide.sensitivity",
    "Sensitivity": "sim.decide.sensitivity",
    "analyse": "sim.decide.compare",
    "optimize": "sim.decide.optimize",
    "smallest_budget": "sim.decide.optimize",
    "optimize_over_time": "sim.decide.over_time",
    "horizon_bias": "sim.decide.horizon",
    "PlanDiagnostics": "sim.decide.over_time",
    "TimePlan": "sim.decide.timing",
    "PlanSpace": "sim.decide.timing",
    "plan_space": "sim.decide.timing",
    "Diagnostics": "sim.decide.optimize",
    "Guarantee": "sim.decide.optimize",
    "BudgetSearch": "sim.decide.optimize",
    "OptimizeError": "sim.decide.search_space",
    "BudgetTooSmall": "sim.decide.search_space",
    "Objective": "sim.decide.objectives",
    "ObjectiveError": "sim.decide.objectives",
    "Risk": "sim.decide.objectives",
    "mean": "sim.decide.objectives",
    "value_at_risk": "sim.decide.objectives",
    "conditional_value_at_risk": "sim.decide.objectives",
    "probability_of_target": "sim.decide.objectives",
    "make_risk": "sim.decide.objectives",
    # presentation
    "objective_plot": "sim.present.plots",
    "difference_plot": "sim.present.plots",
    "heatmap_plot": "sim.present.plots",
    "funnel_plot": "sim.present.plots",
    "capacity_plot": "sim.present.plots",
    "distribution_plot": "sim.present.plots",
    "write_plots": "sim.present.plots",
    "fan_chart": "sim.present.fan",
    "cash_fan_plot": "sim.present.fan",
    "funnel_fans": "sim.present.fan",
    "lead_waterfall": "sim.present.waterfall",
    "money_waterfall": "sim.present.waterfall",
    "write_run_plots": "sim.present.run_plots",
    "tornado_plot": "sim.present.sensitivity_plots",
    "frontier_plot": "sim.present.frontier",
    "frontier_table": "sim.present.frontier",
    "indices_plot": "sim.present.sensitivity_plots",
    "measures_table": "sim.present.tables",
    "measure_unit": "sim.present.tables",
    "write_tables": "sim.present.export",
    "write_excel": "sim.present.workbook",
    "write_experiment_excel": "sim.present.workbook",
    "PresentError": "sim.present.errors",
    "CrmExport": "sim.present.crm",
    "crm_export": "sim.present.crm",
    "write_crm": "sim.present.crm",
    # back-testing
    "backtest": "sim.calibrate.backtest",
    "Backtest": "sim.calibrate.backtest",
    "BacktestError": "sim.calibrate.backtest",
    "read_actual": "sim.calibrate.backtest",
    "backtest_plot": "sim.present.backtest_plots",
    "Explorer": "sim.present.explorer",
    # calibrating from CRM data
    "calibrate": "sim.calibrate.api",
    "Calibration": "sim.calibrate.api",
    "CalibrateError": "sim.calibrate.errors",
}

__all__ = ["__version__", "run_many", *_WHERE]


def run_many(scenario, reps: int = 100, seed=0, *, limits=None, **options):
    """Run ``reps`` replications of ``scenario`` with the funnel model; see :func:`sim.montecarlo.run_many`.

    Options are those of :func:`sim.montecarlo.run_many` (``workers``, ``backend``,
    ``scheduler``, ``out``, ``precision``, ``metric``, ``precision_batch``,
    ``chunk_size``, ``trace``, ``progress``); returns an :class:`Experiment`.
    ``limits`` bounds one replication's size, as in :func:`simulate`: a scenario past
    them is refused (:class:`sim.model.size.SizeError`) before anything runs.
    """
    from sim.model import replicate
    from sim.model.size import check_size
    from sim.montecarlo.experiment import run_many as _run_many

    check_size(scenario, limits)
    return _run_many(scenario, reps=reps, seed=seed, model=replicate, **options)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # once found, a plain attribute
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for editors and type checkers: the same names, imported eagerly
    from sim.calibrate.api import Calibration, calibrate  # noqa: F401
    from sim.calibrate.backtest import Backtest, BacktestError, backtest, read_actual  # noqa: F401
    from sim.calibrate.errors import CalibrateError  # noqa: F401
    from sim.decide.compare import (  # noqa: F401
        Alternative,
        CompareError,
        Comparison,
        analyse,
        compare,
        split_alternatives_of,
        sweep,
    )
    from sim.decide.horizon import horizon_bias  # noqa: F401
    from sim.decide.objectives import (  # noqa: F401
        Objective,
        ObjectiveError,
        Risk,
        conditional_value_at_risk,
        make_risk,
        mean,
        probability_of_target,
        value_at_risk,
    )
    from sim.decide.optimize import BudgetSearch, Diagnostics, Guarantee, optimize, smallest_budget  # noqa: F401
    from sim.decide.over_time import PlanDiagnostics, optimize_over_time  # noqa: F401
    from sim.decide.search_space import BudgetTooSmall, OptimizeError  # noqa: F401
    from sim.decide.sensitivity import Sensitivity, sensitivity  # noqa: F401
    from sim.decide.split import Split, SplitError, current_split, vary, with_split  # noqa: F401
    from sim.decide.timing import PlanSpace, TimePlan, plan_space  # noqa: F401
    from sim.decide.uncertainty import parameter_uncertainty  # noqa: F401
    from sim.decide.what_if import alternatives_of  # noqa: F401
    from sim.errors import FunnelError  # noqa: F401
    from sim.model import Result, approximate, simulate  # noqa: F401
    from sim.model.size import SizeError, estimate_size  # noqa: F401
    from sim.montecarlo.backends import BackendError  # noqa: F401
    from sim.montecarlo.experiment import Experiment, ExperimentError  # noqa: F401
    from sim.montecarlo.replication import replication_seed  # noqa: F401
    from sim.montecarlo.store import StoreError  # noqa: F401
    from sim.montecarlo.summary import summarise  # noqa: F401
    from sim.present.backtest_plots import backtest_plot  # noqa: F401
    from sim.present.crm import CrmExport, crm_export, write_crm  # noqa: F401
    from sim.present.errors import PresentError  # noqa: F401
    from sim.present.explorer import Explorer  # noqa: F401
    from sim.present.export import write_tables  # noqa: F401
    from sim.present.fan import cash_fan_plot, fan_chart, funnel_fans  # noqa: F401
    from sim.present.frontier import frontier_plot, frontier_table  # noqa: F401
    from sim.present.plots import (  # noqa: F401
        capacity_plot,
        difference_plot,
        distribution_plot,
        funnel_plot,
        heatmap_plot,
        objective_plot,
        write_plots,
    )
    from sim.present.run_plots import write_run_plots  # noqa: F401
    from sim.present.sensitivity_plots import indices_plot, tornado_plot  # noqa: F401
    from sim.present.tables import measure_unit, measures_table  # noqa: F401
    from sim.present.waterfall import lead_waterfall, money_waterfall  # noqa: F401
    from sim.present.workbook import write_excel, write_experiment_excel  # noqa: F401
    from sim.scenario import Plan, Scenario, ScenarioError, load_scenario, parse_scenario  # noqa: F401
    from sim.seeds import SeedError  # noqa: F401
