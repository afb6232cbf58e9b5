"""A channel's leads given per month (``leads:``), and calendar dates from ``start_date`` (docs/model.md, 1 and 8).

Given leads are the month's Poisson mean, in the simulation and the fast approximation
alike; spend beside them is only a cost. A start date labels the monthly series with
calendar months and puts dates beside the lead records' days, and changes no number.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pytest
from builders import assert_same_metrics, make
from scipy import stats

import sim
from sim.model.fluid import approximate, approximate_monthly
from sim.model.fluid_leads import lead_months
from sim.model.leads import channel_rate
from sim.scenario import ScenarioError
from sim.scenario.units import DAYS_PER_MONTH

NO_MQLS = {"score_noise": 0.0, "mql_threshold": 2.0}  # leads only: nothing reaches the event loop
SCHEDULE = [30.0, 80.0, 10.0, 50.0]  # the last month repeats


def _given(leads=SCHEDULE, horizon=6, **channel):
    return make(horizon_months=horizon, channels={"events": {"leads": leads, **channel}}, scoring=NO_MQLS)


def _means(horizon=6):
    return np.array(SCHEDULE + [SCHEDULE[-1]] * (horizon - len(SCHEDULE)))


def _monthly_leads(sc, seeds):
    return np.vstack([sim.simulate(sc, seed=s, lead_records=False).monthly["leads"].to_numpy() for s in seeds])


def test_the_channel_rate_is_the_schedule_over_the_horizon_whatever_the_spend():
    sc = _given(spend=[5000, 100])
    for spend in (sc.plan.monthly_spend("events"), np.zeros(6), np.full(6, 1e9)):
        assert np.array_equal(channel_rate(sc.channels["events"], spend), _means())
    assert np.array_equal(channel_rate(_given(leads=12.5).channels["events"], np.zeros(3)), [12.5] * 3)


def test_monthly_lead_counts_are_poisson_with_the_given_means():
    sc = _given()
    counts = _monthly_leads(sc, range(12))  # (seeds, months)
    mu = _means()
    # Each month over the seeds: the total is Poisson(seeds * mu).
    n = len(counts)
    assert np.all(np.abs(counts.sum(axis=0) - n * mu) <= 4.5 * np.sqrt(n * mu)), counts.sum(axis=0)
    # Dispersion: sum (x - mu)^2 / mu is about chi-square with seeds * months degrees of freedom.
    dispersion = float(((counts - mu) ** 2 / mu).sum())
    df = counts.size
    assert stats.chi2.ppf(1e-4, df) < dispersion < stats.chi2.ppf(1 - 1e-4, df), (dispersion, df)


def test_rate_cv_keeps_the_given_means_and_widens_the_counts():
    sc = _given(leads=400.0, horizon=12, rate_cv=0.5)
    counts = _monthly_leads(sc, range(10)).ravel()
    variance = 400 + (0.5 * 400) ** 2  # Gamma-Poisson
    assert abs(counts.mean() - 400) <= 4.5 * math.sqrt(variance / len(counts))
    assert counts.var(ddof=1) > 5 * 400  # far above the Poisson variance


def test_spend_with_given_leads_is_a_cost_in_the_costs_and_the_budget_and_buys_no_leads():
    spend = [1000.0, 2500.0, 0.0, 4000.0]
    sc = _given(spend=spend).replace({"budget": {"total": 1e7}})
    schedule = np.array(spend + [spend[-1]] * 2)
    cheap = sc.replace({"channels.events.spend": [10.0]})
    a, b = sim.simulate(sc, seed=5), sim.simulate(cheap, seed=5)
    assert np.array_equal(a.monthly["marketing_spend"].to_numpy(), schedule)
    assert a.metrics["cost.marketing_spend"] == float(schedule.sum())
    assert a.metrics["budget_marketing"] == float(schedule.sum())
    assert b.metrics["budget_marketing"] == 60.0
    assert a.metrics["budget_unspent"] == 1e7 - float(schedule.sum()) - a.metrics["budget_sales"]
    # The same seed: the same leads, whatever the spend.
    pd.testing.assert_frame_equal(a.leads, b.leads)
    assert np.array_equal(a.monthly["leads"], b.monthly["leads"])
    assert a.metrics["cost.total"] - b.metrics["cost.total"] == pytest.approx(float(schedule.sum()) - 60.0)


def test_the_fast_approximation_gives_exactly_the_schedule():
    sc = _given(spend=300, rate_cv=0.2, cost_per_lead=2.0)
    names, leads = lead_months(sc, np.zeros(6))
    assert np.array_equal(leads[names.index("events")], _means())
    fast = approximate(sc)
    assert fast["leads.events"] == float(_means().sum())
    assert np.array_equal(approximate_monthly(sc)["leads"].to_numpy(), _means())
    # The DES's Poisson means are the same numbers (one function gives both).
    assert np.array_equal(channel_rate(sc.channels["events"], sc.plan.monthly_spend("events")), _means())
    assert fast["cost.lead_costs"] == pytest.approx(2.0 * _means().sum(), rel=1e-12)
    assert fast["cost.marketing_spend"] == 300.0 * 6


def test_a_later_months_change_leaves_the_earlier_months_leads_as_they_were():
    # The candidates' rate is the schedule's peak: a change that keeps the peak keeps every candidate.
    early = make(horizon_months=4, channels={"events": {"leads": [40, 90, 60, 20]}}, scoring=NO_MQLS)
    later = early.replace({"channels.events.leads": [40, 90, 60, 70]})
    before = 3 * DAYS_PER_MONTH
    last = [0, 0]
    for seed in range(3):
        a, b = sim.simulate(early, seed=seed).leads, sim.simulate(later, seed=seed).leads
        pd.testing.assert_frame_equal(a[a["arrival_day"] < before].reset_index(drop=True),
                                      b[b["arrival_day"] < before].reset_index(drop=True))
        # The last month keeps a superset of its leads, with the same draws (a thinning of the same candidates).
        a_last, b_last = a[a["arrival_day"] >= before], b[b["arrival_day"] >= before]
        assert set(a_last["arrival_day"]) <= set(b_last["arrival_day"])
        last[0], last[1] = last[0] + len(a_last), last[1] + len(b_last)
    assert last[1] > last[0]


@pytest.mark.parametrize(("field", "value"), [
    ("response", {"curve": "hill", "max_leads": 90, "half_spend": 100}),
    ("carryover", 0.3), ("lag_months", 2), ("history", [100, 100]), ("baseline_leads", 5.0),
])
def test_what_drives_leads_from_spend_is_refused_beside_given_leads_one_line_each(field, value):
    with pytest.raises(ScenarioError) as info:
        _given(**{field: value})
    assert [f for f, _ in info.value.problems] == [f"channels.events.{field}"]
    assert "with leads (the leads are given" in info.value.problems[0][1]


def test_replace_writes_back_the_defaults_and_they_are_accepted():
    sc = _given(spend=100)
    assert sc.replace({"channels.events.rate_cv": 0.1}).channels["events"].leads == SCHEDULE


# -- start_date ---------------------------------------------------------------------------------------------

DAY_COLUMNS = ["arrival_day", "mql_day", "contact_day", "sql_day", "opportunity_day", "close_day"]


def _dated(start="2025-03-01", horizon=6):
    return make(horizon_months=horizon, start_date=start)


def test_lead_dates_are_the_start_date_plus_the_days_and_nat_where_nothing_happened():
    sc = _dated()
    r = sim.simulate(sc, seed=2)
    start = pd.Timestamp("2025-03-01")
    cols = list(r.leads.columns)
    for day in DAY_COLUMNS:
        date = day.removesuffix("_day") + "_date"
        assert cols.index(date) == cols.index(day) + 1
        d, t = r.leads[day], r.leads[date]
        assert t.dtype == "datetime64[ns]"
        assert t.isna().equals(d.isna())
        shown = d.notna()
        assert shown.any()
        # The day offset in nanoseconds, rounded once: within a microsecond of the float day.
        offset = (t[shown] - start).to_numpy().astype("int64") / 86_400e9
        np.testing.assert_allclose(offset, d[shown].to_numpy(), rtol=0, atol=1e-6 / 86_400)
        assert (t[shown] == start + pd.to_timedelta(d[shown], unit="D")).all()
    assert r.leads["close_date"].isna().any()  # not every lead wins: NaT there


def test_month_start_is_calendar_months_from_the_start_date_and_stays_near_the_models_months():
    sc = _dated(start="2024-11-01", horizon=60)
    experiment = sim.run_many(sc.replace({"horizon_months": 60}), reps=2).monthly
    for monthly in (sim.simulate(sc, seed=0, lead_records=False).monthly, approximate_monthly(sc),
                    experiment[experiment["replication"] == 1].drop(columns="replication").reset_index(drop=True)):
        assert monthly["month_start"].dtype == "datetime64[ns]"
        starts = pd.DatetimeIndex(monthly["month_start"])
        assert list(monthly.columns[:2]) == ["month", "month_start"]
        assert starts[0] == pd.Timestamp("2024-11-01") and starts.is_monotonic_increasing
        assert all(s.day == 1 for s in starts)
        assert all((s.year - 2024) * 12 + s.month - 11 == k for k, s in enumerate(starts))
        # The model's month k starts k * 30.4375 days in: the calendar parts from it by under three days.
        drift = (starts - starts[0]).days.to_numpy() - np.arange(60) * DAYS_PER_MONTH
        assert np.abs(drift).max() < 3


def test_a_start_date_changes_no_number_and_without_it_there_is_no_date_column():
    plain, dated = make(), _dated()
    a, b = sim.simulate(plain, seed=4), sim.simulate(dated, seed=4)
    assert_same_metrics(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.monthly, b.monthly.drop(columns="month_start"))
    pd.testing.assert_frame_equal(a.leads, b.leads[[c for c in b.leads.columns if not c.endswith("_date")]])
    assert not any(c.endswith("_date") or c == "month_start" for c in [*a.monthly.columns, *a.leads.columns])
    assert "month_start" not in approximate_monthly(plain).columns


@pytest.mark.parametrize("value", ["2025-13-01", "next year", 20250101, True, "2025-01-15",
                                   datetime.datetime(2025, 1, 1, 12)])
def test_a_start_date_that_is_not_the_first_of_a_month_is_one_line_naming_it(value):
    with pytest.raises(ScenarioError) as info:
        make(start_date=value)
    assert [f for f, _ in info.value.problems] == ["start_date"]


def test_a_start_date_is_read_from_a_yaml_date_or_an_iso_string_and_dumped_back():
    sc = make(start_date=datetime.date(2025, 1, 1))
    assert sc.start_date == make(start_date="2025-01-01").start_date == datetime.date(2025, 1, 1)
    assert sc.model_dump(mode="json")["start_date"] == "2025-01-01"
    assert "start_date" not in make().model_dump()
    assert sc.replace({"horizon_months": 3}).start_date == datetime.date(2025, 1, 1)
