"""The experiment directory: what ``run_many(..., out=DIR)`` writes, and how a run resumes from it.

Layout::

    DIR/manifest.json           format, package version, scenario fingerprint, seed, reps, backend, every run
    DIR/scenario.yaml           the scenario as run (validated, defaults filled in; scenario.json for
                                another model's scenario)
    DIR/chunks/00000040/        one directory per finished chunk of replications, named by its first index:
        chunk.json                  its record: the replication indices it holds (finished or failed),
                                    the experiment it belongs to, and the size and SHA-256 of each file below
        indices.json                the replication indices it holds
        replications.parquet        one row per finished replication
        monthly.parquet             their monthly series, long format
        failures.json               the replications that raised, with the error
    DIR/trace/replication-00000000.parquet   per-lead records (``trace=N``)
    DIR/traces.json             their record: the size and SHA-256 of each
    DIR/quarantine/00000040-1/  a chunk (or trace) that did not match its record, set aside, never deleted
    DIR/.lock                   who has the directory open for writing: process id, its start, host

**Whole or absent.** A chunk is written under a temporary name, every file flushed to
the disk (fsync), then the directory, and renamed into place; the parent directory is
flushed after the rename. Every other file (manifest, traces, records) is written to a
temporary file beside it and moved into place the same way. So a run killed at any
moment, even by a power cut, loses only the chunks in flight; a failed write (a full
disk, a permission) stops the run with a :class:`StoreError` and leaves every whole
chunk, and the same run later resumes exactly.

**Verified.** Every time the directory is opened and read, each chunk's files are
checked against its record (sizes, checksums, the replication column against the
indices, the folder's name against the first index, the experiment it belongs to).
A chunk that does not match is moved to ``DIR/quarantine/<name>-<n>/`` and its
replications are run again; each such move is a *note* (below). The scenario's
fingerprint, the seed, the package version and the format in the manifest decide
whether a directory may be resumed; anything else is refused rather than mixed.

**Locked.** A run holds an exclusive ``flock`` on the directory itself (not on a file in
it, which could be deleted under it), so two runs cannot write it at once. ``.lock``
only records who holds it: one found on opening was left by a run that died, and a
note says so. A directory that cannot be written (read-only, a full disk) is still
read, under a shared lock, as long as everything asked of it is there; the manifest is
then left as it is.

**Notes** are what the user should hear but that stops nothing: each is emitted as a
:class:`StoreWarning` (``warnings.warn``, with ``line()`` for the one line to show) and
kept in :attr:`ExperimentStore.notes` (``Experiment.notes`` for ``run_many``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import hashlib
import io
import json
import os
import re
import shutil
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.errors import FunnelError, fill
from sim.scenario import Scenario, dump_scenario
from sim.version import __version__

__all__ = ["FORMAT", "PACKAGE", "ExperimentStore", "MemoryStore", "StoreError", "StoreWarning", "replace_durably",
           "scenario_fingerprint", "sync_directory", "sync_file", "write_durably"]

FORMAT = 2  # format 1 (before chunk records) is refused: there is nothing to check its chunks against
PACKAGE = "funnel-sim"
RECORD = "chunk.json"
_CHUNK_NAME = re.compile(r"\d{8}")
_TRACE_NAME = re.compile(r"replication-(\d{8})\.parquet")


class StoreError(FunnelError):
    """An experiment directory that cannot be used; names the directory (parameter ``out``) and why."""

    def __init__(self, message: str):
        super().__init__("out", message)


class StoreWarning(UserWarning):
    """A note about an experiment directory that stops nothing: a damaged chunk set aside, a dead run's lock.

    Attributes:
        parameter: ``"out"``, the parameter the note is about.
        note: the note, naming the directory; ``{name}`` names another parameter (as in :class:`FunnelError`).
    """

    def __init__(self, note: str):
        self.parameter = "out"
        self.note = note
        super().__init__(note)  # only the note: a copy made from the arguments (pickle, pytest) is the same

    def __str__(self) -> str:
        return self.line()

    def line(self, name=None) -> str:
        """The note as one line, ``parameter: note``, each parameter written as ``name(parameter)``."""
        name = name or FunnelError.python_name
        return f"{name(self.parameter)}: {fill(self.note, name)}"


class _Damaged(Exception):
    """A chunk or trace that does not match its record; the message says how."""


def _plain(scenario):
    """What a model's scenario holds, as JSON-able data: a pydantic model's dump, a dataclass's fields, or itself.

    A scenario's fields that are not simulated (its ``NOT_SIMULATED``, such as the
    ``sensitivity:`` block) are left out: they cannot change a replication.
    """
    if hasattr(scenario, "model_dump"):
        return scenario.model_dump(mode="json", exclude=set(getattr(scenario, "NOT_SIMULATED", ())))
    if dataclasses.is_dataclass(scenario) and not isinstance(scenario, type):
        return dataclasses.asdict(scenario)
    return scenario


def scenario_fingerprint(scenario) -> str:
    """SHA-256 of the scenario's contents: equal scenarios give equal fingerprints.

    Only what is simulated counts: a scenario with a ``sensitivity:`` block has the
    fingerprint of the same scenario without it, so their replications are shared.
    """
    canonical = json.dumps(_plain(scenario), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# -- durable writes ---------------------------------------------------------------
def sync_file(path) -> None:
    """Flush a written file's contents to the disk (fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_directory(path) -> None:
    """Flush a directory's entries (what was created, renamed or removed in it) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in (errno.EISDIR, errno.EACCES):  # a system that cannot open directories (Windows)
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems cannot sync a directory; their renames are as durable as they get.
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    finally:
        os.close(fd)


def write_durably(path, data: bytes) -> None:
    """Write ``data`` as the file ``path`` and flush it to the disk before returning."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp, final) -> None:
    """Move the flushed file ``tmp`` onto ``final`` (``os.replace``) and flush the directory.

    ``tmp`` must be flushed already (:func:`write_durably`, or :func:`sync_file` after
    another writer); the directory is flushed after the move, so once this returns the
    new file survives a power cut.
    """
    os.replace(tmp, final)
    sync_directory(Path(final).parent)


