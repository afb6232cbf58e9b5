"""`funnel calibrate` and sim.calibrate: the written YAML round-trips, the public data calibrates, bad input exits 2."""

import pandas as pd
import pytest
import yaml
from cli_run import in_process, strict_json
from paths import ROOT

import sim
from sim.scenario import parse_scenario

MAPPINGS = ROOT / "mappings"
SHARED = ROOT.parent / "shared" / "data" / "crm_opportunities"


def _export(tmp_path):
    scenario = sim.load_scenario(ROOT / "scenarios" / "teaching_minimal.yaml").replace(start_date="2025-01-01")
    sim.write_crm(sim.crm_export(scenario, seed=2), tmp_path / "crm")
    return tmp_path / "crm"


def test_the_written_yaml_round_trips_with_its_draws_as_uncertain_settings(tmp_path):
    found = sim.calibrate(_export(tmp_path), MAPPINGS / "funnel_sim.yaml")
    data = yaml.safe_load(found.scenario_text)
    assert len(data["opportunities"]["stages"][0]["advance"]["draws"]) == 200
    assert parse_scenario(data) == found.scenario
    draws = data["opportunities"]["stages"][0]["advance"]["draws"]
    assert found.scenario.uncertain["opportunities.stages.0.advance"] == draws  # each replication runs one row
    assert found.scenario.opportunities.stages[0].advance.low == sum(draws) / len(draws)  # read at the mean
    assert set(found.estimates.columns) == {"path", "estimate", "low", "high", "n", "window", "method"}
    assert "# opportunities.stages.0.advance:" in found.scenario_text


def test_the_public_crm_opportunities_data_calibrates_with_warnings(tmp_path):
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "crm_opportunities.yaml", "--data", SHARED,
                                "--out", tmp_path / "s.yaml", "--json")
    assert code == 0, err
    report = strict_json(out)
    assert any("no leads table" in w for w in report["warnings"])
    assert "qualification.p_qualify" in {r["path"] for r in report["not_identified"]}
    # Each deal is its own lead: the lead rate is the deals engaged per whole month, a count of the raw file.
    rate = next(r for r in report["estimated"] if r["path"] == "channels.opportunities.leads")
    months = round(rate["n"] / rate["estimate"])
    engaged = pd.read_csv(SHARED / "sales_pipeline.csv", parse_dates=["engage_date"])["engage_date"].dropna()
    first = engaged.min().to_period("M").to_timestamp()
    assert rate["n"] == ((engaged >= first) & (engaged < first + pd.DateOffset(months=months))).sum()
    assert 1 <= months <= 15 and rate["low"] < rate["estimate"] < rate["high"]
    assert "p_qualify: 1.0  # no leads table" in (tmp_path / "s.yaml").read_text(encoding="utf-8")
    assert report["unusable_rows"] == {"deals: unparsable or missing created_date": 500}
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "crm_opportunities.yaml", "--data", SHARED,
                                "--out", tmp_path / "s.yaml")
    assert code == 2 and "exists; give --force" in err


def test_a_missing_column_exits_2_with_one_line_naming_file_and_column(tmp_path):
    crm = _export(tmp_path)
    pd.read_csv(crm / "deals.csv").drop(columns=["closed_date", "created_date"]).to_csv(crm / "deals.csv", index=False)
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "funnel_sim.yaml", "--data", crm,
                                "--out", tmp_path / "s.yaml")
    assert code == 2 and out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines == [line for line in lines if line.startswith("deals.csv: ")] and len(lines) == 2
    assert not (tmp_path / "s.yaml").exists()


def test_a_channels_spend_is_its_mean_a_month_before_the_cut_and_the_horizon_runs_a_year_past_it(tmp_path):
    crm = _export(tmp_path)
    spend = pd.read_csv(crm / "spend.csv")
    spend["spend"] = [1000.0 * (k + 1) for k in range(len(spend))]  # a different spend each month
    spend.to_csv(crm / "spend.csv", index=False)
    found = sim.calibrate(crm, MAPPINGS / "funnel_sim.yaml", train_until="2025-05-15")
    channels = found.scenario.channels
    before = spend[pd.to_datetime(spend["month_start"]) < "2025-05-01"]  # the whole months before the cut
    for name, rows in before.groupby("channel"):
        assert channels[name].spend == [rows["spend"].mean()], name
    # The whole months before the cut (January to April) and 12 after: the months after the cut can be back-tested.
    assert found.scenario.horizon_months == 4 + 12


def test_the_response_time_decay_is_written_where_its_test_rejects_no_decay(tmp_path):
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "funnel_sim.yaml", "--data", _export(tmp_path),
                                "--out", tmp_path / "s.yaml", "--json")
    assert code == 0, err
    diagnostics = strict_json(out)["diagnostics"]
    decay, work = diagnostics["qualification.decay"], diagnostics["qualification.work_hours"]
    assert decay["n"] > 0 and 0 <= decay["p_value"] <= 1
    assert decay["written"] is (decay["p_value"] < 0.05 and work["written"])
    written = yaml.safe_load((tmp_path / "s.yaml").read_text(encoding="utf-8"))["qualification"]
    assert ("decay" in written) is decay["written"] and ("work_hours" in written) is work["written"]
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "funnel_sim.yaml", "--data", tmp_path / "crm",
                                "--out", tmp_path / "t.yaml")
    assert code == 0 and "response-time decay (diagnostic): " in out
    assert "qualifiers' work hours per lead (simulated moments): " in out


def test_deals_per_rep_from_an_export_with_owners_is_a_count_of_its_tables(tmp_path):
    crm = _export(tmp_path)
    found = sim.calibrate(crm, MAPPINGS / "funnel_sim.yaml", train_until="2025-09-01")
    per_rep = found.report["diagnostics"]["deals_per_rep"]
    deals, head = pd.read_csv(crm / "deals.csv", parse_dates=["created_date"]), pd.read_csv(crm / "headcount.csv")
    months = deals["created_date"].dt.to_period("M")
    before = deals[months < pd.Period("2025-09", "M")]
    assert per_rep["per_owner"]["deals"] == len(before)
    ae = head[(head["role"] == "ae") & (head["month_start"] < "2025-09-01")]["fte"].sum()
    assert per_rep["per_ae_fte"]["estimate"] == pytest.approx(len(before) / ae)
    for row in per_rep["by_month"]:  # the owners active in a month are among the export's reps
        assert row["owners"] <= before["owner"].nunique()


def test_rows_after_the_cut_are_counted_apart_from_unusable_ones(tmp_path):
    crm = _export(tmp_path)
    leads = pd.read_csv(crm / "leads.csv", parse_dates=["created_date"])
    code, out, err = in_process("calibrate", "--mapping", MAPPINGS / "funnel_sim.yaml", "--data", crm,
                                "--train-until", "2025-06-01", "--out", tmp_path / "s.yaml")
    assert code == 0, err
    later = int((leads["created_date"] > "2025-06-01").sum())
    assert f"  leads: created after 2025-06-01: {later}\n" in out and "rows after the training cut (" in out
    assert "unusable rows" not in out  # an export of a run has none
