"""What the optimiser may change: the decision, its limits, and the candidates it tries.

The decision is the whole-FTE headcount of each role with a cost and the mix of the
channels with a response curve (:class:`Candidate`). A :class:`SearchSpace` holds the
limits (``bounds``, ``min_fte``, ``max_fte``, ``fixed``) and turns a candidate into
money: the salaries of its team and the fixed channels' spend come first, and the rest
of the budget goes to the free channels by the candidate's mix. A candidate is run as
the plan it is (:meth:`SearchSpace.scenario`): its spend and team written into the
scenario, accounted against the budget, so nothing is inverted or rounded on the way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import qmc

from sim.decide.split import current_split, defined_roles, spendable_channels, todays_team
from sim.errors import FunnelError
from sim.scenario.units import whole
from sim.seeds import keyed

__all__ = ["BudgetTooSmall", "Candidate", "OptimizeError", "SearchSpace", "neighbours", "search_space",
           "sobol_candidates", "today_candidate"]


class OptimizeError(FunnelError):
    """A search that cannot be made; names each parameter at fault."""


class BudgetTooSmall(OptimizeError):
    """A budget that does not pay the least team (and the fixed channels) the search allows."""


@dataclass(frozen=True)
class Candidate:
    """One split the optimiser tries: whole FTE per role, and the free channels' weights."""

    fte: tuple[tuple[str, int], ...]
    mix: tuple[tuple[str, float], ...]  # free channels' weights, summing to 1

    @staticmethod
    def of(fte: dict[str, int], mix: dict[str, float]) -> Candidate:
        """The candidate with this team and these channel weights (normalised, so equal mixes are equal)."""
        total = sum(mix.values())
        norm = {c: (round(w / total, 10) if total > 0 else 0.0) for c, w in mix.items()}
        return Candidate(tuple(sorted(fte.items())), tuple(sorted(norm.items())))


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
        weight = sum(mix.values())  # weights are relative (about 1 in a candidate)
        return {c: (free * w / weight if weight > 0 else 0.0) for c, w in mix.items()} | dict(self.fixed_spend)

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

    def settings(self, cand: Candidate) -> dict[str, float]:
        """A candidate as named settings: ``marketing_share``, ``channel_share.<c>``, ``fte.<role>``."""
        sp = self
        fte = dict(cand.fte)
        spend = sp.spend(fte, dict(cand.mix))
        marketing = sum(spend.values())
        out = {"marketing_share": marketing / sp.total if sp.total > 0 else 0.0}
        out.update({f"channel_share.{c}": (s / marketing if marketing > 0 else 0.0) for c, s in spend.items()})
        out.update({f"fte.{r}": float(n) for r, n in sorted(fte.items())})
        return out

    def scenario(self, scenario, cand: Candidate):
        """``scenario`` running ``cand`` as its plan: its spend per month and whole team, accounted against the budget.

        Every role with a cost gets the candidate's FTE from day one (no hires), every
        spendable channel the candidate's spend as a constant monthly amount, and the
        budget block accounts for it (``budget_unspent`` is what it leaves).
        """
        months = scenario.horizon_months
        fte = dict(cand.fte)
        changes = {f"channels.{c}.spend": [s / months] for c, s in self.spend(fte, dict(cand.mix)).items()}
        for r, n in fte.items():
            changes[f"roles.{r}.fte"] = int(n)
            changes[f"roles.{r}.hires"] = []
        changes["budget"] = {"total": self.total}
        return scenario.replace(changes)

    def label(self, cand: Candidate) -> str:
        """A short label: the marketing share, the FTE per role and, if it varies, the channel mix."""
        s = self.settings(cand)
        parts = [f"marketing {s['marketing_share']:.1%}"]
        parts += [f"{k.partition('.')[2]} {int(v)}" for k, v in s.items() if k.startswith("fte.")]
        if len(self.free_channels) > 1:
            parts += [f"{c} {s[f'channel_share.{c}']:.0%}" for c in self.free_channels]
        return ", ".join(parts)


