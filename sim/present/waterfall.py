"""Waterfalls: where the leads ended, and where the money went, on average over replications.

Two accounts that add up exactly, drawn as bars that step from a total down to what
is left:

- **leads**: every lead that arrived, less those that never became an MQL, dropped
  out of nurture or expired there, went cold waiting, were disqualified, were lost in
  the pipeline or with a rep who left, and those still in flight at the horizon,
  leaves the wins (the model's lead accounting, ``lead_accounting.*``);
- **money**: revenue, less its cost (revenue times ``1 - gross_margin``), is the gross
  margin; less each cost (spend, lead costs, nurture, salaries by role, commissions,
  bonuses: ``cost.*``), it is the contribution.

The bars are the means of the replications' measures, so the steps add up to the last
bar exactly (a mean of sums is the sum of the means).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.present.errors import PresentError
from sim.present.plots import Axes, Figure, _axes, _number

__all__ = ["LEAD_STEPS", "lead_steps", "lead_waterfall", "money_steps", "money_waterfall"]

# The lead accounting's states, in the order a lead meets them, with how the waterfall names them.
LEAD_STEPS = {"not_mql": "never an MQL", "nurture_dropped": "dropped out of nurture",
              "nurture_expired": "expired in nurture", "lost_cold": "went cold waiting",
              "disqualified": "disqualified", "lost_pipeline": "lost in the pipeline",
              "lost_rep_left": "lost when a rep left", "in_flight": "still open at the horizon"}

_ROLES = {"sdr": "SDRs", "ae": "AEs", "customer_success": "customer success"}
_COST_NAMES = {"cost.marketing_spend": "channel spend", "cost.lead_costs": "lead costs", "cost.nurture": "nurture",
               "cost.commissions": "commissions", "cost.sdr_bonuses": "SDR bonuses"}


def _means(replications: pd.DataFrame, columns: list[str]) -> pd.Series:
    if not isinstance(replications, pd.DataFrame) or replications.empty:
        raise PresentError("replications", "expected a frame of replications with their measures (one row each), "
                                           f"got {type(replications).__name__}")
    missing = [c for c in columns if c not in replications.columns]
    if missing:
        raise PresentError("replications", f"expected the measures {', '.join(missing)}; a frame of funnel "
                                           "replications (Experiment.replications) has them")
    return replications[columns].astype(float).mean()


def lead_steps(replications: pd.DataFrame) -> pd.DataFrame:
    """The leads' waterfall as a table: ``step``, ``amount`` (signed), ``kind`` (``total``, ``step``, ``result``).

    The first row is the leads that arrived, the last the wins; the steps between are negative.
    """
    states = ["arrived", *LEAD_STEPS, "won"]
    m = _means(replications, [f"lead_accounting.{s}" for s in states])
    rows = [("leads arrived", m["lead_accounting.arrived"], "total")]
    rows += [(name, -m[f"lead_accounting.{state}"], "step") for state, name in LEAD_STEPS.items()]
    rows.append(("won", m["lead_accounting.won"], "result"))
    return pd.DataFrame(rows, columns=["step", "amount", "kind"])


def money_steps(replications: pd.DataFrame, gross_margin: float) -> pd.DataFrame:
    """The money's waterfall as a table: revenue, its cost, the gross margin, each cost, the contribution."""
    costs = sorted(c for c in replications.columns if c.startswith("cost.") and c != "cost.total")
    m = _means(replications, ["revenue", "gross_margin", "contribution", *costs])
    rows = [("revenue", m["revenue"], "total"), ("cost of revenue", -(m["revenue"] - m["gross_margin"]), "step"),
            ("gross margin", m["gross_margin"], "subtotal")]
    for c in sorted(costs, key=lambda c: (not c.startswith("cost.marketing"), c.startswith("cost.salaries_"), c)):
        role = c.removeprefix("cost.salaries_")
        name = _COST_NAMES.get(c) or (f"salaries, {_ROLES.get(role, role)}" if c.startswith("cost.salaries_")
                                      else c.removeprefix("cost."))
        rows.append((name, -m[c], "step"))
    rows.append(("contribution", m["contribution"], "result"))
    return pd.DataFrame(rows, columns=["step", "amount", "kind"])


def _draw(table: pd.DataFrame, ax: Axes, title: str, fmt) -> None:
    level, lefts, heights, colours = 0.0, [], [], []
    for row in table.itertuples():
        if row.kind == "step":
            lefts.append(level + min(row.amount, 0.0))
            heights.append(abs(row.amount))
            colours.append("C3" if row.amount < 0 else "C2")
            level += row.amount
        else:
            lefts.append(min(row.amount, 0.0))
            heights.append(abs(row.amount))
            colours.append("C0" if row.kind != "result" else "C1")
            level = row.amount
    y = np.arange(len(table))[::-1]
    ax.barh(y, heights, left=lefts, color=colours, height=0.6)
    for yi, left, height, amount in zip(y, lefts, heights, table["amount"], strict=True):
        ax.text(left + height, yi, f"  {fmt(amount + 0.0) if amount else fmt(0.0)}", va="center", fontsize=8)
    ax.set_yticks(y, table["step"])
    ax.xaxis.set_major_formatter(lambda v, _: fmt(v))
    ax.set_xlim(min(0.0, min(lefts)) * 1.05, max(np.add(lefts, heights)) * 1.25)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)


def lead_waterfall(replications: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Figure:
    """Where the leads ended, on average over the replications (see the module docstring).

    Args:
        replications: one row per replication with its measures (``Experiment.replications``,
            or one alternative's rows of ``Comparison.replications``).
        ax: the Axes to draw into; a new Figure is made if not given.
        title: the title (default: ``Where the leads ended``, with the replications' count).

    Raises:
        PresentError: for a frame without the lead accounting.
    """
    table = lead_steps(replications)
    fig, ax = _axes(ax, (8, 4.5))
    _draw(table, ax, title or f"Where the leads ended ({_over(len(replications))})", _number)
    ax.set_xlabel("leads over the horizon")
    return fig


def money_waterfall(replications: pd.DataFrame, gross_margin: float, currency: str = "", ax: Axes | None = None,
                    title: str | None = None) -> Figure:
    """Where the money went, on average over the replications: revenue down to the contribution.

    Args:
        replications: one row per replication with its measures.
        gross_margin: the scenario's ``gross_margin`` (for the cost of revenue's label only:
            the bars are the replications' own ``revenue`` and ``gross_margin``).
        currency: the scenario's currency, on the axis.
        ax: the Axes to draw into; a new Figure is made if not given.
        title: the title.

    Raises:
        PresentError: for a frame without the money measures.
    """
    table = money_steps(replications, gross_margin)
    table.loc[table["step"] == "cost of revenue", "step"] = f"cost of revenue ({1 - gross_margin:.0%})"
    fig, ax = _axes(ax, (8, 4.5))

    def fmt(v):
        text = _number(v)
        return f"{text} {currency}".strip() if abs(v) < 1e3 else _short(v, currency)

    _draw(table, ax, title or f"Where the money went ({_over(len(replications))})", fmt)
    ax.set_xlabel(f"over the horizon{f', {currency}' if currency else ''}")
    return fig


def _over(n: int) -> str:
    return "one replication" if n == 1 else f"mean of {n} replications"


def _short(v: float, currency: str) -> str:
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{'-' if v < 0 else ''}{currency + ' ' if currency else ''}{abs(v) / size:.3g}{suffix}"
    return f"{v:.0f}"
