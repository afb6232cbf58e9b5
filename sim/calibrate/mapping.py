"""Mapping files: which column of which file is which normalised field.

A mapping is YAML::

    name: hubspot_like
    date_format: "%Y-%m-%d"          # optional (default: pandas reads ISO dates)
    tables:
      leads:
        file: contacts.csv           # a CSV or an Excel file (.xlsx), relative to the data folder
        columns: {lead_id: Record ID, created_date: Create Date, channel: Original Source}
      deals:
        file: deals.csv
        columns: {deal_id: Record ID, lead_id: Associated Contact ID, created_date: Create Date,
                  stage: Deal Stage, closed_date: Close Date, value: Amount, owner: Deal owner}
        won: [closedwon]             # stage values meaning won / lost; every other stage is open
        lost: [closedlost]
        lead_id_separator: ";"       # optional: the cell lists several contact ids (the first known is the lead)

A table may also give ``sheet`` (an Excel file's sheet, by name or by 0-based number; the
first otherwise), and the leads table may map ``deal_id`` (the deal a lead was converted
into, as Salesforce's ``Converted Opportunity ID``) instead of the deals mapping ``lead_id``.

The normalised tables and columns are those of :func:`sim.crm_export`: ``leads``,
``deals``, ``stage_history``, ``spend``, ``headcount``. Only ``deals`` is required.

``date_format`` is a strftime format (it needs a year, a month and a day), or ``ISO8601``
(ISO dates, with or without a time and a time zone), or ``mixed`` (each date guessed on
its own; the default). Checked here: a field given twice, one column mapped to two
fields, a bad date format, a stage both won and lost; each is one line naming its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from sim.calibrate.errors import CalibrateError

__all__ = ["DATE_FORMAT_WORDS", "FIELDS", "REQUIRED", "Mapping", "TableMapping", "date_format_problem", "load_mapping",
           "parse_mapping", "stage_key"]

# Normalised fields of each table; the dates among them; the ones a table must map.
FIELDS = {
    "leads": ["lead_id", "created_date", "channel", "segment", "mql_date", "contacted_date", "qualified_date",
              "disqualified_date", "status", "deal_id"],
    "deals": ["deal_id", "lead_id", "created_date", "stage", "closed_date", "won", "value", "owner", "channel",
              "segment"],
    "stage_history": ["deal_id", "stage", "entered_date", "left_date"],
    "spend": ["month_start", "channel", "spend"],
    "headcount": ["month_start", "role", "fte"],
}
REQUIRED = {
    "leads": ["lead_id", "created_date"],
    "deals": ["deal_id", "created_date", "stage"],
    "stage_history": ["deal_id", "stage", "entered_date"],
    "spend": ["month_start", "channel", "spend"],
    "headcount": ["month_start", "role", "fte"],
}
DATES = {"created_date", "mql_date", "contacted_date", "qualified_date", "disqualified_date", "closed_date",
         "entered_date", "left_date", "month_start"}


@dataclass(frozen=True)
class TableMapping:
    """One table: its file, normalised field -> the file's column, and (deals) the stage values won and lost."""

    name: str
    file: str
    columns: dict[str, str]
    won: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    date_format: str | None = None
    roles: dict[str, str] = field(default_factory=dict)
    sheet: str | int | None = None  # an Excel file's sheet (name, or 0-based number); None: the first
    lead_id_separator: str | None = None  # deals: the lead_id cell lists several ids, split on this


@dataclass(frozen=True)
class Mapping:
    """A mapping file: its tables by normalised name."""

    name: str
    tables: dict[str, TableMapping]
    source: str = "<mapping>"


DATE_FORMAT_WORDS = ("ISO8601", "mixed")  # pandas' own: ISO dates (any precision, any zone), each guessed


