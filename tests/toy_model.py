"""A toy model function for the Monte Carlo layer: measures whose distribution is known exactly.

A replication draws ``months * draws`` independent normal values with the scenario's
``mean`` and ``sd``, ``draws`` of them in each month. Its measures are

- ``average``: the mean of every draw, normal with mean ``mean`` and sd ``sd / sqrt(months * draws)``;
- ``total``: their sum;
- ``spread``: ``{"min": ..., "max": ...}`` (a nested measure, as the funnel's ``lead_accounting``);

its monthly frame has one row per month (``month``, ``average`` of that month's draws),
and with ``trace`` it also returns every draw (``month``, ``draw``). It lives at module
level so that worker processes can import it (``tests`` is on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ToyScenario:
    """What the toy model runs: a plain dataclass (the Monte Carlo layer needs nothing more of a scenario)."""

    name: str = "toy"
    mean: float = 10.0
    sd: float = 2.0
    months: int = 3
    draws: int = 4

    @property
    def average_sd(self) -> float:
        """The sd of the ``average`` measure."""
        return self.sd / np.sqrt(self.months * self.draws)


def toy(scenario: ToyScenario, seed, trace: bool = False):
    """One replication of the toy model: ``(measures, monthly)``, with ``trace`` also the draws."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scenario.mean, scenario.sd, size=(scenario.months, scenario.draws))
    measures = {"average": float(x.mean()), "total": float(x.sum()),
                "spread": {"min": float(x.min()), "max": float(x.max())}}
    monthly = pd.DataFrame({"month": np.arange(scenario.months), "average": x.mean(axis=1)})
    if not trace:
        return measures, monthly
    draws = pd.DataFrame({"month": np.repeat(np.arange(scenario.months), scenario.draws), "draw": x.ravel()})
    return measures, monthly, draws
