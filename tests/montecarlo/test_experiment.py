"""The Monte Carlo engine: same numbers in this process and on local workers, resumable runs, honest intervals.

(The same numbers on Dask: test_dask.py.)
"""

import math
import multiprocessing
import os
import signal

import numpy as np
import pandas as pd
import pytest
from builders import make
from scipy import integrate, stats

import sim
import sim.montecarlo
from sim.model import replicate
from sim.montecarlo.backends import BackendError
from sim.montecarlo.experiment import ExperimentError
from sim.montecarlo.replication import flatten_metrics, replication_seed
from sim.montecarlo.store import ExperimentStore, StoreError
from sim.montecarlo.summary import summarise

run_many = sim.run_many  # the funnel's model function bound in


def small(**changes):
    return make(horizon_months=3, **changes)


def same(a, b):
    pd.testing.assert_frame_equal(a.replications, b.replications, check_exact=True)
    pd.testing.assert_frame_equal(a.monthly, b.monthly, check_exact=True)


def test_replication_i_is_the_ith_child_of_the_root_seed():
    sc = small()
    exp = run_many(sc, reps=4, seed=11)
    children = np.random.SeedSequence(11).spawn(4)
    for i, child in enumerate(children):
        alone = flatten_metrics(sim.simulate(sc, seed=child, lead_records=False).metrics)
        row = exp.replications.iloc[i].to_dict()
        assert row.pop("replication") == i and row.pop("seed") == 11
        assert row.keys() == alone.keys()
        assert all(row[k] == v or (math.isnan(row[k]) and math.isnan(v)) for k, v in alone.items())
    assert replication_seed(11, 2).spawn_key == children[2].spawn_key
    assert isinstance(exp.seed, np.random.SeedSequence) and exp.seed.entropy == 11 and exp.seed.spawn_key == ()


def test_more_replications_extend_fewer():
    sc = small()
    few, many = run_many(sc, reps=3, seed=5), run_many(sc, reps=7, seed=5)
    pd.testing.assert_frame_equal(few.replications, many.replications.iloc[:3], check_exact=True)


def test_serial_and_two_local_workers_are_identical_whatever_the_chunking():
    sc = small()
    serial = run_many(sc, reps=8, seed=3)
    for chunk in (1, 3):
        same(serial, run_many(sc, reps=8, seed=3, workers=2, chunk_size=chunk))


def test_a_local_worker_that_dies_is_replaced_and_nothing_changes():
    sc = make(horizon_months=6)  # 12 one-replication chunks: most are still to come when the worker dies
    # Other children of this process (a shared Dask cluster's workers) are not the pool's.
    others = {p.pid for p in multiprocessing.active_children()}
    killed = []

    def kill_a_worker(done, total):
        if done >= 1 and not killed:
            victim = next(p for p in multiprocessing.active_children() if p.pid not in others)
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    exp = run_many(sc, reps=12, seed=4, workers=2, chunk_size=1, progress=kill_a_worker)
    assert killed
    same(exp, run_many(sc, reps=12, seed=4))


def _interrupt_after(chunks):
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) > chunks:  # the first call reports what was already done
            raise KeyboardInterrupt

    return progress


def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    sc = small()
    whole = run_many(sc, reps=10, seed=8)
    out = tmp_path / "exp"
    with pytest.raises(KeyboardInterrupt):
        run_many(sc, reps=10, seed=8, out=out, chunk_size=2, progress=_interrupt_after(2))
    kept = sorted(p.name for p in (out / "chunks").iterdir())
    assert kept == ["00000000", "00000002"]
    started = []
    resumed = run_many(sc, reps=10, seed=8, out=out, workers=2, chunk_size=3,
                       progress=lambda done, total: started.append(done))
    assert started[0] == 4  # the finished chunks were kept, not run again
    same(whole, resumed)
    # And once more, with nothing left to run.
    same(whole, run_many(sc, reps=10, seed=8, out=out))


def test_a_directory_of_another_scenario_or_seed_is_refused(tmp_path):
    out = tmp_path / "exp"
    run_many(small(), reps=2, seed=1, out=out)
    with pytest.raises(StoreError, match="different scenario"):
        run_many(small(channels__search__spend=20000), reps=2, seed=1, out=out)
    with pytest.raises(StoreError, match="it was run with seed 1, not 2") as info:
        run_many(small(), reps=2, seed=2, out=out)
    assert info.value.parameter == "out" and "--" not in str(info.value)
    stranger = tmp_path / "notes"
    stranger.mkdir()
    (stranger / "todo.txt").write_text("mine")
    with pytest.raises(StoreError, match="not an experiment directory"):
        run_many(small(), reps=2, seed=1, out=stranger)
    assert (stranger / "todo.txt").read_text() == "mine"


