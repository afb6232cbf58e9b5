"""Leads that go cold: ``losses.cold_leads`` (leads that ended lost cold) and ``cold_events`` (times a lead went cold).

Every cold event either sends the lead back through nurture (one more recycle on its
record) or, once its recycles are used up or without nurture, loses it. So
``cold_events == cold_leads + recycles`` exactly, counted lead by lead from the record.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make

from sim.model import states as S
from sim.model.measures import measure
from sim.model.simulation import run, simulate
from sim.scenario.units import DAYS_PER_MONTH

# One SDR working one hour a day on two-hour MQLs, with hundreds of MQLs a month, and a lead
# uncontacted for half a day goes cold: nearly every MQL goes cold (a Poisson count of hundreds
# makes "none" practically impossible). Nurture never drops a lead (dropout 0), so the first time
# a lead goes cold it is sent back, never lost: then cold_events > cold_leads as soon as any lead
# went cold, by construction.
OVERLOADED = dict(
    horizon_months=2,
    qualification={"work_hours": 2.0, "p_qualify": 0.5, "max_wait_days": 0.5},
    roles={"sdr": {"fte": 1, "hours_per_day": 1.0}, "ae": {"fte": 2}},
)
RECYCLING = {"touch_interval_days": 3.0, "touch_points": 0.0, "dropout": 0.0, "max_days": 60.0, "max_recycles": 2}


def _run(sc, seed):
    record = run(sc, seed, lead_detail=True)
    metrics, monthly = measure(record)
    return record, metrics, monthly


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cold_events_count_every_time_a_lead_went_cold_and_cold_leads_those_lost(seed):
    sc = make(**OVERLOADED, nurture=RECYCLING)
    record, m, monthly = _run(sc, seed)
    cold_leads, events = m["losses.cold_leads"], m["cold_events"]
    assert cold_leads == m["lead_accounting"]["lost_cold"]
    assert cold_leads == int((record.state == S.LOST_COLD).sum())  # lead by lead
    assert events == monthly["cold_events"].sum()
    assert events >= cold_leads
    recycles = int(record.book.recycles.sum())
    assert events == cold_leads + recycles
    assert recycles > 0 and events > cold_leads  # leads came back from nurture, and some went cold again
    # A lead lost cold with two recycles allowed went cold three times.
    lost = record.book.state == S.LOST_COLD
    assert np.all(record.book.recycles[lost] == RECYCLING["max_recycles"])
    assert cold_leads > 0
    # The old names are gone.
    assert "losses.cold_waiting" not in m and "lost_cold" not in monthly.columns


@pytest.mark.parametrize("seed", [0, 1])
def test_without_nurture_a_lead_goes_cold_once_and_is_lost(seed):
    sc = make(**OVERLOADED)
    record, m, monthly = _run(sc, seed)
    assert m["cold_events"] == m["losses.cold_leads"] == m["lead_accounting"]["lost_cold"] > 0
    assert monthly["cold_events"].sum() == m["cold_events"]
    assert record.book.recycles.sum() == 0


def test_no_recycles_allowed_is_like_no_nurture_for_cold_leads():
    sc = make(**OVERLOADED, nurture={**RECYCLING, "max_recycles": 0})
    m = simulate(sc, seed=4, lead_records=False).metrics
    assert m["cold_events"] == m["losses.cold_leads"] > 0


def test_cold_events_fall_in_the_months_they_happen():
    # Second method for the monthly column: the cold times the event loop recorded, by month.
    sc = make(**{**OVERLOADED, "horizon_months": 3}, nurture=RECYCLING)
    record, m, monthly = _run(sc, 5)
    times = record.counters.cold_times
    months = np.minimum((times / DAYS_PER_MONTH).astype(int), 2)
    assert np.array_equal(monthly["cold_events"].to_numpy(), np.bincount(months, minlength=3).astype(float))
    # Each went cold max_wait_days after it last joined the queue, within the horizon.
    assert np.all(times <= sc.horizon_days) and np.all(times >= 0.5)
