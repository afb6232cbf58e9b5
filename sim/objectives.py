"""What a budget split is judged by: an objective per replication, and a risk measure over them.

An :class:`Objective` turns each replication's measures into one number (contribution,
revenue, ...), optionally counting the open pipeline's weighted value at the horizon,
since a short horizon is biased against marketing (MODEL.md 1 and 6). A risk measure
(:func:`mean`, :func:`value_at_risk`, :func:`conditional_value_at_risk`,
:func:`probability_of_target`) turns the replications' objective values into the one
number alternatives are ranked by; all are larger-is-better. They are pure numpy
functions over the last axis, so the same code serves one sample and a stack of
bootstrap resamples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["OBJECTIVES", "RISKS", "Objective", "Risk", "conditional_value_at_risk", "make_risk", "mean",
           "probability_of_target", "value_at_risk"]

# objective name -> (measure, what the open pipeline adds: "value", "margin", "npv" or "wins")
OBJECTIVES = {
    "contribution": ("contribution", "margin"),
    "revenue": ("revenue", "value"),
    "bookings": ("bookings", "value"),
    "new_customers": ("wins", "wins"),
    "ending_arr": ("ending_arr", "value"),
    "npv": ("npv_contribution", "npv"),
}


@dataclass(frozen=True)
class Objective:
    """The number each replication is judged by.

    Attributes:
        name: one of :data:`OBJECTIVES`: ``contribution`` (gross margin less costs),
            ``revenue``, ``bookings``, ``new_customers`` (wins), ``ending_arr`` or
            ``npv`` (NPV of contribution).
        with_pipeline: add what the deals still open at the horizon are expected to
            bring: their win-probability-weighted value for revenue, bookings and ARR,
            that value times the gross margin for contribution (and, discounted from
            the horizon, for NPV), their expected wins for new customers.
    """

    name: str = "contribution"
    with_pipeline: bool = False

    def __post_init__(self):
        if self.name not in OBJECTIVES:
            raise ValueError(f'"objective" must be one of {", ".join(OBJECTIVES)}, got {self.name!r}')

    @property
    def label(self) -> str:
        """How reports name it."""
        return self.name + (" + open pipeline" if self.with_pipeline else "")

    def values(self, replications: pd.DataFrame, scenario) -> np.ndarray:
        """The objective of each replication (rows of :attr:`sim.experiment.Experiment.replications`)."""
        measure, pipeline = OBJECTIVES[self.name]
        x = replications[measure].to_numpy(dtype=float)
        if not self.with_pipeline:
            return x
        if pipeline == "wins":
            return x + replications["open_pipeline_expected_wins"].to_numpy(dtype=float)
        value = replications["open_pipeline_weighted_value"].to_numpy(dtype=float)
        if self.name == "ending_arr" and scenario.opportunities.deal.kind != "subscription":
            return x  # one-off deals add no recurring revenue
        if pipeline == "value":
            return x + value
        value = value * scenario.gross_margin
        if pipeline == "npv":
            value = value * (1 + scenario.discount_rate_year) ** (-scenario.horizon_months / 12)
        return x + value


@dataclass(frozen=True)
class Risk:
    """A risk measure: a larger-is-better summary of the objective's distribution.

    Call it on an array; it reduces the last axis. ``name`` and ``level`` or
    ``target`` say which; make one with the factories below.
    """

    name: str
    level: float | None = None
    target: float | None = None

    @property
    def label(self) -> str:
        """How reports name it, e.g. ``CVaR 10%`` or ``P(>= 1,000,000)``."""
        if self.name == "mean":
            return "mean"
        if self.name == "probability":
            return f"P(>= {self.target:,.0f})" if abs(self.target) >= 1000 else f"P(>= {self.target:g})"
        return f"{'VaR' if self.name == 'var' else 'CVaR'} {self.level:.0%}"

    def __call__(self, values, axis: int = -1):
        """The risk measure of ``values`` over ``axis``."""
        x = np.asarray(values, dtype=float)
        if self.name == "mean":
            return x.mean(axis=axis)
        if self.name == "probability":
            return (x >= self.target).mean(axis=axis)
        x = np.sort(x, axis=axis)
        n = x.shape[axis]
        if self.name == "var":
            return np.quantile(x, self.level, axis=axis, method="inverted_cdf")
        k = max(1, math.ceil(self.level * n))  # the worst level share of the replications
        return np.take(x, np.arange(k), axis=axis).mean(axis=axis)


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f'"level" must be between 0 and 1 (e.g. 0.1 for the worst 10%), got {level!r}')
    return float(level)


def mean() -> Risk:
    """The expected objective: risk-neutral."""
    return Risk("mean")


def value_at_risk(level: float) -> Risk:
    """The ``level`` quantile of the objective: what it beats with probability ``1 - level``."""
    return Risk("var", level=_check_level(level))


def conditional_value_at_risk(level: float) -> Risk:
    """The mean of the worst ``level`` share of outcomes (expected shortfall)."""
    return Risk("cvar", level=_check_level(level))


def probability_of_target(target: float) -> Risk:
    """The probability that the objective reaches ``target``."""
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
        raise ValueError(f'"target" must be a finite number, got {target!r}')
    return Risk("probability", target=float(target))


RISKS = ("mean", "var", "cvar", "probability")


def make_risk(name: str = "mean", level: float | None = None, target: float | None = None) -> Risk:
    """The risk measure called ``name`` (one of :data:`RISKS`), checking what it needs."""
    if name == "mean":
        return mean()
    if name in ("var", "cvar"):
        if level is None:
            raise ValueError(f'"level" is needed for {name} (e.g. 0.1 for the worst 10%)')
        return (value_at_risk if name == "var" else conditional_value_at_risk)(level)
    if name == "probability":
        if target is None:
            raise ValueError('"target" is needed for the probability of reaching a target')
        return probability_of_target(target)
    raise ValueError(f'"risk" must be one of {", ".join(RISKS)}, got {name!r}')
