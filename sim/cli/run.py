"""The ``funnel run``, ``funnel validate``, ``funnel schema`` and ``funnel bench`` subcommands: parse, call, write."""

from __future__ import annotations

import json
import sys

from sim.cli.flags import error_lines
from sim.cli.options import (
    EXCEL_HELP,
    EXIT_FAILED,
    add_limit,
    attempt,
    directory_problems,
    excel_problems,
    fail,
    file_problems,
    integer,
    jsonable,
    limits_of,
    number,
    run_with_progress,
    size_lines,
    warn_workers,
    write_workbook,
)
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["add_run_commands"]

# Options that only mean something for many replications.
_MANY_OPTIONS = ("workers", "backend", "scheduler", "connect_timeout", "out", "precision", "metric", "batch",
                 "chunk_size", "trace")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _run_problems(args) -> list[str]:
    """Every combination of ``run`` options the command line cannot take, one line each."""
    given = [name for name in _MANY_OPTIONS if getattr(args, name) is not None]
    problems = []
    if args.fast:
        problems += [f"{_option(name)}: not with --fast (a deterministic approximation runs no replications)"
                     for name in ("reps", "replication", *_MANY_OPTIONS) if getattr(args, name) is not None]
        given = []
    elif args.replication is not None:
        problems += [f"--replication: runs one replication alone; drop {_option(name)}"
                     for name in ("reps", *given) if getattr(args, name) is not None]
    elif args.reps is None:
        problems += [f"{_option(name)}: needs --reps R (many replications)" for name in given]
    if args.trace is not None and args.out is None and not args.fast:
        problems.append("--trace: needs --out DIR to write the lead records to")
    if args.batch is not None and args.precision is None and args.reps is not None and not args.fast:
        problems.append("--batch: only used with --precision")
    if args.connect_timeout is not None and args.scheduler is None and args.reps is not None and not args.fast:
        problems.append("--connect-timeout: only used with --scheduler (the Dask scheduler to connect to)")
    # Where the results go, checked before anything runs: a long run is never lost to a typo.
    problems += file_problems(args.monthly, "--monthly")
    if args.plots is not None and args.fast:
        problems.append("--plots: not with --fast (the approximation has no replications to draw the spread of)")
    else:
        problems += directory_problems(args.plots, "--plots")
    if args.excel is not None and args.fast:
        problems.append("--excel: not with --fast (the approximation's expected values are a quick check, not "
                        "results to hand on: simulate, with --reps R for intervals)")
    else:
        problems += excel_problems(args.excel)
    if args.reps is not None and args.replication is None and not args.fast:
        problems += directory_problems(args.out, "--out", experiment=True)
    # The library's own checks, before anything runs.
    from sim.montecarlo.replication import replication_seed
    from sim.seeds import as_seed_sequence

    seed_ok = attempt(problems, lambda: as_seed_sequence(args.seed)) is not None
    limits_of(args, problems)
    if args.fast:
        return problems
    if args.replication is not None:  # its index on its own (a bad seed is reported once, above)
        attempt(problems, lambda: replication_seed(args.seed if seed_ok else 0, args.replication))
    elif args.reps is not None:
        from sim.montecarlo.backends import connect_timeout_problems
        from sim.montecarlo.experiment import ExperimentError, check_settings

        found = check_settings(**_settings(args)) + connect_timeout_problems(args.connect_timeout)
        if found:
            problems += error_lines(ExperimentError(*found[0], problems=found))
    return problems


def _settings(args) -> dict:
    def given(value, default):
        return default if value is None else value  # a 0 given is the library's to refuse, not a default

    return {"reps": args.reps, "workers": given(args.workers, 1), "backend": given(args.backend, "local"),
            "scheduler": args.scheduler, "precision": args.precision, "metric": args.metric,
            "precision_batch": given(args.batch, 20), "chunk_size": args.chunk_size, "trace": given(args.trace, 0)}


def _write_monthly(frame, path) -> list[str]:
    try:
        frame.to_csv(path, index=False)
    except OSError as exc:
        return [f"--monthly: cannot write {path}: {exc.strerror or exc}"]
    return []


