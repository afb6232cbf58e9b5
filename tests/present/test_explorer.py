"""The student explorer: a slider move is a scenario change run with the same seed, and the lessons' claims hold.

The lessons of ``notebooks/explore_funnel.ipynb`` say what a student will see; each claim
is checked here on the notebook's own settings (20 replications, seed 1) as a paired
difference whose 95% interval must exclude zero, or as an identity of common random
numbers.
"""

import math
import re

import numpy as np
import pytest
from paths import SCENARIOS
from scipy import stats

import sim
from sim.present.explorer import CAMPAIGN_MONTHS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scenario():
    return sim.load_scenario(SCENARIOS / "student_explorer.yaml")


@pytest.fixture(scope="module")
def explorer(scenario):
    return sim.Explorer(scenario, reps=20, seed=1)


def _at(explorer, **values):
    """The explorer moved to the start's settings but ``values`` (whatever an earlier test left)."""
    return explorer.set(**{**explorer._start_values, **values})


def _paired(a, b, measure):
    """The mean of b - a over replications and its 95% t interval, computed here."""
    d = b.replications[measure].to_numpy(float) - a.replications[measure].to_numpy(float)
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def test_a_slider_move_runs_that_scenario_with_the_same_seed(explorer, scenario):
    explorer.reset()
    explorer.widgets["sdrs"].value = 2
    assert explorer.values["sdrs"] == 2 and explorer.scenario.plan.roles["sdr"].fte == 2
    direct = sim.run_many(scenario.replace({"roles.sdr.fte": 2}), reps=20, seed=1)
    assert explorer.now_run.replications.equals(direct.replications)
    # Common random numbers: the leads are the same leads.
    assert explorer.now_run.replications["leads"].equals(explorer.start_run.replications["leads"])
    table = explorer.measures()
    for key in ("wins", "wins_lost.total", "sla_share"):
        assert tuple(table.loc[key, ["change", "ci_low", "ci_high"]]) == pytest.approx(
            _paired(explorer.start_run, explorer.now_run, key))
    assert bytes(explorer._widgets["image"].value).startswith(PNG)
    html = explorer.table_html()
    assert "wins lost to waiting" in html and "e+" not in html
    shown = explorer.table(["wins", "contribution", "sla_share"])
    change, low, high = _paired(explorer.start_run, explorer.now_run, "wins")
    texts = re.findall(r"[-+][\d,]+(?:\.\d+)?", shown.iloc[0, 3])
    for text, value in zip(texts, (change, low, high), strict=True):  # each as shown, to its last digit
        assert float(text.replace(",", "")) == pytest.approx(value, abs=0.5 * 10 ** -len(text.partition(".")[2]))
    assert shown.loc["contribution", "measure"] == f"contribution ({explorer.start.currency})"
    assert shown.loc["sla_share", "now"].endswith("%")
    with pytest.raises(sim.PresentError, match="measures"):
        explorer.table(["no_such_measure"])
    # set() moves the widget too, and reset() brings every control back.
    explorer.set(discipline="lifo")
    assert explorer.widgets["discipline"].value == "lifo"
    explorer.reset()
    assert explorer.widgets["sdrs"].value == 3 and explorer.scenario == scenario
    assert explorer.now_run is explorer.start_run  # back to the start: the kept run, not a new one
    explorer._widgets = None  # the other tests move it by code, without drawing


def test_wrong_controls_and_values_are_refused_by_name(explorer):
    with pytest.raises(sim.PresentError, match="sdr_count"):
        explorer.set(sdr_count=2)
    with pytest.raises(sim.PresentError, match="carryover"):
        explorer.set(carryover=1.0)
    with pytest.raises(sim.PresentError, match="reps"):
        sim.Explorer(explorer.start, reps=1)


def test_lesson_1_losing_sdrs_costs_more_than_its_share(explorer):
    ex = explorer
    start = ex.start_run
    _at(ex, sdrs=2)
    change, _, high = _paired(start, ex.now_run, "wins")
    assert high < 0 and -change / start.replications["wins"].mean() < 1 / 3  # fewer than a third
    assert _paired(start, ex.now_run, "wins_lost.total")[1] > 0
    assert ex.now_run.replications["losses.cold_leads"].sum() == 0  # nobody lost cold, yet fewer wins
    ex.set(sdrs=1)
    change, _, high = _paired(start, ex.now_run, "wins")
    assert high < 0 and -change / start.replications["wins"].mean() > 2 / 3  # a collapse, not a third


def test_lesson_2_leads_come_after_the_spend_and_wins_after_the_leads(explorer, scenario):
    ex = explorer
    _at(ex, campaign=12000)
    extra = (ex.now_run.monthly.groupby("month")[["leads", "wins"]].mean()
             - ex.start_run.monthly.groupby("month")[["leads", "wins"]].mean())
    lag = scenario.channels["ads"].lag_months
    first = CAMPAIGN_MONTHS[0] + lag
    assert (extra["leads"].iloc[:first] == 0).all() and (extra["leads"].iloc[first:] > 0).all()
    months = extra.index.to_numpy(float)
    centre = {c: (months * extra[c]).sum() / extra[c].sum() for c in ("leads", "wins")}
    assert centre["wins"] > centre["leads"] + 0.5, centre
    assert _paired(ex.start_run, ex.now_run, "wins")[1] > 0
    ex.set(carryover=0.0)
    extra = (ex.now_run.monthly.groupby("month")["leads"].mean()
             - ex.start_run.monthly.groupby("month")["leads"].mean())
    assert (extra.iloc[CAMPAIGN_MONTHS[-1] + lag + 1:].abs() < 0.5).all()  # no tail without carryover


def test_lesson_3_the_best_threshold_depends_on_sales_capacity(explorer):
    ex = explorer
    start = ex.start_run
    _at(ex, threshold=0.6)
    assert _paired(start, ex.now_run, "wins")[2] < 0
    assert _paired(start, ex.now_run, "mql_to_sql")[1] > 0
    ex.set(sdrs=1, threshold=0.3)
    one_low = ex.now_run
    ex.set(threshold=0.6)
    assert _paired(one_low, ex.now_run, "wins")[1] > 0  # a short team wins more with the higher threshold


def test_lesson_4_the_order_of_the_queue_and_the_decay(explorer):
    ex = explorer
    _at(ex, sdrs=2)
    fifo = ex.now_run
    ex.set(discipline="lifo")
    assert _paired(fifo, ex.now_run, "wins")[1] > 0
    ex.set(discipline="sla", sla_hours=1)
    assert _paired(fifo, ex.now_run, "wins")[1] > 0
    assert np.all(ex.now_run.replications["response_time_median_hours"]
                  < fifo.replications["response_time_median_hours"])
    ex.set(discipline="fifo", sla_hours=4, half_life_hours=1)
    assert _paired(fifo, ex.now_run, "wins")[2] < 0
    ex.set(half_life_hours=48)
    assert _paired(fifo, ex.now_run, "wins_lost.total")[2] < 0


def test_with_activity_scoring_the_threshold_is_in_points():
    # Lowering mql_points keeps every lead's draws: each lead that reached 100 points reaches 60
    # no later, so no replication has fewer MQLs.
    ex = sim.Explorer(sim.load_scenario(SCENARIOS / "teaching_scoring.yaml"), reps=2, seed=3)
    assert ex.controls["threshold"].label == "MQL points" and ex.values["threshold"] == 100
    ex.set(threshold=60)
    assert ex.scenario.scoring.mql_points == 60
    now, start = ex.now_run.replications["mqls"], ex.start_run.replications["mqls"]
    assert (now >= start).all() and now.sum() > start.sum()
