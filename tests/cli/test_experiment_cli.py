"""``funnel run --reps``: option errors, the JSON against replications run alone, resume after a kill.

Every expectation is computed independently of the code under test: a replication's
row against :func:`sim.simulate` with ``replication_seed(S, i)``, the summary against
``statistics`` and ``scipy.stats.t.interval``, a resumed run against an uninterrupted
one. The fast ``teaching_minimal`` scenario is used throughout: the kill and interrupt
tests save one replication per chunk (tens of milliseconds each), which leaves time to
stop a run half-way, and resume it in this process.

Real processes only where a real process is the point: a run's exit code and output
through ``python -m sim.cli`` with the progress bar on a pseudo-terminal, SIGKILL and
Ctrl-C (the option errors' exit code: test_flags_cli.py).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
import subprocess

import numpy as np
import pandas as pd
import pytest
from cli_run import (
    assert_one_line_per_option,
    command,
    in_process,
    nonblank_lines,
    shown_warnings,
    stamps,
    strict_json,
)
from paths import ROOT, TEACHING
from scipy import stats

import sim.model.simulation
from sim.montecarlo.replication import flatten_metrics, replication_seed
from sim.scenario import load_scenario

SEED = 7  # root seed of the teaching experiments
REPS = 5
# Stopping a run (Ctrl-C, SIGTERM, SIGKILL) and resuming it: tests/cli/test_shutdown.py.


# ---------------------------------------------------------------------------------
# Helpers


def _plain(value):
    """What a value should look like in strict JSON: NaN and infinities as None, numpy scalars as Python."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _measures(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("replication", "seed")}


def _alone(scenario, root: int, index: int) -> dict:
    """Replication ``index`` of root seed ``root``, run by hand, flattened as the experiment rows are."""
    result = sim.model.simulation.simulate(scenario, seed=replication_seed(root, index), lead_records=False)
    return _plain(flatten_metrics(result.metrics))


def _assert_same_values_and_types(got: dict, expected: dict) -> None:
    assert got == expected
    # 3 and 3.0 compare equal; the JSON should still keep a count an integer.
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}








@pytest.fixture(scope="module")
def teaching():
    return load_scenario(TEACHING)


TEACHING_REPS = ("run", TEACHING, "--reps", REPS, "--seed", SEED, "--json")


@pytest.fixture(scope="module")
def teaching_text() -> str:
    """What ``funnel run teaching --reps 5 --seed 7 --json`` prints (in this process)."""
    code, out, err = in_process(*TEACHING_REPS)
    assert code == 0, err
    assert err == ""
    return out


@pytest.fixture(scope="module")
def teaching_reps(teaching_text) -> dict:
    return strict_json(teaching_text)



# ---------------------------------------------------------------------------------
# 1. Option errors: exit 2, one line per problem naming the option, nothing run


OPTION_ERRORS = [
    pytest.param(["--workers", "2"], ["--workers"], id="workers-without-reps"),
    pytest.param(["--reps", "2", "--trace", "1"], ["--trace"], id="trace-without-out"),
    pytest.param(["--reps", "2", "--scheduler", "x"], ["--scheduler"], id="scheduler-without-dask"),
    # "--metric: is needed with --precision": the line is about the option missing.
    pytest.param(["--reps", "2", "--precision", "0.1"], ["--metric"], id="precision-without-metric"),
    pytest.param(["--reps", "2", "--metric", "wins"], ["--precision"], id="metric-without-precision"),
    pytest.param(["--replication", "3", "--reps", "5"], ["--replication"], id="replication-with-reps"),
    pytest.param(["--reps", "5", "--metric", "wins", "--precision", "0"], ["--precision"], id="precision-zero"),
    pytest.param(["--reps", "5", "--metric", "wins", "--precision", "abc"], ["--precision"], id="precision-abc"),
    pytest.param(["--reps", "0"], ["--reps"], id="reps-zero"),
    pytest.param(["--reps", "5", "--batch", "5"], ["--batch"], id="batch-without-precision"),
    pytest.param(["--reps", "5", "--chunk-size", "0"], ["--chunk-size"], id="chunk-size-zero"),
    pytest.param(["--reps", "5", "--backend", "spark"], ["--backend"], id="unknown-backend"),
    pytest.param(["--reps", "5", "--workers", "0"], ["--workers"], id="workers-zero"),
    pytest.param(["--reps", "5", "--metric", "wins", "--precision", "0.1", "--batch", "0"], ["--batch"],
                 id="batch-zero"),
    pytest.param(["--reps", "5", "--trace", "-1", "--out", "OUT"], ["--trace"], id="trace-negative"),
    pytest.param(["--reps", "0", "--chunk-size", "0", "--out", "OUT", "--trace", "-2"],
                 ["--reps", "--chunk-size", "--trace"], id="three-library-problems-with-out"),
    pytest.param(["--reps", "5", "--metric", "wins", "--precision", "0.1", "--batch", "1"], ["--batch"],
                 id="batch-one"),
    pytest.param(["--reps", "5", "--trace", "1", "--scheduler", "x"], ["--scheduler", "--trace"],
                 id="two-problems"),
    pytest.param(["--replication", "1", "--workers", "2", "--chunk-size", "3"], ["--replication", "--replication"],
                 id="replication-with-two-many-options"),
]


