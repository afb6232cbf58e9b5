"""Expected leads and MQLs by month and intent, for the fast approximation (``docs/model.md``, 1, 2 and 11).

The DES's Poisson mean of a channel's leads in a month is a pure function of the plan
(:func:`sim.model.leads.channel_rate`; the mean-1 overdispersion keeps it), so the
expected leads are exactly that; reps' prospecting is ``outbound_leads_per_month``
times the expected ramped FTE-months. Intent is put on a grid of :data:`INTENT_BINS`
equal bins of [0, 1], each channel's Beta weights on it exact; the observed score,
the MQL threshold and nurture (touches, dropout, ``max_days``) become, per bin, the
chance to be an MQL at once or at touch ``j``, moved to the month it falls in. Scored
by activities, the chance to be short of ``mql_points`` after touch ``j`` is the exact
distribution of the points, a convolution over activities and touches
(:func:`activity_short`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

from sim.model.leads import OUTBOUND, channel_rate
from sim.scenario.messages import ScenarioError
from sim.scenario.units import DAYS_PER_MONTH, ROUND_OFF

__all__ = ["INTENT", "INTENT_BINS", "MAX_TOTALS", "Handover", "activity_short", "hand_over", "intent_weights",
           "lead_months", "month_shift"]

INTENT_BINS = 24
_EDGES = np.linspace(0.0, 1.0, INTENT_BINS + 1)
INTENT = (_EDGES[:-1] + _EDGES[1:]) / 2  # the bins' midpoints
# Scoring by activities: the point totals below mql_points followed at most (whole points have at most
# mql_points of them; 20 / 30 / 40 towards 100 have 10). Each is a row of the intent bins.
MAX_TOTALS = 20_000


@lru_cache(maxsize=256)
def _beta_weights(a: float, b: float) -> np.ndarray:
    w = np.diff(special.betainc(a, b, _EDGES))
    w.flags.writeable = False
    return w


def intent_weights(prior) -> np.ndarray:
    """Share of a source's leads in each intent bin (exact Beta probabilities)."""
    return _beta_weights(float(prior.a), float(prior.b))


