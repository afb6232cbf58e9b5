"""Opportunities: SQLs waiting for an AE slot, and the slots they hold (``docs/model.md``, 4).

An AE carries at most ``max_open_opportunities * (1 - account_care_share)`` deals (at
least one; see :func:`sim.model.team.slot_limit_steps`), growing with the ramp. An SQL
takes the free slot of the AE with the most free slots, or waits in order; it holds
the slot for the whole opportunity, whose end was fixed by its own uniforms
(:mod:`sim.model.paths`) and is decided when it takes the slot, the first stage's chance
decaying with the wait. AE seats are generator processes (hires, ramp, departures);
when an AE leaves, each open deal goes to the AE with the most free slots and a deal
that would have been won is lost with ``handover_penalty``, or is lost outright.
"""

from __future__ import annotations

from collections import deque

from sim.model import states as S
from sim.model.leads import Columns
from sim.model.paths import StagePaths
from sim.model.record import MqlBook
from sim.model.team import Seat, slot_limit_steps
from sim.scenario.schema import Scenario
from sim.scenario.units import HOURS_PER_DAY

__all__ = ["Opportunities"]


class _AESeat:
    __slots__ = ("seat", "employed", "limit", "open", "rep")

    def __init__(self, seat):
        self.seat = seat
        self.employed = False
        self.limit = 0
        self.open = set()
        self.rep = -1  # the rep in the seat now: a number per rep, in the order their tenures start


