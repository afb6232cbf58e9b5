"""Scenarios too big to run: refused in one line before anything runs, by every command; `--limit` raises a limit."""

import signal
from pathlib import Path

import pytest
from builders import expected_paths
from cli_run import in_process, nonblank_lines
from paths import REFERENCE, TESTS

TOO_BIG = sorted((TESTS / "too_big_scenarios").glob("*.yaml"))


@pytest.fixture(autouse=True)
def no_hang():
    # Each of these once hung or ran out of memory: a regression must fail, not stall the suite.
    def stop(*_):
        raise TimeoutError("the size check did not answer within 30 s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_the_corpus_covers_every_count_that_has_a_limit():
    from sim.model.size import LIMITS, estimate_size
    from sim.scenario import load_scenario

    over = {name for path in TOO_BIG for name, count in estimate_size(load_scenario(path)).counts().items()
            if count > LIMITS[name]}
    assert over == set(LIMITS)


@pytest.mark.parametrize("path", TOO_BIG, ids=lambda p: p.stem)
@pytest.mark.parametrize("command", [["validate"], ["run"], ["run", "--fast"], ["run", "--reps", "3"]])
def test_a_scenario_too_big_is_one_line_naming_its_field_and_the_limit(path: Path, command):
    [field] = expected_paths(path)
    code, out, err = in_process(command[0], path, *command[1:])
    assert code == 2, out + err
    assert out == ""
    [line] = nonblank_lines(err)
    prefix = f"{path}: " if command == ["validate"] else ""
    assert line.startswith(f"{prefix}{field}: one replication would need "), line
    assert "or raise the limit: --limit " in line and line.endswith("=N")


def test_validate_prints_the_estimate_and_a_raised_limit_lets_a_big_file_through():
    path = TESTS / "too_big_scenarios" / "installed_base_a_hundred_million.yaml"
    code, out, err = in_process("validate", path, "--limit", "customers=2e8")
    assert (code, err) == (0, "")
    assert nonblank_lines(out)[0].startswith(f"{path}: ok; one replication: about ")
    assert "100,000,000 starting customers" in out and "(estimated)" in out


def test_a_budget_that_buys_millions_of_reps_is_refused_by_compare_and_optimize():
    code, out, err = in_process("compare", REFERENCE, "--budget", "1e12", "--marketing-share", "0.3", "--reps", "2")
    assert code == 2
    lines = nonblank_lines(err)
    assert [line.split(" would")[0] for line in lines] == [
        "roles.sdr.fte: one replication (alternative today)",
        "roles.sdr.fte: one replication (alternative marketing 30%)"]
    code, out, err = in_process("optimize", REFERENCE, "--budget", "1e12")
    assert code == 2
    [line] = nonblank_lines(err)
    assert " one replication would need about " in line and line.endswith("--limit seats=N")


@pytest.mark.parametrize(("limit", "message"), [
    ("leeds=5", "--limit: 'leeds' is not a limit; limits are leads, seats, tenures, ae_slots, customers"),
    ("leads=many", "--limit: expected NAME=N with N a number, got leads=many"),
    ("leads=-1", "--limit: leads must be a positive number, got -1.0"),
    ("leads", "--limit: expected NAME=VALUE, got 'leads'"),
])
def test_a_wrong_limit_is_one_line(limit, message):
    for command in (["validate", REFERENCE], ["run", REFERENCE], ["compare", REFERENCE, "--marketing-share", "0.3"]):
        code, _, err = in_process(*command, "--limit", limit)
        assert (code, nonblank_lines(err)) == (2, [message]), command
