"""The fast approximation (docs/model.md, section 11) against independent references.

- Identities: the expected leads equal the response curve with carryover and lag written
  out by hand (and the DES's mean leads within Monte Carlo error); spend, salaries and the
  budget's accounting equal the DES's deterministic costs exactly.
- The queue in closed form against textbook formulas: Erlang C (M/M/n, no patience) from
  sums computed here, and the M/M/1+D abandonment probability.
- Every shipped scenario: the relative error of the key measures against DES means is
  within the bound written in docs/model.md, plus the Monte Carlo error of the means.
- The approximation draws no random numbers and gives the same numbers twice.

Kept cheap (a few seconds): few replications, the cheap scenarios, and the Monte Carlo
error in every tolerance.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from paths import DOCS, SCENARIOS
from scipy import integrate, special

from sim.model import simulate
from sim.model.fluid import APPROXIMATED, approximate, approximate_monthly
from sim.model.fluid_queue import _busy_period_density, queue_months
from sim.scenario import load_scenario
from sim.scenario.messages import ScenarioError
from sim.scenario.units import DAYS_PER_MONTH

# The shipped scenarios the approximation takes; it refuses segmented_inbound's segments and age effect
# (sim.model.fluid.unsupported: tested below).
REFUSED = {"segmented_inbound"}
SHIPPED = sorted(p for p in SCENARIOS.glob("*.yaml") if p.stem not in REFUSED)
# docs/model.md, section 11: the documented bound on the relative error of each key measure.
BOUNDS = {"leads": 0.02, "mqls": 0.02, "sqls": 0.10, "wins": 0.15, "bookings": 0.15, "revenue": 0.06,
          "ending_arr": 0.10, "cost.total": 0.03, "contribution": 0.10, "npv_contribution": 0.10}
# Contribution can be near zero: its error is measured against the larger of its mean and the total cost.
SCALED_BY_COST = ("contribution", "npv_contribution")
REPS = {"b2b_saas_inbound": 3, "enterprise_outbound": 8, "marketplace_sellers": 8}  # the costlier replications
DEFAULT_REPS = 12


def _des(scenario, reps):
    return [simulate(scenario, seed=seed, lead_records=False) for seed in range(reps)]


@pytest.fixture(scope="module", params=SHIPPED, ids=lambda p: p.stem)
def shipped(request):
    scenario = load_scenario(request.param)
    runs = _des(scenario, REPS.get(request.param.stem, DEFAULT_REPS))
    return scenario, runs


# -- identities --------------------------------------------------------------------------


def _leads_by_hand(channel, spend):
    """Expected leads a month from the written-out curve, carryover and lag (docs/model.md, 1)."""
    past = list(channel.history) + list(spend)
    acc, effective = 0.0, []
    for s in past:
        acc = channel.carryover * acc + (1 - channel.carryover) * s
        effective.append(acc)
    effective = [0.0] * channel.lag_months + effective
    window = effective[len(channel.history):len(channel.history) + len(spend)]
    r = channel.response
    out = []
    for s in window:
        if r is None:
            paid = 0.0
        elif r.curve == "hill":
            paid = r.max_leads * s**r.shape / (s**r.shape + r.half_spend**r.shape) if s > 0 else 0.0
        else:
            paid = r.max_leads * (1 - math.exp(-s / r.spend_scale))
        out.append(paid + channel.baseline_leads)
    return sum(out)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_expected_leads_per_channel_are_the_response_curve(path):
    scenario = load_scenario(path)
    fast = approximate(scenario)
    for name, ch in scenario.channels.items():
        by_hand = _leads_by_hand(ch, scenario.plan.monthly_spend(name))
        assert fast[f"leads.{name}"] == pytest.approx(by_hand, rel=1e-12)


def test_outbound_leads_without_attrition_are_rate_times_fte_months():
    scenario = load_scenario(SCENARIOS / "small_services_firm.yaml").replace({"roles.ae.attrition_year": 0.0})
    ae = scenario.roles.ae
    fte = scenario.plan.roles["ae"].fte
    assert approximate(scenario)["leads.outbound"] == pytest.approx(
        ae.outbound_leads_per_month * fte * scenario.horizon_months, rel=1e-12)


def test_expected_leads_match_the_des_mean_within_monte_carlo_error():
    scenario = load_scenario(SCENARIOS / "small_services_firm.yaml")  # with ramp and attrition of prospecting AEs
    leads = np.array([r.metrics["leads"] for r in _des(scenario, 30)], dtype=float)
    se = leads.std(ddof=1) / math.sqrt(len(leads))
    assert abs(approximate(scenario)["leads"] - leads.mean()) <= 4 * se + 0.005 * leads.mean()


def test_spend_and_salaries_equal_the_des_deterministic_costs():
    # Without attrition, headcount (day-one seats and every planned hire) is deterministic.
    scenario = load_scenario(SCENARIOS / "enterprise_outbound.yaml").replace(
        {"roles.sdr.attrition_year": 0.0, "roles.ae.attrition_year": 0.0, "roles.customer_success.attrition_year": 0.0})
    des = simulate(scenario, seed=3, lead_records=False).metrics
    fast = approximate(scenario)
    for key in ("cost.marketing_spend", "cost.salaries_sdr", "cost.salaries_ae", "cost.salaries_customer_success",
                "fte_months.sdr", "fte_months.ae", "fte_end.ae"):
        assert fast[key] == pytest.approx(des[key], rel=1e-12, abs=1e-9), key


def test_a_plan_form_budget_candidate_is_accounted_as_the_des_accounts_it():
    from sim.decide.search_space import neighbours, search_space, today_candidate

    base = load_scenario(SCENARIOS / "small_services_firm.yaml").replace({"roles.ae.attrition_year": 0.0})
    space = search_space(base)
    today = today_candidate(base, space)
    for cand in [today, *neighbours(today, space, {"ae": 1}, 0.1)]:
        scenario = space.scenario(base, cand)
        des = simulate(scenario, seed=1, lead_records=False).metrics
        fast = approximate(scenario)
        for key in ("budget_total", "budget_marketing", "budget_sales", "budget_unspent", "budget_vacancies",
                    "budget_fte_ae", "cost.marketing_spend", "cost.salaries_ae"):
            assert fast[key] == pytest.approx(des[key], rel=1e-12, abs=1e-6), key
        spent = fast["cost.marketing_spend"] + fast["cost.salaries_ae"] + fast["budget_vacancies"]
        assert spent + fast["budget_unspent"] == pytest.approx(fast["budget_total"], rel=1e-9)


# -- the queue in closed form ----------------------------------------------------------------


def _erlang_c(a, n):
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("lam", "n", "mu"), [(3.0, 4, 1.0), (30.0, 9, 4.0), (0.5, 2, 1.0), (11.0, 12, 1.0)])
def test_without_patience_the_chance_to_wait_is_erlang_c(lam, n, mu):
    # No max_wait_days: the patience is the horizon (two years here).
    qm = queue_months(np.array([lam]), np.array([float(n)]), np.array([mu]), 730.0, lambda x: np.ones_like(x),
                      "fifo", work_cv=1.0)
    assert qm.p_wait[0] == pytest.approx(_erlang_c(lam / mu, n), rel=1e-9)
    assert qm.p_cold[0] == pytest.approx(0.0, abs=1e-12)
    assert qm.served_decay[0] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize(("lam", "mu", "patience"), [(0.8, 1.0, 2.0), (1.5, 1.0, 0.7), (5.0, 6.0, 0.1)])
def test_m_m_1_with_deterministic_patience_loses_the_textbook_share(lam, mu, patience):
    # M/M/1+D: P(abandon) = (1 - rho) rho e^{-(mu - lam) D} / (1 - rho^2 e^{-(mu - lam) D}).
    rho, e = lam / mu, math.exp(-(mu - lam) * patience)
    expected = (1 - rho) * rho * e / (1 - rho**2 * e)
    qm = queue_months(np.array([lam]), np.array([1.0]), np.array([mu]), patience, lambda x: np.ones_like(x),
                      "fifo", work_cv=1.0)
    assert qm.p_cold[0] == pytest.approx(expected, rel=1e-9)
    # Every arrival is contacted or goes cold (no decay): the two add up to one.
    assert qm.served_decay[0] + qm.p_cold[0] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize(("lam", "nu"), [(2.0, 5.0), (20.0, 21.0), (3.0, 2.0)])
def test_the_busy_period_density_has_the_known_mass_and_mean(lam, nu):
    def f(x):
        return float(_busy_period_density(np.array([x]), np.array([lam]), np.array([nu]))[0])

    mass = integrate.quad(f, 0, np.inf, limit=400)[0]
    assert mass == pytest.approx(min(1.0, nu / lam), rel=1e-6)
    if lam < nu:
        mean = integrate.quad(lambda x: x * f(x), 0, np.inf, limit=400)[0]
        assert mean == pytest.approx(1.0 / (nu - lam), rel=1e-5)


def test_lifo_leads_that_wait_wait_a_busy_period():
    # Under LIFO a lead that must wait is served at the end of an M/M/1 busy period (lam, n mu).
    lam, n, mu, patience = 9.0, 3.0, 4.0, 0.5
    qm = queue_months(np.array([lam]), np.array([n]), np.array([mu]), patience, lambda x: np.ones_like(x),
                      "lifo", work_cv=1.0)
    cdf = integrate.quad(lambda x: float(_busy_period_density(np.array([x]), np.array([lam]),
                                                              np.array([n * mu]))[0]), 0, patience)[0]
    assert qm.p_cold[0] == pytest.approx(qm.p_wait[0] * (1 - cdf), rel=1e-6)
    assert 0 < qm.p_wait[0] < _erlang_c(lam / mu, 3)  # leads that go cold shorten the queue


# -- against the DES on every shipped scenario --------------------------------------------------


def test_the_documented_bounds_are_in_the_model_doc():
    text = (DOCS / "model.md").read_text()
    section = text[text.index("## 11. The fast approximation"):text.index("## Where the model departs")]
    for key, bound in BOUNDS.items():
        assert re.search(rf"\| `{re.escape(key)}` \|[^\n]*\| {round(100 * bound)}% \|", section), key


def test_key_measures_are_within_the_documented_error_of_the_des_means(shipped):
    scenario, runs = shipped
    fast = approximate(scenario)
    problems = []
    for key, bound in BOUNDS.items():
        values = np.array([r.metrics[key] for r in runs], dtype=float)
        mean = values.mean()
        se = values.std(ddof=1) / math.sqrt(len(values))
        scale = max(abs(mean), np.mean([r.metrics["cost.total"] for r in runs])) if key in SCALED_BY_COST \
            else abs(mean)
        t = special.stdtrit(len(values) - 1, 0.999)  # the Monte Carlo error of a mean of few replications
        if abs(fast[key] - mean) > bound * scale + t * se:
            problems.append(f"{key}: fluid {fast[key]:,.1f}, DES {mean:,.1f} +- {se:,.1f} (bound {bound:.0%})")
    assert not problems, problems


def test_the_monthly_series_has_the_des_columns_and_adds_up(shipped):
    scenario, runs = shipped
    monthly = approximate_monthly(scenario)
    assert list(monthly.columns) == list(runs[0].monthly.columns)
    fast = approximate(scenario)
    for column, key in (("leads", "leads"), ("mqls", "mqls"), ("sqls", "sqls"), ("wins", "wins"),
                        ("bookings", "bookings"), ("revenue", "revenue"), ("contribution", "contribution")):
        assert monthly[column].sum() == pytest.approx(fast[key], rel=1e-9)
    assert set(APPROXIMATED) <= set(fast)


# -- deterministic -----------------------------------------------------------------------------


def test_the_same_numbers_twice_and_no_random_numbers(monkeypatch):
    scenario = load_scenario(SCENARIOS / "b2b_saas_inbound.yaml")
    first = approximate(scenario)

    def refuse(*_args, **_kwargs):
        raise AssertionError("the approximation drew a random number")

    monkeypatch.setattr(np.random, "default_rng", refuse)
    monkeypatch.setattr(np.random, "SeedSequence", refuse)
    state = np.random.get_state()[1].copy()
    second = approximate(scenario)
    assert np.array_equal(np.random.get_state()[1], state)
    assert first == second
    assert all(math.isfinite(v) for v in second.values())


def test_no_team_means_no_wins_and_a_month_is_its_length():
    scenario = load_scenario(SCENARIOS / "teaching_minimal.yaml").replace({"roles.ae.fte": 0})
    fast = approximate(scenario)
    assert fast["wins"] == 0.0
    assert fast["sqls"] == 0.0
    assert DAYS_PER_MONTH == pytest.approx(365.25 / 12)


def test_the_shipped_scenarios_it_refuses_are_refused_one_line_per_feature():
    from sim.model.fluid import unsupported

    for name in REFUSED:
        scenario = load_scenario(SCENARIOS / f"{name}.yaml")
        assert unsupported(scenario)
        with pytest.raises(ScenarioError):
            approximate(scenario)
    assert not any(unsupported(load_scenario(p)) for p in SHIPPED)
