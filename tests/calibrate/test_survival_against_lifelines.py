"""Survival pieces checked against lifelines itself (a second method): the Aalen-Johansen interval at the last
time, the tie-breaking that keeps the global random state alone, and the duration fits from their starting points."""

import warnings

import numpy as np
import pytest
from lifelines import AalenJohansenFitter

from sim.calibrate.estimate import aj_last_interval


@pytest.mark.parametrize(("n", "seed", "ties", "open_last"),
                         [(40, 0, False, False), (300, 1, False, False), (300, 1, False, True), (500, 2, True, True),
                          (60, 3, False, False)])
def test_the_last_times_interval_equals_lifelines(n, seed, ties, open_last):
    rng = np.random.default_rng(seed)
    days = rng.exponential(10, n)
    days = np.round(days) + 1 if ties else days  # ties are jittered by lifelines, the same way in both fits
    event = rng.choice([0, 1, 2], n, p=[0.3, 0.3, 0.4])
    if open_last:  # one still open after every event: the interval is defined
        days, event = np.append(days, days.max() + 1), np.append(event, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [AalenJohansenFitter(calculate_variance=v, jitter_level=1e-6, seed=0, alpha=0.1)
                .fit(days, event, event_of_interest=1) for v in (True, False)]
    low, high = (float(x) for x in fits[0].confidence_interval_.iloc[-1])
    got = aj_last_interval(fits[1], 0.9)
    if np.isnan(low):  # undefined where the last events take all still at risk: undefined in both
        assert np.isnan(got).all()
    else:
        assert got == pytest.approx((low, high), rel=1e-9) and low < fits[1].cumulative_density_.iloc[-1, 0] < high


def test_calibrating_dates_without_times_leaves_the_global_random_state_alone():
    # CRM dates without a time of day tie by the hundred; lifelines would jitter them with np.random.seed.
    from paths import ROOT

    import sim

    shared = ROOT.parent / "shared" / "data" / "crm_opportunities"
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    sim.calibrate(shared, ROOT / "mappings" / "crm_opportunities.yaml", train_until="2017-06-30")
    assert (np.random.random(3) == expected).all()


def test_untied_times_are_distinct_and_keep_their_order():
    from sim.calibrate.estimate import TIE_STEP_DAYS, untied

    days = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    event = np.array([2, 1, 0, 1, 1, 0])
    out = untied(days, event)
    assert len(set(out)) == len(out) and (np.abs(out - days) < 3 * TIE_STEP_DAYS).all()
    assert (np.argsort(out, kind="stable")[[0, 1]] == [5, 1]).all()  # at day 1: the censored one first


def test_the_duration_fits_started_near_the_answer_reach_lifelines_own_maximum():
    from lifelines import LogLogisticFitter, LogNormalFitter, WeibullFitter

    from sim.calibrate.estimate import duration_fit

    rng = np.random.default_rng(4)
    t, c = rng.lognormal(3, 0.8, 400), rng.uniform(0, 80, 400)
    days, observed = np.minimum(t, c), t <= c
    _, _, _, aic, _ = duration_fit(days, observed, "d", "w", np.random.default_rng(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in (("weibull", WeibullFitter), ("lognormal", LogNormalFitter),
                          ("loglogistic", LogLogisticFitter)):
            assert aic[name] == pytest.approx(cls().fit(days, observed).AIC_, rel=1e-6), name
