"""How the horizon changes a decision: the same plans judged at several horizons, with and without a terminal value.

A simulation stops counting at its horizon. A plan whose costs come first and whose
revenue comes later (a hire, content that ranks slowly) is undervalued by a short one,
and a plan that invests late looks better than it is. :func:`horizon_bias` shows by how
much, on the fast approximation (expected values, milliseconds a plan), so that an
objective with a terminal value (:class:`sim.decide.objectives.Objective`) can be
chosen knowingly.
"""

from __future__ import annotations

import pandas as pd

from sim.decide.objectives import Objective

__all__ = ["at_horizon", "horizon_bias"]


def horizon_bias(scenario, plans: dict[str, dict], *, horizons=(12, 24, 36), objectives=None,
                 approximate=None) -> pd.DataFrame:
    """How the horizon changes the value of plans: the approximate objective of each plan at each horizon.

    Args:
        scenario: a validated scenario; its ``horizon_months`` is replaced by each of ``horizons``.
        plans: label -> scenario changes (dotted paths, as :meth:`sim.Scenario.replace`
            takes them), applied after the horizon; an empty mapping is the scenario as it is.
        horizons: the horizons in months.
        objectives: label -> :class:`Objective` (default: contribution with and without a
            5x ARR terminal value and the open pipeline).
        approximate: ``scenario -> measures`` (default :func:`sim.model.approximate`).

    Returns:
        One row per horizon, plan and objective: ``horizon_months``, ``plan``,
        ``objective``, ``value`` (approximate, expected).

    Each plan is cut to a shorter horizon (its spend schedule and hires after it
    dropped) or carried on to a longer one (the last month's spend repeating).
    """
    if approximate is None:
        from sim.model import approximate
    objectives = objectives or {"contribution": Objective("contribution"),
                                "contribution + pipeline + 5x ARR": Objective("contribution", with_pipeline=True,
                                                                              terminal=5)}
    rows = []
    for label, changes in plans.items():
        planned = scenario.replace(changes) if changes else scenario
        for h in horizons:
            sc = at_horizon(planned, int(h))
            measures = pd.DataFrame([approximate(sc)])
            for name, objective in objectives.items():
                rows.append({"horizon_months": int(h), "plan": label, "objective": name,
                             "value": float(objective.values(measures, sc)[0])})
    return pd.DataFrame(rows)


def _kept(scenario, path: str, values: list) -> list:
    """A schedule's first months, each month that is uncertain kept so (``{draws: [...]}``), as the scenario had it."""
    uncertain = scenario.uncertain or {}
    return [{"draws": list(uncertain[f"{path}.{k}"])} if f"{path}.{k}" in uncertain else v
            for k, v in enumerate(values)]


def at_horizon(scenario, horizon_months: int):
    """``scenario`` over ``horizon_months``: schedules and hires past it dropped, the last month repeating after."""
    changes = {"horizon_months": horizon_months}
    for name, channel in scenario.channels.items():
        for field in ("spend", "leads"):
            values = getattr(channel, field)
            if isinstance(values, list) and len(values) > horizon_months:
                changes[f"channels.{name}.{field}"] = _kept(scenario, f"channels.{name}.{field}",
                                                            values[:horizon_months])
    for name in ("sdr", "ae", "customer_success"):
        role = getattr(scenario.roles, name)
        if role is not None and role.fte_by_month is not None and len(role.fte_by_month) > horizon_months:
            changes[f"roles.{name}.fte_by_month"] = list(role.fte_by_month[:horizon_months])
        if role is not None and any(h.month >= horizon_months for h in role.hires):
            changes[f"roles.{name}.hires"] = [{"month": h.month, "fte": h.fte} for h in role.hires
                                              if h.month < horizon_months]
    if scenario.budget is not None and scenario.budget.marketing_share is None:
        changes["budget"] = None  # the total was for the other horizon
    return scenario.replace(changes)
