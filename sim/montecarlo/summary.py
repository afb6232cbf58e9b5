"""Summaries of replications: mean with its confidence interval, spread and percentiles.

The interval is Student's t interval of the mean, ``mean ± t(1 - (1 - level)/2, n - 1) ·
sd / sqrt(n)``: replications are independent and identically distributed, and for
the sums of many leads that most measures are, the mean is close to normal well
before n = 30. A measure that is NaN in a replication (a rate with nothing to divide,
payback of one-off deals) is left out of that measure's summary; ``n`` says how many
replications each line rests on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from sim.errors import FunnelError

__all__ = ["SUMMARY_COLUMNS", "confidence_half_width", "summarise"]

SUMMARY_COLUMNS = ["n", "mean", "ci_low", "ci_high", "std", "p10", "p50", "p90"]


def confidence_half_width(values, level: float = 0.95) -> float:
    """Half-width of the t confidence interval of the mean of ``values`` (NaN left out)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return float("nan")
    with np.errstate(invalid="ignore"):
        sd = float(np.std(x, ddof=1))
    # special.stdtrit is the t quantile stats.t.ppf computes (the same numbers), without importing
    # scipy.stats, which costs half a second in every process that summarises.
    return float(special.stdtrit(len(x) - 1, 0.5 + level / 2) * sd / np.sqrt(len(x)))


def _one(values: np.ndarray, level: float) -> dict:
    x = values[~np.isnan(values)]
    n = len(x)
    if n == 0:
        return {"n": 0, **{c: float("nan") for c in SUMMARY_COLUMNS[1:]}}
    with np.errstate(invalid="ignore", over="ignore"):
        mean = float(np.mean(x))
        sd = float(np.std(x, ddof=1)) if n > 1 else float("nan")
        p10, p50, p90 = (float(v) for v in np.percentile(x, [10, 50, 90]))
    half = confidence_half_width(x, level)
    return {"n": n, "mean": mean, "ci_low": mean - half, "ci_high": mean + half, "std": sd,
            "p10": p10, "p50": p50, "p90": p90}


def summarise(replications: pd.DataFrame, measures=None, level: float = 0.95) -> pd.DataFrame:
    """One row per measure: n, mean, CI of the mean at ``level``, sd, P10, P50, P90.

    Args:
        replications: one row per replication (as :attr:`Experiment.replications`).
        measures: the columns to summarise; default every numeric column except
            ``replication`` and ``seed``.
        level: confidence level of the interval.
    """
    if not 0 < level < 1:
        raise FunnelError("level", f"expected a confidence level between 0 and 1 (e.g. 0.95), got {level!r}")
    if measures is None:
        measures = [c for c in replications.columns
                    if c not in ("replication", "seed") and pd.api.types.is_numeric_dtype(replications[c])]
    rows = {m: _one(replications[m].to_numpy(dtype=float), level) for m in measures}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=SUMMARY_COLUMNS)
    table.index.name = "measure"
    return table.astype({"n": "int64"})
