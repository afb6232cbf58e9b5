"""``measure(record)`` is a pure function of the record: the same numbers every call, and no random draws."""

from __future__ import annotations

import contextlib
import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from builders import assert_same_metrics, make

import sim.model.streams
from sim.model.measures import lead_table, measure
from sim.model.simulation import replicate, run, simulate

# Most parts of the measures at once: nurture and recycling, a budget, leavers, two stages with
# slot decay, subscriptions on an installed base with drawn MRR, commissions and bonuses.
RICH = dict(
    horizon_months=4,
    scoring={"score_noise": 0.1, "mql_threshold": 0.4},
    nurture={"touch_interval_days": 7, "touch_points": 0.05, "dropout": 0.1, "max_days": 60, "max_recycles": 1,
             "cost_per_lead_month": 2.0},
    qualification={"work_hours": {"dist": "lognormal", "mean": 1.0, "cv": 0.5}, "p_qualify": {"low": 0.2, "high": 0.8},
                   "max_wait_days": 1.0, "decay": {"half_life_hours": 6}},
    opportunities={"stages": [{"name": "a", "duration_days": {"dist": "gamma", "mean": 8, "cv": 0.5}, "advance": 0.6},
                              {"name": "b", "duration_days": 12, "advance": {"low": 0.3, "high": 0.9}}],
                   "slot_decay": {"half_life_hours": 48}, "deal": {"kind": "subscription", "value": {
                       "dist": "empirical", "values": [300, 100, 200]}}},
    roles={"sdr": {"fte": 1, "cost_per_fte_year": 60000, "attrition_year": 2.0, "bonus_per_sql": 10},
           "ae": {"fte": 2, "cost_per_fte_year": 120000, "attrition_year": 2.0, "max_open_opportunities": 8,
                  "commission_rate": 0.1, "ramp_months": 1}},
    customers={"installed_base": 30, "installed_mrr": {"dist": "lognormal", "mean": 200, "cv": 0.5},
               "churn_month": 0.05, "expansion_month": 0.01},
    budget={"total": 2_000_000},
)




def _snapshot(record):
    """A deep copy of every array and number in the record, to check that measuring changed nothing."""
    return copy.deepcopy({f.name: getattr(record, f.name) for f in dataclasses.fields(record)
                          if f.name not in ("scenario", "plan")})


def _assert_unchanged(before, record):
    for name, old in before.items():
        new = getattr(record, name)
        if isinstance(old, np.ndarray):
            assert np.array_equal(old, new, equal_nan=True), name
        elif dataclasses.is_dataclass(old):
            for f in dataclasses.fields(old):
                x, y = getattr(old, f.name), getattr(new, f.name)
                if isinstance(x, np.ndarray):
                    assert np.array_equal(x, y, equal_nan=True), (name, f.name)
                else:
                    assert x == y, (name, f.name)
        elif name == "mql_u":
            for c in range(len(old._columns)):
                x, y = old._columns[c], new._columns[c]
                assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), (name, c)
        elif name == "cols":
            assert vars(old) == vars(new)
        elif name == "nurture":
            assert np.array_equal(old.months(), new.months())
        elif name == "seats":
            assert {r: [(s.index, s.tenures) for s in seats] for r, seats in old.items()} == \
                   {r: [(s.index, s.tenures) for s in seats] for r, seats in new.items()}
        else:
            assert old == new, name


@contextlib.contextmanager
def no_random_numbers(monkeypatch):
    """While it lasts, every way to a new generator raises, and numpy's global generator must not move."""

    def refuse(*args, **kwargs):
        raise AssertionError("measuring drew a random number")

    with monkeypatch.context() as guard:
        guard.setattr(sim.model.streams.Streams, "__init__", refuse)
        guard.setattr(sim.model.streams.Streams, "__call__", refuse)
        for name in ("default_rng", "Generator", "RandomState", "SeedSequence", "PCG64", "MT19937", "Philox",
                     "SFC64"):
            guard.setattr(np.random, name, refuse)
        state = np.random.get_state()
        yield
        after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(state, after, strict=True)), "the global generator moved"


def test_the_guard_catches_a_draw(monkeypatch):
    # The guard itself can fail: a stream, a generator made any other way, or a draw from the global one.
    with no_random_numbers(monkeypatch), pytest.raises(AssertionError, match="random number"):
        sim.model.streams.Streams(0)
    with no_random_numbers(monkeypatch), pytest.raises(AssertionError, match="random number"):
        np.random.default_rng(0)
    with no_random_numbers(monkeypatch), pytest.raises(AssertionError, match="random number"):
        run(make(horizon_months=1), 0)
    with pytest.raises(AssertionError, match="global generator moved"), no_random_numbers(monkeypatch):
        np.random.random()


@pytest.mark.parametrize("seed", [0, 3])
def test_measuring_twice_gives_identical_results_and_draws_nothing(seed, monkeypatch):
    sc = make(**RICH)
    record = run(sc, seed, lead_detail=True)
    before = _snapshot(record)
    reference = simulate(sc, seed)  # measured from a second, independent run of the same seed
    with no_random_numbers(monkeypatch):
        first, first_monthly = measure(record)
        second, second_monthly = measure(record)
        table = lead_table(record)
    assert_same_metrics(first, second)
    pd.testing.assert_frame_equal(first_monthly, second_monthly, check_exact=True)
    _assert_unchanged(before, record)
    # The same as simulate() of the same seed, which ran the model again.
    assert_same_metrics(first, reference.metrics)
    pd.testing.assert_frame_equal(first_monthly, reference.monthly, check_exact=True)
    pd.testing.assert_frame_equal(table, reference.leads, check_exact=True)
    # The run was rich enough to matter.
    assert first["wins"] > 0 and first["cold_events"] > 0 and first["budget_vacancies"] > 0


def test_replicate_is_measure_of_run():
    sc = make(**RICH)
    metrics, monthly = replicate(sc, 7)
    again, again_monthly = measure(run(sc, 7))
    assert_same_metrics(metrics, again)
    pd.testing.assert_frame_equal(monthly, again_monthly, check_exact=True)
