"""The experiment directory: what ``run_many(..., out=DIR)`` writes, and how a run resumes from it.

Layout::

    DIR/manifest.json           package version, seed, reps, backend, start and end
    DIR/scenario.yaml           the scenario as run (validated, defaults filled in; scenario.json for
                                another model's scenario)
    DIR/chunks/00000040/        one directory per finished chunk of replications:
        indices.json                the replication indices it holds (finished or failed)
        replications.parquet        one row per finished replication
        monthly.parquet             their monthly series, long format
        failures.json               the replications that raised, with the error
    DIR/trace/replication-00000000.parquet   per-lead records (``trace=N``)

A chunk directory is written under a temporary name and renamed into place, and a
rename is atomic: a chunk is either complete or absent, so a run killed at any moment
(even with SIGKILL) loses only the chunks in flight. The scenario's fingerprint and
the seed in the manifest decide whether a directory may be resumed; anything else is
refused rather than mixed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from sim.errors import FunnelError
from sim.scenario import Scenario, dump_scenario
from sim.version import __version__

__all__ = ["ExperimentStore", "MemoryStore", "StoreError", "scenario_fingerprint"]

FORMAT = 1


class StoreError(FunnelError):
    """An experiment directory that cannot be used; names the directory (parameter ``out``) and why."""

    def __init__(self, message: str):
        super().__init__("out", message)


def _plain(scenario):
    """What a model's scenario holds, as JSON-able data: a pydantic model's dump, a dataclass's fields, or itself."""
    if hasattr(scenario, "model_dump"):
        return scenario.model_dump(mode="json")
    if dataclasses.is_dataclass(scenario) and not isinstance(scenario, type):
        return dataclasses.asdict(scenario)
    return scenario


