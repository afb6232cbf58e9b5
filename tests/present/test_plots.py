"""The plots draw what the comparison holds, into the Axes given, without pyplot's global state."""

import ast
import dataclasses
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from builders import make
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.ticker import PercentFormatter
from paths import SIM
from scipy import stats

from sim.decide.compare import analyse, compare, split_alternatives_of, sweep
from sim.decide.objectives import conditional_value_at_risk, probability_of_target
from sim.present.errors import PresentError
from sim.present.plots import (
    capacity_plot,
    difference_plot,
    distribution_plot,
    funnel_plot,
    heatmap_plot,
    objective_plot,
    write_plots,
)

PNG = b"\x89PNG\r\n\x1a\n"
# Labels as a split search gives them, longer than the 40 characters a tick label is wrapped at.
LONG = ["marketing 22.0%, ae 3, google_ads 75%, social_ads 25%",
        "marketing 30.0%, ae 2, google_ads 60%, social_ads 40%"]


@pytest.fixture(scope="module")
def sweep1():
    # Grid values out of order, and today's marketing share (0.25) off the grid.
    return sweep(make(), {"marketing_share": [0.4, 0.2, 0.3]}, reps=5, seed=3)


@pytest.fixture(scope="module")
def sweep2():
    return sweep(make(), {"marketing_share": [0.3, 0.2], "role_share.sdr": [0.5, 0.3]}, reps=4, seed=3)


@pytest.fixture(scope="module")
def plain():
    return compare({"plan": make(), "three sdr": make(roles__sdr__fte=3), "one ae": make(roles__ae__fte=1)},
                   reps=5, seed=2)


@pytest.fixture(scope="module")
def long():
    # The first, and so the baseline, has a long label too.
    return compare({LONG[0]: make(), LONG[1]: make(roles__sdr__fte=3), "plan": make(roles__ae__fte=1)},
                   reps=3, seed=2)


@pytest.fixture(scope="module")
def cvar():
    return compare({"plan": make(), "three sdr": make(roles__sdr__fte=3)}, reps=6, seed=2,
                   risk=conditional_value_at_risk(0.3))


@pytest.fixture(scope="module")
def probability():
    return compare({"plan": make(), "three sdr": make(roles__sdr__fte=3)}, reps=6, seed=2,
                   risk=probability_of_target(30000))


def _line(ax, label):
    lines = [line for line in ax.get_lines() if line.get_label() == label]
    assert len(lines) == 1, [line.get_label() for line in ax.get_lines()]
    return lines[0]


def _errorbar(ax, label):
    found = [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in ax.containers]
    return found[0]


def _segments(container):
    (bars,) = [c for c in container.lines[2] if isinstance(c, LineCollection)]
    return [np.asarray(s) for s in bars.get_segments()]


def _ticks(axis):
    """Tick label -> position, a wrapped label joined again onto one line."""
    return dict(zip((_unwrap(t.get_text()) for t in axis.get_ticklabels()), axis.get_ticklocs(), strict=True))


def _unwrap(text):
    return text.replace("\n", " ")


