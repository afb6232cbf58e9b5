"""The event loop: qualification and opportunities on one SimPy clock, and leads that go cold.

Only MQLs enter here, at their pre-computed MQL times (:mod:`sim.model.nurture`). The
qualification queue (:mod:`sim.model.qualification`) hands each SQL to the AE slots
(:mod:`sim.model.opportunities`); an MQL that waited too long goes cold and, while
nurture lets it, comes back to the queue at its next touch (:func:`sim.model.nurture.recycle`).
:func:`run_funnel` runs to the horizon and returns the filled book and the counters.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim.model import states as S
from sim.model.leads import Columns, Uniforms
from sim.model.nurture import recycle
from sim.model.opportunities import Opportunities
from sim.model.paths import LeadStages, stage_paths
from sim.model.qualification import Qualification, qualifier_role
from sim.model.record import FunnelCounters, MqlBook
from sim.model.team import Seat
from sim.scenario.schema import Scenario

__all__ = ["run_funnel"]


class _ColdLeads:
    """Leads that went cold waiting: counted, and sent back through nurture while it lets them."""

    def __init__(self, env, scenario: Scenario, book: MqlBook, u, cols: Columns, qualification: Qualification):
        self.env = env
        self.horizon = scenario.horizon_days
        self.nurture = scenario.nurture
        self.state = memoryview(book.state)
        self.state_time = memoryview(book.state_time)
        self.recycles = memoryview(book.recycles)
        self._u = [u.column(c) for c in cols.recycle] if self.nurture else []
        self.u_recycle = [memoryview(col) for col in self._u]
        self.qualification = qualification
        self.times: list[float] = []
        self.spell_start: list[float] = []  # nurture spells of cold leads, days
        self.spell_end: list[float] = []

    def went_cold(self, lead):
        now = self.env.now
        self.times.append(now)
        nur = self.nurture
        r = self.recycles[lead]
        if nur is None or r >= nur.max_recycles:
            self.state[lead] = S.LOST_COLD
            self.state_time[lead] = now
            return
        self.recycles[lead] = r + 1
        state, until, back = recycle(now, self.u_recycle[r][lead], nur)
        self.state[lead], self.state_time[lead] = state, until
        self.spell_start.append(now)
        self.spell_end.append(min(until, self.horizon))
        if back is not None and back < self.horizon:
            # back is now + the touch interval: wait the interval itself, so the clock reads back exactly.
            self.env.timeout(nur.touch_interval_days).callbacks.append(
                lambda _e, lead=lead: self.qualification.returned(lead))


def run_funnel(scenario: Scenario, mql_time: np.ndarray, intent: np.ndarray, score: np.ndarray, u: Uniforms,
               cols: Columns, seats: dict[str, list[Seat]], stages: LeadStages | None = None,
               arrival: np.ndarray | None = None) -> tuple[MqlBook, FunnelCounters]:
    """Run the MQLs (in order of ``mql_time``, with their intents, scores, uniforms, stage settings and arrivals)."""
    env = simpy.Environment()
    book = MqlBook.empty(len(mql_time))
    roles = scenario.roles
    cs_carries_care = roles.customer_success is not None and any(s.tenures for s in seats.get("customer_success", []))
    care = 0.0 if cs_carries_care else roles.ae.account_care_share
    opportunities = Opportunities(env, scenario, book, stage_paths(scenario.opportunities, intent, u, cols, stages),
                                  u, seats["ae"], selling_share=1.0 - care, arrival=arrival)
    role = qualifier_role(scenario)
    cold = None
    qualification = Qualification(env, scenario, book, mql_time, intent, score, u, seats[role], care,
                                  on_sql=opportunities.sql, on_cold=lambda lead: cold.went_cold(lead))
    cold = _ColdLeads(env, scenario, book, u, cols, qualification)
    qualification.start()
    opportunities.start()
    env.run(until=scenario.horizon_days)
    qualification.finish()
    opportunities.finish()
    # A nurture exit of a lead that went cold, which lies past the horizon, has not happened yet.
    later = np.isin(book.state, (S.NURTURE_DROPPED, S.NURTURE_EXPIRED)) & (book.state_time > scenario.horizon_days)
    book.state[later] = S.IN_NURTURE
    counters = FunnelCounters(
        qualifier_role=role, cs_carries_care=cs_carries_care, queue_days=qualification.queue_days,
        qualifier_busy_days=qualification.busy_days, sql_wait_days=opportunities.sql_wait_days,
        slot_days_used=opportunities.slot_days_used, cold_times=np.asarray(cold.times, dtype=float),
        recycled_start=np.asarray(cold.spell_start, dtype=float), recycled_end=np.asarray(cold.spell_end, dtype=float))
    return book, counters