class Opportunities:
    """The AE slots of one replication.

    Args:
        env: the replication's SimPy environment.
        scenario: the scenario.
        book: the MQLs' book, filled here (opportunity start, outcome, handover).
        paths: the MQLs' stage paths, in book order.
        u: the MQLs' uniforms, in book order.
        seats: the AE seats.
        selling_share: the share of an AE's time left for deals (after account care).
        arrival: the MQLs' arrival times, in book order (read with an age effect only).

    Counters (read after the run): ``sql_wait_days``, ``slot_days_used``.
    """

    def __init__(self, env, scenario: Scenario, book: MqlBook, paths: StagePaths, u, seats: list[Seat],
                 selling_share: float, arrival=None):
        op = scenario.opportunities
        ae = scenario.roles.ae
        self.env = env
        self.horizon = scenario.horizon_days
        self.max_open = ae.max_open_opportunities
        self.ramp_months = ae.ramp_months
        self.selling_share = selling_share
        self.n_stages = len(op.stages)
        self.slot_decay = op.slot_decay
        self.handover = op.on_rep_leaving == "handover"
        self.handover_penalty = op.handover_penalty
        age = op.age_effect
        self.age_effect = age is not None and arrival is not None
        if self.age_effect:
            self.arrival = memoryview(arrival)
            self.age_half_life = age.half_life_days
            self.age_shape = age.shape
            self.age_stretch = age.duration_per_age_day

        # Per-lead inputs, read once per opportunity.
        self._paths = paths
        self._u_handover = u.column(Columns.HANDOVER)
        self.first_stage_days = memoryview(paths.first_stage_days)
        self.first_p = memoryview(paths.first_p)
        self.u_first = memoryview(paths.u_first)
        self.end_stage = memoryview(paths.end_stage)
        self.end_days = memoryview(paths.end_days)
        self.u_handover = memoryview(self._u_handover)

        # The book, written here.
        self.state = memoryview(book.state)
        self.state_time = memoryview(book.state_time)
        self.sql_time = memoryview(book.sql_time)
        self.opp_start = memoryview(book.opp_start)
        self.fail_stage = memoryview(book.fail_stage)
        self.wins = memoryview(book.wins)
        self.handed_over = memoryview(book.handed_over)
        self.owner = memoryview(book.owner)
        self.reps_started = 0
        self.first_decay = memoryview(book.first_decay)

        self.queue = deque()
        self.n_waiting = 0
        self.last_change = 0.0
        self.seats = [_AESeat(s) for s in seats]
        self.seat_of: dict[int, _AESeat] = {}
        self.sql_wait_days = 0.0
        self.slot_days_used = 0.0

    def start(self) -> None:
        """Start the AE seats' processes."""
        for seat in self.seats:
            if seat.seat.tenures:
                self.env.process(self._ae_seat(seat))

    def _waiting_changes(self, delta):
        now = self.env.now
        self.sql_wait_days += self.n_waiting * (now - self.last_change)
        self.last_change = now
        self.n_waiting += delta

    def sql(self, lead):
        """A lead has qualified: it takes a free slot, or waits for one."""
        if not self.queue:  # nobody ahead: take a free slot at once if there is one
            seat = self._free_seat()
            if seat is not None:
                self._open(lead, seat)
                return
        self.state[lead] = S.WAITING_AE
        self.queue.append(lead)
        self._waiting_changes(1)

    def _free_seat(self):
        """The employed AE with the most free slots, or None when every slot is taken."""
        best, best_free = None, 0
        for seat in self.seats:
            if seat.employed:
                free = seat.limit - len(seat.open)
                if free > best_free:
                    best, best_free = seat, free
        return best

    def _assign(self):
        queue = self.queue
        while queue:
            seat = self._free_seat()
            if seat is None:
                return
            lead = queue.popleft()
            self._waiting_changes(-1)
            self._open(lead, seat)

    def _open(self, lead, seat):
        env = self.env
        now = env.now
        self.state[lead] = S.OPEN_OPPORTUNITY
        self.opp_start[lead] = now
        p = self.first_p[lead]
        if self.slot_decay is not None:
            # sim.model.response.wait_decay, inlined: a scalar on the per-opportunity path
            wait_h = (now - self.sql_time[lead]) * HOURS_PER_DAY
            d = (1.0 + wait_h / self.slot_decay.half_life_hours) ** -self.slot_decay.shape
            self.first_decay[lead] = d
            p *= d
        stretch = 1.0
        if self.age_effect:
            # sim.model.paths.age_decay and age_stretch, inlined: the lead's age when first worked by an AE
            age = max(now - self.arrival[lead], 0.0)
            if self.age_half_life is not None:
                p *= (1.0 + age / self.age_half_life) ** -self.age_shape
            stretch = 1.0 + self.age_stretch * age
        if self.u_first[lead] >= p:
            k, end, won = 0, self.first_stage_days[lead], False
        else:
            k, end = self.end_stage[lead], self.end_days[lead]
            won = k == self.n_stages
        if stretch != 1.0:
            end *= stretch
        self.fail_stage[lead] = k
        self.wins[lead] = won
        seat.open.add(lead)
        self.seat_of[lead] = seat
        self.owner[lead] = seat.rep
        env.timeout(end).callbacks.append(lambda _e, lead=lead: self._close(lead))

    def _close(self, lead):
        if self.state[lead] != S.OPEN_OPPORTUNITY:
            return  # lost when its rep left
        seat = self.seat_of.pop(lead)
        seat.open.discard(lead)
        now = self.env.now
        self.slot_days_used += now - self.opp_start[lead]
        self.state[lead] = S.WON if self.wins[lead] else S.LOST_PIPELINE
        self.state_time[lead] = now
        self._assign()

    def _ae_seat(self, ae: _AESeat):
        """An AE seat: its reps in turn; slots grow with ramp; open deals move when a rep leaves."""
        env = self.env
        full = self.max_open * self.selling_share
        for ten in ae.seat.tenures:
            if ten.start >= self.horizon:
                return
            ae.employed = True
            ae.rep, self.reps_started = self.reps_started, self.reps_started + 1
            for t, limit in slot_limit_steps(ten, full, self.ramp_months, min(ten.end, self.horizon)):
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
                self.seat_of.pop(lead)
                self.slot_days_used += now - self.opp_start[lead]
                self.state[lead] = S.LOST_REP_LEFT
                self.state_time[lead] = now
                continue
            target.open.add(lead)
            self.seat_of[lead] = target
            self.owner[lead] = target.rep
            self.handed_over[lead] = True
            if self.wins[lead] and self.u_handover[lead] < self.handover_penalty:
                self.wins[lead] = False  # lost at the last stage, at its planned close
                self.fail_stage[lead] = self.n_stages - 1
        ae.open.clear()

    def finish(self):
        """At the horizon: count the SQL waits and the slot-days still open."""
        self._waiting_changes(0)
        for lead in self.seat_of:
            self.slot_days_used += self.horizon - self.opp_start[lead]
