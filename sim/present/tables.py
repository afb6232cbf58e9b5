"""Measures as a reader reads them: thousands separators, shares as percentages, never scientific notation.

:func:`measures_table` turns numbers named by their measure (``docs/model.md``, section 8)
into a table of strings for a notebook or a report. The unit of a measure comes from the
project's one table of names and units (:mod:`sim.present.measure_names`, which the
workbook uses too): shares of 1 as percentages, money in the scenario's currency, times
in theirs, the rest counts. A name it does not know is formatted as a count: a plain
number, never in scientific notation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from sim.present.errors import PresentError
from sim.present.measure_names import UNITS, measure_name, monthly_name

__all__ = ["measure_unit", "measures_table", "shown"]

def measure_unit(name: str, currency: str = "") -> str:
    """The unit of a measure or a monthly column, from the one table of names (:mod:`sim.present.measure_names`).

    Returns:
        ``%`` (a share of 1), the currency (``money`` without one), ``hours``, ``days``,
        ``months``, ``FTE``, ``FTE-months``, ``ratio`` or ``count`` (also for a name the
        table does not know).
    """
    known = measure_name(str(name)) or monthly_name(str(name))
    if known is None:
        return "count"
    shown, kind = UNITS.get(known.unit, (known.unit, "number"))
    if kind == "percent":
        return "%"
    if kind == "money":
        return currency or "money"
    if kind in ("ratio", "duration"):
        return shown
    return "count"


def shown(value, unit: str) -> str:
    """One number in its unit (a :func:`measure_unit`): ``50,426``, ``87.2%``, ``0.21``, ``3.4``; ``n/a`` if missing."""
    try:
        x = float(value)
    except (TypeError, ValueError):  # not a number (a nested mapping, a label): as it is
        return str(value)
    if isinstance(value, bool) or math.isnan(x):
        return str(value) if isinstance(value, bool) else "n/a"
    if math.isinf(x):
        return "infinite" if x > 0 else "-infinite"
    if unit == "%":
        return f"{100 * x:,.1f}%"
    if unit in ("hours", "days", "months", "ratio"):
        return f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.2f}"
    if abs(x) >= 100 or x == round(x):
        return f"{x:,.0f}"
    return f"{x:,.2f}" if abs(x) >= 0.01 else f"{x:,.4f}"


def measures_table(data, currency: str = "", measures: str = "index") -> pd.DataFrame:
    """Numbers named by their measure, as a table of readable strings.

    Counts and money get thousands separators and no decimals (small ones keep two),
    shares are percentages with one decimal, hours and months keep two significant
    decimals; nothing is in scientific notation. A missing value (NaN) is ``n/a``.

    Args:
        data: measure -> number (a :class:`sim.Result`'s ``metrics``, or a Series), or a
            DataFrame: with the measures as its index (``Experiment.summary()``: every value
            of a row is in that measure's unit, but for a column ``n``, a count) or as its
            columns (one row per run or variant).
        currency: the unit of the money measures (a scenario's ``currency``).
        measures: for a DataFrame, where its measures are: ``"index"`` or ``"columns"``.

    Returns:
        For measures by row (a mapping, a Series, ``measures="index"``): the values formatted
        (a mapping's or Series' in a column ``value``) and a column ``unit``. For
        ``measures="columns"``: each column formatted in its measure's unit, money columns'
        headers naming the currency (``contribution (USD)``).

    Raises:
        PresentError: for ``measures`` other than ``"index"`` or ``"columns"``, or data that is
            neither a mapping, a Series nor a DataFrame.
    """
    if measures not in ("index", "columns"):
        raise PresentError("measures", f"expected 'index' or 'columns', got {measures!r}")
    if isinstance(data, Mapping):
        data = pd.Series(dict(data), dtype=object)
    if isinstance(data, pd.Series):
        data = data.to_frame("value")
        measures = "index"
    if not isinstance(data, pd.DataFrame):
        raise PresentError("data", f"expected a mapping of measure to number, a Series or a DataFrame, "
                                   f"got {type(data).__name__}")
    if measures == "index":
        units = [measure_unit(name, currency) for name in data.index]
        # A summary's "n" counts replications, whatever the measure.
        out = pd.DataFrame({column: [shown(v, "count" if column == "n" else u)
                                     for v, u in zip(data[column], units, strict=True)]
                            for column in data.columns}, index=data.index)
        out["unit"] = units
    else:
        units = [measure_unit(name, currency) for name in data.columns]
        out = pd.DataFrame({column: [shown(v, u) for v in data[column]]
                            for column, u in zip(data.columns, units, strict=True)}, index=data.index)
        out.columns = [f"{c} ({currency})" if currency and u == currency else c
                       for c, u in zip(data.columns, units, strict=True)]
    if data.index.name:
        out.index.name = data.index.name
    elif measures == "index":
        out.index.name = "measure"
    return out
