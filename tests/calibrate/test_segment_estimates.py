"""Conversion by segment within a channel: shares, the chance to qualify and the win chance of a known truth's
segments recovered at the stated rate; segments that are alike not claimed to differ beyond the test's level.

Cheap by design, as tests/calibrate/test_channels.py: one export a truth (a channel with two segments, as
scenarios/segmented_inbound.yaml, and one without), its leads split at random into independent groups, each
group tested as a CRM of its own with the shipped pieces (Dirichlet shares, Aalen-Johansen by segment and the
Wald test, the intent priors written from them).
"""

import numpy as np
import pytest
import yaml
from builders import lead_groups, lead_subset
from cli_run import in_process, strict_json
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL, Estimate, qualification
from sim.calibrate.mapping import parse_mapping
from sim.calibrate.segments import intent_estimates, intent_prior, segment_estimates
from sim.calibrate.stages import TEST_LEVEL, stage_events, stage_order
from sim.calibrate.tables import CrmTables, read_tables
from sim.calibrate.writer import scenario_text, validate

_DATA = yaml.safe_load((ROOT / "mappings" / "funnel_sim.yaml").read_text(encoding="utf-8"))
_DATA["tables"]["leads"]["columns"]["segment"] = "segment"  # funnel export-crm writes each lead's segment
MAPPING = parse_mapping(_DATA)
GROUPS = 20
SHARES = {"smb": 0.6, "enterprise": 0.4}
# Every lead an MQL, contacted at once, no decay: a segment's share qualified is 0.1 + 0.8 * its mean intent;
# its win chance is the last stage's (close) advance, which the enterprise segment's win replaces.
DIFFER = {"p_qualify": {"smb": 0.1 + 0.8 * 4 / 6, "enterprise": 0.1 + 0.8 * 2 / 6},
          "win": {"smb": 0.6, "enterprise": 0.2}}


def known(differ: bool):
    if differ:
        segments = {"smb": {"share": SHARES["smb"], "intent": {"a": 4, "b": 2}},
                    "enterprise": {"share": SHARES["enterprise"], "intent": {"a": 2, "b": 4}, "win": 0.2}}
    else:
        segments = {name: {"share": share} for name, share in SHARES.items()}
    return sim.parse_scenario({
        "name": "segments", "horizon_months": 4, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 2500.0, "intent": {"a": 3, "b": 3}, "segments": segments},
                     "events": {"leads": 200.0, "intent": {"a": 2, "b": 2}}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": {"low": 0.1, "high": 0.9}, "work_hours": 0.01},
        "opportunities": {"stages": [
            {"name": "demo", "advance": 0.9, "duration_days": {"dist": "lognormal", "mean": 5, "cv": 0.5}},
            {"name": "close", "advance": 0.6, "duration_days": {"dist": "lognormal", "mean": 10, "cv": 0.5}}],
            "deal": {"value": 1000.0}},
        "roles": {"sdr": {"fte": 10}, "ae": {"fte": 200, "max_open_opportunities": 1000}},
    })


def _groups(differ: bool):
    """Each group's ``found`` after segment_estimates and intent_estimates, and the group's tables."""
    read = read_tables(sim.crm_export(known(differ), seed=7).tables(), MAPPING)
    rng = np.random.default_rng(0)
    out = []
    for part in lead_groups(read, GROUPS, 17):
        leads, deals, history = (part.tables[k] for k in ("leads", "deals", "stage_history"))
        order, _ = stage_order(history, deals)
        stages = [{"name": order[-1], "events": stage_events(history, deals, order, part.cutoff)[order[-1]]}]
        pooled = qualification(leads, part.cutoff, "w", rng)
        volumes = [Estimate(f"channels.{c}.leads", 1.0, 1.0, 1.0, 1, "w", "a stand-in", np.ones(2))
                   for c in ("ads", "events")]
        found = {"estimates": [pooled, *volumes], "warnings": []}
        segment_estimates(part, stages, part.cutoff, "w", rng, found)
        intent_estimates(found)
        out.append((found, part))
    return out


@pytest.fixture(scope="module")
def differ():
    return _groups(True)


@pytest.fixture(scope="module")
def same():
    return _groups(False)


FLOOR = stats.binom.ppf(0.001, GROUPS, LEVEL)  # the fewest a correct 90% interval covers with probability 0.999


@pytest.mark.parametrize("which", ["differ", "same"])
def test_segment_shares_are_covered_at_the_stated_rate(which, request):
    groups = request.getfixturevalue(which)
    assert all(set(found["segments"]) == {"ads"} for found, _ in groups)  # events has one segment: nothing
    for segment, truth in SHARES.items():
        inside = sum(found["segments"]["ads"]["shares"][segment].low <= truth
                     <= found["segments"]["ads"]["shares"][segment].high for found, _ in groups)
        assert inside >= FLOOR, (segment, inside)
    for found, _ in groups:  # the Dirichlet's rows: shares summing to 1
        rows = np.vstack([e.draws for e in found["segments"]["ads"]["shares"].values()])
        assert np.allclose(rows.sum(axis=0), 1.0)


