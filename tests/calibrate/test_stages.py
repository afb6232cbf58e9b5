"""Per-stage estimates from the stage history, on a known two-stage truth: each true stage's advance chance and
duration inside its 90% interval at about the stated rate; the pooled stage when the history cannot order them.

Cheap by design: one export, its deals split at random into independent groups (a deal's path comes from its
own lead's uniforms, the AEs never bind, so random groups are independent thinned samples), each group's
stage history estimated as a CRM of its own. The advance chances (Aalen-Johansen, fast) are checked on 30
groups, 60 intervals; the durations (``stage_estimates``: four lifelines families a fit, a quarter of a second
a group) on 20, 40 intervals; one group goes through the whole calibration and the scenario it writes.
"""

import numpy as np
import pandas as pd
import pytest
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.estimate import LEVEL, eventual_share
from sim.calibrate.mapping import load_mapping
from sim.calibrate.stages import stage_estimates, stage_events, stage_order
from sim.calibrate.tables import CrmTables, read_tables
from sim.calibrate.writer import scenario_text, validate

MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")
GROUPS, DURATION_GROUPS = 30, 20
STAGES = [{"name": "demo", "advance": 0.6, "duration_days": {"dist": "lognormal", "mean": 8, "cv": 0.5}},
          {"name": "close", "advance": 0.35, "duration_days": {"dist": "gamma", "mean": 20, "cv": 0.6}}]


def known():
    return sim.parse_scenario({
        "name": "two_stages", "horizon_months": 5, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 700.0}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": 0.5, "work_hours": 0.01},
        "opportunities": {"stages": STAGES, "deal": {"value": 1000.0}},
        "roles": {"sdr": {"fte": 4}, "ae": {"fte": 50, "max_open_opportunities": 1000}},
    })


@pytest.fixture(scope="module")
def read():
    return read_tables(sim.crm_export(known(), seed=3).tables(), MAPPING)


def _subset(read, keep):
    tables = dict(read.tables)
    deals = tables["deals"][tables["deals"]["deal_id"].isin(keep)]
    history = tables["stage_history"][tables["stage_history"]["deal_id"].isin(keep)]
    leads = tables["leads"][tables["leads"]["lead_id"].isin(deals["lead_id"])]
    return CrmTables({**tables, "deals": deals, "stage_history": history, "leads": leads}, read.cutoff)


@pytest.fixture(scope="module")
def groups(read):
    """The deals split at random into GROUPS groups: each group's tables."""
    ids = read.tables["deals"]["deal_id"].to_numpy()
    group = np.random.default_rng(7).permutation(len(ids)) % GROUPS
    assert stage_order(read.tables["stage_history"], read.tables["deals"])[0] == ["demo", "close"]
    return [_subset(read, set(ids[group == g])) for g in range(GROUPS)]


@pytest.fixture(scope="module")
def fitted(groups):
    """The first DURATION_GROUPS groups' stages, each estimated from its own stage history."""
    out = []
    for g, tables in enumerate(groups[:DURATION_GROUPS]):
        stages, why, _ = stage_estimates(tables.tables["stage_history"], tables.tables["deals"], tables.cutoff,
                                         np.random.default_rng(g))
        assert stages is not None, why
        out.append(stages)
    return out


def floor(n):
    """The lowest count of n independent correct 90% intervals covering the truth, with probability 0.999."""
    return stats.binom.ppf(0.001, n, LEVEL)


@pytest.mark.parametrize("i", [0, 1])
def test_each_stage_advance_is_covered_at_the_stated_rate(groups, i):
    name, truth = STAGES[i]["name"], STAGES[i]["advance"]
    rng = np.random.default_rng(0)
    found = []
    for tables in groups:
        days, event, _ = stage_events(tables.tables["stage_history"], tables.tables["deals"], ["demo", "close"],
                                      tables.cutoff)[name]
        found.append(eventual_share(days, event, "advance", "w", rng, "AJ"))
    inside = sum(e.low <= truth <= e.high for e in found)
    assert inside >= floor(GROUPS), (name, inside, [(round(e.low, 3), round(e.high, 3)) for e in found])


