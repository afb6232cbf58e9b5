"""Experiment directories: exact numbers or a one-line refusal, whatever happened to the directory.

Every test here damages, locks, fills or write-protects an experiment directory of the
toy model (tests/toy_model.py: no simulation cost) and checks that running the same
experiment again either gives the numbers of an uninterrupted run in memory, bit for
bit, or refuses with one :class:`StoreError` line naming ``out``. Damaged chunks must
end in ``quarantine/`` (never deleted), with a note naming them.
"""

import builtins
import errno
import io
import json
import os
import shutil
import socket
import subprocess
import types
import warnings
from pathlib import Path

import pandas as pd
import pytest
from toy_model import ToyScenario, toy

import sim.montecarlo.store as store_module
from sim.errors import FunnelError
from sim.montecarlo import run_many
from sim.montecarlo.replication import replication_seed
from sim.montecarlo.store import ExperimentStore, StoreError, StoreWarning

TOY = ToyScenario(months=2, draws=2)
REPS, SEED, CHUNK = 6, 8, 3  # two chunks: 00000000 and 00000003


def run(out, model=toy, reps=REPS, seed=SEED, **kwargs):
    """The experiment, on ``out``; its notes checked against the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = run_many(TOY, reps=reps, seed=seed, model=model, out=out, chunk_size=CHUNK, trace=1, **kwargs)
    assert [w.message.note for w in caught if issubclass(w.category, StoreWarning)] == exp.notes
    return exp


def assert_same(exp, whole):
    """The same numbers, bit for bit: replications, monthly series, summary, failures and traces."""
    pd.testing.assert_frame_equal(exp.replications, whole.replications, check_exact=True)
    pd.testing.assert_frame_equal(exp.monthly, whole.monthly, check_exact=True)
    pd.testing.assert_frame_equal(exp.summary(), whole.summary(), check_exact=True)
    pd.testing.assert_frame_equal(exp.failures, whole.failures, check_exact=True)
    assert sorted(exp.traces) == sorted(whole.traces)
    for i in whole.traces:
        pd.testing.assert_frame_equal(exp.traces[i], whole.traces[i], check_exact=True)


def one_line(error: FunnelError) -> str:
    """A library error that the command line shows as one line, naming ``out``."""
    assert isinstance(error, StoreError) and error.parameter == "out", error
    (line,) = error.lines()
    assert "\n" not in line and "--" not in line
    return line


def snapshot(root: Path) -> dict:
    """Every file and folder under ``root`` with its bytes: to show that nothing was written."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def whole():
    return run_many(TOY, reps=REPS, seed=SEED, model=toy, trace=1)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "exp"
    run(out)
    return out


@pytest.fixture
def exp_dir(finished, tmp_path):
    """A fresh copy of the finished experiment, to damage."""
    out = tmp_path / "exp"
    shutil.copytree(finished, out)
    return out


def assert_set_aside(out: Path, notes: list[str], chunk: str, why: str) -> None:
    """``chunk`` was moved to quarantine/ whole, and the one note names it, where it went and ``why``."""
    assert (out / "quarantine" / f"{chunk}-1").is_dir()
    assert len(notes) == 1, notes
    assert notes[0].startswith(f"{out / 'chunks' / chunk}: set aside in {out / 'quarantine' / f'{chunk}-1'} (")
    assert why in notes[0] and notes[0].endswith("its replications are run again")


# -- 1., 2. damaged chunks ----------------------------------------------------------

