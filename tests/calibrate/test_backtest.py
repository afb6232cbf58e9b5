"""Back-testing on known truth: CRM tables simulated from a scenario, back-tested with that scenario and a wrong one."""

import math

import numpy as np
import pandas as pd
import pytest
from paths import TEACHING
from scipy import stats

import sim
from sim.calibrate.backtest import Actual, BacktestError, backtest
from sim.calibrate.scores import coverage_verdict
from sim.present.crm import crm_export

SEEDS = range(24)
REPS = 50


@pytest.fixture(scope="module")
def scenario():
    return sim.load_scenario(TEACHING).replace(start_date="2025-01-01", horizon_months=9)


def _actual(scenario, seed):
    ex = crm_export(scenario, seed=1000 + seed)
    return Actual(ex.leads, ex.deals, ex.export_date)


@pytest.fixture(scope="module")
def truth(scenario):
    return [backtest(scenario, _actual(scenario, s), "2025-05-01", reps=REPS, seed=s, known_inputs=False)
            for s in SEEDS]


def test_true_scenario_covers_80_percent_within_binomial_error(truth):
    # Months of one seed share the run: test the per-seed coverage averages, not the pooled months.
    per_seed = np.array([bt.table["in80"].mean() for bt in truth])
    se = per_seed.std(ddof=1) / math.sqrt(len(per_seed))
    assert abs(per_seed.mean() - 0.8) < 3 * se + 0.02, (per_seed.mean(), se)  # 0.02: the quantiles of 60 reps
    per_seed50 = np.array([bt.table["in50"].mean() for bt in truth])
    assert abs(per_seed50.mean() - 0.5) < 3 * per_seed50.std(ddof=1) / math.sqrt(len(truth)) + 0.02


def test_true_scenario_pit_is_roughly_uniform(truth):
    pits = np.concatenate([bt.table["pit"].to_numpy() for bt in truth])
    # One PIT per seed and measure (the first held-out month) is independent across seeds.
    first = np.array([p for bt in truth for p in bt.table.groupby("measure")["pit"].first()])
    assert stats.kstest(first, "uniform").pvalue > 0.001
    assert 0.4 < pits.mean() < 0.6
    verdicts = [bt.coverage["all"]["80"].verdict for bt in truth]
    assert verdicts.count("consistent with calibration") >= 0.8 * len(truth)


def test_half_the_win_chance_is_flagged_too_narrow(scenario):
    wrong = scenario.replace({"opportunities.stages.0.advance": {"low": 0.1, "high": 0.4}})
    runs = [backtest(wrong, _actual(scenario, s), "2025-03-01", reps=REPS, seed=s) for s in range(6)]
    flagged = [bt.coverage["closes"]["80"] for bt in runs]
    # Seven months alone rarely reject (too narrow only at 2 covered or fewer); pooled over the seeds they do.
    pooled = coverage_verdict(sum(v.covered for v in flagged), sum(v.months for v in flagged), 0.8)
    assert pooled.verdict == "too narrow", str(pooled)
    assert sum(v.covered for v in flagged) / sum(v.months for v in flagged) < 0.6
    closes = np.concatenate([bt.table.query("measure == 'closes'")["pit"].to_numpy() for bt in runs])
    assert closes.mean() > 0.8  # the actual closes sit high in the too-pessimistic predictive


def test_backtest_table_summary_and_json(truth):
    bt = truth[0]
    assert list(bt.table.columns) == ["month_start", "measure", "actual", "mean", "q10", "q25", "q50", "q75", "q90",
                                      "pit", "in50", "in80", "crps"]
    assert len(bt.table) == 5 * 3  # May to September: the complete months of a 9-month export
    assert set(bt.summary()) >= {"coverage", "time_to_close", "mean_crps", "conversion", "pit_histogram"}
    assert '"verdict"' in bt.to_json() and "NaN" not in bt.to_json()
    assert bt.ttc["observed"] > 0 and 0 <= bt.ttc["ks"] <= 1


def test_known_inputs_feed_the_realised_leads(scenario):
    actual = _actual(scenario, 0)
    bt = backtest(scenario, actual, "2025-05-01", reps=30, seed=0)
    ads = bt.scenario.channels["ads"]
    assert ads.response is None and ads.leads is not None
    january = int((actual.leads["created_date"] < "2025-02-01").sum())
    assert bt.scenario.plan.expected_leads("ads")[0] == january if hasattr(bt.scenario.plan, "expected_leads") \
        else str(january) in str(ads.leads)


def test_bad_windows_name_the_parameter(scenario):
    actual = _actual(scenario, 0)
    for kwargs, parameter in [({"train_until": "not a date"}, "train_until"),
                              ({"train_until": "2026-03-01"}, "train_until"),
                              ({"train_until": "2025-05-01", "months": 12}, "months"),
                              ({"train_until": "2025-05-01", "reps": 1}, "reps")]:
        with pytest.raises(BacktestError) as info:
            backtest(scenario, actual, **kwargs)
        assert info.value.parameter == parameter
    with pytest.raises(BacktestError, match="start_date"):
        backtest(scenario.replace(start_date=None), actual, "2025-05-01")


def test_deals_alone_score_closes_and_revenue_as_with_the_leads_and_say_what_is_missing(scenario):
    ex = crm_export(scenario, seed=7)
    full = backtest(scenario, Actual(ex.leads, ex.deals, ex.export_date), "2025-05-01", reps=20, seed=1,
                    known_inputs=False)
    deals = backtest(scenario, Actual(None, ex.deals, ex.export_date), "2025-05-01", reps=20, seed=1)
    assert deals.measures == ("closes", "revenue") and set(deals.table["measure"]) == {"closes", "revenue"}
    assert deals.known_inputs is False and deals.conversion.empty and "leads" not in deals.mean_crps
    assert deals.warnings[0].startswith("no leads table: leads and conversion by channel not scored")
    # The same runs (the leads cannot be fed in) measured by the same rules: only the PIT's random draws differ.
    same = ["month_start", "measure", "actual", "mean", "q10", "q25", "q50", "q75", "q90", "crps"]
    pd.testing.assert_frame_equal(deals.table[same].reset_index(drop=True),
                                  full.table.query("measure != 'leads'")[same].reset_index(drop=True))
    assert deals.ttc == full.ttc
