"""The optimiser: a closed-form optimum, capacity that binds, the inverse question, and its limits."""

import math

import numpy as np
import pandas as pd
import pytest
from builders import make
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.decide.objectives import Objective, conditional_value_at_risk
from sim.decide.optimize import OptimizeError, optimize, smallest_budget
from sim.decide.search_space import Candidate, search_space
from sim.decide.split import current_split, split_for_headcount
from sim.scenario.plan import apply_budget

HORIZON = 6
VALUE, WIN = 1000.0, 0.5  # every lead is an MQL, qualifies, and wins with probability WIN


def closed_form(budget_month=4000.0, channels=None, ae_cost=0.0):
    """No capacity limit, no delays, concave (exponential) response: the best mix is known in closed form."""
    channels = channels or {"a": (120, 3000), "b": (60, 1000)}
    return sim.parse_scenario({
        "name": "closed_form", "horizon_months": HORIZON, "gross_margin": 1.0,
        "channels": {name: {"spend": 1000, "intent": {"a": 2, "b": 2},
                            "response": {"curve": "exponential", "max_leads": m, "spend_scale": s}}
                     for name, (m, s) in channels.items()},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"work_hours": 0.01, "p_qualify": 1.0},
        "opportunities": {"stages": [{"name": "close", "duration_days": 0, "advance": WIN}],
                          "deal": {"kind": "one_off", "value": VALUE}},
        "roles": {"ae": {"fte": 3, "hours_per_day": 24, "max_open_opportunities": 100000,
                         "cost_per_fte_year": ae_cost}},
        "budget": {"total": budget_month * HORIZON, "marketing_share": 1.0,
                   "channel_mix": dict.fromkeys(channels, 1.0)},
    })


def best_share_a(budget_month, a=(120, 3000), b=(60, 1000)):
    """Where the marginal leads per dollar of the two channels are equal (a Lagrange condition)."""
    (ma, sa), (mb, sb) = a, b
    # (ma/sa) exp(-x/sa) = (mb/sb) exp(-(S - x)/sb)  =>  x = (S/sb - ln((mb/sb)/(ma/sa))) / (1/sa + 1/sb)
    x = (budget_month / sb - math.log((mb / sb) / (ma / sa))) / (1 / sa + 1 / sb)
    return x / budget_month


def test_the_optimiser_finds_the_closed_form_channel_mix_within_its_tolerance():
    sc = closed_form()
    allocation, d = optimize(sc, seed=1)
    truth = best_share_a(4000.0)
    assert 0.55 < truth < 0.8  # an interior optimum, away from today's 50:50
    tol = d.tolerance["channel_share.a"]
    assert abs(allocation["channel_share.a"] - truth) <= tol
    assert tol <= 0.1  # narrow enough to act on
    # Today's 50:50 split is worse, and the difference is resolved.
    assert d.vs_today[1] > 0
    # The whole budget is spent on the two channels.
    assert allocation["spend_month.a"] + allocation["spend_month.b"] == pytest.approx(4000.0)
    # Each split's replications run once, however many races it is in.
    assert d.replications_used >= d.history.groupby("alternative")["replications"].max().sum()


def test_the_objective_the_optimiser_reports_matches_the_closed_form_expectation():
    sc = closed_form()
    allocation, d = optimize(sc, seed=2)
    s_a, s_b = allocation["spend_month.a"], allocation["spend_month.b"]
    leads = 120 * (1 - math.exp(-s_a / 3000)) + 60 * (1 - math.exp(-s_b / 1000))
    expected = HORIZON * (WIN * VALUE * leads - (s_a + s_b))
    assert d.ci_low <= expected <= d.ci_high


def capacity_bound():
    # One SDR who can call ~60 leads a month, leads that go cold within a day, and a
    # budget that puts 60% into spend that buys ~1,400 leads a month.
    return make(horizon_months=4,
                channels={"search": {"spend": 1, "intent": {"a": 3, "b": 3},
                                     "response": {"curve": "hill", "max_leads": 2000, "half_spend": 20000}}},
                qualification={"work_hours": 2.0, "p_qualify": 0.6, "decay": {"half_life_hours": 2},
                               "max_wait_days": 1},
                roles={"sdr": {"fte": 1, "cost_per_fte_year": 60000, "hours_per_day": 4},
                       "ae": {"fte": 2, "cost_per_fte_year": 120000, "max_open_opportunities": 50}},
                budget={"total": 300000, "marketing_share": 0.6, "channel_mix": {"search": 1},
                        "role_mix": {"sdr": 1, "ae": 5}})


