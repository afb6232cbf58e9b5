"""The optimiser: a closed-form optimum, capacity that binds, the inverse question, and its limits.

Searches are expensive, so each one below is run once (module-scoped fixtures) and
read by several tests, with race settings smaller than the defaults. The claims are
the optimiser's own (its tolerance, its intervals), which widen with fewer
replications; the statistical ones were checked over many seeds with these settings
(see each setting), and each test runs one seed.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from builders import make
from paths import SMALL_FIRM, TEACHING
from scipy import stats

import sim
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, conditional_value_at_risk
from sim.decide.optimize import optimize, smallest_budget
from sim.decide.split import current_split

HORIZON = 6
VALUE, WIN = 1000.0, 0.5  # every lead is an MQL, qualifies, and wins with probability WIN


class RecordingEvaluator(Evaluator):
    """An evaluator that also keeps every scenario the search asked it to run, by key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scenarios = {}

    def run(self, scenarios, reps):
        scenarios = list(scenarios)
        self.scenarios.update((self.key(sc), sc) for sc in scenarios)
        super().run(scenarios, reps)


@dataclass
class Search:
    scenario: object
    allocation: dict
    diagnostics: object
    ran: dict  # key -> scenario, every scenario the search ran


def search(scenario, seed, workers=1, **options):
    """``optimize`` on an evaluator that records what it ran (running options are the evaluator's)."""
    with RecordingEvaluator(seed, workers=workers) as evaluator:
        allocation, d = optimize(scenario, evaluator=evaluator, **options)
    return Search(scenario, allocation, d, evaluator.scenarios)


# -- a closed-form optimum ----------------------------------------------------------------------------------------


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


# Half the default race. With these settings the closed-form claims below held for 28
# seeds out of 28 (the mix within its tolerance, today's split worse) and 26 of 28 (the
# objective's 95% CI covering the closed form; selection makes it a little optimistic);
# the defaults (12 seeds tried when first written) cost twice as much.
CLOSED_FORM_RACE = {"initial_candidates": 6, "initial_reps": 6, "race_batch": 6, "max_reps": 30,
                    "max_replications": 300}


@pytest.fixture(scope="module")
def closed_form_search():
    return search(closed_form(), seed=1, workers=2, **CLOSED_FORM_RACE)


def test_the_optimiser_finds_the_closed_form_channel_mix_within_its_tolerance(closed_form_search):
    allocation, d = closed_form_search.allocation, closed_form_search.diagnostics
    truth = best_share_a(4000.0)
    assert 0.55 < truth < 0.8  # an interior optimum, away from today's 50:50
    tol = d.tolerance["channel_share.a"]
    assert abs(allocation["channel_share.a"] - truth) <= tol
    assert tol <= 0.1  # narrow enough to act on
    # Today's 50:50 split is worse, and the difference is resolved.
    assert d.vs_today[1] > 0
    # The whole budget is spent on the two channels.
    assert allocation["spend_month.a"] + allocation["spend_month.b"] == pytest.approx(4000.0)
    assert allocation["unspent"] == pytest.approx(0.0, abs=1e-6)
    # Each split's replications run once, however many races it is in.
    assert d.replications_used >= d.history.groupby("alternative")["replications"].max().sum()
    assert d.candidates_evaluated == len(closed_form_search.ran) - 1  # and today's split as it is


def test_the_objective_the_optimiser_reports_matches_the_closed_form_expectation(closed_form_search):
    allocation, d = closed_form_search.allocation, closed_form_search.diagnostics
    s_a, s_b = allocation["spend_month.a"], allocation["spend_month.b"]
    leads = 120 * (1 - math.exp(-s_a / 3000)) + 60 * (1 - math.exp(-s_b / 1000))
    expected = HORIZON * (WIN * VALUE * leads - (s_a + s_b))
    assert d.ci_low <= expected <= d.ci_high


# -- capacity that binds ------------------------------------------------------------------------------------------


