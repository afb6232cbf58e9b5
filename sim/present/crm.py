"""One simulated run as the tables a CRM export would hold: the known truth for calibrating from CRM data.

:func:`crm_export` simulates one horizon and writes what happened as a CRM sees it at an
export date (``export_day``, the horizon by default): leads, deals with their current
stage, the stage history, and monthly spend and headcount. What lies after the export
date is unknown to it: rows created later are absent, and a deal closed later is open
in the stage it was in then. The latent intent is not exported (a CRM does not know
it). :func:`write_crm` writes the tables as CSV files. Nothing here draws a random
number: every date is the run's own, and the stage boundaries are recomputed from each
lead's own stage durations with the model's function (:func:`sim.model.paths.stage_durations`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.model import states as S
from sim.model.measures import deal_values, segment_labels
from sim.model.months import dates, month_starts
from sim.model.paths import age_stretch, stage_durations
from sim.model.record import Record
from sim.model.simulation import run
from sim.model.size import check_size
from sim.model.team import fte_by_month
from sim.montecarlo.store import PACKAGE
from sim.present.errors import PresentError
from sim.present.export import _atomic, _check_directory
from sim.scenario.schema import Scenario
from sim.scenario.units import DAYS_PER_MONTH
from sim.version import __version__

__all__ = ["CRM_FILES", "CrmExport", "crm_export", "write_crm"]

CRM_FILES = ["leads", "deals", "stage_history", "spend", "headcount"]
_CLOSED = (S.WON, S.LOST_PIPELINE, S.LOST_REP_LEFT)


@dataclass(repr=False)
class CrmExport:
    """One run's CRM-shaped tables, as seen at the export date.

    Attributes:
        leads: one row per lead created by the export date, in order of creation:
            ``lead_id`` (the lead's row in ``Result.leads``), ``created_date``, ``channel``,
            ``mql_date``, ``contacted_date``, ``qualified_date``, ``disqualified_date``
            (NaT where it had not happened by the export date) and ``status`` at the
            export date (``new``, ``mql``, ``working``, ``disqualified``, ``qualified``,
            ``converted``).
        deals: one row per opportunity created by the export date, in order of creation:
            ``deal_id``, ``lead_id``, ``created_date`` (the opportunity's start),
            ``stage`` (the stage it is in at the export date, or ``won`` / ``lost``),
            ``closed_date`` (NaT while open), ``won`` and ``value`` (of a won deal: the
            one-off value, or the MRR of a subscription; NaN otherwise).
        stage_history: one row per deal and stage it entered by the export date:
            ``deal_id``, ``stage``, ``entered_date``, ``left_date`` (NaT while in it).
        spend: ``month_start``, ``channel``, ``spend``, per month ended by the export date.
        headcount: ``month_start``, ``role``, ``fte`` (employed FTE-months in the month),
            per month ended by the export date.
        export_day: the export date in days from the start of the horizon.
        export_date: the export date, ``start_date`` plus ``export_day`` days.
        scenario: the scenario simulated.
        seed: the seed it ran with.
    """

    leads: pd.DataFrame
    deals: pd.DataFrame
    stage_history: pd.DataFrame
    spend: pd.DataFrame
    headcount: pd.DataFrame
    export_day: float
    export_date: pd.Timestamp
    scenario: Scenario
    seed: object = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five tables by file name (without ``.csv``)."""
        return {name: getattr(self, name) for name in CRM_FILES}

    def __repr__(self) -> str:
        return (f"CrmExport(scenario={self.scenario.name!r}, export_date={self.export_date.date()}, "
                f"leads={len(self.leads):,}, deals={len(self.deals):,}, "
                f"won={int(self.deals['won'].sum()):,})")


def crm_export(scenario: Scenario, seed=0, *, export_day: float | None = None) -> CrmExport:
    """Simulate one horizon of ``scenario`` and export it as a CRM would hold it at ``export_day``.

    Args:
        scenario: a validated scenario with a ``start_date`` (the CRM's dates are calendar dates).
        seed: an int, a ``numpy.random.SeedSequence`` or a ``Generator``; the same seed gives the
            same run as :func:`sim.simulate` with it.
        export_day: the export date in days from the start (0 to the horizon; default the horizon).
            What happened after it is not in the tables: deals closed later are open.

    Raises:
        PresentError: the scenario has no ``start_date``, or ``export_day`` is not a day of the horizon.
        sim.model.size.SizeError: the replication would be too big to run.
    """
    day = _export_day(scenario, export_day)
    check_size(scenario, None)
    return crm_tables(run(scenario, seed, lead_detail=True), day, seed=seed)


def _export_day(scenario: Scenario, export_day) -> float:
    if scenario.start_date is None:
        raise PresentError("start_date", "a CRM export needs calendar dates: give the scenario a start_date "
                                         "(the first day of a month, e.g. 2025-01-01)")
    horizon = scenario.horizon_days
    if export_day is None:
        return horizon
    if isinstance(export_day, bool) or not isinstance(export_day, (int, float, np.integer, np.floating)) \
            or not math.isfinite(export_day) or not 0 <= export_day <= horizon:
        raise PresentError("export_day", f"expected a day from 0 to the horizon ({horizon:g} days), "
                                         f"got {export_day!r}")
    return float(export_day)


def crm_tables(record: Record, export_day: float | None = None, seed=None) -> CrmExport:
    """The CRM tables of a run's record (:func:`sim.model.simulation.run` with ``lead_detail``)."""
    sc = record.scenario
    D = _export_day(sc, export_day)
    if record.detail is None:
        raise PresentError("record", "a CRM export needs a record run with lead_detail=True")
    start = sc.start_date
    leads = _leads(record, D, start)
    deals, history = _deals(record, D, start)
    spend, headcount = _months(record, D, start)
    return CrmExport(leads=leads, deals=deals, stage_history=history, spend=spend, headcount=headcount,
                     export_day=D, export_date=pd.Timestamp(dates(start, [D])[0]), scenario=sc, seed=seed)


def _known(times, D):
    """``times`` where they happened by ``D``, NaN elsewhere."""
    times = np.asarray(times, dtype=float)
    return np.where(times <= D, times, np.nan)


def _leads(r: Record, D: float, start) -> pd.DataFrame:
    book, d = r.book, r.detail
    n = r.leads

    def per_lead(values):
        out = np.full(n, np.nan)
        out[r.mqls] = values
        return out

    mql = per_lead(_known(r.mql_time, D))
    contacted = per_lead(_known(book.contact_time, D))
    qualified = per_lead(_known(book.sql_time, D))
    disqualified = per_lead(_known(np.where(book.state == S.DISQUALIFIED, book.state_time, np.nan), D))
    converted = per_lead(_known(book.opp_start, D))
    status = np.select(
        [np.isfinite(converted), np.isfinite(qualified), np.isfinite(disqualified), np.isfinite(contacted),
         np.isfinite(mql)],
        ["converted", "qualified", "disqualified", "working", "mql"], default="new")
    kept = np.flatnonzero(d.arrival <= D)
    kept = kept[np.argsort(d.arrival[kept], kind="stable")]
    return pd.DataFrame({
        "lead_id": kept,
        "created_date": dates(start, d.arrival[kept]),
        "channel": pd.Categorical.from_codes(d.channel[kept], r.channel_names),
        "segment": segment_labels(r, d)[kept],
        "mql_date": dates(start, mql[kept]),
        "contacted_date": dates(start, contacted[kept]),
        "qualified_date": dates(start, qualified[kept]),
        "disqualified_date": dates(start, disqualified[kept]),
        "status": status[kept],
    })


def _deals(r: Record, D: float, start) -> tuple[pd.DataFrame, pd.DataFrame]:
    book, op = r.book, r.scenario.opportunities
    names = [st.name for st in op.stages]
    n_stages = len(names)
    # Every opportunity of the run, in order of creation (ties in lead order): its deal_id is its place.
    rows = np.flatnonzero(np.isfinite(book.opp_start))
    rows = rows[np.lexsort((r.mqls[rows], book.opp_start[rows]))]
    deal_id = np.arange(len(rows))
    shown = book.opp_start[rows] <= D
    rows, deal_id = rows[shown], deal_id[shown]
    opened = book.opp_start[rows]
    closed = np.isin(book.state[rows], _CLOSED) & (book.state_time[rows] <= D)
    close = np.where(closed, book.state_time[rows], np.nan)
    won = closed & (book.state[rows] == S.WON)
    # Stage boundaries as the event loop scheduled them: the start plus each lead's cumulative stage durations.
    cum = np.cumsum(stage_durations(op, r.mql_u.rows(rows), r.cols, r.mql_stages.rows(rows)), axis=1)
    if op.age_effect is not None:  # stretched by the lead's age at the start, as the event loop stretched them
        cum = cum * age_stretch(op, opened - r.mql_arrival[rows])[:, None]
    bounds = opened[:, None] + cum
    entered = np.column_stack([opened, bounds[:, :-1]])
    last = np.minimum(book.fail_stage[rows], n_stages - 1)  # the last stage of its path
    cut = np.where(closed, close, D)  # what is known of its path ends here
    j = np.arange(n_stages)[None, :]
    in_path = (j <= last[:, None]) & ((j == 0) | np.where(closed[:, None], entered < cut[:, None],
                                                           entered <= cut[:, None]))
    left = np.where(bounds <= cut[:, None], bounds, np.nan)
    current = in_path.sum(axis=1) - 1
    # A deal lost when its AE left leaves the stage it was in then; every other close is a stage's end.
    cut_short = (j == current[:, None]) & (closed & (book.state[rows] == S.LOST_REP_LEFT))[:, None]
    left = np.where(cut_short, close[:, None], left)
    stage = np.where(won, "won", np.where(closed, "lost", np.asarray(names, dtype=object)[current]))
    value = np.full(len(rows), np.nan)
    if won.any():
        value[won] = deal_values(r, rows[won])
    deals = pd.DataFrame({
        "deal_id": deal_id,
        "lead_id": r.mqls[rows],
        "created_date": dates(start, opened),
        "stage": stage,
        "closed_date": dates(start, close),
        "won": won,
        "value": value,
        # The AE who held the deal last: at its close, or at the horizon while open (a handover after an
        # earlier export date is not undone). Reps are numbered in the order their tenures started.
        "owner": np.array([f"ae-{k + 1}" if k >= 0 else None for k in book.owner[rows]], dtype=object),
    })
    deal_of, stage_of = np.nonzero(in_path)  # row-major: deal by deal, stages in order
    history = pd.DataFrame({
        "deal_id": deal_id[deal_of],
        "stage": np.asarray(names, dtype=object)[stage_of],
        "entered_date": dates(start, entered[deal_of, stage_of]),
        "left_date": dates(start, left[deal_of, stage_of]),
    })
    return deals, history


def _months(r: Record, D: float, start) -> tuple[pd.DataFrame, pd.DataFrame]:
    H = r.scenario.horizon_months
    ended = int(sum((k + 1) * DAYS_PER_MONTH <= D for k in range(H)))
    starts = month_starts(start, H)[:ended]
    channels = list(r.plan.spend)
    spend = pd.DataFrame({
        "month_start": np.tile(starts, len(channels)),
        "channel": np.repeat(channels, ended),
        "spend": np.concatenate([r.plan.monthly_spend(c)[:ended] for c in channels]) if channels else [],
    }).sort_values(["month_start", "channel"], kind="stable", ignore_index=True)
    roles = list(r.seats)
    headcount = pd.DataFrame({
        "month_start": np.tile(starts, len(roles)),
        "role": np.repeat(roles, ended),
        "fte": np.concatenate([fte_by_month(r.seats[name], H)[:ended] for name in roles]) if roles else [],
    }).sort_values(["month_start", "role"], kind="stable", ignore_index=True)
    return spend, headcount


def write_crm(export: CrmExport, directory) -> list[Path]:
    """Write the tables of ``export`` as CSV files into ``directory``, with ``about.json``.

    Files: ``leads.csv``, ``deals.csv``, ``stage_history.csv``, ``spend.csv`` and
    ``headcount.csv`` (UTF-8, no index, dates as ``2025-01-03 05:12:00``, empty where
    unknown), and ``about.json`` (scenario, seed, start and export dates, currency, the
    files written, the package and its version). Each is written atomically.

    Args:
        export: a :class:`CrmExport`.
        directory: where to write; created with its parents if missing. It must be empty
            or an earlier call's output, whose files of these names are replaced.

    Returns:
        The paths written, in order.

    Raises:
        PresentError: ``directory`` holds files this function did not write (``directory``);
            nothing is written then.
        OSError: the directory cannot be created or written to.
    """
    directory = Path(directory)
    names = [f"{name}.csv" for name in CRM_FILES]
    earlier = _check_directory(directory, [*names, "about.json"], kind="an earlier CRM export")
    directory.mkdir(parents=True, exist_ok=True)
    sc = export.scenario
    seed = export.seed if isinstance(export.seed, int) else None
    about = {"scenario": sc.name, "seed": seed, "start_date": str(sc.start_date),
             "export_day": export.export_day, "export_date": str(export.export_date),
             "currency": sc.currency, "files": sorted((earlier - {"about.json"}) | set(names)),
             "package": PACKAGE, "version": __version__}
    text = json.dumps(about, indent=2) + "\n"
    _atomic(directory / "about.json", lambda p: p.write_text(text, encoding="utf-8"))  # claims the names first
    written = [_atomic(directory / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False, encoding="utf-8"))
               for name, frame in export.tables().items()]
    return [*written, directory / "about.json"]
