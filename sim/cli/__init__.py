"""The ``funnel`` command line: parse, call the library, write."""

from sim.cli.main import main

__all__ = ["main"]
