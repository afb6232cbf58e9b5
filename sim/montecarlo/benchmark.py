"""Speed of many replications: replications per second on 1 and on 2 local workers.

Timed in one run, so that their ratio, not the noisy absolute speed of a shared
machine, is the figure to compare. The worker processes' first start (a fresh
interpreter importing the model) is timed separately; later pools fork from it.
"""

from __future__ import annotations

import time

from sim.montecarlo.experiment import run_many

__all__ = ["replications_per_second", "worker_figures"]


def replications_per_second(scenario, model, workers: int, reps: int = 40, seed: int = 0) -> float:
    """Replications per second of :func:`run_many` on ``workers`` local workers."""
    start = time.perf_counter()
    run_many(scenario, reps=reps, seed=seed, model=model, workers=workers)
    return reps / (time.perf_counter() - start)


def worker_figures(scenario, model, reps: int = 40) -> dict[str, float]:
    """Replications per second with 1 and 2 workers, their ratio, and the workers' first start (seconds)."""
    start = time.perf_counter()
    run_many(scenario, reps=2, seed=12345, model=model, workers=2)  # starts the worker processes' server once
    startup = time.perf_counter() - start
    one = replications_per_second(scenario, model, 1, reps)
    two = replications_per_second(scenario, model, 2, reps)
    return {"replications_per_second_1_worker": one, "replications_per_second_2_workers": two,
            "worker_ratio": two / one, "first_worker_start_seconds": startup}
