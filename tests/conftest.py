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
