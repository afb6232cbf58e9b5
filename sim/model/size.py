"""How big one replication of a scenario is, before it runs, and the limits a run must stay within.

A valid scenario can still be far too big for the machine: ``max_leads: 1e8`` asks for
billions of lead draws, ``fte: 1e9`` for a billion reps, a budget of 1e12 for millions
of AEs. :func:`estimate_size` counts, from the scenario's plan alone and in
microseconds, what one replication would allocate and work through: the leads it
draws, the reps' seats and tenures, the AEs' deal slots, the customers. Then
:func:`check_size` refuses a scenario past :data:`LIMITS` with a
:class:`SizeError` naming the field that drives the size, the estimate, and the limit
to raise (``limits={"leads": ...}``) for a run that is meant to be that big.

The counts are expectations or upper bounds, as each says (``docs/model.md``, "How big
a replication is"); memory and time are rough (within a factor of about two on the
machines measured in ``docs/speed.md``) and say so wherever they are printed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from sim.errors import FunnelError
from sim.model.leads import channel_rate
from sim.scenario.plan import ROLE_NAMES
from sim.scenario.units import DAYS_PER_YEAR

__all__ = ["LIMITS", "Size", "SizeError", "check_size", "estimate_size", "limit_problems", "size_problems"]

# The most one replication may need before a run is refused, by default. Each is far
# above every shipped scenario (the 20-times reference of `funnel bench --scale 20`
# draws about two million leads) and far below what hangs or exhausts a laptop.
LIMITS: Mapping[str, float] = {
    "leads": 20_000_000,  # lead draws (about 2.5 GB and several minutes)
    "seats": 10_000,  # reps' positions over the horizon, every role
    "tenures": 100_000,  # reps employed in turn over the horizon (attrition and backfill)
    "ae_slots": 1_000_000,  # deals the AEs can carry at once, summed over AE tenures
    "customers": 10_000_000,  # customers at the start
}

# What the resident memory and the time of one replication grow with, fitted on the
# reference scenario at scales 1 to 20 and with one count at a time pushed up (a
# 2-core development machine, docs/speed.md): rough by design, within about a factor of two.
_BASE_BYTES = 200e6  # the interpreter, the imports and the model's fixed allocations
_BYTES_PER_DRAW = 10.0  # a drawn lead's time, intent and keep flag, while its block is made
_BYTES_PER_LEAD = 135.0  # a kept lead's state and the queue's records
_BYTES_PER_CUSTOMER = 40.0
_BYTES_PER_SLOT = 32.0
_BYTES_PER_TENURE = 600.0  # a seat's and a tenure's Python objects
_SECONDS_PER_LEAD = 1e-5  # 5 to 13 microseconds measured, growing with the size
_SECONDS_PER_TENURE = 1e-4  # a rep's streams, tenure and prospecting
_SECONDS_PER_CUSTOMER_MONTH = 8e-8
_SECONDS_PER_SLOT = 1.7e-6
# Each SQL looks through the AEs' seats for free slots: about a tenth of the leads, 100 ns a seat.
_SECONDS_PER_LEAD_AE_SEAT = 1e-8


class SizeError(FunnelError):
    """A scenario whose replication would be bigger than the limits allow; names the field that drives it.

    Its messages name the limit to raise as ``{limit_<name>}``, which Python writes as
    ``limits={"<name>": N}`` (and the command line as its flag).
    """

    @staticmethod
    def python_name(name: str) -> str:
        """``limit_leads`` as Python passes it: ``limits={"leads": N}``; other names as themselves."""
        return f'limits={{"{name[6:]}": N}}' if name.startswith("limit_") else name


@dataclass(frozen=True)
class Size:
    """What one replication of a scenario would need (estimates; see the module docstring).

    Attributes:
        draws: lead draws, an upper bound on the leads: each source's largest monthly rate
            over the horizon (the response curve's cap plus the baseline, or the peak of
            the given leads, with the month noise's likely peak).
        leads: expected leads (the DES's Poisson mean, every source).
        seats: reps' positions over the horizon (FTE at the start plus hires, or a given headcount's largest
            month), every role.
        tenures: expected reps employed in turn in those seats (leavers backfilled; a given headcount's
            openings, exactly).
        ae_slots: deals the AEs can carry at once, summed over their expected tenures.
        customers: customers at the start.
        memory_bytes: rough peak resident memory of a process running one replication.
        seconds: rough seconds of one replication on one core.
        drivers: for each count, the scenario field that contributes most to it.
    """

    draws: float
    leads: float
    seats: float
    tenures: float
    ae_slots: float
    customers: float
    memory_bytes: float
    seconds: float
    drivers: Mapping[str, str]

    def counts(self) -> dict[str, float]:
        """The counts :data:`LIMITS` bounds, by the limit's name."""
        return {"leads": self.draws, "seats": self.seats, "tenures": self.tenures, "ae_slots": self.ae_slots,
                "customers": self.customers}


def _peak(cv: float) -> float:
    # The month multipliers are gamma with this CV; the cap takes their maximum. Three
    # CVs above the mean is a likely peak over a horizon of months.
    return 1.0 + 3.0 * cv


def _largest(contributions: dict[str, float]) -> str:
    return max(contributions, key=contributions.get) if contributions else ""


def estimate_size(scenario) -> Size:
    """Count what one replication of ``scenario`` would allocate and work through (see :class:`Size`).

    Args:
        scenario: a validated scenario; its ``plan`` says what is bought and staffed.
    """
    plan = scenario.plan
    H = scenario.horizon_months
    horizon_days = scenario.horizon_days
    draws, leads = {}, {}
    for name, ch in scenario.channels.items():
        if ch.leads is not None:
            cap, field = max(ch.leads), "leads"
        else:
            cap = (ch.response.max_leads if ch.response else 0.0) + ch.baseline_leads
            field = "response.max_leads" if ch.response and ch.response.max_leads >= ch.baseline_leads \
                else "baseline_leads"
        with_noise = _peak(ch.rate_cv)
        draws[f"channels.{name}.{field}"] = cap * with_noise * H
        with np.errstate(over="ignore", invalid="ignore"):  # an absurd cap is refused below, not warned about
            leads[f"channels.{name}.{field}"] = float(channel_rate(ch, plan.monthly_spend(name)).sum())

    seats, tenures, slots = {}, {}, {}
    for role_name in ROLE_NAMES:
        role = getattr(scenario.roles, role_name)
        if role is None or role_name not in plan.roles:
            continue
        team = plan.roles[role_name]
        n = float(team.planned_fte)
        headcount = "fte" if team.fte_by_month is None else "fte_by_month"  # the field that sets the seats
        seats[f"roles.{role_name}.{headcount}"] = n
        per_seat = 1.0
        if role.backfill and role.attrition_year > 0:
            # Each turn of a seat lasts a tenure then the hiring lead time.
            cycle_days = DAYS_PER_YEAR / role.attrition_year + role.hiring_lead_days
            per_seat += horizon_days / cycle_days
        if team.fte_by_month is not None and n > 0:  # a given headcount: a rep per opening, exactly
            steps = team.fte_by_month
            per_seat = (steps[0] + sum(max(b - a, 0) for a, b in pairwise(steps))) / n
        driver = "attrition_year" if per_seat > 2 and team.fte_by_month is None else headcount
        tenures[f"roles.{role_name}.{driver}"] = n * per_seat
        if role_name == "ae":
            slots["roles.ae.max_open_opportunities"] = n * per_seat * max(1, role.max_open_opportunities)
        if role_name in ("sdr", "ae") and role.outbound_leads_per_month > 0:
            field = f"roles.{role_name}.outbound_leads_per_month"
            draws[field] = n * role.outbound_leads_per_month * _peak(scenario.outbound.rate_cv) * H
            leads[field] = n * role.outbound_leads_per_month * H

    customers = float(scenario.customers.installed_base)
    total = {"draws": sum(draws.values()), "leads": sum(leads.values()), "seats": sum(seats.values()),
             "tenures": sum(tenures.values()), "ae_slots": sum(slots.values())}
    memory = (_BASE_BYTES + _BYTES_PER_DRAW * total["draws"] + _BYTES_PER_LEAD * total["leads"]
              + _BYTES_PER_CUSTOMER * customers + _BYTES_PER_SLOT * total["ae_slots"]
              + _BYTES_PER_TENURE * total["tenures"])
    ae_seats = seats.get("roles.ae.fte", 0.0) + seats.get("roles.ae.fte_by_month", 0.0)  # one of them is there
    seconds = (_SECONDS_PER_LEAD * total["leads"] + _SECONDS_PER_TENURE * total["tenures"]
               + _SECONDS_PER_SLOT * total["ae_slots"] + _SECONDS_PER_CUSTOMER_MONTH * customers * H
               + _SECONDS_PER_LEAD_AE_SEAT * total["leads"] * ae_seats)
    drivers = {"leads": _largest(draws), "seats": _largest(seats), "tenures": _largest(tenures),
               "ae_slots": "roles.ae.max_open_opportunities", "customers": "customers.installed_base"}
    return Size(draws=total["draws"], leads=total["leads"], seats=total["seats"], tenures=total["tenures"],
                ae_slots=total["ae_slots"], customers=customers, memory_bytes=memory, seconds=seconds,
                drivers=drivers)


_WHAT = {"leads": "lead draws", "seats": "reps' seats", "tenures": "reps employed in turn",
         "ae_slots": "AE deal slots", "customers": "starting customers"}


def limit_problems(limits: Mapping[str, float] | None) -> list[tuple[str, str]]:
    """What is wrong with ``limits`` (names that are not limits, values not positive), as ``(limits, message)``."""
    return _limits(limits)[1]


def _limits(limits: Mapping[str, float] | None) -> tuple[dict[str, float], list[tuple[str, str]]]:
    merged, problems = dict(LIMITS), []
    for name, value in (limits or {}).items():
        if name not in LIMITS:
            problems.append(("limits", f"{name!r} is not a limit; limits are {', '.join(LIMITS)}"))
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            problems.append(("limits", f"{name} must be a positive number, got {value!r}"))
        else:
            merged[name] = float(value)
    return merged, problems


def _problems(size: Size, limits: Mapping[str, float] | None, label: str) -> list[tuple[str, str]]:
    merged, problems = _limits(limits)
    if problems:
        return problems
    where = f" (alternative {label})" if label else ""
    over = [name for name, count in size.counts().items() if count > merged[name]]
    # Tenures and slots grow with the seats: one line for the team's size, not three.
    if "seats" in over:
        outbound = size.drivers["leads"].endswith("outbound_leads_per_month")  # prospecting grows with the team too
        over = [name for name in over if name not in ("tenures", "ae_slots") and not (name == "leads" and outbound)]
    elif "tenures" in over:
        over = [name for name in over if name != "ae_slots"]
    for name in over:
        problems.append((size.drivers[name] or "scenario",
                         f"one replication{where} would need {_amount(size.counts()[name])} {_WHAT[name]} (limit "
                         f"{merged[name]:,.0f}; roughly {_memory(size.memory_bytes)} of memory and "
                         f"{_duration(size.seconds)} per replication); make it smaller, or raise the limit: "
                         f"{{limit_{name}}}"))
    return problems


def _amount(x: float) -> str:
    """A count as people say it: ``about 3.12 billion``; an overflow is ``an unbounded number of``."""
    if not math.isfinite(x):
        return "an unbounded number of"
    for word, size in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if x >= size:
            return f"about {x / size:,.3g} {word}" if x < 1e3 * size or word == "trillion" else f"about {x:.3g}"
    return f"about {x:,.3g}" if x < 10 else f"about {round(x):,}"


def size_problems(scenario, limits: Mapping[str, float] | None = None, label: str = "") -> list[tuple[str, str]]:
    """Every count of one replication past its limit, as ``(field, message)``; nothing runs.

    Args:
        scenario: a validated scenario.
        limits: limits to raise or lower, by name (:data:`LIMITS`); the others keep their defaults.
        label: what the scenario is to the caller (e.g. an alternative's name), to put in the messages.
    """
    return _problems(estimate_size(scenario), limits, label)


def check_size(scenario, limits: Mapping[str, float] | None = None, label: str = "") -> Size:
    """The scenario's :class:`Size`, if one replication stays within ``limits``.

    Raises:
        SizeError: naming each field that drives a count past its limit, with the estimate.
    """
    size = estimate_size(scenario)
    if problems := _problems(size, limits, label):
        raise SizeError(*problems[0], problems=problems)
    return size


def _memory(size_bytes: float) -> str:
    if not math.isfinite(size_bytes):
        return "unbounded amounts"
    return f"{size_bytes / 1e9:,.3g} GB" if size_bytes >= 1e9 else f"{size_bytes / 1e6:,.0f} MB"


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unbounded time"
    for unit, length in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * length:
            return f"{seconds / length:,.3g} {unit}"
    return f"{seconds:,.2g} s"
