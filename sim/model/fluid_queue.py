"""The qualification queue in closed form, for the fast approximation (``docs/model.md``, 3 and 11).

Each month is taken as a stationary M/M/n+D queue: Poisson MQL arrivals, ``n`` reps
(the month's expected employed seats, fractional: interpolated between the whole
numbers around it), exponential work at the month's mean speed, and a deterministic
patience ``max_wait_days`` after which a lead goes cold. For FIFO the offered wait ``V``
(the wait of a lead that would never go cold) has the Erlang-A law with deterministic
patience (Zeltyn and Mandelbaum, 2005):

    P(V > x) = lam * int_x^inf exp(lam * min(u, D) - n mu u) du / (E + lam J),

``E = sum_{j<n} a^j/j! / (a^(n-1)/(n-1)!)`` (``a = lam / mu``) and ``J`` the same integral
from 0. A lead is contacted if ``V < D``, after ``V``. For LIFO a lead that must wait is
contacted at the end of a busy period of an M/M/1 queue with arrival rate ``lam`` and
service rate ``n mu`` (the leads that arrive after it go first); for ``score``, the
same with the arrival rate of the leads scored above it. Work times that are not
exponential stretch the waits by ``(1 + cv^2) / 2`` (the Kingman / Allen-Cunneen factor).
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["QueueMonth", "queue_months"]

WAIT_NODES = 32  # Gauss-Legendre points on [0, max wait], after a change of variable dense near 0
GRID_SPREAD = 9.0  # the change of variable: waits from about 1e-4 of the max wait up are resolved
PRIORITY_NODES = 6


def _gauss_nodes(count: int, spread: float):
    """Gauss-Legendre nodes and weights on [0, 1] after ``x = expm1(spread s) / expm1(spread)`` (dense near 0)."""
    s, w = np.polynomial.legendre.leggauss(count)
    s, w = (s + 1.0) / 2.0, w / 2.0
    return np.expm1(spread * s) / np.expm1(spread), w * spread * np.exp(spread * s) / np.expm1(spread)


_UNIT_NODES, _UNIT_WEIGHTS = _gauss_nodes(WAIT_NODES, GRID_SPREAD)
_TAIL_NODES, _TAIL_WEIGHTS = _gauss_nodes(WAIT_NODES, np.log(1e4))  # 1 + 1e4 x these: multiples of the max wait


class QueueMonth:
    """Per month (and intent bin for ``score``): the share of arrivals that go cold, and E[decay; contacted].

    Attributes:
        p_cold: chance that an arriving MQL goes cold.
        served_decay: E[decay(wait) * 1{contacted}] per arriving MQL.
        p_wait: chance that an arriving MQL waits at all.
    """

    def __init__(self, p_cold, served_decay, p_wait):
        self.p_cold = p_cold
        self.served_decay = served_decay
        self.p_wait = p_wait


def _erlang_e(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``sum_{j<n} a^j/j! / (a^(n-1)/(n-1)!)`` = 1 / ErlangB(n - 1, a), for whole ``n >= 1``."""
    top = int(n.max()) if n.size else 1
    inv_b = np.ones_like(a)  # 1 / B(0)
    out = np.where(n <= 1, 1.0, 0.0)
    with np.errstate(over="ignore"):  # many reps and few leads: E is huge, no lead waits
        for j in range(1, top):
            inv_b = 1.0 + j * inv_b / np.maximum(a, 1e-300)  # 1/B(j) = 1 + j / (a B(j-1))
            out = np.where(n == j + 1, inv_b, out)
    return out


