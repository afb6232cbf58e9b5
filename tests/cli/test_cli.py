"""The ``funnel`` command line: exit codes, one-line errors, strict JSON, CSV and tables.

Most checks call :func:`sim.cli.main` in process (fast), where a warning Python would
print in a real process is caught as well (``cli_run.shown_warnings``). The exit codes and
the absence of tracebacks through a real ``python -m sim.cli`` are checked once for
each way a command ends: here a closed pipe; a success, a pseudo-terminal and signals
in test_experiment_cli.py; bad options in test_flags_cli.py.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from importlib.metadata import entry_points

import pytest
import yaml
from builders import BAD_DIR, BAD_FILES, expected_paths
from cli_run import command, in_process, nonblank_lines, shown_warnings, strict_json, table_value
from paths import ROOT, SCENARIOS, TEACHING

from sim import __version__
from sim.cli.app import main
from sim.scenario import load_scenario

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))

# docs/model.md, section 8 (measures), as the keys of `funnel run --json`.
SECTION_6_MEASURES = [
    "leads", "mqls", "sqls", "opportunities", "wins",
    "losses.cold_leads", "cold_events", "losses.disqualified", "losses.lost_in_pipeline", "losses.rep_left",
    "response_time_median_hours", "response_time_p90_hours", "sla_share",
    "queue_mean_mqls", "queue_mean_sqls", "qualifier_utilisation", "ae_slot_utilisation",
    "bookings", "revenue", "ending_mrr", "ending_arr",
    "cost.total", "cost_per_lead", "cost_per_mql", "cac", "ltv_to_cac",
    "contribution", "roi", "payback_months",
    "open_pipeline_count", "open_pipeline_weighted_value", "npv_contribution",
]
COUNTS = ["leads", "mqls", "sqls", "opportunities", "wins", "open_pipeline_count", "cold_events",
          "losses.cold_leads", "losses.disqualified", "losses.lost_in_pipeline", "losses.rep_left"]

COLD_LEADS = "leads lost cold (never contacted, not recycled)"
COLD_EVENTS = "times a lead went cold waiting (recycled ones too)"


@pytest.fixture(scope="module")
def run_seed_1() -> dict:
    with shown_warnings() as shown:
        code, out, err = in_process("run", TEACHING, "--seed", "1", "--json")
    assert shown == []
    assert code == 0, err
    assert err == ""  # a clean run warns about nothing
    return strict_json(out)  # fails on any text around the object, or on NaN


# ---------------------------------------------------------------------------------
# validate


def test_there_are_shipped_scenarios_and_bad_ones():
    assert TEACHING in SHIPPED
    assert len(BAD_FILES) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_validate_accepts_every_shipped_scenario(path):
    with shown_warnings() as shown:
        code, out, err = in_process("validate", path)
    assert code == 0, err
    assert err == "" and shown == []
    assert [line.partition("; ")[0] for line in nonblank_lines(out)] == [f"{path}: ok"]
    assert nonblank_lines(out)[0].partition("; ")[2].startswith("one replication: about ")


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_validate_rejects_a_bad_scenario_one_line_per_problem(path):
    expects = expected_paths(path)
    assert expects
    with shown_warnings() as shown:
        code, out, err = in_process("validate", path)
    assert code == 2
    assert "Traceback" not in out + err
    assert shown == []
    assert "ok" not in out
    lines = nonblank_lines(err)
    assert lines
    # "<file>: <field path>: <problem>", as in test_validation.py
    for line in lines:
        assert line.startswith(f"{path}: "), line
        assert any(line.startswith(f"{path}: {e}:") for e in expects), f"{line!r} names none of {expects}"
    for e in expects:
        assert any(line.startswith(f"{path}: {e}:") for line in lines), f"{e} not reported: {lines}"


def test_validate_many_files_says_ok_or_one_line_per_problem_for_each():
    # Every shipped and every bad file at once: the good ones "ok" on stdout, in order; the bad ones
    # one line per problem on stderr; exit 2 because some are bad.
    code, out, err = in_process("validate", *SHIPPED, *BAD_FILES)
    assert code == 2
    assert "Traceback" not in out + err
    assert [line.partition("; ")[0] for line in nonblank_lines(out)] == [f"{path}: ok" for path in SHIPPED]
    lines = nonblank_lines(err)
    assert len(lines) >= len(BAD_FILES)
    prefixes = tuple(f"{p}: " for p in BAD_FILES)
    assert all(line.startswith(prefixes) for line in lines), lines
    for path in BAD_FILES:
        assert any(line.startswith(f"{path}: ") for line in lines), path


def test_validate_mixed_files_reports_ok_and_problems_separately():
    bad = BAD_DIR / "horizon_zero.yaml"
    code, out, err = in_process("validate", TEACHING, bad)
    assert code == 2
    assert [line.partition("; ")[0] for line in nonblank_lines(out)] == [f"{TEACHING}: ok"]
    assert nonblank_lines(err) and all(line.startswith(f"{bad}: horizon_months") for line in nonblank_lines(err))


def test_validate_missing_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    code, out, err = in_process("validate", missing)
    assert code == 2
    assert nonblank_lines(err) == [f"{missing}: file not found"]


# ---------------------------------------------------------------------------------
# run --json


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
    assert run_seed_1["losses.cold_leads"] == acc["lost_cold"]


def test_run_json_has_every_section_6_measure(run_seed_1):
    missing = [k for k in SECTION_6_MEASURES if k not in run_seed_1]
    assert not missing
    for key in SECTION_6_MEASURES:
        value = run_seed_1[key]
        assert value is None or (isinstance(value, int | float) and not isinstance(value, bool)), key
    for key in COUNTS:
        assert isinstance(run_seed_1[key], int) and run_seed_1[key] >= 0, key
    assert "losses.cold_waiting" not in run_seed_1  # renamed: cold_leads and cold_events
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


def test_same_seed_gives_identical_json_and_another_seed_does_not(run_seed_1):
    code, out, err = in_process("run", TEACHING, "--seed", "1", "--json")
    assert code == 0, err
    assert strict_json(out) == run_seed_1
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
    assert {"leads", "wins", "cold_events"} <= set(rows[0])
    assert "lost_cold" not in rows[0]  # renamed cold_events
    assert sum(float(r["leads"]) for r in rows) == metrics["leads"]
    assert sum(float(r["wins"]) for r in rows) == metrics["wins"]
    assert sum(float(r["cold_events"]) for r in rows) == metrics["cold_events"]


def test_monthly_into_a_missing_folder_fails_with_one_line(tmp_path):
    target = tmp_path / "no_such_folder" / "monthly.csv"
    code, out, err = in_process("run", TEACHING, "--monthly", target)
    assert code == 2
    assert "Traceback" not in out + err
    lines = nonblank_lines(err)
    assert len(lines) == 1, lines
    assert lines[0].startswith("--monthly: ") and str(target.parent) in lines[0]
    assert not target.parent.exists()


# ---------------------------------------------------------------------------------
# run (table)


def test_plain_run_prints_a_funnel_table():
    code, out, err = in_process("run", TEACHING, "--seed", "1")
    assert code == 0, err
    for word in ("leads", "MQLs", "won"):
        assert word in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)  # a table, not the JSON


@pytest.fixture(scope="module")
def cold_scenario(tmp_path_factory):
    """teaching_minimal with leads that go cold waiting and come back from nurture to go cold again."""
    data = yaml.safe_load(TEACHING.read_text(encoding="utf-8"))
    data["name"] = "teaching_cold"
    data["qualification"]["max_wait_days"] = 2
    data["roles"]["ae"]["hours_per_day"] = 1
    data["nurture"] = {"touch_interval_days": 7, "touch_points": 0.2, "dropout": 0.05, "max_days": 60,
                       "max_recycles": 3}
    path = tmp_path_factory.mktemp("cold") / "teaching_cold.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_the_report_shows_both_cold_lines_with_the_numbers_of_the_json(cold_scenario):
    code, out, err = in_process("run", cold_scenario, "--seed", 2, "--json")
    assert code == 0, err
    metrics = strict_json(out)
    cold_leads, cold_events = metrics["losses.cold_leads"], metrics["cold_events"]
    # The case that tells the two apart: leads went cold, and some more than once.
    assert 0 < cold_leads < cold_events
    assert cold_leads == metrics["lead_accounting"]["lost_cold"]
    code, out, err = in_process("run", cold_scenario, "--seed", 2)
    assert code == 0, err
    assert int(table_value(out, COLD_LEADS).replace(",", "")) == cold_leads
    assert int(table_value(out, COLD_EVENTS).replace(",", "")) == cold_events
    # And on a run where nothing went cold, both lines are there with zero.
    code, out, err = in_process("run", TEACHING, "--seed", 1)
    assert code == 0, err
    assert table_value(out, COLD_LEADS) == table_value(out, COLD_EVENTS) == "0"


# ---------------------------------------------------------------------------------
# wrong command lines

WRONG_FLAGS = [
    pytest.param(["run", TEACHING, "--seed", "abc"],
                 "funnel run: error: argument --seed: expected an integer, got 'abc' (see `funnel run --help`)",
                 id="seed-not-a-number"),
    pytest.param(["run", TEACHING, "--seed", "-3"],
                 "--seed: expected a non-negative integer, a SeedSequence or a Generator, got -3", id="seed-negative"),
    pytest.param(["run", TEACHING, "--sed", "3"], "--sed", id="unknown-option"),
    pytest.param(["run"], "FILE", id="missing-file-argument"),
    pytest.param(["bench", "--replications", "0"], "--replications: expected a positive number, got 0",
                 id="replications-zero"),
    pytest.param(["run", TEACHING, "--replication", "-1"], "--replication: expected a non-negative integer, got -1",
                 id="replication-negative"),
]


@pytest.mark.parametrize(("argv", "named"), WRONG_FLAGS)
def test_wrong_flags_give_one_line_naming_the_option(argv, named):
    code, out, err = in_process(*argv)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = nonblank_lines(err)
    assert len(lines) == 1, lines
    assert named in lines[0]


def test_no_command_is_a_usage_error():
    code, _, err = in_process()
    assert code == 2
    assert len(nonblank_lines(err)) == 1


def test_missing_scenario_file(tmp_path):
    missing = tmp_path / "missing.yaml"
    code, out, err = in_process("run", missing, "--seed", "1")
    assert code == 2
    assert "Traceback" not in out + err
    assert nonblank_lines(err) == [f"{missing}: file not found"]
    assert out == ""


def test_a_bad_scenario_in_run_is_reported_like_validate():
    bad = BAD_DIR / "horizon_zero.yaml"
    code, out, err = in_process("run", bad, "--json")
    assert code == 2
    assert out == ""
    assert nonblank_lines(err) and all(line.startswith(f"{bad}: horizon_months") for line in nonblank_lines(err))


def test_version():
    code, out, _ = in_process("--version")
    assert code == 0
    assert out.strip() == f"funnel {__version__}"


def test_the_funnel_script_runs_the_main_the_tests_call():
    # `python -m sim.cli` is checked in the real-process tests: its errors are `funnel ...`'s.
    (script,) = entry_points(group="console_scripts", name="funnel")
    assert script.load() is main


# ---------------------------------------------------------------------------------
# schema


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
        proc = subprocess.run(command("schema"), cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr
    assert proc.stderr == ""
    assert proc.returncode == 1  # stopped, as cat does, not a crash (exit 1 from main, not 120 from Python)


_GIVEN_LEADS = """\
horizon_months: 3
start_date: 2025-01-01
channels:
  events: {leads: [40, 60], spend: 500}
  search: {spend: 1000, response: {curve: hill, max_leads: 100, half_spend: 1000}}
roles: {ae: {fte: 1, cost_per_fte_year: 60000}}
"""


def test_given_leads_run_with_calendar_months_and_the_optimiser_refuses_their_spend_in_one_line(tmp_path):
    path = tmp_path / "given.yaml"
    path.write_text(_GIVEN_LEADS, encoding="utf-8")
    monthly = tmp_path / "monthly.csv"
    for fast in ([], ["--fast"]):
        code, _, err = in_process("run", str(path), "--monthly", str(monthly), *fast)
        assert code == 0, err
        with monthly.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["month_start"] for r in rows] == ["2025-01-01", "2025-02-01", "2025-03-01"]
        assert [float(r["marketing_spend"]) for r in rows] == [1500.0] * 3
    code, out, err = in_process("optimize", str(path))
    assert code == 2 and out == ""
    (line,) = nonblank_lines(err)
    assert line.startswith("FILE: channels.events: its leads are given") and "Traceback" not in err
