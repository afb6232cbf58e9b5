"""Cash over months: cumulative contribution per replication, and whether it stays above a runway.

A Monte Carlo run's monthly series (``Experiment.monthly``, ``Evaluator.monthly(...)``)
is a long frame, one row per replication and month. The cash a plan has used or made
by the end of a month is its contribution summed over the months so far; a plan
*holds* a runway of ``R`` in a replication when that sum is at least ``-R`` at the end
of every month. Everything here is plain numpy and pandas, so the optimiser can judge
a runway constraint and the plots can draw it from the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.errors import FunnelError

__all__ = ["CashError", "cash_held", "cash_paths", "lowest_cash", "series_by_month"]

CASH = "contribution"


class CashError(FunnelError):
    """A monthly frame (or a runway) that the cash over months cannot be read from.

    Names the parameter: ``monthly`` or ``runway``.
    """


def series_by_month(monthly: pd.DataFrame, column: str, *, cumulative: bool = False) -> pd.DataFrame:
    """One column of a long monthly frame as a table: a row per month, a column per replication.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and ``column``, one row per
            replication and month; every replication must have every month of the frame.
        column: the series to take, e.g. ``"contribution"``.
        cumulative: sum each replication's series over the months so far (in month order).

    Returns:
        A float frame indexed by ``month`` (sorted), with one column per ``replication`` (sorted).

    Raises:
        CashError: if a column is missing, the frame has no rows, or a replication and month
            appear twice or a replication lacks a month the others have.
    """
    if not isinstance(monthly, pd.DataFrame):
        raise CashError("monthly", f"expected a pandas DataFrame, got {type(monthly).__name__}")
    missing = [c for c in ("replication", "month", column) if c not in monthly.columns]
    if missing:
        has = ", ".join(map(str, monthly.columns)) or "no columns"
        raise CashError("monthly", f"expected columns replication, month and {column}; missing "
                                   f"{', '.join(missing)} (the frame has {has})")
    if monthly.empty:
        raise CashError("monthly", "expected at least one row (one per replication and month), the frame is empty")
    fast = _full_grid(monthly, column)
    if fast is not None:  # the usual frame: every replication has every month once
        return fast.cumsum(axis=0) if cumulative else fast
    keys = monthly[["replication", "month"]]
    twice = keys.duplicated()
    if twice.any():
        rep, month = keys[twice].iloc[0]
        times = int(((keys["replication"] == rep) & (keys["month"] == month)).sum())
        raise CashError("monthly", f"expected one row per replication and month; replication {rep} has month "
                                   f"{month} {times} times")
    table = monthly.pivot(index="month", columns="replication", values=column).sort_index().sort_index(axis=1)
    present = monthly.groupby("replication")["month"].size()
    short = present[present < len(table.index)]
    if len(short):
        rep = short.index[0]
        months = set(monthly.loc[monthly["replication"] == rep, "month"])
        lacks = [m for m in table.index if m not in months]
        raise CashError("monthly", f"expected every replication to have every month; replication {rep} lacks "
                                   f"month {', '.join(map(str, lacks[:5]))}" + (" ..." if len(lacks) > 5 else ""))
    table = table.astype(float)
    if cumulative:
        table = table.cumsum(axis=0, skipna=False)
    return table


def _full_grid(monthly: pd.DataFrame, column: str) -> pd.DataFrame | None:
    """The table at once when the frame is a full grid of replications and months (else None: check it)."""
    reps, months = monthly["replication"].to_numpy(), monthly["month"].to_numpy()
    r_values, m_values = np.unique(reps), np.unique(months)
    if len(monthly) != len(r_values) * len(m_values):
        return None
    order = np.lexsort((months, reps))
    if not (np.array_equal(reps[order], np.repeat(r_values, len(m_values)))
            and np.array_equal(months[order], np.tile(m_values, len(r_values)))):
        return None
    values = monthly[column].to_numpy(dtype=float)[order].reshape(len(r_values), len(m_values)).T
    return pd.DataFrame(values, index=pd.Index(m_values, name="month"),
                        columns=pd.Index(r_values, name="replication"))


def cash_paths(monthly: pd.DataFrame) -> pd.DataFrame:
    """The cash each replication has made (or used, if negative) by the end of each month.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and ``contribution``.

    Returns:
        A frame indexed by ``month`` (sorted, e.g. 0..H-1), one column per ``replication``
        (sorted); each value is the replication's ``contribution`` summed over the months up
        to and including that one.

    Raises:
        CashError: if a column is missing or the frame is not one row per replication and month.
    """
    return series_by_month(monthly, CASH, cumulative=True)


def lowest_cash(monthly: pd.DataFrame) -> np.ndarray:
    """The lowest cash of each replication over the months: the minimum of its cumulative contribution.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and ``contribution``.

    Returns:
        One float per replication, in sorted replication order.

    Raises:
        CashError: as :func:`cash_paths`.
    """
    return cash_paths(monthly).to_numpy().min(axis=0)


def cash_held(monthly: pd.DataFrame, runway: float) -> np.ndarray:
    """Whether each replication's cash stays at or above ``-runway`` at the end of every month.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and ``contribution``.
        runway: the most cash the plan may use, at least 0 (``inf``: no limit).

    Returns:
        One bool per replication, in sorted replication order: its lowest cumulative
        contribution (:func:`lowest_cash`) is at least ``-runway``. Its mean is the share of
        replications that held the runway. A replication with a NaN contribution has NaN cash
        from that month on and does not count as holding.

    Raises:
        CashError: for a runway that is not a number of at least 0, or as :func:`cash_paths`.
    """
    if isinstance(runway, bool) or not isinstance(runway, int | float | np.integer | np.floating):
        raise CashError("runway", f"expected a number of at least 0, got {type(runway).__name__}")
    if math.isnan(runway) or runway < 0:
        raise CashError("runway", f"expected a number of at least 0 (the cash the plan may use), got {runway}")
    return lowest_cash(monthly) >= -float(runway)