def test_segment_win_chances_that_differ_are_covered_at_the_stated_rate(differ):
    for segment, truth in DIFFER["win"].items():
        # a group where the difference is not claimed writes no segment win: a miss
        inside = sum(t["differ"] and t["channels"][segment].low <= truth <= t["channels"][segment].high
                     for t in (found["segments"]["ads"]["win"] for found, _ in differ))
        assert inside >= FLOOR, (segment, inside)


def test_segment_p_qualify_that_differs_is_written_as_mean_intents_covering_the_truth(differ):
    a = (1 - LEVEL) / 2
    for segment, truth in DIFFER["p_qualify"].items():
        inside = 0
        for found, _ in differ:
            e = found.get("intent", {}).get(f"channels.ads.segments.{segment}.intent")
            if e is None:
                continue  # no difference claimed: a miss
            alpha, beta = intent_prior(e)
            low, high = np.quantile(alpha / (alpha + beta), [a, 1 - a])
            inside += low <= truth <= high
        assert inside >= FLOOR, (segment, inside)


@pytest.mark.parametrize("what", ["p_qualify", "win"])
def test_segments_that_are_alike_are_not_claimed_to_differ_beyond_the_level(same, what):
    tests = [found["segments"]["ads"][what] for found, _ in same]
    assert all(len(t["channels"]) == 2 for t in tests)  # both segments tested in every group
    claims = sum(t["differ"] for t in tests)
    assert claims <= stats.binom.ppf(0.999, GROUPS, TEST_LEVEL), (what, claims, [t["p"] for t in tests])


def test_segments_that_differ_are_written_and_reproduced_by_the_calibrated_scenario(differ):
    found = estimate_all(differ[0][1])
    scenario = validate(scenario_text(found, "segments"))
    segments = scenario.channels["ads"].segments
    assert set(segments) == set(SHARES) and not scenario.channels["events"].segments
    assert sum(s.share for s in segments.values()) == pytest.approx(1.0, abs=1e-12)
    assert segments["enterprise"].win is not None and segments["enterprise"].win.low < segments["smb"].win.low
    assert {f"channels.ads.segments.{s}.{k}" for s in SHARES for k in ("intent.a", "intent.b", "win")} \
        <= set(scenario.uncertain)
    rows = {e.path for e in found["estimates"]}
    assert {f"channels.ads.segments.{s}.{k}" for s in SHARES for k in ("share", "intent", "win")} <= rows
    reps = 30
    shares = {s: [] for s in SHARES}
    for seed in range(reps):
        leads = sim.simulate(scenario, seed=seed).leads
        decided = leads[(leads["channel"] == "ads") & (leads["sql_day"].notna() | (leads["state"] == "disqualified"))]
        for s in shares:
            shares[s].append(decided.loc[decided["segment"] == s, "sql_day"].notna().mean())
    for s, got in shares.items():
        a, b = (np.array(scenario.uncertain[f"channels.ads.segments.{s}.intent.{k}"]) for k in "ab")
        expected = float(np.mean(a / (a + b)))  # one row of the draws a replication: the mean over the rows
        error = np.std(got, ddof=1) / np.sqrt(reps)
        assert abs(np.mean(got) - expected) <= 4 * error, (s, np.mean(got), expected, error)


def test_segments_that_are_alike_write_only_their_shares_and_say_so(same):
    found, part = next((f, p) for f, p in same if not f["segments"]["ads"]["p_qualify"]["differ"]
                       and not f["segments"]["ads"]["win"]["differ"])
    found = estimate_all(part)
    scenario = validate(scenario_text(found, "segments"))
    segments = scenario.channels["ads"].segments
    assert set(segments) == set(SHARES)
    assert all(s.intent is None and s.win is None for s in segments.values())
    shares = [e for e in found["estimates"] if e.path.startswith("channels.ads.segments.")]
    assert {e.path for e in shares} == {f"channels.ads.segments.{s}.share" for s in SHARES}
    assert all("p_qualify: segments did not differ" in e.method and "win: segments did not differ" in e.method
               for e in shares)


def test_leads_without_a_segment_are_left_out_with_a_warning(differ):
    part = differ[1][1]
    leads = part.tables["leads"].copy()
    leads.loc[leads.index[:5], "segment"] = None
    read = CrmTables({**part.tables, "leads": leads}, part.cutoff)
    history, deals = read.tables["stage_history"], read.tables["deals"]
    order, _ = stage_order(history, deals)
    found = {"estimates": [], "warnings": []}
    segment_estimates(read, [{"name": order[-1], "events": stage_events(history, deals, order, read.cutoff)[
        order[-1]]}], read.cutoff, "w", np.random.default_rng(0), found)
    assert found["warnings"] == ["leads: 5 leads have no segment and are left out of the segment estimates"]
    n = (leads["channel"] == "ads").sum() - (leads.loc[leads.index[:5], "channel"] == "ads").sum()
    assert all(e.n == n for e in found["segments"]["ads"]["shares"].values())


