"""What every ``funnel`` subcommand shares: one-line usage errors, option types, progress, JSON output.

Option types only read text (an integer, a number, ``NAME=VALUE``, ``LOW:HIGH``,
values or a range); whether a value makes sense is the library's to say, once, and
:func:`sim.cli.flags.error_lines` words its answer with the flags.
"""

from __future__ import annotations

import argparse
import math
import sys

from sim.cli.flags import error_lines
from sim.errors import FunnelError

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "Parser", "attempt", "fail", "integer", "jsonable", "number",
           "pairs", "run_with_progress", "value_list"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C


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
    """Values written as ``0.3,0.5,0.7`` or as a range ``start:stop:step`` (stop included), each once."""
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
        count = math.floor((stop - start) / step + 1e-9) + 1
        parts = [start + k * step for k in range(count)]
    return list(dict.fromkeys(round(v, 12) for v in parts))  # a value given twice is one alternative


def run_with_progress(args, work):
    """Run ``work(progress)`` with a progress bar on a terminal: ``(result, None)``, or ``(None, exit code)``.

    A library error becomes one line per problem (exit 2); Ctrl-C says what was kept (exit 130).
    """
    from sim.present.progress import progress_bar

    show = not args.quiet and sys.stderr.isatty()
    try:
        with progress_bar(show) as progress:
            return work(progress), None
    except FunnelError as exc:
        return None, fail(error_lines(exc))
    except KeyboardInterrupt:
        saved = f"; finished replications are saved in {args.out}: run the same command again to resume" \
            if getattr(args, "out", None) else ""
        print(f"interrupted{saved}", file=sys.stderr)
        return None, EXIT_INTERRUPTED
