"""The one table from the library's parameter names to the command line's flags, and errors as lines.

The library names parameters as Python does (``initial_reps``, ``budget``); the
command line calls them ``--initial-reps`` and ``--budget``. :func:`flag` turns one into
the other, and :func:`error_lines` writes a library error as the command line says it.
"""

from __future__ import annotations

from sim.errors import FunnelError

__all__ = ["FLAGS", "error_lines", "flag"]

FLAGS = {
    # running
    "reps": "--reps",
    "seed": "--seed",
    "workers": "--workers",
    "backend": "--backend",
    "scheduler": "--scheduler",
    "connect_timeout": "--connect-timeout",
    "out": "--out",
    "chunk_size": "--chunk-size",
    "trace": "--trace",
    "replication": "--replication",
    "fast": "--fast",
    "precision": "--precision",
    "metric": "--metric",
    "precision_batch": "--batch",
    # judging
    "objective": "--objective",
    "risk": "--risk",
    "tail": "--risk-level",
    "target": "--target",
    "level": "--confidence",
    # splits
    "budget": "--budget",
    "baseline": "--baseline",
    "marketing_share": "--marketing-share",
    "grid": "the split options (--marketing-share, --sdr-share, --role-share, --channel-share)",
    "split": "FILE",
    "scenario": "FILE",
    "alternatives": "FILE",
    # optimising
    "fixed": "--fixed",
    "min_fte": "--min-fte",
    "max_fte": "--max-fte",
    "bounds": "--bounds",
    "contenders": "--candidates",
    "initial_reps": "--initial-reps",
    "race_batch": "--batch",
    "max_reps": "--max-reps",
    "fresh_reps": "--fresh-reps",
    "delta": "--delta",
    "channel_step": "--channel-step",
    "probability": "--probability",
    "budget_range": "--budget-range",
    "limits": "--limit",
    # deciding over time
    "terminal": "--terminal-value",
    "period_months": "--period-months",
    "runway": "--runway",
    "cash_probability": "--cash-probability",
    "max_hires_month": "--max-hires-month",
    "max_change": "--max-change",
    "spend_bounds": "--spend-bounds",
    # sensitivity
    "method": "--method",
    "ranges": "--vary",
    "samples": "--samples",
    # exporting a run as CRM tables
    "export_day": "--export-day",
    "start_date": "FILE",
    # calibrating from CRM data
    "train_until": "--train-until",
    "mapping": "--mapping",
    # what a scenario message may point to
    "schema": "`funnel schema`",
    "months": "--months",
}


def flag(parameter: str) -> str:
    """The command line's name for a library parameter (or split setting); unknown names are kept."""
    if parameter.startswith("limit_"):  # one of `limits`, as sim.model.size names it
        return f"--limit {parameter.removeprefix('limit_')}=N"
    kind, _, name = parameter.partition(".")
    if parameter == "role_share.sdr":
        return "--sdr-share (or --role-share sdr)"
    if kind in ("role_share", "channel_share") and name:
        return f"--{kind.replace('_', '-')} {name}"
    return FLAGS.get(parameter, parameter)


def error_lines(exc: FunnelError) -> list[str]:
    """One line per problem of a library error, in the command line's words."""
    return exc.lines(flag)
