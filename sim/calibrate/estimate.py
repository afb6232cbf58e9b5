"""Estimates from the normalised CRM tables, each with a 90% interval, a sample size, the window and draws.

- Lead volumes by channel: counts per whole month, constant or with a log-linear trend (and
  month-of-year effects) where a likelihood-ratio test supports it, Poisson or negative
  binomial (:mod:`sim.calibrate.volumes`); a constant Poisson rate's posterior is
  Gamma(count + 1/2, months) (Jeffreys), whose quantiles are the interval.
- Qualification (lead -> SQL): the Aalen-Johansen cumulative incidence of qualified, with
  disqualified the competing outcome and undecided leads censored at the cutoff, so that
  leads never decided (left in nurture) count against it; without those dates, not identified.
- Win chance: Aalen-Johansen cumulative incidence of won, with lost as the competing
  risk and open deals censored (lifelines ``AalenJohansenFitter``); its value at the last
  time is the eventual win chance, its draws a Beta matching the estimate and interval.
- Time to close: censoring-aware fits of Weibull, LogNormal, LogLogistic and Exponential
  (lifelines); the lowest AIC is chosen and mapped onto the scenario's kinds (lognormal
  or exponential by mean and cv; a Weibull or log-logistic by its mean and cv as a gamma).
  The mean's draws are averaged over the families by Akaike weight, each from the normal
  approximation of its family's fitted parameters.
- Deal value: a log-normal fitted to won deals' values (mean and cv); the mean's draws
  by bootstrap.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["DRAWS", "LEVEL", "Estimate", "LeadsEstimate", "duration_fit", "eventual_share", "lead_volumes"]

LEVEL = 0.90
DRAWS = 200


@dataclass
class Estimate:
    """One parameter: its scenario path, point estimate, interval, sample size, window, method and draws."""

    path: str
    estimate: float
    low: float
    high: float
    n: int
    window: str
    method: str
    draws: np.ndarray


def _q(draws):
    a = (1 - LEVEL) / 2
    return float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))


def window_text(start, end) -> str:
    return f"{pd.Timestamp(start).date()} to {pd.Timestamp(end).date()}"


@dataclass
class LeadsEstimate(Estimate):
    """A channel's leads a month: the chosen count model and, with a trend or seasonality, its schedule.

    ``estimate``, ``low``, ``high`` and ``draws`` are the mean a month over the training months;
    ``schedule`` (:class:`sim.calibrate.volumes.Schedule`) each month's over the whole horizon.
    """

    fit: object = None
    schedule: object = None


EXTRAPOLATION_FACTOR = 4.0  # a forecast this many times above (or below) the last fitted month is flagged


def _extrapolation_warnings(estimates) -> list[str]:
    """A line for each channel whose trend takes its forecast far from the last month it was fitted on."""
    out = []
    for e in estimates:
        schedule = getattr(e, "schedule", None)
        if schedule is None or schedule.training >= len(schedule.mean):
            continue
        last_fit, last = float(schedule.mean[schedule.training - 1]), float(schedule.mean[-1])
        ratio = last / last_fit if last_fit > 0 else math.inf
        if not 1 / EXTRAPOLATION_FACTOR <= ratio <= EXTRAPOLATION_FACTOR:
            out.append(f"{e.path}: the fitted trend takes the forecast from {last_fit:.4g} a month (the last fitted "
                       f"month) to {last:.4g} ({ratio:.3g} times) by {schedule.months[-1]:%Y-%m}; an extrapolation "
                       "this far is a strong assumption: check it, or give the channel its own leads schedule")
    return out


def lead_volumes(leads: pd.DataFrame, cutoff, rng) -> tuple[list[Estimate], pd.Timestamp, int]:
    """Leads per month by channel over the whole months from the first lead's month to the cutoff.

    Each channel's monthly counts are fitted as in :mod:`sim.calibrate.volumes`: constant, or a
    log-linear trend (and month-of-year effects with 24 months or more) where a likelihood-ratio
    test supports it, Poisson or negative binomial. A constant Poisson rate keeps its Jeffreys
    Gamma(count + 1/2, months) posterior; otherwise the draws come from the normal approximation
    of the fit, month by month over the training months and the forecast year.
    """
    from sim.calibrate.volumes import FORECAST_MONTHS, fit_counts, forecast

    first = leads["created_date"].min().to_period("M").to_timestamp()
    last = (cutoff + pd.Timedelta(seconds=1)).to_period("M").to_timestamp()  # the month of the cutoff, partial
    months = max(int((last.year - first.year) * 12 + last.month - first.month), 1)
    inside = leads[(leads["created_date"] >= first) & (leads["created_date"] < first + pd.DateOffset(months=months))]
    channel = inside["channel"].astype(str) if "channel" in inside else pd.Series("all", index=inside.index)
    index = ((inside["created_date"].dt.year - first.year) * 12 + inside["created_date"].dt.month
             - first.month).to_numpy()
    window = window_text(first, first + pd.DateOffset(months=months))
    out = []
    for name, count in channel.value_counts().sort_index().items():
        y = np.bincount(index[(channel == name).to_numpy()], minlength=months)[:months]
        fit = fit_counts(y, first)
        path = f"channels.{name}.leads"
        if not fit.trend and not fit.season and fit.family == "Poisson":
            shape = count + 0.5
            draws = rng.gamma(shape, 1 / months, DRAWS)
            low, high = stats.gamma.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], shape, scale=1 / months)
            out.append(LeadsEstimate(path, count / months, float(low), float(high), int(count), window,
                                     f"Poisson rate over {months} months (Jeffreys Gamma posterior); "
                                     f"{fit.describe(LEVEL)}", draws, fit=fit))
            continue
        schedule = forecast(fit, months + FORECAST_MONTHS, DRAWS, LEVEL, rng)
        # The row of the estimates: the mean a month over the training months (as the constant's count / months).
        draws = schedule.draws[:, :months].mean(axis=1)
        low, high = _q(draws)
        point = float(schedule.mean[:months].mean())
        out.append(LeadsEstimate(path, point, min(low, point), max(high, point), int(count), window,
                                 f"{fit.describe(LEVEL)}; the mean a month over the window, draws from the normal "
                                 f"approximation of the fit", draws, fit=fit,
                                 schedule=schedule if (fit.trend or fit.season) else None))
    return out, first, months


def beta_estimate(path, k, n, window, method, rng) -> Estimate:
    a, b = k + 0.5, n - k + 0.5
    low, high = stats.beta.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], a, b)
    return Estimate(path, k / n if n else 0.5, float(low), float(high), int(n), window, method,
                    rng.beta(a, b, DRAWS))


def qualification_events(leads: pd.DataFrame, cutoff) -> tuple[np.ndarray, np.ndarray]:
    """Each lead's days from creation to its decision (or to the cutoff, undecided) and its outcome.

    The outcome is 1 qualified, 2 disqualified, 0 undecided (censored at the cutoff).
    """
    qualified, disqualified = leads["qualified_date"].notna(), leads["disqualified_date"].notna()
    end = leads["qualified_date"].where(qualified, leads["disqualified_date"]).where(qualified | disqualified, cutoff)
    days = np.maximum((end - leads["created_date"]).dt.total_seconds().to_numpy() / 86400, 1e-3)
    return days, np.where(qualified, 1, np.where(disqualified, 2, 0))


def qualification(leads: pd.DataFrame, cutoff, window, rng) -> Estimate | None:
    """The eventual share of leads qualified: Aalen-Johansen, disqualified competing, undecided leads censored.

    A lead never decided (left in nurture, gone cold) stays in the risk set up to its age at the
    cutoff, so it lowers the share as it should; dividing by the decided leads alone would not.
    """
    if "qualified_date" not in leads or "disqualified_date" not in leads:
        return None
    days, event = qualification_events(leads, cutoff)
    if not (event > 0).any():
        return None
    return eventual_share(days, event, "qualification.p_qualify", window, rng,
                           "Aalen-Johansen cumulative incidence of qualified (disqualified competing, undecided "
                           "censored at the cutoff), at the last time")


def _durations(deals: pd.DataFrame, cutoff):
    end = deals["closed_date"].where(deals["closed_date"].notna(), cutoff)
    days = (end - deals["created_date"]).dt.total_seconds().to_numpy() / 86400
    event = np.where(deals["won"], 1, np.where(deals["lost"], 2, 0))
    return np.maximum(days, 1e-3), event


def win_chance(deals: pd.DataFrame, cutoff, window, rng, path="opportunities.stages.0.advance") -> Estimate:
    """The eventual win chance: Aalen-Johansen, lost competing, open deals censored."""
    days, event = _durations(deals, cutoff)
    return eventual_share(days, event, path, window, rng, "Aalen-Johansen cumulative incidence of won (lost "
                                                           "competing, open censored), at the last time")


TIE_STEP_DAYS = 1e-6  # a tenth of a second: how far apart untied() sets equal times


def untied(days, event) -> np.ndarray:
    """``days`` with equal times made distinct, deterministically: the k-th of a run is k * TIE_STEP_DAYS later.

    lifelines' Aalen-Johansen cannot take tied event times and jitters them itself with
    ``np.random.seed``, which resets the caller's global NumPy random state; CRM dates without
    a time of day tie by the hundred. Within a run the order is by event (censored, then the
    event of interest, then the competing one), as at one instant nothing tells them apart.
    """
    days, event = np.asarray(days, dtype=float), np.asarray(event)
    order = np.lexsort((event, days))
    d = days[order]
    start = np.maximum.accumulate(np.where(np.r_[True, d[1:] != d[:-1]], np.arange(len(d)), 0))
    out = days.copy()
    out[order] = d + (np.arange(len(d)) - start) * TIE_STEP_DAYS
    return out


def aj_last_interval(fit, level: float) -> tuple[float, float]:
    """The ``level`` interval of a fitted ``AalenJohansenFitter``'s cumulative incidence at its last time.

    lifelines' own interval (``calculate_variance=True``), computed at the last time alone:
    Greenwood-type variance (Collett, *Modelling Survival Data in Medical Research*, 3rd ed.,
    p. 411) and the delta method on ``log(-log F)``. ``(nan, nan)`` where it is undefined, as
    lifelines' is (the last time's events take all still at risk).
    """
    table = fit.event_table
    F = fit.cumulative_density_.iloc[:, 0].to_numpy(dtype=float)
    d = table["observed"].to_numpy(dtype=float)
    d1 = table[fit.label_cmprisk].to_numpy(dtype=float)
    n = table["at_risk"].to_numpy(dtype=float)
    lag_s = np.concatenate([[1.0], (1 - d / n).cumprod()[:-1]])  # the overall survival just before each time
    lag_s = np.where(np.isfinite(lag_s), lag_s, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = F[-1] - F
        variance = (np.sum(gap**2 * d / (n * (n - d))) + np.sum(lag_s**2 * d1 * (n - d1) / n**3)
                    - 2 * np.sum(gap * lag_s * d1 / n**2))
        z = stats.norm.ppf(1 - (1 - level) / 2)
        t = np.log(-np.log(F[-1]))
        se = np.sqrt(variance) / (F[-1] * abs(np.log(F[-1])))
        low, high = np.exp(-np.exp(t + z * se)), np.exp(-np.exp(t - z * se))
    return float(low), float(high)


def eventual_share(days, event, path, window, rng, method) -> Estimate:
    """The cumulative incidence of event 1 (event 2 competing, 0 censored) at the last time, with Beta draws."""
    from lifelines import AalenJohansenFitter

    n = len(days)
    if (event == 1).sum() == 0 or (event > 0).all():
        k = int((event == 1).sum())
        return beta_estimate(path, k, int((event > 0).sum()), window, "Beta posterior over the outcomes known "
                                                                      "(none censored, or no event)", rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The variance by lifelines' own formula, at the last time only (aj_last_interval): its own computes it
        # at every time in a Python loop, nine tenths of the fit's time.
        fit = AalenJohansenFitter(calculate_variance=False, jitter_level=1e-6, seed=0, alpha=1 - LEVEL)
        fit.fit(untied(days, event), event, event_of_interest=1)
    p = float(fit.cumulative_density_.iloc[-1, 0])
    low, high = aj_last_interval(fit, LEVEL)
    if not (np.isfinite(low) and np.isfinite(high) and low <= p <= high):
        # lifelines' interval is undefined where the last times are ties: a Beta over the outcomes known,
        # weighted to the eventual chance (its width as if only those were known).
        k = int((event > 0).sum())
        a, b = p * k + 0.5, (1 - p) * k + 0.5
        low, high = (float(x) for x in stats.beta.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], a, b))
    sd = max((high - low) / (2 * stats.norm.ppf((1 + LEVEL) / 2)), 1e-6)
    m = min(max(p, 1e-4), 1 - 1e-4)
    ess = max(m * (1 - m) / sd**2 - 1, 1.0)
    return Estimate(path, p, low, high, n, window, method, rng.beta(m * ess, (1 - m) * ess, DRAWS))


def time_to_close(deals: pd.DataFrame, cutoff, window, rng, path="opportunities.stages.0.duration_days"):
    """(mean Estimate, cv, kind, AIC table): the lowest-AIC lifelines family, or the Kaplan-Meier draws."""
    days, event = _durations(deals, cutoff)
    return duration_fit(days, event > 0, path, window, rng)


def _starting_points(days, observed) -> dict:
    """Each family's parameters matched to the observed durations' log-moments, where lifelines' search starts.

    Only the start: the fit is still lifelines' maximum likelihood with the censored ones
    (a start near it saves a fifth of the Nelder-Mead steps). Empty with fewer than two observed.
    """
    log_t = np.log(np.maximum(days[observed], 1e-9))
    if len(log_t) < 2 or not np.isfinite(log_t).all():
        return {}
    m, s = float(log_t.mean()), max(float(log_t.std()), 1e-3)
    return {"weibull": np.array([math.exp(m + 0.5772 * s * math.sqrt(6) / math.pi), math.pi / (math.sqrt(6) * s)]),
            "lognormal": np.array([m, s]), "loglogistic": np.array([math.exp(m), math.pi / (math.sqrt(3) * s)]),
            "exponential": np.array([float(days.sum()) / max(int(observed.sum()), 1)])}


def _family_moments(family: str, t):
    """(mean, cv) of a lifelines family at parameters ``t`` (lifelines' order), one set or an array of rows."""
    t = np.asarray(t, dtype=float)
    a, b = t[..., 0], (t[..., 1] if t.shape[-1] > 1 else None)
    with np.errstate(all="ignore"):
        if family == "lognormal":
            return np.exp(a + b * b / 2), np.sqrt(np.expm1(b * b))
        if family == "exponential":
            return a, np.ones_like(a)
        if family == "weibull":
            m1 = a * special_gamma(1 + 1 / b)
            m2 = a * a * special_gamma(1 + 2 / b)
            return m1, np.sqrt(np.maximum(m2 / m1**2 - 1, 1e-8))
        # Log-logistic: the mean is finite for beta > 1, the variance for beta > 2 (else a cv of 2 is taken).
        c = np.pi / b
        m1 = np.where(b > 1, a * c / np.sin(c), np.inf)
        m2 = np.where(b > 2, a * a * 2 * c / np.sin(2 * c), np.inf)
        return m1, np.where(np.isfinite(m2), np.sqrt(np.maximum(m2 / m1**2 - 1, 1e-8)), 2.0)


def akaike_weights(aic: dict) -> dict:
    """Each family's Akaike weight, ``exp(-(AIC - AIC_min) / 2)`` normalised (Burnham and Anderson)."""
    low = min(aic.values())
    raw = {k: math.exp(-(v - low) / 2) for k, v in aic.items()}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}


