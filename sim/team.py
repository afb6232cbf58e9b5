"""Headcount over time: seats, the reps who fill them, ramp and attrition (MODEL.md 5).

Headcount does not depend on the leads, so each replication draws it before the
funnel runs. A *seat* is one FTE position: filled at the start, or by a planned hire
after the hiring lead time; when its rep leaves (exponential tenure) it is refilled
after the lead time if backfill is on. Each seat draws from its own stream, so a
scenario with more seats sees the same reps in the seats it shares with a smaller one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.config import DAYS_PER_MONTH, Role

__all__ = ["MIN_RAMP_MONTHS", "Seat", "slot_limit_steps", "Tenure", "draw_seats", "fte_by_month", "productivity"]

DAYS_PER_YEAR = 365.25
MIN_RAMP_MONTHS = 1e-6  # shorter ramps count as none (and keep the arithmetic finite)


@dataclass(frozen=True)
class Tenure:
    """One rep in a seat: working from ``start`` to ``end`` (days), ramping from ``start``."""

    start: float
    end: float
    ramped_at_start: bool


@dataclass
class Seat:
    """One FTE position of a role and the reps who fill it in turn."""

    role: str
    index: int
    tenures: list[Tenure] = field(default_factory=list)


def draw_seats(role_name: str, role: Role, horizon_days: float, streams) -> list[Seat]:
    """Draw the tenures of every seat of ``role`` over the horizon."""
    openings = [(0.0, True)] * role.fte
    for hire in role.hires:
        openings += [(hire.month * DAYS_PER_MONTH + role.hiring_lead_days, False)] * hire.fte
    seats = []
    for k, (start, ramped) in enumerate(openings):
        rng = streams(f"headcount/{role_name}/{k}")
        seat = Seat(role_name, k)
        while start < horizon_days:
            if role.attrition_year > 0:
                end = start + rng.exponential(DAYS_PER_YEAR / role.attrition_year)
            else:
                end = np.inf
            seat.tenures.append(Tenure(start, end, ramped))
            if not role.backfill or end >= horizon_days:
                break
            start, ramped = end + role.hiring_lead_days, False
        seats.append(seat)
    return seats


def productivity(tenure: Tenure, t, ramp_months: float):
    """Productivity in [0, 1] of a tenure's rep at times ``t`` (days); 0 when not employed.

    Rises linearly from 0 at the start to 1 after ``ramp_months`` (reps present at the
    start of the horizon are taken as ramped).
    """
    t = np.asarray(t, dtype=float)
    employed = (t >= tenure.start) & (t < tenure.end)
    if tenure.ramped_at_start or ramp_months <= MIN_RAMP_MONTHS:
        return employed.astype(float)
    ramp = np.clip((t - tenure.start) / (ramp_months * DAYS_PER_MONTH), 0.0, 1.0)
    return np.where(employed, ramp, 0.0)


def fte_by_month(seats: list[Seat], horizon_months: int) -> np.ndarray:
    """Employed FTE-months in each month (fractional for part-months)."""
    edges = np.arange(horizon_months + 1) * DAYS_PER_MONTH
    out = np.zeros(horizon_months)
    for seat in seats:
        for ten in seat.tenures:
            lo = np.clip(ten.start, edges[:-1], edges[1:])
            hi = np.clip(ten.end, edges[:-1], edges[1:])
            out += (hi - lo) / DAYS_PER_MONTH
    return out


def slot_limit_steps(tenure: Tenure, full_slots: float, ramp_months: float, until: float):
    """When an AE's open-deal limit changes during a tenure: ``[(day, limit), ...]``.

    The limit is ``floor(full_slots * productivity)``, at least one from the first day,
    so during the ramp it steps up one slot at a time; a ramped rep has
    ``max(1, floor(full_slots))`` throughout. Steps at or after ``until`` (the end of the
    tenure or the horizon) are left out.
    """
    top = max(1, int(full_slots))
    if tenure.ramped_at_start or ramp_months <= MIN_RAMP_MONTHS:
        return [(tenure.start, top)]
    ramp_days = ramp_months * DAYS_PER_MONTH
    steps = [(tenure.start, 1)]
    for k in range(2, top + 1):
        t = tenure.start + ramp_days * k / full_slots
        if t >= until:
            break
        steps.append((t, k))
    return steps
