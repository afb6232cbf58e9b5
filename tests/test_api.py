"""The public API: one `import sim` reaches everything a notebook needs, with the same words everywhere."""

import inspect

import numpy as np
import pytest
from paths import TEACHING

import sim

# Keywords that mean one thing wherever they appear (and the names they replaced).
RETIRED = {"total": "budget", "batch": "precision_batch or race_batch", "low": "budget_range",
           "high": "budget_range", "relative_tolerance": "budget_tolerance"}


def test_every_public_name_resolves_and_all_is_explicit():
    assert sim.__all__ == list(dict.fromkeys(sim.__all__))  # no name twice
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    with pytest.raises(AttributeError):
        sim.no_such_name  # noqa: B018
    assert set(sim.__all__) <= set(dir(sim))


@pytest.mark.parametrize("name", ["simulate", "run_many", "compare", "sweep", "optimize", "smallest_budget",
                                  "Split", "vary", "current_split", "Objective", "mean", "value_at_risk",
                                  "conditional_value_at_risk", "probability_of_target", "objective_plot",
                                  "write_plots", "fan_chart", "cash_fan_plot", "write_excel", "write_tables",
                                  "optimize_over_time", "horizon_bias", "alternatives_of",
                                  "Scenario", "load_scenario"])
def test_a_notebook_needs_only_import_sim(name):
    assert name in sim.__all__


def _public_functions():
    for name in sim.__all__:
        obj = getattr(sim, name)
        if inspect.isfunction(obj):
            yield name, obj


def test_the_same_keyword_means_the_same_thing_everywhere():
    for name, fn in _public_functions():
        params = inspect.signature(fn).parameters
        retired = set(params) & set(RETIRED)
        assert not retired, f"sim.{name} still takes {retired} (now {[RETIRED[r] for r in retired]})"
        if "level" in params and params["level"].default is not inspect.Parameter.empty:
            assert params["level"].default == 0.95, name  # a confidence level, everywhere
    running = ["compare", "optimize", "smallest_budget"]
    for name in running:
        params = inspect.signature(getattr(sim, name)).parameters
        assert {"seed", "workers", "backend", "scheduler", "out", "progress"} <= set(params), name
    for name in ["simulate", "run_many", "compare", "sweep", "optimize", "smallest_budget"]:
        assert "seed" in inspect.signature(getattr(sim, name)).parameters, name
    for name in ["run_many", "compare", "sweep"]:  # what to run, then how many and from which seed
        params = list(inspect.signature(getattr(sim, name)).parameters)
        assert params[params.index("reps") + 1] == "seed", name


@pytest.mark.parametrize("seed", [3, np.random.SeedSequence(3)], ids=["int", "SeedSequence"])
def test_simulate_and_run_many_take_the_same_seeds(seed):
    scenario = sim.load_scenario(TEACHING)
    one = sim.simulate(scenario, seed=seed, lead_records=False).metrics["wins"]
    assert one == sim.simulate(scenario, seed=np.random.SeedSequence(3), lead_records=False).metrics["wins"]
    experiment = sim.run_many(scenario, reps=2, seed=seed)
    again = sim.run_many(scenario, reps=2, seed=np.random.SeedSequence(3))
    assert experiment.replications.drop(columns="seed").equals(again.replications.drop(columns="seed"))
    generator = sim.run_many(scenario, reps=2, seed=np.random.default_rng(7))
    assert generator.replications.drop(columns="seed").equals(
        sim.run_many(scenario, reps=2, seed=np.random.default_rng(7)).replications.drop(columns="seed"))


def test_reprs_are_short():
    scenario = sim.load_scenario(TEACHING)
    result = sim.simulate(scenario, seed=1)
    experiment = sim.run_many(scenario, reps=2, seed=1)
    comparison = sim.sweep(scenario, {"marketing_share": [0.2, 0.3]}, reps=2, seed=1)
    for obj in (scenario, scenario.plan, result, experiment, comparison):
        text = repr(obj)
        assert len(text) < 300, (type(obj).__name__, len(text))
    assert "teaching_minimal" in repr(result) and "teaching_minimal" in repr(experiment)
    assert comparison.best in repr(comparison)


def test_experiment_and_comparison_share_summary_to_frame_and_to_excel(tmp_path):
    scenario = sim.load_scenario(TEACHING)
    experiment = sim.run_many(scenario, reps=3, seed=2)
    comparison = sim.sweep(scenario, {"marketing_share": [0.2, 0.3]}, reps=3, seed=2)
    for obj in (experiment, comparison):
        assert callable(obj.summary) and callable(obj.to_frame) and callable(obj.to_excel)
        assert len(obj.to_frame()) > 0 and len(obj.summary()) > 0
        path = obj.to_excel(tmp_path / f"{type(obj).__name__}.xlsx")
        assert path.is_file() and path.stat().st_size > 0
