"""The qualifiers' work hours per lead by simulation (the method of simulated moments), and what they let be written.

A CRM records when each MQL arrived and when a rep first contacted it, but not how long
the rep worked it: ``qualification.work_hours`` is identified only through the waits the
queue makes, which only the simulation computes. :func:`sdr_work_hours` finds the
constant work hours ``theta`` at which the calibrated funnel's queue gives the waits
observed over the training window:

- the statistic: each MQL's hours from its MQL date to its first contact, or to the
  cutoff while not yet contacted (a restricted mean: it includes the leads still
  waiting, so that a longer ``theta`` can only lengthen it, and counts them as the
  simulation does), averaged over the MQLs of the training window. The mean, not the
  median: below about half the leads waiting the median wait is 0 whatever ``theta``
  is, while the mean rises with ``theta`` from the first queue that forms;
- the simulated statistic: the same, from :data:`REPS` replications of the training
  window as the calibrated scenario runs it (every lead goes to the queue on arrival,
  first in first out, the calibrated volumes' point estimates as its given leads, the
  qualifying role's headcount month by month, ``hours_per_day`` at its default), with
  ``work_hours = theta``, the same seeds for every ``theta`` (common random numbers:
  the arrivals are the same and only the work changes, so the curve is smooth and
  rises with ``theta``);
- the estimate: the root of simulated minus observed (scipy ``brentq``) on a bracket
  around the work hours at which an M/D/c queue's mean wait (the Allen-Cunneen
  approximation the fast model uses) is the observed one;
- the interval: test inversion. ``theta`` is kept where the observed statistic lies
  within a ``t`` prediction interval of the replications at ``theta``:
  ``|observed - mean| <= t(REPS - 1) * sd * sqrt(1 + 1 / REPS)``, with ``sd`` the
  replications' spread at ``theta``. The spread across replications stands for the
  observed statistic's sampling error (a parametric bootstrap: the waits of one queue
  are correlated, so a bootstrap over leads would understate it), and ``1 / REPS`` for
  the simulation error of the mean. Where the lower end reaches 0 (the waits are as
  short as no queue at all would make them: capacity does not bind), ``theta`` is not
  identified beyond an upper bound, which is what is reported, flagged (so too where
  fewer than :data:`MIN_WAITING` MQLs waited at all).

The mean alone is matched, so :func:`apply_capacity` checks the medians: where the fitted
queue's median wait is unlike the data's (:func:`_misshapen`: a queue worked newest first, or
by score, has most waits near 0 and a few very long), neither the work hours nor the decay
are written, and a warning says why.

A training window of more than :data:`MAX_LEADS` leads is cut to its last months holding
as many (the queue taken as empty where it starts), to keep to a second or so.

:func:`apply_capacity` runs it at the end of :func:`sim.calibrate.assemble.estimate_all`,
and, where the response-time decay is found (:mod:`sim.calibrate.decay`, its test
rejecting no decay at 5%), prepares the decay to be written and puts the chance to
qualify on the model's footing: the model's chance is ``p_qualify * decay(wait)``, so the
``p_qualify`` written must be the chance at no wait. It is the Aalen-Johansen share (of
every lead, as estimated) divided by the mean decay factor of the waits the calibrated
funnel simulates at the work-hours estimate, so that the funnel run at the estimates
gives back the share observed; a draw of ``p_qualify`` is divided by the factor at the
half-life draw of the same row (a replication runs row ``k`` of every list of draws).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sim.calibrate.estimate import DRAWS, LEVEL, Estimate, window_text
from sim.calibrate.volumes import fte_schedule
from sim.scenario.schema import SDRRole
from sim.scenario.units import DAYS_PER_MONTH, HOURS_PER_DAY

__all__ = ["DECAY_TEST_LEVEL", "MAX_LEADS", "REPS", "WaitCurve", "apply_capacity", "model_month_counts",
           "observed_wait", "sdr_work_hours", "window_scenario"]

REPS = 8  # replications a theta: the mean's simulation error is the observed statistic's over sqrt(8)
MIN_MQLS = 30  # fewer MQLs in the window: not estimated
MAX_LEADS = 10_000  # more leads in the window: its last months holding this many (a replication is ~25 ms then)
MIN_WAITING = 10  # fewer MQLs that waited at all: the work hours are bounded above only
WAITED_HOURS = 1 / 60  # a wait over a minute is a wait (CRM times are to the minute at best)
DECAY_TEST_LEVEL = 0.05  # the decay is written when its likelihood-ratio test rejects no decay at this level
HOURS_PER_DAY_DEFAULT = float(SDRRole.model_fields["hours_per_day"].default)  # what the calibrated scenario has
XTOL = 5e-3  # brentq's tolerance, relative to the utilisation-1 work hours: far below the interval's width


def _first_contact(leads: pd.DataFrame) -> pd.Series:
    """A lead's first contact: its contacted date, else its decision's (a decided lead was contacted by then)."""
    out = leads["contacted_date"]
    for c in ("qualified_date", "disqualified_date"):
        if c in leads:
            out = out.where(out.notna(), leads[c])
    return out


def observed_wait(leads: pd.DataFrame, start, cutoff) -> tuple[float, int, int, float] | None:
    """The mean hours from MQL to first contact (to the cutoff if not yet contacted) over the window's MQLs.

    Args:
        leads: normalised leads with ``contacted_date`` and ``mql_date`` (else ``created_date``: every lead an MQL).
        start: the window's first day (the first lead's month).
        cutoff: the training cutoff.

    Returns:
        ``(mean_hours, mqls, waited, median_hours)``, ``waited`` the MQLs that waited over a minute; None without
        contact dates.
    """
    if "contacted_date" not in leads or not leads["contacted_date"].notna().any():
        return None
    mql = leads["mql_date"] if "mql_date" in leads else leads["created_date"]
    inside = mql.notna() & (mql >= start) & (mql <= cutoff)
    contact = _first_contact(leads)[inside]
    end = contact.where(contact.notna() & (contact <= cutoff), cutoff)
    hours = ((end - mql[inside]).dt.total_seconds() / 3600).clip(lower=0).to_numpy()
    return (float(hours.mean()) if len(hours) else math.nan), int(len(hours)), int((hours > WAITED_HOURS).sum()), \
        (float(np.median(hours)) if len(hours) else math.nan)


def model_month_counts(leads: pd.DataFrame, start, cutoff) -> np.ndarray:
    """The leads of each model month (``DAYS_PER_MONTH`` days) from ``start`` to the cutoff, the last one's scaled.

    The simulated window's months are the model's, so the leads are counted on its clock: the
    realised leads of month ``k`` are its given leads. The last month, cut by the cutoff, is
    scaled to a whole month's rate.
    """
    cutoff_day = (cutoff - start).total_seconds() / 86400
    months = max(math.ceil(cutoff_day / DAYS_PER_MONTH - 1e-9), 1)
    day = ((leads["created_date"] - start).dt.total_seconds() / 86400).to_numpy()
    k = np.floor(day[(day >= 0) & (day <= cutoff_day)] / DAYS_PER_MONTH).astype(int)
    counts = np.bincount(np.minimum(k, months - 1), minlength=months)[:months].astype(float)
    counts[-1] /= max((cutoff_day - (months - 1) * DAYS_PER_MONTH) / DAYS_PER_MONTH, 1 / DAYS_PER_MONTH)
    return counts


def _team_plan(series, months: int, start) -> tuple[int, list[dict], str]:
    """The qualifying role's whole FTE at the start, its hires, and how the window's headcount was taken.

    The headcount by month (``[(YYYY-MM, fte)]``, the last month's carried on where it ends)
    rounded to whole FTE; rises are hires at the month's start (no lead time, no ramp, as the
    table shows them employed). A headcount that falls is simulated at its mean over the window.
    """
    by = dict(series)
    fte, last = [], series[0][1]
    for k in range(months):
        month = f"{(start + pd.DateOffset(months=k)):%Y-%m}"
        last = by.get(month, last)
        fte.append(max(int(round(last)), 0))
    if all(b >= a for a, b in zip(fte, fte[1:], strict=False)):
        hires = [{"month": k, "fte": fte[k] - fte[k - 1]} for k in range(1, months) if fte[k] > fte[k - 1]]
        how = "the headcount month by month" if hires else f"{fte[0]} FTE (the headcount)"
        return fte[0], hires, how
    mean = max(int(round(float(np.mean(fte)))), 1)
    return mean, [], f"{mean} FTE, the headcount's mean over the window (it fell within it)"


def window_scenario(leads: pd.DataFrame, start, cutoff, role: str, series, work_hours: float = 0.5, rates=None,
                    fte_by_month=None):
    """The training window as the calibrated scenario runs its queue, with ``work_hours``; and how the team was taken.

    Every lead joins the queue on arrival (threshold 0, no noise, first in first out, no
    lead going cold), at ``rates`` leads a month (the calibrated volumes' fitted means, month
    by month from ``start``; the last carried on), or without them the realised leads of each
    model month (:func:`model_month_counts`); the qualifying ``role`` (``sdr``, else ``ae``)
    with ``fte_by_month`` (the calibrated scenario's, from the headcount table), or without it
    the headcount ``series`` as a start and hires; nothing after qualification matters to
    the waits, so no lead qualifies (it is faster).
    """
    from sim.scenario.loading import parse_scenario

    counts = model_month_counts(leads, start, cutoff)
    months = len(counts)
    if rates is not None and len(rates):
        rates = np.asarray(rates, dtype=float)
        counts = np.array([rates[min(k, len(rates) - 1)] for k in range(months)])
    if fte_by_month:
        team = {"fte_by_month": [int(x) for x in fte_by_month]}
        how = "the headcount month by month (fte_by_month, as written)" if len(set(fte_by_month)) > 1 else \
            f"{int(fte_by_month[0])} FTE (the headcount)"
    else:
        fte, hires, how = _team_plan(series, months, start)
        team = {"fte": fte, "hires": hires, "hiring_lead_days": 0.0}
    roles = {"sdr": team, "ae": {"fte": 1}} if role == "sdr" else {"ae": team}
    scenario = parse_scenario({
        "name": "capacity_window", "horizon_months": months,
        "channels": {"all": {"leads": [float(c) for c in counts]}},
        "scoring": {"score_noise": 0.0, "mql_threshold": 0.0},
        "qualification": {"p_qualify": 0.0, "work_hours": work_hours, "discipline": "fifo"},
        "opportunities": {"stages": [{"name": "close", "advance": 0.0}], "deal": {"value": 0.0}},
        "roles": roles}, "<capacity>")
    return scenario, how


def _recent(leads: pd.DataFrame, start, cutoff):
    """The window's start, or where it holds more than MAX_LEADS leads, that of its last months holding as many."""
    counts = model_month_counts(leads, start, cutoff)
    if counts.sum() <= MAX_LEADS:
        return start
    keep = max(int(np.searchsorted(np.cumsum(counts[::-1]), MAX_LEADS, side="right")), 1)
    return start + pd.Timedelta(days=(len(counts) - keep) * DAYS_PER_MONTH)


class WaitCurve:
    """The simulated statistic as a function of the work hours, with common random numbers across them.

    ``at(theta)`` is each replication's restricted mean wait in hours (MQLs of the window,
    waiting to first contact or to the cutoff day), cached: the roots are found on the same
    replications.
    """

    def __init__(self, scenario, cutoff_day: float, reps: int = REPS, seed: int = 0):
        self.scenario = scenario
        self.cutoff_day = cutoff_day
        self.seeds = [np.random.SeedSequence([seed, k]) for k in range(reps)]
        self.cache: dict[float, np.ndarray] = {}
        self.decay_waits: dict[float, np.ndarray] = {}
        self.medians: dict[float, np.ndarray] = {}  # each replication's median restricted wait (the fit's check)

    def _runs(self, theta: float, seeds):
        from sim.model.simulation import run

        scenario = self.scenario.replace({"qualification.work_hours": float(theta)})
        stats_, waits, medians = [], [], []
        for s in seeds:
            record = run(scenario, s)
            mql = record.mql_time
            inside = mql <= self.cutoff_day
            contact = record.book.contact_time[inside]
            done = np.isfinite(contact) & (contact <= self.cutoff_day)
            end = np.where(done, contact, self.cutoff_day)
            stats_.append(float(np.mean(end - mql[inside]) * HOURS_PER_DAY) if inside.any() else 0.0)
            medians.append(float(np.median(end - mql[inside]) * HOURS_PER_DAY) if inside.any() else 0.0)
            waits.append((contact[done] - mql[inside][done]) * HOURS_PER_DAY)
        return np.asarray(stats_), np.concatenate(waits) if waits else np.zeros(0), np.asarray(medians)

    def at(self, theta: float) -> np.ndarray:
        """Each replication's statistic at work hours ``theta``."""
        theta = float(theta)
        if theta not in self.cache:
            self.cache[theta], self.decay_waits[theta], self.medians[theta] = self._runs(theta, self.seeds)
        return self.cache[theta]

    def median(self, theta: float) -> float:
        """The replications' mean of their median restricted waits at ``theta``."""
        self.at(theta)
        return float(self.medians[float(theta)].mean())

    def mean(self, theta: float) -> float:
        """The replications' mean statistic at ``theta``."""
        return float(self.at(theta).mean())

    def sd(self, theta: float) -> float:
        """The replications' spread (sample sd) at ``theta``: the observed statistic's sampling error there."""
        return float(self.at(theta).std(ddof=1))

    def fresh(self, theta: float, reps: int, seed: int) -> np.ndarray:
        """``reps`` replications at ``theta`` on other seeds (not the curve's): a check of the fit, not part of it."""
        return self._runs(theta, [np.random.SeedSequence([seed, 10_000 + k]) for k in range(reps)])[0]


def _root(f, lo, hi, tol) -> float:
    return float(optimize.brentq(f, lo, hi, xtol=tol, rtol=1e-6))


def sdr_work_hours(leads: pd.DataFrame, start, cutoff, role: str, series, level: float = LEVEL,
                   reps: int = REPS, rates=None, fte_by_month=None) -> dict | None:
    """The constant work hours per lead at which the calibrated queue gives the observed waits, or None.

    Args:
        leads: normalised leads (``created_date``, ``contacted_date``, ``mql_date`` if any).
        start: the first lead's month (the calibrated scenario's start).
        cutoff: the training cutoff.
        role: the qualifying role, ``sdr`` or ``ae``.
        series: its headcount by month, ``[(YYYY-MM, fte)]`` (one entry: constant).
        level: the interval's level.
        reps: replications a work-hours value.
        rates: the leads a month the calibrated scenario has, month by month from ``start`` (its
            volumes' point estimates); None: the realised leads of each month.
        fte_by_month: the qualifying role's whole FTE a month from ``start``, as the calibrated
            scenario has it; None: ``series`` as a start and hires.

    Returns:
        ``estimate`` (hours; None when not identified), ``low``, ``high`` (the interval; ``low``
        0 when the waits do not exclude no queue), ``identified`` (False: only ``high``, an upper
        bound, is known), ``observed_wait_hours``, ``simulated_wait_hours`` (at the estimate, or
        at the bound), ``sd_hours`` (the replications' spread there), ``mqls``, ``utilisation``
        (the qualifiers' share of time busy at the estimate or bound, from the volumes),
        ``window`` (the last months only where the training window holds more than
        :data:`MAX_LEADS` leads, the queue taken as empty at its start), ``team``, ``method``,
        ``seconds``, ``curve`` (the :class:`WaitCurve`) and ``theta`` (where the curve was read
        for the decay factor).
    """
    import time

    begun = time.perf_counter()
    first = start
    start = _recent(leads, start, cutoff)
    leads = leads[leads["created_date"] >= start]
    cut = round((start - first) / pd.Timedelta(days=DAYS_PER_MONTH))  # the months cut from the front
    if rates is not None:
        rates = np.asarray(rates, dtype=float)[min(cut, len(rates) - 1):]
    if fte_by_month:
        fte_by_month = list(fte_by_month)[min(cut, len(fte_by_month) - 1):]
    seen = observed_wait(leads, start, cutoff)
    if seen is None or seen[1] < MIN_MQLS or not series or not math.isfinite(seen[0]):
        return None
    obs, mqls, seen_waiting, obs_median = seen
    scenario, team = window_scenario(leads, start, cutoff, role, series, rates=rates, fte_by_month=fte_by_month)
    months = scenario.horizon_months
    cutoff_day = (cutoff - start).total_seconds() / 86400
    curve = WaitCurve(scenario, cutoff_day, reps)
    hpd = HOURS_PER_DAY_DEFAULT
    # The bracket: theta at which the reps would be busy all the time (utilisation 1), from the leads a day.
    team_days = sum(fte * DAYS_PER_MONTH for fte in _fte_months(scenario, months))
    lam = len(leads[(leads["created_date"] >= start) & (leads["created_date"] <= cutoff)]) / max(cutoff_day, 1e-9)
    saturation = hpd * max(team_days / (months * DAYS_PER_MONTH), 1e-9) / max(lam, 1e-9)
    tol = XTOL * saturation
    lo = 1e-3 * saturation
    t = stats.t.ppf((1 + level) / 2, reps - 1) * math.sqrt(1 + 1 / reps)

    def gap(theta):
        return curve.mean(theta) - obs

    def up(theta):
        return curve.mean(theta) - t * curve.sd(theta) - obs

    def down(theta):
        return curve.mean(theta) + t * curve.sd(theta) - obs

    def util(theta):
        return lam * theta / hpd / max(team_days / (months * DAYS_PER_MONTH), 1e-9)

    # Identified where the waits exclude no queue (the interval's lower end above 0) and rest on more than a
    # handful of leads that waited: with fewer, their mean is a few outliers and its t interval is not to be trusted.
    identified = down(lo) < 0 and seen_waiting >= MIN_WAITING
    why_not = None  # why the work hours are not identified, where it is not that capacity does not bind
    if identified:
        a, b = _bracket(gap, _md_c_guess(obs, lam, team_days / (months * DAYS_PER_MONTH), hpd, saturation), lo,
                        spread=0.05)
        estimate = _root(gap, a, b, tol) if b is not None else math.inf
        at = estimate
        if math.isfinite(estimate):
            # Where the ends would be if the curve were straight (its slope across the estimate's bracket): brentq
            # then starts from a tight bracket around each, a handful of replications' sets instead of a dozen.
            slope = max((curve.mean(b) - curve.mean(a)) / (b - a), 1e-12)
            half = t * curve.sd(estimate) / slope
            a_low, b_low = _bracket(down, max(estimate - half, lo), lo, top_at=estimate)
            low = _root(down, a_low, b_low, tol)
            a_high, b_high = _bracket(up, estimate + half, estimate)
            high = _root(up, a_high, b_high, tol) if b_high is not None else math.inf
        else:
            low, high = math.nan, math.inf
    elif up(lo) - 1e-9 >= 0:
        # Even at almost no work the queue waits longer than the data's: its team (a month with nobody to qualify,
        # say) does not fit the waits, and no work hours do.
        estimate, low, high, at = None, 0.0, math.inf, None
        why_not = (f"even at almost no work per lead ({lo:.2g} h) the calibrated queue waits longer "
                   f"({curve.mean(lo):.3g} h on average) than the data's ({obs:.3g} h): its team (a month with nobody "
                   "to qualify, or too few) does not fit the waits; not written")
    else:
        estimate, low = None, 0.0
        if seen_waiting < MIN_WAITING and down(lo) < 0:  # the waits exclude no queue, but rest on a handful
            why_not = (f"only {seen_waiting} of {mqls} MQLs waited over a minute: too few for the waits' mean to say "
                       "how long a lead's work takes")
        # The bound: the largest theta whose replications still reach the observed mean. With no wait observed
        # at all, up(lo) is 0 (no queue at lo either): a nanohour below it makes the bracket's sign change.
        def above(x):
            return up(x) - 1e-9

        # Out from where an M/D/c queue would wait a minute longer than observed, by thirds; a bound needs 1% only.
        a, b = _bracket(above, _md_c_guess(obs + 1 / 60, lam, team_days / (months * DAYS_PER_MONTH), hpd,
                                           saturation), lo, spread=0.5)
        high = _root(above, a, b, 0.01 * a) if b is not None else math.inf
        at = high
    finite = at is not None and math.isfinite(at)
    volumes = "the calibrated leads a month" if rates is not None and len(rates) else "the realised leads a month"
    method = (f"method of simulated moments: the mean hours from MQL to first contact (to the cutoff while not "
              f"contacted) over {mqls} MQLs, {obs:.3g} h, matched by {reps} replications of the training window "
              f"run as calibrated (fifo, every lead queued on arrival, {volumes}, {team}, "
              f"{hpd:g} selling hours a day; common random numbers, scipy brentq); the interval by test "
              f"inversion, the replications' spread for the observed statistic's sampling error")
    return {"estimate": estimate, "low": low, "high": high, "identified": bool(identified and math.isfinite(high)),
            "observed_wait_hours": obs, "simulated_wait_hours": curve.mean(at) if finite else math.nan,
            "observed_median_hours": obs_median, "simulated_median_hours": curve.median(at) if finite else math.nan,
            "sd_hours": curve.sd(at) if finite else math.nan, "mqls": mqls,
            "utilisation": util(at) if finite else math.nan,
            "window": window_text(start, cutoff), "team": team, "role": role, "method": method,
            "seconds": time.perf_counter() - begun, "curve": curve, "theta": at if finite else None,
            "why_not": why_not}


def _md_c_wait_hours(theta, lam_per_day, servers, hpd) -> float:
    """The M/D/c mean wait (hours) by the Allen-Cunneen approximation: Erlang C's M/M/c wait halved.

    As the fast approximation takes the queue (:mod:`sim.model.fluid_queue`): only a starting
    bracket for the simulated root, never the estimate.
    """
    c = max(int(round(servers)), 1)
    service = theta / hpd  # days of the clock a lead
    a = lam_per_day * service
    if a >= c:
        return math.inf
    inv_b = 1.0  # 1 / Erlang B(0, a), then up to c by 1/B(j) = 1 + j / (a B(j - 1))
    for j in range(1, c + 1):
        inv_b = 1.0 + j * inv_b / max(a, 1e-300)
    b = 1.0 / inv_b
    erlang_c = b / (1 - (a / c) * (1 - b))
    return 0.5 * erlang_c * service / (c - a) * HOURS_PER_DAY


def _md_c_guess(obs, lam_per_day, servers, hpd, saturation) -> float:
    """The work hours at which the M/D/c approximation's mean wait is ``obs``: where the bracket search starts."""
    c = max(int(round(servers)), 1)
    top = saturation * c / max(servers, 1e-9) * (1 - 1e-9)
    f = lambda x: _md_c_wait_hours(x, lam_per_day, servers, hpd) - obs  # noqa: E731
    lo = 1e-6 * top
    if f(lo) >= 0:
        return lo
    return float(optimize.brentq(f, lo, top * (1 - 1e-6))) if f(top * (1 - 1e-6)) > 0 else top


def _bracket(f, guess, floor, top_at=None, spread=0.1):
    """``(a, b)`` with ``f(a) < 0 <= f(b)``, out from ``guess`` by ``spread``; ``b`` None if ``f`` stays below 0.

    The bracket's width triples at each step out. ``floor`` is the lowest ``a`` (where ``f``
    must be below 0); ``top_at`` a ``b`` known to have ``f(b) >= 0``, the highest one tried.
    """
    a = max(guess * (1 - spread), floor)
    b = guess * (1 + spread) if top_at is None else min(guess * (1 + spread), top_at)
    while f(a) >= 0 and a > floor:
        b, a = a, max(a - 2 * (b - a), floor)
    for _ in range(12):
        if f(b) >= 0:
            return a, b
        if top_at is not None:
            return a, top_at
        a, b = b, b + 2 * (b - a)
    return a, None


def _fte_months(scenario, months: int) -> list[float]:
    """The qualifying role's whole FTE in each month of the window scenario (its start and hires)."""
    roles = scenario.roles
    role = roles.sdr if roles.sdr is not None else roles.ae
    if role.fte_by_month:
        return [float(role.fte_by_month[min(k, len(role.fte_by_month) - 1)]) for k in range(months)]
    fte = [float(role.fte)] * months
    for hire in role.hires:
        for k in range(hire.month, months):
            fte[k] += hire.fte
    return fte


def _fitted_rates(found: dict) -> np.ndarray | None:
    """The calibrated scenario's leads a month, summed over channels, month by month from its start (or None).

    The point estimates, as the calibrated scenario runs them: a channel's schedule's mean where
    a trend or seasonality was kept, else its constant rate; and the outbound leads the reps
    prospect, their rate per FTE-month times the prospecting role's FTE. Simulating these rather than the
    realised months' counts halves the estimate's small bias: the replications would otherwise
    spread each realised month by Poisson noise again, and a queue's mean wait is convex in its
    load (known truth: 2% low instead of 4%, at 80% utilisation).
    """
    channels = [e for e in found["estimates"] if e.path.startswith("channels.") and e.path.endswith(".leads")]
    if not channels and not found.get("outbound"):
        return None
    horizon = max([len(e.schedule.mean) for e in channels if getattr(e, "schedule", None) is not None]
                  + [found.get("months", 1) + 1])
    total = np.zeros(horizon)
    for e in channels:
        schedule = getattr(e, "schedule", None)
        total += (np.resize(schedule.mean, horizon) if schedule is not None else e.estimate)
    outbound = found.get("outbound")
    if outbound:  # the leads the reps prospect join the queue too: their rate per FTE-month times the team's FTE
        role = outbound["role"]
        fte = _written_schedule(found, role) or [max(int(round(found.get("reps", {}).get(role, 1.0))), 1)]
        total += outbound["rate"].estimate * np.array([fte[min(k, len(fte) - 1)] for k in range(horizon)])
    return total


def _written_schedule(found: dict, role: str) -> list[int] | None:
    """The ``fte_by_month`` the calibrated scenario writes for ``role`` (from the headcount table), or None."""
    series = found.get("team", {}).get(role)
    if not series or "months" not in found:
        return None
    return fte_schedule(found, series)[0] or None


def _qualifier(found: dict) -> tuple[str, list] | None:
    """Who qualifies in the calibrated scenario (SDRs when the headcount has them, else the AEs) and their series."""
    team, reps = found.get("team", {}), found.get("reps", {})
    if reps.get("sdr"):
        return "sdr", team.get("sdr") or [(f"{found['start']:%Y-%m}", reps["sdr"])]
    if reps.get("ae"):
        return "ae", team.get("ae") or [(f"{found['start']:%Y-%m}", reps["ae"])]
    return None


def _split_normal_draws(estimate, low, high, level, rng) -> np.ndarray:
    """Draws with median ``estimate`` and ``level`` quantiles ``low``, ``high``: two half-normals on the log scale."""
    z = stats.norm.ppf((1 + level) / 2)
    below, above = math.log(estimate / low) / z, math.log(high / estimate) / z
    x = _normal_scores(rng)
    return estimate * np.exp(np.where(x < 0, below, above) * x)


def _normal_scores(rng) -> np.ndarray:
    """The standard normal's quantiles at ``(i + 1/2) / DRAWS``, shuffled: draws whose quantiles are the interval's."""
    return rng.permutation(stats.norm.ppf((np.arange(DRAWS) + 0.5) / DRAWS))


def _decay_factor(waits: np.ndarray, half_life) -> np.ndarray:
    """The mean of ``(1 + wait / h) ** -1`` over ``waits`` (hours), for each half-life ``h``."""
    h = np.atleast_1d(np.asarray(half_life, dtype=float))
    if not len(waits):
        return np.ones_like(h)
    return np.array([float(np.mean((1.0 + waits / x) ** -1.0)) for x in h])


def _observed_waits(leads: pd.DataFrame) -> np.ndarray:
    """The hours from MQL to first contact of the leads contacted and decided (the decay's own leads)."""
    decided = leads["qualified_date"].notna() | leads["disqualified_date"].notna()
    rows = leads[decided & leads["contacted_date"].notna() & leads["mql_date"].notna()]
    w = ((rows["contacted_date"] - rows["mql_date"]).dt.total_seconds() / 3600).to_numpy()
    return w[np.isfinite(w) & (w >= 0)]


MEDIAN_SLACK_HOURS = 0.25  # medians closer than this are alike, whatever their ratio


def _misshapen(result: dict) -> bool:
    """Whether the fitted queue's median wait is unlike the data's: apart by more than half the larger and the slack.

    The mean alone is matched; a queue worked newest first (or by score) has most waits near 0
    and a few very long, which a first-in-first-out queue matches on the mean only near
    saturation, every lead then waiting about as long as the mean.
    """
    obs, sim_ = result.get("observed_median_hours"), result.get("simulated_median_hours")
    if obs is None or sim_ is None or not (math.isfinite(obs) and math.isfinite(sim_)):
        return False
    return abs(sim_ - obs) > max(MEDIAN_SLACK_HOURS, 0.5 * max(obs, sim_))


def bound_reason(result: dict) -> str:
    """Why only an upper bound of the work hours is known, in the words of the report and the scenario's comment."""
    return result.get("why_not") or (
        f"the waits ({result['observed_wait_hours']:.3g} h on average over {result['mqls']} MQLs) are as short as no "
        "queue at all would make them: capacity does not bind")


def _scaled(e: Estimate, factor: float, factors: np.ndarray, why: str) -> None:
    """``e`` (a chance with decay in it) as the chance at no wait: divided by the mean decay factor, in place."""
    e.estimate = min(e.estimate / factor, 1.0)
    e.draws = np.minimum(np.asarray(e.draws, dtype=float) / factors, 1.0)
    # The interval takes the half-life's uncertainty too (the draws' quantiles), and keeps the share's own.
    a = (1 - LEVEL) / 2
    q_low, q_high = (float(x) for x in np.quantile(e.draws, [a, 1 - a]))
    e.low = min(e.low / factor, q_low, e.estimate)
    e.high = min(max(e.high / factor, q_high, e.estimate), 1.0)
    e.method += f"; {why}"


def apply_capacity(found: dict, leads: pd.DataFrame | None, cutoff, rng) -> None:
    """The work hours (MSM) and, where decay is found, its half-life and p_qualify at no wait; into ``found``.

    Sets ``found["capacity"]`` (the :func:`sdr_work_hours` result without its curve), and
    appends to ``found["estimates"]`` an :class:`Estimate` of ``qualification.work_hours``
    when identified and of ``qualification.decay.half_life_hours`` when the decay's test
    rejects no decay; the latter divides the pooled and per-channel p_qualify estimates by
    the mean decay factor (``found["decay_factor"]`` says by how much and why).
    """
    if leads is None or not len(leads) or found.get("leads_from_deals"):
        return
    who = _qualifier(found)
    result = None
    if who is not None and "contacted_date" in leads:
        result = sdr_work_hours(leads, found["start"], cutoff, *who, rates=_fitted_rates(found),
                                fte_by_month=_written_schedule(found, who[0]))
    why, waits = None, None
    if result is not None:
        curve = result.pop("curve")
        theta = result.pop("theta")
        found["capacity"] = result
        window = result["window"]
        misshapen = result["identified"] and _misshapen(result)
        if misshapen:
            result["identified"], result["misshapen"] = False, True
            why = (f"the waits do not have the shape of a first-in-first-out queue at constant work: at the work "
                   f"hours that give their mean ({result['observed_wait_hours']:.3g} h), the calibrated queue's "
                   f"median wait is {result['simulated_median_hours']:.3g} h, the data's "
                   f"{result['observed_median_hours']:.3g} h (most leads called at once, a few very late: newest "
                   f"first, or by score?): not written, the default kept")
            found["warnings"].append(f"qualification.work_hours: {why}")
            theta = None  # the decay factor then comes from the observed waits
        elif result["identified"]:
            e = Estimate("qualification.work_hours", result["estimate"], result["low"], result["high"],
                         result["mqls"], window, result["method"],
                         _split_normal_draws(result["estimate"], result["low"], result["high"], LEVEL, rng))
            found["estimates"].append(e)
        elif math.isfinite(result["high"]):
            why = (f"{bound_reason(result)}, so the work hours are not identified beyond an upper bound of "
                   f"{result['high']:.3g} h (written as the bound)")
            found["warnings"].append(f"qualification.work_hours: {why}")
        else:
            why = result["why_not"] or (f"no work hours tried make the simulated waits as long as the observed ones "
                                        f"({result['observed_wait_hours']:.3g} h on average): not written")
            found["warnings"].append(f"qualification.work_hours: {why}")
        waits = curve.decay_waits.get(theta) if theta is not None else None
    else:
        why = ("SDR work hours are not in a CRM; they are estimated from the waits where the leads have contact "
               f"dates ({MIN_MQLS} MQLs or more) and the qualifying role's headcount or deal owners are known")
    found["not_identified"] = [(p, w) for p, w in found["not_identified"] if p != "qualification.work_hours"]
    if why is not None:
        found["not_identified"].append(("qualification.work_hours", why))
    _apply_decay(found, leads, waits, rng)


def _apply_decay(found: dict, leads: pd.DataFrame, waits, rng) -> None:
    """Where the decay test rejects no decay: its half-life estimate, and p_qualify at no wait (in place)."""
    decay = found.get("decay")
    if decay is None or not (decay["p_value"] < DECAY_TEST_LEVEL) or not math.isfinite(decay["half_life_hours"]) \
            or not (math.isfinite(decay["low"]) and math.isfinite(decay["high"])):
        return
    if (found.get("capacity") or {}).get("misshapen"):
        found["decay_unwritten"] = ("the waits do not have the shape of the calibrated funnel's queue (see "
                                    "qualification.work_hours), so the waits the decay would act on are not the data's")
        return
    if found.get("capacity") is None:
        found["decay_unwritten"] = ("the work hours were not estimated (no qualifying role's headcount, or fewer "
                                    f"than {MIN_MQLS} MQLs with contact dates), so the waits the decay acts on are "
                                    "not the data's")
        return
    h, low, high = decay["half_life_hours"], decay["low"], decay["high"]
    z = stats.norm.ppf((1 + LEVEL) / 2)
    sd = (math.log(high) - math.log(low)) / (2 * z)  # decay.py's interval is Wald on the log scale
    draws = h * np.exp(sd * _normal_scores(rng))
    found["estimates"].append(Estimate(
        "qualification.decay.half_life_hours", h, low, high, decay["n"], found["capacity"]["window"],
        f"{decay['method']} (p = {decay['p_value']:.2g}); shape 1; draws log-normal from the Wald interval (its "
        "quantiles)", draws))
    simulated = waits is not None and len(waits) > 0
    waits = waits if simulated else _observed_waits(leads)
    factor = float(_decay_factor(waits, h)[0])
    factors = _decay_factor(waits, draws)
    at = "estimate" if found["capacity"].get("identified") else "upper bound"
    source = (f"the waits the calibrated funnel simulates at the work hours' {at}" if simulated
              else "the observed waits")
    why = (f"divided by the mean decay factor {factor:.3g} of {source} (the model's chance is p_qualify * "
           f"decay(wait): this is the chance at no wait)")
    found["decay_factor"] = {"factor": factor, "waits": source, "half_life_hours": h}
    chances = [e for e in found["estimates"] if e.path == "qualification.p_qualify"]
    chances += list((found.get("p_qualify_by_channel") or {}).get("channels", {}).values())
    # Where channels or segments differ, the chances are written as the intents' means: scaled alike.
    chances += list(found.get("intent", {}).values())
    for entry in found.get("segments", {}).values():
        chances += list((entry.get("p_qualify") or {}).get("channels", {}).values())
    for e in {id(e): e for e in chances}.values():  # an estimate both listed and by channel is scaled once
        _scaled(e, factor, factors, why)
