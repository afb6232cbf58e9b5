"""The ``funnel`` command line: parse, call the library, write."""

from sim.cli.app import main

__all__ = ["main"]