def search_space(scenario, *, budget: float | None = None, fixed=(), min_fte=None, max_fte=None,
                 bounds=None) -> SearchSpace:
    """The :class:`SearchSpace` of ``scenario`` from the optimiser's options (checked, every problem at once).

    Raises:
        OptimizeError: naming each option at fault; :class:`BudgetTooSmall` when the
            budget does not pay the least team the limits allow.
    """
    today = current_split(scenario)
    budget_given = budget is not None
    total = today.total if budget is None else budget
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not (math.isfinite(total) and total > 0):
        raise OptimizeError("budget", f"expected a positive amount, got {total!r}")
    total = float(total)
    years = scenario.horizon_months / 12
    roles = {r: role for r, role in defined_roles(scenario).items() if role.cost_per_fte_year > 0}
    channels = spendable_channels(scenario)
    min_fte, max_fte, bounds = dict(min_fte or {}), dict(max_fte or {}), dict(bounds or {})
    problems = []
    for name in fixed:
        if name not in roles and name not in channels:
            problems.append(("fixed", f"{name!r} is neither a role with a cost nor a spendable channel (roles: "
                                        f"{', '.join(roles) or 'none'}; channels: {', '.join(channels) or 'none'})"))
    for opt, given in (("min_fte", min_fte), ("max_fte", max_fte)):
        for r, n in given.items():
            if r not in roles:
                problems.append((opt, f"no role {r!r} with a cost_per_fte_year (have: {', '.join(roles) or 'none'})"))
            elif isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                problems.append((opt, f"{r}: expected a whole number of FTE, got {n!r}"))
    for setting, pair in bounds.items():
        lo, hi = pair if isinstance(pair, (tuple, list)) and len(pair) == 2 else (math.nan, math.nan)
        if not 0 <= lo <= hi <= 1:
            problems.append(("bounds", f"{setting}: expected (low, high) with 0 <= low <= high <= 1, got {pair!r}"))
        if setting != "marketing_share" and not (setting.startswith("channel_share.")
                                                 and setting.partition(".")[2] in channels):
            problems.append(("bounds", f"{setting}: expected marketing_share or channel_share.<channel> "
                                       f"(channels: {', '.join(channels) or 'none'})"))
    if problems:
        raise OptimizeError(*problems[0], problems=problems)
    cost = {r: role.cost_per_fte_year * years for r, role in roles.items()}
    today_fte = todays_team(scenario)
    fixed_fte = {r: today_fte.get(r, 0) for r in roles if r in fixed}
    ms_lo, ms_hi = bounds.get("marketing_share", (0.0, 1.0))
    fte_bounds = {}
    for r in roles:
        if r in fixed:
            continue
        lo = min_fte.get(r, 1 if r == "ae" else 0)
        hi = max_fte.get(r, whole(total * (1 - ms_lo) / cost[r]))
        if lo > hi:
            if r in max_fte:
                raise OptimizeError("min_fte", f"{r}: at least {lo} FTE is more than {{max_fte}} {r}={hi}")
            if r in min_fte and not budget_given:
                raise OptimizeError("min_fte", f"{r}: at least {lo} FTE cannot be bought with today's budget of "
                                               f"{total:,.0f} (at most {hi}); lower it or give {{budget}}")
            raise BudgetTooSmall("budget", f"{total:,.0f} pays at most {hi} {r} FTE, and at least {lo} "
                                           f"{'is' if lo == 1 else 'are'} needed ({{min_fte}})")
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
        raise BudgetTooSmall("budget", f"{total:,.0f} does not pay the least headcount {least} and the fixed "
                                       "channels' spend")
    return space


def sobol_candidates(space: SearchSpace, count: int, seed: int) -> list[Candidate]:
    """Up to ``count`` distinct feasible candidates from a scrambled Sobol design, reproducible from ``seed``."""
    roles = list(space.fte_bounds)
    chans = space.free_channels
    dims = len(roles) + (len(chans) if len(chans) > 1 else 0)
    if dims == 0:
        return []
    sampler = qmc.Sobol(d=dims, scramble=True, seed=np.random.default_rng(keyed(seed, 0x50B0)))
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
                out.append(Candidate.of(fte, mix))
            if len(set(out)) >= count:
                return list(dict.fromkeys(out))
    return list(dict.fromkeys(out))


def today_candidate(scenario, space: SearchSpace) -> Candidate | None:
    """Today's team (kept within the bounds) with today's channel mix, spending the whole budget."""
    today = current_split(scenario)
    team = todays_team(scenario)
    fte = {r: min(max(team.get(r, 0), lo), hi) for r, (lo, hi) in space.fte_bounds.items()} | space.fixed_fte
    mix = {c: today.channel_mix.get(c, 0.0) for c in space.free_channels}
    if sum(mix.values()) <= 0:
        mix = dict.fromkeys(space.free_channels, 1.0)
    return Candidate.of(fte, mix) if space.feasible(fte, mix) else None


def neighbours(cand: Candidate, space: SearchSpace, role_step: dict[str, int], channel_step: float) -> list[Candidate]:
    """A role's headcount up or down by its step; a step of marketing budget from one free channel to another."""
    fte, mix = dict(cand.fte), dict(cand.mix)
    out = []
    for r, (lo, hi) in space.fte_bounds.items():
        for sign in (-1, 1):
            n = fte[r] + sign * role_step[r]
            if lo <= n <= hi:
                new = {**fte, r: n}
                if space.feasible(new, mix):
                    out.append(Candidate.of(new, mix))
    for a in space.free_channels:
        for b in space.free_channels:
            if a == b or mix[a] <= 0:
                continue
            move = min(channel_step, mix[a])
            new = {**mix, a: mix[a] - move, b: mix[b] + move}
            if space.feasible(fte, new):
                out.append(Candidate.of(fte, new))
    return out
