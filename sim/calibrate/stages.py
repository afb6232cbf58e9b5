"""Deal stages from the stage history, and conversion by channel.

- Stages: their order is the order deals enter them (a topological sort of each deal's
  entries); each stage's advance chance is the Aalen-Johansen cumulative incidence of
  advancing (lost in the stage competing, still in it censored), its days a censoring-aware
  duration fit (:func:`sim.calibrate.estimate.duration_fit`). Histories that cannot be
  ordered fall back to one pooled stage, with the reason.
- By channel: each channel's own chance (at least :data:`MIN_PER_CHANNEL` outcomes) and a
  Wald chi-square test that they are equal at :data:`TEST_LEVEL`; a stage's advance is written
  per channel where they differ, the chance to qualify as each channel's mean intent
  (:mod:`sim.calibrate.segments`). Each stage's days by channel: a log-rank test across the
  channels (at least :data:`MIN_PER_CHANNEL` deals that left the stage each), and where it
  rejects at :data:`TEST_LEVEL`, a duration fit per channel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.estimate import (
    DRAWS,
    LEVEL,
    Estimate,
    _durations,
    duration_fit,
    eventual_share,
    qualification_events,
    time_to_close,
    win_chance,
    window_text,
)
from sim.calibrate.tables import CrmTables

__all__ = ["MIN_PER_CHANNEL", "TEST_LEVEL", "channel_test", "deal_channels", "deal_stages", "duration_test",
           "qualification_by_channel", "stage_estimates", "stage_events", "stage_order"]

MIN_PER_CHANNEL = 20  # outcomes known in a channel before its own chance is estimated and tested
TEST_LEVEL = 0.05     # the level of the test that channels differ


def stage_order(history: pd.DataFrame, deals: pd.DataFrame) -> tuple[list[str] | None, str]:
    """The stages in the order deals enter them, or (None, why) when they cannot be ordered.

    Each deal's stages are ordered by their entry dates; every consecutive pair is a precedence,
    and the order is a topological sort of them (ties broken by the mean position). A stage entered
    twice by a deal, or two stages entered in both orders, leaves no order. A stage named as a
    deal's won or lost outcome is not a stage.
    """
    if history is None or not len(history):
        return None, "no stage history"
    terminal = set(deals.loc[deals["won"] | deals["lost"], "stage"].astype(str))
    h = history[~history["stage"].astype(str).isin(terminal) & history["deal_id"].isin(deals["deal_id"])]
    if not len(h):
        return None, "the stage history holds only won/lost entries"
    again = h.duplicated(["deal_id", "stage"])
    if again.any():
        return None, (f"{int(h.loc[again, 'deal_id'].nunique())} deals entered a stage more than once, so the "
                      "stages are not one path")
    h = h.sort_values(["deal_id", "entered_date", "left_date"], na_position="last")
    stage = h["stage"].astype(str)
    pos = h.groupby("deal_id").cumcount()
    mean_pos = pos.groupby(stage.to_numpy()).mean().to_dict()
    nxt = stage.groupby(h["deal_id"].to_numpy()).shift(-1)
    pairs = pd.DataFrame({"a": stage.to_numpy(), "b": nxt.to_numpy()}).dropna()
    edges = pairs.value_counts().to_dict()
    for (a, b), k in edges.items():
        if (b, a) in edges:
            return None, f"stages {a} and {b} are entered in both orders ({k} and {edges[(b, a)]} deals)"
    names, order = set(mean_pos), []
    while names:
        free = [s for s in names if not any(a in names and b == s for a, b in edges)]
        if not free:
            return None, f"the stages {', '.join(sorted(names))} are entered in a cycle"
        first = min(free, key=lambda s: (mean_pos[s], s))
        order.append(first)
        names.remove(first)
    return order, ""


def stage_events(history: pd.DataFrame, deals: pd.DataFrame, order: list[str], cutoff) -> dict:
    """Stage name -> (days in it, event, deal ids): event 1 advanced, 2 lost in it, 0 still in it (censored).

    A deal advanced from a stage if it entered a later stage or was won; it was lost in it if it left
    it, entered no later stage and was lost. Still in it at the cutoff, or left to nowhere known while
    open, it is censored (at the cutoff, or when it left). A deal that closed without the history's
    last entry being left is taken to have left it at the close.
    """
    rank = {s: i for i, s in enumerate(order)}
    h = history[history["stage"].astype(str).isin(rank) & history["deal_id"].isin(deals["deal_id"])].copy()
    h["rank"] = h["stage"].astype(str).map(rank)
    d = deals.set_index("deal_id")
    won = h["deal_id"].map(d["won"]).fillna(False).astype(bool)
    lost = h["deal_id"].map(d["lost"]).fillna(False).astype(bool)
    closed = h["deal_id"].map(d["closed_date"])
    last_rank = h.groupby("deal_id")["rank"].transform("max")
    left = h["left_date"].where(h["left_date"].notna() | (h["rank"] < last_rank), closed)
    later = h["rank"] < last_rank
    advanced = later | (won & left.notna())
    event = np.where(left.isna(), 0, np.where(advanced, 1, np.where(lost, 2, 0)))
    end = left.where(left.notna(), cutoff)
    days = np.maximum((end - h["entered_date"]).dt.total_seconds().to_numpy() / 86400, 1e-3)
    out = {}
    for s in order:
        at = (h["stage"].astype(str) == s).to_numpy()
        out[s] = (days[at], event[at], h["deal_id"].to_numpy()[at])
    return out


def deal_channels(deals: pd.DataFrame, leads: pd.DataFrame | None) -> pd.Series | None:
    """Each deal's channel (deal_id -> channel) through its lead, or None when deals do not link to channels."""
    if leads is None or "channel" not in leads or "lead_id" not in deals:
        return None
    channel = deals["lead_id"].map(leads.set_index("lead_id")["channel"].astype(str))
    if channel.isna().all():
        return None
    return pd.Series(channel.to_numpy(), index=deals["deal_id"].to_numpy())


