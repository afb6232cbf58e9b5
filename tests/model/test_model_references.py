"""The model against independent references (docs/model.md, section 10: what it is checked against)."""

import math

import numpy as np
import pytest
from builders import make
from scipy import integrate, stats

import sim
from sim.model.leads import channel_rate
from sim.scenario.units import DAYS_PER_MONTH

# Arrival tests count leads only: with a threshold no score reaches, no lead enters the event loop.
NO_MQLS = {"score_noise": 0.0, "mql_threshold": 2.0}


def erlang_c(c, lam, mu):
    """Probability of waiting and mean wait in an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait, p_wait / (c * mu - lam)


def mmc_scenario(discipline="fifo", c=3, rho=0.8):
    # Service: exponential work hours, one hour of work per hour of the day -> days.
    service_days = 0.1
    lam_per_day = rho * c / service_days
    return make(
        horizon_months=36,
        channels={"inbound": {"baseline_leads": lam_per_day * DAYS_PER_MONTH}},
        qualification={"discipline": discipline, "p_qualify": 0.0, "sla_hours": 1.0,
                       "work_hours": {"dist": "exponential", "mean": service_days * 24}},
        roles={"sdr": {"fte": c, "hours_per_day": 24}, "ae": {"fte": 1}},
    ), lam_per_day, 1 / service_days


@pytest.mark.parametrize("discipline", ["fifo", "lifo", "score", "sla"])
def test_sdr_queue_is_mmc_against_erlang_c(discipline):
    # Any work-conserving discipline that ignores service times has the same mean
    # wait and P(wait) as FIFO, so all three must match Erlang C.
    c = 3
    sc, lam, mu = mmc_scenario(discipline, c)
    p_wait_ref, wq_ref = erlang_c(c, lam, mu)
    waits, pw, lq, util = [], [], [], []
    for seed in range(6):
        r = sim.simulate(sc, seed=seed)
        w = r.leads["first_wait_hours"].dropna().to_numpy() / 24
        waits.append(w.mean())
        pw.append((w > 0).mean())
        lq.append(r.metrics["queue_mean_mqls"])
        util.append(r.metrics["qualifier_utilisation"])
    for values, ref in ((waits, wq_ref), (pw, p_wait_ref), (lq, lam * wq_ref), (util, lam / (c * mu))):
        values = np.asarray(values)
        se = values.std(ddof=1) / math.sqrt(len(values))
        # Starting empty biases the first days low; 4 SE plus 1% for that transient.
        assert abs(values.mean() - ref) <= 4 * se + 0.01 * ref, (values.mean(), ref, se)


def test_littles_law_holds_for_the_qualification_queue():
    # L (time-average queue length) = lambda * W over the run, with decay and reneging on.
    sc = make(horizon_months=6,
              qualification={"work_hours": {"dist": "exponential", "mean": 1.0}, "max_wait_days": 1.0,
                             "p_qualify": 0.3, "discipline": "lifo"},
              roles={"sdr": {"fte": 1, "hours_per_day": 8}, "ae": {"fte": 1}})
    r = sim.simulate(sc, seed=3)
    leads = r.leads
    horizon = sc.horizon_days
    queued = leads["mql_day"].dropna()
    # Each MQL waits until contact, until it goes cold (max_wait), or until the horizon.
    wait = leads["first_wait_hours"] / 24
    waited = np.where(wait.notna(), wait, np.minimum(1.0, horizon - leads["mql_day"]))
    waited = waited[leads["mql_day"].notna()]
    lam = len(queued) / horizon
    assert r.metrics["queue_mean_mqls"] == pytest.approx(lam * waited.mean(), rel=0.02)


def _beta_expectation(f, a, b, lo=0.0):
    return integrate.quad(lambda x: f(x) * stats.beta.pdf(x, a, b), lo, 1)[0]


def test_unlimited_capacity_matches_product_of_stage_probabilities():
    # No capacity limit, no delays: counts are Poisson with means given by the
    # spreadsheet funnel (expected stage probabilities over the Beta intent).
    a, b, thr = 2.0, 3.0, 0.3
    lam_month = 3000.0
    H = 6
    sc = make(
        horizon_months=H,
        channels={"c": {"baseline_leads": lam_month, "intent": {"a": a, "b": b}}},
        scoring={"mql_threshold": thr, "score_noise": 0.0},
        qualification={"work_hours": 0.0, "p_qualify": {"low": 0.2, "high": 0.8}},
        opportunities={"stages": [{"name": "s1", "duration_days": 0.0, "advance": {"low": 0.1, "high": 0.9}},
                                  {"name": "s2", "duration_days": 0.0, "advance": 0.6}],
                       "deal": {"value": 100}},
        roles={"sdr": {"fte": 1}, "ae": {"fte": 1, "max_open_opportunities": 10**6}},
    )
    n = lam_month * H
    pq = lambda x: 0.2 + 0.6 * x  # noqa: E731
    p1 = lambda x: 0.1 + 0.8 * x  # noqa: E731
    expected = {
        "mqls": n * _beta_expectation(lambda x: 1.0, a, b, thr),
        "sqls": n * _beta_expectation(pq, a, b, thr),
        "wins": n * _beta_expectation(lambda x: pq(x) * p1(x) * 0.6, a, b, thr),
    }
    totals = {k: 0 for k in expected}
    reps = 4
    for seed in range(reps):
        m = sim.simulate(sc, seed=seed, lead_records=False).metrics
        for k in totals:
            totals[k] += m[k]
        assert m["lead_accounting"]["in_flight"] == 0
    for k, mean in expected.items():
        # A thinned Poisson count is Poisson: sd = sqrt(mean).
        assert abs(totals[k] - reps * mean) <= 4.5 * math.sqrt(reps * mean), (k, totals[k], reps * mean)


def test_expected_leads_follow_response_curve_carryover_and_lag():
    ch = {"spend": [0, 0, 20000, 20000, 5000, 0], "history": [8000, 8000, 8000], "carryover": 0.6, "lag_months": 1,
          "response": {"curve": "exponential", "max_leads": 900, "spend_scale": 12000}, "baseline_leads": 50,
          "rate_cv": 0.0}
    sc = make(horizon_months=6, channels={"c": ch}, scoring=NO_MQLS)
    spend = np.array(ch["spend"], dtype=float)
    assert np.array_equal(sc.plan.monthly_spend("c"), spend)  # the plan spends the schedule as written
    # By hand: normalised adstock over history then spend, read one month later, through the curve.
    adstock, acc = [], 0.0
    for x in ch["history"] + ch["spend"]:
        acc = 0.6 * acc + 0.4 * x
        adstock.append(acc)
    effective = [adstock[len(ch["history"]) + t - 1] for t in range(6)]
    expected = np.array([900 * (1 - math.exp(-e / 12000)) + 50 for e in effective])
    np.testing.assert_allclose(channel_rate(sc.channels["c"], spend), expected, rtol=1e-12)
    monthly = np.zeros(6)
    reps = 5
    for seed in range(reps):
        monthly += sim.simulate(sc, seed=seed, lead_records=False).monthly["leads"].to_numpy()
    assert np.all(np.abs(monthly - reps * expected) <= 4.5 * np.sqrt(reps * expected))


def test_overdispersion_widens_monthly_counts_but_keeps_the_mean():
    ch = {"baseline_leads": 500.0, "rate_cv": 0.5}
    sc = make(horizon_months=12, channels={"c": ch}, scoring=NO_MQLS)
    counts = np.concatenate([sim.simulate(sc, seed=s, lead_records=False).monthly["leads"].to_numpy()
                             for s in range(15)])
    # Gamma-Poisson: mean 500, variance 500 + (0.5 * 500)^2 = 63000.
    se_mean = math.sqrt(63000 / len(counts))
    assert abs(counts.mean() - 500) <= 4.5 * se_mean
    assert counts.var(ddof=1) > 5 * 500  # far above the Poisson variance


def test_zero_spend_gives_only_baseline_and_outbound_leads():
    H = 6
    sc = make(
        horizon_months=H,
        channels={
            "paid": {"spend": 0, "response": {"curve": "hill", "max_leads": 5000, "half_spend": 100}},
            "brand": {"spend": 0, "baseline_leads": 200,
                      "response": {"curve": "exponential", "max_leads": 5000, "spend_scale": 100}},
        },
        roles={"sdr": {"fte": 3, "outbound_leads_per_month": 40}, "ae": {"fte": 1}},
        scoring=NO_MQLS,
    )
    total = {"paid": 0, "brand": 0, "outbound": 0}
    reps = 4
    for seed in range(reps):
        m = sim.simulate(sc, seed=seed, lead_records=False).metrics
        for k in total:
            total[k] += m[f"leads.{k}"]
    assert total["paid"] == 0
    for k, per_month in (("brand", 200), ("outbound", 3 * 40)):
        mean = reps * H * per_month
        assert abs(total[k] - mean) <= 4.5 * math.sqrt(mean)


@pytest.mark.parametrize("role", ["ae", "both"])
def test_zero_headcount_gives_no_wins(role):
    roles = {"sdr": {"fte": 2}, "ae": {"fte": 0}} if role == "ae" else {"sdr": {"fte": 0}, "ae": {"fte": 0}}
    sc = make(horizon_months=4, roles=roles)
    m = sim.simulate(sc, seed=1, lead_records=False).metrics
    assert m["leads"] > 0
    assert m["wins"] == 0 and m["bookings"] == 0 and m["revenue"] == 0
    acc = m["lead_accounting"]
    assert acc["arrived"] == sum(v for k, v in acc.items() if k != "arrived")


def test_more_spend_sees_a_superset_of_the_leads():
    # Common random numbers: thinning one candidate stream keeps the coupling.
    small = make(channels={"c": {"spend": 5000, "response": {"curve": "hill", "max_leads": 400, "half_spend": 10000}}})
    big = make(channels={"c": {"spend": 20000, "response": {"curve": "hill", "max_leads": 400, "half_spend": 10000}}})
    a = sim.simulate(small, seed=9).leads
    b = sim.simulate(big, seed=9).leads
    assert len(b) > len(a)
    merged = a.merge(b, on="arrival_day", suffixes=("_s", "_b"))
    assert len(merged) == len(a)  # every lead of the small spend arrives under the big one
    assert np.array_equal(merged["intent_s"], merged["intent_b"])  # with the same intent


def test_installed_base_churn_matches_geometric_survival():
    n0, churn, H = 4000, 0.03, 12
    sc = make(horizon_months=H, channels={},
              customers={"installed_base": n0, "installed_mrr": 100.0, "churn_month": churn},
              roles={"ae": {"fte": 0}})
    m = sim.simulate(sc, seed=4, lead_records=False).metrics
    p = (1 - churn) ** H
    assert abs(m["ending_customers"] - n0 * p) <= 4.5 * math.sqrt(n0 * p * (1 - p))
    # With no expansion every kept customer pays 100 a month: revenue = 100 * customer-months.
    expected_rev = 100 * n0 * sum((1 - churn) ** k for k in range(H))
    assert m["revenue"] == pytest.approx(expected_rev, rel=0.02)
    assert m["ending_mrr"] == pytest.approx(100 * m["ending_customers"])


def test_attrition_without_backfill_matches_exponential_tenure():
    n0, rate, H = 400, 0.5, 12
    sc = make(horizon_months=H, channels={},
              roles={"sdr": {"fte": n0, "attrition_year": rate, "backfill": False}, "ae": {"fte": 1}})
    m = sim.simulate(sc, seed=2, lead_records=False).metrics
    p = math.exp(-rate * H / 12)
    assert abs(m["fte_end.sdr"] - n0 * p) <= 4.5 * math.sqrt(n0 * p * (1 - p))


def test_littles_law_holds_for_the_ae_slot_queue():
    # The mean number of SQLs waiting for a slot is measured as a time average (area
    # under the queue length); lambda * W comes from the per-lead waits: two methods.
    sc = make(horizon_months=6,
              qualification={"work_hours": 0.2, "p_qualify": 0.8},
              opportunities={"stages": [{"name": "s", "advance": 0.5,
                                         "duration_days": {"dist": "exponential", "mean": 20}}],
                             "deal": {"value": 1}},
              roles={"sdr": {"fte": 3}, "ae": {"fte": 2, "max_open_opportunities": 12}})
    r = sim.simulate(sc, seed=8)
    leads, horizon = r.leads, sc.horizon_days
    sql = leads["sql_day"].dropna()
    assert r.metrics["queue_mean_sqls"] > 1  # the slots do bind
    waited = np.minimum(leads["opportunity_day"].fillna(horizon), horizon) - leads["sql_day"]
    waited = waited[leads["sql_day"].notna()]
    assert r.metrics["queue_mean_sqls"] == pytest.approx(len(sql) / horizon * waited.mean(), rel=1e-6)


def test_open_pipeline_value_is_the_chance_of_the_stages_still_ahead():
    # Deterministic stage lengths make each open deal's stage readable from its start
    # day, so the weighted value can be rebuilt from the per-lead records.
    p1, p2, value = 0.5, 0.8, 100.0
    sc = make(horizon_months=4,
              qualification={"work_hours": 0.2, "p_qualify": 0.9},
              opportunities={"stages": [{"name": "a", "duration_days": 10, "advance": p1},
                                        {"name": "b", "duration_days": 20, "advance": p2}],
                             "deal": {"value": value}},
              roles={"sdr": {"fte": 3}, "ae": {"fte": 1, "max_open_opportunities": 40}})
    r = sim.simulate(sc, seed=6)
    leads, horizon = r.leads, sc.horizon_days
    open_ = leads[leads["state"] == "open_opportunity"]
    waiting = leads[leads["state"] == "waiting_for_ae"]
    in_first = (horizon - open_["opportunity_day"]) < 10
    expected_wins = in_first.sum() * p1 * p2 + (~in_first).sum() * p2 + len(waiting) * p1 * p2
    expected = value * expected_wins
    assert len(waiting) > 0 and in_first.any() and (~in_first).any()
    assert r.metrics["open_pipeline_count"] == len(open_) + len(waiting)
    assert r.metrics["open_pipeline_weighted_value"] == pytest.approx(expected, rel=1e-12)
    assert r.metrics["open_pipeline_expected_wins"] == pytest.approx(expected_wins, rel=1e-12)


def test_npv_discounts_the_monthly_contribution():
    sc = make(horizon_months=12, discount_rate_year=0.2)
    r = sim.simulate(sc, seed=1, lead_records=False)
    months = r.monthly["month"].to_numpy()
    by_hand = sum(c / 1.2 ** ((m + 1) / 12) for m, c in zip(months, r.monthly["contribution"], strict=True))
    assert r.metrics["npv_contribution"] == pytest.approx(by_hand, rel=1e-12)
    assert r.metrics["contribution"] == pytest.approx(r.monthly["contribution"].sum(), rel=1e-12)
