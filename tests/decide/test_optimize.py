"""The optimiser: its guarantee against the truth over many seeds, a closed form, binding capacity, the inverse.

The frequency claims (a choice within delta of the best, fresh intervals that cover)
are checked over many seeds through the whole of :func:`optimize` on a model whose
means are known exactly (``tests/toy_model.py``: the closed-form funnel's expectation
plus noise with common random numbers). The discrete-event searches below are each
run once (module-scoped fixtures) and read by several tests.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from builders import make
from paths import SMALL_FIRM, TEACHING
from scipy import optimize as scipy_optimize
from scipy import stats
from toy_model import closed_form_contribution, split_toy

import sim
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, conditional_value_at_risk, probability_of_target
from sim.decide.optimize import FRESH_START, optimize, smallest_budget
from sim.decide.split import current_split

HORIZON = 6
VALUE, WIN = 1000.0, 0.5  # every lead is an MQL, qualifies, and wins with probability WIN


class RecordingEvaluator(Evaluator):
    """An evaluator that also keeps every scenario the search asked it to run, by key."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scenarios = {}

    def run(self, scenarios, reps, start=0):
        scenarios = list(scenarios)
        self.scenarios.update((self.key(sc), sc) for sc in scenarios)
        super().run(scenarios, reps, start)


@dataclass
class Search:
    scenario: object
    allocation: dict
    diagnostics: object
    ran: dict  # key -> scenario, every scenario the search ran


def search(scenario, seed, workers=1, model=None, **options):
    """``optimize`` on an evaluator that records what it ran (running options are the evaluator's)."""
    extra = {"model": model} if model is not None else {}
    with RecordingEvaluator(seed, workers=workers, **extra) as evaluator:
        allocation, d = optimize(scenario, evaluator=evaluator, **options)
    return Search(scenario, allocation, d, evaluator.scenarios)


def exact(scenario):
    """The closed-form funnel's expected measures, as the fast approximation would give them."""
    value = closed_form_contribution(scenario)
    return {"contribution": value, "revenue": value}


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


def contribution_at(share_a, budget_month=4000.0, a=(120, 3000), b=(60, 1000)):
    """The closed form's expected contribution over the horizon with ``share_a`` of the spend on channel a."""
    sa, sb = share_a * budget_month, (1 - share_a) * budget_month
    leads = a[0] * (1 - math.exp(-sa / a[1])) + b[0] * (1 - math.exp(-sb / b[1]))
    return HORIZON * (WIN * VALUE * leads - budget_month)


def test_the_closed_form_optimum_is_the_equal_marginal_leads_per_dollar_point():
    # The Lagrange condition against a numerical maximisation of the same closed form.
    truth = best_share_a(4000.0)
    found = scipy_optimize.minimize_scalar(lambda x: -contribution_at(x), bounds=(0, 1), method="bounded",
                                           options={"xatol": 1e-9})
    assert found.x == pytest.approx(truth, abs=1e-6) and 0.55 < truth < 0.8


# The toy model's searches: SEEDS independent optimisations, each judged against the truth.
SEEDS = 60


@pytest.fixture(scope="module")
def toy_searches():
    sc = closed_form()
    best = contribution_at(best_share_a(4000.0))
    out = []
    for seed in range(SEEDS):
        found = search(sc, seed=seed, model=split_toy, approximate=exact)
        out.append((found, best))
    return out


def test_the_choice_is_within_delta_of_the_best_at_the_stated_rate(toy_searches):
    good, held = 0, 0
    for found, best in toy_searches:
        d = found.diagnostics
        chosen = contribution_at(found.allocation["channel_share.a"])
        held += d.guarantee.holds
        good += chosen >= best - d.guarantee.delta
    assert held == SEEDS  # every selection finished by its own rule
    p = 0.95
    assert good / SEEDS >= p - 3 * math.sqrt(p * (1 - p) / SEEDS)


