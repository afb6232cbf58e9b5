"""Response curves, carryover and decay as pure numpy functions (``docs/model.md``, 1 and 3).

Nothing here knows about scenarios or SimPy: the model, the tests and later the
optimiser call these directly.
"""

from __future__ import annotations

import numpy as np

from sim.errors import FunnelError

__all__ = ["carryover", "effective_spend", "exponential_response", "hill_response", "lagged", "wait_decay"]


def hill_response(spend, max_leads: float, half_spend: float, shape: float = 1.0):
    """Leads per month from effective monthly spend, Hill saturation.

    ``max_leads * s**shape / (s**shape + half_spend**shape)``: 0 at no spend, half of
    ``max_leads`` at ``half_spend``, approaching ``max_leads``.
    """
    s = np.maximum(np.asarray(spend, dtype=float), 0.0)
    # Written as max / (1 + (half/s)^k): no overflow at huge spend, never above max_leads.
    with np.errstate(divide="ignore", over="ignore"):
        inverse = (half_spend / s) ** shape
    return max_leads / (1.0 + inverse)


def exponential_response(spend, max_leads: float, spend_scale: float):
    """Leads per month from effective monthly spend: ``max_leads * (1 - exp(-s / spend_scale))``."""
    s = np.maximum(np.asarray(spend, dtype=float), 0.0)
    return max_leads * -np.expm1(-s / spend_scale)


def carryover(spend, rate: float, history=()):
    """Normalised geometric carryover (adstock) of monthly spend.

    ``a[t] = rate * a[t-1] + (1 - rate) * s[t]``, so a constant spend ``S`` held long
    enough gives effective spend ``S``. ``history`` is spend before the window (oldest
    first); spend before the history is taken as zero. Returns one value per month of
    ``spend`` (the window only).
    """
    if not 0 <= rate < 1:
        raise FunnelError("rate", f"expected a carryover in [0, 1), got {rate!r}")
    full = np.concatenate([np.asarray(history, dtype=float), np.asarray(spend, dtype=float)])
    out = np.empty_like(full)
    acc = 0.0
    for i, s in enumerate(full):
        acc = rate * acc + (1.0 - rate) * s
        out[i] = acc
    return out[len(full) - len(spend):]


def lagged(spend, lag_months: int, history=()):
    """Shift monthly spend ``lag_months`` later, filling from ``history`` (then zeros)."""
    spend = np.asarray(spend, dtype=float)
    if lag_months < 0:
        raise FunnelError("lag_months", f"expected a whole number of months >= 0, got {lag_months!r}")
    if lag_months == 0:
        return spend
    full = np.concatenate([np.zeros(lag_months), np.asarray(history, dtype=float), spend])
    return full[len(full) - len(spend) - lag_months: len(full) - lag_months]


def wait_decay(wait_hours, half_life_hours: float, shape: float = 1.0):
    """Hyperbolic decay of a conversion chance with waiting: ``(1 + w/half_life) ** -shape``.

    Equals 1 at no wait and falls towards 0; ``shape`` sets how steeply.
    """
    w = np.maximum(np.asarray(wait_hours, dtype=float), 0.0)
    return (1.0 + w / half_life_hours) ** -shape


def effective_spend(spend, rate: float = 0.0, lag_months: int = 0, history=()):
    """Spend as it acts on leads: carried over (normalised) and delayed by ``lag_months``.

    ``history`` (oldest first) seeds the carryover and fills the lag, so a window does
    not start cold. Returns one value per month of ``spend``.
    """
    history = np.asarray(history, dtype=float)
    spend = np.asarray(spend, dtype=float)
    if lag_months < 0:
        raise FunnelError("lag_months", f"expected a whole number of months >= 0, got {lag_months!r}")
    full = carryover(np.concatenate([history, spend]), rate)
    full = np.concatenate([np.zeros(lag_months), full])
    end = len(full) - lag_months
    return full[end - len(spend): end]