def _outside(fig):
    """Titles, axis labels and shown tick labels that run off ``fig`` when it is drawn."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer, box = canvas.get_renderer(), fig.bbox
    out = []
    for ax in fig.axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        ticks = ([t for t in ax.get_xticklabels() if x0 <= t.get_position()[0] <= x1]
                 + [t for t in ax.get_yticklabels() if y0 <= t.get_position()[1] <= y1])
        for text in [ax.title, ax.xaxis.label, ax.yaxis.label, *ticks]:
            extent = text.get_window_extent(renderer)
            if text.get_text() and not (box.x0 <= extent.x0 and extent.x1 <= box.x1
                                        and box.y0 <= extent.y0 and extent.y1 <= box.y1):
                out.append(text.get_text())
    return out


def _grid(c):
    """Grid alternatives as {setting values: row}, today left out."""
    alts = c.alternatives.drop(index="today")
    return {tuple(row[d] for d in c.dimensions): row for _, row in alts.iterrows()}


def _mean(c, alternative, measure):
    m = c.measures
    (value,) = m.loc[(m["alternative"] == alternative) & (m["measure"] == measure), "mean"]
    return value


def _measure_row(c, alternative, measure):
    m = c.measures
    return m.loc[(m["alternative"] == alternative) & (m["measure"] == measure)].iloc[0]


# objective_plot


def test_sweep_objective_line_is_the_grid_in_order_of_the_setting(sweep1):
    ax = objective_plot(sweep1).axes[0]
    line = _line(ax, sweep1.objective.label)
    x, y = line.get_xdata(), line.get_ydata()
    assert list(x) == [0.2, 0.3, 0.4]
    grid = _grid(sweep1)
    np.testing.assert_allclose(y, [grid[(v,)]["objective"] for v in x])
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert ax.xaxis.get_major_formatter().xmax == 1.0  # shares of 1 shown as percentages
    assert sweep1.risk.label in ax.get_ylabel() and sweep1.objective.label in ax.get_ylabel()


def test_sweep_objective_band_spans_the_confidence_interval(sweep1):
    ax = objective_plot(sweep1).axes[0]
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = np.concatenate([p.vertices for p in band.get_paths()])
    for (value,), row in _grid(sweep1).items():
        at = vertices[np.isclose(vertices[:, 0], value), 1]
        assert np.isclose(at, row["objective_ci_low"]).any() and np.isclose(at, row["objective_ci_high"]).any()
    lows = [r["objective_ci_low"] for r in _grid(sweep1).values()]
    highs = [r["objective_ci_high"] for r in _grid(sweep1).values()]
    assert vertices[:, 1].min() == pytest.approx(min(lows)) and vertices[:, 1].max() == pytest.approx(max(highs))


def test_sweep_objective_shows_today_apart_and_marks_the_best(sweep1):
    ax = objective_plot(sweep1).axes[0]
    today = sweep1.alternatives.loc["today"]
    point = _errorbar(ax, "today's split").lines[0]
    assert point.get_xdata()[0] == pytest.approx(today["marketing_share"])
    assert point.get_ydata()[0] == pytest.approx(today["objective"])
    ((_, low), (_, high)), = _segments(_errorbar(ax, "today's split"))
    assert (low, high) == pytest.approx((today["objective_ci_low"], today["objective_ci_high"]))
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == pytest.approx([today["objective"]])
    # Today is not one of the grid's points.
    assert today["marketing_share"] not in _line(ax, sweep1.objective.label).get_xdata()

    best = sweep1.alternatives.loc[sweep1.best]
    star = _line(ax, f"best ({sweep1.best})")
    assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((best["marketing_share"], best["objective"]))
    assert any(f"P(best) {best['p_best']:.0%}" in t.get_text() for t in ax.texts)


def test_compare_objective_is_one_error_bar_per_alternative(plain):
    ax = objective_plot(plain).axes[0]
    bars = _errorbar(ax, f"{plain.objective.label}, 95% CI")
    x, y = bars.lines[0].get_xdata(), bars.lines[0].get_ydata()
    ticks = _ticks(ax.yaxis)
    assert set(ticks) == set(plain.alternatives.index)
    drawn = {label: x[np.isclose(y, pos)][0] for label, pos in ticks.items()}
    assert drawn == pytest.approx(plain.alternatives["objective"].to_dict())
    for (x0, y0), (x1, _) in _segments(bars):
        label = next(k for k, pos in ticks.items() if np.isclose(pos, y0))
        row = plain.alternatives.loc[label]
        assert (x0, x1) == pytest.approx((row["objective_ci_low"], row["objective_ci_high"]))


def test_probability_objective_is_shown_as_a_percentage(probability):
    ax = objective_plot(probability).axes[0]
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    assert "P(>= 30,000)" in ax.get_xlabel()


def test_objective_plot_refuses_a_two_setting_sweep(sweep2):
    with pytest.raises(PresentError, match="heatmap_plot"):
        objective_plot(sweep2)


# difference_plot


def _difference_label(c, reference):
    # Money objectives name the alternatives' currency (the test scenarios' is USD).
    money = c.risk.name != "probability" and c.objective.name != "new_customers"
    unit = f", {c.currency}" if money and c.currency else ""
    assert c.currency == "USD"
    return f"difference in {c.objective.label} ({c.risk.label}{unit}) vs {reference} (paired, 95% CI)"


@pytest.mark.parametrize("name, against", [("plain", "baseline"), ("plain", "best"), ("sweep2", "baseline"),
                                           ("sweep2", "best"), ("cvar", "baseline")])
def test_difference_bars_are_the_paired_differences_without_the_reference(name, against, request):
    c = request.getfixturevalue(name)
    reference = c.baseline if against == "baseline" else c.best
    if name != "cvar":
        assert c.baseline != c.best  # so drawing the other column would show
    ax = difference_plot(c, against).axes[0]
    bars = _errorbar(ax, "paired difference, 95% CI")
    x, y = bars.lines[0].get_xdata(), bars.lines[0].get_ydata()
    ticks = _ticks(ax.yaxis)
    assert set(ticks) == set(c.alternatives.index) - {reference}
    assert len(x) == len(ticks)
    rows = c.alternatives
    drawn = {label: x[np.isclose(y, pos)][0] for label, pos in ticks.items()}
    assert drawn == pytest.approx(rows.loc[list(ticks), f"vs_{against}"].to_dict())
    segments = _segments(bars)
    assert len(segments) == len(ticks)
    for (x0, y0), (x1, _) in segments:
        label = next(k for k, pos in ticks.items() if np.isclose(pos, y0))
        row = rows.loc[label]
        assert (x0, x1) == pytest.approx((row[f"vs_{against}_ci_low"], row[f"vs_{against}_ci_high"]))
    # The first alternative on top, as in objective_plot.
    assert [k for k, _ in sorted(ticks.items(), key=lambda kv: -kv[1])] == [a for a in rows.index if a != reference]
    data, caps, _ = bars.lines
    (zero,) = [line for line in ax.get_lines() if line is not data and line not in caps]
    assert list(zero.get_xdata()) == [0, 0]
    assert _unwrap(ax.get_xlabel()) == _difference_label(c, reference)


@pytest.mark.parametrize("against", ["baseline", "best"])
def test_sweep_difference_is_drawn_against_the_setting_in_grid_order(sweep1, against):
    ax = difference_plot(sweep1, against).axes[0]
    line = _line(ax, "paired difference")
    x, y = line.get_xdata(), line.get_ydata()
    assert list(x) == [0.2, 0.3, 0.4]  # today's 25% left out
    grid = _grid(sweep1)
    np.testing.assert_allclose(y, [grid[(v,)][f"vs_{against}"] for v in x])
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = np.concatenate([p.vertices for p in band.get_paths()])
    for (value,), row in grid.items():
        at = vertices[np.isclose(vertices[:, 0], value), 1]
        assert np.isclose(at, row[f"vs_{against}_ci_low"]).any() and np.isclose(at, row[f"vs_{against}_ci_high"]).any()
    assert not np.isclose(vertices[:, 0], 0.25).any()
    (zero,) = [line for line in ax.get_lines() if line is not _line(ax, "paired difference")]
    assert list(zero.get_ydata()) == [0, 0]
    assert isinstance(ax.xaxis.get_major_formatter(), PercentFormatter)
    reference = sweep1.baseline if against == "baseline" else sweep1.best
    assert _unwrap(ax.get_ylabel()) == _difference_label(sweep1, reference)


def test_difference_to_the_baseline_and_to_the_best_differ(sweep1):
    baseline = _line(difference_plot(sweep1).axes[0], "paired difference").get_ydata()
    best = _line(difference_plot(sweep1, "best").axes[0], "paired difference").get_ydata()
    assert not np.allclose(baseline, best)


def test_difference_plot_refuses_an_unknown_reference(plain):
    with pytest.raises(PresentError, match="nope"):
        difference_plot(plain, against="nope")


# Long labels


def test_long_labels_are_wrapped_wherever_alternatives_are_tick_labels(long):
    every = [*LONG, "plan"]
    for fig, axis, shown in [(objective_plot(long), "y", every), (difference_plot(long), "y", [LONG[1], "plan"]),
                             (funnel_plot(long), "y", every), (capacity_plot(long), "x", every),
                             (distribution_plot(long), "x", every)]:
        texts = [t.get_text() for t in getattr(fig.axes[0], f"get_{axis}ticklabels")()]
        assert [_unwrap(t) for t in texts if "\n" in t] == [label for label in shown if label in LONG]
        assert max(len(line) for t in texts for line in t.split("\n")) <= 40
        assert {_unwrap(t) for t in texts} == set(shown)


@pytest.mark.parametrize("plot", [objective_plot, difference_plot, funnel_plot, capacity_plot, distribution_plot])
def test_long_labels_and_titles_fit_on_the_figure(plot, long):
    assert _outside(plot(long)) == []


# heatmap_plot


def test_heatmap_is_the_objective_over_the_grid(sweep2):
    fig = heatmap_plot(sweep2)
    ax = fig.axes[0]
    grid = _grid(sweep2)
    xs = sorted({k[0] for k in grid})
    ys = sorted({k[1] for k in grid})
    expected = np.array([[grid[(x, y)]["objective"] for x in xs] for y in ys])
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{x:.0%}" for x in xs]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{y:.0%}" for y in ys]
    assert list(ax.get_xticks()) == list(range(len(xs))) and list(ax.get_yticks()) == list(range(len(ys)))
    assert len(fig.axes) == 2  # the colour bar

    i, j = np.unravel_index(expected.argmax(), expected.shape)
    (outline,) = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_edgecolor()[:3] == (1, 0, 0)]
    assert outline.get_xy() == pytest.approx((j - 0.5, i - 0.5))


# A cell's number as the heatmap writes it: "11.95M", "31.2k", "1,234", "62%".
NUMBER = re.compile(r"(-?[\d,]+(?:\.(\d+))?)([kM%]?)")
SCALE = {"M": 1e6, "k": 1e3, "%": 1e-2, "": 1.0}


def _parse(text):
    """A number as shown -> (its value, half a unit of its last digit: how far rounding may have moved it)."""
    number, decimals, suffix = NUMBER.fullmatch(text).groups()
    return float(number.replace(",", "")) * SCALE[suffix], 0.5 * 10 ** -len(decimals or "") * SCALE[suffix]


def _cells(ax, c):
    """Grid alternative -> the text of its heatmap cell (cells are found by where their text sits)."""
    grid = _grid(c)
    xs, ys = sorted({k[0] for k in grid}), sorted({k[1] for k in grid})
    at = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in ax.texts}
    assert len(at) == len(grid)
    return {row.name: at[(xs.index(x), ys.index(y))] for (x, y), row in grid.items()}


def _dashed(ax, c):
    """Grid alternatives whose heatmap cell has a dashed outline."""
    grid = _grid(c)
    xs, ys = sorted({k[0] for k in grid}), sorted({k[1] for k in grid})
    centres = [(p.get_x() + p.get_width() / 2, p.get_y() + p.get_height() / 2) for p in ax.patches
               if isinstance(p, Rectangle) and p.get_linestyle() not in ("-", "solid")]
    return {row.name for (x, y), row in grid.items()
            if any(np.isclose(cx, xs.index(x)) and np.isclose(cy, ys.index(y)) for cx, cy in centres)}


def test_heatmap_cells_show_the_mean_and_its_confidence_interval(sweep2):
    ax = heatmap_plot(sweep2).axes[0]
    reps = sweep2.replications
    for label, text in _cells(ax, sweep2).items():
        shown, half = text.split("\n")
        assert half.startswith("±")
        (value, off), (width, width_off) = _parse(shown), _parse(half[1:])
        row = sweep2.alternatives.loc[label]
        assert value == pytest.approx(row["objective"], abs=off)
        # The 95% t interval of the mean, from the replications themselves.
        x = reps.loc[reps["alternative"] == label, "objective"].to_numpy(dtype=float)
        expected = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
        assert expected > 0 and width == pytest.approx(expected, abs=width_off * (1 + 1e-9))
        assert width == pytest.approx((row["objective_ci_high"] - row["objective_ci_low"]) / 2, abs=width_off)
    assert "mean ± its 95% CI" in ax.get_title()


def test_heatmap_of_a_tail_risk_shows_its_bootstrap_interval_as_its_ends(sweep2):
    grid = {"marketing_share": [0.3, 0.2], "role_share.sdr": [0.5, 0.3]}
    alternatives = split_alternatives_of(make(), grid)
    runs = {label: frame for label, frame in sweep2.to_frame().groupby("alternative")}
    assert {a.label for a in alternatives} == set(runs)
    c = dataclasses.replace(analyse(alternatives, runs, objective=sweep2.objective, baseline="today", seed=1,
                                    risk=conditional_value_at_risk(0.5)), dimensions=list(grid))
    ax = heatmap_plot(c).axes[0]
    for label, text in _cells(ax, c).items():
        shown, interval = text.split("\n")
        (value, off), ((low, low_off), (high, high_off)) = _parse(shown), map(_parse, interval.split("–"))
        row = c.alternatives.loc[label]
        assert value == pytest.approx(row["objective"], abs=off)
        assert (low, high) == pytest.approx((row["objective_ci_low"], row["objective_ci_high"]),
                                            abs=max(low_off, high_off))
    assert "CVaR 50% and its 95% CI" in ax.get_title()


def test_heatmap_dashes_the_cells_not_distinguishable_from_the_best(sweep2):
    alts = sweep2.alternatives
    holds_zero = {row.name for row in _grid(sweep2).values()
                  if row.name != sweep2.best and row["vs_best_ci_low"] <= 0 <= row["vs_best_ci_high"]}
    ax = heatmap_plot(sweep2).axes[0]
    assert _dashed(ax, sweep2) == holds_zero
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "best on the grid" and "not distinguishable from the best" in _unwrap(texts[1])
    assert "95% CI of the paired difference to it holds 0" in _unwrap(texts[1])

    # Every other grid cell made a tie, the rest clearly worse: the dashes follow the intervals, nothing else.
    others = [label for label in alts.index if label not in ("today", sweep2.best)]
    tied = set(others[::2])
    changed = alts.copy()
    for label in others:
        changed.loc[label, ["vs_best_ci_low", "vs_best_ci_high"]] = (-1.0, 1.0) if label in tied else (-2.0, -1.0)
    assert _dashed(heatmap_plot(dataclasses.replace(sweep2, alternatives=changed)).axes[0], sweep2) == tied
    assert tied and set(others) - tied


def test_heatmap_plot_refuses_anything_but_two_settings(sweep1, plain):
    with pytest.raises(PresentError, match="objective_plot"):
        heatmap_plot(sweep1)
    with pytest.raises(PresentError, match="objective_plot"):
        heatmap_plot(plain)


# funnel_plot

STAGES = {"leads": "leads", "mqls": "MQLs", "sqls": "SQLs", "wins": "wins", "cold_events": "went cold"}


@pytest.mark.parametrize("name", ["sweep1", "sweep2", "plain"])
def test_funnel_is_one_linear_panel_per_stage_with_the_means_and_their_intervals(name, request):
    c = request.getfixturevalue(name)
    fig = funnel_plot(c)
    assert [ax.get_title() for ax in fig.axes] == list(STAGES.values())
    ticks = _ticks(fig.axes[0].yaxis)  # the panels share the alternatives' axis
    assert set(ticks) == set(c.alternatives.index)
    for ax, measure in zip(fig.axes, STAGES, strict=True):
        # Linear: a log axis squeezes the differences between alternatives that the panels are there to show.
        assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
        assert ax.get_shared_y_axes().joined(ax, fig.axes[0])
        (bars,) = [b for b in ax.containers if isinstance(b, ErrorbarContainer)]
        assert bars.get_label() == f"{STAGES[measure]}: mean, 95% CI of the mean"
        x, y = bars.lines[0].get_xdata(), bars.lines[0].get_ydata()
        segments = _segments(bars)
        assert len(x) == len(segments) == len(ticks)
        for value, pos, ((x0, y0), (x1, y1)) in zip(x, y, segments, strict=True):
            (alt,) = [k for k, p in ticks.items() if p == pos]
            row = _measure_row(c, alt, measure)
            assert value == pytest.approx(row["mean"])
            assert y0 == y1 == pos
            # A count cannot be negative: the interval's low end is cut at zero.
            assert (x0, x1) == pytest.approx((max(row["ci_low"], 0.0), row["ci_high"]))
        (dashed,) = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert list(dashed.get_xdata()) == pytest.approx([_mean(c, c.baseline, measure)] * 2)
    # The first alternative on top, as in a table.
    assert [k for k, _ in sorted(ticks.items(), key=lambda kv: -kv[1])][0] == (
        "today" if c.dimensions else list(c.alternatives.index)[0])
    assert "95% CI of the mean" in fig.get_supxlabel() and f"{c.n} replications" in fig.get_supxlabel()


def test_funnel_top_axis_reads_the_difference_to_the_baseline(plain):
    fig = funnel_plot(plain)
    FigureCanvasAgg(fig).draw()  # a secondary axis takes its limits from its parent's when drawn
    for ax, measure in zip(fig.axes, STAGES, strict=True):
        base = _mean(plain, plain.baseline, measure)
        if base == 0:
            assert ax.child_axes == []  # no percentage of nothing
            continue
        (top,) = ax.child_axes
        assert top.get_xlim() == pytest.approx([(x / base - 1) * 100 for x in ax.get_xlim()])


def test_funnel_tick_labels_lie_flat_beside_the_first_panel_only(sweep2):
    fig = funnel_plot(sweep2)
    labels = fig.axes[0].get_yticklabels()
    assert len(labels) == len(sweep2.alternatives) and all(t.get_rotation() == 0 for t in labels)
    assert [ax.yaxis.get_tick_params()["labelleft"] for ax in fig.axes] == [True] + [False] * 4


def test_funnel_plot_adds_its_panels_to_the_figure_given(plain):
    fig = Figure()
    left, right = fig.subfigures(1, 2)
    assert funnel_plot(plain, fig=left) is left
    assert len(left.axes) == 5 and right.axes == []


# capacity_plot


def test_capacity_of_a_sweep_is_drawn_against_the_setting(sweep1):
    fig = capacity_plot(sweep1)
    response, utilisation = fig.axes
    grid = sorted(_grid(sweep1))
    for ax, measure, label in [(response, "response_time_median_hours", "median response time"),
                               (utilisation, "qualifier_utilisation", "qualifier time"),
                               (utilisation, "ae_slot_utilisation", "AE deal slots")]:
        line = _line(ax, label)
        assert list(line.get_xdata()) == [v for (v,) in grid]
        np.testing.assert_allclose(line.get_ydata(), [_mean(sweep1, _grid(sweep1)[k].name, measure) for k in grid])
        today = _errorbar(ax, f"{label}, today's split").lines[0]
        assert today.get_ydata()[0] == pytest.approx(_mean(sweep1, "today", measure), nan_ok=True)
    # The data are hours; under two hours the axis shows them as minutes, and says so.
    label, shown = response.get_ylabel(), response.yaxis.get_major_formatter()(0.5, 0)
    assert ("hours" in label and shown != "30") or ("minutes" in label and shown == "30")
    assert isinstance(utilisation.yaxis.get_major_formatter(), PercentFormatter)


@pytest.mark.parametrize("name", ["sweep2", "plain"])
def test_capacity_per_alternative_is_the_measure_means(name, request):
    c = request.getfixturevalue(name)
    response, utilisation = capacity_plot(c).axes
    for ax, measure, label in [(response, "response_time_median_hours", "median response time"),
                               (utilisation, "qualifier_utilisation", "qualifier time"),
                               (utilisation, "ae_slot_utilisation", "AE deal slots")]:
        ticks = _ticks(ax.xaxis)
        assert set(ticks) == set(c.alternatives.index)
        bars = _errorbar(ax, label)
        for x, y in zip(bars.lines[0].get_xdata(), bars.lines[0].get_ydata(), strict=True):
            (alt,) = [k for k, pos in ticks.items() if abs(pos - x) < 0.5]
            assert y == pytest.approx(_mean(c, alt, measure), nan_ok=True)


def test_capacity_plot_adds_its_panels_to_the_figure_given(plain):
    fig = Figure()
    assert capacity_plot(plain, fig=fig) is fig
    assert len(fig.axes) == 2


# distribution_plot


@pytest.mark.parametrize("name", ["sweep1", "plain"])
def test_distribution_has_one_box_per_alternative_with_its_mean(name, request):
    c = request.getfixturevalue(name)
    ax = distribution_plot(c).axes[0]
    boxes = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert len(boxes) == len(c.alternatives)
    ticks = _ticks(ax.xaxis)
    assert set(ticks) == set(c.alternatives.index)
    means = _line(ax, "mean")
    reps = c.replications
    for box, x, y in zip(boxes, means.get_xdata(), means.get_ydata(), strict=True):
        (alt,) = [k for k, pos in ticks.items() if pos == x]
        values = reps.loc[reps["alternative"] == alt, "objective"].to_numpy()
        assert y == pytest.approx(values.mean())
        ys = box.get_path().vertices[:, 1]
        assert (ys.min(), ys.max()) == pytest.approx(tuple(np.percentile(values, [25, 75])))
        assert box.get_path().vertices[:, 0].mean() == pytest.approx(x, abs=0.3)


def test_distribution_marks_a_tail_risk_beside_the_mean(cvar):
    ax = distribution_plot(cvar).axes[0]
    tail, mean = _line(ax, "CVaR 30%"), _line(ax, "mean")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    np.testing.assert_allclose(tail.get_ydata(), cvar.alternatives.loc[labels, "objective"])
    assert (tail.get_ydata() <= mean.get_ydata() + 1e-9).all()  # the worst 30% average no more than all


# Axes given, pyplot untouched, files written


@pytest.mark.parametrize("plot, name", [(objective_plot, "sweep1"), (objective_plot, "plain"),
                                        (heatmap_plot, "sweep2"),
                                        (distribution_plot, "sweep2"), (difference_plot, "sweep1"),
                                        (difference_plot, "plain")])
def test_a_plot_draws_into_the_axes_given(plot, name, request):
    fig = Figure()
    ax, other = fig.subplots(1, 2)
    assert plot(request.getfixturevalue(name), ax=ax) is fig
    assert ax.has_data()
    assert not other.has_data()


def test_pyplot_is_left_alone(sweep1, sweep2, plain):
    before = plt.get_fignums()
    for plot, c in [(objective_plot, sweep1), (objective_plot, plain), (heatmap_plot, sweep2), (funnel_plot, plain),
                    (capacity_plot, sweep1), (distribution_plot, plain), (difference_plot, sweep2)]:
        plot(c)
    assert plt.get_fignums() == before  # (write_plots: below)


def test_only_the_plots_module_imports_matplotlib_and_never_pyplot():
    importers = {}
    files = sorted(SIM.rglob("*.py"))
    assert len(files) > 40  # the whole package, its subpackages too
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                if n.split(".")[0] == "matplotlib":
                    importers.setdefault(path.relative_to(SIM).as_posix(), set()).add(n)
    assert set(importers) == {"present/plots.py"}
    assert not any("pyplot" in n for n in importers["present/plots.py"])


# (A plain comparison's figures are drawn in full by test_long_labels_and_titles_fit_on_the_figure.)
@pytest.mark.parametrize("name, first", [("sweep1", "objective.png"), ("sweep2", "heatmap.png")])
def test_write_plots_writes_the_pngs(name, first, request, tmp_path):
    directory = tmp_path / "deep" / "plots"
    before = plt.get_fignums()
    paths = write_plots(request.getfixturevalue(name), directory)
    assert plt.get_fignums() == before  # pyplot left alone
    assert [p.name for p in paths] == [first, "funnel.png", "capacity.png", "distribution.png", "differences.png",
                                       "fans.png", "frontier.png"]  # 3 or more alternatives: a frontier
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in paths)
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG)
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 300 and height >= 200
