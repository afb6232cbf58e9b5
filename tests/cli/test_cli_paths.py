"""What the command line refuses before any replication runs, and how a run that produced nothing ends.

Output paths (``--out``, ``--plots``, ``--excel``, ``--monthly``) of every command that has them, the number of
workers, ranges and grids too large to mean anything: one line naming the option, exit 2, and nothing run
(the model is watched: it is never called) or written. A run whose every replication failed exits 1.
All in this process (``cli_run.in_process``).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from cli_run import assert_one_line_per_option, in_process, nonblank_lines, stamps, strict_json
from paths import SMALL_FIRM, TEACHING

import sim.model.simulation
from sim.cli.options import MAX_VALUES, value_list
from sim.montecarlo import backends

T, S = TEACHING, SMALL_FIRM
COMMANDS = {  # each command with what it needs to run, and the output options it has
    "run": (["run", T, "--reps", 2], {"--out": "dir", "--monthly": "file", "--excel": "file"}),
    "compare": (["compare", T, "--marketing-share", "0.2,0.3", "--reps", 2],
                {"--out": "dir", "--plots": "dir", "--excel": "file"}),
    "sweep": (["sweep", T, "--marketing-share", "0.2,0.3", "--reps", 2],
              {"--out": "dir", "--plots": "dir", "--excel": "file"}),
    "optimize": (["optimize", S], {"--out": "dir", "--plots": "dir", "--excel": "file"}),
    "sensitivity": (["sensitivity", T, "--vary", "roles.ae.fte=1:3", "--reps", 2],
                    {"--out": "dir", "--plots": "dir", "--excel": "file"}),
}


@pytest.fixture
def model_calls(monkeypatch) -> list:
    """Every call of the model from now on (a serial run calls it in this process)."""
    calls, original = [], sim.model.simulation.run

    def watched(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(sim.model.simulation, "run", watched)
    return calls


@pytest.fixture
def places(tmp_path) -> dict[str, Path]:
    """A file, a folder with a file's name, a folder that cannot be written and one that is not there."""
    (tmp_path / "notes.txt").write_text("a file, not a folder\n", encoding="utf-8")
    (tmp_path / "book.xlsx").mkdir()
    (tmp_path / "locked").mkdir()
    for name in ("old.csv", "old.xlsx"):  # earlier outputs, to be overwritten
        (tmp_path / "locked" / name).write_text("x\n", encoding="utf-8")
    return {"file": tmp_path / "notes.txt", "dir named like a file": tmp_path / "book.xlsx",
            "locked": tmp_path / "locked", "missing": tmp_path / "missing"}


@pytest.fixture
def locked(monkeypatch, places):
    """``places["locked"]`` (and what is in it) not writable.

    By os.access, as the command line asks: permission bits would not do it, as root (a CI container, this
    one) may write anywhere.
    """
    real = os.access
    folder = places["locked"]

    def access(path, mode, *args, **kwargs):
        inside = Path(path) == folder or Path(path).parent == folder
        return False if inside and mode & os.W_OK else real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


# (case, the path given from the places and a file's suffix, what the one line says after "OPTION: ")
DIRECTORY_CASES = [
    ("under a file", lambda p, _: p["file"] / "results",
     lambda p, v: f"cannot create {v}: {p['file']} is a file, not a folder"),
    ("a file", lambda p, _: p["file"], lambda p, v: f"{v} exists and is not a directory"),
    ("in a locked folder", lambda p, _: p["locked"] / "results",
     lambda p, v: f"cannot create {v}: folder {p['locked']} is not writable"),
    ("a locked folder", lambda p, _: p["locked"], lambda p, v: f"{v}: folder is not writable"),
]
FILE_CASES = [
    ("a folder", lambda p, _: p["dir named like a file"], lambda p, v: f"{v} is a directory; expected a file name"),
    ("in a missing folder", lambda p, suffix: p["missing"] / f"out{suffix}",
     lambda p, v: f"folder {p['missing']} does not exist"),
    ("under a file", lambda p, suffix: p["file"] / f"out{suffix}",
     lambda p, v: f"cannot create {v}: {p['file']} is a file, not a folder"),
    ("in a locked folder", lambda p, suffix: p["locked"] / f"out{suffix}",
     lambda p, v: f"cannot create {v}: folder {p['locked']} is not writable"),
    ("a locked file", lambda p, suffix: p["locked"] / f"old{suffix}", lambda p, v: f"{v} exists and is not writable"),
]


