"""Measures of one replication (``docs/model.md``, 8): counts, rates, times, money, monthly series.

:func:`measure` is a pure function of a :class:`~sim.model.record.Record`: it draws no
random numbers and changes nothing. Names carry their units (``_hours``, ``_months``)
or are counts and money in the scenario's currency. Ratios with an empty denominator
are NaN, never silently zero. Sums over leads run in the order the leads arrived (by
lead index), so that the numbers do not depend on the order the event loop saw them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.errors import FunnelError
from sim.model import states as S
from sim.model.costs import budget_measures, cost_measures, costs, npv
from sim.model.leads import Columns, segment_names
from sim.model.months import IntervalMonths, dates, interval_months, month_counts, with_month_start
from sim.model.paths import advance_probabilities, age_decay, open_win_probability
from sim.model.record import Record
from sim.model.response import wait_decay
from sim.model.revenue import revenue
from sim.model.team import fte_by_month, slot_limit_steps
from sim.scenario.units import DAYS_PER_MONTH, HOURS_PER_DAY

__all__ = ["STATE_NAMES", "deal_values", "lead_table", "measure", "segment_labels"]

STATE_NAMES = [({**S.TERMINAL, **S.IN_FLIGHT})[code] for code in range(len(S.TERMINAL) + len(S.IN_FLIGHT))]


def _ratio(a, b):
    return float(a) / float(b) if b else math.nan


def _slot_steps(seats, max_open, selling_share, ramp_months, horizon):
    """The AE seats' slot limits over time, as the seats step them: per tenure, ``[(from, to, limit), ...]``."""
    for seat in seats:
        for ten in seat.tenures:
            end = min(ten.end, horizon)
            if end <= ten.start:
                continue
            steps = slot_limit_steps(ten, max_open * selling_share, ramp_months, end)
            edges = [t for t, _ in steps[1:]] + [end]
            yield [(t, hi, limit) for (t, limit), hi in zip(steps, edges, strict=True)]


def _slot_days(seats, max_open, selling_share, ramp_months, horizon):
    """Opportunity slot-days the AE seats offered."""
    return sum((sum(limit * (hi - t) for t, hi, limit in tenure)
                for tenure in _slot_steps(seats, max_open, selling_share, ramp_months, horizon)), 0.0)


def _slot_months(seats, max_open, selling_share, ramp_months, horizon_months):
    """Opportunity slot-months the AE seats offered in each month, from the steps the seats take."""
    steps = [step for tenure in _slot_steps(seats, max_open, selling_share, ramp_months,
                                            horizon_months * DAYS_PER_MONTH) for step in tenure]
    if not steps:
        return np.zeros(horizon_months)
    start, end, limit = (np.asarray(column, dtype=float) for column in zip(*steps, strict=True))
    return IntervalMonths(horizon_months).add(start, end, weights=limit).months()


def _capacity_months(v: _View, fte_m: dict) -> dict:
    """Queues and utilisation month by month: time-average MQLs and SQLs waiting, and busy shares."""
    r, sc, book, H, horizon = v.r, v.sc, v.r.book, v.H, v.horizon
    order = v.order
    state = book.state[order]
    queued, contact = book.queued_at[order], book.contact_time[order]
    contacted = np.isfinite(contact)
    waiting = state == S.WAITING_SDR
    # Every spell in the queue ends in a contact, in going cold (max_wait_days after it began), or at the horizon.
    queue = IntervalMonths(H).add(queued[contacted], contact[contacted]).add(queued[waiting], np.full(waiting.sum(),
                                                                                                      horizon))
    cold = r.counters.cold_times
    if len(cold):
        queue.add(cold - sc.qualification.max_wait_days, cold)
    busy = interval_months(contact[contacted], book.work_end[order][contacted], H)
    sql, opened = book.sql_time[order], book.opp_start[order]
    qualified = np.isfinite(sql)
    sql_queue = interval_months(sql[qualified], np.where(np.isfinite(opened), opened, horizon)[qualified], H)
    is_open = np.isfinite(opened)
    closed = np.isin(state, (S.WON, S.LOST_PIPELINE, S.LOST_REP_LEFT))
    held = interval_months(opened[is_open], np.where(closed, book.state_time[order], horizon)[is_open], H)
    ae = sc.roles.ae
    care = 0.0 if r.counters.cs_carries_care else ae.account_care_share
    offered = _slot_months(r.seats["ae"], ae.max_open_opportunities, 1.0 - care, ae.ramp_months, H)
    seats = fte_m[r.counters.qualifier_role]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"queue_mqls": queue.months(), "queue_sqls": sql_queue,
                "qualifier_utilisation": np.where(seats > 0, busy / seats, np.nan),
                "ae_slot_utilisation": np.where(offered > 0, held / offered, np.nan)}


