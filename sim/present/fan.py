"""Fan charts: bands over months across replications.

A Monte Carlo run's monthly series (``Experiment.monthly``, ``Evaluator.monthly(...)``)
holds one row per replication and month. A fan chart draws, month by month, the
median over the replications as a line and the spread between outer quantiles (P10
to P90 by default) as a shaded band; the legend says how many replications the band
is over. Several plans (a dict of frames, e.g. the chosen plan and today's) are drawn
over each other in distinct colours. :func:`cash_fan_plot` is the fan of the cash
(cumulative contribution) with a runway limit and how many replications stayed above
it, counted by :mod:`sim.decide.cash`, the same numbers an optimiser's runway
constraint is judged by.

Months are drawn 1-based (month 1 is a frame's month 0, the first of the horizon),
with the value at the month's end for a cumulative series. Like :mod:`sim.present.plots`,
whose helpers this module uses (it is the package's one importer of matplotlib),
figures are made without pyplot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.decide.cash import CASH, CashError, cash_held, series_by_month
from sim.errors import FunnelError
from sim.present.errors import PresentError
from sim.present.plots import Axes, Figure, _axes, _number

__all__ = ["FUNNEL_FANS", "cash_fan_plot", "fan_chart", "funnel_fans"]

# A notebook's figure, in inches.
SIZE = (8.0, 4.5)

# Up to this many months every month gets a tick; beyond, every quarter, half year, year, ... so that
# at most TICKS are drawn.
EVERY_MONTH = 24
TICKS = 12

# Inches a figure made here grows by for each legend line past the first (the legend is below the plot).
LINE = 0.18

# What the middle quantile is called when it is the median.
_MEDIAN = "median"

# How strongly the outermost band is shaded; each band inside it adds as much again.
ALPHA = 0.18


def fan_chart(monthly, column: str, *, cumulative: bool = False, label: str | None = None,
              bands: Sequence[float] = (0.1, 0.5, 0.9), ax: Axes | None = None, currency: str = "",
              title: str | None = None, money: bool = True) -> Figure:
    """The median and the spread over replications of one monthly series, month by month.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` (0-based) and ``column``,
            one row per replication and month (``Experiment.monthly``); or a dict
            ``{label: frame}`` to draw several plans over each other, each in its own colour.
        column: the series to draw, e.g. ``"contribution"`` or ``"wins"``.
        cumulative: sum each replication's series over the months so far first, then take the
            quantiles across replications per month.
        label: what to call a single frame's plan in the legend (a dict is labelled by its keys).
        bands: increasing quantiles, an odd number of them in [0, 1]: the middle one is drawn
            as a line, each pair around it (the first and the last, ...) as a shaded band.
        ax: the Axes to draw into, with the legend inside it; if not given, a new 8 x 4.5 inch
            Figure with the legend below the plot (taller by a little per legend line past the first).
        currency: the scenario's currency, written in the money tick labels (``"USD 1.2M"``).
        title: the title; by default the series' name.
        money: format the y axis as money (``USD 250k``), else as plain numbers.

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: for a frame without the columns, or not one row per replication and
            month, for bands that are not increasing quantiles of odd number, or for a
            ``label`` given with a dict.
    """
    fig, ax, entries = _fan_chart(monthly, column, cumulative=cumulative, label=label, bands=bands, ax=ax,
                                  currency=currency, title=title, money=money)
    _legend(fig, ax, entries)
    return fig


def cash_fan_plot(monthly, *, runway: float | None = None, probability: float | None = None, currency: str = "",
                  ax: Axes | None = None, title: str | None = None) -> Figure:
    """The cash over months: a fan chart of cumulative contribution, with a runway limit.

    The fan is :func:`fan_chart` of ``contribution`` with ``cumulative=True``: the cash a plan
    has made (or used, below 0) by the end of each month. With ``runway``, a dashed line at
    ``-runway`` marks the most cash the plan may use, and the legend says in how many
    replications the cash stayed at or above it at the end of every month
    (:func:`sim.decide.cash.cash_held`); with ``probability`` too, that share is set
    against it as the target.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and ``contribution``, or a
            dict ``{label: frame}`` of several plans.
        runway: the most cash the plan may use, at least 0.
        probability: the share of replications that should stay above the runway, in [0, 1];
            needs ``runway``.
        currency: the scenario's currency, written in the money labels.
        ax: the Axes to draw into, with the legend inside it; if not given, a new 8 x 4.5 inch
            Figure with the legend below the plot (taller by a little per legend line past the first).
        title: the title; by default ``Cash over months``.

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: for a runway that is not a number of at least 0, a probability outside
            [0, 1] or without a runway, or a frame :func:`fan_chart` cannot draw.
    """
    if probability is not None:
        if runway is None:
            raise PresentError("probability", "expected {runway} too: the probability is of staying above it")
        if (isinstance(probability, bool) or not isinstance(probability, int | float | np.integer | np.floating)
                or not 0 <= probability <= 1):
            raise PresentError("probability", f"expected a share in [0, 1], got {probability!r}")
    frames = _frames(monthly, None)
    held = {}
    if runway is not None:
        for name, frame in frames.items():
            try:
                held[name] = cash_held(frame, runway)
            except CashError as error:
                raise _present(error, name) from error
    lines = 1 + len(held) if runway is not None else 0  # the runway line and one count per plan
    fig, ax, entries = _fan_chart(monthly, CASH, cumulative=True, label=None, bands=(0.1, 0.5, 0.9), ax=ax,
                                  currency=currency, title=title or "Cash over months (cumulative contribution)",
                                  money=True, more=lines)
    ax.set_ylabel("cash: cumulative contribution")
    if runway is not None:
        limit = -float(runway)
        line = ax.axhline(limit, color="C3", linestyle="--", linewidth=1.2,
                          label=f"runway limit ({_money(limit, currency)})")
        entries.append((line, line.get_label()))
        for name, ok in held.items():
            text = (f"{name}: " if name is not None else "") + (f"cash at or above {_money(limit, currency)} in every "
                                                                f"month: {int(ok.sum())} of {_replications(len(ok))}")
            if probability is not None:
                text += f" ({ok.mean():.0%}, target {probability:.0%})"
            blank = ax.plot([], [], " ", label=text)[0]  # text in the legend, without a mark
            entries.append((blank, text))
    _legend(fig, ax, entries)
    return fig


# The panels of funnel_fans: (column, title, unit, cumulative); unit is "count", "money" or "share".
FUNNEL_FANS = (("leads", "Leads a month", "count", False), ("mqls", "MQLs a month", "count", False),
               ("sqls", "SQLs a month", "count", False), ("wins", "Wins a month", "count", False),
               ("revenue", "Revenue a month", "money", False),
               (CASH, "Cash (cumulative contribution)", "money", True),
               ("queue_mqls", "MQLs waiting for contact (mean in month)", "count", False),
               ("qualifier_utilisation", "Qualifying reps busy (share of time)", "share", False),
               ("ae_slot_utilisation", "AE deal slots in use (share)", "share", False))


def funnel_fans(monthly, *, currency: str = "", title: str | None = None) -> Figure:
    """The funnel over time: fan charts of the flows, the money and the capacity, one panel each.

    Each panel is :func:`fan_chart` of one monthly series (median and P10-P90 over the
    replications) of leads, MQLs, SQLs, wins, revenue, cash (cumulative contribution, at each
    month's end), the mean number of MQLs waiting for first contact, and the busy shares of
    the qualifying reps and of the AEs' deal slots (:data:`FUNNEL_FANS`). Several plans (a
    dict of frames) are drawn over each other in the same colours in every panel, with one
    legend below. It shows what a total hides: marketing results that arrive late, a queue
    that builds before the hire starts, wins that lag the leads by the sales cycle.

    Args:
        monthly: a long frame with columns ``replication``, ``month`` and the series
            (``Experiment.monthly``), or a dict ``{label: frame}`` of several plans.
        currency: the scenario's currency, for the money panels.
        title: the figure's title (default: ``The funnel over time``).

    Returns:
        The Figure drawn into.

    Raises:
        PresentError: for a frame that lacks a series or is not one row per replication and month.
    """
    frames = _frames(monthly, None)
    fig = Figure(figsize=(12.0, 9.6 + LINE * (len(frames) - 1)), layout="constrained")
    axes = fig.subplots(3, 3).ravel()
    entries = []
    for ax, (column, name, unit, cumulative) in zip(axes, FUNNEL_FANS, strict=True):
        _, _, entries = _fan_chart(monthly, column, cumulative=cumulative, label=None, bands=(0.1, 0.5, 0.9),
                                   ax=ax, currency=currency, title=name, money=unit == "money",
                                   share=unit == "share")
        ax.set_ylabel("")
        ax.set_xlabel("month (1 = first)")
        ticks = [int(t) for t in ax.get_xticks()]
        if len(ticks) > 8:  # a third of the width: every other tick
            ax.set_xticks([t for t in ticks if t % 2 == 0] or ticks[::2])
    fig.suptitle(title or "The funnel over time")
    handles, labels = zip(*entries, strict=True)
    fig.legend(handles, labels, loc="outside lower center", fontsize=8, frameon=False)
    return fig


def _money(value: float, currency: str = "") -> str:
    """A money amount as a short label: ``USD 1.25M``, ``-USD 250k``, ``USD 0`` (``-250k`` without a currency).

    Four significant digits at most, in thousands (k), millions (M) or billions (B).
    """
    if not math.isfinite(value):
        return ""
    amount = float(f"{abs(value):.4g}")  # rounded first, so 999,999 is 1M and not 1e+03k
    text = f"{amount:.4g}"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= size:
            text = f"{amount / size:.4g}{suffix}"
            break
    sign = "-" if value < 0 and amount else ""
    return f"{sign}{currency} {text}" if currency else f"{sign}{text}"


def _fan_chart(monthly, column, *, cumulative, label, bands, ax, currency, title, money, more=0, share=False):
    """Draw the fans, without a legend; returns the Figure, the Axes and the legend's entries so far.

    ``more`` is how many more legend lines the caller adds, so that a Figure made here is
    tall enough for the legend below the plot.
    """
    frames = _frames(monthly, label)
    quantiles = _bands(bands)
    tables = {}
    for name, frame in frames.items():
        try:
            tables[name] = series_by_month(frame, column, cumulative=cumulative)
        except FunnelError as error:
            raise _present(error, name if isinstance(monthly, Mapping) else None) from error
    width, height = SIZE
    fig, ax = _axes(ax, (width, height + LINE * (len(tables) + more - 1)))
    entries = [_fan(ax, table, quantiles, f"C{k}", name) for k, (name, table) in enumerate(tables.items())]
    months = np.unique(np.concatenate([t.index.to_numpy() for t in tables.values()]))
    first, last = int(months.min()) + 1, int(months.max()) + 1
    ax.set_xlim(first - 0.5, last + 0.5)
    ax.set_xticks(_month_ticks(first, last))
    ax.set_xlabel("month (1 = first)" + (", value at its end" if cumulative else ""))
    what = f"cumulative {column}" if cumulative else column
    ax.set_ylabel(what)
    if money:
        ax.yaxis.set_major_formatter(lambda v, _: _money(v, currency))
    elif share:
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    else:
        ax.yaxis.set_major_formatter(lambda v, _: _number(v))
    ax.set_title(title if title is not None else f"{what[0].upper()}{what[1:]} by month")
    ax.grid(True, alpha=0.3)
    return fig, ax, entries


def _fan(ax: Axes, table: pd.DataFrame, quantiles: list[float], color: str, name: str | None) -> tuple:
    """One plan's fan: a band per pair of outer quantiles, the middle quantile as a line.

    Returns its legend entry: the bands and the line drawn over each other, and their label.
    """
    x = table.index.to_numpy(dtype=float) + 1
    values = table.to_numpy(dtype=float)
    at = np.quantile(values, quantiles, axis=1)  # one row per quantile, one column per month
    prefix = f"{name}: " if name is not None else ""
    n = values.shape[1]
    half = len(quantiles) // 2
    handles, spans = [], []
    for i in range(half):
        span = f"{_quantile(quantiles[i])}–{_quantile(quantiles[-1 - i])}"
        handles.append(ax.fill_between(x, at[i], at[-1 - i], color=color, alpha=ALPHA, linewidth=0,
                                       label=f"{prefix}{span} over {_replications(n)}"))
        spans.append(span)
    if half:  # the outer edges, so that the fans of several plans can be told apart where they overlap
        for edge in (at[0], at[-1]):
            ax.plot(x, edge, "-", color=color, linewidth=0.7, alpha=0.6, label="_nolegend_")
    middle = _MEDIAN if quantiles[half] == 0.5 else _quantile(quantiles[half])
    marker = "o" if len(x) <= EVERY_MONTH else ""  # a dot per month, while they stay apart
    handles.append(ax.plot(x, at[half], "-", color=color, linewidth=2, marker=marker, markersize=3,
                           label=prefix + middle)[0])
    text = prefix + middle
    if spans:
        text += f", {' and '.join(reversed(spans))} over {_replications(n)}"
    return tuple(handles), text


def _legend(fig: Figure, ax: Axes, entries: list[tuple]) -> None:
    """The legend: below the plot of a Figure made here, inside the Axes given (where it hides least)."""
    handles, labels = zip(*entries, strict=True)
    if len(fig.axes) == 1 and fig.get_layout_engine() is not None:
        fig.legend(handles, labels, loc="outside lower center", fontsize=8, frameon=False)
    else:
        ax.legend(handles, labels, loc="best", fontsize=8)


def _month_ticks(first: int, last: int) -> list[int]:
    """The months (1-based) to tick: each one for a short horizon, else multiples of a quarter, half year, year..."""
    if last - first < EVERY_MONTH:
        return list(range(first, last + 1))
    step = next((s for s in (3, 6, 12, 24, 60, 120) if (last - first) / s <= TICKS),
                12 * math.ceil((last - first) / (12 * TICKS)))  # whole years beyond
    return list(range(-(-first // step) * step, last + 1, step))


def _frames(monthly, label: str | None) -> dict:
    """The frames to draw, by label (None for a single frame without a label)."""
    if isinstance(monthly, Mapping):
        if label is not None:
            raise PresentError("label", "expected no label with a dict of frames: its keys label the plans")
        if not monthly:
            raise PresentError("monthly", "expected at least one frame, the dict is empty")
        return dict(monthly)
    return {label: monthly}


def _bands(bands) -> list[float]:
    try:
        quantiles = [float(q) for q in bands]
    except (TypeError, ValueError):
        raise PresentError("bands", f"expected a sequence of quantiles, got {bands!r}") from None
    if not quantiles or len(quantiles) % 2 == 0:
        raise PresentError("bands", f"expected an odd number of quantiles (the middle one is the line), got "
                                    f"{len(quantiles)}")
    if not all(0 <= q <= 1 for q in quantiles) or bool((np.diff(quantiles) <= 0).any()):
        raise PresentError("bands", f"expected increasing quantiles in [0, 1], got {list(bands)}")
    return quantiles


def _present(error: FunnelError, name) -> PresentError:
    """The presentation layer's error for a frame it was given; a dict's frame is named by its key."""
    parameter = error.parameter if name is None or error.parameter != "monthly" else f"monthly[{name!r}]"
    return PresentError(parameter, error.problems[0][1])


def _quantile(q: float) -> str:
    return f"P{q * 100:.4g}"


def _replications(n: int) -> str:
    return f"{n} replication" + ("" if n == 1 else "s")