def test_the_fresh_interval_covers_the_chosen_splits_true_objective_at_the_stated_rate(toy_searches):
    covered = 0
    for found, _ in toy_searches:
        d = found.diagnostics
        truth = contribution_at(found.allocation["channel_share.a"])
        covered += d.ci_low <= truth <= d.ci_high
        # The interval comes from fresh replications only.
        assert (d.comparison.replications["replication"] >= FRESH_START).all()
    p = 0.95
    assert covered / SEEDS >= p - 3 * math.sqrt(p * (1 - p) / SEEDS)


@pytest.fixture(scope="module")
def closed_form_search():
    return search(closed_form(), seed=1, workers=2, approximate=exact)


def test_the_optimiser_finds_the_closed_form_channel_mix_on_the_funnel_model(closed_form_search):
    allocation, d = closed_form_search.allocation, closed_form_search.diagnostics
    best = contribution_at(best_share_a(4000.0))
    assert contribution_at(allocation["channel_share.a"]) >= best - d.guarantee.delta
    assert d.guarantee.holds and d.guarantee.procedure == "KN"
    # Today's 50:50 split is worse, and the difference is resolved on fresh replications.
    assert d.vs_today[1] > 0
    # The whole budget is spent on the two channels.
    assert allocation["spend_month.a"] + allocation["spend_month.b"] == pytest.approx(4000.0)
    assert allocation["unspent"] == pytest.approx(0.0, abs=1e-6)
    # The fresh estimate's interval covers the closed form's expectation of the chosen split.
    assert d.ci_low <= contribution_at(allocation["channel_share.a"]) <= d.ci_high
    assert d.replications_used == d.selection_replications + d.fresh_replications
    assert d.fresh_replications == 20 * len(d.comparison.alternatives)


def test_brute_force_over_a_grid_around_the_answer_finds_nothing_better_by_more_than_delta(closed_form_search):
    # A plain comparison of the answer with the channel shares 5 and 10 points either side.
    allocation, d = closed_form_search.allocation, closed_form_search.diagnostics
    share = allocation["channel_share.a"]
    sc = closed_form_search.scenario
    grid = sorted({round(min(1.0, max(0.0, share + k * 0.05)), 10) for k in (-2, -1, 1, 2)})
    answer = next(sc for sc in closed_form_search.ran.values()
                  if sc.plan.spend["a"][0] == pytest.approx(allocation["spend_month.a"]))
    others = sim.split_alternatives_of(sc, {"channel_share.a": grid}, today=False)
    both = sim.compare([sim.Alternative("answer", answer, {"channel_share.a": share}), *others], reps=40, seed=11,
                       workers=2)
    for label, row in both.alternatives.drop(index="answer").iterrows():
        # vs_baseline is the grid split minus the answer: never shown above delta.
        assert row["vs_baseline_ci_low"] <= d.guarantee.delta, label
        # and the closed form agrees: none is better by more than delta.
        assert contribution_at(row["channel_share.a"]) <= contribution_at(share) + d.guarantee.delta


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


CAPACITY_SEED = 6
CAPACITY_SEARCH = {"contenders": 6, "initial_reps": 6, "race_batch": 6, "max_reps": 40, "fresh_reps": 20,
                   "delta": 2000.0}


@pytest.fixture(scope="module")
def capacity_search():
    return search(capacity_bound(), seed=CAPACITY_SEED, **CAPACITY_SEARCH)


def test_where_capacity_binds_the_optimiser_moves_budget_to_headcount(capacity_search):
    sc, allocation, d = capacity_search.scenario, capacity_search.allocation, capacity_search.diagnostics
    today = sc.plan.budget
    assert allocation["fte.sdr"] > today.fte["sdr"]
    assert allocation["marketing_share"] < sc.budget.marketing_share
    assert d.vs_today[1] > 0  # better than today, with the whole CI above zero
    cold = d.comparison.measures.set_index(["alternative", "measure"])["mean"]
    assert cold[allocation["label"], "cold_events"] < cold["today", "cold_events"]


