"""Fan charts draw the quantiles over replications, month by month, of the frame given; cash fans count the runway."""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import sim
from sim.present.errors import PresentError
from sim.present.fan import _money, cash_fan_plot, fan_chart

REPS = 20


def _frame(reps=REPS, months=12, seed=0, start=-40_000.0, drift=9_000.0, noise=20_000.0):
    """A long monthly frame as a run gives it: a plan that loses money first and earns it later."""
    rng = np.random.default_rng(seed)
    rows = [(r, m, start * np.exp(-m / 3) + drift * m / months + rng.normal(0, noise), int(rng.poisson(3 + m)))
            for r in range(reps) for m in range(months)]
    frame = pd.DataFrame(rows, columns=["replication", "month", "contribution", "wins"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # in no particular row order


def _series(frame, column, cumulative):
    """month x replication array, computed here with a loop and np.cumsum, not with the code under test."""
    reps = sorted(set(frame["replication"]))
    out = []
    for r in reps:
        rows = frame[frame["replication"] == r].sort_values("month")
        values = rows[column].to_numpy(dtype=float)
        out.append(np.cumsum(values) if cumulative else values)
    return np.array(out).T


def _axes(fig):
    assert len(fig.axes) == 1
    return fig.axes[0]


def _line(ax, label):
    lines = [line for line in ax.get_lines() if line.get_label() == label]
    assert len(lines) == 1, [line.get_label() for line in ax.get_lines()]
    return lines[0]


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _band_edges(band):
    """(x, lowest y, highest y) of a fill_between polygon, one per x it spans."""
    vertices = band.get_paths()[0].vertices
    xs = np.unique(vertices[:, 0])
    return xs, np.array([vertices[vertices[:, 0] == x, 1].min() for x in xs]), \
        np.array([vertices[vertices[:, 0] == x, 1].max() for x in xs])


def _legend_texts(fig):
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]
    assert len(legends) == 1
    return [t.get_text() for t in legends[0].get_texts()]


def _drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


@pytest.mark.parametrize("cumulative", [False, True])
def test_the_median_and_the_band_are_the_quantiles_over_replications(cumulative):
    frame = _frame()
    values = _series(frame, "contribution", cumulative)
    ax = _axes(fan_chart(frame, "contribution", cumulative=cumulative, currency="USD"))
    median = _line(ax, "median")
    np.testing.assert_array_equal(median.get_xdata(), np.arange(1, 13))  # month 0 is drawn as month 1
    np.testing.assert_allclose(median.get_ydata(), np.quantile(values, 0.5, axis=1), rtol=1e-12)
    (band,) = _bands(ax)
    assert band.get_label() == f"P10–P90 over {REPS} replications"
    xs, low, high = _band_edges(band)
    np.testing.assert_array_equal(xs, np.arange(1, 13))
    np.testing.assert_allclose(low, np.quantile(values, 0.1, axis=1), rtol=1e-12)
    np.testing.assert_allclose(high, np.quantile(values, 0.9, axis=1), rtol=1e-12)


def test_nested_bands_from_the_outside_in():
    frame = _frame(seed=4)
    values = _series(frame, "wins", False)
    ax = _axes(fan_chart(frame, "wins", bands=(0.05, 0.25, 0.5, 0.75, 0.95), money=False))
    outer, inner = _bands(ax)
    for band, (lo, hi) in [(outer, (0.05, 0.95)), (inner, (0.25, 0.75))]:
        _, low, high = _band_edges(band)
        np.testing.assert_allclose(low, np.quantile(values, lo, axis=1))
        np.testing.assert_allclose(high, np.quantile(values, hi, axis=1))
    np.testing.assert_allclose(_line(ax, "median").get_ydata(), np.quantile(values, 0.5, axis=1))
    assert inner.get_label() == f"P25–P75 over {REPS} replications"


def test_the_legend_says_how_many_replications_the_band_is_over():
    frame = _frame(reps=7)
    frame = frame[frame["replication"] != 3]  # a replication that failed has no rows
    count = frame["replication"].nunique()
    texts = _legend_texts(fan_chart(frame, "contribution"))
    assert texts == [f"median, P10–P90 over {count} replications"]
    one = _frame(reps=1)
    assert _legend_texts(fan_chart(one, "contribution", label="plan")) == ["plan: median, P10–P90 over 1 replication"]


def test_a_dict_of_frames_gives_one_fan_per_plan_in_its_own_colour():
    chosen, today = _frame(seed=1), _frame(seed=2, reps=12)
    fig = fan_chart({"chosen plan": chosen, "today": today}, "contribution", cumulative=True, currency="USD")
    ax = _axes(fig)
    bands = _bands(ax)
    assert [b.get_label() for b in bands] == ["chosen plan: P10–P90 over 20 replications",
                                              "today: P10–P90 over 12 replications"]
    assert not np.allclose(bands[0].get_facecolor(), bands[1].get_facecolor())
    for name, frame in [("chosen plan", chosen), ("today", today)]:
        np.testing.assert_allclose(_line(ax, f"{name}: median").get_ydata(),
                                   np.quantile(_series(frame, "contribution", True), 0.5, axis=1))
    assert _line(ax, "chosen plan: median").get_color() != _line(ax, "today: median").get_color()
    assert _legend_texts(fig) == ["chosen plan: median, P10–P90 over 20 replications",
                                  "today: median, P10–P90 over 12 replications"]


def test_money_ticks_show_the_currency_and_plain_ones_do_not():
    frame = _frame()
    fig = fan_chart(frame, "contribution", cumulative=True, currency="EUR")
    _drawn(fig)
    labels = [t.get_text() for t in _axes(fig).get_yticklabels() if t.get_text()]
    assert labels and all(label.lstrip("-").startswith("EUR ") for label in labels), labels
    assert any(label.startswith("-EUR ") for label in labels)  # the plan loses money at first
    fig = fan_chart(frame * [1, 1, 1000, 1], "contribution", money=False)
    _drawn(fig)
    labels = [t.get_text() for t in _axes(fig).get_yticklabels() if t.get_text()]
    assert not any("EUR" in label or label[-1] in "kMB" for label in labels), labels
    assert any("," in label for label in labels)  # thousands separators


@pytest.mark.parametrize(("value", "currency", "text"), [
    (1_250_000, "USD", "USD 1.25M"), (-250_000, "USD", "-USD 250k"), (-250_000, "", "-250k"), (0, "USD", "USD 0"),
    (999_999, "", "1M"), (12_500, "", "12.5k"), (750, "GBP", "GBP 750"), (2.5e9, "", "2.5B"), (-0.0, "", "0")])
def test_money_labels_are_short(value, currency, text):
    assert _money(value, currency) == text


@pytest.mark.parametrize("months", [12, 24, 36, 60])
def test_ticks_are_whole_months_that_do_not_overlap_and_nothing_is_clipped(months):
    frame = _frame(months=months)
    fig = cash_fan_plot({"a long plan label, today's split": frame, "b": _frame(months=months, seed=9)},
                        runway=80_000, probability=0.9, currency="USD")
    width, height = fig.get_size_inches()
    assert width == 8 and 4.5 <= height <= 6  # a notebook's figure, grown only for the legend's lines
    renderer = _drawn(fig)
    ax = _axes(fig)
    ticks = ax.get_xticks()
    assert np.array_equal(ticks, np.round(ticks)) and ticks.min() >= 1 and ticks.max() <= months
    assert len(ticks) <= 24
    page = fig.bbox
    shown = {axis: [label for tick, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=True)
                    if min(axis.get_view_interval()) <= tick <= max(axis.get_view_interval()) and label.get_text()]
             for axis in (ax.xaxis, ax.yaxis)}
    for labels in shown.values():
        assert len(labels) >= 3
        boxes = [t.get_window_extent(renderer) for t in labels]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), (a, b)
    texts = [*shown[ax.xaxis], *shown[ax.yaxis], ax.title, ax.xaxis.label, ax.yaxis.label]
    for artist in [*texts, *fig.legends]:
        box = artist.get_window_extent(renderer)
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1