def date_format_problem(fmt) -> str | None:
    """What is wrong with a mapping's ``date_format``, or None."""
    expected = "expected a strftime format such as %Y-%m-%d or %m/%d/%Y %H:%M, or ISO8601, or mixed"
    if not isinstance(fmt, str) or not fmt.strip():
        return expected
    if fmt in DATE_FORMAT_WORDS:
        return None
    if "%" not in fmt:
        return f"{fmt!r} has no % directive; {expected}"
    sample = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
    try:
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        return f"{fmt!r}: {exc}; {expected}"
    day = "%d" in fmt or "%j" in fmt or "%-d" in fmt
    if not (any(d in fmt for d in ("%Y", "%y", "%G")) and day):
        return f"{fmt!r} does not give a year, a month and a day; {expected}"
    return None


class _Keys(dict):
    """A YAML mapping that remembers the keys it was given more than once (YAML keeps the last silently)."""

    twice: list


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader, node, deep=False):
    seen, twice = {}, []
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str | int | bool | float) and key in seen:
            twice.append((str(key), seen[key], key_node.start_mark.line + 1))
        elif isinstance(key, str | int | bool | float):
            seen[key] = key_node.start_mark.line + 1
    out = _Keys(loader.construct_mapping(node, deep=deep))
    out.twice = twice
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct)


def _given_twice(where: str, value) -> list[tuple[str, str]]:
    return [(f"{where}.{key}" if where else key, f"given twice (lines {first} and {line}); YAML would keep the last "
             "silently: give it once") for key, first, line in getattr(value, "twice", [])]


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, bool)) for v in value)


def stage_key(value) -> str:
    """A stage value as matched: its text, stripped, case-folded (``Closed Won`` is ``closed won``)."""
    return str(value).strip().casefold()


_stage = stage_key