def channel_test(days, event, channel, path_of, window, rng, what, groups="channels") -> dict:
    """The eventual share of event 1 by channel (Aalen-Johansen each) and a Wald test that they are equal.

    The test: X^2 = sum over channels of (p_c - p_bar)^2 / var_c, with p_bar the inverse-variance
    weighted mean and var_c from each channel's 90% interval, chi-square with (channels - 1) degrees
    of freedom, at 5%. Channels with fewer than MIN_PER_CHANNEL known outcomes are left out (pooled).
    ``groups`` names what ``channel`` holds in the method text (``segments`` for a channel's segments).
    Returns {"channels": {c: Estimate}, "statistic", "df", "p", "differ"}.
    """
    channel = np.asarray(channel, dtype=object)
    out = {"channels": {}, "statistic": float("nan"), "df": 0, "p": float("nan"), "differ": False, "what": what}
    known = [c for c in sorted({c for c in channel if isinstance(c, str)})
             if (event[channel == c] > 0).sum() >= MIN_PER_CHANNEL]
    if len(known) < 2:
        return out
    for c in known:
        at = channel == c
        e = eventual_share(days[at], event[at], path_of(c), window, rng,
                            f"{what}, {groups.removesuffix('s')} {c} alone: Aalen-Johansen cumulative incidence "
                            "(the competing outcome competing, undecided censored), at the last time")
        out["channels"][c] = e
    if len(out["channels"]) < 2:
        return out
    z = stats.norm.ppf((1 + LEVEL) / 2)
    p = np.array([e.estimate for e in out["channels"].values()])
    var = np.array([max((e.high - e.low) / (2 * z), 1e-4) ** 2 for e in out["channels"].values()])
    w = 1 / var
    bar = float((w * p).sum() / w.sum())
    stat = float((w * (p - bar) ** 2).sum())
    df = len(p) - 1
    pval = float(stats.chi2.sf(stat, df))
    out.update(statistic=stat, df=df, p=pval, differ=pval < TEST_LEVEL)
    tested = (f"{groups} {'differ' if out['differ'] else 'did not differ'} (Wald chi-square test of equal "
              f"shares across {len(p)} {groups}, X2={stat:.2f}, df={df}, p={pval:.3g}, at {TEST_LEVEL:.0%})")
    out["method"] = tested
    for e in out["channels"].values():
        e.method = f"{e.method}; {tested}"
    return out