def _busy_period_density(x: np.ndarray, lam: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Density at ``x`` of an M/M/1 busy period (arrival ``lam``, service ``nu``); mass min(1, nu/lam)."""
    lam = np.maximum(lam, 1e-12)
    z = 2.0 * x * np.sqrt(lam * nu)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.sqrt(nu / lam) * special.i1e(z) / x * np.exp(-(np.sqrt(lam) - np.sqrt(nu)) ** 2 * x)
    return np.where(x > 0, f, nu)


def _one_size(lam, n, mu, patience, decay, discipline, higher):
    """The queue for whole ``n`` (arrays over months, and intent bins via ``higher``)."""
    n = np.asarray(n, dtype=float)
    none = n <= 0
    n_ = np.maximum(n, 1.0)
    a = lam / mu
    e = _erlang_e(a, n_)
    nmu = n_ * mu
    theta = nmu - lam
    D = patience
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        integral = np.where(np.abs(theta * D) > 1e-9, -np.expm1(-theta * D) / theta, D)
        j = integral + np.exp(-theta * D) / nmu
        z = e + lam * j
        p_wait = lam * j / z
    x = D[..., None] * _UNIT_NODES  # offered wait, days
    weights = D[..., None] * _UNIT_WEIGHTS
    dec = decay(x)
    if discipline == "fifo":
        with np.errstate(over="ignore"):
            dens = lam[..., None] * np.exp(-theta[..., None] * x) / z[..., None]
            p_cold = lam * np.exp(-theta * D) / nmu / z
        waited = (dens * dec * weights).sum(axis=-1)
        served = (1.0 - p_wait) + waited
    else:
        rate = lam if higher is None else higher
        dens = _busy_period_density(x, rate[..., None], nmu[..., None])
        served = (1.0 - p_wait) + p_wait * (dens * dec * weights).sum(axis=-1)
        # P(busy period > D), integrated over the tail itself: accurate when it is small.
        tail_x = D[..., None] * (1.0 + 1e4 * _TAIL_NODES)
        tail = _busy_period_density(tail_x, rate[..., None], nmu[..., None])
        beyond = (tail * D[..., None] * 1e4 * _TAIL_WEIGHTS).sum(axis=-1)
        never = np.clip(1.0 - nmu / np.maximum(rate, 1e-300), 0.0, 1.0)  # an overloaded busy period may not end
        p_cold = p_wait * np.clip(beyond + never, 0.0, 1.0)
    p_cold = np.where(none, 1.0, np.clip(p_cold, 0.0, 1.0))
    served = np.where(none, 0.0, np.clip(served, 0.0, 1.0))
    return p_cold, served, np.where(none, 1.0, p_wait)


def queue_months(lam, servers, mu, patience_days, decay, discipline, work_cv, higher=None) -> QueueMonth:
    """The M/M/n+D queue of each month (see the module docstring).

    Args:
        lam: MQL arrivals per day, per month (shape ``(months,)`` or ``(months, bins)``).
        servers: expected employed qualifying seats per month (fractional).
        mu: MQLs one rep works per day at the month's mean speed.
        patience_days: ``max_wait_days`` (the horizon when leads never go cold).
        decay: the chance's decay as a function of the wait in days (vectorised).
        discipline: ``fifo``, ``lifo``, ``score`` or ``sla`` (taken as ``fifo``).
        work_cv: coefficient of variation of the work time (stretches the waits).
        higher: for ``score``, per month and bin, the share of arrivals scored above (the
            queue is worked out on a grid of :data:`PRIORITY_NODES` shares and interpolated).
    """
    stretch = max((1.0 + work_cv**2) / 2.0, 1e-6)
    lam = np.maximum(np.asarray(lam, dtype=float), 1e-12)
    servers = np.asarray(servers, dtype=float)
    mu = np.asarray(mu, dtype=float)
    above = None
    if higher is not None:
        above = np.asarray(higher, dtype=float)
        shares = np.linspace(0.0, 1.0, PRIORITY_NODES)
        higher = lam[:, None] * shares[None, :]
        lam = lam[:, None] * np.ones_like(higher)
        servers, mu = servers[:, None] * np.ones_like(lam), mu[:, None] * np.ones_like(lam)
    D = np.full(lam.shape, patience_days / stretch)

    def stretched(x):
        return decay(x * stretch)

    lo = np.floor(servers)
    w = servers - lo
    # sla serves in FIFO order while no lead is past the SLA, and is taken as FIFO (docs/model.md, 11).
    kind = "fifo" if discipline in ("fifo", "sla") else "busy"

    def both(x):  # the whole numbers of reps below and above, side by side in one call
        return np.stack([x, x])

    sizes = np.stack([lo, lo + 1.0])
    res = _one_size(both(lam), sizes, both(mu), both(D), stretched, kind, None if higher is None else both(higher))
    # Where w is 0 the size above is not mixed in at all (a month without reps would give 0 * nan).
    p_cold, served, p_wait = (np.where(w > 0, (1.0 - w) * r[0] + w * r[1], r[0]) for r in res)
    if above is not None:  # from the grid of shares above to each intent bin
        at = above * (PRIORITY_NODES - 1)
        k = np.clip(np.floor(at).astype(int), 0, PRIORITY_NODES - 2)
        f = at - k
        rows = np.arange(above.shape[0])[:, None]
        p_cold, served, p_wait = ((1.0 - f) * v[rows, k] + f * v[rows, k + 1] for v in (p_cold, served, p_wait))
    return QueueMonth(p_cold, served, p_wait)
