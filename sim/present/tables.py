"""Measures as a reader reads them: thousands separators, shares as percentages, never scientific notation.

:func:`measures_table` turns numbers named by their measure (``docs/model.md``, section 8)
into a table of strings for a notebook or a report. The unit of a measure comes from its
name, as the model names them: times carry theirs (``_hours``, ``_months``), rates and
utilisations are shares of 1, money is in the scenario's currency, and the rest are
counts. A name it does not know is formatted as a count: a plain number, never in
scientific notation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from sim.present.errors import PresentError

__all__ = ["measure_unit", "measures_table"]

# Measures (or families, the part before the first dot) that are shares of 1, shown as percentages.
SHARES = {"lead_to_mql", "mql_to_sql", "opportunity_win_rate", "mql_to_win", "stage_advance", "sla_share",
          "qualifier_utilisation", "ae_slot_utilisation", "roi"}

# Measures (or families) in the scenario's currency, with the money columns of the monthly series.
MONEY = {"bookings", "bookings_lost", "revenue", "revenue_from_new_customers", "ending_mrr", "ending_arr",
         "average_deal_value", "cost", "cost_per_lead", "cost_per_mql", "cac", "ltv", "gross_margin", "contribution",
         "npv_contribution", "open_pipeline_weighted_value", "budget_total", "budget_marketing", "budget_sales",
         "budget_unspent", "budget_vacancies", "marketing_spend", "costs", "salaries", "commissions", "other_costs",
         "mrr_end"}

# Ratios of two amounts of the same unit that are not shares.
RATIOS = {"ltv_to_cac"}


def measure_unit(name: str, currency: str = "") -> str:
    """The unit of a measure, from its name.

    Returns:
        ``%`` (a share of 1), the currency (``money`` without one), ``hours``, ``months``,
        ``FTE``, ``FTE-months``, ``ratio`` or ``count``.
    """
    family = str(name).split(".")[0]
    if family in SHARES or family.endswith(("_share", "_utilisation", "_rate")):
        return "%"
    if family in MONEY:
        return currency or "money"
    if family == "fte_months":
        return "FTE-months"
    if family == "fte_end" or family.startswith("fte_"):
        return "FTE"
    if family.endswith("_hours"):
        return "hours"
    if family.endswith("_months"):
        return "months"
    if family in RATIOS:
        return "ratio"
    return "count"


def _shown(value, unit: str) -> str:
    """One number in its unit: ``50,426``, ``87.2%``, ``0.21``, ``3.4``; ``n/a`` for a missing one."""
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
    if unit in ("hours", "months", "ratio"):
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
        out = pd.DataFrame({column: [_shown(v, "count" if column == "n" else u)
                                     for v, u in zip(data[column], units, strict=True)]
                            for column in data.columns}, index=data.index)
        out["unit"] = units
    else:
        units = [measure_unit(name, currency) for name in data.columns]
        out = pd.DataFrame({column: [_shown(v, u) for v in data[column]]
                            for column, u in zip(data.columns, units, strict=True)}, index=data.index)
        out.columns = [f"{c} ({currency})" if currency and u == currency else c
                       for c, u in zip(data.columns, units, strict=True)]
    if data.index.name:
        out.index.name = data.index.name
    elif measures == "index":
        out.index.name = "measure"
    return out
