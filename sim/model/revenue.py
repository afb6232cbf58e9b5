"""Customers and revenue (``docs/model.md``, 6): the installed base, won deals, churn, expansion.

Vectorised over customers and months after the event simulation: a customer's churn
month comes from its own uniform (geometric in ``churn_month``), and its MRR grows by
``expansion_month`` for every full month it stays. The installed base is drawn from its
own stream (:func:`draw_installed_base`) before the event loop, so measuring a
replication draws nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.model.months import month_counts
from sim.scenario.schema import Customers, Deal
from sim.scenario.units import DAYS_PER_MONTH

CUSTOMER_PIECE = 4096  # customers worked through at a time

__all__ = ["InstalledBase", "Revenue", "SubscriptionBook", "draw_installed_base", "revenue", "subscription_book"]


@dataclass
class InstalledBase:
    """The customers at the start: each one's MRR and its own churn uniform."""

    mrr: np.ndarray
    u_churn: np.ndarray


def draw_installed_base(customers: Customers, streams) -> InstalledBase:
    """The starting customers' MRR and churn uniforms, from the stream ``customers/installed_base``."""
    rng = streams("customers/installed_base")
    mrr = customers.installed_mrr.sample(rng, customers.installed_base)
    return InstalledBase(mrr, rng.random(customers.installed_base))


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
    customer was active, times that part's length in months. Customers are worked
    through :data:`CUSTOMER_PIECE` at a time and added up in order, which gives the same
    sums as all at once.
    """
    start_days = np.asarray(start_days, dtype=float)
    mrr = np.asarray(mrr, dtype=float)
    u_churn = np.asarray(u_churn, dtype=float)
    H = horizon_months
    totals = [np.zeros(H), np.zeros(H), np.zeros(H, dtype=np.int64), np.zeros(H, dtype=np.int64)]
    lo_edge = np.arange(H)[None, :] * DAYS_PER_MONTH
    hi_edge = lo_edge + DAYS_PER_MONTH
    growth = 1.0 + customers.expansion_month
    for at in range(0, len(start_days), CUSTOMER_PIECE):
        rows = slice(at, at + CUSTOMER_PIECE)
        start = start_days[rows][:, None]
        level0 = mrr[rows][:, None]
        with np.errstate(over="ignore"):
            end = start + _months_kept(u_churn[rows], customers.churn_month)[:, None] * DAYS_PER_MONTH
        lo = np.clip(start, lo_edge, hi_edge)
        hi = np.clip(end, lo_edge, hi_edge)
        active = np.maximum(hi - lo, 0.0) / DAYS_PER_MONTH
        mid = (lo + hi) / 2
        level = level0 * growth ** np.floor(np.maximum(mid - start, 0.0) / DAYS_PER_MONTH)
        alive_end = (start <= hi_edge) & (end > hi_edge)
        level_end = level0 * growth ** np.floor(np.maximum(hi_edge - start, 0.0) / DAYS_PER_MONTH)
        piece = [level * active, np.where(alive_end, level_end, 0.0), alive_end, (end > lo_edge) & (end <= hi_edge)]
        for k, rows_k in enumerate(piece):
            # The running total is the first row: summing down the rows is sequential, as for all at once.
            totals[k] = np.add.reduce(np.vstack([totals[k][None], rows_k]), axis=0) if at else rows_k.sum(axis=0)
    revenue, mrr_end, customers_end, churned = totals
    return SubscriptionBook(revenue, mrr_end, customers_end, churned)


@dataclass
class Revenue:
    """Monthly bookings and revenue, and the customer book at each month's end."""

    bookings: np.ndarray  # one-off value, or 12 x MRR (annual contract value) for subscriptions
    revenue: np.ndarray  # recognised revenue, installed base included
    new_revenue: np.ndarray  # recognised revenue of the deals won in the horizon
    book: SubscriptionBook  # the subscriptions: the installed base, and won deals if they subscribe


def revenue(deal: Deal, customers: Customers, base: InstalledBase, win_time, win_value, win_u_churn,
            horizon_months: int) -> Revenue:
    """What the installed base and the deals won at ``win_time`` (worth ``win_value``) bring, by month."""
    H = horizon_months
    base_start = np.zeros(len(base.mrr))
    if deal.kind == "subscription":
        book = subscription_book(np.concatenate([base_start, win_time]), np.concatenate([base.mrr, win_value]),
                                 np.concatenate([base.u_churn, win_u_churn]), customers, H)
        new_revenue = subscription_book(win_time, win_value, win_u_churn, customers, H).revenue
        return Revenue(month_counts(win_time, H, 12.0 * win_value), book.revenue, new_revenue, book)
    book = subscription_book(base_start, base.mrr, base.u_churn, customers, H)
    new_revenue = month_counts(win_time, H, win_value)
    return Revenue(month_counts(win_time, H, win_value), book.revenue + new_revenue, new_revenue, book)
