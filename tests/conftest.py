import logging
import os

import pytest
from hypothesis import settings

# CI explores the same examples every run (a failure there is reproducible); local
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def dask_cluster():
    """One local Dask cluster (2 single-threaded worker processes) shared by every test that needs one.

    Yields the scheduler's address. A test that kills a worker leaves the cluster to
    its nannies, which start a new one.
    """
    import distributed  # the test extra installs it: a missing one is a failure, not a skip
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