def test_the_diagnostics_are_paired_differences_of_the_fresh_replications(capacity_search):
    allocation, d = capacity_search.allocation, capacity_search.diagnostics
    x = d.comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    assert list(x.index) == list(range(FRESH_START, FRESH_START + CAPACITY_SEARCH["fresh_reps"]))
    best, today = x[allocation["label"]], x["today"]
    for diff, (a, b) in ((d.vs_today, (best, today)), (d.runner_up_difference, (best, x[d.runner_up]))):
        delta = (a - b).to_numpy()
        low, high = stats.t.interval(0.95, len(delta) - 1, loc=delta.mean(), scale=stats.sem(delta))
        assert diff == pytest.approx((delta.mean(), low, high), rel=1e-9)
    assert (d.estimate, d.ci_low) == pytest.approx((best.mean(), stats.t.interval(
        0.95, len(best) - 1, loc=best.mean(), scale=stats.sem(best))[0]), rel=1e-9)
    # The selection's own replications start at 0 and never reach the fresh ones.
    assert d.history["replications"].max() <= CAPACITY_SEARCH["max_reps"] < FRESH_START


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


def test_the_guarantee_says_what_was_compared(capacity_search):
    d = capacity_search.diagnostics
    g = d.guarantee
    assert g.compared == d.candidates_evaluated == len(d.history)
    assert g.delta == CAPACITY_SEARCH["delta"] and g.level == 0.95
    text = "\n".join(g.statements)
    assert ("within 2,000" in text) == g.holds
    for role in ("sdr", "ae"):
        # "compared" exactly when both neighbours of the answer were among the splits compared.
        fte = d.history.set_index("alternative")[f"fte.{role}"]
        chosen = capacity_search.allocation[f"fte.{role}"]
        assert (f"neighbours ±1 FTE of {role}: compared" in text) == g.neighbours[f"fte.{role}"]
        if g.neighbours[f"fte.{role}"]:
            assert d.tolerance[f"fte.{role}"] == 1.0
            assert {chosen - 1, chosen + 1} & set(fte) or chosen in (0, 1)
        else:
            assert f"fte.{role}" not in d.tolerance


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
                 **CAPACITY_SEARCH)
    kept = sum(1 for _ in fresh.glob("runs/*/chunks/*"))
    assert kept > 0
    ran.clear()

    def count(done, total):
        if done == 0:
            ran.append(total)

    allocation, d = optimize(capacity_search.scenario, seed=CAPACITY_SEED, out=fresh, workers=2, progress=count,
                             **CAPACITY_SEARCH)
    assert allocation == capacity_search.allocation
    pd.testing.assert_frame_equal(d.history, first.history, check_exact=True)
    pd.testing.assert_frame_equal(d.comparison.replications, first.comparison.replications, check_exact=True)
    assert d.replications_used == first.replications_used
    assert 0 < sum(ran) < first.replications_used  # the kept chunks were not run again
    # On the directory of a finished search, nothing runs at all.
    ran.clear()
    again, _ = optimize(capacity_search.scenario, seed=CAPACITY_SEED, out=fresh, progress=count, **CAPACITY_SEARCH)
    assert ran == [] and again == capacity_search.allocation


CHEAP = {"contenders": 4, "initial_reps": 5, "race_batch": 5, "max_reps": 20, "fresh_reps": 8}


def test_with_every_channel_fixed_money_a_smaller_team_frees_is_left_unspent():
    found = search(capacity_bound(), seed=7, fixed=["search"], max_fte={"sdr": 1, "ae": 2}, min_fte={"ae": 1},
                   delta=2000.0, **CHEAP)
    allocation = found.allocation
    today_spend = 300000 * 0.6 / 4
    assert allocation["spend_month.search"] == pytest.approx(today_spend)
    salaries = allocation["fte.sdr"] * 20000 + allocation["fte.ae"] * 40000
    assert allocation["unspent"] == pytest.approx(300000 - salaries - 4 * today_spend)
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


