"""The ``funnel`` command line: parse, call the library, write. Nothing else lives here.

Bad input (a broken scenario, a wrong flag, an unwritable output) is reported one
line per problem on stderr with exit code 2, never a traceback: the library's errors
name Python parameters, and :mod:`sim.cli.flags` words them with the flags. A run
stopped by Ctrl-C exits with 130, by SIGTERM with 143 (both say how to resume with
``--out``); standard output that cannot be written (full, closed) is one line on
stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import warnings

from sim.cli.backtest import add_backtest_command
from sim.cli.calibrate import add_calibrate_command
from sim.cli.crm import add_crm_command
from sim.cli.flags import error_lines, flag
from sim.cli.options import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Parser,
    Terminated,
    fail,
    sigterm_interrupts,
)
from sim.cli.run import add_run_commands
from sim.cli.sensitivity import add_sensitivity_command
from sim.cli.split import add_split_commands
from sim.errors import FunnelError
from sim.version import __version__

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``funnel`` and its subcommands."""
    parser = Parser(prog="funnel", description="Simulate a marketing and sales funnel from a scenario file.")
    parser.add_argument("--version", action="version", version=f"funnel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    add_run_commands(sub)
    add_split_commands(sub)
    add_sensitivity_command(sub)
    add_crm_command(sub)
    add_backtest_command(sub)
    add_calibrate_command(sub)
    return parser


class _StdoutError(Exception):
    """Standard output could not be written (not an OSError, so that no file-writing code catches it)."""

    def __init__(self, cause: OSError):
        super().__init__(cause.strerror or str(cause))
        self.cause = cause


class _Stdout:
    """Standard output, whose write errors are told apart from every other file's."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise _StdoutError(exc) from None

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        try:
            self._stream.flush()
        except OSError as exc:
            raise _StdoutError(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _stdout_failed(stream, exc: _StdoutError) -> int:
    if exc.cause.errno != errno.EPIPE:  # the reader went away (`funnel schema | head`): stop quietly, as cat does
        try:
            print(f"cannot write to standard output: {exc}", file=sys.stderr)
        except OSError:
            pass
    try:
        # What is still buffered goes nowhere, so Python's flush at exit does not fail ("Exception ignored").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # not a file (a test's StringIO): nothing buffered to lose
    return EXIT_FAILED


def main(argv=None) -> int:
    """Entry point of the ``funnel`` console script."""
    stream = sys.stdout
    sys.stdout = _Stdout(stream)
    try:
        return _main(argv)
    except _StdoutError as exc:
        return _stdout_failed(stream, exc)
    finally:
        sys.stdout = stream


@contextlib.contextmanager
def _store_notes():
    """Print the library's notes about experiment directories as one line each, in the command line's words.

    The library warns (:class:`sim.montecarlo.store.StoreWarning`: a damaged chunk set
    aside and rerun, a dead run's directory taken over) and never prints; the category
    is told by name so that `funnel schema` does not import the Monte Carlo layer.
    """
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if category.__name__ == "StoreWarning" and hasattr(message, "line"):
                print(message.line(flag), file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _main(argv) -> int:
    try:
        with sigterm_interrupts(), _store_notes():
            try:
                args = build_parser().parse_args(argv)
            except SystemExit:  # --help, --version, a usage error: what they printed must reach stdout too
                sys.stdout.flush()
                raise
            args.argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]  # the workbook says how it was made
            code = args.func(args)
            sys.stdout.flush()  # here, where a failure can be reported, not at exit
            return code
    except FunnelError as exc:
        return fail(error_lines(exc))
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:  # a file the command reads or writes, not named by an option's own check
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
