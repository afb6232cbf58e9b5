"""Seeds: an int, a SeedSequence or a Generator, everywhere; anything else is refused naming ``seed``."""

import math

import numpy as np
import pandas as pd
import pytest
from builders import make
from paths import TEACHING

import sim
from sim.decide.optimize import optimize, smallest_budget
from sim.montecarlo.experiment import ExperimentError
from sim.montecarlo.replication import flatten_metrics
from sim.seeds import SeedError

BAD_SEEDS = [-1, 1.5, True, None, "1", np.int64(-3), [1, 2]]


@pytest.fixture(scope="module")
def sc():
    return make(horizon_months=2)


def same_metrics(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def child_of(root: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """Replication i's seed as the docs define it, built by hand."""
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, i))


def assert_rows_are_children(exp, sc, root):
    for i, row in exp.replications.iterrows():
        alone = flatten_metrics(sim.simulate(sc, seed=child_of(root, i), lead_records=False).metrics)
        mine = row.drop(["replication", "seed"]).to_dict()
        assert row["replication"] == i and same_metrics(mine, alone), i


def test_an_int_and_its_seed_sequence_give_the_same_experiment(sc):
    a, b = sim.run_many(sc, reps=3, seed=5), sim.run_many(sc, reps=3, seed=np.random.SeedSequence(5))
    pd.testing.assert_frame_equal(a.replications, b.replications, check_exact=True)
    assert (a.replications["seed"] == 5).all()
    c = sim.run_many(sc, reps=3, seed=np.int64(5))
    pd.testing.assert_frame_equal(a.replications, c.replications, check_exact=True)


@pytest.mark.parametrize("root", [np.random.SeedSequence(123).spawn(3)[1], np.random.SeedSequence([1, 2, 3])],
                         ids=["spawned", "entropy-list"])
def test_replication_i_of_a_seed_sequence_root_is_its_child_i(sc, root):
    exp = sim.run_many(sc, reps=3, seed=root)
    assert exp.seed is root or (exp.seed.entropy == root.entropy and exp.seed.spawn_key == root.spawn_key)
    assert_rows_are_children(exp, sc, root)
    # Not an int, so the seed column holds a label that names the root.
    label = exp.replications["seed"].iloc[0]
    assert isinstance(label, str) and str(root.entropy) in label
    assert exp.replications["seed"].nunique() == 1


def test_a_generator_is_consumed_like_numpys_own_functions_consume_one(sc):
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    first = sim.run_many(sc, reps=3, seed=g1)
    pd.testing.assert_frame_equal(first.replications, sim.run_many(sc, reps=3, seed=g2).replications,
                                  check_exact=True)  # the same state, the same experiment
    again = sim.run_many(sc, reps=3, seed=g1)  # the generator moved on: another experiment
    numbers = [c for c in first.replications.columns if c not in ("replication", "seed")]
    assert not first.replications[numbers].equals(again.replications[numbers])
    assert not np.array_equal(first.replications["leads"], again.replications["leads"])
    # The experiment's root is a SeedSequence, and replication i is its child i.
    assert isinstance(first.seed, np.random.SeedSequence)
    assert_rows_are_children(first, sc, first.seed)


def test_simulate_takes_the_same_seeds(sc):
    def metrics(seed):
        return sim.simulate(sc, seed=seed, lead_records=False).metrics

    assert metrics(7) == metrics(np.random.SeedSequence(7)) == metrics(np.int64(7))
    assert metrics(7) != metrics(8)
    g = np.random.default_rng(4)
    a = metrics(g)
    assert a == metrics(np.random.default_rng(4))
    assert metrics(g) != a  # the generator moved on


@pytest.mark.parametrize("bad", BAD_SEEDS, ids=repr)
def test_a_bad_seed_is_refused_naming_seed(sc, bad):
    with pytest.raises(SeedError) as info:
        sim.simulate(sc, seed=bad)
    assert info.value.parameter == "seed" and "--" not in str(info.value)
    assert str(info.value).startswith("seed: expected a non-negative integer, a SeedSequence or a Generator")
    # run_many lists every problem of its settings at once, the seed's among them.
    with pytest.raises(ExperimentError) as info:
        sim.run_many(sc, reps=0, seed=bad)
    assert [p for p, _ in info.value.problems] == ["reps", "seed"] and "--" not in str(info.value)


def test_the_deciding_functions_refuse_a_bad_seed_naming_seed():
    teaching = sim.load_scenario(TEACHING)
    calls = [lambda: sim.compare({"a": teaching, "b": teaching.replace(name="b")}, reps=2, seed=-1),
             lambda: sim.sweep(teaching, {"marketing_share": [0.3]}, reps=2, seed=1.5),
             lambda: optimize(teaching, seed=None),
             lambda: smallest_budget(teaching, target=1.0, probability=0.5, seed="1")]
    for call in calls:
        with pytest.raises(SeedError) as info:
            call()
        assert info.value.parameter == "seed" and "--" not in str(info.value)
