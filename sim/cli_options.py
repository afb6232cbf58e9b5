"""What every ``funnel`` subcommand shares: one-line usage errors, option types, JSON output."""

from __future__ import annotations

import argparse
import math
import sys

__all__ = ["EXIT_BAD_INPUT", "EXIT_INTERRUPTED", "Parser", "fail", "float_where", "int_at_least", "jsonable",
           "positive_float", "positive_int", "seed"]

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


def int_at_least(lowest: int, what: str):
    """An argparse type: an integer of at least ``lowest``, with a message naming ``what``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < lowest:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


seed = int_at_least(0, "a non-negative integer")
positive_int = int_at_least(1, "a positive integer")


def float_where(ok, what: str):
    """An argparse type: a finite number (``1,000`` and ``1_000`` allowed) for which ``ok`` holds."""

    def parse(text: str) -> float:
        try:
            value = float(text.replace(",", "").replace("_", ""))
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_float = float_where(lambda v: v > 0, "a positive number (e.g. 0.02 for 2%)")