@pytest.mark.parametrize(("extra", "named"), OPTION_ERRORS)
def test_option_misuse_is_one_line_per_problem_with_exit_2(extra, named, tmp_path):
    out_dir = tmp_path / "never"
    code, out, err = in_process("run", TEACHING, *[out_dir if a == "OUT" else a for a in extra])
    lines = assert_one_line_per_option(code, out, err, named)
    assert not out_dir.exists()  # nothing ran
    if named == ["--replication", "--replication"]:  # one line for each option to drop
        assert lines == ["--replication: runs one replication alone; drop --workers",
                         "--replication: runs one replication alone; drop --chunk-size"]


def test_option_misuse_is_worded_with_the_flags():
    # (Exit 2 and no traceback in a real process: test_flags_cli.py, for several wrong options.)
    code, out, err = in_process("run", TEACHING, "--reps", "5", "--trace", "1", "--scheduler", "x")
    assert_one_line_per_option(code, out, err, ["--scheduler", "--trace"])
    assert nonblank_lines(err) == ["--trace: needs --out DIR to write the lead records to",
                                   "--scheduler: only the dask backend has a scheduler (add --backend dask)"]


def test_unknown_metric_names_the_option_and_suggests_the_measure():
    code, out, err = in_process("run", TEACHING, "--metric", "winz", "--precision", "0.1", "--reps", "5")
    (line,) = assert_one_line_per_option(code, out, err, ["--metric"])
    assert line.startswith("--metric")
    assert "winz" in line
    assert "wins" in line.replace("winz", "")


def test_out_into_a_non_empty_directory_that_is_not_an_experiment_is_refused(tmp_path):
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("keep me\n", encoding="utf-8")
    code, out, err = in_process("run", TEACHING, "--reps", "2", "--out", out_dir, "--json")
    (line,) = assert_one_line_per_option(code, out, err, ["--out"])
    assert str(out_dir) in line
    # Nothing was written into someone else's directory.
    assert sorted(p.name for p in out_dir.iterdir()) == ["notes.txt"]
    assert (out_dir / "notes.txt").read_text(encoding="utf-8") == "keep me\n"


def test_resuming_with_another_seed_is_refused_and_leaves_the_directory_usable(tmp_path):
    out_dir = tmp_path / "exp"
    code, _, err = in_process("run", TEACHING, "--reps", "2", "--seed", "1", "--out", out_dir, "--json")
    assert code == 0, err
    before = stamps([out_dir / "chunks", out_dir / "manifest.json"])

    code, out, err = in_process("run", TEACHING, "--reps", "2", "--seed", "2", "--out", out_dir, "--json")
    (line,) = assert_one_line_per_option(code, out, err, ["--out"])
    # The library's {seed} is worded with the flag.
    assert line == f"--out: {out_dir}: cannot resume: it was run with --seed 1, not 2; use a new --out directory"
    assert stamps([out_dir / "chunks", out_dir / "manifest.json"]) == before

    # The refused run let go of the directory: the right seed still resumes (and extends) it.
    code, out, err = in_process("run", TEACHING, "--reps", "3", "--seed", "1", "--out", out_dir, "--json")
    assert code == 0, err
    assert [r["replication"] for r in strict_json(out)["replications"]] == [0, 1, 2]


# ---------------------------------------------------------------------------------
# 2., 3. and 9. The JSON and the table of --reps


def test_reps_json_has_its_parts(teaching_reps):
    doc = teaching_reps
    assert set(doc) == {"experiment", "summary", "replications", "failures"}  # "precision" only with --precision
    assert doc["experiment"] == {"scenario": "teaching_minimal", "seed": SEED, "reps": REPS, "completed": REPS,
                                 "failed": 0, "out": None}
    assert doc["failures"] == []
    assert len(doc["replications"]) == REPS
    assert [r["replication"] for r in doc["replications"]] == list(range(REPS))
    assert all(r["seed"] == SEED for r in doc["replications"])


def test_each_row_equals_its_replication_run_alone(teaching_reps, teaching):
    for i, row in enumerate(teaching_reps["replications"]):
        _assert_same_values_and_types(_measures(row), _alone(teaching, SEED, i))
    # The rows are distinct draws, not one replication repeated.
    assert len({r["leads"] for r in teaching_reps["replications"]}) > 1


