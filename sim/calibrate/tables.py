"""Reading CRM files with a mapping into the normalised tables of :func:`sim.crm_export`.

Each problem that makes the data unusable (a missing column, an unreadable file) is one
line ``file: column: ...``; a row that cannot be used (an unparsable date, a duplicate
id, closed before created, a deal whose lead is unknown) is one line
``file:row:column: ...`` among the warnings, and the row is left out and counted.
``train_until``: rows created after it are left out (counted); a deal closed after it
is open at that date.

What real exports do, read as such: a UTF-8 byte-order mark or Windows-1252 text (said
among the warnings), blanks around cells and headers, ids written as numbers (``51.0`` is
id ``51``), Excel cells that are dates, dates with a time zone (converted to UTC, then
written without it; dates without one are kept as they are), stage values in any case.
A file that is not a table (binary, a broken quote, a row with more fields than the
header, an ``.xlsx`` that is not a workbook, empty) is one error line naming the file.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate.errors import CalibrateError
from sim.calibrate.mapping import DATES, Mapping, stage_key

__all__ = ["DEALS_AS_LEADS", "CrmTables", "parse_train_until", "read_tables"]

DEALS_AS_LEADS = "opportunities"  # the channel of the leads made from deals, when the data has no leads table


@dataclass
class CrmTables:
    """The normalised tables read, with what was left out and why."""

    tables: dict[str, pd.DataFrame]
    cutoff: pd.Timestamp
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    leads_from_deals: bool = False  # no leads table: each deal is its own lead (see _deals_as_leads)
    no_lost_deals: bool = False  # no deal lost by the cutoff: the win chance is not identified (_no_lost_deals)


IDS = {"lead_id", "deal_id"}


class _Unreadable(Exception):
    """A file that is not a table: the message says why, in the user's words."""


