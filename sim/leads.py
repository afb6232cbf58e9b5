"""Leads as arrays: arrivals, intrinsic draws, scoring and nurture (MODEL.md 1, 2, 7).

Everything a lead needs before it meets a capacity-limited stage is computed here in
vectorised blocks; only MQLs go on to the SimPy processes. Each channel draws from
its own stream: a homogeneous Poisson stream of *candidates* at the channel's largest
possible rate (its ``max_leads`` plus baseline, times the month's overdispersion), each
with its own uniforms, thinned to the month's rate. More spend therefore sees a
superset of the leads of less spend, each with the same intrinsic draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sim.config import DAYS_PER_MONTH, Channel, Nurture, Scenario
from sim.response import effective_spend, exponential_response, hill_response
from sim.team import Seat, productivity

__all__ = ["Columns", "Leads", "channel_rate", "generate_leads", "nurture_outcome", "spend_schedule"]


class Columns:
    """Where each of a lead's own uniforms lives in its row of ``Leads.u``."""

    SCORE, NURTURE, HANDOVER, VALUE, CHURN, WORK, QUALIFY = range(7)

    def __init__(self, n_stages: int, max_recycles: int):
        self.recycle = [7 + r for r in range(max_recycles)]
        base = 7 + max_recycles
        self.stage_duration = [base + 2 * s for s in range(n_stages)]
        self.stage_advance = [base + 2 * s + 1 for s in range(n_stages)]
        self.count = base + 2 * n_stages


def spend_schedule(channel: Channel, horizon_months: int) -> np.ndarray:
    """Monthly spend over the horizon; a short schedule repeats its last value."""
    s = list(channel.spend)
    return np.asarray(s + [s[-1]] * (horizon_months - len(s)), dtype=float)


def channel_rate(channel: Channel, horizon_months: int) -> np.ndarray:
    """Expected leads in each month (before overdispersion)."""
    eff = effective_spend(
        spend_schedule(channel, horizon_months), channel.carryover, channel.lag_months, channel.history
    )
    r = channel.response
    if r is None:
        paid = np.zeros(horizon_months)
    elif r.curve == "hill":
        paid = hill_response(eff, r.max_leads, r.half_spend, r.shape)
    else:
        paid = exponential_response(eff, r.max_leads, r.spend_scale)
    return paid + channel.baseline_leads


def _rate_cap(channel: Channel) -> float:
    return (channel.response.max_leads if channel.response else 0.0) + channel.baseline_leads


def _month_multipliers(rng, cv: float, horizon_months: int) -> np.ndarray:
    if cv <= 0:
        return np.ones(horizon_months)
    shape = 1.0 / cv**2
    return rng.gamma(shape, 1.0 / shape, size=horizon_months)


def _thinned_candidates(rng, cap_per_month, accept_prob, horizon_days, n_cols, prior):
    """Candidates of a Poisson stream at ``cap_per_month``, kept with ``accept_prob(t)``.

    Returns the kept candidates' times, uniforms and intents; every candidate draws
    its own, whether kept or not, so the draws belong to the candidate.
    """
    n = rng.poisson(cap_per_month * horizon_days / DAYS_PER_MONTH) if cap_per_month > 0 else 0
    times = np.sort(rng.random(n)) * horizon_days
    keep_u = rng.random(n)
    u = rng.random((n, n_cols))
    intent = rng.beta(prior.a, prior.b, n)
    keep = keep_u < accept_prob(times)
    return times[keep], u[keep], intent[keep]


@dataclass
class Leads:
    """Every lead of a replication, one row each, in order of arrival within channel blocks."""

    channel: np.ndarray  # int code into ``channel_names``
    channel_names: list[str]
    arrival: np.ndarray  # days
    intent: np.ndarray
    score: np.ndarray
    u: np.ndarray  # (n, Columns.count) uniforms owned by each lead

    def __len__(self):
        return len(self.arrival)


def generate_leads(scenario: Scenario, seats: dict[str, list[Seat]], streams, cols: Columns) -> Leads:
    """Draw all leads of the horizon: marketing channels, then reps' outbound prospecting."""
    H = scenario.horizon_months
    horizon_days = scenario.horizon_days
    blocks = []  # (channel code, times, uniforms, intents)
    names = list(scenario.channels) + ["outbound"]
    for code, (name, ch) in enumerate(scenario.channels.items()):
        rng = streams(f"arrivals/{name}")
        mult = _month_multipliers(rng, ch.rate_cv, H)
        rate = channel_rate(ch, H) * mult
        cap = _rate_cap(ch) * mult.max()

        def accept(t, rate=rate, cap=cap):
            month = np.minimum((t / DAYS_PER_MONTH).astype(int), H - 1)
            return rate[month] / cap

        blocks.append((code, *_thinned_candidates(rng, cap, accept, horizon_days, cols.count, ch.intent)))

    out_code = len(names) - 1
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
            blocks.append((out_code, *_thinned_candidates(rng, cap, accept, horizon_days, cols.count, prior)))

    n_cols = cols.count
    channel = np.concatenate([np.full(len(b[1]), b[0], dtype=np.int16) for b in blocks] or [np.zeros(0, np.int16)])
    arrival = np.concatenate([b[1] for b in blocks] or [np.zeros(0)])
    u = np.concatenate([b[2] for b in blocks] or [np.zeros((0, n_cols))])
    intent = np.concatenate([b[3] for b in blocks] or [np.zeros(0)])
    noise = scenario.scoring.score_noise
    score = intent + noise * special.ndtri(u[:, Columns.SCORE]) if noise > 0 else intent.copy()
    return Leads(channel, names, arrival, intent, score, u)


def nurture_outcome(score, start, u_dropout, threshold: float, nurture: Nurture):
    """Where nurture takes each lead: ``(kind, time)`` arrays, vectorised.

    At every touch (each ``touch_interval_days`` after ``start``) the lead first drops
    out with probability ``dropout``; if it stays, its score rises by ``touch_points``
    and it becomes an MQL once the score reaches ``threshold``. After ``max_days`` it
    leaves. ``kind`` is 0 for MQL, 1 for dropped out, 2 for expired.
    """
    score = np.asarray(score, dtype=float)
    interval = nurture.touch_interval_days
    if nurture.touch_points > 0:
        with np.errstate(over="ignore"):  # tiny points: never enough touches (inf)
            needed = np.maximum(np.ceil((threshold - score) / nurture.touch_points - 1e-12), 1.0)
    else:
        needed = np.full(score.shape, np.inf)
    d = nurture.dropout
    u = np.asarray(u_dropout, dtype=float)
    if d <= 0:
        drop_at = np.full(score.shape, np.inf)
    elif d >= 1:
        drop_at = np.ones(score.shape)
    else:  # first touch at which it drops out: geometric on {1, 2, ...}
        with np.errstate(over="ignore", divide="ignore"):  # a tiny dropout means "never": inf
            drop_at = np.floor(np.log1p(-u) / np.log1p(-d)) + 1.0
    max_touches = np.floor(nurture.max_days / interval + 1e-12)
    becomes_mql = (needed <= max_touches) & (drop_at > needed)
    drops = ~becomes_mql & (drop_at <= max_touches)
    kind = np.where(becomes_mql, 0, np.where(drops, 1, 2))
    with np.errstate(over="ignore", invalid="ignore"):  # the branch not taken may be infinite
        leaves = np.where(drops, start + drop_at * interval, start + nurture.max_days)
        time = np.where(becomes_mql, start + needed * interval, leaves)
    return kind, time
