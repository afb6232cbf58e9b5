"""Reading CRM files with a mapping into the normalised tables of :func:`sim.crm_export`.

Each problem that makes the data unusable (a missing column, an unreadable file) is one
line ``file: column: ...``; a row that cannot be used (an unparsable date, a duplicate
id, closed before created, a deal whose lead is unknown) is one line
``file:row:column: ...`` among the warnings, and the row is left out and counted.
``train_until``: rows created after it are left out (counted); a deal closed after it
is open at that date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.errors import CalibrateError
from sim.calibrate.mapping import DATES, Mapping

__all__ = ["DEALS_AS_LEADS", "CrmTables", "read_tables"]

DEALS_AS_LEADS = "opportunities"  # the channel of the leads made from deals, when the data has no leads table


@dataclass
class CrmTables:
    """The normalised tables read, with what was left out and why."""

    tables: dict[str, pd.DataFrame]
    cutoff: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    leads_from_deals: bool = False  # no leads table: each deal is its own lead (see _deals_as_leads)


def _read(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in (".xlsx", ".xls", ".xlsm"):
        return pd.read_excel(path, dtype=str)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_tables(data, mapping: Mapping, train_until=None) -> CrmTables:
    """Read the mapped files of ``data`` (a folder, or a mapping table name -> DataFrame or path).

    Raises:
        CalibrateError: a file is missing or unreadable, or lacks a mapped column (one line each).
    """
    problems: list[tuple[str, str]] = []
    raw: dict[str, tuple[str, pd.DataFrame]] = {}
    for name, tm in mapping.tables.items():
        if isinstance(data, dict):
            item = data.get(name)
            if item is None:
                problems.append((name, f"no {name} table given (the mapping names {tm.file})"))
                continue
            if isinstance(item, pd.DataFrame):
                raw[name] = (tm.file, item.astype(object).where(item.notna(), None).astype(str)
                             .where(item.notna(), np.nan))
                continue
            path = Path(item)
        else:
            path = Path(data) / tm.file
        try:
            raw[name] = (path.name, _read(path))
        except FileNotFoundError:
            problems.append((str(path), "file not found (named by the mapping)"))
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
            problems.append((str(path), f"cannot read it as a table: {exc}"))
    for name, (file, frame) in raw.items():
        for key, column in mapping.tables[name].columns.items():
            if column not in frame.columns:
                problems.append((f"{file}: {column}", f"missing column (mapped to {name}.{key}); the file has "
                                                      f"{', '.join(map(str, frame.columns[:12]))}"))
    if problems:
        raise CalibrateError(problems[0][0], problems[0][1], problems)
    out = CrmTables({}, pd.NaT)
    for name, (file, frame) in raw.items():
        out.tables[name] = _normalise(name, file, frame, mapping, out)
    _check_links(out)
    out.cutoff = _cutoff(out, train_until)
    _censor(out)
    if "leads" not in out.tables and "deals" in out.tables:
        _deals_as_leads(out)
    return out


def _deals_as_leads(out: CrmTables) -> None:
    """Without a leads table, each deal is its own lead, created with the deal, in the deal's channel if mapped.

    So that opportunity-only exports (the public sales-pipeline data) still give the funnel
    something to run on: the lead volumes are then the deal volumes, every lead becomes a deal,
    and what is estimated and tested is the sales side (win chance, time to close, values).
    """
    deals = out.tables["deals"]
    channel = deals["channel"].fillna(DEALS_AS_LEADS).astype(str) if "channel" in deals else DEALS_AS_LEADS
    leads = pd.DataFrame({"lead_id": deals["deal_id"], "created_date": deals["created_date"], "channel": channel,
                          "qualified_date": deals["created_date"],
                          "disqualified_date": pd.Series(pd.NaT, index=deals.index, dtype="datetime64[ns]")})
    leads.attrs = {"file": "(the deals: no leads table)", "columns": {}, "roles": {}}
    attrs = deals.attrs
    deals = deals.assign(lead_id=deals["deal_id"])
    deals.attrs = attrs
    out.tables["deals"], out.tables["leads"] = deals, leads
    out.leads_from_deals = True
    out.warnings.append(f"no leads table: each deal is taken as its own lead, created with it (channel "
                        f"{channel if isinstance(channel, str) else 'of the deal'}); lead volumes are deal volumes, "
                        "and lead qualification is not identified (every lead becomes a deal)")


def _warn(out: CrmTables, table: str, reason: str, lines: list[str]) -> None:
    out.warnings.extend(lines[:20])
    if len(lines) > 20:
        out.warnings.append(f"... and {len(lines) - 20} more rows like these in {table}")
    out.dropped[f"{table}: {reason}"] = out.dropped.get(f"{table}: {reason}", 0) + len(lines)


def _normalise(name: str, file: str, frame: pd.DataFrame, mapping: Mapping, out: CrmTables) -> pd.DataFrame:
    tm = mapping.tables[name]
    df = pd.DataFrame({key: frame[column].to_numpy() for key, column in tm.columns.items()})
    df.index = np.arange(len(df)) + 2  # the file's row number, the header being row 1
    bad = pd.Series(False, index=df.index)
    for key in df.columns:
        column = tm.columns[key]
        if key in DATES:
            text = df[key]
            parsed = pd.to_datetime(text, format=tm.date_format, errors="coerce") if tm.date_format \
                else pd.to_datetime(text, errors="coerce", format="mixed")
            wrong = text.notna() & parsed.isna()
            required = key in ("created_date", "month_start", "entered_date")
            wrong |= text.isna() & required
            lines = [f"{file}:{r}:{column}: expected a date{' (' + tm.date_format + ')' if tm.date_format else ''}, "
                     f"got {text[r]!r}" for r in df.index[wrong]]
            if lines:
                _warn(out, name, f"unparsable or missing {key}", lines)
            bad |= wrong
            df[key] = parsed
        elif key in ("value", "spend", "fte"):
            num = pd.to_numeric(df[key], errors="coerce")
            wrong = df[key].notna() & num.isna()
            lines = [f"{file}:{r}:{column}: expected a number, got {df[key][r]!r}" for r in df.index[wrong]]
            if lines:
                _warn(out, name, f"unparsable {key}", lines)
            bad |= wrong & (key != "value")
            df[key] = num
    id_key = {"leads": "lead_id", "deals": "deal_id"}.get(name)
    if id_key:
        dup = df[id_key].duplicated(keep="first") & df[id_key].notna()
        lines = [f"{file}:{r}:{tm.columns[id_key]}: duplicate id {df[id_key][r]!r} (first at row "
                 f"{df.index[df[id_key] == df[id_key][r]][0]})" for r in df.index[dup]]
        if lines:
            _warn(out, name, f"duplicate {id_key}", lines)
        bad |= dup
    if name == "deals":
        stage = df["stage"].astype(str)
        df["won"] = stage.isin(tm.won) if tm.won else df.get("won", pd.Series(False, index=df.index)).astype(str) \
            .str.lower().isin(["true", "1", "yes"])
        df["lost"] = stage.isin(tm.lost) | (stage.str.lower() == "lost")
        if "closed_date" not in df:
            df["closed_date"] = pd.NaT
        closed = df["won"] | df["lost"]
        nodate = closed & df["closed_date"].isna()
        lines = [f"{file}:{r}:{tm.columns['stage']}: a {df['stage'][r]} deal without a close date" for r in
                 df.index[nodate]]
        if lines:
            _warn(out, name, "closed without a close date", lines)
        bad |= nodate
        df.loc[~closed, "closed_date"] = pd.NaT
        if "value" not in df:
            df["value"] = np.nan
    if "closed_date" in df or "left_date" in df:
        end = "closed_date" if "closed_date" in df else "left_date"
        start = "created_date" if end == "closed_date" else "entered_date"
        neg = df[end].notna() & df[start].notna() & (df[end] < df[start])
        lines = [f"{file}:{r}:{tm.columns.get(end, end)}: closed before it was created "
                 f"({df[end][r].date()} < {df[start][r].date()})" for r in df.index[neg]]
        if lines:
            _warn(out, name, "negative duration", lines)
        bad |= neg
    df = df[~bad].copy()
    df.attrs["file"] = file
    df.attrs["columns"] = tm.columns
    df.attrs["roles"] = tm.roles
    return df


def _check_links(out: CrmTables) -> None:
    leads, deals = out.tables.get("leads"), out.tables.get("deals")
    if leads is None or deals is None or "lead_id" not in deals:
        return
    known = set(leads["lead_id"].dropna())
    unknown = deals["lead_id"].notna() & ~deals["lead_id"].isin(known)
    file, column = deals.attrs["file"], deals.attrs["columns"]["lead_id"]
    lines = [f"{file}:{r}:{column}: lead {deals['lead_id'][r]!r} is not in the leads table" for r in
             deals.index[unknown]]
    if lines:
        _warn(out, "deals", "unknown lead_id", lines)
        keep = deals[~unknown].copy()
        keep.attrs = deals.attrs
        out.tables["deals"] = keep


def _cutoff(out: CrmTables, train_until) -> pd.Timestamp:
    if train_until is not None:
        try:
            return pd.Timestamp(train_until)
        except (ValueError, TypeError):
            raise CalibrateError("train_until", f"expected a date such as 2025-06-30, got {train_until!r}") from None
    latest = [df[c].max() for df in out.tables.values() for c in df.columns
              if c in DATES and c != "month_start" and df[c].notna().any()]
    if not latest:
        raise CalibrateError("deals", "no usable dated rows")
    return max(latest)


def _censor(out: CrmTables) -> None:
    D = out.cutoff
    for name, df in list(out.tables.items()):
        start = "month_start" if "month_start" in df else ("entered_date" if name == "stage_history" else
                                                          "created_date")
        late = df[start] > D
        if late.any():
            out.dropped[f"{name}: created after {D.date()}"] = int(late.sum())
            out.warnings.append(f"{df.attrs['file']}: {int(late.sum())} rows after the training cutoff "
                                f"{D.date()} left out")
        attrs = df.attrs
        df = df[~late].copy()
        df.attrs = attrs
        if name == "deals":
            after = df["closed_date"] > D
            df.loc[after, ["won", "lost"]] = False
            df.loc[after, "closed_date"] = pd.NaT
        for c in ("mql_date", "contacted_date", "qualified_date", "disqualified_date", "left_date"):
            if c in df:
                df.loc[df[c] > D, c] = pd.NaT
        out.tables[name] = df
