"""How a run ends when it is stopped: SIGTERM as Ctrl-C, no process outliving ``funnel``, a silent scheduler,
a standard output that cannot be written.

Real processes only for what only they show: a signal to the ``funnel`` process and the processes it leaves
behind (its fork server and workers, found before the signal, as their parent is gone after it), and
standard output on /dev/full. The rest runs in this process (``cli_run.in_process``): SIGTERM during a
serial run, the parent watch of local workers, the connect timeout against a socket that never answers.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil  # Dask distributed's own dependency (the test extra)
import pytest
from cli_run import command, in_process, nonblank_lines, shown_warnings, stamps, strict_json
from paths import ROOT, TEACHING

import sim.model.simulation
from sim.cli import main
from sim.montecarlo import backends

SEED = 5
REPS = 20  # what is compared, after a resume
# What the signalled runs ask for, one replication per chunk: after the first chunk there are seconds of work
# left to stop even on a fast machine (with 20, a loaded machine once saw a run finish before its signal).
# Their resumes ask for the first REPS only: a directory resumes for any number of replications.
SIGNALLED_REPS = 400
WORKERS = 2
GONE_WITHIN = 5.0  # seconds for every process a run started to end after it did (a hang detector)


def _args(out_dir: Path, *extra, reps: int = REPS) -> tuple:
    return ("run", TEACHING, "--reps", reps, "--seed", SEED, "--chunk-size", 1, "--out", out_dir, "--quiet",
            "--json", *extra)


def _chunks(out_dir: Path) -> list[Path]:
    chunks = out_dir / "chunks"
    return sorted(p for p in chunks.glob("[0-9]*") if p.is_dir()) if chunks.is_dir() else []


def _exact(rows) -> str:
    return json.dumps(rows)  # equal text is equal bit for bit (it tells 1 from 1.0 and shows every digit)


@pytest.fixture(scope="module")
def reference() -> dict:
    """The experiment run at once in this process, without --out and with the default chunking."""
    code, out, err = in_process("run", TEACHING, "--reps", REPS, "--seed", SEED, "--json")
    assert code == 0, err
    return strict_json(out)


def _descendants(pid: int) -> list[psutil.Process]:
    """Every process under ``pid`` (children, their children...), as psutil sees them now."""
    return psutil.Process(pid).children(recursive=True)


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running: a zombie has ended (only its exit status is left for whoever waits for it)."""
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:  # is_running also tells a reused pid
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # ended meanwhile
        return f"pid {process.pid}"


