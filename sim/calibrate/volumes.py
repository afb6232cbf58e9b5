"""Monthly lead counts with a trend and seasonality where the data support them, and the team over time.

Lead volumes (:func:`fit_counts`, :func:`forecast`): each channel's counts per whole calendar
month, with the month's length in model months (days / 30.4375) as the exposure, are fitted
by maximum likelihood (``scipy.optimize``) as a log-linear count regression:

- **family**: Poisson, unless Dean's (1992) score test for negative-binomial overdispersion,
  on the trend model and adjusted for its leverages, rejects at :data:`TEST_LEVEL`; then NB2
  (variance ``mu + alpha * mu**2``, as a scenario's ``rate_cv = sqrt(alpha)`` gives, and is written);
- **mean**: constant, or a log-linear trend (one more parameter), chosen by a likelihood-ratio
  test at :data:`TEST_LEVEL` (chi-square, 1 degree of freedom); with at least
  :data:`SEASON_MONTHS` whole months, month-of-year effects (11 more) are then tested the same
  way against the mean kept (chi-square, 11 degrees of freedom).

A likelihood-ratio test rather than AIC: the chosen trend is extrapolated a year past the
cut, so a trend claimed on noise is the costly error, and the test fixes its rate at the
stated level (5%); AIC's rule for one parameter (a gain of 1 in log-likelihood) is a test
at about 16%. Draws of each month's mean come from the normal approximation of the
estimates (the inverse of the Fisher information), one parameter vector per row, so a
row is one coherent path and the spread widens into the forecast months.

The team (:func:`team_by_month`, :func:`deals_per_rep`): the headcount table's FTE by month
and role, and created deals per active deal owner and month (diagnostics, no scenario field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from sim.scenario.units import DAYS_PER_MONTH

__all__ = ["CountFit", "FORECAST_MONTHS", "MIN_MONTHS", "SEASON_MONTHS", "Schedule", "TEST_LEVEL", "deals_per_rep",
           "fit_counts", "forecast", "fte_schedule", "month_exposure", "team_by_month"]

TEST_LEVEL = 0.05  # of the overdispersion, trend and seasonality tests
FORECAST_MONTHS = 12  # months of a calibrated horizon after the training cut (its forecast year)
MIN_MONTHS = 12  # fewer whole months: the constant rate, no trend tested (less than a year cannot tell a trend
# from a season or from a CRM still being adopted: the public opportunity data ramps up +59% a month over its
# first 8 months, which extrapolated a year is a hundredfold)
SEASON_MONTHS = 24  # month-of-year effects are tested only with at least two of each month


def month_exposure(first: pd.Timestamp, months: int) -> np.ndarray:
    """Each calendar month's length in model months (a February is 0.92 of one)."""
    starts = pd.date_range(first, periods=months + 1, freq="MS")
    return np.diff(starts.to_numpy()).astype("timedelta64[s]").astype(float) / 86400 / DAYS_PER_MONTH


def _design(t: np.ndarray, moy: np.ndarray, trend: bool, season: bool, centre: float) -> np.ndarray:
    cols = [np.ones(len(t))]
    if trend:
        cols.append(t - centre)
    if season:  # effects coding: month m's effect against the mean of the twelve, December = -sum of the others
        for m in range(11):
            cols.append((moy == m).astype(float) - (moy == 11).astype(float))
    return np.column_stack(cols)


def _poisson(y, X, off):
    def f(b):
        eta = X @ b + off
        mu = np.exp(eta)
        return float(np.sum(mu - y * eta)), X.T @ (mu - y), (X.T * mu) @ X

    b0 = np.zeros(X.shape[1])
    b0[0] = np.log(max(y.sum(), 0.5) / np.exp(off).sum())
    res = optimize.minimize(lambda b: f(b)[0], b0, jac=lambda b: f(b)[1], hess=lambda b: f(b)[2],
                            method="trust-exact")
    b = res.x
    mu = np.exp(X @ b + off)
    ll = float(np.sum(y * np.log(np.where(mu > 0, mu, 1e-300)) - mu - special.gammaln(y + 1)))
    return b, mu, ll


