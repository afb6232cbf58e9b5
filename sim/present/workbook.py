"""Excel workbooks of any result, for people: a run, an experiment, a comparison, an optimisation, a sensitivity.

:func:`write_excel` writes one workbook a finance reader opens without help, through the
safe writing of :mod:`sim.present.export` (a temporary file moved into place).

Every sheet is a plain table: its header in row 1, one record per row, nothing above or
beside it, so that ``pandas.read_excel(path, sheet_name=...)`` reads it as it is. What the
numbers are about (scenario, horizon, currency, seed, replications, budget, what was and
was not checked) is the Inputs sheet, itself a table (Item, Value, Unit, Notes); the
Columns sheet gives every column of every sheet its code name (as the JSON and the CSV
tables name it) and unit. Names in words and units come from sim.present.measure_names.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from sim.montecarlo.replication import seed_label
from sim.montecarlo.store import PACKAGE
from sim.present.errors import PresentError
from sim.present.export import _atomic, _check_extra, _finite, _flat
from sim.present.measure_names import (
    UNITS,
    Name,
    field_name,
    measure_name,
    monthly_name,
    number_format,
    setting_name,
    unit_label,
)
from sim.version import __version__

__all__ = ["write_excel", "write_experiment_excel"]

SHEETS = ["Inputs", "Summary", "Paired", "Measures", "Monthly", "Monthly by replication", "Replications", "Failures",
          "Allocation", "Calendar", "Search", "Diagnostics", "Budgets", "Budget search", "Sensitivity", "Samples",
          "Columns"]
EXCEL_RESERVED = ["History"]

ROW = "row"  # the unit of a long table's value columns: each row has its own (its Unit column says it)
COLUMNS_SHEET = "Columns"
MAX_WIDTH = 50
MAX_LISTED = 12  # alternatives whose values of a differing setting the Inputs sheet lists one by one

# The columns of a comparison's alternatives table that are statistics, not settings.
_STATS = {"n", "objective", "objective_ci_low", "objective_ci_high", "p_best", "p_best_ci_low", "p_best_ci_high",
          "p_selected", *(f"vs_{a}{s}" for a in ("best", "baseline") for s in ("", "_ci_low", "_ci_high"))}
# The monthly P&L lines, in the order a profit and loss statement reads, then bookings and wins.
MONTHLY_LINES = ["marketing_spend", "salaries", "commissions", "other_costs", "costs", "revenue", "gross_margin",
                 "contribution", "cumulative_contribution", "bookings", "wins"]
_SPLIT_PREFIXES = ("channel_share.", "role_share.", "fte.", "spend_month.", "hires.")


@dataclass
class _Column:
    header: str
    code: str = ""
    unit: str = "text"
    whole: bool = False
    note: str = ""


@dataclass
class _Table:
    title: str
    columns: list[_Column]
    rows: list[list]
    units: list[tuple[str, bool]] = field(default_factory=list)  # per row: the unit of its ROW columns


@dataclass
class _Book:
    """What every sheet of one workbook shares: the currency, and the unit the objective is in."""

    currency: str = ""
    objective_unit: str = "currency"

    def unit(self, unit: str) -> str:
        return self.objective_unit if unit == "objective" else unit

    def label(self, unit: str) -> str:
        unit = self.unit(unit)
        return "" if unit in ("text", "yes/no") else unit_label(unit, self.currency)

    def header(self, words: str, unit: str) -> str:
        """A column's header: its words, and its unit where the number's format does not say it."""
        unit = self.unit(unit)
        kind = UNITS.get(unit, (None, "number"))[1]
        label = unit_label(unit, self.currency)
        if kind in ("count", "text", "index", "percent", "ratio", "number") or label.lower() in words.lower():
            return words
        return f"{words[:-1]}; {label})" if words.endswith(")") else f"{words} ({label})"

    def column(self, code: str, name: Name, note: str = "") -> _Column:
        return _Column(self.header(name.words, name.unit), code, name.unit, name.whole, note)


def _value(value):
    """A cell value Excel can hold: NaN, infinities and missing values become empty cells; lists become text."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(_finite(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    with contextlib.suppress(TypeError, ValueError):  # pd.isna of a list is not a truth value
        if pd.isna(value):
            return None
    return value