def scenario_fingerprint(scenario) -> str:
    """SHA-256 of the scenario's contents: equal scenarios give equal fingerprints."""
    canonical = json.dumps(_plain(scenario), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class ExperimentStore:
    """An experiment directory, opened for one run (use as a context manager).

    Opening checks that ``root`` is empty, absent or an experiment of the same
    scenario, seed and package version, takes a lock so two runs cannot write it at
    once, and clears what an interrupted run left half-written.
    """

    def __init__(self, root, scenario, seed: int | str):
        self.root = Path(root)
        self.scenario = scenario
        self.seed = seed  # the root seed's label (sim.montecarlo.replication.seed_label)
        self.fingerprint = scenario_fingerprint(scenario)
        self._lock = None

    # -- opening -----------------------------------------------------------------
    def __enter__(self) -> ExperimentStore:
        root = self.root
        manifest = root / "manifest.json"
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: exists and is not a directory")
        ours = {".lock", "chunks"}  # what an opened store makes before its first manifest
        if root.is_dir() and not manifest.is_file() and any(p.name not in ours for p in root.iterdir()):
            # Checked before writing anything: a mistaken `out` must leave the folder as it was.
            raise StoreError(f"{root}: not empty and not an experiment directory (no manifest.json); "
                             "use a new or empty directory")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{root}: cannot create the experiment directory: {exc.strerror or exc}") from None
        self._take_lock()
        try:
            if manifest.is_file():
                self._check_same(manifest)
            (root / "chunks").mkdir(exist_ok=True)
            for leftover in [*(root / "chunks").glob(".tmp-*"), *root.glob(".tmp-*"), *root.glob("trace/.tmp-*")]:
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def _take_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, as with any other file tool there
            return
        lock = open(self.root / ".lock", "a")  # noqa: SIM115 -- held until __exit__
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise StoreError(f"{self.root}: another run is writing to this directory; wait for it or use "
                             "another {out}") from None
        self._lock = lock

    def _check_same(self, manifest_path: Path) -> None:
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StoreError(f"{manifest_path}: unreadable manifest ({exc}); use a new {{out}} directory") from None
        problems = []
        if old.get("scenario_sha256") != self.fingerprint:
            problems.append(f"it holds results of a different scenario ({old.get('scenario_name')!r}, "
                            "written beside them)")
        if old.get("seed") != self.seed:
            problems.append(f"it was run with {{seed}} {old.get('seed')}, not {self.seed}")
        if old.get("version") != __version__:
            problems.append(f"it was made by funnel {old.get('version')}, this is {__version__}, "
                            "whose numbers may differ")
        if problems:
            raise StoreError(f"{self.root}: cannot resume: " + "; ".join(problems)
                             + "; use a new {out} directory")

    # -- manifest ----------------------------------------------------------------
    def read_manifest(self) -> dict:
        """The manifest, or an empty dict for a new directory."""
        path = self.root / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def _write_manifest(self, manifest: dict) -> None:
        _write_atomic(self.root / "manifest.json", json.dumps(manifest, indent=2) + "\n")

    def _new_manifest(self) -> dict:
        """A first manifest, and the scenario as run beside it."""
        if isinstance(self.scenario, Scenario):
            _write_atomic(self.root / "scenario.yaml", dump_scenario(self.scenario))
        else:  # another model's scenario: its contents as JSON
            _write_atomic(self.root / "scenario.json", json.dumps(_plain(self.scenario), indent=1, default=repr))
        return {"format": FORMAT, "package": "funnel-sim", "version": __version__,
                "scenario_name": getattr(self.scenario, "name", type(self.scenario).__name__),
                "scenario_sha256": self.fingerprint,
                "seed": self.seed, "created": _now(), "runs": []}

    def start_run(self, **settings) -> None:
        """Record that a run (or a resumption) starts now with ``settings``."""
        manifest = self.read_manifest() or self._new_manifest()
        started = _now()
        manifest.update(settings, started=started, finished=None)
        manifest["runs"].append({**settings, "started": started, "finished": None})
        self._write_manifest(manifest)

    def finish_run(self, **results) -> None:
        """Record that the current run ended now."""
        manifest = self.read_manifest()
        finished = _now()
        manifest["runs"][-1].update(finished=finished, **results)
        manifest.update(finished=finished, **results)
        self._write_manifest(manifest)

    # -- chunks ------------------------------------------------------------------
    def done_indices(self) -> set[int]:
        """Indices of every replication in a finished chunk (succeeded or failed)."""
        done: set[int] = set()
        for chunk in (self.root / "chunks").glob("[0-9]*"):
            done.update(json.loads((chunk / "indices.json").read_text(encoding="utf-8")))
        return done

    def write_chunk(self, chunk) -> None:
        """Write a :class:`~sim.montecarlo.replication.ChunkResult` atomically, and its traces."""
        self.write_traces(chunk.traces)
        name = f"{min(chunk.indices):08d}"
        tmp = self.root / "chunks" / f".tmp-{os.getpid()}-{name}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        if chunk.rows:
            pd.DataFrame(chunk.rows).to_parquet(tmp / "replications.parquet", index=False)
            chunk.monthly.to_parquet(tmp / "monthly.parquet", index=False)
        (tmp / "failures.json").write_text(json.dumps(chunk.failures, indent=1), encoding="utf-8")
        (tmp / "indices.json").write_text(json.dumps(chunk.indices), encoding="utf-8")
        os.rename(tmp, self.root / "chunks" / name)

    def _trace_path(self, index: int) -> Path:
        return self.root / "trace" / f"replication-{index:08d}.parquet"

    def write_traces(self, traces: dict[int, pd.DataFrame]) -> None:
        """Write per-lead records by replication index, each file atomically."""
        for i, leads in traces.items():
            final = self._trace_path(i)
            final.parent.mkdir(exist_ok=True)
            tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")
            leads.to_parquet(tmp, index=False)
            os.replace(tmp, final)

    def has_trace(self, index: int) -> bool:
        """Whether replication ``index``'s per-lead records are on disk."""
        return self._trace_path(index).is_file()

    def trace(self, index: int) -> pd.DataFrame:
        """Replication ``index``'s per-lead records."""
        return pd.read_parquet(self._trace_path(index))

    def load(self) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
        """Every finished chunk: ``(replications, monthly, failures)``, in replication order."""
        reps, monthly, failures = [], [], []
        for chunk in sorted((self.root / "chunks").glob("[0-9]*")):
            if (chunk / "replications.parquet").is_file():
                reps.append(pd.read_parquet(chunk / "replications.parquet"))
                monthly.append(pd.read_parquet(chunk / "monthly.parquet"))
            failures += json.loads((chunk / "failures.json").read_text(encoding="utf-8"))
        return _concat(reps, ["replication"]), _concat(monthly, ["replication", "month"]), failures


def _concat(frames: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=order)
    return pd.concat(frames, ignore_index=True).sort_values(order, kind="stable", ignore_index=True)


class MemoryStore:
    """The same interface as :class:`ExperimentStore`, kept in memory (a run without ``out``)."""

    def __init__(self):
        self._chunks = []
        self.traces: dict[int, pd.DataFrame] = {}

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def start_run(self, **settings) -> None:
        """Nothing to record."""

    def finish_run(self, **results) -> None:
        """Nothing to record."""

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
