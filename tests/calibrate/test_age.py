"""The age effect from CRM data, on known truth: a lead's age when first worked stretches its deal's days and
lowers its win chance (``opportunities.age_effect``); both recovered inside their 90% intervals at about the
stated rate, neither claimed where there is none beyond the test's 5%, and the calibrated scenario says how.

Cheap by design, as tests/calibrate/test_stages.py: one export whose leads take weeks in nurture before sales
works them (ages from 0 to about 80 days), its deals split at random into 30 independent groups (a deal's age,
days and outcome come from its own lead's uniforms and the AEs never bind), each group fitted on its own.
"""

import numpy as np
import pytest
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.age import _decay, _stretch, deal_ages
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL
from sim.calibrate.mapping import load_mapping
from sim.calibrate.tables import read_tables
from sim.calibrate.writer import scenario_text, validate

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
GROUPS = 30
STRETCH, HALF_LIFE, ADVANCE = 0.02, 20.0, 0.5


def aged(stretch, half_life):
    effect = {"duration_per_age_day": stretch, **({"half_life_days": half_life} if half_life else {})}
    return sim.parse_scenario({
        "name": "aged", "horizon_months": 10, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 900.0}},
        # Leads below the threshold wait in nurture, touched every 10 days, until their score reaches it.
        "scoring": {"score_noise": 0.1, "mql_threshold": 0.35},
        "nurture": {"touch_interval_days": 10.0, "touch_points": 0.05, "dropout": 0.05, "max_days": 150.0},
        "qualification": {"p_qualify": 0.4, "work_hours": 0.2},
        "opportunities": {"stages": [{"name": "close", "advance": ADVANCE,
                                      "duration_days": {"dist": "lognormal", "mean": 20, "cv": 0.6}}],
                          "deal": {"value": 1000.0}, "age_effect": effect},
        "roles": {"sdr": {"fte": 4}, "ae": {"fte": 50, "max_open_opportunities": 1000}},
    })


def fits(scenario):
    """Each group's (stretch, decay) fits."""
    read = read_tables(sim.crm_export(scenario, seed=5).tables(), MAPPING)
    deals = read.tables["deals"]
    end = deals["closed_date"].where(deals["closed_date"].notna(), read.cutoff)
    days = np.maximum((end - deals["created_date"]).dt.total_seconds().to_numpy() / 86400, 1e-3)
    event = np.where(deals["won"], 1, np.where(deals["lost"], 2, 0))
    age = deal_ages(deals, read.tables["leads"]).to_numpy()
    assert np.isfinite(age).all() and np.quantile(age, 0.9) > 30  # old leads enough to tell an effect
    group = np.random.default_rng(7).permutation(len(deals)) % GROUPS
    rng = np.random.default_rng(0)
    out = []
    for g in range(GROUPS):
        at = group == g
        decided = at & (event > 0)
        out.append((_stretch([(days[at], event[at] > 0, age[at])], rng),
                    _decay(age[decided], (event[decided] == 1).astype(float), rng)))
    return out


def floor(n):
    """The lowest count of n independent correct 90% intervals covering the truth, with probability 0.999."""
    return stats.binom.ppf(0.001, n, LEVEL)


@pytest.fixture(scope="module")
def with_effect():
    return fits(aged(STRETCH, HALF_LIFE))


def test_the_stretch_and_the_decay_are_covered_at_the_stated_rate(with_effect):
    stretch = sum(s["low"] <= STRETCH <= s["high"] for s, _ in with_effect)
    # A group whose decay fit runs to no decay at all (the boundary) has no interval: a miss.
    half_life = sum(d.get("low", np.inf) <= HALF_LIFE <= d.get("high", -np.inf) for _, d in with_effect)
    q0 = sum(d.get("q0_low", np.inf) <= ADVANCE <= d.get("q0_high", -np.inf) for _, d in with_effect)
    assert min(stretch, half_life, q0) >= floor(GROUPS), (stretch, half_life, q0)
    # Each group's row of draws: the q0 and half-life draws come from one joint fit, their medians the estimates.
    for s, d in (fit for fit in with_effect if "draws" in fit[1]):
        assert len(d["draws"]) == len(d["q0_draws"]) == len(s["draws"])
        assert d["low"] < np.median(d["draws"]) < d["high"] and s["low"] < np.median(s["draws"]) < s["high"]


