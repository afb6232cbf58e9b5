"""Views over time and where things went: the funnel's fan panels and the two waterfalls.

- The panels' lines are the quantiles of the frame, computed here independently.
- The waterfalls are accounts that add up: every lead that arrived ends in one state
  (the steps from the arrivals reach the wins exactly), and revenue less its cost and
  every cost is the contribution; the bars drawn are those amounts.
- ``funnel run --plots`` writes the four plots, and refuses with ``--fast`` in one line.
"""

import numpy as np
import pandas as pd
import pytest
from cli_run import assert_one_line_per_option, in_process
from paths import TEACHING

import sim
from sim.present.errors import PresentError
from sim.present.fan import FUNNEL_FANS, funnel_fans
from sim.present.waterfall import LEAD_STEPS, lead_steps, lead_waterfall, money_steps, money_waterfall

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def experiment():
    return sim.load_scenario(TEACHING), sim.run_many(sim.load_scenario(TEACHING), reps=8, seed=4)


def test_each_panel_is_the_quantiles_of_its_series(experiment):
    sc, e = experiment
    fig = funnel_fans(e.monthly, currency=sc.currency)
    assert len(fig.axes) == len(FUNNEL_FANS) == 9
    for ax, (column, _, _, cumulative) in zip(fig.axes, FUNNEL_FANS, strict=True):
        table = e.monthly.pivot(index="month", columns="replication", values=column).sort_index()
        if cumulative:
            table = table.cumsum()
        median = [line for line in ax.get_lines() if line.get_linewidth() == 2][0]
        assert median.get_ydata() == pytest.approx(np.quantile(table.to_numpy(), 0.5, axis=1))
        assert list(median.get_xdata()) == list(table.index + 1)
    assert "over 8 replications" in fig.legends[0].get_texts()[0].get_text()


def test_two_plans_share_the_colours_and_one_legend(experiment):
    sc, e = experiment
    other = e.monthly.assign(leads=e.monthly["leads"] * 2)
    fig = funnel_fans({"today": e.monthly, "double": other}, currency=sc.currency)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(texts) == 2 and texts[0].startswith("today") and texts[1].startswith("double")
    with pytest.raises(PresentError, match="monthly"):
        funnel_fans(e.monthly.drop(columns="sqls"))


def test_every_lead_is_accounted_for_from_the_arrivals_to_the_wins(experiment):
    _, e = experiment
    table = lead_steps(e.replications)
    assert list(table["step"]) == ["leads arrived", *LEAD_STEPS.values(), "won"]
    assert table["amount"].iloc[0] + table["amount"].iloc[1:-1].sum() == pytest.approx(table["amount"].iloc[-1])
    assert table["amount"].iloc[-1] == pytest.approx(e.replications["wins"].mean())
    assert table["amount"].iloc[0] == pytest.approx(e.replications["leads"].mean())


def test_revenue_less_its_cost_and_every_cost_is_the_contribution(experiment):
    sc, e = experiment
    table = money_steps(e.replications, sc.gross_margin).set_index("step")
    r = e.replications
    assert table.loc["revenue", "amount"] + table.loc["cost of revenue", "amount"] == pytest.approx(
        table.loc["gross margin", "amount"])
    costs = table[table["kind"] == "step"].drop(index="cost of revenue")["amount"]
    assert -costs.sum() == pytest.approx(r["cost.total"].mean())
    assert table.loc["gross margin", "amount"] + costs.sum() == pytest.approx(r["contribution"].mean())
    assert table.loc["gross margin", "amount"] == pytest.approx(r["revenue"].mean() * sc.gross_margin)


def test_the_bars_drawn_are_the_amounts(experiment):
    sc, e = experiment
    for fig, table in ((lead_waterfall(e.replications), lead_steps(e.replications)),
                       (money_waterfall(e.replications, sc.gross_margin, sc.currency),
                        money_steps(e.replications, sc.gross_margin))):
        bars = fig.axes[0].patches
        assert [b.get_width() for b in bars] == pytest.approx(table["amount"].abs().tolist())
    assert any("USD" in t.get_text() for t in fig.axes[0].get_xticklabels())
    with pytest.raises(PresentError, match="replications"):
        lead_waterfall(pd.DataFrame({"x": [1]}))


def test_run_plots_writes_the_four_and_refuses_with_fast(tmp_path):
    code, _, err = in_process("run", str(TEACHING), "--reps", "3", "--seed", "1", "--quiet", "--plots",
                              str(tmp_path / "many"))
    assert code == 0, err
    code, _, err = in_process("run", str(TEACHING), "--seed", "1", "--plots", str(tmp_path / "one"))
    assert code == 0, err
    for folder in ("many", "one"):
        written = sorted(p.name for p in (tmp_path / folder).iterdir())
        assert written == ["cash.png", "fans.png", "leads.png", "money.png"]
        assert all((tmp_path / folder / name).read_bytes().startswith(PNG) for name in written)
    code, out, err = in_process("run", str(TEACHING), "--fast", "--plots", str(tmp_path / "fast"))
    assert_one_line_per_option(code, out, err, ["--plots"])


def test_the_frontier_is_the_alternatives_no_other_beats_in_both_mean_and_p10():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sim.present.frontier import frontier_plot, frontier_table

    class Fake:
        def __init__(self, frame):
            self.replications, self.n, self.objective = frame, frame["replication"].nunique(), sim.Objective()

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.lists(st.integers(-5, 5), min_size=5, max_size=5), min_size=2, max_size=6))
    def check(rows):
        frame = pd.DataFrame([{"alternative": f"a{k}", "replication": i, "objective": float(v)}
                              for k, values in enumerate(rows) for i, v in enumerate(values)])
        table = frontier_table(Fake(frame))
        stats = {a: (np.mean(v), np.quantile(v, 0.1)) for a, v in
                 ((f"a{k}", values) for k, values in enumerate(rows))}
        for a, (m, d) in stats.items():
            assert table.loc[a, "mean"] == pytest.approx(m) and table.loc[a, "downside"] == pytest.approx(d)
            beaten = any(m2 >= m and d2 >= d and (m2 > m or d2 > d) for b, (m2, d2) in stats.items() if b != a)
            assert table.loc[a, "on_frontier"] == (not beaten)

    check()
    frame = pd.DataFrame({"alternative": ["x"] * 3 + ["y"] * 3, "replication": [0, 1, 2] * 2,
                          "objective": [1.0, 2, 3, 0, 1, 2]})
    fig = frontier_plot(Fake(frame), currency="USD")
    assert "USD" in fig.axes[0].get_xlabel() and "USD" in fig.axes[0].get_ylabel()
