"""Days to calendar months: counts per month and time spent per month, vectorised.

The model's clock runs in days from the start of the horizon; month ``k`` is
``[k, k + 1) * DAYS_PER_MONTH``. Anything at or after the end of the horizon counts
in the last month (a time of exactly the horizon belongs to it).

With a scenario ``start_date`` (the first day of a month), month ``k`` is labelled by
the calendar date ``start_date`` plus ``k`` calendar months (:func:`month_starts`), and
a time of ``d`` days is the date ``start_date + d days`` (:func:`dates`): the model's
months stay 30.4375 days, so a labelled calendar month and the model's month ``k`` part
by at most about a day and a half (``docs/model.md``, Units).

Inputs of a million leads are worked through in pieces of :data:`PIECE` values, so
the temporaries stay small; the sums are added in input order all the same
(``numpy.add.at`` is sequential), so the result does not depend on the pieces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.scenario.units import DAYS_PER_MONTH

__all__ = ["PIECE", "IntervalMonths", "dates", "interval_months", "month_counts", "month_of", "month_starts",
           "with_month_start"]

PIECE = 1 << 16


def month_starts(start_date, horizon_months: int) -> np.ndarray:
    """The calendar date each month starts on: ``start_date`` plus ``k`` calendar months (``datetime64[ns]``)."""
    starts = pd.date_range(pd.Timestamp(start_date), periods=horizon_months, freq="MS")
    return starts.to_numpy().astype("datetime64[ns]")


def with_month_start(monthly: pd.DataFrame, scenario) -> pd.DataFrame:
    """``monthly`` with a ``month_start`` column after ``month`` if the scenario has a ``start_date``, else as it is."""
    if scenario.start_date is not None:
        monthly.insert(1, "month_start", month_starts(scenario.start_date, len(monthly)))
    return monthly


def dates(start_date, days) -> np.ndarray:
    """Times in days from the start as calendar dates and times, ``start_date + days`` (``datetime64[ns]``).

    NaN (what did not happen) is NaT; each is rounded to the nanosecond.
    """
    days = np.asarray(days, dtype=float)
    out = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
    done = np.isfinite(days)
    # Only the finite times go to pandas: given NaN, it rounds uninitialised memory in their places
    # (harmless, but a RuntimeWarning "overflow encountered in multiply" now and then).
    out[done] = (pd.Timestamp(start_date) + pd.to_timedelta(days[done], unit="D")).to_numpy()
    return out


def month_of(days, horizon_months: int) -> np.ndarray:
    """The month (0 to ``horizon_months - 1``) of each time in days."""
    return np.minimum((np.asarray(days, dtype=float) / DAYS_PER_MONTH).astype(int), horizon_months - 1)


def month_counts(times, horizon_months: int, weights=None) -> np.ndarray:
    """How many of ``times`` (or how much of ``weights``) fall in each month; NaN and infinity are left out."""
    times = np.asarray(times, dtype=float)
    weights = None if weights is None else np.asarray(weights, dtype=float)
    out = np.zeros(horizon_months)
    for lo in range(0, len(times), PIECE):
        t = times[lo:lo + PIECE]
        ok = np.isfinite(t)
        w = 1.0 if weights is None else weights[lo:lo + PIECE][ok]
        np.add.at(out, month_of(t[ok], horizon_months), w)
    return out


class IntervalMonths:
    """Months spent in intervals, by calendar month, added up as intervals come (see :func:`interval_months`).

    Adding intervals in several calls gives the same sums as adding them all at once, in the same order.
    """

    def __init__(self, horizon_months: int):
        H = self.horizon_months = horizon_months
        self._within, self._first, self._last = np.zeros(H), np.zeros(H), np.zeros(H)
        self._full = np.zeros(H + 1)

    def add(self, start, end, weights=None) -> IntervalMonths:
        """Add intervals ``[start, end)`` (days), each counted ``weights`` times (default once); returns self."""
        H = self.horizon_months
        horizon = H * DAYS_PER_MONTH
        start = np.asarray(start, dtype=float)
        end = np.asarray(end, dtype=float)
        weights = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), start.shape)
        for lo in range(0, len(start), PIECE):
            s = np.clip(start[lo:lo + PIECE], 0.0, horizon)
            e = np.clip(end[lo:lo + PIECE], s, horizon)
            w = np.ones(len(s)) if weights is None else weights[lo:lo + PIECE]
            first = np.minimum((s / DAYS_PER_MONTH).astype(int), H - 1)
            last = np.minimum((e / DAYS_PER_MONTH).astype(int), H - 1)
            same = first == last
            within = (e - s)[same] / DAYS_PER_MONTH
            np.add.at(self._within, first[same], within if weights is None else within * w[same])
            f, la, ss, ee, ww = first[~same], last[~same], s[~same], e[~same], w[~same]
            head, tail = (f + 1) - ss / DAYS_PER_MONTH, ee / DAYS_PER_MONTH - la
            np.add.at(self._first, f, head if weights is None else head * ww)  # the first, partial month
            np.add.at(self._last, la, tail if weights is None else tail * ww)  # the last, partial month
            np.add.at(self._full, f + 1, ww)  # whole months in between: +1 after the first ...
            np.add.at(self._full, la, -ww)  # ... and -1 from the last
        return self

    def months(self) -> np.ndarray:
        """Months spent in each calendar month so far."""
        out = np.zeros(self.horizon_months)
        out += self._within
        out += self._first
        out += self._last
        return out + np.cumsum(self._full)[:self.horizon_months]

    def copy(self) -> IntervalMonths:
        """An independent copy, to add more to."""
        other = IntervalMonths(self.horizon_months)
        other._within, other._first, other._last, other._full = (a.copy() for a in (self._within, self._first,
                                                                                     self._last, self._full))
        return other


def interval_months(start, end, horizon_months: int) -> np.ndarray:
    """Months spent by intervals ``[start, end)`` in each calendar month, summed (O(n + months))."""
    return IntervalMonths(horizon_months).add(start, end).months()