def test_a_chunk_holding_another_chunks_replications_is_set_aside_and_run_again(exp_dir, whole):
    copied = (exp_dir / "chunks" / "00000000" / "replications.parquet").read_bytes()
    (exp_dir / "chunks" / "00000003" / "replications.parquet").write_bytes(copied)
    exp = run(exp_dir)
    assert_same(exp, whole)
    assert_set_aside(exp_dir, exp.notes, "00000003", "replications.parquet")
    # Set aside as it was found, not deleted.
    assert (exp_dir / "quarantine" / "00000003-1" / "replications.parquet").read_bytes() == copied


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize(("damage", "file", "why"), [
    (_truncate, "replications.parquet", "replications.parquet has"),
    (_truncate, "monthly.parquet", "monthly.parquet has"),
    (lambda p: p.write_text("[3, 4,"), "indices.json", "indices.json has"),
    (Path.unlink, "indices.json", "indices.json is missing"),
    (Path.unlink, "chunk.json", "it has no record (chunk.json)"),
    (lambda p: p.write_text('{"indices": "all"}'), "chunk.json", "not a chunk record"),
    (lambda p: p.write_bytes(p.read_bytes().replace(b'"failed": []', b'"failed": [3]')), "chunk.json",
     "failures.json does not hold the record's failed replications"),
], ids=["truncated-replications", "truncated-monthly", "indices-not-json", "no-indices", "no-record",
        "record-not-a-record", "record-edited"])
def test_a_damaged_chunk_is_set_aside_and_run_again(exp_dir, whole, damage, file, why):
    damage(exp_dir / "chunks" / "00000003" / file)
    exp = run(exp_dir)
    assert_same(exp, whole)
    assert_set_aside(exp_dir, exp.notes, "00000003", why)
    # Once run again, the directory is whole: the next run has nothing to say.
    assert run(exp_dir).notes == []


def test_swapped_or_renamed_chunks_are_set_aside(exp_dir, whole):
    chunks = exp_dir / "chunks"
    os.rename(chunks / "00000000", chunks / "swap")
    os.rename(chunks / "00000003", chunks / "00000000")
    os.rename(chunks / "swap", chunks / "00000003")
    (chunks / "notes.txt").write_text("not a chunk")
    exp = run(exp_dir)
    assert_same(exp, whole)
    assert sorted(p.name for p in (exp_dir / "quarantine").iterdir()) == ["00000000-1", "00000003-1", "notes-1.txt"]
    assert len(exp.notes) == 3 and all("its name is not its first replication index" in n for n in exp.notes[:2])


@pytest.mark.parametrize(("content", "why"), [
    ("[]", "not a manifest (a JSON list, not an object)"),
    ("{", "not a manifest (not JSON: "),
    (None, "not a complete manifest (no 'runs')"),
    ({"runs": "none"}, "not a manifest ('runs' is a str)"),
    ({"format": 1}, "written in directory format 1; this version reads format 2 only"),
    ({"package": "another"}, "not the manifest of a funnel-sim experiment"),
], ids=["list", "not-json", "no-runs", "runs-a-string", "format-1", "not-ours"])
def test_a_manifest_that_cannot_be_read_is_refused_in_one_line(exp_dir, content, why):
    manifest = exp_dir / "manifest.json"
    if not isinstance(content, str):
        document = json.loads(manifest.read_text())
        if content is None:
            del document["runs"]
        else:
            document.update(content)
        content = json.dumps(document)
    manifest.write_text(content)
    before = snapshot(exp_dir)
    with pytest.raises(StoreError) as info:
        run(exp_dir)
    line = one_line(info.value)
    assert line.startswith(f"out: {manifest}: {why}") and line.endswith("; use a new out directory"), line
    assert snapshot(exp_dir) == before  # nothing written, no lock record left


# -- 4. read-only directories -------------------------------------------------------

def _under(path, root: Path) -> bool:
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(root.resolve())
    except (TypeError, ValueError):
        return False


def refuse_writes(monkeypatch, root: Path, code: int) -> None:
    """Make every write under ``root`` fail with ``code`` (EROFS, EACCES), as a read-only location does.

    Tests may run as root, whom chmod does not stop: this is what makes them read-only there too.
    """
    def refuse(path):
        raise OSError(code, os.strerror(code), os.fsdecode(path))

    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    real_open, real_io_open = os.open, io.open

    def os_open(path, flags, *args, **kwargs):
        if flags & writing and _under(path, root):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and _under(file, root):
            refuse(file)
        return real_io_open(file, mode, *args, **kwargs)

    def guard(name):
        real = getattr(os, name)

        def guarded(path, *args, **kwargs):
            if _under(path, root):
                refuse(path)
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, guarded)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr(builtins, "open", io_open)
    for name in ("mkdir", "rename", "replace", "unlink", "rmdir"):
        guard(name)
    if code == errno.EROFS:  # a read-only file system says so when asked; a permission may not (root)
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: (
            False if mode & os.W_OK and _under(path, root) else real_access(path, mode, *a, **k)))


