"""Speed benchmark: the funnel model against a bare SimPy M/M/c loop, in one process.

Both are timed in the same run so that the ratio, not the noisy absolute speed of a
shared machine, is the figure to compare. The bare loop is the textbook SimPy
M/M/c: one process per customer, ``Resource.request()``, an exponential service.
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from sim.model import simulate

__all__ = ["bare_mmc_customers_per_second", "funnel_leads_per_second", "run_benchmark"]


def bare_mmc_customers_per_second(customers: int = 100_000, servers: int = 5, utilisation: float = 0.8,
                                  seed: int = 0) -> float:
    """Customers per second through a plain SimPy M/M/c queue (process per customer)."""
    rng = np.random.default_rng(seed)
    service_mean = 1.0
    inter = rng.exponential(service_mean / (servers * utilisation), customers)
    service = rng.exponential(service_mean, customers)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)

    def customer(i):
        with desk.request() as req:
            yield req
            yield env.timeout(service[i])

    def source():
        for i in range(customers):
            yield env.timeout(inter[i])
            env.process(customer(i))

    start = time.perf_counter()
    env.process(source())
    env.run()
    return customers / (time.perf_counter() - start)


def funnel_leads_per_second(scenario, replications: int = 3, seed: int = 0) -> float:
    """Leads per second simulated by :func:`sim.simulate` on ``scenario``."""
    leads = 0
    start = time.perf_counter()
    for i in range(replications):
        leads += simulate(scenario, seed=seed + i).metrics["leads"]
    return leads / (time.perf_counter() - start)


def run_benchmark(scenario, replications: int = 3, customers: int = 100_000) -> dict[str, float]:
    """Time both and return leads/s, customers/s and their ratio."""
    simulate(scenario, seed=12345)  # warm caches and imports before timing
    leads_s = funnel_leads_per_second(scenario, replications)
    bare_s = bare_mmc_customers_per_second(customers)
    return {
        "funnel_leads_per_second": leads_s,
        "bare_simpy_customers_per_second": bare_s,
        "ratio": leads_s / bare_s,
    }
