"""Conversion and days by channel: a known truth whose two channels differ is recovered channel by channel at the
stated rate, and one whose channels are the same is not claimed to differ more often than the test's level allows.

Cheap by design, as tests/calibrate/test_stages.py: one export a truth, its leads split at random into
independent groups (a lead's path comes from its own uniforms; the SDRs and AEs never bind), each group tested
as a CRM of its own with the shipped pieces (Aalen-Johansen by channel and the Wald test, the log-rank test and
each channel's duration fit where it rejects).
"""

import numpy as np
import pandas as pd
import pytest
from builders import lead_groups
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL, Estimate, qualification
from sim.calibrate.mapping import load_mapping
from sim.calibrate.segments import INTENT_CONCENTRATION, intent_estimates, intent_prior
from sim.calibrate.stages import (
    TEST_LEVEL,
    channel_test,
    deal_channels,
    duration_test,
    qualification_by_channel,
    stage_events,
    stage_order,
)
from sim.calibrate.tables import CrmTables, read_tables
from sim.calibrate.writer import scenario_text, validate

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
GROUPS = 20
# p_qualify is linear in intent, so a channel's eventual share qualified is 0.1 + 0.8 * its mean intent
# (every lead an MQL, contacted at once, no decay); the win chance differs by the stage's by_channel.
# The days in the stage differ too: each channel's lognormal mean.
DIFFER = {"p_qualify": {"ads": 0.1 + 0.8 * 4 / 6, "events": 0.1 + 0.8 * 2 / 6}, "advance": {"ads": 0.2, "events": 0.6},
          "days": {"ads": 15.0, "events": 30.0}}


