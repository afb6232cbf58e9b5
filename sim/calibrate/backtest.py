"""Back-testing: would the model have predicted what happened next?

:func:`backtest` simulates a scenario from its ``start_date`` (many replications, with
:func:`sim.montecarlo.run_many`) and scores the predictive distribution of each
held-out calendar month (the complete months from ``train_until`` to the end of the
actual data) against the actual CRM tables (:func:`read_actual`, the normalised tables
of ``funnel export-crm``): won deals and their value by ``closed_date`` month, and leads
by ``created_date`` month. The simulated runs are measured by exactly the rules the
actual tables are: calendar months of ``start_date + day``, so no model-month
approximation enters the comparison.

With ``known_inputs`` the realised leads per channel and month of the actual leads
table become each marketing channel's ``leads:`` schedule (the month's Poisson mean),
and the realised headcount of the headcount table each role's ``fte_by_month`` (whole
FTE a month), so that the test is of the funnel after the leads and the team, not of the
marketing and hiring forecasts.

Data without a leads table (deals only, such as the public opportunity export) is
back-tested on closes, revenue and time to close: the leads measure and the conversion by
channel are not scored, the model forecasts its own leads, and :attr:`Backtest.warnings`
says so. Data without a headcount table keeps the scenario's roles.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.scores import coverage_verdict, crps, pit_histogram, pit_in_band, randomised_pit, time_to_close_ks
from sim.errors import FunnelError
from sim.model import states as S
from sim.model.measures import deal_values
from sim.model.months import dates
from sim.model.simulation import run
from sim.montecarlo.experiment import run_many
from sim.scenario.schema import Scenario
from sim.seeds import as_seed_sequence

__all__ = ["MEASURES", "Actual", "Backtest", "BacktestError", "actual_from_tables", "backtest", "known_headcount",
           "known_input_scenario", "read_actual"]

MEASURES = ("closes", "revenue", "leads")
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
TTC_QUANTILES = np.linspace(0.01, 0.99, 99)  # each replication's times to close, as 99 quantiles
_CLOSED = (S.WON, S.LOST_PIPELINE, S.LOST_REP_LEFT)
_FILES = {"leads": ("lead_id", "created_date", "channel"),
          "deals": ("deal_id", "lead_id", "created_date", "closed_date", "won", "value")}
_OPTIONAL_FILES = {"headcount": ("month_start", "role", "fte")}  # read when the folder has it
_FED_ROLES = ("sdr", "ae", "customer_success")  # the scenario's roles, as the headcount table names them


class BacktestError(FunnelError):
    """Input a back-test cannot use; names the parameter (or file) and what was expected."""


@dataclass
class Actual:
    """What happened, as normalised CRM tables (the columns of :func:`sim.crm_export`).

    Attributes:
        leads: ``lead_id``, ``created_date``, ``channel`` (more columns are kept, unused);
            ``None`` when the data has no leads table (then leads are not scored).
        deals: ``deal_id``, ``lead_id`` (empty when the data links no leads),
            ``created_date``, ``closed_date`` (NaT while open), ``won``, ``value``.
        export_date: when the tables were taken (the last date anything in them can have);
            ``None`` takes the latest date in them.
        unusable_rows: rows the reader left out, by table and reason
            (``"deals: unparsable or missing created_date"`` -> count), as ``funnel calibrate``
            reports them.
        notes: the reader's line per unusable row (``file:row:column: ...``, at most 20 per reason).
        headcount: the headcount table (``month_start``, ``role``, ``fte``: employed FTE-months
            of each role in each month) if the data has one; with known inputs it is each role's
            ``fte_by_month`` (:func:`known_headcount`).
        leads_from_deals: the data had no leads table and each deal is its own lead, created with it
            (:data:`sim.calibrate.tables.DEALS_AS_LEADS`), as ``funnel calibrate`` takes them.
    """

    leads: pd.DataFrame | None
    deals: pd.DataFrame
    export_date: pd.Timestamp | None = None
    unusable_rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    headcount: pd.DataFrame | None = None
    leads_from_deals: bool = False

    @property
    def end(self) -> pd.Timestamp:
        """The export date, or else the latest date in the tables."""
        if self.export_date is not None:
            return pd.Timestamp(self.export_date)
        seen = [self.deals["created_date"].max(), self.deals["closed_date"].max()]
        if self.leads is not None:
            seen.append(self.leads["created_date"].max())
        seen = [d for d in seen if pd.notna(d)]
        if not seen:
            raise BacktestError("actual", "the tables hold no dates")
        return max(seen)


def _by_month(months, won_month, value, lead_month) -> pd.DataFrame:
    """Closes, revenue and leads by calendar month, counted the same way for a simulated run and the actual tables."""
    return pd.DataFrame({
        "month": months,
        "closes": [np.count_nonzero(won_month == m) for m in months],
        "revenue": [float(value[won_month == m].sum()) for m in months],
        "leads": [np.count_nonzero(lead_month == m) for m in months],
    })


def read_actual(directory, mapping=None) -> Actual:
    """Read the actual CRM tables of ``directory``.

    Without ``mapping``: ``leads.csv`` and ``deals.csv`` as ``funnel export-crm`` writes them, and
    ``headcount.csv`` (``month_start``, ``role``, ``fte``) if the folder has it.
    With ``mapping``: the files the mapping names, read as ``funnel calibrate`` reads them
    (:func:`sim.calibrate.tables.read_tables`), all of them: no training cut, for the held-out
    months come after it. Unusable rows are left out and counted (:attr:`Actual.unusable_rows`).
    Either way ``about.json``'s export date is used if the folder has one.

    Args:
        directory: a folder of CRM files; with ``mapping`` also a dict of table name ->
            DataFrame or path, as :func:`sim.calibrate.calibrate` takes.
        mapping: a mapping file's path or a :class:`sim.calibrate.mapping.Mapping`; ``None``
            reads the normalised tables of ``funnel export-crm``.

    Raises:
        BacktestError: the folder or a file is missing, a column is missing or a date unreadable
            (every problem at once, parameter ``data`` or the file's name).
        CalibrateError: with ``mapping``: the mapping file cannot be read or used, or a mapped
            file or column is missing (one problem per file or column).
    """
    if mapping is not None:
        return _read_mapped(directory, mapping)
    directory = Path(directory)
    if not directory.is_dir():
        raise BacktestError("data", f"expected a folder of CRM tables (leads.csv, deals.csv), got {str(directory)!r}")
    problems: list[tuple[str, str]] = []
    frames: dict[str, pd.DataFrame] = {}
    for name, columns in {**_FILES, **_OPTIONAL_FILES}.items():
        path = directory / f"{name}.csv"
        if not path.is_file() and name in _OPTIONAL_FILES:
            continue
        if not path.is_file():
            problems.append((str(path), f"is missing: expected the {name} table with columns {', '.join(columns)}"))
            continue
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            problems.append((str(path), f"cannot be read as CSV: {exc}"))
            continue
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.append((str(path), f"expected columns {', '.join(columns)}; missing {', '.join(missing)}"))
            continue
        for column in [c for c in columns if c.endswith("_date") or c == "month_start"]:
            parsed = pd.to_datetime(frame[column], errors="coerce")
            bad = frame[column].notna() & parsed.isna()
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 2  # the file's line: after the header, from 1
                problems.append((str(path), f"column {column}: expected dates such as 2025-01-03, got "
                                            f"{frame.loc[bad, column].iloc[0]!r} (line {row})"))
            frame[column] = parsed
        if name == "headcount":
            fte = pd.to_numeric(frame["fte"], errors="coerce")
            bad = fte.isna() | (fte < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0]) + 2
                problems.append((str(path), f"column fte: expected FTE-months of at least 0, got "
                                            f"{frame.loc[bad, 'fte'].iloc[0]!r} (line {row})"))
            frame["fte"] = fte
        frames[name] = frame
    export_date = _export_date(directory, problems)
    if problems:
        raise BacktestError(*problems[0], problems=problems)
    deals = frames["deals"]
    deals["won"] = deals["won"].astype(str).str.lower().isin(["true", "1", "yes"])
    leads = frames["leads"]
    leads["channel"] = leads["channel"].astype(str)
    return Actual(leads=leads, deals=deals, export_date=export_date, headcount=frames.get("headcount"))


def _export_date(directory: Path, problems: list[tuple[str, str]]) -> pd.Timestamp | None:
    """``about.json``'s export date (``funnel export-crm`` writes it), if the folder has the file."""
    about = directory / "about.json"
    if not about.is_file():
        return None
    try:
        return pd.Timestamp(json.loads(about.read_text(encoding="utf-8"))["export_date"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append((str(about), f"expected JSON with an export_date, could not read it: {exc}"))
        return None


def _read_mapped(data, mapping) -> Actual:
    from sim.calibrate.mapping import Mapping, load_mapping
    from sim.calibrate.tables import read_tables

    if not isinstance(mapping, (Mapping, str, PathLike)):
        raise BacktestError("mapping", f"expected a mapping file's path or a Mapping, got {type(mapping).__name__}")
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if isinstance(data, dict):
        return actual_from_tables(read_tables(data, mapping))
    directory = Path(data)
    if not directory.is_dir():
        files = ", ".join(tm.file for tm in mapping.tables.values())
        raise BacktestError("data", f"expected a folder holding the mapped files ({files}), got {str(directory)!r}")
    problems: list[tuple[str, str]] = []
    export_date = _export_date(directory, problems)
    if problems:
        raise BacktestError(*problems[0], problems=problems)
    return actual_from_tables(read_tables(directory, mapping), export_date)  # train_until None: every row


def actual_from_tables(tables, export_date=None) -> Actual:
    """The :class:`Actual` of normalised tables read through a mapping.

    Args:
        tables: a :class:`sim.calibrate.tables.CrmTables` (what :func:`sim.calibrate.tables.read_tables`
            returns); read it without a training cut, or the held-out months are missing.
        export_date: when the data was taken; ``None`` takes the latest date in the tables.

    Returns:
        The deals (a ``lead_id`` column of empty values if the data links no leads), the leads
        (without a leads table, each deal its own lead, as the reader makes them:
        ``leads_from_deals``; ``channel`` ``"all"`` without a channel column, as calibrate names
        it), the headcount table if any, and the rows the reader left out (``unusable_rows``,
        ``notes``).
    """
    deals = tables.tables["deals"].copy()
    if "lead_id" not in deals:
        deals["lead_id"] = pd.Series(np.nan, index=deals.index, dtype=object)
    deals["won"] = deals["won"].astype(bool)
    leads = tables.tables.get("leads")
    if leads is not None:
        leads = leads.copy()
        leads["channel"] = leads["channel"].astype(str) if "channel" in leads else "all"
        leads = leads.reset_index(drop=True)
    headcount = tables.tables.get("headcount")
    return Actual(leads=leads, deals=deals.reset_index(drop=True), export_date=export_date,
                  unusable_rows={k: int(v) for k, v in tables.dropped.items()}, notes=list(tables.warnings),
                  leads_from_deals=tables.leads_from_deals,
                  headcount=None if headcount is None else headcount.copy())


def _month_index(start: pd.Timestamp, when) -> np.ndarray:
    """Calendar months from ``start`` of each date (NaT gives -1)."""
    when = pd.DatetimeIndex(pd.to_datetime(np.asarray(when, dtype="datetime64[ns]")))
    out = (when.year - start.year) * 12 + (when.month - start.month)
    return np.where(when.isna(), -1, np.asarray(out, dtype=float)).astype(int)


@dataclass(frozen=True)
class _Window:
    """The held-out months: calendar months ``first .. last`` from the start (inclusive), and their dates."""

    first: int
    last: int
    begin: pd.Timestamp  # the first held-out month's first day
    end: pd.Timestamp  # the day after the last held-out month

    @property
    def months(self) -> int:
        return self.last - self.first + 1


class _BacktestModel:
    """The model function of a back-test: per calendar month in the window, what the actual tables show.

    A module-level class so that it pickles for worker processes; ``run_many`` calls it as
    ``model(scenario, seed) -> (measures, monthly)``.
    """

    def __init__(self, window: _Window, channels: list[str]):
        self.window, self.channels = window, channels

    def __call__(self, scenario: Scenario, seed, trace: bool = False):
        w = self.window
        r = run(scenario, seed, lead_detail=True)
        start = pd.Timestamp(scenario.start_date)
        d, book = r.detail, r.book
        lead_month = _month_index(start, dates(start, d.arrival))
        names = np.asarray(r.channel_names, dtype=object)
        lead_channel = names[d.channel]
        rows = np.flatnonzero(np.isfinite(book.opp_start))
        opened = book.opp_start[rows]
        closed = np.isin(book.state[rows], _CLOSED)
        close = np.where(closed, book.state_time[rows], np.nan)
        won = closed & (book.state[rows] == S.WON)
        value = np.zeros(len(rows))
        if won.any():
            value[won] = deal_values(r, rows[won])
        close_date = dates(start, close)
        open_date = dates(start, opened)
        close_month = _month_index(start, close_date)
        months = np.arange(w.first, w.last + 1)
        won_month = np.where(won, close_month, -1)
        monthly = _by_month(months, won_month, value, lead_month)
        measures = _window_measures(w, np.arange(len(d.arrival)), lead_month, lead_channel, r.mqls[rows],
                                    open_date, close_date, won, self.channels)
        measures["ttc"] = _ttc_quantiles(open_date, close_date, w)
        if trace:
            return measures, monthly, pd.DataFrame()
        return measures, monthly


def _in_window(when, w: _Window) -> np.ndarray:
    when = np.asarray(when, dtype="datetime64[ns]")
    return ~np.isnat(when) & (when >= w.begin.to_datetime64()) & (when < w.end.to_datetime64())


def _times_to_close(open_date, close_date, w: _Window) -> np.ndarray:
    """Days from creation to close of the deals created and closed inside the window (the censoring rule)."""
    keep = _in_window(open_date, w) & _in_window(close_date, w)
    opened, closed = np.asarray(open_date, dtype="datetime64[ns]"), np.asarray(close_date, dtype="datetime64[ns]")
    delta = closed[keep] - opened[keep]
    return delta.astype("timedelta64[ns]").astype(np.int64) / 86_400e9


def _ttc_quantiles(open_date, close_date, w: _Window) -> dict:
    days = _times_to_close(open_date, close_date, w)
    q = np.quantile(days, TTC_QUANTILES) if len(days) else np.full(len(TTC_QUANTILES), np.nan)
    return {f"q{i:02d}": float(v) for i, v in enumerate(q, start=1)}


def _window_measures(w: _Window, lead_id, lead_month, lead_channel, deal_lead, open_date, close_date, won,
                     channels: list[str]) -> dict:
    """Per channel: the share of the leads created in the window that became a deal, or a won deal, by its end."""
    in_w = (lead_month >= w.first) & (lead_month <= w.last)
    end = w.end.to_datetime64()
    opened, closed = np.asarray(open_date, dtype="datetime64[ns]"), np.asarray(close_date, dtype="datetime64[ns]")
    deal_by_end = ~np.isnat(opened) & (opened < end)
    won_by_end = np.asarray(won, dtype=bool) & ~np.isnat(closed) & (closed < end)
    deal_lead = np.asarray(deal_lead)
    lead_id = np.asarray(lead_id)
    out: dict = {"deal_share": {}, "win_share": {}}
    for c in channels:
        mine = lead_id[in_w & (lead_channel == c)]
        n = len(mine)
        out["deal_share"][c] = float(np.isin(mine, deal_lead[deal_by_end]).mean()) if n else math.nan
        out["win_share"][c] = float(np.isin(mine, deal_lead[won_by_end]).mean()) if n else math.nan
    return out


def _actual_measures(actual: Actual, start: pd.Timestamp, w: _Window, channels: list[str]):
    deals = actual.deals
    leads = actual.leads if actual.leads is not None else \
        pd.DataFrame({"lead_id": pd.Series([], dtype=object), "created_date": pd.Series([], dtype="datetime64[ns]"),
                      "channel": pd.Series([], dtype=object)})
    lead_month = _month_index(start, leads["created_date"])
    close_month = _month_index(start, deals["closed_date"])
    won = deals["won"].to_numpy(dtype=bool)
    value = pd.to_numeric(deals["value"], errors="coerce").fillna(0.0).to_numpy()
    months = np.arange(w.first, w.last + 1)
    won_month = np.where(won, close_month, -1)
    monthly = _by_month(months, won_month, value, lead_month)
    measures = _window_measures(w, leads["lead_id"].to_numpy(), lead_month, leads["channel"].to_numpy(dtype=object),
                                deals["lead_id"].to_numpy(), deals["created_date"].to_numpy(),
                                deals["closed_date"].to_numpy(), won, channels)
    ttc = _times_to_close(deals["created_date"].to_numpy(), deals["closed_date"].to_numpy(), w)
    return monthly, measures, ttc


@dataclass
class Backtest:
    """A back-test's scores (see :func:`backtest`).

    Attributes:
        table: one row per held-out month and measure: ``month_start``, ``measure``
            (``closes``, ``revenue``, ``leads``), ``actual``, ``mean``, ``q10`` .. ``q90`` of
            the predictive distribution, ``pit`` (randomised), ``in50`` and ``in80`` (the actual
            in the central 50% / 80% band, read from the PIT so that an actual at a band's end
            counts in with the probability that makes a calibrated forecast cover exactly 50% /
            80%: :func:`sim.calibrate.scores.pit_in_band`) and ``crps``.
        coverage: per measure and band (``"closes"`` -> ``{"50": verdict, "80": verdict}``),
            each a :class:`sim.calibrate.scores.CoverageVerdict`; ``"all"`` pools the measures.
        conversion: one row per channel: the share of the leads created in the window that became
            a deal (``deal_*``) or a won deal (``win_*``) by its end: actual, predicted P10, P50,
            P90 and whether the actual is inside.
        ttc: the KS distance of the times to close (deals created and closed inside the window,
            the same rule for both), with its p-value and the sample sizes.
        pit_counts: the PIT histogram (10 bins) of every scored month and measure.
        train_until, window_start, window_end: the training cut and the held-out months
            (``window_end`` is the day after the last).
        reps, seed, known_inputs: how it was run (``known_inputs`` is whether the realised leads
            were fed in: never without a leads table).
        scenario: the scenario simulated (with the known inputs, if any).
        measures: the measures scored: ``closes``, ``revenue`` and, with a leads table, ``leads``.
        warnings: what could not be scored or fed in, and the unusable rows left out, one sentence each.
        unusable_rows: the rows the reader left out, by table and reason (:attr:`Actual.unusable_rows`).
    """

    table: pd.DataFrame
    coverage: dict
    conversion: pd.DataFrame
    ttc: dict
    pit_counts: np.ndarray
    train_until: pd.Timestamp
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    reps: int
    seed: object
    known_inputs: bool
    scenario: Scenario = field(repr=False)
    measures: tuple[str, ...] = MEASURES
    warnings: list[str] = field(default_factory=list)
    unusable_rows: dict[str, int] = field(default_factory=dict)

    @property
    def mean_crps(self) -> dict:
        """The mean CRPS per measure (in its units: deals, currency, leads)."""
        return {m: float(g["crps"].mean()) for m, g in self.table.groupby("measure", sort=False)}

    def summary(self) -> dict:
        """Coverage verdicts, KS, mean CRPS and per-channel conversion, as plain data."""
        return {
            "train_until": str(self.train_until.date()), "window_start": str(self.window_start.date()),
            "window_end": str(self.window_end.date()), "months": int(self.table["month_start"].nunique()),
            "reps": self.reps, "known_inputs": self.known_inputs, "measures": list(self.measures),
            "warnings": list(self.warnings), "unusable_rows": dict(self.unusable_rows),
            "coverage": {m: {b: v.to_dict() for b, v in bands.items()} for m, bands in self.coverage.items()},
            "time_to_close": self.ttc, "mean_crps": self.mean_crps,
            "pit_histogram": [int(c) for c in self.pit_counts],
            "conversion": self.conversion.to_dict(orient="records"),
        }

    def to_json(self) -> str:
        """The table and the summary as strict JSON (NaN as null)."""
        table = self.table.assign(month_start=self.table["month_start"].dt.strftime("%Y-%m-%d"))
        data = {"summary": self.summary(), "table": table.to_dict(orient="records")}
        return json.dumps(_plain(data), indent=2, allow_nan=False)

    def __repr__(self) -> str:
        v = self.coverage["all"]["80"]
        return (f"Backtest(scenario={self.scenario.name!r}, window={self.window_start.date()}.."
                f"{(self.window_end - pd.Timedelta(days=1)).date()}, reps={self.reps}, 80% band: {v.covered}/"
                f"{v.months} -> {v.verdict})")


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return str(value)
    return value


def _window(scenario: Scenario, actual: Actual, train_until, months) -> tuple[_Window, pd.Timestamp]:
    if scenario.start_date is None:
        raise BacktestError("start_date", "a back-test needs calendar dates: give the scenario a start_date")
    start = pd.Timestamp(scenario.start_date)
    try:
        cut = pd.Timestamp(train_until)
    except (TypeError, ValueError):
        raise BacktestError("train_until", f"expected a date such as 2025-07-01, got {train_until!r}") from None
    if pd.isna(cut):
        raise BacktestError("train_until", f"expected a date such as 2025-07-01, got {train_until!r}")
    cut = cut.normalize()
    begin = cut if cut.day == 1 else (cut + pd.offsets.MonthBegin(1))
    first = int(_month_index(start, [begin])[0])
    end_data = actual.end
    # The last complete month of the data: the month whose next month starts at or before the export date.
    last_data = int(_month_index(start, [end_data])[0]) - 1
    if months is not None:
        if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
            raise BacktestError("months", f"expected a whole number of months of at least 1, got {months!r}")
        last = first + int(months) - 1
    else:
        last = last_data
    if first < 1:
        raise BacktestError("train_until", f"expected a date after the scenario's first month "
                                           f"(start_date {start.date()}), got {cut.date()}")
    if last > last_data:
        raise BacktestError("months" if months is not None else "train_until",
                            f"the held-out months must end by the last complete month of the data "
                            f"({(start + pd.DateOffset(months=last_data)).date() if last_data >= 0 else 'none'}; "
                            f"the data end {end_data.date()}); {begin.date()} onwards has "
                            f"{max(0, last_data - first + 1)} complete months")
    if last < first:
        raise BacktestError("train_until", f"expected a date before the last complete month of the data "
                                           f"({(start + pd.DateOffset(months=max(last_data, 0))).date()}), "
                                           f"got {cut.date()}")
    window = _Window(first=first, last=last, begin=start + pd.DateOffset(months=first),
                     end=start + pd.DateOffset(months=last + 1))
    return window, cut


def known_input_scenario(scenario: Scenario, actual: Actual, last_month: int) -> Scenario:
    """``scenario`` with each marketing channel's leads per month the actual leads table's (months 0 .. last_month).

    The realised count of month ``k`` becomes month ``k``'s Poisson mean (the model's months are
    30.4375 days, a calendar month 28 to 31); later months repeat the last. A channel with a
    response curve drops it, with its carryover, lag, history and baseline; every channel drops its
    ``rate_cv`` (the realised months already hold their ups and downs). With a headcount table,
    the realised headcount is fed in too (:func:`known_headcount`).

    Raises:
        BacktestError: the data has no leads table; or the realised headcount cannot be given to
            the scenario (a budget split that sets the team).
    """
    if actual.leads is None:
        raise BacktestError("actual", "the data has no leads table: there are no realised leads to feed in")
    scenario = _with_known_headcount(scenario, actual, last_month)
    start = pd.Timestamp(scenario.start_date)
    month = _month_index(start, actual.leads["created_date"])
    channel = actual.leads["channel"].to_numpy(dtype=object)
    changes = {}
    for name in scenario.channels:
        counts = [float(np.count_nonzero((month == k) & (channel == name))) for k in range(last_month + 1)]
        changes[f"channels.{name}.leads"] = counts or [0.0]
        changes[f"channels.{name}.response"] = None
        changes[f"channels.{name}.carryover"] = 0.0
        changes[f"channels.{name}.lag_months"] = 0
        changes[f"channels.{name}.history"] = []
        changes[f"channels.{name}.baseline_leads"] = 0.0
        changes[f"channels.{name}.rate_cv"] = 0.0  # the realised months already hold their ups and downs
    return scenario.replace(changes) if changes else scenario


def known_headcount(scenario: Scenario, actual: Actual, last_month: int) -> tuple[dict, list[str]]:
    """The realised headcount of ``actual`` as changes to ``scenario``'s roles, months 0 .. ``last_month``.

    Each role of the scenario that the headcount table has (``sdr``, ``ae``,
    ``customer_success``, as the mapping names them) gets ``fte_by_month``: the table's FTE
    of each calendar month from the scenario's ``start_date`` (FTE-months, summed over the
    month's rows), rounded to whole FTE (half up), with ``fte`` its first month, no hires and
    no attrition; later months repeat the last. A month the table does not cover takes the
    last month before it that it does (the first it covers, for months before that).

    Returns:
        ``(changes, warnings)``: the changes for :meth:`Scenario.replace`, empty without a
        headcount table; and one sentence per role about months the table does not cover or
        fractional FTE rounded, or a role of the table the scenario does not have.
    """
    head = actual.headcount
    if head is None or not len(head):
        return {}, []
    start = pd.Timestamp(scenario.start_date)
    names = head.attrs.get("roles", {})
    role = head["role"].map(lambda r: str(names.get(r, r))).to_numpy(dtype=object)
    month = _month_index(start, head["month_start"])
    fte = pd.to_numeric(head["fte"], errors="coerce").to_numpy(dtype=float)
    changes, warnings = {}, []
    for name in sorted(r for r in set(role) if r not in _FED_ROLES or getattr(scenario.roles, r) is None):
        warnings.append(f"the headcount table's role {name!r} is not fed in: the scenario has no such role")
    months = np.arange(last_month + 1)
    label = lambda k: f"{start + pd.DateOffset(months=int(k)):%Y-%m}"  # noqa: E731
    for name in _FED_ROLES:
        mine = (role == name) & (month >= 0) & (month <= last_month) & np.isfinite(fte)
        if getattr(scenario.roles, name) is None or not mine.any():
            continue
        total = np.bincount(month[mine], weights=fte[mine], minlength=last_month + 1)
        covered = np.bincount(month[mine], minlength=last_month + 1) > 0
        known = np.flatnonzero(covered)
        # The last covered month at or before each month (the first covered one before the table starts).
        source = known[np.clip(np.searchsorted(known, months, side="right") - 1, 0, None)]
        value = total[source]
        whole = np.floor(value + 0.5).astype(int)
        schedule = [int(x) for x in whole]
        changes.update({f"roles.{name}.fte_by_month": schedule, f"roles.{name}.fte": schedule[0],
                        f"roles.{name}.hires": [], f"roles.{name}.attrition_year": 0.0})
        if not covered.all():
            gaps = _month_runs([label(k) for k in months[~covered]])
            warnings.append(f"the headcount table has no {name} rows for {gaps}: each such month takes the nearest "
                            f"earlier month it has ({label(known[0])} for months before it)")
        fractional = np.flatnonzero(np.abs(total[known] - np.round(total[known])) > 1e-9)
        if len(fractional):
            k = known[fractional[0]]
            warnings.append(f"the headcount table's {name} FTE-months are fractional in {len(fractional)} months "
                            f"(a rep joined or left mid-month): fed in rounded to whole FTE (the first: "
                            f"{label(k)}, {total[k]:.4g} -> {int(np.floor(total[k] + 0.5))})")
    return changes, warnings


def _month_runs(labels: list[str]) -> str:
    """Consecutive months (``YYYY-MM``, in order) as runs: ``2025-03, 2025-06 to 2025-08``."""
    periods = [pd.Period(x, "M") for x in labels]
    parts, k = [], 0
    while k < len(periods):
        j = k
        while j + 1 < len(periods) and periods[j + 1] == periods[j] + 1:
            j += 1
        parts.append(labels[k] if j == k else f"{labels[k]} to {labels[j]}")
        k = j + 1
    return ", ".join(parts)


def _with_known_headcount(scenario: Scenario, actual: Actual, last_month: int) -> Scenario:
    """``scenario`` with the realised headcount (:func:`known_headcount`) fed in, one line naming why if it cannot."""
    from sim.scenario.messages import ScenarioError

    changes, _ = known_headcount(scenario, actual, last_month)
    if not changes:
        return scenario
    try:
        return scenario.replace(changes)
    except ScenarioError as exc:
        field, why = exc.problems[0]
        raise BacktestError("scenario", f"the realised headcount cannot be fed in: {field}: {why}") from None


def backtest(scenario: Scenario, actual: Actual, train_until, months: int | None = None, reps: int = 200,
             seed=0, known_inputs: bool = True) -> Backtest:
    """Back-test ``scenario`` on the held-out months of ``actual`` after ``train_until``.

    Args:
        scenario: the funnel from its ``start_date`` (which must be set), covering the held-out months.
        actual: what happened (:func:`read_actual`, or an :class:`Actual` of normalised tables).
        train_until: the training cut (a date); the held-out window starts at the first month
            starting on or after it and runs to the last complete month of the data. A scenario
            whose horizon ends sooner (a calibrated one runs a year past its cut) is simulated on to the
            window's end: its ``horizon_months`` is raised, with a warning.
        months: held-out months to score (default: all to the end of the data).
        reps: replications of the predictive distribution.
        seed: the root seed of the replications, and of the PIT's randomisation.
        known_inputs: feed the realised leads per channel and month, and the realised headcount
            per role and month, into the scenario (see :func:`known_input_scenario`); off, the
            model forecasts its own leads and uses the scenario's team. Without a leads
            table (``actual.leads`` is ``None``) they cannot be fed in: the model forecasts its own
            leads, leads and the conversion by channel are not scored, and warnings say so.

    Returns:
        The :class:`Backtest`; its ``warnings`` say what could not be scored or fed in and
        how many unusable rows the reader left out.

    Raises:
        BacktestError: no ``start_date``, a ``train_until`` or ``months`` that leaves no complete
            held-out month inside the data and the horizon, a bad ``reps`` or ``seed``.
    """
    if not isinstance(actual, Actual):
        raise BacktestError("actual", f"expected the CRM tables (sim.calibrate.backtest.Actual), got "
                                      f"{type(actual).__name__}")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        raise BacktestError("reps", f"expected an integer of at least 2, got {reps!r}")
    w, cut = _window(scenario, actual, train_until, months)
    root = as_seed_sequence(seed)
    warnings = _data_warnings(actual, bool(known_inputs))
    if w.last >= scenario.horizon_months:
        warnings.append(f"the scenario's horizon ({scenario.horizon_months} months from {scenario.start_date}) ends "
                        f"before the held-out months do: simulated for {w.last + 1} months, to "
                        f"{(w.end - pd.Timedelta(days=1)).date()}")
        scenario = scenario.replace(horizon_months=w.last + 1)
    has_leads = actual.leads is not None
    fed = bool(known_inputs) and has_leads
    if fed:
        warnings += _channel_warnings(scenario, actual)
    used = known_input_scenario(scenario, actual, w.last) if fed else scenario
    if known_inputs:
        warnings += known_headcount(scenario, actual, w.last)[1]
        if not fed:  # no leads table: the headcount alone is fed in
            used = _with_known_headcount(used, actual, w.last)
    measures = MEASURES if has_leads else tuple(m for m in MEASURES if m != "leads")
    channels = list(scenario.channels) + ["outbound"]
    seen = set(actual.leads["channel"]) if has_leads else set()
    channels = [c for c in channels if has_leads and (c in seen or c in scenario.channels)]
    experiment = run_many(used, reps=int(reps), seed=root, model=_BacktestModel(w, channels))
    if experiment.replications.empty:
        raise BacktestError("scenario", f"every replication failed: {experiment.failures['error'].iloc[0]}")
    start = pd.Timestamp(scenario.start_date)
    actual_monthly, actual_window, actual_ttc = _actual_measures(actual, start, w, channels)
    sim_monthly = experiment.monthly
    if not sim_monthly["leads"].any():
        warnings.append("the scenario made no leads in the held-out months in any replication (no channels and no "
                        "outbound, as a calibration without a leads table writes it): every forecast is 0")
    # The PIT's randomisation: a stream of its own, apart from every replication's (spawn keys 0 .. reps - 1).
    rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, 2**31)))
    rows = []
    for m in range(w.first, w.last + 1):
        here = sim_monthly[sim_monthly["month"] == m]
        observed = actual_monthly[actual_monthly["month"] == m].iloc[0]
        for measure in measures:
            x = here[measure].to_numpy(dtype=float)
            y = float(observed[measure])
            q = np.quantile(x, QUANTILES)
            rows.append({"month_start": start + pd.DateOffset(months=m), "measure": measure, "actual": y,
                         "mean": float(x.mean()),
                         **{f"q{round(p * 100)}": float(v) for p, v in zip(QUANTILES, q, strict=True)},
                         "pit": (u := randomised_pit(x, y, rng)), "in50": pit_in_band(u, 0.5),
                         "in80": pit_in_band(u, 0.8), "crps": crps(x, y)})
    table = pd.DataFrame(rows)
    table["month_start"] = pd.to_datetime(table["month_start"])
    coverage = {}
    for measure, g in [*table.groupby("measure", sort=False), ("all", table)]:
        coverage[measure] = {band: coverage_verdict(int(g[f"in{band}"].sum()), len(g), int(band) / 100)
                             for band in ("50", "80")}
    reps_table = experiment.replications
    conversion = []  # one row per channel; none without a leads table
    for c in channels:
        row = {"channel": c}
        for kind in ("deal", "win"):
            x = reps_table[f"{kind}_share.{c}"].to_numpy(dtype=float)
            x = x[np.isfinite(x)]
            a = actual_window[f"{kind}_share"][c]
            lo, mid, hi = np.quantile(x, [0.1, 0.5, 0.9]) if len(x) else (math.nan,) * 3
            row.update({f"{kind}_actual": a, f"{kind}_p10": float(lo), f"{kind}_p50": float(mid),
                        f"{kind}_p90": float(hi), f"{kind}_in80": bool(lo <= a <= hi) if math.isfinite(a) else None})
        conversion.append(row)
    ttc_cols = [f"ttc.q{i:02d}" for i in range(1, len(TTC_QUANTILES) + 1)]
    simulated_ttc = reps_table[ttc_cols].to_numpy(dtype=float).ravel()
    ttc = time_to_close_ks(actual_ttc, simulated_ttc)
    ttc["rule"] = "deals created and closed inside the held-out window, in both the actual and the simulated runs"
    conversion = pd.DataFrame(conversion, columns=["channel"] + [f"{kind}_{what}" for kind in ("deal", "win") for what
                                                                 in ("actual", "p10", "p50", "p90", "in80")])
    return Backtest(table=table, coverage=coverage, conversion=conversion, ttc=ttc,
                    pit_counts=pit_histogram(table["pit"]), train_until=cut, window_start=w.begin,
                    window_end=w.end, reps=int(reps), seed=seed, known_inputs=fed, scenario=used,
                    measures=measures, warnings=warnings, unusable_rows=dict(actual.unusable_rows))


