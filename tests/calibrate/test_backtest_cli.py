"""``funnel backtest``: a table on an export-crm folder; bad input is one line per problem and exit 2."""

import json
import re

import pandas as pd
import pytest
from cli_run import ROOT, SCENARIOS, in_process, strict_json

SCENARIO = str(SCENARIOS / "student_explorer.yaml")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("crm") / "export"
    code, _, err = in_process("export-crm", SCENARIO, "--out", str(out), "--seed", "2")
    assert code == 0, err
    return out


def test_backtest_prints_a_table_and_verdicts(folder, tmp_path):
    png = tmp_path / "bt.png"
    code, out, err = in_process("backtest", SCENARIO, "--data", str(folder), "--train-until", "2025-09-01",
                                "--reps", "20", "--plot", str(png))
    assert code == 0, err
    assert "month_start" in out and "closes: 80% band:" in out and "PIT histogram" in out
    assert png.stat().st_size > 10_000


def test_backtest_json(folder):
    code, out, _ = in_process("backtest", SCENARIO, "--data", str(folder), "--train-until", "2025-10-01",
                              "--reps", "20", "--json", "--forecast-inputs")
    assert code == 0
    data = json.loads(out)
    assert data["summary"]["known_inputs"] is False and len(data["table"]) == 3 * 3


def test_bad_folder_missing_file_and_bad_date_one_line_each(folder, tmp_path):
    code, out, err = in_process("backtest", SCENARIO, "--data", str(tmp_path / "nope"), "--train-until", "2025-09-01")
    assert code == 2 and err.count("\n") == 1 and err.startswith("--data:") and "Traceback" not in err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "leads.csv").write_text((folder / "leads.csv").read_text())
    code, _, err = in_process("backtest", SCENARIO, "--data", str(tmp_path / "half"), "--train-until", "2025-09-01")
    assert code == 2 and err.count("\n") == 1 and "deals.csv: is missing" in err
    code, _, err = in_process("backtest", SCENARIO, "--data", str(folder), "--train-until", "someday")
    assert code == 2 and err.strip() == "--train-until: expected a date such as 2025-07-01, got 'someday'"
    code, _, err = in_process("backtest", SCENARIO, "--data", str(folder), "--train-until", "2025-09-01",
                              "--months", "9")
    assert code == 2 and err.count("\n") == 1 and err.startswith("--months:")


# ---------------------------------------------------------------------------------
# --mapping: any CRM export, read as funnel calibrate reads it

MAPPINGS = ROOT / "mappings"
SHARED = ROOT.parent / "shared" / "data" / "crm_opportunities"
NO_LEADS = "no leads table: leads and conversion by channel not scored; the model forecasts its own leads"
DEALS_AS_LEADS = "no leads table: each deal is taken as its own lead"


def _without(summary: dict, *keys) -> dict:
    return {k: v for k, v in summary.items() if k not in keys}


def test_an_export_read_through_the_funnel_sim_mapping_scores_exactly_as_the_plain_reader(folder):
    mappings = ([], ["--mapping", MAPPINGS / "funnel_sim.yaml"])
    runs = [in_process("backtest", SCENARIO, "--data", folder, "--train-until", "2025-09-01", "--reps", "20",
                       "--seed", "5", "--json", *mapping) for mapping in mappings]
    assert [code for code, _, _ in runs] == [0, 0], [err for _, _, err in runs]
    plain, mapped = (strict_json(out) for _, out, _ in runs)
    assert mapped["table"] == plain["table"] and len(plain["table"]) == 4 * 3  # September to December, 3 measures
    assert _without(mapped["summary"], "warnings") == _without(plain["summary"], "warnings")
    assert mapped["summary"]["known_inputs"] is True and mapped["summary"]["unusable_rows"] == {}
    # Both read the headcount table and feed it in (the export's, whole FTE every month): nothing to warn about.
    assert plain["summary"]["warnings"] == [] and mapped["summary"]["warnings"] == []


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """The public opportunity export calibrated up to the end of June 2017, and calibrate's report."""
    out = tmp_path_factory.mktemp("opp") / "opp.yaml"
    code, text, err = in_process("calibrate", "--mapping", MAPPINGS / "crm_opportunities.yaml", "--data", SHARED,
                                 "--train-until", "2017-06-30", "--out", out, "--json")
    assert code == 0, err
    return out, strict_json(text)


