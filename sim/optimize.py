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
3. **Report**: the leader, the runner-up and today's split are run to the same
   number of replications and compared (:func:`sim.compare.analyse`). The
   probability of correct selection is the share of bootstrap resamples in which
   the leader's objective is still the best of them; the tolerance of each setting
   is how far the candidates of the last race that could not be eliminated lie from
   the leader (at least the last step), so the optimum lies within it.

:func:`smallest_budget` answers the inverse question, the smallest budget whose best
split reaches a target with a given probability, by bisection on the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.budget import apply_budget
from sim.compare import Alternative, Comparison, analyse
from sim.evaluator import Evaluator
from sim.objectives import Objective, Risk, mean, probability_of_target
from sim.paired import bootstrap_rows, paired_difference
from sim.split import ROLE_NAMES, SplitError, current_split, spendable_channels, split_for_headcount, with_split

__all__ = ["Diagnostics", "OptimizeError", "SearchSpace", "optimize", "smallest_budget"]


class OptimizeError(ValueError):
    """A search that cannot be made; ``setting`` names the option, ``message`` what was expected.

    ``problems`` lists every ``(setting, message)`` found at once (the first is ``setting``).
    """

    def __init__(self, setting: str, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__("; ".join(f"{s}: {m}" for s, m in problems) if problems else f"{setting}: {message}")
        self.setting = setting
        self.message = message
        self.problems = problems or [(setting, message)]


@dataclass
class SearchSpace:
    """What the optimiser may change, and within which limits.

    Attributes:
        total: the budget for the horizon.
        fte_bounds: per free role, the least and most whole FTE.
        fixed_fte: per fixed role, its headcount.
        free_channels: channels whose share of the free marketing budget may change.
        fixed_spend: per fixed channel, its spend over the horizon.
        marketing_share: the least and most share of the budget for channel spend.
        channel_share: per free channel, the least and most share of the marketing budget.
    """

    total: float
    fte_bounds: dict[str, tuple[int, int]]
    fixed_fte: dict[str, int]
    free_channels: list[str]
    fixed_spend: dict[str, float]
    marketing_share: tuple[float, float] = (0.0, 1.0)
    channel_share: dict[str, tuple[float, float]] = field(default_factory=dict)
    cost_per_fte: dict[str, float] = field(default_factory=dict)  # over the horizon

    def salaries(self, fte: dict[str, int]) -> float:
        """Salaries over the horizon of a whole team (free and fixed roles)."""
        return sum(self.cost_per_fte[r] * n for r, n in fte.items())

    def free_money(self, fte: dict[str, int]) -> float:
        """What the team's salaries and the fixed channels leave of the budget (negative: too much)."""
        return self.total - self.salaries(fte) - sum(self.fixed_spend.values())

    def spend(self, fte: dict[str, int], mix: dict[str, float]) -> dict[str, float]:
        """Spend per channel over the horizon: the fixed channels', and the free money by ``mix``.

        With every channel fixed, the free money is left unspent.
        """
        free = max(self.free_money(fte), 0.0)
        return {c: free * w for c, w in mix.items()} | dict(self.fixed_spend)

    def feasible(self, fte: dict[str, int], mix: dict[str, float]) -> bool:
        """Whether a team and a channel mix keep every bound."""
        if any(not lo <= fte[r] <= hi for r, (lo, hi) in self.fte_bounds.items()):
            return False
        if self.free_money(fte) < -1e-9 * max(self.total, 1):
            return False
        spend = self.spend(fte, mix)
        marketing = sum(spend.values())
        share = marketing / self.total if self.total > 0 else 0.0
        lo, hi = self.marketing_share
        if not lo - 1e-12 <= share <= hi + 1e-12:
            return False
        for c, (clo, chi) in self.channel_share.items():
            s = spend.get(c, 0.0) / marketing if marketing > 0 else 0.0
            if not clo - 1e-12 <= s <= chi + 1e-12:
                return False
        return True


@dataclass(frozen=True)
class _Candidate:
    fte: tuple[tuple[str, int], ...]
    mix: tuple[tuple[str, float], ...]  # free channels' weights, summing to 1

    @staticmethod
    def of(fte: dict[str, int], mix: dict[str, float]) -> _Candidate:
        total = sum(mix.values())
        norm = {c: (round(w / total, 10) if total > 0 else 0.0) for c, w in mix.items()}
        return _Candidate(tuple(sorted(fte.items())), tuple(sorted(norm.items())))


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


def _roles(scenario) -> dict:
    return {name: role for name in ROLE_NAMES if (role := getattr(scenario.roles, name)) is not None}


def search_space(scenario, *, total: float | None = None, fixed=(), min_fte=None, max_fte=None,
                 bounds=None) -> SearchSpace:
    """The :class:`SearchSpace` of ``scenario`` from the optimiser's options (checked, one problem each)."""
    today = current_split(scenario)
    budget_given = total is not None
    total = today.total if total is None else float(total)
    if not (math.isfinite(total) and total > 0):
        raise OptimizeError("--budget", f"expected a positive budget, got {total!r}")
    years = scenario.horizon_months / 12
    roles = {r: role for r, role in _roles(scenario).items() if role.cost_per_fte_year > 0}
    channels = spendable_channels(scenario)
    min_fte, max_fte, bounds = dict(min_fte or {}), dict(max_fte or {}), dict(bounds or {})
    problems = []
    for name in fixed:
        if name not in roles and name not in channels:
            problems.append(("--fixed", f"{name!r} is neither a role with a cost nor a spendable channel (roles: "
                                        f"{', '.join(roles) or 'none'}; channels: {', '.join(channels) or 'none'})"))
    for opt, given in (("--min-fte", min_fte), ("--max-fte", max_fte)):
        for r, n in given.items():
            if r not in roles:
                problems.append((opt, f"no role {r!r} with a cost_per_fte_year (have: {', '.join(roles) or 'none'})"))
            elif not isinstance(n, (int, np.integer)) or n < 0:
                problems.append((opt, f"{r}: expected a whole number of FTE, got {n!r}"))
    for setting, (lo, hi) in bounds.items():
        if not 0 <= lo <= hi <= 1:
            problems.append(("--bounds", f"{setting}: expected 0 <= low <= high <= 1, got {lo}:{hi}"))
        if setting != "marketing_share" and not (setting.startswith("channel_share.")
                                                 and setting.partition(".")[2] in channels):
            problems.append(("--bounds", f"{setting}: expected marketing_share or channel_share.<channel> "
                                         f"(channels: {', '.join(channels) or 'none'})"))
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    cost = {r: role.cost_per_fte_year * years for r, role in roles.items()}
    today_fte = {r: int(math.floor(today.role_mix.get(r, 0.0) / cost[r] + 1e-9)) if today.total else 0
                 for r in roles} if scenario.budget is None else _budget_fte(scenario, today, cost)
    fixed_fte = {r: today_fte[r] for r in roles if r in fixed}
    ms_lo, ms_hi = bounds.get("marketing_share", (0.0, 1.0))
    fte_bounds = {}
    for r in roles:
        if r in fixed:
            continue
        lo = min_fte.get(r, 1 if r == "ae" else 0)
        hi = max_fte.get(r, int(math.floor(total * (1 - ms_lo) / cost[r] + 1e-9)))
        if lo > hi:
            if r in max_fte:
                raise OptimizeError("--min-fte", f"{r}: at least {lo} FTE is more than --max-fte {r}={hi}")
            if r in min_fte and not budget_given:
                raise OptimizeError("--min-fte", f"{r}: at least {lo} FTE cannot be bought with today's budget of "
                                                 f"{total:,.0f} (at most {hi}); lower it or give --budget")
            raise OptimizeError("--budget", f"{total:,.0f} pays at most {hi} {r} FTE, and at least {lo} "
                                            f"{'is' if lo == 1 else 'are'} needed (--min-fte)")
        fte_bounds[r] = (lo, hi)
    marketing_today = today.total * today.marketing_share
    cw = sum(today.channel_mix.values())
    fixed_spend = {c: marketing_today * today.channel_mix.get(c, 0.0) / cw if cw > 0 else 0.0
                   for c in channels if c in fixed}
    space = SearchSpace(total=total, fte_bounds=fte_bounds, fixed_fte=fixed_fte,
                        free_channels=[c for c in channels if c not in fixed], fixed_spend=fixed_spend,
                        marketing_share=(ms_lo, ms_hi),
                        channel_share={s.partition(".")[2]: b for s, b in bounds.items() if s != "marketing_share"},
                        cost_per_fte=cost)
    least = {r: lo for r, (lo, _) in fte_bounds.items()} | fixed_fte
    if space.free_money(least) < -1e-9 * total:
        raise OptimizeError("--budget", f"{total:,.0f} does not pay the least headcount {least} and the fixed "
                                        "channels' spend")
    return space


def _budget_fte(scenario, today, cost) -> dict[str, int]:
    from sim.budget import apply_budget

    _, allocation = apply_budget(scenario)
    return {r: int(allocation.get(f"budget_fte_{r}", 0)) for r in cost}


class _Search:
    """The candidates met so far, their scenarios and labels, and the evaluator running them."""

    def __init__(self, scenario, space: SearchSpace, evaluator: Evaluator, objective: Objective, risk: Risk,
                 level: float, seed: int):
        self.scenario, self.space, self.evaluator = scenario, space, evaluator
        self.objective, self.risk, self.level, self.seed = objective, risk, level, seed
        self.scenarios: dict[_Candidate, object] = {}
        self.history: list[dict] = []

    def settings(self, cand: _Candidate) -> dict[str, float]:
        sp = self.space
        fte = dict(cand.fte)
        spend = sp.spend(fte, dict(cand.mix))
        marketing = sum(spend.values())
        out = {"marketing_share": marketing / sp.total if sp.total > 0 else 0.0}
        out.update({f"channel_share.{c}": (s / marketing if marketing > 0 else 0.0) for c, s in spend.items()})
        out.update({f"fte.{r}": float(n) for r, n in sorted(fte.items())})
        return out

    def label(self, cand: _Candidate) -> str:
        s = self.settings(cand)
        parts = [f"marketing {s['marketing_share']:.1%}"]
        parts += [f"{k.partition('.')[2]} {int(v)}" for k, v in s.items() if k.startswith("fte.")]
        if len(self.space.free_channels) > 1:
            parts += [f"{c} {s[f'channel_share.{c}']:.0%}" for c in self.space.free_channels]
        return ", ".join(parts)

    def scenario_of(self, cand: _Candidate):
        if cand not in self.scenarios:
            sp = self.space
            fte = dict(cand.fte)
            split = split_for_headcount(self.scenario, sp.total, fte, sp.spend(fte, dict(cand.mix)))
            self.scenarios[cand] = with_split(self.scenario, split)
        return self.scenarios[cand]

    def values(self, cands: list[_Candidate], reps: int) -> np.ndarray:
        """Objective values, replications (common to all) x candidates."""
        frames = [self.evaluator.replications(self.scenario_of(c), reps) for c in cands]
        common = sorted(set.intersection(*(set(f["replication"]) for f in frames)))
        return np.column_stack([self.objective.values(f.set_index("replication").loc[common].reset_index(),
                                                      self.scenario) for f in frames])

    def race(self, cands: list[_Candidate], stage: str, *, initial_reps: int, batch: int, max_reps: int,
             budget_left) -> tuple[list[_Candidate], list[_Candidate]]:
        """Sequential elimination: returns the survivors, best first, and every candidate by its last estimate."""
        alive = list(dict.fromkeys(cands))
        latest = {}
        reps = initial_reps
        while True:
            self.evaluator.run([self.scenario_of(c) for c in alive], reps)
            values = self.values(alive, reps)
            if values.shape[0] < 2:
                raise OptimizeError("--reps", "fewer than 2 replications finished for every candidate; "
                                              "run one alone with `funnel run` to see why it fails")
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
                self.history.append({"stage": stage, "alternative": self.label(cand), **self.settings(cand),
                                     "replications": int(values.shape[0]), "estimate": float(scores[j]),
                                     "eliminated": j in out})
            alive = [alive[j] for j in order if j not in out]
            if len(alive) == 1 or reps >= max_reps or budget_left() <= 0:
                return alive, sorted(latest, key=lambda c: (c not in alive, -latest[c]))
            reps = min(max_reps, reps + batch)


def _sobol_candidates(space: SearchSpace, count: int, seed: int) -> list[_Candidate]:
    roles = list(space.fte_bounds)
    chans = space.free_channels
    dims = len(roles) + (len(chans) if len(chans) > 1 else 0)
    if dims == 0:
        return []
    sampler = qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(np.random.SeedSequence([0x50B0, seed])))
    out = []
    for _ in range(8):  # draw more when bounds reject many points
        for u in sampler.random(max(2, 2 ** math.ceil(math.log2(count)))):
            fte = {r: int(round(lo + u[k] * (hi - lo))) for k, (r, (lo, hi)) in enumerate(space.fte_bounds.items())}
            fte |= space.fixed_fte
            if len(chans) > 1:
                w = -np.log(np.clip(u[len(roles):], 1e-12, 1))  # uniform on the simplex
                mix = dict(zip(chans, w / w.sum(), strict=True))
            else:
                mix = dict.fromkeys(chans, 1.0)
            if space.feasible(fte, mix):
                out.append(_Candidate.of(fte, mix))
            if len(set(out)) >= count:
                return list(dict.fromkeys(out))
    return list(dict.fromkeys(out))