def duration_fit(days, observed, path, window, rng):
    """(mean Estimate, cv, kind, AIC table, KM or None) of durations ``days``, ``observed`` False where censored.

    Censoring-aware fits of Weibull, LogNormal, LogLogistic and Exponential (lifelines). The
    lowest AIC gives the point estimate, the kind and the cv written; the mean's draws (and
    so its interval) are model-averaged: each draw's family is drawn with its Akaike weight,
    its parameters from that family's normal approximation, so that families fitting about
    equally well but implying different means widen the interval (the choice of family is
    part of the uncertainty). Kaplan-Meier's empirical draws if none fits.
    """
    from lifelines import ExponentialFitter, KaplanMeierFitter, LogLogisticFitter, LogNormalFitter, WeibullFitter

    days, observed = np.asarray(days, dtype=float), np.asarray(observed, dtype=bool)
    starts = _starting_points(days, observed)
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in (("weibull", WeibullFitter), ("lognormal", LogNormalFitter),
                          ("loglogistic", LogLogisticFitter), ("exponential", ExponentialFitter)):
            try:
                fits[name] = cls().fit(days, observed, initial_point=starts.get(name))
            except Exception:  # noqa: BLE001 - a family that does not converge is not chosen
                continue
    good = {k: f for k, f in fits.items() if np.isfinite(f.AIC_) and np.all(np.isfinite(f.variance_matrix_))
            and np.isfinite(_family_moments(k, f.params_.to_numpy())[0])}
    aic = {k: float(f.AIC_) for k, f in good.items()}
    n = int(observed.sum())
    if not good:
        km = KaplanMeierFitter().fit(days, observed)
        vals = days[observed]
        draws = np.array([rng.choice(vals, len(vals)).mean() for _ in range(DRAWS)])
        low, high = _q(draws)
        return Estimate(path, float(vals.mean()), low, high, n, window, "empirical (no family fitted)", draws), \
            float(np.std(vals) / vals.mean()), "empirical", aic, km
    best = min(aic, key=aic.get)
    weight = akaike_weights(aic)
    families = sorted(good)
    # Many draws for the interval, then DRAWS of them for the scenario: the quantiles of a mixture need more.
    pick = rng.choice(len(families), 20 * DRAWS, p=[weight[k] for k in families])
    draws = np.empty(len(pick))
    for j, family in enumerate(families):
        at = pick == j
        if not at.any():
            continue
        fit = good[family]
        names = list(fit.params_.index)
        cov = np.asarray(fit.variance_matrix_.loc[names, names], dtype=float)
        theta = rng.multivariate_normal(fit.params_.to_numpy(), cov, int(at.sum()))
        draws[at] = _family_moments(family, theta)[0]
    draws = draws[np.isfinite(draws) & (draws > 0)]
    low, high = _q(draws)
    draws = rng.choice(draws, DRAWS, replace=False) if len(draws) >= DRAWS else rng.choice(draws, DRAWS)
    mean, cv = (float(x) for x in _family_moments(best, good[best].params_.to_numpy()))
    kind = {"lognormal": "lognormal", "exponential": "exponential"}.get(best, "gamma")
    weights = ", ".join(f"{k} {weight[k]:.2f}" for k in sorted(weight, key=weight.get, reverse=True))
    return Estimate(path, float(mean), min(low, float(mean)), max(high, float(mean)), n, window,
                    f"{best} fit, censoring-aware (lowest AIC of {', '.join(sorted(aic))}); as a {kind}; its "
                    f"interval and draws averaged over the families by Akaike weight ({weights})", draws), \
        float(min(max(cv, 1e-6), 100)), kind, aic, None


def special_gamma(x):
    from scipy.special import gamma

    return gamma(x)


def deal_value(deals: pd.DataFrame, window, rng, path="opportunities.deal.value"):
    vals = deals.loc[deals["won"], "value"].dropna().to_numpy(dtype=float)
    vals = vals[vals > 0]
    if len(vals) < 2:
        return None, None
    mean = float(vals.mean())
    cv = float(vals.std(ddof=1) / mean) if len(vals) > 1 else 0.0
    draws = np.array([rng.choice(vals, len(vals)).mean() for _ in range(DRAWS)])
    low, high = _q(draws)
    return Estimate(path, mean, low, high, len(vals), window, "won deals' values: log-normal by mean and cv; the "
                                                              "mean's draws by bootstrap", draws), cv
