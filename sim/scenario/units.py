"""Units of the model: time in days, waits and work in hours, money in the scenario's currency.

A month is 365.25 / 12 days. Counts that come from a division of measured amounts
(whole FTE a budget pays for, deal slots, nurture touches) forgive round-off:
``25 * (1 - 0.8)`` is 4.999999999999999 in floating point, and is 5 slots.
"""

from __future__ import annotations

import math

__all__ = ["DAYS_PER_MONTH", "DAYS_PER_YEAR", "HOURS_PER_DAY", "ROUND_OFF", "whole"]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
HOURS_PER_DAY = 24.0  # the model's clock runs in days; waits and work are written in hours

ROUND_OFF = 1e-12  # how far (relative, at least this much absolute) below a whole number a count may fall


def whole(x: float) -> int:
    """The whole number of units ``x`` holds: ``floor(x)``, forgiving round-off (see :data:`ROUND_OFF`).

    The round-off of a computed count grows with it, so the tolerance does too:
    ``ROUND_OFF`` times the count, and never less than ``ROUND_OFF``.
    """
    return math.floor(x + ROUND_OFF * max(1.0, abs(x)))
