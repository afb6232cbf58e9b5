"""The ``funnel compare``, ``funnel sweep`` and ``funnel optimize`` subcommands: parse, call, write.

Every problem with the options is reported before anything runs (one line each,
exit 2), including output paths, so a long run is never lost to a typo. The command
line checks what only it knows (flags that go together, output paths, the syntax of
values); the library's own checks are asked for before running, and worded with the
flags (:mod:`sim.cli.flags`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sim.cli.flags import error_lines, flag
from sim.cli.options import (
    EXCEL_HELP,
    add_limit,
    attempt,
    directory_problems,
    excel_problems,
    fail,
    grid_problems,
    integer,
    jsonable,
    limits_of,
    number,
    pairs,
    run_with_progress,
    setting_values,
    value_list,
    warn_workers,
    write_workbook,
)
from sim.cli.over_time import add_over_time_options
from sim.errors import FunnelError
from sim.scenario import load_scenario

__all__ = ["add_split_commands"]


def _library(problems: list[str], *checks) -> None:
    """Add the problems the library's ``checks`` find (each a list of ``(parameter, message)``)."""
    found = [p for check in checks for p in check]
    if found:
        problems += error_lines(FunnelError(*found[0], problems=found))


def _grid(args, problems: list[str]) -> dict[str, list[float]]:
    """The split settings to vary and their values (read here; checked by the library)."""
    texts = {}
    if args.marketing_share is not None:
        texts["marketing_share"] = ("--marketing-share", args.marketing_share)
    if args.sdr_share is not None:
        texts["role_share.sdr"] = ("--sdr-share", args.sdr_share)
    roles = pairs(args.role_share, "--role-share", problems)
    channels = pairs(args.channel_share, "--channel-share", problems)
    texts.update({f"role_share.{r}": (f"--role-share {r}", v) for r, v in roles.items()})
    texts.update({f"channel_share.{c}": (f"--channel-share {c}", v) for c, v in channels.items()})
    grid = {setting: value_list(text, option, problems) for setting, (option, text) in texts.items()}
    given = [text.partition("=")[0].strip() for text in getattr(args, "set", None) or []]
    for path, text in pairs(getattr(args, "set", None), "--set", problems).items():
        option = f"--set {path}"
        if path in grid or given.count(path) > 1:
            problems.append(f"{option}: given {given.count(path)} times (or also by a split option); give its "
                            "values once, e.g. --set roles.sdr.fte=4,6")
            continue
        texts[path] = (option, text)
        if values := setting_values(text, option, problems):
            grid[path] = values
    if too_many := grid_problems(grid, [option for option, _ in texts.values()]):
        problems += too_many
        return {}  # not handed to the library's checks, which would build every alternative
    return grid


def _alternatives(scenario, grid: dict, budget, problems: list[str]):
    """The alternatives of a grid of split settings and --set paths, or None with its problems added."""
    from sim.decide.compare import split_alternatives_of
    from sim.decide.what_if import alternatives_of, is_split_setting

    if all(is_split_setting(name) for name in grid):
        return attempt(problems, lambda: split_alternatives_of(scenario, grid, budget))
    try:
        return alternatives_of(scenario, grid, budget=budget)
    except FunnelError as exc:
        problems += [f"--set {line}" if not is_split_setting(name) and name in grid else line
                     for (name, _), line in zip(exc.problems, error_lines(exc), strict=True)]
        return None


def _judgement(args, problems: list[str]):
    """The objective and the risk measure from the options (or None, with the problems added)."""
    from sim.decide.objectives import Objective, make_risk

    smallest = getattr(args, "smallest_budget", False)
    terminal = None
    if args.terminal_value is not None:
        text = args.terminal_value.strip().lower()
        try:
            terminal = "npv" if text == "npv" else float(text)
        except ValueError:
            problems.append(f"--terminal-value: expected a multiple of the ending ARR (e.g. 5) or npv, "
                            f"got {args.terminal_value!r}")
    objective = attempt(problems, lambda: Objective(args.objective or ("revenue" if smallest else "contribution"),
                                                    args.with_pipeline, terminal))
    if objective is None:
        objective = Objective(args.objective or ("revenue" if smallest else "contribution"), args.with_pipeline)
    if smallest:
        if args.risk not in (None, "probability"):
            problems.append("--risk: --smallest-budget always uses the probability of reaching --target")
        if args.risk_level is not None:
            problems.append("--risk-level: --smallest-budget always uses the probability of reaching --target")
        return objective, None
    return objective, attempt(problems, lambda: make_risk(args.risk or "mean", args.risk_level, args.target))


