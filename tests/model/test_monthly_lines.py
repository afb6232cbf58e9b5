"""The monthly series' cost lines add up to the month's costs, and over the months to the cost measures."""

import numpy as np
import pytest
from paths import SCENARIOS

import sim
from sim.model import approximate, approximate_monthly


@pytest.mark.parametrize("name", ["b2b_saas_inbound", "enterprise_outbound"])
def test_the_lines_add_up_to_the_costs_each_month_and_to_the_measures_over_the_horizon(name):
    sc = sim.load_scenario(SCENARIOS / f"{name}.yaml")
    result = sim.simulate(sc, seed=2, lead_records=False)
    for monthly, m in ((result.monthly, result.metrics), (approximate_monthly(sc), approximate(sc))):
        lines = monthly["marketing_spend"] + monthly["salaries"] + monthly["commissions"] + monthly["other_costs"]
        assert np.allclose(lines, monthly["costs"], rtol=1e-12, atol=1e-6)
        salaries = sum(v for k, v in m.items() if k.startswith("cost.salaries_"))
        assert monthly["salaries"].sum() == pytest.approx(salaries, rel=1e-9)
        assert monthly["commissions"].sum() == pytest.approx(m["cost.commissions"], rel=1e-9)
        other = m["cost.lead_costs"] + m["cost.nurture"] + m["cost.sdr_bonuses"]
        assert monthly["other_costs"].sum() == pytest.approx(other, rel=1e-9)
