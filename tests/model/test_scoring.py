"""Lead scoring by activity points (docs/model.md, section 2) against a direct computation.

The reference is written out here, independently of the model: after ``k`` touches a
lead with intent ``x`` has done activity ``a`` ``N_a ~ Binomial(k + 1, chance_a(x))``
times, independently, so its points are ``sum_a points_a * N_a``; enumerating the
counts (with exact fractions for the totals) gives the distribution of the points,
the chance to be short of ``mql_points`` after each touch, and so the touch at which
a lead becomes an MQL. The model carries the points touch by touch (the DES) or as a
convolution (the fast approximation); neither enumerates counts.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from builders import make
from hypothesis import given, settings
from hypothesis import strategies as st
from paths import SCENARIOS
from scipy import special, stats

import sim
from sim.model.fluid_leads import activity_short
from sim.model.leads import Columns
from sim.model.nurture import activity_points, score_and_hand_over
from sim.scenario.schema import Scoring

TEACHING_SCORING = SCENARIOS / "teaching_scoring.yaml"
TEACHING_ACTIVITIES = {"whitepaper_download": {"points": 20, "chance": {"low": 0.05, "high": 0.6}},
                       "webinar": {"points": 30, "chance": {"low": 0.02, "high": 0.4}},
                       "pricing_page_visit": {"points": 40, "chance": {"low": 0.01, "high": 0.5}}}
# Points that floating point cannot add exactly: 0.7 + 0.1 + 0.1 + 0.1 is 0.9999999999999999 and reaches 1.
DECIMAL_ACTIVITIES = {"open": {"points": 0.1, "chance": {"low": 0.2, "high": 0.9}},
                      "click": {"points": 0.2, "chance": {"low": 0.1, "high": 0.6}},
                      "demo_request": {"points": 0.7, "chance": {"low": 0.0, "high": 0.3}}}
CASES = [(TEACHING_ACTIVITIES, 100), (DECIMAL_ACTIVITIES, 1)]


def _scoring(activities, mql_points) -> Scoring:
    return Scoring(mode="activities", mql_points=mql_points, activities=activities)


def _exact_totals(scoring: Scoring, touches: int, x) -> tuple[list[Fraction], np.ndarray]:
    """Every total the points can take after ``touches`` touches (0, 1, ...), and its chance at each intent in ``x``.

    Returns ``(totals, chances)``, chances ``(len(totals), len(x))``.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    n = touches + 1  # touch 0 is the arrival
    acts = list(scoring.activities.values())
    pmf = [stats.binom.pmf(np.arange(n + 1)[:, None], n, a.chance.low + (a.chance.high - a.chance.low) * x)
           for a in acts]
    by_total: dict[Fraction, np.ndarray] = {}
    for counts in itertools.product(range(n + 1), repeat=len(acts)):
        total = sum((Fraction(str(a.points)) * c for a, c in zip(acts, counts, strict=True)), Fraction(0))
        chance = np.prod([pmf[k][c] for k, c in enumerate(counts)], axis=0)
        by_total[total] = by_total.get(total, 0.0) + chance
    totals = sorted(by_total)
    return totals, np.array([by_total[t] for t in totals])


def _exact_short(scoring: Scoring, touches: int, x) -> np.ndarray:
    """P(points after touch j below mql_points) for j = 0..touches at each intent in ``x``."""
    m = Fraction(str(scoring.mql_points))
    rows = []
    for k in range(touches + 1):
        totals, chances = _exact_totals(scoring, k, x)
        rows.append(sum((c for t, c in zip(totals, chances, strict=True) if t < m), np.zeros(chances.shape[1])))
    return np.array(rows)


def _chi_square_p(observed: np.ndarray, expected: np.ndarray) -> float:
    """The chi-square test's p-value, the cells expected below 5 pooled into one."""
    small = expected < 5
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


# -- the points, touch by touch -------------------------------------------------------------------


@pytest.mark.parametrize(("activities", "mql_points"), CASES, ids=["whole", "decimal"])
def test_points_after_k_touches_have_the_exact_distribution(activities, mql_points):
    scoring = _scoring(activities, mql_points)
    n, intent, touches = 40_000, 0.35, 5
    u = np.random.default_rng(11).random(n)  # each lead's own uniform, as the model's rows hold them
    points = activity_points(np.full(n, intent), u, scoring, touches)
    assert points.shape == (n, touches + 1)
    for k in (0, 2, touches):
        totals, chances = _exact_totals(scoring, k, intent)
        where = {round(float(t), 9): i for i, t in enumerate(totals)}
        index = np.array([where.get(round(float(p), 9), -1) for p in points[:, k]])
        assert (index >= 0).all(), "a total the activities cannot add up to"
        observed = np.bincount(index, minlength=len(totals))
        assert _chi_square_p(observed, chances[:, 0] * n) > 1e-4, k


