"""Fault injection: whatever happens to a finished experiment's files, running it again is exact or refuses.

A finished experiment of the toy model (two chunks, one trace) is copied, and in each
copy one random thing is done to one random file or chunk: truncated, a single bit
flipped, deleted, swapped with a file of the same name in the other chunk (or with any
other file), replaced with JSON garbage or random bytes, or whole chunks deleted,
swapped or copied under another name. Running the same experiment on the copy must
then either give the uninterrupted run's numbers bit for bit (a damaged chunk or
trace set aside in quarantine/, with a note naming it) or refuse with one line naming
``out`` (a damaged manifest). Any other exception fails the test.
"""

import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from toy_model import ToyScenario, toy

from sim.errors import FunnelError
from sim.montecarlo import run_many
from sim.montecarlo.store import StoreWarning

TOY = ToyScenario(months=2, draws=2)
REPS, SEED, CHUNK = 6, 8, 3
CASES = 80  # 40 to 70 ms each on a slow, busy machine: the suite must stay within its time budget
GARBAGE = [b"", b"[]", b"{}", b"{", b"null", b"[0, 1, 2]", b'{"indices": [0], "failed": [], "files": {}}',
           b'{"format": 2, "package": "funnel-sim"}']


def run(out):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = run_many(TOY, reps=REPS, seed=SEED, model=toy, out=out, chunk_size=CHUNK, trace=1)
    assert [w.message.note for w in caught if issubclass(w.category, StoreWarning)] == exp.notes
    return exp


@pytest.fixture(scope="module")
def whole():
    return run_many(TOY, reps=REPS, seed=SEED, model=toy, trace=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "exp"
    run(out)
    return out


def corrupt(root: Path, rng: np.random.Generator) -> tuple[str, list[Path], set[Path]]:
    """Do one random thing to ``root``: ``(what was done, every file or chunk folder it changed, those deleted)``."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    chunks = sorted((root / "chunks").iterdir())
    kind = str(rng.choice(["truncate", "flip", "flip", "flip", "delete", "swap", "garbage", "chunks"]))
    if kind == "chunks":  # whole chunks: deleted (run again, nothing to set aside), swapped, copied under a new name
        how = rng.choice(["delete", "swap", "copy"])
        if how == "delete":
            shutil.rmtree(chunks[0])
            return "chunk 00000000 deleted", [], set()
        if how == "swap":
            chunks[0].rename(root / "chunks" / "swap")
            chunks[1].rename(chunks[0])
            (root / "chunks" / "swap").rename(chunks[1])
            return "chunks swapped", chunks, set()
        shutil.copytree(chunks[1], root / "chunks" / "00000001")
        return "chunk 00000003 copied as 00000001", [root / "chunks" / "00000001"], set()
    target = files[rng.integers(len(files))]
    data = before[target]
    if kind == "truncate":
        target.write_bytes(data[: rng.integers(len(data))])
    elif kind == "flip":
        at = rng.integers(len(data))
        target.write_bytes(data[:at] + bytes([data[at] ^ (1 << int(rng.integers(8)))]) + data[at + 1:])
    elif kind == "delete":
        target.unlink()
    elif kind == "swap":  # with the same file of the other chunk, or any other file
        twin = chunks[1] / target.name if target.parent == chunks[0] else chunks[0] / target.name
        if target.parent not in chunks:
            twin = files[rng.integers(len(files))]
        target.write_bytes(before[twin])
        twin.write_bytes(data)
    else:
        target.write_bytes(GARBAGE[rng.integers(len(GARBAGE))] if rng.random() < 0.7
                           else rng.bytes(int(rng.integers(1, 64))))
    changed = [p for p in files if not p.exists() or p.read_bytes() != before[p]]
    return f"{kind} of {target.relative_to(root)}", changed, {p for p in files if not p.exists()}


def test_every_corruption_resumes_exactly_or_refuses_in_one_line(finished, whole, tmp_path, monkeypatch):
    # Flushing to the disk is tested in test_store_integrity.py; here, on a busy disk, it would cost
    # seconds and check nothing about corruption.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    # The summary is a function of the replications (test_store_integrity.py compares it too): equal
    # replications, bit for bit, are equal summaries, so it is not computed a hundred times here.
    exp_whole = whole
    outcomes = {"exact": 0, "set aside": 0, "refused": 0}
    for case in range(CASES):
        out = tmp_path / f"case{case}"
        shutil.copytree(finished, out)
        what, changed, deleted = corrupt(out, np.random.default_rng([20261202, case]))
        context = f"case {case}: {what}"
        try:
            exp = run(out)
        except FunnelError as error:
            (line,) = error.lines()  # one line, naming out: the command line shows it with exit 2
            assert error.parameter == "out" and "\n" not in line, context
            # Only a damaged manifest is refused: everything else is set aside and run again.
            assert out / "manifest.json" in changed, f"{context}: refused: {line}"
            outcomes["refused"] += 1
            continue
        except Exception as error:  # noqa: BLE001 -- the failure this test looks for
            pytest.fail(f"{context}: {type(error).__name__}: {error}")
        pd.testing.assert_frame_equal(exp.replications, exp_whole.replications, check_exact=True, obj=context)
        pd.testing.assert_frame_equal(exp.monthly, exp_whole.monthly, check_exact=True, obj=context)
        assert exp.failures.empty and sorted(exp.traces) == [0], context
        pd.testing.assert_frame_equal(exp.traces[0], exp_whole.traces[0], check_exact=True, obj=context)
        assert (out / "scenario.json").read_bytes() == (finished / "scenario.json").read_bytes(), context
        outcomes["exact"] += 1
        # What was damaged was set aside, whole and never deleted, and a note says where.
        damaged = {p.parent if p.parent.parent == out / "chunks" else p for p in changed}
        for part in damaged:
            if part in deleted and part.parent == out / "trace":
                continue  # nothing to set aside: the trace is simply made again
            if part.parent == out / "chunks" or part.parent == out / "trace":
                stem = part.name if part.parent == out / "chunks" else part.stem
                assert any(n.startswith(f"{part}: set aside in {out / 'quarantine' / stem}-") for n in exp.notes), \
                    f"{context}: {exp.notes}"
                assert any(p.name.startswith(f"{stem}-") for p in (out / "quarantine").iterdir()), context
                outcomes["set aside"] += 1
            elif part.name == "traces.json":
                assert any("traces.json" in n for n in exp.notes), f"{context}: {exp.notes}"
                outcomes["set aside"] += 1
        shutil.rmtree(out)  # checked: a hundred copies need not stay on the disk
    # Not vacuous: most damage was set aside and run again, and a damaged manifest was refused at least once.
    assert outcomes["set aside"] >= CASES // 2 and outcomes["refused"] >= 1, outcomes
