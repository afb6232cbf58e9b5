"""Deciding over time: when to hire and how to phase spend, under a cash constraint.

:func:`optimize_over_time` answers with a calendar (a :class:`~sim.decide.timing.TimePlan`):

1. **Screen** (:mod:`sim.decide.plan_screen`): a coordinate search on the fast
   approximation from today's plan over spend per period and hire months, within the
   :class:`~sim.decide.timing.PlanSpace`'s limits and with the *expected* cash above
   ``-runway``. Its best plan and that plan's best neighbours make the shortlist, with
   today's plan on the period grid. The best static split the approximation finds
   (constant spend, the whole team from day one, :mod:`sim.decide.screen`) is kept as
   a reference.
2. **Cash** (with a ``runway``): after the selection's first stage, a plan whose share
   of replications keeping cash at or above ``-runway`` in every month has a one-sided
   Clopper-Pearson upper bound (Bonferroni over the shortlist) below
   ``cash_probability`` is shown to break the constraint and leaves.
3. **Select** (:mod:`sim.decide.selection`): KN on the discrete-event model with
   common random numbers, among the plans left: with confidence ``level`` a plan
   within ``delta`` of the best of them.
4. **Report** on *fresh* replications (as :func:`sim.decide.optimize.optimize`): the
   chosen plan, the runner-up, today's plan as written and the static split, with
   paired differences and their CIs; the chosen plan gets enough fresh replications to
   show the chance constraint at ``level`` if every one keeps it, and the report says
   whether it was shown.

The objective should count what lies beyond the horizon (``Objective(terminal=...)``,
``with_pipeline``): otherwise a plan that invests late looks better, its costs inside
the horizon and its revenue after it. :func:`sim.decide.horizon.horizon_bias` shows how much.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.decide.cash import cash_held
from sim.decide.compare import Alternative, Comparison, analyse
from sim.decide.evaluator import Evaluator
from sim.decide.objectives import Objective, mean
from sim.decide.optimize import FRESH_START, clopper_pearson, race_problems
from sim.decide.paired import bootstrap_rows, paired_difference
from sim.decide.plan_screen import PlanScreen, plan_neighbours, plan_score, screen_plans
from sim.decide.screen import screen, starts_for
from sim.decide.search_space import OptimizeError, search_space, today_candidate
from sim.decide.selection import Selection, kn
from sim.decide.timing import PlanSpace, TimePlan, plan_space, today_plan

__all__ = ["PlanDiagnostics", "cash_replications", "optimize_over_time", "over_time_problems"]

DEFAULT_DELTA_SHARE = 0.01  # of today's approximate objective
DEFAULT_DELTA_BUDGET_SHARE = 0.005  # of the budget at least, for an objective in money


@dataclass
class PlanDiagnostics:
    """How :func:`optimize_over_time` reached its calendar, and how sure it is.

    Attributes:
        objective: what was optimised (the mean of it, with KN).
        estimate, ci_low, ci_high: the chosen plan's objective and its CI, fresh.
        vs_today: the chosen plan minus today's plan as written, with its CI, fresh.
        vs_static: the chosen plan minus the best static split screened (constant
            spend, the whole team from day one), with its CI, fresh; None if there was none.
        runner_up, runner_up_difference: the plan the selection ranked second, and
            the chosen plan minus it with its CI, fresh.
        delta, level: the indifference zone and the confidence.
        holds: KN finished by its own rule (so its statement holds).
        compared: plans the selection compared; ``infeasible``: of those, the labels
            shown to break the cash constraint after the first stage.
        cash: with a runway, ``{"runway", "probability", "held", "replications",
            "lower", "shown"}`` from the chosen plan's fresh replications.
        screened, screen_converged: plans the approximation evaluated, and whether its
            search ended at a local optimum of the approximation.
        statements: the sentences the report prints.
        comparison: the fresh comparison.
        cash_monthly: the chosen plan's, today's and the static split's fresh monthly
            series, by label (for a cash fan chart).
        history: every plan compared: its label, the approximation's score,
            replications, mean, where it was eliminated and why.
        replications_used, seconds: the cost.
    """

    objective: Objective
    estimate: float
    ci_low: float
    ci_high: float
    vs_today: tuple[float, float, float]
    vs_static: tuple[float, float, float] | None
    runner_up: str | None
    runner_up_difference: tuple[float, float, float] | None
    delta: float
    level: float
    holds: bool
    compared: int
    infeasible: list[str]
    cash: dict | None
    screened: int
    screen_converged: bool
    statements: list[str] = field(default_factory=list)
    comparison: Comparison | None = field(default=None, repr=False)
    cash_monthly: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    history: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    replications_used: int = 0
    seconds: float = 0.0


def over_time_problems(*, runway=None, cash_probability=0.95, spend_step=0.1, max_evaluations=3000):
    """What is wrong with the settings :func:`optimize_over_time` adds to :func:`optimize`'s (nothing runs)."""
    problems = []
    if runway is not None and (isinstance(runway, bool) or not isinstance(runway, (int, float))
                               or not 0 <= runway < math.inf):
        problems.append(("runway", f"expected the cash the plan may use, an amount of at least 0, got {runway!r}"))
    if isinstance(cash_probability, bool) or not isinstance(cash_probability, (int, float)) \
            or not 0 < cash_probability < 1:
        problems.append(("cash_probability", f"expected a probability between 0 and 1 (e.g. 0.9), "
                                             f"got {cash_probability!r}"))
    if isinstance(spend_step, bool) or not isinstance(spend_step, (int, float)) or not 0 < spend_step <= 1:
        problems.append(("spend_step", f"expected a share above 0 and at most 1 (e.g. 0.1), got {spend_step!r}"))
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) or max_evaluations < 1:
        problems.append(("max_evaluations", f"expected a whole number of at least 1, got {max_evaluations!r}"))
    return problems


