"""Response curves, carryover, lag and wait decay (docs/model.md, sections 1 and 3).

Every function is checked against something independent of its implementation: a
formula written out in plain Python, a closed form (steady state, ``S*(1-rate**n)``,
``2**-shape``) or an identity (linearity, identity at ``rate=0``/``lag=0``).
Tolerances are relative floating-point error, never copied outputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import FunnelError
from sim.model.response import carryover, effective_spend, exponential_response, hill_response, lagged, wait_decay

# ---------------------------------------------------------------------------------
# Strategies. Ranges are wide but keep (spend / half_spend) ** shape far from float
# overflow; the overflow edge has its own test below.

SPEND = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
ANY_SPEND = st.floats(min_value=-1e6, max_value=1e9, allow_nan=False, allow_infinity=False)
MAX_LEADS = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)
HALF_SPEND = st.floats(min_value=1e-2, max_value=1e7, allow_nan=False, allow_infinity=False)
SHAPE = st.floats(min_value=0.1, max_value=10.0, allow_nan=False, allow_infinity=False)
SCALE = st.floats(min_value=1e-2, max_value=1e7, allow_nan=False, allow_infinity=False)
RATE = st.floats(min_value=0.0, max_value=0.99, allow_nan=False, allow_infinity=False)
MONTHLY = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
SERIES = st.lists(MONTHLY, min_size=1, max_size=40)
HISTORY = st.lists(MONTHLY, min_size=0, max_size=30)
LAG = st.integers(min_value=0, max_value=12)
WAIT = st.floats(min_value=0.0, max_value=1e5, allow_nan=False, allow_infinity=False)
HALF_LIFE = st.floats(min_value=1e-2, max_value=1e4, allow_nan=False, allow_infinity=False)
DECAY_SHAPE = st.floats(min_value=0.05, max_value=10.0, allow_nan=False, allow_infinity=False)

REL = 1e-9  # relative tolerance against the written-out references


def _close(a, b, scale=1.0) -> bool:
    return math.isclose(float(a), float(b), rel_tol=REL, abs_tol=REL * scale)


# ---------------------------------------------------------------------------------
# Independent references (plain Python, no numpy, not the library's recursion).


def _hill_ref(s, max_leads, half_spend, shape):
    s = max(s, 0.0)
    return max_leads * s**shape / (s**shape + half_spend**shape)


def _exp_ref(s, max_leads, spend_scale):
    return max_leads * (1.0 - math.exp(-max(s, 0.0) / spend_scale))


def _adstock_ref(values, rate):
    """Direct weighted sum: a[t] = sum_k (1 - rate) * rate**k * values[t - k]."""
    return [sum((1.0 - rate) * rate**k * values[t - k] for k in range(t + 1)) for t in range(len(values))]


def _carryover_ref(spend, rate, history=()):
    full = list(history) + list(spend)
    return _adstock_ref(full, rate)[len(history):]


def _lagged_ref(spend, lag, history=()):
    """Month t of the window shows the spend of month t - lag (negative months from history)."""
    out = []
    for t in range(len(spend)):
        src = t - lag
        if src >= 0:
            out.append(spend[src])
        elif len(history) + src >= 0:
            out.append(history[len(history) + src])
        else:
            out.append(0.0)
    return out


# ---------------------------------------------------------------------------------
# Hill


# Each example checks every scalar property of the curve at once (one draw, five checks).
@given(ANY_SPEND, SPEND, SPEND, MAX_LEADS, HALF_SPEND, SHAPE)
def test_hill_properties(any_spend, a, b, max_leads, half_spend, shape):
    # Between zero and max_leads, for any spend (a negative one counts as none).
    assert 0.0 <= float(hill_response(any_spend, max_leads, half_spend, shape)) <= max_leads
    # No spend buys nothing; half_spend buys exactly half of max_leads.
    assert float(hill_response(0.0, max_leads, half_spend, shape)) == 0.0
    assert float(hill_response(half_spend, max_leads, half_spend, shape)) == max_leads / 2
    # The written-out formula.
    for spend in (a, b):
        assert _close(hill_response(spend, max_leads, half_spend, shape), _hill_ref(spend, max_leads, half_spend,
                                                                                    shape), scale=max_leads)
    # Non-decreasing in spend.
    lo, hi = min(a, b), max(a, b)
    f_lo = float(hill_response(lo, max_leads, half_spend, shape))
    f_hi = float(hill_response(hi, max_leads, half_spend, shape))
    assert f_hi >= f_lo - 1e-12 * max_leads  # rounding only


def test_hill_never_exceeds_max_leads_even_by_rounding():
    assert float(hill_response(139156569.33371747, 3.0, 3.0, 6.0)) <= 3.0


@given(st.lists(SPEND, min_size=2, max_size=50), MAX_LEADS, HALF_SPEND, SHAPE)
def test_hill_on_an_array_is_elementwise_and_monotone(spends, max_leads, half_spend, shape):
    s = np.sort(np.array(spends))
    out = hill_response(s, max_leads, half_spend, shape)
    assert out.shape == s.shape
    assert np.all(np.diff(out) >= -1e-12 * max_leads)
    for x, y in zip(s, out, strict=True):
        # scalar and vectorised pow may differ in the last bit
        assert float(hill_response(float(x), max_leads, half_spend, shape)) == pytest.approx(y, rel=1e-12, abs=0)


def test_hill_saturates_towards_max_leads():
    spend = np.array([1e3, 1e4, 1e5, 1e6])
    out = hill_response(spend, 100.0, 10.0, 1.0)
    assert np.all(np.diff(out) > 0)
    assert 100.0 - out[-1] == pytest.approx(100.0 * 10.0 / (1e6 + 10.0), rel=1e-9)


def test_hill_with_huge_spend_ratio_is_max_leads_not_nan():
    with np.errstate(all="ignore"):
        value = float(hill_response(1e7, 200.0, 1.0, 50.0))  # (1e7)**50 = 1e350 overflows
    assert value == pytest.approx(200.0)


# ---------------------------------------------------------------------------------
# Exponential


@given(ANY_SPEND, SPEND, SPEND, MAX_LEADS, SCALE)
def test_exponential_properties(any_spend, a, b, max_leads, spend_scale):
    # Between zero and max_leads, for any spend.
    assert 0.0 <= float(exponential_response(any_spend, max_leads, spend_scale)) <= max_leads
    # No spend buys nothing; spend_scale buys 1 - 1/e of max_leads.
    assert float(exponential_response(0.0, max_leads, spend_scale)) == 0.0
    assert math.isclose(float(exponential_response(spend_scale, max_leads, spend_scale)),
                        max_leads * (1.0 - 1.0 / math.e), rel_tol=1e-12)
    # The written-out formula.
    for spend in (a, b):
        assert _close(exponential_response(spend, max_leads, spend_scale), _exp_ref(spend, max_leads, spend_scale),
                      scale=max_leads)
    # Non-decreasing in spend.
    lo, hi = min(a, b), max(a, b)
    f_lo = float(exponential_response(lo, max_leads, spend_scale))
    f_hi = float(exponential_response(hi, max_leads, spend_scale))
    assert f_hi >= f_lo - 1e-12 * max_leads
    # Concave: f((a+b)/2) >= (f(a)+f(b))/2, each extra dollar buys no more than the one before.
    mid = float(exponential_response((a + b) / 2, max_leads, spend_scale))
    chord = (float(exponential_response(a, max_leads, spend_scale))
             + float(exponential_response(b, max_leads, spend_scale))) / 2
    assert mid >= chord - 1e-12 * max_leads


def test_exponential_marginal_leads_fall_by_a_constant_factor():
    # Equal steps of spend_scale: each step's gain is 1/e of the previous one.
    out = exponential_response(np.arange(6) * 1000.0, 50.0, 1000.0)
    gains = np.diff(out)
    np.testing.assert_allclose(gains[1:] / gains[:-1], 1 / math.e, rtol=1e-9)


# ---------------------------------------------------------------------------------
# Carryover


@given(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), RATE, st.integers(min_value=1, max_value=60),
       st.integers(min_value=0, max_value=80))
def test_carryover_of_constant_spend_has_the_closed_forms(level, rate, months, history_months):
    # From zero: a[n] = S * (1 - rate**(n+1)).
    out = carryover([level] * months, rate)
    expected = [level * (1.0 - rate ** (n + 1)) for n in range(months)]
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * max(level, 1.0))
    # Held long enough it converges to the spend, from below, never overshooting.
    long = 1 if rate == 0 else math.ceil(math.log(1e-12) / math.log(rate)) + 1
    out = carryover([level] * long, rate)
    assert out[-1] == pytest.approx(level, rel=1e-9)
    assert np.all(out <= level * (1 + 1e-12))
    # A constant history seeds the window: its first month is month history_months + 1 from zero.
    out = carryover([level] * 3, rate, history=[level] * history_months)
    expected = [level * (1.0 - rate ** (history_months + 1 + t)) for t in range(3)]
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-300)
    # A long constant history starts the window at steady state: rate**(m+1) <= 1e-9 gives S within 1e-9 * S.
    steady = 0 if rate == 0 else math.ceil(math.log(1e-9) / math.log(rate))
    out = carryover([level], rate, history=[level] * steady)
    assert abs(out[0] - level) <= 1e-9 * level * (1 + 1e-6)


@given(SERIES, SERIES, st.floats(-10, 10, allow_nan=False), st.floats(-10, 10, allow_nan=False), RATE)
def test_carryover_is_linear(x, y, a, b, rate):
    n = min(len(x), len(y))
    x, y = np.array(x[:n]), np.array(y[:n])
    left = carryover(a * x + b * y, rate)
    right = a * carryover(x, rate) + b * carryover(y, rate)
    scale = (abs(a) + abs(b)) * max(1.0, float(np.max(np.abs(x))), float(np.max(np.abs(y))))
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-9 * scale + 1e-300)


@given(SERIES, RATE, LAG, HISTORY)
def test_carryover_lag_and_effective_spend_match_their_references(spend, rate, lag, history):
    scale = max([1.0, *spend, *history])
    # Carryover is the direct weighted sum; at rate 0 it is the identity.
    out = carryover(spend, rate, history=history)
    assert len(out) == len(spend)
    np.testing.assert_allclose(out, _carryover_ref(spend, rate, history), rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_array_equal(carryover(spend, 0.0, history=history), np.array(spend))
    # Lag shifts and fills from history, then zeros; a lag of 0 is the identity.
    out = lagged(spend, lag, history=history)
    assert len(out) == len(spend)
    np.testing.assert_array_equal(out, np.array(_lagged_ref(spend, lag, history), dtype=float))
    np.testing.assert_array_equal(lagged(spend, 0, history=history), np.array(spend))
    # Effective spend: adstock of every month from the first history month, month t reading month t - lag.
    direct = effective_spend(spend, rate=rate, lag_months=lag, history=history)
    adstock = _adstock_ref(list(history) + list(spend), rate)
    h = len(history)
    expected = [adstock[h + t - lag] if h + t - lag >= 0 else 0.0 for t in range(len(spend))]
    assert len(direct) == len(spend)
    np.testing.assert_allclose(direct, expected, rtol=1e-9, atol=1e-9 * scale)
    # ... which is carryover then lag, the lag filled from the history's own carryover.
    composed = lagged(carryover(spend, rate, history=history), lag, history=carryover(history, rate))
    np.testing.assert_allclose(direct, composed, rtol=1e-12, atol=1e-9)


def test_carryover_by_hand():
    # rate 0.5: a = 0.5 * a_prev + 0.5 * s, starting from history [100].
    out = carryover([0.0, 200.0, 0.0], 0.5, history=[100.0])
    np.testing.assert_allclose(out, [25.0, 112.5, 56.25])


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), float("inf"), -float("inf")])
def test_carryover_rate_outside_unit_interval_is_rejected(rate):
    with pytest.raises(FunnelError, match="rate"):
        carryover([1.0, 2.0], rate)


# ---------------------------------------------------------------------------------
# Lag


def test_lagged_by_hand():
    np.testing.assert_array_equal(lagged([1, 2, 3, 4], 2, history=[7, 8, 9]), [8, 9, 1, 2])
    np.testing.assert_array_equal(lagged([1, 2, 3, 4], 3, history=[9]), [0, 0, 9, 1])
    np.testing.assert_array_equal(lagged([1, 2], 5), [0, 0])


def test_negative_lag_is_rejected_naming_lag_months():
    with pytest.raises(FunnelError, match="lag_months"):
        lagged([1.0, 2.0], -1)


# ---------------------------------------------------------------------------------
# Effective spend = lag of carryover, both seeded by history


def test_effective_spend_by_hand():
    # history [200], spend [100, 0, 0], rate 0.5: adstock 100 | 100, 50, 25; lag 1 shows
    # the history month's 100 first.
    out = effective_spend([100.0, 0.0, 0.0], rate=0.5, lag_months=1, history=[200.0])
    np.testing.assert_allclose(out, [100.0, 100.0, 50.0])
    # Lag longer than the history: zeros, then the history's adstock.
    out = effective_spend([100.0, 0.0, 0.0], rate=0.5, lag_months=2, history=[200.0])
    np.testing.assert_allclose(out, [0.0, 100.0, 100.0])


def test_effective_spend_defaults_are_the_identity():
    np.testing.assert_array_equal(effective_spend([3.0, 1.0, 4.0]), [3.0, 1.0, 4.0])


def test_effective_spend_rejects_a_bad_rate():
    with pytest.raises(FunnelError, match="rate"):
        effective_spend([1.0], rate=1.0)


# ---------------------------------------------------------------------------------
# Wait decay


@given(WAIT, WAIT, HALF_LIFE, DECAY_SHAPE)
def test_wait_decay_properties(a, b, half_life, shape):
    # 1 at no wait; 2**-shape at the half life.
    assert float(wait_decay(0.0, half_life, shape)) == 1.0
    assert math.isclose(float(wait_decay(half_life, half_life, shape)), 2.0**-shape, rel_tol=1e-12)
    # The written-out formula.
    for wait in (a, b):
        expected = math.exp(-shape * math.log1p(wait / half_life))
        assert math.isclose(float(wait_decay(wait, half_life, shape)), expected, rel_tol=1e-9, abs_tol=1e-300)
    # Decreasing in the wait, strictly once the waits differ by a visible amount.
    lo, hi = min(a, b), max(a, b)
    d_lo, d_hi = float(wait_decay(lo, half_life, shape)), float(wait_decay(hi, half_life, shape))
    assert 0.0 <= d_hi <= d_lo <= 1.0
    if hi - lo >= 1e-3 * half_life and d_lo > 1e-250:
        assert d_hi < d_lo


def test_wait_decay_on_an_array():
    out = wait_decay(np.array([0.0, 24.0, 72.0]), 24.0, 1.0)
    np.testing.assert_allclose(out, [1.0, 0.5, 0.25])
