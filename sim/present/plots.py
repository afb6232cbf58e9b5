"""Plots of a comparison of budget splits; the only module that imports matplotlib.

Every function takes a :class:`sim.decide.compare.Comparison` and an optional ``ax`` (or
``fig``) to draw into, and returns the matplotlib Figure. Figures are made with
:class:`matplotlib.figure.Figure`, never through pyplot, so nothing here depends on a
backend or leaves figures open in pyplot's list. :func:`write_plots` saves the set as
PNG files.

Sweeps draw against the swept setting (a share, shown as a percentage, or a scenario's number
set with ``--set``, shown as it is); today's split
is drawn apart from the grid, since it is usually not on it. A plain comparison draws
one entry per alternative, in the order they were given; labels longer than
:data:`WRAP` characters are wrapped onto several lines wherever they are tick labels.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import (
    FuncFormatter,
    MaxNLocator,
    PercentFormatter,
    StrMethodFormatter,  # noqa: F401 - for the other sim.present modules (no matplotlib there)
)

from sim.present.errors import PresentError

__all__ = ["capacity_plot", "difference_plot", "distribution_plot", "funnel_plot", "heatmap_plot", "objective_plot",
           "write_plots"]

# The label :func:`sim.decide.compare.sweep` gives today's split.
TODAY = "today"

# The funnel stages drawn by funnel_plot: measure -> how a reader names it.
FUNNEL_STAGES = {"leads": "leads", "mqls": "MQLs", "sqls": "SQLs", "wins": "wins",
                 "cold_events": "went cold"}

# Utilisation measures drawn by capacity_plot: measure -> how a reader names it.
UTILISATION = {"qualifier_utilisation": "qualifier time", "ae_slot_utilisation": "AE deal slots"}

# More alternatives than this on a categorical axis and their labels are turned, so they stay readable.
ROTATE_AFTER = 4

# Alternative labels are wrapped onto lines of at most this many characters where they are tick labels
# (a split's label, "marketing 22.0%, ae 3, google_ads 75%, social_ads 25%", is longer).
WRAP = 40

# A label line longer than this on a categorical x axis is turned too: side by side it would run into the next.
ROTATE_LONGER = 18

# Inches per character of a label at 10 points (DejaVu Sans averages about 0.6 em), to size figures from labels.
INCH_PER_CHAR = 0.6 * 10 / 72


def objective_plot(comparison, ax: Axes | None = None) -> Figure:
    """The objective of each alternative, with its confidence interval.

    A one-setting sweep draws the objective against the swept share, with the CI as
    a band, today's split as a separate point and a dashed line, and the best
    alternative marked with its value and the share of replications it won. A plain
    comparison draws one horizontal error bar per alternative.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison` with no or one dimension.
        ax: the Axes to draw into; a new Figure is made if not given.

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: for a two-setting sweep (draw it with :func:`heatmap_plot`).
    """
    dims = list(comparison.dimensions)
    if len(dims) > 1:
        raise PresentError("comparison", f"objective_plot draws a sweep over one setting, this one varies "
                                         f"{len(dims)} ({', '.join(dims)}); use heatmap_plot")
    alts = comparison.alternatives
    if not dims:
        fig, ax = _axes(ax, _bars_size(list(alts.index), _objective_bars_title(comparison)))
        _objective_bars(comparison, ax)
        return fig
    fig, ax = _axes(ax, (8, 5))
    setting = dims[0]
    grid, today = _grid_and_today(comparison)
    x = grid[setting].to_numpy(dtype=float)
    ax.fill_between(x, grid["objective_ci_low"], grid["objective_ci_high"], alpha=0.25, color="C0",
                    label=f"{comparison.level:.0%} CI")
    ax.plot(x, grid["objective"], "o-", color="C0", label=comparison.objective.label)
    if today is not None:
        ax.axhline(today["objective"], color="C1", linestyle="--", linewidth=1)
        ax.errorbar([today[setting]], [today["objective"]], yerr=_yerr(pd.DataFrame([today])), fmt="D",
                    color="C1", capsize=4, label=_today_name(comparison))
    best = alts.loc[comparison.best]
    _mark_best(ax, best[setting], best, comparison)
    ax.set_xlabel(_setting_name(setting))
    ax.xaxis.set_major_formatter(_setting_formatter(setting))
    _objective_axis(ax.yaxis, comparison)
    ax.set_title(f"{_objective_name(comparison)} by {_setting_name(setting)}")
    ax.legend(loc="best")
    ax.grid(True, alpha=0.3)
    return fig


def difference_plot(comparison, against: str = "baseline", ax: Axes | None = None) -> Figure:
    """The paired difference of each alternative's objective to the baseline or to the best, with its CI.

    This is the plot of what the comparison decides. Alternatives run with common
    random numbers share most of their noise, so their separate CIs (as in
    :func:`objective_plot`) overlap even when the paired difference is clearly not
    zero; the paired CI drawn here is the one to read.

    A plain comparison, or a two-setting sweep, draws one horizontal error bar per
    alternative (the reference itself left out: its difference is 0 by definition)
    with a line at 0. A one-setting sweep draws the difference against the swept
    share, with its CI as a band and a line at 0; today's split is left out (the
    grid's reference, if on the grid, sits at 0).

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        against: ``"baseline"`` (columns ``vs_baseline*``) or ``"best"`` (``vs_best*``).
        ax: the Axes to draw into; a new Figure is made if not given.

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: for an ``against`` other than ``"baseline"`` or ``"best"``.
    """
    if against not in ("baseline", "best"):
        raise PresentError("against", f"expected 'baseline' or 'best', got {against!r}")
    column = f"vs_{against}"
    reference = comparison.baseline if against == "baseline" else comparison.best
    dims = list(comparison.dimensions)
    if len(dims) == 1:
        fig, ax = _axes(ax, (8, 5))
        setting = dims[0]
        grid, _ = _grid_and_today(comparison)
        x = grid[setting].to_numpy(dtype=float)
        ax.fill_between(x, grid[f"{column}_ci_low"], grid[f"{column}_ci_high"], alpha=0.25, color="C0",
                        label=f"{comparison.level:.0%} CI (paired)")
        ax.plot(x, grid[column], "o-", color="C0", label="paired difference")
        ax.axhline(0.0, color="black", linewidth=1)
        ax.set_xlabel(_setting_name(setting))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel(_difference_name(comparison, reference, WRAP))  # up the side, so it has less room
        ax.yaxis.set_major_formatter(_difference_formatter(comparison))
        ax.set_title(f"Paired difference to the {against} by {_setting_name(setting)}")
        ax.legend(loc="best")
        ax.grid(True, alpha=0.3)
        return fig
    rows = comparison.alternatives.drop(index=reference)
    labels = list(rows.index)
    title = f"Paired difference to the {against}"
    fig, ax = _axes(ax, _bars_size(labels, title))
    y = np.arange(len(rows))[::-1]  # the first alternative on top, as in a table
    ax.errorbar(rows[column], y, xerr=_yerr(rows, column), fmt="o", color="C0", capsize=4,
                label=f"paired difference, {comparison.level:.0%} CI")
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_yticks(y, [_wrap(label) for label in labels])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(_difference_name(comparison, reference, 3 * WRAP // 2))
    ax.xaxis.set_major_formatter(_difference_formatter(comparison))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # signed money labels are wide: fewer ticks, no overlap
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def heatmap_plot(comparison, ax: Axes | None = None) -> Figure:
    """The objective over a two-setting sweep's grid, one coloured cell per alternative.

    The first setting runs along the x axis and the second up the y axis. Each cell
    shows its objective and its confidence interval: ``11.95M ±0.38M`` for the mean's
    t interval, ``11.58M–12.33M`` for a bootstrap interval (a risk measure's, which
    need not be symmetric). The best cell of the grid is outlined; a dashed outline
    marks each cell whose paired difference to the best has a confidence interval
    that holds 0 (``vs_best_ci_low <= 0 <= vs_best_ci_high``): cells these
    replications cannot tell from the best. Today's split is not a grid cell: its
    objective is given in the title. Past 100 cells the numbers no longer fit and
    are left out; the outlines stay.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison` from a sweep over two settings.
        ax: the Axes to draw into; a new Figure is made if not given.

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: unless the comparison is a sweep over two settings.
    """
    dims = list(comparison.dimensions)
    if len(dims) != 2:
        raise PresentError("comparison", f"heatmap_plot draws a sweep over two settings, this comparison has "
                                         f"{len(dims)}" + (f" ({', '.join(dims)})" if dims else "")
                           + "; use objective_plot")
    grid, today = _grid_and_today(comparison)
    tables = {column: _heatmap_table(comparison, column)
              for column in ("objective", "objective_ci_low", "objective_ci_high", "vs_best_ci_low",
                             "vs_best_ci_high")}
    table = tables["objective"]
    rows, columns = table.shape
    fig, ax = _axes(ax, (min(14.0, max(7.0, 2.5 + 1.2 * columns)), min(10.0, max(5.0, 2.6 + 0.75 * rows))))
    values = table.to_numpy(dtype=float)
    image = ax.imshow(values, origin="lower", aspect="auto", cmap="viridis")
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(_objective_name(comparison))
    colorbar.formatter = (PercentFormatter(1.0) if comparison.risk.name == "probability"
                          else FuncFormatter(lambda v, _: _number(v)))
    colorbar.update_ticks()
    ax.set_xticks(range(table.shape[1]), [_setting_value(v, dims[0]) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [_setting_value(v, dims[1]) for v in table.index])
    ax.set_xlabel(_setting_name(dims[0]))
    ax.set_ylabel(_setting_name(dims[1]))
    low, high = tables["objective_ci_low"].to_numpy(dtype=float), tables["objective_ci_high"].to_numpy(dtype=float)
    # Today's value is written in the title as the cells are, on the same scale.
    extra = [[today["objective"], today["objective_ci_low"], today["objective_ci_high"]]] if today is not None else []
    texts = _cell_texts(np.append(values, [e[0] for e in extra]), np.append(low, [e[1] for e in extra]),
                        np.append(high, [e[2] for e in extra]), comparison)
    today_text, texts = (texts[-1] if extra else ""), texts[:values.size].reshape(values.shape)
    if table.size <= 100:  # beyond that the numbers no longer fit in their cells
        middle = np.nanmin(values) + (np.nanmax(values) - np.nanmin(values)) / 2
        for (i, j), v in np.ndenumerate(values):
            if math.isfinite(v):
                ax.text(j, i, texts[i, j], ha="center", va="center", fontsize=8,
                        color="black" if v > middle else "white")
    i, j = np.unravel_index(np.nanargmax(values), values.shape)
    ax.add_patch(_outline(j, i))
    best = grid.loc[grid["objective"].idxmax()]
    on_grid = comparison.best != TODAY
    d_low, d_high = tables["vs_best_ci_low"].to_numpy(dtype=float), tables["vs_best_ci_high"].to_numpy(dtype=float)
    tied = (d_low <= 0) & (d_high >= 0)
    if on_grid:
        tied[i, j] = False  # the best itself: outlined already
    for i2, j2 in zip(*np.nonzero(tied), strict=True):
        ax.add_patch(_outline(j2, i2, dashed=True))
    level = f"{comparison.level:.0%}"
    best_name = "the best" if on_grid else f"the best ({_today_name(comparison)})"
    handles = [_outline(0, 0), _outline(0, 0, dashed=True)]
    names = ["best on the grid", textwrap.fill(f"not distinguishable from {best_name}: the {level} CI of the "
                                               "paired difference to it holds 0", 70)]
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.14 if rows < 6 else -0.1),
              fontsize=8, frameon=False, ncols=1, handlelength=1.5, handleheight=1.2)
    title = (f"{_objective_name(comparison)} over the grid\n"
             f"cell: {comparison.risk.label} {'±' if comparison.risk.name == 'mean' else 'and'} its {level} CI "
             f"({comparison.n} paired replications)\n"
             f"best on the grid: {best.name}, P(best) {best['p_best']:.0%}")
    if today is not None:
        value, _, interval = today_text.partition("\n")
        title += f"\n{_today_name(comparison)}: {value}" + (f" ({level} CI {interval})" if "–" in interval
                                                              else f" {interval}")
        if comparison.best == TODAY:
            title += " (best of all)"
        elif today["vs_best_ci_low"] <= 0 <= today["vs_best_ci_high"]:
            title += ", not distinguishable from the best"
    ax.set_title(title, fontsize=10)
    return fig


def _heatmap_table(comparison, column: str = "objective") -> pd.DataFrame:
    """``column`` by the second setting (rows, ascending) and the first (columns), today left out."""
    dims = list(comparison.dimensions)
    grid, _ = _grid_and_today(comparison)
    return grid.pivot(index=dims[1], columns=dims[0], values=column).sort_index().sort_index(axis=1)


def _cell_texts(values: np.ndarray, low: np.ndarray, high: np.ndarray, comparison) -> np.ndarray:
    """Each heatmap cell's text (same shape as ``values``): its value over its CI, ``11.95M`` over ``±0.38M``.

    The mean's t interval is symmetric and shown as its half-width; any other risk
    measure's is a bootstrap interval, shown as its ends (``11.58M–12.33M``). All cells
    share one scale (M, k or none, from the largest value) and as many decimals as give
    the narrowest interval two significant digits (at most three); probabilities are
    whole percentages.
    """
    symmetric = comparison.risk.name == "mean"
    if comparison.risk.name == "probability":  # a bootstrap interval too: shown by its ends
        def show(v):
            return f"{v:.0%}"
    else:
        finite = np.abs(values[np.isfinite(values)])
        largest = float(finite.max()) if finite.size else 0.0
        scale, suffix = (1e6, "M") if largest >= 1e6 else (1e3, "k") if largest >= 1e4 else (1.0, "")
        halves = ((high - low) / 2 / scale)[np.isfinite(high - low) & (high > low)]
        narrowest = float(halves.min()) if halves.size else 0.0
        decimals = min(3, max(0, 1 - math.floor(math.log10(narrowest)))) if narrowest > 0 else 0
        if not suffix:
            decimals = min(decimals, 1 if largest < 100 else 0)

        def show(v):
            return f"{v / scale:,.{decimals}f}{suffix}"
    texts = np.full(values.shape, "", dtype=object)
    for k, (v, lo, hi) in enumerate(zip(values.flat, low.flat, high.flat, strict=True)):
        if not math.isfinite(v):
            continue
        if not (math.isfinite(lo) and math.isfinite(hi)):
            texts.flat[k] = show(v)
        elif symmetric:
            texts.flat[k] = f"{show(v)}\n±{show((hi - lo) / 2)}"
        else:
            texts.flat[k] = f"{show(v)}\n{show(lo)}–{show(hi)}"
    return texts


def funnel_plot(comparison, fig: Figure | None = None) -> Figure:
    """The funnel of each alternative: leads, MQLs, SQLs, wins and times leads went cold waiting.

    One panel per stage, each on its own linear axis, so that a difference of a few
    percent in leads and one of a few dozen wins both show. In each panel every
    alternative is a point (the mean over the paired replications) with an error bar
    (the confidence interval of that mean, at the comparison's level); the axis is not
    drawn from zero, so points rather than bars. A dashed line marks the baseline's
    mean, and where the baseline's mean is not zero the top axis reads the same
    positions as a percentage difference to it. Alternatives run down the side, the
    first on top (today first, then the grid by its value, for a one-setting sweep).

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        fig: the Figure (or SubFigure) to add the panels to; a new Figure is made if not given.

    Returns:
        The Figure drawn into.
    """
    labels = _order(comparison)
    stages = [m for m in FUNNEL_STAGES if m in set(comparison.measures["measure"])]
    wrapped = [_wrap(label) for label in labels]
    if fig is None:
        lines = sum(len(w.splitlines()) for w in wrapped)
        ticks = INCH_PER_CHAR * max((len(line) for w in wrapped for line in w.splitlines()), default=0)
        size = (min(14.0, max(9.0, 0.6 + ticks + 2.2 * len(stages))), 2.3 + 0.25 * lines + 0.12 * len(labels))
        fig = Figure(figsize=size, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, max(1, len(stages)), sharey=True, squeeze=False)[0])
    y = np.arange(len(labels))[::-1]  # the first alternative on top, as in a table
    ci = f"{comparison.level:.0%} CI of the mean"
    for k, (ax, measure) in enumerate(zip(axes, stages, strict=False)):
        table = _measure(comparison, measure, labels)
        # A count cannot be negative; the t interval dips below zero when almost every replication is zero.
        low = (table["mean"] - table["ci_low"].clip(lower=0)).clip(lower=0)
        high = (table["ci_high"] - table["mean"]).clip(lower=0)
        ax.errorbar(table["mean"], y, xerr=np.nan_to_num(np.vstack([low, high])), fmt="o", color=f"C{k}",
                    capsize=3, label=f"{FUNNEL_STAGES[measure]}: mean, {ci}", clip_on=False)
        base = table["mean"].get(comparison.baseline, math.nan)
        if math.isfinite(base):
            ax.axvline(base, color="grey", linestyle="--", linewidth=1, zorder=0)
        if math.isfinite(base) and base > 0:
            top = ax.secondary_xaxis("top", functions=(lambda v, b=base: (v / b - 1) * 100,
                                                       lambda p, b=base: (p / 100 + 1) * b))
            top.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%" if round(v) else "0%"))
            top.xaxis.set_major_locator(MaxNLocator(nbins=3))
            top.tick_params(labelsize=8)
        ax.set_title(FUNNEL_STAGES[measure])
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, min_n_ticks=2))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))
        if ax.get_xlim()[0] < 0:  # no count is below zero (points there are drawn whole: clip_on=False)
            ax.set_xlim(left=0, right=max(ax.get_xlim()[1], 1.0))
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_ylim(-0.7, len(labels) - 0.3)
    axes[0].set_yticks(y, wrapped)
    fig.supxlabel(f"count over the horizon: mean of {comparison.n} replications, bar: {ci}", fontsize=10)
    fig.suptitle(f"Funnel per alternative: one panel per stage, each on its own linear axis (not from zero)\n"
                 f"dashed line: the baseline ({_wrap(comparison.baseline)}); top axis: the difference to it",
                 fontsize=11)
    return fig


def capacity_plot(comparison, fig: Figure | None = None) -> Figure:
    """Where capacity binds: response time, and the utilisation of qualifiers and AE deal slots.

    Two panels, each mean over replications with its confidence interval. A
    one-setting sweep draws them against the swept share (today's split as separate
    points); otherwise one entry per alternative.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        fig: the Figure (or SubFigure) to add the two panels to; a new Figure is made if not given.

    Returns:
        The Figure drawn into.
    """
    labels = _order(comparison)
    sweep = len(comparison.dimensions) == 1
    if fig is None:
        size = (11, 4.5) if sweep else (max(11.0, _width(len(labels), 0.9)), 4.5 + _x_labels_height(labels))
        fig = Figure(figsize=size, layout="constrained")
    response_ax, utilisation_ax = fig.subplots(1, 2)
    response = {"response_time_median_hours": "median response time"}
    _capacity_panel(comparison, response_ax, response, labels, sweep)
    table = comparison.measures
    hours = table.loc[table["measure"] == "response_time_median_hours", ["mean", "ci_high"]].to_numpy(dtype=float)
    if hours.size and np.nanmax(hours, initial=0.0) < 2:  # under two hours: minutes read better than 0.05 h
        response_ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 60:.0f}"))
        response_ax.set_ylabel("median response time to an MQL (minutes)")
    else:
        response_ax.set_ylabel("median response time to an MQL (hours)")
    response_ax.set_ylim(bottom=0)
    response_ax.set_title("Response time")
    _capacity_panel(comparison, utilisation_ax, UTILISATION, labels, sweep)
    utilisation_ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    utilisation_ax.set_ylim(0, 1.05)
    utilisation_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    utilisation_ax.set_ylabel("utilisation (share of capacity in use)")
    utilisation_ax.set_title("Utilisation")
    utilisation_ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"Capacity per alternative, with {comparison.level:.0%} CI")
    return fig


def distribution_plot(comparison, ax: Axes | None = None) -> Figure:
    """The spread of each alternative's objective over its replications: a box per alternative.

    Boxes span the quartiles and whiskers 1.5 interquartile ranges; the mean is
    marked, and, for a VaR or CVaR comparison, the risk measure alternatives are
    ranked by.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        ax: the Axes to draw into; a new Figure is made if not given.

    Returns:
        The Figure drawn into.
    """
    labels = _order(comparison)
    fig, ax = _axes(ax, (_width(len(labels), 0.7), 5 + _x_labels_height(labels)))
    reps = comparison.replications
    data = [reps.loc[reps["alternative"] == a, "objective"].dropna().to_numpy(dtype=float) for a in labels]
    positions = np.arange(1, len(labels) + 1)
    ax.boxplot(data, positions=positions, widths=0.6, manage_ticks=False, patch_artist=True,
               boxprops={"facecolor": "C0", "alpha": 0.3}, medianprops={"color": "C0"})
    means = [float(d.mean()) if len(d) else float("nan") for d in data]
    ax.plot(positions, means, "D", color="C1", label="mean", linestyle="none")
    if comparison.risk.name in ("var", "cvar"):
        ax.plot(positions, comparison.alternatives.loc[labels, "objective"], "v", color="C3", linestyle="none",
                label=comparison.risk.label)
    _categorical_x(ax, labels, positions)
    ax.set_ylabel(f"{comparison.objective.label} per replication")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))
    ax.set_title(f"{comparison.objective.label} over replications (box: middle half, line: median)")
    ax.legend(loc="best")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def write_plots(comparison, directory, currency: str = "") -> list[Path]:
    """Save the plots of ``comparison`` as PNG files in ``directory`` (made if missing).

    Writes ``objective.png`` (a comparison or a one-setting sweep) or ``heatmap.png``
    (a two-setting sweep), then ``funnel.png``, ``capacity.png``, ``distribution.png``,
    ``differences.png`` (the paired difference to the baseline, :func:`difference_plot`)
    and, when the comparison kept its monthly series, ``fans.png``: the funnel over time
    (:func:`sim.present.fan.funnel_fans`) of every alternative of a comparison of at
    most four, else of the baseline and the best; and with three alternatives or more
    ``frontier.png``, the mean against the P10 (:func:`sim.present.frontier.frontier_plot`).
    ``currency`` labels the money axes of these two.

    Returns:
        The paths written, in that order.
    """
    from sim.present.fan import funnel_fans  # they draw with this module's helpers
    from sim.present.frontier import frontier_plot

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    two = len(comparison.dimensions) == 2
    plots = [("heatmap" if two else "objective", heatmap_plot if two else objective_plot),
             ("funnel", funnel_plot), ("capacity", capacity_plot), ("distribution", distribution_plot),
             ("differences", difference_plot)]
    monthly = comparison.monthly
    if isinstance(monthly, pd.DataFrame) and not monthly.empty:
        labels = list(comparison.alternatives.index)
        if comparison.dimensions or len(labels) > 4:
            labels = list(dict.fromkeys([comparison.baseline, comparison.best]))
        frames = {label: monthly[monthly["alternative"] == label].drop(columns="alternative") for label in labels}
        plots.append(("fans", lambda _: funnel_fans(frames, currency=currency)))
    if len(comparison.alternatives) >= 3:  # a frontier of two points says nothing a difference does not
        plots.append(("frontier", lambda c: frontier_plot(c, currency=currency)))
    paths = []
    for name, plot in plots:
        path = directory / f"{name}.png"
        plot(comparison).savefig(path, dpi=100)
        paths.append(path)
    return paths


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _bars_size(labels: list[str], title: str) -> tuple[float, float]:
    """Figure size for one horizontal bar per label: wide enough for the longest (wrapped) label and the title."""
    lines = [line for label in labels for line in _wrap(label).splitlines()] or [""]
    ticks = INCH_PER_CHAR * max(len(line) for line in lines)
    plot = max(4.5, 1.2 * INCH_PER_CHAR * len(title) + 0.5)  # titles are drawn at 12 points
    return min(14.0, max(7.0, 0.8 + ticks + plot)), 1.4 + 0.3 * len(lines) + 0.15 * len(labels)


def _wrap(label: str) -> str:
    """An alternative's label wrapped onto lines of at most :data:`WRAP` characters."""
    return textwrap.fill(str(label), WRAP, break_on_hyphens=False) if len(str(label)) > WRAP else str(label)


def _width(count: int, per_alternative: float) -> float:
    """Figure width in inches for ``count`` alternatives side by side, within what a screen or page shows."""
    return min(14.0, max(7.0, 1.5 + per_alternative * count))


def _order(comparison) -> list[str]:
    """Alternatives in the order they are drawn: today first, then a one-setting sweep's grid by its value."""
    if len(comparison.dimensions) == 1:
        grid, today = _grid_and_today(comparison)
        return ([TODAY] if today is not None else []) + list(grid.index)
    return list(comparison.alternatives.index)


def _grid_and_today(comparison) -> tuple[pd.DataFrame, pd.Series | None]:
    """A sweep's grid alternatives (sorted by the settings) and today's split (None if absent)."""
    alts = comparison.alternatives
    today = alts.loc[TODAY] if TODAY in alts.index else None
    grid = alts.drop(index=TODAY, errors="ignore")
    dims = list(comparison.dimensions)
    if today is not None and TODAY in comparison.merged and all(d in today.index and pd.notna(today[d])
                                                                 for d in dims):
        # A grid point equal to today was merged into today (run once): draw today in its place too.
        grid = pd.concat([grid, today.to_frame().T])
    # A stable sort keeps the sweep's own order between equal values.
    return grid.sort_values(dims, kind="mergesort"), today


def _measure(comparison, measure: str, labels: list[str]) -> pd.DataFrame:
    """One measure's mean and CI per alternative, in ``labels`` order (NaN where it is missing)."""
    m = comparison.measures
    table = m.loc[m["measure"] == measure].set_index("alternative")[["mean", "ci_low", "ci_high"]]
    return table.reindex(labels)


def _capacity_panel(comparison, ax: Axes, measures: dict[str, str], labels: list[str], sweep: bool) -> None:
    present = [m for m in measures if m in set(comparison.measures["measure"])]
    if sweep:
        setting = comparison.dimensions[0]
        grid, today = _grid_and_today(comparison)
        x = grid[setting].to_numpy(dtype=float)
        for k, measure in enumerate(present):
            table = _measure(comparison, measure, list(grid.index))
            ax.fill_between(x, table["ci_low"], table["ci_high"], alpha=0.2, color=f"C{k}")
            ax.plot(x, table["mean"], "o-", color=f"C{k}", label=measures[measure])
            if today is not None:
                t = _measure(comparison, measure, [TODAY])
                ax.errorbar([today[setting]], t["mean"], yerr=_yerr(t, "mean"), fmt="D", color=f"C{k}",
                            mfc="white", capsize=3, label=f"{measures[measure]}, {_today_name(comparison)}")
        ax.set_xlabel(_setting_name(setting))
        ax.xaxis.set_major_formatter(_setting_formatter(setting))
    else:
        positions = np.arange(len(labels), dtype=float)
        shift = 0.15 if len(present) > 1 else 0.0  # side by side, so the error bars do not hide each other
        for k, measure in enumerate(present):
            table = _measure(comparison, measure, labels)
            ax.errorbar(positions + (k - (len(present) - 1) / 2) * shift, table["mean"], yerr=_yerr(table, "mean"),
                        fmt="o", color=f"C{k}", capsize=3, label=measures[measure])
        _categorical_x(ax, labels)
    ax.grid(True, alpha=0.3)


def _objective_bars(comparison, ax: Axes) -> None:
    alts = comparison.alternatives
    y = np.arange(len(alts))[::-1]  # the first alternative on top, as in a table
    ax.errorbar(alts["objective"], y, xerr=_yerr(alts), fmt="o", color="C0", capsize=4,
                label=f"{comparison.objective.label}, {comparison.level:.0%} CI")
    if comparison.baseline in alts.index:
        ax.axvline(alts.loc[comparison.baseline, "objective"], color="C1", linestyle="--", linewidth=1,
                   label=_wrap(f"baseline ({comparison.baseline})"))
    k = list(alts.index).index(comparison.best)
    best = alts.loc[comparison.best]
    ax.plot([best["objective"]], [y[k]], "*", color="red", markersize=14, label="best")
    ax.annotate(f"{_value(best['objective'], comparison)}, P(best) {best['p_best']:.0%}", (best["objective"], y[k]),
                xytext=(0, 8), textcoords="offset points", ha="center", fontsize=8)
    ax.set_yticks(y, [_wrap(label) for label in alts.index])
    ax.set_ylim(-0.7, len(alts) - 0.3)
    _objective_axis(ax.xaxis, comparison)
    ax.set_title(_objective_bars_title(comparison))
    ax.legend(loc="best", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)


def _objective_bars_title(comparison) -> str:
    return f"{_objective_name(comparison)} per alternative"


def _mark_best(ax: Axes, x: float, best: pd.Series, comparison) -> None:
    ax.plot([x], [best["objective"]], "*", color="red", markersize=16, label=f"best ({comparison.best})",
            zorder=5)
    ax.annotate(f"{_value(best['objective'], comparison)}\nP(best) {best['p_best']:.0%}", (x, best["objective"]),
                xytext=(8, 8), textcoords="offset points", fontsize=8)


def _objective_axis(axis, comparison) -> None:
    axis.set_label_text(_objective_name(comparison))
    if comparison.risk.name == "probability":
        axis.set_major_formatter(PercentFormatter(1.0))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _: _number(v)))