def _number_text(value: float) -> str:
    """A number as text, thousands separated, with decimals to four significant digits: 0.1235, 2.5, 12,346."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _shown(value, unit: str, book: _Book) -> str:
    """A value as the Inputs sheet writes it inside a sentence: 20.0%, 250,000 USD, 6."""
    if not isinstance(value, (list, tuple)):
        value = _value(value)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        shown = [_shown(v, unit, book) for v in value[:6]]
        return "[" + ", ".join(shown) + (", ..." if len(value) > 6 else "") + "]"
    if isinstance(value, (int, float)):
        unit = book.unit(unit)
        if unit == "share":
            return f"{value:.1%}"
        if unit == "currency":
            return f"{value:,.0f}" + (f" {book.currency}" if book.currency else "")
        return _number_text(float(value))
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _name_of(code: str, settings=(), fields: bool = True) -> Name | None:
    """A column's name by its code: a setting, a decision's field, a measure (None if none knows it).

    Without ``fields``, only names that mean one thing wherever they appear (settings and
    measures): a caller's own table may call a column ``share`` or ``mean``.
    """
    if code in settings or code == "marketing_share" or code.startswith(_SPLIT_PREFIXES):
        return setting_name(code)
    return (field_name(code) if fields else None) or measure_name(code)


def _accounting_last(codes) -> list:
    """Codes with the lead accounting (``lead_accounting.*``, ``in_flight.*``) last: it checks the others."""
    codes = list(codes)
    last = [c for c in codes if str(c).startswith(("lead_accounting.", "in_flight."))]
    return [c for c in codes if c not in last] + last


def _frame_table(title: str, frame: pd.DataFrame, book: _Book, settings=(), names: dict | None = None,
                 notes: dict | None = None, own: bool = False, fields: bool = True) -> _Table:
    """``frame`` as a sheet: each column named in words and formatted by its unit (a code no one knows, as is).

    ``own``: a caller's table (``extra``); its headers are kept, and columns that are
    measures or settings are formatted by their unit. Without ``fields``, the columns
    are measures (and ``names``): a decision's field names are not looked up.
    """
    frame = _flat(frame)
    frame = frame if own else frame[_accounting_last(frame.columns)]
    columns = []
    for code in frame.columns:
        code = str(code)
        name = (names or {}).get(code) or _name_of(code, settings, fields=fields and not own)
        if name is None:
            numeric = pd.api.types.is_numeric_dtype(frame[code]) and not pd.api.types.is_bool_dtype(frame[code])
            columns.append(_Column(code, code, "number" if numeric else "text"))
        elif own:
            columns.append(_Column(code, code, name.unit, name.whole))
        else:
            columns.append(book.column(code, name, (notes or {}).get(code, "")))
    _unique_headers(columns)
    return _Table(title, columns, [list(row) for row in frame.itertuples(index=False, name=None)])


def _unique_headers(columns: list[_Column]) -> None:
    """Headers that repeat get their code added: pandas would rename the second one."""
    headers = [c.header for c in columns]
    for c in columns:
        if headers.count(c.header) > 1 and c.code:
            c.header = f"{c.header} [{c.code}]"


def _items_table(title: str, items: dict, book: _Book, names: dict | None = None) -> _Table:
    """A record (code -> value) as a long table: Item, Value, Unit, Code, each value formatted by its unit."""
    rows, units = [], []
    for code, value in items.items():
        name = (names or {}).get(code) or _name_of(code) or Name(code, "number")
        unit = "text" if isinstance(_value(value), str) else name.unit
        rows.append([name.words, value, book.label(unit), code])
        units.append((book.unit(unit), name.whole))
    columns = [_Column("Item"), _Column("Value", unit=ROW), _Column("Unit"),
               _Column("Code", note="the name in the JSON and the CSV tables")]
    return _Table(title, columns, rows, units)


def _inputs_table(rows: list[tuple], book: _Book) -> _Table:
    """The Inputs sheet: ``(item, value, unit, notes, whole)`` rows (unit, notes and whole optional)."""
    out, units = [], []
    for row in rows:
        item, value, unit, notes, whole = (*row, *("", None, "text", "", True)[len(row):])
        out.append([item, value, book.label(unit), notes])
        units.append((book.unit(unit), whole))
    columns = [_Column("Item"), _Column("Value", unit=ROW), _Column("Unit"), _Column("Notes")]
    return _Table("Inputs", columns, out, units)


def _about_rows(about) -> list[tuple]:
    """The caller's own lines for the Inputs sheet: a mapping item -> value, or (item, value, ...) tuples."""
    if about is None:
        return []
    if isinstance(about, dict):
        return [(str(k), v, "", "") for k, v in about.items()]
    return [tuple(row) for row in about]


def _measures_table(title: str, summary: pd.DataFrame, book: _Book, alternative: bool) -> _Table:
    """A summary (one row per measure, or per alternative and measure) as a long table with words and units."""
    stats = [("n", "Replications", "replications", True), ("mean", "Mean", ROW, False),
             ("ci_low", "CI low", ROW, False), ("ci_high", "CI high", ROW, False), ("std", "SD", ROW, False),
             ("p10", "P10", ROW, False), ("p50", "P50", ROW, False), ("p90", "P90", ROW, False)]
    columns = [_Column("Alternative", "alternative")] if alternative else []
    columns += [_Column("Measure", note="in words"), _Column("Unit"),
                _Column("Code", "measure", note="the measure's name in the JSON and the CSV tables")]
    columns += [_Column(header, code, unit, whole) for code, header, unit, whole in stats]
    rows, units = [], []
    frame = summary.reset_index() if "measure" not in summary.columns else summary
    order = {code: k for k, code in enumerate(_accounting_last(dict.fromkeys(frame["measure"])))}
    rank = frame["measure"].map(order)
    if alternative:  # each alternative's measures together, in the alternatives' order
        first = {label: k for k, label in enumerate(dict.fromkeys(frame["alternative"]))}
        rank = frame["alternative"].map(first) * len(order) + rank
    frame = frame.iloc[np.argsort(rank.to_numpy(), kind="stable")]
    for record in frame.to_dict(orient="records"):
        code = str(record["measure"])
        name = measure_name(code) or Name(code, "number")
        rows.append(([record["alternative"]] if alternative else []) + [name.words, book.label(name.unit), code]
                    + [record.get(stat) for stat, *_ in stats])
        units.append((name.unit, False))  # a mean or a percentile: one decimal for counts
    return _Table(title, columns, rows, units)