def cash_replications(probability: float, level: float) -> int:
    """The fewest replications that show ``P >= probability`` at ``level`` if every one keeps the runway."""
    return max(2, math.ceil(math.log(1 - level) / math.log(probability)))


def optimize_over_time(scenario, *, objective: Objective | None = None, budget: float | None = None,
                       period_months: int = 3, fixed=(), spend_bounds=None, max_change: float | None = None,
                       max_hires_month: int = 2, max_fte=None, runway: float | None = None,
                       cash_probability: float = 0.95, seed=0, level: float = 0.95, delta: float | None = None,
                       contenders: int = 6, initial_reps: int = 10, race_batch: int = 10, max_reps: int = 200,
                       fresh_reps: int = 20, spend_step: float = 0.1, max_evaluations: int = 3000,
                       approximate=None, workers: int = 1, backend: str = "local", scheduler: str | None = None,
                       out=None, progress=None, evaluator: Evaluator | None = None,
                       limits=None) -> tuple[dict, PlanDiagnostics]:
    """The best plan over time for ``scenario``: ``(calendar, diagnostics)``.

    Args:
        scenario: a validated scenario; its plan is today's (the day-one team is kept).
        objective: what each replication is judged by (default: contribution); its mean
            is optimised. Give it a terminal value (``Objective(terminal=5)``) so late
            investment is not favoured by the horizon.
        budget: the most a plan may cost over the horizon, spend and salaries (default:
            what today's plan costs).
        period_months: months per spend period.
        fixed: channels that keep today's spend schedule, roles that keep today's hires.
        spend_bounds: per channel, ``(low, high)`` monthly spend.
        max_change: the most a channel's monthly spend moves between two periods, as a
            share of today's average monthly spend (None: no limit).
        max_hires_month: the most hires requested per role in one month.
        max_fte: per role, the most seats once every hire has started.
        runway: the most cash (cumulative contribution below zero) the plan may use in
            any month; None for no cash constraint.
        cash_probability: the chance with which cash must stay above ``-runway`` in every month.
        seed: the root seed; every plan's replication ``i`` has the same seed.
        level: the confidence of the selection, of the cash checks and of the intervals.
        delta: the indifference zone in the objective's unit (default: 1% of today's
            plan's approximate objective, and for money at least 0.5% of the budget).
        contenders: plans the selection compares (today's plan on the grid is one).
        initial_reps: the selection's first-stage replications per plan.
        race_batch: replications added at once while the selection runs.
        max_reps: replications per plan at most in the selection (reaching it voids the guarantee).
        fresh_reps: fresh replications of the chosen plan, the runner-up, today's plan and
            the static split (the chosen plan gets more with a runway, to show the constraint).
        spend_step: the finest spend step of the screen, as a share of a channel's
            today's average monthly spend.
        max_evaluations: plans the approximation may score at most.
        approximate: ``scenario -> (measures, monthly)`` (default
            :func:`sim.model.approximate_with_monthly`, with ``limits``).
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"``.
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        out: a directory to keep every plan's replications in; running again resumes.
        progress: called as ``progress(done, total)`` while replications run.
        evaluator: an open :class:`sim.decide.evaluator.Evaluator` to run on (then the
            running options are ignored).
        limits: how big one replication may be (:func:`sim.simulate`'s).

    Returns:
        ``calendar``: ``lines`` (the calendar in words), ``label``, ``plan`` (the
        :class:`~sim.decide.timing.TimePlan`), ``scenario`` (the chosen plan as a
        scenario, for ``sim.compare`` or a file), ``spend_month.<channel>`` (a list per
        month), ``hires.<role>`` (request months), ``cost`` and ``total``;
        ``diagnostics``: a :class:`PlanDiagnostics`.

    Raises:
        OptimizeError: naming each option at fault, or when no plan keeps the limits.
        sim.decide.objectives.ObjectiveError: a terminal value the scenario cannot give.
    """
    began = time.perf_counter()
    objective = objective or Objective()
    problems = race_problems(contenders=contenders, initial_reps=initial_reps, race_batch=race_batch,
                             max_reps=max_reps, fresh_reps=fresh_reps, level=level, delta=delta)
    problems += over_time_problems(runway=runway, cash_probability=cash_probability, spend_step=spend_step,
                                   max_evaluations=max_evaluations)
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    objective.check(scenario)
    space = plan_space(scenario, budget=budget, period_months=period_months, fixed=fixed, spend_bounds=spend_bounds,
                       max_change=max_change, max_hires_month=max_hires_month, max_fte=max_fte)
    static_approximate = approximate
    if approximate is None:
        from sim.model import approximate_with_monthly
        from sim.model.size import check_size

        # Every plan the search may try is at most as big as the largest one: checked once, not per plan.
        check_size(space.largest(scenario), limits, label="the largest plan the search may try")
        approximate = functools.partial(approximate_with_monthly, check=False)
        static_approximate = functools.partial(approximate_with_monthly, limits=limits)  # splits are checked each
    settings = dict(objective=objective, runway=runway, cash_probability=cash_probability, level=level, delta=delta,
                    contenders=contenders, initial_reps=initial_reps, race_batch=race_batch, max_reps=max_reps,
                    fresh_reps=fresh_reps, spend_step=spend_step, max_evaluations=max_evaluations,
                    approximate=approximate, static_approximate=static_approximate)
    if evaluator is None:
        with Evaluator(seed, workers=workers, backend=backend, scheduler=scheduler, out=out,
                       progress=progress) as ev:
            result = _optimize(scenario, space, ev, **settings)
            ev.finish()
    else:
        result = _optimize(scenario, space, evaluator, **settings)
    result[1].seconds = time.perf_counter() - began
    return result


