"""A toy model function for the Monte Carlo layer: measures whose distribution is known exactly.

A replication draws ``months * draws`` independent normal values with the scenario's
``mean`` and ``sd``, ``draws`` of them in each month. Its measures are

- ``average``: the mean of every draw, normal with mean ``mean`` and sd ``sd / sqrt(months * draws)``;
- ``total``: their sum;
- ``spread``: ``{"min": ..., "max": ...}`` (a nested measure, as the funnel's ``lead_accounting``);

its monthly frame has one row per month (``month``, ``average`` of that month's draws),
and with ``trace`` it also returns every draw (``month``, ``draw``). It lives at module
level so that worker processes can import it (``tests`` is on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ToyScenario:
    """What the toy model runs: a plain dataclass (the Monte Carlo layer needs nothing more of a scenario)."""

    name: str = "toy"
    mean: float = 10.0
    sd: float = 2.0
    months: int = 3
    draws: int = 4

    @property
    def average_sd(self) -> float:
        """The sd of the ``average`` measure."""
        return self.sd / np.sqrt(self.months * self.draws)


def toy(scenario: ToyScenario, seed, trace: bool = False):
    """One replication of the toy model: ``(measures, monthly)``, with ``trace`` also the draws."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scenario.mean, scenario.sd, size=(scenario.months, scenario.draws))
    measures = {"average": float(x.mean()), "total": float(x.sum()),
                "spread": {"min": float(x.min()), "max": float(x.max())}}
    monthly = pd.DataFrame({"month": np.arange(scenario.months), "average": x.mean(axis=1)})
    if not trace:
        return measures, monthly
    draws = pd.DataFrame({"month": np.repeat(np.arange(scenario.months), scenario.draws), "draw": x.ravel()})
    return measures, monthly, draws


WIN_VALUE = 500.0  # the closed-form funnel's win probability (0.5) times its deal value (1,000)


def closed_form_contribution(scenario, win_value: float = WIN_VALUE) -> float:
    """The expected contribution of a funnel scenario with exponential response curves and no capacity limit.

    Every lead is an MQL, qualifies and reaches one stage that wins; ``win_value`` is
    the win probability times the one-off deal value: so the expectation is
    ``win_value * sum(max_leads * (1 - exp(-spend / spend_scale)))`` over channels and
    months, less the spend (the AEs cost nothing). ``tests/decide/test_optimize.py``
    builds such scenarios.
    """
    win = win_value
    total = 0.0
    for name, channel in scenario.channels.items():
        spend = np.asarray(scenario.plan.spend[name], dtype=float)
        curve = channel.response
        total += float((win * curve.max_leads * (1 - np.exp(-spend / curve.spend_scale)) - spend).sum())
    return total


_ONE_MONTH = pd.DataFrame({"month": [0]})  # never changed: the Monte Carlo layer copies it with assign()


def split_toy(scenario, seed, trace: bool = False):
    """A replication whose contribution is :func:`closed_form_contribution` plus noise, with common random numbers.

    The noise is a part every split shares (sd 20,000: the world of replication ``i``)
    and a part of the split's own (sd 3,000, from the seed and the split's spend), as the
    funnel's splits share most of their luck; the mean is exact, so a search can be
    checked against the truth over many seeds at no cost.
    """
    seq = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key) if hasattr(seed, "entropy") else \
        np.random.SeedSequence(seed)
    shared = np.random.default_rng(seq).normal(0, 20_000)
    own_key = int(sum(round(float(np.sum(v)) * 100) for v in scenario.plan.spend.values())) % (2**32)
    own = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, own_key)))
    value = closed_form_contribution(scenario) + shared + own.normal(0, 3_000)
    return {"contribution": value, "revenue": value}, _ONE_MONTH


# -- a plan over time with known means: capacity that binds, value that arrives late --------------------------------

PLAN_VALUE = 500.0  # what a lead worked by a seat brings, DELAY months after it is worked
PLAN_SEAT_LEADS = 30.0  # leads a seat works a month
PLAN_DELAY = 2  # months from working a lead to its money; later than the horizon is lost
PLAN_SD = 1_000.0  # sd of a month's contribution; one normal per replication moves every month alike


def plan_monthly_mean(scenario) -> np.ndarray:
    """The expected monthly contribution of a plan-toy scenario (see :func:`_plan_monthly_mean`), once per plan."""
    plan = scenario.plan
    curve = scenario.channels["a"].response
    key = (tuple(plan.spend["a"]), plan.roles["ae"].fte, plan.roles["ae"].hires, scenario.horizon_months,
           scenario.roles.ae.cost_per_fte_year, scenario.roles.ae.hiring_lead_days, curve.max_leads, curve.spend_scale)
    if key not in _PLAN_MEANS:
        _PLAN_MEANS[key] = _plan_monthly_mean(scenario)
    return _PLAN_MEANS[key].copy()


_PLAN_MEANS: dict = {}