def _still_running_after(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (alive := _running(processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def _as_from_a_shell() -> None:
    """In the child before it runs funnel: Ctrl-C as a shell leaves it (a disposition inherited from this test
    process, where a library may have set SIGINT to be ignored, would make funnel ignore it too)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Stopped:
    """What a run stopped by a signal once its first chunk was saved left behind."""

    out_dir: Path
    code: int
    stderr: str
    family: list[str]  # the command lines of its descendants when the signal was sent
    left_running: list[str]  # those still running GONE_WITHIN seconds after it ended
    chunks: int  # chunks saved


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> dict[str, Stopped]:
    """Three runs at once (a real process's start is paid once), stopped with SIGTERM, SIGKILL and SIGINT.

    Each is signalled as soon as its first chunk is saved, its descendants (workers, fork server) listed
    just before: after, their parent is gone and they are nobody's descendants. Each in its own session: the
    signal goes to funnel alone, not to a process group, and whatever is left can still be ended here.
    """
    signals = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}
    runs = {}
    for name in signals:
        out_dir = tmp_path_factory.mktemp(name.lower()) / "exp"
        with (out_dir.parent / "stderr.txt").open("w") as stderr:
            proc = subprocess.Popen(command(*_args(out_dir, "--workers", WORKERS, reps=SIGNALLED_REPS)), cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                                    preexec_fn=_as_from_a_shell)
        runs[name] = (proc, out_dir)
    families, commands = {}, {}
    try:
        deadline = time.monotonic() + 120
        while len(families) < len(runs):
            for name, (proc, out_dir) in runs.items():
                if name not in families and _chunks(out_dir):
                    families[name] = _descendants(proc.pid)
                    commands[name] = [_command_line(p) for p in families[name]]
                    os.kill(proc.pid, signals[name])
                elif name not in families and proc.poll() is not None:
                    pytest.fail(f"{name}: the run ended (exit {proc.returncode}) before its first chunk: "
                                f"{(out_dir.parent / 'stderr.txt').read_text()}")
            assert time.monotonic() < deadline, f"no chunk after 120 s: {sorted(set(runs) - set(families))}"
            time.sleep(0.005)
        codes = {name: proc.wait(timeout=60) for name, (proc, _) in runs.items()}
        left = {name: _still_running_after(family, GONE_WITHIN) for name, family in families.items()}
        return {name: Stopped(out_dir, codes[name], (out_dir.parent / "stderr.txt").read_text(encoding="utf-8"),
                              commands[name], [_command_line(p) for p in left[name]], len(_chunks(out_dir)))
                for name, (_, out_dir) in runs.items()}
    finally:  # nothing of this test left running, whatever happened
        for proc, _ in runs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        for p in _running([p for family in families.values() for p in family]):
            p.kill()


def test_sigterm_stops_the_run_and_every_worker_and_the_same_command_resumes(stopped, reference):
    run = stopped["SIGTERM"]
    assert run.code == 128 + signal.SIGTERM, run.stderr
    assert "Traceback" not in run.stderr
    assert nonblank_lines(run.stderr) == [f"terminated; finished replications are saved in {run.out_dir}: run the "
                                          "same command again to resume"]
    assert run.left_running == []
    assert 1 <= run.chunks < SIGNALLED_REPS, f"the run was not stopped half-way: {run.chunks} chunks"  # else vacuous

    # The same command again (for its first REPS replications): the directory was let go (closed, not taken
    # over from a run that died holding it, which warns), the kept chunks are read back, the rest is run; the
    # numbers are those of the run made at once. (In this process, on one worker: the directory is what matters.)
    with shown_warnings() as shown:
        code, out, err = in_process(*_args(run.out_dir))
    assert (code, err, shown) == (0, "", [])
    resumed = strict_json(out)
    assert _exact(resumed["replications"]) == _exact(reference["replications"])
    assert resumed["summary"] == reference["summary"]


def test_sigkill_to_funnel_alone_leaves_no_worker_or_fork_server_running(stopped):
    run = stopped["SIGKILL"]
    assert run.code == -signal.SIGKILL
    assert run.left_running == []  # no handler ran: the workers and the fork server noticed by themselves
    assert run.chunks < SIGNALLED_REPS  # it was killed mid-run


def test_a_run_killed_with_sigkill_resumes_to_the_same_numbers(stopped, reference):
    run = stopped["SIGKILL"]
    kept = _chunks(run.out_dir)
    assert 1 <= len(kept) < SIGNALLED_REPS, f"the run was not stopped half-way: {len(kept)} chunks"
    for chunk in kept:  # a chunk is complete or absent, never half-written
        indices = json.loads((chunk / "indices.json").read_text(encoding="utf-8"))
        assert indices == [int(chunk.name)]
        assert pd.read_parquet(chunk / "replications.parquet")["replication"].tolist() == indices
    before = stamps(kept)

    # The first REPS in chunks of 10 this time (a later option wins): the chunking changes no number. The
    # killed run could not let the directory go: the resume says, in one line, that it takes it over.
    code, out, err = in_process(*_args(run.out_dir, "--chunk-size", 10))
    assert code == 0, err
    [line] = nonblank_lines(err)
    assert re.fullmatch(rf"--out: {re.escape(str(run.out_dir))}: taking over the directory from process "
                        rf"\d+ \(started .+\), which is no longer running: .+", line), line
    resumed = strict_json(out)
    assert stamps(kept) == before  # the kept chunks were read back, not run again and rewritten
    chunks = _chunks(run.out_dir)
    indices = sorted(i for c in chunks for i in json.loads((c / "indices.json").read_text(encoding="utf-8")))
    assert [i for i in indices if i < REPS] == list(range(REPS))  # every replication asked for, once
    assert not list((run.out_dir / "chunks").glob(".tmp-*"))  # what the kill left half-written was cleared
    assert _exact(resumed["replications"]) == _exact(reference["replications"])
    assert resumed["summary"] == reference["summary"]


def test_ctrl_c_exits_130_saying_how_to_resume(stopped, reference):
    # Two local worker processes: a Ctrl-C must stop the pool too, not only this process.
    run = stopped["SIGINT"]
    assert run.code == 130, run.stderr
    assert "Traceback" not in run.stderr
    assert nonblank_lines(run.stderr) == [f"interrupted; finished replications are saved in {run.out_dir}: run "
                                          "the same command again to resume"]
    assert run.left_running == []
    assert 1 <= run.chunks < SIGNALLED_REPS
    code, out, err = in_process(*_args(run.out_dir))
    assert (code, err) == (0, "")
    assert _exact(strict_json(out)["replications"]) == _exact(reference["replications"])


def test_both_runs_had_workers_and_a_fork_server_to_stop(stopped):
    # The processes that outlived funnel before: the workers and the fork server they come from.
    for name, run in stopped.items():
        assert len(run.family) >= WORKERS + 1, (name, run.family)


def test_sigterm_in_a_serial_run_exits_143_and_the_previous_handler_is_back(tmp_path, reference, monkeypatch):
    original = sim.model.simulation.run
    previous = signal.getsignal(signal.SIGTERM)

    def terminated_at_the_third(scenario, seed, lead_detail=False):
        if isinstance(seed, np.random.SeedSequence) and seed.spawn_key == (3,):
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would; the handler raises in this thread
        return original(scenario, seed, lead_detail=lead_detail)

    monkeypatch.setattr(sim.model.simulation, "run", terminated_at_the_third)
    out_dir = tmp_path / "exp"
    code, out, err = in_process(*_args(out_dir))
    monkeypatch.undo()
    assert (code, out) == (143, "")
    assert nonblank_lines(err) == [f"terminated; finished replications are saved in {out_dir}: run the same "
                                   "command again to resume"]
    assert signal.getsignal(signal.SIGTERM) == previous  # pytest's own again, not funnel's
    assert [int(c.name) for c in _chunks(out_dir)] == [0, 1, 2]

    with shown_warnings() as shown:
        code, out, err = in_process(*_args(out_dir))  # the directory was let go, and resumes
    assert (code, err, shown) == (0, "", [])
    assert _exact(strict_json(out)["replications"]) == _exact(reference["replications"])


def test_sigterm_before_the_replications_is_one_line_and_143(monkeypatch):
    def terminated(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends

    monkeypatch.setattr("sim.cli.run.load_scenario", terminated)
    code, out, err = in_process("run", TEACHING, "--reps", 2)
    assert (code, out, nonblank_lines(err)) == (143, "", ["terminated"])


# ---------------------------------------------------------------------------------
# The watch that ends a local worker when the process that started it is gone


def test_a_process_that_ended_is_not_alive_even_before_it_is_waited_for():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        assert backends._alive(proc.pid)
        proc.kill()
        deadline = time.monotonic() + GONE_WITHIN
        while backends._alive(proc.pid) and time.monotonic() < deadline:  # a zombie until waited for
            time.sleep(0.01)
        assert not backends._alive(proc.pid)
    finally:
        proc.wait()
    assert not backends._alive(proc.pid)  # and gone


def test_the_watch_ends_the_worker_once_its_parent_is_gone(monkeypatch):
    parent = subprocess.Popen(["sleep", "30"])
    ended = threading.Event()

    def exit_(status):
        ended.set()  # and return: the watch's loop has ended, so its thread does, not this process

    monkeypatch.setattr(backends.os, "_exit", exit_)
    monkeypatch.setattr(backends, "_WATCH_SECONDS", 0.02)
    watch = threading.Thread(target=backends._watch, args=(parent.pid,), daemon=True)
    watch.start()
    try:
        assert not ended.wait(0.3)  # the parent lives: the worker does too
        parent.kill()
        assert ended.wait(GONE_WITHIN)
    finally:
        parent.kill()
        parent.wait()
        watch.join(GONE_WITHIN)


# ---------------------------------------------------------------------------------
# A scheduler that accepts the connection and never answers


@pytest.fixture
def silent_scheduler():
    """A loopback port that accepts connections and never says a word; yields its address."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    accepted, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.parametrize("argv", [
    pytest.param(["run", TEACHING, "--reps", 2], id="run"),
    pytest.param(["compare", TEACHING, "--marketing-share", "0.2,0.3", "--reps", 2], id="compare"),
])
def test_a_silent_scheduler_is_given_up_after_the_connect_timeout(argv, silent_scheduler):
    address, accepted = silent_scheduler
    result = []
    call = threading.Thread(target=lambda: result.append(in_process(
        *argv, "--backend", "dask", "--scheduler", address, "--connect-timeout", 0.2, "--quiet")), daemon=True)
    call.start()
    call.join(60)  # against a hang only: before the timeout was bounded, this never returned
    assert result, "still connecting after 60 s"
    code, out, err = result[0]
    assert accepted  # it did connect: the wait was for an answer
    assert (code, out) == (2, "")
    assert nonblank_lines(err) == [f"--scheduler: {address}: no answer within 0.2 s (see --connect-timeout); is a "
                                   "Dask scheduler listening there?"]


def test_the_library_names_the_connect_timeout_as_python_does():
    assert backends.check_backend("dask", 2, "tcp://127.0.0.1:1", connect_timeout=0) == [
        ("connect_timeout", "expected a positive number of seconds, got 0")]
    assert backends.check_backend("dask", 2, "tcp://127.0.0.1:1", connect_timeout=2.5) == []
    with pytest.raises(backends.BackendError) as info:
        backends.make_backend("dask", 2, "tcp://127.0.0.1:1", connect_timeout=float("inf"))
    assert info.value.lines() == ["connect_timeout: expected a positive number of seconds, got inf"]
    with pytest.raises(backends.BackendError), backends.default_connect_timeout(-1):
        pass
    with backends.default_connect_timeout(2.5):  # what a backend made in the block waits, unless told otherwise
        assert backends.make_backend("dask", 2, "tcp://127.0.0.1:1").connect_timeout == 2.5
        assert backends.make_backend("dask", 2, "tcp://127.0.0.1:1", connect_timeout=4).connect_timeout == 4
    assert backends.make_backend("dask", 2, "tcp://127.0.0.1:1").connect_timeout == backends.CONNECT_TIMEOUT


# ---------------------------------------------------------------------------------
# Standard output that cannot be written


def test_schema_into_a_full_disk_is_one_line_and_exit_1():
    with open("/dev/full", "w") as full:  # every write fails with ENOSPC, as on a full disk
        proc = subprocess.run(command("schema"), cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True,
                              timeout=60)
    # One line, and not Python's "Exception ignored ... OSError" from its own flush at exit (exit code 120).
    assert proc.stderr == "cannot write to standard output: No space left on device\n"
    assert proc.returncode == 1


class _Full(io.StringIO):
    """Standard output on a full disk (or a closed pipe), in this process."""

    def __init__(self, code: int):
        super().__init__()
        self.code = code

    def write(self, text):
        raise OSError(self.code, os.strerror(self.code))

    def flush(self):
        raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize("argv", [
    pytest.param(["run", TEACHING, "--reps", 2, "--json"], id="run-json"),
    pytest.param(["run", TEACHING], id="run-report"),
    pytest.param(["validate", TEACHING], id="validate"),
    pytest.param(["schema"], id="schema"),
    pytest.param(["run", "--help"], id="help"),
])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EPIPE], ids=["full", "closed"])
def test_standard_output_that_cannot_be_written_is_one_line_and_exit_1(argv, code):
    err = io.StringIO()
    with redirect_stdout(_Full(code)), redirect_stderr(err):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's, after --help
            status = exc.code
    assert status == 1
    # A closed pipe is the reader's choice (`| head`): said nothing about, as cat does.
    assert err.getvalue() == ("" if code == errno.EPIPE else f"cannot write to standard output: {os.strerror(code)}\n")