def _data_warnings(actual: Actual, known_inputs: bool) -> list[str]:
    """What the data leaves unscored or unfed, and the rows the reader left out, one sentence each."""
    out = []
    if actual.leads is None:
        out.append("no leads table: leads and conversion by channel not scored; the model forecasts its own leads"
                   + (" (the realised leads cannot be fed in)" if known_inputs else ""))
    if actual.leads_from_deals:
        out.append("no leads table: each deal is taken as its own lead, created with it, so the leads measure "
                   "counts the deals created" + (" (and those are fed in)" if known_inputs else ""))
    dropped = sum(actual.unusable_rows.values())
    if dropped:
        reasons = "; ".join(f"{why}: {n}" for why, n in actual.unusable_rows.items())
        first = f"; the first: {actual.notes[0]}" if actual.notes else ""
        out.append(f"{dropped} unusable rows left out of the data ({reasons}){first}")
    return out


def _channel_warnings(scenario: Scenario, actual: Actual) -> list[str]:
    """Channels of the data and of the scenario that do not meet: their leads are not fed in (or fed in as none)."""
    seen = set(actual.leads["channel"])
    out = []
    lost = sorted(c for c in seen if c not in scenario.channels and c != "outbound")
    if lost:
        out.append(f"leads of channels the scenario does not have are not fed in: {', '.join(lost)}")
    empty = sorted(c for c in scenario.channels if c not in seen)
    if empty:
        out.append(f"channels with no leads in the data are fed in as none: {', '.join(empty)}")
    return out
