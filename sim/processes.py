"""The capacity-limited part of the funnel on SimPy's event loop (MODEL.md 2 to 5).

Only MQLs enter here, at their pre-computed MQL times. Each qualifying seat (SDRs,
or AEs when there are none) takes MQLs from the queue in the scenario's discipline;
an arrival costs an event only when a rep is idle to take it, otherwise it joins
the queue, with its own arrival time, when a rep next looks. A reaper process sends
MQLs that waited ``max_wait_days`` to nurture or to the lost-cold state at exactly
that moment. SQLs wait for an AE slot and hold it for the whole opportunity, whose
stage path was fixed by the lead's own uniforms when it took the slot; AE seats are
generator processes (hires, ramp, departures). Per-lead records live in plain lists
because scalar access to them is the hot path.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
import simpy

from sim import states as S
from sim.config import DAYS_PER_MONTH, HOURS_PER_DAY, Scenario
from sim.leads import Columns, Leads
from sim.team import MIN_RAMP_MONTHS, Seat, slot_limit_steps

__all__ = ["Funnel"]

MIN_SERVICE_PRODUCTIVITY = 0.1  # a brand-new rep works MQLs at a tenth of full speed


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


class _AESeat:
    __slots__ = ("seat", "employed", "limit", "open")

    def __init__(self, seat):
        self.seat = seat
        self.employed = False
        self.limit = 0
        self.open = set()


class Funnel:
    """One replication's SimPy model of qualification and opportunities."""

    def __init__(self, scenario: Scenario, leads: Leads, cols: Columns, seats: dict[str, list[Seat]],
                 members: np.ndarray, mql_times: np.ndarray):
        """Prepare the run for the leads ``members``, which become MQLs at ``mql_times``.

        ``members`` are in time order; inside the funnel a lead is known by its
        position in ``members`` (its local index), which keeps the per-lead lists as
        short as the MQL stream.
        """
        self.sc = scenario
        self.env = simpy.Environment()
        self.horizon = scenario.horizon_days
        self.members = members
        self.pending_t = mql_times.tolist()  # the local index of a pending MQL is its position here
        n = len(members)
        self.n_pending = n
        u = leads.u[members]
        q = scenario.qualification
        op = scenario.opportunities
        roles = scenario.roles
        self.cs_carries_care = roles.customer_success is not None and any(
            s.tenures for s in seats.get("customer_success", [])
        )
        care = 0.0 if self.cs_carries_care else roles.ae.account_care_share
        self.ae_selling_share = 1.0 - care

        # Who qualifies: SDRs when the role exists, otherwise the AEs themselves.
        if roles.sdr is not None:
            self.q_role_name, self.q_role = "sdr", roles.sdr
            q_share = 1.0 - roles.sdr.prospecting_share
        else:
            self.q_role_name, self.q_role = "ae", roles.ae
            q_share = 1.0 - roles.ae.prospecting_share - care
        self.q_ramp_days = self.q_role.ramp_months * DAYS_PER_MONTH
        self.q_ramp_ok = self.q_role.ramp_months > MIN_RAMP_MONTHS
        work_days = q.work_hours.ppf(u[:, Columns.WORK]) / (self.q_role.hours_per_day * q_share)

        # Per-lead values the hot path reads, as Python lists.
        intent = leads.intent[members]
        self.score = leads.score[members].tolist() if q.discipline == "score" else None
        self.work_days = work_days.tolist()
        self.p_qualify = q.p_qualify.at(intent).tolist()
        self.u_qualify = u[:, Columns.QUALIFY].tolist()
        self.decay_half_life_days = q.decay.half_life_hours / HOURS_PER_DAY if q.decay else None
        self.decay_shape = q.decay.shape if q.decay else 0.0
        self.max_wait = q.max_wait_days

        stages = op.stages
        durations = np.column_stack(
            [st.duration_days.ppf(u[:, c]) for st, c in zip(stages, cols.stage_duration, strict=True)]
        )
        advance_p = np.column_stack([st.advance.at(intent) for st in stages])
        passed = u[:, cols.stage_advance] < advance_p
        # Stages passed in a row after the first (whose chance also decays with the slot wait).
        after_first = np.cumprod(passed[:, 1:], axis=1).sum(axis=1) if len(stages) > 1 else np.zeros(n, dtype=int)
        # The path once the first stage is passed: where it ends (the stage it is lost
        # in, or n_stages when won) and when, from the start of the opportunity.
        path_end = 1 + after_first.astype(int)
        cum = np.cumsum(durations, axis=1)
        self.first_stage_days = cum[:, 0].tolist()
        self.path_end = path_end.tolist()
        self.path_days = cum[np.arange(n), np.minimum(path_end, len(stages) - 1)].tolist()
        self.first_p = advance_p[:, 0].tolist()
        self.u_first = u[:, cols.stage_advance[0]].tolist()
        self.u_handover = u[:, Columns.HANDOVER].tolist()
        self.n_stages = len(stages)
        self.slot_decay = op.slot_decay
        self.handover = op.on_rep_leaving == "handover"
        self.handover_penalty = op.handover_penalty

        self.nurture = scenario.nurture
        self.recycle_u = [u[:, c].tolist() for c in cols.recycle] if self.nurture else []

        # Records.
        nan = math.nan
        self.state = [S.NOT_MQL] * n
        self.state_time = [nan] * n  # when a terminal state is reached (may lie past the horizon)
        self.queued_at = [nan] * n
        self.contact_time = [nan] * n
        self.sql_time = [nan] * n
        self.opp_start = [nan] * n
        self.opp_wins = [False] * n
        self.opp_fail_stage = [-1] * n  # stage where it was lost; n_stages when won
        self.handed_over = [False] * n
        self.first_decay = [1.0] * n
        self.recycles = [0] * n
        self.cold_events = 0
        self.cold_times: list[float] = []
        self.recycled_nurture_start: list[float] = []  # nurture spells of cold leads, days
        self.recycled_nurture_end: list[float] = []
        self.q_busy_days = 0.0
        self.opp_days = 0.0

        # Qualification queue. MQLs are admitted lazily: an arrival needs an event only
        # when a rep is idle to take it; otherwise it joins the queue, with its own
        # arrival time, when a rep next looks (or when the reaper checks for cold leads).
        self.discipline = q.discipline
        self.fifo = deque()
        self._deque_pop = self.fifo.popleft if q.discipline == "fifo" else self.fifo.pop
        self._pop_waiting = self._pop_score if q.discipline == "score" else self._pop_deque
        self.heap: list = []
        self.next_pending = 0
        self.queue_days = 0.0  # MQL-days spent waiting, for the mean queue length
        self.idle: list[_Server] = []
        self.n_idle = 0
        self.feeder_armed = False
        self.reap = deque()
        self.reaper_ev = None

        # Opportunity slots.
        self.ae_queue = deque()
        self.n_sql_waiting = 0
        self.ae_area = 0.0
        self.ae_last = 0.0
        self.ae_seats = [_AESeat(s) for s in seats["ae"]]
        self.opp_seat: dict[int, _AESeat] = {}
        self.q_seats = seats[self.q_role_name]

    # -- qualification queue ------------------------------------------------------------

    def push_mql(self, lead, t, now):
        """An MQL joins the qualification queue at time ``t`` (not later than ``now``)."""
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
        else:
            self.fifo.append((lead, t))
        if self.max_wait is not None:
            self.reap.append((t + self.max_wait, lead, t))
            if self.reaper_ev is not None:
                ev, self.reaper_ev = self.reaper_ev, None
                ev.succeed()

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

    # The reps' side of the queue runs on event callbacks rather than generator
    # processes: it is the hot path, and a callback costs a fraction of a process resume.

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
        ramping = not ten.ramped_at_start and self.q_ramp_ok
        server.ramp_end = ten.start + self.q_ramp_days if ramping else -math.inf
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
            duration /= max((now - server.tenure.start) / self.q_ramp_days, MIN_SERVICE_PRODUCTIVITY)
        # Busy time counts within the rep's tenure (a leaving rep finishes the MQL in hand).
        left = server.busy_until - now
        self.q_busy_days += duration if duration <= left else max(left, 0.0)
        server.lead = lead
        self.env.timeout(duration).callbacks.append(server.on_done)

    def _done(self, server):
        lead = server.lead
        now = self.env.now
        if server.qualifies:
            self.sql_time[lead] = now
            self._sql(lead)
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
                    self._went_cold(lead)

    def _went_cold(self, lead):
        now = self.env.now
        self.cold_events += 1
        self.cold_times.append(now)
        nur = self.nurture
        r = self.recycles[lead]
        if nur is None or r >= nur.max_recycles:
            self.state[lead] = S.LOST_COLD
            self.state_time[lead] = now
            return
        self.recycles[lead] = r + 1
        # Back to nurture: the next touch brings it back as an MQL unless it drops out.
        if nur.touch_interval_days > nur.max_days:
            self.state[lead], self.state_time[lead] = S.NURTURE_EXPIRED, now + nur.max_days
        elif self.recycle_u[r][lead] < nur.dropout:
            self.state[lead], self.state_time[lead] = S.NURTURE_DROPPED, now + nur.touch_interval_days
        else:
            back = now + nur.touch_interval_days
            self.state[lead], self.state_time[lead] = S.IN_NURTURE, back
            self._nurture_spell(now, back)
            if back < self.horizon:
                self.env.timeout(nur.touch_interval_days).callbacks.append(
                    lambda _e, lead=lead: self._recycled(lead)
                )
            return
        self._nurture_spell(now, self.state_time[lead])

    def _recycled(self, lead):
        now = self.env.now
        self._admit(now)  # earlier arrivals keep their place in the queue
        self.push_mql(lead, now, now)
        if self.n_idle:  # an idle rep is busy now only if push_mql handed it this lead
            self._schedule_feeder()

    def _nurture_spell(self, start, end):
        self.recycled_nurture_start.append(start)
        self.recycled_nurture_end.append(min(end, self.horizon))

    # -- opportunities --------------------------------------------------------------------

    def _ae_change(self, delta):
        now = self.env.now
        self.ae_area += self.n_sql_waiting * (now - self.ae_last)
        self.ae_last = now
        self.n_sql_waiting += delta

    def _sql(self, lead):
        if not self.ae_queue:  # nobody ahead: take a free slot at once if there is one
            seat = self._free_seat()
            if seat is not None:
                self._open(lead, seat)
                return
        self.state[lead] = S.WAITING_AE
        self.ae_queue.append(lead)
        self._ae_change(1)

    def _free_seat(self):
        """The employed AE with the most free slots, or None when every slot is taken."""
        best, best_free = None, 0
        for seat in self.ae_seats:
            if seat.employed:
                free = seat.limit - len(seat.open)
                if free > best_free:
                    best, best_free = seat, free
        return best

    def _assign(self):
        queue = self.ae_queue
        while queue:
            seat = self._free_seat()
            if seat is None:
                return
            lead = queue.popleft()
            self._ae_change(-1)
            self._open(lead, seat)

    def _open(self, lead, seat):
        env = self.env
        now = env.now
        self.state[lead] = S.OPEN_OPPORTUNITY
        self.opp_start[lead] = now
        p = self.first_p[lead]
        if self.slot_decay is not None:
            # sim.response.wait_decay, inlined: a scalar on the per-opportunity path
            wait_h = (now - self.sql_time[lead]) * HOURS_PER_DAY
            d = (1.0 + wait_h / self.slot_decay.half_life_hours) ** -self.slot_decay.shape
            self.first_decay[lead] = d
            p *= d
        if self.u_first[lead] >= p:
            k, end, won = 0, self.first_stage_days[lead], False
        else:
            k, end = self.path_end[lead], self.path_days[lead]
            won = k == self.n_stages
        self.opp_fail_stage[lead] = k
        self.opp_wins[lead] = won
        seat.open.add(lead)
        self.opp_seat[lead] = seat
        env.timeout(end).callbacks.append(lambda _e, lead=lead: self._close(lead))

    def _close(self, lead):
        if self.state[lead] != S.OPEN_OPPORTUNITY:
            return  # lost when its rep left
        seat = self.opp_seat.pop(lead)
        seat.open.discard(lead)
        now = self.env.now
        self.opp_days += now - self.opp_start[lead]
        self.state[lead] = S.WON if self.opp_wins[lead] else S.LOST_PIPELINE
        self.state_time[lead] = now
        self._assign()

    def ae_seat(self, ae: _AESeat, max_open: int, ramp_months: float):
        """An AE seat: its reps in turn; slots grow with ramp; open deals move when a rep leaves."""
        env = self.env
        full = max_open * self.ae_selling_share
        for ten in ae.seat.tenures:
            if ten.start >= self.horizon:
                return
            ae.employed = True
            for t, limit in slot_limit_steps(ten, full, ramp_months, min(ten.end, self.horizon)):
                if t > env.now:
                    yield env.timeout(t - env.now)
                ae.limit = limit
                self._assign()
            if ten.end >= self.horizon:
                return
            yield env.timeout(ten.end - env.now)
            ae.employed = False
            ae.limit = 0
            self._rep_left(ae)

    def _rep_left(self, ae: _AESeat):
        now = self.env.now
        for lead in sorted(ae.open):
            target = self._free_seat() if self.handover else None
            if target is None:
                self.opp_seat.pop(lead)
                self.opp_days += now - self.opp_start[lead]
                self.state[lead] = S.LOST_REP_LEFT
                self.state_time[lead] = now
                continue
            target.open.add(lead)
            self.opp_seat[lead] = target
            self.handed_over[lead] = True
            if self.opp_wins[lead] and self.u_handover[lead] < self.handover_penalty:
                self.opp_wins[lead] = False  # lost at the last stage, at its planned close
                self.opp_fail_stage[lead] = self.n_stages - 1
        ae.open.clear()

    # -- run ------------------------------------------------------------------------------

    def full(self, name: str, size: int, fill=np.nan) -> np.ndarray:
        """A per-lead record expanded from local indices to all ``size`` leads."""
        values = np.asarray(getattr(self, name))
        out = np.full(size, fill, dtype=values.dtype if values.size else float)
        out[self.members] = values
        return out

    def run(self):
        """Run to the horizon."""
        env = self.env
        for seat in self.q_seats:
            server = _Server(seat)
            server.on_done = lambda _e, server=server: self._done(server)
            self._next_tenure(server)
        if self.max_wait is not None:
            env.process(self.reaper())
        ae = self.sc.roles.ae
        for seat in self.ae_seats:
            if seat.seat.tenures:
                env.process(self.ae_seat(seat, ae.max_open_opportunities, ae.ramp_months))
        env.run(until=self.horizon)
        self._admit(self.horizon)
        state, queued_at = self.state, self.queued_at
        entries = self.fifo if self.discipline != "score" else ((x[2], x[1]) for x in self.heap)
        for lead, t in entries:
            if state[lead] == S.WAITING_SDR and queued_at[lead] == t:
                self.queue_days += self.horizon - queued_at[lead]
        self._ae_change(0)
        # Open opportunities' slot-days up to the horizon.
        for lead in self.opp_seat:
            self.opp_days += self.horizon - self.opp_start[lead]
