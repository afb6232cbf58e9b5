"""Scoring, MQL and nurture: the hand-over from marketing to sales (``docs/model.md``, 2).

Marketing scores each lead in one of two ways (``scoring.mode``):

- **intent** (the default): an observed score, intent plus noise; a lead at or above
  the threshold is an MQL at once. One below it goes to nurture, which touches it
  every ``touch_interval_days``: at each touch it first drops out with ``dropout``,
  else its score rises by ``touch_points`` and it is an MQL once the score reaches
  the threshold; after ``max_days`` it leaves.
- **activities**: at each touch (arrival is touch 0, then nurture's touches) the lead
  does each activity with its chance, linear in intent, and earns its points; it is an
  MQL at the first touch where its points reach ``mql_points``. Dropout and
  ``max_days`` are nurture's as above. The draws are the lead's own: each activity at
  each touch is a uniform made from one uniform of the lead's row
  (:func:`activity_uniforms`), so a touch's draws do not depend on the threshold, on
  how many touches there are, or on other leads.

All of this is vectorised over a block of leads (:func:`score_and_hand_over`). A lead
that sales let go cold comes back to nurture (:func:`recycle`, called from the event
loop for one lead at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sim.model import states as S
from sim.scenario.schema import Nurture, Scenario, Scoring
from sim.scenario.units import ROUND_OFF

__all__ = ["Handover", "activity_points", "activity_uniforms", "hand_over", "mql_points_reached", "nurture_outcome",
           "observed_score", "recycle", "score_and_hand_over"]

# SplitMix64 (Steele, Lea and Flood 2014; the seeder of xoroshiro): a lead's activity draws are its outputs.
_GAMMA = 0x9E3779B97F4A7C15
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_TOUCH_BITS = 32  # an activity's draws are numbered activity << 32 | touch: adding an activity keeps the others'



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
    return _outcome(_touches_needed(score, threshold, nurture), np.asarray(start, dtype=float),
                    _drop_at(u_dropout, nurture.dropout), nurture)


def _touches_needed(score, threshold: float, nurture: Nurture) -> np.ndarray:
    """Touches of ``touch_points`` each that bring ``score`` to ``threshold`` (at least 1; inf: never)."""
    if nurture.touch_points > 0:
        with np.errstate(over="ignore"):  # tiny points: never enough touches (inf)
            return np.maximum(np.ceil((threshold - score) / nurture.touch_points - ROUND_OFF), 1.0)
    return np.full(score.shape, np.inf)


def _drop_at(u_dropout, d: float) -> np.ndarray:
    """The first touch at which each lead drops out, from its own uniform: geometric on {1, 2, ...}."""
    u = np.asarray(u_dropout, dtype=float)
    if d <= 0:
        return np.full(u.shape, np.inf)
    if d >= 1:
        return np.ones(u.shape)
    with np.errstate(over="ignore", divide="ignore"):  # a tiny dropout means "never": inf
        return np.floor(np.log1p(-u) / np.log1p(-d)) + 1.0


def _max_touches(nurture: Nurture) -> float:
    return np.floor(nurture.max_days / nurture.touch_interval_days + ROUND_OFF)


def _outcome(needed, start, drop_at, nurture: Nurture):
    """``(kind, time)`` of leads that need ``needed`` touches to be an MQL and drop out at touch ``drop_at``."""
    interval = nurture.touch_interval_days
    max_touches = _max_touches(nurture)
    becomes_mql = (needed <= max_touches) & (drop_at > needed)
    drops = ~becomes_mql & (drop_at <= max_touches)
    kind = np.where(becomes_mql, 0, np.where(drops, 1, 2))
    with np.errstate(over="ignore", invalid="ignore"):  # the branch not taken may be infinite
        leaves = np.where(drops, start + drop_at * interval, start + nurture.max_days)
        time = np.where(becomes_mql, start + needed * interval, leaves)
    return kind, time


def activity_uniforms(key: np.ndarray, touch: int, activity: int) -> np.ndarray:
    """The uniforms in [0, 1) that leads with ``key`` draw for ``activity`` (its position) at ``touch``.

    Output number ``activity << 32 | touch`` of SplitMix64 seeded with the key (each
    lead's own 64-bit key, made from a uniform of its row by :func:`_keys`): a
    counter-based generator, so that a touch's draw does not depend on the touches
    before it nor on how many there are.
    """
    counter = (activity << _TOUCH_BITS | touch) + 1
    z = key + np.uint64(counter * _GAMMA % 2**64)  # numpy's uint64 arithmetic wraps, as SplitMix64's does
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(float) * 2.0**-53


def _keys(u_activity) -> np.ndarray:
    """Each lead's SplitMix64 key: the 53 random bits of its uniform (numpy's are whole multiples of 2**-53)."""
    return (np.asarray(u_activity, dtype=float) * 2.0**53).astype(np.uint64)


def _chances(intent, scoring: Scoring) -> np.ndarray:
    """Per lead and activity, the chance to do it at a touch: ``(leads, activities)``."""
    intent = np.asarray(intent, dtype=float)
    return np.column_stack([a.chance.at(intent) for a in scoring.activities.values()]) if scoring.activities \
        else np.zeros((len(intent), 0))


def _earned(key, chance, points, touch: int) -> np.ndarray:
    """Points leads earn at ``touch``: each activity's points if its own uniform falls below its chance."""
    earned = np.zeros(len(key))
    for a, p in enumerate(points):
        earned += p * (activity_uniforms(key, touch, a) < chance[:, a])
    return earned