@pytest.mark.parametrize("how", ["chmod", "read-only-file-system", "permission"])
def test_a_finished_experiment_is_read_where_it_cannot_be_written(exp_dir, whole, monkeypatch, how):
    before = snapshot(exp_dir)
    paths = sorted(exp_dir.rglob("*"), reverse=True) + [exp_dir]
    if how == "chmod":
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        if os.geteuid() == 0:  # chmod does not stop root: make the writes fail as they would for anyone else
            refuse_writes(monkeypatch, exp_dir, errno.EACCES)
    else:
        refuse_writes(monkeypatch, exp_dir, errno.EROFS if how == "read-only-file-system" else errno.EACCES)
    try:
        exp = run(exp_dir)
        assert_same(exp, whole)
        assert exp.notes == []
        # Two readers at once: a finished directory is read under a shared lock.
        with ExperimentStore(exp_dir, TOY, SEED) as reader:
            assert not reader.writable
            assert_same(run(exp_dir), whole)
        # Asking it for more than it holds is refused in one line, before anything runs.
        with pytest.raises(StoreError) as info:
            run(exp_dir, reps=REPS + 2)
        line = one_line(info.value)
        assert line.startswith(f"out: {exp_dir}: cannot be written (") and \
            "and 2 of the replications asked for are not in it; run on a writable copy" in line, line
    finally:
        monkeypatch.undo()
        for p in reversed(paths):
            p.chmod(0o755 if p.is_dir() else 0o644)
    assert snapshot(exp_dir) == before  # no manifest update, no lock record, nothing


def test_a_damaged_chunk_where_it_cannot_be_set_aside_is_refused(exp_dir, monkeypatch):
    _truncate(exp_dir / "chunks" / "00000003" / "monthly.parquet")
    refuse_writes(monkeypatch, exp_dir, errno.EROFS)
    with pytest.raises(StoreError) as info:
        run(exp_dir)
    line = one_line(info.value)
    assert f"{exp_dir / 'chunks' / '00000003'} is damaged (monthly.parquet has" in line
    assert "so it cannot be set aside and run again" in line


# -- 5. a full disk -----------------------------------------------------------------

