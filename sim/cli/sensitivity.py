"""``funnel sensitivity``: which settings matter, by a tornado, Morris screening or Sobol indices.

Every problem with the options is one line, before anything runs: a setting is
``--vary PATH=LOW:HIGH`` (paths as ``funnel schema`` names them), checked by writing
each end into the scenario.
"""

from __future__ import annotations

import json

from sim.cli.flags import error_lines
from sim.cli.options import attempt, fail, integer, jsonable, pairs, write_workbook
from sim.errors import FunnelError
from sim.scenario import load_scenario

__all__ = ["add_sensitivity_command"]


def _ranges(values, problems: list[str]) -> dict[str, tuple[float, float]]:
    out = {}
    for path, text in pairs(values, "--vary", problems).items():
        low, sep, high = text.partition(":")
        try:
            if not sep:
                raise ValueError(text)
            out[path] = (float(low), float(high))
        except ValueError:
            problems.append(f"--vary {path}: expected LOW:HIGH (e.g. 2:8), got {text!r}")
    if not values:
        problems.append("--vary: give at least one setting and its range, e.g. --vary roles.sdr.fte=6:10")
    return out


def _cmd_sensitivity(args) -> int:
    from sim.cli.split import _common_problems, _judgement, _run, _running
    from sim.decide.sensitivity import sensitivity, sensitivity_problems

    problems = _common_problems(args)
    objective, risk = _judgement(args, problems)
    if risk is not None and risk.name != "mean":
        problems.append("--risk: sensitivity analyses the mean of the objective")
    ranges = _ranges(args.vary, problems)
    if args.samples is not None and args.method == "tornado":
        problems.append("--samples: only used with --method morris or sobol")
    samples = args.samples or (16 if args.method == "morris" else 64)
    scenario = attempt(problems, lambda: load_scenario(args.scenario))
    if scenario is not None and ranges:
        found = sensitivity_problems(scenario, ranges, method=args.method, reps=args.reps, samples=samples,
                                     level=args.confidence)
        if found:
            exc = FunnelError(*found[0], problems=found)
            problems += [f"--vary {line}" if name in ranges else line
                         for (name, _), line in zip(found, error_lines(exc), strict=True)]
    if problems:
        return fail(problems)
    running = {k: v for k, v in _running(args).items() if k != "limits"}
    result, code = _run(args, lambda progress: sensitivity(
        scenario, ranges, method=args.method, reps=args.reps, samples=samples, seed=args.seed,
        objective=objective, level=args.confidence, progress=progress, **running))
    if result is None:
        return code
    if args.plots is not None:
        from sim.present.sensitivity_plots import write_sensitivity_plots

        try:
            write_sensitivity_plots(result, args.plots, scenario.currency)
        except OSError as exc:
            return fail([f"--plots: cannot write {args.plots}: {exc.strerror or exc}"])
    if problems := write_workbook(args, result, scenario=scenario):
        return fail(problems)
    if args.json:
        print(json.dumps(jsonable({"method": result.method, "objective": result.objective.label,
                                   "reps": result.reps, "points": result.points, "level": result.level,
                                   "noise_floor": result.noise_floor, "noise_share": result.noise_share,
                                   "statements": result.statements,
                                   "settings": result.table.to_dict(orient="records")}), indent=1))
        return 0
    from sim.present.split_report import sensitivity_report

    sensitivity_report(result, currency=scenario.currency)
    return 0


def add_sensitivity_command(sub) -> None:
    """Add ``sensitivity`` to the ``funnel`` subparsers ``sub``."""
    from sim.cli.split import _common

    p = sub.add_parser("sensitivity", help="which settings matter: a tornado, Morris screening or Sobol indices")
    p.add_argument("scenario", metavar="FILE")
    p.add_argument("--vary", action="append", metavar="PATH=LOW:HIGH",
                   help="a setting and its range, by its path in `funnel schema` (repeatable)")
    p.add_argument("--method", choices=("tornado", "morris", "sobol"), default="tornado",
                   help="tornado (default: one at a time, low and high), morris (screening) or sobol (indices)")
    p.add_argument("--samples", type=integer, metavar="N",
                   help="morris: trajectories (default 16); sobol: the base sample (default 64; N x (k + 2) points)")
    _common(p, 20)
    p.set_defaults(func=_cmd_sensitivity)