def test_a_tail_risk_is_optimised_and_reported_without_a_guarantee():
    found = search(capacity_bound(), seed=5, risk=conditional_value_at_risk(0.2), objective=Objective("revenue"),
                   **CHEAP)
    allocation, d = found.allocation, found.diagnostics
    assert d.risk.tail == 0.2 and d.risk.label == "CVaR 20%" and d.objective.name == "revenue"
    assert not d.guarantee.holds and d.guarantee.procedure == "none"
    assert "no guarantee" in d.guarantee.statements[0]
    best = d.comparison.replications
    x = np.sort(best[best["alternative"] == allocation["label"]]["revenue"].to_numpy())
    assert len(x) == CHEAP["fresh_reps"]
    assert d.estimate == pytest.approx(x[:math.ceil(0.2 * len(x))].mean())
    assert d.ci_low <= d.estimate <= d.ci_high and 0 <= d.p_selected <= 1
    # Every split in the fresh comparison is ranked by the same tail of its own replications.
    for label, row in d.comparison.alternatives.iterrows():
        mine = np.sort(best[best["alternative"] == label]["revenue"].to_numpy())
        assert row["objective"] == pytest.approx(mine[:2].mean())


def test_todays_split_is_compared_once_under_one_label():
    # Teaching's split spends its whole budget, so the search's version of today's split
    # is today's split itself: it must be run and reported once, not twice under two labels.
    sc = sim.load_scenario(TEACHING)
    found = search(sc, seed=1, **CHEAP)
    d = found.diagnostics
    keys = [Evaluator.key(None, s) for s in found.ran.values()]
    assert len(keys) == len(set(keys))
    fresh = [a for a in d.comparison.alternatives.index]
    assert len(fresh) == len(set(fresh))
    today_key = Evaluator.key(None, sim.decide.split.with_split(sc, current_split(sc)))
    searched_today = [label for label, sc2 in zip(d.history["alternative"], found.ran.values(), strict=False)
                      if Evaluator.key(None, sc2) == today_key]
    if searched_today or "today" not in fresh:
        assert list(d.comparison.merged.values()) == [["today"]]


# -- the inverse question -----------------------------------------------------------------------------------------


def smallest_case():
    """One channel, so only the budget moves: P(revenue >= target) is a Poisson tail in closed form."""
    m, s = 150, 2000
    return closed_form(channels={"a": (m, s)}), m, s


def reach_probability(budget, m, s, target):
    """P(revenue >= target) at ``budget``: wins are Poisson with mean WIN * HORIZON * m * (1 - exp(-b / s))."""
    wins_mean = WIN * HORIZON * m * (1 - math.exp(-budget / HORIZON / s))
    return float(stats.poisson.sf(math.ceil(target / VALUE) - 1, wins_mean))


INVERSE = {"target": 250_000.0, "probability": 0.8, "reps": 40, "budget_tolerance": 0.04}


@pytest.fixture(scope="module")
def inverse():
    sc, m, s = smallest_case()
    truth = scipy_optimize.brentq(lambda b: reach_probability(b, m, s, INVERSE["target"]) - INVERSE["probability"],
                                  1, 10 * HORIZON * 4000)
    allocation, found = smallest_budget(sc, budget_range=(0.75 * truth, 1.5 * truth), seed=1, workers=2,
                                        approximate=exact, **INVERSE)
    return sc, m, s, truth, allocation, found


