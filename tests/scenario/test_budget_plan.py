"""The budget block: what a split refuses, and that its accounting is exact.

Two forms (``sim.scenario.plan``): a *split* (``marketing_share`` with ``channel_mix`` and
``role_mix``) replaces the channels' spend and the roles' headcount; a *plan-form*
budget (``total`` alone) accounts for the plan as written and must cover it. The
references here are exact arithmetic (``fractions.Fraction``) on what the user wrote,
and the FTE-years of each seat worked out by hand.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from builders import edited
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario import ScenarioError, parse_scenario
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR, ROUND_OFF

REL = 1e-9  # money identities hold to round-off

ROLES = ("sdr", "ae", "customer_success")


def _split_data(total, share, channel_mix, role_mix, horizon=12, costs=(60000, 120000, 90000), ftes=(2, 2, 1)):
    """A small scenario (builders.BASE) with three channels, three paid roles and a budget split."""
    return edited(
        horizon_months=horizon,
        channels={
            "search": {"spend": 10000, "response": {"curve": "hill", "max_leads": 40, "half_spend": 10000}},
            "brand": {"spend": 500, "response": {"curve": "exponential", "max_leads": 20, "spend_scale": 3000}},
            "seo": {"baseline_leads": 5},  # spends nothing, has no curve: outside the split, and fine
        },
        roles={name: {"fte": fte, "cost_per_fte_year": cost} for name, fte, cost in zip(ROLES, ftes, costs,
                                                                                         strict=True)},
        budget={"total": total, "marketing_share": share, "channel_mix": channel_mix, "role_mix": role_mix},
    )


def _problems(data) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    for line in info.value.lines():
        assert "\n" not in line
    return info.value.problems


# ---------------------------------------------------------------------------------
# What a split refuses: spend or paid headcount it would leave outside the budget.


def test_a_channel_that_spends_but_has_no_weight_in_the_split_is_refused():
    data = _split_data(1_000_000, 0.3, {"search": 1}, {"sdr": 1, "ae": 1, "customer_success": 1})
    ((field, message),) = _problems(data)
    assert field == "channels.brand.spend"
    assert "budget.channel_mix gives brand no weight" in message
    # A weight of 0 says "no spend" and is accepted: the split sets its spend to zero.
    data["budget"]["channel_mix"]["brand"] = 0
    sc = parse_scenario(data)
    assert sc.plan.spend["brand"] == (0.0,) * 12
    assert sc.plan.spend["seo"] == (0.0,) * 12
    # So is a channel whose own spend is zero throughout.
    data["budget"]["channel_mix"].pop("brand")
    data["channels"]["brand"]["spend"] = [0, 0]
    assert parse_scenario(data).plan.spend["brand"] == (0.0,) * 12


@pytest.mark.parametrize("staffed", [{"fte": 3}, {"fte": 0, "hires": [{"month": 2}]}], ids=["fte", "hires"])
def test_a_paid_staffed_role_without_weight_in_the_split_is_refused(staffed):
    data = _split_data(1_000_000, 0.3, {"search": 1, "brand": 1}, {"ae": 1, "customer_success": 1})
    data["roles"]["sdr"] = {"cost_per_fte_year": 60000, **staffed}
    ((field, message),) = _problems(data)
    assert field == "roles.sdr.fte"
    assert "budget.role_mix gives sdr no weight" in message


def test_a_role_outside_the_split_is_fine_when_unpaid_or_unstaffed_and_keeps_its_team():
    data = _split_data(1_000_000, 0.3, {"search": 1, "brand": 1}, {"ae": 1})
    data["roles"]["sdr"] = {"fte": 3, "hires": [{"month": 1}]}  # no cost: not the budget's
    data["roles"]["customer_success"] = {"fte": 0, "cost_per_fte_year": 90000}  # paid, nobody in it
    plan = parse_scenario(data).plan
    assert plan.roles["sdr"].fte == 3 and plan.roles["sdr"].hires == ((1, 1),)
    assert plan.roles["customer_success"].fte == 0
    assert "sdr" not in plan.budget.fte
    assert plan.budget.fte["customer_success"] == 0 and plan.budget.salaries["customer_success"] == 0


def test_every_left_out_channel_and_role_is_reported_at_once():
    data = _split_data(1_000_000, 0.3, {"search": 1}, {"ae": 1})
    assert sorted(f for f, _ in _problems(data)) == ["channels.brand.spend", "roles.customer_success.fte",
                                                     "roles.sdr.fte"]


@pytest.mark.parametrize("mixes", [["channel_mix"], ["role_mix"], ["channel_mix", "role_mix"]])
def test_a_mix_without_marketing_share_is_refused(mixes):
    data = edited(budget={"total": 10_000_000, **{m: {"search": 1} if m == "channel_mix" else {"ae": 1}
                                                  for m in mixes}})
    problems = _problems(data)
    assert sorted(f for f, _ in problems) == sorted(f"budget.{m}" for m in mixes)
    assert all("marketing_share" in message for _, message in problems)


def test_all_zero_mixes_are_refused_only_when_they_would_leave_money_unsplit():
    zero_ch, zero_roles = {"search": 0, "brand": 0}, {"sdr": 0, "ae": 0, "customer_success": 0}
    assert [f for f, _ in _problems(_split_data(1e6, 0.3, zero_ch, {"ae": 1, "sdr": 0, "customer_success": 0}))] \
        == ["budget.channel_mix"]
    assert [f for f, _ in _problems(_split_data(1e6, 0.3, {"search": 1, "brand": 0}, zero_roles))] \
        == ["budget.role_mix"]
    # Nothing to split on that side: accepted, and nothing is spent there.
    all_sales = parse_scenario(_split_data(1e6, 0.0, zero_ch, {"ae": 1, "sdr": 0, "customer_success": 0})).plan
    assert all_sales.marketing_spend == 0 and all_sales.budget.marketing == 0
    all_marketing = parse_scenario(_split_data(1e6, 1.0, {"search": 1, "brand": 3}, zero_roles)).plan
    assert all_marketing.budget.fte == {"sdr": 0, "ae": 0, "customer_success": 0}
    assert all_marketing.budget.unspent == 0
    nothing = parse_scenario(_split_data(0, 0.5, zero_ch, zero_roles)).plan
    assert nothing.budget.total == nothing.budget.marketing == nothing.budget.sales == nothing.budget.unspent == 0


# ---------------------------------------------------------------------------------
# A split's accounting, exactly.
#
# The reference is the exact value of what the user wrote: the share in hundredths
# (0.4 is 2/5, although the double 0.4 is 0.40000000000000002), whole weights and
# costs. A role's FTE is floor(part / (cost_per_fte_year * horizon_months / 12)) of
# that exact value, with the forgiving rule of sim.scenario.units.whole: a count that
# is a whole number as written (1e6 * (1 - 0.4) / 100000 is 6) must give that number,
# although the model computes it in doubles, where it may come out a few ulps below
# (5.999999999999999). Any count that is not whole as written lies at least
# 1 / (100 * sum(weights) * cost * horizon) > 1e-12 away from a whole number with these
# inputs, so for counts below about 30 the forgiving floor(x + ROUND_OFF * max(1, x)) of
# the exact x is floor(x) there, and the rule only decides the exact cases; above, the
# test applies the same rule to the exact x as whole() does to the double.


@st.composite
def splits(draw):
    horizon = draw(st.integers(1, 36))
    # Any share; often one whose double makes the sales part come out a little low (0.56 is 0.56000000000000005).
    hundredths = draw(st.one_of(st.integers(0, 100), st.sampled_from([54, 55, 56, 67, 68, 81])))
    channel_mix = {"search": draw(st.integers(0, 9)), "brand": draw(st.integers(0, 9))}
    role_mix = dict(zip(ROLES, draw(st.lists(st.integers(0, 9), min_size=3, max_size=3)), strict=True))
    costs = tuple(draw(st.lists(st.integers(20_000, 300_000), min_size=3, max_size=3)))
    if hundredths < 100 and draw(st.booleans()):
        # A case where one role's part buys a whole number n of FTE exactly, as written: its cost is a
        # multiple of 12 * (100 - hundredths) * weight, so the total that buys n FTE is a whole number.
        role = draw(st.sampled_from(ROLES))
        role_mix[role] = max(role_mix[role], 1)
        unit = 12 * (100 - hundredths) * role_mix[role]
        cost = unit * draw(st.integers(-(-20_000 // unit), 300_000 // unit))
        costs = tuple(cost if r == role else c for r, c in zip(ROLES, costs, strict=True))
        n = draw(st.integers(0, 40))
        exact = Fraction(n * cost * horizon, 12) * sum(role_mix.values()) / role_mix[role] / (1 - Fraction(hundredths,
                                                                                                          100))
        assert exact.denominator == 1
        total = int(exact)
    else:
        total = draw(st.integers(0, 10**7))
    return total, hundredths, channel_mix, role_mix, horizon, costs


def _refusals(total, share, channel_mix, role_mix) -> list[str]:
    out = []
    if share > 0 and total > 0 and sum(channel_mix.values()) == 0:
        out.append("budget.channel_mix")
    if share < 1 and total > 0 and sum(role_mix.values()) == 0:
        out.append("budget.role_mix")
    return out


@settings(max_examples=200, deadline=None)
@given(splits())
def test_a_split_accounts_for_every_unit_of_the_budget_exactly(case):
    total, hundredths, channel_mix, role_mix, horizon, costs = case
    share = hundredths / 100
    rw = sum(role_mix.values())
    data = _split_data(total, share, channel_mix, role_mix, horizon=horizon, costs=costs)
    refused = _refusals(total, hundredths / 100, channel_mix, role_mix)
    if refused:
        assert sorted(f for f, _ in _problems(data)) == refused
        return
    sc = parse_scenario(data)
    plan, account = sc.plan, sc.plan.budget
    T, s = Fraction(total), Fraction(hundredths, 100)
    # The plan identity.
    assert math.isclose(account.marketing + account.sales + account.unspent, account.total, rel_tol=REL,
                        abs_tol=REL)
    assert account.total == total
    assert account.sales == pytest.approx(sum(account.salaries.values()), rel=1e-12, abs=1e-9)
    assert account.unspent >= 0
    # Spend: total * share * w / sum(w) / H in every month, for every channel of the mix.
    cw = sum(channel_mix.values())
    for name, w in channel_mix.items():
        monthly = float(T * s * w / cw / horizon) if cw else 0.0
        assert len(plan.spend[name]) == horizon
        for x in plan.spend[name]:
            assert x == pytest.approx(monthly, rel=1e-12, abs=1e-12)
    assert plan.spend["seo"] == (0.0,) * horizon
    assert account.marketing == pytest.approx(float(T * s) if cw else 0.0, rel=1e-12, abs=1e-9)
    # Headcount: whole FTE of each role's part, day one, no hires.
    for role, cost in zip(ROLES, costs, strict=True):
        part = T * (1 - s) * role_mix[role] / rw if rw else Fraction(0)
        per_fte = Fraction(cost) * horizon / 12
        x = part / per_fte
        expected = math.floor(x + Fraction(ROUND_OFF) * max(1, x))  # the forgiving rule of whole()
        assert account.fte[role] == expected, (role, x)
        assert plan.roles[role].fte == expected and plan.roles[role].hires == ()
        assert account.salaries[role] == pytest.approx(float(expected * per_fte), rel=1e-12, abs=1e-9)
    # What is left is less than one more seat of each funded role (the floors), and never negative.
    funded = sum(float(Fraction(c) * horizon / 12) for r, c in zip(ROLES, costs, strict=True) if role_mix[r])
    assert account.unspent <= funded * (1 + 1e-12) + REL * total


def test_a_whole_number_of_fte_as_written_is_that_number():
    # 3,000,000 * (1 - 0.55) = 1,350,000 for sales, all of it for AEs at 50,000 a year: 27 FTE exactly as
    # written, but 26.999999999999996 in doubles.
    assert int((3_000_000 - 3_000_000 * 0.55) / (50_000 * (12 / 12))) == 26  # the hard case, in doubles
    data = _split_data(3_000_000, 0.55, {"search": 1, "brand": 1}, {"sdr": 0, "ae": 1, "customer_success": 0},
                       costs=(60_000, 50_000, 90_000))
    account = parse_scenario(data).plan.budget
    assert account.fte == {"sdr": 0, "ae": 27, "customer_success": 0}
    assert account.unspent == 0


# ---------------------------------------------------------------------------------
# A plan-form budget: the spend and the team as written, accounted against the total.


def _salary_by_hand(role: dict, horizon: int) -> Fraction:
    """FTE-years of a role's seats (day-one seats all horizon, each hire from its start), times its cost."""
    dpm, dpy = Fraction(DAYS_PER_MONTH), Fraction(DAYS_PER_YEAR)
    end = horizon * dpm
    years = role.get("fte", 0) * end / dpy
    for hire in role.get("hires", []):
        start = hire["month"] * dpm + Fraction(role.get("hiring_lead_days", 60.0))
        years += hire.get("fte", 1) * max(end - start, Fraction(0)) / dpy
    return Fraction(role.get("cost_per_fte_year", 0)) * years


