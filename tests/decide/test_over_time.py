"""Decisions over time: terminal values, the plan space's accounting, and the optimiser against known answers.

- Terminal values against a direct sum and the objective's own pieces.
- A plan's cost is what the scenario's budget accounts (an identity, over random plans),
  and every move of the search keeps every limit (checked by an independent checker).
- Spend timing against the closed form: with no capacity limit and a concave
  response whose deals close ``d`` days after the lead, the best monthly spend under
  a budget follows from a Lagrange condition; the screen (on the funnel's fast
  approximation) and the whole optimiser (on the discrete-event model) are checked
  against it.
- The guarantee and the cash constraint over many seeds, on a model whose means and
  cash probabilities are known exactly (``tests/toy_model.py``: the plan toy), with
  every plan of the space enumerated by brute force.
"""

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paths import SCENARIOS
from toy_model import plan_cash_probability, plan_exact, plan_monthly_mean, plan_toy

import sim
from sim.decide.evaluator import Evaluator
from sim.decide.horizon import horizon_bias
from sim.decide.objectives import Objective, ObjectiveError
from sim.decide.optimize import FRESH_START
from sim.decide.over_time import cash_replications, optimize_over_time
from sim.decide.plan_screen import plan_neighbours, plan_score, screen_plans
from sim.decide.search_space import OptimizeError
from sim.decide.timing import TimePlan, plan_space, today_plan
from sim.model import approximate_with_monthly

DAYS = 365.25 / 12
REFERENCE = SCENARIOS / "b2b_saas_inbound.yaml"
SMALL = SCENARIOS / "small_services_firm.yaml"


# -- terminal values ----------------------------------------------------------------------------------------------


def test_the_npv_terminal_value_is_the_sum_of_the_kept_margin_over_the_months_after_the_horizon():
    sc = sim.load_scenario(REFERENCE)
    c = sc.customers
    mrr = 800_000.0
    frame = pd.DataFrame([{"contribution": 1.0, "npv_contribution": 1.0, "ending_mrr": mrr, "ending_arr": 12 * mrr}])
    months = np.arange(1, 3000)
    kept = ((1 - c.churn_month) * (1 + c.expansion_month)) ** months
    direct = float((mrr * sc.gross_margin * kept * (1 + sc.discount_rate_year) ** (-months / 12)).sum())
    assert Objective("contribution", terminal="npv").values(frame, sc)[0] == pytest.approx(1 + direct, rel=1e-9)
    # The NPV objective discounts it from the horizon to today.
    back = (1 + sc.discount_rate_year) ** (-sc.horizon_months / 12)
    assert Objective("npv", terminal="npv").values(frame, sc)[0] == pytest.approx(1 + direct * back, rel=1e-9)


def test_a_multiple_values_the_ending_arr_and_adds_to_the_pipeline():
    sc = sim.load_scenario(REFERENCE)
    frame = pd.DataFrame([{"contribution": 10.0, "ending_arr": 1200.0, "ending_mrr": 100.0,
                           "open_pipeline_weighted_value": 50.0}])
    both = Objective("contribution", with_pipeline=True, terminal=5).values(frame, sc)[0]
    assert both == pytest.approx(10 + 5 * 1200 + 50 * sc.gross_margin)
    assert Objective("contribution", terminal=0).values(frame, sc)[0] == 10
    assert Objective("contribution", with_pipeline=True, terminal=5).label == \
        "contribution + open pipeline + 5x ending ARR"


@pytest.mark.parametrize(("kwargs", "wrong"), [({"terminal": -1}, "terminal"), ({"terminal": "x"}, "terminal"),
                                                ({"terminal": True}, "terminal"),
                                                ({"name": "new_customers", "terminal": 3}, "terminal")])
def test_a_terminal_value_that_cannot_be_made_names_terminal(kwargs, wrong):
    with pytest.raises(ObjectiveError) as caught:
        Objective(**kwargs)
    assert caught.value.lines()[0].startswith(wrong)


