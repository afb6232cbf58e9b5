"""The ``funnel`` command line: parse, call the library, write. Nothing else lives here.

Bad input (a broken scenario, a wrong flag, an unwritable output) is reported one
line per problem on stderr with exit code 2, never a traceback: the library's errors
name Python parameters, and :mod:`sim.cli.flags` words them with the flags.
"""

from __future__ import annotations

import argparse
import os
import sys

from sim.cli.flags import error_lines
from sim.cli.options import Parser, fail
from sim.cli.run import add_run_commands
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
    return parser


def main(argv=None) -> int:
    """Entry point of the ``funnel`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FunnelError as exc:
        return fail(error_lines(exc))
    except KeyboardInterrupt:
        return fail(["interrupted"])
    except BrokenPipeError:
        # The reader went away (e.g. `funnel schema | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