def _cell(value):
    """A cell as text (None if blank), or a Timestamp if it is a date (an Excel date cell)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime | pd.Timestamp | np.datetime64):
        return pd.Timestamp(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an id or a count stored as a number: 51.0 is 51
    text = str(value).strip()
    return text or None


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).map(_cell)
    out.columns = [str(c).strip() for c in frame.columns]
    return out


EXCEL = (".xlsx", ".xlsm")


def _read(path: Path, notes: list[str], sheet: str | int | None = None) -> pd.DataFrame:
    if path.suffix.lower() in EXCEL:
        if not zipfile.is_zipfile(path):
            raise _Unreadable("not an Excel workbook (an .xlsx file is a zip archive; this one is not): save it "
                              "again as .xlsx, or as CSV")
        try:
            book = pd.ExcelFile(path)
        except Exception as exc:  # noqa: BLE001 - a damaged workbook is the file's problem
            raise _Unreadable(f"a damaged Excel workbook: {exc}") from None
        with book:
            names = book.sheet_names
            if isinstance(sheet, str) and sheet not in names or isinstance(sheet, int) and sheet >= len(names):
                raise _Unreadable(f"the workbook has no sheet {sheet!r} (named by the mapping's sheet); it has "
                                  f"{', '.join(map(repr, names))}")
            try:
                return _cells(book.parse(0 if sheet is None else sheet, dtype=object))
            except Exception as exc:  # noqa: BLE001 - a damaged workbook is the file's problem
                raise _Unreadable(f"a damaged Excel workbook: {exc}") from None
    if path.suffix.lower() == ".xls":
        raise _Unreadable("the old Excel format .xls is not read: save it as .xlsx or CSV")
    raw = path.read_bytes()
    if not raw.strip():
        raise _Unreadable("the file is empty; expected a header row and a row per record")
    if b"\x00" in raw[:65536]:
        raise _Unreadable("not a text file (it holds NUL bytes: a binary file, or UTF-16 text): expected a CSV file "
                          "(save it as CSV UTF-8)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
        notes.append(f"{path.name}: not UTF-8; read as Windows-1252")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        raise _Unreadable("the file is empty; expected a header row and a row per record") from None
    except pd.errors.ParserError as exc:
        why = re.sub(r"^Error tokenizing data\. C error: ", "", str(exc)).strip()
        raise _Unreadable(f"not a well-formed CSV file: {why} (a broken quote, or a row with more fields than the "
                          "header)") from None
    return _cells(frame)


def read_tables(data, mapping: Mapping, train_until=None) -> CrmTables:
    """Read the mapped files of ``data`` (a folder, or a mapping table name -> DataFrame or path).

    Raises:
        CalibrateError: a file is missing or unreadable, or lacks a mapped column (one line each).
    """
    problems: list[tuple[str, str]] = []
    notes: list[str] = []
    cut = None
    if train_until is not None:
        try:
            cut = parse_train_until(train_until)
        except CalibrateError as exc:
            problems += exc.problems
    raw: dict[str, tuple[str, pd.DataFrame]] = {}
    for name, tm in mapping.tables.items():
        if isinstance(data, dict):
            item = data.get(name)
            if item is None:
                problems.append((name, f"no {name} table given (the mapping names {tm.file})"))
                continue
            if isinstance(item, pd.DataFrame):
                raw[name] = (tm.file, _cells(item))
                continue
            path = Path(item)
        else:
            path = Path(data) / tm.file
        if tm.sheet is not None and path.suffix.lower() not in EXCEL:
            problems.append((str(path), f"the mapping's tables.{name}.sheet is {tm.sheet!r}, but this is not an "
                                        "Excel workbook (.xlsx): a CSV file has no sheets; delete the sheet line"))
            continue
        try:
            raw[name] = (path.name, _read(path, notes, tm.sheet))
        except FileNotFoundError:
            problems.append((str(path), f"file not found (named by the mapping's tables.{name}.file)"))
        except IsADirectoryError:
            problems.append((str(path), f"is a folder; expected a file (named by the mapping's tables.{name}.file)"))
        except _Unreadable as exc:
            problems.append((str(path), f"cannot read it as a table: {exc}"))
        except OSError as exc:
            problems.append((str(path), f"cannot read it: {exc.strerror or exc}"))
        except Exception as exc:  # noqa: BLE001 - any reader failure is the file's problem
            problems.append((str(path), f"cannot read it as a table: {exc}"))
    for name, (file, frame) in raw.items():
        columns = mapping.tables[name].columns
        if len(columns) > 1 and not set(columns.values()) & set(frame.columns):
            has = ", ".join(map(str, frame.columns[:8])) + (", ..." if len(frame.columns) > 8 else "")
            problems.append((file, f"none of the columns the mapping names for {name} is in its header (it has "
                                   f"{has}): is it the right file, a table with its header on the first row?"))
            continue
        for key, column in columns.items():
            if column not in frame.columns:
                problems.append((f"{file}: {column}", f"missing column (mapped to {name}.{key}); the file has "
                                                      f"{', '.join(map(str, frame.columns[:12]))}"))
    if problems:
        raise CalibrateError(problems[0][0], problems[0][1], problems)
    out = CrmTables({}, pd.NaT, warnings=notes)
    for name, (file, frame) in raw.items():
        out.tables[name] = _normalise(name, file, frame, mapping, out)
    _links_from_leads(out)
    _first_known_lead(out, mapping)
    _check_links(out)
    for frame in out.tables.values():
        # Only the link check needs the ids read; pandas copies attrs deeply at every step, so a set of every id
        # left there made the estimates several times slower on a large export.
        frame.attrs.pop("ids_read", None)
    _no_rows_left(out, raw, "")
    out.cutoff = _cutoff(out, cut)
    _censor(out)
    _no_rows_left(out, raw, f" created by the training cutoff {out.cutoff.date()}")
    _no_lost_deals(out, mapping)
    if "leads" not in out.tables and "deals" in out.tables:
        _deals_as_leads(out)
    return out


def _no_rows_left(out: CrmTables, raw, when: str) -> None:
    """Deals with no usable row cannot be calibrated from: one line naming the file and what became of its rows."""
    deals = out.tables.get("deals")
    if deals is None or len(deals):
        return
    file, frame = raw["deals"]
    left = {k.split(": ", 1)[1]: n for k, n in out.dropped.items() if k.startswith("deals: ")}
    why = f" ({', '.join(f'{n} {k}' for k, n in left.items())}; see the warnings)" if left else ""
    raise CalibrateError(file, f"no usable deal{when}: {len(frame)} rows read{why}; expected at least one deal "
                               "with a created date" + (" and a known lead" if "leads" in out.tables else ""))


def _no_lost_deals(out: CrmTables, mapping: Mapping) -> None:
    """No deal lost at all: the export may hold only won deals; the win chance is then not identified."""
    deals = out.tables.get("deals")
    if deals is None or not len(deals) or deals["lost"].any():
        return
    tm = mapping.tables["deals"]
    stages = ", ".join(repr(s) for s in sorted(deals["stage"].dropna().astype(str).unique())[:8])
    out.no_lost_deals = True
    out.warnings.append(f"{deals.attrs['file']}: no deal is lost (stages {stages}; lost stages "
                        f"{list(tm.lost) or ['lost']}): if the export leaves lost deals out (leads and won deals "
                        "only), a deal not won cannot be told from one still open, and the win chance is not "
                        "identified")


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
    for key in list(df.columns):  # lead_ids may be added on the way
        column = tm.columns[key]
        if key == "lead_id" and tm.lead_id_separator:
            # Several contacts per deal (HubSpot's associations): every id is kept until the leads are known.
            lists = df[key].map(lambda v, sep=tm.lead_id_separator: _ids(v, sep))
            df["lead_ids"] = lists
            df[key] = lists.map(lambda ids: ids[0] if ids else None)
        elif key in IDS:
            df[key] = df[key].map(_id)
        if key in DATES:
            text = df[key]
            parsed = _dates(text, tm.date_format)
            wrong = text.notna() & parsed.isna()
            required = key in ("created_date", "month_start", "entered_date")
            wrong |= text.isna() & required
            lines = [f"{file}:{r}:{column}: expected a date{' (' + tm.date_format + ')' if tm.date_format else ''}, "
                     f"got {text[r] if text[r] is None else str(text[r])!r}" for r in df.index[wrong]]
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
        df.attrs["ids_read"] = set(df[id_key].dropna())
        dup = df[id_key].duplicated(keep="first") & df[id_key].notna()
        lines = [f"{file}:{r}:{tm.columns[id_key]}: duplicate id {df[id_key][r]!r} (first at row "
                 f"{df.index[df[id_key] == df[id_key][r]][0]})" for r in df.index[dup]]
        if lines:
            _warn(out, name, f"duplicate {id_key}", lines)
        bad |= dup
    if name == "deals":
        stage = df["stage"].map(lambda v: None if v is None else stage_key(v))
        df["won"] = stage.isin(tm.won) if tm.won else df.get("won", pd.Series(False, index=df.index)).astype(str) \
            .str.lower().isin(["true", "1", "yes"])
        df["lost"] = (stage.isin(tm.lost) if tm.lost else stage == "lost") & ~df["won"]
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
    ids_read = df.attrs.get("ids_read", set())
    df = df[~bad].copy()
    df.attrs["ids_read"] = ids_read
    df.attrs["file"] = file
    df.attrs["columns"] = tm.columns
    df.attrs["roles"] = tm.roles
    return df


def _id(value):
    """An id as text: ``51``, ``51.0`` and `` 51 `` are one id (a spreadsheet writes ids as numbers)."""
    if value is None:
        return None
    text = str(value).strip()
    return re.sub(r"^(-?\d+)\.0*$", r"\1", text) or None


def _dates(cells: pd.Series, fmt: str | None) -> pd.Series:
    """Cells (text, or Timestamps from Excel date cells) as naive Timestamps; an unparsable one is NaT.

    A date with a time zone is converted to UTC and written without it; one without is kept as it is.
    """
    stamp = cells.map(lambda v: isinstance(v, pd.Timestamp))
    text = cells.where(~stamp & cells.notna(), None)
    out = pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    if text.notna().any():
        parsed = pd.to_datetime(text.astype(object), format=fmt or "mixed", errors="coerce", utc=True)
        out[text.notna()] = parsed[text.notna()].dt.tz_localize(None)
    if stamp.any():
        out[stamp] = [v.tz_convert("UTC").tz_localize(None) if v.tz else v for v in cells[stamp]]
    return out


def _ids(value, separator: str) -> tuple:
    """The ids of a cell that lists several (``51;52``), each as :func:`_id` reads it; blanks left out."""
    if value is None:
        return ()
    return tuple(i for i in (_id(part) for part in str(value).split(separator)) if i is not None)


def _note_rows(out: CrmTables, lines: list[str], what: str) -> None:
    """Warnings about rows that are kept (not counted as unusable): the first 20, then how many more."""
    out.warnings.extend(lines[:20])
    if len(lines) > 20:
        out.warnings.append(f"... and {len(lines) - 20} more rows like these ({what})")


def _first_known_lead(out: CrmTables, mapping: Mapping) -> None:
    """A deal that lists several contacts (``lead_id_separator``) is the first listed that is a known lead's.

    Without a leads table it is the first listed. A deal with more than one known lead is said,
    row by row (it is kept, linked to the first); one with none keeps its first id, so that the
    link check names it as an unknown lead.
    """
    deals = out.tables.get("deals")
    if deals is None or "lead_ids" not in deals:
        return
    leads = out.tables.get("leads")
    known = set(leads["lead_id"].dropna()) if leads is not None else None
    attrs = deals.attrs
    if known is not None:
        hits = deals["lead_ids"].map(lambda ids: [i for i in ids if i in known])
        deals["lead_id"] = [h[0] if h else (ids[0] if ids else None) for h, ids in zip(hits, deals["lead_ids"],
                                                                                      strict=True)]
        column = mapping.tables["deals"].columns["lead_id"]
        lines = [f"{attrs['file']}:{r}:{column}: the deal lists {len(h)} known leads ({', '.join(h)}); it is linked to "
                 f"the first listed" for r, h in zip(deals.index, hits, strict=True) if len(h) > 1]
        _note_rows(out, lines, "deals with several known leads, each linked to the first listed")
    deals = deals.drop(columns="lead_ids")
    deals.attrs = attrs
    out.tables["deals"] = deals


def _links_from_leads(out: CrmTables) -> None:
    """Leads that name their converted deal (``leads.deal_id``, Salesforce's way) give each deal its lead.

    A deal named by two leads is the first one's (the others are said, row by row, and kept as
    leads); a lead naming a deal that the deals table lacks is said once, and counts as a lead
    without a deal; a deal no lead names has no lead (as a deal with a blank lead_id).
    """
    leads, deals = out.tables.get("leads"), out.tables.get("deals")
    if leads is None or deals is None or "deal_id" not in leads:
        return
    file, column = leads.attrs["file"], leads.attrs["columns"]["deal_id"]
    named = leads[leads["deal_id"].notna()]
    first = named.drop_duplicates("deal_id", keep="first")
    again = named[named["deal_id"].duplicated(keep="first")]
    row_of = dict(zip(first["deal_id"], first.index, strict=True))
    _note_rows(out, [f"{file}:{r}:{column}: deal {d!r} is also the converted deal of the lead at row {row_of[d]}; "
                     "it is that lead's (this lead is kept, without a deal)" for r, d in again["deal_id"].items()],
               "leads naming a deal another lead names")
    missing = ~first["deal_id"].isin(set(deals["deal_id"].dropna()))
    if missing.any():
        out.warnings.append(f"{file}: {int(missing.sum())} leads name a converted deal ({column}) that is not in "
                            f"{deals.attrs['file']} (or was left out of it): they count as leads without a deal")
    attrs = {**deals.attrs, "columns": {**deals.attrs["columns"], "lead_id": f"(the lead's {column} in {file})"}}
    deals = deals.assign(lead_id=deals["deal_id"].map(dict(zip(first["deal_id"], first["lead_id"], strict=True))))
    deals["lead_id"] = deals["lead_id"].astype(object).where(deals["lead_id"].notna(), None)
    deals.attrs = attrs
    leads = leads.drop(columns="deal_id")
    leads.attrs = out.tables["leads"].attrs
    out.tables["deals"], out.tables["leads"] = deals, leads


def _check_links(out: CrmTables) -> None:
    leads, deals = out.tables.get("leads"), out.tables.get("deals")
    if leads is None or deals is None or "lead_id" not in deals:
        return
    known = set(leads["lead_id"].dropna())
    unknown = deals["lead_id"].notna() & ~deals["lead_id"].isin(known)
    file, column = deals.attrs["file"], deals.attrs["columns"]["lead_id"]
    read = leads.attrs.get("ids_read", set())
    left_out = unknown & deals["lead_id"].isin(read)
    lines = [f"{file}:{r}:{column}: lead {deals['lead_id'][r]!r} is not in the leads table" for r in
             deals.index[unknown & ~left_out]]
    if lines:
        _warn(out, "deals", "unknown lead_id", lines)
    lines = [f"{file}:{r}:{column}: lead {deals['lead_id'][r]!r} was left out of {leads.attrs['file']} (see its "
             "row among the warnings)" for r in deals.index[left_out]]
    if lines:
        _warn(out, "deals", "lead left out", lines)
    if unknown.any():
        keep = deals[~unknown].copy()
        keep.attrs = deals.attrs
        out.tables["deals"] = keep


def parse_train_until(train_until) -> pd.Timestamp:
    """``train_until`` as a Timestamp: a date (or date and time) written year first, or a date object."""
    if isinstance(train_until, pd.Timestamp | datetime) and not pd.isna(train_until):
        return pd.Timestamp(train_until).tz_localize(None) if pd.Timestamp(train_until).tz else \
            pd.Timestamp(train_until)
    text = str(train_until).strip()
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?", text):
        try:
            return pd.Timestamp(text)
        except (ValueError, TypeError):
            pass
    raise CalibrateError("train_until", f"expected a date such as 2025-06-30, got {train_until!r}")


def _cutoff(out: CrmTables, train_until) -> pd.Timestamp:
    if train_until is not None:
        return parse_train_until(train_until)
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