def _cases():
    for command, (_, options) in COMMANDS.items():
        for option, kind in options.items():
            for case, value, line in DIRECTORY_CASES if kind == "dir" else FILE_CASES:
                yield pytest.param(command, option, value, line, id=f"{command}-{option[2:]}-{case}")


@pytest.mark.parametrize(("command", "option", "value", "line"), list(_cases()))
def test_an_output_path_that_cannot_work_is_refused_before_anything_runs(command, option, value, line, places,
                                                                         locked, model_calls, tmp_path):
    path = value(places, ".csv" if option == "--monthly" else ".xlsx")
    before = stamps([tmp_path])
    code, out, err = in_process(*COMMANDS[command][0], option, path, "--quiet")
    (got,) = assert_one_line_per_option(code, out, err, [option])
    assert got == f"{option}: {line(places, path)}"
    assert model_calls == []  # nothing ran ...
    assert stamps([tmp_path]) == before  # ... and nothing was written


def test_an_output_folder_with_missing_parents_is_made(tmp_path):
    out_dir = tmp_path / "new" / "deeper" / "exp"
    code, out, err = in_process("run", T, "--reps", 2, "--out", out_dir, "--json")
    assert code == 0, err
    assert strict_json(out)["experiment"]["completed"] == 2
    assert (out_dir / "manifest.json").is_file()


def test_a_single_run_checks_monthly_too(places, model_calls):
    code, out, err = in_process("run", T, "--monthly", places["dir named like a file"])
    (line,) = assert_one_line_per_option(code, out, err, ["--monthly"])
    assert line == f"--monthly: {places['dir named like a file']} is a directory; expected a file name"
    assert model_calls == []


# ---------------------------------------------------------------------------------
# --workers


@pytest.mark.parametrize("command", list(COMMANDS))
def test_far_more_workers_than_cpus_are_refused(command, monkeypatch, model_calls):
    monkeypatch.setattr(backends, "available_cpus", lambda: 2)
    code, out, err = in_process(*COMMANDS[command][0], "--workers", 1000, "--quiet")
    (line,) = assert_one_line_per_option(code, out, err, ["--workers"])
    assert line == ("--workers: expected at most 8 (4 per CPU; this machine lets it use 2), got 1000: more "
                    "processes than CPUs only slow a run down")
    assert model_calls == []


@pytest.mark.parametrize("command", ["run", "compare"])
def test_more_workers_than_cpus_is_one_warning_and_the_same_numbers(command, monkeypatch):
    monkeypatch.setattr(backends, "available_cpus", lambda: 1)
    # The pool replaced by this process (which runs the same chunks): starting processes is not the point here.
    monkeypatch.setattr(backends, "LocalBackend", lambda workers, preload: backends.SerialBackend())
    argv = [*COMMANDS[command][0], "--json", "--quiet"]
    code, out, err = in_process(*argv, "--workers", 3)
    assert code == 0, err
    assert nonblank_lines(err) == ["--workers: 3 processes on 1 CPU; more processes than CPUs only slow a run down"]
    code, alone, err = in_process(*argv)
    assert (code, err) == (0, "")
    assert strict_json(out) == strict_json(alone)


# ---------------------------------------------------------------------------------
# Every replication failed


