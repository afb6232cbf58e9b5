"""Measures of one replication (MODEL.md 6): counts, rates, times, money, monthly series.

Everything is computed from the per-lead records after the run, vectorised. Names
carry their units (``_hours``, ``_months``) or are counts and money in the scenario's
currency. Ratios with an empty denominator are NaN, never silently zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import states as S
from sim.config import DAYS_PER_MONTH, HOURS_PER_DAY
from sim.leads import Columns, spend_schedule
from sim.response import wait_decay
from sim.revenue import subscription_book
from sim.team import fte_by_month, slot_limit_steps

__all__ = ["measure"]

STATE_NAMES = [({**S.TERMINAL, **S.IN_FLIGHT})[code] for code in range(len(S.TERMINAL) + len(S.IN_FLIGHT))]


def _ratio(a, b):
    return float(a) / float(b) if b else math.nan


def _month_counts(times, horizon_months, weights=None):
    times = np.asarray(times, dtype=float)
    ok = np.isfinite(times)
    idx = np.minimum((times[ok] / DAYS_PER_MONTH).astype(int), horizon_months - 1)
    w = None if weights is None else np.asarray(weights, dtype=float)[ok]
    return np.bincount(idx, weights=w, minlength=horizon_months).astype(float)


def _interval_months(start, end, horizon_months):
    """Months spent by intervals [start, end) in each calendar month, summed (O(n + months))."""
    H = horizon_months
    horizon = H * DAYS_PER_MONTH
    s = np.clip(np.asarray(start, dtype=float), 0.0, horizon)
    e = np.clip(np.asarray(end, dtype=float), s, horizon)
    first = np.minimum((s / DAYS_PER_MONTH).astype(int), H - 1)
    last = np.minimum((e / DAYS_PER_MONTH).astype(int), H - 1)
    same = first == last
    out = np.zeros(H)
    out += np.bincount(first[same], weights=(e - s)[same] / DAYS_PER_MONTH, minlength=H)
    f, la, ss, ee = first[~same], last[~same], s[~same], e[~same]
    out += np.bincount(f, weights=(f + 1) - ss / DAYS_PER_MONTH, minlength=H)  # the first, partial month
    out += np.bincount(la, weights=ee / DAYS_PER_MONTH - la, minlength=H)  # the last, partial month
    full = np.bincount(f + 1, minlength=H + 1) - np.bincount(la, minlength=H + 1)  # months in between
    return out + np.cumsum(full)[:H]


def _slot_days(seats, max_open, selling_share, ramp_months, horizon):
    """Opportunity slot-days the AE seats offered, from the same steps the seats take."""
    total = 0.0
    for seat in seats:
        for ten in seat.tenures:
            end = min(ten.end, horizon)
            if end <= ten.start:
                continue
            steps = slot_limit_steps(ten, max_open * selling_share, ramp_months, end)
            edges = [t for t, _ in steps[1:]] + [end]
            total += sum(limit * (hi - t) for (t, limit), hi in zip(steps, edges, strict=True))
    return total


@dataclass
class _Run:
    """What the measures read of one finished replication, expanded to every lead."""

    sc: object
    leads: object
    cols: object
    seats: dict
    funnel: object
    state: np.ndarray
    state_time: np.ndarray
    first_mql_time: np.ndarray
    nurture_exit: np.ndarray
    streams: object

    def __post_init__(self):
        n = len(self.leads)
        self.n = n
        self.H = self.sc.horizon_months
        self.horizon = self.sc.horizon_days
        self.mql = np.isfinite(self.first_mql_time)
        self.contact = self.funnel.full("contact_time", n)
        self.sql_time = self.funnel.full("sql_time", n)
        self.opp_start = self.funnel.full("opp_start", n)
        self.first_wait_h = (self.contact - self.funnel.full("queued_at", n)) * HOURS_PER_DAY
        self.won = self.state == S.WON
        self.close_time = np.where(self.won, self.state_time, np.nan)
        deal = self.sc.opportunities.deal
        v0, v1 = deal.value_intent
        self.intent_mult = v0 + (v1 - v0) * self.leads.intent
        self.value = deal.value.ppf(self.leads.u[:, Columns.VALUE]) * self.intent_mult


def measure(*, scenario, allocation, leads, cols, seats, funnel, state, state_time, first_mql_time,
            nurture_exit, streams, lead_records=True):
    """Turn a finished replication into ``(metrics, monthly, lead_records)``.

    ``lead_records`` is None when not asked for: building it costs a few percent of a
    replication, and a Monte Carlo run keeps none by default.
    """
    run = _Run(scenario, leads, cols, seats, funnel, state, state_time, first_mql_time, nurture_exit, streams)
    m: dict = {}
    m.update(_accounting(run))
    m.update(_volumes_and_rates(run))
    m.update(_response_and_capacity(run))
    money, series = _money(run)
    m.update(money)
    m.update(_open_pipeline(run))
    fte_m = {name: fte_by_month(seats[name], run.H) for name in ("sdr", "ae", "customer_success")
             if getattr(scenario.roles, name) is not None}
    for name, f in fte_m.items():
        m[f"fte_end.{name}"] = float(f[-1])
        m[f"fte_months.{name}"] = float(f.sum())
    m.update(allocation)
    monthly = pd.DataFrame(
        {
            "month": np.arange(run.H),
            "marketing_spend": series["spend"],
            "leads": _month_counts(leads.arrival, run.H),
            "mqls": _month_counts(first_mql_time, run.H),
            "sqls": _month_counts(run.sql_time, run.H),
            "opportunities": _month_counts(run.opp_start, run.H),
            "wins": _month_counts(run.close_time, run.H),
            "lost_cold": _month_counts(funnel.cold_times, run.H),
            **{k: series[k] for k in ("bookings", "revenue", "mrr_end", "customers_end", "costs", "contribution")},
            **{f"fte_{name}": f for name, f in fte_m.items()},
        }
    )
    return m, monthly, _lead_records(run) if lead_records else None


def _accounting(run: _Run) -> dict:
    """Every lead in exactly one terminal state or in flight (MODEL.md 6)."""
    counts = np.bincount(run.state, minlength=len(STATE_NAMES))
    accounting = {"arrived": int(run.n)}
    accounting.update({name: int(counts[code]) for code, name in S.TERMINAL.items()})
    accounting["in_flight"] = int(sum(counts[c] for c in S.IN_FLIGHT))
    out = {"lead_accounting": accounting}
    out.update({f"in_flight.{name}": int(counts[code]) for code, name in S.IN_FLIGHT.items()})
    return out


def _volumes_and_rates(run: _Run) -> dict:
    """Counts through the funnel, losses by reason, conversion rates."""
    sc, leads, state, won, mql = run.sc, run.leads, run.state, run.won, run.mql
    m = {"leads": run.n}
    for code, name in enumerate(leads.channel_names):
        m[f"leads.{name}"] = int((leads.channel == code).sum())
    m["mqls"] = int(mql.sum())
    m["mqls_from_nurture"] = int((mql & (leads.score < sc.scoring.mql_threshold)).sum())
    m["contacted"] = int(np.isfinite(run.contact).sum())
    m["sqls"] = int(np.isfinite(run.sql_time).sum())
    m["opportunities"] = int(np.isfinite(run.opp_start).sum())
    m["wins"] = int(won.sum())
    m["losses.cold_waiting"] = int(run.funnel.cold_events)
    m["losses.disqualified"] = int((state == S.DISQUALIFIED).sum())
    m["losses.lost_in_pipeline"] = int((state == S.LOST_PIPELINE).sum())
    m["losses.rep_left"] = int((state == S.LOST_REP_LEFT).sum())
    for code, name in enumerate(leads.channel_names):
        in_ch = leads.channel == code
        m[f"wins.{name}"] = int((won & in_ch).sum())
        m[f"mql_to_win.{name}"] = _ratio((won & in_ch).sum(), (mql & in_ch).sum())
    m["lead_to_mql"] = _ratio(m["mqls"], run.n)
    m["mql_to_sql"] = _ratio(m["sqls"], m["contacted"])
    closed = won | (state == S.LOST_PIPELINE)
    m["opportunity_win_rate"] = _ratio(won.sum(), closed.sum())
    m["mql_to_win"] = _ratio(m["wins"], m["mqls"])
    fail_stage = run.funnel.full("opp_fail_stage", run.n, -1)
    for s, stage in enumerate(sc.opportunities.stages):
        reached = closed & (fail_stage >= s)
        m[f"stage_advance.{stage.name}"] = _ratio((closed & (fail_stage > s)).sum(), reached.sum())
    return m


def _response_and_capacity(run: _Run) -> dict:
    """Speed to lead, queue lengths and how busy the reps were."""
    sc, funnel, horizon = run.sc, run.funnel, run.horizon
    m = {}
    waits = run.first_wait_h[np.isfinite(run.first_wait_h)]
    m["response_time_median_hours"] = float(np.median(waits)) if len(waits) else math.nan
    m["response_time_p90_hours"] = float(np.quantile(waits, 0.9)) if len(waits) else math.nan
    sla_hours = sc.qualification.sla_hours
    due = run.mql & (run.first_mql_time + sla_hours / HOURS_PER_DAY <= horizon)
    # The SLA clock starts at the first MQL time: a lead that went cold and came back
    # from nurture missed it, however fast its second spell was worked.
    since_first_mql_h = (run.contact - run.first_mql_time) * HOURS_PER_DAY
    m["sla_share"] = _ratio((due & (since_first_mql_h <= sla_hours + 1e-9)).sum(), due.sum())
    m["queue_mean_mqls"] = funnel.queue_days / horizon
    m["queue_mean_sqls"] = funnel.ae_area / horizon
    seat_days = fte_by_month(funnel.q_seats, run.H).sum() * DAYS_PER_MONTH
    m["qualifier_utilisation"] = _ratio(funnel.q_busy_days, seat_days)
    ae = sc.roles.ae
    care = 0.0 if funnel.cs_carries_care else ae.account_care_share
    slot_days = _slot_days(run.seats["ae"], ae.max_open_opportunities, 1.0 - care, ae.ramp_months, horizon)
    m["ae_slot_utilisation"] = _ratio(funnel.opp_days, slot_days)
    return m


def _money(run: _Run) -> tuple[dict, dict]:
    """Bookings, revenue, costs by category and the ratios built on them; monthly series."""
    sc, leads, H = run.sc, run.leads, run.H
    deal, cust, roles = sc.opportunities.deal, sc.customers, sc.roles
    m = {}
    win_value = run.value[run.won]
    win_time = run.close_time[run.won]
    base_rng = run.streams("customers/installed_base")
    base_mrr = cust.installed_mrr.sample(base_rng, cust.installed_base)
    base_u = base_rng.random(cust.installed_base)
    base_start = np.zeros(cust.installed_base)
    if deal.kind == "subscription":
        bookings_each = 12.0 * win_value  # annual contract value
        churn_u = leads.u[run.won, Columns.CHURN]
        book = subscription_book(np.concatenate([base_start, win_time]), np.concatenate([base_mrr, win_value]),
                                 np.concatenate([base_u, churn_u]), cust, H)
        new_revenue_m = subscription_book(win_time, win_value, churn_u, cust, H).revenue
        revenue_m = book.revenue
    else:
        bookings_each = win_value
        book = subscription_book(base_start, base_mrr, base_u, cust, H)
        new_revenue_m = _month_counts(win_time, H, win_value)
        revenue_m = book.revenue + new_revenue_m
    bookings_m = _month_counts(win_time, H, bookings_each)
    m["bookings"] = float(bookings_m.sum())
    m["revenue"] = float(revenue_m.sum())
    m["revenue_from_new_customers"] = float(new_revenue_m.sum())
    m["ending_mrr"] = float(book.mrr_end[-1])
    m["ending_arr"] = 12.0 * m["ending_mrr"]
    m["ending_customers"] = int(book.customers_end[-1])
    m["customers_churned"] = int(book.churned.sum())
    m["average_deal_value"] = float(win_value.mean()) if len(win_value) else math.nan

    spend_m = np.zeros(H)
    lead_cost_m = np.zeros(H)
    for code, ch in enumerate(sc.channels.values()):
        spend_m += spend_schedule(ch, H)
        if ch.cost_per_lead:
            lead_cost_m += ch.cost_per_lead * _month_counts(leads.arrival[leads.channel == code], H)
    nurture_m = np.zeros(H)
    if sc.nurture is not None and sc.nurture.cost_per_lead_month > 0:
        below = np.isfinite(run.nurture_exit)
        starts = np.concatenate([leads.arrival[below], run.funnel.recycled_nurture_start])
        ends = np.concatenate([np.minimum(run.nurture_exit[below], run.horizon), run.funnel.recycled_nurture_end])
        nurture_m = sc.nurture.cost_per_lead_month * _interval_months(starts, ends, H)
    salary_m = {name: fte_by_month(run.seats[name], H) * getattr(roles, name).cost_per_fte_year / 12.0
                for name in ("sdr", "ae", "customer_success") if getattr(roles, name) is not None}
    commission_m = roles.ae.commission_rate * bookings_m
    bonus_m = (roles.sdr.bonus_per_sql if roles.sdr else 0.0) * _month_counts(run.sql_time, H)
    marketing_m = spend_m + lead_cost_m + nurture_m
    acquisition_sales_m = salary_m.get("sdr", 0) + salary_m["ae"] + commission_m + bonus_m
    costs_m = marketing_m + acquisition_sales_m + salary_m.get("customer_success", 0)
    m["cost.marketing_spend"] = float(spend_m.sum())
    m["cost.lead_costs"] = float(lead_cost_m.sum())
    m["cost.nurture"] = float(nurture_m.sum())
    for name, s in salary_m.items():
        m[f"cost.salaries_{name}"] = float(s.sum())
    m["cost.commissions"] = float(commission_m.sum())
    m["cost.sdr_bonuses"] = float(bonus_m.sum())
    m["cost.total"] = float(costs_m.sum())
    marketing_cost = float(marketing_m.sum())
    m["cost_per_lead"] = _ratio(marketing_cost, run.n)
    m["cost_per_mql"] = _ratio(marketing_cost, int(run.mql.sum()))
    m["cac"] = _ratio(marketing_cost + float(np.sum(acquisition_sales_m)), len(win_value))

    gm = sc.gross_margin
    gross_m = revenue_m * gm
    contribution_m = gross_m - costs_m
    m["gross_margin"] = float(gross_m.sum())
    m["contribution"] = float(contribution_m.sum())
    m["roi"] = _ratio(m["contribution"], m["cost.total"])
    discount = (1.0 + sc.discount_rate_year) ** (-(np.arange(H) + 1) / 12.0)
    m["npv_contribution"] = float((contribution_m * discount).sum())
    avg = m["average_deal_value"]
    if deal.kind == "subscription":
        net_churn = cust.churn_month - cust.expansion_month
        m["ltv"] = avg * gm / net_churn if net_churn > 0 else math.inf
        m["payback_months"] = _ratio(m["cac"], avg * gm) if math.isfinite(avg) else math.nan
    else:
        m["ltv"] = avg * gm
        m["payback_months"] = math.nan
    m["ltv_to_cac"] = _ratio(m["ltv"], m["cac"]) if math.isfinite(m["cac"]) else math.nan
    series = {"spend": spend_m, "bookings": bookings_m, "revenue": revenue_m, "mrr_end": book.mrr_end,
              "customers_end": book.customers_end.astype(float), "costs": costs_m, "contribution": contribution_m}
    return m, series


def _open_pipeline(run: _Run) -> dict:
    """Deals open or waiting for an AE at the horizon, weighted by their chance to win.

    A deal's chance is the product of the advance probabilities of the stages still
    ahead of it (with the slot-wait decay while in its first stage, and the handover
    penalty if it changed hands); its value is the expected deal value (annual for
    subscriptions). A short horizon is biased against marketing, and this shows it.
    """
    sc, leads, state, n = run.sc, run.leads, run.state, run.n
    op = sc.opportunities
    adv = np.column_stack([st.advance.at(leads.intent) for st in op.stages])
    waiting = state == S.WAITING_AE
    open_ = state == S.OPEN_OPPORTUNITY
    p_win = np.zeros(n)
    if waiting.any():
        first = np.ones(waiting.sum())
        if op.slot_decay is not None:
            wait_h = (run.horizon - run.sql_time[waiting]) * HOURS_PER_DAY
            first = wait_decay(wait_h, op.slot_decay.half_life_hours, op.slot_decay.shape)
        p_win[waiting] = first * adv[waiting].prod(axis=1)
    if open_.any():
        idx = np.flatnonzero(open_)
        durations = [st.duration_days.ppf(leads.u[idx, c]) for st, c in zip(op.stages, run.cols.stage_duration,
                                                                            strict=True)]
        cum = np.cumsum(np.column_stack(durations), axis=1)
        elapsed = run.horizon - run.opp_start[idx]
        current = np.minimum((cum <= elapsed[:, None]).sum(axis=1), len(op.stages) - 1)  # the stage it is in
        ahead = np.arange(len(op.stages))[None, :] >= current[:, None]
        remaining = np.where(ahead, adv[idx], 1.0).prod(axis=1)
        remaining = np.where(current == 0, remaining * run.funnel.full("first_decay", n, 1.0)[idx], remaining)
        handed = run.funnel.full("handed_over", n, False)[idx]
        p_win[idx] = np.where(handed, remaining * (1 - op.handover_penalty), remaining)
    expected_value = op.deal.value.mean * run.intent_mult * (12.0 if op.deal.kind == "subscription" else 1.0)
    return {"open_pipeline_count": int(waiting.sum() + open_.sum()),
            "open_pipeline_expected_wins": float(p_win.sum()),
            "open_pipeline_weighted_value": float((p_win * expected_value).sum())}


def _lead_records(run: _Run) -> pd.DataFrame:
    """One row per lead, for people who want to look inside."""
    leads = run.leads
    return pd.DataFrame(
        {
            "channel": pd.Categorical.from_codes(leads.channel, leads.channel_names),
            "arrival_day": leads.arrival,
            "intent": leads.intent,
            "score": leads.score,
            "mql_day": run.first_mql_time,
            "first_wait_hours": run.first_wait_h,
            "contact_day": run.contact,
            "sql_day": run.sql_time,
            "opportunity_day": run.opp_start,
            "close_day": run.close_time,
            "value": np.where(run.won, run.value, np.nan),
            "state": pd.Categorical.from_codes(run.state, STATE_NAMES),
        }
    )
