"""``funnel run FILE --fast``: the deterministic approximation on the command line.

In process (fast): the report says it is an approximation, ``--json`` is strict JSON
with the library's numbers, ``--monthly`` writes the DES's columns, and every option
that only means something for simulations is refused, one line each, exit 2.
"""

from __future__ import annotations

import csv

import pytest
from cli_run import assert_one_line_per_option, in_process, strict_json
from paths import REFERENCE, SMALL_FIRM, TEACHING

from sim.model import approximate
from sim.scenario import load_scenario


def test_the_report_says_it_is_an_approximation_with_its_error():
    code, out, err = in_process("run", REFERENCE, "--fast")
    assert code == 0, err
    assert err == ""
    first, second = out.splitlines()[:2]
    assert "deterministic approximation" in first and "not a simulation" in first
    assert "docs/model.md, section 11" in second
    wins = approximate(load_scenario(REFERENCE))["wins"]
    row = next(line for line in out.splitlines() if line.strip().startswith("won "))
    assert row.split()[-1] == f"{wins:,.0f}"


def test_json_is_strict_and_the_library_numbers():
    code, out, err = in_process("run", SMALL_FIRM, "--fast", "--json")
    assert code == 0, err
    measures = strict_json(out)
    expected = approximate(load_scenario(SMALL_FIRM))
    assert measures.keys() == expected.keys()
    for key, value in expected.items():
        assert measures[key] == pytest.approx(value, rel=1e-12)
    assert "budget_unspent" in measures  # a budget split: its accounting is there


def test_monthly_writes_the_des_columns(tmp_path):
    path = tmp_path / "fast.csv"
    code, _out, err = in_process("run", TEACHING, "--fast", "--monthly", path)
    assert code == 0, err
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == load_scenario(TEACHING).horizon_months
    assert {"month", "leads", "mqls", "sqls", "wins", "revenue", "contribution", "fte_ae"} <= set(rows[0])


@pytest.mark.parametrize("options", [
    ["--reps", "3"],
    ["--replication", "2"],
    ["--workers", "2"],
    ["--out", "somewhere"],
    ["--trace", "1"],
    ["--precision", "0.1"],
    ["--reps", "3", "--workers", "2", "--metric", "wins"],
], ids=lambda o: " ".join(o))
def test_options_for_simulations_are_refused_one_line_each(options, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = in_process("run", TEACHING, "--fast", *options)
    named = [o for o in options if o.startswith("--")]
    lines = assert_one_line_per_option(code, out, err, named)
    assert all("--fast" in line for line in lines)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_a_monthly_file_in_a_missing_folder_is_refused(tmp_path):
    code, out, err = in_process("run", TEACHING, "--fast", "--monthly", tmp_path / "missing" / "m.csv")
    assert_one_line_per_option(code, out, err, ["--monthly"])
