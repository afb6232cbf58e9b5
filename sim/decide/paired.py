"""Paired statistics over alternatives run with common random numbers (``docs/model.md``, Randomness).

The input is a matrix of objective values, one row per replication and one column
per alternative; row ``i`` of every column saw the same world (the same replication
seed). Pairing by row is what makes differences sharp: the noise the alternatives
share cancels. Everything here is a pure function of that matrix.

Intervals: for the mean, Student's t on the per-replication differences; for the
other risk measures (VaR, CVaR, a probability), percentile bootstrap intervals that
resample whole rows, so the pairing is kept.
"""

from __future__ import annotations

import math

import numpy as np

from sim.montecarlo.summary import confidence_half_width
from sim.seeds import keyed

__all__ = ["best_share_intervals", "best_shares", "bootstrap_rows", "estimate", "paired_difference", "risk_samples",
           "selection_probability", "variance_reduction"]

BOOTSTRAP_SAMPLES = 2000


def bootstrap_rows(n: int, seed, samples: int = BOOTSTRAP_SAMPLES) -> np.ndarray:
    """Row indices of ``samples`` bootstrap resamples of ``n`` replications, reproducible from ``seed``.

    The generator is keyed apart from the replications' own seeds (:func:`sim.seeds.keyed`),
    so resampling never reuses their streams.
    """
    rng = np.random.default_rng(keyed(seed, 0xB007))
    return rng.integers(0, n, size=(samples, n))


def _blocks(rows: np.ndarray, cells: int = 4_000_000):
    """The resamples in blocks small enough to index a replications x alternatives matrix with."""
    step = max(1, cells // max(1, rows.shape[1] * 64))
    return [rows[k:k + step] for k in range(0, len(rows), step)]


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    half = confidence_half_width(x, level)
    return m, m - half, m + half


def _percentile(samples: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(samples, [0.5 - level / 2, 0.5 + level / 2])
    return float(low), float(high)


def estimate(x, risk, level: float, rows: np.ndarray) -> tuple[float, float, float]:
    """``risk(x)`` with its confidence interval at ``level``: ``(estimate, low, high)``.

    ``rows`` are bootstrap resamples (:func:`bootstrap_rows`), used unless the risk is the mean.
    """
    x = np.asarray(x, dtype=float)
    if risk.name == "mean":
        return _t_interval(x, level)
    return (float(risk(x)), *_percentile(risk(x[rows]), level))


def paired_difference(a, b, risk, level: float, rows: np.ndarray) -> tuple[float, float, float]:
    """``risk(a) - risk(b)`` for paired samples, with its interval: ``(difference, low, high)``.

    Equal samples give exactly zero, with a zero-width interval.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if risk.name == "mean":
        d = a - b
        if not d.any():
            return 0.0, 0.0, 0.0
        return _t_interval(d, level)
    diff = float(risk(a) - risk(b))
    return (diff, *_percentile(risk(a[rows]) - risk(b[rows]), level))


def variance_reduction(a, b) -> float:
    """What pairing bought: ``(var a + var b) / var(a - b)``.

    The numerator is the variance of a difference between independent runs, the
    denominator that of the paired difference; above 1, common random numbers helped.
    Infinite when the paired difference does not vary (an alternative against itself).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    independent = a.var(ddof=1) + b.var(ddof=1)
    paired = (a - b).var(ddof=1)
    if paired == 0:
        return float("inf") if independent > 0 else float("nan")
    return float(independent / paired)


def risk_samples(values, risk=None) -> np.ndarray:
    """The per-replication values a risk measure ranks by, replications on the second-to-last axis.

    For the mean, the objective values themselves; for a probability of reaching a
    target, the indicators ``value >= target`` (so alternatives that always reach it
    tie); for VaR and CVaR at tail share ``t``, the tail samples: each alternative's
    worst ``ceil(t * n)`` replications in order, so that row ``j`` compares the
    alternatives' ``j``-th worst outcomes (CVaR is those rows' mean; VaR the last of them).
    """
    x = np.asarray(values, dtype=float)
    if risk is None or risk.name == "mean":
        return x
    if risk.name == "probability":
        return (x >= risk.target).astype(float)
    k = max(1, math.ceil(risk.tail * x.shape[-2]))
    return np.sort(x, axis=-2)[..., :k, :]


def _best_per_row(x: np.ndarray) -> np.ndarray:
    top = x == x.max(axis=-1, keepdims=True)
    return top / top.sum(axis=-1, keepdims=True)


def best_shares(values: np.ndarray, risk=None) -> np.ndarray:
    """For each alternative (column), the share of rows of :func:`risk_samples` in which it is best.

    Rows are replications (or, for VaR and CVaR, tail ranks). Ties share the row
    equally, so the shares sum to 1.
    """
    return _best_per_row(risk_samples(values, risk)).mean(axis=-2)


def best_share_intervals(values: np.ndarray, level: float, rows: np.ndarray,
                         risk=None) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap intervals of :func:`best_shares`: ``(low, high)``, one value per alternative."""
    values = np.asarray(values, dtype=float)
    shares = np.concatenate([best_shares(values[block], risk) for block in _blocks(rows)])  # resamples x alternatives
    low, high = np.quantile(shares, [0.5 - level / 2, 0.5 + level / 2], axis=0)
    return low, high


def selection_probability(values: np.ndarray, risk, rows: np.ndarray) -> np.ndarray:
    """For each alternative, the share of bootstrap resamples in which its ``risk`` is the best.

    This estimates the probability that picking the best-looking alternative picks
    the truly best one (the probability of correct selection, for the one picked).
    """
    values = np.asarray(values, dtype=float)
    scores = np.concatenate([risk(np.moveaxis(values[block], 1, -1)) for block in _blocks(rows)])
    top = scores == scores.max(axis=-1, keepdims=True)
    return (top / top.sum(axis=-1, keepdims=True)).mean(axis=0)
