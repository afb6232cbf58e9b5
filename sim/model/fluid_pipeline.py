"""AE slots, stage paths and customers in expectation, for the fast approximation (``docs/model.md``, 4, 6 and 11).

Time runs in :data:`SUB` steps a month. Each stage's duration is put on a quarter-day
grid from 256 of its quantiles; the sums of the first ``s`` stages (when a path ends
at stage ``s``) are convolutions, and a deal that starts uniformly within a step
closes ``j`` steps later with the exact probability. The AE slots are one pool (an
SQL takes a free slot of any AE): a fluid queue, step by step, starts what the free
slots allow, first come first served, and carries the rest over; the slot decay of
the first stage enters with the backlog's wait (backlog / throughput).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.model.response import wait_decay
from sim.scenario.units import DAYS_PER_MONTH, HOURS_PER_DAY

__all__ = ["SUB", "Pipeline", "close_lags", "pipeline", "subscription_kernels"]

SUB = 4  # time steps a month
QUANTILES = 256
RESOLUTION_DAYS = 0.25


@lru_cache(maxsize=64)
def _cached_lags(durations: tuple, horizon_months: int) -> np.ndarray:
    steps = SUB * horizon_months
    step_days = DAYS_PER_MONTH / SUB
    size = int(np.ceil(horizon_months * DAYS_PER_MONTH / RESOLUTION_DAYS)) + 2
    u = (np.arange(QUANTILES) + 0.5) / QUANTILES
    cum = None
    out = np.zeros((len(durations), steps + 1))
    n_fft = 1 << int(np.ceil(np.log2(2 * size)))
    for s, dist in enumerate(durations):
        cells = np.floor(np.asarray(dist.ppf(u), dtype=float) / RESOLUTION_DAYS).astype(np.int64)
        pmf = np.bincount(cells[cells < size], minlength=size)[:size] / QUANTILES
        if cum is None:
            cum = pmf
        else:  # the sum of two independent durations, cut at the horizon
            cum = np.fft.irfft(np.fft.rfft(cum, n_fft) * np.fft.rfft(pmf, n_fft), n_fft)[:size]
            cum = np.clip(cum, 0.0, None)
        days = (np.arange(size) + 0.5) * RESOLUTION_DAYS
        lag = days / step_days
        whole = np.floor(lag).astype(np.int64)
        part = lag - whole
        keep = whole < steps + 1
        np.add.at(out[s], whole[keep], cum[keep] * (1.0 - part[keep]))
        keep1 = whole + 1 < steps + 1
        np.add.at(out[s], whole[keep1] + 1, cum[keep1] * part[keep1])
    out.flags.writeable = False
    return out


def close_lags(opportunities, horizon_months: int) -> np.ndarray:
    """``(stages, steps + 1)``: P(stages 0..s of a deal started in a step take ``j`` steps).

    A path that ends at stage ``s`` (lost there, or won at the last) closes with row ``s``.
    """
    return _cached_lags(tuple(st.duration_days for st in opportunities.stages), horizon_months)


def subscription_kernels(customers, horizon_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected revenue and end-of-month MRR per unit of MRR won, by step within the win month and months after.

    Returns ``(revenue, mrr_end)``, each ``(SUB, horizon_months)``: month 0 is the win month.
    The same arithmetic as :func:`sim.model.revenue.subscription_book` (churn after a
    geometric number of whole months, growth per full month kept), in expectation.
    """
    H = horizon_months
    c, g = customers.churn_month, 1.0 + customers.expansion_month
    dj = np.arange(H)
    kept_at_least = (1.0 - c) ** np.maximum(dj, 0)  # P(K >= dj + 1)
    exactly = np.where(dj >= 1, c * (1.0 - c) ** np.maximum(dj - 1, 0), 0.0)  # P(K = dj)
    revenue = np.zeros((SUB, H))
    for q in range(SUB):
        into = (q + 0.5) / SUB  # mean position of the win within its month
        late = 1.0 if (q + 0.5) / SUB >= 0.5 else 0.0  # past mid-month: the first full month has no growth yet
        rev = kept_at_least * g ** np.maximum(dj - late, 0) + exactly * into * g ** np.maximum(dj - 1, 0)
        rev[0] = 1.0 - into
        revenue[q] = rev
    mrr_end = np.tile((1.0 - c) ** dj * g**dj, (SUB, 1))
    return revenue, mrr_end


