"""Budget splits, objectives, risk measures and paired statistics, checked against independent computations."""

import math

import numpy as np
import pandas as pd
import pytest
from builders import make
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import REFERENCE, SMALL_FIRM
from scipy import stats

import sim
from sim.cli.options import value_list
from sim.decide.objectives import (
    Objective,
    ObjectiveError,
    conditional_value_at_risk,
    make_risk,
    mean,
    probability_of_target,
    value_at_risk,
)
from sim.decide.paired import (
    best_share_intervals,
    best_shares,
    bootstrap_rows,
    estimate,
    paired_difference,
    risk_samples,
    selection_probability,
    variance_reduction,
)
from sim.decide.split import (
    Split,
    SplitError,
    current_split,
    split_alternatives,
    vary,
    with_split,
)

# -- today's split ------------------------------------------------------------------------------------------------


def test_todays_split_of_a_plan_is_its_spend_plus_its_planned_team_for_the_horizon():
    sc = sim.load_scenario(REFERENCE)
    assert sc.budget is None
    split = current_split(sc)
    years = sc.horizon_months / 12
    spend = sum(sum(ch.spend) / len(ch.spend) * sc.horizon_months for ch in sc.channels.values())  # constant spend
    team = sum(r.cost_per_fte_year * years * (r.fte + sum(h.fte for h in r.hires)) for r in (sc.roles.sdr, sc.roles.ae))
    assert split.total == pytest.approx(spend + team, rel=1e-12)
    assert split.marketing_share == pytest.approx(spend / (spend + team), rel=1e-12)
    # In budget mode today's split buys the planned team (starting FTE plus hires) from day one.
    new = with_split(sc, split)
    account = new.plan.budget
    assert dict(account.fte) == {"sdr": 8 + 1, "ae": 8 + 1}
    assert new.plan.roles["sdr"].fte == 9 and new.plan.roles["sdr"].hires == ()
    assert account.unspent == pytest.approx(0, abs=1e-6)
    assert account.marketing + account.sales + account.unspent == pytest.approx(split.total, rel=1e-12)
    # ... and the channels' monthly spend as written.
    for name, ch in sc.channels.items():
        assert new.plan.monthly_spend(name) == pytest.approx([ch.spend[0]] * sc.horizon_months, rel=1e-12)


def test_todays_split_of_a_budget_scenario_is_its_budget_block():
    sc = sim.load_scenario(SMALL_FIRM)
    split = current_split(sc)
    assert (split.total, split.marketing_share) == (sc.budget.total, sc.budget.marketing_share)
    assert split.channel_mix == sc.budget.channel_mix and split.role_mix == sc.budget.role_mix


def test_a_scenario_that_spends_nothing_has_no_split():
    sc = make(channels__search__spend=0, roles={"ae": {"fte": 1}})
    with pytest.raises(SplitError, match="spends nothing") as info:
        current_split(sc)
    assert info.value.parameter == "split"


def test_vary_sets_one_share_and_keeps_the_others_in_proportion():
    base = Split(100.0, 0.4, {"a": 1.0, "b": 2.0, "c": 1.0}, {"sdr": 1.0, "ae": 3.0})
    s = vary(base, "channel_share.b", 0.2)
    shares = s.shares()
    assert shares["channel_share.b"] == pytest.approx(0.2)
    assert shares["channel_share.a"] == pytest.approx(0.4) and shares["channel_share.c"] == pytest.approx(0.4)
    r = vary(base, "role_share.sdr", 0.5).shares()
    assert r["role_share.sdr"] == pytest.approx(0.5) and r["role_share.ae"] == pytest.approx(0.5)
    assert vary(base, "marketing_share", 0.7).marketing_share == 0.7
    for setting, value, message in (("channel_share.d", 0.5, "no channel 'd'"),
                                    ("marketing_share", 1.5, "between 0 and 1"),
                                    ("marketing_share", -0.1, "between 0 and 1"),
                                    ("headcount", 0.5, "unknown split setting")):
        with pytest.raises(SplitError, match=message) as info:
            vary(base, setting, value)
        assert info.value.parameter == setting


@given(st.lists(st.floats(0.01, 10), min_size=2, max_size=5), st.floats(0, 1))
def test_vary_gives_shares_that_sum_to_one(weights, value):
    mix = {f"c{i}": w for i, w in enumerate(weights)}
    shares = vary(Split(1.0, 0.5, mix, {"ae": 1.0}), "channel_share.c0", value).shares()
    assert sum(v for k, v in shares.items() if k.startswith("channel_share.")) == pytest.approx(1.0)
    assert shares["channel_share.c0"] == pytest.approx(value)


