"""Costs by category and month, and the budget's accounting (``docs/model.md``, 7).

The plan's channel spend and the salaries of the seats while filled are the costs the
plan decides; lead costs, the nurture program, commissions and SDR bonuses follow from
what happens. With a budget, :func:`budget_measures` says where every unit of it went:
``cost.marketing_spend + salaries paid + budget_vacancies + budget_unspent ==
budget_total``, where ``budget_vacancies`` is the salaries the budget set aside for
seats that stood empty (a leaver not yet replaced).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.months import month_counts
from sim.model.record import Record
from sim.model.team import fte_by_month
from sim.scenario.plan import MONEY_ROUND_OFF

__all__ = ["Costs", "budget_measures", "cost_measures", "costs", "npv"]


@dataclass
class Costs:
    """Monthly costs by category.

    Attributes:
        spend: channel spend, as planned.
        lead_costs: ``cost_per_lead`` of the leads that arrived.
        nurture: the nurture program, per lead and month in nurture.
        salaries: per role, the salaries of the filled seats.
        commissions: AEs' commission on bookings.
        sdr_bonuses: SDRs' bonus per SQL.
    """

    spend: np.ndarray
    lead_costs: np.ndarray
    nurture: np.ndarray
    salaries: dict[str, np.ndarray]
    commissions: np.ndarray
    sdr_bonuses: np.ndarray

    def monthly_lines(self) -> dict[str, np.ndarray]:
        """The monthly P&L lines the monthly series carry: salaries (every role), commissions, other costs.

        ``other_costs`` is lead costs, nurture and SDR bonuses; with ``spend`` these add up to the month's costs.
        """
        salaries = sum(self.salaries.values()) if self.salaries else np.zeros_like(self.spend)
        return {"salaries": np.asarray(salaries, dtype=float), "commissions": np.asarray(self.commissions, dtype=float),
                "other_costs": np.asarray(self.lead_costs + self.nurture + self.sdr_bonuses, dtype=float)}

    @property
    def marketing(self) -> np.ndarray:
        """What marketing costs: spend, lead costs and nurture."""
        return self.spend + self.lead_costs + self.nurture

    @property
    def acquisition_sales(self) -> np.ndarray:
        """What winning customers costs on the sales side: SDRs' and AEs' pay."""
        return self.salaries.get("sdr", 0) + self.salaries["ae"] + self.commissions + self.sdr_bonuses

    @property
    def total(self) -> np.ndarray:
        """Every cost, customer success included."""
        return self.marketing + self.acquisition_sales + self.salaries.get("customer_success", 0)


def costs(record: Record, bookings: np.ndarray, sql_time: np.ndarray) -> Costs:
    """The costs of a replication by month; ``bookings`` and ``sql_time`` are the months' bookings and the SQLs."""
    sc = record.scenario
    H = sc.horizon_months
    spend = np.zeros(H)
    lead_costs = np.zeros(H)
    for code, (name, ch) in enumerate(sc.channels.items()):
        spend += record.plan.monthly_spend(name)
        if ch.cost_per_lead:
            lead_costs += ch.cost_per_lead * record.lead_months[code]
    nurture = np.zeros(H)
    if sc.nurture is not None and sc.nurture.cost_per_lead_month > 0:
        c = record.counters
        months = record.nurture.copy().add(c.recycled_start, c.recycled_end).months()
        nurture = sc.nurture.cost_per_lead_month * months
    roles = sc.roles
    salaries = {name: fte_by_month(seats, H) * getattr(roles, name).cost_per_fte_year / 12.0
                for name, seats in record.seats.items()}
    commissions = roles.ae.commission_rate * bookings
    bonuses = (roles.sdr.bonus_per_sql if roles.sdr else 0.0) * month_counts(sql_time, H)
    return Costs(spend, lead_costs, nurture, salaries, commissions, bonuses)


def cost_measures(paid: Costs) -> dict[str, float]:
    """The ``cost.*`` measures: each category over the horizon, and the total."""
    m = {"cost.marketing_spend": float(paid.spend.sum()), "cost.lead_costs": float(paid.lead_costs.sum()),
         "cost.nurture": float(paid.nurture.sum())}
    m.update({f"cost.salaries_{name}": float(s.sum()) for name, s in paid.salaries.items()})
    m.update({"cost.commissions": float(paid.commissions.sum()), "cost.sdr_bonuses": float(paid.sdr_bonuses.sum()),
              "cost.total": float(paid.total.sum())})
    return m


def npv(scenario, monthly: np.ndarray) -> float:
    """The net present value of a monthly series, each month discounted from its end at ``discount_rate_year``."""
    discount = (1.0 + scenario.discount_rate_year) ** (-(np.arange(len(monthly)) + 1) / 12.0)
    return float((monthly * discount).sum())


def budget_measures(plan, paid: Costs) -> dict[str, float]:
    """The budget's accounting of ``plan`` (see the module docstring); empty without a budget."""
    account = plan.budget
    if account is None:
        return {}
    out = {f"budget_fte_{name}": float(n) for name, n in account.fte.items()}
    salaries_paid = sum(float(paid.salaries[name].sum()) for name in account.salaries)
    vacancies = account.sales - salaries_paid
    if vacancies <= MONEY_ROUND_OFF * max(account.total, 1.0):  # every seat filled: only round-off is left
        vacancies = 0.0
    out.update(budget_total=account.total, budget_marketing=account.marketing, budget_sales=account.sales,
               budget_unspent=account.unspent, budget_vacancies=vacancies)
    return out
