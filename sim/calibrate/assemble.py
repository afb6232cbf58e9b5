"""Every estimate the CRM tables identify, in the order each needs the others, and what they do not identify.

:func:`estimate_all` runs the estimators of the modules beside it (lead volumes, qualification,
the stages, the age effect, segments and channel intents, deal values, spend, the team, the
leads reps prospect, and last the SDR capacity, which simulates the funnel of all the others)
and gathers what they find for :mod:`sim.calibrate.writer`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.calibrate.age import age_effect
from sim.calibrate.capacity import apply_capacity
from sim.calibrate.decay import response_decay
from sim.calibrate.estimate import (
    LEVEL,
    _extrapolation_warnings,
    deal_value,
    lead_volumes,
    qualification,
    window_text,
)
from sim.calibrate.outbound import outbound_leads
from sim.calibrate.segments import intent_estimates, segment_estimates
from sim.calibrate.slots import ae_capacity
from sim.calibrate.stages import deal_stages, qualification_by_channel
from sim.calibrate.tables import CrmTables
from sim.calibrate.volumes import deals_per_rep, team_by_month

__all__ = ["estimate_all"]


def estimate_all(read: CrmTables, seed=0) -> dict:
    """Every estimate the tables identify, and the names of what they do not."""
    rng = np.random.default_rng(seed)
    deals = read.tables["deals"]
    cutoff = read.cutoff
    first = deals["created_date"].min()
    window = window_text(first, cutoff)
    found: dict = {"estimates": [], "not_identified": [], "warnings": list(read.warnings)}
    leads = read.tables.get("leads")
    if leads is not None and len(leads):
        vols, start, months = lead_volumes(leads, cutoff, rng)
        found["warnings"] += _extrapolation_warnings(vols)
        found["estimates"] += vols
        found["start"], found["months"] = start, months
        q = None if read.leads_from_deals else qualification(leads, cutoff, window_text(leads["created_date"].min(),
                                                                                      cutoff), rng)
        found["decay"] = None if read.leads_from_deals else response_decay(leads)
        if read.leads_from_deals:
            found["leads_from_deals"] = True
            found["not_identified"].append(("qualification.p_qualify", "no leads table: each deal is its own "
                                                                       "lead, so every lead becomes a deal (1)"))
        elif q is not None:
            found["estimates"].append(q)
        else:
            found["not_identified"].append(("qualification.p_qualify", "no qualified/disqualified dates"))
    else:
        found["warnings"].append("no leads table: lead volumes, channels and qualification are not identified")
        found["not_identified"] += [("channels", "no leads table (no lead source)"),
                                    ("qualification.p_qualify", "no leads table")]
        start = first.to_period("M").to_timestamp()
        found["start"] = start
        found["months"] = max(int((cutoff.year - start.year) * 12 + cutoff.month - start.month) + 1, 1)
    stages = deal_stages(read, deals, cutoff, window, rng, found)
    found["stages"] = stages
    age_effect(read, deals, rng, found)  # may fit the stages' days and first chance again
    found["estimates"] += list(found["age_effect"].values()) if "age_effect" in found else []
    for stage in stages:
        found["estimates"] += [stage["advance"], stage["duration"]]
    for stage in stages:
        test = stage.get("by_channel")
        if test and test["differ"]:
            found["estimates"] += list(test["channels"].values())
        days_test = stage.get("days_by_channel")
        if days_test and days_test["differ"]:
            found["estimates"] += [fit["duration"] for fit in days_test["channels"].values()]
    found["duration"] = {k: stages[0][k] for k in ("cv", "kind", "aic")}
    if leads is not None and len(leads) and not read.leads_from_deals:
        leads_window = window_text(leads["created_date"].min(), cutoff)
        qualification_by_channel(leads, cutoff, leads_window, rng, found)
        segment_estimates(read, stages, cutoff, leads_window, rng, found)
        intent_estimates(found)
    value, vcv = deal_value(deals, window, rng)
    if value is not None:
        found["estimates"].append(value)
        found["value_cv"] = vcv
    else:
        found["not_identified"].append(("opportunities.deal.value", "fewer than two won deals with a value"))
    found["spend"] = _spend(read, cutoff)
    found["reps"] = _reps(read, cutoff)
    head = read.tables.get("headcount")
    found["reps_source"] = "headcount" if head is not None and len(head) else "deal owners active in the 91 days " \
                                                                             "before the cutoff"
    found["team"], found["diagnostics"] = _team(read, cutoff)
    outbound_leads(found, rng)  # a channel named outbound: the leads the reps prospect, per FTE-month
    for path, why in (("channels.*.response", "spend response: leads are given per month, spend is only a cost"),
                      ("qualification.work_hours", "SDR work hours are not in a CRM"),
                      ("scoring", "scoring and intent are latent")):
        found["not_identified"].append((path, why))
    ae_capacity(read, found)  # where SQLs waited for an AE, the ceiling of each owner's open deals
    # Last: the work hours are simulated with the volumes and team above, and scale p_qualify where decay is found.
    apply_capacity(found, leads if leads is not None and not read.leads_from_deals else None, cutoff, rng)
    return found


def _spend(read: CrmTables, cutoff) -> dict:
    """Each channel's mean spend a month over the whole months of the spend table before the cutoff (a cost)."""
    spend = read.tables.get("spend")
    if spend is None or not len(spend):
        return {}
    whole = spend[spend["month_start"] + pd.DateOffset(months=1) <= cutoff]
    out = {}
    for channel, rows in whole.groupby("channel"):
        first, last = rows["month_start"].min(), rows["month_start"].max()
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        out[str(channel)] = (float(rows["spend"].sum()) / months, months,
                             window_text(first, last + pd.DateOffset(months=1)))
    return out


def _team(read: CrmTables, cutoff) -> tuple[dict, dict]:
    """The headcount's FTE by role and month, and the diagnostics of the deals per rep (no scenario field)."""
    team = team_by_month(read.tables.get("headcount"))
    diagnostics = {"team_by_month": {role: [{"month": m, "fte": f} for m, f in series] for role, series in
                                     team.items()}}
    per_rep = deals_per_rep(read.tables["deals"], cutoff, LEVEL, team.get("ae"))
    if per_rep is not None:
        diagnostics["deals_per_rep"] = per_rep
    return team, diagnostics


def _reps(read: CrmTables, cutoff) -> dict:
    head = read.tables.get("headcount")
    reps = {}
    if head is not None and len(head):
        last = head["month_start"].max()
        for role, fte in head[head["month_start"] == last].groupby("role")["fte"].sum().items():
            reps[str(head.attrs.get("roles", {}).get(role, role))] = float(fte)
        return reps
    deals = read.tables["deals"]
    if "owner" in deals:
        recent = deals[deals["created_date"] > cutoff - pd.Timedelta(days=91)]
        reps["ae"] = float(recent["owner"].nunique() or deals["owner"].nunique())
    return reps
