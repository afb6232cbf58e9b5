"""Comparing budget splits: alternatives run with common random numbers, judged in pairs.

:func:`compare` runs every alternative with the same replication seeds
(:class:`sim.decide.evaluator.Evaluator`) and :func:`analyse` says what the replications
show: per alternative the objective (under a risk measure) and key measures with
their CIs, the paired difference to the best and to a baseline, the probability that
each alternative is the best, and the variance reduction the pairing bought.
:func:`sweep` does the same over a grid of one or two split settings.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, Risk, mean
from sim.decide.paired import (
    best_share_intervals,
    best_shares,
    bootstrap_rows,
    estimate,
    paired_difference,
    selection_probability,
    variance_reduction,
)
from sim.decide.split import SplitError, current_split, split_alternatives, team_of, with_split
from sim.errors import FunnelError
from sim.model.size import SizeError, size_problems
from sim.montecarlo.replication import root_seed
from sim.montecarlo.store import scenario_fingerprint
from sim.montecarlo.summary import summarise

__all__ = ["KEY_MEASURES", "Alternative", "Comparison", "CompareError", "analyse", "compare", "comparison_problems",
           "merge_identical", "setting_label", "split_alternatives_of", "sweep"]

# The measures shown beside the objective: the funnel, where leads were lost to waiting,
# capacity, and money.
KEY_MEASURES = ["leads", "mqls", "sqls", "wins", "cold_events", "wins_lost.total", "response_time_median_hours",
                "qualifier_utilisation", "ae_slot_utilisation", "bookings", "revenue", "contribution",
                "cost.total", "budget_unspent"]


class CompareError(FunnelError):
    """A comparison that cannot be made; names the parameter at fault and what was expected."""


@dataclass
class Alternative:
    """One candidate: a label, the scenario to run, and the split settings that define it."""

    label: str
    scenario: object
    settings: dict[str, float] = field(default_factory=dict)


@dataclass
class Comparison:
    """What the replications of several alternatives show.

    Attributes:
        objective, risk, level: what alternatives are judged by, and the CI level.
        best: the label with the best objective; ``baseline``: the reference label.
        reps: replications per alternative; ``n``: those every alternative finished
            (the pairs the statistics rest on).
        alternatives: one row per alternative (index ``alternative``): its settings,
            whole FTE bought per role (``fte.<role>``), ``objective`` with its CI,
            the difference to the best and to the baseline with CIs, ``p_best`` (the
            share of replications in which it is best, judged by the risk measure's
            own per-replication values: :func:`sim.decide.paired.risk_samples`) with
            a bootstrap interval,
            and ``p_selected`` (the share of bootstrap resamples in which its objective
            is the best: for the best, the probability of correct selection).
        paired: long table: ``alternative``, ``reference``, ``against`` (``best`` or
            ``baseline``), ``n``, ``difference``, ``ci_low``, ``ci_high``,
            ``variance_reduction`` (independent-runs variance over paired variance).
        measures: per alternative and measure, the summary of :func:`sim.montecarlo.summary.summarise`.
        replications: tidy: alternative, settings, replication, seed, objective, measures.
        monthly: the monthly series, with the alternative and replication.
            ``measures``, ``replications`` and ``monthly`` hold the paired replications
            only; ``failures`` says which were left out.
        failures: replications that raised, by alternative.
        dimensions: for a sweep, the settings of the grid.
        merged: alternatives that were the same scenario as an earlier one, and so
            were run and reported once, under the earlier label: label kept -> the
            labels merged into it.
        currency: the alternatives' currency, when they share one (plots and reports
            label money with it), else empty.
        scenarios: the scenario each alternative ran, by label (what a workbook says
            they were: horizon, budget, the settings that differ).
    """

    objective: Objective
    risk: Risk
    level: float
    best: str
    baseline: str
    reps: int
    n: int
    alternatives: pd.DataFrame
    paired: pd.DataFrame
    measures: pd.DataFrame
    replications: pd.DataFrame = field(repr=False)
    monthly: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)
    dimensions: list[str] = field(default_factory=list)
    merged: dict[str, list[str]] = field(default_factory=dict)
    currency: str = ""
    scenarios: dict[str, object] = field(default_factory=dict, repr=False)

    @property
    def p_best(self) -> pd.DataFrame:
        """Per alternative: ``p_best`` with its interval, and ``p_selected``."""
        return self.alternatives[["p_best", "p_best_ci_low", "p_best_ci_high", "p_selected"]]

    def summary(self) -> pd.DataFrame:
        """Per alternative: its settings, the objective with its CI, the paired differences and P(best)."""
        return self.alternatives.copy()

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: one row per alternative and replication (settings, seed, objective, every measure)."""
        return self.replications.copy()

    def to_excel(self, path, extra: dict[str, pd.DataFrame] | None = None):
        """Write the workbook finance opens (see :func:`sim.present.workbook.write_excel`); returns its path."""
        from sim.present.workbook import write_excel  # the presentation layer, only when asked

        return write_excel(self, path, extra)

    def __repr__(self) -> str:
        return (f"Comparison({len(self.alternatives)} alternatives, best={self.best!r}, baseline={self.baseline!r}, "
                f"judged by the {self.risk.label} of {self.objective.label}, n={self.n} paired replications)")