def _slot_queue(sqls, slots, p0, first_lag, after_first, decay, step_days):
    """Starts per step and bin, the slot decay of each step's starts, and the SQLs still waiting at the horizon.

    Without a backlog every SQL starts in the step it qualifies (checked for the whole
    horizon at once); otherwise the steps are walked in order, the slots freed by
    closing deals going to the waiting SQLs first come first served. The wait of the
    SQLs starting in a step is the fluid FCFS wait: how long ago the arrivals reached
    the count of starts so far.
    """
    T = len(sqls)
    total_in = sqls.sum(axis=1)
    closing = np.zeros(2 * T + 1)
    weights = sqls * p0
    per_start = (total_in - weights.sum(axis=1))[:, None] * first_lag[None, :] + weights @ after_first
    for t in range(T):  # vectorised over bins; T is small
        closing[t:t + T + 1] += per_start[t]
    occupied_after = np.cumsum(total_in) - np.cumsum(closing[:T])
    occupied_before = occupied_after - total_in + closing[:T]
    if np.all(occupied_before + total_in - closing[:T] <= slots + 1e-9):
        return sqls.copy(), np.ones(T), np.zeros(sqls.shape[1])

    release = np.zeros(2 * T + 2)
    starts = np.zeros_like(sqls)
    deltas = np.ones(T)
    backlog = np.zeros(sqls.shape[1])
    arrived = np.concatenate([[0.0], np.cumsum(total_in)])  # SQLs by the end of each step
    started_so_far = 0.0
    occupied = 0.0
    for t in range(T):
        occupied -= release[t]
        demand = backlog + sqls[t]
        total = demand.sum()
        if total <= 0:
            continue
        free = max(slots[t] - occupied, 0.0)
        delta = 1.0
        if backlog.sum() > 0 and decay is not None:
            # FCFS: the SQLs starting now arrived when the arrivals reached the starts so far.
            reached = np.interp(started_so_far + min(total, free) / 2, arrived, np.arange(T + 1))
            wait_days = max(t + 0.5 - reached, 0.0) * step_days
            delta = float(wait_decay(wait_days * HOURS_PER_DAY, decay.half_life_hours, decay.shape))
        deltas[t] = delta
        mix = demand / total
        w_unit = mix * p0 * delta
        closes_unit = (1.0 - w_unit.sum()) * first_lag + w_unit @ after_first  # per SQL started now
        # A slot freed by a deal that closes within the step takes the next SQL in the same step.
        started = min(total, free / max(1.0 - closes_unit[0], 1e-9))
        s_k = started * mix
        backlog = demand - s_k
        starts[t] = s_k
        started_so_far += started
        closes = started * closes_unit
        release[t + 1:t + T + 1] += closes[1:]
        occupied += started - closes[0]  # deals that close within their first step free their slot at once
    return starts, deltas, backlog


class Pipeline:
    """What the AE slots and stages made, per step: starts, wins (count and value), and the pipeline at the horizon."""

    def __init__(self, starts, wins, win_value, open_wins, open_value, waiting):
        self.starts = starts
        self.wins = wins
        self.win_value = win_value
        self.open_wins = open_wins
        self.open_value = open_value
        self.waiting = waiting


def pipeline(scenario, sqls: np.ndarray, slots: np.ndarray, intent: np.ndarray, hand: float) -> Pipeline:
    """The fluid AE station (see the module docstring).

    Args:
        scenario: the scenario.
        sqls: SQLs per step and intent bin, ``(steps, bins)``.
        slots: expected deal slots in each step.
        intent: the intent bins' midpoints.
        hand: the share of would-be wins kept through AEs leaving (handover penalty).
    """
    op = scenario.opportunities
    T, _ = sqls.shape
    lags = close_lags(op, T // SUB)
    n = len(op.stages)
    adv = np.column_stack([st.advance.at(intent) for st in op.stages])  # (bins, stages)
    p0 = adv[:, 0]
    later = adv[:, 1:]
    reach = np.cumprod(np.hstack([np.ones((len(intent), 1)), later]), axis=1)  # P(passes stages 1..s-1 | past 0)
    if n > 1:
        lost_at = reach[:, :-1] * (1.0 - later)  # lost at stage s = 1..n-1
        after_first = lost_at @ lags[1:] + reach[:, -1:] * lags[-1][None, :]
    else:
        after_first = np.tile(lags[0], (len(intent), 1))
    win_p = p0 * reach[:, -1] * hand  # before the slot decay
    value = op.deal.value.mean * (op.deal.value_intent[0] + (op.deal.value_intent[1] - op.deal.value_intent[0])
                                  * intent)
    step_days = DAYS_PER_MONTH / SUB
    decay = op.slot_decay
    win_lag = lags[-1]
    open_after = 1.0 - np.cumsum(win_lag)  # P(a win closes at or after j + 1 steps)

    starts, deltas, backlog = _slot_queue(sqls, slots, p0, lags[0], after_first, decay, step_days)
    won_k = starts * win_p * deltas[:, None]  # expected wins by start step and bin
    wins = np.convolve(won_k.sum(axis=1), win_lag)[:T]
    win_value = np.convolve(won_k @ value, win_lag)[:T]
    left = open_after[T - 1 - np.arange(T)]  # a start at step t closes at or after T
    open_wins = float(won_k.sum(axis=1) @ left)
    open_value = float((won_k @ value) @ left)
    tail_decay = 1.0
    if decay is not None and backlog.sum() > 0:
        tail_decay = float(wait_decay(backlog.sum() / max(starts[-1].sum(), 1e-9) * step_days * HOURS_PER_DAY / 2,
                                      decay.half_life_hours, decay.shape))
    open_wins += float(backlog @ win_p) * tail_decay
    open_value += float(backlog @ (win_p * value)) * tail_decay
    return Pipeline(starts.sum(axis=1), wins, win_value, open_wins, open_value, float(backlog.sum()))
