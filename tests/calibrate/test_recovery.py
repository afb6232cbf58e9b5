"""Estimates from a known-truth CRM export: each true parameter inside its interval at about the stated rate."""

import numpy as np
import pytest
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL
from sim.calibrate.mapping import load_mapping
from sim.calibrate.tables import read_tables

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
SEEDS = 30
# Half the leads are never MQLs (intent Beta(2, 2) below the threshold 0.5, seen without noise): they are never
# decided and stay in the CRM as they came, so the eventual share qualified of all leads is 0.4 * 0.5.
TRUTH = {"channels.ads.leads": 30.0, "channels.events.leads": 15.0, "qualification.p_qualify": 0.4 * 0.5,
         "opportunities.stages.0.advance": 0.3, "opportunities.stages.0.duration_days": 20.0}


def known():
    return sim.parse_scenario({
        "name": "known", "horizon_months": 12, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 30.0, "intent": {"a": 2, "b": 2}},
                     "events": {"leads": 15.0, "intent": {"a": 2, "b": 2}}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.5},
        "qualification": {"p_qualify": 0.4, "work_hours": 0.1},
        "opportunities": {"stages": [{"name": "close", "advance": 0.3,
                                      "duration_days": {"dist": "lognormal", "mean": 20, "cv": 0.5}}],
                          "deal": {"value": {"dist": "lognormal", "mean": 3000, "cv": 0.4}}},
        "roles": {"sdr": {"fte": 2}, "ae": {"fte": 3, "max_open_opportunities": 200}},
    })


@pytest.fixture(scope="module")
def found():
    scenario = known()
    out = []
    for seed in range(SEEDS):
        export = sim.crm_export(scenario, seed=seed)
        out.append({e.path: e for e in estimate_all(read_tables(export.tables(), MAPPING), seed=seed)["estimates"]})
    return out


@pytest.mark.parametrize("path", sorted(TRUTH))
def test_each_true_parameter_is_covered_at_the_stated_rate(found, path):
    inside = sum(e[path].low <= TRUTH[path] <= e[path].high for e in found)
    # The lowest count a correct 90% interval gives with probability 0.999 over SEEDS independent seeds.
    floor = stats.binom.ppf(0.001, SEEDS, LEVEL)
    assert inside >= floor, (path, inside, [(round(e[path].low, 3), round(e[path].high, 3)) for e in found])


def test_every_estimate_has_draws_a_sample_size_and_a_window(found):
    for e in found[0].values():
        assert len(e.draws) == 200 and np.isfinite(e.draws).all() and e.n > 0 and " to " in e.window
        assert e.low <= e.estimate <= e.high
