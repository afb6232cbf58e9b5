"""The Monte Carlo engine: same numbers on every backend, resumable runs, honest intervals."""

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
from sim.montecarlo.experiment import ExperimentError, run_many
from sim.montecarlo.replication import flatten_metrics, replication_seed
from sim.montecarlo.store import ExperimentStore, StoreError
from sim.montecarlo.summary import summarise


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
    sc = make(horizon_months=12)  # slow enough that chunks are still in flight when the worker dies
    killed = []

    def kill_a_worker(done, total):
        if done >= 1 and not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    exp = run_many(sc, reps=12, seed=4, workers=2, chunk_size=1, progress=kill_a_worker)
    assert killed
    same(exp, run_many(sc, reps=12, seed=4))


def test_dask_local_cluster_gives_the_same_numbers_and_survives_a_dead_worker():
    import distributed  # an optional extra; the test extra installs it

    sc = make(horizon_months=12)
    serial = run_many(sc, reps=10, seed=6)
    same(serial, run_many(sc, reps=10, seed=6, workers=2, backend="dask"))

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        # The worker processes' ids, from their nannies (a second client in this process would
        # share run_many's event loop thread and confuse Dask).
        pids = [nanny.process.process.pid for nanny in cluster.workers.values()]
        killed = []

        def kill_a_worker(done, total):
            if done >= 1 and not killed:
                os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; the scheduler reruns its tasks
                killed.append(pids[0])

        exp = run_many(sc, reps=10, seed=6, workers=2, backend="dask", scheduler=cluster.scheduler_address,
                       chunk_size=1, progress=kill_a_worker)
    assert killed
    same(serial, exp)


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
    with pytest.raises(StoreError, match="--seed 1, not 2"):
        run_many(small(), reps=2, seed=2, out=out)
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


@pytest.mark.parametrize(("setting", "kwargs"), [
    ("reps", {"reps": 0}), ("workers", {"workers": 0}), ("seed", {"seed": -1}),
    ("precision", {"precision": 0.0, "metric": "wins"}), ("metric", {"precision": 0.1}),
    ("precision", {"metric": "wins"}), ("metric", {"precision": 0.1, "metric": "winz"}),
])
def test_bad_settings_name_the_setting(setting, kwargs):
    with pytest.raises(ExperimentError) as info:
        run_many(small(), **{"reps": 3, **kwargs})
    assert info.value.setting == setting


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
    # MODEL.md 8: capacity unlimited, no delays -> expected wins are the product of the
    # stage probabilities over the Beta intent, known without simulation.
    a, b, thr, lam, horizon = 2.0, 3.0, 0.3, 60.0, 2
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
    covered = 0
    for k in range(experiments):
        row = run_many(sc, reps=reps, seed=1000 + k).summary(["wins"]).loc["wins"]
        covered += row["ci_low"] <= true_wins <= row["ci_high"]
    # Coverage is binomial(240, 0.95): sd 3.4 experiments; 3.5 sd either side.
    sd = math.sqrt(experiments * 0.95 * 0.05)
    assert abs(covered - 0.95 * experiments) <= 3.5 * sd, covered


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
    exp = run_many(sc, reps=60, seed=9, precision=target, metric="wins", batch=batch, workers=2)
    assert exp.precision["reached"]
    assert exp.precision["replications"] == expected == len(exp.replications)
    assert exp.precision["relative_half_width"] == pytest.approx(widths[expected], rel=1e-9)
    pd.testing.assert_frame_equal(exp.replications, full.replications.iloc[:expected], check_exact=True)

    never = run_many(sc, reps=24, seed=9, precision=min(widths.values()) / 100, metric="wins", batch=batch)
    assert not never.precision["reached"] and len(never.replications) == 24


def test_a_replication_that_raises_is_recorded_and_the_rest_run(monkeypatch):
    import sim.model.simulation

    real = sim.model.simulation.simulate
    bad = replication_seed(7, 2).spawn_key

    def flaky(scenario, seed=0, lead_records=True):
        if seed.spawn_key == bad:
            raise RuntimeError("boom")
        return real(scenario, seed=seed, lead_records=lead_records)

    monkeypatch.setattr(sim.model.simulation, "simulate", flaky)
    exp = run_many(small(), reps=5, seed=7)
    assert exp.failures["replication"].tolist() == [2]
    assert exp.failures["error"].iloc[0] == "RuntimeError: boom"
    assert exp.replications["replication"].tolist() == [0, 1, 3, 4]
    assert exp.summary(["wins"]).loc["wins", "n"] == 4


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
    from sim.montecarlo.backends import BackendError

    with pytest.raises(BackendError, match=r"^--scheduler nonsense: cannot connect \(expected an address"):
        run_many(small(), reps=2, backend="dask", scheduler="nonsense")
    with pytest.raises(BackendError, match="only the dask backend has a scheduler"):
        run_many(small(), reps=2, scheduler="tcp://127.0.0.1:8786")
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(BackendError, match=r'pip install "funnel-sim\[cluster\]"'):
        run_many(small(), reps=2, backend="dask")
