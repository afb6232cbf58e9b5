"""Leads the reps prospect themselves: a CRM's channel ``outbound`` as the model's outbound leads.

A scenario reserves the channel name ``outbound`` for the leads its reps prospect
(``docs/model.md``, section 1): ``outbound_leads_per_month`` per productive FTE of a role,
so that they follow the headcount. A CRM export whose leads carry the source ``outbound``
(what ``funnel export-crm`` writes for them) is calibrated so: the leads of the training
months over the prospecting role's FTE-months (the SDRs' where the data has SDRs, else the
AEs'), with the Jeffreys Gamma(count + 1/2, FTE-months) posterior of a Poisson rate, written
as that role's ``outbound_leads_per_month``; their intent (where p_qualify is written by
channel) as ``outbound.intent``. What it cannot say: the time prospecting takes
(``prospecting_share``, left at 0) and a trend in the outbound leads beyond the headcount's.
"""

from __future__ import annotations

from scipy import stats

from sim.calibrate.estimate import DRAWS, LEVEL, Estimate
from sim.calibrate.volumes import fte_schedule

__all__ = ["OUTBOUND", "outbound_leads"]

OUTBOUND = "outbound"  # the channel name a scenario reserves for the leads reps prospect


def _fte_months(found: dict, role: str) -> tuple[float, str]:
    """The role's FTE-months over the training months as the calibrated scenario has them, and where from.

    The whole FTE of the ``fte_by_month`` the writer makes of the headcount table (a month past
    its end repeats the last), so that the rate times the scenario's FTE gives the data's leads.
    """
    months = max(int(found["months"]), 1)
    series = found.get("team", {}).get(role)
    schedule = fte_schedule(found, series)[0] if series else []
    if schedule:
        total = float(sum(schedule[min(k, len(schedule) - 1)] for k in range(months)))
        return total, f"the {role}'s whole FTE-months of the headcount table over the {months} training months"
    fte = float(found.get("reps", {}).get(role, 1.0)) or 1.0
    source = found.get("reps_source", "default") if role in found.get("reps", {}) else "not identified: 1 assumed"
    return fte * months, f"{fte:g} {role} FTE ({source}) times the {months} training months"


def outbound_leads(found: dict, rng) -> None:
    """Move the channel ``outbound`` of ``found`` (its leads, intent, segments) to the model's outbound leads.

    Replaces the estimate ``channels.outbound.leads`` with ``roles.<role>.outbound_leads_per_month``
    (``found["outbound"]`` says which role), renames ``channels.outbound.intent`` to
    ``outbound.intent``, and drops outbound segments (the model's outbound leads have none),
    saying so among the not identified.
    """
    e = next((x for x in found["estimates"] if x.path == f"channels.{OUTBOUND}.leads"), None)
    if e is None:
        return
    found["estimates"].remove(e)
    role = "sdr" if found.get("reps", {}).get("sdr") else "ae"
    fte_months, source = _fte_months(found, role)
    shape = e.n + 0.5
    low, high = stats.gamma.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], shape, scale=1 / fte_months)
    path = f"roles.{role}.outbound_leads_per_month"
    rate = Estimate(path, e.n / fte_months, float(low), float(high), e.n, e.window,
                    f"the leads of the channel {OUTBOUND} (which a scenario keeps for the leads its reps prospect) "
                    f"over {source} ({fte_months:.4g}): a Poisson rate per FTE-month, Jeffreys Gamma posterior; "
                    "they follow the headcount", rng.gamma(shape, 1 / fte_months, DRAWS))
    found["estimates"].append(rate)
    found["outbound"] = {"role": role, "rate": rate}
    found["not_identified"].append((f"roles.{role}.prospecting_share", "the time prospecting takes is not in a CRM: "
                                                                       "0 (it takes none of the reps' time)"))
    if getattr(e, "schedule", None) is not None:
        found["not_identified"].append((f"channels.{OUTBOUND}.leads", "its trend or seasonality is not written: the "
                                                                      "outbound leads follow the prospecting role's "
                                                                      "headcount"))
    intent = found.get("intent", {})
    old = intent.pop(f"channels.{OUTBOUND}.intent", None)
    if old is not None:
        new = Estimate(f"{OUTBOUND}.intent", old.estimate, old.low, old.high, old.n, old.window, old.method,
                       old.draws)
        intent[new.path] = new
        found["estimates"] = [new if x is old else x for x in found["estimates"]]
    if found.get("segments", {}).pop(OUTBOUND, None) is not None:
        found["estimates"] = [x for x in found["estimates"] if not x.path.startswith(f"channels.{OUTBOUND}.")]
        for key in [k for k in intent if k.startswith(f"channels.{OUTBOUND}.")]:
            del intent[key]
        found["not_identified"].append((f"channels.{OUTBOUND}.segments", "the leads reps prospect have no segments "
                                                                         "in the model: not written"))
