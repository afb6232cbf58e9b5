"""The ``funnel calibrate`` subcommand: CRM files and a mapping in, a scenario YAML with provenance out."""

from __future__ import annotations

import json
from pathlib import Path

from sim.cli.options import fail

__all__ = ["add_calibrate_command"]


def _cmd_calibrate(args) -> int:
    from sim.calibrate.api import calibrate

    out = Path(args.out)
    if out.exists() and not args.force:
        return fail([f"--out: {out} exists; give --force to replace it"])
    found = calibrate(args.data, args.mapping, train_until=args.train_until)
    out.write_text(found.scenario_text, encoding="utf-8")
    if args.json:
        print(json.dumps(found.report, indent=2, default=str))
        return 0
    print(f"calibrated from data up to {found.report['cutoff']}; wrote {out}")
    print("estimated:")
    for row in found.report["estimated"]:
        print(f"  {row['path']}: {row['estimate']:.4g} [{row['low']:.4g}, {row['high']:.4g}] n={row['n']} "
              f"({row['method']})")
    print("not identified (default used):")
    for row in found.report["not_identified"]:
        print(f"  {row['path']}: {row['why']}")
    decay = found.report["diagnostics"].get("qualification.decay")
    if decay is not None:
        ends = [f"{v:.3g}" if v is not None else "unbounded" for v in (decay["low"], decay["high"])]
        shown = (f"half-life {decay['half_life_hours']:.3g} h [{ends[0]}, {ends[1]}]"
                 if decay["half_life_hours"] is not None else "no decay found")
        print(f"response-time decay (diagnostic): {shown}, n={decay['n']}, likelihood ratio against no decay "
              f"p={decay['p_value']:.3g}; {decay['why']}")
    if found.report["warnings"]:
        print(f"warnings ({sum(found.report['unusable_rows'].values())} unusable rows):")
        for line in found.report["warnings"]:
            print(f"  {line}")
    return 0


def add_calibrate_command(sub) -> None:
    """Add ``calibrate`` to the ``funnel`` subparsers ``sub``."""
    cal = sub.add_parser("calibrate", help="estimate a scenario from CRM data (leads, deals, ...) with a mapping file")
    cal.add_argument("--mapping", required=True, metavar="M.yaml", help="mapping file (see mappings/)")
    cal.add_argument("--data", required=True, metavar="DIR", help="folder holding the mapped CSV or Excel files")
    cal.add_argument("--train-until", metavar="DATE", help="use only what was known at this date")
    cal.add_argument("--out", required=True, metavar="FILE",
                     help="scenario YAML to write (not replaced without --force)")
    cal.add_argument("--force", action="store_true", help="replace an existing --out file")
    cal.add_argument("--json", action="store_true", help="print the calibration report as JSON")
    cal.set_defaults(func=_cmd_calibrate)
