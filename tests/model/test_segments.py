"""Lead segments and stage settings by channel or segment (docs/model.md, Segments).

The truths are independent of the model's code: the segments' shares, the Beta means of
their intents, the product of the stages' chances at a segment's intent (Beta moments),
and fixed durations; tolerances are four standard errors of the Monte Carlo.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from builders import edited
from paths import TEACHING

import sim
from sim.scenario.messages import ScenarioError

# Every MQL is worked at once and qualifies; durations 0: every opportunity closes when it opens.
OPEN_FUNNEL = dict(
    horizon_months=6,
    channels={"ads": {"leads": 1500, "intent": {"a": 2, "b": 3}}},
    scoring={"score_noise": 0.0, "mql_threshold": -1.0},
    qualification={"work_hours": 0.01, "p_qualify": 1.0},
    roles={"ae": {"fte": 4, "hours_per_day": 24, "max_open_opportunities": 1000}},
)


def _scenario(segments=None, stages=None, channels=None):
    data = edited(**OPEN_FUNNEL, roles__sdr=None)
    data["roles"] = OPEN_FUNNEL["roles"]
    if channels is not None:
        data["channels"] = channels
    if segments is not None:
        data["channels"]["ads"]["segments"] = segments
    data["opportunities"]["stages"] = stages or [
        {"name": "demo", "advance": {"low": 0.3, "high": 0.9}},
        {"name": "close", "advance": {"low": 0.2, "high": 0.7}}]
    return sim.parse_scenario(data)


def _beta_moments(a, b):
    return a / (a + b), a * (a + 1) / ((a + b) * (a + b + 1))


def _two_stage_win(stages, win, a, b):
    """E[p_demo(I) * p_close(I)] for I ~ Beta(a, b), both chances linear in I."""
    (l1, h1), (l2, h2) = stages[0], win if win is not None else stages[1]
    m1, m2 = _beta_moments(a, b)
    d1, d2 = h1 - l1, h2 - l2
    return l1 * l2 + (l1 * d2 + l2 * d1) * m1 + d1 * d2 * m2


SEGMENTS = {"smb": {"share": 0.7, "intent": {"a": 4, "b": 2}},
            "enterprise": {"share": 0.3, "intent": {"a": 1, "b": 4}, "win": {"low": 0.05, "high": 0.4}}}


@pytest.fixture(scope="module")
def segmented():
    sc = _scenario(SEGMENTS)
    return sc, sim.simulate(sc, seed=3).leads


def test_segment_shares_are_recovered(segmented):
    _, leads = segmented
    n = len(leads)
    observed = leads["segment"].value_counts()
    chi2 = sum((observed[name] - n * s["share"]) ** 2 / (n * s["share"]) for name, s in SEGMENTS.items())
    assert chi2 < 13.8  # chi-square, 1 degree of freedom, p = 0.0002


def test_each_segment_has_its_own_intent(segmented):
    _, leads = segmented
    for name, seg in SEGMENTS.items():
        intent = leads.loc[leads["segment"] == name, "intent"].to_numpy()
        a, b = seg["intent"]["a"], seg["intent"]["b"]
        sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        assert abs(intent.mean() - a / (a + b)) < 4 * sd / math.sqrt(len(intent)), name


def test_per_segment_win_rate_is_the_product_of_its_stage_chances(segmented):
    _, leads = segmented
    stages = [(0.3, 0.9), (0.2, 0.7)]
    closed = leads[leads["state"].isin(["won", "lost_pipeline"])]
    for name, seg in SEGMENTS.items():
        rows = closed[closed["segment"] == name]
        win = seg.get("win")
        p = _two_stage_win(stages, (win["low"], win["high"]) if win else None, seg["intent"]["a"], seg["intent"]["b"])
        rate = (rows["state"] == "won").mean()
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / len(rows)), (name, rate, p)


def test_by_channel_overrides_the_stage_and_the_segment_overrides_the_channel():
    channels = {"ads": {"leads": 300, "intent": {"a": 2, "b": 3}},
                "events": {"leads": 300, "intent": {"a": 2, "b": 3}}}
    segments = {"x": {"share": 0.5, "stages": {"close": {"duration_days": 9}}}, "y": {"share": 0.5}}
    stages = [{"name": "close", "duration_days": 2, "advance": 1.0,
               "by_channel": {"ads": {"duration_days": 5}, "events": {"advance": 0.25}}}]
    sc = _scenario(segments, stages, channels)
    leads = sim.simulate(sc, seed=1).leads
    won = leads[leads["state"] == "won"]
    took = won["close_day"] - won["opportunity_day"]
    for (channel, segment), days in {("ads", "x"): 9, ("ads", "y"): 5, ("events", "events"): 2}.items():
        rows = (won["channel"] == channel) & (won["segment"] == segment)
        assert rows.sum() > 50
        np.testing.assert_allclose(took[rows], days, rtol=1e-12)
    events = leads[(leads["channel"] == "events") & leads["state"].isin(["won", "lost_pipeline"])]
    rate = (events["state"] == "won").mean()
    assert abs(rate - 0.25) < 4 * math.sqrt(0.25 * 0.75 / len(events))
    ads = leads[(leads["channel"] == "ads") & leads["state"].isin(["won", "lost_pipeline"])]
    assert (ads["state"] == "won").all()  # the channel's advance is the stage's: 1


def _equal_metrics(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], float) and math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert a[k] == b[k], k


def test_one_segment_like_the_channel_gives_the_same_numbers_bit_for_bit():
    data = yaml.safe_load(TEACHING.read_text())
    plain = sim.parse_scenario(data)
    ads = data["channels"]["ads"]
    stage = data["opportunities"]["stages"][0]
    ads["segments"] = {"everyone": {"share": 1.0, "intent": dict(ads["intent"]),
                                    "stages": {"close": {"advance": dict(stage["advance"])}}}}
    stage["by_channel"] = {"ads": {"duration_days": dict(stage["duration_days"])}}
    one = sim.parse_scenario(data)
    for seed in (0, 7):
        a, b = sim.simulate(plain, seed=seed), sim.simulate(one, seed=seed)
        _equal_metrics(a.metrics, b.metrics)
        pd.testing.assert_frame_equal(a.monthly, b.monthly)
        assert (b.leads["segment"].astype(str) == "everyone").all()
        assert (a.leads["segment"].astype(str) == "ads").all()  # no segments: the channel's name
        pd.testing.assert_frame_equal(a.leads.drop(columns="segment"), b.leads.drop(columns="segment"))


def test_changing_the_shares_leaves_arrivals_and_other_draws_unchanged():
    a = sim.simulate(_scenario(SEGMENTS), seed=5).leads
    shares = {"smb": {**SEGMENTS["smb"], "share": 0.4}, "enterprise": {**SEGMENTS["enterprise"], "share": 0.6}}
    b = sim.simulate(_scenario(shares), seed=5).leads
    np.testing.assert_array_equal(a["arrival_day"], b["arrival_day"])
    same = (a["segment"] == b["segment"]).to_numpy()
    assert 0 < same.sum() < len(a)
    np.testing.assert_array_equal(a["intent"][same], b["intent"][same])  # each lead's intent is its segment's draw


def test_segment_problems_are_one_line_each():
    data = edited(**OPEN_FUNNEL, roles__sdr=None)
    data["channels"]["ads"]["segments"] = {
        "a": {"share": 0.5, "stages": {"nope": {"advance": 0.2}}},
        "b/c": {"share": 0.2, "win": 0.3, "stages": {"close": {"advance": 0.1}}}}
    data["opportunities"]["stages"][0]["by_channel"] = {"radio": {"advance": 0.1}}
    with pytest.raises(ScenarioError) as err:
        sim.parse_scenario(data)
    fields = [field for field, _ in err.value.problems]
    assert fields == ["opportunities.stages[0].by_channel.radio", "channels.ads.segments",
                      "channels.ads.segments.a.stages.nope", "channels.ads.segments.b/c",
                      "channels.ads.segments.b/c.win"]
    text = str(err.value)
    assert "sum to 0.7" in text and "no such stage (defined: close)" in text and "no such channel" in text


def test_the_fast_approximation_refuses_segments_and_stages_by_channel():
    sc = _scenario(SEGMENTS, [{"name": "close", "by_channel": {"ads": {"advance": 0.3}}}])
    with pytest.raises(ScenarioError) as err:
        sim.approximate(sc)
    assert [f for f, _ in err.value.problems] == ["channels.ads.segments", "opportunities.stages[0].by_channel"]


def test_the_crm_export_carries_each_leads_segment():
    data = edited(**OPEN_FUNNEL, roles__sdr=None)
    data["roles"] = OPEN_FUNNEL["roles"]
    data["channels"]["ads"]["segments"] = SEGMENTS
    data["start_date"] = "2025-01-01"
    sc = sim.parse_scenario(data)
    export = sim.crm_export(sc, seed=2)
    leads = sim.simulate(sc, seed=2).leads
    np.testing.assert_array_equal(export.leads["segment"].astype(str),
                                  leads["segment"].astype(str).to_numpy()[export.leads["lead_id"]])


def test_the_segment_streams_are_the_names_the_scenario_check_knows(monkeypatch):
    from sim.model.streams import Streams
    from sim.scenario.checks import stream_names

    sc = _scenario(SEGMENTS)
    asked = []
    real_call = Streams.__call__
    monkeypatch.setattr(Streams, "__call__", lambda self, name: asked.append(name) or real_call(self, name))
    sim.simulate(sc, seed=1, lead_records=False)
    assert sorted(asked) == sorted(stream_names(sc))
    assert {"segments/ads", "segments/ads/smb", "segments/ads/enterprise"} <= set(asked)
