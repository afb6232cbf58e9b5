"""The back-test's scores against what is known exactly: CRPS in closed form, PIT uniformity, binomial verdicts."""

import math

import numpy as np
import pytest
from scipy import stats

from sim.calibrate.scores import (
    central_band,
    coverage_verdict,
    crps,
    in_band,
    pit_histogram,
    pit_in_band,
    randomised_pit,
    time_to_close_ks,
)


def _normal_crps(mu, s, y):
    z = (y - mu) / s
    return s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


@pytest.mark.parametrize("y", [-2.5, 0.0, 0.7, 4.0])
def test_crps_matches_the_normal_closed_form_within_sampling_error(y):
    rng = np.random.default_rng(11)
    mu, s, n = 1.0, 2.0, 4000
    values = np.array([crps(rng.normal(mu, s, n), y) for _ in range(40)])
    # The sample CRPS is a V-statistic: biased by E|X - X'| / (2n) = s / (sqrt(pi) n); the rest is noise.
    bias = s / (math.sqrt(math.pi) * n)
    se = values.std(ddof=1) / math.sqrt(len(values))
    assert abs(values.mean() - bias - _normal_crps(mu, s, y)) < 4 * se + 1e-9


def test_crps_is_the_energy_form_exactly():
    rng = np.random.default_rng(3)
    x = rng.poisson(5, 301).astype(float)
    brute = np.mean(np.abs(x - 4)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
    assert crps(x, 4) == pytest.approx(brute, rel=1e-12)
    assert crps([3.0, 3.0], 3.0) == 0.0


def test_randomised_pit_is_uniform_when_the_count_is_drawn_from_the_predictive():
    rng = np.random.default_rng(5)
    samples = rng.poisson(4.0, 2000)  # the predictive: an empirical Poisson(4), heavy atoms
    ys = rng.choice(samples, 3000)  # observations drawn from that same predictive
    u = np.array([randomised_pit(samples, y, rng) for y in ys])
    assert stats.kstest(u, "uniform").pvalue > 0.001
    # Without the randomisation F(y) is far from uniform: the test sees it.
    plain = np.array([np.mean(samples <= y) for y in ys])
    assert stats.kstest(plain, "uniform").pvalue < 1e-6
    counts = pit_histogram(u, bins=10)
    assert counts.sum() == 3000 and len(counts) == 10
    # Exact band coverage from the PIT even for counts, where the ends-included band covers more.
    covered = np.mean([pit_in_band(v, 0.8) for v in u])
    assert abs(covered - 0.8) < 4 * math.sqrt(0.8 * 0.2 / 3000)
    inclusive = np.mean([in_band(samples, y, 0.8) for y in ys[:500]])
    assert inclusive > 0.85


def test_pit_of_an_observation_outside_the_samples():
    rng = np.random.default_rng(0)
    assert randomised_pit([1, 2, 3], 10, rng) == 1.0
    assert randomised_pit([1, 2, 3], -1, rng) == 0.0
    assert central_band(np.arange(101), 0.8) == pytest.approx((10.0, 90.0))


def test_binomial_verdict_nine_months_of_an_80_percent_band():
    v = coverage_verdict(9, 9, 0.8)
    assert v.p_all == pytest.approx(0.8 ** 9) and round(v.p_all, 2) == 0.13
    assert v.verdict == "consistent with calibration"  # all nine covered is what chance gives 13% of the time
    assert (v.accept_low, v.accept_high) == (5, 9)
    assert v.p_at_most == pytest.approx(1.0) and v.p_at_least == pytest.approx(0.8 ** 9)
    assert coverage_verdict(4, 9, 0.8).verdict == "too narrow"
    assert coverage_verdict(4, 9, 0.8).p_at_most == pytest.approx(stats.binom(9, 0.8).cdf(4))
    assert "13%" in str(v)


def test_binomial_verdict_acceptance_range_holds_95_percent():
    for n, p in [(9, 0.8), (24, 0.5), (30, 0.8), (60, 0.8)]:
        v = coverage_verdict(0, n, p)
        dist = stats.binom(n, p)
        assert dist.cdf(v.accept_low - 1) <= 0.025 < dist.cdf(v.accept_low)
        assert dist.sf(v.accept_high) <= 0.025 < dist.sf(v.accept_high - 1)
    assert coverage_verdict(30, 30, 0.8).verdict == "too wide"  # 0.8**30 = 0.1%
    assert coverage_verdict(0, 0, 0.8).verdict == "no months"
    with pytest.raises(ValueError):
        coverage_verdict(10, 9, 0.8)


def test_time_to_close_ks_distance_and_empty_samples():
    rng = np.random.default_rng(1)
    same = time_to_close_ks(rng.exponential(20, 200), rng.exponential(20, 5000))
    shifted = time_to_close_ks(rng.exponential(20, 200), rng.exponential(40, 5000))
    assert same["ks"] < shifted["ks"] and shifted["p_value"] < 1e-6
    assert math.isnan(time_to_close_ks([], [1.0])["ks"])
