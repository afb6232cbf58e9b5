"""Helpers of the measures against brute-force second methods."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.model.measures import _interval_months
from sim.model.revenue import subscription_book
from sim.scenario.schema import DAYS_PER_MONTH, Customers


def _by_loop(start, end, H):
    out = np.zeros(H)
    for a, b in zip(start, end, strict=True):
        for j in range(H):
            lo, hi = max(a, j * DAYS_PER_MONTH), min(b, (j + 1) * DAYS_PER_MONTH)
            if hi > lo:
                out[j] += (hi - lo) / DAYS_PER_MONTH
    return out


@settings(max_examples=100, deadline=None)
@given(arrays(float, st.integers(0, 30), elements=st.floats(-20, 400)),
       arrays(float, 30, elements=st.floats(0, 200)), st.integers(1, 12))
def test_interval_months_matches_a_month_by_month_loop(start, length, H):
    end = start + length[: len(start)]
    assert np.allclose(_interval_months(start, end, H), _by_loop(start, end, H), atol=1e-9)


def test_subscription_revenue_matches_day_by_day_sum():
    # Daily revenue = MRR in force / days per month; a second method on a fine grid.
    rng = np.random.default_rng(3)
    n, H = 60, 6
    start = rng.random(n) * H * DAYS_PER_MONTH
    mrr = rng.uniform(50, 500, n)
    u = rng.random(n)
    cust = Customers(churn_month=0.1, expansion_month=0.0)
    book = subscription_book(start, mrr, u, cust, H)
    kept = np.floor(np.log1p(-u) / np.log1p(-0.1)) + 1
    end = start + kept * DAYS_PER_MONTH
    step = 0.01
    t = np.arange(0, H * DAYS_PER_MONTH, step) + step / 2
    alive = (t[None, :] >= start[:, None]) & (t[None, :] < end[:, None])
    daily = (alive * mrr[:, None]).sum(axis=0) * step / DAYS_PER_MONTH
    by_month = np.bincount((t / DAYS_PER_MONTH).astype(int), weights=daily, minlength=H)[:H]
    assert np.allclose(book.revenue, by_month, rtol=2e-3)
    assert np.isclose(book.mrr_end[-1], mrr[end > H * DAYS_PER_MONTH].sum())


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 100), st.floats(1, 400), st.floats(0.5, 40), st.floats(0, 6), st.floats(1, 800))
def test_slot_days_integrate_the_ramp_rule_exactly(start, length, full, ramp_months, until):
    # Second method: the limit rule max(1, floor(full * productivity)) on a fine grid.
    from sim.model.measures import _slot_days
    from sim.model.team import Seat, Tenure

    ten = Tenure(start, start + length, ramped_at_start=False)
    exact = _slot_days([Seat("ae", 0, [ten])], max_open=full, selling_share=1.0, ramp_months=ramp_months,
                       horizon=until)
    end = min(ten.end, until)
    if end <= start:
        assert exact == 0
        return
    t = np.linspace(start, end, 200_001)[:-1] + (end - start) / 400_000
    productivity = np.minimum(1.0, (t - start) / (ramp_months * DAYS_PER_MONTH)) if ramp_months > 1e-6 else 1.0
    # The 1e-12 absorbs rounding at the ramp's step times only; once ramped the rule is floor(full).
    limit = np.maximum(1, np.where(productivity >= 1, np.floor(full), np.floor(full * productivity + 1e-12)))
    grid = limit.mean() * (end - start)
    assert abs(exact - grid) <= max(full, 1) * (end - start) / 200_000 * 2 + 1e-9
