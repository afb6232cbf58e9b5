"""The response-time decay from contact times: known truth recovered at the stated rate, no decay not claimed."""

import pytest
from paths import TEACHING
from scipy import stats

import sim
from sim.calibrate.decay import response_decay

SEEDS = 20
HALF_LIFE = 24.0


def _leads(decay, seed):
    # Every lead an MQL (no score noise, threshold 0), one chance to qualify for all, no leads going cold and
    # an AE team too small for the leads, so that the waits run from minutes to days.
    scenario = sim.load_scenario(TEACHING).replace({
        "start_date": "2025-01-01", "horizon_months": 4, "scoring.score_noise": 0.0, "scoring.mql_threshold": 0.0,
        "qualification.p_qualify": 0.6, "qualification.decay": decay, "qualification.max_wait_days": None,
        "roles.ae.fte": 3})
    return sim.crm_export(scenario, seed=seed).leads


@pytest.fixture(scope="module")
def fits():
    return {kind: [response_decay(_leads(decay, seed)) for seed in range(SEEDS)]
            for kind, decay in (("decay", {"half_life_hours": HALF_LIFE}), ("none", None))}


def test_the_true_half_life_is_inside_its_interval_at_the_stated_rate(fits):
    found = fits["decay"]
    assert all(f is not None and f["n"] > 100 for f in found)
    inside = sum(f["low"] <= HALF_LIFE <= f["high"] for f in found)
    assert inside >= stats.binom.ppf(0.001, SEEDS, 0.9), [(round(f["low"], 1), round(f["high"], 1)) for f in found]
    assert sum(f["p_value"] < 0.05 for f in found) >= SEEDS - 2  # a day's half-life over waits of days shows
    assert all(abs(f["p0"] - 0.6) < 0.15 for f in found)


def test_without_decay_the_test_claims_it_no_more_often_than_its_level(fits):
    found = [f for f in fits["none"] if f is not None]
    claimed = sum(f["p_value"] < 0.05 for f in found)
    assert claimed <= stats.binom.ppf(0.999, len(found), 0.05), [round(f["p_value"], 3) for f in found]


def test_without_contact_times_nothing_is_claimed():
    leads = _leads(None, 0).drop(columns=["contacted_date"])
    assert response_decay(leads) is None
