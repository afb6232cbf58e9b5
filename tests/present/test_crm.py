"""A simulated run exported as CRM-shaped tables, checked against the run itself (known truth for calibrating).

Every identity is against the same run's record, measures and lead records: wins, deal
dates, the stage path each lead's own uniforms fix, the censoring at an earlier export
day, leads by channel and month, spend and headcount.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from builders import make
from cli_run import in_process, nonblank_lines

import sim
from sim.model.months import dates
from sim.model.simulation import run
from sim.present.crm import CRM_FILES, crm_export, crm_tables
from sim.scenario.units import DAYS_PER_MONTH

SEED = 7
STAGES = ["discovery", "proposal", "negotiation"]


@pytest.fixture(scope="module")
def scenario():
    # Three stages of varying lengths, two channels, nurture and cold leads, and AEs who leave
    # (deals handed over or lost), so that every way a deal can end is in the tables.
    return make(
        start_date="2025-01-01", horizon_months=6,
        channels={"search": {"spend": 10000, "response": {"curve": "hill", "max_leads": 200, "half_spend": 10000},
                             "intent": {"a": 2, "b": 3}},
                  "events": {"spend": [2000, 6000], "response": {"curve": "exponential", "max_leads": 80,
                                                                 "spend_scale": 3000},
                             "intent": {"a": 3, "b": 2}}},
        scoring={"score_noise": 0.1, "mql_threshold": 0.3},
        nurture={"touch_interval_days": 7, "dropout": 0.1, "touch_points": 0.05, "max_days": 90},
        qualification={"work_hours": 2.0, "p_qualify": {"low": 0.2, "high": 0.9}, "max_wait_days": 3},
        opportunities={
            "stages": [{"name": "discovery", "duration_days": {"dist": "gamma", "mean": 10, "cv": 0.5},
                        "advance": {"low": 0.5, "high": 0.9}},
                       {"name": "proposal", "duration_days": {"dist": "lognormal", "mean": 20, "cv": 0.8},
                        "advance": 0.6},
                       {"name": "negotiation", "duration_days": {"dist": "triangular", "low": 5, "mode": 10,
                                                                 "high": 30}, "advance": 0.8}],
            "deal": {"kind": "one_off", "value": {"dist": "lognormal", "mean": 1000, "cv": 0.5}},
            "on_rep_leaving": "handover", "handover_penalty": 0.3},
        roles={"sdr": {"fte": 1, "cost_per_fte_year": 60000},
               "ae": {"fte": 3, "cost_per_fte_year": 120000, "max_open_opportunities": 8, "attrition_year": 1.5,
                      "hiring_lead_days": 20, "ramp_months": 1}},
    )


@pytest.fixture(scope="module")
def full(scenario):
    return crm_export(scenario, SEED)


@pytest.fixture(scope="module")
def result(scenario):
    return sim.simulate(scenario, SEED)


def _closes(full):
    deals = full.deals
    return deals[deals["closed_date"].notna()]


def test_the_run_has_every_kind_of_deal(full, result):
    # What the identities below need to mean something.
    m = result.metrics
    assert m["wins"] > 20 and m["losses.lost_in_pipeline"] > 20 and m["losses.rep_left"] > 0
    assert m["open_pipeline_count"] > 5 and m["cold_events"] > 0
    assert set(full.deals["stage"]) == {"won", "lost", *STAGES}


def test_deals_are_the_runs_opportunities_with_its_dates_wins_and_values(full, result, scenario):
    m, records, deals = result.metrics, result.leads, full.deals
    assert len(deals) == m["opportunities"]
    assert deals["deal_id"].is_unique and deals["lead_id"].is_unique
    assert int(deals["won"].sum()) == m["wins"]
    lead = records.loc[deals["lead_id"]]
    assert (deals["created_date"].to_numpy() == lead["opportunity_date"].to_numpy()).all()
    start = pd.Timestamp(scenario.start_date)
    assert (deals["created_date"] == start + pd.to_timedelta(lead["opportunity_day"].to_numpy(), unit="D")).all()
    won = deals[deals["won"]]
    assert (won["closed_date"].to_numpy() == records.loc[won["lead_id"], "close_date"].to_numpy()).all()
    assert np.array_equal(won["value"].to_numpy(), records.loc[won["lead_id"], "value"].to_numpy())
    assert won["value"].sum() == pytest.approx(m["bookings"], rel=1e-12)
    assert deals.loc[~deals["won"], "value"].isna().all()
    channel = full.leads.set_index("lead_id").loc[won["lead_id"], "channel"]
    for name in ("search", "events"):
        assert int((channel == name).sum()) == m[f"wins.{name}"]
    # The deals still open at the horizon are the run's open opportunities.
    assert int(deals["closed_date"].isna().sum()) == m["in_flight.open_opportunity"]
    assert int((deals["stage"] == "lost").sum()) == m["losses.lost_in_pipeline"] + m["losses.rep_left"]
    assert "intent" not in full.leads.columns and "intent" not in deals.columns


def test_the_leads_are_the_runs_leads_by_channel_and_month_with_their_dates(full, result, scenario):
    m, records, leads = result.metrics, result.leads, full.leads
    assert len(leads) == m["leads"] and leads["lead_id"].is_unique
    lead = records.loc[leads["lead_id"]]
    for column in ("mql_date", "contact_date", "sql_date"):
        ours = leads[{"contact_date": "contacted_date", "sql_date": "qualified_date"}.get(column, column)]
        assert ours.equals(pd.Series(lead[column].to_numpy(), name=ours.name)), column
    assert (leads["created_date"].to_numpy() == lead["arrival_date"].to_numpy()).all()
    assert int(leads["mql_date"].notna().sum()) == m["mqls"]
    assert int(leads["contacted_date"].notna().sum()) == m["contacted"]
    assert int(leads["qualified_date"].notna().sum()) == m["sqls"]
    assert int(leads["disqualified_date"].notna().sum()) == m["losses.disqualified"]
    assert int((leads["status"] == "converted").sum()) == m["opportunities"]
    assert int((leads["status"] == "qualified").sum()) == m["in_flight.waiting_for_ae"]
    assert int((leads["status"] == "working").sum()) == m["in_flight.in_qualification"]
    # Binned by the model's months, start_date + k * DAYS_PER_MONTH days, the counts are the run's monthly leads.
    record = run(scenario, SEED)
    H = scenario.horizon_months
    edges = dates(scenario.start_date, np.arange(1, H) * DAYS_PER_MONTH)
    month = np.searchsorted(edges, leads["created_date"].to_numpy(), side="right")
    for code, name in enumerate(record.channel_names):
        counts = np.bincount(month[(leads["channel"] == name).to_numpy()], minlength=H)
        assert np.array_equal(counts, record.lead_months[code]), name
    assert np.array_equal(np.bincount(month, minlength=H), result.monthly["leads"].to_numpy())


def test_a_deals_stage_history_is_its_own_path_in_order_and_ends_at_its_close(full):
    history, deals = full.stage_history, full.deals.set_index("deal_id")
    for deal_id, rows in history.groupby("deal_id", sort=False):
        deal = deals.loc[deal_id]
        stages = list(rows["stage"])
        assert stages == STAGES[:len(stages)]  # in order, from the first, none skipped
        entered, left = rows["entered_date"].to_numpy(), rows["left_date"].to_numpy()
        assert entered[0] == deal["created_date"]
        assert (entered[1:] == left[:-1]).all()  # each stage starts where the last one ended
        assert (left[:-1] > entered[:-1]).all()
        if deal["won"]:
            assert stages == STAGES
        if pd.isna(deal["closed_date"]):
            assert pd.isna(left[-1]) and stages[-1] == deal["stage"]
        else:
            assert left[-1] == deal["closed_date"]


def test_the_last_stage_of_a_lost_deal_is_where_the_run_lost_it(full, result, scenario):
    # The stage a closed pipeline loss ended in is the run's fail stage: stage_advance is its share passing.
    history = full.stage_history
    closed = _closes(full)
    reached = history[history["deal_id"].isin(closed["deal_id"])]
    m = result.metrics
    for k, name in enumerate(STAGES):
        # Of the closed deals (won or lost in the pipeline) that reached a stage, those that went past it.
        pipeline = closed[closed["won"] | ~closed["lead_id"].isin(
            result.leads.index[result.leads["state"] == "lost_rep_left"])]
        at = reached[reached["deal_id"].isin(pipeline["deal_id"]) & (reached["stage"] == name)]
        passed = at["deal_id"].isin(reached.loc[reached["stage"].isin(STAGES[k + 1:]), "deal_id"]) \
            | at["deal_id"].isin(pipeline.loc[pipeline["won"], "deal_id"])
        assert passed.mean() == pytest.approx(m[f"stage_advance.{name}"], rel=1e-12), name


EARLIER = [30.0, 71.5, 123.25]


@pytest.mark.parametrize("day", EARLIER)
def test_an_earlier_export_knows_nothing_after_its_day(scenario, full, day):
    cut = crm_export(scenario, SEED, export_day=day)
    at = cut.export_date
    assert at == pd.Timestamp(scenario.start_date) + pd.to_timedelta(day, unit="D")
    for name, frame in cut.tables().items():
        for column in frame.columns:
            if column.endswith("_date"):
                assert (frame[column].dropna() <= at).all(), (name, column)
    last_month = cut.spend["month_start"].max() if len(cut.spend) else None
    ended = int(day // DAYS_PER_MONTH)
    assert len(cut.spend) == 2 * ended and len(cut.headcount) == 2 * ended
    if ended:
        assert last_month == full.spend["month_start"].unique()[ended - 1]
    # The leads and deals created by then, with the same ids; what was known then is as the full export says.
    known = full.leads[full.leads["created_date"] <= at].reset_index(drop=True)
    assert np.array_equal(cut.leads["lead_id"], known["lead_id"])
    assert (cut.leads["created_date"] == known["created_date"]).all()
    for column in ("mql_date", "contacted_date", "qualified_date", "disqualified_date"):
        expected = known[column].where(known[column] <= at)
        assert cut.leads[column].equals(expected), column
    deals = full.deals[full.deals["created_date"] <= at].reset_index(drop=True)
    assert np.array_equal(cut.deals["deal_id"], deals["deal_id"])
    closed_then = deals["closed_date"] <= at
    assert cut.deals[closed_then].equals(deals[closed_then])
    still_open = cut.deals[~closed_then]
    assert still_open["closed_date"].isna().all() and not still_open["won"].any() and still_open["value"].isna().all()
    # Each deal open then is in the stage the full history has it in then.
    history = full.stage_history
    then = history[(history["entered_date"] <= at) & ~(history["left_date"] <= at)]
    then = then[then["deal_id"].isin(still_open["deal_id"])].set_index("deal_id")["stage"]
    assert then.index.is_unique and len(then) == len(still_open)
    assert (still_open.set_index("deal_id")["stage"] == then.loc[still_open["deal_id"]]).all()
    # Its history is the full one up to then.
    ours = cut.stage_history
    theirs = history[history["deal_id"].isin(cut.deals["deal_id"]) & (history["entered_date"] <= at)]
    theirs = theirs.assign(left_date=theirs["left_date"].where(theirs["left_date"] <= at)).reset_index(drop=True)
    assert ours.reset_index(drop=True).equals(theirs)


def test_an_export_day_of_the_horizon_is_the_default(scenario, full):
    same = crm_export(scenario, SEED, export_day=scenario.horizon_days)
    for name in CRM_FILES:
        assert getattr(same, name).equals(getattr(full, name)), name


def test_spend_and_headcount_are_the_plans_and_the_runs(full, result, scenario):
    spend = full.spend.pivot(index="month_start", columns="channel", values="spend")
    for name in ("search", "events"):
        assert np.array_equal(spend[name].to_numpy(), scenario.plan.monthly_spend(name))
    assert np.allclose(spend.sum(axis=1).to_numpy(), result.monthly["marketing_spend"].to_numpy(), rtol=1e-12)
    fte = full.headcount.pivot(index="month_start", columns="role", values="fte")
    for role in ("sdr", "ae"):
        assert np.array_equal(fte[role].to_numpy(), result.monthly[f"fte_{role}"].to_numpy())
    assert np.array_equal(spend.index.to_numpy(), result.monthly["month_start"].to_numpy())


# ---------------------------------------------------------------------------------
# Bad input, one line each


def test_a_scenario_without_a_start_date_is_one_line_naming_it():
    with pytest.raises(sim.PresentError) as info:
        crm_export(make(), 1)
    assert [p for p, _ in info.value.problems] == ["start_date"]
    assert "start_date" in str(info.value)


@pytest.mark.parametrize("day", [-1.0, 1e9, float("nan"), "30", True])
def test_an_export_day_outside_the_horizon_is_one_line_naming_it(scenario, day):
    with pytest.raises(sim.PresentError) as info:
        crm_export(scenario, 1, export_day=day)
    assert [p for p, _ in info.value.problems] == ["export_day"]


def test_a_record_without_lead_detail_is_refused(scenario):
    with pytest.raises(sim.PresentError) as info:
        crm_tables(run(scenario, 1))
    assert [p for p, _ in info.value.problems] == ["record"]


# ---------------------------------------------------------------------------------
# funnel export-crm


def _scenario_file(tmp_path, scenario):
    import yaml

    path = tmp_path / "crm.yaml"
    path.write_text(yaml.safe_dump(scenario.model_dump(mode="json", exclude_unset=True)), encoding="utf-8")
    return path


def test_export_crm_writes_the_tables_and_replaces_only_its_own(tmp_path, scenario, full):
    path, out = _scenario_file(tmp_path, scenario), tmp_path / "crm"
    code, stdout, err = in_process("export-crm", path, "--seed", SEED, "--out", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{n}.csv" for n in CRM_FILES), "about.json"])
    deals = pd.read_csv(out / "deals.csv", parse_dates=["created_date", "closed_date"])
    assert len(deals) == len(full.deals) and (deals["created_date"] == full.deals["created_date"]).all()
    assert (pd.read_csv(out / "stage_history.csv")["stage"] == full.stage_history["stage"]).all()
    code, _, err = in_process("export-crm", path, "--seed", SEED, "--out", out, "--export-day", 40)
    assert code == 0, err  # its own earlier output is replaced
    assert len(pd.read_csv(out / "leads.csv")) < len(full.leads)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "leads.csv").write_text("my,own\n", encoding="utf-8")
    code, stdout, err = in_process("export-crm", path, "--out", mine)
    assert code == 2 and stdout == "" and len(nonblank_lines(err)) == 1 and err.startswith("--out: ")
    assert "not an earlier CRM export" in err
    assert (mine / "leads.csv").read_text(encoding="utf-8") == "my,own\n"


def test_export_crm_bad_input_is_one_line_each(tmp_path, scenario):
    path = _scenario_file(tmp_path, scenario)
    code, _, err = in_process("export-crm", path, "--out", tmp_path / "a", "--export-day", 1e6)
    assert code == 2 and len(nonblank_lines(err)) == 1 and err.startswith("--export-day: ")
    (tmp_path / "undated").mkdir()
    undated = _scenario_file(tmp_path / "undated", make())
    code, _, err = in_process("export-crm", undated, "--out", tmp_path / "b")
    assert code == 2 and len(nonblank_lines(err)) == 1 and err.startswith(f"{undated}: start_date: ")
    assert not (tmp_path / "b").exists()


def test_a_deals_owner_is_a_rep_who_was_there_while_it_was_open(scenario, full):
    # Reps are numbered in the order their tenures start (ties, at day 0, in seat order).
    record = run(scenario, SEED, lead_detail=True)
    horizon = scenario.horizon_days
    tenures = sorted((t.start, seat.index, t.end) for seat in record.seats["ae"] for t in seat.tenures
                      if t.start < horizon)
    start = pd.Timestamp(scenario.start_date)
    deals = full.deals
    assert deals["owner"].notna().all() and len(tenures) > 3  # AEs left and were replaced: more reps than seats
    rep = deals["owner"].str.removeprefix("ae-").astype(int) - 1
    assert rep.between(0, len(tenures) - 1).all() and rep.nunique() > 3
    began = start + pd.to_timedelta([tenures[k][0] for k in rep], unit="D")
    ended = start + pd.to_timedelta([min(tenures[k][2], horizon) for k in rep], unit="D")
    last = deals["closed_date"].fillna(start + pd.Timedelta(days=horizon))
    # The last holder was employed at some moment of the deal's life: it started before the deal ended,
    # and left after the deal was created (a deal handed over came to it after its creation).
    assert (began.to_numpy() <= last.to_numpy()).all() and (deals["created_date"].to_numpy() <= ended.to_numpy()).all()
    one = make(start_date="2025-01-01", horizon_months=3, roles={"ae": {"fte": 1}})
    assert set(crm_export(one, seed=1).deals["owner"]) == {"ae-1"}  # one AE who never leaves holds every deal