def _objective_name(comparison) -> str:
    """The objective as a reader names it: ``contribution (mean, USD)``, ``revenue (CVaR 10%, EUR)``."""
    money = comparison.risk.name != "probability" and comparison.objective.name != "new_customers"
    currency = getattr(comparison, "currency", "") if money else ""
    return f"{comparison.objective.label} ({comparison.risk.label}{', ' + currency if currency else ''})"


def _difference_name(comparison, reference: str, width: int) -> str:
    """The difference axis' label, wrapped at ``width`` so a long reference label does not run off the figure."""
    text = (f"difference in {_objective_name(comparison)} vs {reference} "
            f"(paired, {comparison.level:.0%} CI)")
    return textwrap.fill(text, width, break_on_hyphens=False)


def _difference_formatter(comparison):
    """Differences of a probability in percentage points, others as signed plain numbers."""
    if comparison.risk.name == "probability":
        return FuncFormatter(lambda v, _: f"{v * 100:+.0f} pp" if v else "0")
    return FuncFormatter(lambda v, _: ("+" if v > 0 else "") + _number(v))


def _is_share(setting: str) -> bool:
    """Whether a swept setting is a split's share (drawn as a percentage) rather than a scenario's number."""
    kind, _, name = setting.partition(".")
    return setting == "marketing_share" or (kind in ("role_share", "channel_share") and bool(name))