def _negbin(y, X, off, b_start):
    def f(p):
        b, la = p[:-1], min(max(p[-1], -18.0), 4.0)
        r = np.exp(-la)
        mu = np.exp(X @ b + off)
        ll = (special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1) + r * np.log(r / (r + mu))
              + y * np.log(mu / (r + mu)))
        g_eta = r * (y - mu) / (r + mu)
        g_r = special.digamma(y + r) - special.digamma(r) + np.log(r / (r + mu)) + (mu - y) / (r + mu)
        return -float(ll.sum()), -np.append(X.T @ g_eta, -r * g_r.sum())

    res = optimize.minimize(f, np.append(b_start, np.log(0.05)), jac=True, method="BFGS")
    b, alpha = res.x[:-1], float(np.exp(min(max(res.x[-1], -18.0), 4.0)))
    return b, np.exp(X @ b + off), -float(res.fun), alpha


@dataclass
class CountFit:
    """The chosen model of one channel's monthly counts, with the tests that chose it."""

    family: str  # "Poisson" or "negative binomial"
    trend: bool
    season: bool
    beta: np.ndarray
    cov: np.ndarray
    alpha: float  # NB2 overdispersion (0 for Poisson)
    centre: float
    months: int
    first: pd.Timestamp
    tests: dict = field(default_factory=dict)  # name -> (statistic, df, p)

    @property
    def model(self) -> str:
        """The family and the mean model in words."""
        mean = "log-linear trend" if self.trend else "constant"
        if self.season:
            mean += " with month-of-year effects"
        return f"{self.family} regression, {mean}"

    def slope(self, level: float) -> tuple[float, float, float]:
        """The trend as a change a month (0.05 is +5%), with its interval; zeros without a trend."""
        if not self.trend:
            return 0.0, 0.0, 0.0
        z = stats.norm.ppf((1 + level) / 2)
        b, se = self.beta[1], float(np.sqrt(self.cov[1, 1]))
        return float(np.expm1(b)), float(np.expm1(b - z * se)), float(np.expm1(b + z * se))

    def describe(self, level: float) -> str:
        """The model and its tests in words (for the method text and the provenance comment)."""
        parts = [self.model]
        if self.trend:
            s, lo, hi = self.slope(level)
            parts[0] += f" {s:+.1%} a month ({level:.0%} interval {lo:+.1%} to {hi:+.1%})"
        names = {"overdispersion": "overdispersion score test", "trend": "likelihood-ratio test of the trend",
                 "season": "likelihood-ratio test of month-of-year effects"}
        for key, (stat, df, p) in self.tests.items():
            parts.append(f"{names[key]} chi2({df}) = {stat:.2f}, p = {p:.3g}" if key != "overdispersion"
                         else f"{names[key]} z = {stat:.2f}, p = {p:.3g}")
        if self.family != "Poisson":
            parts.append(f"alpha = {self.alpha:.3g} (rate_cv {np.sqrt(self.alpha):.3g})")
        if not self.tests:
            parts.append(f"fewer than {MIN_MONTHS} whole months: no trend tested")
        return "; ".join(parts) + f" (tests at level {TEST_LEVEL:g}; whole months, exposure = days / 30.4375)"


