import dataclasses
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from paths import TEACHING
from workbooks import assert_frame_matches, assert_records_equal, by_code, formats, inputs, inputs_value, items, sheets

from sim import __version__, load_scenario
from sim.decide.compare import compare, sweep
from sim.present.errors import PresentError
from sim.present.export import write_tables
from sim.present.workbook import write_excel

EXTRA = pd.DataFrame({"share": [0.2, 0.3], "value": [1.5, math.inf]}).set_index("share")


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TEACHING)


@pytest.fixture(scope="module")
def comparison(scenario):
    return sweep(scenario, {"marketing_share": [0.2, 0.3, 0.4]}, reps=10, seed=1)


@pytest.fixture(scope="module")
def identical(scenario):
    # Two alternatives with identical results (the twin differs in its name only, so it is not
    # merged as the same scenario): variance reduction is NaN against itself and inf against the
    # twin. The label looks like a formula, which Excel must show as text.
    return compare({"=1+1": scenario, "twin": scenario.replace({"name": "twin"})}, reps=5, seed=1)


@pytest.fixture(scope="module")
def tables(comparison, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tables") / "out" / "sweep"
    paths = write_tables(comparison, directory, extra={"curve": EXTRA})
    return directory, paths


@pytest.fixture(scope="module")
def workbook(comparison, tmp_path_factory):
    """The sweep's workbook: its path (read it back with pandas, as its readers do)."""
    return write_excel(comparison, tmp_path_factory.mktemp("excel") / "sweep.xlsx", extra={"curve": EXTRA})


def expected_tables(c):
    return {"alternatives": c.alternatives.reset_index(), "paired": c.paired, "measures": c.measures,
            "replications": c.replications, "monthly": c.monthly, "failures": c.failures,
            "curve": EXTRA.reset_index()}


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def sheet_rows(sheet):
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- write_tables


def test_write_tables_returns_every_file_it_wrote(tables):
    directory, paths = tables
    names = ["alternatives", "paired", "measures", "replications", "monthly", "failures", "curve"]
    assert paths == [directory / f"{n}.{ext}" for n in names for ext in ("csv", "parquet")] + [
        directory / "about.json"]
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in paths)


@pytest.mark.parametrize("name", ["alternatives", "paired", "measures", "replications", "monthly", "failures",
                                  "curve"])
def test_parquet_reads_back_equal(tables, comparison, name):
    directory, _ = tables
    expected = expected_tables(comparison)[name]
    got = pd.read_parquet(directory / f"{name}.parquet")
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", ["alternatives", "paired", "measures", "replications", "monthly", "failures",
                                  "curve"])
def test_csv_reads_back_equal(tables, comparison, name):
    directory, _ = tables
    expected = expected_tables(comparison)[name]
    got = pd.read_csv(directory / f"{name}.csv", encoding="utf-8")
    # CSV has no dtypes: ints of an all-integer float column, strings of an empty one.
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_column_type=False)


def test_alternatives_keep_their_label_column(tables, comparison):
    directory, _ = tables
    got = pd.read_csv(directory / "alternatives.csv")
    assert list(got.columns)[0] == "alternative"
    assert list(got["alternative"]) == list(comparison.alternatives.index)


def test_nan_and_inf_round_trip(identical, tmp_path):
    write_tables(identical, tmp_path)
    vr = identical.paired["variance_reduction"]
    assert vr.isna().any() and np.isinf(vr).any()  # the case this test is about
    for got in (pd.read_parquet(tmp_path / "paired.parquet"), pd.read_csv(tmp_path / "paired.csv")):
        np.testing.assert_array_equal(got["variance_reduction"].to_numpy(), vr.to_numpy())
        assert list(got["alternative"]) == list(identical.paired["alternative"])  # "=1+1" stays text


