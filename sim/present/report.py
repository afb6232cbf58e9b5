"""What the terminal shows: one replication's funnel and KPIs, and an experiment's summary."""

from __future__ import annotations

import math
import sys

from rich.console import Console
from rich.table import Table

from sim.montecarlo.replication import seed_label

__all__ = ["experiment_report", "funnel_report", "wide_console"]


def _num(x, digits=0):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def _pct(x):
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def funnel_report(result, seed=None, console: Console | None = None) -> None:
    """Print the funnel, losses, capacity and money of ``result``."""
    console = console or Console()
    m = result.metrics
    sc = result.scenario
    cur = sc.currency
    console.print(f"[bold]{sc.name}[/bold]: {sc.horizon_months} months, seed {seed}")

    funnel = Table(title="Funnel", title_justify="left")
    funnel.add_column("stage")
    funnel.add_column("count", justify="right")
    funnel.add_column("of previous", justify="right")
    rows = [("leads", m["leads"]), ("MQLs", m["mqls"]), ("contacted", m["contacted"]),
            ("SQLs", m["sqls"]), ("opportunities", m["opportunities"]), ("won", m["wins"])]
    prev = None
    for name, count in rows:
        funnel.add_row(name, _num(count), "" if prev is None else _pct(count / prev if prev else math.nan))
        prev = count
    console.print(funnel)

    channels = [k.split(".", 1)[1] for k in m if k.startswith("leads.")]
    by_ch = Table(title="By channel", title_justify="left")
    for col in ("channel", "leads", "won", "MQL to won"):
        by_ch.add_column(col, justify="left" if col == "channel" else "right")
    for ch in channels:
        if m[f"leads.{ch}"]:
            by_ch.add_row(ch, _num(m[f"leads.{ch}"]), _num(m[f"wins.{ch}"]), _pct(m[f"mql_to_win.{ch}"]))
    console.print(by_ch)

    acc = m["lead_accounting"]
    where = Table(title="Where every lead is at the horizon", title_justify="left")
    where.add_column("state")
    where.add_column("leads", justify="right")
    for key, value in acc.items():
        where.add_row(key.replace("_", " "), _num(value))
    console.print(where)

    costs = Table(title=f"Costs ({cur})", title_justify="left")
    costs.add_column("category")
    costs.add_column("amount", justify="right")
    for key, value in m.items():
        if key.startswith("cost.") and key != "cost.total":
            costs.add_row(key.removeprefix("cost.").replace("_", " "), _num(value))
    costs.add_row("[bold]total[/bold]", _num(m["cost.total"]))
    console.print(costs)

    kpi = Table(title="Capacity and money", title_justify="left")
    kpi.add_column("measure")
    kpi.add_column("value", justify="right")
    for label, value in [
        ("leads lost cold (never contacted, not recycled)", _num(m["losses.cold_leads"])),
        ("times a lead went cold waiting (recycled ones too)", _num(m["cold_events"])),
        ("response time, median (hours)", _num(m["response_time_median_hours"], 1)),
        ("response time, p90 (hours)", _num(m["response_time_p90_hours"], 1)),
        (f"contacted within SLA ({sc.qualification.sla_hours:g} h)", _pct(m["sla_share"])),
        ("qualifier utilisation", _pct(m["qualifier_utilisation"])),
        ("AE slot utilisation", _pct(m["ae_slot_utilisation"])),
        ("mean MQLs waiting", _num(m["queue_mean_mqls"], 1)),
        ("mean SQLs waiting for an AE", _num(m["queue_mean_sqls"], 1)),
        ("wins lost to waiting (expected: decay and cold)", _num(m["wins_lost.total"], 1)),
        (f"bookings lost to waiting ({cur})", _num(m["bookings_lost.total"])),
        (f"bookings ({cur})", _num(m["bookings"])),
        (f"revenue ({cur})", _num(m["revenue"])),
        (f"ending ARR ({cur})", _num(m["ending_arr"])),
        (f"total cost ({cur})", _num(m["cost.total"])),
        (f"contribution ({cur})", _num(m["contribution"])),
        (f"NPV of contribution ({cur})", _num(m["npv_contribution"])),
        (f"CAC ({cur})", _num(m["cac"])),
        ("LTV:CAC", _num(m["ltv_to_cac"], 2)),
        ("payback (months)", _num(m["payback_months"], 1)),
        ("ROI", _pct(m["roi"])),
        ("open pipeline at horizon (deals)", _num(m["open_pipeline_count"])),
        (f"open pipeline, win-weighted ({cur})", _num(m["open_pipeline_weighted_value"])),
    ]:
        kpi.add_row(label, value)
    if "budget_total" in m:
        kpi.add_row(f"budget unspent ({cur})", _num(m["budget_unspent"]))
    console.print(kpi)


def _fmt(x) -> str:
    """A number readable at any magnitude: counts and money whole, rates with decimals."""
    size = abs(x) if x is not None and math.isfinite(x) else 0
    return _num(x, 0 if size >= 100 or size == 0 else 2 if size >= 1 else 4)


def wide_console(width: int = 150) -> Console:
    """A console for tables: the terminal's width, or ``width`` columns when piped (rather than 80)."""
    return Console(width=None if sys.stdout.isatty() else width)


def experiment_report(experiment, console: Console | None = None) -> None:
    """Print one line per measure: mean, 95% CI of the mean, sd, P10, P50, P90."""
    console = console or wide_console()
    sc = experiment.scenario
    failed = len(experiment.failures)
    console.print(f"[bold]{sc.name}[/bold]: {sc.horizon_months} months, {len(experiment.replications)} "
                  f"replications, root seed {seed_label(experiment.seed)}"
                  + (f", [red]{failed} failed[/red]" if failed else ""))
    table = Table(title="Summary over replications (95% CI of the mean)", title_justify="left")
    table.add_column("measure", no_wrap=True)
    for col in ("mean", "CI low", "CI high", "sd", "P10", "P50", "P90", "n"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, row in experiment.summary().iterrows():
        table.add_row(name, *(_fmt(row[c]) for c in ("mean", "ci_low", "ci_high", "std", "p10", "p50", "p90")),
                      str(int(row["n"])))
    console.print(table)
    rule = experiment.precision
    if rule is not None:
        verdict = "reached" if rule["reached"] else "not reached"
        console.print(f"precision {rule['precision']:g} on {rule['metric']}: {verdict} after "
                      f"{rule['replications']} replications (CI half-width {_pct(rule['relative_half_width'])} "
                      f"of the mean)")