def _monthly_lines(monthly: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The monthly P&L lines of a long monthly frame, each as a table of months by replications.

    Gross margin is contribution plus total costs (contribution is gross margin less the
    costs); the cumulative contribution is the cash used or made by the end of each month.
    """
    from sim.decide.cash import series_by_month

    if {"contribution", "costs"} <= set(monthly.columns):
        monthly = monthly.assign(gross_margin=monthly["contribution"] + monthly["costs"])
    lines = {}
    for code in MONTHLY_LINES:
        if code == "cumulative_contribution" and "contribution" in monthly.columns:
            lines[code] = series_by_month(monthly, "contribution", cumulative=True)
        elif code in monthly.columns:
            lines[code] = series_by_month(monthly, code)
    return lines


def _monthly_table(monthly: pd.DataFrame, book: _Book, order: list | None = None) -> _Table | None:
    """The Monthly sheet: a row per month (and alternative); per line its mean, P10 and P90 over replications.

    With one replication there is nothing to spread: each line is its value. None if the
    series has none of the lines (a model of one's own).
    """
    by = "alternative" if "alternative" in monthly.columns else None
    groups = [(label, monthly[monthly[by] == label]) for label in (order or monthly[by].unique())] if by \
        else [(None, monthly)]
    reps = monthly["replication"].nunique()
    present = set(monthly.columns)
    derived = {"gross_margin": {"contribution", "costs"}, "cumulative_contribution": {"contribution"}}
    lines = [code for code in MONTHLY_LINES if code in present or derived.get(code, {""}) <= present]
    if not lines:
        return None
    dated = "month_start" in present
    rows = []
    for label, frame in groups:
        if frame.empty:
            continue
        tables = _monthly_lines(frame)
        months = tables[lines[0]].index
        starts = frame.groupby("month")["month_start"].first() if dated else None  # the same in every replication
        parts = []
        for code in lines:
            values = tables[code].to_numpy(dtype=float)  # months x replications
            parts += [values[:, 0]] if reps == 1 else [values.mean(axis=1), *np.percentile(values, [10, 90], axis=1)]
        for k, month in enumerate(months):
            rows.append(([label] if by else []) + [int(month)] + ([starts[month].date()] if dated else [])
                        + [float(part[k]) for part in parts])
    columns = [_Column("Alternative", "alternative")] if by else []
    columns.append(_Column("Month", "month", "month", True, "counted from 0, as in the scenario file and the JSON"))
    if dated:
        name = monthly_name("month_start")
        columns.append(_Column(name.words, "month_start", name.unit, False, "the calendar month the model's month "
                                                                            "labels (docs/model.md, Units)"))
    for code in lines:
        name = monthly_name(code)
        header = book.header(name.words, name.unit)
        if reps == 1:
            columns.append(_Column(header, code, name.unit, name.whole, f"the month's {code}"))
        else:
            columns += [_Column(f"{header}, mean", code, name.unit, False, f"mean over the replications of the "
                                                                            f"month's {code}"),
                        _Column(f"{header}, P10", code, name.unit, False, "10th percentile over the replications"),
                        _Column(f"{header}, P90", code, name.unit, False, "90th percentile over the replications")]
    return _Table("Monthly", columns, rows)


_RUN_FIELDS = ("alternative", "replication", "seed", "objective")  # what a replications table has beside measures


def _monthly_long_table(monthly: pd.DataFrame, book: _Book) -> _Table:
    """Every replication's monthly series, one row per replication and month, named in words."""
    names = {code: monthly_name(code) or field_name(code) for code in monthly.columns
             if monthly_name(code) is not None or code in _RUN_FIELDS}
    return _frame_table("Monthly by replication", monthly, book, names=names, fields=False)


def _replications_table(replications: pd.DataFrame, book: _Book, settings=(), objective=None) -> _Table:
    """One row per replication (and alternative): its settings, seed, objective and every measure, in words."""
    names = {code: field_name(code) for code in _RUN_FIELDS}
    if objective is not None:  # one replication's objective: in its own unit, whatever the risk measure
        names["objective"] = Name(f"Objective: {objective.label}", _objective_unit(objective, None))
    return _frame_table("Replications", replications, book, settings=settings, names=names, fields=False)


def _accounting_lines(replications: pd.DataFrame) -> list[tuple]:
    """What the replications show was checked: lead accounting, and the budget's accounting."""
    lines = []
    n = len(replications)
    states = [c for c in replications.columns if c.startswith("lead_accounting.") and c != "lead_accounting.arrived"]
    if n and states and "lead_accounting.arrived" in replications.columns:
        held = int((replications[states].sum(axis=1) == replications["lead_accounting.arrived"]).sum())
        lines.append(("Checked", f"lead accounting (every lead that arrived is in exactly one state or in flight "
                                 f"at the horizon) holds in {held} of {n} replications"))
    salaries = [c for c in replications.columns if c.startswith("cost.salaries_")]
    parts = ["cost.marketing_spend", "budget_vacancies", "budget_unspent", "budget_total"]
    if n and all(c in replications.columns for c in parts):
        spent = replications[["cost.marketing_spend", *salaries, "budget_vacancies", "budget_unspent"]].sum(axis=1)
        held = int(np.isclose(spent, replications["budget_total"], rtol=1e-9, atol=1e-6).sum())
        lines.append(("Checked", f"the budget's accounting (channel spend + salaries + salaries of empty seats + "
                                 f"unspent = the budget) adds up in {held} of {n} replications"))
    return lines


def _not_checked(objective=None) -> list[tuple]:
    lines = [("Not checked", "the scenario's inputs (response curves, conversion rates, cycle times, costs) are "
                             "assumptions: the results follow from them and were not checked against data")]
    if objective is not None and objective.terminal is None and not objective.with_pipeline:
        lines.append(("Not checked", "what happens after the horizon: the objective counts no terminal value and "
                                     "no open pipeline, so late investment is favoured by the horizon"))
    return lines


def _scenario_rows(scenarios: list, book: _Book, budget_item: str = "Budget for the horizon") -> list[tuple]:
    """Scenario, horizon, currency and budget of the scenarios a result is of (each once, or 'differs')."""
    if not scenarios:
        return []
    names = list(dict.fromkeys(str(getattr(sc, "name", "")) for sc in scenarios))
    horizons = {getattr(sc, "horizon_months", None) for sc in scenarios}
    budgets = {_budget(sc) for sc in scenarios}
    rows = [("Scenario", ", ".join(names), "text")]
    horizon = horizons.pop() if len(horizons) == 1 else "differs between alternatives (see below)"
    rows.append(("Horizon", horizon, "months", "months are counted from 0 (month 0 is the first), as in the "
                                                "scenario file and the JSON"))
    rows.append(("Currency", book.currency or "differs between alternatives", "text",
                 "every amount in this workbook is in it"))
    if len(budgets) == 1:
        (budget, note), = budgets
        rows.append((budget_item, budget if budget is not None else "none", "currency", note))
    else:
        rows.append((budget_item, "differs between alternatives (see below)", "text"))
    return rows


def _budget(scenario) -> tuple[float | None, str]:
    """A scenario's budget for the horizon and what it is: its budget block, or what its plan spends."""
    plan = getattr(scenario, "plan", None)
    if plan is None:
        return None, ""
    if plan.budget is not None:
        return float(plan.budget.total), "the scenario's budget block (channel spend and salaries it pays)"
    from sim.decide.split import SplitError, current_split

    try:
        return float(current_split(scenario).total), ("no budget block: what the plan spends on channels and "
                                                      "salaries over the horizon")
    except SplitError:
        return None, "the plan spends nothing on channels or salaries"


def _flat_fields(node, path: str = ""):
    """A scenario as written, as ``(dotted path, value)`` pairs (a list of values is one value)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flat_fields(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list) and node and all(isinstance(v, (dict, list)) for v in node):
        for k, value in enumerate(node):
            yield from _flat_fields(value, f"{path}.{k}")
    else:
        yield path, node


def _differences(c, book: _Book) -> list[tuple[str, Name, dict]]:
    """Every setting that differs between a comparison's alternatives: ``(code, name, label -> value)``.

    The alternatives' own settings (split shares, the paths a what-if varied, the FTE each
    buys), then, from the scenarios they ran, the budget, the plan's spend per channel and
    every field of the scenario as written that differs (but the name and description, and
    the budget block where split settings say it).
    """
    table = c.alternatives
    labels = list(table.index)
    out = []
    for code in [col for col in table.columns if col not in _STATS]:
        values = table[code]
        if values.astype(object).where(values.notna(), None).nunique(dropna=False) > 1:
            out.append((code, setting_name(code), dict(values.items())))
    scenarios = {label: sc for label, sc in (getattr(c, "scenarios", None) or {}).items() if label in labels}
    if len(scenarios) < 2:
        return out
    listed = {code for code, _, _ in out}
    split = any(code == "marketing_share" or code.startswith(("channel_share.", "role_share.")) for code in listed)
    derived = {"budget": {label: _budget(sc)[0] for label, sc in scenarios.items()}}
    for label, sc in scenarios.items():
        plan = getattr(sc, "plan", None)
        for channel in (plan.spend if plan is not None else {}):
            derived.setdefault(f"spend.{channel}", {})[label] = float(plan.monthly_spend(channel).sum())
    for code, values in derived.items():
        if len(set(values.values())) > 1 and len(values) == len(scenarios):
            out.append((code, field_name(code) if code == "budget" else setting_name(code), values))
            listed.add(code)
    dumps = {label: dict(_flat_fields(sc.model_dump(mode="json", by_alias=True))) for label, sc in scenarios.items()
             if hasattr(sc, "model_dump")}
    paths = list(dict.fromkeys(path for dump in dumps.values() for path in dump))
    for path in paths:
        parts = path.split(".")
        if path in ("name", "description") or path in listed or (split and parts[0] == "budget") or (
                len(parts) == 3 and parts[0] == "channels" and parts[2] == "spend" and f"spend.{parts[1]}" in listed):
            continue  # the plan's spend over the horizon (above) says it
        values = {label: dump.get(path) for label, dump in dumps.items()}
        if len({json.dumps(v, sort_keys=True) for v in values.values()}) > 1:
            out.append((path, setting_name(path), values))
    return out


def _difference_rows(c, book: _Book, shown_on: set[str]) -> list[tuple]:
    rows = []
    for code, name, values in _differences(c, book):
        distinct = list(dict.fromkeys(_shown(v, name.unit, book) for v in values.values()))
        if len(values) <= MAX_LISTED:
            text = "; ".join(f"{label}: {_shown(v, name.unit, book)}" for label, v in values.items())
        else:
            text = f"{len(distinct)} values: " + ", ".join(distinct[:MAX_LISTED]) + (", ..." if
                                                                                     len(distinct) > MAX_LISTED else "")
        where = "; each alternative's value is on the Summary sheet" if code in shown_on else ""
        rows.append((f"Differs between alternatives: {name.words}", text, name.unit, f"code {code}{where}"))
    return rows


def _objective_unit(objective, risk) -> str:
    if risk is not None and risk.name == "probability":
        return "share"
    return "wins" if objective is not None and objective.name == "new_customers" else "currency"


def _what(c) -> str:
    text = f"{c.risk.label} of {c.objective.label}"
    return text[0].upper() + text[1:]


def _summary_table(c, book: _Book) -> _Table:
    """One row per alternative: its settings and FTE, the objective, the differences, P(best), with their CIs."""
    table = c.alternatives.reset_index()
    settings = [col for col in c.alternatives.columns if col not in _STATS]
    columns = [_Column("Alternative", "alternative")]
    columns += [book.column(code, setting_name(code)) for code in settings]
    what = _what(c)
    for stem, words, note in [("objective", what, f"the {c.risk.label} over the paired replications"),
                              ("vs_baseline", "Difference to the baseline",
                               f"paired: this alternative less the baseline ({c.baseline})"),
                              ("vs_best", "Difference to the best", f"paired: this alternative less the best "
                                                                    f"({c.best})")]:
        header = book.header(words, "objective")
        columns += [_Column(header, stem, "objective", False, note),
                    _Column(f"{header}, CI low", f"{stem}_ci_low", "objective", False, f"at {c.level:.0%}"),
                    _Column(f"{header}, CI high", f"{stem}_ci_high", "objective", False, f"at {c.level:.0%}")]
    columns += [_Column("P(best)", "p_best", "share", note="share of the paired replications in which it is best"),
                _Column("P(best), interval low", "p_best_ci_low", "share", note="bootstrap"),
                _Column("P(best), interval high", "p_best_ci_high", "share", note="bootstrap"),
                _Column("P(selected)", "p_selected", "share",
                        note="share of bootstrap resamples in which its objective is the best")]
    _unique_headers(columns)
    rows = [list(row) for row in table[[col.code for col in columns]].itertuples(index=False, name=None)]
    return _Table("Summary", columns, rows)


def _comparison_tables(c, book: _Book, about, workbook: str, checked=()) -> list[_Table]:
    """The sheets of a comparison: Inputs, Summary, Paired, Measures, Monthly, Replications, Failures."""
    settings = [col for col in c.alternatives.columns if col not in _STATS]
    seeds = list(dict.fromkeys(c.replications["seed"])) if "seed" in c.replications.columns else []
    scenarios = list((getattr(c, "scenarios", None) or {}).values())
    rows = [("Workbook", workbook), ("Program", f"{PACKAGE} {__version__}"), *_about_rows(about),
            *_scenario_rows(scenarios, book),
            ("Root seed", seeds[0] if len(seeds) == 1 else ", ".join(map(str, seeds)) or "unknown", "seed",
             "replication i ran from the same seed in every alternative (common random numbers)"),
            ("Replications per alternative", c.reps, "replications"),
            ("Paired replications", c.n, "replications", "finished in every alternative: the statistics rest on "
                                                         "them"),
            ("Failed replications", len(c.failures), "replications",
             "listed on the Failures sheet and left out" if len(c.failures) else ""),
            ("Confidence level", c.level, "share", "of every interval", False),
            ("Objective", c.objective.label, "text", "what each replication is judged by"),
            ("Risk measure", c.risk.label, "text", "how the replications' objectives are summarised"),
            ("Objective's unit", book.label("objective") or book.objective_unit, "text"),
            ("Alternatives", len(c.alternatives), "alternatives"),
            ("Baseline", c.baseline, "text", "differences are also reported against it"),
            ("Best", c.best, "text", f"the best {c.risk.label} of the objective")]
    rows += [("Same scenario as", f"{kept}: {', '.join(same)}", "text", "run and reported once, under the first "
                                                                        "label")
             for kept, same in (c.merged or {}).items()]
    rows += _difference_rows(c, book, set(settings))
    rows += [*checked, *_accounting_lines(c.replications), *_not_checked(c.objective)]
    tables = [_inputs_table(rows, book), _summary_table(c, book)]
    tables.append(_frame_table("Paired", c.paired, book, names={
        "ci_low": Name("Difference, CI low", "objective"), "ci_high": Name("Difference, CI high", "objective")}))
    tables.append(_measures_table("Measures", c.measures, book, alternative=True))
    if not c.monthly.empty and "replication" in c.monthly.columns:
        tables.append(_monthly_table(c.monthly, book, list(c.alternatives.index)))
    tables = [t for t in tables if t is not None]
    tables.append(_replications_table(c.replications, book, settings, c.objective))
    if len(c.failures):
        tables.append(_frame_table("Failures", c.failures, book))
    return tables


def _experiment_tables(e, book: _Book, about, measures=None, level: float = 0.95) -> list[_Table]:
    """The sheets of an experiment: Inputs, Measures, Monthly, Monthly by replication, Replications, Failures."""
    sc = e.scenario
    rows = [("Workbook", f"{len(e.replications)} replications of one scenario (Monte Carlo)"),
            ("Program", f"{PACKAGE} {__version__}"), *_about_rows(about), *_scenario_rows([sc], book),
            ("Root seed", seed_label(e.seed), "seed", "replication i ran from the seed (root, i)"),
            ("Replications asked for", e.reps, "replications"),
            ("Replications completed", len(e.replications), "replications"),
            ("Failed replications", len(e.failures), "replications",
             "listed on the Failures sheet and left out" if len(e.failures) else ""),
            ("Confidence level", level, "share", "of every interval (Student's t, over the completed replications)",
             False)]
    if e.precision:
        p = e.precision
        rows.append(("Stopping rule", f"stop once the 95% CI half-width of {p['metric']} is below "
                                      f"{p['precision']:.1%} of its mean", "text",
                     f"{'reached' if p.get('reached') else 'not reached'} after {p.get('replications')} "
                     "replications"))
    rows += [*_accounting_lines(e.replications), *_not_checked()]
    tables = [_inputs_table(rows, book)]
    if not e.replications.empty:
        tables.append(_measures_table("Measures", e.summary(measures, level), book, alternative=False))
    if not e.monthly.empty:
        tables += [t for t in (_monthly_table(e.monthly, book), _monthly_long_table(e.monthly, book)) if t]
    tables.append(_replications_table(e.replications, book))
    if len(e.failures):
        tables.append(_frame_table("Failures", e.failures, book))
    return tables


def _result_tables(r, book: _Book, about) -> list[_Table]:
    """The sheets of one replication: Inputs, Measures (one value each), Monthly."""
    from sim.montecarlo.replication import flatten_metrics

    metrics = flatten_metrics(r.metrics)
    one = pd.DataFrame([metrics])
    rows = [("Workbook", "one replication: one possible outcome of the randomness, with no interval"),
            ("Program", f"{PACKAGE} {__version__}"), *_about_rows(about), *_scenario_rows([r.scenario], book),
            *_accounting_lines(one),
            ("Not checked", "how much the numbers vary from one replication to the next (run many replications for "
                            "means and intervals)"), *_not_checked()]
    columns = [_Column("Measure", note="in words"), _Column("Unit"),
               _Column("Code", "measure", note="the measure's name in the JSON"), _Column("Value", "value", ROW)]
    measures, units = [], []
    for code, value in {code: metrics[code] for code in _accounting_last(metrics)}.items():
        name = measure_name(code) or Name(code, "number")
        measures.append([name.words, book.label(name.unit), code, value])
        units.append((name.unit, name.whole))
    tables = [_inputs_table(rows, book), _Table("Measures", columns, measures, units)]
    if not r.monthly.empty and (monthly := _monthly_table(r.monthly.assign(replication=0), book)) is not None:
        tables.append(monthly)
    return tables


def _optimize_tables(allocation: dict, d, book: _Book, about) -> list[_Table]:
    """A static optimisation: the fresh comparison's sheets, then Allocation, Search and Diagnostics."""
    from sim.present.records import diagnostics_record

    record = diagnostics_record(d)
    statements = [("What the optimiser checked", s) for s in record.pop("statements")]
    tables = _comparison_tables(d.comparison, book, about, "the best split of the budget found by the optimiser, "
                                                           "compared on fresh replications with the runner-up and "
                                                           "today's split", statements)
    settings = [c for c in d.history.columns if c not in ("alternative", "approximate", "replications", "mean",
                                                          "eliminated_at", "chosen")]
    tables += [_items_table("Allocation", allocation, book),
               _frame_table("Search", d.history, book, settings=settings),
               _items_table("Diagnostics", record, book)]
    return tables


def _calendar_table(calendar: dict, book: _Book) -> _Table:
    """The plan over time, a row per month: each free channel's spend, each free role's hires requested."""
    spend = {k: list(v) for k, v in calendar.items() if k.startswith("spend_month.")}
    hires = {k: list(v) for k, v in calendar.items() if k.startswith("hires.")}
    months = max([len(v) for v in spend.values()] + [max(v) + 1 for v in hires.values() if v] + [0])
    columns = [_Column("Month", "month", "month", True, "counted from 0, as in the scenario's hires")]
    columns += [book.column(code, setting_name(code), "the chosen plan's spend in the month") for code in spend]
    columns += [book.column(code, setting_name(code), "FTE requested in the month (they start after the hiring "
                                                      "lead time)") for code in hires]
    rows = [[m, *(v[m] if m < len(v) else None for v in spend.values()), *(v.count(m) for v in hires.values())]
            for m in range(months)]
    return _Table("Calendar", columns, rows)


def _over_time_tables(calendar: dict, d, book: _Book, about) -> list[_Table]:
    """A plan over time: the fresh comparison's sheets, then Calendar, Search and Diagnostics."""
    from sim.present.records import plan_diagnostics_record

    record = plan_diagnostics_record(d)
    checked = [("Plan chosen", calendar.get("label", ""), "text"),
               ("Cost of the plan over the horizon", calendar.get("cost"), "currency",
                "channel spend and salaries, as the budget counts them"),
               ("Budget for the plan", calendar.get("total"), "currency"),
               *[("Calendar", line) for line in calendar.get("lines", [])],
               *[("What the optimiser checked", s) for s in record.pop("statements")]]
    tables = _comparison_tables(d.comparison, book, about, "the best plan over time found by the optimiser (spend "
                                                           "per period, the month of each hire), compared on fresh "
                                                           "replications", checked)
    record["cash_constraint_broken_by"] = "; ".join(record["cash_constraint_broken_by"]) or "none"
    return [*tables, _calendar_table(calendar, book), _frame_table("Search", d.history, book),
            _items_table("Diagnostics", record, book)]


def _budget_search_tables(allocation: dict, b, book: _Book, scenario, about) -> list[_Table]:
    """The smallest budget reaching a target: Inputs, Allocation, Budgets (every one tried), Budget search."""
    from sim.present.records import budget_search_record

    share = {"estimate": Name("Share of replications reaching the target at the top", "share"),
             "ci_low": Name("Share reaching it, CI low", "share"),
             "ci_high": Name("Share reaching it, CI high", "share")}
    rows = [("Workbook", "the smallest budget at which a split reaches the target with the chance asked for"),
            ("Program", f"{PACKAGE} {__version__}"), *_about_rows(about),
            *_scenario_rows([scenario] if scenario is not None else [], book, "Today's budget for the horizon"),
            ("Target", b.target, "objective", "the objective a replication must reach"),
            ("Chance asked for", b.probability, "share", "", False),
            ("Confidence level", b.level, "share", "of every bound", False),
            ("Replications per split and budget", b.reps, "replications"),
            ("What was shown at the top", b.high_proof), ("What was shown at the bottom", b.low_proof),
            *_not_checked()]
    return [_inputs_table(rows, book), _items_table("Allocation", allocation, book),
            _frame_table("Budgets", b.tried, book), _items_table("Budget search", budget_search_record(b), book,
                                                                  names=share)]


def _sensitivity_tables(s, book: _Book, scenario, about) -> list[_Table]:
    """A sensitivity analysis: Inputs, Sensitivity (the ranked table), Samples (Morris and Sobol)."""
    rows = [("Workbook", f"which settings matter: {s.method}"), ("Program", f"{PACKAGE} {__version__}"),
            *_about_rows(about), *_scenario_rows([scenario] if scenario is not None else [], book),
            ("Method", s.method), ("Objective", s.objective.label, "text", "its mean over each point's replications"),
            ("Replications per point", s.reps, "replications"), ("Points run", s.points, "points"),
            ("Confidence level", s.level, "share", "of every interval", False)]
    if s.noise_floor is not None:
        rows.append(("Noise floor", s.noise_floor, "objective" if s.method == "morris" else "share",
                     "what a setting that does nothing gets from the simulation noise", False))
    if s.noise_share is not None:
        rows.append(("Noise share", s.noise_share, "share", "of the variance of the points' means, each point's own "
                                                            "simulation noise", False))
    for record in s.table.to_dict(orient="records") if "setting" in s.table.columns else []:
        unit = setting_name(str(record["setting"])).unit
        ends = [_shown(record.get(end), unit, book) for end in ("low", "high")] if "low" in record else []
        rows.append(("Varied", record["setting"], "text",
                     f"from {ends[0]} to {ends[1]} ({book.label(unit) or unit})" if ends else ""))
    rows += [*[("What was checked", line) for line in s.statements], *_not_checked(s.objective)]
    table = _frame_table("Sensitivity", s.table, book)
    if "setting" in s.table.columns:  # low and high are in each setting's own unit
        ends = [k for k, c in enumerate(table.columns) if c.code in ("low", "high")]
        for k in ends:
            table.columns[k].unit = ROW
        table.units = [(setting_name(str(path)).unit, False) for path in s.table["setting"]]
    tables = [_inputs_table(rows, book), table]
    if not s.samples.empty:
        names = {"objective": Name("Mean objective over the point's replications", "objective"),
                 "variance": field_name("variance")}
        tables.append(_frame_table("Samples", s.samples, book, settings=[c for c in s.samples.columns
                                                                         if c not in names], names=names))
    return tables


def _columns_table(tables: list[_Table], book: _Book) -> _Table:
    """Every column of every sheet: its header, its code name (as the JSON and CSV name it), unit and notes."""
    rows = []
    for table in tables:
        for column in table.columns:
            unit = "per row: see the Unit column" if column.unit == ROW else book.label(column.unit)
            rows.append([table.title, column.header, column.code, unit, column.note])
    columns = [_Column("Sheet"), _Column("Column"), _Column("Code", note="the name in the JSON and the CSV tables"),
               _Column("Unit"), _Column("Notes")]
    return _Table(COLUMNS_SHEET, columns, rows)


def _formats(table: _Table, book: _Book) -> list[str | None]:
    """The number format of each column (None for a ROW column: each row has its own)."""
    return [number_format(book.unit(c.unit), c.whole) if c.unit != ROW else None for c in table.columns]


def _write_sheet(book: Workbook, table: _Table, currency_book: _Book) -> None:
    """Add ``table`` as a sheet: its header in row 1 (bold, frozen), a record per row, widths to fit."""
    sheet = book.create_sheet(table.title)
    headers = [c.header for c in table.columns]
    # Write-only sheets take column widths and panes before any row, so they are worked out first.
    # Numbers are shown formatted, so about 12 characters hold them; text is measured on the first rows.
    for k, header in enumerate(headers):
        texts = [len(str(row[k])) for row in table.rows[:200] if isinstance(row[k], str)]
        width = min(max([len(header), 10, *texts]) + 2, MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(k + 1)].width = width
    sheet.freeze_panes = "B2"
    fixed = _formats(table, currency_book)
    rows_formats = [number_format(unit, whole) for unit, whole in table.units]

    def cell(value, number_format=None, bold=False):
        c = WriteOnlyCell(sheet, _value(value))
        if isinstance(c.value, str) and c.value.startswith("="):
            c.data_type = "s"  # a label such as "=A1" is text, not a formula
        if number_format and c.data_type in ("n", "d"):  # "d": a date (month_start)
            c.number_format = number_format
        if bold:
            c.font = Font(bold=True)
        return c

    sheet.append([cell(h, bold=True) for h in headers])
    for i, row in enumerate(table.rows):
        formats = [f if c.unit != ROW else rows_formats[i] for f, c in zip(fixed, table.columns, strict=True)]
        sheet.append([cell(v, f) for v, f in zip(row, formats, strict=True)])


def _has(obj, *names: str) -> bool:
    return all(hasattr(obj, name) for name in names)


def _tables(result, book: _Book, scenario, about, measures=None, level: float = 0.95) -> list[_Table]:
    """The standard sheets of ``result``, by what it is (known by its attributes, as this layer knows results)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict):
        first, second = result
        if _has(second, "guarantee", "comparison", "history"):  # optimize's Diagnostics
            book.objective_unit = _objective_unit(second.objective, second.risk)
            return _optimize_tables(first, second, book, about)
        if _has(second, "cash_monthly", "comparison", "history"):  # optimize_over_time's PlanDiagnostics
            book.objective_unit = _objective_unit(second.objective, None)
            return _over_time_tables(first, second, book, about)
        if _has(second, "tried", "high_proof", "low_proof"):  # smallest_budget's BudgetSearch
            return _budget_search_tables(first, second, book, scenario, about)
    elif _has(result, "alternatives", "paired", "objective", "risk"):  # a Comparison
        book.objective_unit = _objective_unit(result.objective, result.risk)
        return _comparison_tables(result, book, about, f"{len(result.alternatives)} alternatives compared with "
                                                       "common random numbers")
    elif _has(result, "replications", "monthly", "failures", "seed", "summary"):  # an Experiment
        return _experiment_tables(result, book, about, measures, level)
    elif _has(result, "metrics", "monthly", "scenario"):  # one replication's Result
        return _result_tables(result, book, about)
    elif _has(result, "method", "table", "noise_floor"):  # a Sensitivity
        book.objective_unit = _objective_unit(result.objective, None)
        return _sensitivity_tables(result, book, scenario, about)
    raise PresentError("result", f"expected a comparison, an experiment, one replication's Result, a sensitivity "
                                 f"analysis or what optimize, optimize_over_time or smallest_budget return, got "
                                 f"{type(result).__name__}")


def _currency_of(result, scenario) -> str:
    for candidate in (getattr(result, "currency", None), getattr(getattr(result, "scenario", None), "currency", None),
                      getattr(scenario, "currency", None)):
        if candidate:
            return str(candidate)
    if isinstance(result, tuple) and len(result) == 2:
        comparison = getattr(result[1], "comparison", None)
        if comparison is not None and comparison.currency:
            return comparison.currency
    return ""


def _write_book(result, path, extra, scenario, about, measures=None, level: float = 0.95) -> Path:
    path = Path(path)
    extra = _check_extra(extra, SHEETS + EXCEL_RESERVED)
    book = _Book(currency=_currency_of(result, scenario))
    tables = _tables(result, book, scenario, about, measures, level)
    tables += [_frame_table(name, frame, book, own=True) for name, frame in extra.items()]
    tables.append(_columns_table(tables, book))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    for table in tables:
        _write_sheet(workbook, table, book)
    return _atomic(path, workbook.save)


def write_excel(result, path, extra: dict[str, pd.DataFrame] | None = None, *, scenario=None, about=None) -> Path:
    """Write ``result`` as one Excel workbook (``.xlsx``) at ``path``: plain tables, named and formatted.

    Every sheet is a table with its header in row 1 (frozen), so that
    ``pandas.read_excel(path, sheet_name=...)`` reads it without ``skiprows``. Measures
    and settings are named in words, with their unit, and numbers are formatted by
    it: money with thousands separators and no decimals, shares as percentages, counts
    whole (a mean with one decimal), hours, months and FTE with one decimal. NaN,
    infinite and missing values are empty cells (Excel has neither NaN nor infinity).

    The sheets, by what ``result`` is:

    - a :class:`~sim.decide.compare.Comparison`: ``Inputs`` (what the numbers are
      about: scenario, horizon, currency, root seed, replications, budget, objective,
      the settings that differ between the alternatives, what was and was not
      checked), ``Summary`` (a row per alternative: its settings, the objective and
      the differences to the baseline and to the best with their CIs, P(best)),
      ``Paired``, ``Measures`` (per alternative and measure: mean, CI, SD, P10, P50,
      P90, with its unit and code), ``Monthly`` (a row per alternative and month: the
      P&L lines, their mean, P10 and P90 over the replications), ``Replications``,
      and ``Failures`` if any failed;
    - an :class:`~sim.montecarlo.experiment.Experiment`: ``Inputs``, ``Measures``,
      ``Monthly``, ``Monthly by replication``, ``Replications`` (and ``Failures``);
    - one replication's :class:`~sim.model.simulation.Result`: ``Inputs``,
      ``Measures`` (each measure's value) and ``Monthly`` (the month's values);
    - ``(allocation, diagnostics)`` from :func:`sim.optimize`: the fresh comparison's
      sheets (the optimiser's statements on ``Inputs``), then ``Allocation``,
      ``Search`` and ``Diagnostics``; ``(calendar, diagnostics)`` from
      :func:`sim.optimize_over_time`: the same with ``Calendar`` (a row per month:
      spend per channel, hires requested per role) instead of ``Allocation``;
      ``(allocation, budget_search)`` from :func:`sim.smallest_budget`: ``Inputs``,
      ``Allocation``, ``Budgets`` (every budget and split tried) and ``Budget search``;
    - a :class:`~sim.decide.sensitivity.Sensitivity`: ``Inputs``, ``Sensitivity``
      (the ranked table) and, for Morris and Sobol, ``Samples``.

    Then each ``extra`` table, and last ``Columns``: every column of every sheet with
    its code name (as the JSON and the CSV tables name it), unit and notes.

    Args:
        result: what to write (above).
        path: the workbook to write; its parent directories are created. An existing
            file there is replaced only once the new workbook is complete.
        extra: more tables, by sheet name (at most 31 characters; letters, digits,
            ``_ - .`` and spaces; not the name of a standard sheet); columns the
            program knows are named and formatted like the rest.
        scenario: the scenario ``result`` is of, for results that do not keep it (a
            sensitivity analysis, a budget search); the others know their own.
        about: more lines for the Inputs sheet: a mapping item -> value (the command
            line, the scenario file, a single run's seed), or ``(item, value, unit,
            notes)`` tuples.

    Returns:
        ``path``.

    Raises:
        OSError: the workbook cannot be written; nothing is left beside ``path`` (openpyxl
            removes its own scratch files, in the system's temporary directory, at exit).
        PresentError: an ``extra`` name is unusable (``extra``), or ``result`` is none
            of the above (``result``).
    """
    return _write_book(result, path, extra, scenario, about)


def write_experiment_excel(experiment, path, measures=None, level: float = 0.95, *, about=None) -> Path:
    """Write an experiment (:func:`sim.run_many`) as one Excel workbook (``.xlsx``) at ``path``.

    As :func:`write_excel` writes an experiment, with the Measures sheet over
    ``measures`` (default: every measure) and its intervals at ``level``. Sheets:
    ``Inputs`` (the scenario, its horizon, currency and budget, the root seed, the
    replications asked for, completed and failed, the level, what was checked),
    ``Measures`` (per measure: its words, unit and code, n, mean, CI, SD, P10, P50,
    P90), ``Monthly`` (a row per month: the P&L lines' mean, P10 and P90),
    ``Monthly by replication``, ``Replications``, ``Failures`` (if any), ``Columns``.
    An existing workbook at ``path`` is replaced only once the new one is complete.

    Returns:
        ``path``.
    """
    return _write_book(experiment, path, None, None, about, measures, level)
