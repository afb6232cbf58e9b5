"""Speed benchmark: the model against a bare SimPy loop, and 2 local workers against 1.

Everything is timed in the same run so that ratios, not the noisy absolute speed of
a shared machine, are the figures to compare:

- leads per second through :func:`sim.simulate` against customers per second through
  the textbook SimPy M/M/c (one process per customer, ``Resource.request()``);
- replications per second of :func:`sim.run_many` with 1 worker (in this process)
  and with 2 local worker processes, and their ratio. The worker processes' first
  start (a fresh interpreter importing the model) is timed separately; later pools
  fork from it.
"""

from __future__ import annotations

import time

import numpy as np
import simpy

from sim.experiment import run_many
from sim.model import simulate

__all__ = ["bare_mmc_customers_per_second", "funnel_leads_per_second", "replications_per_second", "run_benchmark"]


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


def replications_per_second(scenario, workers: int, reps: int = 40, seed: int = 0) -> float:
    """Replications per second of :func:`sim.run_many` on ``workers`` local workers."""
    start = time.perf_counter()
    run_many(scenario, reps=reps, seed=seed, workers=workers)
    return reps / (time.perf_counter() - start)


def run_benchmark(scenario, replications: int = 3, customers: int = 100_000,
                  parallel_reps: int = 40) -> dict[str, float]:
    """Time the model, the bare loop and 1 against 2 workers; return the figures and ratios."""
    simulate(scenario, seed=12345)  # warm caches and imports before timing
    leads_s = funnel_leads_per_second(scenario, replications)
    bare_s = bare_mmc_customers_per_second(customers)
    start = time.perf_counter()
    run_many(scenario, reps=2, seed=12345, workers=2)  # starts the worker processes' server once
    startup_s = time.perf_counter() - start
    one = replications_per_second(scenario, 1, parallel_reps)
    two = replications_per_second(scenario, 2, parallel_reps)
    return {
        "funnel_leads_per_second": leads_s,
        "bare_simpy_customers_per_second": bare_s,
        "ratio": leads_s / bare_s,
        "replications_per_second_1_worker": one,
        "replications_per_second_2_workers": two,
        "worker_ratio": two / one,
        "first_worker_start_seconds": startup_s,
    }