def test_a_full_disk_stops_the_run_in_one_line_and_it_resumes_exactly(tmp_path, whole, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # flushing is tested below; here it would only cost time
    real = store_module.write_durably
    writes = []
    monkeypatch.setattr(store_module, "write_durably", lambda path, data: (writes.append(path), real(path, data)))
    run(tmp_path / "counted")
    names = [Path(p).name for p in writes]
    assert len(names) == 15  # manifest, scenario, trace record and trace, two chunks of 5 files, manifest
    # The disk fills up at every other write, and at the last: each kind of file is hit at least once.
    hit = sorted({*range(0, len(names), 2), len(names) - 1})
    assert {names[k] for k in hit} >= {f".tmp-{os.getpid()}-manifest.json", "chunk.json", "replications.parquet"}
    for k in hit:
        out = tmp_path / f"full-at-{k}"
        calls = []

        def full_at_k(path, data, calls=calls, k=k):
            calls.append(path)
            if len(calls) == k + 1:
                Path(path).write_bytes(data[: len(data) // 2])  # the disk filled up half-way through this file
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            real(path, data)

        monkeypatch.setattr(store_module, "write_durably", full_at_k)
        with pytest.raises(StoreError) as info:
            run(out)
        line = one_line(info.value)
        assert "No space left on device" in line, (k, line)
        assert not [p for p in out.rglob(".tmp-*")], k  # nothing half-written is left behind
        monkeypatch.setattr(store_module, "write_durably", real)
        # Space is back: the same run resumes to the exact numbers, and every chunk kept was whole.
        resumed = run(out)
        assert_same(resumed, whole)
        assert resumed.notes == [], (k, resumed.notes)


def test_a_file_size_limit_gives_one_line_and_an_exact_resume(tmp_path, whole):
    # A real EFBIG, in a forked child (it has everything imported already): it may write no file over
    # 3,000 bytes, and a chunk's Parquet files are about 4 kB.
    import resource
    import signal
    import time

    out = tmp_path / "limited"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the one line (or that it finished) through the pipe, and leave at once
        code = 3
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills it instead of failing the write
            resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
            run(out)
            os.write(write, b"finished")
        except FunnelError as error:
            os.write(write, "\n".join(error.lines()).encode())
            code = 2
        except BaseException as error:  # noqa: BLE001 -- anything else is what the test is about
            os.write(write, repr(error).encode())
        finally:
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    assert done[0] == pid and os.waitstatus_to_exitcode(done[1]) == 2, said
    (line,) = said.splitlines()
    assert line.startswith(f"out: {out}: cannot write ") and "File too large" in line, line
    assert_same(run(out), whole)


# -- 6. seeds of any size -----------------------------------------------------------

@pytest.mark.parametrize("seed", [2**63, 2**64, 2**70])
def test_a_large_seed_is_kept_and_resumes_exactly(tmp_path, seed):
    alone = run_many(TOY, reps=REPS, seed=seed, model=toy, trace=1)
    out = tmp_path / "big"

    def stop_after_a_chunk(done, total):
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(out, seed=seed, progress=stop_after_a_chunk)
    assert json.loads((out / "manifest.json").read_text())["seed"] == str(seed)  # JSON has no 70-bit integers
    assert_same(run(out, seed=seed), alone)
    with pytest.raises(StoreError) as info:
        run(out, seed=seed + 1)
    assert f"it was run with seed {seed}, not {seed + 1}" in one_line(info.value)


# -- 7. folders of the user's own files ---------------------------------------------

def _comparison():
    """What write_tables reads of a comparison (it knows it by its attributes only)."""
    frame = pd.DataFrame({"alternative": ["a", "b"], "value": [1.0, 2.0]})
    return types.SimpleNamespace(
        objective=types.SimpleNamespace(label="contribution (mean)", name="contribution", with_pipeline=False),
        risk=types.SimpleNamespace(label="mean"), level=0.95, best="b", baseline="a", reps=2, n=2, dimensions=[],
        alternatives=frame.set_index("alternative"), paired=frame, measures=frame, replications=frame,
        monthly=pd.DataFrame(), failures=pd.DataFrame(columns=["alternative", "replication", "seed", "error"]))


def test_write_tables_never_overwrites_the_users_files(tmp_path):
    from sim.present.errors import PresentError
    from sim.present.export import write_tables

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "replications.csv").write_text("my own table\n")
    with pytest.raises(PresentError) as info:
        write_tables(_comparison(), mine)
    (line,) = info.value.lines()
    assert line == (f"directory: {mine}: holds files that are not an earlier comparison's tables (replications.csv; "
                    "no about.json of funnel-sim); nothing was written: use a new or empty directory"), line
    assert snapshot(mine) == {"replications.csv": b"my own table\n"}

    # Its own earlier output is written again; a table of the user's added there is never replaced.
    ours = tmp_path / "ours"
    write_tables(_comparison(), ours)
    (ours / "paired.csv").write_text("stale")
    write_tables(_comparison(), ours)
    assert (ours / "paired.csv").read_text().startswith("alternative,")
    (ours / "curve.csv").write_text("the user's curve\n")
    before = snapshot(ours)
    with pytest.raises(PresentError, match=r"holds files of the same names that it did not write \(curve.csv\)"):
        write_tables(_comparison(), ours, extra={"curve": pd.DataFrame({"x": [1]})})
    assert snapshot(ours) == before


def test_compare_refuses_an_out_folder_of_the_users_files_before_running(tmp_path):
    from builders import make

    import sim

    alternatives = {"a": make(horizon_months=1), "b": make(horizon_months=1, channels__search__spend=20000)}
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "replications.csv").write_text("my own table\n")
    with pytest.raises(StoreError) as info:
        sim.compare(alternatives, reps=2, seed=1, out=mine)
    assert one_line(info.value) == (f"out: {mine}: not empty (replications.csv) and not the output of an earlier "
                                    "run (no runs/ or about.json of funnel-sim); use a new or empty directory")
    assert snapshot(mine) == {"replications.csv": b"my own table\n"}
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError) as info:  # under a regular file
        sim.compare(alternatives, reps=2, seed=1, out=tmp_path / "file" / "out")
    assert "Not a directory" in one_line(info.value) or "exists and is not a directory" in one_line(info.value)


