"""Scores of a probabilistic forecast against what happened: pure functions, no model.

Each takes predictive *samples* (the Monte Carlo replications of one measure in one
month) and the observed value:

- :func:`central_band` / :func:`in_band`: the central ``p`` band of the samples and
  whether the observation falls in it (coverage).
- :func:`randomised_pit`: the probability integral transform of a count, randomised so
  that it is uniform on [0, 1] when the observation is drawn from the predictive
  (``u = F(y-1) + V (F(y) - F(y-1))``, ``V`` uniform); :func:`pit_histogram` bins them.
- :func:`crps`: the continuous ranked probability score, energy form
  ``E|X - y| - E|X - X'| / 2``, exact for the empirical distribution, O(n log n).
- :func:`time_to_close_ks`: the two-sample Kolmogorov-Smirnov distance of observed and
  simulated times to close (the caller applies the same censoring rule to both).
- :func:`coverage_verdict`: the honest reading of ``k`` months covered out of ``n``
  by a ``p`` band: the binomial probabilities and the 95% acceptance range under
  perfect calibration. Covering every month is not a pass: with 9 months and an 80%
  band it happens 0.8**9 = 13% of the time to a calibrated forecast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

__all__ = ["CoverageVerdict", "central_band", "coverage_verdict", "crps", "in_band", "pit_histogram",
           "pit_in_band", "randomised_pit", "time_to_close_ks"]


def _samples(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("expected at least one finite predictive sample")
    return x


def central_band(samples, level: float) -> tuple[float, float]:
    """The central ``level`` band of ``samples``: their ``(1-level)/2`` and ``(1+level)/2`` quantiles."""
    if not 0 < level < 1:
        raise ValueError(f"expected a band level between 0 and 1, got {level!r}")
    x = _samples(samples)
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def in_band(samples, observed: float, level: float) -> bool:
    """Whether ``observed`` lies in the central ``level`` band of ``samples`` (ends included)."""
    lo, hi = central_band(samples, level)
    return bool(lo <= observed <= hi)


def randomised_pit(samples, observed: float, rng) -> float:
    """The randomised PIT of ``observed`` under the empirical distribution ``F`` of ``samples``.

    ``u = F(y-) + V * (F(y) - F(y-))`` with ``V`` uniform on [0, 1] from ``rng``: for a
    count (an atom at ``y``), the jump is spread evenly, so ``u`` is uniform when ``y``
    is drawn from the predictive. ``F(y-)`` is the share of samples below ``y``, which
    for integers is ``F(y - 1)``. Continuous values have no atoms and ``u = F(y)``.
    """
    x = _samples(samples)
    below = np.count_nonzero(x < observed) / x.size
    at_most = np.count_nonzero(x <= observed) / x.size
    v = rng.uniform() if isinstance(rng, np.random.Generator) else np.random.default_rng(rng).uniform()
    return float(below + v * (at_most - below))


def pit_in_band(pit: float, level: float) -> bool:
    """Whether a randomised PIT falls in the central ``level`` band: ``(1-level)/2 <= pit <= (1+level)/2``.

    For counts this is the coverage to test: an observation at a band's end (an atom of
    the predictive) counts as inside with just the probability that makes a calibrated
    forecast cover exactly ``level`` of the time, so the number of months covered is
    Binomial(months, level) as :func:`coverage_verdict` assumes. :func:`in_band`, which
    counts the ends in, covers a little more than ``level`` for counts.
    """
    if not 0 < level < 1:
        raise ValueError(f"expected a band level between 0 and 1, got {level!r}")
    return bool((1 - level) / 2 <= pit <= (1 + level) / 2)


def pit_histogram(pits, bins: int = 10) -> np.ndarray:
    """How many PIT values fall in each of ``bins`` equal bins of [0, 1] (a 1 falls in the last)."""
    u = np.asarray(pits, dtype=float)
    u = u[np.isfinite(u)]
    counts, _ = np.histogram(np.clip(u, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    return counts


def crps(samples, observed: float) -> float:
    """The CRPS of the empirical distribution of ``samples`` at ``observed`` (lower is better).

    Energy form ``E|X - y| - E|X - X'| / 2`` over the samples, exactly: with the samples
    sorted, ``sum_{i<j} (x_j - x_i) = sum_i x_(i) (2i - n + 1)`` (0-based), so
    ``E|X - X'| = 2 sum_i x_(i) (2i - n + 1) / n**2``. In the units of the measure.
    """
    x = np.sort(_samples(samples))
    n = x.size
    first = float(np.mean(np.abs(x - observed)))
    i = np.arange(n)
    spread = 2.0 * float(np.sum(x * (2 * i - n + 1))) / (n * n)
    return first - 0.5 * spread


def time_to_close_ks(observed_days, simulated_days) -> dict:
    """Two-sample KS distance of observed and simulated times to close (days), with its p-value.

    Censoring: a deal's time to close is known only if it closed; both samples must be
    made by the same rule (here: deals created and closed inside the held-out window),
    else long closes are missing from one and not the other. The p-value treats the
    simulated sample as independent draws, so it is only a guide.
    """
    a = np.asarray(observed_days, dtype=float)
    b = np.asarray(simulated_days, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return {"ks": math.nan, "p_value": math.nan, "observed": int(a.size), "simulated": int(b.size)}
    result = stats.ks_2samp(a, b)
    return {"ks": float(result.statistic), "p_value": float(result.pvalue), "observed": int(a.size),
            "simulated": int(b.size)}


@dataclass(frozen=True)
class CoverageVerdict:
    """What ``covered`` months out of ``months`` say of a ``level`` band.

    Attributes:
        level: the band's nominal coverage (0.8 for the 80% band).
        months: the months scored.
        covered: the months whose observation fell in the band.
        expected: ``months * level``.
        p_at_most: P(K <= covered) for K ~ Binomial(months, level): small, the band is too narrow.
        p_at_least: P(K >= covered): small, the band is too wide.
        p_all: P(K = months), the chance that a calibrated band covers every month.
        accept_low, accept_high: the 95% acceptance range of K under calibration (2.5% in each tail
            at most).
        verdict: ``consistent with calibration``, ``too narrow`` (fewer covered than the range
            allows) or ``too wide`` (more); ``no months`` without any.
    """

    level: float
    months: int
    covered: int
    expected: float
    p_at_most: float
    p_at_least: float
    p_all: float
    accept_low: int
    accept_high: int
    verdict: str

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)

    def __str__(self) -> str:
        if self.months == 0:
            return f"{self.level:.0%} band: no months to score"
        return (f"{self.level:.0%} band: {self.covered} of {self.months} months covered "
                f"(calibrated: {self.accept_low} to {self.accept_high} with 95% probability; "
                f"all {self.months}: {self.p_all:.0%}) -> {self.verdict}")


def coverage_verdict(covered: int, months: int, level: float) -> CoverageVerdict:
    """The binomial reading of ``covered`` of ``months`` months in a ``level`` band.

    Under perfect calibration (and independent months) the number covered is
    Binomial(``months``, ``level``). The acceptance range ``[a, b]`` is the largest
    ``a`` with ``P(K < a) <= 2.5%`` and the smallest ``b`` with ``P(K > b) <= 2.5%``.
    Outside it the band is ``too narrow`` (below) or ``too wide`` (above); inside,
    ``consistent with calibration``, which is not a proof: few months rarely reject.
    A band that covers every month is *too wide* only when ``P(K = months)`` is below
    2.5%; for 9 months at 80% it is 0.8**9 = 13%, well within what chance gives.
    """
    if not 0 < level < 1:
        raise ValueError(f"expected a band level between 0 and 1, got {level!r}")
    n, k = int(months), int(covered)
    if not 0 <= k <= n:
        raise ValueError(f"expected 0 <= covered <= months, got {covered!r} of {months!r}")
    if n == 0:
        return CoverageVerdict(level, 0, 0, 0.0, math.nan, math.nan, math.nan, 0, 0, "no months")
    dist = stats.binom(n, level)
    ks = np.arange(n + 1)
    below = dist.cdf(ks - 1)  # P(K < a)
    above = dist.sf(ks)  # P(K > b)
    low = int(ks[below <= 0.025].max())
    high = int(ks[above <= 0.025].min())
    verdict = "too narrow" if k < low else "too wide" if k > high else "consistent with calibration"
    return CoverageVerdict(level=level, months=n, covered=k, expected=n * level, p_at_most=float(dist.cdf(k)),
                           p_at_least=float(dist.sf(k - 1)), p_all=float(dist.pmf(n)), accept_low=low,
                           accept_high=high, verdict=verdict)