def test_about_is_strict_json(tables, comparison):
    directory, _ = tables
    about = strict_json((directory / "about.json").read_text(encoding="utf-8"))
    assert about["best"] == comparison.best and about["baseline"] == comparison.baseline
    assert about["objective"] == comparison.objective.label and about["risk"] == comparison.risk.label
    assert (about["level"], about["reps"], about["n"]) == (comparison.level, comparison.reps, comparison.n)
    assert about["dimensions"] == ["marketing_share"] and about["version"] == __version__


def test_about_writes_nan_as_null(comparison, tmp_path):
    write_tables(dataclasses.replace(comparison, level=math.nan), tmp_path)
    assert strict_json((tmp_path / "about.json").read_text(encoding="utf-8"))["level"] is None


def test_empty_monthly_is_skipped_but_failures_always_written(comparison, tmp_path):
    paths = write_tables(dataclasses.replace(comparison, monthly=pd.DataFrame()), tmp_path)
    names = {p.name for p in paths}
    assert "monthly.csv" not in names and not (tmp_path / "monthly.parquet").exists()
    assert {"failures.csv", "failures.parquet"} <= names
    assert list(pd.read_csv(tmp_path / "failures.csv").columns) == ["alternative", "replication", "seed", "error"]


def test_failures_round_trip(comparison, tmp_path):
    failures = pd.DataFrame([{"alternative": "today", "replication": 3, "seed": 12345, "error": "boom, \"quoted\"\n"}])
    write_tables(dataclasses.replace(comparison, failures=failures), tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "failures.parquet"), failures)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "failures.csv"), failures, check_dtype=False)


def test_existing_directory_and_its_other_contents_are_kept(comparison, tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "keep.txt").write_text("mine")
    write_tables(comparison, tmp_path)
    # An earlier call's output: its own files are replaced, what the user added beside them stays.
    (tmp_path / "paired.csv").write_text("old")
    (tmp_path / "notes.txt").write_text("mine too")
    write_tables(comparison, tmp_path)
    assert (tmp_path / "runs" / "keep.txt").read_text() == "mine"
    assert (tmp_path / "notes.txt").read_text() == "mine too"
    assert (tmp_path / "paired.csv").read_text().startswith("alternative,")


