"""What every ``funnel`` subcommand shares: one-line usage errors, option types, progress, JSON output.

Option types only read text (an integer, a number, ``NAME=VALUE``, ``LOW:HIGH``,
values or a range); whether a value makes sense is the library's to say, once, and
:func:`sim.cli.flags.error_lines` words its answer with the flags.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import threading
from pathlib import Path

from sim.cli.flags import error_lines
from sim.errors import FunnelError

__all__ = ["EXCEL_HELP", "EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_TERMINATED", "LIMIT_HELP",
           "MAX_ALTERNATIVES", "MAX_VALUES", "Parser", "Terminated", "add_limit", "attempt", "directory_problems",
           "excel_problems", "fail", "file_problems", "grid_problems", "integer", "jsonable", "limits_of", "number",
           "pairs", "run_with_progress", "setting_values", "size_lines", "sigterm_interrupts", "value_list",
           "warn_workers", "write_workbook"]

EXIT_FAILED = 1  # it ran, and there is no result: every replication failed, or the output could not be written
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's code for a run stopped by SIGTERM
MAX_VALUES = 1_000  # values one split option may take: more is a typo in a range, not a study
MAX_ALTERNATIVES = 10_000  # alternatives a grid may have (the product of its options' values)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a run stops as after Ctrl-C (workers stopped, directory let go)."""