def capacity_bound(**changes):
    # One SDR who can call ~15 leads a month, leads that go cold within a day, and a
    # budget that puts 60% into spend that buys ~70 leads a month. (Four times fewer
    # leads, SDR hours and deals four times the value of the original economics: the
    # same trade-offs, a quarter of the leads to simulate.)
    return make(horizon_months=4,
                channels={"search": {"spend": 1, "intent": {"a": 3, "b": 3},
                                     "response": {"curve": "hill", "max_leads": 100, "half_spend": 20000}}},
                qualification={"work_hours": 2.0, "p_qualify": 0.6, "decay": {"half_life_hours": 2},
                               "max_wait_days": 1},
                opportunities__deal={"kind": "one_off", "value": 4000},
                roles={"sdr": {"fte": 1, "cost_per_fte_year": 60000, "hours_per_day": 1.0},
                       "ae": {"fte": 2, "cost_per_fte_year": 120000, "max_open_opportunities": 50}},
                budget={"total": 300000, "marketing_share": 0.6, "channel_mix": {"search": 1},
                        "role_mix": {"sdr": 1, "ae": 5}},
                **changes)


# With these settings the claims of the capacity test held for 12 seeds out of 12.
CAPACITY_SEED = 6
CAPACITY_RACE = {"initial_candidates": 6, "initial_reps": 5, "race_batch": 5, "max_reps": 20,
                 "max_replications": 120}


@pytest.fixture(scope="module")
def capacity_search():
    return search(capacity_bound(), seed=CAPACITY_SEED, **CAPACITY_RACE)


def test_where_capacity_binds_the_optimiser_moves_budget_to_headcount(capacity_search):
    sc, allocation, d = capacity_search.scenario, capacity_search.allocation, capacity_search.diagnostics
    today = sc.plan.budget
    assert allocation["fte.sdr"] > today.fte["sdr"]
    assert allocation["marketing_share"] < sc.budget.marketing_share
    assert d.vs_today[1] > 0  # better than today, with the whole CI above zero
    cold = d.comparison.measures.set_index(["alternative", "measure"])["mean"]
    assert cold[allocation["label"], "cold_events"] < cold["today", "cold_events"]


def test_the_diagnostics_are_paired_differences_of_the_final_replications(capacity_search):
    allocation, d = capacity_search.allocation, capacity_search.diagnostics
    x = d.comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    best, today = x[allocation["label"]], x["today"]
    for diff, (a, b) in ((d.vs_today, (best, today)), (d.runner_up_difference, (best, x[d.runner_up]))):
        delta = (a - b).to_numpy()
        low, high = stats.t.interval(0.95, len(delta) - 1, loc=delta.mean(), scale=stats.sem(delta))
        assert diff == pytest.approx((delta.mean(), low, high), rel=1e-9)
    assert (d.estimate, d.ci_low) == pytest.approx((best.mean(), stats.t.interval(
        0.95, len(best) - 1, loc=best.mean(), scale=stats.sem(best))[0]), rel=1e-9)
    assert len(x) == CAPACITY_RACE["max_reps"]  # every finalist has max_reps replications


def test_every_candidate_the_search_ran_spends_exactly_the_budget(capacity_search):
    sc = capacity_search.scenario
    candidates = [s for s in capacity_search.ran.values() if s.budget.marketing_share is None]
    assert len(candidates) == capacity_search.diagnostics.candidates_evaluated >= 5
    years = sc.horizon_months / 12
    for cand in candidates:
        account = cand.plan.budget
        assert account.total == 300000
        assert account.marketing + account.sales + account.unspent == pytest.approx(300000, rel=1e-12)
        assert account.unspent == 0  # a free channel takes what the team leaves
        # The accounts as written: the plan's spend, and whole FTE at cost for the horizon.
        assert account.marketing == pytest.approx(cand.plan.monthly_spend("search").sum(), rel=1e-12)
        assert account.sales == pytest.approx(cand.roles.sdr.fte * 60000 * years + cand.roles.ae.fte * 120000 * years,
                                              rel=1e-12)
        assert dict(account.fte) == {"sdr": cand.roles.sdr.fte, "ae": cand.roles.ae.fte}
    # Today's split as it is (whole FTE from its role mix) is run beside them, under its own budget block.
    (today,) = [s for s in capacity_search.ran.values() if s.budget.marketing_share is not None]
    assert today.plan.budget == sc.plan.budget


