"""Customers and revenue (MODEL.md 4 and 5): one-off deals, subscriptions, churn, expansion.

Vectorised over customers and months after the event simulation: a customer's churn
month comes from its own uniform (geometric in ``churn_month``), and its MRR grows by
``expansion_month`` for every full month it stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import DAYS_PER_MONTH, Customers

__all__ = ["SubscriptionBook", "subscription_book"]


@dataclass
class SubscriptionBook:
    """Monthly revenue and stocks of a set of subscription customers."""

    revenue: np.ndarray  # recognised revenue per month
    mrr_end: np.ndarray  # MRR at the end of each month
    customers_end: np.ndarray  # active customers at the end of each month
    churned: np.ndarray  # customers lost in each month


def _months_kept(u, churn_month):
    """Full months a customer stays before churning (geometric on 1, 2, ...; inf if no churn)."""
    u = np.asarray(u, dtype=float)
    if churn_month <= 0:
        return np.full(u.shape, np.inf)
    if churn_month >= 1:
        return np.ones(u.shape)
    with np.errstate(over="ignore", divide="ignore"):  # a tiny churn rate means "stays": inf
        return np.floor(np.log1p(-u) / np.log1p(-churn_month)) + 1.0


def subscription_book(start_days, mrr, u_churn, customers: Customers, horizon_months: int) -> SubscriptionBook:
    """Revenue of customers starting at ``start_days`` with initial ``mrr``.

    Revenue in a month is the MRR in force in the middle of the part of the month the
    customer was active, times that part's length in months.
    """
    start = np.asarray(start_days, dtype=float)[:, None]
    mrr = np.asarray(mrr, dtype=float)[:, None]
    with np.errstate(over="ignore"):
        end = start + _months_kept(u_churn, customers.churn_month)[:, None] * DAYS_PER_MONTH
    lo_edge = np.arange(horizon_months)[None, :] * DAYS_PER_MONTH
    hi_edge = lo_edge + DAYS_PER_MONTH
    lo = np.clip(start, lo_edge, hi_edge)
    hi = np.clip(end, lo_edge, hi_edge)
    active = np.maximum(hi - lo, 0.0) / DAYS_PER_MONTH
    growth = 1.0 + customers.expansion_month
    mid = (lo + hi) / 2
    level = mrr * growth ** np.floor(np.maximum(mid - start, 0.0) / DAYS_PER_MONTH)
    revenue = (level * active).sum(axis=0)
    alive_end = (start <= hi_edge) & (end > hi_edge)
    level_end = mrr * growth ** np.floor(np.maximum(hi_edge - start, 0.0) / DAYS_PER_MONTH)
    mrr_end = np.where(alive_end, level_end, 0.0).sum(axis=0)
    churned = ((end > lo_edge) & (end <= hi_edge)).sum(axis=0)
    return SubscriptionBook(revenue, mrr_end, alive_end.sum(axis=0), churned)