def test_the_public_opportunity_export_back_tests_each_deal_as_its_own_lead_and_says_so(calibrated):
    scenario, report = calibrated
    # Eight thousand deals, a few hundred a month, 30 AEs: 10 replications are plenty for the identities below.
    args = ("backtest", scenario, "--mapping", MAPPINGS / "crm_opportunities.yaml", "--data", SHARED,
            "--train-until", "2017-07-01")
    code, out, err = in_process(*args, "--reps", "10", "--json")
    assert code == 0, err
    data = strict_json(out)
    summary = data["summary"]
    assert any(w.startswith(DEALS_AS_LEADS) for w in summary["warnings"])
    assert summary["measures"] == ["closes", "revenue", "leads"] and summary["known_inputs"] is True
    # The held-out months lie in the calibrated horizon (the training months and a year): nothing extended.
    assert (summary["window_start"], summary["window_end"]) == ("2017-07-01", "2017-12-01")
    assert not any(w.startswith("the scenario's horizon (") for w in summary["warnings"])
    # The "leads" are the deals engaged each month, counted here from the raw file.
    raw = pd.read_csv(SHARED / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    engaged = raw["engage_date"].dt.to_period("M").value_counts()
    won = raw[raw["deal_stage"] == "Won"]["close_date"].dt.to_period("M").value_counts()
    table = pd.DataFrame(data["table"])
    table["period"] = pd.to_datetime(table["month_start"]).dt.to_period("M")
    for measure, truth in (("leads", engaged), ("closes", won)):
        rows = table[table["measure"] == measure]
        assert len(rows) == 5 and (rows["actual"].to_numpy() == truth[rows["period"]].to_numpy()).all(), measure
    # Fed in, each month's deals are its Poisson mean: the predicted medians lie within 4 sd of the actual counts.
    leads = table[table["measure"] == "leads"]
    assert (abs(leads["q50"] - leads["actual"]) < 4 * leads["actual"] ** 0.5).all()
    # The same unusable rows as calibrate counts; its rows after the training cut are the cut, not unusable.
    unusable = {k: v for k, v in report["unusable_rows"].items() if " created after " not in k}
    assert summary["unusable_rows"] == unusable and sum(unusable.values()) > 0
    assert any(w.startswith(f"{sum(unusable.values())} unusable rows left out") for w in summary["warnings"])
    code, out, err = in_process(*args, "--reps", "2", "--months", "1")  # the text shows what the JSON holds
    assert code == 0, err
    assert f"warning: {DEALS_AS_LEADS}" in out and "closes: 80% band:" in out
    assert re.search(r"^ *2017-07 +closes ", out, re.M) and re.search(r"^ *2017-07 +leads ", out, re.M)


def test_a_bad_mapping_exits_2_with_one_line_naming_the_file(folder, tmp_path):
    run = ("backtest", SCENARIO, "--data", folder, "--train-until", "2025-09-01", "--reps", "20", "--mapping")
    code, out, err = in_process(*run, tmp_path / "nosuch.yaml")
    assert (code, out) == (2, "") and "Traceback" not in err
    assert err.splitlines() == [f"{tmp_path / 'nosuch.yaml'}: cannot read the mapping file: No such file or directory"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("tables: [deals\n", encoding="utf-8")
    code, out, err = in_process(*run, broken)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1 and err.startswith(f"{broken}: line ")
    wrong = tmp_path / "wrong.yaml"  # a column the file does not have
    wrong.write_text("tables:\n  deals:\n    file: deals.csv\n    columns: {deal_id: Record ID, created_date: "
                     "created_date, stage: stage}\n    won: [won]\n", encoding="utf-8")
    code, out, err = in_process(*run, wrong)
    assert (code, out) == (2, "") and "Traceback" not in err
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("deals.csv: Record ID: missing")]
    assert len(err.splitlines()) == 1


def test_an_unreadable_mapped_file_exits_2_with_one_line_naming_it(tmp_path):
    (tmp_path / "deals.xlsx").write_text("not a workbook\n", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("tables:\n  deals:\n    file: deals.xlsx\n    columns: {deal_id: id, created_date: created, "
                       "stage: stage}\n    won: [won]\n", encoding="utf-8")
    code, out, err = in_process("backtest", SCENARIO, "--mapping", mapping, "--data", tmp_path, "--train-until",
                                "2025-09-01", "--reps", "20")
    assert (code, out) == (2, "") and "Traceback" not in err
    assert len(err.splitlines()) == 1 and err.startswith(f"{tmp_path / 'deals.xlsx'}: cannot read it as a table")