def test_unwritable_directory_raises_oserror(comparison, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OSError):
        write_tables(comparison, tmp_path / "file" / "out")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def fail_midway(path, *args, **kwargs):
    Path(path).write_bytes(b"half a file")
    raise OSError(28, "No space left on device")


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_one(comparison, tmp_path, monkeypatch):
    write_tables(comparison, tmp_path)
    before = (tmp_path / "alternatives.parquet").read_bytes()  # the first Parquet file written
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, path, **kw: fail_midway(path))
    with pytest.raises(OSError, match="No space"):
        write_tables(comparison, tmp_path)
    assert (tmp_path / "alternatives.parquet").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_unwritable_parquet_column_leaves_no_file(comparison, tmp_path):
    with pytest.raises(Exception, match="convert"):  # a column Parquet cannot type
        write_tables(comparison, tmp_path, extra={"bad": pd.DataFrame({"x": [1, "a"]})})
    assert not (tmp_path / "bad.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("name", ["paired", "a/b", "", "x" * 32, "PAIRED"])
def test_unusable_extra_names_are_refused(comparison, tmp_path, name):
    with pytest.raises(PresentError, match="table name"):
        write_tables(comparison, tmp_path, extra={name: EXTRA})
    assert not list(tmp_path.iterdir())


# --- write_excel: a comparison, read back as its readers do (pandas, no skiprows)

SHEETS = ["Inputs", "Summary", "Paired", "Measures", "Monthly", "Replications", "curve", "Columns"]


def test_workbook_sheets_in_order(workbook):
    assert openpyxl.load_workbook(workbook).sheetnames == SHEETS


def test_every_sheet_is_a_plain_table_that_pandas_reads_as_it_is(workbook):
    book = openpyxl.load_workbook(workbook)
    listed = pd.read_excel(workbook, sheet_name="Columns")
    for name, frame in sheets(workbook).items():
        sheet = book[name]
        header = [c.value for c in sheet[1]]
        assert all(isinstance(h, str) and h for h in header), name
        assert list(frame.columns) == header, name  # row 1 is the header, each once (pandas renames no twin)
        assert sheet.max_row == len(frame) + 1, name  # nothing above or below the table
        assert sheet.freeze_panes == "B2", name
        for k, h in enumerate(header):
            width = sheet.column_dimensions[openpyxl.utils.get_column_letter(k + 1)].width
            assert width >= min(len(h), 48), (name, h)
        if name != "Columns":  # the Columns sheet lists every column of every other sheet, in order
            assert list(listed.loc[listed["Sheet"] == name, "Column"]) == header, name


def test_summary_is_the_alternatives_table(workbook, comparison):
    assert_frame_matches(by_code(workbook, "Summary"), comparison.alternatives.reset_index().drop(columns="n"))


def test_paired_and_replications_are_the_comparisons_tables(workbook, comparison):
    assert_frame_matches(by_code(workbook, "Paired"), comparison.paired)
    got = by_code(workbook, "Replications")
    assert_frame_matches(got, comparison.replications)
    assert list(got["alternative"]) == list(comparison.replications["alternative"])


def test_measures_are_named_in_words_with_their_unit_and_code(workbook, comparison):
    got = by_code(workbook, "Measures")
    key = ["alternative", "measure"]
    expected = comparison.measures.sort_values(key, ignore_index=True)
    assert_frame_matches(got.drop(columns=["Measure", "Unit"]).sort_values(key, ignore_index=True), expected)
    unit = {row["measure"]: row["Unit"] for row in got.to_dict(orient="records")}
    assert (unit["leads"], unit["wins"], unit["revenue"], unit["qualifier_utilisation"],
            unit["response_time_median_hours"]) == ("leads", "wins", "USD", "share", "hours")
    words = dict(zip(got["measure"], got["Measure"], strict=True))
    assert words["cost.total"] == "Total costs" and words["wins"] == "Deals won"


def test_monthly_is_the_mean_and_spread_of_each_month_over_the_replications(workbook, comparison, scenario):
    got = pd.read_excel(workbook, sheet_name="Monthly")
    labels = list(comparison.alternatives.index)
    assert list(got["Alternative"]) == [a for a in labels for _ in range(scenario.horizon_months)]
    assert list(got["Month"]) == list(range(scenario.horizon_months)) * len(labels)
    # Computed here from the long series by pandas, not by the workbook's code.
    m = comparison.monthly.sort_values(["alternative", "replication", "month"])
    m = m.assign(gross=m["revenue"] * scenario.gross_margin,  # gross margin: revenue at the scenario's rate
                 cash=m.groupby(["alternative", "replication"])["contribution"].cumsum())
    groups = m.groupby(["alternative", "month"])
    lines = {"Marketing spend (USD)": "marketing_spend", "Salaries (USD)": "salaries",
             "Commissions (USD)": "commissions", "Other costs (lead costs, nurture, SDR bonuses; USD)": "other_costs",
             "Total costs (USD)": "costs", "Revenue (USD)": "revenue", "Gross margin (USD)": "gross",
             "Contribution (USD)": "contribution", "Cumulative contribution (cash; USD)": "cash",
             "Bookings (USD)": "bookings", "Deals won": "wins"}
    for header, column in lines.items():
        for stat, value in (("mean", groups[column].mean()), ("P10", groups[column].quantile(0.1)),
                            ("P90", groups[column].quantile(0.9))):
            expected = [value[(a, k)] for a, k in zip(got["Alternative"], got["Month"], strict=True)]
            np.testing.assert_allclose(got[f"{header}, {stat}"], expected, rtol=1e-9, atol=1e-6, err_msg=header)
    # The lines add up to the total, and the last month's cash is the contribution over the horizon.
    parts = ["Marketing spend (USD)", "Salaries (USD)", "Commissions (USD)",
             "Other costs (lead costs, nurture, SDR bonuses; USD)"]
    np.testing.assert_allclose(sum(got[f"{p}, mean"] for p in parts), got["Total costs (USD), mean"], rtol=1e-12)
    last = got[got["Month"] == scenario.horizon_months - 1].set_index("Alternative")
    contribution = comparison.replications.groupby("alternative")["contribution"].mean()
    np.testing.assert_allclose(last.loc[labels, "Cumulative contribution (cash; USD), mean"], contribution[labels],
                               rtol=1e-9)


def test_inputs_say_what_the_numbers_are_about(workbook, comparison, scenario):
    import sim

    def value(item):
        return inputs_value(workbook, item)

    assert (value("Scenario"), value("Horizon"), value("Currency")) == ("teaching_minimal", 12, "USD")
    assert (value("Root seed"), value("Replications per alternative"), value("Paired replications")) == (1, 10, 10)
    assert (value("Failed replications"), value("Confidence level")) == (0, 0.95)
    assert (value("Objective"), value("Risk measure"), value("Baseline"), value("Best")) == (
        "contribution", "mean", "today", comparison.best)
    assert value("Program") == f"funnel-sim {__version__}"
    assert value("Budget for the horizon") == pytest.approx(sim.current_split(scenario).total, rel=1e-12)
    rows = inputs(workbook)
    assert [r["Item"] for r in rows][:2] == ["Workbook", "Program"]
    assert any(r["Item"] == "Checked" and "lead accounting" in r["Value"] and "in 40 of 40 replications" in r["Value"]
               for r in rows)
    assert any(r["Item"] == "Not checked" for r in rows)


def test_inputs_list_every_setting_the_alternatives_of_a_sweep_differ_in(workbook, comparison, scenario):
    import sim

    rows = {r["Item"].removeprefix("Differs between alternatives: "): r for r in inputs(workbook)
            if r["Item"].startswith("Differs between alternatives: ")}
    shares = comparison.alternatives["marketing_share"]
    share = rows["Marketing share of the budget"]
    assert share["Value"] == "; ".join(f"{label}: {x:.1%}" for label, x in shares.items())
    assert share["Unit"] == "share" and "marketing_share" in share["Notes"]
    # The split moves money between the one channel and the team: its spend differs, by the share of the budget.
    total = sim.current_split(scenario).total
    spend = rows["Spend on ads over the horizon"]
    assert spend["Value"] == "; ".join(f"{label}: {x * total:,.0f} USD" for label, x in shares.items())
    assert ("AE FTE" in rows) == (comparison.alternatives["fte.ae"].nunique() > 1)
    assert not [item for item in rows if "Ads share" in item or "horizon_months" in item]  # the same everywhere


@pytest.fixture(scope="module")
def identical_book(identical, tmp_path_factory):
    return write_excel(identical, tmp_path_factory.mktemp("same") / "same.xlsx")


def test_alternatives_that_differ_in_nothing_but_their_names_list_no_difference(identical_book):
    assert not [r for r in inputs(identical_book) if r["Item"].startswith("Differs")]


def test_scenarios_compared_list_each_field_they_differ_in(scenario, tmp_path):
    other = scenario.replace({"name": "other", "roles.ae.fte": 3, "scoring.mql_threshold": 0.35})
    path = write_excel(compare({"today": scenario, "other": other}, reps=2, seed=1), tmp_path / "files.xlsx")
    rows = {r["Item"].removeprefix("Differs between alternatives: "): r for r in inputs(path)
            if r["Item"].startswith("Differs")}
    assert rows["Scenario: scoring.mql_threshold"]["Value"] == "today: 0.3; other: 0.35"
    assert rows["Scenario: roles.ae.fte"]["Value"] == "today: 2; other: 3"
    assert rows["Scenario: roles.ae.fte"]["Unit"] == rows["AE FTE"]["Unit"] == "FTE"
    # The budget the plan spends (no budget block): channel spend plus each AE at cost for the horizon.
    budgets = [scenario.plan.marketing_spend + fte * scenario.roles.ae.cost_per_fte_year * 12 / 12 for fte in (2, 3)]
    assert rows["Budget for the horizon"]["Value"] == f"today: {budgets[0]:,.0f} USD; other: {budgets[1]:,.0f} USD"
    assert sorted(rows) == ["AE FTE", "Budget for the horizon", "Scenario: roles.ae.fte",
                            "Scenario: scoring.mql_threshold"]  # not the name: it labels, it is no setting
    assert inputs_value(path, "Scenario") == "teaching_minimal, other"


def test_numbers_are_formatted_by_their_unit(workbook):
    summary = formats(workbook, "Summary")
    assert summary["Marketing share of the budget"] == summary["P(best)"] == "0.0%"
    assert summary["Mean of contribution (USD)"] == summary["Mean of contribution (USD), CI low"] == "#,##0"
    assert summary["AE FTE"] == "#,##0"
    measures = formats(workbook, "Measures", key="Code")
    assert measures[("leads", "Mean")] == measures[("leads", "P90")] == "#,##0.0"  # a mean of counts: one decimal
    assert measures[("leads", "Replications")] == "#,##0"
    assert measures[("revenue", "Mean")] == measures[("revenue", "SD")] == "#,##0"
    assert measures[("qualifier_utilisation", "CI low")] == "0.0%"
    assert measures[("response_time_median_hours", "Mean")] == "#,##0.0"
    replications = formats(workbook, "Replications")
    assert replications["Leads"] == replications["Deals won"] == "#,##0"  # one replication's count: whole
    assert replications["Revenue (recognised; USD)"] == replications["Total costs (USD)"] == "#,##0"
    assert replications["Lead to MQL rate"] == "0.0%"
    assert replications["Response time, median (hours)"] == "#,##0.0"
    assert replications["Replication"] == replications["Root seed"] == "0"
    values = formats(workbook, "Inputs", key="Item")
    assert values[("Confidence level", "Value")] == "0.0%" and values[("Budget for the horizon", "Value")] == "#,##0"
    monthly = formats(workbook, "Monthly")
    assert monthly["Month"] == "0" and monthly["Revenue (USD), mean"] == "#,##0"
    assert monthly["Deals won, mean"] == "#,##0.0"


def test_extra_table_is_a_sheet_with_its_index(workbook):
    rows = sheet_rows(openpyxl.load_workbook(workbook)["curve"])
    assert rows == [["share", "value"], [0.2, 1.5], [0.3, None]]


def test_nan_and_inf_cells_are_empty(identical, identical_book):
    book = openpyxl.load_workbook(identical_book)
    rows = sheet_rows(book["Paired"])
    column = rows[0].index("Variance reduction (independent-runs variance / paired variance)")
    assert [row[column] for row in rows[1:]] == [None] * len(identical.paired)
    assert [row[0] for row in rows[1:]] == list(identical.paired["alternative"])  # "=1+1" is text
    assert book["Paired"]["A2"].data_type == "s"
    # openpyxl reads a NaN it wrote back as None too, so look at what Excel would see: no value at all.
    with zipfile.ZipFile(identical_book) as z:
        sheets_xml = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    for xml in sheets_xml:
        assert not re.search(r"<v\s*/>|<v>\s*-?(nan|inf)", xml, re.IGNORECASE)


def test_unwritable_workbook_raises_oserror_and_leaves_nothing(identical, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(OSError):
        write_excel(identical, tmp_path / "file" / "sweep.xlsx")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    (tmp_path / "sweep.xlsx").mkdir()  # the workbook is written, then cannot replace a directory
    with pytest.raises(OSError):
        write_excel(identical, tmp_path / "sweep.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "sweep.xlsx"]


def test_failed_workbook_write_keeps_the_old_workbook(identical, tmp_path, monkeypatch):
    path = write_excel(identical, tmp_path / "sweep.xlsx")
    before = path.read_bytes()
    save = openpyxl.Workbook.save

    def save_then_fail(book, filename):
        save(book, filename)  # lets openpyxl finish its sheets, so only the file is left to clean up
        fail_midway(filename)

    monkeypatch.setattr(openpyxl.Workbook, "save", save_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_excel(identical, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.xlsx"]


def test_second_write_replaces_the_workbook(identical, tmp_path):
    path = tmp_path / "sweep.xlsx"
    write_excel(identical, path, extra={"curve": EXTRA})
    write_excel(identical, path)
    assert openpyxl.load_workbook(path).sheetnames == [s for s in SHEETS if s != "curve"]
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.xlsx"]


@pytest.mark.parametrize("name", ["summary", "Inputs", "columns", "calendar", "bad:name", "x" * 32])
def test_unusable_sheet_names_are_refused(comparison, tmp_path, name):
    with pytest.raises(PresentError, match="table name"):
        write_excel(comparison, tmp_path / "sweep.xlsx", extra={name: EXTRA})
    assert not list(tmp_path.iterdir())


def test_extra_names_differing_only_in_case_are_refused(comparison, tmp_path):
    with pytest.raises(PresentError, match="taken"):
        write_tables(comparison, tmp_path, extra={"curve": EXTRA, "Curve": EXTRA})
    with pytest.raises(PresentError, match="taken"):
        write_excel(comparison, tmp_path / "sweep.xlsx", extra={"history": EXTRA})
    assert not list(tmp_path.iterdir())


def test_what_a_workbook_cannot_hold_is_refused(tmp_path):
    with pytest.raises(PresentError, match="^result: expected a comparison"):
        write_excel({"not": "a result"}, tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())


# --- write_experiment_excel and Experiment.to_excel


@pytest.fixture(scope="module")
def experiment(scenario):
    import sim

    return sim.run_many(scenario, reps=6, seed=4)


def _summary(path) -> pd.DataFrame:
    """The Measures sheet as a summary: one row per measure code, the statistics' columns."""
    from sim.montecarlo.summary import SUMMARY_COLUMNS

    return by_code(path, "Measures").set_index("measure")[SUMMARY_COLUMNS]


def test_experiment_workbook_holds_the_summary_and_the_frames(experiment, scenario, tmp_path):
    path = tmp_path / "experiment.xlsx"
    assert Path(experiment.to_excel(path)) == path
    assert openpyxl.load_workbook(path).sheetnames == ["Inputs", "Measures", "Monthly", "Monthly by replication",
                                                       "Replications", "Columns"]
    assert experiment.replications.isna().any().any()  # the empty-cell case is exercised
    expected = experiment.summary()
    got = _summary(path)
    assert sorted(got.index) == sorted(expected.index)
    assert_frame_matches(got.loc[expected.index].reset_index(), expected.reset_index())
    assert_frame_matches(by_code(path, "Replications"), experiment.replications)
    assert_frame_matches(by_code(path, "Monthly by replication"), experiment.monthly)
    assert len(pd.read_excel(path, sheet_name="Monthly")) == scenario.horizon_months
    assert (inputs_value(path, "Scenario"), inputs_value(path, "Horizon")) == (scenario.name, scenario.horizon_months)
    assert (inputs_value(path, "Root seed"), inputs_value(path, "Replications completed"),
            inputs_value(path, "Failed replications"), inputs_value(path, "Confidence level")) == (4, 6, 0, 0.95)


def test_experiment_workbook_with_chosen_measures_and_level(experiment, tmp_path):
    from sim.present.workbook import write_experiment_excel

    path = tmp_path / "deep" / "chosen.xlsx"
    assert write_experiment_excel(experiment, path, measures=["wins", "leads"], level=0.8) == path
    summary = _summary(path)
    expected = experiment.summary(["wins", "leads"], 0.8)
    assert list(summary.index) == ["wins", "leads"]
    assert_frame_matches(summary.reset_index(), expected.reset_index())
    # A narrower level gives a narrower interval than the default 95%: the level was used, not ignored.
    wide = experiment.summary(["wins"], 0.95).loc["wins"]
    assert wide["ci_low"] < summary.loc["wins", "ci_low"] <= summary.loc["wins", "ci_high"] < wide["ci_high"]
    assert inputs_value(path, "Confidence level") == 0.8


# --- one replication


def test_one_replication_workbook_holds_its_measures_and_its_months(scenario, tmp_path):
    import sim
    from sim.montecarlo.replication import flatten_metrics

    result = sim.simulate(scenario, seed=5, lead_records=False)
    path = write_excel(result, tmp_path / "one.xlsx", about={"Seed": 5})
    assert openpyxl.load_workbook(path).sheetnames == ["Inputs", "Measures", "Monthly", "Columns"]
    assert inputs_value(path, "Seed") == 5
    values = items(path, "Measures")
    metrics = flatten_metrics(result.metrics)
    assert sorted(values) == sorted(metrics)
    assert_records_equal([values], [metrics])
    monthly = by_code(path, "Monthly")
    m = result.monthly
    assert_frame_matches(monthly.drop(columns=["gross_margin", "cumulative_contribution"]),
                         m[[c for c in monthly.columns if c in m.columns]])
    np.testing.assert_allclose(monthly["gross_margin"], m["revenue"] * scenario.gross_margin, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(monthly["cumulative_contribution"], m["contribution"].cumsum(), rtol=1e-12)
    formats_ = formats(path, "Measures", key="Code")
    assert formats_[("leads", "Value")] == "#,##0" and formats_[("revenue", "Value")] == "#,##0"
    assert formats_[("lead_to_mql", "Value")] == "0.0%"


def test_the_lead_accounting_check_says_when_it_does_not_hold(scenario, tmp_path):
    import sim

    result = sim.simulate(scenario, seed=5, lead_records=False)
    broken = dataclasses.replace(result, metrics={**result.metrics, "lead_accounting": {
        **result.metrics["lead_accounting"], "won": result.metrics["lead_accounting"]["won"] + 1}})
    checked = [[r["Value"] for r in inputs(write_excel(r, tmp_path / f"{k}.xlsx")) if r["Item"] == "Checked"]
               for k, r in enumerate((result, broken))]
    assert checked[0] == ["lead accounting (every lead that arrived is in exactly one state or in flight at the "
                          "horizon) holds in 1 of 1 replications"]
    assert checked[1] == [checked[0][0].replace("1 of 1", "0 of 1")]


def test_a_probability_is_a_share_and_each_replications_objective_keeps_its_own_unit(scenario, tmp_path):
    import sim

    judged = sweep(scenario, {"marketing_share": [0.2]}, reps=2, seed=1, risk=sim.probability_of_target(0))
    path = write_excel(judged, tmp_path / "p.xlsx")
    summary = formats(path, "Summary")
    assert summary["P(>= 0) of contribution"] == summary["Difference to the baseline"] == "0.0%"
    assert formats(path, "Replications")["Objective: contribution (USD)"] == "#,##0"  # money, not a probability
    assert inputs_value(path, "Objective's unit") == "share"


def test_a_dated_scenario_s_monthly_sheet_carries_its_calendar_months(tmp_path):
    # With a start_date the Monthly sheet says which calendar month each model month is,
    # as the monthly series does (month_start), and keeps the date format.
    from paths import SCENARIOS

    import sim

    scenario = load_scenario(SCENARIOS / "student_explorer.yaml").replace({"horizon_months": 4})
    experiment = sim.run_many(scenario, reps=2, seed=1)
    book = write_excel(experiment, tmp_path / "run.xlsx", scenario=scenario)
    monthly = pd.read_excel(book, sheet_name="Monthly")
    column = [c for c in monthly.columns if c.startswith("Month starts on")]
    assert len(column) == 1
    expected = experiment.monthly.groupby("month")["month_start"].first()
    assert list(pd.to_datetime(monthly[column[0]])) == list(expected)
    cell = openpyxl.load_workbook(book)["Monthly"].cell(2, list(monthly.columns).index(column[0]) + 1)
    assert cell.number_format == "yyyy-mm-dd"