def known(differ: bool):
    leads = 900.0 if differ else 500.0
    intent = ({"a": 4, "b": 2}, {"a": 2, "b": 4}) if differ else ({"a": 2, "b": 2}, {"a": 2, "b": 2})
    stage = {"name": "close", "advance": 0.2 if differ else 0.35,
             "duration_days": {"dist": "lognormal", "mean": 15, "cv": 0.5}}
    if differ:
        stage["by_channel"] = {"events": {"advance": 0.6,
                                          "duration_days": {"dist": "lognormal", "mean": 30, "cv": 0.5}}}
    return sim.parse_scenario({
        "name": "channels", "horizon_months": 4, "start_date": "2025-01-01",
        # the test's power needs many deals where they differ; its level does not, where they are the same
        "channels": {"ads": {"leads": leads, "intent": intent[0]}, "events": {"leads": leads, "intent": intent[1]}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": {"low": 0.1, "high": 0.9}, "work_hours": 0.01},
        "opportunities": {"stages": [stage], "deal": {"value": 1000.0}},
        "roles": {"sdr": {"fte": 6}, "ae": {"fte": 60, "max_open_opportunities": 1000}},
    })


def _tests(differ: bool):
    """Each group's (p_qualify test, win chance test, the group's tables, the days' log-rank test)."""
    read = read_tables(sim.crm_export(known(differ), seed=5).tables(), MAPPING)
    rng = np.random.default_rng(0)
    out = []
    for part in lead_groups(read, GROUPS, 13):
        leads, deals, history = (part.tables[k] for k in ("leads", "deals", "stage_history"))
        found = {"estimates": [], "not_identified": []}
        qualification_by_channel(leads, part.cutoff, "w", rng, found)
        order, _ = stage_order(history, deals)
        days, event, deal_ids = stage_events(history, deals, order, part.cutoff)[order[0]]
        channel = deal_channels(deals, leads)[deal_ids].to_numpy()
        win = channel_test(days, event, channel, lambda c: f"opportunities.stages.0.by_channel.{c}.advance", "w",
                           rng, "win chance")
        durations = duration_test(days, event > 0, channel, lambda c: f"opportunities.stages.0.by_channel.{c}."
                                  "duration_days", "w", rng, "days to close")
        out.append((found["p_qualify_by_channel"], win, part, durations))
    return out


@pytest.fixture(scope="module")
def differ():
    return _tests(True)


@pytest.fixture(scope="module")
def same():
    return _tests(False)


@pytest.mark.parametrize("what", ["p_qualify", "advance"])
def test_channels_that_differ_are_recovered_each_at_the_stated_rate(differ, what):
    k = 0 if what == "p_qualify" else 1
    for channel, truth in DIFFER[what].items():
        # a group where the difference is not claimed writes no channel value: a miss
        inside = sum(t[k]["differ"] and t[k]["channels"][channel].low <= truth <= t[k]["channels"][channel].high
                     for t in differ)
        assert inside >= stats.binom.ppf(0.001, GROUPS, LEVEL), (what, channel, inside)


@pytest.mark.parametrize("what", ["p_qualify", "advance"])
def test_channels_that_are_the_same_are_not_claimed_to_differ_beyond_the_level(same, what):
    k = 0 if what == "p_qualify" else 1
    claims = sum(t[k]["differ"] for t in same)
    assert all(len(t[k]["channels"]) == 2 for t in same)  # both channels tested in every group
    # the most claims a test at 5% makes with probability 0.999 over GROUPS independent groups
    assert claims <= stats.binom.ppf(0.999, GROUPS, TEST_LEVEL), (what, claims, [t[k]["p"] for t in same])


def test_days_that_differ_by_channel_are_recovered_each_at_the_stated_rate(differ):
    for channel, truth in DIFFER["days"].items():
        # a group where the log-rank test does not reject writes no channel's days: a miss
        inside = sum(t[3]["differ"] and t[3]["channels"][channel]["duration"].low <= truth
                     <= t[3]["channels"][channel]["duration"].high for t in differ)
        assert inside >= stats.binom.ppf(0.001, GROUPS, LEVEL), (channel, inside)


def test_days_that_are_the_same_are_not_claimed_to_differ_beyond_the_level(same):
    claims = sum(t[3]["differ"] for t in same)
    assert all(t[3]["df"] == 1 for t in same)  # both channels tested in every group
    assert claims <= stats.binom.ppf(0.999, GROUPS, TEST_LEVEL), (claims, [t[3]["p"] for t in same])
    assert not any(t[3]["channels"] for t in same if not t[3]["differ"])  # nothing fitted where not claimed


def _written_intents(test, part) -> dict:
    """The intent estimates written for a group's p_qualify test (none where channels do not differ)."""
    pooled = qualification(part.tables["leads"], part.cutoff, "w", np.random.default_rng(1))
    volumes = [Estimate(f"channels.{c}.leads", 1.0, 1.0, 1.0, 1, "w", "a stand-in", np.ones(2)) for c in DIFFER["days"]]
    found = {"estimates": [pooled, *volumes], "p_qualify_by_channel": test}
    intent_estimates(found)
    return found.get("intent", {})


def test_p_qualify_by_channel_is_written_as_mean_intents_that_cover_the_truth_at_the_stated_rate(differ):
    written = [_written_intents(t[0], t[2]) for t in differ]
    a = (1 - LEVEL) / 2
    for channel, truth in DIFFER["p_qualify"].items():
        inside = 0
        for intents in written:
            if f"channels.{channel}.intent" not in intents:
                continue  # no difference claimed: a miss
            alpha, beta = intent_prior(intents[f"channels.{channel}.intent"])
            assert np.allclose(alpha + beta, INTENT_CONCENTRATION)  # each row a Beta of concentration k
            low, high = np.quantile(alpha / (alpha + beta), [a, 1 - a])  # the written mean intent, row by row
            inside += low <= truth <= high
        assert inside >= stats.binom.ppf(0.001, GROUPS, LEVEL), (channel, inside)


def test_a_channel_difference_is_written_as_by_channel_and_intents(differ):
    found = estimate_all(differ[0][2])
    scenario = validate(scenario_text(found, "channels"))
    by_channel = scenario.opportunities.stages[0].by_channel
    assert set(by_channel) == {"ads", "events"} and by_channel["events"].advance.low > by_channel["ads"].advance.low
    assert by_channel["events"].duration_days.mean > by_channel["ads"].duration_days.mean
    assert {"opportunities.stages.0.by_channel.ads.advance", "opportunities.stages.0.by_channel.events.advance",
            "opportunities.stages.0.by_channel.ads.duration_days.mean",
            "opportunities.stages.0.by_channel.events.duration_days.mean"} <= set(scenario.uncertain)
    # p_qualify is the intent; each channel's mean intent its own chance, not reported as not identified
    assert (scenario.qualification.p_qualify.low, scenario.qualification.p_qualify.high) == (0.0, 1.0)
    assert not any("p_qualify by channel" in p for p, _ in found["not_identified"])
    rows = {e.path for e in found["estimates"]}  # the report's estimated rows
    assert {"channels.ads.intent", "channels.events.intent", "opportunities.stages.0.by_channel.ads.duration_days",
            "opportunities.stages.0.by_channel.events.duration_days"} <= rows


def test_the_calibrated_scenario_reproduces_each_channels_share_qualified(differ):
    found = estimate_all(differ[0][2])
    scenario = validate(scenario_text(found, "channels"))
    reps = 40
    shares = {c: [] for c in DIFFER["p_qualify"]}
    for seed in range(reps):
        leads = sim.simulate(scenario, seed=seed).leads
        decided = leads[leads["sql_day"].notna() | (leads["state"] == "disqualified")]
        for c in shares:
            shares[c].append(decided.loc[decided["channel"] == c, "sql_day"].notna().mean())
    for c, got in shares.items():
        a, b = (np.array(scenario.uncertain[f"channels.{c}.intent.{k}"]) for k in "ab")
        # each replication runs one row of the draws, so the share's expectation is the mean over the rows
        expected = float(np.mean(a / (a + b)))
        assert expected == pytest.approx(found["intent"][f"channels.{c}.intent"].draws.mean(), abs=1e-5)
        error = np.std(got, ddof=1) / np.sqrt(reps)
        assert abs(np.mean(got) - expected) <= 4 * error, (c, np.mean(got), expected, error)
    assert np.mean(shares["ads"]) > np.mean(shares["events"]) + 0.1  # the channels' difference, carried


def test_channels_that_do_not_differ_keep_the_pooled_estimate_and_say_so(same):
    part = next(t[2] for t in same if not t[0]["differ"] and not t[1]["differ"])
    found = estimate_all(part)
    scenario = validate(scenario_text(found, "channels"))
    assert not scenario.opportunities.stages[0].by_channel
    by = {e.path: e for e in found["estimates"]}
    assert "channels did not differ" in by["opportunities.stages.0.advance"].method
    assert "channels did not differ" in by["qualification.p_qualify"].method
    assert not any(e.path.endswith("by_channel") or ".by_channel." in e.path for e in found["estimates"])
    assert not found.get("intent") and not any(".intent" in path for path in scenario.uncertain)


def test_deals_without_channels_are_not_tested():
    deals = pd.DataFrame({"deal_id": ["1"], "lead_id": ["9"]})
    assert deal_channels(deals, None) is None
    out = channel_test(np.ones(30), np.ones(30, int), np.array(["a"] * 30, dtype=object), str, "w",
                       np.random.default_rng(0), "x")
    assert not out["differ"] and not out["channels"]  # one channel: nothing to compare


def test_without_a_stage_history_the_days_to_close_are_tested_and_written_by_channel(differ):
    part = differ[1][2]
    found = estimate_all(CrmTables({k: v for k, v in part.tables.items() if k != "stage_history"}, part.cutoff))
    scenario = validate(scenario_text(found, "channels"))
    stage = found["stages"][0]
    assert stage["name"] == "close" and stage["days_by_channel"]["differ"]  # one pooled stage, its days tested
    by_channel = scenario.opportunities.stages[0].by_channel
    assert by_channel["events"].duration_days.mean > by_channel["ads"].duration_days.mean
    assert "log-rank" in stage["days_by_channel"]["method"]
