"""How big a replication is: the size estimate against the model's own counts, and the limits' refusals."""

import math
import time

import numpy as np
import pytest
from builders import make
from hypothesis import given
from hypothesis import strategies as st
from paths import SCENARIOS

import sim
from sim.model import run
from sim.model.size import LIMITS, SizeError, check_size, estimate_size, size_problems

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_scenario_is_within_the_default_limits(path):
    scenario = sim.load_scenario(path)
    size = check_size(scenario)  # raises if not
    assert size.draws >= size.leads > 0
    for name, count in size.counts().items():
        assert count <= LIMITS[name] / 10, f"{name}: the shipped scenarios should leave the limits far away"


def test_expected_leads_are_the_poisson_mean_of_the_channels():
    # No month noise and no prospecting: the leads of a replication are Poisson with the
    # channel rates' sum as mean, so the estimate is that mean exactly.
    scenario = make(horizon_months=4)
    size = estimate_size(scenario)
    leads = np.array([run(scenario, seed=s).leads for s in range(60)])
    se = math.sqrt(size.leads / len(leads))  # Poisson: variance = mean
    assert abs(leads.mean() - size.leads) < 4 * se
    # The draws are the cap's: max_leads a month, every month.
    assert size.draws == 400 * 4


def test_seats_are_the_plans_and_tenures_follow_attrition_with_backfill():
    # Without a hiring lead time a seat's leavers are a Poisson process of rate
    # attrition_year, so a seat's tenures are 1 + Poisson(attrition * years): the
    # estimate is their exact mean.
    scenario = make(horizon_months=12, roles__sdr={"fte": 6, "attrition_year": 3.0, "hiring_lead_days": 0,
                                                     "hires": [{"month": 2, "fte": 2}], "cost_per_fte_year": 1})
    size = estimate_size(scenario)
    records = [run(scenario, seed=s) for s in range(40)]
    assert size.seats == 8 + 2  # 8 SDR seats and the 2 AEs of the base
    assert all(len(r.seats["sdr"]) == 8 and len(r.seats["ae"]) == 2 for r in records)
    tenures = np.array([sum(len(seat.tenures) for seat in r.seats["sdr"]) for r in records], dtype=float)
    sdr_estimate = size.tenures - 2  # the AEs never leave: one tenure each
    # 6 seats for 12 months and 2 hired at month 2 (10 months): 1 + 3 * years each.
    years = scenario.horizon_days / 365.25
    assert sdr_estimate == pytest.approx(6 * (1 + 3 * years) + 2 * (1 + 3 * years), rel=1e-12)
    # The hires start at month 2, so they see fewer leavers than the estimate counts.
    hired_overcount = 2 * 3 * (2 * 30.436875) / 365.25
    se = tenures.std(ddof=1) / math.sqrt(len(tenures))
    assert abs(tenures.mean() - (sdr_estimate - hired_overcount)) < 4 * se
    assert tenures.mean() <= sdr_estimate + 4 * se


def test_ae_slots_are_seats_times_the_open_deal_limit():
    size = estimate_size(make(roles__ae={"fte": 3, "max_open_opportunities": 40, "cost_per_fte_year": 1}))
    assert size.ae_slots == 3 * 40


@pytest.mark.parametrize(("changes", "field", "limit"), [
    ({"channels__search__response__max_leads": 1e8}, "channels.search.response.max_leads", "leads"),
    ({"channels__search__response__max_leads": 1e308}, "channels.search.response.max_leads", "leads"),
    ({"channels__search__baseline_leads": 1e9}, "channels.search.baseline_leads", "leads"),
    ({"roles__ae__fte": 10**9}, "roles.ae.fte", "seats"),
    ({"roles__ae__max_open_opportunities": 10**9}, "roles.ae.max_open_opportunities", "ae_slots"),
    ({"roles__sdr__attrition_year": 1e6, "roles__sdr__hiring_lead_days": 0}, "roles.sdr.attrition_year", "tenures"),
    ({"customers": {"installed_base": 10**8}}, "customers.installed_base", "customers"),
])
def test_a_scenario_too_big_is_refused_at_once_naming_the_field(changes, field, limit):
    scenario = make(**changes)
    began = time.perf_counter()
    with pytest.raises(SizeError) as caught:
        sim.simulate(scenario, seed=1)
    assert time.perf_counter() - began < 5, "the refusal must come before any work"  # a hang guard, not a benchmark
    lines = caught.value.lines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{field}: one replication would need ")
    assert f'limits={{"{limit}": N}}' in lines[0]
    # Limits raised far enough let the check through (nothing is run here). Raising the
    # one named may uncover another that grows with it (tenures with seats).
    counts = estimate_size(scenario).counts()
    if all(map(math.isfinite, counts.values())):
        assert size_problems(scenario, {name: max(count * 2, LIMITS[name]) for name, count in counts.items()}) == []
        assert not any(p[1].endswith(f"{{limit_{limit}}}") for p in size_problems(scenario, {limit: counts[limit]}))


def test_the_fast_approximation_and_many_replications_refuse_it_too():
    scenario = make(roles__ae={"fte": 10**9, "cost_per_fte_year": 1})
    for call in (lambda: sim.approximate(scenario), lambda: sim.run_many(scenario, reps=2)):
        with pytest.raises(SizeError, match="roles.ae.fte"):
            call()


def test_a_comparison_names_each_alternative_too_big_before_running_any():
    small, big = make(), make(roles__ae={"fte": 10**6, "cost_per_fte_year": 1})
    with pytest.raises(SizeError) as caught:
        sim.compare({"small": small, "big": big, "bigger": big.replace({"roles.ae.fte": 10**7})}, reps=2)
    lines = caught.value.lines()
    assert [line.split(" would")[0] for line in lines] == [
        "roles.ae.fte: one replication (alternative big)", "roles.ae.fte: one replication (alternative bigger)"]


def test_limits_that_are_not_limits_are_named():
    problems = size_problems(make(), {"leeds": 10, "seats": -1})
    assert problems == [("limits", "'leeds' is not a limit; limits are " + ", ".join(LIMITS)),
                        ("limits", "seats must be a positive number, got -1")]


@given(fte=st.integers(0, 10**12), slots=st.integers(1, 10**9), base=st.integers(0, 10**12),
       max_leads=st.floats(0, 1e300), attrition=st.floats(0, 1e9), lead_days=st.floats(0, 1e4))
def test_the_check_is_instant_and_exact_about_its_limits(fte, slots, base, max_leads, attrition, lead_days):
    scenario = make(channels__search__response__max_leads=max_leads, customers={"installed_base": base},
                    roles__ae={"fte": fte, "max_open_opportunities": slots, "attrition_year": attrition,
                               "hiring_lead_days": lead_days, "cost_per_fte_year": 1})
    size = estimate_size(scenario)
    over = {name for name, count in size.counts().items() if count > LIMITS[name]}
    problems = size_problems(scenario)
    assert bool(problems) == bool(over)
    assert size.draws >= size.leads >= 0
    assert size.seats == fte + 2  # the base's 2 SDRs
