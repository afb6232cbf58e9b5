"""The qualifiers' work hours by simulated moments, and p_qualify at no wait where decay is found.

Known truth: exports of a funnel whose one SDR is busy about 80% of the time recover its
work hours inside the interval at the stated rate (a binomial bound over the seeds), the
fit's simulated wait matches the observed one on fresh seeds within the Monte Carlo error,
and the chance to qualify divided by the mean decay factor is the chance at no wait the
export was made with. An idle team gives an upper bound, flagged, not an estimate. The
simulated curve is checked against the Pollaczek-Khinchine mean wait of an M/D/1 queue,
and inverted against it.
"""

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from paths import ROOT
from scipy import stats

import sim
from sim.calibrate.assemble import estimate_all
from sim.calibrate.capacity import (
    MAX_LEADS,
    REPS,
    WaitCurve,
    _fitted_rates,
    _recent,
    apply_capacity,
    model_month_counts,
    sdr_work_hours,
    window_scenario,
)
from sim.calibrate.decay import response_decay
from sim.calibrate.estimate import LEVEL, Estimate, lead_volumes, qualification, window_text
from sim.calibrate.mapping import load_mapping
from sim.calibrate.tables import read_tables
from sim.calibrate.writer import _capacity_lines, scenario_text, validate
from sim.scenario.units import DAYS_PER_MONTH

SEEDS = 20
START = pd.Timestamp("2025-01-01")
WORK_HOURS = 1.0
P_QUALIFY = 0.6
HOURS_PER_DAY = 6.0  # the role's default, which the calibrated scenario keeps
MAPPING = load_mapping(ROOT / "mappings" / "funnel_sim.yaml")


def _world(work_hours, fte, leads_a_month, months=3, decay=None):
    return sim.parse_scenario({
        "name": "known", "horizon_months": months, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": leads_a_month}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": P_QUALIFY, "work_hours": work_hours, "decay": decay},
        "opportunities": {"stages": [{"name": "close", "advance": 0.3, "duration_days": 20}], "deal": {"value": 1}},
        "roles": {"sdr": {"fte": fte}, "ae": {"fte": 3, "max_open_opportunities": 1000}}})


def _found(export, fte, seed):
    """What estimate_all finds that apply_capacity reads, from the export's leads (without the deal fits)."""
    leads, cutoff = export.leads, export.export_date
    rng = np.random.default_rng(seed)
    volumes, start, months = lead_volumes(leads, cutoff, rng)
    found = {"estimates": [*volumes, qualification(leads, cutoff, window_text(START, cutoff), rng)],
             "not_identified": [("qualification.work_hours", "SDR work hours are not in a CRM")], "warnings": [],
             "start": start, "months": months, "team": {"sdr": [("2025-01", float(fte))]},
             "reps": {"sdr": float(fte)}, "decay": response_decay(leads)}
    share = found["estimates"][-1]
    before = (share.estimate, share.draws.copy())
    apply_capacity(found, leads, cutoff, rng)
    return found, before


@pytest.fixture(scope="module")
def binding():
    # One SDR, 150 leads a month, an hour each at 6 selling hours a day: busy about 82% of the time.
    world = _world(WORK_HOURS, 1, 150.0, decay={"half_life_hours": 24.0})
    return [_found(sim.crm_export(world, seed=seed), 1, seed) for seed in range(SEEDS)]


def test_the_true_work_hours_are_inside_the_interval_at_the_stated_rate(binding):
    found = [f["capacity"] for f, _ in binding]
    assert all(c["identified"] and 0.7 < c["utilisation"] < 0.95 for c in found), [c["utilisation"] for c in found]
    inside = sum(c["low"] <= WORK_HOURS <= c["high"] for c in found)
    assert inside >= stats.binom.ppf(0.001, SEEDS, LEVEL), [(round(c["low"], 3), round(c["high"], 3)) for c in found]
    assert all(c["low"] < c["estimate"] < c["high"] < 2 * c["low"] for c in found)  # an interval that says something
    assert all(c["seconds"] < 5 for c in found)


def test_the_simulated_wait_at_the_estimate_matches_the_observed_on_fresh_seeds():
    # The fit's seeds match the observed mean by construction; fresh seeds at the estimate must too, within the
    # Monte Carlo error of both means (each the replications' spread over sqrt(REPS)).
    world = _world(WORK_HOURS, 1, 150.0)
    for seed in range(3):
        export = sim.crm_export(world, seed=seed)
        c = sdr_work_hours(export.leads, START, export.export_date, "sdr", [("2025-01", 1.0)])
        fresh = c["curve"].fresh(c["estimate"], REPS, seed)
        assert c["simulated_wait_hours"] == pytest.approx(c["observed_wait_hours"], rel=0.02)
        se = math.sqrt(c["sd_hours"] ** 2 / REPS + fresh.var(ddof=1) / REPS)
        assert abs(fresh.mean() - c["observed_wait_hours"]) <= 3.5 * se, (fresh.mean(), c["observed_wait_hours"], se)


