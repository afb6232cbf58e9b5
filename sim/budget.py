"""The budget split (MODEL.md 6): marketing share, channel mix and role mix to spend and FTE."""

from __future__ import annotations

import math

from sim.config import Scenario

__all__ = ["apply_budget"]


def apply_budget(scenario: Scenario) -> tuple[Scenario, dict[str, float]]:
    """Turn a scenario's ``budget`` into channel spend and whole-FTE headcount.

    The marketing part is spread over the channels by ``channel_mix`` as constant
    monthly spend. The sales part is spread over the roles by ``role_mix``; each role
    gets as many whole FTE as its part pays for over the horizon (starting at once,
    replacing the role's ``fte`` and planned ``hires``) and the rest is reported as
    unspent. Returns the scenario to simulate and the allocation; a scenario without a
    budget comes back unchanged with an empty allocation.
    """
    b = scenario.budget
    if b is None:
        return scenario, {}
    years = scenario.horizon_months / 12
    marketing = b.total * b.marketing_share
    sales = b.total - marketing
    channels = dict(scenario.channels)
    cw = sum(b.channel_mix.values())
    for name, w in b.channel_mix.items():
        monthly = marketing * w / cw / scenario.horizon_months if cw > 0 else 0.0
        channels[name] = channels[name].model_copy(update={"spend": [monthly]})
    spent_marketing = marketing if cw > 0 else 0.0
    roles = {}
    rw = sum(b.role_mix.values())
    spent_sales = 0.0
    allocation = {}
    for name, w in b.role_mix.items():
        role = getattr(scenario.roles, name)
        part = sales * w / rw if rw > 0 else 0.0
        per_fte = role.cost_per_fte_year * years
        fte = math.floor(part / per_fte + 1e-9) if per_fte > 0 else 0
        roles[name] = role.model_copy(update={"fte": fte, "hires": []})
        spent_sales += fte * per_fte
        allocation[f"budget_fte_{name}"] = float(fte)
    new = scenario.model_copy(
        update={"channels": channels, "roles": scenario.roles.model_copy(update=roles)}
    )
    allocation.update(
        budget_total=b.total,
        budget_marketing=spent_marketing,
        budget_sales=spent_sales,
        budget_unspent=b.total - spent_marketing - spent_sales,
    )
    return new, allocation