def test_the_smallest_budget_bracket_is_right_against_the_closed_form(inverse):
    sc, m, s, truth, allocation, found = inverse
    lo, hi = allocation["budget_low"], allocation["budget_high"]
    assert lo < hi and (hi - lo) <= INVERSE["budget_tolerance"] * hi and (found.low, found.high) == (lo, hi)
    # "Reached" is proven at the top by a lower bound, so the true probability there is
    # at least q (a one-sided bound at 97.5% is wrong at most 2.5% of the time; the
    # bound's rate is checked in the next test); the bracket lies above the true smallest budget.
    assert reach_probability(hi, m, s, INVERSE["target"]) >= INVERSE["probability"]
    assert hi >= truth
    assert "lower bound" in found.high_proof and found.estimate >= INVERSE["probability"]
    # The split's interval at the top is the two-sided exact (Clopper-Pearson) one, as scipy computes it.
    top = found.tried[(found.tried["budget"] == hi)].sort_values("lower").iloc[-1]
    exact_ci = stats.binomtest(int(top["reached"]), INVERSE["reps"]).proportion_ci(0.95, method="exact")
    assert (found.ci_low, found.ci_high) == pytest.approx((exact_ci.low, exact_ci.high))
    assert found.tried["budget"].nunique() == len(found.tried) // 2  # two splits at every budget


def test_clopper_pearson_bounds_hold_at_their_level():
    from sim.decide.optimize import clopper_pearson

    rng = np.random.default_rng(0)
    p, n, trials = 0.7, 60, 2000
    hits = rng.binomial(n, p, size=trials)
    bounds = {k: clopper_pearson(int(k), n, 0.95) for k in np.unique(hits)}  # one per distinct count
    lower_ok = np.mean([bounds[k][0] <= p for k in hits])
    upper_ok = np.mean([bounds[k][1] >= p for k in hits])
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)
    assert lower_ok >= floor and upper_ok >= floor


def test_the_smallest_budget_agrees_with_brute_force_over_budgets(inverse):
    # compare() of today's split at the bracket's two ends, on the search's replications.
    sc, m, s, truth, allocation, found = inverse
    lo, hi = found.low, found.high
    alternatives = [sim.Alternative(f"{b:.0f}", sim.split_alternatives_of(sc, {}, budget=b)[0].scenario)
                    for b in (lo, hi)]
    brute = sim.compare(alternatives, reps=INVERSE["reps"], seed=1, objective=Objective("revenue"),
                        risk=probability_of_target(INVERSE["target"]), workers=2)
    shares = brute.alternatives["objective"]
    top = found.tried[found.tried["budget"] == hi]
    assert shares[f"{hi:.0f}"] == pytest.approx(top["share"].max())  # the same worlds as the search's
    assert shares[f"{lo:.0f}"] <= shares[f"{hi:.0f}"]
    assert reach_probability(lo, m, s, INVERSE["target"]) < reach_probability(hi, m, s, INVERSE["target"])


# -- limits -------------------------------------------------------------------------------------------------------


def test_bounds_fixed_parts_and_headcount_limits_are_kept():
    sc = sim.load_scenario(SMALL_FIRM)
    allocation, d = optimize(sc, seed=1, bounds={"marketing_share": (0.3, 0.5)}, min_fte={"ae": 2},
                             max_fte={"ae": 2}, workers=2, **CHEAP)
    assert 0.3 <= allocation["marketing_share"] <= 0.5 and allocation["fte.ae"] == 2
    searched = d.history
    assert searched["marketing_share"].between(0.3 - 1e-12, 0.5 + 1e-12).all() and (searched["fte.ae"] == 2).all()
    years = sc.horizon_months / 12
    spent = allocation["fte.ae"] * sc.roles.ae.cost_per_fte_year * years + allocation["marketing_share"] * 250000
    assert spent == pytest.approx(250000)
    fixed, d = optimize(sc, seed=1, fixed=["ae", "google_ads"], workers=2, **CHEAP)
    assert fixed["fte.ae"] == sc.plan.budget.fte["ae"]
    assert fixed["spend_month.google_ads"] == pytest.approx(250000 * 0.2 * 0.6 / 12)
    assert (d.history["fte.ae"] == sc.plan.budget.fte["ae"]).all()


def test_todays_total_is_the_default_budget():
    sc = sim.load_scenario(TEACHING)
    allocation, _ = optimize(sc, seed=1, **CHEAP)
    assert allocation["total"] == pytest.approx(current_split(sc).total)
