"""The back-test drawn: each measure's predictive fan by month with the actual months, and the PIT histogram."""

from __future__ import annotations

import numpy as np

__all__ = ["backtest_plot"]

_TITLES = {"closes": "Won deals (closes)", "revenue": "Revenue of won deals", "leads": "Leads"}
_UNITS = {"closes": "won deals a month", "revenue": "revenue a month ({currency})", "leads": "leads a month"}


def backtest_plot(bt):
    """A figure of :class:`sim.calibrate.backtest.Backtest` ``bt``: one fan panel per measure and the PIT histogram.

    Each fan shows the predictive 80% band (P10 to P90), the 50% band (P25 to P75) and the
    median; the actual months are points, filled when inside the 80% band. The PIT panel
    counts the randomised PIT values of every month and measure in ten bins, with the
    count a calibrated forecast expects.
    """
    from sim.present.plots import Figure, StrMethodFormatter  # matplotlib is imported in plots.py alone

    measures = list(dict.fromkeys(bt.table["measure"]))
    fig = Figure(figsize=(4.2 * (len(measures) + 1), 3.8), layout="constrained")
    axes = fig.subplots(1, len(measures) + 1)
    for ax, measure in zip(axes, measures, strict=False):
        t = bt.table[bt.table["measure"] == measure]
        x = t["month_start"].to_numpy()
        ax.fill_between(x, t["q10"], t["q90"], color="tab:blue", alpha=0.18, label="80% band", step=None)
        ax.fill_between(x, t["q25"], t["q75"], color="tab:blue", alpha=0.35, label="50% band")
        ax.plot(x, t["q50"], color="tab:blue", lw=1.5, label="median")
        inside = t["in80"].to_numpy(dtype=bool)
        ax.plot(x[inside], t["actual"].to_numpy()[inside], "o", color="black", label="actual (in 80%)")
        ax.plot(x[~inside], t["actual"].to_numpy()[~inside], "o", mfc="white", mec="tab:red", mew=1.5,
                label="actual (outside)")
        v = bt.coverage[measure]["80"]
        ax.set_title(f"{_TITLES.get(measure, measure)}\n80% band: {v.covered}/{v.months}, {v.verdict}", fontsize=9)
        ax.set_xticks(x, [f"{month:%Y-%m}" for month in t["month_start"]])  # one tick a month, no mid-month dates
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_ylim(bottom=0)
        ax.set_ylabel(_UNITS.get(measure, measure).format(currency=bt.scenario.currency))
        ax.set_xlabel("held-out month")
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes[0].legend(fontsize=7, loc="lower left")
    ax = axes[-1]
    counts = np.asarray(bt.pit_counts)
    edges = np.linspace(0, 1, len(counts) + 1)
    ax.bar(edges[:-1], counts, width=1 / len(counts), align="edge", color="tab:gray", edgecolor="white")
    ax.axhline(counts.sum() / len(counts), color="tab:red", ls="--", lw=1, label="calibrated")
    ax.set_title("PIT histogram (flat if calibrated)", fontsize=9)
    ax.set_xlabel("PIT")
    ax.set_ylabel("months and measures (count)")
    ax.legend(fontsize=7)
    fig.suptitle(f"Back-test of {bt.scenario.name}: held out {bt.window_start:%Y-%m} to "
                 f"{bt.table['month_start'].max():%Y-%m}, {bt.reps} replications", fontsize=10)
    return fig