def test_the_cash_fan_is_the_cumulative_contribution_with_the_runway_and_its_count():
    frame = _frame(seed=6)
    runway = 120_000.0
    cash = _series(frame, "contribution", True)
    held = sum(all(cash[m, r] >= -runway for m in range(cash.shape[0])) for r in range(cash.shape[1]))
    assert 0 < held < REPS  # the test means something only if some replications break the runway and some hold
    fig = cash_fan_plot(frame, runway=runway, probability=0.8, currency="USD")
    ax = _axes(fig)
    np.testing.assert_allclose(_line(ax, "median").get_ydata(), np.quantile(cash, 0.5, axis=1))
    limit = _line(ax, "runway limit (-USD 120k)")
    assert set(limit.get_ydata()) == {-runway} and limit.get_linestyle() == "--"
    texts = _legend_texts(fig)
    assert f"cash at or above -USD 120k in every month: {held} of {REPS} replications " \
           f"({held / REPS:.0%}, target 80%)" in texts
    assert "runway limit (-USD 120k)" in texts
    assert ax.get_ylim()[0] < -runway  # the limit is in view


def test_a_cash_fan_of_two_plans_counts_each():
    plans = {"chosen plan": _frame(seed=7), "today": _frame(seed=8, reps=10)}
    runway = 120_000
    fig = cash_fan_plot(plans, runway=runway)
    counts = {}
    for name, frame in plans.items():
        cash = _series(frame, "contribution", True)
        counts[name] = (int((cash.min(axis=0) >= -runway).sum()), cash.shape[1])
    texts = _legend_texts(fig)
    for name, (held, n) in counts.items():
        assert f"{name}: cash at or above -120k in every month: {held} of {n} replications" in texts
    assert 0 < counts["chosen plan"][0] < REPS
    assert len(_bands(_axes(fig))) == 2


