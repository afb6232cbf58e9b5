"""Screening budget splits with the fast approximation, before any replication runs.

The approximation (:func:`sim.model.approximate`) gives a split's expected measures in
milliseconds with no discrete-event run. A pattern search on it, from today's split
and a few points of a Sobol design, moves to the best neighbour (a role's headcount
up or down by a step, a step of marketing budget from one free channel to another)
until none improves, halving the steps down to 1 FTE and ``channel_step``. What it
finds is only a shortlist: the contenders (its best, that best's neighbours at the
finest steps, today's split and the next best it met) go to the discrete-event model
and the selection procedure (:mod:`sim.decide.selection`), which decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.decide.search_space import Candidate, SearchSpace, neighbours, sobol_candidates

__all__ = ["Screen", "contenders", "score_of", "screen", "starts_for"]


@dataclass
class Screen:
    """What the approximation found.

    Attributes:
        scores: the approximate objective of every candidate it evaluated.
        best: the candidate with the best score.
        converged: every search ended where no neighbour at the finest steps (1 FTE,
            ``channel_step``) scores better; ``False`` when ``max_evaluations`` stopped it.
        channel_step: the finest channel step.
    """

    scores: dict[Candidate, float]
    best: Candidate
    converged: bool
    channel_step: float

    @property
    def evaluations(self) -> int:
        """How many splits the approximation evaluated."""
        return len(self.scores)


def screen(scenario, space: SearchSpace, score, *, starts: list[Candidate], channel_step: float = 0.05,
           max_evaluations: int = 4000) -> Screen:
    """A pattern search from each of ``starts`` on ``score(candidate)``, larger being better."""
    scores: dict[Candidate, float] = {}

    def value(c: Candidate) -> float:
        if c not in scores:
            scores[c] = float(score(c))
        return scores[c]

    mixes = len(space.free_channels) > 1
    converged = True
    for start in starts:
        here = start
        spans = {r: max(1, (hi - lo) // 4) for r, (lo, hi) in space.fte_bounds.items()}
        step = max(channel_step, 0.2) if mixes else 0.0
        while True:
            if len(scores) >= max_evaluations:
                converged = False
                break
            near = neighbours(here, space, spans, step)
            better = max(near, key=value, default=None)
            if better is not None and value(better) > value(here):
                here = better
                continue
            if all(s == 1 for s in spans.values()) and step <= channel_step + 1e-12:
                break
            spans = {r: max(1, s // 2) for r, s in spans.items()}
            step = max(channel_step, step / 2) if mixes else 0.0
        value(here)
    best = max(scores, key=lambda c: (scores[c], str(c)))
    return Screen(scores, best, converged, channel_step)


def contenders(found: Screen, space: SearchSpace, score, today: Candidate | None, count: int) -> list[Candidate]:
    """The shortlist for the discrete-event model: the best, its finest neighbours, today's, then the next best.

    Headcount neighbours (one FTE up or down) come first, then channel moves by the
    approximation's score; ``today`` is always in; at most ``count`` in all (more only
    when the best and today already exceed it).
    """
    best = found.best
    near = neighbours(best, space, dict.fromkeys(space.fte_bounds, 1), found.channel_step)
    for c in near:
        if c not in found.scores:
            found.scores[c] = float(score(c))
    fte_moves = [c for c in near if c.mix == best.mix]
    mix_moves = sorted((c for c in near if c.mix != best.mix), key=lambda c: -found.scores[c])
    others = sorted(found.scores, key=lambda c: -found.scores[c])
    chosen = [best] + ([today] if today is not None else [])
    for c in [*fte_moves, *mix_moves, *others]:
        if len(chosen) >= count:
            break
        if c not in chosen:
            chosen.append(c)
    return list(dict.fromkeys(chosen))


def score_of(scenario, space: SearchSpace, objective, approximate):
    """``score(candidate)``: the objective of the approximation's expected measures of the candidate's scenario."""

    def score(c: Candidate) -> float:
        sc = space.scenario(scenario, c)
        measures = approximate(sc)
        return float(objective.values(pd.DataFrame([measures]), sc)[0])

    return score


def starts_for(space: SearchSpace, today: Candidate | None, count: int, seed) -> list[Candidate]:
    """Where the pattern searches start: today's split and ``count`` Sobol points."""
    return list(dict.fromkeys(([today] if today else []) + sobol_candidates(space, count, seed)))
