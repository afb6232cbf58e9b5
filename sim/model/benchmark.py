"""Speed and memory of the model: leads per second against a bare SimPy loop, and a scaled replication.

Timed in the same run so that ratios, not the noisy absolute speed of a shared
machine, are the figures to compare: leads per second through :func:`simulate`
against customers per second through the textbook SimPy M/M/c (one process per
customer, ``Resource.request()``). :func:`scaled_replication` runs one replication of a
scenario scaled up (a company ``factor`` times the size) in a fresh process and
reports its leads, seconds and peak memory.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import simpy

from sim.model.simulation import simulate
from sim.scenario import Scenario

__all__ = ["bare_mmc_customers_per_second", "funnel_leads_per_second", "scaled", "scaled_replication"]


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


def funnel_leads_per_second(scenario: Scenario, replications: int = 3, seed: int = 0) -> float:
    """Leads per second simulated by :func:`simulate` on ``scenario``."""
    leads = 0
    start = time.perf_counter()
    for i in range(replications):
        leads += simulate(scenario, seed=seed + i).metrics["leads"]
    return leads / (time.perf_counter() - start)


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """The same company ``factor`` times the size: spend, lead volume, team, customers and budget scaled.

    Every amount and count scales (spend and its history, the response curves' lead
    volumes and spend scales, baseline leads, given leads, FTE and hires, the installed base, the
    budget); rates, shares and probabilities stay. Expected leads scale by ``factor``.
    """
    changes = {}
    for name, ch in scenario.channels.items():
        changes[f"channels.{name}.spend"] = [s * factor for s in ch.spend]
        changes[f"channels.{name}.history"] = [s * factor for s in ch.history]
        changes[f"channels.{name}.baseline_leads"] = ch.baseline_leads * factor
        if ch.leads is not None:
            changes[f"channels.{name}.leads"] = [x * factor for x in ch.leads]
        if ch.response is not None:
            scale_key = "half_spend" if ch.response.curve == "hill" else "spend_scale"
            changes[f"channels.{name}.response.max_leads"] = ch.response.max_leads * factor
            changes[f"channels.{name}.response.{scale_key}"] = getattr(ch.response, scale_key) * factor
    for name in ("sdr", "ae", "customer_success"):
        role = getattr(scenario.roles, name)
        if role is not None:
            changes[f"roles.{name}.fte"] = round(role.fte * factor)
            if role.fte_by_month is not None:
                changes[f"roles.{name}.fte_by_month"] = [round(n * factor) for n in role.fte_by_month]
            changes[f"roles.{name}.hires"] = [{"month": h.month, "fte": max(1, round(h.fte * factor))}
                                              for h in role.hires]
    changes["customers.installed_base"] = round(scenario.customers.installed_base * factor)
    if scenario.budget is not None:
        changes["budget.total"] = scenario.budget.total * factor
    return scenario.replace(changes)


def _peak_memory_mb() -> float:
    """This process's largest resident set so far, MB."""
    try:  # Linux: the high-water mark of this process alone (getrusage's survives fork and exec)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def _one_replication(scenario: Scenario, seed: int) -> dict[str, float]:
    start = time.perf_counter()
    result = simulate(scenario, seed=seed, lead_records=False)
    return {"leads": result.metrics["leads"], "seconds": time.perf_counter() - start,
            "peak_memory_mb": _peak_memory_mb()}


def scaled_replication(scenario: Scenario, factor: float, seed: int = 0) -> dict[str, float]:
    """One replication of :func:`scaled` ``(scenario, factor)`` in a fresh process: leads, seconds, peak memory.

    The peak is the fresh process's largest resident set: the interpreter, the imports
    and the replication, as a user running one replication would see it.
    """
    big = scaled(scenario, factor)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_one_replication, big, seed).result()
