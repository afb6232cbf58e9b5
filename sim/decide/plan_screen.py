"""Screening plans over time with the fast approximation, before any replication runs.

A plan over time has many dimensions (a spend level per channel and period, a month
per hire), so the discrete-event model cannot try many. The approximation
(:func:`sim.model.approximate_with_monthly`) scores one in milliseconds. A
coordinate search on it starts from today's plan and moves to the best neighbour
until none improves:

- a channel's monthly spend in one period up or down by a step (a share of its
  unit, today's average monthly spend), and a step moved between two neighbouring
  periods (the same money, earlier or later);
- a role's hire added in a month, removed, or moved earlier or later.

Steps start coarse (half the unit; hires moved by a period, added at period starts)
and halve down to ``spend_step`` and one month. Plans that break a limit of the
:class:`~sim.decide.timing.PlanSpace`, or whose *expected* cash (cumulative
contribution) falls below ``-runway`` in a month, are not moved to: the expected path
is a screen, not the chance constraint, which is checked on the discrete-event model.
What the search finds is a shortlist; the selection procedure decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.decide.timing import PlanSpace, TimePlan

__all__ = ["PlanScreen", "plan_neighbours", "plan_score", "screen_plans"]


@dataclass
class PlanScreen:
    """What the approximation found.

    Attributes:
        scores: the approximate objective of every plan evaluated (``-inf`` for a plan
            whose expected cash breaks the runway).
        best: where the search ended: no move from it gains more than ``min_gain``.
        converged: the search ended where no neighbour at the finest steps scores
            better; ``False`` when ``max_evaluations`` stopped it.
        spend_step: the finest spend step (share of a channel's unit).
    """

    scores: dict[TimePlan, float]
    best: TimePlan
    converged: bool
    spend_step: float

    @property
    def evaluations(self) -> int:
        """How many plans the approximation evaluated."""
        return len(self.scores)


def plan_score(scenario, space: PlanSpace, objective, approximate, runway: float | None = None):
    """``score(plan)``: the objective of the approximation's expected measures; ``-inf`` past the runway."""

    def score(plan: TimePlan) -> float:
        sc = space.scenario(scenario, plan)
        measures, monthly = approximate(sc)
        if runway is not None and float(np.cumsum(monthly["contribution"].to_numpy(dtype=float)).min()) < -runway:
            return -np.inf
        return float(objective.values(pd.DataFrame([measures]), sc)[0])

    return score


def plan_neighbours(plan: TimePlan, space: PlanSpace, step: float, hire_step: int) -> list[TimePlan]:
    """Every plan one move from ``plan`` (see the module docstring) that keeps the space's limits."""
    spend = {c: list(plan.spend_of(c)) for c in space.free_channels}
    hires = {r: list(plan.hires_of(r)) for r in space.free_roles}
    out = []

    def add(new_spend=None, new_hires=None):
        cand = TimePlan.of(space.period_months, new_spend or spend, new_hires or hires)
        if cand != plan and space.feasible(cand):
            out.append(cand)

    for c in space.free_channels:
        amount = step * space.unit[c]
        levels = spend[c]
        for k in range(len(levels)):
            for sign in (-1, 1):
                lo, hi = space.spend_bounds[c]
                moved = min(max(levels[k] + sign * amount, lo), hi)
                if abs(moved - levels[k]) > 1e-9:
                    add({**spend, c: levels[:k] + [moved] + levels[k + 1:]})
        for k in range(len(levels) - 1):
            for a, b in ((k, k + 1), (k + 1, k)):  # the same money a period earlier or later
                move = min(amount, levels[a] - space.spend_bounds[c][0])
                if move > 1e-9:
                    new = list(levels)
                    weight = space.months_of_period(a) / space.months_of_period(b)
                    new[a] -= move
                    new[b] += move * weight
                    add({**spend, c: new})
    for r in space.free_roles:
        months = hires[r]
        allowed = space.hire_months(r)
        starts = allowed if hire_step == 1 else [m for m in allowed if m % space.period_months == 0]
        for m in starts:
            add(new_hires={**hires, r: months + [m]})
        for m in sorted(set(months)):
            rest = list(months)
            rest.remove(m)
            add(new_hires={**hires, r: rest})
            for shift in (-hire_step, hire_step):
                if m + shift in allowed:
                    add(new_hires={**hires, r: rest + [m + shift]})
    return list(dict.fromkeys(out))


def screen_plans(space: PlanSpace, score, *, start: TimePlan, spend_step: float = 0.1,
                 max_evaluations: int = 3000, min_gain: float = 0.0) -> PlanScreen:
    """A coordinate search from ``start`` on ``score(plan)``, larger being better.

    A move is taken only if it gains more than ``min_gain``, so the search does not add
    a hire, or move money, for a difference no one would act on.
    """
    scores: dict[TimePlan, float] = {}

    def value(p: TimePlan) -> float:
        if p not in scores:
            scores[p] = float(score(p))
        return scores[p]

    here = start
    value(here)
    step, hire_step = max(spend_step, 0.5), max(1, space.period_months)
    converged = True
    while True:
        if len(scores) >= max_evaluations:
            converged = False
            break
        near = plan_neighbours(here, space, step, hire_step)
        better = None
        for p in near:
            if len(scores) >= max_evaluations:
                break
            if better is None or value(p) > value(better):
                better = p
        if better is not None and value(better) > value(here) + min_gain:
            here = better
            continue
        if len(scores) >= max_evaluations:
            converged = False
            break
        if step <= spend_step + 1e-12 and hire_step == 1:
            break
        step, hire_step = max(spend_step, step / 2), max(1, hire_step // 2)
    return PlanScreen(scores, here, converged, spend_step)
