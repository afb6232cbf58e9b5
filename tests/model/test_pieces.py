"""The memory-saving code works through its input in pieces; each is checked against a naive second method.

- ``IntervalMonths`` fed in several calls is ``interval_months`` of everything at once, bit for bit,
  and a per-interval loop over the months to 1e-12.
- ``month_counts`` (weighted, more than ``PIECE`` values) is ``np.bincount``, bit for bit.
- ``subscription_book`` over more than ``CUSTOMER_PIECE`` customers is the old all-at-once formula
  (written out below), bit for bit.
- ``stage_paths`` over more than ``PIECE`` leads is the same worked out lead by lead.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.model.leads import Columns, Uniforms
from sim.model.months import PIECE, IntervalMonths, interval_months, month_counts
from sim.model.paths import stage_paths
from sim.model.revenue import CUSTOMER_PIECE, subscription_book
from sim.scenario.schema import Customers, Opportunities
from sim.scenario.units import DAYS_PER_MONTH

# ---------------------------------------------------------------------------------
# Months spent in intervals


def _months_by_loop(start, end, H):
    """Per interval, per month: the overlap of [start, end) (clipped to the horizon) with the month."""
    horizon = H * DAYS_PER_MONTH
    out = [0.0] * H
    for a, b in zip(start, end, strict=True):
        a = min(max(a, 0.0), horizon)
        b = min(max(b, a), horizon)
        for j in range(H):
            lo, hi = max(a, j * DAYS_PER_MONTH), min(b, (j + 1) * DAYS_PER_MONTH)
            if hi > lo:
                out[j] += (hi - lo) / DAYS_PER_MONTH
    return np.array(out)


intervals = st.integers(1, 14).flatmap(lambda H: st.tuples(
    st.just(H),
    arrays(float, st.integers(0, 40), elements=st.floats(-30, H * DAYS_PER_MONTH + 30)),
    st.lists(st.integers(0, 40), max_size=4),
    st.data(),
))


@settings(max_examples=100, deadline=None)
@given(intervals)
def test_interval_months_in_pieces_is_all_at_once_bit_for_bit_and_the_loop(case):
    H, start, cuts, data = case
    length = data.draw(arrays(float, len(start), elements=st.floats(0, 3 * DAYS_PER_MONTH)))
    end = start + length
    at_once = interval_months(start, end, H)
    acc = IntervalMonths(H)
    bounds = sorted({0, len(start), *[min(c, len(start)) for c in cuts]})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        acc.add(start[lo:hi], end[lo:hi])
    assert np.array_equal(acc.months(), at_once)  # bit for bit
    np.testing.assert_allclose(at_once, _months_by_loop(start, end, H), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(intervals)
def test_weighted_intervals_count_each_interval_its_weight_times(case):
    # A weight w is the interval added w times (the AE slots offered: a step's limit).
    H, start, _, data = case
    length = data.draw(arrays(float, len(start), elements=st.floats(0, 3 * DAYS_PER_MONTH)))
    weights = data.draw(arrays(int, len(start), elements=st.integers(0, 5)))
    end = start + length
    weighted = IntervalMonths(H).add(start, end, weights=weights).months()
    repeated = interval_months(np.repeat(start, weights), np.repeat(end, weights), H)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-12, atol=1e-12)
    assert np.array_equal(IntervalMonths(H).add(start, end, weights=1.0).months(), interval_months(start, end, H))


def test_interval_months_over_more_than_a_piece():
    H = 7
    rng = np.random.default_rng(11)
    n = 2 * PIECE + 123
    start = rng.uniform(-10, H * DAYS_PER_MONTH + 10, n)
    end = start + rng.exponential(25, n)
    at_once = interval_months(start, end, H)
    acc = IntervalMonths(H)
    for lo, hi in ((0, 5), (5, PIECE + 7), (PIECE + 7, n)):
        acc.add(start[lo:hi], end[lo:hi])
    assert np.array_equal(acc.months(), at_once)
    # A copy goes on independently of the original.
    copy = acc.copy().add(start[:10], end[:10])
    assert np.array_equal(acc.months(), at_once) and not np.array_equal(copy.months(), at_once)
    # The naive second method, vectorised over the intervals: each month's overlap, month by month.
    horizon = H * DAYS_PER_MONTH
    a = np.clip(start, 0, horizon)
    b = np.clip(end, a, horizon)
    naive = np.array([np.sum(np.maximum(np.minimum(b, (j + 1) * DAYS_PER_MONTH) - np.maximum(a, j * DAYS_PER_MONTH),
                                        0.0)) / DAYS_PER_MONTH for j in range(H)])
    np.testing.assert_allclose(at_once, naive, rtol=1e-12)
    assert at_once.sum() == pytest.approx((b - a).sum() / DAYS_PER_MONTH, rel=1e-12)


# ---------------------------------------------------------------------------------
# Counts per month


def test_month_counts_with_weights_over_more_than_a_piece_is_bincount_bit_for_bit():
    H = 9
    rng = np.random.default_rng(5)
    n = 3 * PIECE + 17
    times = rng.uniform(0, H * DAYS_PER_MONTH * 1.2, n)  # some past the horizon: the last month
    times[rng.integers(0, n, 500)] = np.nan  # left out, as infinity is
    times[rng.integers(0, n, 500)] = np.inf
    times[:3] = [0.0, H * DAYS_PER_MONTH, DAYS_PER_MONTH]  # the edges
    weights = rng.lognormal(3, 2, n)
    ok = np.isfinite(times)
    month = np.minimum(np.floor(times[ok] / DAYS_PER_MONTH).astype(int), H - 1)
    expected = np.bincount(month, weights=weights[ok], minlength=H)
    got = month_counts(times, H, weights)
    assert np.array_equal(got, expected)  # bit for bit: both add in input order
    assert np.array_equal(month_counts(times, H), np.bincount(month, minlength=H).astype(float))
    assert month[0] == 0 and month[1] == H - 1 and month[2] == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), arrays(float, st.integers(0, 200), elements=st.floats(0, 500)))
def test_month_counts_is_bincount_for_any_times(H, times):
    w = np.linspace(0.5, 3.0, len(times)) ** 3
    month = np.minimum(np.floor(times / DAYS_PER_MONTH).astype(int), H - 1)
    assert np.array_equal(month_counts(times, H, w), np.bincount(month, weights=w, minlength=H))


# ---------------------------------------------------------------------------------
# The subscription book


def _book_all_at_once(start_days, mrr, u_churn, customers: Customers, H):
    """The old formula: every customer in one (customers, months) array, summed down the rows once."""
    start = np.asarray(start_days, dtype=float)[:, None]
    level0 = np.asarray(mrr, dtype=float)[:, None]
    u = np.asarray(u_churn, dtype=float)
    churn = customers.churn_month
    if churn <= 0:
        kept = np.full(u.shape, np.inf)
    elif churn >= 1:
        kept = np.ones(u.shape)
    else:
        with np.errstate(over="ignore", divide="ignore"):
            kept = np.floor(np.log1p(-u) / np.log1p(-churn)) + 1.0
    with np.errstate(over="ignore"):
        end = start + kept[:, None] * DAYS_PER_MONTH
    lo_edge = np.arange(H)[None, :] * DAYS_PER_MONTH
    hi_edge = lo_edge + DAYS_PER_MONTH
    lo = np.clip(start, lo_edge, hi_edge)
    hi = np.clip(end, lo_edge, hi_edge)
    active = np.maximum(hi - lo, 0.0) / DAYS_PER_MONTH
    mid = (lo + hi) / 2
    growth = 1.0 + customers.expansion_month
    level = level0 * growth ** np.floor(np.maximum(mid - start, 0.0) / DAYS_PER_MONTH)
    alive_end = (start <= hi_edge) & (end > hi_edge)
    level_end = level0 * growth ** np.floor(np.maximum(hi_edge - start, 0.0) / DAYS_PER_MONTH)
    return ((level * active).sum(axis=0), np.where(alive_end, level_end, 0.0).sum(axis=0), alive_end.sum(axis=0),
            ((end > lo_edge) & (end <= hi_edge)).sum(axis=0))


@pytest.mark.parametrize(("churn", "expansion"), [(0.04, 0.01), (0.0, 0.02), (1.0, 0.0), (0.3, 0.0)])
def test_subscription_book_in_pieces_is_the_old_formula_bit_for_bit(churn, expansion):
    H = 10
    rng = np.random.default_rng(8)
    n = 2 * CUSTOMER_PIECE + 321
    start = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0, H * DAYS_PER_MONTH, n))
    mrr = rng.lognormal(5, 1, n)
    u = rng.random(n)
    customers = Customers(churn_month=churn, expansion_month=expansion)
    book = subscription_book(start, mrr, u, customers, H)
    revenue, mrr_end, customers_end, churned = _book_all_at_once(start, mrr, u, customers, H)
    assert np.array_equal(book.revenue, revenue)
    assert np.array_equal(book.mrr_end, mrr_end)
    assert np.array_equal(book.customers_end, customers_end)
    assert np.array_equal(book.churned, churned)
    assert book.customers_end.dtype.kind == "i" and book.churned.dtype.kind == "i"


# ---------------------------------------------------------------------------------
# Stage paths

OPPORTUNITIES = Opportunities.model_validate({"stages": [
    {"name": "a", "duration_days": {"dist": "gamma", "mean": 10, "cv": 0.5}, "advance": {"low": 0.2, "high": 0.9}},
    {"name": "b", "duration_days": {"dist": "lognormal", "mean": 5, "cv": 1.0}, "advance": 0.6},
    {"name": "c", "duration_days": 3, "advance": {"low": 0.5, "high": 0.7}},
]})


def test_stage_paths_over_more_than_a_piece_is_the_same_lead_by_lead():
    cols = Columns(len(OPPORTUNITIES.stages), max_recycles=1)
    rng = np.random.default_rng(2)
    n = PIECE + 5000
    u = Uniforms([rng.random(n) for _ in range(cols.count)])
    intent = rng.random(n)
    whole = stage_paths(OPPORTUNITIES, intent, u, cols)
    fields = ("first_stage_days", "first_p", "u_first", "end_stage", "end_days")
    # Lead by lead: around the piece boundary, the ends, and a sample of the rest (each lead alone
    # costs a few hundred microseconds, so not all 70,000).
    alone = sorted({0, 1, n - 1, *range(PIECE - 3, PIECE + 3), *rng.choice(n, 300, replace=False).tolist()})
    for i in alone:
        one = stage_paths(OPPORTUNITIES, intent[i:i + 1], u.rows(slice(i, i + 1)), cols)
        for f in fields:
            assert getattr(one, f)[0] == getattr(whole, f)[i], (i, f)
    # Every lead, in irregular slices that cut the pieces elsewhere.
    edges = [0, 1, 777, PIECE - 1, PIECE + 2, n - 10, n]
    for f in fields:
        parts = [getattr(stage_paths(OPPORTUNITIES, intent[a:b], u.rows(slice(a, b)), cols), f)
                 for a, b in zip(edges, edges[1:], strict=False)]
        assert np.array_equal(np.concatenate(parts), getattr(whole, f)), f
    # And the paths mean what they say: a lead's end stage is the first later stage its uniform fails.
    later = np.column_stack([u.column(c) for c in cols.stage_advance[1:]])
    passes = later < np.column_stack([st.advance.at(intent) for st in OPPORTUNITIES.stages[1:]])
    first_fail = np.where(passes.all(axis=1), 2, np.argmin(passes, axis=1)) + 1
    assert np.array_equal(whole.end_stage, first_fail)
