"""The Monte Carlo layer runs any model function: a toy model whose measures have a known distribution."""

import ast
import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from paths import SIM
from toy_model import ToyScenario, toy

from sim.montecarlo import run_many
from sim.montecarlo.replication import flatten_metrics, replication_seed
from sim.montecarlo.store import StoreError
from sim.montecarlo.summary import summarise

TOY = ToyScenario(mean=10.0, sd=2.0, months=3, draws=4)


def same(a, b):
    pd.testing.assert_frame_equal(a.replications, b.replications, check_exact=True)
    pd.testing.assert_frame_equal(a.monthly, b.monthly, check_exact=True)


def test_replication_i_is_the_model_run_with_the_ith_seed():
    exp = run_many(TOY, reps=5, seed=3, model=toy)
    assert list(exp.replications.columns) == ["replication", "seed", "average", "total", "spread.min", "spread.max"]
    for i in range(5):
        measures, monthly = toy(TOY, replication_seed(3, i))
        row = exp.replications.iloc[i].to_dict()
        assert row.pop("replication") == i and row.pop("seed") == 3
        assert row == flatten_metrics(measures)
        mine = exp.monthly[exp.monthly["replication"] == i].drop(columns="replication").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, monthly, check_exact=True, check_dtype=False)
    assert repr(exp).startswith("Experiment(scenario='toy', seed=3, reps=5")


def test_the_intervals_cover_the_known_mean_about_95_percent_of_the_time():
    # Each replication's average is normal, so the t interval of 4 of them covers the
    # mean with probability 0.95 exactly; replications are independent, so 240 blocks
    # of 4 consecutive ones are 240 independent experiments.
    experiments, reps = 240, 4
    exp = run_many(TOY, reps=experiments * reps, seed=11, model=toy)
    values = exp.replications["average"].to_numpy()
    assert len(values) == experiments * reps and exp.failures.empty
    # One summary of a table whose column k is block k: each row is that block's interval.
    blocks = pd.DataFrame(values.reshape(experiments, reps).T, columns=[f"block{k}" for k in range(experiments)])
    table = summarise(blocks)
    assert (table["n"] == reps).all()
    covered = int(((table["ci_low"] <= TOY.mean) & (TOY.mean <= table["ci_high"])).sum())
    sd = math.sqrt(experiments * 0.95 * 0.05)
    assert abs(covered - 0.95 * experiments) <= 3.5 * sd, covered
    # And the replications are the toy's: their mean and sd are the known ones.
    whole = exp.summary(["average"]).loc["average"]
    assert abs(whole["mean"] - TOY.mean) <= 4 * TOY.average_sd / math.sqrt(len(values))
    assert whole["std"] == pytest.approx(TOY.average_sd, rel=0.15)  # the sd of 960 normals: within 15% is ~6 se


def test_serial_and_two_worker_runs_give_bit_identical_tables():
    serial = run_many(TOY, reps=24, seed=5, model=toy, trace=3)
    two = run_many(TOY, reps=24, seed=5, model=toy, trace=3, workers=2, chunk_size=5)  # uneven chunks
    same(serial, two)
    assert sorted(two.traces) == sorted(serial.traces) == [0, 1, 2]
    for i in range(3):
        pd.testing.assert_frame_equal(two.traces[i], serial.traces[i], check_exact=True)
        pd.testing.assert_frame_equal(serial.traces[i], toy(TOY, replication_seed(5, i), trace=True)[2],
                                      check_exact=True)


def test_an_interrupted_toy_run_resumes_from_its_directory(tmp_path):
    whole = run_many(TOY, reps=12, seed=8, model=toy)
    out = tmp_path / "toy"
    calls = []

    def stop_after_two_chunks(done, total):
        calls.append(done)
        if len(calls) > 2:  # the first call reports what was already done
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_many(TOY, reps=12, seed=8, model=toy, out=out, chunk_size=3, progress=stop_after_two_chunks)
    assert sorted(p.name for p in (out / "chunks").iterdir()) == ["00000000", "00000003"]
    assert json.loads((out / "scenario.json").read_text()) == dataclasses.asdict(TOY)  # the scenario as run
    started = []
    resumed = run_many(TOY, reps=12, seed=8, model=toy, out=out, workers=2, chunk_size=2,
                       progress=lambda done, total: started.append(done))
    assert started[0] == 6  # the kept chunks were not run again
    same(whole, resumed)
    with pytest.raises(StoreError, match="different scenario"):
        run_many(ToyScenario(mean=11.0), reps=12, seed=8, model=toy, out=out)
    with pytest.raises(StoreError, match="it was run with seed 8, not 9"):
        run_many(TOY, reps=12, seed=9, model=toy, out=out)


def _imported_modules(path):
    """Every module a file imports, by absolute name (relative imports resolved inside ``sim``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(SIM.parent).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.append(str(node.args[0].value))
    return names


def test_the_montecarlo_layer_never_imports_the_model():
    files = sorted((SIM / "montecarlo").glob("*.py"))
    assert len(files) >= 6
    for path in files:
        bad = [n for n in _imported_modules(path) if n == "sim.model" or n.startswith("sim.model.")]
        assert not bad, (path.name, bad)
    # The check sees an import of the model where there is one.
    assert "sim.model" in _imported_modules(SIM / "decide" / "evaluator.py")


def test_a_model_that_raises_is_reported_per_replication():
    bad = replication_seed(4, 1).spawn_key

    def flaky(scenario, seed, trace=False):
        if seed.spawn_key == bad:
            raise ValueError("no")
        return toy(scenario, seed, trace)

    exp = run_many(TOY, reps=3, seed=4, model=flaky)
    assert exp.failures["replication"].tolist() == [1] and exp.failures["error"].item() == "ValueError: no"
    assert exp.replications["replication"].tolist() == [0, 2]
    assert np.isclose(exp.replications["average"].iloc[1], toy(TOY, replication_seed(4, 2))[0]["average"], rtol=0)


def test_a_backend_maps_the_model_over_keyed_chunks():
    from sim.montecarlo.backends import make_backend
    from sim.montecarlo.replication import root_seed

    other = ToyScenario(name="other", mean=-3.0)
    root = root_seed(21)
    tasks = [("a", TOY, [0, 1]), ("b", other, [0]), ("a", TOY, [2])]
    with make_backend("local", 1) as backend:
        results = list(backend.map(toy, tasks, root, 1))  # the model first, then the tasks
    assert [(key, r.indices) for key, r in results] == [("a", [0, 1]), ("b", [0]), ("a", [2])]
    for (_, scenario, indices), (_, result) in zip(tasks, results, strict=True):
        assert [row["average"] for row in result.rows] == [toy(scenario, replication_seed(root, i))[0]["average"]
                                                          for i in indices]
        assert sorted(result.traces) == [i for i in indices if i < 1]  # traces below trace_below only