def setting_label(settings: dict[str, float]) -> str:
    """A short label for split settings: ``marketing 30%, sdr 40%``."""
    parts = []
    for name, value in settings.items():
        short = "marketing" if name == "marketing_share" else name.partition(".")[2]
        parts.append(f"{short} {value * 100:.6g}%")
    return ", ".join(parts)


def analyse(alternatives: list[Alternative], runs: dict[str, pd.DataFrame], *, objective: Objective, risk: Risk,
            baseline: str | None = None, level: float = 0.95, seed: int = 0, reps: int | None = None,
            monthly: dict[str, pd.DataFrame] | None = None, failures: dict[str, list] | None = None,
            measures=None) -> Comparison:
    """Judge ``alternatives`` from their replications (``runs``: label -> replications frame).

    Only replications that every alternative finished are paired. The bootstrap
    resamples are drawn from ``seed``, so the same runs give the same intervals.
    """
    labels = [a.label for a in alternatives]
    baseline = labels[0] if baseline is None else baseline
    if baseline not in labels:
        raise CompareError("baseline", f"{baseline!r} is not an alternative (have: {', '.join(labels)})")
    common = sorted(set.intersection(*(set(runs[a.label]["replication"]) for a in alternatives)))
    if len(common) < 2:
        raise CompareError("reps", f"only {len(common)} replication(s) finished in every alternative; "
                                     "at least 2 are needed to compare")
    frames = {a.label: runs[a.label].set_index("replication").loc[common].reset_index() for a in alternatives}
    values = np.column_stack([objective.values(frames[a.label], a.scenario) for a in alternatives])
    rows = bootstrap_rows(len(common), seed)
    scores = [estimate(values[:, k], risk, level, rows) for k in range(len(labels))]
    best_k = int(np.argmax([s[0] for s in scores]))
    best = labels[best_k]
    base_k = labels.index(baseline)
    shares = best_shares(values, risk)
    share_low, share_high = best_share_intervals(values, level, rows, risk)
    selected = selection_probability(values, risk, rows)

    table, paired = [], []
    for k, alt in enumerate(alternatives):
        row = {"alternative": alt.label, **alt.settings}
        if hasattr(alt.scenario, "plan"):  # a funnel scenario (a test's own model may run anything)
            row.update({f"fte.{r}": float(n) for r, n in team_of(alt.scenario).items()})
        row.update(n=len(common), objective=scores[k][0], objective_ci_low=scores[k][1],
                   objective_ci_high=scores[k][2])
        for against, j in (("best", best_k), ("baseline", base_k)):
            d, low, high = paired_difference(values[:, k], values[:, j], risk, level, rows)
            vr = variance_reduction(values[:, k], values[:, j]) if j != k else float("nan")
            row.update({f"vs_{against}": d, f"vs_{against}_ci_low": low, f"vs_{against}_ci_high": high})
            paired.append({"alternative": alt.label, "reference": labels[j], "against": against,
                           "n": len(common), "difference": d, "ci_low": low, "ci_high": high,
                           "variance_reduction": vr})
        row.update(p_best=float(shares[k]), p_best_ci_low=float(share_low[k]), p_best_ci_high=float(share_high[k]),
                   p_selected=float(selected[k]))
        table.append(row)

    summaries, tidy = [], []
    for alt in alternatives:
        full = frames[alt.label]
        chosen = [m for m in (measures or KEY_MEASURES) if m in full.columns]
        summary = summarise(full, chosen, level).reset_index()
        summaries.append(summary.assign(alternative=alt.label))
        tidy.append(full.assign(alternative=alt.label, **alt.settings,
                                objective=objective.values(full, alt.scenario)))
    measures_table = pd.concat(summaries, ignore_index=True)
    measures_table = measures_table[["alternative", *[c for c in measures_table.columns if c != "alternative"]]]
    settings = list(dict.fromkeys(s for a in alternatives for s in a.settings))
    replications = pd.concat(tidy, ignore_index=True)
    front = ["alternative", *settings, "replication", "seed", "objective"]
    replications = replications[front + [c for c in replications.columns if c not in front]]
    month_frames = [m[m["replication"].isin(common)].assign(alternative=label)
                    for label, m in (monthly or {}).items() if not m.empty]
    monthly_table = pd.concat(month_frames, ignore_index=True) if month_frames else pd.DataFrame()
    if not monthly_table.empty:
        monthly_table = monthly_table[["alternative", *[c for c in monthly_table.columns if c != "alternative"]]]
    failed = [{"alternative": label, **{k: f[k] for k in ("replication", "seed", "error")}}
              for label, fs in (failures or {}).items() for f in fs]
    currencies = {getattr(a.scenario, "currency", "") or "" for a in alternatives}
    return Comparison(
        currency=currencies.pop() if len(currencies) == 1 else "",
        scenarios={a.label: a.scenario for a in alternatives},
        objective=objective, risk=risk, level=level, best=best, baseline=baseline,
        reps=reps if reps is not None else len(common), n=len(common),
        alternatives=pd.DataFrame(table).set_index("alternative"), paired=pd.DataFrame(paired),
        measures=measures_table, replications=replications, monthly=monthly_table,
        failures=pd.DataFrame(failed, columns=["alternative", "replication", "seed", "error"]))


