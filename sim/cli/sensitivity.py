"""``funnel sensitivity``: which settings matter, by a tornado, Morris screening or Sobol indices.

Every problem with the options is one line, before anything runs: a setting is
``--vary PATH=LOW:HIGH`` (paths as ``funnel schema`` names them), checked by writing
each end into the scenario. Without ``--vary`` (or ``--method``, ``--samples``), the
file's ``sensitivity:`` block gives them (checked as the file is read).
"""

from __future__ import annotations

import json

from sim.cli.flags import error_lines
from sim.cli.options import attempt, fail, integer, jsonable, pairs, write_workbook
from sim.errors import FunnelError
from sim.scenario import load_scenario

__all__ = ["add_sensitivity_command"]


def _ranges(values, problems: list[str]) -> dict[str, tuple[float, float]] | None:
    """The ``--vary`` settings, or None when none is given (the file's ``sensitivity:`` block stands in)."""
    if not values:
        return None
    out = {}
    for path, text in pairs(values, "--vary", problems).items():
        low, sep, high = text.partition(":")
        try:
            if not sep:
                raise ValueError(text)
            out[path] = (float(low), float(high))
        except ValueError:
            problems.append(f"--vary {path}: expected LOW:HIGH (e.g. 2:8), got {text!r}")
    return out


def _cmd_sensitivity(args) -> int:
    from sim.cli.split import _common_problems, _judgement, _run, _running
    from sim.decide.sensitivity import sensitivity, sensitivity_problems, settings_of

    problems = _common_problems(args)
    objective, risk = _judgement(args, problems)
    if risk is not None and risk.name != "mean":
        problems.append("--risk: sensitivity analyses the mean of the objective")
    ranges = _ranges(args.vary, problems)
    scenario = attempt(problems, lambda: load_scenario(args.scenario))
    # The command line's options, else the file's `sensitivity:` block, else the defaults.
    ranges, method, samples, from_block = settings_of(scenario, ranges, args.method, args.samples)
    if args.samples is not None and method == "tornado":
        problems.append("--samples: only used with --method morris or sobol")
    if scenario is not None and ranges is None and not any(p.startswith("--vary") for p in problems):
        problems.append(f"--vary: give at least one setting and its range, e.g. --vary roles.sdr.fte=6:10, or write "
                        f"a `sensitivity:` block with `vary:` in {args.scenario}")
    if scenario is not None and ranges:
        found = sensitivity_problems(scenario, ranges, method=method, reps=args.reps, samples=samples,
                                     level=args.confidence)
        if found:
            exc = FunnelError(*found[0], problems=found)
            where = f"{args.scenario}: sensitivity.vary." if from_block else "--vary "
            problems += [f"{where}{line}" if name in ranges else line
                         for (name, _), line in zip(found, error_lines(exc), strict=True)]
    if problems:
        return fail(problems)
    running = {k: v for k, v in _running(args).items() if k != "limits"}
    result, code = _run(args, lambda progress: sensitivity(
        scenario, ranges, method=method, reps=args.reps, samples=samples, seed=args.seed,
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

    p = sub.add_parser("sensitivity", help="which settings matter: a tornado, Morris screening or Sobol indices",
                       description="Which settings matter. The settings, method and samples are the options "
                                   "given, else those of the file's `sensitivity:` block (each option given "
                                   "overrides the block's; --vary replaces all of its `vary:`).")
    p.add_argument("scenario", metavar="FILE")
    p.add_argument("--vary", action="append", metavar="PATH=LOW:HIGH",
                   help="a setting and its range, by its path in `funnel schema` (repeatable; default: the "
                        "`vary:` of the file's `sensitivity:` block, which these replace)")
    p.add_argument("--method", choices=("tornado", "morris", "sobol"),
                   help="tornado (one at a time, low and high), morris (screening) or sobol (indices); default: "
                        "the block's `method:`, else tornado")
    p.add_argument("--samples", type=integer, metavar="N",
                   help="morris: trajectories; sobol: the base sample (N x (k + 2) points); default: the block's "
                        "`samples:`, else 16 (morris) or 64 (sobol)")
    _common(p, 20)
    p.set_defaults(func=_cmd_sensitivity)
