"""The AEs' capacity (``roles.ae.max_open_opportunities``) from the deals' owners, where SQLs waited for an AE.

In the model an SQL waits until an AE has a free slot, and its deal starts when it takes
one (``docs/model.md``, AE slots): a CRM whose deals link to leads with a qualified date
shows the wait, the deal's created date minus its lead's qualified date. Where SQLs waited
(at least :data:`MIN_WAITING` of them, and :data:`MIN_SHARE` of the linked deals, over an
hour), the slots bound, and each owner's open deals reached the ceiling while they did: the
capacity is the median over the owners of each one's peak number of deals open at once
(created, and not yet closed or the cutoff reached), a whole number, written with the
evidence (the peaks, the waits) and no interval, since a ceiling that binds is seen, not
estimated. Where SQLs did not wait, the capacity is not identified: the peaks are only a
lower bound, said so, and the default leaves it unbinding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_SHARE", "MIN_WAITING", "ae_capacity", "peak_open", "slot_waits"]

MIN_WAITING = 10  # SQLs that waited over an hour for an AE before the slots count as binding
MIN_SHARE = 0.10  # ... and that share of the deals linked to a qualified lead
WAITED_DAYS = 1 / 24  # an hour: a deal created within it of its lead's qualification did not wait
MIN_OWNER_DEALS = 10  # deals an owner carried before their peak counts


def slot_waits(deals: pd.DataFrame, leads: pd.DataFrame | None) -> np.ndarray:
    """Days from each linked deal's lead's qualification to the deal's creation (its wait for an AE), >= 0."""
    if leads is None or "qualified_date" not in leads or "lead_id" not in deals:
        return np.zeros(0)
    qualified = deals["lead_id"].map(leads.drop_duplicates("lead_id").set_index("lead_id")["qualified_date"])
    days = ((deals["created_date"] - qualified).dt.total_seconds() / 86400).to_numpy()
    return days[np.isfinite(days) & (days >= 0)]


def peak_open(deals: pd.DataFrame, cutoff) -> dict[str, int]:
    """Each owner's peak number of deals open at once (created, not yet closed; open ones to the cutoff)."""
    if "owner" not in deals:
        return {}
    out = {}
    end = deals["closed_date"].where(deals["closed_date"].notna(), cutoff)
    for owner, rows in deals[deals["owner"].notna()].groupby(deals["owner"].astype(str)):
        if len(rows) < MIN_OWNER_DEALS:
            continue
        starts = rows["created_date"].to_numpy(dtype="datetime64[ns]")
        ends = end[rows.index].to_numpy(dtype="datetime64[ns]")
        # A sweep over the openings and closings: a closing at the instant of an opening frees its slot first.
        times = np.concatenate([starts, ends])
        step = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
        order = np.lexsort((step, times))
        out[str(owner)] = int(np.cumsum(step[order]).max())
    return out


def ae_capacity(read, found: dict) -> None:
    """Where the slots bound, ``found["ae_capacity"]`` (the ceiling and its evidence); else why not, in the report."""
    deals, leads = read.tables["deals"], read.tables.get("leads")
    found["not_identified"] = [(p, w) for p, w in found["not_identified"] if p != "roles.ae.max_open_opportunities"]
    waits = slot_waits(deals, leads) if not read.leads_from_deals else np.zeros(0)
    peaks = peak_open(deals, read.cutoff)
    waited = int((waits > WAITED_DAYS).sum())
    share = waited / len(waits) if len(waits) else 0.0
    shown = ", ".join(f"{o} {n}" for o, n in sorted(peaks.items())) or "none with 10 deals"
    if not peaks:
        why = ("no deal owners (or none with 10 deals): the open deals per AE are not known" if "owner" not in deals
               or not deals["owner"].notna().any() else f"no owner carried {MIN_OWNER_DEALS} deals")
    elif not len(waits):
        why = (f"the deals do not link to leads with a qualified date, so the wait for an AE is not known; the "
               f"owners' peak open deals ({shown}) are a lower bound")
    elif waited < MIN_WAITING or share < MIN_SHARE:
        why = (f"SQLs did not wait for an AE ({waited} of {len(waits)} deals created over an hour after their lead "
               f"qualified): the slots did not bind, so the owners' peak open deals ({shown}) are only a lower bound")
    else:
        cap = int(np.floor(np.median(list(peaks.values())) + 0.5))  # half up: owners' peaks 7 and 8 give 8
        found["ae_capacity"] = {
            "value": cap, "peaks": peaks, "waited": waited, "linked": int(len(waits)),
            "median_wait_days": float(np.median(waits[waits > WAITED_DAYS])),
            "method": (f"the median over the owners of each one's peak number of deals open at once ({shown}), as "
                       f"the SQLs waited for an AE: {waited} of {len(waits)} linked deals were created over an hour "
                       f"after their lead qualified (those waited a median "
                       f"{float(np.median(waits[waits > WAITED_DAYS])):.3g} days), so the slots bound; a ceiling "
                       "seen, not an estimate with an interval")}
        return
    found["not_identified"].append(("roles.ae.max_open_opportunities", f"{why}; left unbinding (1000)"))
