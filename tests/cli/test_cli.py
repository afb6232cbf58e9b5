"""The ``funnel`` command line: exit codes, one-line errors, strict JSON, CSV and tables.

Most checks call :func:`sim.cli.main` in process (fast); the exit codes and the
absence of tracebacks are also checked through a real ``python -m sim.cli`` process,
because that is what a user or a script sees.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest
from builders import BAD_DIR, BAD_FILES, expected_paths
from cli_run import ROOT, SCENARIOS, TEACHING, in_process, in_subprocess, nonblank_lines, strict_json

from sim import __version__
from sim.scenario.schema import load_scenario

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))

# MODEL.md section 6, as the keys of `funnel run --json`.
SECTION_6_MEASURES = [
    "leads", "mqls", "sqls", "opportunities", "wins",
    "losses.cold_waiting", "losses.disqualified", "losses.lost_in_pipeline", "losses.rep_left",
    "response_time_median_hours", "response_time_p90_hours", "sla_share",
    "queue_mean_mqls", "queue_mean_sqls", "qualifier_utilisation", "ae_slot_utilisation",
    "bookings", "revenue", "ending_mrr", "ending_arr",
    "cost.total", "cost_per_lead", "cost_per_mql", "cac", "ltv_to_cac",
    "contribution", "roi", "payback_months",
    "open_pipeline_count", "open_pipeline_weighted_value", "npv_contribution",
]
COUNTS = ["leads", "mqls", "sqls", "opportunities", "wins", "open_pipeline_count",
          "losses.cold_waiting", "losses.disqualified", "losses.lost_in_pipeline", "losses.rep_left"]


# ---------------------------------------------------------------------------------
# Helpers










@pytest.fixture(scope="module")
def run_seed_1() -> dict:
    code, out, err = in_process("run", TEACHING, "--seed", "1", "--json")
    assert code == 0, err
    return strict_json(out)


# ---------------------------------------------------------------------------------
# validate


def test_there_are_shipped_scenarios_and_bad_ones():
    assert TEACHING in SHIPPED
    assert len(BAD_FILES) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_validate_accepts_every_shipped_scenario(path):
    code, out, err = in_process("validate", path)
    assert code == 0, err
    assert err == ""
    assert nonblank_lines(out) == [f"{path}: ok"]


def test_validate_all_shipped_scenarios_in_a_real_process():
    proc = in_subprocess("validate", *SHIPPED)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = nonblank_lines(proc.stdout)
    assert len(lines) == len(SHIPPED)
    for path, line in zip(SHIPPED, lines, strict=True):
        assert line.startswith(str(path)) and line.endswith("ok")


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_validate_rejects_a_bad_scenario_one_line_per_problem(path):
    expects = expected_paths(path)
    assert expects
    code, out, err = in_process("validate", path)
    assert code == 2
    assert "Traceback" not in out + err
    assert "ok" not in out
    lines = nonblank_lines(err)
    assert lines
    # "<file>: <field path>: <problem>", as in test_validation.py
    for line in lines:
        assert line.startswith(f"{path}: "), line
        assert any(line.startswith(f"{path}: {e}:") for e in expects), f"{line!r} names none of {expects}"
    for e in expects:
        assert any(line.startswith(f"{path}: {e}:") for line in lines), f"{e} not reported: {lines}"


def test_validate_all_bad_scenarios_in_a_real_process():
    proc = in_subprocess("validate", *BAD_FILES)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    prefixes = tuple(f"{p}: " for p in BAD_FILES)
    lines = nonblank_lines(proc.stderr)
    assert len(lines) >= len(BAD_FILES)
    assert all(line.startswith(prefixes) for line in lines), lines


def test_validate_mixed_files_reports_ok_and_problems_separately():
    bad = BAD_DIR / "horizon_zero.yaml"
    code, out, err = in_process("validate", TEACHING, bad)
    assert code == 2
    assert nonblank_lines(out) == [f"{TEACHING}: ok"]
    assert nonblank_lines(err) and all(line.startswith(f"{bad}: horizon_months") for line in nonblank_lines(err))


def test_validate_missing_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    code, out, err = in_process("validate", missing)
    assert code == 2
    assert nonblank_lines(err) == [f"{missing}: file not found"]


# ---------------------------------------------------------------------------------
# run --json


def test_run_json_is_one_strict_json_object():
    proc = in_subprocess("run", TEACHING, "--seed", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ""  # a clean run warns about nothing
    data = strict_json(proc.stdout)  # fails on any text around the object, or on NaN
    assert isinstance(data, dict)


def test_strict_json_helper_rejects_nan_and_infinity():
    for text in ('{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}'):
        with pytest.raises(ValueError):
            strict_json(text)


def test_run_json_lead_accounting_is_exact(run_seed_1):
    acc = run_seed_1["lead_accounting"]
    assert {"arrived", "in_flight"} <= set(acc)
    assert all(isinstance(v, int) and v >= 0 for v in acc.values())
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")
    assert acc["arrived"] == run_seed_1["leads"]
    assert acc["arrived"] > 0


def test_run_json_has_every_section_6_measure(run_seed_1):
    missing = [k for k in SECTION_6_MEASURES if k not in run_seed_1]
    assert not missing
    for key in SECTION_6_MEASURES:
        value = run_seed_1[key]
        assert value is None or (isinstance(value, int | float) and not isinstance(value, bool)), key
    for key in COUNTS:
        assert isinstance(run_seed_1[key], int) and run_seed_1[key] >= 0, key
    # costs by category, leads and wins by channel
    assert any(k.startswith("cost.") and k != "cost.total" for k in run_seed_1)
    channels = list(load_scenario(TEACHING).channels)
    assert channels
    for ch in channels:
        assert f"leads.{ch}" in run_seed_1
        assert f"wins.{ch}" in run_seed_1


def test_run_json_totals_agree_with_their_parts(run_seed_1):
    m = run_seed_1
    assert m["leads"] == sum(v for k, v in m.items() if k.startswith("leads."))
    assert m["wins"] == sum(v for k, v in m.items() if k.startswith("wins."))
    assert m["wins"] == m["lead_accounting"]["won"]
    parts = [v for k, v in m.items() if k.startswith("cost.") and k != "cost.total"]
    assert m["cost.total"] == pytest.approx(sum(parts), rel=1e-9)
    assert m["ending_arr"] == pytest.approx(12 * m["ending_mrr"], rel=1e-9, abs=1e-6)
    assert m["mqls"] <= m["leads"] and m["sqls"] <= m["mqls"] and m["wins"] <= m["opportunities"]


def test_same_seed_gives_identical_json_across_processes(run_seed_1):
    first = in_subprocess("run", TEACHING, "--seed", "1", "--json")
    second = in_subprocess("run", TEACHING, "--seed", "1", "--json")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert strict_json(first.stdout) == run_seed_1  # in process and out of process agree


def test_different_seed_gives_different_json(run_seed_1):
    code, out, err = in_process("run", TEACHING, "--seed", "2", "--json")
    assert code == 0, err
    assert strict_json(out) != run_seed_1


# ---------------------------------------------------------------------------------
# run --monthly


def test_monthly_csv_has_one_row_per_month_and_adds_up(tmp_path):
    target = tmp_path / "monthly.csv"
    code, out, err = in_process("run", TEACHING, "--seed", "3", "--json", "--monthly", target)
    assert code == 0, err
    metrics = strict_json(out)
    with target.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == load_scenario(TEACHING).horizon_months
    assert {"leads", "wins"} <= set(rows[0])
    assert sum(float(r["leads"]) for r in rows) == metrics["leads"]
    assert sum(float(r["wins"]) for r in rows) == metrics["wins"]


def test_monthly_into_a_missing_folder_fails_with_one_line(tmp_path):
    target = tmp_path / "no_such_folder" / "monthly.csv"
    proc = in_subprocess("run", TEACHING, "--monthly", target)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = nonblank_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert "--monthly" in lines[0]
    assert not target.exists()


# ---------------------------------------------------------------------------------
# run (table)


def test_plain_run_prints_a_funnel_table():
    code, out, err = in_process("run", TEACHING, "--seed", "1")
    assert code == 0, err
    for word in ("leads", "MQLs", "won"):
        assert word in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)  # a table, not the JSON


# ---------------------------------------------------------------------------------
# wrong command lines

WRONG_FLAGS = [
    pytest.param(["run", TEACHING, "--seed", "abc"], "--seed", id="seed-not-a-number"),
    pytest.param(["run", TEACHING, "--seed", "-3"], "--seed", id="seed-negative"),
    pytest.param(["run", TEACHING, "--sed", "3"], "--sed", id="unknown-option"),
    pytest.param(["run"], "FILE", id="missing-file-argument"),
    pytest.param(["bench", "--replications", "0"], "--replications", id="replications-zero"),
]


@pytest.mark.parametrize(("argv", "named"), WRONG_FLAGS)
def test_wrong_flags_give_one_line_naming_the_option(argv, named):
    code, out, err = in_process(*argv)
    assert code == 2
    lines = nonblank_lines(err)
    assert len(lines) == 1, lines
    assert named in lines[0]


@pytest.mark.parametrize(("argv", "named"), WRONG_FLAGS)
def test_wrong_flags_in_a_real_process(argv, named):
    proc = in_subprocess(*argv)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = nonblank_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert named in lines[0]


def test_no_command_is_a_usage_error():
    code, _, err = in_process()
    assert code == 2
    assert len(nonblank_lines(err)) == 1


def test_missing_scenario_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    proc = in_subprocess("run", missing, "--seed", "1")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = nonblank_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert "file not found" in lines[0]
    assert str(missing) in lines[0]
    assert proc.stdout == ""


def test_a_bad_scenario_in_run_is_reported_like_validate():
    bad = BAD_DIR / "horizon_zero.yaml"
    code, out, err = in_process("run", bad, "--json")
    assert code == 2
    assert out == ""
    assert nonblank_lines(err) and all(line.startswith(f"{bad}: horizon_months") for line in nonblank_lines(err))


def test_version():
    code, out, _ = in_process("--version")
    assert code == 0
    assert __version__ in out


# ---------------------------------------------------------------------------------
# schema and bench


def test_schema_is_a_json_schema_of_the_scenario():
    code, out, err = in_process("schema")
    assert code == 0, err
    schema = strict_json(out)
    assert {"channels", "horizon_months"} <= set(schema["properties"])
    assert "horizon_months" in schema.get("required", [])


def test_schema_into_a_closed_pipe_shows_no_traceback():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone, as with `| head -c 100`
    try:
        proc = subprocess.run([sys.executable, "-m", "sim.cli", "schema"], cwd=ROOT, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr


def test_bench_prints_positive_ratios():
    proc = in_subprocess("bench", "--replications", "1", "--customers", "2000", "--parallel-reps", "2",
                       "--scenario", TEACHING)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in proc.stdout.splitlines()[1:]}
    assert set(lines) == {"funnel leads per second", "bare SimPy M/M/c customers per s",
                          "ratio (leads / bare customers)", "replications per s, 1 worker",
                          "replications per s, 2 workers", "ratio (2 workers / 1)", "first start of worker processes"}
    number = {k: float(re.findall(r"\d[\d,]*(?:\.\d+)?", v)[0].replace(",", "")) for k, v in lines.items()}
    assert all(v > 0 for v in number.values()), number
    one, two = number["replications per s, 1 worker"], number["replications per s, 2 workers"]
    assert number["ratio (2 workers / 1)"] == pytest.approx(two / one, abs=0.02)  # from 2-decimal prints