def test_with_split_refuses_what_the_scenario_cannot_buy():
    sc = make()
    cases = ((Split(100.0, 0.5, {"tv": 1.0}, {"sdr": 1.0, "ae": 1.0}), ["budget.channel_mix.tv: no such channel"]),
             (Split(100.0, 0.5, {"search": 1.0}, {"sdr": 1.0, "ae": 1.0, "customer_success": 1.0}),
              ["budget.role_mix.customer_success: no such role"]),
             # sdr has a cost and FTE but no weight: the split would pay it outside the budget
             (Split(100.0, 0.5, {"tv": 1.0}, {"ae": 1.0}), ["budget.channel_mix.tv: no such channel",
                                                            "roles.sdr.fte: the budget's split sets every paid role"]))
    for split, messages in cases:
        with pytest.raises(SplitError) as info:
            with_split(sc, split)
        assert info.value.parameter == "split"
        assert all(m in str(info.value) for m in messages), str(info.value)


def test_grid_values_read_lists_and_inclusive_ranges():
    # The command line reads a grid (sim.cli.options.value_list); vary checks each value's range.
    def values(text):
        problems = []
        out = value_list(text, "--marketing-share", problems)
        assert problems == []
        return out

    assert values("0.3,0.5,0.7") == [0.3, 0.5, 0.7]
    assert values("0:1:0.25") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert values("0.1:0.3:0.1") == [0.1, 0.2, 0.3]  # the float steps land on the stop
    assert len(values("0:1:0.05")) == 21
    assert values("0.5,0.5") == [0.5]
    for bad, message in (("a,b", "expected values"), ("0:1:0", "step > 0"), ("1:0:0.1", "stop >= start"),
                         ("0:1", "expected values")):
        problems = []
        assert value_list(bad, "--marketing-share", problems) == []
        assert len(problems) == 1 and problems[0].startswith("--marketing-share: ") and message in problems[0]
    with pytest.raises(SplitError, match="between 0 and 1"):
        split_alternatives(Split(1.0, 0.5, {"a": 1.0}, {"ae": 1.0}), {"marketing_share": values("1.5")})


def test_split_alternatives_are_the_product_of_the_settings():
    base = Split(100.0, 0.4, {"a": 1.0, "b": 1.0}, {"ae": 1.0})
    alts = split_alternatives(base, {"marketing_share": [0.2, 0.4, 0.6], "channel_share.a": [0.3, 0.7]})
    assert len(alts) == 6
    assert [s["marketing_share"] for s, _ in alts] == [0.2, 0.2, 0.4, 0.4, 0.6, 0.6]
    for chosen, split in alts:
        assert split.marketing_share == chosen["marketing_share"]
        assert split.shares()["channel_share.a"] == pytest.approx(chosen["channel_share.a"])


def test_split_alternatives_report_every_bad_value_at_once():
    base = Split(100.0, 0.4, {"a": 1.0, "b": 1.0}, {"ae": 1.0})
    with pytest.raises(SplitError) as info:
        split_alternatives(base, {"marketing_share": [1.5, 0.3, -1], "channel_share.z": [0.5]})
    problems = info.value.problems
    assert [p for p, _ in problems] == ["marketing_share", "marketing_share", "channel_share.z"]
    assert "1.5" in problems[0][1] and "-1" in problems[1][1] and "no channel 'z'" in problems[2][1]
    assert len(info.value.lines()) == 3 and "--" not in str(info.value)


# -- objectives ---------------------------------------------------------------------------------------------------


def _frame():
    return pd.DataFrame({"contribution": [10.0, 20.0], "revenue": [100.0, 200.0], "bookings": [50.0, 60.0],
                         "wins": [3.0, 4.0], "ending_arr": [1000.0, 1100.0], "npv_contribution": [9.0, 18.0],
                         "open_pipeline_weighted_value": [40.0, 80.0], "open_pipeline_expected_wins": [0.5, 1.5]})


def test_objectives_read_their_measure_and_add_the_pipeline_in_their_own_terms():
    sc = make(gross_margin=0.6, discount_rate_year=0.1, horizon_months=24,
              opportunities__deal={"kind": "subscription", "value": 100})
    f = _frame()
    assert list(Objective("revenue").values(f, sc)) == [100.0, 200.0]
    assert list(Objective("new_customers").values(f, sc)) == [3.0, 4.0]
    assert list(Objective("revenue", True).values(f, sc)) == [140.0, 280.0]
    assert list(Objective("bookings", True).values(f, sc)) == [90.0, 140.0]
    assert list(Objective("ending_arr", True).values(f, sc)) == [1040.0, 1180.0]
    assert list(Objective("new_customers", True).values(f, sc)) == [3.5, 5.5]
    assert Objective("contribution", True).values(f, sc) == pytest.approx([10 + 0.6 * 40, 20 + 0.6 * 80])
    assert Objective("npv", True).values(f, sc) == pytest.approx([9 + 0.6 * 40 / 1.1 ** 2, 18 + 0.6 * 80 / 1.1 ** 2])
    one_off = make(opportunities__deal={"kind": "one_off", "value": 100})
    assert list(Objective("ending_arr", True).values(f, one_off)) == [1000.0, 1100.0]
    with pytest.raises(ObjectiveError, match="expected one of contribution") as info:
        Objective("profit")
    assert info.value.parameter == "objective"


