"""The ``funnel`` command line: parse, call the library, write. Nothing else lives here.

Bad input (a broken scenario, a wrong flag, an unwritable output) is reported one
line per problem on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from sim import __version__
from sim.config import Scenario, ScenarioError, load_scenario

__all__ = ["main"]

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the option, then exit 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _fail(lines) -> int:
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_BAD_INPUT


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def _int_at_least(lowest: int, what: str):
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


_seed = _int_at_least(0, "a non-negative integer")
_positive_int = _int_at_least(1, "a positive integer")


def _cmd_run(args) -> int:
    from sim.model import simulate
    from sim.report import funnel_report

    scenario = load_scenario(args.scenario)
    if args.monthly is not None:
        parent = Path(args.monthly).resolve().parent
        if not parent.is_dir():
            return _fail([f"--monthly: folder {parent} does not exist"])
    result = simulate(scenario, seed=args.seed)
    if args.monthly is not None:
        try:
            result.monthly.to_csv(args.monthly, index=False)
        except OSError as exc:
            return _fail([f"--monthly: cannot write {args.monthly}: {exc.strerror or exc}"])
    if args.json:
        print(json.dumps(_jsonable(result.metrics), indent=2))
    else:
        funnel_report(result, seed=args.seed)
    return 0


def _cmd_validate(args) -> int:
    problems = []
    for path in args.scenarios:
        try:
            load_scenario(path)
        except ScenarioError as exc:
            problems += [f"{exc.source}: {p}" for p in exc.problems]
        else:
            print(f"{path}: ok")
    return _fail(problems) if problems else 0


def _cmd_schema(_args) -> int:
    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def _cmd_bench(args) -> int:
    from sim.benchmark import run_benchmark

    scenario = load_scenario(args.scenario)
    figures = run_benchmark(scenario, replications=args.replications, customers=args.customers)
    print(f"scenario: {args.scenario} ({args.replications} replications)")
    print(f"funnel leads per second:          {figures['funnel_leads_per_second']:>12,.0f}")
    print(f"bare SimPy M/M/c customers per s: {figures['bare_simpy_customers_per_second']:>12,.0f}")
    print(f"ratio (leads / bare customers):   {figures['ratio']:>12.2f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``funnel`` and its subcommands."""
    parser = _Parser(prog="funnel", description="Simulate a marketing and sales funnel from a scenario file.")
    parser.add_argument("--version", action="version", version=f"funnel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate one horizon and print the funnel and KPIs")
    run.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    run.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    run.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    run.add_argument("--monthly", metavar="CSV", help="write the monthly series to this CSV file")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check scenario files; one line per problem")
    val.add_argument("scenarios", metavar="FILE", nargs="+")
    val.set_defaults(func=_cmd_validate)

    sch = sub.add_parser("schema", help="print the scenario JSON Schema (for editors)")
    sch.set_defaults(func=_cmd_schema)

    bench = sub.add_parser("bench", help="speed: funnel leads/s against a bare SimPy M/M/c loop")
    bench.add_argument("--scenario", default="scenarios/b2b_saas_inbound.yaml", metavar="FILE")
    bench.add_argument("--replications", type=_positive_int, default=3)
    bench.add_argument("--customers", type=_positive_int, default=100_000, help="bare M/M/c customers")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``funnel`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        return _fail([f"{exc.source}: {p}" for p in exc.problems])
    except KeyboardInterrupt:
        return _fail(["interrupted"])
    except BrokenPipeError:
        # The reader went away (e.g. `funnel schema | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
