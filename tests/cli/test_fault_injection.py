"""Fault injection: a run killed at random moments (SIGKILL or SIGTERM), its files damaged at random, resumed.

Every resume must give the numbers of a run made at once, bit for bit, or refuse in one
line naming --out; no process a run started may outlive it. The moments, signals and
damages come from a seeded generator, so a failure is reproducible.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import psutil  # Dask distributed's own dependency (the test extra)
from cli_run import command, in_process, nonblank_lines, strict_json
from paths import ROOT, TEACHING

SEED = 11
REPS = 12  # compared after the last resume
SIGNALLED_REPS = 400  # what the killed runs ask for: seconds of work, so a kill lands mid-run on any machine
ROUNDS = 3
GONE_WITHIN = 5.0


def _args(out_dir: Path, reps: int, *extra) -> tuple:
    return ("run", TEACHING, "--reps", reps, "--seed", SEED, "--chunk-size", 1, "--out", out_dir, "--quiet",
            "--json", *extra)


def _running(processes):
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _damage(out_dir: Path, rng: np.random.Generator) -> str:
    """Damage one file of the experiment at random (or none); say what was done."""
    # Not the manifest: a damaged one is refused in one line (tests/montecarlo/test_corruption.py), and here
    # every resume is to be checked against the numbers.
    files = sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name not in (".lock", "manifest.json")
                   and "quarantine" not in p.parts)
    kind = rng.choice(["none", "flip", "truncate", "delete", "garbage"])
    if kind == "none" or not files:
        return "none"
    victim = files[rng.integers(len(files))]
    data = bytearray(victim.read_bytes())
    if kind == "flip" and data:
        at = int(rng.integers(len(data)))
        data[at] ^= 1 << int(rng.integers(8))
        victim.write_bytes(bytes(data))
    elif kind == "truncate":
        victim.write_bytes(bytes(data[: int(rng.integers(len(data) + 1))]))
    elif kind == "delete":
        victim.unlink()
    else:
        victim.write_text("{not json", encoding="utf-8")
    return f"{kind} {victim.relative_to(out_dir)}"


def test_killed_at_random_moments_and_damaged_at_random_every_resume_is_exact_or_one_line(tmp_path):
    code, out, err = in_process("run", TEACHING, "--reps", REPS, "--seed", SEED, "--json")
    assert code == 0, err
    reference = strict_json(out)
    rng = np.random.default_rng(20261202)
    out_dir = tmp_path / "exp"
    history = []
    for k in range(ROUNDS):
        sig = [signal.SIGKILL, signal.SIGTERM][k % 2]  # both, whatever the seed
        delay = float(rng.uniform(0.0, 2.5))  # from the start: before, during or after the workers start
        workers = 1 if sig == signal.SIGTERM else 2  # one run without a fork server: its chunks come sooner
        proc = subprocess.Popen(command(*_args(out_dir, SIGNALLED_REPS, "--workers", workers)), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            if sig == signal.SIGTERM:  # this one surely mid-run: a random moment after a new chunk is saved
                before = len(list((out_dir / "chunks").glob("[0-9]*"))) if out_dir.exists() else 0
                deadline = time.monotonic() + 60
                while len(list((out_dir / "chunks").glob("[0-9]*")) if out_dir.exists() else []) <= before:
                    assert time.monotonic() < deadline and proc.poll() is None, history
                    time.sleep(0.01)
                delay = float(rng.uniform(0.0, 0.5))
            time.sleep(delay)
            family = psutil.Process(proc.pid).children(recursive=True)
            os.kill(proc.pid, sig)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        history.append(f"{sig.name} after {delay:.2f} s: exit {proc.returncode}")
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL, history
        elif proc.returncode == -signal.SIGTERM:  # before funnel's handler: Python was still starting
            assert family == [], history
        else:
            assert proc.returncode == 128 + signal.SIGTERM, (history, err)
            # One line for the termination; before it only the notes a resume prints (a dead run's directory
            # taken over, a damaged chunk set aside), as in the last run's check below.
            lines = nonblank_lines(err)
            assert lines and lines[-1].startswith("terminated"), (history, err)
            assert all(line.startswith(f"--out: {out_dir}") for line in lines[:-1]), (history, err)
        assert "Traceback" not in err, (history, err)
        deadline = time.monotonic() + GONE_WITHIN
        while (left := _running(family)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in left:
            p.kill()
        assert left == [], (history, [p.pid for p in left])
        history.append(f"damage: {_damage(out_dir, rng)}" if out_dir.exists() else "no directory yet")

    code, out, err = in_process(*_args(out_dir, REPS))
    # Every kill and every damage is repaired: a damaged chunk is set aside and run again.
    assert code == 0, (history, err)
    assert json.dumps(strict_json(out)["replications"]) == json.dumps(reference["replications"]), history
    for line in nonblank_lines(err):  # the notes: a chunk set aside, a dead run's directory taken over
        assert line.startswith(f"--out: {out_dir}"), (history, line)
