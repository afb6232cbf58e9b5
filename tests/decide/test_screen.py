"""The screen: what it reports of its own search (a local optimum of the approximation, splits evaluated) is true."""

from paths import SMALL_FIRM

import sim
from sim.decide.objectives import Objective
from sim.decide.screen import contenders, score_of, screen, starts_for
from sim.decide.search_space import neighbours, search_space, today_candidate


def test_a_converged_screen_ends_where_no_finest_neighbour_scores_better_and_counts_what_it_evaluated():
    sc = sim.load_scenario(SMALL_FIRM)
    space = search_space(sc)
    score = score_of(sc, space, Objective(), sim.approximate)
    calls = []

    def counted(c):
        calls.append(c)
        return score(c)

    today = today_candidate(sc, space)
    found = screen(sc, space, counted, starts=starts_for(space, today, 2, 1), channel_step=0.05)
    assert found.converged
    # Every split it evaluated, once each, is what it reports as screened.
    assert found.evaluations == len(calls) == len(set(calls))
    # A local optimum at the finest steps, checked afresh: no neighbour 1 FTE or 5 points away scores better.
    near = neighbours(found.best, space, dict.fromkeys(space.fte_bounds, 1), 0.05)
    assert near and all(score(c) <= found.scores[found.best] for c in near)
    assert found.scores[found.best] == max(found.scores.values())
    # The shortlist: the best, today's split, at most the count asked for, no split twice.
    short = contenders(found, space, score, today, 4)
    assert short[0] == found.best and today in short and len(short) == len(set(short)) <= 4