# -- 8. the lock --------------------------------------------------------------------

def test_deleting_the_lock_file_lets_no_second_run_in(exp_dir, whole):
    with ExperimentStore(exp_dir, TOY, SEED):
        record = json.loads((exp_dir / ".lock").read_text())
        assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
        (exp_dir / ".lock").unlink()  # the lock is the directory's, not this file's
        with pytest.raises(StoreError) as info:
            run(exp_dir)
        assert "another run is writing to this directory; wait for it or use another out" in one_line(info.value)
    assert_same(run(exp_dir), whole)


def test_a_chunk_written_by_someone_else_meanwhile_is_refused_not_overwritten(tmp_path, whole):
    out = tmp_path / "exp"

    def intrude(done, total):
        if done == 0:  # called once before the first chunk is written
            (out / "chunks" / "00000000").mkdir()
            (out / "chunks" / "00000000" / "theirs.txt").write_text("another writer")

    with pytest.raises(StoreError) as info:
        run(out, progress=intrude)
    assert one_line(info.value).startswith(f"out: {out / 'chunks' / '00000000'}: already exists: another run wrote")
    assert (out / "chunks" / "00000000" / "theirs.txt").read_text() == "another writer"
    assert not list((out / "chunks").glob(".tmp-*"))


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_note(exp_dir, whole):
    dead = subprocess.Popen(["true"])
    dead.wait()
    (exp_dir / ".lock").write_text(json.dumps({"pid": dead.pid, "process_start": None, "host": socket.gethostname(),
                                               "since": "2026-01-01T00:00:00+00:00"}))
    exp = run(exp_dir)
    assert_same(exp, whole)
    assert exp.notes == [f"{exp_dir}: taking over the directory from process {dead.pid} (started "
                         "2026-01-01T00:00:00+00:00), which is no longer running: that run ended without closing it; "
                         "its finished chunks are kept"]
    assert not (exp_dir / ".lock").exists()  # a run that ends well leaves no record


# -- 9. failed replications ---------------------------------------------------------

def failing_at(bad):
    """The toy model, raising MemoryError at the replications ``bad`` (as a machine short of memory would)."""
    keys = {replication_seed(SEED, i).spawn_key for i in bad}

    def model(scenario, seed, trace=False):
        if seed.spawn_key in keys:
            raise MemoryError("out of memory")
        return toy(scenario, seed, trace)

    return model


def chunk_records(out: Path) -> list[dict]:
    return [json.loads((c / "chunk.json").read_text()) for c in sorted((out / "chunks").iterdir())]


def test_failed_replications_are_run_again_on_resume(tmp_path, whole):
    out = tmp_path / "exp"
    first = run(out, model=failing_at({1, 3}))  # 3 starts its chunk: the rewritten chunk is named after 4
    assert first.failures["replication"].tolist() == [1, 3]
    again = run(out, model=failing_at({1, 3}))  # retried, failed again: recorded once each
    assert again.failures["replication"].tolist() == [1, 3]
    assert again.failures["error"].tolist() == ["MemoryError: out of memory"] * 2
    pd.testing.assert_frame_equal(again.replications, first.replications, check_exact=True)
    held = [i for record in chunk_records(out) for i in record["indices"]]
    assert sorted(held) == list(range(REPS))  # every replication in one chunk
    fixed = run(out)  # the machine has memory again
    assert_same(fixed, whole)
    assert all(record["failed"] == [] for record in chunk_records(out))
    assert fixed.notes == []