def _start(scenario, space: PlanSpace) -> TimePlan:
    """Today's plan on the period grid if it keeps the limits; else without hires, spend scaled to fit."""
    today = today_plan(scenario, space)
    if space.feasible(today):
        return today
    lean = TimePlan.of(space.period_months, {c: today.spend_of(c) for c in space.free_channels},
                       {r: () for r in space.free_roles})
    spend = space.spend_total(lean) - sum(sum(s) for s in space.fixed_spend.values())
    room = space.total - space.salaries(lean) - sum(sum(s) for s in space.fixed_spend.values())
    if room < 0:
        raise OptimizeError("budget", f"{space.total:,.0f} does not pay today's day-one team and the fixed "
                                      "channels' spend over the horizon")
    factor = min(1.0, room / spend) if spend > 0 else 1.0
    lean = TimePlan.of(space.period_months, {c: [x * factor for x in lean.spend_of(c)] for c in space.free_channels},
                       {r: () for r in space.free_roles})
    if not space.feasible(lean):
        raise OptimizeError("spend_bounds", "no plan keeps the bounds within the budget: today's spend scaled to "
                                            "fit breaks a channel's lower bound or {max_change}")
    return lean


def _static_best(scenario, space: PlanSpace, objective, approximate, fixed, seed):
    """The best static split the approximation finds at the same budget, as a scenario (or None)."""
    try:
        static = search_space(scenario, budget=space.total, fixed=fixed)
    except OptimizeError:
        return None, None

    def score(c):
        sc = static.scenario(scenario, c)
        return float(objective.values(pd.DataFrame([approximate(sc)[0]]), sc)[0])

    starts = starts_for(static, today_candidate(scenario, static), 2, seed)
    if not starts:
        return None, None
    found = screen(scenario, static, score, starts=starts)
    return static.scenario(scenario, found.best), "static: " + static.label(found.best)