def test_funnel_calibrate_json_lists_the_segment_rows_and_its_scenario_loads_and_runs(tmp_path):
    scenario = known(True).replace({"horizon_months": 2, "channels.ads.leads": 600.0, "channels.events.leads": 50.0})
    sim.write_crm(sim.crm_export(scenario, seed=3), tmp_path / "crm")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(_DATA), encoding="utf-8")
    code, out, err = in_process("calibrate", "--mapping", tmp_path / "m.yaml", "--data", tmp_path / "crm",
                                "--out", tmp_path / "s.yaml", "--json")
    assert code == 0, err
    rows = {r["path"] for r in strict_json(out)["estimated"]}
    assert {f"channels.ads.segments.{s}.{k}" for s in SHARES for k in ("share", "intent", "win")} <= rows
    calibrated = sim.load_scenario(tmp_path / "s.yaml")
    assert set(calibrated.channels["ads"].segments) == set(SHARES)
    assert sim.simulate(calibrated, seed=1).metrics["wins"] > 0


def test_segments_too_small_to_test_are_said_to_be_untested(differ):
    part = differ[2][1]
    leads = part.tables["leads"]
    # keep 30 ads leads of each segment: fewer than 20 known win outcomes in either
    keep = set(leads[leads["channel"] == "ads"].groupby("segment").head(30)["lead_id"])
    small = lead_subset(part, keep)
    history, deals = small.tables["stage_history"], small.tables["deals"]
    order, _ = stage_order(history, deals)
    found = {"estimates": [], "warnings": []}
    segment_estimates(small, [{"name": order[-1], "events": stage_events(history, deals, order, small.cutoff)[
        order[-1]]}], small.cutoff, "w", np.random.default_rng(0), found)
    entry = found["segments"]["ads"]
    assert not entry["win"]["differ"] and "method" not in entry["win"]
    assert all("win: not tested by segment" in e.method for e in entry["shares"].values())


DAY_GROUPS = 12
CLOSE_DAYS = {"smb": 10.0, "enterprise": 30.0}


def _days_known():
    segments = {name: {"share": SHARES[name], "stages": {"close": {"duration_days": {
        "dist": "lognormal", "mean": CLOSE_DAYS[name], "cv": 0.5}}}} for name in SHARES}
    return known(False).replace({"channels.ads.segments": segments, "channels.ads.leads": 1500.0})


@pytest.fixture(scope="module")
def day_tests():
    """Each group's days tests by segment in ads, for the demo (alike) and the close (apart)."""
    read = read_tables(sim.crm_export(_days_known(), seed=11).tables(), MAPPING)
    rng = np.random.default_rng(0)
    out = []
    for part in lead_groups(read, DAY_GROUPS, 5):
        deals, history = part.tables["deals"], part.tables["stage_history"]
        order, _ = stage_order(history, deals)
        events = stage_events(history, deals, order, part.cutoff)
        found = {"estimates": [qualification(part.tables["leads"], part.cutoff, "w", rng)], "warnings": []}
        segment_estimates(part, [{"name": n, "events": events[n]} for n in order], part.cutoff, "w", rng, found)
        out.append(found["segments"]["ads"]["days"])
    return out


def test_segment_days_that_differ_are_found_and_covered_at_the_stated_rate(day_tests):
    assert all(t["close"]["differ"] for t in day_tests)  # 10 days against 30: the log-rank test rejects each time
    floor = stats.binom.ppf(0.001, DAY_GROUPS, LEVEL)
    for segment, truth in CLOSE_DAYS.items():
        fits = [t["close"]["channels"][segment]["duration"] for t in day_tests]
        assert all(f.path == f"channels.ads.segments.{segment}.stages.close.duration_days" for f in fits)
        inside = sum(f.low <= truth <= f.high for f in fits)
        assert inside >= floor, (segment, inside, [(round(f.low, 1), round(f.high, 1)) for f in fits])


def test_segment_days_that_are_alike_are_not_claimed_to_differ_beyond_the_level(day_tests):
    claims = sum(t["demo"]["differ"] for t in day_tests)
    assert claims <= stats.binom.isf(0.001, DAY_GROUPS, TEST_LEVEL), claims
    assert all("segments did not differ" in t["demo"]["method"] for t in day_tests if not t["demo"]["differ"])


def test_segment_days_are_written_under_the_segment_and_the_scenario_loads(day_tests, tmp_path):
    folder = tmp_path / "crm"
    sim.write_crm(sim.crm_export(_days_known().replace({"channels.ads.leads": 400.0}), seed=3), folder)
    cal = sim.calibrate(folder, MAPPING)
    stages = cal.scenario.channels["ads"].segments["enterprise"].stages
    assert "close" in stages and stages["close"].duration_days is not None
    assert stages["close"].duration_days.mean > cal.scenario.channels["ads"].segments["smb"].stages[
        "close"].duration_days.mean  # 30 days against 10, each from its own segment's deals