def test_without_a_runway_there_is_no_limit_and_no_count():
    fig = cash_fan_plot(_frame(), currency="USD")
    texts = _legend_texts(fig)
    assert texts == ["median, P10–P90 over 20 replications"]
    assert _axes(fig).get_title() == "Cash over months (cumulative contribution)"


def test_the_same_names_from_sim():
    assert sim.fan_chart is fan_chart and sim.cash_fan_plot is cash_fan_plot


def test_a_plot_draws_into_the_axes_given_and_leaves_pyplot_alone():
    before = plt.get_fignums()
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    assert fan_chart(_frame(), "wins", ax=left, money=False) is fig
    assert cash_fan_plot(_frame(), runway=50_000, ax=right) is fig
    assert left.get_legend() is not None and right.get_legend() is not None and not fig.legends
    assert plt.get_fignums() == before


@pytest.mark.parametrize("missing", ["replication", "month", "contribution"])
def test_a_missing_column_is_a_clear_error(missing):
    frame = _frame().drop(columns=missing)
    with pytest.raises(PresentError) as error:
        fan_chart(frame, "contribution")
    assert error.value.parameter == "monthly" and f"missing {missing}" in error.value.message
    with pytest.raises(PresentError) as error:
        cash_fan_plot({"chosen plan": _frame(), "today": frame}, runway=10.0)
    assert error.value.parameter == "monthly['today']" and f"missing {missing}" in error.value.message
    with pytest.raises(PresentError, match="missing replication, month, contribution"):
        fan_chart(pd.DataFrame(), "contribution")  # an evaluator's frame before anything ran


@pytest.mark.parametrize(("call", "parameter"), [
    (lambda f: fan_chart(f, "wins", bands=(0.1, 0.9)), "bands"),
    (lambda f: fan_chart(f, "wins", bands=(0.9, 0.5, 0.1)), "bands"),
    (lambda f: fan_chart(f, "wins", bands=(-0.1, 0.5, 1.1)), "bands"),
    (lambda f: fan_chart(f, "wins", bands="abc"), "bands"),
    (lambda f: fan_chart({"a": f}, "wins", label="b"), "label"),
    (lambda f: fan_chart({}, "wins"), "monthly"),
    (lambda f: cash_fan_plot(f, probability=0.9), "probability"),
    (lambda f: cash_fan_plot(f, runway=100.0, probability=1.5), "probability"),
    (lambda f: cash_fan_plot(f, runway=-100.0), "runway"),
])
def test_settings_that_cannot_be_drawn_name_their_parameter(call, parameter):
    with pytest.raises(PresentError) as error:
        call(_frame())
    assert error.value.parameter == parameter