def _write_plots(scenario, replications, monthly, folder) -> list[str]:
    from sim.present.run_plots import write_run_plots  # matplotlib, only when asked for

    try:
        write_run_plots(scenario, replications, monthly, folder)
    except OSError as exc:  # checked before the run; the disk may still fill up
        return [f"--plots: cannot write {folder}: {exc.strerror or exc}"]
    return []


def _cmd_run(args) -> int:
    problems = _run_problems(args)
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)
    # Too big to run is said before anything starts (the library would refuse it too, later).
    if problems := size_lines(scenario, limits_of(args)):
        return fail(problems)
    if args.fast:
        return _run_fast(args, scenario)
    if args.reps is not None:
        return _run_many(args, scenario)

    from sim.model import simulate
    from sim.montecarlo.replication import replication_seed
    from sim.present.report import funnel_report

    seed = args.seed if args.replication is None else replication_seed(args.seed, args.replication)
    result = simulate(scenario, seed=seed, lead_records=False, limits=limits_of(args))
    if args.monthly is not None and (problems := _write_monthly(result.monthly, args.monthly)):
        return fail(problems)
    if args.plots is not None:
        import pandas as pd

        from sim.montecarlo.replication import flatten_metrics

        one = pd.DataFrame([flatten_metrics(result.metrics)])
        if problems := _write_plots(scenario, one, result.monthly.assign(replication=0), args.plots):
            return fail(problems)
    about = {"Seed": args.seed} if args.replication is None else {
        "Root seed": args.seed, "Replication": args.replication}
    if problems := write_workbook(args, result, about=about):
        return fail(problems)
    if args.json:
        print(json.dumps(jsonable(result.metrics), indent=2))
    else:
        label = args.seed if args.replication is None else f"{args.seed}, replication {args.replication}"
        funnel_report(result, seed=label)
    return 0


# What the fast approximation's report shows: (label, measure, decimals).
_FAST_ROWS = [("leads", "leads", 0), ("MQLs", "mqls", 0), ("contacted", "contacted", 0), ("SQLs", "sqls", 0),
              ("opportunities", "opportunities", 0), ("won", "wins", 0),
              ("qualifier utilisation", "qualifier_utilisation", 3),
              ("bookings", "bookings", 0), ("revenue", "revenue", 0), ("ending ARR", "ending_arr", 0),
              ("total cost", "cost.total", 0), ("contribution", "contribution", 0),
              ("NPV of contribution", "npv_contribution", 0),
              ("open pipeline, expected wins", "open_pipeline_expected_wins", 1),
              ("open pipeline, win-weighted value", "open_pipeline_weighted_value", 0),
              ("budget unspent", "budget_unspent", 0)]


def _run_fast(args, scenario) -> int:
    from sim.model.fluid import ERROR_NOTE, approximate, approximate_monthly

    measures = approximate(scenario, limits=limits_of(args))
    if args.monthly is not None and (problems := _write_monthly(approximate_monthly(scenario, limits_of(args)),
                                                                args.monthly)):
        return fail(problems)
    if args.json:
        print(json.dumps(jsonable(measures), indent=2))
        return 0
    print(f"{scenario.name}: {scenario.horizon_months} months, deterministic approximation (--fast), "
          "not a simulation: expected values, no seed")
    print(ERROR_NOTE)
    rows = [(label, measures[key], digits) for label, key, digits in _FAST_ROWS if key in measures]
    width = max(len(label) for label, _, _ in rows)
    for label, value, digits in rows:
        print(f"  {label:<{width}}  {value:>16,.{digits}f}")
    return 0