@contextlib.contextmanager
def sigterm_interrupts():
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread; the previous handler after.

    A KeyboardInterrupt, so that everything that cleans up after Ctrl-C does after
    SIGTERM too. Only the first SIGTERM raises: a second one must not cut the clean-up
    short (SIGKILL still ends it). Outside the main thread (where Python cannot set a
    handler) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def handler(signum, frame):
        if not raised:
            raised.append(signum)
            raise Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option, then exit 2."""

    def error(self, message):
        """Print one line naming the problem and exit with code 2 (argparse's hook)."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def fail(lines) -> int:
    """Print each problem on its own line on stderr; return the exit code for bad input."""
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT


def jsonable(value):
    """``value`` with numpy scalars made plain and NaN or infinity made ``None``, for strict JSON."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if hasattr(value, "item"):
        return jsonable(value.item())
    return value


def attempt(problems: list[str], make):
    """``make()``, or None with the lines of the library error it raised added to ``problems``.

    The command line asks the library's own checks before anything runs, so that every
    problem is reported at once.
    """
    try:
        return make()
    except FunnelError as exc:
        problems += error_lines(exc)
        return None


def integer(text: str) -> int:
    """An argparse type: a whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return math.nan
    return value


def number(text: str) -> float:
    """An argparse type: a finite number (``1,000`` and ``1_000`` allowed)."""
    value = _float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number such as 0.1 or 2500000, got {text!r}")
    return value


def pairs(values, option: str, problems: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (a repeatable option) as a mapping; a malformed one is a problem."""
    out = {}
    for text in values or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            problems.append(f"{option}: expected NAME=VALUE, got {text!r}")
        else:
            out[name.strip()] = value.strip()
    return out


def value_list(text: str, option: str, problems: list[str]) -> list[float]:
    """Values written as ``0.3,0.5,0.7`` or as a range ``start:stop:step`` (stop included), each once.

    At most :data:`MAX_VALUES` of them: a range is counted before any value is made.
    """
    text = text.strip()
    parts = [_float(p) for p in text.split(":" if ":" in text else ",")]
    if not parts or (":" in text and len(parts) != 3) or not all(map(math.isfinite, parts)):
        problems.append(f"{option}: expected values such as 0.3,0.5,0.7 or a range such as 0:1:0.05, got {text!r}")
        return []
    if ":" in text:
        start, stop, step = parts
        if not step > 0 or stop < start:
            problems.append(f"{option}: a range start:stop:step needs step > 0 and stop >= start, got {text!r}")
            return []
        steps = (stop - start) / step
        if not steps < MAX_VALUES:  # also infinite: a step far smaller than the range
            problems.append(f"{option}: the range {text} has {_count(steps + 1)} values; at most {MAX_VALUES:,} "
                            "(use a larger step)")
            return []
        count = math.floor(steps + 1e-9) + 1
        parts = [start + k * step for k in range(count)]
    elif len(parts) > MAX_VALUES:
        problems.append(f"{option}: {len(parts):,} values; at most {MAX_VALUES:,}")
        return []
    return list(dict.fromkeys(round(v, 12) for v in parts))  # a value given twice is one alternative


_INTEGER = re.compile(r"[+-]?\d+")


def _typed(token: str):
    """A --set value as the scenario would read it: true/false, a whole number, a number, or a word."""
    low = token.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INTEGER.fullmatch(token.replace(",", "").replace("_", "")):
        return int(token.replace("_", ""))
    value = _float(token)
    return value if math.isfinite(value) else token


def setting_values(text: str, option: str, problems: list[str]) -> list:
    """The values of ``--set PATH=VALUES``: a range ``start:stop:step`` of numbers, or a comma list of any values.

    Whole numbers stay whole (``roles.sdr.fte`` takes only those), ``true``/``false`` are
    booleans, anything else that is not a number is a word (``fifo``).
    """
    text = text.strip()
    if ":" in text:
        return [int(v) if float(v).is_integer() else v for v in value_list(text, option, problems)]
    tokens = [t.strip() for t in text.split(",")]
    if not all(tokens):
        problems.append(f"{option}: expected values such as 4,6,8 or fifo,lifo or a range such as 1:8:1, "
                        f"got {text!r}")
        return []
    if len(tokens) > MAX_VALUES:
        problems.append(f"{option}: {len(tokens):,} values; at most {MAX_VALUES:,}")
        return []
    return list(dict.fromkeys(_typed(t) for t in tokens))


def _count(n: float) -> str:
    if not math.isfinite(n):
        return "more than 1e308"
    return f"{math.floor(n + 1e-9):,}" if n < 1e15 else f"{n:.3g}"


def grid_problems(grid: dict[str, list[float]], options: list[str]) -> list[str]:
    """A grid of more than :data:`MAX_ALTERNATIVES` alternatives, as one line about the first of ``options``."""
    if not grid or not all(grid.values()):
        return []
    alternatives = math.prod(len(values) for values in grid.values())
    if alternatives <= MAX_ALTERNATIVES:
        return []
    sizes = " x ".join(f"{len(values):,}" for values in grid.values())
    return [f"{options[0]}: with {', '.join(options[1:])}, {sizes} = {alternatives:,} alternatives; at most "
            f"{MAX_ALTERNATIVES:,} (use fewer values)"]


def _nearest_existing(path: Path) -> Path:
    """``path`` or the closest of its ancestors that exists (as anything), as the user wrote it."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(path.anchor or ".")


def _writable_folder(folder: Path, option: str, target) -> list[str]:
    """Problems with making ``target`` inside ``folder``, which exists (and may be a file)."""
    if not folder.is_dir():
        return [f"{option}: cannot create {target}: {folder} is a file, not a folder"]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [f"{option}: cannot create {target}: folder {folder} is not writable"]
    return []


def directory_problems(value, option: str, experiment: bool = False) -> list[str]:
    """What stops ``value`` from being an output directory (made with its parents if missing), one line each.

    Asked before anything runs, so that a long run is never lost to a typo (the
    folder may still change, or the disk fill up, before the results are written).
    With ``experiment``, an experiment directory that cannot be written is left to the
    library: a finished one is read without writing (and an unfinished one refused there).
    """
    if value is None:
        return []
    path = Path(value)
    if path.exists():
        if not path.is_dir():
            return [f"{option}: {value} exists and is not a directory"]
        if experiment and (path / "manifest.json").is_file():
            return []
        if not os.access(path, os.W_OK | os.X_OK):
            return [f"{option}: {value}: folder is not writable"]
        return []
    return _writable_folder(_nearest_existing(path.parent), option, value)


def file_problems(value, option: str) -> list[str]:
    """What stops ``value`` from being written as an output file (its folder must exist), one line each."""
    if value is None:
        return []
    path = Path(value)
    if path.is_dir():
        return [f"{option}: {value} is a directory; expected a file name"]
    if path.exists():
        return [] if os.access(path, os.W_OK) else [f"{option}: {value} exists and is not writable"]
    folder = path.parent
    if not folder.exists():
        existing = _nearest_existing(folder)
        if not existing.is_dir():
            return [f"{option}: cannot create {value}: {existing} is a file, not a folder"]
        return [f"{option}: folder {folder} does not exist"]
    return _writable_folder(folder, option, value)


EXCEL_HELP = ("write an Excel workbook of the results: Inputs (scenario, horizon, currency, seed, replications, "
              "budget, what was checked), the results' sheets, a Monthly P&L, Columns (every column's code and unit); "
              "an existing file of that name is replaced")


def excel_problems(value) -> list[str]:
    """What stops ``value`` from being the ``--excel`` workbook: a name not ending in .xlsx, or an unusable path."""
    if value is None:
        return []
    if Path(value).suffix.lower() != ".xlsx":
        return [f"--excel: expected a file name ending in .xlsx, got {value!r}"]
    return file_problems(value, "--excel")


def write_workbook(args, result, *, scenario=None, about=None) -> list[str]:
    """Write ``result`` to the ``--excel`` workbook (if asked for); the problems, one line each.

    The Inputs sheet starts with the command line as it was given and the scenario file(s).
    """
    if getattr(args, "excel", None) is None:
        return []
    import shlex

    from sim.present.workbook import write_excel

    files = getattr(args, "scenarios", None) or [getattr(args, "scenario", None)]
    lines = {"Command": "funnel " + shlex.join(getattr(args, "argv", None) or [args.command]),
             "Scenario file" + ("s" if len(files) > 1 else ""): ", ".join(str(f) for f in files if f is not None),
             **(about or {})}
    try:
        write_excel(result, args.excel, scenario=scenario, about=lines)
    except OSError as exc:  # checked before the run; the disk may still fill up, or the folder change
        return [f"--excel: cannot write {args.excel}: {exc.strerror or exc}"]
    return []


def warn_workers(workers, local: bool) -> None:
    """One line on stderr when more local processes than CPUs are asked for (the run goes on)."""
    from sim.montecarlo.backends import available_cpus

    cpus = available_cpus()
    if local and isinstance(workers, int) and workers > cpus:
        print(f"--workers: {workers} processes on {cpus} CPU{'s' if cpus > 1 else ''}; more processes than CPUs "
              "only slow a run down", file=sys.stderr)


def run_with_progress(args, work):
    """Run ``work(progress)`` with a progress bar on a terminal: ``(result, None)``, or ``(None, exit code)``.

    A library error becomes one line per problem (exit 2); Ctrl-C says what was kept
    (exit 130), and so does SIGTERM (exit 143).
    """
    from sim.present.progress import progress_bar

    show = not args.quiet and sys.stderr.isatty()
    try:
        with progress_bar(show) as progress:
            return work(progress), None
    except FunnelError as exc:
        return None, fail(error_lines(exc))
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        saved = f"; finished replications are saved in {args.out}: run the same command again to resume" \
            if getattr(args, "out", None) else ""
        print(f"{'terminated' if terminated else 'interrupted'}{saved}", file=sys.stderr)
        return None, EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


LIMIT_HELP = ("raise (or lower) a limit on one replication's size, e.g. leads=50000000; limits: leads, seats, "
              "tenures, ae_slots, customers (see `funnel validate`)")


def add_limit(parser) -> None:
    """The ``--limit NAME=N`` option (repeatable) of every command that runs the model."""
    parser.add_argument("--limit", action="append", metavar="NAME=N", help=LIMIT_HELP)


def limits_of(args, problems: list[str] | None = None) -> dict[str, float]:
    """The ``--limit`` values as the library's ``limits``; a value that is not a number is a problem."""
    problems = [] if problems is None else problems
    out = {}
    for name, text in pairs(getattr(args, "limit", None), "--limit", problems).items():
        value = _float(text)
        if not math.isfinite(value):
            problems.append(f"--limit: expected NAME=N with N a number, got {name}={text}")
        else:
            out[name] = value
    from sim.model.size import SizeError, limit_problems

    if found := limit_problems(out):
        problems += error_lines(SizeError(*found[0], problems=found))
    return out


def size_lines(scenario, limits: dict) -> list[str]:
    """The library's size check of ``scenario`` in the command line's words (one line per count past its limit)."""
    from sim.model.size import SizeError, size_problems

    problems = size_problems(scenario, limits)
    return error_lines(SizeError(*problems[0], problems=problems)) if problems else []