def _today_candidate(scenario, space: SearchSpace) -> _Candidate | None:
    today = current_split(scenario)
    if scenario.budget is not None:
        fte = _budget_fte(scenario, today, space.cost_per_fte)
    else:
        fte = {r: int(math.floor(today.role_mix.get(r, 0.0) / space.cost_per_fte[r] + 1e-9))
               for r in space.cost_per_fte}
    fte = {r: min(max(n, space.fte_bounds[r][0]), space.fte_bounds[r][1]) for r, n in fte.items()
           if r in space.fte_bounds} | space.fixed_fte
    mix = {c: today.channel_mix.get(c, 0.0) for c in space.free_channels}
    if sum(mix.values()) <= 0:
        mix = dict.fromkeys(space.free_channels, 1.0)
    return _Candidate.of(fte, mix) if space.feasible(fte, mix) else None


def _neighbours(cand: _Candidate, space: SearchSpace, role_step: dict[str, int], channel_step: float):
    fte, mix = dict(cand.fte), dict(cand.mix)
    out = []
    for r, (lo, hi) in space.fte_bounds.items():
        for sign in (-1, 1):
            n = fte[r] + sign * role_step[r]
            if lo <= n <= hi:
                new = {**fte, r: n}
                if space.feasible(new, mix):
                    out.append(_Candidate.of(new, mix))
    for a in space.free_channels:
        for b in space.free_channels:
            if a == b or mix[a] <= 0:
                continue
            move = min(channel_step, mix[a])
            new = {**mix, a: mix[a] - move, b: mix[b] + move}
            if space.feasible(fte, new):
                out.append(_Candidate.of(fte, new))
    return out