def test_no_age_effect_is_claimed_no_more_often_than_the_tests_level():
    found = fits(aged(0.0, None))
    top = stats.binom.isf(0.001, GROUPS, 0.05)
    assert sum(s["p_value"] < 0.05 for s, _ in found) <= top
    assert sum(d["p_value"] < 0.05 for _, d in found) <= top
    assert sum(s["low"] == 0.0 for s, _ in found) >= floor(GROUPS)  # the interval reaches no stretch


@pytest.fixture(scope="module")
def calibrated():
    read = read_tables(sim.crm_export(aged(STRETCH, HALF_LIFE), seed=8).tables(), MAPPING)
    found = estimate_all(read, seed=0)
    return found, scenario_text(found, "aged")


def test_the_calibrated_scenario_writes_the_age_effect_and_fits_the_stages_for_a_fresh_lead(calibrated):
    found, text = calibrated
    by = {e.path: e for e in found["estimates"]}
    assert {"opportunities.age_effect.duration_per_age_day", "opportunities.age_effect.half_life_days"} <= set(by)
    assert "profile likelihood" in by["opportunities.age_effect.duration_per_age_day"].method
    scenario = validate(text)
    effect = scenario.opportunities.age_effect
    assert effect.shape == 1.0 and effect.half_life_days > 0 and effect.duration_per_age_day > 0
    stage = found["stages"][0]
    assert "of a fresh lead" in stage["duration"].method and "chance at age 0" in stage["advance"].method
    naive = float(stage["advance"].method.split("the population's own: ")[1].split(" ")[0])
    assert stage["advance"].estimate > naive  # the chance at age 0 is above the chance over the ages seen
    assert "# opportunities.age_effect.half_life_days:" in text and "age_effect:" in text
    # Lifted as uncertain settings (path -> draws), one row a replication.
    assert {"opportunities.age_effect.half_life_days", "opportunities.age_effect.duration_per_age_day"} <= set(
        scenario.uncertain)


def test_without_dated_leads_the_age_effect_is_not_identified():
    tables = sim.crm_export(aged(STRETCH, HALF_LIFE), seed=8).tables()
    only_deals = {"deals": tables["deals"]}
    mapping = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
    from sim.calibrate.mapping import parse_mapping

    columns = {k: v for k, v in mapping.tables["deals"].columns.items() if k != "lead_id"}
    deals_only = parse_mapping({"tables": {"deals": {"file": "deals.csv", "columns": columns, "won": ["won"],
                                                     "lost": ["lost"]}}})
    found = estimate_all(read_tables(only_deals, deals_only), seed=0)
    assert "age_effect" not in found or not found["age_effect"]
    assert any(p == "opportunities.age_effect" and "lead's age" in why for p, why in found["not_identified"])


@pytest.mark.parametrize("stretch", [0.02, 0.0])
def test_fixed_stage_days_give_the_stretch_exactly_or_say_why_not(stretch):
    """Days of 10 for every fresh lead: stretched, they are 10 (1 + k age) exactly; unstretched, nothing to fit."""
    scenario = aged(stretch, None).replace({"opportunities.stages.0.duration_days": 10.0, "channels.ads.leads": 200.0})
    found = estimate_all(read_tables(sim.crm_export(scenario, seed=1).tables(), MAPPING), seed=0)
    if stretch:
        e = found["age_effect"]["duration_per_age_day"]
        assert e.low <= stretch <= e.high and e.estimate == pytest.approx(stretch, rel=1e-5)
    else:
        why = dict(found["not_identified"])["opportunities.age_effect.duration_per_age_day"]
        assert "days do not vary" in why


def test_a_stage_that_nobody_left_does_not_hide_the_stretch_and_deals_are_counted_once():
    """A stage whose deals are all still in it says nothing of the stretch: left out, not a NaN likelihood."""
    rng = np.random.default_rng(3)
    age = rng.uniform(0, 60, 200)
    days = 10.0 * (1 + STRETCH * age) * rng.lognormal(0, 0.3, 200)
    stuck = (np.full(10, 5.0), np.zeros(10, dtype=bool), rng.uniform(0, 60, 10))  # 10 deals still in a later stage
    alone = _stretch([(days, np.ones(200, dtype=bool), age)], np.random.default_rng(0))
    both = _stretch([(days, np.ones(200, dtype=bool), age), stuck], np.random.default_rng(0), deals=200)
    assert alone["p_value"] < 1e-6 and both["p_value"] == alone["p_value"] and both["estimate"] == alone["estimate"]
    assert both["n"] == 200  # the deals, not their rows in every stage