def _output_problems(args) -> list[str]:
    """Where the results go, checked before anything runs: a long run is never lost to a typo."""
    problems = excel_problems(getattr(args, "excel", None))
    for option in ("out", "plots"):
        problems += directory_problems(getattr(args, option, None), f"--{option}")
    return problems


def _running(args) -> dict:
    return {"workers": args.workers, "backend": args.backend, "scheduler": args.scheduler, "out": args.out,
            "limits": limits_of(args)}


def _run(args, work):
    """``run_with_progress(args, work)`` with the --connect-timeout in force, after the --workers warning."""
    from sim.montecarlo.backends import CONNECT_TIMEOUT, default_connect_timeout

    warn_workers(args.workers, local=args.scheduler is None)

    def timed(progress):
        with default_connect_timeout(args.connect_timeout or CONNECT_TIMEOUT):
            return work(progress)

    return run_with_progress(args, timed)


def _common_problems(args) -> list[str]:
    """Output paths, and the library's checks of the running options and of a comparison's settings."""
    from sim.decide.compare import comparison_problems
    from sim.montecarlo.backends import check_backend
    from sim.seeds import as_seed_sequence

    problems = _output_problems(args)
    reps = getattr(args, "reps", None)
    attempt(problems, lambda: as_seed_sequence(args.seed))
    limits_of(args, problems)
    if args.connect_timeout is not None and args.scheduler is None:
        problems.append("--connect-timeout: only used with --scheduler (the Dask scheduler to connect to)")
    _library(problems, check_backend(args.backend, args.workers, args.scheduler, args.connect_timeout),
             comparison_problems(reps=2 if reps is None else reps, level=args.confidence))
    return problems


def _write_outputs(args, comparison, extra: dict | None = None, currency: str = "", workbook=None) -> list[str]:
    """Write --out tables, --plots and --excel (of ``workbook``, default the comparison); return problems.

    Problems are one line each.
    """
    from sim.present.export import write_tables

    def write_plots(comparison, directory):
        from sim.present.plots import write_plots  # matplotlib, only when asked for

        write_plots(comparison, directory, currency)

    problems = []
    for option, value, write in (("--out", args.out, lambda: write_tables(comparison, args.out, extra)),
                                 ("--plots", args.plots, lambda: write_plots(comparison, args.plots))):
        if value is None:
            continue
        try:
            write()
        except OSError as exc:  # checked before the run; the disk may still fill up, or the folder change
            problems.append(f"{option}: cannot write {value}: {exc.strerror or exc}")
        except FunnelError as exc:  # the writer's own refusal names the path it was given: this option
            problems += exc.lines(lambda name, option=option: option if name == "directory" else flag(name))
    return problems + write_workbook(args, comparison if workbook is None else workbook)


def _comparison_document(comparison, **header) -> dict:
    alternatives = comparison.alternatives.reset_index()
    return {
        "comparison": {"objective": comparison.objective.label, "risk": comparison.risk.label,
                       "level": comparison.level, "best": comparison.best, "baseline": comparison.baseline,
                       "reps": comparison.reps, "paired_replications": comparison.n,
                       "dimensions": comparison.dimensions, "failed": len(comparison.failures),
                       "merged": comparison.merged, **header},
        "alternatives": alternatives.to_dict(orient="records"),
        "paired": comparison.paired.to_dict(orient="records"),
        "p_best": comparison.p_best.reset_index().rename(
            columns={"p_best_ci_low": "ci_low", "p_best_ci_high": "ci_high"}).to_dict(orient="records"),
        "measures": comparison.measures.to_dict(orient="records"),
    }