def test_the_same_seed_gives_the_same_answer_on_two_workers_and_after_an_interruption(capacity_search, tmp_path):
    # The search is a function of the seed and of the replications' results, so a run on
    # two workers, interrupted and resumed from its directory, replays the serial one.
    first = capacity_search.diagnostics
    ran = []

    def stop_half_way(done, total):
        if done == 0:  # each batch reports (0, total) first
            ran.append(total)
        if sum(ran) >= first.replications_used // 2 and done == total:
            raise KeyboardInterrupt

    fresh = tmp_path / "again"
    with pytest.raises(KeyboardInterrupt):
        optimize(capacity_search.scenario, seed=CAPACITY_SEED, out=fresh, workers=2, progress=stop_half_way,
                 **CAPACITY_RACE)
    kept = sum(1 for _ in fresh.glob("runs/*/chunks/*"))
    assert kept > 0
    ran.clear()

    def count(done, total):
        if done == 0:
            ran.append(total)

    allocation, d = optimize(capacity_search.scenario, seed=CAPACITY_SEED, out=fresh, workers=2, progress=count,
                             **CAPACITY_RACE)
    assert allocation == capacity_search.allocation
    pd.testing.assert_frame_equal(d.history, first.history, check_exact=True)
    pd.testing.assert_frame_equal(d.comparison.replications, first.comparison.replications, check_exact=True)
    assert d.replications_used == first.replications_used
    assert 0 < sum(ran) < first.replications_used  # the kept chunks were not run again
    # On the directory of a finished search, nothing runs at all.
    ran.clear()
    again, _ = optimize(capacity_search.scenario, seed=CAPACITY_SEED, out=fresh, progress=count, **CAPACITY_RACE)
    assert ran == [] and again == capacity_search.allocation


def test_with_every_channel_fixed_money_a_smaller_team_frees_is_left_unspent():
    found = search(capacity_bound(), seed=7, fixed=["search"], max_fte={"sdr": 1, "ae": 2}, min_fte={"ae": 1},
                   initial_reps=5, race_batch=5, max_reps=10, max_replications=60)
    allocation, d = found.allocation, found.diagnostics
    today_spend = 300000 * 0.6 / 4
    assert allocation["spend_month.search"] == pytest.approx(today_spend)
    salaries = allocation["fte.sdr"] * 20000 + allocation["fte.ae"] * 40000
    assert allocation["unspent"] == pytest.approx(300000 - salaries - 4 * today_spend)
    spent = d.comparison.measures.set_index(["alternative", "measure"])["mean"]
    for label, row in d.comparison.alternatives.drop(index="today").iterrows():
        # Every searched split spent today's on the channel, whatever its team.
        assert spent[label, "cost.total"] >= 4 * today_spend
        assert row["channel_share.search"] == 1.0
    # Every candidate run accounts for the whole budget, the rest unspent.
    unspent = []
    for cand in found.ran.values():
        account = cand.plan.budget
        assert account.marketing + account.sales + account.unspent == pytest.approx(300000, rel=1e-12)
        if cand.budget.marketing_share is None:
            assert account.marketing == pytest.approx(4 * today_spend, rel=1e-12)
            assert account.unspent == pytest.approx(300000 - 4 * today_spend - account.sales, rel=1e-12)
            unspent.append(account.unspent)
    # The four teams (0 or 1 SDR, 1 or 2 AEs at 20,000 and 40,000 for the horizon) leave what today's spend leaves.
    assert sorted(unspent) == [300000 - 4 * today_spend - 20000 * sdr - 40000 * ae for sdr, ae in
                               ((1, 2), (0, 2), (1, 1), (0, 1))]


