"""What the terminal shows for budget splits: a comparison (or sweep) and an optimisation."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from sim.present.report import _fmt, _num, _pct, wide_console

__all__ = ["comparison_report", "optimization_report"]


def _interval(estimate, low, high, pct=False) -> str:
    f = _pct if pct else _fmt
    if low is None or not math.isfinite(low):
        return f(estimate)
    return f"{f(estimate)} [{f(low)}, {f(high)}]"


def _vr(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return "inf" if math.isinf(x) else f"{x:.1f}x"


def comparison_report(comparison, console: Console | None = None, currency: str = "") -> None:
    """Print the alternatives, their paired differences and the evidence for the best."""
    console = console or wide_console(180)
    c = comparison
    level = f"{c.level:.0%}"
    what = f"{c.risk.label} of {c.objective.label}" + (f" ({currency})" if currency else "")
    console.print(f"[bold]{len(c.alternatives)} alternatives[/bold], {c.n} paired replications each; "
                  f"judged by the {what}; intervals are {level} CIs")
    table = Table(title="Alternatives", title_justify="left")
    table.add_column("alternative")
    fte = [col for col in c.alternatives.columns if col.startswith("fte.")]
    for col in ("marketing", *(f"{f.removeprefix('fte.')} FTE" for f in fte), "objective [CI]",
                f"vs {c.baseline} [CI]", "vs best [CI]", "P(best) [CI]", "P(selected)", "pairing gain"):
        table.add_column(col, justify="right")
    gains = c.paired[c.paired["against"] == "baseline"].set_index("alternative")["variance_reduction"]
    for label, row in c.alternatives.iterrows():
        name = f"[bold]{label}[/bold]" if label == c.best else str(label)
        table.add_row(
            name, _pct(row.get("marketing_share", math.nan)), *(_num(row[f], 1) for f in fte),
            _interval(row["objective"], row["objective_ci_low"], row["objective_ci_high"]),
            _interval(row["vs_baseline"], row["vs_baseline_ci_low"], row["vs_baseline_ci_high"]),
            _interval(row["vs_best"], row["vs_best_ci_low"], row["vs_best_ci_high"]),
            _interval(row["p_best"], row["p_best_ci_low"], row["p_best_ci_high"], pct=True),
            _pct(row["p_selected"]), _vr(gains.get(label)))
    console.print(table)
    best = c.alternatives.loc[c.best]
    console.print(f"best: [bold]{c.best}[/bold]; against {c.baseline}: "
                  f"{_interval(best['vs_baseline'], best['vs_baseline_ci_low'], best['vs_baseline_ci_high'])}; "
                  f"best in {_pct(best['p_best'])} of replications; picked again in {_pct(best['p_selected'])} "
                  "of bootstrap resamples")
    close = [label for label, row in c.alternatives.iterrows()
             if label != c.best and row["vs_best_ci_high"] >= 0]
    if close:
        console.print(f"not significantly worse than the best: {', '.join(map(str, close))}")
    key = Table(title=f"Key measures (mean ± half-width of the {level} CI)", title_justify="left")
    key.add_column("measure")
    labels = list(c.alternatives.index)
    for label in labels:
        key.add_column(str(label), justify="right")
    rows = c.measures.set_index(["measure", "alternative"])
    for measure in dict.fromkeys(c.measures["measure"]):
        cells = []
        for label in labels:
            row = rows.loc[(measure, label)]
            half = (row["ci_high"] - row["ci_low"]) / 2
            shown = math.isfinite(half) and half > 1e-9 * abs(row["mean"])
            cells.append(_fmt(row["mean"]) + (f" ±{_fmt(half)}" if shown else ""))
        key.add_row(measure, *cells)
    console.print(key)
    if not c.failures.empty:
        console.print(f"[red]{len(c.failures)} replications failed[/red]; they are left out of the pairs")


def optimization_report(allocation: dict, diagnostics, console: Console | None = None, currency: str = "") -> None:
    """Print the best split found, how sure we are, and how the search spent its replications."""
    console = console or wide_console(180)
    d = diagnostics
    what = f"{d.risk.label} of {d.objective.label}" + (f" ({currency})" if currency else "")
    console.print(f"[bold]best split[/bold] for the {what}: {allocation['label']}")
    table = Table(title="Allocation", title_justify="left")
    table.add_column("setting")
    table.add_column("value", justify="right")
    table.add_column("tolerance (±)", justify="right")
    for key, value in allocation.items():
        if key in ("label",):
            continue
        share = key == "marketing_share" or key.startswith("channel_share.")
        tol = d.tolerance.get(key)
        show = _pct if share else _num  # FTE are whole, money is shown to the unit
        table.add_row(key, show(value), "" if tol is None else show(tol))
    console.print(table)
    level = f"{d.comparison.level:.0%}"
    console.print(f"objective: {_interval(d.estimate, d.ci_low, d.ci_high)} ({level} CI)")
    console.print(f"against today's split: {_interval(*d.vs_today)}")
    if d.vs_today[2] < 0:
        console.print("[yellow]today's split is better than every split searched: it lies outside the "
                      "bounds, FTE limits or fixed parts given[/yellow]")
    if d.runner_up is not None:
        console.print(f"runner-up: {d.runner_up}, behind by {_interval(*d.runner_up_difference)}")
    console.print(f"probability of correct selection (among the finalists): {_pct(d.p_correct_selection)}")
    console.print(f"replications used: {d.replications_used:,}; splits evaluated: {d.candidates_evaluated}")
    if d.budget_search is not None:
        search = Table(title="Budgets tried", title_justify="left")
        for col in ("budget", "P(target)", "CI", "reached"):
            search.add_column(col, justify="right")
        for row in d.budget_search.itertuples():
            search.add_row(_fmt(row.budget), _pct(row.probability), f"[{_pct(row.ci_low)}, {_pct(row.ci_high)}]",
                           "yes" if row.reached else "no")
        console.print(search)
        console.print(f"smallest budget reaching the target: between {_fmt(allocation['budget_low'])} and "
                      f"{_fmt(allocation['budget_high'])}")
