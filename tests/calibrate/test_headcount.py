"""The headcount table as a known input: calibrate writes it as fte_by_month, a back-test feeds the realised one."""

import math

import numpy as np
import pandas as pd
import pytest
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.backtest import Actual, backtest, known_headcount
from sim.calibrate.mapping import load_mapping
from sim.present.crm import crm_export
from sim.scenario.units import DAYS_PER_MONTH

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
SEEDS = 12
REPS = 30


def _hiring(**roles):
    """A funnel whose AEs are its bottleneck (5 deal slots each, 20 SQLs a month), with a team of ``roles``."""
    return sim.parse_scenario({
        "name": "hiring", "horizon_months": 10, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 40.0}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": 0.5, "work_hours": 0.1},
        "opportunities": {"stages": [{"name": "close", "advance": 0.4,
                                      "duration_days": {"dist": "exponential", "mean": 20}}],
                          "deal": {"value": 1000}},
        "roles": {"ae": {"max_open_opportunities": 5, **roles}},
    })


# -- calibrate -----------------------------------------------------------------------------------


def test_calibrating_an_export_with_hires_writes_the_true_headcount_by_month():
    # Two AEs; one more decided at the start of months 3 and 5, each in post a quarter of a month later.
    truth = _hiring(fte=2, hires=[{"month": 3}, {"month": 5}], hiring_lead_days=DAYS_PER_MONTH / 4)
    by_hand = [2, 2, 2, 2.75, 3, 3.75, 4, 4]  # FTE-months of the training months, January to August, by hand
    found = sim.calibrate(crm_export(truth, seed=3).tables(), MAPPING, train_until="2025-09-01")
    ae = found.scenario.roles.ae
    assert ae.fte_by_month == [math.floor(x + 0.5) for x in by_hand] and ae.fte == 2
    text = found.scenario_text
    assert "fte_by_month: the headcount table's FTE by month, 2025-01 to 2025-08" in text
    assert "rounded to whole FTE in 2025-04 (2.75 -> 3), 2025-06 (3.75 -> 4)" in text
    # The forecast year repeats the last training month: the plan the scenario runs.
    assert found.scenario.plan.roles["ae"].fte_by_month[-1] == 4
    assert len(found.scenario.plan.roles["ae"].fte_by_month) == found.scenario.horizon_months


def test_months_the_table_lacks_take_the_month_before_and_the_comment_says_so():
    from sim.calibrate.writer import _roles_lines

    # The table starts in March and skips May; the training months are January to June.
    team = {"ae": [("2025-03", 2.0), ("2025-04", 3.0), ("2025-06", 1.0)]}
    found = {"start": pd.Timestamp("2025-01-01"), "months": 6, "team": team, "reps": {"ae": 1.0}}
    text = "".join(_roles_lines(found))
    assert "fte_by_month: [2, 2, 2, 3, 3, 1]" in text and "fte: 2" in text
    assert "no ae rows for 2025-01, 2025-02, 2025-05: each takes the month before it" in text
    assert "fractional" not in text


# -- the back-test ---------------------------------------------------------------------------------


def _closes_error(bt) -> tuple[float, float]:
    closes = bt.table.query("measure == 'closes'")
    return float((closes["actual"] - closes["mean"]).mean()), float(closes["crps"].mean())


@pytest.fixture(scope="module")
def fed_and_blind():
    """Back-tests of a company that went from 1 to 4 AEs in its first held-out month (July), from a plan of 1 AE.

    Fed: the realised headcount is fed in; blind: the same data without its headcount table.
    """
    truth = _hiring(fte=1, hires=[{"month": 6, "fte": 3}], hiring_lead_days=0.0)
    planned = truth.replace({"roles.ae.hires": []})  # what a calibration at the cut knows: one AE
    out = {"fed": [], "blind": []}
    for s in range(SEEDS):
        ex = crm_export(truth, seed=100 + s)
        out["fed"].append(backtest(planned, Actual(ex.leads, ex.deals, ex.export_date, headcount=ex.headcount),
                                   "2025-07-01", reps=REPS, seed=s))
        out["blind"].append(backtest(planned, Actual(ex.leads, ex.deals, ex.export_date), "2025-07-01", reps=REPS,
                                     seed=s))
    return out


