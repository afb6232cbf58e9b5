"""Measures of one replication (MODEL.md 6): counts, rates, times, money, monthly series.

Everything is computed from the per-lead records after the run, vectorised. Names
carry their units (``_hours``, ``_months``) or are counts and money in the scenario's
currency. Ratios with an empty denominator are NaN, never silently zero.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim import states as S
from sim.config import DAYS_PER_MONTH
from sim.leads import Columns, spend_schedule
from sim.revenue import subscription_book
from sim.team import MIN_RAMP_MONTHS, fte_by_month

__all__ = ["measure"]

HOURS = 24.0
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
    """Opportunity slot-days the AE seats offered (the slot limit grows during ramp)."""
    full = max_open * selling_share
    total = 0.0
    ramp_days = ramp_months * DAYS_PER_MONTH
    for seat in seats:
        for ten in seat.tenures:
            lo, hi = ten.start, min(ten.end, horizon)
            if hi <= lo:
                continue
            if ten.ramped_at_start or ramp_months <= MIN_RAMP_MONTHS:
                total += max(1, int(full)) * (hi - lo)
                continue
            t = np.linspace(lo, hi, 2000, endpoint=False) + (hi - lo) / 4000
            limit = np.maximum(1, np.floor(full * np.minimum(1.0, (t - lo) / ramp_days) + 1e-9))
            total += float(limit.mean()) * (hi - lo)
    return total


def _seat_days(seats, horizon):
    return sum(max(0.0, min(t.end, horizon) - t.start) for s in seats for t in s.tenures)


def measure(*, scenario, allocation, leads, cols, seats, funnel, state, state_time, first_mql_time,
            nurture_exit, streams, result_type):
    """Turn a finished replication into ``result_type(metrics, monthly, scenario, leads)``."""
    sc = scenario
    H = sc.horizon_months
    horizon = sc.horizon_days
    n = len(leads)
    op = sc.opportunities
    deal = op.deal
    roles = sc.roles
    m: dict = {}

    # -- lead accounting ----------------------------------------------------------------
    counts = np.bincount(state, minlength=13)
    accounting = {"arrived": int(n)}
    for code, name in S.TERMINAL.items():
        accounting[name] = int(counts[code])
    accounting["in_flight"] = int(sum(counts[c] for c in S.IN_FLIGHT))
    m["lead_accounting"] = accounting
    for code, name in S.IN_FLIGHT.items():
        m[f"in_flight.{name}"] = int(counts[code])

    # -- volumes --------------------------------------------------------------------------
    m["leads"] = n
    for code, name in enumerate(leads.channel_names):
        m[f"leads.{name}"] = int((leads.channel == code).sum())
    mql = np.isfinite(first_mql_time)
    contact = funnel.full("contact_time", n)
    sql_time = funnel.full("sql_time", n)
    opp_start = funnel.full("opp_start", n)
    won = state == S.WON
    is_sql = np.isfinite(sql_time)
    is_opp = np.isfinite(opp_start)
    m["mqls"] = int(mql.sum())
    m["mqls_from_nurture"] = int((mql & (leads.score < sc.scoring.mql_threshold)).sum())
    m["contacted"] = int(np.isfinite(contact).sum())
    m["sqls"] = int(is_sql.sum())
    m["opportunities"] = int(is_opp.sum())
    m["wins"] = int(won.sum())
    m["losses.cold_waiting"] = int(funnel.cold_events)
    m["losses.disqualified"] = int(counts[S.DISQUALIFIED])
    m["losses.lost_in_pipeline"] = int(counts[S.LOST_PIPELINE])
    m["losses.rep_left"] = int(counts[S.LOST_REP_LEFT])
    for code, name in enumerate(leads.channel_names):
        in_ch = leads.channel == code
        m[f"wins.{name}"] = int((won & in_ch).sum())
        m[f"mql_to_win.{name}"] = _ratio((won & in_ch).sum(), (mql & in_ch).sum())

    # -- conversion rates -----------------------------------------------------------------
    m["lead_to_mql"] = _ratio(m["mqls"], n)
    m["mql_to_sql"] = _ratio(m["sqls"], m["contacted"])
    closed = won | (state == S.LOST_PIPELINE)
    m["opportunity_win_rate"] = _ratio(won.sum(), closed.sum())
    m["mql_to_win"] = _ratio(m["wins"], m["mqls"])
    fail_stage = funnel.full("opp_fail_stage", n, -1)
    for s, stage in enumerate(op.stages):
        reached = closed & (fail_stage >= s)
        m[f"stage_advance.{stage.name}"] = _ratio((closed & (fail_stage > s)).sum(), reached.sum())

    # -- response time and queues -----------------------------------------------------------
    first_wait_h = funnel.full("first_wait", n) * HOURS
    waits = first_wait_h[np.isfinite(first_wait_h)]
    m["response_time_median_hours"] = float(np.median(waits)) if len(waits) else math.nan
    m["response_time_p90_hours"] = float(np.quantile(waits, 0.9)) if len(waits) else math.nan
    sla_days = sc.qualification.sla_hours / HOURS
    due = mql & (first_mql_time + sla_days <= horizon)
    # The SLA clock starts at the first MQL time: a lead that went cold and came back
    # from nurture missed it, however fast its second spell was worked.
    since_first_mql_h = (contact - first_mql_time) * HOURS
    m["sla_share"] = _ratio((due & (since_first_mql_h <= sc.qualification.sla_hours + 1e-9)).sum(), due.sum())
    m["queue_mean_mqls"] = funnel.queue_days / horizon
    m["queue_mean_sqls"] = funnel.ae_area / horizon
    q_days = _seat_days(funnel.q_seats, horizon)
    m["qualifier_utilisation"] = _ratio(funnel.q_busy_days, q_days)
    care = 0.0 if funnel.cs_carries_care else roles.ae.account_care_share
    slot_days = _slot_days(seats["ae"], roles.ae.max_open_opportunities, 1.0 - care, roles.ae.ramp_months, horizon)
    m["ae_slot_utilisation"] = _ratio(funnel.opp_days, slot_days)

    # -- deals and revenue ------------------------------------------------------------------
    v0, v1 = deal.value_intent
    intent_mult = v0 + (v1 - v0) * leads.intent
    value = deal.value.ppf(leads.u[:, Columns.VALUE]) * intent_mult
    close_time = np.where(won, state_time, np.nan)
    win_value = value[won]
    win_time = close_time[won]
    months = np.arange(H)
    base_rng = streams("customers/installed_base")
    cust = sc.customers
    base_mrr = cust.installed_mrr.sample(base_rng, cust.installed_base)
    base_u = base_rng.random(cust.installed_base)
    if deal.kind == "subscription":
        bookings_each = 12.0 * win_value  # annual contract value
        book = subscription_book(
            np.concatenate([np.zeros(cust.installed_base), win_time]),
            np.concatenate([base_mrr, win_value]),
            np.concatenate([base_u, leads.u[won, Columns.CHURN]]),
            cust, H,
        )
        new_book = subscription_book(win_time, win_value, leads.u[won, Columns.CHURN], cust, H)
        revenue_m = book.revenue
        new_revenue_m = new_book.revenue
    else:
        bookings_each = win_value
        book = subscription_book(base_u * 0, base_mrr, base_u, cust, H)
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

    # -- costs --------------------------------------------------------------------------------
    spend_m = np.zeros(H)
    lead_cost_m = np.zeros(H)
    for code, ch in enumerate(sc.channels.values()):
        spend_m += spend_schedule(ch, H)
        if ch.cost_per_lead:
            lead_cost_m += ch.cost_per_lead * _month_counts(leads.arrival[leads.channel == code], H)
    nurture_m = np.zeros(H)
    if sc.nurture is not None and sc.nurture.cost_per_lead_month > 0:
        below = np.isfinite(nurture_exit)
        exit_ = np.minimum(nurture_exit[below], horizon)
        starts = np.concatenate([leads.arrival[below], funnel.recycled_nurture_start])
        ends = np.concatenate([exit_, funnel.recycled_nurture_end])
        nurture_m = sc.nurture.cost_per_lead_month * _interval_months(starts, ends, H)
    salary_m = {}
    fte_m = {}
    for name in ("sdr", "ae", "customer_success"):
        role = getattr(roles, name)
        if role is None:
            continue
        fte_m[name] = fte_by_month(seats[name], H)
        salary_m[name] = fte_m[name] * role.cost_per_fte_year / 12.0
    commission_m = roles.ae.commission_rate * bookings_m
    sql_m = _month_counts(sql_time, H)
    bonus_m = (roles.sdr.bonus_per_sql if roles.sdr else 0.0) * sql_m
    marketing_m = spend_m + lead_cost_m + nurture_m
    acquisition_sales_m = salary_m.get("sdr", 0) + salary_m.get("ae", 0) + commission_m + bonus_m
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
    acquisition = marketing_cost + float(np.sum(acquisition_sales_m))
    m["cost_per_lead"] = _ratio(marketing_cost, n)
    m["cost_per_mql"] = _ratio(marketing_cost, m["mqls"])
    m["cac"] = _ratio(acquisition, m["wins"])

    gm = sc.gross_margin
    gross_m = revenue_m * gm
    contribution_m = gross_m - costs_m
    m["gross_margin"] = float(gross_m.sum())
    m["contribution"] = float(contribution_m.sum())
    m["roi"] = _ratio(m["contribution"], m["cost.total"])
    disc = (1.0 + sc.discount_rate_year) ** (-(months + 1) / 12.0)
    m["npv_contribution"] = float((contribution_m * disc).sum())
    avg = m["average_deal_value"]
    if deal.kind == "subscription":
        margin_growth = cust.churn_month - cust.expansion_month
        m["ltv"] = avg * gm / margin_growth if margin_growth > 0 else math.inf
        m["payback_months"] = _ratio(m["cac"], avg * gm) if avg == avg else math.nan
    else:
        m["ltv"] = avg * gm
        m["payback_months"] = math.nan
    m["ltv_to_cac"] = _ratio(m["ltv"], m["cac"]) if math.isfinite(m["cac"]) else math.nan

    # -- open pipeline at the horizon -----------------------------------------------------------
    adv = np.column_stack([st.advance.at(leads.intent) for st in op.stages])
    waiting = state == S.WAITING_AE
    open_ = state == S.OPEN_OPPORTUNITY
    p_win = np.zeros(n)
    if waiting.any():
        first = np.ones(waiting.sum())
        if op.slot_decay is not None:
            wait_h = (horizon - sql_time[waiting]) * HOURS
            first = (1.0 + wait_h / op.slot_decay.half_life_hours) ** -op.slot_decay.shape
        p_win[waiting] = first * adv[waiting].prod(axis=1)
    if open_.any():
        idx = np.flatnonzero(open_)
        cum = np.cumsum(
            np.column_stack([st.duration_days.ppf(leads.u[idx, c]) for st, c in zip(op.stages, cols.stage_duration,
                                                                                   strict=True)]),
            axis=1,
        )
        elapsed = horizon - opp_start[idx]
        current = (cum <= elapsed[:, None]).sum(axis=1)  # stage it is in now
        current = np.minimum(current, len(op.stages) - 1)
        stage_idx = np.arange(len(op.stages))[None, :]
        remaining = np.where(stage_idx >= current[:, None], adv[idx], 1.0).prod(axis=1)
        first_decay = funnel.full("first_decay", n, 1.0)[idx]
        remaining = np.where(current == 0, remaining * first_decay, remaining)
        handed = funnel.full("handed_over", n, False)[idx]
        remaining = np.where(handed, remaining * (1 - op.handover_penalty), remaining)
        p_win[idx] = remaining
    expected_value = deal.value.mean * intent_mult * (12.0 if deal.kind == "subscription" else 1.0)
    m["open_pipeline_count"] = int(waiting.sum() + open_.sum())
    m["open_pipeline_weighted_value"] = float((p_win * expected_value).sum())

    # -- team -------------------------------------------------------------------------------------
    for name, f in fte_m.items():
        m[f"fte_end.{name}"] = float(f[-1])
        m[f"fte_months.{name}"] = float(f.sum())
    m.update(allocation)

    # -- monthly series ---------------------------------------------------------------------------
    monthly = pd.DataFrame(
        {
            "month": months,
            "marketing_spend": spend_m,
            "leads": _month_counts(leads.arrival, H),
            "mqls": _month_counts(first_mql_time, H),
            "sqls": sql_m,
            "opportunities": _month_counts(opp_start, H),
            "wins": _month_counts(win_time, H),
            "lost_cold": _month_counts(funnel.cold_times, H),
            "bookings": bookings_m,
            "revenue": revenue_m,
            "mrr_end": book.mrr_end,
            "customers_end": book.customers_end.astype(float),
            "costs": costs_m,
            "contribution": contribution_m,
        }
    )
    for name, f in fte_m.items():
        monthly[f"fte_{name}"] = f

    records = pd.DataFrame(
        {
            "channel": pd.Categorical.from_codes(leads.channel, leads.channel_names),
            "arrival_day": leads.arrival,
            "intent": leads.intent,
            "score": leads.score,
            "mql_day": first_mql_time,
            "first_wait_hours": first_wait_h,
            "contact_day": contact,
            "sql_day": sql_time,
            "opportunity_day": opp_start,
            "close_day": close_time,
            "value": np.where(won, value, np.nan),
            "state": pd.Categorical.from_codes(state, STATE_NAMES),
        }
    )
    return result_type(metrics=m, monthly=monthly, scenario=sc, leads=records)