def test_p_qualify_is_written_as_the_chance_at_no_wait(binding):
    chances = []
    for found, (share, share_draws) in binding:
        p = next(e for e in found["estimates"] if e.path == "qualification.p_qualify")
        factor = found["decay_factor"]["factor"]
        assert 0 < factor < 1 and p.estimate == pytest.approx(share / factor, rel=1e-12)  # the identity
        h = next(e for e in found["estimates"] if e.path == "qualification.decay.half_life_hours")
        # Each draw is divided by the factor of the half-life in the same row (a factor below 1: never lower).
        assert (p.draws >= share_draws - 1e-12).all()
        assert len(h.draws) == len(p.draws) and np.corrcoef(h.draws, p.draws)[0, 1] < 0  # shorter life, higher p
        chances.append(p)
    # Every lead an MQL, none cold: the chance at no wait is the scenario's p_qualify.
    inside = sum(p.low <= P_QUALIFY <= p.high for p in chances)
    assert inside >= stats.binom.ppf(0.001, SEEDS, LEVEL), [(round(p.low, 3), round(p.high, 3)) for p in chances]


def test_the_work_hours_and_the_decay_are_written_and_read_back(binding):
    found, _ = binding[0]
    lines = "".join(_capacity_lines(found))
    assert "  work_hours: {draws: [" in lines and "  decay: {half_life_hours: {draws: [" in lines
    written = yaml.safe_load("qualification:\n" + lines)["qualification"]
    data = _world(WORK_HOURS, 1, 150.0).model_dump(mode="json")
    data["qualification"].update(written)
    scenario = sim.parse_scenario(data)  # each list of draws is read as an uncertain setting at its mean
    draws = written["work_hours"]["draws"]
    assert scenario.qualification.work_hours.mean == pytest.approx(np.mean(draws))
    assert scenario.qualification.decay.half_life_hours == pytest.approx(np.mean(written["decay"]["half_life_hours"]
                                                                                 ["draws"]))
    c = found["capacity"]
    a = (1 - LEVEL) / 2
    # The draws' quantiles are the interval (the normal quantiles, shuffled: to the discreteness of 200).
    assert np.quantile(draws, a) == pytest.approx(c["low"], rel=0.01)
    assert np.quantile(draws, 1 - a) == pytest.approx(c["high"], rel=0.01)
    assert all(p != "qualification.work_hours" for p, _ in found["not_identified"])


def test_an_idle_team_gives_an_upper_bound_flagged_not_an_estimate():
    # Three SDRs at a fifth of an hour a lead: busy about 6% of the time, hardly a lead waits.
    world = _world(0.2, 3, 150.0, decay=None)
    for seed in range(2):
        export = sim.crm_export(world, seed=seed)
        found, (share, _) = _found(export, 3, seed)
        c = found["capacity"]
        assert not c["identified"] and c["estimate"] is None and c["low"] == 0.0
        assert 0.2 <= c["high"] < 2.0  # the truth is below the bound, and the bound is not vacuous
        assert all(e.path != "qualification.work_hours" for e in found["estimates"])
        why = dict(found["not_identified"])["qualification.work_hours"]
        assert "upper bound" in why and "does not bind" in why
        lines = "".join(_capacity_lines(found))
        assert "NOT IDENTIFIED, an upper bound" in lines and "work_hours: " in lines and "draws" not in lines
        # This world has no decay: p_qualify is scaled only if the decay's test (wrongly) rejects, never otherwise.
        p = next(e for e in found["estimates"] if e.path == "qualification.p_qualify")
        claimed = found["decay"] is not None and found["decay"]["p_value"] < 0.05
        assert ("decay_factor" in found) is claimed and (p.estimate == share) is not claimed


def _pollaczek_khinchine_hours(lam_per_day, work_hours):
    """Mean wait (hours) of an M/D/1 queue: rho D / (2 (1 - rho)), D the work in days of the clock."""
    service_days = work_hours / HOURS_PER_DAY
    rho = lam_per_day * service_days
    return rho * service_days / (2 * (1 - rho)) * 24


def _even_leads(lam_per_day, months, wait_hours):
    """Leads at an even pace over the months, each contacted ``wait_hours`` after its MQL date."""
    days = months * DAYS_PER_MONTH
    created = START + pd.to_timedelta(np.arange(0, days, 1 / lam_per_day), unit="D")
    return pd.DataFrame({"created_date": created, "mql_date": created,
                         "contacted_date": created + pd.Timedelta(hours=wait_hours)}), START + pd.Timedelta(days=days)


