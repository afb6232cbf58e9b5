"""Every unit of a candidate's budget is accounted for: the optimiser runs candidates as plans (no simulation here)."""

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from paths import REFERENCE

import sim
from sim.decide.search_space import BudgetTooSmall, Candidate, search_space
from sim.decide.split import current_split
from sim.scenario import ScenarioError

REF = sim.load_scenario(REFERENCE)
CHANNELS = list(REF.channels)  # all four have a response curve
COST = {"sdr": REF.roles.sdr.cost_per_fte_year, "ae": REF.roles.ae.cost_per_fte_year}
YEARS = REF.horizon_months / 12


def test_a_candidate_buys_exactly_its_team_and_spends_the_rest_on_its_channels():
    total = 6_000_000.0
    space = search_space(REF, budget=total)
    salaries = (7 * 85_000 + 11 * 150_000) * 2
    rest = total - salaries
    cand = Candidate.of({"sdr": 7, "ae": 11}, {"paid_search": 0.5, "paid_social": 0.5, "content_organic": 0.0,
                                               "events_partners": 0.0})
    plan = space.scenario(REF, cand).plan
    assert dict(plan.budget.fte) == {"sdr": 7, "ae": 11}
    assert plan.roles["sdr"].fte == 7 and plan.roles["sdr"].hires == () and plan.roles["ae"].hires == ()
    assert plan.budget.unspent == 0 and plan.budget.total == total
    assert plan.budget.sales == pytest.approx(salaries, rel=1e-12)
    assert plan.monthly_spend("paid_search") == pytest.approx([rest / 2 / 24] * 24, rel=1e-12)
    assert plan.monthly_spend("content_organic").sum() == 0
    # A team that costs more than the budget is no plan: the scenario refuses it.
    space = search_space(REF, budget=1_000_000.0)
    assert not space.feasible({"sdr": 7, "ae": 11}, dict(cand.mix))
    with pytest.raises(ScenarioError) as info:
        space.scenario(REF, cand)
    assert [field for field, _ in info.value.problems] == ["budget.total"]
    assert "more than the total of 1,000,000" in str(info.value)


@given(budget=st.floats(0.3, 2.5), weights=st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
       team=st.tuples(st.floats(0, 1), st.floats(0, 1)),
       fixed=st.sets(st.sampled_from(["sdr", "ae", *CHANNELS])) | st.sets(st.sampled_from(["sdr", "ae"])).map(
           lambda roles: roles | set(CHANNELS)),  # often every channel fixed: then the rest is unspent
       low=st.floats(0, 0.6))
@settings(max_examples=60, deadline=None)
def test_every_candidate_accounts_for_exactly_its_budget(budget, weights, team, fixed, low):
    total = budget * current_split(REF).total
    try:
        space = search_space(REF, budget=total, fixed=sorted(fixed), bounds={"marketing_share": (low, 1.0)})
    except BudgetTooSmall:
        event("budget too small for the least team")
        return  # the least team and the fixed spend cost more than this budget: no candidate to account for
    # A team within the limits (fixed roles keep today's), a mix of the free channels.
    fte = {r: lo + round(u * (hi - lo)) for (r, (lo, hi)), u in zip(space.fte_bounds.items(), team, strict=False)}
    fte |= space.fixed_fte
    mix = {c: w for c, w in zip(CHANNELS, weights, strict=True) if c in space.free_channels}
    if mix and sum(mix.values()) == 0:
        mix = dict.fromkeys(mix, 1.0)
    cand = Candidate.of(fte, mix)
    salaries = sum(COST[r] * n * YEARS for r, n in fte.items())
    fixed_spend = sum(space.fixed_spend.values())
    free = total - salaries - fixed_spend
    if free < -1e-9 * total:
        event("team costs more than the budget")
        with pytest.raises(ScenarioError):
            space.scenario(REF, cand)
        return
    plan = space.scenario(REF, cand).plan
    account = plan.budget
    assert account.total == total
    assert account.marketing + account.sales + account.unspent == pytest.approx(total, rel=1e-12)
    assert account.sales == pytest.approx(salaries, rel=1e-12) and dict(account.fte) == fte
    assert account.marketing == pytest.approx(plan.marketing_spend, rel=1e-12)
    for c, spend in space.fixed_spend.items():
        assert plan.monthly_spend(c).sum() == pytest.approx(spend, rel=1e-12)
    event("accounted" + ("" if space.free_channels else ", every channel fixed"))
    if space.free_channels:
        assert account.unspent == 0  # the free channels take what the team and fixed spend leave
    else:
        assert account.unspent == pytest.approx(max(free, 0.0), rel=1e-9, abs=1e-6 * total)