def test_an_experiment_whose_replications_all_failed_says_so():
    exp = run_many(TOY, reps=3, seed=SEED, model=failing_at(range(3)))
    assert exp.all_failed and exp.replications.empty and exp.failures["replication"].tolist() == [0, 1, 2]
    assert exp.summary().empty
    assert not run_many(TOY, reps=3, seed=SEED, model=failing_at({1})).all_failed


def test_an_evaluator_runs_failed_replications_again(tmp_path):
    from sim.decide.evaluator import Evaluator

    with Evaluator(SEED, model=toy) as memory:
        memory.run([TOY], 4)
        expected = memory.replications(TOY)
    with Evaluator(SEED, model=failing_at({2}), out=tmp_path / "cmp") as first:
        first.run([TOY], 4)
        first.finish()
        assert [f["replication"] for f in first.failures(TOY)] == [2]
    with Evaluator(SEED, model=toy, out=tmp_path / "cmp") as second:
        second.run([TOY], 4)
        second.finish()
        assert second.failures(TOY) == []
        assert second.replications_run == 1  # only the failed one ran again
        pd.testing.assert_frame_equal(second.replications(TOY), expected, check_exact=True)


# -- 10. flushed to the disk before and after every rename --------------------------

def record_syncs(monkeypatch) -> list[tuple]:
    """Log every fsync (by path) and every rename, in order."""
    events, paths = [], {}
    real_open, real_fsync, real_rename, real_replace = os.open, os.fsync, os.rename, os.replace

    def opened(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        paths[fd] = Path(os.fsdecode(path))
        return fd

    def fsync(fd):
        real_fsync(fd)
        events.append(("fsync", paths[fd]))

    def move(real):
        def moved(src, dst, *args, **kwargs):
            real(src, dst, *args, **kwargs)
            events.append(("rename", Path(src), Path(dst)))
        return moved

    monkeypatch.setattr(os, "open", opened)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", move(real_rename))
    monkeypatch.setattr(os, "replace", move(real_replace))
    return events


def assert_flushed_around_renames(events: list[tuple]) -> int:
    """Each rename into place: what it moves flushed before (each file of a folder too), its folder after."""
    # The lock record is the one file not flushed: after a power cut it does not matter (store.py).
    renames = [(k, e) for k, e in enumerate(events) if e[0] == "rename" and e[2].name != ".lock"]
    for k, (_, src, dst) in renames:
        before = {e[1] for e in events[:k] if e[0] == "fsync"}
        after = {e[1] for e in events[k + 1:] if e[0] == "fsync"}
        assert src in before, src
        if dst.is_dir():
            assert {src / p.name for p in dst.iterdir()} <= before, dst
        assert dst.parent in after, dst
    return len(renames)


def test_every_file_is_on_the_disk_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    events = record_syncs(monkeypatch)
    run(tmp_path / "exp")
    # manifest twice, scenario, a trace and its record, two chunks
    assert assert_flushed_around_renames(events) == 7

    from sim.present.export import write_tables

    events.clear()
    write_tables(_comparison(), tmp_path / "tables")
    assert assert_flushed_around_renames(events) == 12  # about.json claimed first and written last, five tables


def test_notes_are_one_line_each_in_the_callers_words(exp_dir):
    _truncate(exp_dir / "chunks" / "00000000" / "chunk.json")
    with pytest.warns(StoreWarning) as caught:
        run_many(TOY, reps=REPS, seed=SEED, model=toy, out=exp_dir, chunk_size=CHUNK, trace=1)
    (note,) = [w.message for w in caught]
    assert note.line(lambda name: f"--{name}").startswith(f"--out: {exp_dir / 'chunks' / '00000000'}: set aside")
    assert str(note) == note.line() and "\n" not in str(note)
    assert [p.name for p in (exp_dir / "quarantine").iterdir()] == ["00000000-1"]