def fit_counts(y, first: pd.Timestamp, level: float = TEST_LEVEL) -> CountFit:
    """The count model of one channel's whole months ``y`` from ``first``, chosen by the tests of the module."""
    y = np.asarray(y, dtype=float)
    months = len(y)
    t = np.arange(months, dtype=float)
    moy = (first.month - 1 + np.arange(months)) % 12
    off = np.log(month_exposure(first, months))
    centre = float(t.mean())
    if months < MIN_MONTHS or y.sum() == 0:
        X = _design(t, moy, False, False, centre)
        b, mu, _ = _poisson(y, X, off)
        return CountFit("Poisson", False, False, b, np.linalg.inv((X.T * mu) @ X), 0.0, centre, months, first)
    # Seasonality needs every month-of-year seen with some leads, else its effect runs off to minus infinity.
    seasonal = months >= SEASON_MONTHS and all(y[moy == m].sum() > 0 for m in range(12))
    models = [(False, False), (True, False)] + ([(False, True), (True, True)] if seasonal else [])
    X = {m: _design(t, moy, *m, centre) for m in models}
    pois = {m: _poisson(y, X[m], off) for m in models}
    # Dean's score test of alpha = 0 against NB2, one-sided, on the trend model, adjusted for the leverages h of
    # the fit. Not on the seasonal one: 13 parameters fitted to 24-36 months soak up most of the extra variance
    # and hide it, and the Poisson test of the month-of-year effects then claims them on noise. True seasonality
    # left in is taken as overdispersion, which only makes its own test (under NB, F reference) conservative.
    mu, Xr = pois[(True, False)][1], X[(True, False)]
    h = mu * np.einsum("ij,jk,ik->i", Xr, np.linalg.inv((Xr.T * mu) @ Xr), Xr)
    z = float(np.sum((y - mu) ** 2 - y + h * mu) / np.sqrt(2 * np.sum(mu**2)))
    tests = {"overdispersion": (z, 1, float(stats.norm.sf(z)))}
    family = "negative binomial" if tests["overdispersion"][2] < level else "Poisson"
    if family == "Poisson":
        fits = {m: (b, mu_, ll, 0.0) for m, (b, mu_, ll) in pois.items()}
    else:
        fits = {m: _negbin(y, X[m], off, pois[m][0]) for m in models}

    def lr(small, big):
        stat = max(2 * (fits[big][2] - fits[small][2]), 0.0)
        df = X[big].shape[1] - X[small].shape[1]
        if family == "Poisson":
            return stat, df, float(stats.chi2.sf(stat, df))
        # alpha is estimated too: the F reference of LR / df (n - parameters - 1 denominator degrees) keeps the
        # level with few months, where chi-square claims month-of-year effects about twice as often.
        return stat, df, float(stats.f.sf(stat / df, df, max(months - X[big].shape[1] - 1, 1)))

    tests["trend"] = lr((False, False), (True, False))
    trend = tests["trend"][2] < level
    season = False
    if seasonal:
        tests["season"] = lr((trend, False), (trend, True))
        season = tests["season"][2] < level
    b, mu, _, alpha = fits[(trend, season)]
    Xc = X[(trend, season)]
    info = (Xc.T * (mu / (1 + alpha * mu))) @ Xc  # expected information of the mean's parameters
    return CountFit(family, trend, season, b, np.linalg.inv(info), alpha, centre, months, first, tests)


@dataclass
class Schedule:
    """Expected leads a month over a horizon: the fit's mean, interval and draws (rows are joint paths)."""

    months: list  # month starts
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    draws: np.ndarray  # (draws, months)
    training: int  # the first `training` months are the fitted window, the rest a forecast
    fit: CountFit


def forecast(fit: CountFit, horizon: int, draws: int, level: float, rng) -> Schedule:
    """Each month's mean over ``horizon`` months from the fit's first: the fitted months, then a forecast."""
    t = np.arange(horizon, dtype=float)
    moy = (fit.first.month - 1 + np.arange(horizon)) % 12
    X = _design(t, moy, fit.trend, fit.season, fit.centre)
    theta = rng.multivariate_normal(fit.beta, fit.cov, draws, method="cholesky")
    paths = np.exp(theta @ X.T)
    z = stats.norm.ppf((1 + level) / 2)
    eta = X @ fit.beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, fit.cov, X))
    return Schedule(list(pd.date_range(fit.first, periods=horizon, freq="MS")), np.exp(eta), np.exp(eta - z * se),
                    np.exp(eta + z * se), paths, fit.months, fit)


# -- the team ---------------------------------------------------------------------------------------


def team_by_month(head: pd.DataFrame | None) -> dict[str, list[tuple[str, float]]]:
    """Each role's FTE by month of the headcount table (the mapping's role names): role -> [(YYYY-MM, fte)]."""
    if head is None or not len(head):
        return {}
    names = head.attrs.get("roles", {})
    frame = head.assign(role=head["role"].map(lambda r: str(names.get(r, r))),
                        month=head["month_start"].dt.to_period("M").astype(str))
    out = {}
    for role, rows in frame.groupby("role"):
        by = rows.groupby("month")["fte"].sum().sort_index()
        out[str(role)] = [(str(m), float(v)) for m, v in by.items()]
    return out


def runs(series: list[tuple[str, float]]) -> str:
    """A series of (month, value) as runs: '2 (2025-01 to 2025-03), 4 (2025-04 to 2025-12)'."""
    parts, k = [], 0
    while k < len(series):
        j = k
        while j + 1 < len(series) and series[j + 1][1] == series[k][1]:
            j += 1
        span = series[k][0] if j == k else f"{series[k][0]} to {series[j][0]}"
        parts.append(f"{series[k][1]:g} ({span})")
        k = j + 1
    return ", ".join(parts)


