"""A fast deterministic (fluid) approximation of one replication's expected measures (``docs/model.md``, 11).

:func:`approximate` returns, without random numbers or an event loop, approximations
of the Monte Carlo means of the measures :func:`sim.model.simulate` reports, under the
same names; :func:`approximate_monthly` the monthly series. Stage by stage:

1. **Leads** (:mod:`sim.model.fluid_leads`): the DES's Poisson means, exactly.
2. **Scoring and nurture**: per intent bin, the chance to be an MQL at once or at
   each touch, moved to its month.
3. **Qualification** (:mod:`sim.model.fluid_queue`): each month an M/M/n+D queue with
   the month's expected reps; leads that go cold come back through nurture (a fixed
   point over the months); the chance to qualify is ``p_qualify(intent)`` times the
   expected decay of the wait.
4. **AE slots and stages** (:mod:`sim.model.fluid_pipeline`): a fluid queue for the
   pooled slots; stage paths and durations as probabilities and convolutions.
5. **Money**: revenue, bookings, costs, contribution and NPV by the DES's formulas on
   the expected monthly flows; spend and the budget are the plan's, salaries the
   expected FTE-months (:mod:`sim.model.fluid_team`), exact without attrition.

Left out (no honest expectation here): the cold leads (``cold_events``,
``losses.cold_leads``: they come mostly from months when random vacancies leave the
team short, which the expected team does not show; the monthly ``cold_events`` column
is the mean-team figure, indicative only), medians and percentiles of response times,
the SLA share, queue lengths and slot utilisation, ratios of random counts (rates,
CAC, LTV, ROI, payback), per-channel wins, ``customers_churned``, the terminal-state
accounting, ``open_pipeline_count`` and the per-stage advance rates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.costs import Costs, budget_measures, cost_measures, npv
from sim.model.fluid_leads import INTENT, hand_over, lead_months, month_shift
from sim.model.fluid_pipeline import SUB, pipeline, subscription_kernels
from sim.model.fluid_queue import queue_months
from sim.model.fluid_team import team_curve
from sim.model.months import with_month_start
from sim.model.qualification import qualifier_role
from sim.model.response import wait_decay
from sim.model.size import check_size
from sim.scenario.messages import ScenarioError
from sim.scenario.plan import ROLE_NAMES
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR, HOURS_PER_DAY

__all__ = ["APPROXIMATED", "ERROR_NOTE", "approximate", "approximate_monthly", "approximate_with_monthly"]

ERROR_NOTE = ("measured against DES means on the shipped scenarios: revenue and contribution within 5%, wins "
              "within 13%, optimistic near capacity (docs/model.md, section 11)")
QUEUE_ITERATIONS = 3  # fixed-point passes, at most, for leads that go cold and come back
APPROXIMATED = ("leads", "mqls", "mqls_from_nurture", "contacted", "sqls", "opportunities", "wins",
                "losses.disqualified", "bookings", "revenue", "revenue_from_new_customers",
                "ending_mrr", "ending_arr", "ending_customers", "gross_margin", "contribution", "npv_contribution",
                "open_pipeline_expected_wins", "open_pipeline_weighted_value", "qualifier_utilisation")


def _teams(scenario):
    plan, roles = scenario.plan, scenario.roles
    ae = roles.ae
    cs = roles.customer_success
    horizon = scenario.horizon_days
    cs_team = plan.roles.get("customer_success")
    cs_carries = cs is not None and cs_team is not None and (
        cs_team.fte > 0 or any(n > 0 and m * DAYS_PER_MONTH + cs.hiring_lead_days < horizon for m, n in cs_team.hires)
        or (cs_team.fte_by_month is not None and cs_team.planned_fte > 0))
    care = 0.0 if cs_carries else ae.account_care_share
    teams = {}
    for name in ROLE_NAMES:
        if name in plan.roles:
            full = ae.max_open_opportunities * (1.0 - care) if name == "ae" else 0.0
            teams[name] = team_curve(getattr(roles, name), plan.roles[name], scenario.horizon_months, full)
    return teams, care


def _qualification(scenario, teams, care, fresh):
    """Cold leads, contacts and SQLs per month and intent bin, with returns from nurture."""
    H = scenario.horizon_months
    q = scenario.qualification
    who = qualifier_role(scenario)
    role = getattr(scenario.roles, who)
    team = teams[who]
    share = 1.0 - role.prospecting_share - (care if who == "ae" else 0.0)
    work = q.work_hours
    servers = team.fte_months
    speed = np.divide(team.speed, servers, out=np.zeros(H), where=servers > 0)
    mu = speed * role.hours_per_day * share / work.mean  # MQLs a rep works per day
    patience = q.max_wait_days if q.max_wait_days is not None else scenario.horizon_days
    decay = (lambda x: wait_decay(x * HOURS_PER_DAY, q.decay.half_life_hours, q.decay.shape)) if q.decay else (
        lambda x: np.ones_like(x))
    cv = float(np.sqrt(work.variance)) / work.mean if work.mean > 0 else 0.0
    nur = scenario.nurture
    recycles = nur.max_recycles if nur is not None else 0
    comes_back = (1.0 - nur.dropout) if nur is not None and nur.touch_interval_days <= nur.max_days else 0.0
    back_after = patience + (nur.touch_interval_days if nur is not None else 0.0)
    returns = [np.zeros_like(fresh) for _ in range(recycles)]
    for _ in range(QUEUE_ITERATIONS if recycles and comes_back > 0 else 1):
        flows = [fresh, *returns]
        total = sum(flows)
        lam = total.sum(axis=1) / DAYS_PER_MONTH
        higher = None
        if q.discipline == "score":
            mix = total / np.maximum(total.sum(axis=1, keepdims=True), 1e-300)
            above = np.cumsum(mix[:, ::-1], axis=1)[:, ::-1] - mix / 2  # share scored above each bin
            higher = above
        qm = queue_months(lam, servers, np.maximum(mu, 1e-12), patience, decay, q.discipline, cv, higher)
        p_cold = qm.p_cold if qm.p_cold.ndim == 2 else qm.p_cold[:, None]
        served = qm.served_decay if qm.served_decay.ndim == 2 else qm.served_decay[:, None]
        cold = [f * p_cold for f in flows]
        before = sum(r.sum() for r in returns)
        returns = [month_shift(cold[g] * comes_back, back_after) for g in range(recycles)]
        if abs(sum(r.sum() for r in returns) - before) <= 1e-4 * max(fresh.sum(), 1.0):
            break  # converged: the returns changed by less than 0.01% of the MQLs
    contacted = total * (1.0 - p_cold)
    sqls = total * served * q.p_qualify.at(INTENT)
    # A lead that would go cold after the horizon is still waiting then.
    at_horizon = max(0.0, 1.0 - patience / DAYS_PER_MONTH)
    cold_m = [c.sum(axis=1) for c in cold]
    for c in cold_m:
        c[-1] *= at_horizon
    recycled = sum(cold_m[:recycles]) if recycles else np.zeros(H)
    busy = np.divide(contacted.sum(axis=1), mu, out=np.zeros(H), where=mu > 0)
    seat_days = servers.sum() * DAYS_PER_MONTH
    month_days = servers * DAYS_PER_MONTH
    return {"contacted": contacted, "sqls": sqls, "cold_events": sum(cold_m),
            "recycled": recycled, "utilisation": busy.sum() / seat_days if seat_days > 0 else np.nan,
            "utilisation_m": np.divide(busy, month_days, out=np.full(H, np.nan), where=month_days > 0)}


def _hand_kept(scenario) -> float:
    """The share of would-be wins that survive their AE leaving (over a won deal's mean length)."""
    op, ae = scenario.opportunities, scenario.roles.ae
    cycle = sum(st.duration_days.mean for st in op.stages)
    leaves = 1.0 - np.exp(-ae.attrition_year / DAYS_PER_YEAR * cycle)
    return 1.0 - leaves * (op.handover_penalty if op.on_rep_leaving == "handover" else 1.0)


def unsupported(scenario) -> list[tuple[str, str]]:
    """What the fast approximation refuses, one line each: lead segments, stages by channel, the age effect.

    The approximation follows leads by channel and intent, not by segment, and an
    opportunity's stages as one set for every lead: these need the simulation.
    """
    out = []
    for name, ch in scenario.channels.items():
        if ch.segments:
            out.append((f"channels.{name}.segments", "the fast approximation does not follow lead segments; "
                                                     "use the simulation (funnel run)"))
    for i, st in enumerate(scenario.opportunities.stages):
        if st.by_channel:
            out.append((f"opportunities.stages[{i}].by_channel", "the fast approximation takes every channel "
                                                                 "through the same stages; use the simulation"))
    if scenario.opportunities.age_effect is not None:
        out.append(("opportunities.age_effect", "the fast approximation does not follow a lead's age at its "
                                                "opportunity's start; use the simulation"))
    who = qualifier_role(scenario)
    team = scenario.plan.roles.get(who)
    if team is not None:
        # Nobody at the start and hires to come (they start after the lead time), or a schedule with an empty month.
        months = list(team.fte_by_month[:scenario.horizon_months]) if team.fte_by_month is not None else \
            [team.fte] + [1] * bool(team.fte == 0 and team.hires)
        empty = [k for k, n in enumerate(months) if n == 0]
        if empty and any(n > 0 for n in months[empty[0]:]):
            field = "fte_by_month" if team.fte_by_month is not None else "fte"
            out.append((f"roles.{who}.{field}", f"no {who} qualifies MQLs in month {empty[0]} and one does later: the "
                                                "fast approximation takes each month's queue on its own, and does not "
                                                "carry the MQLs that wait for the first rep; use the simulation"))
    return out


def _expected(scenario):
    """Every approximated measure and the monthly series."""
    sc = scenario
    problems = unsupported(sc)
    if problems:
        raise ScenarioError("<scenario>", problems)
    H = sc.horizon_months
    teams, care = _teams(sc)
    outbound = np.zeros(H)
    for name in ("sdr", "ae"):
        role = getattr(sc.roles, name)
        if role is not None and name in teams and role.outbound_leads_per_month > 0:
            outbound += role.outbound_leads_per_month * teams[name].productivity
    names, leads = lead_months(sc, outbound)
    ho = hand_over(sc, names, leads)
    fresh = ho.at_once + ho.from_nurture
    qual = _qualification(sc, teams, care, fresh)

    sqls_step = np.repeat(qual["sqls"] / SUB, SUB, axis=0)
    slots = np.repeat(teams["ae"].slots, SUB)
    pipe = pipeline(sc, sqls_step, slots, INTENT, _hand_kept(sc))
    wins_m = pipe.wins.reshape(H, SUB).sum(axis=1)

    deal, cust = sc.opportunities.deal, sc.customers
    base_n, base_mrr = cust.installed_base, cust.installed_mrr.mean if cust.installed_base else 0.0
    kept = (1.0 - cust.churn_month) * (1.0 + cust.expansion_month)
    j = np.arange(H)
    base_rev = base_n * base_mrr * kept**j
    base_mrr_end = base_n * base_mrr * kept ** (j + 1)
    customers_end = base_n * (1.0 - cust.churn_month) ** (j + 1)
    value_steps = pipe.win_value.reshape(H, SUB)
    if deal.kind == "subscription":
        rev_k, mrr_k = subscription_kernels(cust, H)
        new_rev = sum(np.convolve(value_steps[:, q], rev_k[q])[:H] for q in range(SUB))
        new_mrr_end = sum(np.convolve(value_steps[:, q], mrr_k[q])[:H] for q in range(SUB))
        count_k = (1.0 - cust.churn_month) ** j
        customers_end = customers_end + np.convolve(wins_m, count_k)[:H]
        bookings = 12.0 * value_steps.sum(axis=1)
    else:
        new_rev = value_steps.sum(axis=1)
        new_mrr_end = np.zeros(H)
        bookings = new_rev
    revenue = base_rev + new_rev
    mrr_end = base_mrr_end + new_mrr_end

    plan, roles = sc.plan, sc.roles
    spend = sum((plan.monthly_spend(n) for n in sc.channels), np.zeros(H))
    lead_costs = sum((ch.cost_per_lead * leads[i] for i, ch in enumerate(sc.channels.values())), np.zeros(H))
    nurture = np.zeros(H)
    if sc.nurture is not None:
        back = min(sc.nurture.touch_interval_days, sc.nurture.max_days) / DAYS_PER_MONTH
        nurture = sc.nurture.cost_per_lead_month * (ho.nurture_lead_months + qual["recycled"] * back)
    salaries = {n: t.fte_months * getattr(roles, n).cost_per_fte_year / 12.0 for n, t in teams.items()}
    sqls_m = qual["sqls"].sum(axis=1)
    paid = Costs(spend, lead_costs, nurture, salaries, roles.ae.commission_rate * bookings,
                 (roles.sdr.bonus_per_sql if roles.sdr else 0.0) * sqls_m)
    costs_m = paid.total
    contribution_m = revenue * sc.gross_margin - costs_m
    contacted_m = qual["contacted"].sum(axis=1)

    m = {"leads": float(leads.sum())}
    m.update({f"leads.{n}": float(leads[i].sum()) for i, n in enumerate(names)})
    m.update({
        "mqls": float(fresh.sum()), "mqls_from_nurture": float(ho.from_nurture.sum()),
        "contacted": float(contacted_m.sum()), "sqls": float(sqls_m.sum()), "opportunities": float(pipe.starts.sum()),
        "wins": float(wins_m.sum()), "losses.disqualified": float((contacted_m - sqls_m).sum()),
        "qualifier_utilisation": float(qual["utilisation"]),
        "bookings": float(bookings.sum()), "revenue": float(revenue.sum()),
        "revenue_from_new_customers": float(new_rev.sum()), "ending_mrr": float(mrr_end[-1]),
        "ending_arr": 12.0 * float(mrr_end[-1]), "ending_customers": float(customers_end[-1]),
    })
    m.update(cost_measures(paid))
    m.update({"gross_margin": float((revenue * sc.gross_margin).sum()),
              "contribution": float(contribution_m.sum()), "npv_contribution": npv(sc, contribution_m),
              "open_pipeline_expected_wins": pipe.open_wins,
              "open_pipeline_weighted_value": pipe.open_value * (12.0 if deal.kind == "subscription" else 1.0)})
    for n, t in teams.items():
        m[f"fte_end.{n}"] = t.fte_end
        m[f"fte_months.{n}"] = float(t.fte_months.sum())
    m.update(budget_measures(plan, paid))
    monthly = pd.DataFrame({
        "month": j, "marketing_spend": spend, "leads": leads.sum(axis=0), "mqls": fresh.sum(axis=1),
        "sqls": sqls_m, "opportunities": pipe.starts.reshape(H, SUB).sum(axis=1), "wins": wins_m,
        "cold_events": qual["cold_events"], "bookings": bookings, "revenue": revenue, "mrr_end": mrr_end,
        "customers_end": customers_end, "costs": costs_m, "contribution": contribution_m, **paid.monthly_lines(),
        # Queue lengths and slot use have no honest expectation here (docs/model.md, 11): NaN, as the measures.
        "queue_mqls": np.full(H, np.nan), "queue_sqls": np.full(H, np.nan),
        "qualifier_utilisation": qual["utilisation_m"], "ae_slot_utilisation": np.full(H, np.nan),
        **{f"fte_{n}": t.fte_months for n, t in teams.items()},
    })
    return m, with_month_start(monthly, sc)


def approximate(scenario, limits=None) -> dict[str, float]:
    """Approximate expected measures of one replication of ``scenario``, with no random numbers.

    The names are those of :func:`sim.model.simulate`'s measures; only the measures the
    approximation can give honestly are there (see the module docstring and
    ``docs/model.md``, section 11, for the method and its measured error).

    Args:
        scenario: a validated scenario; its ``plan`` says what is bought and staffed.
        limits: as :func:`sim.model.simulate`'s: a scenario too big to simulate is refused
            here too (the approximation's queue grows with the team).

    Raises:
        sim.model.size.SizeError: the scenario is bigger than ``limits``.
    """
    check_size(scenario, limits)
    return _expected(scenario)[0]


def approximate_monthly(scenario, limits=None) -> pd.DataFrame:
    """The monthly series of :func:`approximate`: the DES's monthly columns, in expectation."""
    check_size(scenario, limits)
    return _expected(scenario)[1]


def approximate_with_monthly(scenario, limits=None, check: bool = True) -> tuple[dict[str, float], pd.DataFrame]:
    """:func:`approximate` and :func:`approximate_monthly` at once, for the cost of one.

    With ``check=False`` the size is not checked: for a caller that has checked a
    scenario at least as big (a search that checked the largest plan it may try once,
    rather than each of thousands).
    """
    if check:
        check_size(scenario, limits)
    return _expected(scenario)