def test_each_stage_duration_is_covered_at_the_stated_rate(fitted):
    inside = {s["name"]: 0 for s in STAGES}
    for stages in fitted:
        for stage, truth in zip(stages, STAGES, strict=True):
            e = stage["duration"]
            inside[stage["name"]] += e.low <= truth["duration_days"]["mean"] <= e.high
            assert "Akaike weight" in e.method
    # Each stage on its own, and both together: a stage's bias shows in its own count.
    assert all(n >= floor(DURATION_GROUPS) for n in inside.values()), inside
    assert sum(inside.values()) >= floor(2 * DURATION_GROUPS), inside


def test_deals_still_in_a_stage_are_censored(read):
    events = stage_events(read.tables["stage_history"], read.tables["deals"], ["demo", "close"], read.cutoff)
    assert all((event == 0).sum() > 20 for _, event, _ in events.values())  # the censoring is tested


@pytest.fixture(scope="module")
def calibrated(groups):
    """One group calibrated as a CRM of its own: (found, scenario)."""
    found = estimate_all(groups[0], seed=0)
    return [(found, validate(scenario_text(found, "two_stages")))]


def test_the_scenario_written_has_the_history_s_stages_in_order(calibrated):
    for found, scenario in calibrated:
        assert [s.name for s in scenario.opportunities.stages] == ["demo", "close"]
        by = {e.path: e for e in found["estimates"]}
        for i in range(2):
            assert "order from the stage history" in by[f"opportunities.stages.{i}.advance"].method
            assert "days in stage" in by[f"opportunities.stages.{i}.duration_days"].method
        assert not any(p == "opportunities.stages" for p, _ in found["not_identified"])
        # the scenario as read holds the draws' means, each of them inside the estimate's interval
        for i, stage in enumerate(scenario.opportunities.stages):
            adv = by[f"opportunities.stages.{i}.advance"]
            assert adv.low <= stage.advance.low == stage.advance.high <= adv.high


def test_stages_that_cannot_be_ordered_are_pooled_and_say_why(read):
    deals, history = read.tables["deals"], read.tables["stage_history"]
    flipped = history.copy()
    two = flipped["deal_id"].isin(flipped.loc[flipped["stage"] == "close", "deal_id"].iloc[:5])
    names = flipped.loc[two, "stage"]
    flipped.loc[two, "stage"] = names.map({"demo": "close", "close": "demo"})  # five deals went close -> demo
    stages, why, _ = stage_estimates(flipped, deals, read.cutoff, np.random.default_rng(0))
    assert stages is None and "both orders" in why
    again = pd.concat([history, history[history["stage"] == "demo"].iloc[:3]])
    stages, why, _ = stage_estimates(again, deals, read.cutoff, np.random.default_rng(0))
    assert stages is None and "more than once" in why


def test_without_lost_deals_every_stage_is_not_identified_and_the_win_chance_prior_is_flat():
    """Leads and won deals with their stage history: no stage's advance is identified (nothing competes)."""
    tables = sim.crm_export(known(), seed=3).tables()
    kept = tables["deals"][tables["deals"]["stage"] != "lost"]
    tables["deals"] = kept
    tables["stage_history"] = tables["stage_history"][tables["stage_history"]["deal_id"].isin(kept["deal_id"])]
    read = read_tables(tables, MAPPING)
    assert read.no_lost_deals
    found = estimate_all(read, seed=0)
    paths = [f"opportunities.stages.{i}.advance" for i in range(2)]
    assert [p for p, _ in found["not_identified"][:2]] == paths
    assert found["placeholders"] == tuple(paths)
    scenario = validate(scenario_text(found, "two_stages"))
    assert [s.name for s in scenario.opportunities.stages] == ["demo", "close"]
    advance = [st["advance"] for st in found["stages"]]
    assert all(e.method.startswith("NOT IDENTIFIED, no deal is lost") for e in advance)
    # Row by row, the stages' product is the flat draw of the win chance: uniform, by a KS test at 0.1%.
    product = advance[0].draws * advance[1].draws
    assert stats.kstest(product, "uniform").pvalue > 1e-3
    assert np.allclose(advance[0].draws, advance[1].draws)  # the same root of the same draw, for both stages