def parse_mapping(data, source: str = "<mapping>") -> Mapping:
    """Check a mapping read from YAML; every problem is one line naming its key.

    Raises:
        CalibrateError: naming ``source: key`` for each problem.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise CalibrateError(source, "expected a mapping with a `tables` key")
    unknown = set(data) - {"name", "description", "date_format", "tables"}
    problems += [(f"{source}: {k}", "unknown key; expected name, description, date_format, tables")
                 for k in sorted(map(str, unknown))]
    problems += [(f"{source}: {p}", m) for p, m in _given_twice("", data)]
    fmt = data.get("date_format")
    if fmt is not None and date_format_problem(fmt):
        problems.append((f"{source}: date_format", date_format_problem(fmt)))
    tables_in = data.get("tables")
    tables: dict[str, TableMapping] = {}
    if not isinstance(tables_in, dict) or not tables_in:
        problems.append((f"{source}: tables", f"expected a mapping of tables ({', '.join(FIELDS)})"))
        tables_in = {}
    problems += [(f"{source}: {p}", m) for p, m in _given_twice("tables", tables_in)]
    for name, spec in tables_in.items():
        where = f"{source}: tables.{name}"
        if name not in FIELDS:
            problems.append((where, f"unknown table; expected one of {', '.join(FIELDS)}"))
            continue
        if not isinstance(spec, dict):
            problems.append((where, "expected a mapping with file and columns"))
            continue
        keys = ("file", "columns", "won", "lost", "date_format", "roles", "sheet", "lead_id_separator")
        bad = set(spec) - set(keys)
        problems += [(f"{where}.{k}", f"unknown key; expected {', '.join(keys)}") for k in sorted(map(str, bad))]
        problems += [(f"{source}: {p}", m) for p, m in _given_twice(f"tables.{name}", spec)]
        file, columns = spec.get("file"), spec.get("columns")
        if not isinstance(file, str) or not file:
            problems.append((f"{where}.file", "expected the file's name (CSV or Excel)"))
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            problems.append((f"{where}.columns", "expected normalised field -> column name"))
            continue
        problems += [(f"{source}: {p}", m) for p, m in _given_twice(f"tables.{name}.columns", columns)]
        first_field: dict[str, str] = {}
        for key, column in columns.items():
            if column.strip() in first_field:
                problems.append((f"{where}.columns.{key}", f"the column {column!r} is mapped to "
                                 f"{first_field[column.strip()]} too; a column holds one field"))
            first_field.setdefault(column.strip(), key)
        for key in columns:
            if key not in FIELDS[name]:
                problems.append((f"{where}.columns.{key}", f"unknown field; expected one of {', '.join(FIELDS[name])}"))
        for key in REQUIRED[name]:
            if key not in columns:
                problems.append((f"{where}.columns", f"needs {key} (the column holding it)"))
        won, lost = spec.get("won", []), spec.get("lost", [])
        for key, value in (("won", won), ("lost", lost)):
            if not _strings(value):
                problems.append((f"{where}.{key}", "expected a list of stage values"))
        if _strings(won) and _strings(lost):
            both = sorted({_stage(v) for v in won} & {_stage(v) for v in lost})
            if both:
                problems.append((f"{where}.lost", f"{', '.join(map(repr, both))} also in won; a stage is won or "
                                                  "lost, not both"))
        if name == "deals" and not won and "won" not in columns:
            problems.append((f"{where}.won", "expected the stage values meaning won (or a won column)"))
        roles = spec.get("roles", {})
        if not isinstance(roles, dict):
            problems.append((f"{where}.roles", "expected the file's role -> sdr, ae or customer_success"))
            roles = {}
        sheet = spec.get("sheet")
        if sheet is not None and not ((isinstance(sheet, str) and sheet.strip())
                                      or (isinstance(sheet, int) and not isinstance(sheet, bool) and sheet >= 0)):
            problems.append((f"{where}.sheet", f"expected a sheet's name or its number from 0, got {sheet!r}"))
        separator = spec.get("lead_id_separator")
        if separator is not None:
            if name != "deals":
                problems.append((f"{where}.lead_id_separator", "only for the deals table (its lead_id cell may "
                                                               "list several contacts)"))
            elif not isinstance(separator, str) or not separator.strip():
                problems.append((f"{where}.lead_id_separator", f"expected the text between ids, such as ';', "
                                                               f"got {separator!r}"))
            elif "lead_id" not in columns:
                problems.append((f"{where}.lead_id_separator", "the deals table maps no lead_id to split"))
        tfmt = spec.get("date_format", fmt)
        if "date_format" in spec and date_format_problem(tfmt):
            problems.append((f"{where}.date_format", date_format_problem(tfmt)))
        if problems:
            continue
        tables[name] = TableMapping(name, file, {k: v.strip() for k, v in columns.items()},
                                    tuple(_stage(v) for v in won), tuple(_stage(v) for v in lost),
                                    tfmt if isinstance(tfmt, str) else None, {str(k): str(v) for k, v in roles.items()},
                                    sheet.strip() if isinstance(sheet, str) else sheet, separator)
    if "lead_id" in tables.get("deals", TableMapping("", "", {})).columns and \
            "deal_id" in tables.get("leads", TableMapping("", "", {})).columns:
        problems.append((f"{source}: tables.leads.columns.deal_id", "the deals map lead_id too: link leads and "
                                                                    "deals on one side only (deals.lead_id, or "
                                                                    "leads.deal_id as a lead's converted deal)"))
    if "deals" not in tables_in:
        problems.append((f"{source}: tables", "needs a deals table"))
    if problems:
        raise CalibrateError(problems[0][0], problems[0][1], problems)
    return Mapping(str(data.get("name", Path(source).stem)), tables, source)


def load_mapping(path) -> Mapping:
    """Read a mapping YAML file (safe YAML) and check it.

    Raises:
        CalibrateError: the file cannot be read, or each problem of it.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrateError(str(path), f"cannot read the mapping file: {getattr(exc, 'strerror', None) or exc}") \
            from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader that also reports keys given twice
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CalibrateError(str(path), f"{where}{getattr(exc, 'problem', None) or exc}") from None
    return parse_mapping(data, str(path))