def merge_identical(alternatives: list[Alternative]) -> tuple[list[Alternative], dict[str, list[str]]]:
    """The alternatives with each scenario once (the first label kept), and which labels were merged into which.

    Two labels for one scenario would be compared with themselves: a difference of
    exactly zero and P(best) split between them, which says nothing.
    """
    kept: dict[str, Alternative] = {}
    merged: dict[str, list[str]] = {}
    for alt in alternatives:
        key = scenario_fingerprint(alt.scenario)
        if key in kept:
            merged.setdefault(kept[key].label, []).append(alt.label)
        else:
            kept[key] = alt
    return list(kept.values()), merged


def _check_labels(alternatives: list[Alternative]) -> None:
    labels = [a.label for a in alternatives]
    if len(alternatives) < 1:
        raise CompareError("alternatives", "nothing to compare")
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise CompareError("alternatives", f"labels must differ; given more than once: {', '.join(twice)}")


def comparison_problems(*, reps=100, level=0.95) -> list[tuple[str, str]]:
    """What is wrong with the replications and the confidence level of a comparison (nothing runs)."""
    problems = []
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        problems.append(("reps", f"expected an integer of at least 2 (pairs to compare), got {reps!r}"))
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        problems.append(("level", f"expected a confidence level between 0 and 1 (e.g. 0.95), got {level!r}"))
    return problems


def compare(alternatives, reps: int = 100, seed=0, *, objective: Objective | None = None,
            risk: Risk | None = None, baseline: str | None = None, level: float = 0.95, workers: int = 1,
            backend: str = "local", scheduler: str | None = None, out=None, chunk_size: int | None = None,
            progress=None, dimensions=None, limits=None) -> Comparison:
    """Run ``alternatives`` with common random numbers and compare them.

    Args:
        alternatives: a list of :class:`Alternative`, or a mapping label -> scenario.
        reps: replications per alternative (replication ``i`` has the same seed in each).
        seed: the root seed (an int, a SeedSequence or a Generator).
        objective: what each replication is judged by (default: contribution).
        risk: how the replications' objectives are summarised (default: the mean).
        baseline: the label differences are also reported against (default: the first).
        level: confidence level of every interval.
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"`` (as :func:`sim.run_many`).
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        chunk_size: replications per task (default: up to 10).
        out: a directory to keep the replications in; running again resumes.
        progress: called as ``progress(done, total)``.
        dimensions: the grid settings, for a sweep.
        limits: how big one replication may be (:func:`sim.simulate`'s); every
            alternative is checked before anything runs.

    Raises:
        CompareError: a setting that cannot work (every one at once).
        sim.model.size.SizeError: an alternative too big to run, one line each.
    """
    if isinstance(alternatives, dict):
        alternatives = [Alternative(label, sc) for label, sc in alternatives.items()]
    alternatives = list(alternatives)
    _check_labels(alternatives)
    labels = [a.label for a in alternatives]
    problems = comparison_problems(reps=reps, level=level)  # checked before anything runs
    if baseline is not None and baseline not in labels:
        problems.insert(0, ("baseline", f"{baseline!r} is not an alternative (have: {', '.join(labels)})"))
    if problems:
        raise CompareError(*problems[0], problems=problems)
    if too_big := [p for a in alternatives for p in size_problems(a.scenario, limits, label=a.label)]:
        raise SizeError(*too_big[0], problems=too_big)
    objective = objective or Objective()
    risk = risk or mean()
    seed = root_seed(seed)
    alternatives, merged = merge_identical(alternatives)
    if baseline is not None:
        baseline = next((kept for kept, same in merged.items() if baseline in same), baseline)
    with Evaluator(seed, workers=workers, backend=backend, scheduler=scheduler, out=out, chunk_size=chunk_size,
                   progress=progress) as evaluator:
        evaluator.run([a.scenario for a in alternatives], reps)
        evaluator.finish()
        runs = {a.label: evaluator.replications(a.scenario, reps) for a in alternatives}
        monthly = {a.label: evaluator.monthly(a.scenario, reps) for a in alternatives}
        failures = {a.label: evaluator.failures(a.scenario, reps) for a in alternatives}
    empty = [label for label, frame in runs.items() if frame.empty]
    if empty:
        raise CompareError("alternatives", f"every replication failed for {', '.join(empty)}; "
                                           "run one alone (sim.simulate) to see why")
    comparison = analyse(alternatives, runs, objective=objective, risk=risk, baseline=baseline, level=level,
                         seed=seed, reps=reps, monthly=monthly, failures=failures)
    comparison.dimensions = list(dimensions or [])
    comparison.merged = merged
    return comparison


