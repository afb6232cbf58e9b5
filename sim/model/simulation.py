"""One replication end to end: the team and the leads, the hand-over, the event loop, the measures.

:func:`simulate` is the entry point for one horizon. :func:`run` returns the plain
:class:`~sim.model.record.Record` and :func:`replicate` is the model function the Monte
Carlo layer calls, ``(scenario, seed) -> (measures, monthly)``. The vectorised parts
(team, arrivals, scoring, nurture, revenue) run before and after the event loop; only
MQLs pass through SimPy (:mod:`sim.model.funnel`), and only their uniforms are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.model.funnel import run_funnel
from sim.model.leads import Columns, Uniforms, channel_names, lead_blocks
from sim.model.measures import lead_table, measure
from sim.model.months import IntervalMonths, month_counts
from sim.model.nurture import score_and_hand_over
from sim.model.paths import lead_stages
from sim.model.record import LeadDetail, Record
from sim.model.revenue import draw_installed_base
from sim.model.size import check_size
from sim.model.streams import Streams
from sim.model.team import draw_seats
from sim.scenario.plan import ROLE_NAMES
from sim.scenario.schema import Scenario
from sim.scenario.uncertain import drawn

__all__ = ["Result", "replicate", "run", "simulate"]


@dataclass(repr=False)
class Result:
    """What one replication produced.

    Attributes:
        metrics: every measure (``docs/model.md``, Measures), flat (name -> number), plus
            ``lead_accounting`` (terminal states and ``in_flight``, summing to ``arrived``).
        monthly: the monthly series, one row per month.
        scenario: the scenario simulated (its ``plan`` is what ran).
        leads: per-lead records (one row per lead), for people who want to look inside;
            None when :func:`simulate` was asked for none.
    """

    metrics: dict
    monthly: pd.DataFrame
    scenario: Scenario
    leads: pd.DataFrame | None = field(default=None)

    def __repr__(self) -> str:
        m = self.metrics
        return (f"Result(scenario={self.scenario.name!r}, horizon_months={self.scenario.horizon_months}, "
                f"leads={m['leads']:,}, mqls={m['mqls']:,}, wins={m['wins']:,}, "
                f"contribution={m['contribution']:,.0f})")


def run(scenario: Scenario, seed=0, lead_detail: bool = False) -> Record:
    """Simulate one horizon of ``scenario`` and return what happened, unmeasured.

    Args:
        scenario: a validated scenario; its ``plan`` says what to spend and whom to staff.
        seed: an int, a ``numpy.random.SeedSequence`` or a ``Generator`` (see :mod:`sim.seeds`).
        lead_detail: keep every lead's arrival, intent and score (for :func:`sim.model.measures.lead_table`).
    """
    streams = Streams(seed)
    # Uncertain settings at this replication's draw, from a stream of their own (docs/model.md, Uncertain parameters).
    scenario = drawn(scenario, streams("parameters"))
    plan = scenario.plan
    H = scenario.horizon_months
    seats = {name: draw_seats(name, getattr(scenario.roles, name), plan.roles[name], scenario.horizon_days, streams)
             for name in ROLE_NAMES if name in plan.roles}
    cols = Columns.of(scenario)
    names = channel_names(scenario)

    # The leads, source by source. Only what reaches the queue is kept lead by lead.
    lead_months = np.zeros((len(names), H))
    nurture = IntervalMonths(H)
    states, mql = [], {k: [] for k in ("index", "time", "channel", "intent", "score", "touch", "segment", "arrival")}
    u_columns = [[] for _ in range(cols.count)]  # the MQLs' uniforms, column by column
    needed = [c for c in range(cols.count) if c not in cols.hand_over()]
    detail = {k: [] for k in ("channel", "arrival", "intent", "score", "segment")} if lead_detail else None
    offset = 0
    for block in lead_blocks(scenario, plan, seats, streams, cols):
        n = len(block.arrival)
        handover = score_and_hand_over(block.intent, block.arrival, block.u, cols, scenario)
        score = handover.score
        lead_months[block.channel] += month_counts(block.arrival, H)
        nurture.add(handover.nurture_start, handover.nurture_end)
        states.append(handover.state)
        entering = np.flatnonzero(np.isfinite(handover.mql_time))
        for key, values in (("index", entering + offset), ("time", handover.mql_time[entering]),
                            ("channel", np.full(len(entering), block.channel, dtype=np.int16)),
                            ("intent", block.intent[entering]), ("score", score[entering]),
                            ("touch", handover.mql_touch[entering]), ("segment", block.segment[entering]),
                            ("arrival", block.arrival[entering])):
            mql[key].append(values)
        for c in needed:
            u_columns[c].append(block.u[entering, c])
        if detail is not None:
            for key, values in (("channel", np.full(n, block.channel, dtype=np.int16)), ("arrival", block.arrival),
                                ("intent", block.intent), ("score", score), ("segment", block.segment)):
                detail[key].append(values)
        offset += n

    # MQLs in order of MQL time, ties in lead order: the queue's order of arrival.
    index, time = _joined(mql.pop("index"), np.int32), _joined(mql.pop("time"))
    order = np.lexsort((index, time))
    mqls, mql_time = index[order], time[order]
    mql_channel, mql_intent, mql_score, mql_touch, mql_segment, mql_arrival = (
        _joined(mql.pop(k), dtype)[order]
        for k, dtype in (("channel", np.int16), ("intent", float), ("score", float), ("touch", np.int64),
                         ("segment", np.int8), ("arrival", float)))
    mql_u = Uniforms([_in_order(pieces, order) if c in needed else None for c, pieces in enumerate(u_columns)])
    del u_columns

    stages = lead_stages(scenario, mql_channel, mql_segment)
    book, counters = run_funnel(scenario, mql_time, mql_intent, mql_score, mql_u, cols, seats, stages, mql_arrival)
    mql_u.keep([Columns.VALUE, Columns.CHURN, *cols.stage_duration])  # what the measures read
    state = _joined(states, np.int8)
    state[mqls] = book.state
    return Record(scenario=scenario, plan=plan, seats=seats, cols=cols, channel_names=names, leads=offset,
                  lead_months=lead_months, state=state, nurture=nurture, mqls=mqls, mql_time=mql_time,
                  mql_channel=mql_channel, mql_intent=mql_intent, mql_score=mql_score, mql_touch=mql_touch,
                  mql_u=mql_u, mql_segment=mql_segment, mql_arrival=mql_arrival, mql_stages=stages, book=book,
                  counters=counters, installed_base=draw_installed_base(scenario.customers, streams),
                  detail=LeadDetail(**{k: _joined(v, {"channel": np.int16, "segment": np.int8}.get(k, float))
                                       for k, v in detail.items()}) if detail is not None else None)


def _joined(pieces: list, dtype=float) -> np.ndarray:
    return np.concatenate(pieces).astype(dtype, copy=False) if pieces else np.zeros(0, dtype=dtype)


def _in_order(pieces: list, order: np.ndarray) -> np.ndarray:
    """``pieces`` joined and put in ``order``; the pieces are let go."""
    joined = np.concatenate(pieces) if pieces else np.zeros(0)
    pieces.clear()
    return joined[order]


def simulate(scenario: Scenario, seed=0, lead_records: bool = True, limits=None) -> Result:
    """Simulate one horizon of ``scenario`` and measure it.

    Args:
        scenario: a validated scenario (see :func:`sim.load_scenario`).
        seed: an int, a ``numpy.random.SeedSequence`` or a ``Generator``; the same seed
            gives the same numbers, bit for bit.
        lead_records: also return one row per lead (``Result.leads``); off, the
            replication is a few percent faster and its numbers are unchanged.
        limits: how big the replication may be, by name (:data:`sim.model.size.LIMITS`;
            the defaults for the rest).

    Raises:
        sim.model.size.SizeError: the replication would be bigger than ``limits`` (nothing runs).
    """
    check_size(scenario, limits)
    record = run(scenario, seed, lead_detail=lead_records)
    metrics, monthly = measure(record)
    return Result(metrics=metrics, monthly=monthly, scenario=scenario,
                  leads=lead_table(record) if lead_records else None)


def replicate(scenario: Scenario, seed, trace: bool = False):
    """The model function of the Monte Carlo layer: ``(measures, monthly)``, or with ``trace`` also the lead table."""
    record = run(scenario, seed, lead_detail=trace)
    metrics, monthly = measure(record)
    return (metrics, monthly, lead_table(record)) if trace else (metrics, monthly)
