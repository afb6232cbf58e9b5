"""The ``funnel export-crm`` subcommand: one simulated run written as CRM-shaped CSV tables."""

from __future__ import annotations

from sim.cli.flags import flag
from sim.cli.options import directory_problems, fail, integer, number
from sim.errors import FunnelError

__all__ = ["add_crm_command"]


def _cmd_export_crm(args) -> int:
    from sim.present.crm import crm_export, write_crm
    from sim.scenario import load_scenario
    from sim.seeds import as_seed_sequence

    problems = directory_problems(args.out, "--out")
    try:
        as_seed_sequence(args.seed)
    except FunnelError as exc:
        problems += exc.lines(flag)
    if problems:
        return fail(problems)
    scenario = load_scenario(args.scenario)

    def name(parameter: str) -> str:
        # The writer names its folder `directory`; a missing start_date is the scenario file's.
        return {"directory": "--out", "start_date": f"{args.scenario}: start_date"}.get(parameter) or flag(parameter)

    try:
        export = crm_export(scenario, args.seed, export_day=args.export_day)
        written = write_crm(export, args.out)
    except FunnelError as exc:
        return fail(exc.lines(name))
    except OSError as exc:
        return fail([f"--out: cannot write {args.out}: {exc.strerror or exc}"])
    print(f"{export!r}")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def add_crm_command(sub) -> None:
    """Add ``export-crm`` to the ``funnel`` subparsers ``sub``."""
    crm = sub.add_parser("export-crm", help="simulate one horizon and write it as CRM-shaped CSV tables (leads, "
                                            "deals, stage history, spend, headcount): known truth for calibrating")
    crm.add_argument("scenario", metavar="FILE", help="scenario YAML file (with a start_date)")
    crm.add_argument("--seed", type=integer, default=0, help="random seed (default 0)")
    crm.add_argument("--out", metavar="DIR", required=True,
                     help="folder to write leads.csv, deals.csv, stage_history.csv, spend.csv, headcount.csv and "
                          "about.json into: new, empty, or an earlier export's (its files are replaced)")
    crm.add_argument("--export-day", type=number, metavar="D",
                     help="the export date, in days from the start (default: the horizon); what happens after it "
                          "is not in the tables, and deals still open then are open")
    crm.set_defaults(func=_cmd_export_crm)