def deal_values(record: Record, positions: np.ndarray) -> np.ndarray:
    """What the deals of the MQLs at ``positions`` (of the book) are worth if won.

    Each its own draw of ``deal.value`` times its intent's multiplier (``value_intent``).
    """
    deal = record.scenario.opportunities.deal
    v0, v1 = deal.value_intent
    multiplier = v0 + (v1 - v0) * record.mql_intent[positions]
    return deal.value.ppf(record.mql_u.column(Columns.VALUE)[positions]) * multiplier


class _View:
    """What the measures read of a record, worked out once: the MQLs in lead order, the won deals, their values."""

    def __init__(self, r: Record):
        self.r = r
        self.sc = r.scenario
        self.H = self.sc.horizon_months
        self.horizon = self.sc.horizon_days
        book = r.book
        self.order = np.argsort(r.mqls, kind="stable")  # book positions in lead order
        self.won = self.order[book.state[self.order] == S.WON]  # won MQLs' positions, in lead order
        self.win_time = book.state_time[self.won]
        deal = self.sc.opportunities.deal
        v0, v1 = deal.value_intent
        self.mql_intent = r.mql_intent
        self.intent_mult = v0 + (v1 - v0) * self.mql_intent
        self.win_value = deal_values(r, self.won)
        self.first_wait_h = (book.contact_time - book.queued_at) * HOURS_PER_DAY


def measure(record: Record) -> tuple[dict, pd.DataFrame]:
    """Every measure of a replication, and its monthly series: ``(metrics, monthly)``."""
    v = _View(record)
    m: dict = {}
    m.update(_accounting(v))
    m.update(_volumes_and_rates(v))
    m.update(_response_and_capacity(v))
    money, series = _money(v)
    m.update(money)
    m.update(_open_pipeline(v))
    m.update(_waiting_losses(v))
    fte_m = {name: fte_by_month(seats, v.H) for name, seats in record.seats.items()}
    for name, f in fte_m.items():
        m[f"fte_end.{name}"] = float(f[-1])
        m[f"fte_months.{name}"] = float(f.sum())
    m.update(budget_measures(record.plan, series["paid"]))
    book = record.book
    monthly = pd.DataFrame(
        {
            "month": np.arange(v.H),
            "marketing_spend": series["spend"],
            "leads": record.lead_months.sum(axis=0),
            "mqls": month_counts(record.mql_time, v.H),
            "sqls": month_counts(book.sql_time, v.H),
            "opportunities": month_counts(book.opp_start, v.H),
            "wins": month_counts(v.win_time, v.H),
            "cold_events": month_counts(record.counters.cold_times, v.H),
            **{k: series[k] for k in ("bookings", "revenue", "mrr_end", "customers_end", "costs", "contribution")},
            **series["paid"].monthly_lines(),
            **_capacity_months(v, fte_m),
            **{f"fte_{name}": f for name, f in fte_m.items()},
        }
    )
    return m, with_month_start(monthly, v.sc)


def _accounting(v: _View) -> dict:
    """Every lead in exactly one terminal state or in flight."""
    counts = [int((v.r.state == code).sum()) for code in range(len(STATE_NAMES))]
    accounting = {"arrived": int(v.r.leads)}
    accounting.update({name: int(counts[code]) for code, name in S.TERMINAL.items()})
    accounting["in_flight"] = int(sum(counts[c] for c in S.IN_FLIGHT))
    out = {"lead_accounting": accounting}
    out.update({f"in_flight.{name}": int(counts[code]) for code, name in S.IN_FLIGHT.items()})
    return out