def _plan_monthly_mean(scenario) -> np.ndarray:
    """The expected monthly contribution of a plan-toy scenario (one channel ``a`` and the AEs).

    Leads each month are the exponential response's mean (no carryover, no lag); the
    AE seats work at most :data:`PLAN_SEAT_LEADS` each a month, counting a seat from the
    first month that starts after it does; each lead worked brings :data:`PLAN_VALUE`
    :data:`PLAN_DELAY` months later. Costs are the month's spend and each seat's salary
    for the days of the month it is filled (as the budget accounts them).
    """
    plan, H = scenario.plan, scenario.horizon_months
    days = 365.25 / 12
    curve = scenario.channels["a"].response
    spend = np.asarray(plan.spend["a"], dtype=float)
    leads = curve.max_leads * (1 - np.exp(-spend / curve.spend_scale))
    role, team = scenario.roles.ae, plan.roles["ae"]
    starts = [0.0] * team.fte + [m * days + role.hiring_lead_days for m, n in team.hires for _ in range(n)]
    month_start = np.arange(H) * days
    seats = np.array([sum(s <= t for s in starts) for t in month_start], dtype=float)
    worked = np.minimum(leads, PLAN_SEAT_LEADS * seats)
    value = np.zeros(H)
    value[PLAN_DELAY:] = PLAN_VALUE * worked[:H - PLAN_DELAY]
    filled = np.array([sum(max(0.0, min((m + 1) * days, H * days) - max(m * days, s)) for s in starts)
                       for m in range(H)])
    salaries = role.cost_per_fte_year * filled / 365.25
    return value - spend - salaries


def plan_toy(scenario, seed, trace: bool = False):
    """A replication of the plan toy: the exact monthly means plus one normal per replication, months alike.

    The normal is a part every plan shares (the world of replication ``i``, as common
    random numbers give) and a part of the plan's own (from the seed and the plan's hires
    and spend), mixed to a standard normal ``z``; month ``m``'s contribution is its mean
    plus ``z * PLAN_SD``. So the cash after month ``m`` is its expectation plus
    ``z * PLAN_SD * (m + 1)``, and the chance it stays above ``-runway`` in every month
    is :func:`plan_cash_probability` in closed form.
    """
    seq = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key) if hasattr(seed, "entropy") else \
        np.random.SeedSequence(seed)
    shared = np.random.default_rng(seq).normal()
    plan = scenario.plan
    own_key = (int(sum(round(float(np.sum(v)) * 100) for v in plan.spend.values()))
               + 7919 * sum((m + 1) * n for m, n in plan.roles["ae"].hires)) % (2**32)
    own = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, own_key))).normal()
    z = 0.96 * shared + 0.28 * own  # a standard normal: 0.96**2 + 0.28**2 == 1
    monthly = plan_monthly_mean(scenario) + z * PLAN_SD
    measures = {"contribution": float(monthly.sum())}
    return measures, pd.DataFrame({"month": np.arange(len(monthly)), "contribution": monthly})


def plan_exact(scenario):
    """The plan toy's expected measures and monthly series, as the fast approximation would give them."""
    monthly = plan_monthly_mean(scenario)
    return {"contribution": float(monthly.sum())}, pd.DataFrame({"month": np.arange(len(monthly)),
                                                                 "contribution": monthly})


def plan_cash_probability(scenario, runway: float) -> float:
    """The exact chance that the plan toy's cash stays at or above ``-runway`` at the end of every month."""
    from scipy import stats

    cash = np.cumsum(plan_monthly_mean(scenario))
    scale = PLAN_SD * (np.arange(len(cash)) + 1)
    # cash_m + z * scale_m >= -runway for every m  <=>  z >= max_m (-runway - cash_m) / scale_m
    return float(stats.norm.sf(np.max((-runway - cash) / scale)))


# -- the Ishigami function, for sensitivity indices known in closed form ---------------------------------------

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


@dataclass(frozen=True)
class IshigamiScenario:
    """Inputs changed by name as a scenario's paths are (``replace({"x1": 0.3})``); ``x4`` enters nothing.

    The noise is a part every point shares (the world of replication ``i``) and, for
    ``own`` of its variance, a part of the point's own (from the seed and the inputs), as
    the funnel's points share most of their luck but not all.
    """

    x1: float = 0.0
    x2: float = 0.0
    x3: float = 0.0
    x4: float = 0.0
    noise_sd: float = 0.05
    own: float = 0.0

    def replace(self, changes: dict):
        import dataclasses

        return dataclasses.replace(self, **changes)


def ishigami(scenario: IshigamiScenario, seed, trace: bool = False):
    """A replication: the Ishigami function of x1..x3 plus noise (shared and the point's own)."""
    seq = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key) if hasattr(seed, "entropy") else \
        np.random.SeedSequence(seed)
    x1, x2, x3 = scenario.x1, scenario.x2, scenario.x3
    value = np.sin(x1) + ISHIGAMI_A * np.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * np.sin(x1)
    key = int(abs(hash((scenario.x1, scenario.x2, scenario.x3, scenario.x4))) % (2**32))
    own = np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, key))).normal()
    z = np.sqrt(1 - scenario.own) * np.random.default_rng(seq).normal() + np.sqrt(scenario.own) * own
    return {"contribution": float(value + scenario.noise_sd * z)}, _ONE_MONTH


def ishigami_indices() -> dict[str, tuple[float, float]]:
    """The Ishigami function's first-order and total Sobol indices, ``name -> (S1, ST)``, in closed form."""
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, np.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return {"x1": (v1 / var, (v1 + v13) / var), "x2": (v2 / var, v2 / var), "x3": (0.0, v13 / var)}
