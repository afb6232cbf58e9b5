"""measures_table shows every measure in its unit, readable, and what it shows reads back as the number."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from paths import DOCS, TEACHING

import sim
from sim.present.errors import PresentError
from sim.present.tables import measure_unit, measures_table


@pytest.fixture(scope="module")
def run():
    scenario = sim.load_scenario(TEACHING)
    return scenario, sim.simulate(scenario, seed=1, lead_records=False).metrics


def _read(text, unit):
    """A value as shown -> (the number, how far rounding may have moved it)."""
    if text == "n/a":
        return math.nan, 0.0
    if text in ("infinite", "-infinite"):
        return (math.inf if text == "infinite" else -math.inf), 0.0
    percent = text.endswith("%")
    assert percent == (unit == "%"), (text, unit)
    digits = text.rstrip("%")
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*(\.\d+)?", digits), text  # separators, never an exponent
    decimals = len(digits.partition(".")[2])
    scale = 0.01 if percent else 1.0
    return float(digits.replace(",", "")) * scale, 0.5 * 10 ** -decimals * scale


def _doc_table(heading):
    """The rows of the table under ``heading`` in docs/model.md: first cell -> the other cells."""
    text = (DOCS / "model.md").read_text(encoding="utf-8")
    block = text[text.index(heading):].split("\n\n")[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in block.splitlines()[2:]]
    return {cells[0]: cells[1:] for cells in rows}


def _names(cell):
    """Measure names in a docs table cell, ``<channel>``-style families as the family."""
    # A cost category stands for a real one: the table of names knows the categories by name.
    return [re.sub(r"\.<\w+>$", ".x", re.sub(r"^cost\.<category>$", "cost.marketing_spend", name))
            for name in re.findall(r"`([^`]+)`", cell)]


def test_every_measure_of_a_run_reads_back_as_its_number(run):
    scenario, metrics = run
    numbers = {k: v for k, v in metrics.items() if not isinstance(v, dict)}
    table = measures_table(numbers, currency=scenario.currency)
    assert list(table.index) == list(numbers) and list(table.columns) == ["value", "unit"]
    for name, value in numbers.items():
        shown, unit = table.loc[name, "value"], table.loc[name, "unit"]
        assert unit == measure_unit(name, scenario.currency)
        number, off = _read(shown, unit)
        if math.isnan(value):
            assert math.isnan(number)
        else:
            assert number == pytest.approx(value, abs=off * (1 + 1e-9)), name


def test_units_are_those_the_model_documents():
    rates = [n for cell in _doc_table("Rates (shares, 0 to 1):") for n in _names(cell)]
    assert len(rates) >= 6
    assert {n: measure_unit(n) for n in rates} == dict.fromkeys(rates, "%")
    documented = {"hours": "hours", "share": "%", "FTE": "FTE", "FTE-months": "FTE-months", "MQLs": "count",
                  "SQLs": "count"}
    capacity = _doc_table("Response time, queues and capacity:")
    assert len(capacity) >= 6
    for cell, (unit, _) in capacity.items():
        for name in _names(cell):
            assert measure_unit(name, "EUR") == documented[unit], name
    money = _doc_table("Money (currency):")
    not_money = {"ending_customers": "count", "customers_churned": "count", "payback_months": "months",
                 "ltv_to_cac": "ratio", "roi": "%"}  # in the money table, with their own units
    for cell in money:
        for name in _names(cell):
            assert measure_unit(name, "EUR") == not_money.get(name, "EUR"), name
    waiting = _doc_table("The cost of waiting (expected wins")
    assert len(waiting) >= 4
    for cell in waiting:
        for name in _names(cell):
            assert measure_unit(name, "EUR") == ("count" if name.startswith("wins_lost.") else "EUR"), name
    assert measure_unit("contribution") == "money"  # no currency given
    assert measure_unit("no_such_measure") == "count"


@pytest.mark.parametrize("value", [1.5e7, -2.5e9, 12345.678, 99.5, 3.0, 0.2069, 3e-5, 0.0, math.nan, math.inf])
@pytest.mark.parametrize("name", ["revenue", "leads", "sla_share", "response_time_median_hours", "ltv_to_cac"])
def test_no_magnitude_is_shown_in_scientific_notation(name, value):
    unit = measure_unit(name, "USD")
    shown = measures_table({name: value}, currency="USD").loc[name, "value"]
    assert "e" not in shown.replace("infinite", "")
    number, off = _read(shown, unit)
    assert number == pytest.approx(value, abs=off * (1 + 1e-9), nan_ok=True)


def test_a_summary_is_shown_row_by_row_in_each_measures_unit():
    summary = pd.DataFrame({"n": [12, 12], "mean": [23533849.4, 0.8719], "ci_low": [23187000.1, 0.85]},
                           index=pd.Index(["revenue", "qualifier_utilisation"], name="measure"))
    table = measures_table(summary, currency="USD")
    assert table.to_dict("index") == {
        "revenue": {"n": "12", "mean": "23,533,849", "ci_low": "23,187,000", "unit": "USD"},
        "qualifier_utilisation": {"n": "12", "mean": "87.2%", "ci_low": "85.0%", "unit": "%"}}


def test_measures_by_column_keep_their_rows_and_name_the_currency():
    rows = pd.DataFrame({"leads": [49289.0, 51198.0], "sla_share": [0.328, 0.902], "contribution": [1.1e7, 1.09e7]},
                        index=pd.Index([5, 11], name="SDR FTE"))
    table = measures_table(rows, currency="USD", measures="columns")
    assert list(table.columns) == ["leads", "sla_share", "contribution (USD)"]
    assert table.index.name == "SDR FTE" and list(table.index) == [5, 11]
    assert table.to_numpy().tolist() == [["49,289", "32.8%", "11,000,000"], ["51,198", "90.2%", "10,900,000"]]
    assert not np.any(table.map(lambda s: "e+" in s).to_numpy())


def test_measures_table_refuses_what_it_cannot_show():
    with pytest.raises(PresentError, match="'rows'"):
        measures_table(pd.DataFrame({"leads": [1]}), measures="rows")
    with pytest.raises(PresentError, match="list"):
        measures_table([1, 2, 3])