def _run_many(args, scenario) -> int:
    from sim.model import replicate
    from sim.montecarlo.backends import CONNECT_TIMEOUT, default_connect_timeout
    from sim.montecarlo.experiment import run_many
    from sim.present.report import experiment_report

    settings = _settings(args)
    warn_workers(settings["workers"], local=args.scheduler is None)

    def work(progress):
        with default_connect_timeout(args.connect_timeout or CONNECT_TIMEOUT):
            return run_many(scenario, seed=args.seed, model=replicate, out=args.out, progress=progress, **settings)

    experiment, code = run_with_progress(args, work)
    if experiment is None:
        return code
    for failure in experiment.failures.itertuples():
        print(f"replication {failure.replication} failed: {failure.error} (re-run it alone with "
              f"`funnel run {args.scenario} --replication {failure.replication} --seed {args.seed}`)",
              file=sys.stderr)
    if args.monthly is not None and (problems := _write_monthly(experiment.monthly, args.monthly)):
        return fail(problems)
    if args.plots is not None and not experiment.all_failed and (
            problems := _write_plots(scenario, experiment.replications, experiment.monthly, args.plots)):
        return fail(problems)
    if args.excel is not None and not experiment.all_failed and (problems := write_workbook(args, experiment)):
        return fail(problems)
    shares = _parameter_shares(args, scenario, experiment, settings)
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
        if shares is not None:
            document["parameter_uncertainty"] = {"uncertain": sorted(scenario.uncertain),
                                                 **shares.to_dict(orient="index")}
        print(json.dumps(jsonable(document), indent=1))
    else:
        experiment_report(experiment)
        if shares is not None:
            _print_shares(scenario, shares)
    if experiment.all_failed:
        listed = f"in {args.out}/chunks/*/failures.json, " if args.out is not None else ""
        listed += "in the JSON's \"failures\"" if args.json else "above"
        print(f"all {len(experiment.failures)} replications failed: no result (each failure is listed {listed})",
              file=sys.stderr)
        if args.excel is not None:
            print(f"--excel: {args.excel} not written: no replication finished", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _parameter_shares(args, scenario, experiment, settings):
    """With uncertain settings: the same replications at the point values, for the simulation-only intervals."""
    if not scenario.uncertain or experiment.replications.empty:
        return None
    from sim.decide.uncertainty import parameter_uncertainty

    reps = int(experiment.replications["replication"].max()) + 1
    options = {k: v for k, v in settings.items() if k in ("workers", "backend", "scheduler", "chunk_size")}
    return parameter_uncertainty(scenario, reps=reps, seed=args.seed, full=experiment.replications, **options)


def _print_shares(scenario, shares) -> None:
    names = ", ".join(sorted(scenario.uncertain))
    print()
    print(f"Predictive 80% intervals (p10 to p90 of the replications) include parameter uncertainty: each "
          f"replication ran its own draw of {len(scenario.uncertain)} uncertain setting(s) ({names}). "
          f"Simulation only: the same replications at the point values.")
    print(f"{'measure':<14}{'with parameters':>28}{'simulation only':>28}{'share from parameters':>24}")
    for name, row in shares.iterrows():
        print(f"{name:<14}{row.p10:>13,.1f} to {row.p90:>10,.1f}{row.sim_p10:>13,.1f} to {row.sim_p90:>10,.1f}"
              f"{row.parameter_share:>23.0%}")
    print("share from parameters: 1 - variance (simulation only) / variance (with parameters), floored at 0")


def _cmd_validate(args) -> int:
    from sim.model.size import SizeError, check_size

    problems = []
    limits = limits_of(args, problems)
    if problems:
        return fail(problems)
    for path in args.scenarios:
        try:
            scenario = load_scenario(path)
            size = check_size(scenario, limits)  # the estimate once: refused, or printed
        except ScenarioError as exc:
            problems += error_lines(exc)
        except SizeError as exc:
            problems += [f"{path}: {line}" for line in error_lines(exc)]
        else:
            print(f"{path}: ok; {_size_note(size)}")
    return fail(problems) if problems else 0


def _size_note(size) -> str:
    """What one replication needs, as `validate` says it (the counts, then the rough memory and time)."""
    seconds = f"{size.seconds:.2g} s" if size.seconds < 120 else f"{size.seconds / 60:,.0f} minutes"
    return (f"one replication: about {size.leads:,.0f} leads expected ({size.draws:,.0f} drawn at most), "
            f"{size.tenures:,.0f} reps in {size.seats:,.0f} seats, {size.ae_slots:,.0f} AE deal slots, "
            f"{size.customers:,.0f} starting customers; roughly {size.memory_bytes / 1e6:,.0f} MB and {seconds} "
            "(estimated)")


def _cmd_schema(_args) -> int:
    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def _cmd_bench(args) -> int:
    problems = [f"--{name.replace('_', '-')}: expected a positive number, got {getattr(args, name)}"
                for name in ("replications", "customers", "parallel_reps", "scale", "check_reps")
                if getattr(args, name) is not None and getattr(args, name) <= 0]
    if args.scale is not None and args.optimize:
        problems.append("--optimize: cannot be combined with --scale (two different measurements)")
    if args.check_reps is not None and not args.optimize:
        problems.append("--check-reps: only used with --optimize")
    elif args.check_reps is not None and args.check_reps == 1:
        problems.append("--check-reps: expected at least 2 (pairs to compare), got 1")
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)
    if args.optimize:
        from sim.decide.benchmark import optimize_figures

        figures = optimize_figures(scenario, workers=2, seed=7, check_reps=args.check_reps)
        print(f"scenario: {args.scenario}; funnel optimize with its defaults, --workers 2 --seed 7")
        print(f"seconds:                          {figures['seconds']:>12.1f}")
        print(f"replications (selecting + fresh): {figures['replications']:>12,} "
              f"({figures['selection_replications']:,} + {figures['fresh_replications']:,})")
        print(f"answer: {figures['answer']}")
        low_high = figures["vs_today"]
        print(f"against today's split: {low_high[0]:,.0f} [{low_high[1]:,.0f}, {low_high[2]:,.0f}]")
        for line in figures["statements"]:
            print(f"  - {line}")
        if args.check_reps:
            d = figures["check_best_difference"]
            print(f"grid check: {figures['check_splits']} splits around the answer, {args.check_reps} new "
                  f"replications each ({figures['check_seconds']:.0f} s); best of them against the answer: "
                  f"{figures['check_best']}: {d[0]:,.0f} [{d[1]:,.0f}, {d[2]:,.0f}]")
            beaten = figures["check_beaten"]
            print("beaten by more than delta " + (f"({figures['delta']:,.0f}): " + ", ".join(beaten) if beaten else
                                                 f"({figures['delta']:,.0f}): by none of them"))
        return 0
    if args.scale is not None:
        from sim.model.benchmark import scaled_replication

        figures = scaled_replication(scenario, args.scale, seed=1)
        print(f"scenario: {args.scenario} scaled {args.scale:g} times (spend, leads, team, customers), seed 1, "
              "one replication in a fresh process")
        print(f"leads:                            {figures['leads']:>12,}")
        print(f"seconds:                          {figures['seconds']:>12.1f}")
        print(f"peak memory (MB):                 {figures['peak_memory_mb']:>12.0f}")
        return 0

    from sim.model import replicate
    from sim.model.benchmark import bare_mmc_customers_per_second, funnel_leads_per_second
    from sim.model.simulation import simulate
    from sim.montecarlo.benchmark import worker_figures

    simulate(scenario, seed=12345)  # warm caches and imports before timing
    leads_s = funnel_leads_per_second(scenario, args.replications)
    bare_s = bare_mmc_customers_per_second(int(args.customers))
    workers = worker_figures(scenario, replicate, int(args.parallel_reps))
    print(f"scenario: {args.scenario} ({args.replications} replications; {args.parallel_reps} per worker count)")
    print(f"funnel leads per second:          {leads_s:>12,.0f}")
    print(f"bare SimPy M/M/c customers per s: {bare_s:>12,.0f}")
    print(f"ratio (leads / bare customers):   {leads_s / bare_s:>12.2f}")
    print(f"replications per s, 1 worker:     {workers['replications_per_second_1_worker']:>12.2f}")
    print(f"replications per s, 2 workers:    {workers['replications_per_second_2_workers']:>12.2f}")
    print(f"ratio (2 workers / 1):            {workers['worker_ratio']:>12.2f}")
    print(f"first start of worker processes:  {workers['first_worker_start_seconds']:>11.2f}s")
    return 0


