"""The efficient frontier of a comparison: each alternative's expected objective against its downside.

A finance reader trades the mean against the bad years. Each alternative is a point:
its mean objective up the y axis, the 10th percentile of its replications' objective
along the x axis (what it beats nine years in ten). An alternative is **on the
frontier** when no other has both a higher mean and a higher P10; the frontier is
drawn through those, and the rest are dominated: something else is better in both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.present.errors import PresentError
from sim.present.plots import Axes, Figure, _axes, _number, _wrap

__all__ = ["frontier_plot", "frontier_table"]


def frontier_table(comparison, tail: float = 0.1) -> pd.DataFrame:
    """Per alternative: ``mean`` and ``downside`` (the ``tail`` quantile) of its objective, and ``on_frontier``.

    Computed from the comparison's paired replications (``Comparison.replications``).
    """
    reps = comparison.replications
    if reps is None or reps.empty:
        raise PresentError("comparison", "expected a comparison with its replications")
    grouped = reps.groupby("alternative", sort=False)["objective"]
    table = pd.DataFrame({"mean": grouped.mean(), "downside": grouped.quantile(tail)})
    mean, low = table["mean"].to_numpy(), table["downside"].to_numpy()
    dominated = [bool(np.any((mean >= m) & (low >= d) & ((mean > m) | (low > d)))) for m, d in zip(mean, low,
                                                                                                   strict=True)]
    table["on_frontier"] = ~np.array(dominated)
    return table


def frontier_plot(comparison, tail: float = 0.1, ax: Axes | None = None, currency: str = "") -> Figure:
    """The mean objective against its ``tail`` quantile per alternative, the non-dominated ones joined.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison` (a sweep, a comparison, an optimiser's fresh one).
        tail: the downside's quantile (0.1: what the objective beats in nine worlds of ten).
        ax: the Axes to draw into; a new Figure is made if not given.
        currency: the scenario's currency, on both axes.
    """
    table = frontier_table(comparison, tail)
    fig, ax = _axes(ax, (8, 5.5))
    front = table[table["on_frontier"]].sort_values("downside")
    others = table[~table["on_frontier"]]
    ax.scatter(others["downside"], others["mean"], color="C7", label="dominated (another is better in both)")
    ax.plot(front["downside"], front["mean"], "o-", color="C0", label="efficient frontier")
    for label, row in table.iterrows():
        ax.annotate(_wrap(str(label)), (row["downside"], row["mean"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=7, color="C0" if row["on_frontier"] else "C7")
    unit = f" ({currency})" if currency else ""
    name = comparison.objective.label
    ax.set_xlabel(f"P{tail * 100:.0f} of {name}{unit}: what it beats in {1 - tail:.0%} of the worlds")
    ax.set_ylabel(f"mean {name}{unit}")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(lambda v, _: _number(v))
    ax.set_title(f"Efficient frontier: mean against downside ({comparison.n} paired replications)")
    ax.margins(0.15)  # room for the labels at the edges
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig
