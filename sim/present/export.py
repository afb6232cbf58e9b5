"""Writing results to disk: a comparison's CSV and Parquet tables with an ``about.json``, written safely.

:func:`write_tables` is for programs (pandas, R, a BI tool); the workbook for people is
:mod:`sim.present.workbook`, which writes through the same helpers. Every file is written to a temporary name beside
its destination, flushed to the disk and moved into place with :func:`os.replace`, so an
interrupted or failed write (even a power cut) leaves the previous file (or none), never a
truncated one. :func:`write_tables` writes only into a folder that is empty or its own
earlier output, and replaces only files it wrote: nothing of the user's is overwritten.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.montecarlo.store import PACKAGE, replace_durably, sync_file
from sim.present.errors import PresentError
from sim.version import __version__

__all__ = ["write_csv", "write_tables"]

TABLES = ["alternatives", "paired", "measures", "replications", "monthly", "failures"]
# Every standard sheet of every workbook (an extra sheet may take none of these names, whatever the result),
# and History, which Excel refuses.


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    # The temporary name starts with a dot so globbing readers (``*.csv``) never pick it up.
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        sync_file(tmp)  # on the disk before it takes the old file's place: a power cut leaves one or the other
        replace_durably(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def write_csv(frame: pd.DataFrame, path) -> Path:
    """One table as UTF-8 CSV without its index, as :func:`write_tables` writes them: atomically, flushed to disk.

    Raises:
        OSError: it cannot be written; an older file of that name is left whole.
    """
    return _atomic(Path(path), lambda p: _flat(frame).to_csv(p, index=False, encoding="utf-8"))


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a meaningful index (named, or not a plain 0..n-1 range) moved into columns."""
    default = isinstance(frame.index, pd.RangeIndex) and frame.index.name is None
    return frame if default else frame.reset_index()


def _check_extra(extra: dict[str, pd.DataFrame] | None, reserved: list[str]) -> dict[str, pd.DataFrame]:
    """``extra`` if its names can be both file and sheet names and clash neither with ``reserved`` nor each other."""
    extra = dict(extra or {})
    # Compared ignoring case: Excel sheet names and some file systems do.
    taken = {r.lower() for r in reserved}
    for name in extra:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\- ]{0,30}", name):
            raise PresentError("extra", f"table name {name!r} must be 1 to 31 letters, digits, '_', '-', '.' or "
                                        "spaces (it names both a file and an Excel sheet)")
        if name.lower() in taken:
            raise PresentError("extra", f"table name {name!r} is taken (standard tables: {', '.join(reserved)})")
        taken.add(name.lower())
    return extra


def _finite(value):
    """``value`` with NaN and infinities (nested in dicts and lists too) replaced by ``None``."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars: json does not know them
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _about(comparison) -> dict:
    """What a comparison's tables are about: objective, risk, level, best, baseline, counts, version."""
    return _finite({
        "objective": comparison.objective.label,
        "objective_name": comparison.objective.name,
        "with_pipeline": comparison.objective.with_pipeline,
        "risk": comparison.risk.label,
        "level": comparison.level,
        "best": comparison.best,
        "baseline": comparison.baseline,
        "reps": comparison.reps,
        "n": comparison.n,
        "dimensions": list(comparison.dimensions),
        "package": PACKAGE,
        "version": __version__,
    })


def _earlier_files(directory: Path) -> set[str]:
    """The files an earlier :func:`write_tables` wrote in ``directory`` (none if its ``about.json`` is not ours)."""
    try:
        about = json.loads((directory / "about.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(about, dict) or about.get("package") != PACKAGE or not isinstance(about.get("files"), list):
        return set()
    return {name for name in about["files"] if isinstance(name, str)} | {"about.json"}


def _check_directory(directory: Path, names: list[str], kind: str = "an earlier comparison's tables") -> set[str]:
    """What :func:`write_tables` may replace in ``directory``: the files an earlier call wrote there.

    A folder holding anything else (but ``runs/``, the comparison's own experiment
    directories, and temporary files) is refused unless it is an earlier call's
    output, and even then no file of the user's is replaced.
    """
    if not directory.is_dir():
        return set()
    earlier = _earlier_files(directory)
    present = {p.name for p in directory.iterdir() if not p.name.startswith(".tmp-")}
    if earlier:
        clash = sorted(n for n in names if n in present and n not in earlier)
        what = "holds files of the same names that it did not write ({})"
    else:
        clash = sorted(present - {"runs"})
        what = f"holds files that are not {kind} ({{}}; no about.json of funnel-sim)"
    if clash:
        shown = ", ".join(clash[:3]) + (", ..." if len(clash) > 3 else "")
        raise PresentError("directory", f"{directory}: {what.format(shown)}; nothing was written: use a new or "
                                        "empty directory")
    return earlier & present


def write_tables(comparison, directory, extra: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write every table of ``comparison`` as CSV and Parquet into ``directory``, with ``about.json``.

    Tables: ``alternatives`` (its ``alternative`` index as a column), ``paired``,
    ``measures``, ``replications``, ``monthly`` (only if there is a monthly series) and
    ``failures`` (always, header only if none failed, so a reader can tell "none failed"
    from "not written"), then each ``extra`` table under its name. CSV is UTF-8 without
    an index; floats are written exactly, NaN as an empty field and infinities as ``inf``.
    Parquet keeps dtypes, NaN and infinities as they are. ``about.json`` says what the
    tables are about (objective, risk, level, best, baseline, reps, n, dimensions, the
    package and its version), with NaN and infinities as ``null``, and lists in
    ``files`` every file written there by this function, so that a later call knows
    them as its own. Each file is flushed to the disk before it replaces the old one.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        directory: where to write; created with its parents if missing. It must be
            empty, hold only ``runs/`` (the comparison's experiment directories), or be
            an earlier call's output; there, files of the same names that an earlier
            call wrote are replaced, and every other file is left alone.
        extra: more tables to write, by name (letters, digits, ``_ - .`` and spaces, at
            most 31 characters, not the name of a standard table).

    Returns:
        The paths written, in order.

    Raises:
        OSError: the directory cannot be created or written to. Files written before
            the failure stay; none is left half-written.
        PresentError: an ``extra`` name is unusable (``extra``), or ``directory`` holds
            files this function did not write (``directory``); nothing is written then.
    """
    extra = _check_extra(extra, TABLES)
    directory = Path(directory)
    tables = {name: getattr(comparison, name) for name in TABLES}
    if tables["monthly"].empty:
        del tables["monthly"]
    tables.update(extra)
    names = [f"{name}.{kind}" for name in tables for kind in ("csv", "parquet")]
    earlier = _check_directory(directory, [*names, "about.json"])
    directory.mkdir(parents=True, exist_ok=True)
    about = {**_about(comparison), "files": sorted((earlier - {"about.json"}) | set(names))}
    text = json.dumps(about, indent=2, allow_nan=False) + "\n"
    if not set(names) <= earlier:
        # The new names are claimed first: a write interrupted after them still leaves them known as ours.
        _atomic(directory / "about.json", lambda p: p.write_text(text, encoding="utf-8"))
    written = []
    for name, frame in tables.items():
        frame = _flat(frame)
        written.append(_atomic(directory / f"{name}.csv",
                               lambda p, f=frame: f.to_csv(p, index=False, encoding="utf-8")))
        written.append(_atomic(directory / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False)))
    written.append(_atomic(directory / "about.json", lambda p: p.write_text(text, encoding="utf-8")))
    return written