def _shortlist(found: PlanScreen, space: PlanSpace, score, today: TimePlan, count: int) -> list[TimePlan]:
    """The screen's best, its best neighbours at the finest steps, and today's plan on the grid."""
    best = found.best
    near = plan_neighbours(best, space, found.spend_step, 1)
    for p in near:
        if p not in found.scores:
            found.scores[p] = float(score(p))
    ranked = sorted((p for p in near if np.isfinite(found.scores[p])), key=lambda p: -found.scores[p])
    chosen = [best]
    keep_today = space.feasible(today) and today != best and np.isfinite(found.scores.get(today, 0.0))
    for p in ranked:
        if len(chosen) >= count - (1 if keep_today else 0):
            break
        chosen.append(p)
    if keep_today:
        found.scores.setdefault(today, float(score(today)))
        chosen.append(today)
    return list(dict.fromkeys(chosen))


def _optimize(scenario, space: PlanSpace, evaluator: Evaluator, *, objective, runway, cash_probability, level,
              delta, contenders, initial_reps, race_batch, max_reps, fresh_reps, spend_step, max_evaluations,
              approximate, static_approximate):
    start_requested = evaluator.replications_requested
    today = today_plan(scenario, space)
    if delta is None:
        delta = _default_delta(plan_score(scenario, space, objective, approximate, None)(today), objective, space)
    score = plan_score(scenario, space, objective, approximate, runway)
    # A move must gain a hundredth of delta: no hire or spend change for what no one would notice.
    found = screen_plans(space, score, start=_start(scenario, space), spend_step=spend_step,
                         max_evaluations=max_evaluations, min_gain=delta / 100)
    if not np.isfinite(found.scores[found.best]):
        raise OptimizeError("runway", f"every plan screened has an expected cash below -{runway:,.0f} in some "
                                      "month; raise {runway} or the budget")
    race = _Race(scenario, space, evaluator, _shortlist(found, space, score, today, contenders))
    cash_reps = cash_replications(cash_probability, level) if runway is not None else 0
    selection, alive, infeasible = _select(race, objective, runway, cash_probability, level, delta, initial_reps,
                                           race_batch, max_reps, cash_reps)
    selection_used = evaluator.replications_requested - start_requested
    chosen_i = alive[selection.chosen]
    order = sorted(range(len(alive)), key=lambda a: (selection.eliminated_at[a] is None, selection.replications[a],
                                                     selection.means[a]), reverse=True)
    runner_i = next((alive[a] for a in order if a != selection.chosen), None)
    calendar, d = _report(race, found, selection, alive, infeasible, chosen_i, runner_i, objective=objective,
                          runway=runway, cash_probability=cash_probability, level=level, delta=delta,
                          initial_reps=initial_reps, fresh_reps=fresh_reps, cash_reps=cash_reps,
                          approximate=static_approximate)
    d.statements.insert(0, f"KN used {selection_used} replications in the selection")
    d.replications_used = evaluator.replications_requested - start_requested
    return calendar, d


