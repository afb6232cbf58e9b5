"""Headcount over time: seats, the reps who fill them, ramp and attrition (``docs/model.md``, Teams).

Headcount does not depend on the leads, so each replication draws it before the
funnel runs. A *seat* is one FTE position: filled at the start, or by a planned hire
after the hiring lead time; when its rep leaves (exponential tenure) it is refilled
after the lead time if backfill is on. Each seat draws from its own stream, so a
scenario with more seats sees the same reps in the seats it shares with a smaller one.

A given headcount (the role's ``fte_by_month``) draws nothing: seat k is filled in the
months whose FTE exceeds k, each run of such months one rep who joins at the start of
its first month and leaves at the end of its last (:func:`scheduled_seats`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.scenario.plan import RolePlan
from sim.scenario.schema import Role
from sim.scenario.units import DAYS_PER_MONTH, DAYS_PER_YEAR, whole

__all__ = ["MIN_RAMP_MONTHS", "Seat", "Tenure", "draw_seats", "fte_by_month", "productivity", "scheduled_seats",
           "slot_limit_steps"]

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


def draw_seats(role_name: str, role: Role, team: RolePlan, horizon_days: float, streams) -> list[Seat]:
    """Draw the tenures of every seat of ``team`` (the plan's) over the horizon, with ``role``'s attrition.

    A team with a given headcount (``team.fte_by_month``) has its seats from the schedule,
    drawing nothing (:func:`scheduled_seats`).
    """
    if team.fte_by_month is not None:
        return scheduled_seats(role_name, team.fte_by_month)
    openings = [(0.0, True)] * team.fte
    for month, fte in team.hires:
        openings += [(month * DAYS_PER_MONTH + role.hiring_lead_days, False)] * fte
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


def scheduled_seats(role_name: str, fte_by_month) -> list[Seat]:
    """The seats of a given headcount: whole FTE in each month of the horizon (``fte_by_month``, one per month).

    Seat k is filled in the months m with ``fte_by_month[m] > k``; each run of such months
    is one tenure, from the start of its first month to the end of its last (``inf`` when
    the run reaches the horizon's end: the last month repeats). A tenure from day 0 is a
    ramped rep, any later one a new rep who ramps; so a seat that closes and reopens is
    refilled by a new rep.
    """
    schedule = np.asarray(fte_by_month, dtype=np.int64)
    H = len(schedule)
    seats = []
    for k in range(int(schedule.max(initial=0))):
        filled = np.concatenate(([False], schedule > k, [False]))
        edges = np.flatnonzero(filled[1:] != filled[:-1])  # run starts and ends alternate
        seat = Seat(role_name, k)
        for first, end in zip(edges[::2], edges[1::2], strict=True):
            stop = np.inf if end >= H else float(end * DAYS_PER_MONTH)
            seat.tenures.append(Tenure(float(first * DAYS_PER_MONTH), stop, bool(first == 0)))
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

    The limit is the whole number of slots in ``full_slots * productivity`` (forgiving
    round-off, :func:`sim.scenario.units.whole`), at least one from the first day, so
    during the ramp it steps up one slot at a time; a ramped rep has
    ``max(1, whole(full_slots))`` throughout. Steps at or after ``until`` (the end of
    the tenure or the horizon) are left out.
    """
    top = max(1, whole(full_slots))
    if tenure.ramped_at_start or ramp_months <= MIN_RAMP_MONTHS:
        return [(tenure.start, top)]
    ramp_days = ramp_months * DAYS_PER_MONTH
    steps = [(tenure.start, 1)]
    for k in range(2, top + 1):
        # A slot that round-off puts just past full_slots arrives when the ramp ends.
        t = tenure.start + (ramp_days * k / full_slots if k <= full_slots else ramp_days)
        if t >= until:
            break
        steps.append((t, k))
    return steps
