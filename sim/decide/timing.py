"""A plan over time: spend per channel per period, and the month each new FTE is requested.

A :class:`TimePlan` is the decision :func:`sim.decide.over_time.optimize_over_time`
makes. It is run as the plan the model already takes (:meth:`PlanSpace.scenario`):
each channel's ``spend`` becomes one number per month, each role's ``hires`` the
requests, and a ``budget`` block with the total accounts for them, so ``sim.compare``,
``funnel compare`` and ``funnel run`` take the result as they take any scenario.

A :class:`PlanSpace` holds the limits:

- **spend**, per free channel and period: bounds on the monthly amount, and at most
  ``max_change`` times the channel's step unit (today's average monthly spend) from
  one period to the next; fixed channels keep today's schedule;
- **hires**, per free role: a request month for each new FTE on top of today's
  day-one team, which is kept (no one is fired), at most ``max_hires_month``
  requests a month, at most ``max_fte`` seats in all; fixed roles keep today's hires.
  Requests whose seat would start after the horizon are not made (they cost and do
  nothing);
- **money**: spend plus the salaries of every seat from its start to the horizon at
  most ``total``, the budget (by default what today's plan costs).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from sim.decide.search_space import OptimizeError
from sim.decide.split import current_split, defined_roles, spendable_channels
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR

__all__ = ["PlanSpace", "TimePlan", "plan_space", "today_plan"]

ROLE_LABELS = {"sdr": "SDR", "ae": "AE", "customer_success": "CSM"}


@dataclass(frozen=True)
class TimePlan:
    """Monthly spend per channel in each period, and the request month of each new FTE per role.

    Attributes:
        period_months: months per period (the spend is constant within one).
        spend: ``(channel, (monthly spend in period 0, period 1, ...))``, sorted by channel.
        hires: ``(role, (request month of each new FTE, ...))``, sorted, months from 0.
    """

    period_months: int
    spend: tuple[tuple[str, tuple[float, ...]], ...]
    hires: tuple[tuple[str, tuple[int, ...]], ...]

    @staticmethod
    def of(period_months: int, spend: dict, hires: dict) -> TimePlan:
        """The plan with this spend (rounded to cents, so equal plans are equal) and these hires."""
        return TimePlan(int(period_months),
                        tuple(sorted((c, tuple(round(float(x), 2) for x in s)) for c, s in spend.items())),
                        tuple(sorted((r, tuple(sorted(int(m) for m in h))) for r, h in hires.items())))

    def spend_of(self, channel: str) -> tuple[float, ...]:
        """A channel's monthly spend in each period."""
        return dict(self.spend)[channel]

    def hires_of(self, role: str) -> tuple[int, ...]:
        """A role's request months, one per new FTE."""
        return dict(self.hires).get(role, ())

    def monthly_spend(self, channel: str, horizon_months: int) -> list[float]:
        """A channel's spend in each month of the horizon."""
        levels = self.spend_of(channel)
        return [levels[min(m // self.period_months, len(levels) - 1)] for m in range(horizon_months)]


@dataclass
class PlanSpace:
    """What a plan over time may change, and within which limits (see the module docstring).

    Attributes:
        horizon_months, period_months: the horizon and the length of a period.
        total: the most the plan may cost over the horizon (spend and salaries).
        free_channels: channels whose spend per period is decided.
        fixed_spend: per fixed channel, today's monthly schedule.
        unit: per free channel, the step of spend the search moves by (today's average monthly spend).
        spend_bounds: per free channel, the least and most monthly spend.
        max_change: the most a free channel's monthly spend moves from one period to the
            next, in units of ``unit`` (None: no limit).
        start_fte: per role, today's day-one team (kept).
        free_roles: roles whose hire months are decided.
        fixed_hires: per fixed role, today's request months.
        max_hires_month: the most requests per role in one month.
        max_fte: per free role, the most seats once every hire has started.
        lead_days, cost_per_fte_year: per role with a cost.
        ramp_months: per role, its ramp.
    """

    horizon_months: int
    period_months: int
    total: float
    free_channels: list[str]
    fixed_spend: dict[str, tuple[float, ...]]
    unit: dict[str, float]
    spend_bounds: dict[str, tuple[float, float]]
    max_change: float | None
    start_fte: dict[str, int]
    free_roles: list[str]
    fixed_hires: dict[str, tuple[int, ...]]
    max_hires_month: int
    max_fte: dict[str, int]
    lead_days: dict[str, float]
    cost_per_fte_year: dict[str, float]
    ramp_months: dict[str, float] = field(default_factory=dict)

    @property
    def periods(self) -> int:
        """How many periods the horizon has (the last may be shorter)."""
        return math.ceil(self.horizon_months / self.period_months)

    def start_month(self, role: str, request: int) -> float:
        """The month (fractional, from 0) a seat requested at the start of ``request`` starts."""
        return request + self.lead_days[role] / DAYS_PER_MONTH

    def hire_months(self, role: str) -> list[int]:
        """The request months whose seat starts within the horizon."""
        return [m for m in range(self.horizon_months) if self.start_month(role, m) < self.horizon_months]

    def months_of_period(self, k: int) -> int:
        """Months in period ``k``."""
        return min(self.period_months, self.horizon_months - k * self.period_months)

    def spend_total(self, plan: TimePlan) -> float:
        """Channel spend over the horizon, fixed channels included."""
        free = sum(level * self.months_of_period(k) for c in self.free_channels
                   for k, level in enumerate(plan.spend_of(c)))
        return free + sum(sum(s) for s in self.fixed_spend.values())

    def salaries(self, plan: TimePlan) -> float:
        """Salaries over the horizon: today's team from day one, each hire from its start (as the budget counts)."""
        horizon_days = self.horizon_months * DAYS_PER_MONTH
        out = 0.0
        for r, cost in self.cost_per_fte_year.items():
            days = self.start_fte.get(r, 0) * horizon_days
            for m in plan.hires_of(r):
                days += max(horizon_days - (m * DAYS_PER_MONTH + self.lead_days[r]), 0.0)
            out += cost * days / DAYS_PER_YEAR
        return out

    def cost(self, plan: TimePlan) -> float:
        """What the plan costs over the horizon: spend plus salaries."""
        return self.spend_total(plan) + self.salaries(plan)

    def feasible(self, plan: TimePlan) -> bool:
        """Whether ``plan`` keeps every limit (the cash constraint is checked elsewhere)."""
        if self.cost(plan) > self.total * (1 + 1e-9):
            return False
        for c in self.free_channels:
            lo, hi = self.spend_bounds[c]
            levels = plan.spend_of(c)
            if any(not lo - 1e-6 <= x <= hi + 1e-6 for x in levels):
                return False
            if self.max_change is not None:
                step = self.max_change * self.unit[c]
                if any(abs(b - a) > step + 1e-6 for a, b in zip(levels, levels[1:], strict=False)):
                    return False
        for r in self.free_roles:
            months = plan.hires_of(r)
            if len(months) + self.start_fte.get(r, 0) > self.max_fte[r]:
                return False
            if months and max(Counter(months).values()) > self.max_hires_month:
                return False
            if any(self.start_month(r, m) >= self.horizon_months or m < 0 for m in months):
                return False
        return True

    def scenario(self, scenario, plan: TimePlan, accounted: bool = True):
        """``scenario`` running ``plan``: its spend per month and hires written in, accounted against ``total``.

        With ``accounted=False``, without a budget block (so not refused if it costs more).
        """
        H = self.horizon_months
        changes = {f"channels.{c}.spend": plan.monthly_spend(c, H) for c in self.free_channels}
        changes.update({f"channels.{c}.spend": list(s) for c, s in self.fixed_spend.items()})
        for r in self.cost_per_fte_year:
            months = plan.hires_of(r) if r in self.free_roles else self.fixed_hires.get(r, ())
            changes[f"roles.{r}.fte"] = self.start_fte.get(r, 0)
            changes[f"roles.{r}.hires"] = [{"month": m, "fte": n} for m, n in sorted(Counter(months).items())]
        changes["budget"] = {"total": self.total} if accounted else None
        return scenario.replace(changes)

    def largest(self, scenario):
        """A scenario at least as big as any plan of the space, for the size check (it may break the budget).

        Every free channel spends its upper bound in every period, and every free role
        requests its hires up to ``max_fte`` in month 0.
        """
        top = {c: [self.spend_bounds[c][1]] * self.periods for c in self.free_channels}
        plan = TimePlan.of(self.period_months, top,
                           {r: [0] * (self.max_fte[r] - self.start_fte.get(r, 0)) for r in self.free_roles})
        return self.scenario(scenario, plan, accounted=False)

    def settings(self, plan: TimePlan) -> dict[str, float]:
        """The plan as named numbers: ``spend.<channel>.p<k>`` (monthly), ``hires.<role>`` and ``first_hire.<role>``."""
        out = {}
        for c in self.free_channels:
            out.update({f"spend.{c}.p{k}": x for k, x in enumerate(plan.spend_of(c))})
        for r in self.free_roles:
            months = plan.hires_of(r)
            out[f"hires.{r}"] = float(len(months))
            out[f"first_hire.{r}"] = float(months[0]) if months else math.nan
        return out

    def label(self, plan: TimePlan) -> str:
        """A short label: the hires per role with their months, and the spend per period in thousands."""
        parts = []
        for r in self.free_roles:
            months = plan.hires_of(r)
            name = ROLE_LABELS.get(r, r)
            parts.append(f"{name} +{len(months)}" + (f" (m{','.join(map(str, months))})" if months else ""))
        for c in self.free_channels:
            levels = plan.spend_of(c)
            shown = "/".join(_short(x) for x in levels) if len(set(levels)) > 1 else _short(levels[0])
            parts.append(f"{c} {shown}")
        return ", ".join(parts)

    def calendar(self, plan: TimePlan, currency: str = "") -> list[str]:
        """The plan in words: who is requested when (and starts when), and each change of monthly spend."""
        lines = []
        money = f" {currency}" if currency else ""
        for r in self.free_roles:
            name = ROLE_LABELS.get(r, r)
            months = Counter(plan.hires_of(r))
            if not months:
                lines.append(f"{name}: no hire (keep {self.start_fte.get(r, 0)})")
            for m, n in sorted(months.items()):
                start = self.start_month(r, m)
                ramped = start + self.ramp_months.get(r, 0.0)
                tail = f", fully ramped month {math.ceil(ramped)}" if self.ramp_months.get(r, 0.0) > 0 else ""
                lines.append(f"hire {n} {name}{'s' if n > 1 else ''} requested in month {m} (starts month "
                             f"{math.floor(start)}{tail})")
        for c in self.free_channels:
            levels = plan.spend_of(c)
            text = f"{c}: {levels[0]:,.0f}{money} a month"
            for k in range(1, len(levels)):
                if abs(levels[k] - levels[k - 1]) > 0.005:
                    text += f"; {levels[k - 1]:,.0f} -> {levels[k]:,.0f} in month {k * self.period_months}"
            lines.append(text)
        return lines


def _short(x: float) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2g}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.0f}"


def today_plan(scenario, space: PlanSpace) -> TimePlan:
    """Today's plan on the period grid: each period's average monthly spend, today's hires (one month per FTE)."""
    plan = scenario.plan
    spend = {}
    for c in space.free_channels:
        monthly = plan.monthly_spend(c)
        spend[c] = [float(monthly[k * space.period_months:(k + 1) * space.period_months].mean())
                    for k in range(space.periods)]
    hires = {r: [m for m, n in plan.roles[r].hires for _ in range(n)] for r in space.free_roles}
    return TimePlan.of(space.period_months, spend, hires)


def plan_space(scenario, *, budget: float | None = None, period_months: int = 3, fixed=(), spend_bounds=None,
               max_change: float | None = None, max_hires_month: int = 2, max_fte=None) -> PlanSpace:
    """The :class:`PlanSpace` of ``scenario`` from the options (checked, every problem at once).

    Args:
        scenario: a validated scenario; today's plan gives the budget, the day-one team,
            the fixed parts and the step unit of each channel.
        budget: the most a plan may cost over the horizon (default: what today's plan costs).
        period_months: months per spend period (1 for monthly, 3 for quarters, ...).
        fixed: channels that keep today's spend schedule and roles that keep today's hires.
        spend_bounds: per channel, ``(low, high)`` monthly spend (default from 0 to three
            times today's average, or to the budget's monthly share if today's is 0).
        max_change: the most a channel's monthly spend may move between two periods, as a
            share of today's average monthly spend (default: no limit).
        max_hires_month: the most hires requested per role in one month.
        max_fte: per role, the most seats once every hire has started (default: today's
            day-one team plus ``max_hires_month`` a period).

    Raises:
        OptimizeError: naming each option at fault.
    """
    problems = []
    H = scenario.horizon_months
    if isinstance(period_months, bool) or not isinstance(period_months, int) or not 1 <= period_months <= H:
        problems.append(("period_months", f"expected a whole number of months from 1 to the horizon ({H}), "
                                          f"got {period_months!r}"))
    if isinstance(max_hires_month, bool) or not isinstance(max_hires_month, int) or max_hires_month < 0:
        problems.append(("max_hires_month", f"expected a whole number of at least 0, got {max_hires_month!r}"))
    if max_change is not None and (isinstance(max_change, bool) or not isinstance(max_change, (int, float))
                                   or not 0 < max_change < math.inf):
        problems.append(("max_change", f"expected a positive share of today's monthly spend (e.g. 0.5), "
                                       f"got {max_change!r}"))
    roles = {r: role for r, role in defined_roles(scenario).items() if role.cost_per_fte_year > 0}
    channels = spendable_channels(scenario)
    for name in fixed:
        if name not in roles and name not in channels:
            problems.append(("fixed", f"{name!r} is neither a role with a cost nor a spendable channel (roles: "
                                      f"{', '.join(roles) or 'none'}; channels: {', '.join(channels) or 'none'})"))
    spend_bounds, max_fte = dict(spend_bounds or {}), dict(max_fte or {})
    for c, pair in spend_bounds.items():
        if c not in channels:
            problems.append(("spend_bounds", f"no spendable channel {c!r} (have: {', '.join(channels) or 'none'})"))
            continue
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
        if not (ok and 0 <= pair[0] <= pair[1] < math.inf):
            problems.append(("spend_bounds", f"{c}: expected (low, high) monthly spend with 0 <= low <= high, "
                                             f"got {pair!r}"))
    for r, n in max_fte.items():
        if r not in roles:
            problems.append(("max_fte", f"no role {r!r} with a cost_per_fte_year (have: {', '.join(roles) or 'none'})"))
        elif isinstance(n, bool) or not isinstance(n, int) or n < 0:
            problems.append(("max_fte", f"{r}: expected a whole number of FTE, got {n!r}"))
    total = current_split(scenario).total if budget is None else budget
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not (math.isfinite(total) and total > 0):
        problems.append(("budget", f"expected a positive amount, got {total!r}"))
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    plan = scenario.plan
    free_channels = [c for c in channels if c not in fixed]
    periods = math.ceil(H / period_months)
    unit, bounds = {}, {}
    for c in free_channels:
        average = float(plan.monthly_spend(c).mean())
        share = float(total) / H / max(len(free_channels), 1)
        unit[c] = average if average > 0 else share
        bounds[c] = tuple(float(x) for x in spend_bounds.get(c, (0.0, 3 * unit[c])))
    start = {r: plan.roles[r].fte for r in roles}
    free_roles = [r for r in roles if r not in fixed]
    fixed_hires = {r: tuple(m for m, n in plan.roles[r].hires for _ in range(n)) for r in roles if r in fixed}
    space = PlanSpace(
        horizon_months=H, period_months=period_months, total=float(total), free_channels=free_channels,
        fixed_spend={c: tuple(float(x) for x in plan.monthly_spend(c)) for c in channels if c in fixed},
        unit=unit, spend_bounds=bounds, max_change=max_change, start_fte=start, free_roles=free_roles,
        fixed_hires=fixed_hires, max_hires_month=max_hires_month,
        max_fte={r: max_fte.get(r, start[r] + max_hires_month * periods) for r in free_roles},
        lead_days={r: roles[r].hiring_lead_days for r in roles},
        cost_per_fte_year={r: roles[r].cost_per_fte_year for r in roles},
        ramp_months={r: roles[r].ramp_months for r in roles})
    today = today_plan(scenario, space)
    for c in free_channels:
        if c not in spend_bounds:  # the default bounds hold today's spend (bounds given are kept as given)
            lo, hi = space.spend_bounds[c]
            space.spend_bounds[c] = (min(lo, *today.spend_of(c)), max(hi, *today.spend_of(c)))
    return space