def test_the_simulated_curve_is_the_m_d_1_mean_wait_and_inverts_it():
    lam, months = 4.0, 12  # one SDR: utilisation 4 * theta / 6
    leads, cutoff = _even_leads(lam, months, 0.0)
    # The window scenario's leads a month are the export's calendar-month counts: about lam a day.
    scenario, _ = window_scenario(leads, START, cutoff, "sdr", [("2025-01", 1.0)])
    curve = WaitCurve(scenario, (cutoff - START).total_seconds() / 86400)
    for theta in (0.75, 1.05):  # utilisation 0.5 and 0.7
        reps = curve.at(theta)
        counts = scenario.channels["all"].leads
        rate = float(np.mean(counts)) / DAYS_PER_MONTH
        ref = _pollaczek_khinchine_hours(rate, theta)
        # 4 standard errors, plus 3% for the start from an empty queue and the waits cut at the window's end.
        assert abs(reps.mean() - ref) <= 4 * reps.std(ddof=1) / math.sqrt(len(reps)) + 0.03 * ref, (theta, reps, ref)
    # Given an observed mean wait equal to the formula's at 0.9 hours, the estimate is 0.9 within its interval.
    rate = float(np.mean(scenario.channels["all"].leads)) / DAYS_PER_MONTH
    wait = _pollaczek_khinchine_hours(rate, 0.9)
    leads, cutoff = _even_leads(lam, months, wait)
    c = sdr_work_hours(leads, START, cutoff, "sdr", [("2025-01", 1.0)])
    assert c["identified"] and c["low"] <= 0.9 <= c["high"], c
    assert c["estimate"] == pytest.approx(0.9, rel=0.05)


def test_the_window_is_counted_on_the_model_s_months_and_its_team_month_by_month():
    leads, cutoff = _even_leads(4.0, 2.5, 0.0)  # two and a half model months at 4 leads a day
    counts = model_month_counts(leads, START, cutoff)
    assert len(counts) == 3 and counts[:2].sum() + counts[2] / 2 == pytest.approx(len(leads), abs=1)
    assert counts == pytest.approx(4.0 * DAYS_PER_MONTH, abs=1)  # the half month scaled to a whole one's rate
    # A rising headcount is the start and hires at the months' starts; a falling one is simulated at its mean.
    rising, _ = window_scenario(leads, START, cutoff, "sdr", [("2025-01", 1.0), ("2025-02", 2.4), ("2025-03", 3.0)])
    assert rising.roles.sdr.fte == 1 and [(h.month, h.fte) for h in rising.roles.sdr.hires] == [(1, 1), (2, 1)]
    assert rising.roles.sdr.hiring_lead_days == 0
    falling, how = window_scenario(leads, START, cutoff, "sdr", [("2025-01", 3.0), ("2025-02", 1.0)])
    assert falling.roles.sdr.fte == 2 and not falling.roles.sdr.hires and "mean" in how  # (3 + 1 + 1) / 3, rounded
    qualifying_aes, _ = window_scenario(leads, START, cutoff, "ae", [("2025-01", 2.0)])
    assert qualifying_aes.roles.sdr is None and qualifying_aes.roles.ae.fte == 2


def test_a_big_window_is_cut_to_its_last_months_holding_at_most_the_cap():
    leads, cutoff = _even_leads(200.0, 6, 0.0)  # about 6,000 leads a month: over 36,000 in all
    start = _recent(leads, START, cutoff)
    kept = leads[leads["created_date"] >= start]
    assert len(kept) <= MAX_LEADS < len(leads) and len(kept) > MAX_LEADS - 200 * DAYS_PER_MONTH - 1
    assert (start - START) / pd.Timedelta(days=DAYS_PER_MONTH) == pytest.approx(round((start - START) / pd.Timedelta(
        days=DAYS_PER_MONTH)))  # whole model months are left out


