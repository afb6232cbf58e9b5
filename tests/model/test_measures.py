"""Helpers of the measures against brute-force second methods.

(Months in intervals against a month-by-month loop: see test_pieces.py.)
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.measures import _slot_days
from sim.model.revenue import subscription_book
from sim.model.team import Seat, Tenure
from sim.scenario.schema import Customers
from sim.scenario.units import DAYS_PER_MONTH


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
    ten = Tenure(start, start + length, ramped_at_start=False)
    exact = _slot_days([Seat("ae", 0, [ten])], max_open=full, selling_share=1.0, ramp_months=ramp_months,
                       horizon=until)
    end = min(ten.end, until)
    if end <= start:
        assert exact == 0
        return
    t = np.linspace(start, end, 200_001)[:-1] + (end - start) / 400_000
    productivity = np.minimum(1.0, (t - start) / (ramp_months * DAYS_PER_MONTH)) if ramp_months > 1e-6 else 1.0
    # The 1e-12 is the model's forgiving floor (sim.scenario.units.whole): it absorbs round-off, as at the
    # ramp's step times; once ramped the rule is the same forgiving floor of full.
    limit = np.maximum(1, np.floor(np.where(productivity >= 1, full, full * productivity) + 1e-12))
    grid = limit.mean() * (end - start)
    assert abs(exact - grid) <= max(full, 1) * (end - start) / 200_000 * 2 + 1e-9