def test_a_scenario_without_arr_or_with_a_growing_base_is_refused_naming_terminal():
    one_off = sim.load_scenario(SCENARIOS / "teaching_minimal.yaml")
    assert one_off.opportunities.deal.kind == "one_off" and one_off.customers.installed_base == 0
    with pytest.raises(ObjectiveError, match="no ARR"):
        Objective(terminal=5).check(one_off)
    growing = sim.load_scenario(REFERENCE).replace({"customers.expansion_month": 0.05})
    with pytest.raises(ObjectiveError, match="infinite"):
        Objective(terminal="npv").check(growing)
    Objective(terminal=5).check(growing)  # a multiple is finite


# -- the plan space: accounting and limits -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_space():
    sc = sim.load_scenario(REFERENCE)
    return sc, plan_space(sc, budget=8_000_000, period_months=6, max_change=0.5, max_hires_month=1,
                          max_fte={"sdr": 11, "ae": 10})


def _random_plan(space, draw):
    spend = {c: [draw(st.floats(*space.spend_bounds[c])) for _ in range(space.periods)] for c in space.free_channels}
    hires = {r: draw(st.lists(st.sampled_from(space.hire_months(r)), max_size=3)) for r in space.free_roles}
    return TimePlan.of(space.period_months, spend, hires)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_plans_cost_is_what_the_scenarios_budget_accounts(reference_space, data):
    sc, space = reference_space
    plan = _random_plan(space, data.draw)
    run = space.scenario(sc.replace({"budget": None}), plan)  # written without checking it fits
    account = run.plan.budget
    assert space.cost(plan) == pytest.approx(account.marketing + account.sales, rel=1e-9)
    assert account.total == space.total
    for c in space.free_channels:
        monthly = run.plan.monthly_spend(c)
        for m in range(sc.horizon_months):
            assert monthly[m] == pytest.approx(plan.spend_of(c)[m // space.period_months], abs=0.01)
    for r in space.free_roles:
        assert Counter(dict(run.plan.roles[r].hires)) == Counter(plan.hires_of(r))
        assert run.plan.roles[r].fte == sc.plan.roles[r].fte  # today's day-one team, kept


def _keeps_every_limit(space, plan) -> bool:
    """An independent reading of the limits, from the scenario a plan is run as."""
    ok = space.cost(plan) <= space.total * (1 + 1e-9)
    for c in space.free_channels:
        levels = plan.spend_of(c)
        lo, hi = space.spend_bounds[c]
        ok &= all(lo - 1e-6 <= x <= hi + 1e-6 for x in levels)
        ok &= all(abs(b - a) <= space.max_change * space.unit[c] + 1e-6 for a, b in itertools.pairwise(levels))
    for r in space.free_roles:
        months = plan.hires_of(r)
        ok &= all(n <= space.max_hires_month for n in Counter(months).values())
        ok &= space.start_fte[r] + len(months) <= space.max_fte[r]
        ok &= all(m * DAYS + space.lead_days[r] < space.horizon_months * DAYS for m in months)
    return bool(ok)


def test_every_move_of_the_search_keeps_every_limit(reference_space):
    sc, space = reference_space
    rng = np.random.default_rng(3)
    here = today_plan(sc, space)
    assert _keeps_every_limit(space, here)
    seen = 0
    for _ in range(12):  # a random walk through the neighbourhoods, coarse and fine
        near = plan_neighbours(here, space, step=float(rng.choice([0.5, 0.1])), hire_step=int(rng.choice([1, 6])))
        assert near and all(_keeps_every_limit(space, p) for p in near)
        seen += len(near)
        here = near[int(rng.integers(len(near)))]
    assert seen > 100


def test_wrong_limits_are_one_line_each():
    sc = sim.load_scenario(SMALL)
    with pytest.raises(OptimizeError) as caught:
        plan_space(sc, period_months=0, max_hires_month=-1, max_change=0, fixed=["nope"],
                   spend_bounds={"google_ads": (5, 1), "tv": (0, 1)}, max_fte={"cfo": 1}, budget=-1)
    lines = caught.value.lines()
    assert [line.split(":")[0] for line in lines] == ["period_months", "max_hires_month", "max_change", "fixed",
                                                      "spend_bounds", "spend_bounds", "max_fte", "budget"]


def test_the_calendar_says_when_each_hire_is_requested_and_starts():
    sc = sim.load_scenario(REFERENCE)
    space = plan_space(sc, period_months=6)
    plan = TimePlan.of(6, {c: today_plan(sc, space).spend_of(c) for c in space.free_channels},
                       {"sdr": [2, 2], "ae": [5]})
    lines = space.calendar(plan, "USD")
    # 60 and 75 days of lead time, 3 and 5 months of ramp (the scenario's), months from 0.
    assert "hire 2 SDRs requested in month 2 (starts month 3, fully ramped month 7)" in lines
    assert "hire 1 AE requested in month 5 (starts month 7, fully ramped month 13)" in lines
    assert math.floor(2 + 60 / DAYS) == 3 and math.floor(5 + 75 / DAYS) == 7


# -- spend timing against the closed form -------------------------------------------------------------------------

H, WIN, VALUE, MAX_LEADS, SCALE = 6, 0.5, 1000.0, 120.0, 3000.0
BUDGET = 36_000.0


def timing_scenario(delay_days: float):
    """No capacity limit, every lead an MQL that qualifies; a deal closes ``delay_days`` after its lead, or never."""
    return sim.parse_scenario({
        "name": "timing", "horizon_months": H, "gross_margin": 1.0,
        "channels": {"a": {"spend": BUDGET / H / 3, "intent": {"a": 2, "b": 2},
                           "response": {"curve": "exponential", "max_leads": MAX_LEADS, "spend_scale": SCALE}}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"work_hours": 0.01, "p_qualify": 1.0},
        "opportunities": {"stages": [{"name": "close", "duration_days": delay_days, "advance": WIN}],
                          "deal": {"kind": "one_off", "value": VALUE}},
        "roles": {"ae": {"fte": 3, "hours_per_day": 24, "max_open_opportunities": 100000, "cost_per_fte_year": 0}},
    })


def landed(delay_days: float) -> np.ndarray:
    """The share of month m's leads (uniform in the month) whose deal closes by the horizon."""
    return np.clip(H - np.arange(H) - delay_days / DAYS, 0.0, 1.0)


def closed_form_value(spend, delay_days: float) -> float:
    spend = np.asarray(spend, dtype=float)
    return float((landed(delay_days) * WIN * VALUE * MAX_LEADS * (1 - np.exp(-spend / SCALE)) - spend).sum())


def closed_form_spend(delay_days: float, high: float) -> np.ndarray:
    """The best monthly spend under the budget: s_m = SCALE ln(f_m W V M / (SCALE (1 + lam))), clipped, summed to it."""
    f = landed(delay_days)

    def spend(lam):
        with np.errstate(divide="ignore"):
            s = SCALE * np.log(f * WIN * VALUE * MAX_LEADS / (SCALE * (1 + lam)))
        return np.clip(np.nan_to_num(s, nan=0.0, neginf=0.0), 0.0, high)

    if spend(0.0).sum() <= BUDGET:
        return spend(0.0)
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spend(mid).sum() > BUDGET else (lo, mid)
    return spend(hi)


@pytest.mark.parametrize("delay_days", [0.0, 45.0])
def test_the_screen_finds_the_closed_form_timing(delay_days):
    sc = timing_scenario(delay_days)
    high = 12_000.0
    space = plan_space(sc, budget=BUDGET, period_months=1, spend_bounds={"a": (0.0, high)})
    score = plan_score(sc, space, Objective("contribution"), approximate_with_monthly)
    found = screen_plans(space, score, start=today_plan(sc, space), spend_step=0.05)
    got = np.array(found.best.spend_of("a"))
    best = closed_form_spend(delay_days, high)
    step = 0.05 * space.unit["a"]
    assert found.converged
    # The budget binds in the closed form, and the screen spends it (to a step).
    assert best.sum() == pytest.approx(BUDGET) and got.sum() == pytest.approx(BUDGET, abs=step + 1e-6)
    # Month by month, within two steps; so its value is within the closed form's loss of two steps a month.
    assert np.abs(got - best).max() <= 2 * step + 1e-6, (got, best)
    curvature = WIN * VALUE * MAX_LEADS / SCALE**2  # the largest second derivative of a month's value
    assert closed_form_value(got, delay_days) >= closed_form_value(best, delay_days) - H * curvature * (2 * step)**2
    if delay_days:
        # What lands after the horizon is worth nothing: nothing is spent in the last month.
        assert landed(delay_days)[-1] == 0 and got[-1] == 0


@pytest.fixture(scope="module")
def timing_search():
    sc = timing_scenario(45.0)
    options = dict(budget=BUDGET, period_months=1, spend_bounds={"a": (0.0, 12_000.0)}, contenders=4,
                   initial_reps=8, fresh_reps=10)
    with Evaluator(2, workers=2) as evaluator:
        calendar, d = optimize_over_time(sc, evaluator=evaluator, **options)
    with Evaluator(2, workers=1) as evaluator:
        rerun = optimize_over_time(sc, evaluator=evaluator, **options)
    return sc, calendar, d, rerun


def test_the_optimiser_on_the_funnel_model_chooses_the_closed_form_timing_within_delta(timing_search):
    sc, calendar, d, _ = timing_search
    best = closed_form_spend(45.0, 12_000.0)
    chosen = np.array(calendar["spend_month.a"])
    assert d.holds
    assert closed_form_value(chosen, 45.0) >= closed_form_value(best, 45.0) - d.delta
    # Today's flat plan is worse, and the fresh difference shows it.
    today = [BUDGET / H / 3] * H
    assert closed_form_value(today, 45.0) < closed_form_value(best, 45.0) - d.delta
    assert d.vs_today[1] > 0
    # The chosen plan's scenario runs the calendar's spend, and costs what the budget accounts.
    run = calendar["scenario"]
    assert list(run.plan.monthly_spend("a")) == pytest.approx(chosen)
    assert run.plan.budget.marketing == pytest.approx(calendar["cost"])
    # Every reported figure comes from fresh replications.
    assert (d.comparison.replications["replication"] >= FRESH_START).all()
    assert all((m["replication"] >= FRESH_START).all() for m in d.cash_monthly.values())


def test_the_same_seed_gives_the_same_calendar_and_numbers_on_one_worker_or_two(timing_search):
    _, calendar, d, (calendar1, d1) = timing_search
    assert calendar["lines"] == calendar1["lines"]
    assert (d.estimate, d.ci_low, d.ci_high, d.vs_today, d.vs_static) == \
        (d1.estimate, d1.ci_low, d1.ci_high, d1.vs_today, d1.vs_static)


def test_the_chosen_plan_is_a_scenario_sim_compare_takes(timing_search):
    sc, calendar, _, _ = timing_search
    both = sim.compare({"today": sc, "chosen": calendar["scenario"]}, reps=4, seed=3)
    assert set(both.alternatives.index) == {"today", "chosen"}


# -- the guarantee and the cash constraint over many seeds (known truth) ----------------------------------------

RUNWAY, CASH_P, TOY_DELTA, TOY_SEEDS = 60_000.0, 0.9, 2_000.0, 30


def plan_toy_scenario():
    return sim.parse_scenario({
        "name": "plan_toy", "horizon_months": 8, "gross_margin": 1.0,
        "channels": {"a": {"spend": 3000, "intent": {"a": 2, "b": 2},
                           "response": {"curve": "exponential", "max_leads": 200, "spend_scale": 3000}}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"work_hours": 0.01, "p_qualify": 1.0},
        "opportunities": {"stages": [{"name": "close", "duration_days": 0, "advance": 0.5}],
                          "deal": {"kind": "one_off", "value": 1000}},
        "roles": {"ae": {"fte": 2, "hiring_lead_days": 30, "cost_per_fte_year": 96000, "max_open_opportunities": 100}},
    })


TOY_LIMITS = {"budget": 400_000.0, "fixed": ["a"], "max_fte": {"ae": 5}}


@pytest.fixture(scope="module")
def toy_truth():
    """Every plan of the toy's space, enumerated: its exact mean and its exact chance of keeping the runway."""
    sc = plan_toy_scenario()
    space = plan_space(sc, **TOY_LIMITS)
    truth = {}
    for k in range(space.max_fte["ae"] - space.start_fte["ae"] + 1):
        for months in itertools.combinations_with_replacement(space.hire_months("ae"), k):
            plan = TimePlan.of(space.period_months, {}, {"ae": months})
            if space.feasible(plan):
                run = space.scenario(sc, plan)
                truth[months] = (float(plan_monthly_mean(run).sum()), plan_cash_probability(run, RUNWAY))
    return sc, truth


@pytest.fixture(scope="module")
def toy_searches(toy_truth):
    sc, _ = toy_truth
    out = []
    for seed in range(TOY_SEEDS):
        with Evaluator(seed, model=plan_toy) as evaluator:
            out.append(optimize_over_time(sc, runway=RUNWAY, cash_probability=CASH_P, delta=TOY_DELTA,
                                          approximate=plan_exact, evaluator=evaluator, **TOY_LIMITS))
    return out


def _rate_floor(p: float, n: int) -> float:
    return p - 3 * math.sqrt(p * (1 - p) / n)


def test_the_toy_space_makes_the_cash_constraint_bind(toy_truth):
    _, truth = toy_truth
    best_mean = max(truth, key=lambda m: truth[m][0])
    feasible = {m: v for m, v in truth.items() if v[1] >= CASH_P}
    best_feasible = max(feasible, key=lambda m: feasible[m][0])
    assert len(truth) > 100
    assert truth[best_mean][1] < CASH_P  # the unconstrained best breaks the runway
    assert truth[best_mean][0] - feasible[best_feasible][0] > 3 * TOY_DELTA


def test_the_choice_keeps_the_runway_and_is_within_delta_of_the_best_that_does_at_the_stated_rate(toy_truth,
                                                                                                  toy_searches):
    _, truth = toy_truth
    best = max(v[0] for v in truth.values() if v[1] >= CASH_P)  # brute force over the whole space
    good = 0
    for calendar, d in toy_searches:
        mean, p = truth[tuple(calendar["hires.ae"])]
        assert d.holds
        good += p >= CASH_P and mean >= best - d.delta
    assert good / TOY_SEEDS >= _rate_floor(0.95, TOY_SEEDS)


def test_the_cash_constraint_holds_whenever_it_is_reported_shown_at_the_stated_rate(toy_truth, toy_searches):
    sc, truth = toy_truth
    shown = held = 0
    for calendar, d in toy_searches:
        c = d.cash
        assert c["replications"] >= cash_replications(CASH_P, 0.95) == 29  # 0.9 ** 29 < 0.05
        # The share reported is the chosen plan's fresh replications that kept cash above -runway.
        fresh = d.cash_monthly[calendar["label"]]
        assert (fresh["replication"] >= FRESH_START).all()
        lowest = fresh.sort_values("month").groupby("replication")["contribution"].cumsum().groupby(
            fresh["replication"]).min()
        assert c["held"] == int((lowest >= -RUNWAY).sum()) and c["replications"] == len(lowest)
        if c["shown"]:
            shown += 1
            held += truth[tuple(calendar["hires.ae"])][1] >= CASH_P
    assert shown >= TOY_SEEDS // 2
    assert held / shown >= _rate_floor(0.95, shown)


def test_plans_left_out_for_the_cash_constraint_do_break_it(toy_truth, toy_searches):
    sc, truth = toy_truth
    space = plan_space(sc, **TOY_LIMITS)
    labels = {space.label(TimePlan.of(3, {}, {"ae": m})): m for m in truth}
    out = [labels[label.split(" (#")[0]] for _, d in toy_searches for label in d.infeasible]
    assert out  # the check does leave plans out
    wrong = sum(truth[m][1] >= CASH_P for m in out)
    assert wrong / len(out) <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / len(out))


def test_the_fresh_interval_covers_the_chosen_plans_true_mean_at_the_stated_rate(toy_truth, toy_searches):
    _, truth = toy_truth
    covered = sum(d.ci_low <= truth[tuple(c["hires.ae"])][0] <= d.ci_high for c, d in toy_searches)
    assert covered / TOY_SEEDS >= _rate_floor(0.95, TOY_SEEDS)


# -- the horizon bias --------------------------------------------------------------------------------------------


def test_without_a_terminal_value_a_short_horizon_favours_hiring_late_and_with_one_it_does_not():
    # Two more SDRs on the reference scenario, requested now or in month 9 (on top of today's month-3 hire).
    sc = sim.load_scenario(REFERENCE)
    plans = {"now": {"roles.sdr.hires": [{"month": 0, "fte": 2}, {"month": 3, "fte": 1}]},
             "month 9": {"roles.sdr.hires": [{"month": 3, "fte": 1}, {"month": 9, "fte": 2}]}}
    bias = horizon_bias(sc, plans, horizons=(12, 36))
    wide = bias.pivot_table(index=["horizon_months", "objective"], columns="plan", values="value")
    now_minus_late = wide["now"] - wide["month 9"]
    plain, full = "contribution", "contribution + pipeline + 5x ARR"
    assert now_minus_late[(12, plain)] < 0  # 12 months of contribution: hiring late looks better ...
    assert now_minus_late[(36, plain)] > 0  # ... 36 months show it is not,
    assert now_minus_late[(12, full)] > 0  # and a terminal value shows it at 12 months already.
    # Against a direct evaluation of the approximation at 12 months.
    for label, changes in plans.items():
        direct = sim.approximate(sc.replace({"horizon_months": 12, **changes}))
        assert wide.loc[(12, plain), label] == pytest.approx(direct["contribution"], rel=1e-12)
        terminal = 5 * direct["ending_arr"] + direct["open_pipeline_weighted_value"] * sc.gross_margin
        assert wide.loc[(12, full), label] == pytest.approx(direct["contribution"] + terminal, rel=1e-12)


def test_a_search_whose_largest_plan_is_too_big_is_refused_before_anything_runs():
    from sim.model.size import SizeError, estimate_size

    sc = sim.load_scenario(SMALL)
    space = plan_space(sc, max_fte={"ae": 20_000}, max_hires_month=20_000)
    assert estimate_size(space.largest(sc)).seats > 10_000  # the default limit on seats
    with pytest.raises(SizeError) as caught:
        optimize_over_time(sc, max_fte={"ae": 20_000}, max_hires_month=20_000)
    assert "the largest plan the search may try" in caught.value.lines()[0]
    # Within the limits, the largest plan is at least as big as every plan the search may try.
    space = plan_space(sc, period_months=6)
    top = estimate_size(space.largest(sc))
    for plan in plan_neighbours(today_plan(sc, space), space, 0.5, 1):
        size = estimate_size(space.scenario(sc, plan))
        assert size.draws <= top.draws and size.seats <= top.seats and size.tenures <= top.tenures
