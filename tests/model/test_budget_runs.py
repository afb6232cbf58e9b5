"""Every unit of a budget is accounted for in every simulated run.

Per run: ``cost.marketing_spend == budget_marketing`` and ``cost.marketing_spend +
sum(cost.salaries_*) + budget_vacancies + budget_unspent == budget_total`` (to
round-off); with no attrition no seat stands empty, so ``budget_vacancies`` is 0 and
the salaries paid are the budget's ``budget_sales``. The vacancies are also worked out
a second way, from the employed FTE-months the run reports. Short horizons and small
volumes keep each run to a few milliseconds.
"""

from __future__ import annotations

import math

import pytest
from builders import make
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim

REL = 1e-9

ROLE_NAMES = ("sdr", "ae", "customer_success")


def _check_budget_identities(sc, m: dict) -> None:
    account = sc.plan.budget
    total = m["budget_total"]
    tol = REL * max(total, 1.0)
    assert total == account.total
    paid_roles = {name for name in ROLE_NAMES if getattr(sc.roles, name) is not None
                  and getattr(sc.roles, name).cost_per_fte_year > 0}
    # budget_fte_<role> for every role with a cost, and no other.
    assert {k.removeprefix("budget_fte_") for k in m if k.startswith("budget_fte_")} == paid_roles
    for name in paid_roles:
        assert m[f"budget_fte_{name}"] == account.fte[name] == sc.plan.roles[name].planned_fte
    salaries = sum(v for k, v in m.items() if k.startswith("cost.salaries_"))
    assert m["cost.marketing_spend"] == pytest.approx(m["budget_marketing"], rel=REL, abs=tol)
    assert m["cost.marketing_spend"] == pytest.approx(sc.plan.marketing_spend, rel=REL, abs=tol)
    assert m["cost.marketing_spend"] + salaries + m["budget_vacancies"] + m["budget_unspent"] == pytest.approx(
        total, rel=REL, abs=tol)
    assert m["budget_vacancies"] >= 0 and m["budget_unspent"] >= 0
    # Second method for the vacancies: the FTE-months the budget set aside minus those employed.
    horizon = sc.horizon_months
    set_aside, employed = 0.0, 0.0
    for name in paid_roles:
        cost = getattr(sc.roles, name).cost_per_fte_year
        assert m[f"cost.salaries_{name}"] == pytest.approx(m[f"fte_months.{name}"] * cost / 12, rel=1e-12, abs=1e-6)
        employed += m[f"fte_months.{name}"] * cost / 12
        set_aside += account.salaries[name]
    assert m["budget_sales"] == pytest.approx(set_aside, rel=1e-12)
    assert m["budget_vacancies"] == pytest.approx(max(set_aside - employed, 0.0), rel=1e-9, abs=tol)
    if all(getattr(sc.roles, name).attrition_year == 0 for name in paid_roles):
        # No leaver: every seat the budget pays for is filled from its start to the horizon.
        # (To round-off: the salaries are summed month by month; see the report.)
        assert m["budget_vacancies"] == pytest.approx(0.0, abs=tol)
        assert salaries == pytest.approx(m["budget_sales"], rel=REL, abs=tol)
    assert horizon == len(sc.plan.spend["search"])


def _role(draw, cost):
    return {"fte": 1, "cost_per_fte_year": cost, "attrition_year": draw(st.sampled_from([0.0, 0.0, 0.8, 4.0])),
            "backfill": draw(st.booleans()), "hiring_lead_days": draw(st.sampled_from([0.0, 20.0, 45.0])),
            "ramp_months": draw(st.sampled_from([0.0, 1.0]))}


@st.composite
def split_scenarios(draw):
    horizon = draw(st.integers(1, 4))
    channel_mix = {"search": draw(st.integers(0, 3)), "brand": draw(st.integers(0, 3))}
    if not any(channel_mix.values()):
        channel_mix["search"] = 1
    roles = {name: _role(draw, draw(st.sampled_from([48_000, 61_234.5, 130_000]))) for name in ROLE_NAMES}
    role_mix = {name: draw(st.integers(0, 3)) for name in ROLE_NAMES}
    if not any(role_mix.values()):
        role_mix["ae"] = 1
    budget = {"total": draw(st.integers(50_000, 300_000)), "marketing_share": draw(st.integers(5, 95)) / 100,
              "channel_mix": channel_mix, "role_mix": role_mix}
    return make(horizon_months=horizon, roles=roles, budget=budget,
                channels={"search": {"response": {"curve": "hill", "max_leads": 30, "half_spend": 10_000}},
                          "brand": {"response": {"curve": "exponential", "max_leads": 10, "spend_scale": 4000}}})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_scenarios(), st.integers(0, 2**32 - 1))