def _atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        if durable:
            write_durably(tmp, data)
            replace_durably(tmp, path)
        else:
            tmp.write_bytes(data)
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _json(value) -> bytes:
    return json.dumps(value, indent=1).encode("utf-8")


def _digest(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _is_index_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)


# -- the lock's record -------------------------------------------------------------
def _process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from Linux's /proc), to tell it from a later one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the command's name
    except (OSError, ValueError, IndexError):
        return None


def _running(record: dict) -> bool | None:
    """Whether the process a lock record names is still running: True, False, or None (another host)."""
    pid = record.get("pid")
    if record.get("host") != socket.gethostname():
        return None
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        pass
    started = record.get("process_start")
    return started is None or _process_start(pid) in (None, started)


@dataclass
class _Chunk:
    """What a verified chunk holds: its replication indices, and which of them failed."""

    indices: list[int]
    failed: list[int]


class ExperimentStore:
    """An experiment directory, opened for one run (use as a context manager).

    Opening checks that ``root`` is empty, absent or an experiment of the same
    scenario, seed, package version and format, locks it so two runs cannot write it
    at once, clears what an interrupted run left half-written, and verifies every
    chunk against its record, setting aside (in ``quarantine/``) those that do not
    match. A directory it cannot write to is opened for reading only
    (:attr:`writable` is false); asking it to write then raises :class:`StoreError`.

    Attributes:
        notes: what the user should know of (each also emitted as a :class:`StoreWarning`).
        writable: whether this run may write to the directory.
    """

    def __init__(self, root, scenario, seed: int | str):
        self.root = Path(root)
        self.scenario = scenario
        self.seed = seed  # the root seed's label (sim.montecarlo.replication.seed_label)
        self.fingerprint = scenario_fingerprint(scenario)
        self.notes: list[str] = []
        self.writable = True
        self._unwritable = ""  # why not, when not
        self._fd = None  # the locked directory
        self._record: dict | None = None  # our .lock record, while we hold the directory
        self._manifest: dict = {}
        self._chunks: dict[str, _Chunk] = {}
        self._traces: set[int] = set()
        self._trace_records: dict[int, dict] = {}

    @property
    def chunks_dir(self) -> Path:
        """Where the chunks are."""
        return self.root / "chunks"

    # -- opening -----------------------------------------------------------------
    def __enter__(self) -> ExperimentStore:
        root = self.root
        ours = {".lock", "chunks"}  # what an opened store makes before its first manifest
        try:
            if root.exists() and not root.is_dir():
                raise StoreError(f"{root}: exists and is not a directory")
            foreign = root.is_dir() and not (root / "manifest.json").exists() and any(
                p.name not in ours and not p.name.startswith(".tmp-") for p in root.iterdir())
        except OSError as exc:
            raise StoreError(f"{root}: cannot be read: {_reason(exc)}") from None
        if foreign:
            # Checked before writing anything: a mistaken `out` must leave the folder as it was.
            raise StoreError(f"{root}: not empty and not an experiment directory (no manifest.json); "
                             "use a new or empty directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{root}: cannot create the experiment directory: {_reason(exc)}") from None
        self.writable = os.access(root, os.W_OK)
        if not self.writable:
            self._unwritable = "it is read-only"
        self._take_lock()
        try:
            if (root / "manifest.json").exists():
                self._manifest = self._check_manifest(root / "manifest.json")
            if self.writable:
                self._claim()
            if self.writable:
                try:
                    self.chunks_dir.mkdir(exist_ok=True)
                except OSError as exc:
                    raise self._failed_write("chunks/", exc) from None
                for leftover in [*self.chunks_dir.glob(".tmp-*"), *root.glob(".tmp-*"), *root.glob("trace/.tmp-*")]:
                    if leftover.is_dir():
                        shutil.rmtree(leftover, ignore_errors=True)
                    else:
                        with contextlib.suppress(OSError):
                            leftover.unlink()
            try:
                self._scan()
            except OSError as exc:  # a folder of it that cannot be listed
                raise StoreError(f"{root}: cannot be read: {_reason(exc)}") from None
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._record is not None:
            with contextlib.suppress(OSError, ValueError):
                # Only our own record: a later run's, if someone deleted ours under us, stays.
                if json.loads((self.root / ".lock").read_text(encoding="utf-8")) == self._record:
                    (self.root / ".lock").unlink()
            self._record = None
        if self._fd is not None:
            os.close(self._fd)  # closing the directory releases the lock
            self._fd = None

    def _take_lock(self) -> None:
        """Lock the directory itself: exclusively to write, shared to read.

        The lock is on the directory, not on a file in it, so deleting ``.lock`` cannot
        let a second run in. After locking, the path must still be the directory locked
        (it could have been replaced in between); otherwise the new one is locked.
        """
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as with any other file tool there
            return
        for _ in range(3):
            try:
                fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError as exc:
                raise StoreError(f"{self.root}: cannot be opened: {_reason(exc)}") from None
            try:
                try:
                    fcntl.flock(fd, (fcntl.LOCK_EX if self.writable else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                except BlockingIOError:
                    # Held: by a writer (refused), or by readers only (then this run may read too).
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    self.writable, self._unwritable = False, "another run is reading it"
            except BlockingIOError:
                os.close(fd)
                raise StoreError(f"{self.root}: another run is writing to this directory; wait for it or use "
                                 "another {out}") from None
            except OSError:
                # A file system without locks (some network ones): the lock record is all there is.
                os.close(fd)
                return
            try:
                here = os.stat(self.root)
                same = (here.st_dev, here.st_ino) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
            except OSError:
                same = False
            if same:
                self._fd = fd
                return
            os.close(fd)
        raise StoreError(f"{self.root}: was replaced while this run was locking it; run again")

    def _claim(self) -> None:
        """Write our ``.lock`` record (the first write: if it fails, the directory is read-only for this run).

        A record found there was left by a run that ended without closing the directory
        (killed, or the machine stopped): a note says so, and the directory is taken over.
        """
        path = self.root / ".lock"
        old = None
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {}
            if not isinstance(old, dict):
                old = {}
        if old is not None and self._fd is None and _running(old):
            # No lock on this file system, and the run that wrote the record is alive: it is writing.
            raise StoreError(f"{self.root}: another run (process {old.get('pid')}) is writing to this directory; "
                             "wait for it or use another {out}")
        record = {"pid": os.getpid(), "process_start": _process_start(os.getpid()), "host": socket.gethostname(),
                  "since": _now()}
        try:
            # Not flushed: after a power cut, a lost record only means no note about the run that died.
            _atomic_write(path, json.dumps(record).encode("utf-8"), durable=False)
        except OSError as exc:
            self._read_only(_reason(exc))
            return
        self._record = record
        if old is not None:
            who = f"process {old.get('pid', '?')}" + (f" (started {old['since']})" if "since" in old else "")
            alive = _running(old)
            state = ("which is no longer running" if alive is False
                     else "on another host" if alive is None else "which no longer holds it")
            self._note(f"{self.root}: taking over the directory from {who}, {state}: that run ended without "
                       "closing it; its finished chunks are kept")

    def _read_only(self, reason: str) -> None:
        """From now on, only read: the directory cannot be written (``reason``)."""
        self.writable = False
        self._unwritable = reason
        if self._fd is not None:
            import fcntl

            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # let other readers in

    def cannot_write(self, what: str) -> StoreError:
        """The refusal when this run would have to write (``what``) to a directory it cannot write to."""
        advice = ("wait for it or use another {out} directory" if self._unwritable == "another run is reading it"
                  else "run on a writable copy of it or use another {out} directory")
        return StoreError(f"{self.root}: cannot be written ({self._unwritable}) and {what}; {advice}")

    def _failed_write(self, what: str, exc: OSError) -> StoreError:
        return StoreError(f"{self.root}: cannot write {what}: {_reason(exc)}; every finished chunk is kept: make "
                          "room (or fix the permission) and run the same command again to resume")

    def _check_manifest(self, path: Path) -> dict:
        """The manifest, if it is one of this experiment's; else a one-line refusal naming what is wrong."""
        again = "use a new {out} directory"
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StoreError(f"{path}: cannot be read: {_reason(exc)}") from None
        except ValueError as exc:
            raise StoreError(f"{path}: not a manifest (not JSON: {exc}); {again}") from None
        if not isinstance(old, dict):
            raise StoreError(f"{path}: not a manifest (a JSON {type(old).__name__}, not an object); {again}")
        if old.get("package") != PACKAGE:
            raise StoreError(f"{path}: not the manifest of a {PACKAGE} experiment; {again}")
        if old.get("format") != FORMAT:
            raise StoreError(f"{path}: written in directory format {old.get('format')!r}; this version reads format "
                             f"{FORMAT} only; {again}")
        kinds = {"version": str, "scenario_sha256": str, "seed": (int, str), "runs": list, "created": str}
        for key, kind in kinds.items():
            if key not in old:
                raise StoreError(f"{path}: not a complete manifest (no {key!r}); {again}")
            if not isinstance(old[key], kind) or isinstance(old[key], bool):
                raise StoreError(f"{path}: not a manifest ({key!r} is a {type(old[key]).__name__}); {again}")
        if not all(isinstance(run, dict) for run in old["runs"]):
            raise StoreError(f"{path}: not a manifest ('runs' holds something other than runs); {again}")
        problems = []
        if old["scenario_sha256"] != self.fingerprint:
            problems.append(f"it holds results of a different scenario ({old.get('scenario_name')!r}, "
                            "written beside them)")
        if old["seed"] != self.seed:
            problems.append(f"it was run with {{seed}} {old['seed']}, not {self.seed}")
        if old["version"] != __version__:
            problems.append(f"it was made by funnel {old['version']}, this is {__version__}, "
                            "whose numbers may differ")
        if problems:
            raise StoreError(f"{self.root}: cannot resume: " + "; ".join(problems) + "; " + again)
        return old

    def _note(self, note: str) -> None:
        self.notes.append(note)
        warnings.warn(StoreWarning(note), stacklevel=3)

    # -- verifying ---------------------------------------------------------------
    def _belongs(self, record: dict) -> bool:
        """Whether a chunk's or the traces' record is of this experiment, in this format."""
        return (record.get("format"), record.get("scenario_sha256"), record.get("seed"), record.get("version")) == (
            FORMAT, self.fingerprint, self.seed, __version__)

    def _read_chunk(self, path: Path, parse: bool = True):
        """Verify the chunk at ``path`` against its record: ``(chunk, replications, monthly, failures)``.

        Without ``parse`` (on opening), the Parquet files are checked against their checksums
        only, and the data frames are None; with it (on loading), their replication and seed
        columns are checked against the record too.

        Raises:
            _Damaged: saying what does not match.
        """
        if not path.is_dir() or not _CHUNK_NAME.fullmatch(path.name):
            raise _Damaged("not a chunk (a chunk is a folder named by its first replication index)")
        try:
            text = (path / RECORD).read_bytes()
        except FileNotFoundError:
            raise _Damaged(f"it has no record ({RECORD})") from None
        except OSError as exc:
            raise _Damaged(f"its record {RECORD} cannot be read ({_reason(exc)})") from None
        try:
            record = json.loads(text)
        except ValueError:
            raise _Damaged(f"its record {RECORD} is not JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("files"), dict) \
                or not _is_index_list(record.get("indices")) or not _is_index_list(record.get("failed")):
            raise _Damaged(f"its record {RECORD} is not a chunk record")
        indices, failed = record["indices"], record["failed"]
        if not indices or indices != sorted(set(indices)) or not set(failed) <= set(indices) \
                or failed != sorted(set(failed)):
            raise _Damaged(f"its record {RECORD} lists replications that cannot be")
        if not self._belongs(record):
            raise _Damaged("it belongs to another experiment (scenario, seed, version or format)")
        if path.name != f"{indices[0]:08d}":
            raise _Damaged(f"its name is not its first replication index ({indices[0]:08d})")
        rows = [i for i in indices if i not in set(failed)]
        expected = {"indices.json", "failures.json", *(["replications.parquet", "monthly.parquet"] if rows else [])}
        if set(record["files"]) != expected:
            raise _Damaged(f"its record {RECORD} lists other files than a chunk has")
        data = {}
        for name, digest in sorted(record["files"].items()):
            try:
                data[name] = (path / name).read_bytes()
            except OSError as exc:
                raise _Damaged(f"{name} is missing" if isinstance(exc, FileNotFoundError)
                               else f"{name} cannot be read ({_reason(exc)})") from None
            if not isinstance(digest, dict) or _digest(data[name]) != digest:
                size = digest.get("size") if isinstance(digest, dict) else None
                raise _Damaged(f"{name} has {len(data[name])} bytes, its record says {size}"
                               if size != len(data[name]) else f"{name} does not match its SHA-256 checksum")
        chunk = _Chunk(indices=indices, failed=failed)
        replications = monthly = None
        try:
            failures = json.loads(data["failures.json"])
            listed = json.loads(data["indices.json"])
            if rows and parse:
                replications = pd.read_parquet(io.BytesIO(data["replications.parquet"]))
                monthly = pd.read_parquet(io.BytesIO(data["monthly.parquet"]))
        except Exception:  # noqa: BLE001 -- files that match their checksums but do not parse: written wrong
            raise _Damaged("its files cannot be read back") from None
        if listed != indices:
            raise _Damaged("indices.json does not list the record's replications")
        if not isinstance(failures, list) or [f.get("replication") if isinstance(f, dict) else None
                                              for f in failures] != failed:
            raise _Damaged("failures.json does not hold the record's failed replications")
        if replications is not None:
            if "replication" not in replications or replications["replication"].tolist() != rows:
                raise _Damaged("replications.parquet does not hold the record's replications")
            if "seed" not in replications or any(seed != self.seed for seed in replications["seed"].tolist()):
                raise _Damaged("replications.parquet holds another seed's replications")
            if "replication" not in monthly or not set(monthly["replication"].tolist()) <= set(rows):
                raise _Damaged("monthly.parquet does not hold the record's replications")
        return chunk, replications, monthly, failures

    def _read_trace(self, index: int) -> bytes:
        """Replication ``index``'s per-lead records, as written, verified against their record."""
        try:
            data = self._trace_path(index).read_bytes()
        except OSError as exc:
            raise _Damaged(f"it cannot be read ({_reason(exc)})") from None
        if index not in self._trace_records:
            raise _Damaged("traces.json has no record of it")
        if self._trace_records[index] != _digest(data):
            raise _Damaged("it does not match its size and SHA-256 checksum in traces.json")
        return data

    def _read_trace_records(self) -> dict[int, dict]:
        """``traces.json``: the size and SHA-256 of each trace, by index (set aside if it is not this experiment's)."""
        path = self.root / "traces.json"
        if not path.exists():
            return {}
        try:
            record = json.loads(path.read_bytes())
            if not isinstance(record, dict) or not self._belongs(record) or not isinstance(record.get("traces"), dict):
                raise _Damaged("it is not this experiment's record of its traces")
            return {int(i): digest for i, digest in record["traces"].items()}
        except (OSError, ValueError) as exc:
            reason = "it cannot be read" if isinstance(exc, OSError) else "it is not a record of traces"
        except _Damaged as damage:
            reason = str(damage)
        self._set_aside(path, reason)
        return {}

    def _write_trace_records(self) -> None:
        record = {"format": FORMAT, "scenario_sha256": self.fingerprint, "seed": self.seed, "version": __version__,
                  "traces": {str(i): self._trace_records[i] for i in sorted(self._trace_records)}}
        _atomic_write(self.root / "traces.json", json.dumps(record).encode("utf-8"))

    def _set_aside(self, path: Path, reason: str) -> None:
        """Move a damaged chunk (or trace) to ``quarantine/`` and say so; never delete it."""
        if not self.writable:
            raise self.cannot_write(f"{path} is damaged ({reason}), so it cannot be set aside and run again")
        quarantine = self.root / "quarantine"
        name = (lambda k: f"{path.name}-{k}") if path.is_dir() else (lambda k: f"{path.stem}-{k}{path.suffix}")
        try:
            quarantine.mkdir(exist_ok=True)
            k = 1
            while (quarantine / name(k)).exists():
                k += 1
            target = quarantine / name(k)
            os.rename(path, target)
            sync_directory(path.parent)
            sync_directory(quarantine)
        except OSError as exc:
            raise self._failed_write(f"{path} to quarantine/ (it is damaged: {reason})", exc) from None
        again = ("its replications are run again" if path.parent == self.chunks_dir
                 else "its per-lead records are made again when asked for")
        self._note(f"{path}: set aside in {target} ({reason}); {again}")

    def _scan(self) -> None:
        """Verify every chunk and trace; set aside what does not match its record."""
        self._chunks, self._traces = {}, set()
        if self.chunks_dir.is_dir():
            owner: dict[int, str] = {}
            for path in sorted(self.chunks_dir.iterdir()):
                if path.name.startswith("."):
                    # An in-flight chunk (.tmp-*, cleared when opened for writing) or a file manager's (.DS_Store).
                    continue
                try:
                    chunk = self._read_chunk(path, parse=False)[0]
                    repeated = sorted({owner[i] for i in chunk.indices if i in owner})
                    if repeated:
                        raise _Damaged(f"it repeats replications of chunk {', '.join(repeated)}")
                except _Damaged as damage:
                    self._set_aside(path, str(damage))
                    continue
                self._chunks[path.name] = chunk
                owner.update(dict.fromkeys(chunk.indices, path.name))
        self._trace_records = self._read_trace_records()
        trace = self.root / "trace"
        if trace.is_dir():
            for path in sorted(trace.iterdir()):
                match = _TRACE_NAME.fullmatch(path.name)
                if match is None:
                    continue  # not ours (temporary files are cleared on opening for writing)
                try:
                    self._read_trace(int(match.group(1)))
                except _Damaged as damage:
                    self._set_aside(path, str(damage))
                    continue
                self._traces.add(int(match.group(1)))
        # A record of a trace no longer there is forgotten when the record is next written.
        self._trace_records = {i: d for i, d in self._trace_records.items() if i in self._traces}

    # -- manifest ----------------------------------------------------------------
    def read_manifest(self) -> dict:
        """The manifest, or an empty dict for a new directory."""
        return dict(self._manifest)

    def _write_manifest(self, manifest: dict) -> None:
        try:
            _atomic_write(self.root / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
        except OSError as exc:
            raise self._failed_write("manifest.json", exc) from None
        self._manifest = manifest

    def _write_scenario(self) -> None:
        """The scenario as run, beside the manifest (again if it is missing or was changed)."""
        if isinstance(self.scenario, Scenario):
            path, text = self.root / "scenario.yaml", dump_scenario(self.scenario)
        else:  # another model's scenario: its contents as JSON
            path, text = self.root / "scenario.json", json.dumps(_plain(self.scenario), indent=1, default=repr)
        data = text.encode("utf-8")
        with contextlib.suppress(OSError):
            if path.read_bytes() == data:
                return
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise self._failed_write(path.name, exc) from None

    def start_run(self, **settings) -> None:
        """Record that a run (or a resumption) starts now with ``settings``."""
        if not self.writable:
            raise self.cannot_write("this run would have to record itself in it")
        manifest = self.read_manifest() or {
            "format": FORMAT, "package": PACKAGE, "version": __version__,
            "scenario_name": getattr(self.scenario, "name", type(self.scenario).__name__),
            "scenario_sha256": self.fingerprint, "seed": self.seed, "created": _now(), "runs": []}
        started = _now()
        manifest.update(settings, started=started, finished=None)
        manifest["runs"] = [*manifest["runs"], {**settings, "started": started, "finished": None}]
        self._write_manifest(manifest)  # first: until there is a manifest, the directory is no experiment
        self._write_scenario()

    def finish_run(self, **results) -> None:
        """Record that the current run ended now (nothing, on a directory opened for reading only)."""
        if not self.writable or not self._manifest:
            return
        manifest = self.read_manifest()
        finished = _now()
        manifest["runs"] = [*manifest["runs"][:-1], {**manifest["runs"][-1], "finished": finished, **results}]
        manifest.update(finished=finished, **results)
        self._write_manifest(manifest)

    # -- chunks ------------------------------------------------------------------
    def done_indices(self) -> set[int]:
        """Indices of every replication in a verified chunk (succeeded or failed)."""
        return {i for chunk in self._chunks.values() for i in chunk.indices}

    def failed_indices(self) -> set[int]:
        """Indices of the replications recorded as failed."""
        return {i for chunk in self._chunks.values() for i in chunk.failed}

    def _put_chunk(self, name: str, files: dict[str, bytes], indices: list[int], failed: list[int]) -> None:
        """Write one chunk under a temporary name, every file flushed, and rename it into place."""
        record = {"format": FORMAT, "scenario_sha256": self.fingerprint, "seed": self.seed, "version": __version__,
                  "indices": indices, "failed": failed, "files": {n: _digest(d) for n, d in sorted(files.items())}}
        final = self.chunks_dir / name
        tmp = self.chunks_dir / f".tmp-{os.getpid()}-{name}"
        try:
            if final.exists() or name in self._chunks:
                raise StoreError(f"{final}: already exists: another run wrote to this directory at the same time; "
                                 "run again to check it")
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            for file, data in files.items():
                write_durably(tmp / file, data)
            write_durably(tmp / RECORD, json.dumps(record).encode("utf-8"))  # last: the chunk's seal
            sync_directory(tmp)
            os.rename(tmp, final)
            sync_directory(self.chunks_dir)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise StoreError(f"{final}: already exists: another run wrote to this directory at the same time; "
                                 "run again to check it") from None
            raise self._failed_write(f"chunk {name}", exc) from None
        self._chunks[name] = _Chunk(indices=indices, failed=failed)

    def write_chunk(self, chunk) -> None:
        """Write a :class:`~sim.montecarlo.replication.ChunkResult` atomically, and its traces."""
        if not self.writable:
            raise self.cannot_write("replications would have to be added to it")
        self.write_traces(chunk.traces)
        indices = sorted(chunk.indices)
        files = {"indices.json": json.dumps(indices).encode("utf-8"), "failures.json": _json(chunk.failures)}
        if chunk.rows:
            files["replications.parquet"] = _parquet(pd.DataFrame(chunk.rows))
            files["monthly.parquet"] = _parquet(chunk.monthly)
        self._put_chunk(f"{indices[0]:08d}", files, indices, sorted(f["replication"] for f in chunk.failures))

    def retry_failures(self, wanted) -> list[int]:
        """Take the failed replications among ``wanted`` out of their chunks, so that they run again.

        A replication's numbers depend on the seed and its index alone, so one that now
        succeeds gives what it would have given the first time. Each chunk holding such
        failures is rewritten without them (its finished replications are kept as they
        are, byte for byte); a chunk of failures only is removed.

        Returns:
            The indices released, in order (none on a directory opened for reading only).
        """
        wanted = set(wanted)
        released = sorted(self.failed_indices() & wanted)
        if not released:
            return []
        if not self.writable:
            self._note(f"{self.root}: {len(released)} failed replication(s) are not run again: it cannot be written "
                       f"({self._unwritable})")
            return []
        for name in sorted(self._chunks):
            chunk = self._chunks[name]
            drop = set(chunk.failed) & wanted
            if not drop:
                continue
            path = self.chunks_dir / name
            try:
                _, replications, monthly, failures = self._read_chunk(path)
            except _Damaged as damage:  # changed since it was verified on opening
                self._set_aside(path, str(damage))
                del self._chunks[name]
                continue
            keep = [i for i in chunk.indices if i not in drop]
            retired = self.chunks_dir / f".tmp-{os.getpid()}-retired-{name}"
            try:
                os.rename(path, retired)  # first out of the way: a crash now loses the chunk, never mixes it
                sync_directory(self.chunks_dir)
            except OSError as exc:
                raise self._failed_write(f"chunk {name}", exc) from None
            del self._chunks[name]
            if keep:
                files = {f: (retired / f).read_bytes() for f in ("replications.parquet", "monthly.parquet")
                         if (retired / f).exists()}
                files["indices.json"] = json.dumps(keep).encode("utf-8")
                files["failures.json"] = _json([f for f in failures if f["replication"] not in drop])
                self._put_chunk(f"{keep[0]:08d}", files, keep, [i for i in chunk.failed if i not in drop])
            shutil.rmtree(retired, ignore_errors=True)
        return released

    def _trace_path(self, index: int) -> Path:
        return self.root / "trace" / f"replication-{index:08d}.parquet"

    def write_traces(self, traces: dict[int, pd.DataFrame]) -> None:
        """Write per-lead records by replication index, each file (and its record) atomically."""
        if traces and not self.writable:
            raise self.cannot_write("per-lead records would have to be added to it")
        if not traces:
            return
        data = {i: _parquet(leads) for i, leads in traces.items()}
        try:
            # The record first: a write stopped after it leaves a recorded file missing (forgotten on the
            # next opening), never a file without its record (which would look damaged).
            self._trace_records.update({i: _digest(d) for i, d in data.items()})
            self._write_trace_records()
            for i, d in data.items():
                self._trace_path(i).parent.mkdir(exist_ok=True)
                _atomic_write(self._trace_path(i), d)
                self._traces.add(i)
        except OSError as exc:
            raise self._failed_write("per-lead records (trace/)", exc) from None

    def has_trace(self, index: int) -> bool:
        """Whether replication ``index``'s per-lead records are on disk (and matched their record on opening)."""
        return index in self._traces

    def trace(self, index: int) -> pd.DataFrame:
        """Replication ``index``'s per-lead records."""
        try:
            data = self._read_trace(index)
        except _Damaged as damage:
            self._traces.discard(index)
            raise self._changed(self._trace_path(index), str(damage)) from None
        return pd.read_parquet(io.BytesIO(data))

    def _changed(self, path: Path, reason: str) -> StoreError:
        """The refusal when something verified on opening no longer matches its record: set it aside first."""
        moved = "; run again to redo it"
        if self.writable:
            self._set_aside(path, reason)
        else:
            moved = "; it cannot be set aside: the directory cannot be written"
        return StoreError(f"{path}: no longer matches its record ({reason}){moved}")

    def load(self) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
        """Every verified chunk: ``(replications, monthly, failures)``, in replication order.

        Raises:
            StoreError: a chunk changed since it was verified (it is set aside: run again).
        """
        reps, monthly, failures = [], [], []
        for name in sorted(self._chunks):
            try:
                chunk, rows, months, failed = self._read_chunk(self.chunks_dir / name)
                if chunk != self._chunks[name]:
                    raise _Damaged("it holds other replications than when it was opened")
            except _Damaged as damage:
                del self._chunks[name]
                raise self._changed(self.chunks_dir / name, str(damage)) from None
            if rows is not None:
                reps.append(rows)
                monthly.append(months)
            failures += failed
        return _concat(reps, ["replication"]), _concat(monthly, ["replication", "month"]), failures


def _concat(frames: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=order)
    return pd.concat(frames, ignore_index=True).sort_values(order, kind="stable", ignore_index=True)


class MemoryStore:
    """The same interface as :class:`ExperimentStore`, kept in memory (a run without ``out``)."""

    writable = True

    def __init__(self):
        self._chunks = []
        self.traces: dict[int, pd.DataFrame] = {}
        self.notes: list[str] = []

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def start_run(self, **settings) -> None:
        """Nothing to record."""

    def finish_run(self, **results) -> None:
        """Nothing to record."""

    def retry_failures(self, wanted) -> list[int]:
        """Nothing to retry: a run in memory starts with nothing."""
        return []

    def done_indices(self) -> set[int]:
        """Indices of every replication run so far."""
        return {i for chunk in self._chunks for i in chunk.indices}

    def write_chunk(self, chunk) -> None:
        """Keep a :class:`~sim.montecarlo.replication.ChunkResult`."""
        self._chunks.append(chunk)
        self.write_traces(chunk.traces)

    def write_traces(self, traces: dict[int, pd.DataFrame]) -> None:
        """Keep per-lead records by replication index."""
        self.traces.update(traces)

    def has_trace(self, index: int) -> bool:
        """Whether replication ``index``'s per-lead records are kept."""
        return index in self.traces

    def trace(self, index: int) -> pd.DataFrame:
        """Replication ``index``'s per-lead records."""
        return self.traces[index]

    def load(self) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
        """Every chunk so far: ``(replications, monthly, failures)``, in replication order."""
        with_rows = [c for c in self._chunks if c.rows]
        return (_concat([pd.DataFrame(c.rows) for c in with_rows], ["replication"]),
                _concat([c.monthly for c in with_rows], ["replication", "month"]),
                [f for c in self._chunks for f in c.failures])
