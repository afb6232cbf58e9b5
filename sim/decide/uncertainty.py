"""How much of a predictive interval comes from parameter uncertainty, and how much from the simulation's own noise.

A scenario with uncertain settings (:mod:`sim.scenario.uncertain`) gives predictive
intervals: each replication runs its own draw of the settings, so the spread of the
replications (``p10`` .. ``p90`` of a summary) holds both the funnel's randomness and
what the data leave unknown. :func:`parameter_uncertainty` runs the same replications
twice, with the same seeds: once with the draws (full) and once at the point values
(simulation only), and reports both intervals and the share of the variance that the
parameters add, ``1 - var(simulation only) / var(full)`` (0 when the draws add none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.model.simulation import replicate
from sim.montecarlo.experiment import run_many

__all__ = ["PARAMETER_COLUMNS", "parameter_uncertainty", "parameter_shares"]

PARAMETER_COLUMNS = ["n", "mean", "p10", "p90", "sim_p10", "sim_p90", "width", "sim_width", "parameter_share"]
KEY = ["leads", "mqls", "sqls", "wins", "bookings", "revenue", "contribution"]


def parameter_shares(full: pd.DataFrame, simulation_only: pd.DataFrame, measures=None) -> pd.DataFrame:
    """Per measure: the full 80% predictive interval, the simulation-only one, their widths and the parameters' share.

    Args:
        full: the replication table (one row per replication, a column per measure) of the
            scenario with its draws.
        simulation_only: the same, at the point values (with the same seeds).
        measures: the measures to report (default: the key measures both tables have).
    """
    names = [m for m in (measures or KEY) if m in full.columns and m in simulation_only.columns]
    rows = {}
    for name in names:
        a = full[name].to_numpy(dtype=float)
        b = simulation_only[name].to_numpy(dtype=float)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) < 2 or len(b) < 2:
            continue
        p10, p90 = np.percentile(a, [10, 90])
        s10, s90 = np.percentile(b, [10, 90])
        var_full, var_sim = float(np.var(a, ddof=1)), float(np.var(b, ddof=1))
        share = max(0.0, 1.0 - var_sim / var_full) if var_full > 0 else 0.0
        rows[name] = {"n": len(a), "mean": float(a.mean()), "p10": float(p10), "p90": float(p90),
                      "sim_p10": float(s10), "sim_p90": float(s90), "width": float(p90 - p10),
                      "sim_width": float(s90 - s10), "parameter_share": share}
    return pd.DataFrame.from_dict(rows, orient="index", columns=PARAMETER_COLUMNS)


def parameter_uncertainty(scenario, reps: int = 100, seed=0, *, measures=None, full=None, **options) -> pd.DataFrame:
    """Both intervals of each key measure of ``scenario``: with its draws (full) and at its point values.

    Args:
        scenario: a validated scenario; without uncertain settings both intervals are the same.
        reps: replications of each run.
        seed: the root seed, the same for both runs, so that they differ only in the settings' draws.
        measures: the measures to report (default: leads to contribution).
        full: the replications table of the full run, if already run (with the same reps and seed).
        **options: those of :func:`sim.run_many` (``workers``, ``backend``...).
    """
    if full is None:
        full = run_many(scenario, reps=reps, seed=seed, model=replicate, **options).replications
    point = scenario.replace(uncertain={}) if scenario.uncertain else scenario
    only = run_many(point, reps=reps, seed=seed, model=replicate, **options).replications
    return parameter_shares(full, only, measures)