def mql_points_reached(points, scoring: Scoring) -> np.ndarray:
    """Whether ``points`` reach ``mql_points``, forgiving round-off (``0.7 + 0.1 + 0.1 + 0.1`` reaches 1)."""
    m = scoring.mql_points
    return np.asarray(points) >= m - ROUND_OFF * max(1.0, m)


def activity_points(intent, u_activity, scoring: Scoring, touches: int) -> np.ndarray:
    """Each lead's points after touches 0 to ``touches``, had it stayed for all: ``(leads, touches + 1)``.

    The same draws as the hand-over's (:func:`score_and_hand_over`), touch by touch,
    for every lead: what the points of a lead that never drops out would be.
    """
    key, chance = _keys(u_activity), _chances(intent, scoring)
    points = [a.points for a in scoring.activities.values()]
    earned = np.column_stack([_earned(key, chance, points, j) for j in range(touches + 1)])
    return np.cumsum(earned, axis=1)


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
        mql_touch: per lead, the touch at which it first became an MQL (0 on arrival;
            meaningful where ``mql_time`` is finite).
        score: per lead, its score: the observed score (mode intent), or its points at the
            touch it became an MQL, else at its last touch within the horizon (mode activities).
    """

    mql_time: np.ndarray
    state: np.ndarray
    nurture_start: np.ndarray
    nurture_end: np.ndarray
    mql_touch: np.ndarray | None = None
    score: np.ndarray | None = None


def score_and_hand_over(intent, arrival, u, cols, scenario: Scenario) -> Handover:
    """Score a block of leads and decide their hand-over, by ``scenario.scoring.mode``.

    Args:
        intent: the leads' intents.
        arrival: their arrival days.
        u: their own uniforms, ``(leads, cols.count)``.
        cols: where each uniform sits (:class:`sim.model.leads.Columns`).
        scenario: the scenario.
    """
    if scenario.scoring.by_activities:
        return _activity_hand_over(intent, arrival, u[:, cols.activities], u[:, cols.NURTURE], scenario)
    score = observed_score(intent, u[:, cols.SCORE], scenario.scoring)
    handover = hand_over(score, arrival, u[:, cols.NURTURE], scenario)
    handover.score = score
    return handover


def hand_over(score: np.ndarray, arrival: np.ndarray, u_nurture: np.ndarray, scenario: Scenario) -> Handover:
    """MQL times and nurture outcomes of a block of leads scored by intent (see the module docstring)."""
    threshold = scenario.scoring.mql_threshold
    is_mql = score >= threshold
    below = np.flatnonzero(~is_mql)
    needed = kind = when = None
    if scenario.nurture is not None:
        needed = _touches_needed(score[below], threshold, scenario.nurture)
        kind, when = _outcome(needed, arrival[below], _drop_at(u_nurture[below], scenario.nurture.dropout),
                              scenario.nurture)
    return _handover(is_mql, below, arrival, needed, kind, when, scenario.horizon_days)


def _handover(at_once, below, arrival, needed, kind, when, horizon: float) -> Handover:
    """The :class:`Handover` of leads MQL ``at_once``, and of the others (``below``) through nurture (if any)."""
    mql_time = np.where(at_once, arrival, np.inf)
    state = np.full(len(arrival), S.NOT_MQL, dtype=np.int8)
    touch = np.zeros(len(arrival), dtype=np.int64)
    start = end = np.zeros(0)
    if kind is not None:
        mql = kind == 0
        mql_time[below[mql]] = when[mql]
        touch[below[mql]] = needed[mql]
        state[below] = np.select([mql, kind == 1], [S.IN_NURTURE, S.NURTURE_DROPPED], S.NURTURE_EXPIRED)
        # An exit that lies past the horizon has not happened yet; an MQL after it is still in nurture.
        state[below[when > horizon]] = S.IN_NURTURE
        start, end = arrival[below], np.minimum(when, horizon)
    mql_time[mql_time >= horizon] = np.inf
    return Handover(mql_time, state, start, end, touch)


def _activity_hand_over(intent, arrival, u_activity, u_dropout, scenario: Scenario) -> Handover:
    """The hand-over of a block of leads scored by their activities' points (see the module docstring).

    Touch by touch, only the leads still in nurture draw: not yet an MQL, not dropped
    out, within ``max_days`` and the horizon. A touch after the horizon cannot change
    where a lead is at the horizon (it is in nurture then whatever the touch brings),
    so it is not drawn.
    """
    scoring, nurture, horizon = scenario.scoring, scenario.nurture, scenario.horizon_days
    key, chance = _keys(u_activity), _chances(intent, scoring)
    points_of = [a.points for a in scoring.activities.values()]
    points = _earned(key, chance, points_of, 0)
    at_once = mql_points_reached(points, scoring)
    below = np.flatnonzero(~at_once)
    needed = kind = when = None
    if nurture is not None:
        start = arrival[below]
        drop_at = _drop_at(u_dropout[below], nurture.dropout)
        needed = np.full(len(below), np.inf)
        active = np.arange(len(below))  # positions in `below` of the leads still in nurture
        interval, touches, touch = nurture.touch_interval_days, _max_touches(nurture), 1
        while touch <= touches and len(active):
            active = active[(drop_at[active] > touch) & (start[active] + touch * interval <= horizon)]
            rows = below[active]
            points[rows] += _earned(key[rows], chance[rows], points_of, touch)
            reached = mql_points_reached(points[rows], scoring)
            needed[active[reached]] = touch
            active = active[~reached]
            touch += 1
        kind, when = _outcome(needed, start, drop_at, nurture)
    handover = _handover(at_once, below, arrival, needed, kind, when, horizon)
    handover.score = points
    return handover


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
