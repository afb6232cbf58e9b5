"""Checks that need more than one field of a scenario: schedules, references, the budget.

They read the raw mapping, defensively, so that they run (and report) even when some
field is wrong on its own, next to pydantic's problems; a value of the wrong type is
left to the schema. :class:`sim.scenario.Scenario` runs them on every construction,
so a scenario built in code or edited with ``replace`` is held to them too.
"""

from __future__ import annotations

import math

__all__ = ["cross_field_problems"]

ROLES = ("sdr", "ae", "customer_success")


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def _horizon(data: dict) -> int | None:
    h = data.get("horizon_months")
    return h if isinstance(h, int) and not isinstance(h, bool) and h >= 1 else None


def _spends(channel: dict) -> bool:
    spend = channel.get("spend")
    values = spend if isinstance(spend, list) else [spend]
    return any((_number(x) or 0) > 0 for x in values)


def cross_field_problems(data: dict) -> list[tuple[str, str]]:
    """Every problem that involves more than one field, as ``(field, message)``."""
    out = []
    H = _horizon(data)
    channels = _mapping(data.get("channels"))
    roles = _mapping(data.get("roles"))
    if "outbound" in channels:
        out.append(("channels.outbound", "the name 'outbound' is reserved for the leads reps prospect themselves"))
    for name, ch in channels.items():
        ch = _mapping(ch)
        spend = ch.get("spend")
        if H is not None and isinstance(spend, list) and len(spend) > H:
            out.append((f"channels.{name}.spend", f"schedule has {len(spend)} months, longer than horizon_months={H}"))
        if ch.get("response") is None and _spends(ch):
            out.append((f"channels.{name}.response", "spend is given but no response curve says what it buys"))
    for role_name, role in roles.items():
        hires = _mapping(role).get("hires")
        for i, hire in enumerate(hires if isinstance(hires, list) else []):
            month = _number(_mapping(hire).get("month"))
            if H is not None and month is not None and month >= H:
                out.append((f"roles.{role_name}.hires[{i}].month",
                            f"{month} is not inside the horizon (0 to {H - 1})"))
    ae = _mapping(roles.get("ae"))
    busy = (_number(ae.get("prospecting_share")) or 0) + (_number(ae.get("account_care_share")) or 0)
    if busy >= 1:
        out.append(("roles.ae", "prospecting_share + account_care_share must be below 1"))
    budget = data.get("budget")
    if isinstance(budget, dict):
        out += _budget_problems(budget, channels, roles)
    return out


def _budget_problems(budget: dict, channels: dict, roles: dict) -> list[tuple[str, str]]:
    """A split must set the spend of every channel that spends and the headcount of every paid role."""
    out = []
    channel_mix = _mapping(budget.get("channel_mix"))
    role_mix = _mapping(budget.get("role_mix"))
    if budget.get("marketing_share") is None:
        # Without a split the budget accounts for the plan as written (sim.scenario.plan).
        for key, mix in (("channel_mix", channel_mix), ("role_mix", role_mix)):
            if mix:
                out.append((f"budget.{key}", "needs budget.marketing_share: a mix splits the budget; without "
                                             "marketing_share the budget accounts for the spend and team as written"))
        return out
    total = _number(budget.get("total")) or 0
    share = _number(budget.get("marketing_share"))
    for ch in channel_mix:
        if ch not in channels:
            out.append((f"budget.channel_mix.{ch}", f"no such channel (defined: {', '.join(channels) or 'none'})"))
        elif (_number(channel_mix[ch]) or 0) > 0 and _mapping(channels[ch]).get("response") is None:
            out.append((f"budget.channel_mix.{ch}", "channel has no response curve to spend on"))
    # A name the mix gets wrong is reported above; the channel it meant is not reported again.
    for name, ch in channels.items() if set(channel_mix) <= set(channels) else ():
        if name not in channel_mix and _spends(_mapping(ch)):
            out.append((f"channels.{name}.spend", f"the budget's split sets every channel's spend, and "
                                                  f"budget.channel_mix gives {name} no weight (add one, 0 for none, "
                                                  "or remove this spend)"))
    defined = ["ae", *(r for r in ("sdr", "customer_success") if roles.get(r) is not None)]
    for r in role_mix:
        if r not in defined:
            out.append((f"budget.role_mix.{r}", f"no such role (defined: {', '.join(defined)})"))
        elif (_number(role_mix[r]) or 0) > 0 and not _number(_mapping(roles.get(r)).get("cost_per_fte_year")):
            out.append((f"roles.{r}.cost_per_fte_year", f"must be above 0 for the budget to buy {r} headcount"))
    for r in defined if set(role_mix) <= set(defined) else ():
        role = _mapping(roles.get(r))
        paid = (_number(role.get("cost_per_fte_year")) or 0) > 0
        staffed = (_number(role.get("fte")) or 0) > 0 or bool(role.get("hires"))
        if r not in role_mix and paid and staffed:
            out.append((f"roles.{r}.fte", f"the budget's split sets every paid role's headcount, and "
                                          f"budget.role_mix gives {r} no weight (add one, 0 for none, or set its "
                                          "fte to 0 and drop its hires)"))
    weights = lambda mix: sum(_number(w) or 0 for w in mix.values())  # noqa: E731
    if share is not None and share > 0 and total > 0 and weights(channel_mix) <= 0:
        out.append(("budget.channel_mix", "needs a positive weight for some channel when marketing_share > 0"))
    if share is not None and share < 1 and total > 0 and weights(role_mix) <= 0:
        out.append(("budget.role_mix", "needs a positive weight for some role when marketing_share < 1"))
    return out