def _volumes_and_rates(v: _View) -> dict:
    """Counts through the funnel, losses by reason, conversion rates."""
    r, sc, book = v.r, v.sc, v.r.book
    state = book.state
    won = state == S.WON
    mql_channel = r.mql_channel
    m = {"leads": r.leads}
    for code, name in enumerate(r.channel_names):
        m[f"leads.{name}"] = int(r.lead_months[code].sum())
    m["mqls"] = len(r.mqls)
    m["mqls_from_nurture"] = int((r.mql_touch > 0).sum())
    m["contacted"] = int(np.isfinite(book.contact_time).sum())
    m["sqls"] = int(np.isfinite(book.sql_time).sum())
    m["opportunities"] = int(np.isfinite(book.opp_start).sum())
    m["wins"] = int(won.sum())
    m["losses.cold_leads"] = int((state == S.LOST_COLD).sum())
    m["cold_events"] = len(r.counters.cold_times)
    m["losses.disqualified"] = int((state == S.DISQUALIFIED).sum())
    m["losses.lost_in_pipeline"] = int((state == S.LOST_PIPELINE).sum())
    m["losses.rep_left"] = int((state == S.LOST_REP_LEFT).sum())
    for code, name in enumerate(r.channel_names):
        in_ch = mql_channel == code
        m[f"wins.{name}"] = int((won & in_ch).sum())
        m[f"mql_to_win.{name}"] = _ratio((won & in_ch).sum(), in_ch.sum())
    m["lead_to_mql"] = _ratio(m["mqls"], r.leads)
    m["mql_to_sql"] = _ratio(m["sqls"], m["contacted"])
    closed = won | (state == S.LOST_PIPELINE)
    m["opportunity_win_rate"] = _ratio(won.sum(), closed.sum())
    m["mql_to_win"] = _ratio(m["wins"], m["mqls"])
    for s, stage in enumerate(sc.opportunities.stages):
        reached = closed & (book.fail_stage >= s)
        m[f"stage_advance.{stage.name}"] = _ratio((closed & (book.fail_stage > s)).sum(), reached.sum())
    return m


def _response_and_capacity(v: _View) -> dict:
    """Speed to lead, queue lengths and how busy the reps were."""
    r, sc, c, horizon = v.r, v.sc, v.r.counters, v.horizon
    m = {}
    waits = v.first_wait_h[np.isfinite(v.first_wait_h)]
    m["response_time_median_hours"] = float(np.median(waits)) if len(waits) else math.nan
    m["response_time_p90_hours"] = float(np.quantile(waits, 0.9)) if len(waits) else math.nan
    sla_hours = sc.qualification.sla_hours
    due = r.mql_time + sla_hours / HOURS_PER_DAY <= horizon
    # The SLA clock starts at the first MQL time: a lead that went cold and came back
    # from nurture missed it, however fast its second spell was worked.
    since_first_mql_h = (r.book.contact_time - r.mql_time) * HOURS_PER_DAY
    m["sla_share"] = _ratio((due & (since_first_mql_h <= sla_hours + 1e-9)).sum(), due.sum())
    m["queue_mean_mqls"] = c.queue_days / horizon
    m["queue_mean_sqls"] = c.sql_wait_days / horizon
    seat_days = fte_by_month(r.seats[c.qualifier_role], v.H).sum() * DAYS_PER_MONTH
    m["qualifier_utilisation"] = _ratio(c.qualifier_busy_days, seat_days)
    ae = sc.roles.ae
    care = 0.0 if c.cs_carries_care else ae.account_care_share
    slot_days = _slot_days(r.seats["ae"], ae.max_open_opportunities, 1.0 - care, ae.ramp_months, horizon)
    m["ae_slot_utilisation"] = _ratio(c.slot_days_used, slot_days)
    return m


