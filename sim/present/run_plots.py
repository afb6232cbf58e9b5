"""The plots of one scenario's replications: the funnel over time, the cash, and where leads and money went.

:func:`write_run_plots` is what ``funnel run --plots DIR`` writes, for one replication
or many: ``fans.png`` (:func:`sim.present.fan.funnel_fans`), ``cash.png``
(:func:`sim.present.fan.cash_fan_plot`), ``leads.png`` and ``money.png``
(:mod:`sim.present.waterfall`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.present.fan import cash_fan_plot, funnel_fans
from sim.present.waterfall import lead_waterfall, money_waterfall

__all__ = ["write_run_plots"]


def write_run_plots(scenario, replications: pd.DataFrame, monthly: pd.DataFrame, directory) -> list[Path]:
    """Save the plots of a scenario's replications as PNG files in ``directory`` (made if missing).

    Args:
        scenario: the scenario run (its name, currency and gross margin label the plots).
        replications: one row per replication with its measures (``Experiment.replications``).
        monthly: the monthly series, one row per replication and month (``Experiment.monthly``).
        directory: where to write.

    Returns:
        The paths written: ``fans.png``, ``cash.png``, ``leads.png``, ``money.png``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = len(replications)
    what = f"{scenario.name}, {n} replication{'s' if n != 1 else ''}"
    figures = {
        "fans": funnel_fans(monthly, currency=scenario.currency, title=f"The funnel over time ({what})"),
        "cash": cash_fan_plot(monthly, currency=scenario.currency, title=f"Cash over months ({what})"),
        "leads": lead_waterfall(replications),
        "money": money_waterfall(replications, scenario.gross_margin, scenario.currency),
    }
    paths = []
    for name, figure in figures.items():
        path = directory / f"{name}.png"
        figure.savefig(path, dpi=100)
        paths.append(path)
    return paths