def test_where_capacity_binds_the_optimiser_moves_budget_to_headcount():
    sc = capacity_bound()
    _, today = apply_budget(sc)
    allocation, d = optimize(sc, seed=3)
    assert allocation["fte.sdr"] > today["budget_fte_sdr"]
    assert allocation["marketing_share"] < sc.budget.marketing_share
    assert d.vs_today[1] > 0  # better than today, with the whole CI above zero
    cold = d.comparison.measures.set_index(["alternative", "measure"])["mean"]
    assert cold[allocation["label"], "losses.cold_waiting"] < cold["today", "losses.cold_waiting"]


def test_bounds_fixed_parts_and_headcount_limits_are_kept():
    sc = sim.load_scenario("scenarios/small_services_firm.yaml")
    allocation, d = optimize(sc, seed=1, bounds={"marketing_share": (0.3, 0.5)}, min_fte={"ae": 2},
                             max_fte={"ae": 2}, max_replications=150, max_reps=20)
    assert 0.3 <= allocation["marketing_share"] <= 0.5 and allocation["fte.ae"] == 2
    searched = d.history
    assert searched["marketing_share"].between(0.3 - 1e-12, 0.5 + 1e-12).all() and (searched["fte.ae"] == 2).all()
    years = sc.horizon_months / 12
    spent = allocation["fte.ae"] * sc.roles.ae.cost_per_fte_year * years + allocation["marketing_share"] * 250000
    assert spent == pytest.approx(250000)
    fixed, _ = optimize(sc, seed=1, fixed=["ae", "google_ads"], max_replications=100, max_reps=20)
    _, today = apply_budget(sc)
    assert fixed["fte.ae"] == today["budget_fte_ae"]
    assert fixed["spend_month.google_ads"] == pytest.approx(250000 * 0.2 * 0.6 / 12)


def test_the_same_seed_gives_the_same_answer_on_any_number_of_workers():
    sc = capacity_bound()
    one = optimize(sc, seed=4, max_replications=200)
    two = optimize(sc, seed=4, max_replications=200, workers=2)
    assert one[0] == two[0]
    pd.testing.assert_frame_equal(one[1].history, two[1].history, check_exact=True)


def test_an_interrupted_search_resumes_from_its_directory(tmp_path):
    # The search is a function of the seed and of the replications' results, so a run
    # on the same directory replays it from what finished.
    sc = capacity_bound()
    calls = []
    first = optimize(sc, seed=6, max_replications=150, out=tmp_path, progress=lambda done, total: calls.append(done))

    def stop_half_way(done, total):
        if done >= 60:
            raise KeyboardInterrupt

    fresh = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        optimize(sc, seed=6, max_replications=150, out=fresh, progress=stop_half_way)
    kept = sum(1 for _ in fresh.glob("runs/*/chunks/*"))
    assert kept > 0
    ran = []

    def count(done, total):
        if done == 0:  # each batch reports (0, total) first
            ran.append(total)

    resumed = optimize(sc, seed=6, max_replications=150, out=fresh, progress=count)
    assert resumed[0] == first[0]
    pd.testing.assert_frame_equal(resumed[1].history, first[1].history, check_exact=True)
    assert resumed[1].replications_used == first[1].replications_used
    assert sum(ran) < first[1].replications_used  # the kept chunks were not run again
    ran.clear()
    again = optimize(sc, seed=6, max_replications=150, out=tmp_path, progress=count)
    assert ran == [] and again[0] == first[0]


def test_a_risk_measure_is_optimised_and_reported():
    sc = capacity_bound()
    allocation, d = optimize(sc, seed=5, risk=conditional_value_at_risk(0.2), objective=Objective("revenue"),
                             max_replications=200)
    best = d.comparison.replications
    x = np.sort(best[best["alternative"] == allocation["label"]]["revenue"].to_numpy())
    assert d.estimate == pytest.approx(x[:math.ceil(0.2 * len(x))].mean())
    assert d.ci_low <= d.estimate <= d.ci_high and 0 <= d.p_correct_selection <= 1


def test_the_smallest_budget_reaching_a_revenue_target_matches_the_closed_form():
    # One channel, so the split is fixed and only the budget moves: revenue is WIN *
    # VALUE * leads, leads Poisson with mean HORIZON * L(budget / HORIZON). With
    # probability 0.5 the smallest budget is where the expected revenue is the target.
    m, s = 150, 2000
    sc = closed_form(channels={"a": (m, s)})
    target = 250_000.0
    budget_month = -s * math.log(1 - target / (HORIZON * WIN * VALUE * m))
    truth = budget_month * HORIZON
    allocation, d = smallest_budget(sc, target=target, probability=0.5, low=0.5 * truth, high=2 * truth,
                                    relative_tolerance=0.02, seed=1, max_reps=60)
    lo, hi = allocation["budget_low"], allocation["budget_high"]
    assert lo < hi and (hi - lo) <= 0.02 * hi
    # Slack: half a standard deviation of revenue, turned into budget by the slope of
    # expected revenue; inside it the estimated probability cannot tell 0.5 apart.
    sd = VALUE * math.sqrt(target / VALUE)
    slope = WIN * VALUE * (m / s) * math.exp(-budget_month / s)
    assert lo - 0.5 * sd / slope <= truth <= hi + 0.5 * sd / slope
    assert d.estimate >= 0.5 and d.budget_search["budget"].is_unique


