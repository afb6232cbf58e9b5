"""A CRM's channel ``outbound`` (the leads reps prospect) calibrates as the model's outbound leads per FTE-month.

Known truth: SDRs who prospect 20 leads per FTE-month, a headcount that grows by a hire; the rate recovered
inside its 90% interval at the stated rate over many exports, the calibrated scenario valid (the name
``outbound`` is not a marketing channel of it) and reproducing the outbound leads of the training months.
"""

import numpy as np
import pytest
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL, lead_volumes
from sim.calibrate.mapping import load_mapping
from sim.calibrate.outbound import outbound_leads
from sim.calibrate.tables import read_tables
from sim.calibrate.volumes import fte_schedule, team_by_month
from sim.calibrate.writer import scenario_text, validate

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
RATE = 20.0  # outbound leads per SDR FTE-month
SEEDS = 40


def prospecting(months=6, inbound=5.0):
    return sim.parse_scenario({
        "name": "prospecting", "horizon_months": months, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": inbound}},
        "qualification": {"p_qualify": 0.5, "work_hours": 0.1},
        "opportunities": {"stages": [{"name": "close", "advance": 0.4, "duration_days": 15}],
                          "deal": {"value": 1000.0}},
        "roles": {"sdr": {"fte": 2, "hires": [{"month": 1, "fte": 1}], "hiring_lead_days": 10,
                          "outbound_leads_per_month": RATE, "prospecting_share": 0.1},
                  "ae": {"fte": 5, "max_open_opportunities": 1000}},
    })


def rate_of(read, rng):
    """The outbound rate as calibrate estimates it, from the leads and the headcount alone (cheap)."""
    vols, start, months = lead_volumes(read.tables["leads"], read.cutoff, rng)
    found = {"estimates": list(vols), "not_identified": [], "start": start, "months": months,
             "team": team_by_month(read.tables["headcount"]), "reps": {"sdr": 3.0, "ae": 5.0}}
    outbound_leads(found, rng)
    assert found["outbound"]["role"] == "sdr" and not any(e.path.startswith("channels.outbound")
                                                          for e in found["estimates"])
    return found["outbound"]["rate"], found


def test_the_outbound_rate_is_covered_at_the_stated_rate():
    scenario = prospecting()
    inside = 0
    for seed in range(SEEDS):
        rate, _ = rate_of(read_tables(sim.crm_export(scenario, seed=seed).tables(), MAPPING),
                          np.random.default_rng(seed))
        inside += rate.low <= RATE <= rate.high
    assert stats.binom.ppf(0.001, SEEDS, LEVEL) <= inside <= stats.binom.isf(0.001, SEEDS, LEVEL), inside


def test_the_rate_times_the_fte_months_is_the_count_of_outbound_leads():
    read = read_tables(sim.crm_export(prospecting(), seed=1).tables(), MAPPING)
    rate, found = rate_of(read, np.random.default_rng(0))
    leads = read.tables["leads"]
    first = leads["created_date"].min().to_period("M")
    month = leads["created_date"].dt.to_period("M")
    count = int(((leads["channel"] == "outbound") & (month < first + found["months"])).sum())
    # Over the whole FTE the calibrated scenario has (its fte_by_month), so that the scenario gives the count back.
    schedule = fte_schedule(found, found["team"]["sdr"])[0]
    fte_months = sum(schedule[min(k, len(schedule) - 1)] for k in range(found["months"]))
    assert rate.n == count and rate.estimate == pytest.approx(count / fte_months, rel=1e-12)
    table = dict(found["team"]["sdr"])
    assert any(abs(table[str(first + k)] - schedule[k]) > 0.1 for k in range(found["months"]))  # a hire mid-month


@pytest.fixture(scope="module")
def calibrated():
    read = read_tables(sim.crm_export(prospecting(months=8, inbound=20.0), seed=4).tables(), MAPPING)
    found = estimate_all(read, seed=0)
    return read, found, validate(scenario_text(found, "prospecting"))


def test_the_calibrated_scenario_takes_the_outbound_leads_as_the_sdrs(calibrated):
    read, found, scenario = calibrated
    assert "outbound" not in scenario.channels and list(scenario.channels) == ["ads"]
    assert "roles.sdr.outbound_leads_per_month" in scenario.uncertain
    assert any(p == "roles.sdr.prospecting_share" for p, _ in found["not_identified"])
    # Run over its training months, the calibrated funnel makes the outbound leads the data has: within the Monte
    # Carlo error of the mean (Poisson and the rate's draws, one a replication).
    months = found["months"]
    runs = sim.run_many(scenario.replace(horizon_months=months), reps=20, seed=1)
    made = runs.replications["leads.outbound"].to_numpy()
    leads = read.tables["leads"]
    first = leads["created_date"].min().to_period("M")
    count = int(((leads["channel"] == "outbound")
                 & (leads["created_date"].dt.to_period("M") < first + months)).sum())
    assert abs(made.mean() - count) <= 4 * made.std(ddof=1) / np.sqrt(len(made)), (made.mean(), count)
