"""Dask distributed gives the numbers of a run in this process: for an experiment, a comparison, a dead worker.

The tests that need the shared cluster (conftest.py's ``dask_cluster``) are here together, so that a
run of the suite starts it once, on one of its two workers, and not once on each.
"""

import os
import signal

import pandas as pd
import pytest
from builders import make
from paths import TEACHING

import sim
from sim.decide.compare import sweep

run_many = sim.run_many  # the funnel's model function bound in


def small(**changes):
    return make(horizon_months=3, **changes)


def same(a, b):
    pd.testing.assert_frame_equal(a.replications, b.replications, check_exact=True)
    pd.testing.assert_frame_equal(a.monthly, b.monthly, check_exact=True)


def test_a_dask_cluster_gives_the_same_comparison(dask_cluster):
    teaching = sim.load_scenario(TEACHING)
    grid = {"marketing_share": [0.2, 0.3]}
    local = sweep(teaching, grid, reps=4, seed=3)
    dask = sweep(teaching, grid, reps=4, seed=3, workers=2, backend="dask", scheduler=dask_cluster)
    pd.testing.assert_frame_equal(local.replications, dask.replications, check_exact=True)


def _worker_pids(address):
    import distributed

    # A client of our own, closed before run_many opens its one (two at once in this
    # process would share an event loop thread and confuse Dask).
    with distributed.Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
        return client.run(os.getpid)  # worker address -> pid


def test_dask_gives_the_same_numbers_and_survives_a_dead_worker(dask_cluster):
    # One of the shared cluster's two workers is killed after the first chunk; its
    # nanny starts a new one and the scheduler reruns the chunks it held.
    sc = make(horizon_months=6)
    before = _worker_pids(dask_cluster)
    victim = sorted(before.values())[0]
    killed = []

    def kill_a_worker(done, total):
        if done >= 1 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    exp = run_many(sc, reps=8, seed=6, workers=2, backend="dask", scheduler=dask_cluster, chunk_size=1,
                   progress=kill_a_worker)
    assert killed
    same(run_many(sc, reps=8, seed=6), exp)
    # The shared cluster is whole again for the tests after this one: two workers, one of them new.
    after = _worker_pids(dask_cluster)
    assert len(after) == 2 and victim not in after.values()


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the shared cluster's HTTP server has it
def test_dask_without_a_scheduler_starts_and_stops_a_cluster_of_its_own():
    # The one test that pays for a cluster start: every other Dask test uses the shared one.
    sc = small()
    same(run_many(sc, reps=2, seed=6), run_many(sc, reps=2, seed=6, workers=1, backend="dask"))
