"""``funnel backtest``: a table on an export-crm folder; bad input is one line per problem and exit 2."""

import json

import pytest
from cli_run import SCENARIOS, in_process

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
