"""Kim and Nelson's KN procedure on data whose means are known: its guarantee, checked over many seeds.

The data are normal with common random numbers (a shared component per replication,
as the funnel's splits share a world) and unequal variances. Each claim is a
frequency over independent seeds, with a binomial tolerance of 3 standard errors.
"""

import math

import numpy as np
import pytest

from sim.decide.selection import kn, kn_constant

SEEDS = 400


def source(means, sds, shared, rng):
    """``values(alive, r)``: replications 0 .. r - 1, drawn once and kept (as the evaluator keeps them)."""
    means, sds = np.asarray(means, float), np.asarray(sds, float)
    rows = []

    def values(alive, r):
        while len(rows) < r:
            rows.append(means + shared * rng.normal() + sds * rng.normal(size=len(means)))
        return np.array(rows[:r])[:, alive]

    return values


def binomial_floor(p, n):
    return p - 3 * math.sqrt(p * (1 - p) / n)


def test_the_constant_is_kim_and_nelsons():
    # h^2 = (n0 - 1) * ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1): for k = 2, alpha = 0.05, n0 = 10 that is
    # 9 * (0.1 ** (-2 / 9) - 1), and it grows with the number of systems and shrinks with n0.
    assert kn_constant(0.05, 2, 10) == pytest.approx(9 * (0.1 ** (-2 / 9) - 1))
    assert kn_constant(0.05, 8, 10) > kn_constant(0.05, 2, 10)
    assert kn_constant(0.05, 8, 20) < kn_constant(0.05, 8, 10)


@pytest.mark.parametrize("k", [2, 6])
def test_the_best_is_chosen_at_the_stated_rate_in_the_slippage_configuration(k):
    # The least favourable configuration of the proof: the best exactly delta ahead of all others.
    delta, alpha = 1.0, 0.05
    means = [delta] + [0.0] * (k - 1)
    sds = np.linspace(1.5, 3.0, k)
    correct = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(seed)
        sel = kn(source(means, sds, 2.0, rng), k, delta=delta, alpha=alpha, first_stage=10, batch=7)
        assert sel.finished
        correct += sel.chosen == 0
    assert correct / SEEDS >= binomial_floor(1 - alpha, SEEDS)


def test_the_choice_is_within_delta_of_the_best_when_several_are_close():
    # Means spread inside and outside the zone: a good selection is any within delta of the best.
    delta, alpha = 1.0, 0.05
    means = np.array([3.0, 2.6, 2.2, 1.5, 0.0])
    sds = np.array([2.0, 3.0, 1.0, 2.5, 2.0])
    good = 0
    reps = []
    for seed in range(SEEDS):
        rng = np.random.default_rng(10_000 + seed)
        sel = kn(source(means, sds, 1.0, rng), len(means), delta=delta, alpha=alpha, first_stage=10, batch=5)
        good += means[sel.chosen] >= means.max() - delta
        reps.append(sum(sel.replications))
    assert good / SEEDS >= binomial_floor(1 - alpha, SEEDS)
    # Clearly worse systems leave early: the far one (4.5 sd below) uses fewer replications than the close ones.
    assert np.mean(reps) < len(means) * kn_constant(alpha, 5, 10) * 3.0 ** 2 / delta**2


def test_it_stops_by_its_rule_and_reports_what_each_system_used():
    rng = np.random.default_rng(3)
    sel = kn(source([5.0, 0.0, 0.0], [1.0, 1.0, 1.0], 0.5, rng), 3, delta=0.5, first_stage=10, batch=3)
    assert sel.finished and sel.chosen == 0 and sel.survivors == [0]
    for i in (1, 2):  # eliminated, and at or after the first stage
        assert sel.eliminated_at[i] is not None and sel.eliminated_at[i] >= 10
        assert sel.replications[i] == sel.eliminated_at[i]


def test_a_cap_below_the_rule_leaves_it_unfinished():
    rng = np.random.default_rng(4)
    sel = kn(source([0.0, 0.0], [1.0, 1.0], 0.0, rng), 2, delta=0.01, first_stage=10, max_reps=30)
    assert not sel.finished and max(sel.replications) == 30


def test_batches_do_not_change_the_choice():
    # The rule at r reads only the first r replications of each system, however many were run.
    for seed in range(20):
        args = ([1.0, 0.8, 0.2], [1.0, 2.0, 1.5], 1.0)
        one = kn(source(*args, np.random.default_rng(seed)), 3, delta=0.3, first_stage=10, batch=1)
        many = kn(source(*args, np.random.default_rng(seed)), 3, delta=0.3, first_stage=10, batch=13)
        assert (one.chosen, one.eliminated_at) == (many.chosen, many.eliminated_at)


def test_survivors_whose_regions_closed_with_an_elimination_stop_there():
    # Systems 0 and 2 are identical (no variance between them: their region closes at once);
    # system 1 is far worse but noisy enough to keep its regions open past the first stage.
    # Once 1 is eliminated the survivors' regions are closed: the procedure ends at that r,
    # and never asks for fewer replications than it has read.
    rng = np.random.default_rng(0)
    rows = [np.array([10.0, 0.0, 10.0]) + np.array([1.0, 4.5, 1.0]) * z for z in rng.normal(size=(200, 1))]
    rows = [row + np.array([0.0, rng.normal() * 4.5, 0.0]) for row in rows]
    asked = []

    def values(alive, r):
        asked.append(r)
        return np.array(rows[:r])[:, alive]

    sel = kn(values, 3, delta=1.0, first_stage=10, batch=5)
    assert sel.finished and sel.chosen == 0 and sel.survivors == [0, 2]
    assert sel.eliminated_at[1] is not None
    assert asked == sorted(asked)  # replications asked for never go back
    assert sel.replications[0] == sel.replications[2] == sel.eliminated_at[1]