def _default_delta(reference: float, objective, space: PlanSpace) -> float:
    """1% of today's plan's approximate objective; for money at least 0.5% of the budget."""
    delta = DEFAULT_DELTA_SHARE * abs(reference)
    if objective.name != "new_customers":
        delta = max(delta, DEFAULT_DELTA_BUDGET_SHARE * space.total)
    if delta <= 0:
        raise OptimizeError("delta", "today's plan's approximate objective is 0, so 1% of it is no "
                                     "indifference zone; give {delta}")
    return delta


class _Race:
    """The shortlisted plans as scenarios, with their labels, and their replications from the evaluator."""

    def __init__(self, scenario, space: PlanSpace, evaluator: Evaluator, plans: list[TimePlan]):
        self.scenario, self.space, self.evaluator, self.plans = scenario, space, evaluator, plans
        self.scenarios = [space.scenario(scenario, p) for p in plans]
        self.labels = _labels([space.label(p) for p in plans])
        for i, sc in enumerate(self.scenarios):
            if _same_to_the_cent(sc, scenario):
                self.labels[i] = "today"

    def frames(self, indices, reps: int) -> list[pd.DataFrame]:
        """Replications ``0 .. reps - 1`` of the plans ``indices`` (run where missing)."""
        chosen = [self.scenarios[i] for i in indices]
        self.evaluator.run(chosen, reps)
        out = [self.evaluator.replications(sc, reps) for sc in chosen]
        short = [self.labels[i] for i, f in zip(indices, out, strict=True) if len(f) < reps]
        if short:
            raise OptimizeError("scenario", f"replications failed for {short[0]}; run it alone (sim.simulate) "
                                            "to see why")
        return out

    def cash_upper(self, i: int, reps: int, runway: float, level: float) -> float:
        """The one-sided upper bound (at ``level``) on plan ``i``'s chance of keeping the runway, from ``reps``."""
        self.frames([i], reps)
        held = cash_held(self.evaluator.monthly(self.scenarios[i], reps), runway)
        return clopper_pearson(int(held.sum()), len(held), level)[1]


def _select(race: _Race, objective, runway, cash_probability, level, delta, initial_reps, race_batch, max_reps,
            cash_reps):
    """The first stage, the cash check, and KN among the plans left: ``(selection, alive, infeasible)``."""
    k = len(race.plans)
    race.frames(range(k), initial_reps)
    each = 1 - (1 - level) / k  # Bonferroni over the shortlist
    infeasible = []
    if runway is not None:
        infeasible = [i for i in range(k) if race.cash_upper(i, initial_reps, runway, each) < cash_probability]
        if len(infeasible) == k:
            raise OptimizeError("runway", f"every plan shortlisted was shown to keep cash above -{runway:,.0f} "
                                          f"with probability below {cash_probability:g}; raise {{runway}}, lower "
                                          "{cash_probability} or the budget")
    while True:  # KN among the plans left; a choice then shown to break the cash constraint leaves, and KN reruns
        alive = [i for i in range(k) if i not in infeasible]

        def values(picked: list[int], r: int, alive=alive) -> np.ndarray:
            idx = [alive[a] for a in picked]
            return np.column_stack([objective.values(f, race.scenarios[i])
                                    for f, i in zip(race.frames(idx, r), idx, strict=True)])

        selection = kn(values, len(alive), delta=delta, alpha=1 - level, first_stage=initial_reps,
                       batch=race_batch, max_reps=max_reps)
        chosen = alive[selection.chosen]
        if runway is None or len(alive) == 1 or race.cash_upper(chosen, cash_reps, runway, each) >= cash_probability:
            return selection, alive, infeasible
        infeasible.append(chosen)


