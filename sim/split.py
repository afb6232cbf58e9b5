"""Budget splits (MODEL.md 6): today's split of a scenario, and alternatives to it.

A :class:`Split` is a budget ``total`` for the horizon, the ``marketing_share`` of it,
and how each side is spread: ``channel_mix`` over the channels' spend and
``role_mix`` over the roles' salaries (relative weights). :func:`with_split` writes
one into a scenario's ``budget`` block, and :func:`sim.budget.apply_budget` turns that
into monthly spend and whole-FTE headcount when the scenario is simulated.

A scenario without a ``budget`` block still has a split: :func:`current_split`
derives it from what the scenario plans to spend (its channel spend over the
horizon, and its planned team, starting FTE plus planned hires, at cost for the
whole horizon), so "today" can be compared with alternatives on the same footing.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from sim.config import Budget, Scenario
from sim.errors import SettingError
from sim.leads import spend_schedule

__all__ = ["DIMENSIONS_HELP", "Split", "SplitError", "current_split", "grid_values", "split_alternatives",
           "defined_roles", "split_for_headcount", "todays_team", "vary", "with_split"]

ROLE_NAMES = ("sdr", "ae", "customer_success")
DIMENSIONS_HELP = "marketing_share, role_share.<role> or channel_share.<channel>"


class SplitError(SettingError):
    """A split that cannot be made; ``setting`` names the option or field, ``message`` what was expected."""


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
    """Channels that spend can buy leads from (those with a response curve)."""
    return [name for name, ch in scenario.channels.items() if ch.response is not None]


def current_split(scenario: Scenario) -> Split:
    """Today's split: the scenario's ``budget`` block, or the one its plan implies.

    Without a budget block the total is the channel spend over the horizon plus, per
    role with a cost, ``cost_per_fte_year`` times the planned FTE (``fte`` plus every
    planned hire) for the whole horizon. The mixes are each channel's share of the
    spend and each role's share of the salaries. In budget mode the planned team
    starts on day one, so today's split buys the team the plan ends with.
    """
    if scenario.budget is not None:
        b = scenario.budget
        return Split(b.total, b.marketing_share, dict(b.channel_mix), dict(b.role_mix))
    years = scenario.horizon_months / 12
    channel_mix = {name: float(spend_schedule(scenario.channels[name], scenario.horizon_months).sum())
                   for name in spendable_channels(scenario)}
    role_mix = {name: role.cost_per_fte_year * years * (role.fte + sum(h.fte for h in role.hires))
                for name, role in defined_roles(scenario).items() if role.cost_per_fte_year > 0}
    marketing, sales = sum(channel_mix.values()), sum(role_mix.values())
    total = marketing + sales
    if total <= 0:
        raise SplitError("budget", "the scenario spends nothing on channels or salaries, so it has no split to vary "
                                   "(add a budget block, channel spend or a role's cost_per_fte_year)")
    return Split(total, marketing / total, channel_mix, role_mix)


def todays_team(scenario: Scenario) -> dict[str, int]:
    """Whole FTE per role with a cost that today's split buys (:func:`current_split` in budget mode)."""
    from sim.budget import apply_budget

    _, bought = apply_budget(with_split(scenario, current_split(scenario)))
    return {name: int(bought[key]) for name in defined_roles(scenario) if (key := f"budget_fte_{name}") in bought}


def with_split(scenario: Scenario, split: Split) -> Scenario:
    """``scenario`` with ``split`` as its budget block (validated as a scenario file would be)."""
    problems = []
    for c in split.channel_mix:
        if c not in spendable_channels(scenario):
            problems.append(f"channel {c!r} has no response curve to spend on" if c in scenario.channels
                            else f"no channel {c!r} (spendable: {', '.join(spendable_channels(scenario)) or 'none'})")
    roles = defined_roles(scenario)
    for r, w in split.role_mix.items():
        if r not in roles:
            problems.append(f"no role {r!r} (defined: {', '.join(roles)})")
        elif w > 0 and roles[r].cost_per_fte_year <= 0:
            problems.append(f"role {r!r} has no cost_per_fte_year for the budget to pay")
    if not (math.isfinite(split.total) and split.total >= 0):
        problems.append(f"budget total must be a non-negative number, got {split.total!r}")
    if not 0 <= split.marketing_share <= 1:
        problems.append(f"marketing share must be between 0 and 1, got {split.marketing_share!r}")
    if problems:
        raise SplitError("split", "; ".join(problems))
    budget = Budget(total=float(split.total), marketing_share=float(split.marketing_share),
                    channel_mix={c: float(w) for c, w in split.channel_mix.items()},
                    role_mix={r: float(w) for r, w in split.role_mix.items()})
    return scenario.model_copy(update={"budget": budget})


