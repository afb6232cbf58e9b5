"""What one replication produced, as plain arrays and counters: the input of the measures.

:class:`MqlBook` holds one entry per MQL (a lead that reached the qualification queue
within the horizon), in order of first MQL time; the event loop fills it through
memoryviews, which read and write a numpy array about as fast as a list and take a
quarter of its memory. :class:`Record` holds the rest: the plan, the seats, the
arrivals by channel and month, where each lead ended, the loop's counters and the
installed base; per-lead arrival times and intents only when lead records are asked
for (a million leads are then 26 MB more). Nothing in a record draws random numbers or changes once made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.model import states as S
from sim.model.leads import Columns, Uniforms
from sim.model.months import IntervalMonths
from sim.model.paths import LeadStages
from sim.model.revenue import InstalledBase
from sim.model.team import Seat
from sim.scenario.plan import Plan
from sim.scenario.schema import Scenario

__all__ = ["FunnelCounters", "LeadDetail", "MqlBook", "Record"]


@dataclass
class MqlBook:
    """Per MQL, what happened to it (times in days; NaN: did not happen).

    Attributes:
        state: where it is at the horizon (a code of :mod:`sim.model.states`).
        state_time: when it reached a final state (may lie past the horizon).
        queued_at: when it last joined the qualification queue.
        contact_time: when a rep first worked it (a lead is contacted at most once).
        work_end: when the rep's work on it ended, or the rep's tenure or the horizon did
            (the work counted as the rep's busy time).
        sql_time: when it qualified.
        opp_start: when it took an AE slot.
        fail_stage: the stage its opportunity was lost in; the number of stages when
            won; -1 without an opportunity.
        wins: whether its opportunity is won at its planned close.
        handed_over: whether its opportunity changed hands when an AE left.
        owner: the AE rep who held its opportunity last (a number per rep, in the order their
            tenures started; -1 without an opportunity).
        first_decay: the slot-wait decay of its first stage's chance.
        recycles: times it went cold and came back from nurture.
    """

    state: np.ndarray
    state_time: np.ndarray
    queued_at: np.ndarray
    contact_time: np.ndarray
    work_end: np.ndarray
    sql_time: np.ndarray
    opp_start: np.ndarray
    fail_stage: np.ndarray
    wins: np.ndarray
    handed_over: np.ndarray
    owner: np.ndarray
    first_decay: np.ndarray
    recycles: np.ndarray

    @classmethod
    def empty(cls, m: int) -> MqlBook:
        """A book for ``m`` MQLs before anything happened to them."""

        def times():
            return np.full(m, np.nan)

        return cls(state=np.full(m, S.NOT_MQL, dtype=np.int8), state_time=times(), queued_at=times(),
                   contact_time=times(), work_end=times(), sql_time=times(), opp_start=times(),
                   fail_stage=np.full(m, -1, dtype=np.int8), wins=np.zeros(m, dtype=bool),
                   handed_over=np.zeros(m, dtype=bool), owner=np.full(m, -1, dtype=np.int32),
                   first_decay=np.ones(m), recycles=np.zeros(m, dtype=np.int8))


@dataclass
class FunnelCounters:
    """What the event loop measured over time.

    Attributes:
        qualifier_role: who qualified MQLs (``sdr``, or ``ae`` without SDRs).
        cs_carries_care: whether customer success carried the account care.
        queue_days: MQL-days spent waiting for first contact.
        qualifier_busy_days: rep-days spent working MQLs, within the reps' tenures.
        sql_wait_days: SQL-days spent waiting for an AE slot.
        slot_days_used: AE slot-days held by opportunities.
        cold_times: when each lead went cold waiting (a lead that came back may go cold again).
        recycled_start, recycled_end: the nurture spells of leads that went cold.
    """

    qualifier_role: str
    cs_carries_care: bool
    queue_days: float = 0.0
    qualifier_busy_days: float = 0.0
    sql_wait_days: float = 0.0
    slot_days_used: float = 0.0
    cold_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    recycled_start: np.ndarray = field(default_factory=lambda: np.zeros(0))
    recycled_end: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class LeadDetail:
    """Per lead (every lead that arrived, in order of arrival within sources), for lead records."""

    channel: np.ndarray
    arrival: np.ndarray
    intent: np.ndarray
    score: np.ndarray
    segment: np.ndarray  # the segment's code within its channel (sim.model.leads.segment_names)


@dataclass
class Record:
    """Everything the measures read of one replication.

    Attributes:
        scenario, plan: what was simulated.
        seats: per defined role, its seats and their reps' tenures.
        cols: where each uniform sits in a row of ``mql_u``.
        channel_names: the channels by code (the scenario's, then ``outbound``).
        leads: how many leads arrived; ``lead_months`` how many by channel (rows) and month.
        state: per lead, where it is at the horizon.
        nurture: the months the leads below the threshold first spent in nurture, by month.
        mqls: the leads (by index in order of arrival within sources) that reached the
            qualification queue, in order of first MQL time; ``mql_time``, ``mql_channel``,
            ``mql_intent``, ``mql_score``, ``mql_touch`` (the touch at which it became an MQL, 0
            on arrival), ``mql_u`` (the uniforms the measures read), ``mql_segment`` (the
            segment's code in its channel), ``mql_arrival`` (the lead's arrival), ``mql_stages``
            (their stage settings, :class:`~sim.model.paths.LeadStages`) and ``book`` are aligned with it.
        counters: the event loop's :class:`FunnelCounters`.
        installed_base: the customers at the start.
        detail: per-lead arrays, when lead records were asked for.
    """

    scenario: Scenario
    plan: Plan
    seats: dict[str, list[Seat]]
    cols: Columns
    channel_names: list[str]
    leads: int
    lead_months: np.ndarray
    state: np.ndarray
    nurture: IntervalMonths
    mqls: np.ndarray
    mql_time: np.ndarray
    mql_channel: np.ndarray
    mql_intent: np.ndarray
    mql_score: np.ndarray
    mql_touch: np.ndarray
    mql_u: Uniforms
    mql_segment: np.ndarray
    mql_arrival: np.ndarray
    mql_stages: LeadStages
    book: MqlBook
    counters: FunnelCounters
    installed_base: InstalledBase
    detail: LeadDetail | None = None