def _report(race: _Race, found: PlanScreen, selection: Selection, alive, infeasible, chosen_i, runner_i, *,
            objective, runway, cash_probability, level, delta, initial_reps, fresh_reps, cash_reps, approximate):
    """The fresh comparison (chosen, runner-up, today, the static split), the cash check, and the calendar."""
    scenario, space, evaluator, labels = race.scenario, race.space, race.evaluator, race.labels
    static_scenario, static_label = _static_best(scenario, space, objective, approximate, _fixed_of(space),
                                                 evaluator.seed)
    finalists = [(labels[chosen_i], race.scenarios[chosen_i])]
    if runner_i is not None:
        finalists.append((labels[runner_i], race.scenarios[runner_i]))
    if "today" not in {label for label, _ in finalists}:
        finalists.append(("today", scenario))
    if static_scenario is not None:
        same = [label for label, sc in finalists if _same_to_the_cent(static_scenario, sc)]
        if same:
            static_label = same[0]
        else:
            finalists.append((static_label, static_scenario))
    alternatives = [Alternative(label, sc, {}) for label, sc in finalists]
    evaluator.run([a.scenario for a in alternatives], fresh_reps, start=FRESH_START)
    runs = {a.label: evaluator.replications(a.scenario, fresh_reps, start=FRESH_START) for a in alternatives}
    if any(len(f) < 2 for f in runs.values()):
        raise OptimizeError("fresh_reps", "fewer than 2 fresh replications finished; run the chosen plan alone "
                                          "(sim.simulate) to see why")
    cash_monthly = {a.label: evaluator.monthly(a.scenario, fresh_reps, start=FRESH_START) for a in alternatives}
    comparison = analyse(alternatives, runs, objective=objective, risk=mean(), baseline="today", level=level,
                         seed=evaluator.seed, reps=fresh_reps, monthly=dict(cash_monthly))
    best = labels[chosen_i]
    chosen_scenario = race.scenarios[chosen_i]
    pivot = comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    rows = bootstrap_rows(len(pivot), evaluator.seed)

    def against(label):
        if label is None or label == best:
            return None
        return tuple(float(v) for v in paired_difference(pivot[best].to_numpy(), pivot[label].to_numpy(), mean(),
                                                         level, rows))

    cash = None
    if runway is not None:  # the chosen plan's fresh replications, enough to show the constraint if all keep it
        reps = max(fresh_reps, cash_reps)
        evaluator.run([chosen_scenario], reps, start=FRESH_START)
        cash_monthly[best] = evaluator.monthly(chosen_scenario, reps, start=FRESH_START)
        held = cash_held(cash_monthly[best], runway)
        k, n = int(held.sum()), len(held)
        lower = clopper_pearson(k, n, level)[0]
        cash = {"runway": float(runway), "probability": float(cash_probability), "held": k, "replications": n,
                "share": k / n, "lower": lower, "shown": lower >= cash_probability}
    table = comparison.alternatives
    d = PlanDiagnostics(
        objective=objective, estimate=float(table.loc[best, "objective"]),
        ci_low=float(table.loc[best, "objective_ci_low"]), ci_high=float(table.loc[best, "objective_ci_high"]),
        vs_today=against("today") or (0.0, 0.0, 0.0), vs_static=against(static_label),
        runner_up=labels[runner_i] if runner_i is not None else None,
        runner_up_difference=against(labels[runner_i]) if runner_i is not None else None,
        delta=float(delta), level=level, holds=selection.finished, compared=len(race.plans),
        infeasible=[labels[i] for i in infeasible], cash=cash, screened=found.evaluations,
        screen_converged=found.converged, comparison=comparison, cash_monthly=cash_monthly,
        history=_history(race, found, selection, alive, infeasible, chosen_i, initial_reps))
    currency = f" {scenario.currency}" if objective.name != "new_customers" and scenario.currency else ""
    d.statements = _statements(d, selection, len(alive), currency, static_label)
    if static_scenario is not None:
        team = {r: static_scenario.plan.roles[r].fte for r in space.cost_per_fte_year}
        moved = [f"{r} {team[r]} against today's {space.start_fte[r]}" for r in team if team[r] != space.start_fte[r]]
        if moved:
            d.statements.append(f"the static split changes the day-one team ({', '.join(moved)}); plans over time "
                                "keep today's day-one team and only add hires")
    plan = race.plans[chosen_i]
    calendar = {"label": best, "lines": space.calendar(plan, scenario.currency), "plan": plan,
                "scenario": chosen_scenario, "cost": space.cost(plan), "total": space.total, "static": static_label,
                **{f"spend_month.{c}": plan.monthly_spend(c, space.horizon_months) for c in space.free_channels},
                **{f"hires.{r}": list(plan.hires_of(r)) for r in space.free_roles}}
    return calendar, d


