"""The age effect: a lead's age when an AE first works it lowers its win chance and stretches its stages.

Truths: the decay ``(1 + age/half_life) ** -shape`` at each lead's own age (from its lead
record: opportunity_day - arrival_day), binned, within binomial error; durations fixed,
so the stretch ``1 + k * age`` is exact; and common random numbers: a lead's win is
decided by its own uniform, so with the effect the wins are a subset of those without.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import edited

import sim
from sim.scenario.messages import ScenarioError

P = 0.6
# An AE short of time: the queue grows and leads reach sales older and older; stages close at once.
BACKLOG = dict(
    horizon_months=6,
    channels={"ads": {"leads": 800, "intent": {"a": 2, "b": 3}}},
    scoring={"score_noise": 0.0, "mql_threshold": -1.0},
    qualification={"work_hours": 0.5, "p_qualify": 1.0},
    opportunities={"stages": [{"name": "close", "advance": P}], "deal": {"kind": "one_off", "value": 1000}},
)


def _scenario(age_effect=None, **changes):
    data = edited(**BACKLOG, roles__sdr=None, **changes)
    data["roles"] = {"ae": {"fte": 3, "hours_per_day": 2, "max_open_opportunities": 1000}}
    if age_effect is not None:
        data["opportunities"]["age_effect"] = age_effect
    return sim.parse_scenario(data)


def _decay(age, half_life, shape):
    return (1 + age / half_life) ** -shape


@pytest.mark.parametrize("shape", [1.0, 2.0])
def test_the_win_rate_of_leads_of_each_age_is_the_chance_times_the_decay(shape):
    H = 20.0
    leads = sim.simulate(_scenario({"half_life_days": H, "shape": shape}), seed=4).leads
    closed = leads[leads["state"].isin(["won", "lost_pipeline"])]
    age = closed["opportunity_age_days"].to_numpy()
    won = (closed["state"] == "won").to_numpy()
    assert age.max() > 3 * H  # the backlog reaches old ages
    edges = np.quantile(age, np.linspace(0, 1, 7))
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        rows = (age >= lo) & (age <= hi)
        p = P * _decay(age[rows], H, shape)
        assert abs(won[rows].sum() - p.sum()) < 4 * math.sqrt((p * (1 - p)).sum()), (lo, hi)


def test_with_the_effect_the_wins_are_a_subset_of_those_without():
    without = sim.simulate(_scenario(), seed=9).leads
    with_ = sim.simulate(_scenario({"half_life_days": 15}), seed=9).leads
    np.testing.assert_array_equal(without["opportunity_day"], with_["opportunity_day"])
    won_without, won_with = (without["state"] == "won").to_numpy(), (with_["state"] == "won").to_numpy()
    assert not (won_with & ~won_without).any()
    assert won_with.sum() < won_without.sum()


def test_durations_stretch_with_age():
    k = 0.1
    sc = _scenario({"duration_per_age_day": k},
                   opportunities__stages=[{"name": "demo", "duration_days": 4, "advance": 1.0},
                                          {"name": "close", "duration_days": 6, "advance": 1.0}])
    leads = sim.simulate(sc, seed=2).leads
    won = leads[leads["state"] == "won"]
    assert len(won) > 100
    age = won["opportunity_age_days"].to_numpy()
    np.testing.assert_allclose(won["close_day"] - won["opportunity_day"], 10 * (1 + k * age), rtol=1e-9)
    assert (leads["opportunity_age_days"].dropna() >= 0).all()


def test_no_effect_is_the_same_as_none_written():
    plain = sim.simulate(_scenario(), seed=1)
    idle = sim.simulate(_scenario({"duration_per_age_day": 0.0}), seed=1)
    assert plain.metrics.keys() == idle.metrics.keys()
    for k, v in plain.metrics.items():
        assert v == idle.metrics[k] or (isinstance(v, float) and math.isnan(v) and math.isnan(idle.metrics[k])), k


def test_the_fast_approximation_refuses_the_age_effect():
    with pytest.raises(ScenarioError) as err:
        sim.approximate(_scenario({"half_life_days": 10}))
    assert [f for f, _ in err.value.problems] == ["opportunities.age_effect"]


def test_a_wrong_age_effect_is_one_line_per_field():
    with pytest.raises(ScenarioError) as err:
        _scenario({"half_life_days": -1, "duration_per_age_day": "fast"})
    fields = sorted(f for f, _ in err.value.problems)
    assert fields == ["opportunities.age_effect.duration_per_age_day", "opportunities.age_effect.half_life_days"]