def test_the_calibrated_funnel_run_gives_back_the_share_qualified_with_the_decay_and_intents_written():
    # Two channels that qualify differently (written as intents), a day's half-life, one SDR busy about 80%: the
    # scenario written, run over its training months, qualifies the share of leads the export did.
    world = sim.parse_scenario({
        "name": "known", "horizon_months": 3, "start_date": "2025-01-01",
        "channels": {"ads": {"leads": 100.0, "intent": {"a": 6, "b": 2}},
                     "events": {"leads": 50.0, "intent": {"a": 2, "b": 6}}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": {"low": 0.0, "high": 1.0}, "work_hours": WORK_HOURS,
                          "decay": {"half_life_hours": 24.0}},
        "opportunities": {"stages": [{"name": "close", "advance": 0.3,
                                      "duration_days": {"dist": "lognormal", "mean": 20, "cv": 0.5}}],
                          "deal": {"value": 1}},
        "roles": {"sdr": {"fte": 1}, "ae": {"fte": 3, "max_open_opportunities": 1000}}})
    export = sim.crm_export(world, seed=3)
    read = read_tables(export.tables(), MAPPING)
    found = estimate_all(read, seed=3)
    assert found["decay_factor"]["factor"] < 1 and found.get("intent")  # decay and intents written
    scenario = validate(scenario_text(found, "known"))
    assert scenario.qualification.decay is not None and scenario.qualification.p_qualify.high == 1.0
    leads = read.tables["leads"]
    observed = leads["qualified_date"].notna().sum() / len(leads)
    runs = sim.run_many(scenario.replace(horizon_months=3), reps=20, seed=5)
    shares = (runs.replications["sqls"] / runs.replications["leads"]).to_numpy()
    # The runs' spread holds the draws' too; 2% more for the decay's curvature over the draws of the half-life.
    assert abs(shares.mean() - observed) <= 4 * shares.std(ddof=1) / math.sqrt(len(shares)) + 0.02 * observed, (
        shares.mean(), observed)


def test_the_simulated_load_holds_the_calibrated_channels_and_the_outbound_leads():
    # The window's leads a month: each channel's point estimate plus the outbound rate per FTE-month times the
    # prospecting role's FTE, month by month as the calibrated scenario has them (fte_by_month from the table).
    rng = np.random.default_rng(0)
    ads = Estimate("channels.ads.leads", 100.0, 90.0, 110.0, 300, "w", "m", rng.normal(100, 5, 200))
    rate = Estimate("roles.sdr.outbound_leads_per_month", 20.0, 15.0, 25.0, 120, "w", "m", rng.normal(20, 2, 200))
    found = {"estimates": [ads, rate], "outbound": {"role": "sdr", "rate": rate}, "start": START, "months": 3,
             "team": {"sdr": [("2025-01", 1.0), ("2025-02", 2.0), ("2025-03", 2.0)]}, "reps": {"sdr": 2.0}}
    assert _fitted_rates(found)[:4] == pytest.approx([120.0, 140.0, 140.0, 140.0])


def test_waits_of_a_queue_worked_newest_first_are_not_fitted_as_first_in_first_out():
    """Newest first, most leads are called at once and a few very late: matching the mean with a first-in-first-out
    queue would put it at saturation, every lead waiting about the mean. The medians tell them apart: not written."""
    world = _world(WORK_HOURS, 1, 170.0).replace({"qualification.discipline": "lifo"})
    found, before = _found(sim.crm_export(world, seed=1), 1, 1)
    c = found["capacity"]
    assert c["misshapen"] and not c["identified"]
    assert c["observed_median_hours"] < 0.5 * c["simulated_median_hours"]
    assert "qualification.work_hours" not in {e.path for e in found["estimates"]}
    why = dict(found["not_identified"])["qualification.work_hours"]
    assert "first-in-first-out" in why and "median" in why
    assert not any(e.path == "qualification.decay.half_life_hours" for e in found["estimates"])
    share = next(e for e in found["estimates"] if e.path == "qualification.p_qualify")
    assert share.estimate == before[0]  # not divided by a decay factor: no decay is written
    lines = "".join(_capacity_lines(found))
    assert "work_hours:" not in lines  # neither an estimate nor a bound
    # The same world worked first in first out is fitted, its medians alike.
    fifo, _ = _found(sim.crm_export(_world(WORK_HOURS, 1, 150.0), seed=1), 1, 1)
    assert fifo["capacity"]["identified"] and not fifo["capacity"].get("misshapen")


def test_a_team_that_cannot_give_the_waits_is_said_not_to_fit_them_not_a_traceback():
    """Nobody to qualify in the first month: the queue then waits longer than the data at any work hours."""
    world = _world(WORK_HOURS, 1, 150.0)
    export = sim.crm_export(world, seed=2)
    leads, cutoff = export.leads, export.export_date
    result = sdr_work_hours(leads, START, cutoff, "sdr", [("2025-01", 1.0)], fte_by_month=[0, 1, 1])
    assert result["estimate"] is None and not result["identified"] and math.isinf(result["high"])
    assert "does not fit the waits" in result["why_not"]


def test_a_part_time_role_is_one_seat_not_none():
    from sim.calibrate.volumes import fte_schedule

    schedule, _, rounded, _ = fte_schedule({"start": START, "months": 3}, [("2025-01", 0.4), ("2025-02", 0.4),
                                                                          ("2025-03", 2.5)])
    assert schedule == [1, 1, 3] and len(rounded) == 3
