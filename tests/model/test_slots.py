"""The AE open-deal limit: the whole number of slots in ``max_open_opportunities * (1 - account_care_share)``.

The reference is exact arithmetic on what was written (the care share in hundredths).
In doubles ``25 * (1 - 0.8)`` is 4.999999999999999, which ``int()`` made 4 slots; the
model forgives that round-off (``sim.scenario.units.whole``) and gives 5.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from builders import make

import sim
from sim.model.team import Tenure, slot_limit_steps
from sim.scenario.units import DAYS_PER_MONTH

PAIRS = [(max_open, care) for max_open in range(1, 61) for care in range(100)]  # care in hundredths


def _exact_limit(max_open: int, care_hundredths: int) -> int:
    return max(1, math.floor(Fraction(max_open) * (1 - Fraction(care_hundredths, 100))))


def _model_full_slots(max_open: int, care_hundredths: int) -> float:
    # As the model forms it: max_open * selling_share, selling_share = 1.0 - account_care_share.
    return max_open * (1.0 - care_hundredths / 100)


def test_the_ramped_limit_is_the_floor_of_the_exact_product_for_every_pair():
    wrong = []
    for max_open, care in PAIRS:
        full = _model_full_slots(max_open, care)
        expected = _exact_limit(max_open, care)
        ramped = Tenure(0.0, math.inf, ramped_at_start=True)
        assert slot_limit_steps(ramped, full, 0.0, math.inf) == [(0.0, expected)], (max_open, care)
        # A rep who ramps reaches the same limit, one slot at a time, by the end of the ramp.
        ramping = Tenure(10.0, math.inf, ramped_at_start=False)
        steps = slot_limit_steps(ramping, full, 2.0, math.inf)
        assert [limit for _, limit in steps] == list(range(1, expected + 1)), (max_open, care)
        times = [t for t, _ in steps]
        assert times == sorted(times) and times[0] == 10.0 and times[-1] <= 10.0 + 2.0 * DAYS_PER_MONTH + 1e-9
        if int(full) != math.floor(Fraction(max_open) * (1 - Fraction(care, 100))):
            wrong.append((max_open, care))
    # The pairs where int() of the double is not the exact floor (27; for two of them, (5, 80) and (10, 90),
    # the at-least-one rule hid it): all handled above.
    assert (25, 80) in wrong and (5, 80) in wrong
    assert len(wrong) == 27, wrong


def test_twenty_five_deals_with_eighty_percent_care_is_five_slots():
    assert 25 * (1 - 0.8) < 5  # the round-off the rule must forgive
    steps = slot_limit_steps(Tenure(0.0, math.inf, True), 25 * (1 - 0.8), 0.0, math.inf)
    assert steps == [(0.0, 5)]


@pytest.mark.parametrize("seed", [0, 1])
def test_an_ae_carries_five_deals_and_utilisation_counts_five_slots(seed):
    # One ramped AE, 25 deals at most and 80% of the time on account care: 5 slots. SDRs qualify
    # every MQL at once, and deals last far beyond the horizon, so the AE fills its slots in the first
    # days and holds them: exactly 5 deals open at the horizon, the rest waiting for a slot.
    sc = make(horizon_months=2,
              qualification={"work_hours": 0.0, "p_qualify": 1.0},
              opportunities={"stages": [{"name": "long", "duration_days": 1000, "advance": 1.0}],
                             "deal": {"value": 100}},
              roles={"sdr": {"fte": 1}, "ae": {"fte": 1, "max_open_opportunities": 25,
                                                "account_care_share": 0.8}})
    r = sim.simulate(sc, seed=seed)
    leads, m = r.leads, r.metrics
    open_ = leads[leads["state"] == "open_opportunity"]
    assert len(open_) == 5
    assert (leads["state"] == "waiting_for_ae").sum() > 0  # the slots bind
    assert m["opportunities"] == 5
    # Utilisation: slot-days used over 5 slots for the whole horizon (4 slots would give more than 1).
    horizon = sc.horizon_days
    used = float(np.sum(horizon - open_["opportunity_day"].to_numpy()))
    assert m["ae_slot_utilisation"] == pytest.approx(used / (5 * horizon), rel=1e-9)
    assert 0.9 < m["ae_slot_utilisation"] <= 1.0
