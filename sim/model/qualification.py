"""Qualification: the queue of MQLs and the reps who work it, on SimPy's event loop (``docs/model.md``, 3).

Each qualifying seat (SDRs, or AEs when there are none) takes MQLs from the queue in
the scenario's discipline. MQLs are admitted lazily: an arrival costs an event only
when a rep is idle to take it; otherwise it joins the queue, with its own arrival
time, when a rep next looks (or when the reaper checks for cold leads). A reaper
process sends MQLs that waited ``max_wait_days`` away (``on_cold``) at exactly that
moment. The reps' side runs on event callbacks rather than generator processes: it is
the hot path, and a callback costs a fraction of a process resume.

A lead is known by its position in the MQL stream (its index in the
:class:`~sim.model.record.MqlBook`), read and written through memoryviews.
"""

from __future__ import annotations

import heapq
import math
import sys
from collections import deque

import numpy as np

from sim.model import states as S
from sim.model.leads import Columns, Uniforms
from sim.model.record import MqlBook
from sim.model.team import MIN_RAMP_MONTHS, Seat
from sim.scenario.schema import Scenario
from sim.scenario.units import DAYS_PER_MONTH, HOURS_PER_DAY

__all__ = ["MIN_SERVICE_PRODUCTIVITY", "Qualification", "qualifier_role"]

MIN_SERVICE_PRODUCTIVITY = 0.1  # a brand-new rep works MQLs at a tenth of full speed


def qualifier_role(scenario: Scenario) -> str:
    """Who qualifies MQLs: ``sdr`` when the role exists, otherwise the AEs themselves."""
    return "sdr" if scenario.roles.sdr is not None else "ae"


class _Server:
    """A qualifying seat's state: which tenure is working, on which lead, or idle."""

    __slots__ = ("seat", "tenure_index", "tenure", "lead", "qualifies", "idle", "on_done", "busy_until", "ramp_end")

    def __init__(self, seat):
        self.seat = seat
        self.tenure_index = -1
        self.tenure = None
        self.lead = -1
        self.qualifies = False
        self.idle = False
        self.on_done = None
        self.busy_until = 0.0  # end of the tenure, or the horizon
        self.ramp_end = -math.inf  # while ramping, work is slower


