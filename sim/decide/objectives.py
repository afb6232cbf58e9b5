"""What a budget split is judged by: an objective per replication, and a risk measure over them.

An :class:`Objective` turns each replication's measures into one number (contribution,
revenue, ...), optionally counting what lies beyond the horizon: the open pipeline's
weighted value, and a terminal value of the customers kept (the ending ARR at a stated
multiple, or the NPV of their margin after the horizon), since a short horizon is
biased against marketing and against plans that invest late in it (``docs/model.md``). A risk measure
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
        terminal: add a terminal value of the customers at the horizon (money
            objectives only): a number ``k`` for ``k`` times the ending ARR (a
            valuation multiple), or ``"npv"`` for the NPV of their gross margin after
            the horizon (:meth:`terminal_values`). Without it a plan that invests late
            looks better than it is: its costs fall inside the horizon and its revenue
            after it.
    """

    name: str = "contribution"
    with_pipeline: bool = False
    terminal: float | str | None = None

    def __post_init__(self):
        if self.name not in OBJECTIVES:
            raise ObjectiveError("objective", f"expected one of {', '.join(OBJECTIVES)}, got {self.name!r}")
        t = self.terminal
        if t is None:
            return
        if self.name == "new_customers":
            raise ObjectiveError("terminal", "a terminal value is money; new_customers counts customers")
        if t == "npv":
            return
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf:
            raise ObjectiveError("terminal", f"expected a multiple of the ending ARR (a number of at least 0, "
                                             f"e.g. 5) or 'npv', got {t!r}")
        object.__setattr__(self, "terminal", float(t))

    @property
    def label(self) -> str:
        """How reports name it."""
        text = self.name + (" + open pipeline" if self.with_pipeline else "")
        if self.terminal == "npv":
            text += " + NPV of the customers after the horizon"
        elif self.terminal is not None:
            text += f" + {self.terminal:g}x ending ARR"
        return text

    def check(self, scenario) -> None:
        """Refuse a terminal value ``scenario`` cannot give (one-off deals have no ARR; a base that never shrinks).

        Raises:
            ObjectiveError: naming ``terminal``.
        """
        if self.terminal is None:
            return
        if scenario.opportunities.deal.kind != "subscription" and scenario.customers.installed_base == 0:
            raise ObjectiveError("terminal", "the scenario's deals are one-off and it has no installed base, so "
                                             "there is no ARR to value after the horizon")
        if self.terminal == "npv" and _kept_per_month(scenario) >= 1:
            raise ObjectiveError("terminal", "customers' margin grows at least as fast as the discount rate "
                                             "(expansion_month >= churn_month + discounting), so its NPV after the "
                                             "horizon is infinite; give a multiple of the ending ARR instead")

    def terminal_values(self, replications: pd.DataFrame, scenario) -> np.ndarray:
        """Each replication's terminal value, as :meth:`values` adds it (zeros without one).

        A multiple ``k`` values the ending ARR at ``k`` times; ``"npv"`` values the
        ending MRR's gross margin for every month after the horizon, kept at
        ``(1 - churn_month) * (1 + expansion_month)`` a month and discounted at
        ``discount_rate_year``: ``mrr * margin * q / (1 - q)`` with ``q`` that monthly
        factor over the month's discount. Both are at the horizon, and for the ``npv``
        objective discounted from it to today.
        """
        if self.terminal is None:
            return np.zeros(len(replications))
        self.check(scenario)
        if self.terminal == "npv":
            q = _kept_per_month(scenario)
            value = replications["ending_mrr"].to_numpy(dtype=float) * scenario.gross_margin * q / (1 - q)
        else:
            value = self.terminal * replications["ending_arr"].to_numpy(dtype=float)
        if self.name == "npv":
            value = value * (1 + scenario.discount_rate_year) ** (-scenario.horizon_months / 12)
        return value

    def values(self, replications: pd.DataFrame, scenario) -> np.ndarray:
        """The objective of each replication (rows of :attr:`sim.montecarlo.experiment.Experiment.replications`)."""
        measure, pipeline = OBJECTIVES[self.name]
        x = replications[measure].to_numpy(dtype=float)
        if self.terminal is not None:
            x = x + self.terminal_values(replications, scenario)
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


def _kept_per_month(scenario) -> float:
    """A month's factor on the value of the ending MRR: kept, expanded, and discounted by a month."""
    c = scenario.customers
    return (1 - c.churn_month) * (1 + c.expansion_month) / (1 + scenario.discount_rate_year) ** (1 / 12)


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
