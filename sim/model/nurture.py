"""Scoring, MQL and nurture: the hand-over from marketing to sales (``docs/model.md``, 2).

Marketing sees an observed score, intent plus noise; a lead at or above the threshold
is an MQL at once. One below it goes to nurture, which touches it every
``touch_interval_days``: at each touch it first drops out with ``dropout``, else its
score rises by ``touch_points`` and it is an MQL once the score reaches the threshold;
after ``max_days`` it leaves. All of this is vectorised over a block of leads
(:func:`hand_over`). A lead that sales let go cold comes back to nurture
(:func:`recycle`, called from the event loop for one lead at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sim.model import states as S
from sim.scenario.schema import Nurture, Scenario, Scoring
from sim.scenario.units import ROUND_OFF

__all__ = ["Handover", "hand_over", "nurture_outcome", "observed_score", "recycle"]


def observed_score(intent: np.ndarray, u_score: np.ndarray, scoring: Scoring) -> np.ndarray:
    """What marketing sees: ``intent + Normal(0, score_noise)``, the noise from each lead's own uniform."""
    if scoring.score_noise > 0:
        return intent + scoring.score_noise * special.ndtri(u_score)
    return intent.copy()


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
            needed = np.maximum(np.ceil((threshold - score) / nurture.touch_points - ROUND_OFF), 1.0)
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
    max_touches = np.floor(nurture.max_days / interval + ROUND_OFF)
    becomes_mql = (needed <= max_touches) & (drop_at > needed)
    drops = ~becomes_mql & (drop_at <= max_touches)
    kind = np.where(becomes_mql, 0, np.where(drops, 1, 2))
    with np.errstate(over="ignore", invalid="ignore"):  # the branch not taken may be infinite
        leaves = np.where(drops, start + drop_at * interval, start + nurture.max_days)
        time = np.where(becomes_mql, start + needed * interval, leaves)
    return kind, time


@dataclass
class Handover:
    """What the hand-over decided for a block of leads.

    Attributes:
        mql_time: when each lead first became an MQL (days); infinite if not within the horizon.
        state: where a lead that never reaches sales within the horizon is at the horizon
            (not an MQL, dropped out of or expired from nurture, still in nurture).
        nurture_start, nurture_end: the spells in nurture (days, ending at the horizon at
            the latest) of the block's leads below the threshold, what the nurture program
            is paid for.
    """

    mql_time: np.ndarray
    state: np.ndarray
    nurture_start: np.ndarray
    nurture_end: np.ndarray


def hand_over(score: np.ndarray, arrival: np.ndarray, u_nurture: np.ndarray, scenario: Scenario) -> Handover:
    """MQL times and nurture outcomes of a block of leads (see the module docstring)."""
    horizon = scenario.horizon_days
    threshold = scenario.scoring.mql_threshold
    is_mql = score >= threshold
    mql_time = np.where(is_mql, arrival, np.inf)
    state = np.full(len(score), S.NOT_MQL, dtype=np.int8)
    start = end = np.zeros(0)
    if scenario.nurture is not None:
        below = np.flatnonzero(~is_mql)
        kind, when = nurture_outcome(score[below], arrival[below], u_nurture[below], threshold, scenario.nurture)
        mql_time[below[kind == 0]] = when[kind == 0]
        state[below] = np.select([kind == 0, kind == 1], [S.IN_NURTURE, S.NURTURE_DROPPED], S.NURTURE_EXPIRED)
        # An exit that lies past the horizon has not happened yet; an MQL after it is still in nurture.
        state[below[when > horizon]] = S.IN_NURTURE
        start, end = arrival[below], np.minimum(when, horizon)
    mql_time[mql_time >= horizon] = np.inf
    return Handover(mql_time, state, start, end)


def recycle(now: float, u_dropout: float, nurture: Nurture) -> tuple[int, float, float | None]:
    """Where nurture takes a lead that went cold at ``now``: ``(state, until, back)``.

    The next touch brings it back as an MQL at ``back`` unless it drops out first
    (``until`` is then when it leaves); a nurture that ends before its first touch lets it expire.
    """
    if nurture.touch_interval_days > nurture.max_days:
        return S.NURTURE_EXPIRED, now + nurture.max_days, None
    if u_dropout < nurture.dropout:
        return S.NURTURE_DROPPED, now + nurture.touch_interval_days, None
    back = now + nurture.touch_interval_days
    return S.IN_NURTURE, back, back
