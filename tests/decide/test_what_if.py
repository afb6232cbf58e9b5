"""What-if over any setting: alternatives from paths into the scenario, checked against the scenario and the model.

- Each alternative is the scenario with that path set, validated whole (the same
  fingerprint as ``scenario.replace``), the grid is every combination, and a value
  equal to today's is merged with today, not compared with it.
- A sweep over a channel's spend gives leads whose means are the response curve's
  Poisson means (a closed form), within the Monte Carlo error.
- Every wrong path or value is one problem naming the path, before anything runs.
"""

import math

import numpy as np
import pytest
from paths import SCENARIOS, TEACHING

import sim
from sim.decide.compare import CompareError
from sim.decide.what_if import alternatives_of, is_split_setting, short_names, value_at
from sim.montecarlo.store import scenario_fingerprint

REFERENCE = SCENARIOS / "b2b_saas_inbound.yaml"


def test_each_alternative_is_the_scenario_with_its_values_and_the_grid_is_every_combination():
    sc = sim.load_scenario(TEACHING)
    grid = {"roles.ae.fte": [2, 3], "qualification.decay.half_life_hours": [6, 12, 48],
            "qualification.discipline": ["lifo"]}
    alts = alternatives_of(sc, grid)
    assert alts[0].label == "today" and alts[0].scenario is sc
    assert alts[0].settings == {"roles.ae.fte": 2.0, "qualification.decay.half_life_hours": 24.0}
    assert len(alts) == 1 + 2 * 3 * 1
    seen = set()
    for alt in alts[1:]:
        fte = int(alt.settings["roles.ae.fte"])
        half = alt.settings["qualification.decay.half_life_hours"]
        expected = sc.replace({"roles.ae.fte": fte, "qualification.decay.half_life_hours": half,
                               "qualification.discipline": "lifo"})
        assert scenario_fingerprint(alt.scenario) == scenario_fingerprint(expected)
        assert alt.label == f"fte={fte}, half_life_hours={half:g}, discipline=lifo"
        assert "qualification.discipline" not in alt.settings  # words are in the label, numbers in the settings
        seen.add((fte, half))
    assert seen == {(f, h) for f in (2, 3) for h in (6, 12, 48)}


def test_split_settings_and_paths_combine():
    sc = sim.load_scenario(SCENARIOS / "small_services_firm.yaml")
    alts = alternatives_of(sc, {"marketing_share": [0.2, 0.3], "scoring.mql_threshold": [0.5]})
    assert [a.label for a in alts] == ["today", "marketing 20%, mql_threshold=0.5", "marketing 30%, mql_threshold=0.5"]
    for alt, share in zip(alts[1:], (0.2, 0.3), strict=True):
        assert alt.scenario.scoring.mql_threshold == 0.5
        assert alt.scenario.budget.marketing_share == pytest.approx(share)
        assert alt.settings["marketing_share"] == pytest.approx(share)


def test_short_names_are_the_shortest_unambiguous_endings():
    assert short_names(["qualification.decay.half_life_hours"]) == {"qualification.decay.half_life_hours":
                                                                    "half_life_hours"}
    assert short_names(["roles.sdr.fte", "roles.ae.fte"]) == {"roles.sdr.fte": "sdr.fte", "roles.ae.fte": "ae.fte"}
    two = short_names(["opportunities.stages.0.advance", "opportunities.stages.1.advance"])
    assert two == {"opportunities.stages.0.advance": "stages.0.advance",
                   "opportunities.stages.1.advance": "stages.1.advance"}
    assert value_at(sim.load_scenario(TEACHING), "opportunities.stages.0.name") == "close"
    assert value_at(sim.load_scenario(TEACHING), "roles.nosuch.fte") is None
    assert is_split_setting("channel_share.ads") and not is_split_setting("channels.ads.spend")


def test_every_wrong_path_or_value_is_one_problem_naming_the_path():
    sc = sim.load_scenario(TEACHING)
    with pytest.raises(CompareError) as caught:
        alternatives_of(sc, {"roles.ae.ftee": [3], "roles.ae.fte": [2.5, -1, 3],
                             "qualification.discipline": ["fifo", "nope"], "scoring.mql_threshold": []})
    lines = caught.value.lines()
    assert [line.split(":")[0] for line in lines] == ["scoring.mql_threshold", "roles.ae.ftee", "roles.ae.fte",
                                                      "roles.ae.fte", "qualification.discipline"]
    assert "unknown key" in lines[1] and "2.5" in lines[2] and "-1" in lines[3] and "nope" in lines[4]


def test_values_fine_alone_and_refused_together_are_named():
    sc = sim.load_scenario(TEACHING)
    with pytest.raises(CompareError) as caught:  # each a valid share alone; together at least 1
        alternatives_of(sc, {"roles.ae.prospecting_share": [0.6], "roles.ae.account_care_share": [0.5]})
    line = caught.value.lines()[0]
    assert line.startswith("roles.ae.prospecting_share: with roles.ae.prospecting_share=0.6, "
                           "roles.ae.account_care_share=0.5: roles.ae: ")


def test_a_value_equal_to_todays_is_merged_with_today_and_a_sweep_recovers_the_poisson_means_of_the_leads():
    sc = sim.load_scenario(TEACHING)
    spends = [2500, 5000, 10000]  # 5,000 is today's
    reps = 12
    swept = sim.sweep(sc, {"channels.ads.spend": spends}, reps=reps, seed=3)
    assert swept.merged == {"today": ["spend=5000"]}
    assert list(swept.alternatives.index) == ["today", "spend=2500", "spend=10000"]
    assert swept.dimensions == ["channels.ads.spend"]
    curve = sc.channels["ads"].response
    leads = swept.replications.pivot(index="replication", columns="alternative", values="leads")
    for label, spend in (("today", 5000), ("spend=2500", 2500), ("spend=10000", 10000)):
        expected = sc.horizon_months * curve.max_leads * spend / (spend + curve.half_spend)  # hill, shape 1
        sd = math.sqrt(expected)  # Poisson counts, no month noise in this scenario
        assert abs(leads[label].mean() - expected) <= 4 * sd / math.sqrt(reps), label
    # Common random numbers: more spend sees a superset of the leads of less spend.
    assert (np.diff(leads[["spend=2500", "today", "spend=10000"]].to_numpy(), axis=1) >= 0).all()


def test_a_sweep_refuses_words_and_more_than_two_settings():
    sc = sim.load_scenario(TEACHING)
    with pytest.raises(CompareError, match="a sweep varies numbers"):
        sim.sweep(sc, {"qualification.discipline": ["fifo", "lifo"]}, reps=2)
    with pytest.raises(CompareError, match="one or two settings"):
        sim.sweep(sc, {"roles.ae.fte": [2], "scoring.mql_threshold": [0.3], "channels.ads.spend": [1]}, reps=2)