def test_summary_agrees_with_statistics_and_scipy(teaching_reps):
    rows = teaching_reps["replications"]
    summary = teaching_reps["summary"]
    assert set(summary) == set(_measures(rows[0]))
    for name in ("wins", "lead_accounting.arrived", "cost.total"):
        assert summary[name]["n"] == REPS
    for name, line in summary.items():
        assert set(line) == {"n", "mean", "ci_low", "ci_high", "std", "p10", "p50", "p90"}, name
        values = [r[name] for r in rows if r[name] is not None]
        assert line["n"] == len(values), name
        if not values:  # a rate with nothing to divide in every replication
            assert all(line[k] is None for k in line if k != "n"), name
            continue
        mean = statistics.fmean(values)
        close = {"rel": 1e-9, "abs": 1e-9}
        assert line["mean"] == pytest.approx(mean, **close), name
        assert line["std"] == pytest.approx(statistics.stdev(values), **close), name
        p10, *_, p90 = statistics.quantiles(values, n=10, method="inclusive")
        assert line["p10"] == pytest.approx(p10, **close), name
        assert line["p50"] == pytest.approx(statistics.median(values), **close), name
        assert line["p90"] == pytest.approx(p90, **close), name
        if statistics.stdev(values) == 0:  # scipy wants a positive scale; the interval is the point
            assert line["ci_low"] == pytest.approx(mean, **close) and line["ci_high"] == pytest.approx(mean, **close)
        else:
            low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
            assert line["ci_low"] == pytest.approx(low, **close), name
            assert line["ci_high"] == pytest.approx(high, **close), name
            assert line["ci_low"] < line["mean"] < line["ci_high"], name


def test_one_replication_alone_prints_the_same_metrics_as_its_row(teaching_reps):
    for i in (0, 3):
        code, out, err = in_process("run", TEACHING, "--replication", i, "--seed", SEED, "--json")
        assert code == 0, err
        alone = flatten_metrics(strict_json(out))
        _assert_same_values_and_types(alone, _measures(teaching_reps["replications"][i]))


def test_text_summary_lists_every_measure_of_the_json(teaching_reps):
    code, out, err = in_process("run", TEACHING, "--reps", REPS, "--seed", SEED)
    assert code == 0, err
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    assert f"{REPS} replications" in out and f"root seed {SEED}" in out
    # Table rows are "│ name │ mean │ ... │ n │"; cells are padded, never wrapped.
    cells = [[c.strip() for c in line.strip().strip("│").split("│")] for line in out.splitlines()
             if line.startswith("│")]
    names = [c[0] for c in cells]
    assert len(names) == len(set(names))
    assert set(names) == set(teaching_reps["summary"])
    for name in ("wins", "lead_accounting.arrived", "cost.total"):
        assert name in names
    for c in cells:
        assert int(c[-1]) == teaching_reps["summary"][c[0]]["n"], c


# ---------------------------------------------------------------------------------
# 8. --monthly with --reps


def test_monthly_csv_of_many_replications(tmp_path, teaching_reps, teaching):
    target = tmp_path / "out.csv"
    code, out, err = in_process("run", TEACHING, "--reps", 3, "--seed", SEED, "--json", "--monthly", target)
    assert code == 0, err
    with target.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert "replication" in rows[0]
    months = teaching.horizon_months
    assert len(rows) == 3 * months
    for i in range(3):
        mine = [r for r in rows if int(r["replication"]) == i]
        assert len(mine) == months
        # Each replication's months add up to that replication's total, as run alone.
        assert sum(float(r["leads"]) for r in mine) == teaching_reps["replications"][i]["leads"]
        assert sum(float(r["wins"]) for r in mine) == teaching_reps["replications"][i]["wins"]


# ---------------------------------------------------------------------------------
# 5. A replication that raises


def test_a_failing_replication_is_reported_and_the_others_kept(monkeypatch, teaching):
    original = sim.model.simulation.run
    bad, root = 2, 11
    seen = []

    def flaky(scenario, seed, lead_detail=False):
        seen.append(seed.spawn_key)
        if isinstance(seed, np.random.SeedSequence) and seed.spawn_key == (bad,):
            raise RuntimeError("boom in the model")
        return original(scenario, seed, lead_detail=lead_detail)

    # A serial run calls run_many's model, sim.model.replicate, in this process; it calls
    # sim.model.simulation.run by its module's name, so the patch is what it runs.
    monkeypatch.setattr(sim.model.simulation, "run", flaky)
    code, out, err = in_process("run", TEACHING, "--reps", "5", "--seed", root, "--json")
    monkeypatch.undo()

    assert sorted(seen) == [(i,) for i in range(5)]  # the patch ran every replication: the failure is its
    assert code == 0, err
    doc = strict_json(out)
    assert doc["experiment"]["failed"] == 1
    assert doc["experiment"]["completed"] == 4
    assert doc["failures"] == [{"replication": bad, "seed": root, "error": "RuntimeError: boom in the model"}]
    assert [r["replication"] for r in doc["replications"]] == [0, 1, 3, 4]
    for row in doc["replications"]:
        _assert_same_values_and_types(_measures(row), _alone(teaching, root, row["replication"]))
    # Only the 4 that finished are summarised.
    assert doc["summary"]["wins"]["n"] == 4
    assert doc["summary"]["wins"]["mean"] == pytest.approx(statistics.fmean(r["wins"] for r in doc["replications"]))
    lines = nonblank_lines(err)
    assert len(lines) == 1, lines
    assert f"replication {bad}" in lines[0]
    assert "boom in the model" in lines[0]
    assert f"--replication {bad} --seed {root}" in lines[0]


