"""How a deal depends on its lead's age when sales first works it: ``opportunities.age_effect`` from the data.

The model (``docs/model.md``, The age effect): with ``age`` the days from the lead's
creation to its opportunity's start, the first stage's chance is times
``(1 + age / half_life_days) ** -1`` and every stage's days times
``1 + duration_per_age_day * age``. A CRM whose deals link to dated leads gives each deal
its age (the deal's created date minus its lead's), so both are estimated by maximum
likelihood (scipy) and each is tested against no effect by a likelihood ratio (half a
chi-square with one degree of freedom: no effect is the boundary of each), at 5%:

- the stretch ``k``: the days in each stage are log-normal around ``log(1 + k age)`` plus the
  stage's own log-mean, with its own spread, deals still in a stage censored (a profile
  likelihood over ``k``, each stage's log-mean and spread fitted at each ``k``); its interval
  is the profile likelihood's. Where the stretch is written, every stage's days are fitted
  again on the days divided by ``1 + k age`` (what a fresh lead would take), as the model
  multiplies them back;
- the decay: over the deals whose first stage is decided (advanced or lost in it; in the
  model both leave the stage after the same stretched days, so a deal still in it is
  censored without regard to its outcome), ``q0 (1 + age / half_life) ** -1`` by maximum
  likelihood, as the response-time decay (:mod:`sim.calibrate.decay`), the shape fixed at 1.
  Where it is written, the first stage's advance is ``q0``, the chance at age 0, its draws
  joint with the half-life's (row by row, from the normal approximation of the fit), so that
  the chance is not counted twice.

Neither is written when its test does not reject (the method says so), nor without ages
(deals without leads, or all of age 0).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from sim.calibrate.decay import MIN_OUTCOMES, hyperbolic_decay
from sim.calibrate.estimate import DRAWS, LEVEL, Estimate, duration_fit
from sim.calibrate.stages import deal_channels, duration_test

__all__ = ["TEST_LEVEL", "age_effect", "deal_ages"]

TEST_LEVEL = 0.05
MIN_DEALS = MIN_OUTCOMES  # deals with a known age before an effect is estimated, as the decay fits
MAX_STRETCH = 10.0  # per day of age: beyond, a day of age would multiply the days tenfold


def deal_ages(deals: pd.DataFrame, leads: pd.DataFrame | None) -> pd.Series:
    """Each deal's age in days (deal_id -> days from its lead's creation to the deal's); NaN where unknown.

    A deal created before its lead (negative age) has no age: messy data, not an old lead.
    """
    if leads is None or "lead_id" not in deals or "created_date" not in leads:
        return pd.Series(np.nan, index=deals["deal_id"].to_numpy())
    created = deals["lead_id"].map(leads.drop_duplicates("lead_id").set_index("lead_id")["created_date"])
    age = (deals["created_date"] - created).dt.total_seconds() / 86400
    return pd.Series(np.where(age >= 0, age, np.nan), index=deals["deal_id"].to_numpy())


def _censored_normal(x, logt, observed):
    """Negative log-likelihood of ``logt`` normal(mu, e**tau), censored where not observed, and its gradient."""
    mu, tau = x[0], min(max(float(x[1]), -20.0), 20.0)  # a step of the search far out would overflow
    sigma = math.exp(tau)
    z = (logt - mu) / sigma
    zo, zc = z[observed], z[~observed]
    log_sf = stats.norm.logsf(zc)
    mills = np.exp(stats.norm.logpdf(zc) - log_sf)  # phi / S, the hazard of the standard normal
    nll = float(np.sum(0.5 * zo * zo + tau) - np.sum(log_sf))
    grad = np.array([-(zo.sum() + mills.sum()) / sigma, -float(np.sum(zo * zo - 1) + np.sum(mills * zc))])
    return nll + 0.5 * math.log(2 * math.pi) * len(zo), grad


def _profile(k, stages) -> float:
    """The stretch's profile log-likelihood (of the days themselves): each stage's log-normal of days / (1 + k age)."""
    total = 0.0
    for days, observed, age in stages:
        logt = np.log(days) - np.log1p(k * age)
        obs = logt[observed]
        start = np.array([obs.mean(), math.log(max(obs.std(), 1e-3))])
        fit = optimize.minimize(_censored_normal, start, args=(logt, observed), jac=True, method="BFGS")
        # days = d (1 + k age): each observed day's density is the log-normal's at d, over d and the stretch,
        # and d times the stretch is the day itself: the terms left do not depend on k, but are kept.
        total += -fit.fun - float(np.sum(np.log(days[observed])))
    return total


def _stretch(stages, rng, deals: int | None = None) -> dict | None:
    """The stretch per day of age: estimate, profile interval, the likelihood-ratio test and draws.

    ``stages``: each stage's (days, observed, age). A stage with fewer than two observed exits
    carries nothing about the stretch (its log-normal is not fitted) and is left out; ``deals``
    is the number of distinct deals behind them (the rows of all stages, if not given).
    """
    stages = [(d, o, a) for d, o, a in stages if o.sum() >= 2]
    if not stages:
        return None
    ages = np.concatenate([a for _, _, a in stages])
    deals = len(ages) if deals is None else deals
    if deals < MIN_DEALS or np.ptp(ages) <= 0:
        return None
    if any(np.ptp(np.log(days[observed])) <= 1e-9 for days, observed, _ in stages if observed.sum() > 1):
        return None  # a stage whose days are all the same (a fixed duration): no spread to scale, nothing to fit
    span = float(np.quantile(ages, 0.9)) or float(ages.max())
    top = min(MAX_STRETCH, 1000.0 / span)  # a stretch of 1000 at the 90th percentile of age is beyond the data
    low_end = top * 1e-6
    none = _profile(0.0, stages)
    fit = optimize.minimize_scalar(lambda u: -_profile(math.exp(u), stages), bounds=(math.log(low_end), math.log(top)),
                                   method="bounded", options={"xatol": 1e-6})
    k, best = math.exp(float(fit.x)), float(-fit.fun)
    if best <= none:
        k, best = 0.0, none
    lr = max(2 * (best - none), 0.0)
    p_value = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
    cut = stats.chi2.ppf(LEVEL, 1) / 2

    def gap(x):
        return best - _profile(x, stages) - cut

    low = float(optimize.brentq(gap, 0.0, k)) if k > 0 and gap(0.0) > 0 else 0.0
    at_top = k >= top * (1 - 1e-3)
    high = float(optimize.brentq(gap, k, top)) if not at_top and gap(top) > 0 else top
    # Draws: a log-normal through the profile interval (median the estimate), where the interval is off zero.
    if low > 0 and k > 0:
        s = (math.log(high) - math.log(low)) / (2 * stats.norm.ppf((1 + LEVEL) / 2))
        draws = np.exp(rng.normal(math.log(k), s, DRAWS))
    else:
        draws = np.full(DRAWS, k)
    return {"estimate": k, "low": low, "high": high, "lr": lr, "p_value": p_value, "n": int(deals),
            "draws": draws, "at_bound": at_top}


def _decay(age, y, rng) -> dict | None:
    """:func:`sim.calibrate.decay.hyperbolic_decay` over decided first stages, with joint draws of q0 and h."""
    fit = hyperbolic_decay(age, y, LEVEL)
    if fit is None:
        return None
    if not math.isfinite(fit["half_life"]):
        return {**fit, "why": "the fit runs to no decay at all (its half-life to the bound of a million days)"}
    if fit["cov"] is None:
        return {**fit, "half_life": math.inf,
                "why": "its interval cannot be computed (the likelihood's curvature is not positive definite there)"}
    # Within the fit's own bounds: a draw far past them (a nearly flat likelihood) would overflow.
    theta = np.clip(rng.multivariate_normal(fit["theta"], fit["cov"], DRAWS), [-30, math.log(1e-3)],
                    [30, math.log(1e6)])
    return {**fit, "draws": np.exp(theta[:, 1]), "q0_draws": special.expit(theta[:, 0])}


def age_effect(read, deals, rng, found) -> None:
    """Estimate and test the age effect; where identified, write it and fit the stages' days and chance again.

    Adds ``found["age_effect"]`` (what was found, for the writer and the report) and, for each
    part not written, a line among ``found["not_identified"]``; where a part is written, the
    stages' ``duration`` (or the first stage's ``advance``) in ``found["stages"]`` are replaced.
    """
    stages = found["stages"]
    if any(st["advance"].method.startswith("NOT IDENTIFIED") for st in stages):
        found["not_identified"].append(("opportunities.age_effect", "no deal is lost: the win chance, and with it "
                                                                    "its decay with the lead's age, is not identified"))
        return
    age_of = deal_ages(deals, read.tables.get("leads"))
    if read.leads_from_deals or age_of.notna().sum() < MIN_DEALS or np.nanmax(age_of.to_numpy()) <= 0:
        found["not_identified"].append(("opportunities.age_effect", "deals without leads' dates (or too few): the "
                                                                    "lead's age when first worked is not known"))
        return
    per_stage = [stage["events"] for stage in stages]  # (days, event, deal ids), as the stages were fitted
    known, aged = [], set()
    for days, event, ids in per_stage:
        age = age_of.reindex(ids).to_numpy()
        ok = np.isfinite(age)
        known.append((days[ok], event[ok] > 0, age[ok]))
        aged.update(np.asarray(ids)[ok].tolist())
    window = stages[0]["duration"].window
    out: dict = {}
    stretch = _stretch(known, rng, deals=len(aged))  # n: the deals with an age, not their rows in every stage
    if stretch is not None and stretch["p_value"] < TEST_LEVEL and not stretch["at_bound"]:
        k = stretch["estimate"]
        out["duration_per_age_day"] = Estimate(
            "opportunities.age_effect.duration_per_age_day", k, stretch["low"], stretch["high"], stretch["n"],
            window, f"profile likelihood of log-normal days in each stage times 1 + k * age (age: days from the "
                    f"lead's creation to the deal's; deals still in a stage censored), its {LEVEL:.0%} interval the "
                    f"profile's; likelihood ratio against no stretch {stretch['lr']:.3g}, p={stretch['p_value']:.3g}",
            stretch["draws"])
        for stage, (days, event, ids) in zip(stages, per_stage, strict=True):
            age = np.nan_to_num(age_of.reindex(ids).to_numpy(), nan=0.0)
            dur, cv, kind, aic, _ = duration_fit(days / (1 + k * age), event > 0, stage["duration"].path, window,
                                                 rng)
            dur.method = (f"{stage['duration'].method.split('; ')[0]}; of a fresh lead: each deal's days divided by "
                          f"1 + {k:.4g} * its age (the age effect's stretch, written); {dur.method}")
            stage.update(duration=dur, cv=cv, kind=kind, aic=aic)
            by = stage.get("days_by_channel")
            if by and "method" in by:
                # A channel's days may differ only by its leads' ages: tested and fitted again on a fresh lead's.
                ch = pd.Series(ids).map(deal_channels(deals, read.tables.get("leads"))).to_numpy()
                stem = stage["duration"].path.rsplit(".", 1)[0]  # opportunities.stages.<i>
                stage["days_by_channel"] = by = duration_test(
                    days / (1 + k * age), event > 0, ch, lambda c, stem=stem: f"{stem}.by_channel.{c}.duration_days",
                    window, rng, f"days of a fresh lead in stage {stage['name']}")
                if not by["differ"] and "method" in by:
                    dur.method += f"; written for every channel: {by['method']}"  # as deal_stages says it
    else:
        unfit = "fewer than 30 deals with an age, all of one age, or a stage whose days do not vary"
        why = unfit if stretch is None else (
            f"the likelihood ratio against no stretch does not reject at {TEST_LEVEL:.0%} (p={stretch['p_value']:.3g})"
            if stretch["p_value"] >= TEST_LEVEL else "the stretch is at the top of its search range")
        found["not_identified"].append(("opportunities.age_effect.duration_per_age_day", f"not written: {why}"))
    days, event, ids = per_stage[0]
    age = age_of.reindex(ids).to_numpy()
    decided = np.isfinite(age) & (event > 0)
    decay = _decay(age[decided], (event[decided] == 1).astype(float), rng)
    if decay is not None and decay["p_value"] < TEST_LEVEL and math.isfinite(decay["half_life"]):
        out["half_life_days"] = Estimate(
            "opportunities.age_effect.half_life_days", decay["half_life"], decay["low"], decay["high"],
            decay["n"], window, f"maximum likelihood of q0 * (1 + age / half_life) ** -1 over the deals whose first "
                                f"stage is decided (age: days from the lead's creation to the deal's), Wald on the "
                                f"log scale; likelihood ratio against no decay {decay['lr']:.3g}, "
                                f"p={decay['p_value']:.3g}", decay["draws"])
        old = stages[0]["advance"]
        stages[0]["advance"] = Estimate(
            old.path, decay["q0"], decay["q0_low"], decay["q0_high"], decay["n"], old.window,
            f"the chance at age 0 (q0) of the age effect's decay fit, its draws joint with the half-life's; the "
            f"population's own: {old.estimate:.4g} ({old.low:.4g} to {old.high:.4g}), {old.method}",
            decay["q0_draws"])
        stages[0].pop("by_channel", None)  # each channel's own chance would count the decay again
    else:
        why = "fewer than 30 decided deals with an age, or one outcome only" if decay is None else (
            f"the likelihood ratio against no decay does not reject at {TEST_LEVEL:.0%} (p={decay['p_value']:.3g})"
            if decay["p_value"] >= TEST_LEVEL else decay.get("why", "no finite half-life"))
        found["not_identified"].append(("opportunities.age_effect.half_life_days", f"not written: {why}"))
    found["age_effect"] = out