def duration_test(days, observed, channel, path_of, window, rng, what, groups: str = "channels") -> dict:
    """A log-rank test that the days are alike across channels, and each channel's duration fit where they differ.

    lifelines' ``multivariate_logrank_test`` over the channels with at least MIN_PER_CHANNEL
    observed durations (``observed`` False where censored), chi-square with (channels - 1)
    degrees of freedom, at TEST_LEVEL; channels with fewer are left out (pooled). Where it
    rejects, each tested channel's days get :func:`duration_fit` of their own (every family,
    the interval averaged over them by Akaike weight, as the stage's).

    Args:
        days: the durations (days).
        observed: False where the duration is censored.
        channel: each duration's channel (None where unknown).
        path_of: channel -> the scenario path of its fitted mean.
        window: the window text of the estimates.
        rng: the numpy Generator of the draws.
        what: what is tested, for the method text.
        groups: what the groups are, for the method text (``channels``, or ``segments``).

    Returns:
        {"channels": {c: {"duration", "cv", "kind", "aic"}} (filled only where they differ),
        "statistic", "df", "p", "differ", "what", and "method" once tested}.
    """
    from lifelines.statistics import multivariate_logrank_test

    days, observed = np.asarray(days, dtype=float), np.asarray(observed, dtype=bool)
    channel = np.asarray(channel, dtype=object)
    out = {"channels": {}, "statistic": float("nan"), "df": 0, "p": float("nan"), "differ": False, "what": what}
    known = [c for c in sorted({c for c in channel if isinstance(c, str)})
             if observed[channel == c].sum() >= MIN_PER_CHANNEL]
    if len(known) < 2:
        return out
    at = np.isin(channel, known)
    result = multivariate_logrank_test(days[at], channel[at].astype(str), observed[at])
    stat, df, pval = float(result.test_statistic), len(known) - 1, float(result.p_value)
    out.update(statistic=stat, df=df, p=pval, differ=pval < TEST_LEVEL)
    out["method"] = (f"{groups} {'differ' if out['differ'] else 'did not differ'} (log-rank test of equal "
                     f"{what} across {len(known)} {groups}, X2={stat:.2f}, df={df}, p={pval:.3g}, at {TEST_LEVEL:.0%})")
    if out["differ"]:
        for c in known:
            mine = channel == c
            dur, cv, kind, aic, _ = duration_fit(days[mine], observed[mine], path_of(c), window, rng)
            dur.method = f"{what}, {groups[:-1]} {c} alone; {dur.method}; {out['method']}"
            out["channels"][c] = {"duration": dur, "cv": cv, "kind": kind, "aic": aic}
    return out


def stage_estimates(history, deals, cutoff, rng, channel=None) -> tuple[list[dict] | None, str, list[str]]:
    """Each stage's advance chance and duration, in the order entered; (None, why, warnings) if not identified.

    Advance: the Aalen-Johansen cumulative incidence of advanced (lost in the stage competing, still in
    it censored), at the last time. Duration: :func:`duration_fit` of the days in the stage, left
    (advanced or lost) observed, still in it censored. With ``channel`` (deal_id -> channel), each
    stage's advance by channel is tested (:func:`channel_test`).
    """
    order, why = stage_order(history, deals)
    if order is None:
        return None, why, []
    events = stage_events(history, deals, order, cutoff)
    notes = []
    in_history = set(history["deal_id"])
    missing = int((~deals["deal_id"].isin(in_history)).sum())
    if missing:
        notes.append(f"stage_history: {missing} deals have no stage entries and are left out of the stage "
                     "estimates")
    stages = []
    for i, name in enumerate(order):
        days, event, ids = events[name]
        observed = event > 0
        if observed.sum() < 2 or (event == 0).all():
            return None, f"stage {name}: fewer than two deals left it", notes
        start = history.loc[history["stage"].astype(str) == name, "entered_date"].min()
        window = window_text(start, cutoff)
        later = "won" if i == len(order) - 1 else f"entered a later stage than {name}"
        adv = eventual_share(days, event, f"opportunities.stages.{i}.advance", window, rng,
                              f"stage {name} ({i + 1} of {len(order)}, order from the stage history): "
                              f"Aalen-Johansen cumulative incidence of advanced ({later}), lost in the stage "
                              "competing, still in it censored at the cutoff, at the last time")
        dur, cv, kind, aic, _ = duration_fit(days, observed, f"opportunities.stages.{i}.duration_days", window, rng)
        dur.method = f"days in stage {name}, left (advanced or lost) observed, still in it censored; {dur.method}"
        stage = {"name": name, "advance": adv, "duration": dur, "cv": cv, "kind": kind, "aic": aic}
        stage["events"] = (days, event, ids)
        if channel is not None:
            ch = pd.Series(ids).map(channel).to_numpy()
            stage["by_channel"] = channel_test(days, event, ch, lambda c, i=i: f"opportunities.stages.{i}."
                                               f"by_channel.{c}.advance", window, rng, f"stage {name} advance")
            stage["days_by_channel"] = duration_test(
                days, observed, ch, lambda c, i=i: f"opportunities.stages.{i}.by_channel.{c}.duration_days", window,
                rng, f"days in stage {name}")
        stages.append(stage)
        skipped = int(((event == 1) & ~np.isin(ids, events[order[i + 1]][2])).sum()) if i + 1 < len(order) else 0
        if skipped:
            notes.append(f"stage_history: {skipped} deals advanced from {name} without entering {order[i + 1]} "
                         f"(they skipped it; counted as advanced from {name})")
    return stages, "", notes