def todays_split_at(scenario, budget: float | None, problems: list):
    """Today's split (:func:`sim.decide.split.current_split`), with ``budget`` as its total if given.

    A budget that is not a positive amount is added to ``problems`` (and today's total kept).
    """
    base = current_split(scenario)
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget < math.inf:
            problems.append(("budget", f"expected a positive amount, got {budget!r}"))
        else:
            base = dataclasses.replace(base, total=float(budget))
    return base


def split_alternatives_of(scenario, grid: dict[str, list[float]], budget: float | None = None,
                          today: bool = True) -> list[Alternative]:
    """Alternatives for every combination of split settings (``grid``), plus ``today``.

    ``budget`` replaces the total of today's split (:func:`sim.decide.split.current_split`).

    Raises:
        SplitError: naming each setting (or ``budget``) that cannot be used.
    """
    problems = []
    base = todays_split_at(scenario, budget, problems)
    try:
        splits = split_alternatives(base, grid)
    except SplitError as exc:
        problems += exc.problems
    if problems:
        raise SplitError(*problems[0], problems=problems)
    out = [Alternative("today", with_split(scenario, base), base.shares())] if today else []
    for settings, split in splits:
        out.append(Alternative(setting_label(settings), with_split(scenario, split), split.shares()))
    return out


def sweep(scenario, grid: dict[str, list], reps: int = 100, seed=0, *, budget: float | None = None,
          **options) -> Comparison:
    """:func:`compare` over a grid of one or two settings, with today's plan as the baseline.

    ``grid`` maps a setting to its values: a split setting (``marketing_share``,
    ``role_share.<role>``, ``channel_share.<channel>``) or a path into the scenario
    (``roles.sdr.fte``, ``qualification.decay.half_life_hours``; see
    :mod:`sim.decide.what_if`), with numbers as values. ``budget`` replaces today's
    split's total. Other options are those of :func:`compare`.

    Raises:
        CompareError: not one or two settings, a value that is not a number, or a path
            the scenario refuses (each named).
    """
    if not isinstance(grid, dict) or not 1 <= len(grid) <= 2:
        given = len(grid) if isinstance(grid, dict) else repr(grid)
        raise CompareError("grid", f"a sweep varies one or two settings, got {given}")
    from sim.decide.what_if import alternatives_of, is_split_setting

    words = [(name, f"a sweep varies numbers, got {v!r}; compare other values with sim.compare")
             for name, values in grid.items() for v in (values if isinstance(values, (list, tuple)) else [])
             if isinstance(v, bool) or not isinstance(v, (int, float))]
    if words:
        raise CompareError(*words[0], problems=words)
    if all(is_split_setting(name) for name in grid):
        alternatives = split_alternatives_of(scenario, grid, budget)
    else:
        alternatives = alternatives_of(scenario, grid, budget=budget)
    options.setdefault("baseline", "today")
    return compare(alternatives, reps, seed, dimensions=list(grid), **options)
