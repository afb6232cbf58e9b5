"""The plan the model runs: spend per channel per month, the team per role, and the budget's accounting.

A scenario's plan is resolved once, when the scenario is validated
(:attr:`sim.scenario.Scenario.plan`), and the model reads only the plan for spend and
headcount:

- **No budget**: each channel's ``spend`` schedule over the horizon (a short
  schedule repeats its last month), each role's ``fte`` and ``hires`` as written.
- **A budget split** (``marketing_share``): ``total * marketing_share`` is spread over
  the channels by ``channel_mix`` as constant monthly spend; the rest over the roles
  by ``role_mix``, and each role gets the whole FTE its part pays for over the
  horizon, starting on day one (replacing its ``fte`` and ``hires``). A channel that
  spends, or a paid role with headcount, that the split leaves out is refused
  (:mod:`sim.scenario.checks`), so nothing is paid outside the budget; so is a paid
  role whose headcount is given (``fte_by_month``), which a split cannot set.
- **A budget without a split**: the plan as written, accounted against ``total``;
  it must fit.

**Budget accounting.** The budget pays for channel spend (``marketing``) and the
salaries of the headcount it funds (``sales``: FTE-years at ``cost_per_fte_year``, each
seat from its start to the horizon, or a given headcount's FTE-months); ``marketing + sales + unspent == total``. Costs
that follow from what happens (lead costs, the nurture program, commissions, SDR
bonuses) are paid as they occur and are not part of the budget; they are in the
measures' costs and contribution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sim.scenario.messages import ScenarioError
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR, whole

__all__ = ["ROLE_NAMES", "BudgetAccount", "Plan", "RolePlan", "resolve_plan", "spend_schedule"]

ROLE_NAMES = ("sdr", "ae", "customer_success")
MONEY_ROUND_OFF = 1e-9  # relative: a plan within this of its budget fits it exactly


@dataclass(frozen=True)
class RolePlan:
    """A role's team: whole FTE at the start (taken as ramped) and planned hires, or a given headcount.

    Attributes:
        fte: seats filled on day one.
        hires: ``(month, fte)`` pairs: ``fte`` seats requested at the start of ``month``
            (from 0), filled after the role's ``hiring_lead_days``.
        fte_by_month: the given headcount (the role's ``fte_by_month``), whole FTE in each
            month of the horizon; ``None`` when the team is planned (``fte`` and ``hires``).
            With it, ``fte`` is its first month and there are no hires.
    """

    fte: int
    hires: tuple[tuple[int, int], ...] = ()
    fte_by_month: tuple[int, ...] | None = None

    @property
    def planned_fte(self) -> int:
        """Seats once every planned hire has started; with a given headcount, its largest month."""
        if self.fte_by_month is not None:
            return max(self.fte_by_month)
        return self.fte + sum(n for _, n in self.hires)

    @classmethod
    def of(cls, role, horizon_months: int) -> RolePlan:
        """The team of ``role`` as written: its ``fte`` and ``hires``, or its ``fte_by_month`` over the horizon."""
        if role.fte_by_month is not None:
            schedule = tuple(int(n) for n in role.fte_by_month)
            schedule += (schedule[-1],) * (horizon_months - len(schedule))
            return cls(schedule[0], (), schedule[:horizon_months])
        return cls(role.fte, tuple((h.month, h.fte) for h in role.hires))


@dataclass(frozen=True)
class BudgetAccount:
    """Where a budget goes: ``marketing + sales + unspent == total`` (to round-off).

    Attributes:
        total: the budget for the horizon.
        marketing: channel spend over the horizon.
        salaries: per role with a cost, the salaries set aside for its seats.
        fte: per role with a cost, the FTE those salaries pay for.
        unspent: what is left.
    """

    total: float
    marketing: float
    salaries: Mapping[str, float]
    fte: Mapping[str, int]
    unspent: float

    @property
    def sales(self) -> float:
        """Salaries set aside, over every role."""
        return float(sum(self.salaries.values()))


@dataclass(frozen=True)
class Plan:
    """What the model runs.

    Attributes:
        horizon_months: the simulated months.
        spend: per channel, spend in each month of the horizon.
        roles: per defined role, its :class:`RolePlan`.
        budget: the budget's accounting, or None without a budget.
    """

    horizon_months: int
    spend: Mapping[str, tuple[float, ...]]
    roles: Mapping[str, RolePlan]
    budget: BudgetAccount | None = field(default=None)

    def __repr__(self) -> str:
        spend = {c: round(sum(s)) for c, s in self.spend.items()}
        team = {r: t.planned_fte for r, t in self.roles.items()}
        b = self.budget
        budget = "" if b is None else f", budget={b.total:,.0f} (unspent {b.unspent:,.0f})"
        return f"Plan({self.horizon_months} months, spend over the horizon={spend}, planned FTE={team}{budget})"

    def monthly_spend(self, channel: str) -> np.ndarray:
        """A channel's spend in each month of the horizon."""
        return np.asarray(self.spend[channel], dtype=float)

    @property
    def marketing_spend(self) -> float:
        """Channel spend over the horizon, every channel."""
        return float(sum(sum(s) for s in self.spend.values()))


def spend_schedule(spend, horizon_months: int) -> tuple[float, ...]:
    """A spend schedule over the horizon: one number per month, the last repeating."""
    s = [float(x) for x in spend]
    return tuple(s + [s[-1]] * (horizon_months - len(s)))


def _defined_roles(scenario) -> dict:
    return {name: role for name in ROLE_NAMES if (role := getattr(scenario.roles, name)) is not None}


def _salary_years(role, team: RolePlan, horizon_days: float) -> float:
    """FTE-years a team is budgeted for: day-one seats for the horizon, each hire from its start.

    A given headcount (``fte_by_month``) is budgeted for the FTE-months it gives.
    """
    if team.fte_by_month is not None:
        return sum(team.fte_by_month) / 12
    years = team.fte * horizon_days / DAYS_PER_YEAR
    for month, n in team.hires:
        start = month * DAYS_PER_MONTH + role.hiring_lead_days
        years += n * max(horizon_days - start, 0.0) / DAYS_PER_YEAR
    return years


def resolve_plan(scenario) -> Plan:
    """The plan of a validated scenario (see the module docstring).

    Raises:
        ScenarioError: a budget without a split that the plan as written does not fit.
    """
    H = scenario.horizon_months
    roles = _defined_roles(scenario)
    b = scenario.budget
    if b is None or b.marketing_share is None:
        spend = {name: spend_schedule(ch.spend, H) for name, ch in scenario.channels.items()}
        teams = {name: RolePlan.of(role, H) for name, role in roles.items()}
        if b is None:
            return Plan(H, spend, teams, None)
        paid = {name: role for name, role in roles.items() if role.cost_per_fte_year > 0}
        salaries = {name: role.cost_per_fte_year * _salary_years(role, teams[name], scenario.horizon_days)
                    for name, role in paid.items()}
        marketing = float(sum(sum(s) for s in spend.values()))
        account = _account(b.total, marketing, salaries, {name: teams[name].planned_fte for name in paid})
        if account.unspent < 0:
            cost = marketing + account.sales
            raise ScenarioError("<scenario>", [("budget.total", (
                f"the plan costs {cost:,.0f} over the horizon (spend {marketing:,.0f}, salaries "
                f"{account.sales:,.0f}), more than the total of {b.total:,.0f}"))])
        return Plan(H, spend, teams, account)
    return _split_plan(scenario, roles)


def _split_plan(scenario, roles: dict) -> Plan:
    """A budget split into constant monthly spend and whole FTE (see the module docstring)."""
    b = scenario.budget
    H = scenario.horizon_months
    years = H / 12
    marketing = b.total * b.marketing_share
    sales = b.total - marketing
    cw = sum(b.channel_mix.values())
    spend = {}
    for name in scenario.channels:
        monthly = marketing * b.channel_mix[name] / cw / H if cw > 0 and name in b.channel_mix else 0.0
        spend[name] = (monthly,) * H
    spent_marketing = marketing if cw > 0 else 0.0
    rw = sum(b.role_mix.values())
    teams, salaries, fte = {}, {}, {}
    for name, role in roles.items():
        if name not in b.role_mix:  # unpaid, or without headcount (checked): kept as written
            teams[name] = RolePlan.of(role, H)
            if role.cost_per_fte_year > 0:
                salaries[name], fte[name] = 0.0, 0
            continue
        per_fte = role.cost_per_fte_year * years
        part = sales * b.role_mix[name] / rw if rw > 0 else 0.0
        n = part / per_fte if per_fte > 0 else 0
        if n >= 2**53:  # no whole number of FTE to give (and far past what any run can take)
            raise ScenarioError("<scenario>", [(f"roles.{name}.cost_per_fte_year", f"at {role.cost_per_fte_year:g} a "
                                                "year the budget would buy more than 2**53 FTE; expected a "
                                                "yearly cost per FTE")])
        n = whole(n)
        teams[name] = RolePlan(n, ())
        salaries[name], fte[name] = n * per_fte, n
    return Plan(H, spend, teams, _account(b.total, spent_marketing, salaries, fte))


def _account(total: float, marketing: float, salaries: dict[str, float], fte: dict[str, int]) -> BudgetAccount:
    unspent = total - marketing - sum(salaries.values())
    if abs(unspent) <= MONEY_ROUND_OFF * max(total, 1.0):
        unspent = 0.0
    return BudgetAccount(float(total), float(marketing), salaries, fte, float(unspent))
