"""Valid but extreme values (found by the property tests' exploration): each runs, or is refused naming its field.

Each of these once ended in a ZeroDivisionError or an OverflowError deep in the model.
"""

import math

import pytest
from paths import SCENARIOS

import sim


@pytest.mark.parametrize(("file", "changes", "refused"), [
    # A month noise so small that its square is 0: no noise, as with 0.
    ("teaching_minimal", {"channels.ads.rate_cv": 5e-324}, None),
    # A half-life below what days can hold: the chance decays at once.
    ("teaching_minimal", {"qualification.decay": {"half_life_hours": 5e-324}}, None),
    # A coefficient of variation no distribution can be drawn from.
    ("b2b_saas_inbound", {"customers.installed_mrr": {"dist": "lognormal", "mean": 500, "cv": 1e300}},
     "customers.installed_mrr.cv"),
    ("teaching_minimal", {"opportunities.deal.value": {"dist": "gamma", "mean": 500, "cv": 5e-324}},
     "opportunities.deal.value.cv"),
    # A salary so small that the budget buys more FTE than a number can count.
    ("small_services_firm", {"roles.ae.cost_per_fte_year": 5e-324}, "roles.ae.cost_per_fte_year"),
])
def test_an_extreme_value_runs_or_is_refused_naming_its_field(file, changes, refused):
    scenario = sim.load_scenario(SCENARIOS / f"{file}.yaml")
    if refused is not None:
        with pytest.raises(sim.ScenarioError) as caught:
            scenario.replace(changes)
        assert [p for p, _ in caught.value.problems] == [refused]
        return
    result = sim.simulate(scenario.replace(changes), seed=1, lead_records=False)
    assert result.metrics["leads"] > 0
    assert all(not isinstance(v, float) or not math.isinf(v) for v in result.metrics.values() if v is not None)


def test_the_time_estimate_counts_the_ae_seats_each_sql_looks_through():
    # 8,333 AEs on a small firm's budget: every SQL looks through every seat, and the estimate says minutes.
    scenario = sim.load_scenario(SCENARIOS / "small_services_firm.yaml").replace({"roles.ae.cost_per_fte_year": 24})
    size = sim.estimate_size(scenario)
    assert size.seats == 8333 + sum(scenario.plan.roles[r].fte for r in scenario.plan.roles if r != "ae")
    assert size.seconds > 60