def add_run_commands(sub) -> None:
    """Add ``run``, ``validate``, ``schema`` and ``bench`` to the ``funnel`` subparsers ``sub``."""
    run = sub.add_parser("run", help="simulate one horizon (or --reps R of them) and print the results")
    run.add_argument("scenario", metavar="FILE", help="scenario YAML file")
    run.add_argument("--seed", type=integer, default=0, help="random seed; with --reps, the root seed (default 0)")
    run.add_argument("--json", action="store_true", help="print the results as one JSON object")
    run.add_argument("--monthly", metavar="CSV", help="write the monthly series to this CSV file")
    run.add_argument("--plots", metavar="DIR", help="write PNG plots: the funnel over time (fan charts), the cash, "
                     "where the leads and the money went")
    run.add_argument("--excel", metavar="FILE.xlsx", help=EXCEL_HELP)
    run.add_argument("--fast", action="store_true", help="print a deterministic approximation of the expected "
                     "measures instead of simulating (milliseconds; see docs/model.md, section 11)")
    many = run.add_argument_group("many replications")
    many.add_argument("--reps", type=integer, metavar="R", help="run R replications and summarise them")
    many.add_argument("--workers", type=integer, metavar="W", help="processes to run on (default 1)")
    many.add_argument("--backend", choices=("local", "dask"), help="local processes (default) or Dask distributed")
    many.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: an existing scheduler")
    many.add_argument("--connect-timeout", type=number, metavar="SECONDS",
                      help="with --scheduler: how long to wait for it to answer (default 10)")
    many.add_argument("--out", metavar="DIR", help="experiment directory: results saved as they finish; "
                      "running again on it resumes")
    many.add_argument("--precision", type=number, metavar="P",
                      help="stop once the 95%% CI half-width of --metric is below P times its mean")
    many.add_argument("--metric", metavar="NAME", help="the measure --precision watches (e.g. wins)")
    many.add_argument("--batch", type=integer, metavar="B", help="with --precision: replications per batch "
                      "(default 20)")
    many.add_argument("--chunk-size", type=integer, metavar="N", help="replications per task (default: up to 10)")
    many.add_argument("--trace", type=integer, metavar="N",
                      help="write per-lead records of the first N replications to DIR/trace/")
    many.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--replication", type=integer, metavar="I",
                     help="run replication I of an experiment with root --seed alone (to look at one)")
    add_limit(run)
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check scenario files; one line per problem")
    val.add_argument("scenarios", metavar="FILE", nargs="+")
    add_limit(val)
    val.set_defaults(func=_cmd_validate)

    sch = sub.add_parser("schema", help="print the scenario JSON Schema (for editors)")
    sch.set_defaults(func=_cmd_schema)

    bench = sub.add_parser("bench", help="speed: leads/s against a bare SimPy M/M/c loop; 2 workers against 1; "
                                         "or, with --scale, one big replication's memory")
    bench.add_argument("--scenario", default="scenarios/b2b_saas_inbound.yaml", metavar="FILE")
    bench.add_argument("--replications", type=integer, default=3)
    bench.add_argument("--customers", type=integer, default=100_000, help="bare M/M/c customers")
    bench.add_argument("--parallel-reps", type=integer, default=40, metavar="N",
                       help="replications timed with 1 and with 2 workers (default 40)")
    bench.add_argument("--scale", type=number, metavar="K",
                       help="instead: one replication of the scenario K times the size (spend, leads, team, "
                            "customers) in a fresh process: leads, seconds, peak memory")
    bench.add_argument("--optimize", action="store_true",
                       help="instead: time funnel optimize on the scenario with its defaults on 2 workers")
    bench.add_argument("--check-reps", type=integer, metavar="N",
                       help="with --optimize: also compare the answer with the splits around it, N replications each")
    bench.set_defaults(func=_cmd_bench)