# ---------------------------------------------------------------------------------
# 6. --trace


def test_trace_writes_the_lead_records_of_the_first_replications(tmp_path, teaching_reps, teaching):
    out_dir = tmp_path / "exp"
    code, out, err = in_process("run", TEACHING, "--reps", REPS, "--seed", SEED, "--trace", 2, "--out", out_dir,
                                 "--quiet", "--json")
    assert code == 0, err
    assert sorted(p.name for p in (out_dir / "trace").iterdir()) == [
        "replication-00000000.parquet", "replication-00000001.parquet"]
    for i in (0, 1):
        written = pd.read_parquet(out_dir / "trace" / f"replication-{i:08d}.parquet")
        expected = sim.model.simulation.simulate(teaching, seed=replication_seed(SEED, i)).leads
        assert len(expected) > 0
        pd.testing.assert_frame_equal(written, expected)
    # Keeping lead records changes no number.
    assert json.dumps(strict_json(out)["replications"]) == json.dumps(teaching_reps["replications"])  # bit for bit


# ---------------------------------------------------------------------------------
# 7. No progress bar unless stderr is a terminal (and not --quiet)


@pytest.mark.parametrize("quiet", [[], ["--quiet"]], ids=["default", "quiet"])
def test_a_run_writes_nothing_to_a_stderr_that_is_not_a_terminal(quiet, teaching_text):
    with shown_warnings() as shown:  # what a real process would print on stderr too
        code, out, err = in_process(*TEACHING_REPS, *quiet)
    assert code == 0, err
    assert err == "" and shown == []
    assert out == teaching_text


def test_quiet_silences_the_progress_bar_on_a_terminal(teaching_text):
    # The same stderr, claiming to be a terminal, gets the bar without --quiet and nothing with it.
    code, out, err = in_process(*TEACHING_REPS, terminal=True)
    assert code == 0, err
    assert "replications" in err and "\x1b[" in err  # the bar was drawn on the terminal ...
    assert out == teaching_text  # ... not on stdout
    code, out, err = in_process(*TEACHING_REPS, "--quiet", terminal=True)
    assert code == 0, err
    assert err == ""
    assert out == teaching_text


def _run_on_a_terminal(tmp_path, *args) -> tuple[int, str, bytes]:
    """Run the CLI with stderr on a pseudo-terminal; return exit code, stdout, and what reached the terminal."""
    # rich would believe these over isatty(); a real interactive terminal sets none of them.
    overrides = ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_TERMINAL", "NO_COLOR", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if k not in overrides}
    env.update(TERM="xterm-256color", COLUMNS="100")
    master, slave = os.openpty()
    stdout_path = tmp_path / "stdout.json"
    with stdout_path.open("wb") as stdout:
        proc = subprocess.Popen(command(*args), cwd=ROOT, stdout=stdout, stderr=slave, env=env)
    os.close(slave)
    seen = []
    while True:  # read until the child has closed the terminal (EIO on Linux, b"" elsewhere)
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        seen.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, stdout_path.read_text(encoding="utf-8"), b"".join(seen)


def test_a_run_in_a_real_process_on_a_pseudo_terminal(tmp_path, teaching_text):
    # Exit 0 through `python -m sim.cli`; the JSON text byte for byte the same as in this process (another
    # process, another hash seed: the same numbers); the bar on a real terminal, as rich sees one in a real
    # process, and nothing else there (--quiet on a terminal, and a stderr that is not one: the tests above).
    code, out, terminal = _run_on_a_terminal(tmp_path, *TEACHING_REPS)
    assert code == 0, terminal
    assert out == teaching_text  # only the JSON on stdout
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.decode("utf-8"))  # the terminal's control codes
    lines = {line.strip() for line in re.split(r"[\r\n]", text) if line.strip()}
    assert lines, terminal  # the bar was drawn ...
    assert all(line.startswith("replications") for line in lines), lines  # ... and nothing but the bar
