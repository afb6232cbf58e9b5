"""The ``funnel backtest`` subcommand: would the model have predicted the held-out months of CRM data?"""

from __future__ import annotations

from sim.cli.flags import flag
from sim.cli.options import fail, integer
from sim.errors import FunnelError

__all__ = ["add_backtest_command"]


def _cmd_backtest(args) -> int:
    from sim.calibrate.backtest import backtest, read_actual
    from sim.scenario import load_scenario

    def name(parameter: str) -> str:
        return {"start_date": f"{args.scenario}: start_date", "actual": "--data", "data": "--data"}.get(parameter) \
            or flag(parameter)

    try:  # with --mapping, calibrate's reader (every row: no training cut) gives the same Actual tables
        actual = read_actual(args.data, mapping=args.mapping)
    except FunnelError as exc:
        return fail(exc.lines(name))
    scenario = load_scenario(args.scenario)
    try:
        bt = backtest(scenario, actual, args.train_until, months=args.months, reps=args.reps, seed=args.seed,
                      known_inputs=not args.forecast_inputs)
    except FunnelError as exc:
        return fail(exc.lines(name))
    if args.plot:
        from sim.present.backtest_plots import backtest_plot

        try:
            backtest_plot(bt).savefig(args.plot, dpi=110)
        except OSError as exc:
            return fail([f"--plot: cannot write {args.plot}: {exc.strerror or exc}"])
    if args.json:
        print(bt.to_json())
        return 0
    print(f"{bt!r}")
    for line in bt.warnings:
        print(f"warning: {line}")
    table = bt.table.assign(month_start=bt.table["month_start"].dt.strftime("%Y-%m"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    for measure, bands in bt.coverage.items():
        for verdict in bands.values():
            print(f"{measure}: {verdict}")
    ks = bt.ttc
    print(f"time to close: KS {ks['ks']:.3f} (p {ks['p_value']:.3f}; {ks['observed']} actual deals; "
          f"{ks['rule']})")
    if len(bt.conversion):
        print(bt.conversion.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("PIT histogram (10 bins): " + " ".join(str(int(c)) for c in bt.pit_counts))
    return 0


def add_backtest_command(sub) -> None:
    """Add ``backtest`` to the ``funnel`` subparsers ``sub``."""
    p = sub.add_parser("backtest", help="score a scenario's forecast of held-out months against CRM data "
                                        "(coverage, PIT, CRPS, time to close)")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file (with a start_date)")
    p.add_argument("--data", metavar="DIR", required=True,
                   help="folder of CRM tables: as funnel export-crm writes them (leads.csv, deals.csv and, if "
                        "there, headcount.csv), "
                        "or the files --mapping names")
    p.add_argument("--mapping", metavar="M.yaml",
                   help="read --data through this mapping file, as funnel calibrate does (see mappings/); "
                        "default: the tables of funnel export-crm")
    p.add_argument("--train-until", metavar="DATE", required=True,
                   help="the training cut; held out are the complete months from it to the end of the data")
    p.add_argument("--months", type=integer, metavar="N", help="held-out months to score (default: all)")
    p.add_argument("--reps", type=integer, default=200, help="replications (default 200)")
    p.add_argument("--seed", type=integer, default=0, help="random seed (default 0)")
    p.add_argument("--forecast-inputs", action="store_true",
                   help="let the model forecast its own leads and use the scenario's team (default: the realised "
                        "leads per channel and month, and the realised headcount if the data has a headcount table)")
    p.add_argument("--json", action="store_true", help="print the table and summary as JSON")
    p.add_argument("--plot", metavar="PNG", help="also draw the fans and the PIT histogram to this file")
    p.set_defaults(func=_cmd_backtest)