def test_fed_headcount_is_the_realised_one_and_is_not_warned_about(fed_and_blind):
    bt = fed_and_blind["fed"][0]
    assert bt.scenario.roles.ae.fte_by_month == [1] * 6 + [4] * 4
    assert bt.scenario.roles.ae.hires == [] and bt.scenario.roles.ae.attrition_year == 0
    assert bt.warnings == [] and fed_and_blind["blind"][0].scenario.roles.ae.fte_by_month is None


def test_with_the_realised_headcount_the_predicted_closes_follow_the_hires(fed_and_blind):
    fed = np.array([_closes_error(bt) for bt in fed_and_blind["fed"]])
    blind = np.array([_closes_error(bt) for bt in fed_and_blind["blind"]])
    # Seeds are independent: a t bound on the mean error over them (each seed's includes its reps' Monte Carlo error).
    t = stats.t.ppf(0.9995, SEEDS - 1)
    se = lambda x: x.std(ddof=1) / math.sqrt(len(x))  # noqa: E731
    assert abs(fed[:, 0].mean()) < t * se(fed[:, 0]), fed[:, 0]  # fed: unbiased
    assert blind[:, 0].mean() > t * se(blind[:, 0]), blind[:, 0]  # blind: too few closes, by more than chance
    better = blind[:, 1] - fed[:, 1]  # the CRPS of closes, paired by seed
    assert better.mean() > t * se(better), better


def test_months_the_table_does_not_cover_repeat_the_last_known_and_are_warned_about():
    scenario = _hiring(fte=2)
    head = pd.DataFrame({"month_start": pd.to_datetime(["2025-02-01", "2025-03-01", "2025-03-01", "2025-05-01"]),
                         "role": ["ae", "ae", "ae", "ae"], "fte": [2.0, 1.5, 1.5, 4.4]})
    changes, warnings = known_headcount(scenario, Actual(None, pd.DataFrame(), headcount=head), 7)
    # January before the table: its first month; April: March's; June and July: May's (4.4 -> 4).
    assert changes["roles.ae.fte_by_month"] == [2, 2, 3, 3, 4, 4, 4, 4] and changes["roles.ae.fte"] == 2
    assert warnings == [
        "the headcount table has no ae rows for 2025-01, 2025-04, 2025-06 to 2025-08: each such month takes the "
        "nearest earlier month it has (2025-02 for months before it)",
        "the headcount table's ae FTE-months are fractional in 1 months (a rep joined or left mid-month): fed in "
        "rounded to whole FTE (the first: 2025-05, 4.4 -> 4)"]


def test_a_role_the_scenario_lacks_is_not_fed_and_a_split_that_sets_the_team_is_one_line():
    head = pd.DataFrame({"month_start": pd.to_datetime(["2025-01-01"] * 2), "role": ["ae", "sdr"], "fte": [2.0, 3.0]})
    actual = Actual(pd.DataFrame({"lead_id": [], "created_date": pd.to_datetime([]), "channel": []}),
                    pd.DataFrame(), headcount=head)
    changes, warnings = known_headcount(_hiring(fte=1), actual, 0)
    assert set(changes) == {f"roles.ae.{k}" for k in ("fte_by_month", "fte", "hires", "attrition_year")}
    assert warnings == ["the headcount table's role 'sdr' is not fed in: the scenario has no such role"]
    from sim.calibrate.backtest import BacktestError, known_input_scenario

    split = _hiring(fte=1, cost_per_fte_year=100000).replace(
        {"budget": {"total": 1e6, "marketing_share": 0.0, "role_mix": {"ae": 1}}})
    with pytest.raises(BacktestError) as info:
        known_input_scenario(split, actual, 0)
    assert str(info.value).count("\n") == 0 and "the realised headcount cannot be fed in" in str(info.value)
