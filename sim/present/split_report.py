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


def _uncertain_note(scenarios: dict) -> str:
    """With uncertain settings, a line saying that the intervals include their draws (and whose); else ''."""
    drawn = {label: sorted(s.uncertain) for label, s in scenarios.items() if getattr(s, "uncertain", None)}
    if not drawn:
        return ""
    paths = sorted({p for ps in drawn.values() for p in ps})
    some = "" if len(drawn) == len(scenarios) else f" in {', '.join(map(str, drawn))} (the others are certain)"
    return (f"the intervals include parameter uncertainty: each replication ran its own draw of {len(paths)} "
            f"uncertain setting(s){some} ({', '.join(paths)}), the same draw in every alternative that has them")


def comparison_report(comparison, console: Console | None = None, currency: str = "") -> None:
    """Print the alternatives, their paired differences and the evidence for the best."""
    console = console or wide_console(180)
    c = comparison
    level = f"{c.level:.0%}"
    what = f"{c.risk.label} of {c.objective.label}" + (f" ({currency})" if currency else "")
    console.print(f"[bold]{len(c.alternatives)} alternatives[/bold], {c.n} paired replications each; "
                  f"judged by the {what}; intervals are {level} CIs")
    note = _uncertain_note(getattr(c, "scenarios", None) or {})
    if note:
        console.print(note)
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
    for kept, same in c.merged.items():
        console.print(f"{', '.join(same)}: the same scenario as {kept}, run and reported once")
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
    """Print the best split found, what was guaranteed and what was not, and what it cost."""
    console = console or wide_console(180)
    d = diagnostics
    what = f"{d.risk.label} of {d.objective.label}" + (f" ({currency})" if currency else "")
    console.print(f"[bold]best split[/bold] for the {what}: {allocation['label']}")
    table = Table(title="Allocation", title_justify="left")
    table.add_column("setting")
    table.add_column("value", justify="right")
    table.add_column("neighbours compared (±)", justify="right")
    for key, value in allocation.items():
        if key in ("label",):
            continue
        share = key == "marketing_share" or key.startswith("channel_share.")
        tol = d.tolerance.get(key)
        show = _pct if share else _num  # FTE are whole, money is shown to the unit
        table.add_row(key, show(value), "" if tol is None else show(tol))
    console.print(table)
    level = f"{d.comparison.level:.0%}"
    console.print("[bold]what was checked[/bold]:")
    for line in d.guarantee.statements:
        console.print(f"  - {line}")
    fresh = f"on {d.comparison.n} fresh replications the selection did not use"
    console.print(f"objective: {_interval(d.estimate, d.ci_low, d.ci_high)} ({level} CI, {fresh})")
    console.print(f"against today's split: {_interval(*d.vs_today)}")
    if d.vs_today[2] < 0:
        console.print("[yellow]today's split is better than the split chosen: it lies outside the "
                      "bounds, FTE limits or fixed parts given, or the approximation did not shortlist it[/yellow]")
    if d.runner_up is not None:
        console.print(f"runner-up: {d.runner_up}; chosen minus runner-up: {_interval(*d.runner_up_difference)}")
    for kept, same in d.comparison.merged.items():
        console.print(f"{', '.join(same)}: the same split as {kept}, compared once")
    console.print(f"replications: {d.replications_used:,} ({d.selection_replications:,} selecting, "
                  f"{d.fresh_replications:,} fresh); splits simulated: {d.candidates_evaluated}; "
                  f"wall time {d.seconds:.1f} s")


