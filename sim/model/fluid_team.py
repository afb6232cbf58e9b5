"""Expected headcount over time, for the fast approximation (``docs/model.md``, 5 and 11).

The DES draws each seat's tenures (exponential, rate ``attrition_year``) and refills a
seat ``hiring_lead_days`` after a leaver. Here the same renewal process is worked out in
expectation on a grid of about a day: the chance that a seat is filled at ``t``, and
the expected productivity, qualification speed and deal slots of its rep, all
linear in the seats, so one unit response per role is shifted to each opening. The
first tenure of every seat is exact (a closed form); only backfills use the grid, so
without attrition the FTE-months, and with them the salaries, equal the DES's exactly.

A given headcount (``fte_by_month``) is not random: its tenures are the DES's
(:func:`sim.model.team.scheduled_seats`), each worked out on the grid, and its
FTE-months are the schedule's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sim.model.qualification import MIN_SERVICE_PRODUCTIVITY
from sim.model.team import MIN_RAMP_MONTHS, scheduled_seats
from sim.scenario.plan import RolePlan
from sim.scenario.schema import Role
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR, whole

__all__ = ["STEPS_PER_MONTH", "TeamCurve", "team_curve"]

STEPS_PER_MONTH = 30  # grid points a month (about a day each)


@dataclass
class TeamCurve:
    """A role's expected team by month (each a per-month array).

    Attributes:
        fte_months: expected employed FTE-months (what salaries are paid on).
        productivity: expected FTE-months of productivity (outbound leads scale with it).
        speed: expected FTE-months of qualification speed (ramp, with the 10% floor).
        slots: expected slot-months of deal slots (AEs; ramp steps from one slot).
        fte_end: expected employed FTE in the last month.
    """

    fte_months: np.ndarray
    productivity: np.ndarray
    speed: np.ndarray
    slots: np.ndarray
    fte_end: float


def _shift(values: np.ndarray, steps: int) -> np.ndarray:
    """``values`` later by ``steps`` grid points (zeros before)."""
    if steps <= 0:
        return values
    out = np.zeros_like(values)
    if steps < len(values):
        out[steps:] = values[:len(values) - steps]
    return out


def _month_means(grid: np.ndarray, horizon_months: int) -> np.ndarray:
    return grid.reshape(horizon_months, STEPS_PER_MONTH).mean(axis=1)


def team_curve(role: Role, team: RolePlan, horizon_months: int, full_slots: float = 0.0) -> TeamCurve:
    """The expected team of one role (see the module docstring).

    Args:
        role: the role's settings (attrition, backfill, lead time, ramp).
        team: the plan's seats: day-one FTE (ramped) and planned hires.
        horizon_months: the horizon.
        full_slots: an AE's deal slots when ramped (before rounding); 0 for other roles.
    """
    H = horizon_months
    n = H * STEPS_PER_MONTH
    dt = DAYS_PER_MONTH / STEPS_PER_MONTH
    t = (np.arange(n) + 0.5) * dt  # grid midpoints, days
    lam = role.attrition_year / DAYS_PER_YEAR
    ramp_days = role.ramp_months * DAYS_PER_MONTH if role.ramp_months > MIN_RAMP_MONTHS else 0.0
    top = max(1, whole(full_slots)) if full_slots > 0 else 0
    if team.fte_by_month is not None:
        if len(set(team.fte_by_month)) == 1:  # constant: the team of fte alone (attrition is refused with it)
            team = RolePlan(team.fte_by_month[0])
        else:
            return _scheduled_curve(team.fte_by_month, t, ramp_days, full_slots, top)

    # Deficits against a fully ramped rep, by time since the start of a tenure (the ramp).
    age = (np.arange(int(np.ceil(ramp_days / dt)) + 1) + 0.5) * dt if ramp_days > 0 else np.zeros(0)
    survive_age = np.exp(-lam * age)
    ramp = np.clip(age / ramp_days, 0.0, 1.0) if ramp_days > 0 else np.ones(0)
    deficit = {"productivity": (1.0 - ramp) * survive_age,
               "speed": (1.0 - np.maximum(ramp, MIN_SERVICE_PRODUCTIVITY)) * survive_age,
               "slots": (top - np.minimum(np.maximum(1, np.floor(full_slots * ramp + 1e-9)), top)) * survive_age}

    # Unit response of one seat opened at day 0 by an unramped rep: employed and backfill starts.
    first = np.exp(-lam * t)
    backfill = np.zeros(n)
    lag = max(int(round(role.hiring_lead_days / dt)), 1)
    if lam > 0 and role.backfill:
        q = np.exp(-lam * dt)
        # X[i+1] = q X[i] + (1 - q) E[i - lag], E = first + X: a linear filter with a delayed feedback.
        a = np.zeros(lag + 2)
        a[0], a[1], a[lag + 1] = 1.0, -q, -(1.0 - q)
        drive = np.zeros(n)
        drive[lag + 1:] = (1.0 - q) * first[:n - lag - 1]
        # Imported here: importing scipy.signal takes over a second, and every process that simulates
        # imports this module (the fast approximation is part of the model), while few of them call this.
        from scipy.signal import lfilter

        backfill = lfilter([1.0], a, drive)
    employed_unit = first + backfill
    starts_unit = np.zeros(n)  # backfill starts per grid step
    if lam > 0 and role.backfill:
        starts_unit[lag:] = lam * dt * employed_unit[:n - lag]

    employed_all = np.zeros(n)
    starts_all = np.zeros(n)

    exact_first = np.zeros(H)  # the first tenures' FTE-months, in closed form
    openings = [(0.0, team.fte, True)] + [(m * DAYS_PER_MONTH + role.hiring_lead_days, k, False)
                                          for m, k in team.hires]
    edges = np.arange(H + 1) * DAYS_PER_MONTH
    for start, count, ramped in openings:
        if count <= 0 or start >= edges[-1]:
            continue
        steps = int(round(start / dt))
        employed = _shift(employed_unit, steps)
        starts = _shift(starts_unit, steps)
        if not ramped:
            starts = starts.copy()
            starts[min(steps, n - 1)] += 1.0
        employed_all += count * employed
        starts_all += count * starts
        lo = np.clip(edges[:-1], start, None)
        hi = np.maximum(edges[1:], lo)
        if lam > 0:
            exact_first += count * (np.exp(-lam * (lo - start)) - np.exp(-lam * (hi - start))) / lam / DAYS_PER_MONTH
        else:
            exact_first += count * (hi - lo) / DAYS_PER_MONTH
    # The backfills from the grid; the first tenures exact.
    first_grid = sum(c * _shift(first, int(round(s / dt))) for s, c, _ in openings if c > 0 and s < edges[-1])
    fte_months = np.maximum(exact_first + _month_means(employed_all - first_grid, H), 0.0)
    # The ramp's shortfall, linear in the tenures' starts (one convolution per kind, every seat at once).
    level = {}
    for key, scale in (("productivity", 1.0), ("speed", 1.0), ("slots", float(top))):
        if key == "slots" and top == 0:
            level[key] = np.zeros(H)
            continue
        lost = np.convolve(starts_all, deficit[key])[:n] if len(age) and starts_all.any() else 0.0
        level[key] = np.maximum(_month_means(scale * employed_all - lost, H), 0.0)
    return TeamCurve(fte_months=fte_months, productivity=level["productivity"], speed=level["speed"],
                     slots=level["slots"], fte_end=float(fte_months[-1]))


def _scheduled_curve(fte_by_month, t: np.ndarray, ramp_days: float, full_slots: float, top: int) -> TeamCurve:
    """The team of a given headcount: each distinct tenure of its seats on the grid ``t`` (midpoints, days)."""
    H = len(fte_by_month)
    count = Counter((ten.start, ten.end, ten.ramped_at_start)
                    for seat in scheduled_seats("", fte_by_month) for ten in seat.tenures)
    level = {key: np.zeros(len(t)) for key in ("productivity", "speed", "slots")}
    for (start, end, ramped), k in count.items():
        on = ((t >= start) & (t < end)).astype(float) * k
        ramp = np.ones(len(t)) if ramped or ramp_days <= 0 else np.clip((t - start) / ramp_days, 0.0, 1.0)
        level["productivity"] += on * ramp
        level["speed"] += on * np.maximum(ramp, MIN_SERVICE_PRODUCTIVITY)
        if top > 0:
            level["slots"] += on * np.minimum(np.maximum(1, np.floor(full_slots * ramp + 1e-9)), top)
    fte_months = np.asarray(fte_by_month, dtype=float)  # whole months: exactly the DES's FTE-months
    means = {key: _month_means(grid, H) for key, grid in level.items()}
    return TeamCurve(fte_months=fte_months, productivity=means["productivity"], speed=means["speed"],
                     slots=means["slots"], fte_end=float(fte_months[-1]))
