"""What a budget split is judged by: an objective per replication, and a risk measure over them.

An :class:`Objective` turns each replication's measures into one number (contribution,
revenue, ...), optionally counting the open pipeline's weighted value at the horizon,
since a short horizon is biased against marketing (``docs/model.md``). A risk measure
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

from sim.errors import FunnelError

__all__ = ["OBJECTIVES", "RISKS", "Objective", "ObjectiveError", "Risk", "conditional_value_at_risk", "make_risk",
           "mean", "probability_of_target", "value_at_risk"]


class ObjectiveError(FunnelError):
    """An objective or a risk measure that cannot be made; names the parameter at fault."""

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
            raise ObjectiveError("objective", f"expected one of {', '.join(OBJECTIVES)}, got {self.name!r}")

    @property
    def label(self) -> str:
        """How reports name it."""
        return self.name + (" + open pipeline" if self.with_pipeline else "")

    def values(self, replications: pd.DataFrame, scenario) -> np.ndarray:
        """The objective of each replication (rows of :attr:`sim.montecarlo.experiment.Experiment.replications`)."""
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

    Call it on an array; it reduces the last axis. ``name`` and ``tail`` (the worst
    share of outcomes, for VaR and CVaR) or ``target`` say which; make one with the
    factories below.
    """

    name: str
    tail: float | None = None
    target: float | None = None

    @property
    def label(self) -> str:
        """How reports name it, e.g. ``CVaR 10%`` or ``P(>= 1,000,000)``."""
        if self.name == "mean":
            return "mean"
        if self.name == "probability":
            return f"P(>= {self.target:,.0f})" if abs(self.target) >= 1000 else f"P(>= {self.target:g})"
        return f"{'VaR' if self.name == 'var' else 'CVaR'} {self.tail:.0%}"

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
            return np.quantile(x, self.tail, axis=axis, method="inverted_cdf")
        k = max(1, math.ceil(self.tail * n))  # the worst tail share of the replications
        return np.take(x, np.arange(k), axis=axis).mean(axis=axis)


def _check_tail(tail) -> float:
    if isinstance(tail, bool) or not isinstance(tail, (int, float)) or not 0 < tail < 1:
        raise ObjectiveError("tail", f"expected a share between 0 and 1 (e.g. 0.1 for the worst 10%), got {tail!r}")
    return float(tail)


def mean() -> Risk:
    """The expected objective: risk-neutral."""
    return Risk("mean")


def value_at_risk(tail: float) -> Risk:
    """The ``tail`` quantile of the objective: what it beats with probability ``1 - tail``."""
    return Risk("var", tail=_check_tail(tail))


def conditional_value_at_risk(tail: float) -> Risk:
    """The mean of the worst ``tail`` share of outcomes (expected shortfall)."""
    return Risk("cvar", tail=_check_tail(tail))


def probability_of_target(target: float) -> Risk:
    """The probability that the objective reaches ``target``."""
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
        raise ObjectiveError("target", f"expected a finite number, got {target!r}")
    return Risk("probability", target=float(target))


RISKS = ("mean", "var", "cvar", "probability")


def make_risk(name: str = "mean", tail: float | None = None, target: float | None = None) -> Risk:
    """The risk measure called ``name`` (one of :data:`RISKS`), checking what it needs and nothing unused.

    Raises:
        ObjectiveError: naming each parameter at fault.
    """
    problems = []
    if name not in RISKS:
        problems.append(("risk", f"expected one of {', '.join(RISKS)}, got {name!r}"))
    if name in ("var", "cvar") and tail is None:
        problems.append(("tail", f"is needed with {{risk}} {name} (e.g. 0.1 for the worst 10%)"))
    if name == "probability" and target is None:
        problems.append(("target", "is needed with {risk} probability (the objective's value to reach)"))
    if tail is not None and name in RISKS and name not in ("var", "cvar"):
        problems.append(("tail", "is only used with {risk} var or cvar"))
    if target is not None and name in RISKS and name != "probability":
        problems.append(("target", "is only used with {risk} probability"))
    if problems:
        raise ObjectiveError(*problems[0], problems=problems)
    if name == "mean":
        return mean()
    if name in ("var", "cvar"):
        return (value_at_risk if name == "var" else conditional_value_at_risk)(tail)
    return probability_of_target(target)
