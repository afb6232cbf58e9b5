"""Speed and soundness of the optimiser on one scenario: ``funnel bench --optimize``.

:func:`optimize_figures` runs :func:`sim.decide.optimize.optimize` with its defaults and
times it; with ``check_reps``, it then compares the answer, by brute force, against
every split of a grid around it (each role 1 and 2 FTE up and down, and 5 points of
marketing budget moved between any two free channels), on new replications, and says
whether any of them beats the answer by more than the optimiser's ``delta``.
"""

from __future__ import annotations

import time

from sim.decide.compare import Alternative, compare
from sim.decide.optimize import optimize
from sim.decide.search_space import Candidate, neighbours, search_space

__all__ = ["grid_around", "optimize_figures"]


def grid_around(scenario, allocation: dict, channel_step: float = 0.05) -> list[Alternative]:
    """The answer of :func:`optimize` and the splits around it, as alternatives (the answer first)."""
    space = search_space(scenario, budget=allocation["total"])
    fte = {r: int(allocation[f"fte.{r}"]) for r in space.fte_bounds} | space.fixed_fte
    mix = {c: allocation[f"channel_share.{c}"] for c in space.free_channels}
    answer = Candidate.of(fte, mix)
    around = []
    for step in (1, 2):
        around += neighbours(answer, space, dict.fromkeys(space.fte_bounds, step), channel_step if step == 1 else 0)
    around = [c for c in dict.fromkeys(around) if c != answer]
    return [Alternative("answer", space.scenario(scenario, answer), space.settings(answer)),
            *(Alternative(space.label(c), space.scenario(scenario, c), space.settings(c)) for c in around)]


def optimize_figures(scenario, *, workers: int = 2, seed: int = 7, check_reps: int | None = None) -> dict:
    """Wall time, replications and answer of ``optimize(scenario)`` with its defaults; optionally the grid check."""
    start = time.perf_counter()
    allocation, d = optimize(scenario, seed=seed, workers=workers)
    figures = {"seconds": time.perf_counter() - start, "replications": d.replications_used,
               "selection_replications": d.selection_replications, "fresh_replications": d.fresh_replications,
               "answer": allocation["label"], "vs_today": d.vs_today, "delta": d.guarantee.delta,
               "statements": d.guarantee.statements}
    if check_reps:
        alternatives = grid_around(scenario, allocation)
        start = time.perf_counter()
        checked = compare(alternatives, reps=check_reps, seed=seed + 1_000, baseline="answer", workers=workers,
                          objective=d.objective, risk=d.risk)
        table = checked.alternatives.drop(index="answer")
        best = table["vs_baseline"].idxmax()
        figures.update(check_splits=len(table), check_seconds=time.perf_counter() - start,
                       check_best=best, check_best_difference=(float(table.loc[best, "vs_baseline"]),
                                                               float(table.loc[best, "vs_baseline_ci_low"]),
                                                               float(table.loc[best, "vs_baseline_ci_high"])),
                       check_beaten=[label for label, row in table.iterrows()
                                     if row["vs_baseline_ci_low"] > d.guarantee.delta])
    return figures
