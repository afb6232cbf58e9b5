"""Writing a comparison to disk: CSV and Parquet tables with an ``about.json``, and an Excel workbook.

:func:`write_tables` is for programs (pandas, R, a BI tool) and :func:`write_excel` for
people (finance opening one workbook). Every file is written to a temporary name beside
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
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from sim.montecarlo.replication import seed_label
from sim.montecarlo.store import PACKAGE, replace_durably, sync_file
from sim.present.errors import PresentError
from sim.version import __version__

__all__ = ["write_csv", "write_excel", "write_experiment_excel", "write_tables"]

TABLES = ["alternatives", "paired", "measures", "replications", "monthly", "failures"]
SHEETS = ["summary", "paired", "measures", "replications"]
EXCEL_RESERVED = ["History"]  # Excel refuses a sheet of this name

PERCENT = "0.0%"
MONEY = "#,##0"
COUNT = "#,##0.0"
RATIO = "0.00"


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


def _check_directory(directory: Path, names: list[str]) -> set[str]:
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
        what = "holds files that are not an earlier comparison's tables ({}; no about.json of funnel-sim)"
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


def _value(value):
    """A cell value Excel can hold: NaN, infinities and missing values become empty cells."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    with contextlib.suppress(TypeError, ValueError):  # pd.isna of a list is not a truth value
        if pd.isna(value):
            return None
    return value


def _sheet(book: Workbook, title: str, frame: pd.DataFrame, formats: list[str | None] | None = None,
           headers: list[str] | None = None, above: list[tuple[str, object, str | None]] = ()) -> None:
    """Add sheet ``title``: the ``above`` lines (label, value, format), then ``frame`` under a frozen header."""
    sheet = book.create_sheet(title)
    headers = [str(c) for c in frame.columns] if headers is None else headers
    formats = formats or [None] * len(headers)
    # Write-only sheets take column widths and panes before any row, so they are worked out first.
    # Numbers are shown formatted, so about 10 characters hold them; text is measured on the first rows.
    for k, header in enumerate(headers):
        column = frame.iloc[:200, k]
        texts = list(column.astype(str).str.len()) if pd.api.types.is_object_dtype(column) or \
            pd.api.types.is_string_dtype(column) else []
        labels = [len(str(line[k])) for line in above if k < 2]
        sheet.column_dimensions[get_column_letter(k + 1)].width = min(max([len(header), 10, *texts, *labels]) + 2, 60)
    header_row = len(above) + (2 if above else 1)
    sheet.freeze_panes = f"B{header_row + 1}"

    def cell(value, number_format=None, bold=False):
        c = WriteOnlyCell(sheet, _value(value))
        if isinstance(c.value, str) and c.value.startswith("="):
            c.data_type = "s"  # a label such as "=A1" is text, not a formula
        if number_format and c.data_type == "n":
            c.number_format = number_format
        if bold:
            c.font = Font(bold=True)
        return c

    for label, value, number_format in above:
        sheet.append([cell(label, bold=True), cell(value, number_format)])
    if above:
        sheet.append([])
    sheet.append([cell(h, bold=True) for h in headers])
    for row in frame.itertuples(index=False, name=None):
        sheet.append([cell(v, f) for v, f in zip(row, formats, strict=True)])


