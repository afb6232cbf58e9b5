"""``funnel optimize --over-time``: the calendar, its files, resuming, and one line per wrong option.

Expectations come from the files the command writes, read back independently: the
estimate from the chosen plan's fresh objectives in ``replications.csv``, the plan from
``plan.yaml`` loaded as a scenario, the cost from that scenario's own budget accounting.
The fast ``teaching_minimal`` scenario is used, with a small race, in this process.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from cli_run import assert_one_line_per_option, in_process, strict_json
from paths import SCENARIOS, SMALL_FIRM, TEACHING
from workbooks import assert_records_equal, by_code, inputs, items, sheet

from sim.scenario import load_scenario

MARKETPLACE = SCENARIOS / "marketplace_sellers.yaml"
RUN = ["--over-time", "--runway", "12000", "--cash-probability", "0.8", "--initial-reps", "5", "--fresh-reps", "6",
       "--candidates", "3", "--delta", "5000", "--seed", "4", "--quiet"]


@pytest.fixture(scope="module")
def over_time(tmp_path_factory):
    base = tmp_path_factory.mktemp("over_time")
    out, plots, excel = base / "out", base / "plots", base / "book.xlsx"
    code, text, err = in_process("optimize", str(TEACHING), *RUN, "--json", "--out", str(out), "--plots", str(plots),
                                 "--excel", str(excel))
    assert code == 0, err
    again = in_process("optimize", str(TEACHING), *RUN, "--json", "--out", str(out))
    return strict_json(text), out, plots, excel, again


def test_the_json_gives_the_calendar_and_what_was_checked(over_time):
    document, out, *_ = over_time
    calendar, d = document["calendar"], document["diagnostics"]
    assert calendar["lines"] and all(isinstance(line, str) for line in calendar["lines"])
    assert any(line.startswith(("hire ", "AE: no hire")) for line in calendar["lines"])
    assert len(calendar["spend_month.ads"]) == 12
    assert d["cash.runway"] == 12000 and d["cash.probability"] == 0.8
    assert d["cash.replications"] >= 14  # 0.8 ** 14 < 0.05: enough to show it if every one holds
    assert any(s.startswith("cash stayed at or above -12,000 USD in every month") for s in d["statements"])
    # The estimate is the mean of the chosen plan's fresh objectives in the tidy table.
    tidy = pd.read_csv(out / "replications.csv")
    chosen = tidy[tidy["alternative"] == calendar["label"]]
    assert len(chosen) == 6 and (chosen["replication"] >= 1_000_000).all()
    assert d["estimate"] == pytest.approx(chosen["objective"].mean())


def test_plan_yaml_is_the_chosen_plan_as_a_scenario_that_keeps_the_budget(over_time):
    document, out, *_ = over_time
    calendar = document["calendar"]
    plan = load_scenario(out / "plan.yaml")
    assert list(plan.plan.monthly_spend("ads")) == pytest.approx(calendar["spend_month.ads"])
    hired = sorted(m for m, n in plan.plan.roles["ae"].hires for _ in range(n))
    assert hired == calendar["hires.ae"]
    account = plan.plan.budget
    assert account.marketing + account.sales == pytest.approx(calendar["cost"])
    assert account.marketing + account.sales <= calendar["total"] * (1 + 1e-9)
    # It is a scenario like any other: funnel compare takes it beside the original.
    code, text, err = in_process("compare", str(TEACHING), str(out / "plan.yaml"), "--reps", "3", "--json")
    assert code == 0, err
    assert len(strict_json(text)["alternatives"]) == 2


def test_the_cash_chart_and_the_workbook_are_written(over_time):
    document, _, plots, excel, _ = over_time
    assert (plots / "cash.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    book = openpyxl.load_workbook(excel, read_only=True)
    assert {"Inputs", "Monthly", "Calendar", "Search", "Diagnostics", "Columns"} <= set(book.sheetnames)
    book.close()
    # The Calendar sheet is the JSON's calendar, a row per month: the spend, and the hires requested that month.
    calendar = by_code(excel, "Calendar")
    assert list(calendar["month"]) == list(range(12))
    assert list(calendar["spend_month.ads"]) == pytest.approx(document["calendar"]["spend_month.ads"])
    hires = document["calendar"]["hires.ae"]
    assert list(calendar["hires.ae"]) == [hires.count(m) for m in range(12)]
    # Diagnostics: the JSON's, item for item, named in words; what was checked: the JSON's statements.
    d = {k: v for k, v in document["diagnostics"].items() if k != "statements"}
    d["cash_constraint_broken_by"] = "; ".join(d["cash_constraint_broken_by"]) or "none"
    assert sorted(items(excel, "Diagnostics")) == sorted(d)
    assert_records_equal([items(excel, "Diagnostics")], [d])
    assert (sheet(excel, "Diagnostics")["Item"] != sheet(excel, "Diagnostics")["Code"]).all()
    assert [r["Value"] for r in inputs(excel) if r["Item"] == "What the optimiser checked"] == \
        document["diagnostics"]["statements"]
    assert [r["Value"] for r in inputs(excel) if r["Item"] == "Calendar"] == document["calendar"]["lines"]


def test_running_again_resumes_and_gives_the_same_answer(over_time):
    document, _, _, _, (code, text, err) = over_time
    assert code == 0, err
    again = strict_json(text)
    assert again["calendar"] == document["calendar"]
    for key in ("estimate", "ci_low", "ci_high", "vs_today", "cash.held", "replications_used"):
        assert again["diagnostics"][key] == document["diagnostics"][key]


def test_plan_options_without_over_time_and_static_options_with_it_are_one_line_each():
    code, out, err = in_process("optimize", str(SMALL_FIRM), "--runway", "5", "--period-months", "6")
    assert_one_line_per_option(code, out, err, ["--runway", "--period-months"])
    code, out, err = in_process("optimize", str(SMALL_FIRM), "--over-time", "--risk", "cvar", "--risk-level", "0.1",
                                "--min-fte", "ae=1", "--channel-step", "0.1", "--cash-probability", "2",
                                "--period-months", "0", "--spend-bounds", "google_ads=5", "--terminal-value", "x")
    assert_one_line_per_option(code, out, err, ["--risk", "--min-fte", "--channel-step", "--cash-probability",
                                                "--period-months", "--spend-bounds", "--terminal-value"])


def test_a_terminal_value_the_scenario_cannot_give_is_one_line():
    code, out, err = in_process("optimize", str(TEACHING), "--over-time", "--terminal-value", "5")
    assert_one_line_per_option(code, out, err, ["--terminal-value"])
    code, out, err = in_process("compare", str(TEACHING), "--marketing-share", "0.3", "--terminal-value", "npv",
                                "--reps", "2")
    assert_one_line_per_option(code, out, err, ["--terminal-value"])


def test_the_terminal_value_enters_a_comparison(tmp_path):
    # Each replication's objective is its contribution plus 4 times its ending ARR, in the tidy table.
    code, text, err = in_process("compare", str(MARKETPLACE), "--marketing-share", "0.3", "--reps", "2", "--json",
                                 "--terminal-value", "4", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert strict_json(text)["comparison"]["objective"] == "contribution + 4x ending ARR"
    tidy = pd.read_csv(tmp_path / "out" / "replications.csv")
    assert len(tidy) == 4
    assert tidy["objective"].to_numpy() == pytest.approx((tidy["contribution"] + 4 * tidy["ending_arr"]).to_numpy(),
                                                         rel=1e-12)