def test_a_split_budget_is_accounted_for_in_every_run(sc, seed):
    m = sim.simulate(sc, seed=seed, lead_records=False).metrics
    _check_budget_identities(sc, m)
    # The split's whole FTE start on day one: with no leaver the run ends with them.
    for name in ROLE_NAMES:
        if getattr(sc.roles, name).attrition_year == 0:
            assert m[f"fte_end.{name}"] == sc.plan.budget.fte[name]


@st.composite
def written_plans_with_budget(draw):
    horizon = draw(st.integers(1, 4))
    roles = {"ae": {**_role(draw, 120_000), "fte": draw(st.integers(0, 2)),
                    "hires": [{"month": draw(st.integers(0, horizon - 1)), "fte": draw(st.integers(1, 2))}]},
             "sdr": {**_role(draw, draw(st.sampled_from([0, 60_000]))), "fte": draw(st.integers(0, 2))}}
    spend = draw(st.lists(st.integers(0, 20_000), min_size=1, max_size=horizon))
    loose = make(horizon_months=horizon, roles=roles, channels__search__spend=spend)
    # A total the plan fits in: its cost as written (worked out by the plan of a budget of 10**9), plus slack.
    cost_sc = loose.replace({"budget": {"total": 1e9}})
    cost = cost_sc.plan.budget.marketing + cost_sc.plan.budget.sales
    slack = draw(st.sampled_from([0.0, 0.25, 3.0]))
    return loose.replace({"budget": {"total": cost * (1 + slack)}})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(written_plans_with_budget(), st.integers(0, 2**32 - 1))
def test_a_plan_form_budget_is_accounted_for_in_every_run(sc, seed):
    assert sc.budget.marketing_share is None
    m = sim.simulate(sc, seed=seed, lead_records=False).metrics
    _check_budget_identities(sc, m)
    # The plan as written ran: its spend, its team and its hires.
    assert m["cost.marketing_spend"] == pytest.approx(sum(sc.plan.spend["search"]), rel=1e-12)


def test_no_attrition_means_no_vacancy_and_attrition_makes_some():
    # The same split, once with leavers who are not replaced: the empty seats' salaries are vacancies,
    # the FTE-months not worked at each role's cost.
    split = {"total": 400_000, "marketing_share": 0.25, "channel_mix": {"search": 1}, "role_mix": {"sdr": 1, "ae": 1}}
    roles = {"sdr": {"cost_per_fte_year": 60_000}, "ae": {"cost_per_fte_year": 120_000}}
    steady = make(horizon_months=6, budget=split, roles=roles)
    leaving = make(horizon_months=6, budget=split,
                   roles={name: {**r, "attrition_year": 6.0, "backfill": False} for name, r in roles.items()})
    a = sim.simulate(steady, seed=3, lead_records=False).metrics
    b = sim.simulate(leaving, seed=3, lead_records=False).metrics
    for sc, m in ((steady, a), (leaving, b)):
        _check_budget_identities(sc, m)
    assert a["budget_vacancies"] == pytest.approx(0.0, abs=1e-9 * a["budget_total"])
    assert b["budget_vacancies"] > 0
    lost_months = {name: 6 * b[f"budget_fte_{name}"] - b[f"fte_months.{name}"] for name in ("sdr", "ae")}
    # 5 SDR and 2 AE seats; a rep stays 6 months with probability e^-3, so someone leaves each role
    # with probability 1 - e^-15 and 1 - e^-6.
    assert all(x > 0 for x in lost_months.values())
    assert math.isclose(b["budget_vacancies"], lost_months["sdr"] * 5000 + lost_months["ae"] * 10_000, rel_tol=1e-9)