def _cmd_compare(args) -> int:
    from sim.decide.compare import Alternative, compare

    problems = _common_problems(args)
    grid = _grid(args, problems)
    objective, risk = _judgement(args, problems)
    if len(args.scenarios) > 1 and grid:
        problems.append("--marketing-share, --set and the other split options vary one scenario; "
                        "give one FILE with them, or several FILEs without them")
    split_options = any(v is not None for v in (args.marketing_share, args.sdr_share, args.role_share,
                                                args.channel_share, args.set))
    if len(args.scenarios) == 1 and not split_options:
        problems.append("compare: give two or more scenario FILEs, or one FILE and split values or settings "
                        "(e.g. --marketing-share 0.3,0.5 or --set roles.sdr.fte=6,8)")
    twice = sorted({p for p in args.scenarios if args.scenarios.count(p) > 1})
    problems += [f"FILE: {p} is given more than once (compare a file with itself by copying it)" for p in twice]
    if args.budget is not None and len(args.scenarios) > 1:
        problems.append("--budget: sets the total of a split; with several FILEs each file's own plan counts")
    scenarios = [attempt(problems, lambda path=path: load_scenario(path)) for path in args.scenarios]
    alternatives = None
    if grid and scenarios[0] is not None and len(scenarios) == 1:
        alternatives = _alternatives(scenarios[0], grid, args.budget, problems)
    elif not grid and None not in scenarios:
        stems = [Path(p).stem for p in args.scenarios]
        labels = stems if len(set(stems)) == len(stems) else list(args.scenarios)
        alternatives = [Alternative(label, sc) for label, sc in zip(labels, scenarios, strict=True)]
    if problems:
        return fail(problems)
    comparison, code = _run(args, lambda progress: compare(
        alternatives, args.reps, args.seed, objective=objective, risk=risk, baseline=args.baseline,
        level=args.confidence, progress=progress, **_running(args)))
    return code if comparison is None else _finish(args, comparison, scenarios[0].currency)


def _cmd_sweep(args) -> int:
    from sim.decide.compare import sweep

    problems = _common_problems(args)
    grid = _grid(args, problems)
    objective, risk = _judgement(args, problems)
    if not 1 <= len(grid) <= 2 and not problems:
        problems.append(f"sweep: give one or two settings to vary (e.g. --marketing-share 0:1:0.05 or "
                        f"--set roles.sdr.fte=4:10:2), got {len(grid)}")
    words = [name for name, values in grid.items()
             if any(isinstance(v, (bool, str)) for v in values)]
    problems += [f"--set {name}: a sweep varies numbers; compare other values with funnel compare FILE --set"
                 for name in words]
    scenario = attempt(problems, lambda: load_scenario(args.scenario))
    if scenario is not None and 1 <= len(grid) <= 2 and not words:
        _alternatives(scenario, grid, args.budget, problems)  # the grid's own checks
    if problems:
        return fail(problems)
    comparison, code = _run(args, lambda progress: sweep(
        scenario, grid, args.reps, args.seed, budget=args.budget, objective=objective, risk=risk,
        baseline=args.baseline or "today", level=args.confidence, progress=progress, **_running(args)))
    return code if comparison is None else _finish(args, comparison, scenario.currency)