def _money(v: _View) -> tuple[dict, dict]:
    """Bookings, revenue, costs by category and the ratios built on them; monthly series."""
    r, sc, H = v.r, v.sc, v.H
    deal, cust = sc.opportunities.deal, sc.customers
    m = {}
    earned = revenue(deal, cust, r.installed_base, v.win_time, v.win_value, r.mql_u.column(Columns.CHURN)[v.won], H)
    book = earned.book
    m["bookings"] = float(earned.bookings.sum())
    m["revenue"] = float(earned.revenue.sum())
    m["revenue_from_new_customers"] = float(earned.new_revenue.sum())
    m["ending_mrr"] = float(book.mrr_end[-1])
    m["ending_arr"] = 12.0 * m["ending_mrr"]
    m["ending_customers"] = int(book.customers_end[-1])
    m["customers_churned"] = int(book.churned.sum())
    m["average_deal_value"] = float(v.win_value.mean()) if len(v.win_value) else math.nan

    paid = costs(r, earned.bookings, r.book.sql_time)
    marketing_m, costs_m = paid.marketing, paid.total
    m.update(cost_measures(paid))
    marketing_cost = float(marketing_m.sum())
    m["cost_per_lead"] = _ratio(marketing_cost, r.leads)
    m["cost_per_mql"] = _ratio(marketing_cost, len(r.mqls))
    m["cac"] = _ratio(marketing_cost + float(np.sum(paid.acquisition_sales)), len(v.win_value))

    gm = sc.gross_margin
    gross_m = earned.revenue * gm
    contribution_m = gross_m - costs_m
    m["gross_margin"] = float(gross_m.sum())
    m["contribution"] = float(contribution_m.sum())
    m["roi"] = _ratio(m["contribution"], m["cost.total"])
    m["npv_contribution"] = npv(sc, contribution_m)
    avg = m["average_deal_value"]
    if deal.kind == "subscription":
        net_churn = cust.churn_month - cust.expansion_month
        m["ltv"] = avg * gm / net_churn if net_churn > 0 else math.inf
        m["payback_months"] = _ratio(m["cac"], avg * gm) if math.isfinite(avg) else math.nan
    else:
        m["ltv"] = avg * gm
        m["payback_months"] = math.nan
    m["ltv_to_cac"] = _ratio(m["ltv"], m["cac"]) if math.isfinite(m["cac"]) else math.nan
    series = {"spend": paid.spend, "bookings": earned.bookings, "revenue": earned.revenue, "mrr_end": book.mrr_end,
              "customers_end": book.customers_end.astype(float), "costs": costs_m, "contribution": contribution_m,
              "paid": paid}
    return m, series


def _open_pipeline(v: _View) -> dict:
    """Deals open or waiting for an AE at the horizon, weighted by their chance to win.

    A deal's chance is the product of the advance probabilities of the stages still
    ahead of it (:func:`sim.model.paths.open_win_probability`; for an SQL still waiting
    for a slot, every stage, with the decay of its wait so far); its value is the
    expected deal value (annual for subscriptions). A short horizon is biased against
    marketing, and this shows it.
    """
    r, op, book = v.r, v.sc.opportunities, v.r.book
    waiting = np.flatnonzero(book.state == S.WAITING_AE)
    open_ = np.flatnonzero(book.state == S.OPEN_OPPORTUNITY)
    p_win = np.zeros(len(r.mqls))
    if len(waiting):
        first = np.ones(len(waiting))
        if op.slot_decay is not None:
            wait_h = (v.horizon - book.sql_time[waiting]) * HOURS_PER_DAY
            first = wait_decay(wait_h, op.slot_decay.half_life_hours, op.slot_decay.shape)
        if op.age_effect is not None:  # its age so far
            first = first * age_decay(op, v.horizon - r.mql_arrival[waiting])
        p_win[waiting] = first * advance_probabilities(op, v.mql_intent[waiting],
                                                       r.mql_stages.rows(waiting)).prod(axis=1)
    if len(open_):
        age = book.opp_start[open_] - r.mql_arrival[open_] if op.age_effect is not None else None
        p_win[open_] = open_win_probability(op, v.mql_intent[open_], r.mql_u.rows(open_), r.cols,
                                            v.horizon - book.opp_start[open_], book.first_decay[open_],
                                            book.handed_over[open_], r.mql_stages.rows(open_), age)
    per_year = 12.0 if op.deal.kind == "subscription" else 1.0
    value = p_win * (op.deal.value.mean * v.intent_mult * per_year)
    # Summed as one array over every lead, in lead order (zero for the leads without a deal),
    # so that the sum is the same however the deals are found.
    every_lead = np.zeros(r.leads)
    every_lead[r.mqls] = p_win
    expected_wins = float(every_lead.sum())
    every_lead[r.mqls] = value
    return {"open_pipeline_count": int(len(waiting) + len(open_)),
            "open_pipeline_expected_wins": expected_wins,
            "open_pipeline_weighted_value": float(every_lead.sum())}