def test_two_runs_cannot_write_one_directory_at_once(tmp_path):
    sc = small()
    with ExperimentStore(tmp_path / "exp", sc, 1), pytest.raises(StoreError, match="another run"):
        run_many(sc, reps=2, seed=1, out=tmp_path / "exp")


@pytest.mark.parametrize(("parameter", "kwargs"), [
    ("reps", {"reps": 0}), ("workers", {"workers": 0}), ("seed", {"seed": -1}),
    ("precision", {"precision": 0.0, "metric": "wins"}), ("metric", {"precision": 0.1}),
    ("precision", {"metric": "wins"}), ("metric", {"precision": 0.1, "metric": "winz"}),
    ("precision_batch", {"precision": 0.1, "metric": "wins", "precision_batch": 1}),
    ("chunk_size", {"chunk_size": 0}), ("trace", {"trace": -1}),
])
def test_bad_settings_name_the_parameter(parameter, kwargs):
    with pytest.raises(ExperimentError) as info:
        run_many(small(), **{"reps": 3, **kwargs})
    assert info.value.parameter == parameter
    assert "--" not in str(info.value)


def test_summary_agrees_with_scipy_and_numpy():
    exp = run_many(small(), reps=12, seed=2)
    table = exp.summary()
    for name in ("wins", "leads", "revenue", "mql_to_sql"):
        x = exp.replications[name].to_numpy(dtype=float)
        low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        row = table.loc[name]
        assert row["mean"] == pytest.approx(x.mean(), rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9)
        assert row["std"] == pytest.approx(x.std(ddof=1), rel=1e-12)
        assert [row["p10"], row["p50"], row["p90"]] == pytest.approx(np.percentile(x, [10, 50, 90]))
    # NaN in a replication is left out of that measure and counted in n.
    frame = pd.DataFrame({"replication": range(4), "seed": 0, "m": [1.0, np.nan, 3.0, 5.0]})
    assert summarise(frame).loc["m", "n"] == 3
    assert summarise(frame).loc["m", "mean"] == 3.0


def _beta_expectation(f, a, b, lo):
    val, _ = integrate.quad(lambda x: f(x) * stats.beta.pdf(x, a, b), lo, 1)
    return val


def test_confidence_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    # docs/model.md, section 10: capacity unlimited, no delays -> expected wins are the product of the
    # stage probabilities over the Beta intent, known without simulation. A month of
    # few leads keeps each replication cheap; the wins are still a sum over leads.
    a, b, thr, lam, horizon = 2.0, 3.0, 0.3, 30.0, 1
    sc = make(
        horizon_months=horizon,
        channels={"c": {"baseline_leads": lam, "intent": {"a": a, "b": b}}},
        scoring={"mql_threshold": thr, "score_noise": 0.0},
        qualification={"work_hours": 0.0, "p_qualify": {"low": 0.2, "high": 0.8}},
        opportunities={"stages": [{"name": "s1", "duration_days": 0.0, "advance": {"low": 0.1, "high": 0.9}}],
                       "deal": {"value": 100}},
        roles={"sdr": {"fte": 1}, "ae": {"fte": 1, "max_open_opportunities": 10**6}},
    )
    true_wins = lam * horizon * _beta_expectation(lambda x: (0.2 + 0.6 * x) * (0.1 + 0.8 * x), a, b, thr)
    experiments, reps = 240, 8
    # One run; replications are independent (each its own child seed), so consecutive
    # blocks of 8 are 240 independent experiments of 8 replications each.
    wins = run_many(sc, reps=experiments * reps, seed=1000, workers=2).replications["wins"].to_numpy()
    assert len(wins) == experiments * reps
    # One summary of a table whose column k is block k: each row is that block's interval.
    blocks = pd.DataFrame(wins.reshape(experiments, reps).T.astype(float),
                          columns=[f"block{k}" for k in range(experiments)])
    table = summarise(blocks)
    assert (table["n"] == reps).all()
    covered = int(((table["ci_low"] <= true_wins) & (true_wins <= table["ci_high"])).sum())
    # Coverage is binomial(240, 0.95): sd 3.4 experiments; 3.5 sd either side.
    sd = math.sqrt(experiments * 0.95 * 0.05)
    assert abs(covered - 0.95 * experiments) <= 3.5 * sd, covered
    # All 1920 together: their mean is the analytic one, within 4 standard errors.
    assert abs(wins.mean() - true_wins) <= 4 * wins.std(ddof=1) / math.sqrt(len(wins))


def _relative_half_width(x):
    x = np.asarray(x, dtype=float)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return (high - low) / 2 / abs(x.mean())