def optimize(scenario, *, objective: Objective | None = None, risk: Risk | None = None, total: float | None = None,
             fixed=(), min_fte=None, max_fte=None, bounds=None, seed: int = 0, level: float = 0.95,
             initial_candidates: int = 12, initial_reps: int = 10, batch: int = 10, max_reps: int = 60,
             max_replications: int = 3000, min_channel_step: float = 0.025, max_rounds: int = 12,
             workers: int = 1, backend: str = "local", scheduler: str | None = None, out=None,
             progress=None, evaluator: Evaluator | None = None) -> tuple[dict, Diagnostics]:
    """The best split of ``scenario``'s budget: ``(allocation, diagnostics)``.

    Args:
        scenario: a validated scenario; today's split (:func:`sim.split.current_split`)
            gives the budget, the starting point and the fixed parts.
        objective: what each replication is judged by (default: contribution).
        risk: how the replications' objectives are summarised (default: the mean).
        total: the budget for the horizon (default: today's).
        fixed: roles that keep today's headcount and channels that keep today's spend.
        min_fte: per role, the least whole FTE (default 0, or 1 for AEs).
        max_fte: per role, the most whole FTE (default: what the budget pays).
        bounds: per setting (``marketing_share`` or ``channel_share.<channel>``), ``(low, high)``.
        seed: the root seed; every candidate's replication ``i`` has the same seed.
        level: the confidence level of eliminations and of the reported intervals.
        initial_candidates: size of the global design (today's split is added).
        initial_reps: replications per candidate at the start of a race.
        batch: replications added per round of a race.
        max_reps: replications per candidate at most in a race.
        max_replications: stop starting new races once this many have been run.
        min_channel_step: the smallest move of marketing budget between channels.
        max_rounds: refinement rounds at most.
        workers: processes (or Dask workers) to run on.
        backend: ``"local"`` or ``"dask"``.
        scheduler: with ``backend="dask"``, an existing scheduler's address.
        out: a directory to keep every candidate's replications in; running again resumes.
        progress: called as ``progress(done, total)`` while a race runs.
        evaluator: an open :class:`sim.evaluator.Evaluator` to run on (then the
            running options are ignored); :func:`smallest_budget` shares one.

    Returns:
        ``allocation``: the settings of the best split (``marketing_share``,
        ``channel_share.<c>``, ``fte.<role>``), its monthly spend per channel
        (``spend_month.<c>``) and ``total``; ``diagnostics``: a :class:`Diagnostics`.
    """
    objective = objective or Objective()
    risk = risk or mean()
    for name, value, lowest in (("initial_reps", initial_reps, 2), ("batch", batch, 1), ("max_reps", max_reps, 2),
                                ("initial_candidates", initial_candidates, 1), ("max_replications", max_replications,
                                                                              2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lowest:
            raise OptimizeError(f"--{name.replace('_', '-')}", f"expected an integer of at least {lowest}, "
                                                               f"got {value!r}")
    if max_reps < initial_reps:
        raise OptimizeError("--max-reps", f"must be at least --initial-reps ({initial_reps}), got {max_reps}")
    try:
        space = search_space(scenario, total=total, fixed=fixed, min_fte=min_fte, max_fte=max_fte, bounds=bounds)
    except SplitError as exc:
        raise OptimizeError("FILE", exc.message) from None
    if evaluator is None:
        with Evaluator(seed, workers=workers, backend=backend, scheduler=scheduler, out=out,
                       progress=progress) as ev:
            result = _optimize(scenario, space, ev, objective, risk, seed, level, initial_candidates, initial_reps,
                               batch, max_reps, max_replications, min_channel_step, max_rounds)
            ev.finish()
            return result
    return _optimize(scenario, space, evaluator, objective, risk, seed, level, initial_candidates, initial_reps,
                     batch, max_reps, max_replications, min_channel_step, max_rounds)


def _optimize(scenario, space, evaluator, objective, risk, seed, level, initial_candidates, initial_reps, batch,
              max_reps, max_replications, min_channel_step, max_rounds):
    search = _Search(scenario, space, evaluator, objective, risk, level, seed)
    start = evaluator.replications_requested

    def budget_left() -> int:
        return max_replications - (evaluator.replications_requested - start)

    today = _today_candidate(scenario, space)
    design = ([today] if today else []) + _sobol_candidates(space, initial_candidates, seed)
    if not design:
        raise OptimizeError("--bounds", "no split keeps every bound; widen --bounds, --min-fte or --max-fte")
    race = dict(initial_reps=initial_reps, batch=batch, max_reps=max_reps, budget_left=budget_left)
    survivors, ranking = search.race(design, "global", **race)
    leader = survivors[0]
    spans = {r: max(1, (hi - lo) // 4) for r, (lo, hi) in space.fte_bounds.items()}
    mixes = len(space.free_channels) > 1
    channel_step = 0.2 if mixes else 0.0
    raced = set()
    for round_ in range(max_rounds):
        if budget_left() <= 0:
            break
        near = _neighbours(leader, space, spans, channel_step)
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
    today_split = current_split(search.scenario)
    today_split = type(today_split)(sp.total, today_split.marketing_share, today_split.channel_mix,
                                    today_split.role_mix)
    today_scenario = with_split(search.scenario, today_split)
    _, bought = apply_budget(today_scenario)
    today_settings = {k: v for k, v in today_split.shares().items() if not k.startswith("role_share.")}
    today_settings.update({f"fte.{r}": bought[f"budget_fte_{r}"] for r in sp.cost_per_fte})
    # Every finalist gets max_reps replications, so the reported intervals do not
    # depend on how early a race was decided.
    search.evaluator.run([*(search.scenario_of(c) for c in final), today_scenario], reps)
    labels = {}
    for c in final:
        label = search.label(c)
        # Percentages are rounded in labels; two mixes can read the same.
        labels[c] = label if label not in labels.values() else f"{label} (#{len(labels) + 1})"
    alternatives = [Alternative(labels[c], search.scenario_of(c), search.settings(c)) for c in final]
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
    # Finalists the replications cannot tell apart from the best span a flat region; the
    # optimum may lie one step beyond the farthest of them, where nothing was shown.
    # A step that was significantly worse bounds it; a channel mix (continuous) is
    # never known closer than the last step.
    settings = search.settings(leader)
    # (Differences to the best searched split, which the comparison's own best may not be
    # when today's split ties it.)
    values = comparison.replications.pivot(index="replication", columns="alternative", values="objective")
    rows = bootstrap_rows(len(values), search.seed)
    close = [c for c in final if c == leader or paired_difference(
        values[labels[c]].to_numpy(), values[best].to_numpy(), search.risk, search.level, rows)[2] >= 0]
    tolerance = {}
    for key in settings:
        spread = float(max(abs(search.settings(c)[key] - settings[key]) for c in close))
        if key.startswith("fte.") and key.partition(".")[2] in sp.fte_bounds:
            tolerance[key] = spread + 1 if spread > 0 else 0.0
        elif key.startswith("channel_share.") and key.partition(".")[2] in sp.free_channels \
                and len(sp.free_channels) > 1:
            tolerance[key] = spread + channel_step
        elif key != "marketing_share":
            tolerance[key] = spread
    # The marketing share moves only with headcount: by the salaries of the FTE tolerance.
    tolerance["marketing_share"] = sum(tolerance[f"fte.{r}"] * sp.cost_per_fte[r] for r in sp.fte_bounds) / sp.total
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
        candidates_evaluated=int(history["alternative"].nunique()) if not history.empty else 1,
        runner_up=runner, runner_up_difference=diff, p_correct_selection=float(table.loc[best, "p_selected"]),
        tolerance=tolerance, vs_today=tuple(float(v) for v in vs_today), comparison=comparison, history=history)
    spend = sp.spend(dict(leader.fte), dict(leader.mix))
    months = search.scenario.horizon_months
    allocation = {**settings, **{f"spend_month.{c}": s / months for c, s in spend.items()}, "total": sp.total,
                  "unspent": sp.total - sp.salaries(dict(leader.fte)) - sum(spend.values()), "label": best}
    return allocation, diagnostics


def smallest_budget(scenario, *, target: float, probability: float, objective: Objective | None = None,
                    low: float | None = None, high: float | None = None, relative_tolerance: float = 0.05,
                    seed: int = 0, workers: int = 1, backend: str = "local", scheduler: str | None = None,
                    out=None, progress=None, **search) -> tuple[dict, Diagnostics]:
    """The smallest budget whose best split reaches ``target`` with probability ``probability``.

    Bisection on the budget between ``low`` (default 0) and ``high`` (default twice
    today's budget, doubled up to three times if the target is not reached there). At
    each budget the split is optimised for the probability of reaching the target
    (:func:`optimize` with ``search`` options); a budget counts as reaching it when
    that probability's estimate is at least ``probability``. It stops when the
    bracket is narrower than ``relative_tolerance`` of its upper end, and returns the
    best split at the upper end, with ``diagnostics.budget_search`` listing each budget tried.
    """
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability < 1:
        raise OptimizeError("--probability", f"expected a probability between 0 and 1, got {probability!r}")
    if not 0 < relative_tolerance < 1:
        raise OptimizeError("--budget-tolerance", f"expected a share between 0 and 1, got {relative_tolerance!r}")
    objective = objective or Objective("revenue")
    risk = probability_of_target(target)
    today = current_split(scenario).total
    lo = 0.0 if low is None else float(low)
    hi = 2 * today if high is None else float(high)
    if not 0 <= lo < hi:
        raise OptimizeError("--budget-range", f"expected 0 <= low < high, got {lo:g}:{hi:g}")
    tried = []
    with Evaluator(seed, workers=workers, backend=backend, scheduler=scheduler, out=out,
                   progress=progress) as evaluator:

        def attempt(budget: float):
            try:
                allocation, diag = optimize(scenario, objective=objective, risk=risk, total=budget, seed=seed,
                                            evaluator=evaluator, **search)
            except OptimizeError as exc:
                if exc.setting != "--budget":
                    raise
                tried.append({"budget": budget, "probability": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                              "reached": False, "note": exc.message})
                return None
            reached = diag.estimate >= probability
            tried.append({"budget": budget, "probability": diag.estimate, "ci_low": diag.ci_low,
                          "ci_high": diag.ci_high, "reached": reached, "note": allocation["label"]})
            return (allocation, diag) if reached else None

        found = attempt(hi)
        doublings = 0
        while found is None and high is None and doublings < 3:
            lo, hi = hi, 2 * hi
            doublings += 1
            found = attempt(hi)
        if found is None:
            raise OptimizeError("--target", f"not reached with probability {probability:g} even with a budget of "
                                            f"{hi:,.0f}; raise --budget-range or lower the target")
        while (hi - lo) > relative_tolerance * hi:
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
