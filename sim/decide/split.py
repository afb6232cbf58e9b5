"""Budget splits: today's split of a scenario, and alternatives to it.

A :class:`Split` is a budget ``total`` for the horizon, the ``marketing_share`` of it,
and how each side is spread: ``channel_mix`` over the channels' spend and
``role_mix`` over the roles' salaries (relative weights). :func:`with_split` writes
one into a scenario's ``budget`` block; the scenario turns it into its plan (monthly
spend and whole-FTE headcount, :mod:`sim.scenario.plan`) when it is validated.

A scenario without a ``budget`` block still has a split: :func:`current_split`
derives it from what the scenario plans to spend (its channel spend over the
horizon, and its planned team, starting FTE plus planned hires, at cost for the
whole horizon), so "today" can be compared with alternatives on the same footing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sim.errors import FunnelError
from sim.scenario import Scenario, ScenarioError
from sim.scenario.plan import ROLE_NAMES

__all__ = ["SETTINGS_HELP", "Split", "SplitError", "current_split", "defined_roles", "spendable_channels",
           "split_alternatives", "team_of", "todays_team", "vary", "with_split"]

SETTINGS_HELP = "marketing_share, role_share.<role> or channel_share.<channel>"


class SplitError(FunnelError):
    """A split that cannot be made; names the setting (``marketing_share``, ``role_share.sdr``, ...) or ``split``."""


@dataclass(frozen=True)
class Split:
    """A budget for the horizon and how it is split.

    Attributes:
        total: the budget for the whole horizon, in the scenario's currency.
        marketing_share: the share of ``total`` for channel spend; the rest pays salaries.
        channel_mix: relative weights of the channels' spend (they need not sum to 1).
        role_mix: relative weights of the roles' salaries.
    """

    total: float
    marketing_share: float
    channel_mix: dict[str, float] = field(default_factory=dict)
    role_mix: dict[str, float] = field(default_factory=dict)

    def shares(self) -> dict[str, float]:
        """The split as named settings: ``marketing_share``, ``channel_share.<c>``, ``role_share.<r>``."""
        out = {"marketing_share": self.marketing_share}
        cw, rw = sum(self.channel_mix.values()), sum(self.role_mix.values())
        out.update({f"channel_share.{c}": (w / cw if cw > 0 else 0.0) for c, w in self.channel_mix.items()})
        out.update({f"role_share.{r}": (w / rw if rw > 0 else 0.0) for r, w in self.role_mix.items()})
        return out


def defined_roles(scenario: Scenario) -> dict:
    """The scenario's roles that exist, by name."""
    return {name: role for name in ROLE_NAMES if (role := getattr(scenario.roles, name)) is not None}


def spendable_channels(scenario: Scenario) -> list[str]:
    """Channels that spend can buy leads from (those with a response curve).

    Everything that moves spend between channels (today's split and the splits made
    from it, the optimiser, plans over time) asks this first. A channel whose leads are
    given (``leads``) is not one; with spend of its own (only a cost) it is refused
    here, since what those searches spend on channels would leave its spend out of
    their budget.

    Raises:
        SplitError: a channel with given leads that spends, one line naming it.
    """
    spending = [name for name, ch in scenario.channels.items()
                if ch.leads is not None and any(x > 0 for x in ch.spend)]
    if spending:
        name = spending[0]
        raise SplitError("split", f"channels.{name}: its leads are given (leads) and its spend is only a cost, "
                                  "which budget splits and the optimiser cannot move (they spend to buy leads); "
                                  "leave its spend out, or give it a response curve instead of leads")
    return [name for name, ch in scenario.channels.items() if ch.response is not None]


def current_split(scenario: Scenario) -> Split:
    """Today's split: the scenario's budget split, or the one its plan implies.

    Without a split the total is the channel spend over the horizon plus, per role
    with a cost, ``cost_per_fte_year`` times the planned FTE (``fte`` plus every planned
    hire) for the whole horizon. The mixes are each channel's share of the spend and
    each role's share of the salaries. In budget mode the planned team starts on day
    one, so today's split buys the team the plan ends with.
    """
    b = scenario.budget
    if b is not None and b.marketing_share is not None:
        return Split(b.total, b.marketing_share, dict(b.channel_mix), dict(b.role_mix))
    years = scenario.horizon_months / 12
    plan = scenario.plan
    channel_mix = {name: float(plan.monthly_spend(name).sum()) for name in spendable_channels(scenario)}
    role_mix = {name: role.cost_per_fte_year * years * plan.roles[name].planned_fte
                for name, role in defined_roles(scenario).items() if role.cost_per_fte_year > 0}
    marketing, sales = sum(channel_mix.values()), sum(role_mix.values())
    total = marketing + sales
    if total <= 0:
        raise SplitError("split", "the scenario spends nothing on channels or salaries, so it has no split to vary "
                                  "(add a budget block, channel spend or a role's cost_per_fte_year)")
    return Split(total, marketing / total, channel_mix, role_mix)