def _finish(args, comparison, currency: str) -> int:
    from sim.present.split_report import comparison_report

    if problems := _write_outputs(args, comparison, currency=currency):
        return fail(problems)
    for f in comparison.failures.itertuples():
        print(f"{f.alternative}: replication {f.replication} failed: {f.error}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable(_comparison_document(comparison, seed=args.seed)), indent=1))
    else:
        comparison_report(comparison, currency=currency)
    return 0


def _fte_limits(values, option: str, problems: list[str]) -> dict[str, int]:
    out = {}
    for role, text in pairs(values, option, problems).items():
        try:
            out[role] = int(text)
        except ValueError:
            problems.append(f"{option}: {role}: expected a whole number of FTE, got {text!r}")
    return out


def _low_high(text: str, option: str, problems: list[str], what: str) -> tuple[float, float] | None:
    parts = text.split(":")
    try:
        low, high = (float(x.replace(",", "").replace("_", "")) for x in parts)
    except ValueError:
        problems.append(f"{option}: expected LOW:HIGH such as {what}, got {text!r}")
        return None
    return low, high


def _bounds(values, problems: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for setting, text in pairs(values, "--bounds", problems).items():
        pair = _low_high(text, f"--bounds: {setting}", problems, "0.2:0.6")
        if pair is not None:
            out[setting] = pair
    return out


OPTIMIZE_DEFAULTS = {"delta": None, "candidates": 6, "initial_reps": 10, "batch": 10, "max_reps": 200,
                     "fresh_reps": None, "channel_step": 0.05}


def _cmd_optimize(args) -> int:
    from sim.cli.over_time import cmd_over_time, over_time_flag_problems
    from sim.decide.optimize import budget_search_problems, optimize, race_problems, smallest_budget

    if args.over_time:
        return cmd_over_time(args, common_problems=_common_problems, judgement=_judgement, running=_running,
                             run=_run, write_outputs=_write_outputs, comparison_document=_comparison_document)
    problems = _common_problems(args) + over_time_flag_problems(args)
    objective, risk = _judgement(args, problems)
    fixed = [name.strip() for text in args.fixed or [] for name in text.split(",") if name.strip()]
    min_fte = _fte_limits(args.min_fte, "--min-fte", problems)
    max_fte = _fte_limits(args.max_fte, "--max-fte", problems)
    bounds = _bounds(args.bounds, problems)
    budget_range = _low_high(args.budget_range, "--budget-range", problems, "1000000:5000000") \
        if args.budget_range is not None else None
    if args.fresh_reps is None:
        args.fresh_reps = 60 if args.smallest_budget else 20
    race = dict(contenders=args.candidates, initial_reps=args.initial_reps, race_batch=args.batch,
                max_reps=args.max_reps, fresh_reps=args.fresh_reps, delta=args.delta)
    _library(problems, race_problems(**race, level=args.confidence, channel_step=args.channel_step))
    if args.smallest_budget:
        if args.plots is not None:
            problems.append("--plots: not available with --smallest-budget; --out DIR and --excel keep its tables")
        for option in ("candidates", "initial_reps", "batch", "max_reps", "delta"):
            if getattr(args, option) != OPTIMIZE_DEFAULTS[option]:
                problems.append(f"--{option.replace('_', '-')}: not used with --smallest-budget (it compares two "
                                "splits per budget on --fresh-reps replications)")
        if args.target is None:
            problems.append("--smallest-budget: needs --target (e.g. the revenue to reach)")
        if args.probability is None:
            problems.append("--smallest-budget: needs --probability (e.g. 0.8)")
        else:
            _library(problems, budget_search_problems(probability=args.probability, budget_range=budget_range))
        if args.budget is not None:
            problems.append("--budget: --smallest-budget searches the budget; use --budget-range LOW:HIGH")
    else:
        for option in ("probability", "budget_range"):
            if getattr(args, option) is not None:
                problems.append(f"--{option.replace('_', '-')}: only used with --smallest-budget")
    scenario = attempt(problems, lambda: load_scenario(args.scenario))
    if scenario is not None and not args.smallest_budget:
        from sim.decide.search_space import search_space

        attempt(problems, lambda: search_space(scenario, budget=args.budget, fixed=fixed, min_fte=min_fte,
                                                max_fte=max_fte, bounds=bounds))  # the limits' own checks
    if problems:
        return fail(problems)
    search = dict(fixed=fixed, min_fte=min_fte, max_fte=max_fte, bounds=bounds, level=args.confidence,
                  channel_step=args.channel_step)
    if args.smallest_budget:
        result, code = _run(args, lambda progress: smallest_budget(
            scenario, target=args.target, probability=args.probability, objective=objective,
            budget_range=budget_range, seed=args.seed, reps=args.fresh_reps, progress=progress, **_running(args),
            **search))
    else:
        result, code = _run(args, lambda progress: optimize(
            scenario, objective=objective, risk=risk, budget=args.budget, seed=args.seed, progress=progress,
            **_running(args), **search, **race))
    if result is None:
        return code
    import pandas as pd

    from sim.present.records import budget_search_record, diagnostics_record

    allocation, diagnostics = result
    if args.smallest_budget:
        from sim.present.split_report import budget_search_report

        summary = budget_search_record(diagnostics)
        if args.out is not None:
            from sim.present.export import write_csv

            try:
                for name, table in (("allocation", pd.DataFrame([allocation])), ("budgets", diagnostics.tried),
                                    ("budget_search", pd.DataFrame([summary]))):
                    write_csv(table, Path(args.out) / f"{name}.csv")
            except OSError as exc:
                return fail([f"--out: cannot write the results: {exc}"])
        if problems := write_workbook(args, (allocation, diagnostics), scenario=scenario):
            return fail(problems)
        if args.json:
            print(json.dumps(jsonable({"allocation": allocation, "budget_search": summary,
                                       "budgets": diagnostics.tried.to_dict(orient="records")}), indent=1))
        else:
            budget_search_report(allocation, diagnostics, currency=scenario.currency)
        return 0
    summary = {k: v for k, v in diagnostics_record(diagnostics).items() if k != "statements"}  # a table has no lists
    extra = {"allocation": pd.DataFrame([allocation]), "search": diagnostics.history,
             "diagnostics": pd.DataFrame([summary]),
             "guarantee": pd.DataFrame({"checked": diagnostics.guarantee.statements})}
    if problems := _write_outputs(args, diagnostics.comparison, extra, currency=scenario.currency,
                                  workbook=(allocation, diagnostics)):
        return fail(problems)
    if args.json:
        document = {"allocation": allocation, "diagnostics": diagnostics_record(diagnostics),
                    **_comparison_document(diagnostics.comparison, seed=args.seed)}
        print(json.dumps(jsonable(document), indent=1))
    else:
        from sim.present.split_report import optimization_report

        optimization_report(allocation, diagnostics, currency=scenario.currency)
    return 0


def _common(p, reps_default: int | None) -> None:
    from sim.decide.objectives import OBJECTIVES, RISKS

    if reps_default is not None:
        p.add_argument("--reps", type=integer, default=reps_default, metavar="R",
                       help=f"replications per alternative, the same seeds for each (default {reps_default})")
    p.add_argument("--seed", type=integer, default=0, help="the root seed (default 0)")
    p.add_argument("--objective", choices=list(OBJECTIVES), help="what a replication is judged by "
                   "(default contribution)")
    p.add_argument("--with-pipeline", action="store_true",
                   help="count the open pipeline's win-weighted value at the horizon in the objective")
    p.add_argument("--terminal-value", metavar="K|npv",
                   help="count the customers kept after the horizon: K times the ending ARR, or npv (the NPV of "
                        "their margin after the horizon)")
    p.add_argument("--risk", choices=list(RISKS), help="mean (default), var or cvar (with --risk-level), "
                   "or probability (of reaching --target)")
    p.add_argument("--risk-level", type=number, metavar="Q", help="the worst share for var and cvar (e.g. 0.1)")
    p.add_argument("--target", type=number, metavar="X", help="the objective's value to reach")
    p.add_argument("--confidence", type=number, default=0.95, metavar="L", help="CI level (default 0.95)")
    p.add_argument("--budget", type=number, metavar="TOTAL", help="the budget for the horizon (default: today's)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--out", metavar="DIR", help="write CSV and Parquet tables (and the replications, so that "
                   "running again resumes)")
    p.add_argument("--excel", metavar="FILE.xlsx", help=EXCEL_HELP)
    p.add_argument("--plots", metavar="DIR", help="write PNG plots")
    p.add_argument("--workers", type=integer, default=1, metavar="W", help="processes to run on (default 1)")
    p.add_argument("--backend", choices=("local", "dask"), default="local", help="local processes or Dask")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: an existing scheduler")
    p.add_argument("--connect-timeout", type=number, metavar="SECONDS",
                   help="with --scheduler: how long to wait for it to answer (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_limit(p)


def _split_values(p, ranges: bool) -> None:
    how = "values such as 0:1:0.05 (start:stop:step) or 0.3,0.5" if ranges else "values such as 0.3,0.5,0.7"
    p.add_argument("--marketing-share", metavar="VALUES", help=f"marketing share of the budget: {how}")
    p.add_argument("--sdr-share", metavar="VALUES", help="SDRs' share of the salaries (the other roles "
                   "share the rest as today)")
    p.add_argument("--role-share", action="append", metavar="ROLE=VALUES", help="a role's share of the salaries")
    p.add_argument("--channel-share", action="append", metavar="CHANNEL=VALUES",
                   help="a channel's share of the marketing spend (the others share the rest as today)")
    p.add_argument("--set", action="append", metavar="PATH=VALUES",
                   help="any setting, by its path in `funnel schema` (repeatable): roles.sdr.fte=4,6,8, "
                        "qualification.decay.half_life_hours=1:8:1, qualification.discipline=fifo,lifo")
    p.add_argument("--baseline", metavar="LABEL", help="the alternative differences are also reported against "
                   "(default: today, or the first FILE)")


def add_split_commands(sub) -> None:
    """Add ``compare``, ``sweep`` and ``optimize`` to the ``funnel`` subparsers ``sub``."""
    cmp = sub.add_parser("compare", help="compare budget splits (or scenario files) with common random numbers")
    cmp.add_argument("scenarios", metavar="FILE", nargs="+", help="one scenario with split values, or several")
    _split_values(cmp, ranges=False)
    _common(cmp, 100)
    cmp.set_defaults(func=_cmd_compare)

    swp = sub.add_parser("sweep", help="a grid over one or two split settings, with the best point marked")
    swp.add_argument("scenario", metavar="FILE")
    _split_values(swp, ranges=True)
    _common(swp, 50)
    swp.set_defaults(func=_cmd_sweep)

    opt = sub.add_parser("optimize", help="the best split of the budget (or the smallest budget reaching a target)")
    opt.add_argument("scenario", metavar="FILE")
    _common(opt, None)
    opt.add_argument("--fixed", action="append", metavar="NAMES", help="roles that keep today's headcount and "
                     "channels that keep today's spend (comma-separated, repeatable)")
    opt.add_argument("--min-fte", action="append", metavar="ROLE=N", help="the least whole FTE of a role")
    opt.add_argument("--max-fte", action="append", metavar="ROLE=N", help="the most whole FTE of a role")
    opt.add_argument("--bounds", action="append", metavar="SETTING=LOW:HIGH",
                     help="marketing_share=0.2:0.6 or channel_share.<channel>=0:0.5")
    d = OPTIMIZE_DEFAULTS
    opt.add_argument("--delta", type=number, default=d["delta"], metavar="X",
                     help="the difference that matters, in the objective's unit (default: 1%% of today's split's "
                          "approximate objective, at least 0.5%% of the budget; 0.05 for --risk probability)")
    opt.add_argument("--candidates", type=integer, default=d["candidates"], metavar="N",
                     help=f"splits the selection compares on the simulation (default {d['candidates']})")
    opt.add_argument("--initial-reps", type=integer, default=d["initial_reps"], metavar="N",
                     help=f"first-stage replications per split (default {d['initial_reps']})")
    opt.add_argument("--batch", type=integer, default=d["batch"], metavar="N",
                     help=f"replications added at once while selecting (default {d['batch']})")
    opt.add_argument("--max-reps", type=integer, default=d["max_reps"], metavar="N",
                     help=f"replications per split at most; reaching it voids the guarantee (default {d['max_reps']})")
    opt.add_argument("--fresh-reps", type=integer, default=d["fresh_reps"], metavar="N",
                     help="fresh replications for the reported estimate; with --smallest-budget, replications per "
                          "split and budget (default 20; 60 with --smallest-budget)")
    opt.add_argument("--channel-step", type=number, default=d["channel_step"], metavar="SHARE",
                     help="the finest move of marketing budget between two channels (default 0.05)")
    opt.add_argument("--smallest-budget", action="store_true",
                     help="inverse mode: the smallest budget reaching --target with --probability")
    opt.add_argument("--probability", type=number, metavar="Q", help="with --smallest-budget: e.g. 0.8")
    opt.add_argument("--budget-range", metavar="LOW:HIGH", help="with --smallest-budget: where to search "
                     "(default 0 to twice today's budget)")
    add_over_time_options(opt)
    opt.set_defaults(func=_cmd_optimize)