def test_the_fast_approximation_is_the_exact_distribution():
    x = np.array([0.0, 0.13, 0.5, 0.87, 1.0])
    for activities, mql_points in [*CASES, (TEACHING_ACTIVITIES, 0), (TEACHING_ACTIVITIES, 50.0001)]:
        scoring = _scoring(activities, mql_points)
        np.testing.assert_allclose(activity_short(scoring, x, 4), _exact_short(scoring, 4, x), rtol=0, atol=1e-12)


def test_the_fast_approximation_refuses_more_totals_than_it_follows():
    # Sixteen activities of unrelated points: the totals below mql_points are all different, tens of thousands.
    activities = {f"a{k}": {"points": 1 + math.sqrt(k + 2) % 1, "chance": 0.5} for k in range(16)}
    sc = make(scoring={"mode": "activities", "mql_points": 1000, "activities": activities})
    with pytest.raises(sim.ScenarioError) as info:
        sim.approximate(sc)
    ((field, message),) = info.value.problems
    assert field == "scoring.activities" and "at most 20,000 distinct point totals" in message


# -- the hand-over: lead by lead, touch by touch ---------------------------------------------------


def _walk(points: np.ndarray, arrival: float, u_dropout: float, sc) -> tuple[float, int, float]:
    """One lead touch by touch: ``(mql_time, mql_touch, score)`` (an MQL time past the horizon is inf)."""
    nur, m, horizon = sc.nurture, sc.scoring.mql_points, sc.horizon_days
    reaches = lambda p: p >= m - 1e-12 * max(1.0, m)  # noqa: E731  (round-off forgiven, docs/model.md 2)
    if reaches(points[0]):
        return (arrival if arrival < horizon else math.inf), 0, points[0]
    d = nur.dropout
    ratio = math.log1p(-u_dropout) / math.log1p(-d) if 0 < d < 1 else math.inf
    drop_at = 1 if d >= 1 else (math.floor(ratio) + 1 if ratio < 1e15 else math.inf)
    last = 0
    for j in range(1, len(points)):
        t = arrival + j * nur.touch_interval_days
        if t > horizon or j == drop_at:
            break
        last = j
        if reaches(points[j]):
            return (t if t < horizon else math.inf), j, points[j]
    return math.inf, -1, points[last]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 60), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=3),
       st.floats(0, 150), st.floats(0, 0.5), st.floats(1, 30), st.floats(1, 120), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
def test_points_never_fall_and_a_lead_is_an_mql_at_its_first_crossing(acts, mql_points, dropout, interval, max_days,
                                                                      months, seed):
    activities = {f"a{k}": {"points": p, "chance": {"low": lo, "high": hi}} for k, (p, lo, hi) in enumerate(acts)}
    sc = make(horizon_months=months, scoring={"mode": "activities", "mql_points": mql_points, "activities": activities},
              nurture={"touch_interval_days": interval, "dropout": dropout, "max_days": max_days})
    cols = Columns.of(sc)
    rng = np.random.default_rng(seed)
    n = 30
    intent, arrival, u = rng.random(n), np.sort(rng.random(n)) * sc.horizon_days, rng.random((n, cols.count))
    handover = score_and_hand_over(intent, arrival, u, cols, sc)
    touches = int(math.floor(max_days / interval + 1e-12))
    points = activity_points(intent, u[:, cols.activities], sc.scoring, touches)
    assert (np.diff(points, axis=1) >= 0).all()  # points never fall
    for i in range(n):
        mql_time, touch, score = _walk(points[i], arrival[i], u[i, cols.NURTURE], sc)
        assert handover.mql_time[i] == mql_time, i
        assert handover.score[i] == score, i  # the same additions in the same order: equal to the last bit
        if math.isfinite(mql_time):
            assert handover.mql_touch[i] == touch, i


def test_a_higher_threshold_sees_the_same_leads_with_the_same_draws():
    sc = sim.load_scenario(TEACHING_SCORING).replace(horizon_months=4)
    low = sim.simulate(sc, seed=5).leads
    high = sim.simulate(sc.replace({"scoring.mql_points": 130}), seed=5).leads
    for column in ("arrival_day", "intent"):
        assert low[column].equals(high[column])
    # Points stop at the crossing: a lower threshold stops them sooner, never later.
    assert (low["score"] <= high["score"]).all() and (low["score"] < high["score"]).any()
    mql_low, mql_high = low["mql_day"].to_numpy(), high["mql_day"].to_numpy()
    assert (np.isfinite(mql_low) | ~np.isfinite(mql_high)).all()  # an MQL at 130 points is one at 100
    both = np.isfinite(mql_high)
    assert both.any() and (mql_low[both] <= mql_high[both]).all()


# -- a whole replication against the exact chances --------------------------------------------------


