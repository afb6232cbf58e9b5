"""Lead generation: arrivals from spend and prospecting, and each lead's own draws (``docs/model.md``, 1).

Each channel draws from its own stream: a homogeneous Poisson stream of *candidates* at
the channel's largest possible rate (its ``max_leads`` plus baseline, or the peak of
its given ``leads``, times the month's overdispersion), each with its own uniforms and
intent, thinned to the month's rate from the response curve of the plan's spend (or
to the month's given leads). More spend therefore sees a superset of
the leads of less spend, each with the same draws. Reps' prospecting works the same
way, one stream per seat, at ``outbound_leads_per_month`` times the rep's ramp.

Leads come out in :class:`LeadBlock` s, one per source, so that a replication never
holds the uniforms of candidates it dropped, nor (see :mod:`sim.model.simulation`) of
leads that never reach sales.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from sim.model.response import effective_spend, exponential_response, hill_response
from sim.model.team import Seat, productivity
from sim.scenario.plan import Plan, spend_schedule
from sim.scenario.schema import Channel, Scenario
from sim.scenario.units import DAYS_PER_MONTH

__all__ = ["OUTBOUND", "Columns", "LeadBlock", "Uniforms", "channel_names", "channel_rate", "lead_blocks",
           "segment_draws", "segment_names"]

OUTBOUND = "outbound"  # the channel name of the leads reps prospect themselves
U_BLOCK_ROWS = 1 << 16  # candidates' uniforms drawn at a time (the same stream, in pieces)


class Columns:
    """Where each of a lead's own uniforms lives in its row of uniforms.

    Scoring by activities adds one column at the end (``activities``: the key of the
    lead's activity draws, :func:`sim.model.nurture.activity_uniforms`); without it the
    row is as it always was, so scoring by intent draws the same numbers.
    """

    SCORE, NURTURE, HANDOVER, VALUE, CHURN, WORK, QUALIFY = range(7)

    def __init__(self, n_stages: int, max_recycles: int, activities: bool = False):
        self.recycle = [7 + r for r in range(max_recycles)]
        base = 7 + max_recycles
        self.stage_duration = [base + 2 * s for s in range(n_stages)]
        self.stage_advance = [base + 2 * s + 1 for s in range(n_stages)]
        self.count = base + 2 * n_stages
        self.activities = None
        if activities:
            self.activities = self.count
            self.count += 1

    @classmethod
    def of(cls, scenario: Scenario) -> Columns:
        """The columns a replication of ``scenario`` draws."""
        return cls(len(scenario.opportunities.stages), scenario.nurture.max_recycles if scenario.nurture else 0,
                   scenario.scoring.by_activities)

    def hand_over(self) -> list[int]:
        """The columns spent on scoring and the hand-over, let go once it is decided."""
        return [self.SCORE, self.NURTURE] + ([self.activities] if self.activities is not None else [])


class Uniforms:
    """Leads' own uniforms, one array per column of :class:`Columns` (each contiguous).

    Kept column by column so that a column no longer needed can be let go
    (:meth:`keep`) and a piece of rows taken without copying the rest.
    """

    def __init__(self, columns: list[np.ndarray | None]):
        self._columns = columns

    def __len__(self) -> int:
        return next((len(c) for c in self._columns if c is not None), 0)

    def column(self, c: int) -> np.ndarray:
        """Column ``c``, one value per lead."""
        values = self._columns[c]
        if values is None:
            raise KeyError(f"uniform column {c} was let go")
        return values

    def matrix(self, columns: list[int]) -> np.ndarray:
        """Some columns side by side: ``(leads, len(columns))``."""
        return np.column_stack([self.column(c) for c in columns]) if columns else np.zeros((len(self), 0))

    def rows(self, index) -> Uniforms:
        """The uniforms of some leads (an index array, a mask or a slice)."""
        return Uniforms([None if c is None else c[index] for c in self._columns])

    def keep(self, columns) -> None:
        """Let go of every column but ``columns``."""
        wanted = set(columns)
        self._columns = [c if k in wanted else None for k, c in enumerate(self._columns)]


@dataclass
class LeadBlock:
    """The leads of one source (a channel, or one seat's prospecting), in order of arrival.

    Attributes:
        channel: the source's code in :func:`channel_names`.
        arrival: arrival times, days.
        intent: latent intent in [0, 1].
        u: ``(leads, Columns.count)`` uniforms, each lead's own.
        segment: each lead's segment, by its place in the channel's ``segments`` (0 for
            a channel without segments).
    """

    channel: int
    arrival: np.ndarray
    intent: np.ndarray
    u: np.ndarray
    segment: np.ndarray | None = None

    def __post_init__(self):
        if self.segment is None:
            self.segment = np.zeros(len(self.arrival), dtype=np.int8)


def channel_names(scenario: Scenario) -> list[str]:
    """The channels' names by code: the scenario's channels, then :data:`OUTBOUND`."""
    return [*scenario.channels, OUTBOUND]


def segment_names(scenario: Scenario) -> list[list[str]]:
    """Per channel code, its segments' names by code; a channel without segments has one, its own name."""
    return [list(ch.segments) or [name] for name, ch in scenario.channels.items()] + [[OUTBOUND]]


def channel_rate(channel: Channel, spend: np.ndarray) -> np.ndarray:
    """Expected leads in each month (before overdispersion) from the monthly ``spend``.

    A channel whose ``leads`` are given has them as its expected leads, the schedule
    over the months of ``spend`` (the last repeating); its spend buys none.
    """
    if channel.leads is not None:
        return np.asarray(spend_schedule(channel.leads, len(spend)), dtype=float)
    eff = effective_spend(spend, channel.carryover, channel.lag_months, channel.history)
    r = channel.response
    if r is None:
        paid = np.zeros(len(spend))
    elif r.curve == "hill":
        paid = hill_response(eff, r.max_leads, r.half_spend, r.shape)
    else:
        paid = exponential_response(eff, r.max_leads, r.spend_scale)
    return paid + channel.baseline_leads


def _rate_cap(channel: Channel) -> float:
    """The largest expected leads a month of ``channel`` (before overdispersion): its candidates' rate."""
    if channel.leads is not None:
        return max(channel.leads)  # a schedule is never longer than the horizon, and its last month repeats
    return (channel.response.max_leads if channel.response else 0.0) + channel.baseline_leads


def _month_multipliers(rng, cv: float, horizon_months: int) -> np.ndarray:
    if cv**2 == 0:  # zero, or so small that its square is (the multipliers would all be 1 to the last digit)
        return np.ones(horizon_months)
    shape = 1.0 / cv**2
    return rng.gamma(shape, 1.0 / shape, size=horizon_months)


def _thinned_candidates(rng, cap_per_month, accept_prob, horizon_days, n_cols, prior, segmented=None):
    """Candidates of a Poisson stream at ``cap_per_month``, kept with ``accept_prob(t)``.

    Returns the kept candidates' times, intents and uniforms (and, with ``segmented``, a
    function of the number of candidates and their intents giving their intents and
    segments, also their segments). Every candidate draws its
    own, whether kept or not, so the draws belong to the candidate; the uniforms are
    drawn in pieces of :data:`U_BLOCK_ROWS` rows, which gives the same numbers as one
    draw, and only the kept rows are held.
    """
    n = rng.poisson(cap_per_month * horizon_days / DAYS_PER_MONTH) if cap_per_month > 0 else 0
    times = np.sort(rng.random(n)) * horizon_days
    keep = rng.random(n) < accept_prob(times)
    u = np.empty((int(keep.sum()), n_cols))
    at = 0
    for lo in range(0, n, U_BLOCK_ROWS):
        piece = rng.random((min(U_BLOCK_ROWS, n - lo), n_cols))
        kept = piece[keep[lo:lo + len(piece)]]
        u[at:at + len(kept)] = kept
        at += len(kept)
    intent = rng.beta(prior.a, prior.b, n)
    if segmented is None:
        return times[keep], intent[keep], u
    intent, segment = segmented(n, intent)
    return times[keep], intent[keep], u, segment[keep]


def segment_draws(streams, name: str, channel: Channel, n: int, intent: np.ndarray):
    """The segments of a channel's ``n`` candidates, and their intents: ``(intent, segment)``.

    Each candidate's segment comes from a uniform of its own, from the channel's stream
    ``segments/<channel>`` (every candidate draws one, kept or not), against the
    cumulative shares. A segment with an intent prior other than the channel's gives
    its leads intents from a stream of its own (``segments/<channel>/<segment>``, one
    per candidate); the others keep the channel's. The arrival stream is not touched,
    so a channel's arrivals, uniforms and intents are those it has without segments.
    """
    segments = list(channel.segments.values())
    cum = np.cumsum([seg.share for seg in segments])
    u = streams(f"segments/{name}").random(n)
    segment = np.minimum(np.searchsorted(cum / cum[-1], u, side="right"), len(segments) - 1).astype(np.int8)
    for k, (seg_name, seg) in enumerate(channel.segments.items()):
        if seg.intent is not None and seg.intent != channel.intent:
            own = streams(f"segments/{name}/{seg_name}").beta(seg.intent.a, seg.intent.b, n)
            intent = np.where(segment == k, own, intent)
    return intent, segment


def lead_blocks(scenario: Scenario, plan: Plan, seats: dict[str, list[Seat]], streams,
                cols: Columns) -> Iterator[LeadBlock]:
    """Every lead of the horizon, one block per source: marketing channels, then reps' prospecting."""
    H = scenario.horizon_months
    horizon_days = scenario.horizon_days
    for code, (name, ch) in enumerate(scenario.channels.items()):
        rng = streams(f"arrivals/{name}")
        mult = _month_multipliers(rng, ch.rate_cv, H)
        rate = channel_rate(ch, plan.monthly_spend(name)) * mult
        cap = _rate_cap(ch) * mult.max()

        def accept(t, rate=rate, cap=cap):
            month = np.minimum((t / DAYS_PER_MONTH).astype(int), H - 1)
            return rate[month] / cap

        segmented = None
        if ch.segments:
            def segmented(n, intent, name=name, ch=ch):
                return segment_draws(streams, name, ch, n, intent)

        yield LeadBlock(code, *_thinned_candidates(rng, cap, accept, horizon_days, cols.count, ch.intent,
                                                   segmented))

    out_code = len(scenario.channels)
    mult = _month_multipliers(streams("arrivals/outbound/months"), scenario.outbound.rate_cv, H)
    prospecting_roles = {"sdr": scenario.roles.sdr, "ae": scenario.roles.ae}
    for role_name, role in prospecting_roles.items():
        if role is None or role.outbound_leads_per_month <= 0:
            continue
        for seat in seats[role_name]:
            rng = streams(f"arrivals/outbound/{role_name}/{seat.index}")
            cap = role.outbound_leads_per_month * mult.max()

            def accept(t, seat=seat, role=role):
                month = np.minimum((t / DAYS_PER_MONTH).astype(int), H - 1)
                p = sum(productivity(ten, t, role.ramp_months) for ten in seat.tenures)
                return p * mult[month] / mult.max()

            prior = scenario.outbound.intent
            yield LeadBlock(out_code, *_thinned_candidates(rng, cap, accept, horizon_days, cols.count, prior))
