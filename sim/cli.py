"""The ``funnel`` command line: parse, call the library, write. Nothing else lives here.

Bad input (a broken scenario, a wrong flag, an unwritable output) is reported one
line per problem on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sim import __version__
from sim.cli_options import (
    EXIT_INTERRUPTED,
    Parser,
    fail,
    int_at_least,
    jsonable,
    positive_float,
    positive_int,
    seed,
)
from sim.cli_split import add_split_commands
from sim.config import Scenario, ScenarioError, load_scenario

__all__ = ["main"]

# Options that only mean something for many replications, and what each needs.
_MANY_OPTIONS = ("workers", "backend", "scheduler", "out", "precision", "metric", "batch", "chunk_size", "trace")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _run_problems(args) -> list[str]:
    """Every combination of ``run`` options that cannot work, one line each."""
    given = [name for name in _MANY_OPTIONS if getattr(args, name) is not None]
    problems = []
    if args.replication is not None:
        problems += [f"--replication: runs one replication alone; drop {_option(name)}"
                     for name in ("reps", *given) if getattr(args, name) is not None]
    elif args.reps is None:
        problems += [f"{_option(name)}: needs --reps R (many replications)" for name in given]
    if args.scheduler is not None and args.backend != "dask":
        problems.append("--scheduler: only the dask backend has a scheduler (add --backend dask)")
    if args.trace is not None and args.out is None:
        problems.append("--trace: needs --out DIR to write the lead records to")
    if (args.precision is None) != (args.metric is None) and args.reps is not None:
        problems.append("--precision: needs --metric NAME" if args.metric is None
                        else "--metric: needs --precision P (the CI half-width to reach, as a share of the mean)")
    if args.batch is not None and args.precision is None and args.reps is not None:
        problems.append("--batch: only used with --precision")
    return problems


def _write_monthly(frame, path) -> list[str]:
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        return [f"--monthly: cannot write {path}: {exc.strerror or exc}"]
    return []


def _cmd_run(args) -> int:
    problems = _run_problems(args)
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)
    # Checked before running, so that a long run is not lost to a typo in the path.
    if args.monthly is not None and not (parent := Path(args.monthly).resolve().parent).is_dir():
        return fail([f"--monthly: folder {parent} does not exist"])
    if args.reps is not None:
        return _run_many(args, scenario)

    from sim.model import simulate
    from sim.replication import replication_seed
    from sim.report import funnel_report

    seed = args.seed if args.replication is None else replication_seed(args.seed, args.replication)
    result = simulate(scenario, seed=seed, lead_records=False)
    if args.monthly is not None and (problems := _write_monthly(result.monthly, args.monthly)):
        return fail(problems)
    if args.json:
        print(json.dumps(jsonable(result.metrics), indent=2))
    else:
        label = args.seed if args.replication is None else f"{args.seed}, replication {args.replication}"
        funnel_report(result, seed=label)
    return 0


def _run_many(args, scenario) -> int:
    from sim.backends import BackendError
    from sim.experiment import ExperimentError, run_many
    from sim.report import experiment_report, progress_bar
    from sim.store import StoreError

    show = not args.quiet and sys.stderr.isatty()
    try:
        with progress_bar(show) as progress:
            experiment = run_many(
                scenario, reps=args.reps, seed=args.seed, workers=args.workers or 1, backend=args.backend or "local",
                scheduler=args.scheduler, out=args.out, precision=args.precision, metric=args.metric,
                batch=args.batch or 20, chunk_size=args.chunk_size, trace=args.trace or 0, progress=progress)
    except ExperimentError as exc:
        return fail([f"{_option(exc.setting)}: {exc.message}"])
    except (StoreError, BackendError) as exc:
        return fail([f"{'--out: ' if isinstance(exc, StoreError) else ''}{exc}"])
    except KeyboardInterrupt:
        saved = f"; finished replications are saved in {args.out}: run the same command again to resume" \
            if args.out else ""
        print(f"interrupted{saved}", file=sys.stderr)
        return EXIT_INTERRUPTED
    for failure in experiment.failures.itertuples():
        print(f"replication {failure.replication} failed: {failure.error} (re-run it alone with "
              f"`funnel run {args.scenario} --replication {failure.replication} --seed {args.seed}`)",
              file=sys.stderr)
    if args.monthly is not None and (problems := _write_monthly(experiment.monthly, args.monthly)):
        return fail(problems)
    if args.json:
        summary = experiment.summary()
        document = {
            "experiment": {"scenario": scenario.name, "seed": args.seed, "reps": args.reps,
                           "completed": len(experiment.replications), "failed": len(experiment.failures),
                           "out": args.out},
            "summary": {name: row for name, row in summary.to_dict(orient="index").items()},
            "replications": experiment.replications.to_dict(orient="records"),
            "failures": experiment.failures.drop(columns="traceback").to_dict(orient="records"),
        }
        if experiment.precision is not None:
            document["precision"] = experiment.precision
        print(json.dumps(jsonable(document), indent=1))
    else:
        experiment_report(experiment)
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
    return fail(problems) if problems else 0


def _cmd_schema(_args) -> int:
    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def _cmd_bench(args) -> int:
    from sim.benchmark import run_benchmark

    scenario = load_scenario(args.scenario)
    figures = run_benchmark(scenario, replications=args.replications, customers=args.customers,
                            parallel_reps=args.parallel_reps)
    print(f"scenario: {args.scenario} ({args.replications} replications; {args.parallel_reps} per worker count)")
    print(f"funnel leads per second:          {figures['funnel_leads_per_second']:>12,.0f}")
    print(f"bare SimPy M/M/c customers per s: {figures['bare_simpy_customers_per_second']:>12,.0f}")
    print(f"ratio (leads / bare customers):   {figures['ratio']:>12.2f}")
    print(f"replications per s, 1 worker:     {figures['replications_per_second_1_worker']:>12.2f}")
    print(f"replications per s, 2 workers:    {figures['replications_per_second_2_workers']:>12.2f}")
    print(f"ratio (2 workers / 1):            {figures['worker_ratio']:>12.2f}")
    print(f"first start of worker processes:  {figures['first_worker_start_seconds']:>11.2f}s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``funnel`` and its subcommands."""
    parser = Parser(prog="funnel", description="Simulate a marketing and sales funnel from a scenario file.")
    parser.add_argument("--version", action="version", version=f"funnel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate one horizon (or --reps R of them) and print the results")
    run.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    run.add_argument("--seed", type=seed, default=0, help="random seed; with --reps, the root seed (default 0)")
    run.add_argument("--json", action="store_true", help="print the results as one JSON object")
    run.add_argument("--monthly", metavar="CSV", help="write the monthly series to this CSV file")
    many = run.add_argument_group("many replications")
    many.add_argument("--reps", type=positive_int, metavar="R", help="run R replications and summarise them")
    many.add_argument("--workers", type=positive_int, metavar="W", help="processes to run on (default 1)")
    many.add_argument("--backend", choices=("local", "dask"), help="local processes (default) or Dask distributed")
    many.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: an existing scheduler")
    many.add_argument("--out", metavar="DIR", help="experiment directory: results saved as they finish; "
                      "running again on it resumes")
    many.add_argument("--precision", type=positive_float, metavar="P",
                      help="stop once the 95%% CI half-width of --metric is below P times its mean")
    many.add_argument("--metric", metavar="NAME", help="the measure --precision watches (e.g. wins)")
    many.add_argument("--batch", type=int_at_least(2, "an integer of at least 2"), metavar="B",
                      help="with --precision: replications per batch (default 20)")
    many.add_argument("--chunk-size", type=positive_int, metavar="N", help="replications per task (default: "
                      "up to 10)")
    many.add_argument("--trace", type=int_at_least(0, "a non-negative integer"), metavar="N",
                      help="write per-lead records of the first N replications to DIR/trace/")
    many.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--replication", type=int_at_least(0, "a non-negative integer"), metavar="I",
                     help="run replication I of an experiment with root --seed alone (to look at one)")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check scenario files; one line per problem")
    val.add_argument("scenarios", metavar="FILE", nargs="+")
    val.set_defaults(func=_cmd_validate)

    sch = sub.add_parser("schema", help="print the scenario JSON Schema (for editors)")
    sch.set_defaults(func=_cmd_schema)

    add_split_commands(sub)

    bench = sub.add_parser("bench", help="speed: leads/s against a bare SimPy M/M/c loop; 2 workers against 1")
    bench.add_argument("--scenario", default="scenarios/b2b_saas_inbound.yaml", metavar="FILE")
    bench.add_argument("--replications", type=positive_int, default=3)
    bench.add_argument("--customers", type=positive_int, default=100_000, help="bare M/M/c customers")
    bench.add_argument("--parallel-reps", type=positive_int, default=40, metavar="N",
                       help="replications timed with 1 and with 2 workers (default 40)")
    bench.set_defaults(func=_cmd_bench)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``funnel`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        return fail([f"{exc.source}: {p}" for p in exc.problems])
    except KeyboardInterrupt:
        return fail(["interrupted"])
    except BrokenPipeError:
        # The reader went away (e.g. `funnel schema | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