def lead_months(scenario, outbound_fte_months: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Expected leads per source (the channels, then ``outbound``) and month: ``(names, (sources, months))``.

    Args:
        scenario: the scenario (its plan's spend).
        outbound_fte_months: ``sum over roles of outbound_leads_per_month * expected ramped FTE-months``.
    """
    plan = scenario.plan
    rows = [channel_rate(ch, plan.monthly_spend(name)) for name, ch in scenario.channels.items()]
    rows.append(np.asarray(outbound_fte_months, dtype=float))
    return [*scenario.channels, OUTBOUND], np.vstack(rows)


def _above(threshold: float, sigma: float) -> np.ndarray:
    """P(observed score >= threshold) in each intent bin."""
    if sigma > 0:
        return special.ndtr((INTENT - threshold) / sigma)
    lo, hi = _EDGES[:-1], _EDGES[1:]
    return np.clip((hi - np.maximum(lo, threshold)) / (hi - lo), 0.0, 1.0)


def month_shift(flow: np.ndarray, delay_days: float) -> np.ndarray:
    """A monthly flow (months first), spread uniformly in each month, moved ``delay_days`` later.

    What falls past the horizon is dropped.
    """
    H = flow.shape[0]
    d = delay_days / DAYS_PER_MONTH
    whole, part = int(np.floor(d)), d - np.floor(d)
    out = np.zeros_like(flow)
    if whole < H:
        out[whole:] += (1.0 - part) * flow[:H - whole]
    if whole + 1 < H:
        out[whole + 1:] += part * flow[:H - whole - 1]
    return out


class Handover:
    """Expected MQLs by month and intent bin, and what nurture costs.

    Attributes:
        arrivals: leads by month and bin, every source.
        at_once: MQLs on arrival, by month and bin.
        from_nurture: MQLs through nurture, by month (of the MQL) and bin.
        nurture_lead_months: lead-months in nurture of first spells, by month of arrival.
    """

    def __init__(self, arrivals, at_once, from_nurture, nurture_lead_months):
        self.arrivals = arrivals
        self.at_once = at_once
        self.from_nurture = from_nurture
        self.nurture_lead_months = nurture_lead_months


def hand_over(scenario, names: list[str], leads: np.ndarray) -> Handover:
    """Scoring and nurture in expectation (see the module docstring)."""
    H = scenario.horizon_months
    priors = [scenario.channels[n].intent if n != OUTBOUND else scenario.outbound.intent for n in names]
    weights = np.vstack([intent_weights(p) for p in priors])
    arrivals = leads.T @ weights  # (months, bins)
    sc = scenario.scoring
    nur = scenario.nurture
    touches = int(np.floor(nur.max_days / nur.touch_interval_days + ROUND_OFF)) if nur is not None else 0
    if sc.by_activities:
        # Touches after the horizon change nothing the approximation reports: not drawn (the DES's are not either).
        touches = min(touches, int(np.ceil(scenario.horizon_days / nur.touch_interval_days))) if nur else 0
        short = activity_short(sc, INTENT, touches)
        at_once_p = 1.0 - short[0]
    else:
        theta, sigma = sc.mql_threshold, sc.score_noise
        at_once_p = _above(theta, sigma)
    at_once = arrivals * at_once_p
    from_nurture = np.zeros_like(arrivals)
    lead_m = np.zeros(H)
    if nur is not None:
        interval = nur.touch_interval_days
        stay = 1.0 - nur.dropout
        if not sc.by_activities:
            # P(score below threshold - j * points) for j = 0..touches: still short after j touches.
            short = np.vstack([1.0 - _above(theta - j * nur.touch_points, sigma) for j in range(touches + 1)])
        if sc.by_activities or nur.touch_points > 0:
            for j in range(1, touches + 1):
                p = (short[j - 1] - short[j]) * stay**j  # needs exactly j touches and stays for them
                from_nurture += month_shift(arrivals * p, j * interval)
        # Lead-months in nurture, each spell cut at the horizon (arrivals in the middle of their month).
        still = short * stay ** np.arange(touches + 1)[:, None]  # in nurture after touch j, per bin
        seg_lo = np.arange(touches + 1) * interval
        # The last segment ends at max_days (when the touches were cut at the horizon, it starts after it: no days).
        seg_hi = np.append(seg_lo[1:], nur.max_days)
        left = (H - np.arange(H) - 0.5) * DAYS_PER_MONTH
        days = np.clip(np.minimum(seg_hi[None, :], left[:, None]) - seg_lo[None, :], 0.0, None)  # (months, segs)
        lead_m = ((arrivals @ still.T) * days).sum(axis=1) / DAYS_PER_MONTH
    return Handover(arrivals, at_once, from_nurture, lead_m)


def activity_short(scoring, intent: np.ndarray, touches: int) -> np.ndarray:
    """P(points after touch j below ``mql_points``), for j = 0 to ``touches``: ``(touches + 1, len(intent))``.

    Exact: the distribution of a lead's points (each touch, each activity adds its
    points with its chance, independently) is carried touch by touch and activity by
    activity as a convolution over the point totals below ``mql_points`` (those at or
    above it have crossed and are not followed). Totals that round-off alone tells
    apart are merged.

    Raises:
        ScenarioError: the totals below ``mql_points`` are more than :data:`MAX_TOTALS`.
    """
    intent = np.asarray(intent, dtype=float)
    m = scoring.mql_points
    limit = m - ROUND_OFF * max(1.0, m)  # as the DES's mql_points_reached
    merge = 1e-9 * max(1.0, m)
    chances = [(a.points, a.chance.at(intent)) for a in scoring.activities.values()]
    totals, mass = np.zeros(1), np.ones((1, len(intent)))
    short = np.empty((touches + 1, len(intent)))
    for j in range(touches + 1):
        for points, p in chances:
            totals = np.concatenate([totals, totals + points])
            mass = np.concatenate([mass * (1.0 - p), mass * p])
            below = totals < limit
            totals, mass = totals[below], mass[below]
            order = np.argsort(totals, kind="stable")
            totals, mass = totals[order], mass[order]
            if len(totals):
                first = np.flatnonzero(np.r_[True, np.diff(totals) > merge])
                totals, mass = totals[first], np.add.reduceat(mass, first, axis=0)
            if len(totals) > MAX_TOTALS:
                raise ScenarioError("<scenario>", [("scoring.activities", (
                    f"the fast approximation follows at most {MAX_TOTALS:,} distinct point totals below "
                    f"mql_points, and these activities' points make more; round the points (whole numbers "
                    f"have at most mql_points totals) or use the simulation"))])
        short[j] = mass.sum(axis=0)
    return short