def split_for_headcount(scenario: Scenario, total: float, fte: dict[str, int],
                        channel_spend: dict[str, float]) -> Split:
    """The split that buys exactly ``fte`` whole FTE per role and ``channel_spend`` over the horizon.

    Its budget is what they cost: money they leave of ``total`` is not part of the
    split, since a budget block gives every sales dollar to headcount (it would buy
    more FTE). Raises :class:`SplitError` if they cost more than ``total``.
    """
    years = scenario.horizon_months / 12
    roles = defined_roles(scenario)
    salaries = {r: roles[r].cost_per_fte_year * years * n for r, n in fte.items()}
    sales, marketing = sum(salaries.values()), sum(channel_spend.values())
    if sales + marketing > total * (1 + 1e-9):  # more than round-off
        raise SplitError("budget", f"{sales:,.0f} of salaries for {fte} and {marketing:,.0f} of spend exceed the "
                                   f"budget of {total:,.0f}")
    spent = sales + marketing
    share = min(marketing / spent, 1.0) if spent > 0 else 0.0
    return Split(spent, share, dict(channel_spend), salaries)


def vary(split: Split, setting: str, value: float) -> Split:
    """``split`` with one named setting (see :data:`DIMENSIONS_HELP`) set to ``value``.

    A channel's or role's share takes that part of its side of the budget; the other
    channels or roles share the rest in their current proportions.
    """
    if not (isinstance(value, (int, float)) and 0 <= value <= 1):
        raise SplitError(_option(setting), f"expected a share between 0 and 1, got {value!r}")
    if setting == "marketing_share":
        return Split(split.total, float(value), split.channel_mix, split.role_mix)
    kind, _, name = setting.partition(".")
    if kind not in ("channel_share", "role_share") or not name:
        raise SplitError(_option(setting), f"unknown split setting; expected {DIMENSIONS_HELP}")
    mix = dict(split.channel_mix if kind == "channel_share" else split.role_mix)
    side = "channel" if kind == "channel_share" else "role"
    if name not in mix:
        raise SplitError(_option(setting), f"no {side} {name!r} in the split (has: {', '.join(mix) or 'none'})")
    rest = {k: w for k, w in mix.items() if k != name}
    rest_weight = sum(rest.values())
    if value < 1 and rest and rest_weight <= 0:
        rest = dict.fromkeys(rest, 1.0)  # the others had nothing: they share the rest equally
        rest_weight = float(len(rest))
    if value < 1 and not rest:
        raise SplitError(_option(setting), f"{name!r} is the only {side}, so its share is 1")
    new = {k: (1 - value) * w / rest_weight for k, w in rest.items()}
    new[name] = float(value)
    new = {k: new[k] for k in mix}  # keep the order the scenario gave
    if kind == "channel_share":
        return Split(split.total, split.marketing_share, new, split.role_mix)
    return Split(split.total, split.marketing_share, split.channel_mix, new)


def _option(setting: str) -> str:
    """The command-line option that sets ``setting`` (``role_share.sdr`` has two)."""
    if setting == "role_share.sdr":
        return "--sdr-share (or --role-share sdr)"
    kind, _, name = setting.partition(".")
    return f"--{kind.replace('_', '-')}" + (f" {name}" if name else "")


def grid_values(text: str, setting: str = "value") -> list[float]:
    """Values written as ``0.3,0.5,0.7`` or as a range ``start:stop:step`` (stop included).

    Raises :class:`SplitError` naming ``setting`` for anything else.
    """
    text = text.strip()
    try:
        parts = [float(p) for p in text.split(":" if ":" in text else ",")]
    except ValueError:
        parts = []
    if not parts or (":" in text and len(parts) != 3) or not all(map(math.isfinite, parts)):
        raise SplitError(setting, f"expected values such as 0.3,0.5,0.7 or a range such as 0:1:0.05, got {text!r}")
    if ":" in text:
        start, stop, step = parts
        if not step > 0 or stop < start:
            raise SplitError(setting, f"a range start:stop:step needs step > 0 and stop >= start, got {text!r}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        parts = [start + k * step for k in range(count)]
    values = list(dict.fromkeys(round(v, 12) for v in parts))  # a value given twice is one alternative
    bad = [v for v in values if not 0 <= v <= 1]
    if bad:
        raise SplitError(setting, f"shares must lie between 0 and 1, got {', '.join(f'{v:g}' for v in bad)}")
    return values


def split_alternatives(base: Split, grid: dict[str, list[float]]) -> list[tuple[dict[str, float], Split]]:
    """Every combination of the settings' values applied to ``base``: ``[(settings, split), ...]``.

    The first setting varies slowest. Role or channel shares are applied after the
    marketing share, in the order given.
    """
    names = list(grid)
    out = []
    for values in itertools.product(*(grid[n] for n in names)):
        split = base
        for name, value in zip(names, values, strict=True):
            split = vary(split, name, value)
        out.append((dict(zip(names, values, strict=True)), split))
    return out
