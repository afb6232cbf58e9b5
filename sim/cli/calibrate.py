"""The ``funnel calibrate`` subcommand: CRM files and a mapping in, a scenario YAML with provenance out.

Everything the options name is checked before anything is read or estimated, every problem
on its own line (exit code 2): ``--out`` (an existing file is kept unless ``--force``; its
folder must exist and be writable), ``--data`` (a folder), ``--train-until`` (a date) and
the mapping. The scenario is written to a temporary file beside ``--out`` and moved over it
at the end, so that a failure never leaves half a file, and never touches an existing one.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from sim.cli.flags import error_lines
from sim.cli.options import EXIT_FAILED, fail
from sim.errors import FunnelError

__all__ = ["add_calibrate_command"]


def _out_problems(out: Path, force: bool, inputs: list[Path]) -> list[str]:
    if out.is_dir():
        return [f"--out: {out} is a folder; expected the scenario file to write"]
    if out.exists() and not force:
        return [f"--out: {out} exists; give --force to replace it"]
    resolved = out.resolve()
    if any(resolved == p.resolve() for p in inputs if p.exists()):
        return [f"--out: {out} is one of the files read (the mapping or a data file); write the scenario elsewhere"]
    folder = out.parent
    if not folder.exists():
        return [f"--out: the folder {folder} does not exist; create it first"]
    if not folder.is_dir():
        return [f"--out: {folder} is not a folder"]
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return [f"--out: cannot write in {folder}: {exc.strerror or exc}"]
    return []


def _write(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` through a temporary file in its folder, moved over it when complete."""
    handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _cmd_calibrate(args) -> int:
    from sim.calibrate.api import calibrate
    from sim.calibrate.mapping import load_mapping
    from sim.calibrate.tables import parse_train_until

    out, data = Path(args.out), Path(args.data)
    problems: list[str] = []
    mapping = None
    try:
        mapping = load_mapping(args.mapping)
    except FunnelError as exc:
        problems += error_lines(exc)
    inputs = [Path(args.mapping)] + ([data / t.file for t in mapping.tables.values()] if mapping else [])
    problems += _out_problems(out, args.force, inputs)
    if not data.is_dir():
        problems.append(f"--data: {data} {'is not a folder' if data.exists() else 'does not exist'}; expected the "
                        "folder holding the mapped CSV or Excel files")
    if args.train_until is not None:
        try:
            parse_train_until(args.train_until)
        except FunnelError as exc:
            problems += error_lines(exc)
    if problems:
        return fail(problems)
    found = calibrate(data, mapping, train_until=args.train_until)
    try:
        _write(out, found.scenario_text)
    except OSError as exc:
        print(f"--out: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
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
    work = found.report["diagnostics"].get("qualification.work_hours")
    if work is not None:
        shown = ("not fitted" if work.get("misshapen") else
                 f"{work['estimate']:.3g} h [{work['low']:.3g}, {work['high']:.3g}]" if work["identified"] else
                 f"at most {work['high']:.3g} h" if work["high"] is not None else "not bounded")
        print(f"qualifiers' work hours per lead (simulated moments): {shown}, mean wait "
              f"{work['observed_wait_hours']:.3g} h over {work['mqls']} MQLs; {work['why']}")
    slots = found.report["diagnostics"].get("roles.ae.max_open_opportunities")
    if slots is not None:
        print(f"AE capacity: {slots['value']} open deals each, written ({slots['method']})")
    # The rows created after the training cut are not unusable: they are what the cut leaves out.
    rows = found.report["unusable_rows"]
    for title, part in (("unusable rows", {k: v for k, v in rows.items() if " created after " not in k}),
                        ("rows after the training cut", {k: v for k, v in rows.items() if " created after " in k})):
        if part:
            print(f"{title} ({sum(part.values())}, left out):")
            for reason, count in part.items():
                print(f"  {reason}: {count}")
    if found.report["warnings"]:
        print("warnings:")
        for line in found.report["warnings"]:
            print(f"  {line}")
    return 0


def add_calibrate_command(sub) -> None:
    """Add ``calibrate`` to the ``funnel`` subparsers ``sub``."""
    cal = sub.add_parser("calibrate", help="estimate a scenario from CRM data (leads, deals, ...) with a mapping file")
    cal.add_argument("--mapping", required=True, metavar="M.yaml", help="mapping file (see mappings/)")
    cal.add_argument("--data", required=True, metavar="DIR", help="folder holding the mapped CSV or Excel files")
    cal.add_argument("--train-until", metavar="DATE", help="use only what was known at this date (YYYY-MM-DD)")
    cal.add_argument("--out", required=True, metavar="FILE",
                     help="scenario YAML to write (not replaced without --force)")
    cal.add_argument("--force", action="store_true", help="replace an existing --out file")
    cal.add_argument("--json", action="store_true", help="print the calibration report as JSON")
    cal.set_defaults(func=_cmd_calibrate)
