"""``funnel run --excel``: one run's and many runs' workbooks hold the numbers of the JSON; --fast is refused.

The workbooks are read back as their readers do (pandas, no rows skipped; columns by the
code the Columns sheet gives them) and compared with the command's own ``--json``. The
workbooks of compare, sweep, optimize (and --over-time, --smallest-budget) and
sensitivity are checked beside those commands' other tests.
"""

from __future__ import annotations

import openpyxl
import pytest
from cli_run import assert_one_line_per_option, in_process, nonblank_lines, strict_json
from paths import TEACHING
from workbooks import assert_records_equal, by_code, formats, inputs_value, items

import sim.model.simulation


def _flat(metrics: dict) -> dict:
    return {f"{k}.{kk}" if isinstance(v, dict) else k: vv for k, v in metrics.items()
            for kk, vv in (v.items() if isinstance(v, dict) else [(None, v)])}


def test_one_run_workbook_holds_the_json_and_its_months(tmp_path):
    book = tmp_path / "one.xlsx"
    code, out, err = in_process("run", TEACHING, "--seed", 3, "--json", "--excel", book)
    assert code == 0, err
    metrics = _flat(strict_json(out))
    assert openpyxl.load_workbook(book, read_only=True).sheetnames == ["Inputs", "Measures", "Monthly", "Columns"]
    values = items(book, "Measures")
    assert sorted(values) == sorted(metrics)
    assert_records_equal([values], [metrics])
    months = by_code(book, "Monthly")
    assert list(months["month"]) == list(range(12))
    # The months add up to the horizon's measures (computed by the model, not the workbook).
    for column, measure in (("revenue", "revenue"), ("wins", "wins"), ("costs", "cost.total"),
                            ("contribution", "contribution"), ("marketing_spend", "cost.marketing_spend")):
        assert months[column].sum() == pytest.approx(metrics[measure], rel=1e-9, abs=1e-6), column
    assert months["cumulative_contribution"].iloc[-1] == pytest.approx(metrics["contribution"], rel=1e-9)
    assert (inputs_value(book, "Seed"), inputs_value(book, "Horizon")) == (3, 12)
    assert inputs_value(book, "Command") == f"funnel run {TEACHING} --seed 3 --json --excel {book}"
    assert formats(book, "Monthly")["Revenue (USD)"] == "#,##0"


def test_one_replication_of_an_experiment_says_its_root_and_index(tmp_path):
    book = tmp_path / "rep.xlsx"
    code, out, err = in_process("run", TEACHING, "--replication", 2, "--seed", 3, "--json", "--excel", book)
    assert code == 0, err
    assert (inputs_value(book, "Root seed"), inputs_value(book, "Replication")) == (3, 2)
    assert_records_equal([items(book, "Measures")], [_flat(strict_json(out))])


def test_many_runs_workbook_holds_the_json_summary_and_replications(tmp_path):
    book = tmp_path / "many.xlsx"
    code, out, err = in_process("run", TEACHING, "--reps", 3, "--seed", 2, "--json", "--excel", book, "--quiet")
    assert code == 0, err
    doc = strict_json(out)
    summary = {row["measure"]: row for row in by_code(book, "Measures").to_dict(orient="records")}
    assert sorted(summary) == sorted(doc["summary"])
    assert_records_equal([summary[m] for m in doc["summary"]], list(doc["summary"].values()))
    replications = by_code(book, "Replications").to_dict(orient="records")
    assert_records_equal(replications, doc["replications"])
    assert (inputs_value(book, "Root seed"), inputs_value(book, "Replications completed"),
            inputs_value(book, "Failed replications")) == (2, 3, 0)


def test_excel_with_fast_is_refused_before_anything_is_written(tmp_path):
    book = tmp_path / "fast.xlsx"
    code, out, err = in_process("run", TEACHING, "--fast", "--excel", book)
    (line,) = assert_one_line_per_option(code, out, err, ["--excel"])
    assert line.startswith("--excel: not with --fast")
    assert not book.exists()


def test_a_run_whose_every_replication_failed_writes_no_workbook_and_says_so(monkeypatch, tmp_path):
    def boom(*_args, **_kwargs):
        raise RuntimeError("boom in the model")

    monkeypatch.setattr(sim.model.simulation, "run", boom)
    book = tmp_path / "none.xlsx"
    code, out, err = in_process("run", TEACHING, "--reps", 2, "--excel", book)
    assert code == 1
    assert nonblank_lines(err)[-1] == f"--excel: {book} not written: no replication finished"
    assert not book.exists()
