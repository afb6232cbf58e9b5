"""Conversion by segment within channels, and the intent priors that carry p_qualify by channel and segment.

- Segment shares: where the leads table has a ``segment`` column, each channel's leads by
  segment, a Dirichlet(counts + 1/2) posterior (Jeffreys) for the shares; the scenario takes
  the observed shares (they must sum to 1 in every draw, which draws of each share alone
  cannot keep), their intervals go in the comments and the report.
- Segment tests within a channel: the chance to qualify and the win chance (the last stage's
  advance, which a segment's ``win`` replaces) by segment, with :func:`channel_test`'s
  Aalen-Johansen shares and Wald test, at :data:`sim.calibrate.stages.TEST_LEVEL`.
- The intent device: the calibrated scenario has one ``qualification.p_qualify``, every lead an
  MQL, flat stage curves and ``value_intent`` [1, 1], so a lead's intent acts only through
  ``p_qualify``. Written ``{low: 0, high: 1}``, the chance to qualify is the intent itself, and a
  lead's chance before its intent is drawn is the mean of its prior: a channel's (or segment's)
  ``intent: {a: k p, b: k (1 - p)}`` makes it ``p``. Each row of draws takes ``a`` and ``b``
  from the same draw of ``p``, so ``a / (a + b)`` is that draw. The concentration ``k`` =
  :data:`INTENT_CONCENTRATION` is not identified (nothing but the mean reaches a conversion)
  and does not change the marginal chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.estimate import DRAWS, LEVEL, Estimate, qualification_events
from sim.calibrate.stages import MIN_PER_CHANNEL, channel_test

__all__ = ["INTENT_CONCENTRATION", "intent_estimates", "intent_prior", "segment_estimates"]

# a + b of a written intent prior: any positive value gives the same marginal chance to qualify (its mean);
# 2 keeps the prior wide (Beta(1, 1), uniform, at p = 1/2), so no intent is near-certain for no reason.
INTENT_CONCENTRATION = 2.0
EDGE = 1e-6  # a chance drawn this close to 0 or 1 is kept inside: a Beta's a and b must be positive


def intent_prior(e: Estimate, k: float = INTENT_CONCENTRATION) -> tuple[np.ndarray, np.ndarray]:
    """The draws of ``intent: {a, b}`` whose mean ``a / (a + b)`` is each draw of the chance ``e``.

    Args:
        e: a chance to qualify with its draws.
        k: the prior's concentration ``a + b``.

    Returns:
        (a draws, b draws), row for row from the same draw of the chance.
    """
    p = np.clip(np.asarray(e.draws, dtype=float), EDGE, 1 - EDGE)
    return k * p, k * (1 - p)


def _share_estimates(channel: str, segment: pd.Series, window: str, rng) -> dict[str, Estimate]:
    """Each segment's share of the channel's leads: the observed share, Jeffreys Dirichlet draws and intervals."""
    counts = segment.value_counts().sort_index()
    alpha = counts.to_numpy(dtype=float) + 0.5
    n = int(counts.sum())
    draws = rng.dirichlet(alpha, DRAWS)
    a = (1 - LEVEL) / 2
    out = {}
    for j, (name, k) in enumerate(counts.items()):
        # A Dirichlet's marginal is Beta(alpha_j, sum - alpha_j): the interval without sampling noise.
        low, high = stats.beta.ppf([a, 1 - a], alpha[j], alpha.sum() - alpha[j])
        out[str(name)] = Estimate(
            f"channels.{channel}.segments.{name}.share", k / n, float(low), float(high), n, window,
            f"the channel's leads of this segment, {int(k)} of {n}; Dirichlet(counts + 1/2) posterior (Jeffreys); "
            "written at the observed share (the shares must sum to 1 in every draw)", draws[:, j])
    return out


def _fresh_scale(found: dict, deals: pd.DataFrame, leads: pd.DataFrame):
    """deal_id -> 1 + k age where the age effect's stretch ``k`` is written (days then a fresh lead's), else None."""
    stretch = found.get("age_effect", {}).get("duration_per_age_day")
    if stretch is None:
        return None
    from sim.calibrate.age import deal_ages

    return 1.0 + stretch.estimate * deal_ages(deals, leads).fillna(0.0)


def _segment_days(stages, lead_of_deal, rows, segment, channel, window, rng, fresh) -> dict:
    """Each stage's days tested by segment within the channel (log-rank), fitted per segment where they differ.

    Returns stage name -> :func:`sim.calibrate.stages.duration_test`'s result, paths
    ``channels.<c>.segments.<s>.stages.<stage>.duration_days``. Where the age effect's stretch is
    written, the days are a fresh lead's (divided by ``1 + k age``), as the stage's own are.
    """
    from sim.calibrate.stages import duration_test

    seg_of_lead = pd.Series(segment.to_numpy(), index=rows["lead_id"].to_numpy())
    out = {}
    for stage in stages:
        days, event, ids = stage["events"]
        seg = pd.Series(ids).map(lead_of_deal).map(seg_of_lead).to_numpy()
        if fresh is not None:
            days = days / pd.Series(ids).map(fresh).fillna(1.0).to_numpy()
        name = stage["name"]
        out[name] = duration_test(days, event > 0, seg, lambda s, c=channel, n=name: f"channels.{c}.segments.{s}."
                                  f"stages.{n}.duration_days", window, rng, f"days in stage {name} in channel "
                                  f"{channel}", groups="segments")
    return out


def segment_estimates(read, stages: list[dict], cutoff, window: str, rng, found: dict) -> None:
    """Shares, and p_qualify and the win chance tested by segment within each channel, into ``found["segments"]``.

    Args:
        read: the tables read (:class:`sim.calibrate.tables.CrmTables`).
        stages: the deal stages found (:func:`sim.calibrate.stages.deal_stages`), each with its ``events``.
        cutoff: the training cutoff.
        window: the leads' window text.
        rng: the numpy Generator of the draws.
        found: the estimates so far; gets ``segments`` (channel -> {"shares", "p_qualify", "win"}), and
            the shares and the segment wins that differ among its estimates (a test that finds no
            difference is said in the shares' methods).
    """
    from sim.scenario.checks import NAME

    leads = read.tables.get("leads")
    if leads is None or not len(leads) or "segment" not in leads or read.leads_from_deals:
        return
    known = leads[leads["segment"].notna()]
    if len(known) < len(leads):
        found["warnings"].append(f"leads: {len(leads) - len(known)} leads have no segment and are left out of the "
                                 "segment estimates")
    deals = read.tables["deals"]
    last = stages[-1]
    days, event, ids = last["events"]
    lead_of = pd.Series(ids).map(deals.set_index("deal_id")["lead_id"]) if "lead_id" in deals else None
    lead_of_deal = deals.set_index("deal_id")["lead_id"] if "lead_id" in deals else None
    fresh = _fresh_scale(found, deals, leads)
    out = {}
    channel = known["channel"].astype(str) if "channel" in known else pd.Series("all", index=known.index)
    for name in sorted(channel.unique()):
        rows = known[(channel == name).to_numpy()]
        segment = rows["segment"].astype(str)
        names = sorted(segment.unique())
        if len(names) < 2:
            continue  # one segment: the channel's own settings
        bad = [s for s in names if not NAME.fullmatch(s)]
        if bad:
            found["warnings"].append(f"leads: segment: channel {name}'s segments {', '.join(bad)} are not names a "
                                     "scenario takes (letters, digits, _ - and inner blanks); its segments are not "
                                     "estimated")
            continue
        entry = {"shares": _share_estimates(name, segment, window, rng), "p_qualify": None, "win": None}
        if "qualified_date" in rows and "disqualified_date" in rows:
            q_days, q_event = qualification_events(rows, cutoff)
            entry["p_qualify"] = channel_test(q_days, q_event, segment.to_numpy(), lambda s, c=name: f"channels.{c}."
                                              f"segments.{s}.intent", window, rng, f"p_qualify in channel {name}",
                                              groups="segments")
        decayed = len(stages) == 1 and "half_life_days" in found.get("age_effect", {})
        if decayed:
            found["not_identified"].append((f"channels.{name}.segments.*.win", "not tested: the win chance's decay "
                                            "with the lead's age is written on the only stage, whose advance is the "
                                            "chance at age 0; a segment's own win would count the decay again"))
        if lead_of is not None and not read.no_lost_deals and not decayed:
            seg_of_deal = lead_of.map(pd.Series(segment.to_numpy(), index=rows["lead_id"].to_numpy())).to_numpy()
            entry["win"] = channel_test(days, event, seg_of_deal, lambda s, c=name: f"channels.{c}.segments.{s}.win",
                                        window, rng, f"win chance (stage {last['name']} advance) in channel {name}",
                                        groups="segments")
            if entry["win"]["differ"]:
                found["estimates"] += list(entry["win"]["channels"].values())
        if lead_of_deal is not None:
            entry["days"] = _segment_days(stages, lead_of_deal, rows, segment, name, window, rng, fresh)
            for test in entry["days"].values():
                found["estimates"] += [fit["duration"] for fit in test["channels"].values()]
        found["estimates"] += list(entry["shares"].values())
        out[name] = entry
    found["segments"] = out
    for entry in out.values():
        for what in ("p_qualify", "win"):
            test = entry[what]
            if test is None:
                continue
            if "method" not in test:
                note = (f"{what}: not tested by segment (fewer than two segments with {MIN_PER_CHANNEL} known "
                        "outcomes), so the channel's is written for every segment")
            elif not test["differ"]:
                note = f"{what}: {test['method']}, so the channel's is written for every segment"
            else:
                continue
            for e in entry["shares"].values():
                e.method += f"; {note}"


def intent_estimates(found: dict) -> None:
    """Where p_qualify differs by channel or by segment, each channel's (and such segment's) intent prior.

    Every channel of the leads gets one: its own chance to qualify where channels differ (and it
    was tested), else the pooled ``qualification.p_qualify``; each segment tested in a channel
    whose segments differ gets its own. The estimates (path ``channels.<c>.intent`` or
    ``channels.<c>.segments.<s>.intent``, the mean ``a / (a + b)``) join ``found["estimates"]``
    and ``found["intent"]``; the writer then writes ``p_qualify: {low: 0, high: 1}``.
    """
    test = found.get("p_qualify_by_channel") or {}
    by_channel = test["channels"] if test.get("differ") else {}
    by_segment = {c: entry["p_qualify"]["channels"] for c, entry in found.get("segments", {}).items()
                  if entry["p_qualify"] and entry["p_qualify"]["differ"]}
    pooled = next((e for e in found["estimates"] if e.path == "qualification.p_qualify"), None)
    if pooled is None or not (by_channel or by_segment):
        return
    device = (f"the mean intent a / (a + b), with qualification.p_qualify written {{low: 0, high: 1}} so that the "
              f"chance to qualify is the intent; a = k p and b = k (1 - p) from the same draws of p, k = "
              f"{INTENT_CONCENTRATION:g} (the prior's concentration: not identified, and no conversion depends on it)")
    out = {}
    channels = [e.path.split(".")[1] for e in found["estimates"] if e.path.startswith("channels.")
                and e.path.endswith(".leads") and e.path.count(".") == 2]
    if by_channel:
        untested = f"the channel not tested (fewer than {MIN_PER_CHANNEL} known outcomes)"
    elif "method" in test:
        untested = "channels not differing"
    else:
        untested = f"no test across channels (fewer than two with {MIN_PER_CHANNEL} known outcomes)"
    for c in channels:
        src = by_channel.get(c, pooled)
        why = f"the channel's p_qualify ({src.method})" if c in by_channel else f"the pooled p_qualify, {untested} " \
              f"({src.method})"
        out[f"channels.{c}.intent"] = Estimate(f"channels.{c}.intent", src.estimate, src.low, src.high, src.n,
                                               src.window, f"{device}; p = {why}", src.draws)
        for s, e in by_segment.get(c, {}).items():
            path = f"channels.{c}.segments.{s}.intent"
            out[path] = Estimate(path, e.estimate, e.low, e.high, e.n, e.window, f"{device}; p = the segment's "
                                 f"p_qualify ({e.method})", e.draws)
    found["intent"] = out
    found["estimates"] += list(out.values())
    differ = " and ".join(what for what, yes in (("channels", by_channel), ("segments", by_segment)) if yes)
    pooled.method += (f"; written as the channels' (and segments') mean intents, p_qualify {{low: 0, high: 1}}, as "
                      f"{differ} differ")