def test_a_risk_measure_is_optimised_and_reported():
    found = search(capacity_bound(), seed=5, risk=conditional_value_at_risk(0.2), objective=Objective("revenue"),
                   initial_candidates=4, initial_reps=5, race_batch=5, max_reps=10, max_replications=40)
    allocation, d = found.allocation, found.diagnostics
    assert d.risk.tail == 0.2 and d.risk.label == "CVaR 20%" and d.objective.name == "revenue"
    best = d.comparison.replications
    x = np.sort(best[best["alternative"] == allocation["label"]]["revenue"].to_numpy())
    assert len(x) == 10
    assert d.estimate == pytest.approx(x[:math.ceil(0.2 * len(x))].mean())
    assert d.ci_low <= d.estimate <= d.ci_high and 0 <= d.p_correct_selection <= 1
    # Every finalist is ranked by the same tail of its own replications.
    for label, row in d.comparison.alternatives.iterrows():
        mine = np.sort(best[best["alternative"] == label]["revenue"].to_numpy())
        assert row["objective"] == pytest.approx(mine[:2].mean())


# -- the inverse question -----------------------------------------------------------------------------------------


def test_the_smallest_budget_reaching_a_revenue_target_matches_the_closed_form():
    # One channel, so the split is fixed and only the budget moves: revenue is WIN *
    # VALUE * leads, leads Poisson with mean HORIZON * L(budget / HORIZON). With
    # probability 0.5 the smallest budget is where the expected revenue is the target.
    m, s = 150, 2000
    sc = closed_form(channels={"a": (m, s)})
    target = 250_000.0
    budget_month = -s * math.log(1 - target / (HORIZON * WIN * VALUE * m))
    truth = budget_month * HORIZON
    reps = 30
    allocation, d = smallest_budget(sc, target=target, probability=0.5, budget_range=(0.8 * truth, 1.25 * truth),
                                    budget_tolerance=0.02, seed=1, max_reps=reps, workers=2)
    lo, hi = allocation["budget_low"], allocation["budget_high"]
    assert lo < hi and (hi - lo) <= 0.02 * hi
    # Slack: three standard errors of the median of `reps` replications of revenue
    # (sd * sqrt(pi / 2) / sqrt(reps); revenue is VALUE times a Poisson count of wins),
    # turned into budget by the slope of expected revenue; inside it the estimated
    # probability cannot tell 0.5 apart.
    sd = VALUE * math.sqrt(target / VALUE)
    slope = WIN * VALUE * (m / s) * math.exp(-budget_month / s)
    slack = 3 * sd * math.sqrt(math.pi / 2) / math.sqrt(reps) / slope
    assert lo - slack <= truth <= hi + slack  # held for 12 seeds out of 12, the bracket's middle within 2.1 se
    assert d.estimate >= 0.5 and d.budget_search["budget"].is_unique
    assert d.comparison.n == reps


# -- limits -------------------------------------------------------------------------------------------------------

CHEAP = {"initial_candidates": 6, "initial_reps": 5, "race_batch": 5, "max_reps": 10}


def test_bounds_fixed_parts_and_headcount_limits_are_kept():
    sc = sim.load_scenario(SMALL_FIRM)
    allocation, d = optimize(sc, seed=1, bounds={"marketing_share": (0.3, 0.5)}, min_fte={"ae": 2},
                             max_fte={"ae": 2}, max_replications=60, workers=2, **CHEAP)
    assert 0.3 <= allocation["marketing_share"] <= 0.5 and allocation["fte.ae"] == 2
    searched = d.history
    assert searched["marketing_share"].between(0.3 - 1e-12, 0.5 + 1e-12).all() and (searched["fte.ae"] == 2).all()
    years = sc.horizon_months / 12
    spent = allocation["fte.ae"] * sc.roles.ae.cost_per_fte_year * years + allocation["marketing_share"] * 250000
    assert spent == pytest.approx(250000)
    fixed, d = optimize(sc, seed=1, fixed=["ae", "google_ads"], max_replications=40, workers=2, **CHEAP)
    assert fixed["fte.ae"] == sc.plan.budget.fte["ae"]
    assert fixed["spend_month.google_ads"] == pytest.approx(250000 * 0.2 * 0.6 / 12)
    assert (d.history["fte.ae"] == sc.plan.budget.fte["ae"]).all()


def test_todays_total_is_the_default_budget():
    sc = sim.load_scenario(TEACHING)
    allocation, _ = optimize(sc, seed=1, max_replications=20, **CHEAP)
    assert allocation["total"] == pytest.approx(current_split(sc).total)