# -- risk measures ------------------------------------------------------------------------------------------------


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60), st.floats(0.01, 0.99))
@settings(max_examples=60)
def test_risk_measures_against_their_definitions(values, tail):
    x = np.array(values)
    n = len(x)
    assert mean()(x) == pytest.approx(x.mean(), rel=1e-9, abs=1e-6)
    # VaR: the smallest value v with at least a `tail` share of outcomes at or below it.
    srt = np.sort(x)
    var = srt[max(0, math.ceil(tail * n) - 1)]
    assert value_at_risk(tail)(x) == var
    assert value_at_risk(tail).tail == tail and conditional_value_at_risk(tail).tail == tail
    # CVaR: the mean of the worst ceil(tail * n) outcomes; never above the mean, never below the minimum.
    k = max(1, math.ceil(tail * n))
    cvar = conditional_value_at_risk(tail)(x)
    assert cvar == pytest.approx(srt[:k].mean(), rel=1e-9, abs=1e-6)
    assert srt[0] - 1e-6 <= cvar <= x.mean() + 1e-6 * max(1, abs(x.mean()))
    t = float(np.median(x))
    assert probability_of_target(t)(x) == np.mean(x >= t)


def test_risk_measures_reduce_the_last_axis_of_a_stack():
    rng = np.random.default_rng(1)
    stack = rng.normal(size=(7, 30))
    for risk in (mean(), value_at_risk(0.1), conditional_value_at_risk(0.2), probability_of_target(0.0)):
        assert np.allclose(risk(stack), [risk(row) for row in stack])


def test_make_risk_checks_what_each_measure_needs():
    assert make_risk("cvar", tail=0.1).label == "CVaR 10%"
    assert make_risk("var", tail=0.25) == value_at_risk(0.25)
    assert make_risk("mean") == mean() and make_risk() == mean()
    assert make_risk("probability", target=1.17e7).label == "P(>= 11,700,000)"
    assert make_risk("probability", target=0.5).label == "P(>= 0.5)"
    for kwargs, parameters in (({"name": "var"}, ["tail"]), ({"name": "cvar"}, ["tail"]),
                               ({"name": "probability"}, ["target"]),
                               ({"name": "cvar", "tail": 1.5}, ["tail"]), ({"name": "max"}, ["risk"]),
                               ({"name": "mean", "tail": 0.1}, ["tail"]), ({"name": "mean", "target": 3.0}, ["target"]),
                               # every problem at once
                               ({"name": "mean", "tail": 0.1, "target": 3.0}, ["tail", "target"]),
                               ({"name": "var", "target": 3.0}, ["tail", "target"]),
                               ({"name": "probability", "tail": 0.1}, ["target", "tail"])):
        with pytest.raises(ObjectiveError) as info:
            make_risk(**kwargs)
        assert [p for p, _ in info.value.problems] == parameters, kwargs
        assert len(info.value.lines()) == len(parameters) and "--" not in str(info.value)


# -- paired statistics --------------------------------------------------------------------------------------------


def test_paired_mean_difference_is_the_t_interval_of_the_differences():
    rng = np.random.default_rng(3)
    common = rng.normal(100, 20, size=40)
    a, b = common + rng.normal(2, 1, size=40), common + rng.normal(0, 1, size=40)
    d, low, high = paired_difference(a, b, mean(), 0.9, bootstrap_rows(40, 0))
    lo, hi = stats.t.interval(0.9, 39, loc=(a - b).mean(), scale=stats.sem(a - b))
    assert d == pytest.approx((a - b).mean()) and (low, high) == pytest.approx((lo, hi))
    assert variance_reduction(a, b) == pytest.approx((a.var(ddof=1) + b.var(ddof=1)) / (a - b).var(ddof=1))
    assert variance_reduction(a, b) > 50  # most of the noise is shared


def test_an_alternative_against_itself_differs_by_exactly_zero():
    x = np.random.default_rng(4).normal(size=25)
    rows = bootstrap_rows(25, 1)
    for risk in (mean(), value_at_risk(0.1), conditional_value_at_risk(0.1), probability_of_target(0.0)):
        assert paired_difference(x, x.copy(), risk, 0.95, rows) == (0.0, 0.0, 0.0)
    assert variance_reduction(x, x) == math.inf