def _summary(comparison) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The alternatives table as finance reads it: columns, readable headers, number formats."""
    table = comparison.alternatives
    objective_format = (PERCENT if comparison.risk.name == "probability"
                        else COUNT if comparison.objective.name == "new_customers" else MONEY)
    stats = {"n", "objective", "objective_ci_low", "objective_ci_high", "p_best", "p_best_ci_low", "p_best_ci_high",
             "p_selected", *(f"vs_{a}{s}" for a in ("best", "baseline") for s in ("", "_ci_low", "_ci_high"))}
    settings = [c for c in table.columns if c not in stats and not c.startswith("fte.")]
    fte = [c for c in table.columns if c.startswith("fte.")]
    columns = ["alternative", *settings, *fte]
    headers = ["alternative", *[c.replace("_share.", " share: ").replace("_", " ") for c in settings],
               *[f"FTE {c.removeprefix('fte.')}" for c in fte]]
    formats = [None, *[PERCENT] * len(settings), *[COUNT] * len(fte)]
    for stem, header, number_format in [("objective", f"objective ({comparison.risk.label})", objective_format),
                                        ("vs_baseline", "difference to baseline", objective_format),
                                        ("vs_best", "difference to best", objective_format),
                                        ("p_best", "P(best)", PERCENT)]:
        columns += [stem, f"{stem}_ci_low", f"{stem}_ci_high"]
        headers += [header, "CI low", "CI high"]
        formats += [number_format] * 3
    columns.append("p_selected")
    headers.append("P(selected)")
    formats.append(PERCENT)
    return table.reset_index()[columns], headers, formats


def write_excel(comparison, path, extra: dict[str, pd.DataFrame] | None = None) -> Path:
    """Write ``comparison`` as one Excel workbook (``.xlsx``) at ``path``.

    Sheets, in order: ``summary`` (what was compared, then one row per alternative:
    settings, FTE, the objective, the differences to the baseline and to the best,
    each with its CI, and the probabilities of being best), ``paired`` (the paired
    differences), ``measures`` (key measures per alternative), ``replications`` (one
    row per alternative and replication), then each ``extra`` table as a sheet of its
    name. Header rows are frozen. NaN, infinite and missing values are written as
    empty cells: Excel has no NaN or infinity. The monthly series is not included
    (it is long); :func:`write_tables` writes it.

    Args:
        comparison: a :class:`sim.decide.compare.Comparison`.
        path: the workbook to write; its parent directories are created. An existing
            workbook there is replaced only once the new one is complete.
        extra: more tables, by sheet name (at most 31 characters; letters, digits,
            ``_ - .`` and spaces; not the name of a standard sheet).

    Returns:
        ``path``.

    Raises:
        OSError: the workbook cannot be written; nothing is left beside ``path`` (openpyxl
            removes its own scratch files, in the system's temporary directory, at exit).
        PresentError: an ``extra`` name is unusable.
    """
    extra = _check_extra(extra, SHEETS + EXCEL_RESERVED)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = comparison
    book = Workbook(write_only=True)
    table, headers, formats = _summary(c)
    objective_format = formats[headers.index(f"objective ({c.risk.label})")]
    _sheet(book, "summary", table, formats, headers, above=[
        ("objective", c.objective.label, None), ("risk", c.risk.label, None), ("confidence level", c.level, PERCENT),
        ("replications", c.reps, None), ("paired replications", c.n, None), ("best", c.best, None),
        ("baseline", c.baseline, None)])
    paired_formats = {"difference": objective_format, "ci_low": objective_format, "ci_high": objective_format,
                      "variance_reduction": RATIO}
    _sheet(book, "paired", c.paired, [paired_formats.get(col) for col in c.paired.columns])
    _sheet(book, "measures", c.measures)
    _sheet(book, "replications", c.replications)
    for name, frame in extra.items():
        _sheet(book, name, _flat(frame))
    return _atomic(path, book.save)


def write_experiment_excel(experiment, path, measures=None, level: float = 0.95) -> Path:
    """Write an experiment (:func:`sim.run_many`) as one Excel workbook (``.xlsx``) at ``path``.

    Sheets, in order: ``summary`` (the scenario, its horizon and currency, the root seed
    and the replications, then one row per measure: n, mean, the CI of the mean at
    ``level``, sd, P10, P50, P90), ``replications`` (one row per replication) and
    ``monthly`` (every replication's monthly series, long). NaN and infinities are
    empty cells. An existing workbook at ``path`` is replaced only once the new one is
    complete.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    e = experiment
    sc = e.scenario
    book = Workbook(write_only=True)
    summary = e.summary(measures, level).reset_index()
    _sheet(book, "summary", summary, [None, "0", *[RATIO] * (len(summary.columns) - 2)], above=[
        ("scenario", getattr(sc, "name", ""), None), ("horizon (months)", getattr(sc, "horizon_months", None), None),
        ("currency", getattr(sc, "currency", ""), None), ("root seed", str(seed_label(e.seed)), None),
        ("replications", len(e.replications), None), ("failed", len(e.failures), None),
        ("confidence level", level, PERCENT), ("funnel-sim version", __version__, None)])
    _sheet(book, "replications", e.replications)
    _sheet(book, "monthly", e.monthly)
    return _atomic(path, book.save)