def _history(race: _Race, found: PlanScreen, selection: Selection, alive, infeasible, chosen_i,
             initial_reps) -> pd.DataFrame:
    """Every plan compared: its label, the approximation's score, replications, mean, and why it left."""
    rows = []
    for i, plan in enumerate(race.plans):
        a = alive.index(i) if i in alive else None
        if i == chosen_i:
            why = "chosen"
        elif a is None:
            why = "cash constraint"
        else:
            why = "selection" if selection.eliminated_at[a] is not None else "not best at the end"
        rows.append({"alternative": race.labels[i], "approximate": found.scores.get(plan),
                     "replications": selection.replications[a] if a is not None else initial_reps,
                     "mean": selection.means[a] if a is not None else math.nan,
                     "eliminated_at": selection.eliminated_at[a] if a is not None else initial_reps, "why": why})
    return pd.DataFrame(rows)


def _same_to_the_cent(a, b) -> bool:
    """Whether two scenarios run the same plan: the same teams, and monthly spend equal to the cent.

    A plan's spend is kept in cents (:meth:`TimePlan.of`), so today's plan on the grid
    differs from today's as written by less than one.
    """
    pa, pb = a.plan, b.plan
    if dict(pa.roles) != dict(pb.roles) or set(pa.spend) != set(pb.spend):
        return False
    return all(np.allclose(pa.spend[c], pb.spend[c], rtol=0, atol=0.01) for c in pa.spend)


def _fixed_of(space: PlanSpace) -> list[str]:
    return list(space.fixed_spend) + [r for r in space.cost_per_fte_year if r not in space.free_roles]


def _labels(labels: list[str]) -> list[str]:
    seen, out = set(), []
    for label in labels:
        text = label if label not in seen else f"{label} (#{len(out) + 1})"
        seen.add(text)
        out.append(text)
    return out


def _statements(d: PlanDiagnostics, selection: Selection, alive: int, currency: str, static_label) -> list[str]:
    lines = []
    unit = f"{currency} of {d.objective.label}"
    if d.holds:
        lines.append(f"best of the {alive} plans compared"
                     f"{' that were not shown to break the cash constraint' if d.cash else ''}, "
                     f"within {d.delta:,.0f}{unit} (mean) at {d.level:.0%} confidence (Kim-Nelson selection, "
                     "common random numbers)")
    else:
        lines.append(f"no guarantee: the selection reached max_reps ({max(selection.replications)} replications "
                     f"per plan) before it finished; the answer is the best estimate of the "
                     f"{len(selection.survivors)} plans still in")
    if d.infeasible:
        lines.append(f"shown to break the cash constraint (one-sided Clopper-Pearson upper bound below "
                     f"{d.cash['probability']:.0%}, Bonferroni over the plans) and left out: "
                     f"{'; '.join(d.infeasible)}")
    if d.cash is not None:
        c = d.cash
        verdict = (f"shown: P >= {c['lower']:.1%} at {d.level:.0%} confidence (one-sided Clopper-Pearson), which is "
                   f"at least {c['probability']:.0%}" if c["shown"] else
                   f"not shown at {d.level:.0%} confidence: the one-sided Clopper-Pearson bound is {c['lower']:.1%}, "
                   f"below {c['probability']:.0%}")
        lines.append(f"cash stayed at or above {-c['runway'] or 0:,.0f}{currency} in every month in {c['held']} of "
                     f"{c['replications']} fresh replications; {verdict}")
    else:
        lines.append("no cash constraint was given (runway), so none was checked")
    lines.append(f"screened {d.screened} plans with the fast approximation (expected values); its search "
                 + ("ended at a local optimum of the approximation" if d.screen_converged else
                    "stopped at its evaluation limit before a local optimum")
                 + "; plans it did not shortlist were not simulated, so the answer is the best of those compared, "
                   "not proven the best of all")
    if static_label is None:
        lines.append("no static split was compared (the budget does not pay one within the limits)")
    if d.objective.terminal is None and not d.objective.with_pipeline:
        lines.append("the objective counts nothing after the horizon (no terminal value, no open pipeline): "
                     "late investment is favoured by the horizon")
    return lines