def budget_search_report(allocation: dict, search, console: Console | None = None, currency: str = "") -> None:
    """Print the smallest-budget bracket, what was proven at each end, and the budgets tried."""
    console = console or wide_console(180)
    money = f" {currency}" if currency else ""
    console.print(f"[bold]smallest budget[/bold] reaching {_fmt(search.target)}{money} with probability "
                  f"{_pct(search.probability)}: between {_fmt(search.low)} and {_fmt(search.high)}{money}")
    console.print(f"  - at {_fmt(search.high)}: {search.high_proof}")
    console.print(f"  - at {_fmt(search.low)}: {search.low_proof}")
    table = Table(title="Budgets tried", title_justify="left")
    for col in ("budget", "split", "reached", "share", "lower", "upper", "verdict"):
        table.add_column(col, justify="left" if col in ("split", "verdict") else "right")
    for row in search.tried.itertuples():
        table.add_row(_fmt(row.budget), str(row.split), f"{row.reached}/{search.reps}" if row.split else "",
                      _pct(row.share), _pct(row.lower), _pct(row.upper), row.verdict)
    console.print(table)
    console.print(f"split at the top: {search.label}; reached in {_pct(search.estimate)} of {search.reps} "
                  f"replications ({search.level:.0%} CI [{_pct(search.ci_low)}, {_pct(search.ci_high)}], "
                  f"Clopper-Pearson)")
    console.print(f"replications: {search.replications_used:,}; wall time {search.seconds:.1f} s")


def over_time_report(calendar: dict, diagnostics, console: Console | None = None, currency: str = "") -> None:
    """Print the calendar chosen over time, what was guaranteed and what was not, and its differences with CIs."""
    console = console or wide_console(180)
    d = diagnostics
    what = f"mean of {d.objective.label}" + (f" ({currency})" if currency else "")
    console.print(f"[bold]plan over time[/bold] for the {what}: {calendar['label']}")
    console.print("[bold]calendar[/bold] (months from 0, as in the scenario's hires):")
    for line in calendar["lines"]:
        console.print(f"  - {line}")
    money = f" {currency}" if currency else ""
    console.print(f"cost over the horizon: {calendar['cost']:,.0f}{money} of a budget of {calendar['total']:,.0f}")
    level = f"{d.level:.0%}"
    console.print("[bold]what was checked[/bold]:")
    for line in d.statements:
        console.print(f"  - {line}")
    fresh = f"on {d.comparison.n} fresh replications the selection did not use"
    console.print(f"objective: {_interval(d.estimate, d.ci_low, d.ci_high)} ({level} CI, {fresh})")
    if calendar["label"] != "today":
        console.print(f"against today's plan: {_interval(*d.vs_today)}")
    if d.vs_static is not None:
        console.print(f"against the best static split screened ({calendar['static']}; constant spend, the whole "
                      f"team from day one): {_interval(*d.vs_static)}")
    if d.runner_up is not None:
        console.print(f"runner-up: {d.runner_up}; chosen minus runner-up: {_interval(*d.runner_up_difference)}")
    console.print(f"replications: {d.replications_used:,}; plans simulated: {d.compared}; "
                  f"wall time {d.seconds:.1f} s")


def sensitivity_report(result, console: Console | None = None, currency: str = "") -> None:
    """Print a sensitivity analysis: the ranked settings with their effects or indices, and what was checked."""
    console = console or wide_console(180)
    money = f" ({currency})" if currency else ""
    console.print(f"[bold]sensitivity[/bold] ({result.method}) of the mean of {result.objective.label}{money}")
    table = Table(title_justify="left")
    table.add_column("setting")
    t = result.table
    if result.method == "tornado":
        for name in ("range", "at low [CI]", "at high [CI]", "swing [CI]", "shown"):
            table.add_column(name, justify="right")
        for r in t.itertuples():
            table.add_row(r.setting, f"{r.low:g} to {r.high:g}", _interval(r.at_low, r.at_low_ci_low, r.at_low_ci_high),
                          _interval(r.at_high, r.at_high_ci_low, r.at_high_ci_high),
                          _interval(r.swing, r.swing_ci_low, r.swing_ci_high), "yes" if r.shown else "no")
    else:
        keys = ("S1", "ST") if result.method == "sobol" else ("mu_star", "sigma")
        for k in keys:
            table.add_column(k if k != "mu_star" else "mu*", justify="right")
        table.add_column("shown", justify="right")
        for r in t.to_dict(orient="records"):
            cells = [f"{_index(r[k])} ± {_index(r[k + '_conf'])}" if f"{k}_conf" in r else _index(r[k]) for k in keys]
            table.add_row(r["setting"], *cells, "yes" if r["shown"] else "no")
    console.print(table)
    console.print("[bold]what was checked[/bold]:")
    for line in result.statements:
        console.print(f"  - {line}")


def _index(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