def _waiting_losses(v: _View) -> dict:
    """The wins (and bookings) that waiting cost: the expected loss, lead by lead, summed in lead order.

    A lead's win chance once it qualifies, before any wait for a slot, is the product of
    its stages' advance probabilities. A contacted MQL lost ``p_qualify * (1 - decay(wait))``
    of its chance to qualify while it waited in the queue; an opportunity lost
    ``1 - slot_decay(wait)`` of its first stage's chance while it waited for an AE slot;
    an MQL that went cold and was never contacted (it ended lost cold, or left nurture
    after it came back there) lost all of ``p_qualify``. Each times the win chance
    after qualifying, and for bookings times the deal's expected value (annual for
    subscriptions). The handover penalty is not a cost of waiting and is left out.
    """
    r, sc, book = v.r, v.sc, v.r.book
    q, op = sc.qualification, sc.opportunities
    p_qualify = q.p_qualify.at(v.mql_intent)
    p_win = advance_probabilities(op, v.mql_intent, r.mql_stages).prod(axis=1)
    contacted = np.isfinite(book.contact_time)
    queue = np.zeros(len(r.mqls))
    if q.decay is not None and contacted.any():
        with np.errstate(over="ignore"):  # a half-life of 1e-300 hours: any wait overflows, and decays to 0
            decay = wait_decay(v.first_wait_h[contacted], q.decay.half_life_hours, q.decay.shape)
        queue[contacted] = p_qualify[contacted] * (1.0 - decay) * p_win[contacted]
    slot = np.zeros(len(r.mqls))
    opened = np.isfinite(book.opp_start)
    if op.slot_decay is not None and opened.any():
        slot[opened] = (1.0 - book.first_decay[opened]) * p_win[opened]
    # An MQL that ends lost cold, or out of nurture, went cold waiting and was never contacted.
    gone = np.isin(book.state, (S.LOST_COLD, S.NURTURE_DROPPED, S.NURTURE_EXPIRED))
    cold = np.where(gone, p_qualify * p_win, 0.0)
    per_year = 12.0 if op.deal.kind == "subscription" else 1.0
    value = op.deal.value.mean * v.intent_mult * per_year
    every_lead = np.zeros(r.leads)
    out = {}
    for name, lost in (("queue_decay", queue), ("slot_decay", slot), ("cold", cold),
                       ("total", queue + slot + cold)):
        every_lead[r.mqls] = lost
        out[f"wins_lost.{name}"] = float(every_lead.sum())
        every_lead[r.mqls] = lost * value
        out[f"bookings_lost.{name}"] = float(every_lead.sum())
    return out


def segment_labels(r: Record, d) -> pd.Categorical:
    """Each lead's segment by name: the channel's name for a channel without segments."""
    names = segment_names(r.scenario)
    flat = sorted({n for ns in names for n in ns})
    lookup = np.array([[flat.index(n) for n in ns] + [0] * (max(map(len, names)) - len(ns)) for ns in names])
    codes = lookup[d.channel.astype(np.intp), d.segment.astype(np.intp)] if len(d.channel) else np.zeros(0, int)
    return pd.Categorical.from_codes(codes, flat)


def lead_table(record: Record) -> pd.DataFrame:
    """One row per lead, in order of arrival within sources, for people who want to look inside.

    Needs a record run with ``lead_detail`` (:func:`sim.model.simulation.run`).
    """
    r, book, d = record, record.book, record.detail
    if d is None:
        raise FunnelError("record", "lead records need a record run with lead_detail=True")
    v = _View(record)

    def per_lead(values, fill=np.nan):
        out = np.full(r.leads, fill)
        out[r.mqls] = values
        return out

    won = book.state == S.WON
    value = np.full(len(r.mqls), np.nan)
    value[v.won] = v.win_value
    start = v.sc.start_date

    def day(name, days):
        """A day column, and with a start date the calendar date beside it (``arrival_day``, ``arrival_date``)."""
        if start is None:
            return {name: days}
        return {name: days, name.removesuffix("_day") + "_date": dates(start, days)}

    return pd.DataFrame(
        {
            "channel": pd.Categorical.from_codes(d.channel, r.channel_names),
            "segment": segment_labels(r, d),
            **day("arrival_day", d.arrival),
            "intent": d.intent,
            "score": d.score,
            **day("mql_day", per_lead(r.mql_time)),
            "first_wait_hours": per_lead(v.first_wait_h),
            **day("contact_day", per_lead(book.contact_time)),
            **day("sql_day", per_lead(book.sql_time)),
            **day("opportunity_day", per_lead(book.opp_start)),
            "opportunity_age_days": per_lead(book.opp_start - r.mql_arrival),
            **day("close_day", per_lead(np.where(won, book.state_time, np.nan))),
            "value": per_lead(value),
            "state": pd.Categorical.from_codes(r.state, STATE_NAMES),
        }
    )
