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

The normalised tables and columns are those of :func:`sim.crm_export`: ``leads``,
``deals``, ``stage_history``, ``spend``, ``headcount``. Only ``deals`` is required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sim.calibrate.errors import CalibrateError

__all__ = ["FIELDS", "REQUIRED", "Mapping", "TableMapping", "load_mapping", "parse_mapping"]

# Normalised fields of each table; the dates among them; the ones a table must map.
FIELDS = {
    "leads": ["lead_id", "created_date", "channel", "segment", "mql_date", "contacted_date", "qualified_date",
              "disqualified_date", "status"],
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


@dataclass(frozen=True)
class Mapping:
    """A mapping file: its tables by normalised name."""

    name: str
    tables: dict[str, TableMapping]
    source: str = "<mapping>"


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, bool)) for v in value)


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
    fmt = data.get("date_format")
    if fmt is not None and not isinstance(fmt, str):
        problems.append((f"{source}: date_format", "expected a strftime format such as %Y-%m-%d"))
    tables_in = data.get("tables")
    tables: dict[str, TableMapping] = {}
    if not isinstance(tables_in, dict) or not tables_in:
        problems.append((f"{source}: tables", f"expected a mapping of tables ({', '.join(FIELDS)})"))
        tables_in = {}
    for name, spec in tables_in.items():
        where = f"{source}: tables.{name}"
        if name not in FIELDS:
            problems.append((where, f"unknown table; expected one of {', '.join(FIELDS)}"))
            continue
        if not isinstance(spec, dict):
            problems.append((where, "expected a mapping with file and columns"))
            continue
        bad = set(spec) - {"file", "columns", "won", "lost", "date_format", "roles"}
        problems += [(f"{where}.{k}", "unknown key; expected file, columns, won, lost, date_format, roles")
                     for k in sorted(map(str, bad))]
        file, columns = spec.get("file"), spec.get("columns")
        if not isinstance(file, str) or not file:
            problems.append((f"{where}.file", "expected the file's name (CSV or Excel)"))
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            problems.append((f"{where}.columns", "expected normalised field -> column name"))
            continue
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
        if name == "deals" and not won and "won" not in columns:
            problems.append((f"{where}.won", "expected the stage values meaning won (or a won column)"))
        roles = spec.get("roles", {})
        if not isinstance(roles, dict):
            problems.append((f"{where}.roles", "expected the file's role -> sdr, ae or customer_success"))
            roles = {}
        tfmt = spec.get("date_format", fmt)
        if problems:
            continue
        tables[name] = TableMapping(name, file, dict(columns), tuple(map(str, won)), tuple(map(str, lost)),
                                    tfmt if isinstance(tfmt, str) else None, {str(k): str(v) for k, v in roles.items()})
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
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CalibrateError(str(path), f"{where}{getattr(exc, 'problem', None) or exc}") from None
    return parse_mapping(data, str(path))