@pytest.fixture
def failing(monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("boom in the model")

    monkeypatch.setattr(sim.model.simulation, "run", boom)


def test_a_run_whose_every_replication_failed_exits_1(failing):
    code, out, err = in_process("run", T, "--reps", 3)
    assert code == 1
    lines = nonblank_lines(err)
    assert "Traceback" not in out + err
    assert len(lines) == 4, lines  # each failure, then the verdict
    assert all(line.startswith(f"replication {i} failed: RuntimeError: boom") for i, line in enumerate(lines[:3]))
    assert lines[3] == "all 3 replications failed: no result (each failure is listed above)"


def test_with_json_and_out_the_verdict_says_where_the_failures_are(failing, tmp_path):
    out_dir = tmp_path / "exp"
    code, out, err = in_process("run", T, "--reps", 3, "--json", "--out", out_dir)
    assert code == 1
    doc = strict_json(out)  # the JSON is still whole
    assert (doc["experiment"]["completed"], doc["experiment"]["failed"]) == (0, 3)
    assert nonblank_lines(err)[-1] == (f"all 3 replications failed: no result (each failure is listed in "
                                       f"{out_dir}/chunks/*/failures.json, in the JSON's \"failures\")")
    listed = [f for path in sorted(out_dir.glob("chunks/*/failures.json"))
              for f in json.loads(path.read_text(encoding="utf-8"))]
    assert sorted(f["replication"] for f in listed) == [0, 1, 2]


def test_some_failures_are_not_a_failed_run(monkeypatch):
    original = sim.model.simulation.run

    def flaky(scenario, seed, lead_detail=False):
        if seed.spawn_key == (1,):
            raise RuntimeError("boom in the model")
        return original(scenario, seed, lead_detail=lead_detail)

    monkeypatch.setattr(sim.model.simulation, "run", flaky)
    code, out, err = in_process("run", T, "--reps", 3, "--json")
    assert code == 0, err
    assert len(nonblank_lines(err)) == 1


@pytest.mark.parametrize("command", ["compare", "sweep", "optimize"])
def test_a_comparison_whose_every_replication_failed_exits_non_zero(command, failing):
    code, out, err = in_process(*COMMANDS[command][0], "--quiet")
    assert code != 0
    assert "Traceback" not in out + err
    assert out == ""
    lines = nonblank_lines(err)
    assert len(lines) == 1 and "failed" in lines[0], lines


# ---------------------------------------------------------------------------------
# Ranges and grids


def _returns(*argv) -> tuple[int, str, str]:
    """``in_process(*argv)``, failing (not hanging) when it does not return within a minute."""
    result = []
    call = threading.Thread(target=lambda: result.append(in_process(*argv)), daemon=True)
    call.start()
    call.join(60)  # against a hang only: building 1e300 values never ended
    assert result, f"funnel {' '.join(map(str, argv))} still running after 60 s"
    return result[0]


def test_a_range_of_too_many_values_is_refused_before_it_is_built(model_calls):
    code, out, err = _returns("sweep", T, "--marketing-share", "0:1:1e-300")
    (line,) = assert_one_line_per_option(code, out, err, ["--marketing-share"])
    assert line == "--marketing-share: the range 0:1:1e-300 has 1e+300 values; at most 1,000 (use a larger step)"
    assert model_calls == []


def test_too_many_listed_values_are_refused():
    values = ",".join(f"{i / 2000:g}" for i in range(MAX_VALUES + 1))
    code, out, err = _returns("compare", T, "--marketing-share", values)
    (line,) = assert_one_line_per_option(code, out, err, ["--marketing-share"])
    assert line == "--marketing-share: 1,001 values; at most 1,000"


def test_a_grid_of_too_many_alternatives_is_refused(model_calls):
    code, out, err = _returns("sweep", T, "--marketing-share", "0:0.999:0.001", "--channel-share", "ads=0:1:0.1")
    (line,) = assert_one_line_per_option(code, out, err, ["--marketing-share"])
    assert line == ("--marketing-share: with --channel-share ads, 1,000 x 11 = 11,000 alternatives; at most 10,000 "
                    "(use fewer values)")
    assert model_calls == []


def test_the_limit_on_values_is_inclusive():
    problems = []
    assert len(value_list("0:0.999:0.001", "--x", problems)) == MAX_VALUES and problems == []
    assert value_list("0:1:0.001", "--x", problems) == []  # 1,001 values
    assert problems == ["--x: the range 0:1:0.001 has 1,001 values; at most 1,000 (use a larger step)"]