def test_precision_mode_stops_at_the_first_batch_that_reaches_it():
    sc = small()
    full = run_many(sc, reps=60, seed=9)
    wins = full.replications["wins"].to_numpy()
    batch = 6
    widths = {k: _relative_half_width(wins[:k]) for k in range(batch, 61, batch)}
    target = widths[4 * batch] * 1.000001  # reachable, at 4 batches or earlier
    expected = min(k for k, w in widths.items() if w < target)
    exp = run_many(sc, reps=60, seed=9, precision=target, metric="wins", precision_batch=batch, workers=2)
    assert exp.precision["reached"]
    assert exp.precision["replications"] == expected == len(exp.replications)
    assert exp.precision["relative_half_width"] == pytest.approx(widths[expected], rel=1e-9)
    pd.testing.assert_frame_equal(exp.replications, full.replications.iloc[:expected], check_exact=True)

    never = run_many(sc, reps=24, seed=9, precision=min(widths.values()) / 100, metric="wins",
                     precision_batch=batch)
    assert not never.precision["reached"] and len(never.replications) == 24


def test_a_replication_that_raises_is_recorded_and_the_rest_run():
    bad = replication_seed(7, 2).spawn_key

    def flaky(scenario, seed, trace=False):
        if seed.spawn_key == bad:
            raise RuntimeError("boom")
        return replicate(scenario, seed, trace=trace)

    exp = sim.montecarlo.run_many(small(), reps=5, seed=7, model=flaky)
    assert exp.failures["replication"].tolist() == [2]
    assert exp.failures["error"].iloc[0] == "RuntimeError: boom"
    assert exp.replications["replication"].tolist() == [0, 1, 3, 4]
    assert exp.summary(["wins"]).loc["wins", "n"] == 4
    # The others are the funnel's own replications.
    pd.testing.assert_frame_equal(exp.replications, run_many(small(), reps=5, seed=7).replications
                                  .query("replication != 2").reset_index(drop=True), check_exact=True)


def test_traces_are_the_lead_records_of_the_first_replications(tmp_path):
    sc = small()
    exp = run_many(sc, reps=3, seed=2, trace=2, out=tmp_path / "exp")
    assert sorted(exp.traces) == [0, 1]
    alone = sim.simulate(sc, seed=replication_seed(2, 1)).leads
    got = exp.traces[1]
    assert len(got) == len(alone) == exp.replications["leads"].iloc[1]
    # Parquet may return categoricals with another categories dtype; the values must be the same.
    pd.testing.assert_frame_equal(got, alone, check_exact=True, check_categorical=False)
    # Asking for more traces on resume rebuilds the missing ones from their seeds.
    more = run_many(sc, reps=3, seed=2, trace=3, out=tmp_path / "exp")
    assert sorted(more.traces) == [0, 1, 2]


def test_dask_problems_are_one_clear_line(monkeypatch):
    with pytest.raises(BackendError, match=r"^scheduler: nonsense: cannot connect \(expected an address"):
        run_many(small(), reps=2, backend="dask", scheduler="nonsense")
    # A scheduler without the dask backend is a setting that cannot work, found before anything runs.
    with pytest.raises(ExperimentError, match=r"^scheduler: only the dask backend has a scheduler \(add backend "):
        run_many(small(), reps=2, scheduler="tcp://127.0.0.1:8786")
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(BackendError, match=r'^backend: dask needs Dask distributed: pip install "funnel-sim\[cluster'):
        run_many(small(), reps=2, backend="dask")


def test_an_experiments_tables_and_workbook_hold_its_replications(tmp_path):
    import openpyxl
    from workbooks import assert_frame_matches, by_code, inputs_value

    exp = run_many(small(), reps=4, seed=2)
    frame = exp.to_frame()
    pd.testing.assert_frame_equal(frame, exp.replications, check_exact=True)
    frame.loc[0, "wins"] = -1  # a copy: the experiment keeps its own
    assert exp.replications.loc[0, "wins"] != -1
    path = exp.to_excel(tmp_path / "book" / "exp.xlsx")
    assert path == tmp_path / "book" / "exp.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["Inputs", "Measures", "Monthly", "Monthly by replication", "Replications", "Columns"]
    book.close()
    assert (inputs_value(path, "Scenario"), inputs_value(path, "Root seed"),
            inputs_value(path, "Replications completed")) == ("test", 2, 4)
    # The Measures sheet is experiment.summary(), one row per measure with its words, unit and code.
    summary = by_code(path, "Measures").set_index("measure")[list(exp.summary().columns)]
    summary.index.name = "measure"
    pd.testing.assert_frame_equal(summary.loc[exp.summary().index], exp.summary(), check_dtype=False, rtol=1e-15)
    for sheet, table in (("Replications", exp.replications), ("Monthly by replication", exp.monthly)):
        assert_frame_matches(by_code(path, sheet), table)


def test_an_experiments_repr_is_short_and_names_it():
    exp = run_many(small(), reps=2, seed=12)
    text = repr(exp)
    assert len(text) < 200 and "'test'" in text and "seed=12" in text and "reps=2" in text