def deal_stages(read: CrmTables, deals, cutoff, window, rng, found) -> list[dict]:
    """The scenario's stages: from the stage history when it orders them, else one pooled stage ``close``."""
    leads = read.tables.get("leads")
    channel = deal_channels(deals, leads)
    history = read.tables.get("stage_history")
    stages, why, notes = stage_estimates(history, deals, cutoff, rng, channel) if history is not None \
        else (None, "no stage history", [])
    found["warnings"] += notes
    if stages is None:
        found["not_identified"].append(("opportunities.stages", f"one pooled stage close (win chance, time to "
                                                                f"close): {why}"))
        adv = win_chance(deals, cutoff, window, rng)
        dur, cv, kind, aic, _ = time_to_close(deals, cutoff, window, rng)
        days, event = _durations(deals, cutoff)
        stage = {"name": "close", "advance": adv, "duration": dur, "cv": cv, "kind": kind, "aic": aic,
                 "events": (days, event, deals["deal_id"].to_numpy())}
        if channel is not None:
            ch = deals["deal_id"].map(channel).to_numpy()
            stage["by_channel"] = channel_test(days, event, ch, lambda c: f"opportunities.stages.0.by_channel.{c}."
                                               "advance", window, rng, "win chance")
            stage["days_by_channel"] = duration_test(days, event > 0, ch, lambda c: "opportunities.stages.0."
                                                     f"by_channel.{c}.duration_days", window, rng, "days to close")
        stages = [stage]
    for stage in stages:
        test = stage.get("by_channel")
        if test and not test["differ"] and "method" in test:
            stage["advance"].method += f"; written for every channel: {test['method']}"
        days_test = stage.get("days_by_channel")
        if days_test and not days_test["differ"] and "method" in days_test:
            stage["duration"].method += f"; written for every channel: {days_test['method']}"
    if read.no_lost_deals:
        _win_chance_not_identified(stages, found, deals)
    return stages


def qualification_by_channel(leads, cutoff, window, rng, found) -> None:
    """p_qualify by channel: tested; where channels differ, written as each channel's mean intent.

    The test goes to ``found["p_qualify_by_channel"]``; :func:`sim.calibrate.segments.intent_estimates`
    turns a difference into the channels' intent priors.
    """
    if "channel" not in leads or "qualified_date" not in leads or "disqualified_date" not in leads:
        return
    days, event = qualification_events(leads, cutoff)
    test = channel_test(days, event, leads["channel"].astype(str).to_numpy(),
                        lambda c: f"qualification.p_qualify[{c}]", window, rng, "p_qualify")
    found["p_qualify_by_channel"] = test
    pooled = [e for e in found["estimates"] if e.path == "qualification.p_qualify"]
    if pooled and "method" in test and not test["differ"]:
        pooled[0].method += f"; written for every channel: {test['method']}"


def _win_chance_not_identified(stages: list[dict], found: dict, deals: pd.DataFrame) -> None:
    """No deal lost: the win chance is not identified; the scenario gets a flat prior's draws, labelled so.

    Without lost deals a deal not won looks the same as one still open, so the cumulative
    incidence of won would only say how many of the deals exported were won (all of them, in
    a leads-and-won-deals export), and with a stage history each stage's chance to advance
    would be 1 (nothing competes with advancing). The report lists every stage's advance as
    not identified (not among the estimates); the scenario, which needs numbers, gets a flat
    prior on the win chance: uniform draws ``u`` over 0 to 1, each of the ``n`` stages
    advancing with ``u ** (1/n)``, row by row, so that their product, the win chance, is the
    uniform draw (a flat prior on each stage would put the win chance's mean at ``2 ** -n``).
    """
    rng = np.random.default_rng(1)
    a = (1 - LEVEL) / 2
    why = (f"no deal is lost ({int(deals['won'].sum())} won, {int((~deals['won']).sum())} open): a deal not won "
           "cannot be told from one still open (an export of leads and won deals only?)")
    u = rng.uniform(0, 1, DRAWS)
    n = len(stages)
    root = 1.0 / n
    share = "" if n == 1 else (f"; each of the {n} stages advances with the draw ** (1/{n}), so the win chance is "
                               "the draw")
    for i, stage in enumerate(stages):
        old = stage["advance"]
        stage["advance"] = Estimate(old.path, 0.5 ** root, a ** root, (1 - a) ** root, 0, old.window,
                                    f"NOT IDENTIFIED, {why}; uniform draws of the win chance over 0 to 1 (a flat "
                                    f"prior, not an estimate){share}", u ** root)
        stage.pop("by_channel", None)  # each channel's advance is no better identified
        found["not_identified"].insert(i, (old.path, why + "; a flat prior's draws are written"))
    found["placeholders"] = tuple(stage["advance"].path for stage in stages)
