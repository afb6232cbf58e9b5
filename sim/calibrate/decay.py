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
from scipy import optimize, stats

__all__ = ["response_decay"]

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


def response_decay(leads: pd.DataFrame, level: float = 0.90) -> dict | None:
    """The decay of the chance to qualify with the wait from MQL to first contact, or None if not identified.

    Args:
        leads: normalised leads with ``mql_date``, ``contacted_date`` and ``qualified_date`` /
            ``disqualified_date``; only the leads contacted and decided count.
        level: the interval's level.

    Returns:
        ``half_life_hours`` (the estimate), ``low``, ``high`` (its interval, Wald on the log
        scale), ``p0`` (the chance at no wait), ``n``, the likelihood-ratio test against no
        decay (``lr``, ``p_value``: half a chi-square with one degree of freedom, as no decay
        is the boundary ``half_life = infinity``), ``median_wait_hours`` and ``method``.
    """
    need = {"mql_date", "contacted_date", "qualified_date", "disqualified_date"}
    if not need <= set(leads.columns):
        return None
    decided = leads["qualified_date"].notna() | leads["disqualified_date"].notna()
    rows = leads[decided & leads["contacted_date"].notna() & leads["mql_date"].notna()]
    wait = ((rows["contacted_date"] - rows["mql_date"]).dt.total_seconds() / 3600).to_numpy()
    y = rows["qualified_date"].notna().to_numpy(dtype=float)
    ok = np.isfinite(wait) & (wait >= 0)
    wait, y = wait[ok], y[ok]
    if len(y) < MIN_OUTCOMES or y.sum() == 0 or y.sum() == len(y) or np.ptp(wait) <= 0:
        return None
    rate = y.mean()
    start = np.array([math.log(rate / (1 - rate)) + 0.5, math.log(max(np.median(wait), 0.1))])
    # The half-life is kept below a million hours (over a century): beyond, there is no decay to speak of.
    top = math.log(1e6)
    fit = optimize.minimize(_nll, start, args=(wait, y), method="Nelder-Mead",
                            bounds=[(-30, 30), (math.log(1e-3), top)],
                            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    constant = -float(np.sum(y * math.log(rate) + (1 - y) * math.log1p(-rate)))
    lr = max(2 * (constant - fit.fun), 0.0)
    p_value = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
    z = stats.norm.ppf((1 + level) / 2)
    try:
        cov = np.linalg.inv(_hessian(lambda t: _nll(t, wait, y), fit.x))
        sd = math.sqrt(cov[1, 1]) if cov[1, 1] > 0 else math.inf
    except np.linalg.LinAlgError:
        sd = math.inf
    if fit.x[1] >= top - 1:  # at the bound: no decay found (the interval is not computed)
        h, low, high = math.inf, math.nan, math.inf
    else:
        h = math.exp(fit.x[1])
        low, high = (h * math.exp(-z * sd), h * math.exp(z * sd)) if math.isfinite(sd) else (0.0, math.inf)
    return {"half_life_hours": h, "low": low, "high": high,
            "p0": 1.0 / (1.0 + math.exp(-fit.x[0])), "n": int(len(y)), "lr": lr, "p_value": p_value,
            "median_wait_hours": float(np.median(wait)),
            "method": "maximum likelihood of p0 * (1 + wait / half_life) ** -1 over the leads contacted and decided "
                      "(wait: MQL to first contact); likelihood ratio against no decay"}