def _setting_formatter(setting: str):
    return PercentFormatter(1.0) if _is_share(setting) else FuncFormatter(lambda v, _: f"{v:,.6g}")


def _setting_value(value: float, setting: str) -> str:
    return _percent(value) if _is_share(setting) else f"{value:,.6g}"


def _today_name(comparison) -> str:
    """How the plots call the baseline of a sweep: today's split when a share is swept, else today's scenario."""
    return "today's split" if any(_is_share(d) for d in comparison.dimensions) else "today (the scenario as written)"


def _setting_name(setting: str) -> str:
    if setting == "marketing_share":
        return "marketing share of the budget"
    kind, _, name = setting.partition(".")
    if kind == "role_share":
        return f"{name} share of salaries"
    if kind == "channel_share":
        return f"{name} share of channel spend"
    return setting


def _yerr(table: pd.DataFrame, column: str = "objective") -> np.ndarray:
    """Error-bar lengths below and above ``column`` from its ``_ci_low``/``_ci_high`` (or ``ci_low``/``ci_high``)."""
    low_col, high_col = ("ci_low", "ci_high") if column == "mean" else (f"{column}_ci_low", f"{column}_ci_high")
    low = (table[column] - table[low_col]).to_numpy(dtype=float)
    high = (table[high_col] - table[column]).to_numpy(dtype=float)
    # A zero-width or missing interval draws no bar rather than failing.
    return np.nan_to_num(np.vstack([low, high]).clip(min=0))