def deals_per_rep(deals: pd.DataFrame, cutoff, level: float, ae_fte: list[tuple[str, float]] | None = None):
    """Created deals per active owner and whole month before the cutoff, pooled, with a Jeffreys interval.

    An owner is active in a month from the month of their first created deal to that of
    their last (so a month in between without a deal of theirs still counts them). The
    pooled rate is deals / owner-months; its interval the Jeffreys Gamma(deals + 1/2,
    owner-months). With the headcount's AE FTE by month, the same per AE FTE-month.
    ``None`` without owners.
    """
    if "owner" not in deals or not deals["owner"].notna().any():
        return None
    cut_month = (cutoff + pd.Timedelta(seconds=1)).to_period("M")  # partial: left out
    d = deals[deals["owner"].notna()]
    month = d["created_date"].dt.to_period("M")
    d = d.assign(month=month)[month < cut_month]
    if not len(d):
        return None
    months = pd.period_range(d["month"].min(), cut_month - 1, freq="M")
    span = d.groupby("owner")["month"].agg(["min", "max"])
    rows = []
    for m in months:
        owners = int(((span["min"] <= m) & (span["max"] >= m)).sum())
        created = int((d["month"] == m).sum())
        rows.append({"month": str(m), "deals": created, "owners": owners,
                     "per_owner": created / owners if owners else None})
    total, exposure = sum(r["deals"] for r in rows), sum(r["owners"] for r in rows)
    a = (1 - level) / 2

    def rate(count, expo):
        low, high = stats.gamma.ppf([a, 1 - a], count + 0.5, scale=1 / expo)
        return {"estimate": count / expo, "low": float(low), "high": float(high), "deals": int(count),
                "rep_months": float(expo)}

    out = {"per_owner": rate(total, exposure), "by_month": rows,
           "window": f"{months[0].start_time.date()} to {(months[-1] + 1).start_time.date()}",
           "method": "created deals / active deal owners per whole month (an owner is active from the month of "
                     "their first deal to that of their last), pooled over the months; Jeffreys Gamma interval "
                     "(Poisson counts)"}
    if ae_fte:
        fte = dict(ae_fte)
        fte_months = sum(fte.get(r["month"], 0.0) for r in rows)
        if fte_months > 0:
            out["per_ae_fte"] = rate(sum(r["deals"] for r in rows if fte.get(r["month"], 0) > 0), fte_months)
            for r in rows:
                r["ae_fte"] = fte.get(r["month"])
    return out


def fte_schedule(found: dict, series: list[tuple[str, float]]) -> tuple[list[int], str, list[str], list[str]]:
    """A role's ``fte_by_month`` from its headcount by month: the training months from the table.

    Month k of the scenario (from ``found["start"]``) takes the table's FTE of that calendar month,
    rounded to whole FTE (half up; the table holds FTE-months, fractional where a rep joined or
    left mid-month); a month the table lacks takes the month before it (the table's first month,
    before it starts). The schedule ends with the table's last training month; the forecast
    months repeat it.

    Returns:
        The schedule, the calendar window it covers (``2025-01 to 2025-10``), the months
        rounded as ``2025-04 (2.75 -> 3)``, and the months the table lacks.
    """
    start = found["start"].to_period("M")
    by_month = dict(series)
    training = min(max(found["months"], 1), 240 - FORECAST_MONTHS)
    labels = [str(start + k) for k in range(training)]
    known = [k for k, label in enumerate(labels) if label in by_month]
    if not known:
        return [], "", [], []
    schedule, rounded, value = [], [], by_month[labels[known[0]]]
    lacking = [label for label in labels[:known[-1] + 1] if label not in by_month]
    for label in labels[:known[-1] + 1]:
        value = by_month.get(label, value)
        # Half up; a part-time role (0.4 FTE) is one seat, not none: the model has whole seats.
        whole = max(int(math.floor(value + 0.5)), 1 if value > 1e-9 else 0)
        if abs(value - whole) > 1e-9 and label in by_month:
            rounded.append(f"{label} ({value:.4g} -> {whole})")
        schedule.append(whole)
    return schedule, f"{labels[0]} to {labels[known[-1]]}", rounded, lacking
