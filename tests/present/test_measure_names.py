"""Every measure the model emits, and every one docs/model.md lists, has a name in words and a unit.

So a new measure cannot be exported unnamed: the workbook (and any report) names measures
through sim.present.measure_names, and this test runs the model on the scenario of
docs/guide/scenario-files.md (every role, nurture, a budget: every kind of measure) and
reads the measure tables of docs/model.md.
"""

from __future__ import annotations

import re

import pytest
import yaml
from paths import DOCS

import sim
from sim.model.states import IN_FLIGHT, TERMINAL
from sim.montecarlo.replication import flatten_metrics
from sim.present.measure_names import UNITS, measure_name, monthly_name, number_format, setting_name, unit_label

ROLES = ("sdr", "ae", "customer_success")


@pytest.fixture(scope="module")
def anatomy():
    page = (DOCS / "guide" / "scenario-files.md").read_text()
    block = next(b for b in re.findall(r"^```yaml\n(.*?)^```", page, flags=re.S | re.M) if "horizon_months" in b)
    scenario = sim.parse_scenario(yaml.safe_load(block))
    return scenario, sim.simulate(scenario, seed=0, lead_records=False)


def _section(text: str, number: int) -> str:
    return text.split(f"\n## {number}. ", 1)[1].split("\n## ", 1)[0]


def _documented_measures() -> list[str]:
    """The codes in the first column of every table headed ``measure`` of sections 7 and 8, placeholders filled."""
    model = (DOCS / "model.md").read_text()
    codes = []
    for number in (7, 8):
        in_table = False
        for line in _section(model, number).splitlines():
            if line.startswith("| measure |"):
                in_table = True
            elif not line.startswith("|"):
                in_table = False
            elif in_table and not line.startswith("| ---"):
                codes += re.findall(r"`([^`]+)`", line.split("|")[1])
    states = ["arrived", *TERMINAL.values(), "in_flight"]
    filled = []
    for code in codes:
        if code == "lead_accounting":
            filled += [f"lead_accounting.{s}" for s in states]
        elif code == "cost.<category>":
            continue  # section 7 lists each category
        else:
            for value in {"<channel>": ["ads", "outbound"], "<role>": ROLES, "<stage>": ["close"],
                          "<state>": list(IN_FLIGHT.values())}.get(m.group(0), [m.group(0)]) if (
                    m := re.search(r"<\w+>", code)) else [None]:
                filled.append(code if value is None else code.replace(m.group(0), value))
    return filled


def test_every_measure_the_model_emits_has_a_name_and_a_unit(anatomy):
    scenario, result = anatomy
    metrics = flatten_metrics(result.metrics)
    assert len(metrics) > 80 and any(k.startswith("budget_fte_") for k in metrics)  # every kind of measure
    unnamed = [code for code in metrics if measure_name(code) is None]
    assert not unnamed, f"add these to sim/present/measure_names.py: {unnamed}"
    for code in metrics:
        name = measure_name(code)
        assert name.unit in UNITS and name.words and name.words != code, code
    words = [measure_name(code).words for code in metrics]
    assert len(set(words)) == len(words)  # one header per measure in the workbook's wide tables


def test_every_column_of_the_monthly_series_has_a_name_and_a_unit(anatomy):
    _, result = anatomy
    unnamed = [code for code in result.monthly.columns if monthly_name(code) is None]
    assert not unnamed, f"add these to sim/present/measure_names.py: {unnamed}"
    assert all(monthly_name(code).unit in UNITS for code in result.monthly.columns)


def test_every_measure_docs_model_lists_has_a_name():
    documented = _documented_measures()
    assert len(documented) > 70 and "losses.cold_leads" in documented and "cost.salaries_ae" in documented
    assert not [code for code in documented if measure_name(code) is None]


def test_units_are_what_the_model_says_they_are():
    # docs/model.md, Units and section 8: money in the currency, rates as shares, times in the unit of the name.
    assert [measure_name(c).unit for c in ("revenue", "cac", "cost.salaries_sdr", "budget_unspent")] == ["currency"] * 4
    assert [measure_name(c).unit for c in ("lead_to_mql", "sla_share", "stage_advance.close", "roi")] == ["share"] * 4
    assert measure_name("response_time_p90_hours").unit == "hours" and measure_name("payback_months").unit == "months"
    assert measure_name("fte_end.ae").unit == "FTE" and measure_name("fte_months.ae").unit == "FTE-months"
    assert measure_name("losses.cold_leads").words == "Leads lost cold (not contacted in time)"
    assert (measure_name("leads").whole, measure_name("queue_mean_mqls").whole) == (True, False)
    assert setting_name("qualification.decay.half_life_hours").unit == "hours"
    assert setting_name("roles.sdr.fte").unit == "FTE" and setting_name("customers.churn_month").unit == "share"
    assert setting_name("channels.ads.spend").unit == "currency"
    assert unit_label("currency", "EUR") == "EUR" and unit_label("share") == "share"


def test_formats_by_unit_are_those_finance_reads():
    assert number_format("currency") == number_format("currency", whole=True) == "#,##0"  # no decimals
    assert number_format("share") == "0.0%"
    assert (number_format("leads", whole=True), number_format("leads")) == ("#,##0", "#,##0.0")  # a mean: 1 decimal
    assert number_format("hours") == number_format("FTE") == "#,##0.0"
    assert number_format("text") is None