def team_of(scenario: Scenario) -> dict[str, int]:
    """Whole FTE per role with a cost in the scenario's plan: what its budget pays for, or its planned team."""
    plan = scenario.plan
    if plan.budget is not None:
        return dict(plan.budget.fte)
    return {name: plan.roles[name].planned_fte for name, role in defined_roles(scenario).items()
            if role.cost_per_fte_year > 0}


def todays_team(scenario: Scenario) -> dict[str, int]:
    """Whole FTE per role with a cost that today's split buys (:func:`current_split` in budget mode)."""
    return dict(with_split(scenario, current_split(scenario)).plan.budget.fte)


def with_split(scenario: Scenario, split: Split) -> Scenario:
    """``scenario`` with ``split`` as its budget block, validated as a scenario file would be.

    Raises:
        SplitError: naming what the scenario cannot take (an unknown channel or role, ...).
    """
    budget = {"total": float(split.total), "marketing_share": float(split.marketing_share),
              "channel_mix": {c: float(w) for c, w in split.channel_mix.items()},
              "role_mix": {r: float(w) for r, w in split.role_mix.items()}}
    try:
        return scenario.replace(budget=budget)
    except ScenarioError as exc:
        problems = [("split", f"{field}: {message}") for field, message in exc.problems]
        raise SplitError(*problems[0], problems=problems) from None


def vary(split: Split, setting: str, value: float) -> Split:
    """``split`` with one named setting (see :data:`SETTINGS_HELP`) set to ``value``.

    A channel's or role's share takes that part of its side of the budget; the other
    channels or roles share the rest in their current proportions.

    Raises:
        SplitError: naming ``setting``, for a value outside 0 to 1 or a setting the split has not.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise SplitError(setting, f"expected a share between 0 and 1, got {value!r}")
    if setting == "marketing_share":
        return Split(split.total, float(value), split.channel_mix, split.role_mix)
    kind, _, name = setting.partition(".")
    if kind not in ("channel_share", "role_share") or not name:
        raise SplitError(setting, f"unknown split setting; expected {SETTINGS_HELP}")
    mix = dict(split.channel_mix if kind == "channel_share" else split.role_mix)
    side = "channel" if kind == "channel_share" else "role"
    if name not in mix:
        raise SplitError(setting, f"no {side} {name!r} in the split (has: {', '.join(mix) or 'none'})")
    rest = {k: w for k, w in mix.items() if k != name}
    rest_weight = sum(rest.values())
    if value < 1 and rest and rest_weight <= 0:
        rest = dict.fromkeys(rest, 1.0)  # the others had nothing: they share the rest equally
        rest_weight = float(len(rest))
    if value < 1 and not rest:
        raise SplitError(setting, f"{name!r} is the only {side}, so its share is 1")
    new = {k: (1 - value) * w / rest_weight for k, w in rest.items()}
    new[name] = float(value)
    new = {k: new[k] for k in mix}  # keep the order the scenario gave
    if kind == "channel_share":
        return Split(split.total, split.marketing_share, new, split.role_mix)
    return Split(split.total, split.marketing_share, split.channel_mix, new)


def split_alternatives(base: Split, grid: dict[str, list[float]]) -> list[tuple[dict[str, float], Split]]:
    """Every combination of the settings' values applied to ``base``: ``[(settings, split), ...]``.

    The first setting varies slowest. Role or channel shares are applied after the
    marketing share, in the order given.

    Raises:
        SplitError: for every setting with a value that cannot be used, at once.
    """
    names = list(grid)
    problems = []
    for name in names:
        for value in grid[name]:
            try:
                vary(base, name, value)
            except SplitError as exc:
                problems += [p for p in exc.problems if p not in problems]
    if problems:
        raise SplitError(*problems[0], problems=problems)
    out = []
    for values in itertools.product(*(grid[n] for n in names)):
        split = base
        for name, value in zip(names, values, strict=True):
            split = vary(split, name, value)
        out.append((dict(zip(names, values, strict=True)), split))
    return out
