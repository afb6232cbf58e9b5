"""One replication of the funnel: draw the team and the leads, run SimPy, measure.

:func:`simulate` is the entry point. The vectorised parts (team, arrivals, scoring,
nurture, revenue) run before and after the event simulation; only MQLs pass through
SimPy (:mod:`sim.processes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim import states as S
from sim.budget import apply_budget
from sim.config import Scenario
from sim.leads import Columns, generate_leads, nurture_outcome
from sim.measures import measure
from sim.processes import Funnel
from sim.streams import Streams
from sim.team import draw_seats

__all__ = ["Result", "simulate"]


@dataclass
class Result:
    """What one replication produced.

    Attributes:
        metrics: every measure of MODEL.md section 6, flat (name -> number), plus
            ``lead_accounting`` (terminal states and ``in_flight``, summing to ``arrived``).
        monthly: the monthly series, one row per month.
        scenario: the scenario as simulated (after the budget split, if any).
        leads: per-lead records (one row per lead), for people who want to look inside;
            None when :func:`simulate` was asked for none.
    """

    metrics: dict
    monthly: pd.DataFrame
    scenario: Scenario
    leads: pd.DataFrame | None = field(repr=False)


def simulate(scenario: Scenario, seed=0, lead_records: bool = True) -> Result:
    """Simulate one horizon of ``scenario``.

    Args:
        scenario: a validated scenario (see :func:`sim.load_scenario`).
        seed: a non-negative int or a ``numpy.random.SeedSequence``; the same seed gives
            the same numbers, bit for bit.
        lead_records: also return one row per lead (``Result.leads``); off, the
            replication is a few percent faster and its numbers are unchanged.
    """
    scenario, allocation = apply_budget(scenario)
    streams = Streams(seed)
    horizon = scenario.horizon_days
    roles = scenario.roles
    seats = {
        name: draw_seats(name, getattr(roles, name), horizon, streams) if getattr(roles, name) else []
        for name in ("sdr", "ae", "customer_success")
    }
    max_recycles = scenario.nurture.max_recycles if scenario.nurture else 0
    cols = Columns(len(scenario.opportunities.stages), max_recycles)
    leads = generate_leads(scenario, seats, streams, cols)

    threshold = scenario.scoring.mql_threshold
    is_mql = leads.score >= threshold
    mql_time = np.where(is_mql, leads.arrival, np.inf)
    n = len(leads)
    nurture_kind = np.full(n, -1)
    nurture_exit = np.full(n, np.nan)
    if scenario.nurture is not None:
        below = np.flatnonzero(~is_mql)
        kind, when = nurture_outcome(
            leads.score[below], leads.arrival[below], leads.u[below, Columns.NURTURE], threshold, scenario.nurture
        )
        nurture_kind[below] = kind
        nurture_exit[below] = when
        mql_time[below[kind == 0]] = when[kind == 0]

    entering = np.flatnonzero(mql_time < horizon)
    order = entering[np.lexsort((entering, mql_time[entering]))]
    funnel = Funnel(scenario, leads, cols, seats, order, mql_time[order])
    funnel.run()

    state = funnel.full("state", n, S.NOT_MQL).astype(np.int8)
    state_time = funnel.full("state_time", n)
    # Leads that never reached the queue: below threshold, or still in nurture.
    untouched = np.ones(n, dtype=bool)
    untouched[entering] = False
    dropped = untouched & (nurture_kind == 1)
    expired = untouched & (nurture_kind == 2)
    state[dropped] = S.NURTURE_DROPPED
    state[expired] = S.NURTURE_EXPIRED
    state_time[dropped | expired] = nurture_exit[dropped | expired]
    state[untouched & (nurture_kind == 0)] = S.IN_NURTURE  # becomes an MQL after the horizon
    state_time[untouched & (nurture_kind == -1)] = leads.arrival[untouched & (nurture_kind == -1)]
    # A nurture exit that lies past the horizon has not happened yet.
    future = np.isin(state, (S.NURTURE_DROPPED, S.NURTURE_EXPIRED)) & (state_time > horizon)
    state[future] = S.IN_NURTURE

    metrics, monthly, records = measure(
        scenario=scenario,
        allocation=allocation,
        leads=leads,
        cols=cols,
        seats=seats,
        funnel=funnel,
        state=state,
        state_time=state_time,
        first_mql_time=np.where(mql_time < horizon, mql_time, np.nan),
        nurture_exit=nurture_exit,
        streams=streams,
        lead_records=lead_records,
    )
    return Result(metrics=metrics, monthly=monthly, scenario=scenario, leads=records)
