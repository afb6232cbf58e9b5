"""Finding the best budget split: racing candidates with common random numbers, refined around the best.

The decision is the whole-FTE headcount of each free role and the mix of the free
channels; the marketing share follows, because the budget is spent in full: the
salaries of the headcount and the fixed channels' spend come first and the rest goes
to the free channels. Fixed roles keep today's headcount and fixed channels today's
spend; with every channel fixed, what the team leaves is unspent (and reported).

The search spends replications where they decide something:

1. **Global**: a scrambled Sobol design over the free settings (plus today's split)
   is *raced*: every candidate gets a few replications, with the same seeds; after
   each batch, a candidate whose paired difference to the leader is significantly
   negative (Bonferroni-adjusted CI) is eliminated; the race ends when one is left,
   or when each has ``max_reps`` replications (the rest cannot be told apart).
2. **Refine**: a pattern search around the leader: its neighbours (one role's
   headcount up or down by a step; a step of marketing budget moved from one free
   channel to another) are raced against it. A better neighbour becomes the leader;
   if the leader wins, the steps halve, down to 1 FTE and ``min_channel_step``.
3. **Report**: the leader, the runner-up, the last race's survivors and today's
   split exactly as it is are run to ``max_reps`` replications each and compared
   (:func:`sim.decide.compare.analyse`); the answer is the best searched split. The
   probability of correct selection is the share of bootstrap resamples in which its
   objective is still the best of them. The tolerance of each setting is how far the
   finalists that are not significantly worse lie from it, plus one step (the
   optimum may lie a step beyond the flat region); a channel share is never known
   closer than the last step.

:func:`smallest_budget` answers the inverse question, the smallest budget whose best
split reaches a target with a given probability, by bisection on the budget.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.decide.compare import Alternative, Comparison, analyse
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, Risk, mean, probability_of_target
from sim.decide.paired import bootstrap_rows, paired_difference
from sim.decide.search_space import (
    BudgetTooSmall,
    Candidate,
    OptimizeError,
    SearchSpace,
    neighbours,
    search_space,
    sobol_candidates,
    today_candidate,
)
from sim.decide.split import SplitError, current_split, with_split
from sim.montecarlo.replication import root_seed

__all__ = ["Diagnostics", "OptimizeError", "budget_search_problems", "optimize", "race_problems", "smallest_budget"]


@dataclass
class Diagnostics:
    """How the optimiser reached its answer, and how sure it is.

    Attributes:
        objective, risk: what was optimised.
        estimate, ci_low, ci_high: the best split's objective and its CI.
        replications_used: replications the search used, every split and stage
            counted once (a resumed search counts those it found done, so it replays
            the same search).
        candidates_evaluated: distinct splits that were run.
        runner_up: the label of the second-best split of the last comparison, and
            ``runner_up_difference`` (best minus runner-up) with its CI.
        p_correct_selection: the share of bootstrap resamples in which the best is
            still the best of the final comparison.
        tolerance: per setting, how far the optimum may lie from the answer (see the
            module docstring).
        vs_today: the best minus today's split, with its CI.
        comparison: the final comparison (best, runner-up, today and the last race's survivors).
        history: every candidate raced: stage, settings, replications, estimate and
            whether it was eliminated.
        budget_search: in :func:`smallest_budget`, each budget tried and what it reached.
    """

    objective: Objective
    risk: Risk
    estimate: float
    ci_low: float
    ci_high: float
    replications_used: int
    candidates_evaluated: int
    runner_up: str | None
    runner_up_difference: tuple[float, float, float] | None
    p_correct_selection: float
    tolerance: dict[str, float]
    vs_today: tuple[float, float, float]
    comparison: Comparison = field(repr=False)
    history: pd.DataFrame = field(repr=False)
    budget_search: pd.DataFrame | None = field(default=None, repr=False)


class _Search:
    """The candidates met so far, their scenarios and labels, and the evaluator running them."""

    def __init__(self, scenario, space: SearchSpace, evaluator: Evaluator, objective: Objective, risk: Risk,
                 level: float, seed: int):
        self.scenario, self.space, self.evaluator = scenario, space, evaluator
        self.objective, self.risk, self.level, self.seed = objective, risk, level, seed
        self.scenarios: dict[Candidate, object] = {}
        self.history: list[dict] = []

    def scenario_of(self, cand: Candidate):
        if cand not in self.scenarios:
            self.scenarios[cand] = self.space.scenario(self.scenario, cand)
        return self.scenarios[cand]

    def values(self, cands: list[Candidate], reps: int) -> np.ndarray:
        """Objective values, replications (common to all) x candidates."""
        frames = [self.evaluator.replications(self.scenario_of(c), reps) for c in cands]
        common = sorted(set.intersection(*(set(f["replication"]) for f in frames)))
        return np.column_stack([self.objective.values(f.set_index("replication").loc[common].reset_index(),
                                                      self.scenario) for f in frames])

    def race(self, cands: list[Candidate], stage: str, *, initial_reps: int, batch: int, max_reps: int,
             budget_left) -> tuple[list[Candidate], list[Candidate]]:
        """Sequential elimination: returns the survivors, best first, and every candidate by its last estimate."""
        alive = list(dict.fromkeys(cands))
        latest = {}
        reps = initial_reps
        while True:
            self.evaluator.run([self.scenario_of(c) for c in alive], reps)
            values = self.values(alive, reps)
            if values.shape[0] < 2:
                raise OptimizeError("initial_reps", "fewer than 2 replications finished for every candidate; "
                                                    "run one alone (sim.simulate) to see why it fails")
            scores = self.risk(values.T)
            order = np.argsort(-scores, kind="stable")
            leader = int(order[0])
            out = []
            if len(alive) > 1:
                # Bonferroni: every comparison with the leader at once keeps the chance of
                # eliminating the true best below 1 - level.
                level = 1 - (1 - self.level) / (len(alive) - 1)
                rows = bootstrap_rows(values.shape[0], self.seed)
                for j in range(len(alive)):
                    if j == leader:
                        continue
                    _, low, _ = paired_difference(values[:, leader], values[:, j], self.risk, level, rows)
                    if low > 0:
                        out.append(j)
            for j, cand in enumerate(alive):
                latest[cand] = float(scores[j])
                self.history.append({"stage": stage, "alternative": self.space.label(cand), **self.space.settings(cand),
                                     "replications": int(values.shape[0]), "estimate": float(scores[j]),
                                     "eliminated": j in out})
            alive = [alive[j] for j in order if j not in out]
            if len(alive) == 1 or reps >= max_reps or budget_left() <= 0:
                return alive, sorted(latest, key=lambda c: (c not in alive, -latest[c]))
            reps = min(max_reps, reps + batch)


def optimize(scenario, *, objective: Objective | None = None, risk: Risk | None = None, budget: float | None = None,
             fixed=(), min_fte=None, max_fte=None, bounds=None, seed=0, level: float = 0.95,
             initial_candidates: int = 12, initial_reps: int = 10, race_batch: int = 10, max_reps: int = 60,
             max_replications: int = 2000, min_channel_step: float = 0.025, max_rounds: int = 12,
             workers: int = 1, backend: str = "local", scheduler: str | None = None, out=None,
             progress=None, evaluator: Evaluator | None = None) -> tuple[dict, Diagnostics]:
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
        seed: the root seed (an int, a SeedSequence or a Generator); every candidate's
            replication ``i`` has the same seed.
        level: the confidence level of eliminations and of the reported intervals.
        initial_candidates: size of the global design (today's split is added).
        initial_reps: replications per candidate at the start of a race.
        race_batch: replications added per round of a race.
        max_reps: replications per candidate at most in a race.
        max_replications: stop starting new races once this many have been run.
        min_channel_step: the smallest move of marketing budget between channels.
        max_rounds: refinement rounds at most.
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"``.
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        out: a directory to keep every candidate's replications in; running again resumes.
        progress: called as ``progress(done, total)`` while a race runs.
        evaluator: an open :class:`sim.decide.evaluator.Evaluator` to run on (then the
            running options are ignored); :func:`smallest_budget` shares one.

    Returns:
        ``allocation``: the settings of the best split (``marketing_share``,
        ``channel_share.<c>``, ``fte.<role>``), its monthly spend per channel
        (``spend_month.<c>``) and ``total``; ``diagnostics``: a :class:`Diagnostics`.
    """
    objective = objective or Objective()
    risk = risk or mean()
    problems = race_problems(initial_candidates=initial_candidates, initial_reps=initial_reps, race_batch=race_batch,
                             max_reps=max_reps, max_replications=max_replications, level=level)
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    try:
        space = search_space(scenario, budget=budget, fixed=fixed, min_fte=min_fte, max_fte=max_fte, bounds=bounds)
    except SplitError as exc:
        raise OptimizeError("scenario", exc.message) from None
    if evaluator is None:
        root = root_seed(seed)
        with Evaluator(root, workers=workers, backend=backend, scheduler=scheduler, out=out,
                       progress=progress) as ev:
            result = _optimize(scenario, space, ev, objective, risk, root, level, initial_candidates, initial_reps,
                               race_batch, max_reps, max_replications, min_channel_step, max_rounds)
            ev.finish()
            return result
    return _optimize(scenario, space, evaluator, objective, risk, evaluator.seed, level, initial_candidates,
                     initial_reps, race_batch, max_reps, max_replications, min_channel_step, max_rounds)


def race_problems(*, initial_candidates=12, initial_reps=10, race_batch=10, max_reps=60, max_replications=2000,
                  level=0.95) -> list[tuple[str, str]]:
    """What is wrong with the race settings of :func:`optimize`, as ``(parameter, message)`` (nothing runs)."""
    problems = []
    for name, value, lowest in (("initial_candidates", initial_candidates, 1), ("initial_reps", initial_reps, 2),
                                ("race_batch", race_batch, 1), ("max_reps", max_reps, 2),
                                ("max_replications", max_replications, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            problems.append((name, f"expected an integer of at least {lowest}, got {value!r}"))
    wrong = {name for name, _ in problems}
    if not wrong & {"initial_reps", "max_reps"} and max_reps < initial_reps:
        problems.append(("max_reps", f"must be at least {{initial_reps}} ({initial_reps}), got {max_reps}"))
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        problems.append(("level", f"expected a confidence level between 0 and 1 (e.g. 0.95), got {level!r}"))
    return problems


def _optimize(scenario, space, evaluator, objective, risk, seed, level, initial_candidates, initial_reps, race_batch,
              max_reps, max_replications, min_channel_step, max_rounds):
    search = _Search(scenario, space, evaluator, objective, risk, level, seed)
    start = evaluator.replications_requested

    def budget_left() -> int:
        return max_replications - (evaluator.replications_requested - start)

    today = today_candidate(scenario, space)
    design = ([today] if today else []) + sobol_candidates(space, initial_candidates, seed)
    if not design:
        raise OptimizeError("bounds", "no split keeps every bound; widen {bounds}, {min_fte} or {max_fte}")
    race = dict(initial_reps=initial_reps, batch=race_batch, max_reps=max_reps, budget_left=budget_left)
    survivors, ranking = search.race(design, "global", **race)
    leader = survivors[0]
    spans = {r: max(1, (hi - lo) // 4) for r, (lo, hi) in space.fte_bounds.items()}
    mixes = len(space.free_channels) > 1
    channel_step = 0.2 if mixes else 0.0
    raced = set()
    for round_ in range(max_rounds):
        if budget_left() <= 0:
            break
        near = neighbours(leader, space, spans, channel_step)
        if near and (leader, frozenset(near)) not in raced:
            raced.add((leader, frozenset(near)))
            survivors, ranking = search.race([leader, *near], f"refine {round_ + 1}", **race)
            if survivors[0] != leader:
                leader = survivors[0]
                continue
        finer = {r: max(1, s // 2) for r, s in spans.items()}
        if finer == spans and channel_step <= min_channel_step + 1e-12:
            break
        spans, channel_step = finer, max(min_channel_step, channel_step / 2) if mixes else 0.0
    return _report(search, leader, survivors, ranking, channel_step, start, max_reps)


def _report(search: _Search, leader, last_race, ranking, channel_step, start, reps: int) -> tuple[dict, Diagnostics]:
    sp = search.space
    runner_up = next((c for c in ranking if c != leader), None)
    final = list(dict.fromkeys([leader, *([runner_up] if runner_up else []), *last_race]))
    # Today's split exactly as it is (at this budget), unspent money and all: the
    # search's own version of it spends the whole budget, so it is a different split.
    today_split = dataclasses.replace(current_split(search.scenario), total=sp.total)
    today_scenario = with_split(search.scenario, today_split)
    bought = today_scenario.plan.budget.fte
    today_settings = {k: v for k, v in today_split.shares().items() if not k.startswith("role_share.")}
    today_settings.update({f"fte.{r}": float(bought[r]) for r in sp.cost_per_fte})
    # Every finalist gets max_reps replications, so the reported intervals do not
    # depend on how early a race was decided.
    search.evaluator.run([*(search.scenario_of(c) for c in final), today_scenario], reps)
    labels = {}
    for c in final:
        label = sp.label(c)
        # Percentages are rounded in labels; two mixes can read the same.
        labels[c] = label if label not in labels.values() else f"{label} (#{len(labels) + 1})"
    alternatives = [Alternative(labels[c], search.scenario_of(c), sp.settings(c)) for c in final]
    alternatives.append(Alternative("today", today_scenario, today_settings))
    runs = {a.label: search.evaluator.replications(a.scenario, reps) for a in alternatives}
    comparison = analyse(alternatives, runs, objective=search.objective, risk=search.risk, baseline="today",
                         level=search.level, seed=search.seed, reps=reps)
    table = comparison.alternatives
    # The answer is the best of the final comparison, where every finalist has the
    # same replications (the race's leader may have had fewer).
    candidates = table.drop(index="today")
    best = str(candidates["objective"].idxmax())  # the answer is a searched split, even if today ties it
    leader = next(c for c in final if labels[c] == best)
    if runner_up == leader or runner_up is None:
        runner_up = max((c for c in final if c != leader), key=lambda c: table.loc[labels[c], "objective"],
                        default=None)
    settings = sp.settings(leader)
    # Differences to the best searched split, which the comparison's own best may not be
    # when today's split ties it.
    values = comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    rows = bootstrap_rows(len(values), search.seed)
    close = [c for c in final if c == leader or paired_difference(
        values[labels[c]].to_numpy(), values[best].to_numpy(), search.risk, search.level, rows)[2] >= 0]
    tolerance = _tolerance(sp, leader, close, channel_step)
    runner = labels.get(runner_up) if runner_up else None
    diff = None
    if runner:
        diff = tuple(float(v) for v in paired_difference(values[best].to_numpy(), values[runner].to_numpy(),
                                                         search.risk, search.level, rows))
    vs_today = (table.loc[best, "vs_baseline"], table.loc[best, "vs_baseline_ci_low"],
                table.loc[best, "vs_baseline_ci_high"])
    history = pd.DataFrame(search.history)
    diagnostics = Diagnostics(
        objective=search.objective, risk=search.risk, estimate=float(table.loc[best, "objective"]),
        ci_low=float(table.loc[best, "objective_ci_low"]), ci_high=float(table.loc[best, "objective_ci_high"]),
        replications_used=search.evaluator.replications_requested - start,
        candidates_evaluated=len(search.scenarios),
        runner_up=runner, runner_up_difference=diff, p_correct_selection=float(table.loc[best, "p_selected"]),
        tolerance=tolerance, vs_today=tuple(float(v) for v in vs_today), comparison=comparison, history=history)
    spend = sp.spend(dict(leader.fte), dict(leader.mix))
    months = search.scenario.horizon_months
    allocation = {**settings, **{f"spend_month.{c}": s / months for c, s in spend.items()}, "total": sp.total,
                  "unspent": sp.total - sp.salaries(dict(leader.fte)) - sum(spend.values()), "label": best}
    return allocation, diagnostics


def _tolerance(sp: SearchSpace, leader: Candidate, close: list[Candidate], channel_step: float) -> dict[str, float]:
    """How far the optimum may lie from ``leader``, per setting.

    The ``close`` finalists (not significantly worse) span a flat region, and the
    optimum may lie one step beyond the farthest of them, where nothing was shown; a
    step that was significantly worse bounds it. A channel mix is continuous, so it is
    never known closer than the last step.
    """
    settings = sp.settings(leader)
    tolerance = {}
    for key in settings:
        spread = float(max(abs(sp.settings(c)[key] - settings[key]) for c in close))
        if key.startswith("fte.") and key.partition(".")[2] in sp.fte_bounds:
            tolerance[key] = spread + 1 if spread > 0 else 0.0
        elif key.startswith("channel_share.") and key.partition(".")[2] in sp.free_channels \
                and len(sp.free_channels) > 1:
            tolerance[key] = spread + channel_step
        elif key != "marketing_share":
            tolerance[key] = spread
    # The marketing share moves only with headcount: by the salaries of the FTE tolerance.
    tolerance["marketing_share"] = sum(tolerance[f"fte.{r}"] * sp.cost_per_fte[r] for r in sp.fte_bounds) / sp.total
    return tolerance


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


def smallest_budget(scenario, *, target: float, probability: float, objective: Objective | None = None,
                    budget_range: tuple[float, float] | None = None, budget_tolerance: float = 0.05,
                    seed=0, workers: int = 1, backend: str = "local", scheduler: str | None = None,
                    out=None, progress=None, **search) -> tuple[dict, Diagnostics]:
    """The smallest budget whose best split reaches ``target`` with probability ``probability``.

    Bisection on the budget over ``budget_range`` (default from 0 to twice today's
    budget, the top doubled up to three times if the target is not reached there). At
    each budget the split is optimised for the probability of reaching the target
    (:func:`optimize` with ``search`` options); a budget counts as reaching it when
    that probability's estimate is at least ``probability``. It stops when the
    bracket is narrower than ``budget_tolerance`` of its top, and returns the best
    split at the top, with ``diagnostics.budget_search`` listing each budget tried.
    """
    problems = budget_search_problems(probability=probability, budget_range=budget_range,
                                      budget_tolerance=budget_tolerance)
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    lo, hi = (None, None) if budget_range is None else tuple(budget_range)
    objective = objective or Objective("revenue")
    risk = probability_of_target(target)
    fixed_top = budget_range is not None
    lo = 0.0 if lo is None else float(lo)
    hi = 2 * current_split(scenario).total if hi is None else float(hi)
    tried = []
    root = root_seed(seed)
    with Evaluator(root, workers=workers, backend=backend, scheduler=scheduler, out=out,
                   progress=progress) as evaluator:

        def attempt(budget: float):
            try:
                allocation, diag = optimize(scenario, objective=objective, risk=risk, budget=budget,
                                            evaluator=evaluator, **search)
            except BudgetTooSmall as exc:
                tried.append({"budget": budget, "probability": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                              "reached": False, "note": exc.message})
                return None
            reached = diag.estimate >= probability
            tried.append({"budget": budget, "probability": diag.estimate, "ci_low": diag.ci_low,
                          "ci_high": diag.ci_high, "reached": reached, "note": allocation["label"]})
            return (allocation, diag) if reached else None

        found = attempt(hi)
        doublings = 0
        while found is None and not fixed_top and doublings < 3:
            lo, hi = hi, 2 * hi
            doublings += 1
            found = attempt(hi)
        if found is None:
            raise OptimizeError("target", f"not reached with probability {probability:g} even with a budget of "
                                          f"{hi:,.0f}; raise {{budget_range}} or lower the target")
        while (hi - lo) > budget_tolerance * hi:
            mid = (lo + hi) / 2
            result = attempt(mid)
            if result is None:
                lo = mid
            else:
                hi, found = mid, result
        evaluator.finish()
    allocation, diagnostics = found
    allocation = {**allocation, "budget_low": lo, "budget_high": hi}
    diagnostics.budget_search = pd.DataFrame(tried)
    return allocation, diagnostics
