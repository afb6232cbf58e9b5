"""Selecting the best of a few splits with a stated guarantee: Kim and Nelson's fully sequential KN procedure.

KN (Kim & Nelson, 2001, *ACM TOMACS* 11: 251-273) selects the system with the
largest mean among ``k``, run with common random numbers and unequal, unknown
variances. Given an indifference zone ``delta`` and a confidence ``1 - alpha``:

1. Every system gets ``n0`` first-stage replications. For each pair, ``S2[i, l]`` is
   the sample variance of the paired differences ``X_i - X_l`` over them, and
   ``h2 = (n0 - 1) * ((2 * alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1)``.
2. After ``r`` replications, system ``i`` stays if, against every other survivor
   ``l``, ``mean_i(r) >= mean_l(r) - W[i, l](r)`` with
   ``W = max(0, delta / (2 r) * (h2 * S2 / delta**2 - r))``; the continuation region
   narrows as ``r`` grows and closes at ``r = h2 * S2 / delta**2``.
3. It stops when one system is left, or when every survivor has reached that ``r``
   (then the largest mean is chosen).

The proof is for normal observations: when the best mean exceeds every other by at
least ``delta``, the best is chosen with probability at least ``1 - alpha``. Screening
happens at every ``r`` with the same boundary, so there are no repeated fixed-level
tests; the replications may be run in batches, because the rule at ``r`` reads only
the first ``r`` of each system. That the choice is within ``delta`` of the best in
every configuration (a good selection) is what the tests check over many seeds.

:func:`kn` is a pure function of a value source, so it runs on the discrete-event
model through :class:`sim.decide.evaluator.Evaluator` and on synthetic data alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Selection", "kn", "kn_constant"]


def kn_constant(alpha: float, systems: int, first_stage: int) -> float:
    """KN's ``h**2`` for ``systems`` alternatives, ``first_stage`` replications each, at error ``alpha``."""
    if systems < 2:
        return 0.0
    eta = 0.5 * ((2 * alpha / (systems - 1)) ** (-2 / (first_stage - 1)) - 1)
    return 2 * eta * (first_stage - 1)


@dataclass
class Selection:
    """What :func:`kn` did.

    Attributes:
        chosen: the index of the chosen system.
        finished: whether the procedure ended by its own rule (one survivor, or every
            survivor at its last replication); ``False`` when ``max_reps`` cut it short,
            and then the guarantee does not hold.
        replications: per system, the replications it used when it was eliminated or
            the procedure ended.
        eliminated_at: per system, the ``r`` at which it was eliminated (``None`` for survivors).
        means: per system, its mean over its own replications.
        h2, delta, alpha, first_stage: the procedure's constants.
        survivors: the systems still in when it ended.
    """

    chosen: int
    finished: bool
    replications: list[int]
    eliminated_at: list[int | None]
    means: list[float]
    h2: float
    delta: float
    alpha: float
    first_stage: int
    survivors: list[int] = field(default_factory=list)


def kn(values: Callable[[list[int], int], np.ndarray], systems: int, *, delta: float, alpha: float = 0.05,
       first_stage: int = 10, batch: int = 10, max_reps: int = 1000) -> Selection:
    """Run KN over ``systems`` alternatives.

    Args:
        values: ``values(alive, r)`` returns an ``r x len(alive)`` array: replications
            ``0 .. r - 1`` of each system in ``alive`` (row ``j`` of every column from the
            same seed). It is asked for growing ``r``; what it ran before it keeps.
        systems: how many alternatives.
        delta: the indifference zone, in the values' unit (> 0).
        alpha: one minus the confidence.
        first_stage: ``n0``, replications before any screening (>= 2).
        batch: replications added at once (the rule is still applied at every ``r``).
        max_reps: replications per system at most; reaching it ends the procedure
            unfinished.
    """
    k = systems
    if k == 1:
        x = values([0], 1)
        return Selection(0, True, [1], [None], [float(x[:, 0].mean())], 0.0, delta, alpha, first_stage, [0])
    h2 = kn_constant(alpha, k, first_stage)
    x = np.asarray(values(list(range(k)), first_stage), dtype=float)
    diffs = x[:, :, None] - x[:, None, :]
    s2 = diffs.var(axis=0, ddof=1)  # k x k, zero on the diagonal
    last = np.floor(h2 * s2 / delta**2)  # N_il: the pair's last replication
    alive = list(range(k))
    eliminated: list[int | None] = [None] * k
    used = [first_stage] * k
    data = {i: x[:, i] for i in range(k)}
    sums = x.sum(axis=0)

    def closes() -> float:
        """The replication after which every surviving pair's continuation region has closed."""
        return max(last[i, j] for i in alive for j in alive if j != i)

    def stays(i: int, r: int) -> bool:
        means = sums / r
        return all(means[i] >= means[j] - max(0.0, delta / (2 * r) * (h2 * s2[i, j] / delta**2 - r))
                   for j in alive if j != i)

    r, have, finished = first_stage, first_stage, False
    while True:
        if r > closes():  # no pair's region is open: the largest mean wins
            finished = True
            break
        out = [i for i in alive if not stays(i, r)]  # the rule at r, against every survivor at r
        for i in out:
            eliminated[i] = used[i] = r
        alive = [i for i in alive if i not in out]
        if len(alive) == 1 or r > closes():  # one left, or the survivors' regions closed with the eliminations
            finished = True
            break
        if r >= max_reps:
            break
        if r == have:  # the next batch of the survivors; the rule still reads one replication at a time
            have = min(max_reps, r + batch, int(closes()) + 1)
            fresh = np.asarray(values(alive, have), dtype=float)
            for col, i in enumerate(alive):
                data[i] = fresh[:, col]
        for i in alive:
            sums[i] += data[i][r]
        r += 1
    for i in alive:
        used[i] = r
    means = [float(data[i][:used[i]].mean()) for i in range(k)]
    chosen = max(alive, key=lambda i: (sums[i] / r, -i))
    return Selection(chosen, finished, used, eliminated, means, h2, delta, alpha, first_stage, list(alive))
