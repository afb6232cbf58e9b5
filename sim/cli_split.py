"""The ``funnel compare``, ``funnel sweep`` and ``funnel optimize`` subcommands: parse, call, write.

Every problem with the options is reported before anything runs (one line each,
exit 2), including output paths, so a long run is never lost to a typo.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from sim.cli_options import EXIT_INTERRUPTED, fail, float_where, int_at_least, jsonable, positive_int, seed
from sim.config import load_scenario
from sim.objectives import OBJECTIVES, RISKS, Objective, make_risk

__all__ = ["add_split_commands"]


_share = float_where(lambda v: 0 < v < 1, "a number between 0 and 1")
_money = float_where(lambda v: v > 0, "a positive amount such as 2500000 or 2.5e6")
_number = float_where(lambda v: True, "a finite number")


def _pairs(values, option: str) -> tuple[dict[str, str], list[str]]:
    """``NAME=VALUE`` strings (repeatable option) to a mapping, and the problems."""
    out, problems = {}, []
    for text in values or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            problems.append(f"{option}: expected NAME=VALUE, got {text!r}")
        else:
            out[name.strip()] = value.strip()
    return out, problems


def _grid(args, problems: list[str]) -> dict[str, list[float]]:
    from sim.split import SplitError, grid_values

    texts = {}
    if args.marketing_share is not None:
        texts["marketing_share"] = ("--marketing-share", args.marketing_share)
    if args.sdr_share is not None:
        texts["role_share.sdr"] = ("--sdr-share", args.sdr_share)
    roles, bad = _pairs(args.role_share, "--role-share")
    channels, bad2 = _pairs(args.channel_share, "--channel-share")
    problems += bad + bad2
    texts.update({f"role_share.{r}": (f"--role-share {r}", v) for r, v in roles.items()})
    texts.update({f"channel_share.{c}": (f"--channel-share {c}", v) for c, v in channels.items()})
    grid = {}
    for setting, (option, text) in texts.items():
        try:
            grid[setting] = grid_values(text, option)
        except SplitError as exc:
            problems.append(f"{exc.setting}: {exc.message}")
    return grid


def _judgement(args, problems: list[str]):
    """The objective and the risk measure from the options."""
    objective = Objective(args.objective or ("revenue" if getattr(args, "smallest_budget", False) else
                                             "contribution"), args.with_pipeline)
    risk = None
    if getattr(args, "smallest_budget", False):
        if args.risk not in (None, "probability"):
            problems.append("--risk: --smallest-budget always uses the probability of reaching --target")
        return objective, None
    name = args.risk or "mean"
    before = len(problems)
    if name in ("var", "cvar") and args.risk_level is None:
        problems.append(f"--risk {name}: needs --risk-level (e.g. 0.1 for the worst 10%)")
    if name == "probability" and args.target is None:
        problems.append("--risk probability: needs --target (the objective's value to reach)")
    if args.risk_level is not None and name not in ("var", "cvar"):
        problems.append("--risk-level: only used with --risk var or --risk cvar")
    if args.target is not None and name != "probability":
        problems.append("--target: only used when the risk is probability, or with --smallest-budget")
    if len(problems) == before:
        risk = make_risk(name, args.risk_level, args.target)
    return objective, risk


def _output_problems(args) -> list[str]:
    problems = []
    excel = getattr(args, "excel", None)
    if excel is not None:
        path = Path(excel)
        if path.suffix.lower() != ".xlsx":
            problems.append(f"--excel: expected a file name ending in .xlsx, got {excel!r}")
        elif not path.resolve().parent.is_dir():
            problems.append(f"--excel: folder {path.resolve().parent} does not exist")
    for option in ("out", "plots"):
        value = getattr(args, option, None)
        if value is not None and Path(value).exists() and not Path(value).is_dir():
            problems.append(f"--{option}: {value} exists and is not a directory")
    if args.scheduler is not None and args.backend != "dask":
        problems.append("--scheduler: only the dask backend has a scheduler (add --backend dask)")
    return problems


def _write_outputs(args, comparison, extra: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """Write --out tables, --excel and --plots; return problems (one line each)."""
    from sim.export import write_excel, write_tables

    problems = []
    try:
        if args.out is not None:
            write_tables(comparison, args.out, extra)
        if args.excel is not None:
            write_excel(comparison, args.excel, extra)
        if args.plots is not None:
            from sim.plots import write_plots

            write_plots(comparison, args.plots)
    except OSError as exc:
        problems.append(f"cannot write the results: {exc}")
    return problems


def _comparison_document(comparison, **header) -> dict:
    alternatives = comparison.alternatives.reset_index()
    return {
        "comparison": {"objective": comparison.objective.label, "risk": comparison.risk.label,
                       "level": comparison.level, "best": comparison.best, "baseline": comparison.baseline,
                       "reps": comparison.reps, "paired_replications": comparison.n,
                       "dimensions": comparison.dimensions, "failed": len(comparison.failures), **header},
        "alternatives": alternatives.to_dict(orient="records"),
        "paired": comparison.paired.to_dict(orient="records"),
        "p_best": comparison.p_best.reset_index().rename(
            columns={"p_best_ci_low": "ci_low", "p_best_ci_high": "ci_high"}).to_dict(orient="records"),
        "measures": comparison.measures.to_dict(orient="records"),
    }


def _running(args) -> dict:
    return {"workers": args.workers, "backend": args.backend, "scheduler": args.scheduler, "out": args.out}


def _run(args, work):
    """Run ``work(progress)`` with a progress bar, turning library errors into one line each."""
    from sim.backends import BackendError
    from sim.errors import SettingError
    from sim.report import progress_bar
    from sim.store import StoreError

    show = not args.quiet and sys.stderr.isatty()
    try:
        with progress_bar(show) as progress:
            return work(progress), None
    except SettingError as exc:
        return None, fail([f"{setting}: {message}" for setting, message in exc.problems])
    except (StoreError, BackendError) as exc:
        return None, fail([f"{'--out: ' if isinstance(exc, StoreError) else ''}{exc}"])
    except KeyboardInterrupt:
        saved = f"; finished replications are saved in {args.out}: run the same command again to resume" \
            if args.out else ""
        print(f"interrupted{saved}", file=sys.stderr)
        return None, EXIT_INTERRUPTED


def _cmd_compare(args) -> int:
    from sim.compare import Alternative, compare, split_alternatives_of
    from sim.split import SplitError

    problems = _output_problems(args)
    given = len(problems)
    grid = _grid(args, problems)
    split_problems = len(problems) > given
    objective, risk = _judgement(args, problems)
    if len(args.scenarios) > 1 and grid:
        problems.append("--marketing-share and the other split options vary one scenario; "
                        "give one FILE with them, or several FILEs without them")
    if len(args.scenarios) == 1 and not grid and not split_problems:
        problems.append("compare: give two or more scenario FILEs, or one FILE and split values "
                        "(e.g. --marketing-share 0.3,0.5)")
    twice = sorted({p for p in args.scenarios if args.scenarios.count(p) > 1})
    problems += [f"FILE: {p} is given more than once (compare a file with itself by copying it)" for p in twice]
    if args.budget is not None and len(args.scenarios) > 1:
        problems.append("--budget: sets the total of a split; with several FILEs each file's own plan counts")
    if problems:
        return fail(problems)
    scenarios = [load_scenario(path) for path in args.scenarios]
    if grid:
        try:
            alternatives = split_alternatives_of(scenarios[0], grid, args.budget)
        except SplitError as exc:
            return fail([f"{exc.setting}: {exc.message}"])
    else:
        stems = [Path(p).stem for p in args.scenarios]
        labels = stems if len(set(stems)) == len(stems) else list(args.scenarios)
        alternatives = [Alternative(label, sc) for label, sc in zip(labels, scenarios, strict=True)]
    comparison, code = _run(args, lambda progress: compare(
        alternatives, args.reps, args.seed, objective=objective, risk=risk, baseline=args.baseline,
        level=args.confidence, progress=progress, chunk_size=None, **_running(args)))
    return code if comparison is None else _finish(args, comparison, scenarios[0].currency)


def _cmd_sweep(args) -> int:
    from sim.compare import sweep

    problems = _output_problems(args)
    grid = _grid(args, problems)
    objective, risk = _judgement(args, problems)
    if not 1 <= len(grid) <= 2 and not problems:
        problems.append(f"sweep: give one or two split settings to vary (e.g. --marketing-share 0:1:0.05), "
                        f"got {len(grid)}")
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)
    comparison, code = _run(args, lambda progress: sweep(
        scenario, grid, args.reps, args.seed, total=args.budget, objective=objective, risk=risk,
        baseline=args.baseline or "today", level=args.confidence, progress=progress, **_running(args)))
    return code if comparison is None else _finish(args, comparison, scenario.currency)


def _finish(args, comparison, currency: str) -> int:
    from sim.split_report import comparison_report

    if problems := _write_outputs(args, comparison):
        return fail(problems)
    for f in comparison.failures.itertuples():
        print(f"{f.alternative}: replication {f.replication} failed: {f.error}", file=sys.stderr)
    if args.json:
        print(json.dumps(jsonable(_comparison_document(comparison, seed=args.seed)), indent=1))
    else:
        comparison_report(comparison, currency=currency)
    return 0


def _fte_limits(values, option: str, problems: list[str]) -> dict[str, int]:
    pairs, bad = _pairs(values, option)
    problems += bad
    out = {}
    for role, text in pairs.items():
        try:
            out[role] = int(text)
            if out[role] < 0:
                raise ValueError
        except ValueError:
            problems.append(f"{option}: {role}: expected a whole number of FTE, got {text!r}")
    return out


def _bounds(values, problems: list[str]) -> dict[str, tuple[float, float]]:
    pairs, bad = _pairs(values, "--bounds")
    problems += bad
    out = {}
    for setting, text in pairs.items():
        try:
            lo, hi = (float(x) for x in text.split(":"))
        except ValueError:
            problems.append(f"--bounds: {setting}: expected LOW:HIGH such as 0.2:0.6, got {text!r}")
            continue
        if not 0 <= lo <= hi <= 1:
            problems.append(f"--bounds: {setting}: expected 0 <= LOW <= HIGH <= 1, got {text!r}")
        out[setting] = (lo, hi)
    return out


def _range(text: str | None, problems: list[str]):
    if text is None:
        return None, None
    try:
        lo, hi = (float(x) for x in text.split(":"))
        if not 0 <= lo < hi:
            raise ValueError
    except ValueError:
        problems.append(f"--budget-range: expected LOW:HIGH with 0 <= LOW < HIGH, got {text!r}")
        return None, None
    return lo, hi


def _cmd_optimize(args) -> int:
    from sim.optimize import optimize, smallest_budget

    problems = _output_problems(args)
    objective, risk = _judgement(args, problems)
    fixed = [name.strip() for text in args.fixed or [] for name in text.split(",") if name.strip()]
    min_fte = _fte_limits(args.min_fte, "--min-fte", problems)
    max_fte = _fte_limits(args.max_fte, "--max-fte", problems)
    bounds = _bounds(args.bounds, problems)
    low, high = _range(args.budget_range, problems)
    if args.smallest_budget:
        if args.target is None:
            problems.append("--smallest-budget: needs --target (e.g. the revenue to reach)")
        if args.probability is None:
            problems.append("--smallest-budget: needs --probability (e.g. 0.8)")
        if args.budget is not None:
            problems.append("--budget: --smallest-budget searches the budget; use --budget-range LOW:HIGH")
    else:
        for option in ("probability", "budget_range"):
            if getattr(args, option) is not None:
                problems.append(f"--{option.replace('_', '-')}: only used with --smallest-budget")
    if args.max_reps < args.initial_reps:
        problems.append(f"--max-reps: must be at least --initial-reps ({args.initial_reps}), got {args.max_reps}")
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)
    search = dict(fixed=fixed, min_fte=min_fte, max_fte=max_fte, bounds=bounds, level=args.confidence,
                  initial_candidates=args.candidates, initial_reps=args.initial_reps, batch=args.batch,
                  max_reps=args.max_reps, max_replications=args.max_replications)
    if args.smallest_budget:
        result, code = _run(args, lambda progress: smallest_budget(
            scenario, target=args.target, probability=args.probability, objective=objective, low=low, high=high,
            seed=args.seed, progress=progress, **_running(args), **search))
    else:
        result, code = _run(args, lambda progress: optimize(
            scenario, objective=objective, risk=risk, total=args.budget, seed=args.seed, progress=progress,
            **_running(args), **search))
    if result is None:
        return code
    allocation, diagnostics = result
    extra = {"allocation": pd.DataFrame([allocation]), "search": diagnostics.history,
             "diagnostics": pd.DataFrame([_diagnostics(diagnostics)])}
    if diagnostics.budget_search is not None:
        extra["budgets"] = diagnostics.budget_search
    if problems := _write_outputs(args, diagnostics.comparison, extra):
        return fail(problems)
    if args.json:
        document = {"allocation": allocation, "diagnostics": _diagnostics(diagnostics),
                    **{k: v for k, v in _comparison_document(diagnostics.comparison, seed=args.seed).items()}}
        if diagnostics.budget_search is not None:
            document["budget_search"] = diagnostics.budget_search.to_dict(orient="records")
        print(json.dumps(jsonable(document), indent=1))
    else:
        from sim.split_report import optimization_report

        optimization_report(allocation, diagnostics, currency=scenario.currency)
    return 0


def _diagnostics(d) -> dict:
    low_high = d.runner_up_difference or (None, None, None)
    return {"objective": d.objective.label, "risk": d.risk.label, "estimate": d.estimate, "ci_low": d.ci_low,
            "ci_high": d.ci_high, "replications_used": d.replications_used,
            "candidates_evaluated": d.candidates_evaluated, "runner_up": d.runner_up,
            "runner_up_difference": low_high[0], "runner_up_difference_ci_low": low_high[1],
            "runner_up_difference_ci_high": low_high[2], "p_correct_selection": d.p_correct_selection,
            "vs_today": d.vs_today[0], "vs_today_ci_low": d.vs_today[1], "vs_today_ci_high": d.vs_today[2],
            **{f"tolerance.{k}": v for k, v in d.tolerance.items()}}


def _common(p, reps_default: int | None) -> None:
    if reps_default is not None:
        p.add_argument("--reps", type=positive_int, default=reps_default, metavar="R",
                       help=f"replications per alternative, the same seeds for each (default {reps_default})")
    p.add_argument("--seed", type=seed, default=0, help="the root seed (default 0)")
    p.add_argument("--objective", choices=list(OBJECTIVES), help="what a replication is judged by "
                   "(default contribution)")
    p.add_argument("--with-pipeline", action="store_true",
                   help="count the open pipeline's win-weighted value at the horizon in the objective")
    p.add_argument("--risk", choices=list(RISKS), help="mean (default), var or cvar (with --risk-level), "
                   "or probability (of reaching --target)")
    p.add_argument("--risk-level", type=_share, metavar="Q", help="the worst share for var and cvar (e.g. 0.1)")
    p.add_argument("--target", type=_number, metavar="X", help="the objective's value to reach")
    p.add_argument("--confidence", type=_share, default=0.95, metavar="L", help="CI level (default 0.95)")
    p.add_argument("--budget", type=_money, metavar="TOTAL", help="the budget for the horizon (default: today's)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--out", metavar="DIR", help="write CSV and Parquet tables (and the replications, so that "
                   "running again resumes)")
    p.add_argument("--excel", metavar="FILE.xlsx", help="write a workbook: summary, paired differences, "
                   "measures, replications")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots")
    p.add_argument("--workers", type=positive_int, default=1, metavar="W", help="processes to run on (default 1)")
    p.add_argument("--backend", choices=("local", "dask"), default="local", help="local processes or Dask")
    p.add_argument("--scheduler", metavar="ADDRESS", help="with --backend dask: an existing scheduler")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _split_values(p, ranges: bool) -> None:
    how = "values such as 0:1:0.05 (start:stop:step) or 0.3,0.5" if ranges else "values such as 0.3,0.5,0.7"
    p.add_argument("--marketing-share", metavar="VALUES", help=f"marketing share of the budget: {how}")
    p.add_argument("--sdr-share", metavar="VALUES", help="SDRs' share of the salaries (the other roles "
                   "share the rest as today)")
    p.add_argument("--role-share", action="append", metavar="ROLE=VALUES", help="a role's share of the salaries")
    p.add_argument("--channel-share", action="append", metavar="CHANNEL=VALUES",
                   help="a channel's share of the marketing spend (the others share the rest as today)")
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
    opt.add_argument("--candidates", type=positive_int, default=12, metavar="N",
                     help="splits in the first, global design (default 12, plus today's)")
    opt.add_argument("--initial-reps", type=int_at_least(2, "an integer of at least 2"), default=10, metavar="N",
                     help="replications per candidate when a race starts (default 10)")
    opt.add_argument("--batch", type=positive_int, default=10, metavar="N",
                     help="replications added per round of a race (default 10)")
    opt.add_argument("--max-reps", type=int_at_least(2, "an integer of at least 2"), default=60, metavar="N",
                     help="replications per candidate at most in a race (default 60)")
    opt.add_argument("--max-replications", type=int_at_least(2, "an integer of at least 2"), default=2000,
                     metavar="N", help="no new race after this many replications in all (default 2000)")
    opt.add_argument("--smallest-budget", action="store_true",
                     help="inverse mode: the smallest budget reaching --target with --probability")
    opt.add_argument("--probability", type=_share, metavar="Q", help="with --smallest-budget: e.g. 0.8")
    opt.add_argument("--budget-range", metavar="LOW:HIGH", help="with --smallest-budget: where to search "
                     "(default 0 to twice today's budget)")
    opt.set_defaults(func=_cmd_optimize)