def test_mql_share_and_mql_touch_in_a_model_run_are_the_exact_ones():
    interval, touches, stay = 7.0, 6, 0.85
    a, b = 2.0, 3.0
    sc = make(horizon_months=6, channels={"inbound": {"baseline_leads": 1500, "intent": {"a": a, "b": b}}},
              scoring={"mode": "activities", "mql_points": 60, "activities": TEACHING_ACTIVITIES},
              nurture={"touch_interval_days": interval, "dropout": 1 - stay, "max_days": touches * interval},
              qualification={"work_hours": 0.01, "p_qualify": 0.0})
    result = sim.simulate(sc, seed=2)
    leads = result.leads
    # Only leads whose every touch lies within the horizon show where nurture takes them.
    seen = leads[leads["arrival_day"] + touches * interval < sc.horizon_days]
    delay = (seen["mql_day"] - seen["arrival_day"]).to_numpy() / interval
    touch = np.where(np.isfinite(delay), np.round(delay), touches + 1).astype(int)  # touches + 1: never an MQL
    assert np.allclose(delay[np.isfinite(delay)], touch[np.isfinite(delay)])
    observed = np.bincount(touch, minlength=touches + 2)

    # The exact chances: the short-of-the-threshold probabilities integrated over the Beta intent
    # (a polynomial times the Beta density: Gauss-Legendre with 60 nodes is exact).
    nodes, weights = special.roots_legendre(60)
    x, w = (nodes + 1) / 2, weights / 2 * stats.beta.pdf((nodes + 1) / 2, a, b)
    short = _exact_short(sc.scoring, touches, x)
    at = np.empty(touches + 2)
    at[0] = w @ (1 - short[0])
    at[1:touches + 1] = [w @ ((short[j - 1] - short[j]) * stay**j) for j in range(1, touches + 1)]
    at[-1] = 1 - at[:-1].sum()
    assert len(seen) > 4000
    assert _chi_square_p(observed, at * len(seen)) > 1e-4, (observed, at * len(seen))
    # And the measure counts the MQLs that came through nurture, lead by lead.
    from_nurture = ((leads["mql_day"] > leads["arrival_day"]) & np.isfinite(leads["mql_day"])).sum()
    assert result.metrics["mqls_from_nurture"] == from_nurture


def test_the_fast_approximation_agrees_with_the_simulation():
    sc = sim.load_scenario(TEACHING_SCORING)
    runs = [sim.simulate(sc, seed=seed, lead_records=False).metrics for seed in range(6)]
    fast = sim.approximate(sc)
    t = special.stdtrit(len(runs) - 1, 0.999)
    for key in ("leads", "mqls", "mqls_from_nurture"):
        values = np.array([r[key] for r in runs], dtype=float)
        se = values.std(ddof=1) / math.sqrt(len(values))
        # 1% for the bins' midpoints (intent within a bin is not its midpoint) besides the Monte Carlo error.
        assert abs(fast[key] - values.mean()) <= t * se + 0.01 * values.mean(), (key, fast[key], values.mean(), se)


def test_without_nurture_only_the_arrival_touch_counts():
    sc = make(horizon_months=3, channels={"inbound": {"baseline_leads": 3000, "intent": {"a": 2, "b": 2}}},
              scoring={"mode": "activities", "mql_points": 50, "activities": TEACHING_ACTIVITIES},
              qualification={"work_hours": 0.01, "p_qualify": 0.0})
    r = sim.simulate(sc, seed=4)
    leads = r.leads
    mql = np.isfinite(leads["mql_day"].to_numpy())
    assert (leads.loc[mql, "mql_day"] == leads.loc[mql, "arrival_day"]).all()
    assert (leads.loc[~mql, "state"] == "not_mql").all() and r.metrics["mqls_from_nurture"] == 0
    # Exactly: P(points at arrival >= 50), integrated over Beta(2, 2).
    nodes, weights = special.roots_legendre(40)
    x = (nodes + 1) / 2
    p = (weights / 2 * stats.beta.pdf(x, 2, 2)) @ (1 - _exact_short(sc.scoring, 0, x)[0])
    n = len(leads)
    assert abs(mql.mean() - p) <= 4 * math.sqrt(p * (1 - p) / n)
    assert abs(sim.approximate(sc)["mqls"] / (3000 * 3) - p) <= 0.01 * p  # the expected share, within its bins


def test_every_lead_is_accounted_for_and_its_points_agree_with_where_it_ended():
    sc = sim.load_scenario(TEACHING_SCORING).replace({"horizon_months": 6, "qualification.discipline": "score",
                                                      "nurture.cost_per_lead_month": 2.0})
    r = sim.simulate(sc, seed=3)
    leads, m = r.leads, r.metrics
    acc = m["lead_accounting"]
    assert acc["arrived"] == len(leads) == sum(v for k, v in acc.items() if k != "arrived")
    mql = np.isfinite(leads["mql_day"].to_numpy())
    assert m["mqls"] == mql.sum() > 0
    assert (leads.loc[mql, "score"] >= 100).all()  # an MQL's points reached mql_points
    never = leads["state"].isin(["nurture_dropped", "nurture_expired"])
    assert never.any() and (leads.loc[never, "score"] < 100).all()
    assert acc["not_mql"] == 0  # with nurture, a lead below the threshold is nurtured
    assert m["cost.nurture"] > 0