def _categorical_x(ax: Axes, labels: list[str], positions=None) -> None:
    positions = np.arange(len(labels)) if positions is None else positions
    wrapped, turned = _x_labels(labels)
    if turned:
        ax.set_xticks(positions, wrapped, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(positions, wrapped)


def _x_labels(labels: list[str]) -> tuple[list[str], bool]:
    """Alternatives' labels as x tick labels (wrapped), and whether they are turned."""
    wrapped = [_wrap(label) for label in labels]
    longest = max((len(line) for label in wrapped for line in label.splitlines()), default=0)
    return wrapped, len(labels) > ROTATE_AFTER or longest > ROTATE_LONGER


def _x_labels_height(labels: list[str]) -> float:
    """Inches to add to a figure's height for its x tick labels beyond the half inch one short line takes."""
    wrapped, turned = _x_labels(labels)
    lines = [label.splitlines() or [""] for label in wrapped] or [[""]]
    longest = INCH_PER_CHAR * max(len(line) for label in lines for line in label)
    deepest = 0.17 * max(len(label) for label in lines)
    return max(0.0, (0.71 * longest if turned else 0.0) + deepest - 0.5)


def _outline(x: float, y: float, dashed: bool = False) -> Rectangle:
    """A heatmap cell's outline: solid red round the best, dashed (inset, so neighbours' stay apart) round a tie."""
    if dashed:
        return Rectangle((x - 0.44, y - 0.44), 0.88, 0.88, fill=False, edgecolor="red", linewidth=1.5,
                         linestyle=(0, (4, 2)))
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5)


def _percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def _number(value: float) -> str:
    """A plain number with thousands separators; small ones keep their digits."""
    if not math.isfinite(value):
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 or value == 0 else f"{value:.3g}"


def _value(value: float, comparison) -> str:
    return f"{value:.0%}" if comparison.risk.name == "probability" else _number(value)