def test_impossible_searches_are_refused_with_the_option_named():
    sc = sim.load_scenario("scenarios/small_services_firm.yaml")
    cases = [
        ({"bounds": {"marketing_share": (0.8, 0.2)}}, "--bounds"),
        ({"bounds": {"tv": (0, 1)}}, "--bounds"),
        ({"fixed": ["nosuch"]}, "--fixed"),
        ({"min_fte": {"ae": 50}}, "--min-fte"),
        ({"min_fte": {"sdr": 1}}, "--min-fte"),
        ({"total": 10_000.0}, "--budget"),
        ({"initial_reps": 1}, "--initial-reps"),
        ({"max_reps": 5}, "--max-reps"),
    ]
    for kwargs, setting in cases:
        with pytest.raises(OptimizeError) as err:
            optimize(sc, **kwargs)
        assert err.value.setting == setting, (kwargs, err.value)
    with pytest.raises(OptimizeError, match="probability"):
        smallest_budget(sc, target=1.0, probability=1.5)


def test_todays_total_is_the_default_budget():
    sc = sim.load_scenario("scenarios/teaching_minimal.yaml")
    allocation, _ = optimize(sc, seed=1, max_replications=40)
    assert allocation["total"] == pytest.approx(current_split(sc).total)


def test_with_every_channel_fixed_money_a_smaller_team_frees_is_left_unspent():
    sc = capacity_bound()
    allocation, d = optimize(sc, seed=7, fixed=["search"], max_fte={"sdr": 1, "ae": 2}, min_fte={"ae": 1},
                             max_replications=80, max_reps=10)
    today_spend = 300000 * 0.6 / 4
    assert allocation["spend_month.search"] == pytest.approx(today_spend)
    salaries = allocation["fte.sdr"] * 20000 + allocation["fte.ae"] * 40000
    assert allocation["unspent"] == pytest.approx(300000 - salaries - 4 * today_spend)
    spent = d.comparison.measures.set_index(["alternative", "measure"])["mean"]
    for label, row in d.comparison.alternatives.drop(index="today").iterrows():
        # Every searched split spent today's on the channel, whatever its team.
        assert spent[label, "cost.total"] >= 4 * today_spend
        assert row["channel_share.search"] == 1.0


def test_the_diagnostics_are_paired_differences_of_the_final_replications():
    sc = capacity_bound()
    allocation, d = optimize(sc, seed=8, max_replications=200)
    x = d.comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    best, today = x[allocation["label"]], x["today"]
    for diff, (a, b) in ((d.vs_today, (best, today)), (d.runner_up_difference, (best, x[d.runner_up]))):
        delta = (a - b).to_numpy()
        low, high = stats.t.interval(0.95, len(delta) - 1, loc=delta.mean(), scale=stats.sem(delta))
        assert diff == pytest.approx((delta.mean(), low, high), rel=1e-9)
    assert (d.estimate, d.ci_low) == pytest.approx((best.mean(), stats.t.interval(
        0.95, len(best) - 1, loc=best.mean(), scale=stats.sem(best))[0]), rel=1e-9)
    assert len(x) == 60  # every finalist has max_reps replications


@given(st.lists(st.floats(0.001, 1.0), min_size=4, max_size=4), st.integers(0, 8), st.integers(1, 8))
@settings(max_examples=50, deadline=None)
def test_every_candidate_spends_exactly_the_budget(weights, sdr, ae):
    # Weights rounded in a candidate must not make salaries plus spend exceed the budget.
    sc = sim.load_scenario("scenarios/b2b_saas_inbound.yaml")
    space = search_space(sc)
    cand = Candidate.of({"sdr": sdr, "ae": ae}, dict(zip(sc.channels, weights, strict=True)))
    if not space.feasible(dict(cand.fte), dict(cand.mix)):
        return
    spend = space.spend(dict(cand.fte), dict(cand.mix))
    split = split_for_headcount(sc, space.total, dict(cand.fte), spend)
    assert split.total == pytest.approx(space.total, rel=1e-12)
