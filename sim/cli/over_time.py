"""``funnel optimize --over-time``: a hiring-and-spend calendar with its guarantee and cash chart.

The options of ``funnel optimize`` that describe a static split (``--min-fte``,
``--bounds``, ``--channel-step``, ``--smallest-budget``) are refused here, and those
that only a plan over time has (``--period-months``, ``--runway``, ...) are refused
without ``--over-time``; every problem is one line, before anything runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sim.cli.flags import flag
from sim.cli.options import attempt, fail, integer, jsonable, number, pairs
from sim.scenario import load_scenario

__all__ = ["OVER_TIME_DEFAULTS", "add_over_time_options", "cmd_over_time", "over_time_flag_problems"]

OVER_TIME_DEFAULTS = {"period_months": 3, "runway": None, "cash_probability": 0.95, "max_hires_month": 2,
                      "max_change": None, "spend_bounds": None}


def add_over_time_options(opt) -> None:
    """Add the plan-over-time options to the ``optimize`` parser."""
    d = OVER_TIME_DEFAULTS
    opt.add_argument("--over-time", action="store_true",
                     help="decide over time: spend per period and the month of each hire (a calendar)")
    opt.add_argument("--period-months", type=integer, default=d["period_months"], metavar="N",
                     help="with --over-time: months per spend period (default 3, quarters)")
    opt.add_argument("--runway", type=number, metavar="CASH",
                     help="with --over-time: the most cash the plan may use; cumulative contribution must stay "
                          "above -CASH in every month with --cash-probability")
    opt.add_argument("--cash-probability", type=number, default=d["cash_probability"], metavar="Q",
                     help="with --runway: the chance cash must stay above -CASH (default 0.95)")
    opt.add_argument("--max-hires-month", type=integer, default=d["max_hires_month"], metavar="N",
                     help="with --over-time: the most hires requested per role in one month (default 2)")
    opt.add_argument("--max-change", type=number, metavar="SHARE",
                     help="with --over-time: the most a channel's monthly spend moves between periods, as a "
                          "share of today's (default: no limit)")
    opt.add_argument("--spend-bounds", action="append", metavar="CHANNEL=LOW:HIGH",
                     help="with --over-time: a channel's least and most monthly spend (default 0 to 3x today's)")


def over_time_flag_problems(args) -> list[str]:
    """Plan-over-time options given without ``--over-time``."""
    if args.over_time:
        return []
    problems = []
    for option, default in OVER_TIME_DEFAULTS.items():
        if getattr(args, option) != default:
            problems.append(f"--{option.replace('_', '-')}: only used with --over-time")
    return problems


def _spend_bounds(values, problems: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for channel, text in pairs(values, "--spend-bounds", problems).items():
        low, _, high = text.partition(":")
        try:
            pair = (float(low), float(high))
        except ValueError:
            problems.append(f"--spend-bounds: {channel}: expected LOW:HIGH monthly spend (e.g. 20000:60000), "
                            f"got {text!r}")
            continue
        out[channel] = pair
    return out


def cmd_over_time(args, *, common_problems, judgement, running, run, write_outputs, comparison_document) -> int:
    """Run ``funnel optimize --over-time`` (the helpers are ``sim.cli.split``'s, passed in to keep one wording)."""
    from sim.decide.over_time import optimize_over_time, over_time_problems
    from sim.decide.timing import plan_space

    problems = common_problems(args)
    objective, risk = judgement(args, problems)
    if risk is not None and risk.name != "mean":
        problems.append("--risk: --over-time optimises the mean (the selection's guarantee is for means)")
    for option, default in (("min_fte", None), ("bounds", None), ("budget_range", None), ("probability", None)):
        if getattr(args, option) != default:
            problems.append(f"--{option.replace('_', '-')}: not used with --over-time")
    if args.channel_step != 0.05:
        problems.append("--channel-step: not used with --over-time (spend moves per period)")
    if args.smallest_budget:
        problems.append("--smallest-budget: not available with --over-time")
    fixed = [name.strip() for text in args.fixed or [] for name in text.split(",") if name.strip()]
    max_fte = {}
    for role, text in pairs(args.max_fte, "--max-fte", problems).items():
        try:
            max_fte[role] = integer(text)
        except argparse.ArgumentTypeError:
            problems.append(f"--max-fte: {role}: expected a whole number of FTE, got {text!r}")
    bounds = _spend_bounds(args.spend_bounds, problems)
    problems += [f"{flag(name)}: {message}" for name, message in
                 over_time_problems(runway=args.runway, cash_probability=args.cash_probability)]
    scenario = attempt(problems, lambda: load_scenario(args.scenario))
    limits = dict(budget=args.budget, period_months=args.period_months, fixed=fixed, spend_bounds=bounds,
                  max_change=args.max_change, max_hires_month=args.max_hires_month, max_fte=max_fte)
    if scenario is not None:
        attempt(problems, lambda: plan_space(scenario, **limits))
        attempt(problems, lambda: objective.check(scenario))
    if problems:
        return fail(problems)
    race = dict(contenders=args.candidates,
                initial_reps=args.initial_reps, race_batch=args.batch, max_reps=args.max_reps,
                fresh_reps=args.fresh_reps or 20, delta=args.delta)
    result, code = run(args, lambda progress: optimize_over_time(
        scenario, objective=objective, runway=args.runway, cash_probability=args.cash_probability,
        seed=args.seed, level=args.confidence, progress=progress, **running(args), **limits, **race))
    if result is None:
        return code
    import pandas as pd

    from sim.present.records import plan_diagnostics_record

    calendar, d = result
    summary = plan_diagnostics_record(d)
    extra = {"calendar": pd.DataFrame({"calendar": calendar["lines"]}),
             "plan": pd.DataFrame({k: v for k, v in calendar.items() if k.startswith("spend_month.")}),
             "search": d.history,
             "diagnostics": pd.DataFrame([{k: "; ".join(v) if isinstance(v, list) else v for k, v in summary.items()
                                           if k != "statements"}]),
             "guarantee": pd.DataFrame({"checked": d.statements})}
    plots = args.plots
    args.plots = None  # the comparison's split plots do not apply; the cash chart is written below
    problems = write_outputs(args, d.comparison, extra, workbook=(calendar, d))
    args.plots = plots
    if not problems and args.out is not None:
        problems += _write_plan(Path(args.out) / "plan.yaml", calendar["scenario"])
    if not problems and plots is not None:
        problems += _write_cash_plot(Path(plots), calendar, d, scenario.currency)
    if problems:
        return fail(problems)
    if args.json:
        document = {"calendar": {k: v for k, v in calendar.items() if k not in ("plan", "scenario")},
                    "diagnostics": summary, **comparison_document(d.comparison, seed=args.seed)}
        print(json.dumps(jsonable(document), indent=1))
    else:
        from sim.present.split_report import over_time_report

        over_time_report(calendar, d, currency=scenario.currency)
    return 0


def _write_plan(path: Path, scenario) -> list[str]:
    from sim.montecarlo.store import write_durably
    from sim.scenario.loading import dump_scenario

    text = ("# The plan funnel optimize --over-time chose: its spend per month and its hires.\n"
            "# Run or compare it like any scenario: funnel compare ORIGINAL.yaml plan.yaml\n" + dump_scenario(scenario))
    try:
        write_durably(path, text.encode("utf-8"))
    except OSError as exc:
        return [f"--out: cannot write {path}: {exc.strerror or exc}"]
    return []


def _write_cash_plot(folder: Path, calendar: dict, d, currency: str) -> list[str]:
    from sim.present.fan import cash_fan_plot  # its figures are not pyplot's: saving is enough

    try:
        folder.mkdir(parents=True, exist_ok=True)
        runway = d.cash["runway"] if d.cash else None
        probability = d.cash["probability"] if d.cash else None
        names = {calendar["label"]: "chosen plan", "today": "today's plan", calendar["static"]: "best static split"}
        shown = {names[label]: frame for label, frame in d.cash_monthly.items() if label in names}
        fig = cash_fan_plot(shown, runway=runway, probability=probability, currency=currency,
                            title="Cash over months (cumulative contribution), fresh replications")
        fig.savefig(folder / "cash.png", dpi=110, bbox_inches="tight")
    except OSError as exc:
        return [f"--plots: cannot write {folder}: {exc.strerror or exc}"]
    return []