@st.composite
def written_plans(draw):
    horizon = draw(st.integers(1, 24))
    spend = draw(st.lists(st.integers(0, 20_000), min_size=1, max_size=horizon))
    roles = {}
    for name in ROLES:
        if name != "ae" and draw(st.booleans()):
            continue
        roles[name] = {"fte": draw(st.integers(0, 4)), "cost_per_fte_year": draw(st.sampled_from([0, 55_000, 130_000])),
                       "hiring_lead_days": draw(st.sampled_from([0.0, 30.0, 75.5])),
                       "hires": [{"month": draw(st.integers(0, horizon - 1)), "fte": draw(st.integers(1, 2))}
                                 for _ in range(draw(st.integers(0, 2)))]}
    factor = draw(st.one_of(st.just(1.0), st.floats(1.0, 2.0), st.floats(0.0, 0.999)))
    return horizon, spend, roles, factor


@settings(max_examples=100, deadline=None)
@given(written_plans())
def test_a_plan_form_budget_accounts_for_the_plan_as_written(case):
    horizon, spend, roles, factor = case
    spend_total = sum(spend) + spend[-1] * (horizon - len(spend))  # the last month repeats
    salaries = {name: _salary_by_hand(role, horizon) for name, role in roles.items() if role["cost_per_fte_year"]}
    cost = spend_total + sum(salaries.values())
    total = float(cost) * factor
    data = edited(horizon_months=horizon, roles=roles, channels__search__spend=spend, budget={"total": total})
    if cost > 0 and factor < 1:
        ((field, message),) = _problems(data)
        assert field == "budget.total"
        assert f"the plan costs {float(cost):,.0f}" in message and "more than the total" in message
        return
    sc = parse_scenario(data)
    plan, account = sc.plan, sc.plan.budget
    # The plan is what was written: the schedule over the horizon, the team and its hires.
    assert plan.spend["search"] == tuple(float(x) for x in spend + [spend[-1]] * (horizon - len(spend)))
    for name, role in roles.items():
        assert plan.roles[name].fte == role["fte"]
        assert plan.roles[name].hires == tuple((h["month"], h["fte"]) for h in role["hires"])
    # Its accounting.
    assert account.total == total
    assert account.marketing == pytest.approx(spend_total, rel=1e-12, abs=1e-9)
    assert set(account.salaries) == set(salaries)
    for name, expected in salaries.items():
        assert account.salaries[name] == pytest.approx(float(expected), rel=1e-12, abs=1e-6)
        assert account.fte[name] == roles[name]["fte"] + sum(h["fte"] for h in roles[name]["hires"])
    assert math.isclose(account.marketing + account.sales + account.unspent, account.total, rel_tol=REL, abs_tol=REL)
    assert account.unspent == pytest.approx(total - float(cost), rel=1e-9, abs=1e-6)
    assert account.unspent >= 0  # a plan that fits to round-off fits exactly
