"""AE capacity from the deals' owners: where SQLs waited for an AE, each owner's open deals reach the true ceiling.

Known truth: two AEs of 4 slots each and more SQLs than they can carry; the ceiling is recovered
exactly in every export (a count, not an estimate), written into the calibrated scenario, and left
unbinding where the AEs never fill (the peaks then said to be a lower bound). The peak count is
checked against a brute-force count over random intervals.
"""

import numpy as np
import pandas as pd
from paths import ROOT

import sim
from sim.calibrate.api import calibrate
from sim.calibrate.mapping import load_mapping
from sim.calibrate.slots import ae_capacity, peak_open, slot_waits
from sim.calibrate.tables import read_tables

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
SLOTS = 4


def busy(slots=SLOTS, leads=60.0):
    return sim.parse_scenario({
        "name": "busy", "horizon_months": 4, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": leads}},
        "qualification": {"p_qualify": 0.5, "work_hours": 0.1},
        "opportunities": {"stages": [{"name": "close", "advance": 0.4,
                                      "duration_days": {"dist": "lognormal", "mean": 20, "cv": 0.5}}],
                          "deal": {"value": 1000.0}},
        "roles": {"sdr": {"fte": 2}, "ae": {"fte": 2, "max_open_opportunities": slots}},
    })


def found_of(read):
    found = {"not_identified": [("roles.ae.max_open_opportunities", "AE capacity effects are not identified")]}
    ae_capacity(read, found)
    return found


def test_where_sqls_wait_the_ceiling_is_each_owner_s_peak_in_every_export():
    for seed in range(6):
        read = read_tables(sim.crm_export(busy(), seed=seed).tables(), MAPPING)
        waits = slot_waits(read.tables["deals"], read.tables["leads"])
        assert (waits > 1 / 24).mean() > 0.5  # the AEs are full: most SQLs wait
        found = found_of(read)
        assert found["ae_capacity"]["value"] == SLOTS, (seed, found["ae_capacity"]["peaks"])
        assert set(found["ae_capacity"]["peaks"].values()) == {SLOTS}  # no owner above the ceiling, each at it
        assert not any(p == "roles.ae.max_open_opportunities" for p, _ in found["not_identified"])


def test_where_the_aes_never_fill_the_capacity_is_not_identified_and_the_peaks_are_a_lower_bound():
    read = read_tables(sim.crm_export(busy(slots=200, leads=30.0), seed=1).tables(), MAPPING)
    found = found_of(read)
    assert "ae_capacity" not in found
    why = dict(found["not_identified"])["roles.ae.max_open_opportunities"]
    assert "did not wait" in why and "lower bound" in why and "1000" in why
    assert max(peak_open(read.tables["deals"], read.cutoff).values()) < 200


def test_the_peak_is_a_brute_force_count_of_the_deals_open_at_once():
    rng = np.random.default_rng(5)
    for _ in range(20):
        n = int(rng.integers(10, 40))
        start = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
        length = pd.to_timedelta(rng.integers(0, 20, n), unit="D")  # some close the day they open
        closed = pd.Series(start + length).where(rng.uniform(size=n) < 0.8)  # some still open at the cutoff
        cutoff = pd.Timestamp("2025-04-01")
        deals = pd.DataFrame({"created_date": start, "closed_date": closed, "owner": "ae-1"})
        end = deals["closed_date"].fillna(cutoff)
        # At each opening, the deals open then: opened at or before it, and not closed at or before it.
        brute = max(int(((deals["created_date"] <= t) & (end > t)).sum()) for t in deals["created_date"])
        assert peak_open(deals, cutoff) == {"ae-1": brute}


def test_calibrate_writes_the_ceiling_and_says_where_it_came_from(tmp_path):
    folder = tmp_path / "crm"
    sim.write_crm(sim.crm_export(busy(), seed=2), folder)
    cal = calibrate(folder, MAPPING)
    assert cal.scenario.roles.ae.max_open_opportunities == SLOTS
    assert "# roles.ae.max_open_opportunities: the median over the owners" in cal.scenario_text
    slots = cal.report["diagnostics"]["roles.ae.max_open_opportunities"]
    assert slots["written"] and slots["value"] == SLOTS and slots["waited"] >= 10
