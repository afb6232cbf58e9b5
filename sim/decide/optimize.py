"""Finding the best budget split: screen fast, select with a guarantee, report on fresh replications.

The decision is the whole-FTE headcount of each free role and the mix of the free
channels; the marketing share follows, because the budget is spent in full: the
salaries of the headcount and the fixed channels' spend come first and the rest goes
to the free channels. Fixed roles keep today's headcount and fixed channels today's
spend; with every channel fixed, what the team leaves is unspent (and reported).

1. **Screen** (:mod:`sim.decide.screen`): a pattern search on the fast approximation
   (:func:`sim.model.approximate`, expected values, no replication) from today's split
   and a few Sobol points; its best, that best's neighbours (1 FTE up or down per
   role, ``channel_step`` of budget between two channels), today's split and the next
   best make a shortlist of ``contenders``.
2. **Select** (:mod:`sim.decide.selection`): Kim and Nelson's fully sequential KN
   procedure on the discrete-event model, with common random numbers: for the mean
   (or, under ``probability``, the indicator of reaching the target) it chooses, with
   confidence ``level``, a split within ``delta`` of the best of the contenders.
   VaR and CVaR are not means, so KN does not apply: every contender gets
   ``4 * initial_reps`` replications and the best estimate is chosen, with no guarantee.
3. **Report**: the chosen split, the runner-up and today's split exactly as it is run
   ``fresh_reps`` *fresh* replications (indices from :data:`FRESH_START`, which the
   selection never saw; common random numbers among them), and the estimate, its CI and
   the differences come from those, so the selection's luck does not flatter them.

:class:`Guarantee` says in words what was checked and what was not.
:func:`smallest_budget` answers the inverse question, the smallest budget whose best
split reaches a target with a given probability, by bisection on the budget.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from sim.decide.compare import Alternative, Comparison, analyse
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, Risk, mean, probability_of_target
from sim.decide.paired import bootstrap_rows, paired_difference, risk_samples
from sim.decide.screen import contenders as shortlist
from sim.decide.screen import score_of, screen, starts_for
from sim.decide.search_space import (
    BudgetTooSmall,
    Candidate,
    OptimizeError,
    SearchSpace,
    search_space,
    today_candidate,
)
from sim.decide.search_space import neighbours as neighbours_of
from sim.decide.selection import Selection, kn
from sim.decide.split import SplitError, current_split, with_split
from sim.model.size import check_size
from sim.montecarlo.replication import root_seed

__all__ = ["FRESH_START", "BudgetSearch", "Diagnostics", "Guarantee", "OptimizeError", "budget_search_problems",
           "clopper_pearson", "optimize", "race_problems", "smallest_budget"]

# The first index of the fresh replications: above any the selection may use (max_reps is below it).
FRESH_START = 1_000_000
DEFAULT_DELTA_SHARE = 0.01  # of today's approximate objective, for the mean
DEFAULT_DELTA_BUDGET_SHARE = 0.005  # of the budget at least, for an objective in money
DEFAULT_DELTA_PROBABILITY = 0.05  # for the probability of reaching a target


@dataclass
class Guarantee:
    """What the optimiser checked, in numbers and in words.

    Attributes:
        procedure: ``"KN"`` or ``"none"`` (VaR and CVaR).
        delta: the indifference zone, in the objective's (risk measure's) unit.
        level: the confidence.
        compared: how many splits the selection compared on the discrete-event model.
        holds: the selection finished by its own rule with KN, so the statement holds;
            ``False`` when ``max_reps`` cut it short or no procedure applies.
        neighbours: per setting (``fte.<role>``, ``channel_mix``), whether the answer's
            neighbours (1 FTE up and down; ``channel_step`` between channels) were
            among the compared.
        screened: splits the approximation evaluated; ``screen_converged``: its search
            ended at a local optimum of the approximation.
        statements: the sentences the report prints.
    """

    procedure: str
    delta: float
    level: float
    compared: int
    holds: bool
    neighbours: dict[str, bool]
    screened: int
    screen_converged: bool
    statements: list[str] = field(default_factory=list)


@dataclass
class Diagnostics:
    """How the optimiser reached its answer, and how sure it is.

    Attributes:
        objective, risk: what was optimised.
        estimate, ci_low, ci_high: the chosen split's objective and its CI, from the
            fresh replications.
        replications_used: replications asked for, the fresh ones included (a resumed
            search counts those it found done, so it replays the same search).
        selection_replications, fresh_replications: of which in the selection, and fresh.
        candidates_evaluated: distinct splits run on the discrete-event model.
        runner_up: the label of the split the selection ranked second, and
            ``runner_up_difference`` (chosen minus runner-up) with its CI, fresh.
        p_selected: in the fresh replications, the share of bootstrap resamples in
            which the chosen split is still the best of chosen, runner-up and today.
        tolerance: per setting whose neighbours were compared, the step to them (the
            guarantee covers those neighbours); settings whose neighbours were not
            compared are absent.
        vs_today: the chosen split minus today's split, with its CI, fresh.
        guarantee: a :class:`Guarantee`.
        comparison: the fresh comparison (chosen, runner-up, today).
        history: every split compared: its settings, the approximation's score,
            replications, mean and where it was eliminated.
        seconds: wall time.
    """

    objective: Objective
    risk: Risk
    estimate: float
    ci_low: float
    ci_high: float
    replications_used: int
    selection_replications: int
    fresh_replications: int
    candidates_evaluated: int
    runner_up: str | None
    runner_up_difference: tuple[float, float, float] | None
    p_selected: float
    tolerance: dict[str, float]
    vs_today: tuple[float, float, float]
    guarantee: Guarantee
    comparison: Comparison = field(repr=False)
    history: pd.DataFrame = field(repr=False)
    seconds: float = 0.0


def optimize(scenario, *, objective: Objective | None = None, risk: Risk | None = None, budget: float | None = None,
             fixed=(), min_fte=None, max_fte=None, bounds=None, seed=0, level: float = 0.95,
             delta: float | None = None, contenders: int = 6, initial_reps: int = 10, race_batch: int = 10,
             max_reps: int = 200, fresh_reps: int = 20, channel_step: float = 0.05, approximate=None,
             workers: int = 1, backend: str = "local", scheduler: str | None = None, out=None,
             progress=None, evaluator: Evaluator | None = None, limits=None) -> tuple[dict, Diagnostics]:
    """The best split of ``scenario``'s budget: ``(allocation, diagnostics)``.

    Args:
        scenario: a validated scenario; today's split (:func:`sim.decide.split.current_split`)
            gives the budget, the starting point and the fixed parts.
        objective: what each replication is judged by (default: contribution).
        risk: how the replications' objectives are summarised (default: the mean).
        budget: the budget for the horizon (default: today's split's total).
        fixed: roles that keep today's headcount and channels that keep today's spend.
        min_fte: per role, the least whole FTE (default 0, or 1 for AEs).
        max_fte: per role, the most whole FTE (default: what the budget pays).
        bounds: per setting (``marketing_share`` or ``channel_share.<channel>``), ``(low, high)``.
        seed: the root seed (an int, a SeedSequence or a Generator); every split's
            replication ``i`` has the same seed.
        level: the confidence of the selection and of the reported intervals.
        delta: the indifference zone: differences smaller than this do not matter, in
            the objective's unit (the risk measure's: a probability for
            ``probability``). Default: 1% of today's split's approximate objective
            for the mean (for money, at least 0.5% of the budget, so that an objective
            near zero does not ask for differences no one would act on), 0.05 for a
            probability.
        contenders: splits the selection compares (today's is always one).
        initial_reps: the selection's first-stage replications per split.
        race_batch: replications added at once while the selection runs.
        max_reps: replications per split at most in the selection; reaching it ends
            the selection without its guarantee (and the report says so).
        fresh_reps: fresh replications of the chosen split, the runner-up and today's.
        channel_step: the finest move of marketing budget between two channels.
        approximate: the fast approximation, ``scenario -> measures`` (default
            :func:`sim.model.approximate`).
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"``.
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        out: a directory to keep every split's replications in; running again resumes.
        progress: called as ``progress(done, total)`` while replications run.
        evaluator: an open :class:`sim.decide.evaluator.Evaluator` to run on (then the
            running options are ignored); :func:`smallest_budget` shares one.
        limits: how big one replication may be (:func:`sim.simulate`'s): the default
            approximation checks every split it screens, so none past them is simulated.

    Returns:
        ``allocation``: the settings of the best split (``marketing_share``,
        ``channel_share.<c>``, ``fte.<role>``), its monthly spend per channel
        (``spend_month.<c>``), ``total``, ``unspent`` and ``label``;
        ``diagnostics``: a :class:`Diagnostics`.
    """
    began = time.perf_counter()
    objective = objective or Objective()
    risk = risk or mean()
    problems = race_problems(contenders=contenders, initial_reps=initial_reps, race_batch=race_batch,
                             max_reps=max_reps, fresh_reps=fresh_reps, level=level, delta=delta,
                             channel_step=channel_step)
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    try:
        space = search_space(scenario, budget=budget, fixed=fixed, min_fte=min_fte, max_fte=max_fte, bounds=bounds)
    except SplitError as exc:
        raise OptimizeError("scenario", exc.message) from None
    if approximate is None:
        from sim.model import approximate as _approximate

        approximate = functools.partial(_approximate, limits=limits)
    settings = dict(objective=objective, risk=risk, level=level, delta=delta, contenders=contenders,
                    initial_reps=initial_reps, race_batch=race_batch, max_reps=max_reps, fresh_reps=fresh_reps,
                    channel_step=channel_step, approximate=approximate)
    if evaluator is None:
        root = root_seed(seed)
        with Evaluator(root, workers=workers, backend=backend, scheduler=scheduler, out=out,
                       progress=progress) as ev:
            result = _optimize(scenario, space, ev, root, **settings)
            ev.finish()
    else:
        result = _optimize(scenario, space, evaluator, evaluator.seed, **settings)
    result[1].seconds = time.perf_counter() - began
    return result


def race_problems(*, contenders=6, initial_reps=10, race_batch=10, max_reps=200, fresh_reps=20, level=0.95,
                  delta=None, channel_step=0.05) -> list[tuple[str, str]]:
    """What is wrong with the search settings of :func:`optimize`, as ``(parameter, message)`` (nothing runs)."""
    problems = []
    for name, value, lowest in (("contenders", contenders, 2), ("initial_reps", initial_reps, 2),
                                ("race_batch", race_batch, 1), ("max_reps", max_reps, 2),
                                ("fresh_reps", fresh_reps, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            problems.append((name, f"expected an integer of at least {lowest}, got {value!r}"))
    wrong = {name for name, _ in problems}
    if not wrong & {"initial_reps", "max_reps"} and max_reps < initial_reps:
        problems.append(("max_reps", f"must be at least {{initial_reps}} ({initial_reps}), got {max_reps}"))
    if "max_reps" not in wrong and max_reps >= FRESH_START:
        problems.append(("max_reps", f"must be below {FRESH_START:,} (the fresh replications start there)"))
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        problems.append(("level", f"expected a confidence level between 0 and 1 (e.g. 0.95), got {level!r}"))
    if delta is not None and (isinstance(delta, bool) or not isinstance(delta, (int, float))
                              or not 0 < delta < math.inf):
        problems.append(("delta", f"expected a positive amount (the difference that matters), got {delta!r}"))
    if isinstance(channel_step, bool) or not isinstance(channel_step, (int, float)) or not 0 < channel_step <= 0.5:
        problems.append(("channel_step", f"expected a share above 0 and at most 0.5 (e.g. 0.05), got {channel_step!r}"))
    return problems


def _optimize(scenario, space: SearchSpace, evaluator: Evaluator, seed, *, objective, risk, level, delta, contenders,
              initial_reps, race_batch, max_reps, fresh_reps, channel_step, approximate):
    start_requested = evaluator.replications_requested
    score = score_of(scenario, space, objective, approximate)
    today = today_candidate(scenario, space)
    starts = starts_for(space, today, 2, seed)
    if not starts:
        raise OptimizeError("bounds", "no split keeps every bound; widen {bounds}, {min_fte} or {max_fte}")
    found = screen(scenario, space, score, starts=starts, channel_step=channel_step)
    cands = shortlist(found, space, score, today, contenders)
    if delta is None:
        if risk.name == "probability":
            delta = DEFAULT_DELTA_PROBABILITY
        else:
            reference = found.scores[today] if today is not None else found.scores[found.best]
            delta = DEFAULT_DELTA_SHARE * abs(reference)
            if objective.name != "new_customers":  # money: never below a stated share of the budget
                delta = max(delta, DEFAULT_DELTA_BUDGET_SHARE * space.total)
            if delta <= 0:
                raise OptimizeError("delta", "today's split's approximate objective is 0, so 1% of it is no "
                                             "indifference zone; give {delta}")
    scenarios = {c: space.scenario(scenario, c) for c in cands}

    def values(alive: list[int], r: int) -> np.ndarray:
        chosen = [scenarios[cands[i]] for i in alive]
        evaluator.run(chosen, r)
        frames = [evaluator.replications(sc, r) for sc in chosen]
        short = [space.label(cands[i]) for i, f in zip(alive, frames, strict=True) if len(f) < r]
        if short:
            raise OptimizeError("scenario", f"replications failed for {short[0]}; run it alone (sim.simulate) "
                                            "to see why")
        x = np.column_stack([objective.values(f, sc) for f, sc in zip(frames, chosen, strict=True)])
        return risk_samples(x, risk) if risk.name == "probability" else x

    if risk.name in ("mean", "probability"):
        selection = kn(values, len(cands), delta=delta, alpha=1 - level, first_stage=initial_reps,
                       batch=race_batch, max_reps=max_reps)
        procedure = "KN"
    else:
        selection = _best_estimate(values, len(cands), 4 * initial_reps, risk)
        procedure = "none"
    selection_used = evaluator.replications_requested - start_requested
    return _report(scenario, space, evaluator, seed, cands, scenarios, found, selection, procedure, objective, risk,
                   level, delta, fresh_reps, channel_step, start_requested, selection_used)


def _best_estimate(values, systems: int, reps: int, risk: Risk) -> Selection:
    """Every split at ``reps`` replications, the best risk estimate chosen (no procedure with a guarantee)."""
    x = values(list(range(systems)), reps)
    scores = risk(x.T)
    chosen = int(np.argmax(scores))
    return Selection(chosen, False, [reps] * systems, [None] * systems, [float(v) for v in scores], 0.0, 0.0, 0.0,
                     reps, list(range(systems)))


def _report(scenario, space, evaluator, seed, cands, scenarios, found, selection: Selection, procedure, objective,
            risk, level, delta, fresh_reps, channel_step, start_requested, selection_used):
    chosen = cands[selection.chosen]
    order = sorted(range(len(cands)), key=lambda i: (selection.eliminated_at[i] is None, selection.replications[i],
                                                     selection.means[i]), reverse=True)
    runner_i = next((i for i in order if i != selection.chosen), None)
    runner = cands[runner_i] if runner_i is not None else None
    # Today's split exactly as it is (at this budget), unspent money and all: the
    # search's own version of it spends the whole budget, so it is a different split.
    today_split = dataclasses.replace(current_split(scenario), total=space.total)
    today_scenario = with_split(scenario, today_split)
    bought = today_scenario.plan.budget.fte
    today_settings = {k: v for k, v in today_split.shares().items() if not k.startswith("role_share.")}
    today_settings.update({f"fte.{r}": float(bought[r]) for r in space.cost_per_fte})
    labels = {}
    for c in cands:
        label = space.label(c)
        # Percentages are rounded in labels; two mixes can read the same.
        labels[c] = label if label not in labels.values() else f"{label} (#{len(labels) + 1})"
    finalists = [chosen] + ([runner] if runner is not None else [])
    alternatives = [Alternative(labels[c], scenarios[c], space.settings(c)) for c in finalists]
    same_as_today = [a.label for a in alternatives if _same_plan(a.scenario, today_scenario)]
    if not same_as_today:
        alternatives.append(Alternative("today", today_scenario, today_settings))
    baseline = same_as_today[0] if same_as_today else "today"
    evaluator.run([a.scenario for a in alternatives], fresh_reps, start=FRESH_START)
    runs = {a.label: evaluator.replications(a.scenario, fresh_reps, start=FRESH_START) for a in alternatives}
    if any(len(f) < 2 for f in runs.values()):
        raise OptimizeError("fresh_reps", "fewer than 2 fresh replications finished; run the chosen split alone "
                                          "(sim.simulate) to see why")
    monthly = {a.label: evaluator.monthly(a.scenario, fresh_reps, start=FRESH_START) for a in alternatives}
    comparison = analyse(alternatives, runs, objective=objective, risk=risk, baseline=baseline, level=level,
                         seed=seed, reps=fresh_reps, monthly=monthly)
    if same_as_today:
        comparison.merged = {baseline: ["today"]}
    table = comparison.alternatives
    best = labels[chosen]
    values = comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    rows = bootstrap_rows(len(values), seed)
    diff = None
    if runner is not None:
        diff = tuple(float(v) for v in paired_difference(values[best].to_numpy(), values[labels[runner]].to_numpy(),
                                                         risk, level, rows))
    vs_today = tuple(float(table.loc[best, k]) for k in ("vs_baseline", "vs_baseline_ci_low", "vs_baseline_ci_high"))
    guarantee = _guarantee(scenario, space, cands, chosen, selection, procedure, found, delta, level, channel_step,
                           risk, objective)
    tolerance = {}
    for key, compared in guarantee.neighbours.items():
        if compared:
            if key == "channel_mix":
                tolerance.update({f"channel_share.{c}": channel_step for c in space.free_channels})
            else:
                tolerance[key] = 1.0
    history = pd.DataFrame([{"alternative": labels[c], **space.settings(c), "approximate": found.scores.get(c),
                             "replications": selection.replications[i], "mean": selection.means[i],
                             "eliminated_at": selection.eliminated_at[i], "chosen": i == selection.chosen}
                            for i, c in enumerate(cands)])
    used = evaluator.replications_requested - start_requested
    diagnostics = Diagnostics(
        objective=objective, risk=risk, estimate=float(table.loc[best, "objective"]),
        ci_low=float(table.loc[best, "objective_ci_low"]), ci_high=float(table.loc[best, "objective_ci_high"]),
        replications_used=used, selection_replications=selection_used, fresh_replications=used - selection_used,
        candidates_evaluated=len(cands), runner_up=labels[runner] if runner is not None else None,
        runner_up_difference=diff, p_selected=float(table.loc[best, "p_selected"]), tolerance=tolerance,
        vs_today=vs_today, guarantee=guarantee, comparison=comparison, history=history)
    return _allocation(space, chosen, scenario.horizon_months, best), diagnostics


def _allocation(space: SearchSpace, cand: Candidate, months: int, label: str) -> dict:
    """A candidate's settings, monthly spend per channel, the budget, what is left unspent, and its label."""
    spend = space.spend(dict(cand.fte), dict(cand.mix))
    return {**space.settings(cand), **{f"spend_month.{c}": s / months for c, s in spend.items()},
            "total": space.total, "unspent": space.total - space.salaries(dict(cand.fte)) - sum(spend.values()),
            "label": label}


def _same_plan(a, b) -> bool:
    """Whether two scenarios run the same plan: the same teams, and spend equal but for round-off.

    Today's split rebuilt by the search spends what today's does up to a last digit
    (shares times the budget), so its fingerprint differs though it is the same split.
    """
    pa, pb = a.plan, b.plan
    if dict(pa.roles) != dict(pb.roles) or set(pa.spend) != set(pb.spend):
        return False
    return all(np.allclose(pa.spend[c], pb.spend[c], rtol=1e-9, atol=1e-6) for c in pa.spend)


def _amount(x: float, risk: Risk) -> str:
    return f"{x:.3g}" if risk.name == "probability" else f"{x:,.0f}"


def _guarantee(scenario, space: SearchSpace, cands: list[Candidate], chosen: Candidate, selection: Selection,
               procedure: str, found, delta: float, level: float, channel_step: float, risk: Risk,
               objective: Objective) -> Guarantee:
    compared = set(cands)
    neighbours = {}
    fte = dict(chosen.fte)
    for r, (lo, hi) in space.fte_bounds.items():
        near = [Candidate.of({**fte, r: fte[r] + s}, dict(chosen.mix)) for s in (-1, 1) if lo <= fte[r] + s <= hi]
        near = [c for c in near if space.feasible(dict(c.fte), dict(c.mix))]
        neighbours[f"fte.{r}"] = all(c in compared for c in near)
    if len(space.free_channels) > 1:
        moves = [c for c in neighbours_of(chosen, space, dict.fromkeys(space.fte_bounds, 0), channel_step)
                 if c.fte == chosen.fte and c != chosen]
        neighbours["channel_mix"] = all(c in compared for c in moves)
    holds = procedure == "KN" and selection.finished
    currency = f" {scenario.currency}" if objective.name != "new_customers" and scenario.currency else ""
    unit = "" if risk.name == "probability" else f"{currency} of {objective.label}"
    lines = []
    if holds:
        lines.append(f"best of the {len(cands)} splits compared, within {_amount(delta, risk)}{unit} "
                     f"({risk.label}) at {level:.0%} confidence (Kim-Nelson selection, common random numbers"
                     + ("; indicators of reaching the target, normal approximation)" if risk.name == "probability"
                        else ")"))
    elif procedure == "KN":
        lines.append(f"no guarantee: the selection reached max_reps ({max(selection.replications)} replications "
                     f"per split) before it finished; the answer is the best estimate of the "
                     f"{len(selection.survivors)} splits still in")
    else:
        lines.append(f"no guarantee: {risk.label} is not a mean, so no selection procedure with a guarantee "
                     f"applies; the answer is the best estimate of the {len(cands)} splits compared at "
                     f"{selection.first_stage} replications each")
    for key, ok in neighbours.items():
        what = f"neighbours ±1 FTE of {key.partition('.')[2]}" if key.startswith("fte.") else \
            f"channel mix: moves of {channel_step:.0%} of marketing budget between two channels"
        lines.append(f"{what}: {'compared' if ok else 'not compared'}")
    lines.append(f"screened {found.evaluations} splits with the fast approximation (expected values); its search "
                 + ("ended at a local optimum of the approximation" if found.converged else
                    "stopped at its evaluation limit before a local optimum")
                 + "; splits it did not shortlist were not simulated, so the answer is the best of those compared, "
                   "not proven the best of all")
    return Guarantee(procedure=procedure, delta=float(delta), level=level, compared=len(cands), holds=holds,
                     neighbours=neighbours, screened=found.evaluations, screen_converged=found.converged,
                     statements=lines)


def budget_search_problems(*, probability, budget_range=None, budget_tolerance=0.05) -> list[tuple[str, str]]:
    """What is wrong with the settings of :func:`smallest_budget`, as ``(parameter, message)`` (nothing runs)."""
    problems = []
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability < 1:
        problems.append(("probability", f"expected a probability between 0 and 1, got {probability!r}"))
    if isinstance(budget_tolerance, bool) or not isinstance(budget_tolerance, (int, float)) \
            or not 0 < budget_tolerance < 1:
        problems.append(("budget_tolerance", f"expected a share between 0 and 1, got {budget_tolerance!r}"))
    if budget_range is not None:
        pair = tuple(budget_range) if isinstance(budget_range, (tuple, list)) else ()
        ok = len(pair) == 2 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)
        if not (ok and 0 <= pair[0] < pair[1] < math.inf):
            problems.append(("budget_range", f"expected (low, high) with 0 <= low < high, got {budget_range!r}"))
    return problems


@dataclass
class BudgetSearch:
    """What :func:`smallest_budget` proved.

    Attributes:
        target, probability, level: the question: the objective to reach, with which
            probability, and the confidence of the bounds.
        reps: replications per split at every budget (the same indices everywhere).
        low, high: the bracket: ``high`` was shown to reach the target, ``low`` was
            not (see ``low_proof``).
        high_proof, low_proof: what was shown at each end, in words.
        label: the split that reaches the target at ``high``; ``estimate``,
            ``ci_low``, ``ci_high``: its share of replications reaching it and a
            two-sided Clopper-Pearson interval.
        tried: one row per budget and split compared: ``budget``, ``split``,
            ``reached`` (replications), ``share``, ``lower`` and ``upper`` (one-sided
            Clopper-Pearson bounds), ``verdict`` of the budget.
        replications_used, seconds: the cost.
    """

    target: float
    probability: float
    level: float
    reps: int
    low: float
    high: float
    high_proof: str
    low_proof: str
    label: str
    estimate: float
    ci_low: float
    ci_high: float
    tried: pd.DataFrame = field(repr=False)
    replications_used: int = 0
    seconds: float = 0.0


def clopper_pearson(reached: int, n: int, level: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds at ``level``: ``(lower, upper)``, for ``reached`` successes in ``n``."""
    lower = 0.0 if reached == 0 else float(stats.beta.ppf(1 - level, reached, n - reached + 1))
    upper = 1.0 if reached == n else float(stats.beta.ppf(level, reached + 1, n - reached))
    return lower, upper


def smallest_budget(scenario, *, target: float, probability: float, objective: Objective | None = None,
                    budget_range: tuple[float, float] | None = None, budget_tolerance: float = 0.05,
                    reps: int = 60, level: float = 0.95, seed=0, fixed=(), min_fte=None, max_fte=None, bounds=None,
                    channel_step: float = 0.05, approximate=None, workers: int = 1, backend: str = "local",
                    scheduler: str | None = None, out=None, progress=None,
                    limits=None) -> tuple[dict, BudgetSearch]:
    """The smallest budget at which a split reaches ``target`` with probability at least ``probability``.

    At each budget tried, two splits are compared on the same ``reps`` replications
    (the same indices at every budget, so the bisection follows the budget, not new
    luck): today's split scaled to the budget, and the best split for the expected
    objective that the fast approximation finds there (:mod:`sim.decide.screen`).
    A budget **reaches** the target when one of them has a one-sided Clopper-Pearson
    lower bound at ``level`` (Bonferroni over the two) of at least ``probability``; it
    is shown **not** to when both upper bounds are below it. Bisection over
    ``budget_range`` (default from 0 to twice today's budget, the top doubled up to
    three times if needed) keeps a reached top and an unreached bottom, until the
    bracket is narrower than ``budget_tolerance`` of its top.

    ``limits`` bounds one replication's size as in :func:`optimize`; a budget whose
    splits would be bigger stops the search with a :class:`sim.model.size.SizeError`.

    Returns:
        ``allocation`` (the reaching split's settings at the top, as :func:`optimize`'s,
        with ``budget_low`` and ``budget_high``) and a :class:`BudgetSearch`.
    """
    began = time.perf_counter()
    problems = budget_search_problems(probability=probability, budget_range=budget_range,
                                      budget_tolerance=budget_tolerance)
    problems += [p for p in race_problems(fresh_reps=reps, level=level, channel_step=channel_step)]
    problems = [("reps", m) if name == "fresh_reps" else (name, m) for name, m in problems]
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    objective = objective or Objective("revenue")
    probability_of_target(target)  # checks the target
    if approximate is None:
        from sim.model import approximate as _approximate

        approximate = functools.partial(_approximate, limits=limits)
    fixed_top = budget_range is not None
    lo, hi = (0.0, 2 * current_split(scenario).total) if budget_range is None else map(float, budget_range)
    each = 1 - (1 - level) / 2  # Bonferroni over the two splits compared at a budget
    tried: list[dict] = []
    root = root_seed(seed)

    def attempt(evaluator: Evaluator, budget: float):
        """``(verdict, best row, allocation)`` at ``budget``: verdict ``reached``, ``not reached`` or ``not shown``."""
        try:
            space = search_space(scenario, budget=budget, fixed=fixed, min_fte=min_fte, max_fte=max_fte,
                                 bounds=bounds)
        except BudgetTooSmall as exc:
            tried.append({"budget": budget, "split": "", "reached": 0, "share": 0.0, "lower": 0.0, "upper": 0.0,
                          "verdict": "not reached", "note": exc.message})
            return "not reached", None, None
        except SplitError as exc:
            raise OptimizeError("scenario", exc.message) from None
        score = score_of(scenario, space, objective, approximate)
        today = today_candidate(scenario, space)
        starts = starts_for(space, today, 2, root)
        found = screen(scenario, space, score, starts=starts, channel_step=channel_step)
        scaled = with_split(scenario, dataclasses.replace(current_split(scenario), total=budget))
        options = [("best of the approximation: " + space.label(found.best), space.scenario(scenario, found.best),
                    found.best), ("today's split scaled", scaled, None)]
        check_size(scaled, limits, label=f"today's split scaled to {budget:,.0f}")
        evaluator.run([sc for _, sc, _ in options], reps)
        rows = []
        for label, sc, cand in options:
            frame = evaluator.replications(sc, reps)
            x = objective.values(frame, sc) if len(frame) else np.array([])
            k, n = int((x >= target).sum()), len(x)
            lower, upper = clopper_pearson(k, n, each) if n else (0.0, 1.0)
            rows.append({"budget": budget, "split": label, "reached": k, "share": k / n if n else float("nan"),
                         "lower": lower, "upper": upper, "cand": cand, "n": n})
        best = max(rows, key=lambda r: (r["lower"], r["share"]))
        verdict = ("reached" if best["lower"] >= probability else
                   "not reached" if all(r["upper"] < probability for r in rows) else "not shown")
        for r in rows:
            tried.append({k: v for k, v in r.items() if k not in ("cand", "n")} | {"verdict": verdict, "note": ""})
        allocation = None
        if verdict == "reached":
            if best["cand"] is not None:
                allocation = _allocation(space, best["cand"], scenario.horizon_months, best["split"])
            else:
                split = dataclasses.replace(current_split(scenario), total=budget)
                allocation = {**split.shares(), "total": budget, "label": best["split"]}
        return verdict, best, allocation

    with Evaluator(root, workers=workers, backend=backend, scheduler=scheduler, out=out,
                   progress=progress) as evaluator:
        verdict, best, allocation = attempt(evaluator, hi)
        doublings = 0
        while verdict != "reached" and not fixed_top and doublings < 3:
            lo, hi = hi, 2 * hi
            doublings += 1
            verdict, best, allocation = attempt(evaluator, hi)
        if verdict != "reached":
            raise OptimizeError("target", f"not shown to be reached with probability {probability:g} even with a "
                                          f"budget of {hi:,.0f}; raise {{budget_range}} or lower the target")
        found = (best, allocation)
        while (hi - lo) > budget_tolerance * hi:
            mid = (lo + hi) / 2
            verdict, best_mid, allocation_mid = attempt(evaluator, mid)
            if verdict == "reached":
                hi, found = mid, (best_mid, allocation_mid)
            else:
                lo = mid
        evaluator.finish()
        used = evaluator.replications_requested
    best, allocation = found
    reached_n = best["reached"]
    ci = (float(stats.beta.ppf((1 - level) / 2, reached_n, reps - reached_n + 1)) if reached_n else 0.0,
          float(stats.beta.ppf(1 - (1 - level) / 2, reached_n + 1, reps - reached_n)) if reached_n < reps else 1.0)
    high_proof = (f"reached: {best['split']} reaches {target:,.0f} in {reached_n} of {reps} replications; "
                  f"one-sided {each:.1%} Clopper-Pearson lower bound {best['lower']:.1%} >= {probability:.0%}")
    low_verdict = next((r["verdict"] for r in tried if r["budget"] == lo), None)
    if low_verdict is None:
        low_proof = "not tested (the low end of the range)"
    elif low_verdict == "not reached":
        low_proof = (f"not reached: every split compared there has a one-sided {each:.1%} upper bound "
                     f"below {probability:.0%} (splits not compared there were not checked)")
    else:
        low_proof = (f"not shown either way: the best split compared has a lower bound below "
                     f"{probability:.0%} and an upper bound above it; more replications (reps) could decide")
    allocation = {**allocation, "budget_low": lo, "budget_high": hi}
    search = BudgetSearch(target=float(target), probability=float(probability), level=level, reps=reps, low=lo,
                          high=hi, high_proof=high_proof, low_proof=low_proof, label=best["split"],
                          estimate=best["share"], ci_low=ci[0], ci_high=ci[1], tried=pd.DataFrame(tried),
                          replications_used=used, seconds=time.perf_counter() - began)
    return allocation, search