def test_bootstrap_interval_covers_a_known_quantile_difference():
    # a - b is exactly 5 in every replication, so any quantile of a is 5 above b's.
    b = np.random.default_rng(5).normal(size=50)
    d, low, high = paired_difference(b + 5, b, value_at_risk(0.2), 0.95, bootstrap_rows(50, 2))
    assert d == pytest.approx(5) and low == pytest.approx(5) and high == pytest.approx(5)
    est, lo, hi = estimate(b, value_at_risk(0.5), 0.95, bootstrap_rows(50, 2))
    assert lo <= est <= hi and est == value_at_risk(0.5)(b)


def test_best_shares_count_the_replications_each_alternative_wins_ties_shared():
    values = np.array([[1.0, 2.0, 0.0], [3.0, 3.0, 1.0], [0.0, 1.0, 5.0], [2.0, 1.0, 1.0]])
    assert list(best_shares(values)) == [(0 + 0.5 + 0 + 1) / 4, (1 + 0.5 + 0 + 0) / 4, 1 / 4]
    low, high = best_share_intervals(values, 0.95, bootstrap_rows(4, 0))
    assert np.all(low <= best_shares(values) + 1e-12) and np.all(best_shares(values) <= high + 1e-12)


def test_best_shares_under_a_probability_count_reaching_the_target_not_the_raw_values():
    # Three alternatives that all reach the target in every replication are tied in every one,
    # whatever their raw values: P(best) is a third each, not the raw winner's.
    values = np.array([[10.0, 12.0, 11.0], [13.0, 11.0, 12.0], [14.0, 12.5, 12.0], [11.0, 12.0, 15.0]])
    assert list(best_shares(values, probability_of_target(5.0))) == pytest.approx([1 / 3] * 3)
    # With a target only some reach, it is the share of replications each is among those reaching it.
    shares = best_shares(values, probability_of_target(12.0))
    reach = values >= 12.0
    by_hand = np.mean([row / row.sum() if row.any() else np.full(3, 1 / 3) for row in reach], axis=0)
    assert shares == pytest.approx(by_hand)


def test_best_shares_under_cvar_compare_the_alternatives_tail_samples_rank_by_rank():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(40, 3)) + np.array([0.0, 0.3, -0.2])
    risk = conditional_value_at_risk(0.25)
    tails = np.sort(values, axis=0)[:10]  # each alternative's 10 worst replications, in order
    assert risk_samples(values, risk) == pytest.approx(tails)
    by_hand = np.mean([row == row.max() for row in tails], axis=0)
    assert best_shares(values, risk) == pytest.approx(by_hand)
    # The tail samples' mean is the CVaR itself.
    assert tails.mean(axis=0) == pytest.approx(risk(values.T))


def test_selection_probability_is_the_share_of_resamples_each_is_best():
    rng = np.random.default_rng(7)
    common = rng.normal(size=(200, 1))
    values = common + np.array([0.0, 0.5, 0.49]) + rng.normal(0, 0.01, size=(200, 3))
    rows = bootstrap_rows(200, 3)
    p = selection_probability(values, mean(), rows)
    manual = np.bincount(np.argmax(values[rows].mean(axis=1), axis=1), minlength=3) / len(rows)
    assert p == pytest.approx(manual)
    assert p[0] == 0 and p[1] > 0.9 and p.sum() == pytest.approx(1)


# -- a channel whose leads are given (leads:): its spend is only a cost, and nothing here may move it ---------


def _given_leads(spend):
    return make(channels={"search": {"spend": 10000, "response": {"curve": "hill", "max_leads": 400,
                                                                   "half_spend": 10000}},
                          "events": {"leads": [50, 80], "spend": spend}})


def test_splits_the_optimiser_and_plans_over_time_refuse_a_given_leads_channel_that_spends_one_line():
    from sim.decide.search_space import search_space
    from sim.decide.split import SplitError, current_split
    from sim.decide.timing import plan_space

    sc = _given_leads(spend=2000)
    for attempt in (lambda: current_split(sc), lambda: search_space(sc), lambda: plan_space(sc, budget=1e7),
                    lambda: sim.sweep(sc, {"marketing_share": [0.3, 0.5]}, reps=2)):
        with pytest.raises(SplitError) as info:
            attempt()
        assert len(info.value.problems) == 1
        assert info.value.problems[0][0] == "split" and "channels.events" in info.value.problems[0][1]


def test_a_given_leads_channel_without_spend_is_left_out_of_the_split_and_kept_as_written():
    from sim.decide.search_space import search_space
    from sim.decide.split import current_split, with_split

    sc = _given_leads(spend=0)
    today = current_split(sc)
    assert set(today.channel_mix) == {"search"}
    assert search_space(sc).free_channels == ["search"]
    split = with_split(sc, today)
    assert split.channels["events"].leads == [50.0, 80.0]
    assert split.plan.monthly_spend("events").sum() == 0.0
