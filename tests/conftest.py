import gc
import logging
import os

import pytest
from hypothesis import settings

# The suite explores the same examples every run, so that a failure is reproducible and a
# run's outcome does not depend on luck; `HYPOTHESIS_PROFILE=explore` explores new ones
# (worth a run now and then: keep what it finds as a test).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def dask_cluster():
    """One local Dask cluster (2 single-threaded worker processes) shared by every test that needs one.

    Yields the scheduler's address. A test that kills a worker leaves the cluster to
    its nannies, which start a new one.
    """
    import distributed  # the test extra installs it: a missing one is a failure, not a skip
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


# -- The garbage collector -------------------------------------------------------------------------------------------
# Collecting imports numpy, pandas, SciPy, matplotlib, the package and every test module: millions of
# objects that live as long as the test process. Python's full collections walk every one of them each
# time, and did so a few dozen times a run (seconds of each worker's time, more as the run went on).
# So: no collection while collecting, then one, and what is alive then is frozen (left out of later
# collections; it is still freed when nothing refers to it). Objects the tests make are collected as
# usual; nothing a test checks depends on when the collector runs.


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        gc.collect()
        gc.freeze()


# -- Scheduling on the two workers (pytest-xdist, --dist loadscope) --------------------------------------------------
# Each test module runs on one worker, its module-scoped fixtures once, as loadscope does; the only
# change is the order in which modules are handed out: heaviest first, so that the run does not end
# with one worker idle while the other works through a slow module it was given last. The notebooks'
# tests share no fixture: each is a unit of its own, so that two notebooks can run at once.
# The seconds are rough (one module alone on a slow machine) and only order the queue; a module not
# listed weighs 0.05 s a test.
SECONDS = {
    "tests/test_notebooks.py::test_notebook_runs[budget_split]": 12,
    "tests/test_notebooks.py::test_notebook_runs[explore_funnel]": 10,
    "tests/test_notebooks.py::test_notebook_runs[calibrate_and_backtest]": 5,
    "tests/test_notebooks.py::test_notebook_runs": 6,
    "tests/decide/test_optimize.py": 18,
    "tests/decide/test_uncertainty.py": 14,
    "tests/calibrate/test_backtest.py": 22,
    "tests/calibrate/test_backtest_cli.py": 11,
    "tests/decide/test_over_time.py": 15,
    "tests/cli/test_shutdown.py": 15,
    "tests/cli/test_split_cli.py": 12,
    "tests/montecarlo/test_experiment.py": 8,
    "tests/test_site.py": 8,
    "tests/present/test_export.py": 6,
    "tests/decide/test_compare.py": 7,
    "tests/present/test_plots.py": 7,
    "tests/present/test_explorer.py": 7,
    "tests/cli/test_bench_cli.py": 7,
    "tests/montecarlo/test_dask.py": 7,
    "tests/test_docs.py": 6,
    "tests/calibrate/test_recovery.py": 30,
    "tests/calibrate/test_channels.py": 14,
    "tests/calibrate/test_stages.py": 8,
    "tests/calibrate/test_trend.py": 6,
    "tests/calibrate/test_crm_shapes.py": 5,
    "tests/calibrate/test_messy_input.py": 4,
    "tests/calibrate/test_decay.py": 3,
    "tests/cli/test_over_time_cli.py": 6,
    "tests/cli/test_fault_injection.py": 5,
    "tests/cli/test_experiment_cli.py": 5,
    "tests/scenario/test_yaml_property.py": 4,
    "tests/scenario/test_hostile_files.py": 3.5,
    "tests/cli/test_flags_cli.py": 3.5,
    "tests/model/test_model_references.py": 3,
    "tests/model/test_fluid.py": 3,
    "tests/montecarlo/test_corruption.py": 3,
    "tests/scenario/test_scenarios.py": 3,
    "tests/cli/test_cli_paths.py": 2.5,
    "tests/cli/test_workbook_cli.py": 2.5,
    "tests/decide/test_selection.py": 2.5,
    "tests/cli/test_cli.py": 2.5,
    "tests/montecarlo/test_store_integrity.py": 2,
    "tests/model/test_size.py": 2,
    "tests/model/test_model_properties.py": 2,
}
ONE_UNIT_PER_TEST = ("tests/test_notebooks.py",)


def _seconds(scope: str, tests: int) -> float:
    known = [key for key in SECONDS if scope == key or scope.startswith((key + "::", key + "["))]
    return SECONDS[max(known, key=len)] if known else 0.05 * tests


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    if config.getvalue("dist") != "loadscope" or not all(
            hasattr(LoadScopeScheduling, name) for name in ("_split_scope", "_assign_work_unit")):
        return None  # xdist's own scheduler

    class HeaviestFirst(LoadScopeScheduling):
        """Loadscope, with the units handed out heaviest first (and the notebooks' tests one a unit)."""

        _ordered = False

        def _split_scope(self, nodeid):
            if nodeid.split("::", 1)[0] in ONE_UNIT_PER_TEST:
                return nodeid
            return super()._split_scope(nodeid)

        def _assign_work_unit(self, node):
            if not self._ordered:  # the queue is complete before the first unit is handed out
                units = sorted(self.workqueue.items(), key=lambda unit: -_seconds(unit[0], len(unit[1])))
                self.workqueue.clear()
                self.workqueue.update(units)
                self._ordered = True
            super()._assign_work_unit(node)

    return HeaviestFirst(config, log)