class Qualification:
    """The qualification queue of one replication.

    Args:
        env: the replication's SimPy environment.
        scenario: the scenario.
        book: the MQLs' book, filled here (state, queue and contact times, disqualifications).
        mql_time: when each MQL joins the queue first, in book order (non-decreasing).
        intent, score, u: the MQLs' intents, observed scores and uniforms, in book order.
        seats: the qualifying role's seats.
        care_share: the share of an AE's time that goes to account care (for AEs who qualify).
        on_sql: called as ``on_sql(lead)`` when a lead qualifies (its ``sql_time`` is set).
        on_cold: called as ``on_cold(lead)`` when a lead waited ``max_wait_days``.

    Counters (read after the run): ``queue_days``, ``busy_days``.
    """

    def __init__(self, env, scenario: Scenario, book: MqlBook, mql_time: np.ndarray, intent: np.ndarray,
                 score: np.ndarray, u: Uniforms, seats: list[Seat], care_share: float, on_sql, on_cold):
        q = scenario.qualification
        roles = scenario.roles
        self.env = env
        self.horizon = scenario.horizon_days
        role = roles.sdr if roles.sdr is not None else roles.ae
        share = 1.0 - role.prospecting_share - (0.0 if roles.sdr is not None else care_share)
        self.ramp_days = role.ramp_months * DAYS_PER_MONTH
        self.ramp_ok = role.ramp_months > MIN_RAMP_MONTHS
        self.seats = seats
        self.on_sql = on_sql
        self.on_cold = on_cold

        # Per-lead inputs, read once per contact.
        self._work_days = q.work_hours.ppf(u.column(Columns.WORK)) / (role.hours_per_day * share)
        self._p_qualify = q.p_qualify.at(intent)
        self._u_qualify = u.column(Columns.QUALIFY)
        self._score = np.ascontiguousarray(score) if q.discipline == "score" else None
        self.work_days = memoryview(self._work_days)
        self.p_qualify = memoryview(self._p_qualify)
        self.u_qualify = memoryview(self._u_qualify)
        self.score = memoryview(self._score) if self._score is not None else None
        # A half-life too small for days (below 1e-307 hours) is the smallest one that divides: decay at once.
        self.decay_half_life_days = max(q.decay.half_life_hours / HOURS_PER_DAY, sys.float_info.min) \
            if q.decay else None
        self.decay_shape = q.decay.shape if q.decay else 0.0
        self.max_wait = q.max_wait_days

        # The book, written here.
        self.state = memoryview(book.state)
        self.state_time = memoryview(book.state_time)
        self.queued_at = memoryview(book.queued_at)
        self.contact_time = memoryview(book.contact_time)
        self.work_end = memoryview(book.work_end)
        self.sql_time = memoryview(book.sql_time)

        self._pending = np.ascontiguousarray(mql_time, dtype=float)
        self.pending_t = memoryview(self._pending)  # the index of a pending MQL is its position here
        self.n_pending = len(self._pending)
        self.next_pending = 0
        self.discipline = q.discipline
        self.fifo = deque()
        self._deque_pop = self.fifo.popleft if q.discipline == "fifo" else self.fifo.pop
        self._pop_waiting = {"score": self._pop_score, "sla": self._pop_sla}.get(q.discipline, self._pop_deque)
        self.heap: list = []  # score: (-score, queued at, lead); sla: the late lane, (-queued at, lead)
        self.sla_days = q.sla_hours / HOURS_PER_DAY
        self.idle: list[_Server] = []
        self.n_idle = 0
        self.feeder_armed = False
        self.reap = deque()
        self.reaper_ev = None
        self.queue_days = 0.0  # MQL-days spent waiting, for the mean queue length
        self.busy_days = 0.0

    def start(self) -> None:
        """Put the seats' reps to work and start the reaper."""
        for seat in self.seats:
            server = _Server(seat)
            server.on_done = lambda _e, server=server: self._done(server)
            self._next_tenure(server)
        if self.max_wait is not None:
            self.env.process(self.reaper())

    # -- the queue -----------------------------------------------------------------------

    def push_mql(self, lead, t, now):
        """An MQL joins the queue at time ``t`` (not later than ``now``)."""
        self.queued_at[lead] = t
        if self.n_idle and t == now:
            idle = self.idle
            while True:
                server = idle.pop()
                if server.idle:
                    server.idle = False
                    self.n_idle -= 1
                    self._start_work(server, lead, now)
                    return
        self.state[lead] = S.WAITING_SDR
        if self.discipline == "score":
            heapq.heappush(self.heap, (-self.score[lead], t, lead))
        elif self.discipline == "sla" and t > self.pending_t[lead]:
            # Queued later than its first MQL time (pending_t, by lead): back from nurture, past its SLA already.
            heapq.heappush(self.heap, (-t, lead))
        else:
            self.fifo.append((lead, t))
        if self.max_wait is not None:
            self.reap.append((t + self.max_wait, lead, t))
            if self.reaper_ev is not None:
                ev, self.reaper_ev = self.reaper_ev, None
                ev.succeed()

    def returned(self, lead):
        """A lead back from nurture joins the queue now, behind the MQLs that arrived before it."""
        now = self.env.now
        self._admit(now)
        self.push_mql(lead, now, now)
        if self.n_idle:  # an idle rep is busy now only if push_mql handed it this lead
            self._schedule_feeder()

    def _admit(self, now):
        """Move the pre-computed MQLs that have arrived by ``now`` into the queue."""
        times = self.pending_t
        i = self.next_pending
        n = self.n_pending
        if i < n and times[i] <= now:
            push = self.push_mql
            while i < n and times[i] <= now:
                push(i, times[i], now)
                i += 1
            self.next_pending = i

    def _pop_deque(self, now):
        """Next MQL for ``fifo`` (oldest first) or ``lifo`` (newest first); -1 if none."""
        i = self.next_pending
        if i < self.n_pending and self.pending_t[i] <= now:
            self._admit(now)
        fifo, state, queued_at, pop = self.fifo, self.state, self.queued_at, self._deque_pop
        while fifo:
            lead, t = pop()
            if state[lead] == S.WAITING_SDR and queued_at[lead] == t:  # else gone cold, or re-queued
                return lead
        return -1

    def _pop_score(self, now):
        """Next MQL for ``score`` (highest observed score first); -1 if none."""
        i = self.next_pending
        if i < self.n_pending and self.pending_t[i] <= now:
            self._admit(now)
        heap, state, queued_at = self.heap, self.state, self.queued_at
        while heap:
            _, t, lead = heapq.heappop(heap)
            if state[lead] == S.WAITING_SDR and queued_at[lead] == t:
                return lead
        return -1

    def _pop_sla(self, now):
        """Next MQL for ``sla``: the oldest still within the SLA, else the late lane newest first; -1 if none.

        The queue is in order of joining it, which for a first-time MQL is the order of
        its SLA deadline: the leads that waited past ``sla_hours`` are at its front, and
        move to the late lane here, where the most recent to join the queue goes first.
        """
        i = self.next_pending
        if i < self.n_pending and self.pending_t[i] <= now:
            self._admit(now)
        fifo, heap, state, queued_at = self.fifo, self.heap, self.state, self.queued_at
        late_from = now - self.sla_days
        while fifo:
            lead, t = fifo.popleft()
            if state[lead] != S.WAITING_SDR or queued_at[lead] != t:
                continue  # gone cold, or re-queued
            if t >= late_from:
                return lead
            heapq.heappush(heap, (-t, lead))
        while heap:
            neg_t, lead = heapq.heappop(heap)
            if state[lead] == S.WAITING_SDR and queued_at[lead] == -neg_t:
                return lead
        return -1

    # -- the reps --------------------------------------------------------------------------

    def _schedule_feeder(self):
        """While a rep is idle, wake at the next pre-computed MQL arrival."""
        if self.feeder_armed or not self.n_idle or self.next_pending >= self.n_pending:
            return
        self.feeder_armed = True
        delay = max(self.pending_t[self.next_pending] - self.env.now, 0.0)
        self.env.timeout(delay).callbacks.append(self._feeder_fired)

    def _feeder_fired(self, _event):
        self.feeder_armed = False
        self._admit(self.env.now)
        self._schedule_feeder()

    def _next_tenure(self, server):
        """Move a seat to its next rep (if any starts within the horizon)."""
        server.tenure_index += 1
        tenures = server.seat.tenures
        # A rep who came and went while the previous one finished an MQL never worked.
        while server.tenure_index < len(tenures) and tenures[server.tenure_index].end <= self.env.now:
            server.tenure_index += 1
        if server.tenure_index >= len(tenures) or tenures[server.tenure_index].start >= self.horizon:
            server.tenure = None
            return
        ten = tenures[server.tenure_index]
        server.tenure = ten
        server.busy_until = min(ten.end, self.horizon)
        ramping = not ten.ramped_at_start and self.ramp_ok
        server.ramp_end = ten.start + self.ramp_days if ramping else -math.inf
        env = self.env
        env.timeout(max(ten.start - env.now, 0.0)).callbacks.append(lambda _e: self._look(server, env.now))
        if ten.end < self.horizon:
            env.timeout(ten.end - env.now).callbacks.append(lambda _e: self._tenure_ended(server, ten))

    def _tenure_ended(self, server, ten):
        if server.idle and server.tenure is ten:
            server.idle = False
            self.n_idle -= 1
            self._next_tenure(server)
        # A busy rep finishes the MQL in hand; _look then moves the seat on.

    def _look(self, server, now):
        """A free rep takes the next MQL, or waits idle for one."""
        if now >= server.tenure.end:
            self._next_tenure(server)
            return
        lead = self._pop_waiting(now)
        if lead < 0:
            server.idle = True
            self.idle.append(server)
            self.n_idle += 1
            self._schedule_feeder()
            return
        self.queue_days += now - self.queued_at[lead]
        self._start_work(server, lead, now)

    def _start_work(self, server, lead, now):
        self.state[lead] = S.IN_QUALIFICATION
        wait = now - self.queued_at[lead]
        self.contact_time[lead] = now  # a lead is contacted at most once; its wait is now - queued_at
        p = self.p_qualify[lead]
        if self.decay_half_life_days is not None:
            p *= (1.0 + wait / self.decay_half_life_days) ** -self.decay_shape
        server.qualifies = self.u_qualify[lead] < p
        duration = self.work_days[lead]
        if now < server.ramp_end:
            duration /= max((now - server.tenure.start) / self.ramp_days, MIN_SERVICE_PRODUCTIVITY)
        # Busy time counts within the rep's tenure (a leaving rep finishes the MQL in hand).
        left = server.busy_until - now
        busy = duration if duration <= left else max(left, 0.0)
        self.busy_days += busy
        self.work_end[lead] = now + busy
        server.lead = lead
        self.env.timeout(duration).callbacks.append(server.on_done)

    def _done(self, server):
        lead = server.lead
        now = self.env.now
        if server.qualifies:
            self.sql_time[lead] = now
            self.on_sql(lead)
        else:
            self.state[lead] = S.DISQUALIFIED
            self.state_time[lead] = now
        self._look(server, now)

    def reaper(self):
        """MQLs not contacted within ``max_wait_days`` go cold at exactly that moment."""
        env = self.env
        reap = self.reap
        state = self.state
        queued_at = self.queued_at
        max_wait = self.max_wait
        pending_t = self.pending_t
        while True:
            while reap and (state[reap[0][1]] != S.WAITING_SDR or queued_at[reap[0][1]] != reap[0][2]):
                reap.popleft()
            expiry = reap[0][0] if reap else math.inf
            if self.next_pending < self.n_pending:
                expiry = min(expiry, pending_t[self.next_pending] + max_wait)
            if expiry == math.inf:
                self.reaper_ev = env.event()
                yield self.reaper_ev
                continue
            if expiry > env.now:
                yield env.timeout(expiry - env.now)
                continue
            self._admit(env.now)
            while reap and reap[0][0] <= env.now:
                _, lead, t = reap.popleft()
                if state[lead] == S.WAITING_SDR and queued_at[lead] == t:
                    self.queue_days += max_wait
                    self.on_cold(lead)

    def finish(self):
        """At the horizon: admit the last arrivals and count the waits still open."""
        self._admit(self.horizon)
        state, queued_at = self.state, self.queued_at
        if self.discipline == "score":
            entries = [(x[2], x[1]) for x in self.heap]
        elif self.discipline == "sla":
            entries = [*self.fifo, *((x[1], -x[0]) for x in self.heap)]
        else:
            entries = self.fifo
        for lead, t in entries:
            if state[lead] == S.WAITING_SDR and queued_at[lead] == t:
                self.queue_days += self.horizon - queued_at[lead]
