"""How the chance to qualify falls with the wait for first contact, where the CRM has contact times.

The model's chance to qualify a lead is ``p_qualify * (1 + wait / half_life_hours) ** -shape``
(``docs/model.md``, Qualification). A CRM export with an MQL date, a first-contact date and
the outcome (qualified or disqualified) of each contacted lead identifies the decay's
half-life: :func:`response_decay` fits ``p0`` and ``half_life_hours`` by maximum likelihood
(scipy), with ``shape`` fixed at the model's default of 1 (the shape and the half-life are
hardly separable from a few hundred outcomes), and tests it against no decay by a
likelihood ratio. It is a diagnostic, not written into the scenario: the waits the
calibrated funnel would simulate depend on the SDRs' hours, which a CRM does not record.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

__all__ = ["MIN_OUTCOMES", "hyperbolic_decay", "response_decay"]

MIN_OUTCOMES = 30


def _nll(theta, wait, y):
    p0 = 1.0 / (1.0 + math.exp(-theta[0]))
    h = math.exp(theta[1])
    p = np.clip(p0 * (1.0 + wait / h) ** -1.0, 1e-12, 1 - 1e-12)
    return -float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))


def _hessian(f, x, step=1e-4):
    """A central-difference Hessian of ``f`` at ``x`` (two parameters: cheap and plenty accurate here)."""
    n = len(x)
    h = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i, e_j = np.eye(n)[i] * step, np.eye(n)[j] * step
            h[i, j] = h[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) \
                / (4 * step * step)
    return h


def hyperbolic_decay(x, y, level: float = 0.90) -> dict | None:
    """``q0 * (1 + x / h) ** -1`` for outcomes ``y`` (1 or 0) at ``x >= 0`` by maximum likelihood, or None.

    The fit behind both decays the calibration finds: the chance to qualify with the wait for
    first contact (:func:`response_decay`, ``x`` in hours) and the win chance with a lead's age
    (:mod:`sim.calibrate.age`, ``x`` in days). The shape is fixed at 1 (the model's default; the
    shape and the half-life are hardly separable from a few hundred outcomes).

    Returns:
        None with fewer than MIN_OUTCOMES outcomes, one outcome only, or one ``x``. Else ``q0``
        and ``half_life`` (infinite where the fit runs to no decay, the bound of a million),
        ``low``/``high`` (the half-life's interval, Wald on the log scale) and ``q0_low``/
        ``q0_high`` (on the logit scale), the likelihood-ratio test against no decay (``lr``,
        ``p_value``: half a chi-square with one degree of freedom, as no decay is the boundary
        ``h = infinity``), ``n``, and ``theta`` (logit q0, log h) with ``cov``, its covariance
        (None where the Hessian is not positive definite).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(y) < MIN_OUTCOMES or y.sum() == 0 or y.sum() == len(y) or np.ptp(x) <= 0:
        return None
    rate = float(y.mean())
    start = np.array([math.log(rate / (1 - rate)) + 0.5, math.log(max(float(np.median(x)), 0.1))])
    top = math.log(1e6)  # a half-life of a million (hours: over a century) is no decay to speak of
    fit = optimize.minimize(_nll, start, args=(x, y), method="Nelder-Mead",
                            bounds=[(-30, 30), (math.log(1e-3), top)],
                            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    constant = -float(np.sum(y * math.log(rate) + (1 - y) * math.log1p(-rate)))
    lr = max(2 * (constant - fit.fun), 0.0)
    out = {"n": int(len(y)), "lr": lr, "p_value": 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0,
           "q0": float(special.expit(fit.x[0])), "theta": fit.x, "cov": None}
    try:
        cov = np.linalg.inv(_hessian(lambda t: _nll(t, x, y), fit.x))
        if np.all(np.linalg.eigvalsh((cov + cov.T) / 2) > 0):
            out["cov"] = (cov + cov.T) / 2
    except np.linalg.LinAlgError:
        pass
    z = stats.norm.ppf((1 + level) / 2)
    sd = np.sqrt(np.diag(out["cov"])) if out["cov"] is not None else np.array([math.inf, math.inf])
    if fit.x[1] >= top - 1:  # at the bound: no decay found (no interval)
        out.update(half_life=math.inf, low=math.nan, high=math.inf)
    else:
        h = math.exp(fit.x[1])
        low, high = (h * math.exp(-z * sd[1]), math.exp(min(fit.x[1] + z * sd[1], 700.0))) \
            if math.isfinite(sd[1]) else (0.0, math.inf)
        out.update(half_life=h, low=low, high=high)
    if math.isfinite(sd[0]):
        out.update(q0_low=float(special.expit(fit.x[0] - z * sd[0])),
                   q0_high=float(special.expit(fit.x[0] + z * sd[0])))
    return out


def response_decay(leads: pd.DataFrame, level: float = 0.90) -> dict | None:
    """The decay of the chance to qualify with the wait from MQL to first contact, or None if not identified.

    Args:
        leads: normalised leads with ``mql_date``, ``contacted_date`` and ``qualified_date`` /
            ``disqualified_date``; only the leads contacted and decided count.
        level: the interval's level.

    Returns:
        ``half_life_hours`` (the estimate), ``low``, ``high`` (its interval, Wald on the log
        scale), ``p0`` (the chance at no wait), ``n``, the likelihood-ratio test against no
        decay (``lr``, ``p_value``: :func:`hyperbolic_decay`), ``median_wait_hours`` and ``method``.
    """
    need = {"mql_date", "contacted_date", "qualified_date", "disqualified_date"}
    if not need <= set(leads.columns):
        return None
    decided = leads["qualified_date"].notna() | leads["disqualified_date"].notna()
    rows = leads[decided & leads["contacted_date"].notna() & leads["mql_date"].notna()]
    wait = ((rows["contacted_date"] - rows["mql_date"]).dt.total_seconds() / 3600).to_numpy()
    y = rows["qualified_date"].notna().to_numpy(dtype=float)
    ok = np.isfinite(wait) & (wait >= 0)
    fit = hyperbolic_decay(wait[ok], y[ok], level)
    if fit is None:
        return None
    return {"half_life_hours": fit["half_life"], "low": fit["low"], "high": fit["high"], "p0": fit["q0"],
            "n": fit["n"], "lr": fit["lr"], "p_value": fit["p_value"],
            "median_wait_hours": float(np.median(wait[ok])),
            "method": "maximum likelihood of p0 * (1 + wait / half_life) ** -1 over the leads contacted and decided "
                      "(wait: MQL to first contact); likelihood ratio against no decay"}
